/*
 * Interval set of half-open 64-bit ranges.
 *
 * The ranges live in v[head .. head + len - 1].  The expected traffic is
 * in-order: data arrives (or is sent) at the end and is delivered (or
 * acknowledged) from the front.  So:
 *
 * - removing from the front only advances |head|;
 * - appending writes the slot after the last range; when the tail of the
 *   array is used up, the live ranges are moved back to slot 0 if at least
 *   |len| slots are free at the front (the move costs len and is paid for
 *   by the >= len front removals that freed them), otherwise the array
 *   doubles;
 * - an insertion or deletion in the middle moves whichever side of the
 *   position is shorter, using the free slots before |head| when useful.
 *
 * All searches exploit that, with disjoint sorted ranges, both the lo and
 * the hi bounds are strictly increasing along the array.
 */
#include "rudp_iset.h"

#include <assert.h>
#include <string.h>

#include "rudp_macro.h"
#include "rudp_mem.h"

/* ISET_INITIAL_CAP is the capacity of the first allocation. */
#define ISET_INITIAL_CAP 4

void rudp_iset_init(rudp_iset *s, size_t max_ranges, const rudp_mem *mem) {
  s->v = NULL;
  s->head = 0;
  s->len = 0;
  s->cap = 0;
  s->max_ranges = max_ranges;
  s->mem = mem ? mem : rudp_mem_default();
}

void rudp_iset_free(rudp_iset *s) {
  if (!s) {
    return;
  }
  rudp_mem_free(s->mem, s->v);
  s->v = NULL;
  s->head = 0;
  s->len = 0;
  s->cap = 0;
}

/* iset_at returns the i-th range (logical index; i <= len for writes). */
static rudp_ival *iset_at(const rudp_iset *s, size_t i) {
  return &s->v[s->head + i];
}

/* iset_key returns v[i].hi if |use_hi|, else v[i].lo. */
static uint64_t iset_key(const rudp_iset *s, size_t i, int use_hi) {
  const rudp_ival *r = iset_at(s, i);
  return use_hi ? r->hi : r->lo;
}

/*
 * iset_bsearch returns the first logical index in [lo, hi) whose key (hi
 * bound if |use_hi|, else lo bound) is greater than |x|, or |hi| if none;
 * keys at indices below |lo| must be <= x.
 */
