/*
 * Tests for the ACK range set (lib/rudp_ranges.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "rudp_ranges.h"
#include "rudp_macro.h"
#include "rudp_test_helper.h"

/* assert_ranges checks |r| holds exactly |exp| (|n| ranges, newest first). */
static void assert_ranges(const rudp_ranges *r, const rudp_range *exp,
                          size_t n) {
  size_t i;
  const rudp_range *got;

  assert_int_equal(1, rudp_ranges_check(r));
  assert_int_equal(n, rudp_ranges_len(r));
  for (i = 0; i < n; ++i) {
    got = rudp_ranges_get(r, i);
    assert_int_equal(exp[i].lo, got->lo);
    assert_int_equal(exp[i].hi, got->hi);
  }
}

/* add_all adds each of |pns| and expects rudp_ranges_add to return 1. */
static void add_all(rudp_ranges *r, const uint64_t *pns, size_t n) {
  size_t i;

  for (i = 0; i < n; ++i) {
    assert_int_equal(1, rudp_ranges_add(r, pns[i]));
  }
}

/* -------------------------------------------------------------- tests */

static void test_rudp_ranges_init_bounds(void **state) {
  rudp_ranges r;
  (void)state;

  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT, rudp_ranges_init(&r, 0, NULL));
  /* A failed init leaves |r| safe to free. */
  rudp_ranges_free(&r);
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT,
                   rudp_ranges_init(&r, RUDP_RANGES_MAX_CAP + 1, NULL));
  rudp_ranges_free(&r);
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT,
                   rudp_ranges_init(&r, SIZE_MAX, NULL));

  assert_int_equal(0, rudp_ranges_init(&r, 1, NULL));
  assert_int_equal(1, r.cap);
  assert_int_equal(0, rudp_ranges_len(&r));
  assert_int_equal(1, rudp_ranges_check(&r));
  rudp_ranges_free(&r);

  assert_int_equal(0, rudp_ranges_init(&r, RUDP_RANGES_MAX_CAP, NULL));
  assert_int_equal(RUDP_RANGES_MAX_CAP, r.cap);
  assert_int_equal(1, rudp_ranges_check(&r));
  rudp_ranges_free(&r);
  /* Freeing twice, or NULL, is harmless. */
  rudp_ranges_free(&r);
  rudp_ranges_free(NULL);
}

static void test_rudp_ranges_custom_mem(void **state) {
  rudp_ranges r;
  rudp_test_mem cm;
  uint64_t pn;
  (void)state;

  rudp_test_mem_init(&cm);
  assert_int_equal(0, rudp_ranges_init(&r, 4, &cm.mem));
  assert_ptr_equal(&cm.mem, r.mem);
  /* Gaps, evictions, reordered inserts, merges and trims allocate nothing. */
  for (pn = 0; pn < 200; pn += 3) {
    assert_int_equal(1, rudp_ranges_add(&r, pn));
  }
  assert_int_equal(1, rudp_ranges_add(&r, 194));
  assert_int_equal(1, rudp_ranges_add(&r, 196));
  assert_int_equal(1, rudp_ranges_add(&r, 197));
  rudp_ranges_remove_below(&r, 197);
  rudp_ranges_clear(&r);
  assert_int_equal(1, rudp_ranges_check(&r));
  assert_int_equal(1, cm.nmalloc + cm.ncalloc);
  assert_int_equal(0, cm.nrealloc);
  assert_int_equal(0, cm.nfree);

  rudp_ranges_free(&r);
  assert_int_equal(1, cm.nmalloc + cm.ncalloc);
  assert_int_equal(0, cm.nrealloc);
  assert_int_equal(1, cm.nfree);
}

static void test_rudp_ranges_init_nomem(void **state) {
  rudp_ranges r;
  rudp_test_mem cm;
  (void)state;

  rudp_test_mem_init(&cm);
  cm.fail = 1;
  assert_int_equal(RUDP_ERR_NOMEM, rudp_ranges_init(&r, 8, &cm.mem));
  rudp_ranges_free(&r);
  assert_int_equal(0, cm.nfree);
}

