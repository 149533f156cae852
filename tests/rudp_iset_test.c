/*
 * Tests for the interval set (lib/rudp_iset.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "rudp_iset.h"
#include "rudp_macro.h"
#include "rudp_test_helper.h"

/* assert_ivals checks |s| holds exactly |exp| (|n| ranges, lowest first). */
static void assert_ivals(const rudp_iset *s, const rudp_ival *exp, size_t n) {
  size_t i;
  const rudp_ival *got;

  assert_int_equal(1, rudp_iset_check(s));
  assert_int_equal(n, rudp_iset_len(s));
  for (i = 0; i < n; ++i) {
    got = rudp_iset_get(s, i);
    assert_int_equal(exp[i].lo, got->lo);
    assert_int_equal(exp[i].hi, got->hi);
  }
}

/* add_all adds each of |iv| and expects success. */
static void add_all(rudp_iset *s, const rudp_ival *iv, size_t n) {
  size_t i;

  for (i = 0; i < n; ++i) {
    assert_int_equal(0, rudp_iset_add(s, iv[i].lo, iv[i].hi));
  }
}

/* -------------------------------------------------------------- tests */

static void test_rudp_iset_empty(void **state) {
  rudp_iset s;
  rudp_test_mem cm;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_iset_init(&s, 0, &cm.mem);
  assert_ptr_equal(&cm.mem, s.mem);
  assert_int_equal(1, rudp_iset_check(&s));
  assert_int_equal(0, rudp_iset_len(&s));
  assert_int_equal(0, rudp_iset_contains(&s, 0));
  assert_int_equal(0, rudp_iset_contains(&s, UINT64_MAX));
  assert_int_equal(7, rudp_iset_end_from(&s, 7));
  assert_null(rudp_iset_first_at_or_after(&s, 0));
  assert_int_equal(0, rudp_iset_covered(&s, 0, UINT64_MAX));
  /* Queries and removals on an empty set allocate nothing. */
  assert_int_equal(0, rudp_iset_remove(&s, 0, 100));
  rudp_iset_remove_below(&s, 1000);
  rudp_iset_clear(&s);
  assert_int_equal(0, rudp_test_mem_nalloc(&cm));
  rudp_iset_free(&s);
  rudp_iset_free(&s);
  rudp_iset_free(NULL);
  assert_int_equal(0, cm.nfree);

  /* NULL mem is the default allocator. */
  rudp_iset_init(&s, 0, NULL);
  assert_non_null(s.mem);
  assert_int_equal(0, rudp_iset_add(&s, 1, 2));
  rudp_iset_free(&s);
}

static void test_rudp_iset_invalid_argument(void **state) {
  rudp_iset s;
  static const rudp_ival exp[] = {{10, 20}};
  (void)state;

  rudp_iset_init(&s, 0, NULL);
  assert_int_equal(0, rudp_iset_add(&s, 10, 20));
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT, rudp_iset_add(&s, 5, 5));
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT, rudp_iset_add(&s, 30, 25));
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT,
                   rudp_iset_add(&s, UINT64_MAX, UINT64_MAX));
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT, rudp_iset_remove(&s, 15, 15));
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT, rudp_iset_remove(&s, 18, 12));
  assert_ivals(&s, exp, rudp_arraylen(exp));
  /* An empty query range covers nothing. */
  assert_int_equal(0, rudp_iset_covered(&s, 15, 15));
  assert_int_equal(0, rudp_iset_covered(&s, 18, 12));
  rudp_iset_free(&s);
}

static void test_rudp_iset_add_disjoint_out_of_order(void **state) {
  rudp_iset s;
  static const rudp_ival in[] = {{50, 60}, {10, 20}, {90, 91}, {30, 40},
                                 {0, 5},   {70, 80}, {22, 23}};
  static const rudp_ival exp[] = {{0, 5},   {10, 20}, {22, 23}, {30, 40},
                                  {50, 60}, {70, 80}, {90, 91}};
  (void)state;

  rudp_iset_init(&s, 0, NULL);
  add_all(&s, in, rudp_arraylen(in));
  assert_ivals(&s, exp, rudp_arraylen(exp));
  rudp_iset_free(&s);
}

