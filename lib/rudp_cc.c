/*
 * Helpers shared by the congestion controllers (RFC 9002 §7.2, §7.3.2).
 */
#include "rudp_cc.h"

#include "rudp_macro.h"

uint64_t rudp_cc_initial_window(uint64_t max_udp_payload_size) {
  uint64_t cap;

  /* §7.2: ten datagrams, but at most max(14720, 2 * size) bytes so that a
   * large datagram size does not inflate the first burst.  14720 is ten
   * 1472-byte datagrams (the Ethernet-sized UDP payload). */
  cap = rudp_max(14720, rudp_cc_min_window(max_udp_payload_size));
  if (max_udp_payload_size > UINT64_MAX / RUDP_CC_INITIAL_WINDOW_PACKETS) {
    /* 10 * size would wrap, and would exceed the cap anyway. */
    return cap;
  }
  return rudp_min(RUDP_CC_INITIAL_WINDOW_PACKETS * max_udp_payload_size, cap);
}

uint64_t rudp_cc_min_window(uint64_t max_udp_payload_size) {
  /* §7.2: kMinimumWindow is two datagrams. */
  if (max_udp_payload_size > UINT64_MAX / RUDP_CC_MIN_WINDOW_PACKETS) {
    return UINT64_MAX;
  }
  return RUDP_CC_MIN_WINDOW_PACKETS * max_udp_payload_size;
}

int rudp_cc_in_recovery(const rudp_cc *cc, rudp_tstamp sent_ts) {
  /* Appendix B.5 InCongestionRecovery(): a packet sent no later than the
   * start of the period belongs to the flight whose loss began it, so its
   * loss or acknowledgement must not change the window again. */
  return cc->recovery_start != UINT64_MAX && sent_ts <= cc->recovery_start;
}

/* muldiv returns a * b / c (c > 0) rounded down, without intermediate
 * overflow, or UINT64_MAX if the result does not fit. */
static uint64_t muldiv(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t q = a / c, r = a % c, hi, lo;
  double d;

  if (b == 0) {
    return 0;
  }
  if (q > UINT64_MAX / b) {
    return UINT64_MAX;
  }
  hi = q * b;
  if (r <= UINT64_MAX / b) {
    lo = r * b / c;
  } else {
    /* Only for an RTT of seconds and a huge multiplier: the remainder
     * term is below b, so a double's rounding is negligible. */
    d = (double)r * (double)b / (double)c;
    lo = (uint64_t)d;
  }
  return hi > UINT64_MAX - lo ? UINT64_MAX : hi + lo;
}

uint64_t rudp_cc_pacing_rate(const rudp_cc *cc, const rudp_rtt *rtt) {
  rudp_duration srtt;
  uint64_t rate, min_rate;

  if (cc->ops && cc->ops->pacing_rate) {
    return cc->ops->pacing_rate(cc, rtt);
  }

  /* Before the first sample rudp_rtt_init left the initial RTT in
   * smoothed, which is the estimate every timer uses then too. */
  srtt = rudp_max(rtt->smoothed, 1);
  if (cc->cwnd < cc->ssthresh) {
    /* Slow start doubles the window each round: pacing at the window's
     * own rate would cap it at half of that. */
    rate = muldiv(cc->cwnd, 2 * RUDP_SECONDS, srtt);
  } else {
    /* RFC 9002 §7.7: N = 1.25 leaves room for ACK clock jitter without
     * bursting the window. */
    rate = muldiv(cc->cwnd, 5 * RUDP_SECONDS / 4, srtt);
  }
  /* One datagram per RTT keeps a collapsed window moving; and 0 would
   * read as "unpaced" to the pacer. */
  min_rate = muldiv(cc->max_udp_payload_size, RUDP_SECONDS, srtt);
  return rudp_max(rudp_max(rate, min_rate), 1);
}
