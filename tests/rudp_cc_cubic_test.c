/*
 * Tests for CUBIC (lib/rudp_cc_cubic.c, RFC 9438), driven through the ops
 * table with a fake clock and a fixed RTT.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "rudp_cc.h"
#include "rudp_macro.h"
#include "rudp_test_helper.h"

#define MSS 1200
#define MS RUDP_MILLISECONDS
#define SEG(N) ((uint64_t)(N)*MSS)

typedef struct fixture {
  rudp_cc_cubic c;
  rudp_rtt rtt;
  rudp_tstamp now;
} fixture;

/* fixture_init gives CUBIC for 1200-byte datagrams (cwnd 12000) at t = 1
 * s, with no RTT sample yet (HyStart++ sees nothing). */
static void fixture_init(fixture *f) {
  memset(f, 0xa5, sizeof(*f));
  f->now = RUDP_SECONDS;
  rudp_cc_cubic_init(&f->c, MSS, f->now);
  rudp_rtt_init(&f->rtt, RUDP_DEFAULT_INITIAL_RTT);
}

/* set_rtt makes every later ACK carry an RTT sample of |rtt|. */
static void set_rtt(fixture *f, rudp_duration rtt) {
  f->rtt.latest = rtt;
  f->rtt.smoothed = rtt;
  f->rtt.min = rtt;
  f->rtt.nsamples++;
}

/* ack_full feeds one ACK at |now| of |bytes| whose largest packet was sent
 * at |sent|. */
static void ack_full(fixture *f, uint64_t bytes, rudp_tstamp sent,
                     rudp_tstamp now, int app_limited) {
  rudp_cc_ack a;

  f->now = now;
  if (f->rtt.nsamples) {
    f->rtt.nsamples++;
  }
  a.bytes_acked = bytes;
  a.largest_acked_sent_ts = sent;
  a.bytes_in_flight = f->c.cc.cwnd;
  a.app_limited = app_limited;
  f->c.cc.ops->on_ack(&f->c.cc, &a, &f->rtt, now);
}

/* ack feeds an ACK |dt| after the last event for a packet sent one RTT
 * before it. */
static void ack(fixture *f, uint64_t bytes, rudp_duration dt) {
  rudp_tstamp now = f->now + dt;

  ack_full(f, bytes, now - f->rtt.smoothed, now, 0);
}

/* loss reports a loss |dt| after the last event, of a packet sent just
 * before: after any earlier recovery period began. */
static void loss(fixture *f, rudp_duration dt) {
  f->now += dt;
  f->c.cc.ops->on_congestion_event(&f->c.cc, f->now - 1, f->now);
}

/* round_trip acknowledges one window in datagrams spread evenly over one
 * RTT, as a saturated sender with a fixed RTT sees it. */
static void round_trip(fixture *f) {
  uint64_t n = f->c.cc.cwnd / MSS, i;
  rudp_duration gap = f->rtt.smoothed / (n ? n : 1);

  for (i = 0; i < (n ? n : 1); ++i) {
    ack(f, MSS, gap);
  }
}

/* after_loss_at leaves cwnd = 0.7 * |segs| segments, W_max = |segs|, in
 * congestion avoidance with a fixed RTT of |rtt|, one RTT after the loss
 * (the ACKs of the flight that saw it have gone by: the next ACK starts
 * the epoch). */
static void after_loss_at(fixture *f, uint64_t segs, rudp_duration rtt) {
  fixture_init(f);
  rudp_rtt_init(&f->rtt, rtt);
  /* Slow start without RTT samples: HyStart++ stays out of it. */
  ack_full(f, SEG(segs) - f->c.cc.cwnd, f->now, f->now + rtt, 0);
  assert_int_equal(SEG(segs), f->c.cc.cwnd);
  set_rtt(f, rtt);
  loss(f, MS);
  assert_int_equal(SEG(segs), f->c.w_max);
  f->now += rtt;
}

static void assert_near(uint64_t want, uint64_t got, uint64_t tolerance) {
  uint64_t diff = want > got ? want - got : got - want;

  if (diff > tolerance) {
    fail_msg("want %llu +- %llu, got %llu", (unsigned long long)want,
             (unsigned long long)tolerance, (unsigned long long)got);
  }
}

