/*
 * Congestion control interface.  Recovery (rudp_rtb/rudp_conn) reports
 * events through a `rudp_cc_ops` table; each algorithm lives in its own file
 * (rudp_cc_reno.c, rudp_cc_cubic.c, rudp_cc_none.c) and embeds `rudp_cc`
 * as its first member.  All callbacks are optional except where noted.
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
  /* pacing_rate: the rate packets should leave at, in bytes per second
   * (optional; NULL means rudp_cc_pacing_rate's default 1.25 cwnd/srtt,
   * more in slow start). */
  uint64_t (*pacing_rate)(const rudp_cc *cc, const rudp_rtt *rtt);
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
  /* loss_tolerant: nonzero to take a loss for congestion only with a sign
   * of it (settings.loss_tolerant; rudp_cc_on_loss). */
  int loss_tolerant;
  /* losses_ignored counts loss events rudp_cc_on_loss did not take for
   * congestion (stats and tests). */
  uint64_t losses_ignored;
  /* Loss accounting per round (rudp_cc_on_loss):
   * bytes acknowledged and declared lost in the round that began at
   * lt_round_start (UINT64_MAX: none yet) and in the one before. */
  rudp_tstamp lt_round_start;
  uint64_t lt_acked;
  uint64_t lt_lost;
  uint64_t lt_prev_acked;
  uint64_t lt_prev_lost;
  /* The smallest RTT samples (UINT64_MAX: none) of the current RTT
   * window, begun at lt_rtt_start (UINT64_MAX: none yet), and of the
   * previous one (rudp_cc_on_loss). */
  rudp_tstamp lt_rtt_start;
  rudp_duration lt_rtt_min;
  rudp_duration lt_rtt_prev_min;
  /* lt_rtt_count, lt_rtt_prev_count: the samples in those windows. */
  uint32_t lt_rtt_count;
  uint32_t lt_rtt_prev_count;
  /* cwnd_limited_ts: the last time the window was full with data waiting
   * or a packet filled it (UINT64_MAX: never); rudp_cc_app_limited. */
  rudp_tstamp cwnd_limited_ts;
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

/* rudp_cc_common_init sets the state rudp_cc keeps for every algorithm
 * (the loss filter's rounds, the window-limited time; loss_tolerant off,
 * losses_ignored 0).  Each algorithm's init calls it. */
void rudp_cc_common_init(rudp_cc *cc);

/*
 * Loss tolerance (settings.loss_tolerant, docs/PROTOCOL.md 10.4).  A loss is a
 * congestion signal when the path shows a queue or when more is lost than
 * random loss explains; otherwise (a lossy radio or long-haul link, no queue
 * anywhere) shrinking the window only throttles the flow to the Mathis limit of
 * the loss rate without relieving anything.  rudp_cc_on_loss takes a loss for
 * congestion when:
 *
 *   - loss_tolerant is 0 (RFC 9002: every loss event is one), or
 *   - the losses are persistent congestion (RFC 9002 §7.6), or
 *   - the RTT shows a standing queue: every RTT sample of the last two
 *     RTT windows (half a smoothed RTT each, at least
 *     RUDP_CC_LT_MIN_RTT_WINDOW; at least RUDP_CC_LT_MIN_RTT_SAMPLES
 *     samples in all) exceeds min_rtt by more than
 *     max(min_rtt / RUDP_CC_LT_QUEUE_DIVISOR, RUDP_CC_LT_MIN_QUEUE_DELAY).
 *     The smallest sample, not the latest or the average: a queue the
 *     flow fills stays, while one late ACK (delayed, or its sender
 *     descheduled on a busy host) is one sample.  In slow start, whose
 *     queue builds and overflows within a round, min(latest, smoothed)
 *     against min_rtt / RUDP_CC_LT_SS_QUEUE_DIVISOR (its paced bursts
 *     queue briefly on their own); or
 *   - the loss rate is high: over the current and the previous round (a
 *     smoothed RTT each, at least RUDP_CC_LT_MIN_ROUND, so that the
 *     rounds of a sub-millisecond path hold enough packets to judge; the
 *     previous one extended until it holds RUDP_CC_LT_MIN_SAMPLE
 *     datagrams, for slow flows) more than 1 / RUDP_CC_LT_LOSS_DIVISOR of
 *     the bytes acknowledged or lost were lost, and at least
 *     RUDP_CC_LT_MIN_LOST_PACKETS datagrams' worth: a bottleneck whose
 *     queue is too short to show in the RTT still gets a response.  The
 *     minimums keep chance out: the check runs right after a loss, so
 *     the current round always holds one.  With 32 datagrams and 4
 *     losses, 5% random loss passed it in about 7% of checks (binomial
 *     tail), which ended slow start early in most 100 ms lab runs (a
 *     window of 50-250 KB that CUBIC then takes seconds to regrow); with
 *     64 and 8, in about 1% at 64 datagrams and 0.4% at 100.
 *
 * A drop-tail bottleneck drops only when its queue is full, which is the
 * RTT at its highest, so on a congested path the response is the
 * algorithm's own (RFC 9438 / RFC 9002) and a loss-tolerant flow shares
 * the queue with a standard one as two standard flows do.
 */
