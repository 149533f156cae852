/*
 * Tests for HyStart++ (lib/rudp_hystart.c, RFC 9406), fed ACKs directly.
 *
 * A "round" here is driven as the connection drives it: its first ACK is
 * for a packet sent at the round's start (ending the previous round), the
 * others for packets sent just before it (still in flight from the
 * previous round).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "rudp_cc.h"

#define MS RUDP_MILLISECONDS

typedef struct fixture {
  rudp_hystart hs;
  rudp_cc cc;
  rudp_rtt rtt;
  rudp_tstamp now;
} fixture;

static void fixture_init(fixture *f) {
  memset(f, 0xa5, sizeof(*f));
  f->now = 1000 * MS;
  rudp_hystart_init(&f->hs, f->now);
  f->hs.exits = 0;
  memset(&f->cc, 0, sizeof(f->cc));
  rudp_rtt_init(&f->rtt, RUDP_DEFAULT_INITIAL_RTT);
}

/* ack_one feeds one ACK of a packet sent at |sent| with RTT sample
 * |sample| (0: no sample taken yet) one millisecond after the last. */
static unsigned ack_one(fixture *f, rudp_tstamp sent, rudp_duration sample) {
  rudp_cc_ack a;

  f->now += MS;
  if (sample) {
    f->rtt.latest = sample;
    f->rtt.smoothed = sample;
    f->rtt.nsamples++;
  }
  a.bytes_acked = 1200;
  a.largest_acked_sent_ts = sent;
  a.bytes_in_flight = 12000;
  a.app_limited = 0;
  return rudp_hystart_on_ack(&f->hs, &f->cc, &a, &f->rtt, f->now);
}

/* round_acks feeds a round of |n| ACKs all with RTT |sample|, storing each
 * returned divisor in |divs| (if not NULL); returns the last. */
static unsigned round_acks(fixture *f, int n, rudp_duration sample,
                           unsigned *divs) {
  unsigned d = 1;
  int i;

  for (i = 0; i < n; ++i) {
    rudp_tstamp sent = i == 0 ? f->hs.round_start : f->hs.round_start - 1;

    d = ack_one(f, sent, sample);
    if (divs) {
      divs[i] = d;
    }
  }
  return d;
}

/* enter_css runs a 100 ms round and then a 120 ms one: CSS. */
static void enter_css(fixture *f) {
  round_acks(f, 10, 100 * MS, NULL);
  assert_int_equal(RUDP_HYSTART_CSS_GROWTH_DIVISOR,
                   round_acks(f, 10, 120 * MS, NULL));
  assert_true(f->hs.in_css);
  assert_int_equal(120 * MS, f->hs.css_baseline_min_rtt);
}

static void test_rudp_hystart_init(void **state) {
  fixture f;

  (void)state;

  fixture_init(&f);
  assert_int_equal(f.now, f.hs.round_start);
  assert_int_equal(UINT64_MAX, f.hs.last_round_min_rtt);
  assert_int_equal(UINT64_MAX, f.hs.current_round_min_rtt);
  assert_int_equal(0, f.hs.rtt_sample_count);
  assert_int_equal(0, f.hs.in_css);
  assert_int_equal(0, f.hs.css_rounds);
  assert_int_equal(UINT64_MAX, f.hs.css_baseline_min_rtt);

  /* Re-initialising keeps the exit statistic. */
  f.hs.exits = 3;
  rudp_hystart_init(&f.hs, 5);
  assert_int_equal(3, f.hs.exits);
  assert_int_equal(5, f.hs.round_start);
}

static void test_rudp_hystart_flat_rtt_no_exit(void **state) {
  fixture f;
  unsigned divs[20];
  int r, i;

  (void)state;

  fixture_init(&f);
  /* Jitter below the threshold (100 ms / 8 = 12.5 ms) changes nothing. */
  for (r = 0; r < 50; ++r) {
    round_acks(&f, 20, (100 + (rudp_duration)(r % 3) * 4) * MS, divs);
    for (i = 0; i < 20; ++i) {
      assert_int_equal(1, divs[i]);
    }
  }
  assert_int_equal(0, f.hs.in_css);
  assert_int_equal(0, f.hs.exits);
  assert_int_equal(100 * MS, f.hs.last_round_min_rtt);
}

