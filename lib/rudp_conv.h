/*
 * Byte-order and variable-length integer helpers.
 *
 * The put functions write a value at |p| and return the cursor just past it;
 * the caller has checked that the space is there.  The get functions read a
 * value at |p| (the caller has checked the length) and return the cursor just
 * past it.  Everything on the wire is big-endian (network byte order).
 *
 * Variable-length integers (RFC 9000 section 16): the two most significant
 * bits of the first byte give the length, 00 = 1 byte (6-bit value),
 * 01 = 2 bytes (14-bit), 10 = 4 bytes (30-bit), 11 = 8 bytes (62-bit).
 */
#ifndef RUDP_CONV_H
#define RUDP_CONV_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include <rudp/rudp.h>

static inline uint8_t *rudp_put_uint8(uint8_t *p, uint8_t v) {
  *p = v;
  return p + 1;
}

static inline uint8_t *rudp_put_uint16be(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
  return p + 2;
}

static inline uint8_t *rudp_put_uint24be(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 16);
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)v;
  return p + 3;
}

static inline uint8_t *rudp_put_uint32be(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
  return p + 4;
}

static inline uint8_t *rudp_put_uint64be(uint8_t *p, uint64_t v) {
  p = rudp_put_uint32be(p, (uint32_t)(v >> 32));
  return rudp_put_uint32be(p, (uint32_t)v);
}

static inline const uint8_t *rudp_get_uint8(uint8_t *dest, const uint8_t *p) {
  *dest = *p;
  return p + 1;
}

static inline const uint8_t *rudp_get_uint16be(uint16_t *dest,
                                               const uint8_t *p) {
  *dest = (uint16_t)(((uint16_t)p[0] << 8) | p[1]);
  return p + 2;
}

static inline const uint8_t *rudp_get_uint24be(uint32_t *dest,
                                               const uint8_t *p) {
  *dest = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
  return p + 3;
}

static inline const uint8_t *rudp_get_uint32be(uint32_t *dest,
                                               const uint8_t *p) {
  *dest = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
          ((uint32_t)p[2] << 8) | p[3];
  return p + 4;
}

static inline const uint8_t *rudp_get_uint64be(uint64_t *dest,
                                               const uint8_t *p) {
  uint32_t hi, lo;
  p = rudp_get_uint32be(&hi, p);
  p = rudp_get_uint32be(&lo, p);
  *dest = ((uint64_t)hi << 32) | lo;
  return p;
}

static inline uint8_t *rudp_put_bytes(uint8_t *p, const void *src, size_t n) {
  if (n) {
    memcpy(p, src, n);
  }
  return p + n;
}

/*
 * rudp_varint_len returns the encoded length (1, 2, 4 or 8) of |v|.
 * |v| must be at most RUDP_MAX_VARINT.
 */
static inline size_t rudp_varint_len(uint64_t v) {
  if (v < 64) {
    return 1;
  }
  if (v < 16384) {
    return 2;
  }
  if (v < 1073741824) {
    return 4;
  }
  return 8;
}

/*
 * rudp_varint_len_from_first returns the encoded length of the varint whose
 * first byte is |b|.
 */
static inline size_t rudp_varint_len_from_first(uint8_t b) {
  return (size_t)1 << (b >> 6);
}

/*
 * rudp_put_varint writes |v| (at most RUDP_MAX_VARINT) in the shortest form.
 */
static inline uint8_t *rudp_put_varint(uint8_t *p, uint64_t v) {
  switch (rudp_varint_len(v)) {
  case 1:
    return rudp_put_uint8(p, (uint8_t)v);
  case 2:
    return rudp_put_uint16be(p, (uint16_t)(v | 0x4000u));
  case 4:
    return rudp_put_uint32be(p, (uint32_t)(v | 0x80000000u));
  default:
    return rudp_put_uint64be(p, v | 0xc000000000000000ULL);
  }
}

/*
 * rudp_put_varint_n writes |v| as a varint of exactly |n| bytes (1, 2, 4 or
 * 8); |v| must fit.  Used where a length is reserved before it is known.
 */
static inline uint8_t *rudp_put_varint_n(uint8_t *p, uint64_t v, size_t n) {
  switch (n) {
  case 1:
    return rudp_put_uint8(p, (uint8_t)v);
  case 2:
    return rudp_put_uint16be(p, (uint16_t)(v | 0x4000u));
  case 4:
    return rudp_put_uint32be(p, (uint32_t)(v | 0x80000000u));
  default:
    return rudp_put_uint64be(p, v | 0xc000000000000000ULL);
  }
}

/*
 * rudp_get_varint decodes the varint at |p|; the caller has checked that
 * rudp_varint_len_from_first(*p) bytes are there.
 */
static inline const uint8_t *rudp_get_varint(uint64_t *dest,
                                             const uint8_t *p) {
  uint16_t v16;
  uint32_t v32;
  uint64_t v64;
  switch (*p >> 6) {
  case 0:
    *dest = *p;
    return p + 1;
  case 1:
    p = rudp_get_uint16be(&v16, p);
    *dest = v16 & 0x3fffu;
    return p;
  case 2:
    p = rudp_get_uint32be(&v32, p);
    *dest = v32 & 0x3fffffffu;
    return p;
  default:
    p = rudp_get_uint64be(&v64, p);
    *dest = v64 & 0x3fffffffffffffffULL;
    return p;
  }
}

/*
 * rudp_get_varint_checked decodes a varint from [*pp, end).  On success it
 * advances *pp and returns 0; if the input ends first it returns
 * RUDP_ERR_TRUNCATED and leaves *pp unchanged.
 */
static inline int rudp_get_varint_checked(uint64_t *dest, const uint8_t **pp,
                                          const uint8_t *end) {
  const uint8_t *p = *pp;
  if (p >= end || (size_t)(end - p) < rudp_varint_len_from_first(*p)) {
    return RUDP_ERR_TRUNCATED;
  }
  *pp = rudp_get_varint(dest, p);
  return 0;
}

#endif /* RUDP_CONV_H */
