/*
 * Fuzz target: frame decoding (lib/rudp_frame.c).
 *
 * Input: a packet payload.  Every frame is decoded in turn, as the
 * receive path does, until the end or the first error.  For each frame
 * the target checks that the decoder stayed inside the input, walks ACK
 * ranges with the iterator, and encodes the frame again: decoding the
 * encoding must give the same frame, the encoding can only be shorter
 * (librudp writes minimal varints), and when it is as long it must be the
 * same bytes.
 */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include "rudp_frame.h"

static int in_range(const uint8_t *p, size_t n, const uint8_t *lo,
                    const uint8_t *hi) {
  return n == 0 || (p >= lo && p <= hi && n <= (size_t)(hi - p));
}

static int same_bytes(const uint8_t *a, size_t alen, const uint8_t *b,
                      size_t blen) {
  return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/*
 * ack_ranges walks a decoded ACK's ranges into a new array (the encoder's
 * input), checking they are newest first, disjoint and non-adjacent, and
 * that there are range_count + 1 of them.  The caller frees it.
 */
static rudp_range *ack_ranges(const rudp_frame_ack *fr, size_t *pn) {
  rudp_frame_ack_iter it;
  rudp_range r, *ranges;
  size_t n = 0;

  /* The decoder bounded range_count by the input length. */
  ranges = malloc(((size_t)fr->range_count + 1) * sizeof(*ranges));
  FUZZ_CHECK(ranges != NULL);
  rudp_frame_ack_iter_init(&it, fr);
  while (rudp_frame_ack_iter_next(&it, &r)) {
    FUZZ_CHECK(n <= fr->range_count);
    FUZZ_CHECK(r.lo <= r.hi);
    if (n == 0) {
      FUZZ_CHECK(r.hi == fr->largest_ack);
      FUZZ_CHECK(r.hi - r.lo == fr->first_range);
    } else {
      FUZZ_CHECK(r.hi + 2 <= ranges[n - 1].lo);
    }
    ranges[n++] = r;
  }
  FUZZ_CHECK(n == fr->range_count + 1);
  *pn = n;
  return ranges;
}

static void check_same(const rudp_frame *a, const rudp_frame *b) {
  if (a->type >= RUDP_FRAME_STREAM && a->type <= 0x0f &&
      a->stream.offset == 0) {
    /* An OFF bit with offset 0 is valid on the wire; the encoder leaves
     * it out. */
    FUZZ_CHECK((a->type & ~RUDP_FRAME_STREAM_OFF_BIT) ==
               (b->type & ~RUDP_FRAME_STREAM_OFF_BIT));
  } else {
    FUZZ_CHECK(a->type == b->type);
  }
  switch (a->type) {
  case RUDP_FRAME_PADDING:
    FUZZ_CHECK(a->padding.len == b->padding.len);
    break;
  case RUDP_FRAME_PING:
  case RUDP_FRAME_HANDSHAKE_DONE:
    break;
  case RUDP_FRAME_ACK:
    FUZZ_CHECK(a->ack.largest_ack == b->ack.largest_ack);
    FUZZ_CHECK(a->ack.ack_delay == b->ack.ack_delay);
    FUZZ_CHECK(a->ack.first_range == b->ack.first_range);
    FUZZ_CHECK(a->ack.range_count == b->ack.range_count);
    break;
  case RUDP_FRAME_RESET_STREAM:
    FUZZ_CHECK(a->reset_stream.stream_id == b->reset_stream.stream_id);
    FUZZ_CHECK(a->reset_stream.app_error_code ==
               b->reset_stream.app_error_code);
    FUZZ_CHECK(a->reset_stream.final_size == b->reset_stream.final_size);
    break;
  case RUDP_FRAME_STOP_SENDING:
    FUZZ_CHECK(a->stop_sending.stream_id == b->stop_sending.stream_id);
    FUZZ_CHECK(a->stop_sending.app_error_code ==
               b->stop_sending.app_error_code);
    break;
  case RUDP_FRAME_CRYPTO:
    FUZZ_CHECK(a->crypto.offset == b->crypto.offset);
    FUZZ_CHECK(same_bytes(a->crypto.data, a->crypto.datalen, b->crypto.data,
                          b->crypto.datalen));
    break;
  case RUDP_FRAME_NEW_TOKEN:
    FUZZ_CHECK(same_bytes(a->new_token.token, a->new_token.tokenlen,
                          b->new_token.token, b->new_token.tokenlen));
    break;
  case RUDP_FRAME_MAX_DATA:
  case RUDP_FRAME_DATA_BLOCKED:
  case RUDP_FRAME_MAX_STREAMS_BIDI:
  case RUDP_FRAME_MAX_STREAMS_UNI:
  case RUDP_FRAME_STREAMS_BLOCKED_BIDI:
  case RUDP_FRAME_STREAMS_BLOCKED_UNI:
    FUZZ_CHECK(a->value.value == b->value.value);
    break;
  case RUDP_FRAME_MAX_STREAM_DATA:
  case RUDP_FRAME_STREAM_DATA_BLOCKED:
    FUZZ_CHECK(a->stream_value.stream_id == b->stream_value.stream_id);
    FUZZ_CHECK(a->stream_value.value == b->stream_value.value);
    break;
  case RUDP_FRAME_CONNECTION_CLOSE:
  case RUDP_FRAME_CONNECTION_CLOSE_APP:
    FUZZ_CHECK(a->connection_close.error_code ==
               b->connection_close.error_code);
    FUZZ_CHECK(a->connection_close.frame_type ==
               b->connection_close.frame_type);
    FUZZ_CHECK(
        same_bytes(a->connection_close.reason, a->connection_close.reasonlen,
                   b->connection_close.reason, b->connection_close.reasonlen));
    break;
  case RUDP_FRAME_DATAGRAM:
  case RUDP_FRAME_DATAGRAM_LEN:
    FUZZ_CHECK(a->datagram.implicit_len == b->datagram.implicit_len);
    FUZZ_CHECK(same_bytes(a->datagram.data, a->datagram.datalen,
                          b->datagram.data, b->datagram.datalen));
    break;
  default:
    FUZZ_CHECK(a->type >= RUDP_FRAME_STREAM && a->type <= 0x0f);
    FUZZ_CHECK(a->stream.stream_id == b->stream.stream_id);
    FUZZ_CHECK(a->stream.offset == b->stream.offset);
    FUZZ_CHECK(a->stream.fin == b->stream.fin);
    FUZZ_CHECK(a->stream.implicit_len == b->stream.implicit_len);
    FUZZ_CHECK(same_bytes(a->stream.data, a->stream.datalen, b->stream.data,
                          b->stream.datalen));
    break;
  }
}

/* check_frame checks frame |fr|, decoded from the |n| bytes at |p|, which
 * were followed by |left| - |n| more bytes of payload. */
static void check_frame(const rudp_frame *fr, const uint8_t *p, size_t n,
                        size_t left) {
  rudp_frame fr2, enc = *fr;
  rudp_range *ranges = NULL;
  rudp_ssize m, m2;
  size_t nranges = 0;
  int implicit = 0;
  uint8_t *out;

  FUZZ_CHECK(strcmp(rudp_frame_type_name(fr->type), "unknown") != 0);
  switch (fr->type) {
  case RUDP_FRAME_PADDING:
    FUZZ_CHECK(fr->padding.len == n);
    break;
  case RUDP_FRAME_ACK:
    FUZZ_CHECK(in_range(fr->ack.rangebuf, fr->ack.rangebuflen, p, p + n));
    ranges = ack_ranges(&fr->ack, &nranges);
    enc.ack.ranges = ranges;
    enc.ack.nranges = nranges;
    break;
  case RUDP_FRAME_CRYPTO:
    FUZZ_CHECK(in_range(fr->crypto.data, fr->crypto.datalen, p, p + n));
    break;
  case RUDP_FRAME_NEW_TOKEN:
    FUZZ_CHECK(fr->new_token.tokenlen > 0);
    FUZZ_CHECK(in_range(fr->new_token.token, fr->new_token.tokenlen, p, p + n));
    break;
  case RUDP_FRAME_CONNECTION_CLOSE:
  case RUDP_FRAME_CONNECTION_CLOSE_APP:
    FUZZ_CHECK(fr->connection_close.reasonlen <= RUDP_FRAME_MAX_REASONLEN);
    FUZZ_CHECK(in_range(fr->connection_close.reason,
                        fr->connection_close.reasonlen, p, p + n));
    break;
  case RUDP_FRAME_DATAGRAM:
  case RUDP_FRAME_DATAGRAM_LEN:
    FUZZ_CHECK(in_range(fr->datagram.data, fr->datagram.datalen, p, p + n));
    implicit = fr->datagram.implicit_len;
    break;
  case RUDP_FRAME_MAX_STREAMS_BIDI:
  case RUDP_FRAME_MAX_STREAMS_UNI:
  case RUDP_FRAME_STREAMS_BLOCKED_BIDI:
  case RUDP_FRAME_STREAMS_BLOCKED_UNI:
    FUZZ_CHECK(fr->value.value <= RUDP_MAX_STREAMS);
    break;
  default:
    if (fr->type >= RUDP_FRAME_STREAM && fr->type <= 0x0f) {
      FUZZ_CHECK(in_range(fr->stream.data, fr->stream.datalen, p, p + n));
      FUZZ_CHECK(fr->stream.offset + fr->stream.datalen <= RUDP_MAX_VARINT);
      implicit = fr->stream.implicit_len;
      /* The header is at least as long as its minimal form. */
      FUZZ_CHECK(rudp_frame_stream_hdlen(fr->stream.stream_id,
                                         fr->stream.offset, fr->stream.datalen,
                                         implicit) <= n - fr->stream.datalen);
    }
    break;
  }
  /* A frame without a length runs to the end of the payload. */
  FUZZ_CHECK(!implicit || n == left);
  FUZZ_CHECK(rudp_frame_is_ack_eliciting(fr->type) ==
             !(fr->type == RUDP_FRAME_PADDING || fr->type == RUDP_FRAME_ACK ||
               fr->type == RUDP_FRAME_CONNECTION_CLOSE ||
               fr->type == RUDP_FRAME_CONNECTION_CLOSE_APP));

  /* Round trip.  An encoding is never longer than the input it came
   * from, plus nothing: allocate exactly that. */
  out = malloc(n);
  FUZZ_CHECK(out != NULL);
  m = rudp_frame_encode(out, n, &enc);
  FUZZ_CHECK(m > 0 && (size_t)m <= n);
  if ((size_t)m == n) {
    FUZZ_CHECK(memcmp(out, p, n) == 0);
  }
  if (fr->type != RUDP_FRAME_PADDING) {
    m2 = rudp_frame_decode(&fr2, out, (size_t)m);
    FUZZ_CHECK(m2 == m);
    check_same(fr, &fr2);
  }
  if (fr->type == RUDP_FRAME_ACK) {
    /* With one byte less, an ACK drops old ranges, or fails for want of
     * room for the first one. */
    m2 = rudp_frame_encode(out, (size_t)m - 1, &enc);
    FUZZ_CHECK(m2 == RUDP_ERR_NOBUF || (m2 > 0 && m2 < m));
    /* Older ranges go first: the newest always fits where a pair did. */
    FUZZ_CHECK(nranges == 1 || m2 > 0);
  }
  free(out);
  free(ranges);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *p = data;
  size_t left = size;

  while (left > 0) {
    rudp_frame fr;
    rudp_ssize n;

    memset(&fr, 0xa5, sizeof(fr));
    n = rudp_frame_decode(&fr, p, left);
    if (n < 0) {
      FUZZ_CHECK(n == RUDP_ERR_TRUNCATED || n == RUDP_ERR_FRAME_ENCODING);
      break;
    }
    FUZZ_CHECK(n > 0 && (size_t)n <= left);
    check_frame(&fr, p, (size_t)n, left);
    p += n;
    left -= (size_t)n;
  }
  return 0;
}
