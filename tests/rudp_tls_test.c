/*
 * Tests of lib/rudp_tls.c (packet protection): HKDF-Expand-Label against
 * RFC 9001 appendix A, the AEAD layout (nonce, associated data, tag)
 * against an independent one-shot EVP reference itself checked against
 * RFC 9001 A.3 and A.5, round trips, tampering, truncation, key updates
 * started by either side with reordering across the phase change, and no
 * allocation per packet (OpenSSL's allocator counted).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "rudp_macro.h"
#include "rudp_tls.h"
#include "rudp_test_helper.h"

/* ------------------------------------------------------------ helpers */

/* unhex decodes |hex| (even length, no spaces) into |out|; returns the
 * byte count. */
static size_t unhex(uint8_t *out, const char *hex) {
  size_t n = strlen(hex) / 2, i;

  for (i = 0; i < n; ++i) {
    unsigned int b;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
    out[i] = (uint8_t)b;
  }
  return n;
}

/* assert_hex checks that |len| bytes at |got| are the hex string |want|. */
static void assert_hex(const uint8_t *got, size_t len, const char *want) {
  char buf[2 * 256 + 1];

  assert_true(len <= 256);
  rudp_test_hex(buf, got, len);
  assert_string_equal(buf, want);
}

static const rudp_aead_alg algs[] = {
    RUDP_AEAD_AES_128_GCM, RUDP_AEAD_AES_256_GCM, RUDP_AEAD_CHACHA20_POLY1305};

static size_t alg_keylen(rudp_aead_alg alg) {
  return alg == RUDP_AEAD_AES_128_GCM ? 16 : 32;
}

/*
 * ref_seal is an independent AEAD seal (one-shot EVP, fresh context):
 * nonce = |iv| XOR the packet number written big-endian into the last
 * eight of twelve bytes, AAD = |hdr|, output ciphertext then tag into
 * |out|.  Returns the output length.
 */
static size_t ref_seal(rudp_aead_alg alg, const uint8_t *key, const uint8_t *iv,
                       const uint8_t *hdr, size_t hdlen, const uint8_t *payload,
                       size_t plen, uint64_t pn, uint8_t *out) {
  const EVP_CIPHER *c = alg == RUDP_AEAD_AES_128_GCM ? EVP_aes_128_gcm()
                        : alg == RUDP_AEAD_AES_256_GCM
                            ? EVP_aes_256_gcm()
                            : EVP_chacha20_poly1305();
  uint8_t pnbuf[12] = {0}, nonce[12];
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int outl, i;

  for (i = 0; i < 8; ++i) {
    pnbuf[4 + i] = (uint8_t)(pn >> (56 - 8 * i));
  }
  for (i = 0; i < 12; ++i) {
    nonce[i] = iv[i] ^ pnbuf[i];
  }
  assert_non_null(ctx);
  assert_int_equal(EVP_EncryptInit_ex(ctx, c, NULL, key, nonce), 1);
  assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &outl, hdr, (int)hdlen), 1);
  if (plen > 0) {
    assert_int_equal(EVP_EncryptUpdate(ctx, out, &outl, payload, (int)plen), 1);
    assert_int_equal(outl, (int)plen);
  }
  assert_int_equal(EVP_EncryptFinal_ex(ctx, out + plen, &outl), 1);
  assert_int_equal(
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + plen), 1);
  EVP_CIPHER_CTX_free(ctx);
  return plen + 16;
}

/* test_pkt is one protected packet and what it carries. */
typedef struct test_pkt {
  uint8_t buf[1500];
  uint8_t plain[1500];
  size_t hdlen, payloadlen, len;
  uint64_t pn;
  int phase;
} test_pkt;

/*
 * mkpkt seals a packet numbered |pn| from |pp| with a random header of
 * |hdlen| bytes (the first byte carries the key phase as in a short
 * header) and |payloadlen| random payload bytes.
 */
static void mkpkt(rudp_pp *pp, rudp_test_rng *rng, test_pkt *p, uint64_t pn,
                  size_t hdlen, size_t payloadlen) {
  rudp_ssize n;

  assert_true(hdlen >= 1 && hdlen + payloadlen + 16 <= sizeof(p->buf));
  rudp_test_rng_fill(rng, p->buf, hdlen);
  p->buf[0] = (uint8_t)(0x40 | (pp->tx_phase ? 0x04 : 0));
  rudp_test_rng_fill(rng, p->plain, payloadlen);
  memcpy(p->buf + hdlen, p->plain, payloadlen);
  p->hdlen = hdlen;
  p->payloadlen = payloadlen;
  p->pn = pn;
  p->phase = pp->tx_phase;
  n = rudp_pp_seal(pp, p->buf, hdlen, payloadlen, pn);
  assert_int_equal(n, (rudp_ssize)(hdlen + payloadlen + 16));
  p->len = (size_t)n;
}

/* open_ok opens |p| with |pp| and checks the payload. */
static void open_ok(rudp_pp *pp, const test_pkt *p) {
  uint8_t out[1500];
  uint64_t failures = pp->auth_failures;

  assert_int_equal(rudp_pp_open(pp, out, sizeof(out), p->buf, p->hdlen, p->len,
                                p->pn, p->phase),
                   (rudp_ssize)p->payloadlen);
  assert_memory_equal(out, p->plain, p->payloadlen);
  assert_int_equal(pp->auth_failures, failures);
}

/*
 * open_fail opens |pkt| with |pp| and checks that it fails with
 * RUDP_ERR_INTEGRITY, that the failure is counted and that nothing else
 * in the state changed.
 */
static void open_fail(rudp_pp *pp, const uint8_t *pkt, size_t hdlen, size_t len,
                      uint64_t pn, int phase) {
  uint8_t out[1500];
  rudp_pp before;

  memcpy(&before, pp, sizeof(before));
  ++before.auth_failures;
  assert_int_equal(
      rudp_pp_open(pp, out, sizeof(out), pkt, hdlen, len, pn, phase),
      RUDP_ERR_INTEGRITY);
  assert_memory_equal(&before, pp, sizeof(before));
}

