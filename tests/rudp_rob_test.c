/*
 * Tests for the reorder buffer (lib/rudp_rob.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rudp_rob.h"
#include "rudp_macro.h"
#include "rudp_test_helper.h"

/* ---------------------------------------------------------- helpers */

/* pat is the byte at stream offset |off| of the deterministic test stream. */
static uint8_t pat(uint64_t off) {
  return (uint8_t)((off * 131u) ^ (off >> 8) ^ (off >> 16));
}

/* fill_pat writes the test stream's [off, off + len) to |buf|. */
static void fill_pat(uint8_t *buf, uint64_t off, size_t len) {
  size_t i;

  for (i = 0; i < len; ++i) {
    buf[i] = pat(off + i);
  }
}

/* push_pat pushes the test stream's [off, off + len) and returns the result. */
static rudp_ssize push_pat(rudp_rob *rob, uint64_t off, size_t len) {
  uint8_t *buf = malloc(len ? len : 1);
  rudp_ssize rv;

  assert_non_null(buf);
  fill_pat(buf, off, len);
  rv = rudp_rob_push(rob, off, buf, len);
  free(buf);
  return rv;
}

/* read_check reads exactly |len| bytes and checks them against the stream. */
static void read_check(rudp_rob *rob, size_t len) {
  uint8_t *buf = malloc(len ? len : 1);
  uint64_t off = rob->read_offset;
  size_t i;

  assert_non_null(buf);
  assert_int_equal(len, rudp_rob_read(rob, buf, len));
  for (i = 0; i < len; ++i) {
    assert_int_equal(pat(off + i), buf[i]);
  }
  free(buf);
}

/* -------------------------------------------------------------- tests */

static void test_rudp_rob_empty(void **state) {
  rudp_rob rob;
  const uint8_t *p = (const uint8_t *)"x";
  uint8_t buf[4];
  (void)state;

  rudp_rob_init(&rob, 4096, RUDP_ROB_DEFAULT_MAX_GAPS, NULL);
  assert_null(rob.buf);
  assert_int_equal(0, rudp_rob_readable(&rob));
  assert_int_equal(0, rudp_rob_buffered(&rob));
  assert_int_equal(0, rudp_rob_peek(&rob, &p));
  assert_null(p);
  assert_int_equal(0, rudp_rob_read(&rob, buf, sizeof(buf)));
  /* A zero-length push stores nothing and allocates nothing. */
  assert_int_equal(0, rudp_rob_push(&rob, 10, buf, 0));
  assert_null(rob.buf);
  rudp_rob_consume(&rob, 0);
  assert_int_equal(0, rob.read_offset);
  rudp_rob_free(&rob);
  rudp_rob_free(&rob);
  rudp_rob_free(NULL);
}

static void test_rudp_rob_in_order(void **state) {
  rudp_rob rob;
  (void)state;

  rudp_rob_init(&rob, 1 << 16, RUDP_ROB_DEFAULT_MAX_GAPS, NULL);
  assert_int_equal(100, push_pat(&rob, 0, 100));
  assert_int_equal(100, rudp_rob_readable(&rob));
  assert_int_equal(50, push_pat(&rob, 100, 50));
  assert_int_equal(1, push_pat(&rob, 150, 1));
  assert_int_equal(151, rudp_rob_readable(&rob));
  assert_int_equal(151, rudp_rob_buffered(&rob));
  read_check(&rob, 70);
  assert_int_equal(70, rob.read_offset);
  assert_int_equal(81, rudp_rob_readable(&rob));
  assert_int_equal(81, rudp_rob_buffered(&rob));
  read_check(&rob, 81);
  assert_int_equal(0, rudp_rob_readable(&rob));
  assert_int_equal(0, rudp_rob_buffered(&rob));
  assert_int_equal(0, rudp_iset_len(&rob.have));
  /* The ring is kept for the next data. */
  assert_non_null(rob.buf);
  rudp_rob_free(&rob);
}

