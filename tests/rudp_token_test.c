/*
 * Tests of lib/rudp_token.c: SHA-256 against the FIPS 180-2 / NIST
 * examples, HMAC-SHA256 against RFC 4231, a RETRY token known-answer test
 * computed independently (Python hashlib/hmac) from the layout in
 * rudp_token.h, the binding of tokens to address, CIDs and time slot,
 * totality of the decoder, stateless reset tokens and the sockaddr helper.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "rudp_macro.h"
#include "rudp_token.h"
#include "rudp_test_helper.h"

#define NS_PER_S 1000000000ULL
#define SLOT_LEN (10 * NS_PER_S)

/* assert_hex checks that |len| bytes at |data| are |hex| (lower case). */
static void assert_hex(const uint8_t *data, size_t len, const char *hex) {
  char buf[2 * 64 + 1];

  assert_true(len <= 64);
  rudp_test_hex(buf, data, len);
  assert_string_equal(buf, hex);
}

static void sha256_str(uint8_t out[RUDP_SHA256_LEN], const char *s) {
  rudp_sha256(out, s, strlen(s));
}

/* hmac1 is rudp_hmac_sha256 over a single piece. */
static void hmac1(uint8_t out[RUDP_SHA256_LEN], const uint8_t *key,
                  size_t keylen, const void *data, size_t len) {
  const uint8_t *pieces[1];
  size_t lens[1];

  pieces[0] = data;
  lens[0] = len;
  rudp_hmac_sha256(out, key, keylen, 1, pieces, lens);
}

static void set_cid(rudp_cid *cid, const uint8_t *data, size_t len) {
  memset(cid, 0, sizeof(*cid));
  cid->datalen = len;
  if (len) {
    memcpy(cid->data, data, len);
  }
}

/* set_v4 makes the canonical form of a.b.c.d:port by hand. */
static void set_v4(rudp_token_addr *a, uint8_t b0, uint8_t b1, uint8_t b2,
                   uint8_t b3, uint16_t port) {
  memset(a, 0, sizeof(*a));
  a->data[0] = 4;
  a->data[1] = (uint8_t)(port >> 8);
  a->data[2] = (uint8_t)port;
  a->data[3] = b0;
  a->data[4] = b1;
  a->data[5] = b2;
  a->data[6] = b3;
  a->len = 7;
}

/* set_v6 makes the canonical form of 2001:db8::|last|, |port|. */
static void set_v6(rudp_token_addr *a, uint8_t last, uint16_t port) {
  memset(a, 0, sizeof(*a));
  a->data[0] = 6;
  a->data[1] = (uint8_t)(port >> 8);
  a->data[2] = (uint8_t)port;
  a->data[3] = 0x20;
  a->data[4] = 0x01;
  a->data[5] = 0x0d;
  a->data[6] = 0xb8;
  a->data[18] = last;
  a->len = 19;
}

/* fixture is the setting of the known-answer token: secret 0x42 * 32,
 * 10 s slots, slot 1234, 192.0.2.1:4433, odcid a0..a7, retry SCID b0..b3. */
typedef struct fixture {
  rudp_token_keys keys;
  rudp_token_addr addr;
  rudp_cid odcid, scid;
  rudp_tstamp now;
} fixture;

static void fixture_init(fixture *f) {
  static const uint8_t odcid[] = {0xa0, 0xa1, 0xa2, 0xa3,
                                  0xa4, 0xa5, 0xa6, 0xa7};
  static const uint8_t scid[] = {0xb0, 0xb1, 0xb2, 0xb3};
  uint8_t secret[RUDP_TOKEN_SECRETLEN];

  memset(secret, 0x42, sizeof(secret));
  f->now = 1234 * SLOT_LEN + 5 * NS_PER_S;
  rudp_token_keys_init(&f->keys, secret, SLOT_LEN, f->now);
  set_v4(&f->addr, 192, 0, 2, 1, 4433);
  set_cid(&f->odcid, odcid, sizeof(odcid));
  set_cid(&f->scid, scid, sizeof(scid));
}

static size_t fixture_mint(const fixture *f, uint8_t *tok) {
  rudp_ssize n = rudp_token_mint(tok, RUDP_TOKEN_MAXLEN, &f->keys, &f->addr,
                                 &f->odcid, &f->scid, f->now);

  assert_true(n > 0);
  return (size_t)n;
}

