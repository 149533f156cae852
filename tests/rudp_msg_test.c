/*
 * Tests of lib/rudp_msg.c, the message layer (include/rudp/rudp_msg.h,
 * docs/MESSAGES.md), over real connections on the simulated network of
 * tests/sim/ (virtual time, seeded links: every run replays exactly).
 *
 * The client is a bare rudp_conn whose callbacks are routed to its session
 * by rudp_msg_route_callbacks (the connection's user data is the session);
 * the server is a listening rudp_endpoint whose callbacks call the
 * rudp_msg_session_handle_* functions explicitly and which creates its
 * session when it accepts the connection (or later, to test the catch-up).
 * So both routing styles, and the accept race a real server has, are
 * exercised.  Messages carry content derived from (side, channel, id), so
 * the receiver checks every byte and every length: a corrupted, merged or
 * split message is caught.  Some scenarios fill messages with one byte
 * instead, so a packet filter can find them on the wire (no TLS here).
 *
 * Each mode over lossy, reordering paths; head-of-line blocking of
 * reliable-unordered against reliable-ordered under one crafted loss;
 * reassembly bounds in count, time and memory (fed crafted datagrams);
 * argument, state and protocol errors; the catch-up of a session created
 * after data arrived; buffers held by the connection after the session is
 * deleted; stats.
 *
 * Debugging: RUDP_MSG_TEST_TRACE=1 prints every packet and event of the
 * simulated runs on stderr.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include <rudp/rudp.h>
#include <rudp/rudp_msg.h>

#include "rudp_macro.h"
#include "sim/rudp_sim.h"
#include "rudp_test_helper.h"

#define MS RUDP_MILLISECONDS
#define SEC RUDP_SECONDS
#define KB 1024u
/* T0 is the virtual time every scenario starts at. */
#define T0 (100 * RUDP_SECONDS)
/* MAXCH bounds the channels of a scenario. */
#define MAXCH 4

enum { CLI = 0, SRV = 1 };

/* ------------------------------------------------------------ content */

static uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/* content_byte is byte |i| of message |id| sent by |from| on |ch|. */
static uint8_t content_byte(int from, unsigned ch, uint64_t id, size_t i) {
  uint64_t w = mix64(((uint64_t)from << 60) ^ ((uint64_t)ch << 52) ^
                     (id << 20) ^ (uint64_t)(i / 8));
  return (uint8_t)(w >> (8 * (i % 8)));
}

static void fill_content(uint8_t *buf, int from, unsigned ch, uint64_t id,
                         size_t len, uint8_t fill) {
  size_t i;
  for (i = 0; i < len; ++i) {
    buf[i] = fill ? fill : content_byte(from, ch, id, i);
  }
}

/* ------------------------------------------------------------ scenario */

/* A planned send: at |at|, side |from| sends |len| bytes on |ch| (all
 * bytes |fill|, or generated content when |fill| is 0).  |rv| records
 * what rudp_msg_send returned; |done| that it ran. */
typedef struct plan_ent {
  rudp_tstamp at;
  int from;
  unsigned ch;
  size_t len;
  uint8_t fill;
  int done;
  int rv;
} plan_ent;

/* A delivered message. */
typedef struct rec {
  unsigned ch;
  uint64_t id;
  size_t len;
  rudp_tstamp at;
  /* intact: the length and every byte are those sent with this id. */
  int intact;
} rec;

/* What a side sent on a channel: the length and fill of each id. */
typedef struct sent_log {
  size_t n, cap;
  size_t *len;
  uint8_t *fill;
} sent_log;

typedef struct harness harness;

typedef struct side {
  harness *h;
  int idx;
  /* conn: the client's own, or the server's (owned by the endpoint). */
  rudp_conn *conn;
  rudp_endpoint *ep;
  rudp_msg_session *ms;
  /* tm is the session's allocator, counting its blocks. */
  rudp_test_mem tm;
  rec *recs;
  size_t nrecs, caprecs;
  sent_log sent[MAXCH];
  uint64_t writable_calls;
  /* null_data: message_received saw a NULL data pointer. */
  int null_data;
  int closed;
  int closed_error;
  /* fatal: a connection call failed fatally (the connection is dead). */
  int fatal;
  /* handler_error: the first error an explicit handler returned;
   * new_error: what rudp_msg_session_new returned (server). */
  int handler_error;
  int new_error;
  /* established_at: when the handshake completed. */
  rudp_tstamp established_at;
} side;

struct harness {
  rudp_sim_net net;
  side sd[2];
  rudp_settings cset, sset;
  rudp_msg_mode modes[2][MAXCH];
  size_t nch[2];
  rudp_msg_settings mset;
  plan_ent *plan;
  size_t nplan;
  /* drop, if set, may drop a datagram |from| writes (return nonzero). */
  int (*drop)(harness *h, int from, const uint8_t *data, size_t len);
  uint64_t dropped;
  /* srv_dgram, if set, sees every datagram the server's connection
   * delivers, before its session does. */
  void (*srv_dgram)(harness *h, const uint8_t *data, size_t len);
  /* srv_clock: the server gives its session the time before each packet
   * it reads (as an event loop calling handle_expiry every iteration
   * does), not only on its timers. */
  int srv_clock;
  /* server_session_at: the server creates its session at accept (0) or at
   * this time. */
  rudp_tstamp server_session_at;
  /* del_client_session_at: the client deletes its session then (0:
   * never, until the end). */
  rudp_tstamp del_client_session_at;
  /* end_at bounds the run; done (if set) ends it earlier. */
  rudp_tstamp end_at;
  int (*done)(harness *h);
  rudp_test_rng rng;
  int result;
};

static harness *H; /* for the callbacks */

static int rand_cb(uint8_t *dest, size_t len, void *user_data) {
  (void)user_data;
  rudp_test_rng_fill(&H->rng, dest, len);
  return 0;
}

static void sent_push(sent_log *l, size_t len, uint8_t fill) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 64;
    l->len = realloc(l->len, l->cap * sizeof(*l->len));
    l->fill = realloc(l->fill, l->cap);
    assert_non_null(l->len);
    assert_non_null(l->fill);
  }
  l->len[l->n] = len;
  l->fill[l->n] = fill;
  ++l->n;
}

/* ------------------------------------------------------------ callbacks */

static int on_message(rudp_msg_session *ms, unsigned ch, uint64_t id,
                      const uint8_t *data, size_t len, void *user_data) {
  side *sd = user_data;
  side *peer = &sd->h->sd[1 - sd->idx];
  rec *r;
  size_t i;
  (void)ms;
  if (!data) {
    sd->null_data = 1;
    return 0;
  }
  if (sd->nrecs == sd->caprecs) {
    sd->caprecs = sd->caprecs ? 2 * sd->caprecs : 256;
    sd->recs = realloc(sd->recs, sd->caprecs * sizeof(*sd->recs));
    assert_non_null(sd->recs);
  }
  r = &sd->recs[sd->nrecs++];
  r->ch = ch;
  r->id = id;
  r->len = len;
  r->at = sd->h->net.now;
  r->intact =
      ch < MAXCH && id < peer->sent[ch].n && peer->sent[ch].len[id] == len;
  for (i = 0; r->intact && i < len; ++i) {
    uint8_t f = peer->sent[ch].fill[id];
    if (data[i] != (f ? f : content_byte(peer->idx, ch, id, i))) {
      r->intact = 0;
    }
  }
  return 0;
}

static void on_writable(rudp_msg_session *ms, unsigned ch, void *user_data) {
  side *sd = user_data;
  (void)ms;
  (void)ch;
  ++sd->writable_calls;
}

static const rudp_msg_callbacks msg_cbs = {on_message, on_writable};

/* make_session creates |sd|'s session on its connection. */
static int make_session(side *sd) {
  harness *h = sd->h;
  return rudp_msg_session_new(&sd->ms, sd->conn, h->modes[sd->idx],
                              h->nch[sd->idx], &h->mset, &msg_cbs, &sd->tm.mem,
                              sd);
}

/* Client: routed callbacks plus its own (which see the session). */
static int cli_handshake(rudp_conn *conn, void *user_data) {
  (void)conn;
  (void)user_data;
  H->sd[CLI].established_at = H->net.now;
  return 0;
}

static void cli_closed(rudp_conn *conn, int error, void *user_data) {
  (void)conn;
  (void)user_data;
  H->sd[CLI].closed = 1;
  H->sd[CLI].closed_error = error;
}

/* Server: explicit routing (the connection's user data is the side). */
static int srv_check(side *sd, rudp_conn *conn, int rv) {
  if (rv != 0 && sd->handler_error == 0) {
    sd->handler_error = rv;
  }
  if (rv == RUDP_ERR_PROTO) {
    rudp_conn_abort(conn, RUDP_MSG_APP_ERROR_PROTO, "rudp_msg", H->net.now);
  }
  return 0;
}

static int srv_readable(rudp_conn *conn, int64_t id, void *user_data) {
  side *sd = &H->sd[SRV];
  (void)user_data;
  if (!sd->ms) {
    return 0; /* no session yet: it catches up when created */
  }
  return srv_check(sd, conn,
                   rudp_msg_session_handle_stream_readable(sd->ms, id));
}

static int srv_reset(rudp_conn *conn, int64_t id, uint64_t code,
                     void *user_data) {
  side *sd = &H->sd[SRV];
  (void)user_data;
  if (!sd->ms) {
    return 0;
  }
  return srv_check(sd, conn,
                   rudp_msg_session_handle_stream_reset(sd->ms, id, code));
}

static void srv_released(rudp_conn *conn, int64_t id, const uint8_t *data,
                         size_t len, void *ref, void *user_data) {
  (void)conn;
  (void)id;
  (void)user_data;
  rudp_msg_handle_stream_data_released(data, len, ref);
}

static int srv_datagram(rudp_conn *conn, const uint8_t *data, size_t len,
                        void *user_data) {
  side *sd = &H->sd[SRV];
  (void)user_data;
  if (H->srv_dgram) {
    H->srv_dgram(H, data, len);
  }
  if (!sd->ms) {
    return 0;
  }
  return srv_check(sd, conn,
                   rudp_msg_session_handle_datagram(sd->ms, data, len));
}

static int srv_streams(rudp_conn *conn, int bidi, void *user_data) {
  side *sd = &H->sd[SRV];
  (void)user_data;
  if (!sd->ms || bidi) {
    return 0;
  }
  return srv_check(sd, conn, rudp_msg_session_handle_streams_available(sd->ms));
}

static int srv_handshake(rudp_conn *conn, void *user_data) {
  (void)conn;
  (void)user_data;
  H->sd[SRV].established_at = H->net.now;
  return 0;
}

static void srv_closed(rudp_conn *conn, int error, void *user_data) {
  side *sd = &H->sd[SRV];
  (void)conn;
  (void)user_data;
  /* The endpoint frees the connection after this: the session first. */
  rudp_msg_session_del(sd->ms);
  sd->ms = NULL;
  sd->conn = NULL;
  sd->closed = 1;
  sd->closed_error = error;
}

static void srv_create_session(side *sd) {
  sd->new_error = make_session(sd);
  if (sd->new_error != 0) {
    sd->ms = NULL;
    srv_check(sd, sd->conn, sd->new_error);
  }
}

static int srv_accept_ready(rudp_endpoint *ep, void *user_data) {
  side *sd = &H->sd[SRV];
  rudp_conn *conn;
  (void)user_data;
  while ((conn = rudp_endpoint_accept(ep)) != NULL) {
    sd->conn = conn;
    rudp_conn_set_user_data(conn, sd);
    if (H->server_session_at == 0) {
      srv_create_session(sd);
    }
  }
  return 0;
}

/* ------------------------------------------------------------ nodes */

/* The client's address as the server's endpoint sees it. */
static struct sockaddr_in cli_addr(void) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons(40000);
  a.sin_addr.s_addr = htonl(0x0a000001);
  return a;
}

