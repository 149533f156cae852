/*
 * SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104), RETRY tokens and stateless
 * reset tokens.
 *
 * The hash is written here rather than taken from OpenSSL so that tokens
 * and reset tokens are byte-identical in every build: a server built
 * without TLS and one built with it must accept each other's tokens behind
 * the same load balancer.  Nothing here allocates or touches a clock; the
 * caller passes |now| and the secrets.
 */
#include "rudp_macro.h"

#include "rudp_token.h"

#include <assert.h>
#include <string.h>

#include <netinet/in.h>

#include "rudp_conv.h"

#define SHA256_BLOCKLEN 64

/* The first 32 bits of the fractional parts of the cube roots of the
 * first 64 primes (FIPS 180-4 4.2.2). */
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

/* sha256_compress processes one 64-byte block (FIPS 180-4 6.2.2). */
static void sha256_compress(uint32_t h[8], const uint8_t *block) {
  uint32_t w[64];
  uint32_t a, b, c, d, e, f, g, hh, t1, t2;
  size_t i;

  for (i = 0; i < 16; ++i) {
    rudp_get_uint32be(&w[i], block + i * 4);
  }
  for (i = 16; i < 64; ++i) {
    uint32_t s0 =
        rotr32(w[i - 15], 7) ^ rotr32(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 =
        rotr32(w[i - 2], 17) ^ rotr32(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }

  a = h[0];
  b = h[1];
  c = h[2];
  d = h[3];
  e = h[4];
  f = h[5];
  g = h[6];
  hh = h[7];

  for (i = 0; i < 64; ++i) {
    t1 = hh + (rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25)) +
         ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
    t2 = (rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22)) +
         ((a & b) ^ (a & c) ^ (b & c));
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }

  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

void rudp_sha256_init(rudp_sha256_ctx *ctx) {
  /* FIPS 180-4 5.3.3: square roots of the first 8 primes. */
  ctx->h[0] = 0x6a09e667;
  ctx->h[1] = 0xbb67ae85;
  ctx->h[2] = 0x3c6ef372;
  ctx->h[3] = 0xa54ff53a;
  ctx->h[4] = 0x510e527f;
  ctx->h[5] = 0x9b05688c;
  ctx->h[6] = 0x1f83d9ab;
  ctx->h[7] = 0x5be0cd19;
  ctx->buflen = 0;
  ctx->total = 0;
}

void rudp_sha256_update(rudp_sha256_ctx *ctx, const void *data, size_t len) {
  const uint8_t *p = data;
  size_t n;

  if (len == 0) {
    /* |p| may be NULL for an empty piece. */
    return;
  }

  ctx->total += len;

  if (ctx->buflen) {
    n = rudp_min(len, SHA256_BLOCKLEN - ctx->buflen);
    memcpy(ctx->buf + ctx->buflen, p, n);
    ctx->buflen += n;
    p += n;
    len -= n;
    if (ctx->buflen < SHA256_BLOCKLEN) {
      return;
    }
    sha256_compress(ctx->h, ctx->buf);
    ctx->buflen = 0;
  }

  /* Whole blocks straight from the input, without copying. */
  for (; len >= SHA256_BLOCKLEN; p += SHA256_BLOCKLEN, len -= SHA256_BLOCKLEN) {
    sha256_compress(ctx->h, p);
  }

  if (len) {
    memcpy(ctx->buf, p, len);
    ctx->buflen = len;
  }
}

void rudp_sha256_final(rudp_sha256_ctx *ctx, uint8_t out[RUDP_SHA256_LEN]) {
  /* FIPS 180-4 5.1.1: a 1 bit, zeros up to 56 mod 64 bytes, then the
   * message length in bits as a 64-bit big-endian integer. */
  uint64_t bits = ctx->total * 8;
  size_t i;

  ctx->buf[ctx->buflen++] = 0x80;
  if (ctx->buflen > SHA256_BLOCKLEN - 8) {
    memset(ctx->buf + ctx->buflen, 0, SHA256_BLOCKLEN - ctx->buflen);
    sha256_compress(ctx->h, ctx->buf);
    ctx->buflen = 0;
  }
  memset(ctx->buf + ctx->buflen, 0, SHA256_BLOCKLEN - 8 - ctx->buflen);
  rudp_put_uint64be(ctx->buf + SHA256_BLOCKLEN - 8, bits);
  sha256_compress(ctx->h, ctx->buf);

  for (i = 0; i < 8; ++i) {
    rudp_put_uint32be(out + i * 4, ctx->h[i]);
  }
}

void rudp_sha256(uint8_t out[RUDP_SHA256_LEN], const void *data, size_t len) {
  rudp_sha256_ctx ctx;

  rudp_sha256_init(&ctx);
  rudp_sha256_update(&ctx, data, len);
  rudp_sha256_final(&ctx, out);
}

void rudp_hmac_sha256(uint8_t out[RUDP_SHA256_LEN], const uint8_t *key,
                      size_t keylen, size_t n, const uint8_t *const *pieces,
                      const size_t *lens) {
  /* RFC 2104 section 2: H(K ^ opad, H(K ^ ipad, text)), K padded with zeros
   * to the block length after hashing it if it is longer. */
  uint8_t k[SHA256_BLOCKLEN];
  uint8_t pad[SHA256_BLOCKLEN];
  uint8_t inner[RUDP_SHA256_LEN];
  rudp_sha256_ctx ctx;
  size_t i;

  memset(k, 0, sizeof(k));
  if (keylen > SHA256_BLOCKLEN) {
    rudp_sha256(k, key, keylen);
  } else if (keylen) {
    memcpy(k, key, keylen);
  }

  for (i = 0; i < SHA256_BLOCKLEN; ++i) {
    pad[i] = k[i] ^ 0x36;
  }
  rudp_sha256_init(&ctx);
  rudp_sha256_update(&ctx, pad, sizeof(pad));
  for (i = 0; i < n; ++i) {
    rudp_sha256_update(&ctx, pieces[i], lens[i]);
  }
  rudp_sha256_final(&ctx, inner);

  for (i = 0; i < SHA256_BLOCKLEN; ++i) {
    pad[i] = k[i] ^ 0x5c;
  }
  rudp_sha256_init(&ctx);
  rudp_sha256_update(&ctx, pad, sizeof(pad));
  rudp_sha256_update(&ctx, inner, sizeof(inner));
  rudp_sha256_final(&ctx, out);
}

int rudp_token_addr_from_sockaddr(rudp_token_addr *a, const struct sockaddr *sa,
                                  socklen_t len) {
  sa_family_t family;

  if (sa == NULL ||
      (size_t)len < offsetof(struct sockaddr, sa_family) + sizeof(family)) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }

  /* Copy out rather than cast: the caller's buffer need not be aligned for
   * sockaddr_in6. */
  memcpy(&family, (const uint8_t *)sa + offsetof(struct sockaddr, sa_family),
         sizeof(family));

  switch (family) {
  case AF_INET: {
    struct sockaddr_in sin;

    if ((size_t)len < sizeof(sin)) {
      return RUDP_ERR_INVALID_ARGUMENT;
    }
    memcpy(&sin, sa, sizeof(sin));
    a->data[0] = 4;
    /* sin_port and sin_addr are already big-endian in memory. */
    memcpy(a->data + 1, &sin.sin_port, 2);
    memcpy(a->data + 3, &sin.sin_addr, 4);
    a->len = 7;
    return 0;
  }
  case AF_INET6: {
    struct sockaddr_in6 sin6;

    if ((size_t)len < sizeof(sin6)) {
      return RUDP_ERR_INVALID_ARGUMENT;
    }
    memcpy(&sin6, sa, sizeof(sin6));
    a->data[0] = 6;
    memcpy(a->data + 1, &sin6.sin6_port, 2);
    memcpy(a->data + 3, &sin6.sin6_addr, 16);
    a->len = 19;
    return 0;
  }
  default:
    return RUDP_ERR_INVALID_ARGUMENT;
  }
}

