/*
 * librudp: the libevent 2.1 binding.
 *
 * `rudp_event` drives one sans-I/O `rudp_endpoint` (rudp.h, section
 * "endpoint") from a libevent `event_base`: it owns the endpoint's UDP
 * socket, reads datagrams in batches (recvmmsg, UDP GRO), writes them in
 * batches (sendmmsg, UDP GSO), keeps ONE timer for the whole endpoint armed
 * at `rudp_endpoint_get_expiry`, and turns ICMP port-unreachable errors
 * into `rudp_endpoint_on_unreachable`.  It is the only part of librudp that
 * touches sockets and clocks (CLOCK_MONOTONIC).
 *
 * Threading: like the endpoint, a `rudp_event` and its connections belong
 * to the thread running its event_base.  The one exception is
 * `rudp_event_wakeup`, which any thread may call.
 *
 * Linux only (recvmmsg, sendmmsg, UDP_SEGMENT, UDP_GRO, eventfd); GSO and
 * GRO are probed at run time and fall back to plain batches.
 *
 * Timer precision: librudp's loss-detection, probe and pacing timers are
 * often well below a millisecond on fast paths.  libevent's epoll backend
 * rounds timeouts to milliseconds unless the base is created with
 * EVENT_BASE_FLAG_PRECISE_TIMER (event_config_set_flag), which uses a
 * timerfd; latency-sensitive applications should set it (rudp-perf
 * does: on loopback with 2% loss it took a lost message's p99 latency
 * from 4.4 ms to 1.1 ms).
 */
#ifndef RUDP_EVENT_H
#define RUDP_EVENT_H

#include <rudp/rudp.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

/*
 * :macro:`RUDP_ERR_IO` (rudp/rudp.h) is returned when a system call the
 * binding needs (socket, bind, eventfd, ...) failed; errno still holds the
 * reason when the function returns.  It is recoverable.
 */

/**
 * `rudp_event` is one endpoint bound to one UDP socket and driven by a
 * libevent event_base (opaque).
 */
typedef struct rudp_event rudp_event;

/**
 * `rudp_event_settings` configures a `rudp_event`; fill it with
 * `rudp_event_settings_default` and change what you need.  It is copied.
 */
typedef struct rudp_event_settings {
  /** endpoint is given to `rudp_endpoint_new` (listen, limits, and the
   *  settings of the connections). */
  rudp_endpoint_settings endpoint;
  /** recv_batch is how many datagrams (or GRO buffers) one recvmmsg call
   *  takes (default 32; 1 to 1024).  Each costs a 64 KiB buffer. */
  size_t recv_batch;
  /** send_batch is how many messages (a datagram, or a GSO train of
   *  datagrams) one sendmmsg call sends (default 32; 1 to 1024). */
  size_t send_batch;
  /** send_queue_size bounds, in bytes, the datagrams written by the
   *  endpoint but not yet accepted by the kernel (they wait for the socket
   *  to become writable after EAGAIN).  Default 512 KiB, at least
   *  2 * RUDP_MAX_UDP_PAYLOAD. */
  size_t send_queue_size;
  /** gso nonzero sends consecutive same-size datagrams to one destination
   *  with one UDP_SEGMENT send (default 1).  Turned off at run time when
   *  the kernel refuses it (setsockopt, or a send failing with EIO or
   *  EINVAL). */
  int gso;
  /** gro nonzero asks the kernel to coalesce received datagrams (UDP_GRO,
   *  default 1); turned off when the kernel refuses it. */
  int gro;
  /** sockbuf_size sets SO_SNDBUF and SO_RCVBUF, best effort (capped by
   *  the kernel's wmem_max / rmem_max); 0 keeps the kernel's default
   *  (default 4 MiB). */
  size_t sockbuf_size;
  /** reuseport nonzero sets SO_REUSEPORT before bind (default 0). */
  int reuseport;
  /** v6only is the IPV6_V6ONLY option of an AF_INET6 socket (default 0:
   *  a socket bound to :: also takes IPv4, as v4-mapped addresses). */
  int v6only;
  /** mem is the allocator of the binding and the endpoint (NULL: the
   *  default).  It must be thread-safe if `rudp_event_wakeup` is called
   *  from other threads. */
  const rudp_mem *mem;
  /** netem impairs the datagrams this endpoint sends, for tests and
   *  demos (DESIGN.md 5; like tc-netem).  It is a comma-separated list of
   *  key=value, each key optional and at most once:
   *  loss, reorder, dup, corrupt = a percentage ("2%", "0.1%") or a
   *  fraction ("0.02"); delay, jitter = a time with unit ns, us, ms or s
   *  (at most 60 s); rate = bits per second with unit bit, kbit, mbit,
   *  gbit, or bytes per second with bps, kbps, mbps, gbps (k, m, g are
   *  powers of 1000); seed = the decimal seed of the generator (default
   *  1: the same seed gives the same decisions).  Example:
   *  "loss=2%,delay=20ms,jitter=5ms,reorder=1%,dup=1%,corrupt=0.1%,
   *  rate=50mbit".  Jitter is uniform in [-jitter, +jitter] and keeps the
   *  order; reorder holds that fraction back max(delay, 1 ms) more so
   *  later datagrams overtake; corrupt flips one bit; rate serialises with
   *  a drop-tail queue of one second.  The full grammar is documented in
   *  lib/rudp_netem.h.
   *
   *  NULL (the default) uses the environment variable RUDP_NETEM if it is
   *  set; "" impairs nothing.  A bad spec makes `rudp_event_endpoint_new`
   *  fail with RUDP_ERR_INVALID_ARGUMENT.  The string is parsed during
   *  that call and need not outlive it.  With an active spec every
   *  datagram waits in an impairment queue (at most 8192 datagrams or
   *  4 MiB; more are dropped and counted) and the endpoint's one timer
   *  releases them to the socket; counters are in
   *  `rudp_event_stats.netem`. */
  const char *netem;
} rudp_event_settings;

