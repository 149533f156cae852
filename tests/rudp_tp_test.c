/*
 * Tests for the transport parameter codec (lib/rudp_tp.c).
 *
 * Expected encodings are built here by hand (tbuf_* below) rather than with
 * rudp_tp_encode, so the decoder is checked against bytes it did not produce.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rudp_conv.h"
#include "rudp_macro.h"
#include "rudp_tp.h"
#include "rudp_test_helper.h"

#define MAX_STREAMS (1ULL << 60)
/* The largest max_idle_timeout in ms whose nanoseconds fit a uint64_t. */
#define MAX_IDLE_MS (UINT64_MAX / RUDP_MILLISECONDS)

/* The ids this codec knows, in the order the encoder writes them. */
static const uint64_t known_ids[] = {
    RUDP_TP_ORIGINAL_DCID,
    RUDP_TP_MAX_IDLE_TIMEOUT,
    RUDP_TP_STATELESS_RESET_TOKEN,
    RUDP_TP_MAX_UDP_PAYLOAD_SIZE,
    RUDP_TP_INITIAL_MAX_DATA,
    RUDP_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL,
    RUDP_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE,
    RUDP_TP_INITIAL_MAX_STREAM_DATA_UNI,
    RUDP_TP_INITIAL_MAX_STREAMS_BIDI,
    RUDP_TP_INITIAL_MAX_STREAMS_UNI,
    RUDP_TP_ACK_DELAY_EXPONENT,
    RUDP_TP_MAX_ACK_DELAY,
    RUDP_TP_INITIAL_SCID,
    RUDP_TP_RETRY_SCID,
    RUDP_TP_MAX_DATAGRAM_FRAME_SIZE,
};

static int is_server_only(uint64_t id) {
  return id == RUDP_TP_ORIGINAL_DCID || id == RUDP_TP_STATELESS_RESET_TOKEN ||
         id == RUDP_TP_RETRY_SCID;
}

/* ------------------------------------------------------------ builders */

/* tbuf accumulates hand-built parameter bytes. */
typedef struct tbuf {
  uint8_t b[2048];
  size_t n;
} tbuf;

static void tbuf_varint(tbuf *t, uint64_t v) {
  assert_true(t->n + 8 <= sizeof(t->b));
  t->n = (size_t)(rudp_put_varint(t->b + t->n, v) - t->b);
}

static void tbuf_bytes(tbuf *t, const void *data, size_t len) {
  assert_true(t->n + len <= sizeof(t->b));
  t->n = (size_t)(rudp_put_bytes(t->b + t->n, data, len) - t->b);
}

/* tbuf_int appends an integer parameter in the canonical form. */
static void tbuf_int(tbuf *t, uint64_t id, uint64_t v) {
  tbuf_varint(t, id);
  tbuf_varint(t, rudp_varint_len(v));
  tbuf_varint(t, v);
}

/* tbuf_raw appends a parameter whose value is |len| raw bytes. */
static void tbuf_raw(tbuf *t, uint64_t id, const void *data, size_t len) {
  tbuf_varint(t, id);
  tbuf_varint(t, len);
  tbuf_bytes(t, data, len);
}

/* tbuf_valid appends a valid, non-default instance of the known |id|. */
static void tbuf_valid(tbuf *t, uint64_t id) {
  static const uint8_t data[16] = {1, 2,  3,  4,  5,  6,  7,  8,
                                   9, 10, 11, 12, 13, 14, 15, 16};
  switch (id) {
  case RUDP_TP_ORIGINAL_DCID:
  case RUDP_TP_INITIAL_SCID:
  case RUDP_TP_RETRY_SCID:
    tbuf_raw(t, id, data, 4);
    break;
  case RUDP_TP_STATELESS_RESET_TOKEN:
    tbuf_raw(t, id, data, 16);
    break;
  case RUDP_TP_MAX_UDP_PAYLOAD_SIZE:
    tbuf_int(t, id, 1300);
    break;
  case RUDP_TP_ACK_DELAY_EXPONENT:
    tbuf_int(t, id, 5);
    break;
  case RUDP_TP_MAX_ACK_DELAY:
    tbuf_int(t, id, 30);
    break;
  default:
    tbuf_int(t, id, 1000);
    break;
  }
}

/* ------------------------------------------------------------ params */

static void fill_cid(uint8_t *cid, uint8_t *plen, uint8_t *ppresent,
                     uint8_t len, uint8_t seed) {
  uint8_t i;
  for (i = 0; i < len; ++i) {
    cid[i] = (uint8_t)(seed + i);
  }
  *plen = len;
  *ppresent = 1;
}

/* set_client gives every field a client may send a non-default value,
 * including boundary ones. */
static void set_client(rudp_transport_params *p) {
  rudp_transport_params_default(p);
  p->max_idle_timeout = MAX_IDLE_MS * RUDP_MILLISECONDS;
  p->max_udp_payload_size = RUDP_MIN_UDP_PAYLOAD;
  p->initial_max_data = RUDP_MAX_VARINT;
  p->initial_max_stream_data_bidi_local = 64;
  p->initial_max_stream_data_bidi_remote = 16384;
  p->initial_max_stream_data_uni = 1073741824;
  p->initial_max_streams_bidi = MAX_STREAMS;
  p->initial_max_streams_uni = MAX_STREAMS;
  p->ack_delay_exponent = RUDP_TP_MAX_ACK_DELAY_EXPONENT;
  p->max_ack_delay = RUDP_TP_MAX_MAX_ACK_DELAY_MS * RUDP_MILLISECONDS;
  p->max_datagram_frame_size = RUDP_MAX_VARINT;
  fill_cid(p->initial_scid, &p->initial_scidlen, &p->initial_scid_present,
           RUDP_MAX_CIDLEN, 0x10);
}

/* set_server is set_client plus the server-only parameters, with other
 * values so that a mix-up of fields shows. */
static void set_server(rudp_transport_params *p) {
  uint8_t i;

  rudp_transport_params_default(p);
  p->max_idle_timeout = 30 * RUDP_SECONDS;
  p->max_udp_payload_size = RUDP_MAX_UDP_PAYLOAD - 1;
  p->initial_max_data = 1000001;
  p->initial_max_stream_data_bidi_local = 1000002;
  p->initial_max_stream_data_bidi_remote = 1000003;
  p->initial_max_stream_data_uni = 1000004;
  p->initial_max_streams_bidi = 100;
  p->initial_max_streams_uni = 3;
  p->ack_delay_exponent = 0;
  p->max_ack_delay = 0;
  p->max_datagram_frame_size = 1200;
  fill_cid(p->original_dcid, &p->original_dcidlen, &p->original_dcid_present,
           RUDP_MAX_CIDLEN, 0x40);
  fill_cid(p->initial_scid, &p->initial_scidlen, &p->initial_scid_present, 8,
           0x80);
  fill_cid(p->retry_scid, &p->retry_scidlen, &p->retry_scid_present, 1, 0xc0);
  for (i = 0; i < RUDP_STATELESS_RESET_TOKENLEN; ++i) {
    p->stateless_reset_token[i] = (uint8_t)(0xf0 ^ i);
  }
  p->stateless_reset_token_present = 1;
}