void rudp_token_keys_init(rudp_token_keys *keys, const uint8_t *secret,
                          rudp_duration lifetime, rudp_tstamp now) {
  assert(lifetime > 0);

  memset(keys, 0, sizeof(*keys));
  memcpy(keys->cur, secret, RUDP_TOKEN_SECRETLEN);
  keys->slot_len = lifetime;
  keys->cur_slot = now / lifetime;
  keys->have_prev = 0;
}

int rudp_token_keys_need_rotation(const rudp_token_keys *keys,
                                  rudp_tstamp now) {
  return now / keys->slot_len > keys->cur_slot;
}

void rudp_token_keys_rotate(rudp_token_keys *keys, const uint8_t *secret,
                            rudp_tstamp now) {
  memcpy(keys->prev, keys->cur, RUDP_TOKEN_SECRETLEN);
  keys->have_prev = 1;
  memcpy(keys->cur, secret, RUDP_TOKEN_SECRETLEN);
  keys->cur_slot = now / keys->slot_len;
}

/* Token field sizes: kind, slot and odcid_len before the odcid. */
#define TOKEN_HDRLEN (1 + 4 + 1)

/*
 * token_mac computes the token MAC over |hdr| (the kind, slot and odcid_len
 * bytes exactly as they appear in the token), which the MAC input splices
 * the address into, the odcid and the length-prefixed retry SCID.  Every
 * variable-length part is preceded by its length (the address by its
 * family), so no two distinct inputs concatenate to the same bytes.
 */
