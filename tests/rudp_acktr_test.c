/*
 * Tests for receive-side ACK tracking (lib/rudp_acktr.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "rudp_acktr.h"
#include "rudp_frame.h"
#include "rudp_macro.h"
#include "rudp_test_helper.h"

/* MAD is the max_ack_delay used throughout (RFC 9000's default). */
#define MAD (25 * RUDP_MILLISECONDS)

/* assert_fill fills an ACK frame from |a| and checks its ranges are exactly
 * |exp| (|n| ranges, newest first). */
static void assert_fill(const rudp_acktr *a, const rudp_range *exp, size_t n) {
  rudp_frame_ack fr;
  rudp_range buf[64];
  size_t i;

  assert_int_equal(0, rudp_acktr_fill(a, &fr, buf, rudp_arraylen(buf), 0, 0));
  assert_int_equal(RUDP_FRAME_ACK, fr.type);
  assert_ptr_equal(buf, fr.ranges);
  assert_int_equal(n, fr.nranges);
  assert_int_equal(exp[0].hi, fr.largest_ack);
  assert_int_equal(exp[0].hi - exp[0].lo, fr.first_range);
  assert_int_equal(n - 1, fr.range_count);
  for (i = 0; i < n; ++i) {
    assert_int_equal(exp[i].lo, buf[i].lo);
    assert_int_equal(exp[i].hi, buf[i].hi);
  }
}

/* snapshot is a deep copy of an acktr's state: a struct copy would share
 * the ranges' ring and so could not show a change to it. */
typedef struct snapshot {
  rudp_acktr a;
  rudp_range r[RUDP_RANGES_MAX_CAP];
  size_t n;
} snapshot;

static void take_snapshot(snapshot *s, const rudp_acktr *a) {
  size_t i;

  s->a = *a;
  s->n = rudp_ranges_len(&a->ranges);
  for (i = 0; i < s->n; ++i) {
    s->r[i] = *rudp_ranges_get(&a->ranges, i);
  }
}

/* assert_same checks that |a| still holds the state in |s|. */
static void assert_same(const snapshot *s, const rudp_acktr *a) {
  size_t i;

  assert_int_equal(s->a.floor, a->floor);
  assert_int_equal(s->a.largest, a->largest);
  assert_int_equal(s->a.largest_recv_ts, a->largest_recv_ts);
  assert_int_equal(s->a.first_unacked_ts, a->first_unacked_ts);
  assert_int_equal(s->a.unacked_eliciting, a->unacked_eliciting);
  assert_int_equal(s->a.immediate, a->immediate);
  assert_int_equal(s->a.dirty, a->dirty);
  assert_int_equal(1, rudp_ranges_check(&a->ranges));
  assert_int_equal(s->n, rudp_ranges_len(&a->ranges));
  for (i = 0; i < s->n; ++i) {
    assert_int_equal(s->r[i].lo, rudp_ranges_get(&a->ranges, i)->lo);
    assert_int_equal(s->r[i].hi, rudp_ranges_get(&a->ranges, i)->hi);
  }
}

/* add_eliciting adds each of |pns| as ack-eliciting at |now|, expecting 1. */
static void add_eliciting(rudp_acktr *a, const uint64_t *pns, size_t n,
                          rudp_tstamp now) {
  size_t i;

  for (i = 0; i < n; ++i) {
    assert_int_equal(1, rudp_acktr_add(a, pns[i], 1, now));
  }
}

/* -------------------------------------------------------------- tests */

static void test_rudp_acktr_init(void **state) {
  rudp_acktr a;
  (void)state;

  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT, rudp_acktr_init(&a, 0, 2, NULL));
  /* A failed init leaves |a| safe to free. */
  rudp_acktr_free(&a);
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT,
                   rudp_acktr_init(&a, RUDP_RANGES_MAX_CAP + 1, 2, NULL));
  rudp_acktr_free(&a);

  assert_int_equal(0,
                   rudp_acktr_init(&a, RUDP_ACKTR_DEFAULT_MAX_RANGES, 0, NULL));
  /* A threshold of 0 means 1. */
  assert_int_equal(1, a.ack_eliciting_threshold);
  assert_int_equal(0, a.floor);
  assert_true(a.largest == UINT64_MAX);
  assert_true(a.first_unacked_ts == RUDP_TSTAMP_MAX);
  assert_int_equal(0, a.unacked_eliciting);
  assert_int_equal(0, a.immediate);
  assert_int_equal(0, a.dirty);
  assert_true(rudp_acktr_deadline(&a, MAD) == RUDP_TSTAMP_MAX);
  assert_int_equal(0, rudp_acktr_is_duplicate(&a, 0));
  rudp_acktr_free(&a);
  rudp_acktr_free(NULL);
}