static void test_rudp_cc_cubic_init(void **state) {
  fixture f;

  (void)state;

  fixture_init(&f);
  assert_ptr_equal(&rudp_cc_cubic_ops, f.c.cc.ops);
  assert_string_equal("cubic", f.c.cc.ops->name);
  assert_int_equal(12000, f.c.cc.cwnd);
  assert_int_equal(UINT64_MAX, f.c.cc.ssthresh);
  assert_int_equal(UINT64_MAX, f.c.cc.recovery_start);
  assert_int_equal(MSS, f.c.cc.max_udp_payload_size);
  assert_int_equal(0, f.c.cc.congestion_events);
  assert_int_equal(0, f.c.w_max);
  assert_int_equal(UINT64_MAX, f.c.epoch_start);
  assert_int_equal(0, f.c.hystart.exits);
  assert_int_equal(0, f.c.hystart.in_css);

  assert_non_null(rudp_cc_cubic_ops.on_packet_sent);
  assert_non_null(rudp_cc_cubic_ops.on_ack);
  assert_non_null(rudp_cc_cubic_ops.on_congestion_event);
  assert_non_null(rudp_cc_cubic_ops.on_persistent_congestion);
  assert_non_null(rudp_cc_cubic_ops.on_spurious_loss);
  assert_non_null(rudp_cc_cubic_ops.reset);

  rudp_cc_cubic_init(&f.c, 1500, 0);
  assert_int_equal(14720, f.c.cc.cwnd);
}

static void test_rudp_cc_cubic_w_cubic_formula(void **state) {
  fixture f;
  rudp_duration k;

  (void)state;

  /* W_max = 100 segments, 70 after the reduction.  The first ACK in
   * congestion avoidance starts the epoch: K = cbrt((100 - 70) / 0.4) =
   * cbrt(75) = 4.2171633 s. */
  after_loss_at(&f, 100, 100 * MS);
  assert_int_equal(SEG(70), f.c.cc.cwnd);
  /* An ACK of the flight that saw the loss is still in recovery. */
  ack_full(&f, MSS, f.c.cc.recovery_start, f.now, 0);
  assert_int_equal(UINT64_MAX, f.c.epoch_start);
  ack(&f, MSS, 1);
  assert_int_equal(f.now, f.c.epoch_start);
  k = f.c.k;
  assert_near(4217163327ULL, k, 1000);

  /* W_cubic(t) = 0.4 * 1200 * (t - K)^3 + 120000 bytes. */
  assert_near(SEG(70), rudp_cc_cubic_w_cubic(&f.c, 0), 2);
  /* (K/2)^3 = 75 / 8: 100 - 0.4 * 9.375 = 96.25 segments. */
  assert_near(115500, rudp_cc_cubic_w_cubic(&f.c, k / 2), 2);
  assert_near(SEG(100), rudp_cc_cubic_w_cubic(&f.c, k), 1);
  /* 100 + 0.4 * 75 = 130 segments. */
  assert_near(SEG(130), rudp_cc_cubic_w_cubic(&f.c, 2 * k), 2);
  /* 10 s: 100 + 0.4 * 5.7828^3 = 177.36 segments. */
  assert_near(212833, rudp_cc_cubic_w_cubic(&f.c, 10 * RUDP_SECONDS), 10);
  /* Increasing in t. */
  assert_true(rudp_cc_cubic_w_cubic(&f.c, k / 2) <
              rudp_cc_cubic_w_cubic(&f.c, k / 2 + MS));

  /* Never below 0, never wrapping. */
  f.c.w_max = 10;
  f.c.k = 100 * RUDP_SECONDS;
  assert_int_equal(0, rudp_cc_cubic_w_cubic(&f.c, 0));
  f.c.k = 0;
  assert_int_equal(UINT64_MAX, rudp_cc_cubic_w_cubic(&f.c, UINT64_MAX));
}

static void test_rudp_cc_cubic_loss_reduces_to_beta(void **state) {
  fixture f;

  (void)state;

  fixture_init(&f);
  ack(&f, 88000, MS); /* cwnd 100000 */
  loss(&f, MS);
  assert_int_equal(70000, f.c.cc.cwnd);
  assert_int_equal(70000, f.c.cc.ssthresh);
  assert_int_equal(100000, f.c.w_max);
  assert_int_equal(100000, f.c.cwnd_prior);
  assert_int_equal(100000, f.c.cc.prior_cwnd);
  assert_int_equal(UINT64_MAX, f.c.cc.prior_ssthresh);
  assert_int_equal(f.now, f.c.cc.recovery_start);
  assert_int_equal(UINT64_MAX, f.c.epoch_start);
  assert_int_equal(1, f.c.cc.congestion_events);

  /* An odd window rounds down: 0.7 * 12345 = 8641.5. */
  fixture_init(&f);
  ack(&f, 345, MS);
  loss(&f, MS);
  assert_int_equal(8641, f.c.cc.cwnd);

  /* Never below the minimum window, ssthresh included. */
  fixture_init(&f);
  loss(&f, MS); /* 12000 -> 8400 */
  loss(&f, MS); /* -> 5880 */
  loss(&f, MS); /* -> 4116 */
  loss(&f, MS); /* -> 2881 */
  assert_int_equal(2881, f.c.cc.cwnd);
  loss(&f, MS); /* 2016 < 2400 */
  assert_int_equal(2400, f.c.cc.cwnd);
  assert_int_equal(2400, f.c.cc.ssthresh);
  loss(&f, MS);
  assert_int_equal(2400, f.c.cc.cwnd);
  assert_int_equal(6, f.c.cc.congestion_events);
}

