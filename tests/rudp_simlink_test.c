/*
 * Tests for the simulator's link model and event loop (tests/sim/rudp_sim.c)
 * on their own, without connections: each impairment does exactly what
 * rudp_sim.h says, so that the property tests over real connections
 * (rudp_sim_test.c) can trust the network they run on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sim/rudp_sim.h"
#include "rudp_test_helper.h"

#define MS RUDP_MILLISECONDS
#define US RUDP_MICROSECONDS

/* put_id writes |id| in the first 8 bytes of |buf| (big-endian). */
static void put_id(uint8_t *buf, uint64_t id) {
  int i;
  for (i = 0; i < 8; ++i) {
    buf[i] = (uint8_t)(id >> (56 - 8 * i));
  }
}

static uint64_t get_id(const uint8_t *buf) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; ++i) {
    v = (v << 8) | buf[i];
  }
  return v;
}

/* make_pkt fills |len| bytes derived from |id| (id first), so a receiver
 * can rebuild what was sent. */
static void make_pkt(uint8_t *buf, size_t len, uint64_t id) {
  rudp_test_rng rng;

  rudp_test_rng_init(&rng, id * 7919 + 1);
  rudp_test_rng_fill(&rng, buf, len);
  if (len >= 8) {
    put_id(buf, id);
  }
}

/* recv_one receives the packet due at exactly rudp_sim_link_next(). */
static rudp_tstamp recv_one(rudp_sim_link *link, uint8_t *buf, size_t buflen,
                            rudp_sim_delivery *d) {
  rudp_tstamp t = rudp_sim_link_next(link);

  assert_true(t != RUDP_TSTAMP_MAX);
  if (t > 0) {
    /* Not one nanosecond early. */
    assert_int_equal(0, rudp_sim_link_recv(link, t - 1, buf, buflen, d));
  }
  assert_int_equal(1, rudp_sim_link_recv(link, t, buf, buflen, d));
  return t;
}

static void test_rudp_simlink_delay_exact(void **state) {
  rudp_sim_link_params p;
  rudp_sim_link link;
  rudp_sim_delivery d;
  uint8_t out[100], in[100];
  uint64_t i;

  (void)state;
  memset(&p, 0, sizeof(p));
  p.delay = 10 * MS;
  assert_int_equal(0, rudp_sim_link_init(&link, &p, 1));
  assert_true(rudp_sim_link_next(&link) == RUDP_TSTAMP_MAX);

  for (i = 0; i < 3; ++i) {
    make_pkt(out, 50 + i, i);
    assert_int_equal(0, rudp_sim_link_send(&link, out, 50 + i, 100 + i,
                                           1000 * MS + i * 3 * MS));
  }
  assert_int_equal(3, rudp_sim_link_inflight(&link));
  for (i = 0; i < 3; ++i) {
    assert_int_equal(1010 * MS + i * 3 * MS,
                     recv_one(&link, in, sizeof(in), &d));
    make_pkt(out, 50 + i, i);
    assert_int_equal(50 + i, d.len);
    assert_memory_equal(out, in, d.len);
    assert_int_equal(i, d.id);
    assert_int_equal(100 + i, d.tag);
    assert_int_equal(1000 * MS + i * 3 * MS, d.sent_at);
    assert_int_equal(RUDP_SIM_PKT_FLAG_NONE, d.flags);
  }
  assert_true(rudp_sim_link_next(&link) == RUDP_TSTAMP_MAX);
  assert_int_equal(
      0, rudp_sim_link_recv(&link, UINT64_MAX - 1, in, sizeof(in), &d));
  assert_int_equal(3, link.stats.sent);
  assert_int_equal(3, link.stats.delivered);
  assert_int_equal(50 + 51 + 52, link.stats.bytes_sent);
  assert_int_equal(50 + 51 + 52, link.stats.bytes_delivered);
  rudp_sim_link_free(&link);

  /* A perfect link delivers in the same instant. */
  memset(&p, 0, sizeof(p));
  assert_int_equal(0, rudp_sim_link_init(&link, &p, 1));
  assert_int_equal(0, rudp_sim_link_send(&link, out, 10, 0, 5));
  assert_int_equal(5, rudp_sim_link_next(&link));
  assert_int_equal(1, rudp_sim_link_recv(&link, 5, in, sizeof(in), &d));
  rudp_sim_link_free(&link);
}

