/*
 * live_stream: the message layer (rudp_msg.h) as live video uses it, over
 * the libevent binding.  docs/MESSAGES.md walks through it.
 *
 *   live_stream -s [-l ADDR] [-p PORT] [--fps N] [--gop N] [--kbit N]
 *   live_stream -c HOST [-p PORT] [-t SECS] [--delay MS] [-q]
 *
 * The server streams pretend video to every viewer: --fps frames a second
 * (default 30) at about --kbit kilobits a second (default 1000), a
 * keyframe every --gop frames (default 30) four times the size of the
 * delta frames between them.  Three channels:
 *
 *   0 UNRELIABLE          delta frames (about 3.8 KB: 4 fragments each);
 *                         a lost one is not worth resending
 *   1 RELIABLE_UNORDERED  keyframes (about 15 KB): worth resending, each
 *                         on its own stream so one keyframe's lost packet
 *                         never holds up another
 *   2 RELIABLE_ORDERED    the stream description, sent once
 *
 * A frame carries its number and capture time.  The viewer plays each
 * frame at its deadline: capture time + --delay MS (default 200; the
 * playout buffer), measured on the viewer's clock from the fastest frame
 * seen (so the two clocks need not agree).  A frame that arrives after its
 * deadline is dropped as late; a frame that never arrives (a fragment
 * lost, or a keyframe the server skipped because its channel was full) is
 * lost.  The viewer prints each late or lost frame and, after -t SECS, a
 * summary.  Frame payloads are checked byte for byte.
 *
 * Settings for live media (docs/PRIORITIES.md): rudp_settings_low_latency()
 * on both sides (ACKs without delay, earlier fast retransmit: a lost
 * keyframe packet is repaired sooner); the stream description at urgency
 * 0; keyframes non-incremental, so each completes before the next one
 * starts (the oldest keyframe, nearest its deadline, is never slowed by
 * a newer one); keyframes and the delta frames' datagrams share the
 * default urgency 3, taking turns packet by packet, so neither starves
 * the other; a short datagram queue (24: two delta frames), as a delta
 * frame that waits behind others is late anyway.
 *
 * Both sides take --netem SPEC (or the environment variable RUDP_NETEM),
 * e.g. --netem loss=2%,delay=30ms,jitter=20ms.
 *
 * Exit status: 0 (viewer: frames played, none corrupt, clean close), 1 on
 * failure, 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>

#include <rudp/rudp.h>
#include <rudp/rudp_event.h>
#include <rudp/rudp_msg.h>

#define PROG "live_stream"
#define DEFAULT_PORT 5300
/* The channels: both sides declare this same table. */
enum { CH_DELTA = 0, CH_KEY = 1, CH_INFO = 2, NCHANNELS = 3 };
static const rudp_msg_mode channel_modes[NCHANNELS] = {
    RUDP_MSG_UNRELIABLE,         /* CH_DELTA */
    RUDP_MSG_RELIABLE_UNORDERED, /* CH_KEY */
    RUDP_MSG_RELIABLE_ORDERED    /* CH_INFO */
};
/* A frame: number (8 bytes, big-endian), capture time (8), payload. */
#define HDRLEN 16
#define MAX_FRAME RUDP_MSG_DEFAULT_UNRELIABLE_SIZE
#define MAX_DETAIL_LINES 40

static void put64(uint8_t *p, uint64_t v) {
  int i;
  for (i = 7; i >= 0; --i) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}

static uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; ++i) {
    v = v << 8 | p[i];
  }
  return v;
}

/* payload_byte is byte |i| of frame |n|'s payload. */
static uint8_t payload_byte(uint64_t n, size_t i) {
  return (uint8_t)(n * 131 + i * 7 + (i >> 8));
}

static double to_ms(rudp_duration d) { return (double)d / 1e6; }

/* ------------------------------------------------------------ server */

typedef struct viewer viewer;

/* viewer is one connected client of the server. */
struct viewer {
  rudp_conn *conn;
  rudp_msg_session *ms;
  uint64_t frame;
  uint64_t keys_skipped;
  int info_sent;
  viewer *next;
};

typedef struct server {
  struct event_base *base;
  rudp_event *ev;
  viewer *viewers;
  unsigned fps, gop;
  size_t key_size, delta_size;
  struct event *timer;
} server;

static server g_srv;

