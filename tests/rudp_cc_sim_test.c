/*
 * Congestion control on a simulated bottleneck: real connections
 * (lib/rudp_conn.c with NewReno or CUBIC, HyStart++ and the pacer) driven
 * through tests/sim/ over the classic dumbbell:
 *
 *   client --> drop-tail queue (250 KB) --> 50 Mbit/s --> 20 ms --> server
 *   client <---------------------------------------------- 20 ms <-- server
 *
 * RTT 40 ms, so the bandwidth-delay product is 50e6 / 8 * 0.04 = 250 KB and
 * the queue holds one BDP (the classic buffer-sizing rule), 172 datagrams
 * of 1452 bytes.  Each client sends one bulk stream; the server reads
 * everything as it arrives, so only the congestion controller limits the
 * flow (both sides grant at least 2 MiB of flow-control credit, 8 BDP).
 *
 * Everything runs in virtual time with fixed seeds: a run is a pure
 * function of its configuration.  The tests check:
 *
 *   - bulk: utilisation >= 90% and retransmitted packets < 3% of those sent
 *     over 20 s, for each algorithm.  Utilisation is goodput (stream bytes
 *     the receiving application read, in order) over the link's capacity
 *     in UDP payload bytes, so packet headers and frame overhead (about
 *     2%) count against it;
 *   - the window trace (cwnd sampled after every ACK or timer the sender
 *     processes): Reno halves at each congestion event and then grows by
 *     one datagram per RTT; CUBIC reduces to 0.7 W_max and returns along
 *     W_cubic(t) = C (t - K)^3 + W_max;
 *   - fairness: two flows of one algorithm sharing the bottleneck, the
 *     second starting 3 s after the first, each get within 20% of an equal
 *     share over the last 10 s of 30 (on average over five seeds: see
 *     check_fair); for CUBIC the second flow takes every loss for
 *     congestion (settings.loss_tolerant 0), as kernel TCP does;
 *   - loss tolerance (settings.loss_tolerant): with 1% random loss the
 *     flow still fills the link, where the standard response holds it to
 *     the Mathis limit, and keeps the queue short; behind a queue too
 *     short to raise the RTT the loss rate still brings it down; and a
 *     flow of small messages on a lossy 20 ms path (issue 10) keeps its
 *     window and its latency;
 *   - pacing: at the sender's output, before the bottleneck, no more than
 *     RUDP_PACER_BURST_PACKETS datagrams leave at one instant once slow
 *     start is over, even right after an idle period with a large window.
 *
 * Each scenario prints one summary line (the numbers quoted in
 * docs/PERFORMANCE.md).  RUDP_CC_SIM_TRACE=file writes the cwnd trace of
 * every run as "scenario flow t_ns cwnd ssthresh events srtt_ns
 * latest_rtt_ns bytes_in_flight" lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rudp/rudp.h>

#include "rudp_macro.h"
#include "rudp_pacer.h"
#include "rudp_pkt.h"
#include "sim/rudp_sim.h"
#include "rudp_test_helper.h"

#define MS RUDP_MILLISECONDS
#define SEC RUDP_SECONDS

/* The path.  LINK_RATE is in bit/s. */
#define LINK_RATE 50000000ULL
#define ONE_WAY_DELAY (20 * MS)
#define BDP_BYTES (LINK_RATE / 8 * 2 * ONE_WAY_DELAY / SEC) /* 250 KB */
#define QUEUE_BYTES BDP_BYTES
/* PAYLOAD is the datagram size the senders use. */
#define PAYLOAD 1452u
/* SER_TIME is one datagram's serialization time at the bottleneck. */
#define SER_TIME ((PAYLOAD * 8 * SEC + LINK_RATE - 1) / LINK_RATE)

/* SNAP is the period of the receiver's goodput snapshots. */
#define SNAP (100 * MS)
/* CHUNK is one application write or read. */
#define CHUNK 65536
/* CC_SIM_ERR stops a run on an unexpected error. */
#define CC_SIM_ERR (-9100)
/* RING_LEN is how many output times a flow remembers. */
#define RING_LEN 64
/* MAX_FLOWS is the most client/server pairs in one run. */
#define MAX_FLOWS 2
/* MSG_MAX is the largest message of a message run (cfg msg_len). */
#define MSG_MAX 1024

/* C is CUBIC's constant in segments per second cubed (RFC 9438 §5.1). */
#define CUBIC_C 0.4
/* CUBIC_BETA is CUBIC's multiplicative decrease (RFC 9438 §4.6). */
#define CUBIC_BETA 0.7

static const uint8_t zeros[CHUNK];
static uint8_t sink[CHUNK];

/* ------------------------------------------------------------ scenario */

/* cc_cfg describes a run completely. */
typedef struct cc_cfg {
  const char *name;
  uint64_t seed;
  rudp_cc_algo algo;
  /* nflows pairs share the bottleneck; flow i's client starts at
   * start[i] (relative to time 0). */
  size_t nflows;
  rudp_duration start[MAX_FLOWS];
  /* duration is the simulated time. */
  rudp_duration duration;
  /* Flow 0's application writes nothing in [pause_start, pause_end)
   * (both 0: never pauses). */
  rudp_duration pause_start;
  rudp_duration pause_end;
  /* send_buffer is the clients' max_stream_send_buffer (0: default). */
  uint64_t send_buffer;
  /* ack_jitter is the jitter of the return path (see rudp_sim_link_params:
   * it stretches gaps, never reorders). */
  rudp_duration ack_jitter;
  /* strict has bit i set if flow i's sender takes every loss for
   * congestion (settings.loss_tolerant 0; the default is 1). */
  unsigned strict;
  /* loss is the random loss (ppm) of each direction, on the wire after
   * the bottleneck queue. */
  uint32_t loss;
  /* queue is the bottleneck queue in bytes (0: QUEUE_BYTES, one BDP). */
  size_t queue;
  /* one_way is the one-way delay of each direction (0: ONE_WAY_DELAY). */
  rudp_duration one_way;
  /* msg_rate nonzero: flow 0's application sends msg_len-byte messages,
   * msg_rate per second, instead of a bulk stream (both ends with
   * rudp_settings_low_latency), and the receiver records each one's
   * latency. */
  uint32_t msg_rate;
  size_t msg_len;
} cc_cfg;

/* cc_sample is the sender's state after one event it processed. */
typedef struct cc_sample {
  rudp_tstamp t;
  uint64_t cwnd;
  uint64_t ssthresh;
  uint64_t events;
  rudp_duration srtt;
  rudp_duration latest_rtt;
  uint64_t inflight;
} cc_sample;

struct cc_run;
struct cc_flow;

/* cc_ep is one endpoint (a simulator node). */
typedef struct cc_ep {
  struct cc_run *run;
  struct cc_flow *fl;
  int server;
  rudp_conn *conn;
  rudp_settings settings;
} cc_ep;

/* cc_flow is one client (sender) / server (receiver) pair. */
typedef struct cc_flow {
  size_t idx;
  cc_ep ep[2];
  rudp_tstamp start;
  /* Sender application. */
  int established;
  int have_stream;
  int64_t sid;
  int blocked;
  uint64_t written;
  /* Receiver application: bytes read in order, and snap[k] the bytes
   * read before start + k * SNAP (nsnap filled so far). */
  uint64_t read;
  uint64_t *snap;
  size_t nsnap;
  size_t capsnap;
  /* The sender's window trace. */
  cc_sample *tr;
  size_t ntr;
  size_t captr;
  /* Sender output: datagrams written at the current instant (run), the
   * times of the last few (ring, for the count within SER_TIME), and the
   * maxima once slow start is over (and over the whole run). */
  rudp_tstamp last_wr;
  uint64_t run_len;
  rudp_tstamp ring[RING_LEN];
  size_t ringhead;
  size_t ringlen;
  uint64_t max_run;
  uint64_t max_run_all;
  uint64_t max_window;
  /* chain: datagrams each written less than SER_TIME after the previous
   * one; max_chain its maximum once slow start is over. */
  uint64_t chain;
  uint64_t max_chain;
  /* ss_exit is when the sender's ssthresh was first set. */
  rudp_tstamp ss_exit;
  /* Messages (cfg msg_rate): sent so far; on the receiver, the bytes of
   * the message being read (partial), and each delivered message's
   * latency (lat, nlat of caplat). */
  uint64_t msgs_sent;
  uint8_t partial[MSG_MAX];
  size_t npartial;
  rudp_duration *lat;
  size_t nlat;
  size_t caplat;
  /* min_cwnd is the sender's smallest window once established. */
  uint64_t min_cwnd;
  /* Final stats of the client and the server. */
  rudp_conn_stats st[2];
} cc_flow;

/* cc_run is one simulation. */
typedef struct cc_run {
  const cc_cfg *cfg;
  rudp_sim_net *net;
  cc_flow fl[MAX_FLOWS];
  rudp_callbacks cb;
  rudp_test_rng rng;
  rudp_tstamp now;
  int failed;
  char err[256];
  rudp_sim_link_stats fwd;
  rudp_sim_link_stats rev;
  int result;
  /* drops[k] counts the datagrams the bottleneck queue dropped before
   * k * SNAP (ndrops filled so far). */
  uint64_t *drops;
  size_t ndrops;
  size_t capdrops;
} cc_run;

static void run_fail(cc_run *r, const char *what, int rv) {
  if (!r->failed) {
    r->failed = 1;
    snprintf(r->err, sizeof(r->err), "%s: %d (%s)", what, rv,
             rudp_strerror(rv));
  }
}