static size_t iset_bsearch(const rudp_iset *s, size_t lo, size_t hi, uint64_t x,
                           int use_hi) {
  size_t mid;

  while (lo < hi) {
    mid = lo + (hi - lo) / 2;
    if (iset_key(s, mid, use_hi) <= x) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/*
 * iset_gallop is iset_bsearch over [from, len) probing from + 0, 1, 3, 7,
 * ... first, so it costs O(log k) where k is the distance to the answer.
 * Removals and merges use it: the k ranges it skips are about to be
 * deleted, so front removal stays O(1) amortized.
 */
static size_t iset_gallop(const rudp_iset *s, size_t from, uint64_t x,
                          int use_hi) {
  size_t lo = from, step = 1, probe;

  while (lo < s->len) {
    probe = lo + step - 1;
    if (probe >= s->len) {
      break;
    }
    if (iset_key(s, probe, use_hi) > x) {
      return iset_bsearch(s, lo, probe, x, use_hi);
    }
    lo = probe + 1;
    step *= 2;
  }
  return iset_bsearch(s, lo, s->len, x, use_hi);
}

/* iset_find returns the index of the first range with hi > x (or len). */
static size_t iset_find(const rudp_iset *s, uint64_t x) {
  return iset_bsearch(s, 0, s->len, x, 1);
}

/* iset_compact moves the ranges to the start of the array. */
static void iset_compact(rudp_iset *s) {
  if (s->head == 0) {
    return;
  }
  memmove(s->v, s->v + s->head, s->len * sizeof(rudp_ival));
  s->head = 0;
}

/*
 * iset_reserve_back makes v[head + len] available, either by compacting
 * (when at least |len| slots are free at the front, so the move is paid
 * for) or by doubling the array.  The set is unchanged either way; on
 * RUDP_ERR_NOMEM nothing moved.
 */
static int iset_reserve_back(rudp_iset *s) {
  size_t newcap;
  rudp_ival *p;

  assert(s->head + s->len == s->cap);
  if (s->head > 0 && s->head >= s->len) {
    iset_compact(s);
    return 0;
  }

  newcap = s->cap ? s->cap * 2 : ISET_INITIAL_CAP;
  /*
   * len never exceeds max_ranges, so 2 * max_ranges slots are enough for
   * the compaction above to always be paid for; more would be waste.
   * The caller has checked len < max_ranges, so newcap stays > cap.
   */
  if (s->max_ranges && s->max_ranges <= SIZE_MAX / 2 &&
      newcap > 2 * s->max_ranges) {
    newcap = 2 * s->max_ranges;
  }
  if (newcap <= s->cap || newcap > SIZE_MAX / sizeof(rudp_ival)) {
    return RUDP_ERR_NOMEM;
  }

  if (s->v) {
    p = rudp_mem_realloc(s->mem, s->v, newcap * sizeof(rudp_ival));
  } else {
    p = rudp_mem_malloc(s->mem, newcap * sizeof(rudp_ival));
  }
  if (!p) {
    return RUDP_ERR_NOMEM;
  }
  s->v = p;
  s->cap = newcap;
  iset_compact(s);
  return 0;
}

/*
 * iset_insert puts [lo, hi) at logical index |idx| (0 <= idx <= len).  The
 * caller guarantees it fits between its neighbours.  Returns 0,
 * RUDP_ERR_NOBUF or RUDP_ERR_NOMEM; on error the set is unchanged.
 */
static int iset_insert(rudp_iset *s, size_t idx, uint64_t lo, uint64_t hi) {
  size_t nfront = idx, nback = s->len - idx;
  int back_ok, front_ok, use_back, rv;
  rudp_ival *r;

  assert(idx <= s->len);

  if (s->max_ranges && s->len >= s->max_ranges) {
    return RUDP_ERR_NOBUF;
  }

  back_ok = s->head + s->len < s->cap;
  front_ok = s->head > 0;

  if (back_ok && (!front_ok || nback <= nfront)) {
    use_back = 1;
  } else if (front_ok && nfront <= nback) {
    use_back = 0;
  } else {
    /*
     * The cheap side has no free slot.  Shifting the long side into the
     * front gap would cost O(len) per append once the tail is full, so
     * make room at the back instead (compaction or growth), falling back
     * to the front gap only when the allocation fails.
     */
    rv = iset_reserve_back(s);
    if (rv != 0 && !front_ok) {
      return rv;
    }
    use_back = rv == 0;
  }

  if (use_back) {
    memmove(iset_at(s, idx + 1), iset_at(s, idx), nback * sizeof(rudp_ival));
  } else {
    --s->head;
    memmove(iset_at(s, 0), iset_at(s, 1), nfront * sizeof(rudp_ival));
  }
  ++s->len;

  r = iset_at(s, idx);
  r->lo = lo;
  r->hi = hi;
  return 0;
}

/* iset_erase deletes the ranges [a, b) (logical indices, a <= b <= len). */
static void iset_erase(rudp_iset *s, size_t a, size_t b) {
  size_t k = b - a;

  assert(a <= b && b <= s->len);

  if (k == 0) {
    return;
  }
  if (a < s->len - b) {
    /* Fewer ranges before the hole: slide them up and advance head. */
    memmove(iset_at(s, k), iset_at(s, 0), a * sizeof(rudp_ival));
    s->head += k;
  } else {
    memmove(iset_at(s, a), iset_at(s, b), (s->len - b) * sizeof(rudp_ival));
  }
  s->len -= k;
  if (s->len == 0) {
    s->head = 0;
  }
}

int rudp_iset_add(rudp_iset *s, uint64_t lo, uint64_t hi) {
  size_t i, j;
  rudp_ival *r, *last;

  if (lo >= hi) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }

  if (s->len == 0) {
    return iset_insert(s, 0, lo, hi);
  }

  /* In-order fast paths: a new last range, or growing the last one. */
  last = iset_at(s, s->len - 1);
  if (lo > last->hi) {
    return iset_insert(s, s->len, lo, hi);
  }
  if (lo >= last->lo) {
    last->hi = rudp_max(last->hi, hi);
    return 0;
  }

  /*
   * Ranges [i, j) touch [lo, hi): hi >= lo merges (adjacent counts), and
   * so does lo <= hi.
   */
  i = lo == 0 ? 0 : iset_find(s, lo - 1);
  j = iset_gallop(s, i, hi, 0);

  if (i == j) {
    return iset_insert(s, i, lo, hi);
  }

  /* A merge never needs a slot, so it never fails the bound. */
  r = iset_at(s, i);
  r->lo = rudp_min(r->lo, lo);
  r->hi = rudp_max(iset_at(s, j - 1)->hi, hi);
  iset_erase(s, i + 1, j);
  return 0;
}

int rudp_iset_remove(rudp_iset *s, uint64_t lo, uint64_t hi) {
  size_t i, j, a, b;
  rudp_ival *r;
  int rv;

  if (lo >= hi) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }

  /* Ranges [i, j) overlap [lo, hi): hi > lo and lo < hi (lo <= hi - 1). */
  i = iset_gallop(s, 0, lo, 1);
  j = iset_gallop(s, i, hi - 1, 0);

  if (i == j) {
    return 0;
  }

  r = iset_at(s, i);
  if (j - i == 1 && r->lo < lo && r->hi > hi) {
    /* Punching a hole: the right part needs a new slot. */
    rv = iset_insert(s, i + 1, hi, r->hi);
    if (rv != 0) {
      return rv;
    }
    iset_at(s, i)->hi = lo;
    return 0;
  }

  a = i;
  b = j;
  if (r->lo < lo) {
    r->hi = lo;
    ++a;
  }
  r = iset_at(s, j - 1);
  if (r->hi > hi) {
    r->lo = hi;
    --b;
  }
  iset_erase(s, a, b);
  return 0;
}

