/*
 * librudp: a reliable transport over UDP.
 *
 * This is the core public header.  The core is sans-I/O: it never touches a
 * socket, never reads a clock and never sleeps.  Time is passed in as a
 * `rudp_tstamp` (monotonic nanoseconds) to every call that needs it.
 *
 * Sections: basic types, error codes, memory allocator, wire constants,
 * transport parameters, version and error strings.
 */
#ifndef RUDP_H
#define RUDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <rudp/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * RUDP_EXTERN marks a public symbol.  The library is built with
 * -fvisibility=hidden and -DBUILDING_RUDP, so only symbols carrying this
 * macro are exported from the shared object.
 */
#if defined(BUILDING_RUDP) && defined(__GNUC__)
#  define RUDP_EXTERN __attribute__((visibility("default")))
#else
#  define RUDP_EXTERN
#endif

/* ------------------------------------------------------------ basic types */

/**
 * `rudp_tstamp` is a point in time in nanoseconds on a monotonic clock the
 * caller chooses.  :macro:`RUDP_TSTAMP_MAX` means "unset" or "never".
 */
typedef uint64_t rudp_tstamp;

/**
 * `rudp_duration` is a period of time in nanoseconds.
 */
typedef uint64_t rudp_duration;

/**
 * `rudp_ssize` is a byte count or, when negative, one of the RUDP_ERR_*
 * error codes.
 */
typedef ptrdiff_t rudp_ssize;

/** RUDP_TSTAMP_MAX is the largest timestamp; it means "no deadline". */
#define RUDP_TSTAMP_MAX UINT64_MAX
/** RUDP_NANOSECONDS is one nanosecond in `rudp_duration` units. */
#define RUDP_NANOSECONDS ((rudp_duration)1ULL)
/** RUDP_MICROSECONDS is one microsecond in `rudp_duration` units. */
#define RUDP_MICROSECONDS ((rudp_duration)1000ULL)
/** RUDP_MILLISECONDS is one millisecond in `rudp_duration` units. */
#define RUDP_MILLISECONDS ((rudp_duration)1000000ULL)
/** RUDP_SECONDS is one second in `rudp_duration` units. */
#define RUDP_SECONDS ((rudp_duration)1000000000ULL)

/* ------------------------------------------------------------ error codes */

/*
 * Every function that can fail returns 0 (or a non-negative count) on
 * success and one of these negative codes on failure.  Codes from -201 to
 * -499 are recoverable: the object that returned one is still usable unless
 * the function's documentation says otherwise.  Codes at or below
 * :macro:`RUDP_ERR_FATAL` (-500) are fatal: the object must be deleted.
 * `rudp_strerror` gives a one-line description; `rudp_err_is_fatal` tells the
 * two classes apart.
 */

/** An argument was invalid (NULL where not allowed, value out of range). */
#define RUDP_ERR_INVALID_ARGUMENT -201
/** The output buffer was too small for what had to be written. */
#define RUDP_ERR_NOBUF -202
/** The input ended before the field being decoded did. */
#define RUDP_ERR_TRUNCATED -203
/** A frame was malformed: unknown type, field out of range, bad ACK range. */
#define RUDP_ERR_FRAME_ENCODING -204
/** A packet header was malformed (fixed bit clear, connection ID too long,
 *  length field beyond the datagram). */
