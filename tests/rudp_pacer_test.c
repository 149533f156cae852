/*
 * Tests for the token-bucket pacer (lib/rudp_pacer.c).  Expected times are
 * worked out by hand: at |rate| bytes per second a byte takes 10^9 / rate
 * ns, and the pacer must answer to the nanosecond.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "rudp_pacer.h"
#include "rudp_test_helper.h"

#define MS RUDP_MILLISECONDS
#define US RUDP_MICROSECONDS
#define SEC RUDP_SECONDS

#define MSS 1200u
#define BURST ((uint64_t)RUDP_PACER_BURST_PACKETS * MSS)

/* drained returns a pacer at |rate| whose bucket was emptied at |t|. */
static rudp_pacer drained(uint64_t mss, uint64_t rate, rudp_tstamp t) {
  rudp_pacer p;

  rudp_pacer_init(&p, mss, t);
  rudp_pacer_set_rate(&p, rate, t);
  rudp_pacer_on_sent(&p, (uint64_t)RUDP_PACER_BURST_PACKETS * mss, t);
  return p;
}

/* tokens_at returns the tokens |p| would hold at |t| (a copy is refilled
 * with a zero-byte send). */
static uint64_t tokens_at(const rudp_pacer *p, rudp_tstamp t) {
  rudp_pacer c = *p;

  rudp_pacer_on_sent(&c, 0, t);
  return c.tokens;
}

static void test_rudp_pacer_full_burst_at_start(void **state) {
  rudp_pacer p;
  rudp_tstamp t = 5 * SEC;
  int i;

  (void)state;

  rudp_pacer_init(&p, MSS, t);
  assert_int_equal(BURST, p.tokens);
  assert_int_equal(0, p.rate);
  rudp_pacer_set_rate(&p, 1000000, t);
  assert_int_equal(BURST, p.tokens);
  /* Exactly RUDP_PACER_BURST_PACKETS packets leave at once... */
  for (i = 0; i < RUDP_PACER_BURST_PACKETS; ++i) {
    assert_int_equal(t, rudp_pacer_next(&p, MSS, t));
    rudp_pacer_on_sent(&p, MSS, t);
  }
  assert_int_equal(0, p.tokens);
  /* ...and the next one waits 1200 bytes at 10^6 B/s: 1.2 ms. */
  assert_int_equal(t + 1200 * US, rudp_pacer_next(&p, MSS, t));
}

static void test_rudp_pacer_refill_exact_rate(void **state) {
  rudp_pacer p = drained(MSS, 1000000, 0), q;
  rudp_test_rng rng;
  rudp_tstamp t;
  uint64_t expect;
  int i;

  (void)state;

  /* 10^6 B/s: one byte per microsecond. */
  assert_int_equal(0, tokens_at(&p, 999));
  assert_int_equal(1, tokens_at(&p, 1 * US));
  assert_int_equal(1000, tokens_at(&p, 1 * MS));
  assert_int_equal(1000, tokens_at(&p, 1 * MS + 999));

  /* A rate that does not divide 10^9: 7 B/s earns floor(7 t / 10^9)
   * bytes after t ns whether the pacer is refilled once or at a thousand
   * random instants in between (the fraction is carried, not dropped). */
  q = drained(MSS, 7, 0);
  rudp_test_rng_init(&rng, 0x70ac3);
  t = 0;
  for (i = 0; i < 1000; ++i) {
    t += 1 + rudp_test_rng_below(&rng, 10 * MS);
    rudp_pacer_on_sent(&q, 0, t);
    expect = t * 7 / SEC;
    assert_int_equal(expect, q.tokens);
  }
  assert_true(q.tokens > 0);

  /* Spending while refilling: the bytes sent plus the tokens left equal
   * what the rate allowed, to the byte.  1,234,567 B/s over 1 s, trying a
   * 200-byte send every 50..150 us (more than the rate, so the bucket
   * never fills and nothing is discarded at the cap). */
  q = drained(MSS, 1234567, 0);
  t = 0;
  expect = 0;
  while (t < SEC) {
    t += 50 * US + rudp_test_rng_below(&rng, 100 * US);
    if (rudp_pacer_next(&q, 200, t) <= t) {
      rudp_pacer_on_sent(&q, 200, t);
      expect += 200;
    }
  }
  assert_int_equal(t * 1234567 / SEC, expect + tokens_at(&q, t));
}

