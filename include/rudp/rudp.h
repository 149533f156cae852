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
#include <sys/socket.h>

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
/** The peer lost the connection's state and sent a stateless reset. */
#define RUDP_ERR_STATELESS_RESET -226
/** A system call of the I/O binding failed (socket, bind, ...); errno
 *  says why (rudp_event.h only: the core does no I/O). */
#define RUDP_ERR_IO -227

/** TLS was asked for but librudp was built without OpenSSL. */
#define RUDP_ERR_TLS_UNAVAILABLE -228
/** TLS: the peer's certificate is not trusted (unknown or untrusted CA,
 *  self-signed, bad signature or chain). */
#define RUDP_ERR_TLS_CERT_UNTRUSTED -229
/** TLS: the peer's certificate does not name the host or address asked
 *  for. */
#define RUDP_ERR_TLS_NAME_MISMATCH -230
/** TLS: the peer's certificate has expired or is not yet valid. */
#define RUDP_ERR_TLS_CERT_EXPIRED -231
/** TLS: the peer's certificate is not the pinned one (SHA-256). */
#define RUDP_ERR_TLS_PIN_MISMATCH -232
/** One side uses TLS and the other plain mode (docs/PROTOCOL.md 4.4). */
#define RUDP_ERR_TLS_MODE_MISMATCH -233
/** A TLS configuration is unusable: unreadable certificate, key or CA
 *  file, a key that does not match its certificate, a malformed pin, an
 *  unknown cipher suite or ALPN list.  The error text says which. */
#define RUDP_ERR_TLS_CONFIG -234

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
 * there is no global allocator state.  The exception is TLS: contexts and
 * each connection's TLS session use the C library and OpenSSL's allocator
 * (rudp/rudp_tls.h).  All four functions are required and behave like
 * their C library namesakes; |user_data| is passed to each.
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

/* ------------------------------------------------------------ wire constants
 */

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
/** One side uses TLS and the other plain mode (librudp; not in QUIC). */
#define RUDP_TLS_MODE_MISMATCH 0x11u
/** RUDP_CRYPTO_ERROR(alert) carries a TLS alert (0x100 + alert). */
#define RUDP_CRYPTO_ERROR(alert) (0x100u + (uint8_t)(alert))

/* ------------------------------------------------------------ transport params
 */

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

/* ------------------------------------------------------------ connection IDs
 */

/**
 * `rudp_cid` is a connection ID of 0 to :macro:`RUDP_MAX_CIDLEN` bytes.
 * Connection IDs identify a connection independently of addresses: the
 * caller chooses random ones (RUDP_DEFAULT_CIDLEN bytes) for each new
 * connection.
 */
typedef struct rudp_cid {
  /** datalen is the length of |data| in use. */
  size_t datalen;
  /** data holds the ID's bytes. */
  uint8_t data[RUDP_MAX_CIDLEN];
} rudp_cid;

/* ------------------------------------------------------------ settings */

/** RUDP_URGENCY_MAX is the least urgent urgency (urgencies are 0 .. 7, 0
 *  the most urgent; see `rudp_conn_stream_set_priority`). */
#define RUDP_URGENCY_MAX 7
/** RUDP_DEFAULT_URGENCY is the urgency of a new stream and, by default,
 *  of the datagram queue (RFC 9218's default). */
#define RUDP_DEFAULT_URGENCY 3

/**
 * `rudp_cc_algo` selects a congestion controller.
 */
typedef enum rudp_cc_algo {
  /** NewReno (RFC 9002 section 7) with HyStart++ (RFC 9406). */
  RUDP_CC_RENO = 0,
  /** CUBIC (RFC 9438) with HyStart++ (RFC 9406), the default. */
  RUDP_CC_CUBIC = 1,
  /** No congestion control: no window, packets paced at
   *  `rudp_settings.max_rate` (required), whatever the losses.  ONLY for
   *  senders of a fixed rate known to fit the path (see max_rate). */
  RUDP_CC_NONE = 2
} rudp_cc_algo;

/**
 * `rudp_settings` configures a connection.  Fill it with
 * `rudp_settings_default` and change what you need; the connection copies
 * it.  Durations are nanoseconds.
 */
