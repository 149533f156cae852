/*
 * Fuzz target: packet header decoding (lib/rudp_pkt.c).
 *
 * Input: byte 0 selects the short-header DCID length (byte % 21; the
 * corpus uses 8), the rest is a datagram.  Its coalesced packets are
 * decoded one after the other as the receive path walks them.  For each
 * decoded header the target checks that it stays inside the input, that
 * encoding it again and decoding that gives the same header, that sealing
 * and verifying the CRC agree, and that packet-number expansion is
 * consistent with truncation.
 */
#include "fuzz_common.h"

#include <string.h>

#include "rudp_pkt.h"

#define BUFLEN (70 * 1024)

static uint8_t buf[BUFLEN];

static int in_range(const uint8_t *p, size_t n, const uint8_t *lo,
                    const uint8_t *hi) {
  return n == 0 || (p >= lo && p <= hi && n <= (size_t)(hi - p));
}

static void check_same_hd(const rudp_pkt_hd *a, const rudp_pkt_hd *b) {
  FUZZ_CHECK(a->type == b->type);
  FUZZ_CHECK(a->flags == b->flags);
  FUZZ_CHECK(a->version == b->version);
  FUZZ_CHECK(rudp_cid_eq(&a->dcid, &b->dcid));
  FUZZ_CHECK(rudp_cid_eq(&a->scid, &b->scid));
  FUZZ_CHECK(a->tokenlen == b->tokenlen);
  FUZZ_CHECK(a->tokenlen == 0 || memcmp(a->token, b->token, a->tokenlen) == 0);
  FUZZ_CHECK(a->pkt_num == b->pkt_num);
  FUZZ_CHECK(a->pkt_numlen == b->pkt_numlen);
}

/* check_pkt_num: expansion gives back the truncated bits, from any
 * reference point. */
static void check_pkt_num(const rudp_pkt_hd *hd) {
  static const uint64_t refs[] = {
      UINT64_MAX, 0, 1, 200, 70000, 1ULL << 40, RUDP_PKT_MAX_PKT_NUM - 1};
  uint64_t mask =
      hd->pkt_numlen >= 8 ? UINT64_MAX : (1ULL << (8 * hd->pkt_numlen)) - 1;
  size_t i;
  for (i = 0; i < sizeof(refs) / sizeof(refs[0]); ++i) {
    uint64_t pn = rudp_pkt_decode_pkt_num(refs[i], hd->pkt_num, hd->pkt_numlen);
    FUZZ_CHECK((pn & mask) == hd->pkt_num);
  }
}

/* check_crc: sealing a copy and verifying it agree, and the original's
 * verdict does not depend on anything but its bytes. */
static void check_crc(const uint8_t *pkt, size_t pktlen, int with_pn,
                      uint64_t pn) {
  if (pktlen < RUDP_PKT_CRCLEN || pktlen > BUFLEN) {
    return;
  }
  memcpy(buf, pkt, pktlen);
  if (with_pn) {
    FUZZ_CHECK(rudp_pkt_seal_crc_pn(buf, pktlen - RUDP_PKT_CRCLEN, pn) ==
               pktlen);
    FUZZ_CHECK(rudp_pkt_verify_crc_pn(buf, pktlen, pn) == 0);
    /* Another packet number is another CRC. */
    FUZZ_CHECK(rudp_pkt_verify_crc_pn(buf, pktlen, pn ^ 1) ==
               RUDP_ERR_INTEGRITY);
  } else {
    FUZZ_CHECK(rudp_pkt_seal_crc(buf, pktlen - RUDP_PKT_CRCLEN) == pktlen);
    FUZZ_CHECK(rudp_pkt_verify_crc(buf, pktlen) == 0);
  }
}

/* check_long_or_short: re-encode a CONNECT, ACCEPT, HANDSHAKE or short
 * header followed by the original rest of the packet, decode that, and
 * compare. */
static void check_reencode(const rudp_pkt_hd *hd, const uint8_t *pkt,
                           size_t hdlen, size_t short_dcidlen) {
  rudp_pkt_hd hd2;
  rudp_ssize n, n2;
  size_t rest = hd->pktlen - hdlen;

  n = rudp_pkt_encode_hd(buf, BUFLEN, hd);
  if (hd->type != RUDP_PKT_SHORT && hd->len > (1ULL << 30) - 1) {
    /* The encoder writes at most a 4-byte length field. */
    FUZZ_CHECK(n == RUDP_ERR_INVALID_ARGUMENT);
    return;
  }
  FUZZ_CHECK(n > 0);
  /* The encoder writes minimal fields, except the 2- or 4-byte length. */
  FUZZ_CHECK((size_t)n <= hdlen + 2);
  if ((size_t)n + rest > BUFLEN) {
    return;
  }
  memcpy(buf + n, pkt + hdlen, rest);
  n2 = rudp_pkt_decode_hd(&hd2, buf, (size_t)n + rest, short_dcidlen);
  FUZZ_CHECK(n2 == n);
  check_same_hd(hd, &hd2);
  FUZZ_CHECK(hd2.len == hd->len);
  FUZZ_CHECK(hd2.pktlen == (size_t)n + rest);
  if (hd->type != RUDP_PKT_SHORT) {
    /* Patching the length to its own value changes nothing. */
    FUZZ_CHECK(rudp_pkt_patch_len(buf, (size_t)n + rest, hd->len) == 0);
    n2 = rudp_pkt_decode_hd(&hd2, buf, (size_t)n + rest, short_dcidlen);
    FUZZ_CHECK(n2 == n && hd2.len == hd->len);
  }
}

