/*
 * Packet header codec (docs/PROTOCOL.md, "Packets").  Stateless: no
 * allocation, no I/O.  Decoders are total: any input of any length yields a
 * decoded header or a specific negative error, never a read outside
 * [pkt, pkt + pktlen).
 *
 * Long header (CONNECT, ACCEPT, HANDSHAKE):
 *
 *   byte 0   1 | 1 | type(2) | reserved(2) = 0 | pn_len - 1 (2)
 *   version  32 bits
 *   dcid_len 8 bits (0..20), dcid
 *   scid_len 8 bits (0..20), scid
 *   CONNECT only: token_len (varint), token
 *   length   varint: bytes that follow it (packet number, payload, trailer)
 *   packet number (pn_len bytes, truncated)
 *   payload (frames), then the trailer: CRC32C (4 bytes)
 *
 * RETRY (long type 3): byte 0 (pn bits and reserved bits 0), version, dcid,
 * scid, odcid_len (8 bits) + odcid (the DCID of the CONNECT it answers),
 * token_len (varint) + token (at least 1 byte), CRC32C.
 *
 * VERSION NEGOTIATION: byte 0 = 1 | 7 arbitrary bits, version 0, dcid,
 * scid, then one or more 32-bit supported versions, CRC32C.
 *
 * Short header (after the handshake):
 *
 *   byte 0   0 | 1 | spin | reserved(2) = 0 | key phase | pn_len - 1 (2)
 *   dcid     (length known to the receiver: it chose the connection ID)
 *   packet number (pn_len bytes, truncated)
 *   payload, then the trailer: CRC32C (4 bytes) in plain mode, or the AEAD
 *   tag (16 bytes) with TLS.  A short packet fills the rest of the datagram.
 *
 * Long-header packets may be coalesced in one datagram (each has a length);
 * a short-header packet can only be the last.
 */
#ifndef RUDP_PKT_H
#define RUDP_PKT_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

/* RUDP_PKT_CRCLEN is the length of the CRC32C trailer. */
#define RUDP_PKT_CRCLEN 4
/* RUDP_PKT_MAX_PKT_NUMLEN is the longest truncated packet number. */
#define RUDP_PKT_MAX_PKT_NUMLEN 4
/* RUDP_PKT_MAX_PKT_NUM is the largest packet number (2^62 - 1). */
#define RUDP_PKT_MAX_PKT_NUM RUDP_MAX_VARINT
/* RUDP_PKT_MAX_TOKENLEN bounds CONNECT and RETRY tokens. */
#define RUDP_PKT_MAX_TOKENLEN 512

/*
 * rudp_cid_init sets |cid| to the |datalen| bytes at |data|.  |datalen| must
 * be at most RUDP_MAX_CIDLEN.
 */
void rudp_cid_init(rudp_cid *cid, const uint8_t *data, size_t datalen);

/* rudp_cid_eq returns nonzero if |a| and |b| are the same ID. */
int rudp_cid_eq(const rudp_cid *a, const rudp_cid *b);

/* rudp_pkt_type is the kind of packet a header describes. */
typedef enum rudp_pkt_type {
  /* Long-header types: the value is the 2-bit type field. */
  RUDP_PKT_CONNECT = 0x0,   /* client's handshake packets (like SYN) */
  RUDP_PKT_ACCEPT = 0x1,    /* server's handshake packets (like SYN+ACK) */
  RUDP_PKT_HANDSHAKE = 0x2, /* further handshake-phase packets, both ways */
  RUDP_PKT_RETRY = 0x3,     /* stateless address-validation token */
  /* Not wire values: */
  RUDP_PKT_VERSION_NEGOTIATION = 0x10,
  RUDP_PKT_SHORT = 0x11
} rudp_pkt_type;

/* Flags of rudp_pkt_hd: bitwise OR of zero or more of these. */
#define RUDP_PKT_FLAG_NONE 0x00u
/* The packet has a long header. */
#define RUDP_PKT_FLAG_LONG_FORM 0x01u
/* Short header: the key-phase bit is set. */
#define RUDP_PKT_FLAG_KEY_PHASE 0x02u
/* Short header: the spin bit is set. */
#define RUDP_PKT_FLAG_SPIN 0x04u

/*
 * rudp_pkt_hd is a decoded (or to-be-encoded) packet header.  Pointers refer
 * into the buffer that was decoded; the header does not own them.
 */