typedef struct rudp_settings {
  /** connect_retries is how many times a CONNECT is retransmitted before
   *  the attempt fails with :macro:`RUDP_ERR_HANDSHAKE_TIMEOUT` (default 6,
   *  like Linux tcp_syn_retries). */
  unsigned connect_retries;
  /** connect_timeout is the first CONNECT retransmission timeout; it
   *  doubles after each retransmission (default 1 s). */
  rudp_duration connect_timeout;
  /** handshake_timeout bounds a server's half-open connection: if the
   *  client's first ACK (in TLS mode: its Finished) has not arrived by
   *  then, it is dropped (default 10 s).  In TLS mode it also bounds a
   *  client whose handshake stalls after the first ACCEPT
   *  (:macro:`RUDP_ERR_HANDSHAKE_TIMEOUT`). */
  rudp_duration handshake_timeout;
  /** idle_timeout closes the connection silently after this long without
   *  receiving anything; the smaller of both sides' values applies, but at
   *  least 3 PTO (default 30 s; 0 disables it). */
  rudp_duration idle_timeout;
  /** keepalive_interval sends a PING after this long without sending
   *  anything ack-eliciting (default 0: off).  Keep it below idle_timeout. */
  rudp_duration keepalive_interval;
  /** linger_timeout bounds how long a graceful close waits for sent data
   *  to be acknowledged before closing anyway (default 10 s). */
  rudp_duration linger_timeout;
  /** initial_rtt is the RTT assumed before the first sample
   *  (default 333 ms, RFC 9002's kInitialRtt). */
  rudp_duration initial_rtt;
  /** max_ack_delay is the longest this side delays an ACK (default 25 ms).
   */
  rudp_duration max_ack_delay;
  /** ack_delay_exponent scales the ACK delay field (default 3). */
  uint64_t ack_delay_exponent;
  /** ack_eliciting_threshold: ACK after this many ack-eliciting packets
   *  (default 2). */
  size_t ack_eliciting_threshold;
  /** ack_ranges is how many ACK ranges (SACK blocks) are tracked and sent
   *  (default 32). */
  size_t ack_ranges;
  /** max_udp_payload_size is the largest UDP payload this side accepts
   *  (advertised to the peer; default 65527). */
  size_t max_udp_payload_size;
  /** tx_udp_payload_size is the size of the datagrams this side sends,
   *  capped by what the peer accepts (default 1200, the size every path
   *  carries; raise it on known paths such as loopback). */
  size_t tx_udp_payload_size;
  /** pmtud_max_udp_payload_size turns on path MTU discovery (RFC 8899
   *  DPLPMTUD, docs/PROTOCOL.md): once the handshake is confirmed the
   *  connection probes larger datagrams (1452 and 1472 bytes for 1500-byte
   *  Ethernet, 8952 and 8972 for jumbo frames, then 16 KiB, ...) up to this
   *  size and the peer's max_udp_payload_size, and sends at the largest
   *  size acknowledged.  Probes are PING plus padding, one in flight at a
   *  time, inside the congestion window; their loss is not a congestion
   *  signal.  Fewer, larger datagrams cut the per-packet cost (on loopback,
   *  whose MTU is 64 KiB, bulk transfer runs about twice as fast with
   *  16 KiB datagrams).  Larger datagrams mean each loss costs more bytes,
   *  and a datagram above the path MTU is lost, never fragmented: the
   *  search backs off, and a path whose MTU shrinks (a black hole: probe
   *  timeouts with nothing acknowledged) drops back to tx_udp_payload_size
   *  and searches again.  0 turns discovery off: every datagram is
   *  tx_udp_payload_size bytes.  Default 16384; at most
   *  RUDP_MAX_UDP_PAYLOAD.  Datagram frames (rudp_conn_send_datagram) keep
   *  the size fixed at the handshake whatever the search finds. */
  size_t pmtud_max_udp_payload_size;
  /** initial_max_data is the connection receive window (default 1 MiB). */
  uint64_t initial_max_data;
  /** initial_max_stream_data is each stream's receive window
   *  (default 256 KiB). */
  uint64_t initial_max_stream_data;
  /** max_window and max_stream_window are the ceilings the receive windows
   *  auto-tune up to (defaults 24 MiB and 16 MiB). */
  uint64_t max_window;
  uint64_t max_stream_window;
  /** max_streams_bidi and max_streams_uni are how many streams of each
   *  kind the peer may have open at once (default 100 each). */
  uint64_t max_streams_bidi;
  uint64_t max_streams_uni;
  /** max_stream_send_buffer bounds the bytes written to one stream but not
   *  yet acknowledged; beyond it writes return
   *  :macro:`RUDP_ERR_WOULDBLOCK` (default 4 MiB).  Referenced data
   *  (`rudp_conn_stream_write_ref`) is not bounded by it. */
  uint64_t max_stream_send_buffer;
  /** max_send_buffer bounds the bytes written to all the connection's
   *  streams together, copied and referenced, and not yet acknowledged
   *  (default 16 MiB, four streams at the default max_stream_send_buffer;
   *  at least 1).  A copying write takes what fits under both bounds and
   *  returns :macro:`RUDP_ERR_WOULDBLOCK` when nothing does; a referenced
   *  write is taken whole while the connection holds less than this
   *  bound, and refused with RUDP_ERR_WOULDBLOCK at or above it.
   *  `stream_writable` follows once the connection's bytes fall to half
   *  of it.  Raise it with max_stream_send_buffer for many parallel bulk
   *  streams (each needs a window's worth buffered to keep its pace). */
  uint64_t max_send_buffer;
  /** max_datagram_frame_size is the largest DATAGRAM frame accepted
   *  (default 1200; 0 refuses datagrams). */
  size_t max_datagram_frame_size;
  /** datagram_queue_len bounds the unreliable datagrams queued for
   *  sending; when full, the oldest is dropped and counted (default 64). */
  size_t datagram_queue_len;
  /** cc_algo selects the congestion controller (default RUDP_CC_CUBIC). */
  rudp_cc_algo cc_algo;
  /** loss_tolerant nonzero (the default) has RUDP_CC_CUBIC and
   *  RUDP_CC_RENO take a loss for congestion only with a sign of it: a
   *  standing queue (the RTT samples of the last smoothed RTT all above
   *  min_rtt by more than max(min_rtt / 16, 250 us); in slow start the
   *  latest and smoothed RTT, by min_rtt / 8), more than 1/8 of the
   *  bytes of the last two round trips lost, or persistent congestion.
   *  Random loss on a path without a queue (radio links, lossy long-haul
   *  paths) then leaves the window alone instead of holding the flow to
   *  the Mathis limit of the loss rate.  A drop-tail bottleneck drops only
   *  when its queue is full, so congestion still gets the algorithm's
   *  standard response, and such a flow shares a bottleneck with
   *  standard ones (TCP) as a standard one does (docs/PROTOCOL.md 10.4).
   *  Cost: behind a queue too short to raise the RTT by that margin, or
   *  an AQM that drops early without ECN, the flow reduces only at a loss
   *  rate above 1/8: many more retransmissions, and more than its share
   *  against standard flows.  0: every loss event reduces the window
   *  (RFC 9002, RFC 9438).
   */
  int loss_tolerant;
  /** tls turns TLS 1.3 on (include/rudp/rudp_tls.h): NULL (the default)
   *  is plain mode.  The connection takes its own reference to the
   *  context.  Both sides must use the same mode: a mismatch fails the
   *  handshake with :macro:`RUDP_ERR_TLS_MODE_MISMATCH`. */
  struct rudp_tls_ctx *tls;
  /** tls_server_name (client, TLS): the host name or IP address literal
   *  the server's certificate must name; also sent as SNI (host names
   *  only) and the key of the session cache.  Copied when the connection
   *  is created.  NULL: no name check (only with a pin or insecure). */
  const char *tls_server_name;
  /** key_update_interval (TLS): start a key update after this many
   *  packets sent with one key (default 2^22, below AES-GCM's
   *  confidentiality limit of 2^23 in RFC 9001 6.6; 0: never). */
  uint64_t key_update_interval;

  /* Priorities and low-latency tuning (docs/PRIORITIES.md).  Every
   * default keeps the behaviour of RFC 9000/9002; each field says what it
   * costs to change it.  `rudp_settings_low_latency` sets a bundle. */

  /** datagram_urgency is the urgency (0 most urgent .. 7) of the
   *  unreliable datagram queue in the send scheduler, among the streams'
   *  urgencies (see `rudp_conn_stream_set_priority`); default 3, the
   *  streams' default, so datagrams and streams take turns.  Change it
   *  later with `rudp_conn_set_datagram_urgency`. */
  uint8_t datagram_urgency;
  /** ack_immediately nonzero acknowledges every ack-eliciting packet at
   *  once (no ACK delay; ack_eliciting_threshold and max_ack_delay are
   *  ignored, and max_ack_delay 0 is advertised, so the peer's probe
   *  timeout, which adds it, shrinks by the usual 25 ms).  Cost: one ACK
   *  packet per data packet received instead of one per two, about
   *  twice the packets and CPU on the return path of a bulk transfer,
   *  which matters on asymmetric links (cellular, DOCSIS).  Default 0. */
  int ack_immediately;
  /** min_rto is the floor of the variable part of the probe timeout:
   *  PTO = smoothed_rtt + max(4 * rttvar, min_rto) + max_ack_delay,
   *  doubled at each consecutive expiry.  0 or the default 1 ms is
   *  RFC 9002's kGranularity.  Lower (down to 1 us) on a steady
   *  low-latency path retransmits a lost tail sooner, but below the
   *  timer precision of the event loop and the RTT jitter it sends
   *  spurious probes; higher (TCP uses 200 ms) trades recovery time for
   *  fewer spurious retransmissions on jittery paths.  At most 60 s. */
  rudp_duration min_rto;
  /** packet_threshold is the reordering threshold of loss detection
   *  (kPacketThreshold, RFC 9002 section 6.1.1): a packet is declared
   *  lost, and retransmitted at once ("fast retransmit"), when a packet
   *  sent this many packets after it is acknowledged.  0 or the default
   *  3 is RFC 9002's; 1 or 2 retransmit a loss sooner (after one or two
   *  later packets arrive instead of three) but take any reordering of
   *  that depth on the path for a loss: spurious retransmissions, and
   *  with Reno/CUBIC a needless window reduction (undone when the
   *  original's ACK arrives).  At most 1000. */
  uint32_t packet_threshold;
  /** time_threshold is the time threshold of loss detection in 1/1000 of
   *  an RTT (kTimeThreshold, RFC 9002 section 6.1.2): a packet is
   *  declared lost once a later one was acknowledged and this much of
   *  max(smoothed_rtt, latest_rtt) passed since it was sent.  0 or the
   *  default 1125 is RFC 9002's 9/8; lower (down to 1000) detects a loss
   *  sooner when fewer than packet_threshold packets follow it, at the
   *  price of spurious losses when the RTT varies by more than the
   *  margin; higher tolerates more jitter.  At most 8000. */
  uint32_t time_threshold;
  /** max_rate caps the sending rate in bytes per second (UDP payload
   *  bytes; pacing never exceeds it, probes included); 0 (the default)
   *  is no cap.  With RUDP_CC_CUBIC or RUDP_CC_RENO the congestion
   *  controller still decides below the cap.  With RUDP_CC_NONE it is
   *  required and is the rate: packets leave at max_rate (after a first
   *  burst of 10 packets), with no window and no reaction to loss, ECN or
   *  delay.  DANGER: a rate above what the path carries fills the
   *  bottleneck queue and loses packets without ever slowing down,
   *  starving every other flow on the path and the connection's own
   *  retransmissions; only flow control bounds the data in flight.  Use
   *  RUDP_CC_NONE only for a sender whose rate is fixed and known to fit
   *  (a game's 60 Hz state updates, a constant-bitrate stream), on paths
   *  you control. */
  uint64_t max_rate;
} rudp_settings;

