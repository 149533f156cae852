/*
 * Tests of lib/rudp_conv.h: fixed-width big-endian helpers and varints.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "rudp_conv.h"
#include "rudp_test_helper.h"

/* RFC 9000 appendix A.1 examples. */
static void test_rudp_conv_varint_rfc9000_examples(void **state) {
  static const struct {
    uint8_t bytes[8];
    size_t len;
    uint64_t value;
  } ex[] = {
      {{0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c}, 8,
       151288809941952652ULL},
      {{0x9d, 0x7f, 0x3e, 0x7d}, 4, 494878333ULL},
      {{0x7b, 0xbd}, 2, 15293},
      {{0x25}, 1, 37},
      {{0x40, 0x25}, 2, 37},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(ex) / sizeof(ex[0]); ++i) {
    uint64_t v = 0;
    const uint8_t *end = ex[i].bytes + ex[i].len;
    const uint8_t *p = ex[i].bytes;
    assert_int_equal(rudp_varint_len_from_first(ex[i].bytes[0]), ex[i].len);
    assert_int_equal(rudp_get_varint_checked(&v, &p, end), 0);
    assert_ptr_equal(p, end);
    assert_true(v == ex[i].value);
  }
}

static void test_rudp_conv_varint_shortest_encoding(void **state) {
  static const uint8_t want8[] = {0xc2, 0x19, 0x7c, 0x5e,
                                  0xff, 0x14, 0xe8, 0x8c};
  static const uint8_t want4[] = {0x9d, 0x7f, 0x3e, 0x7d};
  static const uint8_t want2[] = {0x7b, 0xbd};
  uint8_t buf[8];
  (void)state;
  assert_ptr_equal(rudp_put_varint(buf, 151288809941952652ULL), buf + 8);
  assert_memory_equal(buf, want8, 8);
  assert_ptr_equal(rudp_put_varint(buf, 494878333ULL), buf + 4);
  assert_memory_equal(buf, want4, 4);
  assert_ptr_equal(rudp_put_varint(buf, 15293), buf + 2);
  assert_memory_equal(buf, want2, 2);
  assert_ptr_equal(rudp_put_varint(buf, 37), buf + 1);
  assert_int_equal(buf[0], 0x25);
}

static void test_rudp_conv_varint_len_boundaries(void **state) {
  (void)state;
  assert_int_equal(rudp_varint_len(0), 1);
  assert_int_equal(rudp_varint_len(63), 1);
  assert_int_equal(rudp_varint_len(64), 2);
  assert_int_equal(rudp_varint_len(16383), 2);
  assert_int_equal(rudp_varint_len(16384), 4);
  assert_int_equal(rudp_varint_len(1073741823), 4);
  assert_int_equal(rudp_varint_len(1073741824), 8);
  assert_int_equal(rudp_varint_len(RUDP_MAX_VARINT), 8);
}

static void test_rudp_conv_varint_roundtrip_boundaries(void **state) {
  static const uint64_t values[] = {0,          1,          63,
                                    64,         16383,      16384,
                                    1073741823, 1073741824, RUDP_MAX_VARINT};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(values) / sizeof(values[0]); ++i) {
    uint8_t buf[8];
    uint64_t v = 0;
    const uint8_t *p = buf;
    uint8_t *end = rudp_put_varint(buf, values[i]);
    assert_int_equal((size_t)(end - buf), rudp_varint_len(values[i]));
    assert_int_equal(rudp_get_varint_checked(&v, &p, end), 0);
    assert_true(v == values[i]);
    assert_ptr_equal(p, end);
  }
}

static void test_rudp_conv_varint_fixed_width(void **state) {
  static const size_t widths[] = {1, 2, 4, 8};
  size_t i;
  (void)state;
  for (i = 0; i < 4; ++i) {
    uint8_t buf[8];
    uint64_t v = 0;
    const uint8_t *p = buf;
    uint8_t *end = rudp_put_varint_n(buf, 37, widths[i]);
    assert_int_equal((size_t)(end - buf), widths[i]);
    assert_int_equal(rudp_varint_len_from_first(buf[0]), widths[i]);
    assert_int_equal(rudp_get_varint_checked(&v, &p, end), 0);
    assert_int_equal(v, 37);
  }
}

