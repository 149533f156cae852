/*
 * Address-validation tokens and stateless reset tokens, computed with
 * HMAC-SHA256 (RFC 2104, FIPS 180-4) implemented here, so the same tokens
 * come out with or without OpenSSL: the "SYN cookie" of RETRY.
 *
 * A RETRY token is minted over the client's address, the time slot, the
 * original DCID of its CONNECT and the SCID the RETRY carries (the CID the
 * client's next CONNECT is addressed to), and verified statelessly: the
 * server allocates nothing until a CONNECT brings a valid token back.
 * Secrets rotate every |lifetime|; a token minted with the previous secret
 * is still accepted until it expires.
 *
 * Token layout (docs/PROTOCOL.md 7.5), at most RUDP_TOKEN_MAXLEN bytes:
 *
 *   kind (8) = RUDP_TOKEN_KIND_RETRY | time slot (32, big-endian) |
 *   odcid_len (8) | odcid |
 *   MAC (128): the first 16 bytes of HMAC-SHA256(secret, kind | slot |
 *   address | odcid_len | odcid | retry_scid_len | retry_scid)
 *
 * where |address| is the family (8), port (16) and address bytes (4 or
 * 16) of the client.  The kind byte is 0 as in PROTOCOL.md 7.5, which keeps
 * 1 for NEW_TOKEN tokens so the two can never be confused.
 */
#ifndef RUDP_TOKEN_H
#define RUDP_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <rudp/rudp.h>

#define RUDP_SHA256_LEN 32
#define RUDP_TOKEN_MACLEN 16
#define RUDP_TOKEN_MAXLEN (1 + 4 + 1 + RUDP_MAX_CIDLEN + RUDP_TOKEN_MACLEN)
#define RUDP_TOKEN_SECRETLEN 32
/* RUDP_TOKEN_KIND_RETRY is the first byte of a RETRY token. */
#define RUDP_TOKEN_KIND_RETRY 0

/* rudp_sha256_ctx is an incremental SHA-256 computation (FIPS 180-4). */
typedef struct rudp_sha256_ctx {
  /* h is the chaining state H(i) (FIPS 180-4 6.2). */
  uint32_t h[8];
  /* buf holds the bytes of the block not yet complete. */
  uint8_t buf[64];
  /* buflen is the number of bytes in |buf| (always < 64 between calls). */
  size_t buflen;
  /* total is the message length so far, in bytes. */
  uint64_t total;
} rudp_sha256_ctx;

/* rudp_sha256_init starts a computation. */
void rudp_sha256_init(rudp_sha256_ctx *ctx);

/* rudp_sha256_update hashes |len| more bytes at |data| (NULL if len 0). */
void rudp_sha256_update(rudp_sha256_ctx *ctx, const void *data, size_t len);

/* rudp_sha256_final writes the digest to |out|; |ctx| is spent. */
void rudp_sha256_final(rudp_sha256_ctx *ctx, uint8_t out[RUDP_SHA256_LEN]);

/* rudp_sha256 computes SHA-256 of |len| bytes at |data| into |out|. */
void rudp_sha256(uint8_t out[RUDP_SHA256_LEN], const void *data, size_t len);

/*
 * rudp_hmac_sha256 computes HMAC-SHA256 with |key| (|keylen| bytes, any
 * length) over the concatenation of |n| pieces (|pieces[i]|, |lens[i]|).
 */
void rudp_hmac_sha256(uint8_t out[RUDP_SHA256_LEN], const uint8_t *key,
                      size_t keylen, size_t n, const uint8_t *const *pieces,
                      const size_t *lens);

/* rudp_token_addr is a client address in canonical form for the MAC. */
typedef struct rudp_token_addr {
  /* data: family (1 byte: 4 or 6), port (2 bytes), address (4 or 16). */
  uint8_t data[19];
  size_t len;
} rudp_token_addr;

