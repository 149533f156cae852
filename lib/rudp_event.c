/*
 * The libevent binding (rudp_event.h): the only file of librudp that
 * touches sockets, clocks and <event2/event.h>.
 *
 * Shape of the loop (one endpoint, one socket):
 *   - a persistent EV_READ event reads batches (recvmmsg; with UDP_GRO a
 *     buffer holds several datagrams of gso_size bytes) and feeds them to
 *     rudp_endpoint_read, drains the error queue (ICMP), then flushes;
 *   - "flush" writes datagrams with rudp_endpoint_write into one arena,
 *     groups consecutive same-size datagrams to one destination into GSO
 *     trains and sends them with sendmmsg; on EAGAIN the rest stays in the
 *     arena (bounded) and a one-shot EV_WRITE event resumes it;
 *   - ONE timer for the endpoint, re-armed at rudp_endpoint_get_expiry
 *     after every read, flush and timer (the endpoint keeps its own heap,
 *     so libevent never holds more than one timer per endpoint);
 *   - a deferred flush event, activated by the endpoint's work_ready (an
 *     application write), so many writes in one callback cost one flush;
 *   - an eventfd for rudp_event_wakeup from other threads;
 *   - with a netem spec (rudp_netem.h), flush hands every datagram to the
 *     impairment queue instead, and releases the due ones into the arena
 *     to be sent as usual; the one timer is then armed at the earlier of
 *     the endpoint's expiry and the queue's next release.
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE /* recvmmsg, sendmmsg */
#endif

#include <rudp/rudp_event.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/event.h>

#include "rudp_macro.h"
#include "rudp_mem.h"
#include "rudp_netem.h"

#ifndef SOL_UDP
#  define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#  define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#  define UDP_GRO 104
#endif

/* EV_RX_BUFSZ is one receive buffer: the largest UDP payload, and the
 * largest GRO coalesced buffer the kernel hands up. */
#define EV_RX_BUFSZ 65536
/* EV_GSO_MAX_SEGS is the kernel's UDP_MAX_SEGMENTS (64 before Linux 6.10,
 * 128 after: use the smaller). */
#define EV_GSO_MAX_SEGS 64
/* EV_GSO_MAX_BYTES keeps a GSO train below the largest IPv4 UDP payload
 * (65535 - 20 - 8). */
#define EV_GSO_MAX_BYTES 65507
/* EV_READ_ROUNDS bounds the recvmmsg calls of one read callback, so a
 * flood cannot starve timers and sends (the event is level-triggered and
 * comes back at once). */
#define EV_READ_ROUNDS 8
/* EV_ERRQ_MAX bounds the error-queue messages read at once. */
#define EV_ERRQ_MAX 64
/* EV_NETEM_SLOTS bounds the datagrams held by the impairment queue. */
#define EV_NETEM_SLOTS 8192

/* ev_txdg is one datagram waiting in the send arena. */
typedef struct ev_txdg {
  /* off, len: the datagram's bytes in ev->tx_buf. */
  size_t off;
  size_t len;
  /* to, tolen: its destination. */
  struct sockaddr_storage to;
  socklen_t tolen;
} ev_txdg;

/* ev_wake is one queued rudp_event_wakeup call. */
typedef struct ev_wake {
  struct ev_wake *next;
  void (*fn)(void *arg);
  void *arg;
} ev_wake;

/* ev_rxctl is the control buffer of one received message (UDP_GRO's
 * gso_size). */
typedef union ev_rxctl {
  char buf[CMSG_SPACE(sizeof(int))];
  struct cmsghdr align;
} ev_rxctl;

/* ev_txctl is the control buffer of one sent message (UDP_SEGMENT). */
typedef union ev_txctl {
  char buf[CMSG_SPACE(sizeof(uint16_t))];
  struct cmsghdr align;
} ev_txctl;

struct rudp_event {
  /* base runs the events; ep is the endpoint driven. */
  struct event_base *base;
  rudp_endpoint *ep;
  const rudp_mem *mem;
  rudp_event_settings settings;
  /* app_cb, user_data: the application's endpoint callbacks. */
  rudp_endpoint_callbacks app_cb;
  void *user_data;
  /* fd is the UDP socket, family its address family. */
  int fd;
  int family;
  /* rev: persistent EV_READ; wev: one-shot EV_WRITE after EAGAIN; timer:
   * the endpoint's expiry; flush_ev: deferred flush (work_ready); wake_ev:
   * reads wakefd. */
  struct event *rev, *wev, *timer, *flush_ev, *wake_ev;
  /* timer_at is the deadline the timer is armed for (RUDP_TSTAMP_MAX: not
   * armed). */
  rudp_tstamp timer_at;
  /* wakefd is the eventfd of rudp_event_wakeup; wake_mu guards the queue
   * wake_head..wake_tail. */
  int wakefd;
  pthread_mutex_t wake_mu;
  ev_wake *wake_head, *wake_tail;
  /* Receive batch: recv_batch messages of EV_RX_BUFSZ bytes each. */
  uint8_t *rx_buf;
  struct mmsghdr *rx_msgs;
  struct iovec *rx_iov;
  struct sockaddr_storage *rx_addr;
  ev_rxctl *rx_ctl;
  /* Send arena: tx_buf (tx_cap bytes) holds the datagrams tx_dg[tx_head,
   * tx_len) back to back, in the order the endpoint wrote them. */
  uint8_t *tx_buf;
  size_t tx_cap, tx_used;
  ev_txdg *tx_dg;
  size_t tx_dg_cap, tx_head, tx_len;
  /* tx_max_dg is the largest datagram written so far: the arena stops
   * taking datagrams when less than that is left. */
  size_t tx_max_dg;
  /* Send batch scratch: send_batch messages. */
  struct mmsghdr *tx_msgs;
  struct iovec *tx_iov;
  ev_txctl *tx_ctl;
  size_t *tx_nsegs;
  /* blocked is nonzero while waiting for EV_WRITE. */
  int blocked;
  /* force_no_mmsg, force_gso_fail: the testing aids of rudp_event.h
   * (RUDP_EVENT_FORCE_NO_MMSG, RUDP_EVENT_FORCE_GSO_FAIL); each makes the
   * next matching call fail once as the kernel would, then clears.
   * force_no_mmsg holds bit 0 for recvmmsg and bit 1 for sendmmsg. */
  int force_no_mmsg;
  int force_gso_fail;
  /* force_eagain (RUDP_EVENT_FORCE_EAGAIN=N): every Nth send call fails
   * with EAGAIN (0: never); force_eagain_n counts the calls. */
  unsigned long force_eagain, force_eagain_n;
  /* netem_on is nonzero when netem (the impairment queue of
   * settings.netem) is in use. */
  int netem_on;
  rudp_netem netem;
  rudp_event_stats stats;
};

