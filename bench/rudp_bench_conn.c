/*
 * rudp_bench_conn: CPU cost of the connection core, with no I/O at all.
 *
 * A client and a server connection exchange datagrams through memory on a
 * virtual clock (a link with a fixed one-way delay, an optional random loss
 * rate and a bandwidth of its own), so the figures are the protocol
 * engine's cost alone: packet assembly, ACK processing, loss recovery,
 * reassembly and the copies in and out.  Reports CPU seconds per GiB
 * delivered, the equivalent throughput, and the peak heap bytes of one
 * connection pair (through a counting allocator).
 *
 * With -t, both ends run TLS mode with the named AEAD (the CPU cost of
 * packet protection); with -H N, it makes N connections one after the
 * other (handshake, then close) and reports handshakes per CPU second for
 * both ends together.
 *
 * Not a test: it never fails because the machine is slow.
 *
 *   rudp_bench_conn [-n MIB] [-l LOSS_PERCENT] [-c reno|cubic]
 *                   [-t none|aes128|aes256|chacha20] [-H N] [-J]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rudp/rudp.h>
#include <rudp/rudp_tls.h>

#include "rudp_pkt.h"

#define MS RUDP_MILLISECONDS
#define QCAP 16384
#define PAYLOAD 1452

typedef struct dgram {
  rudp_tstamp at;
  uint16_t len;
  uint8_t data[PAYLOAD];
} dgram;

/* A link: FIFO ring of datagrams, serialised at |rate| bytes/s. */
typedef struct link {
  dgram *q;
  size_t head, len;
  rudp_tstamp busy_until;
  uint64_t rate;
  uint64_t dropped;
} link;

typedef struct bench {
  rudp_conn *c, *s;
  rudp_tstamp now;
  link l[2];
  uint64_t loss_ppm;
  uint64_t rng;
  int64_t sid;
  uint64_t to_send, sent, received;
  int fin_sent, fin_seen;
  uint8_t *chunk;
  size_t chunklen;
  /* counting allocator */
  size_t cur, peak;
  /* idle: heap of the pair right after the handshake, before any stream */
  size_t idle;
  rudp_cc_algo algo;
  /* TLS contexts (NULL: plain mode). */
  rudp_tls_ctx *tls_server, *tls_client;
} bench;

static bench B;

/* ------------------------------------------------------------ allocator */

typedef struct hdr {
  size_t size;
  size_t pad;
} hdr;

static void *cm_malloc(size_t size, void *ud) {
  hdr *h = malloc(sizeof(hdr) + size);
  (void)ud;
  if (!h) {
    return NULL;
  }
  h->size = size;
  B.cur += size;
  if (B.cur > B.peak) {
    B.peak = B.cur;
  }
  return h + 1;
}

static void cm_free(void *p, void *ud) {
  hdr *h;
  (void)ud;
  if (!p) {
    return;
  }
  h = (hdr *)p - 1;
  B.cur -= h->size;
  free(h);
}

static void *cm_calloc(size_t n, size_t size, void *ud) {
  void *p = cm_malloc(n * size, ud);
  if (p) {
    memset(p, 0, n * size);
  }
  return p;
}

static void *cm_realloc(void *p, size_t size, void *ud) {
  hdr *h;
  void *q;
  if (!p) {
    return cm_malloc(size, ud);
  }
  h = (hdr *)p - 1;
  q = cm_malloc(size, ud);
  if (!q) {
    return NULL;
  }
  memcpy(q, p, h->size < size ? h->size : size);
  cm_free(p, ud);
  return q;
}

static const rudp_mem counting_mem = {NULL, cm_malloc, cm_free, cm_calloc,
                                      cm_realloc};

/* ------------------------------------------------------------ harness */

