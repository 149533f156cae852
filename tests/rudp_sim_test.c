/*
 * Property tests over real connections (lib/rudp_conn.c) on the simulated
 * network of tests/sim/ (DESIGN.md section 6, after quicly's t/lossy.c and
 * KCP's LatencySimulator).
 *
 * A scenario is a client and a server joined by two impaired links.  Each
 * side opens streams (bidirectional and unidirectional mixed) and writes
 * deterministic content derived from (seed, stream, offset), so the reader
 * verifies every byte without anyone storing it; on bidirectional streams
 * the peer either echoes what it reads or answers with its own content.
 * Both sides may also exchange unreliable datagrams whose content is
 * likewise derived from the seed.  When every byte arrived both ways the
 * client closes gracefully.  A scenario passes when:
 *
 *   - every byte of every stream direction is delivered exactly once, in
 *     order, followed by its FIN at the right offset;
 *   - no datagram is delivered corrupted or twice; no corrupted packet is
 *     accepted; no datagram exceeds the sizes both sides allow;
 *   - the API keeps its word: WOULDBLOCK is followed by stream_writable,
 *     STREAM_LIMIT by streams_available, data by stream_readable (the
 *     application never polls, so a missing callback stalls the scenario);
 *   - the client ends CLOSED with error 0, the server CLOSED with error 0
 *     (or, only if none of the client's closing packets reached it intact,
 *     after its idle timeout), every stream freed on the client, and both
 *     connections free every allocation (counted per connection);
 *   - every STREAM frame either side writes (decoded on the wire) carries
 *     exactly the stream's bytes at its offset, nothing the application
 *     has not written, a FIN only at the real end, and stays within the
 *     flow-control credit the peer had sent by then (DESIGN.md: "windows
 *     respected");
 *   - the run ends by itself, within bounded virtual time and events, and
 *     no timer stays due (a busy loop in a real event loop).
 *
 * Besides the random scenarios there are named ones (clean, lossy, bursty,
 * reordered, duplicated and corrupted paths, tiny windows, many streams, a
 * bottleneck, datagrams) and deterministic fault-injection ones: every
 * pattern of losses among the first five datagrams each way, a path that
 * never carries a CONNECT (the handshake timeout), a path that dies
 * mid-transfer (idle timeout), keepalives under loss, deep reordering,
 * and streams opened before the handshake.
 *
 * Replaying: a failing random scenario prints its seed;
 * `RUDP_SIM_SEED=1234 ./tests/rudp_sim_test` runs just that scenario with a
 * trace of every packet and event on stderr.  RUDP_SIM_SEEDS=N and
 * RUDP_SIM_SEED_BASE=B run N random scenarios from seed B (default 1000
 * from 1); RUDP_SIM_NAMED=name replays a named scenario with a trace.
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
#include <rudp/rudp_tls.h>

#include "rudp_frame.h"
#include "rudp_pkt.h"
#include "sim/rudp_sim.h"
#include "rudp_test_helper.h"

#define MS RUDP_MILLISECONDS
#define KB 1024u

enum { CLIENT = 0, SERVER = 1 };

/* SIM_ERR_VIOLATION stops a run once a property failed. */
#define SIM_ERR_VIOLATION (-9000)
/* TAG_CLOSING marks datagrams the client wrote in the CLOSING state. */
#define TAG_CLOSING 1u
/* ECHO_WINDOW bounds what an echoing side reads ahead of what it has
 * echoed, so a slow echo pushes back through flow control. */
#define ECHO_WINDOW (64 * KB)
/* IO_BUFLEN bounds one read or write call. */
#define IO_BUFLEN 65536
/* The datagram payload header: sequence (4) and length (2). */
#define DGRAM_HDLEN 6

/* ------------------------------------------------------------ content */

/* mix64 is splitmix64's finalizer: a bijection with good avalanche. */
static uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/* gen_content writes the |len| bytes at offset |off| of the byte sequence
 * named by |key|: byte i is byte (i % 8) of mix64(key ^ f(i / 8)). */
static void gen_content(uint64_t key, uint64_t off, uint8_t *out, size_t len) {
  uint64_t block = off >> 3, w;
  unsigned within = (unsigned)(off & 7);

  while (len > 0) {
    w = mix64(key ^ (block * 0x9e3779b97f4a7c15ULL));
    w >>= 8 * within;
    for (; within < 8 && len > 0; ++within, --len) {
      *out++ = (uint8_t)w;
      w >>= 8;
    }
    within = 0;
    ++block;
  }
}

/* ------------------------------------------------------------ allocator */

/* sim_mem counts one connection's live allocations. */
typedef struct sim_mem {
  rudp_mem mem;
  int64_t live;
  uint64_t total;
} sim_mem;

static void *sm_malloc(size_t size, void *user_data) {
  sim_mem *m = user_data;
  void *p = malloc(size);
  if (p) {
    ++m->live;
    ++m->total;
  }
  return p;
}

static void sm_free(void *ptr, void *user_data) {
  sim_mem *m = user_data;
  if (ptr) {
    --m->live;
    free(ptr);
  }
}

static void *sm_calloc(size_t nmemb, size_t size, void *user_data) {
  sim_mem *m = user_data;
  void *p = calloc(nmemb, size);
  if (p) {
    ++m->live;
    ++m->total;
  }
  return p;
}

static void *sm_realloc(void *ptr, size_t size, void *user_data) {
  sim_mem *m = user_data;
  void *p = realloc(ptr, size);
  if (!ptr && p) {
    ++m->live;
    ++m->total;
  } else if (ptr && !p && size == 0) {
    --m->live;
  }
  return p;
}

/* ------------------------------------------------------------ scenario */

/* scn_cfg describes a scenario completely; everything else derives from
 * it deterministically. */
typedef struct scn_cfg {
  /* name is printed in reports (named scenarios). */
  const char *name;
  /* seed drives the traffic plan, connection IDs and links. */
  uint64_t seed;
  /* link[0] carries client -> server, link[1] server -> client. */
  rudp_sim_link_params link[2];
  /* settings of each side. */
  rudp_settings settings[2];
  /* nstreams: streams each side opens; bytes: the bytes they carry
   * forward in total (split at random among them). */
  size_t nstreams[2];
  uint64_t bytes[2];
  /* bidi_ppm: share of bidirectional streams; echo_ppm: share of those the
   * peer echoes (the others it answers with up to back_max bytes of its
   * own). */
  uint32_t bidi_ppm;
  uint32_t echo_ppm;
  uint64_t back_max;
  /* ndgrams: unreliable datagrams each side sends, one every
   * dgram_interval, of 6 to dgram_max bytes. */
  size_t ndgrams[2];
  size_t dgram_max;
  rudp_duration dgram_interval;
  /* write_chunk and read_chunk bound one stream write or read call. */
  size_t write_chunk;
  size_t read_chunk;
  /* in_callbacks makes the application read and write from inside the
   * readable and writable callbacks; otherwise it does so from its loop. */
  int in_callbacks;
  /* slow_reader[side]: if nonzero, that side reads at most this many
   * bytes per millisecond (a budget refilled every ms, capped at 10 ms
   * worth), so its receive windows fill and the peer must wait for
   * credit. */
  size_t slow_reader[2];
  /* strict_limits: after STREAM_LIMIT the application waits for
   * streams_available only, as rudp.h documents; otherwise it also retries
   * when the handshake completes. */
  int strict_limits;
  /* start is the virtual time the scenario starts at. */
  rudp_tstamp start;
  /* max_time (relative to start) and max_events bound the run. */
  rudp_duration max_time;
  uint64_t max_events;
  /* expect_clean: the links are perfect, so nothing may be lost or
   * retransmitted and every datagram must arrive. */
  int expect_clean;
  /* expect is how the scenario must end. */
  enum {
    /* Everything delivered, then a clean close (the default). */
    EXPECT_CLOSE = 0,
    /* The path dies (an outage): both sides end silently with
     * RUDP_ERR_IDLE_CLOSE, within max_time. */
    EXPECT_IDLE,
    /* No CONNECT gets through: the client ends with
     * RUDP_ERR_HANDSHAKE_TIMEOUT and no server connection exists. */
    EXPECT_HANDSHAKE_TIMEOUT
  } expect;
} scn_cfg;

/* sdir is one direction of one stream. */
typedef struct sdir {
  /* len is how many bytes the writer sends before FIN. */
  uint64_t len;
  /* key names the content (see gen_content). */
  uint64_t key;
  /* written: bytes the connection took; read: bytes read and verified. */
  uint64_t written;
  uint64_t read;
  uint8_t fin_written;
  uint8_t fin_read;
  /* blocked: a write returned WOULDBLOCK; cleared by stream_writable. */
  uint8_t blocked;
  /* readable: stream_readable said so; cleared by a WOULDBLOCK read. */
  uint8_t readable;
  /* Seen on the wire: sent_end is the highest end offset of the writer's
   * STREAM frames, credit the highest MAX_STREAM_DATA the reader wrote. */
  uint64_t sent_end;
  uint64_t credit;
} sdir;

/* sstream is the omniscient record of one stream, shared by both sides. */
typedef struct sstream {
  /* sid is the stream ID (-1 until opened). */
  int64_t sid;
  /* opener is CLIENT or SERVER. */
  uint8_t opener;
  uint8_t bidi;
  /* echo: the peer sends d[0] back on d[1]. */
  uint8_t echo;
  /* peer_seen: the peer's stream_opened arrived. */
  uint8_t peer_seen;
  /* closed[side]: that side's stream_closed arrived. */
  uint8_t closed[2];
  /* d[0]: opener -> peer; d[1]: peer -> opener (bidirectional only). */
  sdir d[2];
} sstream;

struct scn;

/* side is one endpoint's application. */
typedef struct side {
  struct scn *scn;
  int idx;
  rudp_conn *conn;
  sim_mem mem;
  /* plan lists the indices (into scn->streams) this side opens, in order;
   * next_open is the next to open. */
  size_t *plan;
  size_t nplan;
  size_t next_open;
  /* limit_blocked[0 bidi, 1 uni]: open returned STREAM_LIMIT. */
  int limit_blocked[2];
  int handshake_done;
  int close_called;
  int closed_calls;
  int closed_error;
  /* Datagrams: planned, sent (queued), received (verified). */
  uint64_t dg_planned;
  uint64_t dg_sent;
  uint64_t dg_recv;
  uint8_t *dg_seen;
  rudp_tstamp dg_next;
  /* wrote_*: datagrams this side's connection produced; fed: datagrams
   * given to its read_pkt. */
  uint64_t wrote_pkts;
  uint64_t wrote_bytes;
  uint64_t fed_pkts;
  /* in_pump guards against re-entering the application loop from a
   * callback; dirty asks the loop for another pass. */
  int in_pump;
  int dirty;
  rudp_conn_state last_state;
  /* streams_open_at_closing: client streams not yet freed when the
   * client entered CLOSING. */
  uint64_t streams_open_at_closing;
  /* Seen on the wire: sent_sum is the sum of this side's sent_end over
   * its stream directions, conn_credit the highest MAX_DATA the peer
   * wrote. */
  uint64_t sent_sum;
  uint64_t conn_credit;
  /* read_budget and budget_at: the slow reader's allowance and when it
   * was last refilled; starved: a read stopped for lack of budget. */
  uint64_t read_budget;
  rudp_tstamp budget_at;
  int starved;
  /* last_pn is the full number of the last packet this side wrote
   * (UINT64_MAX: none), to expand the next one for its CRC check. */
  uint64_t last_pn;
} side;

typedef struct scn {
  const scn_cfg *cfg;
  sstream *streams;
  size_t nstreams;
  /* Open-addressing map from stream ID to index in |streams|. */
  int64_t *hkeys;
  size_t *hvals;
  size_t hcap;
  side sides[2];
  rudp_sim_net *net;
  FILE *trace;
  rudp_test_rng rng;
  rudp_settings settings[2];
  rudp_callbacks callbacks;
  /* dirs_total / dirs_done: stream directions / those whose FIN was read
   * after all their bytes. */
  uint64_t dirs_total;
  uint64_t dirs_done;
  /* close_seen_intact: a datagram the client wrote while CLOSING reached
   * the open server uncorrupted. */
  int close_seen_intact;
  /* server_discarded: datagrams that reached the server before it had a
   * connection and were not an intact CONNECT. */
  uint64_t server_discarded;
  rudp_tstamp now;
  int failed;
  char err[768];
  uint8_t rbuf[IO_BUFLEN];
  uint8_t vbuf[IO_BUFLEN];
  uint8_t wbuf[IO_BUFLEN];
} scn;

static const char *const side_name[2] = {"client", "server"};

static const char *state_name(rudp_conn_state st) {
  switch (st) {
  case RUDP_CONN_STATE_CONNECT_SENT:
    return "CONNECT_SENT";
  case RUDP_CONN_STATE_ACCEPT_SENT:
    return "ACCEPT_SENT";
  case RUDP_CONN_STATE_ESTABLISHED:
    return "ESTABLISHED";
  case RUDP_CONN_STATE_LINGER:
    return "LINGER";
  case RUDP_CONN_STATE_CLOSING:
    return "CLOSING";
  case RUDP_CONN_STATE_DRAINING:
    return "DRAINING";
  case RUDP_CONN_STATE_CLOSED:
    return "CLOSED";
  }
  return "?";
}

