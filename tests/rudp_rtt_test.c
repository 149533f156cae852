/*
 * Tests for the RTT estimator and its timers (lib/rudp_rtt.c).  Expected
 * values are worked out by hand from RFC 9002 §5.3 with integer division.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rudp_rtt.h"

#define MS RUDP_MILLISECONDS
#define US RUDP_MICROSECONDS

/* rtt_with_first_sample gives an estimator after one |latest| sample. */
static rudp_rtt rtt_with_first_sample(rudp_duration latest) {
  rudp_rtt rtt;

  rudp_rtt_init(&rtt, RUDP_DEFAULT_INITIAL_RTT);
  rudp_rtt_update(&rtt, latest, 0, 25 * MS, 1);
  return rtt;
}

static void test_rudp_rtt_init(void **state) {
  rudp_rtt rtt;

  (void)state;

  rudp_rtt_init(&rtt, RUDP_DEFAULT_INITIAL_RTT);
  assert_int_equal(0, rtt.latest);
  assert_int_equal(333 * MS, rtt.smoothed);
  assert_int_equal(166500 * US, rtt.var);
  assert_int_equal(UINT64_MAX, rtt.min);
  assert_int_equal(0, rtt.nsamples);

  /* Odd nanosecond counts round the variance down. */
  rudp_rtt_init(&rtt, 1001);
  assert_int_equal(1001, rtt.smoothed);
  assert_int_equal(500, rtt.var);
}

static void test_rudp_rtt_first_sample(void **state) {
  rudp_rtt rtt;

  (void)state;

  rudp_rtt_init(&rtt, RUDP_DEFAULT_INITIAL_RTT);
  /* The ACK delay of the first sample is ignored (§5.3). */
  rudp_rtt_update(&rtt, 100 * MS, 10 * MS, 25 * MS, 1);
  assert_int_equal(100 * MS, rtt.latest);
  assert_int_equal(100 * MS, rtt.smoothed);
  assert_int_equal(50 * MS, rtt.var);
  assert_int_equal(100 * MS, rtt.min);
  assert_int_equal(1, rtt.nsamples);
}

static void test_rudp_rtt_second_sample_subtracts_ack_delay(void **state) {
  rudp_rtt rtt = rtt_with_first_sample(100 * MS);

  (void)state;

  /* adjusted = 120 - 10 = 110; var = (3 * 50 + 10) / 4 = 40;
   * smoothed = (7 * 100 + 110) / 8 = 101.25. */
  rudp_rtt_update(&rtt, 120 * MS, 10 * MS, 25 * MS, 1);
  assert_int_equal(120 * MS, rtt.latest);
  assert_int_equal(40 * MS, rtt.var);
  assert_int_equal(101250 * US, rtt.smoothed);
  /* min_rtt takes the raw sample, never the adjusted one. */
  assert_int_equal(100 * MS, rtt.min);
  assert_int_equal(2, rtt.nsamples);
}

static void test_rudp_rtt_second_sample_no_ack_delay(void **state) {
  rudp_rtt rtt = rtt_with_first_sample(100 * MS);

  (void)state;

  /* adjusted = 130; var = (150 + 30) / 4 = 45; smoothed = 830 / 8. */
  rudp_rtt_update(&rtt, 130 * MS, 0, 25 * MS, 1);
  assert_int_equal(45 * MS, rtt.var);
  assert_int_equal(103750 * US, rtt.smoothed);
}

static void test_rudp_rtt_ack_delay_below_min_not_subtracted(void **state) {
  rudp_rtt rtt = rtt_with_first_sample(100 * MS);
  rudp_rtt rtt2 = rtt;

  (void)state;

  /* 105 - 10 would be below min_rtt (100): the sample is used as is.
   * var = (150 + 5) / 4 = 38.75; smoothed = (700 + 105) / 8 = 100.625. */
  rudp_rtt_update(&rtt, 105 * MS, 10 * MS, 25 * MS, 1);
  assert_int_equal(38750 * US, rtt.var);
  assert_int_equal(100625 * US, rtt.smoothed);
  assert_int_equal(100 * MS, rtt.min);

  /* Landing exactly on min_rtt is allowed: adjusted = 100. */
  rudp_rtt_update(&rtt2, 110 * MS, 10 * MS, 25 * MS, 1);
  assert_int_equal(37500 * US, rtt2.var);
  assert_int_equal(100 * MS, rtt2.smoothed);
}

static void test_rudp_rtt_ack_delay_capped_only_when_confirmed(void **state) {
  rudp_rtt confirmed = rtt_with_first_sample(100 * MS);
  rudp_rtt unconfirmed = confirmed;

  (void)state;

  /* Confirmed: delay 50 capped to 25, adjusted = 175;
   * var = (150 + 75) / 4 = 56.25; smoothed = (700 + 175) / 8 = 109.375. */
  rudp_rtt_update(&confirmed, 200 * MS, 50 * MS, 25 * MS, 1);
  assert_int_equal(56250 * US, confirmed.var);
  assert_int_equal(109375 * US, confirmed.smoothed);

  /* Not confirmed: the full 50 is subtracted, adjusted = 150;
   * var = (150 + 50) / 4 = 50; smoothed = 850 / 8 = 106.25. */
  rudp_rtt_update(&unconfirmed, 200 * MS, 50 * MS, 25 * MS, 0);
  assert_int_equal(50 * MS, unconfirmed.var);
  assert_int_equal(106250 * US, unconfirmed.smoothed);
}