static int grow(void **p, size_t *cap, size_t want, size_t elem) {
  size_t cap2;
  void *q;

  if (want <= *cap) {
    return 0;
  }
  cap2 = *cap ? *cap * 2 : 1024;
  while (cap2 < want) {
    cap2 *= 2;
  }
  q = realloc(*p, cap2 * elem);
  if (q == NULL) {
    return -1;
  }
  *p = q;
  *cap = cap2;
  return 0;
}

/* snap_upto records the bytes read before every snapshot instant up to
 * and including |now|. */
static int snap_upto(cc_flow *fl, rudp_tstamp now) {
  while (fl->start + fl->nsnap * SNAP <= now) {
    if (grow((void **)&fl->snap, &fl->capsnap, fl->nsnap + 1,
             sizeof(*fl->snap)) != 0) {
      return -1;
    }
    fl->snap[fl->nsnap++] = fl->read;
  }
  return 0;
}

/* run_tick records the queue drops before every snapshot instant up to
 * |now|. */
static int run_tick(cc_run *r, rudp_tstamp now) {
  r->now = now;
  while (r->ndrops * SNAP <= now) {
    if (grow((void **)&r->drops, &r->capdrops, r->ndrops + 1,
             sizeof(*r->drops)) != 0) {
      return -1;
    }
    r->drops[r->ndrops++] = r->net->link[0].stats.dropped_queue;
  }
  return 0;
}

/* drops_between returns the queue drops in [from, to) (multiples of
 * SNAP). */
static uint64_t drops_between(const cc_run *r, rudp_tstamp from,
                              rudp_tstamp to) {
  size_t a = (size_t)(from / SNAP), b = (size_t)(to / SNAP);

  if (b >= r->ndrops || a > b) {
    return UINT64_MAX;
  }
  return r->drops[b] - r->drops[a];
}

/* goodput returns the bytes |fl| delivered in order in [from, to)
 * (absolute times; their distance from the flow's start must be
 * multiples of SNAP). */
static uint64_t goodput(const cc_flow *fl, rudp_tstamp from, rudp_tstamp to) {
  size_t a, b;

  if (from < fl->start || to < from) {
    return 0;
  }
  a = (size_t)((from - fl->start) / SNAP);
  b = (size_t)((to - fl->start) / SNAP);
  if (b >= fl->nsnap) {
    return 0;
  }
  return fl->snap[b] - fl->snap[a];
}

/* ------------------------------------------------------------ callbacks */

static int cb_handshake_completed(rudp_conn *conn, void *user_data) {
  cc_ep *ep = user_data;
  (void)conn;
  ep->fl->established = 1;
  return 0;
}

/* msg_parse takes |n| bytes the receiver of flow |fl| read into its
 * messages: each message starts with the 8-byte time (little-endian ns)
 * the sender's application generated it; its latency is now minus that. */
static int msg_parse(cc_flow *fl, const uint8_t *data, size_t n, size_t msg_len,
                     rudp_tstamp now) {
  size_t take;
  uint64_t ts;
  int i;

  while (n > 0) {
    take = rudp_min(n, msg_len - fl->npartial);
    memcpy(fl->partial + fl->npartial, data, take);
    fl->npartial += take;
    data += take;
    n -= take;
    if (fl->npartial < msg_len) {
      break;
    }
    fl->npartial = 0;
    for (ts = 0, i = 7; i >= 0; --i) {
      ts = ts << 8 | fl->partial[i];
    }
    if (grow((void **)&fl->lat, &fl->caplat, fl->nlat + 1, sizeof(*fl->lat)) !=
        0) {
      return -1;
    }
    fl->lat[fl->nlat++] = now - ts;
  }
  return 0;
}

static int cb_stream_readable(rudp_conn *conn, int64_t sid, void *user_data) {
  cc_ep *ep = user_data;
  cc_flow *fl = ep->fl;
  const cc_cfg *c = ep->run->cfg;
  rudp_ssize n;
  int fin;

  if (!ep->server) {
    return 0;
  }
  if (snap_upto(fl, ep->run->now) != 0) {
    return RUDP_ERR_CALLBACK_FAILURE;
  }
  for (;;) {
    n = rudp_conn_stream_read(conn, sid, sink, sizeof(sink), &fin);
    if (n == RUDP_ERR_WOULDBLOCK || n == 0) {
      return 0;
    }
    if (n < 0) {
      run_fail(ep->run, "server: stream_read", (int)n);
      return RUDP_ERR_CALLBACK_FAILURE;
    }
    fl->read += (uint64_t)n;
    if (c->msg_rate && fl->idx == 0 &&
        msg_parse(fl, sink, (size_t)n, c->msg_len, ep->run->now) != 0) {
      run_fail(ep->run, "out of memory", RUDP_ERR_NOMEM);
      return RUDP_ERR_CALLBACK_FAILURE;
    }
  }
}

static int cb_stream_writable(rudp_conn *conn, int64_t sid, void *user_data) {
  cc_ep *ep = user_data;
  (void)conn;
  if (!ep->server && ep->fl->have_stream && sid == ep->fl->sid) {
    ep->fl->blocked = 0;
  }
  return 0;
}

/* ------------------------------------------------------------ nodes */

/* app_active says whether flow |fl|'s sender application writes at
 * |now|. */
static int app_active(const cc_ep *ep, rudp_tstamp now) {
  const cc_cfg *c = ep->run->cfg;
  return ep->fl->idx != 0 || c->pause_end == 0 || now < c->pause_start ||
         now >= c->pause_end;
}

/* msg_due returns when flow |fl|'s message |k| is due: message k at
 * k / msg_rate seconds after the handshake's first chance to send (the
 * flow's start plus MSG_START). */
#define MSG_START (1 * SEC)
static rudp_tstamp msg_due(const cc_cfg *c, const cc_flow *fl, uint64_t k) {
  return fl->start + MSG_START + k * SEC / c->msg_rate;
}

/* msg_write writes the messages due by |now|, each at once (a game's
 * state update or a sensor reading: not held back for the next). */
static int msg_write(cc_ep *ep, rudp_tstamp now) {
  const cc_cfg *c = ep->run->cfg;
  cc_flow *fl = ep->fl;
  uint8_t msg[MSG_MAX];
  rudp_tstamp due;
  rudp_ssize n;
  int i;

  memset(msg, 0, sizeof(msg));
  while ((due = msg_due(c, fl, fl->msgs_sent)) <= now) {
    for (i = 0; i < 8; ++i) {
      msg[i] = (uint8_t)(due >> (8 * i));
    }
    n = rudp_conn_stream_write(ep->conn, fl->sid, msg, c->msg_len, 0);
    if (n != (rudp_ssize)c->msg_len) {
      run_fail(ep->run, "client: message write", n < 0 ? (int)n : CC_SIM_ERR);
      return CC_SIM_ERR;
    }
    fl->written += (uint64_t)n;
    ++fl->msgs_sent;
  }
  return 0;
}

/* app_write keeps the sender's stream buffer full, or writes the
 * messages due. */
static int app_write(cc_ep *ep, rudp_tstamp now) {
  cc_flow *fl = ep->fl;
  rudp_ssize n;
  int rv;

  if (!fl->established || !app_active(ep, now)) {
    return 0;
  }
  if (!fl->have_stream) {
    rv = rudp_conn_open_stream(ep->conn, 0, &fl->sid);
    if (rv == RUDP_ERR_STREAM_LIMIT) {
      return 0;
    }
    if (rv != 0) {
      run_fail(ep->run, "client: open_stream", rv);
      return CC_SIM_ERR;
    }
    fl->have_stream = 1;
  }
  if (ep->run->cfg->msg_rate && fl->idx == 0) {
    return msg_write(ep, now);
  }
  while (!fl->blocked) {
    n = rudp_conn_stream_write(ep->conn, fl->sid, zeros, sizeof(zeros), 0);
    if (n == RUDP_ERR_WOULDBLOCK) {
      fl->blocked = 1;
      break;
    }
    if (n < 0) {
      run_fail(ep->run, "client: stream_write", (int)n);
      return CC_SIM_ERR;
    }
    fl->written += (uint64_t)n;
    if ((size_t)n < sizeof(zeros)) {
      fl->blocked = 1;
    }
  }
  return 0;
}

/* sample appends the sender's state to the trace. */
static int sample(cc_ep *ep, rudp_tstamp now) {
  cc_flow *fl = ep->fl;
  rudp_conn_stats st;
  cc_sample *s;

  rudp_conn_get_stats(ep->conn, &st);
  if (grow((void **)&fl->tr, &fl->captr, fl->ntr + 1, sizeof(*fl->tr)) != 0) {
    return -1;
  }
  s = &fl->tr[fl->ntr++];
  s->t = now;
  s->cwnd = st.cwnd;
  s->ssthresh = st.ssthresh;
  s->events = st.congestion_events;
  s->srtt = st.srtt;
  s->latest_rtt = st.latest_rtt;
  s->inflight = st.bytes_in_flight;
  if (fl->ss_exit == RUDP_TSTAMP_MAX && st.ssthresh != UINT64_MAX) {
    fl->ss_exit = now;
  }
  if (fl->established && st.cwnd < fl->min_cwnd) {
    fl->min_cwnd = st.cwnd;
  }
  return 0;
}

