/*
 * Transport parameter codec: a flat list of (id, length, value) triples
 * (RFC 9000 section 18).  Both directions are pure functions over caller
 * buffers; nothing here allocates.
 */
#include "rudp_macro.h"

#include "rudp_tp.h"

#include <assert.h>
#include <string.h>

#include "rudp_conv.h"

/* The stream-count limit of RFC 9000 section 4.6: a count above 2^60 could
 * not be expressed as a stream ID. */
#define TP_MAX_STREAMS (1ULL << 60)

/*
 * TP_KNOWN_MASK has bit |id| set for every parameter this codec knows.  All
 * known ids are below 64, so one uint64_t both identifies them and records
 * which have been seen (for the duplicate check).
 */
#define TP_BIT(ID) (1ULL << (ID))
#define TP_KNOWN_MASK                                                          \
  (TP_BIT(RUDP_TP_ORIGINAL_DCID) | TP_BIT(RUDP_TP_MAX_IDLE_TIMEOUT) |          \
   TP_BIT(RUDP_TP_STATELESS_RESET_TOKEN) |                                     \
   TP_BIT(RUDP_TP_MAX_UDP_PAYLOAD_SIZE) | TP_BIT(RUDP_TP_INITIAL_MAX_DATA) |   \
   TP_BIT(RUDP_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL) |                        \
   TP_BIT(RUDP_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE) |                       \
   TP_BIT(RUDP_TP_INITIAL_MAX_STREAM_DATA_UNI) |                               \
   TP_BIT(RUDP_TP_INITIAL_MAX_STREAMS_BIDI) |                                  \
   TP_BIT(RUDP_TP_INITIAL_MAX_STREAMS_UNI) |                                   \
   TP_BIT(RUDP_TP_ACK_DELAY_EXPONENT) | TP_BIT(RUDP_TP_MAX_ACK_DELAY) |        \
   TP_BIT(RUDP_TP_INITIAL_SCID) | TP_BIT(RUDP_TP_RETRY_SCID) |                 \
   TP_BIT(RUDP_TP_MAX_DATAGRAM_FRAME_SIZE))

/* The largest max_idle_timeout, in milliseconds, whose nanosecond value
 * still fits a rudp_duration. */
#define TP_MAX_IDLE_TIMEOUT_MS (UINT64_MAX / RUDP_MILLISECONDS)

void rudp_transport_params_default(rudp_transport_params *params) {
  assert(params);

  /* Zeroing covers every field whose default is 0 and clears each
   * `present` flag (and the CID and token bytes with them). */
  memset(params, 0, sizeof(*params));
  params->max_udp_payload_size = RUDP_MAX_UDP_PAYLOAD;
  params->ack_delay_exponent = RUDP_TP_DEFAULT_ACK_DELAY_EXPONENT;
  params->max_ack_delay = RUDP_TP_DEFAULT_MAX_ACK_DELAY;
}

/*
 * tp_writer runs the encoder twice: once with |p| NULL to count the bytes
 * (so a short buffer is refused before anything is written), then with |p|
 * set to write them.
 */
typedef struct tp_writer {
  /* p is the write cursor, or NULL while only counting. */
  uint8_t *p;
  /* n is the number of bytes emitted so far. */
  size_t n;
} tp_writer;

static void tp_put_varint_param(tp_writer *w, uint64_t id, uint64_t v) {
  size_t vlen = rudp_varint_len(v);

  w->n += rudp_varint_len(id) + rudp_varint_len(vlen) + vlen;
  if (w->p) {
    w->p = rudp_put_varint(w->p, id);
    w->p = rudp_put_varint(w->p, vlen);
    w->p = rudp_put_varint(w->p, v);
  }
}

static void tp_put_bytes_param(tp_writer *w, uint64_t id, const uint8_t *data,
                               size_t len) {
  w->n += rudp_varint_len(id) + rudp_varint_len(len) + len;
  if (w->p) {
    w->p = rudp_put_varint(w->p, id);
    w->p = rudp_put_varint(w->p, len);
    w->p = rudp_put_bytes(w->p, data, len);
  }
}

/*
 * tp_emit emits every parameter that differs from its default, in id order.
 * |params| has already passed tp_validate.  The durations are compared in
 * milliseconds, the unit on the wire: 25.5 ms of max_ack_delay encodes as
 * 25, the default, so it is left out like 25 ms would be.
 */
