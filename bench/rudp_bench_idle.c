/*
 * rudp_bench_idle: heap per idle connection, with many connections open.
 *
 * One client endpoint opens -m connections (default 10,000) to one server
 * endpoint over 127.0.0.1 through the libevent binding, -i handshakes in
 * flight at a time; the server accepts them all.  Once every handshake has
 * completed on both sides, nothing is sent for -q ms (the handshake's
 * leftovers, ACK and loss timers, are done with), and the heap is counted:
 *
 *   - librudp's own allocations (endpoint, connections, the binding)
 *     through a counting `rudp_mem` given in `rudp_event_settings.mem`,
 *     one per endpoint, so the server's and the client's are apart;
 *   - OpenSSL's allocations (TLS mode: an SSL object per connection during
 *     its handshake, freed once it is confirmed; then the packet
 *     protection's cipher contexts) through CRYPTO_set_mem_functions,
 *     called before any other OpenSSL call; each thread runs one endpoint,
 *     so a thread-local tag tells the server's from the client's.
 *
 * Per connection = (heap with all connections open and idle - heap of the
 * endpoints before the first connect) / connections, for each side.  The
 * figures count the bytes asked for; "usable" adds what malloc rounds each
 * block up to (malloc_usable_size), and the RSS column is the growth of the
 * whole process (both sides, allocator overhead included) per connection
 * pair.  The binding uses one UDP socket per endpoint, so there is no
 * per-connection kernel socket memory to add.
 *
 * Before that run, with the same settings, two core endpoints (no binding,
 * no sockets) exchange datagrams in memory on a virtual clock, so these
 * are exact byte counts:
 *
 *   - an endpoint alone, before any connection (server, client);
 *   - a half-open connection on the server: min(-m, 256) CONNECTs
 *     received and answered, the answers lost (TLS: the SSL object kept,
 *     its first flight sent), per connection;
 *   - one connection with full buffers: the sender's growth once it has
 *     written until RUDP_ERR_WOULDBLOCK (max_send_buffer) and queued twice
 *     datagram_queue_len datagrams of the largest size, and the
 *     receiver's, which never reads, once flow control stops the data
 *     (initial windows: they grow only while the application reads);
 *   - a stream left open after the receiver read its 256 KiB (the initial
 *     stream window), per stream over 100: in order, and with the
 *     stream's first packet lost (its reorder ring then grows to the
 *     window and keeps that size until the stream ends).
 *
 * The endpoint figures of the run itself include the binding's buffers
 * (recv_batch x 64 KiB and send_queue_size); in TLS mode OpenSSL's
 * library state and the two contexts are shown apart (once per process).
 *
 * Not a test: it never fails because the machine is slow.
 * tests/rudp_memory_test.c holds the plain figures to bounds.
 *
 *   rudp_bench_idle [-m CONNECTIONS] [-i INFLIGHT] [-t none|aes128|chacha20]
 *                   [-q QUIET_MS] [-J] [-v]
 *
 * -v adds, per side, the size classes the per-connection bytes are in.
 */
#ifdef HAVE_CONFIG_H
#  include <config.h>
#endif

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/event.h>

#ifdef HAVE_OPENSSL
#  include <openssl/crypto.h>
#endif

#include <rudp/rudp.h>
#include <rudp/rudp_event.h>
#include <rudp/rudp_tls.h>

#define SEC RUDP_SECONDS
#define MS RUDP_MILLISECONDS
/* LIMIT bounds the handshake phase. */
#define LIMIT (90 * SEC)

enum { SERVER = 0, CLIENT = 1, OTHER = 2, NSIDES = 3 };
static const char *const side_name[NSIDES] = {"server", "client", "other"};

