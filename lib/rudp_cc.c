/*
 * Helpers shared by the congestion controllers (RFC 9002 §7.2, §7.3.2),
 * and the loss-tolerant filter between loss detection and them
 * (rudp_cc_on_loss, docs/PROTOCOL.md 10.4).
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

void rudp_cc_common_init(rudp_cc *cc) {
  cc->loss_tolerant = 0;
  cc->losses_ignored = 0;
  cc->lt_round_start = UINT64_MAX;
  cc->lt_acked = 0;
  cc->lt_lost = 0;
  cc->lt_prev_acked = 0;
  cc->lt_prev_lost = 0;
  cc->lt_rtt_start = UINT64_MAX;
  cc->lt_rtt_min = UINT64_MAX;
  cc->lt_rtt_prev_min = UINT64_MAX;
  cc->lt_rtt_count = 0;
  cc->lt_rtt_prev_count = 0;
  cc->cwnd_limited_ts = UINT64_MAX;
}

/* sat_add returns a + b, or UINT64_MAX if that overflows. */
static uint64_t sat_add(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* lt_datagrams returns |n| datagrams of |cc| in bytes (saturated). */
static uint64_t lt_datagrams(const rudp_cc *cc, uint64_t n) {
  return cc->max_udp_payload_size > UINT64_MAX / n
             ? UINT64_MAX
             : n * cc->max_udp_payload_size;
}

/* lt_round advances the loss filter's rounds to |now|: a round lasts one
 * smoothed RTT, at least RUDP_CC_LT_MIN_ROUND.  The previous round takes
 * the current one's counts, or adds them while it holds fewer than
 * RUDP_CC_LT_MIN_SAMPLE datagrams (a slow flow's rate is judged over
 * enough packets); a gap of more than two rounds leaves nothing to
 * remember. */
static void lt_round(rudp_cc *cc, const rudp_rtt *rtt, rudp_tstamp now) {
  rudp_duration len = rudp_max(rtt->smoothed, RUDP_CC_LT_MIN_ROUND);

  if (cc->lt_round_start == UINT64_MAX || now < cc->lt_round_start) {
    cc->lt_round_start = now;
    return;
  }
  if (now - cc->lt_round_start < len) {
    return;
  }
  if (now - cc->lt_round_start < 2 * len) {
    if (sat_add(cc->lt_prev_acked, cc->lt_prev_lost) <
        lt_datagrams(cc, RUDP_CC_LT_MIN_SAMPLE)) {
      cc->lt_prev_acked = sat_add(cc->lt_prev_acked, cc->lt_acked);
      cc->lt_prev_lost = sat_add(cc->lt_prev_lost, cc->lt_lost);
    } else {
      cc->lt_prev_acked = cc->lt_acked;
      cc->lt_prev_lost = cc->lt_lost;
    }
  } else {
    cc->lt_prev_acked = 0;
    cc->lt_prev_lost = 0;
  }
  cc->lt_acked = 0;
  cc->lt_lost = 0;
  cc->lt_round_start = now;
}

/* lt_rtt_sample takes |rtt|'s latest sample into the RTT windows: half a
 * smoothed RTT each, at least RUDP_CC_LT_MIN_RTT_WINDOW, so the two cover
 * the last half RTT to one RTT (or more on a sub-millisecond path). */
static void lt_rtt_sample(rudp_cc *cc, const rudp_rtt *rtt, rudp_tstamp now) {
  rudp_duration len = rudp_max(rtt->smoothed / 2, RUDP_CC_LT_MIN_RTT_WINDOW);

  if (rtt->nsamples == 0) {
    return;
  }
  if (cc->lt_rtt_start == UINT64_MAX || now < cc->lt_rtt_start) {
    cc->lt_rtt_start = now;
  } else if (now - cc->lt_rtt_start >= len) {
    /* After a gap too: the window before it still says what the path
     * was like, and a lone sample after it is not a standing queue. */
    cc->lt_rtt_prev_min = cc->lt_rtt_min;
    cc->lt_rtt_prev_count = cc->lt_rtt_count;
    cc->lt_rtt_min = UINT64_MAX;
    cc->lt_rtt_count = 0;
    cc->lt_rtt_start = now;
  }
  cc->lt_rtt_min = rudp_min(cc->lt_rtt_min, rtt->latest);
  if (cc->lt_rtt_count < UINT32_MAX) {
    ++cc->lt_rtt_count;
  }
}

/* lt_queue returns nonzero if the RTT samples of the last two windows
 * (at least RUDP_CC_LT_MIN_RTT_SAMPLES of them) show a standing queue; in
 * slow start, if the latest and smoothed RTT show a queue. */
static int lt_queue(const rudp_cc *cc, const rudp_rtt *rtt) {
  rudp_duration rtt_now, margin;
  unsigned div = RUDP_CC_LT_QUEUE_DIVISOR;

  if (rtt->nsamples == 0 || rtt->min == UINT64_MAX) {
    return 0; /* nothing known: the caller decides */
  }
  if (cc->cwnd < cc->ssthresh) {
    /* Slow start doubles the window each round: its queue builds and
     * overflows within one round, while the round's first samples still
     * see the queue the previous round left drained.  The newest sample
     * and the average must both show it, by a wider margin: the paced
     * bursts of slow start (twice the window's rate) queue briefly on
     * their own. */
    rtt_now = rudp_min(rtt->latest, rtt->smoothed);
    div = RUDP_CC_LT_SS_QUEUE_DIVISOR;
  } else {
    /* Too few samples say nothing about a standing queue (the loss rate
     * still does). */
    if ((uint64_t)cc->lt_rtt_count + cc->lt_rtt_prev_count <
        RUDP_CC_LT_MIN_RTT_SAMPLES) {
      return 0;
    }
    rtt_now = rudp_min(cc->lt_rtt_min, cc->lt_rtt_prev_min);
  }
  margin = rudp_max(rtt->min / div, RUDP_CC_LT_MIN_QUEUE_DELAY);
  return rtt_now > sat_add(rtt->min, margin);
}

/* lt_heavy returns nonzero if the last two rounds lost more than random
 * loss explains. */
static int lt_heavy(const rudp_cc *cc) {
  uint64_t lost = sat_add(cc->lt_lost, cc->lt_prev_lost);
  uint64_t total = sat_add(sat_add(cc->lt_acked, cc->lt_prev_acked), lost);

  return lost >= lt_datagrams(cc, RUDP_CC_LT_MIN_LOST_PACKETS) &&
         lost > total / RUDP_CC_LT_LOSS_DIVISOR;
}

int rudp_cc_on_loss(rudp_cc *cc, uint64_t bytes, rudp_tstamp sent_ts,
                    int persistent, const rudp_rtt *rtt, rudp_tstamp now) {
  lt_round(cc, rtt, now);
  cc->lt_lost = sat_add(cc->lt_lost, bytes);

  /* Before the first RTT sample there is no queue to compare with (and
   * the handshake's losses are timeouts): the standard response. */
  if (cc->loss_tolerant && !persistent && rtt->nsamples > 0 &&
      !lt_queue(cc, rtt) && !lt_heavy(cc)) {
    ++cc->losses_ignored;
    return 0;
  }
  if (cc->ops->on_congestion_event) {
    cc->ops->on_congestion_event(cc, sent_ts, now);
  }
  if (persistent && cc->ops->on_persistent_congestion) {
    cc->ops->on_persistent_congestion(cc, now);
  }
  return 1;
}

int rudp_cc_on_spurious_loss(rudp_cc *cc, rudp_tstamp lost_ts,
                             rudp_tstamp now) {
  if (cc->recovery_start == UINT64_MAX || lost_ts != cc->recovery_start ||
      !cc->ops->on_spurious_loss) {
    return 0;
  }
  cc->ops->on_spurious_loss(cc, now);
  return 1;
}

void rudp_cc_on_ack(rudp_cc *cc, const rudp_cc_ack *ack, const rudp_rtt *rtt,
                    rudp_tstamp now) {
  lt_round(cc, rtt, now);
  lt_rtt_sample(cc, rtt, now);
  cc->lt_acked = sat_add(cc->lt_acked, ack->bytes_acked);
  if (cc->ops->on_ack) {
    cc->ops->on_ack(cc, ack, rtt, now);
  }
}

void rudp_cc_set_cwnd_limited(rudp_cc *cc, rudp_tstamp now) {
  cc->cwnd_limited_ts = now;
}

int rudp_cc_app_limited(const rudp_cc *cc, const rudp_rtt *rtt,
                        rudp_tstamp now) {
  return cc->cwnd_limited_ts == UINT64_MAX || now < cc->cwnd_limited_ts ||
         now - cc->cwnd_limited_ts > rtt->smoothed;
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