static void tp_emit(tp_writer *w, const rudp_transport_params *params) {
  uint64_t idle_ms = params->max_idle_timeout / RUDP_MILLISECONDS;
  uint64_t ack_delay_ms = params->max_ack_delay / RUDP_MILLISECONDS;

  if (params->original_dcid_present) {
    tp_put_bytes_param(w, RUDP_TP_ORIGINAL_DCID, params->original_dcid,
                       params->original_dcidlen);
  }
  if (idle_ms) {
    tp_put_varint_param(w, RUDP_TP_MAX_IDLE_TIMEOUT, idle_ms);
  }
  if (params->stateless_reset_token_present) {
    tp_put_bytes_param(w, RUDP_TP_STATELESS_RESET_TOKEN,
                       params->stateless_reset_token,
                       RUDP_STATELESS_RESET_TOKENLEN);
  }
  if (params->max_udp_payload_size != RUDP_MAX_UDP_PAYLOAD) {
    tp_put_varint_param(w, RUDP_TP_MAX_UDP_PAYLOAD_SIZE,
                        params->max_udp_payload_size);
  }
  if (params->initial_max_data) {
    tp_put_varint_param(w, RUDP_TP_INITIAL_MAX_DATA, params->initial_max_data);
  }
  if (params->initial_max_stream_data_bidi_local) {
    tp_put_varint_param(w, RUDP_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL,
                        params->initial_max_stream_data_bidi_local);
  }
  if (params->initial_max_stream_data_bidi_remote) {
    tp_put_varint_param(w, RUDP_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE,
                        params->initial_max_stream_data_bidi_remote);
  }
  if (params->initial_max_stream_data_uni) {
    tp_put_varint_param(w, RUDP_TP_INITIAL_MAX_STREAM_DATA_UNI,
                        params->initial_max_stream_data_uni);
  }
  if (params->initial_max_streams_bidi) {
    tp_put_varint_param(w, RUDP_TP_INITIAL_MAX_STREAMS_BIDI,
                        params->initial_max_streams_bidi);
  }
  if (params->initial_max_streams_uni) {
    tp_put_varint_param(w, RUDP_TP_INITIAL_MAX_STREAMS_UNI,
                        params->initial_max_streams_uni);
  }
  if (params->ack_delay_exponent != RUDP_TP_DEFAULT_ACK_DELAY_EXPONENT) {
    tp_put_varint_param(w, RUDP_TP_ACK_DELAY_EXPONENT,
                        params->ack_delay_exponent);
  }
  if (ack_delay_ms != RUDP_TP_DEFAULT_MAX_ACK_DELAY / RUDP_MILLISECONDS) {
    tp_put_varint_param(w, RUDP_TP_MAX_ACK_DELAY, ack_delay_ms);
  }
  if (params->initial_scid_present) {
    tp_put_bytes_param(w, RUDP_TP_INITIAL_SCID, params->initial_scid,
                       params->initial_scidlen);
  }
  if (params->retry_scid_present) {
    tp_put_bytes_param(w, RUDP_TP_RETRY_SCID, params->retry_scid,
                       params->retry_scidlen);
  }
  if (params->max_datagram_frame_size) {
    tp_put_varint_param(w, RUDP_TP_MAX_DATAGRAM_FRAME_SIZE,
                        params->max_datagram_frame_size);
  }
}

/*
 * tp_validate applies the same range rules the decoder enforces, so that
 * whatever rudp_tp_encode produces the peer's rudp_tp_decode accepts.
 */
static int tp_validate(const rudp_transport_params *params, int is_server) {
  if (params->max_udp_payload_size < RUDP_MIN_UDP_PAYLOAD ||
      params->max_udp_payload_size > RUDP_MAX_UDP_PAYLOAD ||
      params->initial_max_data > RUDP_MAX_VARINT ||
      params->initial_max_stream_data_bidi_local > RUDP_MAX_VARINT ||
      params->initial_max_stream_data_bidi_remote > RUDP_MAX_VARINT ||
      params->initial_max_stream_data_uni > RUDP_MAX_VARINT ||
      params->initial_max_streams_bidi > TP_MAX_STREAMS ||
      params->initial_max_streams_uni > TP_MAX_STREAMS ||
      params->ack_delay_exponent > RUDP_TP_MAX_ACK_DELAY_EXPONENT ||
      params->max_ack_delay / RUDP_MILLISECONDS >
          RUDP_TP_MAX_MAX_ACK_DELAY_MS ||
      params->max_datagram_frame_size > RUDP_MAX_VARINT) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }

  if ((params->original_dcid_present &&
       params->original_dcidlen > RUDP_MAX_CIDLEN) ||
      (params->initial_scid_present &&
       params->initial_scidlen > RUDP_MAX_CIDLEN) ||
      (params->retry_scid_present && params->retry_scidlen > RUDP_MAX_CIDLEN)) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }

  /* RFC 9000 section 18.2: a client MUST NOT send server-only parameters. */
  if (!is_server &&
      (params->original_dcid_present || params->stateless_reset_token_present ||
       params->retry_scid_present)) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }

  return 0;
}