static void token_mac(uint8_t mac[RUDP_SHA256_LEN], const uint8_t *secret,
                      const uint8_t *hdr, const rudp_token_addr *addr,
                      const uint8_t *odcid, size_t odcidlen,
                      const rudp_cid *retry_scid) {
  uint8_t scidlen = (uint8_t)retry_scid->datalen;
  const uint8_t *pieces[6];
  size_t lens[6];

  pieces[0] = hdr;
  lens[0] = 1 + 4;
  pieces[1] = addr->data;
  lens[1] = addr->len;
  pieces[2] = hdr + 1 + 4;
  lens[2] = 1;
  pieces[3] = odcid;
  lens[3] = odcidlen;
  pieces[4] = &scidlen;
  lens[4] = 1;
  pieces[5] = retry_scid->data;
  lens[5] = retry_scid->datalen;

  rudp_hmac_sha256(mac, secret, RUDP_TOKEN_SECRETLEN, 6, pieces, lens);
}

rudp_ssize rudp_token_mint(uint8_t *out, size_t outlen,
                           const rudp_token_keys *keys,
                           const rudp_token_addr *addr, const rudp_cid *odcid,
                           const rudp_cid *retry_scid, rudp_tstamp now) {
  uint8_t mac[RUDP_SHA256_LEN];
  size_t len;
  uint8_t *p;

  assert(addr->len <= sizeof(addr->data));
  assert(odcid->datalen <= RUDP_MAX_CIDLEN);
  assert(retry_scid->datalen <= RUDP_MAX_CIDLEN);

  len = TOKEN_HDRLEN + odcid->datalen + RUDP_TOKEN_MACLEN;
  if (outlen < len) {
    return RUDP_ERR_NOBUF;
  }

  p = out;
  p = rudp_put_uint8(p, RUDP_TOKEN_KIND_RETRY);
  /* The slot is carried in 32 bits: wrapping takes 2^32 slots, and the
   * verifier compares in the same 32-bit space. */
  p = rudp_put_uint32be(p, (uint32_t)(now / keys->slot_len));
  p = rudp_put_uint8(p, (uint8_t)odcid->datalen);
  p = rudp_put_bytes(p, odcid->data, odcid->datalen);

  token_mac(mac, keys->cur, out, addr, odcid->data, odcid->datalen, retry_scid);
  p = rudp_put_bytes(p, mac, RUDP_TOKEN_MACLEN);

  assert((size_t)(p - out) == len);

  return (rudp_ssize)len;
}

