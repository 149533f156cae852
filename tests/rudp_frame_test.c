/*
 * Tests of lib/rudp_frame.c: every frame's layout (RFC 9000 section 19,
 * RFC 9221), round trips at varint boundaries, every error, and the
 * totality of the decoder (truncation at every length, random garbage).
 *
 * Decoders are always fed a heap copy of exactly the bytes under test, so
 * AddressSanitizer catches a read of even one byte past the input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rudp_frame.h"
#include "rudp_macro.h"
#include "rudp_test_helper.h"

#define MAXV RUDP_MAX_VARINT

/* The varint boundaries: the last and first value of each length. */
static const uint64_t bvals[] = {
    0, 63, 64, 16383, 16384, (1ULL << 30) - 1, 1ULL << 30, MAXV,
};

/* Every frame type we know. */
static const uint8_t known_types[] = {
    0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
    0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14,
    0x15, 0x16, 0x17, 0x1c, 0x1d, 0x1e, 0x30, 0x31,
};

/* Payload bytes for the frames that carry data. */
static uint8_t data[20000];
/* Output buffer for encodes that must not run out of room. */
static uint8_t big[70000];

static int setup_data(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(data); ++i) {
    data[i] = (uint8_t)(i * 7 + 3);
  }
  return 0;
}

/* tvl is the test's own varint length (RFC 9000 section 16). */
static size_t tvl(uint64_t v) {
  return v <= 63 ? 1 : v <= 16383 ? 2 : v <= 1073741823 ? 4 : 8;
}

/* dup_exact returns a heap copy of exactly |n| bytes (never NULL). */
static uint8_t *dup_exact(const uint8_t *p, size_t n) {
  uint8_t *q = malloc(n ? n : 1);
  assert_non_null(q);
  if (n) {
    memcpy(q, p, n);
  }
  return q;
}

static void assert_bytes(const uint8_t *a, size_t alen, const uint8_t *b,
                         size_t blen) {
  assert_int_equal(alen, blen);
  if (alen) {
    assert_memory_equal(a, b, alen);
  }
}

/* ack_ranges lists the ranges of encode-side or decode-side |fr|. */
static size_t ack_ranges(const rudp_frame_ack *fr, rudp_range *out,
                         size_t cap) {
  rudp_frame_ack_iter it;
  size_t n = 0;

  if (fr->ranges) {
    assert_true(fr->nranges <= cap);
    memcpy(out, fr->ranges, fr->nranges * sizeof(*out));
    return fr->nranges;
  }
  rudp_frame_ack_iter_init(&it, fr);
  while (rudp_frame_ack_iter_next(&it, &out[n])) {
    ++n;
    assert_true(n <= cap);
  }
  /* Exhausted stays exhausted. */
  assert_int_equal(rudp_frame_ack_iter_next(&it, &out[0]), 0);
  assert_int_equal(n, fr->range_count + 1);
  return n;
}

static rudp_range ranges_a[2048], ranges_b[2048];

/*
 * assert_frame_matches checks that decoded |got| carries the values of
 * |want|, an encode-side frame or an earlier decode.
 */
static void assert_frame_matches(const rudp_frame *want,
                                 const rudp_frame *got) {
  size_t na, nb, i;
  uint8_t t;

  switch (want->type) {
  case RUDP_FRAME_PADDING:
    assert_int_equal(got->type, RUDP_FRAME_PADDING);
    assert_int_equal(got->padding.len, want->padding.len);
    return;
  case RUDP_FRAME_ACK:
    assert_int_equal(got->type, RUDP_FRAME_ACK);
    assert_int_equal(got->ack.ack_delay, want->ack.ack_delay);
    assert_null(got->ack.ranges);
    assert_int_equal(got->ack.nranges, 0);
    na = ack_ranges(&want->ack, ranges_a, rudp_arraylen(ranges_a));
    nb = ack_ranges(&got->ack, ranges_b, rudp_arraylen(ranges_b));
    assert_int_equal(na, nb);
    for (i = 0; i < na; ++i) {
      assert_int_equal(ranges_a[i].lo, ranges_b[i].lo);
      assert_int_equal(ranges_a[i].hi, ranges_b[i].hi);
    }
    assert_int_equal(got->ack.largest_ack, ranges_a[0].hi);
    assert_int_equal(got->ack.first_range, ranges_a[0].hi - ranges_a[0].lo);
    return;
  case RUDP_FRAME_RESET_STREAM:
    assert_int_equal(got->type, want->type);
    assert_int_equal(got->reset_stream.stream_id, want->reset_stream.stream_id);
    assert_int_equal(got->reset_stream.app_error_code,
                     want->reset_stream.app_error_code);
    assert_int_equal(got->reset_stream.final_size,
                     want->reset_stream.final_size);
    return;
  case RUDP_FRAME_STOP_SENDING:
    assert_int_equal(got->type, want->type);
    assert_int_equal(got->stop_sending.stream_id, want->stop_sending.stream_id);
    assert_int_equal(got->stop_sending.app_error_code,
                     want->stop_sending.app_error_code);
    return;
  case RUDP_FRAME_CRYPTO:
    assert_int_equal(got->type, want->type);
    assert_int_equal(got->crypto.offset, want->crypto.offset);
    assert_bytes(got->crypto.data, got->crypto.datalen, want->crypto.data,
                 want->crypto.datalen);
    return;
  case RUDP_FRAME_NEW_TOKEN:
    assert_int_equal(got->type, want->type);
    assert_bytes(got->new_token.token, got->new_token.tokenlen,
                 want->new_token.token, want->new_token.tokenlen);
    return;
  case 0x08:
  case 0x09:
  case 0x0a:
  case 0x0b:
  case 0x0c:
  case 0x0d:
  case 0x0e:
  case 0x0f:
    t = RUDP_FRAME_STREAM;
    if (want->stream.offset) {
      t |= RUDP_FRAME_STREAM_OFF_BIT;
    }
    if (!want->stream.implicit_len) {
      t |= RUDP_FRAME_STREAM_LEN_BIT;
    }
    if (want->stream.fin) {
      t |= RUDP_FRAME_STREAM_FIN_BIT;
    }
    assert_int_equal(got->type, t);
    assert_int_equal(got->stream.fin, want->stream.fin ? 1 : 0);
    assert_int_equal(got->stream.implicit_len,
                     want->stream.implicit_len ? 1 : 0);
    assert_int_equal(got->stream.stream_id, want->stream.stream_id);
    assert_int_equal(got->stream.offset, want->stream.offset);
    assert_bytes(got->stream.data, got->stream.datalen, want->stream.data,
                 want->stream.datalen);
    return;
  case RUDP_FRAME_MAX_DATA:
  case RUDP_FRAME_DATA_BLOCKED:
  case RUDP_FRAME_MAX_STREAMS_BIDI:
  case RUDP_FRAME_MAX_STREAMS_UNI:
  case RUDP_FRAME_STREAMS_BLOCKED_BIDI:
  case RUDP_FRAME_STREAMS_BLOCKED_UNI:
    assert_int_equal(got->type, want->type);
    assert_int_equal(got->value.value, want->value.value);
    return;
  case RUDP_FRAME_MAX_STREAM_DATA:
  case RUDP_FRAME_STREAM_DATA_BLOCKED:
    assert_int_equal(got->type, want->type);
    assert_int_equal(got->stream_value.stream_id, want->stream_value.stream_id);
    assert_int_equal(got->stream_value.value, want->stream_value.value);
    return;
  case RUDP_FRAME_CONNECTION_CLOSE:
  case RUDP_FRAME_CONNECTION_CLOSE_APP:
    assert_int_equal(got->type, want->type);
    assert_int_equal(got->connection_close.error_code,
                     want->connection_close.error_code);
    assert_int_equal(got->connection_close.frame_type,
                     want->type == RUDP_FRAME_CONNECTION_CLOSE
                         ? want->connection_close.frame_type
                         : 0);
    assert_bytes(got->connection_close.reason, got->connection_close.reasonlen,
                 want->connection_close.reason,
                 want->connection_close.reasonlen);
    return;
  case RUDP_FRAME_DATAGRAM:
  case RUDP_FRAME_DATAGRAM_LEN:
    assert_int_equal(got->type, want->datagram.implicit_len
                                    ? RUDP_FRAME_DATAGRAM
                                    : RUDP_FRAME_DATAGRAM_LEN);
    assert_int_equal(got->datagram.implicit_len,
                     want->datagram.implicit_len ? 1 : 0);
    assert_bytes(got->datagram.data, got->datagram.datalen, want->datagram.data,
                 want->datagram.datalen);
    return;
  default:
    /* PING, HANDSHAKE_DONE. */
    assert_int_equal(got->type, want->type);
    return;
  }
}

/* decode_exact decodes a heap copy of exactly |n| bytes of |p|. */
static rudp_ssize decode_exact(rudp_frame *fr, uint8_t **pcopy,
                               const uint8_t *p, size_t n) {
  *pcopy = dup_exact(p, n);
  return rudp_frame_decode(fr, *pcopy, n);
}

/*
 * roundtrip encodes |fr|, checks the length (if |want_len| is not 0), and
 * decodes it back from an exact-size copy.  It also encodes into an
 * exact-size buffer and checks the same bytes come out.
 */
static void roundtrip(const rudp_frame *fr, size_t want_len) {
  rudp_frame got;
  rudp_ssize n, m;
  uint8_t *copy, *exact;

  n = rudp_frame_encode(big, sizeof(big), fr);
  assert_true(n > 0);
  if (want_len) {
    assert_int_equal(n, want_len);
  }
  exact = malloc((size_t)n);
  assert_non_null(exact);
  assert_int_equal(rudp_frame_encode(exact, (size_t)n, fr), n);
  assert_memory_equal(exact, big, (size_t)n);
  free(exact);

  memset(&got, 0xa5, sizeof(got));
  m = decode_exact(&got, &copy, big, (size_t)n);
  assert_int_equal(m, n);
  assert_frame_matches(fr, &got);
  free(copy);
}

/* ------------------------------------------------------------ basics */

static void test_rudp_frame_decode_empty(void **state) {
  rudp_frame fr;
  uint8_t b = 0x01;
  (void)state;
  assert_int_equal(rudp_frame_decode(&fr, &b, 0), RUDP_ERR_TRUNCATED);
}