#define RUDP_CC_LT_QUEUE_DIVISOR 16
#define RUDP_CC_LT_SS_QUEUE_DIVISOR 8
#define RUDP_CC_LT_MIN_QUEUE_DELAY (250 * RUDP_MICROSECONDS)
#define RUDP_CC_LT_MIN_RTT_WINDOW (1 * RUDP_MILLISECONDS)
#define RUDP_CC_LT_MIN_RTT_SAMPLES 8
#define RUDP_CC_LT_LOSS_DIVISOR 8
#define RUDP_CC_LT_MIN_LOST_PACKETS 8
#define RUDP_CC_LT_MIN_ROUND (10 * RUDP_MILLISECONDS)
#define RUDP_CC_LT_MIN_SAMPLE 64

/*
 * rudp_cc_on_loss reports the in-flight packets one loss detection
 * declared lost: |bytes| of them, the newest sent at |sent_ts|,
 * |persistent| nonzero for persistent congestion; |rtt| is the path's
 * estimator.  Unless the losses show no sign of congestion (see above),
 * it calls the algorithm's on_congestion_event and, for persistent
 * congestion, on_persistent_congestion.  Returns 1 if it did, 0 if the
 * losses were ignored (losses_ignored is incremented).
 */
int rudp_cc_on_loss(rudp_cc *cc, uint64_t bytes, rudp_tstamp sent_ts,
                    int persistent, const rudp_rtt *rtt, rudp_tstamp now);

/*
 * rudp_cc_on_spurious_loss reports that a packet declared lost at
 * |lost_ts| (the time of the loss detection that declared it) was
 * acknowledged after all.  The latest reduction is undone (the
 * algorithm's on_spurious_loss, RFC 9002 §7.3.2) only if this packet's
 * loss brought it about: it was declared lost by the detection that began
 * the current recovery period (lost_ts == recovery_start).  A loss the
 * loss-tolerant response passed over, or one declared before or after
 * that detection, undoes nothing: the reduction was someone else's.
 * Returns 1 if the reduction was undone.
 */
int rudp_cc_on_spurious_loss(rudp_cc *cc, rudp_tstamp lost_ts,
                             rudp_tstamp now);

/*
 * rudp_cc_on_ack counts |ack|'s bytes for the loss filter's rounds and
 * calls the algorithm's on_ack (if any).
 */
void rudp_cc_on_ack(rudp_cc *cc, const rudp_cc_ack *ack, const rudp_rtt *rtt,
                    rudp_tstamp now);

/*
 * rudp_cc_set_cwnd_limited notes that at |now| the window was full: data
 * waited for it, or a packet just filled it.
 */
void rudp_cc_set_cwnd_limited(rudp_cc *cc, rudp_tstamp now);

/*
 * rudp_cc_app_limited returns nonzero if a packet sent at |now| that
 * leaves nothing queued is application-limited (RFC 9002 §7.8), i.e. the
 * window has not been full within the last smoothed RTT of |rtt|.  A flow
 * of small messages whose window is the limit sends each packet with
 * everything that waited, emptying the queue every time; counting those
 * as application-limited would freeze the window (no growth) while each
 * loss still shrinks it.
 */
int rudp_cc_app_limited(const rudp_cc *cc, const rudp_rtt *rtt,
                        rudp_tstamp now);