static void test_rudp_rtt_smoothed_below_sample(void **state) {
  rudp_rtt rtt = rtt_with_first_sample(100 * MS);

  (void)state;

  /* |smoothed - adjusted| when the sample is below the average:
   * var = (150 + 20) / 4 = 42.5; smoothed = (700 + 80) / 8 = 97.5. */
  rudp_rtt_update(&rtt, 80 * MS, 0, 25 * MS, 1);
  assert_int_equal(42500 * US, rtt.var);
  assert_int_equal(97500 * US, rtt.smoothed);
  assert_int_equal(80 * MS, rtt.min);
  assert_int_equal(80 * MS, rtt.latest);
}

static void test_rudp_rtt_integer_rounding(void **state) {
  rudp_rtt rtt;

  (void)state;

  rudp_rtt_init(&rtt, RUDP_DEFAULT_INITIAL_RTT);
  rudp_rtt_update(&rtt, 1001, 0, 0, 1);
  assert_int_equal(500, rtt.var);
  /* var = 1502 / 4 = 375 (375.5 down); smoothed = 8010 / 8 = 1001. */
  rudp_rtt_update(&rtt, 1003, 0, 0, 1);
  assert_int_equal(375, rtt.var);
  assert_int_equal(1001, rtt.smoothed);

  /* One rounding per update, not one per term: var = 1515 / 4 = 378
   * (378.75 down; 503 - 503 / 4 + 6 / 4 would give 379) and smoothed =
   * 8050 / 8 = 1006 (1007 - 1007 / 8 + 1001 / 8 would give 1007). */
  rudp_rtt_init(&rtt, RUDP_DEFAULT_INITIAL_RTT);
  rudp_rtt_update(&rtt, 1007, 0, 0, 1);
  assert_int_equal(503, rtt.var);
  rudp_rtt_update(&rtt, 1001, 0, 0, 1);
  assert_int_equal(378, rtt.var);
  assert_int_equal(1006, rtt.smoothed);
}

static void test_rudp_rtt_huge_samples_do_not_wrap(void **state) {
  rudp_rtt rtt;

  (void)state;

  rudp_rtt_init(&rtt, UINT64_MAX);
  rudp_rtt_update(&rtt, UINT64_MAX, UINT64_MAX, UINT64_MAX, 1);
  rudp_rtt_update(&rtt, UINT64_MAX, 0, 0, 1);
  rudp_rtt_update(&rtt, UINT64_MAX, 0, 0, 0);
  /* A wrapped sum would have made the average tiny. */
  assert_true(rtt.smoothed >= UINT64_MAX / 16);
  assert_int_equal(rtt.latest, rtt.smoothed);
  assert_true(rtt.var <= rtt.smoothed);
  assert_int_equal(UINT64_MAX, rudp_rtt_pto(&rtt, 0, 4));
  assert_true(rudp_rtt_loss_delay(&rtt) > rtt.smoothed);
}

static void test_rudp_rtt_pto(void **state) {
  rudp_rtt rtt;

  (void)state;

  /* Before any sample: 333 + 4 * 166.5 = 999 ms, plus max_ack_delay. */
  rudp_rtt_init(&rtt, RUDP_DEFAULT_INITIAL_RTT);
  assert_int_equal(999 * MS, rudp_rtt_pto(&rtt, 0, 0));
  assert_int_equal(1024 * MS, rudp_rtt_pto(&rtt, 25 * MS, 0));

  /* 100 + 4 * 50 + 25 = 325 ms, doubled per backoff. */
  rtt = rtt_with_first_sample(100 * MS);
  assert_int_equal(325 * MS, rudp_rtt_pto(&rtt, 25 * MS, 0));
  assert_int_equal(650 * MS, rudp_rtt_pto(&rtt, 25 * MS, 1));
  assert_int_equal(1300 * MS, rudp_rtt_pto(&rtt, 25 * MS, 2));
  assert_int_equal(2600 * MS, rudp_rtt_pto(&rtt, 25 * MS, 3));
  assert_int_equal(325 * MS * 1024, rudp_rtt_pto(&rtt, 25 * MS, 10));

  /* 4 * var below kGranularity: 0.2 + max(0.4, 1) = 1.2 ms. */
  rtt = rtt_with_first_sample(200 * US);
  assert_int_equal(1200 * US, rudp_rtt_pto(&rtt, 0, 0));
  assert_int_equal(2400 * US, rudp_rtt_pto(&rtt, 0, 1));
}

