/*
 * gen_corpus writes the seed corpora of the fuzz targets from real
 * simulated connections: `gen_corpus DIR` fills DIR/{pkt,frame,tp,conn,
 * endpoint}/ (`make -C tests/fuzz regen-corpus` rewrites
 * tests/fuzz/corpus).
 *
 * The conn and endpoint seeds are sessions recorded through the very
 * harness the targets run (fuzz_harness.c): a scripted peer (a server
 * connection for the client target, client connections for the endpoint
 * target) exchanges datagrams with the harness over a perfect or lossy
 * link, and every datagram the peer sends is written as a record, with
 * the clock advance that preceded it.  Replaying a file in the target
 * therefore walks the same handshake, data, ACKs and close, which the
 * fuzzer then mutates.  The pkt, frame and tp seeds are the distinct
 * datagrams, packet payloads and transport parameters seen on the way.
 *
 * Built with OpenSSL, it also writes the TLS targets' seeds,
 * DIR/{tls_conn,tls_endpoint}/: the same scenarios in TLS mode, with every
 * suite and ALPN variant, key updates, and handshakes that fail (no
 * common ALPN or suite, a plain-mode client).  The client target's
 * records are what the real server sent, opened (header and plaintext:
 * the harness seals them again with the same keys on replay, which the
 * generator checks byte for byte); the endpoint target's are what real
 * TLS clients sent.  OpenSSL's randomness is the harness's (fuzz_tls.h);
 * the generator's own peers draw from a stream of their own.  Without
 * OpenSSL those directories are not written (make regen-corpus keeps
 * them).
 *
 * Everything is deterministic: running it twice writes the same files.
 */
#ifdef HAVE_CONFIG_H
#  include <config.h>
#endif

#include "fuzz_harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rudp_conn.h"
#include "rudp_frame.h"
#include "rudp_pkt.h"
#include "rudp_tls.h"
#include "rudp_tp.h"

#ifdef HAVE_OPENSSL
#  include "fuzz_tls.h"
#endif

#define MS RUDP_MILLISECONDS
/* A recorded session stops growing past this many bytes. */
#define MAXFILE (16 * 1024)
/* ... or this many records, or this much virtual time. */
#define MAXRECS 400
#define MAXTIME (20 * RUDP_SECONDS)

static const char *outdir;
static size_t nwritten;

