/*
 * Shared pieces of the fuzz targets: see fuzz_common.h.
 */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rudp_frame.h"
#include "rudp_pkt.h"

void fuzz_fail(const char *file, int line, const char *cond) {
  fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", file, line, cond);
  abort();
}

/* ------------------------------------------------------------ memory */

/*
 * Each block carries a header with its size, so realloc can tell a new
 * block from a resized one and the live count stays exact.  The header is
 * 16 bytes to keep the caller's pointer aligned like malloc's.
 */
#define FUZZ_MEM_HDR 16

static int fuzz_mem_take(fuzz_mem *fm) {
  ++fm->nalloc;
  if (fm->fail_at && fm->nalloc == fm->fail_at && !fm->failed) {
    fm->failed = 1;
    return 0;
  }
  return 1;
}

static void *fuzz_malloc(size_t size, void *ud) {
  fuzz_mem *fm = ud;
  uint8_t *p;
  if (!fuzz_mem_take(fm) || size > SIZE_MAX - FUZZ_MEM_HDR) {
    return NULL;
  }
  p = malloc(size + FUZZ_MEM_HDR);
  if (!p) {
    return NULL;
  }
  ++fm->nlive;
  return p + FUZZ_MEM_HDR;
}

static void fuzz_free(void *ptr, void *ud) {
  fuzz_mem *fm = ud;
  if (!ptr) {
    return;
  }
  FUZZ_CHECK(fm->nlive > 0);
  --fm->nlive;
  free((uint8_t *)ptr - FUZZ_MEM_HDR);
}

static void *fuzz_calloc(size_t nmemb, size_t size, void *ud) {
  uint8_t *p;
  if (size && nmemb > SIZE_MAX / size) {
    return NULL;
  }
  p = fuzz_malloc(nmemb * size, ud);
  if (p) {
    memset(p, 0, nmemb * size);
  }
  return p;
}

static void *fuzz_realloc(void *ptr, size_t size, void *ud) {
  fuzz_mem *fm = ud;
  uint8_t *p;
  if (!ptr) {
    return fuzz_malloc(size, ud);
  }
  if (!fuzz_mem_take(fm) || size > SIZE_MAX - FUZZ_MEM_HDR) {
    return NULL;
  }
  p = realloc((uint8_t *)ptr - FUZZ_MEM_HDR, size + FUZZ_MEM_HDR);
  return p ? p + FUZZ_MEM_HDR : NULL;
}

void fuzz_mem_init(fuzz_mem *fm) {
  memset(fm, 0, sizeof(*fm));
  fm->mem.user_data = fm;
  fm->mem.malloc = fuzz_malloc;
  fm->mem.free = fuzz_free;
  fm->mem.calloc = fuzz_calloc;
  fm->mem.realloc = fuzz_realloc;
}

/* ------------------------------------------------------------ random */

void fuzz_rng_fill(fuzz_rng *rng, uint8_t *dest, size_t len) {
  while (len > 0) {
    uint64_t z = (rng->s += 0x9e3779b97f4a7c15ULL);
    size_t i;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    for (i = 0; i < 8 && len > 0; ++i, --len) {
      *dest++ = (uint8_t)(z >> (8 * i));
    }
  }
}

/* ------------------------------------------------------------ input */

uint8_t fuzz_u8(fuzz_input *in) {
  if (in->p == in->end) {
    return 0;
  }
  return *in->p++;
}

int fuzz_record(fuzz_input *in, uint8_t *ctl, const uint8_t **data,
                size_t *len) {
  size_t n, left;
  if (in->p == in->end) {
    return 0;
  }
  *ctl = fuzz_u8(in);
  n = (size_t)fuzz_u8(in) << 8;
  n |= fuzz_u8(in);
  left = (size_t)(in->end - in->p);
  if (n > left) {
    n = left;
  }
  *data = in->p;
  *len = n;
  in->p += n;
  return 1;
}

int fuzz_put_record(uint8_t *buf, size_t cap, size_t *off, uint8_t ctl,
                    const uint8_t *data, size_t len) {
  if (len > 0xffff || cap - *off < 3 + len) {
    return -1;
  }
  buf[(*off)++] = ctl;
  buf[(*off)++] = (uint8_t)(len >> 8);
  buf[(*off)++] = (uint8_t)len;
  if (len) {
    memcpy(buf + *off, data, len);
  }
  *off += len;
  return 0;
}

