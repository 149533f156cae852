/*
 * Packet header codec: long and short headers, RETRY, version negotiation,
 * the CRC32C trailer and packet-number truncation (RFC 9000 section 17 and
 * appendix A, adapted to the layout in rudp_pkt.h).
 *
 * Every decoder below checks the remaining length before each read, so any
 * input of any length gives a header or a negative code.
 */
#include "rudp_pkt.h"

#include <assert.h>
#include <string.h>

#include "rudp_conv.h"
#include "rudp_crc32c.h"
#include "rudp_macro.h"

/* Bits of byte 0 (rudp_pkt.h header comment). */
#define PKT_HEADER_FORM_BIT 0x80u
#define PKT_FIXED_BIT 0x40u
#define PKT_LONG_TYPE_MASK 0x30u
#define PKT_LONG_RESERVED_MASK 0x0cu
#define PKT_SHORT_SPIN_BIT 0x20u
#define PKT_SHORT_RESERVED_MASK 0x18u
#define PKT_SHORT_KEY_PHASE_BIT 0x04u
#define PKT_NUMLEN_MASK 0x03u

/* PKT_MAX_LONG_LEN is the largest length field rudp_pkt_encode_hd writes:
 * it uses at most a 4-byte varint so the field can be patched in place. */
#define PKT_MAX_LONG_LEN 1073741823ULL

void rudp_cid_init(rudp_cid *cid, const uint8_t *data, size_t datalen) {
  assert(datalen <= RUDP_MAX_CIDLEN);
  cid->datalen = datalen;
  if (datalen) {
    memcpy(cid->data, data, datalen);
  }
}

int rudp_cid_eq(const rudp_cid *a, const rudp_cid *b) {
  return a->datalen == b->datalen &&
         (a->datalen == 0 || memcmp(a->data, b->data, a->datalen) == 0);
}

/*
 * get_cid reads a length-prefixed connection ID from [*pp, end) into |cid|.
 * The length byte is checked against RUDP_MAX_CIDLEN before the ID bytes
 * are required, so an over-long ID is reported as such even when the
 * datagram is short.
 */
static int get_cid(rudp_cid *cid, const uint8_t **pp, const uint8_t *end) {
  const uint8_t *p = *pp;
  size_t len;

  if (p == end) {
    return RUDP_ERR_TRUNCATED;
  }
  len = *p++;
  if (len > RUDP_MAX_CIDLEN) {
    return RUDP_ERR_BAD_PACKET;
  }
  if ((size_t)(end - p) < len) {
    return RUDP_ERR_TRUNCATED;
  }
  rudp_cid_init(cid, p, len);
  *pp = p + len;
  return 0;
}

/*
 * get_token reads a varint-length-prefixed token from [*pp, end).
 * |minlen| is 0 for CONNECT and 1 for RETRY.
 */
static int get_token(const uint8_t **ptoken, size_t *ptokenlen,
                     const uint8_t **pp, const uint8_t *end, size_t minlen) {
  const uint8_t *p = *pp;
  uint64_t len;
  int rv;

  rv = rudp_get_varint_checked(&len, &p, end);
  if (rv != 0) {
    return rv;
  }
  if (len < minlen || len > RUDP_PKT_MAX_TOKENLEN) {
    return RUDP_ERR_BAD_PACKET;
  }
  if ((uint64_t)(end - p) < len) {
    return RUDP_ERR_TRUNCATED;
  }
  *ptoken = len ? p : NULL;
  *ptokenlen = (size_t)len;
  *pp = p + len;
  return 0;
}

/*
 * decode_long decodes a long header (version negotiation included) into
 * |hd|.  For RETRY and version negotiation it decodes the whole packet and
 * stores the header length (the offset of the CRC32C) in |*poff|.  For
 * CONNECT, ACCEPT and HANDSHAKE it stops after the length field, storing
 * its value in hd->len and the field's offset in |*poff|, without checking
 * it against |pktlen| (rudp_pkt_patch_len needs the field of a packet whose
 * length is not final yet).
 */