static void test_rudp_iset_add_merges_adjacent(void **state) {
  rudp_iset s;
  static const rudp_ival exp1[] = {{0, 10}};
  static const rudp_ival exp2[] = {{0, 10}, {20, 30}};
  static const rudp_ival exp3[] = {{0, 30}};
  static const rudp_ival exp4[] = {{0, 30}, {40, 50}, {60, 70}};
  static const rudp_ival exp5[] = {{0, 30}, {40, 70}};
  (void)state;

  rudp_iset_init(&s, 0, NULL);
  /* Touching on the right, then on the left. */
  assert_int_equal(0, rudp_iset_add(&s, 0, 5));
  assert_int_equal(0, rudp_iset_add(&s, 5, 10));
  assert_ivals(&s, exp1, rudp_arraylen(exp1));
  assert_int_equal(0, rudp_iset_add(&s, 25, 30));
  assert_int_equal(0, rudp_iset_add(&s, 20, 25));
  assert_ivals(&s, exp2, rudp_arraylen(exp2));
  /* Exactly filling the gap joins both neighbours. */
  assert_int_equal(0, rudp_iset_add(&s, 10, 20));
  assert_ivals(&s, exp3, rudp_arraylen(exp3));
  /* The same, away from the ends of the array. */
  assert_int_equal(0, rudp_iset_add(&s, 60, 70));
  assert_int_equal(0, rudp_iset_add(&s, 40, 50));
  assert_ivals(&s, exp4, rudp_arraylen(exp4));
  assert_int_equal(0, rudp_iset_add(&s, 50, 60));
  assert_ivals(&s, exp5, rudp_arraylen(exp5));
  rudp_iset_free(&s);
}

static void test_rudp_iset_add_merges_overlapping(void **state) {
  rudp_iset s;
  static const rudp_ival in[] = {{10, 20}, {30, 40}, {50, 60}, {70, 80}};
  static const rudp_ival exp1[] = {{10, 20}, {30, 40}, {50, 60}, {70, 80}};
  static const rudp_ival exp2[] = {{10, 20}, {25, 65}, {70, 80}};
  static const rudp_ival exp3[] = {{5, 85}};
  static const rudp_ival exp4[] = {{0, 100}};
  (void)state;

  rudp_iset_init(&s, 0, NULL);
  add_all(&s, in, rudp_arraylen(in));
  /* Already covered: nothing changes. */
  assert_int_equal(0, rudp_iset_add(&s, 12, 18));
  assert_int_equal(0, rudp_iset_add(&s, 30, 40));
  assert_int_equal(0, rudp_iset_add(&s, 70, 71));
  assert_ivals(&s, exp1, rudp_arraylen(exp1));
  /* Overlapping two ranges and the gaps around them. */
  assert_int_equal(0, rudp_iset_add(&s, 25, 65));
  assert_ivals(&s, exp2, rudp_arraylen(exp2));
  /* Overlapping the first and the last. */
  assert_int_equal(0, rudp_iset_add(&s, 5, 85));
  assert_ivals(&s, exp3, rudp_arraylen(exp3));
  /* A superset of everything. */
  assert_int_equal(0, rudp_iset_add(&s, 0, 100));
  assert_ivals(&s, exp4, rudp_arraylen(exp4));
  rudp_iset_free(&s);
}

static void test_rudp_iset_remove_split(void **state) {
  rudp_iset s;
  static const rudp_ival exp1[] = {{0, 40}, {60, 100}};
  static const rudp_ival exp2[] = {{0, 10}, {11, 40}, {60, 99}};
  (void)state;

  rudp_iset_init(&s, 0, NULL);
  assert_int_equal(0, rudp_iset_add(&s, 0, 100));
  assert_int_equal(0, rudp_iset_remove(&s, 40, 60));
  assert_ivals(&s, exp1, rudp_arraylen(exp1));
  assert_int_equal(0, rudp_iset_remove(&s, 10, 11));
  assert_int_equal(0, rudp_iset_remove(&s, 99, 100));
  assert_ivals(&s, exp2, rudp_arraylen(exp2));
  rudp_iset_free(&s);
}

static void test_rudp_iset_remove_trim_and_span(void **state) {
  rudp_iset s;
  static const rudp_ival in[] = {
      {10, 20}, {30, 40}, {50, 60}, {70, 80}, {90, 100}};
  static const rudp_ival exp1[] = {
      {12, 20}, {30, 40}, {50, 60}, {70, 80}, {90, 97}};
  static const rudp_ival exp2[] = {{12, 20}, {30, 35}, {75, 80}, {90, 97}};
  static const rudp_ival exp3[] = {{12, 20}, {90, 97}};
  static const rudp_ival exp4[] = {{90, 97}};
  (void)state;

  rudp_iset_init(&s, 0, NULL);
  add_all(&s, in, rudp_arraylen(in));
  /* In gaps, and around nothing: no change. */
  assert_int_equal(0, rudp_iset_remove(&s, 0, 10));
  assert_int_equal(0, rudp_iset_remove(&s, 20, 30));
  assert_int_equal(0, rudp_iset_remove(&s, 100, 1000));
  /* Trimming the low end of the first and the high end of the last. */
  assert_int_equal(0, rudp_iset_remove(&s, 5, 12));
  assert_int_equal(0, rudp_iset_remove(&s, 97, 200));
  assert_ivals(&s, exp1, rudp_arraylen(exp1));
  /* Trimming two ranges and deleting the one between. */
  assert_int_equal(0, rudp_iset_remove(&s, 35, 75));
  assert_ivals(&s, exp2, rudp_arraylen(exp2));
  /* Exactly two whole ranges. */
  assert_int_equal(0, rudp_iset_remove(&s, 30, 80));
  assert_ivals(&s, exp3, rudp_arraylen(exp3));
  /* Exactly one whole range, the first. */
  assert_int_equal(0, rudp_iset_remove(&s, 12, 20));
  assert_ivals(&s, exp4, rudp_arraylen(exp4));
  assert_int_equal(0, rudp_iset_remove(&s, 0, UINT64_MAX));
  assert_ivals(&s, NULL, 0);
  rudp_iset_free(&s);
}

