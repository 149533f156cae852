/*
 * librudp: messages over a connection (channels for games and live
 * streaming).
 *
 * `rudp_msg_session` is a layer ON TOP of the public connection API of
 * rudp.h: it turns one `rudp_conn`'s streams and datagrams into messages
 * whose boundaries are kept, sent on numbered channels, each channel with
 * one delivery mode (like ENet's channels):
 *
 *   RUDP_MSG_RELIABLE_ORDERED      every message once, in send order
 *                                  (one stream per channel and direction)
 *   RUDP_MSG_RELIABLE_UNORDERED    every message once, each delivered as
 *                                  soon as it is complete: a lost packet of
 *                                  one message does not delay the others
 *                                  (one stream per message)
 *   RUDP_MSG_UNRELIABLE            at most once, never retransmitted, any
 *                                  order (datagrams, fragmented above one
 *                                  datagram and reassembled)
 *   RUDP_MSG_UNRELIABLE_SEQUENCED  as UNRELIABLE, but a message older than
 *                                  the newest delivered on its channel is
 *                                  dropped, never delivered late
 *
 * Like the core it is sans-I/O: it never touches a socket or a clock.  It
 * sends by calling the connection's stream and datagram functions, so what
 * it queues leaves with the connection's next `rudp_conn_write_pkt` (or the
 * libevent binding's next flush); it receives through the connection's
 * callbacks, which the application routes to it (section "routing").  Time
 * enters only through `rudp_msg_session_handle_expiry` (reassembly
 * timeouts).
 *
 * A session owns its connection's streams and datagrams: the application
 * must not open, read or write streams, nor send datagrams, on that
 * connection itself (the session's queued bytes rely on it).  Both sides must
 * declare the same channel table (same count, same mode for each index); each
 * side announces its table when the connection is established and a mismatch
 * fails the session with :macro:`RUDP_ERR_PROTO` on the side that notices it.
 * The wire format and a guide to choosing modes are in docs/MESSAGES.md.
 *
 * Not thread-safe: a session belongs to the thread of its connection.
 */
#ifndef RUDP_MSG_H
#define RUDP_MSG_H

#include <rudp/rudp.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ modes */

/**
 * `rudp_msg_mode` is a channel's delivery mode.  The values are sent on
 * the wire in the channel-table announcement: do not renumber them.
 */
typedef enum rudp_msg_mode {
  /** Reliable, in send order, boundaries kept.  Maps to one
   *  unidirectional stream per channel and direction carrying
   *  length-prefixed messages, opened with the channel's first message or
   *  before the first reliable-unordered message takes a stream (so that
   *  those cannot take every stream the peer allows).  A lost packet
   *  delays every later message of the channel until it is retransmitted
   *  (head-of-line blocking within the channel, never across channels). */
  RUDP_MSG_RELIABLE_ORDERED = 0,
  /** Reliable, delivered in completion order.  Maps to one unidirectional
   *  stream per message (opened, written, finished); messages wait in the
   *  session while the peer's stream limit is reached. */
  RUDP_MSG_RELIABLE_UNORDERED = 1,
  /** Unreliable: sent once in DATAGRAM frames, fragmented when larger
   *  than one datagram; a message is delivered only if every fragment
   *  arrived.  Messages may arrive in any order. */
  RUDP_MSG_UNRELIABLE = 2,
  /** Unreliable and sequenced: as RUDP_MSG_UNRELIABLE, but a message whose
   *  sequence number is below the newest delivered on its channel is
   *  dropped and counted (`rudp_msg_channel_stats.dropped_old`).  The mode
   *  for state snapshots: only the latest matters. */
  RUDP_MSG_UNRELIABLE_SEQUENCED = 3
} rudp_msg_mode;

/* ------------------------------------------------------------ limits */

/** RUDP_MSG_MAX_CHANNELS is the largest number of channels a session may
 *  declare. */
#define RUDP_MSG_MAX_CHANNELS 256
/** RUDP_MSG_MAX_RELIABLE_SIZE (16 MiB) is the largest reliable message
 *  (either reliable mode), and the default of
 *  `rudp_msg_settings.max_reliable_size`. */