static void test_rudp_frame_padding_runs(void **state) {
  rudp_frame fr, got;
  uint8_t buf[1200], *copy;
  size_t lens[] = {1, 2, 7, 1200};
  size_t i;
  (void)state;

  fr.padding.type = RUDP_FRAME_PADDING;
  for (i = 0; i < rudp_arraylen(lens); ++i) {
    fr.padding.len = lens[i];
    memset(big, 0xff, lens[i] + 1);
    assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr), lens[i]);
    assert_int_equal(big[lens[i]], 0xff);
    roundtrip(&fr, lens[i]);
  }

  /* A run stops at the first nonzero byte, which is the next frame. */
  memset(buf, 0, sizeof(buf));
  buf[3] = RUDP_FRAME_PING;
  assert_int_equal(decode_exact(&got, &copy, buf, 5), 3);
  assert_int_equal(got.type, RUDP_FRAME_PADDING);
  assert_int_equal(got.padding.len, 3);
  assert_int_equal(rudp_frame_decode(&got, copy + 3, 2), 1);
  assert_int_equal(got.type, RUDP_FRAME_PING);
  assert_int_equal(rudp_frame_decode(&got, copy + 4, 1), 1);
  assert_int_equal(got.padding.len, 1);
  free(copy);

  /* A whole padded datagram is one frame. */
  memset(buf, 0, sizeof(buf));
  assert_int_equal(decode_exact(&got, &copy, buf, sizeof(buf)), 1200);
  assert_int_equal(got.padding.len, 1200);
  free(copy);
}

static void test_rudp_frame_padding_invalid(void **state) {
  rudp_frame fr;
  uint8_t buf[8];
  (void)state;
  fr.padding.type = RUDP_FRAME_PADDING;
  fr.padding.len = 0;
  assert_int_equal(rudp_frame_encode(buf, sizeof(buf), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
  fr.padding.len = 9;
  assert_int_equal(rudp_frame_encode(buf, sizeof(buf), &fr), RUDP_ERR_NOBUF);
  fr.padding.len = 8;
  assert_int_equal(rudp_frame_encode(buf, sizeof(buf), &fr), 8);
}

static void test_rudp_frame_ping_handshake_done(void **state) {
  rudp_frame fr;
  uint8_t buf[1];
  (void)state;
  fr.type = RUDP_FRAME_PING;
  assert_int_equal(rudp_frame_encode(buf, 1, &fr), 1);
  assert_int_equal(buf[0], 0x01);
  assert_int_equal(rudp_frame_encode(buf, 0, &fr), RUDP_ERR_NOBUF);
  roundtrip(&fr, 1);
  fr.type = RUDP_FRAME_HANDSHAKE_DONE;
  assert_int_equal(rudp_frame_encode(buf, 1, &fr), 1);
  assert_int_equal(buf[0], 0x1e);
  roundtrip(&fr, 1);
}

/*
 * Known answers: hand-written wire bytes, so that an encoder and decoder
 * that agree on a wrong layout are caught.
 */
static void test_rudp_frame_known_answers(void **state) {
  static const struct {
    uint8_t bytes[16];
    size_t len;
  } kat[] = {
      /* ACK largest 0x1234, delay 5, 1 pair, first 2, gap 1, len 0:
       * ranges [0x1232, 0x1234], [0x122f, 0x122f]. */
      {{0x02, 0x52, 0x34, 0x05, 0x01, 0x02, 0x01, 0x00}, 8},
      {{0x04, 0x01, 0x40, 0x40, 0x03}, 5},
      {{0x05, 0x3f, 0x40, 0x40}, 4},
      {{0x06, 0x40, 0x40, 0x02, 'h', 'i'}, 6},
      {{0x07, 0x03, 't', 'o', 'k'}, 5},
      {{0x0f, 0x04, 0x41, 0x00, 0x01, 'x'}, 6},
      {{0x08, 0x04, 'a', 'b'}, 4},
      {{0x10, 0x80, 0x01, 0x00, 0x00}, 5},
      {{0x11, 0x02, 0x03}, 3},
      {{0x12, 0x07}, 2},
      {{0x13, 0x08}, 2},
      {{0x14, 0x09}, 2},
      {{0x15, 0x0a, 0x0b}, 3},
      {{0x16, 0x0c}, 2},
      {{0x17, 0x0d}, 2},
      {{0x1c, 0x07, 0x08, 0x02, 'n', 'o'}, 6},
      {{0x1d, 0x0c, 0x00}, 3},
      {{0x30, 'd', 'g'}, 3},
      {{0x31, 0x01, 'd'}, 3},
  };
  rudp_frame fr;
  rudp_range r;
  rudp_frame_ack_iter it;
  uint8_t *copy;
  size_t i;
  (void)state;

  for (i = 0; i < rudp_arraylen(kat); ++i) {
    assert_int_equal(decode_exact(&fr, &copy, kat[i].bytes, kat[i].len),
                     kat[i].len);
    assert_int_equal(fr.type, kat[i].bytes[0]);
    if (fr.type == RUDP_FRAME_ACK) {
      /* Our encoder takes ranges, not the raw frame; checked below. */
      free(copy);
      continue;
    }
    /* Every sample is in shortest form, so it re-encodes identically. */
    assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr), kat[i].len);
    assert_memory_equal(big, kat[i].bytes, kat[i].len);
    free(copy);
  }

  assert_int_equal(rudp_frame_decode(&fr, kat[0].bytes, kat[0].len), 8);
  assert_int_equal(fr.ack.largest_ack, 0x1234);
  assert_int_equal(fr.ack.ack_delay, 5);
  assert_int_equal(fr.ack.range_count, 1);
  assert_int_equal(fr.ack.first_range, 2);
  assert_ptr_equal(fr.ack.rangebuf, kat[0].bytes + 6);
  assert_int_equal(fr.ack.rangebuflen, 2);
  rudp_frame_ack_iter_init(&it, &fr.ack);
  assert_int_equal(rudp_frame_ack_iter_next(&it, &r), 1);
  assert_int_equal(r.lo, 0x1232);
  assert_int_equal(r.hi, 0x1234);
  assert_int_equal(rudp_frame_ack_iter_next(&it, &r), 1);
  assert_int_equal(r.lo, 0x122f);
  assert_int_equal(r.hi, 0x122f);
  assert_int_equal(rudp_frame_ack_iter_next(&it, &r), 0);

  {
    rudp_range rs[2] = {{0x1232, 0x1234}, {0x122f, 0x122f}};
    rudp_frame e;
    memset(&e, 0, sizeof(e));
    e.ack.type = RUDP_FRAME_ACK;
    e.ack.ack_delay = 5;
    e.ack.ranges = rs;
    e.ack.nranges = 2;
    assert_int_equal(rudp_frame_encode(big, sizeof(big), &e), 8);
    assert_memory_equal(big, kat[0].bytes, 8);
  }

  /* The sample STREAM frames decode to the fields the bytes spell. */
  assert_int_equal(rudp_frame_decode(&fr, kat[5].bytes, kat[5].len), 6);
  assert_int_equal(fr.stream.stream_id, 4);
  assert_int_equal(fr.stream.offset, 0x100);
  assert_int_equal(fr.stream.fin, 1);
  assert_int_equal(fr.stream.implicit_len, 0);
  assert_int_equal(fr.stream.datalen, 1);
  assert_int_equal(fr.stream.data[0], 'x');
  assert_int_equal(rudp_frame_decode(&fr, kat[15].bytes, kat[15].len), 6);
  assert_int_equal(fr.connection_close.error_code, 7);
  assert_int_equal(fr.connection_close.frame_type, 8);
  assert_int_equal(fr.connection_close.reasonlen, 2);
}

/* ------------------------------------------------------------------ ACK */

static void test_rudp_frame_ack_one_range(void **state) {
  rudp_frame fr, got;
  rudp_range r, rs[1];
  rudp_frame_ack_iter it;
  uint8_t *copy;
  rudp_ssize n;
  size_t i, j, k;
  (void)state;

  memset(&fr, 0, sizeof(fr));
  fr.ack.type = RUDP_FRAME_ACK;
  fr.ack.ranges = rs;
  fr.ack.nranges = 1;
  for (i = 0; i < rudp_arraylen(bvals); ++i) {
    for (j = 0; j < rudp_arraylen(bvals); ++j) {
      if (bvals[j] > bvals[i]) {
        continue;
      }
      for (k = 0; k < rudp_arraylen(bvals); ++k) {
        rs[0].hi = bvals[i];
        rs[0].lo = bvals[i] - bvals[j];
        fr.ack.ack_delay = bvals[k];
        roundtrip(&fr, 2 + tvl(bvals[i]) + tvl(bvals[k]) + tvl(bvals[j]));

        n = rudp_frame_encode(big, sizeof(big), &fr);
        assert_int_equal(decode_exact(&got, &copy, big, (size_t)n), n);
        assert_int_equal(got.ack.largest_ack, bvals[i]);
        assert_int_equal(got.ack.first_range, bvals[j]);
        assert_int_equal(got.ack.range_count, 0);
        assert_int_equal(got.ack.rangebuflen, 0);
        rudp_frame_ack_iter_init(&it, &got.ack);
        assert_int_equal(rudp_frame_ack_iter_next(&it, &r), 1);
        assert_int_equal(r.lo, rs[0].lo);
        assert_int_equal(r.hi, rs[0].hi);
        assert_int_equal(rudp_frame_ack_iter_next(&it, &r), 0);
        assert_int_equal(rudp_frame_ack_iter_next(&it, &r), 0);
        free(copy);
      }
    }
  }
}

static const uint64_t small_bvals[] = {
    0, 63, 64, 16383, 16384, (1ULL << 30) - 1, 1ULL << 30,
};

/*
 * build_ranges_down fills |n| ranges newest first, starting at |top|, with
 * range lengths and gaps cycling through the varint boundaries.
 */
static void build_ranges_down(rudp_range *r, size_t n, uint64_t top) {
  size_t i, k = rudp_arraylen(small_bvals);
  uint64_t hi = top;

  for (i = 0; i < n; ++i) {
    r[i].hi = hi;
    r[i].lo = hi - small_bvals[i % k];
    hi = r[i].lo - small_bvals[(i * 3 + 1) % k] - 2;
  }
}

/* build_ranges_up fills |n| ranges newest first whose oldest starts at 0. */
static void build_ranges_up(rudp_range *r, size_t n) {
  size_t i, k = rudp_arraylen(small_bvals);
  uint64_t lo = 0;

  for (i = n; i-- > 0;) {
    r[i].lo = lo;
    r[i].hi = lo + small_bvals[(i * 5 + 2) % k];
    lo = r[i].hi + small_bvals[i % k] + 2;
  }
}

/* ack_len is the expected encoding length of the first |n| ranges. */
static size_t ack_len(const rudp_range *r, size_t n, uint64_t delay) {
  size_t i,
      len = 1 + tvl(r[0].hi) + tvl(delay) + tvl(n - 1) + tvl(r[0].hi - r[0].lo);
  for (i = 1; i < n; ++i) {
    len += tvl(r[i - 1].lo - r[i].hi - 2) + tvl(r[i].hi - r[i].lo);
  }
  return len;
}