static void viewer_free(viewer *v) {
  viewer **pp;
  for (pp = &g_srv.viewers; *pp; pp = &(*pp)->next) {
    if (*pp == v) {
      *pp = v->next;
      break;
    }
  }
  rudp_msg_session_del(v->ms);
  free(v);
}

static int srv_accept_ready(rudp_endpoint *ep, void *user_data) {
  rudp_conn *conn;
  (void)user_data;
  while ((conn = rudp_endpoint_accept(ep)) != NULL) {
    viewer *v = calloc(1, sizeof(*v));
    if (!v || rudp_msg_session_new(&v->ms, conn, channel_modes, NCHANNELS, NULL,
                                   NULL, NULL, v) != 0) {
      fprintf(stderr, PROG ": refusing a viewer: cannot start its session\n");
      free(v);
      rudp_conn_abort(conn, RUDP_MSG_APP_ERROR_PROTO, "session",
                      rudp_event_now());
      continue;
    }
    v->conn = conn;
    rudp_conn_set_user_data(conn, v->ms);
    /* The description first; keyframes one at a time, in order. */
    rudp_msg_session_set_channel_priority(v->ms, CH_INFO, 0, 1);
    rudp_msg_session_set_channel_priority(v->ms, CH_KEY, RUDP_DEFAULT_URGENCY,
                                          0);
    v->next = g_srv.viewers;
    g_srv.viewers = v;
    printf(PROG ": viewer joined\n");
    fflush(stdout);
  }
  return 0;
}

static void srv_closed(rudp_conn *conn, int error, void *user_data) {
  rudp_msg_session *ms = user_data; /* NULL before accept */
  rudp_msg_stats st;
  viewer *v;
  (void)conn;
  if (!ms) {
    return;
  }
  v = rudp_msg_session_get_user_data(ms);
  rudp_msg_get_stats(ms, &st);
  printf(PROG ": viewer left (%s) after %llu frames, %llu keyframes "
              "skipped; rtt %.2f ms, %.1f%% of the last %llu packets sent "
              "lost\n",
         error ? rudp_strerror(error) : "closed", (unsigned long long)v->frame,
         (unsigned long long)v->keys_skipped, to_ms(st.srtt),
         100.0 * st.loss_rate, (unsigned long long)st.window_sent);
  fflush(stdout);
  viewer_free(v);
}

/* srv_frame "captures" one frame and sends it to every viewer. */
static void srv_frame(evutil_socket_t fd, short what, void *arg) {
  static uint8_t buf[MAX_FRAME];
  rudp_tstamp now = rudp_event_now();
  viewer *v;
  size_t i, len;
  (void)fd;
  (void)what;
  (void)arg;
  for (v = g_srv.viewers; v; v = v->next) {
    int key, rv;
    if (!rudp_conn_is_established(v->conn)) {
      continue;
    }
    rudp_msg_session_handle_expiry(v->ms, now);
    if (!v->info_sent) {
      int n =
          snprintf((char *)buf, sizeof(buf), "fps=%u gop=%u key=%zu delta=%zu",
                   g_srv.fps, g_srv.gop, g_srv.key_size, g_srv.delta_size);
      v->info_sent = rudp_msg_send(v->ms, CH_INFO, buf, (size_t)n, 0) == 0;
    }
    key = v->frame % g_srv.gop == 0;
    len = key ? g_srv.key_size : g_srv.delta_size;
    put64(buf, v->frame);
    put64(buf + 8, now);
    for (i = HDRLEN; i < len; ++i) {
      buf[i] = payload_byte(v->frame, i - HDRLEN);
    }
    rv = rudp_msg_send(v->ms, key ? CH_KEY : CH_DELTA, buf, len, 0);
    /* A keyframe that cannot be queued now would only be late: skip it
     * (the viewer sees it lost) rather than queue behind the backlog. */
    if (key && rv == RUDP_ERR_WOULDBLOCK) {
      ++v->keys_skipped;
    }
    ++v->frame;
  }
}

static void srv_on_signal(evutil_socket_t sig, short what, void *arg) {
  (void)sig;
  (void)what;
  (void)arg;
  event_base_loopbreak(g_srv.base);
}

/* precise_base makes an event_base with precise (timerfd) timers: librudp's
 * loss and pacing timers are sub-millisecond, and epoll would round them up
 * to whole milliseconds (rudp/rudp_event.h, "Timer precision"). */