#define RUDP_MSG_MAX_RELIABLE_SIZE (16u * 1024u * 1024u)
/** RUDP_MSG_MAX_UNRELIABLE_SIZE (1 MiB) is the largest value of
 *  `rudp_msg_settings.max_unreliable_size`. */
#define RUDP_MSG_MAX_UNRELIABLE_SIZE (1024u * 1024u)
/** RUDP_MSG_DEFAULT_UNRELIABLE_SIZE (64 KiB) is the default largest
 *  unreliable message: 57 fragments of a 1200-byte path. */
#define RUDP_MSG_DEFAULT_UNRELIABLE_SIZE (64u * 1024u)
/** RUDP_MSG_MAX_REASSEMBLY is the largest value of
 *  `rudp_msg_settings.max_reassembly`. */
#define RUDP_MSG_MAX_REASSEMBLY 256
/** RUDP_MSG_LOSS_WINDOW is the number of packets sent over which
 *  `rudp_msg_stats.loss_rate` is measured (roughly: see there). */
#define RUDP_MSG_LOSS_WINDOW 1024

/**
 * RUDP_MSG_APP_ERROR_PROTO is the application error code this layer
 * suggests for `rudp_conn_abort` when a session fails with
 * :macro:`RUDP_ERR_PROTO` (the peer broke the message protocol or declared
 * another channel table).  The layer never aborts by itself.
 */
#define RUDP_MSG_APP_ERROR_PROTO 0x524d5347u

/* ------------------------------------------------------------ settings */

/**
 * `rudp_msg_settings` configures a session; fill it with
 * `rudp_msg_settings_default` and change what you need.  It is copied.
 * Both sides should use the same limits: a message above the receiver's
 * limit is a protocol violation there.
 */
typedef struct rudp_msg_settings {
  /** max_reliable_size is the largest message on a reliable channel,
   *  sent or received, in bytes (default and at most
   *  :macro:`RUDP_MSG_MAX_RELIABLE_SIZE`). */
  size_t max_reliable_size;
  /** max_unreliable_size is the largest message on an unreliable channel,
   *  sent or received, in bytes (default
   *  :macro:`RUDP_MSG_DEFAULT_UNRELIABLE_SIZE`, at most
   *  :macro:`RUDP_MSG_MAX_UNRELIABLE_SIZE`).  A message is sent as
   *  ceil(size / fragment payload) datagrams, all queued at once in the
   *  connection's datagram queue: keep
   *  `rudp_settings.datagram_queue_len` above twice the fragments of the
   *  largest message (the queue drops its oldest entry when full, and
   *  `rudp_msg_stats.datagrams_overflowed` counts those drops). */
  size_t max_unreliable_size;
  /** max_channel_queued bounds, per reliable channel, the bytes accepted
   *  by `rudp_msg_send` and not yet acknowledged by the peer (message
   *  headers included).  A message that would exceed it is refused with
   *  :macro:`RUDP_ERR_WOULDBLOCK`, except when the channel has nothing
   *  queued (so one message of any allowed size always fits);
   *  `channel_writable` follows when the channel drains to half of it.
   *  Default 4 MiB, at least 1. */
  size_t max_channel_queued;
  /** max_reassembly bounds the incomplete fragmented unreliable messages
   *  held for reassembly, all channels together (default 16, 1 to
   *  :macro:`RUDP_MSG_MAX_REASSEMBLY`).  When a new message needs room the
   *  oldest incomplete one is dropped and counted.  Memory for reassembly
   *  is therefore at most max_reassembly * max_unreliable_size (plus a
   *  bitmap each). */
  size_t max_reassembly;
  /** reassembly_timeout drops an incomplete message this long after its
   *  first fragment arrived (default 1 s; 0: no time limit, only
   *  max_reassembly).  The session has no clock: the arrival time is the
   *  last time given to `rudp_msg_session_handle_expiry`, so the timeout
   *  is only as precise as those calls are frequent. */
  rudp_duration reassembly_timeout;
  /** datagram_payload is the size of the datagrams handed to
   *  `rudp_conn_send_datagram` (the fragment size, message header
   *  included).  0 (the default) computes it once the handshake is done
   *  from the peer's max_datagram_frame_size and a 1200-byte packet, the
   *  size every path carries, leaving room for packet protection.  Set it
   *  only when both sides raised their datagram sizes (e.g. on loopback,
   *  tx_udp_payload_size and max_datagram_frame_size); a value the
   *  connection refuses falls back to the computed one.  0 or 64 to
   *  65527. */
  size_t datagram_payload;
} rudp_msg_settings;