/**
 * `rudp_event_settings_default` fills |settings| with the defaults
 * documented on each field (and `rudp_endpoint_settings_default` for
 * |settings->endpoint|).  |settings| must not be NULL.
 */
RUDP_EXTERN void rudp_event_settings_default(rudp_event_settings *settings);

/**
 * `rudp_event_endpoint_new` creates a non-blocking UDP socket of |bind|'s
 * family (AF_INET or AF_INET6), sets its options (see
 * `rudp_event_settings`; IP_RECVERR / IPV6_RECVERR so ICMP errors are
 * seen; don't-fragment), binds it to |bind| (|bindlen| bytes; port 0
 * picks a free port, see `rudp_event_local_addr`), creates the endpoint
 * and registers its events on |base| (which must outlive the result).
 * Nothing runs until the application runs |base|.
 *
 * Testing aids (read here, once): with the environment variable
 * RUDP_EVENT_FORCE_NO_MMSG=1 the first recvmmsg and the first sendmmsg
 * fail as if the kernel returned ENOSYS, so the recvmsg / sendmsg
 * fallback runs; with RUDP_EVENT_FORCE_GSO_FAIL=1 the first UDP_SEGMENT
 * send fails as if the kernel returned EIO, so GSO is turned off (see
 * `rudp_event_stats`); with RUDP_EVENT_FORCE_EAGAIN=N every Nth send call
 * fails with EAGAIN (a full send buffer, which loopback never shows).
 * Not meant for production use.
 *
 * |settings| may be NULL (defaults).  |ep_callbacks| may be NULL; it is
 * copied, and its `rand` may be NULL: the binding then uses getrandom(2).
 * Its `accept_ready` is called as documented in rudp.h; its `work_ready`
 * is called after the binding scheduled its own flush.  |conn_callbacks|
 * (may be NULL; copied) are every connection's callbacks.  |user_data| is
 * given to the |ep_callbacks|.  Call `rudp_event_endpoint_free` to free
 * |*pev|.
 *
 * Returns 0, or one of:
 *
 * :macro:`RUDP_ERR_INVALID_ARGUMENT`
 *     A NULL |pev|, |base| or |bind|, an unsupported family, or a bad
 *     setting (also those `rudp_endpoint_new` refuses).
 * :macro:`RUDP_ERR_IO`
 *     socket, bind, eventfd or libevent failed (errno tells why, e.g.
 *     EADDRINUSE).
 * :macro:`RUDP_ERR_NOMEM`
 *     Out of memory.
 * :macro:`RUDP_ERR_CALLBACK_FAILURE`
 *     rand failed.
 */