/* ct_memeq compares |n| bytes without an early exit, so the time taken
 * does not tell a forger how many leading MAC bytes were right. */
static int ct_memeq(const uint8_t *a, const uint8_t *b, size_t n) {
  uint8_t d = 0;
  size_t i;

  for (i = 0; i < n; ++i) {
    d |= (uint8_t)(a[i] ^ b[i]);
  }
  return d == 0;
}

int rudp_token_verify(const rudp_token_keys *keys, const uint8_t *token,
                      size_t tokenlen, const rudp_token_addr *addr,
                      const rudp_cid *retry_scid, rudp_tstamp now,
                      rudp_cid *podcid) {
  uint8_t mac[RUDP_SHA256_LEN];
  const uint8_t *secret;
  uint32_t slot, now_slot;
  uint8_t kind, odcidlen;
  const uint8_t *p = token;

  assert(addr->len <= sizeof(addr->data));
  assert(retry_scid->datalen <= RUDP_MAX_CIDLEN);

  if (tokenlen < TOKEN_HDRLEN + RUDP_TOKEN_MACLEN) {
    return RUDP_ERR_INVALID_TOKEN;
  }

  p = rudp_get_uint8(&kind, p);
  p = rudp_get_uint32be(&slot, p);
  p = rudp_get_uint8(&odcidlen, p);

  if (kind != RUDP_TOKEN_KIND_RETRY || odcidlen > RUDP_MAX_CIDLEN ||
      tokenlen != TOKEN_HDRLEN + (size_t)odcidlen + RUDP_TOKEN_MACLEN) {
    return RUDP_ERR_INVALID_TOKEN;
  }

  /* PROTOCOL.md 7.5: valid during its slot and the next.  The slot is not
   * secret, so checking it before the MAC leaks nothing and keeps stale
   * tokens from costing an HMAC. */
  now_slot = (uint32_t)(now / keys->slot_len);
  if ((uint32_t)(now_slot - slot) > 1) {
    return RUDP_ERR_INVALID_TOKEN;
  }

  /* The slot also names the secret that minted it. */
  if (slot == (uint32_t)keys->cur_slot) {
    secret = keys->cur;
  } else if (keys->have_prev && keys->cur_slot > 0 &&
             slot == (uint32_t)(keys->cur_slot - 1)) {
    secret = keys->prev;
  } else {
    return RUDP_ERR_INVALID_TOKEN;
  }

  token_mac(mac, secret, token, addr, p, odcidlen, retry_scid);
  if (!ct_memeq(mac, p + odcidlen, RUDP_TOKEN_MACLEN)) {
    return RUDP_ERR_INVALID_TOKEN;
  }

  podcid->datalen = odcidlen;
  rudp_put_bytes(podcid->data, p, odcidlen);

  return 0;
}

void rudp_token_stateless_reset(uint8_t out[RUDP_STATELESS_RESET_TOKENLEN],
                                const uint8_t *secret, const rudp_cid *cid) {
  static const uint8_t label[] = {'r', 'e', 's', 'e', 't'};
  uint8_t mac[RUDP_SHA256_LEN];
  const uint8_t *pieces[2];
  size_t lens[2];

  assert(cid->datalen <= RUDP_MAX_CIDLEN);

  pieces[0] = label;
  lens[0] = sizeof(label);
  pieces[1] = cid->data;
  lens[1] = cid->datalen;

  rudp_hmac_sha256(mac, secret, RUDP_TOKEN_SECRETLEN, 2, pieces, lens);
  memcpy(out, mac, RUDP_STATELESS_RESET_TOKENLEN);
}
