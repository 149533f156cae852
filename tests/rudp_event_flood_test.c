/*
 * Loopback integration tests of the libevent binding under hostile or
 * parallel load, on real sockets bound to 127.0.0.1 only:
 *
 * - a half-open flood of forged CONNECTs (built with the packet, frame and
 *   transport-parameter codecs, sent from raw UDP sockets that never
 *   answer) is met with RETRY while a real client still connects;
 * - the amplification bound (docs/PROTOCOL.md, RFC 9000 section 8.1): a
 *   server answers one unanswered 1200-byte CONNECT with at most 3 x 1200
 *   bytes;
 * - one endpoint per thread on one port with SO_REUSEPORT
 *   (docs/SCALING.md): every client is served, whichever socket the
 *   kernel picked.
 *
 * Every loop is bounded in time (LIMIT) and in iterations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
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

#include "rudp_frame.h"
#include "rudp_pkt.h"
#include "rudp_test_helper.h"
#include "rudp_tp.h"

#define MS RUDP_MILLISECONDS
#define SEC RUDP_SECONDS
/* LIMIT bounds every wait of a test. */
#define LIMIT (20 * SEC)

static struct event_base *g_base;
static struct event *g_tick;

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

static int setup(void **state) {
  struct timeval tv = {0, 10000};
  (void)state;
  g_base = event_base_new();
  assert_non_null(g_base);
  /* A 10 ms tick: EVLOOP_ONCE returns at least that often, so RUN_UNTIL
   * re-checks its condition and deadline. */
  g_tick = event_new(g_base, -1, EV_PERSIST, tick, NULL);
  assert_non_null(g_tick);
  event_add(g_tick, &tv);
  return 0;
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

static uint16_t port_of(const rudp_event *ev) {
  struct sockaddr_storage ss;
  socklen_t len;
  assert_int_equal(rudp_event_local_addr(ev, &ss, &len), 0);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* settings_for gives fast timers for tests; |listen| makes a server. */
static void settings_for(rudp_event_settings *st, int listen) {
  rudp_event_settings_default(st);
  st->netem = ""; /* never impaired by RUDP_NETEM from the environment */
  st->endpoint.listen = listen;
  st->endpoint.conn.initial_rtt = 20 * MS;
  st->endpoint.conn.connect_timeout = 200 * MS;
  st->endpoint.conn.max_ack_delay = 5 * MS;
}

/* ------------------------------------------------------------ echo server */

/*
 * The server side echoes every stream, FIN included, and keeps no state
 * of its own, so the same callbacks serve the threads of the reuseport
 * test.  Accepted connections are counted in the endpoint's user data.
 */
static int srv_stream_readable(rudp_conn *conn, int64_t id, void *ud) {
  uint8_t buf[4096];
  (void)ud;
  for (;;) {
    int fin = 0;
    rudp_ssize nr = rudp_conn_stream_read(conn, id, buf, sizeof(buf), &fin);
    if (nr < 0) {
      return 0;
    }
    if ((nr > 0 || fin) &&
        rudp_conn_stream_write(conn, id, buf, (size_t)nr, fin) != nr) {
      /* The messages are small: the send buffer never fills. */
      return RUDP_ERR_CALLBACK_FAILURE;
    }
    if (fin || nr == 0) {
      return 0;
    }
  }
}

static int srv_accept_ready(rudp_endpoint *ep, void *ud) {
  uint64_t *accepted = ud;
  while (rudp_endpoint_accept(ep) != NULL) {
    if (accepted) {
      ++*accepted;
    }
  }
  return 0;
}

static rudp_callbacks srv_callbacks(void) {
  rudp_callbacks cb;
  memset(&cb, 0, sizeof(cb));
  cb.stream_readable = srv_stream_readable;
  return cb;
}

/* ------------------------------------------------------------ echo client */

/* A client opens one stream, sends |msg| with FIN, reads the echo to its
 * end and closes. */
typedef struct client {
  rudp_conn *conn;
  char msg[48];
  size_t msglen;
  uint8_t reply[64];
  size_t replylen;
  int fin;
  int closed;
  int close_err;
} client;

static int cli_streams_available(rudp_conn *conn, int bidi, void *ud) {
  client *c = ud;
  int64_t sid;
  if (!bidi || c->msglen == 0) {
    return 0;
  }
  assert_int_equal(rudp_conn_open_stream(conn, 1, &sid), 0);
  assert_int_equal(
      rudp_conn_stream_write(conn, sid, (const uint8_t *)c->msg, c->msglen, 1),
      c->msglen);
  c->msglen = 0; /* sent */
  return 0;
}

static int cli_stream_readable(rudp_conn *conn, int64_t id, void *ud) {
  client *c = ud;
  uint8_t buf[256];
  for (;;) {
    int fin = 0;
    rudp_ssize nr = rudp_conn_stream_read(conn, id, buf, sizeof(buf), &fin);
    size_t room = sizeof(c->reply) - c->replylen;
    if (nr < 0 || (c->fin && nr == 0)) {
      return 0;
    }
    if ((size_t)nr > room) {
      nr = (rudp_ssize)room;
    }
    memcpy(c->reply + c->replylen, buf, (size_t)nr);
    c->replylen += (size_t)nr;
    if (fin) {
      c->fin = 1;
      assert_int_equal(rudp_conn_close(conn, rudp_event_now()), 0);
      return 0;
    }
    if (nr == 0) {
      return 0;
    }
  }
}

static void cli_closed(rudp_conn *conn, int error, void *ud) {
  client *c = ud;
  (void)conn;
  c->closed = 1;
  c->close_err = error;
  c->conn = NULL;
}

static rudp_callbacks cli_callbacks(void) {
  rudp_callbacks cb;
  memset(&cb, 0, sizeof(cb));
  cb.streams_available = cli_streams_available;
  cb.stream_readable = cli_stream_readable;
  cb.closed = cli_closed;
  return cb;
}

static rudp_event *ev_new(const struct sockaddr_storage *ss, socklen_t len,
                          const rudp_event_settings *st,
                          const rudp_endpoint_callbacks *epcb,
                          const rudp_callbacks *cb, void *ud) {
  rudp_event *ev = NULL;
  assert_int_equal(rudp_event_endpoint_new(&ev, g_base,
                                           (const struct sockaddr *)ss, len, st,
                                           epcb, cb, ud),
                   0);
  return ev;
}

static void client_start(client *c, rudp_event *ev, uint16_t port,
                         const char *msg) {
  struct sockaddr_storage to;
  socklen_t tolen;
  memset(c, 0, sizeof(*c));
  snprintf(c->msg, sizeof(c->msg), "%s", msg);
  c->msglen = strlen(c->msg);
  sa4(&to, &tolen, port);
  assert_int_equal(rudp_event_connect(ev, (const struct sockaddr *)&to, tolen,
                                      NULL, c, &c->conn),
                   0);
}

static void client_check(const client *c, const char *msg) {
  assert_true(c->closed);
  assert_int_equal(c->close_err, 0);
  assert_int_equal(c->replylen, strlen(msg));
  assert_memory_equal(c->reply, msg, strlen(msg));
}

/* ------------------------------------------------------------ forgery */

/*
 * forge_connect writes into |out| a CONNECT a real client could have sent
 * (docs/PROTOCOL.md 2.2, 4.4): random 8-byte DCID and SCID, no token,
 * packet number 0, one CRYPTO frame with the client's transport
 * parameters, padded to RUDP_MIN_UDP_PAYLOAD and sealed with its CRC32C.
 * Returns its length (always RUDP_MIN_UDP_PAYLOAD).
 */
static size_t forge_connect(uint8_t *out, rudp_test_rng *rng) {
  uint8_t cid[2][8], tpbuf[RUDP_TP_MAXLEN];
  rudp_transport_params tp;
  rudp_pkt_hd hd, dec;
  rudp_frame fr;
  rudp_ssize hdlen, tplen, frlen;
  size_t len;

  rudp_test_rng_fill(rng, cid, sizeof(cid));
  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_CONNECT;
  hd.flags = RUDP_PKT_FLAG_LONG_FORM;
  hd.version = RUDP_PROTO_VER_V1;
  rudp_cid_init(&hd.dcid, cid[0], sizeof(cid[0]));
  rudp_cid_init(&hd.scid, cid[1], sizeof(cid[1]));
  hd.pkt_num = 0;
  hd.pkt_numlen = 1;
  hd.len = RUDP_MIN_UDP_PAYLOAD; /* sizes the field; patched below */
  hdlen = rudp_pkt_encode_hd(out, RUDP_MIN_UDP_PAYLOAD, &hd);
  assert_true(hdlen > 0);

  rudp_transport_params_default(&tp);
  tp.initial_max_data = 1 << 20;
  tp.initial_max_stream_data_bidi_local = 1 << 18;
  tp.initial_max_stream_data_bidi_remote = 1 << 18;
  tp.initial_max_streams_bidi = 100;
  memcpy(tp.initial_scid, cid[1], sizeof(cid[1]));
  tp.initial_scidlen = sizeof(cid[1]);
  tp.initial_scid_present = 1;
  tplen = rudp_tp_encode(tpbuf, sizeof(tpbuf), &tp, 0);
  assert_true(tplen > 0);

  memset(&fr, 0, sizeof(fr));
  fr.crypto.type = RUDP_FRAME_CRYPTO;
  fr.crypto.offset = 0;
  fr.crypto.data = tpbuf;
  fr.crypto.datalen = (size_t)tplen;
  frlen = rudp_frame_encode(
      out + hdlen, RUDP_MIN_UDP_PAYLOAD - RUDP_PKT_CRCLEN - (size_t)hdlen, &fr);
  assert_true(frlen > 0);

  /* PADDING frames (zero bytes) to the minimum datagram size. */
  len = (size_t)hdlen + (size_t)frlen;
  memset(out + len, 0, RUDP_MIN_UDP_PAYLOAD - RUDP_PKT_CRCLEN - len);
  len = RUDP_MIN_UDP_PAYLOAD - RUDP_PKT_CRCLEN;
  assert_int_equal(
      rudp_pkt_patch_len(out, len,
                         len - (size_t)hdlen + hd.pkt_numlen + RUDP_PKT_CRCLEN),
      0);
  len = rudp_pkt_seal_crc_pn(out, len, 0);
  assert_int_equal(len, RUDP_MIN_UDP_PAYLOAD);

  /* It decodes as one whole CONNECT whose CRC verifies. */
  assert_int_equal(rudp_pkt_decode_hd(&dec, out, len, 8), hdlen);
  assert_int_equal(dec.type, RUDP_PKT_CONNECT);
  assert_int_equal(dec.pktlen, len);
  assert_int_equal(rudp_pkt_verify_crc_pn(out, len, 0), 0);
  return len;
}

/* raw_socket returns a non-blocking UDP socket bound to 127.0.0.1:0. */
static int raw_socket(void) {
  struct sockaddr_storage ss;
  socklen_t len;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  sa4(&ss, &len, 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
  return fd;
}

/* raw_drain reads every datagram waiting on |fd|; it adds their count and
 * bytes, and the RETRY packets among them, to the counters given. */
static void raw_drain(int fd, uint64_t *dgrams, uint64_t *bytes,
                      uint64_t *retries) {
  uint8_t buf[65536];
  size_t guard;
  for (guard = 0; guard < 100000; ++guard) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      assert_true(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
      if (errno != EINTR) {
        return;
      }
      continue;
    }
    ++*dgrams;
    *bytes += (uint64_t)n;
    /* Long header, type 3: RETRY (docs/PROTOCOL.md 2.3). */
    if (retries && n > 0 && (buf[0] & 0xc0) == 0xc0 &&
        ((buf[0] >> 4) & 0x3) == RUDP_PKT_RETRY) {
      ++*retries;
    }
  }
}

/* ------------------------------------------------------------ flood */

#define FLOOD_SOCKS 4
#define FLOOD_BURST 8
#define FLOOD_MAX 50000

typedef struct flood {
  int fds[FLOOD_SOCKS];
  uint16_t port;
  rudp_endpoint *srv;
  rudp_test_rng rng;
  uint64_t sent;
  uint64_t dgrams, bytes, retries;
  uint64_t max_half_open;
} flood;

static void flood_sample(flood *f) {
  rudp_endpoint_stats es;
  rudp_endpoint_get_stats(f->srv, &es);
  if (es.half_open > f->max_half_open) {
    f->max_half_open = es.half_open;
  }
}

/* flood_fire sends a burst of forged CONNECTs, each from the next raw
 * socket in turn, drains their answers and samples the half-open table. */
static void flood_fire(evutil_socket_t fd, short what, void *arg) {
  flood *f = arg;
  struct sockaddr_storage to;
  socklen_t tolen;
  uint8_t dgram[RUDP_MIN_UDP_PAYLOAD];
  size_t i;
  (void)fd;
  (void)what;
  sa4(&to, &tolen, f->port);
  for (i = 0; i < FLOOD_BURST && f->sent < FLOOD_MAX; ++i) {
    int s = f->fds[f->sent % FLOOD_SOCKS];
    size_t len = forge_connect(dgram, &f->rng);
    /* A full socket buffer just loses this one: it is a flood. */
    if (sendto(s, dgram, len, 0, (struct sockaddr *)&to, tolen) ==
        (ssize_t)len) {
      ++f->sent;
    }
  }
  for (i = 0; i < FLOOD_SOCKS; ++i) {
    raw_drain(f->fds[i], &f->dgrams, &f->bytes, &f->retries);
  }
  flood_sample(f);
}

static void test_rudp_event_flood_half_open_retry(void **state) {
  static const char msg[] = "through the flood";
  rudp_endpoint_callbacks epcb = {NULL, srv_accept_ready, NULL};
  rudp_callbacks scb = srv_callbacks(), ccb = cli_callbacks();
  rudp_event_settings st;
  struct sockaddr_storage ss;
  socklen_t len;
  rudp_event *srv, *cli;
  rudp_endpoint_stats es;
  struct timeval tv = {0, 2000};
  struct event *fire;
  uint64_t accepted = 0;
  flood f;
  client c;
  size_t i;
  (void)state;

  settings_for(&st, 1);
  st.endpoint.retry = RUDP_RETRY_AUTO;
  st.endpoint.max_half_open = 16;
  st.endpoint.retry_threshold = 4;
  /* The forged half-open connections never complete and stay for the
   * whole test (handshake_timeout 10 s): the table sits at the threshold
   * and every further CONNECT without a token is sent a RETRY. */
  sa4(&ss, &len, 0);
  srv = ev_new(&ss, len, &st, &epcb, &scb, &accepted);

  memset(&f, 0, sizeof(f));
  rudp_test_rng_init(&f.rng, 0x466c6f6f64ULL);
  f.port = port_of(srv);
  f.srv = rudp_event_endpoint_get_endpoint(srv);
  for (i = 0; i < FLOOD_SOCKS; ++i) {
    f.fds[i] = raw_socket();
  }
  fire = event_new(g_base, -1, EV_PERSIST, flood_fire, &f);
  assert_non_null(fire);
  event_add(fire, &tv);

  /* The flood first fills the half-open table to the RETRY threshold,
   * then goes on. */
  RUN_UNTIL(f.retries > 0 && f.sent >= 800, LIMIT);
  assert_true(f.retries > 0);
  assert_true(f.sent >= 800);

  /* A real client, under the flood, is sent a RETRY, comes back with its
   * token (a validated CONNECT may use the slots between retry_threshold
   * and max_half_open) and echoes its message. */
  settings_for(&st, 0);
  st.endpoint.conn.connect_timeout = SEC;
  st.recv_batch = 4;
  cli = ev_new(&ss, len, &st, NULL, &ccb, NULL);
  client_start(&c, cli, f.port, msg);
  RUN_UNTIL(c.closed, LIMIT);
  flood_fire(-1, 0, &f);
  event_free(fire);

  client_check(&c, msg);
  rudp_endpoint_get_stats(f.srv, &es);
  print_message(
      "flood: %llu CONNECTs sent, %llu answers (%llu RETRY), "
      "server retries_sent %llu, refused %llu, max half-open "
      "%llu\n",
      (unsigned long long)f.sent, (unsigned long long)f.dgrams,
      (unsigned long long)f.retries, (unsigned long long)es.retries_sent,
      (unsigned long long)es.refused, (unsigned long long)f.max_half_open);
  assert_true(es.retries_sent > 0);
  /* Every RETRY but the client's went to a raw socket (loopback loses
   * nothing), and the client's token was good. */
  assert_true(es.retries_sent > f.retries);
  assert_int_equal(es.tokens_invalid, 0);
  assert_true(f.max_half_open >= 4);
  assert_true(f.max_half_open <= 16);
  assert_true(es.half_open <= 16);
  assert_int_equal(accepted, 1);
  assert_true(f.sent > f.retries);

  for (i = 0; i < FLOOD_SOCKS; ++i) {
    close(f.fds[i]);
  }
  rudp_event_endpoint_free(cli);
  rudp_event_endpoint_free(srv);
}

/* ------------------------------------------------------------ amplification */

typedef struct sink {
  int fd;
  uint64_t dgrams, bytes;
} sink;

static void sink_read(evutil_socket_t fd, short what, void *arg) {
  sink *k = arg;
  (void)fd;
  (void)what;
  raw_drain(k->fd, &k->dgrams, &k->bytes, NULL);
}

static void test_rudp_event_flood_amplification_bound(void **state) {
  rudp_endpoint_callbacks epcb = {NULL, srv_accept_ready, NULL};
  rudp_callbacks scb = srv_callbacks();
  rudp_event_settings st;
  struct sockaddr_storage ss, to;
  socklen_t len, tolen;
  uint8_t dgram[RUDP_MIN_UDP_PAYLOAD];
  rudp_test_rng rng;
  rudp_endpoint_stats es;
  rudp_event *srv;
  struct event *rd;
  rudp_tstamp end;
  uint64_t max_half_open = 0;
  size_t dlen;
  sink k;
  (void)state;

  settings_for(&st, 1);
  /* The half-open connection outlives the observation, and a 20 ms
   * initial RTT makes it retransmit its ACCEPT many times in 5 s: only
   * the amplification limit keeps it quiet. */
  st.endpoint.conn.handshake_timeout = 10 * SEC;
  st.endpoint.retry = RUDP_RETRY_NEVER;
  sa4(&ss, &len, 0);
  srv = ev_new(&ss, len, &st, &epcb, &scb, NULL);

  memset(&k, 0, sizeof(k));
  k.fd = raw_socket();
  rd = event_new(g_base, k.fd, EV_READ | EV_PERSIST, sink_read, &k);
  assert_non_null(rd);
  event_add(rd, NULL);

  rudp_test_rng_init(&rng, 0x416d706cULL);
  dlen = forge_connect(dgram, &rng);
  sa4(&to, &tolen, port_of(srv));
  assert_int_equal(sendto(k.fd, dgram, dlen, 0, (struct sockaddr *)&to, tolen),
                   (ssize_t)dlen);

  /* Watch for 5 s, reading every datagram the server sends. */
  end = rudp_event_now() + 5 * SEC;
  RUN_UNTIL(
      (rudp_endpoint_get_stats(rudp_event_endpoint_get_endpoint(srv), &es),
       max_half_open =
           es.half_open > max_half_open ? es.half_open : max_half_open,
       rudp_event_now() >= end),
      6 * SEC);
  raw_drain(k.fd, &k.dgrams, &k.bytes, NULL);
  event_free(rd);

  print_message("amplification: %llu datagrams, %llu bytes answered one "
                "%zu-byte CONNECT in 5 s\n",
                (unsigned long long)k.dgrams, (unsigned long long)k.bytes,
                dlen);
  /* The forgery opened a half-open connection, which answered and
   * retransmitted its ACCEPT (nobody acknowledged it). */
  assert_int_equal(max_half_open, 1);
  assert_true(k.dgrams >= 2);
  assert_true(k.bytes > 0);
  /* RFC 9000 section 8.1: at most three times what the address sent. */
  assert_true(k.bytes <= 3 * RUDP_MIN_UDP_PAYLOAD);
  rudp_endpoint_get_stats(rudp_event_endpoint_get_endpoint(srv), &es);
  assert_int_equal(es.accepted, 0);
  assert_int_equal(es.retries_sent, 0);

  close(k.fd);
  rudp_event_endpoint_free(srv);
}

/* ------------------------------------------------------------ reuseport */

#define MT_THREADS 2
#define MT_CLIENTS 50

typedef struct mt_server {
  struct event_base *base;
  rudp_event *ev;
  pthread_t th;
  uint64_t accepted; /* written by the thread, read after the join */
  int rv;
} mt_server;

static void *mt_run(void *arg) {
  mt_server *s = arg;
  s->rv = event_base_dispatch(s->base);
  return NULL;
}

/* mt_stop runs on a server thread (rudp_event_wakeup) and ends its loop. */
static void mt_stop(void *arg) { event_base_loopbreak(arg); }

static size_t count_closed(const client *c, size_t n) {
  size_t i, done = 0;
  for (i = 0; i < n; ++i) {
    done += (size_t)c[i].closed;
  }
  return done;
}

static void test_rudp_event_flood_reuseport_threads(void **state) {
  static client c[MT_CLIENTS];
  static char msgs[MT_CLIENTS][32];
  rudp_endpoint_callbacks epcb = {NULL, srv_accept_ready, NULL};
  rudp_callbacks scb = srv_callbacks(), ccb = cli_callbacks();
  rudp_event_settings st;
  struct sockaddr_storage ss;
  socklen_t len;
  mt_server srv[MT_THREADS];
  rudp_event *cli[MT_CLIENTS];
  uint16_t port = 0;
  uint64_t total = 0;
  size_t i;
  (void)state;

  /* One endpoint per thread, each with its own event_base, all bound to
   * the same port: the first picks it, the others join it. */
  settings_for(&st, 1);
  st.reuseport = 1;
  for (i = 0; i < MT_THREADS; ++i) {
    memset(&srv[i], 0, sizeof(srv[i]));
    srv[i].base = event_base_new();
    assert_non_null(srv[i].base);
    sa4(&ss, &len, port);
    assert_int_equal(rudp_event_endpoint_new(&srv[i].ev, srv[i].base,
                                             (struct sockaddr *)&ss, len, &st,
                                             &epcb, &scb, &srv[i].accepted),
                     0);
    port = port_of(srv[i].ev);
  }
  for (i = 0; i < MT_THREADS; ++i) {
    assert_int_equal(pthread_create(&srv[i].th, NULL, mt_run, &srv[i]), 0);
  }

  /* Each client has its own socket (its own 4-tuple), so the kernel's
   * reuseport hash spreads them over the server sockets. */
  settings_for(&st, 0);
  st.endpoint.conn.connect_timeout = SEC;
  st.recv_batch = 2;
  st.send_batch = 2;
  st.sockbuf_size = 0;
  for (i = 0; i < MT_CLIENTS; ++i) {
    sa4(&ss, &len, 0);
    cli[i] = ev_new(&ss, len, &st, NULL, &ccb, NULL);
    snprintf(msgs[i], sizeof(msgs[i]), "thread message %zu", i);
    client_start(&c[i], cli[i], port, msgs[i]);
  }
  RUN_UNTIL(count_closed(c, MT_CLIENTS) == MT_CLIENTS, LIMIT);

  for (i = 0; i < MT_THREADS; ++i) {
    assert_int_equal(rudp_event_wakeup(srv[i].ev, mt_stop, srv[i].base), 0);
  }
  for (i = 0; i < MT_THREADS; ++i) {
    assert_int_equal(pthread_join(srv[i].th, NULL), 0);
    assert_int_equal(srv[i].rv, 0);
  }
  for (i = 0; i < MT_CLIENTS; ++i) {
    client_check(&c[i], msgs[i]);
  }
  for (i = 0; i < MT_THREADS; ++i) {
    rudp_event_stats es;
    rudp_event_get_stats(srv[i].ev, &es);
    print_message("thread %zu: %llu connections accepted\n", i,
                  (unsigned long long)srv[i].accepted);
    assert_int_equal(es.last_error, 0);
    total += srv[i].accepted;
  }
  assert_int_equal(total, MT_CLIENTS);
  /* 50 random 4-tuples all hashing to one socket: odds 2^-49. */
  for (i = 0; i < MT_THREADS; ++i) {
    assert_true(srv[i].accepted > 0);
  }

  for (i = 0; i < MT_CLIENTS; ++i) {
    rudp_event_endpoint_free(cli[i]);
  }
  for (i = 0; i < MT_THREADS; ++i) {
    rudp_event_endpoint_free(srv[i].ev);
    event_base_free(srv[i].base);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rudp_event_flood_half_open_retry,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_flood_amplification_bound,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_rudp_event_flood_reuseport_threads,
                                      setup, teardown),
  };
  return cmocka_run_group_tests_name("event_flood", tests, NULL, NULL);
}