/* pump runs |sd|'s planned sends that are due, and its timed actions. */
static void pump(side *sd, rudp_tstamp now) {
  harness *h = sd->h;
  size_t i;
  uint8_t *buf;

  if (sd->idx == SRV && h->server_session_at && now >= h->server_session_at &&
      sd->conn && !sd->ms && !sd->closed && sd->new_error == 0) {
    srv_create_session(sd);
  }
  if (sd->idx == CLI && h->del_client_session_at &&
      now >= h->del_client_session_at && sd->ms) {
    rudp_msg_session_del(sd->ms);
    sd->ms = NULL;
  }
  if (!sd->ms) {
    return;
  }
  for (i = 0; i < h->nplan; ++i) {
    plan_ent *p = &h->plan[i];
    if (p->from != sd->idx || p->done || p->at > now) {
      continue;
    }
    buf = malloc(p->len ? p->len : 1);
    assert_non_null(buf);
    fill_content(buf, sd->idx, p->ch, sd->sent[p->ch].n, p->len, p->fill);
    p->rv = rudp_msg_send(sd->ms, p->ch, buf, p->len, 0);
    p->done = 1;
    if (p->rv == 0) {
      sent_push(&sd->sent[p->ch], p->len, p->fill);
    }
    free(buf);
  }
}

/* side_next returns the next time |sd|'s application wants to run. */
static rudp_tstamp side_next(const side *sd) {
  const harness *h = sd->h;
  rudp_tstamp t = h->end_at;
  size_t i;
  if (sd->ms) {
    for (i = 0; i < h->nplan; ++i) {
      const plan_ent *p = &h->plan[i];
      if (p->from == sd->idx && !p->done && p->at < t) {
        t = p->at;
      }
    }
    t = rudp_min(t, rudp_msg_session_get_expiry(sd->ms));
  }
  if (sd->idx == SRV && h->server_session_at && sd->conn && !sd->ms &&
      !sd->closed && sd->new_error == 0) {
    t = rudp_min(t, h->server_session_at);
  }
  if (sd->idx == CLI && h->del_client_session_at && sd->ms) {
    t = rudp_min(t, h->del_client_session_at);
  }
  return t;
}

static void side_tick(side *sd, rudp_tstamp now) {
  if (sd->ms) {
    rudp_msg_session_handle_expiry(sd->ms, now);
  }
  pump(sd, now);
}

static rudp_ssize cli_write(void *node, uint8_t *buf, size_t buflen,
                            uint64_t *ptag, rudp_tstamp now) {
  side *sd = node;
  rudp_ssize n;
  (void)ptag;
  if (sd->fatal || !sd->conn) {
    return 0;
  }
  pump(sd, now);
  for (;;) {
    n = rudp_conn_write_pkt(sd->conn, buf, buflen, now);
    if (n < 0) {
      sd->fatal = (int)n;
      return 0;
    }
    if (n > 0 && sd->h->drop && sd->h->drop(sd->h, CLI, buf, (size_t)n)) {
      ++sd->h->dropped;
      continue;
    }
    return n;
  }
}

static int cli_read(void *node, const uint8_t *data, size_t len,
                    const rudp_sim_delivery *d, rudp_tstamp now) {
  side *sd = node;
  int rv;
  (void)d;
  if (sd->fatal || !sd->conn) {
    return 0;
  }
  rv = rudp_conn_read_pkt(sd->conn, data, len, now);
  if (rv != 0 && rv != RUDP_ERR_INVALID_STATE) {
    sd->fatal = rv;
  }
  return 0;
}

static rudp_tstamp cli_expiry(void *node) {
  side *sd = node;
  if (sd->fatal || !sd->conn) {
    return sd->h->end_at;
  }
  return rudp_min(rudp_conn_get_expiry(sd->conn), side_next(sd));
}

static int cli_handle_expiry(void *node, rudp_tstamp now) {
  side *sd = node;
  if (sd->fatal || !sd->conn) {
    return 0;
  }
  if (now >= rudp_conn_get_expiry(sd->conn) &&
      rudp_conn_handle_expiry(sd->conn, now) != 0) {
    sd->fatal = RUDP_ERR_INTERNAL;
  }
  side_tick(sd, now);
  return 0;
}

static rudp_ssize srv_write(void *node, uint8_t *buf, size_t buflen,
                            uint64_t *ptag, rudp_tstamp now) {
  side *sd = node;
  struct sockaddr_storage to;
  socklen_t tolen = sizeof(to);
  rudp_ssize n;
  (void)ptag;
  pump(sd, now);
  n = rudp_endpoint_write(sd->ep, buf, buflen, &to, &tolen, now);
  return n;
}

static int srv_read(void *node, const uint8_t *data, size_t len,
                    const rudp_sim_delivery *d, rudp_tstamp now) {
  side *sd = node;
  struct sockaddr_in from = cli_addr();
  (void)d;
  if (sd->h->srv_clock && sd->ms) {
    rudp_msg_session_handle_expiry(sd->ms, now);
  }
  return rudp_endpoint_read(sd->ep, data, len, (struct sockaddr *)&from,
                            sizeof(from), now);
}

static rudp_tstamp srv_expiry(void *node) {
  side *sd = node;
  return rudp_min(rudp_endpoint_get_expiry(sd->ep), side_next(sd));
}

static int srv_handle_expiry(void *node, rudp_tstamp now) {
  side *sd = node;
  int rv = 0;
  if (now >= rudp_endpoint_get_expiry(sd->ep)) {
    rv = rudp_endpoint_handle_expiry(sd->ep, now);
  }
  side_tick(sd, now);
  return rv;
}

static int node_done(void *node) {
  side *sd = node;
  harness *h = sd->h;
  return h->net.now >= h->end_at || (h->done && h->done(h));
}

static const rudp_sim_node_ops cli_ops = {cli_write, cli_read, cli_expiry,
                                          cli_handle_expiry, node_done};
static const rudp_sim_node_ops srv_ops = {srv_write, srv_read, srv_expiry,
                                          srv_handle_expiry, node_done};

/* ------------------------------------------------------------ setup */

/* h_init prepares a scenario: both sides with |n| channels of |modes|,
 * default settings, a path of |lp| each way.  Tests adjust fields before
 * h_start. */
static void h_init(harness *h, const rudp_msg_mode *modes, size_t n,
                   const rudp_sim_link_params *lp, uint64_t seed) {
  int i;
  memset(h, 0, sizeof(*h));
  H = h;
  rudp_test_rng_init(&h->rng, seed);
  rudp_settings_default(&h->cset);
  rudp_settings_default(&h->sset);
  /* The tests reason in 1200-byte packets: no path MTU discovery. */
  h->cset.pmtud_max_udp_payload_size = h->sset.pmtud_max_udp_payload_size = 0;
  h->cset.datagram_queue_len = h->sset.datagram_queue_len = 256;
  rudp_msg_settings_default(&h->mset);
  for (i = 0; i < 2; ++i) {
    memcpy(h->modes[i], modes, n * sizeof(*modes));
    h->nch[i] = n;
    h->sd[i].h = h;
    h->sd[i].idx = i;
    rudp_test_mem_init(&h->sd[i].tm);
  }
  assert_int_equal(rudp_sim_net_init(&h->net, lp, lp, seed), 0);
  h->net.now = T0;
  h->net.max_time = T0 + 120 * SEC;
  h->end_at = T0 + 60 * SEC;
}

/* h_plan adds a planned send. */
static plan_ent *h_plan(harness *h, rudp_tstamp at, int from, unsigned ch,
                        size_t len, uint8_t fill) {
  plan_ent *p;
  h->plan = realloc(h->plan, (h->nplan + 1) * sizeof(*h->plan));
  assert_non_null(h->plan);
  p = &h->plan[h->nplan++];
  memset(p, 0, sizeof(*p));
  p->at = at;
  p->from = from;
  p->ch = ch;
  p->len = len;
  p->fill = fill;
  return p;
}

/* h_start creates the server endpoint and the client connection with its
 * session (before the handshake: reliable sends planned at T0 queue in
 * the session). */
static void h_start(harness *h) {
  rudp_endpoint_settings es;
  rudp_endpoint_callbacks ecb = {rand_cb, srv_accept_ready, NULL};
  rudp_callbacks scb, ccb;
  rudp_cid dcid, scid;
  side *c = &h->sd[CLI], *s = &h->sd[SRV];

  memset(&scb, 0, sizeof(scb));
  scb.handshake_completed = srv_handshake;
  scb.stream_readable = srv_readable;
  scb.stream_reset = srv_reset;
  scb.stream_data_released = srv_released;
  scb.datagram_received = srv_datagram;
  scb.streams_available = srv_streams;
  scb.closed = srv_closed;
  rudp_endpoint_settings_default(&es);
  es.conn = h->sset;
  es.listen = 1;
  es.retry = RUDP_RETRY_NEVER;
  assert_int_equal(
      rudp_endpoint_new(&s->ep, &es, &ecb, &scb, NULL, NULL, h->net.now), 0);

  memset(&ccb, 0, sizeof(ccb));
  rudp_msg_route_callbacks(&ccb);
  ccb.handshake_completed = cli_handshake;
  ccb.closed = cli_closed;
  memset(&dcid, 0, sizeof(dcid));
  dcid.datalen = 8;
  rudp_test_rng_fill(&h->rng, dcid.data, dcid.datalen);
  memset(&scid, 0, sizeof(scid));
  scid.datalen = 8;
  rudp_test_rng_fill(&h->rng, scid.data, scid.datalen);
  assert_int_equal(rudp_conn_client_new(&c->conn, &dcid, &scid, &h->cset, &ccb,
                                        NULL, NULL, h->net.now),
                   0);
  assert_int_equal(make_session(c), 0);
  rudp_conn_set_user_data(c->conn, c->ms);

  rudp_sim_net_set_node(&h->net, CLI, &cli_ops, c);
  rudp_sim_net_set_node(&h->net, SRV, &srv_ops, s);
  if (getenv("RUDP_MSG_TEST_TRACE")) {
    rudp_sim_net_set_trace(&h->net, stderr, "c->s", "s->c");
  }
}

static void h_run(harness *h) {
  h->result = rudp_sim_net_run(&h->net);
  assert_true(h->result == RUDP_SIM_DONE);
}

/* h_free deletes the sessions, then the connections (which release the
 * buffers they still hold), and checks every session block was freed. */
static void h_free(harness *h) {
  int i, ch;
  if (h->sd[SRV].ms) {
    rudp_msg_session_del(h->sd[SRV].ms);
    h->sd[SRV].ms = NULL;
  }
  rudp_msg_session_del(h->sd[CLI].ms);
  h->sd[CLI].ms = NULL;
  rudp_conn_del(h->sd[CLI].conn);
  rudp_endpoint_del(h->sd[SRV].ep);
  rudp_sim_net_free(&h->net);
  for (i = 0; i < 2; ++i) {
    assert_int_equal(h->sd[i].tm.nlive, 0);
    free(h->sd[i].recs);
    for (ch = 0; ch < MAXCH; ++ch) {
      free(h->sd[i].sent[ch].len);
      free(h->sd[i].sent[ch].fill);
    }
  }
  free(h->plan);
  H = NULL;
}

/* ------------------------------------------------------------ checks */

static size_t count_ch(const side *sd, unsigned ch) {
  size_t i, n = 0;
  for (i = 0; i < sd->nrecs; ++i) {
    n += sd->recs[i].ch == ch;
  }
  return n;
}

/* all_reliable_done: every message either side sent on a reliable channel
 * arrived, and nothing is left unacknowledged. */
static int all_reliable_done(harness *h) {
  int i;
  unsigned ch;
  rudp_msg_stats st;
  for (i = 0; i < 2; ++i) {
    side *sd = &h->sd[i], *peer = &h->sd[1 - i];
    size_t k;
    for (k = 0; k < h->nplan; ++k) {
      if (h->plan[k].from == i && !h->plan[k].done) {
        return 0;
      }
    }
    for (ch = 0; ch < h->nch[i]; ++ch) {
      if (h->modes[i][ch] <= RUDP_MSG_RELIABLE_UNORDERED &&
          count_ch(peer, ch) < sd->sent[ch].n) {
        return 0;
      }
    }
    if (!sd->ms) {
      return 0;
    }
    rudp_msg_get_stats(sd->ms, &st);
    if (st.queued_bytes != 0) {
      return 0;
    }
  }
  return 1;
}