static void test_rudp_simlink_invalid(void **state) {
  rudp_sim_link_params p;
  rudp_sim_link link;
  rudp_sim_delivery d;
  uint8_t buf[64] = {0};

  (void)state;
  memset(&p, 0, sizeof(p));
  p.loss = RUDP_SIM_PPM + 1;
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT, rudp_sim_link_init(&link, &p, 1));
  memset(&p, 0, sizeof(p));
  p.reorder = 1;
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT, rudp_sim_link_init(&link, &p, 1));

  memset(&p, 0, sizeof(p));
  p.loss = RUDP_SIM_PPM; /* certain loss is valid */
  assert_int_equal(0, rudp_sim_link_init(&link, &p, 1));
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT,
                   rudp_sim_link_send(&link, buf, 0, 0, 0));
  assert_int_equal(
      RUDP_ERR_INVALID_ARGUMENT,
      rudp_sim_link_send(&link, buf, RUDP_SIM_MAX_DGRAM + 1, 0, 0));
  assert_int_equal(0, rudp_sim_link_send(&link, buf, 10, 0, 0));
  assert_int_equal(1, link.stats.lost);
  assert_int_equal(0, rudp_sim_link_inflight(&link));
  rudp_sim_link_free(&link);

  /* A too-small receive buffer leaves the packet queued. */
  memset(&p, 0, sizeof(p));
  assert_int_equal(0, rudp_sim_link_init(&link, &p, 1));
  assert_int_equal(0, rudp_sim_link_send(&link, buf, 40, 0, 0));
  assert_int_equal(RUDP_ERR_NOBUF, rudp_sim_link_recv(&link, 0, buf, 39, &d));
  assert_int_equal(1, rudp_sim_link_inflight(&link));
  assert_int_equal(1, rudp_sim_link_recv(&link, 0, buf, 40, &d));
  assert_int_equal(40, d.len);
  rudp_sim_link_free(&link);
}

static void test_rudp_simlink_fifo_with_jitter(void **state) {
  rudp_sim_link_params p;
  rudp_sim_link link;
  rudp_sim_delivery d;
  uint8_t out[64], in[64];
  uint64_t i, n = 5000, next = 0;
  rudp_tstamp t, last = 0, sent, maxextra = 0;

  (void)state;
  memset(&p, 0, sizeof(p));
  p.delay = 20 * MS;
  p.jitter = 30 * MS; /* much larger than the 1 ms gap between packets */
  assert_int_equal(0, rudp_sim_link_init(&link, &p, 42));
  for (i = 0; i < n; ++i) {
    make_pkt(out, sizeof(out), i);
    assert_int_equal(0, rudp_sim_link_send(&link, out, sizeof(out), 0, i * MS));
  }
  while (rudp_sim_link_inflight(&link) > 0) {
    t = recv_one(&link, in, sizeof(in), &d);
    /* In order, each exactly once. */
    assert_int_equal(next, get_id(in));
    assert_int_equal(next, d.id);
    sent = next * MS;
    /* Within [sent + delay, sent + delay + jitter]: clamping to the
     * previous delivery never exceeds the bound, because every earlier
     * packet was sent earlier. */
    assert_true(t >= sent + p.delay);
    assert_true(t <= sent + p.delay + p.jitter);
    assert_true(t >= last);
    if (t - sent - p.delay > maxextra) {
      maxextra = t - sent - p.delay;
    }
    last = t;
    ++next;
  }
  assert_int_equal(n, next);
  /* The jitter is really applied. */
  assert_true(maxextra > 25 * MS);
  assert_int_equal(0, link.stats.reordered);
  rudp_sim_link_free(&link);
}

static void test_rudp_simlink_loss_rate(void **state) {
  rudp_sim_link_params p;
  rudp_sim_link link;
  rudp_sim_delivery d;
  uint8_t out[16], in[16];
  uint64_t i, n = 100000, got = 0, prev = UINT64_MAX;

  (void)state;
  memset(&p, 0, sizeof(p));
  p.loss = RUDP_SIM_PERCENT(10);
  assert_int_equal(100000, p.loss);
  assert_int_equal(0, rudp_sim_link_init(&link, &p, 7));
  for (i = 0; i < n; ++i) {
    put_id(out, i);
    memset(out + 8, 0xab, 8);
    assert_int_equal(0, rudp_sim_link_send(&link, out, sizeof(out), 0, i));
    while (rudp_sim_link_recv(&link, i, in, sizeof(in), &d) == 1) {
      /* No duplicates, no reordering on a lossy link. */
      assert_true(prev == UINT64_MAX || get_id(in) > prev);
      prev = get_id(in);
      ++got;
    }
  }
  /* Binomial(100000, 0.1): sd ~ 95; 5 sd either side. */
  assert_true(link.stats.lost >= 9525 && link.stats.lost <= 10475);
  assert_int_equal(n, got + link.stats.lost);
  assert_int_equal(got, link.stats.delivered);
  assert_int_equal(0, link.stats.lost_burst);
  rudp_sim_link_free(&link);
}