/**
 * `rudp_settings_default` fills |settings| with the defaults documented
 * on each field.  |settings| must not be NULL.
 */
RUDP_EXTERN void rudp_settings_default(rudp_settings *settings);

/**
 * `rudp_settings_low_latency` changes |settings| (already filled, e.g. by
 * `rudp_settings_default`) for interactive traffic, in the spirit of
 * KCP's no-delay mode: ack_immediately = 1 (no ACK delay, and none
 * added to the peer's probe timeout) and packet_threshold = 2 (fast
 * retransmit after two later packets instead of three).  min_rto and
 * time_threshold keep RFC 9002's values: the probe timeout has no large
 * floor to lower (KCP's 100 ms minimum RTO has no counterpart; its
 * largest fixed term is the peer's ACK delay, which ack_immediately
 * removes).  Congestion control stays on: set cc_algo = RUDP_CC_NONE and
 * max_rate yourself if, and only if, the sender has a fixed rate.  Use
 * it on both sides: each side's ACK policy sets how fast the other
 * recovers.  docs/PRIORITIES.md weighs each change.  |settings| must not
 * be NULL.
 */
RUDP_EXTERN void rudp_settings_low_latency(rudp_settings *settings);

/* ------------------------------------------------------------ callbacks */

/**
 * `rudp_conn` is one connection (opaque).  It is not thread-safe: use one
 * connection from one thread at a time.
 */
typedef struct rudp_conn rudp_conn;

/**
 * `rudp_callbacks` lets a connection tell the application what happened.
 * Every callback is optional (NULL: not called).  Each returns 0, or
 * :macro:`RUDP_ERR_CALLBACK_FAILURE` to make the calling function fail with
 * that fatal code.  Callbacks are called from inside `rudp_conn_read_pkt`,
 * `rudp_conn_write_pkt`, `rudp_conn_handle_expiry` and the stream calls;
 * they may call the stream read and write functions but must not delete the
 * connection.  |user_data| is the pointer given to the constructor.
 */
typedef struct rudp_callbacks {
  /** handshake_completed: the connection is established (client: ACCEPT
   *  arrived; server: the client's first ACK arrived). */
  int (*handshake_completed)(rudp_conn *conn, void *user_data);
  /** stream_opened: the peer opened stream |stream_id|. */
  int (*stream_opened)(rudp_conn *conn, int64_t stream_id, void *user_data);
  /** stream_readable: data or the end of stream |stream_id| can be read
   *  with `rudp_conn_stream_read`. */
  int (*stream_readable)(rudp_conn *conn, int64_t stream_id, void *user_data);
  /** stream_writable: stream |stream_id| can take more data after a write
   *  returned :macro:`RUDP_ERR_WOULDBLOCK` or took less than asked: its
   *  unacknowledged bytes fell to half of max_stream_send_buffer or, when
   *  the connection's bound held the write back, the connection's fell to
   *  half of max_send_buffer (the streams it held back are called in the
   *  order they were refused, until one write fills it again).  Called
   *  once per refusal. */
  int (*stream_writable)(rudp_conn *conn, int64_t stream_id, void *user_data);
  /** stream_reset: the peer aborted its sending side of |stream_id| with
   *  |app_error_code| (RESET_STREAM); data not yet read is discarded. */
  int (*stream_reset)(rudp_conn *conn, int64_t stream_id,
                      uint64_t app_error_code, void *user_data);
  /** stream_stop_sending: the peer asked this side to stop sending on
   *  |stream_id| (STOP_SENDING); librudp resets the stream with the same
   *  code after this returns. */
  int (*stream_stop_sending)(rudp_conn *conn, int64_t stream_id,
                             uint64_t app_error_code, void *user_data);
  /** stream_closed: both directions of |stream_id| are finished and its
   *  state is freed; the ID is no longer valid. */
  int (*stream_closed)(rudp_conn *conn, int64_t stream_id, void *user_data);
  /** stream_data_released: the referenced buffer |data| (|len| bytes)
   *  handed over with `rudp_conn_stream_write_ref` (with |ref|) is no
   *  longer used by librudp: acknowledged, or the stream was reset, or the
   *  connection was deleted.  The application may free or reuse it. */
  void (*stream_data_released)(rudp_conn *conn, int64_t stream_id,
                               const uint8_t *data, size_t len, void *ref,
                               void *user_data);
  /** datagram_received: an unreliable datagram arrived (boundaries kept).
   *  |data| is valid only during the call. */
  int (*datagram_received)(rudp_conn *conn, const uint8_t *data, size_t len,
                           void *user_data);
  /** streams_available: the peer raised the stream limit (or announced
   *  it: this is also called right after handshake_completed for each kind
   *  the peer allows); opening a stream of that kind (|bidi| nonzero:
   *  bidirectional) may succeed now. */
  int (*streams_available)(rudp_conn *conn, int bidi, void *user_data);
  /** closed: the connection reached its final state; |error| is 0 after a
   *  clean close, or the RUDP_ERR_* code that ended it (see
   *  `rudp_conn_get_close_info`).  Delete the connection afterwards. */
  void (*closed)(rudp_conn *conn, int error, void *user_data);
} rudp_callbacks;

/* ------------------------------------------------------------ connection */

/**
 * `rudp_conn_state` is a connection's state; docs/PROTOCOL.md maps each to
 * TCP's states.
 */