static void test_rudp_cc_cubic_one_reduction_per_recovery(void **state) {
  fixture f;
  rudp_tstamp start;

  (void)state;

  fixture_init(&f);
  f.c.cc.ops->on_congestion_event(&f.c.cc, f.now - 10, f.now);
  start = f.now;
  assert_int_equal(8400, f.c.cc.cwnd);

  /* Losses of packets sent up to the start of recovery are the same
   * event. */
  f.c.cc.ops->on_congestion_event(&f.c.cc, start - 5, start + 50);
  f.c.cc.ops->on_congestion_event(&f.c.cc, start, start + 60);
  assert_int_equal(8400, f.c.cc.cwnd);
  assert_int_equal(start, f.c.cc.recovery_start);
  assert_int_equal(1, f.c.cc.congestion_events);
  assert_int_equal(12000, f.c.w_max);

  /* ACKs from that flight do not grow the window either. */
  ack_full(&f, 50000, start, start + 70, 0);
  assert_int_equal(8400, f.c.cc.cwnd);
  assert_int_equal(UINT64_MAX, f.c.epoch_start);

  /* A packet sent after it: a new event. */
  f.c.cc.ops->on_congestion_event(&f.c.cc, start + 1, start + 100);
  assert_int_equal(5880, f.c.cc.cwnd);
  assert_int_equal(2, f.c.cc.congestion_events);
  assert_int_equal(start + 100, f.c.cc.recovery_start);
}

static void test_rudp_cc_cubic_fast_convergence(void **state) {
  fixture f;

  (void)state;

  fixture_init(&f);
  ack(&f, SEG(90), MS); /* 100 segments */
  loss(&f, MS);
  assert_int_equal(SEG(100), f.c.w_max);
  assert_int_equal(SEG(70), f.c.cc.cwnd);

  /* Another loss before W_max is regained (at 80 segments): the flow
   * releases bandwidth, W_max = 80 * (1 + 0.7) / 2 = 68 segments. */
  f.c.cc.cwnd = SEG(80);
  loss(&f, MS);
  assert_int_equal(SEG(68), f.c.w_max);
  assert_int_equal(SEG(56), f.c.cc.cwnd);
  assert_int_equal(SEG(80), f.c.cwnd_prior);

  /* A loss at or above W_max takes the window as W_max. */
  f.c.cc.cwnd = SEG(68);
  loss(&f, MS);
  assert_int_equal(SEG(68), f.c.w_max);
  f.c.cc.cwnd = SEG(90);
  loss(&f, MS);
  assert_int_equal(SEG(90), f.c.w_max);
  assert_int_equal(SEG(63), f.c.cc.cwnd);
}

static void test_rudp_cc_cubic_concave_then_convex(void **state) {
  fixture f;
  uint64_t trace[90];
  int r;

  (void)state;

  /* W_max 100, from 70, RTT 100 ms: K = 4.217 s = 42 round trips. */
  after_loss_at(&f, 100, 100 * MS);
  for (r = 0; r < 90; ++r) {
    round_trip(&f);
    trace[r] = f.c.cc.cwnd;
  }
  assert_near(4217163327ULL, f.c.k, 1000);

  for (r = 1; r < 90; ++r) {
    assert_true(trace[r] >= trace[r - 1]);
  }
  /* Concave: fast first, slowing down approaching W_max. */
  assert_true(trace[9] - SEG(70) > SEG(12));
  assert_true(trace[19] - trace[9] < trace[9] - SEG(70));
  assert_true(trace[29] - trace[19] < trace[19] - trace[9]);
  /* Plateau around t = K: the window sits at W_max (the target runs one
   * RTT ahead). */
  assert_near(SEG(100), trace[41], SEG(2));
  assert_true(trace[46] - trace[36] <= SEG(2));
  /* Beyond W_max: accelerating.  From t = 5.8 s W_est (alpha 1 once it
   * has reached cwnd_prior = W_max) leads with one segment per RTT, until
   * the convex curve overtakes it at t = 8 s. */
  assert_true(trace[59] - trace[49] > trace[46] - trace[36]);
  assert_true(trace[69] - trace[59] > trace[59] - trace[49]);
  assert_near(SEG(10), trace[69] - trace[59], SEG(1));
  assert_true(trace[89] - trace[79] > trace[69] - trace[59]);
  assert_true(trace[89] > SEG(135));
  /* And it follows the formula there: 84 RTTs into the epoch (t = 8.4
   * s) the window is W_cubic(t) = 100 + 0.4 * 4.183^3 = 129.3 segments
   * (it aims at W_cubic(t + RTT) and gets there an RTT later). */
  assert_near(155100, trace[83], SEG(3));
  assert_int_equal(1, f.c.cc.congestion_events);
}