/* note_output measures the bursts at the sender's output. */
static void note_output(cc_flow *fl, rudp_tstamp now) {
  size_t i, n;

  fl->chain =
      (fl->run_len > 0 && now < fl->last_wr + SER_TIME) ? fl->chain + 1 : 1;
  fl->run_len = (fl->run_len > 0 && now == fl->last_wr) ? fl->run_len + 1 : 1;
  fl->last_wr = now;
  fl->ring[(fl->ringhead + fl->ringlen) % RING_LEN] = now;
  if (fl->ringlen < RING_LEN) {
    ++fl->ringlen;
  } else {
    fl->ringhead = (fl->ringhead + 1) % RING_LEN;
  }
  /* Datagrams written less than one serialization time ago, this one
   * included. */
  for (n = 0, i = fl->ringlen; i > 0; --i, ++n) {
    if (fl->ring[(fl->ringhead + i - 1) % RING_LEN] + SER_TIME <= now) {
      break;
    }
  }
  if (fl->run_len > fl->max_run_all) {
    fl->max_run_all = fl->run_len;
  }
  if (fl->ss_exit != RUDP_TSTAMP_MAX) {
    if (fl->run_len > fl->max_run) {
      fl->max_run = fl->run_len;
    }
    if (n > fl->max_window) {
      fl->max_window = n;
    }
    if (fl->chain > fl->max_chain) {
      fl->max_chain = fl->chain;
    }
  }
}

static rudp_ssize node_write(void *node, uint8_t *buf, size_t buflen,
                             uint64_t *ptag, rudp_tstamp now) {
  cc_ep *ep = node;
  rudp_ssize n;

  (void)ptag;
  if (run_tick(ep->run, now) != 0) {
    run_fail(ep->run, "out of memory", RUDP_ERR_NOMEM);
  }
  if (ep->run->failed) {
    return CC_SIM_ERR;
  }
  if (ep->conn == NULL) {
    return 0;
  }
  if (!ep->server && app_write(ep, now) != 0) {
    return CC_SIM_ERR;
  }
  n = rudp_conn_write_pkt(ep->conn, buf, buflen, now);
  if (n < 0) {
    run_fail(ep->run, ep->server ? "server: write_pkt" : "client: write_pkt",
             (int)n);
    return CC_SIM_ERR;
  }
  if (n > 0 && !ep->server) {
    note_output(ep->fl, now);
  }
  return n;
}

/* server_accept creates the server's connection for a CONNECT. */
static int server_accept(cc_ep *ep, const uint8_t *data, size_t len,
                         rudp_tstamp now) {
  rudp_pkt_hd hd;
  rudp_cid scid;
  uint8_t id[RUDP_DEFAULT_CIDLEN];
  rudp_ssize n;
  int rv;

  n = rudp_pkt_decode_hd(&hd, data, len, RUDP_DEFAULT_CIDLEN);
  if (n < 0 || hd.type != RUDP_PKT_CONNECT) {
    return 0;
  }
  rudp_test_rng_fill(&ep->run->rng, id, sizeof(id));
  rudp_cid_init(&scid, id, sizeof(id));
  rv = rudp_conn_server_new(&ep->conn, &hd.scid, &hd.dcid, &scid, &ep->settings,
                            &ep->run->cb, NULL, ep, now);
  if (rv != 0) {
    run_fail(ep->run, "server_new", rv);
    return CC_SIM_ERR;
  }
  return 1;
}

static int node_read(void *node, const uint8_t *data, size_t len,
                     const rudp_sim_delivery *d, rudp_tstamp now) {
  cc_ep *ep = node;
  int rv;

  (void)d;
  if (run_tick(ep->run, now) != 0) {
    run_fail(ep->run, "out of memory", RUDP_ERR_NOMEM);
  }
  if (ep->run->failed) {
    return CC_SIM_ERR;
  }
  if (ep->conn == NULL) {
    if (!ep->server) {
      return 0;
    }
    rv = server_accept(ep, data, len, now);
    if (rv <= 0) {
      return rv;
    }
  }
  rv = rudp_conn_read_pkt(ep->conn, data, len, now);
  if (rv != 0) {
    run_fail(ep->run, ep->server ? "server: read_pkt" : "client: read_pkt", rv);
    return CC_SIM_ERR;
  }
  if (!ep->server && sample(ep, now) != 0) {
    run_fail(ep->run, "out of memory", RUDP_ERR_NOMEM);
    return CC_SIM_ERR;
  }
  return ep->run->failed ? CC_SIM_ERR : 0;
}

static rudp_tstamp node_expiry(void *node) {
  cc_ep *ep = node;
  const cc_cfg *c = ep->run->cfg;
  rudp_tstamp t;

  if (ep->conn == NULL) {
    return ep->server ? RUDP_TSTAMP_MAX : ep->fl->start;
  }
  t = rudp_conn_get_expiry(ep->conn);
  /* The message application wakes up for its next message. */
  if (!ep->server && c->msg_rate && ep->fl->idx == 0) {
    t = rudp_min(t, msg_due(c, ep->fl, ep->fl->msgs_sent));
  }
  /* The paused application wakes up to write again. */
  if (!ep->server && ep->fl->idx == 0 && c->pause_end != 0 &&
      ep->run->now < c->pause_end && c->pause_end < t) {
    t = c->pause_end;
  }
  return t;
}

/* client_start creates flow |ep|'s client connection. */
static int client_start(cc_ep *ep, rudp_tstamp now) {
  rudp_cid dcid, scid;
  uint8_t id[RUDP_DEFAULT_CIDLEN];
  int rv;

  rudp_test_rng_fill(&ep->run->rng, id, sizeof(id));
  rudp_cid_init(&dcid, id, sizeof(id));
  rudp_test_rng_fill(&ep->run->rng, id, sizeof(id));
  rudp_cid_init(&scid, id, sizeof(id));
  rv = rudp_conn_client_new(&ep->conn, &dcid, &scid, &ep->settings,
                            &ep->run->cb, NULL, ep, now);
  if (rv != 0) {
    run_fail(ep->run, "client_new", rv);
    return CC_SIM_ERR;
  }
  return 0;
}

static int node_handle_expiry(void *node, rudp_tstamp now) {
  cc_ep *ep = node;
  int rv;

  if (run_tick(ep->run, now) != 0) {
    run_fail(ep->run, "out of memory", RUDP_ERR_NOMEM);
  }
  if (ep->run->failed) {
    return CC_SIM_ERR;
  }
  if (ep->conn == NULL) {
    return ep->server ? 0 : client_start(ep, now);
  }
  if (now < rudp_conn_get_expiry(ep->conn)) {
    return 0; /* the application's timer: the write hook does the work */
  }
  rv = rudp_conn_handle_expiry(ep->conn, now);
  if (rv != 0) {
    run_fail(ep->run, ep->server ? "server: handle_expiry" : "client: expiry",
             rv);
    return CC_SIM_ERR;
  }
  if (!ep->server && sample(ep, now) != 0) {
    run_fail(ep->run, "out of memory", RUDP_ERR_NOMEM);
    return CC_SIM_ERR;
  }
  return 0;
}

static int node_done(void *node) {
  (void)node;
  return 0; /* bulk flows: the run ends at its time limit */
}

static const rudp_sim_node_ops node_ops = {node_write, node_read, node_expiry,
                                           node_handle_expiry, node_done};

/* ------------------------------------------------------------ running */

static void settings_for(rudp_settings *st, const cc_cfg *c, size_t flow,
                         int server) {
  rudp_settings_default(st);
  st->cc_algo = c->algo;
  if (!server && (c->strict & (1u << flow))) {
    st->loss_tolerant = 0;
  }
  if (c->msg_rate && flow == 0) {
    rudp_settings_low_latency(st);
  }
  st->tx_udp_payload_size = PAYLOAD;
  /* The path is defined in PAYLOAD-byte datagrams: no path MTU search
   * (the simulated link carries any size). */
  st->pmtud_max_udp_payload_size = 0;
  st->pmtud_max_udp_payload_size = 0; /* the model's packets: PAYLOAD */
  /* Flow control never limits: 2 MiB of credit (8 BDP) from the start. */
  st->initial_max_data = 2 * 1024 * 1024;
  st->initial_max_stream_data = 2 * 1024 * 1024;
  st->max_window = 24 * 1024 * 1024;
  st->max_stream_window = 16 * 1024 * 1024;
  st->idle_timeout = 120 * SEC;
  if (!server && c->send_buffer) {
    st->max_stream_send_buffer = c->send_buffer;
  }
}

static void trace_dump(const cc_run *r) {
  static FILE *f;
  static int opened;
  const char *path;
  size_t i, j;

  if (!opened) {
    opened = 1;
    path = getenv("RUDP_CC_SIM_TRACE");
    if (path != NULL && *path) {
      f = fopen(path, "w");
    }
  }
  if (f == NULL) {
    return;
  }
  for (i = 0; i < r->cfg->nflows; ++i) {
    for (j = 0; j < r->fl[i].ntr; ++j) {
      const cc_sample *s = &r->fl[i].tr[j];
      fprintf(f,
              "%s %zu %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
              " %" PRIu64 " %" PRIu64 "\n",
              r->cfg->name, i, s->t, s->cwnd,
              s->ssthresh == UINT64_MAX ? 0 : s->ssthresh, s->events, s->srtt,
              s->latest_rtt, s->inflight);
    }
  }
  fflush(f);
}