#define RUDP_ERR_BAD_PACKET -205
/** The packet's protocol version is not supported. */
#define RUDP_ERR_VERSION -206
/** Transport parameters were malformed, duplicated or out of range. */
#define RUDP_ERR_TRANSPORT_PARAM -207
/** The packet failed its integrity check (CRC32C or AEAD tag). */
#define RUDP_ERR_INTEGRITY -208
/** The peer violated the protocol. */
#define RUDP_ERR_PROTO -209
/** The peer sent beyond its flow-control credit. */
#define RUDP_ERR_FLOW_CONTROL -210
/** The peer opened more streams than allowed. */
#define RUDP_ERR_STREAM_LIMIT -211
/** A frame arrived for a stream in a state that does not allow it. */
#define RUDP_ERR_STREAM_STATE -212
/** A stream's final size changed or was exceeded. */
#define RUDP_ERR_FINAL_SIZE -213
/** The operation is not allowed in the object's current state. */
#define RUDP_ERR_INVALID_STATE -214
/** The connection is closing (this side started the close). */
#define RUDP_ERR_CLOSING -215
/** The connection is draining (the peer closed it). */
#define RUDP_ERR_DRAINING -216
/** The connection was closed because it was idle too long. */
#define RUDP_ERR_IDLE_CLOSE -217
/** The TLS layer reported an error. */
#define RUDP_ERR_CRYPTO -218
/** The handshake did not complete within its retries. */
#define RUDP_ERR_HANDSHAKE_TIMEOUT -219
/** The peer refused the connection (backlog full, or no listener). */
#define RUDP_ERR_CONNECTION_REFUSED -220
/** No stream with that ID exists (or it has been closed and freed). */
#define RUDP_ERR_STREAM_NOT_FOUND -221
/** The stream or connection cannot take more data now; retry later. */
#define RUDP_ERR_WOULDBLOCK -222
/** The datagram is larger than the peer accepts. */
#define RUDP_ERR_DATAGRAM_TOO_LARGE -223
/** The retry or address-validation token was invalid. */
#define RUDP_ERR_INVALID_TOKEN -224
/** The peer closed the connection with an error (see its error code). */
#define RUDP_ERR_PEER_CLOSED -225

/** Codes at or below RUDP_ERR_FATAL are fatal. */
#define RUDP_ERR_FATAL -500
/** Memory allocation failed. */
#define RUDP_ERR_NOMEM -501
/** An application callback returned an error. */
#define RUDP_ERR_CALLBACK_FAILURE -502
/** An internal invariant was broken (a bug in librudp). */
#define RUDP_ERR_INTERNAL -503

/**
 * `rudp_strerror` returns a static, NUL-terminated, one-line English
 * description of |error_code| (one of the RUDP_ERR_* codes, or 0 for
 * "success").  Unknown codes give "unknown error".  Never returns NULL.
 */
RUDP_EXTERN const char *rudp_strerror(int error_code);

/**
 * `rudp_err_is_fatal` returns nonzero if |error_code| is fatal (at or below
 * :macro:`RUDP_ERR_FATAL`), 0 otherwise.
 */
RUDP_EXTERN int rudp_err_is_fatal(int error_code);

/* ------------------------------------------------------------ memory */

/**
 * `rudp_mem` is a per-object allocator.  Every allocation librudp makes for
 * an object goes through the `rudp_mem` given when the object was created;
 * there is no global allocator state.  All four functions are required and
 * behave like their C library namesakes; |user_data| is passed to each.
 */
typedef struct rudp_mem {
  /** user_data is passed to every function below. */
  void *user_data;
  /** malloc allocates |size| bytes, or returns NULL. */
  void *(*malloc)(size_t size, void *user_data);
  /** free releases |ptr|; |ptr| may be NULL. */
  void (*free)(void *ptr, void *user_data);
  /** calloc allocates |nmemb| * |size| zeroed bytes, or returns NULL. */
  void *(*calloc)(size_t nmemb, size_t size, void *user_data);
  /** realloc resizes |ptr| to |size| bytes, or returns NULL. */
  void *(*realloc)(void *ptr, size_t size, void *user_data);
} rudp_mem;

/**
 * `rudp_mem_default` returns the allocator that wraps the C library's
 * malloc, free, calloc and realloc.  The returned object is static; do not
 * modify or free it.
 */
RUDP_EXTERN const rudp_mem *rudp_mem_default(void);

/* ------------------------------------------------------------ wire constants */

