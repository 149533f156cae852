/*
 * CUBIC congestion control (RFC 9438) with HyStart++ (RFC 9406).
 *
 * Slow start is Reno's (every acknowledged byte grows the window), slowed
 * and ended early by HyStart++ in the first slow start.  Congestion
 * avoidance follows the cubic function
 *
 *   W_cubic(t) = C (t - K)^3 + W_max,   K = cbrt((W_max - cwnd_epoch) / C)
 *
 * (segments and seconds, §4.2), bounded below by the Reno-friendly
 * estimate W_est (§4.3).  The cubic function is evaluated in doubles (it
 * needs a cube and a cube root; the results are deterministic IEEE
 * arithmetic, no allocation); everything stored is integer bytes and
 * nanoseconds.  The cube root is computed here by Newton's method so the
 * library does not need libm.
 *
 * Fractional growth is banked in byte accumulators and paid out one
 * datagram at a time, as NewReno does here, so a stream of small ACKs adds
 * up exactly instead of rounding down to nothing.
 */
#include "rudp_cc.h"

#include <assert.h>

#include "rudp_macro.h"

/* CUBIC_C is C in segments per second cubed (§5.1). */
#define CUBIC_C 0.4
/* beta_cubic = 7/10 (§4.6, §5.1). */
#define CUBIC_BETA_NUM 7
#define CUBIC_BETA_DEN 10
/* alpha_cubic = 3 (1 - beta_cubic) / (1 + beta_cubic) = 9/17 (§4.3), and
 * 17/17 once W_est has reached cwnd_prior. */
#define CUBIC_ALPHA_NUM 9
#define CUBIC_ALPHA_DEN 17

/* U64_LIMIT is 2^64 as a double: the first value a uint64_t cannot
 * hold. */
#define U64_LIMIT 18446744073709551616.0

static rudp_cc_cubic *cubic_of(rudp_cc *cc) {
  return rudp_struct_of(cc, rudp_cc_cubic, cc);
}