static void copy_cid(uint8_t *dcid, uint8_t *dlen, uint8_t *dpresent,
                     const uint8_t *scid, uint8_t slen, uint8_t spresent) {
  if (!spresent) {
    return;
  }
  memcpy(dcid, scid, slen);
  *dlen = slen;
  *dpresent = 1;
}

/*
 * copy_param copies parameter |id| from |src| to |dst| as it looks after a
 * trip over the wire: durations rounded down to milliseconds, connection
 * IDs only when present and only their |len| bytes.
 */
static void copy_param(rudp_transport_params *dst,
                       const rudp_transport_params *src, uint64_t id) {
  switch (id) {
  case RUDP_TP_ORIGINAL_DCID:
    copy_cid(dst->original_dcid, &dst->original_dcidlen,
             &dst->original_dcid_present, src->original_dcid,
             src->original_dcidlen, src->original_dcid_present);
    break;
  case RUDP_TP_MAX_IDLE_TIMEOUT:
    dst->max_idle_timeout =
        src->max_idle_timeout / RUDP_MILLISECONDS * RUDP_MILLISECONDS;
    break;
  case RUDP_TP_STATELESS_RESET_TOKEN:
    if (src->stateless_reset_token_present) {
      memcpy(dst->stateless_reset_token, src->stateless_reset_token,
             RUDP_STATELESS_RESET_TOKENLEN);
      dst->stateless_reset_token_present = 1;
    }
    break;
  case RUDP_TP_MAX_UDP_PAYLOAD_SIZE:
    dst->max_udp_payload_size = src->max_udp_payload_size;
    break;
  case RUDP_TP_INITIAL_MAX_DATA:
    dst->initial_max_data = src->initial_max_data;
    break;
  case RUDP_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL:
    dst->initial_max_stream_data_bidi_local =
        src->initial_max_stream_data_bidi_local;
    break;
  case RUDP_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE:
    dst->initial_max_stream_data_bidi_remote =
        src->initial_max_stream_data_bidi_remote;
    break;
  case RUDP_TP_INITIAL_MAX_STREAM_DATA_UNI:
    dst->initial_max_stream_data_uni = src->initial_max_stream_data_uni;
    break;
  case RUDP_TP_INITIAL_MAX_STREAMS_BIDI:
    dst->initial_max_streams_bidi = src->initial_max_streams_bidi;
    break;
  case RUDP_TP_INITIAL_MAX_STREAMS_UNI:
    dst->initial_max_streams_uni = src->initial_max_streams_uni;
    break;
  case RUDP_TP_ACK_DELAY_EXPONENT:
    dst->ack_delay_exponent = src->ack_delay_exponent;
    break;
  case RUDP_TP_MAX_ACK_DELAY:
    dst->max_ack_delay =
        src->max_ack_delay / RUDP_MILLISECONDS * RUDP_MILLISECONDS;
    break;
  case RUDP_TP_INITIAL_SCID:
    copy_cid(dst->initial_scid, &dst->initial_scidlen,
             &dst->initial_scid_present, src->initial_scid,
             src->initial_scidlen, src->initial_scid_present);
    break;
  case RUDP_TP_RETRY_SCID:
    copy_cid(dst->retry_scid, &dst->retry_scidlen, &dst->retry_scid_present,
             src->retry_scid, src->retry_scidlen, src->retry_scid_present);
    break;
  case RUDP_TP_MAX_DATAGRAM_FRAME_SIZE:
    dst->max_datagram_frame_size = src->max_datagram_frame_size;
    break;
  default:
    fail_msg("copy_param: unknown id %llu", (unsigned long long)id);
  }
}

/* wire_image is what |src| should decode to after encode + decode. */
static void wire_image(rudp_transport_params *dst,
                       const rudp_transport_params *src) {
  size_t i;
  rudp_transport_params_default(dst);
  for (i = 0; i < rudp_arraylen(known_ids); ++i) {
    copy_param(dst, src, known_ids[i]);
  }
}

/*
 * assert_params_equal compares every field, including the CID and token
 * arrays in full: bytes past a CID's length must stay as the defaults left
 * them (zero).
 */
static void assert_params_equal(const rudp_transport_params *a,
                                const rudp_transport_params *b) {
  assert_int_equal(a->max_idle_timeout, b->max_idle_timeout);
  assert_int_equal(a->max_udp_payload_size, b->max_udp_payload_size);
  assert_int_equal(a->initial_max_data, b->initial_max_data);
  assert_int_equal(a->initial_max_stream_data_bidi_local,
                   b->initial_max_stream_data_bidi_local);
  assert_int_equal(a->initial_max_stream_data_bidi_remote,
                   b->initial_max_stream_data_bidi_remote);
  assert_int_equal(a->initial_max_stream_data_uni,
                   b->initial_max_stream_data_uni);
  assert_int_equal(a->initial_max_streams_bidi, b->initial_max_streams_bidi);
  assert_int_equal(a->initial_max_streams_uni, b->initial_max_streams_uni);
  assert_int_equal(a->ack_delay_exponent, b->ack_delay_exponent);
  assert_int_equal(a->max_ack_delay, b->max_ack_delay);
  assert_int_equal(a->max_datagram_frame_size, b->max_datagram_frame_size);
  assert_int_equal(a->original_dcid_present, b->original_dcid_present);
  assert_int_equal(a->original_dcidlen, b->original_dcidlen);
  assert_memory_equal(a->original_dcid, b->original_dcid, RUDP_MAX_CIDLEN);
  assert_int_equal(a->initial_scid_present, b->initial_scid_present);
  assert_int_equal(a->initial_scidlen, b->initial_scidlen);
  assert_memory_equal(a->initial_scid, b->initial_scid, RUDP_MAX_CIDLEN);
  assert_int_equal(a->retry_scid_present, b->retry_scid_present);
  assert_int_equal(a->retry_scidlen, b->retry_scidlen);
  assert_memory_equal(a->retry_scid, b->retry_scid, RUDP_MAX_CIDLEN);
  assert_int_equal(a->stateless_reset_token_present,
                   b->stateless_reset_token_present);
  assert_memory_equal(a->stateless_reset_token, b->stateless_reset_token,
                      RUDP_STATELESS_RESET_TOKENLEN);
}

static void assert_is_default(const rudp_transport_params *p) {
  rudp_transport_params def;
  rudp_transport_params_default(&def);
  assert_params_equal(&def, p);
}

/* roundtrip encodes |src|, decodes it and checks the result. */
static void roundtrip(const rudp_transport_params *src, int is_server) {
  uint8_t buf[RUDP_TP_MAXLEN];
  rudp_transport_params got, want;
  rudp_ssize n;

  n = rudp_tp_encode(buf, sizeof(buf), src, is_server);
  assert_true(n >= 0);
  assert_int_equal(rudp_tp_decode(&got, buf, (size_t)n, is_server), 0);
  wire_image(&want, src);
  assert_params_equal(&want, &got);
}

/* decode_tbuf decodes |t| into a struct first filled with garbage, so a
 * field the decoder forgets to default shows. */