static struct event_base *precise_base(void) {
  struct event_config *cfg = event_config_new();
  struct event_base *base;
  if (!cfg) {
    return NULL;
  }
  event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
  base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  return base;
}

static int run_server(const struct sockaddr *sa, socklen_t salen,
                      const rudp_event_settings *st) {
  rudp_endpoint_callbacks epcb;
  rudp_callbacks cb;
  struct sockaddr_storage local;
  socklen_t locallen = sizeof(local);
  char host[INET6_ADDRSTRLEN];
  struct timeval period;
  struct event *sigint, *sigterm;
  int rv;

  memset(&epcb, 0, sizeof(epcb));
  epcb.accept_ready = srv_accept_ready;
  memset(&cb, 0, sizeof(cb));
  rudp_msg_route_callbacks(&cb);
  cb.closed = srv_closed;
  g_srv.base = precise_base();
  if (!g_srv.base) {
    fprintf(stderr, PROG ": startup: event_base_new failed\n");
    return 1;
  }
  rv = rudp_event_endpoint_new(&g_srv.ev, g_srv.base, sa, salen, st, &epcb, &cb,
                               NULL);
  if (rv != 0) {
    fprintf(stderr, PROG ": listen: %s\n",
            rv == RUDP_ERR_IO ? strerror(errno) : rudp_strerror(rv));
    event_base_free(g_srv.base);
    return 1;
  }
  rudp_event_local_addr(g_srv.ev, &local, &locallen);
  if (local.ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&local;
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    printf(PROG ": listening on [%s]:%u\n", host, ntohs(a->sin6_port));
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&local;
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    printf(PROG ": listening on %s:%u\n", host, ntohs(a->sin_port));
  }
  fflush(stdout);
  period.tv_sec = 0;
  period.tv_usec = 1000000 / (long)g_srv.fps;
  g_srv.timer = event_new(g_srv.base, -1, EV_PERSIST, srv_frame, NULL);
  sigint = evsignal_new(g_srv.base, SIGINT, srv_on_signal, NULL);
  sigterm = evsignal_new(g_srv.base, SIGTERM, srv_on_signal, NULL);
  if (!g_srv.timer || !sigint || !sigterm) {
    fprintf(stderr, PROG ": startup: cannot create events\n");
    return 1;
  }
  event_add(g_srv.timer, &period);
  event_add(sigint, NULL);
  event_add(sigterm, NULL);
  event_base_dispatch(g_srv.base);
  /* Sessions go before their connections (freed with the endpoint). */
  while (g_srv.viewers) {
    viewer_free(g_srv.viewers);
  }
  rudp_event_endpoint_free(g_srv.ev);
  event_free(g_srv.timer);
  event_free(sigint);
  event_free(sigterm);
  event_base_free(g_srv.base);
  return 0;
}

/* ------------------------------------------------------------ viewer */

typedef struct client {
  struct event_base *base;
  rudp_conn *conn;
  rudp_msg_session *ms;
  rudp_duration playout;
  int quiet;
  int details;
  int closed;
  int error;
  /* Frames: the span seen (from |first|, 0, to |last|), those played on
   * time and late, keyframes. */
  uint64_t first, last;
  int have_frame;
  uint64_t played, late, corrupt, keys_played, keys_late;
  /* offset is the smallest (arrival - capture) seen: the clocks' offset
   * plus the fastest transit. */
  int64_t offset;
  /* seen marks received frame numbers (relative to |first|), to report
   * each lost one. */
  uint8_t *seen;
  size_t seencap;
  /* latencies (arrival - capture - offset) of the frames played. */
  rudp_duration *lat;
  size_t nlat, caplat;
  char info[128];
  rudp_msg_stats mst;
  rudp_msg_channel_stats dst;
} client;

static client g_cli;

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void
detail(const char *fmt, ...) {
  va_list ap;
  if (g_cli.quiet) {
    return;
  }
  if (g_cli.details < MAX_DETAIL_LINES) {
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
  } else if (g_cli.details == MAX_DETAIL_LINES) {
    printf(PROG ": (more late or lost frames not shown)\n");
  }
  ++g_cli.details;
}

/* mark_seen records frame |n|; returns 0, or -1 when out of memory or
 * absurdly far ahead. */
