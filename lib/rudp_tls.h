/*
 * Packet protection for TLS mode (docs/PROTOCOL.md 2.6, "AEAD tag", and
 * "Key update").  Sans-I/O; uses OpenSSL's EVP AEADs.
 *
 * Each direction has a 32-byte traffic secret exported from the TLS 1.3
 * session (rudp_tls_openssl.h).  From a secret S:
 *
 *   key = HKDF-Expand-Label(S, "rudp key", "", key_len)   (16 or 32 bytes)
 *   iv  = HKDF-Expand-Label(S, "rudp iv",  "", 12)
 *   next secret = HKDF-Expand-Label(S, "rudp ku", "", 32)
 *
 * with HKDF-Expand-Label as in RFC 8446 section 7.1 over SHA-256 (the
 * "tls13 " prefix included), whatever the cipher suite.
 *
 * A short-header packet is protected as in RFC 9001 section 5.3: the
 * nonce is the IV XORed with the full 62-bit packet number (big-endian,
 * right-aligned in 12 bytes), the associated data is the header through
 * the truncated packet number, the payload is encrypted in place and the
 * 16-byte tag follows it.  There is no header protection: the packet
 * number and key phase are visible, as in plain mode (docs/SECURITY.md).
 *
 * Key update (RFC 9001 section 6): the key phase bit of the short header
 * names the key generation.  Either side may start an update once a packet
 * it sent with the current keys has been acknowledged; it then sends with
 * the next generation (phase flipped).  A receiver seeing the other phase
 * tries the next generation; if the packet authenticates, it moves its
 * receive keys forward and, if it had not already, its send keys too.
 * The previous receive keys are kept for packets numbered below the first
 * packet of the new phase (reordering across the update).  No generation
 * is derived more than once: the next receive key is derived ahead of
 * time, when the current one is installed, so a forged packet with the
 * other phase costs one decryption, never a derivation.
 *
 * Cipher contexts are created once per key and reused for every packet.
 * They are the OpenSSL provider's own contexts, called without EVP in
 * between: in OpenSSL 3.0, EVP_CipherInit_ex queries the IV length by
 * name at every nonce, and the EVP tag controls go through the same
 * parameter lookup (rudp_tls.c; docs/PERFORMANCE.md has the figures).
 */
#ifndef RUDP_TLS_H_INTERNAL
#define RUDP_TLS_H_INTERNAL

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

/* RUDP_TLS_SECRETLEN is the length of a traffic secret. */
#define RUDP_TLS_SECRETLEN 32
/* RUDP_AEAD_TAGLEN is the AEAD tag length of every supported AEAD. */
#define RUDP_AEAD_TAGLEN 16
/* RUDP_AEAD_IVLEN is the nonce length. */
#define RUDP_AEAD_IVLEN 12

/* rudp_aead_alg names a packet-protection AEAD. */
typedef enum rudp_aead_alg {
  RUDP_AEAD_NONE = 0,
  RUDP_AEAD_AES_128_GCM = 1,
  RUDP_AEAD_AES_256_GCM = 2,
  RUDP_AEAD_CHACHA20_POLY1305 = 3
} rudp_aead_alg;

/* rudp_pp_key is one key generation of one direction. */
typedef struct rudp_pp_key {
  /* ctx is the provider's cipher context (see rudp_pp_aead), keyed for
   * encryption or decryption; NULL when the key is not installed. */
  void *ctx;
  uint8_t iv[RUDP_AEAD_IVLEN];
} rudp_pp_key;

/* rudp_pp_aead is the AEAD's implementation as the OpenSSL provider that
 * serves it exports it (its functions, the fetched cipher that keeps the
 * provider loaded); defined in rudp_tls.c. */
typedef struct rudp_pp_aead rudp_pp_aead;

/* rudp_pp is a connection's packet-protection state, both directions. */
typedef struct rudp_pp {
  rudp_aead_alg alg;
  /* aead is looked up once, at rudp_pp_init, and shared by every key. */
  rudp_pp_aead *aead;
  /* tx: the current send key; tx_secret its secret; tx_phase its phase
   * bit; tx_first_pn the first packet number sent with it (UINT64_MAX
   * until one is); tx_count the packets sealed with it. */
  rudp_pp_key tx;
  uint8_t tx_secret[RUDP_TLS_SECRETLEN];
  int tx_phase;
  uint64_t tx_first_pn;
  uint64_t tx_count;
  /* rx: the current receive key (phase rx_phase, secret rx_secret), the
   * next generation (derived ahead), and the previous one (kept for
   * reordered packets numbered below rx_first_pn, the first packet
   * received in the current phase; UINT64_MAX: none yet). */
  rudp_pp_key rx, rx_next, rx_prev;
  uint8_t rx_secret[RUDP_TLS_SECRETLEN];
  uint8_t rx_next_secret[RUDP_TLS_SECRETLEN];
  int rx_phase;
  uint64_t rx_first_pn;
  /* update_acked is nonzero once a packet sent with the current send key
   * was acknowledged: a new update may start (RFC 9001 6.1). */
  int update_acked;
  /* updates counts key updates (either side's); auth_failures counts
   * packets that failed authentication. */
  uint64_t updates;
  uint64_t auth_failures;
} rudp_pp;

