/*
 * Tests of lib/rudp_endpoint.c: many connections over one socket, the
 * server's decisions on CONNECT (docs/PROTOCOL.md 7.3), RETRY and tokens
 * (7.5), anti-amplification (7.6), half-open limit, backlog and refusal
 * (7.7), SYN floods (7.9), version negotiation (6), stateless reset (8.7)
 * and NAT rebinding (10.9).
 *
 * Endpoints ("hosts") exchange datagrams through an in-memory network with
 * a virtual clock: each datagram arrives |delay| after it was sent at the
 * host owning its destination address, or is counted as undeliverable
 * (spoofed addresses, a NAT mapping that is gone).  A filter sees every
 * datagram as it is sent and may drop, hold back or rewrite it.  Timers
 * fire exactly at rudp_endpoint_get_expiry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <rudp/rudp.h>
#include <rudp/rudp_tls.h>

#include "rudp_conn.h"
#include "rudp_endpoint.h"
#include "rudp_frame.h"
#include "rudp_macro.h"
#include "rudp_pkt.h"
#include "rudp_test_helper.h"
#include "rudp_token.h"

#define MS RUDP_MILLISECONDS
#define SEC RUDP_SECONDS
/* T0 is the virtual time every network starts at (a whole second, so
 * token time slots start at a known boundary). */
#define T0 (1000 * RUDP_SECONDS)
#define MAXHOSTS 8
#define MAXAPPS 1024
#define PATLEN 251

/* ------------------------------------------------------------ network */

typedef struct dg {
  struct dg *next;
  rudp_tstamp at;
  struct sockaddr_storage from, to;
  socklen_t fromlen, tolen;
  size_t len;
  uint8_t data[];
} dg;

typedef struct net net;

typedef struct host {
  net *n;
  rudp_endpoint *ep;
  rudp_endpoint_settings st;
  /* addr is the source of what the host sends and where it receives;
   * addr2 (if addr2len) is a second address it also receives at. */
  struct sockaddr_storage addr, addr2;
  socklen_t addrlen, addr2len;
  rudp_test_rng rng;
  rudp_test_mem tm;
  /* accept_ready calls; auto_accept takes connections at once. */
  size_t accept_ready;
  int auto_accept;
  /* mute: the host neither sends nor receives (a dead peer). */
  int mute;
  /* accepted connections, in order (auto_accept). */
  rudp_conn *accepted[MAXAPPS];
  size_t naccepted;
  uint64_t dgrams_out, bytes_out;
} host;

/* A filter returns 1 to drop the datagram; it may rewrite it or move its
 * arrival time (d->at). */
typedef int (*net_filter)(net *n, host *from, dg *d);

struct net {
  host *hosts[MAXHOSTS];
  size_t nhosts;
  dg *head;
  rudp_tstamp now;
  rudp_duration delay;
  net_filter filter;
  void *filter_arg;
  /* Datagrams for addresses no host owns. */
  uint64_t lost_dgrams, lost_bytes;
  /* Bytes sent to |watch| (if watchlen). */
  struct sockaddr_storage watch;
  socklen_t watchlen;
  uint64_t watch_bytes;
};

static net *N; /* for callbacks */

static void addr4(struct sockaddr_storage *ss, socklen_t *len, uint32_t ip,
                  uint16_t port) {
  struct sockaddr_in *sin = (struct sockaddr_in *)ss;
  memset(ss, 0, sizeof(*ss));
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  sin->sin_addr.s_addr = htonl(ip);
  *len = sizeof(*sin);
}

static void addr6(struct sockaddr_storage *ss, socklen_t *len, uint16_t last,
                  uint16_t port) {
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  memset(ss, 0, sizeof(*ss));
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  sin6->sin6_addr.s6_addr[0] = 0xfd;
  sin6->sin6_addr.s6_addr[14] = (uint8_t)(last >> 8);
  sin6->sin6_addr.s6_addr[15] = (uint8_t)last;
  *len = sizeof(*sin6);
}

static int addr_eq(const struct sockaddr_storage *a,
                   const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) {
    return 0;
  }
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port &&
           x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  {
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
  }
}

static net *net_new(void) {
  net *n = calloc(1, sizeof(*n));
  n->now = T0;
  n->delay = 10 * MS;
  N = n;
  return n;
}

static int host_rand(uint8_t *dest, size_t len, void *ud) {
  host *h = ud;
  rudp_test_rng_fill(&h->rng, dest, len);
  return 0;
}

static int host_accept_ready(rudp_endpoint *ep, void *ud);
static const rudp_callbacks app_callbacks;

/* host_alloc makes a host with default settings (change h->st, then
 * host_start). */
static host *host_alloc(net *n, int listen, uint32_t ip, uint16_t port) {
  host *h = calloc(1, sizeof(*h));
  h->n = n;
  rudp_endpoint_settings_default(&h->st);
  h->st.listen = listen;
  /* Exact packet counts and timers: no path MTU probes. */
  h->st.conn.pmtud_max_udp_payload_size = 0;
  addr4(&h->addr, &h->addrlen, ip, port);
  rudp_test_rng_init(&h->rng, ip * 65536u + port);
  rudp_test_mem_init(&h->tm);
  n->hosts[n->nhosts++] = h;
  return h;
}

static void host_start(host *h) {
  static const rudp_endpoint_callbacks epcb = {host_rand, host_accept_ready};
  assert_int_equal(rudp_endpoint_new(&h->ep, &h->st, &epcb, &app_callbacks,
                                     &h->tm.mem, h, h->n->now),
                   0);
}

static host *host_new(net *n, int listen, uint32_t ip, uint16_t port) {
  host *h = host_alloc(n, listen, ip, port);
  host_start(h);
  return h;
}

static void net_del(net *n) {
  size_t i;
  while (n->head) {
    dg *d = n->head;
    n->head = d->next;
    free(d);
  }
  for (i = 0; i < n->nhosts; ++i) {
    rudp_endpoint_del(n->hosts[i]->ep);
    /* Everything the endpoint allocated is freed with it. */
    assert_int_equal(n->hosts[i]->tm.nlive, 0);
    free(n->hosts[i]);
  }
  free(n);
  N = NULL;
}

/* net_queue puts |d| in arrival order (stable). */
static void net_queue(net *n, dg *d) {
  dg **pp = &n->head;
  while (*pp && (*pp)->at <= d->at) {
    pp = &(*pp)->next;
  }
  d->next = *pp;
  *pp = d;
}

/* net_send sends |len| bytes from |from| (address |src|) to |to|. */
static void net_send(net *n, host *from, const struct sockaddr_storage *src,
                     socklen_t srclen, const struct sockaddr_storage *to,
                     socklen_t tolen, const uint8_t *data, size_t len) {
  dg *d = malloc(sizeof(*d) + len + 64);
  d->at = n->now + n->delay;
  d->from = *src;
  d->fromlen = srclen;
  d->to = *to;
  d->tolen = tolen;
  d->len = len;
  memcpy(d->data, data, len);
  if (n->filter && n->filter(n, from, d)) {
    free(d);
    return;
  }
  if (n->watchlen && addr_eq(&d->to, &n->watch)) {
    n->watch_bytes += d->len;
  }
  net_queue(n, d);
}

static void host_flush(host *h) {
  uint8_t buf[2048];
  struct sockaddr_storage to;
  socklen_t tolen;
  rudp_ssize nw;
  while ((nw = rudp_endpoint_write(h->ep, buf, sizeof(buf), &to, &tolen,
                                   h->n->now)) > 0) {
    ++h->dgrams_out;
    h->bytes_out += (uint64_t)nw;
    net_send(h->n, h, &h->addr, h->addrlen, &to, tolen, buf, (size_t)nw);
  }
  assert_int_equal(nw, 0);
}

static host *net_owner(net *n, const struct sockaddr_storage *to) {
  size_t i;
  for (i = 0; i < n->nhosts; ++i) {
    host *h = n->hosts[i];
    if (h->mute) {
      continue;
    }
    if (addr_eq(&h->addr, to) || (h->addr2len && addr_eq(&h->addr2, to))) {
      return h;
    }
  }
  return NULL;
}

static void net_flush(net *n) {
  size_t i;
  for (i = 0; i < n->nhosts; ++i) {
    if (!n->hosts[i]->mute) {
      host_flush(n->hosts[i]);
    }
  }
}

/*
 * net_step sends what the hosts have, then advances the clock to the next
 * arrival or timer (at most |limit|) and processes it.  Returns 0 once the
 * clock reached |limit| with nothing left to do before it.
 */
static int net_step(net *n, rudp_tstamp limit) {
  rudp_tstamp t = RUDP_TSTAMP_MAX;
  size_t i;

  net_flush(n);
  if (n->head) {
    t = n->head->at;
  }
  for (i = 0; i < n->nhosts; ++i) {
    rudp_tstamp e = rudp_endpoint_get_expiry(n->hosts[i]->ep);
    if (n->hosts[i]->mute) {
      continue;
    }
    if (e < t) {
      t = e;
    }
  }
  if (t > limit) {
    n->now = limit;
    return 0;
  }
  if (t > n->now) {
    n->now = t;
  }
  while (n->head && n->head->at <= n->now) {
    dg *d = n->head;
    host *h = net_owner(n, &d->to);
    n->head = d->next;
    if (h) {
      assert_int_equal(rudp_endpoint_read(h->ep, d->data, d->len,
                                          (struct sockaddr *)&d->from,
                                          d->fromlen, n->now),
                       0);
    } else {
      ++n->lost_dgrams;
      n->lost_bytes += d->len;
    }
    free(d);
  }
  for (i = 0; i < n->nhosts; ++i) {
    host *h = n->hosts[i];
    if (!h->mute && rudp_endpoint_get_expiry(h->ep) <= n->now) {
      assert_int_equal(rudp_endpoint_handle_expiry(h->ep, n->now), 0);
    }
  }
  return 1;
}

static void net_run(net *n, rudp_duration d) {
  rudp_tstamp limit = n->now + d;
  size_t guard = 0;
  while (net_step(n, limit)) {
    assert_true(++guard < 5000000);
  }
}

/* RUN_UNTIL steps the network until |cond| holds (at most |maxdur|). */
#define RUN_UNTIL(n, cond, maxdur)                                             \
  do {                                                                         \
    rudp_tstamp lim_ = (n)->now + (maxdur);                                    \
    size_t guard_ = 0;                                                         \
    while (!(cond) && net_step((n), lim_)) {                                   \
      assert_true(++guard_ < 5000000);                                         \
    }                                                                          \
    assert_true(cond);                                                         \
  } while (0)

static void inject(host *to, const struct sockaddr_storage *from,
                   socklen_t fromlen, const uint8_t *data, size_t len) {
  assert_int_equal(rudp_endpoint_read(to->ep, data, len,
                                      (const struct sockaddr *)from, fromlen,
                                      to->n->now),
                   0);
}

static rudp_endpoint_stats stats_of(const host *h) {
  rudp_endpoint_stats st;
  rudp_endpoint_get_stats(h->ep, &st);
  return st;
}

/* ------------------------------------------------------------ application */

/*
 * Each connection has an app: a client opens one bidirectional stream
 * when established, writes |to_send| bytes of a known pattern and FIN; the
 * server checks every byte, answers with the count (8 bytes) and FIN; the
 * client then closes.  Server connections get their app on the first
 * callback (their user data starts NULL, before accept).
 */
typedef struct app {
  rudp_conn *conn;
  int server;
  int established;
  rudp_tstamp est_at;
  int closed;
  int close_err;
  rudp_tstamp closed_at;
  rudp_conn_close_info ci;
  int64_t sid;
  int opened;
  size_t to_send, sent;
  int fin_sent;
  size_t recvd;
  int bad;
  int fin;
  uint64_t reply;
  int reply_fin;
  int no_close;
} app;

/* g_fail_readable makes the next server stream_readable callback fail. */
static int g_fail_readable;

static app g_apps[MAXAPPS];
static size_t g_napps;
static uint8_t g_pat[PATLEN * 64];

static app *app_new(int server) {
  app *a;
  assert_true(g_napps < MAXAPPS);
  a = &g_apps[g_napps++];
  memset(a, 0, sizeof(*a));
  a->server = server;
  a->sid = -1;
  return a;
}