typedef struct rudp_pkt_hd {
  /* type is the packet type. */
  rudp_pkt_type type;
  /* flags is bitwise OR of zero or more of RUDP_PKT_FLAG_*. */
  uint8_t flags;
  /* version is the protocol version (long headers only). */
  uint32_t version;
  /* dcid is the destination connection ID. */
  rudp_cid dcid;
  /* scid is the source connection ID (long headers only). */
  rudp_cid scid;
  /* odcid is the original DCID a RETRY answers (RETRY only). */
  rudp_cid odcid;
  /* token, tokenlen: CONNECT's address-validation token (may be empty) or
   * RETRY's token (at least 1 byte).  Not owned. */
  const uint8_t *token;
  size_t tokenlen;
  /* versions points at the 32-bit big-endian versions of a version
   * negotiation packet; nversions counts them.  Not owned. */
  const uint8_t *versions;
  size_t nversions;
  /* pkt_num: on encode, the full packet number, of which the low
   * |pkt_numlen| bytes are written; on decode, the truncated value read
   * (expand it with rudp_pkt_decode_pkt_num). */
  uint64_t pkt_num;
  /* pkt_numlen is the packet-number length, 1 to 4. */
  size_t pkt_numlen;
  /* len (CONNECT, ACCEPT, HANDSHAKE): the length field, i.e. the bytes of
   * packet number + payload + trailer.  On encode it sizes the length field:
   * 2 bytes when below 16384, else 4 (patch it later with
   * rudp_pkt_patch_len). */
  uint64_t len;
  /* pktlen (decode only): total bytes of this packet in the datagram, from
   * byte 0 to the end of its trailer.  The next coalesced packet, if any,
   * starts there. */
  size_t pktlen;
} rudp_pkt_hd;

/*
 * rudp_pkt_decode_hd decodes the header at |pkt| (|pktlen| bytes: the rest
 * of the datagram).  |short_dcidlen| is the DCID length of short-header
 * packets (the length of the IDs this endpoint issues).
 *
 * Returns the header length: for CONNECT, ACCEPT, HANDSHAKE and short
 * packets, the offset of the payload (the packet number included); for
 * RETRY and version negotiation, the offset of the CRC32C trailer.  Errors:
 *
 * RUDP_ERR_TRUNCATED
 *     |pktlen| ends inside the header or the packet number, or the length
 *     field points beyond |pktlen|, or a RETRY or version negotiation
 *     packet has no room for its CRC32C.
 * RUDP_ERR_BAD_PACKET
 *     Fixed bit clear, reserved bits set, connection ID longer than
 *     RUDP_MAX_CIDLEN, a length field smaller than the packet number, an
 *     empty RETRY token, a version list that is empty or not a multiple of
 *     4 bytes, or a token longer than RUDP_PKT_MAX_TOKENLEN.
 * RUDP_ERR_INVALID_ARGUMENT
 *     |short_dcidlen| exceeds RUDP_MAX_CIDLEN.
 *
 * The version is not checked (the endpoint answers unknown versions with
 * version negotiation); the CRC is not checked (rudp_pkt_verify_crc).
 */
rudp_ssize rudp_pkt_decode_hd(rudp_pkt_hd *hd, const uint8_t *pkt,
                              size_t pktlen, size_t short_dcidlen);

/*
 * rudp_pkt_encode_hd writes the header of a CONNECT, ACCEPT, HANDSHAKE or
 * short packet, through the packet number, into |out| (|outlen| bytes).
 * Uses hd->type, flags (key phase, spin), version, dcid, scid, token,
 * tokenlen (CONNECT), pkt_num, pkt_numlen and len.
 *
 * Returns the bytes written, or RUDP_ERR_NOBUF (|outlen| too small), or
 * RUDP_ERR_INVALID_ARGUMENT (RETRY or version negotiation type, pkt_numlen
 * not in 1..4, len beyond 2^30 - 1, a token over RUDP_PKT_MAX_TOKENLEN).
 */
rudp_ssize rudp_pkt_encode_hd(uint8_t *out, size_t outlen,
                              const rudp_pkt_hd *hd);

/*
 * rudp_pkt_patch_len rewrites the length field of the long-header packet at
 * |pkt| (|pktlen| bytes available, header already written by
 * rudp_pkt_encode_hd) to |len|, keeping the field's encoded width.
 *
 * Returns 0, RUDP_ERR_INVALID_ARGUMENT (not a CONNECT/ACCEPT/HANDSHAKE
 * packet, or |len| does not fit the field's width), or an error of
 * rudp_pkt_decode_hd.
 */