static void test_rudp_acktr_custom_mem_no_steady_alloc(void **state) {
  rudp_acktr a;
  rudp_test_mem cm;
  rudp_frame_ack fr;
  rudp_range buf[4];
  uint64_t pn;
  (void)state;

  rudp_test_mem_init(&cm);

  assert_int_equal(0, rudp_acktr_init(&a, 4, 2, &cm.mem));
  assert_int_equal(1, rudp_test_mem_nalloc(&cm));
  /* Per-packet work allocates nothing: in order, gaps, evictions, fills,
   * acks of acks. */
  for (pn = 0; pn < 300; pn += (pn % 7 == 0) ? 2 : 1) {
    rudp_acktr_add(&a, pn, 1, pn * 1000);
    if (rudp_acktr_deadline(&a, MAD) == 0) {
      assert_int_equal(0, rudp_acktr_fill(&a, &fr, buf, 4, 3, pn * 1000));
      rudp_acktr_on_ack_sent(&a);
    }
    if (pn % 50 == 0) {
      rudp_acktr_on_ack_acked(&a, pn / 2);
    }
  }
  assert_int_equal(1, rudp_test_mem_nalloc(&cm));
  rudp_acktr_free(&a);
  assert_int_equal(1, cm.nfree);
}

/* RFC 9000 section 13.2.2: ACK every second ack-eliciting packet. */
static void test_rudp_acktr_in_order_every_second(void **state) {
  rudp_acktr a;
  uint64_t pn;
  rudp_tstamp t;
  (void)state;

  assert_int_equal(0, rudp_acktr_init(&a, 8, 2, NULL));
  for (pn = 0; pn < 10; pn += 2) {
    t = 1000000 + pn * 1000;
    assert_int_equal(1, rudp_acktr_add(&a, pn, 1, t));
    assert_int_equal(0, a.immediate);
    assert_int_equal(1, a.unacked_eliciting);
    assert_true(rudp_acktr_deadline(&a, MAD) == t + MAD);

    assert_int_equal(1, rudp_acktr_add(&a, pn + 1, 1, t + 500));
    assert_int_equal(2, a.unacked_eliciting);
    assert_true(rudp_acktr_deadline(&a, MAD) == 0);
    assert_int_equal(1, a.dirty);

    rudp_acktr_on_ack_sent(&a);
    assert_true(rudp_acktr_deadline(&a, MAD) == RUDP_TSTAMP_MAX);
    assert_int_equal(0, a.unacked_eliciting);
    assert_int_equal(0, a.immediate);
    assert_int_equal(0, a.dirty);
  }
  /* All of it is one range. */
  {
    const rudp_range exp[] = {{0, 9}};
    assert_fill(&a, exp, 1);
  }
  rudp_acktr_free(&a);
}

static void test_rudp_acktr_single_packet_deadline(void **state) {
  rudp_acktr a;
  (void)state;

  assert_int_equal(0, rudp_acktr_init(&a, 8, 2, NULL));
  assert_int_equal(1, rudp_acktr_add(&a, 0, 1, 7 * RUDP_MILLISECONDS));
  assert_true(rudp_acktr_deadline(&a, MAD) == 32 * RUDP_MILLISECONDS);
  assert_true(rudp_acktr_deadline(&a, 0) == 7 * RUDP_MILLISECONDS);
  /* The deadline counts from the first unacknowledged packet, not the
   * latest: a non-eliciting packet later does not move it. */
  assert_int_equal(1, rudp_acktr_add(&a, 1, 0, 20 * RUDP_MILLISECONDS));
  assert_true(rudp_acktr_deadline(&a, MAD) == 32 * RUDP_MILLISECONDS);
  /* A max_ack_delay that would wrap saturates to "never". */
  assert_true(rudp_acktr_deadline(&a, UINT64_MAX - 1) == RUDP_TSTAMP_MAX);
  assert_true(rudp_acktr_deadline(&a, UINT64_MAX - 7 * RUDP_MILLISECONDS) ==
              RUDP_TSTAMP_MAX);
  assert_true(rudp_acktr_deadline(&a, UINT64_MAX - 7 * RUDP_MILLISECONDS - 1) ==
              UINT64_MAX - 1);
  rudp_acktr_free(&a);
}

/* RFC 9000 section 13.2.1: packets with only ACK/PADDING/CONNECTION_CLOSE
 * are not acknowledged on their own, not even out of order. */