static app *app_of(rudp_conn *conn, void *ud) {
  app *a = ud;
  if (!a) {
    a = app_new(1);
    a->conn = conn;
    rudp_conn_set_user_data(conn, a);
  }
  return a;
}

static void app_pump(app *a) {
  while (!a->fin_sent && a->sid >= 0) {
    size_t off = a->sent, chunk = rudp_min(a->to_send - off, (size_t)8192);
    int fin = off + chunk == a->to_send;
    rudp_ssize nw = rudp_conn_stream_write(a->conn, a->sid,
                                           g_pat + off % PATLEN, chunk, fin);
    if (nw == RUDP_ERR_WOULDBLOCK) {
      return;
    }
    assert_true(nw >= 0);
    a->sent += (size_t)nw;
    if (fin && (size_t)nw == chunk) {
      a->fin_sent = 1;
    }
    if ((size_t)nw < chunk) {
      return;
    }
  }
}

static int cb_handshake_completed(rudp_conn *conn, void *ud) {
  app *a = app_of(conn, ud);
  a->established = 1;
  a->est_at = N->now;
  return 0;
}

static int cb_streams_available(rudp_conn *conn, int bidi, void *ud) {
  app *a = app_of(conn, ud);
  if (!a->server && bidi && !a->opened && a->to_send > 0) {
    assert_int_equal(rudp_conn_open_stream(conn, 1, &a->sid), 0);
    a->opened = 1;
    app_pump(a);
  }
  return 0;
}

static int cb_stream_writable(rudp_conn *conn, int64_t id, void *ud) {
  app *a = app_of(conn, ud);
  (void)id;
  app_pump(a);
  return 0;
}

static int cb_stream_readable(rudp_conn *conn, int64_t id, void *ud) {
  app *a = app_of(conn, ud);
  uint8_t buf[4096];
  if (a->server && g_fail_readable) {
    g_fail_readable = 0;
    return RUDP_ERR_CALLBACK_FAILURE;
  }
  for (;;) {
    int fin = 0;
    rudp_ssize nr = rudp_conn_stream_read(conn, id, buf, sizeof(buf), &fin);
    size_t i;
    if (nr == RUDP_ERR_WOULDBLOCK) {
      return 0;
    }
    assert_true(nr >= 0);
    if (a->server) {
      for (i = 0; i < (size_t)nr; ++i) {
        if (buf[i] != g_pat[(a->recvd + i) % PATLEN]) {
          a->bad = 1;
        }
      }
      a->recvd += (size_t)nr;
      if (fin && !a->fin) {
        uint8_t rep[8];
        size_t k;
        a->fin = 1;
        for (k = 0; k < 8; ++k) {
          rep[k] = (uint8_t)(a->recvd >> (56 - 8 * k));
        }
        assert_int_equal(rudp_conn_stream_write(conn, id, rep, 8, 1), 8);
      }
    } else {
      for (i = 0; i < (size_t)nr && a->recvd + i < 8; ++i) {
        a->reply = (a->reply << 8) | buf[i];
      }
      a->recvd += (size_t)nr;
      if (fin && !a->reply_fin) {
        a->reply_fin = 1;
        if (!a->no_close) {
          assert_int_equal(rudp_conn_close(conn, N->now), 0);
        }
      }
    }
    if (fin || nr == 0) {
      return 0;
    }
  }
}

static void cb_closed(rudp_conn *conn, int error, void *ud) {
  app *a = app_of(conn, ud);
  a->closed = 1;
  a->close_err = error;
  a->closed_at = N->now;
  rudp_conn_get_close_info(conn, &a->ci);
  a->conn = NULL; /* freed by the endpoint after this returns */
}

static const rudp_callbacks app_callbacks = {cb_handshake_completed,
                                             NULL,
                                             cb_stream_readable,
                                             cb_stream_writable,
                                             NULL,
                                             NULL,
                                             NULL,
                                             NULL,
                                             NULL,
                                             cb_streams_available,
                                             cb_closed};

static int host_accept_ready(rudp_endpoint *ep, void *ud) {
  host *h = ud;
  ++h->accept_ready;
  if (h->auto_accept) {
    rudp_conn *c;
    while ((c = rudp_endpoint_accept(ep)) != NULL) {
      assert_true(h->naccepted < MAXAPPS);
      h->accepted[h->naccepted++] = c;
    }
  }
  return 0;
}

/* client_connect opens a connection from |c| to |s| that will send
 * |bytes| (0: none; the connection then stays open). */
static app *client_connect(host *c, const host *s, size_t bytes,
                           const rudp_settings *st) {
  app *a = app_new(0);
  a->to_send = bytes;
  assert_int_equal(
      rudp_endpoint_connect(c->ep, (const struct sockaddr *)&s->addr,
                            s->addrlen, st, a, &a->conn, c->n->now),
      0);
  return a;
}

/* A capture filter keeps a copy of the first datagram a given host sends
 * and drops everything that host sends. */
static uint8_t g_cap[2048];
static size_t g_caplen;
static host *g_cap_host;

static int filter_capture(net *n, host *from, dg *d) {
  (void)n;
  if (from != g_cap_host) {
    return 0;
  }
  if (g_caplen == 0) {
    memcpy(g_cap, d->data, d->len);
    g_caplen = d->len;
  }
  return 1;
}

/* CONNECT_STRIDE is the room make_connects gives each datagram. */
#define CONNECT_STRIDE 2048

/*
 * make_connects produces the first |count| genuine CONNECT datagrams (1200
 * bytes, with CRYPTO) of a throwaway client endpoint, in TLS mode with
 * |tls|: its CONNECT, then its retransmissions (new packet numbers) as its
 * timer fires.  Datagram i goes to |out| + i * CONNECT_STRIDE, its length
 * to |lens|[i] and (|at| not NULL) its time, from n->now on, to |at|[i].
 * |seed| varies its CIDs.
 */
static void make_connects(net *n, const host *server, rudp_tls_ctx *tls,
                          uint32_t seed, size_t count, uint8_t *out,
                          size_t *lens, rudp_tstamp *at) {
  host *x = host_alloc(n, 0, 0x0a0000f0u + seed, 7000);
  net_filter saved = n->filter;
  rudp_tstamp now = n->now;
  rudp_conn *conn;
  size_t i;
  x->st.conn.tls = tls;
  host_start(x);
  /* No app: the connection never gets far enough to call back. */
  assert_int_equal(
      rudp_endpoint_connect(x->ep, (const struct sockaddr *)&server->addr,
                            server->addrlen, NULL, NULL, &conn, n->now),
      0);
  g_cap_host = x;
  n->filter = filter_capture;
  for (i = 0; i < count; ++i) {
    if (i > 0) {
      /* Its retransmission timer, on its own clock. */
      n->now = rudp_endpoint_get_expiry(x->ep);
      assert_true(n->now != RUDP_TSTAMP_MAX);
      assert_int_equal(rudp_endpoint_handle_expiry(x->ep, n->now), 0);
    }
    g_caplen = 0;
    host_flush(x);
    assert_true(g_caplen >= RUDP_MIN_UDP_PAYLOAD);
    memcpy(out + i * CONNECT_STRIDE, g_cap, g_caplen);
    lens[i] = g_caplen;
    if (at) {
      at[i] = n->now;
    }
  }
  n->filter = saved;
  n->now = now;
  /* Remove the throwaway host. */
  rudp_endpoint_del(x->ep);
  free(x);
  --n->nhosts;
}

/* make_connect makes one plain CONNECT (make_connects) into |out|;
 * returns its length. */
static size_t make_connect(net *n, const host *server, uint8_t *out,
                           uint32_t seed) {
  size_t len;
  make_connects(n, server, NULL, seed, 1, out, &len, NULL);
  return len;
}

static int setup(void **state) {
  size_t i;
  (void)state;
  g_napps = 0;
  for (i = 0; i < sizeof(g_pat); ++i) {
    g_pat[i] = (uint8_t)(i % PATLEN * 7 + 3);
  }
  return 0;
}

/* ------------------------------------------------------------ tests */

static void test_rudp_endpoint_handshake_and_data(void **state) {
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  app *ca, *sa;
  rudp_endpoint_stats st;
  (void)state;

  s->auto_accept = 1;
  ca = client_connect(c, s, 50000, NULL);
  RUN_UNTIL(n, ca->closed, 10 * SEC);
  assert_int_equal(ca->close_err, 0);
  assert_int_equal(ca->reply, 50000);
  assert_int_equal(s->naccepted, 1);
  sa = rudp_conn_get_user_data(s->accepted[0]);
  assert_non_null(sa);
  assert_true(sa->server);
  assert_int_equal(sa->recvd, 50000);
  assert_false(sa->bad);
  /* The handshake took one round trip: CONNECT then ACCEPT. */
  assert_int_equal(ca->est_at, T0 + 20 * MS);
  RUN_UNTIL(n, sa->closed, 10 * SEC);
  assert_int_equal(sa->close_err, 0);
  net_run(n, 2 * SEC);
  st = stats_of(s);
  assert_int_equal(st.connections, 0);
  assert_int_equal(st.accepted, 1);
  assert_int_equal(st.half_open, 0);
  assert_int_equal(st.retries_sent, 0);
  assert_int_equal(st.refused, 0);
  assert_int_equal(stats_of(c).connections, 0);
  assert_int_equal(s->accept_ready, 1);
  assert_int_equal(rudp_endpoint_get_expiry(s->ep), RUDP_TSTAMP_MAX);
  assert_int_equal(rudp_endpoint_check(s->ep), 0);
  assert_int_equal(rudp_endpoint_check(c->ep), 0);
  net_del(n);
}

static void test_rudp_endpoint_many_connections(void **state) {
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  host *c[4];
  app *a[200];
  size_t i, nclosed;
  rudp_endpoint_stats st;
  (void)state;

  s->auto_accept = 1;
  for (i = 0; i < 4; ++i) {
    c[i] = host_new(n, 0, 0x0a000010 + (uint32_t)i, 40000);
  }
  for (i = 0; i < 200; ++i) {
    a[i] = client_connect(c[i % 4], s, 20000 + i * 13, NULL);
  }
  nclosed = 0;
  while (nclosed < 200 && n->now < T0 + 30 * SEC) {
    net_step(n, T0 + 30 * SEC);
    for (nclosed = 0, i = 0; i < 200; ++i) {
      nclosed += (size_t)a[i]->closed;
    }
  }
  assert_int_equal(nclosed, 200);
  for (i = 0; i < 200; ++i) {
    assert_int_equal(a[i]->close_err, 0);
    assert_int_equal(a[i]->reply, 20000 + i * 13);
  }
  assert_int_equal(s->naccepted, 200);
  for (i = 0; i < g_napps; ++i) {
    if (g_apps[i].server) {
      assert_false(g_apps[i].bad);
    }
  }
  assert_int_equal(rudp_endpoint_check(s->ep), 0);
  net_run(n, 5 * SEC);
  for (i = 0; i < g_napps; ++i) {
    assert_true(g_apps[i].closed);
    assert_int_equal(g_apps[i].close_err, 0);
  }
  st = stats_of(s);
  assert_int_equal(st.accepted, 200);
  assert_int_equal(st.connections, 0);
  /* All 200 CONNECTs arrived at once: above 128 half-open connections
   * (max_half_open / 2) the rest drew a RETRY, as many as the stateless
   * queue holds; the 8 others were dropped, and their retransmissions a
   * second later found the table empty. */
  assert_int_equal(st.retries_sent, RUDP_EP_SLQ_LEN);
  assert_int_equal(st.datagrams_dropped, 200 - 128 - RUDP_EP_SLQ_LEN);
  assert_int_equal(st.refused, 0);
  assert_int_equal(st.stateless_resets_sent, 0);
  for (i = 0; i < 4; ++i) {
    assert_int_equal(stats_of(c[i]).connections, 0);
  }
  net_del(n);
}