/* check_ordered: side |rx| got every message |tx| sent on |ch|, once, in
 * send order, intact. */
static void check_ordered(const harness *h, int tx, int rx, unsigned ch) {
  const side *r = &h->sd[rx];
  size_t i;
  uint64_t next = 0;
  for (i = 0; i < r->nrecs; ++i) {
    if (r->recs[i].ch != ch) {
      continue;
    }
    assert_int_equal(r->recs[i].id, next);
    assert_true(r->recs[i].intact);
    ++next;
  }
  assert_int_equal(next, h->sd[tx].sent[ch].n);
}

/* check_once: side |rx| got every message |tx| sent on |ch| exactly once
 * (any order), intact.  Returns nonzero if the order differed from the
 * send order. */
static int check_once(const harness *h, int tx, int rx, unsigned ch) {
  const side *r = &h->sd[rx];
  size_t n = h->sd[tx].sent[ch].n, i, seen = 0;
  uint8_t *got = calloc(n ? n : 1, 1);
  uint64_t prev = 0;
  int first = 1, reordered = 0;
  assert_non_null(got);
  for (i = 0; i < r->nrecs; ++i) {
    const rec *m = &r->recs[i];
    if (m->ch != ch) {
      continue;
    }
    assert_true(m->id < n);
    assert_false(got[m->id]);
    assert_true(m->intact);
    got[m->id] = 1;
    ++seen;
    if (!first && m->id < prev) {
      reordered = 1;
    }
    prev = m->id;
    first = 0;
  }
  assert_int_equal(seen, n);
  free(got);
  return reordered;
}

/* ------------------------------------------------------------ tests */

static void test_rudp_msg_reliable_ordered_lossy(void **state) {
  static const rudp_msg_mode modes[] = {RUDP_MSG_RELIABLE_ORDERED,
                                        RUDP_MSG_RELIABLE_ORDERED};
  rudp_sim_link_params lp;
  rudp_msg_stats st, st2;
  rudp_msg_channel_stats c0, c1;
  rudp_conn_stats cs;
  size_t i, nalloc;
  harness h;
  (void)state;

  memset(&lp, 0, sizeof(lp));
  lp.delay = 15 * MS;
  lp.jitter = 3 * MS;
  lp.loss = RUDP_SIM_PERCENT(3);
  lp.reorder = RUDP_SIM_PERCENT(1);
  lp.reorder_delay = 10 * MS;
  h_init(&h, modes, 2, &lp, 11);
  /* Sent before the handshake completes: they wait in the session. */
  for (i = 0; i < 5; ++i) {
    h_plan(&h, T0, CLI, 0, 10 * i, 0);
  }
  for (i = 0; i < 300; ++i) {
    size_t len;
    switch (i % 10) {
    case 0:
      len = 0;
      break;
    case 1:
      len = 1;
      break;
    case 2:
      len = 5000; /* several packets */
      break;
    default:
      len = (size_t)rudp_test_rng_below(&h.rng, 1400);
    }
    if (i == 100 || i == 200) {
      len = 200 * KB; /* far beyond a stream window's first credit */
    }
    if (i == 150) {
      len = 1024 * KB;
    }
    h_plan(&h, T0 + 200 * MS + i * 2 * MS, CLI, i % 3 == 0 ? 1u : 0u, len, 0);
  }
  for (i = 0; i < 50; ++i) {
    h_plan(&h, T0 + 300 * MS + i * 7 * MS, SRV, 1, 100 + 30 * i, 0);
  }
  h.done = all_reliable_done;
  h_start(&h);
  h_run(&h);
  assert_true(all_reliable_done(&h));

  check_ordered(&h, CLI, SRV, 0);
  check_ordered(&h, CLI, SRV, 1);
  check_ordered(&h, SRV, CLI, 1);
  assert_int_equal(count_ch(&h.sd[CLI], 0), 0);
  assert_int_equal(h.sd[CLI].sent[0].n + h.sd[CLI].sent[1].n, 305);
  for (i = 0; i < h.nplan; ++i) {
    assert_int_equal(h.plan[i].rv, 0);
  }
  assert_false(h.sd[SRV].null_data);
  assert_int_equal(h.sd[SRV].handler_error, 0);

  /* Stats: counters exact, path estimates from the connection. */
  rudp_msg_get_stats(h.sd[CLI].ms, &st);
  assert_int_equal(rudp_msg_get_channel_stats(h.sd[CLI].ms, 0, &c0), 0);
  assert_int_equal(rudp_msg_get_channel_stats(h.sd[CLI].ms, 1, &c1), 0);
  assert_int_equal(c0.mode, RUDP_MSG_RELIABLE_ORDERED);
  assert_int_equal(st.msgs_sent, 305);
  assert_int_equal(c0.msgs_sent + c1.msgs_sent, 305);
  assert_int_equal(st.bytes_sent, c0.bytes_sent + c1.bytes_sent);
  assert_int_equal(st.msgs_received, 50);
  assert_int_equal(c1.msgs_received, 50);
  assert_int_equal(st.queued_msgs, 0);
  assert_int_equal(st.queued_bytes, 0);
  rudp_conn_get_stats(h.sd[CLI].conn, &cs);
  assert_true(st.srtt >= 30 * MS);
  assert_int_equal(st.jitter, cs.rttvar);
  assert_int_equal(st.min_rtt, cs.min_rtt);
  assert_true(cs.pkts_lost > 0);
  assert_true(st.window_lost <= cs.pkts_lost);
  assert_true(st.loss_rate == (double)st.window_lost / (double)st.window_sent);
  /* The window covers the last RUDP_MSG_LOSS_WINDOW or so packets. */
  /* The window covers the last RUDP_MSG_LOSS_WINDOW packets or a few
   * more, not the whole history. */
  assert_true(cs.pkts_sent > RUDP_MSG_LOSS_WINDOW + RUDP_MSG_LOSS_WINDOW / 4);
  assert_true(st.window_sent >= RUDP_MSG_LOSS_WINDOW);
  assert_true(st.window_sent + RUDP_MSG_LOSS_WINDOW / 8 <= cs.pkts_sent);
  /* Polling allocates nothing and changes nothing. */
  nalloc = rudp_test_mem_nalloc(&h.sd[CLI].tm);
  for (i = 0; i < 100; ++i) {
    rudp_msg_get_stats(h.sd[CLI].ms, &st2);
  }
  assert_int_equal(rudp_test_mem_nalloc(&h.sd[CLI].tm), nalloc);
  assert_int_equal(st2.msgs_sent, st.msgs_sent);
  h_free(&h);
}

/* hol_drop drops the first client datagram that carries message A
 * (0xa5 bytes) and not message B (0x5b bytes). */
static int has_run(const uint8_t *p, size_t len, uint8_t b) {
  size_t i, run = 0;
  for (i = 0; i < len; ++i) {
    run = p[i] == b ? run + 1 : 0;
    if (run >= 32) {
      return 1;
    }
  }
  return 0;
}

static int hol_drop(harness *h, int from, const uint8_t *data, size_t len) {
  if (from != CLI || h->dropped > 0 || !has_run(data, len, 0xa5)) {
    return 0;
  }
  /* The scenario needs A's first packet without B. */
  assert_false(has_run(data, len, 0x5b));
  return 1;
}

/* hol_run: message A (2500 bytes, its first packet lost) then B (100
 * bytes) on one channel of |mode|, 20 ms each way; returns when each
 * arrived relative to the send. */
static void hol_run(rudp_msg_mode mode, uint64_t *pfirst_id, rudp_duration *pa,
                    rudp_duration *pb) {
  rudp_sim_link_params lp;
  rudp_tstamp at = T0 + 500 * MS;
  harness h;
  size_t i;

  memset(&lp, 0, sizeof(lp));
  lp.delay = 20 * MS;
  h_init(&h, &mode, 1, &lp, 5);
  h_plan(&h, at, CLI, 0, 2500, 0xa5);
  h_plan(&h, at, CLI, 0, 100, 0x5b);
  h.drop = hol_drop;
  h.done = all_reliable_done;
  h_start(&h);
  h_run(&h);
  assert_int_equal(h.dropped, 1);
  assert_int_equal(h.sd[SRV].nrecs, 2);
  *pfirst_id = h.sd[SRV].recs[0].id;
  for (i = 0; i < 2; ++i) {
    const rec *r = &h.sd[SRV].recs[i];
    assert_true(r->intact);
    if (r->id == 0) {
      *pa = r->at - at;
    } else {
      *pb = r->at - at;
    }
  }
  h_free(&h);
}

static void test_rudp_msg_reliable_unordered_no_hol(void **state) {
  uint64_t first;
  rudp_duration a, b;
  (void)state;

  /* Unordered: B arrives one way later (20 ms, plus pacing), long before
   * A's lost packet is retransmitted (at least a further RTT). */
  hol_run(RUDP_MSG_RELIABLE_UNORDERED, &first, &a, &b);
  assert_int_equal(first, 1);
  assert_true(b >= 20 * MS && b < 30 * MS);
  assert_true(a >= 60 * MS);
  /* Ordered: the same loss holds B back behind A. */
  hol_run(RUDP_MSG_RELIABLE_ORDERED, &first, &a, &b);
  assert_int_equal(first, 0);
  assert_true(a >= 60 * MS);
  assert_true(b >= a);
}

static void test_rudp_msg_reliable_unordered_lossy(void **state) {
  static const rudp_msg_mode mode = RUDP_MSG_RELIABLE_UNORDERED;
  rudp_sim_link_params lp;
  rudp_msg_channel_stats cst;
  harness h;
  size_t i;
  (void)state;

  memset(&lp, 0, sizeof(lp));
  lp.delay = 10 * MS;
  lp.loss = RUDP_SIM_PERCENT(4);
  lp.reorder = RUDP_SIM_PERCENT(2);
  lp.reorder_delay = 8 * MS;
  h_init(&h, &mode, 1, &lp, 23);
  /* Four streams at a time: the rest wait in the session. */
  h.sset.max_streams_uni = 4;
  for (i = 0; i < 150; ++i) {
    size_t len = i % 7 == 0 ? 0 : (size_t)rudp_test_rng_below(&h.rng, 20000);
    h_plan(&h, T0, CLI, 0, len, 0);
  }
  h.done = all_reliable_done;
  h_start(&h);
  /* All 150 were accepted before the handshake and wait. */
  assert_int_equal(rudp_msg_get_channel_stats(h.sd[CLI].ms, 0, &cst), 0);
  assert_int_equal(cst.queued_msgs, 0);
  pump(&h.sd[CLI], T0);
  assert_int_equal(rudp_msg_get_channel_stats(h.sd[CLI].ms, 0, &cst), 0);
  assert_int_equal(cst.queued_msgs, 150);
  assert_true(cst.queued_bytes > cst.bytes_sent);
  h_run(&h);
  /* Each once and intact; completion order is not send order. */
  assert_true(check_once(&h, CLI, SRV, 0));
  assert_int_equal(h.sd[CLI].sent[0].n, 150);
  assert_int_equal(rudp_msg_get_channel_stats(h.sd[SRV].ms, 0, &cst), 0);
  assert_int_equal(cst.msgs_received, 150);
  h_free(&h);
}

/* check_unreliable: each message |rx| got on |ch| is one |tx| sent,
 * intact, at most once; returns how many arrived. */
static size_t check_unreliable(const harness *h, int tx, int rx, unsigned ch) {
  const side *r = &h->sd[rx];
  size_t n = h->sd[tx].sent[ch].n, i, seen = 0;
  uint8_t *got = calloc(n ? n : 1, 1);
  assert_non_null(got);
  for (i = 0; i < r->nrecs; ++i) {
    const rec *m = &r->recs[i];
    if (m->ch != ch) {
      continue;
    }
    assert_true(m->id < n);
    assert_false(got[m->id]);
    assert_true(m->intact);
    got[m->id] = 1;
    ++seen;
  }
  free(got);
  return seen;
}