/* ------------------------------------------------------------ packets */

/* reseal is fuzz_reseal; |short_too| zero leaves short packets alone. */
static void reseal(uint8_t *d, size_t len, size_t short_dcidlen,
                   uint64_t largest_pn, int short_too) {
  size_t off = 0;
  while (off < len) {
    rudp_pkt_hd hd;
    rudp_ssize hdlen =
        rudp_pkt_decode_hd(&hd, d + off, len - off, short_dcidlen);
    uint64_t pn;
    if (hdlen < 0) {
      return;
    }
    if (hd.type == RUDP_PKT_RETRY || hd.type == RUDP_PKT_VERSION_NEGOTIATION) {
      /* These carry a plain CRC and are never coalesced. */
      rudp_pkt_seal_crc(d + off, hd.pktlen - RUDP_PKT_CRCLEN);
      return;
    }
    if (hd.pktlen < (size_t)hdlen + RUDP_PKT_CRCLEN) {
      return;
    }
    if (hd.type == RUDP_PKT_SHORT && !short_too) {
      return;
    }
    pn = rudp_pkt_decode_pkt_num(largest_pn, hd.pkt_num, hd.pkt_numlen);
    rudp_pkt_seal_crc_pn(d + off, hd.pktlen - RUDP_PKT_CRCLEN, pn);
    if (hd.type == RUDP_PKT_SHORT) {
      return;
    }
    off += hd.pktlen;
  }
}

void fuzz_reseal(uint8_t *d, size_t len, size_t short_dcidlen,
                 uint64_t largest_pn) {
  reseal(d, len, short_dcidlen, largest_pn, 1);
}

void fuzz_reseal_long(uint8_t *d, size_t len, size_t short_dcidlen,
                      uint64_t largest_pn) {
  reseal(d, len, short_dcidlen, largest_pn, 0);
}

void fuzz_check_sent(const uint8_t *d, size_t len, size_t short_dcidlen,
                     uint64_t *largest_pn) {
  size_t off = 0;
  FUZZ_CHECK(len > 0);
  while (off < len) {
    rudp_pkt_hd hd;
    rudp_ssize hdlen =
        rudp_pkt_decode_hd(&hd, d + off, len - off, short_dcidlen);
    const uint8_t *p;
    size_t left;
    uint64_t pn;
    FUZZ_CHECK(hdlen > 0);
    FUZZ_CHECK(hd.type != RUDP_PKT_RETRY &&
               hd.type != RUDP_PKT_VERSION_NEGOTIATION);
    FUZZ_CHECK(hd.pktlen >= (size_t)hdlen + RUDP_PKT_CRCLEN);
    FUZZ_CHECK(hd.pktlen <= len - off);
    pn = rudp_pkt_decode_pkt_num(*largest_pn, hd.pkt_num, hd.pkt_numlen);
    FUZZ_CHECK(rudp_pkt_verify_crc_pn(d + off, hd.pktlen, pn) == 0);
    if (*largest_pn == UINT64_MAX || pn > *largest_pn) {
      *largest_pn = pn;
    }
    p = d + off + hdlen;
    left = hd.pktlen - (size_t)hdlen - RUDP_PKT_CRCLEN;
    /* Every packet carries at least one frame. */
    FUZZ_CHECK(left > 0);
    while (left > 0) {
      rudp_frame fr;
      rudp_ssize n = rudp_frame_decode(&fr, p, left);
      FUZZ_CHECK(n > 0 && (size_t)n <= left);
      p += n;
      left -= (size_t)n;
    }
    off += hd.pktlen;
    /* A short packet fills the rest of the datagram. */
    FUZZ_CHECK(hd.type != RUDP_PKT_SHORT || off == len);
  }
}

rudp_duration fuzz_time_step(unsigned code) {
  static const rudp_duration steps[8] = {
      0,
      RUDP_MILLISECONDS,
      10 * RUDP_MILLISECONDS,
      50 * RUDP_MILLISECONDS,
      200 * RUDP_MILLISECONDS,
      RUDP_SECONDS,
      10 * RUDP_SECONDS,
      RUDP_TSTAMP_MAX,
  };
  return steps[code & 7];
}