static void test_rudp_endpoint_accept_queue_order(void **state) {
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  app *a[3];
  rudp_conn *sc;
  size_t i;
  (void)state;

  for (i = 0; i < 3; ++i) {
    a[i] = client_connect(c, s, 0, NULL);
    RUN_UNTIL(n, s->accept_ready == i + 1, 2 * SEC);
    assert_int_equal(stats_of(s).accept_queue, i + 1);
  }
  for (i = 0; i < 3; ++i) {
    sc = rudp_endpoint_accept(s->ep);
    assert_non_null(sc);
    /* The oldest first: its peer CID is that client's CID. */
    assert_true(
        rudp_cid_eq(rudp_conn_get_dcid(sc), rudp_conn_get_scid(a[i]->conn)));
    assert_true(rudp_conn_is_established(sc));
  }
  assert_null(rudp_endpoint_accept(s->ep));
  assert_int_equal(stats_of(s).accept_queue, 0);
  assert_int_equal(stats_of(s).connections, 3);
  assert_int_equal(rudp_endpoint_check(s->ep), 0);
  net_del(n);
}

static void test_rudp_endpoint_backlog_full_refused(void **state) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  app *a[3];
  rudp_tstamp t;
  size_t i;
  (void)state;

  s->st.accept_backlog = 2;
  host_start(s);
  for (i = 0; i < 2; ++i) {
    a[i] = client_connect(c, s, 0, NULL);
    RUN_UNTIL(n, s->accept_ready == i + 1, 2 * SEC);
  }
  t = n->now;
  a[2] = client_connect(c, s, 0, NULL);
  RUN_UNTIL(n, a[2]->closed, 5 * SEC);
  /* Refused at once: one round trip, no retransmission. */
  assert_int_equal(a[2]->closed_at, t + 2 * n->delay);
  assert_int_equal(a[2]->close_err, RUDP_ERR_CONNECTION_REFUSED);
  assert_false(a[2]->ci.local);
  assert_int_equal(a[2]->ci.wire_error, RUDP_CONNECTION_REFUSED);
  assert_int_equal(stats_of(s).refused, 1);
  assert_int_equal(stats_of(s).connections, 2);
  assert_int_equal(stats_of(s).accept_queue, 2);
  /* Taking one makes room again. */
  assert_non_null(rudp_endpoint_accept(s->ep));
  a[2] = client_connect(c, s, 0, NULL);
  RUN_UNTIL(n, a[2]->established, 2 * SEC);
  assert_false(a[2]->closed);
  net_del(n);
}

static void test_rudp_endpoint_half_open_limit_refused(void **state) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  struct sockaddr_storage fake;
  socklen_t fakelen;
  uint8_t pkt[2048];
  size_t len, i;
  rudp_tstamp t;
  app *a;
  (void)state;

  s->st.max_half_open = 2;
  s->st.retry = RUDP_RETRY_NEVER;
  host_start(s);
  len = make_connect(n, s, pkt, 1);
  for (i = 0; i < 2; ++i) {
    addr4(&fake, &fakelen, 0xc0a80000u + (uint32_t)i, 1000);
    inject(s, &fake, fakelen, pkt, len);
  }
  assert_int_equal(stats_of(s).half_open, 2);
  /* The same CONNECT again from the same address: the same connection. */
  inject(s, &fake, fakelen, pkt, len);
  assert_int_equal(stats_of(s).half_open, 2);
  assert_int_equal(stats_of(s).connections, 2);
  t = n->now;
  a = client_connect(c, s, 0, NULL);
  RUN_UNTIL(n, a->closed, 5 * SEC);
  assert_int_equal(a->close_err, RUDP_ERR_CONNECTION_REFUSED);
  assert_int_equal(a->closed_at, t + 2 * n->delay);
  assert_int_equal(stats_of(s).refused, 1);
  assert_int_equal(stats_of(s).retries_sent, 0);
  /* The half-open entries expire after handshake_timeout (10 s). */
  net_run(n, 11 * SEC);
  assert_int_equal(stats_of(s).half_open, 0);
  assert_int_equal(stats_of(s).connections, 0);
  a = client_connect(c, s, 1000, NULL);
  RUN_UNTIL(n, a->closed, 5 * SEC);
  assert_int_equal(a->close_err, 0);
  assert_int_equal(a->reply, 1000);
  net_del(n);
}

static void test_rudp_endpoint_retry_always(void **state) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  size_t nalloc;
  app *a;
  (void)state;

  s->st.retry = RUDP_RETRY_ALWAYS;
  s->auto_accept = 1;
  host_start(s);
  a = client_connect(c, s, 30000, NULL);
  nalloc = rudp_test_mem_nalloc(&s->tm);
  /* The CONNECT arrives and draws a RETRY; nothing is allocated. */
  RUN_UNTIL(n, stats_of(s).retries_sent == 1, SEC);
  assert_int_equal(n->now, T0 + n->delay);
  net_flush(n);
  assert_int_equal(rudp_test_mem_nalloc(&s->tm), nalloc);
  assert_int_equal(stats_of(s).connections, 0);
  assert_int_equal(stats_of(s).half_open, 0);
  assert_int_equal(rudp_endpoint_get_expiry(s->ep), RUDP_TSTAMP_MAX);
  /* The token comes back and the connection is made: two round trips.
   * The token validated the address, the connection's CID is the
   * RETRY's SCID, and its parameters name it and the reset token. */
  RUN_UNTIL(n, stats_of(s).half_open == 1, SEC);
  {
    rudp_conn *sc = s->ep->all_head->conn;
    assert_true(sc->flags & RUDP_CONN_FLAG_VALIDATED);
    assert_true(sc->local_params.retry_scid_present);
    assert_memory_equal(sc->local_params.retry_scid, sc->scid.data,
                        sc->scid.datalen);
    assert_true(sc->local_params.stateless_reset_token_present);
    assert_true(rudp_cid_eq(&sc->odcid, &a->conn->odcid));
  }
  RUN_UNTIL(n, a->established, SEC);
  assert_int_equal(a->est_at, T0 + 4 * n->delay);
  RUN_UNTIL(n, a->closed, 10 * SEC);
  assert_int_equal(a->close_err, 0);
  assert_int_equal(a->reply, 30000);
  assert_int_equal(stats_of(s).retries_sent, 1);
  assert_int_equal(stats_of(s).tokens_invalid, 0);
  assert_int_equal(stats_of(s).accepted, 1);
  net_del(n);
}

static void test_rudp_endpoint_retry_auto_threshold(void **state) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  struct sockaddr_storage fake;
  socklen_t fakelen;
  uint8_t pkt[2048];
  size_t len, i;
  app *a;
  (void)state;

  s->st.max_half_open = 8;
  s->st.retry_threshold = 2;
  host_start(s);
  len = make_connect(n, s, pkt, 1);
  for (i = 0; i < 2; ++i) {
    addr4(&fake, &fakelen, 0xc0a80000u + (uint32_t)i, 1000);
    inject(s, &fake, fakelen, pkt, len);
    assert_int_equal(stats_of(s).retries_sent, 0);
  }
  assert_int_equal(stats_of(s).half_open, 2);
  /* At the threshold: RETRY, no new state. */
  addr4(&fake, &fakelen, 0xc0a80002u, 1000);
  inject(s, &fake, fakelen, pkt, len);
  assert_int_equal(stats_of(s).retries_sent, 1);
  assert_int_equal(stats_of(s).half_open, 2);
  assert_int_equal(stats_of(s).connections, 2);
  /* A real client goes through RETRY and connects. */
  a = client_connect(c, s, 5000, NULL);
  RUN_UNTIL(n, a->closed, 5 * SEC);
  assert_int_equal(a->close_err, 0);
  assert_int_equal(a->reply, 5000);
  assert_int_equal(stats_of(s).retries_sent, 2);
  /* Once the fakes expire, no RETRY any more. */
  net_run(n, 11 * SEC);
  assert_int_equal(stats_of(s).half_open, 0);
  a = client_connect(c, s, 5000, NULL);
  RUN_UNTIL(n, a->closed, 5 * SEC);
  assert_int_equal(a->close_err, 0);
  assert_int_equal(stats_of(s).retries_sent, 2);
  net_del(n);
}

static void test_rudp_endpoint_half_open_flood(void **state) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  struct sockaddr_storage fake;
  socklen_t fakelen;
  uint8_t pkt[2048];
  size_t len, i;
  app *a = NULL;
  rudp_endpoint_stats st;
  (void)state;

  s->st.max_half_open = 16;
  s->st.retry_threshold = 4;
  host_start(s);
  len = make_connect(n, s, pkt, 1);
  /* 2000 spoofed CONNECTs (1 ms apart) that never continue, with a real
   * client in the middle. */
  for (i = 0; i < 2000; ++i) {
    addr4(&fake, &fakelen, 0xc6120000u + (uint32_t)i, (uint16_t)(1024 + i));
    inject(s, &fake, fakelen, pkt, len);
    if (i == 1000) {
      a = client_connect(c, s, 10000, NULL);
    }
    net_run(n, MS);
    /* The fakes fill the table to the threshold; only the validated
     * real client goes beyond it. */
    assert_true(stats_of(s).half_open <= 4 + (i >= 1000));
  }
  RUN_UNTIL(n, a->closed, 5 * SEC);
  assert_int_equal(a->close_err, 0);
  assert_int_equal(a->reply, 10000);
  st = stats_of(s);
  assert_int_equal(st.accepted, 1);
  /* 4 spoofed CONNECTs got a half-open connection, the rest a RETRY; the
   * real client too, once. */
  assert_int_equal(st.retries_sent, 2000 - 4 + 1);
  assert_int_equal(st.refused, 0);
  net_del(n);
}

/* A filter that changes the token of the first RETRY it sees. */
static int filter_forge_token(net *n, host *from, dg *d) {
  rudp_pkt_hd hd;
  uint8_t tok[RUDP_PKT_MAX_TOKENLEN];
  (void)n;
  (void)from;
  if (rudp_pkt_decode_hd(&hd, d->data, d->len, 8) < 0 ||
      hd.type != RUDP_PKT_RETRY) {
    return 0;
  }
  memcpy(tok, hd.token, hd.tokenlen);
  tok[hd.tokenlen - 1] ^= 0x01;
  assert_int_equal(rudp_pkt_encode_retry(d->data, d->len, hd.version, &hd.dcid,
                                         &hd.scid, &hd.odcid, tok, hd.tokenlen),
                   (rudp_ssize)d->len);
  N->filter = NULL;
  return 0;
}

static void test_rudp_endpoint_token_forged(void **state) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  app *a;
  (void)state;

  s->st.retry = RUDP_RETRY_ALWAYS;
  host_start(s);
  n->filter = filter_forge_token;
  a = client_connect(c, s, 1000, NULL);
  RUN_UNTIL(n, a->closed, 5 * SEC);
  /* Refused with INVALID_TOKEN after the second round trip. */
  assert_int_equal(a->closed_at, T0 + 4 * n->delay);
  assert_int_equal(a->close_err, RUDP_ERR_PEER_CLOSED);
  assert_int_equal(a->ci.wire_error, RUDP_INVALID_TOKEN);
  assert_int_equal(stats_of(s).tokens_invalid, 1);
  assert_int_equal(stats_of(s).connections, 0);
  net_del(n);
}

/* A filter that delivers RETRYs |g_hold| late. */
static rudp_duration g_hold;

static int filter_hold_retry(net *n, host *from, dg *d) {
  rudp_pkt_hd hd;
  (void)from;
  if (rudp_pkt_decode_hd(&hd, d->data, d->len, 8) >= 0 &&
      hd.type == RUDP_PKT_RETRY) {
    d->at = n->now + g_hold;
  }
  return 0;
}

static void test_rudp_endpoint_token_expired(void **state) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  rudp_settings cs;
  app *a;
  (void)state;

  s->st.retry = RUDP_RETRY_ALWAYS;
  s->st.token_lifetime = SEC;
  host_start(s);
  rudp_settings_default(&cs);
  cs.connect_timeout = 20 * SEC; /* no retransmission meanwhile */
  /* Minted in slot 1000 (T0 + 10 ms), back in slot 1002: expired (a
   * token lives for its slot and the next). */
  n->filter = filter_hold_retry;
  g_hold = 2500 * MS;
  a = client_connect(c, s, 1000, &cs);
  RUN_UNTIL(n, a->closed, 10 * SEC);
  assert_int_equal(a->close_err, RUDP_ERR_PEER_CLOSED);
  assert_int_equal(a->ci.wire_error, RUDP_INVALID_TOKEN);
  assert_int_equal(stats_of(s).tokens_invalid, 1);

  /* Minted in slot 1010, back 1.5 s later in slot 1011: valid. */
  net_run(n, T0 + 10 * SEC - n->now);
  g_hold = 1500 * MS;
  a = client_connect(c, s, 1000, &cs);
  RUN_UNTIL(n, a->closed, 10 * SEC);
  assert_int_equal(a->close_err, 0);
  assert_int_equal(stats_of(s).tokens_invalid, 1);
  net_del(n);
}