static int decode_tbuf(rudp_transport_params *p, const tbuf *t,
                       int from_server) {
  memset(p, 0xa5, sizeof(*p));
  return rudp_tp_decode(p, t->b, t->n, from_server);
}

/* ------------------------------------------------------------ tests */

static void test_rudp_tp_default(void **state) {
  rudp_transport_params p;
  static const uint8_t zero[RUDP_MAX_CIDLEN] = {0};
  (void)state;

  memset(&p, 0xa5, sizeof(p));
  rudp_transport_params_default(&p);

  assert_int_equal(p.max_idle_timeout, 0);
  assert_int_equal(p.max_udp_payload_size, 65527);
  assert_int_equal(p.initial_max_data, 0);
  assert_int_equal(p.initial_max_stream_data_bidi_local, 0);
  assert_int_equal(p.initial_max_stream_data_bidi_remote, 0);
  assert_int_equal(p.initial_max_stream_data_uni, 0);
  assert_int_equal(p.initial_max_streams_bidi, 0);
  assert_int_equal(p.initial_max_streams_uni, 0);
  assert_int_equal(p.ack_delay_exponent, 3);
  assert_int_equal(p.max_ack_delay, 25000000);
  assert_int_equal(p.max_datagram_frame_size, 0);
  assert_int_equal(p.original_dcid_present, 0);
  assert_int_equal(p.original_dcidlen, 0);
  assert_memory_equal(p.original_dcid, zero, RUDP_MAX_CIDLEN);
  assert_int_equal(p.initial_scid_present, 0);
  assert_int_equal(p.initial_scidlen, 0);
  assert_memory_equal(p.initial_scid, zero, RUDP_MAX_CIDLEN);
  assert_int_equal(p.retry_scid_present, 0);
  assert_int_equal(p.retry_scidlen, 0);
  assert_memory_equal(p.retry_scid, zero, RUDP_MAX_CIDLEN);
  assert_int_equal(p.stateless_reset_token_present, 0);
  assert_memory_equal(p.stateless_reset_token, zero,
                      RUDP_STATELESS_RESET_TOKENLEN);
}

/* Defaults encode to nothing, and nothing decodes to the defaults. */
static void test_rudp_tp_empty_is_default(void **state) {
  rudp_transport_params p, got;
  uint8_t buf[RUDP_TP_MAXLEN];
  (void)state;

  rudp_transport_params_default(&p);
  assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 0), 0);
  assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 1), 0);
  assert_int_equal(rudp_tp_encode(NULL, 0, &p, 0), 0);

  /* Values that round to their default on the wire are left out too. */
  p.max_idle_timeout = RUDP_MILLISECONDS - 1;
  p.max_ack_delay = 26 * RUDP_MILLISECONDS - 1;
  assert_int_equal(rudp_tp_encode(NULL, 0, &p, 0), 0);

  memset(&got, 0xa5, sizeof(got));
  assert_int_equal(rudp_tp_decode(&got, NULL, 0, 0), 0);
  assert_is_default(&got);

  memset(&got, 0xa5, sizeof(got));
  assert_int_equal(rudp_tp_decode(&got, buf, 0, 1), 0);
  assert_is_default(&got);
}

/* The encoder's exact output: id order, shortest varints, lengths. */
static void test_rudp_tp_encode_exact_bytes(void **state) {
  static const uint8_t client_want[] = {
      0x01, 0x04, 0x80, 0x00, 0x75, 0x30, /* max_idle_timeout 30000 ms */
      0x03, 0x02, 0x45, 0xac,             /* max_udp_payload_size 1452 */
      0x04, 0x04, 0x80, 0x10, 0x00, 0x00, /* initial_max_data 2^20 */
      0x08, 0x01, 0x3f,                   /* initial_max_streams_bidi 63 */
      0x0a, 0x01, 0x00,                   /* ack_delay_exponent 0 */
      0x0b, 0x02, 0x40, 0x40,             /* max_ack_delay 64 ms */
      0x0f, 0x04, 0xde, 0xad, 0xbe, 0xef, /* initial_scid */
  };
  static const uint8_t server_want[] = {
      0x00, 0x01, 0x11, /* original_dcid */
      0x02, 0x10, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
      0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, /* stateless_reset_token
                                                       */
      0x0f, 0x00,                                     /* initial_scid, empty */
      0x10, 0x00,                                     /* retry_scid, empty */
      0x20, 0x04, 0x80, 0x00, 0xff, 0xff, /* max_datagram_frame_size */
  };
  rudp_transport_params p;
  uint8_t buf[RUDP_TP_MAXLEN];
  uint8_t i;
  (void)state;

  rudp_transport_params_default(&p);
  p.max_idle_timeout = 30 * RUDP_SECONDS + 999999;
  p.max_udp_payload_size = 1452;
  p.initial_max_data = 1048576;
  p.initial_max_streams_bidi = 63;
  p.ack_delay_exponent = 0;
  p.max_ack_delay = 64 * RUDP_MILLISECONDS;
  memcpy(p.initial_scid, "\xde\xad\xbe\xef", 4);
  p.initial_scidlen = 4;
  p.initial_scid_present = 1;
  assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 0),
                   sizeof(client_want));
  assert_memory_equal(buf, client_want, sizeof(client_want));

  rudp_transport_params_default(&p);
  p.original_dcid[0] = 0x11;
  p.original_dcidlen = 1;
  p.original_dcid_present = 1;
  for (i = 0; i < 16; ++i) {
    p.stateless_reset_token[i] = i;
  }
  p.stateless_reset_token_present = 1;
  p.initial_scid_present = 1;
  p.retry_scid_present = 1;
  p.max_datagram_frame_size = 65535;
  assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 1),
                   sizeof(server_want));
  assert_memory_equal(buf, server_want, sizeof(server_want));
}

static void test_rudp_tp_roundtrip_client(void **state) {
  rudp_transport_params p, got, want;
  uint8_t buf[RUDP_TP_MAXLEN];
  rudp_ssize n;
  (void)state;

  set_client(&p);
  n = rudp_tp_encode(buf, sizeof(buf), &p, 0);
  assert_true(n > 0 && n <= RUDP_TP_MAXLEN);

  assert_int_equal(rudp_tp_decode(&got, buf, (size_t)n, 0), 0);
  wire_image(&want, &p);
  assert_params_equal(&want, &got);
  /* Every value was a multiple of a millisecond: nothing was lost. */
  assert_params_equal(&p, &got);
  assert_int_equal(got.max_idle_timeout, 18446744073709000000ULL);
  assert_int_equal(got.max_ack_delay, 16383 * RUDP_MILLISECONDS);

  /* A client's parameters are just as valid coming from a server. */
  assert_int_equal(rudp_tp_decode(&got, buf, (size_t)n, 1), 0);
  assert_params_equal(&p, &got);

  /* The same encoder output whatever side encodes a client-legal set. */
  {
    uint8_t buf2[RUDP_TP_MAXLEN];
    assert_int_equal(rudp_tp_encode(buf2, sizeof(buf2), &p, 1), n);
    assert_memory_equal(buf, buf2, (size_t)n);
  }
}