typedef enum rudp_conn_state {
  /** Client: CONNECT sent, waiting for ACCEPT (TCP's SYN_SENT). */
  RUDP_CONN_STATE_CONNECT_SENT = 0,
  /** Server: ACCEPT sent, waiting for the client's ACK (SYN_RCVD). */
  RUDP_CONN_STATE_ACCEPT_SENT = 1,
  /** Data flows both ways (ESTABLISHED). */
  RUDP_CONN_STATE_ESTABLISHED = 2,
  /** A graceful close waits for sent data to be acknowledged
   *  (FIN_WAIT_1). */
  RUDP_CONN_STATE_LINGER = 3,
  /** This side sent CONNECTION_CLOSE and waits 3 PTO (TIME_WAIT). */
  RUDP_CONN_STATE_CLOSING = 4,
  /** The peer sent CONNECTION_CLOSE; waiting 3 PTO, silent. */
  RUDP_CONN_STATE_DRAINING = 5,
  /** Finished; only `rudp_conn_del` remains. */
  RUDP_CONN_STATE_CLOSED = 6
} rudp_conn_state;

/**
 * `rudp_conn_client_new` creates a client connection and queues its
 * CONNECT; call `rudp_conn_write_pkt` to send it.  |dcid| is a random
 * connection ID for the first packet (at least 8 bytes), |scid| this
 * side's own random ID (the server sends to it).  |settings| must not be
 * NULL and is copied; |callbacks| may be NULL and is copied.  If |mem| is
 * NULL the default allocator is used.  Call `rudp_conn_del` to free
 * |*pconn|.
 *
 * Returns 0, :macro:`RUDP_ERR_INVALID_ARGUMENT` (a NULL argument, a bad
 * setting or CID length; with TLS: a server context, or no
 * `tls_server_name` while the context verifies names),
 * :macro:`RUDP_ERR_TLS_UNAVAILABLE` or :macro:`RUDP_ERR_NOMEM`.
 */
RUDP_EXTERN int rudp_conn_client_new(rudp_conn **pconn, const rudp_cid *dcid,
                                     const rudp_cid *scid,
                                     const rudp_settings *settings,
                                     const rudp_callbacks *callbacks,
                                     const rudp_mem *mem, void *user_data,
                                     rudp_tstamp now);

/**
 * `rudp_conn_server_new` creates the server side of a connection for a
 * CONNECT datagram; pass that datagram to `rudp_conn_read_pkt` next.
 * |client_scid| is the CONNECT's source connection ID, |original_dcid| its
 * destination connection ID, |scid| this side's new random ID.  Other
 * arguments as for `rudp_conn_client_new`.
 *
 * Returns 0, :macro:`RUDP_ERR_INVALID_ARGUMENT` or :macro:`RUDP_ERR_NOMEM`.
 */
RUDP_EXTERN int
rudp_conn_server_new(rudp_conn **pconn, const rudp_cid *client_scid,
                     const rudp_cid *original_dcid, const rudp_cid *scid,
                     const rudp_settings *settings,
                     const rudp_callbacks *callbacks, const rudp_mem *mem,
                     void *user_data, rudp_tstamp now);

/**
 * `rudp_conn_del` frees |conn| and everything it holds, calling
 * `stream_data_released` for referenced buffers still held.  It sends
 * nothing: close first for a graceful end.  |conn| may be NULL.
 */
RUDP_EXTERN void rudp_conn_del(rudp_conn *conn);

/**
 * `rudp_conn_read_pkt` processes one received UDP datagram (|datalen|
 * bytes at |data|, owned by the caller, not kept) at time |now|.  Packets
 * that are malformed, fail their integrity check, are duplicates or belong
 * to another connection are dropped and counted (see `rudp_conn_stats`).
 * A protocol violation by the peer makes the connection close with the
 * matching error (`rudp_conn_get_close_info`); the call still returns 0.
 *
 * Returns 0, or :macro:`RUDP_ERR_INVALID_STATE` (the connection is
 * closed), or a fatal code (:macro:`RUDP_ERR_NOMEM`,
 * :macro:`RUDP_ERR_CALLBACK_FAILURE`) after which the connection must be
 * deleted.
 */
RUDP_EXTERN int rudp_conn_read_pkt(rudp_conn *conn, const uint8_t *data,
                                   size_t datalen, rudp_tstamp now);

/**
 * `rudp_conn_write_pkt` writes the next datagram to send into |out|
 * (|outlen| bytes; at least 1200 is needed during the handshake) at time
 * |now|.  Call it repeatedly until it returns 0, then wait until
 * `rudp_conn_get_expiry` or until a datagram arrives.
 *
 * Returns the datagram's length, 0 if nothing is to be sent now (no data,
 * congestion/flow control or pacing holds it back, or |outlen| is too small
 * for the next packet: give at least the connection's datagram size,
 * `tx_udp_payload_size`), or a fatal error code.
 */
RUDP_EXTERN rudp_ssize rudp_conn_write_pkt(rudp_conn *conn, uint8_t *out,
                                           size_t outlen, rudp_tstamp now);

/**
 * `rudp_conn_get_expiry` returns when `rudp_conn_handle_expiry` must be
 * called next (ACK delay, loss detection, retransmission, keepalive, idle
 * and close timers), or :macro:`RUDP_TSTAMP_MAX` if no timer is armed.
 */
RUDP_EXTERN rudp_tstamp rudp_conn_get_expiry(const rudp_conn *conn);

/**
 * `rudp_conn_handle_expiry` runs the timers due at |now|; afterwards call
 * `rudp_conn_write_pkt` to send whatever they queued.  Returns 0 or a fatal
 * error code.
 */
RUDP_EXTERN int rudp_conn_handle_expiry(rudp_conn *conn, rudp_tstamp now);

/** `rudp_conn_get_state` returns |conn|'s state. */
RUDP_EXTERN rudp_conn_state rudp_conn_get_state(const rudp_conn *conn);

/**
 * `rudp_conn_is_established` returns nonzero in the ESTABLISHED and LINGER
 * states: the handshake completed and no CONNECTION_CLOSE was sent or
 * received yet.
 */
RUDP_EXTERN int rudp_conn_is_established(const rudp_conn *conn);

/**
 * `rudp_conn_get_scid` and `rudp_conn_get_dcid` return this side's
 * connection ID and the one packets are currently sent to.  The pointers
 * stay valid for the connection's life.
 */
RUDP_EXTERN const rudp_cid *rudp_conn_get_scid(const rudp_conn *conn);
/** See `rudp_conn_get_scid`. */
RUDP_EXTERN const rudp_cid *rudp_conn_get_dcid(const rudp_conn *conn);

/**
 * `rudp_conn_get_peer_params` returns the peer's transport parameters
 * (valid once the handshake has delivered them), or NULL before.
 */
RUDP_EXTERN const rudp_transport_params *
rudp_conn_get_peer_params(const rudp_conn *conn);

/* ------------------------------------------------------------ streams */

/**
 * `rudp_conn_open_stream` opens a new stream, bidirectional if |bidi| is
 * nonzero, and stores its ID in |*pstream_id|.  The peer's limits are
 * known once the handshake completes (`handshake_completed`); before that
 * every attempt returns :macro:`RUDP_ERR_STREAM_LIMIT`.
 *
 * Returns 0, :macro:`RUDP_ERR_STREAM_LIMIT` (the peer's MAX_STREAMS is
 * reached, or not known yet; wait for `streams_available` or
 * `handshake_completed`), :macro:`RUDP_ERR_INVALID_STATE` (closing) or
 * :macro:`RUDP_ERR_NOMEM`.
 */
RUDP_EXTERN int rudp_conn_open_stream(rudp_conn *conn, int bidi,
                                      int64_t *pstream_id);

