/*
 * Tests of the packet header codec (lib/rudp_pkt.c): exact wire bytes,
 * round trips at boundary values, every truncation, every malformation the
 * contract names, CRC32C sealing, and packet-number truncation against
 * RFC 9000 appendix A.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rudp_conv.h"
#include "rudp_crc32c.h"
#include "rudp_pkt.h"
#include "rudp_test_helper.h"

/* BUFLEN holds the largest packet built here (a 16384-byte length field
 * plus a long header). */
#define BUFLEN 17000

static uint8_t buf[BUFLEN];
static uint8_t buf2[BUFLEN];

static const size_t cidlens[] = {0, 1, 8, 20};

/* make_cid fills |cid| with |len| bytes derived from |seed|. */
static void make_cid(rudp_cid *cid, size_t len, uint8_t seed) {
  uint8_t data[RUDP_MAX_CIDLEN];
  size_t i;

  for (i = 0; i < len; ++i) {
    data[i] = (uint8_t)(seed + i * 7);
  }
  rudp_cid_init(cid, data, len);
}

static void assert_cid_equal(const rudp_cid *a, const rudp_cid *b) {
  assert_int_equal(a->datalen, b->datalen);
  assert_true(rudp_cid_eq(a, b));
}

/* long_hdlen is the header length rudp_pkt_encode_hd must produce. */
static size_t long_hdlen(const rudp_pkt_hd *hd) {
  size_t n = 1 + 4 + 1 + hd->dcid.datalen + 1 + hd->scid.datalen;

  if (hd->type == RUDP_PKT_CONNECT) {
    n += (hd->tokenlen < 64 ? 1 : 2) + hd->tokenlen;
  }
  return n + (hd->len < 16384 ? 2 : 4) + hd->pkt_numlen;
}

static uint64_t pn_mask(size_t pnlen) { return (1ULL << (8 * pnlen)) - 1; }

/*
 * long_round_trip encodes a long header, appends len - pkt_numlen bytes of
 * payload, decodes the result and checks every field.
 */
static void long_round_trip(rudp_pkt_type type, size_t dcidlen, size_t scidlen,
                            size_t tokenlen, size_t pnlen, uint64_t pn,
                            uint64_t len) {
  static uint8_t token[RUDP_PKT_MAX_TOKENLEN];
  rudp_pkt_hd hd, got;
  rudp_ssize n, m;
  size_t hdlen, total, i;

  for (i = 0; i < sizeof(token); ++i) {
    token[i] = (uint8_t)(i * 13 + 5);
  }
  memset(&hd, 0, sizeof(hd));
  hd.type = type;
  hd.version = 0x01020304;
  make_cid(&hd.dcid, dcidlen, 0x10);
  make_cid(&hd.scid, scidlen, 0x80);
  hd.token = tokenlen ? token : NULL;
  hd.tokenlen = tokenlen;
  hd.pkt_num = pn;
  hd.pkt_numlen = pnlen;
  hd.len = len;

  hdlen = long_hdlen(&hd);
  n = rudp_pkt_encode_hd(buf, BUFLEN, &hd);
  assert_int_equal(n, hdlen);
  assert_int_equal(buf[0], 0xc0 | ((unsigned)type << 4) | (pnlen - 1));

  total = hdlen - pnlen + (size_t)len;
  assert_true(total <= BUFLEN);
  for (i = hdlen; i < total; ++i) {
    buf[i] = (uint8_t)i;
  }

  memset(&got, 0xee, sizeof(got));
  m = rudp_pkt_decode_hd(&got, buf, total, 0);
  assert_int_equal(m, hdlen);
  assert_int_equal(got.type, type);
  assert_int_equal(got.flags, RUDP_PKT_FLAG_LONG_FORM);
  assert_int_equal(got.version, 0x01020304);
  assert_cid_equal(&got.dcid, &hd.dcid);
  assert_cid_equal(&got.scid, &hd.scid);
  if (type == RUDP_PKT_CONNECT) {
    assert_int_equal(got.tokenlen, tokenlen);
    if (tokenlen) {
      assert_memory_equal(got.token, token, tokenlen);
      /* The token points into the decoded buffer, not a copy. */
      assert_true(got.token > buf && got.token < buf + hdlen);
    }
  } else {
    assert_int_equal(got.tokenlen, 0);
  }
  assert_int_equal(got.pkt_numlen, pnlen);
  assert_int_equal(got.pkt_num, pn & pn_mask(pnlen));
  assert_int_equal(got.len, len);
  assert_int_equal(got.pktlen, total);

  /* Trailing bytes (a coalesced packet) change nothing. */
  if (total + 7 <= BUFLEN) {
    m = rudp_pkt_decode_hd(&got, buf, total + 7, 0);
    assert_int_equal(m, hdlen);
    assert_int_equal(got.pktlen, total);
  }
}

static void test_rudp_pkt_cid_init_eq(void **state) {
  rudp_cid a, b;
  static const uint8_t d1[] = {1, 2, 3}, d2[] = {1, 2, 4};
  uint8_t d20[RUDP_MAX_CIDLEN];
  (void)state;

  rudp_cid_init(&a, d1, 3);
  assert_int_equal(a.datalen, 3);
  assert_memory_equal(a.data, d1, 3);
  rudp_cid_init(&b, d1, 3);
  assert_true(rudp_cid_eq(&a, &b));
  rudp_cid_init(&b, d2, 3);
  assert_false(rudp_cid_eq(&a, &b));
  rudp_cid_init(&b, d1, 2);
  assert_false(rudp_cid_eq(&a, &b));
  /* Empty IDs are equal whatever the unused bytes hold. */
  memset(&a, 0x11, sizeof(a));
  memset(&b, 0x22, sizeof(b));
  rudp_cid_init(&a, NULL, 0);
  rudp_cid_init(&b, d1, 0);
  assert_true(rudp_cid_eq(&a, &b));
  memset(d20, 0xab, sizeof(d20));
  rudp_cid_init(&a, d20, RUDP_MAX_CIDLEN);
  rudp_cid_init(&b, d20, RUDP_MAX_CIDLEN);
  assert_true(rudp_cid_eq(&a, &b));
  b.data[19] ^= 1;
  assert_false(rudp_cid_eq(&a, &b));
}

/* Exact bytes of one packet of each kind: this pins the wire layout of
 * rudp_pkt.h (and docs/PROTOCOL.md). */
static void test_rudp_pkt_wire_bytes(void **state) {
  static const uint8_t dcid[] = {0xaa, 0xbb}, scid[] = {0xcc};
  static const uint8_t token[] = {0x11, 0x22};
  static const uint8_t want_connect[] = {0xc1, 0x00, 0x00, 0x00, 0x01, 0x02,
                                         0xaa, 0xbb, 0x01, 0xcc, 0x02, 0x11,
                                         0x22, 0x40, 0x05, 0x12, 0x34};
  static const uint8_t want_accept[] = {0xd0, 0x00, 0x00, 0x00, 0x01, 0x00,
                                        0x00, 0x80, 0x00, 0x40, 0x00, 0x09};
  static const uint8_t want_handshake[] = {0xe3, 0xff, 0xff, 0xff, 0xff, 0x01,
                                           0xaa, 0x00, 0x80, 0x00, 0x40, 0x00,
                                           0x01, 0x02, 0x03, 0x04};
  static const uint8_t want_short[] = {0x66, 0xaa, 0xbb, 0xab, 0xcd, 0xef};
  static const uint8_t want_retry[] = {0xf0, 0x00, 0x00, 0x00, 0x01, 0x01, 0xaa,
                                       0x00, 0x02, 0xaa, 0xbb, 0x01, 0x11};
  static const uint8_t want_vn[] = {0xa5, 0x00, 0x00, 0x00, 0x00, 0x01,
                                    0xcc, 0x02, 0xaa, 0xbb, 0x00, 0x00,
                                    0x00, 0x01, 0xff, 0x00, 0x00, 0x02};
  static const uint32_t versions[] = {1, 0xff000002};
  rudp_pkt_hd hd;
  rudp_cid d, s, o, empty;
  uint32_t crc;
  (void)state;

  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_CONNECT;
  hd.version = 1;
  rudp_cid_init(&hd.dcid, dcid, 2);
  rudp_cid_init(&hd.scid, scid, 1);
  hd.token = token;
  hd.tokenlen = 2;
  hd.pkt_num = 0x551234;
  hd.pkt_numlen = 2;
  hd.len = 5;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd), sizeof(want_connect));
  assert_memory_equal(buf, want_connect, sizeof(want_connect));

  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_ACCEPT;
  hd.version = 1;
  hd.pkt_num = 9;
  hd.pkt_numlen = 1;
  hd.len = 16384;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd), sizeof(want_accept));
  assert_memory_equal(buf, want_accept, sizeof(want_accept));

  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_HANDSHAKE;
  hd.version = 0xffffffff;
  rudp_cid_init(&hd.dcid, dcid, 1);
  hd.pkt_num = 0x0901020304ULL;
  hd.pkt_numlen = 4;
  hd.len = 16384;
  /* Key phase and spin mean nothing in a long header. */
  hd.flags = RUDP_PKT_FLAG_KEY_PHASE | RUDP_PKT_FLAG_SPIN;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd),
                   sizeof(want_handshake));
  assert_memory_equal(buf, want_handshake, sizeof(want_handshake));

  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_SHORT;
  hd.flags = RUDP_PKT_FLAG_KEY_PHASE | RUDP_PKT_FLAG_SPIN;
  rudp_cid_init(&hd.dcid, dcid, 2);
  hd.pkt_num = 0x12abcdef;
  hd.pkt_numlen = 3;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd), sizeof(want_short));
  assert_memory_equal(buf, want_short, sizeof(want_short));

  rudp_cid_init(&d, dcid, 1);
  rudp_cid_init(&empty, NULL, 0);
  rudp_cid_init(&o, dcid, 2);
  assert_int_equal(
      rudp_pkt_encode_retry(buf, BUFLEN, 1, &d, &empty, &o, token, 1),
      sizeof(want_retry) + 4);
  assert_memory_equal(buf, want_retry, sizeof(want_retry));
  crc = rudp_crc32c(0, want_retry, sizeof(want_retry));
  assert_int_equal(buf[sizeof(want_retry)], crc >> 24);
  assert_int_equal(buf[sizeof(want_retry) + 3], crc & 0xff);

  rudp_cid_init(&s, scid, 1);
  rudp_cid_init(&d, dcid, 2);
  /* Only the low 7 bits of |unused| are used. */
  assert_int_equal(rudp_pkt_encode_version_negotiation(buf, BUFLEN, 0xa5, &s,
                                                       &d, versions, 2),
                   sizeof(want_vn) + 4);
  assert_memory_equal(buf, want_vn, sizeof(want_vn));
  assert_int_equal(rudp_pkt_verify_crc(buf, sizeof(want_vn) + 4), 0);
}

