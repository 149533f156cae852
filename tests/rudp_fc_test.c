/*
 * Tests for flow-control credit (lib/rudp_fc.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rudp_fc.h"
#include "rudp_test_helper.h"

#define MS RUDP_MILLISECONDS

/* recv_consume has the peer send up to |end| and the application read all
 * of it. */
static void recv_consume(rudp_fc_rx *rx, uint64_t end) {
  assert_int_equal(0, rudp_fc_rx_on_recv(rx, end));
  rudp_fc_rx_consume(rx, end - rx->consumed);
  assert_int_equal(end, rx->consumed);
}

/* ------------------------------------------------------------------ tx */

static void test_rudp_fc_tx_avail_consume(void **state) {
  rudp_fc_tx tx;
  (void)state;

  rudp_fc_tx_init(&tx, 1000);
  assert_int_equal(1000, tx.max);
  assert_int_equal(0, tx.used);
  assert_true(tx.blocked_sent == UINT64_MAX);
  assert_int_equal(1000, rudp_fc_tx_avail(&tx));

  rudp_fc_tx_consume(&tx, 400);
  assert_int_equal(600, rudp_fc_tx_avail(&tx));
  rudp_fc_tx_consume(&tx, 0);
  assert_int_equal(600, rudp_fc_tx_avail(&tx));
  rudp_fc_tx_consume(&tx, 600);
  assert_int_equal(1000, tx.used);
  assert_int_equal(0, rudp_fc_tx_avail(&tx));

  /* A state where used passed max (set directly: the API never does it)
   * still reports 0, not a wrapped huge credit. */
  tx.used = 1001;
  assert_int_equal(0, rudp_fc_tx_avail(&tx));
}

static void test_rudp_fc_tx_update_monotonic(void **state) {
  rudp_fc_tx tx;
  (void)state;

  rudp_fc_tx_init(&tx, 1000);
  rudp_fc_tx_consume(&tx, 300);

  /* Reordered or repeated MAX_DATA: stale, ignored. */
  assert_int_equal(0, rudp_fc_tx_update(&tx, 500));
  assert_int_equal(1000, tx.max);
  assert_int_equal(0, rudp_fc_tx_update(&tx, 1000));
  assert_int_equal(1000, tx.max);
  assert_int_equal(700, rudp_fc_tx_avail(&tx));

  assert_int_equal(1, rudp_fc_tx_update(&tx, 1001));
  assert_int_equal(1001, tx.max);
  assert_int_equal(701, rudp_fc_tx_avail(&tx));
  assert_int_equal(1, rudp_fc_tx_update(&tx, 5000));
  assert_int_equal(0, rudp_fc_tx_update(&tx, 4999));
  assert_int_equal(5000, tx.max);
  assert_int_equal(4700, rudp_fc_tx_avail(&tx));
}

static void test_rudp_fc_tx_blocked_once_per_limit(void **state) {
  rudp_fc_tx tx;
  (void)state;

  rudp_fc_tx_init(&tx, 100);
  /* Not blocked while credit remains. */
  assert_int_equal(0, rudp_fc_tx_should_send_blocked(&tx));
  rudp_fc_tx_consume(&tx, 99);
  assert_int_equal(0, rudp_fc_tx_should_send_blocked(&tx));
  assert_true(tx.blocked_sent == UINT64_MAX);

  rudp_fc_tx_consume(&tx, 1);
  assert_int_equal(1, rudp_fc_tx_should_send_blocked(&tx));
  assert_int_equal(100, tx.blocked_sent);
  /* Once per limit. */
  assert_int_equal(0, rudp_fc_tx_should_send_blocked(&tx));
  assert_int_equal(0, rudp_fc_tx_should_send_blocked(&tx));
  /* A stale update does not re-arm it. */
  assert_int_equal(0, rudp_fc_tx_update(&tx, 100));
  assert_int_equal(0, rudp_fc_tx_should_send_blocked(&tx));

  /* New credit: not blocked until it is used up, then once again. */
  assert_int_equal(1, rudp_fc_tx_update(&tx, 150));
  assert_int_equal(0, rudp_fc_tx_should_send_blocked(&tx));
  rudp_fc_tx_consume(&tx, 50);
  assert_int_equal(1, rudp_fc_tx_should_send_blocked(&tx));
  assert_int_equal(150, tx.blocked_sent);
  assert_int_equal(0, rudp_fc_tx_should_send_blocked(&tx));
}