/**
 * `rudp_msg_settings_default` fills |settings| with the defaults
 * documented on each field.  |settings| must not be NULL.
 */
RUDP_EXTERN void rudp_msg_settings_default(rudp_msg_settings *settings);

/* ------------------------------------------------------------ session */

/**
 * `rudp_msg_session` is the message layer of one connection (opaque).
 */
typedef struct rudp_msg_session rudp_msg_session;

/**
 * `rudp_msg_callbacks` tell the application what the session did.  Both
 * are optional (NULL: not called).  They are called from inside the
 * routing functions below (hence from inside `rudp_conn_read_pkt` and the
 * other connection calls): they may send messages and read stats, but
 * must not delete the session or the connection.
 */
typedef struct rudp_msg_callbacks {
  /**
   * message_received: a message arrived on |channel|.  |data| (|len|
   * bytes; never NULL, even when |len| is 0) belongs to the session and is
   * valid only during the call: the message is delivered from the buffer
   * it was received or reassembled in, copied once at most on its way
   * from the connection.  |msg_id| numbers the channel's messages from 0
   * in send order (the sequence number of unreliable channels; on a
   * reliable-ordered channel it is simply the count of messages before
   * this one).  Return 0, or any nonzero value to make the routing
   * function fail with :macro:`RUDP_ERR_CALLBACK_FAILURE`.
   */
  int (*message_received)(rudp_msg_session *session, unsigned channel,
                          uint64_t msg_id, const uint8_t *data, size_t len,
                          void *user_data);
  /**
   * channel_writable: reliable channel |channel|, which refused a message
   * with :macro:`RUDP_ERR_WOULDBLOCK`, has drained to half of
   * max_channel_queued or, when the connection's send buffer was full,
   * the session's messages held by the connection fell to half of what
   * they were then: send again.  Called once per refusal episode.
   */
  void (*channel_writable)(rudp_msg_session *session, unsigned channel,
                           void *user_data);
} rudp_msg_callbacks;

/**
 * `rudp_msg_session_new` attaches a message session to |conn| and stores
 * it in |*psession|.
 *
 * |modes| lists the mode of each channel: channel i has mode |modes|[i],
 * for i below |nchannels| (1 to :macro:`RUDP_MSG_MAX_CHANNELS`); the array
 * is copied.  The peer must declare the same table.  |settings| may be
 * NULL (defaults); it is copied.  |callbacks| may be NULL; it is copied.
 * |mem| NULL uses the default allocator; otherwise it must stay valid
 * until the connection is deleted (buffers the connection still holds
 * when the session is deleted are freed later through it).  |user_data|
 * is passed to the callbacks (see `rudp_msg_session_get_user_data`).
 *
 * The session may be created at any time in the connection's life before
 * it closes: right after `rudp_conn_client_new` / `rudp_event_connect` on
 * a client, or after `rudp_endpoint_accept` on a server.  It does not
 * touch the connection's user data.  Messages the peer sent on streams
 * before the session existed are read at creation (a server's first
 * stream data usually arrives before `rudp_endpoint_accept` can run), so
 * message_received may run during this call, after |*psession| was set;
 * datagrams received before the session existed are lost.  If the
 * connection is established, the session announces its channel table at
 * once.
 *
 * Call `rudp_msg_session_del` to free it, BEFORE the connection is
 * deleted (with an endpoint or the libevent binding: in the connection's
 * `closed` callback at the latest).
 *
 * Returns 0, or :macro:`RUDP_ERR_INVALID_ARGUMENT` (NULL |psession|,
 * |conn| or |modes|, |nchannels| out of range, an unknown mode, a setting
 * out of range), :macro:`RUDP_ERR_INVALID_STATE` (the connection is
 * closing or closed), :macro:`RUDP_ERR_NOMEM`, or an error of
 * `rudp_msg_session_handle_stream_readable` (for data that was already
 * waiting; the session is not created).
 */
