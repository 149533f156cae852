/*
 * Shared test helpers.
 */
#include "rudp_test_helper.h"

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rudp_test_rng_init(rudp_test_rng *rng, uint64_t seed) {
  size_t i;
  for (i = 0; i < 4; ++i) {
    uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    rng->s[i] = z ^ (z >> 31);
  }
}

uint64_t rudp_test_rng_next(rudp_test_rng *rng) {
  uint64_t *s = rng->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

uint64_t rudp_test_rng_below(rudp_test_rng *rng, uint64_t n) {
  return rudp_test_rng_next(rng) % n;
}

void rudp_test_rng_fill(rudp_test_rng *rng, void *buf, size_t len) {
  uint8_t *p = buf;
  while (len--) {
    *p++ = (uint8_t)rudp_test_rng_next(rng);
  }
}

void rudp_test_hex(char *out, const void *data, size_t len) {
  static const char digits[] = "0123456789abcdef";
  const uint8_t *p = data;
  size_t i;
  for (i = 0; i < len; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 0xf];
  }
  out[2 * len] = '\0';
}