static void test_rudp_cc_cubic_growth_toward_target(void **state) {
  fixture f;
  rudp_tstamp t0;

  (void)state;

  /* W_max 100 segments, cwnd 70 (84000 bytes), RTT 100 ms. */
  after_loss_at(&f, 100, 100 * MS);
  ack(&f, MSS, 1);
  t0 = f.c.epoch_start;
  /* At t = 0 the target W_cubic(0.1 s) = 72.09 segments is 2509 bytes
   * ahead: a datagram per 84000 * 1200 / 2509 = 40175 bytes acked. */
  assert_int_equal(SEG(70), f.c.cc.cwnd);
  assert_int_equal(MSS, f.c.acked_bytes);

  /* At t = 1 s the target is W_cubic(1.1 s) = 105461 bytes (one RTT
   * ahead; W_cubic(1 s) would be 104017): a datagram per 84000 * 1200 /
   * 21461 = 4696 bytes, so 1200 + 13000 bytes give three, 112 left. */
  ack_full(&f, 13000, t0 + RUDP_SECONDS - 100 * MS, t0 + RUDP_SECONDS, 0);
  assert_int_equal(SEG(73), f.c.cc.cwnd);
  assert_int_equal(112, f.c.acked_bytes);
  assert_int_equal(t0, f.c.epoch_start);
}

static void test_rudp_cc_cubic_target_capped(void **state) {
  fixture f;
  uint64_t before;

  (void)state;

  /* Far into the convex region W_cubic(t + RTT) is huge; growth per RTT
   * is still at most 50% (the 1.5 cwnd cap of §4.2). */
  after_loss_at(&f, 100, 100 * MS);
  ack(&f, MSS, MS); /* epoch start */
  ack(&f, MSS, 60 * RUDP_SECONDS);
  before = f.c.cc.cwnd;
  round_trip(&f);
  assert_true(f.c.cc.cwnd <= before + before / 2);
  assert_true(f.c.cc.cwnd >= before + before / 2 - SEG(1));

  /* One ACK of many windows: no leap past the capped target either. */
  before = f.c.cc.cwnd;
  ack(&f, 100 * before, MS);
  assert_true(f.c.cc.cwnd <= before + before / 2);
}

static void test_rudp_cc_cubic_reno_friendly(void **state) {
  fixture f;
  rudp_duration t;
  int r;

  (void)state;

  /* Small window (W_max 20 segments) and a 1 ms RTT: K = 2.47 s is 2470
   * round trips, during which Reno would grow far more. */
  after_loss_at(&f, 20, MS);
  assert_int_equal(SEG(14), f.c.cc.cwnd);
  round_trip(&f);
  /* W_est: 14 segments acknowledged * 9/17 / 14 = 0.53 segment. */
  assert_int_equal(SEG(14), f.c.cc.cwnd);
  assert_int_equal(SEG(14), f.c.w_est);
  round_trip(&f);
  /* 1.06 segments: one whole datagram, and the window follows W_est. */
  assert_int_equal(SEG(15), f.c.w_est);
  assert_int_equal(SEG(15), f.c.cc.cwnd);

  for (r = 0; r < 200; ++r) {
    round_trip(&f);
  }
  t = f.now - f.c.epoch_start;
  /* Reno-friendly region: W_cubic(t) is still below W_max, W_est well
   * above it; the window is W_est (alpha 9/17 up to 20 segments, then 1
   * segment per RTT: 20 + 200 - 6 / 0.53 ~ 208 segments). */
  assert_true(rudp_cc_cubic_w_cubic(&f.c, t) < SEG(20));
  assert_int_equal(f.c.w_est, f.c.cc.cwnd);
  assert_true(f.c.cc.cwnd >= SEG(195));
  assert_true(f.c.cc.cwnd <= SEG(212));
}

