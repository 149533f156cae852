/*
 * Tests for the stream send buffer (lib/rudp_sbuf.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rudp_sbuf.h"
#include "rudp_macro.h"
#include "rudp_test_helper.h"

/* ---------------------------------------------------------- helpers */

/* pat is the byte at stream offset |off| of the deterministic test stream. */
static uint8_t pat(uint64_t off) {
  return (uint8_t)((off * 131u) ^ (off >> 8) ^ (off >> 16));
}

static void fill_pat(uint8_t *buf, uint64_t off, size_t len) {
  size_t i;

  for (i = 0; i < len; ++i) {
    buf[i] = pat(off + i);
  }
}

/* write_pat copies the test stream's next |len| bytes into |sb|. */
static int write_pat(rudp_sbuf *sb, size_t len) {
  uint8_t *buf = malloc(len ? len : 1);
  int rv;

  assert_non_null(buf);
  fill_pat(buf, sb->written, len);
  rv = rudp_sbuf_write(sb, buf, len);
  free(buf);
  return rv;
}

/* check_copy copies [off, off + len) out of |sb| and checks it. */
static void check_copy(const rudp_sbuf *sb, uint64_t off, size_t len) {
  uint8_t *buf = malloc(len ? len : 1);
  size_t i;

  assert_non_null(buf);
  rudp_sbuf_copy(sb, buf, off, len);
  for (i = 0; i < len; ++i) {
    assert_int_equal(pat(off + i), buf[i]);
  }
  free(buf);
}

/* expect_next checks that rudp_sbuf_next offers [off, off + len). */
static void expect_next(const rudp_sbuf *sb, size_t maxlen, uint64_t off,
                        size_t len) {
  uint64_t got_off = UINT64_MAX;

  assert_int_equal(len, rudp_sbuf_next(sb, &got_off, maxlen));
  if (len > 0) {
    assert_int_equal(off, got_off);
  }
}

/* Release callback recorder. */
#define MAX_RELEASES 64

typedef struct release_log {
  /* n counts every release; ev records the first MAX_RELEASES. */
  size_t n;
  struct {
    const uint8_t *data;
    size_t len;
    void *ref;
  } ev[MAX_RELEASES];
} release_log;

static void log_release(const uint8_t *data, size_t len, void *ref,
                        void *user_data) {
  release_log *log = user_data;

  if (log->n < MAX_RELEASES) {
    log->ev[log->n].data = data;
    log->ev[log->n].len = len;
    log->ev[log->n].ref = ref;
  }
  ++log->n;
}

/* fixture: a pool of chunks plus a buffer logging its releases. */
typedef struct fixture {
  rudp_pool pool;
  rudp_sbuf sb;
  release_log log;
} fixture;

static void fixture_init(fixture *f, const rudp_mem *mem) {
  memset(&f->log, 0, sizeof(f->log));
  rudp_pool_init(&f->pool, RUDP_SBUF_CHUNKLEN, 4, mem);
  rudp_sbuf_init(&f->sb, &f->pool, log_release, &f->log, mem);
}

static void fixture_free(fixture *f) {
  rudp_sbuf_free(&f->sb);
  assert_int_equal(0, f->pool.nused);
  rudp_pool_free(&f->pool);
}

/*
 * check_segs checks the segment queue: contiguous from the segment holding
 * |acked| to |written|, chunk segments within their chunk, and exactly one
 * pool object in use per chunk segment (|pool| is the buffer's own).
 */
static void check_segs(const rudp_sbuf *sb, const rudp_pool *pool) {
  const rudp_sbuf_seg *seg;
  uint64_t off;
  size_t i, nchunks = 0;

  if (sb->nsegs == 0) {
    assert_int_equal(sb->written, sb->acked);
    assert_int_equal(0, pool->nused);
    return;
  }
  off = sb->segs[sb->seghead].offset;
  assert_true(off <= sb->acked);
  for (i = 0; i < sb->nsegs; ++i) {
    seg = &sb->segs[(sb->seghead + i) & (sb->segcap - 1)];
    assert_int_equal(off, seg->offset);
    assert_true(seg->len > 0);
    if (seg->chunk != NULL) {
      assert_ptr_equal(seg->chunk, seg->data);
      assert_true(seg->len <= RUDP_SBUF_CHUNKLEN);
      ++nchunks;
    }
    off += seg->len;
    if (i == 0) {
      /* The oldest segment is not yet wholly acknowledged. */
      assert_true(off > sb->acked);
    }
  }
  assert_int_equal(sb->written, off);
  assert_int_equal(nchunks, pool->nused);
}

/* send_all marks everything written as sent, as the packet builder would. */
static void send_all(rudp_sbuf *sb) {
  uint64_t off;
  size_t n;

  while ((n = rudp_sbuf_next(sb, &off, 1200)) > 0) {
    assert_int_equal(0, rudp_sbuf_on_sent(sb, off, n));
  }
}

