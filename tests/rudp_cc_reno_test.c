/*
 * Tests for the shared congestion-control helpers (lib/rudp_cc.c) and
 * NewReno (lib/rudp_cc_reno.c), driven through the ops table as recovery
 * drives them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "rudp_cc.h"
#include "rudp_test_helper.h"

#define MSS 1200

/* reno_new gives NewReno for 1200-byte datagrams: cwnd 12000. */
static rudp_cc_reno reno_new(void) {
  rudp_cc_reno reno;

  memset(&reno, 0xa5, sizeof(reno));
  rudp_cc_reno_init(&reno, MSS, 0);
  return reno;
}

/* ack feeds one ACK of |bytes| whose largest packet was sent at |sent_ts|. */
static void ack(rudp_cc_reno *reno, uint64_t bytes, rudp_tstamp sent_ts,
                int app_limited) {
  rudp_cc_ack a;
  rudp_rtt rtt;

  rudp_rtt_init(&rtt, RUDP_DEFAULT_INITIAL_RTT);
  a.bytes_acked = bytes;
  a.largest_acked_sent_ts = sent_ts;
  a.bytes_in_flight = 0;
  a.app_limited = app_limited;
  reno->cc.ops->on_ack(&reno->cc, &a, &rtt, sent_ts + 1);
}

static void loss(rudp_cc_reno *reno, rudp_tstamp sent_ts, rudp_tstamp now) {
  reno->cc.ops->on_congestion_event(&reno->cc, sent_ts, now);
}

static void test_rudp_cc_reno_initial_window(void **state) {
  (void)state;

  /* min(10 * mss, max(14720, 2 * mss)). */
  assert_int_equal(1000, rudp_cc_initial_window(100));
  assert_int_equal(12000, rudp_cc_initial_window(1200));
  assert_int_equal(14720, rudp_cc_initial_window(1472));
  assert_int_equal(14720, rudp_cc_initial_window(1500));
  assert_int_equal(18000, rudp_cc_initial_window(9000));
  assert_int_equal(131070, rudp_cc_initial_window(65535));
  /* 10 * mss would wrap; the 2 * mss term wins anyway. */
  assert_int_equal(UINT64_MAX / 4 * 2, rudp_cc_initial_window(UINT64_MAX / 4));
}

static void test_rudp_cc_reno_min_window(void **state) {
  (void)state;

  assert_int_equal(200, rudp_cc_min_window(100));
  assert_int_equal(2400, rudp_cc_min_window(1200));
  assert_int_equal(2944, rudp_cc_min_window(1472));
  assert_int_equal(18000, rudp_cc_min_window(9000));
  assert_int_equal(UINT64_MAX, rudp_cc_min_window(UINT64_MAX / 2 + 1));
}

static void test_rudp_cc_reno_init(void **state) {
  rudp_cc_reno reno = reno_new();

  (void)state;

  assert_ptr_equal(&rudp_cc_reno_ops, reno.cc.ops);
  assert_string_equal("reno", reno.cc.ops->name);
  assert_int_equal(12000, reno.cc.cwnd);
  assert_int_equal(UINT64_MAX, reno.cc.ssthresh);
  assert_int_equal(MSS, reno.cc.max_udp_payload_size);
  assert_int_equal(UINT64_MAX, reno.cc.recovery_start);
  assert_int_equal(0, reno.cc.congestion_events);
  assert_int_equal(0, reno.bytes_acked);
  assert_int_equal(0, reno.hystart.exits);
  assert_int_equal(0, reno.hystart.in_css);
  assert_int_equal(0, reno.hystart.round_start);
  assert_int_equal(0, rudp_cc_in_recovery(&reno.cc, 0));
  assert_int_equal(0, rudp_cc_in_recovery(&reno.cc, UINT64_MAX - 1));

  rudp_cc_reno_init(&reno, 1500, 0);
  assert_int_equal(14720, reno.cc.cwnd);
}

static void test_rudp_cc_reno_in_recovery(void **state) {
  rudp_cc_reno reno = reno_new();

  (void)state;

  loss(&reno, 500, 1000);
  assert_int_equal(1000, reno.cc.recovery_start);
  assert_int_equal(1, rudp_cc_in_recovery(&reno.cc, 0));
  assert_int_equal(1, rudp_cc_in_recovery(&reno.cc, 999));
  assert_int_equal(1, rudp_cc_in_recovery(&reno.cc, 1000));
  assert_int_equal(0, rudp_cc_in_recovery(&reno.cc, 1001));
}

static void test_rudp_cc_reno_slow_start(void **state) {
  rudp_cc_reno reno = reno_new();

  (void)state;

  ack(&reno, 1200, 10, 0);
  assert_int_equal(13200, reno.cc.cwnd);
  ack(&reno, 3000, 20, 0);
  assert_int_equal(16200, reno.cc.cwnd);
  ack(&reno, 1, 30, 0);
  assert_int_equal(16201, reno.cc.cwnd);
  ack(&reno, 0, 40, 0);
  assert_int_equal(16201, reno.cc.cwnd);
  /* Slow start does not use the avoidance accumulator. */
  assert_int_equal(0, reno.bytes_acked);

  /* Growth saturates instead of wrapping. */
  reno.cc.cwnd = UINT64_MAX - 10;
  ack(&reno, 100, 50, 0);
  assert_int_equal(UINT64_MAX, reno.cc.cwnd);
}

/* reno_in_avoidance gives cwnd = ssthresh = 6000 after a loss at t=1000. */
static rudp_cc_reno reno_in_avoidance(void) {
  rudp_cc_reno reno = reno_new();

  loss(&reno, 500, 1000);
  assert_int_equal(6000, reno.cc.cwnd);
  assert_int_equal(6000, reno.cc.ssthresh);
  return reno;
}