static void test_rudp_ranges_in_order(void **state) {
  rudp_ranges r;
  uint64_t pn, largest;
  static const rudp_range exp[] = {{0, 999}};
  (void)state;

  assert_int_equal(0, rudp_ranges_init(&r, 2, NULL));
  for (pn = 0; pn < 1000; ++pn) {
    assert_int_equal(1, rudp_ranges_add(&r, pn));
  }
  assert_ranges(&r, exp, rudp_arraylen(exp));
  assert_int_equal(0, rudp_ranges_largest(&r, &largest));
  assert_int_equal(999, largest);
  rudp_ranges_free(&r);
}

static void test_rudp_ranges_gaps_newest_first(void **state) {
  rudp_ranges r;
  static const uint64_t pns[] = {1, 2, 3, 5, 6, 10, 20, 21, 22};
  static const rudp_range exp[] = {{20, 22}, {10, 10}, {5, 6}, {1, 3}};
  uint64_t largest;
  (void)state;

  assert_int_equal(0, rudp_ranges_init(&r, 8, NULL));
  add_all(&r, pns, rudp_arraylen(pns));
  assert_ranges(&r, exp, rudp_arraylen(exp));
  assert_int_equal(0, rudp_ranges_largest(&r, &largest));
  assert_int_equal(22, largest);
  rudp_ranges_free(&r);
}

static void test_rudp_ranges_out_of_order_insert(void **state) {
  rudp_ranges r;
  static const uint64_t pns[] = {50, 10, 30, 40, 20, 0};
  static const rudp_range exp[] = {{50, 50}, {40, 40}, {30, 30},
                                   {20, 20}, {10, 10}, {0, 0}};
  static const rudp_range exp2[] = {{49, 50}, {40, 41}, {30, 30},
                                    {20, 20}, {9, 10},  {0, 0}};
  (void)state;

  assert_int_equal(0, rudp_ranges_init(&r, 8, NULL));
  add_all(&r, pns, rudp_arraylen(pns));
  assert_ranges(&r, exp, rudp_arraylen(exp));

  /* Extending one neighbour, below or above, does not create a range. */
  assert_int_equal(1, rudp_ranges_add(&r, 49));
  assert_int_equal(1, rudp_ranges_add(&r, 41));
  assert_int_equal(1, rudp_ranges_add(&r, 9));
  assert_ranges(&r, exp2, rudp_arraylen(exp2));
  rudp_ranges_free(&r);
}

static void test_rudp_ranges_fill_hole_merges(void **state) {
  rudp_ranges r;
  static const uint64_t pns[] = {1, 2, 4, 5, 7, 9, 10};
  static const rudp_range exp1[] = {{9, 10}, {7, 7}, {1, 5}};
  static const rudp_range exp2[] = {{1, 10}};
  (void)state;

  assert_int_equal(0, rudp_ranges_init(&r, 8, NULL));
  add_all(&r, pns, rudp_arraylen(pns));
  assert_int_equal(4, rudp_ranges_len(&r));

  /* 3 joins [1, 2] and [4, 5] into one range. */
  assert_int_equal(1, rudp_ranges_add(&r, 3));
  assert_ranges(&r, exp1, rudp_arraylen(exp1));

  assert_int_equal(1, rudp_ranges_add(&r, 8));
  assert_int_equal(2, rudp_ranges_len(&r));
  assert_int_equal(1, rudp_ranges_add(&r, 6));
  assert_ranges(&r, exp2, rudp_arraylen(exp2));
  rudp_ranges_free(&r);
}

static void test_rudp_ranges_duplicate(void **state) {
  rudp_ranges r;
  static const uint64_t pns[] = {3, 4, 5, 8, 12, 13};
  static const rudp_range exp[] = {{12, 13}, {8, 8}, {3, 5}};
  static const uint64_t dups[] = {3, 4, 5, 8, 12, 13};
  size_t i;
  (void)state;

  assert_int_equal(0, rudp_ranges_init(&r, 3, NULL));
  add_all(&r, pns, rudp_arraylen(pns));
  for (i = 0; i < rudp_arraylen(dups); ++i) {
    assert_int_equal(0, rudp_ranges_add(&r, dups[i]));
  }
  /* The set is full: duplicates must not evict anything either. */
  assert_ranges(&r, exp, rudp_arraylen(exp));
  rudp_ranges_free(&r);
}