/* -------------------------------------------------------------- tests */

static void test_rudp_sbuf_empty(void **state) {
  fixture f;
  uint64_t off = 77;
  (void)state;

  fixture_init(&f, NULL);
  assert_int_equal(0, rudp_sbuf_unacked(&f.sb));
  assert_int_equal(0, rudp_sbuf_has_pending(&f.sb));
  assert_int_equal(0, rudp_sbuf_next(&f.sb, &off, 1000));
  assert_int_equal(0, rudp_sbuf_write(&f.sb, NULL, 0));
  assert_int_equal(0, f.sb.nsegs);
  assert_int_equal(0, f.pool.nused);
  /* A zero-length reference is released at once. */
  assert_int_equal(
      0, rudp_sbuf_write_ref(&f.sb, (const uint8_t *)"x", 0, (void *)&f));
  assert_int_equal(1, f.log.n);
  assert_int_equal(0, f.log.ev[0].len);
  assert_ptr_equal(&f, f.log.ev[0].ref);
  assert_int_equal(0, f.sb.nsegs);
  assert_int_equal(0, f.sb.written);
  fixture_free(&f);
  rudp_sbuf_free(&f.sb);
  rudp_sbuf_free(NULL);
}

static void test_rudp_sbuf_copy_across_chunks(void **state) {
  fixture f;
  (void)state;

  fixture_init(&f, NULL);
  assert_int_equal(0, write_pat(&f.sb, 1000));
  assert_int_equal(0, write_pat(&f.sb, 30000));
  assert_int_equal(0, write_pat(&f.sb, 9000));
  /* 40000 bytes fill two chunks and part of a third, appending in place. */
  assert_int_equal(40000, f.sb.written);
  assert_int_equal(3, f.sb.nsegs);
  assert_int_equal(3, f.pool.nused);
  assert_int_equal(RUDP_SBUF_CHUNKLEN, f.sb.segs[0].len);
  assert_int_equal(RUDP_SBUF_CHUNKLEN, f.sb.segs[1].len);
  assert_int_equal(40000 - 2 * RUDP_SBUF_CHUNKLEN, f.sb.segs[2].len);
  assert_int_equal(RUDP_SBUF_CHUNKLEN, f.sb.segs[1].offset);
  assert_int_equal(40000, rudp_sbuf_unacked(&f.sb));

  check_copy(&f.sb, 0, 40000);
  check_copy(&f.sb, RUDP_SBUF_CHUNKLEN - 1, 2);
  check_copy(&f.sb, RUDP_SBUF_CHUNKLEN, 1);
  check_copy(&f.sb, 100, 2 * RUDP_SBUF_CHUNKLEN);
  check_copy(&f.sb, 39999, 1);
  check_copy(&f.sb, 2 * RUDP_SBUF_CHUNKLEN + 5, 1200);
  fixture_free(&f);
}

static void test_rudp_sbuf_small_writes_share_chunk(void **state) {
  fixture f;
  size_t i;
  (void)state;

  fixture_init(&f, NULL);
  for (i = 0; i < 100; ++i) {
    assert_int_equal(0, write_pat(&f.sb, 10));
  }
  assert_int_equal(1, f.sb.nsegs);
  assert_int_equal(1000, f.sb.segs[0].len);
  assert_int_equal(1, f.pool.nused);
  /* Exactly filling the chunk, then one byte more, opens a second. */
  assert_int_equal(0, write_pat(&f.sb, RUDP_SBUF_CHUNKLEN - 1000));
  assert_int_equal(1, f.sb.nsegs);
  assert_int_equal(0, write_pat(&f.sb, 1));
  assert_int_equal(2, f.sb.nsegs);
  check_copy(&f.sb, 0, RUDP_SBUF_CHUNKLEN + 1);
  fixture_free(&f);
}

static void test_rudp_sbuf_ref_zero_copy(void **state) {
  fixture f;
  uint8_t app[3000], out[10];
  (void)state;

  fill_pat(app, 0, sizeof(app));
  fixture_init(&f, NULL);
  assert_int_equal(0, rudp_sbuf_write_ref(&f.sb, app, sizeof(app), app));
  assert_int_equal(1, f.sb.nsegs);
  assert_ptr_equal(app, f.sb.segs[0].data);
  assert_null(f.sb.segs[0].chunk);
  assert_int_equal(0, f.pool.nused);
  check_copy(&f.sb, 0, sizeof(app));
  /* Reads come straight from the application's buffer. */
  app[1500] = 0x5a;
  app[1501] = 0xa5;
  rudp_sbuf_copy(&f.sb, out, 1499, 4);
  assert_int_equal(pat(1499), out[0]);
  assert_int_equal(0x5a, out[1]);
  assert_int_equal(0xa5, out[2]);
  assert_int_equal(pat(1502), out[3]);
  expect_next(&f.sb, 5000, 0, sizeof(app));
  assert_int_equal(0, f.log.n);
  fixture_free(&f);
  /* Freed unacknowledged: released by rudp_sbuf_free. */
  assert_int_equal(1, f.log.n);
  assert_ptr_equal(app, f.log.ev[0].data);
  assert_int_equal(sizeof(app), f.log.ev[0].len);
  assert_ptr_equal(app, f.log.ev[0].ref);
}