static void die(const char *what) {
  fprintf(stderr, "gen_corpus: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void write_file(const char *target, const char *name,
                       const uint8_t *prefix, size_t prefixlen,
                       const uint8_t *data, size_t len) {
  char path[4096];
  FILE *f;
  snprintf(path, sizeof(path), "%s/%s", outdir, target);
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    die(path);
  }
  snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
  f = fopen(path, "wb");
  if (!f || (prefixlen && fwrite(prefix, 1, prefixlen, f) != prefixlen) ||
      (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
    die(path);
  }
  ++nwritten;
}

/* ------------------------------------------------------------ pools */

/* A pool keeps the first input of each signature, up to |cap| of them. */
typedef struct pool {
  const char *target;
  size_t cap;
  size_t n;
  uint64_t sigs[128];
} pool;

static pool pkt_pool = {"pkt", 48, 0, {0}};
static pool frame_pool = {"frame", 48, 0, {0}};
static pool tp_pool = {"tp", 32, 0, {0}};
/* The scenario being recorded, for file names. */
static const char *cur_name = "";
/* no_pools: the TLS sessions offer nothing to the pkt, frame and tp pools,
 * which then stay the same with or without OpenSSL. */
static int no_pools;

static uint64_t fnv(uint64_t h, const void *p, size_t len) {
  const uint8_t *b = p;
  size_t i;
  for (i = 0; i < len; ++i) {
    h = (h ^ b[i]) * 0x100000001b3ULL;
  }
  return h;
}

static void pool_offer(pool *pl, uint64_t sig, uint8_t prefix,
                       const uint8_t *data, size_t len) {
  char name[256];
  size_t i;
  if (no_pools || pl->n >= pl->cap ||
      pl->n >= sizeof(pl->sigs) / sizeof(pl->sigs[0])) {
    return;
  }
  for (i = 0; i < pl->n; ++i) {
    if (pl->sigs[i] == sig) {
      return;
    }
  }
  pl->sigs[pl->n++] = sig;
  snprintf(name, sizeof(name), "%s-%02zu", cur_name, pl->n);
  write_file(pl->target, name, &prefix, pl == &frame_pool ? 0 : 1, data, len);
}

/* frame_sig is the set of frame types in a payload (bit 63: an error),
 * with the frame count (up to 3) folded in. */
static uint64_t frame_sig(const uint8_t *p, size_t len, int from_server) {
  uint64_t set = 0, count = 0;
  while (len > 0) {
    rudp_frame fr;
    rudp_ssize n = rudp_frame_decode(&fr, p, len);
    if (n < 0) {
      set |= 1ULL << 63;
      break;
    }
    set |= 1ULL << (fr.type & 62);
    if (fr.type == RUDP_FRAME_CRYPTO && fr.crypto.offset == 0) {
      /* Plain mode: the CRYPTO stream is the transport parameters. */
      uint8_t flag = (uint8_t)from_server;
      pool_offer(&tp_pool,
                 fnv(fnv(0xcbf29ce484222325ULL, &flag, 1), fr.crypto.data,
                     fr.crypto.datalen),
                 flag, fr.crypto.data, fr.crypto.datalen);
    }
    ++count;
    p += n;
    len -= (size_t)n;
  }
  return set * 4 + (count < 3 ? count : 3);
}

/* offer_datagram offers a datagram to the pkt pool and each packet's
 * payload to the frame pool. */
static void offer_datagram(const uint8_t *d, size_t len, size_t dcidlen) {
  uint64_t sig = 0xcbf29ce484222325ULL;
  size_t off = 0;
  while (off < len) {
    rudp_pkt_hd hd;
    rudp_ssize hdlen = rudp_pkt_decode_hd(&hd, d + off, len - off, dcidlen);
    uint64_t fsig = 0;
    uint8_t t;
    if (hdlen < 0) {
      sig = fnv(sig, "?", 1);
      break;
    }
    t = (uint8_t)hd.type;
    sig = fnv(sig, &t, 1);
    if (hd.type == RUDP_PKT_RETRY || hd.type == RUDP_PKT_VERSION_NEGOTIATION) {
      break;
    }
    if (hd.pktlen >= (size_t)hdlen + RUDP_PKT_CRCLEN) {
      const uint8_t *pl = d + off + hdlen;
      size_t pllen = hd.pktlen - (size_t)hdlen - RUDP_PKT_CRCLEN;
      fsig = frame_sig(pl, pllen, hd.type == RUDP_PKT_ACCEPT);
      pool_offer(&frame_pool, fsig, 0, pl, pllen);
    }
    sig = fnv(sig, &fsig, sizeof(fsig));
    off += hd.pktlen;
  }
  {
    /* Sizes matter to the decoder only roughly. */
    uint8_t bucket = (uint8_t)(len < 64 ? 0 : len < 600 ? 1 : 2);
    sig = fnv(sig, &bucket, 1);
  }
  pool_offer(&pkt_pool, sig, (uint8_t)dcidlen, d, len);
}

/* ------------------------------------------------------------ recording */

typedef struct recorder {
  uint8_t buf[MAXFILE + 4 * 1024];
  size_t len;
  size_t nrecs;
  int full;
} recorder;

/* GEN_TRACE=1 in the environment prints every record. */
static int trace;

static void rec_put(recorder *r, uint8_t ctl, const uint8_t *data, size_t len) {
  if (trace) {
    fprintf(stderr, "%s: rec %zu ctl %02x len %zu\n", cur_name, r->nrecs, ctl,
            len);
  }
  if (r->len + 3 + len > MAXFILE || r->nrecs >= MAXRECS) {
    r->full = 1;
    return;
  }
  if (fuzz_put_record(r->buf, sizeof(r->buf), &r->len, ctl, data, len) != 0) {
    r->full = 1;
    return;
  }
  ++r->nrecs;
}

/*
 * time_code picks the clock advance code for a wait of |delta|: the
 * smallest fixed step that covers it (10 s at most).  The peer's timers
 * and script may run a little late; that is still a valid session, and
 * it takes a few records instead of dozens.  (The harness's own timers
 * are reached exactly with code 7.)
 */
static unsigned time_code(rudp_duration delta) {
  unsigned c;
  for (c = 1; c < 6; ++c) {
    if (fuzz_time_step(c) >= delta) {
      return c;
    }
  }
  return 6;
}

static rudp_tstamp tmin(rudp_tstamp a, rudp_tstamp b) { return a < b ? a : b; }

/* peer_rand: see fuzz_tls_rand_peer (nothing to do without OpenSSL). */
static int peer_rand(int on) {
#ifdef HAVE_OPENSSL
  return fuzz_tls_rand_peer(on);
#else
  (void)on;
  return 0;
#endif
}

/* ------------------------------------------------------------ conn */

/* Scripted actions of the server peer (or of the client via the record's
 * action bits). */
enum {
  S_END = 0,
  S_WRITE_BIDI, /* arg bytes, arg2 fin */
  S_WRITE_UNI,
  S_DGRAM,  /* arg bytes */
  S_CLOSE,  /* graceful close */
  S_ABORT,  /* arg code */
  S_RESET,  /* RESET_STREAM the last stream opened, arg code */
  S_STOP,   /* STOP_SENDING the client's stream 0, arg code */
  C_ACT,    /* the next record carries client action arg */
  S_SRESET, /* a stateless reset datagram (arg bytes) */
  C_ABORT,  /* the client aborts (FUZZ_CONN_ACT_CLOSE, odd length) */
  T_STOP    /* stop recording */
};

typedef struct action {
  unsigned at_ms;
  int kind;
  size_t arg;
  int arg2;
} action;

typedef struct conn_scenario {
  const char *name;
  uint8_t setup;
  uint8_t nomem_at;
  uint64_t drop_s2c, drop_c2s;
  /* wrap: also record a variant whose short packets are wrapped. */
  int wrap;
  action acts[16];
} conn_scenario;

typedef struct conn_gen {
  fuzz_conn fc;
  recorder rec;
  const conn_scenario *sc;
  unsigned mode;
  /* TLS mode: view opens what the server sends (server_pn: the largest
   * packet number it sent); forged: each server datagram is preceded by a
   * raw copy of its opened form, which the client must refuse; delayed:
   * the first short packet (early, earlylen bytes opened) is fed again
   * right after the server's first key update, as if it had been delayed
   * across it (the client opens it with the previous key, then drops it
   * as a duplicate). */
  struct fuzz_tls_peer *view;
  uint64_t server_pn;
  int forged;
  int delayed;
  uint8_t early[FUZZ_BUFLEN];
  size_t earlylen;
  uint8_t plain[FUZZ_BUFLEN];
  uint64_t n_s2c, n_c2s;
  uint8_t pending_act;
  int64_t last_stream;
  rudp_tstamp start;
  int started;
  size_t next;
} conn_gen;

static uint8_t gen_pattern[16384];

/* The client's output: observed, then delivered to the server unless the
 * script drops it. */
static void cg_out(fuzz_conn *fc, const uint8_t *data, size_t len) {
  conn_gen *g = (conn_gen *)fc;
  uint64_t k = g->n_c2s++;
  if (k < 64 && ((g->sc->drop_c2s >> k) & 1)) {
    return;
  }
  if (fc->server) {
    int was = peer_rand(1);
    int rv = rudp_conn_read_pkt(fc->server, data, len, fc->now);
    peer_rand(was);
    if (rv != 0 && rv != RUDP_ERR_INVALID_STATE) {
      fprintf(stderr, "gen_corpus: %s: server read: %d\n", cur_name, rv);
      abort();
    }
  }
}

/* Every datagram of the handshake and after: pool candidates (the
 * server's own datagrams are offered where they are written). */
static void cg_observe(fuzz_conn *fc, int from_client, const uint8_t *data,
                       size_t len) {
  (void)fc;
  if (from_client || !((conn_gen *)fc)->started) {
    offer_datagram(data, len, 8);
  }
}

static void cg_feed(conn_gen *g, unsigned tcode, const uint8_t *d, size_t len);

static void cg_do(conn_gen *g, const action *a) {
  rudp_conn *s = g->fc.server;
  int64_t id;
  switch (a->kind) {
  case S_WRITE_BIDI:
  case S_WRITE_UNI:
    if (rudp_conn_open_stream(s, a->kind == S_WRITE_BIDI, &id) == 0) {
      g->last_stream = id;
      (void)rudp_conn_stream_write(s, id, gen_pattern, a->arg, a->arg2);
    }
    break;
  case S_DGRAM:
    (void)rudp_conn_send_datagram(s, gen_pattern, a->arg);
    break;
  case S_CLOSE:
    (void)rudp_conn_close(s, g->fc.now);
    break;
  case S_ABORT:
    (void)rudp_conn_abort(s, a->arg, "going away", g->fc.now);
    break;
  case S_RESET:
    (void)rudp_conn_stream_reset(s, g->last_stream, a->arg);
    break;
  case S_STOP:
    (void)rudp_conn_stream_stop_sending(s, 0, a->arg);
    break;
  case C_ACT:
    g->pending_act = (uint8_t)a->arg;
    break;
  case C_ABORT: {
    /* A 1-byte datagram (dropped as malformed) carries the action. */
    static const uint8_t junk[1] = {0};
    unsigned mode = g->mode;
    g->pending_act = FUZZ_CONN_ACT_CLOSE;
    g->mode = FUZZ_CONN_RAW;
    cg_feed(g, 0, junk, 1);
    g->mode = mode;
    break;
  }
  case S_SRESET: {
    /* Unpredictable bits, then the token (RFC 9000 10.3). */
    uint8_t d[64];
    unsigned mode = g->mode;
    size_t len = a->arg < sizeof(d) ? a->arg : sizeof(d);
    memset(d, 0x3c, len);
    d[0] = 0x5b;
    memcpy(d + len - RUDP_STATELESS_RESET_TOKENLEN, fuzz_reset_token,
           RUDP_STATELESS_RESET_TOKENLEN);
    g->mode = FUZZ_CONN_RAW;
    cg_feed(g, 1, d, len);
    g->mode = mode;
    break;
  }
  default:
    break;
  }
}

/* cg_feed records and delivers one server datagram (NULL: an empty record
 * that only moves the clock) with clock code |tcode|. */
static void cg_feed(conn_gen *g, unsigned tcode, const uint8_t *d, size_t len) {
  unsigned mode = g->mode;
  const uint8_t *rec = d;
  size_t reclen = len;
  /* A TLS short packet has no trailer once opened. */
  size_t trailer = RUDP_PKT_CRCLEN;
  const uint8_t *sealed = NULL;
  size_t sealedlen = 0;
  uint8_t ctl;

#ifdef HAVE_OPENSSL
  if (d && g->view && mode != FUZZ_CONN_RAW) {
    /* The record is the opened packet; the harness seals it again. */
    sealed = d;
    sealedlen = len;
    len = fuzz_tls_unseal(g->view, d, len, g->plain, sizeof(g->plain), 8,
                          &g->server_pn);
    d = rec = g->plain;
    reclen = len;
    trailer = d[0] & 0x80 ? RUDP_PKT_CRCLEN : 0;
    if (g->forged) {
      /* First a forgery: the opened packet with a zero tag, raw. */
      uint8_t forged[FUZZ_BUFLEN];
      memcpy(forged, d, len);
      memset(forged + len, 0, RUDP_AEAD_TAGLEN);
      g->mode = FUZZ_CONN_RAW;
      cg_feed(g, tcode, forged, len + (trailer ? 0 : RUDP_AEAD_TAGLEN));
      g->mode = mode;
      tcode = 0;
    }
  }
#endif
  if (d && mode == FUZZ_CONN_WRAP && !(d[0] & 0x80)) {
    rudp_pkt_hd hd;
    rudp_ssize hdlen = rudp_pkt_decode_hd(&hd, d, len, 8);
    FUZZ_CHECK(hdlen > 0);
    rec = d + hdlen;
    reclen = hd.pktlen - (size_t)hdlen - trailer;
    sealed = NULL; /* renumbered: not the server's bytes */
  } else if (mode == FUZZ_CONN_WRAP) {
    mode = FUZZ_CONN_RESEAL;
  }
  if (!d) {
    /* An empty datagram is dropped by the client as malformed: only the
     * clock matters.  RESEAL and RAW feed nothing for 0 bytes. */
    mode = FUZZ_CONN_RESEAL;
  }
  ctl = FUZZ_CONN_CTL(mode, tcode, g->pending_act);
  g->pending_act = FUZZ_CONN_ACT_NONE;
  rec_put(&g->rec, ctl, rec, reclen);
  if (!g->rec.full) {
    fuzz_conn_step(&g->fc, ctl, rec, reclen);
    /* Sealed again, it is exactly what the server sent: the replay takes
     * the same path. */
    if (sealed && !g->fc.dead && memcmp(g->fc.buf, sealed, sealedlen) != 0) {
      fprintf(stderr, "gen_corpus: %s: record %zu sealed differently\n",
              cur_name, g->rec.nrecs);
      abort();
    }
  }
  if (g->delayed && sealed && !(rec[0] & 0x80)) {
    if (g->earlylen == 0) {
      memcpy(g->early, rec, reclen);
      g->earlylen = reclen;
    } else if (((rec[0] ^ g->early[0]) & 0x04) && g->delayed == 1) {
      g->delayed = 2;
      ctl = FUZZ_CONN_CTL(FUZZ_CONN_RESEAL, 0, FUZZ_CONN_ACT_NONE);
      rec_put(&g->rec, ctl, g->early, g->earlylen);
      if (!g->rec.full) {
        fuzz_conn_step(&g->fc, ctl, g->early, g->earlylen);
      }
    }
  }
}

/* conn_session records |sc| in |mode|; |tls| is the TLS setup byte of a
 * fuzz_tls_conn seed (-1: plain fuzz_conn); |extra| 1 adds forgeries, 2 a
 * packet delayed across a key update (conn_gen). */
static void conn_session(const conn_scenario *sc, unsigned mode,
                         const char *suffix, int tls, int extra) {
  static conn_gen gbuf;
  static uint8_t dg[64][1500];
  conn_gen *g = &gbuf;
  size_t dglen[64];
  char name[128];
  int steps;

  memset(g, 0, sizeof(*g));
  g->sc = sc;
  g->mode = mode;
  g->forged = extra == 1;
  g->delayed = extra == 2;
  g->last_stream = -1;
  g->fc.out = cg_out;
  g->fc.observe = cg_observe;
  snprintf(name, sizeof(name), "%s%s", sc->name, suffix);
  cur_name = name;

  g->rec.buf[g->rec.len++] = sc->setup;
  if (tls >= 0) {
    g->rec.buf[g->rec.len++] = (uint8_t)tls;
  }
  if (sc->setup & FUZZ_CONN_SETUP_NOMEM) {
    g->rec.buf[g->rec.len++] = sc->nomem_at;
  }
#ifdef HAVE_OPENSSL
  if (tls >= 0) {
    /* As fuzz_tls_conn.c sets it up. */
    g->fc.tls_setup = (uint8_t)tls;
    g->fc.client_tls = fuzz_tls_client_ctx((unsigned)tls);
    g->fc.server_tls = fuzz_tls_server_ctx((unsigned)tls);
    if (tls & FUZZ_TLS_CLIENT_KEYUPDATE) {
      g->fc.client_key_update = FUZZ_TLS_KEYUPDATE_INTERVAL;
    }
    if (tls & FUZZ_TLS_SERVER_KEYUPDATE) {
      g->fc.server_key_update = FUZZ_TLS_KEYUPDATE_INTERVAL;
    }
  }
#endif
  fuzz_conn_init(&g->fc, sc->setup, sc->nomem_at, 1);
#ifdef HAVE_OPENSSL
  if (tls >= 0) {
    g->view = fuzz_tls_view_new(g->fc.server);
    g->server_pn = g->fc.server_out_pn;
  }
#endif
  g->start = g->fc.now;
  g->started = 1;

  for (steps = 0; steps < 10000 && !g->rec.full; ++steps) {
    rudp_conn *s = g->fc.server;
    size_t ndg = 0, i;
    rudp_tstamp next_act = RUDP_TSTAMP_MAX, ce, se, t;
    const action *a = &sc->acts[g->next];
    int was;

    if ((a->kind == T_STOP && g->start + a->at_ms * MS <= g->fc.now) ||
        g->fc.now - g->start > MAXTIME) {
      break;
    }
    /* The server's timers and scripted actions due now (the server
     * draws from the peer's random stream, the harness's client never). */
    was = peer_rand(1);
    if (rudp_conn_get_expiry(s) <= g->fc.now) {
      FUZZ_CHECK(rudp_conn_handle_expiry(s, g->fc.now) == 0);
    }
    while (a->kind != S_END && a->kind != T_STOP &&
           g->start + a->at_ms * MS <= g->fc.now) {
      int client = a->kind == C_ABORT || a->kind == S_SRESET;
      peer_rand(!client);
      cg_do(g, a);
      peer_rand(1);
      a = &sc->acts[++g->next];
    }
    if (a->kind != S_END) {
      next_act = g->start + a->at_ms * MS;
    }
    /* What the server sends now arrives in one burst. */
    while (ndg < 64) {
      rudp_ssize n =
          rudp_conn_write_pkt(s, dg[ndg], sizeof(dg[ndg]), g->fc.now);
      FUZZ_CHECK(n >= 0);
      if (n == 0) {
        break;
      }
      offer_datagram(dg[ndg], (size_t)n, 8);
      dglen[ndg++] = (size_t)n;
    }
    peer_rand(was);
    if (ndg > 0) {
      int first = 1;
      for (i = 0; i < ndg; ++i) {
        uint64_t k = g->n_s2c++;
        if (k < 64 && ((sc->drop_s2c >> k) & 1)) {
          continue;
        }
        cg_feed(g, first ? 1 : 0, dg[i], dglen[i]);
        first = 0;
      }
      if (first) {
        cg_feed(g, 1, NULL, 0);
      }
      continue;
    }
    if (g->pending_act != FUZZ_CONN_ACT_NONE) {
      cg_feed(g, 0, NULL, 0);
      continue;
    }
    /* Idle: move the clock to the next event. */
    ce = g->fc.dead ? RUDP_TSTAMP_MAX : rudp_conn_get_expiry(g->fc.client);
    se = rudp_conn_get_expiry(s);
    t = tmin(next_act, se);
    if (ce == RUDP_TSTAMP_MAX && t == RUDP_TSTAMP_MAX) {
      break;
    }
    if (a->kind == S_END && rudp_conn_get_state(s) == RUDP_CONN_STATE_CLOSED &&
        (g->fc.dead || g->fc.closed)) {
      break;
    }
    if (ce <= t) {
      cg_feed(g, 7, NULL, 0);
    } else {
      cg_feed(g, time_code(t - g->fc.now), NULL, 0);
    }
  }
  if ((sc->setup & FUZZ_CONN_SETUP_NOMEM) && !g->fc.fm.failed) {
    fprintf(stderr, "gen_corpus: %s: no allocation failed\n", name);
  }
  fuzz_conn_finish(&g->fc);
#ifdef HAVE_OPENSSL
  fuzz_tls_peer_del(g->view);
  g->view = NULL;
#endif
  write_file(tls >= 0 ? "tls_conn" : "conn", name, NULL, 0, g->rec.buf,
             g->rec.len);
}

#define SETUP_E FUZZ_CONN_SETUP_ECHO
#define SETUP_I FUZZ_CONN_SETUP_INFLIGHT

static const conn_scenario conn_scenarios[] = {
    {"echo",
     SETUP_E,
     0,
     0,
     0,
     1,
     {{0, S_WRITE_BIDI, 600, 1}, {300, S_CLOSE, 0, 0}}},
    {"bulk", 0, 0, 0, 0, 1, {{0, S_WRITE_UNI, 8000, 1}, {800, S_CLOSE, 0, 0}}},
    {"datagrams",
     SETUP_E,
     0,
     0,
     0,
     1,
     {{0, S_DGRAM, 100, 0},
      {10, S_DGRAM, 300, 0},
      {20, S_DGRAM, 1, 0},
      {200, S_ABORT, 0x42, 0}}},
    {"inflight",
     SETUP_I,
     0,
     0,
     0,
     1,
     {{100, S_STOP, 5, 0},
      {300, C_ACT, FUZZ_CONN_ACT_WRITE, 0},
      {500, S_CLOSE, 0, 0}}},
    {"small-windows",
     FUZZ_CONN_SETUP_SMALL | SETUP_E,
     0,
     0,
     0,
     1,
     {{0, S_WRITE_BIDI, 6000, 1}, {2500, S_CLOSE, 0, 0}}},
    {"streams",
     SETUP_E,
     0,
     0,
     0,
     1,
     {{0, S_WRITE_BIDI, 100, 1},
      {1, S_WRITE_BIDI, 100, 1},
      {2, S_WRITE_BIDI, 100, 0},
      {3, S_WRITE_UNI, 50, 1},
      {4, S_WRITE_UNI, 50, 0},
      {400, S_CLOSE, 0, 0}}},
    {"loss",
     SETUP_I | SETUP_E,
     0,
     0x0aULL,
     0x05ULL,
     0,
     {{0, S_WRITE_BIDI, 3000, 1}, {2000, S_CLOSE, 0, 0}}},
    {"reset",
     0,
     0,
     0,
     0,
     1,
     {{0, S_WRITE_BIDI, 2000, 0}, {20, S_RESET, 3, 0}, {200, S_CLOSE, 0, 0}}},
    {"client-close",
     SETUP_I,
     0,
     0,
     0,
     0,
     {{50, C_ACT, FUZZ_CONN_ACT_SHUTDOWN, 0},
      {100, C_ACT, FUZZ_CONN_ACT_CLOSE, 0}}},
    {"client-acts",
     0,
     0,
     0,
     0,
     1,
     {{0, S_WRITE_BIDI, 200, 0},
      {10, C_ACT, FUZZ_CONN_ACT_UNI, 0},
      {20, C_ACT, FUZZ_CONN_ACT_DGRAM, 0},
      {30, C_ACT, FUZZ_CONN_ACT_WRITE, 0},
      {40, C_ACT, FUZZ_CONN_ACT_RESET, 0},
      {50, C_ACT, FUZZ_CONN_ACT_STOP, 0},
      {400, S_CLOSE, 0, 0}}},
    {"keepalive",
     FUZZ_CONN_SETUP_KEEPALIVE,
     0,
     0,
     0,
     0,
     {{0, S_WRITE_BIDI, 100, 1}, {3000, T_STOP, 0, 0}}},
    {"reno",
     FUZZ_CONN_SETUP_RENO | SETUP_I,
     0,
     0,
     0,
     0,
     {{0, S_WRITE_UNI, 5000, 1}, {800, S_CLOSE, 0, 0}}},
    {"stateless-reset",
     SETUP_I,
     0,
     0,
     0,
     0,
     {{0, S_WRITE_BIDI, 300, 0}, {100, S_SRESET, 43, 0}}},
    {"abort",
     SETUP_I,
     0,
     0,
     0,
     0,
     {{0, S_WRITE_BIDI, 300, 0},
      {50, C_ACT, FUZZ_CONN_ACT_WRITE, 0},
      {60, C_ABORT, 0, 0}}},
    {"nodgram",
     FUZZ_CONN_SETUP_NODGRAM,
     0,
     0,
     0,
     0,
     {{0, S_WRITE_BIDI, 100, 1}, {100, S_CLOSE, 0, 0}}},
    {"nomem1",
     FUZZ_CONN_SETUP_NOMEM | SETUP_E | SETUP_I,
     1,
     0,
     0,
     0,
     {{0, S_WRITE_BIDI, 1500, 1}, {300, S_CLOSE, 0, 0}}},
    {"nomem2",
     FUZZ_CONN_SETUP_NOMEM | SETUP_E | SETUP_I,
     2,
     0,
     0,
     0,
     {{0, S_WRITE_BIDI, 1500, 1}, {300, S_CLOSE, 0, 0}}},
    {"nomem4",
     FUZZ_CONN_SETUP_NOMEM | SETUP_E | SETUP_I,
     4,
     0,
     0,
     0,
     {{0, S_WRITE_BIDI, 1500, 1}, {300, S_CLOSE, 0, 0}}},
    {"nomem6",
     FUZZ_CONN_SETUP_NOMEM | SETUP_E | SETUP_I,
     6,
     0,
     0,
     0,
     {{0, S_WRITE_BIDI, 1500, 1}, {300, S_CLOSE, 0, 0}}},
};

/* ------------------------------------------------------------ endpoint */

#define MAXCLIENTS 3

enum {
  E_END = 0,
  E_CONNECT,   /* client arg connects from address arg2 */
  E_WRITE,     /* client arg writes arg2 bytes on a new bidi stream, FIN */
  E_DGRAM,     /* client arg sends a datagram of arg2 bytes */
  E_CLOSE,     /* client arg closes */
  E_ABORT,     /* client arg aborts */
  E_REBIND,    /* client arg now sends from address arg2 */
  E_RAW_VN,    /* a 1200-byte long packet of an unknown version, from arg2 */
  E_RAW_SHORT, /* a short packet for no connection, from arg2 */
  E_EP_ACT,    /* the next record carries endpoint action arg */
  E_STOP       /* stop recording */
};

typedef struct ep_action {
  unsigned at_ms;
  int kind;
  unsigned arg;
  unsigned arg2;
} ep_action;

typedef struct ep_scenario {
  const char *name;
  uint8_t setup;
  uint8_t nomem_at;
  uint64_t drop_s2c, drop_c2s;
  ep_action acts[16];
} ep_scenario;

typedef struct ep_client {
  rudp_conn *conn;
  unsigned addr;
} ep_client;

typedef struct ep_gen {
  fuzz_ep fe;
  recorder rec;
  const ep_scenario *sc;
  fuzz_mem cm;
  rudp_settings cs;
  ep_client cl[MAXCLIENTS];
  uint64_t n_s2c, n_c2s;
  uint8_t pending_act;
  rudp_tstamp start;
  size_t next;
} ep_gen;

static int ecl_readable(rudp_conn *conn, int64_t id, void *ud) {
  uint8_t b[2048];
  int fin, guard;
  (void)ud;
  for (guard = 0; guard < 64; ++guard) {
    if (rudp_conn_stream_read(conn, id, b, sizeof(b), &fin) <= 0) {
      break;
    }
  }
  return 0;
}

static const rudp_callbacks ep_client_callbacks = {
    .stream_readable = ecl_readable,
};

/* The endpoint's output reaches the client now at that address. */
static void eg_out(fuzz_ep *fe, unsigned addr, const uint8_t *data,
                   size_t len) {
  ep_gen *g = (ep_gen *)fe;
  uint64_t k = g->n_s2c++;
  int i;
  offer_datagram(data, len, 8);
  if (k < 64 && ((g->sc->drop_s2c >> k) & 1)) {
    return;
  }
  for (i = 0; i < MAXCLIENTS; ++i) {
    if (g->cl[i].conn && g->cl[i].addr == addr) {
      int was = peer_rand(1);
      int rv = rudp_conn_read_pkt(g->cl[i].conn, data, len, fe->now);
      peer_rand(was);
      FUZZ_CHECK(rv == 0 || rv == RUDP_ERR_INVALID_STATE);
      return;
    }
  }
}

static void eg_feed(ep_gen *g, unsigned addr, unsigned tcode, const uint8_t *d,
                    size_t len) {
  uint8_t ctl = FUZZ_EP_CTL(addr, 1, tcode, g->pending_act);
  g->pending_act = FUZZ_EP_ACT_NONE;
  rec_put(&g->rec, ctl, d, len);
  if (!g->rec.full) {
    fuzz_ep_step(&g->fe, ctl, d, len);
  }
}

static void eg_do(ep_gen *g, const ep_action *a) {
  ep_client *c = &g->cl[a->arg % MAXCLIENTS];
  uint8_t raw[1200];
  int64_t id;

  switch (a->kind) {
  case E_CONNECT: {
    rudp_cid dcid, scid;
    uint8_t b[8];
    size_t i;
    for (i = 0; i < 8; ++i) {
      b[i] = (uint8_t)(0xa0 + a->arg * 16 + i);
    }
    rudp_cid_init(&dcid, b, 8);
    for (i = 0; i < 8; ++i) {
      b[i] = (uint8_t)(0xb0 + a->arg * 16 + i);
    }
    rudp_cid_init(&scid, b, 8);
    FUZZ_CHECK(rudp_conn_client_new(&c->conn, &dcid, &scid, &g->cs,
                                    &ep_client_callbacks, &g->cm.mem, NULL,
                                    g->fe.now) == 0);
    c->addr = a->arg2;
    break;
  }
  case E_WRITE:
    if (c->conn && rudp_conn_open_stream(c->conn, 1, &id) == 0) {
      (void)rudp_conn_stream_write(c->conn, id, gen_pattern, a->arg2, 1);
    }
    break;
  case E_DGRAM:
    if (c->conn) {
      (void)rudp_conn_send_datagram(c->conn, gen_pattern, a->arg2);
    }
    break;
  case E_CLOSE:
    if (c->conn) {
      (void)rudp_conn_close(c->conn, g->fe.now);
    }
    break;
  case E_ABORT:
    if (c->conn) {
      (void)rudp_conn_abort(c->conn, 0x99, "bye", g->fe.now);
    }
    break;
  case E_REBIND:
    c->addr = a->arg2;
    break;
  case E_RAW_VN:
    memset(raw, 0, sizeof(raw));
    raw[0] = 0xc0;
    raw[1] = 0x0a, raw[2] = 0x1a, raw[3] = 0x2a, raw[4] = 0x3a;
    raw[5] = 8;
    memcpy(raw + 6, "\x11\x12\x13\x14\x15\x16\x17\x18", 8);
    raw[14] = 8;
    memcpy(raw + 15, "\x21\x22\x23\x24\x25\x26\x27\x28", 8);
    eg_feed(g, a->arg2, 1, raw, sizeof(raw));
    break;
  case E_RAW_SHORT:
    memset(raw, 0x5a, 60);
    raw[0] = 0x43;
    eg_feed(g, a->arg2, 1, raw, 60);
    break;
  case E_EP_ACT:
    g->pending_act = (uint8_t)a->arg;
    break;
  default:
    break;
  }
}

/* ep_session records |sc|; |tls| is the TLS setup byte of a
 * fuzz_tls_endpoint seed (-1: plain fuzz_endpoint), whose clients use the
 * client context of variant |client| (-1: plain-mode clients), named
 * |name| (NULL: the scenario's). */
static void ep_session(const ep_scenario *sc, int tls, int client,
                       const char *name) {
  static ep_gen gbuf;
  ep_gen *g = &gbuf;
  static uint8_t dg[64][1500];
  size_t dglen[64];
  unsigned dgaddr[64];
  int steps, i;

  memset(g, 0, sizeof(*g));
  g->sc = sc;
  g->fe.out = eg_out;
  cur_name = name ? name : sc->name;
  fuzz_mem_init(&g->cm);
  rudp_settings_default(&g->cs);

  g->rec.buf[g->rec.len++] = sc->setup;
  if (tls >= 0) {
    g->rec.buf[g->rec.len++] = (uint8_t)tls;
  }
  if (sc->setup & FUZZ_EP_SETUP_NOMEM) {
    g->rec.buf[g->rec.len++] = sc->nomem_at;
  }
#ifdef HAVE_OPENSSL
  if (tls >= 0) {
    /* As fuzz_tls_endpoint.c sets it up. */
    g->fe.tls = fuzz_tls_server_ctx((unsigned)tls);
    g->fe.tls_setup = (uint8_t)tls;
    if (client >= 0) {
      g->cs.tls = fuzz_tls_client_ctx((unsigned)client);
    }
  }
#else
  (void)client;
#endif
  fuzz_ep_init(&g->fe, sc->setup, sc->nomem_at);
  g->start = g->fe.now;

  for (steps = 0; steps < 10000 && !g->rec.full; ++steps) {
    size_t ndg = 0, k;
    rudp_tstamp next_act = RUDP_TSTAMP_MAX, ce = RUDP_TSTAMP_MAX, ee, t;
    const ep_action *a = &sc->acts[g->next];
    int live = 0;

    if ((a->kind == E_STOP && g->start + a->at_ms * MS <= g->fe.now) ||
        g->fe.now - g->start > MAXTIME) {
      break;
    }
    while (a->kind != E_END && a->kind != E_STOP &&
           g->start + a->at_ms * MS <= g->fe.now) {
      /* The clients draw from the peer's random stream; raw datagrams go
       * straight to the endpoint, which draws from the harness's. */
      int was = peer_rand(a->kind != E_RAW_VN && a->kind != E_RAW_SHORT);
      eg_do(g, a);
      peer_rand(was);
      a = &sc->acts[++g->next];
    }
    if (a->kind != E_END) {
      next_act = g->start + a->at_ms * MS;
    }
    for (i = 0; i < MAXCLIENTS; ++i) {
      rudp_conn *c = g->cl[i].conn;
      int was;
      if (!c) {
        continue;
      }
      was = peer_rand(1);
      if (rudp_conn_get_expiry(c) <= g->fe.now) {
        FUZZ_CHECK(rudp_conn_handle_expiry(c, g->fe.now) == 0);
      }
      while (ndg < 64) {
        rudp_ssize n =
            rudp_conn_write_pkt(c, dg[ndg], sizeof(dg[ndg]), g->fe.now);
        FUZZ_CHECK(n >= 0);
        if (n == 0) {
          break;
        }
        offer_datagram(dg[ndg], (size_t)n, g->fe.st.cidlen);
        dgaddr[ndg] = g->cl[i].addr;
        dglen[ndg++] = (size_t)n;
      }
      peer_rand(was);
      ce = tmin(ce, rudp_conn_get_expiry(c));
      if (rudp_conn_get_state(c) != RUDP_CONN_STATE_CLOSED) {
        live = 1;
      }
    }
    if (ndg > 0) {
      int first = 1;
      for (k = 0; k < ndg; ++k) {
        uint64_t m = g->n_c2s++;
        if (m < 64 && ((sc->drop_c2s >> m) & 1)) {
          continue;
        }
        eg_feed(g, dgaddr[k], first ? 1 : 0, dg[k], dglen[k]);
        first = 0;
      }
      if (first) {
        eg_feed(g, 0, 1, NULL, 0);
      }
      continue;
    }
    if (g->pending_act != FUZZ_EP_ACT_NONE) {
      eg_feed(g, 0, 0, NULL, 0);
      continue;
    }
    if (a->kind == E_END && !live) {
      break;
    }
    ee = g->fe.dead ? RUDP_TSTAMP_MAX : rudp_endpoint_get_expiry(g->fe.ep);
    t = tmin(next_act, ce);
    if (ee == RUDP_TSTAMP_MAX && t == RUDP_TSTAMP_MAX) {
      break;
    }
    if (ee <= t) {
      eg_feed(g, 0, 7, NULL, 0);
    } else {
      eg_feed(g, 0, time_code(t - g->fe.now), NULL, 0);
    }
  }
  if ((sc->setup & FUZZ_EP_SETUP_NOMEM) && !g->fe.fm.failed) {
    fprintf(stderr, "gen_corpus: %s: no allocation failed\n", cur_name);
  }
  fuzz_ep_finish(&g->fe);
  for (i = 0; i < MAXCLIENTS; ++i) {
    rudp_conn_del(g->cl[i].conn);
  }
  FUZZ_CHECK(g->cm.nlive == 0);
  write_file(tls >= 0 ? "tls_endpoint" : "endpoint", cur_name, NULL, 0,
             g->rec.buf, g->rec.len);
}

#define EP_ONE                                                                 \
  {                                                                            \
    {0, E_CONNECT, 0, 0}, {100, E_WRITE, 0, 800}, { 400, E_CLOSE, 0, 0 }       \
  }

/* The same, slow enough that a CONNECT lost to an allocation failure is
 * retransmitted (1 s) before the script moves on. */
#define EP_SLOW                                                                \
  {                                                                            \
    {0, E_CONNECT, 0, 0}, {1500, E_WRITE, 0, 800}, { 3000, E_CLOSE, 0, 0 }     \
  }

static const ep_scenario ep_scenarios[] = {
    {"one", 0, 0, 0, 0, EP_ONE},
    {"two",
     0,
     0,
     0,
     0,
     {{0, E_CONNECT, 0, 0},
      {5, E_CONNECT, 1, 3},
      {100, E_WRITE, 0, 500},
      {110, E_WRITE, 1, 700},
      {400, E_CLOSE, 0, 0},
      {410, E_CLOSE, 1, 0}}},
    {"retry", 1, 0, 0, 0, EP_ONE},
    {"rebind",
     0,
     0,
     0,
     0,
     {{0, E_CONNECT, 0, 0},
      {100, E_WRITE, 0, 300},
      {200, E_REBIND, 0, 1},
      {300, E_WRITE, 0, 300},
      {600, E_CLOSE, 0, 0}}},
    {"garbage",
     0,
     0,
     0,
     0,
     {{0, E_RAW_VN, 0, 2},
      {10, E_RAW_SHORT, 0, 2},
      {20, E_CONNECT, 0, 0},
      {100, E_WRITE, 0, 100},
      {300, E_CLOSE, 0, 0}}},
    {"limits",
     FUZZ_EP_SETUP_SMALL,
     0,
     0,
     0,
     {{0, E_CONNECT, 0, 0},
      {1, E_CONNECT, 1, 2},
      {2, E_CONNECT, 2, 3},
      {200, E_WRITE, 0, 100},
      {400, E_CLOSE, 0, 0},
      {400, E_CLOSE, 1, 0},
      {400, E_CLOSE, 2, 0}}},
    {"dgram",
     0,
     0,
     0,
     0,
     {{0, E_CONNECT, 0, 0},
      {100, E_DGRAM, 0, 100},
      {110, E_DGRAM, 0, 1000},
      {120, E_DGRAM, 0, 1},
      {400, E_CLOSE, 0, 0}}},
    {"server-acts",
     0,
     0,
     0,
     0,
     {{0, E_CONNECT, 0, 0},
      {100, E_EP_ACT, FUZZ_EP_ACT_WRITE, 0},
      {300, E_EP_ACT, FUZZ_EP_ACT_CLOSE, 0}}},
    {"noaccept", FUZZ_EP_SETUP_NOACCEPT, 0, 0, 0, EP_ONE},
    {"abort",
     0,
     0,
     0,
     0,
     {{0, E_CONNECT, 0, 0}, {100, E_WRITE, 0, 500}, {200, E_ABORT, 0, 0}}},
    {"cid20", FUZZ_EP_SETUP_CID20, 0, 0, 0, EP_ONE},
    {"loss",
     0,
     0,
     0x14ULL,
     0x0aULL,
     {{0, E_CONNECT, 0, 0}, {100, E_WRITE, 0, 3000}, {1500, E_CLOSE, 0, 0}}},
    {"unreachable",
     FUZZ_EP_SETUP_NOECHO,
     0,
     0,
     0,
     {{0, E_CONNECT, 0, 0},
      {50, E_EP_ACT, FUZZ_EP_ACT_UNREACHABLE, 0},
      {100, E_WRITE, 0, 200},
      {300, E_CLOSE, 0, 0}}},
    {"idle",
     FUZZ_EP_SETUP_RESET_RATE,
     0,
     0,
     0,
     {{0, E_CONNECT, 0, 0}, {2000, E_STOP, 0, 0}}},
    {"nomem2", FUZZ_EP_SETUP_NOMEM, 2, 0, 0, EP_SLOW},
    {"nomem5", FUZZ_EP_SETUP_NOMEM, 5, 0, 0, EP_SLOW},
    {"nomem9", FUZZ_EP_SETUP_NOMEM, 9, 0, 0, EP_SLOW},
    {"nomem14", FUZZ_EP_SETUP_NOMEM, 14, 0, 0, EP_SLOW},
};

/* ------------------------------------------------------------ tp */

/* tp_seeds adds transport parameters the sessions do not show: every
 * parameter set, and unknown (greasing) ids. */
static void tp_seeds(void) {
  rudp_transport_params tp;
  uint8_t out[RUDP_TP_MAXLEN + 16];
  rudp_ssize n;
  uint8_t flag;

  cur_name = "all";
  rudp_transport_params_default(&tp);
  tp.max_idle_timeout = 30 * RUDP_SECONDS;
  tp.max_udp_payload_size = 1500;
  tp.initial_max_data = 1 << 20;
  tp.initial_max_stream_data_bidi_local = 1 << 18;
  tp.initial_max_stream_data_bidi_remote = 1 << 18;
  tp.initial_max_stream_data_uni = 1 << 18;
  tp.initial_max_streams_bidi = 100;
  tp.initial_max_streams_uni = 100;
  tp.ack_delay_exponent = 10;
  tp.max_ack_delay = 40 * MS;
  tp.max_datagram_frame_size = 1200;
  tp.original_dcidlen = 8;
  tp.original_dcid_present = 1;
  memset(tp.original_dcid, 0xd0, 8);
  tp.initial_scidlen = 20;
  tp.initial_scid_present = 1;
  memset(tp.initial_scid, 0x5e, 20);
  tp.retry_scidlen = 0;
  tp.retry_scid_present = 1;
  tp.stateless_reset_token_present = 1;
  memset(tp.stateless_reset_token, 0x77, RUDP_STATELESS_RESET_TOKENLEN);
  n = rudp_tp_encode(out, sizeof(out), &tp, 1);
  FUZZ_CHECK(n > 0);
  flag = 1;
  pool_offer(&tp_pool, fnv(1, out, (size_t)n), flag, out, (size_t)n);

  /* A client's, with a greasing id (31 * 5 + 27) and a 2-byte id. */
  cur_name = "grease";
  memcpy(out,
         "\x40\xb6\x03\xaa\xbb\xcc" /* id 182, 3 bytes */
         "\x01\x02\x43\xe8"         /* max_idle_timeout 1000 ms */
         "\x80\x00\x40\x00\x02\x01" /* id 16384, 2 bytes ... */
         "\x0f",
         17);
  flag = 0;
  pool_offer(&tp_pool, fnv(2, out, 17), flag, out, 17);
}

#ifdef HAVE_OPENSSL
/* ------------------------------------------------------------ tls */

/* tls_sessions records the TLS targets' seeds: every scenario once, with
 * the suite and ALPN variants in turn, key updates started by either side
 * in some, forgeries in one; then handshakes that fail. */
static void tls_sessions(void) {
  size_t i;

  fuzz_tls_init();
  no_pools = 1;
  for (i = 0; i < sizeof(conn_scenarios) / sizeof(conn_scenarios[0]); ++i) {
    const conn_scenario *sc = &conn_scenarios[i];
    int tls = (int)(i % FUZZ_TLS_NVARIANTS);
    if (i % 3 == 0) {
      tls |= FUZZ_TLS_CLIENT_KEYUPDATE;
    }
    /* (Not with losses: a server's update seen late makes the replay
     * seal differently; see cg_feed.) */
    if (i % 4 == 1 && !sc->drop_s2c && !sc->drop_c2s) {
      tls |= FUZZ_TLS_SERVER_KEYUPDATE;
    }
    conn_session(sc, FUZZ_CONN_RESEAL, "", tls, 0);
    if (sc->wrap) {
      conn_session(sc, FUZZ_CONN_WRAP, "-wrap", tls, 0);
    }
    if (i == 0) {
      conn_session(sc, FUZZ_CONN_RESEAL, "-forged", tls, 1);
    }
    if (tls & FUZZ_TLS_SERVER_KEYUPDATE) {
      conn_session(sc, FUZZ_CONN_RESEAL, "-delayed", tls, 2);
    }
  }
  for (i = 0; i < sizeof(ep_scenarios) / sizeof(ep_scenarios[0]); ++i) {
    int v = (int)(i % FUZZ_TLS_NVARIANTS);
    ep_session(&ep_scenarios[i], v, v, NULL);
  }
  /* The server requires an ALPN the client does not offer; they share no
   * cipher suite; the client runs plain mode. */
  ep_session(&ep_scenarios[0], FUZZ_TLS_ALPN, 0, "alpn-refused");
  ep_session(&ep_scenarios[0], 1, 2, "no-common-suite");
  ep_session(&ep_scenarios[0], 0, -1, "plain-client");
  no_pools = 0;
}
#endif

int main(int argc, char **argv) {
  size_t i;
  if (argc != 2) {
    fprintf(stderr, "usage: gen_corpus DIR\n");
    return 2;
  }
  outdir = argv[1];
  trace = getenv("GEN_TRACE") != NULL;
  if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
    die(outdir);
  }
  for (i = 0; i < sizeof(gen_pattern); ++i) {
    gen_pattern[i] = (uint8_t)(i * 13 + 5);
  }
  for (i = 0; i < sizeof(conn_scenarios) / sizeof(conn_scenarios[0]); ++i) {
    const conn_scenario *sc = &conn_scenarios[i];
    conn_session(sc, FUZZ_CONN_RESEAL, "", -1, 0);
    if (sc->wrap) {
      conn_session(sc, FUZZ_CONN_WRAP, "-wrap", -1, 0);
    }
    if (i == 0) {
      conn_session(sc, FUZZ_CONN_RAW, "-raw", -1, 0);
    }
  }
  for (i = 0; i < sizeof(ep_scenarios) / sizeof(ep_scenarios[0]); ++i) {
    ep_session(&ep_scenarios[i], -1, -1, NULL);
  }
  tp_seeds();
#ifdef HAVE_OPENSSL
  tls_sessions();
#endif
  printf("gen_corpus: wrote %zu files to %s\n", nwritten, outdir);
  return 0;
}