/* loss_runs sends |n| packets over |p| and returns the lost fraction (ppm)
 * and, in |*mean_run_x100|, the mean length of runs of consecutive losses
 * times 100. */
static uint64_t loss_runs(const rudp_sim_link_params *p, uint64_t seed,
                          uint64_t n, uint64_t *mean_run_x100) {
  rudp_sim_link link;
  rudp_sim_delivery d;
  uint8_t out[8], in[8];
  uint64_t i, expect = 0, lost = 0, runs = 0, run = 0;

  assert_int_equal(0, rudp_sim_link_init(&link, p, seed));
  for (i = 0; i < n; ++i) {
    put_id(out, i);
    assert_int_equal(0, rudp_sim_link_send(&link, out, sizeof(out), 0, i));
    if (rudp_sim_link_recv(&link, i, in, sizeof(in), &d) == 1) {
      assert_int_equal(i, get_id(in));
      if (run) {
        ++runs;
        run = 0;
      }
    } else {
      ++lost;
      ++run;
    }
    ++expect;
  }
  if (run) {
    ++runs;
  }
  assert_int_equal(lost, link.stats.lost + link.stats.lost_burst);
  rudp_sim_link_free(&link);
  *mean_run_x100 = runs ? lost * 100 / runs : 0;
  return lost * RUDP_SIM_PPM / expect;
}

static void test_rudp_simlink_burst_loss(void **state) {
  rudp_sim_link_params p;
  uint64_t rate, run;

  (void)state;
  /* Good -> bad with 1%, bad -> good with 25%, everything lost in the bad
   * state: stationary loss 0.01 / 0.26 = 3.85%, bursts of 4 on average. */
  memset(&p, 0, sizeof(p));
  p.burst_enter = RUDP_SIM_PERCENT(1);
  p.burst_exit = RUDP_SIM_PERCENT(25);
  p.burst_loss = RUDP_SIM_PERCENT(100);
  rate = loss_runs(&p, 99, 200000, &run);
  assert_true(rate >= 34000 && rate <= 43000);
  assert_true(run >= 350 && run <= 450);

  /* Independent loss at the same rate clusters far less: a run continues
   * with probability 0.0385, so the mean run is ~1.04. */
  memset(&p, 0, sizeof(p));
  p.loss = 38500;
  rate = loss_runs(&p, 99, 200000, &run);
  assert_true(rate >= 34000 && rate <= 43000);
  assert_true(run >= 100 && run <= 110);
}

/* count_inversions sends |n| packets 1 ms apart and checks that the packets
 * not flagged as reordered arrive in sending order; returns how many
 * packets arrived before one sent earlier. */
static uint64_t count_inversions(const rudp_sim_link_params *p, uint64_t n,
                                 uint64_t *flagged) {
  rudp_sim_link link;
  rudp_sim_delivery d;
  uint8_t out[8], in[8];
  uint64_t i, inv = 0, maxid = 0, prev_inorder = 0, got = 0;
  int any = 0, any_inorder = 0;
  uint8_t *seen = calloc(n, 1);

  assert_non_null(seen);
  *flagged = 0;
  assert_int_equal(0, rudp_sim_link_init(&link, p, 5));
  for (i = 0; i < n; ++i) {
    put_id(out, i);
    assert_int_equal(0, rudp_sim_link_send(&link, out, sizeof(out), 0, i * MS));
  }
  while (rudp_sim_link_inflight(&link) > 0) {
    recv_one(&link, in, sizeof(in), &d);
    i = get_id(in);
    assert_int_equal(0, seen[i]);
    seen[i] = 1;
    ++got;
    if (any && i < maxid) {
      ++inv;
    }
    if (!any || i > maxid) {
      maxid = i;
    }
    any = 1;
    if (d.flags & RUDP_SIM_PKT_FLAG_REORDERED) {
      ++*flagged;
    } else {
      /* Only the held-back packets break the order. */
      assert_true(!any_inorder || i > prev_inorder);
      prev_inorder = i;
      any_inorder = 1;
    }
  }
  assert_int_equal(n, got);
  assert_int_equal(*flagged, link.stats.reordered);
  rudp_sim_link_free(&link);
  free(seen);
  return inv;
}

static void test_rudp_simlink_reorder_only_when_enabled(void **state) {
  rudp_sim_link_params p;
  uint64_t flagged;

  (void)state;
  memset(&p, 0, sizeof(p));
  p.delay = 10 * MS;
  p.jitter = 20 * MS;
  assert_int_equal(0, count_inversions(&p, 10000, &flagged));
  assert_int_equal(0, flagged);

  p.reorder = RUDP_SIM_PERCENT(5);
  p.reorder_delay = 20 * MS;
  assert_true(count_inversions(&p, 10000, &flagged) > 300);
  /* Binomial(10000, 0.05): sd ~ 22. */
  assert_true(flagged >= 390 && flagged <= 610);
}