static void test_rudp_conv_varint_truncated(void **state) {
  static const uint64_t values[] = {63, 64, 16384, 1073741824};
  size_t i, cut;
  (void)state;
  for (i = 0; i < sizeof(values) / sizeof(values[0]); ++i) {
    uint8_t buf[8];
    size_t n = (size_t)(rudp_put_varint(buf, values[i]) - buf);
    for (cut = 0; cut < n; ++cut) {
      uint64_t v = 0xdead;
      const uint8_t *p = buf;
      assert_int_equal(rudp_get_varint_checked(&v, &p, buf + cut),
                       RUDP_ERR_TRUNCATED);
      assert_ptr_equal(p, buf); /* cursor untouched on error */
      assert_int_equal(v, 0xdead);
    }
  }
}

static void test_rudp_conv_varint_random_roundtrip(void **state) {
  rudp_test_rng rng;
  int i;
  (void)state;
  rudp_test_rng_init(&rng, 42);
  for (i = 0; i < 100000; ++i) {
    uint8_t buf[8];
    uint64_t v = rudp_test_rng_next(&rng) >> (rudp_test_rng_below(&rng, 62) + 2);
    uint64_t got = 0;
    const uint8_t *p = buf;
    uint8_t *end = rudp_put_varint(buf, v);
    assert_int_equal(rudp_get_varint_checked(&got, &p, end), 0);
    assert_true(got == v);
  }
}

static void test_rudp_conv_fixed_width_roundtrip(void **state) {
  uint8_t buf[16];
  uint16_t v16;
  uint32_t v32;
  uint64_t v64;
  uint8_t v8;
  const uint8_t *p;
  uint8_t *w = buf;
  static const uint8_t want[] = {0xab, 0x12, 0x34, 0x56, 0x78, 0x9a,
                                 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02,
                                 0x03, 0x04, 0x05, 0x06};
  (void)state;
  w = rudp_put_uint8(w, 0xab);
  w = rudp_put_uint16be(w, 0x1234);
  w = rudp_put_uint24be(w, 0x56789a);
  w = rudp_put_uint32be(w, 0xdeadbeef);
  w = rudp_put_bytes(w, want + 10, 6);
  assert_ptr_equal(w, buf + 16);
  assert_memory_equal(buf, want, 16);
  p = rudp_get_uint8(&v8, buf);
  p = rudp_get_uint16be(&v16, p);
  p = rudp_get_uint24be(&v32, p);
  assert_int_equal(v8, 0xab);
  assert_int_equal(v16, 0x1234);
  assert_int_equal(v32, 0x56789a);
  p = rudp_get_uint32be(&v32, p);
  assert_int_equal(v32, 0xdeadbeef);
  assert_ptr_equal(p, buf + 10);
  rudp_put_uint64be(buf, 0x0102030405060708ULL);
  rudp_get_uint64be(&v64, buf);
  assert_true(v64 == 0x0102030405060708ULL);
  assert_int_equal(buf[0], 0x01);
  assert_int_equal(buf[7], 0x08);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_conv_varint_rfc9000_examples),
      cmocka_unit_test(test_rudp_conv_varint_shortest_encoding),
      cmocka_unit_test(test_rudp_conv_varint_len_boundaries),
      cmocka_unit_test(test_rudp_conv_varint_roundtrip_boundaries),
      cmocka_unit_test(test_rudp_conv_varint_fixed_width),
      cmocka_unit_test(test_rudp_conv_varint_truncated),
      cmocka_unit_test(test_rudp_conv_varint_random_roundtrip),
      cmocka_unit_test(test_rudp_conv_fixed_width_roundtrip),
  };
  return cmocka_run_group_tests_name("conv", tests, NULL, NULL);
}