/*
 * rudp_pp_init installs the first generation of keys for |alg| from the
 * two secrets (|tx_secret| protects what this side sends).  Phases start
 * at 0.  Returns 0, RUDP_ERR_INVALID_ARGUMENT (unknown |alg|) or
 * RUDP_ERR_NOMEM (cipher contexts, or the AEAD is not available from
 * OpenSSL's providers); on failure nothing needs freeing.
 */
int rudp_pp_init(rudp_pp *pp, rudp_aead_alg alg,
                 const uint8_t tx_secret[RUDP_TLS_SECRETLEN],
                 const uint8_t rx_secret[RUDP_TLS_SECRETLEN]);

/* rudp_pp_free frees the cipher contexts and wipes the secrets. */
void rudp_pp_free(rudp_pp *pp);

/*
 * rudp_pp_seal protects the packet at |pkt|: |hdlen| header bytes (the
 * associated data; the caller sets the key phase bit from pp->tx_phase
 * before), then |payloadlen| payload bytes encrypted in place; the tag is
 * written after them (the caller has room for RUDP_AEAD_TAGLEN more
 * bytes).  |pn| is the full packet number.  Returns the packet length
 * (hdlen + payloadlen + RUDP_AEAD_TAGLEN) or RUDP_ERR_INTERNAL.
 */
rudp_ssize rudp_pp_seal(rudp_pp *pp, uint8_t *pkt, size_t hdlen,
                        size_t payloadlen, uint64_t pn);

/*
 * rudp_pp_open authenticates and decrypts the packet at |pkt| (|pktlen|
 * bytes: |hdlen| header bytes, the ciphertext, the tag) whose full packet
 * number is |pn| and key phase bit |key_phase|, writing the plaintext
 * payload to |out| (|outlen| bytes, at least pktlen - hdlen -
 * RUDP_AEAD_TAGLEN; |out| may not overlap |pkt|).  Picks the key by phase
 * as described above; a packet that authenticates with the next
 * generation commits the update (and makes the send side follow).
 *
 * Returns the payload length, RUDP_ERR_INTEGRITY (authentication failed,
 * or |pktlen| too short; auth_failures counted, state unchanged),
 * RUDP_ERR_NOBUF or RUDP_ERR_NOMEM (the packet authenticated with the next
 * generation but deriving the keys after it failed: state unchanged,
 * nothing delivered).
 */
rudp_ssize rudp_pp_open(rudp_pp *pp, uint8_t *out, size_t outlen,
                        const uint8_t *pkt, size_t hdlen, size_t pktlen,
                        uint64_t pn, int key_phase);

/*
 * rudp_pp_on_acked tells the protection state that the peer acknowledged
 * packets up to |largest_acked|: if that covers tx_first_pn, a new update
 * may start.
 */
void rudp_pp_on_acked(rudp_pp *pp, uint64_t largest_acked);

/*
 * rudp_pp_can_update returns nonzero if rudp_pp_update would succeed.
 */
int rudp_pp_can_update(const rudp_pp *pp);

/*
 * rudp_pp_update starts a key update: the send side moves to the next
 * generation and flips its phase.  Returns 0, RUDP_ERR_INVALID_STATE (the
 * current send key has no acknowledged packet yet) or RUDP_ERR_NOMEM.
 */
int rudp_pp_update(rudp_pp *pp);

/*
 * rudp_hkdf_expand_label computes HKDF-Expand-Label(|secret|, |label|,
 * "", |outlen|) over SHA-256 (RFC 8446 7.1; |label| without the "tls13 "
 * prefix, at most 200 bytes; |outlen| at most 255).  Returns 0 or
 * RUDP_ERR_INTERNAL.
 */
int rudp_hkdf_expand_label(uint8_t *out, size_t outlen, const uint8_t *secret,
                           size_t secretlen, const char *label);

#endif /* RUDP_TLS_H_INTERNAL */