static void test_rudp_sbuf_ref_released_once_when_acked(void **state) {
  fixture f;
  uint8_t app[1000];
  int token;
  (void)state;

  fill_pat(app, 0, sizeof(app));
  fixture_init(&f, NULL);
  assert_int_equal(0, rudp_sbuf_write_ref(&f.sb, app, sizeof(app), &token));
  send_all(&f.sb);
  assert_int_equal(1000, f.sb.sent);
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 0, 500));
  assert_int_equal(500, f.sb.acked);
  assert_int_equal(0, f.log.n);
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 500, 499));
  assert_int_equal(999, f.sb.acked);
  assert_int_equal(0, f.log.n);
  assert_int_equal(1, f.sb.nsegs);
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 999, 1));
  assert_int_equal(1, f.log.n);
  assert_ptr_equal(app, f.log.ev[0].data);
  assert_int_equal(1000, f.log.ev[0].len);
  assert_ptr_equal(&token, f.log.ev[0].ref);
  assert_int_equal(0, f.sb.nsegs);
  assert_int_equal(0, rudp_sbuf_unacked(&f.sb));
  /* Duplicate acks, reset and free release nothing more. */
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 0, 1000));
  rudp_sbuf_reset(&f.sb);
  fixture_free(&f);
  assert_int_equal(1, f.log.n);
}

static void test_rudp_sbuf_mixed_refs_and_copies(void **state) {
  fixture f;
  uint8_t app[200];
  (void)state;

  fixture_init(&f, NULL);
  assert_int_equal(0, write_pat(&f.sb, 100));
  fill_pat(app, 100, sizeof(app));
  assert_int_equal(0, rudp_sbuf_write_ref(&f.sb, app, sizeof(app), app));
  /* A copy after a reference opens a new chunk rather than appending to
   * the first one, which would break offset order. */
  assert_int_equal(0, write_pat(&f.sb, 50));
  assert_int_equal(3, f.sb.nsegs);
  assert_int_equal(2, f.pool.nused);
  assert_int_equal(300, f.sb.segs[2].offset);
  check_copy(&f.sb, 0, 350);
  check_copy(&f.sb, 99, 203);
  check_copy(&f.sb, 150, 200);

  send_all(&f.sb);
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 0, 150));
  assert_int_equal(1, f.pool.nused);
  assert_int_equal(0, f.log.n);
  check_copy(&f.sb, 150, 200);
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 150, 200));
  assert_int_equal(1, f.log.n);
  assert_int_equal(0, f.pool.nused);
  assert_int_equal(0, f.sb.nsegs);
  fixture_free(&f);
}

static void test_rudp_sbuf_next_lost_first_and_clipped(void **state) {
  fixture f;
  (void)state;

  fixture_init(&f, NULL);
  assert_int_equal(0, write_pat(&f.sb, 3000));
  assert_int_equal(1, rudp_sbuf_has_pending(&f.sb));
  expect_next(&f.sb, 1000, 0, 1000);
  /* next() marks nothing: asking again gives the same. */
  expect_next(&f.sb, 1000, 0, 1000);
  expect_next(&f.sb, 0, 0, 0);
  assert_int_equal(0, rudp_sbuf_on_sent(&f.sb, 0, 1000));
  expect_next(&f.sb, 1000, 1000, 1000);
  assert_int_equal(0, rudp_sbuf_on_sent(&f.sb, 1000, 1000));
  expect_next(&f.sb, 5000, 2000, 1000);

  /* The first packet is lost: it goes before the unsent data. */
  assert_int_equal(0, rudp_sbuf_on_lost(&f.sb, 0, 1000));
  expect_next(&f.sb, 5000, 0, 1000);
  expect_next(&f.sb, 300, 0, 300);
  assert_int_equal(0, rudp_sbuf_on_sent(&f.sb, 0, 300));
  expect_next(&f.sb, 5000, 300, 700);
  assert_int_equal(0, rudp_sbuf_on_sent(&f.sb, 300, 700));
  assert_int_equal(2000, f.sb.sent);
  expect_next(&f.sb, 5000, 2000, 1000);
  assert_int_equal(0, rudp_sbuf_on_sent(&f.sb, 2000, 1000));
  assert_int_equal(0, rudp_sbuf_has_pending(&f.sb));
  expect_next(&f.sb, 5000, 0, 0);
  /* Two lost ranges: lowest first. */
  assert_int_equal(0, rudp_sbuf_on_lost(&f.sb, 2500, 100));
  assert_int_equal(0, rudp_sbuf_on_lost(&f.sb, 1200, 100));
  expect_next(&f.sb, 5000, 1200, 100);
  assert_int_equal(0, rudp_sbuf_on_sent(&f.sb, 1200, 100));
  expect_next(&f.sb, 5000, 2500, 100);
  /* Sending the middle of a lost range leaves both ends lost. */
  assert_int_equal(0, rudp_sbuf_on_sent(&f.sb, 2520, 10));
  expect_next(&f.sb, 5000, 2500, 20);
  assert_int_equal(0, rudp_sbuf_on_sent(&f.sb, 2500, 20));
  expect_next(&f.sb, 5000, 2530, 70);
  fixture_free(&f);
}

