/*
 * Frame codec (docs/PROTOCOL.md, "Frames").  Stateless: no allocation, no
 * I/O.  Frame types and layouts are QUIC's (RFC 9000 section 19, RFC 9221
 * for DATAGRAM); every field after the type is a varint unless noted.
 *
 * Decoders are total: any input of any length yields one decoded frame and
 * its length, or a specific negative error, never a read outside the input.
 * Decoded pointers (data, reason, token, ACK ranges) point into the input;
 * the frame does not own them.
 */
#ifndef RUDP_FRAME_H
#define RUDP_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

#include "rudp_ranges.h"

/* Frame types (the wire values). */
#define RUDP_FRAME_PADDING 0x00u
#define RUDP_FRAME_PING 0x01u
#define RUDP_FRAME_ACK 0x02u
#define RUDP_FRAME_RESET_STREAM 0x04u
#define RUDP_FRAME_STOP_SENDING 0x05u
#define RUDP_FRAME_CRYPTO 0x06u
#define RUDP_FRAME_NEW_TOKEN 0x07u
/* STREAM is 0x08..0x0f: the low 3 bits are OFF (0x04), LEN (0x02), FIN
 * (0x01). */
#define RUDP_FRAME_STREAM 0x08u
#define RUDP_FRAME_STREAM_OFF_BIT 0x04u
#define RUDP_FRAME_STREAM_LEN_BIT 0x02u
#define RUDP_FRAME_STREAM_FIN_BIT 0x01u
#define RUDP_FRAME_MAX_DATA 0x10u
#define RUDP_FRAME_MAX_STREAM_DATA 0x11u
#define RUDP_FRAME_MAX_STREAMS_BIDI 0x12u
#define RUDP_FRAME_MAX_STREAMS_UNI 0x13u
#define RUDP_FRAME_DATA_BLOCKED 0x14u
#define RUDP_FRAME_STREAM_DATA_BLOCKED 0x15u
#define RUDP_FRAME_STREAMS_BLOCKED_BIDI 0x16u
#define RUDP_FRAME_STREAMS_BLOCKED_UNI 0x17u
#define RUDP_FRAME_CONNECTION_CLOSE 0x1cu
#define RUDP_FRAME_CONNECTION_CLOSE_APP 0x1du
#define RUDP_FRAME_HANDSHAKE_DONE 0x1eu
/* DATAGRAM is 0x30 (extends to the end of the packet) or 0x31 (has a
 * length). */
#define RUDP_FRAME_DATAGRAM 0x30u
#define RUDP_FRAME_DATAGRAM_LEN 0x31u

/* RUDP_MAX_STREAMS is the largest MAX_STREAMS / STREAMS_BLOCKED value. */
#define RUDP_MAX_STREAMS (1ULL << 60)
/* RUDP_FRAME_MAX_REASONLEN bounds a CONNECTION_CLOSE reason phrase. */
#define RUDP_FRAME_MAX_REASONLEN 1024

/* Every frame struct starts with the wire type. */

/* PADDING: a run of zero bytes, decoded as one frame. */
typedef struct rudp_frame_padding {
  uint8_t type;
  /* len is the number of zero bytes (at least 1). */
  size_t len;
} rudp_frame_padding;

/* PING and HANDSHAKE_DONE have no fields. */
typedef struct rudp_frame_ping {
  uint8_t type;
} rudp_frame_ping;

/*
 * ACK: largest acknowledged, ACK delay, range count, first range, then
 * range_count (gap, range length) pairs, newest first.
 */
typedef struct rudp_frame_ack {
  uint8_t type;
  /* largest_ack is the highest packet number acknowledged. */
  uint64_t largest_ack;
  /* ack_delay is the raw field: microseconds >> ack_delay_exponent. */
  uint64_t ack_delay;
  /* first_range is how many packets below largest_ack are acknowledged
   * contiguously (the first range is [largest_ack - first_range,
   * largest_ack]). */
  uint64_t first_range;
  /* range_count is the number of further (gap, length) pairs. */
  uint64_t range_count;
  /* Decode: rangebuf/rangebuflen are the raw encoded pairs, already
   * validated; walk them with rudp_frame_ack_iter_*.  Encode: ignored. */
  const uint8_t *rangebuf;
  size_t rangebuflen;
  /* Encode: ranges lists |nranges| (at least 1) absolute inclusive ranges,
   * newest first, disjoint and non-adjacent; largest_ack, first_range and
   * range_count are computed from them.  Decode: NULL and 0. */
  const rudp_range *ranges;
  size_t nranges;
} rudp_frame_ack;