static void test_rudp_tp_roundtrip_server(void **state) {
  rudp_transport_params p, got;
  uint8_t buf[RUDP_TP_MAXLEN];
  rudp_ssize n;
  (void)state;

  set_server(&p);
  n = rudp_tp_encode(buf, sizeof(buf), &p, 1);
  assert_true(n > 0 && n <= RUDP_TP_MAXLEN);
  assert_int_equal(rudp_tp_decode(&got, buf, (size_t)n, 1), 0);
  assert_params_equal(&p, &got);

  /* From a client the server-only parameters are an error. */
  assert_int_equal(rudp_tp_decode(&got, buf, (size_t)n, 0),
                   RUDP_ERR_TRANSPORT_PARAM);

  /* The largest possible encoding fits RUDP_TP_MAXLEN. */
  set_client(&p);
  fill_cid(p.original_dcid, &p.original_dcidlen, &p.original_dcid_present,
           RUDP_MAX_CIDLEN, 1);
  fill_cid(p.retry_scid, &p.retry_scidlen, &p.retry_scid_present,
           RUDP_MAX_CIDLEN, 2);
  p.stateless_reset_token_present = 1;
  p.initial_max_stream_data_bidi_local = RUDP_MAX_VARINT;
  p.initial_max_stream_data_bidi_remote = RUDP_MAX_VARINT;
  p.initial_max_stream_data_uni = RUDP_MAX_VARINT;
  p.max_udp_payload_size = 65526;
  n = rudp_tp_encode(buf, sizeof(buf), &p, 1);
  assert_int_equal(n, 177);
  assert_true(n <= RUDP_TP_MAXLEN);
  roundtrip(&p, 1);
}

/* Each value on its own, at the edges of its range and of varint sizes. */
static void test_rudp_tp_roundtrip_boundaries(void **state) {
  static const uint64_t ints[] = {1,          63,         64,
                                  16383,      16384,      1073741823,
                                  1073741824, 1ULL << 60, RUDP_MAX_VARINT};
  rudp_transport_params p;
  uint8_t buf[RUDP_TP_MAXLEN];
  size_t i;
  (void)state;

  for (i = 0; i < rudp_arraylen(ints); ++i) {
    rudp_transport_params_default(&p);
    p.initial_max_data = ints[i];
    p.initial_max_stream_data_bidi_local = ints[i];
    p.initial_max_stream_data_bidi_remote = ints[i];
    p.initial_max_stream_data_uni = ints[i];
    p.max_datagram_frame_size = ints[i];
    if (ints[i] <= MAX_STREAMS) {
      p.initial_max_streams_bidi = ints[i];
      p.initial_max_streams_uni = ints[i];
    }
    if (ints[i] <= MAX_IDLE_MS) {
      p.max_idle_timeout = ints[i] * RUDP_MILLISECONDS;
    }
    roundtrip(&p, 0);
  }

  /* max_udp_payload_size: 1200 and 65526 are sent, 65527 is the default
   * and is left out. */
  rudp_transport_params_default(&p);
  p.max_udp_payload_size = 1200;
  assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 0), 4);
  roundtrip(&p, 0);
  p.max_udp_payload_size = 65526;
  assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 0), 6);
  roundtrip(&p, 0);
  p.max_udp_payload_size = 65527;
  assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 0), 0);

  /* ack_delay_exponent 0 and 20 are sent; 3 is not. */
  for (i = 0; i <= RUDP_TP_MAX_ACK_DELAY_EXPONENT; ++i) {
    rudp_transport_params_default(&p);
    p.ack_delay_exponent = i;
    assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 0), i == 3 ? 0 : 3);
    roundtrip(&p, 0);
  }

  /* max_ack_delay: 0, 1, 24, 26 and 16383 ms are sent; 25 ms is not. */
  {
    static const uint64_t ms[] = {0, 1, 24, 26, 63, 64, 16383};
    for (i = 0; i < rudp_arraylen(ms); ++i) {
      rudp_transport_params_default(&p);
      p.max_ack_delay = ms[i] * RUDP_MILLISECONDS;
      assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 0),
                       3 + (ms[i] >= 64));
      roundtrip(&p, 0);
    }
  }

  /* Empty connection IDs are present, with length 0. */
  rudp_transport_params_default(&p);
  p.original_dcid_present = 1;
  p.initial_scid_present = 1;
  p.retry_scid_present = 1;
  assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 1), 6);
  roundtrip(&p, 1);
}

/* Durations go over the wire in whole milliseconds, rounded down. */
static void test_rudp_tp_roundtrip_rounds_to_ms(void **state) {
  rudp_transport_params p, got;
  uint8_t buf[RUDP_TP_MAXLEN];
  rudp_ssize n;
  (void)state;

  rudp_transport_params_default(&p);
  p.max_idle_timeout = 2 * RUDP_MILLISECONDS - 1;
  p.max_ack_delay = (RUDP_TP_MAX_MAX_ACK_DELAY_MS + 1) * RUDP_MILLISECONDS - 1;
  n = rudp_tp_encode(buf, sizeof(buf), &p, 0);
  assert_true(n > 0);
  assert_int_equal(rudp_tp_decode(&got, buf, (size_t)n, 0), 0);
  assert_int_equal(got.max_idle_timeout, RUDP_MILLISECONDS);
  assert_int_equal(got.max_ack_delay, 16383 * RUDP_MILLISECONDS);

  /* The largest duration there is: 18446744073709551615 ns. */
  p.max_idle_timeout = UINT64_MAX;
  p.max_ack_delay = 25 * RUDP_MILLISECONDS + 999999;
  n = rudp_tp_encode(buf, sizeof(buf), &p, 0);
  assert_int_equal(n, 10);
  assert_int_equal(rudp_tp_decode(&got, buf, (size_t)n, 0), 0);
  assert_int_equal(got.max_idle_timeout, 18446744073709000000ULL);
  assert_int_equal(got.max_ack_delay, 25 * RUDP_MILLISECONDS);
}

/*
 * check_truncations decodes every prefix of the encoding of |src|.  A cut
 * between two parameters is a shorter, valid list: it must decode to the
 * parameters before the cut.  Any other cut must be refused.
 */
