/*
 * The connection: state machine, packet assembly and frame dispatch.  The
 * mechanisms live in their own modules (acktr, rtb, rtt, cc, fc, strm,
 * sbuf, rob); this file ties them together.  The struct is internal (the
 * public type is opaque) and exposed here for the tests.
 */
#ifndef RUDP_CONN_H
#define RUDP_CONN_H

#include <rudp/rudp.h>

#include "rudp_acktr.h"
#include "rudp_cc.h"
#include "rudp_fc.h"
#include "rudp_map.h"
#include "rudp_pacer.h"
#include "rudp_pmtud.h"
#include "rudp_pool.h"
#include "rudp_rob.h"
#include "rudp_rtb.h"
#include "rudp_rtt.h"
#include "rudp_sbuf.h"
#include "rudp_strm.h"
#include "rudp_tp.h"

/* Pending connection-level control frames: bitwise OR of these. */
#define RUDP_CONN_CTRL_MAX_DATA 0x0001u
#define RUDP_CONN_CTRL_DATA_BLOCKED 0x0002u
#define RUDP_CONN_CTRL_MAX_STREAMS_BIDI 0x0004u
#define RUDP_CONN_CTRL_MAX_STREAMS_UNI 0x0008u
#define RUDP_CONN_CTRL_STREAMS_BLOCKED_BIDI 0x0010u
#define RUDP_CONN_CTRL_STREAMS_BLOCKED_UNI 0x0020u
#define RUDP_CONN_CTRL_HANDSHAKE_DONE 0x0040u
#define RUDP_CONN_CTRL_PING 0x0080u
#define RUDP_CONN_CTRL_CLOSE 0x0100u

/* Flags of rudp_conn: bitwise OR of zero or more of these. */
/* The peer's transport parameters arrived and were applied. */
#define RUDP_CONN_FLAG_PEER_PARAMS 0x0001u
/* The handshake is confirmed (client: HANDSHAKE_DONE received; server:
 * handshake complete). */
#define RUDP_CONN_FLAG_CONFIRMED 0x0002u
/* The peer's address is validated (no amplification limit). */
#define RUDP_CONN_FLAG_VALIDATED 0x0004u
/* The client received a RETRY (only one is accepted). */
#define RUDP_CONN_FLAG_RETRY_RECEIVED 0x0008u
/* Our CONNECTION_CLOSE was acknowledged by the peer. */
#define RUDP_CONN_FLAG_CLOSE_ACKED 0x0010u
/* The closed callback has been called. */
#define RUDP_CONN_FLAG_CLOSED_CALLED 0x0020u
/* Client: a valid ACCEPT fixed the server's CID (conn->dcid). */
#define RUDP_CONN_FLAG_ACCEPT_SEEN 0x0040u
/* Server: HANDSHAKE_DONE was acknowledged. */
#define RUDP_CONN_FLAG_HANDSHAKE_DONE_ACKED 0x0080u
/* An ack-eliciting packet was sent since the last packet received (the
 * idle timer restarts only on the first, RFC 9000 §10.1). */
#define RUDP_CONN_FLAG_ELICITING_SINCE_RECV 0x0100u
/* TLS mode: the TLS handshake completed (keys installed). */
#define RUDP_CONN_FLAG_TLS_DONE 0x0200u

/* RUDP_CONN_CLOSE_MAX_SENDS bounds CONNECTION_CLOSE transmissions. */
#define RUDP_CONN_CLOSE_MAX_SENDS 12

/* One queued unreliable datagram. */
typedef struct rudp_conn_dgram {
  uint8_t *buf;
  size_t len;
} rudp_conn_dgram;

/* rudp_conn_touch_cb: see rudp_conn_set_touch. */
typedef void (*rudp_conn_touch_cb)(rudp_conn *conn, void *arg);

/* rudp_conn_rxbuf is a decrypt buffer several connections share (one
 * packet is processed at a time); busy while one of them uses it, so a
 * nested call (not allowed, but not trusted either) uses the connection's
 * own buffer instead of overwriting the packet being processed. */
typedef struct rudp_conn_rxbuf {
  uint8_t *buf;
  size_t len;
  int busy;
} rudp_conn_rxbuf;

/* rudp_conn_share_rxbuf makes |conn| decrypt into |rx| (which must outlive
 * it and belong to the same allocator) instead of a buffer of its own. */
void rudp_conn_share_rxbuf(rudp_conn *conn, rudp_conn_rxbuf *rx);

struct rudp_conn {
  /* server is nonzero for the server side. */
  int server;
  /* state is the connection state (rudp_conn_state). */
  rudp_conn_state state;
  /* flags: bitwise OR of zero or more of RUDP_CONN_FLAG_*. */
  uint32_t flags;
  /* ctrl: bitwise OR of zero or more of RUDP_CONN_CTRL_*. */
  uint32_t ctrl;
  rudp_settings settings;
  rudp_callbacks callbacks;
  void *user_data;
  const rudp_mem *mem;