/* pair_init sets up a client and a server with swapped random secrets. */
static void pair_init(rudp_pp *c, rudp_pp *s, rudp_aead_alg alg,
                      rudp_test_rng *rng, uint8_t cs[32], uint8_t ss[32]) {
  rudp_test_rng_fill(rng, cs, 32);
  rudp_test_rng_fill(rng, ss, 32);
  assert_int_equal(rudp_pp_init(c, alg, cs, ss), 0);
  assert_int_equal(rudp_pp_init(s, alg, ss, cs), 0);
}

/* ku returns in |out| the secret after |secret| ("rudp ku"). */
static void ku(uint8_t out[32], const uint8_t secret[32]) {
  assert_int_equal(rudp_hkdf_expand_label(out, 32, secret, 32, "rudp ku"), 0);
}

/* ------------------------------------------------------------ HKDF */

static void test_rudp_tls_hkdf_rfc9001(void **state) {
  uint8_t initial[32], client[32], server[32], chacha[32], out[32];

  (void)state;
  /* RFC 9001 A.1: initial_secret from the DCID 8394c8f03e515708. */
  unhex(initial,
        "7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44");
  assert_int_equal(rudp_hkdf_expand_label(client, 32, initial, 32, "client in"),
                   0);
  assert_hex(
      client, 32,
      "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea");
  assert_int_equal(rudp_hkdf_expand_label(server, 32, initial, 32, "server in"),
                   0);
  assert_hex(
      server, 32,
      "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b");

  assert_int_equal(rudp_hkdf_expand_label(out, 16, client, 32, "quic key"), 0);
  assert_hex(out, 16, "1f369613dd76d5467730efcbe3b1a22d");
  assert_int_equal(rudp_hkdf_expand_label(out, 12, client, 32, "quic iv"), 0);
  assert_hex(out, 12, "fa044b2f42a3fd3b46fb255c");
  assert_int_equal(rudp_hkdf_expand_label(out, 16, client, 32, "quic hp"), 0);
  assert_hex(out, 16, "9f50449e04a0e810283a1e9933adedd2");

  assert_int_equal(rudp_hkdf_expand_label(out, 16, server, 32, "quic key"), 0);
  assert_hex(out, 16, "cf3a5331653c364c88f0f379b6067e37");
  assert_int_equal(rudp_hkdf_expand_label(out, 12, server, 32, "quic iv"), 0);
  assert_hex(out, 12, "0ac1493ca1905853b0bba03e");
  assert_int_equal(rudp_hkdf_expand_label(out, 16, server, 32, "quic hp"), 0);
  assert_hex(out, 16, "c206b8d9b9f0f37644430b490eeaa314");

  /* RFC 9001 A.5: 32-byte key and the key update ("quic ku"). */
  unhex(chacha,
        "9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b");
  assert_int_equal(rudp_hkdf_expand_label(out, 32, chacha, 32, "quic key"), 0);
  assert_hex(
      out, 32,
      "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8");
  assert_int_equal(rudp_hkdf_expand_label(out, 12, chacha, 32, "quic iv"), 0);
  assert_hex(out, 12, "e0459b3474bdd0e44a41c144");
  assert_int_equal(rudp_hkdf_expand_label(out, 32, chacha, 32, "quic ku"), 0);
  assert_hex(
      out, 32,
      "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9");
}

static void test_rudp_tls_hkdf_limits(void **state) {
  uint8_t secret[32] = {1}, out[256], a[255];
  char label[202];

  (void)state;
  memset(label, 'a', sizeof(label));
  label[201] = '\0';
  assert_int_equal(rudp_hkdf_expand_label(out, 16, secret, 32, label),
                   RUDP_ERR_INTERNAL);
  label[200] = '\0';
  assert_int_equal(rudp_hkdf_expand_label(out, 16, secret, 32, label), 0);
  assert_int_equal(rudp_hkdf_expand_label(out, 256, secret, 32, "x"),
                   RUDP_ERR_INTERNAL);
  /* 255 bytes take eight HMAC blocks; the length is in the label, so the
   * 32-byte output is not a prefix of it. */
  assert_int_equal(rudp_hkdf_expand_label(a, 255, secret, 32, "x"), 0);
  assert_int_equal(rudp_hkdf_expand_label(out, 32, secret, 32, "x"), 0);
  assert_memory_not_equal(a, out, 32);
}

/* ------------------------------------------------------------ AEAD */

/* The reference itself reproduces RFC 9001's protected payloads. */
static void test_rudp_tls_reference_rfc9001(void **state) {
  uint8_t key[32], iv[12], hdr[32], payload[128], out[160];
  size_t hdlen, plen, n;

  (void)state;
  /* A.3, server Initial, AES-128-GCM, pn 1: header protection only masks
   * the header, so the bytes after the header are the AEAD output. */
  unhex(key, "cf3a5331653c364c88f0f379b6067e37");
  unhex(iv, "0ac1493ca1905853b0bba03e");
  hdlen = unhex(hdr, "c1000000010008f067a5502a4262b50040750001");
  plen = unhex(payload,
               "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825"
               "ddf73988cfc79825df566dc5430b9a045a1200130100002e0033002400"
               "1d00209d3c940d89690b84d08a60993c144eca684d1081287c834d5311"
               "bcf32bb9da1a002b00020304");
  assert_int_equal(plen, 99);
  n = ref_seal(RUDP_AEAD_AES_128_GCM, key, iv, hdr, hdlen, payload, plen, 1,
               out);
  assert_int_equal(n, 115);
  assert_hex(out, n,
             "5a482cd0991cd25b0aac406a5816b6394100f37a1c69797554780bb38cc5a9"
             "9f5ede4cf73c3ec2493a1839b3dbcba3f6ea46c5b7684df3548e7ddeb9c3bf"
             "9c73cc3f3bded74b562bfb19fb84022f8ef4cdd93795d77d06edbb7aaf2f58"
             "891850abbdca3d20398c276456cbc42158407dd074ee");

  /* A.5, ChaCha20-Poly1305 short header, pn 654360564, a PING. */
  unhex(key,
        "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8");
  unhex(iv, "e0459b3474bdd0e44a41c144");
  hdlen = unhex(hdr, "4200bff4");
  payload[0] = 0x01;
  n = ref_seal(RUDP_AEAD_CHACHA20_POLY1305, key, iv, hdr, hdlen, payload, 1,
               654360564, out);
  assert_hex(out, n, "655e5cd55c41f69080575d7999c25a5bfb");
}