/**
 * `rudp_conn_stream_write` copies up to |len| bytes of |data| to stream
 * |stream_id|'s send buffer; |fin| nonzero ends the stream after them
 * (half-close: the receiving direction stays open).  FIN is applied only
 * if all |len| bytes were taken.  |data| may be NULL when |len| is 0.
 *
 * Returns the number of bytes taken (possibly fewer than |len| when the
 * stream's send buffer, max_stream_send_buffer, or the connection's,
 * max_send_buffer, is nearly full), or :macro:`RUDP_ERR_WOULDBLOCK` (no
 * room: wait for `stream_writable`), :macro:`RUDP_ERR_STREAM_NOT_FOUND`,
 * :macro:`RUDP_ERR_STREAM_STATE` (the sending side is finished or reset,
 * or the stream is receive-only), :macro:`RUDP_ERR_INVALID_STATE`
 * (closing) or :macro:`RUDP_ERR_NOMEM`.
 */
RUDP_EXTERN rudp_ssize rudp_conn_stream_write(rudp_conn *conn,
                                              int64_t stream_id,
                                              const uint8_t *data, size_t len,
                                              int fin);

/**
 * `rudp_conn_stream_write_ref` hands |len| bytes at |data| to stream
 * |stream_id| without copying.  On success librudp reads them until they
 * are acknowledged: the application must keep them valid and unchanged
 * until `stream_data_released` reports (|data|, |len|, |ref|).  On failure
 * nothing is kept and no callback follows.  The stream's bound
 * (max_stream_send_buffer) does not apply: the application owns the
 * memory.  The connection's does (max_send_buffer, which counts these
 * bytes too): the buffer is taken whole while the connection holds less
 * than the bound (so it may pass the bound by at most |len|), and
 * refused at or above it.
 *
 * Returns 0 or the errors of `rudp_conn_stream_write`:
 * :macro:`RUDP_ERR_WOULDBLOCK` means the connection holds max_send_buffer
 * bytes or more; wait for `stream_writable`.
 */
RUDP_EXTERN int rudp_conn_stream_write_ref(rudp_conn *conn, int64_t stream_id,
                                           const uint8_t *data, size_t len,
                                           void *ref, int fin);

/**
 * `rudp_conn_get_send_buffer_room` returns how many more bytes |conn|'s
 * streams may hold for sending now: settings.max_send_buffer minus the
 * bytes written to all its streams (copied or referenced) and not yet
 * acknowledged, or 0 at or above the bound.  A stream's own bound
 * (max_stream_send_buffer) may allow less.  O(1).
 */
RUDP_EXTERN uint64_t rudp_conn_get_send_buffer_room(const rudp_conn *conn);

/**
 * `rudp_conn_stream_read` copies up to |len| bytes received in order on
 * stream |stream_id| into |buf|, and sets |*pfin| nonzero when the end of
 * the stream has been reached (all data read).  Reading returns flow-control
 * credit to the peer.
 *
 * Returns the bytes copied (0 with |*pfin| set at the end of the stream),
 * :macro:`RUDP_ERR_WOULDBLOCK` (nothing to read yet),
 * :macro:`RUDP_ERR_STREAM_NOT_FOUND`, or :macro:`RUDP_ERR_STREAM_STATE`
 * (send-only stream, the peer reset it, or this side stopped it with
 * `rudp_conn_stream_stop_sending`).
 */
RUDP_EXTERN rudp_ssize rudp_conn_stream_read(rudp_conn *conn, int64_t stream_id,
                                             uint8_t *buf, size_t len,
                                             int *pfin);

/**
 * `rudp_conn_stream_shutdown` ends the sending side of |stream_id| (FIN
 * after the data already written), like shutdown(SHUT_WR).  Returns 0,
 * :macro:`RUDP_ERR_STREAM_NOT_FOUND` or :macro:`RUDP_ERR_STREAM_STATE`.
 */
RUDP_EXTERN int rudp_conn_stream_shutdown(rudp_conn *conn, int64_t stream_id);

/**
 * `rudp_conn_stream_reset` aborts the sending side of |stream_id|
 * (RESET_STREAM with |app_error_code|): unsent and unacknowledged data is
 * dropped.  Returns 0, :macro:`RUDP_ERR_STREAM_NOT_FOUND` or
 * :macro:`RUDP_ERR_STREAM_STATE`.
 */
RUDP_EXTERN int rudp_conn_stream_reset(rudp_conn *conn, int64_t stream_id,
                                       uint64_t app_error_code);

/**
 * `rudp_conn_stream_stop_sending` asks the peer to stop sending on
 * |stream_id| (STOP_SENDING with |app_error_code|); data still arriving is
 * discarded.  Returns 0, :macro:`RUDP_ERR_STREAM_NOT_FOUND` or
 * :macro:`RUDP_ERR_STREAM_STATE`.
 */
RUDP_EXTERN int rudp_conn_stream_stop_sending(rudp_conn *conn,
                                              int64_t stream_id,
                                              uint64_t app_error_code);

/**
 * `rudp_conn_stream_set_priority` sets the priority of stream |stream_id|'s
 * sending side: |urgency| 0 (most urgent) to :macro:`RUDP_URGENCY_MAX`,
 * and |incremental| (nonzero or 0), with RFC 9218's meaning (section 4),
 * applied by this side's send scheduler only (nothing is sent to the
 * peer):
 *
 * - After the control frames, each packet is filled strictly by urgency:
 *   no data of urgency u leaves while a stream (or the datagram queue)
 *   of a more urgent level has something it may send now.  A stream held
 *   back by flow control does not block less urgent ones.
 * - Within one urgency, incremental streams take turns, one frame each
 *   (round robin: fair in turns, not in bytes; a frame fills what is
 *   left of the packet); the non-incremental streams are sent one at a
 *   time in stream-ID order, each until it has nothing left to send, and
 *   as a group they take one turn of that round robin, like one
 *   incremental stream.  The datagram queue takes one turn too when its
 *   urgency (`rudp_conn_set_datagram_urgency`) is this one, so equal
 *   urgencies share packets and neither side starves the other.
 * - Retransmissions of a stream's data are sent at the stream's urgency.
 *
 * New streams are urgency :macro:`RUDP_DEFAULT_URGENCY` (3) and
 * incremental: with no priorities set, every stream and the datagram
 * queue take turns.  (RFC 9218's default is non-incremental; incremental
 * keeps librudp's round robin for applications that set nothing.)  The
 * change applies from the next packet built, also to data already
 * written.  O(log n) in the streams queued.
 *
 * Returns 0, :macro:`RUDP_ERR_INVALID_ARGUMENT` (|urgency| above 7),
 * :macro:`RUDP_ERR_STREAM_NOT_FOUND` or :macro:`RUDP_ERR_STREAM_STATE`
 * (the stream has no sending side: the peer's unidirectional stream).
 */
RUDP_EXTERN int rudp_conn_stream_set_priority(rudp_conn *conn,
                                              int64_t stream_id,
                                              unsigned urgency,
                                              int incremental);

/**
 * `rudp_conn_stream_get_priority` stores stream |stream_id|'s urgency in
 * |*purgency| and its incremental flag (0 or 1) in |*pincremental|; either
 * pointer may be NULL.  Returns 0 or :macro:`RUDP_ERR_STREAM_NOT_FOUND`.
 */
