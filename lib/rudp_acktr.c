/*
 * Receive-side ACK tracking (RFC 9000 sections 13.2.1 to 13.2.4).
 *
 * The packet numbers themselves live in a bounded rudp_ranges; this file
 * adds the policy around it: when an ACK is owed, how urgently, and which
 * old packet numbers may be forgotten.  Everything here is O(1) per packet
 * in the common in-order case (the cost of rudp_ranges_add's fast path).
 */
#include "rudp_acktr.h"

#include <assert.h>

#include "rudp_macro.h"

int rudp_acktr_init(rudp_acktr *acktr, size_t max_ranges,
                    size_t ack_eliciting_threshold, const rudp_mem *mem) {
  int rv;

  acktr->floor = 0;
  acktr->largest = UINT64_MAX;
  acktr->largest_recv_ts = 0;
  acktr->first_unacked_ts = RUDP_TSTAMP_MAX;
  acktr->unacked_eliciting = 0;
  acktr->ack_eliciting_threshold =
      ack_eliciting_threshold == 0 ? 1 : ack_eliciting_threshold;
  acktr->immediate = 0;
  acktr->dirty = 0;

  /* rudp_ranges_init leaves |ranges| safe to free even when it fails. */
  rv = rudp_ranges_init(&acktr->ranges, max_ranges, mem);
  if (rv != 0) {
    return rv;
  }

  return 0;
}

void rudp_acktr_free(rudp_acktr *acktr) {
  if (acktr == NULL) {
    return;
  }

  rudp_ranges_free(&acktr->ranges);
}

int rudp_acktr_is_duplicate(const rudp_acktr *acktr, uint64_t pn) {
  return pn < acktr->floor || rudp_ranges_contains(&acktr->ranges, pn);
}

int rudp_acktr_add(rudp_acktr *acktr, uint64_t pn, int ack_eliciting,
                   rudp_tstamp now) {
  rudp_ranges *r = &acktr->ranges;
  uint64_t oldest_hi = 0;
  int full, first, rv;

  if (pn < acktr->floor || pn > RUDP_MAX_VARINT) {
    return 0;
  }

  /* When the set is full, adding may evict the oldest range; remember its
   * end to notice that below. */
  full = rudp_ranges_len(r) == r->cap;
  if (full) {
    oldest_hi = rudp_ranges_get(r, r->cap - 1)->hi;
  }

  rv = rudp_ranges_add(r, pn);
  if (rv != 1) {
    /* 0: already held, or the set is full and |pn| would be older than
     * anything it holds.  Either way nothing is recorded, and a packet that
     * is not recorded must not cause an ACK. */
    return 0;
  }

  /* An evicted range is forgotten, so its packet numbers could no longer be
   * recognised as duplicates; raising the floor past it keeps them
   * recognised (RFC 9000 section 13.2.3: "a minimum packet number that
   * increases as ranges are discarded").  If the old oldest range survived
   * (possibly extended or merged) its lo is still at or below its old hi. */
  if (full && rudp_ranges_get(r, rudp_ranges_len(r) - 1)->lo > oldest_hi) {
    acktr->floor = rudp_max(acktr->floor, oldest_hi + 1);
  }

  first = acktr->largest == UINT64_MAX;

  if (ack_eliciting) {
    /* RFC 9000 section 13.2.1: acknowledge at once a packet that arrives
     * below the largest received (a reordered packet or a retransmission
     * filling a hole), or one that opens a gap above it (a loss): the sender
     * learns of it a whole max_ack_delay sooner.  pn <= 2^62 - 1, so
     * largest + 1 cannot wrap. */
    if (!first && (pn < acktr->largest || pn > acktr->largest + 1)) {
      acktr->immediate = 1;
    }
    ++acktr->unacked_eliciting;
    if (acktr->unacked_eliciting >= acktr->ack_eliciting_threshold) {
      acktr->immediate = 1;
    }
    if (acktr->first_unacked_ts == RUDP_TSTAMP_MAX) {
      acktr->first_unacked_ts = now;
    }
  }

  if (first || pn > acktr->largest) {
    acktr->largest = pn;
    acktr->largest_recv_ts = now;
  }

  acktr->dirty = 1;

  return 1;
}

rudp_tstamp rudp_acktr_deadline(const rudp_acktr *acktr,
                                rudp_duration max_ack_delay) {
  if (acktr->immediate ||
      acktr->unacked_eliciting >= acktr->ack_eliciting_threshold) {
    return 0;
  }
  if (acktr->first_unacked_ts == RUDP_TSTAMP_MAX) {
    return RUDP_TSTAMP_MAX;
  }
  /* Saturate: a huge max_ack_delay means "no deadline", not a wrap to the
   * past. */
  if (max_ack_delay >= RUDP_TSTAMP_MAX - acktr->first_unacked_ts) {
    return RUDP_TSTAMP_MAX;
  }
  return acktr->first_unacked_ts + max_ack_delay;
}

int rudp_acktr_fill(const rudp_acktr *acktr, rudp_frame_ack *fr,
                    rudp_range *ranges, size_t cap, uint64_t ack_delay_exponent,
                    rudp_tstamp now) {
  const rudp_ranges *r = &acktr->ranges;
  size_t i, n;
  uint64_t delay;

  n = rudp_ranges_len(r);
  if (n == 0) {
    return RUDP_ERR_INVALID_STATE;
  }
  if (ranges == NULL || cap == 0) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }

  /* The newest ranges matter most (they carry the latest losses); older
   * ones past |cap| are left out, as an ACK frame may. */
  n = rudp_min(n, cap);
  for (i = 0; i < n; ++i) {
    ranges[i] = *rudp_ranges_get(r, i);
  }

  /* RFC 9000 section 13.2.5: the delay between receiving the largest
   * acknowledged packet and sending this ACK, in microseconds scaled down
   * by the exponent.  A clock that went backwards gives 0, and a shift
   * of 64 or more would be undefined in C (the value is 0 anyway). */
  delay = now > acktr->largest_recv_ts
              ? (now - acktr->largest_recv_ts) / RUDP_MICROSECONDS
              : 0;
  delay = ack_delay_exponent >= 64 ? 0 : delay >> ack_delay_exponent;

  fr->type = RUDP_FRAME_ACK;
  fr->largest_ack = ranges[0].hi;
  fr->ack_delay = delay;
  fr->first_range = ranges[0].hi - ranges[0].lo;
  fr->range_count = n - 1;
  fr->rangebuf = NULL;
  fr->rangebuflen = 0;
  fr->ranges = ranges;
  fr->nranges = n;

  return 0;
}

void rudp_acktr_on_ack_sent(rudp_acktr *acktr) {
  acktr->unacked_eliciting = 0;
  acktr->first_unacked_ts = RUDP_TSTAMP_MAX;
  acktr->immediate = 0;
  acktr->dirty = 0;
}

void rudp_acktr_on_ack_acked(rudp_acktr *acktr, uint64_t largest_acked) {
  uint64_t below;

  /* The peer now knows everything up to |largest_acked| arrived (RFC 9000
   * section 13.2.4), so those ranges need not be sent again.  Packet
   * numbers never exceed 2^62 - 1, so clamping there keeps + 1 from
   * wrapping whatever the caller passes. */
  below = rudp_min(largest_acked, RUDP_MAX_VARINT) + 1;

  rudp_ranges_remove_below(&acktr->ranges, below);
  acktr->floor = rudp_max(acktr->floor, below);
}