/*
 * rudp_hystart is HyStart++ (RFC 9406): it ends slow start when the RTT
 * rises by a clear margin over a round (the queue is building), before the
 * loss that plain slow start waits for, via a Conservative Slow Start
 * phase; and at once when RUDP_HYSTART_N_RTT_SAMPLE samples in a row
 * show the rise within a round whose minimum has not risen (a paced
 * sender's rounds start with the queue drained; rudp_hystart.c).  Both
 * algorithms use it, only in the first slow start (while ssthresh is
 * still UINT64_MAX, RFC 9406 §4.3); the struct is embedded in each.
 */
typedef struct rudp_hystart {
  /* round_start: a round ends when an ACK arrives for a packet sent at or
   * after it (the send-time form of RFC 9406's windowEnd); the next round
   * then starts at the ACK's time. */
  rudp_tstamp round_start;
  /* last_round_min_rtt, current_round_min_rtt: the minimum RTT samples of
   * the previous and current rounds (UINT64_MAX: none). */
  rudp_duration last_round_min_rtt;
  rudp_duration current_round_min_rtt;
  /* rtt_sample_count counts samples in the current round. */
  uint32_t rtt_sample_count;
  /* css_rounds counts round ends seen in Conservative Slow Start. */
  uint32_t css_rounds;
  /* in_css is nonzero in Conservative Slow Start. */
  int in_css;
  /* css_baseline_min_rtt is the round minimum that started CSS
   * (UINT64_MAX: not in CSS). */
  rudp_duration css_baseline_min_rtt;
  /* exits counts how often HyStart++ ended slow start (tests, stats). */
  uint64_t exits;
  /* high_run counts the latest RTT samples in a row at or above the
   * last round's minimum plus RttThresh. */
  uint32_t high_run;
} rudp_hystart;

/* RUDP_HYSTART_N_RTT_SAMPLE: samples a round needs before it decides. */
#define RUDP_HYSTART_N_RTT_SAMPLE 8
/* RUDP_HYSTART_MIN_RTT_THRESH, RUDP_HYSTART_MAX_RTT_THRESH clamp the RTT
 * rise that counts as a queue: lastRoundMinRTT / 8 within [4, 16] ms. */
#define RUDP_HYSTART_MIN_RTT_THRESH (4 * RUDP_MILLISECONDS)
#define RUDP_HYSTART_MAX_RTT_THRESH (16 * RUDP_MILLISECONDS)
#define RUDP_HYSTART_MIN_RTT_DIVISOR 8
/* RUDP_HYSTART_CSS_GROWTH_DIVISOR divides growth in CSS. */
#define RUDP_HYSTART_CSS_GROWTH_DIVISOR 4
/* RUDP_HYSTART_CSS_ROUNDS: CSS rounds before slow start ends. */
#define RUDP_HYSTART_CSS_ROUNDS 5

/* rudp_hystart_init resets |hs| at the start of a slow start; the first
 * round starts at |now|. */
void rudp_hystart_init(rudp_hystart *hs, rudp_tstamp now);

/*
 * rudp_hystart_on_ack feeds one ACK taken in slow start: |ack| and the RTT
 * estimator |rtt| (rtt->latest is the newest sample; nothing is sampled
 * while rtt->nsamples is 0), for a window |cc|.  Returns the growth
 * divisor to apply to bytes acknowledged: 1 in slow start,
 * RUDP_HYSTART_CSS_GROWTH_DIVISOR (4) in Conservative Slow Start, or 0
 * when slow start must end now (the caller sets ssthresh = cwnd; exits is
 * incremented).  Growth is not capped per ACK (RFC 9406's L is infinite
 * because the connection paces).
 */
unsigned rudp_hystart_on_ack(rudp_hystart *hs, rudp_cc *cc,
                             const rudp_cc_ack *ack, const rudp_rtt *rtt,
                             rudp_tstamp now);

/* rudp_cc_reno is NewReno (RFC 9002 §7, RFC 6582). */
typedef struct rudp_cc_reno {
  rudp_cc cc;
  /* bytes_acked accumulates acknowledged bytes in congestion avoidance;
   * the window grows by one datagram per window's worth acknowledged. */
  uint64_t bytes_acked;
  /* hystart is HyStart++ for the first slow start. */
  rudp_hystart hystart;
} rudp_cc_reno;

/* rudp_cc_reno_ops is NewReno's table. */
extern const rudp_cc_ops rudp_cc_reno_ops;

/*
 * rudp_cc_reno_init initialises |reno| for datagrams of
 * |max_udp_payload_size| bytes: cwnd = initial window, no ssthresh.
 */
