/*
 * Frame codec: RFC 9000 section 19 layouts, RFC 9221 for DATAGRAM.
 *
 * Decoders read fields in wire order and check each one as soon as it is
 * read, so the first problem found decides the error.  Every length field is
 * compared with the input left before it is converted to size_t, so a
 * length of up to 2^62 - 1 can never overflow a pointer or a size_t.
 *
 * Encoders validate the whole frame first (RUDP_ERR_INVALID_ARGUMENT), then
 * measure it (RUDP_ERR_NOBUF), then write: nothing is written on error.
 */
#include "rudp_frame.h"

#include <string.h>

#include "rudp_conv.h"
#include "rudp_macro.h"

/* ---------------------------------------------------------------- decode */

/*
 * get_len reads a length varint at |*pp| and checks that that many bytes
 * follow it in [*pp, end).  The check is made on the 64-bit value, before it
 * becomes a size_t.
 */
static int get_len(size_t *dest, const uint8_t **pp, const uint8_t *end) {
  uint64_t v;
  int rv;

  rv = rudp_get_varint_checked(&v, pp, end);
  if (rv != 0) {
    return rv;
  }
  if (v > (uint64_t)(end - *pp)) {
    return RUDP_ERR_TRUNCATED;
  }
  *dest = (size_t)v;
  return 0;
}

static rudp_ssize decode_padding(rudp_frame_padding *fr, const uint8_t *begin,
                                 const uint8_t *end) {
  const uint8_t *p = begin;

  /* A run of PADDING is one frame for us: decoding it byte by byte would
   * cost a call per byte of a 1200-byte padded Initial-style packet. */
  while (p != end && *p == 0) {
    ++p;
  }
  fr->type = RUDP_FRAME_PADDING;
  fr->len = (size_t)(p - begin);
  return (rudp_ssize)fr->len;
}

/* RFC 9000 section 19.3. */
static rudp_ssize decode_ack(rudp_frame_ack *fr, const uint8_t *begin,
                             const uint8_t *p, const uint8_t *end) {
  uint64_t smallest, gap, rlen, i;
  int rv;

  fr->type = RUDP_FRAME_ACK;
  rv = rudp_get_varint_checked(&fr->largest_ack, &p, end);
  if (rv != 0) {
    return rv;
  }
  rv = rudp_get_varint_checked(&fr->ack_delay, &p, end);
  if (rv != 0) {
    return rv;
  }
  rv = rudp_get_varint_checked(&fr->range_count, &p, end);
  if (rv != 0) {
    return rv;
  }
  rv = rudp_get_varint_checked(&fr->first_range, &p, end);
  if (rv != 0) {
    return rv;
  }
  /* RFC 9000 section 19.3.1: the smallest number of a range must not be
   * negative. */
  if (fr->first_range > fr->largest_ack) {
    return RUDP_ERR_FRAME_ENCODING;
  }
  /* Each (gap, length) pair takes at least 2 bytes; a count the rest of the
   * input cannot hold is rejected before the loop, which would otherwise run
   * up to 2^62 times. */
  if (fr->range_count > (uint64_t)(end - p) / 2) {
    return RUDP_ERR_TRUNCATED;
  }

  fr->rangebuf = p;
  fr->ranges = NULL;
  fr->nranges = 0;

  /* Validate every pair now so that the iterator and every user of the
   * frame can trust the numbers: largest = smallest of the previous range
   * - gap - 2, smallest = largest - length, both >= 0. */
  smallest = fr->largest_ack - fr->first_range;
  for (i = 0; i < fr->range_count; ++i) {
    rv = rudp_get_varint_checked(&gap, &p, end);
    if (rv != 0) {
      return rv;
    }
    rv = rudp_get_varint_checked(&rlen, &p, end);
    if (rv != 0) {
      return rv;
    }
    /* gap <= 2^62 - 1, so gap + 2 cannot wrap. */
    if (gap + 2 > smallest) {
      return RUDP_ERR_FRAME_ENCODING;
    }
    smallest -= gap + 2;
    if (rlen > smallest) {
      return RUDP_ERR_FRAME_ENCODING;
    }
    smallest -= rlen;
  }

  fr->rangebuflen = (size_t)(p - fr->rangebuf);
  return p - begin;
}