static void test_rudp_pkt_connect_round_trip(void **state) {
  size_t i, j, pnlen;
  (void)state;

  for (i = 0; i < 4; ++i) {
    for (j = 0; j < 4; ++j) {
      for (pnlen = 1; pnlen <= 4; ++pnlen) {
        /* Without a token, and with tokens of 1-byte and 2-byte lengths. */
        long_round_trip(RUDP_PKT_CONNECT, cidlens[i], cidlens[j], 0, pnlen,
                        0x0102030405ULL, pnlen + 1200);
        long_round_trip(RUDP_PKT_CONNECT, cidlens[i], cidlens[j], 1, pnlen, 0,
                        pnlen);
        long_round_trip(RUDP_PKT_CONNECT, cidlens[i], cidlens[j], 63, pnlen,
                        0xff, pnlen + 4);
        long_round_trip(RUDP_PKT_CONNECT, cidlens[i], cidlens[j], 64, pnlen,
                        0xffffffff, pnlen + 4);
        long_round_trip(RUDP_PKT_CONNECT, cidlens[i], cidlens[j],
                        RUDP_PKT_MAX_TOKENLEN, pnlen, 0x3fffffffffffffffULL,
                        16383);
      }
    }
  }
}

static void test_rudp_pkt_accept_handshake_round_trip(void **state) {
  static const rudp_pkt_type types[] = {RUDP_PKT_ACCEPT, RUDP_PKT_HANDSHAKE};
  size_t t, i, j, pnlen;
  (void)state;

  for (t = 0; t < 2; ++t) {
    for (i = 0; i < 4; ++i) {
      for (j = 0; j < 4; ++j) {
        for (pnlen = 1; pnlen <= 4; ++pnlen) {
          long_round_trip(types[t], cidlens[i], cidlens[j], 0, pnlen,
                          0xa1b2c3d4e5ULL, pnlen);
          long_round_trip(types[t], cidlens[i], cidlens[j], 0, pnlen, 7,
                          pnlen + 100);
        }
      }
    }
  }
}

/* The length field is 2 bytes through 16383 and 4 bytes from 16384. */
static void test_rudp_pkt_long_len_boundaries(void **state) {
  static const uint64_t lens[] = {16382, 16383, 16384, 16385};
  rudp_pkt_hd hd;
  size_t i, pnlen;
  (void)state;

  for (i = 0; i < 4; ++i) {
    for (pnlen = 1; pnlen <= 4; ++pnlen) {
      long_round_trip(RUDP_PKT_HANDSHAKE, 8, 8, 0, pnlen, 1, lens[i]);
      long_round_trip(RUDP_PKT_CONNECT, 20, 0, 3, pnlen, 1, lens[i]);
    }
  }

  /* The largest encodable length is 2^30 - 1 (4-byte varint). */
  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_ACCEPT;
  hd.version = 1;
  hd.pkt_numlen = 1;
  hd.len = (1ULL << 30) - 1;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd), 1 + 4 + 2 + 4 + 1);
  assert_int_equal(buf[7], 0xbf);
  assert_int_equal(buf[10], 0xff);
  hd.len = 1ULL << 30;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd),
                   RUDP_ERR_INVALID_ARGUMENT);
}

static void test_rudp_pkt_short_round_trip(void **state) {
  static const uint8_t flagsets[] = {
      RUDP_PKT_FLAG_NONE, RUDP_PKT_FLAG_SPIN, RUDP_PKT_FLAG_KEY_PHASE,
      RUDP_PKT_FLAG_SPIN | RUDP_PKT_FLAG_KEY_PHASE};
  rudp_pkt_hd hd, got;
  size_t f, i, pnlen, hdlen;
  rudp_ssize n;
  (void)state;

  for (f = 0; f < 4; ++f) {
    for (i = 0; i < 4; ++i) {
      for (pnlen = 1; pnlen <= 4; ++pnlen) {
        memset(&hd, 0, sizeof(hd));
        hd.type = RUDP_PKT_SHORT;
        hd.flags = flagsets[f];
        make_cid(&hd.dcid, cidlens[i], 0x33);
        hd.pkt_num = 0x8877665544332211ULL;
        hd.pkt_numlen = pnlen;
        hdlen = 1 + cidlens[i] + pnlen;
        n = rudp_pkt_encode_hd(buf, BUFLEN, &hd);
        assert_int_equal(n, hdlen);
        assert_int_equal(
            buf[0], 0x40 | (pnlen - 1) |
                        ((flagsets[f] & RUDP_PKT_FLAG_SPIN) ? 0x20 : 0) |
                        ((flagsets[f] & RUDP_PKT_FLAG_KEY_PHASE) ? 0x04 : 0));

        /* A short packet fills the datagram: header only, and with 30
         * more bytes. */
        memset(&got, 0, sizeof(got));
        assert_int_equal(rudp_pkt_decode_hd(&got, buf, hdlen, cidlens[i]),
                         hdlen);
        assert_int_equal(got.pktlen, hdlen);
        assert_int_equal(rudp_pkt_decode_hd(&got, buf, hdlen + 30, cidlens[i]),
                         hdlen);
        assert_int_equal(got.type, RUDP_PKT_SHORT);
        assert_int_equal(got.flags, flagsets[f]);
        assert_cid_equal(&got.dcid, &hd.dcid);
        assert_int_equal(got.pkt_numlen, pnlen);
        assert_int_equal(got.pkt_num, hd.pkt_num & pn_mask(pnlen));
        assert_int_equal(got.pktlen, hdlen + 30);
        assert_int_equal(got.scid.datalen, 0);
      }
    }
  }
}

static void test_rudp_pkt_retry_round_trip(void **state) {
  static const size_t toklens[] = {1, 63, 64, RUDP_PKT_MAX_TOKENLEN};
  uint8_t token[RUDP_PKT_MAX_TOKENLEN];
  rudp_cid d, s, o;
  rudp_pkt_hd hd;
  size_t i, j, k, t, want;
  rudp_ssize n;
  (void)state;

  memset(token, 0x5a, sizeof(token));
  token[0] = 0x01;
  for (i = 0; i < 4; ++i) {
    for (j = 0; j < 4; ++j) {
      for (k = 0; k < 4; ++k) {
        for (t = 0; t < 4; ++t) {
          make_cid(&d, cidlens[i], 1);
          make_cid(&s, cidlens[j], 2);
          make_cid(&o, cidlens[k], 3);
          want = 1 + 4 + 3 + cidlens[i] + cidlens[j] + cidlens[k] +
                 (toklens[t] < 64 ? 1 : 2) + toklens[t];
          n = rudp_pkt_encode_retry(buf, BUFLEN, 0xabcdef01, &d, &s, &o, token,
                                    toklens[t]);
          assert_int_equal(n, want + RUDP_PKT_CRCLEN);
          assert_int_equal(buf[0], 0xf0);
          assert_int_equal(rudp_pkt_verify_crc(buf, (size_t)n), 0);

          /* Bytes after the CRC are not part of the RETRY. */
          memset(&hd, 0, sizeof(hd));
          assert_int_equal(rudp_pkt_decode_hd(&hd, buf, (size_t)n + 9, 0),
                           want);
          assert_int_equal(hd.type, RUDP_PKT_RETRY);
          assert_int_equal(hd.flags, RUDP_PKT_FLAG_LONG_FORM);
          assert_int_equal(hd.version, 0xabcdef01);
          assert_cid_equal(&hd.dcid, &d);
          assert_cid_equal(&hd.scid, &s);
          assert_cid_equal(&hd.odcid, &o);
          assert_int_equal(hd.tokenlen, toklens[t]);
          assert_ptr_equal(hd.token, buf + want - toklens[t]);
          assert_int_equal(hd.pktlen, (size_t)n);
          assert_int_equal(hd.pkt_numlen, 0);
        }
      }
    }
  }
}