static void test_rudp_iset_remove_below(void **state) {
  rudp_iset s;
  static const rudp_ival in[] = {{10, 20}, {30, 40}, {50, 60}};
  static const rudp_ival exp1[] = {{15, 20}, {30, 40}, {50, 60}};
  static const rudp_ival exp2[] = {{30, 40}, {50, 60}};
  static const rudp_ival exp3[] = {{50, 60}};
  static const rudp_ival exp4[] = {{59, 60}};
  (void)state;

  rudp_iset_init(&s, 0, NULL);
  add_all(&s, in, rudp_arraylen(in));
  rudp_iset_remove_below(&s, 0);
  rudp_iset_remove_below(&s, 10);
  assert_ivals(&s, in, rudp_arraylen(in));
  /* Inside a range: trimmed. */
  rudp_iset_remove_below(&s, 15);
  assert_ivals(&s, exp1, rudp_arraylen(exp1));
  /* At a range's end (hi is exclusive): the range goes whole. */
  rudp_iset_remove_below(&s, 20);
  assert_ivals(&s, exp2, rudp_arraylen(exp2));
  /* In a gap. */
  rudp_iset_remove_below(&s, 45);
  assert_ivals(&s, exp3, rudp_arraylen(exp3));
  rudp_iset_remove_below(&s, 59);
  assert_ivals(&s, exp4, rudp_arraylen(exp4));
  rudp_iset_remove_below(&s, 60);
  assert_ivals(&s, NULL, 0);
  /* The set still works after emptying from the front. */
  assert_int_equal(0, rudp_iset_add(&s, 5, 6));
  assert_int_equal(5, rudp_iset_get(&s, 0)->lo);
  rudp_iset_remove_below(&s, UINT64_MAX);
  assert_ivals(&s, NULL, 0);
  rudp_iset_free(&s);
}

static void test_rudp_iset_contains_end_from(void **state) {
  rudp_iset s;
  static const rudp_ival in[] = {{10, 20}, {30, 40}};
  (void)state;

  rudp_iset_init(&s, 0, NULL);
  add_all(&s, in, rudp_arraylen(in));
  assert_int_equal(0, rudp_iset_contains(&s, 9));
  assert_int_equal(1, rudp_iset_contains(&s, 10));
  assert_int_equal(1, rudp_iset_contains(&s, 19));
  assert_int_equal(0, rudp_iset_contains(&s, 20));
  assert_int_equal(0, rudp_iset_contains(&s, 29));
  assert_int_equal(1, rudp_iset_contains(&s, 30));
  assert_int_equal(1, rudp_iset_contains(&s, 39));
  assert_int_equal(0, rudp_iset_contains(&s, 40));

  assert_int_equal(0, rudp_iset_end_from(&s, 0));
  assert_int_equal(9, rudp_iset_end_from(&s, 9));
  assert_int_equal(20, rudp_iset_end_from(&s, 10));
  assert_int_equal(20, rudp_iset_end_from(&s, 19));
  assert_int_equal(20, rudp_iset_end_from(&s, 20));
  assert_int_equal(25, rudp_iset_end_from(&s, 25));
  assert_int_equal(40, rudp_iset_end_from(&s, 35));
  assert_int_equal(41, rudp_iset_end_from(&s, 41));
  rudp_iset_free(&s);
}

static void test_rudp_iset_first_at_or_after(void **state) {
  rudp_iset s;
  static const rudp_ival in[] = {{10, 20}, {30, 40}};
  const rudp_ival *r;
  (void)state;

  rudp_iset_init(&s, 0, NULL);
  add_all(&s, in, rudp_arraylen(in));
  r = rudp_iset_first_at_or_after(&s, 0);
  assert_non_null(r);
  assert_int_equal(10, r->lo);
  assert_int_equal(20, r->hi);
  assert_ptr_equal(r, rudp_iset_first_at_or_after(&s, 10));
  assert_ptr_equal(r, rudp_iset_first_at_or_after(&s, 19));
  r = rudp_iset_first_at_or_after(&s, 20);
  assert_non_null(r);
  assert_int_equal(30, r->lo);
  assert_int_equal(40, r->hi);
  assert_ptr_equal(r, rudp_iset_first_at_or_after(&s, 25));
  assert_ptr_equal(r, rudp_iset_first_at_or_after(&s, 39));
  assert_ptr_equal(rudp_iset_get(&s, 1), r);
  assert_null(rudp_iset_first_at_or_after(&s, 40));
  assert_null(rudp_iset_first_at_or_after(&s, UINT64_MAX));
  rudp_iset_free(&s);
}