static void test_rudp_sbuf_lost_skips_acked(void **state) {
  fixture f;
  (void)state;

  fixture_init(&f, NULL);
  assert_int_equal(0, write_pat(&f.sb, 4000));
  send_all(&f.sb);
  /* [1000, 2000) and [3000, 3500) acked out of order; then everything is
   * declared lost: only the unacknowledged parts come back. */
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 1000, 1000));
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 3000, 500));
  assert_int_equal(0, f.sb.acked);
  assert_int_equal(0, rudp_sbuf_on_lost(&f.sb, 0, 4000));
  assert_int_equal(3, rudp_iset_len(&f.sb.lost));
  expect_next(&f.sb, 5000, 0, 1000);
  assert_int_equal(0, rudp_sbuf_on_sent(&f.sb, 0, 1000));
  expect_next(&f.sb, 5000, 2000, 1000);
  assert_int_equal(0, rudp_sbuf_on_sent(&f.sb, 2000, 1000));
  expect_next(&f.sb, 5000, 3500, 500);
  check_copy(&f.sb, 3500, 500);
  assert_int_equal(0, rudp_sbuf_on_sent(&f.sb, 3500, 500));
  assert_int_equal(0, rudp_sbuf_has_pending(&f.sb));

  /* A late ack for a range declared lost (spurious loss) cancels it, even
   * from the middle. */
  assert_int_equal(0, rudp_sbuf_on_lost(&f.sb, 0, 1000));
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 400, 200));
  expect_next(&f.sb, 5000, 0, 400);
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 0, 400));
  assert_int_equal(600, f.sb.acked);
  expect_next(&f.sb, 5000, 600, 400);
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 600, 400));
  assert_int_equal(2000, f.sb.acked);
  assert_int_equal(0, rudp_sbuf_has_pending(&f.sb));

  /* Loss of bytes below |acked| or never sent is ignored. */
  assert_int_equal(0, rudp_sbuf_on_lost(&f.sb, 0, 2000));
  assert_int_equal(0, rudp_sbuf_on_lost(&f.sb, 4000, 100));
  assert_int_equal(0, rudp_sbuf_has_pending(&f.sb));
  /* Acks for never-sent bytes are ignored too. */
  assert_int_equal(0, write_pat(&f.sb, 100));
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 4000, 100));
  assert_int_equal(0, rudp_iset_covered(&f.sb.acked_ranges, 4000, 4100));
  expect_next(&f.sb, 5000, 4000, 100);
  fixture_free(&f);
}

static void test_rudp_sbuf_out_of_order_acks_release_in_order(void **state) {
  fixture f;
  uint8_t app[300];
  (void)state;

  fill_pat(app, 0, sizeof(app));
  fixture_init(&f, NULL);
  assert_int_equal(0, rudp_sbuf_write_ref(&f.sb, app, 100, (void *)1));
  assert_int_equal(0, rudp_sbuf_write_ref(&f.sb, app + 100, 100, (void *)2));
  assert_int_equal(0, rudp_sbuf_write_ref(&f.sb, app + 200, 100, (void *)3));
  send_all(&f.sb);
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 200, 100));
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 120, 80));
  assert_int_equal(0, f.log.n);
  assert_int_equal(0, f.sb.acked);
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 0, 110));
  assert_int_equal(110, f.sb.acked);
  assert_int_equal(1, f.log.n);
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 110, 10));
  assert_int_equal(300, f.sb.acked);
  assert_int_equal(3, f.log.n);
  assert_ptr_equal((void *)1, f.log.ev[0].ref);
  assert_ptr_equal((void *)2, f.log.ev[1].ref);
  assert_ptr_equal((void *)3, f.log.ev[2].ref);
  assert_ptr_equal(app + 200, f.log.ev[2].data);
  assert_int_equal(0, rudp_iset_len(&f.sb.acked_ranges));
  fixture_free(&f);
  assert_int_equal(3, f.log.n);
}