void rudp_cc_reno_init(rudp_cc_reno *reno, uint64_t max_udp_payload_size,
                       rudp_tstamp now);

/*
 * rudp_cc_pacing_rate returns the rate to pace at, bytes per second: the
 * algorithm's own pacing_rate if it has one, else N * cwnd / smoothed RTT
 * with N = 2 in slow start (the window doubles each round: a lower rate
 * would hold it back) and 1.25 afterwards (RFC 9002 §7.7), never below one
 * datagram per RTT.  With no RTT sample yet the initial RTT stands in.
 */
uint64_t rudp_cc_pacing_rate(const rudp_cc *cc, const rudp_rtt *rtt);

/* rudp_cc_cubic is CUBIC (RFC 9438) with HyStart++. */
typedef struct rudp_cc_cubic {
  rudp_cc cc;
  /* w_max: the window before the last reduction (bytes; after slow
   * start ends without loss, or after persistent congestion, the window at
   * the start of congestion avoidance, RFC 9438 §4.8, §4.10). */
  uint64_t w_max;
  /* k: the time (ns) the cubic function takes to climb back to w_max. */
  rudp_duration k;
  /* epoch_start: the start of the current congestion-avoidance epoch, set
   * by its first ACK (UINT64_MAX: none). */
  rudp_tstamp epoch_start;
  /* w_est: the Reno-friendly estimate (bytes, §4.3). */
  uint64_t w_est;
  /* w_est_acked: bytes acknowledged times 17 * alpha_cubic not yet turned
   * into a datagram of w_est (alpha_cubic is 9/17 for beta 0.7). */
  uint64_t w_est_acked;
  /* cwnd_prior: the window at the last congestion event. */
  uint64_t cwnd_prior;
  /* acked_bytes: bytes acknowledged not yet turned into a datagram of
   * cubic growth. */
  uint64_t acked_bytes;
  /* idle_start: when the last ACK emptied the network (UINT64_MAX: not
   * idle); the next send shifts epoch_start by the idle time (§5.8). */
  rudp_tstamp idle_start;
  /* Saved state for undo on a spurious loss (§4.9). */
  uint64_t prior_w_max;
  rudp_duration prior_k;
  rudp_tstamp prior_epoch_start;
  uint64_t prior_w_est;
  uint64_t prior_cwnd_prior;
  /* hystart is HyStart++ for the first slow start. */
  rudp_hystart hystart;
} rudp_cc_cubic;

/* rudp_cc_cubic_ops is CUBIC's table. */
extern const rudp_cc_ops rudp_cc_cubic_ops;

/*
 * rudp_cc_cubic_init initialises |cubic| for datagrams of
 * |max_udp_payload_size| bytes: cwnd = initial window, slow start.
 */
void rudp_cc_cubic_init(rudp_cc_cubic *cubic, uint64_t max_udp_payload_size,
                        rudp_tstamp now);

/*
 * rudp_cc_cubic_w_cubic returns W_cubic(t) = C (t - K)^3 + W_max in bytes
 * for |t| nanoseconds into the epoch (RFC 9438 §4.2, C = 0.4 in segments
 * per second cubed, so in bytes: C * mss * (t - K)^3 with t in seconds),
 * never below 0.  Exposed for the tests.
 */
uint64_t rudp_cc_cubic_w_cubic(const rudp_cc_cubic *cubic, rudp_duration t);

/*
 * rudp_cc_none is no congestion control (settings.cc_algo RUDP_CC_NONE):
 * the window is unbounded (UINT64_MAX) and never reacts to loss, and the
 * pacing rate is the fixed |rate|.  For fixed-rate senders only: see
 * rudp_settings.max_rate.
 */
typedef struct rudp_cc_none {
  rudp_cc cc;
  /* rate is the pacing rate, bytes per second (nonzero). */
  uint64_t rate;
} rudp_cc_none;

/* rudp_cc_none_ops is the table of rudp_cc_none. */
extern const rudp_cc_ops rudp_cc_none_ops;

/*
 * rudp_cc_none_init initialises |none| to pace at |rate| bytes per second
 * (0 is taken as 1) with an unbounded window, for datagrams of
 * |max_udp_payload_size| bytes.
 */
void rudp_cc_none_init(rudp_cc_none *none, uint64_t max_udp_payload_size,
                       uint64_t rate, rudp_tstamp now);

#endif /* RUDP_CC_H */