/* run_cfg runs scenario |c| into |r| (freed with run_free). */
static void run_cfg(const cc_cfg *c, cc_run *r) {
  rudp_sim_link_params fwd, rev;
  size_t i;
  int rv;

  memset(r, 0, sizeof(*r));
  r->cfg = c;
  rudp_test_rng_init(&r->rng, c->seed);
  r->cb.handshake_completed = cb_handshake_completed;
  r->cb.stream_readable = cb_stream_readable;
  r->cb.stream_writable = cb_stream_writable;

  memset(&fwd, 0, sizeof(fwd));
  fwd.delay = c->one_way ? c->one_way : ONE_WAY_DELAY;
  fwd.rate = LINK_RATE;
  fwd.queue_limit = c->queue ? c->queue : QUEUE_BYTES;
  fwd.loss = c->loss;
  memset(&rev, 0, sizeof(rev));
  rev.delay = fwd.delay;
  rev.jitter = c->ack_jitter;
  rev.loss = c->loss;

  r->net = calloc(1, sizeof(*r->net));
  if (r->net == NULL) {
    run_fail(r, "out of memory", RUDP_ERR_NOMEM);
    return;
  }
  rv = rudp_sim_net_init(r->net, &fwd, &rev, c->seed);
  if (rv != 0) {
    run_fail(r, "net_init", rv);
    free(r->net);
    r->net = NULL;
    return;
  }
  r->net->max_time = c->duration;
  r->net->max_events = UINT64_MAX;

  /* Clients are the even nodes and send through link 0 (the bottleneck);
   * servers are the odd ones and answer through link 1. */
  for (i = 0; i < c->nflows; ++i) {
    cc_flow *fl = &r->fl[i];
    int k;

    fl->idx = i;
    fl->start = c->start[i];
    fl->ss_exit = RUDP_TSTAMP_MAX;
    fl->min_cwnd = UINT64_MAX;
    for (k = 0; k < 2; ++k) {
      fl->ep[k].run = r;
      fl->ep[k].fl = fl;
      fl->ep[k].server = k;
      settings_for(&fl->ep[k].settings, c, i, k);
    }
    if (i == 0) {
      rudp_sim_net_set_node(r->net, 0, &node_ops, &fl->ep[0]);
      rudp_sim_net_set_node(r->net, 1, &node_ops, &fl->ep[1]);
    } else {
      rv = rudp_sim_net_add_node(r->net, &node_ops, &fl->ep[0], 0, 2 * i + 1);
      assert_int_equal((int)(2 * i), rv);
      rv = rudp_sim_net_add_node(r->net, &node_ops, &fl->ep[1], 1, 2 * i);
      assert_int_equal((int)(2 * i + 1), rv);
    }
  }

  r->result = rudp_sim_net_run(r->net);
  if (r->result != RUDP_SIM_TIME_LIMIT && !r->failed) {
    run_fail(r, rudp_sim_result_str(r->result), r->result);
  }
  if (run_tick(r, c->duration) != 0) {
    run_fail(r, "out of memory", RUDP_ERR_NOMEM);
  }
  r->fwd = r->net->link[0].stats;
  r->rev = r->net->link[1].stats;
  for (i = 0; i < c->nflows; ++i) {
    cc_flow *fl = &r->fl[i];
    int k;

    if (snap_upto(fl, c->duration) != 0) {
      run_fail(r, "out of memory", RUDP_ERR_NOMEM);
    }
    for (k = 0; k < 2; ++k) {
      if (fl->ep[k].conn) {
        rudp_conn_get_stats(fl->ep[k].conn, &fl->st[k]);
        rudp_conn_del(fl->ep[k].conn);
        fl->ep[k].conn = NULL;
      }
    }
  }
  rudp_sim_net_free(r->net);
  free(r->net);
  r->net = NULL;
  trace_dump(r);
}

static void run_free(cc_run *r) {
  size_t i;

  free(r->drops);
  for (i = 0; i < MAX_FLOWS; ++i) {
    free(r->fl[i].snap);
    free(r->fl[i].tr);
    free(r->fl[i].lat);
  }
}

/* ------------------------------------------------------------ analysis */

/* mbps converts |bytes| over |d| to Mbit/s. */
static double mbps(uint64_t bytes, rudp_duration d) {
  return (double)bytes * 8 / ((double)d / SEC) / 1e6;
}

/* link_bytes is what the bottleneck carries in |d| at full rate. */
static double link_bytes(rudp_duration d) {
  return (double)LINK_RATE / 8 * ((double)d / SEC);
}

/* cc_event is a window reduction seen in a trace: sample |i| is the first
 * after it. */
typedef struct cc_event {
  size_t i;
  rudp_tstamp t;
  uint64_t before;
  uint64_t after;
  uint64_t ssthresh;
  uint64_t count;
} cc_event;

#define MAX_EVENTS 256

/* find_events lists the congestion events of |fl|'s trace. */
static size_t find_events(const cc_flow *fl, cc_event *ev) {
  size_t i, n = 0;

  for (i = 1; i < fl->ntr && n < MAX_EVENTS; ++i) {
    if (fl->tr[i].events == fl->tr[i - 1].events) {
      continue;
    }
    ev[n].i = i;
    ev[n].t = fl->tr[i].t;
    ev[n].before = fl->tr[i - 1].cwnd;
    ev[n].after = fl->tr[i].cwnd;
    ev[n].ssthresh = fl->tr[i].ssthresh;
    ev[n].count = fl->tr[i].events - fl->tr[i - 1].events;
    ++n;
  }
  return n;
}

static void print_events(const char *name, const cc_flow *fl) {
  cc_event ev[MAX_EVENTS];
  size_t n = find_events(fl, ev), k;

  for (k = 0; k < n; ++k) {
    printf("#   %s event at %.3f s: cwnd %" PRIu64 " -> %" PRIu64
           " (ssthresh %" PRIu64 ", %.3f of before)\n",
           name, (double)ev[k].t / SEC, ev[k].before, ev[k].after,
           ev[k].ssthresh, (double)ev[k].ssthresh / (double)ev[k].before);
  }
}

/* summary prints the one-line report of a single-flow run and returns its
 * utilisation (goodput after the first second over the link rate). */
static double summary(const cc_run *r) {
  const cc_flow *fl = &r->fl[0];
  const rudp_conn_stats *st = &fl->st[0];
  rudp_duration d = r->cfg->duration;
  double util, util_all, retr;
  uint64_t peak = 0;
  size_t j;

  for (j = 0; j < fl->ntr && fl->tr[j].t <= fl->ss_exit; ++j) {
    peak = rudp_max(peak, fl->tr[j].cwnd);
  }
  util = (double)goodput(fl, 1 * SEC, d) / link_bytes(d - 1 * SEC);
  util_all = (double)goodput(fl, 0, d) / link_bytes(d);
  retr = st->pkts_sent ? (double)st->pkts_retransmitted / st->pkts_sent : 0;
  printf("# cc_sim %-12s: goodput %.2f Mbit/s, utilisation %.1f%% (1-%.0f "
         "s; %.1f%% over 0-%.0f s), retransmitted %.2f%% (%" PRIu64
         " of %" PRIu64 " pkts), lost %" PRIu64 ", queue drops %" PRIu64
         " (%" PRIu64 " in the first second), congestion events %" PRIu64
         ", slow start exit %.3f s at cwnd %.2f BDP, max burst %" PRIu64
         " (%" PRIu64 " within %" PRIu64 " us)\n",
         r->cfg->name, mbps(goodput(fl, 1 * SEC, d), d - 1 * SEC), util * 100,
         (double)d / SEC, util_all * 100, (double)d / SEC, retr * 100,
         st->pkts_retransmitted, st->pkts_sent, st->pkts_lost,
         r->fwd.dropped_queue, drops_between(r, 0, 1 * SEC),
         st->congestion_events,
         fl->ss_exit == RUDP_TSTAMP_MAX ? -1.0 : (double)fl->ss_exit / SEC,
         (double)peak / BDP_BYTES, fl->max_run, fl->max_window,
         (uint64_t)(SER_TIME / 1000));
  return util;
}

/*
 * reno_growth measures the congestion-avoidance epoch of |fl| after event
 * |k| (of |n| in |ev|): from the first sample whose window grew past the
 * reduced one (recovery is over: RFC 9002 §7.3.2 freezes the window for
 * one RTT) to the last sample before the next event.  It returns the
 * growth in datagrams and stores in |*rtts| the round trips that epoch
 * lasted, counted as the sum of dt / srtt over the samples (the RTT grows
 * with the queue, from 40 to 80 ms), and in |*secs| its length.
 */
static double reno_growth(const cc_flow *fl, const cc_event *ev, size_t n,
                          size_t k, double *rtts, double *secs) {
  size_t j0, j1, j;

  *rtts = 0;
  *secs = 0;
  j1 = k + 1 < n ? ev[k + 1].i - 1 : fl->ntr - 1;
  for (j0 = ev[k].i; j0 < j1 && fl->tr[j0].cwnd <= ev[k].after; ++j0) {
  }
  if (j0 >= j1) {
    return 0;
  }
  for (j = j0; j < j1; ++j) {
    *rtts += (double)(fl->tr[j + 1].t - fl->tr[j].t) / (double)fl->tr[j].srtt;
  }
  *secs = (double)(fl->tr[j1].t - fl->tr[j0].t) / SEC;
  return ((double)fl->tr[j1].cwnd - (double)fl->tr[j0].cwnd) / PAYLOAD;
}

/* cbrt_pos returns the cube root of |x| >= 0 (Newton; no libm). */
static double cbrt_pos(double x) {
  double y = x > 1 ? x / 3 : 1;
  int i;

  if (x <= 0) {
    return 0;
  }
  for (i = 0; i < 200; ++i) {
    y = (2 * y + x / (y * y)) / 3;
  }
  return y;
}