RUDP_EXTERN int rudp_conn_stream_get_priority(const rudp_conn *conn,
                                              int64_t stream_id,
                                              unsigned *purgency,
                                              int *pincremental);

/* ------------------------------------------------------------ datagrams */

/**
 * `rudp_conn_set_datagram_urgency` sets the urgency (0 .. 7) of the
 * unreliable datagram queue in the send scheduler (see
 * `rudp_conn_stream_set_priority`; the queue is one incremental member of
 * its urgency, each turn writing its oldest datagram).  The initial value is
 * settings.datagram_urgency (default 3).  Returns 0 or
 * :macro:`RUDP_ERR_INVALID_ARGUMENT`.
 */
RUDP_EXTERN int rudp_conn_set_datagram_urgency(rudp_conn *conn,
                                               unsigned urgency);

/**
 * `rudp_conn_send_datagram` queues an unreliable datagram of |len| bytes
 * (copied).  It is sent once, never retransmitted, in its own DATAGRAM
 * frame (boundaries kept).  When the queue (settings.datagram_queue_len)
 * is full the oldest queued datagram is dropped and counted.
 *
 * Returns 0, :macro:`RUDP_ERR_DATAGRAM_TOO_LARGE` (beyond what the peer
 * accepts, or the peer accepts none), :macro:`RUDP_ERR_INVALID_STATE`
 * (handshake not complete, or closing) or :macro:`RUDP_ERR_NOMEM`.
 */
RUDP_EXTERN int rudp_conn_send_datagram(rudp_conn *conn, const uint8_t *data,
                                        size_t len);

/**
 * `rudp_conn_get_max_datagram_size` returns the largest |len|
 * `rudp_conn_send_datagram` accepts on |conn|: what the peer's
 * max_datagram_frame_size and the datagram size fixed at the handshake
 * leave after the frame and packet headers.  It does not change for the
 * life of the connection (path MTU discovery does not raise it).  Returns 0
 * before the handshake completes, when closing, or when the peer accepts no
 * datagrams.
 */
RUDP_EXTERN size_t rudp_conn_get_max_datagram_size(const rudp_conn *conn);

/* ------------------------------------------------------------ closing */

/**
 * `rudp_conn_close` starts a graceful close: no new streams or writes;
 * data already written keeps being sent until acknowledged (at most
 * settings.linger_timeout), then CONNECTION_CLOSE (NO_ERROR) is sent and the
 * connection stays closing for 3 PTO.  Returns 0 or
 * :macro:`RUDP_ERR_INVALID_STATE` (already closing).
 */
RUDP_EXTERN int rudp_conn_close(rudp_conn *conn, rudp_tstamp now);

/**
 * `rudp_conn_abort` closes at once with application error |app_error_code|
 * and an optional |reason| (NUL-terminated, may be NULL; at most 127 bytes
 * are sent, the size of `rudp_conn_close_info`'s reason): CONNECTION_CLOSE
 * (0x1d) is queued, unsent data is dropped.
 * Returns 0 or :macro:`RUDP_ERR_INVALID_STATE`.
 */
RUDP_EXTERN int rudp_conn_abort(rudp_conn *conn, uint64_t app_error_code,
                                const char *reason, rudp_tstamp now);

/**
 * `rudp_conn_close_info` says why a connection closed.
 */
typedef struct rudp_conn_close_info {
  /** error is 0 for a clean close, else the RUDP_ERR_* code: e.g.
   *  RUDP_ERR_IDLE_CLOSE, RUDP_ERR_HANDSHAKE_TIMEOUT,
   *  RUDP_ERR_CONNECTION_REFUSED, RUDP_ERR_PEER_CLOSED (the peer closed with
   *  an error), or the local detection of a violation (RUDP_ERR_PROTO,
   *  RUDP_ERR_FLOW_CONTROL, ...). */
  int error;
  /** local is nonzero if this side initiated the close. */
  int local;
  /** app is nonzero if |wire_error| is an application error code. */
  int app;
  /** wire_error is the error code sent or received in CONNECTION_CLOSE. */
  uint64_t wire_error;
  /** reason is the reason phrase sent or received (NUL-terminated,
   *  truncated to fit). */
  char reason[128];
} rudp_conn_close_info;

/**
 * `rudp_conn_get_close_info` fills |info| (error 0 and empty reason while
 * the connection is open).
 */
RUDP_EXTERN void rudp_conn_get_close_info(const rudp_conn *conn,
                                          rudp_conn_close_info *info);

/* ------------------------------------------------------------ statistics */

/**
 * `rudp_conn_stats` are a connection's counters and estimates.
 */
typedef struct rudp_conn_stats {
  /** latest_rtt, srtt, rttvar, min_rtt: RTT estimates (ns). */
  rudp_duration latest_rtt;
  rudp_duration srtt;
  rudp_duration rttvar;
  rudp_duration min_rtt;
  /** cwnd, ssthresh (UINT64_MAX: none yet), bytes_in_flight: bytes. */
  uint64_t cwnd;
  uint64_t ssthresh;
  uint64_t bytes_in_flight;
  /** delivery_rate is the latest delivery-rate sample (bytes/s). */
  uint64_t delivery_rate;
  /** pkts_sent, bytes_sent: datagrams and bytes sent. */
  uint64_t pkts_sent;
  uint64_t bytes_sent;
  /** pkts_recv, bytes_recv: datagrams and bytes received and accepted. */
  uint64_t pkts_recv;
  uint64_t bytes_recv;
  /** pkts_lost: packets declared lost. */
  uint64_t pkts_lost;
  /** pkts_retransmitted: packets that carried retransmitted data. */
  uint64_t pkts_retransmitted;
  /** bytes_retransmitted: stream bytes sent more than once. */
  uint64_t bytes_retransmitted;
  /** spurious_losses: packets declared lost then acknowledged. */
  uint64_t spurious_losses;
  /** pto_count: probe timeouts fired. */
  uint64_t pto_count;
  /** pkts_dropped: received packets dropped (malformed, failed integrity,
   *  duplicate, wrong connection). */
  uint64_t pkts_dropped;
  /** pkts_duplicate: the duplicates among pkts_dropped. */
  uint64_t pkts_duplicate;
  /** pkts_bad_integrity: the integrity failures among pkts_dropped
   *  (CRC32C mismatch, or AEAD authentication failure in TLS mode). */
  uint64_t pkts_bad_integrity;
  /** pkts_undecryptable (TLS): short packets dropped because their keys
   *  were not available yet (before the server's handshake completed). */
  uint64_t pkts_undecryptable;
  /** datagrams_sent, datagrams_recv, datagrams_dropped (queue full or
   *  lost). */
  uint64_t datagrams_sent;
  uint64_t datagrams_recv;
  uint64_t datagrams_dropped;
  /** congestion_events: window reductions. */
  uint64_t congestion_events;
  /** streams_opened: streams opened by either side. */
  uint64_t streams_opened;
  /** pmtu is the UDP payload size data is sent at now (path MTU
   *  discovery raises it from tx_udp_payload_size). */
  uint64_t pmtu;
  /** pmtu_probes_sent, pmtu_probes_lost: path MTU probes (their losses are
   *  not in pkts_lost); pmtu_black_holes: times the size fell back to
   *  tx_udp_payload_size because large datagrams stopped getting through. */
  uint64_t pmtu_probes_sent;
  uint64_t pmtu_probes_lost;
  uint64_t pmtu_black_holes;
  /** losses_tolerated: loss events the loss-tolerant response
   *  (settings.loss_tolerant) did not take for congestion: no standing
   *  queue in the RTT and at most 1/8 of the round lost.  Each loss event
   *  is counted either here or, when it reduced the window, in
   *  congestion_events (one reduction per round trip takes several). */
  uint64_t losses_tolerated;
  /** send_buffered: stream bytes the application wrote that the peer has
   *  not acknowledged yet, over all streams (copied and zero-copy alike;
   *  bounded by settings.max_send_buffer plus the last write).  What a
   *  game polls to see data piling up behind the window or the peer's
   *  credit. */
  uint64_t send_buffered;
  /** datagrams_queued, datagram_bytes_queued: unreliable datagrams
   *  accepted by rudp_conn_send_datagram and not yet put in a packet
   *  (at most settings.datagram_queue_len; the oldest is dropped
   *  beyond, counted in datagrams_dropped). */
  uint64_t datagrams_queued;
  uint64_t datagram_bytes_queued;
  /** blocked_sent: DATA_BLOCKED and STREAM_DATA_BLOCKED frames sent: how
   *  often the peer's flow-control credit, not the network, held data
   *  back (a peer that never opens its window shows here, and in
   *  send_buffered staying at its bound). */
  uint64_t blocked_sent;
} rudp_conn_stats;