static void test_rudp_hystart_enter_css_after_8_samples(void **state) {
  fixture f;
  unsigned divs[12];
  int i;

  (void)state;

  fixture_init(&f);
  round_acks(&f, 10, 100 * MS, NULL);
  /* RttThresh = 100 / 8 = 12.5 ms: 112.5 ms is a rise, but only from the
   * eighth sample of the round on. */
  round_acks(&f, 12, 100 * MS + 12500 * RUDP_MICROSECONDS, divs);
  for (i = 0; i < 7; ++i) {
    assert_int_equal(1, divs[i]);
  }
  for (i = 7; i < 12; ++i) {
    assert_int_equal(RUDP_HYSTART_CSS_GROWTH_DIVISOR, divs[i]);
  }
  assert_true(f.hs.in_css);
  assert_int_equal(100 * MS + 12500 * RUDP_MICROSECONDS,
                   f.hs.css_baseline_min_rtt);
  assert_int_equal(0, f.hs.exits);
}

static void test_rudp_hystart_rise_below_thresh(void **state) {
  fixture f;

  (void)state;

  fixture_init(&f);
  round_acks(&f, 10, 100 * MS, NULL);
  /* One nanosecond short of RttThresh. */
  assert_int_equal(1, round_acks(&f, 30, 112499999, NULL));
  assert_int_equal(0, f.hs.in_css);
}

static void test_rudp_hystart_round_min_decides(void **state) {
  fixture f;
  int i;

  (void)state;

  fixture_init(&f);
  round_acks(&f, 10, 100 * MS, NULL);
  /* Round 2: one 101 ms sample, then 200 ms samples broken every 7 by
   * one of 101 ms: the round minimum did not rise (no Conservative Slow
   * Start), and no 8 high samples come in a row (slow start goes on). */
  ack_one(&f, f.hs.round_start, 101 * MS);
  for (i = 0; i < 21; ++i) {
    assert_int_equal(
        1, ack_one(&f, f.hs.round_start - 1, i % 8 == 7 ? 101 * MS : 200 * MS));
  }
  assert_int_equal(0, f.hs.in_css);
  assert_int_equal(0, f.hs.exits);
  assert_int_equal(101 * MS, f.hs.current_round_min_rtt);
  assert_int_equal(22, f.hs.rtt_sample_count);
}

static void test_rudp_hystart_rise_within_round(void **state) {
  fixture f;
  int i;

  (void)state;

  fixture_init(&f);
  round_acks(&f, 10, 100 * MS, NULL);
  /* A paced round starts with the queue drained (101 ms), then the queue
   * builds: the round minimum stays low, but the eighth sample in a row
   * at or above 100 + 12.5 ms ends slow start at once. */
  ack_one(&f, f.hs.round_start, 101 * MS);
  for (i = 0; i < 7; ++i) {
    assert_int_equal(1, ack_one(&f, f.hs.round_start - 1,
                                100 * MS + 12500 * RUDP_MICROSECONDS));
  }
  assert_int_equal(7, f.hs.high_run);
  assert_int_equal(0, ack_one(&f, f.hs.round_start - 1, 150 * MS));
  assert_int_equal(1, f.hs.exits);
  assert_int_equal(0, f.hs.in_css);
  assert_int_equal(0, f.hs.high_run);
  /* One nanosecond short of the threshold breaks the run. */
  fixture_init(&f);
  round_acks(&f, 10, 100 * MS, NULL);
  ack_one(&f, f.hs.round_start, 101 * MS);
  for (i = 0; i < 7; ++i) {
    ack_one(&f, f.hs.round_start - 1, 150 * MS);
  }
  assert_int_equal(1, ack_one(&f, f.hs.round_start - 1, 112499999));
  assert_int_equal(0, f.hs.high_run);
  assert_int_equal(1, ack_one(&f, f.hs.round_start - 1, 150 * MS));
  assert_int_equal(0, f.hs.exits);
}