RUDP_EXTERN int rudp_msg_session_new(
    rudp_msg_session **psession, rudp_conn *conn, const rudp_msg_mode *modes,
    size_t nchannels, const rudp_msg_settings *settings,
    const rudp_msg_callbacks *callbacks, const rudp_mem *mem, void *user_data);

/**
 * `rudp_msg_session_del` frees |session| and its queues: messages not
 * yet handed to the connection are dropped; buffers the connection still
 * holds (sent, not yet acknowledged) stay valid and are freed when the
 * connection releases them.  If the connection's user data is |session|
 * (see `rudp_msg_route_callbacks`) it is set to NULL, so the routed
 * callbacks ignore later events.  Must be called while the connection
 * still exists, and not from inside one of the session's callbacks.
 * |session| may be NULL.
 */
RUDP_EXTERN void rudp_msg_session_del(rudp_msg_session *session);

/** `rudp_msg_session_get_user_data` returns the |user_data| given to
 *  `rudp_msg_session_new`. */
RUDP_EXTERN void *
rudp_msg_session_get_user_data(const rudp_msg_session *session);

/** `rudp_msg_session_get_conn` returns the session's connection. */
RUDP_EXTERN rudp_conn *
rudp_msg_session_get_conn(const rudp_msg_session *session);

/**
 * `rudp_msg_session_get_error` returns 0 while the session works, or the
 * error that failed it for good: :macro:`RUDP_ERR_PROTO` (the peer broke
 * the message protocol or declared another channel table),
 * :macro:`RUDP_ERR_NOMEM`.  A failed session delivers nothing more and
 * refuses sends with :macro:`RUDP_ERR_INVALID_STATE`; abort the
 * connection (e.g. with :macro:`RUDP_MSG_APP_ERROR_PROTO`).
 */
RUDP_EXTERN int rudp_msg_session_get_error(const rudp_msg_session *session);

/* ------------------------------------------------------------ sending */

/**
 * `rudp_msg_send` sends the |len| bytes at |data| as one message on
 * |channel|, in the channel's mode.  |data| is copied (once, into the
 * buffer the connection sends from), so the caller may reuse it at once;
 * it may be NULL when |len| is 0 (a zero-length message is delivered as
 * one).  |flags| is reserved and must be 0.
 *
 * Reliable channels: the message is accepted whole or not at all.  Before
 * the handshake completes, and while the peer's stream limit is reached,
 * accepted messages wait in the session (counted in queued_bytes) and
 * leave in order when streams become available.  Unreliable channels:
 * the message's datagrams are handed to the connection's datagram queue
 * at once (one datagram, or its fragments; counted in queued_bytes until
 * put in a packet); it needs an established connection whose peer
 * accepts datagrams.
 *
 * Returns 0 (accepted), or one of:
 *
 * :macro:`RUDP_ERR_INVALID_ARGUMENT`
 *     NULL |session|, NULL |data| with nonzero |len|, nonzero |flags|,
 *     or |channel| not below the declared number of channels.
 * :macro:`RUDP_ERR_DATAGRAM_TOO_LARGE`
 *     |len| is above the channel's limit (max_reliable_size or
 *     max_unreliable_size), or the peer accepts no datagrams (unreliable
 *     channels).
 * :macro:`RUDP_ERR_WOULDBLOCK`
 *     Reliable channel: its queue is full (max_channel_queued), or the
 *     connection's send buffer is (`rudp_settings.max_send_buffer`, all
 *     channels together); nothing was taken; wait for
 *     `channel_writable`.
 * :macro:`RUDP_ERR_INVALID_STATE`
 *     The connection is closing or closed, or (unreliable channels) its
 *     handshake is not complete, or the session failed
 *     (`rudp_msg_session_get_error`).
 * :macro:`RUDP_ERR_NOMEM`
 *     Out of memory; nothing was sent.
 */
RUDP_EXTERN int rudp_msg_send(rudp_msg_session *session, unsigned channel,
                              const uint8_t *data, size_t len, uint32_t flags);

