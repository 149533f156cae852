/*
 * The connection state machine: handshake (CONNECT / ACCEPT / the client's
 * first acknowledgement), packet assembly, frame dispatch, timers and close.
 * Mechanisms are in their own modules; see rudp_conn.h.
 */
#include "rudp_conn.h"

#include <string.h>

#include "rudp_conv.h"
#include "rudp_frame.h"
#include "rudp_macro.h"
#include "rudp_mem.h"
#include "rudp_pkt.h"
#include "rudp_tls.h"
#include "rudp_tls_openssl.h"
#include "rudp_tp.h"

/* Internal result: the packet must be dropped without acknowledgement. */
#define CONN_DROP_PKT 1

/* How many ACK ranges a frame may carry (settings.ack_ranges bounds it). */
#define CONN_MAX_ACK_RANGES 256

/* kPacketThreshold-style probe budget per PTO. */
#define CONN_PTO_PROBES 2

/* TLS mode: out-of-order CRYPTO data buffered ahead of what TLS has
 * consumed (at least 4096: docs/PROTOCOL.md 3.8), and its gaps. */
#define CONN_CRYPTO_RX_MAX 16384
#define CONN_CRYPTO_RX_GAPS 16

/* Default packets per key before a key update (RFC 9001 6.6: AES-GCM's
 * confidentiality limit is 2^23 packets), the hard limit when no update
 * could be made, and the forgeries tolerated over a connection (RFC 9001
 * 6.6: 2^36 for ChaCha20-Poly1305, the smallest integrity limit). */
#define CONN_KEY_UPDATE_INTERVAL (1ULL << 22)
#define CONN_AEAD_CONFIDENTIALITY_LIMIT (1ULL << 23)
#define CONN_AEAD_INTEGRITY_LIMIT (1ULL << 36)

/* Loss-detection tuning (rudp_settings): kPacketThreshold, and the bounds
 * accepted for packet_threshold, time_threshold (1/1000 RTT) and
 * min_rto. */
#define CONN_DEFAULT_PACKET_THRESHOLD 3
#define CONN_MAX_PACKET_THRESHOLD 1000
#define CONN_MIN_TIME_THRESHOLD 1000
#define CONN_MAX_TIME_THRESHOLD 8000
#define CONN_MAX_MIN_RTO (60 * RUDP_SECONDS)

/* CONN_DEFAULT_PMTUD_MAX is the default ceiling of path MTU discovery:
 * 16 KiB datagrams already take most of the per-packet cost off bulk
 * transfer on loopback (docs/PERFORMANCE.md), and larger ones make each
 * loss dearer. */
#define CONN_DEFAULT_PMTUD_MAX 16384

/* ------------------------------------------------------------ settings */

void rudp_settings_default(rudp_settings *s) {
  memset(s, 0, sizeof(*s));
  s->connect_retries = 6;
  s->connect_timeout = 1 * RUDP_SECONDS;
  s->handshake_timeout = 10 * RUDP_SECONDS;
  s->idle_timeout = 30 * RUDP_SECONDS;
  s->keepalive_interval = 0;
  s->linger_timeout = 10 * RUDP_SECONDS;
  s->initial_rtt = RUDP_DEFAULT_INITIAL_RTT;
  s->max_ack_delay = 25 * RUDP_MILLISECONDS;
  s->ack_delay_exponent = 3;
  s->ack_eliciting_threshold = 2;
  s->ack_ranges = RUDP_ACKTR_DEFAULT_MAX_RANGES;
  s->max_udp_payload_size = RUDP_MAX_UDP_PAYLOAD;
  s->tx_udp_payload_size = RUDP_MIN_UDP_PAYLOAD;
  s->pmtud_max_udp_payload_size = CONN_DEFAULT_PMTUD_MAX;
  s->initial_max_data = 1 << 20;
  s->initial_max_stream_data = 256 << 10;
  s->max_window = 24 << 20;
  s->max_stream_window = 16 << 20;
  s->max_streams_bidi = 100;
  s->max_streams_uni = 100;
  s->max_stream_send_buffer = 4 << 20;
  s->max_send_buffer = 16 << 20;
  s->max_datagram_frame_size = 1200;
  s->datagram_queue_len = 64;
  s->cc_algo = RUDP_CC_CUBIC;
  /* Random loss is not congestion (docs/PROTOCOL.md, issue 8). */
  s->loss_tolerant = 1;
  s->tls = NULL;
  s->tls_server_name = NULL;
  s->key_update_interval = CONN_KEY_UPDATE_INTERVAL;
  s->datagram_urgency = RUDP_DEFAULT_URGENCY;
  s->ack_immediately = 0;
  s->min_rto = RUDP_GRANULARITY;
  s->packet_threshold = CONN_DEFAULT_PACKET_THRESHOLD;
  s->time_threshold = RUDP_DEFAULT_TIME_THRESHOLD;
  s->max_rate = 0;
}

void rudp_settings_low_latency(rudp_settings *s) {
  /* No ACK delay here, none added to the peer's PTO. */
  s->ack_immediately = 1;
  /* Fast retransmit after two later packets, as KCP's resend = 2. */
  s->packet_threshold = 2;
}

static int settings_valid(const rudp_settings *s) {
  return s->connect_timeout > 0 && s->initial_rtt > 0 &&
         s->max_ack_delay < RUDP_TP_MAX_MAX_ACK_DELAY_MS * RUDP_MILLISECONDS &&
         s->ack_delay_exponent <= RUDP_TP_MAX_ACK_DELAY_EXPONENT &&
         s->ack_ranges >= 1 && s->ack_ranges <= CONN_MAX_ACK_RANGES &&
         s->max_udp_payload_size >= RUDP_MIN_UDP_PAYLOAD &&
         s->max_udp_payload_size <= RUDP_MAX_UDP_PAYLOAD &&
         s->tx_udp_payload_size >= RUDP_MIN_UDP_PAYLOAD &&
         s->tx_udp_payload_size <= RUDP_MAX_UDP_PAYLOAD &&
         s->pmtud_max_udp_payload_size <= RUDP_MAX_UDP_PAYLOAD &&
         s->initial_max_stream_data > 0 && s->initial_max_data > 0 &&
         s->initial_max_stream_data <= RUDP_MAX_VARINT &&
         s->initial_max_data <= RUDP_MAX_VARINT &&
         s->max_streams_bidi <= RUDP_MAX_STREAMS &&
         s->max_streams_uni <= RUDP_MAX_STREAMS &&
         s->max_stream_send_buffer > 0 && s->max_send_buffer > 0 &&
         s->datagram_queue_len > 0 &&
         (s->cc_algo == RUDP_CC_RENO || s->cc_algo == RUDP_CC_CUBIC ||
          (s->cc_algo == RUDP_CC_NONE && s->max_rate > 0)) &&
         s->datagram_urgency <= RUDP_URGENCY_MAX &&
         s->min_rto <= CONN_MAX_MIN_RTO &&
         s->packet_threshold <= CONN_MAX_PACKET_THRESHOLD &&
         (s->time_threshold == 0 ||
          (s->time_threshold >= CONN_MIN_TIME_THRESHOLD &&
           s->time_threshold <= CONN_MAX_TIME_THRESHOLD));
}

/* ------------------------------------------------------------ callbacks */

static void conn_enter_closed(rudp_conn *conn);