static void test_rudp_msg_unreliable_lossy(void **state) {
  static const rudp_msg_mode mode = RUDP_MSG_UNRELIABLE;
  rudp_sim_link_params lp;
  rudp_msg_channel_stats sc, rc;
  rudp_msg_stats st;
  size_t i, got, fragmented = 0;
  harness h;
  (void)state;

  memset(&lp, 0, sizeof(lp));
  lp.delay = 10 * MS;
  lp.jitter = 2 * MS;
  lp.loss = RUDP_SIM_PERCENT(4);
  lp.reorder = RUDP_SIM_PERCENT(5);
  lp.reorder_delay = 10 * MS;
  h_init(&h, &mode, 1, &lp, 37);
  for (i = 0; i < 400; ++i) {
    size_t len, r = (size_t)rudp_test_rng_below(&h.rng, 10);
    if (r < 3) {
      len = (size_t)rudp_test_rng_below(&h.rng, 200);
    } else if (r < 8) {
      len = 200 + (size_t)rudp_test_rng_below(&h.rng, 900);
    } else {
      len = 1200 + (size_t)rudp_test_rng_below(&h.rng, 5000);
      ++fragmented;
    }
    h_plan(&h, T0 + 3 * SEC + i * 10 * MS, CLI, 0, len, 0);
  }
  h.end_at = T0 + 3 * SEC + 400 * 10 * MS + 3 * SEC;
  h_start(&h);
  h_run(&h);

  for (i = 0; i < h.nplan; ++i) {
    assert_int_equal(h.plan[i].rv, 0);
  }
  got = check_unreliable(&h, CLI, SRV, 0);
  assert_int_equal(h.sd[CLI].sent[0].n, 400);
  /* A subset arrived: most, not all. */
  assert_true(got < 400);
  assert_true(got > 300);
  assert_int_equal(rudp_msg_get_channel_stats(h.sd[SRV].ms, 0, &rc), 0);
  assert_int_equal(rudp_msg_get_channel_stats(h.sd[CLI].ms, 0, &sc), 0);
  assert_int_equal(rc.msgs_received, got);
  assert_int_equal(sc.msgs_sent, 400);
  assert_int_equal(sc.queued_bytes, 0);
  /* Some fragmented messages lost a fragment: abandoned by timeout. */
  assert_true(fragmented > 40);
  assert_true(rc.dropped_incomplete > 0);
  assert_true(got + rc.dropped_incomplete <= 400);
  assert_int_equal(rc.dropped_old, 0);
  /* A straggler may still be held (a datagram can leave late, after a
   * probe timeout): one timeout later, nothing is. */
  rudp_msg_session_handle_expiry(h.sd[SRV].ms,
                                 h.net.now + h.mset.reassembly_timeout);
  assert_int_equal(rudp_msg_session_get_expiry(h.sd[SRV].ms), RUDP_TSTAMP_MAX);
  rudp_msg_get_stats(h.sd[SRV].ms, &st);
  assert_int_equal(st.reassembly_msgs, 0);
  assert_int_equal(st.reassembly_bytes, 0);
  rudp_msg_get_stats(h.sd[CLI].ms, &st);
  assert_int_equal(st.datagrams_overflowed, 0);
  assert_true(st.datagram_payload >= 1000 && st.datagram_payload < 1200);
  assert_true(st.datagrams_sent > 400);
  h_free(&h);
}

static void test_rudp_msg_unreliable_sequenced(void **state) {
  static const rudp_msg_mode mode = RUDP_MSG_UNRELIABLE_SEQUENCED;
  rudp_sim_link_params lp;
  rudp_msg_channel_stats rc;
  rudp_msg_stats st;
  size_t i, got;
  harness h;
  (void)state;

  /* No loss, heavy reordering: every datagram arrives, many late. */
  memset(&lp, 0, sizeof(lp));
  lp.delay = 10 * MS;
  lp.reorder = RUDP_SIM_PERCENT(20);
  lp.reorder_delay = 15 * MS;
  h_init(&h, &mode, 1, &lp, 41);
  for (i = 0; i < 500; ++i) {
    size_t len = i % 5 == 4 ? 3000 : (size_t)rudp_test_rng_below(&h.rng, 120);
    h_plan(&h, T0 + 500 * MS + i * 6 * MS, CLI, 0, len, 0);
  }
  h.end_at = T0 + 500 * MS + 500 * 6 * MS + 3 * SEC;
  h_start(&h);
  h_run(&h);

  got = check_unreliable(&h, CLI, SRV, 0);
  /* Never an older one after a newer one. */
  for (i = 1; i < h.sd[SRV].nrecs; ++i) {
    assert_true(h.sd[SRV].recs[i].id > h.sd[SRV].recs[i - 1].id);
  }
  assert_int_equal(rudp_msg_get_channel_stats(h.sd[SRV].ms, 0, &rc), 0);
  assert_true(rc.dropped_old > 0);
  assert_true(got > 250);
  /* Every message is accounted for exactly once. */
  assert_int_equal(got + rc.dropped_old + rc.dropped_incomplete, 500);
  rudp_msg_get_stats(h.sd[CLI].ms, &st);
  assert_int_equal(st.datagrams_overflowed, 0);
  rudp_msg_get_stats(h.sd[SRV].ms, &st);
  assert_int_equal(st.reassembly_msgs, 0);
  h_free(&h);
}

/* test_varint decodes a QUIC varint at *pp (the test's own decoder, to
 * read the message layer's datagram headers off the wire). */
static uint64_t test_varint(const uint8_t **pp) {
  const uint8_t *p = *pp;
  size_t n = (size_t)1 << (p[0] >> 6), i;
  uint64_t v = p[0] & 0x3f;
  for (i = 1; i < n; ++i) {
    v = v << 8 | p[i];
  }
  *pp = p + n;
  return v;
}

/* SEEN_MAX bounds the sequence numbers seq_seen records. */
#define SEEN_MAX 1024
/* seq_seen[seq]: some datagram of channel 0's message |seq| reached the
 * server's connection (the test's omniscient view). */
static uint8_t seq_seen[SEEN_MAX];

static void mark_seq_seen(harness *h, const uint8_t *data, size_t len) {
  const uint8_t *p = data;
  uint64_t c2, seq;
  (void)h;
  assert_true(len >= 2);
  c2 = test_varint(&p);
  seq = test_varint(&p);
  if (c2 >> 1 == 0) {
    assert_true(seq < SEEN_MAX);
    seq_seen[seq] = 1;
  }
}

/* An unreliable-sequenced channel over a lossy, reordering path with
 * fragmented messages (3 to 5 kB: 3 to 5 fragments) and some whole ones:
 * delivered ids strictly increase, every delivery is intact, and every
 * message is accounted for exactly once: delivered, dropped as old
 * (overtaken), dropped as incomplete (a fragment lost), or never seen at
 * all (every datagram of it lost, which the receiver cannot know: the
 * test counts those on the wire). */
static void test_rudp_msg_sequenced_fragments_lossy(void **state) {
  static const rudp_msg_mode mode = RUDP_MSG_UNRELIABLE_SEQUENCED;
  enum { N = 400 };
  rudp_sim_link_params lp;
  rudp_msg_channel_stats rc, sc;
  rudp_msg_stats st;
  size_t i, got, seen = 0, fragmented = 0;
  rudp_tstamp at;
  harness h;
  (void)state;

  memset(&lp, 0, sizeof(lp));
  lp.delay = 10 * MS;
  lp.jitter = 2 * MS;
  lp.loss = RUDP_SIM_PERCENT(3);
  lp.reorder = RUDP_SIM_PERCENT(5);
  lp.reorder_delay = 12 * MS;
  h_init(&h, &mode, 1, &lp, 43);
  /* A message missing a fragment is dropped as old when a newer one
   * completes first, as incomplete when none does within the timeout:
   * groups of 5 messages 8 ms apart (a datagram reordered by up to 12 ms
   * is often overtaken), then a 60 ms pause, longer than the timeout. */
  h.mset.reassembly_timeout = 30 * MS;
  h.srv_clock = 1;
  memset(seq_seen, 0, sizeof(seq_seen));
  h.srv_dgram = mark_seq_seen;
  at = T0 + 3 * SEC; /* after the handshake, even if a packet of it is lost */
  for (i = 0; i < N; ++i) {
    size_t len;
    if (i % 4 == 3) {
      len = 50 + (size_t)rudp_test_rng_below(&h.rng, 1000);
    } else {
      len = 3000 + (size_t)rudp_test_rng_below(&h.rng, 2001);
      ++fragmented;
    }
    h_plan(&h, at, CLI, 0, len, 0);
    at += i % 5 == 4 ? 60 * MS : 8 * MS;
  }
  h.end_at = at + 2 * SEC;
  h_start(&h);
  h_run(&h);
  /* Messages still held incomplete are abandoned one timeout later. */
  rudp_msg_session_handle_expiry(h.sd[SRV].ms,
                                 h.net.now + h.mset.reassembly_timeout);

  for (i = 0; i < h.nplan; ++i) {
    assert_int_equal(h.plan[i].rv, 0);
  }
  assert_int_equal(h.sd[CLI].sent[0].n, N);
  got = check_unreliable(&h, CLI, SRV, 0);
  for (i = 1; i < h.sd[SRV].nrecs; ++i) {
    assert_true(h.sd[SRV].recs[i].id > h.sd[SRV].recs[i - 1].id);
  }
  for (i = 0; i < SEEN_MAX; ++i) {
    seen += seq_seen[i];
  }
  assert_int_equal(rudp_msg_get_channel_stats(h.sd[SRV].ms, 0, &rc), 0);
  assert_int_equal(rc.msgs_received, got);
  /* Exact accounting: each message seen on the wire is delivered or
   * counted in one drop counter, once. */
  assert_int_equal(got + rc.dropped_old + rc.dropped_incomplete, seen);
  /* The scenario exercises every outcome. */
  assert_true(got > N / 2);
  assert_true(rc.dropped_old > 0);
  assert_true(rc.dropped_incomplete > 0);
  assert_true(seen < N);
  assert_true(fragmented >= N / 2);
  rudp_msg_get_stats(h.sd[SRV].ms, &st);
  assert_int_equal(st.reassembly_msgs, 0);
  /* The sender queued every datagram (none pushed out of its queue) and
   * its queue is empty. */
  assert_int_equal(rudp_msg_get_channel_stats(h.sd[CLI].ms, 0, &sc), 0);
  assert_int_equal(sc.msgs_sent, N);
  assert_int_equal(sc.queued_msgs, 0);
  assert_int_equal(sc.queued_bytes, 0);
  rudp_msg_get_stats(h.sd[CLI].ms, &st);
  assert_int_equal(st.datagrams_overflowed, 0);
  printf("sequenced lossy: %zu sent, %zu seen, %zu delivered, %llu old, "
         "%llu incomplete\n",
         (size_t)N, seen, got, (unsigned long long)rc.dropped_old,
         (unsigned long long)rc.dropped_incomplete);
  h_free(&h);
}

static void test_rudp_msg_zero_length_and_all_modes(void **state) {
  static const rudp_msg_mode modes[] = {
      RUDP_MSG_RELIABLE_ORDERED, RUDP_MSG_RELIABLE_UNORDERED,
      RUDP_MSG_UNRELIABLE, RUDP_MSG_UNRELIABLE_SEQUENCED};
  static const size_t lens[] = {0, 1, 3000, 0, 65536};
  rudp_sim_link_params lp;
  harness h;
  unsigned ch;
  size_t i;
  (void)state;

  memset(&lp, 0, sizeof(lp));
  lp.delay = 5 * MS;
  h_init(&h, modes, 4, &lp, 3);
  for (ch = 0; ch < 4; ++ch) {
    for (i = 0; i < 5; ++i) {
      h_plan(&h, T0 + 200 * MS + i * 10 * MS, CLI, ch, lens[i], 0);
      h_plan(&h, T0 + 200 * MS + i * 10 * MS, SRV, ch, lens[i], 0);
    }
  }
  h.end_at = T0 + 2 * SEC;
  h_start(&h);
  h_run(&h);
  for (i = 0; i < h.nplan; ++i) {
    assert_int_equal(h.plan[i].rv, 0);
  }
  /* A clean path: every mode delivers everything, in order. */
  for (ch = 0; ch < 4; ++ch) {
    check_ordered(&h, CLI, SRV, ch);
    check_ordered(&h, SRV, CLI, ch);
  }
  for (i = 0; i < h.sd[SRV].nrecs; ++i) {
    assert_int_equal(h.sd[SRV].recs[i].len, lens[h.sd[SRV].recs[i].id]);
  }
  assert_false(h.sd[SRV].null_data);
  assert_false(h.sd[CLI].null_data);
  h_free(&h);
}