static int mark_seen(uint64_t n) {
  uint64_t idx = n - g_cli.first;
  if (idx >= g_cli.seencap) {
    size_t cap = g_cli.seencap ? g_cli.seencap : 4096;
    uint8_t *p;
    while (cap <= idx) {
      cap *= 2;
    }
    if (cap > (size_t)1 << 26) {
      return -1;
    }
    p = realloc(g_cli.seen, cap);
    if (!p) {
      return -1;
    }
    memset(p + g_cli.seencap, 0, cap - g_cli.seencap);
    g_cli.seen = p;
    g_cli.seencap = cap;
  }
  g_cli.seen[idx] = 1;
  return 0;
}

static void on_frame(const uint8_t *data, size_t len, int key,
                     rudp_tstamp now) {
  uint64_t n, captured;
  int64_t transit;
  rudp_duration lat;
  size_t i;

  if (len < HDRLEN) {
    ++g_cli.corrupt;
    return;
  }
  n = get64(data);
  captured = get64(data + 8);
  for (i = HDRLEN; i < len; ++i) {
    if (data[i] != payload_byte(n, i - HDRLEN)) {
      ++g_cli.corrupt;
      return;
    }
  }
  transit = (int64_t)(now - captured);
  /* The server numbers each viewer's frames from 0 (first stays 0). */
  if (!g_cli.have_frame) {
    g_cli.last = n;
    g_cli.offset = transit;
    g_cli.have_frame = 1;
  }
  if (mark_seen(n) != 0) {
    return; /* absurdly far ahead: not counted */
  }
  if (n > g_cli.last) {
    g_cli.last = n;
  }
  if (transit < g_cli.offset) {
    g_cli.offset = transit;
  }
  lat = (rudp_duration)(transit - g_cli.offset);
  /* Its deadline was capture + offset + playout delay. */
  if (lat > g_cli.playout) {
    ++g_cli.late;
    g_cli.keys_late += key;
    detail(PROG ": %sframe %llu late by %.1f ms: dropped\n", key ? "key" : "",
           (unsigned long long)n, to_ms(lat - g_cli.playout));
    return;
  }
  ++g_cli.played;
  g_cli.keys_played += key;
  if (g_cli.nlat == g_cli.caplat) {
    size_t cap = g_cli.caplat ? 2 * g_cli.caplat : 1024;
    rudp_duration *p = realloc(g_cli.lat, cap * sizeof(*p));
    if (!p) {
      return;
    }
    g_cli.lat = p;
    g_cli.caplat = cap;
  }
  g_cli.lat[g_cli.nlat++] = lat;
}

static int cli_on_message(rudp_msg_session *ms, unsigned channel,
                          uint64_t msg_id, const uint8_t *data, size_t len,
                          void *user_data) {
  (void)ms;
  (void)msg_id;
  (void)user_data;
  if (channel == CH_INFO) {
    snprintf(g_cli.info, sizeof(g_cli.info), "%.*s", (int)len,
             (const char *)data);
    if (!g_cli.quiet) {
      printf(PROG ": stream: %s\n", g_cli.info);
    }
  } else {
    on_frame(data, len, channel == CH_KEY, rudp_event_now());
  }
  return 0;
}

static void cli_end_session(void) {
  if (g_cli.ms) {
    rudp_msg_get_stats(g_cli.ms, &g_cli.mst);
    rudp_msg_get_channel_stats(g_cli.ms, CH_DELTA, &g_cli.dst);
    rudp_msg_session_del(g_cli.ms);
    g_cli.ms = NULL;
  }
}

static void cli_closed(rudp_conn *conn, int error, void *user_data) {
  (void)conn;
  (void)user_data;
  g_cli.closed = 1;
  g_cli.error = error;
  cli_end_session();
  event_base_loopbreak(g_cli.base);
}

static void cli_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  if (g_cli.ms) {
    rudp_msg_session_handle_expiry(g_cli.ms, rudp_event_now());
  }
}

static void cli_stop(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  if (rudp_conn_close(g_cli.conn, rudp_event_now()) != 0) {
    event_base_loopbreak(g_cli.base);
  }
}

static void cli_give_up(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  event_base_loopbreak(g_cli.base);
}

static int cmp_dur(const void *a, const void *b) {
  rudp_duration x = *(const rudp_duration *)a, y = *(const rudp_duration *)b;
  return x < y ? -1 : x > y;
}