static void test_rudp_frame_ack_many_ranges(void **state) {
  static rudp_range rs[300];
  rudp_frame fr, got;
  rudp_range r;
  rudp_frame_ack_iter it;
  uint8_t *copy;
  rudp_ssize n;
  size_t i, counts[] = {2, 63, 64, 65, 300};
  size_t c;
  (void)state;

  memset(&fr, 0, sizeof(fr));
  fr.ack.type = RUDP_FRAME_ACK;
  fr.ack.ack_delay = 25;
  fr.ack.ranges = rs;
  for (c = 0; c < rudp_arraylen(counts); ++c) {
    build_ranges_down(rs, counts[c], MAXV);
    fr.ack.nranges = counts[c];
    roundtrip(&fr, ack_len(rs, counts[c], 25));

    build_ranges_up(rs, counts[c]);
    assert_int_equal(rs[counts[c] - 1].lo, 0);
    roundtrip(&fr, ack_len(rs, counts[c], 25));

    /* Walk by hand as well: exact ranges, newest first. */
    n = rudp_frame_encode(big, sizeof(big), &fr);
    assert_int_equal(decode_exact(&got, &copy, big, (size_t)n), n);
    assert_int_equal(got.ack.range_count, counts[c] - 1);
    rudp_frame_ack_iter_init(&it, &got.ack);
    for (i = 0; i < counts[c]; ++i) {
      assert_int_equal(rudp_frame_ack_iter_next(&it, &r), 1);
      assert_int_equal(r.lo, rs[i].lo);
      assert_int_equal(r.hi, rs[i].hi);
    }
    assert_int_equal(rudp_frame_ack_iter_next(&it, &r), 0);
    free(copy);
  }
}

/*
 * expected_pairs is how many pairs fit in |outlen|, found by brute force:
 * the largest k with ack_len(k + 1 ranges) <= outlen.
 */
static size_t expected_pairs(const rudp_range *r, size_t n, uint64_t delay,
                             size_t outlen) {
  size_t k;
  for (k = n; k-- > 0;) {
    if (ack_len(r, k + 1, delay) <= outlen) {
      return k;
    }
  }
  fail();
  return 0;
}

static void ack_partial_fit(const rudp_range *rs, size_t nrs) {
  rudp_frame fr, got;
  uint8_t *out, *copy;
  rudp_ssize n;
  size_t outlen, k, minlen, fulllen, prevk = 0;

  memset(&fr, 0, sizeof(fr));
  fr.ack.type = RUDP_FRAME_ACK;
  fr.ack.ack_delay = 3;
  fr.ack.ranges = rs;
  fr.ack.nranges = nrs;
  minlen = ack_len(rs, 1, 3);
  fulllen = ack_len(rs, nrs, 3);

  for (outlen = 0; outlen <= fulllen + 2; ++outlen) {
    out = malloc(outlen ? outlen : 1);
    assert_non_null(out);
    n = rudp_frame_encode(out, outlen, &fr);
    if (outlen < minlen) {
      assert_int_equal(n, RUDP_ERR_NOBUF);
      free(out);
      continue;
    }
    k = expected_pairs(rs, nrs, 3, outlen);
    assert_true(k >= prevk);
    prevk = k;
    assert_int_equal(n, ack_len(rs, k + 1, 3));
    assert_int_equal(decode_exact(&got, &copy, out, (size_t)n), n);
    assert_int_equal(got.ack.range_count, k);
    /* The newest k + 1 ranges, exactly. */
    fr.ack.nranges = k + 1;
    assert_frame_matches(&fr, &got);
    fr.ack.nranges = nrs;
    free(copy);
    free(out);
  }
  assert_int_equal(prevk, nrs - 1);
}

static void test_rudp_frame_ack_partial_fit(void **state) {
  static rudp_range rs[300];
  size_t i;
  (void)state;

  /* 2-byte pairs: the range count's own varint grows from 1 to 2 bytes
   * between 63 and 64 pairs, which the fit must account for. */
  for (i = 0; i < 100; ++i) {
    rs[i].hi = rs[i].lo = 1000 - 2 * i;
  }
  ack_partial_fit(rs, 100);
  /* 64 pairs need 5 + 2 + 128 bytes, not 5 + 1 + 128. */
  assert_int_equal(expected_pairs(rs, 100, 3, 134), 63);
  assert_int_equal(expected_pairs(rs, 100, 3, 135), 64);

  /* Pairs of every length. */
  build_ranges_down(rs, 300, MAXV);
  ack_partial_fit(rs, 300);
}

static void test_rudp_frame_ack_encode_invalid(void **state) {
  rudp_frame fr;
  rudp_range rs[3];
  (void)state;

  memset(&fr, 0, sizeof(fr));
  fr.ack.type = RUDP_FRAME_ACK;

  /* No ranges. */
  fr.ack.ranges = NULL;
  fr.ack.nranges = 1;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
  fr.ack.ranges = rs;
  fr.ack.nranges = 0;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);

  /* lo > hi. */
  fr.ack.nranges = 1;
  rs[0].lo = 5;
  rs[0].hi = 4;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
  /* Beyond 2^62 - 1. */
  rs[0].lo = 5;
  rs[0].hi = MAXV + 1;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
  rs[0].lo = MAXV;
  rs[0].hi = MAXV;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr), 1 + 8 + 3);
  /* ACK delay beyond 2^62 - 1. */
  fr.ack.ack_delay = MAXV + 1;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
  fr.ack.ack_delay = 0;

  fr.ack.nranges = 2;
  rs[0].lo = 10;
  rs[0].hi = 20;
  /* Ascending instead of descending. */
  rs[1].lo = 30;
  rs[1].hi = 40;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
  /* Overlapping. */
  rs[1].lo = 5;
  rs[1].hi = 10;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
  /* Adjacent: [5, 9] and [10, 20] are one range. */
  rs[1].hi = 9;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
  /* One missing number between them is the smallest gap (gap field 0). */
  rs[1].hi = 8;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr), 7);
  assert_int_equal(big[5], 0x00);
  assert_int_equal(big[6], 0x03);
  roundtrip(&fr, 7);
  /* A bad range deep in the list is found even if it would not fit. */
  fr.ack.nranges = 3;
  rs[2].lo = 8;
  rs[2].hi = 8;
  assert_int_equal(rudp_frame_encode(big, 7, &fr), RUDP_ERR_INVALID_ARGUMENT);
  /* Later range's lo > hi. */
  rs[2].lo = 3;
  rs[2].hi = 2;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
}

static void test_rudp_frame_ack_decode_invalid(void **state) {
  /* first_range above largest_ack. */
  static const uint8_t first_too_big[] = {0x02, 0x05, 0x00, 0x00, 0x06};
  /* largest 5, first 5: smallest 0, so any pair reaches below 0. */
  static const uint8_t gap_under[] = {0x02, 0x05, 0x00, 0x01, 0x05, 0x00, 0x00};
  /* largest 10, first 0, gap 0: next largest 8; lengths 8 and 9. */
  static const uint8_t len_ok[] = {0x02, 0x0a, 0x00, 0x01, 0x00, 0x00, 0x08};
  static const uint8_t len_under[] = {0x02, 0x0a, 0x00, 0x01, 0x00, 0x00, 0x09};
  /* gap 8 reaches exactly 0; gap 9 goes below. */
  static const uint8_t gap_ok[] = {0x02, 0x0a, 0x00, 0x01, 0x00, 0x08, 0x00};
  static const uint8_t gap_below[] = {0x02, 0x0a, 0x00, 0x01, 0x00, 0x09, 0x00};
  /* The second of two pairs goes below 0: [10], [8], then largest
   * 8 - 5 - 2 = 1 with length 2. */
  static const uint8_t second_under[] = {0x02, 0x0a, 0x00, 0x02, 0x00,
                                         0x00, 0x00, 0x05, 0x02};
  rudp_frame fr;
  rudp_range r;
  rudp_frame_ack_iter it;
  uint8_t *copy;
  (void)state;

  assert_int_equal(
      decode_exact(&fr, &copy, first_too_big, sizeof(first_too_big)),
      RUDP_ERR_FRAME_ENCODING);
  free(copy);
  assert_int_equal(decode_exact(&fr, &copy, gap_under, sizeof(gap_under)),
                   RUDP_ERR_FRAME_ENCODING);
  free(copy);
  assert_int_equal(decode_exact(&fr, &copy, len_under, sizeof(len_under)),
                   RUDP_ERR_FRAME_ENCODING);
  free(copy);
  assert_int_equal(decode_exact(&fr, &copy, gap_below, sizeof(gap_below)),
                   RUDP_ERR_FRAME_ENCODING);
  free(copy);
  assert_int_equal(decode_exact(&fr, &copy, second_under, sizeof(second_under)),
                   RUDP_ERR_FRAME_ENCODING);
  free(copy);

  assert_int_equal(decode_exact(&fr, &copy, len_ok, sizeof(len_ok)), 7);
  rudp_frame_ack_iter_init(&it, &fr.ack);
  assert_int_equal(rudp_frame_ack_iter_next(&it, &r), 1);
  assert_int_equal(r.lo, 10);
  assert_int_equal(r.hi, 10);
  assert_int_equal(rudp_frame_ack_iter_next(&it, &r), 1);
  assert_int_equal(r.lo, 0);
  assert_int_equal(r.hi, 8);
  assert_int_equal(rudp_frame_ack_iter_next(&it, &r), 0);
  free(copy);

  assert_int_equal(decode_exact(&fr, &copy, gap_ok, sizeof(gap_ok)), 7);
  rudp_frame_ack_iter_init(&it, &fr.ack);
  assert_int_equal(rudp_frame_ack_iter_next(&it, &r), 1);
  assert_int_equal(rudp_frame_ack_iter_next(&it, &r), 1);
  assert_int_equal(r.lo, 0);
  assert_int_equal(r.hi, 0);
  assert_int_equal(rudp_frame_ack_iter_next(&it, &r), 0);
  free(copy);
}

