/*
 * Shared test helpers.
 */
#include "rudp_test_helper.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rudp/rudp_tls.h>

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

int rudp_test_tls_ctxs(rudp_tls_ctx **server, rudp_tls_ctx **client,
                       const char *pin, char *fp) {
  rudp_tls_config cfg;
  char buf[96];
  *server = *client = NULL;
  if (!rudp_tls_available()) {
    return -1;
  }
  rudp_tls_config_default(&cfg);
  cfg.server = 1;
  if (rudp_tls_ctx_new(server, &cfg, NULL, 0) != 0 ||
      rudp_tls_ctx_get_fingerprint(*server, buf, sizeof(buf)) != 0) {
    abort(); /* the test cannot go on; a failing test reports it */
  }
  rudp_tls_config_default(&cfg);
  cfg.pin_sha256 = pin ? pin : buf;
  if (rudp_tls_ctx_new(client, &cfg, NULL, 0) != 0) {
    abort();
  }
  if (fp) {
    memcpy(fp, buf, sizeof(buf));
  }
  return 0;
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

/* test_mem_hdr precedes each block: its size, at malloc's alignment. */
typedef union test_mem_hdr {
  size_t size;
  max_align_t align;
} test_mem_hdr;

static void test_mem_add(rudp_test_mem *tm, size_t size) {
  tm->live_bytes += size;
  if (tm->live_bytes > tm->peak_bytes) {
    tm->peak_bytes = tm->live_bytes;
  }
}

static void *test_mem_malloc(size_t size, void *user_data) {
  rudp_test_mem *tm = user_data;
  test_mem_hdr *h;

  if (tm->fail || size > SIZE_MAX - sizeof(*h) ||
      (h = malloc(sizeof(*h) + size)) == NULL) {
    return NULL;
  }
  h->size = size;
  ++tm->nmalloc;
  ++tm->nlive;
  test_mem_add(tm, size);
  return h + 1;
}

static void test_mem_free(void *ptr, void *user_data) {
  rudp_test_mem *tm = user_data;
  test_mem_hdr *h;

  if (ptr == NULL) {
    return;
  }
  h = (test_mem_hdr *)ptr - 1;
  ++tm->nfree;
  --tm->nlive;
  tm->live_bytes -= h->size;
  free(h);
}

static void *test_mem_calloc(size_t nmemb, size_t size, void *user_data) {
  rudp_test_mem *tm = user_data;
  test_mem_hdr *h;

  if (tm->fail || (size && nmemb > (SIZE_MAX - sizeof(*h)) / size) ||
      (h = calloc(1, sizeof(*h) + nmemb * size)) == NULL) {
    return NULL;
  }
  h->size = nmemb * size;
  ++tm->ncalloc;
  ++tm->nlive;
  test_mem_add(tm, h->size);
  return h + 1;
}

static void *test_mem_realloc(void *ptr, size_t size, void *user_data) {
  rudp_test_mem *tm = user_data;
  test_mem_hdr *h = ptr ? (test_mem_hdr *)ptr - 1 : NULL;
  size_t old = h ? h->size : 0;

  if (tm->fail || size > SIZE_MAX - sizeof(*h) ||
      (h = realloc(h, sizeof(*h) + size)) == NULL) {
    return NULL;
  }
  h->size = size;
  ++tm->nrealloc;
  if (ptr == NULL) {
    ++tm->nlive;
  }
  tm->live_bytes -= old;
  test_mem_add(tm, size);
  return h + 1;
}

void rudp_test_mem_init(rudp_test_mem *tm) {
  memset(tm, 0, sizeof(*tm));
  tm->mem.user_data = tm;
  tm->mem.malloc = test_mem_malloc;
  tm->mem.free = test_mem_free;
  tm->mem.calloc = test_mem_calloc;
  tm->mem.realloc = test_mem_realloc;
}

size_t rudp_test_mem_nalloc(const rudp_test_mem *tm) {
  return tm->nmalloc + tm->ncalloc + tm->nrealloc;
}