/* RESET_STREAM: stream ID, application error code, final size. */
typedef struct rudp_frame_reset_stream {
  uint8_t type;
  uint64_t stream_id;
  uint64_t app_error_code;
  uint64_t final_size;
} rudp_frame_reset_stream;

/* STOP_SENDING: stream ID, application error code. */
typedef struct rudp_frame_stop_sending {
  uint8_t type;
  uint64_t stream_id;
  uint64_t app_error_code;
} rudp_frame_stop_sending;

/* CRYPTO: offset, length, data. */
typedef struct rudp_frame_crypto {
  uint8_t type;
  uint64_t offset;
  const uint8_t *data;
  size_t datalen;
} rudp_frame_crypto;

/* NEW_TOKEN: token length (at least 1), token. */
typedef struct rudp_frame_new_token {
  uint8_t type;
  const uint8_t *token;
  size_t tokenlen;
} rudp_frame_new_token;

/*
 * STREAM: stream ID, [offset if OFF], [length if LEN], data.  Without LEN
 * the data runs to the end of the packet (the decoder's input).
 */
typedef struct rudp_frame_stream {
  /* type: decode, the wire byte 0x08..0x0f; encode, ignored (computed). */
  uint8_t type;
  /* fin is nonzero if this frame ends the stream. */
  uint8_t fin;
  /* implicit_len (encode only): nonzero omits the length field, so the
   * data must end the packet.  Decode: nonzero if LEN was clear. */
  uint8_t implicit_len;
  uint64_t stream_id;
  /* offset of data[0] in the stream; offset + datalen <= 2^62 - 1. */
  uint64_t offset;
  const uint8_t *data;
  size_t datalen;
} rudp_frame_stream;

/*
 * MAX_DATA, MAX_STREAMS_*, DATA_BLOCKED, STREAMS_BLOCKED_*: one value
 * (MAX_STREAMS and STREAMS_BLOCKED at most RUDP_MAX_STREAMS).
 */
typedef struct rudp_frame_value {
  uint8_t type;
  uint64_t value;
} rudp_frame_value;

/* MAX_STREAM_DATA, STREAM_DATA_BLOCKED: stream ID, value. */
typedef struct rudp_frame_stream_value {
  uint8_t type;
  uint64_t stream_id;
  uint64_t value;
} rudp_frame_stream_value;

/*
 * CONNECTION_CLOSE (0x1c, transport: error code, frame type, reason) and
 * CONNECTION_CLOSE_APP (0x1d, application: error code, reason).  The reason
 * is UTF-8 text, at most RUDP_FRAME_MAX_REASONLEN bytes.
 */
typedef struct rudp_frame_connection_close {
  uint8_t type;
  uint64_t error_code;
  /* frame_type is the type of the frame that caused the error (0x1c
   * only; 0 if unknown). */
  uint64_t frame_type;
  const uint8_t *reason;
  size_t reasonlen;
} rudp_frame_connection_close;

/* DATAGRAM: 0x30 data to the end of the packet; 0x31 length, data. */
typedef struct rudp_frame_datagram {
  /* type: decode, the wire byte; encode, ignored (see implicit_len). */
  uint8_t type;
  /* implicit_len: as for STREAM. */
  uint8_t implicit_len;
  const uint8_t *data;
  size_t datalen;
} rudp_frame_datagram;

/* rudp_frame is any frame; |type| selects the member. */
typedef union rudp_frame {
  uint8_t type;
  rudp_frame_padding padding;
  rudp_frame_ping ping;
  rudp_frame_ack ack;
  rudp_frame_reset_stream reset_stream;
  rudp_frame_stop_sending stop_sending;
  rudp_frame_crypto crypto;
  rudp_frame_new_token new_token;
  rudp_frame_stream stream;
  rudp_frame_value value;
  rudp_frame_stream_value stream_value;
  rudp_frame_connection_close connection_close;
  rudp_frame_datagram datagram;
} rudp_frame;