/* RFC 9000 section 19.4. */
static rudp_ssize decode_reset_stream(rudp_frame_reset_stream *fr,
                                      const uint8_t *begin, const uint8_t *p,
                                      const uint8_t *end) {
  int rv;

  fr->type = RUDP_FRAME_RESET_STREAM;
  rv = rudp_get_varint_checked(&fr->stream_id, &p, end);
  if (rv != 0) {
    return rv;
  }
  rv = rudp_get_varint_checked(&fr->app_error_code, &p, end);
  if (rv != 0) {
    return rv;
  }
  rv = rudp_get_varint_checked(&fr->final_size, &p, end);
  if (rv != 0) {
    return rv;
  }
  return p - begin;
}

/* RFC 9000 section 19.5. */
static rudp_ssize decode_stop_sending(rudp_frame_stop_sending *fr,
                                      const uint8_t *begin, const uint8_t *p,
                                      const uint8_t *end) {
  int rv;

  fr->type = RUDP_FRAME_STOP_SENDING;
  rv = rudp_get_varint_checked(&fr->stream_id, &p, end);
  if (rv != 0) {
    return rv;
  }
  rv = rudp_get_varint_checked(&fr->app_error_code, &p, end);
  if (rv != 0) {
    return rv;
  }
  return p - begin;
}

/* RFC 9000 section 19.6. */
static rudp_ssize decode_crypto(rudp_frame_crypto *fr, const uint8_t *begin,
                                const uint8_t *p, const uint8_t *end) {
  uint64_t len;
  int rv;

  fr->type = RUDP_FRAME_CRYPTO;
  rv = rudp_get_varint_checked(&fr->offset, &p, end);
  if (rv != 0) {
    return rv;
  }
  rv = rudp_get_varint_checked(&len, &p, end);
  if (rv != 0) {
    return rv;
  }
  /* The crypto stream has the same 2^62 - 1 ceiling as any stream. */
  if (len > RUDP_MAX_VARINT - fr->offset) {
    return RUDP_ERR_FRAME_ENCODING;
  }
  if (len > (uint64_t)(end - p)) {
    return RUDP_ERR_TRUNCATED;
  }
  fr->data = p;
  fr->datalen = (size_t)len;
  p += fr->datalen;
  return p - begin;
}

/* RFC 9000 section 19.7. */
static rudp_ssize decode_new_token(rudp_frame_new_token *fr,
                                   const uint8_t *begin, const uint8_t *p,
                                   const uint8_t *end) {
  uint64_t len;
  int rv;

  fr->type = RUDP_FRAME_NEW_TOKEN;
  rv = rudp_get_varint_checked(&len, &p, end);
  if (rv != 0) {
    return rv;
  }
  /* "A client MUST treat receipt of a NEW_TOKEN frame with an empty Token
   * field as a connection error of type FRAME_ENCODING_ERROR." */
  if (len == 0) {
    return RUDP_ERR_FRAME_ENCODING;
  }
  if (len > (uint64_t)(end - p)) {
    return RUDP_ERR_TRUNCATED;
  }
  fr->token = p;
  fr->tokenlen = (size_t)len;
  p += fr->tokenlen;
  return p - begin;
}

