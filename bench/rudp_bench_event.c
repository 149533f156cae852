/*
 * rudp_bench_event: the libevent binding (rudp_event.h) on loopback.
 *
 * Cases (all sockets are bound to and send only to 127.0.0.1):
 *
 *   gso    one connection, bulk transfer, UDP GSO + GRO, batches of 32
 *   mmsg   the same without GSO/GRO: sendmmsg/recvmmsg batches of 32
 *   plain  the same with batches of 1 (one sendmsg/recvmsg per datagram)
 *   tcp    kernel TCP over loopback, same harness, 64 KiB send/recv
 *   hs     handshakes: M connections, |inflight| at a time; one counts
 *          once both ends have completed it (the server accepted it: in
 *          TLS mode after the client's Finished), and the server then
 *          closes it at once
 *
 * With -t aes128|aes256|chacha20 the librudp cases (bulk and hs) run in
 * TLS mode with that cipher suite: the server has an ephemeral
 * certificate, the client accepts it without verification (insecure: the
 * cost measured is the handshake and the packet protection, not the trust
 * decision) and keeps no session tickets, so every handshake is a full
 * one.  -t none (the default) is plain mode.
 *
 * The bulk cases run the server and the client on two threads, each with
 * its own event_base (the binding's threading model: one endpoint per
 * loop thread).  Goodput is the bytes the server application read in order
 * divided by the wall time from the client's connect to the server reading
 * FIN; CPU is getrusage(RUSAGE_SELF) user + sys over the same interval, so
 * both ends are included.  Every run is bounded (LIMIT wall seconds) and
 * the program exits with status 1 and a message if one does not finish.
 * Each case runs |reps| times and the run with the median figure is
 * reported.  Not a test: it never fails because the machine is slow.
 *
 *   rudp_bench_event [-c gso,mmsg,plain,tcp,hs] [-n MIB] [-m HANDSHAKES]
 *                    [-i INFLIGHT] [-r REPS] [-s PAYLOAD] [-P PMTUD_MAX]
 *                    [-t none|aes128|aes256|chacha20] [-J]
 *
 * -s is the datagram size a connection starts with; path MTU discovery
 * (on by default, rudp_settings.pmtud_max_udp_payload_size) then raises it
 * up to -P bytes on loopback; -P 0 keeps every datagram at -s bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/event.h>

#include <rudp/rudp.h>
#include <rudp/rudp_event.h>
#include <rudp/rudp_tls.h>

#define SEC RUDP_SECONDS
#define MS RUDP_MILLISECONDS
/* LIMIT bounds the wall time of one run of one case. */
#define LIMIT (60 * SEC)
#define CHUNK (64 * 1024)
#define MAXREPS 15
#define GIB (1024.0 * 1024.0 * 1024.0)