/* ------------------------------------------------------------ helpers */

rudp_tstamp rudp_event_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (rudp_tstamp)ts.tv_sec * RUDP_SECONDS + (rudp_tstamp)ts.tv_nsec;
}

/* ev_getrandom is the default rand callback: getrandom(2) blocks only
 * before the kernel's pool is initialised at boot. */
static int ev_getrandom(uint8_t *dest, size_t len, void *user_data) {
  (void)user_data;
  while (len > 0) {
    ssize_t n = getrandom(dest, len, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return RUDP_ERR_CALLBACK_FAILURE;
    }
    dest += n;
    len -= (size_t)n;
  }
  return 0;
}

static void ev_record(rudp_event *ev, int rv) {
  if (rv < 0 && rudp_err_is_fatal(rv)) {
    ev->stats.last_error = rv;
  }
}

/* ev_arm_timer arms the one timer at the endpoint's expiry. */
static void ev_arm_timer(rudp_event *ev) {
  rudp_tstamp exp = rudp_endpoint_get_expiry(ev->ep), now;
  rudp_duration d;
  struct timeval tv;

  /* While blocked, EV_WRITE resumes the releases: a due netem datagram
   * must not make the timer spin until then. */
  if (ev->netem_on && !ev->blocked) {
    exp = rudp_min(exp, rudp_netem_next(&ev->netem));
  }

  if (exp == RUDP_TSTAMP_MAX) {
    if (ev->timer_at != RUDP_TSTAMP_MAX) {
      evtimer_del(ev->timer);
      ev->timer_at = RUDP_TSTAMP_MAX;
    }
    return;
  }
  if (exp == ev->timer_at) {
    return;
  }
  now = rudp_event_now();
  d = exp > now ? exp - now : 0;
  /* Round up to the microsecond: firing early would find nothing due and
   * re-arm at once, a busy loop until the deadline. */
  tv.tv_sec = (time_t)(d / RUDP_SECONDS);
  tv.tv_usec = (suseconds_t)((d % RUDP_SECONDS + 999) / 1000);
  if (tv.tv_usec >= 1000000) {
    ++tv.tv_sec;
    tv.tv_usec -= 1000000;
  }
  /* libevent measures the delay from the loop's cached time, taken
   * before this callback ran: refresh it, or the timer fires early by
   * the callback's run time, finds nothing due and is set again. */
  event_base_update_cache_time(ev->base);
  evtimer_add(ev->timer, &tv);
  ev->timer_at = exp;
}

/* ev_run_timers runs the endpoint's timers if one is due. */
static void ev_run_timers(rudp_event *ev, rudp_tstamp now) {
  if (rudp_endpoint_get_expiry(ev->ep) <= now) {
    ev_record(ev, rudp_endpoint_handle_expiry(ev->ep, now));
  }
}

/* ------------------------------------------------------------ send */

/* ev_same_addr compares two destinations byte for byte (the endpoint
 * writes them the same way every time). */
static int ev_same_addr(const ev_txdg *a, const ev_txdg *b) {
  return a->tolen == b->tolen && memcmp(&a->to, &b->to, a->tolen) == 0;
}

/* ev_build fills message |i| with the datagrams starting at |j|: one
 * datagram, or with GSO a train of equal-size datagrams to one
 * destination (the last may be shorter, as UDP_SEGMENT requires).
 * Returns the number of datagrams taken. */
