/*
 * Tests for the 64-bit key hash map (lib/rudp_map.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "rudp_map.h"
#include "rudp_macro.h"
#include "rudp_test_helper.h"

/* ------------------------------------------------------------ helpers */

/* count_each is a rudp_map_each callback counting calls in *(size_t *)arg. */
static void count_each(uint64_t key, void *value, void *arg) {
  (void)key;
  (void)value;
  ++*(size_t *)arg;
}

/* assert_load checks the table shape: power-of-two size, load <= 3/4. */
static void assert_load(const rudp_map *map) {
  size_t i, n = 0;

  assert_true(map->cap == 0 || (map->cap & (map->cap - 1)) == 0);
  assert_true(map->len * 4 <= map->cap * 3);
  for (i = 0; i < map->cap; ++i) {
    n += map->slots[i].value != NULL;
  }
  assert_int_equal(map->len, n);
}

/*
 * home_of returns the slot |key| lands in when alone in an 8-slot table,
 * found through the public layout rather than by copying the hash.
 */
static size_t home_of(uint64_t key) {
  rudp_map map;
  int x;
  size_t i, home = SIZE_MAX;

  rudp_map_init(&map, NULL);
  assert_int_equal(0, rudp_map_insert(&map, key, &x));
  assert_int_equal(8, map.cap);
  for (i = 0; i < map.cap; ++i) {
    if (map.slots[i].value) {
      home = i;
    }
  }
  rudp_map_free(&map);
  assert_true(home < 8);
  return home;
}

/* -------------------------------------------------------------- tests */

static void test_rudp_map_empty(void **state) {
  rudp_map map;
  rudp_test_mem cm;
  size_t n = 0;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_map_init(&map, &cm.mem);
  assert_ptr_equal(&cm.mem, map.mem);
  assert_int_equal(0, rudp_map_len(&map));
  assert_null(rudp_map_find(&map, 0));
  assert_null(rudp_map_find(&map, UINT64_MAX));
  assert_null(rudp_map_remove(&map, 4));
  rudp_map_each(&map, count_each, &n);
  assert_int_equal(0, n);
  assert_int_equal(0, rudp_test_mem_nalloc(&cm));
  rudp_map_free(&map);
  rudp_map_free(&map);
  rudp_map_free(NULL);
  assert_int_equal(0, cm.nfree);

  rudp_map_init(&map, NULL);
  assert_non_null(map.mem);
  rudp_map_free(&map);
}

static void test_rudp_map_insert_find_remove(void **state) {
  rudp_map map;
  int a, b, c;
  (void)state;

  rudp_map_init(&map, NULL);
  assert_int_equal(0, rudp_map_insert(&map, 0, &a));
  assert_int_equal(0, rudp_map_insert(&map, 4, &b));
  assert_int_equal(0, rudp_map_insert(&map, UINT64_MAX, &c));
  assert_int_equal(3, rudp_map_len(&map));
  assert_ptr_equal(&a, rudp_map_find(&map, 0));
  assert_ptr_equal(&b, rudp_map_find(&map, 4));
  assert_ptr_equal(&c, rudp_map_find(&map, UINT64_MAX));
  assert_null(rudp_map_find(&map, 1));
  assert_null(rudp_map_find(&map, 8));

  assert_ptr_equal(&b, rudp_map_remove(&map, 4));
  assert_int_equal(2, rudp_map_len(&map));
  assert_null(rudp_map_find(&map, 4));
  assert_null(rudp_map_remove(&map, 4));
  assert_int_equal(2, rudp_map_len(&map));
  assert_ptr_equal(&a, rudp_map_find(&map, 0));
  assert_ptr_equal(&c, rudp_map_find(&map, UINT64_MAX));

  /* A removed key can come back with another value. */
  assert_int_equal(0, rudp_map_insert(&map, 4, &a));
  assert_ptr_equal(&a, rudp_map_find(&map, 4));
  assert_int_equal(3, rudp_map_len(&map));
  rudp_map_free(&map);
}