/* RFC 9000 section 19.8. */
static rudp_ssize decode_stream(rudp_frame_stream *fr, uint8_t type,
                                const uint8_t *begin, const uint8_t *p,
                                const uint8_t *end) {
  uint64_t len;
  int rv;

  fr->type = type;
  fr->fin = (type & RUDP_FRAME_STREAM_FIN_BIT) ? 1 : 0;
  fr->implicit_len = (type & RUDP_FRAME_STREAM_LEN_BIT) ? 0 : 1;
  rv = rudp_get_varint_checked(&fr->stream_id, &p, end);
  if (rv != 0) {
    return rv;
  }
  fr->offset = 0;
  if (type & RUDP_FRAME_STREAM_OFF_BIT) {
    rv = rudp_get_varint_checked(&fr->offset, &p, end);
    if (rv != 0) {
      return rv;
    }
  }
  if (type & RUDP_FRAME_STREAM_LEN_BIT) {
    rv = rudp_get_varint_checked(&len, &p, end);
    if (rv != 0) {
      return rv;
    }
  } else {
    len = (uint64_t)(end - p);
  }
  /* "The largest offset delivered on a stream -- the sum of the offset and
   * data length -- cannot exceed 2^62 - 1" (section 19.8). */
  if (len > RUDP_MAX_VARINT - fr->offset) {
    return RUDP_ERR_FRAME_ENCODING;
  }
  if (len > (uint64_t)(end - p)) {
    return RUDP_ERR_TRUNCATED;
  }
  fr->data = p;
  fr->datalen = (size_t)len;
  p += fr->datalen;
  return p - begin;
}

/* MAX_DATA, MAX_STREAMS, DATA_BLOCKED, STREAMS_BLOCKED (19.9-19.14). */
static rudp_ssize decode_value(rudp_frame_value *fr, uint8_t type,
                               uint64_t limit, const uint8_t *begin,
                               const uint8_t *p, const uint8_t *end) {
  int rv;

  fr->type = type;
  rv = rudp_get_varint_checked(&fr->value, &p, end);
  if (rv != 0) {
    return rv;
  }
  /* Sections 19.11 and 19.14: a stream count above 2^60 would make stream
   * IDs beyond 2^62 - 1. */
  if (fr->value > limit) {
    return RUDP_ERR_FRAME_ENCODING;
  }
  return p - begin;
}

/* MAX_STREAM_DATA (19.10), STREAM_DATA_BLOCKED (19.13). */
static rudp_ssize decode_stream_value(rudp_frame_stream_value *fr, uint8_t type,
                                      const uint8_t *begin, const uint8_t *p,
                                      const uint8_t *end) {
  int rv;

  fr->type = type;
  rv = rudp_get_varint_checked(&fr->stream_id, &p, end);
  if (rv != 0) {
    return rv;
  }
  rv = rudp_get_varint_checked(&fr->value, &p, end);
  if (rv != 0) {
    return rv;
  }
  return p - begin;
}

/* RFC 9000 section 19.19. */
static rudp_ssize decode_connection_close(rudp_frame_connection_close *fr,
                                          uint8_t type, const uint8_t *begin,
                                          const uint8_t *p,
                                          const uint8_t *end) {
  uint64_t len;
  int rv;

  fr->type = type;
  rv = rudp_get_varint_checked(&fr->error_code, &p, end);
  if (rv != 0) {
    return rv;
  }
  fr->frame_type = 0;
  if (type == RUDP_FRAME_CONNECTION_CLOSE) {
    rv = rudp_get_varint_checked(&fr->frame_type, &p, end);
    if (rv != 0) {
      return rv;
    }
  }
  rv = rudp_get_varint_checked(&len, &p, end);
  if (rv != 0) {
    return rv;
  }
  /* Our own bound: a reason is for logs, not for bulk data. */
  if (len > RUDP_FRAME_MAX_REASONLEN) {
    return RUDP_ERR_FRAME_ENCODING;
  }
  if (len > (uint64_t)(end - p)) {
    return RUDP_ERR_TRUNCATED;
  }
  fr->reason = p;
  fr->reasonlen = (size_t)len;
  p += fr->reasonlen;
  return p - begin;
}

/* RFC 9221 section 4. */
static rudp_ssize decode_datagram(rudp_frame_datagram *fr, uint8_t type,
                                  const uint8_t *begin, const uint8_t *p,
                                  const uint8_t *end) {
  int rv;

  fr->type = type;
  if (type == RUDP_FRAME_DATAGRAM_LEN) {
    fr->implicit_len = 0;
    rv = get_len(&fr->datalen, &p, end);
    if (rv != 0) {
      return rv;
    }
  } else {
    fr->implicit_len = 1;
    fr->datalen = (size_t)(end - p);
  }
  fr->data = p;
  p += fr->datalen;
  return p - begin;
}