void rudp_iset_remove_below(rudp_iset *s, uint64_t x) {
  size_t i = iset_gallop(s, 0, x, 1);
  rudp_ival *r;

  iset_erase(s, 0, i);
  if (s->len > 0) {
    r = iset_at(s, 0);
    if (r->lo < x) {
      r->lo = x;
    }
  }
}

int rudp_iset_contains(const rudp_iset *s, uint64_t x) {
  size_t i = iset_find(s, x);

  return i < s->len && iset_at(s, i)->lo <= x;
}

uint64_t rudp_iset_end_from(const rudp_iset *s, uint64_t x) {
  size_t i = iset_find(s, x);
  const rudp_ival *r;

  if (i == s->len) {
    return x;
  }
  r = iset_at(s, i);
  return r->lo <= x ? r->hi : x;
}

const rudp_ival *rudp_iset_first_at_or_after(const rudp_iset *s, uint64_t x) {
  size_t i = iset_find(s, x);

  return i < s->len ? iset_at(s, i) : NULL;
}

uint64_t rudp_iset_covered(const rudp_iset *s, uint64_t lo, uint64_t hi) {
  uint64_t n = 0;
  size_t i;
  const rudp_ival *r;

  if (lo >= hi) {
    return 0;
  }
  for (i = iset_find(s, lo); i < s->len; ++i) {
    r = iset_at(s, i);
    if (r->lo >= hi) {
      break;
    }
    n += rudp_min(r->hi, hi) - rudp_max(r->lo, lo);
  }
  return n;
}

size_t rudp_iset_len(const rudp_iset *s) { return s->len; }

const rudp_ival *rudp_iset_get(const rudp_iset *s, size_t i) {
  assert(i < s->len);
  return iset_at(s, i);
}

void rudp_iset_clear(rudp_iset *s) {
  s->head = 0;
  s->len = 0;
}

int rudp_iset_check(const rudp_iset *s) {
  size_t i;
  const rudp_ival *r;

  if (s->head > s->cap || s->len > s->cap - s->head) {
    return 0;
  }
  if (s->cap > 0 && !s->v) {
    return 0;
  }
  if (s->max_ranges && s->len > s->max_ranges) {
    return 0;
  }
  for (i = 0; i < s->len; ++i) {
    r = iset_at(s, i);
    if (r->lo >= r->hi) {
      return 0;
    }
    /* Strictly greater: equal would be adjacent ranges left unmerged. */
    if (i > 0 && r->lo <= iset_at(s, i - 1)->hi) {
      return 0;
    }
  }
  return 1;
}