/*
 * rudp_token_addr_from_sockaddr fills |a| from |sa| (|len| bytes): AF_INET
 * gives family 4, the port and 4 address bytes (len 7), AF_INET6 family 6,
 * the port and 16 bytes (len 19); the port and address stay in network
 * byte order.  It only reads the struct.  IPv4-mapped IPv6 addresses are
 * kept as IPv6: a client always reaches a socket under the same form.
 * Returns 0, or RUDP_ERR_INVALID_ARGUMENT for another family or a |len|
 * too short for the family's struct (|a| is then unchanged).
 */
int rudp_token_addr_from_sockaddr(rudp_token_addr *a, const struct sockaddr *sa,
                                  socklen_t len);

/*
 * rudp_token_keys holds the current and the previous secret and when the
 * current one began.  Rotation is driven by the caller's clock (now).
 */
typedef struct rudp_token_keys {
  uint8_t cur[RUDP_TOKEN_SECRETLEN];
  uint8_t prev[RUDP_TOKEN_SECRETLEN];
  /* slot_len is the time slot (the lifetime) in nanoseconds; cur_slot is
   * the slot number (now / slot_len) the current secret belongs to. */
  rudp_duration slot_len;
  uint64_t cur_slot;
  int have_prev;
} rudp_token_keys;

/*
 * rudp_token_keys_init sets the first secret (|secret|, RUDP_TOKEN_SECRETLEN
 * random bytes the caller supplies) for tokens valid |lifetime| (> 0).
 */
void rudp_token_keys_init(rudp_token_keys *keys, const uint8_t *secret,
                          rudp_duration lifetime, rudp_tstamp now);

/*
 * rudp_token_keys_need_rotation returns nonzero when |now| is in a later
 * slot than the current secret's: the caller then supplies a new random
 * secret with rudp_token_keys_rotate.
 */
int rudp_token_keys_need_rotation(const rudp_token_keys *keys, rudp_tstamp now);

/* rudp_token_keys_rotate makes |secret| current and the current previous. */
void rudp_token_keys_rotate(rudp_token_keys *keys, const uint8_t *secret,
                            rudp_tstamp now);

/*
 * rudp_token_mint writes a RETRY token for |addr|, |odcid| and |retry_scid|
 * into |out| (|outlen| >= RUDP_TOKEN_MAXLEN).  Its time slot is
 * now / slot_len and its MAC uses the current secret, so rotate first when
 * rudp_token_keys_need_rotation says so (otherwise the token will not
 * verify).  Returns its length, or RUDP_ERR_NOBUF.
 */
rudp_ssize rudp_token_mint(uint8_t *out, size_t outlen,
                           const rudp_token_keys *keys,
                           const rudp_token_addr *addr, const rudp_cid *odcid,
                           const rudp_cid *retry_scid, rudp_tstamp now);

/*
 * rudp_token_verify checks |token| (|tokenlen| bytes) against |addr| and
 * |retry_scid| (the DCID of the CONNECT that carries it).  On success
 * stores the original DCID in |*podcid| and returns 0.  Returns
 * RUDP_ERR_INVALID_TOKEN if it is malformed, forged, for another address
 * or CID, or expired.  A token of slot s is accepted when s is the current
 * secret's slot (checked with it) or the one before (checked with the
 * previous secret, if any), and now / slot_len is s or s + 1: the keys
 * alone do not expire a token when the caller has not rotated for a while.
 * Constant-time MAC comparison.
 */
int rudp_token_verify(const rudp_token_keys *keys, const uint8_t *token,
                      size_t tokenlen, const rudp_token_addr *addr,
                      const rudp_cid *retry_scid, rudp_tstamp now,
                      rudp_cid *podcid);

/*
 * rudp_token_stateless_reset derives the stateless reset token of |cid|:
 * the first 16 bytes of HMAC-SHA256(|secret|, "reset" | cid).  An endpoint
 * that lost a connection's state can recompute it from the CID alone.
 */
void rudp_token_stateless_reset(uint8_t out[RUDP_STATELESS_RESET_TOKENLEN],
                                const uint8_t *secret, const rudp_cid *cid);

#endif /* RUDP_TOKEN_H */
