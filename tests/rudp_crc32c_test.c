/*
 * Tests of lib/rudp_crc32c.c: published check values (the CRC catalogue
 * check and RFC 3720 appendix B.4), the chaining contract, agreement of the
 * table and instruction paths with each other and with a bit-at-a-time
 * reference, and error detection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rudp_crc32c.h"
#include "rudp_test_helper.h"

typedef uint32_t (*crc_fn)(uint32_t crc, const void *data, size_t len);

/* crc_path names one implementation for messages. */
typedef struct crc_path {
  const char *name;
  crc_fn fn;
} crc_path;

/*
 * get_paths stores the implementations this CPU can run in |paths| (room
 * for 3) and returns how many: the table, the dispatcher, and the
 * instruction when present.  It says so once when the instruction is
 * absent, since the hardware comparisons are then skipped.
 */
static size_t get_paths(crc_path *paths) {
  static int told;
  size_t n = 0;

  paths[n].name = "sw";
  paths[n++].fn = rudp_crc32c_sw;
  paths[n].name = "dispatch";
  paths[n++].fn = rudp_crc32c;
  if (rudp_crc32c_hw_available()) {
    paths[n].name = "hw";
    paths[n++].fn = rudp_crc32c_hw;
  } else if (!told) {
    told = 1;
    print_message("no CRC32C instruction on this CPU: hw path not tested\n");
  }
  return n;
}

/*
 * crc32c_ref is the bit-at-a-time definition (reflected polynomial
 * 0x82F63B78, init and final xor ~0), independent of the library's tables.
 */