static void test_rudp_rob_out_of_order_fill(void **state) {
  rudp_rob rob;
  (void)state;

  rudp_rob_init(&rob, 1 << 16, RUDP_ROB_DEFAULT_MAX_GAPS, NULL);
  assert_int_equal(10, push_pat(&rob, 10, 10));
  assert_int_equal(10, push_pat(&rob, 30, 10));
  assert_int_equal(0, rudp_rob_readable(&rob));
  assert_int_equal(20, rudp_rob_buffered(&rob));
  assert_int_equal(2, rudp_iset_len(&rob.have));

  assert_int_equal(10, push_pat(&rob, 0, 10));
  assert_int_equal(20, rudp_rob_readable(&rob));
  assert_int_equal(30, rudp_rob_buffered(&rob));

  assert_int_equal(10, push_pat(&rob, 20, 10));
  assert_int_equal(40, rudp_rob_readable(&rob));
  assert_int_equal(1, rudp_iset_len(&rob.have));
  read_check(&rob, 40);
  rudp_rob_free(&rob);
}

static void test_rudp_rob_duplicates_and_overlaps(void **state) {
  rudp_rob rob;
  uint8_t junk[64];
  (void)state;

  memset(junk, 0xee, sizeof(junk));
  rudp_rob_init(&rob, 1 << 16, RUDP_ROB_DEFAULT_MAX_GAPS, NULL);
  assert_int_equal(10, push_pat(&rob, 0, 10));
  /* Exact duplicate: nothing new (even with different bytes). */
  assert_int_equal(0, rudp_rob_push(&rob, 0, junk, 10));
  assert_int_equal(0, push_pat(&rob, 2, 5));
  /* Overlap at the front: only [10, 15) is new. */
  assert_int_equal(5, push_pat(&rob, 5, 10));
  assert_int_equal(10, push_pat(&rob, 20, 10));
  assert_int_equal(10, push_pat(&rob, 40, 10));
  /*
   * [12, 45) spans [15, 20) and [30, 40) as gaps between held bytes; the
   * held bytes must not be overwritten by the junk-marked copy.
   */
  {
    uint8_t buf[33];
    size_t i;
    fill_pat(buf, 12, sizeof(buf));
    for (i = 0; i < sizeof(buf); ++i) {
      uint64_t off = 12 + i;
      if ((off >= 12 && off < 15) || (off >= 20 && off < 30) || off >= 40) {
        buf[i] = 0xee; /* a byte already held: must be ignored */
      }
    }
    assert_int_equal(15, rudp_rob_push(&rob, 12, buf, sizeof(buf)));
  }
  assert_int_equal(50, rudp_rob_readable(&rob));
  assert_int_equal(50, rudp_rob_buffered(&rob));
  assert_int_equal(1, rudp_iset_len(&rob.have));
  /* Everything duplicated again: still nothing new. */
  assert_int_equal(0, rudp_rob_push(&rob, 0, junk, 50));
  read_check(&rob, 50);
  rudp_rob_free(&rob);
}

static void test_rudp_rob_below_read_offset(void **state) {
  rudp_rob rob;
  uint8_t junk[200];
  (void)state;

  memset(junk, 0xee, sizeof(junk));
  rudp_rob_init(&rob, 1 << 16, RUDP_ROB_DEFAULT_MAX_GAPS, NULL);
  assert_int_equal(100, push_pat(&rob, 0, 100));
  read_check(&rob, 100);
  /* Entirely below: ignored. */
  assert_int_equal(0, rudp_rob_push(&rob, 50, junk, 50));
  assert_int_equal(0, rudp_rob_push(&rob, 0, junk, 100));
  assert_int_equal(0, rudp_rob_readable(&rob));
  assert_int_equal(0, rudp_rob_buffered(&rob));
  /* Straddling: only the part from the read offset is stored. */
  assert_int_equal(20, push_pat(&rob, 50, 70));
  assert_int_equal(20, rudp_rob_readable(&rob));
  read_check(&rob, 20);
  assert_int_equal(120, rob.read_offset);
  rudp_rob_free(&rob);
}