static void test_rudp_frame_ack_huge_range_count(void **state) {
  /* range_count 2^62 - 1 with a few bytes after it: must fail at once. */
  static const uint8_t huge[] = {0x02, 0x3f, 0x00, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
                                 0x00, 0x00, 0x00, 0x00};
  /* 2 pairs announced, 2 pairs' worth of bytes: fine; 3: truncated. */
  static const uint8_t two[] = {0x02, 0x3f, 0x00, 0x02, 0x00,
                                0x00, 0x00, 0x00, 0x00};
  static const uint8_t three[] = {0x02, 0x3f, 0x00, 0x03, 0x00,
                                  0x00, 0x00, 0x00, 0x00};
  /* A huge count before a pair that would reach below 0: the count is
   * refused before any pair is read, so this is truncation. */
  static const uint8_t huge_bad_pair[] = {0x02, 0x00, 0x00, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0x00, 0x05, 0x00};
  rudp_frame fr;
  uint8_t *copy;
  (void)state;

  assert_int_equal(decode_exact(&fr, &copy, huge, sizeof(huge)),
                   RUDP_ERR_TRUNCATED);
  free(copy);
  assert_int_equal(
      decode_exact(&fr, &copy, huge_bad_pair, sizeof(huge_bad_pair)),
      RUDP_ERR_TRUNCATED);
  free(copy);
  /* The same pair under an honest count of 1 is the encoding error. */
  {
    static const uint8_t bad_pair[] = {0x02, 0x00, 0x00, 0x01,
                                       0x00, 0x05, 0x00};
    assert_int_equal(decode_exact(&fr, &copy, bad_pair, sizeof(bad_pair)),
                     RUDP_ERR_FRAME_ENCODING);
    free(copy);
  }
  assert_int_equal(decode_exact(&fr, &copy, two, sizeof(two)), 9);
  assert_int_equal(fr.ack.range_count, 2);
  assert_int_equal(fr.ack.rangebuflen, 4);
  free(copy);
  assert_int_equal(decode_exact(&fr, &copy, three, sizeof(three)),
                   RUDP_ERR_TRUNCATED);
  free(copy);
}

/* ------------------------------------------------- integer-only frames */

static void test_rudp_frame_reset_stream(void **state) {
  rudp_frame fr;
  size_t i, j, k;
  (void)state;
  fr.reset_stream.type = RUDP_FRAME_RESET_STREAM;
  for (i = 0; i < rudp_arraylen(bvals); ++i) {
    for (j = 0; j < rudp_arraylen(bvals); ++j) {
      for (k = 0; k < rudp_arraylen(bvals); ++k) {
        fr.reset_stream.stream_id = bvals[i];
        fr.reset_stream.app_error_code = bvals[j];
        fr.reset_stream.final_size = bvals[k];
        roundtrip(&fr, 1 + tvl(bvals[i]) + tvl(bvals[j]) + tvl(bvals[k]));
      }
    }
  }
}

static void test_rudp_frame_stop_sending(void **state) {
  rudp_frame fr;
  size_t i, j;
  (void)state;
  fr.stop_sending.type = RUDP_FRAME_STOP_SENDING;
  for (i = 0; i < rudp_arraylen(bvals); ++i) {
    for (j = 0; j < rudp_arraylen(bvals); ++j) {
      fr.stop_sending.stream_id = bvals[i];
      fr.stop_sending.app_error_code = bvals[j];
      roundtrip(&fr, 1 + tvl(bvals[i]) + tvl(bvals[j]));
    }
  }
}

static void test_rudp_frame_max_data_data_blocked(void **state) {
  static const uint8_t types[] = {RUDP_FRAME_MAX_DATA, RUDP_FRAME_DATA_BLOCKED};
  rudp_frame fr;
  size_t t, i;
  (void)state;
  for (t = 0; t < rudp_arraylen(types); ++t) {
    for (i = 0; i < rudp_arraylen(bvals); ++i) {
      fr.value.type = types[t];
      fr.value.value = bvals[i];
      roundtrip(&fr, 1 + tvl(bvals[i]));
    }
  }
}

static void test_rudp_frame_max_streams_streams_blocked(void **state) {
  static const uint8_t types[] = {
      RUDP_FRAME_MAX_STREAMS_BIDI, RUDP_FRAME_MAX_STREAMS_UNI,
      RUDP_FRAME_STREAMS_BLOCKED_BIDI, RUDP_FRAME_STREAMS_BLOCKED_UNI};
  static const uint64_t ok[] = {
      0, 63, 64, 16383, 16384, (1ULL << 30) - 1, 1ULL << 30, RUDP_MAX_STREAMS};
  static const uint64_t bad[] = {RUDP_MAX_STREAMS + 1, MAXV};
  rudp_frame fr, got;
  uint8_t buf[9], *copy;
  size_t t, i;
  (void)state;

  for (t = 0; t < rudp_arraylen(types); ++t) {
    fr.value.type = types[t];
    for (i = 0; i < rudp_arraylen(ok); ++i) {
      fr.value.value = ok[i];
      roundtrip(&fr, 1 + tvl(ok[i]));
    }
    for (i = 0; i < rudp_arraylen(bad); ++i) {
      fr.value.value = bad[i];
      assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                       RUDP_ERR_INVALID_ARGUMENT);
      buf[0] = types[t];
      buf[1] = (uint8_t)(0xc0 | (bad[i] >> 56));
      buf[2] = (uint8_t)(bad[i] >> 48);
      buf[3] = (uint8_t)(bad[i] >> 40);
      buf[4] = (uint8_t)(bad[i] >> 32);
      buf[5] = (uint8_t)(bad[i] >> 24);
      buf[6] = (uint8_t)(bad[i] >> 16);
      buf[7] = (uint8_t)(bad[i] >> 8);
      buf[8] = (uint8_t)bad[i];
      assert_int_equal(decode_exact(&got, &copy, buf, 9),
                       RUDP_ERR_FRAME_ENCODING);
      free(copy);
    }
  }
}

static void test_rudp_frame_stream_value(void **state) {
  static const uint8_t types[] = {RUDP_FRAME_MAX_STREAM_DATA,
                                  RUDP_FRAME_STREAM_DATA_BLOCKED};
  rudp_frame fr;
  size_t t, i, j;
  (void)state;
  for (t = 0; t < rudp_arraylen(types); ++t) {
    fr.stream_value.type = types[t];
    for (i = 0; i < rudp_arraylen(bvals); ++i) {
      for (j = 0; j < rudp_arraylen(bvals); ++j) {
        fr.stream_value.stream_id = bvals[i];
        fr.stream_value.value = bvals[j];
        roundtrip(&fr, 1 + tvl(bvals[i]) + tvl(bvals[j]));
      }
    }
  }
}

/* ---------------------------------------------------- frames with data */

static const size_t datalens[] = {0, 1, 63, 64, 300, 16383, 16384};

static void test_rudp_frame_crypto(void **state) {
  rudp_frame fr;
  size_t i, j;
  (void)state;
  fr.crypto.type = RUDP_FRAME_CRYPTO;
  fr.crypto.data = data;
  for (i = 0; i < rudp_arraylen(bvals); ++i) {
    for (j = 0; j < rudp_arraylen(datalens); ++j) {
      fr.crypto.offset = bvals[i];
      fr.crypto.datalen = datalens[j];
      if (fr.crypto.offset > MAXV - datalens[j]) {
        fr.crypto.offset = MAXV - datalens[j];
      }
      roundtrip(&fr,
                1 + tvl(fr.crypto.offset) + tvl(datalens[j]) + datalens[j]);
    }
  }
}

static void test_rudp_frame_crypto_offset_overflow(void **state) {
  /* offset 2^62 - 1 with one byte of data: the end would be 2^62. */
  static const uint8_t over[] = {0x06, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0x01, 'x'};
  static const uint8_t at_max[] = {0x06, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xfe, 0x01, 'x'};
  rudp_frame fr;
  uint8_t *copy;
  (void)state;

  assert_int_equal(decode_exact(&fr, &copy, over, sizeof(over)),
                   RUDP_ERR_FRAME_ENCODING);
  free(copy);
  assert_int_equal(decode_exact(&fr, &copy, at_max, sizeof(at_max)),
                   sizeof(at_max));
  assert_int_equal(fr.crypto.offset, MAXV - 1);
  assert_int_equal(fr.crypto.datalen, 1);
  free(copy);

  fr.crypto.type = RUDP_FRAME_CRYPTO;
  fr.crypto.offset = MAXV;
  fr.crypto.data = data;
  fr.crypto.datalen = 1;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
  fr.crypto.offset = MAXV + 1;
  fr.crypto.datalen = 0;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
  fr.crypto.offset = MAXV;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr), 10);
}

static void test_rudp_frame_new_token(void **state) {
  static const uint8_t empty[] = {0x07, 0x00, 'x'};
  rudp_frame fr;
  uint8_t *copy;
  size_t j;
  (void)state;
  fr.new_token.type = RUDP_FRAME_NEW_TOKEN;
  fr.new_token.token = data;
  for (j = 1; j < rudp_arraylen(datalens); ++j) {
    fr.new_token.tokenlen = datalens[j];
    roundtrip(&fr, 1 + tvl(datalens[j]) + datalens[j]);
  }
  fr.new_token.tokenlen = 0;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(decode_exact(&fr, &copy, empty, sizeof(empty)),
                   RUDP_ERR_FRAME_ENCODING);
  free(copy);
}

/* stream_type is the wire type the fields call for. */
static uint8_t stream_type(uint64_t offset, int implicit_len, int fin) {
  return (uint8_t)(RUDP_FRAME_STREAM |
                   (offset ? RUDP_FRAME_STREAM_OFF_BIT : 0) |
                   (implicit_len ? 0 : RUDP_FRAME_STREAM_LEN_BIT) |
                   (fin ? RUDP_FRAME_STREAM_FIN_BIT : 0));
}