static void test_rudp_simlink_duplication(void **state) {
  rudp_sim_link_params p;
  rudp_sim_link link;
  rudp_sim_delivery d;
  uint8_t out[200], in[200];
  uint64_t i, n = 10000, copies = 0, dups = 0;
  uint8_t *count = calloc(n, 1);

  (void)state;
  assert_non_null(count);
  memset(&p, 0, sizeof(p));
  p.delay = 1 * MS;
  p.jitter = 1 * MS;
  p.dup = RUDP_SIM_PERCENT(20);
  assert_int_equal(0, rudp_sim_link_init(&link, &p, 11));
  for (i = 0; i < n; ++i) {
    make_pkt(out, 20 + i % 180, i);
    assert_int_equal(0,
                     rudp_sim_link_send(&link, out, 20 + i % 180, i, i * US));
  }
  while (rudp_sim_link_inflight(&link) > 0) {
    recv_one(&link, in, sizeof(in), &d);
    i = get_id(in);
    assert_int_equal(i, d.id);
    assert_int_equal(i, d.tag);
    make_pkt(out, 20 + i % 180, i);
    assert_int_equal(20 + i % 180, d.len);
    assert_memory_equal(out, in, d.len);
    /* The first copy is the original, the second the duplicate. */
    assert_int_equal(count[i] ? RUDP_SIM_PKT_FLAG_DUP : 0,
                     d.flags & RUDP_SIM_PKT_FLAG_DUP);
    ++count[i];
    ++copies;
  }
  for (i = 0; i < n; ++i) {
    assert_true(count[i] == 1 || count[i] == 2);
    dups += count[i] == 2;
  }
  assert_int_equal(dups, link.stats.duplicated);
  assert_int_equal(n + dups, copies);
  assert_int_equal(copies, link.stats.delivered);
  /* Binomial(10000, 0.2): sd 40. */
  assert_true(dups >= 1800 && dups <= 2200);
  rudp_sim_link_free(&link);
  free(count);
}

static int popcount8(uint8_t x) {
  int c = 0;
  while (x) {
    c += x & 1;
    x >>= 1;
  }
  return c;
}

static void test_rudp_simlink_corruption_one_bit(void **state) {
  rudp_sim_link_params p;
  rudp_sim_link link;
  rudp_sim_delivery d;
  uint8_t out[1500], keep[1500], in[1500];
  uint64_t i, n = 5000, flagged = 0, len;
  size_t k;
  int bits;
  uint64_t bitpos_hist[2] = {0, 0};

  (void)state;
  memset(&p, 0, sizeof(p));
  p.corrupt = RUDP_SIM_PERCENT(30);
  p.dup = RUDP_SIM_PERCENT(10);
  assert_int_equal(0, rudp_sim_link_init(&link, &p, 3));
  for (i = 0; i < n; ++i) {
    len = 9 + i % 1400;
    make_pkt(out, len, i);
    memcpy(keep, out, len);
    assert_int_equal(0, rudp_sim_link_send(&link, out, len, 0, i));
    /* The sender's buffer is never touched. */
    assert_memory_equal(keep, out, len);
    while (rudp_sim_link_recv(&link, i, in, sizeof(in), &d) == 1) {
      assert_int_equal(len, d.len);
      bits = 0;
      for (k = 0; k < len; ++k) {
        bits += popcount8((uint8_t)(in[k] ^ out[k]));
        if (in[k] != out[k]) {
          ++bitpos_hist[k < len / 2 ? 0 : 1];
        }
      }
      if (d.flags & RUDP_SIM_PKT_FLAG_CORRUPT) {
        assert_int_equal(1, bits);
        ++flagged;
      } else {
        assert_int_equal(0, bits);
      }
    }
  }
  assert_int_equal(flagged, link.stats.corrupted);
  /* ~30% of ~5500 copies. */
  assert_true(flagged >= 1450 && flagged <= 1850);
  /* The flipped bit is spread over the whole datagram. */
  assert_true(bitpos_hist[0] > flagged / 3 && bitpos_hist[1] > flagged / 3);
  rudp_sim_link_free(&link);
}