#if defined(__GNUC__)
#  define SIM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define SIM_PRINTF(a, b)
#endif

/* violation records the first broken property (with the time). */
static void violation(scn *s, const char *fmt, ...) SIM_PRINTF(2, 3);
static void violation(scn *s, const char *fmt, ...) {
  va_list ap;
  char tbuf[32];
  int n;

  if (s->failed) {
    return;
  }
  s->failed = 1;
  n = snprintf(s->err, sizeof(s->err),
               "t=%s: ", rudp_sim_fmt_time(tbuf, s->now));
  va_start(ap, fmt);
  vsnprintf(s->err + n, sizeof(s->err) - (size_t)n, fmt, ap);
  va_end(ap);
  if (s->trace) {
    fprintf(s->trace, "VIOLATION %s\n", s->err);
  }
}

static void tracef(scn *s, const char *fmt, ...) SIM_PRINTF(2, 3);
static void tracef(scn *s, const char *fmt, ...) {
  va_list ap;
  char tbuf[32];

  if (!s->trace) {
    return;
  }
  fprintf(s->trace, "%s ", rudp_sim_fmt_time(tbuf, s->now));
  va_start(ap, fmt);
  vfprintf(s->trace, fmt, ap);
  va_end(ap);
  fputc('\n', s->trace);
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* ------------------------------------------------------------ stream map */

static size_t hslot(const scn *s, int64_t sid) {
  return (size_t)mix64((uint64_t)sid) & (s->hcap - 1);
}

static void map_put(scn *s, int64_t sid, size_t idx) {
  size_t i = hslot(s, sid);
  while (s->hkeys[i] != -1) {
    i = (i + 1) & (s->hcap - 1);
  }
  s->hkeys[i] = sid;
  s->hvals[i] = idx;
}

static sstream *map_get(scn *s, int64_t sid) {
  size_t i = hslot(s, sid);
  while (s->hkeys[i] != -1) {
    if (s->hkeys[i] == sid) {
      return &s->streams[s->hvals[i]];
    }
    i = (i + 1) & (s->hcap - 1);
  }
  return NULL;
}

/* writer_of and reader_of: who writes / reads direction |k| of |st|. */
static int writer_of(const sstream *st, int k) {
  return k == 0 ? st->opener : 1 - st->opener;
}

static int reader_of(const sstream *st, int k) { return 1 - writer_of(st, k); }

/* ------------------------------------------------------------ app: I/O */

/* app_write writes what direction |k| of |st| may send now. */
static void app_write(side *sd, sstream *st, int k) {
  scn *s = sd->scn;
  sdir *d = &st->d[k];
  uint64_t limit = d->len;
  int finish = 1, fin;
  size_t n;
  rudp_ssize rv;

  if (d->fin_written || d->blocked) {
    return;
  }
  if (st->echo && k == 1) {
    /* An echo sends only what it has read, and FIN after the peer's. */
    limit = st->d[0].read;
    finish = st->d[0].fin_read;
  }
  for (;;) {
    n = (size_t)(limit - d->written);
    if (n > s->cfg->write_chunk) {
      n = s->cfg->write_chunk;
    }
    fin = finish && d->written + n == d->len;
    if (n == 0 && !fin) {
      return;
    }
    gen_content(d->key, d->written, s->wbuf, n);
    rv = rudp_conn_stream_write(sd->conn, st->sid, n ? s->wbuf : NULL, n, fin);
    if (rv == RUDP_ERR_WOULDBLOCK) {
      d->blocked = 1;
      return;
    }
    if (rv < 0) {
      violation(s,
                "%s: stream_write(stream %" PRId64 ", %zu bytes at %" PRIu64
                ", fin %d) = %d (%s)",
                side_name[sd->idx], st->sid, n, d->written, fin, (int)rv,
                rudp_strerror((int)rv));
      return;
    }
    if ((size_t)rv > n || (rv == 0 && n > 0)) {
      violation(s, "%s: stream_write(stream %" PRId64 ", %zu) returned %d",
                side_name[sd->idx], st->sid, n, (int)rv);
      return;
    }
    d->written += (uint64_t)rv;
    if (fin && (size_t)rv == n) {
      d->fin_written = 1;
      tracef(s, "%s: stream %" PRId64 " FIN written after %" PRIu64 " bytes",
             side_name[sd->idx], st->sid, d->written);
      return;
    }
  }
}

/* app_read reads and verifies direction |k| of |st| while readable. */
static void app_read(side *sd, sstream *st, int k) {
  scn *s = sd->scn;
  sdir *d = &st->d[k];
  size_t maxn;
  uint64_t ahead;
  rudp_ssize rv;
  size_t i;
  int fin;

  while (d->readable && !d->fin_read && !s->failed) {
    maxn = s->cfg->read_chunk;
    if (s->cfg->slow_reader[sd->idx]) {
      if (sd->read_budget == 0) {
        sd->starved = 1; /* readable stays set; the budget timer resumes */
        return;
      }
      if (maxn > sd->read_budget) {
        maxn = (size_t)sd->read_budget;
      }
    }
    if (st->echo && k == 0) {
      ahead = d->read - st->d[1].written;
      if (ahead >= ECHO_WINDOW) {
        return; /* echo first; readable stays set */
      }
      if (maxn > ECHO_WINDOW - ahead) {
        maxn = (size_t)(ECHO_WINDOW - ahead);
      }
    }
    fin = 0;
    rv = rudp_conn_stream_read(sd->conn, st->sid, s->rbuf, maxn, &fin);
    if (rv == RUDP_ERR_WOULDBLOCK) {
      d->readable = 0;
      return;
    }
    if (rv < 0) {
      violation(s, "%s: stream_read(stream %" PRId64 ") = %d (%s)",
                side_name[sd->idx], st->sid, (int)rv, rudp_strerror((int)rv));
      return;
    }
    if ((size_t)rv > maxn) {
      violation(s, "%s: stream_read returned %d for a %zu-byte buffer",
                side_name[sd->idx], (int)rv, maxn);
      return;
    }
    if (d->read + (uint64_t)rv > d->len) {
      violation(s,
                "%s: stream %" PRId64 " delivered %" PRIu64
                " bytes, more than the %" PRIu64 " sent",
                side_name[sd->idx], st->sid, d->read + (uint64_t)rv, d->len);
      return;
    }
    gen_content(d->key, d->read, s->vbuf, (size_t)rv);
    if (memcmp(s->vbuf, s->rbuf, (size_t)rv) != 0) {
      for (i = 0; s->vbuf[i] == s->rbuf[i]; ++i)
        ;
      violation(
          s,
          "%s: stream %" PRId64 " byte %" PRIu64 " is 0x%02x, expected 0x%02x",
          side_name[sd->idx], st->sid, d->read + i, s->rbuf[i], s->vbuf[i]);
      return;
    }
    d->read += (uint64_t)rv;
    if (s->cfg->slow_reader[sd->idx]) {
      sd->read_budget -= (uint64_t)rv;
    }
    if (fin) {
      if (d->read != d->len) {
        violation(s,
                  "%s: stream %" PRId64 " ended after %" PRIu64
                  " bytes, %" PRIu64 " were sent",
                  side_name[sd->idx], st->sid, d->read, d->len);
        return;
      }
      d->fin_read = 1;
      ++s->dirs_done;
      tracef(s, "%s: stream %" PRId64 " FIN read after %" PRIu64 " bytes",
             side_name[sd->idx], st->sid, d->read);
      /* The echo can finish now. */
      if (st->echo && k == 0) {
        sd->dirty = 1;
      }
      return;
    }
    if (rv == 0) {
      violation(s, "%s: stream_read(stream %" PRId64 ") returned 0 without FIN",
                side_name[sd->idx], st->sid);
      return;
    }
    if (st->echo && k == 0) {
      sd->dirty = 1; /* more to echo */
    }
  }
}

/* app_open opens this side's planned streams while allowed. */
static void app_open(side *sd) {
  scn *s = sd->scn;
  sstream *st;
  int64_t sid;
  int rv, kind;

  while (sd->next_open < sd->nplan && !s->failed) {
    st = &s->streams[sd->plan[sd->next_open]];
    kind = st->bidi ? 0 : 1;
    if (sd->limit_blocked[kind]) {
      return;
    }
    rv = rudp_conn_open_stream(sd->conn, st->bidi, &sid);
    if (rv == RUDP_ERR_STREAM_LIMIT) {
      sd->limit_blocked[kind] = 1;
      tracef(s, "%s: open_stream(%s) = STREAM_LIMIT", side_name[sd->idx],
             st->bidi ? "bidi" : "uni");
      return;
    }
    if (rv != 0) {
      violation(s, "%s: open_stream(%s) = %d (%s)", side_name[sd->idx],
                st->bidi ? "bidi" : "uni", rv, rudp_strerror(rv));
      return;
    }
    if (sid < 0 || map_get(s, sid) != NULL ||
        (int)(sid & 1) != (sd->idx == SERVER) ||
        (int)((sid >> 1) & 1) != !st->bidi) {
      violation(s, "%s: open_stream(%s) gave bad or reused stream ID %" PRId64,
                side_name[sd->idx], st->bidi ? "bidi" : "uni", sid);
      return;
    }
    st->sid = sid;
    map_put(s, sid, sd->plan[sd->next_open]);
    ++sd->next_open;
    tracef(s,
           "%s: opened stream %" PRId64 " (%s%s, %" PRIu64
           " bytes out, %" PRIu64 " back)",
           side_name[sd->idx], sid, st->bidi ? "bidi" : "uni",
           st->echo ? " echo" : "", st->d[0].len, st->bidi ? st->d[1].len : 0);
  }
}

/* dgram_len_of is the length of datagram |seq| of side |idx|. */
static size_t dgram_len_of(const scn *s, int idx, uint64_t seq) {
  uint64_t r =
      mix64(s->cfg->seed ^ 0xd1b54a32d192ed03ULL ^ ((uint64_t)idx << 40) ^ seq);
  return DGRAM_HDLEN + (size_t)(r % (s->cfg->dgram_max - DGRAM_HDLEN + 1));
}

static uint64_t dgram_key(const scn *s, int idx, uint64_t seq) {
  return mix64(s->cfg->seed ^ 0x2545f4914f6cdd1dULL ^ ((uint64_t)idx << 48) ^
               (seq << 1));
}

/* app_datagrams queues the datagrams due at |now|. */
static void app_datagrams(side *sd, rudp_tstamp now) {
  scn *s = sd->scn;
  size_t len;
  int rv;

  while (sd->handshake_done && sd->dg_sent < sd->dg_planned &&
         now >= sd->dg_next &&
         rudp_conn_get_state(sd->conn) == RUDP_CONN_STATE_ESTABLISHED) {
    len = dgram_len_of(s, sd->idx, sd->dg_sent);
    s->wbuf[0] = (uint8_t)(sd->dg_sent >> 24);
    s->wbuf[1] = (uint8_t)(sd->dg_sent >> 16);
    s->wbuf[2] = (uint8_t)(sd->dg_sent >> 8);
    s->wbuf[3] = (uint8_t)sd->dg_sent;
    s->wbuf[4] = (uint8_t)(len >> 8);
    s->wbuf[5] = (uint8_t)len;
    gen_content(dgram_key(s, sd->idx, sd->dg_sent), 0, s->wbuf + DGRAM_HDLEN,
                len - DGRAM_HDLEN);
    rv = rudp_conn_send_datagram(sd->conn, s->wbuf, len);
    if (rv != 0) {
      violation(s, "%s: send_datagram(%zu bytes) = %d (%s)", side_name[sd->idx],
                len, rv, rudp_strerror(rv));
      return;
    }
    ++sd->dg_sent;
    sd->dg_next += s->cfg->dgram_interval;
  }
}

/* app_pump is the application's loop body: open, write, read, send
 * datagrams, until a pass changes nothing. */
static void app_pump(side *sd, rudp_tstamp now) {
  scn *s = sd->scn;
  sstream *st;
  size_t i;
  int k, passes = 0, can_write;

  if (sd->in_pump || sd->conn == NULL) {
    return;
  }
  sd->in_pump = 1;
  if (s->cfg->slow_reader[sd->idx] && now >= sd->budget_at + MS) {
    uint64_t cap = 10 * (uint64_t)s->cfg->slow_reader[sd->idx];
    uint64_t add = (now - sd->budget_at) / MS * s->cfg->slow_reader[sd->idx];
    sd->read_budget =
        add >= cap || sd->read_budget + add > cap ? cap : sd->read_budget + add;
    sd->budget_at = now - (now - sd->budget_at) % MS;
    sd->starved = 0;
  }
  do {
    sd->dirty = 0;
    can_write = !sd->close_called &&
                rudp_conn_get_state(sd->conn) <= RUDP_CONN_STATE_ESTABLISHED;
    if (can_write) {
      app_open(sd);
    }
    for (i = 0; i < s->nstreams && !s->failed; ++i) {
      st = &s->streams[i];
      /* A peer's stream exists for this side once stream_opened said so. */
      if (st->sid < 0 || (st->opener != sd->idx && !st->peer_seen)) {
        continue;
      }
      for (k = 0; k < 1 + st->bidi; ++k) {
        if (writer_of(st, k) == sd->idx) {
          if (can_write) {
            app_write(sd, st, k);
          }
        } else {
          app_read(sd, st, k);
        }
      }
    }
    app_datagrams(sd, now);
  } while (sd->dirty && !s->failed && ++passes < 1000);
  sd->in_pump = 0;
}

/* all_done: every planned stream opened and every direction finished,
 * every datagram queued: time for the client to close. */
static int all_done(const scn *s) {
  int i;
  for (i = 0; i < 2; ++i) {
    if (s->sides[i].next_open < s->sides[i].nplan ||
        s->sides[i].dg_sent < s->sides[i].dg_planned) {
      return 0;
    }
  }
  return s->dirs_done == s->dirs_total;
}

/* ------------------------------------------------------------ callbacks */

/* cb_lookup finds |sid| for a callback and checks that |sd| may see it. */
static sstream *cb_lookup(side *sd, int64_t sid, const char *cb) {
  sstream *st = map_get(sd->scn, sid);
  if (st == NULL) {
    violation(sd->scn, "%s: %s for unknown stream %" PRId64, side_name[sd->idx],
              cb, sid);
  }
  return st;
}

static int cb_handshake_completed(rudp_conn *conn, void *user_data) {
  side *sd = user_data;
  (void)conn;
  if (sd->handshake_done) {
    violation(sd->scn, "%s: handshake_completed called twice",
              side_name[sd->idx]);
  }
  sd->handshake_done = 1;
  sd->dg_next = sd->scn->now + sd->scn->cfg->dgram_interval;
  /* Streams refused before the peer's limits were known may open now
   * (unless the scenario holds the library to streams_available). */
  if (!sd->scn->cfg->strict_limits) {
    sd->limit_blocked[0] = sd->limit_blocked[1] = 0;
  }
  sd->dirty = 1;
  tracef(sd->scn, "%s: handshake completed", side_name[sd->idx]);
  return 0;
}

static int cb_stream_opened(rudp_conn *conn, int64_t sid, void *user_data) {
  side *sd = user_data;
  sstream *st = cb_lookup(sd, sid, "stream_opened");
  (void)conn;
  if (st == NULL) {
    return 0;
  }
  if (st->opener == sd->idx || st->peer_seen) {
    violation(sd->scn, "%s: stream_opened(%" PRId64 ") %s", side_name[sd->idx],
              sid, st->peer_seen ? "twice" : "for its own stream");
    return 0;
  }
  st->peer_seen = 1;
  sd->dirty = 1;
  return 0;
}

static int cb_stream_readable(rudp_conn *conn, int64_t sid, void *user_data) {
  side *sd = user_data;
  sstream *st = cb_lookup(sd, sid, "stream_readable");
  int k;
  (void)conn;
  if (st == NULL) {
    return 0;
  }
  k = st->opener == sd->idx ? 1 : 0;
  if (k == 1 && !st->bidi) {
    violation(sd->scn, "%s: stream_readable on its own uni stream %" PRId64,
              side_name[sd->idx], sid);
    return 0;
  }
  if (k == 0 && !st->peer_seen) {
    violation(sd->scn, "%s: stream_readable(%" PRId64 ") before stream_opened",
              side_name[sd->idx], sid);
    return 0;
  }
  if (st->d[k].fin_read) {
    return 0;
  }
  st->d[k].readable = 1;
  if (sd->scn->cfg->in_callbacks && !sd->in_pump) {
    app_read(sd, st, k);
  }
  sd->dirty = 1;
  return 0;
}

static int cb_stream_writable(rudp_conn *conn, int64_t sid, void *user_data) {
  side *sd = user_data;
  sstream *st = cb_lookup(sd, sid, "stream_writable");
  int k;
  (void)conn;
  if (st == NULL) {
    return 0;
  }
  k = st->opener == sd->idx ? 0 : 1;
  if (k == 1 && !st->bidi) {
    violation(sd->scn, "%s: stream_writable on the peer's uni stream %" PRId64,
              side_name[sd->idx], sid);
    return 0;
  }
  st->d[k].blocked = 0;
  if (sd->scn->cfg->in_callbacks && !sd->in_pump &&
      rudp_conn_get_state(sd->conn) <= RUDP_CONN_STATE_ESTABLISHED) {
    app_write(sd, st, k);
  }
  sd->dirty = 1;
  return 0;
}

static int cb_stream_reset(rudp_conn *conn, int64_t sid, uint64_t code,
                           void *user_data) {
  side *sd = user_data;
  (void)conn;
  violation(sd->scn, "%s: stream_reset(%" PRId64 ", %" PRIu64 ") unexpected",
            side_name[sd->idx], sid, code);
  return 0;
}

static int cb_stream_stop_sending(rudp_conn *conn, int64_t sid, uint64_t code,
                                  void *user_data) {
  side *sd = user_data;
  (void)conn;
  violation(sd->scn,
            "%s: stream_stop_sending(%" PRId64 ", %" PRIu64 ") unexpected",
            side_name[sd->idx], sid, code);
  return 0;
}

static int cb_stream_closed(rudp_conn *conn, int64_t sid, void *user_data) {
  side *sd = user_data;
  sstream *st = cb_lookup(sd, sid, "stream_closed");
  (void)conn;
  if (st == NULL) {
    return 0;
  }
  if (st->closed[sd->idx]) {
    violation(sd->scn, "%s: stream_closed(%" PRId64 ") twice",
              side_name[sd->idx], sid);
  }
  /* Completeness is checked when the scenario ends: the callback may run
   * inside the read that returns the FIN, before the application saw it. */
  st->closed[sd->idx] = 1;
  tracef(sd->scn, "%s: stream %" PRId64 " closed", side_name[sd->idx], sid);
  return 0;
}

static int cb_datagram_received(rudp_conn *conn, const uint8_t *data,
                                size_t len, void *user_data) {
  side *sd = user_data;
  side *peer = &sd->scn->sides[1 - sd->idx];
  scn *s = sd->scn;
  uint64_t seq;
  size_t hlen;
  (void)conn;

  if (len < DGRAM_HDLEN) {
    violation(s, "%s: datagram of %zu bytes received", side_name[sd->idx], len);
    return 0;
  }
  seq = ((uint64_t)data[0] << 24) | ((uint64_t)data[1] << 16) |
        ((uint64_t)data[2] << 8) | data[3];
  hlen = ((size_t)data[4] << 8) | data[5];
  if (seq >= peer->dg_sent || hlen != len ||
      len != dgram_len_of(s, peer->idx, seq)) {
    violation(s, "%s: bad datagram (seq %" PRIu64 ", len %zu/%zu)",
              side_name[sd->idx], seq, hlen, len);
    return 0;
  }
  gen_content(dgram_key(s, peer->idx, seq), 0, s->vbuf, len - DGRAM_HDLEN);
  if (memcmp(s->vbuf, data + DGRAM_HDLEN, len - DGRAM_HDLEN) != 0) {
    violation(s, "%s: datagram %" PRIu64 " corrupted", side_name[sd->idx], seq);
    return 0;
  }
  if (sd->dg_seen[seq]) {
    violation(s, "%s: datagram %" PRIu64 " delivered twice", side_name[sd->idx],
              seq);
    return 0;
  }
  sd->dg_seen[seq] = 1;
  ++sd->dg_recv;
  return 0;
}

static int cb_streams_available(rudp_conn *conn, int bidi, void *user_data) {
  side *sd = user_data;
  (void)conn;
  sd->limit_blocked[bidi ? 0 : 1] = 0;
  sd->dirty = 1;
  return 0;
}

static void cb_closed(rudp_conn *conn, int error, void *user_data) {
  side *sd = user_data;
  (void)conn;
  ++sd->closed_calls;
  sd->closed_error = error;
  tracef(sd->scn, "%s: closed callback, error %d", side_name[sd->idx], error);
}

/* ------------------------------------------------------------ wire */

/*
 * wire_stream checks one STREAM frame written by |sd|: its bytes are the
 * stream's content at that offset, it carries nothing the application has
 * not written, its FIN marks the real end, and it stays within the credit
 * the peer has sent so far (its transport parameters, then its
 * MAX_STREAM_DATA and MAX_DATA frames): the sender cannot know of credit
 * the receiver has not yet written, so this holds however the links
 * reorder, lose or delay.
 */
static void wire_stream(side *sd, const rudp_frame_stream *fr) {
  scn *s = sd->scn;
  const rudp_transport_params *pp = rudp_conn_get_peer_params(sd->conn);
  sstream *st = map_get(s, (int64_t)fr->stream_id);
  uint64_t end = fr->offset + fr->datalen, limit;
  sdir *d;
  int k;

  if (st == NULL) {
    violation(s, "%s: STREAM frame for unknown stream %" PRIu64,
              side_name[sd->idx], fr->stream_id);
    return;
  }
  k = st->opener == sd->idx ? 0 : 1;
  if (writer_of(st, k) != sd->idx || (k == 1 && !st->bidi)) {
    violation(s, "%s: STREAM frame on receive-only stream %" PRId64,
              side_name[sd->idx], st->sid);
    return;
  }
  d = &st->d[k];
  if (end > d->written || (fr->fin && (end != d->len || !d->fin_written))) {
    violation(s,
              "%s: STREAM frame %" PRId64 " @%" PRIu64 "+%zu%s, but the "
              "application wrote %" PRIu64 "%s of %" PRIu64,
              side_name[sd->idx], st->sid, fr->offset, fr->datalen,
              fr->fin ? " FIN" : "", d->written, d->fin_written ? "+FIN" : "",
              d->len);
    return;
  }
  gen_content(d->key, fr->offset, s->vbuf, fr->datalen);
  if (fr->datalen && memcmp(s->vbuf, fr->data, fr->datalen) != 0) {
    violation(s,
              "%s: STREAM frame %" PRId64 " @%" PRIu64 "+%zu carries the "
              "wrong bytes",
              side_name[sd->idx], st->sid, fr->offset, fr->datalen);
    return;
  }
  if (pp == NULL) {
    violation(s, "%s: stream data sent before the peer's parameters",
              side_name[sd->idx]);
    return;
  }
  /* Which initial credit applies (RFC 9000 section 18.2): the peer's
   * bidi_remote / uni for our streams, its bidi_local for its own. */
  limit = st->opener == sd->idx
              ? (st->bidi ? pp->initial_max_stream_data_bidi_remote
                          : pp->initial_max_stream_data_uni)
              : pp->initial_max_stream_data_bidi_local;
  if (d->credit > limit) {
    limit = d->credit;
  }
  if (end > limit) {
    violation(s,
              "%s: stream %" PRId64 " sent up to %" PRIu64
              ", beyond the %" PRIu64 " the peer allowed",
              side_name[sd->idx], st->sid, end, limit);
    return;
  }
  if (end > d->sent_end) {
    sd->sent_sum += end - d->sent_end;
    d->sent_end = end;
    limit = max_u64(pp->initial_max_data, sd->conn_credit);
    if (sd->sent_sum > limit) {
      violation(s,
                "%s: %" PRIu64 " stream bytes sent, beyond the connection "
                "credit of %" PRIu64,
                side_name[sd->idx], sd->sent_sum, limit);
    }
  }
}

/* wire_check decodes the datagram |sd| just wrote and checks its STREAM
 * frames (wire_stream) and notes the credit it grants. */
static void wire_check(side *sd, const uint8_t *data, size_t len) {
  scn *s = sd->scn;
  rudp_pkt_hd hd;
  rudp_frame fr;
  rudp_ssize hdlen, n;
  const uint8_t *p;
  size_t end, left;
  sstream *st;
  sdir *d;

  while (len > 0 && !s->failed) {
    hdlen = rudp_pkt_decode_hd(&hd, data, len, RUDP_DEFAULT_CIDLEN);
    if (hdlen < 0) {
      violation(s, "%s: wrote an undecodable packet (%s)", side_name[sd->idx],
                rudp_strerror((int)hdlen));
      return;
    }
    if (hd.type == RUDP_PKT_RETRY || hd.type == RUDP_PKT_VERSION_NEGOTIATION) {
      return;
    }
    end = (hd.flags & RUDP_PKT_FLAG_LONG_FORM) ? hd.pktlen : len;
    if (hd.type == RUDP_PKT_SHORT && s->settings[sd->idx].tls) {
      return; /* TLS mode: encrypted, the receiver's AEAD checks it */
    }
    /* A sender's packet numbers only grow: expanding relative to the last
     * one it wrote gives the full number its CRC covers. */
    sd->last_pn =
        rudp_pkt_decode_pkt_num(sd->last_pn, hd.pkt_num, hd.pkt_numlen);
    if (end < (size_t)hdlen + RUDP_PKT_CRCLEN ||
        rudp_pkt_verify_crc_pn(data, end, sd->last_pn) != 0) {
      violation(s, "%s: wrote a packet with a bad CRC", side_name[sd->idx]);
      return;
    }
    p = data + hdlen;
    left = end - (size_t)hdlen - RUDP_PKT_CRCLEN;
    while (left > 0 && !s->failed) {
      n = rudp_frame_decode(&fr, p, left);
      if (n < 0) {
        violation(s, "%s: wrote an undecodable frame (%s)", side_name[sd->idx],
                  rudp_strerror((int)n));
        return;
      }
      if ((fr.type & ~7u) == RUDP_FRAME_STREAM) {
        wire_stream(sd, &fr.stream);
      } else if (fr.type == RUDP_FRAME_MAX_STREAM_DATA) {
        st = map_get(s, (int64_t)fr.stream_value.stream_id);
        if (st != NULL) {
          d = &st->d[st->opener == sd->idx ? 1 : 0];
          if (fr.stream_value.value > d->credit) {
            d->credit = fr.stream_value.value;
          }
        }
      } else if (fr.type == RUDP_FRAME_MAX_DATA) {
        side *peer = &s->sides[1 - sd->idx];
        if (fr.value.value > peer->conn_credit) {
          peer->conn_credit = fr.value.value;
        }
      }
      p += n;
      left -= (size_t)n;
    }
    data += end;
    len -= end;
  }
}

/* ------------------------------------------------------------ node ops */

/* observe notices state changes and checks what must hold at them. */
static void observe(side *sd) {
  scn *s = sd->scn;
  rudp_conn_state st = rudp_conn_get_state(sd->conn);
  size_t i;

  if (st == sd->last_state) {
    return;
  }
  tracef(s, "%s: %s -> %s", side_name[sd->idx], state_name(sd->last_state),
         state_name(st));
  /* Neither application aborts, and only the client closes, once
   * everything arrived: any other way into closing is the connection's
   * own decision, reported with its reason. */
  if (s->cfg->expect != EXPECT_CLOSE && st == RUDP_CONN_STATE_CLOSED) {
    /* Checked when the run ends. */
  } else if ((sd->idx == CLIENT && !sd->close_called &&
              st >= RUDP_CONN_STATE_LINGER) ||
             (sd->idx == SERVER && (st == RUDP_CONN_STATE_LINGER ||
                                    st == RUDP_CONN_STATE_CLOSING))) {
    rudp_conn_close_info ci;
    rudp_conn_get_close_info(sd->conn, &ci);
    violation(
        s,
        "%s: %s -> %s on its own: error %d (%s), local %d, wire 0x%" PRIx64
        ", reason '%s'",
        side_name[sd->idx], state_name(sd->last_state), state_name(st),
        ci.error, rudp_strerror(ci.error), ci.local, ci.wire_error, ci.reason);
  }
  if (sd->idx == CLIENT && st == RUDP_CONN_STATE_CLOSING) {
    for (i = 0; i < s->nstreams; ++i) {
      if (!s->streams[i].closed[CLIENT]) {
        ++sd->streams_open_at_closing;
      }
    }
  }
  sd->last_state = st;
}

static rudp_ssize node_write(void *node, uint8_t *buf, size_t buflen,
                             uint64_t *ptag, rudp_tstamp now) {
  side *sd = node;
  scn *s = sd->scn;
  const rudp_transport_params *pp;
  size_t cap;
  rudp_ssize rv;
  int r;

  s->now = now;
  if (s->failed) {
    return SIM_ERR_VIOLATION;
  }
  if (sd->conn == NULL) {
    return 0;
  }
  app_pump(sd, now);
  if (sd->idx == CLIENT && !sd->close_called && all_done(s)) {
    r = rudp_conn_close(sd->conn, now);
    tracef(s, "client: everything delivered; close() = %d", r);
    if (r != 0) {
      violation(s, "client: close() = %d (%s)", r, rudp_strerror(r));
      return SIM_ERR_VIOLATION;
    }
    sd->close_called = 1;
  }
  rv = rudp_conn_write_pkt(sd->conn, buf, buflen, now);
  if (rv < 0) {
    violation(s, "%s: write_pkt = %d (%s)", side_name[sd->idx], (int)rv,
              rudp_strerror((int)rv));
    return SIM_ERR_VIOLATION;
  }
  if (rv > 0) {
    /* Our own datagram size, and once the peer's parameters are known,
     * no more than the peer accepts. */
    cap = s->settings[sd->idx].tx_udp_payload_size;
    pp = rudp_conn_get_peer_params(sd->conn);
    if (pp != NULL) {
      /* Path MTU discovery may raise the size up to its maximum. */
      if (cap < s->settings[sd->idx].pmtud_max_udp_payload_size) {
        cap = s->settings[sd->idx].pmtud_max_udp_payload_size;
      }
      if (cap > s->settings[1 - sd->idx].max_udp_payload_size) {
        cap = s->settings[1 - sd->idx].max_udp_payload_size;
      }
    }
    if ((size_t)rv > cap) {
      violation(s, "%s: wrote a %d-byte datagram, above the %zu allowed",
                side_name[sd->idx], (int)rv, cap);
      return SIM_ERR_VIOLATION;
    }
    if (sd->idx == CLIENT && sd->wrote_pkts == 0 && rv < RUDP_MIN_UDP_PAYLOAD) {
      violation(s, "client: first datagram (CONNECT) is only %d bytes",
                (int)rv);
      return SIM_ERR_VIOLATION;
    }
    if (s->trace) {
      fprintf(s->trace, "  %s writes: ", side_name[sd->idx]);
      rudp_sim_dissect(s->trace, buf, (size_t)rv);
    }
    wire_check(sd, buf, (size_t)rv);
    ++sd->wrote_pkts;
    sd->wrote_bytes += (uint64_t)rv;
    if (sd->idx == CLIENT &&
        rudp_conn_get_state(sd->conn) == RUDP_CONN_STATE_CLOSING) {
      *ptag = TAG_CLOSING;
    }
  }
  observe(sd);
  return s->failed ? SIM_ERR_VIOLATION : rv;
}

/* server_accept creates the server's connection for a CONNECT, as an
 * endpoint would: only for an intact CONNECT of at least 1200 bytes. */
static int server_accept(side *sd, const uint8_t *data, size_t len,
                         rudp_tstamp now) {
  scn *s = sd->scn;
  rudp_pkt_hd hd;
  rudp_cid scid;
  uint8_t id[RUDP_DEFAULT_CIDLEN];
  rudp_ssize rv;
  int r;

  rv = rudp_pkt_decode_hd(&hd, data, len, RUDP_DEFAULT_CIDLEN);
  if (rv < 0 || hd.type != RUDP_PKT_CONNECT || len < RUDP_MIN_UDP_PAYLOAD ||
      rudp_pkt_verify_crc_pn(data, hd.pktlen, hd.pkt_num) != 0) {
    ++s->server_discarded;
    tracef(s, "server: no connection; datagram discarded");
    return 0;
  }
  rudp_test_rng_fill(&s->rng, id, sizeof(id));
  rudp_cid_init(&scid, id, sizeof(id));
  r = rudp_conn_server_new(&sd->conn, &hd.scid, &hd.dcid, &scid,
                           &s->settings[SERVER], &s->callbacks, &sd->mem.mem,
                           sd, now);
  if (r != 0) {
    violation(s, "server: server_new = %d (%s)", r, rudp_strerror(r));
    return SIM_ERR_VIOLATION;
  }
  sd->last_state = rudp_conn_get_state(sd->conn);
  tracef(s, "server: connection created (%s)", state_name(sd->last_state));
  return 1;
}

static int node_read(void *node, const uint8_t *data, size_t len,
                     const rudp_sim_delivery *d, rudp_tstamp now) {
  side *sd = node;
  scn *s = sd->scn;
  rudp_conn_stats before, after;
  rudp_conn_state st;
  int rv, created = 0;

  s->now = now;
  if (s->failed) {
    return SIM_ERR_VIOLATION;
  }
  if (sd->conn == NULL) {
    if (sd->idx == CLIENT) {
      return 0;
    }
    rv = server_accept(sd, data, len, now);
    if (rv <= 0) {
      return rv;
    }
    created = 1;
  }
  st = rudp_conn_get_state(sd->conn);
  rudp_conn_get_stats(sd->conn, &before);
  ++sd->fed_pkts;
  rv = rudp_conn_read_pkt(sd->conn, data, len, now);
  if (rv != 0 &&
      !(rv == RUDP_ERR_INVALID_STATE && st == RUDP_CONN_STATE_CLOSED)) {
    violation(s, "%s: read_pkt(%zu bytes) = %d (%s) in %s", side_name[sd->idx],
              len, rv, rudp_strerror(rv), state_name(st));
    return SIM_ERR_VIOLATION;
  }
  rudp_conn_get_stats(sd->conn, &after);
  if ((d->flags & RUDP_SIM_PKT_FLAG_CORRUPT) && !(data[0] & 0x80) &&
      after.pkts_recv != before.pkts_recv) {
    violation(s, "%s: accepted a corrupted datagram (link #%" PRIu64 ")",
              side_name[sd->idx], d->id);
    return SIM_ERR_VIOLATION;
  }
  if (created && after.pkts_recv == 0) {
    violation(s, "server: the new connection did not accept its CONNECT");
    return SIM_ERR_VIOLATION;
  }
  if (sd->idx == SERVER && d->tag == TAG_CLOSING &&
      !(d->flags & RUDP_SIM_PKT_FLAG_CORRUPT) && st <= RUDP_CONN_STATE_LINGER) {
    s->close_seen_intact = 1;
  }
  observe(sd);
  return s->failed ? SIM_ERR_VIOLATION : 0;
}

static rudp_tstamp node_expiry(void *node) {
  side *sd = node;
  rudp_tstamp t;

  if (sd->conn == NULL) {
    return RUDP_TSTAMP_MAX;
  }
  t = rudp_conn_get_expiry(sd->conn);
  /* Completion may be noticed on the server's side (its last read): the
   * client application wakes at once to close. */
  if (sd->idx == CLIENT && !sd->close_called && all_done(sd->scn) &&
      sd->scn->now < t) {
    t = sd->scn->now;
  }
  if (sd->starved && sd->budget_at + MS < t) {
    t = sd->budget_at + MS;
  }
  if (sd->handshake_done && sd->dg_sent < sd->dg_planned && sd->dg_next < t &&
      rudp_conn_get_state(sd->conn) == RUDP_CONN_STATE_ESTABLISHED) {
    t = sd->dg_next;
  }
  return t;
}

static int node_handle_expiry(void *node, rudp_tstamp now) {
  side *sd = node;
  scn *s = sd->scn;
  int rv;

  s->now = now;
  if (s->failed) {
    return SIM_ERR_VIOLATION;
  }
  if (sd->conn == NULL || now < rudp_conn_get_expiry(sd->conn)) {
    return 0; /* an application timer: the write hook does the work */
  }
  if (s->trace) {
    rudp_conn_stats st;
    rudp_conn_get_stats(sd->conn, &st);
    tracef(s,
           "%s: timer; cwnd %" PRIu64 ", in flight %" PRIu64 ", pto %" PRIu64,
           side_name[sd->idx], st.cwnd, st.bytes_in_flight, st.pto_count);
  }
  rv = rudp_conn_handle_expiry(sd->conn, now);
  if (rv != 0) {
    violation(s, "%s: handle_expiry = %d (%s)", side_name[sd->idx], rv,
              rudp_strerror(rv));
    return SIM_ERR_VIOLATION;
  }
  observe(sd);
  return 0;
}

static int node_done(void *node) {
  side *sd = node;
  if (sd->conn == NULL) {
    /* A server that never got a CONNECT is done once the client is. */
    return sd->idx == SERVER && sd->scn->sides[CLIENT].conn &&
           rudp_conn_get_state(sd->scn->sides[CLIENT].conn) ==
               RUDP_CONN_STATE_CLOSED;
  }
  return rudp_conn_get_state(sd->conn) == RUDP_CONN_STATE_CLOSED;
}

static const rudp_sim_node_ops node_ops = {node_write, node_read, node_expiry,
                                           node_handle_expiry, node_done};

/* ------------------------------------------------------------ running */

/* plan_streams lays out every stream both sides will open. */
static int plan_streams(scn *s) {
  const scn_cfg *c = s->cfg;
  rudp_test_rng rng;
  size_t i, n, idx;
  int sd;
  uint64_t avg;
  sstream *st;

  rudp_test_rng_init(&rng, c->seed ^ 0x6a09e667f3bcc909ULL);
  s->nstreams = c->nstreams[0] + c->nstreams[1];
  s->streams = calloc(s->nstreams ? s->nstreams : 1, sizeof(*s->streams));
  for (s->hcap = 16; s->hcap < 2 * s->nstreams + 2; s->hcap *= 2)
    ;
  s->hkeys = malloc(s->hcap * sizeof(*s->hkeys));
  s->hvals = malloc(s->hcap * sizeof(*s->hvals));
  if (!s->streams || !s->hkeys || !s->hvals) {
    return -1;
  }
  for (i = 0; i < s->hcap; ++i) {
    s->hkeys[i] = -1;
  }
  idx = 0;
  for (sd = 0; sd < 2; ++sd) {
    n = c->nstreams[sd];
    s->sides[sd].plan = calloc(n ? n : 1, sizeof(size_t));
    if (!s->sides[sd].plan) {
      return -1;
    }
    s->sides[sd].nplan = n;
    avg = n ? c->bytes[sd] / n : 0;
    for (i = 0; i < n; ++i, ++idx) {
      st = &s->streams[idx];
      s->sides[sd].plan[i] = idx;
      st->sid = -1;
      st->opener = (uint8_t)sd;
      st->bidi = rudp_test_rng_below(&rng, RUDP_SIM_PPM) < c->bidi_ppm;
      st->echo =
          st->bidi && rudp_test_rng_below(&rng, RUDP_SIM_PPM) < c->echo_ppm;
      /* Some streams are empty (just FIN); the others vary around the
       * average. */
      st->d[0].len = rudp_test_rng_below(&rng, 10) == 0
                         ? 0
                         : rudp_test_rng_below(&rng, 2 * avg + 1);
      st->d[0].key = mix64(c->seed ^ mix64(0x100 + idx * 2));
      if (st->bidi) {
        if (st->echo) {
          st->d[1].len = st->d[0].len;
          st->d[1].key = st->d[0].key;
        } else {
          st->d[1].len = rudp_test_rng_below(&rng, c->back_max + 1);
          st->d[1].key = mix64(c->seed ^ mix64(0x100 + idx * 2 + 1));
        }
      }
      s->dirs_total += 1 + st->bidi;
    }
  }
  for (sd = 0; sd < 2; ++sd) {
    s->sides[sd].dg_planned = c->ndgrams[sd];
    s->sides[sd].dg_seen = calloc(c->ndgrams[1 - sd] + 1, 1);
    if (!s->sides[sd].dg_seen) {
      return -1;
    }
  }
  return 0;
}

static void scn_free(scn *s) {
  int i;
  for (i = 0; i < 2; ++i) {
    free(s->sides[i].plan);
    free(s->sides[i].dg_seen);
  }
  free(s->streams);
  free(s->hkeys);
  free(s->hvals);
}

static void print_stats(FILE *f, const char *who, const rudp_conn_stats *st) {
  fprintf(f,
          "  %s: sent %" PRIu64 " pkts/%" PRIu64 " B, recv %" PRIu64
          " pkts/%" PRIu64 " B, lost %" PRIu64 ", retx %" PRIu64
          " pkts/%" PRIu64 " B, spurious %" PRIu64 ", pto %" PRIu64
          ", dropped %" PRIu64 " (dup %" PRIu64 ", integrity %" PRIu64
          "), dgrams %" PRIu64 "/%" PRIu64 " (dropped %" PRIu64
          "), srtt %" PRIu64 " us, cwnd %" PRIu64 "\n",
          who, st->pkts_sent, st->bytes_sent, st->pkts_recv, st->bytes_recv,
          st->pkts_lost, st->pkts_retransmitted, st->bytes_retransmitted,
          st->spurious_losses, st->pto_count, st->pkts_dropped,
          st->pkts_duplicate, st->pkts_bad_integrity, st->datagrams_sent,
          st->datagrams_recv, st->datagrams_dropped, st->srtt / 1000, st->cwnd);
}

static void print_link(FILE *f, const char *who, const rudp_sim_link *l) {
  fprintf(f,
          "  link %s: sent %" PRIu64 ", delivered %" PRIu64 ", lost %" PRIu64
          " (+%" PRIu64 " burst, +%" PRIu64 " forced), queue drops %" PRIu64
          ", dup %" PRIu64 ", corrupt %" PRIu64 ", reordered %" PRIu64 "\n",
          who, l->stats.sent, l->stats.delivered, l->stats.lost,
          l->stats.lost_burst, l->stats.lost_forced, l->stats.dropped_queue,
          l->stats.duplicated, l->stats.corrupted, l->stats.reordered);
}

/* describe_stall lists what was still pending when a run did not end. */
static void describe_stall(scn *s, char *buf, size_t buflen) {
  size_t i, n = 0, shown = 0;
  sstream *st;
  int k;

  n += (size_t)snprintf(
      buf + n, buflen - n,
      "client %s, server %s; %" PRIu64 "/%" PRIu64 " directions done",
      s->sides[CLIENT].conn
          ? state_name(rudp_conn_get_state(s->sides[CLIENT].conn))
          : "-",
      s->sides[SERVER].conn
          ? state_name(rudp_conn_get_state(s->sides[SERVER].conn))
          : "-",
      s->dirs_done, s->dirs_total);
  for (i = 0; i < 2 && n < buflen; ++i) {
    if (s->sides[i].next_open < s->sides[i].nplan) {
      n += (size_t)snprintf(
          buf + n, buflen - n, "; %s opened %zu/%zu streams (blocked %d/%d)",
          side_name[i], s->sides[i].next_open, s->sides[i].nplan,
          s->sides[i].limit_blocked[0], s->sides[i].limit_blocked[1]);
    }
  }
  for (i = 0; i < s->nstreams && shown < 3 && n < buflen; ++i) {
    st = &s->streams[i];
    for (k = 0; k < 1 + st->bidi && n < buflen; ++k) {
      if (st->sid >= 0 && !st->d[k].fin_read) {
        n += (size_t)snprintf(
            buf + n, buflen - n,
            "; stream %" PRId64 "/%d (%s->%s%s): written %" PRIu64
            "%s of %" PRIu64 "%s, read %" PRIu64 "%s",
            st->sid, k, side_name[writer_of(st, k)],
            side_name[reader_of(st, k)], st->echo ? " echo" : "",
            st->d[k].written, st->d[k].fin_written ? "+FIN" : "", st->d[k].len,
            st->d[k].blocked ? " (blocked)" : "", st->d[k].read,
            st->d[k].readable ? " (readable)" : "");
        ++shown;
      }
    }
  }
}

/* check_end checks the end-of-scenario properties. */
static void check_end(scn *s, int result) {
  side *c = &s->sides[CLIENT], *sv = &s->sides[SERVER];
  rudp_conn_close_info ci, si;
  rudp_conn_stats cst, sst;
  char buf[600];
  size_t i;
  int k;

  if (s->failed) {
    return;
  }
  if (result != RUDP_SIM_DONE) {
    describe_stall(s, buf, sizeof(buf));
    violation(s, "run ended: %s (%" PRIu64 " events): %s",
              rudp_sim_result_str(result), s->net->nevents, buf);
    return;
  }
  if (s->cfg->expect == EXPECT_HANDSHAKE_TIMEOUT) {
    rudp_conn_get_close_info(c->conn, &ci);
    if (sv->conn != NULL || ci.error != RUDP_ERR_HANDSHAKE_TIMEOUT ||
        c->closed_calls != 1 || c->closed_error != ci.error) {
      violation(s,
                "expected a handshake timeout; client error %d (%s), closed "
                "callback %d times, server %s",
                ci.error, rudp_strerror(ci.error), c->closed_calls,
                sv->conn ? "created" : "absent");
    }
    return;
  }
  if (c->conn == NULL || sv->conn == NULL) {
    violation(s, "no %s connection", c->conn ? "server" : "client");
    return;
  }
  if (s->cfg->expect == EXPECT_IDLE) {
    for (k = 0; k < 2; ++k) {
      side *x = &s->sides[k];
      rudp_conn_get_close_info(x->conn, &ci);
      if (ci.error != RUDP_ERR_IDLE_CLOSE || x->closed_calls != 1 ||
          x->closed_error != ci.error) {
        violation(s,
                  "%s: expected an idle close; error %d (%s), closed callback "
                  "%d times",
                  side_name[k], ci.error, rudp_strerror(ci.error),
                  x->closed_calls);
        return;
      }
    }
    return;
  }
  rudp_conn_get_close_info(c->conn, &ci);
  rudp_conn_get_close_info(sv->conn, &si);
  if (ci.error != 0 || !ci.local || ci.app || ci.wire_error != 0) {
    violation(
        s,
        "client closed with error %d (%s), local %d, app %d, wire 0x%" PRIx64
        ", reason '%s'",
        ci.error, rudp_strerror(ci.error), ci.local, ci.app, ci.wire_error,
        ci.reason);
    return;
  }
  if (c->closed_calls != 1 || c->closed_error != 0) {
    violation(s, "client: closed callback ran %d times (error %d)",
              c->closed_calls, c->closed_error);
    return;
  }
  if (sv->closed_calls != 1 || sv->closed_error != si.error) {
    violation(s, "server: closed callback ran %d times (error %d vs %d)",
              sv->closed_calls, sv->closed_error, si.error);
    return;
  }
  if (s->close_seen_intact) {
    if (si.error != 0 || si.local || si.wire_error != 0) {
      violation(s,
                "server got the client's close but ended with error %d (%s), "
                "local %d, wire 0x%" PRIx64,
                si.error, rudp_strerror(si.error), si.local, si.wire_error);
      return;
    }
  } else if (si.error != 0 && si.error != RUDP_ERR_IDLE_CLOSE) {
    violation(s, "server ended with error %d (%s)", si.error,
              rudp_strerror(si.error));
    return;
  }
  if (s->dirs_done != s->dirs_total) {
    violation(s, "only %" PRIu64 " of %" PRIu64 " directions finished",
              s->dirs_done, s->dirs_total);
    return;
  }
  for (i = 0; i < s->nstreams; ++i) {
    for (k = 0; k < 1 + s->streams[i].bidi; ++k) {
      if (!s->streams[i].d[k].fin_written) {
        violation(s, "stream %" PRId64 "/%d: FIN never written",
                  s->streams[i].sid, k);
        return;
      }
    }
    if (!s->streams[i].closed[CLIENT]) {
      violation(s, "client: stream %" PRId64 " never closed (freed)",
                s->streams[i].sid);
      return;
    }
  }
  if (c->streams_open_at_closing) {
    violation(s, "client: %" PRIu64 " streams still open when it sent CLOSE",
              c->streams_open_at_closing);
    return;
  }
  rudp_conn_get_stats(c->conn, &cst);
  rudp_conn_get_stats(sv->conn, &sst);
  if (cst.pkts_sent != c->wrote_pkts || cst.bytes_sent != c->wrote_bytes ||
      sst.pkts_sent != sv->wrote_pkts || sst.bytes_sent != sv->wrote_bytes) {
    violation(s,
              "stats: pkts/bytes_sent %" PRIu64 "/%" PRIu64 " and %" PRIu64
              "/%" PRIu64 ", but %" PRIu64 "/%" PRIu64 " and %" PRIu64
              "/%" PRIu64 " datagrams were written",
              cst.pkts_sent, cst.bytes_sent, sst.pkts_sent, sst.bytes_sent,
              c->wrote_pkts, c->wrote_bytes, sv->wrote_pkts, sv->wrote_bytes);
    return;
  }
  if (cst.pkts_recv > c->fed_pkts || sst.pkts_recv > sv->fed_pkts) {
    violation(s, "stats: more packets accepted than delivered");
    return;
  }
  if (cst.datagrams_recv != c->dg_recv || sst.datagrams_recv != sv->dg_recv) {
    violation(s,
              "stats: datagrams_recv %" PRIu64 "/%" PRIu64
              " but the callback saw %" PRIu64 "/%" PRIu64,
              cst.datagrams_recv, sst.datagrams_recv, c->dg_recv, sv->dg_recv);
    return;
  }
  if (cst.datagrams_sent > c->dg_sent || sst.datagrams_sent > sv->dg_sent) {
    violation(s, "stats: more datagrams sent than queued");
    return;
  }
  if (s->cfg->expect_clean) {
    if (cst.pkts_lost || sst.pkts_lost || cst.bytes_retransmitted ||
        sst.bytes_retransmitted || cst.pkts_dropped || sst.pkts_dropped) {
      violation(s, "clean link, yet packets were lost, retransmitted or "
                   "dropped");
      return;
    }
    if (c->dg_recv != sv->dg_planned || sv->dg_recv != c->dg_planned) {
      violation(s,
                "clean link, yet only %" PRIu64 "/%" PRIu64 " and %" PRIu64
                "/%" PRIu64 " datagrams arrived",
                sv->dg_recv, c->dg_planned, c->dg_recv, sv->dg_planned);
      return;
    }
  }
}

/* scn_result is what a scenario run reports. */
typedef struct scn_result {
  int ok;
  char err[768];
  uint64_t events;
  rudp_tstamp duration;
  rudp_conn_stats stats[2];
  rudp_sim_link_stats link[2];
  /* stream_bytes[i]: stream bytes side i was to send. */
  uint64_t stream_bytes[2];
} scn_result;

/* run_scenario runs |cfg| and reports in |res|; with |trace| every event
 * is printed there. */
static void run_scenario(const scn_cfg *cfg, FILE *trace, scn_result *res) {
  scn *s = calloc(1, sizeof(*s));
  rudp_sim_net *net = calloc(1, sizeof(*net));
  rudp_cid dcid, scid;
  uint8_t id[RUDP_DEFAULT_CIDLEN];
  int rv, i, result = RUDP_SIM_DONE;

  memset(res, 0, sizeof(*res));
  if (!s || !net) {
    snprintf(res->err, sizeof(res->err), "out of memory");
    free(s);
    free(net);
    return;
  }
  s->cfg = cfg;
  s->trace = trace;
  s->net = net;
  s->now = cfg->start;
  rudp_test_rng_init(&s->rng, cfg->seed ^ 0x3c6ef372fe94f82bULL);
  for (i = 0; i < 2; ++i) {
    s->settings[i] = cfg->settings[i];
    s->sides[i].scn = s;
    s->sides[i].idx = i;
    s->sides[i].last_pn = UINT64_MAX;
    s->sides[i].mem.mem.user_data = &s->sides[i].mem;
    s->sides[i].mem.mem.malloc = sm_malloc;
    s->sides[i].mem.mem.free = sm_free;
    s->sides[i].mem.mem.calloc = sm_calloc;
    s->sides[i].mem.mem.realloc = sm_realloc;
    s->sides[i].budget_at = cfg->start;
  }
  s->callbacks.handshake_completed = cb_handshake_completed;
  s->callbacks.stream_opened = cb_stream_opened;
  s->callbacks.stream_readable = cb_stream_readable;
  s->callbacks.stream_writable = cb_stream_writable;
  s->callbacks.stream_reset = cb_stream_reset;
  s->callbacks.stream_stop_sending = cb_stream_stop_sending;
  s->callbacks.stream_closed = cb_stream_closed;
  s->callbacks.datagram_received = cb_datagram_received;
  s->callbacks.streams_available = cb_streams_available;
  s->callbacks.closed = cb_closed;

  if (plan_streams(s) != 0) {
    violation(s, "out of memory");
    goto out;
  }
  rv = rudp_sim_net_init(net, &cfg->link[0], &cfg->link[1], cfg->seed);
  if (rv != 0) {
    violation(s, "bad link parameters (%d)", rv);
    goto out;
  }
  net->now = cfg->start;
  net->max_time = cfg->start + cfg->max_time;
  net->max_events = cfg->max_events;
  if (trace) {
    rudp_sim_net_set_trace(net, trace, "c->s", "s->c");
  }
  rudp_sim_net_set_node(net, CLIENT, &node_ops, &s->sides[CLIENT]);
  rudp_sim_net_set_node(net, SERVER, &node_ops, &s->sides[SERVER]);

  rudp_test_rng_fill(&s->rng, id, sizeof(id));
  rudp_cid_init(&dcid, id, sizeof(id));
  rudp_test_rng_fill(&s->rng, id, sizeof(id));
  rudp_cid_init(&scid, id, sizeof(id));
  rv = rudp_conn_client_new(
      &s->sides[CLIENT].conn, &dcid, &scid, &s->settings[CLIENT], &s->callbacks,
      &s->sides[CLIENT].mem.mem, &s->sides[CLIENT], cfg->start);
  if (rv != 0) {
    violation(s, "client_new = %d (%s)", rv, rudp_strerror(rv));
    rudp_sim_net_free(net);
    goto out;
  }
  s->sides[CLIENT].last_state = rudp_conn_get_state(s->sides[CLIENT].conn);

  result = rudp_sim_net_run(net);
  if (result == SIM_ERR_VIOLATION && !s->failed) {
    violation(s, "node error");
  }
  check_end(s, result);

  for (i = 0; i < (int)s->nstreams; ++i) {
    res->stream_bytes[s->streams[i].opener] += s->streams[i].d[0].len;
    res->stream_bytes[1 - s->streams[i].opener] += s->streams[i].d[1].len;
  }
  res->events = net->nevents;
  res->duration = net->now - cfg->start;
  for (i = 0; i < 2; ++i) {
    res->link[i] = net->link[i].stats;
    if (s->sides[i].conn) {
      rudp_conn_get_stats(s->sides[i].conn, &res->stats[i]);
    }
  }
  if (trace) {
    char tbuf[32];
    fprintf(trace, "--- end after %s s, %" PRIu64 " events: %s\n",
            rudp_sim_fmt_time(tbuf, res->duration), res->events,
            result == SIM_ERR_VIOLATION ? "violation"
                                        : rudp_sim_result_str(result));
    print_stats(trace, "client", &res->stats[CLIENT]);
    print_stats(trace, "server", &res->stats[SERVER]);
    print_link(trace, "c->s", &net->link[0]);
    print_link(trace, "s->c", &net->link[1]);
    fprintf(trace,
            "  server discarded %" PRIu64 " datagrams before it had a "
            "connection\n",
            s->server_discarded);
  }
  rudp_sim_net_free(net);

out:
  for (i = 0; i < 2; ++i) {
    if (s->sides[i].conn) {
      rudp_conn_del(s->sides[i].conn);
      s->sides[i].conn = NULL;
    }
    if (s->sides[i].mem.live != 0) {
      violation(s, "%s: %" PRId64 " allocations never freed", side_name[i],
                s->sides[i].mem.live);
    }
  }
  res->ok = !s->failed;
  snprintf(res->err, sizeof(res->err), "%s", s->err);
  scn_free(s);
  free(s);
  free(net);
}

/* ------------------------------------------------------------ scenarios */

/* base_cfg is a clean 10 ms path with default settings, except timeouts
 * long enough that heavy loss never ends a healthy connection. */
static void base_cfg(scn_cfg *c, const char *name, uint64_t seed) {
  int i;

  memset(c, 0, sizeof(*c));
  c->name = name;
  c->seed = seed;
  for (i = 0; i < 2; ++i) {
    rudp_settings_default(&c->settings[i]);
    c->settings[i].idle_timeout = 120 * RUDP_SECONDS;
    c->settings[i].linger_timeout = 600 * RUDP_SECONDS;
    c->settings[i].connect_retries = 10;
    c->link[i].delay = 10 * MS;
  }
  c->nstreams[CLIENT] = 8;
  c->bytes[CLIENT] = 256 * KB;
  c->bidi_ppm = RUDP_SIM_PERCENT(50);
  c->echo_ppm = RUDP_SIM_PERCENT(50);
  c->back_max = 32 * KB;
  c->dgram_max = 1000;
  c->dgram_interval = 5 * MS;
  c->write_chunk = 16 * KB;
  c->read_chunk = 16 * KB;
  c->start = 1000 * RUDP_SECONDS;
  c->max_time = 3600 * RUDP_SECONDS;
  c->max_events = 2000000;
}

static uint64_t rand_range(rudp_test_rng *rng, uint64_t lo, uint64_t hi) {
  return lo + rudp_test_rng_below(rng, hi - lo + 1);
}

static int rand_pct(rudp_test_rng *rng, unsigned pct) {
  return rudp_test_rng_below(rng, 100) < pct;
}

/* rand_link draws one direction's impairments. */
static void rand_link(rudp_test_rng *rng, rudp_sim_link_params *p, int *heavy) {
  static const rudp_duration delays[] = {
      100 * RUDP_MICROSECONDS, 1 * MS, 5 * MS, 20 * MS, 50 * MS, 100 * MS};
  unsigned r;

  memset(p, 0, sizeof(*p));
  p->delay = delays[rudp_test_rng_below(rng, 6)];
  p->delay += rudp_test_rng_below(rng, p->delay);
  if (rand_pct(rng, 30)) {
    p->jitter = rudp_test_rng_below(rng, p->delay / 2 + 1);
  }
  r = (unsigned)rudp_test_rng_below(rng, 100);
  if (r < 30) {
    p->loss = 0;
  } else if (r < 60) {
    p->loss = (uint32_t)rand_range(rng, 1, RUDP_SIM_PERCENT(2));
  } else if (r < 85) {
    p->loss =
        (uint32_t)rand_range(rng, RUDP_SIM_PERCENT(2), RUDP_SIM_PERCENT(10));
  } else {
    p->loss =
        (uint32_t)rand_range(rng, RUDP_SIM_PERCENT(10), RUDP_SIM_PERCENT(30));
    *heavy = 1;
  }
  if (rand_pct(rng, 20)) {
    /* Bursts: at most 5/(5+20) = 20% of the time bad; random loss capped
     * so the total stays near 30% at worst. */
    p->burst_enter =
        (uint32_t)rand_range(rng, RUDP_SIM_PERCENT(0.5), RUDP_SIM_PERCENT(5));
    p->burst_exit =
        (uint32_t)rand_range(rng, RUDP_SIM_PERCENT(20), RUDP_SIM_PERCENT(60));
    p->burst_loss =
        (uint32_t)rand_range(rng, RUDP_SIM_PERCENT(50), RUDP_SIM_PERCENT(100));
    if (p->loss > RUDP_SIM_PERCENT(10)) {
      p->loss = RUDP_SIM_PERCENT(10);
    }
    *heavy = 1;
  }
  if (rand_pct(rng, 25)) {
    p->reorder =
        (uint32_t)rand_range(rng, RUDP_SIM_PERCENT(1), RUDP_SIM_PERCENT(20));
    p->reorder_delay = 1 + rudp_test_rng_below(rng, 2 * p->delay + 10 * MS);
  }
  if (rand_pct(rng, 20)) {
    p->dup =
        (uint32_t)rand_range(rng, RUDP_SIM_PERCENT(1), RUDP_SIM_PERCENT(10));
  }
  if (rand_pct(rng, 20)) {
    p->corrupt =
        (uint32_t)rand_range(rng, RUDP_SIM_PERCENT(0.5), RUDP_SIM_PERCENT(5));
  }
  if (rand_pct(rng, 40)) {
    p->rate = rand_range(rng, 1000000, 100000000);
    if (rand_pct(rng, 50)) {
      p->queue_limit = (size_t)rand_range(rng, 6 * KB, 64 * KB);
    }
  }
}

/* rand_settings draws one side's settings. */
static void rand_settings(rudp_test_rng *rng, rudp_settings *st) {
  unsigned r;

  st->tx_udp_payload_size = (size_t)rand_range(rng, 1200, 1452);
  if (rand_pct(rng, 20)) {
    st->max_udp_payload_size = (size_t)rand_range(rng, 1200, 1452);
  }
  r = (unsigned)rudp_test_rng_below(rng, 4);
  if (r == 0) {
    st->initial_max_stream_data = rand_range(rng, 512, 4 * KB);
    st->initial_max_data = rand_range(rng, 2 * KB, 16 * KB);
  } else if (r == 3) {
    st->initial_max_stream_data = 16u << 20;
    st->initial_max_data = 64u << 20;
    st->max_window = 64u << 20;
    st->max_stream_window = 16u << 20;
  }
  if (rand_pct(rng, 30)) {
    st->max_stream_send_buffer = rand_range(rng, 256, 8 * KB);
  }
  st->ack_ranges = rand_pct(rng, 25) ? (size_t)rand_range(rng, 1, 4)
                                     : (size_t)rand_range(rng, 4, 64);
  if (rand_pct(rng, 20)) {
    st->max_streams_bidi = rand_range(rng, 1, 3);
    st->max_streams_uni = rand_range(rng, 1, 3);
  }
  if (rand_pct(rng, 30)) {
    st->ack_eliciting_threshold = (size_t)rand_range(rng, 1, 4);
  }
  if (rand_pct(rng, 25)) {
    st->max_ack_delay = rand_range(rng, 1, 50) * MS;
  }
  if (rand_pct(rng, 20)) {
    st->datagram_queue_len = (size_t)rand_range(rng, 1, 8);
  }
  st->cc_algo = rand_pct(rng, 50) ? RUDP_CC_RENO : RUDP_CC_CUBIC;
}

/* random_cfg derives a whole scenario from |seed|. */
static void random_cfg(scn_cfg *c, uint64_t seed) {
  rudp_test_rng rng;
  int heavy = 0, i;
  unsigned e;

  base_cfg(c, "random", seed);
  rudp_test_rng_init(&rng, seed);
  rand_link(&rng, &c->link[0], &heavy);
  if (rand_pct(&rng, 50)) {
    c->link[1] = c->link[0];
  } else {
    rand_link(&rng, &c->link[1], &heavy);
  }
  for (i = 0; i < 2; ++i) {
    rand_settings(&rng, &c->settings[i]);
  }

  if (rand_pct(&rng, 70)) {
    c->nstreams[CLIENT] = (size_t)rand_range(&rng, 1, 8);
  } else if (rand_pct(&rng, 65)) {
    c->nstreams[CLIENT] = (size_t)rand_range(&rng, 10, 30);
  } else {
    c->nstreams[CLIENT] = (size_t)rand_range(&rng, 40, 70);
  }
  c->nstreams[SERVER] = rand_pct(&rng, 30) ? (size_t)rand_range(&rng, 1, 4) : 0;
  /* Log-uniform between 2 KB and 512 KB; 128 KB at most under heavy
   * loss. */
  e = (unsigned)rand_range(&rng, 11, heavy ? 16 : 18);
  c->bytes[CLIENT] = (1u << e) + rudp_test_rng_below(&rng, 1u << e);
  c->bytes[SERVER] = rudp_test_rng_below(&rng, c->bytes[CLIENT] / 2 + 1);
  c->bidi_ppm = (uint32_t)rudp_test_rng_below(&rng, RUDP_SIM_PPM + 1);
  c->echo_ppm = (uint32_t)rudp_test_rng_below(&rng, RUDP_SIM_PPM + 1);
  c->back_max = rand_pct(&rng, 30)
                    ? 0
                    : rudp_test_rng_below(
                          &rng, 2 * c->bytes[CLIENT] / c->nstreams[CLIENT] + 1);
  if (rand_pct(&rng, 30)) {
    c->ndgrams[CLIENT] = (size_t)rand_range(&rng, 1, 40);
    c->ndgrams[SERVER] = (size_t)rand_range(&rng, 0, 40);
    c->dgram_max = (size_t)rand_range(&rng, DGRAM_HDLEN, 1000);
    c->dgram_interval = rand_range(&rng, 1, 20) * MS;
  }
  if (c->bytes[CLIENT] <= 16 * KB && rand_pct(&rng, 30)) {
    c->write_chunk = (size_t)rand_range(&rng, 1, 64);
    c->read_chunk = (size_t)rand_range(&rng, 1, 64);
  } else {
    c->write_chunk = (size_t)rand_range(&rng, 64, 16 * KB);
    c->read_chunk = (size_t)rand_range(&rng, 64, 16 * KB);
  }
  c->in_callbacks = rand_pct(&rng, 50);
  if (rand_pct(&rng, 25)) {
    /* 100 KB/s to 10 MB/s. */
    c->slow_reader[rudp_test_rng_below(&rng, 2)] =
        (size_t)rand_range(&rng, 100, 10 * KB);
  }
  if (rand_pct(&rng, 15)) {
    for (i = 0; i < 2; ++i) {
      c->settings[i].keepalive_interval = rand_range(&rng, 10, 2000) * MS;
    }
  }
  /* Any monotonic clock: from 0 up to about two years. */
  c->start = rand_pct(&rng, 50) ? 0 : rudp_test_rng_below(&rng, 1ULL << 56);
  c->max_events = 400000;
}

/* report prints a failed scenario with how to replay it. */
static void report(const scn_cfg *c, const scn_result *r, int random) {
  if (random) {
    fprintf(stderr,
            "sim: scenario seed %" PRIu64 " FAILED: %s\n"
            "     replay with a trace: RUDP_SIM_SEED=%" PRIu64
            " ./tests/rudp_sim_test\n",
            c->seed, r->err, c->seed);
  } else {
    fprintf(
        stderr,
        "sim: scenario '%s' FAILED: %s\n"
        "     replay with a trace: RUDP_SIM_NAMED=%s ./tests/rudp_sim_test\n",
        c->name, r->err, c->name);
  }
}

/* run_named runs a named scenario and fails the test on a violation. */
static void run_named(const scn_cfg *c, scn_result *r) {
  run_scenario(c, NULL, r);
  if (!r->ok) {
    report(c, r, 0);
    fail_msg("scenario '%s' failed", c->name);
  }
}

/* ------------------------------------------------------------ named */

static void named_cfg(scn_cfg *c, const char *name);

static void test_rudp_sim_clean(void **state) {
  scn_cfg c;
  scn_result r;
  (void)state;
  named_cfg(&c, "clean");
  run_named(&c, &r);
  /* Nothing lost means nothing retransmitted, and every datagram
   * arrived (checked by expect_clean); spot-check the counters. */
  assert_int_equal(0, r.stats[CLIENT].pkts_lost);
  assert_int_equal(0, r.link[0].lost + r.link[1].lost);
  assert_true(r.stream_bytes[CLIENT] > 512 * KB);
  assert_true(r.stats[SERVER].bytes_recv > r.stream_bytes[CLIENT]);
  assert_true(r.stats[CLIENT].bytes_recv > r.stream_bytes[SERVER]);
}

static void test_rudp_sim_loss_1pct(void **state) {
  scn_cfg c;
  scn_result r;
  (void)state;
  named_cfg(&c, "loss1");
  run_named(&c, &r);
  assert_true(r.link[0].lost > 0);
  assert_true(r.stats[CLIENT].pkts_lost > 0);
}

static void test_rudp_sim_loss_30pct(void **state) {
  scn_cfg c;
  scn_result r;
  (void)state;
  named_cfg(&c, "loss30");
  run_named(&c, &r);
  assert_true(r.link[0].lost > r.link[0].sent / 5);
  assert_true(r.link[1].lost > r.link[1].sent / 5);
}

static void test_rudp_sim_burst_loss(void **state) {
  scn_cfg c;
  scn_result r;
  (void)state;
  named_cfg(&c, "burst");
  run_named(&c, &r);
  assert_true(r.link[0].lost_burst > 0);
}

static void test_rudp_sim_reorder(void **state) {
  scn_cfg c;
  scn_result r;
  (void)state;
  named_cfg(&c, "reorder");
  run_named(&c, &r);
  assert_true(r.link[0].reordered > 0);
}

static void test_rudp_sim_dup_corrupt(void **state) {
  scn_cfg c;
  scn_result r;
  (void)state;
  named_cfg(&c, "dupcorrupt");
  run_named(&c, &r);
  assert_true(r.link[0].corrupted > 0 && r.link[0].duplicated > 0);
  /* Every corrupted copy that reached an open connection was refused by
   * the CRC32C; every duplicate was recognised. */
  assert_true(r.stats[SERVER].pkts_bad_integrity > 0);
  assert_true(r.stats[SERVER].pkts_bad_integrity <= r.link[0].corrupted);
  assert_true(r.stats[SERVER].pkts_duplicate > 0);
  assert_true(r.stats[SERVER].pkts_duplicate <= r.link[0].duplicated);
}

/* TLS mode through the duplicating, corrupting and reordering path, and
 * through 5% loss: every corrupted short packet fails the AEAD (the run
 * checks none is accepted), the transfer completes intact. */
static void sim_tls(const char *name, scn_result *r) {
  scn_cfg c;
  rudp_tls_ctx *sctx, *cctx;
  if (rudp_test_tls_ctxs(&sctx, &cctx, NULL, NULL) != 0) {
#ifdef RUDP_TEST_EXPECT_TLS
    fail_msg("configured with OpenSSL, yet rudp_tls_available() is 0");
#endif
    skip();
  }
  named_cfg(&c, name);
  c.settings[CLIENT].tls = cctx;
  c.settings[SERVER].tls = sctx;
  run_named(&c, r);
  rudp_tls_ctx_free(sctx);
  rudp_tls_ctx_free(cctx);
}

static void test_rudp_sim_tls_dup_corrupt(void **state) {
  scn_result r;
  (void)state;
  sim_tls("dupcorrupt", &r);
  assert_true(r.link[0].corrupted > 0 && r.link[0].duplicated > 0);
  assert_true(r.stats[SERVER].pkts_bad_integrity > 0);
  assert_true(r.stats[SERVER].pkts_bad_integrity <= r.link[0].corrupted);
  assert_true(r.stats[CLIENT].pkts_bad_integrity > 0);
}

static void test_rudp_sim_tls_loss(void **state) {
  scn_result r;
  (void)state;
  sim_tls("loss1", &r);
  assert_true(r.stats[CLIENT].pkts_lost > 0);
}

static void test_rudp_sim_tiny_windows(void **state) {
  scn_cfg c;
  scn_result r;
  (void)state;
  named_cfg(&c, "tiny");
  run_named(&c, &r);
}

static void test_rudp_sim_many_streams(void **state) {
  scn_cfg c;
  scn_result r;
  (void)state;
  named_cfg(&c, "streams");
  run_named(&c, &r);
  assert_int_equal(c.nstreams[CLIENT] + c.nstreams[SERVER],
                   r.stats[CLIENT].streams_opened);
}

static void test_rudp_sim_bottleneck(void **state) {
  scn_cfg c;
  scn_result r;
  (void)state;
  named_cfg(&c, "bottleneck");
  run_named(&c, &r);
  /* The sender overran the small queue at least once and recovered. */
  assert_true(r.link[0].dropped_queue > 0);
}

static void test_rudp_sim_datagrams(void **state) {
  scn_cfg c;
  scn_result r;
  (void)state;
  named_cfg(&c, "datagrams");
  run_named(&c, &r);
  assert_true(r.stats[SERVER].datagrams_recv > 0);
  assert_true(r.stats[CLIENT].datagrams_recv > 0);
}

/* hs_cfg is a short transfer whose first five datagrams each way are
 * dropped as |cmask| (client -> server) and |smask| say. */
static void hs_cfg(scn_cfg *c, uint64_t cmask, uint64_t smask) {
  base_cfg(c, "hs", 100 + cmask * 32 + smask);
  c->nstreams[CLIENT] = 2;
  c->bytes[CLIENT] = 8 * KB;
  c->bidi_ppm = RUDP_SIM_PPM;
  c->link[0].delay = c->link[1].delay = 5 * MS;
  c->link[0].drop_mask = cmask;
  c->link[1].drop_mask = smask;
}

static void test_rudp_sim_handshake_loss(void **state) {
  uint64_t cm, sm, failed = 0;
  scn_cfg c;
  scn_result r;

  (void)state;
  /* Every combination of losses among the first five datagrams each way
   * (CONNECTs, ACCEPTs, the first ACK, HANDSHAKE_DONE, first data): the
   * handshake completes and the transfer ends cleanly (docs/PROTOCOL.md
   * 7.8). */
  for (cm = 0; cm < 32; ++cm) {
    for (sm = 0; sm < 32; ++sm) {
      hs_cfg(&c, cm, sm);
      run_scenario(&c, NULL, &r);
      if (!r.ok) {
        if (++failed <= 5) {
          fprintf(stderr,
                  "sim: handshake losses c->s 0x%02" PRIx64 " s->c 0x%02" PRIx64
                  " FAILED: %s\n     replay with a trace: "
                  "RUDP_SIM_NAMED=hs:%" PRIu64 ":%" PRIu64
                  " ./tests/rudp_sim_test\n",
                  cm, sm, r.err, cm, sm);
        }
      }
    }
  }
  if (failed) {
    fail_msg("%" PRIu64 " of 1024 loss patterns failed", failed);
  }
}

static void test_rudp_sim_handshake_timeout(void **state) {
  scn_cfg c;
  scn_result r;
  (void)state;
  named_cfg(&c, "hstimeout");
  run_named(&c, &r);
  /* CONNECTs at 0, 1, 3, 7, 15, 31, 63 s; the client gives up at 127 s
   * (docs/PROTOCOL.md 7.2). */
  assert_int_equal(7, r.link[0].sent);
  assert_int_equal(127 * RUDP_SECONDS, r.duration);
}

static void test_rudp_sim_vanish(void **state) {
  scn_cfg c;
  scn_result r;
  (void)state;
  named_cfg(&c, "vanish");
  run_named(&c, &r);
  assert_true(r.link[0].lost_forced > 0 && r.link[1].lost_forced > 0);
}

static void test_rudp_sim_open_before_handshake(void **state) {
  scn_cfg c;
  scn_result r;
  (void)state;
  /* The client opens its streams right after rudp_conn_client_new ("streams
   * can be opened before the handshake completes"); if that is refused
   * with STREAM_LIMIT, streams_available must follow once they can be. */
  named_cfg(&c, "openearly");
  run_named(&c, &r);
}

static void test_rudp_sim_keepalive(void **state) {
  scn_cfg c;
  scn_result r;
  (void)state;
  /* Keepalives under loss: the keepalive timer must never stay due (the
   * simulator fails a run whose timer fires 1000 times at one instant). */
  named_cfg(&c, "keepalive");
  run_named(&c, &r);
}

static void test_rudp_sim_deep_reorder(void **state) {
  scn_cfg c;
  scn_result r;
  (void)state;
  named_cfg(&c, "deepreorder");
  run_named(&c, &r);
}

/* named_cfg builds the named scenario |name| (also used for replays). */
static void named_cfg(scn_cfg *c, const char *name) {
  unsigned long long cm, sm;
  int i;

  base_cfg(c, name, 1);
  if (sscanf(name, "hs:%llu:%llu", &cm, &sm) == 2) {
    hs_cfg(c, cm, sm);
  } else if (strcmp(name, "hstimeout") == 0) {
    /* Nothing reaches the server; the client has default settings. */
    rudp_settings_default(&c->settings[CLIENT]);
    c->link[0].outage_end = RUDP_TSTAMP_MAX;
    c->expect = EXPECT_HANDSHAKE_TIMEOUT;
  } else if (strcmp(name, "vanish") == 0) {
    /* The path dies 300 ms into a 1 MB transfer at 10 Mbit/s: both sides
     * must notice within their 5 s idle timeout (docs/PROTOCOL.md 8.8,
     * "Peer vanishes"), well before 60 s. */
    c->seed = 11;
    c->bytes[CLIENT] = 1024 * KB;
    for (i = 0; i < 2; ++i) {
      c->link[i].rate = 10000000;
      c->settings[i].idle_timeout = 5 * RUDP_SECONDS;
      c->link[i].outage_start = c->start + 300 * MS;
      c->link[i].outage_end = RUDP_TSTAMP_MAX;
    }
    c->max_time = 60 * RUDP_SECONDS;
    c->expect = EXPECT_IDLE;
  } else if (strcmp(name, "keepalive") == 0) {
    c->seed = 14;
    for (i = 0; i < 2; ++i) {
      c->settings[i].keepalive_interval = 30 * MS;
      c->link[i].loss = RUDP_SIM_PERCENT(10);
    }
  } else if (strcmp(name, "openearly") == 0) {
    c->seed = 13;
    c->bytes[CLIENT] = 64 * KB;
    c->strict_limits = 1;
  } else if (strcmp(name, "deepreorder") == 0) {
    /* 2% of packets are held back up to 300 ms on a 1 ms path, so
     * hundreds of later packets overtake them. */
    c->seed = 12;
    c->bytes[CLIENT] = 1024 * KB;
    for (i = 0; i < 2; ++i) {
      c->link[i].delay = 1 * MS;
      c->link[i].reorder = RUDP_SIM_PERCENT(2);
      c->link[i].reorder_delay = 300 * MS;
    }
  } else if (strcmp(name, "clean") == 0) {
    /* 1 MB over 8 streams and 40 datagrams each way on a perfect path. */
    c->bytes[CLIENT] = 1024 * KB;
    c->nstreams[SERVER] = 2;
    c->bytes[SERVER] = 64 * KB;
    c->ndgrams[CLIENT] = c->ndgrams[SERVER] = 40;
    c->expect_clean = 1;
  } else if (strcmp(name, "loss1") == 0) {
    c->seed = 2;
    c->bytes[CLIENT] = 512 * KB;
    c->link[0].loss = c->link[1].loss = RUDP_SIM_PERCENT(1);
  } else if (strcmp(name, "loss30") == 0) {
    c->seed = 3;
    c->bytes[CLIENT] = 64 * KB;
    c->link[0].loss = c->link[1].loss = RUDP_SIM_PERCENT(30);
  } else if (strcmp(name, "burst") == 0) {
    c->seed = 4;
    for (i = 0; i < 2; ++i) {
      c->link[i].burst_enter = RUDP_SIM_PERCENT(2);
      c->link[i].burst_exit = RUDP_SIM_PERCENT(25);
      c->link[i].burst_loss = RUDP_SIM_PERCENT(100);
    }
  } else if (strcmp(name, "reorder") == 0) {
    c->seed = 5;
    c->bytes[CLIENT] = 512 * KB;
    for (i = 0; i < 2; ++i) {
      c->link[i].jitter = 5 * MS;
      c->link[i].reorder = RUDP_SIM_PERCENT(30);
      c->link[i].reorder_delay = 30 * MS;
    }
  } else if (strcmp(name, "dupcorrupt") == 0) {
    c->seed = 6;
    for (i = 0; i < 2; ++i) {
      c->link[i].dup = RUDP_SIM_PERCENT(5);
      c->link[i].corrupt = RUDP_SIM_PERCENT(3);
    }
    c->ndgrams[CLIENT] = c->ndgrams[SERVER] = 30;
  } else if (strcmp(name, "tiny") == 0) {
    /* Windows and send buffers of a few packets: every write blocks and
     * every byte waits for credit. */
    c->seed = 7;
    c->bytes[CLIENT] = 128 * KB;
    for (i = 0; i < 2; ++i) {
      c->settings[i].initial_max_stream_data = 1000;
      c->settings[i].initial_max_data = 3000;
      c->settings[i].max_window = 3000;
      c->settings[i].max_stream_window = 1000;
      c->settings[i].max_stream_send_buffer = 1500;
      c->link[i].loss = RUDP_SIM_PERCENT(2);
    }
    c->write_chunk = 700;
    c->read_chunk = 300;
  } else if (strcmp(name, "streams") == 0) {
    /* 50 client streams and 10 server streams through a limit of 4
     * concurrent streams of each kind. */
    c->seed = 8;
    c->nstreams[CLIENT] = 50;
    c->nstreams[SERVER] = 10;
    c->bytes[SERVER] = 64 * KB;
    for (i = 0; i < 2; ++i) {
      c->settings[i].max_streams_bidi = 4;
      c->settings[i].max_streams_uni = 4;
      c->link[i].loss = RUDP_SIM_PERCENT(1);
    }
    c->in_callbacks = 1;
  } else if (strcmp(name, "bottleneck") == 0) {
    /* 10 Mbit/s behind a 12 KB drop-tail queue (about 8 packets, less than
     * the path's 25 KB bandwidth-delay product). */
    c->seed = 9;
    c->bytes[CLIENT] = 1024 * KB;
    c->link[0].rate = 10000000;
    c->link[0].queue_limit = 12 * KB;
    c->link[0].delay = 20 * MS;
    c->link[1].delay = 20 * MS;
  } else if (strcmp(name, "datagrams") == 0) {
    c->seed = 10;
    c->bytes[CLIENT] = 32 * KB;
    c->ndgrams[CLIENT] = c->ndgrams[SERVER] = 200;
    c->dgram_interval = 1 * MS;
    for (i = 0; i < 2; ++i) {
      c->link[i].loss = RUDP_SIM_PERCENT(5);
      c->link[i].dup = RUDP_SIM_PERCENT(5);
      c->link[i].reorder = RUDP_SIM_PERCENT(10);
      c->link[i].reorder_delay = 20 * MS;
    }
  }
}

/* ------------------------------------------------------------ property */

static uint64_t env_u64(const char *name, uint64_t dflt) {
  const char *v = getenv(name);
  return v && *v ? strtoull(v, NULL, 0) : dflt;
}

static void test_rudp_sim_property(void **state) {
  uint64_t base = env_u64("RUDP_SIM_SEED_BASE", 1);
  uint64_t n = env_u64("RUDP_SIM_SEEDS", 1000), i, failed = 0;
  uint64_t events = 0;
  scn_cfg c;
  scn_result r;

  (void)state;
  for (i = 0; i < n; ++i) {
    random_cfg(&c, base + i);
    run_scenario(&c, NULL, &r);
    events += r.events;
    if (!r.ok) {
      /* The first 20 are enough to start from; the count says the rest. */
      if (++failed <= 20) {
        report(&c, &r, 1);
      }
    }
  }
  if (getenv("RUDP_SIM_STATS")) {
    fprintf(stderr, "sim: %" PRIu64 " scenarios, %" PRIu64 " events\n", n,
            events);
  }
  if (failed) {
    fail_msg("%" PRIu64 " of %" PRIu64 " scenarios failed", failed, n);
  }
}

/* trace_of runs random scenario |seed| and returns its full trace
 * (malloc'd) in |*pbuf|. */
static size_t trace_of(uint64_t seed, char **pbuf, scn_result *r) {
  scn_cfg c;
  size_t len = 0;
  FILE *f = open_memstream(pbuf, &len);

  assert_non_null(f);
  random_cfg(&c, seed);
  run_scenario(&c, f, r);
  fclose(f);
  return len;
}

static void test_rudp_sim_deterministic(void **state) {
  static const uint64_t seeds[] = {3, 5, 11};
  char *a, *b;
  size_t alen, blen, i;
  scn_result r1, r2;

  (void)state;
  /* The same scenario twice in one process gives the same trace, byte for
   * byte: nothing depends on addresses, uninitialised memory or real time
   * (in the simulator or in the library). */
  for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); ++i) {
    alen = trace_of(seeds[i], &a, &r1);
    blen = trace_of(seeds[i], &b, &r2);
    assert_true(alen > 1000);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    assert_int_equal(r1.events, r2.events);
    free(a);
    free(b);
  }
}

