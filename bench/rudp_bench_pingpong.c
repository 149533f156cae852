/*
 * rudp_bench_pingpong: round-trip latency of small messages on loopback.
 *
 * One message of -s bytes (default 64) outstanding at a time: the client
 * sends, the server echoes, the client takes the round-trip time and sends
 * the next one at once.  Cases:
 *
 *   stream  librudp through the libevent binding: one bidirectional
 *           stream, the server echoes what it reads
 *   dgram   librudp, unreliable datagrams (rudp_conn_send_datagram), the
 *           server echoes each one
 *   tcp     kernel TCP, TCP_NODELAY, blocking send/recv
 *   udp     raw UDP, blocking send/recv on connected sockets (the floor)
 *   udpev   raw UDP through a libevent loop on each side (non-blocking
 *           sockets, one EV_READ event, one recv and one send per wake-up):
 *           what the event loop alone costs, without librudp
 *
 * Client and server run on two threads of one process; the librudp cases
 * give each its own event_base (the binding's threading model).  The first
 * -w round trips are a warm-up and not counted; then -n round trips are
 * timed (CLOCK_MONOTONIC), bounded by -t seconds per case.  Reports p50,
 * p99 and p99.9 in microseconds, and for librudp the packets and timer
 * fires per round trip (does a delayed ACK or a timer sit on the path?).
 *
 * A lost datagram (dgram, udp) would stall a ping-pong: after 200 ms
 * without an answer the client counts it lost and sends the next one.
 *
 * Not a test: it never fails because the machine is slow.
 *
 * -A pins the client (thread or main thread) to CPU 0 and the server to
 * CPU 1 in every case: on a small VM the scheduler otherwise moves the two
 * threads between one and two CPUs from run to run, and a round trip
 * costs a wake-up on the other CPU or a context switch on the same one,
 * which changes the p50 by 2x whatever the code (docs/PERFORMANCE.md).
 *
 *   rudp_bench_pingpong [-c stream,dgram,tcp,udp,udpev] [-n ROUNDS] [-t SECS]
 *                       [-s SIZE] [-w WARMUP] [-A] [-J]
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET */
#endif
#include <sched.h>
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
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/event.h>

#include <rudp/rudp.h>
#include <rudp/rudp_event.h>

#define SEC RUDP_SECONDS
#define MS RUDP_MILLISECONDS
#define MAXSIZE 1024
/* LOST_AFTER: an unanswered datagram ping is given up after this long. */
#define LOST_AFTER (200 * MS)