RUDP_EXTERN int
rudp_event_endpoint_new(rudp_event **pev, struct event_base *base,
                        const struct sockaddr *bind, socklen_t bindlen,
                        const rudp_event_settings *settings,
                        const rudp_endpoint_callbacks *ep_callbacks,
                        const rudp_callbacks *conn_callbacks, void *user_data);

/**
 * `rudp_event_endpoint_free` removes |ev|'s events, closes its socket,
 * deletes the endpoint with every connection (sending nothing: close
 * connections first for a graceful end), drops queued datagrams and
 * queued `rudp_event_wakeup` functions without running them.  |ev| may be
 * NULL.  Do not call it from inside one of |ev|'s callbacks.
 */
RUDP_EXTERN void rudp_event_endpoint_free(rudp_event *ev);

/**
 * `rudp_event_endpoint_get_endpoint` returns |ev|'s endpoint, owned by
 * |ev|, for `rudp_endpoint_accept` and `rudp_endpoint_get_stats`.  Do not
 * call `rudp_endpoint_read`, `rudp_endpoint_write`,
 * `rudp_endpoint_handle_expiry` or `rudp_endpoint_del` on it.
 */
RUDP_EXTERN rudp_endpoint *rudp_event_endpoint_get_endpoint(rudp_event *ev);

/**
 * `rudp_event_connect` opens a client connection to |to| (|tolen| bytes)
 * like `rudp_endpoint_connect` and schedules a flush so its CONNECT leaves
 * from the event loop.  On an AF_INET6 dual-stack socket an AF_INET |to|
 * is converted to its v4-mapped form.  |settings| NULL uses the
 * endpoint's.  |conn_user_data| is the connection's user data.  The
 * endpoint owns |*pconn| (freed after its `closed` callback returns).
 *
 * Returns 0, :macro:`RUDP_ERR_INVALID_ARGUMENT` (NULL argument, or a
 * family the socket cannot reach), or the errors of
 * `rudp_endpoint_connect`.
 */
RUDP_EXTERN int rudp_event_connect(rudp_event *ev, const struct sockaddr *to,
                                   socklen_t tolen,
                                   const rudp_settings *settings,
                                   void *conn_user_data, rudp_conn **pconn);

/**
 * `rudp_event_local_addr` stores the socket's bound address in |*addr|
 * and its length in |*addrlen| (getsockname).  Returns 0,
 * :macro:`RUDP_ERR_INVALID_ARGUMENT` or :macro:`RUDP_ERR_IO`.
 */
RUDP_EXTERN int rudp_event_local_addr(const rudp_event *ev,
                                      struct sockaddr_storage *addr,
                                      socklen_t *addrlen);

/**
 * `rudp_event_now` returns the binding's clock (CLOCK_MONOTONIC, in
 * nanoseconds): pass it as |now| to the `rudp_conn_*` calls that take one
 * (e.g. `rudp_conn_close`).
 */
RUDP_EXTERN rudp_tstamp rudp_event_now(void);

/**
 * `rudp_event_wakeup` queues |fn|(|arg|) to run on the thread running
 * |ev|'s event_base, soon, in call order.  Any thread may call it (the
 * queue is under a mutex, and the loop is woken through an eventfd).
 * |fn| must not be NULL; it may use |ev| and its connections.  Functions
 * still queued when `rudp_event_endpoint_free` runs are dropped.
 *
 * Returns 0, :macro:`RUDP_ERR_INVALID_ARGUMENT` or :macro:`RUDP_ERR_NOMEM`.
 */
RUDP_EXTERN int rudp_event_wakeup(rudp_event *ev, void (*fn)(void *arg),
                                  void *arg);