/* cubic_fit describes how one CUBIC epoch follows W_cubic. */
typedef struct cubic_fit {
  /* w_max and k: the curve (segments, seconds); t0 its origin. */
  double w_max;
  double k;
  rudp_tstamp t0;
  /* from and to: the section compared (absolute); nsamples in it. */
  rudp_tstamp from;
  rudp_tstamp to;
  size_t nsamples;
  /* max_err: the largest |cwnd - W_cubic(t)| in segments, and max_rel
   * the largest such error relative to W_cubic(t). */
  double max_err;
  double max_rel;
  /* at_k: the sampled window (segments) closest to t = K. */
  double at_k;
} cubic_fit;

/*
 * cubic_epoch compares the epoch that follows event |k| of |fl| with
 * RFC 9438's W_cubic(t) = C (t - K)^3 + W_max (§4.2), in segments of
 * PAYLOAD bytes, C = 0.4, with K = cbrt((W_max - cwnd_epoch) / C) (§4.2,
 * cwnd_epoch the window the epoch starts with) and W_max the window before
 * the reduction, or (1 + beta) / 2 of it when it is below the previous
 * W_max (fast convergence, §4.7), |*prev_wmax| tracking that across
 * events.  The curve's origin t0 is the first ACK of the epoch, i.e. the
 * first sample whose window grew: the epoch starts when the recovery
 * period ends (§4.2: t is the time since the current congestion avoidance
 * stage started).  The comparison starts 2 RTTs into the epoch (cwnd
 * follows the target W_cubic(t + RTT) from below, one ACK at a time, so
 * it needs about one RTT to catch up after the reduction) and ends
 * |stop_after| seconds past t0 + K or at the next event.
 */
static int cubic_epoch(const cc_flow *fl, const cc_event *ev, size_t n,
                       size_t k, double *prev_wmax, double stop_after,
                       cubic_fit *fit) {
  size_t j0, j1, j, best = 0;
  double before = (double)ev[k].before / PAYLOAD, epoch0, t, w, err, dk;
  double best_dk = 1e9;
  rudp_tstamp stop;

  memset(fit, 0, sizeof(*fit));
  fit->w_max = before < *prev_wmax ? before * (1 + CUBIC_BETA) / 2 : before;
  *prev_wmax = fit->w_max;
  epoch0 = (double)ev[k].after / PAYLOAD;
  fit->k = cbrt_pos((fit->w_max - epoch0) / CUBIC_C);
  j1 = k + 1 < n ? ev[k + 1].i - 1 : fl->ntr - 1;
  for (j0 = ev[k].i; j0 < j1 && fl->tr[j0].cwnd <= ev[k].after; ++j0) {
  }
  if (j0 >= j1) {
    return -1;
  }
  fit->t0 = fl->tr[j0].t;
  fit->from = fit->t0 + 2 * fl->tr[j0].srtt;
  stop = fit->t0 + (rudp_duration)((fit->k + stop_after) * SEC);
  fit->to = rudp_min(stop, fl->tr[j1].t);
  for (j = j0; j <= j1 && fl->tr[j].t <= fit->to; ++j) {
    if (fl->tr[j].t < fit->from) {
      continue;
    }
    t = (double)(fl->tr[j].t - fit->t0) / SEC;
    w = CUBIC_C * (t - fit->k) * (t - fit->k) * (t - fit->k) + fit->w_max;
    err = (double)fl->tr[j].cwnd / PAYLOAD - w;
    if (err < 0) {
      err = -err;
    }
    if (err > fit->max_err) {
      fit->max_err = err;
    }
    if (err / w > fit->max_rel) {
      fit->max_rel = err / w;
    }
    dk = t > fit->k ? t - fit->k : fit->k - t;
    if (dk < best_dk) {
      best_dk = dk;
      best = j;
    }
    ++fit->nsamples;
  }
  if (fit->nsamples == 0) {
    return -1; /* the next event came before the section began */
  }
  fit->at_k = (double)fl->tr[best].cwnd / PAYLOAD;
  return 0;
}

/* ------------------------------------------------------------ scenarios */

static void base_cfg(cc_cfg *c, const char *name, rudp_cc_algo algo) {
  memset(c, 0, sizeof(*c));
  c->name = name;
  c->seed = 0xcc51;
  c->algo = algo;
  c->nflows = 1;
  c->duration = 20 * SEC;
}

/*
 * fair_cfg is two flows of |algo|, the second starting 3 s after the
 * first, for 30 s.  The return path has 1 ms of jitter: with perfectly
 * regular timing a deterministic simulator shows the phase effects of
 * drop-tail queues (Floyd and Jacobson, "On traffic phase effects in
 * packet-switched gateways", 1992), where the same flow's packet arrives
 * at the full queue every time; without jitter one flow took 11 of the
 * 15 losses of a run.  The jitter (a quarter of an RTT variation of a
 * real path at most) makes which flow overflows the queue depend on
 * |seed|, as on a real path.
 */
static void fair_cfg(cc_cfg *c, rudp_cc_algo algo, uint64_t seed) {
  base_cfg(c, algo == RUDP_CC_RENO ? "reno-fair" : "cubic-fair", algo);
  c->seed = seed;
  /* CUBIC's pair is one loss-tolerant flow (the default) and one that
   * takes every loss for congestion, as kernel TCP does: on a drop-tail
   * queue the two must share as two standard flows do. */
  if (algo == RUDP_CC_CUBIC) {
    c->strict = 2u;
  }
  c->nflows = 2;
  c->start[1] = 3 * SEC;
  c->duration = 30 * SEC;
  c->ack_jitter = 1 * MS;
  if (getenv("RUDP_CC_SIM_JITTER")) {
    c->ack_jitter = strtoull(getenv("RUDP_CC_SIM_JITTER"), NULL, 0);
  }
}

/* The scenarios; each runs once, the first time a test asks for it. */
enum {
  SCN_RENO_BULK,
  SCN_CUBIC_BULK,
  SCN_CUBIC_IDLE,
  SCN_CUBIC_RANDOM,
  SCN_CUBIC_RANDOM_STRICT,
  SCN_CUBIC_SHALLOW,
  SCN_CUBIC_SHALLOW_STRICT,
  SCN_MSG,
  SCN_MSG_STRICT,
  SCN_MAX
};

static cc_cfg scn_cfgs[SCN_MAX];
static cc_run scn_runs[SCN_MAX];
static int scn_done[SCN_MAX];

/* scenario returns the run of scenario |which|, running it if needed. */
static const cc_run *scenario(int which) {
  cc_cfg *c = &scn_cfgs[which];

  if (scn_done[which]) {
    return &scn_runs[which];
  }
  switch (which) {
  case SCN_RENO_BULK:
  case SCN_CUBIC_BULK:
    /* One bulk flow for 20 s. */
    base_cfg(c, which == SCN_RENO_BULK ? "reno-bulk" : "cubic-bulk",
             which == SCN_RENO_BULK ? RUDP_CC_RENO : RUDP_CC_CUBIC);
    break;
  case SCN_CUBIC_IDLE:
    /* A large window and nothing in flight: the application stops
     * writing at 3 s; its 1 MiB send buffer drains in 0.17 s and the
     * connection idles with the window it had (RFC 9002 does not shrink
     * it), until the application fills the buffer at once at 4 s. */
    base_cfg(c, "cubic-idle", RUDP_CC_CUBIC);
    c->duration = 6 * SEC;
    c->pause_start = 3 * SEC;
    c->pause_end = 4 * SEC;
    c->send_buffer = 1024 * 1024;
    break;
  case SCN_CUBIC_RANDOM:
  case SCN_CUBIC_RANDOM_STRICT:
    /* The bulk path with 1% random loss each way (data and ACKs), after
     * the queue: losses that come without a queue. */
    base_cfg(c, which == SCN_CUBIC_RANDOM ? "cubic-random" : "cubic-rnd-std",
             RUDP_CC_CUBIC);
    c->duration = 10 * SEC;
    c->loss = RUDP_SIM_PERCENT(1);
    c->strict = which == SCN_CUBIC_RANDOM_STRICT ? 1u : 0u;
    break;
  case SCN_CUBIC_SHALLOW:
  case SCN_CUBIC_SHALLOW_STRICT:
    /* A queue of 10 datagrams, 2.3 ms at 50 Mbit/s: too short to raise
     * the RTT by the loss filter's margin (40 ms / 16 = 2.5 ms), so only
     * the loss rate tells congestion. */
    base_cfg(c, which == SCN_CUBIC_SHALLOW ? "cubic-shallow" : "cubic-shl-std",
             RUDP_CC_CUBIC);
    c->duration = 10 * SEC;
    c->queue = 10 * PAYLOAD;
    c->strict = which == SCN_CUBIC_SHALLOW_STRICT ? 1u : 0u;
    break;
  case SCN_MSG:
  case SCN_MSG_STRICT:
    /* Issue 10's path: 20 ms RTT, 2% random loss each way; 1,000
     * messages of 200 bytes per second on one ordered stream, 10 s. */
    base_cfg(c, which == SCN_MSG ? "msg" : "msg-std", RUDP_CC_CUBIC);
    c->duration = MSG_START + 10 * SEC;
    c->one_way = 10 * MS;
    c->loss = RUDP_SIM_PERCENT(2);
    c->msg_rate = 1000;
    c->msg_len = 200;
    c->strict = which == SCN_MSG_STRICT ? 1u : 0u;
    break;
  default:
    break;
  }
  run_cfg(c, &scn_runs[which]);
  scn_done[which] = 1;
  return &scn_runs[which];
}