int rudp_pkt_patch_len(uint8_t *pkt, size_t pktlen, uint64_t len);

/*
 * rudp_pkt_encode_retry writes a complete RETRY packet, CRC32C included.
 * |tokenlen| must be 1..RUDP_PKT_MAX_TOKENLEN.  Returns the bytes written,
 * RUDP_ERR_NOBUF or RUDP_ERR_INVALID_ARGUMENT.
 */
rudp_ssize rudp_pkt_encode_retry(uint8_t *out, size_t outlen, uint32_t version,
                                 const rudp_cid *dcid, const rudp_cid *scid,
                                 const rudp_cid *odcid, const uint8_t *token,
                                 size_t tokenlen);

/*
 * rudp_pkt_encode_version_negotiation writes a complete version negotiation
 * packet, CRC32C included.  |unused| supplies the 7 arbitrary low bits of
 * byte 0.  |versions| lists |nversions| (at least 1) supported versions.
 * Returns the bytes written, RUDP_ERR_NOBUF or RUDP_ERR_INVALID_ARGUMENT.
 */
rudp_ssize rudp_pkt_encode_version_negotiation(
    uint8_t *out, size_t outlen, uint8_t unused, const rudp_cid *dcid,
    const rudp_cid *scid, const uint32_t *versions, size_t nversions);

/*
 * rudp_pkt_get_version reads the i-th version of a decoded version
 * negotiation header (i < hd->nversions).
 */
uint32_t rudp_pkt_get_version(const rudp_pkt_hd *hd, size_t i);

/*
 * rudp_pkt_seal_crc computes the CRC32C of the |len| bytes at |pkt| and
 * writes it big-endian at |pkt + len|; the caller has room for 4 more bytes.
 * Returns len + RUDP_PKT_CRCLEN.
 */
size_t rudp_pkt_seal_crc(uint8_t *pkt, size_t len);

/*
 * rudp_pkt_verify_crc checks that the last 4 bytes of the |pktlen| bytes at
 * |pkt| are the CRC32C of the bytes before them.  Returns 0,
 * RUDP_ERR_TRUNCATED (|pktlen| < 4) or RUDP_ERR_INTEGRITY.
 */
int rudp_pkt_verify_crc(const uint8_t *pkt, size_t pktlen);

/*
 * rudp_pkt_seal_crc_pn is rudp_pkt_seal_crc for a packet that carries a
 * packet number (CONNECT, ACCEPT, HANDSHAKE, short): the CRC32C also covers
 * the full |pkt_num|, as 8 bytes big-endian logically placed before the
 * packet.  A receiver that expands a truncated packet number wrongly (a
 * packet delayed beyond the truncation window) computes another CRC and
 * drops the packet, as QUIC's AEAD would (docs/PROTOCOL.md 2.6).
 */
size_t rudp_pkt_seal_crc_pn(uint8_t *pkt, size_t len, uint64_t pkt_num);

/*
 * rudp_pkt_verify_crc_pn checks a packet sealed by rudp_pkt_seal_crc_pn
 * against the expanded packet number |pkt_num|.  Returns 0,
 * RUDP_ERR_TRUNCATED or RUDP_ERR_INTEGRITY.
 */
int rudp_pkt_verify_crc_pn(const uint8_t *pkt, size_t pktlen,
                           uint64_t pkt_num);

/*
 * rudp_pkt_num_len returns how many bytes (1..4) to send packet number |pn|
 * in, given the largest packet number the peer has acknowledged
 * (|largest_acked|, or UINT64_MAX if none): enough to cover twice the
 * number of packets in flight (RFC 9000 section 17.1, appendix A.2).
 */
size_t rudp_pkt_num_len(uint64_t pn, uint64_t largest_acked);

/*
 * rudp_pkt_decode_pkt_num expands the truncated packet number |truncated|
 * of |pkt_numlen| bytes, given the largest packet number received so far
 * (|largest_pn|, or UINT64_MAX if none), to the full value closest to
 * largest_pn + 1 (RFC 9000 appendix A.3).
 */
uint64_t rudp_pkt_decode_pkt_num(uint64_t largest_pn, uint64_t truncated,
                                 size_t pkt_numlen);

#endif /* RUDP_PKT_H */