static void cli_summary(void) {
  uint64_t span = g_cli.have_frame ? g_cli.last - g_cli.first + 1 : 0;
  uint64_t lost = span - g_cli.played - g_cli.late, i;
  double sum = 0;

  for (i = 0; i < span && i < g_cli.seencap; ++i) {
    if (!g_cli.seen[i]) {
      detail(PROG ": frame %llu lost\n", (unsigned long long)(g_cli.first + i));
    }
  }
  printf(PROG ": frames: %llu in the span, %llu played on time, %llu late "
              "(dropped), %llu lost (%llu incomplete), %llu corrupt\n",
         (unsigned long long)span, (unsigned long long)g_cli.played,
         (unsigned long long)g_cli.late, (unsigned long long)lost,
         (unsigned long long)g_cli.dst.dropped_incomplete,
         (unsigned long long)g_cli.corrupt);
  printf(PROG ": keyframes: %llu on time, %llu late; playout delay %.0f ms\n",
         (unsigned long long)g_cli.keys_played,
         (unsigned long long)g_cli.keys_late, to_ms(g_cli.playout));
  if (g_cli.nlat > 0) {
    qsort(g_cli.lat, g_cli.nlat, sizeof(*g_cli.lat), cmp_dur);
    for (i = 0; i < g_cli.nlat; ++i) {
      sum += (double)g_cli.lat[i];
    }
    printf(PROG ": frame delay above the fastest, ms: avg %.2f p50 %.2f "
                "p99 %.2f max %.2f\n",
           sum / (double)g_cli.nlat / 1e6, to_ms(g_cli.lat[g_cli.nlat / 2]),
           to_ms(g_cli.lat[g_cli.nlat * 99 / 100]),
           to_ms(g_cli.lat[g_cli.nlat - 1]));
  }
  printf(PROG ": path: rtt %.2f ms, jitter %.2f ms; of the last %llu "
              "packets this side sent, %.1f%% were lost\n",
         to_ms(g_cli.mst.srtt), to_ms(g_cli.mst.jitter),
         (unsigned long long)g_cli.mst.window_sent,
         100.0 * g_cli.mst.loss_rate);
  printf(PROG ": summary frames=%llu played=%llu late=%llu lost=%llu "
              "incomplete=%llu corrupt=%llu keyframes=%llu\n",
         (unsigned long long)span, (unsigned long long)g_cli.played,
         (unsigned long long)g_cli.late, (unsigned long long)lost,
         (unsigned long long)g_cli.dst.dropped_incomplete,
         (unsigned long long)g_cli.corrupt,
         (unsigned long long)g_cli.keys_played);
}

static int run_client(const struct sockaddr *to, socklen_t tolen,
                      const rudp_event_settings *st, unsigned secs) {
  static const rudp_msg_callbacks mcb = {cli_on_message, NULL};
  struct sockaddr_storage any;
  rudp_callbacks cb;
  struct timeval tick = {0, 10000}, stop = {0, 0}, give_up = {0, 0};
  struct event *tick_ev, *stop_ev, *give_up_ev;
  rudp_event *ev;
  int rv, ok;

  memset(&cb, 0, sizeof(cb));
  rudp_msg_route_callbacks(&cb);
  cb.closed = cli_closed;
  memset(&any, 0, sizeof(any));
  any.ss_family = to->sa_family;
  g_cli.base = precise_base();
  if (!g_cli.base) {
    fprintf(stderr, PROG ": startup: event_base_new failed\n");
    return 1;
  }
  rv = rudp_event_endpoint_new(&ev, g_cli.base, (struct sockaddr *)&any,
                               to->sa_family == AF_INET6
                                   ? sizeof(struct sockaddr_in6)
                                   : sizeof(struct sockaddr_in),
                               st, NULL, &cb, NULL);
  if (rv == 0) {
    rv = rudp_event_connect(ev, to, tolen, NULL, NULL, &g_cli.conn);
  }
  if (rv == 0) {
    rv = rudp_msg_session_new(&g_cli.ms, g_cli.conn, channel_modes, NCHANNELS,
                              NULL, &mcb, NULL, NULL);
  }
  if (rv != 0) {
    fprintf(stderr, PROG ": connect: %s\n",
            rv == RUDP_ERR_IO ? strerror(errno) : rudp_strerror(rv));
    return 1;
  }
  rudp_conn_set_user_data(g_cli.conn, g_cli.ms);

  stop.tv_sec = (time_t)secs;
  give_up.tv_sec = (time_t)secs + 5;
  tick_ev = event_new(g_cli.base, -1, EV_PERSIST, cli_tick, NULL);
  stop_ev = event_new(g_cli.base, -1, 0, cli_stop, NULL);
  give_up_ev = event_new(g_cli.base, -1, 0, cli_give_up, NULL);
  if (!tick_ev || !stop_ev || !give_up_ev) {
    fprintf(stderr, PROG ": startup: cannot create events\n");
    return 1;
  }
  event_add(tick_ev, &tick);
  event_add(stop_ev, &stop);
  event_add(give_up_ev, &give_up);
  event_base_dispatch(g_cli.base);

  cli_end_session();
  cli_summary();
  ok = g_cli.played > 0 && g_cli.corrupt == 0 && g_cli.closed &&
       g_cli.error == 0;
  if (!g_cli.closed) {
    fprintf(stderr, PROG ": the connection did not close in time\n");
  } else if (g_cli.error != 0) {
    fprintf(stderr, PROG ": connection: %s\n", rudp_strerror(g_cli.error));
  } else if (!ok) {
    fprintf(stderr, PROG ": no frame played, or corrupt frames\n");
  }
  rudp_event_endpoint_free(ev);
  event_free(tick_ev);
  event_free(stop_ev);
  event_free(give_up_ev);
  event_base_free(g_cli.base);
  free(g_cli.seen);
  free(g_cli.lat);
  return ok ? 0 : 1;
}