/* ------------------------------------------------------------ tests */

/* A minimal node for the shared-link test: a sender writes |n| datagrams
 * of 1000 bytes (first byte: its index) at time 0; a receiver echoes each
 * one back.  Both record when things arrive. */
typedef struct echo_node {
  int idx;
  int sender;
  size_t n;
  size_t sent;
  size_t pending;
  uint8_t last[1000];
  size_t got;
  rudp_tstamp at[8];
  size_t from[8];
} echo_node;

static rudp_ssize echo_write(void *node, uint8_t *buf, size_t buflen,
                             uint64_t *ptag, rudp_tstamp now) {
  echo_node *e = node;

  (void)buflen;
  (void)ptag;
  (void)now;
  if (e->sender && e->sent < e->n) {
    memset(buf, 0, 1000);
    buf[0] = (uint8_t)e->idx;
    ++e->sent;
    return 1000;
  }
  if (!e->sender && e->pending) {
    --e->pending;
    memcpy(buf, e->last, 1000);
    return 1000;
  }
  return 0;
}

static int echo_read(void *node, const uint8_t *data, size_t len,
                     const rudp_sim_delivery *d, rudp_tstamp now) {
  echo_node *e = node;

  assert_int_equal(1000, len);
  assert_int_equal(e->idx, d->to);
  if (e->got < 8) {
    e->at[e->got] = now;
    e->from[e->got] = data[0];
  }
  ++e->got;
  if (!e->sender) {
    memcpy(e->last, data, 1000);
    ++e->pending;
  }
  return 0;
}

static rudp_tstamp echo_expiry(void *node) {
  (void)node;
  return RUDP_TSTAMP_MAX;
}

static int echo_handle_expiry(void *node, rudp_tstamp now) {
  (void)node;
  (void)now;
  return 0;
}

static int echo_done(void *node) {
  echo_node *e = node;
  return !e->sender || e->got == e->n;
}

static const rudp_sim_node_ops echo_ops = {echo_write, echo_read, echo_expiry,
                                           echo_handle_expiry, echo_done};

static void test_rudp_cc_sim_shared_link(void **state) {
  rudp_sim_net *net = calloc(1, sizeof(*net));
  rudp_sim_link_params fwd, rev;
  echo_node e[4];
  size_t i;

  (void)state;
  assert_non_null(net);
  memset(&fwd, 0, sizeof(fwd));
  fwd.delay = 10 * MS;
  fwd.rate = 8000000; /* 1000 bytes per ms */
  memset(&rev, 0, sizeof(rev));
  rev.delay = 10 * MS;
  memset(e, 0, sizeof(e));
  for (i = 0; i < 4; ++i) {
    e[i].idx = (int)i;
    e[i].sender = i % 2 == 0;
    e[i].n = 3;
  }
  assert_int_equal(0, rudp_sim_net_init(net, &fwd, &rev, 7));
  rudp_sim_net_set_node(net, 0, &echo_ops, &e[0]);
  rudp_sim_net_set_node(net, 1, &echo_ops, &e[1]);
  /* Routes through a link that does not exist, or to no possible node,
   * are refused. */
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT,
                   rudp_sim_net_add_node(net, &echo_ops, &e[2], 2, 3));
  assert_int_equal(
      RUDP_ERR_INVALID_ARGUMENT,
      rudp_sim_net_add_node(net, &echo_ops, &e[2], 0, RUDP_SIM_NET_MAX_NODES));
  /* Node 2 shares the bottleneck (link 0) with node 0; node 3 answers on
   * a return link of its own. */
  assert_int_equal(2, rudp_sim_net_add_node(net, &echo_ops, &e[2], 0, 3));
  assert_int_equal(2, rudp_sim_net_add_link(net, &rev, 8, "rev2"));
  assert_int_equal(3, rudp_sim_net_add_node(net, &echo_ops, &e[3], 2, 2));
  assert_int_equal(RUDP_SIM_DONE, rudp_sim_net_run(net));
  /* Node 0 writes first, so its three datagrams take the bottleneck's
   * first three milliseconds and node 2's wait behind them: one queue
   * for both senders.  Each receiver gets only its own sender's. */
  for (i = 0; i < 3; ++i) {
    assert_int_equal(11 * MS + i * MS, e[1].at[i]);
    assert_int_equal(0, e[1].from[i]);
    assert_int_equal(14 * MS + i * MS, e[3].at[i]);
    assert_int_equal(2, e[3].from[i]);
    /* The echoes come back to the right sender. */
    assert_int_equal(21 * MS + i * MS, e[0].at[i]);
    assert_int_equal(0, e[0].from[i]);
    assert_int_equal(24 * MS + i * MS, e[2].at[i]);
    assert_int_equal(2, e[2].from[i]);
  }
  assert_int_equal(3, e[1].got);
  assert_int_equal(3, e[3].got);
  assert_int_equal(6, net->link[0].stats.delivered);
  assert_int_equal(3, net->link[1].stats.delivered);
  assert_int_equal(3, net->link[2].stats.delivered);
  rudp_sim_net_free(net);
  free(net);
}

/* check_bulk asserts a bulk run's utilisation and retransmissions. */
static void check_bulk(const cc_run *r) {
  const rudp_conn_stats *st = &r->fl[0].st[0];
  double util;

  if (r->failed) {
    fail_msg("%s: %s", r->cfg->name, r->err);
  }
  util = summary(r);
  /* The first second is slow start (the window doubles from 10 datagrams
   * to the 344 the path holds, about 6 RTTs plus the handshake, and its
   * overshoot is repaired), which no window algorithm avoids; utilisation
   * is measured over the remaining 19 s, the steady state the algorithm
   * is responsible for.  The 0-20 s figure is printed too. */
  if (util < 0.90) {
    fail_msg("%s: utilisation %.1f%% < 90%%", r->cfg->name, util * 100);
  }
  assert_true(st->pkts_sent > 50000);
  if (st->pkts_retransmitted * 100 >= st->pkts_sent * 3) {
    fail_msg("%s: %" PRIu64 " of %" PRIu64 " packets retransmitted (>= 3%%)",
             r->cfg->name, st->pkts_retransmitted, st->pkts_sent);
  }
  /* Slow start ended, and the queue overflowed at least once after
   * that: the run saw the algorithm's whole cycle. */
  assert_true(r->fl[0].ss_exit < 2 * SEC);
  assert_true(st->congestion_events >= 2);
}

static void test_rudp_cc_sim_reno_bulk(void **state) {
  (void)state;
  check_bulk(scenario(SCN_RENO_BULK));
}

static void test_rudp_cc_sim_cubic_bulk(void **state) {
  (void)state;
  check_bulk(scenario(SCN_CUBIC_BULK));
}

static void test_rudp_cc_sim_reno_window(void **state) {
  const cc_run *r = scenario(SCN_RENO_BULK);
  const cc_flow *fl = &r->fl[0];
  cc_event ev[MAX_EVENTS];
  size_t n, k, nepochs = 0;
  double rtts, secs, g;

  (void)state;
  if (r->failed) {
    fail_msg("%s", r->err);
  }
  n = find_events(fl, ev);
  print_events("reno", fl);
  assert_true(n >= 2);
  for (k = 0; k < n; ++k) {
    /* One reduction per event, to half the window (RFC 9002 §7.3.2,
     * kLossReductionFactor 0.5), the window set to ssthresh.  The sample
     * before the event may miss the growth of the ACK that carried it
     * (at most one datagram in congestion avoidance): one datagram of
     * tolerance. */
    assert_int_equal(1, ev[k].count);
    if (ev[k].ssthresh + PAYLOAD < ev[k].before / 2 ||
        ev[k].ssthresh > ev[k].before / 2 + PAYLOAD) {
      fail_msg("reno event %zu at %.3f s: cwnd %" PRIu64 " -> ssthresh %" PRIu64
               ", not half",
               k, (double)ev[k].t / SEC, ev[k].before, ev[k].ssthresh);
    }
    assert_int_equal(ev[k].after, rudp_max(ev[k].ssthresh, 2 * PAYLOAD));
    /* Between events: one datagram per RTT (§7.3.3).  srtt lags the RTT
     * as the queue fills and drains, so the count of RTTs is off by a few
     * percent; 15% tolerance over epochs of at least 20 RTTs. */
    g = reno_growth(fl, ev, n, k, &rtts, &secs);
    printf("#   reno epoch %zu: %.2f s, %.1f RTTs, +%.1f datagrams: %.3f per "
           "RTT\n",
           k, secs, rtts, g, rtts > 0 ? g / rtts : 0);
    if (rtts < 20) {
      continue;
    }
    ++nepochs;
    if (g / rtts < 0.85 || g / rtts > 1.15) {
      fail_msg("reno epoch %zu: %.3f datagrams per RTT", k, g / rtts);
    }
  }
  assert_true(nepochs >= 2);
}