static uint64_t rng_next(void) {
  uint64_t z = (B.rng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static int cb_readable(rudp_conn *conn, int64_t id, void *ud) {
  static uint8_t buf[65536];
  (void)ud;
  for (;;) {
    int fin = 0;
    rudp_ssize n = rudp_conn_stream_read(conn, id, buf, sizeof(buf), &fin);
    if (n > 0) {
      B.received += (uint64_t)n;
    }
    if (fin) {
      B.fin_seen = 1;
    }
    if (n <= 0 || fin) {
      break;
    }
  }
  return 0;
}

static void pump_writes(void) {
  while (B.sent < B.to_send) {
    size_t want = B.chunklen;
    rudp_ssize n;
    if (B.to_send - B.sent < want) {
      want = (size_t)(B.to_send - B.sent);
    }
    n = rudp_conn_stream_write(B.c, B.sid, B.chunk, want,
                               B.sent + want == B.to_send);
    if (n <= 0) {
      return;
    }
    B.sent += (uint64_t)n;
  }
}

static int cb_writable(rudp_conn *conn, int64_t id, void *ud) {
  (void)conn;
  (void)id;
  (void)ud;
  pump_writes();
  return 0;
}

static void flush(rudp_conn *conn, link *l) {
  uint8_t buf[PAYLOAD];
  rudp_ssize n;
  while ((n = rudp_conn_write_pkt(conn, buf, sizeof(buf), B.now)) > 0) {
    dgram *d;
    rudp_tstamp start;
    if (B.loss_ppm && rng_next() % 1000000 < B.loss_ppm) {
      ++l->dropped;
      continue;
    }
    if (l->len == QCAP) {
      ++l->dropped; /* queue full: drop-tail */
      continue;
    }
    d = &l->q[(l->head + l->len++) % QCAP];
    memcpy(d->data, buf, (size_t)n);
    d->len = (uint16_t)n;
    start = B.now > l->busy_until ? B.now : l->busy_until;
    l->busy_until = start + (uint64_t)n * RUDP_SECONDS / l->rate;
    d->at = l->busy_until + 5 * MS;
  }
  if (n < 0) {
    fprintf(stderr, "rudp_bench_conn: write_pkt: %s\n", rudp_strerror((int)n));
    exit(1);
  }
}

static void deliver(int dir) {
  link *l = &B.l[dir];
  while (l->len && l->q[l->head].at <= B.now) {
    dgram *d = &l->q[l->head];
    rudp_conn *conn = dir == 0 ? B.s : B.c;
    l->head = (l->head + 1) % QCAP;
    --l->len;
    if (rudp_conn_read_pkt(conn, d->data, d->len, B.now) < 0) {
      fprintf(stderr, "rudp_bench_conn: read_pkt failed\n");
      exit(1);
    }
  }
}

static const rudp_callbacks callbacks = {
    NULL, NULL, cb_readable, cb_writable, NULL, NULL,
    NULL, NULL, NULL,        NULL,        NULL,
};

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_server(void) {
  rudp_pkt_hd hd;
  link *l = &B.l[0];
  dgram *d = &l->q[l->head];
  rudp_cid scid = {8, {5, 6, 7, 8, 9, 10, 11, 12}};
  rudp_settings st;
  if (rudp_pkt_decode_hd(&hd, d->data, d->len, 8) < 0) {
    fprintf(stderr, "rudp_bench_conn: bad CONNECT\n");
    exit(1);
  }
  rudp_settings_default(&st);
  st.tx_udp_payload_size = PAYLOAD;
  st.initial_max_stream_data = 4 << 20;
  st.initial_max_data = 8 << 20;
  st.cc_algo = B.algo;
  st.tls = B.tls_server;
  if (rudp_conn_server_new(&B.s, &hd.scid, &hd.dcid, &scid, &st, &callbacks,
                           &counting_mem, NULL, B.now) != 0) {
    exit(1);
  }
}

/* tls_setup makes both contexts for |suite| ("none": plain mode). */
static int tls_setup(const char *suite, const char **pname) {
  static const struct {
    const char *arg, *suite;
  } suites[] = {{"aes128", "TLS_AES_128_GCM_SHA256"},
                {"aes256", "TLS_AES_256_GCM_SHA384"},
                {"chacha20", "TLS_CHACHA20_POLY1305_SHA256"}};
  rudp_tls_config cfg;
  char err[256];
  size_t i;
  *pname = "none";
  if (!strcmp(suite, "none")) {
    return 0;
  }
  for (i = 0; i < sizeof(suites) / sizeof(suites[0]); ++i) {
    if (!strcmp(suite, suites[i].arg)) {
      break;
    }
  }
  if (i == sizeof(suites) / sizeof(suites[0])) {
    fprintf(stderr,
            "rudp_bench_conn: -t: expected none, aes128, aes256 or chacha20\n");
    return 2;
  }
  *pname = suites[i].suite;
  rudp_tls_config_default(&cfg);
  cfg.server = 1;
  cfg.ciphersuites = suites[i].suite;
  if (rudp_tls_ctx_new(&B.tls_server, &cfg, err, sizeof(err)) != 0) {
    fprintf(stderr, "rudp_bench_conn: TLS: %s\n", err);
    return 1;
  }
  rudp_tls_config_default(&cfg);
  cfg.insecure = 1;
  cfg.session_cache = 0; /* every handshake a full one */
  cfg.ciphersuites = suites[i].suite;
  if (rudp_tls_ctx_new(&B.tls_client, &cfg, err, sizeof(err)) != 0) {
    fprintf(stderr, "rudp_bench_conn: TLS: %s\n", err);
    return 1;
  }
  return 0;
}

/* run_loop runs the pair until |done| returns nonzero or nothing is
 * left to happen. */
static void run_loop(int (*done)(void)) {
  int i;
  while (!done() && B.now < 3600 * RUDP_SECONDS) {
    rudp_tstamp t = RUDP_TSTAMP_MAX, e;
    flush(B.c, &B.l[0]);
    if (!B.s && B.l[0].len) {
      make_server();
    }
    if (B.s) {
      flush(B.s, &B.l[1]);
    }
    for (i = 0; i < 2; ++i) {
      if (B.l[i].len && B.l[i].q[B.l[i].head].at < t) {
        t = B.l[i].q[B.l[i].head].at;
      }
    }
    if ((e = rudp_conn_get_expiry(B.c)) < t) {
      t = e;
    }
    if (B.s && (e = rudp_conn_get_expiry(B.s)) < t) {
      t = e;
    }
    if (t == RUDP_TSTAMP_MAX) {
      break;
    }
    if (t > B.now) {
      B.now = t;
    }
    deliver(0);
    deliver(1);
    if (rudp_conn_get_expiry(B.c) <= B.now) {
      rudp_conn_handle_expiry(B.c, B.now);
    }
    if (B.s && rudp_conn_get_expiry(B.s) <= B.now) {
      rudp_conn_handle_expiry(B.s, B.now);
    }
  }
}

/* transfer_step: once both ends are established, records the idle heap
 * and starts the transfer; done when the FIN arrived. */
static int transfer_step(void) {
  if (B.sid == 0 && B.sent == 0 && rudp_conn_is_established(B.c) && B.s &&
      rudp_conn_is_established(B.s)) {
    B.idle = B.cur;
    if (rudp_conn_open_stream(B.c, 0, &B.sid) != 0) {
      fprintf(stderr, "rudp_bench_conn: open_stream failed\n");
      exit(1);
    }
    pump_writes();
  }
  return B.fin_seen;
}

static int both_established(void) {
  return rudp_conn_is_established(B.c) && B.s &&
         rudp_conn_is_established(B.s) &&
         rudp_conn_get_state(B.s) == RUDP_CONN_STATE_ESTABLISHED;
}

/* bench_handshakes makes |n| connections, each to established (both
 * sides), and reports the CPU cost. */
static int bench_handshakes(uint64_t n, const char *suite, int json) {
  rudp_settings st;
  uint64_t k;
  double t0, secs;
  rudp_settings_default(&st);
  st.tls = B.tls_client;
  st.tls_server_name = "localhost";
  t0 = cpu_now();
  for (k = 0; k < n; ++k) {
    rudp_cid dcid = {8, {1, 2, 3, 4, 5, 6, 7, (uint8_t)k}};
    rudp_cid scid = {8, {8, 7, 6, 5, 4, 3, 2, (uint8_t)(k >> 8)}};
    B.l[0].head = B.l[0].len = 0;
    B.l[1].head = B.l[1].len = 0;
    if (rudp_conn_client_new(&B.c, &dcid, &scid, &st, &callbacks, &counting_mem,
                             NULL, B.now) != 0) {
      return 1;
    }
    run_loop(both_established);
    if (!both_established()) {
      fprintf(stderr, "rudp_bench_conn: handshake %" PRIu64 " failed\n", k);
      return 1;
    }
    rudp_conn_del(B.c);
    rudp_conn_del(B.s);
    B.c = B.s = NULL;
  }
  secs = cpu_now() - t0;
  if (json) {
    printf("{\"bench\":\"handshakes\",\"tls\":\"%s\",\"count\":%" PRIu64
           ",\"cpu_seconds\":%.3f,\"handshakes_per_cpu_second\":%.0f}\n",
           suite, n, secs, (double)n / secs);
  } else {
    printf("handshakes (TLS %s), %" PRIu64 " in %.3f CPU s: %.0f per CPU "
           "second, both ends\n",
           suite, n, secs, (double)n / secs);
  }
  return 0;
}

int main(int argc, char **argv) {
  uint64_t mib = 256;
  double loss = 0, t0, t1, secs, gib;
  int json = 0, i;
  rudp_settings st;
  rudp_cid dcid = {8, {1, 2, 3, 4, 5, 6, 7, 8}};
  rudp_cid scid = {8, {8, 7, 6, 5, 4, 3, 2, 1}};
  rudp_conn_stats cst;
  uint64_t handshakes = 0;
  rudp_cc_algo algo = RUDP_CC_CUBIC;
  const char *suite_arg = "none", *suite = "none";

  for (i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc) {
      mib = strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-l") && i + 1 < argc) {
      loss = strtod(argv[++i], NULL);
    } else if (!strcmp(argv[i], "-J")) {
      json = 1;
    } else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
      suite_arg = argv[++i];
    } else if (!strcmp(argv[i], "-H") && i + 1 < argc) {
      handshakes = strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
      ++i;
      if (!strcmp(argv[i], "reno")) {
        algo = RUDP_CC_RENO;
      } else if (!strcmp(argv[i], "cubic")) {
        algo = RUDP_CC_CUBIC;
      } else {
        fprintf(stderr, "rudp_bench_conn: -c: expected reno or cubic\n");
        return 2;
      }
    } else {
      fprintf(stderr,
              "usage: rudp_bench_conn [-n MIB] [-l LOSS%%] [-c reno|cubic] "
              "[-t none|aes128|aes256|chacha20] [-H N] [-J]\n");
      return 2;
    }
  }
  if (mib == 0 || loss < 0 || loss >= 100) {
    fprintf(stderr, "rudp_bench_conn: bad -n or -l\n");
    return 2;
  }
  memset(&B, 0, sizeof(B));
  if ((i = tls_setup(suite_arg, &suite)) != 0) {
    return i;
  }
  B.now = RUDP_SECONDS;
  B.loss_ppm = (uint64_t)(loss * 10000);
  B.rng = 42;
  B.to_send = mib << 20;
  B.chunklen = 256 << 10;
  B.chunk = malloc(B.chunklen);
  for (i = 0; i < 2; ++i) {
    B.l[i].q = calloc(QCAP, sizeof(dgram));
    B.l[i].rate = 1250000000; /* 10 Gbit/s: the CPU is the bottleneck */
  }
  memset(B.chunk, 0xab, B.chunklen);
  B.algo = algo;
  if (handshakes) {
    i = bench_handshakes(handshakes, suite, json);
    rudp_tls_ctx_free(B.tls_server);
    rudp_tls_ctx_free(B.tls_client);
    return i;
  }

  rudp_settings_default(&st);
  st.tx_udp_payload_size = PAYLOAD;
  st.initial_max_stream_data = 4 << 20;
  st.initial_max_data = 8 << 20;
  st.cc_algo = algo;
  st.tls = B.tls_client;
  st.tls_server_name = "localhost";
  if (rudp_conn_client_new(&B.c, &dcid, &scid, &st, &callbacks, &counting_mem,
                           NULL, B.now) != 0) {
    return 1;
  }
  t0 = cpu_now();
  run_loop(transfer_step);
  t1 = cpu_now();
  if (!B.fin_seen || B.received != B.to_send) {
    fprintf(stderr,
            "rudp_bench_conn: transfer incomplete (%" PRIu64 " of %" PRIu64
            " bytes)\n",
            B.received, B.to_send);
    return 1;
  }
  rudp_conn_get_stats(B.c, &cst);
  secs = t1 - t0;
  gib = (double)B.received / (1024.0 * 1024.0 * 1024.0);
  if (json) {
    printf("{\"bench\":\"conn\",\"tls\":\"%s\",\"cc\":\"%s\",\"bytes\":%" PRIu64
           ",\"loss_percent\":%.2f,"
           "\"cpu_seconds\":%.3f,\"cpu_seconds_per_gib\":%.3f,"
           "\"gbit_per_cpu_second\":%.3f,\"peak_heap_bytes_pair\":%zu,"
           "\"idle_heap_bytes_pair\":%zu,"
           "\"pkts_sent\":%" PRIu64 ",\"pkts_lost\":%" PRIu64
           ",\"virtual_seconds\":%.3f}\n",
           suite, algo == RUDP_CC_RENO ? "reno" : "cubic", B.received, loss,
           secs, secs / gib, (double)B.received * 8 / 1e9 / secs, B.peak,
           B.idle, cst.pkts_sent, cst.pkts_lost,
           (double)(B.now - RUDP_SECONDS) / 1e9);
  } else {
    printf("conn core (%s, TLS %s), %" PRIu64 " MiB, loss %.1f%%: %.3f CPU s, "
           "%.3f CPU s/GiB "
           "(%.2f Gbit/s per core, both ends), heap per pair: %zu KiB peak, "
           "%zu bytes idle, "
           "%" PRIu64 " packets sent, %" PRIu64 " lost\n",
           algo == RUDP_CC_RENO ? "reno" : "cubic", suite, mib, loss, secs,
           secs / gib, (double)B.received * 8 / 1e9 / secs, B.peak / 1024,
           B.idle, cst.pkts_sent, cst.pkts_lost);
  }
  rudp_conn_del(B.c);
  rudp_conn_del(B.s);
  rudp_tls_ctx_free(B.tls_server);
  rudp_tls_ctx_free(B.tls_client);
  free(B.chunk);
  free(B.l[0].q);
  free(B.l[1].q);
  return 0;
}
