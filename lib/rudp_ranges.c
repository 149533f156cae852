/*
 * Bounded ring of disjoint, non-adjacent packet-number ranges: the state
 * behind the ACK ranges of RFC 9000 section 19.3.
 *
 * Packets mostly arrive in order, so the newest range sits at the logical
 * end of a ring: extending it, or opening a new newest range (and, when
 * full, forgetting the oldest by advancing |head|), touches one slot.  Only
 * reordered packets pay for a binary search and a shift, and the shift
 * moves whichever side of the insertion point is shorter, since the ring
 * can grow at either end.
 */
#include "rudp_ranges.h"

#include <assert.h>

#include "rudp_macro.h"
#include "rudp_mem.h"

/* ranges_slot maps logical index |i| (0 = oldest, i < cap) to a slot. */
static size_t ranges_slot(const rudp_ranges *r, size_t i) {
  size_t idx = r->head + i;

  /* head < cap and i < cap, so one subtraction replaces a modulo. */
  if (idx >= r->cap) {
    idx -= r->cap;
  }
  return idx;
}

static rudp_range *ranges_at(const rudp_ranges *r, size_t i) {
  return &r->ring[ranges_slot(r, i)];
}

/* ranges_drop_oldest forgets the oldest range; len > 0. */
static void ranges_drop_oldest(rudp_ranges *r) {
  assert(r->len > 0);
  r->head = ranges_slot(r, 1);
  --r->len;
}

/*
 * ranges_upper_bound returns the number of ranges whose lo is <= |pn|, so
 * the only range that can hold |pn| is the one just before that index.
 */
static size_t ranges_upper_bound(const rudp_ranges *r, uint64_t pn) {
  size_t lo = 0, hi = r->len, mid;

  while (lo < hi) {
    mid = lo + (hi - lo) / 2;
    if (ranges_at(r, mid)->lo <= pn) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/*
 * ranges_insert puts [pn, pn] at logical index |j| (0 <= j <= len < cap),
 * opening the gap by shifting the shorter side by one slot.
 */
static void ranges_insert(rudp_ranges *r, size_t j, uint64_t pn) {
  size_t k;
  rudp_range *dst;

  assert(r->len < r->cap);
  assert(j <= r->len);

  if (j < r->len - j) {
    /* Grow at the front: entries [0, j) each move one slot down. */
    r->head = r->head == 0 ? r->cap - 1 : r->head - 1;
    for (k = 0; k < j; ++k) {
      *ranges_at(r, k) = *ranges_at(r, k + 1);
    }
  } else {
    /* Grow at the back: entries [j, len) each move one slot up. */
    for (k = r->len; k > j; --k) {
      *ranges_at(r, k) = *ranges_at(r, k - 1);
    }
  }

  dst = ranges_at(r, j);
  dst->lo = pn;
  dst->hi = pn;
  ++r->len;
}

/* ranges_erase removes the range at logical index |j| (< len). */
static void ranges_erase(rudp_ranges *r, size_t j) {
  size_t k;

  assert(j < r->len);

  if (j < r->len - 1 - j) {
    /* Entries [0, j) move one slot up, then the front shrinks. */
    for (k = j; k > 0; --k) {
      *ranges_at(r, k) = *ranges_at(r, k - 1);
    }
    r->head = ranges_slot(r, 1);
  } else {
    for (k = j; k + 1 < r->len; ++k) {
      *ranges_at(r, k) = *ranges_at(r, k + 1);
    }
  }
  --r->len;
}

int rudp_ranges_init(rudp_ranges *r, size_t cap, const rudp_mem *mem) {
  /* A zeroed |r| makes rudp_ranges_free safe even after a failed init. */
  r->ring = NULL;
  r->cap = 0;
  r->head = 0;
  r->len = 0;
  r->mem = NULL;

  if (cap == 0 || cap > RUDP_RANGES_MAX_CAP) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }

  if (mem == NULL) {
    mem = rudp_mem_default();
  }

  r->ring = rudp_mem_malloc(mem, cap * sizeof(r->ring[0]));
  if (r->ring == NULL) {
    return RUDP_ERR_NOMEM;
  }

  r->cap = cap;
  r->mem = mem;

  return 0;
}

void rudp_ranges_free(rudp_ranges *r) {
  if (r == NULL || r->ring == NULL) {
    return;
  }

  rudp_mem_free(r->mem, r->ring);
  r->ring = NULL;
  r->cap = 0;
  r->head = 0;
  r->len = 0;
}

int rudp_ranges_add(rudp_ranges *r, uint64_t pn) {
  rudp_range *newest, *left, *right;
  size_t j;
  int join_left, join_right;

  if (pn > RUDP_MAX_VARINT) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }

  /*
   * Every stored hi is at most RUDP_MAX_VARINT < UINT64_MAX, so hi + 1
   * below cannot wrap, and neither can pn + 1.
   */

  if (r->len == 0) {
    r->head = 0;
    r->ring[0].lo = pn;
    r->ring[0].hi = pn;
    r->len = 1;
    return 1;
  }

  /* Fast path, O(1): |pn| is at or above the newest range's start. */
  newest = ranges_at(r, r->len - 1);
  if (rudp_likely(pn >= newest->lo)) {
    if (pn <= newest->hi) {
      return 0;
    }
    if (pn == newest->hi + 1) {
      newest->hi = pn;
      return 1;
    }
    if (r->len == r->cap) {
      ranges_drop_oldest(r);
    }
    newest = ranges_at(r, r->len);
    newest->lo = pn;
    newest->hi = pn;
    ++r->len;
    return 1;
  }

  /*
   * Reordered: pn < newest->lo, so j < len and ranges_at(r, j) is the first
   * range entirely above |pn|; the one before it (if any) starts at or
   * below |pn|.
   */
  j = ranges_upper_bound(r, pn);
  assert(j < r->len);

  left = j > 0 ? ranges_at(r, j - 1) : NULL;
  right = ranges_at(r, j);

  if (left != NULL && pn <= left->hi) {
    return 0;
  }

  join_left = left != NULL && left->hi + 1 == pn;
  join_right = pn + 1 == right->lo;

  if (join_left && join_right) {
    /* |pn| fills the one-packet hole between two ranges. */
    left->hi = right->hi;
    ranges_erase(r, j);
    return 1;
  }
  if (join_left) {
    left->hi = pn;
    return 1;
  }
  if (join_right) {
    right->lo = pn;
    return 1;
  }

  /* |pn| needs a range of its own. */
  if (r->len == r->cap) {
    if (j == 0) {
      /* It would be the oldest range, the one eviction would drop. */
      return 0;
    }
    ranges_drop_oldest(r);
    --j;
  }

  ranges_insert(r, j, pn);

  return 1;
}