static void test_rudp_token_sha256_nist_short(void **state) {
  uint8_t md[RUDP_SHA256_LEN];

  (void)state;

  sha256_str(md, "");
  assert_hex(md, sizeof(md),
             "e3b0c44298fc1c149afbf4c8996fb924"
             "27ae41e4649b934ca495991b7852b855");
  sha256_str(md, "abc");
  assert_hex(md, sizeof(md),
             "ba7816bf8f01cfea414140de5dae2223"
             "b00361a396177a9cb410ff61f20015ad");
  /* 448 bits: the padding needs a second block. */
  sha256_str(md, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
  assert_hex(md, sizeof(md),
             "248d6a61d20638b8e5c026930c3e6039"
             "a33ce45964ff2167f6ecedd419db06c1");
  /* 896 bits. */
  sha256_str(md, "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                 "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu");
  assert_hex(md, sizeof(md),
             "cf5b16a778af8380036ce59e7b049237"
             "0b249b11e8f07a51afac45037afee9d1");
}

static void test_rudp_token_sha256_million_a(void **state) {
  uint8_t md[RUDP_SHA256_LEN];
  size_t len = 1000000;
  uint8_t *buf = malloc(len);

  (void)state;

  assert_non_null(buf);
  memset(buf, 'a', len);
  rudp_sha256(md, buf, len);
  free(buf);
  assert_hex(md, sizeof(md),
             "cdc76e5c9914fb9281a1c7e284d73e67"
             "f1809a48a497200e046d39ccc7112cd0");
}

/*
 * Every length from 0 to 200 (each padding case: 55, 56, 63, 64, 119, 120
 * ...): the SHA-256 of the 201 concatenated digests of the prefixes of
 * (i * 7 + 1) & 0xff, computed with Python's hashlib.
 */
static void test_rudp_token_sha256_every_length(void **state) {
  uint8_t msg[200];
  uint8_t acc[201 * RUDP_SHA256_LEN];
  uint8_t md[RUDP_SHA256_LEN];
  size_t i;

  (void)state;

  for (i = 0; i < sizeof(msg); ++i) {
    msg[i] = (uint8_t)(i * 7 + 1);
  }
  for (i = 0; i <= sizeof(msg); ++i) {
    rudp_sha256(acc + i * RUDP_SHA256_LEN, msg, i);
  }
  rudp_sha256(md, acc, sizeof(acc));
  assert_hex(md, sizeof(md),
             "a762260eaf7d0bf0f3e5c702dd2bc7de"
             "18bb629df9cad5b668d384084812f4f8");
}

static void test_rudp_token_hmac_rfc4231(void **state) {
  static const char *data6 =
      "Test Using Larger Than Block-Size Key - Hash Key First";
  static const char *data7 =
      "This is a test using a larger than block-size key and a larger than "
      "block-size data. The key needs to be hashed before being used by the "
      "HMAC algorithm.";
  uint8_t key[131], data[50];
  uint8_t mac[RUDP_SHA256_LEN];
  size_t i;

  (void)state;

  /* Test case 1. */
  memset(key, 0x0b, 20);
  hmac1(mac, key, 20, "Hi There", 8);
  assert_hex(mac, sizeof(mac),
             "b0344c61d8db38535ca8afceaf0bf12b"
             "881dc200c9833da726e9376c2e32cff7");
  /* Test case 2: a key shorter than the output. */
  hmac1(mac, (const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28);
  assert_hex(mac, sizeof(mac),
             "5bdcc146bf60754e6a042426089575c7"
             "5a003f089d2739839dec58b964ec3843");
  /* Test case 3. */
  memset(key, 0xaa, 20);
  memset(data, 0xdd, 50);
  hmac1(mac, key, 20, data, 50);
  assert_hex(mac, sizeof(mac),
             "773ea91e36800e46854db8ebd09181a7"
             "2959098b3ef8c122d9635514ced565fe");
  /* Test case 4. */
  for (i = 0; i < 25; ++i) {
    key[i] = (uint8_t)(i + 1);
  }
  memset(data, 0xcd, 50);
  hmac1(mac, key, 25, data, 50);
  assert_hex(mac, sizeof(mac),
             "82558a389a443c0ea4cc819899f2083a"
             "85f0faa3e578f8077a2e3ff46729665b");
  /* Test cases 6 and 7: a 131-byte key, hashed first (RFC 2104 2). */
  memset(key, 0xaa, 131);
  hmac1(mac, key, 131, data6, strlen(data6));
  assert_hex(mac, sizeof(mac),
             "60e431591ee0b67f0d8a26aacbf5b77f"
             "8e0bc6213728c5140546040f0ee37f54");
  hmac1(mac, key, 131, data7, strlen(data7));
  assert_hex(mac, sizeof(mac),
             "9b09ffa71b942fcb27635fbcd5b0e944"
             "bfdc63644f0713938a7f51535c3a35e2");
}

/* Splitting the message into pieces anywhere gives the same MAC, including
 * empty (NULL) pieces and splits across the 64-byte block boundaries. */
static void test_rudp_token_hmac_pieces(void **state) {
  const char *data7 =
      "This is a test using a larger than block-size key and a larger than "
      "block-size data. The key needs to be hashed before being used by the "
      "HMAC algorithm.";
  size_t len = strlen(data7);
  const uint8_t *msg = (const uint8_t *)data7;
  uint8_t key[131];
  uint8_t mac[RUDP_SHA256_LEN];
  const uint8_t *pieces[4];
  size_t lens[4];
  size_t i, j;

  (void)state;

  memset(key, 0xaa, sizeof(key));
  for (i = 0; i <= len; ++i) {
    for (j = i; j <= len; ++j) {
      pieces[0] = msg;
      lens[0] = i;
      pieces[1] = NULL;
      lens[1] = 0;
      pieces[2] = msg + i;
      lens[2] = j - i;
      pieces[3] = msg + j;
      lens[3] = len - j;
      rudp_hmac_sha256(mac, key, sizeof(key), 4, pieces, lens);
      assert_hex(mac, sizeof(mac),
                 "9b09ffa71b942fcb27635fbcd5b0e944"
                 "bfdc63644f0713938a7f51535c3a35e2");
    }
  }

  /* No pieces at all is the empty message. */
  rudp_hmac_sha256(mac, key, sizeof(key), 0, NULL, NULL);
  hmac1(key, key, sizeof(key), "", 0);
  assert_memory_equal(mac, key, sizeof(mac));
}

/* The exact bytes of a token, computed independently with Python's hmac
 * from the layout documented in rudp_token.h. */
static void test_rudp_token_mint_known_answer(void **state) {
  fixture f;
  uint8_t tok[RUDP_TOKEN_MAXLEN];
  size_t n;

  (void)state;

  fixture_init(&f);
  n = fixture_mint(&f, tok);
  assert_int_equal(n, 30);
  assert_hex(tok, n,
             "00000004d208a0a1a2a3a4a5a6a7"
             "c2e097a8b497691f9ae8d6f7dd4fd2cc");
}

static void test_rudp_token_round_trip(void **state) {
  static const uint16_t ports[] = {0, 1, 443, 65535};
  rudp_test_rng rng;
  rudp_token_keys keys;
  rudp_token_addr addr;
  rudp_cid odcid, scid, got;
  uint8_t secret[RUDP_TOKEN_SECRETLEN];
  uint8_t tok[RUDP_TOKEN_MAXLEN];
  rudp_tstamp now = 77 * SLOT_LEN;
  rudp_ssize n;
  size_t olen, slen, i;

  (void)state;

  rudp_test_rng_init(&rng, 0x70c3e11);
  rudp_test_rng_fill(&rng, secret, sizeof(secret));
  rudp_token_keys_init(&keys, secret, SLOT_LEN, now);

  for (olen = 0; olen <= RUDP_MAX_CIDLEN; ++olen) {
    for (slen = 0; slen <= RUDP_MAX_CIDLEN; slen += 4) {
      for (i = 0; i < 2 * rudp_arraylen(ports); ++i) {
        uint16_t port = ports[i % rudp_arraylen(ports)];

        if (i < rudp_arraylen(ports)) {
          set_v4(&addr, 10, 0, (uint8_t)olen, (uint8_t)slen, port);
        } else {
          set_v6(&addr, (uint8_t)olen, port);
        }
        odcid.datalen = olen;
        rudp_test_rng_fill(&rng, odcid.data, sizeof(odcid.data));
        scid.datalen = slen;
        rudp_test_rng_fill(&rng, scid.data, sizeof(scid.data));

        n = rudp_token_mint(tok, sizeof(tok), &keys, &addr, &odcid, &scid, now);
        assert_int_equal(n, 1 + 4 + 1 + olen + RUDP_TOKEN_MACLEN);
        assert_int_equal(tok[0], RUDP_TOKEN_KIND_RETRY);

        memset(&got, 0xee, sizeof(got));
        assert_int_equal(rudp_token_verify(&keys, tok, (size_t)n, &addr, &scid,
                                           now + SLOT_LEN - 1, &got),
                         0);
        assert_int_equal(got.datalen, olen);
        assert_memory_equal(got.data, odcid.data, olen);
      }
    }
  }
}

static void test_rudp_token_mint_nobuf(void **state) {
  fixture f;
  uint8_t tok[RUDP_TOKEN_MAXLEN];
  rudp_cid got;

  (void)state;

  fixture_init(&f);
  memset(tok, 0x5a, sizeof(tok));
  /* 30 bytes are needed: 29 is too few and nothing is written... */
  assert_int_equal(
      rudp_token_mint(tok, 29, &f.keys, &f.addr, &f.odcid, &f.scid, f.now),
      RUDP_ERR_NOBUF);
  assert_int_equal(tok[0], 0x5a);
  assert_int_equal(
      rudp_token_mint(tok, 0, &f.keys, &f.addr, &f.odcid, &f.scid, f.now),
      RUDP_ERR_NOBUF);
  /* ...and exactly 30 is enough. */
  assert_int_equal(
      rudp_token_mint(tok, 30, &f.keys, &f.addr, &f.odcid, &f.scid, f.now), 30);
  assert_int_equal(
      rudp_token_verify(&f.keys, tok, 30, &f.addr, &f.scid, f.now, &got), 0);
}

/* The token binds the address (family, port, bytes) and both CIDs. */
static void test_rudp_token_binding(void **state) {
  fixture f;
  uint8_t tok[RUDP_TOKEN_MAXLEN];
  rudp_token_addr a;
  rudp_cid c, got;
  size_t n, i;

  (void)state;

  fixture_init(&f);
  n = fixture_mint(&f, tok);
  assert_int_equal(
      rudp_token_verify(&f.keys, tok, n, &f.addr, &f.scid, f.now, &got), 0);

  /* Another address, another port. */
  set_v4(&a, 192, 0, 2, 2, 4433);
  assert_int_equal(rudp_token_verify(&f.keys, tok, n, &a, &f.scid, f.now, &got),
                   RUDP_ERR_INVALID_TOKEN);
  set_v4(&a, 192, 0, 2, 1, 4434);
  assert_int_equal(rudp_token_verify(&f.keys, tok, n, &a, &f.scid, f.now, &got),
                   RUDP_ERR_INVALID_TOKEN);
  /* Same bytes under another family byte. */
  a = f.addr;
  a.data[0] = 6;
  assert_int_equal(rudp_token_verify(&f.keys, tok, n, &a, &f.scid, f.now, &got),
                   RUDP_ERR_INVALID_TOKEN);
  /* An IPv6 address is not its IPv4 prefix. */
  set_v6(&a, 1, 4433);
  assert_int_equal(rudp_token_verify(&f.keys, tok, n, &a, &f.scid, f.now, &got),
                   RUDP_ERR_INVALID_TOKEN);

  /* Another retry SCID: one byte changed, one byte shorter, one longer. */
  c = f.scid;
  c.data[3] ^= 1;
  assert_int_equal(rudp_token_verify(&f.keys, tok, n, &f.addr, &c, f.now, &got),
                   RUDP_ERR_INVALID_TOKEN);
  c = f.scid;
  c.datalen = 3;
  assert_int_equal(rudp_token_verify(&f.keys, tok, n, &f.addr, &c, f.now, &got),
                   RUDP_ERR_INVALID_TOKEN);
  c = f.scid;
  c.datalen = 5;
  assert_int_equal(rudp_token_verify(&f.keys, tok, n, &f.addr, &c, f.now, &got),
                   RUDP_ERR_INVALID_TOKEN);
  /* The odcid in the token replaced by another of the same length. */
  for (i = 6; i < 6 + f.odcid.datalen; ++i) {
    uint8_t t[RUDP_TOKEN_MAXLEN];

    memcpy(t, tok, n);
    t[i] = (uint8_t)(t[i] + 1);
    assert_int_equal(
        rudp_token_verify(&f.keys, t, n, &f.addr, &f.scid, f.now, &got),
        RUDP_ERR_INVALID_TOKEN);
  }

  /* A token of another server (another secret) is a forgery. */
  {
    rudp_token_keys other;
    uint8_t secret[RUDP_TOKEN_SECRETLEN];

    memset(secret, 0x43, sizeof(secret));
    rudp_token_keys_init(&other, secret, SLOT_LEN, f.now);
    assert_int_equal(
        rudp_token_verify(&other, tok, n, &f.addr, &f.scid, f.now, &got),
        RUDP_ERR_INVALID_TOKEN);
  }
}

/* Every single-bit change of the token is rejected, and the output CID is
 * left alone on failure. */
static void test_rudp_token_bit_flips(void **state) {
  fixture f;
  uint8_t tok[RUDP_TOKEN_MAXLEN], t[RUDP_TOKEN_MAXLEN];
  rudp_cid got, sentinel;
  size_t n, i;

  (void)state;

  fixture_init(&f);
  n = fixture_mint(&f, tok);
  memset(&sentinel, 0xee, sizeof(sentinel));
  for (i = 0; i < n * 8; ++i) {
    memcpy(t, tok, n);
    t[i / 8] ^= (uint8_t)(1u << (i % 8));
    got = sentinel;
    assert_int_equal(
        rudp_token_verify(&f.keys, t, n, &f.addr, &f.scid, f.now, &got),
        RUDP_ERR_INVALID_TOKEN);
    assert_memory_equal(&got, &sentinel, sizeof(got));
  }
}

/* Slots: minted in slot s, valid in s and s + 1 (after the rotation, with
 * the previous secret), invalid in s + 2 and in any slot before s. */
static void test_rudp_token_expiry(void **state) {
  fixture f;
  uint8_t tok[RUDP_TOKEN_MAXLEN];
  uint8_t secret[RUDP_TOKEN_SECRETLEN];
  rudp_token_keys k;
  rudp_cid got;
  rudp_tstamp s0 = 1234 * SLOT_LEN;
  size_t n;

  (void)state;

  fixture_init(&f);
  n = fixture_mint(&f, tok);

  /* The whole slot. */
  assert_int_equal(
      rudp_token_verify(&f.keys, tok, n, &f.addr, &f.scid, s0, &got), 0);
  assert_int_equal(rudp_token_verify(&f.keys, tok, n, &f.addr, &f.scid,
                                     s0 + SLOT_LEN - 1, &got),
                   0);

  /* The next slot without rotating (the current secret still minted it)
   * and with rotating (now the previous one did). */
  assert_int_equal(
      rudp_token_verify(&f.keys, tok, n, &f.addr, &f.scid, s0 + SLOT_LEN, &got),
      0);
  k = f.keys;
  memset(secret, 0x99, sizeof(secret));
  rudp_token_keys_rotate(&k, secret, s0 + SLOT_LEN);
  assert_int_equal(k.cur_slot, 1235);
  assert_int_equal(k.have_prev, 1);
  assert_int_equal(rudp_token_verify(&k, tok, n, &f.addr, &f.scid,
                                     s0 + 2 * SLOT_LEN - 1, &got),
                   0);
  assert_memory_equal(got.data, f.odcid.data, f.odcid.datalen);

  /* Two slots later: expired, rotated twice or not rotated at all. */
  rudp_token_keys_rotate(&k, secret, s0 + 2 * SLOT_LEN);
  assert_int_equal(
      rudp_token_verify(&k, tok, n, &f.addr, &f.scid, s0 + 2 * SLOT_LEN, &got),
      RUDP_ERR_INVALID_TOKEN);
  assert_int_equal(rudp_token_verify(&f.keys, tok, n, &f.addr, &f.scid,
                                     s0 + 2 * SLOT_LEN, &got),
                   RUDP_ERR_INVALID_TOKEN);
  /* Rotated only once, but late: the previous secret is right, the time
   * is not. */
  k = f.keys;
  rudp_token_keys_rotate(&k, secret, s0 + SLOT_LEN);
  assert_int_equal(
      rudp_token_verify(&k, tok, n, &f.addr, &f.scid, s0 + 2 * SLOT_LEN, &got),
      RUDP_ERR_INVALID_TOKEN);
  /* Rotated after an idle gap: the previous secret belongs to slot 1234,
   * which is not the slot before 1240. */
  k = f.keys;
  rudp_token_keys_rotate(&k, secret, s0 + 6 * SLOT_LEN);
  assert_int_equal(
      rudp_token_verify(&k, tok, n, &f.addr, &f.scid, s0 + 6 * SLOT_LEN, &got),
      RUDP_ERR_INVALID_TOKEN);

  /* Before its slot (the clock of the verifier is earlier). */
  assert_int_equal(
      rudp_token_verify(&f.keys, tok, n, &f.addr, &f.scid, s0 - 1, &got),
      RUDP_ERR_INVALID_TOKEN);
}

/* A token from a slot later than the keys' current one is rejected, even
 * when the secret is right. */
static void test_rudp_token_future_slot(void **state) {
  fixture f;
  uint8_t tok[RUDP_TOKEN_MAXLEN];
  rudp_token_keys later;
  rudp_cid got;
  rudp_tstamp s0 = 1234 * SLOT_LEN;
  rudp_ssize n;

  (void)state;

  fixture_init(&f);
  /* Same secret, but one slot ahead. */
  later = f.keys;
  later.cur_slot = 1235;
  n = rudp_token_mint(tok, sizeof(tok), &later, &f.addr, &f.odcid, &f.scid,
                      s0 + SLOT_LEN);
  assert_int_equal(n, 30);
  assert_int_equal(rudp_token_verify(&later, tok, (size_t)n, &f.addr, &f.scid,
                                     s0 + SLOT_LEN, &got),
                   0);
  /* The keys are in 1234: in 1234 and in 1235 (not rotated), rejected. */
  assert_int_equal(
      rudp_token_verify(&f.keys, tok, (size_t)n, &f.addr, &f.scid, s0, &got),
      RUDP_ERR_INVALID_TOKEN);
  assert_int_equal(rudp_token_verify(&f.keys, tok, (size_t)n, &f.addr, &f.scid,
                                     s0 + SLOT_LEN, &got),
                   RUDP_ERR_INVALID_TOKEN);
}

static void test_rudp_token_keys_rotation(void **state) {
  rudp_token_keys k;
  uint8_t s1[RUDP_TOKEN_SECRETLEN], s2[RUDP_TOKEN_SECRETLEN];

  (void)state;

  memset(s1, 1, sizeof(s1));
  memset(s2, 2, sizeof(s2));
  rudp_token_keys_init(&k, s1, SLOT_LEN, 3 * SLOT_LEN + 1);
  assert_int_equal(k.slot_len, SLOT_LEN);
  assert_int_equal(k.cur_slot, 3);
  assert_int_equal(k.have_prev, 0);
  assert_memory_equal(k.cur, s1, sizeof(s1));

  assert_false(rudp_token_keys_need_rotation(&k, 3 * SLOT_LEN));
  assert_false(rudp_token_keys_need_rotation(&k, 4 * SLOT_LEN - 1));
  assert_true(rudp_token_keys_need_rotation(&k, 4 * SLOT_LEN));
  assert_true(rudp_token_keys_need_rotation(&k, 100 * SLOT_LEN));

  rudp_token_keys_rotate(&k, s2, 9 * SLOT_LEN + 7);
  assert_int_equal(k.cur_slot, 9);
  assert_int_equal(k.have_prev, 1);
  assert_memory_equal(k.cur, s2, sizeof(s2));
  assert_memory_equal(k.prev, s1, sizeof(s1));
  assert_false(rudp_token_keys_need_rotation(&k, 10 * SLOT_LEN - 1));
  assert_true(rudp_token_keys_need_rotation(&k, 10 * SLOT_LEN));
}

/* The decoder is total: every truncation, every extension and malformed
 * headers give RUDP_ERR_INVALID_TOKEN (ASan checks the reads). */
static void test_rudp_token_malformed(void **state) {
  fixture f;
  uint8_t tok[RUDP_TOKEN_MAXLEN], t[RUDP_TOKEN_MAXLEN + 64];
  uint8_t *heap;
  rudp_cid got;
  size_t n, len;

  (void)state;

  fixture_init(&f);
  n = fixture_mint(&f, tok);

  /* Each prefix in a heap block of exactly its size. */
  for (len = 0; len < n; ++len) {
    heap = malloc(len ? len : 1);
    assert_non_null(heap);
    memcpy(heap, tok, len);
    assert_int_equal(
        rudp_token_verify(&f.keys, heap, len, &f.addr, &f.scid, f.now, &got),
        RUDP_ERR_INVALID_TOKEN);
    free(heap);
  }
  assert_int_equal(
      rudp_token_verify(&f.keys, NULL, 0, &f.addr, &f.scid, f.now, &got),
      RUDP_ERR_INVALID_TOKEN);

  /* Trailing bytes. */
  memcpy(t, tok, n);
  t[n] = 0;
  assert_int_equal(
      rudp_token_verify(&f.keys, t, n + 1, &f.addr, &f.scid, f.now, &got),
      RUDP_ERR_INVALID_TOKEN);

  /* Another kind (1 is NEW_TOKEN's). */
  memcpy(t, tok, n);
  t[0] = 1;
  assert_int_equal(
      rudp_token_verify(&f.keys, t, n, &f.addr, &f.scid, f.now, &got),
      RUDP_ERR_INVALID_TOKEN);

  /* odcid_len over 20 with a length that would match it. */
  memset(t, 0, sizeof(t));
  memcpy(t, tok, 5);
  t[5] = 21;
  assert_int_equal(rudp_token_verify(&f.keys, t, 6 + 21 + RUDP_TOKEN_MACLEN,
                                     &f.addr, &f.scid, f.now, &got),
                   RUDP_ERR_INVALID_TOKEN);
  t[5] = 0xff;
  assert_int_equal(
      rudp_token_verify(&f.keys, t, sizeof(t), &f.addr, &f.scid, f.now, &got),
      RUDP_ERR_INVALID_TOKEN);

  /* An odcid_len that disagrees with the length, both ways. */
  memcpy(t, tok, n);
  t[5] = 7;
  assert_int_equal(
      rudp_token_verify(&f.keys, t, n, &f.addr, &f.scid, f.now, &got),
      RUDP_ERR_INVALID_TOKEN);
  t[5] = 9;
  assert_int_equal(
      rudp_token_verify(&f.keys, t, n, &f.addr, &f.scid, f.now, &got),
      RUDP_ERR_INVALID_TOKEN);
}

/* Random garbage of random lengths never verifies and never reads out of
 * bounds. */
static void test_rudp_token_random_garbage(void **state) {
  fixture f;
  rudp_test_rng rng;
  rudp_cid got;
  uint8_t *buf;
  size_t i, len;

  (void)state;

  fixture_init(&f);
  rudp_test_rng_init(&rng, 0x6a7ba6e);
  for (i = 0; i < 20000; ++i) {
    len = (size_t)rudp_test_rng_below(&rng, 64);
    buf = malloc(len ? len : 1);
    assert_non_null(buf);
    rudp_test_rng_fill(&rng, buf, len);
    /* Make the header plausible half the time so the MAC is reached. */
    if (len >= 6 && (i & 1)) {
      buf[0] = RUDP_TOKEN_KIND_RETRY;
      buf[1] = 0;
      buf[2] = 0;
      buf[3] = 0x04;
      buf[4] = 0xd2;
      buf[5] = (uint8_t)(len >= 22 ? len - 22 : 0);
    }
    assert_int_equal(
        rudp_token_verify(&f.keys, buf, len, &f.addr, &f.scid, f.now, &got),
        RUDP_ERR_INVALID_TOKEN);
    free(buf);
  }
}

/*
 * forge builds a token by hand from the documented layout, with a correct
 * MAC under |secret|: kind, slot, odcid_len byte, |odcidlen| odcid bytes
 * of 0x33, MAC.  Returns its length.
 */
static size_t forge(uint8_t *out, const uint8_t *secret, uint8_t kind,
                    uint32_t slot, size_t odcidlen, const rudp_token_addr *addr,
                    const rudp_cid *scid) {
  uint8_t mac[RUDP_SHA256_LEN];
  uint8_t scidlen = (uint8_t)scid->datalen;
  const uint8_t *pieces[6];
  size_t lens[6];

  out[0] = kind;
  out[1] = (uint8_t)(slot >> 24);
  out[2] = (uint8_t)(slot >> 16);
  out[3] = (uint8_t)(slot >> 8);
  out[4] = (uint8_t)slot;
  out[5] = (uint8_t)odcidlen;
  memset(out + 6, 0x33, odcidlen);
  pieces[0] = out;
  lens[0] = 5;
  pieces[1] = addr->data;
  lens[1] = addr->len;
  pieces[2] = out + 5;
  lens[2] = 1 + odcidlen;
  pieces[3] = &scidlen;
  lens[3] = 1;
  pieces[4] = scid->data;
  lens[4] = scid->datalen;
  rudp_hmac_sha256(mac, secret, RUDP_TOKEN_SECRETLEN, 5, pieces, lens);
  memcpy(out + 6 + odcidlen, mac, RUDP_TOKEN_MACLEN);
  return 6 + odcidlen + RUDP_TOKEN_MACLEN;
}

/* Tokens with a valid MAC but a wrong kind or an odcid over 20 bytes are
 * still malformed: the checks do not rely on the MAC. */
static void test_rudp_token_malformed_with_valid_mac(void **state) {
  fixture f;
  uint8_t secret[RUDP_TOKEN_SECRETLEN];
  uint8_t t[64];
  rudp_cid got, sentinel;
  size_t n;

  (void)state;

  fixture_init(&f);
  memset(secret, 0x42, sizeof(secret));
  memset(&sentinel, 0xee, sizeof(sentinel));

  /* The forger agrees with mint (so the cases below differ only in what
   * they say they differ in). */
  n = forge(t, secret, RUDP_TOKEN_KIND_RETRY, 1234, 8, &f.addr, &f.scid);
  got = sentinel;
  assert_int_equal(
      rudp_token_verify(&f.keys, t, n, &f.addr, &f.scid, f.now, &got), 0);
  assert_int_equal(got.datalen, 8);
  assert_memory_equal(got.data, "33333333", 8);

  n = forge(t, secret, 1, 1234, 8, &f.addr, &f.scid);
  got = sentinel;
  assert_int_equal(
      rudp_token_verify(&f.keys, t, n, &f.addr, &f.scid, f.now, &got),
      RUDP_ERR_INVALID_TOKEN);
  assert_memory_equal(&got, &sentinel, sizeof(got));

  n = forge(t, secret, RUDP_TOKEN_KIND_RETRY, 1234, RUDP_MAX_CIDLEN + 1,
            &f.addr, &f.scid);
  got = sentinel;
  assert_int_equal(
      rudp_token_verify(&f.keys, t, n, &f.addr, &f.scid, f.now, &got),
      RUDP_ERR_INVALID_TOKEN);
  assert_memory_equal(&got, &sentinel, sizeof(got));
}

/* Without a previous secret nothing is checked against the (zeroed)
 * previous-secret array. */
static void test_rudp_token_no_prev_secret(void **state) {
  fixture f;
  uint8_t zero[RUDP_TOKEN_SECRETLEN];
  uint8_t t[64];
  rudp_token_keys k;
  rudp_cid got;
  size_t n;

  (void)state;

  fixture_init(&f);
  memset(zero, 0, sizeof(zero));
  /* Keys that began in slot 1235 without a predecessor. */
  rudp_token_keys_init(&k, f.keys.cur, SLOT_LEN, 1235 * SLOT_LEN);
  assert_int_equal(k.have_prev, 0);
  n = forge(t, zero, RUDP_TOKEN_KIND_RETRY, 1234, 8, &f.addr, &f.scid);
  assert_int_equal(
      rudp_token_verify(&k, t, n, &f.addr, &f.scid, 1235 * SLOT_LEN, &got),
      RUDP_ERR_INVALID_TOKEN);
  /* Nor with the current secret under the previous slot's number. */
  n = forge(t, k.cur, RUDP_TOKEN_KIND_RETRY, 1234, 8, &f.addr, &f.scid);
  assert_int_equal(
      rudp_token_verify(&k, t, n, &f.addr, &f.scid, 1235 * SLOT_LEN, &got),
      RUDP_ERR_INVALID_TOKEN);
}

/*
 * The slot travels in 32 bits.  With 1 ns slots the wrap is reachable: a
 * token of slot 2^32 - 1 is still good in slot 2^32 (0 on the wire), but
 * slot 0 itself has no slot before it.
 */
static void test_rudp_token_slot_wrap(void **state) {
  fixture f;
  uint8_t s1[RUDP_TOKEN_SECRETLEN], s2[RUDP_TOKEN_SECRETLEN];
  uint8_t tok[RUDP_TOKEN_MAXLEN], t2[RUDP_TOKEN_MAXLEN];
  rudp_token_keys k, k0;
  rudp_cid got;
  rudp_tstamp last = 0xffffffffULL;
  rudp_ssize n, n2;

  (void)state;

  fixture_init(&f);
  memset(s1, 1, sizeof(s1));
  memset(s2, 2, sizeof(s2));
  rudp_token_keys_init(&k, s1, 1, last);
  n = rudp_token_mint(tok, sizeof(tok), &k, &f.addr, &f.odcid, &f.scid, last);
  assert_int_equal(n, 30);
  assert_hex(tok, 5, "00ffffffff");

  /* Slot 2^32, rotated: accepted with the previous secret. */
  rudp_token_keys_rotate(&k, s2, last + 1);
  assert_int_equal(k.cur_slot, 1ULL << 32);
  assert_int_equal(
      rudp_token_verify(&k, tok, (size_t)n, &f.addr, &f.scid, last + 1, &got),
      0);
  /* And a token of slot 2^32 goes out as 0 and verifies. */
  n2 =
      rudp_token_mint(t2, sizeof(t2), &k, &f.addr, &f.odcid, &f.scid, last + 1);
  assert_hex(t2, 5, "0000000000");
  assert_int_equal(
      rudp_token_verify(&k, t2, (size_t)n2, &f.addr, &f.scid, last + 1, &got),
      0);

  /* Keys whose current slot is 0, with s1 as previous secret: the token
   * of "slot -1" (0xffffffff) is not from the previous slot. */
  rudp_token_keys_init(&k0, s1, 1, 0);
  rudp_token_keys_rotate(&k0, s2, 0);
  assert_int_equal(k0.cur_slot, 0);
  assert_int_equal(
      rudp_token_verify(&k0, tok, (size_t)n, &f.addr, &f.scid, 0, &got),
      RUDP_ERR_INVALID_TOKEN);
}

static void test_rudp_token_stateless_reset(void **state) {
  uint8_t secret[RUDP_TOKEN_SECRETLEN], secret2[RUDP_TOKEN_SECRETLEN];
  uint8_t a[RUDP_STATELESS_RESET_TOKENLEN], b[RUDP_STATELESS_RESET_TOKENLEN];
  rudp_cid cid, cid2;
  size_t i;

  (void)state;

  for (i = 0; i < sizeof(secret); ++i) {
    secret[i] = (uint8_t)i;
  }
  for (i = 0; i < 8; ++i) {
    cid.data[i] = (uint8_t)(i + 1);
  }
  cid.datalen = 8;

  /* Known answer: HMAC-SHA256(00..1f, "reset" 01..08), Python hmac. */
  rudp_token_stateless_reset(a, secret, &cid);
  assert_hex(a, sizeof(a), "e659aba539f28834fc0c0497b74d3a35");

  /* Deterministic, and only the CID's used bytes count. */
  cid2 = cid;
  memset(cid2.data + 8, 0x77, sizeof(cid2.data) - 8);
  rudp_token_stateless_reset(b, secret, &cid2);
  assert_memory_equal(a, b, sizeof(a));

  /* Another CID: one byte, or a prefix. */
  cid2 = cid;
  cid2.data[7] ^= 0x80;
  rudp_token_stateless_reset(b, secret, &cid2);
  assert_memory_not_equal(a, b, sizeof(a));
  cid2 = cid;
  cid2.datalen = 7;
  rudp_token_stateless_reset(b, secret, &cid2);
  assert_memory_not_equal(a, b, sizeof(a));

  /* Another secret. */
  memcpy(secret2, secret, sizeof(secret));
  secret2[31] ^= 1;
  rudp_token_stateless_reset(b, secret2, &cid);
  assert_memory_not_equal(a, b, sizeof(a));

  /* The empty CID works and differs too. */
  cid2.datalen = 0;
  rudp_token_stateless_reset(b, secret, &cid2);
  assert_memory_not_equal(a, b, sizeof(a));
}

static void test_rudp_token_addr_from_sockaddr(void **state) {
  struct sockaddr_in sin;
  struct sockaddr_in6 sin6;
  struct sockaddr_storage ss;
  rudp_token_addr a, b, orig;
  size_t i;

  (void)state;

  /* 192.0.2.1:4433 (0x1151). */
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons(4433);
  sin.sin_addr.s_addr = htonl(0xc0000201);
  assert_int_equal(rudp_token_addr_from_sockaddr(
                       &a, (const struct sockaddr *)&sin, sizeof(sin)),
                   0);
  assert_int_equal(a.len, 7);
  assert_hex(a.data, a.len, "041151c0000201");
  set_v4(&b, 192, 0, 2, 1, 4433);
  assert_memory_equal(a.data, b.data, 7);

  /* [2001:db8::42]:65535, from a sockaddr_storage. */
  memset(&sin6, 0, sizeof(sin6));
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(65535);
  sin6.sin6_addr.s6_addr[0] = 0x20;
  sin6.sin6_addr.s6_addr[1] = 0x01;
  sin6.sin6_addr.s6_addr[2] = 0x0d;
  sin6.sin6_addr.s6_addr[3] = 0xb8;
  sin6.sin6_addr.s6_addr[15] = 0x42;
  memset(&ss, 0, sizeof(ss));
  memcpy(&ss, &sin6, sizeof(sin6));
  assert_int_equal(rudp_token_addr_from_sockaddr(
                       &a, (const struct sockaddr *)&ss, sizeof(ss)),
                   0);
  assert_int_equal(a.len, 19);
  assert_hex(a.data, a.len, "06ffff20010db8000000000000000000000042");
  set_v6(&b, 0x42, 65535);
  assert_memory_equal(a.data, b.data, 19);

  /* Failures leave |a| alone. */
  memset(&orig, 0xcd, sizeof(orig));

  /* Another family. */
  memset(&ss, 0, sizeof(ss));
  ss.ss_family = AF_UNIX;
  a = orig;
  assert_int_equal(rudp_token_addr_from_sockaddr(
                       &a, (const struct sockaddr *)&ss, sizeof(ss)),
                   RUDP_ERR_INVALID_ARGUMENT);
  ss.ss_family = AF_UNSPEC;
  assert_int_equal(rudp_token_addr_from_sockaddr(
                       &a, (const struct sockaddr *)&ss, sizeof(ss)),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_memory_equal(&a, &orig, sizeof(a));

  /* Every length too short for the family, in exact-size heap blocks. */
  for (i = 0; i < sizeof(sin6); ++i) {
    uint8_t *heap = malloc(i ? i : 1);

    assert_non_null(heap);
    if (i < sizeof(sin)) {
      memcpy(heap, &sin, i);
      assert_int_equal(
          rudp_token_addr_from_sockaddr(
              &a, (const struct sockaddr *)(void *)heap, (socklen_t)i),
          RUDP_ERR_INVALID_ARGUMENT);
    }
    memcpy(heap, &sin6, i);
    assert_int_equal(
        rudp_token_addr_from_sockaddr(&a, (const struct sockaddr *)(void *)heap,
                                      (socklen_t)i),
        RUDP_ERR_INVALID_ARGUMENT);
    free(heap);
  }
  assert_memory_equal(&a, &orig, sizeof(a));
  assert_int_equal(rudp_token_addr_from_sockaddr(&a, NULL, 0),
                   RUDP_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_token_sha256_nist_short),
      cmocka_unit_test(test_rudp_token_sha256_million_a),
      cmocka_unit_test(test_rudp_token_sha256_every_length),
      cmocka_unit_test(test_rudp_token_hmac_rfc4231),
      cmocka_unit_test(test_rudp_token_hmac_pieces),
      cmocka_unit_test(test_rudp_token_mint_known_answer),
      cmocka_unit_test(test_rudp_token_round_trip),
      cmocka_unit_test(test_rudp_token_mint_nobuf),
      cmocka_unit_test(test_rudp_token_binding),
      cmocka_unit_test(test_rudp_token_bit_flips),
      cmocka_unit_test(test_rudp_token_expiry),
      cmocka_unit_test(test_rudp_token_future_slot),
      cmocka_unit_test(test_rudp_token_keys_rotation),
      cmocka_unit_test(test_rudp_token_malformed),
      cmocka_unit_test(test_rudp_token_malformed_with_valid_mac),
      cmocka_unit_test(test_rudp_token_no_prev_secret),
      cmocka_unit_test(test_rudp_token_slot_wrap),
      cmocka_unit_test(test_rudp_token_random_garbage),
      cmocka_unit_test(test_rudp_token_stateless_reset),
      cmocka_unit_test(test_rudp_token_addr_from_sockaddr),
  };

  return cmocka_run_group_tests_name("token", tests, NULL, NULL);
}