static void check_truncations(const rudp_transport_params *src, int is_server) {
  uint8_t buf[RUDP_TP_MAXLEN];
  size_t ends[32];
  uint64_t ids[32];
  size_t nparams = 0, cut, k;
  rudp_ssize n;
  const uint8_t *p, *end;
  rudp_transport_params got, want;

  n = rudp_tp_encode(buf, sizeof(buf), src, is_server);
  assert_true(n > 0);

  /* Find where each parameter ends, independently of the decoder. */
  p = buf;
  end = buf + n;
  while (p != end) {
    uint64_t vlen = 0;
    assert_true(nparams < 32);
    assert_int_equal(rudp_get_varint_checked(&ids[nparams], &p, end), 0);
    assert_int_equal(rudp_get_varint_checked(&vlen, &p, end), 0);
    assert_true(vlen <= (uint64_t)(end - p));
    p += vlen;
    ends[nparams++] = (size_t)(p - buf);
  }
  assert_true(nparams >= 10);

  for (cut = 0; cut <= (size_t)n; ++cut) {
    /* A heap copy of exactly |cut| bytes, so ASan sees any overread. */
    uint8_t *copy = malloc(cut ? cut : 1);
    size_t before = 0;
    int boundary = cut == 0;
    int rv;

    assert_non_null(copy);
    memcpy(copy, buf, cut);
    for (k = 0; k < nparams; ++k) {
      if (ends[k] <= cut) {
        before = k + 1;
      }
      if (ends[k] == cut) {
        boundary = 1;
      }
    }

    memset(&got, 0xa5, sizeof(got));
    rv = rudp_tp_decode(&got, copy, cut, is_server);
    if (boundary) {
      assert_int_equal(rv, 0);
      rudp_transport_params_default(&want);
      for (k = 0; k < before; ++k) {
        copy_param(&want, src, ids[k]);
      }
      assert_params_equal(&want, &got);
    } else {
      assert_int_equal(rv, RUDP_ERR_TRANSPORT_PARAM);
    }
    free(copy);
  }
}

static void test_rudp_tp_decode_every_truncation(void **state) {
  rudp_transport_params p;
  (void)state;

  set_server(&p);
  check_truncations(&p, 1);
  set_client(&p);
  check_truncations(&p, 0);
}