/* A filter that moves the client to another address (keeping the old one
 * for receiving) when the server sends a RETRY. */
static host *g_moving;

static int filter_move_on_retry(net *n, host *from, dg *d) {
  rudp_pkt_hd hd;
  (void)n;
  (void)from;
  if (rudp_pkt_decode_hd(&hd, d->data, d->len, 8) >= 0 &&
      hd.type == RUDP_PKT_RETRY) {
    g_moving->addr2 = g_moving->addr;
    g_moving->addr2len = g_moving->addrlen;
    addr4(&g_moving->addr, &g_moving->addrlen, 0x0a000099, 40001);
  }
  return 0;
}

static void test_rudp_endpoint_token_other_address(void **state) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  app *a;
  (void)state;

  s->st.retry = RUDP_RETRY_ALWAYS;
  host_start(s);
  g_moving = c;
  n->filter = filter_move_on_retry;
  a = client_connect(c, s, 1000, NULL);
  RUN_UNTIL(n, a->closed, 5 * SEC);
  assert_int_equal(a->close_err, RUDP_ERR_PEER_CLOSED);
  assert_int_equal(a->ci.wire_error, RUDP_INVALID_TOKEN);
  assert_int_equal(stats_of(s).tokens_invalid, 1);
  assert_int_equal(stats_of(s).retries_sent, 1);
  net_del(n);
}

static void test_rudp_endpoint_anti_amplification(void **state) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  struct sockaddr_storage fake;
  socklen_t fakelen;
  uint8_t pkt[2048];
  size_t len;
  (void)state;

  s->st.retry = RUDP_RETRY_NEVER;
  host_start(s);
  len = make_connect(n, s, pkt, 3);
  addr4(&fake, &fakelen, 0xcb007101u, 4444);
  inject(s, &fake, fakelen, pkt, len);
  assert_int_equal(stats_of(s).half_open, 1);
  /* The victim never answers; the server retransmits ACCEPT until its
   * half-open entry expires, within 3x what it received. */
  net_run(n, 15 * SEC);
  assert_true(n->lost_dgrams >= 2);
  assert_true(n->lost_bytes > 0);
  assert_true(n->lost_bytes <= 3 * len);
  assert_int_equal(n->lost_bytes, s->bytes_out);
  assert_int_equal(stats_of(s).half_open, 0);
  assert_int_equal(stats_of(s).connections, 0);
  net_del(n);
}

/* A peek filter copies the first datagram a given host sends into g_cap
 * and lets it go. */
static int filter_peek(net *n, host *from, dg *d) {
  (void)n;
  if (from == g_cap_host && g_caplen == 0) {
    memcpy(g_cap, d->data, d->len);
    g_caplen = d->len;
  }
  return 0;
}

/* crypto_at_0 tells whether the datagram's first packet carries a CRYPTO
 * frame from offset 0 (a whole handshake flight, not an ACK alone). */
static int crypto_at_0(const uint8_t *d, size_t len) {
  rudp_pkt_hd hd;
  rudp_ssize hl = rudp_pkt_decode_hd(&hd, d, len, RUDP_DEFAULT_CIDLEN);
  size_t off;
  if (hl < 0) {
    return 0;
  }
  for (off = (size_t)hl; off < hd.pktlen - RUDP_PKT_CRCLEN;) {
    rudp_frame fr;
    rudp_ssize n =
        rudp_frame_decode(&fr, d + off, hd.pktlen - RUDP_PKT_CRCLEN - off);
    if (n < 0) {
      return 0;
    }
    if (fr.type == RUDP_FRAME_CRYPTO && fr.crypto.offset == 0) {
      return 1;
    }
    off += (size_t)n;
  }
  return 0;
}

/* The same with CONNECT retransmissions: each adds credit, each draws an
 * answer within it, and the total stays within 3x. */
static void test_rudp_endpoint_anti_amplification_retransmitted(void **state) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  struct sockaddr_storage fake;
  socklen_t fakelen;
  uint8_t pkt[3 * CONNECT_STRIDE];
  size_t len[3], i, recvd = 0;
  rudp_tstamp at[3];
  (void)state;

  s->st.retry = RUDP_RETRY_NEVER;
  host_start(s);
  /* A client's CONNECT and two retransmissions (1 s, then 2 s later). */
  make_connects(n, s, NULL, 3, 3, pkt, len, at);
  assert_int_equal(at[1] - at[0], SEC);
  assert_int_equal(at[2] - at[1], 2 * SEC);
  addr4(&fake, &fakelen, 0xcb007102u, 4444);
  for (i = 0; i < 3; ++i) {
    uint64_t before;
    net_run(n, at[i] - n->now);
    net_flush(n);
    before = s->dgrams_out;
    inject(s, &fake, fakelen, pkt + i * CONNECT_STRIDE, len[i]);
    recvd += len[i];
    g_cap_host = s;
    g_caplen = 0;
    n->filter = filter_peek;
    net_flush(n);
    n->filter = NULL;
    /* Answered at once with one ACCEPT carrying the handshake data (the
     * first, or a new one for the retransmission: docs/PROTOCOL.md 7.3),
     * within the credit so far. */
    assert_int_equal(s->dgrams_out, before + 1);
    assert_true(crypto_at_0(g_cap, g_caplen));
    assert_true(s->bytes_out <= 3 * recvd);
    assert_int_equal(stats_of(s).half_open, 1);
    assert_int_equal(stats_of(s).connections, 1);
  }
  net_run(n, 15 * SEC);
  print_message("plain: %zu bytes of CONNECTs from the victim; the server "
                "sent it %llu bytes in %llu datagrams\n",
                recvd, (unsigned long long)n->lost_bytes,
                (unsigned long long)n->lost_dgrams);
  assert_true(n->lost_dgrams >= 3);
  assert_int_equal(n->lost_bytes, s->bytes_out);
  assert_true(n->lost_bytes <= 3 * recvd);
  assert_int_equal(stats_of(s).half_open, 0);
  assert_int_equal(stats_of(s).connections, 0);
  net_del(n);
}

/*
 * amplification_tls: a TLS server whose half-open connections live
 * |hs_timeout| gets one CONNECT from a victim's address and runs its
 * timers |run| long: the victim gets the first flight (ACCEPT with the
 * certificate) and its retransmissions, never more than 3x the CONNECT.
 * Returns the bytes the victim got; |first| receives the first flight's.
 */
static uint64_t amplification_tls(rudp_duration hs_timeout, rudp_duration run,
                                  uint64_t *first, size_t *len) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  rudp_tls_ctx *sctx, *cctx;
  struct sockaddr_storage fake;
  socklen_t fakelen;
  uint8_t pkt[CONNECT_STRIDE];
  uint64_t sent;
  size_t steps = 0;
  rudp_tstamp end;

  if (rudp_test_tls_ctxs(&sctx, &cctx, NULL, NULL) != 0) {
    net_del(n);
#ifdef RUDP_TEST_EXPECT_TLS
    fail_msg("configured with OpenSSL, yet rudp_tls_available() is 0");
#endif
    skip();
  }
  s->st.retry = RUDP_RETRY_NEVER;
  s->st.conn.tls = sctx;
  s->st.conn.handshake_timeout = hs_timeout;
  host_start(s);
  make_connects(n, s, cctx, 3, 1, pkt, len, NULL);
  addr4(&fake, &fakelen, 0xcb007103u, 4444);
  inject(s, &fake, fakelen, pkt, *len);
  assert_int_equal(stats_of(s).half_open, 1);
  net_flush(n);
  *first = s->bytes_out;
  end = n->now + run;
  while (net_step(n, end)) {
    /* A connection out of credit waits; it does not spin. */
    assert_true(++steps < 100);
  }
  sent = n->lost_bytes;
  print_message("tls, handshake_timeout %llu s: a %zu-byte CONNECT from the "
                "victim; the server sent it a %llu-byte first flight, %llu "
                "bytes in %llu datagrams in all\n",
                (unsigned long long)(hs_timeout / SEC), *len,
                (unsigned long long)*first, (unsigned long long)sent,
                (unsigned long long)n->lost_dgrams);
  assert_true(*first > 0);
  assert_true(sent > *first);
  assert_true(sent <= 3 * *len);
  assert_int_equal(sent, s->bytes_out);
  assert_int_equal(stats_of(s).half_open, 0);
  assert_int_equal(stats_of(s).connections, 0);
  net_del(n);
  rudp_tls_ctx_free(sctx);
  rudp_tls_ctx_free(cctx);
  return sent;
}

/* The same in TLS mode, where the server's first flight carries its
 * certificate. */
static void test_rudp_endpoint_anti_amplification_tls(void **state) {
  uint64_t first, sent;
  size_t len;
  (void)state;
  /* Default handshake_timeout (10 s): the flight and its retransmissions
   * (PTO at about 1, 3 and 7 s) fit in the credit. */
  amplification_tls(10 * SEC, 15 * SEC, &first, &len);
  /* Half-open for 2 minutes: the retransmissions use the credit up, the
   * last one cut to what is left (less than a flight), then nothing. */
  sent = amplification_tls(120 * SEC, 125 * SEC, &first, &len);
  assert_true(3 * len - sent < first);
}

/* craft_long writes a long-header datagram of |len| bytes with |version|
 * and 8-byte CIDs |dcid_seed|, |scid_seed|. */
static void craft_long(uint8_t *buf, size_t len, uint32_t version,
                       uint8_t dseed, uint8_t sseed) {
  size_t i;
  memset(buf, 0, len);
  buf[0] = 0xc0;
  buf[1] = (uint8_t)(version >> 24);
  buf[2] = (uint8_t)(version >> 16);
  buf[3] = (uint8_t)(version >> 8);
  buf[4] = (uint8_t)version;
  buf[5] = 8;
  for (i = 0; i < 8; ++i) {
    buf[6 + i] = (uint8_t)(dseed + i);
  }
  buf[14] = 8;
  for (i = 0; i < 8; ++i) {
    buf[15 + i] = (uint8_t)(sseed + i);
  }
}

static void test_rudp_endpoint_version_negotiation(void **state) {
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  uint8_t buf[1300], out[2048];
  struct sockaddr_storage to;
  socklen_t tolen;
  rudp_ssize nw;
  rudp_pkt_hd hd;
  size_t i;
  (void)state;

  craft_long(buf, 1200, 0x1a2a3a4au, 0x10, 0x20);
  inject(s, &c->addr, c->addrlen, buf, 1200);
  nw = rudp_endpoint_write(s->ep, out, sizeof(out), &to, &tolen, n->now);
  assert_true(nw > 0);
  assert_true(nw < 1200);
  assert_true(addr_eq(&to, &c->addr));
  assert_true(rudp_pkt_decode_hd(&hd, out, (size_t)nw, 8) > 0);
  assert_int_equal(hd.type, RUDP_PKT_VERSION_NEGOTIATION);
  assert_int_equal(out[0], 0xc0);
  assert_int_equal(hd.nversions, 1);
  assert_int_equal(rudp_pkt_get_version(&hd, 0), RUDP_PROTO_VER_V1);
  assert_int_equal(rudp_pkt_verify_crc(out, (size_t)nw), 0);
  for (i = 0; i < 8; ++i) {
    assert_int_equal(hd.dcid.data[i], 0x20 + i); /* the packet's SCID */
    assert_int_equal(hd.scid.data[i], 0x10 + i); /* its DCID */
  }
  assert_int_equal(
      rudp_endpoint_write(s->ep, out, sizeof(out), &to, &tolen, n->now), 0);
  /* Not for a datagram under 1200 bytes, nor from a non-listener. */
  inject(s, &c->addr, c->addrlen, buf, 1199);
  inject(c, &s->addr, s->addrlen, buf, 1200);
  assert_int_equal(
      rudp_endpoint_write(s->ep, out, sizeof(out), &to, &tolen, n->now), 0);
  assert_int_equal(
      rudp_endpoint_write(c->ep, out, sizeof(out), &to, &tolen, n->now), 0);
  assert_int_equal(stats_of(s).version_negotiations_sent, 1);
  assert_int_equal(stats_of(s).datagrams_dropped, 1);
  assert_int_equal(stats_of(c).datagrams_dropped, 1);
  assert_int_equal(stats_of(s).connections, 0);
  net_del(n);
}