static void test_rudp_rob_max_cap_boundary(void **state) {
  rudp_rob rob;
  (void)state;

  /* 1000 is not a power of two: the ring may be 1024, the bound is 1000. */
  rudp_rob_init(&rob, 1000, RUDP_ROB_DEFAULT_MAX_GAPS, NULL);
  assert_int_equal(RUDP_ERR_NOBUF, push_pat(&rob, 999, 2));
  assert_int_equal(RUDP_ERR_NOBUF, push_pat(&rob, 1000, 1));
  assert_int_equal(RUDP_ERR_NOBUF, push_pat(&rob, 0, 1001));
  assert_int_equal(0, rudp_rob_buffered(&rob));
  assert_int_equal(1, push_pat(&rob, 999, 1));
  assert_int_equal(999, push_pat(&rob, 0, 999));
  assert_int_equal(1000, rudp_rob_readable(&rob));
  assert_true(rob.cap <= 1024);
  assert_int_equal(RUDP_ERR_NOBUF, push_pat(&rob, 1000, 1));
  assert_int_equal(1000, rudp_rob_buffered(&rob));
  /* Reading one byte opens exactly one byte of room. */
  read_check(&rob, 1);
  assert_int_equal(RUDP_ERR_NOBUF, push_pat(&rob, 1000, 2));
  assert_int_equal(1, push_pat(&rob, 1000, 1));
  assert_int_equal(1000, rudp_rob_readable(&rob));
  read_check(&rob, 1000);
  rudp_rob_free(&rob);

  /* max_cap 0 buffers nothing. */
  rudp_rob_init(&rob, 0, RUDP_ROB_DEFAULT_MAX_GAPS, NULL);
  assert_int_equal(RUDP_ERR_NOBUF, push_pat(&rob, 0, 1));
  rudp_rob_free(&rob);
}

static void test_rudp_rob_offset_overflow(void **state) {
  rudp_rob rob;
  uint8_t buf[16] = {0};
  (void)state;

  rudp_rob_init(&rob, (size_t)-1, RUDP_ROB_DEFAULT_MAX_GAPS, NULL);
  assert_int_equal(RUDP_ERR_NOBUF,
                   rudp_rob_push(&rob, UINT64_MAX - 5, buf, sizeof(buf)));
  assert_null(rob.buf);
  assert_int_equal(0, rudp_rob_buffered(&rob));
  rudp_rob_free(&rob);
}

static void test_rudp_rob_gap_bound(void **state) {
  rudp_rob rob;
  uint8_t junk[10];
  (void)state;

  memset(junk, 0xee, sizeof(junk));
  rudp_rob_init(&rob, 1 << 16, 3, NULL);
  assert_int_equal(10, push_pat(&rob, 10, 10));
  assert_int_equal(10, push_pat(&rob, 30, 10));
  assert_int_equal(10, push_pat(&rob, 50, 10));
  /* A fourth separate range is refused; nothing changes. */
  assert_int_equal(RUDP_ERR_NOBUF, rudp_rob_push(&rob, 70, junk, 10));
  assert_int_equal(RUDP_ERR_NOBUF, rudp_rob_push(&rob, 0, junk, 5));
  assert_int_equal(3, rudp_iset_len(&rob.have));
  assert_int_equal(30, rudp_rob_buffered(&rob));
  assert_int_equal(0, rudp_rob_readable(&rob));
  /* Extending a range, or merging two, needs no new range. */
  assert_int_equal(5, push_pat(&rob, 60, 5));
  assert_int_equal(10, push_pat(&rob, 20, 10));
  assert_int_equal(2, rudp_iset_len(&rob.have));
  /* Now there is room for a new range again: [70, 80) must be fresh. */
  assert_int_equal(10, push_pat(&rob, 70, 10));
  assert_int_equal(10, push_pat(&rob, 0, 10));
  assert_int_equal(3, rudp_iset_len(&rob.have));
  assert_int_equal(40, rudp_rob_readable(&rob));
  read_check(&rob, 40);
  assert_int_equal(10, push_pat(&rob, 40, 10));
  assert_int_equal(25, rudp_rob_readable(&rob));
  read_check(&rob, 25);
  assert_int_equal(0, rudp_rob_readable(&rob));
  assert_int_equal(5, push_pat(&rob, 65, 5));
  read_check(&rob, 15);
  rudp_rob_free(&rob);
}

