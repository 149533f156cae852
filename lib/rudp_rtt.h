/*
 * RTT estimation and the timer values derived from it (RFC 9002 sections
 * 5 and 6.2): latest, smoothed, variance and minimum RTT with the peer's
 * ACK delay subtracted, the probe timeout (PTO) and the time threshold of
 * loss detection.
 */
#ifndef RUDP_RTT_H
#define RUDP_RTT_H

#include <rudp/rudp.h>

/* RUDP_GRANULARITY is the timer granularity, kGranularity (1 ms). */
#define RUDP_GRANULARITY (1 * RUDP_MILLISECONDS)
/* RUDP_DEFAULT_INITIAL_RTT is kInitialRtt (333 ms). */
#define RUDP_DEFAULT_INITIAL_RTT (333 * RUDP_MILLISECONDS)

typedef struct rudp_rtt {
  /* latest is the most recent sample. */
  rudp_duration latest;
  /* smoothed is the exponentially weighted average (7/8 old + 1/8 new). */
  rudp_duration smoothed;
  /* var is the mean deviation (3/4 old + 1/4 new). */
  rudp_duration var;
  /* min is the minimum sample seen (ACK delay not subtracted);
   * UINT64_MAX until the first sample. */
  rudp_duration min;
  /* nsamples counts samples taken. */
  uint64_t nsamples;
  /* min_rto is the floor of the PTO's variable term, max(4 * var,
   * min_rto): kGranularity unless the connection set another
   * (settings.min_rto).  rudp_rtt_init sets kGranularity. */
  rudp_duration min_rto;
} rudp_rtt;

/* RUDP_DEFAULT_TIME_THRESHOLD is kTimeThreshold (9/8) in 1/1000 RTT. */
#define RUDP_DEFAULT_TIME_THRESHOLD 1125

/*
 * rudp_rtt_init resets |rtt| to the state before any sample: smoothed =
 * |initial_rtt|, var = initial_rtt / 2, min = UINT64_MAX (RFC 9002 §5.3).
 */
void rudp_rtt_init(rudp_rtt *rtt, rudp_duration initial_rtt);

/*
 * rudp_rtt_update takes the sample |latest| (time from sending the largest
 * newly acknowledged packet to receiving its ACK) and the peer's reported
 * |ack_delay|.  The ACK delay is capped at |max_ack_delay| once the
 * handshake is confirmed (|handshake_confirmed| nonzero) and subtracted
 * only if that does not take the sample below min RTT (RFC 9002 §5.3).
 * The first sample sets smoothed = latest, var = latest / 2.
 */
void rudp_rtt_update(rudp_rtt *rtt, rudp_duration latest,
                     rudp_duration ack_delay, rudp_duration max_ack_delay,
                     int handshake_confirmed);

/*
 * rudp_rtt_pto returns the probe timeout smoothed + max(4 * var,
 * min_rto) + |max_ack_delay|, doubled |pto_count| times (exponential
 * backoff), saturating instead of overflowing (RFC 9002 §6.2.1, where
 * min_rto is kGranularity).
 */
rudp_duration rudp_rtt_pto(const rudp_rtt *rtt, rudp_duration max_ack_delay,
                           unsigned pto_count);

/*
 * rudp_rtt_loss_delay returns the time threshold of loss detection:
 * max(9/8 * max(smoothed, latest), granularity) (RFC 9002 §6.1.2).
 */
rudp_duration rudp_rtt_loss_delay(const rudp_rtt *rtt);

/*
 * rudp_rtt_loss_delay_scaled is rudp_rtt_loss_delay with the factor
 * |threshold| / 1000 instead of 9/8 (0: RUDP_DEFAULT_TIME_THRESHOLD):
 * max(threshold / 1000 * max(smoothed, latest), granularity), rounded
 * down, saturating.
 */
rudp_duration rudp_rtt_loss_delay_scaled(const rudp_rtt *rtt,
                                         uint32_t threshold);

/*
 * rudp_rtt_persistent_congestion_duration returns (smoothed + max(4 * var,
 * min_rto) + max_ack_delay) * 3, the span of losses that declares
 * persistent congestion (RFC 9002 §7.6.1).
 */
rudp_duration
rudp_rtt_persistent_congestion_duration(const rudp_rtt *rtt,
                                        rudp_duration max_ack_delay);

#endif /* RUDP_RTT_H */