static void test_rudp_cc_cubic_app_limited(void **state) {
  fixture f;
  uint64_t cwnd, w_est;
  int i;

  (void)state;

  /* Slow start. */
  fixture_init(&f);
  ack_full(&f, 5000, f.now, f.now + MS, 1);
  assert_int_equal(12000, f.c.cc.cwnd);

  /* Congestion avoidance, mid-epoch. */
  after_loss_at(&f, 100, 100 * MS);
  round_trip(&f);
  cwnd = f.c.cc.cwnd;
  w_est = f.c.w_est;
  assert_true(cwnd > SEG(70));
  for (i = 0; i < 500; ++i) {
    ack_full(&f, MSS, f.now, f.now + MS, 1);
  }
  assert_int_equal(cwnd, f.c.cc.cwnd);
  assert_int_equal(w_est, f.c.w_est);

  /* No epoch starts on an application-limited ACK. */
  after_loss_at(&f, 100, 100 * MS);
  ack_full(&f, MSS, f.now, f.now + MS, 1);
  assert_int_equal(UINT64_MAX, f.c.epoch_start);
}

static void test_rudp_cc_cubic_idle_shifts_epoch(void **state) {
  fixture f;
  rudp_cc_ack a;
  rudp_tstamp epoch;

  (void)state;

  after_loss_at(&f, 100, 100 * MS);
  ack(&f, MSS, MS);
  epoch = f.c.epoch_start;

  /* The last ACK empties the network; 5 s later the sender resumes. */
  f.now += MS;
  a.bytes_acked = MSS;
  a.largest_acked_sent_ts = f.now - 100 * MS;
  a.bytes_in_flight = 0;
  a.app_limited = 1;
  f.c.cc.ops->on_ack(&f.c.cc, &a, &f.rtt, f.now);
  assert_int_equal(f.now, f.c.idle_start);
  f.c.cc.ops->on_packet_sent(&f.c.cc, MSS, f.now + 5 * RUDP_SECONDS);
  assert_int_equal(epoch + 5 * RUDP_SECONDS, f.c.epoch_start);
  assert_int_equal(UINT64_MAX, f.c.idle_start);

  /* Sending while data is in flight moves nothing. */
  f.c.cc.ops->on_packet_sent(&f.c.cc, MSS, f.now + 6 * RUDP_SECONDS);
  assert_int_equal(epoch + 5 * RUDP_SECONDS, f.c.epoch_start);
}

static void test_rudp_cc_cubic_persistent_congestion(void **state) {
  fixture f;
  rudp_tstamp t;

  (void)state;

  fixture_init(&f);
  loss(&f, MS);
  f.c.cc.ops->on_persistent_congestion(&f.c.cc, f.now);
  assert_int_equal(2400, f.c.cc.cwnd);
  assert_int_equal(8400, f.c.cc.ssthresh);
  assert_int_equal(UINT64_MAX, f.c.cc.recovery_start);
  assert_int_equal(UINT64_MAX, f.c.epoch_start);
  assert_int_equal(1, f.c.cc.congestion_events);

  /* Slow start back to ssthresh, even from packets of the old flight. */
  t = f.now;
  ack_full(&f, 3600, t - 10, t + MS, 0);
  assert_int_equal(6000, f.c.cc.cwnd);
  ack_full(&f, 2400, t - 5, t + 2 * MS, 0);
  assert_int_equal(8400, f.c.cc.cwnd);

  /* §4.8: the first congestion avoidance after it has K = 0 and W_max =
   * the window at its start: convex growth at once. */
  ack(&f, MSS, MS);
  assert_int_equal(f.now, f.c.epoch_start);
  assert_int_equal(0, f.c.k);
  assert_int_equal(8400, f.c.w_max);

  /* Nothing to undo after persistent congestion. */
  loss(&f, MS);
  f.c.cc.ops->on_persistent_congestion(&f.c.cc, f.now);
  f.c.cc.ops->on_spurious_loss(&f.c.cc, f.now);
  assert_int_equal(2400, f.c.cc.cwnd);
}