static void test_rudp_cc_reno_congestion_avoidance(void **state) {
  rudp_cc_reno reno = reno_in_avoidance();
  int i;

  (void)state;

  /* One window (6000 = 5 * 1200) of ACKs adds exactly one datagram. */
  for (i = 0; i < 4; ++i) {
    ack(&reno, 1200, 2000 + (rudp_tstamp)i, 0);
    assert_int_equal(6000, reno.cc.cwnd);
    assert_int_equal(1200 * (uint64_t)(i + 1), reno.bytes_acked);
  }
  ack(&reno, 1200, 2004, 0);
  assert_int_equal(7200, reno.cc.cwnd);
  assert_int_equal(0, reno.bytes_acked);

  /* The next window is 7200 = 6 datagrams. */
  for (i = 0; i < 5; ++i) {
    ack(&reno, 1200, 3000 + (rudp_tstamp)i, 0);
    assert_int_equal(7200, reno.cc.cwnd);
  }
  ack(&reno, 1200, 3005, 0);
  assert_int_equal(8400, reno.cc.cwnd);

  /* The remainder carries over: 7000 + 3000 = 10000 = 8400 + 1600. */
  ack(&reno, 7000, 4000, 0);
  assert_int_equal(8400, reno.cc.cwnd);
  ack(&reno, 3000, 4001, 0);
  assert_int_equal(9600, reno.cc.cwnd);
  assert_int_equal(1600, reno.bytes_acked);
}

static void test_rudp_cc_reno_avoidance_large_ack(void **state) {
  rudp_cc_reno reno = reno_in_avoidance();

  (void)state;

  /* 18500 bytes at cwnd 6000: three windows, one datagram each (counted
   * against the window at the time of the ACK), remainder 500. */
  ack(&reno, 18500, 2000, 0);
  assert_int_equal(6000 + 3 * 1200, reno.cc.cwnd);
  assert_int_equal(500, reno.bytes_acked);
}

static void test_rudp_cc_reno_app_limited(void **state) {
  rudp_cc_reno reno = reno_new();

  (void)state;

  ack(&reno, 5000, 10, 1);
  assert_int_equal(12000, reno.cc.cwnd);

  reno = reno_in_avoidance();
  ack(&reno, 6000, 2000, 1);
  assert_int_equal(6000, reno.cc.cwnd);
  /* Nothing is banked for later either. */
  assert_int_equal(0, reno.bytes_acked);
  ack(&reno, 5999, 2001, 0);
  assert_int_equal(6000, reno.cc.cwnd);
}

static void test_rudp_cc_reno_loss_halves_once_per_recovery(void **state) {
  rudp_cc_reno reno = reno_new();

  (void)state;

  loss(&reno, 500, 1000);
  assert_int_equal(6000, reno.cc.cwnd);
  assert_int_equal(6000, reno.cc.ssthresh);
  assert_int_equal(1000, reno.cc.recovery_start);
  assert_int_equal(12000, reno.cc.prior_cwnd);
  assert_int_equal(UINT64_MAX, reno.cc.prior_ssthresh);
  assert_int_equal(1, reno.cc.congestion_events);

  /* Further losses from the same flight (sent up to recovery_start) are
   * part of the same event. */
  loss(&reno, 900, 1100);
  loss(&reno, 1000, 1200);
  assert_int_equal(6000, reno.cc.cwnd);
  assert_int_equal(6000, reno.cc.ssthresh);
  assert_int_equal(1000, reno.cc.recovery_start);
  assert_int_equal(1, reno.cc.congestion_events);

  /* A packet sent after recovery began starts a new period. */
  loss(&reno, 1001, 2000);
  assert_int_equal(3000, reno.cc.cwnd);
  assert_int_equal(3000, reno.cc.ssthresh);
  assert_int_equal(2000, reno.cc.recovery_start);
  assert_int_equal(6000, reno.cc.prior_cwnd);
  assert_int_equal(6000, reno.cc.prior_ssthresh);
  assert_int_equal(2, reno.cc.congestion_events);
}

static void test_rudp_cc_reno_loss_halves_odd_window(void **state) {
  rudp_cc_reno reno = reno_new();

  (void)state;

  ack(&reno, 1001, 10, 0);
  assert_int_equal(13001, reno.cc.cwnd);
  loss(&reno, 20, 30);
  assert_int_equal(6500, reno.cc.ssthresh);
  assert_int_equal(6500, reno.cc.cwnd);
}

static void test_rudp_cc_reno_no_growth_in_recovery(void **state) {
  rudp_cc_reno reno = reno_new();

  (void)state;

  ack(&reno, 8000, 10, 0);
  assert_int_equal(20000, reno.cc.cwnd);
  loss(&reno, 500, 1000);
  assert_int_equal(10000, reno.cc.cwnd);

  /* ACKs of packets sent before (or at) recovery_start leave it alone and
   * bank nothing. */
  ack(&reno, 10000, 999, 0);
  ack(&reno, 10000, 1000, 0);
  assert_int_equal(10000, reno.cc.cwnd);
  assert_int_equal(0, reno.bytes_acked);

  /* A packet sent after it: congestion avoidance resumes. */
  ack(&reno, 10000, 1001, 0);
  assert_int_equal(11200, reno.cc.cwnd);
  assert_int_equal(0, reno.bytes_acked);
}

static void test_rudp_cc_reno_min_window_floor(void **state) {
  rudp_cc_reno reno = reno_new();

  (void)state;

  loss(&reno, 1, 10);  /* 12000 -> 6000 */
  loss(&reno, 11, 20); /* -> 3000 */
  assert_int_equal(3000, reno.cc.cwnd);
  loss(&reno, 21, 30); /* ssthresh 1500, cwnd floored at 2 * 1200 */
  assert_int_equal(1500, reno.cc.ssthresh);
  assert_int_equal(2400, reno.cc.cwnd);
  loss(&reno, 31, 40);
  assert_int_equal(1200, reno.cc.ssthresh);
  assert_int_equal(2400, reno.cc.cwnd);
  assert_int_equal(4, reno.cc.congestion_events);

  /* Above ssthresh: avoidance, 2 datagrams per added datagram. */
  ack(&reno, 2400, 41, 0);
  assert_int_equal(3600, reno.cc.cwnd);
}