/* ------------------------------------------------------------ main */

static void usage(FILE *f) {
  fprintf(f,
          "usage: " PROG " -s [-l ADDR] [-p PORT] [--fps N] [--gop N] "
          "[--kbit N]\n"
          "       " PROG " -c HOST [-p PORT] [-t SECS] [--delay MS] [-q]\n"
          "Live video over librudp messages: delta frames unreliable,\n"
          "keyframes reliable and unordered, frames played at a deadline.\n"
          "  -s, --server       stream to every viewer\n"
          "  -l, --listen ADDR  server address (default 127.0.0.1)\n"
          "  -c, --client HOST  watch the stream at HOST\n"
          "  -p, --port PORT    port (default %u; server: 0 picks one)\n"
          "  -t, --time SECS    viewer: how long to watch (default 5)\n"
          "  --fps N            server: frames per second (default 30)\n"
          "  --gop N            server: a keyframe every N frames "
          "(default 30)\n"
          "  --kbit N           server: bitrate in kbit/s (default 1000)\n"
          "  --delay MS         viewer: playout delay (default 200)\n"
          "  -q, --quiet        viewer: only the summary\n"
          "  --netem SPEC       impair sent datagrams, e.g. "
          "loss=2%%,delay=30ms\n"
          "  -h, --help         show this help\n"
          "  --version          show the version\n",
          DEFAULT_PORT);
}

static int parse_uint(const char *s, unsigned long min, unsigned long max,
                      unsigned long *pv) {
  char *end;
  unsigned long v;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno || end == s || *end || *s == '-' || v < min || v > max) {
    return -1;
  }
  *pv = v;
  return 0;
}