static void test_rudp_rob_ring_wrap_peek(void **state) {
  rudp_rob rob;
  const uint8_t *p;
  size_t n, i;
  (void)state;

  rudp_rob_init(&rob, 1024, RUDP_ROB_DEFAULT_MAX_GAPS, NULL);
  assert_int_equal(1000, push_pat(&rob, 0, 1000));
  assert_int_equal(1024, rob.cap);
  read_check(&rob, 1000);
  /* [1000, 1600) wraps: 24 bytes at the end of the ring, 576 at its start. */
  assert_int_equal(600, push_pat(&rob, 1000, 600));
  assert_int_equal(1024, rob.cap);
  assert_int_equal(600, rudp_rob_readable(&rob));
  n = rudp_rob_peek(&rob, &p);
  assert_int_equal(24, n);
  assert_ptr_equal(rob.buf + 1000, p);
  for (i = 0; i < n; ++i) {
    assert_int_equal(pat(1000 + i), p[i]);
  }
  rudp_rob_consume(&rob, n);
  n = rudp_rob_peek(&rob, &p);
  assert_int_equal(576, n);
  assert_ptr_equal(rob.buf, p);
  for (i = 0; i < n; ++i) {
    assert_int_equal(pat(1024 + i), p[i]);
  }
  rudp_rob_consume(&rob, 100);
  assert_int_equal(476, rudp_rob_readable(&rob));
  /* rudp_rob_read crosses the wrap in one call. */
  assert_int_equal(RUDP_ERR_NOBUF, push_pat(&rob, 1600, 549));
  assert_int_equal(548, push_pat(&rob, 1600, 548));
  assert_int_equal(1024, rudp_rob_readable(&rob));
  read_check(&rob, 1024);
  rudp_rob_free(&rob);
}

static void test_rudp_rob_growth_preserves_content(void **state) {
  rudp_rob rob;
  const uint8_t *p;
  (void)state;

  rudp_rob_init(&rob, 1 << 20, RUDP_ROB_DEFAULT_MAX_GAPS, NULL);
  assert_int_equal(1000, push_pat(&rob, 0, 1000));
  assert_int_equal(1024, rob.cap);
  read_check(&rob, 900);
  /* Held bytes wrap in the small ring: [900, 1000) and [1000, 1124). */
  assert_int_equal(124, push_pat(&rob, 1000, 124));
  assert_int_equal(1024, rob.cap);
  assert_int_equal(50, push_pat(&rob, 1500, 50));
  assert_int_equal(1024, rob.cap);
  /* A far frame grows the ring straight to a power of two that fits. */
  assert_int_equal(10, push_pat(&rob, 900 + 100000, 10));
  assert_int_equal(131072, rob.cap);
  assert_int_equal(224, rudp_rob_readable(&rob));
  assert_int_equal(284, rudp_rob_buffered(&rob));
  assert_int_equal(224, rudp_rob_peek(&rob, &p));
  read_check(&rob, 224);
  assert_int_equal(376, push_pat(&rob, 1124, 376));
  read_check(&rob, 426);
  assert_int_equal(100000 - 650, push_pat(&rob, 1550, 100000 - 650));
  assert_int_equal(100000 - 640, rudp_rob_readable(&rob));
  read_check(&rob, 100000 - 640);
  rudp_rob_free(&rob);

  /* A ring limited by a non-power-of-two max_cap rounds up, no further. */
  rudp_rob_init(&rob, 3000, RUDP_ROB_DEFAULT_MAX_GAPS, NULL);
  assert_int_equal(1, push_pat(&rob, 2999, 1));
  assert_int_equal(4096, rob.cap);
  rudp_rob_free(&rob);
}

/* rudp_rob_lend: in-order bytes are read in place (no allocation, no
 * copy), what is left is copied at settle; anything else falls back to a
 * push. */