static void test_rudp_fc_tx_zero_credit(void **state) {
  rudp_fc_tx tx;
  (void)state;

  /* A peer that grants nothing: blocked from the start (at limit 0). */
  rudp_fc_tx_init(&tx, 0);
  assert_int_equal(0, rudp_fc_tx_avail(&tx));
  assert_int_equal(1, rudp_fc_tx_should_send_blocked(&tx));
  assert_int_equal(0, tx.blocked_sent);
  assert_int_equal(0, rudp_fc_tx_should_send_blocked(&tx));
  assert_int_equal(1, rudp_fc_tx_update(&tx, 1));
  assert_int_equal(1, rudp_fc_tx_avail(&tx));
}

static void test_rudp_fc_tx_overflow_guard(void **state) {
  rudp_fc_tx tx;
  (void)state;

  /* Credit never goes beyond what a varint can carry. */
  rudp_fc_tx_init(&tx, UINT64_MAX);
  assert_int_equal(RUDP_MAX_VARINT, tx.max);
  assert_int_equal(0, rudp_fc_tx_update(&tx, UINT64_MAX));
  assert_int_equal(RUDP_MAX_VARINT, tx.max);

  rudp_fc_tx_init(&tx, RUDP_MAX_VARINT - 1);
  assert_int_equal(1, rudp_fc_tx_update(&tx, UINT64_MAX));
  assert_int_equal(RUDP_MAX_VARINT, tx.max);
  rudp_fc_tx_consume(&tx, RUDP_MAX_VARINT - 1);
  assert_int_equal(1, rudp_fc_tx_avail(&tx));
  rudp_fc_tx_consume(&tx, 1);
  assert_int_equal(0, rudp_fc_tx_avail(&tx));
  assert_int_equal(1, rudp_fc_tx_should_send_blocked(&tx));
  assert_int_equal(RUDP_MAX_VARINT, tx.blocked_sent);
  assert_int_equal(0, rudp_fc_tx_should_send_blocked(&tx));
}

/* ------------------------------------------------------------------ rx */

static void test_rudp_fc_rx_init(void **state) {
  rudp_fc_rx rx;
  (void)state;

  rudp_fc_rx_init(&rx, 1000, 8000, 5 * MS);
  assert_int_equal(1000, rx.max);
  assert_int_equal(0, rx.highest);
  assert_int_equal(0, rx.consumed);
  assert_int_equal(1000, rx.window);
  assert_int_equal(8000, rx.max_window);
  assert_int_equal(5 * MS, rx.last_update_ts);

  /* max_window is at least the window. */
  rudp_fc_rx_init(&rx, 1000, 10, 0);
  assert_int_equal(1000, rx.window);
  assert_int_equal(1000, rx.max_window);
}

static void test_rudp_fc_rx_violation(void **state) {
  rudp_fc_rx rx;
  (void)state;

  rudp_fc_rx_init(&rx, 1000, 1000, 0);
  assert_int_equal(0, rudp_fc_rx_on_recv(&rx, 400));
  assert_int_equal(400, rx.highest);
  /* Exactly at the limit is allowed. */
  assert_int_equal(0, rudp_fc_rx_on_recv(&rx, 1000));
  assert_int_equal(1000, rx.highest);
  /* One byte beyond it is a violation (RFC 9000 section 4.1), and does
   * not move |highest|. */
  assert_int_equal(RUDP_ERR_FLOW_CONTROL, rudp_fc_rx_on_recv(&rx, 1001));
  assert_int_equal(1000, rx.highest);
  assert_int_equal(RUDP_ERR_FLOW_CONTROL, rudp_fc_rx_on_recv(&rx, UINT64_MAX));
  /* Retransmitted, lower data never lowers |highest|. */
  assert_int_equal(0, rudp_fc_rx_on_recv(&rx, 200));
  assert_int_equal(1000, rx.highest);
}