static void test_rudp_map_insert_errors(void **state) {
  rudp_map map;
  int a, b;
  (void)state;

  rudp_map_init(&map, NULL);
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT, rudp_map_insert(&map, 1, NULL));
  assert_int_equal(0, rudp_map_len(&map));
  assert_null(rudp_map_find(&map, 1));

  assert_int_equal(0, rudp_map_insert(&map, 8, &a));
  assert_int_equal(RUDP_ERR_INVALID_STATE, rudp_map_insert(&map, 8, &b));
  assert_int_equal(RUDP_ERR_INVALID_STATE, rudp_map_insert(&map, 8, &a));
  assert_int_equal(RUDP_ERR_INVALID_ARGUMENT, rudp_map_insert(&map, 8, NULL));
  assert_ptr_equal(&a, rudp_map_find(&map, 8));
  assert_int_equal(1, rudp_map_len(&map));
  rudp_map_free(&map);
}

static void test_rudp_map_growth(void **state) {
  static int vals[20000];
  rudp_map map;
  rudp_test_mem cm;
  size_t i, cap = 0, ngrow = 0;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_map_init(&map, &cm.mem);
  /* Client-initiated bidirectional stream IDs: 0, 4, 8, ... */
  for (i = 0; i < rudp_arraylen(vals); ++i) {
    assert_int_equal(0, rudp_map_insert(&map, 4 * (uint64_t)i, &vals[i]));
    if (map.cap != cap) {
      /* It only grows when the 3/4 load would be exceeded, by doubling. */
      assert_true(cap == 0 || map.cap == 2 * cap);
      assert_true(cap == 0 || i == cap / 4 * 3);
      cap = map.cap;
      ++ngrow;
    }
  }
  assert_load(&map);
  assert_int_equal(rudp_arraylen(vals), rudp_map_len(&map));
  for (i = 0; i < rudp_arraylen(vals); ++i) {
    assert_ptr_equal(&vals[i], rudp_map_find(&map, 4 * (uint64_t)i));
    assert_null(rudp_map_find(&map, 4 * (uint64_t)i + 1));
  }
  /* One table per size, every old one released. */
  assert_int_equal(ngrow, rudp_test_mem_nalloc(&cm));
  assert_int_equal(ngrow - 1, cm.nfree);

  /* Removing everything and refilling allocates nothing. */
  for (i = 0; i < rudp_arraylen(vals); ++i) {
    assert_ptr_equal(&vals[i], rudp_map_remove(&map, 4 * (uint64_t)i));
  }
  assert_int_equal(0, rudp_map_len(&map));
  assert_load(&map);
  for (i = 0; i < rudp_arraylen(vals); ++i) {
    assert_int_equal(0, rudp_map_insert(&map, 4 * (uint64_t)i + 1, &vals[i]));
  }
  assert_int_equal(ngrow, rudp_test_mem_nalloc(&cm));
  assert_int_equal(cap, map.cap);
  rudp_map_free(&map);
  assert_int_equal(ngrow, cm.nfree);
}

typedef struct each_ctx {
  unsigned char *seen;
  size_t n;
  int *vals;
} each_ctx;

/* mark_each checks each entry's value matches its key and marks it seen. */
static void mark_each(uint64_t key, void *value, void *arg) {
  each_ctx *ctx = arg;
  size_t i = (size_t)(key / 12);

  assert_int_equal(0, key % 12);
  assert_true(i < ctx->n);
  assert_ptr_equal(&ctx->vals[i], value);
  assert_int_equal(0, ctx->seen[i]);
  ctx->seen[i] = 1;
}

static void test_rudp_map_each(void **state) {
  static int vals[1000];
  static unsigned char seen[1000];
  rudp_map map;
  each_ctx ctx;
  size_t i, n;
  (void)state;

  rudp_map_init(&map, NULL);
  for (i = 0; i < rudp_arraylen(vals); ++i) {
    assert_int_equal(0, rudp_map_insert(&map, 12 * (uint64_t)i, &vals[i]));
  }
  /* Every third entry removed, so each sees holes and shifted entries. */
  for (i = 0; i < rudp_arraylen(vals); i += 3) {
    assert_ptr_equal(&vals[i], rudp_map_remove(&map, 12 * (uint64_t)i));
  }
  ctx.seen = seen;
  ctx.n = rudp_arraylen(vals);
  ctx.vals = vals;
  memset(seen, 0, sizeof(seen));
  rudp_map_each(&map, mark_each, &ctx);
  for (i = 0; i < rudp_arraylen(vals); ++i) {
    assert_int_equal(i % 3 != 0, seen[i]);
  }
  n = 0;
  rudp_map_each(&map, count_each, &n);
  assert_int_equal(rudp_map_len(&map), n);
  assert_int_equal(666, n);
  rudp_map_free(&map);
}