static void die(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

static void die(const char *fmt, ...) {
  va_list ap;
  fputs("rudp_bench_idle: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static int load(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

static void store(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

/* ------------------------------------------------------------ counting */

/* One tally per side and per allocator: bytes asked for, bytes malloc
 * actually reserved (usable size, minus our header), live blocks.  Frees
 * may come from another thread than the allocation (a TLS context is
 * shared), so the header remembers the tally and the counts are atomic. */
#define NBUCKETS 32

typedef struct tally {
  int64_t bytes, usable, blocks;
  /* live blocks and bytes by size class: [k] holds sizes in [2^k, 2^k+1)
   * (-v shows where the bytes are) */
  int64_t bucket_blocks[NBUCKETS], bucket_bytes[NBUCKETS];
} tally;

enum { RUDP = 0, OSSL = 1 };
static tally g_tally[2][NSIDES];

typedef struct hdr {
  size_t size;
  tally *t;
} hdr;

static int bucket_of(size_t size) {
  int k = 0;
  while (k < NBUCKETS - 1 && ((size_t)2 << k) <= size) {
    ++k;
  }
  return k;
}

static void tally_add(tally *t, hdr *h, int sign) {
  int64_t usable = (int64_t)(malloc_usable_size(h) - sizeof(hdr));
  int k = bucket_of(h->size);
  __atomic_add_fetch(&t->bytes, sign * (int64_t)h->size, __ATOMIC_RELAXED);
  __atomic_add_fetch(&t->usable, sign * usable, __ATOMIC_RELAXED);
  __atomic_add_fetch(&t->blocks, sign, __ATOMIC_RELAXED);
  __atomic_add_fetch(&t->bucket_blocks[k], sign, __ATOMIC_RELAXED);
  __atomic_add_fetch(&t->bucket_bytes[k], sign * (int64_t)h->size,
                     __ATOMIC_RELAXED);
}

static void *count_malloc(size_t size, tally *t) {
  hdr *h = malloc(sizeof(hdr) + size);
  if (!h) {
    return NULL;
  }
  h->size = size;
  h->t = t;
  tally_add(t, h, 1);
  return h + 1;
}

static void count_free(void *p) {
  hdr *h;
  if (!p) {
    return;
  }
  h = (hdr *)p - 1;
  tally_add(h->t, h, -1);
  free(h);
}

static void *count_realloc(void *p, size_t size, tally *t) {
  hdr *h;
  void *q;
  if (!p) {
    return count_malloc(size, t);
  }
  h = (hdr *)p - 1;
  q = count_malloc(size, h->t);
  if (!q) {
    return NULL;
  }
  memcpy(q, p, h->size < size ? h->size : size);
  count_free(p);
  return q;
}

static void *rm_malloc(size_t size, void *ud) { return count_malloc(size, ud); }

static void rm_free(void *p, void *ud) {
  (void)ud;
  count_free(p);
}

static void *rm_calloc(size_t n, size_t size, void *ud) {
  void *p;
  if (size && n > SIZE_MAX / size) {
    return NULL;
  }
  p = count_malloc(n * size, ud);
  if (p) {
    memset(p, 0, n * size);
  }
  return p;
}

static void *rm_realloc(void *p, size_t size, void *ud) {
  return count_realloc(p, size, ud);
}

static const rudp_mem mem_server = {&g_tally[RUDP][SERVER], rm_malloc, rm_free,
                                    rm_calloc, rm_realloc};
static const rudp_mem mem_client = {&g_tally[RUDP][CLIENT], rm_malloc, rm_free,
                                    rm_calloc, rm_realloc};

/* t_side tags the OpenSSL allocations of each endpoint's thread. */
static __thread int t_side = OTHER;

#ifdef HAVE_OPENSSL
static void *ossl_malloc(size_t size, const char *file, int line) {
  (void)file;
  (void)line;
  return count_malloc(size, &g_tally[OSSL][t_side]);
}

static void *ossl_realloc(void *p, size_t size, const char *file, int line) {
  (void)file;
  (void)line;
  return count_realloc(p, size, &g_tally[OSSL][t_side]);
}

static void ossl_free(void *p, const char *file, int line) {
  (void)file;
  (void)line;
  count_free(p);
}
#endif

static tally snap(int alloc, int side) {
  tally t;
  const tally *g = &g_tally[alloc][side];
  int k;
  t.bytes = __atomic_load_n(&g->bytes, __ATOMIC_ACQUIRE);
  t.usable = __atomic_load_n(&g->usable, __ATOMIC_ACQUIRE);
  t.blocks = __atomic_load_n(&g->blocks, __ATOMIC_ACQUIRE);
  for (k = 0; k < NBUCKETS; ++k) {
    t.bucket_blocks[k] =
        __atomic_load_n(&g->bucket_blocks[k], __ATOMIC_ACQUIRE);
    t.bucket_bytes[k] = __atomic_load_n(&g->bucket_bytes[k], __ATOMIC_ACQUIRE);
  }
  return t;
}

/* print_buckets shows, per connection, the live blocks each size class
 * gained between |a| and |b| (those worth at least 1% of the total). */
static void print_buckets(const char *what, const tally *a, const tally *b,
                          size_t m) {
  double total = (double)(b->bytes - a->bytes) / (double)m;
  int k;
  printf("  %s: %.0f B per connection in %.2f blocks\n", what, total,
         (double)(b->blocks - a->blocks) / (double)m);
  for (k = 0; k < NBUCKETS; ++k) {
    double bl = (double)(b->bucket_blocks[k] - a->bucket_blocks[k]) / (double)m;
    double by = (double)(b->bucket_bytes[k] - a->bucket_bytes[k]) / (double)m;
    if (by >= 0.01 * total && by > 0) {
      printf("    %7lu-%-7lu B: %6.2f blocks, %8.0f B\n", 1ul << k,
             (2ul << k) - 1, bl, by);
    }
  }
}

/* rss_bytes is the process's resident set (statm: pages). */
static int64_t rss_bytes(void) {
  long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) {
      rss = 0;
    }
    fclose(f);
  }
  return (int64_t)rss * sysconf(_SC_PAGESIZE);
}

/* ------------------------------------------------------------ in memory */

/*
 * The figures that need no sockets are taken first, on the main thread,
 * with two core endpoints (no binding) exchanging datagrams in memory on a
 * virtual clock: byte counts that are the same on every run.  t_side is
 * switched around each endpoint's calls so that OpenSSL's allocations are
 * charged to the right side.
 */
#define MP_DELAY (1 * MS)

typedef struct mp_dg {
  struct mp_dg *next;
  int to_server;
  size_t len;
  uint8_t data[];
} mp_dg;

typedef struct mem_pair {
  rudp_endpoint *srv, *cli;
  struct sockaddr_in asrv, acli;
  uint64_t rng;
  rudp_tstamp now;
  mp_dg *head, **tail;
  int drop_to_client;       /* half-open: the server's answers are lost */
  int drop_next;            /* lose the client's next datagram */
  rudp_conn *cconn, *sconn; /* the last connection of each side */
  size_t established, accepted;
} mem_pair;

static int mp_rand(uint8_t *dest, size_t len, void *ud) {
  mem_pair *p = ud;
  size_t i;
  /* xorshift64*: unique connection IDs are all a benchmark needs. */
  for (i = 0; i < len; ++i) {
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    dest[i] = (uint8_t)((p->rng * 0x2545F4914F6CDD1DULL) >> 56);
  }
  return 0;
}

static int mp_accept_ready(rudp_endpoint *ep, void *ud) {
  mem_pair *p = ud;
  rudp_conn *conn;
  while ((conn = rudp_endpoint_accept(ep)) != NULL) {
    p->sconn = conn;
    ++p->accepted;
  }
  return 0;
}

static int mp_handshake(rudp_conn *conn, void *ud) {
  (void)conn;
  if (ud) { /* client connections only */
    ++((mem_pair *)ud)->established;
  }
  return 0;
}

/* g_mp_read: the server's application reads what arrives. */
static int g_mp_read;

static int mp_readable(rudp_conn *conn, int64_t id, void *ud) {
  static uint8_t buf[65536];
  int fin;
  (void)ud;
  while (g_mp_read &&
         rudp_conn_stream_read(conn, id, buf, sizeof(buf), &fin) > 0) {
  }
  return 0;
}

static const rudp_callbacks mp_callbacks = {.handshake_completed = mp_handshake,
                                            .stream_readable = mp_readable};

static void mp_flush(mem_pair *p, int server) {
  static uint8_t buf[65536];
  struct sockaddr_storage to;
  socklen_t tolen;
  rudp_ssize n;
  t_side = server ? SERVER : CLIENT;
  while ((n = rudp_endpoint_write(server ? p->srv : p->cli, buf, sizeof(buf),
                                  &to, &tolen, p->now)) > 0) {
    mp_dg *d;
    if (server && p->drop_to_client) {
      continue;
    }
    if (!server && p->drop_next) {
      p->drop_next = 0;
      continue;
    }
    d = malloc(sizeof(*d) + (size_t)n);
    if (!d) {
      die("out of memory");
    }
    d->next = NULL;
    d->to_server = !server;
    d->len = (size_t)n;
    memcpy(d->data, buf, (size_t)n);
    *p->tail = d;
    p->tail = &d->next;
  }
  t_side = OTHER;
  if (n < 0) {
    die("rudp_endpoint_write: %s", rudp_strerror((int)n));
  }
}

static void mp_expire(mem_pair *p, int server) {
  rudp_endpoint *ep = server ? p->srv : p->cli;
  if (rudp_endpoint_get_expiry(ep) <= p->now) {
    t_side = server ? SERVER : CLIENT;
    if (rudp_endpoint_handle_expiry(ep, p->now) != 0) {
      die("rudp_endpoint_handle_expiry failed");
    }
    t_side = OTHER;
  }
}

/* mp_step: what both sides send arrives MP_DELAY later; with nothing in
 * flight the clock jumps to the next timer.  0 once |limit| is reached. */
static int mp_step(mem_pair *p, rudp_tstamp limit) {
  mp_flush(p, 0);
  mp_flush(p, 1);
  if (p->head) {
    mp_dg *d = p->head;
    p->head = NULL;
    p->tail = &p->head;
    p->now += MP_DELAY;
    while (d) {
      mp_dg *next = d->next;
      const struct sockaddr_in *from = d->to_server ? &p->acli : &p->asrv;
      t_side = d->to_server ? SERVER : CLIENT;
      if (rudp_endpoint_read(d->to_server ? p->srv : p->cli, d->data, d->len,
                             (const struct sockaddr *)from, sizeof(*from),
                             p->now) != 0) {
        die("rudp_endpoint_read failed");
      }
      t_side = OTHER;
      free(d);
      d = next;
    }
  } else {
    rudp_tstamp t = rudp_endpoint_get_expiry(p->srv);
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
  mp_expire(p, 1);
  mp_expire(p, 0);
  return 1;
}

static void mp_new(mem_pair *p, rudp_event_settings *st, rudp_tls_ctx *stls,
                   rudp_tls_ctx *ctls) {
  static const rudp_endpoint_callbacks srvcb = {mp_rand, mp_accept_ready, NULL};
  static const rudp_endpoint_callbacks clicb = {mp_rand, NULL, NULL};
  rudp_endpoint_settings es = st->endpoint;
  memset(p, 0, sizeof(*p));
  p->asrv.sin_family = p->acli.sin_family = AF_INET;
  p->asrv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  p->acli.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1);
  p->asrv.sin_port = htons(4433);
  p->acli.sin_port = htons(50000);
  p->rng = 0x9E3779B97F4A7C15ULL;
  p->now = 1000 * SEC;
  p->tail = &p->head;
  es.listen = 1;
  es.conn.tls = stls;
  t_side = SERVER;
  if (rudp_endpoint_new(&p->srv, &es, &srvcb, &mp_callbacks, &mem_server, p,
                        p->now) != 0) {
    die("in-memory server endpoint failed");
  }
  es.listen = 0;
  es.conn.tls = ctls;
  t_side = CLIENT;
  if (rudp_endpoint_new(&p->cli, &es, &clicb, &mp_callbacks, &mem_client, p,
                        p->now) != 0) {
    die("in-memory client endpoint failed");
  }
  t_side = OTHER;
}

static void mp_del(mem_pair *p) {
  while (p->head) {
    mp_dg *d = p->head;
    p->head = d->next;
    free(d);
  }
  t_side = SERVER;
  rudp_endpoint_del(p->srv);
  t_side = CLIENT;
  rudp_endpoint_del(p->cli);
  t_side = OTHER;
}

static void mp_connect(mem_pair *p) {
  int rv;
  t_side = CLIENT;
  rv = rudp_endpoint_connect(p->cli, (const struct sockaddr *)&p->asrv,
                             sizeof(p->asrv), NULL, p, &p->cconn, p->now);
  t_side = OTHER;
  if (rv != 0) {
    die("in-memory connect: %s", rudp_strerror(rv));
  }
}

/* What phase A measured: bytes (librudp, OpenSSL) per side. */
typedef struct mem_figs {
  /* a core endpoint, no connection */
  int64_t ep_rudp[2], ep_ossl[2];
  /* per half-open connection on the server, over |nhalf| */
  size_t nhalf;
  double half_rudp, half_ossl;
  /* one connection with full buffers: the client's growth after filling
   * its send buffer and datagram queue, the server's after receiving all
   * the flow control lets in without reading */
  int64_t full_send, full_recv;
  /* the client's counters when full (rudp_conn_stats), and the stream
   * bytes the server then took in (acknowledged) */
  uint64_t full_send_buffered, full_dgrams_queued, full_dgram_bytes_queued;
  uint64_t full_recv_bytes;
  /* per stream left open after the server read its 256 KiB (the initial
   * stream window): in order, and with the stream's first packet lost */
  size_t nstreams;
  double stream_in_order, stream_first_lost;
} mem_figs;

static int64_t side_bytes(int alloc, int side) {
  return __atomic_load_n(&g_tally[alloc][side].bytes, __ATOMIC_ACQUIRE);
}

/* measure_in_memory fills |f| with the settings |st| (the bench's). */
static void measure_in_memory(mem_figs *f, rudp_event_settings *st,
                              rudp_tls_ctx *stls, rudp_tls_ctx *ctls,
                              size_t nhalf) {
  mem_pair p;
  int64_t r0[2], o0[2];
  int s, rv;
  size_t i;
  rudp_tstamp limit;
  static uint8_t chunk[65536];

  memset(f, 0, sizeof(*f));
  /* 1. The endpoints alone. */
  for (s = 0; s < 2; ++s) {
    r0[s] = side_bytes(RUDP, s);
    o0[s] = side_bytes(OSSL, s);
  }
  mp_new(&p, st, stls, ctls);
  for (s = 0; s < 2; ++s) {
    f->ep_rudp[s] = side_bytes(RUDP, s) - r0[s];
    f->ep_ossl[s] = side_bytes(OSSL, s) - o0[s];
    r0[s] = side_bytes(RUDP, s);
    o0[s] = side_bytes(OSSL, s);
  }

  /* 2. Half-open: |nhalf| CONNECTs received and answered, the answers
   * lost.  The server holds each connection (and in TLS mode its SSL
   * object, its flight sent) until handshake_timeout. */
  p.drop_to_client = 1;
  for (i = 0; i < nhalf; ++i) {
    mp_connect(&p);
  }
  mp_step(&p, p.now + SEC);
  mp_flush(&p, 1);
  {
    rudp_endpoint_stats es;
    rudp_endpoint_get_stats(p.srv, &es);
    if (es.half_open != nhalf) {
      die("in memory: %" PRIu64 " half-open connections, not %zu", es.half_open,
          nhalf);
    }
  }
  f->nhalf = nhalf;
  f->half_rudp = (double)(side_bytes(RUDP, SERVER) - r0[SERVER]) / nhalf;
  f->half_ossl = (double)(side_bytes(OSSL, SERVER) - o0[SERVER]) / nhalf;
  mp_del(&p);

  /* 3. Full buffers: one connection, idle, then the client fills every
   * bound it has (streams written until RUDP_ERR_WOULDBLOCK, the datagram
   * queue twice over) and the server, which never reads, takes what its
   * flow control lets in. */
  mp_new(&p, st, stls, ctls);
  mp_connect(&p);
  limit = p.now + 10 * SEC;
  while ((p.established < 1 || p.accepted < 1) && mp_step(&p, limit)) {
  }
  if (p.established < 1 || p.accepted < 1) {
    die("in memory: the handshake did not complete");
  }
  limit = p.now + 5 * SEC;
  while (mp_step(&p, limit)) {
  }
  for (s = 0; s < 2; ++s) {
    r0[s] = side_bytes(RUDP, s) + side_bytes(OSSL, s);
  }
  t_side = CLIENT;
  for (;;) {
    int64_t id;
    rudp_ssize n;
    if (rudp_conn_get_send_buffer_room(p.cconn) == 0) {
      break;
    }
    if ((rv = rudp_conn_open_stream(p.cconn, 1, &id)) != 0) {
      die("in memory: open stream: %s", rudp_strerror(rv));
    }
    while ((n = rudp_conn_stream_write(p.cconn, id, chunk, sizeof(chunk), 0)) >
           0) {
    }
    if (n != RUDP_ERR_WOULDBLOCK) {
      die("in memory: write: %s", rudp_strerror((int)n));
    }
  }
  {
    size_t dmax = rudp_conn_get_max_datagram_size(p.cconn);
    size_t qlen = st->endpoint.conn.datagram_queue_len;
    for (i = 0; dmax > 0 && i < 2 * qlen; ++i) {
      if ((rv = rudp_conn_send_datagram(p.cconn, chunk, dmax)) != 0) {
        die("in memory: datagram: %s", rudp_strerror(rv));
      }
    }
  }
  t_side = OTHER;
  f->full_send =
      side_bytes(RUDP, CLIENT) + side_bytes(OSSL, CLIENT) - r0[CLIENT];
  {
    rudp_conn_stats cs;
    rudp_conn_get_stats(p.cconn, &cs);
    f->full_send_buffered = cs.send_buffered;
    f->full_dgrams_queued = cs.datagrams_queued;
    f->full_dgram_bytes_queued = cs.datagram_bytes_queued;
  }
  limit = p.now + 5 * SEC;
  while (mp_step(&p, limit)) {
  }
  {
    rudp_conn_stats cs;
    rudp_conn_get_stats(p.cconn, &cs);
    f->full_recv_bytes = f->full_send_buffered - cs.send_buffered;
  }
  f->full_recv =
      side_bytes(RUDP, SERVER) + side_bytes(OSSL, SERVER) - r0[SERVER];
  mp_del(&p);

  /* 4. Streams left open: the client writes one stream's initial window
   * (256 KiB) at a time and the server reads it all; with the first
   * packet of each stream lost, the rest arrives out of order and the
   * stream's reorder ring grows to hold it, then keeps that size until
   * the stream ends. */
  f->nstreams = 100;
  for (s = 0; s < 2; ++s) {
    int64_t b0;
    mp_new(&p, st, stls, ctls);
    mp_connect(&p);
    limit = p.now + 10 * SEC;
    while ((p.established < 1 || p.accepted < 1) && mp_step(&p, limit)) {
    }
    limit = p.now + 5 * SEC;
    while (mp_step(&p, limit)) {
    }
    b0 = side_bytes(RUDP, SERVER) + side_bytes(OSSL, SERVER);
    g_mp_read = 1;
    for (i = 0; i < f->nstreams; ++i) {
      int64_t id;
      size_t len = (size_t)st->endpoint.conn.initial_max_stream_data;
      size_t off = 0;
      rudp_ssize n;
      t_side = CLIENT;
      if ((rv = rudp_conn_open_stream(p.cconn, 1, &id)) != 0) {
        die("in memory: open stream: %s", rudp_strerror(rv));
      }
      while (off < len &&
             (n = rudp_conn_stream_write(
                  p.cconn, id, chunk,
                  len - off < sizeof(chunk) ? len - off : sizeof(chunk), 0)) >
                 0) {
        off += (size_t)n;
      }
      t_side = OTHER;
      p.drop_next = s;
      limit = p.now + 3 * SEC;
      while (mp_step(&p, limit)) {
      }
    }
    g_mp_read = 0;
    *(s ? &f->stream_first_lost : &f->stream_in_order) =
        (double)(side_bytes(RUDP, SERVER) + side_bytes(OSSL, SERVER) - b0) /
        (double)f->nstreams;
    mp_del(&p);
  }
}

/* ------------------------------------------------------------ the run */

typedef struct idle {
  size_t total, inflight;
  struct sockaddr_storage to;
  socklen_t tolen;
  /* server thread */
  struct event_base *sbase;
  rudp_event *sev;
  size_t accepted; /* atomic: read by main */
  /* client thread */
  struct event_base *cbase;
  rudp_event *cev;
  size_t started, completed, failed; /* completed, failed: atomic */
  int stop;
  int err;
} idle;

static idle I;

static void tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
}

static int srv_accept_ready(rudp_endpoint *ep, void *ud) {
  (void)ud;
  while (rudp_endpoint_accept(ep) != NULL) {
    __atomic_add_fetch(&I.accepted, 1, __ATOMIC_RELEASE);
  }
  return 0;
}

static int cli_handshake(rudp_conn *conn, void *ud) {
  (void)conn;
  (void)ud;
  __atomic_add_fetch(&I.completed, 1, __ATOMIC_RELEASE);
  return 0;
}

static void cli_closed(rudp_conn *conn, int error, void *ud) {
  (void)conn;
  (void)ud;
  /* Only a connection that ended before the endpoint is freed is a
   * failure (the free at the end closes them all). */
  if (!load(&I.stop)) {
    __atomic_add_fetch(&I.failed, 1, __ATOMIC_RELEASE);
    I.err = error;
  }
}

static void srv_closed(rudp_conn *conn, int error, void *ud) {
  (void)conn;
  (void)ud;
  if (!load(&I.stop)) {
    I.err = error;
    __atomic_add_fetch(&I.failed, 1, __ATOMIC_RELEASE);
  }
}

static void *srv_main(void *arg) {
  struct event *t;
  struct timeval tv = {0, 10000};
  (void)arg;
  t_side = SERVER;
  t = event_new(I.sbase, -1, EV_PERSIST, tick, NULL);
  if (!t || event_add(t, &tv) != 0) {
    die("event_new failed");
  }
  while (!load(&I.stop)) {
    event_base_loop(I.sbase, EVLOOP_ONCE);
  }
  event_free(t);
  return NULL;
}

static void *cli_main(void *arg) {
  struct event *t;
  struct timeval tv = {0, 10000};
  rudp_tstamp limit;
  (void)arg;
  t_side = CLIENT;
  t = event_new(I.cbase, -1, EV_PERSIST, tick, NULL);
  if (!t || event_add(t, &tv) != 0) {
    die("event_new failed");
  }
  limit = rudp_event_now() + LIMIT;
  while (!load(&I.stop) && rudp_event_now() < limit) {
    size_t done = __atomic_load_n(&I.completed, __ATOMIC_ACQUIRE) +
                  __atomic_load_n(&I.failed, __ATOMIC_ACQUIRE);
    while (I.started < I.total && I.started - done < I.inflight) {
      rudp_conn *conn;
      int rv = rudp_event_connect(I.cev, (struct sockaddr *)&I.to, I.tolen,
                                  NULL, NULL, &conn);
      if (rv != 0) {
        die("rudp_event_connect (connection %zu): %s", I.started + 1,
            rudp_strerror(rv));
      }
      ++I.started;
    }
    event_base_loop(I.cbase, EVLOOP_ONCE);
  }
  event_free(t);
  return NULL;
}

static rudp_tls_ctx *tls_ctx(const char *suite, int server) {
  rudp_tls_config cfg;
  rudp_tls_ctx *ctx;
  char err[256];
  rudp_tls_config_default(&cfg);
  cfg.server = server;
  cfg.insecure = !server;
  cfg.session_cache = 0; /* every connection a full handshake */
  cfg.ciphersuites = suite;
  if (rudp_tls_ctx_new(&ctx, &cfg, err, sizeof(err)) != 0) {
    die("TLS context: %s", err);
  }
  return ctx;
}

static void settings(rudp_event_settings *st, int listen, size_t m,
                     size_t inflight, rudp_tls_ctx *tls) {
  rudp_event_settings_default(st);
  st->endpoint.listen = listen;
  st->endpoint.max_connections = m + 1024;
  st->endpoint.max_half_open = 4 * inflight + 256;
  st->endpoint.accept_backlog = 4 * inflight + 256;
  /* A RETRY would only add a round trip: the figure is about memory. */
  st->endpoint.retry = RUDP_RETRY_NEVER;
  st->endpoint.conn.tx_udp_payload_size = 1452;
  /* The connections must stay open through the measurement. */
  st->endpoint.conn.idle_timeout = 600 * SEC;
  st->endpoint.conn.tls = tls;
  st->mem = listen ? &mem_server : &mem_client;
}

int main(int argc, char **argv) {
  const char *suite_arg = "none", *suite = NULL;
  size_t m = 10000, inflight = 100;
  unsigned quiet_ms = 500;
  int json = 0, verbose = 0, i, s, rv;
  rudp_tls_ctx *stls = NULL, *ctls = NULL;
  rudp_event_settings st;
  struct sockaddr_storage ss;
  socklen_t len;
  struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
  pthread_t ts, tc;
  tally base[2][NSIDES], open_[2][NSIDES], after[2][NSIDES];
  int64_t rss0, rss1, pre[2][NSIDES];
  double hs_secs;
  rudp_endpoint_stats sst;
  mem_figs mf;
  int64_t ossl_lib;

#ifdef HAVE_OPENSSL
  /* Before any other OpenSSL call, or OpenSSL refuses. */
  if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free)) {
    die("CRYPTO_set_mem_functions refused (OpenSSL already allocated)");
  }