static void test_rudp_iset_covered(void **state) {
  rudp_iset s;
  static const rudp_ival in[] = {{10, 20}, {30, 40}, {50, 60}};
  (void)state;

  rudp_iset_init(&s, 0, NULL);
  add_all(&s, in, rudp_arraylen(in));
  assert_int_equal(0, rudp_iset_covered(&s, 0, 10));
  assert_int_equal(1, rudp_iset_covered(&s, 0, 11));
  assert_int_equal(10, rudp_iset_covered(&s, 10, 20));
  assert_int_equal(10, rudp_iset_covered(&s, 5, 25));
  assert_int_equal(0, rudp_iset_covered(&s, 20, 30));
  assert_int_equal(8, rudp_iset_covered(&s, 15, 33));
  assert_int_equal(30, rudp_iset_covered(&s, 0, UINT64_MAX));
  assert_int_equal(28, rudp_iset_covered(&s, 11, 59));
  assert_int_equal(1, rudp_iset_covered(&s, 59, 60));
  assert_int_equal(0, rudp_iset_covered(&s, 60, 1000));
  rudp_iset_free(&s);
}

static void test_rudp_iset_uint64_max(void **state) {
  rudp_iset s;
  const uint64_t M = UINT64_MAX;
  static const rudp_ival exp2[] = {{0, 1}, {UINT64_MAX - 10, UINT64_MAX}};
  static const rudp_ival exp3[] = {
      {0, 1}, {UINT64_MAX - 10, UINT64_MAX - 5}, {UINT64_MAX - 4, UINT64_MAX}};
  static const rudp_ival exp4[] = {{0, UINT64_MAX}};
  static const rudp_ival exp5[] = {{0, UINT64_MAX - 1}};
  (void)state;

  rudp_iset_init(&s, 0, NULL);
  assert_int_equal(0, rudp_iset_add(&s, M - 10, M));
  assert_int_equal(1, rudp_iset_contains(&s, M - 1));
  assert_int_equal(0, rudp_iset_contains(&s, M));
  assert_int_equal(M, rudp_iset_end_from(&s, M - 10));
  assert_int_equal(M, rudp_iset_end_from(&s, M));
  assert_null(rudp_iset_first_at_or_after(&s, M));
  assert_non_null(rudp_iset_first_at_or_after(&s, M - 1));
  assert_int_equal(10, rudp_iset_covered(&s, 0, M));
  /* Adding it again, or a part, touching the top, changes nothing. */
  assert_int_equal(0, rudp_iset_add(&s, M - 1, M));
  assert_int_equal(0, rudp_iset_add(&s, 0, 1));
  assert_ivals(&s, exp2, rudp_arraylen(exp2));
  assert_int_equal(0, rudp_iset_remove(&s, M - 5, M - 4));
  assert_ivals(&s, exp3, rudp_arraylen(exp3));
  assert_int_equal(9, rudp_iset_covered(&s, M - 10, M));
  /* The widest range there is swallows everything. */
  assert_int_equal(0, rudp_iset_add(&s, 0, M));
  assert_ivals(&s, exp4, rudp_arraylen(exp4));
  assert_int_equal(M, rudp_iset_covered(&s, 0, M));
  assert_int_equal(M, rudp_iset_end_from(&s, 0));
  assert_int_equal(0, rudp_iset_remove(&s, M - 1, M));
  assert_ivals(&s, exp5, rudp_arraylen(exp5));
  rudp_iset_remove_below(&s, M - 2);
  assert_int_equal(1, rudp_iset_len(&s));
  assert_int_equal(M - 2, rudp_iset_get(&s, 0)->lo);
  assert_int_equal(M - 1, rudp_iset_get(&s, 0)->hi);
  rudp_iset_remove_below(&s, M);
  assert_ivals(&s, NULL, 0);
  rudp_iset_free(&s);
}

