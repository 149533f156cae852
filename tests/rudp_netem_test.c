/*
 * Tests of lib/rudp_netem.c: the spec parser (every accepted form, every
 * rejected one with its message), and the impairment queue driven by a
 * fake clock: loss within statistical bounds, exact delay, bounded jitter
 * that keeps FIFO order, reordering only when asked, duplication,
 * one-bit corruption, exact serialisation times, the queue bounds,
 * determinism and no allocation after warm-up; the lab keys (burst=
 * Gilbert-Elliott loss, queue= bounds) and the byte bound's setter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "rudp_macro.h"
#include "rudp_netem.h"
#include "rudp_test_helper.h"

#define MS RUDP_MILLISECONDS
#define US RUDP_MICROSECONDS
#define SEC RUDP_SECONDS

/* ------------------------------------------------------------ helpers */

static void addr_of(struct sockaddr_in *sin, uint16_t port) {
  memset(sin, 0, sizeof(*sin));
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void init_spec(rudp_netem *ne, const char *str, size_t slots) {
  rudp_netem_spec spec;
  const char *err = "unset";
  assert_int_equal(rudp_netem_parse_ex(&spec, str, &err), 0);
  assert_null(err);
  assert_int_equal(rudp_netem_init(ne, &spec, slots, NULL), 0);
}

/* submit_idx offers a |len|-byte datagram whose first 4 bytes are |idx|
 * (the rest a pattern) at |now|. */
static void submit_idx(rudp_netem *ne, uint32_t idx, size_t len,
                       rudp_tstamp now) {
  uint8_t buf[2048];
  struct sockaddr_in sin;
  size_t i;
  assert_true(len >= 4 && len <= sizeof(buf));
  for (i = 0; i < len; ++i) {
    buf[i] = (uint8_t)(i * 13 + 5);
  }
  memcpy(buf, &idx, 4);
  addr_of(&sin, (uint16_t)(idx & 0xffff));
  assert_int_equal(rudp_netem_submit(ne, buf, len, (struct sockaddr *)&sin,
                                     sizeof(sin), now),
                   0);
}

/* out is one released copy. */
typedef struct out {
  uint32_t idx;
  rudp_tstamp at;
  size_t len;
} out;

/* drain releases, in order, every copy due at or before |until|, each at
 * its exact release time, into |o| (|*n| entries so far, at most |cap|). */
static void drain(rudp_netem *ne, rudp_tstamp until, out *o, size_t *n,
                  size_t cap) {
  rudp_tstamp t;
  while ((t = rudp_netem_next(ne)) <= until) {
    uint8_t buf[2048];
    struct sockaddr_storage to;
    socklen_t tolen;
    uint32_t idx;
    rudp_ssize r;
    /* Nothing is released a nanosecond early. */
    if (t > 0) {
      assert_int_equal(rudp_netem_pop(ne, t - 1, buf, sizeof(buf), &to, &tolen),
                       0);
    }
    r = rudp_netem_pop(ne, t, buf, sizeof(buf), &to, &tolen);
    assert_true(r >= 4);
    memcpy(&idx, buf, 4);
    assert_int_equal(tolen, sizeof(struct sockaddr_in));
    assert_int_equal(ntohs(((struct sockaddr_in *)&to)->sin_port),
                     idx & 0xffff);
    if (o) {
      assert_true(*n < cap);
      o[*n].idx = idx;
      o[*n].at = t;
      o[*n].len = (size_t)r;
    }
    ++*n;
  }
}

/* run offers |n| datagrams of |len| bytes, one every |gap|, starting at
 * |t0|, and releases everything into |o|.  Returns the count released. */
static size_t run(rudp_netem *ne, uint32_t n, size_t len, rudp_duration gap,
                  rudp_tstamp t0, out *o, size_t cap) {
  size_t got = 0;
  uint32_t i;
  for (i = 0; i < n; ++i) {
    drain(ne, t0 + i * gap, o, &got, cap);
    submit_idx(ne, i, len, t0 + i * gap);
  }
  drain(ne, RUDP_TSTAMP_MAX - 1, o, &got, cap);
  assert_int_equal(rudp_netem_next(ne), RUDP_TSTAMP_MAX);
  return got;
}

static out g_out[200000];
static out g_out2[200000];

/* ------------------------------------------------------------ parse */

static void test_rudp_netem_parse_accepted(void **state) {
  rudp_netem_spec sp;
  (void)state;

  assert_int_equal(rudp_netem_parse(&sp,
                                    "loss=2%,delay=20ms,jitter=5ms,reorder=1%,"
                                    "dup=1%,corrupt=0.1%,rate=50mbit"),
                   0);
  assert_int_equal(sp.loss, 20000000);
  assert_int_equal(sp.delay, 20 * MS);
  assert_int_equal(sp.jitter, 5 * MS);
  assert_int_equal(sp.reorder, 10000000);
  assert_int_equal(sp.dup, 10000000);
  assert_int_equal(sp.corrupt, 1000000);
  assert_int_equal(sp.rate, 50000000);
  assert_int_equal(sp.seed, 1);
  assert_true(rudp_netem_spec_is_active(&sp));

  /* Empty: nothing, default seed. */
  assert_int_equal(rudp_netem_parse(&sp, ""), 0);
  assert_int_equal(sp.loss | sp.reorder | sp.dup | sp.corrupt, 0);
  assert_int_equal(sp.delay + sp.jitter + sp.rate, 0);
  assert_int_equal(sp.seed, 1);
  assert_false(rudp_netem_spec_is_active(&sp));
  assert_int_equal(rudp_netem_parse(&sp, "  "), 0);
  assert_int_equal(rudp_netem_parse(&sp, "seed=99"), 0);
  assert_int_equal(sp.seed, 99);
  assert_false(rudp_netem_spec_is_active(&sp));

  /* Spaces, case, fractions, other units. */
  assert_int_equal(
      rudp_netem_parse(&sp, " LOSS = 0.02 , Delay=1.5S,jitter=250us ,"
                            "seed=18446744073709551615,dup=1,corrupt=100%"),
      0);
  assert_int_equal(sp.loss, 20000000);
  assert_int_equal(sp.delay, 1500 * MS);
  assert_int_equal(sp.jitter, 250 * US);
  assert_int_equal(sp.seed, UINT64_MAX);
  assert_int_equal(sp.dup, RUDP_NETEM_PPB);
  assert_int_equal(sp.corrupt, RUDP_NETEM_PPB);
  assert_int_equal(rudp_netem_parse(&sp, "delay=700ns,loss=0.0000001%"), 0);
  assert_int_equal(sp.delay, 700);
  assert_int_equal(sp.loss, 1);
  assert_int_equal(rudp_netem_parse(&sp, "delay=60s,loss=0%"), 0);
  assert_int_equal(sp.delay, 60 * SEC);
  assert_int_equal(sp.loss, 0);

  /* Rates: bits (tc's kbit/mbit/gbit) and bytes (bps/kbps/...). */
  assert_int_equal(rudp_netem_parse(&sp, "rate=1.5mbit"), 0);
  assert_int_equal(sp.rate, 1500000);
  assert_int_equal(rudp_netem_parse(&sp, "rate=100kbit"), 0);
  assert_int_equal(sp.rate, 100000);
  assert_int_equal(rudp_netem_parse(&sp, "rate=1gbit"), 0);
  assert_int_equal(sp.rate, 1000000000);
  assert_int_equal(rudp_netem_parse(&sp, "rate=8000bit"), 0);
  assert_int_equal(sp.rate, 8000);
  assert_int_equal(rudp_netem_parse(&sp, "rate=1000bps"), 0);
  assert_int_equal(sp.rate, 8000);
  assert_int_equal(rudp_netem_parse(&sp, "rate=100KBps"), 0);
  assert_int_equal(sp.rate, 800000);
  assert_int_equal(rudp_netem_parse(&sp, "rate=2.5mbps"), 0);
  assert_int_equal(sp.rate, 20000000);
  assert_int_equal(rudp_netem_parse(&sp, "rate=125gbps"), 0);
  assert_int_equal(sp.rate, 1000000000000ULL);
}

static void test_rudp_netem_parse_rejected(void **state) {
  static const struct {
    const char *spec;
    const char *err;
  } bad[] = {
      {"foo=1%", "unknown key"},
      {"=1%", "unknown key"},
      {"loss=1%,,dup=1%", "unknown key"},
      {"loss=1%,loss=2%", "duplicate key"},
      {"loss", "missing '='"},
      {"loss:2%", "missing '='"},
      {"loss=", "missing value"},
      {"loss=,dup=1%", "missing value"},
      {"loss=abc", "bad number"},
      {"loss=1.%", "bad number"},
      {"loss=.5", "bad number"},
      {"loss=-1%", "bad number"},
      {"seed=-1", "bad number"},
      {"seed=18446744073709551616", "bad number"},
      {"loss=2x", "bad unit"},
      {"loss=2%%", "bad unit"},
      {"delay=20", "bad unit"},
      {"delay=20 ms", "bad unit"},
      {"jitter=5min", "bad unit"},
      {"rate=50", "bad unit"},
      {"rate=50mb", "bad unit"},
      {"loss=101%", "probability above 100%"},
      {"loss=100.0000001%", "probability above 100%"},
      {"dup=1.5", "probability above 100%"},
      {"corrupt=99999999999%", "probability above 100%"},
      {"delay=61s", "time above 60 s"},
      {"jitter=60001ms", "time above 60 s"},
      {"delay=60.000000001s", "time above 60 s"},
      {"rate=7999bit", "rate out of range"},
      {"rate=1001gbit", "rate out of range"},
      {"rate=99999999999bit", "rate out of range"},
      {"loss=1%,", "trailing garbage"},
      {"loss=1% dup=1%", "trailing garbage"},
      {"rate=50mbit/s", "trailing garbage"},
      {"seed=1x", "trailing garbage"},
  };
  rudp_netem_spec sp;
  size_t i;
  (void)state;

  for (i = 0; i < rudp_arraylen(bad); ++i) {
    const char *err = NULL;
    int rv = rudp_netem_parse_ex(&sp, bad[i].spec, &err);
    if (rv != RUDP_ERR_INVALID_ARGUMENT || !err ||
        strcmp(err, bad[i].err) != 0) {
      fail_msg("\"%s\": got %d \"%s\", want \"%s\"", bad[i].spec, rv,
               err ? err : "(null)", bad[i].err);
    }
    assert_int_equal(rudp_netem_parse(&sp, bad[i].spec),
                     RUDP_ERR_INVALID_ARGUMENT);
  }
}

/* ------------------------------------------------------------ queue */

static void test_rudp_netem_loss_rate(void **state) {
  rudp_netem ne;
  size_t got;
  (void)state;

  init_spec(&ne, "loss=2%,seed=42", 16);
  got = run(&ne, 100000, 100, 0, 1000, NULL, 0);
  assert_int_equal(ne.stats.offered, 100000);
  assert_int_equal(ne.stats.sent, got);
  assert_int_equal(ne.stats.dropped_loss + got, 100000);
  /* Binomial(100000, 0.02): mean 2000, sd 44; allow 5 sd. */
  assert_in_range(ne.stats.dropped_loss, 1779, 2221);
  assert_int_equal(ne.stats.dropped_queue, 0);
  assert_int_equal(ne.stats.delayed, 0);
  rudp_netem_free(&ne);

  init_spec(&ne, "loss=100%", 16);
  assert_int_equal(run(&ne, 1000, 100, 0, 0, NULL, 0), 0);
  assert_int_equal(ne.stats.dropped_loss, 1000);
  rudp_netem_free(&ne);
}

static void test_rudp_netem_delay_exact(void **state) {
  rudp_netem ne;
  size_t got, i;
  (void)state;

  init_spec(&ne, "delay=20ms", 64);
  got = run(&ne, 1000, 200, 1 * MS, 5 * SEC, g_out, 1000);
  assert_int_equal(got, 1000);
  for (i = 0; i < got; ++i) {
    assert_int_equal(g_out[i].idx, i);
    assert_int_equal(g_out[i].at, 5 * SEC + i * MS + 20 * MS);
    assert_int_equal(g_out[i].len, 200);
  }
  assert_int_equal(ne.stats.delayed, 1000);
  assert_int_equal(ne.stats.sent, 1000);
  rudp_netem_free(&ne);
}

static void test_rudp_netem_jitter_bounded_fifo(void **state) {
  rudp_netem ne;
  size_t got, i, off = 0;
  rudp_duration lo = RUDP_TSTAMP_MAX, hi = 0;
  (void)state;

  /* 2 ms apart: the FIFO rule lifts some delays, not all. */
  init_spec(&ne, "delay=20ms,jitter=5ms,seed=3", 1024);
  got = run(&ne, 5000, 100, 2 * MS, 0, g_out, 5000);
  assert_int_equal(got, 5000);
  for (i = 0; i < got; ++i) {
    rudp_tstamp sent = (rudp_tstamp)g_out[i].idx * 2 * MS;
    rudp_duration d = g_out[i].at - sent;
    /* FIFO: jitter alone never reorders. */
    assert_int_equal(g_out[i].idx, i);
    assert_in_range(d, 15 * MS, 25 * MS);
    lo = d < lo ? d : lo;
    hi = d > hi ? d : hi;
    off += d != 20 * MS;
  }
  /* The jitter is real: it spans most of its range. */
  assert_true(lo < 16 * MS);
  assert_true(hi > 24 * MS);
  assert_true(off > got / 2);
  assert_int_equal(ne.stats.reordered, 0);
  rudp_netem_free(&ne);
}

/* inversions counts releases of an index lower than one released
 * before. */
static size_t inversions(const out *o, size_t n) {
  size_t i, inv = 0;
  uint32_t maxi = 0;
  for (i = 0; i < n; ++i) {
    if (i > 0 && o[i].idx < maxi) {
      ++inv;
    }
    maxi = o[i].idx > maxi ? o[i].idx : maxi;
  }
  return inv;
}

static void test_rudp_netem_reorder_only_when_asked(void **state) {
  rudp_netem ne;
  size_t got;
  (void)state;

  init_spec(&ne, "delay=10ms,jitter=2ms", 1024);
  got = run(&ne, 10000, 100, 100 * US, 0, g_out, 10000);
  assert_int_equal(got, 10000);
  assert_int_equal(inversions(g_out, got), 0);
  assert_int_equal(ne.stats.reordered, 0);
  rudp_netem_free(&ne);

  init_spec(&ne, "delay=10ms,reorder=10%,seed=5", 1024);
  got = run(&ne, 10000, 100, 100 * US, 0, g_out, 10000);
  assert_int_equal(got, 10000);
  /* Binomial(10000, 0.1): 1000 +- 30; allow 5 sd. */
  assert_in_range(ne.stats.reordered, 850, 1150);
  /* Each held-back datagram (10 ms more) is overtaken by the ~100
   * offered after it. */
  assert_true(inversions(g_out, got) >= ne.stats.reordered);
  rudp_netem_free(&ne);
}

static void test_rudp_netem_dup(void **state) {
  rudp_netem ne;
  size_t got, i;
  (void)state;

  init_spec(&ne, "dup=100%", 64);
  got = run(&ne, 500, 300, 1 * MS, 0, g_out, 1000);
  assert_int_equal(got, 1000);
  for (i = 0; i < 500; ++i) {
    assert_int_equal(g_out[2 * i].idx, i);
    assert_int_equal(g_out[2 * i + 1].idx, i);
    assert_int_equal(g_out[2 * i + 1].len, 300);
  }
  assert_int_equal(ne.stats.duplicated, 500);
  assert_int_equal(ne.stats.sent, 1000);
  rudp_netem_free(&ne);

  init_spec(&ne, "dup=10%,seed=9", 64);
  got = run(&ne, 10000, 100, 0, 0, NULL, 0);
  assert_in_range(ne.stats.duplicated, 850, 1150);
  assert_int_equal(got, 10000 + ne.stats.duplicated);
  rudp_netem_free(&ne);
}

/* popcount8 counts the set bits of |v|. */
static int popcount8(uint8_t v) {
  int n = 0;
  for (; v; v &= (uint8_t)(v - 1)) {
    ++n;
  }
  return n;
}

/* corrupt_run offers |n| datagrams and returns how many came out changed,
 * checking that each changed one differs in exactly one bit. */
static size_t corrupt_run(rudp_netem *ne, size_t n) {
  uint8_t orig[1000], buf[1000];
  struct sockaddr_in sin;
  struct sockaddr_storage to;
  socklen_t tolen;
  size_t i, j, changed = 0;
  rudp_test_rng rng;

  rudp_test_rng_init(&rng, 77);
  addr_of(&sin, 1);
  for (i = 0; i < n; ++i) {
    int bits = 0;
    rudp_test_rng_fill(&rng, orig, sizeof(orig));
    assert_int_equal(rudp_netem_submit(ne, orig, sizeof(orig),
                                       (struct sockaddr *)&sin, sizeof(sin), i),
                     0);
    assert_int_equal(rudp_netem_pop(ne, i + SEC, buf, sizeof(buf), &to, &tolen),
                     sizeof(buf));
    for (j = 0; j < sizeof(buf); ++j) {
      bits += popcount8((uint8_t)(orig[j] ^ buf[j]));
    }
    assert_true(bits <= 1);
    changed += (size_t)bits;
  }
  return changed;
}

static void test_rudp_netem_corrupt_one_bit(void **state) {
  rudp_netem ne;
  size_t changed;
  (void)state;

  init_spec(&ne, "corrupt=100%", 4);
  assert_int_equal(corrupt_run(&ne, 2000), 2000);
  assert_int_equal(ne.stats.corrupted, 2000);
  rudp_netem_free(&ne);

  init_spec(&ne, "corrupt=30%,seed=11", 4);
  changed = corrupt_run(&ne, 2000);
  assert_int_equal(changed, ne.stats.corrupted);
  assert_in_range(changed, 500, 700);
  rudp_netem_free(&ne);

  init_spec(&ne, "rate=1000gbit", 4); /* active, but no corruption */
  assert_int_equal(corrupt_run(&ne, 50), 0);
  rudp_netem_free(&ne);
}

static void test_rudp_netem_rate_exact(void **state) {
  rudp_netem ne;
  size_t got = 0;
  uint32_t i;
  (void)state;

  /* 8 mbit/s: 1000 bytes take exactly 1 ms on the wire. */
  init_spec(&ne, "rate=8mbit,delay=5ms", 64);
  for (i = 0; i < 3; ++i) {
    submit_idx(&ne, i, 1000, 0);
  }
  drain(&ne, 100 * MS, g_out, &got, 10);
  assert_int_equal(got, 3);
  assert_int_equal(g_out[0].at, 1 * MS + 5 * MS);
  assert_int_equal(g_out[1].at, 2 * MS + 5 * MS);
  assert_int_equal(g_out[2].at, 3 * MS + 5 * MS);
  /* An idle link starts at once; a half-size datagram takes half. */
  submit_idx(&ne, 3, 500, 200 * MS);
  submit_idx(&ne, 4, 1000, 200 * MS);
  drain(&ne, RUDP_TSTAMP_MAX - 1, g_out, &got, 10);
  assert_int_equal(got, 5);
  assert_int_equal(g_out[3].at, 200 * MS + 500 * US + 5 * MS);
  assert_int_equal(g_out[4].at, 200 * MS + 1500 * US + 5 * MS);
  rudp_netem_free(&ne);

  /* Rounding is up: 1 byte at 3 mbit/s is 2666.67 ns -> 2667 ns. */
  init_spec(&ne, "rate=3mbit", 4);
  submit_idx(&ne, 0, 4, 0); /* 32 bits: 10666.67 ns */
  assert_int_equal(rudp_netem_next(&ne), 10667);
  rudp_netem_free(&ne);
}

static void test_rudp_netem_queue_bounds(void **state) {
  rudp_netem ne;
  uint32_t i;
  size_t got;
  (void)state;

  /* Rate backlog: 1000-byte datagrams of 1 ms each at 8 mbit/s; the
   * one that would start more than 1 s out is dropped (drop-tail). */
  init_spec(&ne, "rate=8mbit", 2000);
  for (i = 0; i < 1100; ++i) {
    submit_idx(&ne, i, 1000, 0);
  }
  assert_int_equal(ne.stats.dropped_queue, 1100 - 1001);
  got = 0;
  drain(&ne, RUDP_TSTAMP_MAX - 1, g_out, &got, 2000);
  assert_int_equal(got, 1001);
  assert_int_equal(g_out[1000].idx, 1000);
  assert_int_equal(g_out[1000].at, 1001 * MS);
  rudp_netem_free(&ne);

  /* Bytes: at most RUDP_NETEM_MAX_BYTES queued. */
  init_spec(&ne, "delay=1s", 4000);
  for (i = 0; i < 3500; ++i) {
    submit_idx(&ne, i, 1400, 0);
  }
  assert_int_equal(ne.stats.dropped_queue, 3500 - RUDP_NETEM_MAX_BYTES / 1400);
  /* Released bytes make room again. */
  got = 0;
  drain(&ne, 1 * SEC, NULL, &got, 0);
  assert_int_equal(got, RUDP_NETEM_MAX_BYTES / 1400);
  submit_idx(&ne, 9, 1400, 1 * SEC);
  assert_int_equal(ne.stats.dropped_queue, 3500 - RUDP_NETEM_MAX_BYTES / 1400);
  rudp_netem_free(&ne);

  /* Slots. */
  init_spec(&ne, "delay=1s,dup=100%", 10);
  for (i = 0; i < 7; ++i) {
    submit_idx(&ne, i, 100, 0);
  }
  assert_int_equal(ne.stats.dropped_queue, 4);
  assert_int_equal(ne.stats.duplicated, 7);
  got = 0;
  drain(&ne, RUDP_TSTAMP_MAX - 1, NULL, &got, 0);
  assert_int_equal(got, 10);
  rudp_netem_free(&ne);
}

static void test_rudp_netem_deterministic(void **state) {
  static const char spec[] = "loss=3%,delay=10ms,jitter=4ms,reorder=5%,"
                             "dup=2%,corrupt=1%,rate=20mbit,seed=1234";
  rudp_netem a, b;
  size_t na, nb;
  (void)state;

  init_spec(&a, spec, 4096);
  init_spec(&b, spec, 4096);
  na = run(&a, 20000, 1200, 300 * US, 0, g_out, 200000);
  nb = run(&b, 20000, 1200, 300 * US, 0, g_out2, 200000);
  assert_int_equal(na, nb);
  assert_memory_equal(g_out, g_out2, na * sizeof(out));
  assert_memory_equal(&a.stats, &b.stats, sizeof(a.stats));
  /* Every mechanism fired. */
  assert_true(a.stats.dropped_loss > 0);
  assert_true(a.stats.duplicated > 0);
  assert_true(a.stats.corrupted > 0);
  assert_true(a.stats.reordered > 0);
  assert_int_equal(a.stats.offered, 20000);
  assert_int_equal(a.stats.sent + a.stats.dropped_queue,
                   20000 - a.stats.dropped_loss + a.stats.duplicated);
  rudp_netem_free(&a);
  rudp_netem_free(&b);

  /* Another seed, other decisions. */
  init_spec(&b,
            "loss=3%,delay=10ms,jitter=4ms,reorder=5%,dup=2%,"
            "corrupt=1%,rate=20mbit,seed=1235",
            4096);
  nb = run(&b, 20000, 1200, 300 * US, 0, g_out2, 200000);
  assert_true(na != nb || memcmp(g_out, g_out2, na * sizeof(out)) != 0);
  rudp_netem_free(&b);
}

static void test_rudp_netem_no_alloc_after_warmup(void **state) {
  rudp_test_mem tm;
  rudp_netem_spec spec;
  rudp_netem ne;
  size_t warm;
  (void)state;

  rudp_test_mem_init(&tm);
  assert_int_equal(rudp_netem_parse(&spec, "delay=5ms,jitter=1ms,dup=5%,"
                                           "reorder=2%,seed=8"),
                   0);
  assert_int_equal(rudp_netem_init(&ne, &spec, 512, &tm.mem), 0);
  /* Warm-up: a burst touches 400+ slots, more than the ~110 the steady
   * state below keeps in flight (freed slots are reused first). */
  run(&ne, 400, 1400, 0, 0, NULL, 0);
  run(&ne, 5000, 1400, 50 * US, 0, NULL, 0);
  warm = rudp_test_mem_nalloc(&tm);
  run(&ne, 50000, 1400, 50 * US, 1 * SEC, NULL, 0);
  assert_int_equal(rudp_test_mem_nalloc(&tm), warm);
  assert_int_equal(ne.stats.dropped_queue, 0);
  rudp_netem_free(&ne);
  assert_int_equal(tm.nlive, 0);

  /* Allocation failure at init. */
  tm.fail = 1;
  assert_int_equal(rudp_netem_init(&ne, &spec, 16, &tm.mem), RUDP_ERR_NOMEM);
  tm.fail = 0;
  assert_int_equal(tm.nlive, 0);
}

static void test_rudp_netem_bad_arguments(void **state) {
  rudp_netem_spec spec;
  rudp_netem ne;
  uint8_t buf[100] = {1};
  struct sockaddr_in sin;
  struct sockaddr_storage to;
  socklen_t tolen;
  (void)state;

  addr_of(&sin, 7);
  assert_int_equal(rudp_netem_parse(&spec, "delay=1ms"), 0);
  assert_int_equal(rudp_netem_init(&ne, &spec, 0, NULL),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_netem_init(&ne, &spec, 4, NULL), 0);
  assert_int_equal(
      rudp_netem_submit(&ne, buf, 0, (struct sockaddr *)&sin, sizeof(sin), 0),
      RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_netem_submit(&ne, buf, RUDP_MAX_UDP_PAYLOAD + 1,
                                     (struct sockaddr *)&sin, sizeof(sin), 0),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_netem_submit(&ne, buf, 10, (struct sockaddr *)&sin,
                                     sizeof(struct sockaddr_storage) + 1, 0),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(ne.stats.offered, 0);
  /* Too small a buffer: NOBUF, and the datagram stays queued. */
  assert_int_equal(
      rudp_netem_submit(&ne, buf, 100, (struct sockaddr *)&sin, sizeof(sin), 0),
      0);
  assert_int_equal(rudp_netem_peek_len(&ne, 1 * MS - 1), 0);
  assert_int_equal(rudp_netem_peek_len(&ne, 1 * MS), 100);
  assert_int_equal(rudp_netem_pop(&ne, 1 * MS, buf, 99, &to, &tolen),
                   RUDP_ERR_NOBUF);
  assert_int_equal(rudp_netem_pop(&ne, 1 * MS, buf, 100, &to, &tolen), 100);
  assert_int_equal(tolen, sizeof(sin));
  assert_memory_equal(&to, &sin, sizeof(sin));
  assert_int_equal(rudp_netem_pop(&ne, 1 * MS, buf, 100, &to, &tolen), 0);
  rudp_netem_free(&ne);
  rudp_netem_free(&ne); /* idempotent */
  rudp_netem_free(NULL);
}

/* ------------------------------------------------------------ lab */

static void init_lab(rudp_netem *ne, const char *str, size_t slots) {
  rudp_netem_spec spec;
  const char *err = "unset";
  assert_int_equal(rudp_netem_parse_lab(&spec, str, &err), 0);
  assert_null(err);
  assert_int_equal(rudp_netem_init(ne, &spec, slots, NULL), 0);
}

static void test_rudp_netem_parse_lab(void **state) {
  static const struct {
    const char *spec;
    const char *err;
  } bad[] = {
      {"burst=1%", "bad burst"},
      {"burst=1%;2%", "bad burst"},
      {"burst=1%:", "bad number"},
      {"burst=1%:2x", "bad unit"},
      {"burst=1%:101%", "probability above 100%"},
      {"burst=1%:2%:3%:4%:5%", "trailing garbage"},
      {"burst=1%:2%,burst=1%:2%", "duplicate key"},
      {"queue=10", "queue needs rate"},
      {"queue=0,rate=1mbit", "queue out of range"},
      {"queue=1000001,rate=1mbit", "queue out of range"},
      {"queue=0b,rate=1mbit", "queue out of range"},
      {"queue=1025mb,rate=1mbit", "queue out of range"},
      {"queue=99999999999999999999b,rate=1mbit", "queue out of range"},
      {"queue=10gb,rate=1mbit", "bad unit"},
      {"queue=10pkts,rate=1mbit", "bad unit"},
      {"queue=-1,rate=1mbit", "bad number"},
      {"foo=1", "unknown key"},
  };
  static const char *const old_specs[] = {
      ("loss=2%,delay=20ms,jitter=5ms,reorder=1%,dup=1%,corrupt=0.1%,"
       "rate=50mbit"),
      "", "seed=7,rate=1gbit", " LOSS = 0.02 , Delay=1.5S"};
  rudp_netem_spec sp, sp2;
  const char *err;
  size_t i;
  (void)state;

  assert_int_equal(rudp_netem_parse_lab(&sp, "burst=1%:25%", &err), 0);
  assert_null(err);
  assert_int_equal(sp.burst_enter, 10000000);
  assert_int_equal(sp.burst_exit, 250000000);
  assert_int_equal(sp.burst_loss_bad, RUDP_NETEM_PPB);
  assert_int_equal(sp.burst_loss_good, 0);
  assert_true(rudp_netem_spec_is_active(&sp));
  assert_int_equal(
      rudp_netem_parse_lab(&sp, "BURST = 0.5%:0.1:50%:0.01%,loss=1%", &err), 0);
  assert_int_equal(sp.burst_enter, 5000000);
  assert_int_equal(sp.burst_exit, 100000000);
  assert_int_equal(sp.burst_loss_bad, 500000000);
  assert_int_equal(sp.burst_loss_good, 100000);
  assert_int_equal(sp.loss, 10000000);
  /* Only the good-state loss: active too. */
  assert_int_equal(rudp_netem_parse_lab(&sp, "burst=0%:0%:0%:1%", &err), 0);
  assert_true(rudp_netem_spec_is_active(&sp));
  assert_int_equal(rudp_netem_parse_lab(&sp, "burst=0%:10%", &err), 0);
  assert_false(rudp_netem_spec_is_active(&sp));

  assert_int_equal(rudp_netem_parse_lab(&sp, "rate=100mbit,queue=100", &err),
                   0);
  assert_int_equal(sp.queue_pkts, 100);
  assert_int_equal(sp.queue_bytes, 0);
  assert_int_equal(rudp_netem_parse_lab(&sp, "queue=64kb,rate=1mbit", &err), 0);
  assert_int_equal(sp.queue_pkts, 0);
  assert_int_equal(sp.queue_bytes, 65536);
  assert_int_equal(rudp_netem_parse_lab(&sp, "queue=1500B,rate=1mbit", &err),
                   0);
  assert_int_equal(sp.queue_bytes, 1500);
  assert_int_equal(rudp_netem_parse_lab(&sp, "queue=1024mb,rate=1mbit", &err),
                   0);
  assert_int_equal(sp.queue_bytes, 1024ULL * 1048576);
  assert_int_equal(rudp_netem_parse_lab(&sp, "queue=1000000,rate=1mbit", &err),
                   0);
  assert_int_equal(sp.queue_pkts, 1000000);

  for (i = 0; i < rudp_arraylen(bad); ++i) {
    int rv;
    err = NULL;
    rv = rudp_netem_parse_lab(&sp, bad[i].spec, &err);
    if (rv != RUDP_ERR_INVALID_ARGUMENT || !err ||
        strcmp(err, bad[i].err) != 0) {
      fail_msg("\"%s\": got %d \"%s\", want \"%s\"", bad[i].spec, rv,
               err ? err : "(null)", bad[i].err);
    }
  }

  /* The other parsers still refuse the lab keys, with the old message. */
  err = NULL;
  assert_int_equal(rudp_netem_parse_ex(&sp, "burst=1%:25%", &err),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_string_equal(err, "unknown key");
  assert_int_equal(rudp_netem_parse_ex(&sp, "rate=1mbit,queue=10", &err),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_string_equal(err, "unknown key");
  assert_int_equal(rudp_netem_parse(&sp, "queue=10"),
                   RUDP_ERR_INVALID_ARGUMENT);
  /* ... and the lab parser reads every old spec the same way. */
  for (i = 0; i < rudp_arraylen(old_specs); ++i) {
    memset(&sp, 0xa5, sizeof(sp));
    memset(&sp2, 0x5a, sizeof(sp2));
    assert_int_equal(rudp_netem_parse_ex(&sp, old_specs[i], NULL), 0);
    assert_int_equal(rudp_netem_parse_lab(&sp2, old_specs[i], NULL), 0);
    assert_memory_equal(&sp, &sp2, sizeof(sp));
    assert_int_equal(sp.burst_enter | sp.burst_exit | sp.burst_loss_bad |
                         sp.burst_loss_good,
                     0);
    assert_int_equal(sp.queue_pkts + sp.queue_bytes, 0);
  }
}

static void test_rudp_netem_burst_loss(void **state) {
  rudp_netem ne;
  uint32_t i, lost_run = 0, runs = 0, run_len = 0, n = 200000;
  uint64_t before;
  size_t got;
  double mean_loss, mean_run;
  (void)state;

  /* Always enter, never leave: the first datagram finds the good state
   * (kept), every later one the bad state (lost). */
  init_lab(&ne, "burst=100%:0%", 256);
  for (i = 0; i < 100; ++i) {
    submit_idx(&ne, i, 100, 0);
  }
  assert_int_equal(ne.stats.offered, 100);
  assert_int_equal(ne.stats.dropped_loss, 99);
  assert_int_equal(ne.dropped_burst, 99);
  got = 0;
  drain(&ne, RUDP_TSTAMP_MAX - 1, g_out, &got, 10);
  assert_int_equal(got, 1);
  assert_int_equal(g_out[0].idx, 0);
  rudp_netem_free(&ne);

  /* burst=1%:20%: mean loss 0.01 / 0.21 = 4.76%, mean burst 1 / 0.2 = 5
   * datagrams (one seed, so the figures are exact for it; the bounds are
   * the statistics'). */
  init_lab(&ne, "burst=1%:20%,seed=5", 256);
  for (i = 0; i < n; ++i) {
    before = ne.dropped_burst;
    submit_idx(&ne, i, 100, 0);
    got = 0;
    drain(&ne, RUDP_TSTAMP_MAX - 1, NULL, &got, 0);
    if (ne.dropped_burst != before) {
      assert_int_equal(got, 0);
      ++run_len;
    } else {
      assert_int_equal(got, 1);
      if (run_len > 0) {
        ++runs;
        lost_run += run_len;
        run_len = 0;
      }
    }
  }
  assert_int_equal(ne.stats.dropped_loss, ne.dropped_burst);
  mean_loss = (double)ne.dropped_burst / n;
  mean_run = (double)lost_run / runs;
  if (mean_loss < 0.0476 * 0.9 || mean_loss > 0.0476 * 1.1 || mean_run < 4.5 ||
      mean_run > 5.5) {
    fail_msg("loss %.4f (want 0.0476), mean burst %.2f (want 5)", mean_loss,
             mean_run);
  }
  rudp_netem_free(&ne);

  /* Bad-state loss 0% and good-state loss 0%: nothing is lost. */
  init_lab(&ne, "burst=50%:50%:0%:0%", 256);
  for (i = 0; i < 1000; ++i) {
    submit_idx(&ne, i, 100, 0);
  }
  assert_int_equal(ne.stats.dropped_loss, 0);
  rudp_netem_free(&ne);

  /* burst and loss both drop; loss=100% drops what burst kept. */
  init_lab(&ne, "burst=100%:0%,loss=100%", 256);
  for (i = 0; i < 10; ++i) {
    submit_idx(&ne, i, 100, 0);
  }
  assert_int_equal(ne.stats.dropped_loss, 10);
  assert_int_equal(ne.dropped_burst, 9);
  rudp_netem_free(&ne);
}

static void test_rudp_netem_queue_limit(void **state) {
  rudp_netem ne;
  uint32_t i;
  size_t got;
  (void)state;

  /* 8 mbit/s: 1000 bytes take 1 ms.  queue=3 holds three copies,
   * counting the one on the wire. */
  init_lab(&ne, "rate=8mbit,queue=3,delay=10ms", 64);
  for (i = 0; i < 5; ++i) {
    submit_idx(&ne, i, 1000, 0);
  }
  assert_int_equal(ne.stats.dropped_queue, 2);
  /* At 1 ms the first left the queue: room for exactly one. */
  submit_idx(&ne, 5, 1000, 1 * MS);
  submit_idx(&ne, 6, 1000, 1 * MS);
  assert_int_equal(ne.stats.dropped_queue, 3);
  /* A nanosecond before 2 ms the second is still being serialised. */
  submit_idx(&ne, 7, 1000, 2 * MS - 1);
  assert_int_equal(ne.stats.dropped_queue, 4);
  got = 0;
  drain(&ne, RUDP_TSTAMP_MAX - 1, g_out, &got, 10);
  assert_int_equal(got, 4);
  assert_int_equal(g_out[0].idx, 0);
  assert_int_equal(g_out[1].idx, 1);
  assert_int_equal(g_out[2].idx, 2);
  assert_int_equal(g_out[3].idx, 5);
  assert_int_equal(g_out[3].at, 4 * MS + 10 * MS);
  rudp_netem_free(&ne);

  /* Bytes: 2500 b holds two 1000-byte copies, then a 500-byte one. */
  init_lab(&ne, "rate=8mbit,queue=2500b", 64);
  submit_idx(&ne, 0, 1000, 0);
  submit_idx(&ne, 1, 1000, 0);
  submit_idx(&ne, 2, 1000, 0);
  assert_int_equal(ne.stats.dropped_queue, 1);
  submit_idx(&ne, 3, 500, 0);
  submit_idx(&ne, 4, 4, 0);
  assert_int_equal(ne.stats.dropped_queue, 2);
  got = 0;
  drain(&ne, RUDP_TSTAMP_MAX - 1, g_out, &got, 10);
  assert_int_equal(got, 3);
  assert_int_equal(g_out[2].idx, 3);
  assert_int_equal(g_out[2].at, 2500 * US);
  rudp_netem_free(&ne);

  /* A queue bound replaces the one-second backlog bound: 1100 copies of
   * 1 ms each all fit in queue=2000. */
  init_lab(&ne, "rate=8mbit,queue=2000", 2000);
  for (i = 0; i < 1100; ++i) {
    submit_idx(&ne, i, 1000, 0);
  }
  assert_int_equal(ne.stats.dropped_queue, 0);
  got = 0;
  drain(&ne, RUDP_TSTAMP_MAX - 1, NULL, &got, 0);
  assert_int_equal(got, 1100);
  rudp_netem_free(&ne);

  /* The slots still bound it (4 slots, queue=100). */
  init_lab(&ne, "rate=8mbit,queue=100", 4);
  for (i = 0; i < 6; ++i) {
    submit_idx(&ne, i, 1000, 0);
  }
  assert_int_equal(ne.stats.dropped_queue, 2);
  rudp_netem_free(&ne);
}

static void test_rudp_netem_set_max_bytes(void **state) {
  rudp_netem ne;
  uint32_t i;
  size_t got;
  (void)state;

  init_spec(&ne, "delay=1s", 8000);
  assert_int_equal(ne.max_bytes, RUDP_NETEM_MAX_BYTES);
  assert_int_equal(rudp_netem_set_max_bytes(&ne, 0), RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_netem_set_max_bytes(&ne, 2 * RUDP_NETEM_MAX_BYTES), 0);
  for (i = 0; i < 7000; ++i) {
    submit_idx(&ne, i, 1400, 0);
  }
  assert_int_equal(ne.stats.dropped_queue,
                   7000 - 2 * RUDP_NETEM_MAX_BYTES / 1400);
  /* Lowering it keeps what is held and refuses new copies. */
  assert_int_equal(rudp_netem_set_max_bytes(&ne, 1400), 0);
  submit_idx(&ne, 9, 1400, 0);
  assert_int_equal(ne.stats.dropped_queue,
                   7000 - 2 * RUDP_NETEM_MAX_BYTES / 1400 + 1);
  got = 0;
  drain(&ne, RUDP_TSTAMP_MAX - 1, NULL, &got, 0);
  assert_int_equal(got, 2 * RUDP_NETEM_MAX_BYTES / 1400);
  submit_idx(&ne, 10, 1400, 2 * SEC);
  assert_int_equal(rudp_netem_next(&ne), 3 * SEC);
  rudp_netem_free(&ne);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_netem_parse_accepted),
      cmocka_unit_test(test_rudp_netem_parse_rejected),
      cmocka_unit_test(test_rudp_netem_loss_rate),
      cmocka_unit_test(test_rudp_netem_delay_exact),
      cmocka_unit_test(test_rudp_netem_jitter_bounded_fifo),
      cmocka_unit_test(test_rudp_netem_reorder_only_when_asked),
      cmocka_unit_test(test_rudp_netem_dup),
      cmocka_unit_test(test_rudp_netem_corrupt_one_bit),
      cmocka_unit_test(test_rudp_netem_rate_exact),
      cmocka_unit_test(test_rudp_netem_queue_bounds),
      cmocka_unit_test(test_rudp_netem_deterministic),
      cmocka_unit_test(test_rudp_netem_no_alloc_after_warmup),
      cmocka_unit_test(test_rudp_netem_bad_arguments),
      cmocka_unit_test(test_rudp_netem_parse_lab),
      cmocka_unit_test(test_rudp_netem_burst_loss),
      cmocka_unit_test(test_rudp_netem_queue_limit),
      cmocka_unit_test(test_rudp_netem_set_max_bytes),
  };
  return cmocka_run_group_tests_name("netem", tests, NULL, NULL);
}