static void test_rudp_endpoint_stateless_queue_bounded(void **state) {
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  uint8_t buf[1200], out[2048];
  struct sockaddr_storage from, to;
  socklen_t fromlen, tolen;
  size_t i, nout = 0;
  (void)state;

  craft_long(buf, sizeof(buf), 0xbabababau, 1, 2);
  for (i = 0; i < 100; ++i) {
    addr4(&from, &fromlen, 0xc0000200u + (uint32_t)i, 999);
    inject(s, &from, fromlen, buf, sizeof(buf));
  }
  while (rudp_endpoint_write(s->ep, out, sizeof(out), &to, &tolen, n->now) >
         0) {
    ++nout;
  }
  assert_int_equal(nout, RUDP_EP_SLQ_LEN);
  assert_int_equal(stats_of(s).version_negotiations_sent, RUDP_EP_SLQ_LEN);
  assert_int_equal(stats_of(s).datagrams_dropped, 100 - RUDP_EP_SLQ_LEN);
  net_del(n);
}

/* established_pair connects a client to a server and transfers nothing;
 * returns the client's app, the server's connection in |*psc|. */
static app *established_pair(net *n, host *c, host *s, rudp_conn **psc) {
  app *a = client_connect(c, s, 0, NULL);
  a->no_close = 1;
  RUN_UNTIL(n, a->established && s->naccepted == 1, 2 * SEC);
  net_run(n, 100 * MS);
  *psc = s->accepted[0];
  return a;
}

static void test_rudp_endpoint_stateless_reset(void **state) {
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  rudp_conn *sc;
  rudp_tstamp t;
  int64_t sid;
  app *a;
  (void)state;

  s->auto_accept = 1;
  a = established_pair(n, c, s, &sc);
  /* The server loses the connection's state. */
  rudp_endpoint_forget(s->ep, sc);
  assert_int_equal(stats_of(s).connections, 0);
  t = n->now;
  assert_int_equal(rudp_conn_open_stream(a->conn, 1, &sid), 0);
  assert_int_equal(rudp_conn_stream_write(a->conn, sid, g_pat, 100, 0), 100);
  RUN_UNTIL(n, a->closed, 5 * SEC);
  /* One round trip: the data, then the reset. */
  assert_int_equal(a->closed_at, t + 2 * n->delay);
  assert_int_equal(a->close_err, RUDP_ERR_STATELESS_RESET);
  assert_int_equal(stats_of(s).stateless_resets_sent, 1);
  net_run(n, SEC);
  assert_int_equal(stats_of(c).connections, 0);
  assert_int_equal(rudp_endpoint_get_expiry(c->ep), RUDP_TSTAMP_MAX);
  net_del(n);
}

static void test_rudp_endpoint_stateless_reset_format_and_rate(void **state) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  uint8_t buf[200], out[2048];
  struct sockaddr_storage to;
  socklen_t tolen;
  rudp_ssize nw;
  size_t i;
  (void)state;

  s->st.stateless_reset_rate = 3;
  host_start(s);
  memset(buf, 0x55, sizeof(buf));
  buf[0] = 0x41;
  for (i = 0; i < 10; ++i) {
    buf[1] = (uint8_t)i; /* ten unknown DCIDs */
    inject(s, &c->addr, c->addrlen, buf, 100);
  }
  assert_int_equal(stats_of(s).stateless_resets_sent, 3);
  assert_int_equal(stats_of(s).stateless_resets_limited, 7);
  assert_int_equal(stats_of(s).datagrams_dropped, 7);
  for (i = 0; i < 3; ++i) {
    nw = rudp_endpoint_write(s->ep, out, sizeof(out), &to, &tolen, n->now);
    /* Short form, fixed bit, reserved bits clear, 43 bytes. */
    assert_int_equal(nw, 43);
    assert_int_equal(out[0] & 0xd8, 0x40);
    assert_true(addr_eq(&to, &c->addr));
  }
  assert_int_equal(
      rudp_endpoint_write(s->ep, out, sizeof(out), &to, &tolen, n->now), 0);
  /* A third of a second later: one more token. */
  n->now += 340 * MS;
  inject(s, &c->addr, c->addrlen, buf, 100);
  inject(s, &c->addr, c->addrlen, buf, 100);
  assert_int_equal(stats_of(s).stateless_resets_sent, 4);
  assert_int_equal(stats_of(s).stateless_resets_limited, 8);
  /* Always shorter than the trigger; nothing below 22 bytes. */
  n->now += 10 * SEC;
  inject(s, &c->addr, c->addrlen, buf, 22);
  nw = rudp_endpoint_write(s->ep, out, sizeof(out), &to, &tolen, n->now);
  assert_int_equal(nw, 43);
  nw = rudp_endpoint_write(s->ep, out, sizeof(out), &to, &tolen, n->now);
  assert_int_equal(nw, 21);
  inject(s, &c->addr, c->addrlen, buf, 21);
  buf[0] = 0x01; /* fixed bit clear: garbage, not a packet */
  inject(s, &c->addr, c->addrlen, buf, 100);
  assert_int_equal(
      rudp_endpoint_write(s->ep, out, sizeof(out), &to, &tolen, n->now), 0);
  assert_int_equal(stats_of(s).stateless_resets_sent, 5);
  /* A client endpoint sends none. */
  buf[0] = 0x41;
  inject(c, &s->addr, s->addrlen, buf, 100);
  assert_int_equal(
      rudp_endpoint_write(c->ep, out, sizeof(out), &to, &tolen, n->now), 0);
  assert_int_equal(stats_of(c).stateless_resets_sent, 0);
  assert_int_equal(stats_of(c).datagrams_dropped, 1);
  net_del(n);
}

/* ------------------------------------------------------------ reset key */

/* set_reset_key gives |h| (not yet started) the stateless reset key made
 * of |seed|, |seed| + 1, ... */
static void set_reset_key(host *h, uint8_t seed) {
  size_t i;
  for (i = 0; i < RUDP_STATELESS_RESET_KEYLEN; ++i) {
    h->st.stateless_reset_key[i] = (uint8_t)(seed + i);
  }
  h->st.has_stateless_reset_key = 1;
}

/* host_restart deletes |h|'s endpoint, which frees every connection and
 * sends nothing (a crashed or restarted process), and starts a new one
 * at the same address with |h->st|. */
static void host_restart(host *h) {
  rudp_endpoint_del(h->ep);
  assert_int_equal(h->tm.nlive, 0);
  h->ep = NULL;
  h->naccepted = 0;
  host_start(h);
}

/* reset_key_pair connects |c| to |s| (started with a key of |seed|) and
 * checks that the token |s| announced is derived from that key, which is
 * the one copy |s| kept.  Returns the client's app, established, with
 * nothing in flight. */
static app *reset_key_pair(net *n, host *c, host *s, uint8_t seed) {
  uint8_t token[RUDP_STATELESS_RESET_TOKENLEN];
  uint8_t zero[RUDP_STATELESS_RESET_KEYLEN];
  rudp_conn *sc;
  app *a;

  set_reset_key(s, seed);
  host_start(s);
  s->auto_accept = 1;
  a = established_pair(n, c, s, &sc);
  assert_null(n->head);
  assert_true(sc->local_params.stateless_reset_token_present);
  rudp_token_stateless_reset(token, s->st.stateless_reset_key,
                             rudp_conn_get_scid(sc));
  assert_memory_equal(sc->local_params.stateless_reset_token, token,
                      sizeof(token));
  assert_memory_equal(s->ep->reset_secret, s->st.stateless_reset_key,
                      RUDP_STATELESS_RESET_KEYLEN);
  memset(zero, 0, sizeof(zero));
  assert_memory_equal(s->ep->settings.stateless_reset_key, zero, sizeof(zero));
  return a;
}

/* A client writes |len| bytes on a new stream of |a|; returns the time. */
static rudp_tstamp client_write(net *n, app *a, size_t len) {
  int64_t sid;
  assert_int_equal(rudp_conn_open_stream(a->conn, 1, &sid), 0);
  assert_int_equal(rudp_conn_stream_write(a->conn, sid, g_pat, len, 0),
                   (rudp_ssize)len);
  return n->now;
}

static void test_rudp_endpoint_reset_key_restart(void **state) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  rudp_tstamp t;
  app *a;
  (void)state;

  a = reset_key_pair(n, c, s, 0x5a);
  /* The server restarts with the same key: it knows no connection. */
  host_restart(s);
  assert_int_equal(stats_of(s).connections, 0);
  t = client_write(n, a, 100);
  RUN_UNTIL(n, a->closed, 5 * SEC);
  /* One round trip: the data, then a reset the client recognises. */
  assert_int_equal(a->closed_at, t + 2 * n->delay);
  assert_int_equal(a->close_err, RUDP_ERR_STATELESS_RESET);
  assert_int_equal(a->ci.error, RUDP_ERR_STATELESS_RESET);
  assert_true(a->ci.local);
  assert_int_equal(a->ci.wire_error, 0);
  assert_int_equal(stats_of(s).stateless_resets_sent, 1);
  assert_int_equal(stats_of(s).datagrams_dropped, 0);
  assert_int_equal(stats_of(c).datagrams_dropped, 0);
  net_run(n, SEC);
  assert_int_equal(stats_of(c).connections, 0);
  assert_int_equal(rudp_endpoint_get_expiry(c->ep), RUDP_TSTAMP_MAX);
  /* The client reconnects at once, to the restarted server. */
  a = client_connect(c, s, 1000, NULL);
  RUN_UNTIL(n, a->closed, 5 * SEC);
  assert_int_equal(a->close_err, 0);
  assert_int_equal(a->reply, 1000);
  assert_int_equal(stats_of(s).accepted, 1);
  net_del(n);
}

/* The server restarts with another key (|other_key|), or a random one:
 * its reset is not recognised, as without the setting.  The client drops
 * every reset and waits for its idle timeout. */
static void reset_key_mismatch(int other_key) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  rudp_endpoint_stats cst, sst;
  rudp_tstamp t;
  app *a;

  a = reset_key_pair(n, c, s, 0x5a);
  if (other_key) {
    set_reset_key(s, 0x5b);
  } else {
    rudp_endpoint_settings_default(&s->st);
    s->st.listen = 1;
    s->st.conn.pmtud_max_udp_payload_size = 0;
  }
  host_restart(s);
  t = client_write(n, a, 100);
  RUN_UNTIL(n, stats_of(c).datagrams_dropped == 1, 5 * SEC);
  assert_int_equal(n->now, t + 2 * n->delay);
  assert_int_equal(stats_of(s).stateless_resets_sent, 1);
  assert_false(a->closed);
  assert_int_equal(stats_of(c).connections, 1);
  /* The client retransmits; each retransmission draws a reset, dropped. */
  RUN_UNTIL(n, a->closed, 40 * SEC);
  assert_int_equal(a->close_err, RUDP_ERR_IDLE_CLOSE);
  /* The idle timer restarted when the client sent the data (RFC 9000
   * 10.1): 30 s, the default idle_timeout, from then. */
  assert_int_equal(a->closed_at, t + 30 * SEC);
  cst = stats_of(c);
  sst = stats_of(s);
  assert_true(sst.stateless_resets_sent > 1);
  assert_int_equal(cst.datagrams_dropped, sst.stateless_resets_sent);
  assert_int_equal(sst.stateless_resets_limited, 0);
  net_del(n);
}

static void test_rudp_endpoint_reset_key_mismatch(void **state) {
  (void)state;
  reset_key_mismatch(1);
  g_napps = 0;
  reset_key_mismatch(0);
}

/* A SO_REUSEPORT group: two workers at one address with one key.  The
 * client's 4-tuple stops hashing to the worker that owns its connection
 * (|w1| goes mute to it); the other worker's reset ends it at once. */