static size_t ev_build(rudp_event *ev, size_t i, size_t j) {
  ev_txdg *first = &ev->tx_dg[j];
  struct msghdr *mh = &ev->tx_msgs[i].msg_hdr;
  size_t segsz = first->len, total = first->len, k = j + 1;

  if (ev->stats.gso_enabled) {
    /* A train starts with two datagrams of one size: a lone larger one
     * (a path MTU probe) goes on its own, so that if the path refuses it
     * (EMSGSIZE) the packet after it is not lost with it. */
    while (k < ev->tx_len && k - j < EV_GSO_MAX_SEGS &&
           ev->tx_dg[k - 1].len == segsz && ev->tx_dg[k].len <= segsz &&
           (k > j + 1 || ev->tx_dg[k].len == segsz) &&
           total + ev->tx_dg[k].len <= EV_GSO_MAX_BYTES &&
           ev_same_addr(first, &ev->tx_dg[k])) {
      total += ev->tx_dg[k].len;
      ++k;
    }
  }
  memset(mh, 0, sizeof(*mh));
  /* The datagrams of a train are adjacent in the arena. */
  ev->tx_iov[i].iov_base = ev->tx_buf + first->off;
  ev->tx_iov[i].iov_len = total;
  mh->msg_iov = &ev->tx_iov[i];
  mh->msg_iovlen = 1;
  mh->msg_name = &first->to;
  mh->msg_namelen = first->tolen;
  if (k - j > 1) {
    struct cmsghdr *cm;
    uint16_t gso = (uint16_t)segsz;
    mh->msg_control = ev->tx_ctl[i].buf;
    mh->msg_controllen = sizeof(ev->tx_ctl[i].buf);
    cm = CMSG_FIRSTHDR(mh);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(gso));
    memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
  }
  ev->tx_nsegs[i] = k - j;
  return k - j;
}

/* ev_sent accounts for the first |nmsg| messages built and drops their
 * datagrams from the queue (counted as errors if |failed|). */
static void ev_sent(rudp_event *ev, size_t nmsg, int failed) {
  size_t i, s;
  for (i = 0; i < nmsg; ++i) {
    for (s = 0; s < ev->tx_nsegs[i]; ++s) {
      if (failed) {
        ++ev->stats.send_errors;
      } else {
        ++ev->stats.dgrams_sent;
        ev->stats.bytes_sent += ev->tx_dg[ev->tx_head].len;
      }
      ++ev->tx_head;
    }
    if (!failed && ev->tx_nsegs[i] > 1) {
      ++ev->stats.gso_sends;
    }
  }
}

static void ev_drain_errqueue(rudp_event *ev);

/* EV_FORCE_RECV, EV_FORCE_SEND are the bits of force_no_mmsg. */
#define EV_FORCE_RECV 1
#define EV_FORCE_SEND 2

/* ev_env_flag returns nonzero if the environment variable |name| is set
 * to a nonzero number (a testing aid, see rudp_event.h). */
static unsigned long ev_env_flag(const char *name) {
  const char *v = getenv(name);
  return v ? strtoul(v, NULL, 10) : 0;
}

/*
 * ev_sendmmsg sends the first |nmsg| messages built, like sendmmsg:
 * returns how many the kernel took (> 0), or -1 with errno.  Without
 * sendmmsg (ENOSYS: an old kernel, or a seccomp filter that does not know
 * it) it falls back for good to one sendmsg per message.
 */
static int ev_sendmmsg(rudp_event *ev, size_t nmsg) {
  size_t i;
  if (ev->force_eagain && ++ev->force_eagain_n % ev->force_eagain == 0) {
    /* Testing aid: a full socket buffer, which loopback never shows (it
     * frees a datagram's send buffer charge as soon as it is sent). */
    ++ev->stats.send_syscalls;
    errno = EAGAIN;
    return -1;
  }
  if (ev->force_gso_fail && ev->stats.gso_enabled) {
    /* Testing aid: the first train fails as on a device without
     * checksum offload; the messages before it go out normally. */
    for (i = 0; i < nmsg && ev->tx_nsegs[i] <= 1; ++i) {
    }
    if (i == 0) {
      ev->force_gso_fail = 0;
      ++ev->stats.send_syscalls;
      errno = EIO;
      return -1;
    }
    nmsg = i;
  }
  if (nmsg > 1 && ev->stats.sendmmsg_enabled) {
    int rv;
    ++ev->stats.send_syscalls;
    if (ev->force_no_mmsg & EV_FORCE_SEND) {
      ev->force_no_mmsg &= ~EV_FORCE_SEND;
      rv = -1;
      errno = ENOSYS;
    } else {
      rv = sendmmsg(ev->fd, ev->tx_msgs, (unsigned)nmsg, 0);
    }
    if (rv >= 0 || errno != ENOSYS) {
      return rv;
    }
    ev->stats.sendmmsg_enabled = 0;
    ++ev->stats.mmsg_fallbacks;
  }
  for (i = 0; i < nmsg; ++i) {
    ++ev->stats.send_syscalls;
    if (sendmsg(ev->fd, &ev->tx_msgs[i].msg_hdr, 0) < 0) {
      if (i == 0) {
        return -1;
      }
      /* The caller sees the error again on its next call; an EAGAIN
       * seen here is counted now so that every call is accounted for. */
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ++ev->stats.eagain;
      }
      break;
    }
  }
  return (int)i;
}

/*
 * ev_send_queued sends the queued datagrams.  Returns 0 when the queue is
 * empty, or -1 when the socket is full (EV_WRITE is armed; the rest stays
 * queued).
 */
