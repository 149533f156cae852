/*
 * Tests of lib/rudp_event.c, the libevent binding, on real sockets bound
 * to 127.0.0.1 and ::1 only: bulk transfer with and without GSO/GRO, many
 * concurrent connections, IPv6 and dual stack, backlog refusal, ICMP port
 * unreachable, cross-thread wakeups, and ACKs and fast retransmissions sent
 * from the read callback without waiting for a timer (through a relay that
 * drops a chosen datagram).  Every loop is bounded in time (LIMIT) and in
 * iterations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>

#include <rudp/rudp.h>
#include <rudp/rudp_event.h>
#include <rudp/rudp_tls.h>

#include "rudp_test_helper.h"

#define MS RUDP_MILLISECONDS
#define SEC RUDP_SECONDS
/* LIMIT bounds every wait of a test. */
#define LIMIT (20 * SEC)
#define MAXAPPS 1024
#define PATLEN 251

/* ------------------------------------------------------------ apps */

/*
 * An app is one connection's application.  A client opens one
 * bidirectional stream, writes |to_send| bytes of the pattern (or |msg|)
 * with FIN, reads the answer to its end and closes.  A server either
 * echoes (g_echo) or checks the pattern and answers with the byte count
 * (8 bytes) and FIN.
 */
typedef struct app {
  rudp_conn *conn;
  int server;
  int established;
  int opened;
  int64_t sid;
  const uint8_t *src;
  size_t to_send, sent;
  int fin_sent;
  size_t recvd;
  int bad;
  int fin;
  uint8_t reply[64];
  size_t replylen;
  int closed;
  int close_err;
  rudp_tstamp started, closed_at;
  /* stats, tls: the connection's counters and TLS state when it closed. */
  rudp_conn_stats stats;
  rudp_tls_info tls;
} app;

static app g_apps[MAXAPPS];
static size_t g_napps;
static int g_echo;
static int g_accept = 1;
static uint8_t g_pat[PATLEN * 64];
static struct event_base *g_base;

static size_t rudp_min_size(size_t a, size_t b) { return a < b ? a : b; }

static app *app_new(int server) {
  app *a;
  assert_true(g_napps < MAXAPPS);
  a = &g_apps[g_napps++];
  memset(a, 0, sizeof(*a));
  a->server = server;
  a->sid = -1;
  a->started = rudp_event_now();
  return a;
}

/* app_of gives a server connection its app on its first callback. */
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
    size_t chunk = rudp_min_size(a->to_send - a->sent, 8192);
    int fin = a->sent + chunk == a->to_send;
    const uint8_t *p = a->src ? a->src + a->sent : g_pat + a->sent % PATLEN;
    rudp_ssize nw = rudp_conn_stream_write(a->conn, a->sid, p, chunk, fin);
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
  app_of(conn, ud)->established = 1;
  return 0;
}

static int cb_streams_available(rudp_conn *conn, int bidi, void *ud) {
  app *a = app_of(conn, ud);
  /* Clients with nothing to send (to_send 0) stay idle and open. */
  if (!a->server && bidi && !a->opened && a->to_send > 0) {
    assert_int_equal(rudp_conn_open_stream(conn, 1, &a->sid), 0);
    a->opened = 1;
    app_pump(a);
  }
  return 0;
}

static int cb_stream_writable(rudp_conn *conn, int64_t id, void *ud) {
  (void)id;
  app_pump(app_of(conn, ud));
  return 0;
}

static int cb_stream_readable(rudp_conn *conn, int64_t id, void *ud) {
  app *a = app_of(conn, ud);
  uint8_t buf[16384];
  for (;;) {
    int fin = 0;
    rudp_ssize nr = rudp_conn_stream_read(conn, id, buf, sizeof(buf), &fin);
    size_t i;
    if (nr < 0 || (a->fin && nr == 0)) {
      return 0; /* nothing new (the end may be reported again) */
    }
    if (a->server && g_echo) {
      assert_int_equal(rudp_conn_stream_write(conn, id, buf, (size_t)nr, fin),
                       nr);
    } else if (a->server) {
      for (i = 0; i < (size_t)nr; ++i) {
        if (buf[i] != g_pat[(a->recvd + i) % PATLEN]) {
          a->bad = 1;
        }
      }
      if (fin) {
        uint8_t rep[8];
        for (i = 0; i < 8; ++i) {
          rep[i] = (uint8_t)((a->recvd + (size_t)nr) >> (56 - 8 * i));
        }
        assert_int_equal(rudp_conn_stream_write(conn, id, rep, 8, 1), 8);
      }
    } else {
      size_t room = sizeof(a->reply) - a->replylen;
      memcpy(a->reply + a->replylen, buf, rudp_min_size((size_t)nr, room));
      a->replylen += rudp_min_size((size_t)nr, room);
    }
    a->recvd += (size_t)nr;
    if (fin) {
      a->fin = 1;
      if (!a->server) {
        assert_int_equal(rudp_conn_close(conn, rudp_event_now()), 0);
      }
      return 0;
    }
    if (nr == 0) {
      return 0;
    }
  }
}

static void cb_closed(rudp_conn *conn, int error, void *ud) {
  app *a = app_of(conn, ud);
  a->closed = 1;
  a->close_err = error;
  a->closed_at = rudp_event_now();
  rudp_conn_get_stats(conn, &a->stats);
  rudp_conn_get_tls_info(conn, &a->tls);
  a->conn = NULL;
}

static const rudp_callbacks g_callbacks = {cb_handshake_completed,
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

static int cb_accept_ready(rudp_endpoint *ep, void *ud) {
  rudp_conn *conn;
  (void)ud;
  while (g_accept && (conn = rudp_endpoint_accept(ep)) != NULL) {
    app_of(conn, rudp_conn_get_user_data(conn));
  }
  return 0;
}

static const rudp_endpoint_callbacks g_epcb = {NULL, cb_accept_ready, NULL};

/* ------------------------------------------------------------ harness */

static void tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
}

/* RUN_UNTIL runs the loop until |cond| holds or |maxdur| passed. */
#define RUN_UNTIL(cond, maxdur)                                                \
  do {                                                                         \
    rudp_tstamp lim_ = rudp_event_now() + (maxdur);                            \
    size_t guard_ = 0;                                                         \
    while (!(cond) && rudp_event_now() < lim_ && ++guard_ < 10000000) {        \
      event_base_loop(g_base, EVLOOP_ONCE);                                    \
    }                                                                          \
  } while (0)

static struct event *g_tick;

/* setup_base creates g_base, with EVENT_BASE_FLAG_PRECISE_TIMER if
 * |precise| (the flag rudp_event.h recommends for latency). */