static void test_rudp_acktr_non_eliciting(void **state) {
  rudp_acktr a;
  (void)state;

  assert_int_equal(0, rudp_acktr_init(&a, 8, 2, NULL));
  assert_int_equal(1, rudp_acktr_add(&a, 0, 0, 1000));
  assert_int_equal(1, rudp_acktr_add(&a, 1, 0, 2000));
  assert_int_equal(1, rudp_acktr_add(&a, 5, 0, 3000)); /* gap */
  assert_int_equal(1, rudp_acktr_add(&a, 3, 0, 4000)); /* reordered */
  assert_true(rudp_acktr_deadline(&a, MAD) == RUDP_TSTAMP_MAX);
  assert_int_equal(0, a.immediate);
  assert_int_equal(0, a.unacked_eliciting);
  assert_true(a.first_unacked_ts == RUDP_TSTAMP_MAX);
  /* They are still recorded, and worth piggybacking. */
  assert_int_equal(1, a.dirty);
  assert_int_equal(5, a.largest);
  assert_int_equal(3000, a.largest_recv_ts);
  {
    const rudp_range exp[] = {{5, 5}, {3, 3}, {0, 1}};
    assert_fill(&a, exp, 3);
  }
  /* The next ack-eliciting packet, in order, starts the delayed timer. */
  assert_int_equal(1, rudp_acktr_add(&a, 6, 1, 5000));
  assert_int_equal(0, a.immediate);
  assert_true(rudp_acktr_deadline(&a, MAD) == 5000 + MAD);
  rudp_acktr_free(&a);
}

static void test_rudp_acktr_gap_immediate(void **state) {
  rudp_acktr a;
  (void)state;

  assert_int_equal(0, rudp_acktr_init(&a, 8, 2, NULL));
  /* The very first packet never counts as out of order, whatever its
   * number. */
  assert_int_equal(1, rudp_acktr_add(&a, 5, 1, 1000));
  assert_int_equal(0, a.immediate);
  assert_true(rudp_acktr_deadline(&a, MAD) == 1000 + MAD);
  rudp_acktr_on_ack_sent(&a);

  /* 6 is next in order: delayed. */
  assert_int_equal(1, rudp_acktr_add(&a, 6, 1, 2000));
  assert_int_equal(0, a.immediate);
  assert_true(rudp_acktr_deadline(&a, MAD) == 2000 + MAD);
  rudp_acktr_on_ack_sent(&a);

  /* 8 leaves 7 missing: ACK at once, on the first packet. */
  assert_int_equal(1, rudp_acktr_add(&a, 8, 1, 3000));
  assert_int_equal(1, a.immediate);
  assert_int_equal(1, a.unacked_eliciting);
  assert_true(rudp_acktr_deadline(&a, MAD) == 0);
  rudp_acktr_on_ack_sent(&a);
  assert_true(rudp_acktr_deadline(&a, MAD) == RUDP_TSTAMP_MAX);

  /* 9 continues from 8 (the gap is old news): delayed again. */
  assert_int_equal(1, rudp_acktr_add(&a, 9, 1, 4000));
  assert_int_equal(0, a.immediate);
  assert_true(rudp_acktr_deadline(&a, MAD) == 4000 + MAD);
  rudp_acktr_free(&a);
}

static void test_rudp_acktr_reordered_immediate(void **state) {
  rudp_acktr a;
  const uint64_t pns[] = {0, 1, 3};
  (void)state;

  assert_int_equal(0, rudp_acktr_init(&a, 8, 10, NULL));
  add_eliciting(&a, pns, 3, 1000);
  rudp_acktr_on_ack_sent(&a);

  /* 2 fills the hole below the largest: a retransmission or a reordered
   * packet, ACK at once so the sender stops treating it as lost. */
  assert_int_equal(1, rudp_acktr_add(&a, 2, 1, 9000));
  assert_int_equal(1, a.immediate);
  assert_true(rudp_acktr_deadline(&a, MAD) == 0);
  /* The largest and its timestamp are unchanged. */
  assert_int_equal(3, a.largest);
  assert_int_equal(1000, a.largest_recv_ts);
  {
    const rudp_range exp[] = {{0, 3}};
    assert_fill(&a, exp, 1);
  }
  rudp_acktr_free(&a);
}