static void test_rudp_map_nomem(void **state) {
  static int vals[64];
  rudp_map map;
  rudp_test_mem cm;
  size_t i, k, cap;
  rudp_map_entry *slots;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_map_init(&map, &cm.mem);
  cm.fail = 1;
  assert_int_equal(RUDP_ERR_NOMEM, rudp_map_insert(&map, 0, &vals[0]));
  assert_int_equal(0, rudp_map_len(&map));
  assert_null(rudp_map_find(&map, 0));
  cm.fail = 0;

  /* Fill to the load limit: the next insert must grow. */
  for (i = 0; rudp_map_len(&map) == 0 || (i + 1) * 4 <= map.cap * 3; ++i) {
    assert_int_equal(0, rudp_map_insert(&map, 4 * (uint64_t)i, &vals[i]));
  }
  cap = map.cap;
  slots = map.slots;
  cm.fail = 1;
  assert_int_equal(RUDP_ERR_NOMEM,
                   rudp_map_insert(&map, 4 * (uint64_t)i, &vals[i]));
  /* Intact: same table, same entries, the new key absent. */
  assert_int_equal(cap, map.cap);
  assert_ptr_equal(slots, map.slots);
  assert_int_equal(i, rudp_map_len(&map));
  assert_null(rudp_map_find(&map, 4 * (uint64_t)i));
  for (k = 0; k < i; ++k) {
    assert_ptr_equal(&vals[k], rudp_map_find(&map, 4 * (uint64_t)k));
  }
  /* A duplicate is still reported as such, not as NOMEM. */
  assert_int_equal(RUDP_ERR_INVALID_STATE, rudp_map_insert(&map, 0, &vals[1]));
  /* Removal needs no memory; then there is room again. */
  assert_ptr_equal(&vals[0], rudp_map_remove(&map, 0));
  assert_int_equal(0, rudp_map_insert(&map, 4 * (uint64_t)i, &vals[i]));
  assert_int_equal(cap, map.cap);
  cm.fail = 0;
  assert_int_equal(0, rudp_map_insert(&map, 0, &vals[0]));
  assert_int_equal(2 * cap, map.cap);
  for (k = 0; k <= i; ++k) {
    assert_ptr_equal(&vals[k], rudp_map_find(&map, 4 * (uint64_t)k));
  }
  rudp_map_free(&map);
  assert_int_equal(rudp_test_mem_nalloc(&cm), cm.nfree);
}