rudp_ssize rudp_frame_decode(rudp_frame *fr, const uint8_t *p, size_t len) {
  const uint8_t *end, *q;
  uint64_t type;
  size_t typelen;

  if (len == 0) {
    return RUDP_ERR_TRUNCATED;
  }
  end = p + len;
  typelen = rudp_varint_len_from_first(*p);
  if (typelen > len) {
    return RUDP_ERR_TRUNCATED;
  }
  q = rudp_get_varint(&type, p);
  /* RFC 9000 section 12.4: the frame type must use the shortest encoding.
   * Every type we know is below 64, so this also rejects all longer types
   * before the switch. */
  if (rudp_varint_len(type) != typelen) {
    return RUDP_ERR_FRAME_ENCODING;
  }

  switch (type) {
  case RUDP_FRAME_PADDING:
    return decode_padding(&fr->padding, p, end);
  case RUDP_FRAME_PING:
  case RUDP_FRAME_HANDSHAKE_DONE:
    fr->ping.type = (uint8_t)type;
    return 1;
  case RUDP_FRAME_ACK:
    return decode_ack(&fr->ack, p, q, end);
  case RUDP_FRAME_RESET_STREAM:
    return decode_reset_stream(&fr->reset_stream, p, q, end);
  case RUDP_FRAME_STOP_SENDING:
    return decode_stop_sending(&fr->stop_sending, p, q, end);
  case RUDP_FRAME_CRYPTO:
    return decode_crypto(&fr->crypto, p, q, end);
  case RUDP_FRAME_NEW_TOKEN:
    return decode_new_token(&fr->new_token, p, q, end);
  case 0x08:
  case 0x09:
  case 0x0a:
  case 0x0b:
  case 0x0c:
  case 0x0d:
  case 0x0e:
  case 0x0f:
    return decode_stream(&fr->stream, (uint8_t)type, p, q, end);
  case RUDP_FRAME_MAX_DATA:
  case RUDP_FRAME_DATA_BLOCKED:
    return decode_value(&fr->value, (uint8_t)type, RUDP_MAX_VARINT, p, q, end);
  case RUDP_FRAME_MAX_STREAMS_BIDI:
  case RUDP_FRAME_MAX_STREAMS_UNI:
  case RUDP_FRAME_STREAMS_BLOCKED_BIDI:
  case RUDP_FRAME_STREAMS_BLOCKED_UNI:
    return decode_value(&fr->value, (uint8_t)type, RUDP_MAX_STREAMS, p, q, end);
  case RUDP_FRAME_MAX_STREAM_DATA:
  case RUDP_FRAME_STREAM_DATA_BLOCKED:
    return decode_stream_value(&fr->stream_value, (uint8_t)type, p, q, end);
  case RUDP_FRAME_CONNECTION_CLOSE:
  case RUDP_FRAME_CONNECTION_CLOSE_APP:
    return decode_connection_close(&fr->connection_close, (uint8_t)type, p, q,
                                   end);
  case RUDP_FRAME_DATAGRAM:
  case RUDP_FRAME_DATAGRAM_LEN:
    return decode_datagram(&fr->datagram, (uint8_t)type, p, q, end);
  default:
    return RUDP_ERR_FRAME_ENCODING;
  }
}

/* --------------------------------------------------------------- ACK walk */

void rudp_frame_ack_iter_init(rudp_frame_ack_iter *it,
                              const rudp_frame_ack *fr) {
  it->fr = fr;
  it->p = fr->rangebuf;
  /* Avoid arithmetic on a NULL rangebuf (an ACK with no pairs built by
   * hand): it is undefined even with a zero offset. */
  it->end = fr->rangebuflen ? fr->rangebuf + fr->rangebuflen : fr->rangebuf;
  it->first = 1;
  it->remaining = fr->range_count;
  it->lo = fr->largest_ack - fr->first_range;
}

