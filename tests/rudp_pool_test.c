/*
 * Tests for the fixed-size object pool (lib/rudp_pool.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rudp_pool.h"
#include "rudp_macro.h"
#include "rudp_test_helper.h"

/* cmp_ptr orders pointers for qsort. */
static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t) * (void *const *)a;
  uintptr_t y = (uintptr_t) * (void *const *)b;
  return x < y ? -1 : x > y;
}

/* -------------------------------------------------------------- tests */

static void test_rudp_pool_init(void **state) {
  rudp_pool pool;
  rudp_test_mem cm;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_pool_init(&pool, 40, 8, &cm.mem);
  /* Rounded up to the alignment; nothing allocated yet. */
  assert_int_equal(48, pool.objsize);
  assert_int_equal(8, pool.perblock);
  assert_int_equal(0, pool.nblocks);
  assert_int_equal(0, pool.nused);
  assert_ptr_equal(&cm.mem, pool.mem);
  assert_int_equal(0, rudp_test_mem_nalloc(&cm));
  rudp_pool_free(&pool);
  assert_int_equal(0, cm.nfree);
  rudp_pool_free(NULL);

  /* Tiny objects still hold the free-list link. */
  rudp_pool_init(&pool, 1, 1, NULL);
  assert_int_equal(16, pool.objsize);
  assert_non_null(pool.mem);
  rudp_pool_free(&pool);
  rudp_pool_init(&pool, 16, 4, NULL);
  assert_int_equal(16, pool.objsize);
  rudp_pool_init(&pool, 17, 4, NULL);
  assert_int_equal(32, pool.objsize);
}

static void test_rudp_pool_distinct_aligned(void **state) {
  static const size_t sizes[] = {1, 8, 24, 100, 333};
  void *objs[100];
  rudp_pool pool;
  size_t s, i, n = rudp_arraylen(objs);
  (void)state;

  for (s = 0; s < rudp_arraylen(sizes); ++s) {
    rudp_pool_init(&pool, sizes[s], 7, NULL);
    for (i = 0; i < n; ++i) {
      objs[i] = rudp_pool_get(&pool);
      assert_non_null(objs[i]);
      assert_int_equal(0, (uintptr_t)objs[i] % 16);
      /* The whole object is usable (AddressSanitizer checks the bounds). */
      memset(objs[i], (int)i, sizes[s]);
    }
    assert_int_equal(n, pool.nused);
    assert_int_equal((n + 6) / 7, pool.nblocks);
    /* No two objects overlap, and none was corrupted by another. */
    for (i = 0; i < n; ++i) {
      assert_int_equal((unsigned char)i, ((unsigned char *)objs[i])[0]);
      assert_int_equal((unsigned char)i,
                       ((unsigned char *)objs[i])[sizes[s] - 1]);
    }
    qsort(objs, n, sizeof(objs[0]), cmp_ptr);
    for (i = 1; i < n; ++i) {
      assert_true((uintptr_t)objs[i] - (uintptr_t)objs[i - 1] >= sizes[s]);
    }
    rudp_pool_free(&pool);
  }
}

static void test_rudp_pool_reuse(void **state) {
  void *objs[20], *again[20];
  rudp_pool pool;
  rudp_test_mem cm;
  size_t i, round, n = rudp_arraylen(objs), nalloc;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_pool_init(&pool, 64, 8, &cm.mem);
  for (i = 0; i < n; ++i) {
    objs[i] = rudp_pool_get(&pool);
    assert_non_null(objs[i]);
  }
  nalloc = rudp_test_mem_nalloc(&cm);
  assert_int_equal(3, nalloc);
  assert_int_equal(3, pool.nblocks);

  /* The last object released is the next handed out. */
  rudp_pool_put(&pool, objs[5]);
  assert_ptr_equal(objs[5], rudp_pool_get(&pool));

  /* Release all, take them again, many times: the same objects, no block. */
  for (round = 0; round < 100; ++round) {
    for (i = 0; i < n; ++i) {
      rudp_pool_put(&pool, objs[i]);
    }
    assert_int_equal(0, pool.nused);
    for (i = 0; i < n; ++i) {
      again[i] = rudp_pool_get(&pool);
    }
    assert_int_equal(n, pool.nused);
    qsort(objs, n, sizeof(objs[0]), cmp_ptr);
    qsort(again, n, sizeof(again[0]), cmp_ptr);
    assert_memory_equal(objs, again, sizeof(objs));
  }
  assert_int_equal(nalloc, rudp_test_mem_nalloc(&cm));
  assert_int_equal(3, pool.nblocks);
  assert_int_equal(0, cm.nfree);
  rudp_pool_free(&pool);
  assert_int_equal(3, cm.nfree);
}