static void test_rudp_iset_bounded(void **state) {
  rudp_iset s;
  static const rudp_ival in[] = {{10, 20}, {30, 40}, {50, 60}};
  static const rudp_ival exp1[] = {{5, 20}, {30, 40}, {50, 70}};
  static const rudp_ival exp2[] = {{5, 40}, {50, 70}};
  static const rudp_ival exp3[] = {{5, 10}, {12, 40}, {50, 70}};
  (void)state;

  rudp_iset_init(&s, 3, NULL);
  add_all(&s, in, rudp_arraylen(in));
  /* Full: every new range fails, at the front, middle and back. */
  assert_int_equal(RUDP_ERR_NOBUF, rudp_iset_add(&s, 0, 5));
  assert_int_equal(RUDP_ERR_NOBUF, rudp_iset_add(&s, 22, 28));
  assert_int_equal(RUDP_ERR_NOBUF, rudp_iset_add(&s, 61, 70));
  assert_ivals(&s, in, rudp_arraylen(in));
  /* Extending a range (overlap or adjacency) needs no slot. */
  assert_int_equal(0, rudp_iset_add(&s, 5, 10));
  assert_int_equal(0, rudp_iset_add(&s, 55, 70));
  assert_int_equal(0, rudp_iset_add(&s, 15, 18));
  assert_ivals(&s, exp1, rudp_arraylen(exp1));
  /* A split needs a slot too: refused, set unchanged. */
  assert_int_equal(RUDP_ERR_NOBUF, rudp_iset_remove(&s, 33, 35));
  assert_ivals(&s, exp1, rudp_arraylen(exp1));
  /* Trims and whole-range removals are fine. */
  assert_int_equal(0, rudp_iset_remove(&s, 30, 31));
  assert_int_equal(0, rudp_iset_add(&s, 20, 31));
  assert_ivals(&s, exp2, rudp_arraylen(exp2));
  /* Below the bound again, a split works. */
  assert_int_equal(0, rudp_iset_remove(&s, 10, 12));
  assert_ivals(&s, exp3, rudp_arraylen(exp3));
  assert_int_equal(RUDP_ERR_NOBUF, rudp_iset_remove(&s, 20, 21));
  rudp_iset_free(&s);

  /* A bound of one range. */
  rudp_iset_init(&s, 1, NULL);
  assert_int_equal(0, rudp_iset_add(&s, 10, 20));
  assert_int_equal(RUDP_ERR_NOBUF, rudp_iset_add(&s, 0, 9));
  assert_int_equal(RUDP_ERR_NOBUF, rudp_iset_remove(&s, 12, 13));
  assert_int_equal(0, rudp_iset_add(&s, 0, 10));
  assert_int_equal(1, rudp_iset_len(&s));
  assert_int_equal(0, rudp_iset_get(&s, 0)->lo);
  assert_int_equal(20, rudp_iset_get(&s, 0)->hi);
  rudp_iset_free(&s);
}

static void test_rudp_iset_nomem(void **state) {
  rudp_iset s;
  rudp_test_mem cm;
  uint64_t k;
  size_t cap;
  static const rudp_ival exp1[] = {{0, 100}};
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_iset_init(&s, 0, &cm.mem);
  /* The first range needs the first allocation. */
  cm.fail = 1;
  assert_int_equal(RUDP_ERR_NOMEM, rudp_iset_add(&s, 10, 20));
  assert_ivals(&s, NULL, 0);
  cm.fail = 0;
  assert_int_equal(0, rudp_iset_add(&s, 0, 100));
  assert_ivals(&s, exp1, rudp_arraylen(exp1));

  /* Fill the array exactly, then every new range needs a bigger one. */
  for (k = 1; s.len < s.cap; ++k) {
    assert_int_equal(0, rudp_iset_add(&s, 100 + 10 * k, 105 + 10 * k));
  }
  cap = s.cap;
  cm.fail = 1;
  assert_int_equal(RUDP_ERR_NOMEM, rudp_iset_add(&s, 1000, 1001));
  assert_int_equal(RUDP_ERR_NOMEM, rudp_iset_add(&s, 101, 102));
  /* A split needs a slot as well. */
  assert_int_equal(RUDP_ERR_NOMEM, rudp_iset_remove(&s, 50, 60));
  assert_int_equal(1, rudp_iset_check(&s));
  assert_int_equal(cap, rudp_iset_len(&s));
  assert_int_equal(0, rudp_iset_get(&s, 0)->lo);
  assert_int_equal(100, rudp_iset_get(&s, 0)->hi);
  assert_int_equal(100 + 10 * (cap - 1),
                   rudp_iset_get(&s, rudp_iset_len(&s) - 1)->lo);
  /* Merges, trims and whole removals need no memory. */
  assert_int_equal(0, rudp_iset_add(&s, 95, 111));
  assert_int_equal(0, rudp_iset_remove(&s, 0, 50));
  assert_int_equal(cap - 1, rudp_iset_len(&s));
  /* The slot the merge freed takes a new range without allocating. */
  assert_int_equal(0, rudp_iset_add(&s, 10, 20));
  assert_int_equal(cap, rudp_iset_len(&s));
  assert_int_equal(1, rudp_iset_check(&s));
  assert_int_equal(10, rudp_iset_get(&s, 0)->lo);
  cm.fail = 0;
  assert_int_equal(0, rudp_iset_remove(&s, 60, 70));
  assert_int_equal(cap + 1, rudp_iset_len(&s));
  assert_int_equal(1, rudp_iset_check(&s));
  rudp_iset_free(&s);
  assert_int_equal(rudp_test_mem_nalloc(&cm) - cm.nrealloc, cm.nfree);

  /*
   * The tail is full and one slot is free at the front: appending would
   * rather grow than shift every range, but when growing fails the front
   * slot is used, so NOMEM only means there is really no room.
   */
  rudp_test_mem_init(&cm);
  rudp_iset_init(&s, 0, &cm.mem);
  for (k = 0; s.len == 0 || s.len < s.cap || s.cap < 8; ++k) {
    assert_int_equal(0, rudp_iset_add(&s, 10 * k, 10 * k + 5));
  }
  cap = s.cap;
  rudp_iset_remove_below(&s, 10);
  assert_int_equal(cap - 1, rudp_iset_len(&s));
  cm.fail = 1;
  assert_int_equal(0, rudp_iset_add(&s, 10 * k, 10 * k + 5));
  assert_int_equal(cap, rudp_iset_len(&s));
  assert_int_equal(cap, s.cap);
  assert_int_equal(1, rudp_iset_check(&s));
  assert_int_equal(10, rudp_iset_get(&s, 0)->lo);
  assert_int_equal(10 * k + 5, rudp_iset_get(&s, cap - 1)->hi);
  assert_int_equal(RUDP_ERR_NOMEM, rudp_iset_add(&s, 10 * k + 7, 10 * k + 8));
  assert_int_equal(cap, rudp_iset_len(&s));
  cm.fail = 0;
  rudp_iset_free(&s);
}