static void test_rudp_fc_rx_should_update_threshold(void **state) {
  rudp_fc_rx rx;
  (void)state;

  rudp_fc_rx_init(&rx, 1000, 1000, 0);
  assert_int_equal(0, rudp_fc_rx_should_update(&rx));
  assert_int_equal(0, rudp_fc_rx_on_recv(&rx, 1000));
  /* Received but unread data does not count: credit is about the buffer. */
  assert_int_equal(0, rudp_fc_rx_should_update(&rx));

  /* 500 left of a 1000 window: exactly half, not less. */
  rudp_fc_rx_consume(&rx, 500);
  assert_int_equal(0, rudp_fc_rx_should_update(&rx));
  /* 499 left: less than half. */
  rudp_fc_rx_consume(&rx, 1);
  assert_int_equal(1, rudp_fc_rx_should_update(&rx));
  rudp_fc_rx_consume(&rx, 499);
  assert_int_equal(1, rudp_fc_rx_should_update(&rx));

  /* After the update, a full window is open again. */
  assert_int_equal(2000, rudp_fc_rx_update(&rx, 100 * MS, 10 * RUDP_SECONDS));
  assert_int_equal(0, rudp_fc_rx_should_update(&rx));

  /* Odd window: 3 bytes, update once fewer than 1.5 remain. */
  rudp_fc_rx_init(&rx, 3, 3, 0);
  recv_consume(&rx, 1);
  assert_int_equal(0, rudp_fc_rx_should_update(&rx)); /* 2 left */
  recv_consume(&rx, 2);
  assert_int_equal(1, rudp_fc_rx_should_update(&rx)); /* 1 left */
}

static void test_rudp_fc_rx_tiny_window(void **state) {
  rudp_fc_rx rx;
  (void)state;

  /* A 1-byte window must still ask for more once that byte is read, or
   * the peer would wait forever (window / 2 rounds down to 0). */
  rudp_fc_rx_init(&rx, 1, 1, 0);
  assert_int_equal(0, rudp_fc_rx_should_update(&rx));
  recv_consume(&rx, 1);
  assert_int_equal(1, rudp_fc_rx_should_update(&rx));
  assert_int_equal(2, rudp_fc_rx_update(&rx, 0, RUDP_SECONDS));
}

static void test_rudp_fc_rx_update_slow_reader(void **state) {
  rudp_fc_rx rx;
  rudp_tstamp t = 0;
  int i;
  (void)state;

  /* The application reads half a window every 300 ms with a 100 ms RTT:
   * the reader is the bottleneck, so the window stays put. */
  rudp_fc_rx_init(&rx, 1000, 16000, t);
  for (i = 1; i <= 5; ++i) {
    t += 300 * MS;
    recv_consume(&rx, rx.consumed + 501);
    assert_int_equal(1, rudp_fc_rx_should_update(&rx));
    assert_int_equal(rx.consumed + 1000, rudp_fc_rx_update(&rx, 100 * MS, t));
    assert_int_equal(1000, rx.window);
    assert_int_equal(t, rx.last_update_ts);
    assert_int_equal(rx.consumed + 1000, rx.max);
  }
}