static void test_rudp_pacer_never_above_burst(void **state) {
  rudp_pacer p = drained(MSS, 1000000, 0);
  rudp_tstamp t;

  (void)state;

  /* 12 ms earns exactly the allowance; more time adds nothing. */
  assert_int_equal(BURST, tokens_at(&p, 12 * MS));
  assert_int_equal(BURST, tokens_at(&p, 12 * MS + 1));
  assert_int_equal(BURST, tokens_at(&p, 3600 * SEC));
  rudp_pacer_on_sent(&p, 0, 100 * MS);
  assert_int_equal(BURST, p.tokens);
  assert_int_equal(0, p.frac);

  /* After a long idle period only one burst goes out at once. */
  t = 100 * MS;
  while (rudp_pacer_next(&p, MSS, t) <= t) {
    rudp_pacer_on_sent(&p, MSS, t);
    assert_true(p.tokens <= BURST);
  }
  assert_int_equal(0, p.tokens);

  /* Excess is not banked: with the bucket full at 12 ms and idle until
   * 50 ms, one packet later the bucket is short by exactly one packet. */
  p = drained(MSS, 1000000, 0);
  rudp_pacer_on_sent(&p, MSS, 50 * MS);
  assert_int_equal(BURST - MSS, p.tokens);
  assert_int_equal(50 * MS + 1200 * US, rudp_pacer_next(&p, BURST, 50 * MS));
}

static void test_rudp_pacer_next_exact_time(void **state) {
  rudp_pacer p, c;
  rudp_test_rng rng;
  rudp_tstamp t, n;
  uint64_t rate, size, mss;
  int i;

  (void)state;

  /* 3 B/s and a 1-byte packet: ceil(10^9 / 3) ns. */
  p = drained(1, 3, 0);
  assert_int_equal(333333334, rudp_pacer_next(&p, 1, 0));
  assert_int_equal(0, tokens_at(&p, 333333333));
  assert_int_equal(1, tokens_at(&p, 333333334));
  /* With 1/3 byte already earned the wait is shorter by that much. */
  rudp_pacer_on_sent(&p, 0, 111111112);
  assert_int_equal(333333334, rudp_pacer_next(&p, 1, 111111112));
  /* Asked before last_ts, the answer still counts from last_ts. */
  assert_int_equal(333333334, rudp_pacer_next(&p, 1, 5));

  /* Random rates, sizes and histories: next() is the first nanosecond at
   * which a refill gives enough tokens, and a send there is accepted. */
  rudp_test_rng_init(&rng, 0x9ace5);
  for (i = 0; i < 2000; ++i) {
    mss = 1 + rudp_test_rng_below(&rng, 9000);
    rate = 1 + rudp_test_rng_below(&rng, i % 2 ? 1000 : 1000000000);
    p = drained(mss, rate, 0);
    t = rudp_test_rng_below(&rng, 10 * MS);
    rudp_pacer_on_sent(&p, rudp_test_rng_below(&rng, mss), t);
    size = 1 + rudp_test_rng_below(&rng, mss);
    n = rudp_pacer_next(&p, size, t);
    if (n == t) {
      assert_true(tokens_at(&p, t) >= size);
      continue;
    }
    assert_true(n > t);
    assert_true(tokens_at(&p, n - 1) < size);
    assert_true(tokens_at(&p, n) >= size);
    c = p;
    assert_int_equal(n, rudp_pacer_next(&c, size, n));
  }
}

static void test_rudp_pacer_rate_zero_unpaced(void **state) {
  rudp_pacer p;
  rudp_tstamp t = 7 * MS;
  int i;

  (void)state;

  rudp_pacer_init(&p, MSS, 0);
  /* Unpaced: any number of packets of any size leave at once. */
  for (i = 0; i < 1000; ++i) {
    assert_int_equal(t, rudp_pacer_next(&p, MSS, t));
    rudp_pacer_on_sent(&p, MSS, t);
  }
  assert_int_equal(t, rudp_pacer_next(&p, 1000000, t));

  /* Switching from paced to unpaced releases a waiting packet at once,
   * and pacing again starts from a full allowance. */
  rudp_pacer_set_rate(&p, 1000, t);
  assert_int_equal(BURST, p.tokens);
  rudp_pacer_on_sent(&p, BURST, t);
  assert_true(rudp_pacer_next(&p, MSS, t) > t);
  rudp_pacer_set_rate(&p, 0, t + 1);
  assert_int_equal(t + 1, rudp_pacer_next(&p, MSS, t + 1));
  rudp_pacer_set_rate(&p, 1000, t + 2);
  assert_int_equal(BURST, p.tokens);
  assert_int_equal(t + 2, rudp_pacer_next(&p, BURST, t + 2));
}