static int resolve(const char *host, unsigned port, struct sockaddr_storage *ss,
                   socklen_t *plen) {
  struct addrinfo hints, *ai;
  char portstr[8];
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  snprintf(portstr, sizeof(portstr), "%u", port);
  if (getaddrinfo(host, portstr, &hints, &ai) != 0) {
    return -1;
  }
  memcpy(ss, ai->ai_addr, ai->ai_addrlen);
  *plen = ai->ai_addrlen;
  freeaddrinfo(ai);
  return 0;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"server", no_argument, NULL, 's'},
                                       {"listen", required_argument, NULL, 'l'},
                                       {"client", required_argument, NULL, 'c'},
                                       {"port", required_argument, NULL, 'p'},
                                       {"time", required_argument, NULL, 't'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"fps", required_argument, NULL, 'F'},
                                       {"gop", required_argument, NULL, 'G'},
                                       {"kbit", required_argument, NULL, 'K'},
                                       {"delay", required_argument, NULL, 'D'},
                                       {"netem", required_argument, NULL, 'N'},
                                       {"version", no_argument, NULL, 'V'},
                                       {NULL, 0, NULL, 0}};
  const char *laddr = "127.0.0.1", *host = NULL;
  unsigned long port = DEFAULT_PORT, secs = 5, fps = 30, gop = 30, kbit = 1000,
                delay = 200, per_gop;
  int serve = 0, c, rv;
  rudp_event_settings st;
  struct sockaddr_storage ss;
  socklen_t sslen = 0;

  rudp_event_settings_default(&st);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":sl:c:p:t:qh", opts, NULL)) != -1) {
    const char *bad = NULL;
    switch (c) {
    case 's':
      serve = 1;
      break;
    case 'l':
      laddr = optarg;
      break;
    case 'c':
      host = optarg;
      break;
    case 'p':
      bad = parse_uint(optarg, 0, 65535, &port) ? "bad port" : NULL;
      break;
    case 't':
      bad = parse_uint(optarg, 1, 3600, &secs) ? "bad time" : NULL;
      break;
    case 'q':
      g_cli.quiet = 1;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case 'F':
      bad = parse_uint(optarg, 1, 240, &fps) ? "bad --fps" : NULL;
      break;
    case 'G':
      bad = parse_uint(optarg, 1, 10000, &gop) ? "bad --gop" : NULL;
      break;
    case 'K':
      bad = parse_uint(optarg, 10, 100000, &kbit) ? "bad --kbit" : NULL;
      break;
    case 'D':
      bad = parse_uint(optarg, 0, 60000, &delay) ? "bad --delay" : NULL;
      break;
    case 'N':
      st.netem = optarg;
      break;
    case 'V':
      printf(PROG " (librudp %s)\n", rudp_version());
      return 0;
    case ':':
      fprintf(stderr, PROG ": %s: needs an argument\n", argv[optind - 1]);
      return 2;
    default:
      fprintf(stderr, PROG ": %s: unknown option\n", argv[optind - 1]);
      return 2;
    }
    if (bad) {
      fprintf(stderr, PROG ": %s: %s\n", bad, optarg);
      return 2;
    }
  }
  if (optind != argc || serve == (host != NULL)) {
    fprintf(stderr, PROG ": usage: give -s or -c HOST (see " PROG " -h)\n");
    return 2;
  }
  /* Low-latency loss recovery, on both sides (each side's ACKs set how
   * fast the other repairs a loss). */
  rudp_settings_low_latency(&st.endpoint.conn);
  /* A short datagram queue: room for two delta frames' fragments.  A
   * live sender would rather drop an old frame than queue it behind
   * others until it is late anyway (the queue drops its oldest entry when
   * full). */
  st.endpoint.conn.datagram_queue_len = 24;
  if (serve) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, laddr, &sin->sin_addr) == 1) {
      sin->sin_family = AF_INET;
      sin->sin_port = htons((uint16_t)port);
      sslen = sizeof(*sin);
    } else if (inet_pton(AF_INET6, laddr, &sin6->sin6_addr) == 1) {
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons((uint16_t)port);
      sslen = sizeof(*sin6);
    } else {
      fprintf(stderr, PROG ": bad listen address: %s\n", laddr);
      return 2;
    }
    st.endpoint.listen = 1;
    g_srv.fps = (unsigned)fps;
    g_srv.gop = (unsigned)gop;
    /* A GOP's bytes: one keyframe (4 units) and gop - 1 deltas (1 each). */
    per_gop = kbit * 1000 / 8 * gop / fps;
    g_srv.delta_size = per_gop / (gop + 3);
    if (g_srv.delta_size < HDRLEN) {
      g_srv.delta_size = HDRLEN;
    }
    if (g_srv.delta_size > MAX_FRAME) {
      g_srv.delta_size = MAX_FRAME;
    }
    g_srv.key_size = gop > 1 ? 4 * g_srv.delta_size : g_srv.delta_size;
    if (g_srv.key_size > MAX_FRAME) {
      g_srv.key_size = MAX_FRAME;
    }
    rv = run_server((struct sockaddr *)&ss, sslen, &st);
  } else {
    if (port == 0) {
      fprintf(stderr, PROG ": bad port: 0\n");
      return 2;
    }
    if (resolve(host, (unsigned)port, &ss, &sslen) != 0) {
      fprintf(stderr, PROG ": %s: cannot resolve\n", host);
      return 1;
    }
    g_cli.playout = (rudp_duration)delay * RUDP_MILLISECONDS;
    rv = run_client((struct sockaddr *)&ss, sslen, &st, (unsigned)secs);
  }
  return rv;
}