/** `rudp_conn_get_stats` fills |stats| with |conn|'s current values. */
RUDP_EXTERN void rudp_conn_get_stats(const rudp_conn *conn,
                                     rudp_conn_stats *stats);

/* ------------------------------------------------------------ endpoint */

/**
 * `rudp_endpoint` is many connections over one UDP socket (opaque), still
 * sans-I/O: the caller reads datagrams from its socket and passes them in
 * with their source address, and sends what `rudp_endpoint_write` gives it
 * to the address it names.  Datagrams are routed to connections by
 * connection ID (not by address, so a client whose NAT rebinds keeps its
 * connection).  A server endpoint listens: it answers CONNECTs within its
 * limits (a bounded half-open table and accept backlog, refusing cleanly
 * beyond them), validates client addresses with stateless RETRY tokens
 * when configured or under load, sends VERSION NEGOTIATION for unknown
 * versions, and answers packets for unknown connections with a
 * rate-limited stateless reset.  Not thread-safe: one endpoint per thread.
 */
typedef struct rudp_endpoint rudp_endpoint;

/** `rudp_retry_mode` says when a server validates addresses with RETRY. */
typedef enum rudp_retry_mode {
  /** When the half-open table is above retry_threshold (the default). */
  RUDP_RETRY_AUTO = 0,
  /** For every new connection. */
  RUDP_RETRY_ALWAYS = 1,
  /** Never. */
  RUDP_RETRY_NEVER = 2
} rudp_retry_mode;

/**
 * RUDP_STATELESS_RESET_KEYLEN is the length of
 * `rudp_endpoint_settings.stateless_reset_key`.
 */
#define RUDP_STATELESS_RESET_KEYLEN 32

/**
 * `rudp_endpoint_settings` configures an endpoint; fill it with
 * `rudp_endpoint_settings_default`.
 */
typedef struct rudp_endpoint_settings {
  /** conn is the settings of every connection the endpoint accepts, and of
   *  those it opens when `rudp_endpoint_connect` gets no settings. */
  rudp_settings conn;
  /** listen nonzero makes a server endpoint: it accepts connections. */
  int listen;
  /** cidlen is the length of the connection IDs this endpoint issues
   *  (8 by default; 4 to 20). */
  size_t cidlen;
  /** max_connections bounds the connections (default 4096). */
  size_t max_connections;
  /** max_half_open bounds the server's half-open connections (TCP's
   *  SYN_RCVD; default 256). */
  size_t max_half_open;
  /** accept_backlog bounds established connections not yet taken with
   *  `rudp_endpoint_accept` (default 128). */
  size_t accept_backlog;
  /** retry and retry_threshold: when to send RETRY (default AUTO above
   *  max_half_open / 2 half-open connections). */
  rudp_retry_mode retry;
  size_t retry_threshold;
  /** token_lifetime is how long a RETRY token stays valid, and the period
   *  of the secret rotation (default 10 s). */
  rudp_duration token_lifetime;
  /** stateless_reset_rate bounds stateless resets sent per second
   *  (default 100; 0 disables them). */
  uint64_t stateless_reset_rate;
  /** stateless_reset_key, used when has_stateless_reset_key is nonzero, is
   *  the key a listening endpoint derives its stateless reset tokens from
   *  (RFC 9000 10.3, "static key"; docs/PROTOCOL.md 8.7).  A reset ends a
   *  client's connection at once (RUDP_ERR_STATELESS_RESET) only if the
   *  endpoint that sends it has the key of the endpoint that accepted the
   *  connection.  Give the same key to a server that restarts (to every
   *  run of it), and to every worker of a `SO_REUSEPORT` group
   *  (docs/SCALING.md): their clients whose connections they no longer
   *  know then reconnect at once instead of waiting for their idle
   *  timeout.
   *
   *  The key MUST be secret and random: draw it once from a CSPRNG
   *  (RUDP_STATELESS_RESET_KEYLEN bytes, e.g. from getrandom(2)) and keep
   *  it with the server's other secrets.  Whoever knows it can end any
   *  connection of any endpoint that uses it, and so can every endpoint
   *  that shares it: two endpoints with the same key can end each other's
   *  connections, so share it only among endpoints of one service.  An
   *  all-zero key is refused (RUDP_ERR_INVALID_ARGUMENT from
   *  `rudp_endpoint_new`): it is a key left unset.
   *
   *  By default (has_stateless_reset_key 0) each endpoint draws a random
   *  key of its own from the `rand` callback when it is created, so its
   *  resets are recognised only for its own connections and not after a
   *  restart.  A client endpoint (listen 0) sends no resets and ignores
   *  the key.  The settings are copied by `rudp_endpoint_new`, so the
   *  caller may wipe its copy afterwards. */
  uint8_t stateless_reset_key[RUDP_STATELESS_RESET_KEYLEN];
  int has_stateless_reset_key;
} rudp_endpoint_settings;

/**
 * `rudp_endpoint_settings_default` fills |settings| with the defaults
 * documented on each field (and `rudp_settings_default` for conn).
 */
RUDP_EXTERN void
rudp_endpoint_settings_default(rudp_endpoint_settings *settings);

/**
 * `rudp_endpoint_callbacks` are the endpoint's own callbacks.
 */
typedef struct rudp_endpoint_callbacks {
  /** rand fills |len| bytes at |dest| with cryptographically strong random
   *  bytes (connection IDs, token secrets).  Required.  Returns 0, or
   *  RUDP_ERR_CALLBACK_FAILURE. */
  int (*rand)(uint8_t *dest, size_t len, void *user_data);
  /** accept_ready: a server connection completed its handshake and waits
   *  in the accept queue (take it with `rudp_endpoint_accept`).  Optional.
   */
  int (*accept_ready)(rudp_endpoint *ep, void *user_data);
  /** work_ready: the application gave a connection something to send
   *  (a stream write, a datagram, a close...): call `rudp_endpoint_write`
   *  soon.  Optional; I/O layers use it to schedule a flush. */
  void (*work_ready)(rudp_endpoint *ep, void *user_data);
} rudp_endpoint_callbacks;