static int setup_base(int precise) {
  struct timeval tv = {0, 10000};
  size_t i;
  g_napps = 0;
  g_echo = 0;
  g_accept = 1;
  for (i = 0; i < sizeof(g_pat); ++i) {
    g_pat[i] = (uint8_t)((i % PATLEN) * 7 + 3);
  }
  if (precise) {
    struct event_config *cfg = event_config_new();
    assert_non_null(cfg);
    assert_int_equal(event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER),
                     0);
    g_base = event_base_new_with_config(cfg);
    event_config_free(cfg);
  } else {
    g_base = event_base_new();
  }
  assert_non_null(g_base);
  /* A 10 ms tick: EVLOOP_ONCE returns at least that often, so RUN_UNTIL
   * re-checks its condition and deadline. */
  g_tick = event_new(g_base, -1, EV_PERSIST, tick, NULL);
  event_add(g_tick, &tv);
  return 0;
}

static int setup(void **state) {
  (void)state;
  return setup_base(0);
}

static int setup_precise(void **state) {
  (void)state;
  return setup_base(1);
}

static int teardown(void **state) {
  (void)state;
  event_free(g_tick);
  event_base_free(g_base);
  g_base = NULL;
  return 0;
}

static void sa4(struct sockaddr_storage *ss, socklen_t *len, uint16_t port) {
  struct sockaddr_in *sin = (struct sockaddr_in *)ss;
  memset(ss, 0, sizeof(*ss));
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  *len = sizeof(*sin);
}

static void sa6(struct sockaddr_storage *ss, socklen_t *len, uint16_t port,
                int any) {
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  memset(ss, 0, sizeof(*ss));
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  sin6->sin6_addr = any ? in6addr_any : in6addr_loopback;
  *len = sizeof(*sin6);
}