static void test_rudp_iset_compacts_before_growing(void **state) {
  rudp_iset s;
  rudp_test_mem cm;
  uint64_t k;
  size_t cap, n;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_iset_init(&s, 0, &cm.mem);
  for (k = 0; s.len == 0 || s.len < s.cap; ++k) {
    assert_int_equal(0, rudp_iset_add(&s, 10 * k, 10 * k + 5));
  }
  cap = s.cap;
  n = rudp_test_mem_nalloc(&cm);
  /* Delivered in order: the front half goes. */
  rudp_iset_remove_below(&s, 10 * (cap / 2));
  assert_int_equal(cap - cap / 2, rudp_iset_len(&s));
  /* The tail is full but half the array is free at the front. */
  for (; s.len < s.cap; ++k) {
    assert_int_equal(0, rudp_iset_add(&s, 10 * k, 10 * k + 5));
  }
  assert_int_equal(n, rudp_test_mem_nalloc(&cm));
  assert_int_equal(cap, s.cap);
  assert_int_equal(0, s.head);
  assert_int_equal(1, rudp_iset_check(&s));
  assert_int_equal(10 * (cap / 2), rudp_iset_get(&s, 0)->lo);
  assert_int_equal(10 * (k - 1) + 5,
                   rudp_iset_get(&s, rudp_iset_len(&s) - 1)->hi);
  rudp_iset_free(&s);
}

/*
 * churn runs |iters| steps of "a new range arrives at the end, the oldest is
 * delivered" with about |live| ranges outstanding, using |front_remove|
 * (remove of the first range) or remove_below.
 */
static void churn(rudp_iset *s, uint64_t *next, size_t live, size_t iters,
                  int front_remove) {
  size_t i;
  const rudp_ival *first;

  for (i = 0; i < iters; ++i) {
    assert_int_equal(0, rudp_iset_add(s, *next, *next + 3));
    /* Sometimes extending the newest range instead of opening one. */
    if (i % 3 == 0) {
      assert_int_equal(0, rudp_iset_add(s, *next + 3, *next + 5));
    }
    *next += 7;
    if (rudp_iset_len(s) > live) {
      first = rudp_iset_get(s, 0);
      if (front_remove) {
        assert_int_equal(0, rudp_iset_remove(s, first->lo, first->hi));
      } else {
        rudp_iset_remove_below(s, first->hi + 1);
      }
    }
  }
}

static void test_rudp_iset_churn_no_allocation(void **state) {
  rudp_iset s;
  rudp_test_mem cm;
  uint64_t next;
  size_t n, live, cap;
  int front_remove;
  (void)state;

  for (front_remove = 0; front_remove <= 1; ++front_remove) {
    for (live = 1; live <= 200; live = live * 3 + 1) {
      rudp_test_mem_init(&cm);
      rudp_iset_init(&s, 0, &cm.mem);
      next = 0;
      churn(&s, &next, live, 4 * live + 16, front_remove);
      n = rudp_test_mem_nalloc(&cm);
      cap = s.cap;
      churn(&s, &next, live, 20000, front_remove);
      assert_int_equal(n, rudp_test_mem_nalloc(&cm));
      assert_int_equal(cap, s.cap);
      /* Memory stays proportional to what is live. */
      assert_true(s.cap <= 4 * (live + 1) + 4);
      assert_int_equal(1, rudp_iset_check(&s));
      assert_int_equal(live, rudp_iset_len(&s));
      rudp_iset_free(&s);
      assert_int_equal(cm.nmalloc + cm.ncalloc, cm.nfree);
    }
  }

  /* Bounded: the array never needs more than twice the bound. */
  rudp_test_mem_init(&cm);
  rudp_iset_init(&s, 50, &cm.mem);
  next = 0;
  churn(&s, &next, 49, 216, 0);
  n = rudp_test_mem_nalloc(&cm);
  churn(&s, &next, 49, 20000, 0);
  assert_int_equal(n, rudp_test_mem_nalloc(&cm));
  assert_true(s.cap <= 100);
  rudp_iset_free(&s);
}