/**
 * `rudp_endpoint_new` creates an endpoint.  |settings| must not be NULL
 * (copied).  |ep_callbacks| must not be NULL and must have `rand`
 * (copied).  |conn_callbacks| (may be NULL; copied) are given to every
 * connection of the endpoint; their |user_data| argument is the
 * connection's own (`rudp_conn_get_user_data`).  A server connection's
 * user data is NULL until the application sets it after
 * `rudp_endpoint_accept`; callbacks that come before (stream_opened for
 * data arriving with the handshake, or closed for a half-open connection
 * that timed out, RUDP_ERR_HANDSHAKE_TIMEOUT) see NULL.  |mem| NULL:
 * default allocator.  Call `rudp_endpoint_del` to free it.
 *
 * Returns 0, :macro:`RUDP_ERR_INVALID_ARGUMENT`, :macro:`RUDP_ERR_NOMEM`
 * or :macro:`RUDP_ERR_CALLBACK_FAILURE` (rand failed).
 */
RUDP_EXTERN int rudp_endpoint_new(rudp_endpoint **pep,
                                  const rudp_endpoint_settings *settings,
                                  const rudp_endpoint_callbacks *ep_callbacks,
                                  const rudp_callbacks *conn_callbacks,
                                  const rudp_mem *mem, void *user_data,
                                  rudp_tstamp now);

/**
 * `rudp_endpoint_del` frees |ep| and every connection it holds (sending
 * nothing, and without calling their `closed` callbacks: free what the
 * application attached to them, such as message sessions, first).  |ep|
 * may be NULL.
 */
RUDP_EXTERN void rudp_endpoint_del(rudp_endpoint *ep);

/**
 * `rudp_endpoint_read` processes one received datagram from |from|
 * (|fromlen| bytes: an AF_INET or AF_INET6 address).  Returns 0 (also when
 * the datagram was dropped: see `rudp_endpoint_stats`),
 * :macro:`RUDP_ERR_INVALID_ARGUMENT` (bad address), or a fatal code.
 */
RUDP_EXTERN int rudp_endpoint_read(rudp_endpoint *ep, const uint8_t *data,
                                   size_t datalen, const struct sockaddr *from,
                                   socklen_t fromlen, rudp_tstamp now);

/**
 * `rudp_endpoint_write` writes the next datagram to send into |out|
 * (|outlen| bytes, at least 1200) and its destination into |*to| /
 * |*tolen|.  Call it until it returns 0.  Returns the datagram's length, 0
 * if nothing is to be sent now, :macro:`RUDP_ERR_INVALID_ARGUMENT` (a NULL
 * argument or |outlen| below 1200), or a fatal code.
 */
RUDP_EXTERN rudp_ssize rudp_endpoint_write(rudp_endpoint *ep, uint8_t *out,
                                           size_t outlen,
                                           struct sockaddr_storage *to,
                                           socklen_t *tolen, rudp_tstamp now);

/**
 * `rudp_endpoint_get_expiry` returns when `rudp_endpoint_handle_expiry`
 * must be called next (the earliest timer of all connections; O(1)), or
 * :macro:`RUDP_TSTAMP_MAX`.
 */
RUDP_EXTERN rudp_tstamp rudp_endpoint_get_expiry(const rudp_endpoint *ep);

/**
 * `rudp_endpoint_handle_expiry` runs the timers due at |now| (O(log n) per
 * connection due) and frees connections that have closed.  Returns 0 or a
 * fatal code.
 */
RUDP_EXTERN int rudp_endpoint_handle_expiry(rudp_endpoint *ep, rudp_tstamp now);

/**
 * `rudp_endpoint_connect` opens a client connection to |to| and stores it
 * in |*pconn|; its CONNECT leaves with the next `rudp_endpoint_write`.
 * |settings| NULL uses the endpoint's.  |conn_user_data| is the
 * connection's user data.  The endpoint owns the connection: it is freed
 * after its `closed` callback returns (do not use the pointer after that),
 * or with the endpoint.
 *
 * Returns 0, :macro:`RUDP_ERR_INVALID_ARGUMENT`,
 * :macro:`RUDP_ERR_CONNECTION_REFUSED` (max_connections reached),
 * :macro:`RUDP_ERR_NOMEM` or :macro:`RUDP_ERR_CALLBACK_FAILURE`.
 */
RUDP_EXTERN int
rudp_endpoint_connect(rudp_endpoint *ep, const struct sockaddr *to,
                      socklen_t tolen, const rudp_settings *settings,
                      void *conn_user_data, rudp_conn **pconn, rudp_tstamp now);

/**
 * `rudp_endpoint_on_unreachable` reports that the network said |to| is
 * unreachable (an ICMP port-unreachable for a datagram sent there):
 * connections to |to| still in their handshake (CONNECT_SENT) end at once
 * with :macro:`RUDP_ERR_CONNECTION_REFUSED`, like connect() getting
 * ECONNREFUSED.  Established connections ignore it (ICMP is easily
 * forged; their own timers decide).  Returns the number of connections
 * ended.
 */
RUDP_EXTERN size_t rudp_endpoint_on_unreachable(rudp_endpoint *ep,
                                                const struct sockaddr *to,
                                                socklen_t tolen);

/**
 * `rudp_endpoint_accept` takes the oldest established connection from the
 * accept queue (like accept()), or returns NULL if there is none.  Set its
 * user data with `rudp_conn_set_user_data`.  Ownership as for
 * `rudp_endpoint_connect`.
 */
RUDP_EXTERN rudp_conn *rudp_endpoint_accept(rudp_endpoint *ep);

/**
 * `rudp_endpoint_stats` are an endpoint's counters.
 */
typedef struct rudp_endpoint_stats {
  /** connections, half_open, accept_queue: current counts. */
  uint64_t connections;
  uint64_t half_open;
  uint64_t accept_queue;
  /** accepted: connections established by the listener. */
  uint64_t accepted;
  /** refused: CONNECTs refused (table or backlog full, no listener). */
  uint64_t refused;
  /** retries_sent, tokens_invalid: RETRY packets sent, bad tokens seen. */
  uint64_t retries_sent;
  uint64_t tokens_invalid;
  /** version_negotiations_sent. */
  uint64_t version_negotiations_sent;
  /** stateless_resets_sent, and those held back by the rate limit. */
  uint64_t stateless_resets_sent;
  uint64_t stateless_resets_limited;
  /** datagrams_dropped: datagrams for no connection that drew no answer,
   *  or malformed. */
  uint64_t datagrams_dropped;
} rudp_endpoint_stats;

/** `rudp_endpoint_get_stats` fills |stats|. */
RUDP_EXTERN void rudp_endpoint_get_stats(const rudp_endpoint *ep,
                                         rudp_endpoint_stats *stats);

/**
 * `rudp_conn_get_user_data` and `rudp_conn_set_user_data` get and set the
 * pointer passed to |conn|'s callbacks.
 */
RUDP_EXTERN void *rudp_conn_get_user_data(const rudp_conn *conn);
/** See `rudp_conn_get_user_data`. */
RUDP_EXTERN void rudp_conn_set_user_data(rudp_conn *conn, void *user_data);

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
