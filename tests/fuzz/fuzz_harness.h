/*
 * The stateful fuzz harnesses: a client connection after a real handshake
 * (fuzz_conn.c) and a listening endpoint (fuzz_endpoint.c), and the same
 * in TLS mode (fuzz_tls_conn.c, fuzz_tls_endpoint.c; fuzz_tls.h).  All are
 * deterministic: fixed connection IDs, a seeded random source and a fake
 * clock, so the same input always takes the same path, and the corpus
 * generator (gen_corpus.c) can drive the very same code as a real peer and
 * record what it sent as replayable inputs.
 *
 * Input format of these targets (docs/TESTING.md): one setup byte (and a
 * TLS setup byte for the TLS targets), then records of a control byte, a
 * 2-byte big-endian length and that many bytes of datagram.  The control
 * byte picks the clock advance before the datagram, how the datagram is
 * prepared (raw, CRC recomputed or sealed, or wrapped into a packet), and
 * an application action after it.
 */
#ifndef FUZZ_HARNESS_H
#define FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <rudp/rudp.h>

#include "fuzz_common.h"

/* FUZZ_T0 is when every run starts (a whole second). */
#define FUZZ_T0 (1000 * RUDP_SECONDS)
/* FUZZ_BUFLEN holds any datagram plus a header the harness adds. */
#define FUZZ_BUFLEN (RUDP_MAX_UDP_PAYLOAD + 256)

/* ------------------------------------------------------------ client */

/* Setup byte of the conn target. */
/* The client writes 3000 bytes on a stream and a datagram right after the
 * handshake, so fuzzed ACKs have packets in flight to acknowledge. */
#define FUZZ_CONN_SETUP_INFLIGHT 0x01u
/* Both sides use NewReno instead of CUBIC. */
#define FUZZ_CONN_SETUP_RENO 0x02u
/* The client's receive windows and stream limits are small. */
#define FUZZ_CONN_SETUP_SMALL 0x04u
/* The client echoes stream data and datagrams back. */
#define FUZZ_CONN_SETUP_ECHO 0x08u
/* The next input byte N makes the N-th allocation after the handshake
 * fail (once). */
#define FUZZ_CONN_SETUP_NOMEM 0x10u
/* Short idle timeout (2 s) and keepalives (500 ms) on the client. */
#define FUZZ_CONN_SETUP_KEEPALIVE 0x20u
/* The client accepts no DATAGRAM frames. */
#define FUZZ_CONN_SETUP_NODGRAM 0x40u

/* Control byte of a conn record, bits 0-1: how the datagram is fed. */
/* As is.  In TLS mode the client must refuse it (a forgery): no packet
 * accepted, nothing delivered, a short packet for its connection ID
 * counted in pkts_bad_integrity. */
#define FUZZ_CONN_RAW 0u
/* Each packet's CRC recomputed (fuzz_reseal).  In TLS mode a short packet
 * is a header and plaintext payload instead, which the harness seals with
 * the server's keys (fuzz_tls_seal; the key phase bit asks for a key). */
#define FUZZ_CONN_RESEAL 1u
/* The bytes are the payload (frames) of a short packet the harness builds
 * for the client, with the next packet number in 4 bytes (and, in TLS
 * mode, the current key phase; sealed). */
#define FUZZ_CONN_WRAP 2u
/* The same with a 1-byte packet number (exercises expansion). */
#define FUZZ_CONN_WRAP1 3u
/* Bits 2-4: clock advance code (fuzz_time_step).  Bits 5-7: the client
 * application's action after the datagram: */
#define FUZZ_CONN_ACT_NONE 0u
#define FUZZ_CONN_ACT_WRITE 1u    /* 1000 bytes on its stream */
#define FUZZ_CONN_ACT_UNI 2u      /* a new uni stream: 300 bytes + FIN */
#define FUZZ_CONN_ACT_DGRAM 3u    /* a 64-byte datagram */
#define FUZZ_CONN_ACT_SHUTDOWN 4u /* FIN on its stream */
#define FUZZ_CONN_ACT_RESET 5u    /* RESET_STREAM on its stream */
#define FUZZ_CONN_ACT_STOP 6u     /* STOP_SENDING on server stream 1 */
#define FUZZ_CONN_ACT_CLOSE 7u    /* close (even length) or abort (odd) */