static void test_rudp_simlink_bandwidth_exact(void **state) {
  rudp_sim_link_params p;
  rudp_sim_link link;
  rudp_sim_delivery d;
  uint8_t buf[1000] = {0};
  uint64_t i;

  (void)state;
  /* 8 Mbit/s is one byte per microsecond: 1000 bytes take 1 ms. */
  memset(&p, 0, sizeof(p));
  p.rate = 8000000;
  p.delay = 5 * MS;
  assert_int_equal(0, rudp_sim_link_init(&link, &p, 1));
  for (i = 0; i < 10; ++i) {
    assert_int_equal(0, rudp_sim_link_send(&link, buf, 1000, 0, 0));
  }
  for (i = 1; i <= 10; ++i) {
    assert_int_equal(i * MS + 5 * MS, recv_one(&link, buf, sizeof(buf), &d));
  }
  /* Sent during the backlog: waits for the previous one. */
  assert_int_equal(0, rudp_sim_link_send(&link, buf, 500, 0, 3 * MS));
  assert_int_equal(0, rudp_sim_link_send(&link, buf, 1000, 0, 10 * MS));
  assert_int_equal(0, rudp_sim_link_send(&link, buf, 250, 0, 10 * MS));
  /* Busy until 10 ms, so 10.5 + 5. */
  assert_int_equal(15 * MS + 500 * US, recv_one(&link, buf, sizeof(buf), &d));
  assert_int_equal(16 * MS + 500 * US, recv_one(&link, buf, sizeof(buf), &d));
  assert_int_equal(16 * MS + 750 * US, recv_one(&link, buf, sizeof(buf), &d));
  /* An idle link starts serializing at once. */
  assert_int_equal(0, rudp_sim_link_send(&link, buf, 100, 0, 100 * MS));
  assert_int_equal(105 * MS + 100 * US, recv_one(&link, buf, sizeof(buf), &d));
  rudp_sim_link_free(&link);

  /* Fractional nanoseconds round up: 1 byte at 3 Gbit/s is 2.67 ns. */
  memset(&p, 0, sizeof(p));
  p.rate = 3000000000ULL;
  assert_int_equal(0, rudp_sim_link_init(&link, &p, 1));
  assert_int_equal(0, rudp_sim_link_send(&link, buf, 1, 0, 1000));
  assert_int_equal(0, rudp_sim_link_send(&link, buf, 1, 0, 1000));
  assert_int_equal(1003, recv_one(&link, buf, sizeof(buf), &d));
  assert_int_equal(1006, recv_one(&link, buf, sizeof(buf), &d));
  rudp_sim_link_free(&link);
}

static void test_rudp_simlink_queue_droptail(void **state) {
  rudp_sim_link_params p;
  rudp_sim_link link;
  rudp_sim_delivery d;
  uint8_t buf[1000];
  uint64_t i;

  (void)state;
  memset(&p, 0, sizeof(p));
  p.rate = 8000000; /* 1000 bytes per ms */
  p.queue_limit = 5000;
  assert_int_equal(0, rudp_sim_link_init(&link, &p, 1));
  /* Five fit exactly (the one being serialized counts), then it is full. */
  for (i = 0; i < 8; ++i) {
    put_id(buf, i);
    assert_int_equal(0, rudp_sim_link_send(&link, buf, 1000, 0, 0));
    assert_int_equal(i < 5 ? 0 : i - 4, link.stats.dropped_queue);
  }
  assert_int_equal(5000, rudp_sim_link_backlog(&link, 0));
  assert_int_equal(4000, rudp_sim_link_backlog(&link, 1 * MS));
  assert_int_equal(4000, rudp_sim_link_backlog(&link, 2 * MS - 1));
  /* At 2.5 ms two have left: 3000 bytes queued, room for 2000. */
  assert_int_equal(3000, rudp_sim_link_backlog(&link, 2 * MS + 500 * US));
  put_id(buf, 8);
  assert_int_equal(0,
                   rudp_sim_link_send(&link, buf, 1000, 0, 2 * MS + 500 * US));
  put_id(buf, 9);
  assert_int_equal(0,
                   rudp_sim_link_send(&link, buf, 999, 0, 2 * MS + 500 * US));
  assert_int_equal(3, link.stats.dropped_queue);
  /* 4999 queued: one byte more fits, two do not. */
  put_id(buf, 10);
  assert_int_equal(0, rudp_sim_link_send(&link, buf, 2, 0, 2 * MS + 500 * US));
  assert_int_equal(4, link.stats.dropped_queue);
  put_id(buf, 11);
  assert_int_equal(0, rudp_sim_link_send(&link, buf, 1, 0, 2 * MS + 500 * US));
  assert_int_equal(4, link.stats.dropped_queue);
  assert_int_equal(5000, rudp_sim_link_backlog(&link, 2 * MS + 500 * US));

  /* Delivered back to back: ids 0..4, 8, 9, 11. */
  {
    static const uint64_t ids[] = {0, 1, 2, 3, 4, 8, 9};
    static const rudp_tstamp at[] = {1000 * US, 2000 * US, 3000 * US, 4000 * US,
                                     5000 * US, 6000 * US, 6999 * US};
    for (i = 0; i < 7; ++i) {
      assert_int_equal(at[i], recv_one(&link, buf, sizeof(buf), &d));
      assert_int_equal(ids[i], get_id(buf));
    }
    assert_int_equal(7000 * US, recv_one(&link, buf, sizeof(buf), &d));
    assert_int_equal(1, d.len);
  }
  assert_int_equal(0, rudp_sim_link_backlog(&link, 7 * MS));
  assert_int_equal(12, link.stats.sent);
  assert_int_equal(8, link.stats.delivered);
  rudp_sim_link_free(&link);

  /* Without a rate there is no queue. */
  memset(&p, 0, sizeof(p));
  p.queue_limit = 10;
  assert_int_equal(0, rudp_sim_link_init(&link, &p, 1));
  assert_int_equal(0, rudp_sim_link_send(&link, buf, 1000, 0, 0));
  assert_int_equal(0, link.stats.dropped_queue);
  assert_int_equal(1, rudp_sim_link_inflight(&link));
  rudp_sim_link_free(&link);
}