#endif
  for (i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "-m") && i + 1 < argc) {
      m = (size_t)strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-i") && i + 1 < argc) {
      inflight = (size_t)strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
      suite_arg = argv[++i];
    } else if (!strcmp(argv[i], "-q") && i + 1 < argc) {
      quiet_ms = (unsigned)strtoul(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-J")) {
      json = 1;
    } else if (!strcmp(argv[i], "-v")) {
      verbose = 1;
    } else {
      fprintf(stderr, "usage: rudp_bench_idle [-m CONNECTIONS] [-i INFLIGHT] "
                      "[-t none|aes128|chacha20] [-q QUIET_MS] [-J] [-v]\n");
      return 2;
    }
  }
  if (m == 0 || m > 1000000 || inflight == 0 || inflight > 10000 ||
      quiet_ms > 60000) {
    fprintf(stderr, "rudp_bench_idle: bad -m (1-10^6), -i (1-10^4) or -q "
                    "(0-60000)\n");
    return 2;
  }
  if (!strcmp(suite_arg, "aes128")) {
    suite = "TLS_AES_128_GCM_SHA256";
  } else if (!strcmp(suite_arg, "chacha20")) {
    suite = "TLS_CHACHA20_POLY1305_SHA256";
  } else if (strcmp(suite_arg, "none") != 0) {
    fprintf(stderr, "rudp_bench_idle: -t: expected none, aes128 or "
                    "chacha20\n");
    return 2;
  }
  if (suite) {
    if (!rudp_tls_available()) {
      die("-t %s: librudp was built without TLS", suite_arg);
    }
    stls = tls_ctx(suite, 1);
    ctls = tls_ctx(suite, 0);
  }
  ossl_lib = snap(OSSL, OTHER).bytes;

  /* The in-memory figures first (the same settings as the run). */
  settings(&st, 1, m, inflight, stls);
  measure_in_memory(&mf, &st, stls, ctls, m < 256 ? m : 256);
  for (i = 0; i < 2; ++i) {
    for (s = 0; s < NSIDES; ++s) {
      pre[i][s] = snap(i, s).bytes;
    }
  }

  memset(&I, 0, sizeof(I));
  I.total = m;
  I.inflight = inflight;
  I.sbase = event_base_new();
  I.cbase = event_base_new();
  if (!I.sbase || !I.cbase) {
    die("event_base_new failed");
  }
  memset(&ss, 0, sizeof(ss));
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  len = sizeof(*sin);
  {
    rudp_callbacks scb, ccb;
    rudp_endpoint_callbacks sepcb = {NULL, srv_accept_ready, NULL};
    memset(&scb, 0, sizeof(scb));
    scb.closed = srv_closed;
    memset(&ccb, 0, sizeof(ccb));
    ccb.handshake_completed = cli_handshake;
    ccb.closed = cli_closed;
    settings(&st, 1, m, inflight, stls);
    rv = rudp_event_endpoint_new(&I.sev, I.sbase, (struct sockaddr *)&ss, len,
                                 &st, &sepcb, &scb, NULL);
    if (rv != 0) {
      die("server endpoint: %s", rudp_strerror(rv));
    }
    settings(&st, 0, m, inflight, ctls);
    rv = rudp_event_endpoint_new(&I.cev, I.cbase, (struct sockaddr *)&ss, len,
                                 &st, NULL, &ccb, NULL);
    if (rv != 0) {
      die("client endpoint: %s", rudp_strerror(rv));
    }
  }
  if (rudp_event_local_addr(I.sev, &I.to, &I.tolen) != 0) {
    die("getsockname failed");
  }

  for (i = 0; i < 2; ++i) {
    for (s = 0; s < NSIDES; ++s) {
      base[i][s] = snap(i, s);
    }
  }
  rss0 = rss_bytes();
  if (pthread_create(&ts, NULL, srv_main, NULL) != 0 ||
      pthread_create(&tc, NULL, cli_main, NULL) != 0) {
    die("pthread_create failed");
  }
  {
    rudp_tstamp t0 = rudp_event_now(), limit = t0 + LIMIT;
    while (rudp_event_now() < limit &&
           (__atomic_load_n(&I.completed, __ATOMIC_ACQUIRE) < m ||
            __atomic_load_n(&I.accepted, __ATOMIC_ACQUIRE) < m) &&
           __atomic_load_n(&I.failed, __ATOMIC_ACQUIRE) == 0) {
      usleep(10000);
    }
    hs_secs = (double)(rudp_event_now() - t0) / 1e9;
  }
  if (I.completed < m || I.accepted < m || I.failed) {
    die("%zu of %zu handshakes completed, %zu accepted, %zu failed (%s) "
        "within %d s",
        I.completed, m, I.accepted, I.failed, rudp_strerror(I.err),
        (int)(LIMIT / SEC));
  }
  /* Idle: let the handshakes' last ACKs and timers run out. */
  usleep(quiet_ms * 1000u);
  for (i = 0; i < 2; ++i) {
    for (s = 0; s < NSIDES; ++s) {
      open_[i][s] = snap(i, s);
    }
  }
  rss1 = rss_bytes();
  if (I.failed) {
    die("%zu connections closed while idle (%s)", I.failed,
        rudp_strerror(I.err));
  }
  store(&I.stop, 1);
  pthread_join(ts, NULL);
  pthread_join(tc, NULL);
  rudp_endpoint_get_stats(rudp_event_endpoint_get_endpoint(I.sev), &sst);
  if (sst.connections != m) {
    die("the server holds %" PRIu64 " connections, not %zu", sst.connections,
        m);
  }
  rudp_event_endpoint_free(I.cev);
  rudp_event_endpoint_free(I.sev);
  for (i = 0; i < 2; ++i) {
    for (s = 0; s < NSIDES; ++s) {
      after[i][s] = snap(i, s);
    }
  }
  if (after[RUDP][SERVER].bytes != 0 || after[RUDP][CLIENT].bytes != 0) {
    fprintf(stderr,
            "rudp_bench_idle: warning: %" PRId64 " bytes of librudp heap "
            "still allocated after the endpoints were freed\n",
            after[RUDP][SERVER].bytes + after[RUDP][CLIENT].bytes);
  }

  if (json) {
    printf("{\"bench\":\"idle\",\"tls\":\"%s\",\"connections\":%zu,"
           "\"handshake_seconds\":%.3f,\"quiet_ms\":%u",
           suite ? suite : "none", m, hs_secs, quiet_ms);
  } else {
    printf("rudp_bench_idle: %zu idle connections over 127.0.0.1 (TLS %s), "
           "handshakes took %.2f s; heap per connection after %u ms idle\n",
           m, suite ? suite : "none", hs_secs, quiet_ms);
    printf("%-8s %12s %12s %12s %12s %14s\n", "side", "librudp B", "OpenSSL B",
           "total B", "usable B", "blocks/conn");
  }
  for (s = 0; s < 2; ++s) {
    double d = (double)m;
    double rb = (double)(open_[RUDP][s].bytes - base[RUDP][s].bytes) / d;
    double ob = (double)(open_[OSSL][s].bytes - base[OSSL][s].bytes) / d;
    double ru = (double)(open_[RUDP][s].usable - base[RUDP][s].usable) / d;
    double ou = (double)(open_[OSSL][s].usable - base[OSSL][s].usable) / d;
    double bl = (double)(open_[RUDP][s].blocks - base[RUDP][s].blocks +
                         open_[OSSL][s].blocks - base[OSSL][s].blocks) /
                d;
    if (json) {
      printf(",\"%s_rudp_bytes_per_conn\":%.1f,\"%s_openssl_bytes_per_conn\":"
             "%.1f,\"%s_bytes_per_conn\":%.1f,\"%s_usable_bytes_per_conn\":"
             "%.1f,\"%s_blocks_per_conn\":%.2f",
             side_name[s], rb, side_name[s], ob, side_name[s], rb + ob,
             side_name[s], ru + ou, side_name[s], bl);
    } else {
      printf("%-8s %12.0f %12.0f %12.0f %12.0f %14.2f\n", side_name[s], rb, ob,
             rb + ob, ru + ou, bl);
    }
  }
  if (json) {
    printf(",\"openssl_other_bytes\":%" PRId64
           ",\"rss_bytes_per_conn_pair\":%.0f,\"rudp_bytes_leaked\":%" PRId64,
           open_[OSSL][OTHER].bytes - base[OSSL][OTHER].bytes,
           (double)(rss1 - rss0) / (double)m,
           after[RUDP][SERVER].bytes + after[RUDP][CLIENT].bytes);
    for (s = 0; s < 2; ++s) {
      printf(",\"%s_endpoint_bytes\":%" PRId64
             ",\"%s_endpoint_core_bytes\":%" PRId64,
             side_name[s], base[RUDP][s].bytes - pre[RUDP][s], side_name[s],
             mf.ep_rudp[s] + mf.ep_ossl[s]);
    }
    printf(
        ",\"openssl_library_bytes\":%" PRId64 ",\"half_open_connections\":"
        "%zu,\"half_open_rudp_bytes_per_conn\":%.1f,"
        "\"half_open_openssl_bytes_per_conn\":%.1f,"
        "\"half_open_bytes_per_conn\":%.1f,\"full_send_bytes\":%" PRId64
        ",\"full_send_buffered\":%" PRIu64 ",\"full_datagrams_queued\":%" PRIu64
        ",\"full_datagram_bytes_queued\":%" PRIu64
        ",\"full_recv_bytes\":%" PRId64 ",\"full_recv_stream_bytes\":%" PRIu64
        ",\"open_streams\":%zu,\"open_stream_bytes\":%.1f,"
        "\"open_stream_first_lost_bytes\":%.1f}\n",
        ossl_lib, mf.nhalf, mf.half_rudp, mf.half_ossl,
        mf.half_rudp + mf.half_ossl, mf.full_send, mf.full_send_buffered,
        mf.full_dgrams_queued, mf.full_dgram_bytes_queued, mf.full_recv,
        mf.full_recv_bytes, mf.nstreams, mf.stream_in_order,
        mf.stream_first_lost);
  } else {
    printf("process RSS growth: %.0f bytes per connection pair (both sides, "
           "allocator overhead included)\n",
           (double)(rss1 - rss0) / (double)m);
    printf("endpoint, no connection: server %" PRId64 " B, client %" PRId64
           " B with the binding (its socket buffers); the core endpoint "
           "alone %" PRId64 " B and %" PRId64 " B\n",
           base[RUDP][SERVER].bytes - pre[RUDP][SERVER],
           base[RUDP][CLIENT].bytes - pre[RUDP][CLIENT],
           mf.ep_rudp[SERVER] + mf.ep_ossl[SERVER],
           mf.ep_rudp[CLIENT] + mf.ep_ossl[CLIENT]);
    if (suite) {
      printf("OpenSSL's own state and the two TLS contexts: %" PRId64
             " B, once per process\n",
             ossl_lib);
    }
    printf("half-open connection on the server (in memory: %zu CONNECTs "
           "answered, the answers lost): %.0f B (librudp %.0f, OpenSSL "
           "%.0f)\n",
           mf.nhalf, mf.half_rudp + mf.half_ossl, mf.half_rudp, mf.half_ossl);
    printf(
        "one connection, full buffers (in memory): the sender grew by %" PRId64
        " B (send_buffered %" PRIu64 ", datagrams_queued %" PRIu64
        ", datagram_bytes_queued %" PRIu64 "); the receiver, not reading, "
        "by %" PRId64 " B (%" PRIu64 " stream bytes held)\n",
        mf.full_send, mf.full_send_buffered, mf.full_dgrams_queued,
        mf.full_dgram_bytes_queued, mf.full_recv, mf.full_recv_bytes);
    printf("a stream left open after the receiver read its initial window "
           "(in memory, %zu streams): %.0f B each in order, %.0f B each when "
           "its first packet was lost (reorder rings, released once drained "
           "beyond twice the connection window)\n",
           mf.nstreams, mf.stream_in_order, mf.stream_first_lost);
  }
  if (verbose && !json) {
    for (s = 0; s < 2; ++s) {
      char what[64];
      snprintf(what, sizeof(what), "%s, librudp", side_name[s]);
      print_buckets(what, &base[RUDP][s], &open_[RUDP][s], m);
      if (suite) {
        snprintf(what, sizeof(what), "%s, OpenSSL", side_name[s]);
        print_buckets(what, &base[OSSL][s], &open_[OSSL][s], m);
      }
    }
  }
  rudp_tls_ctx_free(stls);
  rudp_tls_ctx_free(ctls);
  event_base_free(I.sbase);
  event_base_free(I.cbase);
  return 0;
}