static uint32_t crc32c_ref(uint32_t crc, const uint8_t *p, size_t len) {
  size_t i;
  int k;

  crc = ~crc;
  for (i = 0; i < len; ++i) {
    crc ^= p[i];
    for (k = 0; k < 8; ++k) {
      crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
  }
  return ~crc;
}

static void test_rudp_crc32c_check_value(void **state) {
  static const char check[] = "123456789";
  crc_path paths[3];
  size_t i, n = get_paths(paths);

  (void)state;

  for (i = 0; i < n; ++i) {
    print_message("path %s\n", paths[i].name);
    assert_int_equal(0xE3069283u, paths[i].fn(0, check, 9));
  }
  assert_int_equal(0xE3069283u, crc32c_ref(0, (const uint8_t *)check, 9));
}

static void test_rudp_crc32c_rfc3720_vectors(void **state) {
  /* RFC 3720 appendix B.4: an iSCSI SCSI Read (10) command PDU. */
  static const uint8_t read_pdu[48] = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  uint8_t zeros[32], ones[32], inc[32], dec[32];
  crc_path paths[3];
  size_t i, n = get_paths(paths);

  (void)state;

  memset(zeros, 0, sizeof(zeros));
  memset(ones, 0xff, sizeof(ones));
  for (i = 0; i < 32; ++i) {
    inc[i] = (uint8_t)i;
    dec[i] = (uint8_t)(31 - i);
  }

  for (i = 0; i < n; ++i) {
    print_message("path %s\n", paths[i].name);
    assert_int_equal(0x8A9136AAu, paths[i].fn(0, zeros, sizeof(zeros)));
    assert_int_equal(0x62A8AB43u, paths[i].fn(0, ones, sizeof(ones)));
    assert_int_equal(0x46DD794Eu, paths[i].fn(0, inc, sizeof(inc)));
    assert_int_equal(0x113FDB5Cu, paths[i].fn(0, dec, sizeof(dec)));
    assert_int_equal(0xD9963A56u, paths[i].fn(0, read_pdu, sizeof(read_pdu)));
  }
}

static void test_rudp_crc32c_empty_input(void **state) {
  static const uint32_t seeds[] = {0, 1, 0xE3069283u, 0x80000000u, 0xFFFFFFFFu};
  static const uint8_t byte = 0x5a;
  crc_path paths[3];
  size_t i, j, n = get_paths(paths);

  (void)state;

  for (i = 0; i < n; ++i) {
    for (j = 0; j < sizeof(seeds) / sizeof(seeds[0]); ++j) {
      assert_int_equal(seeds[j], paths[i].fn(seeds[j], NULL, 0));
      /* A valid pointer with length 0 must not be read either. */
      assert_int_equal(seeds[j], paths[i].fn(seeds[j], &byte, 0));
    }
  }
}

static void test_rudp_crc32c_chaining(void **state) {
  uint8_t buf[2048];
  crc_path paths[3];
  size_t i, n = get_paths(paths), round, len, a, b;
  uint32_t whole, part;
  rudp_test_rng rng;

  (void)state;

  rudp_test_rng_init(&rng, 0xc3c32c01);
  rudp_test_rng_fill(&rng, buf, sizeof(buf));

  for (round = 0; round < 300; ++round) {
    len = (size_t)rudp_test_rng_below(&rng, sizeof(buf) + 1);
    a = (size_t)rudp_test_rng_below(&rng, len + 1);
    b = a + (size_t)rudp_test_rng_below(&rng, len - a + 1);
    whole = crc32c_ref(0, buf, len);

    for (i = 0; i < n; ++i) {
      assert_int_equal(whole, paths[i].fn(0, buf, len));
      /* Two pieces, then three (either may be empty). */
      part = paths[i].fn(0, buf, a);
      assert_int_equal(whole, paths[i].fn(part, buf + a, len - a));
      part = paths[i].fn(paths[i].fn(0, buf, a), buf + a, b - a);
      assert_int_equal(whole, paths[i].fn(part, buf + b, len - b));
      /* The paths are interchangeable mid-stream. */
      part = paths[i].fn(0, buf, a);
      assert_int_equal(whole, paths[(i + 1) % n].fn(part, buf + a, len - a));
    }
  }

  /* Byte by byte. */
  for (i = 0; i < n; ++i) {
    part = 0;
    for (a = 0; a < 100; ++a) {
      part = paths[i].fn(part, buf + a, 1);
    }
    assert_int_equal(crc32c_ref(0, buf, 100), part);
  }
}

/*
 * The table literal is checked against the bit-at-a-time definition: every
 * single byte exercises row 0, and lengths up to 40 at every start
 * alignment exercise all eight rows, the head loop and the tail loop.
 */
static void test_rudp_crc32c_sw_matches_reference(void **state) {
  uint8_t buf[64];
  size_t off, len, v;
  uint32_t seed;
  rudp_test_rng rng;

  (void)state;

  for (v = 0; v < 256; ++v) {
    buf[0] = (uint8_t)v;
    assert_int_equal(crc32c_ref(0, buf, 1), rudp_crc32c_sw(0, buf, 1));
    assert_int_equal(crc32c_ref(0xFFFFFFFFu, buf, 1),
                     rudp_crc32c_sw(0xFFFFFFFFu, buf, 1));
  }

  rudp_test_rng_init(&rng, 0xc3c32c02);
  for (v = 0; v < 20; ++v) {
    rudp_test_rng_fill(&rng, buf, sizeof(buf));
    for (off = 0; off < 8; ++off) {
      for (len = 0; len <= 40; ++len) {
        seed = (uint32_t)rudp_test_rng_next(&rng);
        assert_int_equal(crc32c_ref(seed, buf + off, len),
                         rudp_crc32c_sw(seed, buf + off, len));
      }
    }
  }
}

/*
 * Every length 0..4100 at every start offset mod 8, each in a heap block
 * that ends exactly at the last byte so AddressSanitizer reports any read
 * past |len|.  On x86-64 with PCLMULQDQ the instruction path splits a
 * buffer into three streams of n = len / 24 words (n <= 128, so blocks of
 * up to 3072 bytes) and joins them with one constant per n; these lengths
 * use every n, every remainder after one full block, and the switch from
 * the one-stream loop at 64 bytes.
 */
static void test_rudp_crc32c_hw_matches_sw(void **state) {
  enum { MAXLEN = 4100, MAXOFF = 8 };
  uint8_t src[MAXLEN + MAXOFF];
  uint8_t *blk;
  size_t off, len;
  uint32_t seed, want;
  int hw = rudp_crc32c_hw_available();
  rudp_test_rng rng;

  (void)state;

  if (!hw) {
    print_message("no CRC32C instruction on this CPU: comparing only the "
                  "dispatcher with the table\n");
  }

  rudp_test_rng_init(&rng, 0xc3c32c03);
  rudp_test_rng_fill(&rng, src, sizeof(src));

  for (len = 0; len <= MAXLEN; ++len) {
    for (off = 0; off < MAXOFF; ++off) {
      blk = malloc(off + len + 1);
      assert_non_null(blk);
      /*
       * One spare byte in front keeps the size nonzero when off + len is
       * 0; the data still ends at the block's last byte.
       */
      memcpy(blk + 1 + off, src + off, len);
      seed = (uint32_t)rudp_test_rng_next(&rng);

      want = rudp_crc32c_sw(seed, blk + 1 + off, len);
      assert_int_equal(want, rudp_crc32c(seed, blk + 1 + off, len));
      if (hw) {
        assert_int_equal(want, rudp_crc32c_hw(seed, blk + 1 + off, len));
      }
      free(blk);
    }
  }

  /* Spot checks of the table path against the definition at full size. */
  for (off = 0; off < MAXOFF; ++off) {
    assert_int_equal(crc32c_ref(0, src + off, MAXLEN),
                     rudp_crc32c_sw(0, src + off, MAXLEN));
  }
}

/*
 * Buffers of several three-way blocks: lengths around 1..4 full 3072-byte
 * blocks and 64 KiB, at every offset mod 8 and from random registers, each
 * ending at the end of its heap block; chaining at random split points;
 * and one 64 KiB buffer against the bit-at-a-time definition.
 */
static void test_rudp_crc32c_hw_long_buffers(void **state) {
  enum { BLOCK = 3072, MAXLEN = 65536 + 40, MAXOFF = 8 };
  static const size_t bases[] = {BLOCK, 2 * BLOCK, 3 * BLOCK, 4 * BLOCK, 65536};
  uint8_t *src, *blk;
  size_t j, off, len, a, round;
  long d;
  uint32_t seed, want;
  int hw = rudp_crc32c_hw_available();
  rudp_test_rng rng;

  (void)state;

  src = malloc(MAXLEN + MAXOFF);
  assert_non_null(src);
  rudp_test_rng_init(&rng, 0xc3c32c06);
  rudp_test_rng_fill(&rng, src, MAXLEN + MAXOFF);

  for (j = 0; j < sizeof(bases) / sizeof(bases[0]); ++j) {
    for (d = -40; d <= 40; ++d) {
      len = (size_t)((long)bases[j] + d);
      for (off = 0; off < MAXOFF; ++off) {
        blk = malloc(off + len);
        assert_non_null(blk);
        memcpy(blk + off, src + off, len);
        seed = (uint32_t)rudp_test_rng_next(&rng);

        want = rudp_crc32c_sw(seed, blk + off, len);
        assert_int_equal(want, rudp_crc32c(seed, blk + off, len));
        if (hw) {
          assert_int_equal(want, rudp_crc32c_hw(seed, blk + off, len));
        }
        free(blk);
      }
    }
  }

  /* Split anywhere, even inside a stream; each part may take either path. */
  for (round = 0; round < 200; ++round) {
    len = (size_t)rudp_test_rng_below(&rng, 4 * BLOCK + 1);
    a = (size_t)rudp_test_rng_below(&rng, len + 1);
    seed = (uint32_t)rudp_test_rng_next(&rng);
    want = rudp_crc32c_sw(seed, src, len);
    assert_int_equal(want,
                     rudp_crc32c(rudp_crc32c(seed, src, a), src + a, len - a));
    if (hw) {
      assert_int_equal(
          want, rudp_crc32c_hw(rudp_crc32c_hw(seed, src, a), src + a, len - a));
    }
  }

  want = crc32c_ref(0x12345678u, src + 3, 65536);
  assert_int_equal(want, rudp_crc32c_sw(0x12345678u, src + 3, 65536));
  assert_int_equal(want, rudp_crc32c(0x12345678u, src + 3, 65536));
  if (hw) {
    assert_int_equal(want, rudp_crc32c_hw(0x12345678u, src + 3, 65536));
  }

  free(src);
}

/*
 * Any CRC with more than one polynomial term detects every single-bit
 * error, at any position in a message of any length.
 */
static void test_rudp_crc32c_single_bit_flip(void **state) {
  static const size_t lens[] = {1,  2,  3,  4,  7,  8,  9,  15,
                                16, 17, 31, 32, 33, 64, 65, 257};
  uint8_t buf[1500];
  crc_path paths[3];
  size_t i, j, n = get_paths(paths), bit, len;
  uint32_t good;
  rudp_test_rng rng;

  (void)state;

  rudp_test_rng_init(&rng, 0xc3c32c04);

  for (j = 0; j < sizeof(lens) / sizeof(lens[0]); ++j) {
    len = lens[j];
    rudp_test_rng_fill(&rng, buf, len);
    for (i = 0; i < n; ++i) {
      good = paths[i].fn(0, buf, len);
      for (bit = 0; bit < len * 8; ++bit) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_not_equal(good, paths[i].fn(0, buf, len));
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      }
      assert_int_equal(good, paths[i].fn(0, buf, len));
    }
  }

  /* A full-size datagram, at random bit positions. */
  rudp_test_rng_fill(&rng, buf, sizeof(buf));
  for (i = 0; i < n; ++i) {
    good = paths[i].fn(0, buf, sizeof(buf));
    for (j = 0; j < 500; ++j) {
      bit = (size_t)rudp_test_rng_below(&rng, sizeof(buf) * 8);
      buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      assert_int_not_equal(good, paths[i].fn(0, buf, sizeof(buf)));
      buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
  }
}

/*
 * A message followed by its own CRC (least significant byte first, the
 * order the reflected register holds it) always has the same CRC, the
 * CRC-32C residue 0x48674BC7 (0xB798B438 before the final inversion).
 */
static void test_rudp_crc32c_residue(void **state) {
  uint8_t buf[300];
  crc_path paths[3];
  size_t i, n = get_paths(paths), len;
  uint32_t crc;
  rudp_test_rng rng;

  (void)state;

  rudp_test_rng_init(&rng, 0xc3c32c05);
  for (len = 0; len + 4 <= sizeof(buf); len += 13) {
    rudp_test_rng_fill(&rng, buf, len);
    for (i = 0; i < n; ++i) {
      crc = paths[i].fn(0, buf, len);
      buf[len] = (uint8_t)crc;
      buf[len + 1] = (uint8_t)(crc >> 8);
      buf[len + 2] = (uint8_t)(crc >> 16);
      buf[len + 3] = (uint8_t)(crc >> 24);
      assert_int_equal(0x48674BC7u, paths[i].fn(0, buf, len + 4));
    }
  }
}

/*
 * The probe is cached and agrees with an independent look at the CPU (the
 * library reads CPUID or the ELF auxiliary vector itself).
 */
static void test_rudp_crc32c_hw_available_stable(void **state) {
  int first = rudp_crc32c_hw_available();
  int i;

  (void)state;

  for (i = 0; i < 10; ++i) {
    assert_int_equal(first, rudp_crc32c_hw_available());
  }
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  assert_int_equal(!!__builtin_cpu_supports("sse4.2"), !!first);
#elif !defined(__aarch64__)
  /* No instruction path is built for this architecture. */
  assert_int_equal(0, first);
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_crc32c_check_value),
      cmocka_unit_test(test_rudp_crc32c_rfc3720_vectors),
      cmocka_unit_test(test_rudp_crc32c_empty_input),
      cmocka_unit_test(test_rudp_crc32c_chaining),
      cmocka_unit_test(test_rudp_crc32c_sw_matches_reference),
      cmocka_unit_test(test_rudp_crc32c_hw_matches_sw),
      cmocka_unit_test(test_rudp_crc32c_hw_long_buffers),
      cmocka_unit_test(test_rudp_crc32c_single_bit_flip),
      cmocka_unit_test(test_rudp_crc32c_residue),
      cmocka_unit_test(test_rudp_crc32c_hw_available_stable),
  };
  return cmocka_run_group_tests_name("crc32c", tests, NULL, NULL);
}