rudp_ssize rudp_tp_encode(uint8_t *out, size_t outlen,
                          const rudp_transport_params *params, int is_server) {
  tp_writer w;
  size_t need;
  int rv;

  assert(params);

  rv = tp_validate(params, is_server);
  if (rv != 0) {
    return rv;
  }

  w.p = NULL;
  w.n = 0;
  tp_emit(&w, params);
  need = w.n;
  assert(need <= RUDP_TP_MAXLEN);

  if (outlen < need) {
    return RUDP_ERR_NOBUF;
  }
  if (need == 0) {
    /* Everything is at its default: nothing to write (and |out| may be
     * NULL). */
    return 0;
  }

  w.p = out;
  w.n = 0;
  tp_emit(&w, params);
  assert(w.n == need);
  assert((size_t)(w.p - out) == need);

  return (rudp_ssize)need;
}

/*
 * tp_decode_varint_value decodes an integer parameter's value of |len| bytes
 * at |v|.  The value must be exactly one varint: its length field has to
 * match the length the varint's first byte announces.
 */
static int tp_decode_varint_value(uint64_t *dest, const uint8_t *v,
                                  uint64_t len) {
  if (len == 0 || len != rudp_varint_len_from_first(v[0])) {
    return RUDP_ERR_TRANSPORT_PARAM;
  }
  rudp_get_varint(dest, v);
  return 0;
}

/* tp_decode_cid copies a connection-ID value of |len| bytes at |v|. */
static int tp_decode_cid(uint8_t *cid, uint8_t *pcidlen, uint8_t *ppresent,
                         const uint8_t *v, uint64_t len) {
  if (len > RUDP_MAX_CIDLEN) {
    return RUDP_ERR_TRANSPORT_PARAM;
  }
  rudp_put_bytes(cid, v, (size_t)len);
  *pcidlen = (uint8_t)len;
  *ppresent = 1;
  return 0;
}

/*
 * tp_decode_one stores the parameter |id| (a known one) whose value is the
 * |len| bytes at |v|, after checking its length and range.
 */