static void test_rudp_pool_nused(void **state) {
  void *a, *b, *c;
  rudp_pool pool;
  (void)state;

  rudp_pool_init(&pool, 32, 2, NULL);
  a = rudp_pool_get(&pool);
  assert_int_equal(1, pool.nused);
  b = rudp_pool_get(&pool);
  c = rudp_pool_get(&pool);
  assert_int_equal(3, pool.nused);
  assert_int_equal(2, pool.nblocks);
  rudp_pool_put(&pool, b);
  assert_int_equal(2, pool.nused);
  /* Putting NULL is a no-op. */
  rudp_pool_put(&pool, NULL);
  assert_int_equal(2, pool.nused);
  rudp_pool_put(&pool, a);
  rudp_pool_put(&pool, c);
  assert_int_equal(0, pool.nused);
  assert_int_equal(2, pool.nblocks);
  a = rudp_pool_get(&pool);
  assert_int_equal(1, pool.nused);
  rudp_pool_free(&pool);
  assert_int_equal(0, pool.nused);
  assert_int_equal(0, pool.nblocks);
  (void)a;
}

static void test_rudp_pool_free_releases_all(void **state) {
  rudp_pool pool;
  rudp_test_mem cm;
  size_t i;
  void *obj;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_pool_init(&pool, 200, 3, &cm.mem);
  for (i = 0; i < 31; ++i) {
    obj = rudp_pool_get(&pool);
    assert_non_null(obj);
    /* Some back on the free list, some still out, at free time. */
    if (i % 4 == 0) {
      rudp_pool_put(&pool, obj);
    }
  }
  assert_int_equal(pool.nblocks, rudp_test_mem_nalloc(&cm));
  assert_true(pool.nblocks >= 8);
  rudp_pool_free(&pool);
  assert_int_equal(rudp_test_mem_nalloc(&cm), cm.nfree);
  assert_null(pool.blocks);
  assert_null(pool.freelist);
  assert_int_equal(0, pool.nblocks);
  assert_int_equal(0, pool.nused);
  /* Freed twice: nothing more is released. */
  rudp_pool_free(&pool);
  assert_int_equal(rudp_test_mem_nalloc(&cm), cm.nfree);

  /* The pool can be used again after free. */
  obj = rudp_pool_get(&pool);
  assert_non_null(obj);
  assert_int_equal(1, pool.nused);
  rudp_pool_free(&pool);
  assert_int_equal(rudp_test_mem_nalloc(&cm), cm.nfree);
}

static void test_rudp_pool_get_nomem(void **state) {
  void *objs[4];
  rudp_pool pool;
  rudp_test_mem cm;
  size_t i;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_pool_init(&pool, 24, 4, &cm.mem);
  cm.fail = 1;
  assert_null(rudp_pool_get(&pool));
  assert_int_equal(0, pool.nused);
  assert_int_equal(0, pool.nblocks);

  /* A block's worth of objects needs no allocation. */
  cm.fail = 0;
  objs[0] = rudp_pool_get(&pool);
  assert_non_null(objs[0]);
  cm.fail = 1;
  for (i = 1; i < 4; ++i) {
    objs[i] = rudp_pool_get(&pool);
    assert_non_null(objs[i]);
  }
  assert_null(rudp_pool_get(&pool));
  assert_int_equal(4, pool.nused);
  assert_int_equal(1, pool.nblocks);

  /* A released object is available even while allocation fails. */
  rudp_pool_put(&pool, objs[2]);
  assert_ptr_equal(objs[2], rudp_pool_get(&pool));
  assert_null(rudp_pool_get(&pool));
  assert_int_equal(4, pool.nused);

  cm.fail = 0;
  assert_non_null(rudp_pool_get(&pool));
  assert_int_equal(5, pool.nused);
  assert_int_equal(2, pool.nblocks);
  rudp_pool_free(&pool);
  assert_int_equal(2, cm.nfree);

  /* Sizes whose block would overflow size_t fail without allocating. */
  rudp_test_mem_init(&cm);
  rudp_pool_init(&pool, SIZE_MAX, 1, &cm.mem);
  assert_null(rudp_pool_get(&pool));
  rudp_pool_init(&pool, SIZE_MAX - 20, 1, &cm.mem);
  assert_null(rudp_pool_get(&pool));
  rudp_pool_init(&pool, 1024, SIZE_MAX / 512, &cm.mem);
  assert_null(rudp_pool_get(&pool));
  assert_int_equal(0, pool.nused);
  assert_int_equal(0, pool.nblocks);
  assert_int_equal(0, rudp_test_mem_nalloc(&cm));
}

static void test_rudp_pool_random_churn(void **state) {
  void *live[64];
  rudp_pool pool;
  rudp_test_rng rng;
  size_t n = 0, i, k, peak = 0;
  (void)state;

  rudp_test_rng_init(&rng, 7);
  rudp_pool_init(&pool, 48, 5, NULL);
  for (i = 0; i < 20000; ++i) {
    if (n < rudp_arraylen(live) && (n == 0 || rudp_test_rng_below(&rng, 2))) {
      live[n] = rudp_pool_get(&pool);
      assert_non_null(live[n]);
      /* Stamp the object so overlap with a live one would show. */
      memset(live[n], (int)(uintptr_t)live[n] & 0xff, 48);
      ++n;
    } else {
      k = (size_t)rudp_test_rng_below(&rng, n);
      assert_int_equal((uintptr_t)live[k] & 0xff,
                       ((unsigned char *)live[k])[47]);
      rudp_pool_put(&pool, live[k]);
      live[k] = live[--n];
    }
    assert_int_equal(n, pool.nused);
    peak = rudp_max(peak, n);
  }
  /* Blocks track the peak, not the number of gets. */
  assert_int_equal((peak + 4) / 5, pool.nblocks);
  rudp_pool_free(&pool);
}