int rudp_frame_ack_iter_next(rudp_frame_ack_iter *it, rudp_range *range) {
  uint64_t gap, rlen, hi;

  if (it->first) {
    it->first = 0;
    range->lo = it->lo;
    range->hi = it->fr->largest_ack;
    return 1;
  }
  if (it->remaining == 0) {
    return 0;
  }
  /* rudp_frame_decode validated these bytes; the checks below only keep a
   * hand-made or corrupted frame from reading out of bounds or wrapping. */
  if (rudp_get_varint_checked(&gap, &it->p, it->end) != 0 ||
      rudp_get_varint_checked(&rlen, &it->p, it->end) != 0 ||
      gap + 2 > it->lo || rlen > it->lo - gap - 2) {
    it->remaining = 0;
    return 0;
  }
  hi = it->lo - gap - 2;
  it->lo = hi - rlen;
  --it->remaining;
  range->lo = it->lo;
  range->hi = hi;
  return 1;
}

/* ---------------------------------------------------------------- encode */

/*
 * encode_varints writes |type| followed by the |n| varints in |v|: the
 * layout of every frame made only of integers.
 */
static rudp_ssize encode_varints(uint8_t *out, size_t outlen, uint8_t type,
                                 const uint64_t *v, size_t n) {
  size_t i, len = 1;
  uint8_t *p;

  for (i = 0; i < n; ++i) {
    if (v[i] > RUDP_MAX_VARINT) {
      return RUDP_ERR_INVALID_ARGUMENT;
    }
    len += rudp_varint_len(v[i]);
  }
  if (len > outlen) {
    return RUDP_ERR_NOBUF;
  }
  p = rudp_put_uint8(out, type);
  for (i = 0; i < n; ++i) {
    p = rudp_put_varint(p, v[i]);
  }
  return p - out;
}

/*
 * encode_with_data writes |type|, the |n| varints in |v| (already checked by
 * the caller), then |datalen| bytes of |data|.
 */
static rudp_ssize encode_with_data(uint8_t *out, size_t outlen, uint8_t type,
                                   const uint64_t *v, size_t n,
                                   const uint8_t *data, size_t datalen) {
  size_t i, hdlen = 1;
  uint8_t *p;

  for (i = 0; i < n; ++i) {
    hdlen += rudp_varint_len(v[i]);
  }
  if (datalen > outlen || hdlen > outlen - datalen) {
    return RUDP_ERR_NOBUF;
  }
  p = rudp_put_uint8(out, type);
  for (i = 0; i < n; ++i) {
    p = rudp_put_varint(p, v[i]);
  }
  p = rudp_put_bytes(p, data, datalen);
  return p - out;
}

static rudp_ssize encode_padding(uint8_t *out, size_t outlen,
                                 const rudp_frame_padding *fr) {
  if (fr->len == 0) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (fr->len > outlen) {
    return RUDP_ERR_NOBUF;
  }
  memset(out, 0, fr->len);
  return (rudp_ssize)fr->len;
}