/*
 * rudp_frame_decode decodes the frame at |p| (|len| bytes: the rest of the
 * packet payload) into |fr|.
 *
 * Returns the bytes consumed (at least 1), or:
 *
 * RUDP_ERR_TRUNCATED
 *     |len| is 0, or the input ends inside the frame (this includes any
 *     length field, however large, beyond the rest of the input, and an ACK
 *     range count the rest of the input cannot hold).
 * RUDP_ERR_FRAME_ENCODING
 *     Unknown frame type, a type not in its shortest encoding, an ACK range
 *     below packet number 0, offset + length beyond 2^62 - 1, a stream
 *     count beyond 2^60, an empty NEW_TOKEN, or a reason longer than
 *     RUDP_FRAME_MAX_REASONLEN.
 */
rudp_ssize rudp_frame_decode(rudp_frame *fr, const uint8_t *p, size_t len);

/*
 * rudp_frame_encode writes |fr| at |out| (|outlen| bytes).
 *
 * ACK is special: when not every range fits, it writes as many of the
 * newest ranges as fit (older ones are left out, as an ACK frame may).
 *
 * Returns the bytes written, or:
 *
 * RUDP_ERR_NOBUF
 *     The frame (for ACK: its first range) does not fit.
 * RUDP_ERR_INVALID_ARGUMENT
 *     Unknown type, a value beyond RUDP_MAX_VARINT (or the frame's own
 *     limit), ACK ranges empty, unordered or overlapping, PADDING of length
 *     0, an empty NEW_TOKEN, or a reason over RUDP_FRAME_MAX_REASONLEN.
 */
rudp_ssize rudp_frame_encode(uint8_t *out, size_t outlen,
                             const rudp_frame *fr);

/*
 * rudp_frame_stream_hdlen returns the length of a STREAM frame's header
 * (everything but the data) for these fields, so that a packet builder can
 * fit data to the space left.
 */
size_t rudp_frame_stream_hdlen(uint64_t stream_id, uint64_t offset,
                               size_t datalen, int implicit_len);

/*
 * rudp_frame_encode_stream_hd writes only the header of the STREAM frame
 * |fr| (fr->data is not read); the caller writes fr->datalen bytes of data
 * right after it, from wherever they live.  Returns the header length,
 * RUDP_ERR_NOBUF (no room for the header) or RUDP_ERR_INVALID_ARGUMENT.
 */
rudp_ssize rudp_frame_encode_stream_hd(uint8_t *out, size_t outlen,
                                       const rudp_frame_stream *fr);

/* rudp_frame_ack_iter walks a decoded ACK frame's ranges, newest first. */
typedef struct rudp_frame_ack_iter {
  /* Internal: the cursor in and end of the raw pairs, the smallest number
   * of the range returned last, whether the first range is still to come,
   * how many pairs are left, and the frame. */
  const uint8_t *p;
  const uint8_t *end;
  uint64_t lo;
  int first;
  uint64_t remaining;
  const rudp_frame_ack *fr;
} rudp_frame_ack_iter;

/* rudp_frame_ack_iter_init starts walking the ranges of decoded |fr|. */
void rudp_frame_ack_iter_init(rudp_frame_ack_iter *it,
                              const rudp_frame_ack *fr);

/*
 * rudp_frame_ack_iter_next stores the next range (absolute, inclusive) in
 * |*range| and returns 1, or returns 0 when there are no more.  The first
 * range returned is [largest_ack - first_range, largest_ack].
 */
int rudp_frame_ack_iter_next(rudp_frame_ack_iter *it, rudp_range *range);

/*
 * rudp_frame_is_ack_eliciting returns nonzero if a frame of wire type
 * |type| makes the receiver send an ACK: everything but PADDING, ACK and
 * CONNECTION_CLOSE.
 */
int rudp_frame_is_ack_eliciting(uint64_t type);

/*
 * rudp_frame_type_name returns a static lower-case name for |type| as qlog
 * spells it ("padding", "ack", "stream", "datagram", ...), or "unknown".
 */
const char *rudp_frame_type_name(uint64_t type);

#endif /* RUDP_FRAME_H */