static void test_rudp_ranges_evict_oldest(void **state) {
  rudp_ranges r;
  static const uint64_t in_order[] = {0, 2, 4, 6};
  static const uint64_t middle[] = {0, 2, 6, 4};
  static const uint64_t above_oldest[] = {0, 4, 8, 2};
  static const rudp_range exp1[] = {{6, 6}, {4, 4}, {2, 2}};
  static const rudp_range exp2[] = {{4, 6}, {2, 2}};
  static const rudp_range exp3[] = {{8, 8}, {4, 4}, {2, 2}};
  (void)state;

  /* In order, full: [0, 0] is forgotten. */
  assert_int_equal(0, rudp_ranges_init(&r, 3, NULL));
  add_all(&r, in_order, rudp_arraylen(in_order));
  assert_ranges(&r, exp1, rudp_arraylen(exp1));
  assert_int_equal(0, rudp_ranges_contains(&r, 0));
  /* Forgotten numbers are not remembered as duplicates; 0 is simply lower
   * than every range of a full set. */
  assert_int_equal(0, rudp_ranges_add(&r, 0));
  assert_ranges(&r, exp1, rudp_arraylen(exp1));

  /* Out of order, full, a new range in the middle: the oldest still goes. */
  rudp_ranges_clear(&r);
  add_all(&r, middle, rudp_arraylen(middle));
  assert_ranges(&r, exp1, rudp_arraylen(exp1));

  /* Full, but 5 joins [4, 4] and [6, 6]: nothing is evicted. */
  assert_int_equal(1, rudp_ranges_add(&r, 5));
  assert_ranges(&r, exp2, rudp_arraylen(exp2));

  /* Full, a new range just above the oldest, which it replaces. */
  rudp_ranges_clear(&r);
  add_all(&r, above_oldest, rudp_arraylen(above_oldest));
  assert_ranges(&r, exp3, rudp_arraylen(exp3));
  rudp_ranges_free(&r);
}

static void test_rudp_ranges_full_lower_than_all(void **state) {
  rudp_ranges r;
  static const uint64_t pns[] = {10, 20, 30};
  static const rudp_range exp[] = {{30, 30}, {20, 20}, {10, 10}};
  static const rudp_range exp2[] = {{30, 30}, {20, 20}, {9, 10}};
  (void)state;

  assert_int_equal(0, rudp_ranges_init(&r, 3, NULL));
  add_all(&r, pns, rudp_arraylen(pns));

  /* It would be the oldest range, the one that eviction drops. */
  assert_int_equal(0, rudp_ranges_add(&r, 5));
  assert_int_equal(0, rudp_ranges_add(&r, 0));
  assert_int_equal(0, rudp_ranges_add(&r, 8));
  assert_ranges(&r, exp, rudp_arraylen(exp));
  assert_int_equal(0, rudp_ranges_contains(&r, 5));

  /* Adjacent to the lowest range: it extends it, no new range needed. */
  assert_int_equal(1, rudp_ranges_add(&r, 9));
  assert_ranges(&r, exp2, rudp_arraylen(exp2));

  /* Not full: a lower number gets its own range. */
  rudp_ranges_remove_below(&r, 11);
  assert_int_equal(2, rudp_ranges_len(&r));
  assert_int_equal(1, rudp_ranges_add(&r, 5));
  assert_int_equal(3, rudp_ranges_len(&r));
  assert_int_equal(5, rudp_ranges_get(&r, 2)->lo);
  rudp_ranges_free(&r);
}