static void die(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

static void die(const char *fmt, ...) {
  va_list ap;
  fputs("rudp_bench_pingpong: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
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

/* ------------------------------------------------------------ samples */

/* The round trips of one case, in nanoseconds. */
typedef struct samples {
  uint64_t *rtt;
  size_t n, cap, warmup, seen;
  uint64_t lost;
} samples;

static void samples_add(samples *s, uint64_t ns) {
  if (s->seen++ < s->warmup) {
    return;
  }
  if (s->n < s->cap) {
    s->rtt[s->n++] = ns;
  }
}

static int samples_full(const samples *s) { return s->n >= s->cap; }

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* pct returns the nearest-rank percentile |p| (0-100) of the sorted
 * samples, in microseconds. */
static double pct(const samples *s, double p) {
  size_t k = (size_t)((p / 100.0) * (double)s->n + 0.999999);
  if (k == 0) {
    k = 1;
  }
  if (k > s->n) {
    k = s->n;
  }
  return (double)s->rtt[k - 1] / 1e3;
}

/* ------------------------------------------------------------ librudp */

typedef struct rpp {
  int dgram;
  size_t size;
  rudp_tstamp deadline;
  samples *smp;
  /* server thread; echoes: so far, echo_part: stream bytes not yet a
   * whole echo; sev0: its counters when the warm-up ended */
  struct event_base *sbase;
  rudp_event *sev;
  int stop;
  uint64_t echoes;
  size_t echo_part;
  rudp_event_stats sev0;
  /* client thread; got: bytes of the current echo; cst0, cev0: counters
   * when the warm-up ended (have0), cst: at the end */
  struct event_base *cbase;
  rudp_event *cev;
  rudp_conn *conn;
  int64_t sid;
  size_t got;
  rudp_tstamp t_sent;
  int done;
  int established;
  struct sockaddr_storage to;
  socklen_t tolen;
  rudp_conn_stats cst, cst0;
  rudp_event_stats cev0;
  int have0;
} rpp;

static rpp P;
static uint8_t g_msg[MAXSIZE];

/* tick wakes the loops at least every 10 ms so they see their deadline
 * (and the client a datagram ping that got no answer). */
static void tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
}

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

/* srv_count counts the echoes and takes the server's counters when the
 * warm-up ends (in the server thread: the endpoint belongs to it). */
static void srv_count(void) {
  if (P.echoes++ == P.smp->warmup) {
    rudp_event_get_stats(P.sev, &P.sev0);
  }
}

/* srv_readable echoes what the stream brings. */
static int srv_readable(rudp_conn *conn, int64_t id, void *ud) {
  uint8_t buf[MAXSIZE];
  (void)ud;
  for (;;) {
    int fin = 0;
    rudp_ssize n = rudp_conn_stream_read(conn, id, buf, sizeof(buf), &fin);
    if (n <= 0) {
      return 0;
    }
    if (rudp_conn_stream_write(conn, id, buf, (size_t)n, 0) != n) {
      die("server: stream_write did not take %zd bytes", (ssize_t)n);
    }
    for (P.echo_part += (size_t)n; P.echo_part >= P.size;
         P.echo_part -= P.size) {
      srv_count();
    }
  }
}

static int srv_datagram(rudp_conn *conn, const uint8_t *data, size_t len,
                        void *ud) {
  int rv;
  (void)ud;
  rv = rudp_conn_send_datagram(conn, data, len);
  if (rv != 0) {
    die("server: send_datagram: %s", rudp_strerror(rv));
  }
  srv_count();
  return 0;
}

static int srv_accept_ready(rudp_endpoint *ep, void *ud) {
  (void)ud;
  while (rudp_endpoint_accept(ep) != NULL) {
  }
  return 0;
}

/* cli_send sends the next ping. */
static void cli_send(rudp_conn *conn) {
  int rv;
  if (!P.have0 && P.smp->seen >= P.smp->warmup) {
    /* Counters at the start of the timed round trips (the server takes
     * its own in its thread, at the same echo). */
    rudp_conn_get_stats(conn, &P.cst0);
    rudp_event_get_stats(P.cev, &P.cev0);
    P.have0 = 1;
  }
  P.got = 0;
  P.t_sent = rudp_event_now();
  if (P.dgram) {
    rv = rudp_conn_send_datagram(conn, g_msg, P.size);
  } else {
    rudp_ssize n = rudp_conn_stream_write(conn, P.sid, g_msg, P.size, 0);
    rv = n == (rudp_ssize)P.size ? 0 : (int)n;
  }
  if (rv != 0) {
    die("client: send: %s", rudp_strerror(rv));
  }
}

/* cli_round_done takes one round trip and starts the next. */
static void cli_round_done(rudp_conn *conn) {
  rudp_tstamp now = rudp_event_now();
  samples_add(P.smp, now - P.t_sent);
  if (samples_full(P.smp) || now >= P.deadline) {
    rudp_conn_get_stats(conn, &P.cst);
    P.done = 1;
    return;
  }
  cli_send(conn);
}

static int cli_readable(rudp_conn *conn, int64_t id, void *ud) {
  uint8_t buf[MAXSIZE];
  (void)ud;
  for (;;) {
    int fin = 0;
    rudp_ssize n = rudp_conn_stream_read(conn, id, buf, P.size - P.got, &fin);
    if (n <= 0) {
      return 0;
    }
    P.got += (size_t)n;
    if (P.got == P.size && !P.done) {
      cli_round_done(conn);
    }
  }
}

static int cli_datagram(rudp_conn *conn, const uint8_t *data, size_t len,
                        void *ud) {
  (void)data;
  (void)ud;
  if (len == P.size && !P.done) {
    cli_round_done(conn);
  }
  return 0;
}

static int cli_handshake(rudp_conn *conn, void *ud) {
  (void)ud;
  P.established = 1;
  if (P.dgram) {
    cli_send(conn);
  }
  return 0;
}

static int cli_streams_available(rudp_conn *conn, int bidi, void *ud) {
  (void)ud;
  if (!P.dgram && bidi && P.sid < 0) {
    if (rudp_conn_open_stream(conn, 1, &P.sid) != 0) {
      die("rudp_conn_open_stream failed");
    }
    cli_send(conn);
  }
  return 0;
}

static void cli_closed(rudp_conn *conn, int error, void *ud) {
  (void)conn;
  (void)ud;
  if (!P.done) {
    die("client connection closed: %s", rudp_strerror(error));
  }
  P.conn = NULL;
}

/* g_pin is -A; pin_self puts the calling thread on |cpu| when it is set
 * (and the machine has that CPU; otherwise it is left alone). */
static int g_pin;

static void pin_self(int cpu) {
  cpu_set_t set;
  if (!g_pin || cpu >= CPU_SETSIZE) {
    return;
  }
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *rsrv_main(void *arg) {
  rudp_tstamp limit = P.deadline + 5 * SEC;
  (void)arg;
  pin_self(1);
  while (!load(&P.stop) && rudp_event_now() < limit) {
    event_base_loop(P.sbase, EVLOOP_ONCE);
  }
  return NULL;
}

static void *rcli_main(void *arg) {
  int rv;
  (void)arg;
  pin_self(0);
  rv = rudp_event_connect(P.cev, (const struct sockaddr *)&P.to, P.tolen, NULL,
                          NULL, &P.conn);
  if (rv != 0) {
    die("rudp_event_connect: %s", rudp_strerror(rv));
  }
  while (!P.done && rudp_event_now() < P.deadline + SEC) {
    event_base_loop(P.cbase, EVLOOP_ONCE);
    if (P.dgram && P.established && !P.done &&
        rudp_event_now() - P.t_sent > LOST_AFTER) {
      ++P.smp->lost;
      cli_send(P.conn);
    }
  }
  return NULL;
}

typedef struct rinfo {
  double pkts_per_rt, timer_fires_per_rt, send_calls_per_rt;
  uint64_t rounds;
} rinfo;

static void run_rudp(int dgram, size_t size, double secs, samples *smp,
                     rinfo *info) {
  rudp_event_settings st;
  rudp_callbacks scb, ccb;
  rudp_endpoint_callbacks sepcb = {NULL, srv_accept_ready, NULL};
  struct sockaddr_storage ss;
  socklen_t len;
  struct event *stick, *ctick;
  pthread_t ts, tc;
  rudp_event_stats ce, se;
  uint64_t rounds;
  int rv;

  memset(&P, 0, sizeof(P));
  P.dgram = dgram;
  P.size = size;
  P.smp = smp;
  P.sid = -1;
  P.deadline = rudp_event_now() + (rudp_duration)(secs * 1e9);
  P.sbase = new_base(&stick);
  P.cbase = new_base(&ctick);
  memset(&scb, 0, sizeof(scb));
  scb.stream_readable = srv_readable;
  scb.datagram_received = srv_datagram;
  memset(&ccb, 0, sizeof(ccb));
  ccb.handshake_completed = cli_handshake;
  ccb.stream_readable = cli_readable;
  ccb.datagram_received = cli_datagram;
  ccb.streams_available = cli_streams_available;
  ccb.closed = cli_closed;

  sa4(&ss, &len, 0);
  rudp_event_settings_default(&st);
  st.endpoint.listen = 1;
  st.endpoint.conn.tx_udp_payload_size = 1452;
  rv = rudp_event_endpoint_new(&P.sev, P.sbase, (struct sockaddr *)&ss, len,
                               &st, &sepcb, &scb, NULL);
  if (rv != 0) {
    die("server endpoint: %s", rudp_strerror(rv));
  }
  st.endpoint.listen = 0;
  rv = rudp_event_endpoint_new(&P.cev, P.cbase, (struct sockaddr *)&ss, len,
                               &st, NULL, &ccb, NULL);
  if (rv != 0) {
    die("client endpoint: %s", rudp_strerror(rv));
  }
  if (rudp_event_local_addr(P.sev, &P.to, &P.tolen) != 0) {
    die("getsockname failed");
  }
  if (pthread_create(&ts, NULL, rsrv_main, NULL) != 0 ||
      pthread_create(&tc, NULL, rcli_main, NULL) != 0) {
    die("pthread_create failed");
  }
  pthread_join(tc, NULL);
  store(&P.stop, 1);
  pthread_join(ts, NULL);
  if (!P.done) {
    die("%s: the client did not finish (%zu round trips)",
        dgram ? "dgram" : "stream", smp->n);
  }
  if (smp->n == 0) {
    die("%s: no round trip timed within %.0f s", dgram ? "dgram" : "stream",
        secs);
  }
  /* Per timed round trip: packets both ways, timer fires of both
   * endpoints, send system calls of both. */
  rudp_event_get_stats(P.cev, &ce);
  rudp_event_get_stats(P.sev, &se);
  rounds = smp->n;
  info->rounds = rounds;
  info->pkts_per_rt = (double)((P.cst.pkts_sent - P.cst0.pkts_sent) +
                               (P.cst.pkts_recv - P.cst0.pkts_recv)) /
                      (double)rounds;
  info->timer_fires_per_rt = (double)((ce.timer_fires - P.cev0.timer_fires) +
                                      (se.timer_fires - P.sev0.timer_fires)) /
                             (double)rounds;
  info->send_calls_per_rt =
      (double)((ce.send_syscalls - P.cev0.send_syscalls) +
               (se.send_syscalls - P.sev0.send_syscalls)) /
      (double)rounds;
  rudp_event_endpoint_free(P.cev);
  rudp_event_endpoint_free(P.sev);
  event_free(stick);
  event_free(ctick);
  event_base_free(P.sbase);
  event_base_free(P.cbase);
}

/* ------------------------------------------------------------ kernel */

typedef struct kpp {
  int tcp;
  size_t size;
  double secs;
  int lfd, sfd;
  int stop;
  struct sockaddr_storage addr;
  socklen_t addrlen;
} kpp;

static kpp K;

static void set_rcvtimeo(int fd, long usec) {
  struct timeval tv = {0, usec};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* recv_full reads exactly |len| bytes (a TCP read may return fewer), or
 * returns -1 on timeout or error. */
static int recv_full(int fd, uint8_t *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = recv(fd, buf + got, len - got, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return -1;
    }
    got += (size_t)n;
  }
  return 0;
}

static void *ksrv_main(void *arg) {
  uint8_t buf[MAXSIZE];
  int fd;
  (void)arg;
  pin_self(1);
  if (K.tcp) {
    int one = 1;
    fd = accept(K.lfd, NULL, NULL);
    if (fd < 0) {
      return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  } else {
    fd = K.sfd;
  }
  set_rcvtimeo(fd, 100000);
  while (!load(&K.stop)) {
    if (K.tcp) {
      if (recv_full(fd, buf, K.size) != 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          continue;
        }
        break;
      }
      if (send(fd, buf, K.size, 0) != (ssize_t)K.size) {
        break;
      }
    } else {
      struct sockaddr_storage from;
      socklen_t fromlen = sizeof(from);
      ssize_t n =
          recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
      if (n > 0) {
        sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fromlen);
      }
    }
  }
  if (K.tcp) {
    close(fd);
  }
  return NULL;
}

static void run_kernel(int tcp, size_t size, double secs, samples *smp) {
  struct sockaddr_storage ss;
  socklen_t len;
  pthread_t ts;
  uint8_t buf[MAXSIZE];
  rudp_tstamp deadline;
  int fd, one = 1;

  memset(&K, 0, sizeof(K));
  K.tcp = tcp;
  K.size = size;
  sa4(&ss, &len, 0);
  if (tcp) {
    K.lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (K.lfd < 0 || bind(K.lfd, (struct sockaddr *)&ss, len) != 0 ||
        listen(K.lfd, 4) != 0) {
      die("tcp: socket/bind/listen: %s", strerror(errno));
    }
  } else {
    K.sfd = socket(AF_INET, SOCK_DGRAM, 0);
    if (K.sfd < 0 || bind(K.sfd, (struct sockaddr *)&ss, len) != 0) {
      die("udp: socket/bind: %s", strerror(errno));
    }
  }
  K.addrlen = sizeof(K.addr);
  if (getsockname(tcp ? K.lfd : K.sfd, (struct sockaddr *)&K.addr,
                  &K.addrlen) != 0) {
    die("getsockname: %s", strerror(errno));
  }
  if (pthread_create(&ts, NULL, ksrv_main, NULL) != 0) {
    die("pthread_create failed");
  }
  fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&K.addr, K.addrlen) != 0) {
    die("%s: connect: %s", tcp ? "tcp" : "udp", strerror(errno));
  }
  if (tcp) {
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  set_rcvtimeo(fd, (long)(LOST_AFTER / 1000));
  memset(buf, 0xab, sizeof(buf));
  deadline = rudp_event_now() + (rudp_duration)(secs * 1e9);
  while (!samples_full(smp) && rudp_event_now() < deadline) {
    rudp_tstamp t0 = rudp_event_now();
    if (send(fd, buf, size, 0) != (ssize_t)size) {
      die("%s: send: %s", tcp ? "tcp" : "udp", strerror(errno));
    }
    if (tcp) {
      if (recv_full(fd, buf, size) != 0) {
        die("tcp: no echo within %d ms", (int)(LOST_AFTER / MS));
      }
    } else if (recv(fd, buf, sizeof(buf), 0) != (ssize_t)size) {
      ++smp->lost;
      continue;
    }
    samples_add(smp, rudp_event_now() - t0);
  }
  store(&K.stop, 1);
  close(fd);
  pthread_join(ts, NULL);
  if (tcp) {
    close(K.lfd);
  } else {
    close(K.sfd);
  }
  if (smp->n == 0) {
    die("%s: no round trip timed within %.0f s", tcp ? "tcp" : "udp", secs);
  }
}

/* ------------------------------------------------------------ udpev */

typedef struct epp {
  size_t size;
  rudp_tstamp deadline, t_sent;
  samples *smp;
  int sfd, cfd;
  int stop, done;
  struct event_base *sbase, *cbase;
} epp;

static epp E;

static void ev_srv_read(evutil_socket_t fd, short what, void *arg) {
  uint8_t buf[MAXSIZE];
  struct sockaddr_storage from;
  socklen_t fromlen = sizeof(from);
  ssize_t n;
  (void)what;
  (void)arg;
  n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
  if (n > 0) {
    sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fromlen);
  }
}