static void test_rudp_rob_lend(void **state) {
  rudp_rob rob;
  rudp_test_mem cm;
  uint8_t pkt[3000], *p2;
  const uint8_t *view;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_rob_init(&rob, 1 << 20, RUDP_ROB_DEFAULT_MAX_GAPS, &cm.mem);
  fill_pat(pkt, 0, sizeof(pkt));
  /* Lent: readable at once, pointing into the caller's memory. */
  assert_int_equal(1000, rudp_rob_lend(&rob, 0, pkt, 1000));
  assert_int_equal(0, cm.nmalloc + cm.ncalloc + cm.nrealloc);
  assert_int_equal(1000, rudp_rob_readable(&rob));
  assert_int_equal(1000, rudp_rob_buffered(&rob));
  assert_int_equal(1000, rudp_rob_peek(&rob, &view));
  assert_ptr_equal(view, pkt);
  read_check(&rob, 600);
  assert_int_equal(400, rudp_rob_readable(&rob));
  /* Settle copies the 400 left; the caller's memory may then change. */
  assert_int_equal(0, rudp_rob_settle(&rob));
  assert_true(cm.nmalloc > 0);
  memset(pkt, 0xee, 1000);
  assert_int_equal(400, rudp_rob_readable(&rob));
  read_check(&rob, 400);
  assert_int_equal(0, rudp_rob_settle(&rob)); /* nothing lent: no-op */

  /* A frame straddling the read offset is lent from the read offset. */
  fill_pat(pkt, 900, 600);
  assert_int_equal(500, rudp_rob_lend(&rob, 900, pkt, 600));
  assert_int_equal(500, rudp_rob_peek(&rob, &view));
  assert_ptr_equal(view, pkt + 100);
  /* A second frame while bytes are lent: the lent ones are settled (copied)
   * first, then the new ones stored after them. */
  p2 = malloc(100);
  assert_non_null(p2);
  fill_pat(p2, 1500, 100);
  assert_int_equal(100, rudp_rob_lend(&rob, 1500, p2, 100));
  memset(pkt, 0xee, 600);
  free(p2);
  assert_int_equal(600, rudp_rob_readable(&rob));
  read_check(&rob, 600);

  /* Out of order: stored as by push; a later in-order frame is not lent
   * (something is buffered), so reading gives both. */
  fill_pat(pkt, 1700, 100);
  assert_int_equal(100, rudp_rob_lend(&rob, 1700, pkt, 100));
  assert_int_equal(0, rudp_rob_readable(&rob));
  fill_pat(pkt, 1600, 100);
  assert_int_equal(100, rudp_rob_lend(&rob, 1600, pkt, 100));
  memset(pkt, 0xee, 200);
  read_check(&rob, 200);
  /* Old bytes and beyond the window. */
  assert_int_equal(0, rudp_rob_lend(&rob, 0, pkt, 100));
  assert_int_equal(RUDP_ERR_NOBUF, rudp_rob_lend(&rob, 1800, pkt, 1 << 21));
  assert_int_equal(0, rudp_rob_readable(&rob));

  /* Settle cannot allocate: the lent bytes are dropped, NOMEM. */
  fill_pat(pkt, 1900, 3000);
  rudp_rob_free(&rob);
  rudp_rob_init(&rob, 1 << 20, RUDP_ROB_DEFAULT_MAX_GAPS, &cm.mem);
  rob.read_offset = 1900;
  assert_int_equal(3000, rudp_rob_lend(&rob, 1900, pkt, 3000));
  cm.fail = 1;
  assert_int_equal(RUDP_ERR_NOMEM, rudp_rob_settle(&rob));
  cm.fail = 0;
  assert_int_equal(0, rudp_rob_readable(&rob));
  assert_int_equal(0, rudp_rob_buffered(&rob));
  rudp_rob_free(&rob);
  assert_int_equal(0, cm.nlive);
}

