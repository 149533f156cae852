/*
 * Receive-side acknowledgement tracking: which packet numbers arrived,
 * duplicate detection, and when an ACK frame must be sent (RFC 9000 §13.2):
 *
 * - after every |ack_eliciting_threshold| (default 2) ack-eliciting packets;
 * - at the latest |max_ack_delay| after the first unacknowledged
 *   ack-eliciting packet arrived;
 * - at once when an ack-eliciting packet arrives out of order (it is below
 *   the largest received, or it leaves a gap above it): the sender learns of
 *   the loss quickly (fast retransmit);
 * - never for a packet that carried only ACK/PADDING/CONNECTION_CLOSE,
 *   unless another reason applies.
 *
 * Once an ACK frame we sent is itself acknowledged, everything up to its
 * largest acknowledged need not be reported again (RFC 9000 §13.2.4): those
 * ranges are forgotten and packet numbers at or below that point count as
 * duplicates from then on.
 */
#ifndef RUDP_ACKTR_H
#define RUDP_ACKTR_H

#include <rudp/rudp.h>

#include "rudp_frame.h"
#include "rudp_ranges.h"

/* RUDP_ACKTR_DEFAULT_MAX_RANGES is how many ranges are kept and sent. */
#define RUDP_ACKTR_DEFAULT_MAX_RANGES 32

typedef struct rudp_acktr {
  /* ranges holds what arrived (bounded; the oldest ranges are forgotten). */
  rudp_ranges ranges;
  /* floor: packet numbers below it are duplicates (forgotten ranges: it
   * rises on rudp_acktr_on_ack_acked and past a range evicted because
   * |ranges| was full, RFC 9000 section 13.2.3). */
  uint64_t floor;
  /* largest is the largest packet number received (UINT64_MAX: none). */
  uint64_t largest;
  /* largest_recv_ts is when |largest| arrived, for the ACK delay. */
  rudp_tstamp largest_recv_ts;
  /* first_unacked_ts is when the first ack-eliciting packet not yet
   * acknowledged arrived (UINT64_MAX: none). */
  rudp_tstamp first_unacked_ts;
  /* unacked_eliciting counts ack-eliciting packets since the last ACK. */
  size_t unacked_eliciting;
  /* ack_eliciting_threshold: ACK after this many (default 2). */
  size_t ack_eliciting_threshold;
  /* immediate is nonzero when an ACK is due at once (reordering). */
  int immediate;
  /* dirty is nonzero when something arrived that the last ACK did not
   * report (an ACK frame is worth including in the next packet). */
  int dirty;
} rudp_acktr;

/*
 * rudp_acktr_init initialises |acktr| to keep at most |max_ranges| ranges,
 * ACKing every |ack_eliciting_threshold| ack-eliciting packets (0 means 1).
 * Returns 0, RUDP_ERR_INVALID_ARGUMENT or RUDP_ERR_NOMEM.
 */
int rudp_acktr_init(rudp_acktr *acktr, size_t max_ranges,
                    size_t ack_eliciting_threshold, const rudp_mem *mem);

/* rudp_acktr_free releases |acktr|'s memory; |acktr| may be NULL. */
void rudp_acktr_free(rudp_acktr *acktr);

/*
 * rudp_acktr_is_duplicate returns nonzero if |pn| was already received (or
 * is below the floor).  Call it before processing a packet's frames.
 */
int rudp_acktr_is_duplicate(const rudp_acktr *acktr, uint64_t pn);

/*
 * rudp_acktr_add records that packet |pn| arrived at |now| after its frames
 * were processed; |ack_eliciting| is nonzero if it carried an ack-eliciting
 * frame.  Returns 1 if recorded, 0 if it was a duplicate (nothing changes).
 * It also returns 0, changing nothing, for a |pn| that cannot be recorded:
 * above RUDP_MAX_VARINT, or older than every range while the ranges are
 * full (such a packet is simply never acknowledged).  O(1) in order.
 */
int rudp_acktr_add(rudp_acktr *acktr, uint64_t pn, int ack_eliciting,
                   rudp_tstamp now);

/*
 * rudp_acktr_deadline returns when an ACK frame must be sent: |now|-like
 * values (0) when one is due at once, first_unacked_ts + |max_ack_delay|
 * when one is pending, or RUDP_TSTAMP_MAX when none is needed.
 */
rudp_tstamp rudp_acktr_deadline(const rudp_acktr *acktr,
                                rudp_duration max_ack_delay);

/*
 * rudp_acktr_fill fills |fr| with an ACK frame of what arrived: ranges
 * newest first, copied into |ranges| (capacity |cap|), and the ACK delay
 * (now - largest_recv_ts, in microseconds, shifted right by
 * |ack_delay_exponent|).  Returns 0, RUDP_ERR_INVALID_STATE if nothing is
 * left to acknowledge (nothing received, or all of it forgotten by
 * rudp_acktr_on_ack_acked), or RUDP_ERR_INVALID_ARGUMENT if |ranges| is
 * NULL or |cap| is 0.  Does not change |acktr|.
 */
int rudp_acktr_fill(const rudp_acktr *acktr, rudp_frame_ack *fr,
                    rudp_range *ranges, size_t cap,
                    uint64_t ack_delay_exponent, rudp_tstamp now);

/*
 * rudp_acktr_on_ack_sent notes that an ACK frame reporting everything
 * received so far was sent: the counters and the deadline reset.
 */
void rudp_acktr_on_ack_sent(rudp_acktr *acktr);

/*
 * rudp_acktr_on_ack_acked notes that the peer acknowledged a packet of
 * ours that carried an ACK frame whose largest acknowledged was
 * |largest_acked|: ranges up to and including it are forgotten and the
 * floor rises to largest_acked + 1.
 */
void rudp_acktr_on_ack_acked(rudp_acktr *acktr, uint64_t largest_acked);

#endif /* RUDP_ACKTR_H */