static void test_rudp_fc_rx_autotune_doubles(void **state) {
  rudp_fc_rx rx;
  (void)state;

  /* srtt 10 ms: updates less than 20 ms apart double the window. */
  rudp_fc_rx_init(&rx, 1000, 4000, 0);

  recv_consume(&rx, 600);
  assert_int_equal(2600, rudp_fc_rx_update(&rx, 10 * MS, 5 * MS));
  assert_int_equal(2000, rx.window);

  recv_consume(&rx, 1700);
  assert_int_equal(5700, rudp_fc_rx_update(&rx, 10 * MS, 10 * MS));
  assert_int_equal(4000, rx.window);

  /* At max_window it stops growing. */
  recv_consume(&rx, 3800);
  assert_int_equal(7800, rudp_fc_rx_update(&rx, 10 * MS, 12 * MS));
  assert_int_equal(4000, rx.window);
}

static void test_rudp_fc_rx_autotune_boundary(void **state) {
  rudp_fc_rx rx;
  (void)state;

  /* Exactly 2 * srtt since the last update is not "faster than". */
  rudp_fc_rx_init(&rx, 1000, 4000, 1 * RUDP_SECONDS);
  recv_consume(&rx, 600);
  assert_int_equal(1600,
                   rudp_fc_rx_update(&rx, 10 * MS, 1 * RUDP_SECONDS + 20 * MS));
  assert_int_equal(1000, rx.window);
  /* One nanosecond sooner is. */
  recv_consume(&rx, 1200);
  assert_int_equal(
      3200, rudp_fc_rx_update(&rx, 10 * MS, 1 * RUDP_SECONDS + 40 * MS - 1));
  assert_int_equal(2000, rx.window);

  /* Doubling is capped at max_window, not skipped: 2000 -> 3000. */
  rudp_fc_rx_init(&rx, 2000, 3000, 0);
  recv_consume(&rx, 1500);
  assert_int_equal(4500, rudp_fc_rx_update(&rx, 10 * MS, 1 * MS));
  assert_int_equal(3000, rx.window);

  /* No RTT sample yet (srtt 0) never doubles. */
  rudp_fc_rx_init(&rx, 1000, 4000, 0);
  recv_consume(&rx, 600);
  assert_int_equal(1600, rudp_fc_rx_update(&rx, 0, 0));
  assert_int_equal(1000, rx.window);

  /* A clock that went backwards does not count as fast. */
  rudp_fc_rx_init(&rx, 1000, 4000, 50 * MS);
  recv_consume(&rx, 600);
  assert_int_equal(1600, rudp_fc_rx_update(&rx, 10 * MS, 40 * MS));
  assert_int_equal(1000, rx.window);
  assert_int_equal(40 * MS, rx.last_update_ts);
  /* ... even with an srtt so large that the wrapped difference would fit
   * under it. */
  rudp_fc_rx_init(&rx, 1000, 4000, 50 * MS);
  recv_consume(&rx, 600);
  assert_int_equal(1600, rudp_fc_rx_update(&rx, UINT64_MAX, 40 * MS));
  assert_int_equal(1000, rx.window);
}

static void test_rudp_fc_rx_max_never_decreases(void **state) {
  rudp_fc_rx rx;
  uint64_t prev;
  (void)state;

  rudp_fc_rx_init(&rx, 1000, 1000, 0);
  /* Nothing consumed: the update repeats the same credit. */
  assert_int_equal(1000, rudp_fc_rx_update(&rx, 10 * MS, RUDP_SECONDS));
  assert_int_equal(1000, rx.max);

  /* A max above consumed + window (set directly, as after a window that
   * was larger before) is kept. */
  rx.max = 5000;
  recv_consume(&rx, 100);
  assert_int_equal(5000, rudp_fc_rx_update(&rx, 10 * MS, 2 * RUDP_SECONDS));
  assert_int_equal(5000, rx.max);

  /* Randomized: whatever the order of reads and updates, max only grows
   * and always covers consumed + window. */
  {
    rudp_test_rng rng;
    rudp_tstamp t = 0;
    int i;

    rudp_test_rng_init(&rng, 7);
    rudp_fc_rx_init(&rx, 1000, 64000, t);
    prev = rx.max;
    for (i = 0; i < 10000; ++i) {
      t += rudp_test_rng_below(&rng, 30 * MS);
      recv_consume(&rx, rx.consumed + rudp_test_rng_below(
                                          &rng, rx.max - rx.consumed + 1));
      if (rudp_fc_rx_should_update(&rx) || rudp_test_rng_below(&rng, 8) == 0) {
        assert_true(rudp_fc_rx_update(&rx, 10 * MS, t) >= prev);
        assert_true(rx.max >= rx.consumed + rx.window);
      }
      assert_true(rx.max >= prev);
      assert_true(rx.window <= rx.max_window);
      prev = rx.max;
    }
    assert_int_equal(64000, rx.window);
  }
}