static void test_rudp_pkt_version_negotiation_round_trip(void **state) {
  uint32_t versions[64];
  static const size_t counts[] = {1, 2, 3, 64};
  rudp_cid d, s;
  rudp_pkt_hd hd;
  size_t i, j, c, v, want;
  rudp_ssize n;
  (void)state;

  for (v = 0; v < 64; ++v) {
    versions[v] = (uint32_t)(0x0a0a0a0a + v * 0x01010101);
  }
  versions[1] = 0xffffffff;
  for (i = 0; i < 4; ++i) {
    for (j = 0; j < 4; ++j) {
      for (c = 0; c < 4; ++c) {
        make_cid(&d, cidlens[i], 9);
        make_cid(&s, cidlens[j], 19);
        want = 1 + 4 + 2 + cidlens[i] + cidlens[j] + 4 * counts[c];
        n = rudp_pkt_encode_version_negotiation(
            buf, BUFLEN, (uint8_t)(i * 37 + c), &d, &s, versions, counts[c]);
        assert_int_equal(n, want + RUDP_PKT_CRCLEN);
        assert_int_equal(buf[0], 0x80 | ((i * 37 + c) & 0x7f));
        assert_int_equal(rudp_pkt_verify_crc(buf, (size_t)n), 0);

        memset(&hd, 0, sizeof(hd));
        assert_int_equal(rudp_pkt_decode_hd(&hd, buf, (size_t)n, 0), want);
        assert_int_equal(hd.type, RUDP_PKT_VERSION_NEGOTIATION);
        assert_int_equal(hd.flags, RUDP_PKT_FLAG_LONG_FORM);
        assert_int_equal(hd.version, 0);
        assert_cid_equal(&hd.dcid, &d);
        assert_cid_equal(&hd.scid, &s);
        assert_int_equal(hd.nversions, counts[c]);
        assert_int_equal(hd.pktlen, (size_t)n);
        for (v = 0; v < counts[c]; ++v) {
          assert_int_equal(rudp_pkt_get_version(&hd, v), versions[v]);
        }
      }
    }
  }
}

/* Version 0 means version negotiation whatever the other 7 bits say. */
static void test_rudp_pkt_version_negotiation_any_first_byte(void **state) {
  static const uint8_t body[] = {0x00, 0x00, 0x00, 0x00, 0x00,
                                 0x00, 0x00, 0x00, 0x00, 0x07};
  rudp_pkt_hd hd;
  unsigned b;
  (void)state;

  for (b = 0x80; b <= 0xff; ++b) {
    buf[0] = (uint8_t)b;
    memcpy(buf + 1, body, sizeof(body));
    rudp_pkt_seal_crc(buf, 1 + sizeof(body));
    memset(&hd, 0, sizeof(hd));
    assert_int_equal(rudp_pkt_decode_hd(&hd, buf, 1 + sizeof(body) + 4, 0),
                     1 + sizeof(body));
    assert_int_equal(hd.type, RUDP_PKT_VERSION_NEGOTIATION);
    assert_int_equal(hd.nversions, 1);
    assert_int_equal(rudp_pkt_get_version(&hd, 0), 7);
  }
}

/* Every prefix shorter than a long header is RUDP_ERR_TRUNCATED; the whole
 * header (len = pkt_numlen) decodes. */
static void test_rudp_pkt_decode_truncated_long(void **state) {
  static const rudp_pkt_type types[] = {RUDP_PKT_CONNECT, RUDP_PKT_ACCEPT,
                                        RUDP_PKT_HANDSHAKE};
  static const size_t toklens[] = {0, 1, 64};
  uint8_t token[64];
  rudp_pkt_hd hd, got;
  size_t t, i, tk, pnlen, cut, k;
  rudp_ssize n;
  (void)state;

  memset(token, 0x77, sizeof(token));
  for (t = 0; t < 3; ++t) {
    for (i = 0; i < 4; ++i) {
      for (tk = 0; tk < 3; ++tk) {
        for (pnlen = 1; pnlen <= 4; ++pnlen) {
          for (k = 0; k < 2; ++k) {
            memset(&hd, 0, sizeof(hd));
            hd.type = types[t];
            hd.version = 0xdeadbeef;
            make_cid(&hd.dcid, cidlens[i], 5);
            make_cid(&hd.scid, cidlens[3 - i], 6);
            hd.token = token;
            hd.tokenlen = toklens[tk];
            hd.pkt_num = 0x11223344;
            hd.pkt_numlen = pnlen;
            /* Both widths of the length field. */
            hd.len = k ? 16384 : pnlen;
            n = rudp_pkt_encode_hd(buf, BUFLEN, &hd);
            assert_true(n > 0);
            if (k == 0) {
              assert_int_equal(rudp_pkt_decode_hd(&got, buf, (size_t)n, 0), n);
            }
            for (cut = 0; cut < (size_t)n; ++cut) {
              memcpy(buf2, buf, cut);
              assert_int_equal(rudp_pkt_decode_hd(&got, buf2, cut, 0),
                               RUDP_ERR_TRUNCATED);
            }
          }
        }
      }
    }
  }
}

static void test_rudp_pkt_decode_truncated_short(void **state) {
  rudp_pkt_hd hd, got;
  size_t i, pnlen, cut;
  rudp_ssize n;
  (void)state;

  for (i = 0; i < 4; ++i) {
    for (pnlen = 1; pnlen <= 4; ++pnlen) {
      memset(&hd, 0, sizeof(hd));
      hd.type = RUDP_PKT_SHORT;
      hd.flags = RUDP_PKT_FLAG_SPIN;
      make_cid(&hd.dcid, cidlens[i], 4);
      hd.pkt_numlen = pnlen;
      n = rudp_pkt_encode_hd(buf, BUFLEN, &hd);
      assert_int_equal(n, 1 + cidlens[i] + pnlen);
      for (cut = 0; cut < (size_t)n; ++cut) {
        memcpy(buf2, buf, cut);
        assert_int_equal(rudp_pkt_decode_hd(&got, buf2, cut, cidlens[i]),
                         RUDP_ERR_TRUNCATED);
      }
    }
  }
}

/* A RETRY is delimited by its token: every prefix of it, CRC included, is
 * RUDP_ERR_TRUNCATED. */
static void test_rudp_pkt_decode_truncated_retry(void **state) {
  uint8_t token[70];
  rudp_cid d, s, o;
  rudp_pkt_hd got;
  size_t i, cut;
  rudp_ssize n;
  (void)state;

  memset(token, 0x42, sizeof(token));
  for (i = 0; i < 4; ++i) {
    make_cid(&d, cidlens[i], 1);
    make_cid(&s, cidlens[3 - i], 2);
    make_cid(&o, cidlens[(i + 1) % 4], 3);
    n = rudp_pkt_encode_retry(buf, BUFLEN, 1, &d, &s, &o, token,
                              i == 0 ? 1 : 70);
    assert_true(n > 0);
    for (cut = 0; cut < (size_t)n; ++cut) {
      memcpy(buf2, buf, cut);
      assert_int_equal(rudp_pkt_decode_hd(&got, buf2, cut, 0),
                       RUDP_ERR_TRUNCATED);
    }
    assert_int_equal(rudp_pkt_decode_hd(&got, buf, (size_t)n, 0),
                     n - RUDP_PKT_CRCLEN);
  }
}

/*
 * A version negotiation packet runs to the end of the datagram, so its
 * prefixes are: TRUNCATED through the IDs and the first 3 bytes after them
 * (no room for the CRC), then BAD_PACKET (empty or ragged version list), or
 * a valid packet with fewer versions at multiples of 4.
 */
static void test_rudp_pkt_decode_truncated_version_negotiation(void **state) {
  static const uint32_t versions[] = {1, 2, 3};
  rudp_cid d, s;
  rudp_pkt_hd got;
  size_t i, cut, idend;
  rudp_ssize n;
  (void)state;

  for (i = 0; i < 4; ++i) {
    make_cid(&d, cidlens[i], 1);
    make_cid(&s, cidlens[3 - i], 2);
    n = rudp_pkt_encode_version_negotiation(buf, BUFLEN, 0, &d, &s, versions,
                                            3);
    idend = 1 + 4 + 2 + cidlens[i] + cidlens[3 - i];
    assert_int_equal(n, idend + 12 + 4);
    for (cut = 0; cut < (size_t)n; ++cut) {
      memcpy(buf2, buf, cut);
      if (cut < idend + 4) {
        assert_int_equal(rudp_pkt_decode_hd(&got, buf2, cut, 0),
                         RUDP_ERR_TRUNCATED);
      } else if ((cut - idend - 4) % 4 != 0 || cut == idend + 4) {
        assert_int_equal(rudp_pkt_decode_hd(&got, buf2, cut, 0),
                         RUDP_ERR_BAD_PACKET);
      } else {
        assert_int_equal(rudp_pkt_decode_hd(&got, buf2, cut, 0), cut - 4);
        assert_int_equal(got.nversions, (cut - idend - 4) / 4);
      }
    }
  }
}