/* fuzz_conn_ctl builds a conn control byte. */
#define FUZZ_CONN_CTL(mode, tcode, act)                                        \
  ((uint8_t)((mode) | ((tcode) << 2) | ((act) << 5)))

/* fuzz_reset_token is the stateless reset token the server announces; a
 * datagram for another connection ID that ends in it resets the client. */
extern const uint8_t fuzz_reset_token[RUDP_STATELESS_RESET_TOKENLEN];

typedef struct fuzz_conn fuzz_conn;

/* fuzz_conn_out_cb receives each datagram the client sends. */
typedef void (*fuzz_conn_out_cb)(fuzz_conn *fc, const uint8_t *data,
                                 size_t len);

struct fuzz_conn {
  /* fm is the client's allocator (the one that may fail), sfm the
   * server's. */
  fuzz_mem fm, sfm;
  rudp_settings cs, ss;
  rudp_conn *client;
  /* server is the peer of the handshake; only the generator keeps it. */
  rudp_conn *server;
  rudp_tstamp now;
  uint8_t setup;
  /* dead: a fatal error (only after an injected allocation failure);
   * closed: the client's closed callback ran. */
  int dead;
  int closed;
  int established;
  /* app_stream is the client's own bidi stream (-1: none yet). */
  int64_t app_stream;
  /* echo_budget bounds what the client echoes (bytes). */
  size_t echo_budget;
  /* largest packet numbers seen in each side's output, to check it. */
  uint64_t client_out_pn, server_out_pn;
  /* TLS mode (fuzz_tls.h; NULL: plain): the contexts of both sides and
   * their key update intervals (0: the default), set before
   * fuzz_conn_init.  After the handshake |peer| holds the server's packet
   * protection: the harness seals what it feeds with it and opens what
   * the client sends. */
  struct rudp_tls_ctx *client_tls, *server_tls;
  uint64_t client_key_update, server_key_update;
  struct fuzz_tls_peer *peer;
  /* tls_setup: the TLS setup byte the above came from; with the setup
   * bits that change the client's handshake it names the server's flight
   * cached for the next inputs (fuzz_tls_flight).  recording: that flight
   * while the first real handshake records it, in round |round|. */
  uint8_t tls_setup;
  struct fuzz_tls_flight *recording;
  unsigned round;
  /* forged: a raw datagram is being read in TLS mode, which cannot
   * authenticate: no callback may run meanwhile. */
  int forged;
  /* out, if set, gets the client's datagrams after the handshake (the
   * generator's link to its server); observe, if set, sees every datagram
   * either side sends, the handshake's included. */
  fuzz_conn_out_cb out;
  void (*observe)(fuzz_conn *fc, int from_client, const uint8_t *data,
                  size_t len);
  void *arg;
  uint8_t buf[FUZZ_BUFLEN];
  uint8_t out_buf[FUZZ_BUFLEN];
};

/*
 * fuzz_conn_init runs the handshake between a client and a server
 * connection with fixed IDs at a fixed time, as |setup| (FUZZ_CONN_SETUP_*)
 * says; |nomem_at| is used with FUZZ_CONN_SETUP_NOMEM.  |keep_server| zero
 * deletes the server afterwards (the fuzz target plays the server).  |fc|
 * must be zeroed, with out/arg and the TLS fields set if wanted.
 */
void fuzz_conn_init(fuzz_conn *fc, uint8_t setup, uint8_t nomem_at,
                    int keep_server);

/* fuzz_conn_step processes one record. */
void fuzz_conn_step(fuzz_conn *fc, uint8_t ctl, const uint8_t *data,
                    size_t len);

/* fuzz_conn_pump sends what the client has to send now (to fc->out). */
void fuzz_conn_pump(fuzz_conn *fc);

/*
 * fuzz_conn_finish runs the client's timers until it closes (bounded),
 * deletes both connections and checks that all memory came back.
 */
void fuzz_conn_finish(fuzz_conn *fc);

/* ------------------------------------------------------------ endpoint */