/* trace_digest runs a fully impaired link and folds every delivery into a
 * hash. */
static uint64_t trace_digest(uint64_t seed) {
  rudp_sim_link_params p;
  rudp_sim_link link;
  rudp_sim_delivery d;
  uint8_t buf[300], in[300];
  uint64_t i, h = 1469598103934665603ULL;
  size_t k;

  memset(&p, 0, sizeof(p));
  p.delay = 3 * MS;
  p.jitter = 2 * MS;
  p.loss = RUDP_SIM_PERCENT(5);
  p.burst_enter = RUDP_SIM_PERCENT(1);
  p.burst_exit = RUDP_SIM_PERCENT(30);
  p.burst_loss = RUDP_SIM_PERCENT(80);
  p.reorder = RUDP_SIM_PERCENT(3);
  p.reorder_delay = 5 * MS;
  p.dup = RUDP_SIM_PERCENT(2);
  p.corrupt = RUDP_SIM_PERCENT(2);
  p.rate = 100000000;
  p.queue_limit = 3000;
  assert_int_equal(0, rudp_sim_link_init(&link, &p, seed));
  for (i = 0; i < 3000; ++i) {
    make_pkt(buf, 100 + i % 200, i);
    assert_int_equal(
        0, rudp_sim_link_send(&link, buf, 100 + i % 200, 0, i * 10 * US));
  }
  while (rudp_sim_link_inflight(&link) > 0) {
    h = (h ^ recv_one(&link, in, sizeof(in), &d)) * 1099511628211ULL;
    h = (h ^ d.id ^ ((uint64_t)d.flags << 56)) * 1099511628211ULL;
    for (k = 0; k < d.len; ++k) {
      h = (h ^ in[k]) * 1099511628211ULL;
    }
  }
  h ^= link.stats.lost * 3 + link.stats.lost_burst * 5 +
       link.stats.dropped_queue * 7;
  /* Every impairment fired. */
  assert_true(link.stats.lost > 0 && link.stats.lost_burst > 0 &&
              link.stats.dropped_queue > 0 && link.stats.reordered > 0 &&
              link.stats.duplicated > 0 && link.stats.corrupted > 0);
  /* Conservation: every datagram sent is dropped once or delivered,
   * plus the duplicates. */
  assert_int_equal(link.stats.sent + link.stats.duplicated,
                   link.stats.delivered + link.stats.lost +
                       link.stats.lost_burst + link.stats.lost_forced +
                       link.stats.dropped_queue);
  rudp_sim_link_free(&link);
  return h;
}