static rudp_ssize encode_ack(uint8_t *out, size_t outlen,
                             const rudp_frame_ack *fr) {
  const rudp_range *r = fr->ranges;
  size_t i, len, pairlen, npairs;
  uint8_t *p;

  if (r == NULL || fr->nranges == 0 || fr->ack_delay > RUDP_MAX_VARINT) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  for (i = 0; i < fr->nranges; ++i) {
    if (r[i].lo > r[i].hi || r[i].hi > RUDP_MAX_VARINT) {
      return RUDP_ERR_INVALID_ARGUMENT;
    }
    /* Newest first, with at least one missing number between neighbours:
     * a gap field encodes (missing count - 1), so two adjacent ranges cannot
     * be expressed (RFC 9000 section 19.3.1).  hi <= 2^62 - 1, so hi + 2
     * cannot wrap. */
    if (i > 0 && r[i].hi + 2 > r[i - 1].lo) {
      return RUDP_ERR_INVALID_ARGUMENT;
    }
  }

  /* Everything but the range count, whose own length depends on how many
   * pairs fit: count them first, then write. */
  len = 1 + rudp_varint_len(r[0].hi) + rudp_varint_len(fr->ack_delay) +
        rudp_varint_len(r[0].hi - r[0].lo);
  if (len >= outlen) {
    /* No room for even a 1-byte range count of 0. */
    return RUDP_ERR_NOBUF;
  }
  npairs = 0;
  for (i = 1; i < fr->nranges; ++i) {
    pairlen = rudp_varint_len(r[i - 1].lo - r[i].hi - 2) +
              rudp_varint_len(r[i].hi - r[i].lo);
    /* Older ranges are the ones dropped: the sender of an ACK may leave any
     * range out, and the oldest matter least. */
    if (pairlen + rudp_varint_len(npairs + 1) > outlen - len) {
      break;
    }
    len += pairlen;
    ++npairs;
  }

  p = rudp_put_uint8(out, RUDP_FRAME_ACK);
  p = rudp_put_varint(p, r[0].hi);
  p = rudp_put_varint(p, fr->ack_delay);
  p = rudp_put_varint(p, npairs);
  p = rudp_put_varint(p, r[0].hi - r[0].lo);
  for (i = 1; i <= npairs; ++i) {
    p = rudp_put_varint(p, r[i - 1].lo - r[i].hi - 2);
    p = rudp_put_varint(p, r[i].hi - r[i].lo);
  }
  return p - out;
}

static rudp_ssize encode_crypto(uint8_t *out, size_t outlen,
                                const rudp_frame_crypto *fr) {
  uint64_t v[2];

  if (fr->offset > RUDP_MAX_VARINT ||
      fr->datalen > RUDP_MAX_VARINT - fr->offset) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  v[0] = fr->offset;
  v[1] = fr->datalen;
  return encode_with_data(out, outlen, RUDP_FRAME_CRYPTO, v, 2, fr->data,
                          fr->datalen);
}

static rudp_ssize encode_new_token(uint8_t *out, size_t outlen,
                                   const rudp_frame_new_token *fr) {
  uint64_t v[1];

  if (fr->tokenlen == 0 || fr->tokenlen > RUDP_MAX_VARINT) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  v[0] = fr->tokenlen;
  return encode_with_data(out, outlen, RUDP_FRAME_NEW_TOKEN, v, 1, fr->token,
                          fr->tokenlen);
}

static int stream_check(const rudp_frame_stream *fr) {
  if (fr->stream_id > RUDP_MAX_VARINT || fr->offset > RUDP_MAX_VARINT ||
      fr->datalen > RUDP_MAX_VARINT - fr->offset) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  return 0;
}

size_t rudp_frame_stream_hdlen(uint64_t stream_id, uint64_t offset,
                               size_t datalen, int implicit_len) {
  size_t len = 1 + rudp_varint_len(stream_id);

  if (offset > 0) {
    len += rudp_varint_len(offset);
  }
  if (!implicit_len) {
    len += rudp_varint_len(datalen);
  }
  return len;
}

/* stream_put_hd writes the header of checked |fr| at |out|. */
static uint8_t *stream_put_hd(uint8_t *out, const rudp_frame_stream *fr) {
  uint8_t type = RUDP_FRAME_STREAM;
  uint8_t *p;

  if (fr->offset > 0) {
    type |= RUDP_FRAME_STREAM_OFF_BIT;
  }
  if (!fr->implicit_len) {
    type |= RUDP_FRAME_STREAM_LEN_BIT;
  }
  if (fr->fin) {
    type |= RUDP_FRAME_STREAM_FIN_BIT;
  }
  p = rudp_put_uint8(out, type);
  p = rudp_put_varint(p, fr->stream_id);
  if (fr->offset > 0) {
    p = rudp_put_varint(p, fr->offset);
  }
  if (!fr->implicit_len) {
    p = rudp_put_varint(p, fr->datalen);
  }
  return p;
}

