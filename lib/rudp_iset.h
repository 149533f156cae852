/*
 * An interval set of 64-bit offsets kept as sorted, disjoint, non-adjacent
 * half-open ranges [lo, hi).  Unlike rudp_ranges (bounded, forgets the
 * oldest), an iset never forgets: it tracks stream bytes received, bytes
 * acknowledged and bytes to retransmit, where forgetting would lose data.
 * It can still be bounded (|max_ranges|) so that a peer sending scattered
 * fragments cannot make it grow without limit: an add that would exceed the
 * bound fails and changes nothing.
 *
 * Storage is an array that grows geometrically through a rudp_mem (no
 * allocation once it has reached its working size).  Ranges are kept from
 * v[head] to v[head + len - 1] so removing from the front (the common case:
 * data delivered or acknowledged in order) is O(1) amortized; appending at
 * the end (in-order arrival) is O(1) amortized; anything else is a binary
 * search plus a memmove of at most len entries.
 */
#ifndef RUDP_ISET_H
#define RUDP_ISET_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

/* rudp_ival is the half-open range [lo, hi); lo < hi. */
typedef struct rudp_ival {
  uint64_t lo;
  uint64_t hi;
} rudp_ival;

typedef struct rudp_iset {
  /* v holds |cap| slots; the ranges are v[head .. head + len - 1]. */
  rudp_ival *v;
  size_t head;
  size_t len;
  size_t cap;
  /* max_ranges bounds len (0: unbounded). */
  size_t max_ranges;
  const rudp_mem *mem;
} rudp_iset;

/*
 * rudp_iset_init makes |s| an empty set of at most |max_ranges| ranges (0:
 * no bound), allocating from |mem| (NULL: default) when first needed.
 */
void rudp_iset_init(rudp_iset *s, size_t max_ranges, const rudp_mem *mem);

/* rudp_iset_free releases |s|'s memory; |s| may be NULL. */
void rudp_iset_free(rudp_iset *s);

/*
 * rudp_iset_add adds [lo, hi) (lo < hi), merging with overlapping and
 * adjacent ranges.  Returns 0, RUDP_ERR_INVALID_ARGUMENT (lo >= hi),
 * RUDP_ERR_NOBUF (the set would exceed max_ranges; unchanged) or
 * RUDP_ERR_NOMEM (unchanged).
 */
int rudp_iset_add(rudp_iset *s, uint64_t lo, uint64_t hi);

/*
 * rudp_iset_remove removes [lo, hi) (lo < hi), which may split a range in
 * two.  Returns 0, RUDP_ERR_INVALID_ARGUMENT, RUDP_ERR_NOBUF or
 * RUDP_ERR_NOMEM (the split needed a slot; the set is unchanged).
 */
int rudp_iset_remove(rudp_iset *s, uint64_t lo, uint64_t hi);

/* rudp_iset_remove_below removes everything below |x|. */
void rudp_iset_remove_below(rudp_iset *s, uint64_t x);

/* rudp_iset_contains returns nonzero if |x| is in the set. */
int rudp_iset_contains(const rudp_iset *s, uint64_t x);

/*
 * rudp_iset_end_from returns the end of the range containing |x| (the first
 * offset at or after |x| that is not in the set), or |x| itself if |x| is
 * not in the set.  "How far is the data contiguous from here."
 */
uint64_t rudp_iset_end_from(const rudp_iset *s, uint64_t x);

/*
 * rudp_iset_first_at_or_after returns the first range that ends after |x|
 * (so it contains x, or starts after it), or NULL.
 */
const rudp_ival *rudp_iset_first_at_or_after(const rudp_iset *s, uint64_t x);

/*
 * rudp_iset_covered returns how many offsets in [lo, hi) are in the set.
 */
uint64_t rudp_iset_covered(const rudp_iset *s, uint64_t lo, uint64_t hi);

/* rudp_iset_len returns the number of ranges. */
size_t rudp_iset_len(const rudp_iset *s);

/* rudp_iset_get returns the i-th range, lowest first (i < len). */
const rudp_ival *rudp_iset_get(const rudp_iset *s, size_t i);

/* rudp_iset_clear empties the set (keeps its memory). */
void rudp_iset_clear(rudp_iset *s);

/*
 * rudp_iset_check returns 1 if the invariants hold (sorted, disjoint,
 * non-adjacent, lo < hi, within max_ranges), 0 otherwise.  For tests and
 * assert() only.
 */
int rudp_iset_check(const rudp_iset *s);

#endif /* RUDP_ISET_H */