/* The parameter header itself cut short, or a length past the end. */
static void test_rudp_tp_decode_truncated_header(void **state) {
  static const struct {
    uint8_t b[12];
    size_t n;
  } cases[] = {
      {{0x40}, 1},                         /* id: 2-byte varint, 1 */
      {{0xc0, 0, 0, 0, 0, 0, 0}, 7},       /* id: 8-byte varint, 7 */
      {{0x04}, 1},                         /* no length */
      {{0x04, 0x40}, 2},                   /* length cut */
      {{0x04, 0x80, 0x00, 0x00}, 4},       /* length cut */
      {{0x04, 0x01}, 2},                   /* no value */
      {{0x04, 0x04, 0x80, 0x00, 0x01}, 5}, /* value cut */
      {{0x0f, 0x05, 1, 2, 3, 4}, 6},       /* CID value cut */
      {{0x21, 0x02, 0xaa}, 3},             /* unknown id, value cut */
      /* unknown id, length 2^62 - 1, no value */
      {{0x21, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
      {{0x0a, 0x01, 0x05, 0x0b}, 4},       /* 2nd param cut */
      {{0x0a, 0x01, 0x05, 0x0b, 0x01}, 5}, /* 2nd param cut */
  };
  rudp_transport_params p;
  size_t i;
  (void)state;

  for (i = 0; i < rudp_arraylen(cases); ++i) {
    uint8_t *copy = malloc(cases[i].n);
    assert_non_null(copy);
    memcpy(copy, cases[i].b, cases[i].n);
    assert_int_equal(rudp_tp_decode(&p, copy, cases[i].n, 1),
                     RUDP_ERR_TRANSPORT_PARAM);
    free(copy);
  }
}

static void test_rudp_tp_decode_duplicate(void **state) {
  rudp_transport_params p;
  tbuf t;
  size_t i;
  (void)state;

  for (i = 0; i < rudp_arraylen(known_ids); ++i) {
    uint64_t id = known_ids[i];
    /* Ids a client may send are decoded as if from a client. */
    int fs = is_server_only(id);

    /* Once is fine... */
    memset(&t, 0, sizeof(t));
    tbuf_valid(&t, id);
    assert_int_equal(decode_tbuf(&p, &t, fs), 0);

    /* ...twice in a row is not... */
    tbuf_valid(&t, id);
    assert_int_equal(decode_tbuf(&p, &t, fs), RUDP_ERR_TRANSPORT_PARAM);

    /* ...nor with other parameters, known and unknown, in between. */
    memset(&t, 0, sizeof(t));
    tbuf_valid(&t, id);
    tbuf_valid(&t, id == RUDP_TP_INITIAL_MAX_DATA
                       ? RUDP_TP_INITIAL_MAX_STREAMS_UNI
                       : RUDP_TP_INITIAL_MAX_DATA);
    tbuf_raw(&t, 0x3a3a3a3a, "x", 1);
    tbuf_valid(&t, id);
    assert_int_equal(decode_tbuf(&p, &t, fs), RUDP_ERR_TRANSPORT_PARAM);
  }

  /* A duplicate that repeats the default value is still a duplicate. */
  memset(&t, 0, sizeof(t));
  tbuf_int(&t, RUDP_TP_ACK_DELAY_EXPONENT, 3);
  tbuf_int(&t, RUDP_TP_ACK_DELAY_EXPONENT, 3);
  assert_int_equal(decode_tbuf(&p, &t, 0), RUDP_ERR_TRANSPORT_PARAM);

  /* Repeated unknown ids are not checked. */
  memset(&t, 0, sizeof(t));
  tbuf_raw(&t, 0x0c, NULL, 0);
  tbuf_raw(&t, 0x0c, NULL, 0);
  tbuf_int(&t, 0x3a3a3a3a, 1);
  tbuf_int(&t, 0x3a3a3a3a, 2);
  tbuf_int(&t, 0x40, 1);
  tbuf_int(&t, 0x40, 1);
  assert_int_equal(decode_tbuf(&p, &t, 0), 0);
  assert_is_default(&p);
}

/* Integer values on each side of every range limit, hand-encoded. */
static void test_rudp_tp_decode_out_of_range(void **state) {
  static const struct {
    uint64_t id;
    uint64_t v;
    int rv;
  } cases[] = {
      {RUDP_TP_MAX_UDP_PAYLOAD_SIZE, 0, RUDP_ERR_TRANSPORT_PARAM},
      {RUDP_TP_MAX_UDP_PAYLOAD_SIZE, 1199, RUDP_ERR_TRANSPORT_PARAM},
      {RUDP_TP_MAX_UDP_PAYLOAD_SIZE, 1200, 0},
      {RUDP_TP_MAX_UDP_PAYLOAD_SIZE, 65527, 0},
      {RUDP_TP_MAX_UDP_PAYLOAD_SIZE, 65528, RUDP_ERR_TRANSPORT_PARAM},
      {RUDP_TP_MAX_UDP_PAYLOAD_SIZE, RUDP_MAX_VARINT, RUDP_ERR_TRANSPORT_PARAM},
      {RUDP_TP_ACK_DELAY_EXPONENT, 20, 0},
      {RUDP_TP_ACK_DELAY_EXPONENT, 21, RUDP_ERR_TRANSPORT_PARAM},
      {RUDP_TP_ACK_DELAY_EXPONENT, 63, RUDP_ERR_TRANSPORT_PARAM},
      {RUDP_TP_MAX_ACK_DELAY, 16383, 0},
      {RUDP_TP_MAX_ACK_DELAY, 16384, RUDP_ERR_TRANSPORT_PARAM},
      {RUDP_TP_MAX_ACK_DELAY, RUDP_MAX_VARINT, RUDP_ERR_TRANSPORT_PARAM},
      {RUDP_TP_INITIAL_MAX_STREAMS_BIDI, 1ULL << 60, 0},
      {RUDP_TP_INITIAL_MAX_STREAMS_BIDI, (1ULL << 60) + 1,
       RUDP_ERR_TRANSPORT_PARAM},
      {RUDP_TP_INITIAL_MAX_STREAMS_UNI, 1ULL << 60, 0},
      {RUDP_TP_INITIAL_MAX_STREAMS_UNI, (1ULL << 60) + 1,
       RUDP_ERR_TRANSPORT_PARAM},
      {RUDP_TP_INITIAL_MAX_STREAMS_UNI, RUDP_MAX_VARINT,
       RUDP_ERR_TRANSPORT_PARAM},
      {RUDP_TP_MAX_IDLE_TIMEOUT, MAX_IDLE_MS, 0},
      {RUDP_TP_MAX_IDLE_TIMEOUT, MAX_IDLE_MS + 1, RUDP_ERR_TRANSPORT_PARAM},
      {RUDP_TP_MAX_IDLE_TIMEOUT, RUDP_MAX_VARINT, RUDP_ERR_TRANSPORT_PARAM},
      {RUDP_TP_INITIAL_MAX_DATA, RUDP_MAX_VARINT, 0},
      {RUDP_TP_MAX_DATAGRAM_FRAME_SIZE, RUDP_MAX_VARINT, 0},
  };
  rudp_transport_params p;
  tbuf t;
  size_t i;
  (void)state;

  for (i = 0; i < rudp_arraylen(cases); ++i) {
    memset(&t, 0, sizeof(t));
    tbuf_int(&t, cases[i].id, cases[i].v);
    assert_int_equal(decode_tbuf(&p, &t, 1), cases[i].rv);
    if (cases[i].rv != 0) {
      continue;
    }
    switch (cases[i].id) {
    case RUDP_TP_MAX_UDP_PAYLOAD_SIZE:
      assert_int_equal(p.max_udp_payload_size, cases[i].v);
      break;
    case RUDP_TP_ACK_DELAY_EXPONENT:
      assert_int_equal(p.ack_delay_exponent, cases[i].v);
      break;
    case RUDP_TP_MAX_ACK_DELAY:
      assert_int_equal(p.max_ack_delay, cases[i].v * RUDP_MILLISECONDS);
      break;
    case RUDP_TP_INITIAL_MAX_STREAMS_BIDI:
      assert_int_equal(p.initial_max_streams_bidi, cases[i].v);
      break;
    case RUDP_TP_INITIAL_MAX_STREAMS_UNI:
      assert_int_equal(p.initial_max_streams_uni, cases[i].v);
      break;
    case RUDP_TP_MAX_IDLE_TIMEOUT:
      assert_int_equal(p.max_idle_timeout, cases[i].v * RUDP_MILLISECONDS);
      break;
    case RUDP_TP_INITIAL_MAX_DATA:
      assert_int_equal(p.initial_max_data, cases[i].v);
      break;
    case RUDP_TP_MAX_DATAGRAM_FRAME_SIZE:
      assert_int_equal(p.max_datagram_frame_size, cases[i].v);
      break;
    default:
      fail();
    }
  }
}

/* An integer value must be exactly one varint; CIDs and the token have
 * fixed limits. */
static void test_rudp_tp_decode_wrong_length(void **state) {
  static const struct {
    uint8_t b[16];
    size_t n;
    int rv;
    uint64_t max_data; /* when rv == 0 */
  } ints[] = {
      {{0x04, 0x00}, 2, RUDP_ERR_TRANSPORT_PARAM, 0},
      {{0x04, 0x02, 0x05, 0x00}, 4, RUDP_ERR_TRANSPORT_PARAM, 0},
      /* A 2-byte varint in a 1-byte value: the next byte is not its. */
      {{0x04, 0x01, 0x40, 0x05}, 4, RUDP_ERR_TRANSPORT_PARAM, 0},
      {{0x04, 0x08, 0x80, 0, 0, 5, 0, 0, 0, 0},
       10,
       RUDP_ERR_TRANSPORT_PARAM,
       0},
      {{0x04, 0x03, 0x80, 0, 0, 5}, 6, RUDP_ERR_TRANSPORT_PARAM, 0},
      /* Longer-than-needed varints are legal (RFC 9000 section 16). */
      {{0x04, 0x02, 0x40, 0x05}, 4, 0, 5},
      {{0x04, 0x08, 0xc0, 0, 0, 0, 0, 0, 0, 0x07}, 10, 0, 7},
      {{0x40, 0x04, 0x01, 0x09}, 4, 0, 9},
      {{0x04, 0x40, 0x04, 0x80, 0, 1, 0}, 7, 0, 256},
  };
  static const uint8_t bytes[RUDP_MAX_CIDLEN + 1] = {0};
  static const uint64_t cids[] = {RUDP_TP_ORIGINAL_DCID, RUDP_TP_INITIAL_SCID,
                                  RUDP_TP_RETRY_SCID};
  rudp_transport_params p;
  tbuf t;
  size_t i, len;
  (void)state;

  for (i = 0; i < rudp_arraylen(ints); ++i) {
    memset(&t, 0, sizeof(t));
    tbuf_bytes(&t, ints[i].b, ints[i].n);
    assert_int_equal(decode_tbuf(&p, &t, 0), ints[i].rv);
    if (ints[i].rv == 0) {
      assert_int_equal(p.initial_max_data, ints[i].max_data);
    }
  }

  /* The token is exactly 16 bytes. */
  for (len = 0; len <= RUDP_MAX_CIDLEN; ++len) {
    memset(&t, 0, sizeof(t));
    tbuf_raw(&t, RUDP_TP_STATELESS_RESET_TOKEN, bytes, len);
    assert_int_equal(decode_tbuf(&p, &t, 1),
                     len == 16 ? 0 : RUDP_ERR_TRANSPORT_PARAM);
  }

  /* Connection IDs are 0 to 20 bytes. */
  for (i = 0; i < rudp_arraylen(cids); ++i) {
    for (len = 0; len <= RUDP_MAX_CIDLEN + 1; ++len) {
      memset(&t, 0, sizeof(t));
      tbuf_raw(&t, cids[i], bytes, len);
      assert_int_equal(decode_tbuf(&p, &t, 1),
                       len <= 20 ? 0 : RUDP_ERR_TRANSPORT_PARAM);
    }
  }
}

static void test_rudp_tp_decode_server_only_from_client(void **state) {
  static const uint64_t ids[] = {
      RUDP_TP_ORIGINAL_DCID, RUDP_TP_STATELESS_RESET_TOKEN, RUDP_TP_RETRY_SCID};
  rudp_transport_params p;
  tbuf t;
  size_t i;
  (void)state;

  for (i = 0; i < rudp_arraylen(ids); ++i) {
    memset(&t, 0, sizeof(t));
    tbuf_valid(&t, RUDP_TP_INITIAL_MAX_DATA);
    tbuf_valid(&t, ids[i]);
    assert_int_equal(decode_tbuf(&p, &t, 0), RUDP_ERR_TRANSPORT_PARAM);

    assert_int_equal(decode_tbuf(&p, &t, 1), 0);
    switch (ids[i]) {
    case RUDP_TP_ORIGINAL_DCID:
      assert_int_equal(p.original_dcid_present, 1);
      assert_int_equal(p.original_dcidlen, 4);
      assert_memory_equal(p.original_dcid, "\x01\x02\x03\x04", 4);
      break;
    case RUDP_TP_STATELESS_RESET_TOKEN:
      assert_int_equal(p.stateless_reset_token_present, 1);
      assert_int_equal(p.stateless_reset_token[15], 16);
      break;
    default:
      assert_int_equal(p.retry_scid_present, 1);
      assert_int_equal(p.retry_scidlen, 4);
      assert_memory_equal(p.retry_scid, "\x01\x02\x03\x04", 4);
      break;
    }
  }

  /* Empty server-only CIDs are still server-only. */
  memset(&t, 0, sizeof(t));
  tbuf_raw(&t, RUDP_TP_RETRY_SCID, NULL, 0);
  assert_int_equal(decode_tbuf(&p, &t, 0), RUDP_ERR_TRANSPORT_PARAM);

  /* initial_scid is for both sides. */
  memset(&t, 0, sizeof(t));
  tbuf_valid(&t, RUDP_TP_INITIAL_SCID);
  assert_int_equal(decode_tbuf(&p, &t, 0), 0);
  assert_int_equal(p.initial_scid_present, 1);
}

static void test_rudp_tp_decode_unknown_skipped(void **state) {
  static uint8_t big[1000];
  static const uint8_t fake[] = {0x04, 0x01, 0x05}; /* looks like max_data */
  rudp_transport_params p, want;
  tbuf t;
  (void)state;

  memset(big, 0x04, sizeof(big));
  memset(&t, 0, sizeof(t));
  tbuf_raw(&t, 0x3a3a3a3a, big, sizeof(big));
  /* The varint really is 4 bytes and the length 2. */
  assert_memory_equal(t.b, "\xba\x3a\x3a\x3a\x43\xe8", 6);
  tbuf_int(&t, RUDP_TP_INITIAL_MAX_DATA, 77);
  tbuf_raw(&t, 0x0c, NULL, 0);          /* disable_active_migration */
  tbuf_raw(&t, 0x0d, big, 49);          /* preferred_address */
  tbuf_int(&t, 0x0e, 8);                /* active_connection_id_limit */
  tbuf_raw(&t, 27, fake, sizeof(fake)); /* reserved: 31 * 0 + 27 */
  tbuf_raw(&t, 0x21, fake, sizeof(fake));
  tbuf_raw(&t, RUDP_MAX_VARINT, NULL, 0);
  tbuf_int(&t, RUDP_TP_ACK_DELAY_EXPONENT, 7);
  tbuf_raw(&t, 64, big, 64); /* just past the known-id bitmap */
  tbuf_int(&t, RUDP_TP_MAX_DATAGRAM_FRAME_SIZE, 1200);

  assert_int_equal(decode_tbuf(&p, &t, 0), 0);
  rudp_transport_params_default(&want);
  want.initial_max_data = 77;
  want.ack_delay_exponent = 7;
  want.max_datagram_frame_size = 1200;
  assert_params_equal(&want, &p);

  /* Only unknown parameters: the defaults. */
  memset(&t, 0, sizeof(t));
  tbuf_raw(&t, 0x3a3a3a3a, big, sizeof(big));
  assert_int_equal(decode_tbuf(&p, &t, 0), 0);
  assert_is_default(&p);
}

/* A buffer one byte short, or any shorter, is refused and left alone. */
static void check_nobuf(const rudp_transport_params *src, int is_server) {
  uint8_t ref[RUDP_TP_MAXLEN];
  rudp_ssize n;
  size_t size;

  n = rudp_tp_encode(ref, sizeof(ref), src, is_server);
  assert_true(n > 0);

  for (size = 0; size <= (size_t)n; ++size) {
    /* Exactly |size| bytes on the heap, so ASan sees any overrun. */
    uint8_t *out = malloc(size ? size : 1);
    uint8_t *canary = malloc(size ? size : 1);
    assert_non_null(out);
    assert_non_null(canary);
    memset(out, 0x5a, size);
    memset(canary, 0x5a, size);
    if (size < (size_t)n) {
      assert_int_equal(rudp_tp_encode(out, size, src, is_server),
                       RUDP_ERR_NOBUF);
      assert_memory_equal(out, canary, size);
    } else {
      assert_int_equal(rudp_tp_encode(out, size, src, is_server), n);
      assert_memory_equal(out, ref, size);
    }
    free(out);
    free(canary);
  }
  assert_int_equal(rudp_tp_encode(NULL, 0, src, is_server), RUDP_ERR_NOBUF);
}

static void test_rudp_tp_encode_nobuf(void **state) {
  rudp_transport_params p;
  (void)state;

  set_server(&p);
  check_nobuf(&p, 1);
  set_client(&p);
  check_nobuf(&p, 0);
  rudp_transport_params_default(&p);
  p.ack_delay_exponent = 0;
  check_nobuf(&p, 0);
}

/* make_invalid sets |p| to the |i|th out-of-range set; 0 when none left. */
static int make_invalid(rudp_transport_params *p, size_t i) {
  rudp_transport_params_default(p);
  switch (i) {
  case 0:
    p->max_udp_payload_size = 1199;
    break;
  case 1:
    p->max_udp_payload_size = 65528;
    break;
  case 2:
    p->max_udp_payload_size = 0;
    break;
  case 3:
    p->ack_delay_exponent = 21;
    break;
  case 4:
    p->max_ack_delay = 16384 * RUDP_MILLISECONDS;
    break;
  case 5:
    p->initial_max_streams_bidi = MAX_STREAMS + 1;
    break;
  case 6:
    p->initial_max_streams_uni = MAX_STREAMS + 1;
    break;
  case 7:
    p->initial_max_data = RUDP_MAX_VARINT + 1;
    break;
  case 8:
    p->initial_max_stream_data_bidi_local = RUDP_MAX_VARINT + 1;
    break;
  case 9:
    p->initial_max_stream_data_bidi_remote = RUDP_MAX_VARINT + 1;
    break;
  case 10:
    p->initial_max_stream_data_uni = UINT64_MAX;
    break;
  case 11:
    p->max_datagram_frame_size = RUDP_MAX_VARINT + 1;
    break;
  case 12:
    p->initial_scid_present = 1;
    p->initial_scidlen = RUDP_MAX_CIDLEN + 1;
    break;
  case 13:
    p->original_dcid_present = 1;
    p->original_dcidlen = RUDP_MAX_CIDLEN + 1;
    break;
  case 14:
    p->retry_scid_present = 1;
    p->retry_scidlen = 255;
    break;
  default:
    return 0;
  }
  return 1;
}

static void test_rudp_tp_encode_invalid_argument(void **state) {
  rudp_transport_params p;
  uint8_t buf[RUDP_TP_MAXLEN];
  size_t i;
  (void)state;

  for (i = 0; make_invalid(&p, i); ++i) {
    /* Refused whatever side and whatever the buffer size. */
    assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 1),
                     RUDP_ERR_INVALID_ARGUMENT);
    assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 0),
                     RUDP_ERR_INVALID_ARGUMENT);
    assert_int_equal(rudp_tp_encode(NULL, 0, &p, 0), RUDP_ERR_INVALID_ARGUMENT);
  }
  assert_int_equal(i, 15);

  rudp_transport_params_default(&p);
  p.original_dcid_present = 1;
  assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 0),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 1), 2);

  rudp_transport_params_default(&p);
  p.stateless_reset_token_present = 1;
  assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 0),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 1), 18);

  rudp_transport_params_default(&p);
  p.retry_scid_present = 1;
  assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 0),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 1), 2);

  /* An absent CID's length is not looked at. */
  rudp_transport_params_default(&p);
  p.original_dcidlen = 200;
  p.initial_scidlen = 200;
  p.retry_scidlen = 200;
  assert_int_equal(rudp_tp_encode(buf, sizeof(buf), &p, 0), 0);
}