static void test_rudp_ranges_cap_one(void **state) {
  rudp_ranges r;
  static const rudp_range exp1[] = {{5, 7}};
  static const rudp_range exp2[] = {{9, 9}};
  static const rudp_range exp3[] = {{8, 9}};
  (void)state;

  assert_int_equal(0, rudp_ranges_init(&r, 1, NULL));
  assert_int_equal(1, rudp_ranges_add(&r, 6));
  assert_int_equal(1, rudp_ranges_add(&r, 7));
  assert_int_equal(1, rudp_ranges_add(&r, 5));
  assert_int_equal(0, rudp_ranges_add(&r, 3));
  assert_ranges(&r, exp1, rudp_arraylen(exp1));
  assert_int_equal(1, rudp_ranges_add(&r, 9));
  assert_ranges(&r, exp2, rudp_arraylen(exp2));
  assert_int_equal(1, rudp_ranges_add(&r, 8));
  assert_ranges(&r, exp3, rudp_arraylen(exp3));
  rudp_ranges_free(&r);
}

static void test_rudp_ranges_ring_wrap(void **state) {
  rudp_ranges r;
  uint64_t pn;
  size_t i;
  static const rudp_range exp1[] = {{38, 38}, {36, 36}, {32, 34}, {30, 30},
                                    {28, 28}, {26, 26}, {24, 24}};
  static const rudp_range exp2[] = {{38, 38}, {36, 36}, {32, 34}, {30, 30},
                                    {28, 28}, {26, 26}, {22, 22}};
  static const rudp_range exp3[] = {{40, 40}, {38, 38}, {32, 36}, {28, 30},
                                    {26, 26}, {24, 24}, {22, 22}, {20, 20}};
  (void)state;

  assert_int_equal(0, rudp_ranges_init(&r, 8, NULL));
  /* 20 ranges through 8 slots: head has moved to slot 4, so logical
   * entries 0-3 sit in slots 4-7 and entries 4-7 in slots 0-3. */
  for (pn = 0; pn <= 38; pn += 2) {
    assert_int_equal(1, rudp_ranges_add(&r, pn));
  }
  assert_int_equal(8, rudp_ranges_len(&r));
  assert_int_equal(4, r.head);

  /* Every range, each side of the wrap point, is found. */
  for (i = 0; i < 8; ++i) {
    assert_int_equal(1, rudp_ranges_contains(&r, 24 + 2 * i));
    assert_int_equal(0, rudp_ranges_contains(&r, 25 + 2 * i));
  }

  /* 33 joins [32, 32] and [34, 34]: an erase across the wrap point. */
  assert_int_equal(1, rudp_ranges_add(&r, 33));
  assert_ranges(&r, exp1, rudp_arraylen(exp1));

  /* 22 becomes the oldest, growing the ring backwards. */
  rudp_ranges_remove_below(&r, 25);
  assert_int_equal(1, rudp_ranges_add(&r, 22));
  assert_ranges(&r, exp2, rudp_arraylen(exp2));

  /* More merges, then inserts at the front, middle and back. */
  assert_int_equal(1, rudp_ranges_add(&r, 35));
  assert_int_equal(1, rudp_ranges_add(&r, 29));
  assert_int_equal(5, rudp_ranges_len(&r));
  assert_int_equal(1, rudp_ranges_add(&r, 24));
  assert_int_equal(1, rudp_ranges_add(&r, 40));
  assert_int_equal(1, rudp_ranges_add(&r, 20));
  assert_ranges(&r, exp3, rudp_arraylen(exp3));
  rudp_ranges_free(&r);
}