static void test_rudp_rob_nomem(void **state) {
  rudp_rob rob;
  rudp_test_mem cm;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_rob_init(&rob, 1 << 20, RUDP_ROB_DEFAULT_MAX_GAPS, &cm.mem);
  cm.fail = 1;
  assert_int_equal(RUDP_ERR_NOMEM, push_pat(&rob, 0, 10));
  assert_int_equal(0, rudp_rob_buffered(&rob));
  assert_int_equal(0, rudp_rob_readable(&rob));
  cm.fail = 0;
  assert_int_equal(10, push_pat(&rob, 0, 10));
  assert_int_equal(10, push_pat(&rob, 20, 10));
  /* Growing the ring fails: nothing stored, the old bytes intact. */
  cm.fail = 1;
  assert_int_equal(RUDP_ERR_NOMEM, push_pat(&rob, 5000, 10));
  assert_int_equal(20, rudp_rob_buffered(&rob));
  cm.fail = 0;
  assert_int_equal(10, push_pat(&rob, 10, 10));
  read_check(&rob, 30);
  rudp_rob_free(&rob);
  assert_int_equal(0, cm.nlive);

  /* The range set cannot grow: nothing stored either. */
  rudp_rob_init(&rob, 1 << 20, RUDP_ROB_DEFAULT_MAX_GAPS, &cm.mem);
  {
    uint64_t off;
    rudp_ssize rv = 0;
    assert_int_equal(1, push_pat(&rob, 1, 1));
    cm.fail = 1;
    for (off = 3; off < 1000; off += 2) {
      rv = push_pat(&rob, off, 1);
      if (rv != 1) {
        break;
      }
    }
    assert_int_equal(RUDP_ERR_NOMEM, rv);
    assert_int_equal((off - 1) / 2, rudp_rob_buffered(&rob));
    assert_int_equal(0, rudp_iset_covered(&rob.have, off, off + 1));
    cm.fail = 0;
    assert_int_equal(1, push_pat(&rob, off, 1));
  }
  rudp_rob_free(&rob);
  assert_int_equal(0, cm.nlive);
}