static int conn_call_handshake_completed(rudp_conn *conn) {
  if (conn->callbacks.handshake_completed &&
      conn->callbacks.handshake_completed(conn, conn->user_data) != 0) {
    return RUDP_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

static int conn_call_stream_cb(rudp_conn *conn,
                               int (*cb)(rudp_conn *, int64_t, void *),
                               uint64_t id) {
  if (cb && cb(conn, (int64_t)id, conn->user_data) != 0) {
    return RUDP_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

static int conn_call_stream_code_cb(rudp_conn *conn,
                                    int (*cb)(rudp_conn *, int64_t, uint64_t,
                                              void *),
                                    uint64_t id, uint64_t code) {
  if (cb && cb(conn, (int64_t)id, code, conn->user_data) != 0) {
    return RUDP_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

/* ------------------------------------------------------------ send buffer */

/*
 * The connection's bound on the bytes held for sending (settings.
 * max_send_buffer): tx_buffered sums, over the streams, the bytes written
 * and not yet acknowledged in order (what the send buffers hold, copied
 * or referenced).  Writes add to it at once; each stream's share is taken
 * off when its in-order acknowledged offset moves (tx_counted remembers
 * how far it was counted), when it is reset, and when it is freed.
 */

/* txbuf_sync takes the bytes |strm| had acknowledged in order since the
 * last call off the count.  Idempotent, so it may run both from the
 * release callback (before the application hears of a freed buffer, so
 * that a write from there sees the room) and after the acknowledgement. */
static void txbuf_sync(rudp_conn *conn, rudp_strm *strm) {
  if (strm->tx.acked > strm->tx_counted) {
    conn->tx_buffered -= strm->tx.acked - strm->tx_counted;
    strm->tx_counted = strm->tx.acked;
  }
}

/* txbuf_drop takes everything |strm| holds off the count and off the wait
 * queue, before its send buffer is reset or freed. */
static void txbuf_drop(rudp_conn *conn, rudp_strm *strm) {
  conn->tx_buffered -= strm->tx.written - strm->tx_counted;
  strm->tx_counted = strm->tx.written;
  rudp_strm_waitq_remove(&conn->txwait, strm);
}

/* txbuf_room is what the connection's bound lets the streams add. */
static uint64_t txbuf_room(const rudp_conn *conn) {
  return conn->tx_buffered >= conn->settings.max_send_buffer
             ? 0
             : conn->settings.max_send_buffer - conn->tx_buffered;
}

/*
 * txbuf_wake calls stream_writable for the streams the connection's bound
 * held back, oldest first, once the count fell to half the bound (the
 * low-water mark of the stream's own bound: waking at every acknowledged
 * packet would have the writers write, and us send, in slivers), and
 * goes on while there is room: it stops when a woken writer fills the
 * buffer again, and the others keep their place.  (A stream waits here
 * only while the connection's bound is the tighter one: a write that
 * finds its own bound tighter takes it out.)  O(1) when nobody waits;
 * never nested (a callback that resets a stream comes back here).
 */
static void txbuf_wake(rudp_conn *conn) {
  rudp_strm *strm;
  if (conn->txwait_busy || !conn->txwait.head ||
      conn->tx_buffered > conn->settings.max_send_buffer / 2) {
    return;
  }
  conn->txwait_busy = 1;
  while (conn->tx_buffered < conn->settings.max_send_buffer &&
         (strm = rudp_strm_waitq_pop(&conn->txwait)) != NULL) {
    if (strm->flags & RUDP_STRM_FLAG_TX_WANT_WRITABLE) {
      strm->flags &= ~RUDP_STRM_FLAG_TX_WANT_WRITABLE;
      if (conn_call_stream_cb(conn, conn->callbacks.stream_writable,
                              strm->id) != 0) {
        conn->cb_error = RUDP_ERR_CALLBACK_FAILURE;
      }
    }
  }
  conn->txwait_busy = 0;
}

/* The release callback of referenced stream data: sbuf hands us the
 * stream as user data. */
static void strm_release(const uint8_t *data, size_t len, void *ref,
                         void *user_data) {
  rudp_strm *strm = user_data;
  rudp_conn *conn = *(rudp_conn **)((uint8_t *)strm + sizeof(rudp_strm));
  txbuf_sync(conn, strm);
  if (conn->callbacks.stream_data_released) {
    conn->callbacks.stream_data_released(conn, (int64_t)strm->id, data, len,
                                         ref, conn->user_data);
  }
}

/* ------------------------------------------------------------ close */

/*
 * conn_close_with starts an immediate close: CONNECTION_CLOSE with
 * |wire_error| (|app|: application code) is queued and the connection
 * enters CLOSING.  |error| is the RUDP_ERR_* code reported locally.
 */
static void conn_close_with(rudp_conn *conn, int error, int app,
                            uint64_t wire_error, uint64_t frame_type,
                            const char *reason, rudp_tstamp now) {
  rudp_conn_close_info *ci = &conn->close_info;
  if (conn->state >= RUDP_CONN_STATE_CLOSING) {
    return;
  }
  ci->error = error;
  ci->local = 1;
  ci->app = app;
  ci->wire_error = wire_error;
  ci->reason[0] = '\0';
  if (reason) {
    size_t n = strlen(reason);
    if (n >= sizeof(ci->reason)) {
      n = sizeof(ci->reason) - 1;
    }
    memcpy(ci->reason, reason, n);
    ci->reason[n] = '\0';
  }
  conn->close_frame_type = frame_type;
  conn->state = RUDP_CONN_STATE_CLOSING;
  conn->ctrl |= RUDP_CONN_CTRL_CLOSE;
  conn->close_sends = 0;
  conn->close_next_ts = now;
  conn->close_deadline =
      now + 3 * rudp_rtt_pto(&conn->rtt, conn->settings.max_ack_delay, 0);
  /* Nothing but CONNECTION_CLOSE is sent from now on. */
  rudp_rtb_discard_all(&conn->rtb, NULL);
}

/* conn_close_proto closes for a protocol violation of kind |error|. */
static void conn_close_proto(rudp_conn *conn, int error, uint64_t frame_type,
                             const char *reason, rudp_tstamp now) {
  uint64_t wire;
  switch (error) {
  case RUDP_ERR_FLOW_CONTROL:
    wire = RUDP_FLOW_CONTROL_ERROR;
    break;
  case RUDP_ERR_STREAM_LIMIT:
    wire = RUDP_STREAM_LIMIT_ERROR;
    break;
  case RUDP_ERR_STREAM_STATE:
    wire = RUDP_STREAM_STATE_ERROR;
    break;
  case RUDP_ERR_FINAL_SIZE:
    wire = RUDP_FINAL_SIZE_ERROR;
    break;
  case RUDP_ERR_FRAME_ENCODING:
  case RUDP_ERR_TRUNCATED:
    error = RUDP_ERR_FRAME_ENCODING;
    wire = RUDP_FRAME_ENCODING_ERROR;
    break;
  case RUDP_ERR_TRANSPORT_PARAM:
    wire = RUDP_TRANSPORT_PARAMETER_ERROR;
    break;
  case RUDP_ERR_NOMEM:
  case RUDP_ERR_INTERNAL:
    wire = RUDP_INTERNAL_ERROR;
    break;
  case RUDP_ERR_TLS_MODE_MISMATCH:
    wire = RUDP_TLS_MODE_MISMATCH;
    break;
  default:
    error = RUDP_ERR_PROTO;
    wire = RUDP_PROTOCOL_VIOLATION;
    break;
  }
  conn_close_with(conn, error, 0, wire, frame_type, reason, now);
}

static void conn_enter_closed(rudp_conn *conn) {
  if (conn->state == RUDP_CONN_STATE_CLOSED) {
    return;
  }
  conn->state = RUDP_CONN_STATE_CLOSED;
  conn->ctrl = 0;
  if (!(conn->flags & RUDP_CONN_FLAG_CLOSED_CALLED)) {
    conn->flags |= RUDP_CONN_FLAG_CLOSED_CALLED;
    if (conn->callbacks.closed) {
      conn->callbacks.closed(conn, conn->close_info.error, conn->user_data);
    }
  }
}

/* conn_close_silently ends the connection without sending anything. */
static void conn_close_silently(rudp_conn *conn, int error) {
  if (conn->state == RUDP_CONN_STATE_CLOSED) {
    return;
  }
  if (conn->close_info.error == 0) {
    conn->close_info.error = error;
    conn->close_info.local = 1;
  }
  conn_enter_closed(conn);
}

/* ------------------------------------------------------------ streams */

/* Each stream is allocated with a back-pointer to its connection right
 * after it, for the release callback. */
typedef struct conn_strm_alloc {
  rudp_strm strm;
  rudp_conn *conn;
} conn_strm_alloc;

static int strm_is_local(const rudp_conn *conn, uint64_t id) {
  return rudp_strm_is_server(id) == (conn->server != 0);
}

static int strm_kind(uint64_t id) { return rudp_strm_is_bidi(id) ? 0 : 1; }

/* sendq_push schedules |strm|, which has something to send (data, FIN or
 * a retransmission), at its urgency; sendq_remove takes it out. */
static void sendq_push(rudp_conn *conn, rudp_strm *strm) {
  rudp_sched_push(&conn->sched, strm);
}

static void sendq_remove(rudp_conn *conn, rudp_strm *strm) {
  rudp_sched_remove(&conn->sched, strm);
}

/* conn_requeue_all puts every stream with something to send back on the
 * send queue (after the connection's credit grew). */
static void conn_requeue_cb(uint64_t key, void *value, void *arg);

static void ctrlq_push(rudp_conn *conn, rudp_strm *strm, uint32_t ctrl) {
  strm->ctrl |= ctrl;
  if (strm->in_ctrlq) {
    return;
  }
  strm->in_ctrlq = 1;
  strm->ctrlq_next = conn->ctrlq_head;
  conn->ctrlq_head = strm;
}

/* strm_maybe_close queues |strm| to be freed once both sides are done. */
static void strm_maybe_close(rudp_conn *conn, rudp_strm *strm) {
  if ((strm->flags & RUDP_STRM_FLAG_CLOSED) || !rudp_strm_tx_done(strm) ||
      !rudp_strm_rx_done(strm)) {
    return;
  }
  strm->flags |= RUDP_STRM_FLAG_CLOSED;
  strm->closeq_next = conn->closeq_head;
  conn->closeq_head = strm;
}

static void strm_destroy(rudp_conn *conn, rudp_strm *strm) {
  rudp_strm **pp;
  sendq_remove(conn, strm);
  if (strm->in_ctrlq) {
    for (pp = &conn->ctrlq_head; *pp; pp = &(*pp)->ctrlq_next) {
      if (*pp == strm) {
        *pp = strm->ctrlq_next;
        break;
      }
    }
  }
  rudp_map_remove(&conn->streams, strm->id);
  txbuf_drop(conn, strm);
  rudp_strm_free(strm);
  rudp_mem_free(conn->mem, rudp_struct_of(strm, conn_strm_alloc, strm));
}

/*
 * conn_sweep frees finished streams (only when no entry point is on the
 * stack, so no caller holds a pointer to one) and raises the peer's stream
 * limit for each of its streams that closed.
 */
static int conn_sweep(rudp_conn *conn) {
  int rv = 0;
  while (conn->closeq_head) {
    rudp_strm *strm = conn->closeq_head;
    uint64_t id = strm->id;
    conn->closeq_head = strm->closeq_next;
    if (!strm_is_local(conn, id)) {
      int k = strm_kind(id);
      ++conn->remote_closed[k];
      /* Keep the peer's concurrency at max_streams_*: one closed, one
       * more allowed. */
      ++conn->local_max_streams[k];
      conn->ctrl |= k == 0 ? RUDP_CONN_CTRL_MAX_STREAMS_BIDI
                           : RUDP_CONN_CTRL_MAX_STREAMS_UNI;
    }
    strm_destroy(conn, strm);
    if (conn_call_stream_cb(conn, conn->callbacks.stream_closed, id) != 0) {
      rv = RUDP_ERR_CALLBACK_FAILURE;
    }
  }
  return rv;
}

/*
 * conn_schedule_skip picks the next packet number to skip, 128 to 1151
 * packets ahead (xorshift64 seeded from the connection's own CIDs: no
 * clock or random source needed, and unpredictable to an off-path peer
 * only as far as the CIDs are: enough against a receiver that merely acks
 * ahead of what it got).
 */
static void conn_schedule_skip(rudp_conn *conn) {
  uint64_t x = conn->skip_rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  conn->skip_rng = x;
  conn->next_skip_pn = rudp_rtb_next_pkt_num(&conn->rtb) + 128 + (x & 1023);
}

/* conn_pacing_rate is the congestion controller's pacing rate, capped at
 * settings.max_rate. */
static uint64_t conn_pacing_rate(const rudp_conn *conn) {
  uint64_t rate = rudp_cc_pacing_rate(conn->cc, &conn->rtt);
  if (conn->settings.max_rate && rate > conn->settings.max_rate) {
    rate = conn->settings.max_rate;
  }
  return rate;
}

/* conn_cc_init (re)starts congestion control and pacing for datagrams of
 * max_tx_payload bytes. */
static void conn_cc_init(rudp_conn *conn, rudp_tstamp now) {
  switch (conn->settings.cc_algo) {
  case RUDP_CC_RENO:
    rudp_cc_reno_init(&conn->ccs.reno, conn->max_tx_payload, now);
    conn->cc = &conn->ccs.reno.cc;
    break;
  case RUDP_CC_NONE:
    rudp_cc_none_init(&conn->ccs.none, conn->max_tx_payload,
                      conn->settings.max_rate, now);
    conn->cc = &conn->ccs.none.cc;
    break;
  default:
    rudp_cc_cubic_init(&conn->ccs.cubic, conn->max_tx_payload, now);
    conn->cc = &conn->ccs.cubic.cc;
    break;
  }
  conn->cc->loss_tolerant = conn->settings.loss_tolerant != 0;
  rudp_pacer_init(&conn->pacer, conn->max_tx_payload, now);
  /* Unpaced until the first ACK sets a rate, unless a cap applies from
   * the first packet (RUDP_CC_NONE's rate is the cap). */
  if (conn->settings.max_rate) {
    rudp_pacer_set_rate(&conn->pacer, conn->settings.max_rate, now);
  }
}

/* conn_rtt_init (re)starts the RTT estimator. */
static void conn_rtt_init(rudp_conn *conn) {
  rudp_rtt_init(&conn->rtt, conn->settings.initial_rtt);
  if (conn->settings.min_rto) {
    conn->rtt.min_rto = conn->settings.min_rto;
  }
}

static rudp_strm *strm_new(rudp_conn *conn, uint64_t id, rudp_tstamp now) {
  conn_strm_alloc *a;
  rudp_strm *strm;
  int local = strm_is_local(conn, id), bidi = rudp_strm_is_bidi(id);
  int has_tx = bidi || local, has_rx = bidi || !local;
  uint64_t tx_max = 0;
  const rudp_transport_params *rp = &conn->remote_params;

  if (has_tx) {
    if (!bidi) {
      tx_max = rp->initial_max_stream_data_uni;
    } else if (local) {
      tx_max = rp->initial_max_stream_data_bidi_remote;
    } else {
      tx_max = rp->initial_max_stream_data_bidi_local;
    }
  }
  a = rudp_mem_malloc(conn->mem, sizeof(*a));
  if (!a) {
    return NULL;
  }
  a->conn = conn;
  strm = &a->strm;
  rudp_strm_init(strm, id, has_tx, has_rx, tx_max,
                 conn->settings.initial_max_stream_data,
                 rudp_max(conn->settings.max_stream_window,
                          conn->settings.initial_max_stream_data),
                 &conn->chunks, strm_release, strm, conn->mem, now);
  rudp_rob_set_ring_total(&strm->rx, &conn->rx_rings);
  if (rudp_map_insert(&conn->streams, id, strm) != 0) {
    rudp_strm_free(strm);
    rudp_mem_free(conn->mem, a);
    return NULL;
  }
  ++conn->stats.streams_opened;
  return strm;
}

/*
 * conn_get_remote_strm finds or opens the peer's stream |id| for a frame
 * that needs a receiving (|want_rx|) or sending side.  Sets *pstrm to NULL
 * for a stream that existed and was freed (the frame is stale: ignore).
 * Returns 0 or a RUDP_ERR_* code that closes the connection.
 */
static int conn_get_strm_for_frame(rudp_conn *conn, uint64_t id, int want_rx,
                                   rudp_tstamp now, rudp_strm **pstrm) {
  int k = strm_kind(id), local = strm_is_local(conn, id);
  uint64_t idx = id >> 2;
  rudp_strm *strm;

  *pstrm = NULL;
  if (!rudp_strm_is_bidi(id)) {
    /* A unidirectional stream only carries data from its initiator. */
    if (want_rx && local) {
      return RUDP_ERR_STREAM_STATE;
    }
    if (!want_rx && !local) {
      return RUDP_ERR_STREAM_STATE;
    }
  }
  strm = rudp_map_find(&conn->streams, id);
  if (strm) {
    *pstrm = strm;
    return 0;
  }
  if (local) {
    /* Ours: it must have been opened (and is now freed). */
    return idx < conn->local_opened[k] ? 0 : RUDP_ERR_STREAM_STATE;
  }
  if (idx < conn->remote_opened[k]) {
    return 0; /* opened before and finished: stale frame */
  }
  if (idx >= conn->local_max_streams[k]) {
    return RUDP_ERR_STREAM_LIMIT;
  }
  /* Opening stream n implicitly opens every lower one of its kind. */
  while (conn->remote_opened[k] <= idx) {
    uint64_t nid = (conn->remote_opened[k] << 2) | (id & 0x3);
    rudp_strm *s = strm_new(conn, nid, now);
    if (!s) {
      return RUDP_ERR_NOMEM;
    }
    ++conn->remote_opened[k];
    if (conn_call_stream_cb(conn, conn->callbacks.stream_opened, nid) != 0) {
      return RUDP_ERR_CALLBACK_FAILURE;
    }
    strm = s;
  }
  *pstrm = rudp_map_find(&conn->streams, id);
  return 0;
}

static void conn_requeue_cb(uint64_t key, void *value, void *arg) {
  rudp_strm *strm = value;
  (void)key;
  if (rudp_strm_tx_has_pending(strm)) {
    sendq_push(arg, strm);
  }
}

/* ------------------------------------------------------------ params */

static void conn_set_local_params(rudp_conn *conn) {
  rudp_transport_params *p = &conn->local_params;
  const rudp_settings *s = &conn->settings;
  rudp_transport_params_default(p);
  p->max_idle_timeout = s->idle_timeout;
  p->max_udp_payload_size = s->max_udp_payload_size;
  p->initial_max_data = s->initial_max_data;
  p->initial_max_stream_data_bidi_local = s->initial_max_stream_data;
  p->initial_max_stream_data_bidi_remote = s->initial_max_stream_data;
  p->initial_max_stream_data_uni = s->initial_max_stream_data;
  p->initial_max_streams_bidi = s->max_streams_bidi;
  p->initial_max_streams_uni = s->max_streams_uni;
  p->ack_delay_exponent = s->ack_delay_exponent;
  p->max_ack_delay = s->max_ack_delay / RUDP_MILLISECONDS * RUDP_MILLISECONDS;
  p->max_datagram_frame_size = s->max_datagram_frame_size;
  memcpy(p->initial_scid, conn->scid.data, conn->scid.datalen);
  p->initial_scidlen = (uint8_t)conn->scid.datalen;
  p->initial_scid_present = 1;
  if (conn->server) {
    memcpy(p->original_dcid, conn->odcid.data, conn->odcid.datalen);
    p->original_dcidlen = (uint8_t)conn->odcid.datalen;
    p->original_dcid_present = 1;
  }
}

/*
 * conn_queue_params queues our CRYPTO message: the encoded parameters,
 * kept in the connection itself (referenced, not copied into a 16 KiB
 * send-buffer chunk: an idle connection stays small).
 */
static int conn_queue_params(rudp_conn *conn) {
  rudp_ssize n = rudp_tp_encode(conn->crypto_msg, sizeof(conn->crypto_msg),
                                &conn->local_params, conn->server);
  if (n < 0) {
    return (int)n;
  }
  return rudp_sbuf_write_ref(&conn->crypto_tx, conn->crypto_msg, (size_t)n,
                             NULL);
}

/*
 * conn_tls_drain moves what the TLS session wrote into the CRYPTO send
 * buffer.
 */
static int conn_tls_drain(rudp_conn *conn) {
  uint8_t buf[2048];
  size_t n;
  int rv;
  while ((n = rudp_tls_session_read_output(conn->tls, buf, sizeof(buf))) > 0) {
    rv = rudp_sbuf_write(&conn->crypto_tx, buf, n);
    if (rv != 0) {
      return rv;
    }
  }
  return 0;
}

/*
 * conn_tls_start creates the TLS session (TLS mode): our parameters go in
 * its extension; a client's ClientHello is queued at once.
 */
static int conn_tls_start(rudp_conn *conn) {
  rudp_ssize n = rudp_tp_encode(conn->crypto_msg, sizeof(conn->crypto_msg),
                                &conn->local_params, conn->server);
  int rv;
  if (n < 0) {
    return (int)n;
  }
  rudp_rob_init(&conn->crypto_rx, CONN_CRYPTO_RX_MAX, CONN_CRYPTO_RX_GAPS,
                conn->mem);
  rv = rudp_tls_session_new(&conn->tls, conn->settings.tls, conn->server,
                            conn->settings.tls_server_name, conn->crypto_msg,
                            (size_t)n, conn->mem);
  if (rv != 0) {
    return rv;
  }
  return conn_tls_drain(conn);
}

/* conn_apply_remote_params validates and applies the peer's parameters. */
static int conn_apply_remote_params(rudp_conn *conn, const rudp_cid *pkt_scid) {
  rudp_transport_params *rp = &conn->remote_params;
  size_t dgram_max;

  /* The CIDs must match what the packets said: a man-on-the-side cannot
   * splice the handshake (RFC 9000 §7.3). */
  if (!rp->initial_scid_present || rp->initial_scidlen != pkt_scid->datalen ||
      memcmp(rp->initial_scid, pkt_scid->data, pkt_scid->datalen) != 0) {
    return RUDP_ERR_TRANSPORT_PARAM;
  }
  if (!conn->server) {
    if (!rp->original_dcid_present ||
        rp->original_dcidlen != conn->odcid.datalen ||
        memcmp(rp->original_dcid, conn->odcid.data, conn->odcid.datalen) != 0) {
      return RUDP_ERR_TRANSPORT_PARAM;
    }
    /* After a RETRY the server must name it, and only then (RFC 9000
     * §7.3): an injected RETRY, or a removed one, is detected. */
    if (conn->flags & RUDP_CONN_FLAG_RETRY_RECEIVED) {
      if (!rp->retry_scid_present ||
          rp->retry_scidlen != conn->retry_scid.datalen ||
          memcmp(rp->retry_scid, conn->retry_scid.data,
                 conn->retry_scid.datalen) != 0) {
        return RUDP_ERR_TRANSPORT_PARAM;
      }
    } else if (rp->retry_scid_present) {
      return RUDP_ERR_TRANSPORT_PARAM;
    }
  }
  conn->flags |= RUDP_CONN_FLAG_PEER_PARAMS;
  conn->max_tx_payload = (size_t)rudp_min(
      (uint64_t)conn->settings.tx_udp_payload_size, rp->max_udp_payload_size);
  rudp_pmtud_init(
      &conn->pmtud, conn->max_tx_payload,
      (size_t)rudp_min((uint64_t)conn->settings.pmtud_max_udp_payload_size,
                       rp->max_udp_payload_size));
  rudp_fc_tx_update(&conn->tx_fc, rp->initial_max_data);
  conn->remote_max_streams[0] = rp->initial_max_streams_bidi;
  conn->remote_max_streams[1] = rp->initial_max_streams_uni;
  /* Datagram buffers: the largest DATAGRAM payload that fits a packet. */
  dgram_max = (size_t)rudp_min(rp->max_datagram_frame_size,
                               (uint64_t)conn->max_tx_payload);
  conn->dgram_bufsize = dgram_max;
  return 0;
}

/* ------------------------------------------------------------ lifecycle */

static int conn_new(rudp_conn **pconn, int server, const rudp_cid *dcid,
                    const rudp_cid *scid, const rudp_cid *odcid,
                    const rudp_settings *settings,
                    const rudp_callbacks *callbacks, const rudp_mem *mem,
                    void *user_data, rudp_tstamp now) {
  rudp_conn *conn;
  int rv;

  if (!pconn || !dcid || !scid || !settings || !settings_valid(settings) ||
      dcid->datalen > RUDP_MAX_CIDLEN || scid->datalen > RUDP_MAX_CIDLEN ||
      scid->datalen == 0 || (!server && dcid->datalen < 8)) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (!mem) {
    mem = rudp_mem_default();
  }
  conn = rudp_mem_calloc(mem, 1, sizeof(*conn));
  if (!conn) {
    return RUDP_ERR_NOMEM;
  }
  conn->server = server;
  conn->settings = *settings;
  /* The ACK delay is advertised in whole milliseconds: use what is
   * advertised, so the peer is never told less than the truth. */
  conn->settings.max_ack_delay =
      settings->max_ack_delay / RUDP_MILLISECONDS * RUDP_MILLISECONDS;
  if (settings->ack_immediately) {
    /* Every ack-eliciting packet is due for an ACK at once, and the peer
     * is told so (max_ack_delay 0), which takes the ACK delay out of its
     * PTO. */
    conn->settings.max_ack_delay = 0;
    conn->settings.ack_eliciting_threshold = 1;
  }
  if (callbacks) {
    conn->callbacks = *callbacks;
  }
  conn->user_data = user_data;
  conn->mem = mem;
  conn->scid = *scid;
  conn->dcid = *dcid;
  conn->odcid = *odcid;
  conn->max_tx_payload = RUDP_MIN_UDP_PAYLOAD;
  rudp_pmtud_init(&conn->pmtud, RUDP_MIN_UDP_PAYLOAD, 0);
  conn->created_ts = now;
  conn->last_recv_ts = now;
  conn->idle_start_ts = now;
  conn->loss_time = RUDP_TSTAMP_MAX;
  conn->first_rtt_sample_ts = RUDP_TSTAMP_MAX;
  conn->linger_deadline = RUDP_TSTAMP_MAX;
  conn->close_deadline = RUDP_TSTAMP_MAX;
  conn->close_next_ts = RUDP_TSTAMP_MAX;
  conn->state =
      server ? RUDP_CONN_STATE_ACCEPT_SENT : RUDP_CONN_STATE_CONNECT_SENT;
  rudp_transport_params_default(&conn->remote_params);
  conn_set_local_params(conn);

  /* One chunk per block: chunks are recycled, never freed, until the
   * connection is. */
  rudp_pool_init(&conn->chunks, RUDP_SBUF_CHUNKLEN, 1, mem);
  rudp_sbuf_init(&conn->crypto_tx, &conn->chunks, NULL, NULL, mem);
  rudp_map_init(&conn->streams, mem);
  conn_rtt_init(conn);
  conn_cc_init(conn, now);
  rudp_fc_tx_init(&conn->tx_fc, 0);
  rudp_fc_rx_init(&conn->rx_fc, settings->initial_max_data,
                  rudp_max(settings->max_window, settings->initial_max_data),
                  now);
  conn->local_max_streams[0] = settings->max_streams_bidi;
  conn->local_max_streams[1] = settings->max_streams_uni;

  {
    size_t i;
    conn->skip_rng = 0x9e3779b97f4a7c15ULL;
    for (i = 0; i < scid->datalen; ++i) {
      conn->skip_rng = (conn->skip_rng ^ scid->data[i]) * 0x100000001b3ULL;
    }
    for (i = 0; i < dcid->datalen; ++i) {
      conn->skip_rng = (conn->skip_rng ^ dcid->data[i]) * 0x100000001b3ULL;
    }
    if (conn->skip_rng == 0) {
      conn->skip_rng = 1;
    }
  }
  rv = rudp_acktr_init(&conn->acktr, settings->ack_ranges,
                       conn->settings.ack_eliciting_threshold, mem);
  if (rv != 0) {
    goto fail_acktr;
  }
  rv = rudp_rtb_init(&conn->rtb, mem);
  if (rv != 0) {
    goto fail_rtb;
  }
  if (settings->packet_threshold) {
    conn->rtb.pkt_threshold = settings->packet_threshold;
  }
  if (settings->time_threshold) {
    conn->rtb.time_threshold = settings->time_threshold;
  }
  rudp_sched_init(&conn->sched);
  conn->dgram_node.kind = RUDP_SCHED_NODE_OTHER;
  conn->dgram_urgency = settings->datagram_urgency;
  conn_schedule_skip(conn);
  conn->dgram_cap = settings->datagram_queue_len;
  conn->dgrams = rudp_mem_calloc(mem, conn->dgram_cap, sizeof(rudp_conn_dgram));
  if (!conn->dgrams) {
    rv = RUDP_ERR_NOMEM;
    goto fail_dgrams;
  }
  conn->crypto_hs_end = UINT64_MAX;
  rv = settings->tls ? conn_tls_start(conn) : conn_queue_params(conn);
  /* The name was used (or copied) by the TLS session; do not keep a
   * pointer the caller may free. */
  conn->settings.tls_server_name = NULL;
  if (rv != 0) {
    goto fail_params;
  }
  *pconn = conn;
  return 0;

fail_params:
  rudp_tls_session_del(conn->tls);
  if (conn->crypto_rx.mem) {
    rudp_rob_free(&conn->crypto_rx);
  }
  rudp_mem_free(mem, conn->dgrams);
fail_dgrams:
  rudp_rtb_free(&conn->rtb);
fail_rtb:
  rudp_acktr_free(&conn->acktr);
fail_acktr:
  rudp_sbuf_free(&conn->crypto_tx);
  rudp_pool_free(&conn->chunks);
  rudp_mem_free(mem, conn);
  return rv == RUDP_ERR_NOMEM || rv == RUDP_ERR_INVALID_ARGUMENT ||
                 rv == RUDP_ERR_TLS_UNAVAILABLE
             ? rv
             : RUDP_ERR_NOMEM;
}

int rudp_conn_client_new(rudp_conn **pconn, const rudp_cid *dcid,
                         const rudp_cid *scid, const rudp_settings *settings,
                         const rudp_callbacks *callbacks, const rudp_mem *mem,
                         void *user_data, rudp_tstamp now) {
  if (!dcid) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  return conn_new(pconn, 0, dcid, scid, dcid, settings, callbacks, mem,
                  user_data, now);
}

int rudp_conn_server_new(rudp_conn **pconn, const rudp_cid *client_scid,
                         const rudp_cid *original_dcid, const rudp_cid *scid,
                         const rudp_settings *settings,
                         const rudp_callbacks *callbacks, const rudp_mem *mem,
                         void *user_data, rudp_tstamp now) {
  if (!original_dcid || original_dcid->datalen > RUDP_MAX_CIDLEN) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  return conn_new(pconn, 1, client_scid, scid, original_dcid, settings,
                  callbacks, mem, user_data, now);
}

static void conn_free_strm_cb(uint64_t key, void *value, void *arg) {
  rudp_conn *conn = arg;
  rudp_strm *strm = value;
  (void)key;
  rudp_strm_free(strm);
  rudp_mem_free(conn->mem, rudp_struct_of(strm, conn_strm_alloc, strm));
}

void rudp_conn_del(rudp_conn *conn) {
  size_t i;
  if (!conn) {
    return;
  }
  rudp_map_each(&conn->streams, conn_free_strm_cb, conn);
  rudp_map_free(&conn->streams);
  for (i = 0; i < conn->dgram_cap; ++i) {
    rudp_mem_free(conn->mem, conn->dgrams[i].buf);
  }
  rudp_mem_free(conn->mem, conn->dgrams);
  rudp_rtb_free(&conn->rtb);
  rudp_acktr_free(&conn->acktr);
  rudp_sbuf_free(&conn->crypto_tx);
  rudp_pool_free(&conn->chunks);
  rudp_tls_session_del(conn->tls);
  if (conn->crypto_rx.mem) {
    rudp_rob_free(&conn->crypto_rx);
  }
  if (conn->pp) {
    rudp_pp_free(conn->pp);
    rudp_mem_free(conn->mem, conn->pp);
  }
  rudp_mem_free(conn->mem, conn->rxbuf);
  rudp_mem_free(conn->mem, conn);
}

/* ------------------------------------------------------------ queries */

rudp_conn_state rudp_conn_get_state(const rudp_conn *conn) {
  return conn->state;
}

int rudp_conn_is_established(const rudp_conn *conn) {
  return conn->state == RUDP_CONN_STATE_ESTABLISHED ||
         conn->state == RUDP_CONN_STATE_LINGER;
}

const rudp_cid *rudp_conn_get_scid(const rudp_conn *conn) {
  return &conn->scid;
}

const rudp_cid *rudp_conn_get_dcid(const rudp_conn *conn) {
  return &conn->dcid;
}

const rudp_transport_params *rudp_conn_get_peer_params(const rudp_conn *conn) {
  return (conn->flags & RUDP_CONN_FLAG_PEER_PARAMS) ? &conn->remote_params
                                                    : NULL;
}

void rudp_conn_get_close_info(const rudp_conn *conn,
                              rudp_conn_close_info *info) {
  *info = conn->close_info;
}

void *rudp_conn_get_user_data(const rudp_conn *conn) { return conn->user_data; }

void rudp_conn_set_user_data(rudp_conn *conn, void *user_data) {
  conn->user_data = user_data;
}

void rudp_conn_set_touch(rudp_conn *conn, rudp_conn_touch_cb cb, void *arg) {
  conn->touch = cb;
  conn->touch_arg = arg;
}

/* conn_touch tells the endpoint the connection may have work. */
static void conn_touch(rudp_conn *conn) {
  if (conn->touch) {
    conn->touch(conn, conn->touch_arg);
  }
}

int rudp_conn_server_prepare(rudp_conn *conn, const rudp_cid *retry_scid,
                             int validated, const uint8_t *reset_token) {
  rudp_transport_params *p = &conn->local_params;
  if (!conn->server || conn->crypto_tx.sent > 0 ||
      conn->state != RUDP_CONN_STATE_ACCEPT_SENT) {
    return RUDP_ERR_INVALID_STATE;
  }
  if (retry_scid) {
    memcpy(p->retry_scid, retry_scid->data, retry_scid->datalen);
    p->retry_scidlen = (uint8_t)retry_scid->datalen;
    p->retry_scid_present = 1;
  }
  if (reset_token) {
    memcpy(p->stateless_reset_token, reset_token,
           RUDP_STATELESS_RESET_TOKENLEN);
    p->stateless_reset_token_present = 1;
  }
  if (validated) {
    conn->flags |= RUDP_CONN_FLAG_VALIDATED;
  }
  if (conn->tls) {
    rudp_ssize n = rudp_tp_encode(conn->crypto_msg, sizeof(conn->crypto_msg),
                                  &conn->local_params, 1);
    if (n < 0) {
      return (int)n;
    }
    return rudp_tls_session_set_local_tp(conn->tls, conn->crypto_msg,
                                         (size_t)n);
  }
  /* Nothing was sent yet: queue the parameters again, re-encoded. */
  rudp_sbuf_free(&conn->crypto_tx);
  rudp_sbuf_init(&conn->crypto_tx, &conn->chunks, NULL, NULL, conn->mem);
  return conn_queue_params(conn);
}

int rudp_conn_is_stateless_reset(const rudp_conn *conn, const uint8_t *data,
                                 size_t len) {
  const uint8_t *tok = conn->remote_params.stateless_reset_token;
  const uint8_t *tail;
  uint8_t diff = 0;
  size_t i;
  /* A reset looks like a short packet: at least 5 bytes before the
   * 16-byte token (RFC 9000 §10.3). */
  if (conn->server || !conn->remote_params.stateless_reset_token_present ||
      len < 5 + RUDP_STATELESS_RESET_TOKENLEN) {
    return 0;
  }
  tail = data + len - RUDP_STATELESS_RESET_TOKENLEN;
  for (i = 0; i < RUDP_STATELESS_RESET_TOKENLEN; ++i) {
    diff |= (uint8_t)(tail[i] ^ tok[i]);
  }
  return diff == 0;
}

void rudp_conn_on_stateless_reset(rudp_conn *conn) {
  conn_close_silently(conn, RUDP_ERR_STATELESS_RESET);
}

void rudp_conn_close_now(rudp_conn *conn, int error) {
  conn_close_silently(conn, error);
}

void rudp_conn_on_path_change(rudp_conn *conn, rudp_tstamp now) {
  /* A new path: its MTU is unknown, search again from the base. */
  rudp_pmtud_reset(&conn->pmtud);
  conn->max_tx_payload = conn->pmtud.cur;
  conn_rtt_init(conn);
  conn->first_rtt_sample_ts = RUDP_TSTAMP_MAX;
  conn_cc_init(conn, now);
}

void rudp_conn_get_tls_info(const rudp_conn *conn, rudp_tls_info *info) {
  memset(info, 0, sizeof(*info));
  if (!conn->tls) {
    return;
  }
  rudp_tls_session_get_info(conn->tls, info);
  info->enabled = 1;
  if (conn->pp) {
    info->key_phase = conn->pp->tx_phase;
    info->key_updates = conn->pp->updates;
  }
}

int rudp_conn_update_key(rudp_conn *conn) {
  int rv;
  if (!conn->pp || !(conn->flags & RUDP_CONN_FLAG_CONFIRMED) ||
      conn->state != RUDP_CONN_STATE_ESTABLISHED ||
      !rudp_pp_can_update(conn->pp)) {
    return RUDP_ERR_INVALID_STATE;
  }
  rv = rudp_pp_update(conn->pp);
  if (rv == 0) {
    conn_touch(conn);
  }
  return rv;
}

void rudp_conn_get_stats(const rudp_conn *conn, rudp_conn_stats *stats) {
  *stats = conn->stats;
  stats->latest_rtt = conn->rtt.latest;
  stats->srtt = conn->rtt.smoothed;
  stats->rttvar = conn->rtt.var;
  stats->min_rtt = conn->rtt.min;
  stats->cwnd = conn->cc->cwnd;
  stats->ssthresh = conn->cc->ssthresh;
  stats->bytes_in_flight = conn->rtb.bytes_in_flight;
  stats->congestion_events = conn->cc->congestion_events;
  stats->pmtu = conn->max_tx_payload;
  stats->pmtu_probes_sent = conn->pmtud.probes_sent;
  stats->pmtu_probes_lost = conn->pmtud.probes_lost;
  stats->pmtu_black_holes = conn->pmtud.black_holes;
  stats->losses_tolerated = conn->cc->losses_ignored;
  stats->send_buffered = conn->tx_buffered;
  stats->datagrams_queued = conn->dgram_len;
  stats->datagram_bytes_queued = conn->dgram_bytes;
}

/* ------------------------------------------------------------ recovery */

/* Acked and lost events from the rtb, per frame. */

static void conn_on_frame_acked(rudp_conn *conn, const rudp_rtb_frame *f) {
  rudp_strm *strm;
  switch (f->type) {
  case RUDP_FRAME_ACK:
    rudp_acktr_on_ack_acked(&conn->acktr, f->offset);
    break;
  case RUDP_FRAME_CRYPTO:
    rudp_sbuf_on_acked(&conn->crypto_tx, f->offset, (size_t)f->len);
    break;
  case RUDP_FRAME_STREAM:
    strm = rudp_map_find(&conn->streams, f->stream_id);
    if (!strm || (strm->flags & RUDP_STRM_FLAG_TX_RESET)) {
      break;
    }
    if (f->len) {
      rudp_sbuf_on_acked(&strm->tx, f->offset, (size_t)f->len);
      txbuf_sync(conn, strm);
    }
    if (f->fin) {
      strm->flags |= RUDP_STRM_FLAG_TX_FIN_ACKED;
    }
    /* Writable again below half the buffer (a low-water mark, like
     * libevent's): waking the writer for every acknowledged packet would
     * have it write, and us send, in slivers.  A stream the connection's
     * bound held back waits for the connection's low-water mark. */
    if ((strm->flags & RUDP_STRM_FLAG_TX_WANT_WRITABLE) && !strm->in_txwait &&
        rudp_sbuf_unacked(&strm->tx) <=
            conn->settings.max_stream_send_buffer / 2) {
      strm->flags &= ~RUDP_STRM_FLAG_TX_WANT_WRITABLE;
      if (conn_call_stream_cb(conn, conn->callbacks.stream_writable,
                              strm->id) != 0) {
        conn->cb_error = RUDP_ERR_CALLBACK_FAILURE;
      }
    }
    txbuf_wake(conn);
    strm_maybe_close(conn, strm);
    break;
  case RUDP_FRAME_RESET_STREAM:
    strm = rudp_map_find(&conn->streams, f->stream_id);
    if (strm) {
      strm->flags |= RUDP_STRM_FLAG_TX_RESET_ACKED;
      strm_maybe_close(conn, strm);
    }
    break;
  case RUDP_FRAME_CONNECTION_CLOSE:
  case RUDP_FRAME_CONNECTION_CLOSE_APP:
    conn->flags |= RUDP_CONN_FLAG_CLOSE_ACKED;
    break;
  case RUDP_FRAME_HANDSHAKE_DONE:
    conn->flags |= RUDP_CONN_FLAG_HANDSHAKE_DONE_ACKED;
    conn->ctrl &= ~(uint32_t)RUDP_CONN_CTRL_HANDSHAKE_DONE;
    break;
  default:
    break;
  }
}

/*
 * conn_on_frame_lost queues the content of a lost frame to be sent again.
 * |probe| is nonzero when a PTO re-sends the content of a packet not (yet)
 * declared lost: the same requeueing, but nothing is counted as lost.
 */
static void conn_on_frame_lost(rudp_conn *conn, const rudp_rtb_frame *f,
                               int probe) {
  rudp_strm *strm;
  switch (f->type) {
  case RUDP_FRAME_CRYPTO:
    rudp_sbuf_on_lost(&conn->crypto_tx, f->offset, (size_t)f->len);
    break;
  case RUDP_FRAME_STREAM:
    strm = rudp_map_find(&conn->streams, f->stream_id);
    if (!strm || (strm->flags & RUDP_STRM_FLAG_TX_RESET)) {
      break;
    }
    if (f->len) {
      /* NOBUF/NOMEM leave the range unmarked; the PTO probe re-sends the
       * oldest data later, so nothing is lost for good. */
      rudp_sbuf_on_lost(&strm->tx, f->offset, (size_t)f->len);
    }
    if (f->fin && !(strm->flags & RUDP_STRM_FLAG_TX_FIN_ACKED)) {
      strm->flags &= ~RUDP_STRM_FLAG_TX_FIN_SENT;
    }
    if (rudp_strm_tx_has_pending(strm)) {
      sendq_push(conn, strm);
    }
    break;
  case RUDP_FRAME_RESET_STREAM:
    strm = rudp_map_find(&conn->streams, f->stream_id);
    if (strm && !(strm->flags & RUDP_STRM_FLAG_TX_RESET_ACKED)) {
      ctrlq_push(conn, strm, RUDP_STRM_CTRL_RESET_STREAM);
    }
    break;
  case RUDP_FRAME_STOP_SENDING:
    strm = rudp_map_find(&conn->streams, f->stream_id);
    if (strm && !rudp_strm_rx_done(strm)) {
      ctrlq_push(conn, strm, RUDP_STRM_CTRL_STOP_SENDING);
    }
    break;
  case RUDP_FRAME_MAX_STREAM_DATA:
    strm = rudp_map_find(&conn->streams, f->stream_id);
    if (strm && !rudp_strm_rx_done(strm) && strm->rx_fc.max == f->offset) {
      ctrlq_push(conn, strm, RUDP_STRM_CTRL_MAX_STREAM_DATA);
    }
    break;
  case RUDP_FRAME_MAX_DATA:
    if (conn->rx_fc.max == f->offset) {
      conn->ctrl |= RUDP_CONN_CTRL_MAX_DATA;
    }
    break;
  case RUDP_FRAME_MAX_STREAMS_BIDI:
    conn->ctrl |= RUDP_CONN_CTRL_MAX_STREAMS_BIDI;
    break;
  case RUDP_FRAME_MAX_STREAMS_UNI:
    conn->ctrl |= RUDP_CONN_CTRL_MAX_STREAMS_UNI;
    break;
  case RUDP_FRAME_HANDSHAKE_DONE:
    if (!(conn->flags & RUDP_CONN_FLAG_HANDSHAKE_DONE_ACKED)) {
      conn->ctrl |= RUDP_CONN_CTRL_HANDSHAKE_DONE;
    }
    break;
  case RUDP_FRAME_DATAGRAM_LEN:
    /* Never retransmitted; a lost one is counted as dropped. */
    if (!probe) {
      ++conn->stats.datagrams_dropped;
    }
    break;
  case RUDP_FRAME_STREAM_DATA_BLOCKED:
    /* Sent again when lost while still blocked at the limit it carried
     * (RFC 9000 13.3): rudp_fc_tx_should_send_blocked says it once per
     * limit, so nothing else repeats it.  Not for a PTO probe, which
     * sends a PING instead: its ACK declares this one lost, and a copy
     * for each would be two. */
    strm = rudp_map_find(&conn->streams, f->stream_id);
    if (!probe && strm && strm->tx_fc.max == f->offset &&
        rudp_fc_tx_avail(&strm->tx_fc) == 0 && rudp_strm_tx_has_pending(strm)) {
      ctrlq_push(conn, strm, RUDP_STRM_CTRL_STREAM_DATA_BLOCKED);
    }
    break;
  case RUDP_FRAME_DATA_BLOCKED:
    if (!probe && conn->tx_fc.max == f->offset &&
        rudp_fc_tx_avail(&conn->tx_fc) == 0) {
      conn->ctrl |= RUDP_CONN_CTRL_DATA_BLOCKED;
    }
    break;
  default:
    /* PING, ACK, STREAMS_BLOCKED: not retransmitted (STREAMS_BLOCKED is
     * set again by the next refused rudp_conn_open_stream). */
    break;
  }
}

/* conn_set_tx_payload makes |size| the datagram size: the congestion
 * window and the pacer's burst are counted in it. */
static void conn_set_tx_payload(rudp_conn *conn, size_t size) {
  conn->max_tx_payload = size;
  conn->cc->max_udp_payload_size = size;
  conn->pacer.mss = size;
}

static void rtb_acked_cb(const rudp_rtb_pkt *pkt, void *user_data) {
  rudp_conn *conn = user_data;
  const rudp_rtb_frame *f;
  if ((pkt->flags & RUDP_RTB_FLAG_PMTU_PROBE) &&
      rudp_pmtud_on_probe_acked(&conn->pmtud, pkt->size, conn->rtb_now)) {
    conn_set_tx_payload(conn, conn->pmtud.cur);
  }
  for (f = pkt->frames; f; f = f->next) {
    conn_on_frame_acked(conn, f);
  }
}

static void rtb_lost_cb(const rudp_rtb_pkt *pkt, void *user_data) {
  rudp_conn *conn = user_data;
  const rudp_rtb_frame *f;
  if (pkt->flags & RUDP_RTB_FLAG_PMTU_PROBE) {
    /* Not a congestion signal (RFC 9000 §14.4), not in pkts_lost. */
    rudp_pmtud_on_probe_lost(&conn->pmtud, pkt->size, conn->rtb_now);
    ++conn->rtb_pmtu_lost;
    return; /* a probe carries only PING and PADDING */
  }
  ++conn->stats.pkts_lost;
  for (f = pkt->frames; f; f = f->next) {
    conn_on_frame_lost(conn, f, 0);
  }
}

static void rtb_spurious_cb(const rudp_rtb_pkt *pkt, void *user_data) {
  rudp_conn *conn = user_data;
  if (pkt->flags & RUDP_RTB_FLAG_PMTU_PROBE) {
    /* Its loss was not counted (rtb_lost_cb), nor taken for congestion:
     * nothing to undo.  The late acknowledgement itself still proves the
     * size (rtb_acked_cb). */
    return;
  }
  ++conn->stats.spurious_losses;
  /* Undoes the window's latest reduction if this loss made it. */
  rudp_cc_on_spurious_loss(conn->cc, pkt->lost_ts_, conn->rtb_now);
}

static void conn_rtb_cb(rudp_conn *conn, rudp_rtb_cb *cb) {
  cb->user_data = conn;
  cb->on_acked = rtb_acked_cb;
  cb->on_lost = rtb_lost_cb;
  cb->on_spurious = rtb_spurious_cb;
}

/* conn_detect_lost runs loss detection and tells the congestion
 * controller. */
static void conn_detect_lost(rudp_conn *conn, rudp_tstamp now) {
  rudp_rtb_cb cb;
  rudp_rtb_loss_result lr;
  uint64_t lost;
  conn_rtb_cb(conn, &cb);
  conn->rtb_now = now;
  conn->rtb_pmtu_lost = 0;
  rudp_rtb_detect_lost(&conn->rtb, &conn->rtt, conn->settings.max_ack_delay,
                       conn->first_rtt_sample_ts, now, &cb, &lr);
  conn->loss_time = lr.loss_time;
  if (lr.npkts == conn->rtb_pmtu_lost) {
    return; /* nothing lost, or only path MTU probes */
  }
  /* A congestion event unless settings.loss_tolerant finds no sign of
   * congestion (rudp_cc_on_loss).  Lost probes' bytes (a 9 KB probe on
   * a 1500-byte path) must not weigh in its loss rate: the others were
   * at most a datagram each. */
  lost = lr.bytes;
  if (conn->rtb_pmtu_lost) {
    lost = rudp_min(lost, (lr.npkts - conn->rtb_pmtu_lost) *
                              (uint64_t)conn->max_tx_payload);
  }
  rudp_cc_on_loss(conn->cc, lost, lr.largest_lost_sent_ts,
                  lr.persistent_congestion, &conn->rtt, now);
}

/* ------------------------------------------------------------ receiving */

static int conn_recv_ack(rudp_conn *conn, const rudp_frame_ack *fr,
                         int long_header, rudp_tstamp now) {
  rudp_rtb_cb cb;
  rudp_rtb_ack_result res;
  int rv;

  conn_rtb_cb(conn, &cb);
  conn->rtb_now = now;
  rv = rudp_rtb_on_ack(&conn->rtb, fr, now, &cb, &res);
  if (rv != 0) {
    return rv;
  }
  if (res.npkts == 0) {
    return 0;
  }
  if (res.rtt_sample && now >= res.largest_newly_acked_sent_ts) {
    rudp_duration ack_delay = 0;
    /* Long-header ACKs may precede the peer's parameters: their delay is
     * not used (docs/PROTOCOL.md). */
    if (!long_header && (conn->flags & RUDP_CONN_FLAG_PEER_PARAMS)) {
      uint64_t us = fr->ack_delay;
      uint64_t exp = conn->remote_params.ack_delay_exponent;
      if (us < (UINT64_MAX >> 24) >> exp) {
        ack_delay = (us << exp) * RUDP_MICROSECONDS;
      }
    }
    rudp_rtt_update(&conn->rtt, now - res.largest_newly_acked_sent_ts,
                    ack_delay, conn->remote_params.max_ack_delay,
                    (conn->flags & RUDP_CONN_FLAG_CONFIRMED) != 0);
    if (conn->first_rtt_sample_ts == RUDP_TSTAMP_MAX) {
      conn->first_rtt_sample_ts = now;
    }
  }
  if (res.delivery_rate) {
    conn->stats.delivery_rate = res.delivery_rate;
  }
  if (res.bytes) {
    rudp_cc_ack ack;
    ack.bytes_acked = res.bytes;
    ack.largest_acked_sent_ts = res.largest_newly_acked_sent_ts;
    ack.bytes_in_flight = conn->rtb.bytes_in_flight;
    /* Not cwnd-limited, not growing (RFC 9002 §7.8): the packets were
     * sent app-limited, or less than half the window was in flight
     * (held back by flow control or the application), as Linux's
     * tcp_is_cwnd_limited judges it. */
    ack.app_limited =
        res.app_limited ||
        2 * (conn->rtb.bytes_in_flight + res.bytes) < conn->cc->cwnd;
    /* Counted for the loss filter too (rudp_cc_on_loss). */
    rudp_cc_on_ack(conn->cc, &ack, &conn->rtt, now);
  }
  rudp_pacer_set_rate(&conn->pacer, conn_pacing_rate(conn), now);
  /* RFC 9002 §6.2.1: an acknowledgement resets the PTO backoff (the
   * client keeps it while the handshake is unconfirmed). */
  if (conn->server || (conn->flags & RUDP_CONN_FLAG_CONFIRMED) ||
      conn->state >= RUDP_CONN_STATE_ESTABLISHED) {
    conn->pto_count = 0;
  }
  if (conn->pp) {
    rudp_pp_on_acked(conn->pp, conn->rtb.largest_acked);
  }
  conn_detect_lost(conn, now);
  return 0;
}

/*
 * conn_recv_crypto takes the peer's transport parameters: in plain mode
 * the CRYPTO stream carries exactly one message, complete, in one frame at
 * offset 0 (docs/PROTOCOL.md 4.4).  Copies in retransmitted handshake
 * packets are ignored.
 */
static int conn_recv_crypto(rudp_conn *conn, const rudp_frame_crypto *fr,
                            const rudp_pkt_hd *hd) {
  int rv;
  if (hd->type == RUDP_PKT_SHORT || fr->offset != 0) {
    return RUDP_ERR_PROTO;
  }
  if (conn->flags & RUDP_CONN_FLAG_PEER_PARAMS) {
    return 0;
  }
  rv = rudp_tp_decode(&conn->remote_params, fr->data, fr->datalen,
                      !conn->server);
  if (rv != 0) {
    /* A TLS record (handshake, 0x16) where parameters belong: the peer
     * runs TLS mode and we do not (docs/PROTOCOL.md 4.4). */
    return fr->datalen > 0 && fr->data[0] == 0x16 ? RUDP_ERR_TLS_MODE_MISMATCH
                                                  : RUDP_ERR_TRANSPORT_PARAM;
  }
  return conn_apply_remote_params(conn, &hd->scid);
}

/*
 * conn_tls_install_keys sets up packet protection from the finished TLS
 * session (docs/PROTOCOL.md, "Packet protection").
 */
static int conn_tls_install_keys(rudp_conn *conn) {
  uint8_t tx[RUDP_TLS_SECRETLEN], rx[RUDP_TLS_SECRETLEN];
  rudp_aead_alg alg;
  int rv = rudp_tls_session_get_secrets(conn->tls, tx, rx, &alg);
  if (rv != 0) {
    return rv;
  }
  conn->pp = rudp_mem_calloc(conn->mem, 1, sizeof(*conn->pp));
  if (!conn->pp) {
    rv = RUDP_ERR_NOMEM;
  } else {
    rv = rudp_pp_init(conn->pp, alg, tx, rx);
    if (rv != 0) {
      rudp_mem_free(conn->mem, conn->pp);
      conn->pp = NULL;
    }
  }
  memset(tx, 0, sizeof(tx));
  memset(rx, 0, sizeof(rx));
  return rv;
}

/*
 * conn_tls_release gives back, once the handshake is confirmed, what only
 * the handshake needed (an idle TLS connection then costs about what a
 * plain one does; docs/PERFORMANCE.md): the OpenSSL session, when it is
 * done (a client may wait for a session ticket), with the CRYPTO receive
 * buffer; and, once everything we sent in CRYPTO is acknowledged (the
 * server's tickets), the send buffer's 16 KiB chunk.  Called for every
 * packet received in TLS mode: a few loads once everything is released.
 */
static void conn_tls_release(rudp_conn *conn) {
  if (!(conn->flags & RUDP_CONN_FLAG_CONFIRMED)) {
    return;
  }
  if (!rudp_tls_session_is_released(conn->tls)) {
    if (!rudp_tls_session_release(conn->tls,
                                  rudp_rob_buffered(&conn->crypto_rx) > 0)) {
      return;
    }
    rudp_rob_free(&conn->crypto_rx);
  }
  if (conn->crypto_tx.segs && rudp_sbuf_unacked(&conn->crypto_tx) == 0 &&
      rudp_sbuf_shrink(&conn->crypto_tx)) {
    rudp_pool_trim(&conn->chunks);
  }
}

/*
 * conn_recv_crypto_tls feeds the peer's CRYPTO stream to TLS (TLS mode):
 * reordered, then in order; what TLS answers is queued; the peer's
 * parameters are applied when their extension arrives; the keys are
 * installed when the handshake completes (the caller then completes the
 * connection's handshake).  A TLS failure closes the connection with the
 * cause (RUDP_ERR_TLS_*, RUDP_ERR_CRYPTO) and CRYPTO_ERROR(alert).
 */
static int conn_recv_crypto_tls(rudp_conn *conn, const rudp_frame_crypto *fr,
                                const rudp_pkt_hd *hd, rudp_tstamp now) {
  const uint8_t *data, *tp;
  size_t n, tplen;
  rudp_ssize pushed;
  int rv = 0;

  /* Client CRYPTO travels in CONNECT and HANDSHAKE packets; the server's
   * in ACCEPT packets and, after the handshake, in short packets. */
  if (conn->server ? hd->type == RUDP_PKT_SHORT
                   : hd->type == RUDP_PKT_HANDSHAKE ||
                         (hd->type == RUDP_PKT_SHORT &&
                          !(conn->flags & RUDP_CONN_FLAG_TLS_DONE))) {
    return RUDP_ERR_PROTO;
  }
  if (rudp_tls_session_is_released(conn->tls)) {
    /* Confirmed and the TLS session freed (conn_tls_release): a late
     * ticket or a copy of the handshake, ignored (docs/PROTOCOL.md 4.4). */
    return 0;
  }
  pushed = rudp_rob_push(&conn->crypto_rx, fr->offset, fr->data, fr->datalen);
  if (pushed == RUDP_ERR_NOBUF) {
    conn_close_with(conn, RUDP_ERR_CRYPTO, 0, RUDP_CRYPTO_BUFFER_EXCEEDED,
                    RUDP_FRAME_CRYPTO, "CRYPTO buffer exceeded", now);
    return 0;
  }
  if (pushed < 0) {
    return (int)pushed;
  }
  while (rv == 0 && (n = rudp_rob_peek(&conn->crypto_rx, &data)) > 0) {
    rv = rudp_tls_session_feed(conn->tls, data, n);
    rudp_rob_consume(&conn->crypto_rx, n);
  }
  if (rv == RUDP_ERR_NOMEM) {
    return rv;
  }
  if (rv != 0) {
    uint64_t wire = rv == RUDP_ERR_TLS_MODE_MISMATCH
                        ? RUDP_TLS_MODE_MISMATCH
                        : RUDP_CRYPTO_ERROR(rudp_tls_session_alert(conn->tls));
    const char *reason = rudp_tls_session_reason(conn->tls);
    conn_close_with(conn, rv, 0, wire, RUDP_FRAME_CRYPTO,
                    reason[0] ? reason : rudp_strerror(rv), now);
    return 0;
  }
  if (!(conn->flags & RUDP_CONN_FLAG_PEER_PARAMS) &&
      (tp = rudp_tls_session_peer_tp(conn->tls, &tplen)) != NULL) {
    if (rudp_tp_decode(&conn->remote_params, tp, tplen, !conn->server) != 0) {
      return RUDP_ERR_TRANSPORT_PARAM;
    }
    rv = conn_apply_remote_params(conn, &hd->scid);
    if (rv != 0) {
      return rv;
    }
  }
  if (!(conn->flags & RUDP_CONN_FLAG_TLS_DONE) &&
      rudp_tls_session_is_complete(conn->tls)) {
    if (!(conn->flags & RUDP_CONN_FLAG_PEER_PARAMS)) {
      return RUDP_ERR_TRANSPORT_PARAM; /* the session should have caught it */
    }
    rv = conn_tls_install_keys(conn);
    if (rv != 0) {
      return rv == RUDP_ERR_NOMEM ? rv : RUDP_ERR_INTERNAL;
    }
    conn->flags |= RUDP_CONN_FLAG_TLS_DONE;
    if (conn->server) {
      /* The client has all our handshake data (it sent Finished); what
       * TLS writes from now on (session tickets) goes in short packets. */
      conn->crypto_hs_end = conn->crypto_tx.written;
      if (conn->crypto_tx.sent > 0) {
        rv = rudp_sbuf_on_acked(&conn->crypto_tx, 0,
                                (size_t)conn->crypto_tx.sent);
        if (rv != 0) {
          return rv;
        }
      }
    }
  }
  return conn_tls_drain(conn);
}

/*
 * conn_account_recv checks stream data ending at |end| against the
 * stream's and the connection's credit (RFC 9000 §4.1).
 */
static int conn_account_recv(rudp_conn *conn, rudp_strm *strm, uint64_t end) {
  uint64_t before = strm->rx_fc.highest;
  int rv = rudp_fc_rx_on_recv(&strm->rx_fc, end);
  if (rv != 0) {
    return rv;
  }
  if (strm->rx_fc.highest > before) {
    conn->rx_highest_sum += strm->rx_fc.highest - before;
    return rudp_fc_rx_on_recv(&conn->rx_fc, conn->rx_highest_sum);
  }
  return 0;
}

/*
 * conn_strm_discard_rx treats every byte of |strm| received (or, after a
 * reset, up to its final size) as read: the application will never read
 * them, and the credit they hold must go back to the peer.
 */
static void conn_strm_discard_rx(rudp_conn *conn, rudp_strm *strm,
                                 uint64_t upto) {
  if (upto > strm->rx_fc.consumed) {
    uint64_t n = upto - strm->rx_fc.consumed;
    rudp_fc_rx_consume(&strm->rx_fc, n);
    rudp_fc_rx_consume(&conn->rx_fc, n);
    if (rudp_fc_rx_should_update(&conn->rx_fc)) {
      conn->ctrl |= RUDP_CONN_CTRL_MAX_DATA;
    }
  }
}

static int conn_recv_stream(rudp_conn *conn, const rudp_frame_stream *fr,
                            rudp_tstamp now, int *pdrop) {
  rudp_strm *strm;
  uint64_t end = fr->offset + fr->datalen;
  rudp_ssize n;
  int rv = conn_get_strm_for_frame(conn, fr->stream_id, 1, now, &strm);

  if (rv != 0 || !strm) {
    return rv;
  }
  if (strm->flags & RUDP_STRM_FLAG_RX_FIN) {
    if (end > strm->rx_final || (fr->fin && end != strm->rx_final)) {
      return RUDP_ERR_FINAL_SIZE;
    }
  } else if (fr->fin && end < strm->rx_fc.highest) {
    return RUDP_ERR_FINAL_SIZE;
  }
  rv = conn_account_recv(conn, strm, end);
  if (rv != 0) {
    return rv;
  }
  if (fr->fin) {
    strm->flags |= RUDP_STRM_FLAG_RX_FIN;
    strm->rx_final = end;
  }
  if (strm->flags & (RUDP_STRM_FLAG_RX_RESET | RUDP_STRM_FLAG_RX_STOPPED)) {
    /* Discarded; the credit it used goes back to the peer. */
    conn_strm_discard_rx(conn, strm, strm->rx_fc.highest);
    return 0;
  }
  /* In-order bytes are lent, not copied: a reader that reads them from
   * its stream_readable callback copies them straight out of the packet;
   * what it leaves is copied into the stream's buffer (settled) before the
   * packet's memory goes back to the caller. */
  n = rudp_rob_lend(&strm->rx, fr->offset, fr->data, fr->datalen);
  if (n == RUDP_ERR_NOBUF) {
    /* Too fragmented to hold: drop the packet unacknowledged; the peer
     * sends it again later. */
    *pdrop = 1;
    return 0;
  }
  if (n < 0) {
    return (int)n;
  }
  if (rudp_rob_readable(&strm->rx) > 0 ||
      ((strm->flags & RUDP_STRM_FLAG_RX_FIN) &&
       strm->rx.read_offset == strm->rx_final)) {
    uint64_t id = strm->id;
    rv = conn_call_stream_cb(conn, conn->callbacks.stream_readable, strm->id);
    /* The callback may have closed or reset the stream. */
    strm = rudp_map_find(&conn->streams, id);
    if (strm) {
      int srv = rudp_rob_settle(&strm->rx);
      if (rv == 0) {
        rv = srv;
      }
    }
    return rv;
  }
  return rudp_rob_settle(&strm->rx);
}

static int conn_recv_reset_stream(rudp_conn *conn,
                                  const rudp_frame_reset_stream *fr,
                                  rudp_tstamp now) {
  rudp_strm *strm;
  int rv = conn_get_strm_for_frame(conn, fr->stream_id, 1, now, &strm);
  if (rv != 0 || !strm) {
    return rv;
  }
  if (strm->flags & RUDP_STRM_FLAG_RX_FIN) {
    if (fr->final_size != strm->rx_final) {
      return RUDP_ERR_FINAL_SIZE;
    }
  } else if (fr->final_size < strm->rx_fc.highest) {
    return RUDP_ERR_FINAL_SIZE;
  }
  rv = conn_account_recv(conn, strm, fr->final_size);
  if (rv != 0) {
    return rv;
  }
  if (strm->flags & (RUDP_STRM_FLAG_RX_RESET | RUDP_STRM_FLAG_RX_FIN_READ)) {
    return 0;
  }
  strm->flags |= RUDP_STRM_FLAG_RX_FIN | RUDP_STRM_FLAG_RX_RESET;
  strm->rx_final = fr->final_size;
  /* Everything up to the final size counts as consumed: return the
   * connection credit the discarded bytes held. */
  conn_strm_discard_rx(conn, strm, fr->final_size);
  strm->ctrl &=
      ~(uint32_t)(RUDP_STRM_CTRL_MAX_STREAM_DATA | RUDP_STRM_CTRL_STOP_SENDING);
  rv = conn_call_stream_code_cb(conn, conn->callbacks.stream_reset, strm->id,
                                fr->app_error_code);
  strm_maybe_close(conn, strm);
  return rv;
}

/* conn_reset_strm resets the sending side of |strm| with |code|. */
static void conn_reset_strm(rudp_conn *conn, rudp_strm *strm, uint64_t code) {
  if (strm->flags & (RUDP_STRM_FLAG_NO_TX | RUDP_STRM_FLAG_TX_RESET)) {
    return;
  }
  if ((strm->flags & RUDP_STRM_FLAG_TX_FIN_ACKED) &&
      rudp_sbuf_unacked(&strm->tx) == 0) {
    return; /* everything already delivered: nothing to abort */
  }
  strm->flags |= RUDP_STRM_FLAG_TX_RESET;
  strm->tx_reset_code = code;
  /* The final size is what was sent (the peer may have counted it). */
  strm->tx_final = strm->tx.sent;
  /* Uncounted first, so that the release callbacks see the room. */
  txbuf_drop(conn, strm);
  rudp_sbuf_reset(&strm->tx);
  sendq_remove(conn, strm);
  strm->ctrl &= ~(uint32_t)RUDP_STRM_CTRL_STREAM_DATA_BLOCKED;
  ctrlq_push(conn, strm, RUDP_STRM_CTRL_RESET_STREAM);
  txbuf_wake(conn);
}

static int conn_recv_stop_sending(rudp_conn *conn,
                                  const rudp_frame_stop_sending *fr,
                                  rudp_tstamp now) {
  rudp_strm *strm;
  int rv = conn_get_strm_for_frame(conn, fr->stream_id, 0, now, &strm);
  if (rv != 0 || !strm) {
    return rv;
  }
  if (strm->flags & RUDP_STRM_FLAG_NO_TX) {
    return RUDP_ERR_STREAM_STATE;
  }
  if (strm->flags & RUDP_STRM_FLAG_TX_RESET) {
    return 0;
  }
  rv = conn_call_stream_code_cb(conn, conn->callbacks.stream_stop_sending,
                                strm->id, fr->app_error_code);
  conn_reset_strm(conn, strm, fr->app_error_code);
  return rv;
}

static int conn_recv_max_stream_data(rudp_conn *conn,
                                     const rudp_frame_stream_value *fr,
                                     rudp_tstamp now) {
  rudp_strm *strm;
  int rv = conn_get_strm_for_frame(conn, fr->stream_id, 0, now, &strm);
  if (rv != 0 || !strm) {
    return rv;
  }
  if (strm->flags & RUDP_STRM_FLAG_NO_TX) {
    return RUDP_ERR_STREAM_STATE;
  }
  if (rudp_fc_tx_update(&strm->tx_fc, fr->value) &&
      rudp_strm_tx_has_pending(strm)) {
    sendq_push(conn, strm);
  }
  return 0;
}

static int conn_recv_max_streams(rudp_conn *conn, int k, uint64_t value) {
  if (value > conn->remote_max_streams[k]) {
    conn->remote_max_streams[k] = value;
    if (conn->callbacks.streams_available &&
        conn->callbacks.streams_available(conn, k == 0, conn->user_data) != 0) {
      return RUDP_ERR_CALLBACK_FAILURE;
    }
  }
  return 0;
}

static void conn_recv_connection_close(rudp_conn *conn,
                                       const rudp_frame_connection_close *fr,
                                       rudp_tstamp now) {
  rudp_conn_close_info *ci = &conn->close_info;
  size_t n;
  int app = fr->type == RUDP_FRAME_CONNECTION_CLOSE_APP;

  /* Acknowledge the close at once (docs/PROTOCOL.md 8.4). */
  conn->acktr.immediate = 1;
  if (conn->state == RUDP_CONN_STATE_DRAINING) {
    /* A retransmitted CONNECTION_CLOSE: keep draining a while longer so
     * our ACK reaches the closer. */
    conn->close_deadline =
        now + 3 * rudp_rtt_pto(&conn->rtt, conn->settings.max_ack_delay, 0);
    return;
  }
  if (conn->state >= RUDP_CONN_STATE_CLOSING) {
    /* Both sides closed at once: settle into draining. */
    conn->state = RUDP_CONN_STATE_DRAINING;
    conn->ctrl = 0;
    return;
  }
  ci->local = 0;
  ci->app = app;
  ci->wire_error = fr->error_code;
  n = rudp_min(fr->reasonlen, sizeof(ci->reason) - 1);
  memcpy(ci->reason, fr->reason, n);
  ci->reason[n] = '\0';
  if (fr->error_code == 0) {
    ci->error = 0;
  } else if (!app && fr->error_code == RUDP_CONNECTION_REFUSED &&
             conn->state == RUDP_CONN_STATE_CONNECT_SENT) {
    ci->error = RUDP_ERR_CONNECTION_REFUSED;
  } else if (!app && fr->error_code == RUDP_TLS_MODE_MISMATCH) {
    ci->error = RUDP_ERR_TLS_MODE_MISMATCH;
  } else if (!app && fr->error_code >= RUDP_CRYPTO_ERROR(0) &&
             fr->error_code <= RUDP_CRYPTO_ERROR(0xff)) {
    ci->error = RUDP_ERR_CRYPTO; /* the peer's TLS refused ours */
  } else {
    ci->error = RUDP_ERR_PEER_CLOSED;
  }
  if (conn->state == RUDP_CONN_STATE_CONNECT_SENT) {
    /* Refused (or closed) before any state of ours exists at the server:
     * abandon the attempt at once, sending nothing (docs/PROTOCOL.md 7.7),
     * like a SYN answered by RST. */
    conn->acktr.immediate = 0;
    conn_enter_closed(conn);
    return;
  }
  conn->state = RUDP_CONN_STATE_DRAINING;
  conn->ctrl = 0;
  conn->close_deadline =
      now + 3 * rudp_rtt_pto(&conn->rtt, conn->settings.max_ack_delay, 0);
  rudp_rtb_discard_all(&conn->rtb, NULL);
}

static int conn_recv_datagram(rudp_conn *conn, const rudp_frame_datagram *fr) {
  /* The limit is on the whole frame: type, length field and data
   * (RFC 9221 §3). */
  size_t framelen =
      1 + fr->datalen +
      (fr->type == RUDP_FRAME_DATAGRAM_LEN ? rudp_varint_len(fr->datalen) : 0);
  if (conn->settings.max_datagram_frame_size == 0 ||
      framelen > conn->settings.max_datagram_frame_size) {
    return RUDP_ERR_PROTO;
  }
  ++conn->stats.datagrams_recv;
  if (conn->callbacks.datagram_received &&
      conn->callbacks.datagram_received(conn, fr->data, fr->datalen,
                                        conn->user_data) != 0) {
    return RUDP_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

/* Frames allowed in long-header (handshake) packets. */
static int frame_allowed_in_long(uint8_t type) {
  switch (type) {
  case RUDP_FRAME_PADDING:
  case RUDP_FRAME_PING:
  case RUDP_FRAME_ACK:
  case RUDP_FRAME_CRYPTO:
  case RUDP_FRAME_CONNECTION_CLOSE:
    return 1;
  default:
    return 0;
  }
}

/*
 * conn_recv_frames processes the payload of one packet.  Sets
 * *pack_eliciting.  Returns 0, CONN_DROP_PKT (do not acknowledge), a
 * RUDP_ERR_* code that closes the connection (with *pframe_type set), or a
 * fatal code.
 */
static int conn_recv_frames(rudp_conn *conn, const rudp_pkt_hd *hd,
                            const uint8_t *p, size_t len, rudp_tstamp now,
                            int *pack_eliciting, uint64_t *pframe_type) {
  int long_header = hd->type != RUDP_PKT_SHORT;
  int drop = 0, was_draining = 0, drain_close_seen = 0;

  *pack_eliciting = 0;
  if (len == 0) {
    return RUDP_ERR_PROTO; /* a packet must carry at least one frame */
  }
  if (conn->state == RUDP_CONN_STATE_DRAINING) {
    was_draining = 1;
  }
  while (len > 0) {
    rudp_frame fr;
    rudp_ssize n = rudp_frame_decode(&fr, p, len);
    int rv = 0;
    if (n < 0) {
      *pframe_type = 0;
      return (int)n;
    }
    p += n;
    len -= (size_t)n;
    *pframe_type = fr.type;
    if (long_header && !frame_allowed_in_long(fr.type)) {
      return RUDP_ERR_PROTO;
    }
    if (rudp_frame_is_ack_eliciting(fr.type)) {
      *pack_eliciting = 1;
    }
    if (fr.type == RUDP_FRAME_CONNECTION_CLOSE ||
        fr.type == RUDP_FRAME_CONNECTION_CLOSE_APP) {
      /* Acknowledged by a draining receiver (docs/PROTOCOL.md 8.4). */
      *pack_eliciting = 1;
    }
    if (conn->state == RUDP_CONN_STATE_DRAINING &&
        fr.type != RUDP_FRAME_CONNECTION_CLOSE &&
        fr.type != RUDP_FRAME_CONNECTION_CLOSE_APP) {
      continue;
    }
    if (conn->state == RUDP_CONN_STATE_DRAINING) {
      /* Draining acknowledges only packets carrying the close (8.4). */
      drain_close_seen = 1;
    }
    if (conn->state == RUDP_CONN_STATE_CLOSING && fr.type != RUDP_FRAME_ACK &&
        fr.type != RUDP_FRAME_CONNECTION_CLOSE &&
        fr.type != RUDP_FRAME_CONNECTION_CLOSE_APP) {
      continue;
    }
    switch (fr.type) {
    case RUDP_FRAME_PADDING:
    case RUDP_FRAME_PING:
      break;
    case RUDP_FRAME_ACK:
      rv = conn_recv_ack(conn, &fr.ack, long_header, now);
      break;
    case RUDP_FRAME_CRYPTO:
      rv = conn->tls ? conn_recv_crypto_tls(conn, &fr.crypto, hd, now)
                     : conn_recv_crypto(conn, &fr.crypto, hd);
      break;
    case RUDP_FRAME_NEW_TOKEN:
      /* Only a server may send it; tokens are not used by this version. */
      if (conn->server) {
        rv = RUDP_ERR_PROTO;
      }
      break;
    case RUDP_FRAME_RESET_STREAM:
      rv = conn_recv_reset_stream(conn, &fr.reset_stream, now);
      break;
    case RUDP_FRAME_STOP_SENDING:
      rv = conn_recv_stop_sending(conn, &fr.stop_sending, now);
      break;
    case RUDP_FRAME_MAX_DATA:
      if (rudp_fc_tx_update(&conn->tx_fc, fr.value.value)) {
        conn->ctrl &= ~(uint32_t)RUDP_CONN_CTRL_DATA_BLOCKED;
        rudp_map_each(&conn->streams, conn_requeue_cb, conn);
      }
      break;
    case RUDP_FRAME_MAX_STREAM_DATA:
      rv = conn_recv_max_stream_data(conn, &fr.stream_value, now);
      break;
    case RUDP_FRAME_MAX_STREAMS_BIDI:
      rv = conn_recv_max_streams(conn, 0, fr.value.value);
      break;
    case RUDP_FRAME_MAX_STREAMS_UNI:
      rv = conn_recv_max_streams(conn, 1, fr.value.value);
      break;
    case RUDP_FRAME_DATA_BLOCKED:
    case RUDP_FRAME_STREAMS_BLOCKED_BIDI:
    case RUDP_FRAME_STREAMS_BLOCKED_UNI:
      break;
    case RUDP_FRAME_STREAM_DATA_BLOCKED: {
      rudp_strm *strm;
      rv = conn_get_strm_for_frame(conn, fr.stream_value.stream_id, 1, now,
                                   &strm);
      break;
    }
    case RUDP_FRAME_CONNECTION_CLOSE:
    case RUDP_FRAME_CONNECTION_CLOSE_APP:
      conn_recv_connection_close(conn, &fr.connection_close, now);
      break;
    case RUDP_FRAME_HANDSHAKE_DONE:
      if (conn->server) {
        rv = RUDP_ERR_PROTO;
      } else {
        conn->flags |= RUDP_CONN_FLAG_CONFIRMED;
        if (conn->tls && conn->crypto_tx.sent > 0) {
          /* The server completed, so it has all our handshake data. */
          rv = rudp_sbuf_on_acked(&conn->crypto_tx, 0,
                                  (size_t)conn->crypto_tx.sent);
        }
      }
      break;
    case RUDP_FRAME_DATAGRAM:
    case RUDP_FRAME_DATAGRAM_LEN:
      rv = conn_recv_datagram(conn, &fr.datagram);
      break;
    default:
      if ((fr.type & ~0x07u) == RUDP_FRAME_STREAM) {
        rv = conn_recv_stream(conn, &fr.stream, now, &drop);
      }
      break;
    }
    if (rv != 0) {
      return rv;
    }
    if (conn->state == RUDP_CONN_STATE_CLOSED) {
      break;
    }
  }
  if (was_draining) {
    *pack_eliciting = drain_close_seen;
  }
  return drop ? CONN_DROP_PKT : 0;
}

/* conn_complete_handshake moves to ESTABLISHED. */
static int conn_complete_handshake(rudp_conn *conn, rudp_tstamp now) {
  conn->state = RUDP_CONN_STATE_ESTABLISHED;
  /* Count the window in the datagrams we will actually send. */
  if (conn->max_tx_payload != conn->cc->max_udp_payload_size) {
    conn_cc_init(conn, now);
  }
  conn->flags |= RUDP_CONN_FLAG_VALIDATED;
  conn->pto_count = 0;
  /* The handshake packets still in flight become obsolete once this
   * packet's ACK is processed (conn_recv_pkt drops them then). */
  conn->discard_handshake = 1;
  if (conn->server) {
    conn->flags |= RUDP_CONN_FLAG_CONFIRMED;
    conn->ctrl |= RUDP_CONN_CTRL_HANDSHAKE_DONE;
  }
  if (conn_call_handshake_completed(conn) != 0) {
    return RUDP_ERR_CALLBACK_FAILURE;
  }
  /* The peer's stream limits just became known: from "none" to its
   * initial values. */
  if (conn->callbacks.streams_available) {
    if (conn->remote_max_streams[0] &&
        conn->callbacks.streams_available(conn, 1, conn->user_data) != 0) {
      return RUDP_ERR_CALLBACK_FAILURE;
    }
    if (conn->remote_max_streams[1] &&
        conn->callbacks.streams_available(conn, 0, conn->user_data) != 0) {
      return RUDP_ERR_CALLBACK_FAILURE;
    }
  }
  return 0;
}

static void conn_recv_retry(rudp_conn *conn, const rudp_pkt_hd *hd,
                            const uint8_t *pkt) {
  if (conn->server || conn->state != RUDP_CONN_STATE_CONNECT_SENT ||
      (conn->flags &
       (RUDP_CONN_FLAG_RETRY_RECEIVED | RUDP_CONN_FLAG_ACCEPT_SEEN)) ||
      !rudp_cid_eq(&hd->odcid, &conn->odcid) ||
      rudp_pkt_verify_crc(pkt, hd->pktlen) != 0 ||
      hd->tokenlen > sizeof(conn->token)) {
    ++conn->stats.pkts_dropped;
    return;
  }
  conn->flags |= RUDP_CONN_FLAG_RETRY_RECEIVED;
  memcpy(conn->token, hd->token, hd->tokenlen);
  conn->tokenlen = hd->tokenlen;
  conn->dcid = hd->scid;
  conn->retry_scid = hd->scid;
  /* Send CONNECT again, with the token, at once; it is not a
   * retransmission for the retry budget. */
  rudp_rtb_discard_all(&conn->rtb, NULL);
  rudp_sbuf_on_lost(&conn->crypto_tx, 0, (size_t)conn->crypto_tx.sent);
  conn->last_connect_ts = RUDP_TSTAMP_MAX;
  /* The CONNECT answering a RETRY is not a retransmission: it does not use
   * up a retry, and its timer starts afresh (docs/PROTOCOL.md 7.5). */
  if (conn->connect_sends > 0) {
    --conn->connect_sends;
  }
}

static void conn_recv_version_negotiation(rudp_conn *conn,
                                          const rudp_pkt_hd *hd,
                                          const uint8_t *pkt, rudp_tstamp now) {
  size_t i;
  if (conn->server || conn->state != RUDP_CONN_STATE_CONNECT_SENT ||
      (conn->flags &
       (RUDP_CONN_FLAG_RETRY_RECEIVED | RUDP_CONN_FLAG_ACCEPT_SEEN)) ||
      !rudp_cid_eq(&hd->dcid, &conn->scid) ||
      !rudp_cid_eq(&hd->scid, &conn->dcid) ||
      rudp_pkt_verify_crc(pkt, hd->pktlen) != 0) {
    ++conn->stats.pkts_dropped;
    return;
  }
  for (i = 0; i < hd->nversions; ++i) {
    if (rudp_pkt_get_version(hd, i) == RUDP_PROTO_VER_V1) {
      ++conn->stats.pkts_dropped; /* lists ours: forged or confused */
      return;
    }
  }
  (void)now;
  conn->close_info.error = RUDP_ERR_VERSION;
  conn->close_info.local = 1;
  conn_enter_closed(conn);
}

/*
 * conn_recv_pkt processes one packet (a datagram may hold several).
 * Returns the bytes it consumed, or a negative fatal code; malformed input
 * consumes the rest of the datagram.
 */
static rudp_ssize conn_recv_pkt(rudp_conn *conn, const uint8_t *pkt, size_t len,
                                rudp_tstamp now) {
  rudp_pkt_hd hd;
  rudp_ssize hdlen = rudp_pkt_decode_hd(&hd, pkt, len, conn->scid.datalen);
  uint64_t pn, frame_type = 0;
  int rv, ack_eliciting;
  size_t payload_len;
  const uint8_t *payload;
  int aead = 0;
  uint8_t **rxbuf = &conn->rxbuf;
  size_t *rxbuflen = &conn->rxbuflen;

  if (hdlen < 0) {
    ++conn->stats.pkts_dropped;
    return (rudp_ssize)len;
  }
  if (hd.type == RUDP_PKT_VERSION_NEGOTIATION) {
    conn_recv_version_negotiation(conn, &hd, pkt, now);
    return (rudp_ssize)len;
  }
  if ((hd.flags & RUDP_PKT_FLAG_LONG_FORM) && hd.version != RUDP_PROTO_VER_V1) {
    ++conn->stats.pkts_dropped;
    return (rudp_ssize)len;
  }
  if (hd.type == RUDP_PKT_RETRY) {
    if (rudp_cid_eq(&hd.dcid, &conn->scid)) {
      conn_recv_retry(conn, &hd, pkt);
    } else {
      ++conn->stats.pkts_dropped;
    }
    return (rudp_ssize)len; /* a RETRY is never coalesced (2.3) */
  }
  /* The packet must be for us: our CID, or (server, CONNECT) the
   * client's original DCID. */
  if (!rudp_cid_eq(&hd.dcid, &conn->scid) &&
      !(conn->server && hd.type == RUDP_PKT_CONNECT &&
        rudp_cid_eq(&hd.dcid, &conn->odcid))) {
    ++conn->stats.pkts_dropped;
    return (rudp_ssize)hd.pktlen;
  }
  if (hd.pktlen < (size_t)hdlen + RUDP_PKT_CRCLEN) {
    ++conn->stats.pkts_dropped;
    ++conn->stats.pkts_bad_integrity;
    return (rudp_ssize)hd.pktlen;
  }
  /* Which packet types each side accepts in each state. */
  if (conn->server) {
    if (hd.type == RUDP_PKT_ACCEPT ||
        (hd.type != RUDP_PKT_SHORT &&
         conn->state != RUDP_CONN_STATE_ACCEPT_SENT &&
         conn->state < RUDP_CONN_STATE_CLOSING &&
         /* TLS: until the client is confirmed it may still close in a
          * HANDSHAKE packet (it cannot know we have our keys). */
         !(conn->tls && hd.type == RUDP_PKT_HANDSHAKE &&
           !(conn->flags & RUDP_CONN_FLAG_HANDSHAKE_DONE_ACKED)))) {
      /* Long packets after the handshake are stale copies. */
      ++conn->stats.pkts_dropped;
      return (rudp_ssize)hd.pktlen;
    }
  } else {
    if (hd.type == RUDP_PKT_CONNECT ||
        (hd.type == RUDP_PKT_SHORT &&
         conn->state == RUDP_CONN_STATE_CONNECT_SENT) ||
        /* Once confirmed, long-header packets are stale (7.2 step 6). */
        (hd.type != RUDP_PKT_SHORT &&
         (conn->flags & RUDP_CONN_FLAG_CONFIRMED)) ||
        /* After the first valid ACCEPT, only its SCID is the server (7.2
         * step 3). */
        (hd.type != RUDP_PKT_SHORT &&
         (conn->flags & RUDP_CONN_FLAG_ACCEPT_SEEN) &&
         !rudp_cid_eq(&hd.scid, &conn->dcid))) {
      ++conn->stats.pkts_dropped;
      return (rudp_ssize)hd.pktlen;
    }
  }
  if (hd.type == RUDP_PKT_CONNECT &&
      conn->state == RUDP_CONN_STATE_ACCEPT_SENT &&
      !rudp_cid_eq(&hd.scid, &conn->dcid)) {
    ++conn->stats.pkts_dropped;
    return (rudp_ssize)hd.pktlen;
  }
  pn = rudp_pkt_decode_pkt_num(conn->acktr.largest, hd.pkt_num, hd.pkt_numlen);
  if (conn->tls && hd.type == RUDP_PKT_SHORT) {
    /* TLS mode: short packets are AEAD-protected; nothing in them is
     * looked at before they authenticate.  The server has no keys until
     * the client's Finished arrived (RFC 9001 5.7): earlier ones are
     * dropped, and recovered by loss detection. */
    rudp_ssize n;
    if (!conn->pp) {
      ++conn->stats.pkts_dropped;
      ++conn->stats.pkts_undecryptable;
      return (rudp_ssize)hd.pktlen;
    }
    if (conn->using_shared_rx) {
      rxbuf = &conn->shared_rx->buf;
      rxbuflen = &conn->shared_rx->len;
    }
    if (*rxbuflen < hd.pktlen) {
      size_t want = rudp_max(hd.pktlen, (size_t)2048);
      uint8_t *buf = rudp_mem_malloc(conn->mem, want);
      if (!buf) {
        return RUDP_ERR_NOMEM;
      }
      rudp_mem_free(conn->mem, *rxbuf);
      *rxbuf = buf;
      *rxbuflen = want;
    }
    n = pn > RUDP_PKT_MAX_PKT_NUM
            ? RUDP_ERR_INTEGRITY
            : rudp_pp_open(conn->pp, *rxbuf, *rxbuflen, pkt, (size_t)hdlen,
                           hd.pktlen, pn,
                           (hd.flags & RUDP_PKT_FLAG_KEY_PHASE) != 0);
    if (n == RUDP_ERR_NOMEM) {
      return n;
    }
    if (n < 0) {
      ++conn->stats.pkts_dropped;
      ++conn->stats.pkts_bad_integrity;
      if (conn->pp->auth_failures >= CONN_AEAD_INTEGRITY_LIMIT) {
        /* RFC 9001 6.6: so many forgeries that one might succeed. */
        conn_close_with(conn, RUDP_ERR_CRYPTO, 0, RUDP_AEAD_LIMIT_REACHED, 0,
                        "AEAD integrity limit reached", now);
      }
      return (rudp_ssize)hd.pktlen;
    }
    payload = *rxbuf;
    payload_len = (size_t)n;
    aead = 1;
  } else if (pn > RUDP_PKT_MAX_PKT_NUM ||
             rudp_pkt_verify_crc_pn(pkt, hd.pktlen, pn) != 0) {
    /* The CRC covers the full packet number: corruption, and a packet
     * delayed so long that its number expanded wrongly, both fail
     * here. */
    ++conn->stats.pkts_dropped;
    ++conn->stats.pkts_bad_integrity;
    return (rudp_ssize)hd.pktlen;
  }
  if (!aead) {
    payload = pkt + hdlen;
    payload_len = hd.pktlen - (size_t)hdlen - RUDP_PKT_CRCLEN;
  }
  if (rudp_acktr_is_duplicate(&conn->acktr, pn)) {
    ++conn->stats.pkts_dropped;
    ++conn->stats.pkts_duplicate;
    return (rudp_ssize)hd.pktlen;
  }

  if (hd.type == RUDP_PKT_CONNECT &&
      conn->state == RUDP_CONN_STATE_ACCEPT_SENT && conn->crypto_tx.sent > 0) {
    /* A repeated CONNECT means our ACCEPT was lost: send it again (the
     * half-open connection answers; no new state). */
    rudp_sbuf_on_lost(&conn->crypto_tx, 0, (size_t)conn->crypto_tx.sent);
  }
  if (!conn->server && hd.type == RUDP_PKT_ACCEPT &&
      !(conn->flags & RUDP_CONN_FLAG_ACCEPT_SEEN)) {
    /* The first valid ACCEPT names the server's CID: everything goes
     * there from now on, a close of a failed handshake included. */
    conn->flags |= RUDP_CONN_FLAG_ACCEPT_SEEN;
    conn->dcid = hd.scid;
  }
  conn->last_recv_ts = now;
  conn->idle_start_ts = now;
  conn->flags &= ~(uint32_t)RUDP_CONN_FLAG_ELICITING_SINCE_RECV;
  if (conn->server && !(conn->flags & RUDP_CONN_FLAG_VALIDATED)) {
    conn->bytes_recv_unvalidated += hd.pktlen;
  }
  if (conn->state == RUDP_CONN_STATE_CLOSING) {
    /* Answer stray packets with our CONNECTION_CLOSE, rate-limited: at
     * most one per received packet and no sooner than the schedule. */
    conn->ctrl |= RUDP_CONN_CTRL_CLOSE;
  }

  if (conn->server && conn->state == RUDP_CONN_STATE_ACCEPT_SENT &&
      hd.type == RUDP_PKT_SHORT && !conn->tls &&
      (conn->flags & RUDP_CONN_FLAG_PEER_PARAMS)) {
    /* A short packet proves the client got ACCEPT (it knows our CID):
     * complete before its frames, so handshake_completed comes before
     * the streams it opens. */
    rv = conn_complete_handshake(conn, now);
    if (rv != 0) {
      return rv;
    }
  }
  rv = conn_recv_frames(conn, &hd, payload, payload_len, now, &ack_eliciting,
                        &frame_type);
  if (rv == CONN_DROP_PKT) {
    ++conn->stats.pkts_dropped;
    return (rudp_ssize)hd.pktlen;
  }
  if (rv != 0) {
    if (rudp_err_is_fatal(rv)) {
      return rv;
    }
    conn_close_proto(conn, rv, frame_type, rudp_strerror(rv), now);
    return (rudp_ssize)len;
  }
  ++conn->stats.pkts_recv;
  conn->stats.bytes_recv += hd.pktlen;
  if (ack_eliciting && hd.type != RUDP_PKT_SHORT) {
    /* Handshake packets are acknowledged without delay (10.1). */
    conn->acktr.immediate = 1;
  }
  rudp_acktr_add(&conn->acktr, pn, ack_eliciting, now);

  /* Handshake progress. */
  if (conn->tls) {
    /* TLS mode: the TLS handshake decides (the client once the server's
     * Finished is verified, the server once the client's is). */
    if ((conn->flags & RUDP_CONN_FLAG_TLS_DONE) &&
        (conn->state == RUDP_CONN_STATE_CONNECT_SENT ||
         conn->state == RUDP_CONN_STATE_ACCEPT_SENT)) {
      conn->acktr.immediate = 1;
      rv = conn_complete_handshake(conn, now);
      if (rv != 0) {
        return rv;
      }
    }
    conn_tls_release(conn);
  } else if (!conn->server && conn->state == RUDP_CONN_STATE_CONNECT_SENT &&
             hd.type == RUDP_PKT_ACCEPT) {
    if (conn->flags & RUDP_CONN_FLAG_PEER_PARAMS) {
      /* Acknowledge ACCEPT at once: it completes the server's side. */
      conn->acktr.immediate = 1;
      rv = conn_complete_handshake(conn, now);
      if (rv != 0) {
        return rv;
      }
    }
    /* An ACCEPT without the server's parameters cannot complete. */
  } else if (conn->server && conn->state == RUDP_CONN_STATE_ACCEPT_SENT &&
             (hd.type == RUDP_PKT_SHORT ||
              (conn->crypto_tx.written > 0 &&
               rudp_sbuf_unacked(&conn->crypto_tx) == 0)) &&
             (conn->flags & RUDP_CONN_FLAG_PEER_PARAMS)) {
    /* The client's ACK of an ACCEPT carrying our parameters, or any short
     * packet (it knows our CID and parameters, so it got that ACCEPT): the
     * third step of the handshake.  An ACK of an ACCEPT that carried only
     * a probe does not count: the client may still lack our parameters. */
    rv = conn_complete_handshake(conn, now);
    if (rv != 0) {
      return rv;
    }
  }
  if (conn->discard_handshake) {
    /* The handshake just completed: the handshake packets still in
     * flight are obsolete (the peer has what they carried, or the CONNECT
     * retransmissions were answered); dropping them keeps their late
     * "loss" from cutting the window.  Done after the packet's ACK was
     * processed, so the handshake round trip still gives an RTT sample. */
    conn->discard_handshake = 0;
    rudp_rtb_discard_all(&conn->rtb, NULL);
    conn->loss_time = RUDP_TSTAMP_MAX;
  }
  return (rudp_ssize)hd.pktlen;
}

static int conn_enter(rudp_conn *conn) { return ++conn->busy; }

static int conn_leave(rudp_conn *conn, int rv) {
  if (--conn->busy == 0) {
    int srv = conn_sweep(conn);
    if (rv == 0) {
      rv = srv;
    }
    if (rv == 0 && conn->cb_error) {
      rv = conn->cb_error;
    }
    conn->cb_error = 0;
  }
  return rv;
}

int rudp_conn_read_pkt(rudp_conn *conn, const uint8_t *data, size_t datalen,
                       rudp_tstamp now) {
  size_t off = 0;
  int rv = 0, shared = 0, outer = conn->using_shared_rx;
  if (conn->state == RUDP_CONN_STATE_CLOSED) {
    return RUDP_ERR_INVALID_STATE;
  }
  conn_enter(conn);
  /* The endpoint's shared decrypt buffer, unless a call further up the
   * stack is using it (then this nested call uses the connection's own). */
  if (conn->shared_rx && !conn->shared_rx->busy) {
    conn->shared_rx->busy = 1;
    shared = 1;
  }
  conn->using_shared_rx = shared;
  while (off < datalen && conn->state != RUDP_CONN_STATE_CLOSED) {
    rudp_ssize n = conn_recv_pkt(conn, data + off, datalen - off, now);
    if (n < 0) {
      rv = (int)n;
      break;
    }
    off += (size_t)n;
  }
  if (shared) {
    conn->shared_rx->busy = 0;
  }
  conn->using_shared_rx = outer;
  return conn_leave(conn, rv);
}

void rudp_conn_share_rxbuf(rudp_conn *conn, rudp_conn_rxbuf *rx) {
  conn->shared_rx = rx;
}

/* ------------------------------------------------------------ sending */

/* A packet under construction. */
typedef struct conn_pkt {
  uint8_t *buf;
  /* hdlen: header length; len: bytes written so far; cap: the most this
   * packet may hold, its CRC included. */
  size_t hdlen;
  size_t len;
  size_t cap;
  /* taglen: the trailer, a CRC32C or (TLS short packets) an AEAD tag. */
  size_t taglen;
  int long_header;
  int ack_eliciting;
  int has_padding;
  int retransmits;
  /* frames records what to act on when acked or lost. */
  rudp_rtb_frame *frames;
  rudp_rtb_frame **tail;
} conn_pkt;

static size_t pkt_room(const conn_pkt *pkt) {
  return pkt->cap - pkt->taglen - pkt->len;
}

static rudp_rtb_frame *pkt_record(rudp_conn *conn, conn_pkt *pkt,
                                  uint8_t type) {
  rudp_rtb_frame *f = rudp_rtb_frame_new(&conn->rtb);
  if (!f) {
    return NULL;
  }
  f->type = type;
  *pkt->tail = f;
  pkt->tail = &f->next;
  return f;
}

/*
 * pkt_add_frame encodes |fr| if it fits.  Returns 1 if written, 0 if it
 * did not fit, or RUDP_ERR_NOMEM.
 */
static int pkt_add_frame(rudp_conn *conn, conn_pkt *pkt, const rudp_frame *fr,
                         uint64_t stream_id, uint64_t offset, uint64_t len) {
  rudp_ssize n = rudp_frame_encode(pkt->buf + pkt->len, pkt_room(pkt), fr);
  rudp_rtb_frame *f;
  if (n == RUDP_ERR_NOBUF) {
    return 0;
  }
  if (n < 0) {
    return RUDP_ERR_INTERNAL;
  }
  if (fr->type != RUDP_FRAME_PADDING && fr->type != RUDP_FRAME_PING) {
    f = pkt_record(conn, pkt, fr->type);
    if (!f) {
      return RUDP_ERR_NOMEM;
    }
    f->stream_id = stream_id;
    f->offset = offset;
    f->len = len;
  }
  pkt->len += (size_t)n;
  if (rudp_frame_is_ack_eliciting(fr->type)) {
    pkt->ack_eliciting = 1;
  }
  return 1;
}

static int conn_write_ack(rudp_conn *conn, conn_pkt *pkt, rudp_tstamp now) {
  rudp_range ranges[CONN_MAX_ACK_RANGES];
  rudp_frame fr;
  int rv;
  memset(&fr, 0, sizeof(fr));
  if (rudp_acktr_fill(&conn->acktr, &fr.ack, ranges, conn->settings.ack_ranges,
                      pkt->long_header ? 3 : conn->settings.ack_delay_exponent,
                      now) != 0) {
    rudp_acktr_on_ack_sent(&conn->acktr);
    return 0;
  }
  rv = pkt_add_frame(conn, pkt, &fr, 0, fr.ack.ranges[0].hi, 0);
  if (rv == 1) {
    rudp_acktr_on_ack_sent(&conn->acktr);
  }
  return rv < 0 ? rv : 0;
}

/*
 * conn_write_crypto sends the whole CRYPTO message again whenever any of
 * it is pending: it is one frame at offset 0 (docs/PROTOCOL.md 4.4).
 */
static int conn_write_crypto(rudp_conn *conn, conn_pkt *pkt) {
  uint8_t data[RUDP_TP_MAXLEN];
  size_t n = (size_t)conn->crypto_tx.written;
  rudp_frame fr;
  int rv;
  if (!rudp_sbuf_has_pending(&conn->crypto_tx) || n > sizeof(data)) {
    return 0;
  }
  rudp_sbuf_copy(&conn->crypto_tx, data, 0, n);
  memset(&fr, 0, sizeof(fr));
  fr.crypto.type = RUDP_FRAME_CRYPTO;
  fr.crypto.offset = 0;
  fr.crypto.data = data;
  fr.crypto.datalen = n;
  rv = pkt_add_frame(conn, pkt, &fr, 0, 0, n);
  if (rv <= 0) {
    return rv;
  }
  return rudp_sbuf_on_sent(&conn->crypto_tx, 0, n);
}

/*
 * conn_write_crypto_tls sends pending CRYPTO data (TLS mode) in as many
 * frames as fit: lost ranges first, then new data.  In a long packet only
 * handshake data (below crypto_hs_end), in a short one only what follows
 * it (the server's session tickets).
 */
static int conn_write_crypto_tls(rudp_conn *conn, conn_pkt *pkt) {
  for (;;) {
    size_t room = pkt_room(pkt), hdmax, n;
    uint64_t off;
    uint8_t *p;
    rudp_rtb_frame *f;
    if (room < 8) {
      return 0;
    }
    hdmax = 1 + 8 + rudp_varint_len(room);
    if (room <= hdmax) {
      return 0;
    }
    n = rudp_sbuf_next(&conn->crypto_tx, &off, room - hdmax);
    if (n == 0) {
      return 0;
    }
    if (pkt->long_header ? off >= conn->crypto_hs_end
                         : off < conn->crypto_hs_end) {
      return 0;
    }
    if (pkt->long_header && off + n > conn->crypto_hs_end) {
      n = (size_t)(conn->crypto_hs_end - off);
    }
    f = pkt_record(conn, pkt, RUDP_FRAME_CRYPTO);
    if (!f) {
      return RUDP_ERR_NOMEM;
    }
    f->offset = off;
    f->len = n;
    p = pkt->buf + pkt->len;
    p = rudp_put_uint8(p, RUDP_FRAME_CRYPTO);
    p = rudp_put_varint(p, off);
    p = rudp_put_varint(p, n);
    rudp_sbuf_copy(&conn->crypto_tx, p, off, n);
    pkt->len = (size_t)(p - pkt->buf) + n;
    pkt->ack_eliciting = 1;
    if (off < conn->crypto_tx.sent) {
      pkt->retransmits = 1;
    }
    if (rudp_sbuf_on_sent(&conn->crypto_tx, off, n) != 0) {
      return RUDP_ERR_NOMEM;
    }
  }
}

/* Connection-level control frames, in the order they are written. */
static const struct {
  uint32_t flag;
  uint8_t type;
} conn_ctrl_frames[] = {
    {RUDP_CONN_CTRL_HANDSHAKE_DONE, RUDP_FRAME_HANDSHAKE_DONE},
    {RUDP_CONN_CTRL_MAX_DATA, RUDP_FRAME_MAX_DATA},
    {RUDP_CONN_CTRL_MAX_STREAMS_BIDI, RUDP_FRAME_MAX_STREAMS_BIDI},
    {RUDP_CONN_CTRL_MAX_STREAMS_UNI, RUDP_FRAME_MAX_STREAMS_UNI},
    {RUDP_CONN_CTRL_STREAMS_BLOCKED_BIDI, RUDP_FRAME_STREAMS_BLOCKED_BIDI},
    {RUDP_CONN_CTRL_STREAMS_BLOCKED_UNI, RUDP_FRAME_STREAMS_BLOCKED_UNI},
    {RUDP_CONN_CTRL_DATA_BLOCKED, RUDP_FRAME_DATA_BLOCKED},
};

/* conn_ctrl_value is the value a connection-level control frame carries
 * now (0 for HANDSHAKE_DONE, which has none). */
static uint64_t conn_ctrl_value(rudp_conn *conn, uint8_t type,
                                rudp_tstamp now) {
  switch (type) {
  case RUDP_FRAME_MAX_DATA:
    return rudp_fc_rx_update(&conn->rx_fc, conn->rtt.smoothed, now);
  case RUDP_FRAME_MAX_STREAMS_BIDI:
    return conn->local_max_streams[0];
  case RUDP_FRAME_MAX_STREAMS_UNI:
    return conn->local_max_streams[1];
  case RUDP_FRAME_STREAMS_BLOCKED_BIDI:
    return conn->remote_max_streams[0];
  case RUDP_FRAME_STREAMS_BLOCKED_UNI:
    return conn->remote_max_streams[1];
  case RUDP_FRAME_DATA_BLOCKED:
    return conn->tx_fc.max;
  default:
    return 0;
  }
}

/*
 * conn_write_strm_ctrl writes the control frame |flag| (one of
 * RUDP_STRM_CTRL_*) of |strm|.  Returns 1 if written (the flag is then
 * cleared), 0 if it did not fit, or a negative error.
 */
static int conn_write_strm_ctrl(rudp_conn *conn, conn_pkt *pkt, rudp_strm *strm,
                                uint32_t flag, rudp_tstamp now) {
  rudp_frame fr;
  uint64_t offset = 0, len = 0;
  int rv;
  memset(&fr, 0, sizeof(fr));
  switch (flag) {
  case RUDP_STRM_CTRL_RESET_STREAM:
    fr.reset_stream.type = RUDP_FRAME_RESET_STREAM;
    fr.reset_stream.stream_id = strm->id;
    fr.reset_stream.app_error_code = len = strm->tx_reset_code;
    fr.reset_stream.final_size = offset = strm->tx_final;
    break;
  case RUDP_STRM_CTRL_STOP_SENDING:
    fr.stop_sending.type = RUDP_FRAME_STOP_SENDING;
    fr.stop_sending.stream_id = strm->id;
    fr.stop_sending.app_error_code = len = strm->rx_stop_code;
    break;
  case RUDP_STRM_CTRL_MAX_STREAM_DATA:
    if (rudp_strm_rx_done(strm) || (strm->flags & RUDP_STRM_FLAG_RX_FIN)) {
      /* The peer sends nothing more: no credit to give. */
      strm->ctrl &= ~flag;
      return 1;
    }
    fr.stream_value.type = RUDP_FRAME_MAX_STREAM_DATA;
    fr.stream_value.stream_id = strm->id;
    fr.stream_value.value = offset =
        rudp_fc_rx_update(&strm->rx_fc, conn->rtt.smoothed, now);
    break;
  default: /* RUDP_STRM_CTRL_STREAM_DATA_BLOCKED */
    fr.stream_value.type = RUDP_FRAME_STREAM_DATA_BLOCKED;
    fr.stream_value.stream_id = strm->id;
    fr.stream_value.value = offset = strm->tx_fc.max;
    break;
  }
  rv = pkt_add_frame(conn, pkt, &fr, strm->id, offset, len);
  if (rv == 1) {
    strm->ctrl &= ~flag;
    if (flag == RUDP_STRM_CTRL_STREAM_DATA_BLOCKED) {
      ++conn->stats.blocked_sent;
    }
  }
  return rv;
}

/* conn_write_ctrl writes pending connection and stream control frames. */
static int conn_write_ctrl(rudp_conn *conn, conn_pkt *pkt, rudp_tstamp now) {
  static const uint32_t strm_ctrls[] = {
      RUDP_STRM_CTRL_RESET_STREAM, RUDP_STRM_CTRL_STOP_SENDING,
      RUDP_STRM_CTRL_MAX_STREAM_DATA, RUDP_STRM_CTRL_STREAM_DATA_BLOCKED};
  rudp_strm **pp;
  size_t i;
  int rv;

  for (i = 0; i < rudp_arraylen(conn_ctrl_frames); ++i) {
    rudp_frame fr;
    if (!(conn->ctrl & conn_ctrl_frames[i].flag)) {
      continue;
    }
    memset(&fr, 0, sizeof(fr));
    fr.value.type = conn_ctrl_frames[i].type;
    fr.value.value = conn_ctrl_value(conn, fr.value.type, now);
    rv = pkt_add_frame(conn, pkt, &fr, 0, fr.value.value, 0);
    if (rv < 0) {
      return rv;
    }
    if (rv == 1) {
      conn->ctrl &= ~conn_ctrl_frames[i].flag;
      if (fr.value.type == RUDP_FRAME_DATA_BLOCKED) {
        ++conn->stats.blocked_sent;
      }
    }
  }
  for (pp = &conn->ctrlq_head; *pp;) {
    rudp_strm *strm = *pp;
    for (i = 0; i < rudp_arraylen(strm_ctrls); ++i) {
      if (strm->ctrl & strm_ctrls[i]) {
        rv = conn_write_strm_ctrl(conn, pkt, strm, strm_ctrls[i], now);
        if (rv < 0) {
          return rv;
        }
      }
    }
    if (strm->ctrl == 0) {
      *pp = strm->ctrlq_next;
      strm->in_ctrlq = 0;
      strm->ctrlq_next = NULL;
      strm_maybe_close(conn, strm);
    } else {
      pp = &strm->ctrlq_next;
    }
  }
  return 0;
}

/*
 * conn_write_datagrams writes queued datagrams, oldest first, while they
 * fit, at most |max| of them.  Sets dgram_carry when the next one does not
 * fit the room left (conn_build then starts the next packet with it), and
 * takes the queue out of the scheduler once it is empty.  Returns the
 * number written or a negative error.
 */
static int conn_write_datagrams(rudp_conn *conn, conn_pkt *pkt, size_t max) {
  size_t n = 0;
  conn->dgram_carry = 0;
  while (conn->dgram_len > 0 && n < max) {
    rudp_conn_dgram *d = &conn->dgrams[conn->dgram_head];
    rudp_frame fr;
    int rv;
    memset(&fr, 0, sizeof(fr));
    fr.datagram.type = RUDP_FRAME_DATAGRAM_LEN;
    fr.datagram.data = d->buf;
    fr.datagram.datalen = d->len;
    rv = pkt_add_frame(conn, pkt, &fr, 0, 0, 0);
    if (rv < 0) {
      return rv;
    }
    if (rv == 0) {
      conn->dgram_carry = 1;
      break;
    }
    ++conn->stats.datagrams_sent;
    conn->dgram_bytes -= d->len;
    conn->dgram_head = (conn->dgram_head + 1) % conn->dgram_cap;
    --conn->dgram_len;
    ++n;
  }
  if (conn->dgram_len == 0) {
    rudp_sched_remove_node(&conn->sched, &conn->dgram_node);
  }
  return (int)n;
}

/*
 * conn_write_strm writes one STREAM frame of |strm| into |pkt|.  Returns 1
 * if it wrote one, 0 if the stream has nothing it may send now, or a
 * negative error.
 */
static int conn_write_strm(rudp_conn *conn, conn_pkt *pkt, rudp_strm *strm) {
  size_t room = pkt_room(pkt), hdmax, n;
  uint64_t off, end, limit;
  int fin = 0, retrans, implicit;
  rudp_frame_stream fr;
  rudp_ssize hn;
  rudp_rtb_frame *f;

  if (room < 4) {
    return 0;
  }
  hdmax = rudp_frame_stream_hdlen(strm->id, strm->tx.written, room, 0);
  if (room <= hdmax) {
    return 0;
  }
  n = rudp_sbuf_next(&strm->tx, &off, room - hdmax);
  retrans = n > 0 && off < strm->tx.sent;
  if (n > 0 && !retrans) {
    /* New data: within the stream's and the connection's credit. */
    limit = rudp_min(strm->tx_fc.max,
                     strm->tx.sent + rudp_fc_tx_avail(&conn->tx_fc));
    if (off >= limit) {
      n = 0;
      if (strm->tx_fc.max <= off &&
          rudp_fc_tx_should_send_blocked(&strm->tx_fc)) {
        ctrlq_push(conn, strm, RUDP_STRM_CTRL_STREAM_DATA_BLOCKED);
      }
      if (rudp_fc_tx_avail(&conn->tx_fc) == 0 &&
          rudp_fc_tx_should_send_blocked(&conn->tx_fc)) {
        conn->ctrl |= RUDP_CONN_CTRL_DATA_BLOCKED;
      }
    } else if (off + n > limit) {
      n = (size_t)(limit - off);
    }
  }
  if (n == 0 && !rudp_strm_tx_fin_pending(strm)) {
    return 0;
  }
  if (n == 0) {
    off = strm->tx_final;
  }
  end = off + n;
  if ((strm->flags & RUDP_STRM_FLAG_TX_FIN) && end == strm->tx_final) {
    fin = 1;
  }
  /* Omit the length when the frame fills the packet. */
  implicit = rudp_frame_stream_hdlen(strm->id, off, n, 1) + n == room;
  memset(&fr, 0, sizeof(fr));
  fr.type = RUDP_FRAME_STREAM;
  fr.stream_id = strm->id;
  fr.offset = off;
  fr.datalen = n;
  fr.fin = (uint8_t)fin;
  fr.implicit_len = (uint8_t)implicit;
  hn = rudp_frame_encode_stream_hd(pkt->buf + pkt->len, room, &fr);
  if (hn < 0 || (size_t)hn + n > room) {
    return hn == RUDP_ERR_NOBUF || hn >= 0 ? 0 : RUDP_ERR_INTERNAL;
  }
  f = pkt_record(conn, pkt, RUDP_FRAME_STREAM);
  if (!f) {
    return RUDP_ERR_NOMEM;
  }
  f->stream_id = strm->id;
  f->offset = off;
  f->len = n;
  f->fin = (uint8_t)fin;
  if (n) {
    rudp_sbuf_copy(&strm->tx, pkt->buf + pkt->len + hn, off, n);
  }
  pkt->len += (size_t)hn + n;
  pkt->ack_eliciting = 1;
  if (retrans) {
    pkt->retransmits = 1;
    conn->stats.bytes_retransmitted += n;
  } else if (end > strm->tx.sent) {
    rudp_fc_tx_consume(&conn->tx_fc, end - strm->tx.sent);
    if (end > strm->tx_fc.used) {
      rudp_fc_tx_consume(&strm->tx_fc, end - strm->tx_fc.used);
    }
  }
  if (n) {
    rudp_sbuf_on_sent(&strm->tx, off, n);
  }
  if (fin) {
    strm->flags |= RUDP_STRM_FLAG_TX_FIN_SENT;
  }
  return 1;
}

/*
 * conn_write_sched fills the rest of the packet from the scheduler (see
 * rudp_strm.h): the most urgent member first, one frame per turn (one
 * STREAM frame, or one datagram), the member going to the tail of its
 * round robin while it has more to send: fair in turns, not in bytes.
 * A stream that may send nothing now (no data, or blocked by flow
 * control) leaves the scheduler until more data, a loss or new credit
 * puts it back.  A datagram that does not fit what is left is carried to
 * the start of the next packet while the others fill this one.
 */
static int conn_write_sched(rudp_conn *conn, conn_pkt *pkt) {
  rudp_sched_node *node;
  size_t guard = 0;
  int rv, dgram_out = 0;
  while ((node = rudp_sched_top(&conn->sched)) != NULL && pkt_room(pkt) > 8 &&
         guard++ < 4096) {
    rudp_strm *strm;
    if (node == &conn->dgram_node) {
      rv = conn_write_datagrams(conn, pkt, 1);
      if (rv < 0) {
        return rv;
      }
      if (rv == 0 && conn->dgram_len > 0) {
        /* Nothing fitted: out of the scheduler for this packet. */
        rudp_sched_remove_node(&conn->sched, node);
        dgram_out = 1;
      } else if (conn->dgram_len > 0) {
        rudp_sched_rotate(&conn->sched, node);
      }
      continue;
    }
    strm = rudp_sched_node_strm(node);
    rv = conn_write_strm(conn, pkt, strm);
    if (rv < 0) {
      return rv;
    }
    if (rv == 0) {
      if (rudp_strm_tx_has_pending(strm) && pkt_room(pkt) <= 64) {
        /* Out of room, not out of credit: first in the next packet. */
        break;
      }
      sendq_remove(conn, strm);
      continue;
    }
    if (rudp_strm_tx_has_pending(strm)) {
      rudp_sched_rotate(&conn->sched, node);
    } else {
      sendq_remove(conn, strm);
    }
  }
  if (dgram_out && conn->dgram_len > 0) {
    rudp_sched_push_node(&conn->sched, &conn->dgram_node, conn->dgram_urgency);
  }
  return 0;
}

/* conn_pto returns the current probe timeout, backoff included. */
static rudp_duration conn_pto(const rudp_conn *conn) {
  rudp_duration mad = conn->state >= RUDP_CONN_STATE_ESTABLISHED
                          ? conn->remote_params.max_ack_delay
                          : 0;
  return rudp_rtt_pto(&conn->rtt, mad, conn->pto_count);
}

static void conn_linger_cb(uint64_t key, void *value, void *arg) {
  const rudp_strm *strm = value;
  int *busy = arg;
  (void)key;
  if (!(strm->flags & (RUDP_STRM_FLAG_NO_TX | RUDP_STRM_FLAG_TX_RESET)) &&
      (rudp_sbuf_unacked(&strm->tx) > 0 ||
       ((strm->flags & RUDP_STRM_FLAG_TX_FIN) &&
        !(strm->flags & RUDP_STRM_FLAG_TX_FIN_ACKED)))) {
    *busy = 1;
  }
}

/*
 * conn_linger_done returns nonzero once everything written is
 * acknowledged: every stream's data and FIN, and every control frame.
 * Streams are walked (O(streams), only while lingering): one held back by
 * flow control is off the send queue but not done.
 */
static int conn_linger_done(const rudp_conn *conn) {
  int busy = 0;
  if (!rudp_sched_empty(&conn->sched) || conn->ctrlq_head ||
      conn->rtb.ack_eliciting_in_flight > 0) {
    return 0;
  }
  rudp_map_each(&conn->streams, conn_linger_cb, &busy);
  return !busy;
}

/*
 * conn_write_close writes a packet carrying only CONNECTION_CLOSE.
 */
static rudp_ssize conn_build(rudp_conn *conn, uint8_t *out, size_t outlen,
                             rudp_tstamp now);

rudp_ssize rudp_conn_write_pkt(rudp_conn *conn, uint8_t *out, size_t outlen,
                               rudp_tstamp now) {
  rudp_ssize n;
  int rv;
  if (!out) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  conn_enter(conn);
  n = conn_build(conn, out, outlen, now);
  rv = conn_leave(conn, n < 0 ? (int)n : 0);
  return rv < 0 ? rv : n;
}

/* conn_has_pending returns nonzero if an ack-eliciting packet would carry
 * something now. */
static int conn_has_pending(const rudp_conn *conn) {
  if (conn->state == RUDP_CONN_STATE_CONNECT_SENT ||
      conn->state == RUDP_CONN_STATE_ACCEPT_SENT) {
    return rudp_sbuf_has_pending(&conn->crypto_tx);
  }
  if (conn->tls && rudp_sbuf_has_pending(&conn->crypto_tx)) {
    return 1;
  }
  return !rudp_sched_empty(&conn->sched) || conn->ctrlq_head ||
         conn->dgram_len || (conn->ctrl & ~(uint32_t)RUDP_CONN_CTRL_CLOSE) ||
         conn->probes;
}

/* conn_pmtu_probe returns the size of the path MTU probe to send now in
 * an |outlen|-byte buffer, or 0.  Probes start once the handshake is
 * confirmed, never displace loss recovery's probes, and respect the
 * congestion window and the pacer like any packet. */
static size_t conn_pmtu_probe(const rudp_conn *conn, size_t outlen,
                              rudp_tstamp now) {
  size_t size;
  if (conn->state != RUDP_CONN_STATE_ESTABLISHED ||
      !(conn->flags & RUDP_CONN_FLAG_CONFIRMED) || conn->probes > 0) {
    return 0;
  }
  size = rudp_pmtud_probe_size(&conn->pmtud, now);
  if (size == 0 || size > outlen ||
      conn->rtb.bytes_in_flight + size > conn->cc->cwnd ||
      rudp_pacer_next(&conn->pacer, size, now) > now) {
    return 0;
  }
  return size;
}

/* CONN_MIN_CC_ROOM is the smallest packet cut to the window's room (a
 * packet below it carries next to nothing: conn_build builds none below
 * 64 bytes). */
#define CONN_MIN_CC_ROOM 64

static rudp_ssize conn_build(rudp_conn *conn, uint8_t *out, size_t outlen,
                             rudp_tstamp now) {
  conn_pkt pkt;
  rudp_pkt_hd hd;
  rudp_ssize hdlen;
  size_t cap, min_size = 0, pmtu_probe = 0;
  int rv, closing = 0, draining = 0, probe = 0, cc_ok, ack_due = 0;
  rudp_acktr saved_acktr;
  uint64_t pn;
  uint32_t flags;

  switch (conn->state) {
  case RUDP_CONN_STATE_CLOSED:
    return 0;
  case RUDP_CONN_STATE_DRAINING:
    /* Only the ACK of the peer's CONNECTION_CLOSE (docs/PROTOCOL.md 8.4). */
    if (conn->acktr.largest == UINT64_MAX ||
        rudp_acktr_deadline(&conn->acktr, conn->settings.max_ack_delay) > now) {
      return 0;
    }
    draining = 1;
    break;
  case RUDP_CONN_STATE_CLOSING:
    if (!(conn->ctrl & RUDP_CONN_CTRL_CLOSE) || now < conn->close_next_ts ||
        conn->close_sends >= RUDP_CONN_CLOSE_MAX_SENDS ||
        (conn->flags & RUDP_CONN_FLAG_CLOSE_ACKED)) {
      return 0;
    }
    closing = 1;
    break;
  case RUDP_CONN_STATE_LINGER:
    if (conn_linger_done(conn)) {
      conn_close_with(conn, 0, 0, RUDP_NO_ERROR, 0, NULL, now);
      return conn_build(conn, out, outlen, now);
    }
    break;
  default:
    break;
  }

  cap = rudp_min(outlen, conn->max_tx_payload);
  if (!closing && !draining) {
    pmtu_probe = conn_pmtu_probe(conn, outlen, now);
    if (pmtu_probe) {
      cap = pmtu_probe;
    }
  }
  if (conn->state < RUDP_CONN_STATE_ESTABLISHED && !closing) {
    cap = rudp_min(outlen, (size_t)RUDP_MIN_UDP_PAYLOAD);
  }
  /* Anti-amplification (server, before the client's address is
   * validated): at most 3x what was received. */
  if (conn->server && !(conn->flags & RUDP_CONN_FLAG_VALIDATED)) {
    uint64_t allowed = 3 * conn->bytes_recv_unvalidated;
    if (conn->bytes_sent_unvalidated >= allowed) {
      return 0;
    }
    cap =
        (size_t)rudp_min((uint64_t)cap, allowed - conn->bytes_sent_unvalidated);
  }
  if (cap < 64) {
    return 0;
  }

  /* Now and then a packet number is skipped: a peer acknowledging it
   * would be acknowledging what it never received (optimistic ACK). */
  if (rudp_rtb_next_pkt_num(&conn->rtb) == conn->next_skip_pn &&
      conn->state == RUDP_CONN_STATE_ESTABLISHED) {
    if (rudp_rtb_skip(&conn->rtb) != 0) {
      return RUDP_ERR_NOMEM;
    }
    conn_schedule_skip(conn);
  }
  pn = rudp_rtb_next_pkt_num(&conn->rtb);

  memset(&hd, 0, sizeof(hd));
  hd.dcid = conn->dcid;
  hd.scid = conn->scid;
  hd.version = RUDP_PROTO_VER_V1;
  hd.pkt_num = pn;
  hd.pkt_numlen = rudp_pkt_num_len(pn, conn->rtb.largest_acked);
  if (closing || draining
          ? !conn->server && !(conn->flags & RUDP_CONN_FLAG_ACCEPT_SEEN)
          : conn->state == RUDP_CONN_STATE_CONNECT_SENT &&
                !(conn->tls && (conn->flags & RUDP_CONN_FLAG_ACCEPT_SEEN))) {
    hd.type = RUDP_PKT_CONNECT;
    hd.flags = RUDP_PKT_FLAG_LONG_FORM;
    hd.token = conn->tokenlen ? conn->token : NULL;
    hd.tokenlen = conn->tokenlen;
    min_size = RUDP_MIN_UDP_PAYLOAD;
  } else if (closing || draining
                 ? conn->server && !(conn->flags & RUDP_CONN_FLAG_CONFIRMED)
                 : conn->state == RUDP_CONN_STATE_ACCEPT_SENT) {
    hd.type = RUDP_PKT_ACCEPT;
    hd.flags = RUDP_PKT_FLAG_LONG_FORM;
  } else if ((closing || draining)
                 ? !conn->server &&
                       !(conn->flags & (conn->tls ? RUDP_CONN_FLAG_CONFIRMED
                                                  : RUDP_CONN_FLAG_PEER_PARAMS))
                 : conn->tls && !conn->server &&
                       (conn->state == RUDP_CONN_STATE_CONNECT_SENT ||
                        (!(conn->flags & RUDP_CONN_FLAG_CONFIRMED) &&
                         rudp_sbuf_has_pending(&conn->crypto_tx)))) {
    /* The client saw an ACCEPT but the handshake failed (bad parameters,
     * a refused certificate): a HANDSHAKE packet to the server's CID
     * (docs/PROTOCOL.md 9.1).  In TLS mode HANDSHAKE packets also carry
     * the client's ACKs of the server's flight and its Finished, and its
     * CONNECTION_CLOSE until it is confirmed: a server still waiting for
     * the Finished has no keys to read a short packet. */
    hd.type = RUDP_PKT_HANDSHAKE;
    hd.flags = RUDP_PKT_FLAG_LONG_FORM;
  } else {
    hd.type = RUDP_PKT_SHORT;
    if (conn->tls && !conn->pp) {
      return 0; /* no keys yet: nothing can go in a short packet */
    }
    if (conn->pp) {
      /* Key update: after key_update_interval packets with one key, once
       * the peer acknowledged one sent with it (docs/PROTOCOL.md). */
      if (conn->settings.key_update_interval &&
          conn->pp->tx_count >= conn->settings.key_update_interval &&
          rudp_pp_can_update(conn->pp)) {
        rv = rudp_pp_update(conn->pp);
        if (rv != 0) {
          return rv == RUDP_ERR_NOMEM ? rv : RUDP_ERR_INTERNAL;
        }
      }
      if (conn->pp->tx_count >= CONN_AEAD_CONFIDENTIALITY_LIMIT && !closing &&
          !draining) {
        conn_close_with(conn, RUDP_ERR_CRYPTO, 0, RUDP_AEAD_LIMIT_REACHED, 0,
                        "AEAD confidentiality limit reached", now);
        return conn_build(conn, out, outlen, now);
      }
      if (conn->pp->tx_phase) {
        hd.flags |= RUDP_PKT_FLAG_KEY_PHASE;
      }
    }
  }
  hd.len = cap; /* placeholder; patched below */
  hdlen = rudp_pkt_encode_hd(out, cap, &hd);
  if (hdlen < 0) {
    return hdlen == RUDP_ERR_NOBUF ? 0 : RUDP_ERR_INTERNAL;
  }
  if (min_size > cap) {
    return 0; /* CONNECT needs a full 1200-byte datagram */
  }

  memset(&pkt, 0, sizeof(pkt));
  pkt.buf = out;
  pkt.hdlen = pkt.len = (size_t)hdlen;
  pkt.cap = cap;
  pkt.long_header = hd.type != RUDP_PKT_SHORT;
  pkt.taglen =
      conn->tls && !pkt.long_header ? RUDP_AEAD_TAGLEN : RUDP_PKT_CRCLEN;
  pkt.tail = &pkt.frames;

  if (closing) {
    rudp_frame fr;
    const char *reason = conn->close_info.reason;
    memset(&fr, 0, sizeof(fr));
    fr.connection_close.type = conn->close_info.app && !pkt.long_header
                                   ? RUDP_FRAME_CONNECTION_CLOSE_APP
                                   : RUDP_FRAME_CONNECTION_CLOSE;
    fr.connection_close.error_code = conn->close_info.app && pkt.long_header
                                         ? RUDP_APPLICATION_ERROR
                                         : conn->close_info.wire_error;
    fr.connection_close.frame_type = conn->close_frame_type;
    fr.connection_close.reason = (const uint8_t *)reason;
    fr.connection_close.reasonlen = strlen(reason);
    rv = pkt_add_frame(conn, &pkt, &fr, 0, 0, 0);
    if (rv <= 0) {
      goto fail;
    }
    /* Our close is ack-eliciting (docs/PROTOCOL.md): the peer's ACK ends
     * the retransmissions, like the ACK of TCP's last FIN. */
    pkt.ack_eliciting = 1;
    ++conn->close_sends;
    conn->ctrl &= ~(uint32_t)RUDP_CONN_CTRL_CLOSE;
    conn->close_next_ts =
        now + rudp_rtt_pto(&conn->rtt, conn->remote_params.max_ack_delay, 0);
    if (conn->close_next_ts > conn->close_deadline) {
      conn->close_deadline = conn->close_next_ts;
    }
    goto finish;
  }

  if (pmtu_probe && !pkt.long_header) {
    /* A path MTU probe: a PING padded to exactly the candidate size, and
     * nothing that would need sending again if the path drops it. */
    rudp_frame fr;
    fr.type = RUDP_FRAME_PING;
    rv = pkt_add_frame(conn, &pkt, &fr, 0, 0, 0);
    if (rv <= 0) {
      goto fail;
    }
    min_size = pmtu_probe;
    goto finish;
  }
  pmtu_probe = 0;

  if (draining) {
    rv = conn_write_ack(conn, &pkt, now);
    if (rv < 0) {
      goto fail;
    }
    if (pkt.len == pkt.hdlen) {
      return 0;
    }
    goto finish;
  }

  /* Congestion control: only ACKs (not counted in flight) beyond the
   * window, except for PTO probes; and pacing, which probes ignore too
   * unless max_rate caps the rate (a cap is a cap).  A packet must fit
   * the window (RFC 9002 §7), but when less than |cap| is left a short
   * packet is cut to what is left (at least CONN_MIN_CC_ROOM) instead of
   * waiting for room for a full one: that wait held a flow of small
   * packets (messages) to the window less one datagram, half of a small
   * window.  The pacer is asked for the packet's size too. */
  probe = conn->probes > 0;
  {
    uint64_t cwnd = conn->cc->cwnd, inflight = conn->rtb.bytes_in_flight;
    uint64_t room = cwnd > inflight ? cwnd - inflight : 0;
    size_t cc_cap = cap;
    int win_ok = probe || inflight == 0 || room >= cap;
    if (!win_ok && !pkt.long_header && room >= CONN_MIN_CC_ROOM) {
      win_ok = 1;
      cc_cap = (size_t)room;
    }
    cc_ok = win_ok && ((probe && !conn->settings.max_rate) ||
                       rudp_pacer_next(&conn->pacer, cc_cap, now) <= now);
    if (cc_ok) {
      pkt.cap = cc_cap;
    }
    if (!win_ok && conn_has_pending(conn)) {
      /* Data waits for the window: not application-limited (below). */
      rudp_cc_set_cwnd_limited(conn->cc, now);
    }
  }

  /* An ACK goes out when one is due, and rides along (piggybacks) on any
   * other packet whenever there is something new to report.  A piggyback
   * ACK that finds nothing to ride on is taken back below: an ACK-only
   * packet is sent only when an ACK is due. */
  ack_due =
      rudp_acktr_deadline(&conn->acktr, conn->settings.max_ack_delay) <= now;
  saved_acktr = conn->acktr;
  if (cc_ok && !pkt.long_header && conn->dgram_carry && conn->dgram_len > 0) {
    /* The head datagram did not fit behind the previous packet's frames:
     * it goes first, before the ACK.  One as large as a packet allows
     * must not be kept out (forever, holding up the queue) by the ACK's
     * bytes. */
    rv = conn_write_datagrams(conn, &pkt, 1);
    if (rv < 0) {
      goto fail;
    }
  }
  if (conn->acktr.largest != UINT64_MAX &&
      (ack_due || (conn->acktr.dirty && cc_ok &&
                   (pkt.ack_eliciting || conn_has_pending(conn))))) {
    rv = conn_write_ack(conn, &pkt, now);
    if (rv < 0) {
      goto fail;
    }
  }
  if (cc_ok) {
    if (pkt.long_header) {
      rv = conn->tls ? conn_write_crypto_tls(conn, &pkt)
                     : conn_write_crypto(conn, &pkt);
      if (rv < 0) {
        goto fail;
      }
    } else {
      if (conn->tls && conn->server) {
        rv = conn_write_crypto_tls(conn, &pkt); /* session tickets */
        if (rv < 0) {
          goto fail;
        }
      }
      rv = conn_write_ctrl(conn, &pkt, now);
      if (rv < 0) {
        goto fail;
      }
      rv = conn_write_sched(conn, &pkt);
      if (rv < 0) {
        goto fail;
      }
    }
    if ((conn->ctrl & RUDP_CONN_CTRL_PING) || (probe && !pkt.ack_eliciting)) {
      rudp_frame fr;
      fr.type = RUDP_FRAME_PING;
      rv = pkt_add_frame(conn, &pkt, &fr, 0, 0, 0);
      if (rv < 0) {
        goto fail;
      }
      if (rv == 1) {
        conn->ctrl &= ~(uint32_t)RUDP_CONN_CTRL_PING;
      }
    }
  }
  if (pkt.len == pkt.hdlen) {
    return 0; /* nothing to send */
  }
  if (!pkt.ack_eliciting && !ack_due) {
    /* Only a piggyback ACK: not worth a packet of its own. */
    conn->acktr = saved_acktr;
    rudp_rtb_frames_del(&conn->rtb, pkt.frames);
    return 0;
  }

finish:
  /* Pad CONNECT to the minimum datagram size (so the server may answer
   * with 3x without amplifying), and a PMTU probe to its size. */
  if (pkt.len + pkt.taglen < min_size) {
    size_t padlen = min_size - pkt.taglen - pkt.len;
    memset(out + pkt.len, 0, padlen);
    pkt.len += padlen;
    pkt.has_padding = 1;
  }
  if (pkt.long_header) {
    rv = rudp_pkt_patch_len(out, pkt.len,
                            pkt.len - (size_t)hdlen + hd.pkt_numlen +
                                RUDP_PKT_CRCLEN);
    if (rv != 0) {
      rv = RUDP_ERR_INTERNAL;
      goto fail;
    }
  }
  if (pkt.taglen == RUDP_AEAD_TAGLEN) {
    rudp_ssize n =
        rudp_pp_seal(conn->pp, out, (size_t)hdlen, pkt.len - (size_t)hdlen, pn);
    if (n < 0) {
      rv = (int)n;
      goto fail;
    }
    pkt.len = (size_t)n;
  } else {
    pkt.len = rudp_pkt_seal_crc_pn(out, pkt.len, pn);
  }

  flags = 0;
  if (pkt.ack_eliciting) {
    flags |= RUDP_RTB_FLAG_ACK_ELICITING;
  }
  if (pkt.ack_eliciting || pkt.has_padding) {
    flags |= RUDP_RTB_FLAG_IN_FLIGHT;
  }
  if (probe && pkt.ack_eliciting) {
    flags |= RUDP_RTB_FLAG_PROBE;
    --conn->probes;
  }
  if (pmtu_probe) {
    flags |= RUDP_RTB_FLAG_PMTU_PROBE;
    rudp_pmtud_on_probe_sent(&conn->pmtud, pkt.len);
  }
  /* Application-limited: nothing left to send, and the window has not
   * been the limit within the last RTT (rudp_cc_app_limited). */
  if (rudp_sched_empty(&conn->sched) && pkt.ack_eliciting &&
      conn->rtb.bytes_in_flight + pkt.len + conn->max_tx_payload <=
          conn->cc->cwnd &&
      rudp_cc_app_limited(conn->cc, &conn->rtt, now)) {
    flags |= RUDP_RTB_FLAG_APP_LIMITED;
  }
  rv = rudp_rtb_add(&conn->rtb, now, pkt.len, flags, pkt.frames);
  pkt.frames = NULL;
  if (rv != 0) {
    return rv;
  }
  if (flags & RUDP_RTB_FLAG_IN_FLIGHT) {
    if (conn->rtb.bytes_in_flight + conn->max_tx_payload > conn->cc->cwnd) {
      /* No room left for a full datagram: the window is the limit. */
      rudp_cc_set_cwnd_limited(conn->cc, now);
    }
    if (conn->cc->ops->on_packet_sent) {
      conn->cc->ops->on_packet_sent(conn->cc, pkt.len, now);
    }
    rudp_pacer_on_sent(&conn->pacer, pkt.len, now);
  }
  if (pkt.ack_eliciting) {
    conn->last_eliciting_sent_ts = now;
    if (!(conn->flags & RUDP_CONN_FLAG_ELICITING_SINCE_RECV)) {
      /* RFC 9000 §10.1: the first ack-eliciting packet after a receive
       * restarts the idle timer too. */
      conn->flags |= RUDP_CONN_FLAG_ELICITING_SINCE_RECV;
      conn->idle_start_ts = now;
    }
  }
  if (hd.type == RUDP_PKT_CONNECT && !closing) {
    ++conn->connect_sends;
    conn->last_connect_ts = now;
  }
  if (conn->server && !(conn->flags & RUDP_CONN_FLAG_VALIDATED)) {
    conn->bytes_sent_unvalidated += pkt.len;
  }
  ++conn->stats.pkts_sent;
  conn->stats.bytes_sent += pkt.len;
  if (pkt.retransmits) {
    ++conn->stats.pkts_retransmitted;
  }
  return (rudp_ssize)pkt.len;

fail:
  rudp_rtb_frames_del(&conn->rtb, pkt.frames);
  return rv < 0 ? rv : 0;
}

/* ------------------------------------------------------------ timers */

/* conn_idle_timeout is the effective idle timeout (0: none). */
static rudp_duration conn_idle_timeout(const rudp_conn *conn) {
  rudp_duration t = conn->settings.idle_timeout;
  rudp_duration peer = conn->remote_params.max_idle_timeout;
  if ((conn->flags & RUDP_CONN_FLAG_PEER_PARAMS) && peer &&
      (t == 0 || peer < t)) {
    t = peer;
  }
  if (t) {
    /* At least 3 PTO, without backoff (RFC 9000 §10.1), so a few losses
     * do not end the connection; with backoff the timeout would recede
     * forever from a vanished peer. */
    rudp_duration mad = conn->state >= RUDP_CONN_STATE_ESTABLISHED
                            ? conn->remote_params.max_ack_delay
                            : 0;
    t = rudp_max(t, 3 * rudp_rtt_pto(&conn->rtt, mad, 0));
  }
  return t;
}

/* conn_pto_deadline is when the retransmission timer fires. */
/* conn_connect_timer returns nonzero while the client's retransmissions
 * follow the CONNECT backoff: until the ACCEPT arrives (in TLS mode the
 * rest of the handshake then runs on the PTO, as the server's does). */
static int conn_connect_timer(const rudp_conn *conn) {
  return conn->state == RUDP_CONN_STATE_CONNECT_SENT &&
         !(conn->tls && (conn->flags & RUDP_CONN_FLAG_ACCEPT_SEEN));
}

/* conn_handshake_deadline bounds a handshake in progress: the server's
 * half-open connection, and a TLS client past its ACCEPT. */
static rudp_tstamp conn_handshake_deadline(const rudp_conn *conn) {
  if (conn->state == RUDP_CONN_STATE_ACCEPT_SENT ||
      (conn->state == RUDP_CONN_STATE_CONNECT_SENT &&
       !conn_connect_timer(conn))) {
    return conn->created_ts + conn->settings.handshake_timeout;
  }
  return RUDP_TSTAMP_MAX;
}

static rudp_tstamp conn_pto_deadline(const rudp_conn *conn) {
  if (conn_connect_timer(conn)) {
    unsigned k = conn->connect_sends ? conn->connect_sends - 1 : 0;
    if (conn->last_connect_ts == RUDP_TSTAMP_MAX || conn->connect_sends == 0) {
      return RUDP_TSTAMP_MAX; /* a CONNECT is waiting to be written */
    }
    if (k > 30) {
      k = 30;
    }
    return conn->last_connect_ts + (conn->settings.connect_timeout << k);
  }
  if (conn->rtb.ack_eliciting_in_flight == 0 ||
      conn->state >= RUDP_CONN_STATE_CLOSING) {
    return RUDP_TSTAMP_MAX;
  }
  return conn->rtb.last_ack_eliciting_sent_ts + conn_pto(conn);
}

/*
 * Keepalive: a PING after keepalive_interval without anything
 * ack-eliciting sent or anything received, while nothing is in flight
 * (packets in flight already draw ACKs) and no PING is pending.
 */
static int conn_keepalive_armed(const rudp_conn *conn) {
  return conn->settings.keepalive_interval &&
         conn->state == RUDP_CONN_STATE_ESTABLISHED &&
         conn->rtb.ack_eliciting_in_flight == 0 &&
         !(conn->ctrl & RUDP_CONN_CTRL_PING);
}

static rudp_tstamp conn_keepalive_deadline(const rudp_conn *conn) {
  return rudp_max(conn->last_eliciting_sent_ts, conn->last_recv_ts) +
         conn->settings.keepalive_interval;
}

rudp_tstamp rudp_conn_get_expiry(const rudp_conn *conn) {
  rudp_tstamp t = RUDP_TSTAMP_MAX, d;
  rudp_duration idle;

  switch (conn->state) {
  case RUDP_CONN_STATE_CLOSED:
    return RUDP_TSTAMP_MAX;
  case RUDP_CONN_STATE_DRAINING:
    return rudp_min(
        conn->close_deadline,
        rudp_acktr_deadline(&conn->acktr, conn->settings.max_ack_delay));
  case RUDP_CONN_STATE_CLOSING:
    t = conn->close_deadline;
    if (!(conn->flags & RUDP_CONN_FLAG_CLOSE_ACKED) &&
        conn->close_sends < RUDP_CONN_CLOSE_MAX_SENDS) {
      t = rudp_min(t, conn->close_next_ts);
    }
    return t;
  default:
    break;
  }
  t = rudp_min(t, conn->loss_time);
  t = rudp_min(t, conn_pto_deadline(conn));
  /* Pacing: data waits for tokens (only when the window has room: the
   * timer must not come due with nothing it may send, a busy loop). */
  if (conn->state >= RUDP_CONN_STATE_ESTABLISHED && conn_has_pending(conn) &&
      (conn->rtb.bytes_in_flight + conn->max_tx_payload <= conn->cc->cwnd ||
       (conn->probes && conn->settings.max_rate))) {
    t = rudp_min(t, rudp_pacer_next(&conn->pacer, conn->max_tx_payload,
                                    conn->pacer.last_ts));
  }
  d = rudp_acktr_deadline(&conn->acktr, conn->settings.max_ack_delay);
  if (d != RUDP_TSTAMP_MAX) {
    t = rudp_min(t, d);
  }
  idle =
      conn->state >= RUDP_CONN_STATE_ESTABLISHED ? conn_idle_timeout(conn) : 0;
  if (idle) {
    t = rudp_min(t, conn->idle_start_ts + idle);
  }
  if (conn_keepalive_armed(conn)) {
    t = rudp_min(t, conn_keepalive_deadline(conn));
  }
  t = rudp_min(t, conn_handshake_deadline(conn));
  if (conn->state == RUDP_CONN_STATE_LINGER) {
    t = rudp_min(t, conn->linger_deadline);
  }
  return t;
}

/* conn_on_pto handles the retransmission timer. */
static void conn_on_pto(rudp_conn *conn, rudp_tstamp now) {
  const rudp_rtb_pkt *oldest;
  const rudp_rtb_frame *f;

  if (conn_connect_timer(conn)) {
    /* CONNECT retransmission with exponential backoff, like SYN. */
    if (conn->connect_sends > conn->settings.connect_retries) {
      conn_close_silently(conn, RUDP_ERR_HANDSHAKE_TIMEOUT);
      return;
    }
    rudp_sbuf_on_lost(&conn->crypto_tx, 0, (size_t)conn->crypto_tx.sent);
    if (!rudp_sbuf_has_pending(&conn->crypto_tx)) {
      /* An ACCEPT acknowledged our CONNECT without the server's
       * parameters: nothing is left to resend, yet a CONNECT must go (it
       * re-arms this timer: without it the timer stays due, a busy loop;
       * and a server in ACCEPT_SENT answers it with its ACCEPT). */
      conn->ctrl |= RUDP_CONN_CTRL_PING;
    }
    ++conn->stats.pto_count;
    return;
  }
  ++conn->pto_count;
  ++conn->stats.pto_count;
  conn->probes = CONN_PTO_PROBES;
  /* Two probe timeouts in a row with nothing acknowledged after the
   * datagram size grew: the path may no longer carry it (a black hole,
   * RFC 8899 §4.3).  Fall back to the base size, which it carried, and let
   * the search find the new limit. */
  if (conn->pto_count >= 2 && rudp_pmtud_on_black_hole(&conn->pmtud, now)) {
    conn_set_tx_payload(conn, conn->pmtud.cur);
  }
  /* Send the content of the oldest unacknowledged packet again (it may
   * be lost and its loss not yet visible); a PING if it carried nothing
   * that can be resent. */
  oldest = rudp_rtb_oldest_unacked(&conn->rtb);
  if (oldest) {
    for (f = oldest->frames; f; f = f->next) {
      conn_on_frame_lost(conn, f, 1);
    }
  }
  if (conn->state == RUDP_CONN_STATE_ACCEPT_SENT) {
    rudp_sbuf_on_lost(&conn->crypto_tx, 0, (size_t)conn->crypto_tx.sent);
  }
  (void)now;
}

int rudp_conn_handle_expiry(rudp_conn *conn, rudp_tstamp now) {
  rudp_duration idle;
  conn_enter(conn);
  switch (conn->state) {
  case RUDP_CONN_STATE_CLOSED:
    break;
  case RUDP_CONN_STATE_DRAINING:
    if (now >= conn->close_deadline) {
      conn_enter_closed(conn);
    }
    break;
  case RUDP_CONN_STATE_CLOSING:
    if (now >= conn->close_deadline &&
        ((conn->flags & RUDP_CONN_FLAG_CLOSE_ACKED) ||
         conn->close_sends >= RUDP_CONN_CLOSE_MAX_SENDS)) {
      conn_enter_closed(conn);
    } else if (now >= conn->close_next_ts &&
               !(conn->flags & RUDP_CONN_FLAG_CLOSE_ACKED)) {
      conn->ctrl |= RUDP_CONN_CTRL_CLOSE;
    }
    break;
  default:
    idle = conn->state >= RUDP_CONN_STATE_ESTABLISHED ? conn_idle_timeout(conn)
                                                      : 0;
    if (idle && now >= conn->idle_start_ts + idle) {
      conn_close_silently(conn, RUDP_ERR_IDLE_CLOSE);
      break;
    }
    if (now >= conn_handshake_deadline(conn)) {
      conn_close_silently(conn, RUDP_ERR_HANDSHAKE_TIMEOUT);
      break;
    }
    if (conn->state == RUDP_CONN_STATE_LINGER && now >= conn->linger_deadline) {
      /* Linger expired: close anyway. */
      conn_close_with(conn, 0, 0, RUDP_NO_ERROR, 0, "linger timeout", now);
      break;
    }
    if (now >= conn->loss_time) {
      conn_detect_lost(conn, now);
    }
    if (now >= conn_pto_deadline(conn)) {
      conn_on_pto(conn, now);
    }
    if (conn_keepalive_armed(conn) && now >= conn_keepalive_deadline(conn)) {
      conn->ctrl |= RUDP_CONN_CTRL_PING;
    }
    break;
  }
  return conn_leave(conn, 0);
}

/* ------------------------------------------------------------ streams API */

static int conn_can_use_streams(const rudp_conn *conn) {
  return conn->state <= RUDP_CONN_STATE_ESTABLISHED;
}

int rudp_conn_open_stream(rudp_conn *conn, int bidi, int64_t *pstream_id) {
  int k = bidi ? 0 : 1;
  uint64_t id;
  rudp_strm *strm;
  if (!pstream_id) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (!conn_can_use_streams(conn)) {
    return RUDP_ERR_INVALID_STATE;
  }
  if (conn->state < RUDP_CONN_STATE_ESTABLISHED ||
      conn->local_opened[k] >= conn->remote_max_streams[k]) {
    if (conn->state >= RUDP_CONN_STATE_ESTABLISHED) {
      conn->ctrl |= k == 0 ? RUDP_CONN_CTRL_STREAMS_BLOCKED_BIDI
                           : RUDP_CONN_CTRL_STREAMS_BLOCKED_UNI;
    }
    return RUDP_ERR_STREAM_LIMIT;
  }
  id = (conn->local_opened[k] << 2) | (bidi ? 0u : 2u) |
       (conn->server ? 1u : 0u);
  strm = strm_new(conn, id, conn->last_recv_ts);
  if (!strm) {
    return RUDP_ERR_NOMEM;
  }
  ++conn->local_opened[k];
  *pstream_id = (int64_t)id;
  conn_touch(conn);
  return 0;
}

/* conn_find_tx finds |id| for writing. */
static int conn_find_tx(rudp_conn *conn, int64_t id, rudp_strm **pstrm) {
  rudp_strm *strm;
  if (id < 0) {
    return RUDP_ERR_STREAM_NOT_FOUND;
  }
  strm = rudp_map_find(&conn->streams, (uint64_t)id);
  if (!strm || (strm->flags & RUDP_STRM_FLAG_CLOSED)) {
    return RUDP_ERR_STREAM_NOT_FOUND;
  }
  if (strm->flags & (RUDP_STRM_FLAG_NO_TX | RUDP_STRM_FLAG_TX_FIN |
                     RUDP_STRM_FLAG_TX_RESET)) {
    return RUDP_ERR_STREAM_STATE;
  }
  *pstrm = strm;
  return 0;
}

static void conn_strm_set_fin(rudp_conn *conn, rudp_strm *strm) {
  strm->flags |= RUDP_STRM_FLAG_TX_FIN;
  strm->tx_final = strm->tx.written;
  /* Nothing more can be written: no need to wake it. */
  rudp_strm_waitq_remove(&conn->txwait, strm);
  sendq_push(conn, strm);
}

uint64_t rudp_conn_get_send_buffer_room(const rudp_conn *conn) {
  return txbuf_room(conn);
}

rudp_ssize rudp_conn_stream_write(rudp_conn *conn, int64_t stream_id,
                                  const uint8_t *data, size_t len, int fin) {
  rudp_strm *strm;
  uint64_t room, held, conn_room;
  size_t n = len;
  int rv;

  if (!data && len) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (!conn_can_use_streams(conn)) {
    return RUDP_ERR_INVALID_STATE;
  }
  rv = conn_find_tx(conn, stream_id, &strm);
  if (rv != 0) {
    return rv;
  }
  held = rudp_sbuf_unacked(&strm->tx);
  room = held >= conn->settings.max_stream_send_buffer
             ? 0
             : conn->settings.max_stream_send_buffer - held;
  conn_room = txbuf_room(conn);
  if (n > room) {
    n = (size_t)room;
  }
  if (n > conn_room) {
    n = (size_t)conn_room;
  }
  if (n < len) {
    /* Held back: by the connection's bound if it is the tighter one (the
     * stream then waits in the connection's queue), else by the stream's
     * own (its acknowledgements wake it: it holds data). */
    strm->flags |= RUDP_STRM_FLAG_TX_WANT_WRITABLE;
    if (conn_room < room) {
      rudp_strm_waitq_push(&conn->txwait, strm);
    } else {
      rudp_strm_waitq_remove(&conn->txwait, strm);
    }
    if (n == 0) {
      return RUDP_ERR_WOULDBLOCK;
    }
  }
  if (n > 0) {
    rv = rudp_sbuf_write(&strm->tx, data, n);
    if (rv != 0) {
      return rv;
    }
    conn->tx_buffered += n;
    sendq_push(conn, strm);
  }
  if (n == len && fin) {
    conn_strm_set_fin(conn, strm);
  }
  conn_touch(conn);
  return (rudp_ssize)n;
}

int rudp_conn_stream_write_ref(rudp_conn *conn, int64_t stream_id,
                               const uint8_t *data, size_t len, void *ref,
                               int fin) {
  rudp_strm *strm;
  int rv;
  if (!data && len) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (!conn_can_use_streams(conn)) {
    return RUDP_ERR_INVALID_STATE;
  }
  rv = conn_find_tx(conn, stream_id, &strm);
  if (rv != 0) {
    return rv;
  }
  if (len > 0) {
    /* Whole or nothing (the release callback covers the whole buffer):
     * taken while the connection is below its bound, so that a buffer
     * larger than the bound still goes; the bound is passed by less than
     * one buffer. */
    if (txbuf_room(conn) == 0) {
      strm->flags |= RUDP_STRM_FLAG_TX_WANT_WRITABLE;
      rudp_strm_waitq_push(&conn->txwait, strm);
      return RUDP_ERR_WOULDBLOCK;
    }
    rv = rudp_sbuf_write_ref(&strm->tx, data, len, ref);
    if (rv != 0) {
      return rv;
    }
    conn->tx_buffered += len;
    sendq_push(conn, strm);
  }
  if (fin) {
    conn_strm_set_fin(conn, strm);
  }
  conn_touch(conn);
  return 0;
}

rudp_ssize rudp_conn_stream_read(rudp_conn *conn, int64_t stream_id,
                                 uint8_t *buf, size_t len, int *pfin) {
  rudp_strm *strm;
  size_t n;
  int dummy;
  if (!pfin) {
    pfin = &dummy;
  }
  *pfin = 0;
  if (stream_id < 0 || (!buf && len)) {
    return stream_id < 0 ? RUDP_ERR_STREAM_NOT_FOUND
                         : RUDP_ERR_INVALID_ARGUMENT;
  }
  strm = rudp_map_find(&conn->streams, (uint64_t)stream_id);
  if (!strm || (strm->flags & RUDP_STRM_FLAG_CLOSED)) {
    return RUDP_ERR_STREAM_NOT_FOUND;
  }
  if (strm->flags & (RUDP_STRM_FLAG_NO_RX | RUDP_STRM_FLAG_RX_RESET |
                     RUDP_STRM_FLAG_RX_STOPPED)) {
    return RUDP_ERR_STREAM_STATE;
  }
  conn_enter(conn);
  n = rudp_rob_read(&strm->rx, buf, len);
  if (strm->rx.cap > 0 && conn->rx_rings > 2 * conn->rx_fc.window) {
    rudp_rob_release(&strm->rx);
  }
  if (n > 0) {
    rudp_fc_rx_consume(&strm->rx_fc, n);
    rudp_fc_rx_consume(&conn->rx_fc, n);
    if (!(strm->flags & RUDP_STRM_FLAG_RX_FIN) &&
        rudp_fc_rx_should_update(&strm->rx_fc)) {
      ctrlq_push(conn, strm, RUDP_STRM_CTRL_MAX_STREAM_DATA);
    }
    if (rudp_fc_rx_should_update(&conn->rx_fc)) {
      conn->ctrl |= RUDP_CONN_CTRL_MAX_DATA;
    }
  }
  if ((strm->flags & RUDP_STRM_FLAG_RX_FIN) &&
      strm->rx.read_offset == strm->rx_final) {
    *pfin = 1;
    strm->flags |= RUDP_STRM_FLAG_RX_FIN_READ;
    strm_maybe_close(conn, strm);
  }
  if (n == 0 && !*pfin) {
    conn_leave(conn, 0);
    return RUDP_ERR_WOULDBLOCK;
  }
  conn_leave(conn, 0);
  conn_touch(conn);
  return (rudp_ssize)n;
}

int rudp_conn_stream_shutdown(rudp_conn *conn, int64_t stream_id) {
  rudp_strm *strm;
  int rv = conn_find_tx(conn, stream_id, &strm);
  if (rv != 0) {
    return rv;
  }
  conn_strm_set_fin(conn, strm);
  conn_touch(conn);
  return 0;
}

int rudp_conn_stream_reset(rudp_conn *conn, int64_t stream_id,
                           uint64_t app_error_code) {
  rudp_strm *strm;
  if (stream_id < 0 || app_error_code > RUDP_MAX_VARINT) {
    return stream_id < 0 ? RUDP_ERR_STREAM_NOT_FOUND
                         : RUDP_ERR_INVALID_ARGUMENT;
  }
  strm = rudp_map_find(&conn->streams, (uint64_t)stream_id);
  if (!strm || (strm->flags & RUDP_STRM_FLAG_CLOSED)) {
    return RUDP_ERR_STREAM_NOT_FOUND;
  }
  if (strm->flags & (RUDP_STRM_FLAG_NO_TX | RUDP_STRM_FLAG_TX_RESET)) {
    return RUDP_ERR_STREAM_STATE;
  }
  conn_enter(conn);
  conn_reset_strm(conn, strm, app_error_code);
  strm_maybe_close(conn, strm);
  conn_touch(conn);
  return conn_leave(conn, 0);
}

int rudp_conn_stream_stop_sending(rudp_conn *conn, int64_t stream_id,
                                  uint64_t app_error_code) {
  rudp_strm *strm;
  if (stream_id < 0 || app_error_code > RUDP_MAX_VARINT) {
    return stream_id < 0 ? RUDP_ERR_STREAM_NOT_FOUND
                         : RUDP_ERR_INVALID_ARGUMENT;
  }
  strm = rudp_map_find(&conn->streams, (uint64_t)stream_id);
  if (!strm || (strm->flags & RUDP_STRM_FLAG_CLOSED)) {
    return RUDP_ERR_STREAM_NOT_FOUND;
  }
  if (strm->flags & (RUDP_STRM_FLAG_NO_RX | RUDP_STRM_FLAG_RX_STOPPED |
                     RUDP_STRM_FLAG_RX_RESET | RUDP_STRM_FLAG_RX_FIN_READ)) {
    return RUDP_ERR_STREAM_STATE;
  }
  conn_enter(conn);
  strm->flags |= RUDP_STRM_FLAG_RX_STOPPED;
  strm->rx_stop_code = app_error_code;
  /* Buffered data will never be read: give its credit back. */
  rudp_rob_consume(&strm->rx, rudp_rob_readable(&strm->rx));
  conn_strm_discard_rx(conn, strm, strm->rx_fc.highest);
  ctrlq_push(conn, strm, RUDP_STRM_CTRL_STOP_SENDING);
  conn_touch(conn);
  return conn_leave(conn, 0);
}

int rudp_conn_stream_set_priority(rudp_conn *conn, int64_t stream_id,
                                  unsigned urgency, int incremental) {
  rudp_strm *strm;
  int queued;
  if (urgency > RUDP_URGENCY_MAX) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (stream_id < 0) {
    return RUDP_ERR_STREAM_NOT_FOUND;
  }
  strm = rudp_map_find(&conn->streams, (uint64_t)stream_id);
  if (!strm || (strm->flags & RUDP_STRM_FLAG_CLOSED)) {
    return RUDP_ERR_STREAM_NOT_FOUND;
  }
  if (strm->flags & RUDP_STRM_FLAG_NO_TX) {
    return RUDP_ERR_STREAM_STATE;
  }
  /* Out of the scheduler and back in at the new place (the tail of the
   * new urgency's round robin, or its heap). */
  queued = strm->in_sendq;
  sendq_remove(conn, strm);
  strm->urgency = (uint8_t)urgency;
  strm->incremental = incremental != 0;
  if (queued) {
    sendq_push(conn, strm);
  }
  return 0;
}

int rudp_conn_stream_get_priority(const rudp_conn *conn, int64_t stream_id,
                                  unsigned *purgency, int *pincremental) {
  const rudp_strm *strm;
  if (stream_id < 0) {
    return RUDP_ERR_STREAM_NOT_FOUND;
  }
  strm = rudp_map_find(&conn->streams, (uint64_t)stream_id);
  if (!strm || (strm->flags & RUDP_STRM_FLAG_CLOSED)) {
    return RUDP_ERR_STREAM_NOT_FOUND;
  }
  if (purgency) {
    *purgency = strm->urgency;
  }
  if (pincremental) {
    *pincremental = strm->incremental;
  }
  return 0;
}

/* ------------------------------------------------------------ datagrams */

int rudp_conn_set_datagram_urgency(rudp_conn *conn, unsigned urgency) {
  if (urgency > RUDP_URGENCY_MAX) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  conn->dgram_urgency = (uint8_t)urgency;
  if (conn->dgram_node.queued) {
    rudp_sched_remove_node(&conn->sched, &conn->dgram_node);
    rudp_sched_push_node(&conn->sched, &conn->dgram_node, urgency);
  }
  return 0;
}

/* conn_dgram_frame_limit is the most bytes a DATAGRAM frame (type, length,
 * data) may take: the peer's limit, and one short packet of the size
 * fixed at the handshake (pmtud.base) after its header (flags, DCID, a
 * 4-byte packet number) and its CRC or AEAD tag. */
static size_t conn_dgram_frame_limit(const rudp_conn *conn) {
  size_t over = 1 + conn->dcid.datalen + 4 +
                (conn->tls ? RUDP_AEAD_TAGLEN : RUDP_PKT_CRCLEN);
  size_t room = conn->pmtud.base > over ? conn->pmtud.base - over : 0;
  return rudp_min(conn->dgram_bufsize, room);
}

size_t rudp_conn_get_max_datagram_size(const rudp_conn *conn) {
  size_t limit, len;
  if (conn->state != RUDP_CONN_STATE_ESTABLISHED || conn->dgram_bufsize == 0) {
    return 0;
  }
  limit = conn_dgram_frame_limit(conn);
  if (limit < 2) {
    return 0;
  }
  /* The length varint shrinks as |len| does: at most 3 steps down. */
  len = limit - 2;
  while (len > 0 && len + 1 + rudp_varint_len(len) > limit) {
    --len;
  }
  return len;
}

int rudp_conn_send_datagram(rudp_conn *conn, const uint8_t *data, size_t len) {
  rudp_conn_dgram *d;
  size_t slot;
  if (!data && len) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (conn->state != RUDP_CONN_STATE_ESTABLISHED) {
    return RUDP_ERR_INVALID_STATE;
  }
  /* The frame (type + length varint + data) must fit one packet. */
  if (conn->dgram_bufsize == 0 ||
      len + 1 + rudp_varint_len(len) > conn_dgram_frame_limit(conn)) {
    return RUDP_ERR_DATAGRAM_TOO_LARGE;
  }
  if (conn->dgram_len == conn->dgram_cap) {
    /* Full: drop the oldest; fresh data matters more to real-time
     * senders than stale data. */
    conn->dgram_bytes -= conn->dgrams[conn->dgram_head].len;
    conn->dgram_head = (conn->dgram_head + 1) % conn->dgram_cap;
    --conn->dgram_len;
    ++conn->stats.datagrams_dropped;
  }
  slot = (conn->dgram_head + conn->dgram_len) % conn->dgram_cap;
  d = &conn->dgrams[slot];
  if (!d->buf) {
    d->buf = rudp_mem_malloc(conn->mem, conn->dgram_bufsize);
    if (!d->buf) {
      return RUDP_ERR_NOMEM;
    }
  }
  if (len) {
    memcpy(d->buf, data, len);
  }
  d->len = len;
  conn->dgram_bytes += len;
  ++conn->dgram_len;
  rudp_sched_push_node(&conn->sched, &conn->dgram_node, conn->dgram_urgency);
  conn_touch(conn);
  return 0;
}

/* ------------------------------------------------------------ closing API */

int rudp_conn_close(rudp_conn *conn, rudp_tstamp now) {
  if (conn->state >= RUDP_CONN_STATE_LINGER) {
    return RUDP_ERR_INVALID_STATE;
  }
  if (conn->state != RUDP_CONN_STATE_ESTABLISHED) {
    conn_close_with(conn, 0, 0, RUDP_NO_ERROR, 0, NULL, now);
    conn_touch(conn);
    return 0;
  }
  conn->state = RUDP_CONN_STATE_LINGER;
  conn->linger_deadline = now + conn->settings.linger_timeout;
  conn_touch(conn);
  return 0;
}

int rudp_conn_abort(rudp_conn *conn, uint64_t app_error_code,
                    const char *reason, rudp_tstamp now) {
  if (conn->state >= RUDP_CONN_STATE_CLOSING ||
      app_error_code > RUDP_MAX_VARINT) {
    return conn->state >= RUDP_CONN_STATE_CLOSING ? RUDP_ERR_INVALID_STATE
                                                  : RUDP_ERR_INVALID_ARGUMENT;
  }
  conn_close_with(conn, 0, 1, app_error_code, 0, reason, now);
  conn_touch(conn);
  return 0;
}
