/*
 * Memory bounds (issue 9, docs/SECURITY.md "Resource limits"): what an
 * endpoint, an idle connection and a half-open connection cost, counted
 * byte by byte through a `rudp_mem`, and that closing connections gives
 * the memory back.
 *
 * Byte counts, not timings: two endpoints exchange datagrams in memory on
 * a virtual clock, so every figure is the same on every run and machine
 * (for one build of the library).  Each bound is about 1.5 times the
 * figure measured when it was written (given next to it): a change that
 * makes a connection much larger fails here and must update the bound and
 * docs/SECURITY.md together.  bench/rudp_bench_idle measures the same
 * figures over real sockets, and TLS mode's (OpenSSL's allocations do not
 * go through `rudp_mem`).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <rudp/rudp.h>

#include "rudp_test_helper.h"

#define MS RUDP_MILLISECONDS
#define SEC RUDP_SECONDS
/* NCONN connections per measurement: enough to average the tables that
 * grow by doubling, few enough for a fast test under ASan. */
#define NCONN 100
/* One-way delay of the in-memory network. */
#define DELAY (1 * MS)

/* ------------------------------------------------------------ network */

/* A datagram in flight (the network's own memory, not counted). */
typedef struct dg {
  struct dg *next;
  int to_server;
  size_t len;
  uint8_t data[];
} dg;

/* A server endpoint, a client endpoint and the datagrams between them.
 * Every datagram flushed in one step arrives DELAY later. */
typedef struct pair {
  rudp_endpoint *srv, *cli;
  /* msrv, mcli count each endpoint's bytes (live_bytes) and blocks
   * (nlive). */
  rudp_test_mem msrv, mcli;
  struct sockaddr_in asrv, acli;
  rudp_test_rng rng;
  rudp_tstamp now;
  dg *head, **tail;
  /* drop_to_client: what the server sends is lost (half-open). */
  int drop_to_client;
  /* Connections: the client's, and those the server accepted. */
  rudp_conn *cconns[NCONN], *sconns[NCONN];
  size_t ncconns, nsconns, nestablished, nclosed;
} pair;

static int pair_rand(uint8_t *dest, size_t len, void *ud) {
  pair *p = ud;
  rudp_test_rng_fill(&p->rng, dest, len);
  return 0;
}

static int pair_accept_ready(rudp_endpoint *ep, void *ud) {
  pair *p = ud;
  rudp_conn *conn;
  while ((conn = rudp_endpoint_accept(ep)) != NULL) {
    assert_true(p->nsconns < NCONN);
    p->sconns[p->nsconns++] = conn;
  }
  return 0;
}

static int pair_handshake_completed(rudp_conn *conn, void *ud) {
  (void)conn;
  /* Only client connections carry user data (the pair). */
  if (ud) {
    ++((pair *)ud)->nestablished;
  }
  return 0;
}

static void pair_closed(rudp_conn *conn, int error, void *ud) {
  (void)conn;
  /* Every close here is a clean one the test asked for. */
  assert_int_equal(error, 0);
  if (ud) {
    ++((pair *)ud)->nclosed;
  }
}

static const rudp_callbacks pair_callbacks = {
    .handshake_completed = pair_handshake_completed, .closed = pair_closed};

static void addr4(struct sockaddr_in *sin, const char *ip, uint16_t port) {
  memset(sin, 0, sizeof(*sin));
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
}

/* pair_new makes both endpoints with default settings. */
static pair *pair_new(void) {
  static const rudp_endpoint_callbacks srvcb = {pair_rand, pair_accept_ready,
                                                NULL};
  static const rudp_endpoint_callbacks clicb = {pair_rand, NULL, NULL};
  rudp_endpoint_settings st;
  pair *p = calloc(1, sizeof(*p));
  assert_non_null(p);
  rudp_test_mem_init(&p->msrv);
  rudp_test_mem_init(&p->mcli);
  addr4(&p->asrv, "127.0.0.1", 4433);
  addr4(&p->acli, "127.0.0.2", 50000);
  rudp_test_rng_init(&p->rng, 9);
  p->now = 1000 * SEC;
  p->tail = &p->head;
  rudp_endpoint_settings_default(&st);
  st.listen = 1;
  assert_int_equal(rudp_endpoint_new(&p->srv, &st, &srvcb, &pair_callbacks,
                                     &p->msrv.mem, p, p->now),
                   0);
  st.listen = 0;
  assert_int_equal(rudp_endpoint_new(&p->cli, &st, &clicb, &pair_callbacks,
                                     &p->mcli.mem, p, p->now),
                   0);
  return p;
}

/* pair_del frees everything; each endpoint's memory must all come back. */
static void pair_del(pair *p) {
  while (p->head) {
    dg *d = p->head;
    p->head = d->next;
    free(d);
  }
  rudp_endpoint_del(p->srv);
  rudp_endpoint_del(p->cli);
  assert_int_equal(p->msrv.live_bytes, 0);
  assert_int_equal(p->msrv.nlive, 0);
  assert_int_equal(p->mcli.live_bytes, 0);
  assert_int_equal(p->mcli.nlive, 0);
  free(p);
}