static void test_rudp_ranges_remove_below(void **state) {
  rudp_ranges r;
  static const uint64_t pns[] = {1, 2, 3, 5, 6, 10, 20, 21, 22};
  static const rudp_range all[] = {{20, 22}, {10, 10}, {5, 6}, {1, 3}};
  static const rudp_range straddle[] = {{20, 22}, {10, 10}, {6, 6}};
  static const rudp_range gap[] = {{20, 22}, {10, 10}};
  static const rudp_range top[] = {{22, 22}};
  (void)state;

  assert_int_equal(0, rudp_ranges_init(&r, 8, NULL));
  add_all(&r, pns, rudp_arraylen(pns));

  /* Below every range: nothing changes (1 itself is kept). */
  rudp_ranges_remove_below(&r, 0);
  rudp_ranges_remove_below(&r, 1);
  assert_ranges(&r, all, rudp_arraylen(all));

  /* Straddling [5, 6]: [1, 3] goes, [5, 6] is trimmed to [6, 6]. */
  rudp_ranges_remove_below(&r, 6);
  assert_ranges(&r, straddle, rudp_arraylen(straddle));

  /* In a gap: the ranges below go whole. */
  rudp_ranges_remove_below(&r, 8);
  assert_ranges(&r, gap, rudp_arraylen(gap));

  /* Equal to hi of the newest range. */
  rudp_ranges_remove_below(&r, 22);
  assert_ranges(&r, top, rudp_arraylen(top));

  /* Above every range: the set empties. */
  rudp_ranges_remove_below(&r, 23);
  assert_int_equal(0, rudp_ranges_len(&r));
  assert_int_equal(1, rudp_ranges_check(&r));
  rudp_ranges_remove_below(&r, 100);
  assert_int_equal(0, rudp_ranges_len(&r));

  /* Usable again afterwards. */
  assert_int_equal(1, rudp_ranges_add(&r, 7));
  assert_int_equal(1, rudp_ranges_len(&r));
  rudp_ranges_add(&r, 8);
  rudp_ranges_remove_below(&r, UINT64_MAX);
  assert_int_equal(0, rudp_ranges_len(&r));
  rudp_ranges_free(&r);
}

static void test_rudp_ranges_largest_empty(void **state) {
  rudp_ranges r;
  uint64_t largest = 12345;
  (void)state;

  assert_int_equal(0, rudp_ranges_init(&r, 4, NULL));
  assert_int_equal(RUDP_ERR_INVALID_STATE, rudp_ranges_largest(&r, &largest));
  assert_int_equal(12345, largest);
  assert_int_equal(0, rudp_ranges_contains(&r, 0));

  assert_int_equal(1, rudp_ranges_add(&r, 0));
  assert_int_equal(0, rudp_ranges_largest(&r, &largest));
  assert_int_equal(0, largest);

  rudp_ranges_clear(&r);
  assert_int_equal(RUDP_ERR_INVALID_STATE, rudp_ranges_largest(&r, &largest));
  rudp_ranges_free(&r);
}

static void test_rudp_ranges_contains(void **state) {
  rudp_ranges r;
  static const uint64_t pns[] = {1, 2, 3, 5, 6, 10, 20, 21, 22};
  static const uint64_t in[] = {1, 2, 3, 5, 6, 10, 20, 21, 22};
  static const uint64_t out[] = {0, 4, 7, 9, 11, 19, 23, UINT64_MAX};
  size_t i;
  (void)state;

  assert_int_equal(0, rudp_ranges_init(&r, 8, NULL));
  add_all(&r, pns, rudp_arraylen(pns));
  for (i = 0; i < rudp_arraylen(in); ++i) {
    assert_int_not_equal(0, rudp_ranges_contains(&r, in[i]));
  }
  for (i = 0; i < rudp_arraylen(out); ++i) {
    assert_int_equal(0, rudp_ranges_contains(&r, out[i]));
  }
  rudp_ranges_free(&r);
}