static void test_rudp_pacer_rate_change_credits_earned(void **state) {
  rudp_pacer p = drained(MSS, 1000000, 0);

  (void)state;

  /* 0.5 ms at 10^6 B/s earned 500 bytes; the other 700 of a 1200-byte
   * packet come at 2 * 10^6 B/s in 350 us.  (Crediting nothing would say
   * 1.1 ms; crediting the old time at the new rate, 0.6 ms.) */
  rudp_pacer_set_rate(&p, 2000000, 500 * US);
  assert_int_equal(500, p.tokens);
  assert_int_equal(500 * US, p.last_ts);
  assert_int_equal(850 * US, rudp_pacer_next(&p, MSS, 500 * US));

  /* Slowing down keeps what was earned too: 1000 bytes by 0.75 ms, the
   * remaining 200 at 10^5 B/s take 2 ms. */
  rudp_pacer_set_rate(&p, 100000, 750 * US);
  assert_int_equal(1000, p.tokens);
  assert_int_equal(2750 * US, rudp_pacer_next(&p, MSS, 750 * US));

  /* The fraction of a byte earned at the old rate carries over: 1.5 us
   * at 10^6 B/s is 1.5 bytes; at 10^9 B/s the missing half byte of the
   * second takes 0.5 ns, so 1 ns. */
  p = drained(MSS, 1000000, 0);
  rudp_pacer_set_rate(&p, 1000000000, 1500);
  assert_int_equal(1, p.tokens);
  assert_int_equal(1501, rudp_pacer_next(&p, 2, 1500));
}

static void test_rudp_pacer_on_sent_never_negative(void **state) {
  rudp_pacer p;

  (void)state;

  rudp_pacer_init(&p, MSS, 0);
  rudp_pacer_set_rate(&p, 1000000, 0);
  rudp_pacer_on_sent(&p, BURST - 100, 0);
  assert_int_equal(100, p.tokens);
  /* An unpaced send (an ACK) larger than the tokens empties the bucket
   * and the debt is forgiven, not wrapped around to 2^64 - 1100. */
  rudp_pacer_on_sent(&p, MSS, 0);
  assert_int_equal(0, p.tokens);
  rudp_pacer_on_sent(&p, UINT64_MAX, 0);
  assert_int_equal(0, p.tokens);
  assert_int_equal(1200 * US, rudp_pacer_next(&p, MSS, 0));
  /* A send larger than the whole allowance also just empties it. */
  rudp_pacer_on_sent(&p, 10 * BURST, 20 * MS);
  assert_int_equal(0, p.tokens);
  assert_int_equal(20 * MS + 1 * US, rudp_pacer_next(&p, 1, 20 * MS));
}