static void ev_cli_send(void) {
  E.t_sent = rudp_event_now();
  if (send(E.cfd, g_msg, E.size, 0) != (ssize_t)E.size) {
    die("udpev: send: %s", strerror(errno));
  }
}

static void ev_cli_read(evutil_socket_t fd, short what, void *arg) {
  uint8_t buf[MAXSIZE];
  rudp_tstamp now;
  (void)what;
  (void)arg;
  if (recv(fd, buf, sizeof(buf), 0) != (ssize_t)E.size || E.done) {
    return;
  }
  now = rudp_event_now();
  samples_add(E.smp, now - E.t_sent);
  if (samples_full(E.smp) || now >= E.deadline) {
    E.done = 1;
    return;
  }
  ev_cli_send();
}

static void *esrv_main(void *arg) {
  rudp_tstamp limit = E.deadline + 5 * SEC;
  (void)arg;
  pin_self(1);
  while (!load(&E.stop) && rudp_event_now() < limit) {
    event_base_loop(E.sbase, EVLOOP_ONCE);
  }
  return NULL;
}

static void run_udpev(size_t size, double secs, samples *smp) {
  struct sockaddr_storage ss, to;
  socklen_t len, tolen = sizeof(to);
  struct event *stick, *ctick, *sev, *cev;
  pthread_t ts;

  memset(&E, 0, sizeof(E));
  E.size = size;
  E.smp = smp;
  E.deadline = rudp_event_now() + (rudp_duration)(secs * 1e9);
  sa4(&ss, &len, 0);
  E.sfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  E.cfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (E.sfd < 0 || E.cfd < 0 || bind(E.sfd, (struct sockaddr *)&ss, len) != 0 ||
      getsockname(E.sfd, (struct sockaddr *)&to, &tolen) != 0 ||
      connect(E.cfd, (struct sockaddr *)&to, tolen) != 0) {
    die("udpev: socket/bind/connect: %s", strerror(errno));
  }
  E.sbase = new_base(&stick);
  E.cbase = new_base(&ctick);
  sev = event_new(E.sbase, E.sfd, EV_READ | EV_PERSIST, ev_srv_read, NULL);
  cev = event_new(E.cbase, E.cfd, EV_READ | EV_PERSIST, ev_cli_read, NULL);
  if (!sev || !cev || event_add(sev, NULL) != 0 || event_add(cev, NULL) != 0) {
    die("udpev: event_new failed");
  }
  if (pthread_create(&ts, NULL, esrv_main, NULL) != 0) {
    die("pthread_create failed");
  }
  ev_cli_send();
  while (!E.done && rudp_event_now() < E.deadline + SEC) {
    event_base_loop(E.cbase, EVLOOP_ONCE);
    if (!E.done && rudp_event_now() - E.t_sent > LOST_AFTER) {
      ++smp->lost;
      ev_cli_send();
    }
  }
  store(&E.stop, 1);
  pthread_join(ts, NULL);
  event_free(sev);
  event_free(cev);
  event_free(stick);
  event_free(ctick);
  event_base_free(E.sbase);
  event_base_free(E.cbase);
  close(E.sfd);
  close(E.cfd);
  if (smp->n == 0) {
    die("udpev: no round trip timed within %.0f s", secs);
  }
}