/**
 * `rudp_msg_session_set_channel_priority` gives reliable channel
 * |channel|'s streams the priority |urgency| (0 most urgent ..
 * :macro:`RUDP_URGENCY_MAX`) and |incremental| in the connection's send
 * scheduler (`rudp_conn_stream_set_priority`): a channel for a game's
 * inputs at urgency 0 is never queued behind a bulk channel (assets,
 * downloads) at the default 3, and a channel at 7 sends only what the
 * others leave.  Reliable-ordered: the channel's stream, now and from
 * when it is opened.  Reliable-unordered: each message's stream opened
 * from now on (messages already handed to the connection keep theirs);
 * |incremental| 0 sends the channel's messages one at a time in send
 * order, each completing before the next starts, where 1 (the default)
 * interleaves them and they all complete late.  Both sides choose their
 * own priorities (nothing is sent); channels start at urgency 3,
 * incremental.  Unreliable channels share the connection's datagram
 * urgency: set it with `rudp_conn_set_datagram_urgency`.
 *
 * Returns 0 or :macro:`RUDP_ERR_INVALID_ARGUMENT` (NULL |session|,
 * |channel| not declared or unreliable, |urgency| above 7).
 */
RUDP_EXTERN int rudp_msg_session_set_channel_priority(rudp_msg_session *session,
                                                      unsigned channel,
                                                      unsigned urgency,
                                                      int incremental);

/* ------------------------------------------------------------ routing */

/*
 * The session learns what the connection received through the
 * connection's callbacks, which are fixed when the connection (or its
 * endpoint) is created.  Route them in one of two ways:
 *
 * 1. `rudp_msg_route_callbacks` fills the slots the layer needs with its
 *    own handlers, which take the connection's user data to be the
 *    session: after `rudp_msg_session_new`, call
 *    `rudp_conn_set_user_data(conn, session)` and keep your own pointer in
 *    the session (`rudp_msg_session_get_user_data`).  Your other callbacks
 *    (closed, handshake_completed, ...) then receive the session as their
 *    user data.  A NULL user data (a server connection before accept) is
 *    ignored; the session catches up at creation.
 *
 * 2. Keep your own user data and call the `rudp_msg_session_handle_*`
 *    functions from your callbacks, finding the session from your state;
 *    and call `rudp_msg_handle_stream_data_released` for EVERY
 *    stream_data_released event of the connection, even after the
 *    session was deleted (it needs no session).
 */

/**
 * `rudp_msg_route_callbacks` sets |callbacks|' stream_readable,
 * stream_reset, stream_data_released, datagram_received and
 * streams_available to the layer's handlers (see above: the connection's
 * user data must be the session or NULL), leaving the other members as
 * they are.  A handler returns :macro:`RUDP_ERR_CALLBACK_FAILURE` when the
 * corresponding `rudp_msg_session_handle_*` function fails, which ends the
 * connection (the endpoint closes it silently).  |callbacks| must not be
 * NULL.
 */
RUDP_EXTERN void rudp_msg_route_callbacks(rudp_callbacks *callbacks);

/**
 * `rudp_msg_session_handle_stream_readable` reads stream |stream_id|
 * (from a `stream_readable` callback) and delivers the messages
 * completed.  Streams the layer does not know are taken as the peer's.
 *
 * Returns 0, or :macro:`RUDP_ERR_PROTO` (the peer broke the message
 * protocol: bad header, unknown channel, message above the limit,
 * mismatched channel table; the session is failed),
 * :macro:`RUDP_ERR_NOMEM` (the session is failed),
 * :macro:`RUDP_ERR_CALLBACK_FAILURE` (message_received failed), or the
 * error the session already failed with.
 */
RUDP_EXTERN int
rudp_msg_session_handle_stream_readable(rudp_msg_session *session,
                                        int64_t stream_id);

/**
 * `rudp_msg_session_handle_stream_reset` forgets the peer's stream
 * |stream_id| (from a `stream_reset` callback): a partly received message
 * on it is dropped.  This layer never resets streams, so a reset of a
 * reliable-ordered channel's stream fails the session.  Returns 0 or
 * :macro:`RUDP_ERR_PROTO`.
 */
RUDP_EXTERN int rudp_msg_session_handle_stream_reset(rudp_msg_session *session,
                                                     int64_t stream_id,
                                                     uint64_t app_error_code);