static void test_rudp_map_collisions_wrap(void **state) {
  /* Keys sharing home slot 6 and 7, so the chain wraps past slot 0. */
  uint64_t at6[3], at7[2], at0 = 0, key;
  size_t n6 = 0, n7 = 0, h;
  int have0 = 0, vals[6];
  uint64_t keys[6];
  rudp_map map;
  int order;
  size_t i, j;
  static const size_t orders[][6] = {{0, 1, 2, 3, 4, 5},
                                     {5, 4, 3, 2, 1, 0},
                                     {1, 3, 5, 0, 2, 4},
                                     {2, 0, 4, 1, 5, 3},
                                     {3, 5, 1, 4, 0, 2}};
  (void)state;

  for (key = 0; n6 < 3 || n7 < 2 || !have0; ++key) {
    h = home_of(key);
    if (h == 6 && n6 < 3) {
      at6[n6++] = key;
    } else if (h == 7 && n7 < 2) {
      at7[n7++] = key;
    } else if (h == 0 && !have0) {
      at0 = key;
      have0 = 1;
    }
  }
  /*
   * Insertion order 6, 6, 7, 6, 0, 7 gives slots 6, 7, 0, 1, 2, 3: the
   * slot-0 key sits two slots from home, behind keys homed before it.
   */
  keys[0] = at6[0];
  keys[1] = at6[1];
  keys[2] = at7[0];
  keys[3] = at6[2];
  keys[4] = at0;
  keys[5] = at7[1];

  for (order = 0; order < (int)rudp_arraylen(orders); ++order) {
    rudp_map_init(&map, NULL);
    for (i = 0; i < 6; ++i) {
      assert_int_equal(0, rudp_map_insert(&map, keys[i], &vals[i]));
    }
    assert_int_equal(8, map.cap);
    assert_ptr_equal(&vals[0], map.slots[6].value);
    assert_ptr_equal(&vals[1], map.slots[7].value);
    assert_ptr_equal(&vals[2], map.slots[0].value);
    assert_ptr_equal(&vals[3], map.slots[1].value);
    assert_ptr_equal(&vals[4], map.slots[2].value);
    assert_ptr_equal(&vals[5], map.slots[3].value);
    assert_null(map.slots[4].value);
    assert_null(map.slots[5].value);

    /* Remove in this order; everything left stays reachable. */
    for (i = 0; i < 6; ++i) {
      size_t r = orders[order][i];
      assert_ptr_equal(&vals[r], rudp_map_remove(&map, keys[r]));
      assert_null(rudp_map_find(&map, keys[r]));
      assert_int_equal(5 - i, rudp_map_len(&map));
      for (j = i + 1; j < 6; ++j) {
        size_t k = orders[order][j];
        assert_ptr_equal(&vals[k], rudp_map_find(&map, keys[k]));
      }
      assert_load(&map);
    }
    rudp_map_free(&map);
  }

  /* Backward shift: removing slot 6 pulls the chain back by one each. */
  rudp_map_init(&map, NULL);
  for (i = 0; i < 6; ++i) {
    assert_int_equal(0, rudp_map_insert(&map, keys[i], &vals[i]));
  }
  assert_ptr_equal(&vals[0], rudp_map_remove(&map, keys[0]));
  assert_ptr_equal(&vals[1], map.slots[6].value);
  assert_ptr_equal(&vals[2], map.slots[7].value);
  assert_ptr_equal(&vals[3], map.slots[0].value);
  /* The slot-0 key cannot reach its home (the 6-key moved there). */
  assert_ptr_equal(&vals[4], map.slots[1].value);
  assert_ptr_equal(&vals[5], map.slots[2].value);
  assert_null(map.slots[3].value);
  rudp_map_free(&map);
}

static void test_rudp_map_backward_shift_keeps_home(void **state) {
  /* An entry at its home slot must not be pulled back into a hole. */
  uint64_t a = 0, b, c, key;
  int va, vb, vc, found_b = 0, found_c = 0;
  size_t ha;
  rudp_map map;
  (void)state;

  ha = home_of(a);
  b = c = 0;
  for (key = 1; !found_b || !found_c; ++key) {
    if (!found_b && home_of(key) == ha) {
      b = key;
      found_b = 1;
    } else if (!found_c && home_of(key) == ((ha + 2) & 7)) {
      c = key;
      found_c = 1;
    }
  }
  /* a at home, b one past it, c at its own home right after b. */
  rudp_map_init(&map, NULL);
  assert_int_equal(0, rudp_map_insert(&map, a, &va));
  assert_int_equal(0, rudp_map_insert(&map, b, &vb));
  assert_int_equal(0, rudp_map_insert(&map, c, &vc));
  assert_ptr_equal(&vc, map.slots[(ha + 2) & 7].value);
  assert_ptr_equal(&va, rudp_map_remove(&map, a));
  /* b moves into a's slot; c stays in its home. */
  assert_ptr_equal(&vb, map.slots[ha].value);
  assert_null(map.slots[(ha + 1) & 7].value);
  assert_ptr_equal(&vc, map.slots[(ha + 2) & 7].value);
  assert_ptr_equal(&vb, rudp_map_find(&map, b));
  assert_ptr_equal(&vc, rudp_map_find(&map, c));
  rudp_map_free(&map);
}

/* ---------------------------------------------------- property test */

#define NKEYS 3000