static void test_rudp_fc_rx_overflow_guard(void **state) {
  rudp_fc_rx rx;
  (void)state;

  /* Windows beyond 2^62 - 1 are clamped. */
  rudp_fc_rx_init(&rx, UINT64_MAX, UINT64_MAX, 0);
  assert_int_equal(RUDP_MAX_VARINT, rx.max);
  assert_int_equal(RUDP_MAX_VARINT, rx.window);
  assert_int_equal(RUDP_MAX_VARINT, rx.max_window);
  recv_consume(&rx, RUDP_MAX_VARINT);
  /* At the ceiling, no update could raise the credit: none is asked for. */
  assert_int_equal(0, rudp_fc_rx_should_update(&rx));
  assert_int_equal(RUDP_MAX_VARINT, rudp_fc_rx_update(&rx, MS, 1));

  /* consumed + window would pass 2^62 - 1: the credit stops there. */
  rudp_fc_rx_init(&rx, 1ULL << 61, RUDP_MAX_VARINT, 0);
  recv_consume(&rx, (1ULL << 61) - 10);
  assert_int_equal(1, rudp_fc_rx_should_update(&rx));
  /* A fast update doubles 2^61 to 2^62, capped at 2^62 - 1. */
  assert_int_equal(RUDP_MAX_VARINT, rudp_fc_rx_update(&rx, MS, 1));
  assert_int_equal(RUDP_MAX_VARINT, rx.window);
  assert_int_equal(RUDP_MAX_VARINT, rx.max);
  assert_int_equal(RUDP_ERR_FLOW_CONTROL,
                   rudp_fc_rx_on_recv(&rx, RUDP_MAX_VARINT + 1));

  /* A huge srtt saturates 2 * srtt instead of wrapping to a small one. */
  rudp_fc_rx_init(&rx, 1000, 4000, 0);
  recv_consume(&rx, 600);
  assert_int_equal(2600, rudp_fc_rx_update(&rx, UINT64_MAX, 1));
  assert_int_equal(2000, rx.window);
  recv_consume(&rx, 1700);
  assert_int_equal(5700, rudp_fc_rx_update(&rx, (UINT64_MAX / 2) + 1, 2));
  assert_int_equal(4000, rx.window);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_fc_tx_avail_consume),
      cmocka_unit_test(test_rudp_fc_tx_update_monotonic),
      cmocka_unit_test(test_rudp_fc_tx_blocked_once_per_limit),
      cmocka_unit_test(test_rudp_fc_tx_zero_credit),
      cmocka_unit_test(test_rudp_fc_tx_overflow_guard),
      cmocka_unit_test(test_rudp_fc_rx_init),
      cmocka_unit_test(test_rudp_fc_rx_violation),
      cmocka_unit_test(test_rudp_fc_rx_should_update_threshold),
      cmocka_unit_test(test_rudp_fc_rx_tiny_window),
      cmocka_unit_test(test_rudp_fc_rx_update_slow_reader),
      cmocka_unit_test(test_rudp_fc_rx_autotune_doubles),
      cmocka_unit_test(test_rudp_fc_rx_autotune_boundary),
      cmocka_unit_test(test_rudp_fc_rx_max_never_decreases),
      cmocka_unit_test(test_rudp_fc_rx_overflow_guard),
  };

  return cmocka_run_group_tests_name("fc", tests, NULL, NULL);
}