static int decode_long(rudp_pkt_hd *hd, size_t *poff, const uint8_t *pkt,
                       size_t pktlen) {
  const uint8_t *p = pkt, *end = pkt + pktlen;
  uint8_t b0;
  size_t rest;
  int rv;

  if (pktlen < 1 + 4) {
    return RUDP_ERR_TRUNCATED;
  }
  p = rudp_get_uint8(&b0, p);
  p = rudp_get_uint32be(&hd->version, p);
  hd->flags = RUDP_PKT_FLAG_LONG_FORM;

  /* Version 0 marks version negotiation whatever the other bits of byte 0
   * say (RFC 9000 section 17.2.1): a peer that does not speak our version
   * cannot know our fixed and type bits. */
  if (hd->version == 0) {
    hd->type = RUDP_PKT_VERSION_NEGOTIATION;
    rv = get_cid(&hd->dcid, &p, end);
    if (rv != 0) {
      return rv;
    }
    rv = get_cid(&hd->scid, &p, end);
    if (rv != 0) {
      return rv;
    }
    rest = (size_t)(end - p);
    if (rest < RUDP_PKT_CRCLEN) {
      return RUDP_ERR_TRUNCATED;
    }
    rest -= RUDP_PKT_CRCLEN;
    if (rest == 0 || rest % 4 != 0) {
      return RUDP_ERR_BAD_PACKET;
    }
    hd->versions = p;
    hd->nversions = rest / 4;
    hd->pktlen = pktlen;
    *poff = pktlen - RUDP_PKT_CRCLEN;
    return 0;
  }

  if (!(b0 & PKT_FIXED_BIT) || (b0 & PKT_LONG_RESERVED_MASK)) {
    return RUDP_ERR_BAD_PACKET;
  }
  hd->type = (rudp_pkt_type)((b0 & PKT_LONG_TYPE_MASK) >> 4);

  rv = get_cid(&hd->dcid, &p, end);
  if (rv != 0) {
    return rv;
  }
  rv = get_cid(&hd->scid, &p, end);
  if (rv != 0) {
    return rv;
  }

  if (hd->type == RUDP_PKT_RETRY) {
    /* RETRY has no packet number; its low bits are not a length. */
    if (b0 & PKT_NUMLEN_MASK) {
      return RUDP_ERR_BAD_PACKET;
    }
    rv = get_cid(&hd->odcid, &p, end);
    if (rv != 0) {
      return rv;
    }
    rv = get_token(&hd->token, &hd->tokenlen, &p, end, 1);
    if (rv != 0) {
      return rv;
    }
    if ((size_t)(end - p) < RUDP_PKT_CRCLEN) {
      return RUDP_ERR_TRUNCATED;
    }
    /* The token length delimits RETRY, so it ends at its CRC. */
    *poff = (size_t)(p - pkt);
    hd->pktlen = *poff + RUDP_PKT_CRCLEN;
    return 0;
  }

  hd->pkt_numlen = (size_t)(b0 & PKT_NUMLEN_MASK) + 1;

  if (hd->type == RUDP_PKT_CONNECT) {
    rv = get_token(&hd->token, &hd->tokenlen, &p, end, 0);
    if (rv != 0) {
      return rv;
    }
  }

  *poff = (size_t)(p - pkt);
  return rudp_get_varint_checked(&hd->len, &p, end);
}

/* get_pkt_num reads an |n|-byte truncated packet number at |p|. */
static uint64_t get_pkt_num(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  size_t i;

  for (i = 0; i < n; ++i) {
    v = (v << 8) | p[i];
  }
  return v;
}

static rudp_ssize decode_short(rudp_pkt_hd *hd, const uint8_t *pkt,
                               size_t pktlen, size_t short_dcidlen) {
  uint8_t b0 = pkt[0];
  size_t hdlen;

  if (!(b0 & PKT_FIXED_BIT) || (b0 & PKT_SHORT_RESERVED_MASK)) {
    return RUDP_ERR_BAD_PACKET;
  }
  hd->type = RUDP_PKT_SHORT;
  hd->flags = RUDP_PKT_FLAG_NONE;
  if (b0 & PKT_SHORT_SPIN_BIT) {
    hd->flags |= RUDP_PKT_FLAG_SPIN;
  }
  if (b0 & PKT_SHORT_KEY_PHASE_BIT) {
    hd->flags |= RUDP_PKT_FLAG_KEY_PHASE;
  }
  hd->pkt_numlen = (size_t)(b0 & PKT_NUMLEN_MASK) + 1;

  hdlen = 1 + short_dcidlen + hd->pkt_numlen;
  if (pktlen < hdlen) {
    return RUDP_ERR_TRUNCATED;
  }
  rudp_cid_init(&hd->dcid, pkt + 1, short_dcidlen);
  hd->pkt_num = get_pkt_num(pkt + 1 + short_dcidlen, hd->pkt_numlen);
  /* A short packet has no length: it fills the rest of the datagram. */
  hd->pktlen = pktlen;
  return (rudp_ssize)hdlen;
}