static void test_rudp_cc_reno_persistent_congestion(void **state) {
  rudp_cc_reno reno = reno_new();

  (void)state;

  loss(&reno, 500, 1000);
  reno.cc.ops->on_persistent_congestion(&reno.cc, 1000);
  assert_int_equal(2400, reno.cc.cwnd);
  assert_int_equal(6000, reno.cc.ssthresh);
  assert_int_equal(UINT64_MAX, reno.cc.recovery_start);
  assert_int_equal(1, reno.cc.congestion_events);
  assert_int_equal(0, rudp_cc_in_recovery(&reno.cc, 500));

  /* Back in slow start from the minimum window; no recovery gate. */
  ack(&reno, 1200, 500, 0);
  assert_int_equal(3600, reno.cc.cwnd);

  /* Recovery was cleared, so even an old packet's loss reduces. */
  loss(&reno, 500, 3000);
  assert_int_equal(1800, reno.cc.ssthresh);
  assert_int_equal(2400, reno.cc.cwnd);
  assert_int_equal(2, reno.cc.congestion_events);

  /* A spurious loss after persistent congestion undoes nothing. */
  reno.cc.ops->on_persistent_congestion(&reno.cc, 3000);
  reno.cc.ops->on_spurious_loss(&reno.cc, 3100);
  assert_int_equal(2400, reno.cc.cwnd);
  assert_int_equal(1800, reno.cc.ssthresh);
}

static void test_rudp_cc_reno_spurious_undo(void **state) {
  rudp_cc_reno reno = reno_new();

  (void)state;

  /* No reduction yet: nothing to undo. */
  reno.cc.ops->on_spurious_loss(&reno.cc, 5);
  assert_int_equal(12000, reno.cc.cwnd);
  assert_int_equal(UINT64_MAX, reno.cc.ssthresh);

  ack(&reno, 8000, 10, 0);
  loss(&reno, 500, 1000);
  assert_int_equal(10000, reno.cc.cwnd);
  reno.cc.ops->on_spurious_loss(&reno.cc, 1100);
  assert_int_equal(20000, reno.cc.cwnd);
  assert_int_equal(UINT64_MAX, reno.cc.ssthresh);
  assert_int_equal(UINT64_MAX, reno.cc.recovery_start);
  /* The event still happened; the counter is a statistic. */
  assert_int_equal(1, reno.cc.congestion_events);

  /* Out of recovery: slow start again, even for older packets. */
  ack(&reno, 1000, 900, 0);
  assert_int_equal(21000, reno.cc.cwnd);

  /* A second undo has nothing left to undo. */
  reno.cc.ops->on_spurious_loss(&reno.cc, 1200);
  assert_int_equal(21000, reno.cc.cwnd);

  /* Only the latest reduction is undone. */
  loss(&reno, 1300, 2000); /* 21000 -> 10500 */
  loss(&reno, 2001, 3000); /* 10500 -> 5250 */
  assert_int_equal(5250, reno.cc.cwnd);
  reno.cc.ops->on_spurious_loss(&reno.cc, 3100);
  assert_int_equal(10500, reno.cc.cwnd);
  assert_int_equal(10500, reno.cc.ssthresh);
}

/* rudp_cc_on_spurious_loss undoes a reduction only for a packet declared
 * lost by the detection that made it (lost_ts == recovery_start). */
static void test_rudp_cc_reno_spurious_only_its_own_loss(void **state) {
  rudp_cc_reno reno = reno_new();

  (void)state;

  /* No reduction yet. */
  assert_int_equal(0, rudp_cc_on_spurious_loss(&reno.cc, 5, 6));
  assert_int_equal(12000, reno.cc.cwnd);

  ack(&reno, 8000, 10, 0);
  loss(&reno, 500, 1000); /* 20000 -> 10000, recovery from 1000 */
  assert_int_equal(10000, reno.cc.cwnd);
  /* Declared lost earlier (a loss passed over by the loss-tolerant
   * response, say) or later than the reduction: not its cause. */
  assert_int_equal(0, rudp_cc_on_spurious_loss(&reno.cc, 900, 1100));
  assert_int_equal(0, rudp_cc_on_spurious_loss(&reno.cc, 1050, 1100));
  assert_int_equal(10000, reno.cc.cwnd);
  assert_int_equal(1000, reno.cc.recovery_start);
  /* Declared lost by the detection at 1000: undone, once. */
  assert_int_equal(1, rudp_cc_on_spurious_loss(&reno.cc, 1000, 1100));
  assert_int_equal(20000, reno.cc.cwnd);
  assert_int_equal(UINT64_MAX, reno.cc.ssthresh);
  assert_int_equal(0, rudp_cc_on_spurious_loss(&reno.cc, 1000, 1200));
  assert_int_equal(20000, reno.cc.cwnd);
}

static void test_rudp_cc_reno_spurious_keeps_larger_window(void **state) {
  rudp_cc_reno reno = reno_in_avoidance();

  (void)state;

  /* Grow past the saved 12000 in the new period: 36000 bytes at cwnd
   * 6000 is six windows, +7200. */
  ack(&reno, 36000, 2000, 0);
  assert_int_equal(13200, reno.cc.cwnd);
  reno.cc.ops->on_spurious_loss(&reno.cc, 3000);
  assert_int_equal(13200, reno.cc.cwnd);
  assert_int_equal(UINT64_MAX, reno.cc.ssthresh);
}

static void test_rudp_cc_reno_reset(void **state) {
  rudp_cc_reno reno = reno_in_avoidance();

  (void)state;

  ack(&reno, 1000, 2000, 0);
  assert_int_equal(1000, reno.bytes_acked);
  reno.cc.ops->reset(&reno.cc, 5000);
  assert_int_equal(12000, reno.cc.cwnd);
  assert_int_equal(UINT64_MAX, reno.cc.ssthresh);
  assert_int_equal(UINT64_MAX, reno.cc.recovery_start);
  assert_int_equal(0, reno.bytes_acked);
  assert_int_equal(MSS, reno.cc.max_udp_payload_size);
  assert_int_equal(1, reno.cc.congestion_events);

  /* Slow start again, and nothing to undo. */
  ack(&reno, 1200, 500, 0);
  assert_int_equal(13200, reno.cc.cwnd);
  reno.cc.ops->on_spurious_loss(&reno.cc, 5100);
  assert_int_equal(13200, reno.cc.cwnd);
}