static void test_rudp_acktr_duplicate(void **state) {
  rudp_acktr a;
  const uint64_t pns[] = {1, 2, 4};
  static snapshot before;
  (void)state;

  assert_int_equal(0, rudp_acktr_init(&a, 8, 2, NULL));
  add_eliciting(&a, pns, 3, 1000);
  rudp_acktr_on_ack_sent(&a);

  assert_int_equal(1, rudp_acktr_is_duplicate(&a, 1));
  assert_int_equal(1, rudp_acktr_is_duplicate(&a, 2));
  assert_int_equal(1, rudp_acktr_is_duplicate(&a, 4));
  assert_int_equal(0, rudp_acktr_is_duplicate(&a, 0));
  assert_int_equal(0, rudp_acktr_is_duplicate(&a, 3));
  assert_int_equal(0, rudp_acktr_is_duplicate(&a, 5));

  /* A duplicate changes nothing: no ACK is owed for it (it is below the
   * largest, which would otherwise make it "reordered"). */
  take_snapshot(&before, &a);
  assert_int_equal(0, rudp_acktr_add(&a, 2, 1, 5000));
  assert_int_equal(0, rudp_acktr_add(&a, 4, 1, 5000));
  assert_int_equal(0, rudp_acktr_add(&a, 1, 0, 5000));
  assert_same(&before, &a);
  assert_true(rudp_acktr_deadline(&a, MAD) == RUDP_TSTAMP_MAX);
  {
    const rudp_range exp[] = {{4, 4}, {1, 2}};
    assert_fill(&a, exp, 2);
  }
  /* Packet numbers beyond 2^62 - 1 cannot exist: not recorded. */
  assert_int_equal(0, rudp_acktr_add(&a, RUDP_MAX_VARINT + 1, 1, 5000));
  assert_int_equal(0, rudp_acktr_add(&a, UINT64_MAX, 1, 5000));
  assert_same(&before, &a);
  rudp_acktr_free(&a);
}

static void test_rudp_acktr_fill_ranges_and_delay(void **state) {
  rudp_acktr a;
  static snapshot before;
  const uint64_t pns[] = {0, 1, 2, 5, 6};
  rudp_frame_ack fr;
  rudp_range buf[8];
  rudp_tstamp t0 = 3 * RUDP_SECONDS;
  (void)state;

  assert_int_equal(0, rudp_acktr_init(&a, 8, 2, NULL));
  /* Nothing received yet: nothing to fill. */
  assert_int_equal(RUDP_ERR_INVALID_STATE,
                   rudp_acktr_fill(&a, &fr, buf, 8, 3, t0));

  add_eliciting(&a, pns, 5, t0 - RUDP_SECONDS);
  assert_int_equal(1, rudp_acktr_add(&a, 9, 1, t0));
  /* A later, lower packet does not reset the delay's origin. */
  assert_int_equal(1, rudp_acktr_add(&a, 7, 1, t0 + 5 * RUDP_MILLISECONDS));

  take_snapshot(&before, &a);
  /* 12345678 ns = 12345 us (truncated); >> 3 = 1543. */
  assert_int_equal(0, rudp_acktr_fill(&a, &fr, buf, 8, 3, t0 + 12345678));
  assert_same(&before, &a);
  assert_int_equal(RUDP_FRAME_ACK, fr.type);
  assert_int_equal(9, fr.largest_ack);
  assert_int_equal(1543, fr.ack_delay);
  assert_int_equal(0, fr.first_range);
  assert_int_equal(2, fr.range_count);
  assert_int_equal(3, fr.nranges);
  assert_ptr_equal(buf, fr.ranges);
  assert_null(fr.rangebuf);
  assert_int_equal(0, fr.rangebuflen);
  assert_int_equal(9, buf[0].lo);
  assert_int_equal(9, buf[0].hi);
  assert_int_equal(5, buf[1].lo);
  assert_int_equal(7, buf[1].hi);
  assert_int_equal(0, buf[2].lo);
  assert_int_equal(2, buf[2].hi);

  /* Exponent 0: plain microseconds. */
  assert_int_equal(0, rudp_acktr_fill(&a, &fr, buf, 8, 0, t0 + 12345678));
  assert_int_equal(12345, fr.ack_delay);
  /* Exponent 20 (the largest allowed) and beyond the shift width. */
  assert_int_equal(
      0, rudp_acktr_fill(&a, &fr, buf, 8, 20, t0 + 3 * 1000000000ULL));
  assert_int_equal(3000000 >> 20, fr.ack_delay);
  assert_int_equal(0, rudp_acktr_fill(&a, &fr, buf, 8, 64, t0 + RUDP_SECONDS));
  assert_int_equal(0, fr.ack_delay);
  /* A clock earlier than the arrival gives 0, not a huge delay. */
  assert_int_equal(0, rudp_acktr_fill(&a, &fr, buf, 8, 0, t0 - 1));
  assert_int_equal(0, fr.ack_delay);

  /* A smaller buffer keeps the newest ranges. */
  buf[2].lo = buf[2].hi = 77;
  assert_int_equal(0, rudp_acktr_fill(&a, &fr, buf, 2, 3, t0));
  assert_int_equal(2, fr.nranges);
  assert_int_equal(1, fr.range_count);
  assert_int_equal(9, buf[0].hi);
  assert_int_equal(5, buf[1].lo);
  assert_int_equal(77, buf[2].lo); /* untouched beyond |cap| */
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT,
                   rudp_acktr_fill(&a, &fr, buf, 0, 3, t0));
  rudp_acktr_free(&a);
}