/*
 * rudp_pp_seal is the reference with key and IV from the secret by the
 * header's labels: the whole layout (labels, nonce, AAD, tag place).
 */
static void test_rudp_tls_seal_matches_reference(void **state) {
  static const uint64_t pns[] = {0,
                                 1,
                                 255,
                                 256,
                                 0xffffffffu,
                                 0x100000000ull,
                                 0x123456789abcdefull & ((1ull << 62) - 1),
                                 (1ull << 62) - 1};
  rudp_test_rng rng;
  size_t a, i;

  (void)state;
  rudp_test_rng_init(&rng, 0x7150a1);
  for (a = 0; a < rudp_arraylen(algs); ++a) {
    uint8_t cs[32], ss[32], key[32], iv[12], ref[1500];
    rudp_pp c, s;

    pair_init(&c, &s, algs[a], &rng, cs, ss);
    assert_int_equal(
        rudp_hkdf_expand_label(key, alg_keylen(algs[a]), cs, 32, "rudp key"),
        0);
    assert_int_equal(rudp_hkdf_expand_label(iv, 12, cs, 32, "rudp iv"), 0);
    for (i = 0; i < rudp_arraylen(pns); ++i) {
      test_pkt p;
      size_t hdlen = 1 + (size_t)rudp_test_rng_below(&rng, 25);
      size_t plen = (size_t)rudp_test_rng_below(&rng, 1401);
      uint8_t hdr[32];

      mkpkt(&c, &rng, &p, pns[i], hdlen, plen);
      /* The header is left in the clear. */
      memcpy(hdr, p.buf, hdlen);
      assert_int_equal(
          ref_seal(algs[a], key, iv, hdr, hdlen, p.plain, plen, pns[i], ref),
          plen + 16);
      assert_memory_equal(p.buf + hdlen, ref, plen + 16);
      open_ok(&s, &p);
    }
    assert_int_equal(c.tx_first_pn, 0);
    assert_int_equal(c.tx_count, rudp_arraylen(pns));
    rudp_pp_free(&c);
    rudp_pp_free(&s);
  }
}

static void test_rudp_tls_roundtrip(void **state) {
  rudp_test_rng rng;
  size_t a, i;

  (void)state;
  rudp_test_rng_init(&rng, 0x40a7d);
  for (a = 0; a < rudp_arraylen(algs); ++a) {
    uint8_t cs[32], ss[32];
    rudp_pp c, s;
    uint64_t pn = 0;

    pair_init(&c, &s, algs[a], &rng, cs, ss);
    for (i = 0; i < 300; ++i) {
      test_pkt p;
      size_t plen = i == 0   ? 0
                    : i == 1 ? 1400
                             : (size_t)rudp_test_rng_below(&rng, 1401);

      /* Numbers grow by random steps up to the largest 62-bit one. */
      pn = i == 299 ? (1ull << 62) - 1
                    : pn + 1 + rudp_test_rng_below(&rng, 1ull << 52);
      mkpkt(&c, &rng, &p, pn, 1 + (size_t)rudp_test_rng_below(&rng, 30), plen);
      open_ok(&s, &p);
      mkpkt(&s, &rng, &p, pn, 1 + (size_t)rudp_test_rng_below(&rng, 30), plen);
      open_ok(&c, &p);
    }
    assert_int_equal(c.tx_count, 300);
    assert_int_equal(s.tx_count, 300);
    assert_int_equal(c.auth_failures, 0);
    assert_int_equal(c.updates, 0);
    rudp_pp_free(&c);
    rudp_pp_free(&s);
  }
}

/* Every single bit flipped anywhere (header, payload, tag) is caught. */
static void test_rudp_tls_bit_flips(void **state) {
  rudp_test_rng rng;
  size_t a, i;

  (void)state;
  rudp_test_rng_init(&rng, 0xb17f11);
  for (a = 0; a < rudp_arraylen(algs); ++a) {
    uint8_t cs[32], ss[32], buf[1500];
    rudp_pp c, s;
    test_pkt p;

    pair_init(&c, &s, algs[a], &rng, cs, ss);
    mkpkt(&c, &rng, &p, 0x3fffabcdef12ull, 11, 97);
    for (i = 0; i < p.len * 8; ++i) {
      memcpy(buf, p.buf, p.len);
      buf[i / 8] ^= (uint8_t)(1u << (i % 8));
      open_fail(&s, buf, p.hdlen, p.len, p.pn, p.phase);
    }
    assert_int_equal(s.auth_failures, p.len * 8);
    /* An empty payload: the tag alone covers the header. */
    mkpkt(&c, &rng, &p, 7, 5, 0);
    for (i = 0; i < p.len * 8; ++i) {
      memcpy(buf, p.buf, p.len);
      buf[i / 8] ^= (uint8_t)(1u << (i % 8));
      open_fail(&s, buf, p.hdlen, p.len, p.pn, p.phase);
    }
    /* The untouched packets still open. */
    open_ok(&s, &p);
    assert_int_equal(s.auth_failures, (108 + 16 + 5 + 16) * 8);
    rudp_pp_free(&c);
    rudp_pp_free(&s);
  }
}

/* The wrong packet number, a moved header boundary, a truncated packet,
 * the wrong phase: all fail; a short output buffer is NOBUF, uncounted. */
