/*
 * Congestion control interface.  Recovery (rudp_rtb/rudp_conn) reports
 * events through a `rudp_cc_ops` table; each algorithm lives in its own file
 * (rudp_cc_reno.c, later rudp_cc_cubic.c) and embeds `rudp_cc` as its first
 * member.  All callbacks are optional except where noted.
 *
 * Units: bytes and nanoseconds.  The congestion window counts UDP payload
 * bytes in flight.
 */
#ifndef RUDP_CC_H
#define RUDP_CC_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

#include "rudp_rtt.h"

/* RUDP_CC_INITIAL_WINDOW_PACKETS is the initial window in packets (RFC
 * 9002 §7.2: 10 packets). */
#define RUDP_CC_INITIAL_WINDOW_PACKETS 10
/* RUDP_CC_MIN_WINDOW_PACKETS is kMinimumWindow in packets. */
#define RUDP_CC_MIN_WINDOW_PACKETS 2

typedef struct rudp_cc rudp_cc;

/* rudp_cc_ack describes the packets newly acknowledged by one ACK frame. */
typedef struct rudp_cc_ack {
  /* bytes_acked is the sum of sizes of in-flight packets newly acked. */
  uint64_t bytes_acked;
  /* largest_acked_sent_ts is when the largest newly acked packet was sent. */
  rudp_tstamp largest_acked_sent_ts;
  /* bytes_in_flight is the bytes in flight after removing those acked. */
  uint64_t bytes_in_flight;
  /* app_limited is nonzero if the sender was application-limited when the
   * acknowledged packets were sent (the window must not grow then). */
  int app_limited;
} rudp_cc_ack;

typedef struct rudp_cc_ops {
  /* name is the algorithm's name ("reno", "cubic"); required. */
  const char *name;
  /* on_packet_sent: a packet of |bytes| counted in flight was sent. */
  void (*on_packet_sent)(rudp_cc *cc, uint64_t bytes, rudp_tstamp now);
  /* on_ack: packets were newly acknowledged. */
  void (*on_ack)(rudp_cc *cc, const rudp_cc_ack *ack, const rudp_rtt *rtt,
                 rudp_tstamp now);
  /* on_congestion_event: a loss was detected; |sent_ts| is when the lost
   * packet (the newest one lost in this event) was sent.  One reduction per
   * recovery period: losses of packets sent before the period began do not
   * reduce the window again (RFC 9002 §7.3.2). */
  void (*on_congestion_event)(rudp_cc *cc, rudp_tstamp sent_ts,
                              rudp_tstamp now);
  /* on_persistent_congestion: collapse to the minimum window (§7.6.2). */
  void (*on_persistent_congestion)(rudp_cc *cc, rudp_tstamp now);
  /* on_spurious_loss: a loss that caused the last congestion event turned
   * out not to be one; the algorithm may undo the reduction. */
  void (*on_spurious_loss)(rudp_cc *cc, rudp_tstamp now);
  /* reset: return to the initial state (e.g. after a path change). */
  void (*reset)(rudp_cc *cc, rudp_tstamp now);
} rudp_cc_ops;

/* rudp_cc is the state every algorithm shares; algorithms embed it first. */
struct rudp_cc {
  /* ops is the algorithm's table. */
  const rudp_cc_ops *ops;
  /* cwnd is the congestion window in bytes. */
  uint64_t cwnd;
  /* ssthresh is the slow-start threshold (UINT64_MAX: none yet). */
  uint64_t ssthresh;
  /* max_udp_payload_size is the datagram size the window is counted in. */
  uint64_t max_udp_payload_size;
  /* recovery_start is when the current recovery period began
   * (UINT64_MAX: not in recovery). */
  rudp_tstamp recovery_start;
  /* prior_cwnd, prior_ssthresh: the values before the last reduction, for
   * undo on spurious loss. */
  uint64_t prior_cwnd;
  uint64_t prior_ssthresh;
  /* congestion_events counts reductions (for stats and tests). */
  uint64_t congestion_events;
};

/* rudp_cc_initial_window returns min(10 * mss, max(14720, 2 * mss)). */
uint64_t rudp_cc_initial_window(uint64_t max_udp_payload_size);

/* rudp_cc_min_window returns 2 * max_udp_payload_size. */
uint64_t rudp_cc_min_window(uint64_t max_udp_payload_size);

/*
 * rudp_cc_in_recovery returns nonzero if a packet sent at |sent_ts|
 * belongs to the current recovery period, i.e. a recovery period is active
 * and the packet was sent no later than recovery_start (RFC 9002 appendix
 * B.5 InCongestionRecovery): its loss must not reduce the window again and
 * its acknowledgement must not grow it.  Packets sent after recovery_start
 * return zero, as does everything when not in recovery.
 */
int rudp_cc_in_recovery(const rudp_cc *cc, rudp_tstamp sent_ts);

/* rudp_cc_reno is NewReno (RFC 9002 §7, RFC 6582). */
typedef struct rudp_cc_reno {
  rudp_cc cc;
  /* bytes_acked accumulates acknowledged bytes in congestion avoidance;
   * the window grows by one datagram per window's worth acknowledged. */
  uint64_t bytes_acked;
} rudp_cc_reno;

/* rudp_cc_reno_ops is NewReno's table. */
extern const rudp_cc_ops rudp_cc_reno_ops;

/*
 * rudp_cc_reno_init initialises |reno| for datagrams of
 * |max_udp_payload_size| bytes: cwnd = initial window, no ssthresh.
 */
void rudp_cc_reno_init(rudp_cc_reno *reno, uint64_t max_udp_payload_size,
                       rudp_tstamp now);

#endif /* RUDP_CC_H */