static void test_rudp_pkt_decode_fixed_bit_clear(void **state) {
  rudp_pkt_hd hd, got;
  rudp_pkt_type t;
  rudp_ssize n;
  (void)state;

  for (t = RUDP_PKT_CONNECT; t <= RUDP_PKT_HANDSHAKE; ++t) {
    memset(&hd, 0, sizeof(hd));
    hd.type = t;
    hd.version = 1;
    hd.pkt_numlen = 1;
    hd.len = 1;
    n = rudp_pkt_encode_hd(buf, BUFLEN, &hd);
    assert_true(n > 0);
    assert_int_equal(rudp_pkt_decode_hd(&got, buf, (size_t)n, 0), n);
    buf[0] &= (uint8_t)~0x40;
    assert_int_equal(rudp_pkt_decode_hd(&got, buf, (size_t)n, 0),
                     RUDP_ERR_BAD_PACKET);
  }

  /* RETRY too. */
  {
    static const uint8_t tok = 1;
    rudp_cid c;
    rudp_cid_init(&c, NULL, 0);
    n = rudp_pkt_encode_retry(buf, BUFLEN, 1, &c, &c, &c, &tok, 1);
    buf[0] &= (uint8_t)~0x40;
    assert_int_equal(rudp_pkt_decode_hd(&got, buf, (size_t)n, 0),
                     RUDP_ERR_BAD_PACKET);
  }

  /* Short header: checked on byte 0 alone. */
  buf[0] = 0x00;
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, 1, 8), RUDP_ERR_BAD_PACKET);
  buf[0] = 0x27; /* spin, key phase, pn_len 4, fixed bit clear */
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, 20, 8), RUDP_ERR_BAD_PACKET);
}

static void test_rudp_pkt_decode_reserved_bits(void **state) {
  static const uint8_t tok = 1;
  rudp_pkt_hd hd, got;
  rudp_cid c;
  uint8_t bit;
  rudp_ssize n;
  (void)state;

  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_HANDSHAKE;
  hd.version = 1;
  hd.pkt_numlen = 2;
  hd.len = 2;
  n = rudp_pkt_encode_hd(buf, BUFLEN, &hd);
  for (bit = 0x04; bit <= 0x08; bit <<= 1) {
    memcpy(buf2, buf, (size_t)n);
    buf2[0] |= bit;
    assert_int_equal(rudp_pkt_decode_hd(&got, buf2, (size_t)n, 0),
                     RUDP_ERR_BAD_PACKET);
  }

  /* RETRY: reserved and packet-number bits must all be 0. */
  rudp_cid_init(&c, NULL, 0);
  n = rudp_pkt_encode_retry(buf, BUFLEN, 1, &c, &c, &c, &tok, 1);
  for (bit = 0x01; bit <= 0x08; bit <<= 1) {
    memcpy(buf2, buf, (size_t)n);
    buf2[0] |= bit;
    assert_int_equal(rudp_pkt_decode_hd(&got, buf2, (size_t)n, 0),
                     RUDP_ERR_BAD_PACKET);
  }

  /* Short header reserved bits 0x18. */
  memset(buf, 0, 16);
  for (bit = 0x08; bit <= 0x10; bit <<= 1) {
    buf[0] = (uint8_t)(0x40 | bit);
    assert_int_equal(rudp_pkt_decode_hd(&got, buf, 16, 0), RUDP_ERR_BAD_PACKET);
  }
  buf[0] = 0x40;
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, 16, 0), 2);
}

/* A connection-ID length of 21 is BAD_PACKET, even when the datagram ends
 * right after the length byte. */
static void test_rudp_pkt_decode_cid_too_long(void **state) {
  static const uint8_t tok = 1;
  static const uint32_t one = 1;
  rudp_pkt_hd hd, got;
  rudp_cid c;
  size_t off;
  rudp_ssize n;
  (void)state;

  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_CONNECT;
  hd.version = 1;
  make_cid(&hd.dcid, 20, 0);
  make_cid(&hd.scid, 20, 0);
  hd.pkt_numlen = 1;
  hd.len = 1;
  n = rudp_pkt_encode_hd(buf, BUFLEN, &hd);
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, (size_t)n, 0), n);

  buf[5] = 21;
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, (size_t)n, 0),
                   RUDP_ERR_BAD_PACKET);
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, 6, 0), RUDP_ERR_BAD_PACKET);
  buf[5] = 0xff;
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, (size_t)n, 0),
                   RUDP_ERR_BAD_PACKET);
  buf[5] = 20;
  buf[5 + 21] = 21;
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, (size_t)n, 0),
                   RUDP_ERR_BAD_PACKET);

  /* RETRY's odcid and version negotiation's IDs. */
  rudp_cid_init(&c, NULL, 0);
  n = rudp_pkt_encode_retry(buf, BUFLEN, 1, &c, &c, &c, &tok, 1);
  off = 1 + 4 + 1 + 1;
  buf[off] = 21;
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, (size_t)n, 0),
                   RUDP_ERR_BAD_PACKET);
  n = rudp_pkt_encode_version_negotiation(buf, BUFLEN, 0, &c, &c, &one, 1);
  buf[5] = 21;
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, BUFLEN, 0),
                   RUDP_ERR_BAD_PACKET);

  /* A short header's DCID length is the caller's, so it is an argument. */
  memset(buf, 0x40, 64);
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, 64, 21),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, 64, 20), 1 + 20 + 1);
}

static void test_rudp_pkt_decode_len_smaller_than_pkt_num(void **state) {
  rudp_pkt_hd hd, got;
  size_t pnlen;
  uint64_t len;
  rudp_ssize n;
  (void)state;

  for (pnlen = 1; pnlen <= 4; ++pnlen) {
    for (len = 0; len <= pnlen; ++len) {
      memset(&hd, 0, sizeof(hd));
      hd.type = RUDP_PKT_ACCEPT;
      hd.version = 1;
      make_cid(&hd.dcid, 8, 1);
      hd.pkt_numlen = pnlen;
      hd.len = len;
      n = rudp_pkt_encode_hd(buf, BUFLEN, &hd);
      assert_int_equal(n, 1 + 4 + 9 + 1 + 2 + pnlen);
      /* Plenty of bytes follow: the error is the field, not the input. */
      assert_int_equal(rudp_pkt_decode_hd(&got, buf, 100, 0),
                       len < pnlen ? RUDP_ERR_BAD_PACKET
                                   : (rudp_ssize)(1 + 4 + 9 + 1 + 2 + pnlen));
    }
  }
}

static void test_rudp_pkt_decode_len_beyond_datagram(void **state) {
  rudp_pkt_hd hd, got;
  size_t pnoff;
  rudp_ssize n;
  (void)state;

  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_HANDSHAKE;
  hd.version = 1;
  hd.pkt_numlen = 4;
  hd.len = 1000;
  n = rudp_pkt_encode_hd(buf, BUFLEN, &hd);
  pnoff = (size_t)n - 4;
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, pnoff + 1000, 0), n);
  assert_int_equal(got.pktlen, pnoff + 1000);
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, pnoff + 999, 0),
                   RUDP_ERR_TRUNCATED);

  /* The largest 8-byte length must not overflow the bounds check. */
  memmove(buf + pnoff + 6, buf + pnoff, 4);
  memset(buf + pnoff - 2, 0xff, 8);
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, BUFLEN, 0),
                   RUDP_ERR_TRUNCATED);
}

/* The decoder takes any varint width for the token and length fields. */
static void test_rudp_pkt_decode_any_varint_width(void **state) {
  static const uint8_t pkt1[] = {0xc0, 0, 0, 0, 1, 0, 0, 0x00, 0x01, 0x99};
  static const uint8_t pkt8[] = {0xc1, 0, 0, 0, 1, 0, 0, 0x80, 0,    0,   0,
                                 0xc0, 0, 0, 0, 0, 0, 0, 2,    0x12, 0x34};
  rudp_pkt_hd got;
  (void)state;

  assert_int_equal(rudp_pkt_decode_hd(&got, pkt1, sizeof(pkt1), 0), 10);
  assert_int_equal(got.len, 1);
  assert_int_equal(got.pkt_num, 0x99);
  assert_int_equal(got.tokenlen, 0);
  assert_null(got.token);
  assert_int_equal(got.pktlen, 10);

  assert_int_equal(rudp_pkt_decode_hd(&got, pkt8, sizeof(pkt8), 0), 21);
  assert_int_equal(got.len, 2);
  assert_int_equal(got.pkt_num, 0x1234);
  assert_int_equal(got.tokenlen, 0);
  assert_int_equal(got.pktlen, 21);
}

static void test_rudp_pkt_decode_bad_tokens(void **state) {
  rudp_pkt_hd got;
  rudp_cid c;
  static uint8_t token[RUDP_PKT_MAX_TOKENLEN + 1];
  rudp_ssize n;
  (void)state;

  /* RETRY with an empty token: hand-built, the encoder refuses it. */
  {
    static const uint8_t retry[] = {0xf0, 0,    0, 0, 1, 0, 0,
                                    0,    0x00, 0, 0, 0, 0};
    assert_int_equal(rudp_pkt_decode_hd(&got, retry, sizeof(retry), 0),
                     RUDP_ERR_BAD_PACKET);
  }

  /* RETRY token of 513 bytes: rewrite a 512-byte one's length. */
  rudp_cid_init(&c, NULL, 0);
  memset(token, 3, sizeof(token));
  n = rudp_pkt_encode_retry(buf, BUFLEN, 1, &c, &c, &c, token,
                            RUDP_PKT_MAX_TOKENLEN);
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, (size_t)n, 0), n - 4);
  rudp_put_varint_n(buf + 8, RUDP_PKT_MAX_TOKENLEN + 1, 2);
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, BUFLEN, 0),
                   RUDP_ERR_BAD_PACKET);

  /* CONNECT token of 513 bytes, even if the datagram ends there. */
  {
    uint8_t connect[] = {0xc0, 0, 0, 0, 1, 0, 0, 0x42, 0x01};
    assert_int_equal(rudp_pkt_decode_hd(&got, connect, sizeof(connect), 0),
                     RUDP_ERR_BAD_PACKET);
    connect[8] = 0x00; /* 512 */
    assert_int_equal(rudp_pkt_decode_hd(&got, connect, sizeof(connect), 0),
                     RUDP_ERR_TRUNCATED);
  }
  /* Type bits other than CONNECT have no token field: 0x42 0x01 there is
   * the length field. */
  {
    static const uint8_t accept[] = {0xd0, 0, 0, 0, 1, 0, 0, 0x40, 0x01, 0x07};
    assert_int_equal(rudp_pkt_decode_hd(&got, accept, sizeof(accept), 0), 10);
    assert_int_equal(got.pkt_num, 7);
  }
}