/*
 * check_decoded verifies that a successful decode gave in-range values and
 * that re-encoding them reproduces the same parameters.
 */
static void check_decoded(const rudp_transport_params *p, int from_server) {
  uint8_t buf[RUDP_TP_MAXLEN];
  rudp_transport_params again;
  rudp_ssize n;

  assert_in_range(p->max_udp_payload_size, 1200, 65527);
  assert_true(p->ack_delay_exponent <= 20);
  assert_true(p->max_ack_delay <= 16383 * RUDP_MILLISECONDS);
  assert_true(p->initial_max_streams_bidi <= MAX_STREAMS);
  assert_true(p->initial_max_streams_uni <= MAX_STREAMS);
  assert_true(p->original_dcidlen <= RUDP_MAX_CIDLEN);
  assert_true(p->initial_scidlen <= RUDP_MAX_CIDLEN);
  assert_true(p->retry_scidlen <= RUDP_MAX_CIDLEN);
  if (!from_server) {
    assert_false(p->original_dcid_present);
    assert_false(p->stateless_reset_token_present);
    assert_false(p->retry_scid_present);
  }

  n = rudp_tp_encode(buf, sizeof(buf), p, from_server);
  assert_true(n >= 0);
  assert_int_equal(rudp_tp_decode(&again, buf, (size_t)n, from_server), 0);
  assert_params_equal(p, &again);
}