static void test_rudp_sbuf_reset(void **state) {
  fixture f;
  uint8_t app[5000];
  (void)state;

  fill_pat(app, 0, sizeof(app));
  fixture_init(&f, NULL);
  assert_int_equal(0, write_pat(&f.sb, 20000));
  assert_int_equal(0, rudp_sbuf_write_ref(&f.sb, app, sizeof(app), app));
  assert_int_equal(0, write_pat(&f.sb, 100));
  send_all(&f.sb);
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 0, 1000));
  assert_int_equal(0, rudp_sbuf_on_lost(&f.sb, 1000, 1000));
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 5000, 1000));
  /* Two chunks before the reference, a third after it. */
  assert_int_equal(3, f.pool.nused);
  assert_int_equal(4, f.sb.nsegs);

  rudp_sbuf_reset(&f.sb);
  assert_int_equal(1, f.log.n);
  assert_ptr_equal(app, f.log.ev[0].ref);
  assert_int_equal(0, f.pool.nused);
  assert_int_equal(0, f.sb.nsegs);
  assert_int_equal(25100, f.sb.written);
  assert_int_equal(25100, f.sb.sent);
  assert_int_equal(25100, f.sb.acked);
  assert_int_equal(0, rudp_sbuf_unacked(&f.sb));
  assert_int_equal(0, rudp_sbuf_has_pending(&f.sb));
  assert_int_equal(0, rudp_iset_len(&f.sb.lost));
  assert_int_equal(0, rudp_iset_len(&f.sb.acked_ranges));
  expect_next(&f.sb, 1000, 0, 0);
  /* Stale events for the dropped data change nothing. */
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 0, 25100));
  assert_int_equal(0, rudp_sbuf_on_lost(&f.sb, 0, 25100));
  assert_int_equal(0, rudp_sbuf_has_pending(&f.sb));
  /* The buffer keeps working after a reset (offsets continue). */
  assert_int_equal(0, write_pat(&f.sb, 10));
  expect_next(&f.sb, 1000, 25100, 10);
  check_copy(&f.sb, 25100, 10);
  fixture_free(&f);
  assert_int_equal(1, f.log.n);
}

static void test_rudp_sbuf_free_releases_refs(void **state) {
  fixture f;
  uint8_t a[10], b[20];
  (void)state;

  fixture_init(&f, NULL);
  assert_int_equal(0, rudp_sbuf_write_ref(&f.sb, a, sizeof(a), a));
  assert_int_equal(0, write_pat(&f.sb, 100));
  assert_int_equal(0, rudp_sbuf_write_ref(&f.sb, b, sizeof(b), b));
  send_all(&f.sb);
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 0, 10));
  assert_int_equal(1, f.log.n);
  fixture_free(&f);
  assert_int_equal(2, f.log.n);
  assert_ptr_equal(b, f.log.ev[1].ref);
  assert_int_equal(20, f.log.ev[1].len);
  /* A second free releases nothing twice. */
  rudp_sbuf_free(&f.sb);
  assert_int_equal(2, f.log.n);
}

static void test_rudp_sbuf_pool_returned(void **state) {
  fixture f;
  size_t nblocks;
  uint64_t off;
  (void)state;

  fixture_init(&f, NULL);
  assert_int_equal(0, write_pat(&f.sb, 100000));
  assert_int_equal(7, f.pool.nused);
  /* Ack in packets of 1200 from the back: nothing released until the end. */
  send_all(&f.sb);
  for (off = 98400; off > 0; off -= 1200) {
    assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, off, 1600));
  }
  assert_int_equal(7, f.pool.nused);
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 0, 1200));
  assert_int_equal(0, f.pool.nused);
  assert_int_equal(100000, f.sb.acked);
  /* The chunks are reused: no new pool block for the same amount again. */
  nblocks = f.pool.nblocks;
  assert_int_equal(0, write_pat(&f.sb, 100000));
  assert_int_equal(nblocks, f.pool.nblocks);
  check_copy(&f.sb, 100000, 100000);
  fixture_free(&f);
}

