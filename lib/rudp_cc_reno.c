/*
 * NewReno congestion control (RFC 9002 §7 and appendix B, RFC 6582).
 *
 * Slow start adds every acknowledged byte to the window; congestion
 * avoidance adds one datagram per window's worth of acknowledged bytes,
 * counted in an accumulator (as quicly's cc-reno.c does) rather than with
 * the per-ACK division size * acked / cwnd of appendix B.5, which rounds
 * small ACKs down to nothing.  A loss halves the window once per recovery
 * period; the period starts when the loss is detected and covers every
 * packet sent up to then.  HyStart++ (rudp_hystart.c) may end the first
 * slow start before any loss.
 */
#include "rudp_cc.h"

#include <assert.h>

#include "rudp_macro.h"

/* sat_add returns a + b, or UINT64_MAX if that overflows. */
static uint64_t sat_add(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static rudp_cc_reno *reno_of(rudp_cc *cc) {
  return rudp_struct_of(cc, rudp_cc_reno, cc);
}

static void reno_on_ack(rudp_cc *cc, const rudp_cc_ack *ack,
                        const rudp_rtt *rtt, rudp_tstamp now) {
  rudp_cc_reno *reno = reno_of(cc);
  uint64_t count;
  unsigned div = 1;

  /* Appendix B.5: the window stays put during recovery, i.e. while the
   * acknowledged packets are from the flight that saw the loss. */
  if (rudp_cc_in_recovery(cc, ack->largest_acked_sent_ts)) {
    return;
  }
  /* §7.8: an application-limited sender has not probed the window it
   * has, so acknowledgements say nothing about a larger one. */
  if (ack->app_limited) {
    return;
  }

  if (cc->cwnd < cc->ssthresh) {
    /* §7.3.1 slow start, in the first one slowed (Conservative Slow
     * Start) and ended by HyStart++ when the RTT shows a queue building;
     * later slow starts stop at the ssthresh a loss set (RFC 9406 §4.3). */
    if (cc->ssthresh == UINT64_MAX) {
      div = rudp_hystart_on_ack(&reno->hystart, cc, ack, rtt, now);
      if (div == 0) {
        cc->ssthresh = cc->cwnd;
        reno->bytes_acked = 0;
        return;
      }
    }
    cc->cwnd = sat_add(cc->cwnd, ack->bytes_acked / div);
    return;
  }

  /* §7.3.3 congestion avoidance: one datagram per window acknowledged.
   * Dividing instead of looping keeps a huge ACK O(1). */
  reno->bytes_acked = sat_add(reno->bytes_acked, ack->bytes_acked);
  if (reno->bytes_acked < cc->cwnd) {
    return;
  }
  count = reno->bytes_acked / cc->cwnd;
  reno->bytes_acked -= count * cc->cwnd;
  if (count > UINT64_MAX / cc->max_udp_payload_size) {
    cc->cwnd = UINT64_MAX;
    return;
  }
  cc->cwnd = sat_add(cc->cwnd, count * cc->max_udp_payload_size);
}

static void reno_on_congestion_event(rudp_cc *cc, rudp_tstamp sent_ts,
                                     rudp_tstamp now) {
  rudp_cc_reno *reno = reno_of(cc);

  /* §7.3.2: one reduction per round trip of losses; a loss from the
   * flight already being recovered is part of the same event. */
  if (rudp_cc_in_recovery(cc, sent_ts)) {
    return;
  }

  cc->recovery_start = now;
  cc->prior_cwnd = cc->cwnd;
  cc->prior_ssthresh = cc->ssthresh;
  /* Appendix B.6: kLossReductionFactor is 0.5.  ssthresh may fall below
   * the minimum window; the window itself may not. */
  cc->ssthresh = cc->cwnd / 2;
  cc->cwnd =
      rudp_max(cc->ssthresh, rudp_cc_min_window(cc->max_udp_payload_size));
  reno->bytes_acked = 0;
  ++cc->congestion_events;
}

static void reno_on_persistent_congestion(rudp_cc *cc, rudp_tstamp now) {
  rudp_cc_reno *reno = reno_of(cc);

  (void)now;

  /* Appendix B.8: collapse to the minimum window and clear recovery, so
   * the next loss (from the restarted flight) reduces again.  ssthresh was
   * already set by the congestion event reported with the same losses.
   * Not counted in congestion_events: it is not a separate event. */
  cc->cwnd = rudp_cc_min_window(cc->max_udp_payload_size);
  cc->recovery_start = UINT64_MAX;
  reno->bytes_acked = 0;
}

static void reno_on_spurious_loss(rudp_cc *cc, rudp_tstamp now) {
  (void)now;

  /* Only the latest reduction can be undone, and only while nothing
   * (persistent congestion, reset, an earlier undo) has ended its
   * recovery period.  Never shrink a window that has since grown past the
   * saved one. */
  if (cc->recovery_start == UINT64_MAX) {
    return;
  }
  cc->cwnd = rudp_max(cc->cwnd, cc->prior_cwnd);
  cc->ssthresh = cc->prior_ssthresh;
  cc->recovery_start = UINT64_MAX;
}

static void reno_reset(rudp_cc *cc, rudp_tstamp now) {
  rudp_cc_reno *reno = reno_of(cc);

  /* congestion_events and hystart.exits are statistics of the connection
   * and survive. */
  cc->cwnd = rudp_cc_initial_window(cc->max_udp_payload_size);
  cc->ssthresh = UINT64_MAX;
  cc->recovery_start = UINT64_MAX;
  cc->prior_cwnd = cc->cwnd;
  cc->prior_ssthresh = UINT64_MAX;
  reno->bytes_acked = 0;
  rudp_hystart_init(&reno->hystart, now);
}

const rudp_cc_ops rudp_cc_reno_ops = {
    .name = "reno",
    /* Reno keeps no per-packet state: bytes in flight are the caller's. */
    .on_packet_sent = NULL,
    .on_ack = reno_on_ack,
    .on_congestion_event = reno_on_congestion_event,
    .on_persistent_congestion = reno_on_persistent_congestion,
    .on_spurious_loss = reno_on_spurious_loss,
    .reset = reno_reset,
};

void rudp_cc_reno_init(rudp_cc_reno *reno, uint64_t max_udp_payload_size,
                       rudp_tstamp now) {
  /* A zero size would make the minimum window zero and the division in
   * congestion avoidance undefined; one byte keeps every window >= 2. */
  assert(max_udp_payload_size > 0);
  if (max_udp_payload_size == 0) {
    max_udp_payload_size = 1;
  }

  reno->cc.ops = &rudp_cc_reno_ops;
  reno->cc.max_udp_payload_size = max_udp_payload_size;
  reno->cc.congestion_events = 0;
  rudp_cc_common_init(&reno->cc);
  reno->hystart.exits = 0;
  reno_reset(&reno->cc, now);
}