static void pair_flush(pair *p, rudp_endpoint *ep, int to_server) {
  /* Room for path MTU probes (up to 16 KiB by default), as on loopback. */
  static uint8_t buf[65536];
  struct sockaddr_storage to;
  socklen_t tolen;
  rudp_ssize n;
  while ((n = rudp_endpoint_write(ep, buf, sizeof(buf), &to, &tolen, p->now)) >
         0) {
    dg *d;
    if (!to_server && p->drop_to_client) {
      continue;
    }
    d = malloc(sizeof(*d) + (size_t)n);
    assert_non_null(d);
    d->next = NULL;
    d->to_server = to_server;
    d->len = (size_t)n;
    memcpy(d->data, buf, (size_t)n);
    *p->tail = d;
    p->tail = &d->next;
  }
  assert_int_equal(n, 0);
}

/*
 * pair_step sends what both endpoints have and delivers it DELAY later, or
 * advances the clock to the next timer.  Returns 0 when nothing is left to
 * do before |limit|.
 */
static int pair_step(pair *p, rudp_tstamp limit) {
  dg *d;
  rudp_tstamp t;
  pair_flush(p, p->cli, 1);
  pair_flush(p, p->srv, 0);
  if (p->head) {
    p->now += DELAY;
    d = p->head;
    p->head = NULL;
    p->tail = &p->head;
    while (d) {
      dg *next = d->next;
      const struct sockaddr_in *from = d->to_server ? &p->acli : &p->asrv;
      assert_int_equal(rudp_endpoint_read(d->to_server ? p->srv : p->cli,
                                          d->data, d->len,
                                          (const struct sockaddr *)from,
                                          sizeof(*from), p->now),
                       0);
      free(d);
      d = next;
    }
  } else {
    t = rudp_endpoint_get_expiry(p->srv);
    if (rudp_endpoint_get_expiry(p->cli) < t) {
      t = rudp_endpoint_get_expiry(p->cli);
    }
    if (t > limit) {
      p->now = limit;
      return 0;
    }
    if (t > p->now) {
      p->now = t;
    }
  }
  if (rudp_endpoint_get_expiry(p->srv) <= p->now) {
    assert_int_equal(rudp_endpoint_handle_expiry(p->srv, p->now), 0);
  }
  if (rudp_endpoint_get_expiry(p->cli) <= p->now) {
    assert_int_equal(rudp_endpoint_handle_expiry(p->cli, p->now), 0);
  }
  return 1;
}

/* pair_run runs the network for |d| of virtual time. */
static void pair_run(pair *p, rudp_duration d) {
  rudp_tstamp limit = p->now + d;
  size_t guard = 0;
  while (pair_step(p, limit)) {
    assert_true(++guard < 1000000);
  }
}

static uint64_t pair_conns(const rudp_endpoint *ep) {
  rudp_endpoint_stats st;
  rudp_endpoint_get_stats(ep, &st);
  return st.connections;
}

/* pair_connect starts |n| client connections. */
static void pair_connect(pair *p, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    assert_int_equal(rudp_endpoint_connect(p->cli,
                                           (const struct sockaddr *)&p->asrv,
                                           sizeof(p->asrv), NULL, p,
                                           &p->cconns[p->ncconns], p->now),
                     0);
    ++p->ncconns;
  }
}

/*
 * pair_open_idle opens NCONN connections, waits until both sides have
 * them all, then lets them idle for 5 s of virtual time: the handshake's
 * ACKs and the path MTU search (four probes) are over, nothing is in
 * flight, and the idle timeout (30 s) is far.
 */
static void pair_open_idle(pair *p) {
  rudp_tstamp limit;
  size_t guard = 0, i;
  p->ncconns = p->nsconns = p->nestablished = p->nclosed = 0;
  pair_connect(p, NCONN);
  limit = p->now + 5 * SEC;
  while ((p->nestablished < NCONN || p->nsconns < NCONN) &&
         pair_step(p, limit)) {
    assert_true(++guard < 1000000);
  }
  assert_int_equal(p->nestablished, NCONN);
  assert_int_equal(p->nsconns, NCONN);
  pair_run(p, 5 * SEC);
  assert_int_equal(pair_conns(p->srv), NCONN);
  assert_int_equal(pair_conns(p->cli), NCONN);
  /* The state measured: the search reached 16 KiB datagrams (as on
   * loopback), nothing buffered or queued. */
  for (i = 0; i < NCONN; ++i) {
    rudp_conn_stats cs, ss;
    rudp_conn_get_stats(p->cconns[i], &cs);
    rudp_conn_get_stats(p->sconns[i], &ss);
    assert_int_equal(cs.pmtu, 16384);
    assert_int_equal(ss.pmtu, 16384);
    assert_int_equal(cs.send_buffered + ss.send_buffered, 0);
    assert_int_equal(cs.datagrams_queued + ss.datagrams_queued, 0);
  }
}

/* pair_close_all closes every client connection gracefully and runs until
 * both endpoints freed them (CONNECTION_CLOSE, then 3 PTO). */