static void test_rudp_simlink_forced_drops(void **state) {
  rudp_sim_link_params p;
  rudp_sim_link link;
  rudp_sim_delivery d;
  uint8_t buf[1000] = {0};
  uint64_t i, got[80], ngot = 0;

  (void)state;
  /* Exactly the masked ids and those on the wire during the outage are
   * dropped. */
  memset(&p, 0, sizeof(p));
  p.drop_mask = (1ULL << 0) | (1ULL << 3) | (1ULL << 63);
  p.outage_start = 70 * MS;
  p.outage_end = 75 * MS;
  p.delay = 1 * MS;
  assert_int_equal(0, rudp_sim_link_init(&link, &p, 1));
  for (i = 0; i < 80; ++i) {
    put_id(buf, i);
    assert_int_equal(0, rudp_sim_link_send(&link, buf, 8, 0, i * MS));
  }
  while (rudp_sim_link_inflight(&link) > 0) {
    recv_one(&link, buf, sizeof(buf), &d);
    got[ngot++] = get_id(buf);
  }
  assert_int_equal(80 - 3 - 5, ngot);
  assert_int_equal(8, link.stats.lost_forced);
  for (i = 0; i < ngot; ++i) {
    assert_true(got[i] != 0 && got[i] != 3 && got[i] != 63);
    assert_true(got[i] < 70 || got[i] >= 75);
  }
  rudp_sim_link_free(&link);

  /* The outage applies to the wire time, after the bottleneck: with 1 ms
   * of serialization per packet, those sent at 0..4 ms leave at 1..5 ms. */
  memset(&p, 0, sizeof(p));
  p.rate = 8000000;
  p.outage_start = 3 * MS;
  p.outage_end = 5 * MS;
  assert_int_equal(0, rudp_sim_link_init(&link, &p, 1));
  for (i = 0; i < 5; ++i) {
    put_id(buf, i);
    assert_int_equal(0, rudp_sim_link_send(&link, buf, 1000, 0, 0));
  }
  assert_int_equal(2, link.stats.lost_forced); /* wire at 3 and 4 ms */
  assert_int_equal(3, rudp_sim_link_inflight(&link));
  rudp_sim_link_free(&link);
}

static void test_rudp_simlink_deterministic(void **state) {
  (void)state;
  assert_true(trace_digest(1234) == trace_digest(1234));
  assert_true(trace_digest(1234) != trace_digest(1235));
}

/* ------------------------------------------------------------ event loop */

/* A ping-pong pair: node 0 sends |n| pings, one every |interval| from its
 * own timer; node 1 answers each at once.  Node 0 is done when every pong
 * arrived. */
typedef struct pp_node {
  int idx;
  uint64_t n, sent, got, answered;
  rudp_duration interval;
  rudp_tstamp next;
  /* pending: pings node 1 must answer. */
  uint64_t pending;
  uint64_t rtt_sum;
  /* never_done keeps the node from finishing; chatty makes it write
   * forever. */
  int never_done, chatty;
  /* stuck_at, if set, is an expiry that handling never clears. */
  rudp_tstamp stuck_at;
  rudp_tstamp start;
} pp_node;

static rudp_ssize pp_write(void *node, uint8_t *buf, size_t buflen,
                           uint64_t *ptag, rudp_tstamp now) {
  pp_node *p = node;

  (void)buflen;
  if (p->chatty) {
    buf[0] = 0;
    return 1;
  }
  if (p->idx == 0) {
    if (p->sent < p->n && now >= p->next) {
      put_id(buf, now);
      *ptag = p->sent++;
      p->next += p->interval;
      return 8;
    }
    return 0;
  }
  if (p->pending) {
    --p->pending;
    memset(buf, 0, 8);
    ++p->answered;
    return 8;
  }
  return 0;
}

static int pp_read(void *node, const uint8_t *data, size_t len,
                   const rudp_sim_delivery *d, rudp_tstamp now) {
  pp_node *p = node;

  (void)data;
  (void)d;
  assert_int_equal(8, len);
  if (p->idx == 0) {
    ++p->got;
    (void)now;
  } else {
    ++p->pending;
  }
  return 0;
}

static rudp_tstamp pp_expiry(void *node) {
  pp_node *p = node;
  if (p->stuck_at) {
    return p->stuck_at;
  }
  return (p->idx == 0 && p->sent < p->n) ? p->next : RUDP_TSTAMP_MAX;
}

static int pp_handle_expiry(void *node, rudp_tstamp now) {
  (void)node;
  (void)now;
  return 0;
}

static int pp_done(void *node) {
  pp_node *p = node;
  if (p->never_done) {
    return 0;
  }
  return p->idx == 1 || p->got == p->n;
}

static const rudp_sim_node_ops pp_ops = {pp_write, pp_read, pp_expiry,
                                         pp_handle_expiry, pp_done};