static void test_rudp_ranges_max_pn(void **state) {
  rudp_ranges r;
  uint64_t largest;
  static const rudp_range exp1[] = {{RUDP_MAX_VARINT, RUDP_MAX_VARINT},
                                    {RUDP_MAX_VARINT - 2, RUDP_MAX_VARINT - 2}};
  static const rudp_range exp2[] = {{RUDP_MAX_VARINT - 2, RUDP_MAX_VARINT}};
  (void)state;

  assert_int_equal(0, rudp_ranges_init(&r, 2, NULL));
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT,
                   rudp_ranges_add(&r, RUDP_MAX_VARINT + 1));
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT, rudp_ranges_add(&r, UINT64_MAX));
  assert_int_equal(0, rudp_ranges_len(&r));

  assert_int_equal(1, rudp_ranges_add(&r, RUDP_MAX_VARINT));
  assert_int_equal(0, rudp_ranges_add(&r, RUDP_MAX_VARINT));
  assert_int_equal(1, rudp_ranges_add(&r, RUDP_MAX_VARINT - 2));
  assert_ranges(&r, exp1, rudp_arraylen(exp1));
  assert_int_equal(0, rudp_ranges_largest(&r, &largest));
  assert_int_equal(RUDP_MAX_VARINT, largest);

  /* Fills the hole right below the maximum. */
  assert_int_equal(1, rudp_ranges_add(&r, RUDP_MAX_VARINT - 1));
  assert_ranges(&r, exp2, rudp_arraylen(exp2));
  assert_int_equal(0, rudp_ranges_contains(&r, RUDP_MAX_VARINT + 1));
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT,
                   rudp_ranges_add(&r, RUDP_MAX_VARINT + 1));
  assert_ranges(&r, exp2, rudp_arraylen(exp2));

  rudp_ranges_remove_below(&r, RUDP_MAX_VARINT);
  assert_int_equal(1, rudp_ranges_len(&r));
  assert_int_equal(RUDP_MAX_VARINT, rudp_ranges_get(&r, 0)->lo);
  rudp_ranges_remove_below(&r, RUDP_MAX_VARINT + 1);
  assert_int_equal(0, rudp_ranges_len(&r));
  rudp_ranges_free(&r);
}

static void test_rudp_ranges_clear(void **state) {
  rudp_ranges r;
  uint64_t pn;
  static const rudp_range exp[] = {{7, 7}};
  (void)state;

  assert_int_equal(0, rudp_ranges_init(&r, 4, NULL));
  for (pn = 0; pn < 40; pn += 3) {
    rudp_ranges_add(&r, pn);
  }
  rudp_ranges_clear(&r);
  assert_int_equal(0, rudp_ranges_len(&r));
  assert_int_equal(4, r.cap);
  assert_int_equal(0, rudp_ranges_contains(&r, 39));
  /* After a clear nothing is "lower than all": 7 is simply added. */
  assert_int_equal(1, rudp_ranges_add(&r, 7));
  assert_ranges(&r, exp, rudp_arraylen(exp));
  rudp_ranges_free(&r);
}

static void test_rudp_ranges_check_detects_corruption(void **state) {
  rudp_ranges r;
  static const uint64_t pns[] = {1, 2, 5, 9, 12};
  rudp_range saved;
  size_t head;
  (void)state;

  assert_int_equal(0, rudp_ranges_init(&r, 4, NULL));
  add_all(&r, pns, rudp_arraylen(pns));
  assert_int_equal(1, rudp_ranges_check(&r));
  head = r.head;

  /* Adjacent ranges: [1, 2] and [3, 5]. */
  saved = r.ring[(head + 1) % r.cap];
  r.ring[(head + 1) % r.cap].lo = 3;
  assert_int_equal(0, rudp_ranges_check(&r));
  /* Overlapping ranges. */
  r.ring[(head + 1) % r.cap].lo = 2;
  assert_int_equal(0, rudp_ranges_check(&r));
  /* lo > hi. */
  r.ring[(head + 1) % r.cap].lo = 6;
  assert_int_equal(0, rudp_ranges_check(&r));
  r.ring[(head + 1) % r.cap] = saved;
  assert_int_equal(1, rudp_ranges_check(&r));

  /* Out of order: the newest below the one before it. */
  saved = r.ring[(head + 3) % r.cap];
  r.ring[(head + 3) % r.cap].lo = 0;
  r.ring[(head + 3) % r.cap].hi = 0;
  assert_int_equal(0, rudp_ranges_check(&r));
  r.ring[(head + 3) % r.cap] = saved;

  /* Too large a packet number. */
  r.ring[(head + 3) % r.cap].hi = RUDP_MAX_VARINT + 1;
  assert_int_equal(0, rudp_ranges_check(&r));
  r.ring[(head + 3) % r.cap] = saved;

  /* Bookkeeping out of bounds. */
  r.len = 5;
  assert_int_equal(0, rudp_ranges_check(&r));
  r.len = 4;
  r.head = 4;
  assert_int_equal(0, rudp_ranges_check(&r));
  r.head = head;
  assert_int_equal(1, rudp_ranges_check(&r));
  rudp_ranges_free(&r);
}