/**
 * `rudp_msg_session_handle_datagram` takes a received datagram (from a
 * `datagram_received` callback; |data| is only read during the call): an
 * unfragmented message is delivered straight from |data|, a fragment is
 * copied into its message's reassembly buffer.  Returns as
 * `rudp_msg_session_handle_stream_readable`.
 */
RUDP_EXTERN int rudp_msg_session_handle_datagram(rudp_msg_session *session,
                                                 const uint8_t *data,
                                                 size_t len);

/**
 * `rudp_msg_session_handle_streams_available` sends what waits for a
 * stream (from `streams_available`, which the connection also calls right
 * after the handshake completes).  Returns 0, :macro:`RUDP_ERR_NOMEM` or
 * the error the session failed with.
 */
RUDP_EXTERN int
rudp_msg_session_handle_streams_available(rudp_msg_session *session);

/**
 * `rudp_msg_handle_stream_data_released` takes back a buffer the
 * connection no longer needs (from `stream_data_released`, with that
 * callback's |data|, |len| and |ref|): it updates the sending session's
 * queued bytes (which may call channel_writable) and frees the buffer.
 * It needs no session because the connection may release buffers after
 * the session was deleted (at the latest in `rudp_conn_del`).  Call it
 * only for buffers of a session's connection: the session is the only
 * writer of referenced data on its connection.
 */
RUDP_EXTERN void rudp_msg_handle_stream_data_released(const uint8_t *data,
                                                      size_t len, void *ref);

/* ------------------------------------------------------------ time */

/**
 * `rudp_msg_session_get_expiry` returns when the oldest incomplete
 * unreliable message times out (reassembly_timeout), or
 * :macro:`RUDP_TSTAMP_MAX` if none is held or there is no timeout.  O(1).
 */
RUDP_EXTERN rudp_tstamp
rudp_msg_session_get_expiry(const rudp_msg_session *session);

/**
 * `rudp_msg_session_handle_expiry` tells the session the time is |now|
 * (the clock of the connection's calls): incomplete messages older than
 * reassembly_timeout are dropped and counted, and fragments arriving
 * later are stamped with |now|.  Games call it once per frame; it costs
 * O(1) when nothing expires.
 */
RUDP_EXTERN void rudp_msg_session_handle_expiry(rudp_msg_session *session,
                                                rudp_tstamp now);

/* ------------------------------------------------------------ statistics */

/**
 * `rudp_msg_channel_stats` are one channel's counters (messages and
 * payload bytes; headers are not counted except in queued_bytes).
 */
typedef struct rudp_msg_channel_stats {
  /** mode is the channel's mode. */
  rudp_msg_mode mode;
  /** msgs_sent, bytes_sent: messages accepted by `rudp_msg_send`. */
  uint64_t msgs_sent;
  uint64_t bytes_sent;
  /** msgs_received, bytes_received: messages delivered to
   *  message_received. */
  uint64_t msgs_received;
  uint64_t bytes_received;
  /** dropped_old (sequenced channels): messages discarded because a newer
   *  one had been delivered first, whether they arrived whole after it
   *  or were still being reassembled when it was delivered; each message
   *  is counted once. */
  uint64_t dropped_old;
  /** dropped_incomplete (unreliable channels): fragmented messages whose
   *  reassembly was abandoned (evicted by max_reassembly or timed out by
   *  reassembly_timeout). */
  uint64_t dropped_incomplete;
  /** queued_msgs, queued_bytes: what the channel has accepted and not
   *  yet got rid of, headers included.  Reliable channels: messages not
   *  yet acknowledged by the peer (waiting for a stream, unsent, or in
   *  flight) and their bytes.  Unreliable channels: messages with a
   *  datagram still waiting in the connection's datagram queue (not yet
   *  put in a packet) and the bytes of those datagrams; once in a packet
   *  they count in `rudp_msg_stats.bytes_in_flight` only.  A fragmented
   *  message counts until its last datagram leaves the queue, sent or
   *  dropped by the full queue.  The session mirrors the datagrams it
   *  queued and brings them up to date from the connection's
   *  datagrams_queued at every poll (`rudp_msg_get_stats`,
   *  `rudp_msg_get_channel_stats`, `rudp_msg_session_handle_expiry`,
   *  each unreliable send), O(1) amortized.  This relies on the session
   *  being the only sender of datagrams on its connection (as it must be
   *  anyway); datagrams the application queued before the session was
   *  created are accounted for.  If the connection's queue is found to
   *  hold datagrams the session did not queue, unreliable messages are no
   *  longer counted here (reliable ones still are). */
  uint64_t queued_msgs;
  uint64_t queued_bytes;
} rudp_msg_channel_stats;