/* hs_ack feeds an ACK carrying an RTT sample of |sample| for a packet sent
 * at |sent|, one millisecond after |*now|. */
static void hs_ack(rudp_cc_reno *reno, uint64_t bytes, rudp_tstamp sent,
                   rudp_duration sample, rudp_tstamp *now) {
  rudp_cc_ack a;
  rudp_rtt rtt;

  rudp_rtt_init(&rtt, RUDP_DEFAULT_INITIAL_RTT);
  rtt.latest = sample;
  rtt.smoothed = sample;
  rtt.nsamples = 1;
  *now += RUDP_MILLISECONDS;
  a.bytes_acked = bytes;
  a.largest_acked_sent_ts = sent;
  a.bytes_in_flight = reno->cc.cwnd;
  a.app_limited = 0;
  reno->cc.ops->on_ack(&reno->cc, &a, &rtt, *now);
}

/* hs_round feeds a HyStart++ round of |n| one-datagram ACKs with RTT
 * |sample|: the first ends the previous round. */
static void hs_round(rudp_cc_reno *reno, int n, rudp_duration sample,
                     rudp_tstamp *now) {
  int i;

  for (i = 0; i < n; ++i) {
    rudp_tstamp start = reno->hystart.round_start;

    hs_ack(reno, MSS, i == 0 ? start : start - 1, sample, now);
  }
}

static void test_rudp_cc_reno_hystart_exit(void **state) {
  rudp_cc_reno reno = reno_new();
  rudp_tstamp now = 0;
  uint64_t cwnd;
  int r;

  (void)state;

  assert_int_equal(0, reno.hystart.exits);
  /* A flat 40 ms RTT: plain slow start. */
  hs_round(&reno, 10, 40 * RUDP_MILLISECONDS, &now);
  hs_round(&reno, 10, 40 * RUDP_MILLISECONDS, &now);
  assert_int_equal(12000 + 20 * MSS, reno.cc.cwnd);
  assert_int_equal(0, reno.hystart.in_css);

  /* +5 ms (RttThresh is max(40 / 8, 4) = 5 ms): CSS from the eighth
   * sample, where growth is a quarter. */
  hs_round(&reno, 8, 45 * RUDP_MILLISECONDS, &now);
  assert_int_equal(36000 + 7 * MSS + MSS / 4, reno.cc.cwnd);
  assert_true(reno.hystart.in_css);
  cwnd = reno.cc.cwnd;
  hs_ack(&reno, 4 * MSS, reno.hystart.round_start - 1, 45 * RUDP_MILLISECONDS,
         &now);
  assert_int_equal(cwnd + MSS, reno.cc.cwnd);

  /* Four whole rounds in CSS, then the ACK ending the fifth exits. */
  for (r = 0; r < 4; ++r) {
    hs_round(&reno, 8, 46 * RUDP_MILLISECONDS, &now);
  }
  assert_int_equal(UINT64_MAX, reno.cc.ssthresh);
  cwnd = reno.cc.cwnd;
  hs_round(&reno, 1, 46 * RUDP_MILLISECONDS, &now);
  assert_int_equal(1, reno.hystart.exits);
  assert_int_equal(cwnd, reno.cc.ssthresh);
  assert_int_equal(cwnd, reno.cc.cwnd);
  assert_int_equal(0, reno.cc.congestion_events);

  /* Congestion avoidance now: one datagram per window. */
  hs_ack(&reno, cwnd - 1, now, 46 * RUDP_MILLISECONDS, &now);
  assert_int_equal(cwnd, reno.cc.cwnd);
  hs_ack(&reno, 1, now, 46 * RUDP_MILLISECONDS, &now);
  assert_int_equal(cwnd + MSS, reno.cc.cwnd);
}

static void test_rudp_cc_reno_hystart_false_rise(void **state) {
  rudp_cc_reno reno = reno_new();
  rudp_tstamp now = 0;

  (void)state;

  hs_round(&reno, 10, 40 * RUDP_MILLISECONDS, &now);
  hs_round(&reno, 10, 50 * RUDP_MILLISECONDS, &now);
  assert_true(reno.hystart.in_css);
  /* The RTT falls back below the CSS baseline: full slow start again. */
  hs_round(&reno, 8, 41 * RUDP_MILLISECONDS, &now);
  assert_int_equal(0, reno.hystart.in_css);
  {
    uint64_t cwnd = reno.cc.cwnd;

    hs_ack(&reno, 4 * MSS, reno.hystart.round_start - 1, 41 * RUDP_MILLISECONDS,
           &now);
    assert_int_equal(cwnd + 4 * MSS, reno.cc.cwnd);
  }
  assert_int_equal(0, reno.hystart.exits);
  assert_int_equal(UINT64_MAX, reno.cc.ssthresh);
}

static void test_rudp_cc_reno_hystart_first_slow_start_only(void **state) {
  rudp_cc_reno reno = reno_new();
  rudp_tstamp now = 0;
  int r;

  (void)state;

  /* After persistent congestion slow start runs to the ssthresh of the
   * loss, however the RTT rises (RFC 9406 §4.3). */
  reno.cc.cwnd = 200000;
  loss(&reno, 0, 1); /* ssthresh 100000 */
  reno.cc.ops->on_persistent_congestion(&reno.cc, 1);
  now = 2;
  for (r = 0; r < 3; ++r) {
    hs_round(&reno, 8, (40 + (rudp_duration)r * 30) * RUDP_MILLISECONDS, &now);
  }
  assert_int_equal(2400 + 24 * MSS, reno.cc.cwnd);
  assert_int_equal(100000, reno.cc.ssthresh);
  assert_int_equal(0, reno.hystart.in_css);
  assert_int_equal(0, reno.hystart.exits);

  /* reset re-arms it, keeping the exit count. */
  reno.hystart.exits = 7;
  reno.cc.ops->reset(&reno.cc, 500);
  assert_int_equal(500, reno.hystart.round_start);
  assert_int_equal(UINT64_MAX, reno.hystart.last_round_min_rtt);
  assert_int_equal(7, reno.hystart.exits);
}