static void test_rudp_pkt_decode_bad_version_lists(void **state) {
  static const uint8_t head[] = {0x80, 0, 0, 0, 0, 0, 0};
  rudp_pkt_hd got;
  size_t listlen;
  (void)state;

  for (listlen = 0; listlen <= 12; ++listlen) {
    memcpy(buf, head, sizeof(head));
    memset(buf + sizeof(head), 0x01, listlen);
    rudp_pkt_seal_crc(buf, sizeof(head) + listlen);
    assert_int_equal(
        rudp_pkt_decode_hd(&got, buf, sizeof(head) + listlen + 4, 0),
        listlen == 0 || listlen % 4 ? RUDP_ERR_BAD_PACKET
                                    : (rudp_ssize)(sizeof(head) + listlen));
  }
}

static void test_rudp_pkt_decode_error_leaves_hd(void **state) {
  rudp_pkt_hd got, before;
  (void)state;

  memset(&got, 0x5c, sizeof(got));
  before = got;
  buf[0] = 0xc0;
  memset(buf + 1, 0, 8);
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, 8, 0), RUDP_ERR_TRUNCATED);
  assert_memory_equal(&got, &before, sizeof(got));
  buf[0] = 0x08;
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, 8, 0), RUDP_ERR_BAD_PACKET);
  assert_memory_equal(&got, &before, sizeof(got));
}

/* Every buffer one byte too small, or smaller, is RUDP_ERR_NOBUF. */
static void test_rudp_pkt_encode_nobuf(void **state) {
  static const uint32_t versions[] = {1, 2, 3};
  uint8_t token[100];
  rudp_pkt_hd hd;
  rudp_cid d, s, o;
  rudp_pkt_type t;
  size_t i, len;
  rudp_ssize n;
  (void)state;

  memset(token, 9, sizeof(token));
  for (t = RUDP_PKT_CONNECT; t <= RUDP_PKT_HANDSHAKE; ++t) {
    for (i = 0; i < 4; ++i) {
      memset(&hd, 0, sizeof(hd));
      hd.type = t;
      hd.version = 1;
      make_cid(&hd.dcid, cidlens[i], 1);
      make_cid(&hd.scid, cidlens[3 - i], 1);
      hd.token = token;
      hd.tokenlen = i * 30;
      hd.pkt_numlen = i + 1;
      hd.len = i * 10000;
      n = rudp_pkt_encode_hd(buf, BUFLEN, &hd);
      assert_int_equal(n, long_hdlen(&hd));
      for (len = 0; len < (size_t)n; ++len) {
        assert_int_equal(rudp_pkt_encode_hd(buf, len, &hd), RUDP_ERR_NOBUF);
      }
      assert_int_equal(rudp_pkt_encode_hd(buf, (size_t)n, &hd), n);
    }
  }

  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_SHORT;
  make_cid(&hd.dcid, 20, 1);
  hd.pkt_numlen = 4;
  for (len = 0; len < 25; ++len) {
    assert_int_equal(rudp_pkt_encode_hd(buf, len, &hd), RUDP_ERR_NOBUF);
  }
  assert_int_equal(rudp_pkt_encode_hd(buf, 25, &hd), 25);

  make_cid(&d, 20, 1);
  make_cid(&s, 8, 1);
  make_cid(&o, 1, 1);
  n = rudp_pkt_encode_retry(buf, BUFLEN, 1, &d, &s, &o, token, 100);
  assert_int_equal(n, 1 + 4 + 21 + 9 + 2 + 2 + 100 + 4);
  for (len = 0; len < (size_t)n; ++len) {
    assert_int_equal(rudp_pkt_encode_retry(buf, len, 1, &d, &s, &o, token, 100),
                     RUDP_ERR_NOBUF);
  }

  n = rudp_pkt_encode_version_negotiation(buf, BUFLEN, 0, &d, &s, versions, 3);
  assert_int_equal(n, 1 + 4 + 21 + 9 + 12 + 4);
  for (len = 0; len < (size_t)n; ++len) {
    assert_int_equal(
        rudp_pkt_encode_version_negotiation(buf, len, 0, &d, &s, versions, 3),
        RUDP_ERR_NOBUF);
  }
  /* A count whose byte size overflows size_t is NOBUF, not a wild write. */
  assert_int_equal(rudp_pkt_encode_version_negotiation(
                       buf, BUFLEN, 0, &d, &s, versions, SIZE_MAX / 4 + 2),
                   RUDP_ERR_NOBUF);
}