/* roundtrip encodes a fill of |a| and checks the decoded frame walks the
 * same ranges with the same delay. */
static void roundtrip(const rudp_acktr *a, uint64_t exponent, rudp_tstamp now) {
  rudp_frame enc, dec;
  rudp_frame_ack_iter it;
  rudp_range buf[RUDP_ACKTR_DEFAULT_MAX_RANGES], got;
  uint8_t wire[1024];
  rudp_ssize n, m;
  size_t i;

  assert_int_equal(
      0, rudp_acktr_fill(a, &enc.ack, buf, rudp_arraylen(buf), exponent, now));
  n = rudp_frame_encode(wire, sizeof(wire), &enc);
  assert_true(n > 0);
  m = rudp_frame_decode(&dec, wire, (size_t)n);
  assert_int_equal(n, m);
  assert_int_equal(RUDP_FRAME_ACK, dec.type);
  assert_int_equal(enc.ack.largest_ack, dec.ack.largest_ack);
  assert_int_equal(enc.ack.ack_delay, dec.ack.ack_delay);
  assert_int_equal(enc.ack.first_range, dec.ack.first_range);
  assert_int_equal(enc.ack.range_count, dec.ack.range_count);

  rudp_frame_ack_iter_init(&it, &dec.ack);
  for (i = 0; i < enc.ack.nranges; ++i) {
    assert_int_equal(1, rudp_frame_ack_iter_next(&it, &got));
    assert_int_equal(buf[i].lo, got.lo);
    assert_int_equal(buf[i].hi, got.hi);
  }
  assert_int_equal(0, rudp_frame_ack_iter_next(&it, &got));
}

static void test_rudp_acktr_frame_roundtrip(void **state) {
  rudp_acktr a;
  rudp_test_rng rng;
  uint64_t pn, seed;
  int i;
  (void)state;

  for (seed = 1; seed <= 20; ++seed) {
    rudp_test_rng_init(&rng, seed);
    assert_int_equal(
        0, rudp_acktr_init(&a, RUDP_ACKTR_DEFAULT_MAX_RANGES, 2, NULL));
    pn = rudp_test_rng_below(&rng, 1000);
    for (i = 0; i < 200; ++i) {
      /* Mostly in order, some gaps (small and large), some reordering. */
      switch (rudp_test_rng_below(&rng, 8)) {
      case 0:
        pn += 2 + rudp_test_rng_below(&rng, 100000);
        break;
      case 1:
        pn -= rudp_min(pn, rudp_test_rng_below(&rng, 20));
        break;
      default:
        ++pn;
      }
      rudp_acktr_add(&a, pn, (int)rudp_test_rng_below(&rng, 2),
                     (uint64_t)i * RUDP_MILLISECONDS);
      roundtrip(&a, rudp_test_rng_below(&rng, 21),
                (uint64_t)(i + 1) * RUDP_MILLISECONDS +
                    rudp_test_rng_below(&rng, RUDP_SECONDS));
    }
    rudp_acktr_free(&a);
  }
}