static void test_rudp_cc_sim_cubic_window(void **state) {
  const cc_run *r = scenario(SCN_CUBIC_BULK);
  const cc_flow *fl = &r->fl[0];
  cc_event ev[MAX_EVENTS];
  cubic_fit fit;
  size_t n, k, checked = 0;
  double prev_wmax = 0;

  (void)state;
  if (r->failed) {
    fail_msg("%s", r->err);
  }
  n = find_events(fl, ev);
  print_events("cubic", fl);
  assert_true(n >= 2);
  for (k = 0; k < n; ++k) {
    /* Multiplicative decrease to beta = 0.7 (RFC 9438 §4.6), within one
     * datagram (the ACK that carried the loss may have grown the window
     * the sample before it shows). */
    assert_int_equal(1, ev[k].count);
    if ((double)ev[k].ssthresh + PAYLOAD < CUBIC_BETA * ev[k].before ||
        (double)ev[k].ssthresh > CUBIC_BETA * ev[k].before + PAYLOAD) {
      fail_msg("cubic event %zu at %.3f s: cwnd %" PRIu64
               " -> ssthresh %" PRIu64 " (%.3f), not 0.7",
               k, (double)ev[k].t / SEC, ev[k].before, ev[k].ssthresh,
               (double)ev[k].ssthresh / ev[k].before);
    }
    assert_int_equal(ev[k].after, rudp_max(ev[k].ssthresh, 2 * PAYLOAD));
    if (cubic_epoch(fl, ev, n, k, &prev_wmax, 0.5, &fit) != 0) {
      continue;
    }
    printf("#   cubic epoch %zu: W_max %.1f, K %.2f s, t0 %.3f s, compared "
           "%.3f-%.3f s (%zu samples): max error %.1f datagrams (%.1f%%), "
           "at K %.1f\n",
           k, fit.w_max, fit.k, (double)fit.t0 / SEC, (double)fit.from / SEC,
           (double)fit.to / SEC, fit.nsamples, fit.max_err, fit.max_rel * 100,
           fit.at_k);
    /* The slow-start exit's epoch starts from a window far above the
     * path's (the overshoot), so its loss is not CUBIC's own; compare the
     * epochs that follow losses in congestion avoidance, over at least
     * 1 s of curve. */
    if (k == 0 || fit.to < fit.from + 1 * SEC) {
      continue;
    }
    ++checked;
    /* 5% or 4 datagrams: cwnd is updated one ACK at a time towards
     * W_cubic(t + RTT), so it trails or leads the curve by up to one RTT
     * of its slope (at most 3 C K^2 * RTT = 2.5 datagrams for K = 3 s and
     * an 80 ms RTT), and t0 is only known to the ACK. */
    if (fit.max_err > 4 && fit.max_rel > 0.05) {
      fail_msg("cubic epoch %zu: cwnd strays %.1f datagrams (%.1f%%) from "
               "W_cubic",
               k, fit.max_err, fit.max_rel * 100);
    }
  }
  assert_true(checked >= 1);
}

/* FAIR_SEEDS is how many seeds each fairness test runs. */
#define FAIR_SEEDS 5

/*
 * check_fair runs two flows of |algo| sharing the bottleneck (fair_cfg)
 * and measures each one's goodput over the last 10 s against an equal
 * share (half of their sum).
 *
 * One run is not enough to judge: 10 s hold only about four losses per
 * flow, and which flow's datagram meets the full queue last decides the
 * split of that window.  Over 40 seeds the smaller flow got 90% (Reno)
 * and 89% (CUBIC) of an equal share on average, with no bias for the
 * first or the second flow (it was the smaller one in 19 and 17 of the
 * 40), but 3 and 4 of the 40 single runs fell below 80%.  So the test
 * runs seeds 1 to FAIR_SEEDS (not chosen) and asserts that on average
 * each flow gets within 20% of an equal share (the smaller one's share
 * averages at least 80%), and that no run starves a flow (below 60%).
 * RUDP_CC_SIM_SEED=n runs seed n alone.
 */
static void check_fair(rudp_cc_algo algo) {
  cc_cfg cfg;
  cc_run r;
  uint64_t ga, gb, seed, first = 1, last = FAIR_SEEDS;
  double share, jain, lo, sum = 0, worst = 2;
  char err[512] = "";

  if (getenv("RUDP_CC_SIM_SEED")) {
    first = last = strtoull(getenv("RUDP_CC_SIM_SEED"), NULL, 0);
  }
  for (seed = first; seed <= last; ++seed) {
    const cc_flow *a = &r.fl[0], *b = &r.fl[1];

    fair_cfg(&cfg, algo, seed);
    run_cfg(&cfg, &r);
    if (r.failed) {
      snprintf(err, sizeof(err), "%s seed %" PRIu64 ": %s", cfg.name, seed,
               r.err);
      run_free(&r);
      break;
    }
    ga = goodput(a, 20 * SEC, 30 * SEC);
    gb = goodput(b, 20 * SEC, 30 * SEC);
    share = ((double)ga + (double)gb) / 2;
    jain = ((double)ga + gb) * ((double)ga + gb) /
           (2 * ((double)ga * ga + (double)gb * gb));
    printf("# cc_sim %-12s: seed %" PRIu64 ", 20-30 s goodput %.2f + %.2f "
           "Mbit/s (%.1f%% and %.1f%% of an equal share; utilisation "
           "%.1f%%, Jain %.4f), retransmitted %.2f%% and %.2f%%, congestion "
           "events %" PRIu64 " and %" PRIu64 ", queue drops %" PRIu64 "\n",
           cfg.name, seed, mbps(ga, 10 * SEC), mbps(gb, 10 * SEC),
           share ? ga / share * 100 : 0, share ? gb / share * 100 : 0,
           ((double)ga + gb) / link_bytes(10 * SEC) * 100, jain,
           a->st[0].pkts_sent
               ? (double)a->st[0].pkts_retransmitted / a->st[0].pkts_sent * 100
               : 0,
           b->st[0].pkts_sent
               ? (double)b->st[0].pkts_retransmitted / b->st[0].pkts_sent * 100
               : 0,
           a->st[0].congestion_events, b->st[0].congestion_events,
           r.fwd.dropped_queue);
    lo = share > 0 ? (double)rudp_min(ga, gb) / share : 0;
    sum += lo;
    if (lo < worst) {
      worst = lo;
    }
    run_free(&r);
  }
  if (err[0]) {
    fail_msg("%s", err);
  }
  sum /= (double)(last - first + 1);
  printf("# cc_sim %-12s: smaller flow %.1f%% of an equal share on average "
         "over %" PRIu64 " seeds, %.1f%% at worst\n",
         algo == RUDP_CC_RENO ? "reno-fair" : "cubic-fair", sum * 100,
         last - first + 1, worst * 100);
  if (sum < 0.8) {
    fail_msg("the smaller flow gets %.1f%% of an equal share on average",
             sum * 100);
  }
  if (worst < 0.6) {
    fail_msg("a flow got only %.1f%% of an equal share", worst * 100);
  }
}

static void test_rudp_cc_sim_reno_fairness(void **state) {
  (void)state;
  check_fair(RUDP_CC_RENO);
}

static void test_rudp_cc_sim_cubic_fairness(void **state) {
  (void)state;
  check_fair(RUDP_CC_CUBIC);
}

/* check_bursts asserts |fl|'s output bursts after slow start. */
static void check_bursts(const char *name, const cc_flow *fl) {
  printf("# cc_sim %-12s: at most %" PRIu64 " datagrams at one instant "
         "after slow start (%" PRIu64 " in slow start), at most %" PRIu64
         " within one serialization time (%" PRIu64
         " us), chains of up to %" PRIu64
         " each less than that after the previous\n",
         name, fl->max_run, fl->max_run_all, fl->max_window,
         (uint64_t)(SER_TIME / 1000), fl->max_chain);
  assert_true(fl->ss_exit != RUDP_TSTAMP_MAX);
  if (fl->max_run > RUDP_PACER_BURST_PACKETS) {
    fail_msg("%s: %" PRIu64 " datagrams left at one instant (allowance %d)",
             name, fl->max_run, RUDP_PACER_BURST_PACKETS);
  }
  /* Within less than one serialization time the bucket sends what it
   * holds (the allowance) plus what it earns meanwhile: at 1.25 cwnd/srtt,
   * below 3 datagrams per serialization time even right after slow
   * start's overshoot (cwnd/srtt 1.3 times the link rate in these runs).
   * Chains of datagrams each less than a serialization time after the
   * previous one are not bounded, by design: pacing at 1.25 times the
   * delivery rate (RFC 9002 §7.7) spaces them 0.8 serialization times
   * apart, which the queue absorbs. */
  if (fl->max_window > RUDP_PACER_BURST_PACKETS + 3) {
    fail_msg("%s: %" PRIu64 " datagrams within %" PRIu64 " us", name,
             fl->max_window, (uint64_t)(SER_TIME / 1000));
  }
}

static void test_rudp_cc_sim_pacing(void **state) {
  const cc_run *r;

  (void)state;
  r = scenario(SCN_RENO_BULK);
  assert_false(r->failed);
  check_bursts("reno-bulk", &r->fl[0]);
  r = scenario(SCN_CUBIC_BULK);
  assert_false(r->failed);
  check_bursts("cubic-bulk", &r->fl[0]);

  /* The hard case: a window of 344 datagrams and nothing in flight when
   * the application writes again at 4 s (see scenario()).  Unpaced, the
   * whole window leaves in one instant (ACK clocking keeps the bulk runs
   * above smooth with or without pacing). */
  r = scenario(SCN_CUBIC_IDLE);
  if (r->failed) {
    fail_msg("%s", r->err);
  }
  summary(r);
  check_bursts("cubic-idle", &r->fl[0]);
  /* The application really idled (the sender had nothing left to send
   * well before 4 s) and then sent at full speed again. */
  assert_int_equal(0, goodput(&r->fl[0], 3500 * MS, 4 * SEC));
  assert_true(goodput(&r->fl[0], 4 * SEC, 6 * SEC) > 0.8 * link_bytes(2 * SEC));
  /* The restart itself does not overflow the queue.  Sent at once, a
   * window of W bytes would lose all but the 250 KB the queue holds (and
   * the little the link drains meanwhile): about 170 datagrams for the
   * 500 KB window of this run.  Paced, the window reaches the queue at
   * 1.25 times the link rate; the window still grows (W was at the
   * path's capacity when the application paused), so a regular
   * congestion-avoidance loss of a datagram or two may follow. */
  printf("# cc_sim cubic-idle  : %" PRIu64 " queue drops in 4.0-4.5 s\n",
         drops_between(r, 4 * SEC, 4500 * MS));
  assert_true(drops_between(r, 4 * SEC, 4500 * MS) <= 4);
}