rudp_ssize rudp_pkt_decode_hd(rudp_pkt_hd *hd, const uint8_t *pkt,
                              size_t pktlen, size_t short_dcidlen) {
  rudp_pkt_hd h;
  size_t off, pnoff;
  rudp_ssize nread;
  int rv;

  if (short_dcidlen > RUDP_MAX_CIDLEN) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (pktlen == 0) {
    return RUDP_ERR_TRUNCATED;
  }

  /* Decode into a local copy so that |hd| is untouched on error. */
  memset(&h, 0, sizeof(h));

  if (!(pkt[0] & PKT_HEADER_FORM_BIT)) {
    nread = decode_short(&h, pkt, pktlen, short_dcidlen);
    if (nread < 0) {
      return nread;
    }
    *hd = h;
    return nread;
  }

  rv = decode_long(&h, &off, pkt, pktlen);
  if (rv != 0) {
    return rv;
  }
  if (h.type == RUDP_PKT_RETRY || h.type == RUDP_PKT_VERSION_NEGOTIATION) {
    *hd = h;
    return (rudp_ssize)off;
  }

  pnoff = off + rudp_varint_len_from_first(pkt[off]);
  if (h.len < h.pkt_numlen) {
    return RUDP_ERR_BAD_PACKET;
  }
  if (h.len > pktlen - pnoff) {
    return RUDP_ERR_TRUNCATED;
  }
  /* len >= pkt_numlen and pnoff + len <= pktlen: the number is there. */
  h.pkt_num = get_pkt_num(pkt + pnoff, h.pkt_numlen);
  h.pktlen = pnoff + (size_t)h.len;
  *hd = h;
  return (rudp_ssize)(pnoff + h.pkt_numlen);
}

/* put_pkt_num writes the low |n| bytes of |pkt_num| big-endian. */
static uint8_t *put_pkt_num(uint8_t *p, uint64_t pkt_num, size_t n) {
  size_t i;

  for (i = n; i > 0; --i) {
    p[i - 1] = (uint8_t)pkt_num;
    pkt_num >>= 8;
  }
  return p + n;
}

static uint8_t *put_cid(uint8_t *p, const rudp_cid *cid) {
  p = rudp_put_uint8(p, (uint8_t)cid->datalen);
  return rudp_put_bytes(p, cid->data, cid->datalen);
}

rudp_ssize rudp_pkt_encode_hd(uint8_t *out, size_t outlen,
                              const rudp_pkt_hd *hd) {
  uint8_t *p = out;
  size_t need, lenlen = 0;
  uint8_t b0;

  if (hd->pkt_numlen < 1 || hd->pkt_numlen > RUDP_PKT_MAX_PKT_NUMLEN ||
      hd->dcid.datalen > RUDP_MAX_CIDLEN) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }

  switch (hd->type) {
  case RUDP_PKT_SHORT:
    b0 = (uint8_t)(PKT_FIXED_BIT | (hd->pkt_numlen - 1));
    if (hd->flags & RUDP_PKT_FLAG_SPIN) {
      b0 |= PKT_SHORT_SPIN_BIT;
    }
    if (hd->flags & RUDP_PKT_FLAG_KEY_PHASE) {
      b0 |= PKT_SHORT_KEY_PHASE_BIT;
    }
    need = 1 + hd->dcid.datalen + hd->pkt_numlen;
    if (outlen < need) {
      return RUDP_ERR_NOBUF;
    }
    p = rudp_put_uint8(p, b0);
    p = rudp_put_bytes(p, hd->dcid.data, hd->dcid.datalen);
    p = put_pkt_num(p, hd->pkt_num, hd->pkt_numlen);
    return p - out;
  case RUDP_PKT_CONNECT:
  case RUDP_PKT_ACCEPT:
  case RUDP_PKT_HANDSHAKE:
    break;
  default:
    /* RETRY and version negotiation have their own encoders. */
    return RUDP_ERR_INVALID_ARGUMENT;
  }

  /* Version 0 would make the packet read as version negotiation. */
  if (hd->version == 0 || hd->scid.datalen > RUDP_MAX_CIDLEN ||
      hd->len > PKT_MAX_LONG_LEN) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (hd->type == RUDP_PKT_CONNECT && (hd->tokenlen > RUDP_PKT_MAX_TOKENLEN ||
                                       (hd->tokenlen && hd->token == NULL))) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }

  /* A fixed 2- or 4-byte length field lets rudp_pkt_patch_len rewrite it
   * once the payload is known, without moving the packet number. */
  lenlen = hd->len < 16384 ? 2 : 4;
  need = 1 + 4 + 1 + hd->dcid.datalen + 1 + hd->scid.datalen + lenlen +
         hd->pkt_numlen;
  if (hd->type == RUDP_PKT_CONNECT) {
    need += rudp_varint_len(hd->tokenlen) + hd->tokenlen;
  }
  if (outlen < need) {
    return RUDP_ERR_NOBUF;
  }

  b0 = (uint8_t)(PKT_HEADER_FORM_BIT | PKT_FIXED_BIT |
                 ((unsigned)hd->type << 4) | (hd->pkt_numlen - 1));
  p = rudp_put_uint8(p, b0);
  p = rudp_put_uint32be(p, hd->version);
  p = put_cid(p, &hd->dcid);
  p = put_cid(p, &hd->scid);
  if (hd->type == RUDP_PKT_CONNECT) {
    p = rudp_put_varint(p, hd->tokenlen);
    p = rudp_put_bytes(p, hd->token, hd->tokenlen);
  }
  p = rudp_put_varint_n(p, hd->len, lenlen);
  p = put_pkt_num(p, hd->pkt_num, hd->pkt_numlen);
  assert((size_t)(p - out) == need);
  return p - out;
}