static void test_rudp_frame_stream_flags(void **state) {
  rudp_frame fr, got;
  uint8_t buf[8], *copy, *p;
  unsigned t;
  size_t n;
  int off, implicit, fin;
  (void)state;

  /* Decode each of the eight wire types, built by hand: stream 5, offset
   * 9 (if OFF), length 2 (if LEN), data "ab", then a trailing PING that
   * only the implicit-length forms swallow. */
  for (t = 0x08; t <= 0x0f; ++t) {
    p = buf;
    *p++ = (uint8_t)t;
    *p++ = 5;
    if (t & RUDP_FRAME_STREAM_OFF_BIT) {
      *p++ = 9;
    }
    if (t & RUDP_FRAME_STREAM_LEN_BIT) {
      *p++ = 2;
    }
    *p++ = 'a';
    *p++ = 'b';
    *p++ = RUDP_FRAME_PING;
    n = (size_t)(p - buf);
    assert_int_equal(decode_exact(&got, &copy, buf, n),
                     (t & RUDP_FRAME_STREAM_LEN_BIT) ? n - 1 : n);
    assert_int_equal(got.type, t);
    assert_int_equal(got.stream.stream_id, 5);
    assert_int_equal(got.stream.offset,
                     (t & RUDP_FRAME_STREAM_OFF_BIT) ? 9 : 0);
    assert_int_equal(got.stream.fin, (t & RUDP_FRAME_STREAM_FIN_BIT) ? 1 : 0);
    assert_int_equal(got.stream.implicit_len,
                     (t & RUDP_FRAME_STREAM_LEN_BIT) ? 0 : 1);
    assert_int_equal(got.stream.datalen,
                     (t & RUDP_FRAME_STREAM_LEN_BIT) ? 2 : 3);
    assert_memory_equal(got.stream.data, "ab", 2);
    free(copy);
  }

  /* Encode each combination: the type is computed, fr->type ignored. */
  for (off = 0; off < 2; ++off) {
    for (implicit = 0; implicit < 2; ++implicit) {
      for (fin = 0; fin < 2; ++fin) {
        memset(&fr, 0, sizeof(fr));
        fr.stream.type = RUDP_FRAME_STREAM | RUDP_FRAME_STREAM_OFF_BIT;
        fr.stream.stream_id = 5;
        fr.stream.offset = off ? 9 : 0;
        fr.stream.implicit_len = (uint8_t)implicit;
        fr.stream.fin = (uint8_t)fin;
        fr.stream.data = (const uint8_t *)"ab";
        fr.stream.datalen = 2;
        assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                         2 + off + !implicit + 2);
        assert_int_equal(big[0], stream_type(fr.stream.offset, implicit, fin));
        roundtrip(&fr, (size_t)(2 + off + !implicit + 2));
      }
    }
  }

  /* OFF set with an explicit offset of 0 is legal on the wire. */
  buf[0] = 0x0e;
  buf[1] = 1;
  buf[2] = 0;
  buf[3] = 0;
  assert_int_equal(decode_exact(&got, &copy, buf, 4), 4);
  assert_int_equal(got.stream.offset, 0);
  assert_int_equal(got.stream.datalen, 0);
  free(copy);
}

static void test_rudp_frame_stream_boundaries(void **state) {
  static const size_t lens[] = {0, 1, 63, 64, 16384};
  rudp_frame fr;
  size_t i, j, k;
  int implicit, fin;
  uint64_t off;
  (void)state;

  memset(&fr, 0, sizeof(fr));
  fr.stream.data = data;
  for (i = 0; i < rudp_arraylen(bvals); ++i) {
    for (j = 0; j < rudp_arraylen(bvals); ++j) {
      for (k = 0; k < rudp_arraylen(lens); ++k) {
        for (implicit = 0; implicit < 2; ++implicit) {
          for (fin = 0; fin < 2; ++fin) {
            off = bvals[j] > MAXV - lens[k] ? MAXV - lens[k] : bvals[j];
            fr.stream.type = RUDP_FRAME_STREAM;
            fr.stream.stream_id = bvals[i];
            fr.stream.offset = off;
            fr.stream.datalen = lens[k];
            fr.stream.implicit_len = (uint8_t)implicit;
            fr.stream.fin = (uint8_t)fin;
            roundtrip(&fr, 1 + tvl(bvals[i]) + (off ? tvl(off) : 0) +
                               (implicit ? 0 : tvl(lens[k])) + lens[k]);
          }
        }
      }
    }
  }
}

static void test_rudp_frame_stream_offset_overflow(void **state) {
  /* OFF|LEN, offset 2^62 - 1, length 1. */
  static const uint8_t over_len[] = {0x0e, 0x00, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0x01, 'x'};
  /* OFF only, offset 2^62 - 1, one byte runs to the end. */
  static const uint8_t over_implicit[] = {0x0c, 0x00, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 'x'};
  rudp_frame fr;
  uint8_t *copy;
  (void)state;

  assert_int_equal(decode_exact(&fr, &copy, over_len, sizeof(over_len)),
                   RUDP_ERR_FRAME_ENCODING);
  free(copy);
  assert_int_equal(
      decode_exact(&fr, &copy, over_implicit, sizeof(over_implicit)),
      RUDP_ERR_FRAME_ENCODING);
  free(copy);
  /* Without the data byte it ends exactly at 2^62 - 1: fine. */
  assert_int_equal(
      decode_exact(&fr, &copy, over_implicit, sizeof(over_implicit) - 1),
      sizeof(over_implicit) - 1);
  assert_int_equal(fr.stream.offset, MAXV);
  assert_int_equal(fr.stream.datalen, 0);
  free(copy);

  memset(&fr, 0, sizeof(fr));
  fr.stream.type = RUDP_FRAME_STREAM;
  fr.stream.offset = MAXV;
  fr.stream.data = data;
  fr.stream.datalen = 1;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_frame_encode_stream_hd(big, sizeof(big), &fr.stream),
                   RUDP_ERR_INVALID_ARGUMENT);
  fr.stream.offset = MAXV + 1;
  fr.stream.datalen = 0;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
  fr.stream.offset = 0;
  fr.stream.stream_id = MAXV + 1;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_frame_encode_stream_hd(big, sizeof(big), &fr.stream),
                   RUDP_ERR_INVALID_ARGUMENT);
}

static void test_rudp_frame_stream_hd(void **state) {
  static const uint64_t offs[] = {0, 1, 64, 1ULL << 30};
  static const size_t lens[] = {0, 5, 64, 16384};
  rudp_frame fr;
  rudp_ssize n, h;
  uint8_t *out;
  size_t i, j, k, hdlen, o;
  int implicit;
  (void)state;

  memset(&fr, 0, sizeof(fr));
  fr.stream.type = RUDP_FRAME_STREAM;
  for (i = 0; i < rudp_arraylen(bvals); ++i) {
    for (j = 0; j < rudp_arraylen(offs); ++j) {
      for (k = 0; k < rudp_arraylen(lens); ++k) {
        for (implicit = 0; implicit < 2; ++implicit) {
          fr.stream.stream_id = bvals[i];
          fr.stream.offset = offs[j];
          fr.stream.datalen = lens[k];
          fr.stream.implicit_len = (uint8_t)implicit;
          fr.stream.fin = (uint8_t)(k & 1);
          hdlen = rudp_frame_stream_hdlen(bvals[i], offs[j], lens[k], implicit);
          assert_int_equal(hdlen, 1 + tvl(bvals[i]) +
                                      (offs[j] ? tvl(offs[j]) : 0) +
                                      (implicit ? 0 : tvl(lens[k])));
          /* The header alone never reads data (NULL here). */
          fr.stream.data = NULL;
          out = malloc(hdlen);
          assert_non_null(out);
          h = rudp_frame_encode_stream_hd(out, hdlen, &fr.stream);
          assert_int_equal(h, hdlen);
          for (o = 0; o < hdlen; ++o) {
            assert_int_equal(rudp_frame_encode_stream_hd(out, o, &fr.stream),
                             RUDP_ERR_NOBUF);
          }
          /* Header + data is the whole frame. */
          fr.stream.data = data;
          n = rudp_frame_encode(big, sizeof(big), &fr);
          assert_int_equal(n, hdlen + lens[k]);
          assert_memory_equal(big, out, hdlen);
          if (lens[k]) {
            assert_memory_equal(big + hdlen, data, lens[k]);
          }
          free(out);
        }
      }
    }
  }
}

static void test_rudp_frame_connection_close(void **state) {
  static const size_t reasons[] = {0, 1, 63, 64, RUDP_FRAME_MAX_REASONLEN};
  rudp_frame fr;
  size_t i, j, k;
  (void)state;

  fr.connection_close.reason = data;
  for (i = 0; i < rudp_arraylen(bvals); ++i) {
    for (j = 0; j < rudp_arraylen(bvals); ++j) {
      for (k = 0; k < rudp_arraylen(reasons); ++k) {
        fr.connection_close.type = RUDP_FRAME_CONNECTION_CLOSE;
        fr.connection_close.error_code = bvals[i];
        fr.connection_close.frame_type = bvals[j];
        fr.connection_close.reasonlen = reasons[k];
        roundtrip(&fr, 1 + tvl(bvals[i]) + tvl(bvals[j]) + tvl(reasons[k]) +
                           reasons[k]);
        /* 0x1d has no frame type field; whatever is there is ignored. */
        fr.connection_close.type = RUDP_FRAME_CONNECTION_CLOSE_APP;
        roundtrip(&fr, 1 + tvl(bvals[i]) + tvl(reasons[k]) + reasons[k]);
      }
    }
  }
  fr.connection_close.frame_type = MAXV + 1;
  fr.connection_close.reasonlen = 0;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   1 + tvl(fr.connection_close.error_code) + 1);
}

static void test_rudp_frame_connection_close_reason_too_long(void **state) {
  uint8_t buf[1 + 1 + 1 + 2 + RUDP_FRAME_MAX_REASONLEN + 1], *copy;
  rudp_frame fr;
  (void)state;

  memset(buf, 'r', sizeof(buf));
  /* 0x1c, error 1, frame type 2, reason length 1025 (all present). */
  buf[0] = 0x1c;
  buf[1] = 0x01;
  buf[2] = 0x02;
  buf[3] = 0x44;
  buf[4] = 0x01;
  assert_int_equal(decode_exact(&fr, &copy, buf, sizeof(buf)),
                   RUDP_ERR_FRAME_ENCODING);
  free(copy);
  /* Length 1024 is the limit. */
  buf[4] = 0x00;
  assert_int_equal(decode_exact(&fr, &copy, buf, sizeof(buf) - 1),
                   sizeof(buf) - 1);
  assert_int_equal(fr.connection_close.reasonlen, 1024);
  free(copy);
  /* 0x1d, error 1, reason length 1025. */
  buf[1] = 0x1d;
  buf[2] = 0x01;
  buf[3] = 0x44;
  buf[4] = 0x01;
  assert_int_equal(decode_exact(&fr, &copy, buf + 1, sizeof(buf) - 2),
                   RUDP_ERR_FRAME_ENCODING);
  free(copy);

  fr.connection_close.type = RUDP_FRAME_CONNECTION_CLOSE;
  fr.connection_close.error_code = 1;
  fr.connection_close.frame_type = 0;
  fr.connection_close.reason = data;
  fr.connection_close.reasonlen = RUDP_FRAME_MAX_REASONLEN + 1;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
  fr.connection_close.type = RUDP_FRAME_CONNECTION_CLOSE_APP;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
}