static void test_rudp_iset_clear_keeps_memory(void **state) {
  rudp_iset s;
  rudp_test_mem cm;
  uint64_t k;
  size_t n;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_iset_init(&s, 0, &cm.mem);
  for (k = 0; k < 20; ++k) {
    assert_int_equal(0, rudp_iset_add(&s, 4 * k, 4 * k + 2));
  }
  n = rudp_test_mem_nalloc(&cm);
  rudp_iset_clear(&s);
  assert_ivals(&s, NULL, 0);
  assert_int_equal(0, rudp_iset_contains(&s, 0));
  for (k = 0; k < 20; ++k) {
    assert_int_equal(0, rudp_iset_add(&s, 4 * k + 1, 4 * k + 3));
  }
  assert_int_equal(20, rudp_iset_len(&s));
  assert_int_equal(n, rudp_test_mem_nalloc(&cm));
  assert_int_equal(0, cm.nfree);
  rudp_iset_free(&s);
  assert_int_equal(1, cm.nfree);
}

static void test_rudp_iset_check_detects_corruption(void **state) {
  rudp_iset s;
  static const rudp_ival in[] = {{10, 20}, {30, 40}, {50, 60}};
  rudp_ival *v;
  (void)state;

  rudp_iset_init(&s, 0, NULL);
  add_all(&s, in, rudp_arraylen(in));
  assert_int_equal(1, rudp_iset_check(&s));
  v = s.v + s.head;

  v[1].lo = 20; /* adjacent to v[0] */
  assert_int_equal(0, rudp_iset_check(&s));
  v[1].lo = 15; /* overlapping */
  assert_int_equal(0, rudp_iset_check(&s));
  v[1].lo = 40; /* empty */
  assert_int_equal(0, rudp_iset_check(&s));
  v[1].lo = 45; /* reversed */
  assert_int_equal(0, rudp_iset_check(&s));
  v[1].lo = 30;
  assert_int_equal(1, rudp_iset_check(&s));

  s.max_ranges = 2; /* over the bound */
  assert_int_equal(0, rudp_iset_check(&s));
  s.max_ranges = 3;
  assert_int_equal(1, rudp_iset_check(&s));

  s.len = s.cap - s.head + 1; /* past the array */
  assert_int_equal(0, rudp_iset_check(&s));
  s.len = 3;
  assert_int_equal(1, rudp_iset_check(&s));
  rudp_iset_free(&s);
}

/* ---------------------------------------------------- property test */

#define MODEL_W 2048

/* model is the reference: a bitmap over [base, base + MODEL_W). */
typedef struct model {
  uint64_t base;
  unsigned char bit[MODEL_W];
} model;

/* model_runs counts the runs of set bits (the ranges the set must hold). */
static size_t model_runs(const model *m) {
  size_t i, n = 0;

  for (i = 0; i < MODEL_W; ++i) {
    if (m->bit[i] && (i == 0 || !m->bit[i - 1])) {
      ++n;
    }
  }
  return n;
}

/* model_compare checks every offset and the exact ranges of |s|. */
static void model_compare(const model *m, const rudp_iset *s) {
  size_t i, k = 0, a;
  const rudp_ival *got;

  assert_int_equal(1, rudp_iset_check(s));
  for (i = 0; i < MODEL_W; ++i) {
    assert_int_equal(m->bit[i], rudp_iset_contains(s, m->base + i));
    if (m->bit[i] && (i == 0 || !m->bit[i - 1])) {
      a = i;
      while (i + 1 < MODEL_W && m->bit[i + 1]) {
        ++i;
      }
      assert_true(k < rudp_iset_len(s));
      got = rudp_iset_get(s, k++);
      assert_int_equal(m->base + a, got->lo);
      assert_int_equal(m->base + i + 1, got->hi);
    }
  }
  assert_int_equal(k, rudp_iset_len(s));
  if (m->base > 0) {
    assert_int_equal(0, rudp_iset_contains(s, m->base - 1));
  }
}

/* model_spot checks end_from, first_at_or_after and covered at random. */
static void model_spot(const model *m, const rudp_iset *s, rudp_test_rng *rng) {
  size_t x = (size_t)rudp_test_rng_below(rng, MODEL_W), k, a, b;
  uint64_t n = 0;
  const rudp_ival *r;

  for (k = x; k < MODEL_W && m->bit[k]; ++k)
    ;
  assert_int_equal(m->base + k, rudp_iset_end_from(s, m->base + x));

  r = rudp_iset_first_at_or_after(s, m->base + x);
  for (k = x; k < MODEL_W && !m->bit[k]; ++k)
    ;
  if (k == MODEL_W) {
    assert_null(r);
  } else {
    assert_non_null(r);
    a = k;
    while (a > 0 && m->bit[a - 1]) {
      --a;
    }
    for (b = k; b < MODEL_W && m->bit[b]; ++b)
      ;
    assert_int_equal(m->base + a, r->lo);
    assert_int_equal(m->base + b, r->hi);
  }

  a = (size_t)rudp_test_rng_below(rng, MODEL_W);
  b = a + 1 + (size_t)rudp_test_rng_below(rng, MODEL_W - a);
  for (k = a; k < b; ++k) {
    n += m->bit[k];
  }
  assert_int_equal(n, rudp_iset_covered(s, m->base + a, m->base + b));
}