static void check_retry(const rudp_pkt_hd *hd, size_t short_dcidlen) {
  rudp_pkt_hd hd2;
  rudp_ssize n, n2;

  n = rudp_pkt_encode_retry(buf, BUFLEN, hd->version, &hd->dcid, &hd->scid,
                            &hd->odcid, hd->token, hd->tokenlen);
  FUZZ_CHECK(n > 0);
  n2 = rudp_pkt_decode_hd(&hd2, buf, (size_t)n, short_dcidlen);
  FUZZ_CHECK(n2 == n - RUDP_PKT_CRCLEN);
  FUZZ_CHECK(hd2.type == RUDP_PKT_RETRY);
  FUZZ_CHECK(hd2.version == hd->version);
  FUZZ_CHECK(rudp_cid_eq(&hd2.dcid, &hd->dcid));
  FUZZ_CHECK(rudp_cid_eq(&hd2.scid, &hd->scid));
  FUZZ_CHECK(rudp_cid_eq(&hd2.odcid, &hd->odcid));
  FUZZ_CHECK(hd2.tokenlen == hd->tokenlen &&
             memcmp(hd2.token, hd->token, hd->tokenlen) == 0);
  FUZZ_CHECK(rudp_pkt_verify_crc(buf, (size_t)n) == 0);
}

static void check_vn(const rudp_pkt_hd *hd, const uint8_t *pkt,
                     size_t short_dcidlen) {
  static uint32_t versions[BUFLEN / 4];
  rudp_pkt_hd hd2;
  rudp_ssize n, n2;
  size_t i;

  for (i = 0; i < hd->nversions; ++i) {
    versions[i] = rudp_pkt_get_version(hd, i);
  }
  n = rudp_pkt_encode_version_negotiation(buf, BUFLEN, pkt[0] & 0x7f, &hd->dcid,
                                          &hd->scid, versions, hd->nversions);
  FUZZ_CHECK(n > 0);
  /* Version negotiation has no variable-length fields: the same bytes
   * but the CRC. */
  FUZZ_CHECK((size_t)n == hd->pktlen);
  FUZZ_CHECK(memcmp(buf, pkt, hd->pktlen - RUDP_PKT_CRCLEN) == 0);
  n2 = rudp_pkt_decode_hd(&hd2, buf, (size_t)n, short_dcidlen);
  FUZZ_CHECK(n2 == n - RUDP_PKT_CRCLEN);
  FUZZ_CHECK(hd2.nversions == hd->nversions);
  FUZZ_CHECK(rudp_pkt_verify_crc(buf, (size_t)n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *p, *end;
  size_t short_dcidlen;

  if (size < 1) {
    return 0;
  }
  short_dcidlen = data[0] % (RUDP_MAX_CIDLEN + 1);
  p = data + 1;
  end = data + size;

  while (p < end) {
    rudp_pkt_hd hd;
    rudp_ssize hdlen;
    size_t left = (size_t)(end - p);

    hdlen = rudp_pkt_decode_hd(&hd, p, left, short_dcidlen);
    if (hdlen < 0) {
      FUZZ_CHECK(hdlen == RUDP_ERR_TRUNCATED || hdlen == RUDP_ERR_BAD_PACKET);
      break;
    }
    FUZZ_CHECK(hdlen > 0);
    FUZZ_CHECK((size_t)hdlen <= hd.pktlen);
    FUZZ_CHECK(hd.pktlen <= left);
    FUZZ_CHECK(hd.dcid.datalen <= RUDP_MAX_CIDLEN);
    FUZZ_CHECK(hd.scid.datalen <= RUDP_MAX_CIDLEN);
    FUZZ_CHECK(in_range(hd.token, hd.tokenlen, p, p + hd.pktlen));
    FUZZ_CHECK(in_range(hd.versions, hd.nversions * 4, p, p + hd.pktlen));

    switch (hd.type) {
    case RUDP_PKT_RETRY:
      FUZZ_CHECK((size_t)hdlen + RUDP_PKT_CRCLEN == hd.pktlen);
      FUZZ_CHECK(hd.tokenlen >= 1 && hd.tokenlen <= RUDP_PKT_MAX_TOKENLEN);
      check_retry(&hd, short_dcidlen);
      check_crc(p, hd.pktlen, 0, 0);
      return 0; /* never coalesced */
    case RUDP_PKT_VERSION_NEGOTIATION:
      FUZZ_CHECK(hd.pktlen == left && hd.nversions > 0);
      check_vn(&hd, p, short_dcidlen);
      check_crc(p, hd.pktlen, 0, 0);
      return 0;
    case RUDP_PKT_CONNECT:
    case RUDP_PKT_ACCEPT:
    case RUDP_PKT_HANDSHAKE:
    case RUDP_PKT_SHORT:
      FUZZ_CHECK(hd.pkt_numlen >= 1 && hd.pkt_numlen <= 4);
      FUZZ_CHECK(hd.type == RUDP_PKT_CONNECT || hd.tokenlen == 0);
      check_pkt_num(&hd);
      check_reencode(&hd, p, (size_t)hdlen, short_dcidlen);
      check_crc(p, hd.pktlen, 1, hd.pkt_num);
      break;
    default:
      FUZZ_CHECK(!"unknown packet type");
    }
    if (hd.type == RUDP_PKT_SHORT) {
      FUZZ_CHECK(hd.pktlen == left);
      break;
    }
    p += hd.pktlen;
  }
  return 0;
}