static void test_rudp_frame_datagram(void **state) {
  rudp_frame fr, got;
  uint8_t *copy;
  size_t j, n;
  (void)state;

  fr.datagram.data = data;
  for (j = 0; j < rudp_arraylen(datalens); ++j) {
    fr.datagram.datalen = datalens[j];
    /* fr->type is ignored by the encoder: implicit_len picks. */
    fr.datagram.type = RUDP_FRAME_DATAGRAM;
    fr.datagram.implicit_len = 0;
    roundtrip(&fr, 1 + tvl(datalens[j]) + datalens[j]);
    assert_int_equal(big[0], RUDP_FRAME_DATAGRAM_LEN);
    fr.datagram.type = RUDP_FRAME_DATAGRAM_LEN;
    fr.datagram.implicit_len = 1;
    roundtrip(&fr, 1 + datalens[j]);
    assert_int_equal(big[0], RUDP_FRAME_DATAGRAM);
  }

  /* 0x31 stops at its length; 0x30 takes everything after it. */
  big[0] = RUDP_FRAME_DATAGRAM_LEN;
  big[1] = 2;
  big[2] = 'a';
  big[3] = 'b';
  big[4] = RUDP_FRAME_PING;
  assert_int_equal(decode_exact(&got, &copy, big, 5), 4);
  assert_int_equal(got.datagram.datalen, 2);
  assert_int_equal(got.datagram.implicit_len, 0);
  free(copy);
  big[0] = RUDP_FRAME_DATAGRAM;
  for (n = 1; n <= 5; ++n) {
    assert_int_equal(decode_exact(&got, &copy, big, n), n);
    assert_int_equal(got.type, RUDP_FRAME_DATAGRAM);
    assert_int_equal(got.datagram.implicit_len, 1);
    assert_int_equal(got.datagram.datalen, n - 1);
    assert_ptr_equal(got.datagram.data, copy + 1);
    free(copy);
  }
}

static void test_rudp_frame_huge_lengths(void **state) {
  /* Length fields of 2^62 - 1 with 3 bytes of input behind them. */
  static const uint8_t crypto[] = {0x06, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 'a',  'b',  'c'};
  static const uint8_t token[] = {0x07, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 'a',  'b',  'c'};
  static const uint8_t stream[] = {0x0a, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 'a',  'b',  'c'};
  static const uint8_t dgram[] = {0x31, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 'a',  'b',  'c'};
  static const uint8_t close[] = {0x1d, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 'a',  'b',  'c'};
  /* One byte more than there is. */
  static const uint8_t token1[] = {0x07, 0x04, 'a', 'b', 'c'};
  rudp_frame fr;
  uint8_t *copy;
  (void)state;

  assert_int_equal(decode_exact(&fr, &copy, crypto, sizeof(crypto)),
                   RUDP_ERR_TRUNCATED);
  free(copy);
  assert_int_equal(decode_exact(&fr, &copy, token, sizeof(token)),
                   RUDP_ERR_TRUNCATED);
  free(copy);
  assert_int_equal(decode_exact(&fr, &copy, stream, sizeof(stream)),
                   RUDP_ERR_TRUNCATED);
  free(copy);
  assert_int_equal(decode_exact(&fr, &copy, dgram, sizeof(dgram)),
                   RUDP_ERR_TRUNCATED);
  free(copy);
  /* Above the reason limit: that is checked first. */
  assert_int_equal(decode_exact(&fr, &copy, close, sizeof(close)),
                   RUDP_ERR_FRAME_ENCODING);
  free(copy);
  assert_int_equal(decode_exact(&fr, &copy, token1, sizeof(token1)),
                   RUDP_ERR_TRUNCATED);
  free(copy);
}

/* ------------------------------------------------- corpus-wide checks */

static rudp_range corpus_ranges[40];

/* build_corpus fills |c| with one or more valid frames of every type. */
static size_t build_corpus(rudp_frame *c, size_t cap) {
  size_t n = 0, i;
  int off, implicit, fin;

  memset(c, 0, cap * sizeof(*c));
  c[n].padding.type = RUDP_FRAME_PADDING;
  c[n++].padding.len = 1;
  c[n].padding.type = RUDP_FRAME_PADDING;
  c[n++].padding.len = 17;
  c[n++].type = RUDP_FRAME_PING;
  c[n++].type = RUDP_FRAME_HANDSHAKE_DONE;

  build_ranges_down(corpus_ranges, 40, MAXV);
  c[n].ack.type = RUDP_FRAME_ACK;
  c[n].ack.ack_delay = 16384;
  c[n].ack.ranges = corpus_ranges;
  c[n++].ack.nranges = 1;
  c[n] = c[n - 1];
  c[n++].ack.nranges = 40;

  c[n].reset_stream.type = RUDP_FRAME_RESET_STREAM;
  c[n].reset_stream.stream_id = 64;
  c[n].reset_stream.app_error_code = MAXV;
  c[n++].reset_stream.final_size = 1ULL << 30;
  c[n].stop_sending.type = RUDP_FRAME_STOP_SENDING;
  c[n].stop_sending.stream_id = 16384;
  c[n++].stop_sending.app_error_code = 3;
  c[n].crypto.type = RUDP_FRAME_CRYPTO;
  c[n].crypto.offset = 70000;
  c[n].crypto.data = data;
  c[n++].crypto.datalen = 100;
  c[n].new_token.type = RUDP_FRAME_NEW_TOKEN;
  c[n].new_token.token = data;
  c[n++].new_token.tokenlen = 64;
  for (off = 0; off < 2; ++off) {
    for (implicit = 0; implicit < 2; ++implicit) {
      for (fin = 0; fin < 2; ++fin) {
        c[n].stream.type = RUDP_FRAME_STREAM;
        c[n].stream.stream_id = 16383;
        c[n].stream.offset = off ? (1ULL << 30) : 0;
        c[n].stream.implicit_len = (uint8_t)implicit;
        c[n].stream.fin = (uint8_t)fin;
        c[n].stream.data = data;
        c[n++].stream.datalen = 70;
      }
    }
  }
  for (i = 0x10; i <= 0x17; ++i) {
    if (i == RUDP_FRAME_MAX_STREAM_DATA ||
        i == RUDP_FRAME_STREAM_DATA_BLOCKED) {
      c[n].stream_value.type = (uint8_t)i;
      c[n].stream_value.stream_id = 1ULL << 30;
      c[n++].stream_value.value = MAXV;
    } else {
      c[n].value.type = (uint8_t)i;
      c[n++].value.value = (1ULL << 30) - 1;
    }
  }
  c[n].connection_close.type = RUDP_FRAME_CONNECTION_CLOSE;
  c[n].connection_close.error_code = 7;
  c[n].connection_close.frame_type = 64;
  c[n].connection_close.reason = data;
  c[n++].connection_close.reasonlen = 65;
  c[n].connection_close.type = RUDP_FRAME_CONNECTION_CLOSE_APP;
  c[n].connection_close.error_code = MAXV;
  c[n].connection_close.reason = data;
  c[n++].connection_close.reasonlen = 0;
  c[n].datagram.type = RUDP_FRAME_DATAGRAM_LEN;
  c[n].datagram.data = data;
  c[n++].datagram.datalen = 64;
  c[n].datagram.type = RUDP_FRAME_DATAGRAM;
  c[n].datagram.implicit_len = 1;
  c[n].datagram.data = data;
  c[n++].datagram.datalen = 64;
  assert_true(n <= cap);
  return n;
}

static void test_rudp_frame_truncation(void **state) {
  rudp_frame corpus[64], got;
  uint8_t *copy;
  rudp_ssize n, rv;
  size_t nc, i, k, hd, datalen;
  int runs_to_end;
  (void)state;

  nc = build_corpus(corpus, rudp_arraylen(corpus));
  for (i = 0; i < nc; ++i) {
    n = rudp_frame_encode(big, sizeof(big), &corpus[i]);
    assert_true(n > 0);
    runs_to_end = 0;
    datalen = 0;
    if ((corpus[i].type & 0xf8) == RUDP_FRAME_STREAM &&
        corpus[i].stream.implicit_len) {
      runs_to_end = 1;
      datalen = corpus[i].stream.datalen;
    } else if ((corpus[i].type == RUDP_FRAME_DATAGRAM ||
                corpus[i].type == RUDP_FRAME_DATAGRAM_LEN) &&
               corpus[i].datagram.implicit_len) {
      runs_to_end = 1;
      datalen = corpus[i].datagram.datalen;
    }
    hd = (size_t)n - datalen;

    for (k = 0; k < (size_t)n; ++k) {
      memset(&got, 0, sizeof(got));
      rv = decode_exact(&got, &copy, big, k);
      if (k > 0 && corpus[i].type == RUDP_FRAME_PADDING) {
        /* A shorter run of zeros is a shorter PADDING frame. */
        assert_int_equal(rv, k);
        assert_int_equal(got.padding.len, k);
      } else if (runs_to_end && k >= hd) {
        /* Data that runs to the end just gets shorter. */
        assert_int_equal(rv, k);
        assert_int_equal(got.type, big[0]);
        if (got.type == RUDP_FRAME_DATAGRAM) {
          assert_int_equal(got.datagram.datalen, k - hd);
          assert_ptr_equal(got.datagram.data, copy + hd);
        } else {
          assert_int_equal(got.stream.datalen, k - hd);
          assert_ptr_equal(got.stream.data, copy + hd);
          assert_int_equal(got.stream.offset, corpus[i].stream.offset);
        }
      } else {
        assert_int_equal(rv, RUDP_ERR_TRUNCATED);
      }
      free(copy);
    }
  }
}

static void test_rudp_frame_nobuf(void **state) {
  rudp_frame corpus[64];
  uint8_t *out;
  rudp_ssize n, rv;
  size_t nc, i, k, minlen;
  (void)state;

  nc = build_corpus(corpus, rudp_arraylen(corpus));
  for (i = 0; i < nc; ++i) {
    n = rudp_frame_encode(big, sizeof(big), &corpus[i]);
    assert_true(n > 0);
    /* An ACK with several ranges shrinks instead (ack_partial_fit); below
     * its first range it fails like the others. */
    minlen = (size_t)n;
    if (corpus[i].type == RUDP_FRAME_ACK) {
      minlen = ack_len(corpus[i].ack.ranges, 1, corpus[i].ack.ack_delay);
    }
    for (k = 0; k < (size_t)n; ++k) {
      /* Exact-size buffers: ASan catches a write one byte too far. */
      out = malloc(k ? k : 1);
      assert_non_null(out);
      rv = rudp_frame_encode(out, k, &corpus[i]);
      if (k < minlen) {
        assert_int_equal(rv, RUDP_ERR_NOBUF);
      } else {
        assert_true(rv > 0 && (size_t)rv <= k);
      }
      free(out);
    }
  }
}