static void test_rudp_cc_cubic_spurious_undo(void **state) {
  fixture f;
  rudp_cc_cubic saved;

  (void)state;

  /* No reduction yet: nothing to undo. */
  fixture_init(&f);
  f.c.cc.ops->on_spurious_loss(&f.c.cc, f.now);
  assert_int_equal(12000, f.c.cc.cwnd);
  assert_int_equal(UINT64_MAX, f.c.cc.ssthresh);

  /* Mid-epoch in congestion avoidance. */
  after_loss_at(&f, 100, 100 * MS);
  round_trip(&f);
  round_trip(&f);
  assert_true(f.c.epoch_start != UINT64_MAX);
  /* The next loss is of a packet sent after the first recovery began: a
   * new reduction. */
  saved = f.c;

  loss(&f, MS);
  assert_int_equal(2, f.c.cc.congestion_events);
  assert_true(f.c.cc.cwnd < saved.cc.cwnd);
  assert_int_equal(UINT64_MAX, f.c.epoch_start);

  /* The undo may come after the next epoch began (new K, new start). */
  ack_full(&f, MSS, f.now + 1, f.now + 2 * MS, 0);
  assert_true(f.c.epoch_start != saved.epoch_start);
  assert_true(f.c.k != saved.k);
  f.c.cc.ops->on_spurious_loss(&f.c.cc, f.now + MS);
  assert_int_equal(saved.cc.cwnd, f.c.cc.cwnd);
  assert_int_equal(saved.cc.ssthresh, f.c.cc.ssthresh);
  assert_int_equal(saved.w_max, f.c.w_max);
  assert_int_equal(saved.k, f.c.k);
  assert_int_equal(saved.epoch_start, f.c.epoch_start);
  assert_int_equal(saved.w_est, f.c.w_est);
  assert_int_equal(saved.cwnd_prior, f.c.cwnd_prior);
  assert_int_equal(UINT64_MAX, f.c.cc.recovery_start);
  /* The event still happened: the counter is a statistic. */
  assert_int_equal(2, f.c.cc.congestion_events);

  /* A second undo has nothing left. */
  f.c.cc.ops->on_spurious_loss(&f.c.cc, f.now + 2 * MS);
  assert_int_equal(saved.cc.cwnd, f.c.cc.cwnd);

  /* Only the latest of two reductions is undone. */
  loss(&f, MS);
  saved = f.c;
  loss(&f, MS);
  f.c.cc.ops->on_spurious_loss(&f.c.cc, f.now);
  assert_int_equal(saved.cc.cwnd, f.c.cc.cwnd);
  assert_int_equal(saved.w_max, f.c.w_max);
  assert_int_equal(saved.cc.ssthresh, f.c.cc.ssthresh);

  /* An undo of a loss in slow start goes back to slow start. */
  fixture_init(&f);
  ack(&f, 8000, MS);
  loss(&f, MS);
  f.c.cc.ops->on_spurious_loss(&f.c.cc, f.now);
  assert_int_equal(20000, f.c.cc.cwnd);
  assert_int_equal(UINT64_MAX, f.c.cc.ssthresh);
  assert_int_equal(0, f.c.w_max);
  ack(&f, 1000, MS);
  assert_int_equal(21000, f.c.cc.cwnd);
}

static void test_rudp_cc_cubic_slow_start(void **state) {
  fixture f;

  (void)state;

  fixture_init(&f);
  ack(&f, 1200, MS);
  assert_int_equal(13200, f.c.cc.cwnd);
  ack(&f, 3000, MS);
  assert_int_equal(16200, f.c.cc.cwnd);
  ack(&f, 1, MS);
  assert_int_equal(16201, f.c.cc.cwnd);
  assert_int_equal(UINT64_MAX, f.c.epoch_start);

  /* With a flat RTT HyStart++ keeps full slow start growth. */
  set_rtt(&f, 50 * MS);
  f.c.cc.cwnd = 12000;
  {
    int i;
    for (i = 0; i < 100; ++i) {
      ack_full(&f, MSS, f.c.hystart.round_start, f.now + MS, 0);
    }
  }
  assert_int_equal(12000 + 100 * MSS, f.c.cc.cwnd);
  assert_int_equal(0, f.c.hystart.exits);

  /* Saturates instead of wrapping. */
  f.c.cc.cwnd = UINT64_MAX - 10;
  ack(&f, 100, MS);
  assert_int_equal(UINT64_MAX, f.c.cc.cwnd);
}

/* rtt_round feeds |n| ACKs of one datagram with RTT |rtt|, the first
 * ending HyStart++'s round. */
static void rtt_round(fixture *f, int n, rudp_duration rtt) {
  int i;

  set_rtt(f, rtt);
  for (i = 0; i < n; ++i) {
    rudp_tstamp start = f->c.hystart.round_start;

    ack_full(f, MSS, i == 0 ? start : start - 1, f->now + MS, 0);
  }
}