static void test_rudp_tls_wrong_pn_and_truncation(void **state) {
  rudp_test_rng rng;
  size_t a, i;

  (void)state;
  rudp_test_rng_init(&rng, 0x7a11c);
  for (a = 0; a < rudp_arraylen(algs); ++a) {
    uint8_t cs[32], ss[32], out[1500];
    rudp_pp c, s, before;
    test_pkt p;

    pair_init(&c, &s, algs[a], &rng, cs, ss);
    mkpkt(&c, &rng, &p, 1000, 9, 64);

    open_fail(&s, p.buf, p.hdlen, p.len, 999, p.phase);
    open_fail(&s, p.buf, p.hdlen, p.len, 1001, p.phase);
    open_fail(&s, p.buf, p.hdlen, p.len, 1000 | (1ull << 40), p.phase);
    open_fail(&s, p.buf, p.hdlen, p.len, 1000 | (1ull << 61), p.phase);
    open_fail(&s, p.buf, p.hdlen - 1, p.len, p.pn, p.phase);
    open_fail(&s, p.buf, p.hdlen + 1, p.len, p.pn, p.phase);
    /* Other phase: tried with the next generation, fails, no commit. */
    open_fail(&s, p.buf, p.hdlen, p.len, p.pn, !p.phase);
    for (i = 0; i < p.len; ++i) {
      open_fail(&s, p.buf, p.hdlen, i, p.pn, p.phase);
    }
    /* hdlen beyond the packet. */
    open_fail(&s, p.buf, p.len + 1, p.len, p.pn, p.phase);
    assert_int_equal(s.auth_failures, 7 + p.len + 1);

    memcpy(&before, &s, sizeof(before));
    assert_int_equal(rudp_pp_open(&s, out, p.payloadlen - 1, p.buf, p.hdlen,
                                  p.len, p.pn, p.phase),
                     RUDP_ERR_NOBUF);
    assert_memory_equal(&before, &s, sizeof(before));
    /* Exactly the payload length is enough. */
    assert_int_equal(rudp_pp_open(&s, out, p.payloadlen, p.buf, p.hdlen, p.len,
                                  p.pn, p.phase),
                     (rudp_ssize)p.payloadlen);
    assert_memory_equal(out, p.plain, p.payloadlen);
    rudp_pp_free(&c);
    rudp_pp_free(&s);
  }
}