  /* scid is ours; dcid the peer's (where packets go); odcid the DCID of
   * the client's first CONNECT; token the RETRY token to echo. */
  rudp_cid scid;
  rudp_cid dcid;
  rudp_cid odcid;
  /* retry_scid: the SCID of the RETRY the client followed (client). */
  rudp_cid retry_scid;
  uint8_t token[512];
  size_t tokenlen;

  rudp_transport_params local_params;
  rudp_transport_params remote_params;
  /* max_tx_payload is the UDP payload size we send: pmtud.cur once the
   * peer's parameters are known. */
  size_t max_tx_payload;
  /* pmtud searches for the largest datagram the path carries. */
  rudp_pmtud pmtud;
  /* rtb_now is the time of the acknowledgement or loss detection being
   * processed (for the rtb callbacks); rtb_pmtu_lost counts the PMTU
   * probes among the packets it declared lost. */
  rudp_tstamp rtb_now;
  size_t rtb_pmtu_lost;

  /* The CRYPTO stream: in plain mode it carries one message each way,
   * the encoded transport parameters, in one frame at offset 0. */
  rudp_sbuf crypto_tx;
  /* crypto_msg holds the encoded parameters crypto_tx refers to. */
  uint8_t crypto_msg[RUDP_TP_MAXLEN];

  /* TLS mode (settings.tls set; docs/PROTOCOL.md 4.4): tls is the TLS
   * session; crypto_rx reorders the peer's CRYPTO stream before it is fed
   * to TLS; pp is the packet protection, allocated when the keys are
   * installed (the handshake completed); crypto_hs_end is where the
   * server's post-handshake CRYPTO data (session tickets, sent in short
   * packets) starts (UINT64_MAX: everything is handshake data); rxbuf
   * (rxbuflen bytes) receives decrypted payloads. */
  struct rudp_tls_session *tls;
  rudp_rob crypto_rx;
  struct rudp_pp *pp;
  uint64_t crypto_hs_end;
  uint8_t *rxbuf;
  size_t rxbuflen;
  /* shared_rx, when set (rudp_conn_share_rxbuf), is a decrypt buffer
   * shared by all the connections of an endpoint: an idle connection then
   * keeps no buffer the size of the largest packet it ever received (path
   * MTU probes make that 16 KiB).  using_shared_rx is set while this
   * connection's rudp_conn_read_pkt holds it. */
  struct rudp_conn_rxbuf *shared_rx;
  int using_shared_rx;

  rudp_acktr acktr;
  rudp_rtb rtb;
  rudp_rtt rtt;
  /* ccs holds the congestion controller chosen by settings.cc_algo; cc
   * points at its rudp_cc. */
  union {
    rudp_cc_reno reno;
    rudp_cc_cubic cubic;
    rudp_cc_none none;
  } ccs;
  rudp_cc *cc;
  /* pacer spreads each window over the RTT (rudp_cc_pacing_rate). */
  rudp_pacer pacer;
  /* first_rtt_sample_ts is when the first RTT sample was taken. */
  rudp_tstamp first_rtt_sample_ts;
  /* loss_time is the loss-detection timer (RUDP_TSTAMP_MAX: unarmed). */
  rudp_tstamp loss_time;
  /* pto_count is the number of consecutive PTOs (backoff exponent). */
  unsigned pto_count;
  /* probes is how many probe packets may still ignore the window. */
  unsigned probes;
  /* connect_sends counts CONNECT transmissions; last_connect_ts the
   * latest (client, before ACCEPT). */
  unsigned connect_sends;
  rudp_tstamp last_connect_ts;

  /* chunks is the pool of send-buffer chunks shared by all streams. */
  rudp_pool chunks;
  /* streams maps stream ID to rudp_strm. */
  rudp_map streams;
  /* sched: the send scheduler, by urgency (streams with data to send,
   * and dgram_node while datagrams are queued); ctrlq: streams with
   * control frames to send; closeq: finished streams to free. */
  rudp_sched sched;
  rudp_strm *ctrlq_head;
  rudp_strm *closeq_head;
  /* local_opened[0] bidi, [1] uni: streams this side opened (count). */
  uint64_t local_opened[2];
  /* remote_opened: streams the peer opened (count; the highest index
   * seen + 1). */
  uint64_t remote_opened[2];
  /* local_max_streams: how many streams the peer may open (cumulative,
   * advertised); remote_max_streams: how many we may open. */
  uint64_t local_max_streams[2];
  uint64_t remote_max_streams[2];
  /* remote_closed: peer streams closed (each raises local_max_streams). */
  uint64_t remote_closed[2];
  /* tx_buffered: stream bytes written (copied or referenced) and not yet
   * acknowledged in order, all streams together, which
   * settings.max_send_buffer bounds; txwait: the streams whose write that
   * bound held back, woken in order once tx_buffered falls to half of it;
   * txwait_busy is set while they are being woken (no nested wake-up). */
  uint64_t tx_buffered;
  /* rx_rings: the streams' reorder rings, in bytes (rudp_rob ring_total).
   * A ring grows to the span behind a gap and is released once drained
   * while they exceed twice the connection's receive window: otherwise a
   * peer losing one packet on each of many long-lived streams would leave
   * a window-sized ring on every one of them. */
  uint64_t rx_rings;
  rudp_strm_waitq txwait;
  int txwait_busy;