static void test_rudp_rob_alloc_bounded(void **state) {
  rudp_rob rob;
  rudp_test_mem cm;
  rudp_test_rng rng;
  uint64_t base, order[16];
  size_t i, j, warm = 0;
  const size_t seglen = 1200, nwin = 16;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_test_rng_init(&rng, 7);
  rudp_rob_init(&rob, 1 << 16, RUDP_ROB_DEFAULT_MAX_GAPS, &cm.mem);
  /* 8 MiB in windows of 16 packets delivered in random order. */
  for (base = 0; base < (8u << 20); base += seglen * nwin) {
    for (i = 0; i < nwin; ++i) {
      order[i] = i;
    }
    for (i = nwin - 1; i > 0; --i) {
      j = (size_t)rudp_test_rng_below(&rng, i + 1);
      uint64_t t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    for (i = 0; i < nwin; ++i) {
      assert_int_equal(seglen,
                       push_pat(&rob, base + order[i] * seglen, seglen));
    }
    read_check(&rob, seglen * nwin);
    if (base == 0) {
      warm = rudp_test_mem_nalloc(&cm);
    }
  }
  /* The first window set the working size; the rest allocated nothing. */
  assert_int_equal(warm, rudp_test_mem_nalloc(&cm));
  assert_true(rudp_test_mem_nalloc(&cm) <= 8);
  rudp_rob_free(&rob);
  assert_int_equal(0, cm.nlive);
}

/* seg is a frame of the property test: [off, off + len), |cover| if it is
 * part of the segmentation that covers the stream (kept until accepted). */
typedef struct seg {
  uint64_t off;
  size_t len;
  int cover;
} seg;

/* release frees a drained ring (and only a drained one), keeping the
 * owner's ring_total exact; the next gap grows a new ring. */
static void test_rudp_rob_release(void **state) {
  rudp_rob rob;
  rudp_test_mem cm;
  uint64_t total = 0;
  size_t nlive;
  (void)state;

  rudp_test_mem_init(&cm);
  rudp_rob_init(&rob, 1 << 20, RUDP_ROB_DEFAULT_MAX_GAPS, &cm.mem);
  rudp_rob_set_ring_total(&rob, &total);
  assert_int_equal(0, rudp_rob_release(&rob)); /* no ring yet */

  /* A gap: 1200 bytes lost, 100,000 behind them held in the ring. */
  assert_int_equal(100000, push_pat(&rob, 1200, 100000));
  assert_int_equal(131072, rob.cap);
  assert_int_equal(131072, total);
  assert_int_equal(0, rudp_rob_release(&rob)); /* holds data: kept */
  assert_int_equal(1200, push_pat(&rob, 0, 1200));
  read_check(&rob, 50000);
  assert_int_equal(0, rudp_rob_release(&rob)); /* unread bytes: kept */
  read_check(&rob, 51200);
  nlive = cm.nlive;
  assert_int_equal(131072, rudp_rob_release(&rob));
  assert_int_equal(nlive - 1, cm.nlive);
  assert_null(rob.buf);
  assert_int_equal(0, rob.cap);
  assert_int_equal(0, total);

  /* The stream goes on: in order (lent, no ring), then another gap. */
  assert_int_equal(101200, rob.read_offset);
  assert_int_equal(2000, push_pat(&rob, 101200 + 3000, 2000));
  assert_int_equal(8192, rob.cap);
  assert_int_equal(8192, total);
  assert_int_equal(3000, push_pat(&rob, 101200, 3000));
  read_check(&rob, 5000);
  rudp_rob_free(&rob);
  assert_int_equal(0, total);
  assert_int_equal(0, cm.nlive);
}

static void test_rudp_rob_property(void **state) {
  const size_t n = 1 << 16;
  uint8_t *stream = malloc(n), *held = malloc(n), *tmp = malloc(n);
  seg *segs = malloc(sizeof(seg) * 2 * n);
  rudp_test_rng rng;
  uint64_t seed;
  /* Counts of each outcome over all seeds, to show each path was taken. */
  size_t nwindow = 0, ngaps = 0, ndup = 0;
  (void)state;

  assert_non_null(stream);
  assert_non_null(held);
  assert_non_null(tmp);
  assert_non_null(segs);

  for (seed = 1; seed <= 150; ++seed) {
    rudp_rob rob;
    size_t nsegs = 0, i, max_cap, max_gaps, steps = 0, stall = 0;
    uint64_t off, buffered = 0;
    static const size_t gaps_choice[] = {0, 2, 5, 16, 256};

    rudp_test_rng_init(&rng, seed);
    rudp_test_rng_fill(&rng, stream, n);
    memset(held, 0, n);
    max_cap = 2000 + (size_t)rudp_test_rng_below(&rng, n);
    max_gaps = gaps_choice[rudp_test_rng_below(&rng, 5)];
    rudp_rob_init(&rob, max_cap, max_gaps, NULL);

    /* A random segmentation (frames of 1..1500 bytes) plus extra random
     * frames that duplicate and overlap it. */
    for (off = 0; off < n;) {
      size_t len = 1 + (size_t)rudp_test_rng_below(&rng, 1500);
      len = (size_t)rudp_min((uint64_t)len, n - off);
      segs[nsegs].off = off;
      segs[nsegs].len = len;
      segs[nsegs].cover = 1;
      ++nsegs;
      off += len;
    }
    for (i = nsegs / 2; i > 0; --i) {
      uint64_t o = rudp_test_rng_below(&rng, n);
      size_t len = 1 + (size_t)rudp_test_rng_below(&rng, 3000);
      segs[nsegs].off = o;
      segs[nsegs].len = (size_t)rudp_min((uint64_t)len, n - o);
      segs[nsegs].cover = 0;
      ++nsegs;
    }

    while (rob.read_offset < n) {
      assert_true(++steps < 1000000);
      if (stall > 200) {
        /*
         * Every pending frame was refused (beyond the window, or each would
         * open one range too many).  A real sender resends its lost ranges
         * cut afresh from their start; emulate that with the frame ending
         * at the lowest held byte above the read offset, which always fits.
         */
        uint64_t top = rob.read_offset;
        while (top < n && !held[top]) {
          ++top;
        }
        if (top == n) {
          /* Nothing held: a frame at the read offset. */
          top = rudp_min(n, rob.read_offset + 1500);
        }
        segs[nsegs].off = top - rudp_min(top - rob.read_offset, 1500);
        segs[nsegs].len = (size_t)(top - segs[nsegs].off);
        segs[nsegs].cover = 1;
        if (segs[nsegs].len > 0) {
          ++nsegs;
        }
        stall = 0;
      }
      if (nsegs > 0 && rudp_test_rng_below(&rng, 3) != 0) {
        /* Deliver a random pending frame. */
        size_t k = (size_t)rudp_test_rng_below(&rng, nsegs);
        seg s = segs[k];
        uint64_t lo = rudp_max(s.off, rob.read_offset);
        uint64_t end = s.off + s.len, o;
        size_t expect = 0, readable = rudp_rob_readable(&rob);
        rudp_ssize rv;

        for (o = lo; o < end; ++o) {
          expect += !held[o];
        }
        rv = rudp_rob_push(&rob, s.off, stream + s.off, s.len);
        if (rv == RUDP_ERR_NOBUF) {
          /* Only beyond the window, or out of ranges. */
          if (end - rob.read_offset > max_cap) {
            ++nwindow;
          } else {
            assert_true(max_gaps != 0);
            assert_int_equal(max_gaps, rudp_iset_len(&rob.have));
            ++ngaps;
          }
          assert_true(expect > 0);
          assert_int_equal(readable, rudp_rob_readable(&rob));
          assert_int_equal(buffered, rudp_rob_buffered(&rob));
          ++stall;
        } else {
          stall = 0;
          assert_int_equal(expect, rv);
          ndup += (size_t)rv < s.len;
          for (o = lo; o < end; ++o) {
            held[o] = 1;
          }
          buffered += expect;
        }
        /* A covering frame stays until accepted; extras go either way;
         * accepted frames come back as duplicates now and then. */
        if (rv != RUDP_ERR_NOBUF || !s.cover) {
          if (rv >= 0 && rudp_test_rng_below(&rng, 8) == 0) {
            segs[k].cover = 0;
          } else {
            segs[k] = segs[--nsegs];
          }
        }
      } else {
        /* Read a random amount, by read or by peek + consume. */
        size_t readable = rudp_rob_readable(&rob), want, got;
        uint64_t o = rob.read_offset;

        for (i = 0; o + i < n && held[o + i]; ++i) {
        }
        assert_int_equal(i, readable);
        assert_int_equal(buffered, rudp_rob_buffered(&rob));
        if (readable == 0) {
          continue;
        }
        stall = 0;
        want = 1 + (size_t)rudp_test_rng_below(&rng, readable);
        if (rudp_test_rng_below(&rng, 2)) {
          got = rudp_rob_read(&rob, tmp, want + 10);
          assert_int_equal(rudp_min(want + 10, readable), got);
          assert_memory_equal(stream + o, tmp, got);
        } else {
          const uint8_t *p;
          got = rudp_rob_peek(&rob, &p);
          assert_true(got > 0 && got <= readable);
          assert_memory_equal(stream + o, p, got);
          got = rudp_min(got, want);
          rudp_rob_consume(&rob, got);
        }
        buffered -= got;
        assert_int_equal(o + got, rob.read_offset);
      }
      assert_int_equal(1, rudp_iset_check(&rob.have));
    }
    assert_int_equal(0, rudp_rob_buffered(&rob));
    assert_true(rob.cap <= 2 * max_cap);
    rudp_rob_free(&rob);
  }
  assert_true(nwindow > 0 && ngaps > 0 && ndup > 0);
  free(stream);
  free(held);
  free(tmp);
  free(segs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_rob_empty),
      cmocka_unit_test(test_rudp_rob_in_order),
      cmocka_unit_test(test_rudp_rob_out_of_order_fill),
      cmocka_unit_test(test_rudp_rob_duplicates_and_overlaps),
      cmocka_unit_test(test_rudp_rob_below_read_offset),
      cmocka_unit_test(test_rudp_rob_max_cap_boundary),
      cmocka_unit_test(test_rudp_rob_offset_overflow),
      cmocka_unit_test(test_rudp_rob_gap_bound),
      cmocka_unit_test(test_rudp_rob_ring_wrap_peek),
      cmocka_unit_test(test_rudp_rob_growth_preserves_content),
      cmocka_unit_test(test_rudp_rob_lend),
      cmocka_unit_test(test_rudp_rob_nomem),
      cmocka_unit_test(test_rudp_rob_alloc_bounded),
      cmocka_unit_test(test_rudp_rob_release),
      cmocka_unit_test(test_rudp_rob_property),
  };

  return cmocka_run_group_tests_name("rob", tests, NULL, NULL);
}