static void test_rudp_cc_cubic_hystart_exit(void **state) {
  fixture f;
  uint64_t cwnd;
  int r;

  (void)state;

  fixture_init(&f);
  rtt_round(&f, 10, 50 * MS);
  assert_int_equal(12000 + 10 * MSS, f.c.cc.cwnd);
  /* 50 -> 60 ms is above RttThresh (6.25 ms): Conservative Slow Start
   * from the eighth sample, growing by a quarter. */
  rtt_round(&f, 8, 60 * MS);
  assert_int_equal(24000 + 7 * MSS + MSS / 4, f.c.cc.cwnd);
  assert_true(f.c.hystart.in_css);
  cwnd = f.c.cc.cwnd;
  ack_full(&f, 4 * MSS, f.c.hystart.round_start - 1, f.now + MS, 0);
  assert_int_equal(cwnd + MSS, f.c.cc.cwnd);
  assert_int_equal(UINT64_MAX, f.c.cc.ssthresh);

  /* Four more rounds in CSS; the ACK ending the fifth leaves slow start
   * without a loss. */
  for (r = 0; r < 4; ++r) {
    rtt_round(&f, 8, 61 * MS);
  }
  cwnd = f.c.cc.cwnd;
  assert_int_equal(UINT64_MAX, f.c.cc.ssthresh);
  rtt_round(&f, 1, 61 * MS);
  assert_int_equal(1, f.c.hystart.exits);
  assert_int_equal(cwnd, f.c.cc.ssthresh);
  assert_int_equal(cwnd, f.c.cc.cwnd);
  assert_int_equal(0, f.c.cc.congestion_events);
  /* §4.10: W_max = that window, K = 0: convex growth from it. */
  assert_int_equal(cwnd, f.c.w_max);
  assert_int_equal(cwnd, f.c.cwnd_prior);
  ack(&f, MSS, MS);
  assert_int_equal(f.now, f.c.epoch_start);
  assert_int_equal(0, f.c.k);
  for (r = 0; r < 30; ++r) {
    round_trip(&f);
  }
  assert_true(f.c.cc.cwnd > cwnd);
  assert_int_equal(1, f.c.hystart.exits);
}

static void test_rudp_cc_cubic_hystart_first_slow_start_only(void **state) {
  fixture f;
  int r;

  (void)state;

  /* After a loss, slow start (persistent congestion) runs to ssthresh
   * whatever the RTT does. */
  fixture_init(&f);
  f.c.cc.cwnd = 100000;
  loss(&f, MS);
  f.c.cc.ops->on_persistent_congestion(&f.c.cc, f.now);
  for (r = 0; r < 6; ++r) {
    rtt_round(&f, 8, (50 + (rudp_duration)r * 20) * MS);
  }
  assert_int_equal(2400 + 48 * MSS, f.c.cc.cwnd);
  assert_int_equal(0, f.c.hystart.exits);
}

static void test_rudp_cc_cubic_reset(void **state) {
  fixture f;

  (void)state;

  after_loss_at(&f, 100, 100 * MS);
  round_trip(&f);
  f.c.hystart.exits = 2;
  f.c.cc.ops->reset(&f.c.cc, f.now);
  assert_int_equal(12000, f.c.cc.cwnd);
  assert_int_equal(UINT64_MAX, f.c.cc.ssthresh);
  assert_int_equal(UINT64_MAX, f.c.cc.recovery_start);
  assert_int_equal(0, f.c.w_max);
  assert_int_equal(UINT64_MAX, f.c.epoch_start);
  assert_int_equal(f.now, f.c.hystart.round_start);
  assert_int_equal(1, f.c.cc.congestion_events);
  assert_int_equal(2, f.c.hystart.exits);
  f.c.cc.ops->on_spurious_loss(&f.c.cc, f.now);
  assert_int_equal(12000, f.c.cc.cwnd);
}

static void test_rudp_cc_cubic_pacing_rate(void **state) {
  fixture f;

  (void)state;

  /* No sample yet: the initial RTT (333 ms) stands in; slow start: 2x. */
  fixture_init(&f);
  assert_null(rudp_cc_cubic_ops.pacing_rate);
  assert_int_equal(2 * 12000ULL * 1000 / 333,
                   rudp_cc_pacing_rate(&f.c.cc, &f.rtt));
  /* Congestion avoidance: 1.25x. */
  set_rtt(&f, 100 * MS);
  loss(&f, MS);
  assert_int_equal(8400 * 125 / 10, rudp_cc_pacing_rate(&f.c.cc, &f.rtt));
}