/* mean_srtt returns the mean of |fl|'s smoothed RTT samples from |from|
 * on, in ms. */
static double mean_srtt(const cc_flow *fl, rudp_tstamp from) {
  double sum = 0;
  size_t j, n = 0;

  for (j = 0; j < fl->ntr; ++j) {
    if (fl->tr[j].t >= from) {
      sum += (double)fl->tr[j].srtt;
      ++n;
    }
  }
  return n ? sum / (double)n / MS : 0;
}

/*
 * Random loss without a queue (settings.loss_tolerant): the bulk path
 * with 1% loss each way.  Taking every loss for congestion (the standard
 * response) holds CUBIC near the Mathis limit, 1.22 * 1452 B / (40 ms *
 * sqrt(0.01)) = 3.5 Mbit/s; the loss-tolerant flow fills the link and
 * still answers the queue it builds: the window comes down when the RTT
 * passes min_rtt + 5 ms, so the queue stays short (the mean RTT is far
 * from the full queue's 80 ms) and the queue itself drops next to
 * nothing.
 */
static void test_rudp_cc_sim_random_loss(void **state) {
  const cc_run *r = scenario(SCN_CUBIC_RANDOM);
  const cc_run *s = scenario(SCN_CUBIC_RANDOM_STRICT);
  const rudp_conn_stats *st = &r->fl[0].st[0];
  double util, util_std, rtt;

  (void)state;
  if (r->failed || s->failed) {
    fail_msg("%s", r->failed ? r->err : s->err);
  }
  util = summary(r);
  util_std = summary(s);
  rtt = mean_srtt(&r->fl[0], 1 * SEC);
  printf("# cc_sim cubic-random: mean smoothed RTT %.1f ms (1-10 s; the "
         "empty path 40, a full queue 80)\n",
         rtt);
  if (util < 0.85) {
    fail_msg("loss-tolerant: utilisation %.1f%% < 85%%", util * 100);
  }
  if (util_std > 0.20) {
    fail_msg("standard: utilisation %.1f%% > 20%%", util_std * 100);
  }
  /* The queue: after slow start's overshoot (the first second) it drops
   * a small fraction of what random loss does, and holds a few ms, not
   * the 40 ms it has room for; the flow answers it (congestion events
   * after slow start). */
  assert_true(st->congestion_events >= 2);
  if (drops_between(r, 1 * SEC, 10 * SEC) * 10 > r->fwd.lost) {
    fail_msg("%" PRIu64 " queue drops after 1 s for %" PRIu64 " random losses",
             drops_between(r, 1 * SEC, 10 * SEC), r->fwd.lost);
  }
  if (rtt > 50) {
    fail_msg("mean smoothed RTT %.1f ms: a standing queue", rtt);
  }
  /* And the standard response still exists: one reduction per few
   * losses. */
  assert_true(s->fl[0].st[0].congestion_events >= 20);
}

/*
 * A queue too short to show in the RTT (10 datagrams, 2.3 ms, below the
 * 2.5 ms margin): the loss rate is the only signal.  The flow must still
 * come down, once more than 1/8 of a round is lost, rather than overrun
 * the link without end; the price (the documented cost of
 * settings.loss_tolerant) is a window that climbs past the path's
 * capacity between reductions, so many times the retransmissions of a
 * standard flow, which reduces at the first drop.
 */
static void test_rudp_cc_sim_shallow_queue(void **state) {
  const cc_run *r = scenario(SCN_CUBIC_SHALLOW);
  const cc_run *s = scenario(SCN_CUBIC_SHALLOW_STRICT);
  const rudp_conn_stats *st = &r->fl[0].st[0];
  double util;

  (void)state;
  if (r->failed || s->failed) {
    fail_msg("%s", r->failed ? r->err : s->err);
  }
  util = summary(r);
  summary(s);
  assert_true(st->congestion_events >= 3);
  if (util < 0.80) {
    fail_msg("utilisation %.1f%% < 80%%", util * 100);
  }
  if (st->pkts_retransmitted * 100 >= st->pkts_sent * 10) {
    fail_msg("%" PRIu64 " of %" PRIu64 " packets retransmitted (>= 10%%)",
             st->pkts_retransmitted, st->pkts_sent);
  }
  /* The standard flow for comparison: it reduces at the first drop. */
  assert_true(s->fl[0].st[0].pkts_retransmitted * 100 <
              s->fl[0].st[0].pkts_sent);
}

static int cmp_dur(const void *a, const void *b) {
  rudp_duration x = *(const rudp_duration *)a, y = *(const rudp_duration *)b;
  return x < y ? -1 : x > y;
}

/* msg_stats stores the p50, p99 and maximum (ms) of |fl|'s latencies in
 * |p|. */
static void msg_stats(const cc_flow *fl, double p[3]) {
  size_t n = fl->nlat;
  rudp_duration *v;

  memset(p, 0, 3 * sizeof(*p));
  if (n == 0) {
    return;
  }
  v = malloc(n * sizeof(*v));
  assert_non_null(v);
  memcpy(v, fl->lat, n * sizeof(*v));
  qsort(v, n, sizeof(*v), cmp_dur);
  p[0] = (double)v[n / 2] / MS;
  p[1] = (double)v[rudp_min(n - 1, n * 99 / 100)] / MS;
  p[2] = (double)v[n - 1] / MS;
  free(v);
}

/*
 * Issue 10: messages on a lossy 20 ms path.  1,000 messages of 200 bytes
 * per second need about 5 KB in flight per round trip, well inside the
 * initial window, but with the standard response each random loss
 * (2% each way) shrinks the window while an application-limited flow
 * never grows it back, so messages end up queued behind the window.
 * Loss-tolerant, the window stays where it was and a message waits only
 * for its own repair (about one RTT).
 */
static void test_rudp_cc_sim_messages(void **state) {
  const cc_run *r = scenario(SCN_MSG);
  const cc_run *s = scenario(SCN_MSG_STRICT);
  double p[3], q[3];

  (void)state;
  if (r->failed || s->failed) {
    fail_msg("%s", r->failed ? r->err : s->err);
  }
  msg_stats(&r->fl[0], p);
  msg_stats(&s->fl[0], q);
  printf("# cc_sim msg         : 1000 msg/s of 200 B, 20 ms RTT, 2%% loss "
         "each way: latency p50 %.1f ms, p99 %.1f ms, max %.1f ms "
         "(%zu of %" PRIu64 " delivered), min cwnd %" PRIu64
         ", congestion events %" PRIu64 "\n",
         p[0], p[1], p[2], r->fl[0].nlat, r->fl[0].msgs_sent, r->fl[0].min_cwnd,
         r->fl[0].st[0].congestion_events);
  printf("# cc_sim msg-std     : the same, standard loss response: latency "
         "p50 %.1f ms, p99 %.1f ms, max %.1f ms (%zu of %" PRIu64
         " delivered), min cwnd %" PRIu64 ", congestion events %" PRIu64 "\n",
         q[0], q[1], q[2], s->fl[0].nlat, s->fl[0].msgs_sent, s->fl[0].min_cwnd,
         s->fl[0].st[0].congestion_events);
  /* Every message is delivered, but the last few in flight. */
  assert_true(r->fl[0].msgs_sent >= 10000);
  assert_true(r->fl[0].nlat + 50 >= r->fl[0].msgs_sent);
  /* The one-way delay is 10 ms: a message not lost arrives in it; a lost
   * one is repaired in about an RTT and a half; everything behind it in
   * the ordered stream waits as long. */
  if (p[0] > 10.5) {
    fail_msg("msg: p50 %.2f ms", p[0]);
  }
  if (p[1] > 45) {
    fail_msg("msg: p99 %.2f ms", p[1]);
  }
  /* The window is never the limit: it never falls below the initial
   * window of 10 datagrams. */
  assert_true(r->fl[0].min_cwnd >= 10 * PAYLOAD);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_cc_sim_shared_link),
      cmocka_unit_test(test_rudp_cc_sim_reno_bulk),
      cmocka_unit_test(test_rudp_cc_sim_cubic_bulk),
      cmocka_unit_test(test_rudp_cc_sim_reno_window),
      cmocka_unit_test(test_rudp_cc_sim_cubic_window),
      cmocka_unit_test(test_rudp_cc_sim_reno_fairness),
      cmocka_unit_test(test_rudp_cc_sim_cubic_fairness),
      cmocka_unit_test(test_rudp_cc_sim_pacing),
      cmocka_unit_test(test_rudp_cc_sim_random_loss),
      cmocka_unit_test(test_rudp_cc_sim_shallow_queue),
      cmocka_unit_test(test_rudp_cc_sim_messages),
  };

  int rv, i;

  rv = cmocka_run_group_tests_name("cc_sim", tests, NULL, NULL);
  for (i = 0; i < SCN_MAX; ++i) {
    run_free(&scn_runs[i]);
  }
  return rv;
}