/* print_cfg describes a scenario for a replay. */
static void print_cfg(FILE *f, const scn_cfg *c) {
  int i;
  static const char *const dir[2] = {"c->s", "s->c"};

  fprintf(f,
          "scenario '%s' seed %" PRIu64 ": streams %zu+%zu, bytes %" PRIu64
          "+%" PRIu64 ", bidi %u ppm, echo %u ppm, back_max %" PRIu64
          ", dgrams %zu+%zu (max %zu, every %" PRIu64
          " us), chunks w%zu/r%zu, in_callbacks %d, slow reader %zu/%zu"
          " B/ms, start %" PRIu64 "\n",
          c->name, c->seed, c->nstreams[0], c->nstreams[1], c->bytes[0],
          c->bytes[1], c->bidi_ppm, c->echo_ppm, c->back_max, c->ndgrams[0],
          c->ndgrams[1], c->dgram_max, c->dgram_interval / 1000, c->write_chunk,
          c->read_chunk, c->in_callbacks, c->slow_reader[0], c->slow_reader[1],
          c->start);
  for (i = 0; i < 2; ++i) {
    const rudp_sim_link_params *p = &c->link[i];
    const rudp_settings *st = &c->settings[i];
    fprintf(f,
            "  link %s: delay %" PRIu64 " us, jitter %" PRIu64
            " us, loss %u, burst %u/%u/%u, reorder %u (%" PRIu64
            " us), dup %u, corrupt %u ppm, rate %" PRIu64
            " bit/s, queue %zu, drop_mask 0x%" PRIx64 ", outage %" PRIu64
            "..%" PRIu64 "\n",
            dir[i], p->delay / 1000, p->jitter / 1000, p->loss, p->burst_enter,
            p->burst_exit, p->burst_loss, p->reorder, p->reorder_delay / 1000,
            p->dup, p->corrupt, p->rate, p->queue_limit, p->drop_mask,
            p->outage_start, p->outage_end);
    fprintf(f,
            "  %s settings: tx %zu, max_udp %zu, stream window %" PRIu64
            ", conn window %" PRIu64 ", send buffer %" PRIu64
            ", ack_ranges %zu, streams %" PRIu64 "/%" PRIu64
            ", ack thresh %zu, max_ack_delay %" PRIu64
            " ms, dgram queue %zu, keepalive %" PRIu64 " ms, cc %s\n",
            side_name[i], st->tx_udp_payload_size, st->max_udp_payload_size,
            st->initial_max_stream_data, st->initial_max_data,
            st->max_stream_send_buffer, st->ack_ranges, st->max_streams_bidi,
            st->max_streams_uni, st->ack_eliciting_threshold,
            st->max_ack_delay / MS, st->datagram_queue_len,
            st->keepalive_interval / MS,
            st->cc_algo == RUDP_CC_RENO ? "reno" : "cubic");
  }
}