static void pair_close_all(pair *p) {
  size_t i;
  for (i = 0; i < p->ncconns; ++i) {
    assert_int_equal(rudp_conn_close(p->cconns[i], p->now), 0);
  }
  pair_run(p, 10 * SEC);
  assert_int_equal(p->nclosed, NCONN);
  assert_int_equal(pair_conns(p->srv), 0);
  assert_int_equal(pair_conns(p->cli), 0);
}

/* ------------------------------------------------------------ tests */

/*
 * The bounds, each about 1.5 times the figure this test measured when it
 * was written (default settings, x86-64, 2026-11-27):
 *
 *   endpoint, no connection (server or client)       26,688 B
 *   idle established connection (server or client)    9,730 B
 *   half-open connection on the server                 9,666 B
 *   tables kept after 100 connections closed           9,088 B
 *
 * The per-connection figures include the endpoint's share of its tables
 * (connection-ID maps and timer heap, grown by doubling) for 100
 * connections; bench/rudp_bench_idle gives the same figures for 10,000
 * over real sockets.
 */
#define ENDPOINT_MAX 40000
#define IDLE_CONN_MAX 14600
#define HALF_OPEN_MAX 14500
#define TABLES_MAX 13600

/* An endpoint with default settings, before any connection. */
static void test_rudp_memory_endpoint(void **state) {
  pair *p = pair_new();
  (void)state;
  print_message("endpoint: server %lld B in %lld blocks, client %lld B in "
                "%lld blocks\n",
                (long long)p->msrv.live_bytes, (long long)p->msrv.nlive,
                (long long)p->mcli.live_bytes, (long long)p->mcli.nlive);
  assert_true(p->msrv.live_bytes > 0 && p->msrv.live_bytes <= ENDPOINT_MAX);
  assert_true(p->mcli.live_bytes > 0 && p->mcli.live_bytes <= ENDPOINT_MAX);
  pair_del(p);
}

/* An idle established plain connection, each side. */
static void test_rudp_memory_idle_connection(void **state) {
  pair *p = pair_new();
  int64_t s0 = (int64_t)p->msrv.live_bytes, c0 = (int64_t)p->mcli.live_bytes,
          sper, cper;
  (void)state;
  pair_open_idle(p);
  sper = (p->msrv.live_bytes - s0) / NCONN;
  cper = (p->mcli.live_bytes - c0) / NCONN;
  print_message("idle connection: server %lld B, client %lld B\n",
                (long long)sper, (long long)cper);
  assert_true(sper > 0 && sper <= IDLE_CONN_MAX);
  assert_true(cper > 0 && cper <= IDLE_CONN_MAX);
  pair_del(p);
}

/* A half-open connection on the server: CONNECT received and answered,
 * the answer lost, the client never heard of again. */
static void test_rudp_memory_half_open(void **state) {
  pair *p = pair_new();
  int64_t s0 = p->msrv.live_bytes, sper;
  rudp_endpoint_stats st;
  (void)state;
  p->drop_to_client = 1;
  pair_connect(p, NCONN);
  /* One step: the CONNECTs arrive, the server answers (lost). */
  pair_step(p, p->now + SEC);
  pair_flush(p, p->srv, 0);
  rudp_endpoint_get_stats(p->srv, &st);
  assert_int_equal(st.half_open, NCONN);
  assert_int_equal(st.connections, NCONN);
  sper = (p->msrv.live_bytes - s0) / NCONN;
  print_message("half-open connection: server %lld B\n", (long long)sper);
  assert_true(sper > 0 && sper <= HALF_OPEN_MAX);
  pair_del(p);
}

/* Closing connections gives their memory back: after NCONN connections
 * opened, idle and closed, an endpoint holds its own memory plus the
 * capacity its tables grew to (they do not shrink), and two more cycles
 * leave it exactly there: nothing accumulates per connection. */
static void test_rudp_memory_cycles(void **state) {
  pair *p = pair_new();
  int64_t s0 = p->msrv.live_bytes, c0 = p->mcli.live_bytes, s1 = 0, c1 = 0;
  int cycle;
  (void)state;
  for (cycle = 0; cycle < 3; ++cycle) {
    pair_open_idle(p);
    pair_close_all(p);
    print_message("cycle %d: server %lld B (endpoint %lld), client %lld B "
                  "(endpoint %lld)\n",
                  cycle, (long long)p->msrv.live_bytes, (long long)s0,
                  (long long)p->mcli.live_bytes, (long long)c0);
    if (cycle == 0) {
      s1 = p->msrv.live_bytes;
      c1 = p->mcli.live_bytes;
      assert_true(s1 >= s0 && s1 - s0 <= TABLES_MAX);
      assert_true(c1 >= c0 && c1 - c0 <= TABLES_MAX);
    }
    assert_int_equal(p->msrv.live_bytes, s1);
    assert_int_equal(p->mcli.live_bytes, c1);
  }
  pair_del(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_memory_endpoint),
      cmocka_unit_test(test_rudp_memory_idle_connection),
      cmocka_unit_test(test_rudp_memory_half_open),
      cmocka_unit_test(test_rudp_memory_cycles),
  };
  return cmocka_run_group_tests_name("memory", tests, NULL, NULL);
}