/* rand_span picks [a, b) within the window, mostly short. */
static void rand_span(rudp_test_rng *rng, size_t *a, size_t *b) {
  size_t maxlen;

  switch (rudp_test_rng_below(rng, 8)) {
  case 0:
    maxlen = MODEL_W / 4;
    break;
  case 1:
  case 2:
    maxlen = 32;
    break;
  default:
    maxlen = 6;
    break;
  }
  *a = (size_t)rudp_test_rng_below(rng, MODEL_W);
  *b = *a + 1 + (size_t)rudp_test_rng_below(rng, maxlen);
  if (*b > MODEL_W) {
    *b = MODEL_W;
  }
}

static void test_rudp_iset_property(void **state) {
  static model m, before;
  rudp_test_rng rng;
  rudp_iset s;
  uint64_t seed;
  size_t max_ranges, op, nops, a, b, k, nruns;
  int rv, is_add;
  (void)state;

  for (seed = 1; seed <= 24; ++seed) {
    rudp_test_rng_init(&rng, seed);
    memset(&m, 0, sizeof(m));
    /* Some windows end at UINT64_MAX, so hi == UINT64_MAX occurs. */
    m.base = seed % 3 == 0 ? UINT64_MAX - MODEL_W
                           : rudp_test_rng_below(&rng, 1000000);
    /* Half the seeds are bounded tightly enough to hit the bound often. */
    max_ranges = seed % 2 ? 0 : 1 + (size_t)rudp_test_rng_below(&rng, 40);
    rudp_iset_init(&s, max_ranges, NULL);
    nops = 1200;

    for (op = 0; op < nops; ++op) {
      k = (size_t)rudp_test_rng_below(&rng, 20);
      if (k == 0) {
        /* Delivered in order: drop everything below a point. */
        a = (size_t)rudp_test_rng_below(&rng, MODEL_W / 2);
        rudp_iset_remove_below(&s, m.base + a);
        memset(m.bit, 0, a);
        model_compare(&m, &s);
        continue;
      }
      is_add = k < 12;
      rand_span(&rng, &a, &b);
      before = m;
      memset(m.bit + a, is_add, b - a);
      nruns = model_runs(&m);
      if (is_add) {
        rv = rudp_iset_add(&s, m.base + a, m.base + b);
      } else {
        rv = rudp_iset_remove(&s, m.base + a, m.base + b);
      }
      /* NOBUF exactly when the result would exceed the bound. */
      if (max_ranges && nruns > max_ranges) {
        assert_int_equal(RUDP_ERR_NOBUF, rv);
        m = before;
        model_compare(&m, &s);
      } else {
        assert_int_equal(0, rv);
      }
      assert_int_equal(1, rudp_iset_check(&s));
      model_spot(&m, &s, &rng);
      model_spot(&m, &s, &rng);
      if (op % 16 == 0) {
        model_compare(&m, &s);
      }
    }
    model_compare(&m, &s);
    rudp_iset_free(&s);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_iset_empty),
      cmocka_unit_test(test_rudp_iset_invalid_argument),
      cmocka_unit_test(test_rudp_iset_add_disjoint_out_of_order),
      cmocka_unit_test(test_rudp_iset_add_merges_adjacent),
      cmocka_unit_test(test_rudp_iset_add_merges_overlapping),
      cmocka_unit_test(test_rudp_iset_remove_split),
      cmocka_unit_test(test_rudp_iset_remove_trim_and_span),
      cmocka_unit_test(test_rudp_iset_remove_below),
      cmocka_unit_test(test_rudp_iset_contains_end_from),
      cmocka_unit_test(test_rudp_iset_first_at_or_after),
      cmocka_unit_test(test_rudp_iset_covered),
      cmocka_unit_test(test_rudp_iset_uint64_max),
      cmocka_unit_test(test_rudp_iset_bounded),
      cmocka_unit_test(test_rudp_iset_nomem),
      cmocka_unit_test(test_rudp_iset_compacts_before_growing),
      cmocka_unit_test(test_rudp_iset_churn_no_allocation),
      cmocka_unit_test(test_rudp_iset_clear_keeps_memory),
      cmocka_unit_test(test_rudp_iset_check_detects_corruption),
      cmocka_unit_test(test_rudp_iset_property),
  };

  return cmocka_run_group_tests_name("iset", tests, NULL, NULL);
}