/* custom_rate is an algorithm's own pacing rate. */
static uint64_t custom_rate(const rudp_cc *cc, const rudp_rtt *rtt) {
  (void)rtt;
  return cc->cwnd * 3;
}

static void test_rudp_cc_pacing_rate(void **state) {
  rudp_cc_reno reno = reno_new();
  rudp_cc_ops ops;
  rudp_rtt rtt;

  (void)state;

  /* No sample: smoothed is the initial RTT, 333 ms.  Slow start: 2x. */
  rudp_rtt_init(&rtt, RUDP_DEFAULT_INITIAL_RTT);
  assert_int_equal(72072, rudp_cc_pacing_rate(&reno.cc, &rtt));
  rudp_rtt_init(&rtt, 100 * RUDP_MILLISECONDS);
  assert_int_equal(240000, rudp_cc_pacing_rate(&reno.cc, &rtt));

  /* Congestion avoidance: 1.25 * 6000 / 0.1 s. */
  loss(&reno, 0, 1);
  assert_int_equal(75000, rudp_cc_pacing_rate(&reno.cc, &rtt));
  /* 1.25 * 6000 / 7 ms = 1071428.57: rounded down. */
  rtt.smoothed = 7 * RUDP_MILLISECONDS;
  assert_int_equal(1071428, rudp_cc_pacing_rate(&reno.cc, &rtt));

  /* Never below a datagram per RTT, never 0 (0 means unpaced). */
  reno.cc.cwnd = 100;
  rtt.smoothed = RUDP_SECONDS;
  assert_int_equal(MSS, rudp_cc_pacing_rate(&reno.cc, &rtt));
  rtt.smoothed = UINT64_MAX;
  assert_int_equal(1, rudp_cc_pacing_rate(&reno.cc, &rtt));

  /* Saturates instead of wrapping; a zero RTT counts as 1 ns. */
  reno.cc.cwnd = UINT64_MAX / 2;
  rtt.smoothed = RUDP_MILLISECONDS;
  assert_int_equal(UINT64_MAX, rudp_cc_pacing_rate(&reno.cc, &rtt));
  reno.cc.cwnd = 12000;
  rtt.smoothed = 0;
  assert_int_equal(12000ULL * 5 / 4 * RUDP_SECONDS,
                   rudp_cc_pacing_rate(&reno.cc, &rtt));
  /* A large cwnd and an RTT of seconds (the remainder term). */
  reno.cc.cwnd = 1ULL << 40;
  rtt.smoothed = 30 * RUDP_SECONDS + 7;
  assert_int_equal(45812984479ULL, rudp_cc_pacing_rate(&reno.cc, &rtt));

  /* An algorithm's own rate wins. */
  ops = rudp_cc_reno_ops;
  ops.pacing_rate = custom_rate;
  reno.cc.ops = &ops;
  reno.cc.cwnd = 1000;
  assert_int_equal(3000, rudp_cc_pacing_rate(&reno.cc, &rtt));
}

static void test_rudp_cc_reno_ops_table(void **state) {
  (void)state;

  assert_non_null(rudp_cc_reno_ops.name);
  assert_non_null(rudp_cc_reno_ops.on_ack);
  assert_non_null(rudp_cc_reno_ops.on_congestion_event);
  assert_non_null(rudp_cc_reno_ops.on_persistent_congestion);
  assert_non_null(rudp_cc_reno_ops.on_spurious_loss);
  assert_non_null(rudp_cc_reno_ops.reset);
}

/* Random event sequences keep the window invariants: never below the
 * minimum window, and a reduction only when the loss is not in recovery. */
static void test_rudp_cc_reno_random_invariants(void **state) {
  rudp_test_rng rng;
  rudp_cc_reno reno;
  rudp_tstamp now = 1;
  uint64_t mss, events;
  int i, round;

  (void)state;

  rudp_test_rng_init(&rng, 0x52454e4fULL);
  for (round = 0; round < 50; ++round) {
    mss = 100 + rudp_test_rng_below(&rng, 9000);
    rudp_cc_reno_init(&reno, mss, now);
    for (i = 0; i < 2000; ++i) {
      uint64_t cwnd = reno.cc.cwnd;
      rudp_tstamp sent = now - rudp_test_rng_below(&rng, now);
      int in_rec = rudp_cc_in_recovery(&reno.cc, sent);

      now += rudp_test_rng_below(&rng, 1000);
      events = reno.cc.congestion_events;
      switch (rudp_test_rng_below(&rng, 10)) {
      case 0:
        loss(&reno, sent, now);
        assert_int_equal(events + !in_rec, reno.cc.congestion_events);
        if (!in_rec) {
          assert_int_equal(cwnd / 2, reno.cc.ssthresh);
        } else {
          assert_int_equal(cwnd, reno.cc.cwnd);
        }
        break;
      case 1:
        if (rudp_test_rng_below(&rng, 10) == 0) {
          reno.cc.ops->on_persistent_congestion(&reno.cc, now);
          assert_int_equal(rudp_cc_min_window(mss), reno.cc.cwnd);
        }
        break;
      case 2:
        reno.cc.ops->on_spurious_loss(&reno.cc, now);
        assert_true(reno.cc.cwnd >= cwnd);
        break;
      default:
        ack(&reno, rudp_test_rng_below(&rng, 4 * mss), sent,
            rudp_test_rng_below(&rng, 8) == 0);
        if (in_rec) {
          assert_int_equal(cwnd, reno.cc.cwnd);
        } else {
          assert_true(reno.cc.cwnd >= cwnd);
        }
        break;
      }
      assert_true(reno.cc.cwnd >= rudp_cc_min_window(mss));
      assert_true(reno.bytes_acked < reno.cc.cwnd ||
                  reno.cc.cwnd < reno.cc.ssthresh);
    }
  }
}