static void test_rudp_sbuf_nomem(void **state) {
  fixture f;
  rudp_test_mem cm;
  uint8_t app[10];
  size_t i;
  (void)state;

  rudp_test_mem_init(&cm);
  fixture_init(&f, &cm.mem);
  cm.fail = 1;
  assert_int_equal(RUDP_ERR_NOMEM, write_pat(&f.sb, 10));
  assert_int_equal(0, f.sb.written);
  assert_int_equal(RUDP_ERR_NOMEM,
                   rudp_sbuf_write_ref(&f.sb, app, sizeof(app), app));
  assert_int_equal(0, f.sb.written);
  assert_int_equal(0, f.log.n);
  cm.fail = 0;
  assert_int_equal(0, write_pat(&f.sb, 100));
  /* Needs 6 more chunks; the pool has 3 left in its block and cannot get a
   * second block: the whole write fails, even the part that fits. */
  cm.fail = 1;
  assert_int_equal(RUDP_ERR_NOMEM, write_pat(&f.sb, 6 * RUDP_SBUF_CHUNKLEN));
  assert_int_equal(100, f.sb.written);
  assert_int_equal(1, f.sb.nsegs);
  assert_int_equal(100, f.sb.segs[0].len);
  assert_int_equal(1, f.pool.nused);
  /* What fits still fits. */
  assert_int_equal(0, write_pat(&f.sb, 3 * RUDP_SBUF_CHUNKLEN));
  assert_int_equal(4, f.pool.nused);
  /* The segment ring is full (8 slots) after 4 more references. */
  for (i = 0; i < 4; ++i) {
    assert_int_equal(0, rudp_sbuf_write_ref(&f.sb, app, sizeof(app), app));
  }
  assert_int_equal(8, f.sb.nsegs);
  assert_int_equal(RUDP_ERR_NOMEM,
                   rudp_sbuf_write_ref(&f.sb, app, sizeof(app), app));
  assert_int_equal(8, f.sb.nsegs);
  cm.fail = 0;
  check_copy(&f.sb, 0, 100 + 3 * RUDP_SBUF_CHUNKLEN);
  assert_int_equal(0, f.log.n);
  fixture_free(&f);
  assert_int_equal(4, f.log.n);
  assert_int_equal(0, cm.nlive);
}

static void test_rudp_sbuf_steady_state_no_alloc(void **state) {
  fixture f;
  rudp_test_mem cm;
  uint8_t app[700];
  size_t round, i, warm = 0;
  (void)state;

  rudp_test_mem_init(&cm);
  fixture_init(&f, &cm.mem);
  fill_pat(app, 0, sizeof(app));
  for (round = 0; round < 200; ++round) {
    /* 40 segments per round: the ring grows to 64 slots, then stays. */
    for (i = 0; i < 20; ++i) {
      assert_int_equal(0, rudp_sbuf_write_ref(&f.sb, app, sizeof(app), app));
      assert_int_equal(0, write_pat(&f.sb, 1));
      /* The copy sits after a reference: a new chunk each time. */
    }
    assert_int_equal(40, f.sb.nsegs);
    send_all(&f.sb);
    /* Ack every other packet first, then the rest. */
    {
      uint64_t base = f.sb.acked, end = f.sb.sent, off;
      for (off = base + 1200; off < end; off += 2400) {
        assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, off, 1200));
      }
      assert_int_equal(0, rudp_sbuf_on_lost(&f.sb, base, end - base));
      for (off = base; off < end; off += 2400) {
        assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, off, 1200));
      }
    }
    assert_int_equal(0, f.sb.nsegs);
    assert_int_equal(0, rudp_sbuf_has_pending(&f.sb));
    if (round == 0) {
      warm = rudp_test_mem_nalloc(&cm);
    }
  }
  assert_int_equal(64, f.sb.segcap);
  assert_int_equal(warm, rudp_test_mem_nalloc(&cm));
  assert_int_equal(200 * 20, f.log.n);
  assert_int_equal(0, f.pool.nused);
  fixture_free(&f);
  assert_int_equal(0, cm.nlive);
}

/* ------------------------------------------------------- property test */

#define PROP_LEN (1u << 18)
#define PROP_MAXREFS 256

typedef struct prop_ref {
  uint64_t off;
  size_t len;
  size_t released;
} prop_ref;

typedef struct prop {
  const uint8_t *src;
  /* acked marks the bytes the test has reported acknowledged. */
  uint8_t *acked;
  prop_ref refs[PROP_MAXREFS];
  size_t nrefs;
} prop;

static void prop_release(const uint8_t *data, size_t len, void *ref,
                         void *user_data) {
  prop *p = user_data;
  prop_ref *r = &p->refs[(size_t)(uintptr_t)ref - 1];
  size_t i;

  assert_ptr_equal(p->src + r->off, data);
  assert_int_equal(r->len, len);
  assert_int_equal(0, r->released);
  ++r->released;
  for (i = 0; i < len; ++i) {
    assert_true(p->acked[r->off + i]);
  }
}

typedef struct prop_pkt {
  uint64_t off;
  size_t len;
  /* lost: declared lost already; a late ack may still come. */
  int lost;
} prop_pkt;

