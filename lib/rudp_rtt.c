/*
 * RTT estimator and the timer values derived from it (RFC 9002 §5, §6).
 *
 * Everything is integer nanoseconds.  The weighted averages are computed
 * as (7 * smoothed + adjusted) / 8 and (3 * var + diff) / 4 so that only
 * one rounding happens per update (as ngtcp2 does); to keep those products
 * from overflowing, samples are clamped to RTT_MAX, which is ~36 years and
 * so never reached by a real path.  The derived timers saturate at
 * UINT64_MAX ("never") instead of wrapping to a deadline in the past.
 */
#include "rudp_rtt.h"

#include "rudp_macro.h"

/* RTT_MAX bounds every stored duration: 8 * RTT_MAX fits in 64 bits, so
 * the weighted sums below cannot overflow. */
#define RTT_MAX (UINT64_MAX / 16)

/* sat_add returns a + b, or UINT64_MAX if that overflows. */
static uint64_t sat_add(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void rudp_rtt_init(rudp_rtt *rtt, rudp_duration initial_rtt) {
  initial_rtt = rudp_min(initial_rtt, RTT_MAX);

  /* §5.3 / appendix A.4: before the first sample the PTO is computed from
   * kInitialRtt with rttvar = kInitialRtt / 2. */
  rtt->latest = 0;
  rtt->smoothed = initial_rtt;
  rtt->var = initial_rtt / 2;
  rtt->min = UINT64_MAX;
  rtt->nsamples = 0;
  rtt->min_rto = RUDP_GRANULARITY;
}

void rudp_rtt_update(rudp_rtt *rtt, rudp_duration latest,
                     rudp_duration ack_delay, rudp_duration max_ack_delay,
                     int handshake_confirmed) {
  rudp_duration adjusted, diff;

  latest = rudp_min(latest, RTT_MAX);

  rtt->latest = latest;
  /* §5.2: min_rtt ignores the ACK delay, so that a peer misreporting it
   * cannot lower min_rtt, which then bounds the subtraction below. */
  rtt->min = rudp_min(rtt->min, latest);

  if (rtt->nsamples++ == 0) {
    /* §5.3: the first sample replaces the initial estimate outright. */
    rtt->smoothed = latest;
    rtt->var = latest / 2;
    return;
  }

  /* §5.3: before confirmation the peer may not yet have the max_ack_delay
   * we were told, so the reported delay is taken as is; afterwards a larger
   * delay is the peer's scheduling, not the path, and is capped. */
  if (handshake_confirmed) {
    ack_delay = rudp_min(ack_delay, max_ack_delay);
  }

  /* Subtract the ACK delay only if the result stays at or above min_rtt
   * (min <= latest here, so latest - min cannot wrap). */
  adjusted = latest;
  if (latest - rtt->min >= ack_delay) {
    adjusted = latest - ack_delay;
  }

  diff = rtt->smoothed > adjusted ? rtt->smoothed - adjusted
                                  : adjusted - rtt->smoothed;
  rtt->var = (3 * rtt->var + diff) / 4;
  rtt->smoothed = (7 * rtt->smoothed + adjusted) / 8;
}

/* rtt_pto_base is smoothed + max(4 * var, min_rto) + max_ack_delay
 * (min_rto is kGranularity unless configured). */
static rudp_duration rtt_pto_base(const rudp_rtt *rtt,
                                  rudp_duration max_ack_delay) {
  /* var <= RTT_MAX, so 4 * var does not overflow. */
  rudp_duration base =
      sat_add(rtt->smoothed, rudp_max(4 * rtt->var, rtt->min_rto));

  return sat_add(base, max_ack_delay);
}

rudp_duration rudp_rtt_pto(const rudp_rtt *rtt, rudp_duration max_ack_delay,
                           unsigned pto_count) {
  rudp_duration base = rtt_pto_base(rtt, max_ack_delay);

  /* §6.2.1: the PTO doubles with every consecutive expiry.  A shift by 64
   * or more is undefined in C, and any shift that drops set bits would
   * wrap to a short timer, so both saturate. */
  if (pto_count >= 64 || base > (UINT64_MAX >> pto_count)) {
    return UINT64_MAX;
  }
  return base << pto_count;
}

rudp_duration rudp_rtt_loss_delay(const rudp_rtt *rtt) {
  rudp_duration r = rudp_max(rtt->smoothed, rtt->latest);

  /* §6.1.2: kTimeThreshold is 9/8; x + x / 8 equals floor(9x / 8) for
   * integers without the intermediate 9x overflowing. */
  r = sat_add(r, r / 8);
  return rudp_max(r, RUDP_GRANULARITY);
}

rudp_duration rudp_rtt_loss_delay_scaled(const rudp_rtt *rtt,
                                         uint32_t threshold) {
  rudp_duration r = rudp_max(rtt->smoothed, rtt->latest);
  uint64_t q = r / 1000, s = r % 1000;

  if (threshold == 0) {
    threshold = RUDP_DEFAULT_TIME_THRESHOLD;
  }
  /* floor(r * threshold / 1000) with r = 1000 q + s is
   * q * threshold + floor(s * threshold / 1000): no 64-bit overflow
   * before the saturation (s * threshold < 1000 * 2^32). */
  if (q > UINT64_MAX / threshold) {
    return UINT64_MAX;
  }
  r = sat_add(q * threshold, s * threshold / 1000);
  return rudp_max(r, RUDP_GRANULARITY);
}

rudp_duration
rudp_rtt_persistent_congestion_duration(const rudp_rtt *rtt,
                                        rudp_duration max_ack_delay) {
  rudp_duration base = rtt_pto_base(rtt, max_ack_delay);

  /* §7.6.1: kPersistentCongestionThreshold is 3 PTOs (without backoff). */
  if (base > UINT64_MAX / 3) {
    return UINT64_MAX;
  }
  return base * 3;
}