int rudp_pkt_patch_len(uint8_t *pkt, size_t pktlen, uint64_t len) {
  rudp_pkt_hd h;
  size_t off, width;
  uint64_t maxlen;
  int rv;

  if (pktlen == 0) {
    return RUDP_ERR_TRUNCATED;
  }
  if (!(pkt[0] & PKT_HEADER_FORM_BIT)) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  memset(&h, 0, sizeof(h));
  rv = decode_long(&h, &off, pkt, pktlen);
  if (rv != 0) {
    return rv;
  }
  if (h.type == RUDP_PKT_RETRY || h.type == RUDP_PKT_VERSION_NEGOTIATION) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }

  width = rudp_varint_len_from_first(pkt[off]);
  maxlen = width == 8 ? RUDP_MAX_VARINT : (1ULL << (8 * width - 2)) - 1;
  if (len > maxlen) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  rudp_put_varint_n(pkt + off, len, width);
  return 0;
}

rudp_ssize rudp_pkt_encode_retry(uint8_t *out, size_t outlen, uint32_t version,
                                 const rudp_cid *dcid, const rudp_cid *scid,
                                 const rudp_cid *odcid, const uint8_t *token,
                                 size_t tokenlen) {
  uint8_t *p = out;
  size_t need;

  if (version == 0 || dcid->datalen > RUDP_MAX_CIDLEN ||
      scid->datalen > RUDP_MAX_CIDLEN || odcid->datalen > RUDP_MAX_CIDLEN ||
      tokenlen < 1 || tokenlen > RUDP_PKT_MAX_TOKENLEN || token == NULL) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }

  need = 1 + 4 + 1 + dcid->datalen + 1 + scid->datalen + 1 + odcid->datalen +
         rudp_varint_len(tokenlen) + tokenlen + RUDP_PKT_CRCLEN;
  if (outlen < need) {
    return RUDP_ERR_NOBUF;
  }

  p = rudp_put_uint8(p, (uint8_t)(PKT_HEADER_FORM_BIT | PKT_FIXED_BIT |
                                  ((unsigned)RUDP_PKT_RETRY << 4)));
  p = rudp_put_uint32be(p, version);
  p = put_cid(p, dcid);
  p = put_cid(p, scid);
  p = put_cid(p, odcid);
  p = rudp_put_varint(p, tokenlen);
  p = rudp_put_bytes(p, token, tokenlen);
  return (rudp_ssize)rudp_pkt_seal_crc(out, (size_t)(p - out));
}

rudp_ssize rudp_pkt_encode_version_negotiation(
    uint8_t *out, size_t outlen, uint8_t unused, const rudp_cid *dcid,
    const rudp_cid *scid, const uint32_t *versions, size_t nversions) {
  uint8_t *p = out;
  size_t base, i;

  if (dcid->datalen > RUDP_MAX_CIDLEN || scid->datalen > RUDP_MAX_CIDLEN ||
      nversions == 0 || versions == NULL) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }

  base = 1 + 4 + 1 + dcid->datalen + 1 + scid->datalen + RUDP_PKT_CRCLEN;
  /* Divide rather than multiply: nversions * 4 could overflow. */
  if (outlen < base || (outlen - base) / 4 < nversions) {
    return RUDP_ERR_NOBUF;
  }

  p = rudp_put_uint8(p, (uint8_t)(PKT_HEADER_FORM_BIT | (unused & 0x7fu)));
  p = rudp_put_uint32be(p, 0);
  p = put_cid(p, dcid);
  p = put_cid(p, scid);
  for (i = 0; i < nversions; ++i) {
    p = rudp_put_uint32be(p, versions[i]);
  }
  return (rudp_ssize)rudp_pkt_seal_crc(out, (size_t)(p - out));
}