static void test_rudp_sbuf_property(void **state) {
  uint8_t *src = malloc(PROP_LEN), *tmp = malloc(4096);
  prop_pkt *pkts = malloc(sizeof(prop_pkt) * 8192);
  prop *p = malloc(sizeof(prop));
  rudp_test_rng rng;
  uint64_t seed;
  size_t nlost = 0, nlate = 0;
  (void)state;

  assert_non_null(src);
  assert_non_null(tmp);
  assert_non_null(pkts);
  assert_non_null(p);

  for (seed = 1; seed <= 60; ++seed) {
    rudp_pool pool;
    rudp_sbuf sb;
    size_t npkts = 0, steps = 0, i;
    uint64_t prefix = 0;

    rudp_test_rng_init(&rng, seed);
    rudp_test_rng_fill(&rng, src, PROP_LEN);
    p->src = src;
    p->acked = calloc(PROP_LEN, 1);
    assert_non_null(p->acked);
    p->nrefs = 0;
    rudp_pool_init(&pool, RUDP_SBUF_CHUNKLEN, 2, NULL);
    rudp_sbuf_init(&sb, &pool, prop_release, p, NULL);

    while (sb.written < PROP_LEN || sb.acked < PROP_LEN) {
      uint64_t r = rudp_test_rng_below(&rng, 16);

      assert_true(++steps < 2000000);
      if (r < 2 && sb.written < PROP_LEN) {
        /* Write: a copy or a reference into |src|, either way the stream
         * is src[0 .. PROP_LEN). */
        size_t len = 1 + (size_t)rudp_test_rng_below(&rng, 20000);
        len = (size_t)rudp_min((uint64_t)len, PROP_LEN - sb.written);
        if (rudp_test_rng_below(&rng, 2) && p->nrefs < PROP_MAXREFS) {
          prop_ref *pr = &p->refs[p->nrefs++];
          pr->off = sb.written;
          pr->len = len;
          pr->released = 0;
          assert_int_equal(0, rudp_sbuf_write_ref(&sb, src + sb.written, len,
                                                  (void *)(uintptr_t)p->nrefs));
        } else {
          assert_int_equal(0, rudp_sbuf_write(&sb, src + sb.written, len));
        }
      } else if (r < 9 && npkts < 8192) {
        /* Send what next() offers: it must be the right bytes, never
         * bytes already acknowledged. */
        uint64_t off;
        size_t maxlen = 1 + (size_t)rudp_test_rng_below(&rng, 4096);
        size_t n = rudp_sbuf_next(&sb, &off, maxlen);

        assert_int_equal(rudp_sbuf_has_pending(&sb) ? 1 : 0, n > 0);
        if (n == 0) {
          continue;
        }
        assert_true(n <= maxlen);
        assert_true(off >= sb.acked && off + n <= sb.written);
        rudp_sbuf_copy(&sb, tmp, off, n);
        assert_memory_equal(src + off, tmp, n);
        for (i = 0; i < n; ++i) {
          assert_false(p->acked[off + i]);
        }
        assert_int_equal(0, rudp_sbuf_on_sent(&sb, off, n));
        pkts[npkts].off = off;
        pkts[npkts].len = n;
        pkts[npkts].lost = 0;
        ++npkts;
      } else if (npkts > 0) {
        /* Resolve a packet in flight: ack (maybe a late ack for one
         * declared lost), declare lost, or forget a lost one. */
        size_t k = (size_t)rudp_test_rng_below(&rng, npkts);
        prop_pkt pk = pkts[k];
        uint64_t what = rudp_test_rng_below(&rng, 10);
        int remove = 1;

        if (what < 6) {
          /* Marked first: the release callback checks it. */
          memset(p->acked + pk.off, 1, pk.len);
          assert_int_equal(0, rudp_sbuf_on_acked(&sb, pk.off, pk.len));
          nlate += pk.lost;
        } else if (!pk.lost) {
          assert_int_equal(0, rudp_sbuf_on_lost(&sb, pk.off, pk.len));
          ++nlost;
          if (what >= 8) {
            pkts[k].lost = 1;
            remove = 0;
          }
        }
        if (remove) {
          pkts[k] = pkts[--npkts];
        }
      }

      /* |acked| is the acknowledged prefix; segments wholly inside it are
       * released, the others are not. */
      while (prefix < PROP_LEN && p->acked[prefix]) {
        ++prefix;
      }
      assert_int_equal(rudp_min(prefix, sb.written), sb.acked);
      for (i = 0; i < p->nrefs; ++i) {
        assert_int_equal(p->refs[i].off + p->refs[i].len <= sb.acked,
                         p->refs[i].released);
      }
      check_segs(&sb, &pool);
    }
    assert_int_equal(0, sb.nsegs);
    assert_int_equal(0, pool.nused);
    assert_int_equal(0, rudp_sbuf_has_pending(&sb));
    for (i = 0; i < p->nrefs; ++i) {
      assert_int_equal(1, p->refs[i].released);
    }
    rudp_sbuf_free(&sb);
    for (i = 0; i < p->nrefs; ++i) {
      assert_int_equal(1, p->refs[i].released);
    }
    rudp_pool_free(&pool);
    free(p->acked);
  }
  /* Both loss paths were exercised. */
  assert_true(nlost > 0 && nlate > 0);
  free(src);
  free(tmp);
  free(pkts);
  free(p);
}