/**
 * `rudp_msg_stats` are a session's totals (sums over its channels, kept
 * as the counters change) and its connection's path estimates.
 */
typedef struct rudp_msg_stats {
  /** srtt, min_rtt, latest_rtt: the connection's RTT estimates (ns). */
  rudp_duration srtt;
  rudp_duration min_rtt;
  rudp_duration latest_rtt;
  /** jitter is the connection's RTT variation (RFC 9002 rttvar, ns): the
   *  smoothed mean deviation of RTT samples from srtt. */
  rudp_duration jitter;
  /** loss_rate is window_lost / window_sent (0 when nothing was sent):
   *  the share of packets declared lost among the last packets sent,
   *  window_sent of them: at least :macro:`RUDP_MSG_LOSS_WINDOW` once
   *  that many were sent, and at most that plus the packets sent between
   *  two polls (`rudp_msg_get_stats` and `rudp_msg_session_handle_expiry`
   *  take a snapshot when 1/8 of the window was sent since the last one;
   *  poll once per frame).  Losses are declared about one RTT after
   *  sending, so the figure lags by that much. */
  double loss_rate;
  uint64_t window_sent;
  uint64_t window_lost;
  /** cwnd and bytes_in_flight: the connection's congestion window and
   *  unacknowledged bytes (all channels together, and retransmissions). */
  uint64_t cwnd;
  uint64_t bytes_in_flight;
  /** msgs_sent ... queued_bytes: the sums of the channels' counters (see
   *  `rudp_msg_channel_stats`). */
  uint64_t msgs_sent;
  uint64_t bytes_sent;
  uint64_t msgs_received;
  uint64_t bytes_received;
  uint64_t dropped_old;
  uint64_t dropped_incomplete;
  uint64_t queued_msgs;
  uint64_t queued_bytes;
  /** reassembly_msgs, reassembly_bytes: incomplete fragmented messages
   *  held now and the bytes of their buffers. */
  uint64_t reassembly_msgs;
  uint64_t reassembly_bytes;
  /** datagrams_sent: datagrams handed to the connection (fragments count
   *  one each). */
  uint64_t datagrams_sent;
  /** datagrams_overflowed: datagrams the connection's full datagram queue
   *  dropped while this session was adding to it (see
   *  max_unreliable_size). */
  uint64_t datagrams_overflowed;
  /** datagrams_lost: the connection's datagrams declared lost or dropped
   *  from its queue (rudp_conn_stats.datagrams_dropped). */
  uint64_t datagrams_lost;
  /** datagram_payload is the fragment size in use (0 until the first
   *  unreliable message is sent). */
  size_t datagram_payload;
} rudp_msg_stats;

/**
 * `rudp_msg_get_stats` fills |stats| for |session|.  O(1) amortized and
 * allocates nothing: cheap enough to call every frame.  It also advances
 * the loss window and the accounting of queued datagrams (queued_msgs,
 * queued_bytes).  Neither argument may be NULL.
 */
RUDP_EXTERN void rudp_msg_get_stats(rudp_msg_session *session,
                                    rudp_msg_stats *stats);

/**
 * `rudp_msg_get_channel_stats` fills |stats| for |channel|.  O(1)
 * amortized; allocates nothing.  Like `rudp_msg_get_stats` it first
 * brings the unreliable channels' queued figures up to date (hence the
 * non-const |session|).  Returns 0 or :macro:`RUDP_ERR_INVALID_ARGUMENT`
 * (a NULL argument or a channel not declared).
 */
RUDP_EXTERN int rudp_msg_get_channel_stats(rudp_msg_session *session,
                                           unsigned channel,
                                           rudp_msg_channel_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* RUDP_MSG_H */