/** RUDP_PROTO_VER_V1 is version 1 of the wire protocol (docs/PROTOCOL.md). */
#define RUDP_PROTO_VER_V1 0x52550001u
/** RUDP_PROTO_VER_NEGOTIATION is the version field of a version-negotiation
 *  packet. */
#define RUDP_PROTO_VER_NEGOTIATION 0u

/** RUDP_MAX_CIDLEN is the longest connection ID, in bytes. */
#define RUDP_MAX_CIDLEN 20
/** RUDP_DEFAULT_CIDLEN is the connection-ID length librudp chooses. */
#define RUDP_DEFAULT_CIDLEN 8
/** RUDP_MIN_UDP_PAYLOAD is the smallest UDP payload every path must carry,
 *  and the size a CONNECT datagram is padded to. */
#define RUDP_MIN_UDP_PAYLOAD 1200
/** RUDP_MAX_UDP_PAYLOAD is the largest UDP payload librudp will send. */
#define RUDP_MAX_UDP_PAYLOAD 65527
/** RUDP_STATELESS_RESET_TOKENLEN is the length of a stateless reset token. */
#define RUDP_STATELESS_RESET_TOKENLEN 16
/** RUDP_MAX_VARINT is the largest value a variable-length integer holds. */
#define RUDP_MAX_VARINT ((1ULL << 62) - 1)

/*
 * Transport error codes carried in CONNECTION_CLOSE frames
 * (docs/PROTOCOL.md, "Error codes").  They are the same numbers as QUIC's
 * (RFC 9000 section 20.1).
 */
/** The connection closed without error. */
#define RUDP_NO_ERROR 0x0u
/** The endpoint hit an internal error. */
#define RUDP_INTERNAL_ERROR 0x1u
/** The server refused the connection (backlog full, shutting down). */
#define RUDP_CONNECTION_REFUSED 0x2u
/** The peer exceeded a flow-control limit. */
#define RUDP_FLOW_CONTROL_ERROR 0x3u
/** The peer opened more streams than allowed. */
#define RUDP_STREAM_LIMIT_ERROR 0x4u
/** A frame arrived for a stream in a state that forbids it. */
#define RUDP_STREAM_STATE_ERROR 0x5u
/** A stream's final size was violated. */
#define RUDP_FINAL_SIZE_ERROR 0x6u
/** A frame was malformed. */
#define RUDP_FRAME_ENCODING_ERROR 0x7u
/** Transport parameters were malformed or invalid. */
#define RUDP_TRANSPORT_PARAMETER_ERROR 0x8u
/** Any other protocol violation (for example an ACK of an unsent packet). */
#define RUDP_PROTOCOL_VIOLATION 0xau
/** A RETRY or NEW_TOKEN token was invalid. */
#define RUDP_INVALID_TOKEN 0xbu
/** The application closed the connection (transport-level view). */
#define RUDP_APPLICATION_ERROR 0xcu
/** More CRYPTO data was buffered than allowed. */
#define RUDP_CRYPTO_BUFFER_EXCEEDED 0xdu
/** A key update was invalid. */
#define RUDP_KEY_UPDATE_ERROR 0xeu
/** The AEAD confidentiality or integrity limit was reached. */
#define RUDP_AEAD_LIMIT_REACHED 0xfu
/** RUDP_CRYPTO_ERROR(alert) carries a TLS alert (0x100 + alert). */
#define RUDP_CRYPTO_ERROR(alert) (0x100u + (uint8_t)(alert))

/* ------------------------------------------------------------ transport params */

/**
 * `rudp_transport_params` are the limits and preferences each side announces
 * in the handshake (docs/PROTOCOL.md, "Transport parameters").  Fields whose
 * `present` flag is clear were absent and take the documented default.
 */