static void test_rudp_endpoint_reset_key_reuseport_group(void **state) {
  net *n = net_new();
  host *w1 = host_alloc(n, 1, 0x0a000001, 5300);
  host *w2 = host_alloc(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  rudp_tstamp t;
  app *a;
  (void)state;

  rudp_test_rng_init(&w2->rng, 7); /* its own CIDs and secrets */
  set_reset_key(w2, 0x33);
  host_start(w2);
  a = reset_key_pair(n, c, w1, 0x33); /* w1 comes first: it gets all */
  assert_int_equal(stats_of(w2).connections, 0);
  w1->mute = 1;
  t = client_write(n, a, 100);
  RUN_UNTIL(n, a->closed, 5 * SEC);
  assert_int_equal(a->closed_at, t + 2 * n->delay);
  assert_int_equal(a->close_err, RUDP_ERR_STATELESS_RESET);
  assert_int_equal(stats_of(w2).stateless_resets_sent, 1);
  assert_int_equal(stats_of(w1).stateless_resets_sent, 0);
  assert_int_equal(stats_of(w1).connections, 1);
  net_del(n);
}

/* A filter that moves the client to a new address (the old NAT mapping
 * disappears) once the server has sent |g_move_after| datagrams. */
static size_t g_move_after;
static host *g_move_server;

static int filter_rebind(net *n, host *from, dg *d) {
  (void)n;
  (void)d;
  if (from == g_move_server && g_move_server->dgrams_out == g_move_after) {
    addr4(&g_moving->addr, &g_moving->addrlen, 0x0a0000aa, 50123);
  }
  return 0;
}

static void test_rudp_endpoint_nat_rebinding(void **state) {
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  rudp_ep_entry *e;
  app *a, *sa;
  (void)state;

  s->auto_accept = 1;
  g_moving = c;
  g_move_server = s;
  g_move_after = 20;
  n->filter = filter_rebind;
  a = client_connect(c, s, 300000, NULL);
  RUN_UNTIL(n, a->reply_fin, 20 * SEC);
  assert_int_equal(a->reply, 300000);
  sa = rudp_conn_get_user_data(s->accepted[0]);
  assert_int_equal(sa->recvd, 300000);
  assert_false(sa->bad);
  /* Some server datagrams went to the old address and were lost; the
   * server now sends to the new one, validated. */
  assert_true(n->lost_dgrams > 0);
  e = s->accepted[0]->touch_arg;
  assert_non_null(e);
  assert_true(addr_eq(&e->peer.sa, &c->addr));
  assert_false(addr_eq(&e->peer.sa, &e->alias_addr.sa));
  assert_false(e->flags & RUDP_EP_ENTRY_FLAG_PATH_UNVALIDATED);
  RUN_UNTIL(n, a->closed && sa->closed, 5 * SEC);
  assert_int_equal(a->close_err, 0);
  assert_int_equal(sa->close_err, 0);
  net_del(n);
}

static void test_rudp_endpoint_rebinding_amplification_limit(void **state) {
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  uint8_t buf[2048];
  rudp_conn *sc;
  rudp_ep_entry *e;
  size_t len;
  int64_t sid;
  app *a;
  (void)state;

  s->auto_accept = 1;
  a = established_pair(n, c, s, &sc);
  /* The server has far more to send than the window holds. */
  assert_int_equal(rudp_conn_open_stream(sc, 1, &sid), 0);
  assert_int_equal(rudp_conn_stream_write(sc, sid, g_pat, 12000, 0), 12000);
  assert_int_equal(rudp_conn_stream_write(sc, sid, g_pat, 12000, 0), 12000);
  /* The client sends a small packet, captured, then dies. */
  g_cap_host = c;
  g_caplen = 0;
  n->filter = filter_capture;
  assert_int_equal(rudp_conn_open_stream(a->conn, 1, &sid), 0);
  assert_int_equal(rudp_conn_stream_write(a->conn, sid, g_pat, 10, 0), 10);
  host_flush(c);
  n->filter = NULL;
  assert_true(g_caplen > 0 && g_caplen < 200);
  len = g_caplen;
  memcpy(buf, g_cap, len);
  c->mute = 1;
  /* An attacker replays it from a victim's address: it carries the
   * largest packet number so far, so the server moves there, but sends
   * at most 3x what it received from there (docs/PROTOCOL.md 10.9). */
  addr4(&n->watch, &n->watchlen, 0xcb0071aa, 666);
  inject(s, &n->watch, n->watchlen, buf, len);
  e = sc->touch_arg;
  assert_true(addr_eq(&e->peer.sa, &n->watch));
  assert_true(e->flags & RUDP_EP_ENTRY_FLAG_PATH_UNVALIDATED);
  net_run(n, 5 * SEC);
  assert_true(n->watch_bytes > 0);
  assert_true(n->watch_bytes <= 3 * len);
  assert_int_equal(e->path_sent, n->watch_bytes);
  /* The blocked connection does not spin: its timers are spaced. */
  assert_true(rudp_endpoint_get_expiry(s->ep) > n->now);
  net_del(n);
}

static void test_rudp_endpoint_garbage(void **state) {
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  rudp_test_rng rng;
  uint8_t buf[1600], keep[8][1600];
  size_t keeplen[8], nkeep = 0;
  struct sockaddr_storage from;
  socklen_t fromlen;
  rudp_conn *sc;
  size_t i, len;
  app *a;
  (void)state;

  s->auto_accept = 1;
  a = established_pair(n, c, s, &sc);
  rudp_test_rng_init(&rng, 424242);
  /* Keep a few real datagrams to mutate. */
  craft_long(keep[nkeep], 1200, RUDP_PROTO_VER_V1, 1, 2);
  keeplen[nkeep++] = 1200;
  keeplen[nkeep] = make_connect(n, s, keep[nkeep], 5);
  ++nkeep;
  for (i = 0; i < 20000; ++i) {
    host *to = (i & 1) ? s : c;
    uint64_t r = rudp_test_rng_next(&rng);
    len = (size_t)rudp_test_rng_below(&rng, sizeof(buf) + 1);
    rudp_test_rng_fill(&rng, buf, len);
    if (len > 0 && (r & 3) == 0) {
      /* Make it look like a packet of ours: right first bits, a real
       * CID. */
      const rudp_cid *cid = rudp_conn_get_scid((i & 1) ? sc : a->conn);
      buf[0] = (uint8_t)((buf[0] & 0x3f) | ((r & 4) ? 0xc0 : 0x40));
      if (buf[0] & 0x80) {
        if (len > 6 + 8) {
          buf[1] = 0x52;
          buf[2] = 0x55;
          buf[3] = 0;
          buf[4] = 1;
          buf[5] = 8;
          memcpy(buf + 6, cid->data, 8);
        }
      } else if (len > 9) {
        memcpy(buf + 1, cid->data, 8);
      }
    } else if ((r & 3) == 1 && len >= 1200) {
      size_t k = (size_t)rudp_test_rng_below(&rng, nkeep);
      memcpy(buf, keep[k], keeplen[k]);
      buf[rudp_test_rng_below(&rng, keeplen[k])] ^=
          (uint8_t)(1 + rudp_test_rng_below(&rng, 255));
      len = keeplen[k];
    }
    if (r & 8) {
      addr4(&from, &fromlen, (uint32_t)(r >> 32), (uint16_t)(r >> 16));
    } else {
      addr6(&from, &fromlen, (uint16_t)(r >> 32), (uint16_t)(r >> 16));
    }
    inject(to, &from, fromlen, buf, len);
    if (i % 64 == 0) {
      net_flush(n);
    }
  }
  /* Bad addresses are rejected. */
  from.ss_family = AF_UNIX;
  assert_int_equal(rudp_endpoint_read(s->ep, buf, 10, (struct sockaddr *)&from,
                                      sizeof(from), n->now),
                   RUDP_ERR_INVALID_ARGUMENT);
  addr4(&from, &fromlen, 1, 1);
  assert_int_equal(
      rudp_endpoint_read(s->ep, buf, 10, (struct sockaddr *)&from, 4, n->now),
      RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_endpoint_check(s->ep), 0);
  assert_int_equal(rudp_endpoint_check(c->ep), 0);
  /* The real connection still works (its CRC protects it). */
  net_run(n, 30 * SEC);
  a = client_connect(c, s, 20000, NULL);
  RUN_UNTIL(n, a->closed, 10 * SEC);
  assert_int_equal(a->close_err, 0);
  assert_int_equal(a->reply, 20000);
  net_del(n);
}

static void test_rudp_endpoint_unknown_cid_counted(void **state) {
  net *n = net_new();
  host *c = host_new(n, 0, 0x0a000002, 40000);
  host *s = host_new(n, 1, 0x0a000001, 5300);
  rudp_endpoint_stats st;
  rudp_pkt_hd hd;
  uint8_t buf[256], out[2048];
  struct sockaddr_storage to;
  socklen_t tolen;
  rudp_ssize hl;
  (void)state;

  /* A short packet, an ACCEPT and a HANDSHAKE for no connection. */
  memset(buf, 0x33, sizeof(buf));
  buf[0] = 0x40;
  inject(c, &s->addr, s->addrlen, buf, 60);
  memset(&hd, 0, sizeof(hd));
  hd.flags = RUDP_PKT_FLAG_LONG_FORM;
  hd.version = RUDP_PROTO_VER_V1;
  hd.dcid.datalen = 8;
  hd.scid.datalen = 8;
  hd.pkt_numlen = 1;
  hd.len = 30;
  hd.type = RUDP_PKT_ACCEPT;
  hl = rudp_pkt_encode_hd(buf, sizeof(buf), &hd);
  assert_true(hl > 0);
  inject(c, &s->addr, s->addrlen, buf, (size_t)hl + 29);
  inject(s, &c->addr, c->addrlen, buf, (size_t)hl + 29);
  hd.type = RUDP_PKT_HANDSHAKE;
  hl = rudp_pkt_encode_hd(buf, sizeof(buf), &hd);
  inject(s, &c->addr, c->addrlen, buf, (size_t)hl + 29);
  /* A datagram from another address for a client's connection. */
  client_connect(c, s, 0, NULL);
  st = stats_of(c);
  assert_int_equal(st.datagrams_dropped, 2);
  st = stats_of(s);
  assert_int_equal(st.datagrams_dropped, 2);
  assert_int_equal(st.connections, 0);
  assert_int_equal(
      rudp_endpoint_write(s->ep, out, sizeof(out), &to, &tolen, n->now), 0);
  /* Datagrams from elsewhere for a client's connection are dropped. */
  hd.type = RUDP_PKT_ACCEPT;
  hd.dcid = *rudp_conn_get_scid(g_apps[0].conn);
  hl = rudp_pkt_encode_hd(buf, sizeof(buf), &hd);
  inject(c, &c->addr, c->addrlen, buf, (size_t)hl + 29);
  assert_int_equal(stats_of(c).datagrams_dropped, 3);
  net_del(n);
}

static void test_rudp_endpoint_ipv6(void **state) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0, 0);
  host *c = host_alloc(n, 0, 0, 0);
  app *a;
  (void)state;

  addr6(&s->addr, &s->addrlen, 1, 5300);
  addr6(&c->addr, &c->addrlen, 2, 40000);
  rudp_test_rng_init(&s->rng, 61);
  rudp_test_rng_init(&c->rng, 62);
  s->st.retry = RUDP_RETRY_ALWAYS; /* tokens over IPv6 addresses too */
  s->auto_accept = 1;
  host_start(s);
  host_start(c);
  a = client_connect(c, s, 40000, NULL);
  RUN_UNTIL(n, a->closed, 10 * SEC);
  assert_int_equal(a->close_err, 0);
  assert_int_equal(a->reply, 40000);
  assert_int_equal(stats_of(s).retries_sent, 1);
  assert_int_equal(stats_of(s).accepted, 1);
  net_del(n);
}