static void test_rudp_hystart_css_divisor(void **state) {
  fixture f;
  unsigned divs[10];
  int i;

  (void)state;

  fixture_init(&f);
  enter_css(&f);
  /* Every ACK of the following round in CSS returns 4 while the RTT
   * stays at or above the baseline. */
  round_acks(&f, 10, 125 * MS, divs);
  for (i = 0; i < 10; ++i) {
    assert_int_equal(RUDP_HYSTART_CSS_GROWTH_DIVISOR, divs[i]);
  }
  assert_int_equal(1, f.hs.css_rounds);
  /* The baseline stays what started CSS. */
  assert_int_equal(120 * MS, f.hs.css_baseline_min_rtt);
}

static void test_rudp_hystart_back_to_slow_start(void **state) {
  fixture f;
  unsigned divs[10];
  int i;

  (void)state;

  fixture_init(&f);
  enter_css(&f);
  /* A round whose minimum falls below the 120 ms baseline: the rise was
   * not a queue.  Decided after 8 samples, like the entry. */
  round_acks(&f, 10, 119 * MS, divs);
  for (i = 0; i < 7; ++i) {
    assert_int_equal(RUDP_HYSTART_CSS_GROWTH_DIVISOR, divs[i]);
  }
  for (i = 7; i < 10; ++i) {
    assert_int_equal(1, divs[i]);
  }
  assert_int_equal(0, f.hs.in_css);
  assert_int_equal(0, f.hs.css_rounds);
  assert_int_equal(UINT64_MAX, f.hs.css_baseline_min_rtt);

  /* Slow start again; a new rise over this round (119 + 14.875 ms)
   * re-enters CSS with a fresh count. */
  assert_int_equal(RUDP_HYSTART_CSS_GROWTH_DIVISOR,
                   round_acks(&f, 10, 134 * MS, NULL));
  assert_int_equal(0, f.hs.css_rounds);
  assert_int_equal(134 * MS, f.hs.css_baseline_min_rtt);
  assert_int_equal(0, f.hs.exits);
}

static void test_rudp_hystart_exit_after_css_rounds(void **state) {
  fixture f;
  int r;

  (void)state;

  fixture_init(&f);
  enter_css(&f);
  /* CSS began inside round 2; rounds 3 to 6 complete in CSS, and each
   * round's end counts: 1 (end of round 2) ... 4 (end of round 5). */
  for (r = 0; r < 4; ++r) {
    assert_int_equal(RUDP_HYSTART_CSS_GROWTH_DIVISOR,
                     round_acks(&f, 10, 121 * MS, NULL));
    assert_int_equal((uint32_t)r + 1, f.hs.css_rounds);
    assert_int_equal(0, f.hs.exits);
  }
  /* The ACK that ends round 6, the fifth end in CSS, ends slow start. */
  assert_int_equal(0, ack_one(&f, f.hs.round_start, 121 * MS));
  assert_int_equal(1, f.hs.exits);
  assert_int_equal(0, f.hs.in_css);
}

static void test_rudp_hystart_thresh_clamped(void **state) {
  static const struct {
    rudp_duration last, rise_no, rise_yes;
  } cases[] = {
      /* 20 / 8 = 2.5 ms is raised to 4 ms. */
      {20 * MS, 4 * MS - 1, 4 * MS},
      /* 1 ms: still 4 ms. */
      {1 * MS, 4 * MS - 1, 4 * MS},
      /* 80 / 8 = 10 ms within the bounds. */
      {80 * MS, 10 * MS - 1, 10 * MS},
      /* 200 / 8 = 25 ms is lowered to 16 ms. */
      {200 * MS, 16 * MS - 1, 16 * MS},
      /* 2 s: still 16 ms. */
      {2000 * MS, 16 * MS - 1, 16 * MS},
  };
  fixture f;
  size_t i;

  (void)state;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    fixture_init(&f);
    round_acks(&f, 10, cases[i].last, NULL);
    assert_int_equal(
        1, round_acks(&f, 10, cases[i].last + cases[i].rise_no, NULL));
    assert_int_equal(0, f.hs.in_css);

    fixture_init(&f);
    round_acks(&f, 10, cases[i].last, NULL);
    assert_int_equal(
        RUDP_HYSTART_CSS_GROWTH_DIVISOR,
        round_acks(&f, 10, cases[i].last + cases[i].rise_yes, NULL));
    assert_true(f.hs.in_css);
  }
}