static void test_rudp_acktr_ack_of_ack(void **state) {
  rudp_acktr a;
  const uint64_t pns[] = {0, 1, 2, 3, 4, 7, 8, 9};
  (void)state;

  assert_int_equal(0, rudp_acktr_init(&a, 8, 2, NULL));
  add_eliciting(&a, pns, 8, 1000);

  /* The peer has seen our ACK up to 8: forget up to 8. */
  rudp_acktr_on_ack_acked(&a, 8);
  assert_int_equal(9, a.floor);
  {
    const rudp_range exp[] = {{9, 9}};
    assert_fill(&a, exp, 1);
  }
  /* Below the floor is a duplicate, received or not (5 never came). */
  assert_int_equal(1, rudp_acktr_is_duplicate(&a, 3));
  assert_int_equal(1, rudp_acktr_is_duplicate(&a, 5));
  assert_int_equal(1, rudp_acktr_is_duplicate(&a, 8));
  assert_int_equal(1, rudp_acktr_is_duplicate(&a, 9));
  assert_int_equal(0, rudp_acktr_is_duplicate(&a, 10));
  rudp_acktr_on_ack_sent(&a);
  assert_int_equal(0, rudp_acktr_add(&a, 5, 1, 2000));
  assert_int_equal(0, a.immediate);
  assert_int_equal(0, a.dirty);
  assert_true(rudp_acktr_deadline(&a, MAD) == RUDP_TSTAMP_MAX);

  /* A stale (lower) acknowledgement never lowers the floor. */
  rudp_acktr_on_ack_acked(&a, 2);
  assert_int_equal(9, a.floor);
  assert_int_equal(1, rudp_acktr_is_duplicate(&a, 5));

  /* Forgetting everything leaves nothing to ACK; new packets still count. */
  rudp_acktr_on_ack_acked(&a, 9);
  assert_int_equal(10, a.floor);
  {
    rudp_frame_ack fr;
    rudp_range buf[4];
    assert_int_equal(RUDP_ERR_INVALID_STATE,
                     rudp_acktr_fill(&a, &fr, buf, 4, 3, 3000));
  }
  assert_int_equal(1, rudp_acktr_add(&a, 10, 1, 3000));
  assert_int_equal(0, a.immediate); /* 10 follows the largest, 9 */
  {
    const rudp_range exp[] = {{10, 10}};
    assert_fill(&a, exp, 1);
  }
  rudp_acktr_free(&a);
}

static void test_rudp_acktr_threshold_one(void **state) {
  rudp_acktr a;
  uint64_t pn;
  (void)state;

  assert_int_equal(0, rudp_acktr_init(&a, 8, 1, NULL));
  for (pn = 0; pn < 5; ++pn) {
    assert_int_equal(1, rudp_acktr_add(&a, pn, 1, pn * 1000));
    assert_true(rudp_acktr_deadline(&a, MAD) == 0);
    rudp_acktr_on_ack_sent(&a);
  }
  /* Non-eliciting packets still do not. */
  assert_int_equal(1, rudp_acktr_add(&a, 5, 0, 9000));
  assert_true(rudp_acktr_deadline(&a, MAD) == RUDP_TSTAMP_MAX);
  rudp_acktr_free(&a);
}

static void test_rudp_acktr_threshold_large(void **state) {
  rudp_acktr a;
  uint64_t pn;
  (void)state;

  assert_int_equal(0, rudp_acktr_init(&a, 8, 10, NULL));
  for (pn = 0; pn < 9; ++pn) {
    assert_int_equal(1, rudp_acktr_add(&a, pn, 1, 1000 + pn));
    assert_true(rudp_acktr_deadline(&a, MAD) == 1000 + MAD);
  }
  assert_int_equal(1, rudp_acktr_add(&a, 9, 1, 2000));
  assert_true(rudp_acktr_deadline(&a, MAD) == 0);
  rudp_acktr_free(&a);
}

