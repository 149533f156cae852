/*
 * A bounded set of packet numbers kept as disjoint, non-adjacent, inclusive
 * ranges: the receiver's record of what to acknowledge (the SACK blocks of
 * an ACK frame).
 *
 * Ranges are stored oldest (lowest) to newest (highest) in a ring of at most
 * |cap| entries.  When adding a packet number would need a range beyond
 * |cap|, the oldest range is dropped (its packet numbers are forgotten: an
 * ACK cannot carry unbounded history anyway).  A packet number lower than
 * every range, arriving while the set is full, is dropped instead of the
 * oldest range (it would be the oldest).
 *
 * Costs: adding the next packet number in order (extending the newest range,
 * or starting a new newest range, evicting the oldest when full) is O(1).
 * Adding out of order is O(log n) to find the place plus O(n) to insert, with
 * n <= cap (bounded, small).  No allocation after rudp_ranges_init.
 */
#ifndef RUDP_RANGES_H
#define RUDP_RANGES_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

/* RUDP_RANGES_MAX_CAP is the largest |cap| rudp_ranges_init accepts. */
#define RUDP_RANGES_MAX_CAP 1024

/* rudp_range is the inclusive range [lo, hi]; lo <= hi. */
typedef struct rudp_range {
  uint64_t lo;
  uint64_t hi;
} rudp_range;

typedef struct rudp_ranges {
  /* ring holds |cap| slots; the ranges are ring[(head + i) % cap] for
   * i in [0, len), ascending: entry i+1's lo > entry i's hi + 1. */
  rudp_range *ring;
  /* cap is the capacity of |ring|. */
  size_t cap;
  /* head is the ring index of the oldest range. */
  size_t head;
  /* len is the number of ranges held. */
  size_t len;
  /* mem allocated |ring|. */
  const rudp_mem *mem;
} rudp_ranges;

/*
 * rudp_ranges_init initialises |r| to hold at most |cap| ranges (1 to
 * RUDP_RANGES_MAX_CAP), allocating from |mem| (NULL: default allocator).
 *
 * Returns 0, RUDP_ERR_INVALID_ARGUMENT (cap out of bounds), or RUDP_ERR_NOMEM.
 */
int rudp_ranges_init(rudp_ranges *r, size_t cap, const rudp_mem *mem);

/* rudp_ranges_free releases |r|'s memory; |r| may be NULL. */
void rudp_ranges_free(rudp_ranges *r);

/*
 * rudp_ranges_add adds packet number |pn| (at most RUDP_MAX_VARINT).
 *
 * Returns 1 if |pn| was added, 0 if it was already in the set, and
 * RUDP_ERR_INVALID_ARGUMENT if |pn| is too large.  It also returns 0, adding
 * nothing, when the set is full and |pn| is lower than every range it holds
 * and not adjacent to the lowest one (it would need a new, oldest range;
 * |pn| == lowest lo - 1 simply extends that range).
 */
int rudp_ranges_add(rudp_ranges *r, uint64_t pn);

/* rudp_ranges_contains returns nonzero if |pn| is in the set. */
int rudp_ranges_contains(const rudp_ranges *r, uint64_t pn);

/*
 * rudp_ranges_remove_below removes every packet number lower than |pn|
 * (used once an ACK of ours is itself acknowledged).  O(ranges removed).
 */
void rudp_ranges_remove_below(rudp_ranges *r, uint64_t pn);

/* rudp_ranges_len returns the number of ranges held. */
size_t rudp_ranges_len(const rudp_ranges *r);

/*
 * rudp_ranges_get returns the |i|-th range counting from the newest (i = 0
 * is the range with the highest packet numbers).  |i| must be below
 * rudp_ranges_len(r).  Iterating i = 0, 1, ... walks newest first, the order
 * of an ACK frame.
 */
const rudp_range *rudp_ranges_get(const rudp_ranges *r, size_t i);

/*
 * rudp_ranges_largest stores the highest packet number held in |*ppn| and
 * returns 0, or returns RUDP_ERR_INVALID_STATE if the set is empty.
 */
int rudp_ranges_largest(const rudp_ranges *r, uint64_t *ppn);

/* rudp_ranges_clear empties the set (capacity unchanged). */
void rudp_ranges_clear(rudp_ranges *r);

/*
 * rudp_ranges_check verifies the invariants (ascending, disjoint,
 * non-adjacent, lo <= hi <= RUDP_MAX_VARINT, within capacity).  Returns 1 if
 * they all hold, 0 if not, so it reads as assert(rudp_ranges_check(r)).  For
 * tests and assert() only.
 */
int rudp_ranges_check(const rudp_ranges *r);

#endif /* RUDP_RANGES_H */