/* ---------------------------------------------------- property test */

#define MODEL_MAXW 512

/*
 * model is the reference: a bitmap over [base, base + w) plus the eviction
 * rule stated on runs of set bits, written independently of the ring.
 */
typedef struct model {
  uint64_t base;
  size_t w;
  size_t cap;
  unsigned char bit[MODEL_MAXW];
} model;

/* model_runs writes the runs of set bits, newest first; returns the count. */
static size_t model_runs(const model *m, rudp_range *out) {
  size_t i = m->w, n = 0, hi;

  while (i > 0) {
    if (!m->bit[i - 1]) {
      --i;
      continue;
    }
    hi = i - 1;
    while (i > 0 && m->bit[i - 1]) {
      --i;
    }
    out[n].lo = m->base + i;
    out[n].hi = m->base + hi;
    ++n;
  }
  return n;
}

static int model_add(model *m, size_t off) {
  rudp_range runs[MODEL_MAXW];
  size_t n;
  uint64_t k;

  if (m->bit[off]) {
    return 0;
  }
  m->bit[off] = 1;
  n = model_runs(m, runs);
  if (n <= m->cap) {
    return 1;
  }
  /* One run too many: the lowest run goes, unless that is |off| itself. */
  if (runs[n - 1].lo == m->base + off) {
    m->bit[off] = 0;
    return 0;
  }
  for (k = runs[n - 1].lo; k <= runs[n - 1].hi; ++k) {
    m->bit[k - m->base] = 0;
  }
  return 1;
}

static void model_compare(const model *m, const rudp_ranges *r) {
  rudp_range runs[MODEL_MAXW];
  size_t n, i;
  uint64_t largest;
  const rudp_range *got;

  assert_int_equal(1, rudp_ranges_check(r));
  n = model_runs(m, runs);
  assert_int_equal(n, rudp_ranges_len(r));
  for (i = 0; i < n; ++i) {
    got = rudp_ranges_get(r, i);
    assert_int_equal(runs[i].lo, got->lo);
    assert_int_equal(runs[i].hi, got->hi);
  }
  for (i = 0; i < m->w; ++i) {
    assert_int_equal(m->bit[i] != 0, rudp_ranges_contains(r, m->base + i) != 0);
  }
  if (n == 0) {
    assert_int_equal(RUDP_ERR_INVALID_STATE, rudp_ranges_largest(r, &largest));
  } else {
    assert_int_equal(0, rudp_ranges_largest(r, &largest));
    assert_int_equal(runs[0].hi, largest);
  }
}

/*
 * gen_order fills |order| with distinct offsets in [0, w), each chosen with
 * probability |density|/256, arranged by |mode|: 0 shuffled, 1 ascending
 * with local reordering (the usual network case), 2 descending, 3 ascending.
 */