static void test_rudp_acktr_bounded_ranges(void **state) {
  rudp_acktr a;
  static snapshot before;
  const uint64_t pns[] = {0, 2, 4, 6};
  (void)state;

  assert_int_equal(0, rudp_acktr_init(&a, 3, 2, NULL));
  add_eliciting(&a, pns, 4, 1000);
  /* Four ranges do not fit in three: 0 is forgotten, and the floor rises
   * past it so that a replay of 0 is still a duplicate (RFC 9000 section
   * 13.2.3). */
  {
    const rudp_range exp[] = {{6, 6}, {4, 4}, {2, 2}};
    assert_fill(&a, exp, 3);
  }
  assert_int_equal(1, a.floor);
  assert_int_equal(1, rudp_acktr_is_duplicate(&a, 0));
  assert_int_equal(0, rudp_acktr_add(&a, 0, 1, 2000));
  /* 1 was never received and extends the oldest range. */
  assert_int_equal(0, rudp_acktr_is_duplicate(&a, 1));
  assert_int_equal(1, rudp_acktr_add(&a, 1, 1, 2000));
  {
    const rudp_range exp[] = {{6, 6}, {4, 4}, {1, 2}};
    assert_fill(&a, exp, 3);
  }

  /* 20 evicts [1, 2] and 30 evicts [4, 4]: the floor follows. */
  assert_int_equal(1, rudp_acktr_add(&a, 20, 1, 3000));
  assert_int_equal(3, a.floor);
  assert_int_equal(1, rudp_acktr_add(&a, 30, 1, 3000));
  assert_int_equal(5, a.floor);
  assert_int_equal(1, rudp_acktr_is_duplicate(&a, 4));
  {
    const rudp_range exp[] = {{30, 30}, {20, 20}, {6, 6}};
    assert_fill(&a, exp, 3);
  }

  /* 10, between [6, 6] and [20, 20], needs a fourth range: [6, 6], the
   * oldest, makes room. */
  assert_int_equal(1, rudp_acktr_add(&a, 10, 1, 4000));
  assert_int_equal(7, a.floor);
  {
    const rudp_range exp[] = {{30, 30}, {20, 20}, {10, 10}};
    assert_fill(&a, exp, 3);
  }

  /* 8 is above the floor but older than every range with the set full: it
   * cannot be recorded, so it is reported as not recorded and owes nothing.
   */
  rudp_acktr_on_ack_sent(&a);
  take_snapshot(&before, &a);
  assert_int_equal(0, rudp_acktr_is_duplicate(&a, 8));
  assert_int_equal(0, rudp_acktr_add(&a, 8, 1, 5000));
  assert_same(&before, &a);
  /* 9 is just as old but extends [10, 10]: recorded, nothing evicted. */
  assert_int_equal(1, rudp_acktr_add(&a, 9, 1, 5000));
  assert_int_equal(7, a.floor);
  assert_int_equal(1, a.immediate);
  {
    const rudp_range exp[] = {{30, 30}, {20, 20}, {9, 10}};
    assert_fill(&a, exp, 3);
  }
  rudp_acktr_free(&a);
}

static void test_rudp_acktr_huge_pns(void **state) {
  rudp_acktr a;
  rudp_frame_ack fr;
  rudp_range buf[4];
  const uint64_t top = RUDP_MAX_VARINT;
  (void)state;

  assert_int_equal(0, rudp_acktr_init(&a, 4, 2, NULL));
  assert_int_equal(1, rudp_acktr_add(&a, top - 10, 1, 1000));
  assert_int_equal(1, rudp_acktr_add(&a, top - 9, 1, 1000));
  rudp_acktr_on_ack_sent(&a);
  assert_int_equal(1, rudp_acktr_add(&a, top, 1, 2000));
  assert_int_equal(1, a.immediate); /* gap */
  assert_int_equal(top, a.largest);
  {
    const rudp_range exp[] = {{top, top}, {top - 10, top - 9}};
    assert_fill(&a, exp, 2);
  }
  roundtrip(&a, 3, 5000);
  assert_int_equal(1, rudp_acktr_add(&a, top - 1, 1, 3000));
  assert_int_equal(1, rudp_acktr_is_duplicate(&a, top));
  assert_int_equal(0, rudp_acktr_add(&a, top, 1, 3000));

  rudp_acktr_on_ack_acked(&a, top - 5);
  assert_int_equal(top - 4, a.floor);
  {
    const rudp_range exp[] = {{top - 1, top}};
    assert_fill(&a, exp, 1);
  }

  /* Acknowledging the very last packet number must not wrap the floor. */
  rudp_acktr_on_ack_acked(&a, top);
  assert_true(a.floor == top + 1);
  assert_int_equal(RUDP_ERR_INVALID_STATE,
                   rudp_acktr_fill(&a, &fr, buf, 4, 3, 3000));
  assert_int_equal(1, rudp_acktr_is_duplicate(&a, top));
  assert_int_equal(1, rudp_acktr_is_duplicate(&a, 0));
  rudp_acktr_on_ack_acked(&a, UINT64_MAX);
  assert_true(a.floor == top + 1);
  assert_int_equal(1, rudp_acktr_is_duplicate(&a, 12345));
  rudp_acktr_free(&a);

  /* A nonsensical largest_acked beyond any packet number clamps rather
   * than wrapping to "forget nothing". */
  assert_int_equal(0, rudp_acktr_init(&a, 4, 2, NULL));
  assert_int_equal(1, rudp_acktr_add(&a, 5, 1, 1000));
  rudp_acktr_on_ack_acked(&a, UINT64_MAX);
  assert_true(a.floor == top + 1);
  assert_int_equal(0, rudp_ranges_len(&a.ranges));
  assert_int_equal(1, rudp_acktr_is_duplicate(&a, 5));
  rudp_acktr_free(&a);
}