static void test_rudp_frame_unknown_types(void **state) {
  static const uint8_t two[] = {0x40, 0x40};
  static const uint8_t four[] = {0x80, 0x00, 0x40, 0x00};
  static const uint8_t eight[] = {0xc0, 0x00, 0x00, 0x00,
                                  0x40, 0x00, 0x00, 0x00};
  rudp_frame fr;
  uint8_t buf[4], *copy;
  unsigned t;
  size_t i;
  int known;
  (void)state;

  for (t = 0; t < 64; ++t) {
    known = 0;
    for (i = 0; i < rudp_arraylen(known_types); ++i) {
      known |= known_types[i] == t;
    }
    if (known) {
      continue;
    }
    /* 0x03 (ACK_ECN), 0x18-0x1b (connection IDs), 0x1f, 0x20-0x2f,
     * 0x32-0x3f: no such frame here. */
    buf[0] = (uint8_t)t;
    buf[1] = buf[2] = buf[3] = 0;
    assert_int_equal(decode_exact(&fr, &copy, buf, 4), RUDP_ERR_FRAME_ENCODING);
    free(copy);
    memset(&fr, 0, sizeof(fr));
    fr.type = (uint8_t)t;
    assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                     RUDP_ERR_INVALID_ARGUMENT);
  }
  /* Types 64 and up in their shortest forms are unknown too. */
  assert_int_equal(decode_exact(&fr, &copy, two, sizeof(two)),
                   RUDP_ERR_FRAME_ENCODING);
  free(copy);
  assert_int_equal(decode_exact(&fr, &copy, four, sizeof(four)),
                   RUDP_ERR_FRAME_ENCODING);
  free(copy);
  assert_int_equal(decode_exact(&fr, &copy, eight, sizeof(eight)),
                   RUDP_ERR_FRAME_ENCODING);
  free(copy);
  fr.type = 0xff;
  assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                   RUDP_ERR_INVALID_ARGUMENT);
}