rudp_ssize rudp_frame_encode_stream_hd(uint8_t *out, size_t outlen,
                                       const rudp_frame_stream *fr) {
  size_t hdlen;
  int rv;

  rv = stream_check(fr);
  if (rv != 0) {
    return rv;
  }
  hdlen = rudp_frame_stream_hdlen(fr->stream_id, fr->offset, fr->datalen,
                                  fr->implicit_len);
  if (hdlen > outlen) {
    return RUDP_ERR_NOBUF;
  }
  return stream_put_hd(out, fr) - out;
}

static rudp_ssize encode_stream(uint8_t *out, size_t outlen,
                                const rudp_frame_stream *fr) {
  size_t hdlen;
  uint8_t *p;
  int rv;

  rv = stream_check(fr);
  if (rv != 0) {
    return rv;
  }
  hdlen = rudp_frame_stream_hdlen(fr->stream_id, fr->offset, fr->datalen,
                                  fr->implicit_len);
  if (fr->datalen > outlen || hdlen > outlen - fr->datalen) {
    return RUDP_ERR_NOBUF;
  }
  p = stream_put_hd(out, fr);
  p = rudp_put_bytes(p, fr->data, fr->datalen);
  return p - out;
}

static rudp_ssize
encode_connection_close(uint8_t *out, size_t outlen,
                        const rudp_frame_connection_close *fr) {
  uint64_t v[3];
  size_t n = 0;

  if (fr->error_code > RUDP_MAX_VARINT ||
      fr->reasonlen > RUDP_FRAME_MAX_REASONLEN) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  v[n++] = fr->error_code;
  if (fr->type == RUDP_FRAME_CONNECTION_CLOSE) {
    if (fr->frame_type > RUDP_MAX_VARINT) {
      return RUDP_ERR_INVALID_ARGUMENT;
    }
    v[n++] = fr->frame_type;
  }
  v[n++] = fr->reasonlen;
  return encode_with_data(out, outlen, fr->type, v, n, fr->reason,
                          fr->reasonlen);
}

static rudp_ssize encode_datagram(uint8_t *out, size_t outlen,
                                  const rudp_frame_datagram *fr) {
  uint64_t v[1];

  if (fr->implicit_len) {
    return encode_with_data(out, outlen, RUDP_FRAME_DATAGRAM, NULL, 0, fr->data,
                            fr->datalen);
  }
  if (fr->datalen > RUDP_MAX_VARINT) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  v[0] = fr->datalen;
  return encode_with_data(out, outlen, RUDP_FRAME_DATAGRAM_LEN, v, 1, fr->data,
                          fr->datalen);
}

rudp_ssize rudp_frame_encode(uint8_t *out, size_t outlen,
                             const rudp_frame *fr) {
  uint64_t v[3];

  switch (fr->type) {
  case RUDP_FRAME_PADDING:
    return encode_padding(out, outlen, &fr->padding);
  case RUDP_FRAME_PING:
  case RUDP_FRAME_HANDSHAKE_DONE:
    return encode_varints(out, outlen, fr->type, NULL, 0);
  case RUDP_FRAME_ACK:
    return encode_ack(out, outlen, &fr->ack);
  case RUDP_FRAME_RESET_STREAM:
    v[0] = fr->reset_stream.stream_id;
    v[1] = fr->reset_stream.app_error_code;
    v[2] = fr->reset_stream.final_size;
    return encode_varints(out, outlen, fr->type, v, 3);
  case RUDP_FRAME_STOP_SENDING:
    v[0] = fr->stop_sending.stream_id;
    v[1] = fr->stop_sending.app_error_code;
    return encode_varints(out, outlen, fr->type, v, 2);
  case RUDP_FRAME_CRYPTO:
    return encode_crypto(out, outlen, &fr->crypto);
  case RUDP_FRAME_NEW_TOKEN:
    return encode_new_token(out, outlen, &fr->new_token);
  case 0x08:
  case 0x09:
  case 0x0a:
  case 0x0b:
  case 0x0c:
  case 0x0d:
  case 0x0e:
  case 0x0f:
    return encode_stream(out, outlen, &fr->stream);
  case RUDP_FRAME_MAX_STREAMS_BIDI:
  case RUDP_FRAME_MAX_STREAMS_UNI:
  case RUDP_FRAME_STREAMS_BLOCKED_BIDI:
  case RUDP_FRAME_STREAMS_BLOCKED_UNI:
    if (fr->value.value > RUDP_MAX_STREAMS) {
      return RUDP_ERR_INVALID_ARGUMENT;
    }
    v[0] = fr->value.value;
    return encode_varints(out, outlen, fr->type, v, 1);
  case RUDP_FRAME_MAX_DATA:
  case RUDP_FRAME_DATA_BLOCKED:
    v[0] = fr->value.value;
    return encode_varints(out, outlen, fr->type, v, 1);
  case RUDP_FRAME_MAX_STREAM_DATA:
  case RUDP_FRAME_STREAM_DATA_BLOCKED:
    v[0] = fr->stream_value.stream_id;
    v[1] = fr->stream_value.value;
    return encode_varints(out, outlen, fr->type, v, 2);
  case RUDP_FRAME_CONNECTION_CLOSE:
  case RUDP_FRAME_CONNECTION_CLOSE_APP:
    return encode_connection_close(out, outlen, &fr->connection_close);
  case RUDP_FRAME_DATAGRAM:
  case RUDP_FRAME_DATAGRAM_LEN:
    return encode_datagram(out, outlen, &fr->datagram);
  default:
    return RUDP_ERR_INVALID_ARGUMENT;
  }
}