/* A session on a client connection that never connects, for the tests
 * that feed crafted input or check arguments. */
typedef struct lone {
  rudp_conn *conn;
  rudp_msg_session *ms;
  rudp_test_mem tm;
  side sd;
  harness h;
} lone;

static void lone_new(lone *l, const rudp_msg_mode *modes, size_t n,
                     const rudp_msg_settings *mset) {
  rudp_settings s;
  rudp_cid dcid, scid;
  memset(l, 0, sizeof(*l));
  rudp_settings_default(&s);
  memset(&dcid, 0, sizeof(dcid));
  dcid.datalen = 8;
  memset(&scid, 0, sizeof(scid));
  scid.datalen = 8;
  scid.data[0] = 1;
  assert_int_equal(
      rudp_conn_client_new(&l->conn, &dcid, &scid, &s, NULL, NULL, NULL, T0),
      0);
  rudp_test_mem_init(&l->tm);
  /* on_message checks content against the peer's log: the lone side is
   * side 0 of a harness whose peer (side 1) is filled by the test. */
  l->h.sd[0].h = &l->h;
  l->h.sd[0].idx = 0;
  l->h.sd[1].h = &l->h;
  l->h.sd[1].idx = 1;
  assert_int_equal(rudp_msg_session_new(&l->ms, l->conn, modes, n, mset,
                                        &msg_cbs, &l->tm.mem, &l->h.sd[0]),
                   0);
}

static void lone_free(lone *l) {
  int ch;
  rudp_msg_session_del(l->ms);
  rudp_conn_del(l->conn);
  assert_int_equal(l->tm.nlive, 0);
  free(l->h.sd[0].recs);
  for (ch = 0; ch < MAXCH; ++ch) {
    free(l->h.sd[1].sent[ch].len);
    free(l->h.sd[1].sent[ch].fill);
  }
}

/* frag builds fragment |index| of |count| of message |seq| (|total| bytes
 * of content from side 1, channel |ch|) into |out|; returns its length. */
static size_t frag(uint8_t *out, unsigned ch, uint64_t seq, size_t index,
                   size_t count, size_t total) {
  size_t base = total / count, extra = total % count;
  size_t off = index * base + (index < extra ? index : extra);
  size_t len = base + (index < extra ? 1 : 0), i;
  uint8_t *p = out;
  /* Varints below 64 are one byte; the tests keep them so, except total
   * (two bytes, 0x40 prefix, below 16384). */
  *p++ = (uint8_t)(ch << 1 | 1);
  *p++ = (uint8_t)seq;
  *p++ = (uint8_t)index;
  *p++ = (uint8_t)count;
  *p++ = (uint8_t)(0x40 | (total >> 8));
  *p++ = (uint8_t)total;
  for (i = 0; i < len; ++i) {
    *p++ = content_byte(1, ch, seq, off + i);
  }
  return (size_t)(p - out);
}

static void test_rudp_msg_reassembly_bounds(void **state) {
  static const rudp_msg_mode mode = RUDP_MSG_UNRELIABLE;
  rudp_msg_settings mset;
  rudp_msg_stats st;
  rudp_msg_channel_stats cst;
  uint8_t buf[8192];
  size_t i, len, live_after_warmup = 0;
  lone l;
  (void)state;

  rudp_msg_settings_default(&mset);
  mset.max_reassembly = 8;
  lone_new(&l, &mode, 1, &mset);
  for (i = 0; i < 60; ++i) {
    sent_push(&l.h.sd[1].sent[0], 4000, 0);
  }

  /* A message in four fragments, out of order and one duplicated:
   * delivered once, intact. */
  assert_int_equal(rudp_msg_session_get_expiry(l.ms), RUDP_TSTAMP_MAX);
  len = frag(buf, 0, 0, 3, 4, 4000);
  assert_int_equal(rudp_msg_session_handle_datagram(l.ms, buf, len), 0);
  assert_int_equal(rudp_msg_session_get_expiry(l.ms), 0 + SEC);
  len = frag(buf, 0, 0, 1, 4, 4000);
  assert_int_equal(rudp_msg_session_handle_datagram(l.ms, buf, len), 0);
  assert_int_equal(rudp_msg_session_handle_datagram(l.ms, buf, len), 0);
  len = frag(buf, 0, 0, 0, 4, 4000);
  assert_int_equal(rudp_msg_session_handle_datagram(l.ms, buf, len), 0);
  assert_int_equal(l.h.sd[0].nrecs, 0);
  len = frag(buf, 0, 0, 2, 4, 4000);
  assert_int_equal(rudp_msg_session_handle_datagram(l.ms, buf, len), 0);
  assert_int_equal(l.h.sd[0].nrecs, 1);
  assert_int_equal(l.h.sd[0].recs[0].len, 4000);
  assert_true(l.h.sd[0].recs[0].intact);
  assert_int_equal(rudp_msg_session_get_expiry(l.ms), RUDP_TSTAMP_MAX);

  /* Fifty messages that never complete: at most 8 held, the oldest
   * evicted and counted, memory flat once the slots are full. */
  for (i = 1; i <= 50; ++i) {
    len = frag(buf, 0, i, 0, 4, 4000);
    assert_int_equal(rudp_msg_session_handle_datagram(l.ms, buf, len), 0);
    rudp_msg_get_stats(l.ms, &st);
    assert_true(st.reassembly_msgs <= 8);
    assert_true(st.reassembly_bytes <= 8 * (4000 + 1));
    assert_int_equal(st.dropped_incomplete, i > 8 ? i - 8 : 0);
    if (i == 8) {
      live_after_warmup = l.tm.nlive;
    }
    if (i > 8) {
      assert_int_equal(l.tm.nlive, live_after_warmup);
    }
  }
  /* A late fragment of an evicted message is ignored, not counted again
   * nor started anew (the last 2 * max_reassembly, at least 32, evicted
   * messages are remembered). */
  len = frag(buf, 0, 40, 1, 4, 4000);
  assert_int_equal(rudp_msg_session_handle_datagram(l.ms, buf, len), 0);
  rudp_msg_get_stats(l.ms, &st);
  assert_int_equal(st.dropped_incomplete, 42);
  assert_int_equal(st.reassembly_msgs, 8);

  /* The time bound: fragments seen before the first clock reading start
   * at it; a second later all are dropped. */
  rudp_msg_session_handle_expiry(l.ms, T0);
  assert_int_equal(rudp_msg_session_get_expiry(l.ms), T0 + SEC);
  rudp_msg_session_handle_expiry(l.ms, T0 + SEC - 1);
  rudp_msg_get_stats(l.ms, &st);
  assert_int_equal(st.reassembly_msgs, 8);
  len = frag(buf, 0, 55, 0, 4, 4000); /* evicts message 43 */
  assert_int_equal(rudp_msg_session_handle_datagram(l.ms, buf, len), 0);
  rudp_msg_session_handle_expiry(l.ms, T0 + SEC);
  rudp_msg_get_stats(l.ms, &st);
  assert_int_equal(st.reassembly_msgs, 1);
  assert_int_equal(st.dropped_incomplete, 50);
  assert_int_equal(rudp_msg_session_get_expiry(l.ms), T0 + 2 * SEC - 1);
  rudp_msg_session_handle_expiry(l.ms, T0 + 2 * SEC);
  rudp_msg_get_stats(l.ms, &st);
  assert_int_equal(st.reassembly_msgs, 0);
  assert_int_equal(st.reassembly_bytes, 0);
  assert_int_equal(st.dropped_incomplete, 51);
  assert_int_equal(rudp_msg_session_get_expiry(l.ms), RUDP_TSTAMP_MAX);
  assert_int_equal(rudp_msg_get_channel_stats(l.ms, 0, &cst), 0);
  assert_int_equal(cst.dropped_incomplete, 51);
  assert_int_equal(cst.msgs_received, 1);
  lone_free(&l);
}

static void test_rudp_msg_sequenced_fragments_dropped_old(void **state) {
  static const rudp_msg_mode mode = RUDP_MSG_UNRELIABLE_SEQUENCED;
  rudp_msg_channel_stats cst;
  uint8_t buf[4096];
  size_t len, i;
  lone l;
  (void)state;

  lone_new(&l, &mode, 1, NULL);
  for (i = 0; i < 10; ++i) {
    sent_push(&l.h.sd[1].sent[0], 3000, 0);
  }
  /* Message 2 half-received, message 5 complete: 2 is dropped (old),
   * counted once even when its other fragments come, and message 4 is
   * dropped on arrival. */
  len = frag(buf, 0, 2, 0, 3, 3000);
  assert_int_equal(rudp_msg_session_handle_datagram(l.ms, buf, len), 0);
  for (i = 0; i < 3; ++i) {
    len = frag(buf, 0, 5, i, 3, 3000);
    assert_int_equal(rudp_msg_session_handle_datagram(l.ms, buf, len), 0);
  }
  assert_int_equal(l.h.sd[0].nrecs, 1);
  assert_int_equal(l.h.sd[0].recs[0].id, 5);
  assert_true(l.h.sd[0].recs[0].intact);
  assert_int_equal(rudp_msg_get_channel_stats(l.ms, 0, &cst), 0);
  assert_int_equal(cst.dropped_old, 1);
  for (i = 1; i < 3; ++i) {
    len = frag(buf, 0, 2, i, 3, 3000);
    assert_int_equal(rudp_msg_session_handle_datagram(l.ms, buf, len), 0);
  }
  for (i = 0; i < 3; ++i) {
    len = frag(buf, 0, 4, i, 3, 3000);
    assert_int_equal(rudp_msg_session_handle_datagram(l.ms, buf, len), 0);
  }
  /* A whole (unfragmented) old message: dropped too. */
  buf[0] = 0;
  buf[1] = 3;
  assert_int_equal(rudp_msg_session_handle_datagram(l.ms, buf, 2), 0);
  assert_int_equal(rudp_msg_get_channel_stats(l.ms, 0, &cst), 0);
  assert_int_equal(cst.dropped_old, 3);
  assert_int_equal(cst.msgs_received, 1);
  assert_int_equal(l.h.sd[0].nrecs, 1);
  lone_free(&l);
}