/*
 * Shrinking an empty buffer frees its ring and its range sets' arrays;
 * with the pool trimmed, nothing is left allocated.  The offsets stay:
 * late acknowledgements and losses of old ranges change nothing, and a
 * later write continues the stream.
 */
static void test_rudp_sbuf_shrink(void **state) {
  fixture f;
  rudp_test_mem cm;
  uint64_t off;
  (void)state;

  rudp_test_mem_init(&cm);
  memset(&f.log, 0, sizeof(f.log));
  /* One chunk per block, as a connection's pool. */
  rudp_pool_init(&f.pool, RUDP_SBUF_CHUNKLEN, 1, &cm.mem);
  rudp_sbuf_init(&f.sb, &f.pool, log_release, &f.log, &cm.mem);
  /* Nothing allocated yet: nothing to free. */
  assert_int_equal(0, rudp_sbuf_shrink(&f.sb));

  assert_int_equal(0, write_pat(&f.sb, 3000));
  send_all(&f.sb);
  /* Out of order, with a loss: both range sets get storage. */
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 1200, 1200));
  assert_int_equal(0, rudp_sbuf_on_lost(&f.sb, 0, 1200));
  /* Data held: the ring stays; the sets are in use. */
  assert_int_equal(0, rudp_sbuf_shrink(&f.sb));
  assert_non_null(f.sb.segs);
  check_copy(&f.sb, 0, 3000);
  assert_int_equal(0, rudp_sbuf_on_sent(&f.sb, 0, 1200));
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 0, 1200));
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 2400, 600));
  assert_int_equal(0, rudp_sbuf_unacked(&f.sb));
  assert_int_equal(0, f.pool.nused);
  /* Empty: the ring and the sets' arrays go, then the pool's block. */
  assert_int_equal(1, rudp_sbuf_shrink(&f.sb));
  assert_null(f.sb.segs);
  assert_int_equal(0, f.sb.segcap);
  assert_null(f.sb.lost.v);
  assert_null(f.sb.acked_ranges.v);
  assert_int_equal(0, rudp_sbuf_shrink(&f.sb));
  assert_int_equal(1, rudp_pool_trim(&f.pool));
  assert_int_equal(0, cm.nlive);

  /* Old ranges acknowledged or lost again: nothing changes. */
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 0, 3000));
  assert_int_equal(0, rudp_sbuf_on_lost(&f.sb, 1200, 1800));
  assert_false(rudp_sbuf_has_pending(&f.sb));
  assert_int_equal(0, rudp_sbuf_next(&f.sb, &off, 1200));
  assert_int_equal(3000, f.sb.acked);
  assert_int_equal(3000, f.sb.sent);
  assert_int_equal(3000, f.sb.written);
  assert_int_equal(0, cm.nlive);

  /* The stream goes on from offset 3000. */
  assert_int_equal(0, write_pat(&f.sb, 5000));
  assert_int_equal(8000, f.sb.written);
  expect_next(&f.sb, 1200, 3000, 1200);
  check_copy(&f.sb, 3000, 5000);
  check_segs(&f.sb, &f.pool);
  send_all(&f.sb);
  assert_int_equal(0, rudp_sbuf_on_acked(&f.sb, 3000, 5000));
  assert_int_equal(0, rudp_sbuf_unacked(&f.sb));
  assert_int_equal(1, rudp_sbuf_shrink(&f.sb));
  fixture_free(&f);
  assert_int_equal(0, cm.nlive);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_sbuf_empty),
      cmocka_unit_test(test_rudp_sbuf_shrink),
      cmocka_unit_test(test_rudp_sbuf_copy_across_chunks),
      cmocka_unit_test(test_rudp_sbuf_small_writes_share_chunk),
      cmocka_unit_test(test_rudp_sbuf_ref_zero_copy),
      cmocka_unit_test(test_rudp_sbuf_ref_released_once_when_acked),
      cmocka_unit_test(test_rudp_sbuf_mixed_refs_and_copies),
      cmocka_unit_test(test_rudp_sbuf_next_lost_first_and_clipped),
      cmocka_unit_test(test_rudp_sbuf_lost_skips_acked),
      cmocka_unit_test(test_rudp_sbuf_out_of_order_acks_release_in_order),
      cmocka_unit_test(test_rudp_sbuf_reset),
      cmocka_unit_test(test_rudp_sbuf_free_releases_refs),
      cmocka_unit_test(test_rudp_sbuf_pool_returned),
      cmocka_unit_test(test_rudp_sbuf_nomem),
      cmocka_unit_test(test_rudp_sbuf_steady_state_no_alloc),
      cmocka_unit_test(test_rudp_sbuf_property),
  };

  return cmocka_run_group_tests_name("sbuf", tests, NULL, NULL);
}