/* test_rudp_sim_replay runs one scenario (RUDP_SIM_SEED or
 * RUDP_SIM_NAMED) with a full trace. */
static void test_rudp_sim_replay(void **state) {
  const char *named = getenv("RUDP_SIM_NAMED");
  scn_cfg c;
  scn_result r;

  (void)state;
  if (named && *named) {
    named_cfg(&c, named);
  } else {
    random_cfg(&c, env_u64("RUDP_SIM_SEED", 1));
  }
  print_cfg(stderr, &c);
  run_scenario(&c, stderr, &r);
  if (!r.ok) {
    report(&c, &r, !(named && *named));
    fail_msg("scenario failed");
  }
  fprintf(stderr, "scenario passed\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_sim_clean),
      cmocka_unit_test(test_rudp_sim_loss_1pct),
      cmocka_unit_test(test_rudp_sim_loss_30pct),
      cmocka_unit_test(test_rudp_sim_burst_loss),
      cmocka_unit_test(test_rudp_sim_reorder),
      cmocka_unit_test(test_rudp_sim_dup_corrupt),
      cmocka_unit_test(test_rudp_sim_tls_dup_corrupt),
      cmocka_unit_test(test_rudp_sim_tls_loss),
      cmocka_unit_test(test_rudp_sim_tiny_windows),
      cmocka_unit_test(test_rudp_sim_many_streams),
      cmocka_unit_test(test_rudp_sim_bottleneck),
      cmocka_unit_test(test_rudp_sim_datagrams),
      cmocka_unit_test(test_rudp_sim_handshake_loss),
      cmocka_unit_test(test_rudp_sim_handshake_timeout),
      cmocka_unit_test(test_rudp_sim_vanish),
      cmocka_unit_test(test_rudp_sim_keepalive),
      cmocka_unit_test(test_rudp_sim_deep_reorder),
      cmocka_unit_test(test_rudp_sim_open_before_handshake),
      cmocka_unit_test(test_rudp_sim_deterministic),
      cmocka_unit_test(test_rudp_sim_property),
  };
  const struct CMUnitTest replay[] = {
      cmocka_unit_test(test_rudp_sim_replay),
  };

  if (getenv("RUDP_SIM_SEED") || getenv("RUDP_SIM_NAMED")) {
    return cmocka_run_group_tests_name("sim", replay, NULL, NULL);
  }
  return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