/**
 * `rudp_netem_stats` are the counters of the impairment queue (see
 * `rudp_event_settings.netem`), in datagrams.  offered = dropped_loss +
 * (queued copies) - duplicated + dropped_queue, and every queued copy is
 * eventually sent (or dropped when the endpoint is freed).
 */
typedef struct rudp_netem_stats {
  /** offered: datagrams the endpoint wrote into the queue. */
  uint64_t offered;
  /** sent: copies released to the socket. */
  uint64_t sent;
  /** dropped_loss: datagrams dropped by `loss`. */
  uint64_t dropped_loss;
  /** dropped_queue: copies dropped because the queue was full (slots,
   *  bytes, or the `rate` backlog above one second). */
  uint64_t dropped_queue;
  /** duplicated: datagrams queued twice by `dup`. */
  uint64_t duplicated;
  /** corrupted: copies with one bit flipped by `corrupt`. */
  uint64_t corrupted;
  /** reordered: copies held back by `reorder` so later ones overtake. */
  uint64_t reordered;
  /** delayed: copies queued with a release time after their offer time
   *  (delay, jitter, rate or reorder). */
  uint64_t delayed;
} rudp_netem_stats;

/**
 * `rudp_event_stats` are the binding's counters.  They show which I/O
 * paths ran.
 */
typedef struct rudp_event_stats {
  /** dgrams_sent, bytes_sent: UDP datagrams and payload bytes the kernel
   *  accepted. */
  uint64_t dgrams_sent;
  uint64_t bytes_sent;
  /** dgrams_recv, bytes_recv: UDP datagrams (after GRO splitting) and
   *  payload bytes given to the endpoint. */
  uint64_t dgrams_recv;
  uint64_t bytes_recv;
  /** send_syscalls, recv_syscalls: sendmmsg/sendmsg and recvmmsg/recvmsg
   *  calls (including those that failed). */
  uint64_t send_syscalls;
  uint64_t recv_syscalls;
  /** gso_sends: messages sent with UDP_SEGMENT carrying two or more
   *  datagrams. */
  uint64_t gso_sends;
  /** gro_recvs: received buffers that held two or more coalesced
   *  datagrams. */
  uint64_t gro_recvs;
  /** eagain: sends that returned EAGAIN (the binding then waited for the
   *  socket to become writable). */
  uint64_t eagain;
  /** send_errors: datagrams dropped because the kernel refused them
   *  (EMSGSIZE, ENOBUFS, unreachable, ...). */
  uint64_t send_errors;
  /** recv_dropped: datagrams dropped on receive (truncated). */
  uint64_t recv_dropped;
  /** icmp_unreachable: ICMP port-unreachable errors passed to
   *  `rudp_endpoint_on_unreachable`. */
  uint64_t icmp_unreachable;
  /** timer_fires: times the endpoint timer fired. */
  uint64_t timer_fires;
  /** gso_enabled, gro_enabled: nonzero while the path is in use. */
  int gso_enabled;
  int gro_enabled;
  /** last_error: the last fatal error an endpoint call returned (0:
   *  none); the application should free the endpoint after one. */
  int last_error;
  /** netem_enabled is nonzero when an impairment spec is active; netem
   *  holds its counters (all zero otherwise).  dgrams_sent counts what
   *  reached the kernel, after the impairments. */
  int netem_enabled;
  rudp_netem_stats netem;
  /** recvmmsg_enabled, sendmmsg_enabled: nonzero while batches are read
   *  with recvmmsg / sent with sendmmsg.  When recvmmsg fails with ENOSYS
   *  (or EINVAL: a kernel or seccomp filter refusing the batch), or
   *  sendmmsg with ENOSYS, the binding switches for good to one recvmsg /
   *  sendmsg per datagram (or GSO train); mmsg_fallbacks counts these
   *  switches (at most 2). */
  int recvmmsg_enabled;
  int sendmmsg_enabled;
  uint64_t mmsg_fallbacks;
} rudp_event_stats;

/** `rudp_event_get_stats` fills |stats| with |ev|'s counters. */
RUDP_EXTERN void rudp_event_get_stats(const rudp_event *ev,
                                      rudp_event_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* RUDP_EVENT_H */