static void test_rudp_msg_errors(void **state) {
  static const rudp_msg_mode modes[] = {RUDP_MSG_RELIABLE_ORDERED,
                                        RUDP_MSG_UNRELIABLE};
  rudp_msg_mode bad[] = {RUDP_MSG_RELIABLE_ORDERED, (rudp_msg_mode)4};
  rudp_msg_settings mset;
  rudp_msg_session *ms = NULL;
  rudp_msg_channel_stats cst;
  uint8_t *big;
  lone l;
  (void)state;

  lone_new(&l, modes, 2, NULL);
  /* Constructor arguments. */
  assert_int_equal(
      rudp_msg_session_new(NULL, l.conn, modes, 2, NULL, NULL, NULL, NULL),
      RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(
      rudp_msg_session_new(&ms, NULL, modes, 2, NULL, NULL, NULL, NULL),
      RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(
      rudp_msg_session_new(&ms, l.conn, NULL, 2, NULL, NULL, NULL, NULL),
      RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(
      rudp_msg_session_new(&ms, l.conn, modes, 0, NULL, NULL, NULL, NULL),
      RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_msg_session_new(&ms, l.conn, modes,
                                        RUDP_MSG_MAX_CHANNELS + 1, NULL, NULL,
                                        NULL, NULL),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(
      rudp_msg_session_new(&ms, l.conn, bad, 2, NULL, NULL, NULL, NULL),
      RUDP_ERR_INVALID_ARGUMENT);
  rudp_msg_settings_default(&mset);
  mset.max_reassembly = 0;
  assert_int_equal(
      rudp_msg_session_new(&ms, l.conn, modes, 2, &mset, NULL, NULL, NULL),
      RUDP_ERR_INVALID_ARGUMENT);
  rudp_msg_settings_default(&mset);
  mset.datagram_payload = 10;
  assert_int_equal(
      rudp_msg_session_new(&ms, l.conn, modes, 2, &mset, NULL, NULL, NULL),
      RUDP_ERR_INVALID_ARGUMENT);
  rudp_msg_settings_default(&mset);
  mset.max_reliable_size = RUDP_MSG_MAX_RELIABLE_SIZE + 1;
  assert_int_equal(
      rudp_msg_session_new(&ms, l.conn, modes, 2, &mset, NULL, NULL, NULL),
      RUDP_ERR_INVALID_ARGUMENT);
  assert_null(ms);

  /* Send arguments. */
  assert_int_equal(rudp_msg_send(NULL, 0, (const uint8_t *)"x", 1, 0),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_msg_send(l.ms, 2, (const uint8_t *)"x", 1, 0),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_msg_send(l.ms, 0, NULL, 1, 0),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_msg_send(l.ms, 0, (const uint8_t *)"x", 1, 1),
                   RUDP_ERR_INVALID_ARGUMENT);
  /* Sizes: the limit is accepted, one byte more is not. */
  big = calloc(1, RUDP_MSG_MAX_RELIABLE_SIZE + 1);
  assert_non_null(big);
  assert_int_equal(
      rudp_msg_send(l.ms, 0, big, RUDP_MSG_MAX_RELIABLE_SIZE + 1, 0),
      RUDP_ERR_DATAGRAM_TOO_LARGE);
  assert_int_equal(
      rudp_msg_send(l.ms, 1, big, RUDP_MSG_DEFAULT_UNRELIABLE_SIZE + 1, 0),
      RUDP_ERR_DATAGRAM_TOO_LARGE);
  /* Unreliable needs an established connection; reliable queues. */
  assert_int_equal(
      rudp_msg_send(l.ms, 1, big, RUDP_MSG_DEFAULT_UNRELIABLE_SIZE, 0),
      RUDP_ERR_INVALID_STATE);
  /* An empty channel takes one message of any allowed size, beyond its
   * 4 MiB queue bound; then even an empty message must wait. */
  assert_int_equal(rudp_msg_send(l.ms, 0, big, RUDP_MSG_MAX_RELIABLE_SIZE, 0),
                   0);
  assert_int_equal(rudp_msg_send(l.ms, 0, NULL, 0, 0), RUDP_ERR_WOULDBLOCK);
  assert_int_equal(rudp_msg_send(l.ms, 0, (const uint8_t *)"x", 1, 0),
                   RUDP_ERR_WOULDBLOCK);
  free(big);
  assert_int_equal(rudp_msg_get_channel_stats(l.ms, 0, &cst), 0);
  assert_int_equal(cst.queued_msgs, 1);
  /* 16 MiB and its 4-byte length varint. */
  assert_int_equal(cst.queued_bytes, RUDP_MSG_MAX_RELIABLE_SIZE + 4);
  assert_int_equal(cst.msgs_sent, 1);
  assert_int_equal(rudp_msg_get_channel_stats(l.ms, 2, &cst),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_msg_get_channel_stats(l.ms, 0, NULL),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_msg_session_handle_stream_readable(NULL, 2),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_msg_session_handle_datagram(NULL, NULL, 0),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_ptr_equal(rudp_msg_session_get_conn(l.ms), l.conn);
  assert_ptr_equal(rudp_msg_session_get_user_data(l.ms), &l.h.sd[0]);
  assert_int_equal(rudp_msg_session_get_error(l.ms), 0);

  /* A closing connection refuses everything, and new sessions too. */
  assert_int_equal(rudp_conn_abort(l.conn, 1, NULL, T0), 0);
  assert_int_equal(rudp_msg_send(l.ms, 0, (const uint8_t *)"x", 1, 0),
                   RUDP_ERR_INVALID_STATE);
  assert_int_equal(
      rudp_msg_session_new(&ms, l.conn, modes, 2, NULL, NULL, NULL, NULL),
      RUDP_ERR_INVALID_STATE);
  lone_free(&l);
}

/* proto_case feeds one crafted datagram to a fresh session (channels:
 * reliable-ordered, unreliable) and expects |want|. */
static void proto_case(const uint8_t *d, size_t len, int want) {
  static const rudp_msg_mode modes[] = {RUDP_MSG_RELIABLE_ORDERED,
                                        RUDP_MSG_UNRELIABLE};
  lone l;
  lone_new(&l, modes, 2, NULL);
  assert_int_equal(rudp_msg_session_handle_datagram(l.ms, d, len), want);
  assert_int_equal(rudp_msg_session_get_error(l.ms), want);
  if (want != 0) {
    /* The failure sticks: nothing more is accepted or delivered. */
    static const uint8_t ok[] = {0x02, 0x00, 'h', 'i'};
    assert_int_equal(rudp_msg_session_handle_datagram(l.ms, ok, sizeof(ok)),
                     want);
    assert_int_equal(rudp_msg_send(l.ms, 0, NULL, 0, 0),
                     RUDP_ERR_INVALID_STATE);
    assert_int_equal(l.h.sd[0].nrecs, 0);
  } else {
    assert_int_equal(l.h.sd[0].nrecs, 1);
  }
  lone_free(&l);
}

static void test_rudp_msg_protocol_errors(void **state) {
  /* {channel << 1 | fragmented, seq, [index, count, total], payload} */
  static const uint8_t whole[] = {0x02, 0x07, 'o', 'k'};
  static const uint8_t reliable_ch[] = {0x00, 0x00, 'x'};
  static const uint8_t no_ch[] = {0x04, 0x00, 'x'};
  static const uint8_t no_seq[] = {0x02};
  static const uint8_t count1[] = {0x03, 0x00, 0x00, 0x01, 0x02, 'a', 'b'};
  static const uint8_t index_big[] = {0x03, 0x00, 0x02, 0x02, 0x02, 'a'};
  static const uint8_t bad_len[] = {0x03, 0x00, 0x00, 0x02, 0x04, 'a'};
  static const uint8_t count_gt_total[] = {0x03, 0x00, 0x00, 0x03, 0x02, 'a'};
  /* total 0x10001 (4-byte varint) is above the 64 KiB default. */
  static const uint8_t too_big[] = {0x03, 0x00, 0x00, 0x02, 0x80,
                                    0x01, 0x00, 0x01, 'a'};
  (void)state;

  proto_case(whole, sizeof(whole), 0);
  proto_case(reliable_ch, sizeof(reliable_ch), RUDP_ERR_PROTO);
  proto_case(no_ch, sizeof(no_ch), RUDP_ERR_PROTO);
  proto_case(no_seq, sizeof(no_seq), RUDP_ERR_PROTO);
  proto_case(NULL, 0, RUDP_ERR_PROTO);
  proto_case(count1, sizeof(count1), RUDP_ERR_PROTO);
  proto_case(index_big, sizeof(index_big), RUDP_ERR_PROTO);
  proto_case(bad_len, sizeof(bad_len), RUDP_ERR_PROTO);
  proto_case(count_gt_total, sizeof(count_gt_total), RUDP_ERR_PROTO);
  proto_case(too_big, sizeof(too_big), RUDP_ERR_PROTO);
}

static void test_rudp_msg_protocol_fragment_mismatch(void **state) {
  static const rudp_msg_mode mode = RUDP_MSG_UNRELIABLE;
  /* Two fragments of message 0 that disagree on the count. */
  static const uint8_t f1[] = {0x01, 0x00, 0x00, 0x02, 0x04, 'a', 'b'};
  static const uint8_t f2[] = {0x01, 0x00, 0x01, 0x03, 0x04, 'c'};
  lone l;
  (void)state;
  lone_new(&l, &mode, 1, NULL);
  assert_int_equal(rudp_msg_session_handle_datagram(l.ms, f1, sizeof(f1)), 0);
  assert_int_equal(rudp_msg_session_handle_datagram(l.ms, f2, sizeof(f2)),
                   RUDP_ERR_PROTO);
  lone_free(&l);
}

static void test_rudp_msg_channel_table_mismatch(void **state) {
  static const rudp_msg_mode cm[] = {RUDP_MSG_RELIABLE_ORDERED,
                                     RUDP_MSG_UNRELIABLE};
  static const rudp_msg_mode sm[] = {RUDP_MSG_RELIABLE_ORDERED,
                                     RUDP_MSG_UNRELIABLE_SEQUENCED};
  rudp_sim_link_params lp;
  rudp_conn_close_info ci;
  harness h;
  (void)state;

  memset(&lp, 0, sizeof(lp));
  lp.delay = 5 * MS;
  h_init(&h, cm, 2, &lp, 7);
  memcpy(h.modes[SRV], sm, sizeof(sm));
  h.end_at = T0 + 2 * SEC;
  h_start(&h);
  h_run(&h);
  /* The server read the client's announcement while creating its
   * session: refused, and the application aborted the connection. */
  assert_int_equal(h.sd[SRV].new_error, RUDP_ERR_PROTO);
  assert_int_equal(h.sd[SRV].handler_error, RUDP_ERR_PROTO);
  assert_true(h.sd[CLI].closed);
  assert_int_equal(h.sd[CLI].closed_error, RUDP_ERR_PEER_CLOSED);
  rudp_conn_get_close_info(h.sd[CLI].conn, &ci);
  assert_true(ci.app);
  assert_int_equal(ci.wire_error, RUDP_MSG_APP_ERROR_PROTO);
  h_free(&h);
}

static void test_rudp_msg_late_session_catches_up(void **state) {
  static const rudp_msg_mode modes[] = {RUDP_MSG_RELIABLE_ORDERED,
                                        RUDP_MSG_RELIABLE_UNORDERED};
  rudp_sim_link_params lp;
  harness h;
  size_t i;
  (void)state;

  memset(&lp, 0, sizeof(lp));
  lp.delay = 10 * MS;
  h_init(&h, modes, 2, &lp, 13);
  for (i = 0; i < 20; ++i) {
    h_plan(&h, T0, CLI, (unsigned)(i % 2), 50 + 100 * i, 0);
  }
  /* The server application takes its time: everything has arrived and
   * waits in the connection when the session is created. */
  h.server_session_at = T0 + 400 * MS;
  h.done = all_reliable_done;
  h_start(&h);
  h_run(&h);
  check_ordered(&h, CLI, SRV, 0);
  check_once(&h, CLI, SRV, 1);
  for (i = 0; i < h.sd[SRV].nrecs; ++i) {
    assert_int_equal(h.sd[SRV].recs[i].at, T0 + 400 * MS);
  }
  h_free(&h);
}

static void test_rudp_msg_writable_after_wouldblock(void **state) {
  static const rudp_msg_mode mode = RUDP_MSG_RELIABLE_ORDERED;
  rudp_sim_link_params lp;
  harness h;
  (void)state;

  memset(&lp, 0, sizeof(lp));
  lp.delay = 20 * MS;
  h_init(&h, &mode, 1, &lp, 17);
  h.mset.max_channel_queued = 10000;
  /* 4002 wire bytes each: two fit, the third is refused. */
  h_plan(&h, T0 + 300 * MS, CLI, 0, 4000, 0);
  h_plan(&h, T0 + 300 * MS, CLI, 0, 4000, 0);
  h_plan(&h, T0 + 300 * MS, CLI, 0, 4000, 0);
  h_plan(&h, T0 + 301 * MS, CLI, 0, 4000, 0);
  h.end_at = T0 + 2 * SEC;
  h_start(&h);
  h_run(&h);
  assert_int_equal(h.plan[0].rv, 0);
  assert_int_equal(h.plan[1].rv, 0);
  assert_int_equal(h.plan[2].rv, RUDP_ERR_WOULDBLOCK);
  assert_int_equal(h.plan[3].rv, RUDP_ERR_WOULDBLOCK);
  /* One notice for the episode, once the acknowledgements came. */
  assert_int_equal(h.sd[CLI].writable_calls, 1);
  check_ordered(&h, CLI, SRV, 0);
  assert_int_equal(h.sd[CLI].sent[0].n, 2);
  h_free(&h);
}

static void test_rudp_msg_del_with_data_in_flight(void **state) {
  static const rudp_msg_mode modes[] = {RUDP_MSG_RELIABLE_ORDERED,
                                        RUDP_MSG_RELIABLE_UNORDERED};
  rudp_sim_link_params lp;
  harness h;
  size_t i;
  (void)state;

  memset(&lp, 0, sizeof(lp));
  lp.delay = 30 * MS;
  h_init(&h, modes, 2, &lp, 19);
  for (i = 0; i < 10; ++i) {
    h_plan(&h, T0 + 300 * MS, CLI, (unsigned)(i % 2), 50 * KB, 0);
  }
  /* Deleted while most of it is unacknowledged: the connection keeps
   * sending from the orphaned buffers and frees them when done. */
  h.del_client_session_at = T0 + 310 * MS;
  h.end_at = T0 + 5 * SEC;
  h_start(&h);
  h_run(&h);
  assert_null(h.sd[CLI].ms);
  assert_null(rudp_conn_get_user_data(h.sd[CLI].conn));
  /* Everything arrived, and was acknowledged: no orphan is left. */
  assert_int_equal(count_ch(&h.sd[SRV], 0) + count_ch(&h.sd[SRV], 1), 10);
  assert_int_equal(h.sd[CLI].tm.nlive, 0);
  h_free(&h);
}

static void test_rudp_msg_del_orphans_freed_by_conn_del(void **state) {
  static const rudp_msg_mode mode = RUDP_MSG_RELIABLE_ORDERED;
  rudp_sim_link_params lp;
  harness h;
  (void)state;

  memset(&lp, 0, sizeof(lp));
  lp.delay = 30 * MS;
  h_init(&h, &mode, 1, &lp, 29);
  h_plan(&h, T0 + 300 * MS, CLI, 0, 200 * KB, 0);
  h.end_at = T0 + 320 * MS;
  h_start(&h);
  h_run(&h);
  /* In flight: the session goes, its buffer stays with the connection. */
  rudp_msg_session_del(h.sd[CLI].ms);
  h.sd[CLI].ms = NULL;
  assert_int_equal(h.sd[CLI].tm.nlive, 1);
  /* h_free deletes the connection, which releases it: nlive 0. */
  h_free(&h);
}

/* Channel priorities: a 64 kB message on channel 1 sent with 4 x 128 kB
 * on channel 0 arrives after all of them when channel 1 is at urgency 7,
 * before the first of them when channel 0 is (the receiver's windows
 * hold it all).  The priority is set after
 * the channels' streams were opened (by a first message each), so it
 * reaches open streams; an unreliable channel refuses it. */
static void test_rudp_msg_channel_priority(void **state) {
  static const rudp_msg_mode modes[] = {RUDP_MSG_RELIABLE_ORDERED,
                                        RUDP_MSG_RELIABLE_ORDERED,
                                        RUDP_MSG_UNRELIABLE};
  rudp_sim_link_params lp;
  int round;
  (void)state;
  memset(&lp, 0, sizeof(lp));
  lp.delay = 10 * MS;
  for (round = 0; round < 2; ++round) {
    harness h;
    size_t i, pos1 = SIZE_MAX, first0 = SIZE_MAX, last0 = 0;
    h_init(&h, modes, 3, &lp, 31);
    /* Credit for everything: a stream held back by flow control would let
     * a less urgent one send (the scheduler only orders what may go). */
    h.sset.initial_max_stream_data = 4 << 20;
    h.sset.initial_max_data = 8 << 20;
    h_plan(&h, T0 + 200 * MS, CLI, 0, 100, 0);
    h_plan(&h, T0 + 200 * MS, CLI, 1, 100, 0);
    for (i = 0; i < 4; ++i) {
      h_plan(&h, T0 + 500 * MS, CLI, 0, 128 * KB, 0);
    }
    h_plan(&h, T0 + 500 * MS, CLI, 1, 64 * KB, 0);
    h.end_at = T0 + 400 * MS;
    h_start(&h);
    h_run(&h);
    assert_int_equal(h.sd[SRV].nrecs, 2);
    assert_int_equal(rudp_msg_session_set_channel_priority(
                         h.sd[CLI].ms, round == 0 ? 1 : 0, 7, 1),
                     0);
    assert_int_equal(
        rudp_msg_session_set_channel_priority(h.sd[CLI].ms, 2, 0, 1),
        RUDP_ERR_INVALID_ARGUMENT);
    assert_int_equal(
        rudp_msg_session_set_channel_priority(h.sd[CLI].ms, 3, 0, 1),
        RUDP_ERR_INVALID_ARGUMENT);
    assert_int_equal(
        rudp_msg_session_set_channel_priority(h.sd[CLI].ms, 0, 8, 1),
        RUDP_ERR_INVALID_ARGUMENT);
    assert_int_equal(rudp_msg_session_set_channel_priority(NULL, 0, 0, 1),
                     RUDP_ERR_INVALID_ARGUMENT);
    h.end_at = T0 + 60 * SEC;
    h.done = all_reliable_done;
    h_run(&h);
    check_ordered(&h, CLI, SRV, 0);
    check_ordered(&h, CLI, SRV, 1);
    for (i = 0; i < h.sd[SRV].nrecs; ++i) {
      const rec *r = &h.sd[SRV].recs[i];
      if (r->ch == 1 && r->id == 1) {
        pos1 = i;
      } else if (r->ch == 0 && r->id >= 1) {
        first0 = first0 == SIZE_MAX ? i : first0;
        last0 = i;
      }
    }
    assert_true(pos1 < h.sd[SRV].nrecs);
    if (round == 0) {
      assert_true(pos1 > last0);
    } else {
      assert_true(pos1 < first0);
    }
    h_free(&h);
  }
}

/* A reliable-unordered channel made non-incremental sends its messages
 * one at a time: 8 messages of 64 kB sent together complete in send
 * order, the first after about an eighth of the transfer, where by
 * default they are interleaved and even the first completes near the
 * end. */
static void test_rudp_msg_channel_unordered_sequential(void **state) {
  static const rudp_msg_mode mode = RUDP_MSG_RELIABLE_UNORDERED;
  rudp_sim_link_params lp;
  rudp_duration first[2], last[2];
  int round;
  (void)state;
  memset(&lp, 0, sizeof(lp));
  lp.delay = 10 * MS;
  /* A 8 Mbit/s bottleneck: the transfer takes a time proportional to
   * its bytes (not to slow start's round trips). */
  lp.rate = 8000000;
  for (round = 0; round < 2; ++round) {
    harness h;
    rudp_tstamp at = T0 + 500 * MS;
    size_t i;
    h_init(&h, &mode, 1, &lp, 37);
    for (i = 0; i < 8; ++i) {
      h_plan(&h, at, CLI, 0, 64 * KB, 0);
    }
    h.done = all_reliable_done;
    h_start(&h);
    if (round == 1) {
      assert_int_equal(
          rudp_msg_session_set_channel_priority(h.sd[CLI].ms, 0, 3, 0), 0);
    }
    h_run(&h);
    /* Each message once and intact (in send order: checked below). */
    (void)check_once(&h, CLI, SRV, 0);
    assert_int_equal(h.sd[SRV].nrecs, 8);
    first[round] = h.sd[SRV].recs[0].at - at;
    last[round] = h.sd[SRV].recs[7].at - at;
    if (round == 1) {
      for (i = 0; i < 8; ++i) {
        assert_int_equal(h.sd[SRV].recs[i].id, i);
      }
    }
    h_free(&h);
  }
  /* The same transfer either way (about 555 ms), but the first message
   * completes within its first quarter (88 ms) one at a time, and in the
   * last quarter (549 ms) interleaved. */
  assert_true(last[1] <= last[0] + last[0] / 10);
  assert_true(first[0] > last[0] * 3 / 4);
  assert_true(first[1] < last[1] / 4);
}

/* QB_* are the datagram lengths of the queued-bytes scenario: a 100-byte
 * message whole (channel and sequence varints, 1 byte each), and each of
 * the 3 fragments of a 3000-byte one at the 1152-byte fragment size (5
 * header bytes: channel, seq, index, count, and total on 2; 1000 bytes of
 * payload). */
#define QB_WHOLE 102u
#define QB_FRAG 1006u

/* qb_check asserts the session's queued figures: channel 0
 * (unreliable-sequenced) |m0| messages of |b0| bytes, channel 1
 * (unreliable) |m1| of |b1|, channel 2 (reliable-ordered) |m2| of |b2|,
 * and the session's totals their sums. */
static void qb_check(rudp_msg_session *ms, uint64_t m0, uint64_t b0,
                     uint64_t m1, uint64_t b1, uint64_t m2, uint64_t b2) {
  rudp_msg_channel_stats c;
  rudp_msg_stats st;
  rudp_msg_get_stats(ms, &st);
  assert_int_equal(st.queued_msgs, m0 + m1 + m2);
  assert_int_equal(st.queued_bytes, b0 + b1 + b2);
  assert_int_equal(rudp_msg_get_channel_stats(ms, 0, &c), 0);
  assert_int_equal(c.queued_msgs, m0);
  assert_int_equal(c.queued_bytes, b0);
  assert_int_equal(rudp_msg_get_channel_stats(ms, 1, &c), 0);
  assert_int_equal(c.queued_msgs, m1);
  assert_int_equal(c.queued_bytes, b1);
  assert_int_equal(rudp_msg_get_channel_stats(ms, 2, &c), 0);
  assert_int_equal(c.queued_msgs, m2);
  assert_int_equal(c.queued_bytes, b2);
}

/* qb_write_one has the client's connection write one packet (thrown
 * away) and returns how many datagrams its queue still holds. */
static uint64_t qb_write_one(harness *h) {
  uint8_t buf[2048];
  rudp_conn_stats cs;
  int tries;
  for (tries = 0; tries < 100; ++tries) {
    rudp_ssize n =
        rudp_conn_write_pkt(h->sd[CLI].conn, buf, sizeof(buf), h->net.now);
    assert_true(n >= 0);
    if (n > 0) {
      break;
    }
    h->net.now += MS; /* paced: a little later */
  }
  assert_true(tries < 100);
  rudp_conn_get_stats(h->sd[CLI].conn, &cs);
  return cs.datagrams_queued;
}

/* queued_msgs / queued_bytes count unreliable messages while a datagram
 * of theirs waits in the connection's datagram queue: exactly, per
 * channel, through the queue's overflow (oldest dropped), packet by
 * packet as the queue drains, with datagrams the application queued
 * before the session was created ahead of the session's, and they stop
 * counting unreliable messages once the application sends datagrams
 * behind the session's back. */
static void test_rudp_msg_unreliable_queued_bytes(void **state) {
  static const rudp_msg_mode modes[] = {RUDP_MSG_UNRELIABLE_SEQUENCED,
                                        RUDP_MSG_UNRELIABLE,
                                        RUDP_MSG_RELIABLE_ORDERED};
  static const uint8_t zeros[3000];
  rudp_sim_link_params lp;
  rudp_msg_stats st;
  rudp_conn_stats cs;
  rudp_msg_session *ms;
  uint64_t k;
  size_t i;
  int partial = 0;
  harness h;
  (void)state;

  memset(&lp, 0, sizeof(lp));
  lp.delay = 10 * MS;
  h_init(&h, modes, 3, &lp, 53);
  h.cset.datagram_queue_len = 4;
  h.end_at = T0 + 500 * MS;
  h_start(&h);
  h_run(&h);
  ms = h.sd[CLI].ms;
  qb_check(ms, 0, 0, 0, 0, 0, 0);

  /* Five whole messages into a queue of 4: the first is pushed out. */
  for (i = 0; i < 5; ++i) {
    assert_int_equal(rudp_msg_send(ms, 1, zeros, 100, 0), 0);
  }
  rudp_msg_get_stats(ms, &st);
  assert_int_equal(st.datagram_payload, 1152);
  assert_int_equal(st.datagrams_overflowed, 1);
  qb_check(ms, 0, 0, 4, 4 * QB_WHOLE, 0, 0);
  /* A message in 3 fragments pushes out 3 more; a reliable one. */
  assert_int_equal(rudp_msg_send(ms, 0, zeros, 3000, 0), 0);
  assert_int_equal(rudp_msg_send(ms, 2, zeros, 50, 0), 0);
  rudp_msg_get_stats(ms, &st);
  assert_int_equal(st.datagrams_overflowed, 4);
  qb_check(ms, 1, 3 * QB_FRAG, 1, QB_WHOLE, 1, 51);
  rudp_conn_get_stats(h.sd[CLI].conn, &cs);
  assert_int_equal(cs.datagrams_queued, 4);
  assert_int_equal(cs.datagram_bytes_queued, 3 * QB_FRAG + QB_WHOLE);

  /* Packet by packet (datagrams first): the queue holds its newest k,
   * and the figures follow; the fragmented message counts once until its
   * last fragment left. */
  assert_int_equal(rudp_conn_set_datagram_urgency(h.sd[CLI].conn, 0), 0);
  do {
    k = qb_write_one(&h);
    assert_true(k <= 4);
    qb_check(ms, k > 0, rudp_min(k, 3) * QB_FRAG, k == 4, k == 4 ? QB_WHOLE : 0,
             1, 51);
    partial |= k == 1 || k == 2;
  } while (k > 0);
  assert_true(partial);

  /* The application sends a datagram itself: the session can no longer
   * tell its own from the others, and stops counting unreliable
   * messages (reliable ones still count). */
  assert_int_equal(rudp_msg_send(ms, 1, zeros, 100, 0), 0);
  qb_check(ms, 0, 0, 1, QB_WHOLE, 1, 51);
  assert_int_equal(rudp_conn_send_datagram(h.sd[CLI].conn, zeros, 10), 0);
  qb_check(ms, 0, 0, 0, 0, 1, 51);
  assert_int_equal(rudp_msg_send(ms, 1, zeros, 100, 0), 0);
  qb_check(ms, 0, 0, 0, 0, 1, 51);

  /* A new session on the connection, whose queue holds 3 datagrams it
   * did not queue (2 of the old session, the application's one): they
   * leave first, its own message counts exactly throughout. */
  rudp_msg_session_del(ms);
  assert_int_equal(make_session(&h.sd[CLI]), 0);
  ms = h.sd[CLI].ms;
  rudp_conn_set_user_data(h.sd[CLI].conn, ms);
  qb_check(ms, 0, 0, 0, 0, 0, 0);
  assert_int_equal(rudp_msg_send(ms, 1, zeros, 100, 0), 0);
  qb_check(ms, 0, 0, 1, QB_WHOLE, 0, 0);
  do {
    k = qb_write_one(&h);
    qb_check(ms, 0, 0, k > 0, k > 0 ? QB_WHOLE : 0, 0, 0);
  } while (k > 0);
  /* The mirror still works once the others are gone: an exact count. */
  assert_int_equal(rudp_msg_send(ms, 0, zeros, 3000, 0), 0);
  qb_check(ms, 1, 3 * QB_FRAG, 0, 0, 0, 0);
  h_free(&h);
}

/* INPUT_*: the input-vs-bulk scenario.  Inputs of 64 bytes at 60 Hz
 * for 3 s on channel 0 (reliable-ordered) while channel 1
 * (reliable-unordered) downloads 100 messages of 64 kB, all on one
 * connection, client to server, over 20 ms each way through a 10 Mbit/s
 * bottleneck whose drop-tail queue holds 25 000 bytes (20 ms). */
#define INPUT_N 180
#define INPUT_START (T0 + 2 * SEC)
#define INPUT_ONE_WAY (20 * MS)
#define INPUT_RATE 10000000
#define INPUT_QUEUE 25000
#define INPUT_BULK_MSGS 100

/* input_run runs the scenario, the input channel at urgency 0 when
 * |urgent| (else both at the default 3), and fills |lat| with each
 * input's one-way latency (delivery minus send); returns when the last
 * bulk message arrived. */
static rudp_tstamp input_run(int urgent, rudp_duration *lat) {
  static const rudp_msg_mode modes[] = {RUDP_MSG_RELIABLE_ORDERED,
                                        RUDP_MSG_RELIABLE_UNORDERED};
  rudp_sim_link_params lp;
  rudp_tstamp bulk_done = 0;
  rudp_conn_stats cs;
  harness h;
  size_t i;

  memset(&lp, 0, sizeof(lp));
  lp.delay = INPUT_ONE_WAY;
  lp.rate = INPUT_RATE;
  lp.queue_limit = INPUT_QUEUE;
  h_init(&h, modes, 2, &lp, 47);
  /* What a game uses on both sides (docs/PRIORITIES.md). */
  rudp_settings_low_latency(&h.cset);
  rudp_settings_low_latency(&h.sset);
  /* The receiver's windows never hold the bulk back: the congestion
   * window does. */
  h.sset.initial_max_data = 64 << 20;
  h.sset.initial_max_stream_data = 1 << 20;
  h.mset.max_channel_queued = 64 << 20;
  for (i = 0; i < INPUT_BULK_MSGS; ++i) {
    h_plan(&h, T0 + 1 * SEC, CLI, 1, 64 * KB, 0);
  }
  for (i = 0; i < INPUT_N; ++i) {
    h_plan(&h, INPUT_START + i * SEC / 60, CLI, 0, 64, 0);
  }
  h.done = all_reliable_done;
  h_start(&h);
  if (urgent) {
    assert_int_equal(
        rudp_msg_session_set_channel_priority(h.sd[CLI].ms, 0, 0, 1), 0);
  }
  h_run(&h);
  for (i = 0; i < h.nplan; ++i) {
    assert_int_equal(h.plan[i].rv, 0);
  }
  check_ordered(&h, CLI, SRV, 0);
  (void)check_once(&h, CLI, SRV, 1);
  /* The download filled the path: its queue overflowed and the window
   * was cut. */
  rudp_conn_get_stats(h.sd[CLI].conn, &cs);
  assert_true(cs.pkts_lost > 0);
  assert_true(cs.congestion_events > 0);
  for (i = 0; i < INPUT_N; ++i) {
    lat[i] = UINT64_MAX; /* not delivered */
  }
  for (i = 0; i < h.sd[SRV].nrecs; ++i) {
    const rec *r = &h.sd[SRV].recs[i];
    if (r->ch == 0) {
      lat[r->id] = r->at - (INPUT_START + r->id * SEC / 60);
    } else {
      bulk_done = rudp_max(bulk_done, r->at);
    }
  }
  h_free(&h);
  return bulk_done;
}

static int cmp_duration(const void *a, const void *b) {
  rudp_duration x = *(const rudp_duration *)a, y = *(const rudp_duration *)b;
  return x < y ? -1 : x > y;
}

/* A game's input channel is not queued behind a bulk download on the
 * same connection: at urgency 0 every input arrives within one-way delay
 * + one RTT of being sent (20 + 40 = 60 ms), while the download keeps the
 * congestion window full (the bottleneck's queue overflows) all along.
 * At equal priorities the inputs take turns with the download's streams,
 * one per message in flight (up to the peer's 100), a round of them
 * being about 100 packets (96 ms at 10 Mbit/s): most inputs miss the
 * bound.
 *
 * The bound: an urgent input goes in the next packet the congestion
 * window lets out (the scheduler puts it before any bulk byte, and the
 * window opens with every ACK), then waits in the bottleneck's queue
 * behind the packets already sent (priorities order what is sent, not
 * what is in flight: at most 20 ms here, half the RTT) and crosses the
 * one-way delay: 40 ms at most, leaving half an RTT for the ACK clock
 * after a window reduction.  An input whose packet is lost needs one
 * more RTT (about 65 ms measured with 1% random loss added): the
 * drop-tail losses of this run hit none. */
static void test_rudp_msg_input_not_behind_bulk(void **state) {
  rudp_duration urgent[INPUT_N], equal[INPUT_N];
  const rudp_duration bound = INPUT_ONE_WAY + 2 * INPUT_ONE_WAY;
  rudp_tstamp done_urgent, done_equal;
  size_t i, over = 0;
  (void)state;

  done_urgent = input_run(1, urgent);
  done_equal = input_run(0, equal);
  for (i = 0; i < INPUT_N; ++i) {
    over += equal[i] > bound;
  }
  qsort(urgent, INPUT_N, sizeof(*urgent), cmp_duration);
  qsort(equal, INPUT_N, sizeof(*equal), cmp_duration);
  printf("input latency ms, urgent: p50 %.1f p99 %.1f max %.1f; equal: "
         "p50 %.1f p99 %.1f max %.1f (%zu of %d over %.0f ms); download "
         "done at +%.2f s and +%.2f s\n",
         (double)urgent[INPUT_N / 2] / 1e6,
         (double)urgent[INPUT_N * 99 / 100] / 1e6,
         (double)urgent[INPUT_N - 1] / 1e6, (double)equal[INPUT_N / 2] / 1e6,
         (double)equal[INPUT_N * 99 / 100] / 1e6,
         (double)equal[INPUT_N - 1] / 1e6, over, INPUT_N, (double)bound / 1e6,
         (double)(done_urgent - T0) / 1e9, (double)(done_equal - T0) / 1e9);
  /* The download outlasts the inputs in both runs: they competed with it
   * the whole time. */
  assert_true(done_urgent > INPUT_START + INPUT_N * SEC / 60);
  assert_true(done_equal > INPUT_START + INPUT_N * SEC / 60);
  for (i = 0; i < INPUT_N; ++i) {
    assert_true(urgent[i] >= INPUT_ONE_WAY);
    assert_true(urgent[i] <= bound);
  }
  /* At equal priorities the bound fails for most inputs. */
  assert_true(over > INPUT_N / 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_msg_reliable_ordered_lossy),
      cmocka_unit_test(test_rudp_msg_reliable_unordered_no_hol),
      cmocka_unit_test(test_rudp_msg_reliable_unordered_lossy),
      cmocka_unit_test(test_rudp_msg_unreliable_lossy),
      cmocka_unit_test(test_rudp_msg_unreliable_sequenced),
      cmocka_unit_test(test_rudp_msg_sequenced_fragments_lossy),
      cmocka_unit_test(test_rudp_msg_zero_length_and_all_modes),
      cmocka_unit_test(test_rudp_msg_reassembly_bounds),
      cmocka_unit_test(test_rudp_msg_sequenced_fragments_dropped_old),
      cmocka_unit_test(test_rudp_msg_errors),
      cmocka_unit_test(test_rudp_msg_protocol_errors),
      cmocka_unit_test(test_rudp_msg_protocol_fragment_mismatch),
      cmocka_unit_test(test_rudp_msg_channel_table_mismatch),
      cmocka_unit_test(test_rudp_msg_late_session_catches_up),
      cmocka_unit_test(test_rudp_msg_writable_after_wouldblock),
      cmocka_unit_test(test_rudp_msg_del_with_data_in_flight),
      cmocka_unit_test(test_rudp_msg_del_orphans_freed_by_conn_del),
      cmocka_unit_test(test_rudp_msg_channel_priority),
      cmocka_unit_test(test_rudp_msg_channel_unordered_sequential),
      cmocka_unit_test(test_rudp_msg_input_not_behind_bulk),
      cmocka_unit_test(test_rudp_msg_unreliable_queued_bytes),
  };
  return cmocka_run_group_tests_name("msg", tests, NULL, NULL);
}