/* Random input never crashes the decoder (run under ASan/UBSan). */
static void test_rudp_tp_decode_random_garbage(void **state) {
  static const uint64_t unknown_ids[] = {0x0c, 0x0d, 0x11, 0x3a3a3a3a};
  rudp_test_rng rng;
  rudp_transport_params p, full;
  uint8_t fullbuf[RUDP_TP_MAXLEN];
  rudp_ssize fulllen;
  size_t ok = 0, bad = 0, iter;
  (void)state;

  rudp_test_rng_init(&rng, 0x7470u);
  set_server(&full);
  fulllen = rudp_tp_encode(fullbuf, sizeof(fullbuf), &full, 1);
  assert_true(fulllen > 0);

  for (iter = 0; iter < 30000; ++iter) {
    int from_server = (int)rudp_test_rng_below(&rng, 2);
    tbuf t;
    uint8_t *copy;
    int rv;

    memset(&t, 0, sizeof(t));
    switch (iter % 3) {
    case 0:
      /* Plain random bytes. */
      t.n = (size_t)rudp_test_rng_below(&rng, 48);
      rudp_test_rng_fill(&rng, t.b, t.n);
      break;
    case 1: {
      /* Random parameters with plausible ids and lengths. */
      size_t k, count = (size_t)rudp_test_rng_below(&rng, 6);
      for (k = 0; k < count; ++k) {
        uint64_t id =
            rudp_test_rng_below(&rng, 2)
                ? known_ids[rudp_test_rng_below(&rng, rudp_arraylen(known_ids))]
                : unknown_ids[rudp_test_rng_below(&rng,
                                                  rudp_arraylen(unknown_ids))];
        size_t len = (size_t)rudp_test_rng_below(&rng, 22);
        uint8_t val[22];
        rudp_test_rng_fill(&rng, val, len);
        if (rudp_test_rng_below(&rng, 2)) {
          /* A random varint of its own length, often valid. */
          uint64_t v = rudp_test_rng_next(&rng);
          v >>= rudp_test_rng_below(&rng, 64);
          tbuf_int(&t, id, v & RUDP_MAX_VARINT);
        } else {
          tbuf_raw(&t, id, val, len);
        }
      }
      break;
    }
    default: {
      /* A valid encoding with a few bytes flipped. */
      size_t k, flips = 1 + (size_t)rudp_test_rng_below(&rng, 3);
      tbuf_bytes(&t, fullbuf, (size_t)fulllen);
      for (k = 0; k < flips; ++k) {
        t.b[rudp_test_rng_below(&rng, t.n)] ^=
            (uint8_t)(1u << rudp_test_rng_below(&rng, 8));
      }
      t.n = (size_t)rudp_test_rng_below(&rng, t.n + 1);
      break;
    }
    }

    /* Decode from an exact-size heap copy so ASan catches overreads. */
    copy = malloc(t.n ? t.n : 1);
    assert_non_null(copy);
    memcpy(copy, t.b, t.n);
    memset(&p, 0xa5, sizeof(p));
    rv = rudp_tp_decode(&p, copy, t.n, from_server);
    free(copy);

    if (rv == 0) {
      ++ok;
      check_decoded(&p, from_server);
    } else {
      assert_int_equal(rv, RUDP_ERR_TRANSPORT_PARAM);
      ++bad;
    }
  }

  /* Both outcomes were exercised often. */
  assert_true(ok > 1000);
  assert_true(bad > 1000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_tp_default),
      cmocka_unit_test(test_rudp_tp_empty_is_default),
      cmocka_unit_test(test_rudp_tp_encode_exact_bytes),
      cmocka_unit_test(test_rudp_tp_roundtrip_client),
      cmocka_unit_test(test_rudp_tp_roundtrip_server),
      cmocka_unit_test(test_rudp_tp_roundtrip_boundaries),
      cmocka_unit_test(test_rudp_tp_roundtrip_rounds_to_ms),
      cmocka_unit_test(test_rudp_tp_decode_every_truncation),
      cmocka_unit_test(test_rudp_tp_decode_truncated_header),
      cmocka_unit_test(test_rudp_tp_decode_duplicate),
      cmocka_unit_test(test_rudp_tp_decode_out_of_range),
      cmocka_unit_test(test_rudp_tp_decode_wrong_length),
      cmocka_unit_test(test_rudp_tp_decode_server_only_from_client),
      cmocka_unit_test(test_rudp_tp_decode_unknown_skipped),
      cmocka_unit_test(test_rudp_tp_encode_nobuf),
      cmocka_unit_test(test_rudp_tp_encode_invalid_argument),
      cmocka_unit_test(test_rudp_tp_decode_random_garbage),
  };

  return cmocka_run_group_tests_name("tp", tests, NULL, NULL);
}