static int ev_send_queued(rudp_event *ev) {
  int retries = 0;
  while (ev->tx_head < ev->tx_len) {
    size_t nmsg = 0, j = ev->tx_head;
    int rv;
    while (nmsg < ev->settings.send_batch && j < ev->tx_len) {
      j += ev_build(ev, nmsg, j);
      ++nmsg;
    }
    rv = ev_sendmmsg(ev, nmsg);
    if (rv > 0) {
      ev_sent(ev, (size_t)rv, 0);
      retries = 0;
      continue;
    }
    switch (errno) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
      ++ev->stats.eagain;
      ev->blocked = 1;
      event_add(ev->wev, NULL);
      return -1;
    case EINTR:
      continue;
    case EIO:
    case EINVAL:
      if (ev->tx_nsegs[0] > 1) {
        /* The device (or kernel) cannot segment: send one by one from
         * now on (EIO is what a NIC without checksum offload gives). */
        ev->stats.gso_enabled = 0;
        continue;
      }
      break;
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
      /* A pending ICMP error reported on this send (IP_RECVERR), not a
       * failure of this datagram: read the error queue, then retry. */
      ev_drain_errqueue(ev);
      if (++retries <= 2) {
        continue;
      }
      break;
    default:
      break;
    }
    /* EMSGSIZE, ENOBUFS, ...: UDP may lose datagrams; drop the first
     * message and let loss recovery do its job. */
    ev_sent(ev, 1, 1);
    retries = 0;
  }
  ev->tx_head = ev->tx_len = 0;
  ev->tx_used = 0;
  return 0;
}

/* ev_produce fills the empty arena with the endpoint's datagrams.
 * Returns how many it wrote. */
static size_t ev_produce(rudp_event *ev, rudp_tstamp now) {
  while (ev->tx_len < ev->tx_dg_cap &&
         ev->tx_cap - ev->tx_used >=
             rudp_max(ev->tx_max_dg, (size_t)RUDP_MIN_UDP_PAYLOAD)) {
    ev_txdg *d = &ev->tx_dg[ev->tx_len];
    size_t room =
        rudp_min(ev->tx_cap - ev->tx_used, (size_t)RUDP_MAX_UDP_PAYLOAD);
    rudp_ssize n = rudp_endpoint_write(ev->ep, ev->tx_buf + ev->tx_used, room,
                                       &d->to, &d->tolen, now);
    if (n <= 0) {
      ev_record(ev, (int)n);
      break;
    }
    d->off = ev->tx_used;
    d->len = (size_t)n;
    ev->tx_used += (size_t)n;
    ev->tx_max_dg = rudp_max(ev->tx_max_dg, (size_t)n);
    ++ev->tx_len;
  }
  return ev->tx_len;
}

/* ev_netem_take moves the arena's datagrams into the impairment queue
 * (which copies them) and empties the arena. */
static void ev_netem_take(rudp_event *ev, rudp_tstamp now) {
  size_t i;
  for (i = ev->tx_head; i < ev->tx_len; ++i) {
    const ev_txdg *d = &ev->tx_dg[i];
    rudp_netem_submit(&ev->netem, ev->tx_buf + d->off, d->len,
                      (const struct sockaddr *)&d->to, d->tolen, now);
  }
  ev->tx_head = ev->tx_len = 0;
  ev->tx_used = 0;
}

/* ev_netem_release fills the arena with the datagrams the impairment
 * queue releases at |now|. */
static void ev_netem_release(rudp_event *ev, rudp_tstamp now) {
  size_t n;
  while (ev->tx_len < ev->tx_dg_cap &&
         (n = rudp_netem_peek_len(&ev->netem, now)) > 0 &&
         n <= ev->tx_cap - ev->tx_used) {
    ev_txdg *d = &ev->tx_dg[ev->tx_len];
    rudp_ssize r = rudp_netem_pop(&ev->netem, now, ev->tx_buf + ev->tx_used, n,
                                  &d->to, &d->tolen);
    if (r <= 0) {
      break;
    }
    d->off = ev->tx_used;
    d->len = (size_t)r;
    ev->tx_used += (size_t)r;
    ++ev->tx_len;
  }
}

/* ev_flush sends everything the endpoint has now, then re-arms the
 * timer. */
static void ev_flush(rudp_event *ev) {
  rudp_tstamp now = rudp_event_now();
  if (!ev->blocked) {
    for (;;) {
      if (ev->tx_len > 0 && ev_send_queued(ev) != 0) {
        break;
      }
      if (ev->netem_on) {
        /* The arena is empty here: fill it from the endpoint, pass that
         * through the impairments, then refill it with what is due. */
        size_t np = ev_produce(ev, now);
        ev_netem_take(ev, now);
        ev_netem_release(ev, now);
        if (np == 0 && ev->tx_len == 0) {
          break;
        }
        continue;
      }
      if (ev_produce(ev, now) == 0) {
        break;
      }
    }
  }
  ev_arm_timer(ev);
}

static void ev_on_write(evutil_socket_t fd, short what, void *arg) {
  rudp_event *ev = arg;
  (void)fd;
  (void)what;
  ev->blocked = 0;
  ev_flush(ev);
}

static void ev_on_flush(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  ev_flush(arg);
}

static void ev_on_timer(evutil_socket_t fd, short what, void *arg) {
  rudp_event *ev = arg;
  (void)fd;
  (void)what;
  ev->timer_at = RUDP_TSTAMP_MAX;
  ++ev->stats.timer_fires;
  ev_run_timers(ev, rudp_event_now());
  ev_flush(ev);
}

/* ------------------------------------------------------------ receive */

/*
 * ev_drain_errqueue reads the socket's error queue (IP_RECVERR).  An ICMP
 * port unreachable (ICMPv4 type 3 code 3, ICMPv6 type 1 code 4; the kernel
 * reports both as ECONNREFUSED) names, in msg_name, the destination of the
 * datagram that drew it: connections still connecting to it are refused
 * (rudp_endpoint_on_unreachable).  SO_EE_OFFENDER would give the router
 * that sent the ICMP; the destination is what the endpoint knows.
 */