static void test_rudp_pkt_encode_invalid_argument(void **state) {
  static uint8_t token[RUDP_PKT_MAX_TOKENLEN + 1];
  static const uint32_t versions[] = {1};
  rudp_pkt_hd hd, base;
  rudp_cid c, big;
  (void)state;

  memset(&base, 0, sizeof(base));
  base.type = RUDP_PKT_CONNECT;
  base.version = 1;
  base.pkt_numlen = 1;
  base.len = 1;
  base.token = token;
  assert_true(rudp_pkt_encode_hd(buf, BUFLEN, &base) > 0);

  hd = base;
  hd.type = RUDP_PKT_RETRY;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd),
                   RUDP_ERR_INVALID_ARGUMENT);
  hd.type = RUDP_PKT_VERSION_NEGOTIATION;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd),
                   RUDP_ERR_INVALID_ARGUMENT);
  hd = base;
  hd.pkt_numlen = 0;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd),
                   RUDP_ERR_INVALID_ARGUMENT);
  hd.pkt_numlen = 5;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd),
                   RUDP_ERR_INVALID_ARGUMENT);
  hd.type = RUDP_PKT_SHORT;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd),
                   RUDP_ERR_INVALID_ARGUMENT);
  hd = base;
  hd.len = 1ULL << 30;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd),
                   RUDP_ERR_INVALID_ARGUMENT);
  hd = base;
  hd.tokenlen = RUDP_PKT_MAX_TOKENLEN;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd),
                   1 + 4 + 2 + 2 + RUDP_PKT_MAX_TOKENLEN + 2 + 1);
  hd.tokenlen = RUDP_PKT_MAX_TOKENLEN + 1;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd),
                   RUDP_ERR_INVALID_ARGUMENT);
  /* Argument errors win over a too-small buffer. */
  assert_int_equal(rudp_pkt_encode_hd(buf, 0, &hd), RUDP_ERR_INVALID_ARGUMENT);
  /* Version 0 would read back as version negotiation. */
  hd = base;
  hd.version = 0;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd),
                   RUDP_ERR_INVALID_ARGUMENT);

  rudp_cid_init(&c, NULL, 0);
  big = c;
  big.datalen = RUDP_MAX_CIDLEN + 1;
  assert_int_equal(rudp_pkt_encode_retry(buf, BUFLEN, 1, &c, &c, &c, token, 0),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_pkt_encode_retry(buf, BUFLEN, 1, &c, &c, &c, token,
                                         RUDP_PKT_MAX_TOKENLEN + 1),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_pkt_encode_retry(buf, BUFLEN, 0, &c, &c, &c, token, 1),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(
      rudp_pkt_encode_retry(buf, BUFLEN, 1, &c, &c, &big, token, 1),
      RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(
      rudp_pkt_encode_version_negotiation(buf, BUFLEN, 0, &c, &c, versions, 0),
      RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_pkt_encode_version_negotiation(buf, BUFLEN, 0, &big, &c,
                                                       versions, 1),
                   RUDP_ERR_INVALID_ARGUMENT);
  hd = base;
  hd.scid = big;
  assert_int_equal(rudp_pkt_encode_hd(buf, BUFLEN, &hd),
                   RUDP_ERR_INVALID_ARGUMENT);
}

static void test_rudp_pkt_patch_len(void **state) {
  static const uint8_t tok = 1;
  static const uint32_t versions[] = {1};
  rudp_pkt_hd hd, got;
  rudp_cid c;
  rudp_ssize n;
  size_t pnoff;
  (void)state;

  /* Reserve with a 0 placeholder (2-byte field), patch once known. */
  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_CONNECT;
  hd.version = 1;
  make_cid(&hd.dcid, 8, 1);
  make_cid(&hd.scid, 8, 2);
  hd.token = &tok;
  hd.tokenlen = 1;
  hd.pkt_num = 0x4242;
  hd.pkt_numlen = 2;
  hd.len = 0;
  n = rudp_pkt_encode_hd(buf, BUFLEN, &hd);
  pnoff = (size_t)n - 2;
  assert_int_equal(rudp_pkt_patch_len(buf, (size_t)n, 1200), 0);
  assert_int_equal(buf[pnoff - 2], 0x40 | (1200 >> 8));
  assert_int_equal(buf[pnoff - 1], 1200 & 0xff);
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, pnoff + 1200, 0), n);
  assert_int_equal(got.len, 1200);
  assert_int_equal(got.pkt_num, 0x4242);
  assert_int_equal(rudp_pkt_patch_len(buf, (size_t)n, 16383), 0);
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, pnoff + 16383, 0), n);
  assert_int_equal(got.len, 16383);
  assert_int_equal(rudp_pkt_patch_len(buf, (size_t)n, 16384),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(got.len, 16383);
  /* The placeholder may exceed what is written so far. */
  assert_int_equal(rudp_pkt_patch_len(buf, (size_t)n, 2), 0);
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, (size_t)n, 0), n);
  /* Truncated inside the header. */
  assert_int_equal(rudp_pkt_patch_len(buf, pnoff - 1, 2), RUDP_ERR_TRUNCATED);
  assert_int_equal(rudp_pkt_patch_len(buf, 0, 2), RUDP_ERR_TRUNCATED);

  /* 4-byte field: up to 2^30 - 1. */
  hd.type = RUDP_PKT_HANDSHAKE;
  hd.len = 20000;
  n = rudp_pkt_encode_hd(buf, BUFLEN, &hd);
  assert_int_equal(rudp_pkt_patch_len(buf, (size_t)n, 5), 0);
  assert_int_equal(rudp_pkt_decode_hd(&got, buf, (size_t)n + 3, 0), n);
  assert_int_equal(got.len, 5);
  assert_int_equal(rudp_pkt_patch_len(buf, (size_t)n, (1ULL << 30) - 1), 0);
  assert_int_equal(rudp_pkt_patch_len(buf, (size_t)n, 1ULL << 30),
                   RUDP_ERR_INVALID_ARGUMENT);

  /* 1- and 8-byte fields written by someone else keep their width. */
  {
    uint8_t p1[] = {0xd0, 0, 0, 0, 1, 0, 0, 0x01, 0x07};
    uint8_t p8[] = {0xd0, 0, 0, 0, 1, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 1, 0x07};
    assert_int_equal(rudp_pkt_patch_len(p1, sizeof(p1), 63), 0);
    assert_int_equal(p1[7], 63);
    assert_int_equal(rudp_pkt_patch_len(p1, sizeof(p1), 64),
                     RUDP_ERR_INVALID_ARGUMENT);
    assert_int_equal(rudp_pkt_patch_len(p8, sizeof(p8), RUDP_MAX_VARINT), 0);
    assert_int_equal(p8[7], 0xff);
    assert_int_equal(p8[14], 0xff);
    assert_int_equal(rudp_pkt_patch_len(p8, sizeof(p8), RUDP_MAX_VARINT + 1),
                     RUDP_ERR_INVALID_ARGUMENT);
  }

  /* Not CONNECT/ACCEPT/HANDSHAKE. */
  hd.type = RUDP_PKT_SHORT;
  n = rudp_pkt_encode_hd(buf, BUFLEN, &hd);
  assert_int_equal(rudp_pkt_patch_len(buf, (size_t)n, 5),
                   RUDP_ERR_INVALID_ARGUMENT);
  rudp_cid_init(&c, NULL, 0);
  n = rudp_pkt_encode_retry(buf, BUFLEN, 1, &c, &c, &c, &tok, 1);
  memcpy(buf2, buf, (size_t)n);
  assert_int_equal(rudp_pkt_patch_len(buf, (size_t)n, 5),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_memory_equal(buf, buf2, (size_t)n);
  n = rudp_pkt_encode_version_negotiation(buf, BUFLEN, 0x7f, &c, &c, versions,
                                          1);
  assert_int_equal(rudp_pkt_patch_len(buf, (size_t)n, 5),
                   RUDP_ERR_INVALID_ARGUMENT);
  /* Malformed headers give the decoder's error. */
  buf[0] = 0x8c;
  buf[1] = 1;
  assert_int_equal(rudp_pkt_patch_len(buf, 20, 5), RUDP_ERR_BAD_PACKET);
}