typedef struct rudp_transport_params {
  /** max_idle_timeout is the idle timeout in nanoseconds; 0 disables it.
   *  Encoded in milliseconds (rounded down). */
  rudp_duration max_idle_timeout;
  /** max_udp_payload_size is the largest UDP payload the sender of these
   *  parameters will accept; 1200 to 65527, default 65527. */
  uint64_t max_udp_payload_size;
  /** initial_max_data is the connection-level flow-control credit. */
  uint64_t initial_max_data;
  /** initial_max_stream_data_bidi_local is the credit for bidirectional
   *  streams opened by the sender of these parameters. */
  uint64_t initial_max_stream_data_bidi_local;
  /** initial_max_stream_data_bidi_remote is the credit for bidirectional
   *  streams opened by the receiver of these parameters. */
  uint64_t initial_max_stream_data_bidi_remote;
  /** initial_max_stream_data_uni is the credit for unidirectional streams
   *  opened by the receiver of these parameters. */
  uint64_t initial_max_stream_data_uni;
  /** initial_max_streams_bidi is how many bidirectional streams the
   *  receiver may open; at most 2^60. */
  uint64_t initial_max_streams_bidi;
  /** initial_max_streams_uni is how many unidirectional streams the
   *  receiver may open; at most 2^60. */
  uint64_t initial_max_streams_uni;
  /** ack_delay_exponent scales the ACK delay field; at most 20, default 3. */
  uint64_t ack_delay_exponent;
  /** max_ack_delay is the longest the sender delays an ACK, in nanoseconds;
   *  encoded in milliseconds, below 2^14 ms, default 25 ms. */
  rudp_duration max_ack_delay;
  /** max_datagram_frame_size is the largest DATAGRAM frame accepted; 0 means
   *  DATAGRAM frames are not accepted (the default). */
  uint64_t max_datagram_frame_size;
  /** original_dcid is the DCID of the client's first CONNECT (server only). */
  uint8_t original_dcid[RUDP_MAX_CIDLEN];
  /** original_dcidlen is the length of |original_dcid|. */
  uint8_t original_dcidlen;
  /** original_dcid_present is nonzero if |original_dcid| was sent. */
  uint8_t original_dcid_present;
  /** initial_scid is the SCID the sender used in its first packet. */
  uint8_t initial_scid[RUDP_MAX_CIDLEN];
  /** initial_scidlen is the length of |initial_scid|. */
  uint8_t initial_scidlen;
  /** initial_scid_present is nonzero if |initial_scid| was sent. */
  uint8_t initial_scid_present;
  /** retry_scid is the SCID of the server's RETRY packet (server only). */
  uint8_t retry_scid[RUDP_MAX_CIDLEN];
  /** retry_scidlen is the length of |retry_scid|. */
  uint8_t retry_scidlen;
  /** retry_scid_present is nonzero if |retry_scid| was sent. */
  uint8_t retry_scid_present;
  /** stateless_reset_token lets the client recognise a stateless reset
   *  (server only). */
  uint8_t stateless_reset_token[RUDP_STATELESS_RESET_TOKENLEN];
  /** stateless_reset_token_present is nonzero if the token was sent. */
  uint8_t stateless_reset_token_present;
} rudp_transport_params;

/**
 * `rudp_transport_params_default` fills |params| with the protocol defaults
 * (the values that absent parameters take): max_udp_payload_size 65527,
 * ack_delay_exponent 3, max_ack_delay 25 ms, every other field 0 and every
 * `present` flag clear.  |params| must not be NULL.
 */
RUDP_EXTERN void rudp_transport_params_default(rudp_transport_params *params);

/* ------------------------------------------------------------ version */

/**
 * `rudp_version` returns the library's version string ("MAJOR.MINOR.PATCH")
 * as built, which may differ from :macro:`RUDP_VERSION` in the header the
 * caller compiled against.  The string is static.
 */
RUDP_EXTERN const char *rudp_version(void);

#ifdef __cplusplus
}
#endif

#endif /* RUDP_H */
