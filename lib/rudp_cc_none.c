/*
 * No congestion control (RUDP_CC_NONE): an unbounded window and a fixed
 * pacing rate, in the spirit of KCP's no-delay mode with its window check
 * off ("nc").  Losses are still detected and repaired (rudp_rtb), but the
 * rate never drops: this is for senders of a fixed rate known to fit the
 * path, never for bulk transfers (see rudp_settings.max_rate).
 */
#include "rudp_cc.h"

#include "rudp_macro.h"

static void none_reset(rudp_cc *cc, rudp_tstamp now) {
  (void)now;
  /* No window: bytes_in_flight + a packet never exceeds UINT64_MAX, and
   * no ssthresh (never "in slow start" either: pacing_rate is ours). */
  cc->cwnd = UINT64_MAX;
  cc->ssthresh = UINT64_MAX;
  cc->recovery_start = UINT64_MAX;
  cc->prior_cwnd = UINT64_MAX;
  cc->prior_ssthresh = UINT64_MAX;
}

static uint64_t none_pacing_rate(const rudp_cc *cc, const rudp_rtt *rtt) {
  (void)rtt;
  return ((const rudp_cc_none *)(const void *)cc)->rate; /* cc is first */
}

/* No on_ack, on_congestion_event, on_persistent_congestion or
 * on_spurious_loss: the window is not a window, and there is nothing to
 * reduce or undo (congestion_events stays 0). */
const rudp_cc_ops rudp_cc_none_ops = {
    .name = "none",
    .reset = none_reset,
    .pacing_rate = none_pacing_rate,
};

void rudp_cc_none_init(rudp_cc_none *none, uint64_t max_udp_payload_size,
                       uint64_t rate, rudp_tstamp now) {
  none->cc.ops = &rudp_cc_none_ops;
  none->cc.max_udp_payload_size = max_udp_payload_size;
  none->cc.congestion_events = 0;
  rudp_cc_common_init(&none->cc);
  /* 0 would read as "unpaced" to the pacer: no limit at all. */
  none->rate = rate ? rate : 1;
  none_reset(&none->cc, now);
}