/* Random event sequences keep the window invariants. */
static void test_rudp_cc_cubic_random_invariants(void **state) {
  rudp_test_rng rng;
  fixture f;
  int i, round;

  (void)state;

  rudp_test_rng_init(&rng, 0x43554249ULL);
  for (round = 0; round < 30; ++round) {
    uint64_t mss = 100 + rudp_test_rng_below(&rng, 9000);

    fixture_init(&f);
    rudp_cc_cubic_init(&f.c, mss, f.now);
    set_rtt(&f, MS + rudp_test_rng_below(&rng, 300 * MS));
    for (i = 0; i < 3000; ++i) {
      uint64_t cwnd = f.c.cc.cwnd, events = f.c.cc.congestion_events;
      rudp_tstamp sent = f.now - rudp_test_rng_below(&rng, f.now);
      int in_rec = rudp_cc_in_recovery(&f.c.cc, sent);
      rudp_tstamp now = f.now + rudp_test_rng_below(&rng, 20 * MS);

      switch (rudp_test_rng_below(&rng, 20)) {
      case 0:
        f.now = now;
        f.c.cc.ops->on_congestion_event(&f.c.cc, sent, now);
        assert_int_equal(events + !in_rec, f.c.cc.congestion_events);
        if (!in_rec) {
          assert_int_equal(
              rudp_max(cwnd / 10 * 7 + cwnd % 10 * 7 / 10, 2 * mss),
              f.c.cc.cwnd);
        } else {
          assert_int_equal(cwnd, f.c.cc.cwnd);
        }
        break;
      case 1:
        if (rudp_test_rng_below(&rng, 10) == 0) {
          f.c.cc.ops->on_persistent_congestion(&f.c.cc, now);
          assert_int_equal(2 * mss, f.c.cc.cwnd);
        }
        break;
      case 2:
        f.c.cc.ops->on_spurious_loss(&f.c.cc, now);
        assert_true(f.c.cc.cwnd >= cwnd);
        break;
      case 3:
        set_rtt(&f, MS + rudp_test_rng_below(&rng, 300 * MS));
        break;
      default:
        ack_full(&f, rudp_test_rng_below(&rng, 4 * mss), sent, now,
                 rudp_test_rng_below(&rng, 8) == 0);
        if (in_rec) {
          assert_int_equal(cwnd, f.c.cc.cwnd);
        } else {
          assert_true(f.c.cc.cwnd >= cwnd);
          /* Growth per ACK is bounded by slow start's. */
          assert_true(f.c.cc.cwnd - cwnd <= 4 * mss + mss);
        }
        f.c.cc.ops->on_packet_sent(&f.c.cc, mss, f.now);
        break;
      }
      assert_true(f.c.cc.cwnd >= 2 * mss);
      assert_true(f.c.cc.ssthresh >= 2 * mss);
      assert_true(f.c.epoch_start == UINT64_MAX || f.c.epoch_start <= f.now);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_cc_cubic_init),
      cmocka_unit_test(test_rudp_cc_cubic_w_cubic_formula),
      cmocka_unit_test(test_rudp_cc_cubic_loss_reduces_to_beta),
      cmocka_unit_test(test_rudp_cc_cubic_one_reduction_per_recovery),
      cmocka_unit_test(test_rudp_cc_cubic_fast_convergence),
      cmocka_unit_test(test_rudp_cc_cubic_concave_then_convex),
      cmocka_unit_test(test_rudp_cc_cubic_growth_toward_target),
      cmocka_unit_test(test_rudp_cc_cubic_target_capped),
      cmocka_unit_test(test_rudp_cc_cubic_reno_friendly),
      cmocka_unit_test(test_rudp_cc_cubic_app_limited),
      cmocka_unit_test(test_rudp_cc_cubic_idle_shifts_epoch),
      cmocka_unit_test(test_rudp_cc_cubic_persistent_congestion),
      cmocka_unit_test(test_rudp_cc_cubic_spurious_undo),
      cmocka_unit_test(test_rudp_cc_cubic_slow_start),
      cmocka_unit_test(test_rudp_cc_cubic_hystart_exit),
      cmocka_unit_test(test_rudp_cc_cubic_hystart_first_slow_start_only),
      cmocka_unit_test(test_rudp_cc_cubic_reset),
      cmocka_unit_test(test_rudp_cc_cubic_pacing_rate),
      cmocka_unit_test(test_rudp_cc_cubic_random_invariants),
  };

  return cmocka_run_group_tests_name("cc_cubic", tests, NULL, NULL);
}