static void test_rudp_pacer_large_values_no_overflow(void **state) {
  rudp_pacer p, before;
  uint64_t big;

  (void)state;

  /* An hour at 10 GB/s: elapsed * rate is 3.6e22, far past 2^64; the
   * bucket must simply be full, not wrapped to a small number. */
  p = drained(MSS, 10000000000ULL, 0);
  assert_int_equal(BURST, tokens_at(&p, 3600 * SEC));
  p = drained(MSS, UINT64_MAX, 0);
  assert_int_equal(BURST, tokens_at(&p, UINT64_MAX));
  assert_int_equal(BURST, tokens_at(&p, 1));
  /* 2^63 ns at 3 B/s is 27670116110 bytes (exact: floor(2^63 * 3 / 1e9));
   * with a large mss the allowance holds it. */
  p = drained(1ULL << 40, 3, 0);
  assert_int_equal(27670116110ULL, tokens_at(&p, 1ULL << 63));

  /* Long waits at low rates: 1 B/s and a full allowance missing takes
   * 12000 s, beyond 2^32 ns by far. */
  p = drained(MSS, 1, 0);
  assert_int_equal(12000 * SEC, rudp_pacer_next(&p, BURST, 0));
  /* 10^8 bytes at 1 B/s: 10^17 ns fits; a deadline past the clock's range
   * saturates to RUDP_TSTAMP_MAX instead of wrapping into the past. */
  p = drained(100000000ULL, 1, 0);
  assert_int_equal(100000000ULL * SEC, rudp_pacer_next(&p, 100000000ULL, 0));
  p = drained(1ULL << 40, 1, 0);
  assert_int_equal(RUDP_TSTAMP_MAX, rudp_pacer_next(&p, 1ULL << 40, 0));
  p = drained(MSS, 1, UINT64_MAX - SEC);
  assert_int_equal(RUDP_TSTAMP_MAX, rudp_pacer_next(&p, MSS, UINT64_MAX - SEC));

  /* Huge packets at huge rates: 2^40-byte packets (a 2^40 * 10 allowance)
   * at 2^62 B/s; the wait for one packet is ceil(2^40 * 10^9 / 2^62) ns
   * = 239 ns, and never early. */
  big = 1ULL << 40;
  p = drained(big, 1ULL << 62, 0);
  assert_true(rudp_pacer_next(&p, big, 0) >= 239);
  assert_true(rudp_pacer_next(&p, big, 0) <= 240);
  assert_true(tokens_at(&p, rudp_pacer_next(&p, big, 0)) >= big);
  /* Saturated multiplications in the allowance itself. */
  rudp_pacer_init(&p, UINT64_MAX, 0);
  assert_int_equal(UINT64_MAX, p.tokens);
  rudp_pacer_set_rate(&p, UINT64_MAX, 0);
  before = p;
  assert_int_equal(0, rudp_pacer_next(&p, UINT64_MAX, 0));
  assert_memory_equal(&before, &p, sizeof(p));
}

static void test_rudp_pacer_next_does_not_change(void **state) {
  rudp_pacer p = drained(MSS, 1000003, 0), before;

  (void)state;

  rudp_pacer_on_sent(&p, 0, 777777);
  before = p;
  (void)rudp_pacer_next(&p, MSS, 777777);
  (void)rudp_pacer_next(&p, MSS, 50 * SEC);
  (void)rudp_pacer_next(&p, 3 * BURST, 1);
  assert_memory_equal(&before, &p, sizeof(p));
}

static void test_rudp_pacer_clock_backwards(void **state) {
  rudp_pacer p = drained(MSS, 1000000, 10 * MS);

  (void)state;

  /* A timestamp before the last one earns nothing and does not move the
   * refill point back (which would credit the same time twice). */
  rudp_pacer_on_sent(&p, 0, 5 * MS);
  assert_int_equal(0, p.tokens);
  assert_int_equal(10 * MS, p.last_ts);
  rudp_pacer_set_rate(&p, 1000000, 1 * MS);
  assert_int_equal(10 * MS, p.last_ts);
  assert_int_equal(1000, tokens_at(&p, 11 * MS));
}

static void test_rudp_pacer_oversized_packet(void **state) {
  rudp_pacer p = drained(MSS, 1000000, 0);

  (void)state;

  /* A packet bigger than the allowance could never collect its tokens;
   * it waits for a full bucket (12 ms) and then empties it. */
  assert_int_equal(12 * MS, rudp_pacer_next(&p, BURST + 1, 0));
  assert_int_equal(12 * MS, rudp_pacer_next(&p, UINT64_MAX, 0));
  assert_int_equal(0, rudp_pacer_next(&p, 0, 0));
  rudp_pacer_on_sent(&p, BURST + 1, 12 * MS);
  assert_int_equal(0, p.tokens);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_pacer_full_burst_at_start),
      cmocka_unit_test(test_rudp_pacer_refill_exact_rate),
      cmocka_unit_test(test_rudp_pacer_never_above_burst),
      cmocka_unit_test(test_rudp_pacer_next_exact_time),
      cmocka_unit_test(test_rudp_pacer_rate_zero_unpaced),
      cmocka_unit_test(test_rudp_pacer_rate_change_credits_earned),
      cmocka_unit_test(test_rudp_pacer_on_sent_never_negative),
      cmocka_unit_test(test_rudp_pacer_large_values_no_overflow),
      cmocka_unit_test(test_rudp_pacer_next_does_not_change),
      cmocka_unit_test(test_rudp_pacer_clock_backwards),
      cmocka_unit_test(test_rudp_pacer_oversized_packet),
  };

  return cmocka_run_group_tests_name("pacer", tests, NULL, NULL);
}