  /* Connection-level flow control. */
  rudp_fc_tx tx_fc;
  rudp_fc_rx rx_fc;
  /* tx_new_bytes: stream bytes sent for the first time (counted against
   * tx_fc); rx_highest_sum: sum over streams of the highest offset
   * received (counted against rx_fc). */
  uint64_t rx_highest_sum;

  /* Outgoing datagram queue (ring). */
  rudp_conn_dgram *dgrams;
  size_t dgram_cap;
  size_t dgram_head;
  size_t dgram_len;
  size_t dgram_bufsize;
  /* dgram_bytes: the payload bytes of the dgram_len queued datagrams. */
  uint64_t dgram_bytes;
  /* dgram_node is the datagram queue's member in the scheduler, at
   * urgency dgram_urgency; dgram_carry is set when the head datagram did
   * not fit the room a packet had left: the next packet starts with it,
   * before its ACK (a datagram as large as a packet allows would
   * otherwise never fit behind an ACK, and hold up the queue). */
  rudp_sched_node dgram_node;
  uint8_t dgram_urgency;
  uint8_t dgram_carry;

  /* Timers. */
  rudp_tstamp created_ts;
  rudp_tstamp last_recv_ts;
  /* idle_start_ts: when the idle timer last restarted. */
  rudp_tstamp idle_start_ts;
  rudp_tstamp last_eliciting_sent_ts;
  rudp_tstamp linger_deadline;
  rudp_tstamp close_deadline;
  /* close_next_ts: when CONNECTION_CLOSE is sent again while unacked. */
  rudp_tstamp close_next_ts;
  unsigned close_sends;

  /* Amplification accounting (server, before validation). */
  uint64_t bytes_recv_unvalidated;
  uint64_t bytes_sent_unvalidated;

  /* Close information. */
  rudp_conn_close_info close_info;
  /* close_frame_type: the frame type to send in CONNECTION_CLOSE 0x1c. */
  uint64_t close_frame_type;

  /* skip_rng, next_skip_pn: a packet number is skipped now and then, so
   * that an ACK of it exposes an optimistic-ACK attack. */
  uint64_t skip_rng;
  uint64_t next_skip_pn;

  /* discard_handshake: drop the handshake packets in flight at the end
   * of the packet being processed (the handshake just completed). */
  int discard_handshake;

  /* touch, touch_arg: the endpoint's hook, called after an API call may
   * have given the connection something to send (internal). */
  rudp_conn_touch_cb touch;
  void *touch_arg;

  /* busy counts nested entry points; streams are freed only at 0. */
  int busy;
  /* cb_error records a callback failure met where it cannot be returned
   * at once; the entry point returns it. */
  int cb_error;

  rudp_conn_stats stats;
};

/*
 * Internal interface for the endpoint (lib/rudp_endpoint.c).
 */

/*
 * rudp_conn_set_touch installs |cb| (NULL: none), called with |arg| at the
 * end of every public call that may have given |conn| something to send
 * (stream writes and reads, opens, resets, datagrams, close), so that the
 * endpoint polls it with rudp_conn_write_pkt and re-reads its expiry.
 */
void rudp_conn_set_touch(rudp_conn *conn, rudp_conn_touch_cb cb, void *arg);

/*
 * rudp_conn_server_prepare completes a server connection before its first
 * datagram is read: |retry_scid| (NULL: no RETRY was used) is the SCID of
 * the RETRY the client followed, announced as retry_source_connection_id;
 * |validated| nonzero lifts the anti-amplification limit (a valid token
 * proved the address); |reset_token| (NULL: none) is the stateless reset
 * token announced for our CID.  Returns 0, RUDP_ERR_INVALID_STATE (called
 * too late or on a client) or RUDP_ERR_NOMEM.
 */
int rudp_conn_server_prepare(rudp_conn *conn, const rudp_cid *retry_scid,
                             int validated, const uint8_t *reset_token);

/*
 * rudp_conn_is_stateless_reset returns nonzero if the datagram |data|
 * (|len| bytes), which matched no packet of |conn|, ends in the stateless
 * reset token its peer announced (client side; constant time).
 */
int rudp_conn_is_stateless_reset(const rudp_conn *conn, const uint8_t *data,
                                 size_t len);

/*
 * rudp_conn_on_stateless_reset ends |conn| at once with
 * RUDP_ERR_STATELESS_RESET (nothing is sent).
 */
void rudp_conn_on_stateless_reset(rudp_conn *conn);

/*
 * rudp_conn_close_now ends |conn| at once, sending nothing; its closed
 * callback reports |error| (unless an error was already recorded).  For
 * the endpoint, when a connection failed fatally.
 */
void rudp_conn_close_now(rudp_conn *conn, int error);

/*
 * rudp_conn_on_path_change tells |conn| that its peer's IP address
 * changed (not only the port): the congestion controller, the pacer and
 * the RTT estimate restart, since they described the old path (RFC 9000
 * §9.4).
 */
void rudp_conn_on_path_change(rudp_conn *conn, rudp_tstamp now);

#endif /* RUDP_CONN_H */