static void test_rudp_rtt_pto_saturates(void **state) {
  rudp_rtt rtt = rtt_with_first_sample(100 * MS);

  (void)state;

  /* 325e6 << 35 still fits in 64 bits; << 36 does not. */
  assert_int_equal((uint64_t)325 * MS << 35, rudp_rtt_pto(&rtt, 25 * MS, 35));
  assert_int_equal(UINT64_MAX, rudp_rtt_pto(&rtt, 25 * MS, 36));
  assert_int_equal(UINT64_MAX, rudp_rtt_pto(&rtt, 25 * MS, 63));
  assert_int_equal(UINT64_MAX, rudp_rtt_pto(&rtt, 25 * MS, 64));
  assert_int_equal(UINT64_MAX, rudp_rtt_pto(&rtt, 25 * MS, 1000));
  assert_int_equal(UINT64_MAX, rudp_rtt_pto(&rtt, 25 * MS, (unsigned)-1));
  /* The sum itself saturates too. */
  assert_int_equal(UINT64_MAX, rudp_rtt_pto(&rtt, UINT64_MAX, 0));
  assert_int_equal(UINT64_MAX, rudp_rtt_pto(&rtt, UINT64_MAX - MS, 0));
}

static void test_rudp_rtt_loss_delay(void **state) {
  rudp_rtt rtt;

  (void)state;

  /* No sample yet: 9/8 of the initial RTT. */
  rudp_rtt_init(&rtt, RUDP_DEFAULT_INITIAL_RTT);
  assert_int_equal(374625 * US, rudp_rtt_loss_delay(&rtt));

  rtt = rtt_with_first_sample(100 * MS);
  assert_int_equal(112500 * US, rudp_rtt_loss_delay(&rtt));

  /* latest (120) above smoothed (102.5) is the one scaled. */
  rudp_rtt_update(&rtt, 120 * MS, 0, 25 * MS, 1);
  assert_int_equal(102500 * US, rtt.smoothed);
  assert_int_equal(135 * MS, rudp_rtt_loss_delay(&rtt));

  /* floor(9 * 8000007 / 8) = 9000007. */
  rtt = rtt_with_first_sample(8 * MS + 7);
  assert_int_equal(9 * MS + 7, rudp_rtt_loss_delay(&rtt));

  /* kGranularity floor: 9/8 * 0.5 ms is 0.5625 ms, raised to 1 ms. */
  rtt = rtt_with_first_sample(500 * US);
  assert_int_equal(RUDP_GRANULARITY, rudp_rtt_loss_delay(&rtt));
  rtt = rtt_with_first_sample(0);
  assert_int_equal(RUDP_GRANULARITY, rudp_rtt_loss_delay(&rtt));

  /* Saturates instead of wrapping. */
  rtt.smoothed = UINT64_MAX;
  assert_int_equal(UINT64_MAX, rudp_rtt_loss_delay(&rtt));
}

static void test_rudp_rtt_persistent_congestion_duration(void **state) {
  rudp_rtt rtt;

  (void)state;

  rudp_rtt_init(&rtt, RUDP_DEFAULT_INITIAL_RTT);
  assert_int_equal(2997 * MS, rudp_rtt_persistent_congestion_duration(&rtt, 0));

  /* 3 * (100 + 4 * 50 + 25) = 975 ms. */
  rtt = rtt_with_first_sample(100 * MS);
  assert_int_equal(975 * MS,
                   rudp_rtt_persistent_congestion_duration(&rtt, 25 * MS));

  /* 3 * (0.2 + 1 + 0) = 3.6 ms: granularity applies here too. */
  rtt = rtt_with_first_sample(200 * US);
  assert_int_equal(3600 * US, rudp_rtt_persistent_congestion_duration(&rtt, 0));

  assert_int_equal(UINT64_MAX, rudp_rtt_persistent_congestion_duration(
                                   &rtt, UINT64_MAX / 3));
  assert_int_equal(UINT64_MAX,
                   rudp_rtt_persistent_congestion_duration(&rtt, UINT64_MAX));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_rtt_init),
      cmocka_unit_test(test_rudp_rtt_first_sample),
      cmocka_unit_test(test_rudp_rtt_second_sample_subtracts_ack_delay),
      cmocka_unit_test(test_rudp_rtt_second_sample_no_ack_delay),
      cmocka_unit_test(test_rudp_rtt_ack_delay_below_min_not_subtracted),
      cmocka_unit_test(test_rudp_rtt_ack_delay_capped_only_when_confirmed),
      cmocka_unit_test(test_rudp_rtt_smoothed_below_sample),
      cmocka_unit_test(test_rudp_rtt_integer_rounding),
      cmocka_unit_test(test_rudp_rtt_huge_samples_do_not_wrap),
      cmocka_unit_test(test_rudp_rtt_pto),
      cmocka_unit_test(test_rudp_rtt_pto_saturates),
      cmocka_unit_test(test_rudp_rtt_loss_delay),
      cmocka_unit_test(test_rudp_rtt_persistent_congestion_duration),
  };

  return cmocka_run_group_tests_name("rtt", tests, NULL, NULL);
}