static uint16_t port_of(const rudp_event *ev) {
  struct sockaddr_storage ss;
  socklen_t len;
  assert_int_equal(rudp_event_local_addr(ev, &ss, &len), 0);
  return ss.ss_family == AF_INET
             ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
             : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* settings_for gives fast timers for tests; |listen| makes a server. */
static void settings_for(rudp_event_settings *st, int listen) {
  rudp_event_settings_default(st);
  /* The tests assert exact outcomes: never impaired by RUDP_NETEM from the
   * environment (test_rudp_event_netem sets its own spec). */
  st->netem = "";
  st->endpoint.listen = listen;
  /* Fixed 1452-byte datagrams (the transfer tests count them);
   * test_rudp_event_pmtud turns discovery on. */
  st->endpoint.conn.pmtud_max_udp_payload_size = 0;
  st->endpoint.conn.initial_rtt = 20 * MS;
  st->endpoint.conn.connect_timeout = 200 * MS;
  st->endpoint.conn.tx_udp_payload_size = 1452;
  st->endpoint.conn.max_ack_delay = 5 * MS;
}

static rudp_event *ev_new(const struct sockaddr_storage *ss, socklen_t len,
                          const rudp_event_settings *st) {
  rudp_event *ev = NULL;
  assert_int_equal(rudp_event_endpoint_new(&ev, g_base,
                                           (const struct sockaddr *)ss, len, st,
                                           &g_epcb, &g_callbacks, NULL),
                   0);
  return ev;
}

static app *connect_app(rudp_event *ev, const struct sockaddr_storage *to,
                        socklen_t tolen, size_t to_send) {
  app *a = app_new(0);
  a->to_send = to_send;
  assert_int_equal(rudp_event_connect(ev, (const struct sockaddr *)to, tolen,
                                      NULL, a, &a->conn),
                   0);
  return a;
}

static uint64_t reply_count(const app *a) {
  uint64_t v = 0;
  size_t i;
  for (i = 0; i < 8 && i < a->replylen; ++i) {
    v = (v << 8) | a->reply[i];
  }
  return v;
}

/* ------------------------------------------------------------ tests */

static void test_rudp_event_settings_default(void **state) {
  rudp_event_settings st;
  (void)state;
  rudp_event_settings_default(&st);
  assert_int_equal(st.recv_batch, 32);
  assert_int_equal(st.send_batch, 32);
  assert_int_equal(st.gso, 1);
  assert_int_equal(st.gro, 1);
  assert_int_equal(st.sockbuf_size, 4 * 1024 * 1024);
  assert_int_equal(st.reuseport, 0);
  assert_int_equal(st.v6only, 0);
  assert_int_equal(st.endpoint.accept_backlog, 128);
}

static void test_rudp_event_new_errors(void **state) {
  rudp_event_settings st;
  struct sockaddr_storage ss;
  socklen_t len;
  rudp_event *ev = NULL, *ev2 = NULL;
  (void)state;

  settings_for(&st, 1);
  sa4(&ss, &len, 0);
  assert_int_equal(rudp_event_endpoint_new(NULL, g_base, (void *)&ss, len, &st,
                                           NULL, NULL, NULL),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_event_endpoint_new(&ev, NULL, (void *)&ss, len, &st,
                                           NULL, NULL, NULL),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_event_endpoint_new(&ev, g_base, (void *)&ss, len - 1,
                                           &st, NULL, NULL, NULL),
                   RUDP_ERR_INVALID_ARGUMENT);
  st.recv_batch = 0;
  assert_int_equal(rudp_event_endpoint_new(&ev, g_base, (void *)&ss, len, &st,
                                           NULL, NULL, NULL),
                   RUDP_ERR_INVALID_ARGUMENT);
  settings_for(&st, 1);
  st.endpoint.cidlen = 2; /* refused by rudp_endpoint_new */
  assert_int_equal(rudp_event_endpoint_new(&ev, g_base, (void *)&ss, len, &st,
                                           NULL, NULL, NULL),
                   RUDP_ERR_INVALID_ARGUMENT);
  /* NULL settings and callbacks: defaults and getrandom. */
  assert_int_equal(rudp_event_endpoint_new(&ev, g_base, (void *)&ss, len, NULL,
                                           NULL, NULL, NULL),
                   0);
  /* The same port again, without SO_REUSEPORT: bind fails. */
  sa4(&ss, &len, port_of(ev));
  errno = 0;
  assert_int_equal(rudp_event_endpoint_new(&ev2, g_base, (void *)&ss, len, NULL,
                                           NULL, NULL, NULL),
                   RUDP_ERR_IO);
  assert_int_equal(errno, EADDRINUSE);
  assert_null(ev2);
  /* An IPv6 destination from an IPv4 socket. */
  {
    struct sockaddr_storage to;
    socklen_t tolen;
    rudp_conn *conn;
    sa6(&to, &tolen, 9, 0);
    assert_int_equal(
        rudp_event_connect(ev, (void *)&to, tolen, NULL, NULL, &conn),
        RUDP_ERR_INVALID_ARGUMENT);
  }
  assert_non_null(rudp_event_endpoint_get_endpoint(ev));
  rudp_event_endpoint_free(ev);
  rudp_event_endpoint_free(NULL);
}

/* transfer_ex sends |total| bytes over one connection and checks them;
 * |cli_sockbuf| is the client's sockbuf_size (0: the default). */
static void transfer_ex(int offload, size_t total, size_t cli_sockbuf,
                        rudp_event_stats *cst, rudp_event_stats *sst) {
  rudp_event_settings st;
  struct sockaddr_storage ss, to;
  socklen_t len, tolen;
  rudp_event *srv, *cli;
  app *a;

  settings_for(&st, 1);
  st.gso = st.gro = offload;
  sa4(&ss, &len, 0);
  srv = ev_new(&ss, len, &st);
  settings_for(&st, 0);
  st.gso = st.gro = offload;
  if (cli_sockbuf > 0) {
    st.sockbuf_size = cli_sockbuf;
  }
  cli = ev_new(&ss, len, &st);
  sa4(&to, &tolen, port_of(srv));
  a = connect_app(cli, &to, tolen, total);
  RUN_UNTIL(a->closed, LIMIT);
  assert_true(a->closed);
  assert_int_equal(a->close_err, 0);
  assert_true(a->fin_sent);
  assert_int_equal(reply_count(a), total);
  assert_int_equal(g_napps, 2);
  assert_int_equal(g_apps[1].recvd, total);
  assert_false(g_apps[1].bad);
  rudp_event_get_stats(cli, cst);
  rudp_event_get_stats(srv, sst);
  print_message("client: %llu dgrams in %llu sends (%llu GSO, %llu EAGAIN); "
                "server: %llu dgrams in %llu receives (%llu GRO)\n",
                (unsigned long long)cst->dgrams_sent,
                (unsigned long long)cst->send_syscalls,
                (unsigned long long)cst->gso_sends,
                (unsigned long long)cst->eagain,
                (unsigned long long)sst->dgrams_recv,
                (unsigned long long)sst->recv_syscalls,
                (unsigned long long)sst->gro_recvs);
  /* The stream's bytes went out in datagrams of at most 1452 bytes. */
  assert_true(cst->bytes_sent > total);
  assert_true(cst->dgrams_sent >= total / 1452);
  assert_true(sst->bytes_recv > total);
  assert_true(sst->dgrams_recv <= cst->dgrams_sent);
  assert_int_equal(cst->last_error, 0);
  assert_int_equal(sst->last_error, 0);
  rudp_event_endpoint_free(cli);
  rudp_event_endpoint_free(srv);
}

/* transfer sends 4 MiB over one connection and checks them. */
static void transfer(int offload, rudp_event_stats *cst,
                     rudp_event_stats *sst) {
  transfer_ex(offload, 4 * 1024 * 1024, 0, cst, sst);
}

/* Path MTU discovery over loopback (MTU 64 KiB): the client's datagrams
 * grow to 16 KiB, and the bytes arrive intact. */
static void test_rudp_event_pmtud(void **state) {
  rudp_event_settings st;
  struct sockaddr_storage ss, to;
  socklen_t len, tolen;
  rudp_event *srv, *cli;
  rudp_event_stats cst;
  size_t total = 4 * 1024 * 1024;
  app *a;
  (void)state;

  settings_for(&st, 1);
  st.endpoint.conn.pmtud_max_udp_payload_size = 16384;
  sa4(&ss, &len, 0);
  srv = ev_new(&ss, len, &st);
  settings_for(&st, 0);
  st.endpoint.conn.pmtud_max_udp_payload_size = 16384;
  cli = ev_new(&ss, len, &st);
  sa4(&to, &tolen, port_of(srv));
  a = connect_app(cli, &to, tolen, total);
  RUN_UNTIL(a->closed, LIMIT);
  assert_true(a->closed);
  assert_int_equal(a->close_err, 0);
  assert_int_equal(reply_count(a), total);
  assert_int_equal(g_apps[1].recvd, total);
  assert_false(g_apps[1].bad);
  /* From 1452 bytes (tx_udp_payload_size) the four probes 1472, 8952,
   * 8972 and 16384 were acknowledged, none lost. */
  assert_int_equal(a->stats.pmtu, 16384);
  assert_int_equal(a->stats.pmtu_probes_sent, 4);
  assert_int_equal(a->stats.pmtu_probes_lost, 0);
  rudp_event_get_stats(cli, &cst);
  print_message("pmtud: client %llu dgrams, %llu bytes\n",
                (unsigned long long)cst.dgrams_sent,
                (unsigned long long)cst.bytes_sent);
  /* Most of the 4 MiB went in 16 KiB datagrams: far fewer than the
   * 2,900 a 1452-byte size needs. */
  assert_true(cst.dgrams_sent < total / 4000);
  assert_int_equal(cst.last_error, 0);
  rudp_event_endpoint_free(cli);
  rudp_event_endpoint_free(srv);
}

static void test_rudp_event_transfer_gso_gro(void **state) {
  rudp_event_stats c, s;
  (void)state;
  transfer(1, &c, &s);
  if (!c.gso_enabled || !s.gro_enabled) {
    skip(); /* the kernel has no UDP_SEGMENT / UDP_GRO */
  }
  /* Trains of datagrams left in one send and arrived in one buffer. */
  assert_true(c.gso_sends > 0);
  assert_true(s.gro_recvs > 0);
  assert_true(c.send_syscalls < c.dgrams_sent);
  assert_true(s.recv_syscalls < s.dgrams_recv);
}

static void test_rudp_event_transfer_plain(void **state) {
  rudp_event_stats c, s;
  (void)state;
  transfer(0, &c, &s);
  assert_int_equal(c.gso_enabled, 0);
  assert_int_equal(s.gro_enabled, 0);
  assert_int_equal(c.gso_sends, 0);
  assert_int_equal(s.gro_recvs, 0);
  assert_int_equal(c.gso_sends + s.gso_sends, 0);
  /* sendmmsg/recvmmsg batches still cut the syscalls. */
  assert_true(c.send_syscalls < c.dgrams_sent);
}

/* EAGAIN_SOCKBUF is the client's SO_SNDBUF request (the kernel doubles
 * it).  On loopback it alone never gives EAGAIN: loopback_xmit orphans
 * the skb inside the send call, so the send buffer is always empty again
 * when the call returns.  RUDP_EVENT_FORCE_EAGAIN=3 makes every third
 * send call fail with EAGAIN instead, so the EV_WRITE resume runs. */
#define EAGAIN_SOCKBUF 4096

/* eagain_transfer moves 2 MiB through a client socket with a tiny send
 * buffer: the binding must wait for EV_WRITE and resume, losing nothing
 * itself (every byte arrives, no datagram counted as a send error). */
static void eagain_transfer(int gso) {
  rudp_event_stats c, s;
  assert_int_equal(setenv("RUDP_EVENT_FORCE_EAGAIN", "3", 1), 0);
  transfer_ex(gso, 2 * 1024 * 1024, EAGAIN_SOCKBUF, &c, &s);
  assert_int_equal(unsetenv("RUDP_EVENT_FORCE_EAGAIN"), 0);
  assert_true(c.eagain > 0);
  assert_int_equal(c.send_errors, 0);
  assert_int_equal(s.send_errors, 0);
  if (gso && c.gso_enabled) {
    /* Trains resumed after EAGAIN still left whole. */
    assert_true(c.gso_sends > 0);
  } else {
    assert_int_equal(c.gso_sends, 0);
  }
}

/* kernel_has_gso tells whether the kernel takes UDP_SEGMENT (an endpoint
 * created with gso keeps it enabled). */
static int kernel_has_gso(void) {
  rudp_event_settings st;
  struct sockaddr_storage ss;
  socklen_t len;
  rudp_event *ev;
  rudp_event_stats s;
  settings_for(&st, 0);
  sa4(&ss, &len, 0);
  ev = ev_new(&ss, len, &st);
  rudp_event_get_stats(ev, &s);
  rudp_event_endpoint_free(ev);
  return s.gso_enabled;
}

static void test_rudp_event_eagain_plain(void **state) {
  (void)state;
  eagain_transfer(0);
}

static void test_rudp_event_eagain_gso(void **state) {
  (void)state;
  eagain_transfer(1);
}

/* With RUDP_EVENT_FORCE_NO_MMSG the first recvmmsg and sendmmsg fail with
 * ENOSYS: both endpoints switch to one recvmsg / sendmsg per datagram
 * (GSO and GRO off, so a message is one datagram) and still deliver every
 * byte. */
static void test_rudp_event_no_mmsg_fallback(void **state) {
  rudp_event_stats c, s;
  (void)state;
  assert_int_equal(setenv("RUDP_EVENT_FORCE_NO_MMSG", "1", 1), 0);
  transfer_ex(0, 1024 * 1024, 0, &c, &s);
  assert_int_equal(unsetenv("RUDP_EVENT_FORCE_NO_MMSG"), 0);
  assert_int_equal(c.recvmmsg_enabled, 0);
  assert_int_equal(c.sendmmsg_enabled, 0);
  assert_int_equal(s.recvmmsg_enabled, 0);
  assert_int_equal(c.mmsg_fallbacks, 2);
  /* The server sends ACKs, seldom two at once: it may never have called
   * sendmmsg. */
  assert_int_equal(s.mmsg_fallbacks, 1 + !s.sendmmsg_enabled);
  assert_int_equal(c.send_errors + s.send_errors, 0);
  /* Every send call took one datagram, hit EAGAIN, or was the one
   * sendmmsg that failed; every datagram received took its own call. */
  assert_int_equal(c.send_syscalls, c.dgrams_sent + c.eagain + 1);
  assert_int_equal(s.send_syscalls,
                   s.dgrams_sent + s.eagain + !s.sendmmsg_enabled);
  assert_true(s.recv_syscalls >= s.dgrams_recv + 1);
  assert_true(c.recv_syscalls >= c.dgrams_recv + 1);
}

/* With RUDP_EVENT_FORCE_GSO_FAIL the first GSO train fails with EIO: GSO
 * turns off for good, no train ever leaves, and the transfer completes. */
static void test_rudp_event_gso_fail_fallback(void **state) {
  rudp_event_stats c, s;
  (void)state;
  if (!kernel_has_gso()) {
    skip(); /* nothing to fall back from */
  }
  assert_int_equal(setenv("RUDP_EVENT_FORCE_GSO_FAIL", "1", 1), 0);
  transfer_ex(1, 1024 * 1024, 0, &c, &s);
  assert_int_equal(unsetenv("RUDP_EVENT_FORCE_GSO_FAIL"), 0);
  assert_int_equal(c.gso_enabled, 0);
  assert_int_equal(c.gso_sends, 0);
  assert_int_equal(c.send_errors, 0);
  assert_true(c.dgrams_sent >= 1024 * 1024 / 1452);
}

static void echo_check(app *a, const char *msg) {
  assert_true(a->closed);
  assert_int_equal(a->close_err, 0);
  assert_int_equal(a->replylen, strlen(msg));
  assert_memory_equal(a->reply, msg, strlen(msg));
}

static size_t count_closed(app **a, size_t n) {
  size_t i, done = 0;
  for (i = 0; i < n; ++i) {
    done += (size_t)a[i]->closed;
  }
  return done;
}

static void test_rudp_event_many_connections(void **state) {
  enum { NCONN = 200 };
  static char msgs[NCONN][32];
  rudp_event_settings st;
  struct sockaddr_storage ss, to;
  socklen_t len, tolen;
  rudp_event *srv, *cli;
  rudp_endpoint_stats es;
  app *a[NCONN];
  size_t i;
  (void)state;

  g_echo = 1;
  settings_for(&st, 1);
  sa4(&ss, &len, 0);
  srv = ev_new(&ss, len, &st);
  settings_for(&st, 0);
  cli = ev_new(&ss, len, &st);
  sa4(&to, &tolen, port_of(srv));
  for (i = 0; i < NCONN; ++i) {
    snprintf(msgs[i], sizeof(msgs[i]), "message %zu", i);
    a[i] = connect_app(cli, &to, tolen, strlen(msgs[i]));
    a[i]->src = (const uint8_t *)msgs[i];
  }
  RUN_UNTIL(count_closed(a, NCONN) == NCONN, LIMIT);
  for (i = 0; i < NCONN; ++i) {
    echo_check(a[i], msgs[i]);
  }
  rudp_endpoint_get_stats(rudp_event_endpoint_get_endpoint(srv), &es);
  assert_int_equal(es.accepted, NCONN);
  rudp_event_endpoint_free(cli);
  rudp_event_endpoint_free(srv);
}

/* echo_once echoes one message from a client bound to |cl| to a server
 * bound to |sv|, the client connecting to |to| with the server's port. */
static void echo_once(const struct sockaddr_storage *sv, socklen_t svlen,
                      const struct sockaddr_storage *cl, socklen_t cllen,
                      struct sockaddr_storage *to, socklen_t tolen) {
  static const char msg[] = "over the other family";
  rudp_event_settings st;
  rudp_event *srv, *cli;
  uint16_t port;
  app *a;

  g_echo = 1;
  settings_for(&st, 1);
  srv = ev_new(sv, svlen, &st);
  settings_for(&st, 0);
  cli = ev_new(cl, cllen, &st);
  port = htons(port_of(srv));
  if (to->ss_family == AF_INET) {
    ((struct sockaddr_in *)to)->sin_port = port;
  } else {
    ((struct sockaddr_in6 *)to)->sin6_port = port;
  }
  a = connect_app(cli, to, tolen, sizeof(msg) - 1);
  a->src = (const uint8_t *)msg;
  RUN_UNTIL(a->closed, LIMIT);
  echo_check(a, msg);
  rudp_event_endpoint_free(cli);
  rudp_event_endpoint_free(srv);
}

static int have_ipv6_loopback(void) {
  struct sockaddr_storage ss;
  socklen_t len;
  int fd = socket(AF_INET6, SOCK_DGRAM, 0), ok;
  if (fd < 0) {
    return 0;
  }
  sa6(&ss, &len, 0, 0);
  ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
  close(fd);
  return ok;
}

static void test_rudp_event_ipv6(void **state) {
  struct sockaddr_storage sv, cl, to;
  socklen_t svlen, cllen, tolen;
  (void)state;
  if (!have_ipv6_loopback()) {
    skip();
  }
  sa6(&sv, &svlen, 0, 0);
  sa6(&cl, &cllen, 0, 0);
  sa6(&to, &tolen, 0, 0);
  echo_once(&sv, svlen, &cl, cllen, &to, tolen);
}

static void test_rudp_event_dual_stack(void **state) {
  struct sockaddr_storage sv, cl, to;
  socklen_t svlen, cllen, tolen;
  (void)state;
  if (!have_ipv6_loopback()) {
    skip();
  }
  /* A server on :: (v6only 0) reached by an IPv4 client on 127.0.0.1. */
  sa6(&sv, &svlen, 0, 1);
  sa4(&cl, &cllen, 0);
  sa4(&to, &tolen, 0);
  echo_once(&sv, svlen, &cl, cllen, &to, tolen);
  /* And a dual-stack client reaching an IPv4 server: the binding maps
   * the AF_INET destination to ::ffff:127.0.0.1. */
  g_napps = 0;
  sa4(&sv, &svlen, 0);
  sa6(&cl, &cllen, 0, 1);
  sa4(&to, &tolen, 0);
  echo_once(&sv, svlen, &cl, cllen, &to, tolen);
}

static void test_rudp_event_backlog_refused(void **state) {
  rudp_event_settings st;
  struct sockaddr_storage ss, to;
  socklen_t len, tolen;
  rudp_event *srv, *cli;
  rudp_endpoint_stats es;
  app *a[3];
  size_t i;
  (void)state;

  g_accept = 0; /* the server never accepts */
  settings_for(&st, 1);
  st.endpoint.accept_backlog = 2;
  sa4(&ss, &len, 0);
  srv = ev_new(&ss, len, &st);
  settings_for(&st, 0);
  cli = ev_new(&ss, len, &st);
  sa4(&to, &tolen, port_of(srv));
  for (i = 0; i < 2; ++i) {
    a[i] = connect_app(cli, &to, tolen, 0);
    RUN_UNTIL(
        (rudp_endpoint_get_stats(rudp_event_endpoint_get_endpoint(srv), &es),
         es.accept_queue == i + 1),
        LIMIT);
    assert_int_equal(es.accept_queue, i + 1);
  }
  a[2] = connect_app(cli, &to, tolen, 0);
  RUN_UNTIL(a[2]->closed, LIMIT);
  assert_true(a[2]->closed);
  assert_int_equal(a[2]->close_err, RUDP_ERR_CONNECTION_REFUSED);
  assert_false(a[0]->closed);
  assert_false(a[1]->closed);
  rudp_endpoint_get_stats(rudp_event_endpoint_get_endpoint(srv), &es);
  assert_int_equal(es.refused, 1);
  rudp_event_endpoint_free(cli);
  rudp_event_endpoint_free(srv);
}

static void test_rudp_event_closed_port_refused(void **state) {
  rudp_event_settings st;
  struct sockaddr_storage ss, to;
  socklen_t len, tolen;
  rudp_event *cli;
  rudp_event_stats es;
  uint16_t port;
  app *a;
  int fd;
  (void)state;

  /* A port that was free a moment ago: bind, read it, close. */
  fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  sa4(&ss, &len, 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
  port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  close(fd);

  settings_for(&st, 0);
  /* The handshake alone would take 6 retries from 1 s: 63 s. */
  st.endpoint.conn.connect_timeout = SEC;
  sa4(&ss, &len, 0);
  cli = ev_new(&ss, len, &st);
  sa4(&to, &tolen, port);
  a = connect_app(cli, &to, tolen, 0);
  RUN_UNTIL(a->closed, 900 * MS);
  rudp_event_get_stats(cli, &es);
  if (!a->closed && es.icmp_unreachable == 0) {
    rudp_event_endpoint_free(cli);
    print_message("no ICMP port unreachable delivered on loopback\n");
    skip();
  }
  assert_true(a->closed);
  assert_int_equal(a->close_err, RUDP_ERR_CONNECTION_REFUSED);
  /* Before the first retransmission. */
  assert_true(a->closed_at - a->started < SEC);
  assert_true(es.icmp_unreachable >= 1);
  rudp_event_endpoint_free(cli);
}

/* ------------------------------------------------------------ wakeup */

typedef struct wake_state {
  rudp_event *ev;
  pthread_t loop_thread;
  int order[8];
  int ran;
  int wrong_thread;
} wake_state;

static wake_state g_wake;
static int g_wake_args[8];

static void wake_fn(void *arg) {
  int *v = arg;
  if (!pthread_equal(pthread_self(), g_wake.loop_thread)) {
    g_wake.wrong_thread = 1;
  }
  g_wake.order[g_wake.ran++] = *v;
}

static void *wake_thread(void *arg) {
  size_t i;
  (void)arg;
  for (i = 0; i < 8; ++i) {
    g_wake_args[i] = (int)i;
    if (rudp_event_wakeup(g_wake.ev, wake_fn, &g_wake_args[i]) != 0) {
      return (void *)1;
    }
  }
  return NULL;
}

/* The impairment layer (settings.netem / RUDP_NETEM): a transfer over a
 * path losing 5% of the datagrams each way with 5 ms of delay still
 * delivers every byte intact, and the counters show the losses. */
static void test_rudp_event_netem(void **state) {
  rudp_event_settings st;
  struct sockaddr_storage ss, to;
  socklen_t len, tolen;
  rudp_event *srv, *cli, *ev = NULL;
  rudp_event_stats cst, sst;
  const size_t total = 512 * 1024;
  rudp_tstamp t0;
  app *a;
  (void)state;

  sa4(&ss, &len, 0);
  /* A bad spec, in the settings or in the environment, is refused. */
  settings_for(&st, 0);
  st.netem = "loss=2%,bogus=1";
  assert_int_equal(rudp_event_endpoint_new(&ev, g_base, (void *)&ss, len, &st,
                                           NULL, NULL, NULL),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_null(ev);
  assert_int_equal(setenv("RUDP_NETEM", "delay=5", 1), 0);
  st.netem = NULL;
  assert_int_equal(rudp_event_endpoint_new(&ev, g_base, (void *)&ss, len, &st,
                                           NULL, NULL, NULL),
                   RUDP_ERR_INVALID_ARGUMENT);
  /* "" overrides the environment: no impairment. */
  st.netem = "";
  ev = ev_new(&ss, len, &st);
  rudp_event_get_stats(ev, &cst);
  assert_int_equal(cst.netem_enabled, 0);
  rudp_event_endpoint_free(ev);
  assert_int_equal(unsetenv("RUDP_NETEM"), 0);

  settings_for(&st, 1);
  st.netem = "loss=5%,delay=5ms,seed=7";
  srv = ev_new(&ss, len, &st);
  settings_for(&st, 0);
  st.netem = "loss=5%,delay=5ms,seed=8";
  cli = ev_new(&ss, len, &st);
  sa4(&to, &tolen, port_of(srv));
  t0 = rudp_event_now();
  a = connect_app(cli, &to, tolen, total);
  RUN_UNTIL(a->closed, LIMIT);
  assert_true(a->closed);
  assert_int_equal(a->close_err, 0);
  assert_int_equal(reply_count(a), total);
  assert_int_equal(g_napps, 2);
  assert_int_equal(g_apps[1].recvd, total);
  assert_false(g_apps[1].bad);
  /* Two round trips at least, each 2 x 5 ms. */
  assert_true(rudp_event_now() - t0 >= 20 * MS);
  rudp_event_get_stats(cli, &cst);
  rudp_event_get_stats(srv, &sst);
  print_message(
      "netem client: offered %llu sent %llu lost %llu; "
      "server: offered %llu sent %llu lost %llu\n",
      (unsigned long long)cst.netem.offered, (unsigned long long)cst.netem.sent,
      (unsigned long long)cst.netem.dropped_loss,
      (unsigned long long)sst.netem.offered, (unsigned long long)sst.netem.sent,
      (unsigned long long)sst.netem.dropped_loss);
  assert_int_equal(cst.netem_enabled, 1);
  assert_int_equal(sst.netem_enabled, 1);
  /* ~360 datagrams at 5%: 18 expected; 3 is 3.5 sd below. */
  assert_true(cst.netem.dropped_loss >= 3);
  assert_true(cst.netem.offered > total / 1452);
  assert_int_equal(cst.netem.dropped_queue, 0);
  assert_int_equal(
      cst.netem.duplicated + cst.netem.corrupted + cst.netem.reordered, 0);
  /* Whatever was not lost went out after the delay (a datagram written
   * just before the end may still be queued). */
  assert_true(cst.netem.sent + cst.netem.dropped_loss <= cst.netem.offered);
  assert_true(cst.netem.sent + cst.netem.dropped_loss + 4 >= cst.netem.offered);
  assert_int_equal(cst.netem.delayed,
                   cst.netem.offered - cst.netem.dropped_loss);
  assert_int_equal(cst.dgrams_sent + cst.send_errors, cst.netem.sent);
  assert_true(sst.netem.dropped_loss > 0);
  assert_int_equal(cst.last_error, 0);
  assert_int_equal(sst.last_error, 0);
  rudp_event_endpoint_free(cli);
  rudp_event_endpoint_free(srv);
}

/* TLS over loopback through a corrupting path: every corrupted short
 * packet fails the AEAD and is dropped and counted, the transfer still
 * completes intact (docs/SECURITY.md). */
static void test_rudp_event_tls_tamper(void **state) {
  rudp_event_settings st;
  struct sockaddr_storage ss, to;
  socklen_t len, tolen;
  rudp_event *srv, *cli;
  rudp_event_stats cst, sst;
  rudp_tls_ctx *sctx, *cctx;
  char fp[96];
  const size_t total = 2 * 1024 * 1024;
  app *a;
  (void)state;
  if (rudp_test_tls_ctxs(&sctx, &cctx, NULL, fp) != 0) {
#ifdef RUDP_TEST_EXPECT_TLS
    fail_msg("configured with OpenSSL, yet rudp_tls_available() is 0");
#endif
    skip();
  }

  sa4(&ss, &len, 0);
  settings_for(&st, 1);
  st.netem = "corrupt=3%,seed=11";
  st.endpoint.conn.tls = sctx;
  srv = ev_new(&ss, len, &st);
  settings_for(&st, 0);
  st.netem = "corrupt=3%,seed=12";
  st.endpoint.conn.tls = cctx;
  st.endpoint.conn.tls_server_name = "127.0.0.1";
  cli = ev_new(&ss, len, &st);
  sa4(&to, &tolen, port_of(srv));
  a = connect_app(cli, &to, tolen, total);
  /* The connections hold their own references to the contexts. */
  rudp_tls_ctx_free(sctx);
  rudp_tls_ctx_free(cctx);
  RUN_UNTIL(a->closed && g_napps == 2 && g_apps[1].closed, LIMIT);
  assert_true(a->closed);
  assert_int_equal(a->close_err, 0);
  assert_int_equal(reply_count(a), total);
  assert_int_equal(g_apps[1].recvd, total);
  assert_false(g_apps[1].bad);
  assert_true(a->tls.enabled && a->tls.handshake_done);
  assert_string_equal(a->tls.peer_fingerprint, fp);
  rudp_event_get_stats(cli, &cst);
  rudp_event_get_stats(srv, &sst);
  print_message("tls tamper: corrupted %llu + %llu; bad integrity at the "
                "server %llu, at the client %llu\n",
                (unsigned long long)cst.netem.corrupted,
                (unsigned long long)sst.netem.corrupted,
                (unsigned long long)g_apps[1].stats.pkts_bad_integrity,
                (unsigned long long)a->stats.pkts_bad_integrity);
  assert_true(cst.netem.corrupted > 10);
  /* A corrupted datagram is refused by the AEAD (short packets) or the
   * CRC (handshake packets), or does not parse: never accepted. */
  assert_true(g_apps[1].stats.pkts_bad_integrity > 0);
  assert_true(g_apps[1].stats.pkts_bad_integrity <= cst.netem.corrupted);
  rudp_event_endpoint_free(cli);
  rudp_event_endpoint_free(srv);
}

static void test_rudp_event_wakeup_other_thread(void **state) {
  struct sockaddr_storage ss;
  socklen_t len;
  pthread_t th;
  void *res;
  int i;
  (void)state;

  memset(&g_wake, 0, sizeof(g_wake));
  sa4(&ss, &len, 0);
  assert_int_equal(rudp_event_endpoint_new(&g_wake.ev, g_base, (void *)&ss, len,
                                           NULL, NULL, NULL, NULL),
                   0);
  g_wake.loop_thread = pthread_self();
  assert_int_equal(rudp_event_wakeup(g_wake.ev, NULL, NULL),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(pthread_create(&th, NULL, wake_thread, NULL), 0);
  assert_int_equal(pthread_join(th, &res), 0);
  assert_null(res);
  /* Nothing runs until the loop does. */
  assert_int_equal(g_wake.ran, 0);
  RUN_UNTIL(g_wake.ran == 8, LIMIT);
  assert_int_equal(g_wake.ran, 8);
  assert_false(g_wake.wrong_thread);
  for (i = 0; i < 8; ++i) {
    assert_int_equal(g_wake.order[i], i);
  }
  /* Queued but not run: dropped by free (ASan checks the leak). */
  assert_int_equal(rudp_event_wakeup(g_wake.ev, wake_fn, &g_wake_args[0]), 0);
  rudp_event_endpoint_free(g_wake.ev);
  assert_int_equal(g_wake.ran, 8);
}

/* ------------------------------------------------- event-driven repair */

/*
 * Issue 10: acks and retransmissions must not wait for a timer tick.  The
 * binding sends whatever the endpoint has after every read (ev_on_read
 * ends with a flush), so an ACK that is due, or a retransmission of a loss
 * that an ACK revealed, leaves from the read callback that caused it; the
 * endpoint timer (rudp_event_stats.timer_fires counts its firings) is for
 * delayed ACKs, time-threshold losses, probes and pacing only.
 *
 * The tests put a relay between client and server: a plain UDP socket on
 * 127.0.0.1, in the same loop, that forwards every datagram, and once
 * armed can drop the next client datagram and hold the following ones to
 * forward them together (a loss chosen exactly, where a random netem loss
 * would also hit the handshake).  For each datagram it takes after arming
 * it logs both endpoints' counters.  One thread runs everything, so a log
 * entry shows the sender just after it sent the datagram and the receiver
 * before it read it.
 */
#define RELAY_LOG 64
#define RELAY_HELD 3

enum { RELAY_FWD, RELAY_DROP, RELAY_HOLD };

typedef struct relay_rec {
  /* c2s: client to server; action: RELAY_*. */
  int c2s;
  int action;
  /* cli_fires, srv_fires: the endpoints' timer_fires. */
  uint64_t cli_fires, srv_fires;
  /* cli, srv: the two connections' counters. */
  rudp_conn_stats cli, srv;
} relay_rec;

typedef struct relay {
  int fd;
  struct event *ev;
  /* srv: the server's address; cli: the client's, from its datagrams. */
  struct sockaddr_in srv, cli;
  int have_cli;
  rudp_event *cev, *sev;
  rudp_conn *cconn, *sconn;
  /* last: when a datagram last went through. */
  rudp_tstamp last;
  int armed;
  /* drop: client datagrams still to drop; hold: how many client
   * datagrams after those to hold, then forward at once. */
  size_t drop, hold, nheld;
  uint8_t held[RELAY_HELD][2048];
  size_t heldlen[RELAY_HELD];
  relay_rec log[RELAY_LOG];
  size_t nlog;
} relay;

static relay g_relay;

static void relay_send(relay *r, const uint8_t *p, size_t n, int c2s) {
  const struct sockaddr_in *to = c2s ? &r->srv : &r->cli;
  assert_int_equal(
      sendto(r->fd, p, n, 0, (const struct sockaddr *)to, sizeof(*to)),
      (ssize_t)n);
}

static void relay_log(relay *r, int c2s, int action) {
  relay_rec *rec;
  rudp_event_stats es;
  if (r->nlog == RELAY_LOG) {
    return;
  }
  rec = &r->log[r->nlog++];
  rec->c2s = c2s;
  rec->action = action;
  rudp_event_get_stats(r->cev, &es);
  rec->cli_fires = es.timer_fires;
  rudp_event_get_stats(r->sev, &es);
  rec->srv_fires = es.timer_fires;
  rudp_conn_get_stats(r->cconn, &rec->cli);
  rudp_conn_get_stats(r->sconn, &rec->srv);
}

static void relay_on_read(evutil_socket_t fd, short what, void *arg) {
  relay *r = arg;
  static uint8_t buf[65536];
  int i;
  (void)what;
  /* Everything queued, so that datagrams sent in one batch go on in one
   * batch. */
  for (i = 0; i < 256; ++i) {
    struct sockaddr_in from;
    socklen_t fromlen = sizeof(from);
    ssize_t n =
        recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
    int c2s, action = RELAY_FWD;
    size_t k;
    if (n < 0) {
      return;
    }
    c2s = from.sin_port != r->srv.sin_port;
    if (c2s) {
      r->cli = from;
      r->have_cli = 1;
    } else if (!r->have_cli) {
      continue;
    }
    r->last = rudp_event_now();
    if (r->armed && c2s && r->drop > 0) {
      --r->drop;
      action = RELAY_DROP;
    } else if (r->armed && c2s && r->nheld < r->hold) {
      assert_true((size_t)n <= sizeof(r->held[0]));
      memcpy(r->held[r->nheld], buf, (size_t)n);
      r->heldlen[r->nheld++] = (size_t)n;
      action = RELAY_HOLD;
    }
    if (r->armed) {
      relay_log(r, c2s, action);
    }
    if (action == RELAY_FWD) {
      relay_send(r, buf, (size_t)n, c2s);
    } else if (action == RELAY_HOLD && r->nheld == r->hold) {
      for (k = 0; k < r->nheld; ++k) {
        relay_send(r, r->held[k], r->heldlen[k], 1);
      }
      r->hold = r->nheld = 0;
    }
  }
}

static uint64_t in_flight(const rudp_conn *conn) {
  rudp_conn_stats st;
  rudp_conn_get_stats(conn, &st);
  return st.bytes_in_flight;
}

/* relay_quiet: both ends established, nothing in flight, no timer due
 * within a second (no delayed ACK pending) and no datagram for 20 ms. */
static int relay_quiet(const app *a) {
  rudp_tstamp now = rudp_event_now();
  return a->established && g_napps == 2 && g_apps[1].established && a->conn &&
         g_apps[1].conn && in_flight(a->conn) == 0 &&
         in_flight(g_apps[1].conn) == 0 &&
         rudp_endpoint_get_expiry(
             rudp_event_endpoint_get_endpoint(g_relay.cev)) > now + SEC &&
         rudp_endpoint_get_expiry(
             rudp_event_endpoint_get_endpoint(g_relay.sev)) > now + SEC &&
         now - g_relay.last >= 20 * MS;
}

/*
 * relay_setup starts a server (its connections with
 * `rudp_settings_low_latency` if |srv_low_latency|, else the delayed ACK
 * of settings_for: after 2 packets or 5 ms) and a client reaching it
 * through g_relay, connects, and runs until the connection is quiet.  The
 * client's min_rto is 2 s: its probe timeout can then not fire during a
 * test, even on a stalled machine, so a retransmission seen must come
 * from loss detection.  Returns the client's app.
 */
static app *relay_setup(int srv_low_latency, rudp_event **psrv,
                        rudp_event **pcli) {
  rudp_event_settings st;
  struct sockaddr_storage ss, to;
  socklen_t len, tolen;
  struct sockaddr_in sin;
  socklen_t sinlen = sizeof(sin);
  relay *r = &g_relay;
  app *a;

  sa4(&ss, &len, 0);
  settings_for(&st, 1);
  if (srv_low_latency) {
    rudp_settings_low_latency(&st.endpoint.conn);
  }
  *psrv = ev_new(&ss, len, &st);
  settings_for(&st, 0);
  st.endpoint.conn.min_rto = 2 * SEC;
  *pcli = ev_new(&ss, len, &st);

  memset(r, 0, sizeof(*r));
  r->cev = *pcli;
  r->sev = *psrv;
  r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  assert_true(r->fd >= 0);
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(r->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(getsockname(r->fd, (struct sockaddr *)&sin, &sinlen), 0);
  r->srv = sin;
  r->srv.sin_port = htons(port_of(*psrv));
  r->ev = event_new(g_base, r->fd, EV_READ | EV_PERSIST, relay_on_read, r);
  assert_non_null(r->ev);
  assert_int_equal(event_add(r->ev, NULL), 0);

  sa4(&to, &tolen, ntohs(sin.sin_port));
  a = connect_app(*pcli, &to, tolen, 0);
  RUN_UNTIL(relay_quiet(a), LIMIT);
  assert_true(relay_quiet(a));
  r->cconn = a->conn;
  r->sconn = g_apps[1].conn;
  return a;
}

static void relay_teardown(rudp_event *srv, rudp_event *cli) {
  event_free(g_relay.ev);
  close(g_relay.fd);
  rudp_event_endpoint_free(cli);
  rudp_event_endpoint_free(srv);
  g_napps = 0;
}

/*
 * An ACK that is due leaves from the read callback that took the packet:
 * with ack_immediately (rudp_settings_low_latency) the server's ACK of one
 * client packet is its only packet sent, and no server timer fired
 * between the packet's arrival and the ACK's departure.  The packet is a
 * DATAGRAM frame that the server's application does not read (no
 * datagram_received callback), so no application call schedules a flush
 * either: only the read callback's own flush can send the ACK.  The
 * control, the default delayed ACK (one packet: wait up to max_ack_delay),
 * shows the counter catching a timer-driven ACK.
 */
static void test_rudp_event_ack_from_read(void **state) {
  int low;
  (void)state;

  for (low = 1; low >= 0; --low) {
    rudp_event *srv, *cli;
    const relay_rec *d, *k;
    rudp_conn_stats cs, ss;
    app *a = relay_setup(low, &srv, &cli);

    g_relay.armed = 1;
    assert_int_equal(rudp_conn_send_datagram(a->conn, g_pat, 100), 0);
    RUN_UNTIL(g_relay.nlog >= 2 && in_flight(a->conn) == 0, LIMIT);
    assert_true(g_relay.nlog >= 2);
    d = &g_relay.log[0];
    k = &g_relay.log[1];
    /* The client's packet, then the server's answer: one packet sent for
     * the one received. */
    assert_int_equal(d->c2s, 1);
    assert_int_equal(d->action, RELAY_FWD);
    assert_int_equal(k->c2s, 0);
    assert_int_equal(k->srv.pkts_recv, d->srv.pkts_recv + 1);
    assert_int_equal(k->srv.pkts_sent, d->srv.pkts_sent + 1);
    print_message("%s ACK: server timer fired %llu times before it\n",
                  low ? "immediate" : "delayed",
                  (unsigned long long)(k->srv_fires - d->srv_fires));
    if (low) {
      assert_int_equal(k->srv_fires, d->srv_fires);
    } else {
      assert_true(k->srv_fires > d->srv_fires);
    }
    /* It was the ACK: the client's data is acknowledged, not probed. */
    assert_int_equal(in_flight(a->conn), 0);
    rudp_conn_get_stats(a->conn, &cs);
    assert_int_equal(cs.pto_count, 0);
    assert_int_equal(cs.pkts_lost, 0);
    assert_int_equal(cs.datagrams_sent, 1);
    rudp_conn_get_stats(g_apps[1].conn, &ss);
    assert_int_equal(ss.datagrams_recv, 1);
    relay_teardown(srv, cli);
  }
}

/*
 * A loss found from an ACK is retransmitted from the read callback that
 * took the ACK (fast retransmit, packet threshold 3): the relay drops the
 * first of four client packets and delivers the other three together; the
 * server acknowledges them at once (a gap), and the client's next packet
 * is the retransmission, sent while neither endpoint's timer had fired
 * since the write and with no probe timeout (pto_count 0).
 */
static void test_rudp_event_retransmit_from_read(void **state) {
  rudp_event *srv, *cli;
  rudp_event_stats ces;
  rudp_conn_stats cs;
  const relay_rec *first, *ack = NULL, *rtx = NULL;
  const size_t total = 4 * 1400;
  size_t i, ndata = 0;
  int64_t sid;
  app *a;
  (void)state;

  a = relay_setup(0, &srv, &cli);
  g_relay.drop = 1;
  g_relay.hold = RELAY_HELD;
  g_relay.armed = 1;
  assert_int_equal(rudp_conn_open_stream(a->conn, 1, &sid), 0);
  assert_int_equal(rudp_conn_stream_write(a->conn, sid, g_pat, total, 0),
                   (rudp_ssize)total);
  RUN_UNTIL(g_apps[1].recvd == total && in_flight(a->conn) == 0, LIMIT);
  assert_int_equal(g_apps[1].recvd, total);
  assert_false(g_apps[1].bad);

  first = &g_relay.log[0];
  assert_true(g_relay.nlog >= 6);
  assert_int_equal(first->c2s, 1);
  assert_int_equal(first->action, RELAY_DROP);
  for (i = 1; i <= RELAY_HELD; ++i) {
    assert_int_equal(g_relay.log[i].c2s, 1);
    assert_int_equal(g_relay.log[i].action, RELAY_HOLD);
  }
  for (i = 0; i < g_relay.nlog; ++i) {
    const relay_rec *e = &g_relay.log[i];
    if (!e->c2s && !ack) {
      ack = e;
    } else if (e->c2s && !ack) {
      ++ndata;
    } else if (e->c2s && e->cli.pkts_retransmitted > 0) {
      rtx = e;
      break;
    }
  }
  /* The write left as one burst (one flush, within the pacer's burst
   * allowance) of at least four packets, before any ACK. */
  assert_true(ndata >= 4);
  assert_int_equal(first->cli.pkts_sent, g_relay.log[ndata - 1].cli.pkts_sent);
  /* The server acknowledged the packets after the hole from its read
   * callback. */
  assert_non_null(ack);
  assert_int_equal(ack->srv_fires, first->srv_fires);
  assert_int_equal(ack->cli.pkts_lost, 0);
  /* The client's next packets are the copy (the lost packet's data, and
   * an ACK frame if one is due, may take two): one loss, every packet
   * sent since the ACK a retransmission, no probe, and no timer fired on
   * either side since the write. */
  assert_non_null(rtx);
  assert_true(rtx > ack);
  assert_int_equal(rtx->cli.pkts_lost, 1);
  assert_true(rtx->cli.pkts_retransmitted >= 1);
  assert_int_equal(rtx->cli.pkts_sent,
                   ack->cli.pkts_sent + rtx->cli.pkts_retransmitted);
  assert_true(rtx->cli.bytes_retransmitted > 0);
  assert_true(rtx->cli.bytes_retransmitted < total);
  assert_int_equal(rtx->cli.pto_count, 0);
  assert_int_equal(rtx->cli_fires, first->cli_fires);
  assert_int_equal(rtx->srv_fires, first->srv_fires);
  assert_int_equal(rtx->action, RELAY_FWD);
  /* Nor did a blocked socket (EV_WRITE) send it. */
  rudp_event_get_stats(cli, &ces);
  assert_int_equal(ces.eagain, 0);
  rudp_conn_get_stats(a->conn, &cs);
  assert_int_equal(cs.pkts_lost, 1);
  assert_int_equal(cs.spurious_losses, 0);
  assert_int_equal(cs.pto_count, 0);
  relay_teardown(srv, cli);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_event_settings_default),
      cmocka_unit_test_setup_teardown(test_rudp_event_new_errors, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_transfer_gso_gro, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_transfer_plain, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_pmtud, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_eagain_plain, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_eagain_gso, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_no_mmsg_fallback, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_gso_fail_fallback, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_many_connections, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_ipv6, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_dual_stack, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_backlog_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_closed_port_refused,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_netem, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_tls_tamper, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_wakeup_other_thread,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_ack_from_read,
                                      setup_precise, teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_retransmit_from_read,
                                      setup_precise, teardown),
  };
  return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