static void ev_drain_errqueue(rudp_event *ev) {
  int i;
  for (i = 0; i < EV_ERRQ_MAX; ++i) {
    struct sockaddr_storage name;
    union {
      char buf[512];
      struct cmsghdr align;
    } ctl;
    uint8_t data[64];
    struct iovec iov = {data, sizeof(data)};
    struct msghdr mh;
    struct cmsghdr *cm;

    memset(&mh, 0, sizeof(mh));
    mh.msg_name = &name;
    mh.msg_namelen = sizeof(name);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    ++ev->stats.recv_syscalls;
    if (recvmsg(ev->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
      return;
    }
    for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
      struct sock_extended_err ee;
      if (!((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
            (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR)) ||
          cm->cmsg_len < CMSG_LEN(sizeof(ee))) {
        continue;
      }
      memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
      if ((ee.ee_origin == SO_EE_ORIGIN_ICMP ||
           ee.ee_origin == SO_EE_ORIGIN_ICMP6) &&
          ee.ee_errno == ECONNREFUSED && mh.msg_namelen > 0) {
        ++ev->stats.icmp_unreachable;
        rudp_endpoint_on_unreachable(ev->ep, (struct sockaddr *)&name,
                                     mh.msg_namelen);
      }
    }
  }
}

/* ev_gro_size returns the UDP_GRO segment size of a received message, or
 * 0. */
static size_t ev_gro_size(struct msghdr *mh) {
  struct cmsghdr *cm;
  for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
    if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
      int v;
      memcpy(&v, CMSG_DATA(cm), sizeof(v));
      return v > 0 ? (size_t)v : 0;
    }
  }
  return 0;
}

static void ev_deliver(rudp_event *ev, size_t i, size_t len, rudp_tstamp now) {
  struct msghdr *mh = &ev->rx_msgs[i].msg_hdr;
  const uint8_t *p = ev->rx_iov[i].iov_base;
  size_t seg = ev_gro_size(mh), off;

  if (mh->msg_flags & MSG_TRUNC) {
    ++ev->stats.recv_dropped;
    return;
  }
  if (seg == 0 || seg >= len) {
    seg = len;
  } else {
    ++ev->stats.gro_recvs;
  }
  for (off = 0; off < len || len == 0; off += seg) {
    size_t n = rudp_min(seg, len - off);
    ++ev->stats.dgrams_recv;
    ev->stats.bytes_recv += n;
    ev_record(ev, rudp_endpoint_read(ev->ep, p + off, n, mh->msg_name,
                                     mh->msg_namelen, now));
    if (len == 0) {
      break;
    }
  }
}

/*
 * ev_recvmmsg reads up to |nb| messages into the receive batch, like
 * recvmmsg: returns how many (>= 0), or -1 with errno.  Without recvmmsg
 * (ENOSYS, or EINVAL from a kernel or filter that refuses the batch) it
 * falls back for good to one recvmsg per datagram.
 */
static int ev_recvmmsg(rudp_event *ev, size_t nb) {
  size_t i;
  if (nb > 1 && ev->stats.recvmmsg_enabled) {
    int n;
    ++ev->stats.recv_syscalls;
    if (ev->force_no_mmsg & EV_FORCE_RECV) {
      ev->force_no_mmsg &= ~EV_FORCE_RECV;
      n = -1;
      errno = ENOSYS;
    } else {
      n = recvmmsg(ev->fd, ev->rx_msgs, (unsigned)nb, 0, NULL);
    }
    if (n >= 0 || (errno != ENOSYS && errno != EINVAL)) {
      return n;
    }
    ev->stats.recvmmsg_enabled = 0;
    ++ev->stats.mmsg_fallbacks;
  }
  for (i = 0; i < nb; ++i) {
    ssize_t r;
    ++ev->stats.recv_syscalls;
    r = recvmsg(ev->fd, &ev->rx_msgs[i].msg_hdr, 0);
    if (r < 0) {
      /* Nothing more now (or an error the next read reports again). */
      return i == 0 ? -1 : (int)i;
    }
    ev->rx_msgs[i].msg_len = (unsigned)r;
  }
  return (int)i;
}

static void ev_on_read(evutil_socket_t fd, short what, void *arg) {
  rudp_event *ev = arg;
  size_t i, nb = ev->settings.recv_batch;
  int round;
  (void)fd;
  (void)what;

  for (round = 0; round < EV_READ_ROUNDS; ++round) {
    rudp_tstamp now;
    int n;
    for (i = 0; i < nb; ++i) {
      struct msghdr *mh = &ev->rx_msgs[i].msg_hdr;
      ev->rx_iov[i].iov_base = ev->rx_buf + i * EV_RX_BUFSZ;
      ev->rx_iov[i].iov_len = EV_RX_BUFSZ;
      mh->msg_name = &ev->rx_addr[i];
      mh->msg_namelen = sizeof(ev->rx_addr[i]);
      mh->msg_iov = &ev->rx_iov[i];
      mh->msg_iovlen = 1;
      mh->msg_control = ev->rx_ctl[i].buf;
      mh->msg_controllen = sizeof(ev->rx_ctl[i].buf);
      mh->msg_flags = 0;
    }
    n = ev_recvmmsg(ev, nb);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (round == 0) {
          /* Woken with nothing to read: an error is queued (epoll
           * reports EPOLLERR as readable). */
          ev_drain_errqueue(ev);
        }
        break;
      }
      /* ECONNREFUSED & co: a queued ICMP error, reported once. */
      ev_drain_errqueue(ev);
      continue;
    }
    now = rudp_event_now();
    for (i = 0; i < (size_t)n; ++i) {
      ev_deliver(ev, i, ev->rx_msgs[i].msg_len, now);
    }
    if ((size_t)n < nb) {
      break;
    }
  }
  ev_run_timers(ev, rudp_event_now());
  ev_flush(ev);
}

