/*
 * Tests for the path MTU search (lib/rudp_pmtud.c): the ladder, the
 * bisection below 1500 bytes, MAX_PROBES, the raise timer, black holes,
 * late acknowledgements.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rudp_pmtud.h"

#define SEC RUDP_SECONDS
#define MS RUDP_MILLISECONDS

/* walk runs a search from |base| to |max| over a path that carries UDP
 * payloads up to |mtu|: each probe is acknowledged or lost, 10 ms later.
 * Returns the final size and the number of probes sent in |*nprobes|. */
static size_t walk(size_t base, size_t max, size_t mtu, rudp_tstamp *pnow,
                   unsigned *nprobes) {
  rudp_pmtud p;
  rudp_tstamp now = *pnow;
  size_t size;
  unsigned n = 0;

  rudp_pmtud_init(&p, base, max);
  while ((size = rudp_pmtud_probe_size(&p, now)) != 0 && n < 1000) {
    assert_true(size > p.cur);
    assert_true(size <= max);
    rudp_pmtud_on_probe_sent(&p, size);
    assert_int_equal(rudp_pmtud_probe_size(&p, now), 0); /* one at a time */
    now += 10 * MS;
    if (size <= mtu) {
      assert_true(rudp_pmtud_on_probe_acked(&p, size, now));
    } else {
      rudp_pmtud_on_probe_lost(&p, size, now);
    }
    ++n;
  }
  assert_true(n < 1000);
  /* Finished: the raise timer runs. */
  assert_int_equal(p.next_ts, now + RUDP_PMTUD_RAISE_INTERVAL);
  assert_int_equal(p.probes_sent, n);
  *pnow = now;
  *nprobes = n;
  return p.cur;
}

static void test_rudp_pmtud_ladder_loopback(void **state) {
  rudp_tstamp now = SEC;
  unsigned n;
  (void)state;
  /* Every rung up to the maximum works: 1452, 1472, 8952, 8972, 16384. */
  assert_int_equal(walk(1200, 16384, 65535, &now, &n), 16384);
  assert_int_equal(n, 5);
  /* A maximum off the ladder is tried last. */
  now = SEC;
  assert_int_equal(walk(1200, 20000, 65535, &now, &n), 20000);
  assert_int_equal(n, 6);
}

static void test_rudp_pmtud_ethernet(void **state) {
  rudp_tstamp now = SEC;
  unsigned n;
  (void)state;
  /* IPv4 on Ethernet: 1452 and 1472 work, 8952 is lost MAX_PROBES times;
   * no bisection above 1472. */
  assert_int_equal(walk(1200, 16384, 1472, &now, &n), 1472);
  assert_int_equal(n, 2 + RUDP_PMTUD_MAX_PROBES);
  /* IPv6: 1472 fails, 20 bytes above 1452: within the granularity. */
  now = SEC;
  assert_int_equal(walk(1200, 16384, 1452, &now, &n), 1452);
  assert_int_equal(n, 1 + RUDP_PMTUD_MAX_PROBES);
  /* Jumbo frames. */
  now = SEC;
  assert_int_equal(walk(1452, 16384, 8972, &now, &n), 8972);
}

static void test_rudp_pmtud_bisects_tunnels(void **state) {
  rudp_tstamp now = SEC;
  unsigned n;
  size_t got;
  (void)state;
  /* WireGuard over IPv4 (MTU 1420: 1392-byte UDP payloads): 1452 fails,
   * the bisection ends within RUDP_PMTUD_GRANULARITY below the limit. */
  got = walk(1200, 16384, 1392, &now, &n);
  assert_true(got <= 1392);
  assert_true(got + RUDP_PMTUD_GRANULARITY >= 1392);
  /* At most one success or MAX_PROBES losses per halving of 252 bytes. */
  assert_true(n <= 1 + 4 * RUDP_PMTUD_MAX_PROBES + 4);
  /* A path that carries nothing above the base stays at the base. */
  now = SEC;
  assert_int_equal(walk(1200, 16384, 1200, &now, &n), 1200);
}

static void test_rudp_pmtud_disabled(void **state) {
  rudp_pmtud p;
  (void)state;
  rudp_pmtud_init(&p, 1200, 0);
  assert_int_equal(rudp_pmtud_probe_size(&p, 0), 0);
  rudp_pmtud_init(&p, 1452, 1452); /* max at the base: nothing to search */
  assert_int_equal(rudp_pmtud_probe_size(&p, 0), 0);
  assert_int_equal(p.cur, 1452);
  /* An acknowledgement of a size beyond what was allowed changes nothing. */
  assert_false(rudp_pmtud_on_probe_acked(&p, 9000, 0));
  assert_int_equal(p.cur, 1452);
}

