/*
 * Transport parameter codec (docs/PROTOCOL.md, "Transport parameters").
 *
 * Encoding: a sequence of (id varint, value length varint, value).  Integer
 * parameters carry a varint as their value; connection IDs and the stateless
 * reset token carry raw bytes.  The ids are QUIC's (RFC 9000 section 18.2):
 *
 *   0x00 original_destination_connection_id  (server only, 0..20 bytes)
 *   0x01 max_idle_timeout                    (milliseconds)
 *   0x02 stateless_reset_token               (server only, 16 bytes)
 *   0x03 max_udp_payload_size                (1200..65527; default 65527)
 *   0x04 initial_max_data
 *   0x05 initial_max_stream_data_bidi_local
 *   0x06 initial_max_stream_data_bidi_remote
 *   0x07 initial_max_stream_data_uni
 *   0x08 initial_max_streams_bidi            (at most 2^60)
 *   0x09 initial_max_streams_uni             (at most 2^60)
 *   0x0a ack_delay_exponent                  (at most 20; default 3)
 *   0x0b max_ack_delay                       (ms, below 2^14; default 25)
 *   0x0f initial_source_connection_id        (0..20 bytes)
 *   0x10 retry_source_connection_id          (server only, 0..20 bytes)
 *   0x20 max_datagram_frame_size             (default 0: no DATAGRAM)
 *
 * Unknown ids are skipped (so future versions can add parameters).
 */
#ifndef RUDP_TP_H
#define RUDP_TP_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

#define RUDP_TP_ORIGINAL_DCID 0x00u
#define RUDP_TP_MAX_IDLE_TIMEOUT 0x01u
#define RUDP_TP_STATELESS_RESET_TOKEN 0x02u
#define RUDP_TP_MAX_UDP_PAYLOAD_SIZE 0x03u
#define RUDP_TP_INITIAL_MAX_DATA 0x04u
#define RUDP_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL 0x05u
#define RUDP_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE 0x06u
#define RUDP_TP_INITIAL_MAX_STREAM_DATA_UNI 0x07u
#define RUDP_TP_INITIAL_MAX_STREAMS_BIDI 0x08u
#define RUDP_TP_INITIAL_MAX_STREAMS_UNI 0x09u
#define RUDP_TP_ACK_DELAY_EXPONENT 0x0au
#define RUDP_TP_MAX_ACK_DELAY 0x0bu
#define RUDP_TP_INITIAL_SCID 0x0fu
#define RUDP_TP_RETRY_SCID 0x10u
#define RUDP_TP_MAX_DATAGRAM_FRAME_SIZE 0x20u

/* Default and limit values. */
#define RUDP_TP_DEFAULT_ACK_DELAY_EXPONENT 3
#define RUDP_TP_MAX_ACK_DELAY_EXPONENT 20
#define RUDP_TP_DEFAULT_MAX_ACK_DELAY (25 * RUDP_MILLISECONDS)
#define RUDP_TP_MAX_MAX_ACK_DELAY_MS ((1ULL << 14) - 1)

/* RUDP_TP_MAXLEN bounds the encoding of every known parameter. */
#define RUDP_TP_MAXLEN 256

/*
 * rudp_tp_encode writes |params| to |out| (|outlen| bytes).  Parameters equal
 * to their default are left out (an absent parameter means the default);
 * connection IDs and the reset token are written when their `present` flag
 * is set.  |is_server| is nonzero when the server sends them: the
 * server-only parameters are allowed only then.
 *
 * Returns the bytes written, or RUDP_ERR_NOBUF, or RUDP_ERR_INVALID_ARGUMENT
 * (a value out of its range, a server-only parameter from a client, a CID
 * longer than RUDP_MAX_CIDLEN).
 */
rudp_ssize rudp_tp_encode(uint8_t *out, size_t outlen,
                          const rudp_transport_params *params, int is_server);

/*
 * rudp_tp_decode fills |params| with the defaults, then with the parameters
 * encoded in the |len| bytes at |p|.  |from_server| is nonzero if the server
 * sent them (server-only parameters are an error otherwise).
 *
 * Returns 0, or RUDP_ERR_TRANSPORT_PARAM: input ends inside a parameter, a
 * parameter appears twice, a value is out of range or has the wrong length,
 * or a server-only parameter came from a client.  On error |params| holds
 * unspecified values.
 */
int rudp_tp_decode(rudp_transport_params *params, const uint8_t *p,
                   size_t len, int from_server);

#endif /* RUDP_TP_H */
