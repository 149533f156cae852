/*
 * Shared code of rudp-send and rudp-recv; see common.h.  The SHA-256
 * follows lib/rudp_token.c (FIPS 180-4) but is incremental and exported.
 */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr32(uint32_t x, unsigned n) {
  return (x >> n) | (x << (32 - n));
}

static uint32_t get32be(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

/* sha256_compress processes one 64-byte block (FIPS 180-4 6.2.2). */
static void sha256_compress(uint32_t h[8], const uint8_t *block) {
  uint32_t w[64], v[8], t1, t2;
  size_t i;

  for (i = 0; i < 16; ++i) {
    w[i] = get32be(block + i * 4);
  }
  for (i = 16; i < 64; ++i) {
    uint32_t s0 =
        rotr32(w[i - 15], 7) ^ rotr32(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 =
        rotr32(w[i - 2], 17) ^ rotr32(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  memcpy(v, h, sizeof(v));
  for (i = 0; i < 64; ++i) {
    t1 = v[7] + (rotr32(v[4], 6) ^ rotr32(v[4], 11) ^ rotr32(v[4], 25)) +
         ((v[4] & v[5]) ^ (~v[4] & v[6])) + sha256_k[i] + w[i];
    t2 = (rotr32(v[0], 2) ^ rotr32(v[0], 13) ^ rotr32(v[0], 22)) +
         ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
    memmove(v + 1, v, 7 * sizeof(v[0]));
    v[4] += t1;
    v[0] = t1 + t2;
  }
  for (i = 0; i < 8; ++i) {
    h[i] += v[i];
  }
}

void tool_sha256_init(tool_sha256 *ctx) {
  /* FIPS 180-4 5.3.3. */
  static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                 0xa54ff53a, 0x510e527f, 0x9b05688c,
                                 0x1f83d9ab, 0x5be0cd19};
  memcpy(ctx->h, h0, sizeof(h0));
  ctx->buflen = 0;
  ctx->total = 0;
}

void tool_sha256_update(tool_sha256 *ctx, const void *data, size_t len) {
  const uint8_t *p = data;
  size_t n;

  if (len == 0) {
    return; /* |data| may be NULL */
  }
  ctx->total += len;
  if (ctx->buflen) {
    n = len < 64 - ctx->buflen ? len : 64 - ctx->buflen;
    memcpy(ctx->buf + ctx->buflen, p, n);
    ctx->buflen += n;
    p += n;
    len -= n;
    if (ctx->buflen < 64) {
      return;
    }
    sha256_compress(ctx->h, ctx->buf);
    ctx->buflen = 0;
  }
  for (; len >= 64; p += 64, len -= 64) {
    sha256_compress(ctx->h, p);
  }
  if (len) {
    memcpy(ctx->buf, p, len);
    ctx->buflen = len;
  }
}

void tool_sha256_final(tool_sha256 *ctx, uint8_t out[TOOL_SHA256_LEN]) {
  /* FIPS 180-4 5.1.1: a 1 bit, zeros up to 56 mod 64, the bit length. */
  uint64_t bits = ctx->total * 8;
  size_t i;

  ctx->buf[ctx->buflen++] = 0x80;
  if (ctx->buflen > 56) {
    memset(ctx->buf + ctx->buflen, 0, 64 - ctx->buflen);
    sha256_compress(ctx->h, ctx->buf);
    ctx->buflen = 0;
  }
  memset(ctx->buf + ctx->buflen, 0, 56 - ctx->buflen);
  for (i = 0; i < 8; ++i) {
    ctx->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
  }
  sha256_compress(ctx->h, ctx->buf);
  for (i = 0; i < 8; ++i) {
    out[i * 4] = (uint8_t)(ctx->h[i] >> 24);
    out[i * 4 + 1] = (uint8_t)(ctx->h[i] >> 16);
    out[i * 4 + 2] = (uint8_t)(ctx->h[i] >> 8);
    out[i * 4 + 3] = (uint8_t)ctx->h[i];
  }
}

int tool_parse_port(const char *s, unsigned min, uint16_t *pport) {
  char *end;
  unsigned long v;

  if (*s < '0' || *s > '9') {
    return -1;
  }
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno || *end || v < min || v > 65535) {
    return -1;
  }
  *pport = (uint16_t)v;
  return 0;
}

int tool_parse_cc(const char *s, rudp_cc_algo *palgo) {
  if (strcmp(s, "reno") == 0) {
    *palgo = RUDP_CC_RENO;
  } else if (strcmp(s, "cubic") == 0) {
    *palgo = RUDP_CC_CUBIC;
  } else {
    return -1;
  }
  return 0;
}

const char *tool_check_name(const uint8_t *name, size_t len) {
  size_t i;

  /* The receiver creates exactly DIR/name: a name that is not one plain
   * path component could escape DIR or name DIR itself. */
  if (len == 0) {
    return "empty name";
  }
  if (len > TOOL_NAME_MAX) {
    return "name too long";
  }
  if (name[0] == '/') {
    return "absolute name";
  }
  for (i = 0; i + 1 < len; ++i) {
    /* A ".." component anywhere: named first, it is the usual attack. */
    if (name[i] == '.' && name[i + 1] == '.' &&
        (i == 0 || name[i - 1] == '/') &&
        (i + 2 == len || name[i + 2] == '/')) {
      return "name contains a '..' component";
    }
  }
  if (len == 1 && name[0] == '.') {
    return "name is '.'";
  }
  for (i = 0; i < len; ++i) {
    if (name[i] == '/') {
      return "name contains '/'";
    }
    if (name[i] == 0) {
      return "name contains NUL";
    }
    if (name[i] < 0x20 || name[i] == 0x7f) {
      return "name contains control bytes";
    }
  }
  return NULL;
}

void tool_hex(char out[2 * TOOL_SHA256_LEN + 1],
              const uint8_t md[TOOL_SHA256_LEN]) {
  static const char digits[] = "0123456789abcdef";
  size_t i;

  for (i = 0; i < TOOL_SHA256_LEN; ++i) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 0xf];
  }
  out[2 * TOOL_SHA256_LEN] = 0;
}

void tool_fmt_rate(char *out, size_t outlen, double bytes_per_s) {
  if (bytes_per_s >= 1e9) {
    snprintf(out, outlen, "%.2f GB/s", bytes_per_s / 1e9);
  } else if (bytes_per_s >= 1e6) {
    snprintf(out, outlen, "%.2f MB/s", bytes_per_s / 1e6);
  } else {
    snprintf(out, outlen, "%.1f kB/s", bytes_per_s / 1e3);
  }
}

double tool_now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