static void test_rudp_pkt_seal_verify_crc(void **state) {
  static const uint8_t check[] = "123456789";
  size_t len, bit;
  (void)state;

  /* The CRC32C check value, big-endian. */
  memcpy(buf, check, 9);
  assert_int_equal(rudp_pkt_seal_crc(buf, 9), 13);
  assert_int_equal(buf[9], 0xe3);
  assert_int_equal(buf[10], 0x06);
  assert_int_equal(buf[11], 0x92);
  assert_int_equal(buf[12], 0x83);
  assert_int_equal(rudp_pkt_verify_crc(buf, 13), 0);

  /* An empty body: the CRC of nothing is 0. */
  assert_int_equal(rudp_pkt_seal_crc(buf, 0), 4);
  assert_int_equal(rudp_pkt_verify_crc(buf, 4), 0);

  for (len = 0; len < 4; ++len) {
    assert_int_equal(rudp_pkt_verify_crc(buf, len), RUDP_ERR_TRUNCATED);
  }

  /* Every single-bit flip, body or trailer, is detected. */
  for (len = 0; len < 64; ++len) {
    buf[len] = (uint8_t)(len * 29 + 1);
  }
  assert_int_equal(rudp_pkt_seal_crc(buf, 64), 68);
  assert_int_equal(rudp_pkt_verify_crc(buf, 68), 0);
  for (bit = 0; bit < 68 * 8; ++bit) {
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    assert_int_equal(rudp_pkt_verify_crc(buf, 68), RUDP_ERR_INTEGRITY);
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  /* Dropping the last byte, or adding one, fails too. */
  assert_int_equal(rudp_pkt_verify_crc(buf, 67), RUDP_ERR_INTEGRITY);
  buf[68] = 0;
  assert_int_equal(rudp_pkt_verify_crc(buf, 69), RUDP_ERR_INTEGRITY);
}

static void test_rudp_pkt_num_len_rfc_example(void **state) {
  (void)state;

  /* RFC 9000 appendix A.2. */
  assert_int_equal(rudp_pkt_num_len(0xac5c02, 0xabe8b3), 2);
  assert_int_equal(rudp_pkt_num_len(0xace8fe, 0xabe8b3), 3);
}

static void test_rudp_pkt_num_len_boundaries(void **state) {
  (void)state;

  /* n bytes cover num_unacked <= 2^(8n - 1). */
  assert_int_equal(rudp_pkt_num_len(0, UINT64_MAX), 1);
  assert_int_equal(rudp_pkt_num_len(127, UINT64_MAX), 1);
  assert_int_equal(rudp_pkt_num_len(128, UINT64_MAX), 2);
  assert_int_equal(rudp_pkt_num_len(1000, 1000 - 128), 1);
  assert_int_equal(rudp_pkt_num_len(1000, 1000 - 129), 2);
  assert_int_equal(rudp_pkt_num_len(100000, 100000 - 32768), 2);
  assert_int_equal(rudp_pkt_num_len(100000, 100000 - 32769), 3);
  assert_int_equal(rudp_pkt_num_len(1ULL << 23, 0), 3);
  assert_int_equal(rudp_pkt_num_len((1ULL << 23) + 1, 0), 4);
  assert_int_equal(rudp_pkt_num_len((1ULL << 23) - 1, UINT64_MAX), 3);
  assert_int_equal(rudp_pkt_num_len(1ULL << 23, UINT64_MAX), 4);
  /* Clamped to 4 even when 4 bytes cannot cover the gap. */
  assert_int_equal(rudp_pkt_num_len(RUDP_PKT_MAX_PKT_NUM, 0), 4);
  assert_int_equal(rudp_pkt_num_len(RUDP_PKT_MAX_PKT_NUM, UINT64_MAX), 4);
  assert_int_equal(
      rudp_pkt_num_len(RUDP_PKT_MAX_PKT_NUM, RUDP_PKT_MAX_PKT_NUM - 1), 1);
  /* A number at or below the largest acknowledged cannot be new: take the
   * widest form rather than wrap. */
  assert_int_equal(rudp_pkt_num_len(5, 5), 4);
  assert_int_equal(rudp_pkt_num_len(5, 6), 4);
}

static void test_rudp_pkt_decode_pkt_num_rfc_example(void **state) {
  (void)state;

  /* RFC 9000 appendix A.3. */
  assert_int_equal(rudp_pkt_decode_pkt_num(0xa82f30ea, 0x9b32, 2), 0xa82f9b32);
}

static void test_rudp_pkt_decode_pkt_num_edges(void **state) {
  (void)state;

  /* Nothing received yet: expected is 0; nothing below 0. */
  assert_int_equal(rudp_pkt_decode_pkt_num(UINT64_MAX, 0, 1), 0);
  assert_int_equal(rudp_pkt_decode_pkt_num(UINT64_MAX, 5, 1), 5);
  assert_int_equal(rudp_pkt_decode_pkt_num(UINT64_MAX, 0xff, 1), 0xff);
  assert_int_equal(rudp_pkt_decode_pkt_num(UINT64_MAX, 0xffffffff, 4),
                   0xffffffff);
  assert_int_equal(rudp_pkt_decode_pkt_num(0, 0x80, 1), 0x80);
  /* Upward wrap: expected 0x1f1, 0x05 is closer as 0x205 than 0x105. */
  assert_int_equal(rudp_pkt_decode_pkt_num(0x1f0, 0x05, 1), 0x205);
  /* Downward wrap: expected 0x200, 0xff is 0x1ff, not 0x2ff. */
  assert_int_equal(rudp_pkt_decode_pkt_num(0x1ff, 0xff, 1), 0x1ff);
  /* Half-window edges: accepted range is (expected - 128, expected + 128]. */
  assert_int_equal(rudp_pkt_decode_pkt_num(0x17f, 0x00, 1), 0x200);
  assert_int_equal(rudp_pkt_decode_pkt_num(0x17f, 0x01, 1), 0x101);
  assert_int_equal(rudp_pkt_decode_pkt_num(0x17f, 0x80, 1), 0x180);
  assert_int_equal(rudp_pkt_decode_pkt_num(0x17f, 0xff, 1), 0x1ff);
  /* Bits above the length are ignored. */
  assert_int_equal(rudp_pkt_decode_pkt_num(0x1ff, 0x3ff, 1), 0x1ff);
  /* The 2^62 ceiling: never expand past RUDP_PKT_MAX_PKT_NUM. */
  assert_int_equal(rudp_pkt_decode_pkt_num(RUDP_PKT_MAX_PKT_NUM - 1, 0x00, 1),
                   RUDP_PKT_MAX_PKT_NUM - 0xff);
  assert_int_equal(rudp_pkt_decode_pkt_num(RUDP_PKT_MAX_PKT_NUM - 1, 0xff, 1),
                   RUDP_PKT_MAX_PKT_NUM);
  assert_int_equal(
      rudp_pkt_decode_pkt_num(RUDP_PKT_MAX_PKT_NUM - 1, 0x00000000, 4),
      RUDP_PKT_MAX_PKT_NUM - 0xffffffffULL);
}

/*
 * Sender picks the length with rudp_pkt_num_len(pn, largest_acked); a
 * receiver whose largest is anywhere in [largest_acked, pn) expands it
 * back to pn.
 */
static void test_rudp_pkt_pkt_num_expansion_property(void **state) {
  rudp_test_rng rng;
  uint64_t la, lr, pn, gap, trunc, got;
  size_t i, n;
  (void)state;

  rudp_test_rng_init(&rng, 0x706b74);
  for (i = 0; i < 200000; ++i) {
    /* Gaps of every magnitude up to 2^31 (what 4 bytes can cover). */
    gap = 1 + rudp_test_rng_below(&rng, 1ULL << rudp_test_rng_below(&rng, 32));
    if (i % 8 == 0) {
      la = UINT64_MAX;
      pn = gap - 1;
    } else {
      la = rudp_test_rng_below(&rng, RUDP_PKT_MAX_PKT_NUM - (1ULL << 32));
      pn = la + gap;
    }
    n = rudp_pkt_num_len(pn, la);
    assert_true(n >= 1 && n <= 4);
    if (n > 1) {
      /* Minimal: one byte fewer would not cover the gap. */
      assert_true(gap > (1ULL << (8 * (n - 1) - 1)));
    }
    /* Receiver's largest: the acked one, or a later one. */
    if (la == UINT64_MAX) {
      lr = pn == 0 || rudp_test_rng_below(&rng, 2)
               ? UINT64_MAX
               : rudp_test_rng_below(&rng, pn);
    } else {
      lr = la + rudp_test_rng_below(&rng, gap);
    }
    trunc = pn & pn_mask(n);
    got = rudp_pkt_decode_pkt_num(lr, trunc, n);
    if (got != pn) {
      fail_msg("la=%llx lr=%llx pn=%llx n=%zu got=%llx", (unsigned long long)la,
               (unsigned long long)lr, (unsigned long long)pn, n,
               (unsigned long long)got);
    }
  }

  /* Expansion alone: anything in (expected - hwin, expected + hwin] comes
   * back. */
  for (i = 0; i < 200000; ++i) {
    uint64_t hwin, expected;
    n = 1 + (size_t)rudp_test_rng_below(&rng, 4);
    hwin = 1ULL << (8 * n - 1);
    expected =
        hwin + rudp_test_rng_below(&rng, RUDP_PKT_MAX_PKT_NUM - 4 * hwin);
    pn = expected - hwin + 1 + rudp_test_rng_below(&rng, 2 * hwin);
    assert_int_equal(rudp_pkt_decode_pkt_num(expected - 1, pn & pn_mask(n), n),
                     pn);
  }
}

/* CONNECT + HANDSHAKE + short in one datagram, walked by pktlen. */
static void test_rudp_pkt_coalesced(void **state) {
  static const uint8_t tok[] = {1, 2, 3};
  rudp_pkt_hd hd, got;
  size_t off = 0, start[3], i;
  rudp_ssize n;
  (void)state;

  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_CONNECT;
  hd.version = 7;
  make_cid(&hd.dcid, 8, 1);
  make_cid(&hd.scid, 4, 2);
  hd.token = tok;
  hd.tokenlen = 3;
  hd.pkt_num = 0;
  hd.pkt_numlen = 1;
  hd.len = 0;
  start[0] = off;
  n = rudp_pkt_encode_hd(buf + off, BUFLEN - off, &hd);
  off += (size_t)n;
  memset(buf + off, 0xa1, 50);
  off += 50;
  assert_int_equal(rudp_pkt_patch_len(buf + start[0], off - start[0],
                                      1 + 50 + RUDP_PKT_CRCLEN),
                   0);
  off = rudp_pkt_seal_crc(buf + start[0], off - start[0]) + start[0];

  hd.type = RUDP_PKT_HANDSHAKE;
  hd.pkt_num = 0x1234;
  hd.pkt_numlen = 2;
  hd.len = 2 + 17 + RUDP_PKT_CRCLEN;
  start[1] = off;
  n = rudp_pkt_encode_hd(buf + off, BUFLEN - off, &hd);
  off += (size_t)n;
  memset(buf + off, 0xb2, 17);
  off += 17;
  off = rudp_pkt_seal_crc(buf + start[1], off - start[1]) + start[1];

  hd.type = RUDP_PKT_SHORT;
  hd.flags = RUDP_PKT_FLAG_KEY_PHASE;
  hd.pkt_num = 0x99;
  hd.pkt_numlen = 1;
  start[2] = off;
  n = rudp_pkt_encode_hd(buf + off, BUFLEN - off, &hd);
  off += (size_t)n;
  memset(buf + off, 0xc3, 9);
  off += 9;
  off = rudp_pkt_seal_crc(buf + start[2], off - start[2]) + start[2];

  /* Walk the datagram. */
  {
    static const rudp_pkt_type want[] = {RUDP_PKT_CONNECT, RUDP_PKT_HANDSHAKE,
                                         RUDP_PKT_SHORT};
    static const uint64_t wantpn[] = {0, 0x1234, 0x99};
    size_t pos = 0;
    for (i = 0; i < 3; ++i) {
      assert_int_equal(pos, start[i]);
      n = rudp_pkt_decode_hd(&got, buf + pos, off - pos, 8);
      assert_true(n > 0);
      assert_int_equal(got.type, want[i]);
      assert_int_equal(got.pkt_num, wantpn[i]);
      assert_true((size_t)n <= got.pktlen);
      assert_int_equal(rudp_pkt_verify_crc(buf + pos, got.pktlen), 0);
      pos += got.pktlen;
    }
    assert_int_equal(pos, off);
    assert_int_equal(got.flags, RUDP_PKT_FLAG_KEY_PHASE);
  }
}

static int is_decode_error(rudp_ssize rv) {
  return rv == RUDP_ERR_TRUNCATED || rv == RUDP_ERR_BAD_PACKET;
}

/* check_decoded checks the invariants of any decode result. */
static void check_decoded(const uint8_t *p, size_t len, size_t dcidlen) {
  rudp_pkt_hd hd;
  rudp_ssize rv;

  rv = rudp_pkt_decode_hd(&hd, p, len, dcidlen);
  if (rv < 0) {
    assert_true(is_decode_error(rv));
    return;
  }
  assert_true((size_t)rv <= hd.pktlen);
  assert_true(hd.pktlen <= len);
  assert_true(hd.dcid.datalen <= RUDP_MAX_CIDLEN);
  assert_true(hd.scid.datalen <= RUDP_MAX_CIDLEN);
  assert_true(hd.tokenlen <= RUDP_PKT_MAX_TOKENLEN);
  switch (hd.type) {
  case RUDP_PKT_CONNECT:
  case RUDP_PKT_ACCEPT:
  case RUDP_PKT_HANDSHAKE:
    assert_true(hd.pkt_numlen >= 1 && hd.pkt_numlen <= 4);
    assert_true(hd.len >= hd.pkt_numlen);
    assert_int_equal(hd.pktlen, (size_t)rv - hd.pkt_numlen + hd.len);
    break;
  case RUDP_PKT_SHORT:
    assert_int_equal(rv, 1 + dcidlen + hd.pkt_numlen);
    assert_int_equal(hd.pktlen, len);
    break;
  case RUDP_PKT_RETRY:
    assert_true(hd.tokenlen >= 1);
    assert_int_equal(hd.pktlen, (size_t)rv + RUDP_PKT_CRCLEN);
    break;
  case RUDP_PKT_VERSION_NEGOTIATION:
    assert_true(hd.nversions >= 1);
    assert_int_equal(rv + RUDP_PKT_CRCLEN, len);
    /* Read them all: ASan catches an out-of-range list. */
    assert_int_equal(rudp_pkt_get_version(&hd, hd.nversions - 1),
                     ((uint32_t)p[len - 8] << 24) |
                         ((uint32_t)p[len - 7] << 16) |
                         ((uint32_t)p[len - 6] << 8) | p[len - 5]);
    break;
  default:
    fail();
  }
}

/*
 * Random garbage, and mutations of valid packets, decoded from exactly
 * sized heap copies so that AddressSanitizer sees any overread (plain
 * malloc: cmocka's test_malloc pads blocks with guard bytes).
 */
static void test_rudp_pkt_fuzz(void **state) {
  static const uint8_t tok[] = {9, 9};
  static const uint32_t vers[] = {0x61626364, 0x65666768};
  rudp_test_rng rng;
  uint8_t seeds[4][128];
  size_t seedlens[4];
  rudp_pkt_hd hd;
  rudp_cid c;
  uint8_t *p;
  size_t i, len, k, dcidlen;
  (void)state;

  memset(seeds, 0, sizeof(seeds));
  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_CONNECT;
  hd.version = 1;
  make_cid(&hd.dcid, 8, 1);
  make_cid(&hd.scid, 8, 2);
  hd.token = tok;
  hd.tokenlen = 2;
  hd.pkt_numlen = 2;
  hd.len = 40;
  seedlens[0] = (size_t)rudp_pkt_encode_hd(seeds[0], 128, &hd) + 38;
  memset(seeds[0] + seedlens[0] - 38, 0, 38);
  rudp_cid_init(&c, hd.dcid.data, 8);
  seedlens[1] =
      (size_t)rudp_pkt_encode_retry(seeds[1], 128, 1, &c, &c, &c, tok, 2);
  seedlens[2] = (size_t)rudp_pkt_encode_version_negotiation(seeds[2], 128, 3,
                                                            &c, &c, vers, 2);
  hd.type = RUDP_PKT_SHORT;
  seedlens[3] = (size_t)rudp_pkt_encode_hd(seeds[3], 128, &hd) + 20;

  rudp_test_rng_init(&rng, 0xf022);
  for (i = 0; i < 100000; ++i) {
    dcidlen = (size_t)rudp_test_rng_below(&rng, RUDP_MAX_CIDLEN + 1);
    if (i % 2) {
      len = (size_t)rudp_test_rng_below(&rng, 80);
      p = malloc(len ? len : 1);
      assert_non_null(p);
      rudp_test_rng_fill(&rng, p, len);
      /* Bias byte 0 towards plausible headers. */
      if (len && rudp_test_rng_below(&rng, 2)) {
        p[0] = (uint8_t)((p[0] & 0xb3) | 0x40);
      }
      if (len >= 5 && rudp_test_rng_below(&rng, 8) == 0) {
        memset(p + 1, 0, 4);
      }
    } else {
      k = (size_t)rudp_test_rng_below(&rng, 4);
      len = (size_t)rudp_test_rng_below(&rng, seedlens[k] + 1);
      p = malloc(len ? len : 1);
      assert_non_null(p);
      memcpy(p, seeds[k], len);
      if (len) {
        size_t m, nmut = 1 + (size_t)rudp_test_rng_below(&rng, 3);
        for (m = 0; m < nmut; ++m) {
          p[rudp_test_rng_below(&rng, len)] ^=
              (uint8_t)(1u << rudp_test_rng_below(&rng, 8));
        }
      }
      if (k == 3) {
        dcidlen = 8;
      }
    }
    check_decoded(p, len, dcidlen);
    /* patch_len on garbage must stay inside the buffer too. */
    if (rudp_pkt_patch_len(p, len, 3) == 0) {
      assert_true(len > 0 && (p[0] & 0x80));
    }
    free(p);
  }
}

/* docs/PROTOCOL.md appendix B.1: the CRC of a numbered packet covers its
 * full packet number. */
static void test_rudp_pkt_crc_pn_spec_vector(void **state) {
  static const uint8_t want[] = {0x40, 0x01, 0x23, 0x45, 0x67,
                                 0x89, 0xab, 0xcd, 0xef, 0x05,
                                 0x01, 0xae, 0xec, 0x65, 0xbd};
  uint8_t pkt[sizeof(want)];
  (void)state;
  memcpy(pkt, want, 11);
  assert_int_equal(rudp_pkt_seal_crc_pn(pkt, 11, 5), sizeof(want));
  assert_memory_equal(pkt, want, sizeof(want));
  assert_int_equal(rudp_pkt_verify_crc_pn(want, sizeof(want), 5), 0);
}

/* A packet checked against any other packet number fails: a wrongly
 * expanded number (a 1-byte number delayed by 256 packets) is caught, as
 * are bit flips. */
static void test_rudp_pkt_crc_pn_wrong_number(void **state) {
  uint8_t pkt[64];
  size_t i, n;
  (void)state;
  for (i = 0; i < 40; ++i) {
    pkt[i] = (uint8_t)(i * 37 + 1);
  }
  n = rudp_pkt_seal_crc_pn(pkt, 40, 47);
  assert_int_equal(n, 44);
  assert_int_equal(rudp_pkt_verify_crc_pn(pkt, n, 47), 0);
  assert_int_equal(rudp_pkt_verify_crc_pn(pkt, n, 47 + 256),
                   RUDP_ERR_INTEGRITY);
  assert_int_equal(rudp_pkt_verify_crc_pn(pkt, n, 303), RUDP_ERR_INTEGRITY);
  assert_int_equal(rudp_pkt_verify_crc_pn(pkt, n, 0), RUDP_ERR_INTEGRITY);
  /* The plain CRC differs from the numbered one. */
  assert_int_equal(rudp_pkt_verify_crc(pkt, n), RUDP_ERR_INTEGRITY);
  for (i = 0; i < 8 * n; ++i) {
    pkt[i / 8] ^= (uint8_t)(1u << (i % 8));
    assert_int_equal(rudp_pkt_verify_crc_pn(pkt, n, 47), RUDP_ERR_INTEGRITY);
    pkt[i / 8] ^= (uint8_t)(1u << (i % 8));
  }
  assert_int_equal(rudp_pkt_verify_crc_pn(pkt, 3, 47), RUDP_ERR_TRUNCATED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_pkt_cid_init_eq),
      cmocka_unit_test(test_rudp_pkt_wire_bytes),
      cmocka_unit_test(test_rudp_pkt_connect_round_trip),
      cmocka_unit_test(test_rudp_pkt_accept_handshake_round_trip),
      cmocka_unit_test(test_rudp_pkt_long_len_boundaries),
      cmocka_unit_test(test_rudp_pkt_short_round_trip),
      cmocka_unit_test(test_rudp_pkt_retry_round_trip),
      cmocka_unit_test(test_rudp_pkt_version_negotiation_round_trip),
      cmocka_unit_test(test_rudp_pkt_version_negotiation_any_first_byte),
      cmocka_unit_test(test_rudp_pkt_decode_truncated_long),
      cmocka_unit_test(test_rudp_pkt_decode_truncated_short),
      cmocka_unit_test(test_rudp_pkt_decode_truncated_retry),
      cmocka_unit_test(test_rudp_pkt_decode_truncated_version_negotiation),
      cmocka_unit_test(test_rudp_pkt_decode_fixed_bit_clear),
      cmocka_unit_test(test_rudp_pkt_decode_reserved_bits),
      cmocka_unit_test(test_rudp_pkt_decode_cid_too_long),
      cmocka_unit_test(test_rudp_pkt_decode_len_smaller_than_pkt_num),
      cmocka_unit_test(test_rudp_pkt_decode_len_beyond_datagram),
      cmocka_unit_test(test_rudp_pkt_decode_any_varint_width),
      cmocka_unit_test(test_rudp_pkt_decode_bad_tokens),
      cmocka_unit_test(test_rudp_pkt_decode_bad_version_lists),
      cmocka_unit_test(test_rudp_pkt_decode_error_leaves_hd),
      cmocka_unit_test(test_rudp_pkt_encode_nobuf),
      cmocka_unit_test(test_rudp_pkt_encode_invalid_argument),
      cmocka_unit_test(test_rudp_pkt_patch_len),
      cmocka_unit_test(test_rudp_pkt_seal_verify_crc),
      cmocka_unit_test(test_rudp_pkt_num_len_rfc_example),
      cmocka_unit_test(test_rudp_pkt_num_len_boundaries),
      cmocka_unit_test(test_rudp_pkt_decode_pkt_num_rfc_example),
      cmocka_unit_test(test_rudp_pkt_decode_pkt_num_edges),
      cmocka_unit_test(test_rudp_pkt_pkt_num_expansion_property),
      cmocka_unit_test(test_rudp_pkt_coalesced),
      cmocka_unit_test(test_rudp_pkt_fuzz),
      cmocka_unit_test(test_rudp_pkt_crc_pn_spec_vector),
      cmocka_unit_test(test_rudp_pkt_crc_pn_wrong_number),
  };

  return cmocka_run_group_tests_name("pkt", tests, NULL, NULL);
}