/* ------------------------------------------------------------ properties */

int rudp_frame_is_ack_eliciting(uint64_t type) {
  /* RFC 9002 section 2: all frames but ACK, PADDING and CONNECTION_CLOSE. */
  switch (type) {
  case RUDP_FRAME_PADDING:
  case RUDP_FRAME_ACK:
  case RUDP_FRAME_CONNECTION_CLOSE:
  case RUDP_FRAME_CONNECTION_CLOSE_APP:
    return 0;
  default:
    return 1;
  }
}

const char *rudp_frame_type_name(uint64_t type) {
  /* qlog's QUIC event definitions (draft-ietf-quic-qlog-quic-events,
   * "FrameType"); RFC 9221 names DATAGRAM. */
  switch (type) {
  case RUDP_FRAME_PADDING:
    return "padding";
  case RUDP_FRAME_PING:
    return "ping";
  case RUDP_FRAME_ACK:
    return "ack";
  case RUDP_FRAME_RESET_STREAM:
    return "reset_stream";
  case RUDP_FRAME_STOP_SENDING:
    return "stop_sending";
  case RUDP_FRAME_CRYPTO:
    return "crypto";
  case RUDP_FRAME_NEW_TOKEN:
    return "new_token";
  case 0x08:
  case 0x09:
  case 0x0a:
  case 0x0b:
  case 0x0c:
  case 0x0d:
  case 0x0e:
  case 0x0f:
    return "stream";
  case RUDP_FRAME_MAX_DATA:
    return "max_data";
  case RUDP_FRAME_MAX_STREAM_DATA:
    return "max_stream_data";
  case RUDP_FRAME_MAX_STREAMS_BIDI:
  case RUDP_FRAME_MAX_STREAMS_UNI:
    return "max_streams";
  case RUDP_FRAME_DATA_BLOCKED:
    return "data_blocked";
  case RUDP_FRAME_STREAM_DATA_BLOCKED:
    return "stream_data_blocked";
  case RUDP_FRAME_STREAMS_BLOCKED_BIDI:
  case RUDP_FRAME_STREAMS_BLOCKED_UNI:
    return "streams_blocked";
  case RUDP_FRAME_CONNECTION_CLOSE:
  case RUDP_FRAME_CONNECTION_CLOSE_APP:
    return "connection_close";
  case RUDP_FRAME_HANDSHAKE_DONE:
    return "handshake_done";
  case RUDP_FRAME_DATAGRAM:
  case RUDP_FRAME_DATAGRAM_LEN:
    return "datagram";
  default:
    return "unknown";
  }
}