static void test_rudp_endpoint_idle_timeouts_heap(void **state) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  rudp_settings cs;
  app *a[200];
  rudp_duration idle[200];
  size_t i, nest = 0, nclosed = 0;
  (void)state;

  s->auto_accept = 1;
  s->st.retry = RUDP_RETRY_NEVER; /* all 200 at once: no RETRY round trip */
  host_start(s);
  for (i = 0; i < 200; ++i) {
    rudp_settings_default(&cs);
    cs.pmtud_max_udp_payload_size = 0; /* no probes: exact idle timing */
    /* Distinct idle timeouts, in scrambled order. */
    idle[i] = SEC + (rudp_duration)((i * 7919) % 200) * 20 * MS;
    cs.idle_timeout = idle[i];
    a[i] = client_connect(c, s, 0, &cs);
    a[i]->no_close = 1;
  }
  while (nest < 200) {
    assert_true(net_step(n, T0 + SEC));
    for (nest = 0, i = 0; i < 200; ++i) {
      nest += (size_t)a[i]->established;
    }
  }
  assert_int_equal(rudp_endpoint_check(s->ep), 0);
  assert_int_equal(rudp_endpoint_check(c->ep), 0);
  while (nclosed < 200 && n->now < T0 + 10 * SEC) {
    net_step(n, T0 + 10 * SEC);
    for (nclosed = 0, i = 0; i < 200; ++i) {
      nclosed += (size_t)a[i]->closed;
    }
  }
  assert_int_equal(nclosed, 200);
  for (i = 0; i < 200; ++i) {
    assert_int_equal(a[i]->close_err, RUDP_ERR_IDLE_CLOSE);
    /* The timer restarted with the last packet of the handshake, a few
     * round trips after establishment, and fired exactly then. */
    assert_true(a[i]->closed_at >= a[i]->est_at + idle[i]);
    assert_true(a[i]->closed_at <= a[i]->est_at + idle[i] + 100 * MS);
  }
  net_run(n, SEC);
  for (i = 0; i < g_napps; ++i) {
    assert_true(g_apps[i].closed);
    assert_int_equal(g_apps[i].close_err, RUDP_ERR_IDLE_CLOSE);
  }
  assert_int_equal(stats_of(s).connections, 0);
  assert_int_equal(stats_of(c).connections, 0);
  assert_int_equal(rudp_endpoint_get_expiry(s->ep), RUDP_TSTAMP_MAX);
  assert_int_equal(rudp_endpoint_check(s->ep), 0);
  net_del(n);
}

static void test_rudp_endpoint_max_connections(void **state) {
  net *n = net_new();
  host *s = host_alloc(n, 1, 0x0a000001, 5300);
  host *c = host_alloc(n, 0, 0x0a000002, 40000);
  rudp_conn *conn;
  app *a[3];
  size_t i;
  (void)state;

  s->st.max_connections = 2;
  s->auto_accept = 1;
  c->st.max_connections = 3;
  host_start(s);
  host_start(c);
  for (i = 0; i < 3; ++i) {
    a[i] = client_connect(c, s, 0, NULL);
    a[i]->no_close = 1;
  }
  assert_int_equal(rudp_endpoint_connect(c->ep,
                                         (const struct sockaddr *)&s->addr,
                                         s->addrlen, NULL, NULL, &conn, n->now),
                   RUDP_ERR_CONNECTION_REFUSED);
  RUN_UNTIL(n, a[2]->closed, 2 * SEC);
  assert_int_equal(a[2]->close_err, RUDP_ERR_CONNECTION_REFUSED);
  assert_true(a[0]->established && a[1]->established);
  assert_int_equal(stats_of(s).refused, 1);
  assert_int_equal(stats_of(s).connections, 2);
  net_del(n);
}