static size_t gen_order(rudp_test_rng *rng, size_t *order, size_t w,
                        unsigned density, unsigned mode) {
  size_t n = 0, i, j, t, span;

  for (i = 0; i < w; ++i) {
    if (rudp_test_rng_below(rng, 256) < density) {
      order[n++] = i;
    }
  }
  switch (mode) {
  case 0:
    for (i = n; i > 1; --i) {
      j = (size_t)rudp_test_rng_below(rng, i);
      t = order[i - 1];
      order[i - 1] = order[j];
      order[j] = t;
    }
    break;
  case 1:
    span = 1 + (size_t)rudp_test_rng_below(rng, 8);
    for (i = 0; i + 1 < n; ++i) {
      j = i + (size_t)rudp_test_rng_below(rng, rudp_min(span, n - i));
      t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    break;
  case 2:
    for (i = 0; i < n / 2; ++i) {
      t = order[i];
      order[i] = order[n - 1 - i];
      order[n - 1 - i] = t;
    }
    break;
  default:
    break;
  }
  return n;
}

static void test_rudp_ranges_property(void **state) {
  static const size_t widths[] = {8, 40, 200, MODEL_MAXW};
  static const unsigned densities[] = {40, 128, 220, 256};
  static model m;
  static size_t order[MODEL_MAXW];
  rudp_test_rng rng;
  rudp_ranges r;
  uint64_t seed, cut, extra;
  size_t n, i, off;
  int rv;
  (void)state;

  for (seed = 1; seed <= 400; ++seed) {
    rudp_test_rng_init(&rng, seed);
    memset(&m, 0, sizeof(m));
    m.w = widths[rudp_test_rng_below(&rng, rudp_arraylen(widths))];
    m.cap = 1 + (size_t)rudp_test_rng_below(&rng, 64);
    switch (rudp_test_rng_below(&rng, 4)) {
    case 0:
      m.base = 0;
      break;
    case 1:
      /* The window ends at the largest valid packet number. */
      m.base = RUDP_MAX_VARINT - m.w + 1;
      break;
    default:
      m.base = rudp_test_rng_below(&rng, RUDP_MAX_VARINT - m.w + 2);
      break;
    }

    assert_int_equal(0, rudp_ranges_init(&r, m.cap, NULL));
    n = gen_order(&rng, order, m.w, densities[rudp_test_rng_below(&rng, 4)],
                  (unsigned)rudp_test_rng_below(&rng, 4));
    /* A few repeats, so duplicates are exercised in every order. */
    extra = n / 8;
    for (i = 0; i < n + extra; ++i) {
      off = i < n ? order[i] : order[rudp_test_rng_below(&rng, n)];
      rv = rudp_ranges_add(&r, m.base + off);
      assert_int_equal(model_add(&m, off), rv);

      if (rudp_test_rng_below(&rng, 64) == 0) {
        /* remove_below, sometimes outside the window on either side. */
        cut = rudp_test_rng_below(&rng, m.w + 2);
        if (cut == 0 && m.base > 0) {
          rudp_ranges_remove_below(&r, m.base - 1);
        } else {
          cut = cut == 0 ? 0 : cut - 1;
          rudp_ranges_remove_below(&r, m.base + cut);
          memset(m.bit, 0, rudp_min((size_t)cut, m.w));
        }
      }
      model_compare(&m, &r);
    }
    rudp_ranges_free(&r);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_ranges_init_bounds),
      cmocka_unit_test(test_rudp_ranges_init_nomem),
      cmocka_unit_test(test_rudp_ranges_custom_mem),
      cmocka_unit_test(test_rudp_ranges_in_order),
      cmocka_unit_test(test_rudp_ranges_gaps_newest_first),
      cmocka_unit_test(test_rudp_ranges_out_of_order_insert),
      cmocka_unit_test(test_rudp_ranges_fill_hole_merges),
      cmocka_unit_test(test_rudp_ranges_duplicate),
      cmocka_unit_test(test_rudp_ranges_evict_oldest),
      cmocka_unit_test(test_rudp_ranges_full_lower_than_all),
      cmocka_unit_test(test_rudp_ranges_cap_one),
      cmocka_unit_test(test_rudp_ranges_ring_wrap),
      cmocka_unit_test(test_rudp_ranges_remove_below),
      cmocka_unit_test(test_rudp_ranges_largest_empty),
      cmocka_unit_test(test_rudp_ranges_contains),
      cmocka_unit_test(test_rudp_ranges_max_pn),
      cmocka_unit_test(test_rudp_ranges_clear),
      cmocka_unit_test(test_rudp_ranges_check_detects_corruption),
      cmocka_unit_test(test_rudp_ranges_property),
  };

  return cmocka_run_group_tests_name("ranges", tests, NULL, NULL);
}