static void die(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

static void die(const char *fmt, ...) {
  va_list ap;
  fputs("rudp_bench_event: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static double cpu_now(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* TLS contexts of the librudp cases (NULL: plain mode) and the suite. */
static rudp_tls_ctx *g_stls, *g_ctls;
static const char *g_suite = "none";

static rudp_tls_ctx *tls_ctx(const char *suite, int server) {
  rudp_tls_config cfg;
  rudp_tls_ctx *ctx;
  char err[256];
  rudp_tls_config_default(&cfg);
  cfg.server = server;
  cfg.insecure = !server;
  cfg.session_cache = 0;
  cfg.ciphersuites = suite;
  if (rudp_tls_ctx_new(&ctx, &cfg, err, sizeof(err)) != 0) {
    die("TLS context: %s", err);
  }
  return ctx;
}

static int load(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

static void store(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

static void sa4(struct sockaddr_storage *ss, socklen_t *len, uint16_t port) {
  struct sockaddr_in *sin = (struct sockaddr_in *)ss;
  memset(ss, 0, sizeof(*ss));
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  *len = sizeof(*sin);
}

static void tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
}

/* new_base makes an event_base with a 10 ms tick, so that EVLOOP_ONCE
 * returns at least that often and the loops re-check their deadline. */
static struct event_base *new_base(struct event **ptick) {
  struct timeval tv = {0, 10000};
  struct event_base *base = event_base_new();
  if (!base) {
    die("event_base_new failed");
  }
  *ptick = event_new(base, -1, EV_PERSIST, tick, NULL);
  if (!*ptick || event_add(*ptick, &tv) != 0) {
    die("event_new failed");
  }
  return base;
}

/* ------------------------------------------------------------ results */

typedef struct result {
  double secs;    /* wall */
  double cpu;     /* user + sys, whole process */
  uint64_t bytes; /* goodput bytes, or handshakes */
  double rate;    /* Gbit/s, or handshakes/s: the figure the median uses */
  uint64_t retx, lost, pto;
  uint64_t accepted;  /* hs: connections the server established */
  uint64_t half_open; /* hs: server connections still half-open */
  rudp_event_stats cev, sev;
} result;

static int cmp_rate(const void *a, const void *b) {
  double x = ((const result *)a)->rate, y = ((const result *)b)->rate;
  return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------ bulk */

typedef struct bulk {
  uint64_t total;
  /* server thread */
  struct event_base *sbase;
  rudp_event *sev;
  uint64_t received;
  int fin_seen;
  int stop;
  rudp_tstamp t_fin;
  double cpu_fin;
  /* client thread */
  struct event_base *cbase;
  rudp_event *cev;
  rudp_conn *conn;
  int64_t sid;
  uint64_t sent;
  int fin_sent;
  int closed;
  int close_err;
  rudp_conn_stats cst;
  rudp_tstamp t0;
  struct sockaddr_storage to;
  socklen_t tolen;
} bulk;

static bulk B;
static uint8_t g_chunk[CHUNK];
static uint8_t g_rbuf[CHUNK];

static int srv_readable(rudp_conn *conn, int64_t id, void *ud) {
  (void)ud;
  for (;;) {
    int fin = 0;
    rudp_ssize n =
        rudp_conn_stream_read(conn, id, g_rbuf, sizeof(g_rbuf), &fin);
    if (n < 0 || B.fin_seen) {
      return 0;
    }
    B.received += (uint64_t)n;
    if (fin) {
      B.t_fin = rudp_event_now();
      B.cpu_fin = cpu_now();
      store(&B.fin_seen, 1);
      return 0;
    }
    if (n == 0) {
      return 0;
    }
  }
}

static int srv_accept_ready(rudp_endpoint *ep, void *ud) {
  (void)ud;
  while (rudp_endpoint_accept(ep) != NULL) {
  }
  return 0;
}

static void cli_pump(rudp_conn *conn) {
  while (!B.fin_sent && B.sid >= 0) {
    uint64_t left = B.total - B.sent;
    size_t chunk = left < CHUNK ? (size_t)left : CHUNK;
    int fin = chunk == left;
    rudp_ssize n = rudp_conn_stream_write(conn, B.sid, g_chunk, chunk, fin);
    if (n == RUDP_ERR_WOULDBLOCK) {
      return;
    }
    if (n < 0) {
      die("stream_write: %s", rudp_strerror((int)n));
    }
    B.sent += (uint64_t)n;
    if ((size_t)n < chunk) {
      return;
    }
    if (fin) {
      B.fin_sent = 1;
      /* Graceful: the close waits for the data to be acknowledged. */
      if (rudp_conn_close(conn, rudp_event_now()) != 0) {
        die("rudp_conn_close failed");
      }
    }
  }
}

static int cli_streams_available(rudp_conn *conn, int bidi, void *ud) {
  (void)ud;
  if (bidi && B.sid < 0) {
    if (rudp_conn_open_stream(conn, 1, &B.sid) != 0) {
      die("rudp_conn_open_stream failed");
    }
    cli_pump(conn);
  }
  return 0;
}

static int cli_writable(rudp_conn *conn, int64_t id, void *ud) {
  (void)id;
  (void)ud;
  cli_pump(conn);
  return 0;
}

static void cli_closed(rudp_conn *conn, int error, void *ud) {
  (void)ud;
  rudp_conn_get_stats(conn, &B.cst);
  B.close_err = error;
  B.closed = 1;
  B.conn = NULL;
}

static const rudp_callbacks srv_cb = {
    NULL, NULL, srv_readable, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};
static const rudp_callbacks cli_cb = {
    NULL, NULL, NULL, cli_writable,          NULL,       NULL,
    NULL, NULL, NULL, cli_streams_available, cli_closed,
};
static const rudp_endpoint_callbacks srv_epcb = {NULL, srv_accept_ready, NULL};

static void *srv_main(void *arg) {
  rudp_tstamp limit = rudp_event_now() + LIMIT + 5 * SEC;
  (void)arg;
  while (!load(&B.stop) && rudp_event_now() < limit) {
    event_base_loop(B.sbase, EVLOOP_ONCE);
  }
  return NULL;
}

static void *cli_main(void *arg) {
  rudp_tstamp limit;
  int rv;
  (void)arg;
  B.t0 = rudp_event_now();
  limit = B.t0 + LIMIT;
  rv = rudp_event_connect(B.cev, (const struct sockaddr *)&B.to, B.tolen, NULL,
                          NULL, &B.conn);
  if (rv != 0) {
    die("rudp_event_connect: %s", rudp_strerror(rv));
  }
  while (!B.closed && rudp_event_now() < limit) {
    event_base_loop(B.cbase, EVLOOP_ONCE);
  }
  return NULL;
}

/* g_pmtud_max is -P: path MTU discovery's ceiling (SIZE_MAX: the
 * library's default). */
static size_t g_pmtud_max = SIZE_MAX;

static void bulk_settings(rudp_event_settings *st, int listen, int offload,
                          size_t batch, size_t payload) {
  rudp_settings *c = &st->endpoint.conn;
  rudp_event_settings_default(st);
  st->endpoint.listen = listen;
  st->gso = st->gro = offload;
  st->send_batch = st->recv_batch = batch;
  c->tx_udp_payload_size = payload;
  if (g_pmtud_max != SIZE_MAX) {
    c->pmtud_max_udp_payload_size = g_pmtud_max;
  }
  c->initial_max_data = 32u << 20;
  c->initial_max_stream_data = 16u << 20;
  c->max_window = 32u << 20;
  c->max_stream_window = 32u << 20;
  c->max_stream_send_buffer = 16u << 20;
  c->cc_algo = RUDP_CC_CUBIC;
  c->tls = listen ? g_stls : g_ctls;
}

static void run_bulk(const char *name, int offload, size_t batch,
                     size_t payload, uint64_t mib, result *r) {
  rudp_event_settings st;
  struct sockaddr_storage ss;
  socklen_t len;
  struct event *stick, *ctick;
  pthread_t ts, tc;
  double cpu0;
  rudp_tstamp limit;
  int rv;

  memset(&B, 0, sizeof(B));
  B.total = mib << 20;
  B.sid = -1;
  B.sbase = new_base(&stick);
  B.cbase = new_base(&ctick);
  sa4(&ss, &len, 0);
  bulk_settings(&st, 1, offload, batch, payload);
  rv = rudp_event_endpoint_new(&B.sev, B.sbase, (struct sockaddr *)&ss, len,
                               &st, &srv_epcb, &srv_cb, NULL);
  if (rv != 0) {
    die("%s: server endpoint: %s", name, rudp_strerror(rv));
  }
  bulk_settings(&st, 0, offload, batch, payload);
  rv = rudp_event_endpoint_new(&B.cev, B.cbase, (struct sockaddr *)&ss, len,
                               &st, NULL, &cli_cb, NULL);
  if (rv != 0) {
    die("%s: client endpoint: %s", name, rudp_strerror(rv));
  }
  if (rudp_event_local_addr(B.sev, &B.to, &B.tolen) != 0) {
    die("%s: getsockname failed", name);
  }

  cpu0 = cpu_now();
  if (pthread_create(&ts, NULL, srv_main, NULL) != 0) {
    die("pthread_create failed");
  }
  if (pthread_create(&tc, NULL, cli_main, NULL) != 0) {
    die("pthread_create failed");
  }
  pthread_join(tc, NULL);
  limit = rudp_event_now() + 5 * SEC;
  while (!load(&B.fin_seen) && rudp_event_now() < limit) {
    usleep(1000);
  }
  store(&B.stop, 1);
  pthread_join(ts, NULL);

  if (!B.fin_seen || B.received != B.total) {
    die("%s: transfer incomplete within %d s (%" PRIu64 " of %" PRIu64
        " bytes read)",
        name, (int)(LIMIT / SEC), B.received, B.total);
  }
  if (!B.closed || B.close_err != 0) {
    die("%s: client connection did not close cleanly (%s)", name,
        B.closed ? rudp_strerror(B.close_err) : "timeout");
  }
  memset(r, 0, sizeof(*r));
  r->secs = (double)(B.t_fin - B.t0) / 1e9;
  r->cpu = B.cpu_fin - cpu0;
  r->bytes = B.received;
  r->rate = (double)B.received * 8 / 1e9 / r->secs;
  r->retx = B.cst.pkts_retransmitted;
  r->lost = B.cst.pkts_lost;
  r->pto = B.cst.pto_count;
  rudp_event_get_stats(B.cev, &r->cev);
  rudp_event_get_stats(B.sev, &r->sev);

  rudp_event_endpoint_free(B.cev);
  rudp_event_endpoint_free(B.sev);
  event_free(stick);
  event_free(ctick);
  event_base_free(B.sbase);
  event_base_free(B.cbase);
}

/* ------------------------------------------------------------ tcp */

typedef struct tcpb {
  int lfd;
  uint64_t total, received;
  rudp_tstamp t0, t_end;
  double cpu_end;
  int err;
} tcpb;

static tcpb T;

static void set_timeouts(int fd) {
  struct timeval tv = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void *tcp_srv(void *arg) {
  rudp_tstamp limit = rudp_event_now() + LIMIT;
  static uint8_t buf[CHUNK];
  int fd = -1;
  (void)arg;
  while (fd < 0 && rudp_event_now() < limit) {
    fd = accept(T.lfd, NULL, NULL);
  }
  if (fd < 0) {
    return NULL;
  }
  set_timeouts(fd);
  while (rudp_event_now() < limit) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      T.received += (uint64_t)n;
    } else if (n == 0) {
      T.t_end = rudp_event_now();
      T.cpu_end = cpu_now();
      break;
    } else if (errno != EINTR && errno != EAGAIN) {
      break;
    }
  }
  close(fd);
  return NULL;
}

static void *tcp_cli(void *arg) {
  struct sockaddr_storage ss;
  socklen_t len;
  rudp_tstamp limit;
  uint64_t sent = 0;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  (void)arg;
  if (fd < 0) {
    T.err = errno;
    return NULL;
  }
  len = sizeof(ss);
  if (getsockname(T.lfd, (struct sockaddr *)&ss, &len) != 0) {
    T.err = errno;
    close(fd);
    return NULL;
  }
  set_timeouts(fd);
  T.t0 = rudp_event_now();
  limit = T.t0 + LIMIT;
  if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
    T.err = errno;
    close(fd);
    return NULL;
  }
  while (sent < T.total && rudp_event_now() < limit) {
    uint64_t left = T.total - sent;
    ssize_t n = send(fd, g_chunk, left < CHUNK ? (size_t)left : CHUNK, 0);
    if (n > 0) {
      sent += (uint64_t)n;
    } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
      T.err = errno;
      break;
    }
  }
  close(fd);
  return NULL;
}

static void run_tcp(uint64_t mib, result *r) {
  struct sockaddr_storage ss;
  socklen_t len;
  pthread_t ts, tc;
  double cpu0;

  memset(&T, 0, sizeof(T));
  T.total = mib << 20;
  sa4(&ss, &len, 0);
  T.lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (T.lfd < 0 || bind(T.lfd, (struct sockaddr *)&ss, len) != 0 ||
      listen(T.lfd, 4) != 0) {
    die("tcp: socket/bind/listen: %s", strerror(errno));
  }
  set_timeouts(T.lfd);
  cpu0 = cpu_now();
  if (pthread_create(&ts, NULL, tcp_srv, NULL) != 0) {
    die("pthread_create failed");
  }
  if (pthread_create(&tc, NULL, tcp_cli, NULL) != 0) {
    die("pthread_create failed");
  }
  pthread_join(tc, NULL);
  pthread_join(ts, NULL);
  close(T.lfd);
  if (T.err || T.received != T.total || !T.t_end) {
    die("tcp: transfer incomplete within %d s (%" PRIu64 " of %" PRIu64
        " bytes read%s%s)",
        (int)(LIMIT / SEC), T.received, T.total, T.err ? ": " : "",
        T.err ? strerror(T.err) : "");
  }
  memset(r, 0, sizeof(*r));
  r->secs = (double)(T.t_end - T.t0) / 1e9;
  r->cpu = T.cpu_end - cpu0;
  r->bytes = T.received;
  r->rate = (double)T.received * 8 / 1e9 / r->secs;
}

/* ------------------------------------------------------------ handshakes */

typedef struct hsb {
  /* completed: on the client; accepted: by the server (both ends done) */
  size_t total, started, completed, accepted, failed, closed;
  uint8_t *done; /* per connection: handshake completed */
  rudp_event *cev;
  rudp_endpoint_stats sst; /* the server's, at the end */
} hsb;

static hsb H;

static int hs_completed(rudp_conn *conn, void *ud) {
  size_t i = (size_t)(uintptr_t)ud - 1;
  (void)conn;
  H.done[i] = 1;
  ++H.completed;
  return 0;
}

/* hs_accept_ready takes each connection the server established and closes
 * it: the server ends it, so both ends finish their handshake first (a
 * client closing inside handshake_completed could end before the server
 * has its last handshake message). */
static int hs_accept_ready(rudp_endpoint *ep, void *ud) {
  rudp_conn *conn;
  (void)ud;
  while ((conn = rudp_endpoint_accept(ep)) != NULL) {
    ++H.accepted;
    if (rudp_conn_close(conn, rudp_event_now()) != 0) {
      die("hs: rudp_conn_close failed");
    }
  }
  return 0;
}

static const rudp_endpoint_callbacks hs_srv_epcb = {NULL, hs_accept_ready,
                                                    NULL};

static void hs_closed(rudp_conn *conn, int error, void *ud) {
  size_t i = (size_t)(uintptr_t)ud - 1;
  (void)conn;
  ++H.closed;
  if (!H.done[i] || error != 0) {
    if (++H.failed <= 5) {
      fprintf(stderr, "rudp_bench_event: hs: connection %zu closed: %s\n", i,
              rudp_strerror(error));
    }
  }
}

static const rudp_callbacks hs_cli_cb = {
    hs_completed, NULL, NULL, NULL, NULL,      NULL,
    NULL,         NULL, NULL, NULL, hs_closed,
};

static void run_hs(size_t m, size_t inflight, size_t payload, result *r) {
  rudp_event_settings st;
  struct sockaddr_storage ss, to;
  socklen_t len, tolen;
  struct event *etick;
  struct event_base *base = new_base(&etick);
  rudp_event *sev = NULL;
  rudp_tstamp t0, t1, limit;
  double cpu0, cpu1;
  int rv;

  memset(&H, 0, sizeof(H));
  H.total = m;
  H.done = calloc(m, 1);
  if (!H.done) {
    die("out of memory");
  }
  sa4(&ss, &len, 0);
  rudp_event_settings_default(&st);
  st.endpoint.listen = 1;
  st.endpoint.conn.tx_udp_payload_size = payload;
  /* Room for the connections still closing (3 PTO each) and no RETRY:
   * this measures the plain handshake. */
  st.endpoint.max_connections = 65536;
  st.endpoint.max_half_open = 4 * inflight + 256;
  st.endpoint.accept_backlog = 4 * inflight + 256;
  st.endpoint.retry = RUDP_RETRY_NEVER;
  st.endpoint.conn.tls = g_stls;
  rv = rudp_event_endpoint_new(&sev, base, (struct sockaddr *)&ss, len, &st,
                               &hs_srv_epcb, NULL, NULL);
  if (rv != 0) {
    die("hs: server endpoint: %s", rudp_strerror(rv));
  }
  st.endpoint.listen = 0;
  st.endpoint.conn.tls = g_ctls;
  rv = rudp_event_endpoint_new(&H.cev, base, (struct sockaddr *)&ss, len, &st,
                               NULL, &hs_cli_cb, NULL);
  if (rv != 0) {
    die("hs: client endpoint: %s", rudp_strerror(rv));
  }
  if (rudp_event_local_addr(sev, &to, &tolen) != 0) {
    die("hs: getsockname failed");
  }

  cpu0 = cpu_now();
  t0 = rudp_event_now();
  limit = t0 + LIMIT;
  while ((H.accepted < m || H.completed < m) && !H.failed &&
         rudp_event_now() < limit) {
    while (H.started < m && H.started - H.accepted < inflight) {
      rudp_conn *conn;
      rv = rudp_event_connect(H.cev, (struct sockaddr *)&to, tolen, NULL,
                              (void *)(uintptr_t)(H.started + 1), &conn);
      if (rv != 0) {
        die("hs: rudp_event_connect: %s", rudp_strerror(rv));
      }
      ++H.started;
    }
    event_base_loop(base, EVLOOP_ONCE);
  }
  t1 = rudp_event_now();
  if (H.completed < m || H.accepted < m || H.failed) {
    die("hs: %zu of %zu handshakes completed on the client, %zu on the "
        "server within %d s (%zu failed)",
        H.completed, m, H.accepted, (int)(LIMIT / SEC), H.failed);
  }
  /* Let the closes finish: the rate counts handshakes up to t1, the CPU
   * covers each connection's whole life (connect, handshake, close). */
  limit = rudp_event_now() + 5 * SEC;
  while (H.closed < H.started && rudp_event_now() < limit) {
    event_base_loop(base, EVLOOP_ONCE);
  }
  cpu1 = cpu_now();
  if (H.closed < H.started) {
    die("hs: %zu of %zu connections closed 5 s after the last handshake",
        H.closed, H.started);
  }
  rudp_endpoint_get_stats(rudp_event_endpoint_get_endpoint(sev), &H.sst);
  memset(r, 0, sizeof(*r));
  r->secs = (double)(t1 - t0) / 1e9;
  r->cpu = cpu1 - cpu0;
  r->bytes = H.completed;
  r->accepted = H.sst.accepted;
  r->half_open = H.sst.half_open;
  r->rate = (double)H.completed / r->secs;
  rudp_event_get_stats(H.cev, &r->cev);
  rudp_event_get_stats(sev, &r->sev);
  rudp_event_endpoint_free(H.cev);
  rudp_event_endpoint_free(sev);
  event_free(etick);
  event_base_free(base);
  free(H.done);
}

/* ------------------------------------------------------------ main */

typedef struct bcase {
  const char *name;
  int offload;
  size_t batch;
  const char *desc;
} bcase;

static const bcase bcases[] = {
    {"gso", 1, 32, "rudp, GSO+GRO, batch 32"},
    {"mmsg", 0, 32, "rudp, sendmmsg/recvmmsg 32"},
    {"plain", 0, 1, "rudp, sendmsg/recvmsg"},
};

static int selected(const char *list, const char *name) {
  size_t n = strlen(name);
  const char *p = list;
  while ((p = strstr(p, name)) != NULL) {
    if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) {
      return 1;
    }
    ++p;
  }
  return 0;
}

static void print_bulk(const char *name, const char *desc, result *runs,
                       int reps, int json, size_t payload) {
  const result *r = &runs[reps / 2]; /* sorted: the median run */
  double gib = (double)r->bytes / GIB;
  uint64_t sys = r->cev.send_syscalls + r->cev.recv_syscalls +
                 r->sev.send_syscalls + r->sev.recv_syscalls;
  int udp = strcmp(name, "tcp") != 0;
  int i;
  if (json) {
    printf("{\"bench\":\"event\",\"case\":\"%s\",\"tls\":\"%s\","
           "\"bytes\":%" PRIu64 ",\"payload\":%zu,\"runs\":%d,"
           "\"gbit_per_s\":%.3f,\"gbit_per_s_runs\":[",
           name, udp ? g_suite : "none", r->bytes, udp ? payload : (size_t)0,
           reps, r->rate);
    for (i = 0; i < reps; ++i) {
      printf("%s%.3f", i ? "," : "", runs[i].rate);
    }
    printf("],\"wall_seconds\":%.3f,\"cpu_seconds\":%.3f,"
           "\"cpu_seconds_per_gib\":%.3f",
           r->secs, r->cpu, r->cpu / gib);
    if (udp) {
      printf(",\"pkts_retransmitted\":%" PRIu64 ",\"pkts_lost\":%" PRIu64
             ",\"pto_count\":%" PRIu64 ",\"syscalls_per_gib\":%.0f,"
             "\"client_send_syscalls\":%" PRIu64
             ",\"server_recv_syscalls\":%" PRIu64
             ",\"client_dgrams_sent\":%" PRIu64 ",\"gso_sends\":%" PRIu64
             ",\"gro_recvs\":%" PRIu64 ",\"eagain\":%" PRIu64
             ",\"send_errors\":%" PRIu64 ",\"recv_dropped\":%" PRIu64
             ",\"gso_enabled\":%d,\"gro_enabled\":%d",
             r->retx, r->lost, r->pto, (double)sys / gib, r->cev.send_syscalls,
             r->sev.recv_syscalls, r->cev.dgrams_sent,
             r->cev.gso_sends + r->sev.gso_sends,
             r->cev.gro_recvs + r->sev.gro_recvs, r->cev.eagain + r->sev.eagain,
             r->cev.send_errors + r->sev.send_errors,
             r->cev.recv_dropped + r->sev.recv_dropped, r->cev.gso_enabled,
             r->sev.gro_enabled);
    }
    printf("}\n");
    return;
  }
  printf("%-27s %6.2f (%5.2f-%5.2f) %8.2f", desc, r->rate, runs[0].rate,
         runs[reps - 1].rate, r->cpu / gib);
  if (udp) {
    printf(" %7" PRIu64 " %7" PRIu64 " %9.0f %9" PRIu64 " %9" PRIu64 "\n",
           r->retx, r->lost, (double)sys / gib,
           r->cev.gso_sends + r->sev.gso_sends,
           r->cev.gro_recvs + r->sev.gro_recvs);
  } else {
    printf(" %7s %7s %9s %9s %9s\n", "-", "-", "-", "-", "-");
  }
}

int main(int argc, char **argv) {
  const char *cases = "gso,mmsg,plain,tcp,hs", *suite_arg = "none";
  uint64_t mib = 1024;
  size_t m = 2000, inflight = 100, payload = 1452;
  int reps = 3, json = 0, i, k;
  result runs[MAXREPS];

  for (i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "-c") && i + 1 < argc) {
      cases = argv[++i];
    } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
      mib = strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-m") && i + 1 < argc) {
      m = (size_t)strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-i") && i + 1 < argc) {
      inflight = (size_t)strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
      reps = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
      payload = (size_t)strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
      suite_arg = argv[++i];
    } else if (!strcmp(argv[i], "-P") && i + 1 < argc) {
      g_pmtud_max = (size_t)strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-J")) {
      json = 1;
    } else {
      fprintf(stderr, "usage: rudp_bench_event [-c gso,mmsg,plain,tcp,hs] "
                      "[-n MIB] [-m HANDSHAKES] [-i INFLIGHT] [-r REPS] "
                      "[-s PAYLOAD] [-P PMTUD_MAX] "
                      "[-t none|aes128|aes256|chacha20] [-J]\n");
      return 2;
    }
  }
  if (mib == 0 || mib > (1u << 20) || m == 0 || inflight == 0 || reps < 1 ||
      reps > MAXREPS || payload < 1200 || payload > 65527 ||
      (g_pmtud_max != SIZE_MAX && g_pmtud_max > 65527)) {
    fprintf(stderr, "rudp_bench_event: bad -n, -m, -i, -r, -s or -P\n");
    return 2;
  }
  if (!strcmp(suite_arg, "aes128")) {
    g_suite = "TLS_AES_128_GCM_SHA256";
  } else if (!strcmp(suite_arg, "aes256")) {
    g_suite = "TLS_AES_256_GCM_SHA384";
  } else if (!strcmp(suite_arg, "chacha20")) {
    g_suite = "TLS_CHACHA20_POLY1305_SHA256";
  } else if (strcmp(suite_arg, "none") != 0) {
    fprintf(stderr, "rudp_bench_event: -t: expected none, aes128, aes256 or "
                    "chacha20\n");
    return 2;
  }
  if (strcmp(g_suite, "none") != 0) {
    if (!rudp_tls_available()) {
      die("-t %s: librudp was built without TLS", suite_arg);
    }
    g_stls = tls_ctx(g_suite, 1);
    g_ctls = tls_ctx(g_suite, 0);
  }
  memset(g_chunk, 0xab, sizeof(g_chunk));

  if (!json) {
    printf("rudp_bench_event: loopback 127.0.0.1, %" PRIu64
           " MiB per bulk run, UDP payload %zu, CUBIC, TLS %s; median of %d "
           "runs\n",
           mib, payload, g_suite, reps);
    printf("%-27s %-20s %8s %7s %7s %9s %9s %9s\n", "bulk, one connection",
           "Gbit/s (min-max)", "CPU s/GiB", "retx", "lost", "syscall/GiB",
           "GSO sends", "GRO recvs");
  }
  for (k = 0; k < (int)(sizeof(bcases) / sizeof(bcases[0])); ++k) {
    if (!selected(cases, bcases[k].name)) {
      continue;
    }
    for (i = 0; i < reps; ++i) {
      run_bulk(bcases[k].name, bcases[k].offload, bcases[k].batch, payload, mib,
               &runs[i]);
      fprintf(stderr, "# %s run %d: %.2f Gbit/s, %.2f CPU s/GiB\n",
              bcases[k].name, i + 1, runs[i].rate,
              runs[i].cpu / ((double)runs[i].bytes / GIB));
    }
    qsort(runs, (size_t)reps, sizeof(result), cmp_rate);
    print_bulk(bcases[k].name, bcases[k].desc, runs, reps, json, payload);
    fflush(stdout);
  }
  if (selected(cases, "tcp")) {
    for (i = 0; i < reps; ++i) {
      run_tcp(mib, &runs[i]);
      fprintf(stderr, "# tcp run %d: %.2f Gbit/s, %.2f CPU s/GiB\n", i + 1,
              runs[i].rate, runs[i].cpu / ((double)runs[i].bytes / GIB));
    }
    qsort(runs, (size_t)reps, sizeof(result), cmp_rate);
    print_bulk("tcp", "kernel TCP, 64 KiB send", runs, reps, json, payload);
    fflush(stdout);
  }
  if (selected(cases, "hs")) {
    const result *r;
    for (i = 0; i < reps; ++i) {
      run_hs(m, inflight, payload, &runs[i]);
      fprintf(stderr,
              "# hs run %d: %.0f handshakes/s, %" PRIu64 " established on "
              "the server, %" PRIu64 " still half-open there\n",
              i + 1, runs[i].rate, runs[i].accepted, runs[i].half_open);
    }
    qsort(runs, (size_t)reps, sizeof(result), cmp_rate);
    r = &runs[reps / 2];
    if (json) {
      printf("{\"bench\":\"event\",\"case\":\"hs\",\"tls\":\"%s\","
             "\"handshakes\":%" PRIu64 ",\"inflight\":%zu,\"runs\":%d,"
             "\"handshakes_per_s\":%.1f,\"handshakes_per_s_runs\":[",
             g_suite, r->bytes, inflight, reps, r->rate);
      for (i = 0; i < reps; ++i) {
        printf("%s%.1f", i ? "," : "", runs[i].rate);
      }
      printf("],\"wall_seconds\":%.3f,\"cpu_seconds\":%.3f,"
             "\"cpu_us_per_connection\":%.1f,\"syscalls_per_connection\":%.2f,"
             "\"dgrams_sent\":%" PRIu64 ",\"send_syscalls\":%" PRIu64
             ",\"recv_syscalls\":%" PRIu64 ",\"gso_sends\":%" PRIu64
             ",\"gro_recvs\":%" PRIu64 "}\n",
             r->secs, r->cpu, r->cpu * 1e6 / (double)r->bytes,
             (double)(r->cev.send_syscalls + r->cev.recv_syscalls +
                      r->sev.send_syscalls + r->sev.recv_syscalls) /
                 (double)r->bytes,
             r->cev.dgrams_sent + r->sev.dgrams_sent,
             r->cev.send_syscalls + r->sev.send_syscalls,
             r->cev.recv_syscalls + r->sev.recv_syscalls,
             r->cev.gso_sends + r->sev.gso_sends,
             r->cev.gro_recvs + r->sev.gro_recvs);
    } else {
      printf("handshakes (TLS %s): %" PRIu64 " connections, %zu in flight, "
             "one thread: %.0f handshakes/s (%.0f-%.0f), %.1f CPU us per "
             "connection (both ends: connect, handshake, close), %.2f "
             "syscalls per connection\n",
             g_suite, r->bytes, inflight, r->rate, runs[0].rate,
             runs[reps - 1].rate, r->cpu * 1e6 / (double)r->bytes,
             (double)(r->cev.send_syscalls + r->cev.recv_syscalls +
                      r->sev.send_syscalls + r->sev.recv_syscalls) /
                 (double)r->bytes);
    }
  }
  rudp_tls_ctx_free(g_stls);
  rudp_tls_ctx_free(g_ctls);
  return 0;
}