static void test_rudp_endpoint_not_listening_refused(void **state) {
  net *n = net_new();
  host *s = host_new(n, 0, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  app *a;
  (void)state;

  a = client_connect(c, s, 0, NULL);
  RUN_UNTIL(n, a->closed, SEC);
  assert_int_equal(a->close_err, RUDP_ERR_CONNECTION_REFUSED);
  assert_int_equal(a->closed_at, T0 + 2 * n->delay);
  assert_int_equal(stats_of(s).refused, 1);
  assert_int_equal(stats_of(s).connections, 0);
  net_del(n);
}

/* A filter that drops the first |g_drop_n| datagrams a host sends. */
static size_t g_drop_n;
static host *g_drop_host;

static int filter_drop_first(net *n, host *from, dg *d) {
  (void)n;
  (void)d;
  if (from == g_drop_host && g_drop_n > 0) {
    --g_drop_n;
    return 1;
  }
  return 0;
}

static void test_rudp_endpoint_connect_retransmission_same_conn(void **state) {
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  app *a;
  (void)state;

  s->auto_accept = 1;
  /* The server's ACCEPTs are lost for a while: the client retransmits
   * CONNECT (same DCID), which must reach the half-open connection. */
  g_drop_host = s;
  g_drop_n = 2;
  n->filter = filter_drop_first;
  a = client_connect(c, s, 3000, NULL);
  while (!a->closed) {
    assert_true(net_step(n, T0 + 10 * SEC));
    /* Never a second connection for the same CONNECT DCID. */
    assert_true(stats_of(s).connections <= 1);
  }
  assert_true(n->now > T0 + SEC); /* it took a CONNECT retransmission */
  assert_int_equal(a->close_err, 0);
  assert_int_equal(a->reply, 3000);
  assert_int_equal(stats_of(s).accepted, 1);
  assert_int_equal(s->naccepted, 1);
  assert_int_equal(g_napps, 2); /* one client app, one server app */
  net_del(n);
}

static void test_rudp_endpoint_half_open_timeout(void **state) {
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  struct sockaddr_storage fake;
  socklen_t fakelen;
  uint8_t pkt[2048];
  size_t len, nout;
  (void)state;

  len = make_connect(n, s, pkt, 9);
  addr4(&fake, &fakelen, 0xcb0071bbu, 555);
  inject(s, &fake, fakelen, pkt, len);
  assert_int_equal(stats_of(s).half_open, 1);
  /* A closing client's CONNECT (no CRYPTO) for no connection: dropped. */
  net_run(n, 10 * SEC - 2 * MS);
  assert_int_equal(stats_of(s).half_open, 1);
  net_run(n, 4 * MS);
  assert_int_equal(stats_of(s).half_open, 0);
  assert_int_equal(stats_of(s).connections, 0);
  assert_int_equal(stats_of(s).accepted, 0);
  /* The half-open connection's closed callback reported the timeout. */
  assert_int_equal(g_napps, 1);
  assert_int_equal(g_apps[0].close_err, RUDP_ERR_HANDSHAKE_TIMEOUT);
  /* A short or small-DCID CONNECT is never answered. */
  net_flush(n);
  nout = s->dgrams_out;
  inject(s, &fake, fakelen, pkt, 1199);
  pkt[5] = 7;
  inject(s, &fake, fakelen, pkt, len);
  assert_int_equal(stats_of(s).connections, 0);
  assert_int_equal(stats_of(s).datagrams_dropped, 2);
  net_flush(n);
  assert_int_equal(s->dgrams_out, nout);
  net_del(n);
}

static void test_rudp_endpoint_connect_without_crypto_dropped(void **state) {
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  uint8_t pkt[2048];
  size_t len;
  app *a;
  (void)state;

  /* The client's first CONNECT is lost and it gives up: its close goes
   * out in a CONNECT without CRYPTO, which must neither open a
   * connection nor draw an answer (docs/PROTOCOL.md 7.3 step 2). */
  g_drop_host = c;
  g_drop_n = 1;
  n->filter = filter_drop_first;
  a = client_connect(c, s, 0, NULL);
  net_flush(n);
  assert_int_equal(rudp_conn_abort(a->conn, 7, "bye", n->now), 0);
  net_run(n, 2 * SEC);
  assert_true(c->dgrams_out >= 2);
  assert_int_equal(s->dgrams_out, 0);
  assert_int_equal(stats_of(s).connections, 0);
  assert_int_equal(stats_of(s).refused, 0);
  assert_true(stats_of(s).datagrams_dropped >= 1);
  /* Nor does a real CONNECT that fails its CRC, even to a server that
   * would refuse it. */
  len = make_connect(n, s, pkt, 4);
  pkt[len - 1] ^= 0x80;
  inject(s, &c->addr, c->addrlen, pkt, len);
  net_flush(n);
  assert_int_equal(s->dgrams_out, 0);
  assert_int_equal(stats_of(s).connections, 0);
  net_del(n);
}

static void test_rudp_endpoint_callback_failure_kills_conn(void **state) {
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  app *a[2], *victim = NULL;
  size_t i;
  (void)state;

  s->auto_accept = 1;
  a[0] = client_connect(c, s, 0, NULL);
  a[0]->no_close = 1;
  RUN_UNTIL(n, s->naccepted == 1, SEC);
  /* The server application fails on the first connection's data: that
   * connection ends (its closed callback says why), the endpoint and the
   * other connection carry on. */
  g_fail_readable = 1;
  a[0]->to_send = 1000;
  assert_int_equal(rudp_conn_open_stream(a[0]->conn, 1, &a[0]->sid), 0);
  a[0]->opened = 1;
  app_pump(a[0]);
  a[1] = client_connect(c, s, 5000, NULL);
  RUN_UNTIL(n, a[1]->closed && a[0]->closed, 5 * SEC);
  assert_int_equal(a[1]->close_err, 0);
  assert_int_equal(a[1]->reply, 5000);
  for (i = 0; i < g_napps; ++i) {
    if (g_apps[i].server && g_apps[i].close_err == RUDP_ERR_CALLBACK_FAILURE) {
      victim = &g_apps[i];
    }
  }
  assert_non_null(victim);
  assert_true(victim->closed);
  /* The client of the dead connection learns it from a stateless reset,
   * at its next retransmission. */
  assert_int_equal(a[0]->close_err, RUDP_ERR_STATELESS_RESET);
  assert_true(stats_of(s).stateless_resets_sent >= 1);
  net_run(n, 2 * SEC);
  assert_int_equal(stats_of(s).connections, 0);
  net_del(n);
}

static void test_rudp_endpoint_round_robin(void **state) {
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  uint8_t out[2048], first[8];
  struct sockaddr_storage to;
  socklen_t tolen;
  app *a[2];
  size_t i, k;
  rudp_ssize nw;
  (void)state;

  s->auto_accept = 1;
  for (k = 0; k < 2; ++k) {
    a[k] = client_connect(c, s, 0, NULL);
    a[k]->no_close = 1;
  }
  RUN_UNTIL(n, s->naccepted == 2, SEC);
  net_run(n, 200 * MS);
  for (k = 0; k < 2; ++k) {
    assert_int_equal(rudp_conn_open_stream(a[k]->conn, 1, &a[k]->sid), 0);
    assert_int_equal(
        rudp_conn_stream_write(a[k]->conn, a[k]->sid, g_pat, 15000, 0), 15000);
    assert_int_equal(
        rudp_conn_stream_write(a[k]->conn, a[k]->sid, g_pat, 15000, 0), 15000);
  }
  /* Both have a window's worth to send: the endpoint alternates. */
  for (i = 0; i < 8; ++i) {
    nw = rudp_endpoint_write(c->ep, out, sizeof(out), &to, &tolen, n->now);
    assert_true(nw > 1000);
    if (i == 0) {
      memcpy(first, out + 1, 8);
      continue;
    }
    /* Short packets: the DCID follows the first byte. */
    assert_int_equal(memcmp(out + 1, first, 8) == 0, i % 2 == 0);
  }
  net_del(n);
}

static int fail_rand(uint8_t *dest, size_t len, void *ud) {
  (void)dest;
  (void)len;
  (void)ud;
  return RUDP_ERR_CALLBACK_FAILURE;
}

static void test_rudp_endpoint_new_arguments(void **state) {
  rudp_endpoint_settings st;
  rudp_endpoint_callbacks cb = {host_rand, NULL}, bad = {NULL, NULL},
                          failing = {fail_rand, NULL};
  rudp_endpoint *ep;
  rudp_test_mem tm;
  host h;
  uint8_t out[2048];
  struct sockaddr_storage to;
  socklen_t tolen;
  rudp_conn *conn;
  size_t i;
  (void)state;

  memset(&h, 0, sizeof(h));
  rudp_test_rng_init(&h.rng, 1);
  rudp_endpoint_settings_default(&st);
  assert_int_equal(st.cidlen, 8);
  assert_int_equal(st.max_connections, 4096);
  assert_int_equal(st.max_half_open, 256);
  assert_int_equal(st.accept_backlog, 128);
  assert_int_equal(st.retry, RUDP_RETRY_AUTO);
  assert_int_equal(st.retry_threshold, 128);
  assert_int_equal(st.token_lifetime, 10 * SEC);
  assert_int_equal(st.stateless_reset_rate, 100);
  /* No reset key by default: each endpoint draws its own. */
  assert_int_equal(st.has_stateless_reset_key, 0);
  for (i = 0; i < RUDP_STATELESS_RESET_KEYLEN; ++i) {
    assert_int_equal(st.stateless_reset_key[i], 0);
  }
  /* A key asked for but left all zero is refused, not used. */
  st.has_stateless_reset_key = 1;
  assert_int_equal(rudp_endpoint_new(&ep, &st, &cb, NULL, NULL, &h, T0),
                   RUDP_ERR_INVALID_ARGUMENT);
  st.stateless_reset_key[RUDP_STATELESS_RESET_KEYLEN - 1] = 1;
  assert_int_equal(rudp_endpoint_new(&ep, &st, &cb, NULL, NULL, &h, T0), 0);
  rudp_endpoint_del(ep);
  rudp_endpoint_settings_default(&st);
  assert_int_equal(rudp_endpoint_new(&ep, &st, &bad, NULL, NULL, &h, T0),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_endpoint_new(&ep, &st, &failing, NULL, NULL, &h, T0),
                   RUDP_ERR_CALLBACK_FAILURE);
  st.cidlen = 3;
  assert_int_equal(rudp_endpoint_new(&ep, &st, &cb, NULL, NULL, &h, T0),
                   RUDP_ERR_INVALID_ARGUMENT);
  st.cidlen = 21;
  assert_int_equal(rudp_endpoint_new(&ep, &st, &cb, NULL, NULL, &h, T0),
                   RUDP_ERR_INVALID_ARGUMENT);
  rudp_endpoint_settings_default(&st);
  st.conn.ack_delay_exponent = 21; /* an invalid connection setting */
  assert_int_equal(rudp_endpoint_new(&ep, &st, &cb, NULL, NULL, &h, T0),
                   RUDP_ERR_INVALID_ARGUMENT);
  /* Out of memory leaves nothing behind. */
  rudp_endpoint_settings_default(&st);
  rudp_test_mem_init(&tm);
  tm.fail = 1;
  assert_int_equal(rudp_endpoint_new(&ep, &st, &cb, NULL, &tm.mem, &h, T0),
                   RUDP_ERR_NOMEM);
  assert_int_equal(tm.nlive, 0);
  tm.fail = 0;
  assert_int_equal(rudp_endpoint_new(&ep, &st, &cb, NULL, &tm.mem, &h, T0), 0);
  assert_int_equal(rudp_endpoint_write(ep, out, 1199, &to, &tolen, T0),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_endpoint_write(ep, out, sizeof(out), &to, &tolen, T0),
                   0);
  assert_int_equal(rudp_endpoint_get_expiry(ep), RUDP_TSTAMP_MAX);
  assert_null(rudp_endpoint_accept(ep));
  /* A connection with out-of-memory: refused cleanly. */
  addr4(&to, &tolen, 0x0a000001, 5300);
  tm.fail = 1;
  assert_int_equal(rudp_endpoint_connect(ep, (struct sockaddr *)&to, tolen,
                                         NULL, NULL, &conn, T0),
                   RUDP_ERR_NOMEM);
  tm.fail = 0;
  assert_int_equal(rudp_endpoint_connect(ep, (struct sockaddr *)&to, 3, NULL,
                                         NULL, &conn, T0),
                   RUDP_ERR_INVALID_ARGUMENT);
  /* Deleting an endpoint with a live connection frees everything. */
  assert_int_equal(rudp_endpoint_connect(ep, (struct sockaddr *)&to, tolen,
                                         NULL, NULL, &conn, T0),
                   0);
  assert_true(rudp_endpoint_write(ep, out, sizeof(out), &to, &tolen, T0) >=
              RUDP_MIN_UDP_PAYLOAD);
  assert_true(rudp_endpoint_get_expiry(ep) > T0);
  assert_true(rudp_endpoint_get_expiry(ep) < RUDP_TSTAMP_MAX);
  rudp_endpoint_del(ep);
  assert_int_equal(tm.nlive, 0);
  rudp_endpoint_del(NULL);
}

static void test_rudp_endpoint_client_handshake_timeout_freed(void **state) {
  net *n = net_new();
  host *c = host_alloc(n, 0, 0x0a000002, 40000);
  struct sockaddr_storage nowhere;
  socklen_t nowherelen;
  rudp_settings cs;
  rudp_conn *conn;
  rudp_endpoint_stats st;
  (void)state;

  host_start(c);
  rudp_settings_default(&cs);
  cs.connect_retries = 2;
  addr4(&nowhere, &nowherelen, 0x0a0000ee, 1);
  g_napps = 0;
  {
    app *a = app_new(0);
    assert_int_equal(rudp_endpoint_connect(c->ep, (struct sockaddr *)&nowhere,
                                           nowherelen, &cs, a, &conn, n->now),
                     0);
    /* CONNECTs at 0, 1, 3 s; it gives up at 7 s. */
    net_run(n, 6900 * MS);
    assert_false(a->closed);
    net_run(n, 200 * MS);
    assert_true(a->closed);
    assert_int_equal(a->close_err, RUDP_ERR_HANDSHAKE_TIMEOUT);
    assert_int_equal(a->closed_at, T0 + 7 * SEC);
  }
  assert_int_equal(n->lost_dgrams, 3);
  st = stats_of(c);
  assert_int_equal(st.connections, 0);
  assert_int_equal(rudp_endpoint_get_expiry(c->ep), RUDP_TSTAMP_MAX);
  net_del(n);
}

/* ------------------------------------------------------------ I/O hooks */

static size_t g_work_ready;
static rudp_endpoint *g_work_ready_ep;
static void *g_work_ready_ud;

static void cb_work_ready(rudp_endpoint *ep, void *ud) {
  ++g_work_ready;
  g_work_ready_ep = ep;
  g_work_ready_ud = ud;
}

static void test_rudp_endpoint_work_ready(void **state) {
  static const rudp_endpoint_callbacks epcb = {host_rand, host_accept_ready,
                                               cb_work_ready};
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  host *c = host_alloc(n, 0, 0x0a000002, 40000);
  uint8_t buf[2048];
  struct sockaddr_storage to;
  socklen_t tolen;
  int64_t sid;
  app *a;
  (void)state;

  assert_int_equal(rudp_endpoint_new(&c->ep, &c->st, &epcb, &app_callbacks,
                                     &c->tm.mem, c, n->now),
                   0);
  a = client_connect(c, s, 0, NULL); /* to_send 0: the app stays idle */
  a->no_close = 1;                   /* this test closes it itself */
  RUN_UNTIL(n, a->established, 2 * SEC);
  net_run(n, 100 * MS);
  host_flush(c);
  assert_int_equal(
      rudp_endpoint_write(c->ep, buf, sizeof(buf), &to, &tolen, n->now), 0);
  assert_int_equal(rudp_conn_open_stream(a->conn, 1, &sid), 0);
  g_work_ready = 0;
  g_work_ready_ep = NULL;
  g_work_ready_ud = NULL;
  /* An application write outside any endpoint call: the I/O layer is
   * told once, with the endpoint's user data, and there is a datagram. */
  assert_int_equal(
      rudp_conn_stream_write(a->conn, sid, (const uint8_t *)"x", 1, 1), 1);
  assert_int_equal(g_work_ready, 1);
  assert_ptr_equal(g_work_ready_ep, c->ep);
  assert_ptr_equal(g_work_ready_ud, c);
  assert_true(
      rudp_endpoint_write(c->ep, buf, sizeof(buf), &to, &tolen, n->now) > 0);
  /* A close is work too. */
  assert_int_equal(rudp_conn_close(a->conn, n->now), 0);
  assert_int_equal(g_work_ready, 2);
  /* The server's endpoint has no work_ready: nothing is called for it. */
  net_run(n, 2 * SEC);
  assert_true(a->closed);
  net_del(n);
}

static void test_rudp_endpoint_on_unreachable(void **state) {
  net *n = net_new();
  host *s = host_new(n, 1, 0x0a000001, 5300);
  host *c = host_new(n, 0, 0x0a000002, 40000);
  host *gone = host_alloc(n, 1, 0x0a000003, 5300);
  host *gone2 = host_alloc(n, 1, 0x0a000003, 5301);
  app *est, *a, *b;
  rudp_tstamp t;
  (void)state;

  /* gone and gone2 never start (no endpoint): their addresses drop
   * everything, like closed ports. */
  gone->mute = gone2->mute = 1;
  host_start(gone);
  host_start(gone2);
  est = client_connect(c, s, 0, NULL);
  RUN_UNTIL(n, est->established, 2 * SEC);
  a = client_connect(c, gone, 0, NULL);
  b = client_connect(c, gone2, 0, NULL);
  net_run(n, 50 * MS);
  assert_false(a->closed);
  assert_int_equal(stats_of(c).connections, 3);
  t = n->now;
  /* The ICMP error for gone's address ends only the handshake to it. */
  assert_int_equal(
      rudp_endpoint_on_unreachable(c->ep, (const struct sockaddr *)&gone->addr,
                                   gone->addrlen),
      1);
  assert_true(a->closed);
  assert_int_equal(a->close_err, RUDP_ERR_CONNECTION_REFUSED);
  assert_int_equal(a->closed_at, t);
  assert_false(b->closed);
  assert_int_equal(stats_of(c).connections, 2);
  /* Again: nobody left connecting there. */
  assert_int_equal(
      rudp_endpoint_on_unreachable(c->ep, (const struct sockaddr *)&gone->addr,
                                   gone->addrlen),
      0);
  /* Established connections ignore it (ICMP is easily forged). */
  assert_int_equal(rudp_endpoint_on_unreachable(
                       c->ep, (const struct sockaddr *)&s->addr, s->addrlen),
                   0);
  assert_false(est->closed);
  assert_int_equal(rudp_conn_get_state(est->conn), RUDP_CONN_STATE_ESTABLISHED);
  /* A bad address is ignored. */
  assert_int_equal(rudp_endpoint_on_unreachable(c->ep, NULL, 0), 0);
  assert_int_equal(stats_of(c).connections, 2);
  net_del(n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_rudp_endpoint_handshake_and_data, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_many_connections, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_accept_queue_order, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_backlog_full_refused, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_half_open_limit_refused, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_retry_always, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_retry_auto_threshold, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_half_open_flood, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_token_forged, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_token_expired, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_token_other_address, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_anti_amplification, setup),
      cmocka_unit_test_setup(
          test_rudp_endpoint_anti_amplification_retransmitted, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_anti_amplification_tls, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_version_negotiation, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_stateless_queue_bounded, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_stateless_reset, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_stateless_reset_format_and_rate,
                             setup),
      cmocka_unit_test_setup(test_rudp_endpoint_reset_key_restart, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_reset_key_mismatch, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_reset_key_reuseport_group,
                             setup),
      cmocka_unit_test_setup(test_rudp_endpoint_nat_rebinding, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_rebinding_amplification_limit,
                             setup),
      cmocka_unit_test_setup(test_rudp_endpoint_garbage, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_unknown_cid_counted, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_ipv6, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_idle_timeouts_heap, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_max_connections, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_not_listening_refused, setup),
      cmocka_unit_test_setup(
          test_rudp_endpoint_connect_retransmission_same_conn, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_half_open_timeout, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_connect_without_crypto_dropped,
                             setup),
      cmocka_unit_test_setup(test_rudp_endpoint_callback_failure_kills_conn,
                             setup),
      cmocka_unit_test_setup(test_rudp_endpoint_round_robin, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_new_arguments, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_client_handshake_timeout_freed,
                             setup),
      cmocka_unit_test_setup(test_rudp_endpoint_work_ready, setup),
      cmocka_unit_test_setup(test_rudp_endpoint_on_unreachable, setup),
  };
  return cmocka_run_group_tests_name("endpoint", tests, NULL, NULL);
}
