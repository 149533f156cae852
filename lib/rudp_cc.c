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