static void test_rudp_map_property(void **state) {
  static uint64_t keys[NKEYS];
  static int vals[NKEYS];
  static unsigned char present[NKEYS];
  static const size_t pools[] = {12, 200, NKEYS};
  rudp_test_rng rng;
  rudp_map map;
  rudp_test_mem cm;
  uint64_t seed;
  size_t npool, i, k, op, len, n;
  int rv, dup;
  (void)state;

  for (seed = 1; seed <= 24; ++seed) {
    rudp_test_rng_init(&rng, seed);
    npool = pools[seed % rudp_arraylen(pools)];
    for (i = 0; i < npool; ++i) {
      switch (i % 4) {
      case 0:
        /* Sequential stream IDs of one type. */
        keys[i] = 4 * (uint64_t)(i / 4) + seed % 4;
        break;
      case 1:
        keys[i] = rudp_test_rng_next(&rng);
        break;
      case 2:
        /* Keys differing only in high bits. */
        keys[i] = (uint64_t)(i / 4) << 40;
        break;
      default:
        keys[i] = UINT64_MAX - (uint64_t)(i / 4);
        break;
      }
    }
    /* The families can overlap (0 is in two); make every key unique. */
    for (i = 1; i < npool; ++i) {
      do {
        dup = 0;
        for (k = 0; k < i && !dup; ++k) {
          dup = keys[k] == keys[i];
        }
        if (dup) {
          keys[i] = rudp_test_rng_next(&rng);
        }
      } while (dup);
    }
    memset(present, 0, sizeof(present));
    len = 0;
    rudp_test_mem_init(&cm);
    rudp_map_init(&map, &cm.mem);

    for (op = 0; op < 10000; ++op) {
      k = (size_t)rudp_test_rng_below(&rng, npool);
      switch (rudp_test_rng_below(&rng, 3)) {
      case 0:
        /* Now and then the allocator fails, to exercise NOMEM midway. */
        cm.fail = rudp_test_rng_below(&rng, 50) == 0;
        rv = rudp_map_insert(&map, keys[k], &vals[k]);
        if (present[k]) {
          assert_int_equal(RUDP_ERR_INVALID_STATE, rv);
        } else if (rv == RUDP_ERR_NOMEM) {
          /* Only when the table had to grow. */
          assert_true(cm.fail);
          assert_true((len + 1) * 4 > map.cap * 3);
        } else {
          assert_int_equal(0, rv);
          present[k] = 1;
          ++len;
        }
        cm.fail = 0;
        break;
      case 1:
        assert_ptr_equal(present[k] ? &vals[k] : NULL,
                         rudp_map_find(&map, keys[k]));
        break;
      default:
        assert_ptr_equal(present[k] ? &vals[k] : NULL,
                         rudp_map_remove(&map, keys[k]));
        if (present[k]) {
          present[k] = 0;
          --len;
        }
        break;
      }
      assert_int_equal(len, rudp_map_len(&map));
      if (op % 500 == 0) {
        assert_load(&map);
        for (i = 0; i < npool; ++i) {
          assert_ptr_equal(present[i] ? &vals[i] : NULL,
                           rudp_map_find(&map, keys[i]));
        }
        n = 0;
        rudp_map_each(&map, count_each, &n);
        assert_int_equal(len, n);
      }
    }
    for (i = 0; i < npool; ++i) {
      assert_ptr_equal(present[i] ? &vals[i] : NULL,
                       rudp_map_find(&map, keys[i]));
    }
    rudp_map_free(&map);
    assert_int_equal(rudp_test_mem_nalloc(&cm), cm.nfree);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_map_empty),
      cmocka_unit_test(test_rudp_map_insert_find_remove),
      cmocka_unit_test(test_rudp_map_insert_errors),
      cmocka_unit_test(test_rudp_map_growth),
      cmocka_unit_test(test_rudp_map_each),
      cmocka_unit_test(test_rudp_map_nomem),
      cmocka_unit_test(test_rudp_map_collisions_wrap),
      cmocka_unit_test(test_rudp_map_backward_shift_keeps_home),
      cmocka_unit_test(test_rudp_map_property),
  };

  return cmocka_run_group_tests_name("map", tests, NULL, NULL);
}