int rudp_ranges_contains(const rudp_ranges *r, uint64_t pn) {
  size_t j;

  if (r->len == 0 || pn < ranges_at(r, 0)->lo ||
      pn > ranges_at(r, r->len - 1)->hi) {
    return 0;
  }

  j = ranges_upper_bound(r, pn);

  /* pn >= the oldest lo, so j >= 1. */
  return pn <= ranges_at(r, j - 1)->hi;
}

void rudp_ranges_remove_below(rudp_ranges *r, uint64_t pn) {
  rudp_range *oldest;

  while (r->len > 0) {
    oldest = ranges_at(r, 0);
    if (oldest->hi >= pn) {
      /* Trim the range straddling |pn|; the rest are above it. */
      oldest->lo = rudp_max(oldest->lo, pn);
      return;
    }
    ranges_drop_oldest(r);
  }
}

size_t rudp_ranges_len(const rudp_ranges *r) { return r->len; }

const rudp_range *rudp_ranges_get(const rudp_ranges *r, size_t i) {
  assert(i < r->len);

  return ranges_at(r, r->len - 1 - i);
}

int rudp_ranges_largest(const rudp_ranges *r, uint64_t *ppn) {
  if (r->len == 0) {
    return RUDP_ERR_INVALID_STATE;
  }

  *ppn = ranges_at(r, r->len - 1)->hi;

  return 0;
}

void rudp_ranges_clear(rudp_ranges *r) {
  r->head = 0;
  r->len = 0;
}

int rudp_ranges_check(const rudp_ranges *r) {
  const rudp_range *prev = NULL, *cur;
  size_t i;

  if (r->ring == NULL || r->cap == 0 || r->cap > RUDP_RANGES_MAX_CAP ||
      r->head >= r->cap || r->len > r->cap) {
    return 0;
  }

  for (i = 0; i < r->len; ++i) {
    cur = ranges_at(r, i);
    if (cur->lo > cur->hi || cur->hi > RUDP_MAX_VARINT) {
      return 0;
    }
    /* prev->hi <= RUDP_MAX_VARINT was checked, so + 1 cannot wrap. */
    if (prev != NULL && cur->lo <= prev->hi + 1) {
      return 0;
    }
    prev = cur;
  }

  return 1;
}
