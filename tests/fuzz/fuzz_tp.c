/*
 * Fuzz target: transport parameters (lib/rudp_tp.c).
 *
 * Input: byte 0 bit 0 says who sent the parameters (1: the server, which
 * may send the server-only ones), the rest is the encoded list.  When it
 * decodes, the target encodes the parameters again (the encoder must
 * accept whatever the decoder accepted), decodes that to the same values,
 * and checks that a second encoding is byte for byte the first (the
 * encoding is canonical).
 */
#include "fuzz_common.h"

#include <string.h>

#include "rudp_tp.h"

static void check_cid(const uint8_t *a, uint8_t alen, uint8_t apresent,
                      const uint8_t *b, uint8_t blen, uint8_t bpresent) {
  FUZZ_CHECK(apresent == bpresent);
  if (apresent) {
    FUZZ_CHECK(alen == blen && alen <= RUDP_MAX_CIDLEN);
    FUZZ_CHECK(alen == 0 || memcmp(a, b, alen) == 0);
  }
}

static void check_same(const rudp_transport_params *a,
                       const rudp_transport_params *b) {
  FUZZ_CHECK(a->max_idle_timeout == b->max_idle_timeout);
  FUZZ_CHECK(a->max_udp_payload_size == b->max_udp_payload_size);
  FUZZ_CHECK(a->initial_max_data == b->initial_max_data);
  FUZZ_CHECK(a->initial_max_stream_data_bidi_local ==
             b->initial_max_stream_data_bidi_local);
  FUZZ_CHECK(a->initial_max_stream_data_bidi_remote ==
             b->initial_max_stream_data_bidi_remote);
  FUZZ_CHECK(a->initial_max_stream_data_uni == b->initial_max_stream_data_uni);
  FUZZ_CHECK(a->initial_max_streams_bidi == b->initial_max_streams_bidi);
  FUZZ_CHECK(a->initial_max_streams_uni == b->initial_max_streams_uni);
  FUZZ_CHECK(a->ack_delay_exponent == b->ack_delay_exponent);
  FUZZ_CHECK(a->max_ack_delay == b->max_ack_delay);
  FUZZ_CHECK(a->max_datagram_frame_size == b->max_datagram_frame_size);
  check_cid(a->original_dcid, a->original_dcidlen, a->original_dcid_present,
            b->original_dcid, b->original_dcidlen, b->original_dcid_present);
  check_cid(a->initial_scid, a->initial_scidlen, a->initial_scid_present,
            b->initial_scid, b->initial_scidlen, b->initial_scid_present);
  check_cid(a->retry_scid, a->retry_scidlen, a->retry_scid_present,
            b->retry_scid, b->retry_scidlen, b->retry_scid_present);
  FUZZ_CHECK(a->stateless_reset_token_present ==
             b->stateless_reset_token_present);
  if (a->stateless_reset_token_present) {
    FUZZ_CHECK(memcmp(a->stateless_reset_token, b->stateless_reset_token,
                      RUDP_STATELESS_RESET_TOKENLEN) == 0);
  }
}

/* check_ranges: every value the decoder accepted is within the limits
 * rudp_tp.h documents. */
static void check_ranges(const rudp_transport_params *tp, int from_server) {
  FUZZ_CHECK(tp->max_udp_payload_size >= RUDP_MIN_UDP_PAYLOAD &&
             tp->max_udp_payload_size <= RUDP_MAX_UDP_PAYLOAD);
  FUZZ_CHECK(tp->initial_max_streams_bidi <= (1ULL << 60));
  FUZZ_CHECK(tp->initial_max_streams_uni <= (1ULL << 60));
  FUZZ_CHECK(tp->ack_delay_exponent <= RUDP_TP_MAX_ACK_DELAY_EXPONENT);
  FUZZ_CHECK(tp->max_ack_delay / RUDP_MILLISECONDS <=
             RUDP_TP_MAX_MAX_ACK_DELAY_MS);
  FUZZ_CHECK(tp->max_idle_timeout % RUDP_MILLISECONDS == 0);
  if (!from_server) {
    FUZZ_CHECK(!tp->original_dcid_present && !tp->retry_scid_present &&
               !tp->stateless_reset_token_present);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rudp_transport_params tp, tp2, tp3;
  uint8_t out[RUDP_TP_MAXLEN], out2[RUDP_TP_MAXLEN];
  rudp_ssize n, n2;
  int from_server, rv;

  if (size < 1) {
    return 0;
  }
  from_server = data[0] & 1;
  rv = rudp_tp_decode(&tp, data + 1, size - 1, from_server);
  if (rv != 0) {
    FUZZ_CHECK(rv == RUDP_ERR_TRANSPORT_PARAM);
    return 0;
  }
  check_ranges(&tp, from_server);

  n = rudp_tp_encode(out, sizeof(out), &tp, from_server);
  FUZZ_CHECK(n >= 0 && (size_t)n <= RUDP_TP_MAXLEN);
  /* Defaults are left out and nothing is repeated: never longer. */
  FUZZ_CHECK((size_t)n <= size - 1);
  FUZZ_CHECK(rudp_tp_decode(&tp2, out, (size_t)n, from_server) == 0);
  check_same(&tp, &tp2);

  n2 = rudp_tp_encode(out2, sizeof(out2), &tp2, from_server);
  FUZZ_CHECK(n2 == n && memcmp(out, out2, (size_t)n) == 0);
  /* Server parameters do not decode as a client's, unless they hold no
   * server-only parameter. */
  rv = rudp_tp_decode(&tp3, out, (size_t)n, !from_server);
  if (from_server && (tp.original_dcid_present || tp.retry_scid_present ||
                      tp.stateless_reset_token_present)) {
    FUZZ_CHECK(rv == RUDP_ERR_TRANSPORT_PARAM);
  } else {
    FUZZ_CHECK(rv == 0);
    check_same(&tp, &tp3);
  }
  /* A buffer one byte short is refused, writing nothing. */
  if (n > 0) {
    FUZZ_CHECK(rudp_tp_encode(out2, (size_t)n - 1, &tp, from_server) ==
               RUDP_ERR_NOBUF);
  }
  return 0;
}