static int tp_decode_one(rudp_transport_params *params, uint64_t id,
                         const uint8_t *v, uint64_t len) {
  uint64_t n;
  int rv;

  switch (id) {
  case RUDP_TP_ORIGINAL_DCID:
    return tp_decode_cid(params->original_dcid, &params->original_dcidlen,
                         &params->original_dcid_present, v, len);
  case RUDP_TP_INITIAL_SCID:
    return tp_decode_cid(params->initial_scid, &params->initial_scidlen,
                         &params->initial_scid_present, v, len);
  case RUDP_TP_RETRY_SCID:
    return tp_decode_cid(params->retry_scid, &params->retry_scidlen,
                         &params->retry_scid_present, v, len);
  case RUDP_TP_STATELESS_RESET_TOKEN:
    if (len != RUDP_STATELESS_RESET_TOKENLEN) {
      return RUDP_ERR_TRANSPORT_PARAM;
    }
    memcpy(params->stateless_reset_token, v, RUDP_STATELESS_RESET_TOKENLEN);
    params->stateless_reset_token_present = 1;
    return 0;
  default:
    break;
  }

  /* Every other known parameter is an integer. */
  rv = tp_decode_varint_value(&n, v, len);
  if (rv != 0) {
    return rv;
  }

  switch (id) {
  case RUDP_TP_MAX_IDLE_TIMEOUT:
    /* Refuse a value whose nanoseconds would wrap, rather than silently
     * shortening the timeout. */
    if (n > TP_MAX_IDLE_TIMEOUT_MS) {
      return RUDP_ERR_TRANSPORT_PARAM;
    }
    params->max_idle_timeout = n * RUDP_MILLISECONDS;
    return 0;
  case RUDP_TP_MAX_UDP_PAYLOAD_SIZE:
    /* RFC 9000 section 18.2: below 1200 is invalid.  RUDP also refuses
     * values above the largest UDP payload. */
    if (n < RUDP_MIN_UDP_PAYLOAD || n > RUDP_MAX_UDP_PAYLOAD) {
      return RUDP_ERR_TRANSPORT_PARAM;
    }
    params->max_udp_payload_size = n;
    return 0;
  case RUDP_TP_INITIAL_MAX_DATA:
    params->initial_max_data = n;
    return 0;
  case RUDP_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL:
    params->initial_max_stream_data_bidi_local = n;
    return 0;
  case RUDP_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE:
    params->initial_max_stream_data_bidi_remote = n;
    return 0;
  case RUDP_TP_INITIAL_MAX_STREAM_DATA_UNI:
    params->initial_max_stream_data_uni = n;
    return 0;
  case RUDP_TP_INITIAL_MAX_STREAMS_BIDI:
    /* RFC 9000 section 18.2: above 2^60 is a TRANSPORT_PARAMETER_ERROR. */
    if (n > TP_MAX_STREAMS) {
      return RUDP_ERR_TRANSPORT_PARAM;
    }
    params->initial_max_streams_bidi = n;
    return 0;
  case RUDP_TP_INITIAL_MAX_STREAMS_UNI:
    if (n > TP_MAX_STREAMS) {
      return RUDP_ERR_TRANSPORT_PARAM;
    }
    params->initial_max_streams_uni = n;
    return 0;
  case RUDP_TP_ACK_DELAY_EXPONENT:
    /* RFC 9000 section 18.2: values above 20 are invalid. */
    if (n > RUDP_TP_MAX_ACK_DELAY_EXPONENT) {
      return RUDP_ERR_TRANSPORT_PARAM;
    }
    params->ack_delay_exponent = n;
    return 0;
  case RUDP_TP_MAX_ACK_DELAY:
    /* RFC 9000 section 18.2: 2^14 ms or more is invalid. */
    if (n > RUDP_TP_MAX_MAX_ACK_DELAY_MS) {
      return RUDP_ERR_TRANSPORT_PARAM;
    }
    params->max_ack_delay = n * RUDP_MILLISECONDS;
    return 0;
  case RUDP_TP_MAX_DATAGRAM_FRAME_SIZE:
    params->max_datagram_frame_size = n;
    return 0;
  default:
    /* tp_decode_one is only called for ids in TP_KNOWN_MASK. */
    assert(0);
    return RUDP_ERR_TRANSPORT_PARAM;
  }
}

int rudp_tp_decode(rudp_transport_params *params, const uint8_t *p, size_t len,
                   int from_server) {
  const uint8_t *end;
  const uint8_t *v;
  uint64_t id, vlen, bit;
  uint64_t seen = 0;
  int rv;

  assert(params);

  rudp_transport_params_default(params);

  /* An empty list is valid: every parameter takes its default.  Return
   * before forming |p| + 0, which is undefined when |p| is NULL. */
  if (len == 0) {
    return 0;
  }
  assert(p);

  end = p + len;
  while (p != end) {
    /* Any truncation inside a parameter (id, length or value) makes the
     * whole list invalid. */
    if (rudp_get_varint_checked(&id, &p, end) != 0 ||
        rudp_get_varint_checked(&vlen, &p, end) != 0 ||
        vlen > (uint64_t)(end - p)) {
      return RUDP_ERR_TRANSPORT_PARAM;
    }
    v = p;
    p += vlen;

    /* RFC 9000 section 7.4.2: unknown parameters MUST be ignored; that
     * includes the reserved 31 * N + 27 ids used for greasing (section
     * 18.1), and repeats of them. */
    if (id >= 64 || !(TP_KNOWN_MASK & TP_BIT(id))) {
      continue;
    }
    bit = TP_BIT(id);

    /* RFC 9000 section 18.2: a server MUST treat a server-only parameter
     * from a client as a TRANSPORT_PARAMETER_ERROR. */
    if (!from_server &&
        (id == RUDP_TP_ORIGINAL_DCID || id == RUDP_TP_STATELESS_RESET_TOKEN ||
         id == RUDP_TP_RETRY_SCID)) {
      return RUDP_ERR_TRANSPORT_PARAM;
    }

    /* RFC 9000 section 7.4: receipt of a duplicate parameter is an error. */
    if (seen & bit) {
      return RUDP_ERR_TRANSPORT_PARAM;
    }
    seen |= bit;

    rv = tp_decode_one(params, id, v, vlen);
    if (rv != 0) {
      return rv;
    }
  }

  return 0;
}