/*
 * Trimming, one object per block (the chunk pool): every free block goes,
 * the objects in use stay intact and usable, the next get allocates.
 */
static void test_rudp_pool_trim_one_per_block(void **state) {
  void *objs[6];
  rudp_pool pool;
  rudp_test_mem cm;
  size_t i;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_pool_init(&pool, 1000, 1, &cm.mem);
  /* Nothing to trim in an empty pool. */
  assert_int_equal(0, rudp_pool_trim(&pool));
  for (i = 0; i < 6; ++i) {
    objs[i] = rudp_pool_get(&pool);
    assert_non_null(objs[i]);
    memset(objs[i], (int)(i + 1), 1000);
  }
  /* All in use: nothing to trim. */
  assert_int_equal(0, rudp_pool_trim(&pool));
  assert_int_equal(6, pool.nblocks);
  /* Objects 0, 2, 3 and 5 back (in a mixed order); 1 and 4 in use. */
  rudp_pool_put(&pool, objs[3]);
  rudp_pool_put(&pool, objs[0]);
  rudp_pool_put(&pool, objs[5]);
  rudp_pool_put(&pool, objs[2]);
  assert_int_equal(4, rudp_pool_trim(&pool));
  assert_int_equal(2, pool.nblocks);
  assert_int_equal(2, pool.nused);
  assert_null(pool.freelist);
  assert_int_equal(4, cm.nfree);
  assert_int_equal(2, cm.nlive);
  /* The two left are untouched (AddressSanitizer checks the frees). */
  for (i = 0; i < 1000; ++i) {
    assert_int_equal(2, ((unsigned char *)objs[1])[i]);
    assert_int_equal(5, ((unsigned char *)objs[4])[i]);
  }
  assert_int_equal(0, rudp_pool_trim(&pool));
  /* A get allocates a new block; a put and a trim free it again. */
  objs[0] = rudp_pool_get(&pool);
  assert_non_null(objs[0]);
  assert_int_equal(7, rudp_test_mem_nalloc(&cm));
  assert_int_equal(3, pool.nblocks);
  rudp_pool_put(&pool, objs[0]);
  rudp_pool_put(&pool, objs[4]);
  assert_int_equal(2, rudp_pool_trim(&pool));
  assert_int_equal(1, pool.nblocks);
  assert_int_equal(1, cm.nlive);
  /* The last one back: trimming empties the pool, which stays usable. */
  rudp_pool_put(&pool, objs[1]);
  assert_int_equal(1, rudp_pool_trim(&pool));
  assert_int_equal(0, pool.nblocks);
  assert_int_equal(0, cm.nlive);
  assert_null(pool.blocks);
  objs[0] = rudp_pool_get(&pool);
  assert_non_null(objs[0]);
  assert_int_equal(1, pool.nused);
  rudp_pool_free(&pool);
  assert_int_equal(0, cm.nlive);
}

/* With several objects per block, blocks go only when the pool is unused. */
static void test_rudp_pool_trim_many_per_block(void **state) {
  void *objs[10];
  rudp_pool pool;
  rudp_test_mem cm;
  size_t i;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_pool_init(&pool, 32, 4, &cm.mem);
  for (i = 0; i < 10; ++i) {
    objs[i] = rudp_pool_get(&pool);
  }
  assert_int_equal(3, pool.nblocks);
  /* The third block's two objects are free, but it is not found from
   * them: nothing goes while any object is in use. */
  rudp_pool_put(&pool, objs[8]);
  rudp_pool_put(&pool, objs[9]);
  for (i = 1; i < 8; ++i) {
    rudp_pool_put(&pool, objs[i]);
  }
  assert_int_equal(0, rudp_pool_trim(&pool));
  assert_int_equal(3, pool.nblocks);
  assert_int_equal(1, pool.nused);
  rudp_pool_put(&pool, objs[0]);
  assert_int_equal(3, rudp_pool_trim(&pool));
  assert_int_equal(0, pool.nblocks);
  assert_int_equal(0, cm.nlive);
  objs[0] = rudp_pool_get(&pool);
  assert_non_null(objs[0]);
  assert_int_equal(1, pool.nblocks);
  rudp_pool_free(&pool);
  assert_int_equal(0, cm.nlive);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_pool_init),
      cmocka_unit_test(test_rudp_pool_distinct_aligned),
      cmocka_unit_test(test_rudp_pool_reuse),
      cmocka_unit_test(test_rudp_pool_nused),
      cmocka_unit_test(test_rudp_pool_free_releases_all),
      cmocka_unit_test(test_rudp_pool_get_nomem),
      cmocka_unit_test(test_rudp_pool_random_churn),
      cmocka_unit_test(test_rudp_pool_trim_one_per_block),
      cmocka_unit_test(test_rudp_pool_trim_many_per_block),
  };

  return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