static void test_rudp_tls_init_errors(void **state) {
  uint8_t secret[32] = {0}, buf[64] = {0};
  rudp_pp pp;

  (void)state;
  assert_int_equal(rudp_pp_init(&pp, RUDP_AEAD_NONE, secret, secret),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_null(pp.tx.ctx);
  rudp_pp_free(&pp);
  assert_int_equal(rudp_pp_init(&pp, (rudp_aead_alg)4, secret, secret),
                   RUDP_ERR_INVALID_ARGUMENT);

  assert_int_equal(rudp_pp_init(&pp, RUDP_AEAD_AES_256_GCM, secret, secret), 0);
  assert_int_equal(pp.alg, RUDP_AEAD_AES_256_GCM);
  assert_int_equal(pp.tx_phase, 0);
  assert_int_equal(pp.rx_phase, 0);
  assert_int_equal(pp.tx_first_pn, UINT64_MAX);
  assert_int_equal(pp.rx_first_pn, UINT64_MAX);
  assert_non_null(pp.tx.ctx);
  assert_non_null(pp.rx.ctx);
  assert_non_null(pp.rx_next.ctx);
  assert_null(pp.rx_prev.ctx);
  assert_int_equal(rudp_pp_can_update(&pp), 0);
  assert_int_equal(rudp_pp_update(&pp), RUDP_ERR_INVALID_STATE);
  rudp_pp_free(&pp);
  /* Freed: secrets wiped, contexts gone, a second free is harmless and
   * sealing fails. */
  assert_null(pp.tx.ctx);
  assert_null(pp.rx_next.ctx);
  assert_int_equal(pp.tx_secret[0] | pp.rx_secret[31] | pp.rx_next_secret[7],
                   0);
  rudp_pp_free(&pp);
  rudp_pp_free(NULL);
  assert_int_equal(rudp_pp_seal(&pp, buf, 4, 8, 0), RUDP_ERR_INTERNAL);
}

/* ------------------------------------------------------------ key update */

/*
 * The client starts an update with a packet of the old phase still in
 * flight; the new phase arrives out of order; the old packet still opens
 * with the previous key; the server follows, and the client does not
 * count the server's answer as a second update.  Then the server starts
 * one.
 */
static void test_rudp_tls_key_update_reorder(void **state) {
  rudp_test_rng rng;
  size_t a;

  (void)state;
  rudp_test_rng_init(&rng, 0x0bde7);
  for (a = 0; a < rudp_arraylen(algs); ++a) {
    uint8_t cs[32], ss[32], next[32];
    rudp_pp c, s;
    test_pkt c0, c1, c2, c3, s0, s1, s2, forged;

    pair_init(&c, &s, algs[a], &rng, cs, ss);

    /* No update before a packet of the current keys is acknowledged: an
     * ack before anything was sealed does not count. */
    rudp_pp_on_acked(&c, 100);
    assert_int_equal(rudp_pp_can_update(&c), 0);
    assert_int_equal(rudp_pp_update(&c), RUDP_ERR_INVALID_STATE);
    mkpkt(&c, &rng, &c0, 0, 9, 30);
    open_ok(&s, &c0);
    assert_int_equal(rudp_pp_update(&c), RUDP_ERR_INVALID_STATE);
    mkpkt(&s, &rng, &s0, 0, 9, 30);
    open_ok(&c, &s0);
    rudp_pp_on_acked(&c, 0);
    assert_int_equal(rudp_pp_can_update(&c), 1);

    /* c1 (old phase) is held back; the update; c2, c3 new phase. */
    mkpkt(&c, &rng, &c1, 1, 9, 30);
    assert_int_equal(rudp_pp_update(&c), 0);
    assert_int_equal(c.tx_phase, 1);
    assert_int_equal(c.rx_phase, 0);
    assert_int_equal(c.updates, 1);
    assert_int_equal(c.update_acked, 0);
    assert_int_equal(c.tx_first_pn, UINT64_MAX);
    assert_int_equal(c.tx_count, 0);
    ku(next, cs);
    assert_memory_equal(c.tx_secret, next, 32);
    /* Not again before the new keys are acknowledged. */
    assert_int_equal(rudp_pp_update(&c), RUDP_ERR_INVALID_STATE);
    mkpkt(&c, &rng, &c2, 2, 9, 30);
    mkpkt(&c, &rng, &c3, 3, 9, 30);
    assert_int_equal(c2.phase, 1);
    assert_int_equal(c.tx_first_pn, 2);
    assert_int_equal(c.tx_count, 2);

    /* A forged packet of the new phase: one decryption, no commit. */
    forged = c3;
    forged.buf[forged.len - 1] ^= 0x80;
    open_fail(&s, forged.buf, forged.hdlen, forged.len, forged.pn, 1);

    /* c3 first: the server commits and its send side follows. */
    open_ok(&s, &c3);
    assert_int_equal(s.rx_phase, 1);
    assert_int_equal(s.rx_first_pn, 3);
    assert_int_equal(s.tx_phase, 1);
    assert_int_equal(s.updates, 1);
    assert_int_equal(s.update_acked, 0);
    assert_int_equal(s.tx_first_pn, UINT64_MAX);
    assert_int_equal(s.tx_count, 0);
    assert_non_null(s.rx_prev.ctx);
    assert_memory_equal(s.rx_secret, next, 32);
    ku(next, ss);
    assert_memory_equal(s.tx_secret, next, 32);
    /* c2, same phase, lower number: opens, lowers rx_first_pn. */
    open_ok(&s, &c2);
    assert_int_equal(s.rx_first_pn, 2);
    /* c1, old phase, below rx_first_pn: the previous key. */
    open_ok(&s, &c1);
    assert_int_equal(s.rx_phase, 1);
    assert_int_equal(s.rx_first_pn, 2);
    assert_int_equal(s.updates, 1);
    /* A packet with the old phase numbered above rx_first_pn is taken for
     * the next generation and fails. */
    open_fail(&s, c1.buf, c1.hdlen, c1.len, 4, 0);

    /* The server cannot update before its new keys are acknowledged. */
    assert_int_equal(rudp_pp_update(&s), RUDP_ERR_INVALID_STATE);

    /* The server's answer: the client commits receive, does not move its
     * send side again and does not count a second update. */
    mkpkt(&s, &rng, &s1, 1, 9, 30);
    assert_int_equal(s1.phase, 1);
    open_ok(&c, &s1);
    assert_int_equal(c.rx_phase, 1);
    assert_int_equal(c.tx_phase, 1);
    assert_int_equal(c.rx_first_pn, 1);
    assert_int_equal(c.updates, 1);
    assert_int_equal(c.tx_count, 2);
    assert_int_equal(c.tx_first_pn, 2);
    assert_memory_equal(c.tx_secret, s.rx_secret, 32);

    /* Acks below the first packet of the new keys do not count. */
    rudp_pp_on_acked(&c, 1);
    assert_int_equal(rudp_pp_can_update(&c), 0);
    rudp_pp_on_acked(&s, 0);
    assert_int_equal(rudp_pp_can_update(&s), 0);
    rudp_pp_on_acked(&s, 1);
    assert_int_equal(rudp_pp_can_update(&s), 1);

    /* Now the server starts the next one; the client follows. */
    assert_int_equal(rudp_pp_update(&s), 0);
    assert_int_equal(s.tx_phase, 0);
    assert_int_equal(s.updates, 2);
    mkpkt(&s, &rng, &s2, 2, 9, 30);
    open_ok(&c, &s2);
    assert_int_equal(c.rx_phase, 0);
    assert_int_equal(c.tx_phase, 0);
    assert_int_equal(c.updates, 2);
    assert_int_equal(c.update_acked, 0);
    assert_int_equal(c.tx_first_pn, UINT64_MAX);
    assert_int_equal(c.rx_first_pn, 2);
    /* s0 was generation 0, phase 0 like generation 2: it no longer opens
     * (the generation-0 key is gone). */
    open_fail(&c, s0.buf, s0.hdlen, s0.len, s0.pn, s0.phase);
    /* s1 (generation 1) still does, with the previous key. */
    open_ok(&c, &s1);

    rudp_pp_free(&c);
    rudp_pp_free(&s);
  }
}

/*
 * Many updates, started by either side in turn, with traffic both ways:
 * every generation's send secret is the "rudp ku" chain of the first, and
 * a packet sealed with it is the reference's with that generation's key.
 */
static void test_rudp_tls_key_update_many(void **state) {
  rudp_test_rng rng;
  size_t a;

  (void)state;
  rudp_test_rng_init(&rng, 0x3a11);
  for (a = 0; a < rudp_arraylen(algs); ++a) {
    uint8_t cs[32], ss[32], csec[32], ssec[32], tmp[32];
    uint8_t key[32], iv[12], ref[1500];
    rudp_pp c, s;
    uint64_t cpn = 0, spn = 0, gen;
    test_pkt p, q;
    const test_pkt *cp;
    int k;

    pair_init(&c, &s, algs[a], &rng, cs, ss);
    memcpy(csec, cs, 32);
    memcpy(ssec, ss, 32);
    /* Generation 0 traffic and acks. */
    mkpkt(&c, &rng, &p, cpn++, 9, 100);
    open_ok(&s, &p);
    rudp_pp_on_acked(&c, p.pn);
    mkpkt(&s, &rng, &p, spn++, 9, 100);
    open_ok(&c, &p);
    rudp_pp_on_acked(&s, p.pn);

    for (gen = 1; gen <= 12; ++gen) {
      rudp_pp *init = gen % 2 ? &c : &s, *resp = gen % 2 ? &s : &c;
      uint64_t *ipn = gen % 2 ? &cpn : &spn, *rpn = gen % 2 ? &spn : &cpn;

      assert_int_equal(rudp_pp_update(init), 0);
      assert_int_equal(rudp_pp_update(init), RUDP_ERR_INVALID_STATE);
      ku(tmp, csec);
      memcpy(csec, tmp, 32);
      ku(tmp, ssec);
      memcpy(ssec, tmp, 32);

      /* Three packets each way; the responder's first answer comes after
       * the initiator's first new-phase packet. */
      for (k = 0; k < 3; ++k) {
        mkpkt(init, &rng, &p, (*ipn)++, 9,
              (size_t)rudp_test_rng_below(&rng, 1401));
        open_ok(resp, &p);
        mkpkt(resp, &rng, &q, (*rpn)++, 9,
              (size_t)rudp_test_rng_below(&rng, 1401));
        open_ok(init, &q);
      }
      assert_int_equal(c.updates, gen);
      assert_int_equal(s.updates, gen);
      assert_int_equal(c.tx_phase, (int)(gen & 1));
      assert_int_equal(c.rx_phase, (int)(gen & 1));
      assert_int_equal(s.tx_phase, (int)(gen & 1));
      assert_int_equal(s.rx_phase, (int)(gen & 1));
      assert_memory_equal(c.tx_secret, csec, 32);
      assert_memory_equal(s.rx_secret, csec, 32);
      assert_memory_equal(s.tx_secret, ssec, 32);
      assert_memory_equal(c.rx_secret, ssec, 32);
      ku(tmp, csec);
      assert_memory_equal(s.rx_next_secret, tmp, 32);

      /* The client's last packet, sealed with this generation's key. */
      if (init == &c) {
        mkpkt(&c, &rng, &p, cpn++, 9, 50);
        open_ok(&s, &p);
      }
      cp = init == &c ? &p : &q;
      assert_int_equal(rudp_hkdf_expand_label(key, alg_keylen(algs[a]), csec,
                                              32, "rudp key"),
                       0);
      assert_int_equal(rudp_hkdf_expand_label(iv, 12, csec, 32, "rudp iv"), 0);
      ref_seal(algs[a], key, iv, cp->buf, cp->hdlen, cp->plain, cp->payloadlen,
               cp->pn, ref);
      assert_memory_equal(cp->buf + cp->hdlen, ref, cp->payloadlen + 16);

      /* Both sides' new keys acknowledged (the last packets each way). */
      rudp_pp_on_acked(&c, cpn - 1);
      rudp_pp_on_acked(&s, spn - 1);
      assert_int_equal(rudp_pp_can_update(&c), 1);
      assert_int_equal(rudp_pp_can_update(&s), 1);
    }
    assert_int_equal(c.auth_failures, 0);
    assert_int_equal(s.auth_failures, 0);
    rudp_pp_free(&c);
    rudp_pp_free(&s);
  }
}

/*
 * Both sides start an update at once (RFC 9001 6.5 allows it): each
 * commits the other's new keys without moving its send side again, and
 * each counts one update.
 */
static void test_rudp_tls_key_update_simultaneous(void **state) {
  rudp_test_rng rng;
  size_t a;

  (void)state;
  rudp_test_rng_init(&rng, 0x515);
  for (a = 0; a < rudp_arraylen(algs); ++a) {
    uint8_t cs[32], ss[32], next[32];
    rudp_pp c, s;
    test_pkt p, q;

    pair_init(&c, &s, algs[a], &rng, cs, ss);
    mkpkt(&c, &rng, &p, 0, 9, 10);
    open_ok(&s, &p);
    mkpkt(&s, &rng, &q, 0, 9, 10);
    open_ok(&c, &q);
    rudp_pp_on_acked(&c, 0);
    rudp_pp_on_acked(&s, 0);
    assert_int_equal(rudp_pp_update(&c), 0);
    assert_int_equal(rudp_pp_update(&s), 0);
    mkpkt(&c, &rng, &p, 1, 9, 10);
    mkpkt(&s, &rng, &q, 1, 9, 10);
    open_ok(&s, &p);
    open_ok(&c, &q);
    assert_int_equal(c.updates, 1);
    assert_int_equal(s.updates, 1);
    assert_int_equal(c.tx_phase, 1);
    assert_int_equal(c.rx_phase, 1);
    assert_int_equal(s.tx_phase, 1);
    assert_int_equal(s.rx_phase, 1);
    /* The send keys are generation 1, not 2. */
    ku(next, cs);
    assert_memory_equal(c.tx_secret, next, 32);
    assert_int_equal(c.tx_first_pn, 1);
    assert_int_equal(c.tx_count, 1);
    /* Traffic goes on both ways. */
    mkpkt(&c, &rng, &p, 2, 9, 10);
    open_ok(&s, &p);
    mkpkt(&s, &rng, &q, 2, 9, 10);
    open_ok(&c, &q);
    rudp_pp_free(&c);
    rudp_pp_free(&s);
  }
}

/*
 * Packets with the other phase that do not authenticate never commit:
 * random bytes, a genuine next-phase packet with one bit flipped, with the
 * wrong number; the genuine one then commits.
 */
static void test_rudp_tls_forged_other_phase(void **state) {
  rudp_test_rng rng;
  size_t a, i;

  (void)state;
  rudp_test_rng_init(&rng, 0xf0f0);
  for (a = 0; a < rudp_arraylen(algs); ++a) {
    uint8_t cs[32], ss[32], junk[200];
    rudp_pp c, s;
    test_pkt p;

    pair_init(&c, &s, algs[a], &rng, cs, ss);
    for (i = 0; i < 50; ++i) {
      size_t len = 16 + (size_t)rudp_test_rng_below(&rng, 150);

      rudp_test_rng_fill(&rng, junk, len);
      open_fail(&s, junk, 1 + i % 16, len,
                rudp_test_rng_below(&rng, 1ull << 62), 1);
      open_fail(&s, junk, 1 + i % 16, len,
                rudp_test_rng_below(&rng, 1ull << 62), 0);
    }
    mkpkt(&c, &rng, &p, 5, 9, 40);
    rudp_pp_on_acked(&c, 5);
    assert_int_equal(rudp_pp_update(&c), 0);
    mkpkt(&c, &rng, &p, 6, 9, 40);
    p.buf[3] ^= 1;
    open_fail(&s, p.buf, p.hdlen, p.len, p.pn, 1);
    p.buf[3] ^= 1;
    open_fail(&s, p.buf, p.hdlen, p.len, p.pn + 1, 1);
    open_fail(&s, p.buf, p.hdlen, p.len, p.pn, 0);
    assert_int_equal(s.rx_phase, 0);
    assert_int_equal(s.updates, 0);
    assert_int_equal(s.auth_failures, 103);
    open_ok(&s, &p);
    assert_int_equal(s.rx_phase, 1);
    assert_int_equal(s.updates, 1);
    rudp_pp_free(&c);
    rudp_pp_free(&s);
  }
}

/*
 * ref_check checks that |p|, sealed with the generation whose send secret
 * is |secret|, is byte for byte the reference's (a fresh EVP context per
 * packet), the header left in the clear.
 */
static void ref_check(rudp_aead_alg alg, const uint8_t secret[32],
                      const test_pkt *p) {
  uint8_t key[32], iv[12], hdr[64], ref[1500];

  assert_int_equal(
      rudp_hkdf_expand_label(key, alg_keylen(alg), secret, 32, "rudp key"), 0);
  assert_int_equal(rudp_hkdf_expand_label(iv, 12, secret, 32, "rudp iv"), 0);
  assert_true(p->hdlen <= sizeof(hdr));
  memcpy(hdr, p->buf, p->hdlen);
  assert_int_equal(ref_seal(alg, key, iv, hdr, p->hdlen, p->plain,
                            p->payloadlen, p->pn, ref),
                   p->payloadlen + 16);
  assert_memory_equal(p->buf + p->hdlen, ref, p->payloadlen + 16);
}

/*
 * The contexts reused for every packet (the nonce, AAD and tag given
 * anew each time) against the reference, packet by packet: every packet
 * both ways through eight key updates started by either side, with
 * lengths around the AES block and the empty payload, an old-phase packet
 * held back across each update (opened with the previous key), and before
 * every genuine packet two forgeries of it (a tag bit, a header bit) that
 * must fail and leave nothing behind in the context that then opens it.
 */
static void test_rudp_tls_reference_every_packet(void **state) {
  static const size_t plens[] = {0, 1, 15, 16, 17, 255, 1400};
  rudp_test_rng rng;
  size_t a;

  (void)state;
  rudp_test_rng_init(&rng, 0xe7e1);
  for (a = 0; a < rudp_arraylen(algs); ++a) {
    uint8_t cs[32], ss[32], held_secret[32];
    rudp_pp c, s;
    uint64_t pn[2] = {0, 0}, failures = 0;
    test_pkt p, held, forged;
    int gen, k, dir;

    pair_init(&c, &s, algs[a], &rng, cs, ss);
    for (gen = 0; gen <= 8; ++gen) {
      rudp_pp *init = gen % 2 ? &s : &c;

      for (k = 0; k < 20; ++k) {
        for (dir = 0; dir < 2; ++dir) {
          rudp_pp *tx = dir == 0 ? init : (init == &c ? &s : &c);
          rudp_pp *rx = tx == &c ? &s : &c;
          size_t plen = k < (int)rudp_arraylen(plens)
                            ? plens[k]
                            : (size_t)rudp_test_rng_below(&rng, 1401);
          uint8_t secret[32];

          memcpy(secret, tx->tx_secret, 32);
          mkpkt(tx, &rng, &p, pn[tx == &s]++,
                1 + (size_t)rudp_test_rng_below(&rng, 40), plen);
          ref_check(algs[a], secret, &p);

          forged = p;
          forged.buf[forged.len - 1 - (size_t)k % 16] ^= 0x10;
          open_fail(rx, forged.buf, forged.hdlen, forged.len, forged.pn,
                    forged.phase);
          forged = p;
          forged.buf[forged.hdlen - 1] ^= 0x01;
          open_fail(rx, forged.buf, forged.hdlen, forged.len, forged.pn,
                    forged.phase);
          failures += 2;
          open_ok(rx, &p);
        }
      }

      /* The initiator's last old-phase packet is held back across the
       * update and opens after the new phase's first packets. */
      memcpy(held_secret, init->tx_secret, 32);
      mkpkt(init, &rng, &held, pn[init == &s]++, 9, 300);
      ref_check(algs[a], held_secret, &held);
      rudp_pp_on_acked(&c, pn[0] - 1);
      rudp_pp_on_acked(&s, pn[1] - 1);
      if (gen == 8) {
        open_ok(init == &c ? &s : &c, &held);
        break;
      }
      assert_int_equal(rudp_pp_update(init), 0);
      for (k = 0; k < 2; ++k) {
        uint8_t secret[32];

        memcpy(secret, init->tx_secret, 32);
        mkpkt(init, &rng, &p, pn[init == &s]++, 9, 100);
        ref_check(algs[a], secret, &p);
        open_ok(init == &c ? &s : &c, &p);
      }
      open_ok(init == &c ? &s : &c, &held);
    }
    assert_int_equal(c.updates, 8);
    assert_int_equal(s.updates, 8);
    assert_int_equal(c.auth_failures + s.auth_failures, failures);
    rudp_pp_free(&c);
    rudp_pp_free(&s);
  }
}

/* ------------------------------------------------------------ allocation */

/*
 * OpenSSL's allocator, counted, and made to fail on demand; installed by
 * main before anything.  mem_fail_in: 0 never fails, k > 0 fails the k-th
 * allocation from now, and every one after it if mem_fail_all.
 */
static int mem_installed;
static size_t mem_nalloc;
static size_t mem_fail_in;
static int mem_fail_all;

static int mem_fail_now(void) {
  if (mem_fail_in == 0) {
    return 0;
  }
  if (mem_fail_in == 1) {
    if (!mem_fail_all) {
      mem_fail_in = 0;
    }
    return 1;
  }
  --mem_fail_in;
  return 0;
}

static void *count_malloc(size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  if (mem_fail_now()) {
    return NULL;
  }
  ++mem_nalloc;
  return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  if (mem_fail_now()) {
    return NULL;
  }
  ++mem_nalloc;
  return realloc(p, n);
}

static void count_free(void *p, const char *file, int line) {
  (void)file;
  (void)line;
  free(p);
}

/*
 * Sealing and opening (including failed opens) allocate nothing, and leave
 * nothing on OpenSSL's error queue (an error there would make a later
 * SSL_get_error of the handshake report SSL_ERROR_SSL); updates allocate.
 */
static void test_rudp_tls_no_alloc_per_packet(void **state) {
  rudp_test_rng rng;
  size_t a, i;

  (void)state;
  assert_true(mem_installed);
  rudp_test_rng_init(&rng, 0xa110c);
  for (a = 0; a < rudp_arraylen(algs); ++a) {
    uint8_t cs[32], ss[32];
    rudp_pp c, s;
    test_pkt p;
    size_t before;

    pair_init(&c, &s, algs[a], &rng, cs, ss);
    ERR_clear_error();
    before = mem_nalloc;
    for (i = 0; i < 200; ++i) {
      mkpkt(&c, &rng, &p, i, 9, (size_t)rudp_test_rng_below(&rng, 1401));
      open_ok(&s, &p);
      p.buf[p.len - 1] ^= 1;
      open_fail(&s, p.buf, p.hdlen, p.len, p.pn, p.phase);
      open_fail(&s, p.buf, p.hdlen, p.len, p.pn, !p.phase);
      mkpkt(&s, &rng, &p, i, 9, 0);
      open_ok(&c, &p);
      rudp_pp_on_acked(&c, i);
    }
    assert_int_equal(mem_nalloc - before, 0);
    assert_int_equal(ERR_peek_error(), 0);

    /* An update derives and creates contexts: that does allocate. */
    assert_int_equal(rudp_pp_update(&c), 0);
    assert_true(mem_nalloc > before);
    rudp_pp_free(&c);
    rudp_pp_free(&s);
  }
}

/* nomem_arm makes the |n|-th allocation from now fail (and every one
 * after it if |all|); 0 disarms and clears OpenSSL's error queue. */
static void nomem_arm(size_t n, int all) {
  mem_fail_in = n;
  mem_fail_all = all;
  if (n == 0) {
    ERR_clear_error();
  }
}

/*
 * Every allocation failure in init, update and the commit of a peer's
 * update, alone or with all later ones, is reported as RUDP_ERR_NOMEM with
 * nothing leaked (LeakSanitizer) and, for update and commit, the state
 * unchanged; the same call then succeeds.
 */
static void test_rudp_tls_nomem(void **state) {
  rudp_test_rng rng;
  uint8_t cs[32], ss[32], out[1500];
  rudp_pp c, s, before;
  test_pkt p;
  size_t n, nfail = 0, ninit, nupdate, ncommit;
  int all, rv;
  rudp_ssize nread;

  (void)state;
  assert_true(mem_installed);
  rudp_test_rng_init(&rng, 0x0703e3);

  /* How many allocations each step makes when nothing fails. */
  n = mem_nalloc;
  pair_init(&c, &s, RUDP_AEAD_AES_128_GCM, &rng, cs, ss);
  ninit = (mem_nalloc - n) / 2;
  mkpkt(&c, &rng, &p, 0, 9, 20);
  rudp_pp_on_acked(&c, 0);
  n = mem_nalloc;
  assert_int_equal(rudp_pp_update(&c), 0);
  nupdate = mem_nalloc - n;
  mkpkt(&c, &rng, &p, 1, 9, 20);
  n = mem_nalloc;
  open_ok(&s, &p);
  ncommit = mem_nalloc - n;
  rudp_pp_free(&c);
  rudp_pp_free(&s);
  assert_true(ninit > 0 && nupdate > 0 && ncommit > nupdate);

  for (all = 0; all <= 1; ++all) {
    for (n = 1; n <= ninit; ++n) {
      nomem_arm(n, all);
      rv = rudp_pp_init(&c, RUDP_AEAD_CHACHA20_POLY1305, cs, ss);
      nomem_arm(0, 0);
      if (rv != 0) {
        assert_int_equal(rv, RUDP_ERR_NOMEM);
        assert_null(c.tx.ctx);
        assert_null(c.rx.ctx);
        assert_null(c.rx_next.ctx);
        ++nfail;
      }
      rudp_pp_free(&c);
    }

    for (n = 1; n <= ncommit; ++n) {
      pair_init(&c, &s, RUDP_AEAD_AES_128_GCM, &rng, cs, ss);
      mkpkt(&c, &rng, &p, 0, 9, 20);
      rudp_pp_on_acked(&c, 0);

      memcpy(&before, &c, sizeof(before));
      nomem_arm(n, all);
      rv = rudp_pp_update(&c);
      nomem_arm(0, 0);
      if (rv != 0) {
        assert_int_equal(rv, RUDP_ERR_NOMEM);
        assert_memory_equal(&before, &c, sizeof(before));
        ++nfail;
        assert_int_equal(rudp_pp_update(&c), 0);
      }
      mkpkt(&c, &rng, &p, 1, 9, 20);

      /* The server commits the update and follows it. */
      memcpy(&before, &s, sizeof(before));
      nomem_arm(n, all);
      nread = rudp_pp_open(&s, out, sizeof(out), p.buf, p.hdlen, p.len, p.pn,
                           p.phase);
      nomem_arm(0, 0);
      if (nread < 0) {
        assert_int_equal(nread, RUDP_ERR_NOMEM);
        assert_memory_equal(&before, &s, sizeof(before));
        ++nfail;
        open_ok(&s, &p);
      } else {
        assert_int_equal(nread, (rudp_ssize)p.payloadlen);
      }
      assert_int_equal(s.rx_phase, 1);
      assert_int_equal(s.tx_phase, 1);
      assert_int_equal(s.updates, 1);
      assert_non_null(s.tx.ctx);
      assert_non_null(s.rx.ctx);
      assert_non_null(s.rx_next.ctx);
      assert_non_null(s.rx_prev.ctx);
      assert_non_null(c.tx.ctx);
      /* And it works: the server's answer opens at the client. */
      mkpkt(&s, &rng, &p, 0, 9, 20);
      open_ok(&c, &p);
      rudp_pp_free(&c);
      rudp_pp_free(&s);
    }
  }
  /* At least: every init allocation when all fail, and every update and
   * commit allocation when all fail. */
  assert_true(nfail >= ninit + nupdate + ncommit);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_tls_no_alloc_per_packet),
      cmocka_unit_test(test_rudp_tls_hkdf_rfc9001),
      cmocka_unit_test(test_rudp_tls_hkdf_limits),
      cmocka_unit_test(test_rudp_tls_reference_rfc9001),
      cmocka_unit_test(test_rudp_tls_seal_matches_reference),
      cmocka_unit_test(test_rudp_tls_roundtrip),
      cmocka_unit_test(test_rudp_tls_bit_flips),
      cmocka_unit_test(test_rudp_tls_wrong_pn_and_truncation),
      cmocka_unit_test(test_rudp_tls_init_errors),
      cmocka_unit_test(test_rudp_tls_key_update_reorder),
      cmocka_unit_test(test_rudp_tls_key_update_many),
      cmocka_unit_test(test_rudp_tls_key_update_simultaneous),
      cmocka_unit_test(test_rudp_tls_forged_other_phase),
      cmocka_unit_test(test_rudp_tls_reference_every_packet),
      cmocka_unit_test(test_rudp_tls_nomem),
  };

  /* Must precede any OpenSSL call that allocates. */
  mem_installed =
      CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free);
  return cmocka_run_group_tests_name("tls", tests, NULL, NULL);
}