uint32_t rudp_pkt_get_version(const rudp_pkt_hd *hd, size_t i) {
  uint32_t v;

  assert(i < hd->nversions);
  rudp_get_uint32be(&v, hd->versions + 4 * i);
  return v;
}

size_t rudp_pkt_seal_crc(uint8_t *pkt, size_t len) {
  rudp_put_uint32be(pkt + len, rudp_crc32c(0, pkt, len));
  return len + RUDP_PKT_CRCLEN;
}

int rudp_pkt_verify_crc(const uint8_t *pkt, size_t pktlen) {
  uint32_t want;

  if (pktlen < RUDP_PKT_CRCLEN) {
    return RUDP_ERR_TRUNCATED;
  }
  pktlen -= RUDP_PKT_CRCLEN;
  rudp_get_uint32be(&want, pkt + pktlen);
  if (rudp_crc32c(0, pkt, pktlen) != want) {
    return RUDP_ERR_INTEGRITY;
  }
  return 0;
}

/* pkt_crc_pn_seed is the CRC32C of the 8-byte big-endian packet number,
 * from which the packet's CRC continues. */
static uint32_t pkt_crc_pn_seed(uint64_t pkt_num) {
  uint8_t pnbuf[8];
  rudp_put_uint64be(pnbuf, pkt_num);
  return rudp_crc32c(0, pnbuf, sizeof(pnbuf));
}

size_t rudp_pkt_seal_crc_pn(uint8_t *pkt, size_t len, uint64_t pkt_num) {
  rudp_put_uint32be(pkt + len, rudp_crc32c(pkt_crc_pn_seed(pkt_num), pkt, len));
  return len + RUDP_PKT_CRCLEN;
}

int rudp_pkt_verify_crc_pn(const uint8_t *pkt, size_t pktlen,
                           uint64_t pkt_num) {
  uint32_t want;

  if (pktlen < RUDP_PKT_CRCLEN) {
    return RUDP_ERR_TRUNCATED;
  }
  pktlen -= RUDP_PKT_CRCLEN;
  rudp_get_uint32be(&want, pkt + pktlen);
  if (rudp_crc32c(pkt_crc_pn_seed(pkt_num), pkt, pktlen) != want) {
    return RUDP_ERR_INTEGRITY;
  }
  return 0;
}

size_t rudp_pkt_num_len(uint64_t pn, uint64_t largest_acked) {
  uint64_t num_unacked;

  /* RFC 9000 appendix A.2: min_bits = log2(num_unacked) + 1 and
   * num_bytes = ceil(min_bits / 8).  In integers, n bytes suffice exactly
   * when num_unacked <= 2^(8n - 1), which keeps |pn| inside the
   * receiver's half-window around its largest received number. */
  if (largest_acked == UINT64_MAX) {
    num_unacked = pn + 1;
  } else if (pn > largest_acked) {
    num_unacked = pn - largest_acked;
  } else {
    /* Never sent: numbers only grow.  Take the widest form. */
    return RUDP_PKT_MAX_PKT_NUMLEN;
  }

  if (num_unacked <= (1ULL << 7)) {
    return 1;
  }
  if (num_unacked <= (1ULL << 15)) {
    return 2;
  }
  if (num_unacked <= (1ULL << 23)) {
    return 3;
  }
  return 4;
}

uint64_t rudp_pkt_decode_pkt_num(uint64_t largest_pn, uint64_t truncated,
                                 size_t pkt_numlen) {
  /* UINT64_MAX + 1 wraps to 0: with nothing received, expect packet 0. */
  uint64_t expected = largest_pn + 1;
  uint64_t win, hwin, mask, candidate;

  assert(pkt_numlen >= 1 && pkt_numlen <= RUDP_PKT_MAX_PKT_NUMLEN);

  win = 1ULL << (pkt_numlen * 8);
  hwin = win / 2;
  mask = win - 1;
  candidate = (expected & ~mask) | (truncated & mask);

  /* RFC 9000 appendix A.3.  The RFC's "candidate <= expected - hwin" is
   * written "candidate + hwin <= expected" so that it cannot wrap when
   * expected < hwin; all values stay below 2^63. */
  if (candidate + hwin <= expected && candidate < (1ULL << 62) - win) {
    return candidate + win;
  }
  if (candidate > expected + hwin && candidate >= win) {
    return candidate - win;
  }
  return candidate;
}