/* ------------------------------------------------------------ wakeup */

static void ev_on_wake(evutil_socket_t fd, short what, void *arg) {
  rudp_event *ev = arg;
  uint64_t cnt;
  ev_wake *w;
  (void)what;

  if (read(fd, &cnt, sizeof(cnt)) < 0) {
    /* EAGAIN: another callback already reset it. */
  }
  pthread_mutex_lock(&ev->wake_mu);
  w = ev->wake_head;
  ev->wake_head = ev->wake_tail = NULL;
  pthread_mutex_unlock(&ev->wake_mu);
  while (w) {
    ev_wake *next = w->next;
    w->fn(w->arg);
    rudp_mem_free(ev->mem, w);
    w = next;
  }
}

int rudp_event_wakeup(rudp_event *ev, void (*fn)(void *arg), void *arg) {
  uint64_t one = 1;
  ev_wake *w;
  if (!ev || !fn) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  w = rudp_mem_malloc(ev->mem, sizeof(*w));
  if (!w) {
    return RUDP_ERR_NOMEM;
  }
  w->next = NULL;
  w->fn = fn;
  w->arg = arg;
  pthread_mutex_lock(&ev->wake_mu);
  if (ev->wake_tail) {
    ev->wake_tail->next = w;
  } else {
    ev->wake_head = w;
  }
  ev->wake_tail = w;
  pthread_mutex_unlock(&ev->wake_mu);
  /* The counter cannot overflow in practice; EAGAIN would mean a wakeup
   * is pending anyway. */
  if (write(ev->wakefd, &one, sizeof(one)) < 0) {
  }
  return 0;
}

/* ------------------------------------------------------------ endpoint */

static int ev_cb_rand(uint8_t *dest, size_t len, void *user_data) {
  rudp_event *ev = user_data;
  return ev->app_cb.rand(dest, len, ev->user_data);
}

static int ev_cb_accept_ready(rudp_endpoint *ep, void *user_data) {
  rudp_event *ev = user_data;
  return ev->app_cb.accept_ready ? ev->app_cb.accept_ready(ep, ev->user_data)
                                 : 0;
}

static void ev_cb_work_ready(rudp_endpoint *ep, void *user_data) {
  rudp_event *ev = user_data;
  /* Deferred: every write of one application callback costs one flush,
   * and a flush never runs inside an endpoint call. */
  event_active(ev->flush_ev, EV_TIMEOUT, 0);
  if (ev->app_cb.work_ready) {
    ev->app_cb.work_ready(ep, ev->user_data);
  }
}

void rudp_event_settings_default(rudp_event_settings *settings) {
  memset(settings, 0, sizeof(*settings));
  rudp_endpoint_settings_default(&settings->endpoint);
  settings->recv_batch = 32;
  settings->send_batch = 32;
  settings->send_queue_size = 512 * 1024;
  settings->gso = 1;
  settings->gro = 1;
  settings->sockbuf_size = 4 * 1024 * 1024;
  settings->reuseport = 0;
  settings->v6only = 0;
  settings->mem = NULL;
  settings->netem = NULL;
}

/* ev_socket creates, configures and binds the socket.  Returns 0 or
 * RUDP_ERR_IO (errno set). */