/* sat_add returns a + b, or UINT64_MAX if that overflows. */
static uint64_t sat_add(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* sat_mul returns a * b, or UINT64_MAX if that overflows. */
static uint64_t sat_mul(uint64_t a, uint64_t b) {
  return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* mul_frac returns x * num / den rounded down, without overflow for
 * num < den. */
static uint64_t mul_frac(uint64_t x, uint64_t num, uint64_t den) {
  return x / den * num + x % den * num / den;
}

/* to_u64 converts |d| rounding down, clamped to [0, UINT64_MAX]: a plain
 * cast of a negative or too large double is undefined. */
static uint64_t to_u64(double d) {
  if (!(d > 0)) {
    return 0;
  }
  if (d >= U64_LIMIT) {
    return UINT64_MAX;
  }
  return (uint64_t)d;
}

/* cube_root returns the real cube root of |x| >= 0. */
static double cube_root(double x) {
  double y = 1, next;
  int i;

  if (!(x > 0)) {
    return 0;
  }
  if (x >= U64_LIMIT * U64_LIMIT) {
    /* Unreachable from 64-bit windows; keeps the loops below short. */
    return U64_LIMIT;
  }
  /* Bracket the root: y / 2 < cbrt(x) <= y. */
  while (y * y * y < x) {
    y *= 2;
  }
  while (y / 2 * (y / 2) * (y / 2) >= x) {
    y /= 2;
  }
  /* Newton's method from above decreases monotonically to the root (the
   * cube is convex), so it stops when rounding makes a step go up. */
  for (i = 0; i < 64; ++i) {
    next = (2 * y + x / (y * y)) / 3;
    if (next >= y) {
      break;
    }
    y = next;
  }
  return y;
}

/* cubic_k returns K in nanoseconds for a climb of |diff| bytes back to
 * W_max (§4.2 eq. 2: K = cbrt((W_max - cwnd_epoch) / C), segments). */
static rudp_duration cubic_k(uint64_t diff, uint64_t mss) {
  double segs = (double)diff / (double)mss;

  return to_u64(cube_root(segs / CUBIC_C) * (double)RUDP_SECONDS);
}

uint64_t rudp_cc_cubic_w_cubic(const rudp_cc_cubic *cubic, rudp_duration t) {
  /* Subtract in doubles: t < K is the concave half and must go
   * negative. */
  double dt = ((double)t - (double)cubic->k) / (double)RUDP_SECONDS;
  double w = CUBIC_C * (double)cubic->cc.max_udp_payload_size * dt * dt * dt +
             (double)cubic->w_max;

  return to_u64(w);
}

/* epoch_begin starts a congestion-avoidance epoch at |now| (§4.2). */
static void epoch_begin(rudp_cc_cubic *c, rudp_tstamp now) {
  rudp_cc *cc = &c->cc;

  c->epoch_start = now;
  c->acked_bytes = 0;
  /* §4.3: W_est starts from the window at the start of the epoch. */
  c->w_est = cc->cwnd;
  c->w_est_acked = 0;
  if (c->w_max <= cc->cwnd) {
    /* No W_max to return to (after HyStart++ ended slow start, after
     * persistent congestion, or slow start passed it): K = 0 and W_max is
     * the window now, so the convex region starts at once (§4.8, §4.10). */
    c->w_max = cc->cwnd;
    c->k = 0;
  } else {
    c->k = cubic_k(c->w_max - cc->cwnd, cc->max_udp_payload_size);
  }
}

/* cubic_avoidance grows the window for |bytes_acked| in congestion
 * avoidance (§4.2-4.5). */
static void cubic_avoidance(rudp_cc_cubic *c, uint64_t bytes_acked,
                            const rudp_rtt *rtt, rudp_tstamp now) {
  rudp_cc *cc = &c->cc;
  uint64_t mss = cc->max_udp_payload_size;
  uint64_t alpha, unit, n, w, target, need, inc;
  rudp_duration t;

  if (c->epoch_start == UINT64_MAX) {
    epoch_begin(c, now);
  }
  t = now > c->epoch_start ? now - c->epoch_start : 0;

  /* §4.3: W_est grows by alpha_cubic segments per window acknowledged,
   * i.e. alpha * mss / cwnd bytes per byte.  Counted in 17ths of a byte
   * so that alpha = 9/17 is exact: a datagram per 17 * cwnd units.  alpha
   * becomes 1 once W_est has caught up with the window before the last
   * reduction: from there Reno would grow at its full rate. */
  alpha = c->w_est >= c->cwnd_prior ? CUBIC_ALPHA_DEN : CUBIC_ALPHA_NUM;
  c->w_est_acked = sat_add(c->w_est_acked, sat_mul(bytes_acked, alpha));
  unit = sat_mul(cc->cwnd, CUBIC_ALPHA_DEN);
  if (c->w_est_acked >= unit) {
    n = c->w_est_acked / unit;
    c->w_est_acked -= n * unit;
    c->w_est = sat_add(c->w_est, sat_mul(n, mss));
  }

  w = rudp_cc_cubic_w_cubic(c, t);
  if (w < c->w_est) {
    /* §4.3 Reno-friendly region: Reno would have the larger window (small
     * windows, short RTTs), so follow it.  Never shrink on an ACK: cubic
     * growth toward W_cubic(t + RTT) may already have passed W_est. */
    cc->cwnd = rudp_max(cc->cwnd, c->w_est);
    c->acked_bytes = 0;
    return;
  }

  /* §4.2: aim one RTT ahead, at W_cubic(t + RTT), but no lower than the
   * window and no higher than 1.5 windows (no more than a 50% increase
   * per RTT, whatever the cubic says far in the convex region).  Below
   * W_max this is the concave region (§4.4), above it the convex (§4.5):
   * both follow from the function. */
  target = rudp_cc_cubic_w_cubic(c, sat_add(t, rtt->smoothed));
  target = rudp_min(target, sat_add(cc->cwnd, cc->cwnd / 2));
  if (target <= cc->cwnd) {
    c->acked_bytes = 0;
    return;
  }

  /* cwnd += (target - cwnd) / cwnd per segment acknowledged: one
   * datagram per cwnd * mss / (target - cwnd) bytes acknowledged. */
  c->acked_bytes = sat_add(c->acked_bytes, bytes_acked);
  need = to_u64((double)cc->cwnd * (double)mss / (double)(target - cc->cwnd));
  need = rudp_max(need, 1);
  if (c->acked_bytes < need) {
    return;
  }
  n = c->acked_bytes / need;
  c->acked_bytes -= n * need;
  inc = sat_mul(n, mss);
  /* An ACK of many windows at once must not leap past the target. */
  if (inc > rudp_max(target - cc->cwnd, mss)) {
    inc = rudp_max(target - cc->cwnd, mss);
    c->acked_bytes = 0;
  }
  cc->cwnd = sat_add(cc->cwnd, inc);
}

static void cubic_on_packet_sent(rudp_cc *cc, uint64_t bytes, rudp_tstamp now) {
  rudp_cc_cubic *c = cubic_of(cc);

  (void)bytes;

  if (c->idle_start == UINT64_MAX) {
    return;
  }
  /* §5.8: the network was empty from idle_start until now.  t must not
   * include that time, or the window would jump to where the cubic
   * function went while nothing tested it; move the epoch forward. */
  if (c->epoch_start != UINT64_MAX && now > c->idle_start) {
    c->epoch_start =
        rudp_min(sat_add(c->epoch_start, now - c->idle_start), now);
  }
  c->idle_start = UINT64_MAX;
}

static void cubic_on_ack(rudp_cc *cc, const rudp_cc_ack *ack,
                         const rudp_rtt *rtt, rudp_tstamp now) {
  rudp_cc_cubic *c = cubic_of(cc);
  unsigned div = 1;

  c->idle_start = ack->bytes_in_flight == 0 ? now : UINT64_MAX;

  /* RFC 9002 appendix B.5: no growth from the flight that saw the loss. */
  if (rudp_cc_in_recovery(cc, ack->largest_acked_sent_ts)) {
    return;
  }
  /* §5.8: an application-limited flow has not tested its window. */
  if (ack->app_limited) {
    return;
  }

  if (cc->cwnd < cc->ssthresh) {
    /* §4.10: slow start as Reno.  HyStart++ only in the first one: later
     * ones have ssthresh as their target (RFC 9406 §4.3). */
    if (cc->ssthresh == UINT64_MAX) {
      div = rudp_hystart_on_ack(&c->hystart, cc, ack, rtt, now);
      if (div == 0) {
        /* §4.10: slow start ended without a loss, so there is no W_max:
         * congestion avoidance starts from this window with K = 0. */
        cc->ssthresh = cc->cwnd;
        c->cwnd_prior = cc->cwnd;
        c->w_max = cc->cwnd;
        c->k = 0;
        c->epoch_start = UINT64_MAX;
        return;
      }
    }
    cc->cwnd = sat_add(cc->cwnd, ack->bytes_acked / div);
    return;
  }

  cubic_avoidance(c, ack->bytes_acked, rtt, now);
}

static void cubic_on_congestion_event(rudp_cc *cc, rudp_tstamp sent_ts,
                                      rudp_tstamp now) {
  rudp_cc_cubic *c = cubic_of(cc);
  uint64_t min_window = rudp_cc_min_window(cc->max_udp_payload_size);

  /* RFC 9002 §7.3.2: one reduction per recovery period. */
  if (rudp_cc_in_recovery(cc, sent_ts)) {
    return;
  }

  cc->recovery_start = now;
  /* §4.9: keep what the reduction changes, for undo. */
  cc->prior_cwnd = cc->cwnd;
  cc->prior_ssthresh = cc->ssthresh;
  c->prior_w_max = c->w_max;
  c->prior_k = c->k;
  c->prior_epoch_start = c->epoch_start;
  c->prior_w_est = c->w_est;
  c->prior_cwnd_prior = c->cwnd_prior;

  /* §4.7 fast convergence: a loss before W_max was regained means the
   * available bandwidth shrank (a new flow arrived); aim lower,
   * (1 + beta) / 2 = 0.85 of the window, to release bandwidth. */
  if (cc->cwnd < c->w_max) {
    c->w_max =
        mul_frac(cc->cwnd, CUBIC_BETA_DEN + CUBIC_BETA_NUM, 2 * CUBIC_BETA_DEN);
  } else {
    c->w_max = cc->cwnd;
  }
  c->cwnd_prior = cc->cwnd;
  /* §4.6: multiplicative decrease by beta_cubic, not below the minimum
   * window (ssthresh included: it is the window's next target). */
  cc->ssthresh =
      rudp_max(mul_frac(cc->cwnd, CUBIC_BETA_NUM, CUBIC_BETA_DEN), min_window);
  cc->cwnd = cc->ssthresh;
  /* The epoch restarts with the first ACK after recovery. */
  c->epoch_start = UINT64_MAX;
  c->acked_bytes = 0;
  c->w_est_acked = 0;
  ++cc->congestion_events;
}

static void cubic_on_persistent_congestion(rudp_cc *cc, rudp_tstamp now) {
  rudp_cc_cubic *c = cubic_of(cc);

  (void)now;

  /* RFC 9002 §7.6.2 / RFC 9438 §4.8: collapse to the minimum window;
   * ssthresh was set by the congestion event of the same losses.  The
   * next congestion avoidance starts with K = 0 and W_max = its first
   * window (w_max = 0 asks epoch_begin for that).  Recovery ends so the
   * restarted flight's losses count again. */
  cc->cwnd = rudp_cc_min_window(cc->max_udp_payload_size);
  cc->recovery_start = UINT64_MAX;
  c->w_max = 0;
  c->k = 0;
  c->epoch_start = UINT64_MAX;
  c->acked_bytes = 0;
  c->w_est_acked = 0;
}

static void cubic_on_spurious_loss(rudp_cc *cc, rudp_tstamp now) {
  rudp_cc_cubic *c = cubic_of(cc);

  (void)now;

  /* §4.9: undo the latest reduction, only while its recovery period is
   * current (persistent congestion, reset or an earlier undo end it).
   * The window is not shrunk if it has grown past the saved one. */
  if (cc->recovery_start == UINT64_MAX) {
    return;
  }
  cc->cwnd = rudp_max(cc->cwnd, cc->prior_cwnd);
  cc->ssthresh = cc->prior_ssthresh;
  c->w_max = c->prior_w_max;
  c->k = c->prior_k;
  c->epoch_start = c->prior_epoch_start;
  c->w_est = c->prior_w_est;
  c->cwnd_prior = c->prior_cwnd_prior;
  c->acked_bytes = 0;
  c->w_est_acked = 0;
  cc->recovery_start = UINT64_MAX;
}

static void cubic_reset(rudp_cc *cc, rudp_tstamp now) {
  rudp_cc_cubic *c = cubic_of(cc);

  /* congestion_events and hystart.exits are statistics and survive. */
  cc->cwnd = rudp_cc_initial_window(cc->max_udp_payload_size);
  cc->ssthresh = UINT64_MAX;
  cc->recovery_start = UINT64_MAX;
  cc->prior_cwnd = cc->cwnd;
  cc->prior_ssthresh = UINT64_MAX;
  c->w_max = 0;
  c->k = 0;
  c->epoch_start = UINT64_MAX;
  c->w_est = 0;
  c->w_est_acked = 0;
  c->cwnd_prior = 0;
  c->acked_bytes = 0;
  c->idle_start = UINT64_MAX;
  c->prior_w_max = 0;
  c->prior_k = 0;
  c->prior_epoch_start = UINT64_MAX;
  c->prior_w_est = 0;
  c->prior_cwnd_prior = 0;
  rudp_hystart_init(&c->hystart, now);
}

const rudp_cc_ops rudp_cc_cubic_ops = {
    .name = "cubic",
    .on_packet_sent = cubic_on_packet_sent,
    .on_ack = cubic_on_ack,
    .on_congestion_event = cubic_on_congestion_event,
    .on_persistent_congestion = cubic_on_persistent_congestion,
    .on_spurious_loss = cubic_on_spurious_loss,
    .reset = cubic_reset,
    /* The default 2x / 1.25x cwnd per RTT of rudp_cc_pacing_rate. */
    .pacing_rate = NULL,
};

void rudp_cc_cubic_init(rudp_cc_cubic *cubic, uint64_t max_udp_payload_size,
                        rudp_tstamp now) {
  /* As NewReno: a zero size would divide by zero in the growth. */
  assert(max_udp_payload_size > 0);
  if (max_udp_payload_size == 0) {
    max_udp_payload_size = 1;
  }

  cubic->cc.ops = &rudp_cc_cubic_ops;
  cubic->cc.max_udp_payload_size = max_udp_payload_size;
  cubic->cc.congestion_events = 0;
  rudp_cc_common_init(&cubic->cc);
  cubic->hystart.exits = 0;
  cubic_reset(&cubic->cc, now);
}