/* ------------------------------------------------------------ main */

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

int main(int argc, char **argv) {
  static const struct {
    const char *name, *desc;
  } cases[] = {{"stream", "librudp stream"},
               {"dgram", "librudp datagram"},
               {"tcp", "kernel TCP, TCP_NODELAY"},
               {"udp", "raw UDP"},
               {"udpev", "raw UDP, libevent loop"}};
  const char *list = "stream,dgram,tcp,udp,udpev";
  size_t rounds = 20000, warmup = 200, size = 64;
  double secs = 5;
  int json = 0, i, k;

  for (i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "-c") && i + 1 < argc) {
      list = argv[++i];
    } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
      rounds = (size_t)strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
      secs = strtod(argv[++i], NULL);
    } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
      size = (size_t)strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-w") && i + 1 < argc) {
      warmup = (size_t)strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-J")) {
      json = 1;
    } else if (!strcmp(argv[i], "-A")) {
      g_pin = sysconf(_SC_NPROCESSORS_ONLN) >= 2;
    } else {
      fprintf(stderr, "usage: rudp_bench_pingpong "
                      "[-c stream,dgram,tcp,udp,udpev] [-n ROUNDS] [-t SECS] "
                      "[-s SIZE] [-w WARMUP] [-A] [-J]\n");
      return 2;
    }
  }
  /* The kernel and udpev cases' client is this thread. */
  pin_self(0);
  if (rounds == 0 || rounds > 10000000 || !(secs > 0 && secs <= 60) ||
      size == 0 || size > MAXSIZE || warmup > 1000000) {
    fprintf(stderr,
            "rudp_bench_pingpong: bad -n (1-10^7), -t (0-60 s), -s "
            "(1-%d) or -w\n",
            MAXSIZE);
    return 2;
  }
  memset(g_msg, 0x5a, sizeof(g_msg));
  if (!json) {
    printf("rudp_bench_pingpong: loopback 127.0.0.1, %zu-byte messages, one "
           "outstanding, %zu round trips (after %zu warm-up), at most %.0f s "
           "each\n",
           size, rounds, warmup, secs);
    printf("%-26s %8s %8s %8s %8s %7s %6s %10s\n", "case", "p50 us", "p99 us",
           "p99.9 us", "mean us", "rounds", "lost", "pkts/rt");
  }
  for (k = 0; k < (int)(sizeof(cases) / sizeof(cases[0])); ++k) {
    samples smp;
    rinfo info;
    double mean = 0;
    size_t j;
    int rudp = k < 2;
    if (!selected(list, cases[k].name)) {
      continue;
    }
    memset(&smp, 0, sizeof(smp));
    memset(&info, 0, sizeof(info));
    smp.cap = rounds;
    smp.warmup = warmup;
    smp.rtt = calloc(rounds, sizeof(uint64_t));
    if (!smp.rtt) {
      die("out of memory");
    }
    if (rudp) {
      run_rudp(k == 1, size, secs, &smp, &info);
    } else if (k == 4) {
      run_udpev(size, secs, &smp);
    } else {
      run_kernel(k == 2, size, secs, &smp);
    }
    for (j = 0; j < smp.n; ++j) {
      mean += (double)smp.rtt[j];
    }
    mean /= (double)smp.n * 1e3;
    qsort(smp.rtt, smp.n, sizeof(uint64_t), cmp_u64);
    if (json) {
      printf("{\"bench\":\"pingpong\",\"case\":\"%s\",\"size\":%zu,"
             "\"rounds\":%zu,\"lost\":%" PRIu64 ",\"p50_us\":%.2f,"
             "\"p99_us\":%.2f,\"p999_us\":%.2f,\"mean_us\":%.2f,"
             "\"min_us\":%.2f,\"max_us\":%.2f",
             cases[k].name, size, smp.n, smp.lost, pct(&smp, 50), pct(&smp, 99),
             pct(&smp, 99.9), mean, pct(&smp, 0), pct(&smp, 100));
      if (rudp) {
        printf(",\"pkts_per_round_trip\":%.3f,\"timer_fires_per_round_trip\":"
               "%.4f,\"send_syscalls_per_round_trip\":%.3f",
               info.pkts_per_rt, info.timer_fires_per_rt,
               info.send_calls_per_rt);
      }
      printf("}\n");
    } else {
      printf("%-26s %8.1f %8.1f %8.1f %8.1f %7zu %6" PRIu64, cases[k].desc,
             pct(&smp, 50), pct(&smp, 99), pct(&smp, 99.9), mean, smp.n,
             smp.lost);
      if (rudp) {
        printf(" %10.2f  (timer fires/rt %.3f)\n", info.pkts_per_rt,
               info.timer_fires_per_rt);
      } else {
        printf(" %10s\n", "-");
      }
    }
    fflush(stdout);
    free(smp.rtt);
  }
  return 0;
}