static void test_rudp_hystart_round_by_send_time(void **state) {
  fixture f;
  rudp_tstamp start;
  int i;

  (void)state;

  fixture_init(&f);
  start = f.hs.round_start;
  /* ACKs of packets sent before the round began stay in it. */
  for (i = 0; i < 5; ++i) {
    ack_one(&f, start - 1 - (rudp_tstamp)i, 50 * MS);
  }
  assert_int_equal(start, f.hs.round_start);
  assert_int_equal(5, f.hs.rtt_sample_count);
  assert_int_equal(UINT64_MAX, f.hs.last_round_min_rtt);

  /* A packet sent exactly at the round start ends it ("at or after");
   * the next round starts at the ACK's time and this sample is its
   * first. */
  ack_one(&f, start, 60 * MS);
  assert_int_equal(f.now, f.hs.round_start);
  assert_int_equal(50 * MS, f.hs.last_round_min_rtt);
  assert_int_equal(60 * MS, f.hs.current_round_min_rtt);
  assert_int_equal(1, f.hs.rtt_sample_count);

  /* A packet sent after the old start but before the new one does not
   * end the new round. */
  start = f.hs.round_start;
  ack_one(&f, start - 1, 70 * MS);
  assert_int_equal(start, f.hs.round_start);
  assert_int_equal(2, f.hs.rtt_sample_count);
  /* One sent later does. */
  ack_one(&f, start + 1, 70 * MS);
  assert_int_equal(f.now, f.hs.round_start);
  assert_int_equal(60 * MS, f.hs.last_round_min_rtt);
}

static void test_rudp_hystart_few_samples_never_decide(void **state) {
  fixture f;
  int r;

  (void)state;

  /* Rounds of 7 samples: a doubling RTT each round enters nothing. */
  fixture_init(&f);
  for (r = 0; r < 10; ++r) {
    assert_int_equal(1, round_acks(&f, 7, (50 * MS) << r, NULL));
  }
  assert_int_equal(0, f.hs.in_css);

  /* ACKs before the first RTT sample count no samples at all. */
  fixture_init(&f);
  for (r = 0; r < 5; ++r) {
    assert_int_equal(1, round_acks(&f, 20, 0, NULL));
  }
  assert_int_equal(0, f.hs.rtt_sample_count);
  assert_int_equal(UINT64_MAX, f.hs.last_round_min_rtt);

  /* In CSS, 7 low samples do not return to slow start. */
  fixture_init(&f);
  enter_css(&f);
  assert_int_equal(RUDP_HYSTART_CSS_GROWTH_DIVISOR,
                   round_acks(&f, 7, 10 * MS, NULL));
  assert_true(f.hs.in_css);
  /* The eighth does. */
  assert_int_equal(1, ack_one(&f, f.hs.round_start - 1, 10 * MS));
  assert_int_equal(0, f.hs.in_css);
}

static void test_rudp_hystart_first_round_has_no_baseline(void **state) {
  fixture f;

  (void)state;

  /* Without a previous round there is nothing to compare against, however
   * many samples the first round has. */
  fixture_init(&f);
  assert_int_equal(1, round_acks(&f, 50, 100 * MS, NULL));
  assert_int_equal(0, f.hs.in_css);
  assert_int_equal(UINT64_MAX, f.hs.last_round_min_rtt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_hystart_init),
      cmocka_unit_test(test_rudp_hystart_flat_rtt_no_exit),
      cmocka_unit_test(test_rudp_hystart_enter_css_after_8_samples),
      cmocka_unit_test(test_rudp_hystart_rise_below_thresh),
      cmocka_unit_test(test_rudp_hystart_round_min_decides),
      cmocka_unit_test(test_rudp_hystart_rise_within_round),
      cmocka_unit_test(test_rudp_hystart_css_divisor),
      cmocka_unit_test(test_rudp_hystart_back_to_slow_start),
      cmocka_unit_test(test_rudp_hystart_exit_after_css_rounds),
      cmocka_unit_test(test_rudp_hystart_thresh_clamped),
      cmocka_unit_test(test_rudp_hystart_round_by_send_time),
      cmocka_unit_test(test_rudp_hystart_few_samples_never_decide),
      cmocka_unit_test(test_rudp_hystart_first_round_has_no_baseline),
  };

  return cmocka_run_group_tests_name("hystart", tests, NULL, NULL);
}