/*
 * A model check: random arrivals (reordered, duplicated, with gaps) against
 * a plain bitmap.  With enough capacity nothing is evicted, so the ACK
 * frame must describe exactly the bitmap's runs, and the immediate rule
 * must follow RFC 9000 section 13.2.1 as the header states it.
 */
#define MODEL_N 1500

static void test_rudp_acktr_model(void **state) {
  static uint8_t seen[MODEL_N];
  static rudp_range buf[RUDP_RANGES_MAX_CAP];
  rudp_acktr a;
  rudp_test_rng rng;
  rudp_frame_ack fr;
  uint64_t seed, pn, largest, lo;
  size_t i, k, nexp;
  int elic, expect_immediate, any;
  (void)state;

  for (seed = 100; seed < 104; ++seed) {
    rudp_test_rng_init(&rng, seed);
    memset(seen, 0, sizeof(seen));
    assert_int_equal(0, rudp_acktr_init(&a, RUDP_RANGES_MAX_CAP, 3, NULL));
    largest = 0;
    any = 0;
    pn = 0;
    for (i = 0; i < 3 * MODEL_N; ++i) {
      switch (rudp_test_rng_below(&rng, 6)) {
      case 0:
        pn = rudp_test_rng_below(&rng, MODEL_N);
        break;
      case 1:
        pn = pn + 2 < MODEL_N ? pn + 2 : 0;
        break;
      default:
        pn = pn + 1 < MODEL_N ? pn + 1 : 0;
      }
      elic = (int)rudp_test_rng_below(&rng, 4) != 0;

      assert_int_equal(seen[pn], rudp_acktr_is_duplicate(&a, pn));
      if (rudp_test_rng_below(&rng, 2)) {
        rudp_acktr_on_ack_sent(&a);
      }
      expect_immediate =
          a.immediate ||
          (!seen[pn] && elic && any && (pn < largest || pn > largest + 1)) ||
          (!seen[pn] && elic &&
           a.unacked_eliciting + 1 >= a.ack_eliciting_threshold);
      assert_int_equal(!seen[pn], rudp_acktr_add(&a, pn, elic, (rudp_tstamp)i));
      assert_int_equal(expect_immediate, a.immediate);
      if (!seen[pn]) {
        seen[pn] = 1;
        if (!any || pn > largest) {
          largest = pn;
        }
        any = 1;
      }

      /* Only check the frame now and then: it is O(n) per fill. */
      if (i % 7 != 0) {
        continue;
      }
      assert_int_equal(0, rudp_acktr_fill(&a, &fr, buf, rudp_arraylen(buf), 0,
                                          (rudp_tstamp)i));
      assert_int_equal(largest, fr.largest_ack);
      nexp = 0;
      for (k = MODEL_N; k > 0; --k) {
        if (!seen[k - 1] || (k < MODEL_N && seen[k])) {
          continue;
        }
        /* k - 1 ends a run; find its start. */
        lo = k - 1;
        while (lo > 0 && seen[lo - 1]) {
          --lo;
        }
        assert_true(nexp < fr.nranges);
        assert_int_equal(k - 1, buf[nexp].hi);
        assert_int_equal(lo, buf[nexp].lo);
        ++nexp;
      }
      assert_int_equal(nexp, fr.nranges);
    }
    assert_int_equal(0, a.floor);
    rudp_acktr_free(&a);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_acktr_init),
      cmocka_unit_test(test_rudp_acktr_custom_mem_no_steady_alloc),
      cmocka_unit_test(test_rudp_acktr_in_order_every_second),
      cmocka_unit_test(test_rudp_acktr_single_packet_deadline),
      cmocka_unit_test(test_rudp_acktr_non_eliciting),
      cmocka_unit_test(test_rudp_acktr_gap_immediate),
      cmocka_unit_test(test_rudp_acktr_reordered_immediate),
      cmocka_unit_test(test_rudp_acktr_duplicate),
      cmocka_unit_test(test_rudp_acktr_fill_ranges_and_delay),
      cmocka_unit_test(test_rudp_acktr_frame_roundtrip),
      cmocka_unit_test(test_rudp_acktr_ack_of_ack),
      cmocka_unit_test(test_rudp_acktr_threshold_one),
      cmocka_unit_test(test_rudp_acktr_threshold_large),
      cmocka_unit_test(test_rudp_acktr_bounded_ranges),
      cmocka_unit_test(test_rudp_acktr_huge_pns),
      cmocka_unit_test(test_rudp_acktr_model),
  };

  return cmocka_run_group_tests_name("acktr", tests, NULL, NULL);
}