static void test_rudp_simlink_net_run(void **state) {
  rudp_sim_link_params p;
  rudp_sim_net *net = malloc(sizeof(*net));
  pp_node a, b;

  (void)state;
  assert_non_null(net);
  memset(&p, 0, sizeof(p));
  p.delay = 10 * MS;

  /* Ten pings 1 ms apart from t = 1 s: the last pong is back at
   * 1 s + 9 ms + 20 ms. */
  assert_int_equal(0, rudp_sim_net_init(net, &p, &p, 1));
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  a.idx = 0;
  b.idx = 1;
  a.n = 10;
  a.interval = 1 * MS;
  a.next = RUDP_SECONDS;
  net->now = RUDP_SECONDS;
  rudp_sim_net_set_node(net, 0, &pp_ops, &a);
  rudp_sim_net_set_node(net, 1, &pp_ops, &b);
  assert_int_equal(RUDP_SIM_DONE, rudp_sim_net_run(net));
  assert_int_equal(10, a.got);
  assert_int_equal(10, b.answered);
  assert_int_equal(RUDP_SECONDS + 29 * MS, net->now);
  /* 10 timer events (the first ping goes out before the loop), 10 pings
   * and 10 pongs delivered. */
  assert_int_equal(9 + 20, net->nevents);
  rudp_sim_net_free(net);

  /* Nothing pending and a node that is never done: IDLE. */
  assert_int_equal(0, rudp_sim_net_init(net, &p, &p, 1));
  memset(&a, 0, sizeof(a));
  a.n = 1;
  a.never_done = 1;
  rudp_sim_net_set_node(net, 0, &pp_ops, &a);
  rudp_sim_net_set_node(net, 1, &pp_ops, &b);
  assert_int_equal(RUDP_SIM_IDLE, rudp_sim_net_run(net));
  assert_int_equal(1, a.got);
  rudp_sim_net_free(net);

  /* Time and event bounds. */
  assert_int_equal(0, rudp_sim_net_init(net, &p, &p, 1));
  memset(&a, 0, sizeof(a));
  a.n = 1000;
  a.interval = 1 * MS;
  net->max_time = 100 * MS;
  rudp_sim_net_set_node(net, 0, &pp_ops, &a);
  rudp_sim_net_set_node(net, 1, &pp_ops, &b);
  assert_int_equal(RUDP_SIM_TIME_LIMIT, rudp_sim_net_run(net));
  assert_true(net->now <= 100 * MS);
  rudp_sim_net_free(net);

  assert_int_equal(0, rudp_sim_net_init(net, &p, &p, 1));
  memset(&a, 0, sizeof(a));
  a.n = 1000;
  a.interval = 1 * MS;
  net->max_events = 50;
  rudp_sim_net_set_node(net, 0, &pp_ops, &a);
  rudp_sim_net_set_node(net, 1, &pp_ops, &b);
  assert_int_equal(RUDP_SIM_EVENT_LIMIT, rudp_sim_net_run(net));
  assert_int_equal(51, net->nevents);
  rudp_sim_net_free(net);

  /* A timer that stays due: node 0's expiry never moves past 5 ms. */
  assert_int_equal(0, rudp_sim_net_init(net, &p, &p, 1));
  memset(&a, 0, sizeof(a));
  a.n = 1000;
  a.stuck_at = 5 * MS;
  rudp_sim_net_set_node(net, 0, &pp_ops, &a);
  rudp_sim_net_set_node(net, 1, &pp_ops, &b);
  assert_int_equal(RUDP_SIM_TIMER_LOOP, rudp_sim_net_run(net));
  assert_int_equal(5 * MS, net->now);
  assert_int_equal(1001, net->timer_repeats);
  rudp_sim_net_free(net);

  /* A node that never stops writing. */
  assert_int_equal(0, rudp_sim_net_init(net, &p, &p, 1));
  memset(&a, 0, sizeof(a));
  a.chatty = 1;
  net->max_burst = 1000;
  rudp_sim_net_set_node(net, 0, &pp_ops, &a);
  rudp_sim_net_set_node(net, 1, &pp_ops, &b);
  assert_int_equal(RUDP_SIM_BURST_LIMIT, rudp_sim_net_run(net));
  assert_int_equal(1000, net->link[0].stats.sent);
  rudp_sim_net_free(net);
  free(net);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_simlink_delay_exact),
      cmocka_unit_test(test_rudp_simlink_invalid),
      cmocka_unit_test(test_rudp_simlink_fifo_with_jitter),
      cmocka_unit_test(test_rudp_simlink_loss_rate),
      cmocka_unit_test(test_rudp_simlink_burst_loss),
      cmocka_unit_test(test_rudp_simlink_reorder_only_when_enabled),
      cmocka_unit_test(test_rudp_simlink_duplication),
      cmocka_unit_test(test_rudp_simlink_corruption_one_bit),
      cmocka_unit_test(test_rudp_simlink_bandwidth_exact),
      cmocka_unit_test(test_rudp_simlink_queue_droptail),
      cmocka_unit_test(test_rudp_simlink_forced_drops),
      cmocka_unit_test(test_rudp_simlink_deterministic),
      cmocka_unit_test(test_rudp_simlink_net_run),
  };

  return cmocka_run_group_tests_name("simlink", tests, NULL, NULL);
}