static int ev_socket(rudp_event *ev, const struct sockaddr *bind_addr,
                     socklen_t bindlen) {
  const rudp_event_settings *st = &ev->settings;
  int on = 1, zero = 0, v;

  ev->fd = socket(ev->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (ev->fd < 0) {
    return RUDP_ERR_IO;
  }
  if (ev->family == AF_INET6) {
    v = st->v6only ? 1 : 0;
    if (setsockopt(ev->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v)) != 0) {
      return RUDP_ERR_IO;
    }
    /* ICMPv6 errors, and ICMPv4 ones for v4-mapped peers. */
    setsockopt(ev->fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on));
    /* Never fragment (DESIGN.md 3: datagrams fit the path). */
    v = IPV6_PMTUDISC_PROBE;
    setsockopt(ev->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof(v));
  }
  setsockopt(ev->fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on));
  v = IP_PMTUDISC_PROBE;
  setsockopt(ev->fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v));
  if (st->reuseport &&
      setsockopt(ev->fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
    return RUDP_ERR_IO;
  }
  if (st->sockbuf_size > 0) {
    v = (int)rudp_min(st->sockbuf_size, (size_t)0x7fffffff);
    setsockopt(ev->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
    setsockopt(ev->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
  }
  /* Probes: UDP_SEGMENT 0 is "no default segment size", accepted by every
   * kernel that knows the option. */
  ev->stats.gso_enabled = st->gso && setsockopt(ev->fd, SOL_UDP, UDP_SEGMENT,
                                                &zero, sizeof(zero)) == 0;
  ev->stats.gro_enabled =
      st->gro && setsockopt(ev->fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;
  if (bind(ev->fd, bind_addr, bindlen) != 0) {
    return RUDP_ERR_IO;
  }
  return 0;
}

int rudp_event_endpoint_new(rudp_event **pev, struct event_base *base,
                            const struct sockaddr *bind_addr, socklen_t bindlen,
                            const rudp_event_settings *settings,
                            const rudp_endpoint_callbacks *ep_callbacks,
                            const rudp_callbacks *conn_callbacks,
                            void *user_data) {
  static const rudp_endpoint_callbacks ev_cb = {ev_cb_rand, ev_cb_accept_ready,
                                                ev_cb_work_ready};
  rudp_event_settings defaults;
  rudp_netem_spec nspec;
  const char *nstr;
  const rudp_mem *mem;
  rudp_event *ev;
  size_t nb, ns;
  int rv, saved;

  if (!settings) {
    rudp_event_settings_default(&defaults);
    settings = &defaults;
  }
  if (!pev || !base || !bind_addr ||
      !((bind_addr->sa_family == AF_INET &&
         bindlen >= (socklen_t)sizeof(struct sockaddr_in)) ||
        (bind_addr->sa_family == AF_INET6 &&
         bindlen >= (socklen_t)sizeof(struct sockaddr_in6))) ||
      settings->recv_batch < 1 || settings->recv_batch > 1024 ||
      settings->send_batch < 1 || settings->send_batch > 1024 ||
      settings->send_queue_size < 2 * RUDP_MAX_UDP_PAYLOAD) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  /* The spec is parsed before anything is created, so a typo in
   * RUDP_NETEM fails fast. */
  nstr = settings->netem ? settings->netem : getenv("RUDP_NETEM");
  if (rudp_netem_parse(&nspec, nstr ? nstr : "") != 0) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  mem = settings->mem ? settings->mem : rudp_mem_default();
  ev = rudp_mem_calloc(mem, 1, sizeof(*ev));
  if (!ev) {
    return RUDP_ERR_NOMEM;
  }
  ev->base = base;
  ev->mem = mem;
  ev->settings = *settings;
  ev->settings.mem = mem;
  /* The string need not outlive this call: the parsed spec is kept. */
  ev->settings.netem = NULL;
  if (ep_callbacks) {
    ev->app_cb = *ep_callbacks;
  }
  if (!ev->app_cb.rand) {
    ev->app_cb.rand = ev_getrandom;
  }
  ev->user_data = user_data;
  ev->family = bind_addr->sa_family;
  ev->fd = -1;
  ev->wakefd = -1;
  ev->timer_at = RUDP_TSTAMP_MAX;
  ev->tx_max_dg = settings->endpoint.conn.tx_udp_payload_size;
  ev->stats.recvmmsg_enabled = 1;
  ev->stats.sendmmsg_enabled = 1;
  if (ev_env_flag("RUDP_EVENT_FORCE_NO_MMSG")) {
    ev->force_no_mmsg = EV_FORCE_RECV | EV_FORCE_SEND;
  }
  ev->force_gso_fail = ev_env_flag("RUDP_EVENT_FORCE_GSO_FAIL") != 0;
  ev->force_eagain = ev_env_flag("RUDP_EVENT_FORCE_EAGAIN");
  pthread_mutex_init(&ev->wake_mu, NULL);

  nb = settings->recv_batch;
  ns = settings->send_batch;
  ev->tx_cap = settings->send_queue_size;
  ev->tx_dg_cap = ev->tx_cap / RUDP_MIN_UDP_PAYLOAD + 1;
  ev->rx_buf = rudp_mem_malloc(mem, nb * EV_RX_BUFSZ);
  ev->rx_msgs = rudp_mem_calloc(mem, nb, sizeof(*ev->rx_msgs));
  ev->rx_iov = rudp_mem_calloc(mem, nb, sizeof(*ev->rx_iov));
  ev->rx_addr = rudp_mem_calloc(mem, nb, sizeof(*ev->rx_addr));
  ev->rx_ctl = rudp_mem_calloc(mem, nb, sizeof(*ev->rx_ctl));
  ev->tx_buf = rudp_mem_malloc(mem, ev->tx_cap);
  ev->tx_dg = rudp_mem_calloc(mem, ev->tx_dg_cap, sizeof(*ev->tx_dg));
  ev->tx_msgs = rudp_mem_calloc(mem, ns, sizeof(*ev->tx_msgs));
  ev->tx_iov = rudp_mem_calloc(mem, ns, sizeof(*ev->tx_iov));
  ev->tx_ctl = rudp_mem_calloc(mem, ns, sizeof(*ev->tx_ctl));
  ev->tx_nsegs = rudp_mem_calloc(mem, ns, sizeof(*ev->tx_nsegs));
  if (!ev->rx_buf || !ev->rx_msgs || !ev->rx_iov || !ev->rx_addr ||
      !ev->rx_ctl || !ev->tx_buf || !ev->tx_dg || !ev->tx_msgs || !ev->tx_iov ||
      !ev->tx_ctl || !ev->tx_nsegs) {
    rv = RUDP_ERR_NOMEM;
    goto fail;
  }
  if (rudp_netem_spec_is_active(&nspec)) {
    rv = rudp_netem_init(&ev->netem, &nspec, EV_NETEM_SLOTS, mem);
    if (rv != 0) {
      goto fail;
    }
    ev->netem_on = 1;
    ev->stats.netem_enabled = 1;
  }
  rv = ev_socket(ev, bind_addr, bindlen);
  if (rv != 0) {
    goto fail;
  }
  ev->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ev->wakefd < 0) {
    rv = RUDP_ERR_IO;
    goto fail;
  }
  ev->rev = event_new(base, ev->fd, EV_READ | EV_PERSIST, ev_on_read, ev);
  ev->wev = event_new(base, ev->fd, EV_WRITE, ev_on_write, ev);
  ev->timer = evtimer_new(base, ev_on_timer, ev);
  ev->flush_ev = event_new(base, -1, 0, ev_on_flush, ev);
  ev->wake_ev =
      event_new(base, ev->wakefd, EV_READ | EV_PERSIST, ev_on_wake, ev);
  if (!ev->rev || !ev->wev || !ev->timer || !ev->flush_ev || !ev->wake_ev ||
      event_add(ev->rev, NULL) != 0 || event_add(ev->wake_ev, NULL) != 0) {
    rv = RUDP_ERR_IO;
    goto fail;
  }
  rv = rudp_endpoint_new(&ev->ep, &ev->settings.endpoint, &ev_cb,
                         conn_callbacks, mem, ev, rudp_event_now());
  if (rv != 0) {
    goto fail;
  }
  ev_arm_timer(ev);
  *pev = ev;
  return 0;

fail:
  saved = errno;
  rudp_event_endpoint_free(ev);
  errno = saved;
  return rv;
}

void rudp_event_endpoint_free(rudp_event *ev) {
  ev_wake *w;
  if (!ev) {
    return;
  }
  if (ev->rev) {
    event_free(ev->rev);
  }
  if (ev->wev) {
    event_free(ev->wev);
  }
  if (ev->timer) {
    event_free(ev->timer);
  }
  if (ev->flush_ev) {
    event_free(ev->flush_ev);
  }
  if (ev->wake_ev) {
    event_free(ev->wake_ev);
  }
  rudp_endpoint_del(ev->ep);
  if (ev->fd >= 0) {
    close(ev->fd);
  }
  if (ev->wakefd >= 0) {
    close(ev->wakefd);
  }
  while ((w = ev->wake_head) != NULL) {
    ev->wake_head = w->next;
    rudp_mem_free(ev->mem, w);
  }
  pthread_mutex_destroy(&ev->wake_mu);
  rudp_mem_free(ev->mem, ev->rx_buf);
  rudp_mem_free(ev->mem, ev->rx_msgs);
  rudp_mem_free(ev->mem, ev->rx_iov);
  rudp_mem_free(ev->mem, ev->rx_addr);
  rudp_mem_free(ev->mem, ev->rx_ctl);
  rudp_mem_free(ev->mem, ev->tx_buf);
  rudp_mem_free(ev->mem, ev->tx_dg);
  rudp_mem_free(ev->mem, ev->tx_msgs);
  rudp_mem_free(ev->mem, ev->tx_iov);
  rudp_mem_free(ev->mem, ev->tx_ctl);
  rudp_mem_free(ev->mem, ev->tx_nsegs);
  if (ev->netem_on) {
    rudp_netem_free(&ev->netem);
  }
  rudp_mem_free(ev->mem, ev);
}

rudp_endpoint *rudp_event_endpoint_get_endpoint(rudp_event *ev) {
  return ev->ep;
}

int rudp_event_connect(rudp_event *ev, const struct sockaddr *to,
                       socklen_t tolen, const rudp_settings *settings,
                       void *conn_user_data, rudp_conn **pconn) {
  struct sockaddr_in6 mapped;
  int rv;

  if (!ev || !to || !pconn) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (to->sa_family == AF_INET && ev->family == AF_INET6) {
    struct sockaddr_in sin;
    if (ev->settings.v6only || tolen < (socklen_t)sizeof(sin)) {
      return RUDP_ERR_INVALID_ARGUMENT;
    }
    /* A dual-stack socket reaches IPv4 peers as ::ffff:a.b.c.d, and
     * reports their datagrams from that address. */
    memcpy(&sin, to, sizeof(sin));
    memset(&mapped, 0, sizeof(mapped));
    mapped.sin6_family = AF_INET6;
    mapped.sin6_port = sin.sin_port;
    mapped.sin6_addr.s6_addr[10] = 0xff;
    mapped.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&mapped.sin6_addr.s6_addr[12], &sin.sin_addr, 4);
    to = (const struct sockaddr *)&mapped;
    tolen = sizeof(mapped);
  } else if (to->sa_family != ev->family) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  rv = rudp_endpoint_connect(ev->ep, to, tolen, settings, conn_user_data, pconn,
                             rudp_event_now());
  if (rv != 0) {
    return rv;
  }
  event_active(ev->flush_ev, EV_TIMEOUT, 0);
  return 0;
}

int rudp_event_local_addr(const rudp_event *ev, struct sockaddr_storage *addr,
                          socklen_t *addrlen) {
  if (!ev || !addr || !addrlen) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  *addrlen = sizeof(*addr);
  if (getsockname(ev->fd, (struct sockaddr *)addr, addrlen) != 0) {
    return RUDP_ERR_IO;
  }
  return 0;
}

void rudp_event_get_stats(const rudp_event *ev, rudp_event_stats *stats) {
  *stats = ev->stats;
  if (ev->netem_on) {
    stats->netem = ev->netem.stats;
  }
}