static void test_rudp_pmtud_loss_needs_max_probes(void **state) {
  rudp_pmtud p;
  int i;
  (void)state;
  rudp_pmtud_init(&p, 1200, 16384);
  for (i = 0; i < RUDP_PMTUD_MAX_PROBES - 1; ++i) {
    assert_int_equal(rudp_pmtud_probe_size(&p, 0), 1452);
    rudp_pmtud_on_probe_sent(&p, 1452);
    rudp_pmtud_on_probe_lost(&p, 1452, 0);
  }
  /* Still 1452: one more loss is needed to give it up; an ack instead
   * proves it (a loss may be random). */
  assert_int_equal(rudp_pmtud_probe_size(&p, 0), 1452);
  rudp_pmtud_on_probe_sent(&p, 1452);
  assert_true(rudp_pmtud_on_probe_acked(&p, 1452, 0));
  assert_int_equal(p.cur, 1452);
  assert_int_equal(p.lost, 0);
  assert_int_equal(p.probes_lost, RUDP_PMTUD_MAX_PROBES - 1);
  assert_int_equal(rudp_pmtud_probe_size(&p, 0), 1472);
}

static void test_rudp_pmtud_raise_timer(void **state) {
  rudp_pmtud p;
  rudp_tstamp t = SEC;
  int i;
  (void)state;
  rudp_pmtud_init(&p, 1472, 16384);
  for (i = 0; i < RUDP_PMTUD_MAX_PROBES; ++i) {
    assert_int_equal(rudp_pmtud_probe_size(&p, t), 8952);
    rudp_pmtud_on_probe_sent(&p, 8952);
    rudp_pmtud_on_probe_lost(&p, 8952, t);
  }
  assert_int_equal(p.fail, 8952);
  assert_int_equal(rudp_pmtud_probe_size(&p, t), 0);
  assert_int_equal(rudp_pmtud_probe_size(&p, t + RUDP_PMTUD_RAISE_INTERVAL - 1),
                   0);
  /* The timer ran out: the path may carry more now. */
  t += RUDP_PMTUD_RAISE_INTERVAL;
  assert_int_equal(rudp_pmtud_probe_size(&p, t), 8952);
  rudp_pmtud_on_probe_sent(&p, 8952);
  assert_int_equal(p.fail, SIZE_MAX);
  assert_true(rudp_pmtud_on_probe_acked(&p, 8952, t + MS));
  assert_int_equal(rudp_pmtud_probe_size(&p, t + MS), 8972);
}

static void test_rudp_pmtud_black_hole(void **state) {
  rudp_pmtud p;
  rudp_tstamp t = SEC;
  (void)state;
  rudp_pmtud_init(&p, 1200, 16384);
  /* Nothing to fall back from at the base. */
  assert_false(rudp_pmtud_on_black_hole(&p, t));
  assert_int_equal(p.black_holes, 0);
  rudp_pmtud_on_probe_sent(&p, 1452);
  rudp_pmtud_on_probe_acked(&p, 1452, t);
  rudp_pmtud_on_probe_sent(&p, 1472);
  rudp_pmtud_on_probe_acked(&p, 1472, t);
  rudp_pmtud_on_probe_sent(&p, 8952);
  rudp_pmtud_on_probe_acked(&p, 8952, t);
  /* The path's MTU shrank to 1500: back to the base, and the next search
   * stays below the size that stopped working. */
  assert_true(rudp_pmtud_on_black_hole(&p, 2 * SEC));
  assert_int_equal(p.cur, 1200);
  assert_int_equal(p.fail, 8952);
  assert_int_equal(p.black_holes, 1);
  assert_int_equal(rudp_pmtud_probe_size(&p, 2 * SEC), 1452);
  /* A probe lost before the black hole was declared is old news. */
  rudp_pmtud_on_probe_lost(&p, 8972, 2 * SEC);
  assert_int_equal(p.lost, 0);
}

static void test_rudp_pmtud_late_ack_and_reset(void **state) {
  rudp_pmtud p;
  int i;
  (void)state;
  rudp_pmtud_init(&p, 1200, 16384);
  for (i = 0; i < RUDP_PMTUD_MAX_PROBES; ++i) {
    rudp_pmtud_on_probe_sent(&p, 1452);
    rudp_pmtud_on_probe_lost(&p, 1452, 0);
  }
  assert_int_equal(p.fail, 1452);
  /* A probe declared lost is acknowledged after all: the size works. */
  assert_true(rudp_pmtud_on_probe_acked(&p, 1452, MS));
  assert_int_equal(p.cur, 1452);
  assert_int_equal(p.fail, SIZE_MAX);
  assert_int_equal(rudp_pmtud_probe_size(&p, MS), 1472);
  /* A new path: from the base again, counters kept. */
  rudp_pmtud_reset(&p);
  assert_int_equal(p.cur, 1200);
  assert_int_equal(p.probes_sent, RUDP_PMTUD_MAX_PROBES);
  assert_int_equal(rudp_pmtud_probe_size(&p, MS), 1452);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_pmtud_ladder_loopback),
      cmocka_unit_test(test_rudp_pmtud_ethernet),
      cmocka_unit_test(test_rudp_pmtud_bisects_tunnels),
      cmocka_unit_test(test_rudp_pmtud_disabled),
      cmocka_unit_test(test_rudp_pmtud_loss_needs_max_probes),
      cmocka_unit_test(test_rudp_pmtud_raise_timer),
      cmocka_unit_test(test_rudp_pmtud_black_hole),
      cmocka_unit_test(test_rudp_pmtud_late_ack_and_reset),
  };

  return cmocka_run_group_tests_name("pmtud", tests, NULL, NULL);
}