/* rtt_at gives an estimator with one sample history: min, smoothed and
 * latest as given (microseconds). */
static rudp_rtt rtt_at(uint64_t min_us, uint64_t smoothed_us,
                       uint64_t latest_us) {
  rudp_rtt rtt;

  rudp_rtt_init(&rtt, RUDP_DEFAULT_INITIAL_RTT);
  rtt.min = min_us * RUDP_MICROSECONDS;
  rtt.smoothed = smoothed_us * RUDP_MICROSECONDS;
  rtt.latest = latest_us * RUDP_MICROSECONDS;
  rtt.nsamples = 10;
  return rtt;
}

/* lt_new gives NewReno in congestion avoidance (ssthresh = cwnd = 12000)
 * with loss_tolerant on and 1 MB acknowledged at time 0 under |rtt| in 8
 * ACKs (app-limited: the window stays put), so that a few losses are a
 * low loss rate; |rtt|'s latest sample fills the first RTT window. */
static rudp_cc_reno lt_new(const rudp_rtt *rtt) {
  rudp_cc_reno reno = reno_new();
  rudp_cc_ack a;
  int i;

  reno.cc.loss_tolerant = 1;
  reno.cc.ssthresh = 12000;
  memset(&a, 0, sizeof(a));
  a.bytes_acked = 125000;
  a.app_limited = 1;
  for (i = 0; i < 8; ++i) {
    rudp_cc_on_ack(&reno.cc, &a, rtt, 0);
  }
  assert_int_equal(12000, reno.cc.cwnd);
  assert_int_equal(8, reno.cc.lt_rtt_count);
  return reno;
}

/* lt_sample feeds 4 ACKs of nothing new whose RTT sample is |latest_us|
 * (min 20 ms, smoothed 20 ms) at |now_ms|. */
static void lt_sample(rudp_cc_reno *reno, uint64_t latest_us, uint64_t now_ms) {
  rudp_rtt rtt = rtt_at(20000, 20000, latest_us);
  rudp_cc_ack a;
  int i;

  memset(&a, 0, sizeof(a));
  a.app_limited = 1;
  for (i = 0; i < 4; ++i) {
    rudp_cc_on_ack(&reno->cc, &a, &rtt, now_ms * RUDP_MILLISECONDS);
  }
}

/* lt_loss reports 1200 bytes lost at |now_ms| (min RTT and smoothed RTT
 * 20 ms, latest |latest_us|). */
static int lt_loss(rudp_cc_reno *reno, uint64_t latest_us, uint64_t now_ms) {
  rudp_rtt rtt = rtt_at(20000, 20000, latest_us);

  return rudp_cc_on_loss(&reno->cc, 1200, 10, 0, &rtt,
                         now_ms * RUDP_MILLISECONDS);
}

static void test_rudp_cc_reno_loss_tolerant_queue(void **state) {
  rudp_cc_reno reno = reno_new();
  rudp_rtt rtt;

  (void)state;

  /* Off (the algorithm's own default): every loss event reduces. */
  assert_int_equal(0, reno.cc.loss_tolerant);
  rtt = rtt_at(20000, 20000, 20000);
  assert_int_equal(1, rudp_cc_on_loss(&reno.cc, 1200, 10, 0, &rtt, 1000));
  assert_int_equal(6000, reno.cc.cwnd);
  assert_int_equal(0, reno.cc.losses_ignored);

  /* No queue (margin max(20 ms / 16, 250 us) = 1.25 ms): ignored. */
  reno = lt_new(&rtt);
  assert_int_equal(0, lt_loss(&reno, 20000, 1));
  assert_int_equal(12000, reno.cc.cwnd);
  assert_int_equal(12000, reno.cc.ssthresh);
  assert_int_equal(0, reno.cc.congestion_events);
  assert_int_equal(1, reno.cc.losses_ignored);
  /* One late ACK is one sample: the windows' smallest is still 20 ms. */
  lt_sample(&reno, 40000, 2);
  assert_int_equal(0, lt_loss(&reno, 40000, 2));
  /* RTT windows are 10 ms (half the smoothed RTT).  A queue of exactly
   * the margin in the next two windows is not above it... */
  lt_sample(&reno, 21250, 12);
  assert_int_equal(0, lt_loss(&reno, 21250, 12)); /* 20 ms one window ago */
  lt_sample(&reno, 21250, 22);
  assert_int_equal(0, lt_loss(&reno, 21250, 22));
  assert_int_equal(4, reno.cc.losses_ignored);
  assert_int_equal(12000, reno.cc.cwnd);
  /* ...one microsecond more, over both windows, is a standing queue: the
   * standard response. */
  lt_sample(&reno, 21251, 32);
  assert_int_equal(0, lt_loss(&reno, 21251, 32)); /* 21.25 ms one ago */
  lt_sample(&reno, 22000, 42);
  lt_sample(&reno, 21251, 43);
  assert_int_equal(1, lt_loss(&reno, 21251, 43));
  assert_int_equal(6000, reno.cc.cwnd);
  assert_int_equal(1, reno.cc.congestion_events);
  assert_int_equal(5, reno.cc.losses_ignored);
  /* After a gap the window before it still counts: a lone window after
   * it is not enough. */
  lt_sample(&reno, 30000, 100);
  assert_int_equal(21251 * RUDP_MICROSECONDS, reno.cc.lt_rtt_prev_min);
  assert_int_equal(8, reno.cc.lt_rtt_prev_count);
  assert_int_equal(30000 * RUDP_MICROSECONDS, reno.cc.lt_rtt_min);
  assert_int_equal(4, reno.cc.lt_rtt_count);

  /* Short RTTs: the margin is at least RUDP_CC_LT_MIN_QUEUE_DELAY
   * (250 us). */
  rtt = rtt_at(100, 350, 350);
  reno = lt_new(&rtt);
  assert_int_equal(0, rudp_cc_on_loss(&reno.cc, 1200, 10, 0, &rtt, 1000));
  rtt = rtt_at(100, 351, 351);
  reno = lt_new(&rtt);
  assert_int_equal(1, rudp_cc_on_loss(&reno.cc, 1200, 10, 0, &rtt, 1000));

  /* Fewer than RUDP_CC_LT_MIN_RTT_SAMPLES samples in the windows: no
   * evidence of a queue, whatever the latest sample says. */
  reno = reno_new();
  reno.cc.loss_tolerant = 1;
  reno.cc.ssthresh = 12000;
  rtt = rtt_at(20000, 40000, 40000);
  assert_int_equal(0, rudp_cc_on_loss(&reno.cc, 1200, 10, 0, &rtt, 1000));
  assert_int_equal(12000, reno.cc.cwnd);
  /* Slow start: the latest and the smoothed RTT, whatever the windows
   * hold (its queue builds within one round), and a margin of min_rtt / 8
   * (2.5 ms). */
  rtt = rtt_at(20000, 20000, 20000);
  reno = lt_new(&rtt);
  reno.cc.ssthresh = UINT64_MAX;
  rtt = rtt_at(20000, 20000, 30000);
  assert_int_equal(0, rudp_cc_on_loss(&reno.cc, 1200, 10, 0, &rtt, 1000));
  rtt = rtt_at(20000, 22500, 30000);
  assert_int_equal(0, rudp_cc_on_loss(&reno.cc, 1200, 10, 0, &rtt, 1000));
  rtt = rtt_at(20000, 22501, 30000);
  assert_int_equal(1, rudp_cc_on_loss(&reno.cc, 1200, 10, 0, &rtt, 1000));
  assert_int_equal(6000, reno.cc.cwnd);
  /* No RTT sample at all: nothing to compare with, the standard
   * response. */
  reno = reno_new();
  reno.cc.loss_tolerant = 1;
  rudp_rtt_init(&rtt, RUDP_DEFAULT_INITIAL_RTT);
  assert_int_equal(1, rudp_cc_on_loss(&reno.cc, 1200, 10, 0, &rtt, 1000));
  assert_int_equal(6000, reno.cc.cwnd);

  /* Persistent congestion always counts, and collapses the window. */
  rtt = rtt_at(20000, 20000, 20000);
  reno = lt_new(&rtt);
  assert_int_equal(1, rudp_cc_on_loss(&reno.cc, 1200, 10, 1, &rtt, 1000));
  assert_int_equal(2400, reno.cc.cwnd);
  assert_int_equal(6000, reno.cc.ssthresh);
  assert_int_equal(0, reno.cc.losses_ignored);
}