static void test_rudp_frame_nonminimal_types(void **state) {
  static const struct {
    uint8_t bytes[10];
    size_t len;
    rudp_ssize rv;
  } cases[] = {
      /* PING, PADDING, HANDSHAKE_DONE, STREAM in 2, 4, 8 bytes. */
      {{0x40, 0x01}, 2, RUDP_ERR_FRAME_ENCODING},
      {{0x40, 0x00}, 2, RUDP_ERR_FRAME_ENCODING},
      {{0x40, 0x1e, 0x00}, 3, RUDP_ERR_FRAME_ENCODING},
      {{0x80, 0x00, 0x00, 0x08, 0x00, 0x00}, 6, RUDP_ERR_FRAME_ENCODING},
      {{0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01},
       8,
       RUDP_ERR_FRAME_ENCODING},
      /* A type varint cut short is truncation. */
      {{0x40}, 1, RUDP_ERR_TRUNCATED},
      {{0x80, 0x00, 0x00}, 3, RUDP_ERR_TRUNCATED},
      {{0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, 7, RUDP_ERR_TRUNCATED},
  };
  rudp_frame fr;
  uint8_t *copy;
  size_t i;
  (void)state;
  for (i = 0; i < rudp_arraylen(cases); ++i) {
    assert_int_equal(decode_exact(&fr, &copy, cases[i].bytes, cases[i].len),
                     cases[i].rv);
    free(copy);
  }
}

static void test_rudp_frame_encode_invalid_varints(void **state) {
  rudp_frame fr, base;
  size_t f;
  (void)state;

  /* Every integer field of every frame, one at a time, set to 2^62. */
  for (f = 0; f < 16; ++f) {
    memset(&fr, 0, sizeof(fr));
    switch (f) {
    case 0:
    case 1:
    case 2:
      fr.reset_stream.type = RUDP_FRAME_RESET_STREAM;
      base = fr;
      if (f == 0) {
        fr.reset_stream.stream_id = MAXV + 1;
      } else if (f == 1) {
        fr.reset_stream.app_error_code = MAXV + 1;
      } else {
        fr.reset_stream.final_size = MAXV + 1;
      }
      break;
    case 3:
    case 4:
      fr.stop_sending.type = RUDP_FRAME_STOP_SENDING;
      base = fr;
      if (f == 3) {
        fr.stop_sending.stream_id = MAXV + 1;
      } else {
        fr.stop_sending.app_error_code = MAXV + 1;
      }
      break;
    case 5:
      fr.value.type = RUDP_FRAME_MAX_DATA;
      base = fr;
      fr.value.value = MAXV + 1;
      break;
    case 6:
      fr.value.type = RUDP_FRAME_DATA_BLOCKED;
      base = fr;
      fr.value.value = MAXV + 1;
      break;
    case 7:
    case 8:
      fr.stream_value.type = RUDP_FRAME_MAX_STREAM_DATA;
      base = fr;
      if (f == 7) {
        fr.stream_value.stream_id = MAXV + 1;
      } else {
        fr.stream_value.value = MAXV + 1;
      }
      break;
    case 9:
    case 10:
      fr.stream_value.type = RUDP_FRAME_STREAM_DATA_BLOCKED;
      base = fr;
      if (f == 9) {
        fr.stream_value.stream_id = MAXV + 1;
      } else {
        fr.stream_value.value = MAXV + 1;
      }
      break;
    case 11:
    case 12:
      fr.connection_close.type = RUDP_FRAME_CONNECTION_CLOSE;
      base = fr;
      if (f == 11) {
        fr.connection_close.error_code = MAXV + 1;
      } else {
        fr.connection_close.frame_type = MAXV + 1;
      }
      break;
    case 13:
      fr.connection_close.type = RUDP_FRAME_CONNECTION_CLOSE_APP;
      base = fr;
      fr.connection_close.error_code = MAXV + 1;
      break;
    case 14:
      fr.crypto.type = RUDP_FRAME_CRYPTO;
      base = fr;
      fr.crypto.offset = UINT64_MAX;
      break;
    default:
      fr.stream.type = RUDP_FRAME_STREAM;
      base = fr;
      fr.stream.stream_id = UINT64_MAX;
      break;
    }
    /* The same frame with the field in range encodes. */
    assert_true(rudp_frame_encode(big, sizeof(big), &base) > 0);
    assert_int_equal(rudp_frame_encode(big, sizeof(big), &fr),
                     RUDP_ERR_INVALID_ARGUMENT);
    /* Argument errors come before lack of room. */
    assert_int_equal(rudp_frame_encode(big, 0, &fr), RUDP_ERR_INVALID_ARGUMENT);
  }
}

static void test_rudp_frame_sequence(void **state) {
  rudp_frame fr[12], got;
  rudp_range rs[3] = {{100, 120}, {50, 60}, {0, 10}};
  uint8_t *buf, *p, *end;
  rudp_ssize n;
  size_t i, nf = 0, len = 0;
  (void)state;

  memset(fr, 0, sizeof(fr));
  fr[nf].padding.type = RUDP_FRAME_PADDING;
  fr[nf++].padding.len = 3;
  fr[nf++].type = RUDP_FRAME_PING;
  fr[nf].ack.type = RUDP_FRAME_ACK;
  fr[nf].ack.ack_delay = 1000;
  fr[nf].ack.ranges = rs;
  fr[nf++].ack.nranges = 3;
  fr[nf].stream.type = RUDP_FRAME_STREAM;
  fr[nf].stream.stream_id = 4;
  fr[nf].stream.offset = 100;
  fr[nf].stream.data = data;
  fr[nf++].stream.datalen = 50;
  fr[nf].crypto.type = RUDP_FRAME_CRYPTO;
  fr[nf].crypto.data = data + 5;
  fr[nf++].crypto.datalen = 20;
  fr[nf].value.type = RUDP_FRAME_MAX_DATA;
  fr[nf++].value.value = 1 << 20;
  fr[nf].padding.type = RUDP_FRAME_PADDING;
  fr[nf++].padding.len = 1;
  fr[nf].connection_close.type = RUDP_FRAME_CONNECTION_CLOSE_APP;
  fr[nf].connection_close.error_code = 0;
  fr[nf].connection_close.reason = (const uint8_t *)"bye";
  fr[nf++].connection_close.reasonlen = 3;
  fr[nf].datagram.implicit_len = 0;
  fr[nf].datagram.type = RUDP_FRAME_DATAGRAM_LEN;
  fr[nf].datagram.data = data;
  fr[nf++].datagram.datalen = 9;
  fr[nf].stream.type = RUDP_FRAME_STREAM;
  fr[nf].stream.stream_id = 8;
  fr[nf].stream.fin = 1;
  fr[nf].stream.implicit_len = 1;
  fr[nf].stream.data = data + 100;
  fr[nf++].stream.datalen = 33;

  for (i = 0; i < nf; ++i) {
    n = rudp_frame_encode(big + len, sizeof(big) - len, &fr[i]);
    assert_true(n > 0);
    len += (size_t)n;
  }
  buf = dup_exact(big, len);
  p = buf;
  end = buf + len;
  for (i = 0; i < nf; ++i) {
    n = rudp_frame_decode(&got, p, (size_t)(end - p));
    assert_true(n > 0);
    assert_frame_matches(&fr[i], &got);
    p += n;
  }
  assert_ptr_equal(p, end);
  free(buf);
}

/* --------------------------------------------------------- randomized */

/* rand_varint returns a value of a random varint length. */
static uint64_t rand_varint(rudp_test_rng *rng) {
  static const uint64_t max[] = {63, 16383, (1ULL << 30) - 1, MAXV};
  return rudp_test_rng_below(rng, max[rudp_test_rng_below(rng, 4)] + 1);
}

/*
 * reencode re-encodes decoded |fr| (converting a decoded ACK back to
 * ranges), decodes the result and checks it carries the same values.
 */
static void reencode(const rudp_frame *fr, rudp_ssize consumed) {
  static rudp_range rs[64];
  rudp_frame e = *fr, got;
  uint8_t out[256], *copy;
  rudp_ssize n;

  if (fr->type == RUDP_FRAME_ACK) {
    e.ack.nranges = ack_ranges(&fr->ack, rs, rudp_arraylen(rs));
    e.ack.ranges = rs;
  }
  n = rudp_frame_encode(out, sizeof(out), &e);
  assert_true(n > 0);
  /* We write the shortest forms, so never longer than what we read. */
  assert_true(n <= consumed);
  assert_int_equal(decode_exact(&got, &copy, out, (size_t)n), n);
  assert_frame_matches(fr, &got);
  free(copy);
}

static void test_rudp_frame_random_garbage(void **state) {
  rudp_test_rng rng;
  rudp_frame fr;
  uint8_t *buf;
  rudp_ssize rv;
  size_t iter, len, i, ok = 0;
  uint64_t r;
  (void)state;

  rudp_test_rng_init(&rng, 0xf4a3e);
  for (iter = 0; iter < 200000; ++iter) {
    len = (size_t)rudp_test_rng_below(&rng, 48);
    buf = malloc(len ? len : 1);
    assert_non_null(buf);
    for (i = 0; i < len; ++i) {
      r = rudp_test_rng_next(&rng);
      /* Mostly small varints, so that lengths and counts often fit. */
      buf[i] = (uint8_t)((r >> 8) % 4 ? r & 0x3f : r);
    }
    if (len && rudp_test_rng_below(&rng, 4)) {
      buf[0] =
          known_types[rudp_test_rng_below(&rng, rudp_arraylen(known_types))];
    }
    rv = rudp_frame_decode(&fr, buf, len);
    if (rv < 0) {
      assert_true(rv == RUDP_ERR_TRUNCATED || rv == RUDP_ERR_FRAME_ENCODING);
    } else {
      assert_true(rv >= 1 && (size_t)rv <= len);
      reencode(&fr, rv);
      ++ok;
    }
    free(buf);
  }
  /* The bias works: a good share of inputs decode. */
  assert_true(ok > 20000);
}

static void test_rudp_frame_random_roundtrip(void **state) {
  rudp_test_rng rng;
  rudp_frame fr;
  static rudp_range rs[20];
  size_t iter, i, n;
  uint64_t hi;
  uint8_t t;
  (void)state;

  rudp_test_rng_init(&rng, 0x5eed);
  for (iter = 0; iter < 20000; ++iter) {
    memset(&fr, 0, sizeof(fr));
    t = known_types[rudp_test_rng_below(&rng, rudp_arraylen(known_types))];
    fr.type = t;
    switch (t) {
    case RUDP_FRAME_PADDING:
      fr.padding.len = 1 + (size_t)rudp_test_rng_below(&rng, 100);
      break;
    case RUDP_FRAME_ACK:
      n = 1 + (size_t)rudp_test_rng_below(&rng, rudp_arraylen(rs));
      hi = rand_varint(&rng);
      for (i = 0; i < n; ++i) {
        rs[i].hi = hi;
        rs[i].lo = hi - rudp_test_rng_below(&rng, hi / 4 + 1);
        if (rs[i].lo < 2) {
          break;
        }
        hi = rs[i].lo - 2 - rudp_test_rng_below(&rng, (rs[i].lo - 2) / 4 + 1);
      }
      fr.ack.ack_delay = rand_varint(&rng);
      fr.ack.ranges = rs;
      fr.ack.nranges = i < n ? i + 1 : n;
      break;
    case RUDP_FRAME_RESET_STREAM:
      fr.reset_stream.stream_id = rand_varint(&rng);
      fr.reset_stream.app_error_code = rand_varint(&rng);
      fr.reset_stream.final_size = rand_varint(&rng);
      break;
    case RUDP_FRAME_STOP_SENDING:
      fr.stop_sending.stream_id = rand_varint(&rng);
      fr.stop_sending.app_error_code = rand_varint(&rng);
      break;
    case RUDP_FRAME_CRYPTO:
      fr.crypto.datalen = (size_t)rudp_test_rng_below(&rng, 200);
      fr.crypto.offset = rand_varint(&rng) >> 1;
      fr.crypto.data = data + rudp_test_rng_below(&rng, 100);
      break;
    case RUDP_FRAME_NEW_TOKEN:
      fr.new_token.tokenlen = 1 + (size_t)rudp_test_rng_below(&rng, 200);
      fr.new_token.token = data;
      break;
    case RUDP_FRAME_MAX_STREAMS_BIDI:
    case RUDP_FRAME_MAX_STREAMS_UNI:
    case RUDP_FRAME_STREAMS_BLOCKED_BIDI:
    case RUDP_FRAME_STREAMS_BLOCKED_UNI:
      fr.value.value = rand_varint(&rng) >> 2;
      break;
    case RUDP_FRAME_MAX_DATA:
    case RUDP_FRAME_DATA_BLOCKED:
      fr.value.value = rand_varint(&rng);
      break;
    case RUDP_FRAME_MAX_STREAM_DATA:
    case RUDP_FRAME_STREAM_DATA_BLOCKED:
      fr.stream_value.stream_id = rand_varint(&rng);
      fr.stream_value.value = rand_varint(&rng);
      break;
    case RUDP_FRAME_CONNECTION_CLOSE:
    case RUDP_FRAME_CONNECTION_CLOSE_APP:
      fr.connection_close.error_code = rand_varint(&rng);
      fr.connection_close.frame_type = rand_varint(&rng);
      fr.connection_close.reason = data;
      fr.connection_close.reasonlen =
          (size_t)rudp_test_rng_below(&rng, RUDP_FRAME_MAX_REASONLEN + 1);
      break;
    case RUDP_FRAME_DATAGRAM:
    case RUDP_FRAME_DATAGRAM_LEN:
      fr.datagram.implicit_len = (uint8_t)rudp_test_rng_below(&rng, 2);
      fr.datagram.data = data;
      fr.datagram.datalen = (size_t)rudp_test_rng_below(&rng, 300);
      break;
    case RUDP_FRAME_PING:
    case RUDP_FRAME_HANDSHAKE_DONE:
      break;
    default: /* STREAM */
      fr.stream.stream_id = rand_varint(&rng);
      fr.stream.offset =
          rudp_test_rng_below(&rng, 3) ? rand_varint(&rng) >> 1 : 0;
      fr.stream.fin = (uint8_t)rudp_test_rng_below(&rng, 2);
      fr.stream.implicit_len = (uint8_t)rudp_test_rng_below(&rng, 2);
      fr.stream.data = data;
      fr.stream.datalen = (size_t)rudp_test_rng_below(&rng, 300);
      break;
    }
    roundtrip(&fr, 0);
  }
}

/* ----------------------------------------------------------- properties */

static void test_rudp_frame_is_ack_eliciting(void **state) {
  size_t i;
  int want;
  (void)state;
  for (i = 0; i < rudp_arraylen(known_types); ++i) {
    want = !(known_types[i] == RUDP_FRAME_PADDING ||
             known_types[i] == RUDP_FRAME_ACK ||
             known_types[i] == RUDP_FRAME_CONNECTION_CLOSE ||
             known_types[i] == RUDP_FRAME_CONNECTION_CLOSE_APP);
    assert_int_equal(!!rudp_frame_is_ack_eliciting(known_types[i]), want);
  }
  assert_false(rudp_frame_is_ack_eliciting(0x00));
  assert_false(rudp_frame_is_ack_eliciting(0x02));
  assert_false(rudp_frame_is_ack_eliciting(0x1c));
  assert_false(rudp_frame_is_ack_eliciting(0x1d));
  assert_true(rudp_frame_is_ack_eliciting(0x01));
  assert_true(rudp_frame_is_ack_eliciting(0x08));
  assert_true(rudp_frame_is_ack_eliciting(0x1e));
  assert_true(rudp_frame_is_ack_eliciting(0x31));
}

static void test_rudp_frame_type_name(void **state) {
  static const struct {
    uint64_t type;
    const char *name;
  } names[] = {
      {0x00, "padding"},
      {0x01, "ping"},
      {0x02, "ack"},
      {0x03, "unknown"},
      {0x04, "reset_stream"},
      {0x05, "stop_sending"},
      {0x06, "crypto"},
      {0x07, "new_token"},
      {0x08, "stream"},
      {0x0b, "stream"},
      {0x0f, "stream"},
      {0x10, "max_data"},
      {0x11, "max_stream_data"},
      {0x12, "max_streams"},
      {0x13, "max_streams"},
      {0x14, "data_blocked"},
      {0x15, "stream_data_blocked"},
      {0x16, "streams_blocked"},
      {0x17, "streams_blocked"},
      {0x18, "unknown"},
      {0x1c, "connection_close"},
      {0x1d, "connection_close"},
      {0x1e, "handshake_done"},
      {0x1f, "unknown"},
      {0x30, "datagram"},
      {0x31, "datagram"},
      {0x32, "unknown"},
      {0x108, "unknown"},
      {UINT64_MAX, "unknown"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < rudp_arraylen(names); ++i) {
    assert_string_equal(rudp_frame_type_name(names[i].type), names[i].name);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_frame_decode_empty),
      cmocka_unit_test(test_rudp_frame_padding_runs),
      cmocka_unit_test(test_rudp_frame_padding_invalid),
      cmocka_unit_test(test_rudp_frame_ping_handshake_done),
      cmocka_unit_test(test_rudp_frame_known_answers),
      cmocka_unit_test(test_rudp_frame_ack_one_range),
      cmocka_unit_test(test_rudp_frame_ack_many_ranges),
      cmocka_unit_test(test_rudp_frame_ack_partial_fit),
      cmocka_unit_test(test_rudp_frame_ack_encode_invalid),
      cmocka_unit_test(test_rudp_frame_ack_decode_invalid),
      cmocka_unit_test(test_rudp_frame_ack_huge_range_count),
      cmocka_unit_test(test_rudp_frame_reset_stream),
      cmocka_unit_test(test_rudp_frame_stop_sending),
      cmocka_unit_test(test_rudp_frame_max_data_data_blocked),
      cmocka_unit_test(test_rudp_frame_max_streams_streams_blocked),
      cmocka_unit_test(test_rudp_frame_stream_value),
      cmocka_unit_test(test_rudp_frame_crypto),
      cmocka_unit_test(test_rudp_frame_crypto_offset_overflow),
      cmocka_unit_test(test_rudp_frame_new_token),
      cmocka_unit_test(test_rudp_frame_stream_flags),
      cmocka_unit_test(test_rudp_frame_stream_boundaries),
      cmocka_unit_test(test_rudp_frame_stream_offset_overflow),
      cmocka_unit_test(test_rudp_frame_stream_hd),
      cmocka_unit_test(test_rudp_frame_connection_close),
      cmocka_unit_test(test_rudp_frame_connection_close_reason_too_long),
      cmocka_unit_test(test_rudp_frame_datagram),
      cmocka_unit_test(test_rudp_frame_huge_lengths),
      cmocka_unit_test(test_rudp_frame_truncation),
      cmocka_unit_test(test_rudp_frame_nobuf),
      cmocka_unit_test(test_rudp_frame_unknown_types),
      cmocka_unit_test(test_rudp_frame_nonminimal_types),
      cmocka_unit_test(test_rudp_frame_encode_invalid_varints),
      cmocka_unit_test(test_rudp_frame_sequence),
      cmocka_unit_test(test_rudp_frame_random_garbage),
      cmocka_unit_test(test_rudp_frame_random_roundtrip),
      cmocka_unit_test(test_rudp_frame_is_ack_eliciting),
      cmocka_unit_test(test_rudp_frame_type_name),
  };
  return cmocka_run_group_tests_name("frame", tests, setup_data, NULL);
}