/* Setup byte of the endpoint target, bits 0-1: retry mode. */
#define FUZZ_EP_SETUP_RETRY_MASK 0x03u /* AUTO, ALWAYS, NEVER, AUTO */
/* Small limits: 3 connections, 2 half-open, backlog 1, RETRY above 1. */
#define FUZZ_EP_SETUP_SMALL 0x04u
/* Accepted connections are not taken from the accept queue. */
#define FUZZ_EP_SETUP_NOACCEPT 0x08u
/* The next input byte N makes the N-th allocation after setup fail. */
#define FUZZ_EP_SETUP_NOMEM 0x10u
/* Server connections do not echo. */
#define FUZZ_EP_SETUP_NOECHO 0x20u
/* One stateless reset per second at most. */
#define FUZZ_EP_SETUP_RESET_RATE 0x40u
/* 20-byte connection IDs instead of 8. */
#define FUZZ_EP_SETUP_CID20 0x80u

/* Control byte of an endpoint record: bits 0-1 the source address (0 and
 * 1 share an IPv4 address, 2 is another IPv4 address, 3 is IPv6), bit 2
 * recomputes the CRCs (fuzz_reseal), bits 3-5 the clock advance code,
 * bits 6-7 an action: */
#define FUZZ_EP_ACT_NONE 0u
#define FUZZ_EP_ACT_UNREACHABLE 1u /* ICMP unreachable for the source */
#define FUZZ_EP_ACT_WRITE 2u       /* accepted conns open a stream, write */
#define FUZZ_EP_ACT_CLOSE 3u       /* the oldest accepted conn closes */
#define FUZZ_EP_RESEAL 4u

#define FUZZ_EP_CTL(addr, reseal, tcode, act)                                  \
  ((uint8_t)((addr) | ((reseal) ? FUZZ_EP_RESEAL : 0) | ((tcode) << 3) |       \
             ((act) << 6)))

#define FUZZ_EP_NADDR 4
#define FUZZ_EP_MAXACCEPT 64

typedef struct fuzz_ep fuzz_ep;

/* fuzz_ep_out_cb receives each datagram the endpoint sends, with the index
 * of its destination address. */
typedef void (*fuzz_ep_out_cb)(fuzz_ep *fe, unsigned addr, const uint8_t *data,
                               size_t len);

struct fuzz_ep {
  fuzz_mem fm;
  fuzz_rng rng;
  rudp_endpoint_settings st;
  rudp_endpoint *ep;
  rudp_tstamp now;
  uint8_t setup;
  int dead;
  struct sockaddr_storage addr[FUZZ_EP_NADDR];
  socklen_t addrlen[FUZZ_EP_NADDR];
  /* heard has bit i set once address i sent something: the endpoint may
   * only send to those. */
  unsigned heard;
  /* accepted connections still alive, oldest first. */
  rudp_conn *accepted[FUZZ_EP_MAXACCEPT];
  size_t naccepted;
  size_t echo_budget;
  /* tls, if set before fuzz_ep_init, is the server's TLS context (TLS
   * mode: the reseal bit then fixes only long-header packets, as short
   * ones carry an AEAD tag instead of a CRC). */
  struct rudp_tls_ctx *tls;
  /* tls_setup: the TLS setup byte |tls| came from (fuzz_tls.h). */
  uint8_t tls_setup;
  fuzz_ep_out_cb out;
  void *arg;
  uint8_t buf[FUZZ_BUFLEN];
  uint8_t out_buf[FUZZ_BUFLEN];
};

/* fuzz_ep_init creates the listening endpoint as |setup| (FUZZ_EP_SETUP_*)
 * says.  |fe| must be zeroed, with out/arg set if wanted. */
void fuzz_ep_init(fuzz_ep *fe, uint8_t setup, uint8_t nomem_at);

/* fuzz_ep_step processes one record. */
void fuzz_ep_step(fuzz_ep *fe, uint8_t ctl, const uint8_t *data, size_t len);

/* fuzz_ep_finish runs the timers (bounded), deletes the endpoint and
 * checks that all memory came back. */
void fuzz_ep_finish(fuzz_ep *fe);

#endif /* FUZZ_HARNESS_H */