static void test_rudp_cc_reno_loss_tolerant_rate(void **state) {
  rudp_cc_reno reno = reno_new();
  rudp_rtt rtt = rtt_at(20000, 20000, 20000);
  rudp_tstamp t0 = 1000 * RUDP_MILLISECONDS;
  rudp_cc_ack a;

  (void)state;

  reno.cc.loss_tolerant = 1;
  memset(&a, 0, sizeof(a));
  a.largest_acked_sent_ts = 0;
  a.app_limited = 1; /* the window stays put: only the counts matter */
  /* Round 1 (t0 .. t0 + 20 ms): 56000 bytes acknowledged. */
  a.bytes_acked = 56000;
  rudp_cc_on_ack(&reno.cc, &a, &rtt, t0);
  assert_int_equal(t0, reno.cc.lt_round_start);
  assert_int_equal(56000, reno.cc.lt_acked);
  /* Seven datagrams lost, 8400 of 64400 bytes: more than 1/8, but below
   * RUDP_CC_LT_MIN_LOST_PACKETS (8): so few could be chance. */
  assert_int_equal(0, rudp_cc_on_loss(&reno.cc, 8400, 0, 0, &rtt, t0 + 1));
  /* The eighth makes 9600 of 65600 bytes, more than 1/8: the flow meets
   * a bottleneck whose queue does not show in the RTT. */
  assert_int_equal(1, rudp_cc_on_loss(&reno.cc, 1200, 0, 0, &rtt, t0 + 2));
  assert_int_equal(6000, reno.cc.cwnd);
  assert_int_equal(1, reno.cc.losses_ignored);

  /* Rounds: the counts of the previous round still count, those of the
   * round before it no longer do. */
  reno = reno_new();
  reno.cc.loss_tolerant = 1;
  a.bytes_acked = 100000;
  rudp_cc_on_ack(&reno.cc, &a, &rtt, t0);
  assert_int_equal(0, rudp_cc_on_loss(&reno.cc, 4800, 0, 0, &rtt, t0));
  /* Next round (one smoothed RTT later): 9600 lost of 100000 + 20000 +
   * 9600, below 1/8. */
  a.bytes_acked = 20000;
  rudp_cc_on_ack(&reno.cc, &a, &rtt, t0 + 20 * RUDP_MILLISECONDS);
  assert_int_equal(20000, reno.cc.lt_acked);
  assert_int_equal(100000, reno.cc.lt_prev_acked);
  assert_int_equal(4800, reno.cc.lt_prev_lost);
  assert_int_equal(0, rudp_cc_on_loss(&reno.cc, 4800, 0, 0, &rtt,
                                      t0 + 21 * RUDP_MILLISECONDS));
  assert_int_equal(2, reno.cc.losses_ignored);
  /* A round later the first round's 100000 no longer dilute (it held
   * more than RUDP_CC_LT_MIN_SAMPLE datagrams): 9600 lost of 20000 +
   * 9600. */
  a.bytes_acked = 0;
  rudp_cc_on_ack(&reno.cc, &a, &rtt, t0 + 40 * RUDP_MILLISECONDS);
  assert_int_equal(20000, reno.cc.lt_prev_acked);
  assert_int_equal(4800, reno.cc.lt_prev_lost);
  assert_int_equal(0, reno.cc.lt_acked);
  assert_int_equal(1, rudp_cc_on_loss(&reno.cc, 4800, 0, 0, &rtt,
                                      t0 + 41 * RUDP_MILLISECONDS));
  assert_int_equal(2, reno.cc.losses_ignored);
  assert_int_equal(6000, reno.cc.cwnd);
  /* After more than two idle rounds nothing is remembered. */
  rudp_cc_on_ack(&reno.cc, &a, &rtt, t0 + 200 * RUDP_MILLISECONDS);
  assert_int_equal(0, reno.cc.lt_prev_acked);
  assert_int_equal(0, reno.cc.lt_prev_lost);
  assert_int_equal(0, reno.cc.lt_lost);

  /* On a 100 us path a round lasts RUDP_CC_LT_MIN_ROUND (10 ms), not one
   * RTT: enough packets to tell a loss rate. */
  rtt = rtt_at(100, 100, 100);
  reno = reno_new();
  reno.cc.loss_tolerant = 1;
  a.bytes_acked = 1000;
  rudp_cc_on_ack(&reno.cc, &a, &rtt, t0);
  rudp_cc_on_ack(&reno.cc, &a, &rtt, t0 + 9999 * RUDP_MICROSECONDS);
  assert_int_equal(2000, reno.cc.lt_acked);
  rudp_cc_on_ack(&reno.cc, &a, &rtt, t0 + 10 * RUDP_MILLISECONDS);
  assert_int_equal(1000, reno.cc.lt_acked);
  assert_int_equal(2000, reno.cc.lt_prev_acked);
  /* A slow flow: the previous round gathers rounds until it holds
   * RUDP_CC_LT_MIN_SAMPLE datagrams (76800 bytes). */
  rudp_cc_on_ack(&reno.cc, &a, &rtt, t0 + 20 * RUDP_MILLISECONDS);
  assert_int_equal(1000, reno.cc.lt_acked);
  assert_int_equal(3000, reno.cc.lt_prev_acked);
  a.bytes_acked = 80000;
  rudp_cc_on_ack(&reno.cc, &a, &rtt, t0 + 30 * RUDP_MILLISECONDS);
  assert_int_equal(4000, reno.cc.lt_prev_acked);
  assert_int_equal(80000, reno.cc.lt_acked);
  a.bytes_acked = 0;
  rudp_cc_on_ack(&reno.cc, &a, &rtt, t0 + 40 * RUDP_MILLISECONDS);
  assert_int_equal(84000, reno.cc.lt_prev_acked);
  /* Enough: from now on the previous round is replaced. */
  a.bytes_acked = 1000;
  rudp_cc_on_ack(&reno.cc, &a, &rtt, t0 + 50 * RUDP_MILLISECONDS);
  assert_int_equal(0, reno.cc.lt_prev_acked);
  assert_int_equal(1000, reno.cc.lt_acked);
}

static void test_rudp_cc_reno_app_limited_window(void **state) {
  rudp_cc_reno reno = reno_new();
  rudp_rtt rtt = rtt_at(20000, 20000, 20000);
  rudp_tstamp t0 = 1000 * RUDP_MILLISECONDS;

  (void)state;

  /* Never window-limited: a packet that empties the queue is
   * application-limited. */
  assert_int_equal(1, rudp_cc_app_limited(&reno.cc, &rtt, t0));
  /* Within one smoothed RTT of a full window it is not. */
  rudp_cc_set_cwnd_limited(&reno.cc, t0);
  assert_int_equal(0, rudp_cc_app_limited(&reno.cc, &rtt, t0));
  assert_int_equal(
      0, rudp_cc_app_limited(&reno.cc, &rtt, t0 + 20 * RUDP_MILLISECONDS));
  assert_int_equal(
      1, rudp_cc_app_limited(&reno.cc, &rtt, t0 + 20 * RUDP_MILLISECONDS + 1));
  /* A reset keeps nothing of it... and init starts with none. */
  reno = reno_new();
  assert_int_equal(UINT64_MAX, reno.cc.cwnd_limited_ts);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_cc_reno_initial_window),
      cmocka_unit_test(test_rudp_cc_reno_min_window),
      cmocka_unit_test(test_rudp_cc_reno_init),
      cmocka_unit_test(test_rudp_cc_reno_in_recovery),
      cmocka_unit_test(test_rudp_cc_reno_slow_start),
      cmocka_unit_test(test_rudp_cc_reno_congestion_avoidance),
      cmocka_unit_test(test_rudp_cc_reno_avoidance_large_ack),
      cmocka_unit_test(test_rudp_cc_reno_app_limited),
      cmocka_unit_test(test_rudp_cc_reno_loss_halves_once_per_recovery),
      cmocka_unit_test(test_rudp_cc_reno_loss_halves_odd_window),
      cmocka_unit_test(test_rudp_cc_reno_no_growth_in_recovery),
      cmocka_unit_test(test_rudp_cc_reno_min_window_floor),
      cmocka_unit_test(test_rudp_cc_reno_persistent_congestion),
      cmocka_unit_test(test_rudp_cc_reno_spurious_undo),
      cmocka_unit_test(test_rudp_cc_reno_spurious_keeps_larger_window),
      cmocka_unit_test(test_rudp_cc_reno_spurious_only_its_own_loss),
      cmocka_unit_test(test_rudp_cc_reno_reset),
      cmocka_unit_test(test_rudp_cc_reno_hystart_exit),
      cmocka_unit_test(test_rudp_cc_reno_hystart_false_rise),
      cmocka_unit_test(test_rudp_cc_reno_hystart_first_slow_start_only),
      cmocka_unit_test(test_rudp_cc_pacing_rate),
      cmocka_unit_test(test_rudp_cc_reno_ops_table),
      cmocka_unit_test(test_rudp_cc_reno_random_invariants),
      cmocka_unit_test(test_rudp_cc_reno_loss_tolerant_queue),
      cmocka_unit_test(test_rudp_cc_reno_loss_tolerant_rate),
      cmocka_unit_test(test_rudp_cc_reno_app_limited_window),
  };

  return cmocka_run_group_tests_name("cc_reno", tests, NULL, NULL);
}
