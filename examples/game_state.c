/*
 * game_state: the message layer (rudp_msg.h) as a game uses it, over the
 * libevent binding.  docs/MESSAGES.md walks through it.
 *
 *   game_state -s [-l ADDR] [-p PORT] [--hz N] [--size BYTES]
 *   game_state -c HOST [-p PORT] [-t SECS] [--late MS] [-q]
 *
 * The server sends every client a world snapshot N times a second (60 by
 * default) on an UNRELIABLE_SEQUENCED channel: a lost snapshot is not
 * resent (the next one supersedes it) and one overtaken by a newer one is
 * dropped rather than applied late.  Twice a second it also sends a game
 * event ("player 3 scored") on a RELIABLE_ORDERED channel: events must
 * all arrive, in order.  The client sends its player's input 30 times a
 * second on another RELIABLE_ORDERED channel.  The client prints each
 * snapshot that was dropped or arrived late and, after -t SECS, a
 * summary: snapshots received, dropped (lost, overtaken or incomplete),
 * late, their one-way delay, the events, the inputs sent and the path's
 * RTT, jitter and loss; the server prints, for each client that leaves,
 * its inputs received and whether they came in order.
 *
 * What a game should set, and this demo does (docs/PRIORITIES.md):
 *
 *   - rudp_settings_low_latency() on BOTH sides: ACKs without delay and
 *     an earlier fast retransmit (each side's ACKs set how fast the other
 *     side repairs a loss);
 *   - channel priorities: inputs and events at urgency 0, so they never
 *     wait behind anything else the connection sends; the snapshots'
 *     datagrams at urgency 1 (rudp_settings.datagram_urgency), after them
 *     but before bulk traffic a game might add (asset downloads at 5,
 *     telemetry at 7);
 *   - a short datagram queue (16): a snapshot that waits behind others
 *     is stale anyway.
 *
 * Both sides take --netem SPEC (or the environment variable RUDP_NETEM)
 * to impair what they send, e.g. --netem loss=5%,delay=20ms,jitter=10ms.
 *
 * Snapshot delay is the receive time minus the server's send time.  Both
 * read CLOCK_MONOTONIC, which is one clock on one machine; between
 * machines the figures carry the clocks' offset, so "late" is judged on
 * the delay above the smallest one seen (a snapshot is late when it comes
 * more than --late MS, default 50, after the fastest one would have).
 *
 * Exit status: 0 (client: snapshots arrived, events complete and in
 * order), 1 on failure, 2 on a usage error.
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

#define PROG "game_state"
#define DEFAULT_PORT 5300
/* The channels: both sides declare this same table. */
enum { CH_SNAPSHOT = 0, CH_EVENT = 1, CH_INPUT = 2, NCHANNELS = 3 };
static const rudp_msg_mode channel_modes[NCHANNELS] = {
    RUDP_MSG_UNRELIABLE_SEQUENCED, /* CH_SNAPSHOT, server to client */
    RUDP_MSG_RELIABLE_ORDERED,     /* CH_EVENT, server to client */
    RUDP_MSG_RELIABLE_ORDERED      /* CH_INPUT, client to server */
};
/* A snapshot starts with its tick (8 bytes, big-endian) and the server's
 * send time (8); an event with its number (8) and send time (8); an
 * input with its number (8), send time (8) and the pretend input (8). */
#define HDRLEN 16
#define INPUT_LEN (HDRLEN + 8)
#define INPUT_HZ 30
/* The urgency of the snapshots' datagrams (the events' and inputs'
 * streams get 0). */
#define SNAPSHOT_URGENCY 1
#define MAX_SNAPSHOT (64 * 1024)
/* Lines printed for individual late or dropped snapshots, at most. */
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

static double to_ms(rudp_duration d) { return (double)d / 1e6; }

/* ------------------------------------------------------------ server */

typedef struct player player;

/* player is one connected client of the server. */
struct player {
  rudp_conn *conn;
  rudp_msg_session *ms;
  uint64_t tick;
  uint64_t events;
  /* inputs received; inputs_ok while they came in order. */
  uint64_t inputs;
  int inputs_ok;
  player *next;
};

typedef struct server {
  struct event_base *base;
  rudp_event *ev;
  player *players;
  size_t size;
  unsigned hz;
  struct event *timer;
} server;

static server g_srv;

static void player_free(player *p) {
  player **pp;
  for (pp = &g_srv.players; *pp; pp = &(*pp)->next) {
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  }
  rudp_msg_session_del(p->ms);
  free(p);
}

/* srv_on_message takes a client's inputs (reliable, ordered: input n is
 * the n-th message of the channel). */
static int srv_on_message(rudp_msg_session *ms, unsigned channel,
                          uint64_t msg_id, const uint8_t *data, size_t len,
                          void *user_data) {
  player *p = user_data;
  (void)ms;
  if (channel == CH_INPUT) {
    if (len != INPUT_LEN || get64(data) != p->inputs || msg_id != p->inputs) {
      p->inputs_ok = 0;
    }
    ++p->inputs;
  }
  return 0;
}

static int srv_accept_ready(rudp_endpoint *ep, void *user_data) {
  static const rudp_msg_callbacks mcb = {srv_on_message, NULL};
  rudp_conn *conn;
  (void)user_data;
  while ((conn = rudp_endpoint_accept(ep)) != NULL) {
    player *p = calloc(1, sizeof(*p));
    if (p) {
      p->inputs_ok = 1;
    }
    if (!p || rudp_msg_session_new(&p->ms, conn, channel_modes, NCHANNELS, NULL,
                                   &mcb, NULL, p) != 0) {
      /* A bad channel table from the client, or out of memory. */
      fprintf(stderr, PROG ": refusing a client: cannot start its session\n");
      free(p);
      rudp_conn_abort(conn, RUDP_MSG_APP_ERROR_PROTO, "session",
                      rudp_event_now());
      continue;
    }
    p->conn = conn;
    /* The layer's routed callbacks find the session here. */
    rudp_conn_set_user_data(conn, p->ms);
    /* Events before anything else this connection sends (snapshots go at
     * SNAPSHOT_URGENCY, the connection's datagram urgency). */
    rudp_msg_session_set_channel_priority(p->ms, CH_EVENT, 0, 1);
    p->next = g_srv.players;
    g_srv.players = p;
    printf(PROG ": client joined\n");
    fflush(stdout);
  }
  return 0;
}

static void srv_closed(rudp_conn *conn, int error, void *user_data) {
  rudp_msg_session *ms = user_data; /* NULL before accept */
  rudp_msg_stats st;
  player *p;
  (void)conn;
  if (!ms) {
    return;
  }
  p = rudp_msg_session_get_user_data(ms);
  rudp_msg_get_stats(ms, &st);
  printf(PROG ": client left (%s) after %llu snapshots, %llu events; "
              "%llu inputs received, %s; rtt %.2f ms, %.1f%% of the last "
              "%llu packets sent lost\n",
         error ? rudp_strerror(error) : "closed", (unsigned long long)p->tick,
         (unsigned long long)p->events, (unsigned long long)p->inputs,
         p->inputs_ok ? "in order" : "OUT OF ORDER", to_ms(st.srtt),
         100.0 * st.loss_rate, (unsigned long long)st.window_sent);
  fflush(stdout);
  player_free(p);
}

/* srv_tick sends every player its snapshot, and an event twice a second. */
static void srv_tick(evutil_socket_t fd, short what, void *arg) {
  static uint8_t buf[MAX_SNAPSHOT];
  rudp_tstamp now = rudp_event_now();
  player *p;
  size_t i;
  (void)fd;
  (void)what;
  (void)arg;
  for (p = g_srv.players; p; p = p->next) {
    if (!rudp_conn_is_established(p->conn)) {
      continue;
    }
    rudp_msg_session_handle_expiry(p->ms, now);
    put64(buf, p->tick);
    put64(buf + 8, now);
    /* A pretend world: positions that move with the tick. */
    for (i = HDRLEN; i < g_srv.size; ++i) {
      buf[i] = (uint8_t)(p->tick * 7 + i);
    }
    /* Unreliable sends fail only if the connection is gone or refuses
     * datagrams: the next tick tries again. */
    rudp_msg_send(p->ms, CH_SNAPSHOT, buf, g_srv.size, 0);
    ++p->tick;
    if (p->tick % (g_srv.hz / 2 ? g_srv.hz / 2 : 1) == 0) {
      int n;
      put64(buf, p->events);
      put64(buf + 8, now);
      n = snprintf((char *)buf + HDRLEN, 64, "player %llu scored",
                   (unsigned long long)(p->events % 8));
      if (rudp_msg_send(p->ms, CH_EVENT, buf, HDRLEN + (size_t)n, 0) == 0) {
        ++p->events;
      }
    }
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
  period.tv_usec = 1000000 / (long)g_srv.hz;
  g_srv.timer = event_new(g_srv.base, -1, EV_PERSIST, srv_tick, NULL);
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
  while (g_srv.players) {
    player_free(g_srv.players);
  }
  rudp_event_endpoint_free(g_srv.ev);
  event_free(g_srv.timer);
  event_free(sigint);
  event_free(sigterm);
  event_base_free(g_srv.base);
  return 0;
}

/* ------------------------------------------------------------ client */

typedef struct client {
  struct event_base *base;
  rudp_conn *conn;
  rudp_msg_session *ms;
  rudp_duration late;
  int quiet;
  int details;
  int closed;
  int error;
  /* Snapshots: ticks seen, the first and newest, late ones. */
  uint64_t received, late_count, first_tick, last_tick;
  int have_tick;
  /* delays (ns) of every snapshot, for the percentiles. */
  rudp_duration *delays;
  size_t ndelays, capdelays;
  rudp_duration min_delay;
  /* Events: how many, and whether they came complete and in order. */
  uint64_t events;
  int events_ok;
  /* Inputs sent. */
  uint64_t inputs;
  /* The session's stats, taken when the connection closed (the session
   * goes with it). */
  rudp_msg_stats mst;
  rudp_msg_channel_stats snap;
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
    printf(PROG ": (more late or dropped snapshots not shown)\n");
  }
  ++g_cli.details;
}

static void on_snapshot(const uint8_t *data, size_t len, rudp_tstamp now) {
  uint64_t tick, sent;
  rudp_duration d;
  if (len < HDRLEN) {
    return;
  }
  tick = get64(data);
  sent = get64(data + 8);
  d = now > sent ? now - sent : 0;
  if (!g_cli.have_tick && tick > 0) {
    detail(PROG ": snapshots 0 to %llu dropped\n",
           (unsigned long long)(tick - 1));
  }
  if (g_cli.have_tick && tick > g_cli.last_tick + 1) {
    if (tick == g_cli.last_tick + 2) {
      detail(PROG ": snapshot %llu dropped\n",
             (unsigned long long)(g_cli.last_tick + 1));
    } else {
      detail(PROG ": snapshots %llu to %llu dropped\n",
             (unsigned long long)(g_cli.last_tick + 1),
             (unsigned long long)(tick - 1));
    }
  }
  /* The server numbers each client's snapshots from 0 (first_tick stays
   * 0). */
  if (!g_cli.have_tick) {
    g_cli.min_delay = d;
    g_cli.have_tick = 1;
  }
  g_cli.last_tick = tick; /* sequenced: never older than the last */
  ++g_cli.received;
  if (d < g_cli.min_delay) {
    g_cli.min_delay = d;
  }
  if (d - g_cli.min_delay > g_cli.late) {
    ++g_cli.late_count;
    detail(PROG ": snapshot %llu late by %.1f ms\n", (unsigned long long)tick,
           to_ms(d - g_cli.min_delay - g_cli.late));
  }
  if (g_cli.ndelays == g_cli.capdelays) {
    size_t cap = g_cli.capdelays ? 2 * g_cli.capdelays : 1024;
    rudp_duration *p = realloc(g_cli.delays, cap * sizeof(*p));
    if (!p) {
      return;
    }
    g_cli.delays = p;
    g_cli.capdelays = cap;
  }
  g_cli.delays[g_cli.ndelays++] = d;
}

static int cli_on_message(rudp_msg_session *ms, unsigned channel,
                          uint64_t msg_id, const uint8_t *data, size_t len,
                          void *user_data) {
  rudp_tstamp now = rudp_event_now();
  (void)ms;
  (void)user_data;
  if (channel == CH_SNAPSHOT) {
    on_snapshot(data, len, now);
  } else if (channel == CH_EVENT && len >= HDRLEN) {
    /* Reliable and ordered: event n is the n-th message of the channel. */
    if (get64(data) != g_cli.events || msg_id != g_cli.events) {
      g_cli.events_ok = 0;
    }
    ++g_cli.events;
    if (!g_cli.quiet) {
      printf(PROG ": event %llu: %.*s\n", (unsigned long long)get64(data),
             (int)(len - HDRLEN), (const char *)data + HDRLEN);
    }
  }
  return 0;
}

/* cli_end_session keeps the session's stats and deletes it: the endpoint
 * frees the connection after its closed callback, and a session must go
 * first. */
static void cli_end_session(void) {
  if (g_cli.ms) {
    rudp_msg_get_stats(g_cli.ms, &g_cli.mst);
    rudp_msg_get_channel_stats(g_cli.ms, CH_SNAPSHOT, &g_cli.snap);
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

/* cli_tick runs the session's clock and ends the run after -t SECS. */
static void cli_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  if (g_cli.ms) {
    rudp_msg_session_handle_expiry(g_cli.ms, rudp_event_now());
  }
}

/* cli_input sends the player's input (INPUT_HZ times a second). */
static void cli_input(evutil_socket_t fd, short what, void *arg) {
  uint8_t buf[INPUT_LEN];
  (void)fd;
  (void)what;
  (void)arg;
  if (!g_cli.ms || !rudp_conn_is_established(g_cli.conn)) {
    return;
  }
  put64(buf, g_cli.inputs);
  put64(buf + 8, rudp_event_now());
  put64(buf + 16, g_cli.inputs * 0x9e3779b97f4a7c15ull); /* pretend keys */
  if (rudp_msg_send(g_cli.ms, CH_INPUT, buf, sizeof(buf), 0) == 0) {
    ++g_cli.inputs;
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

static void cli_summary(const rudp_msg_stats *st,
                        const rudp_msg_channel_stats *snap) {
  uint64_t span = g_cli.have_tick ? g_cli.last_tick - g_cli.first_tick + 1 : 0;
  uint64_t dropped = span - g_cli.received;
  double sum = 0;
  size_t i;

  printf(PROG ": snapshots: %llu received of %llu sent in that span, "
              "%llu dropped (%llu overtaken, %llu incomplete, the rest "
              "lost), %llu late (> %.0f ms)\n",
         (unsigned long long)g_cli.received, (unsigned long long)span,
         (unsigned long long)dropped, (unsigned long long)snap->dropped_old,
         (unsigned long long)snap->dropped_incomplete,
         (unsigned long long)g_cli.late_count, to_ms(g_cli.late));
  if (g_cli.ndelays > 0) {
    qsort(g_cli.delays, g_cli.ndelays, sizeof(*g_cli.delays), cmp_dur);
    for (i = 0; i < g_cli.ndelays; ++i) {
      sum += (double)g_cli.delays[i];
    }
    printf(PROG ": snapshot delay ms: min %.2f avg %.2f p50 %.2f p99 %.2f "
                "max %.2f\n",
           to_ms(g_cli.delays[0]), sum / (double)g_cli.ndelays / 1e6,
           to_ms(g_cli.delays[g_cli.ndelays / 2]),
           to_ms(g_cli.delays[g_cli.ndelays * 99 / 100]),
           to_ms(g_cli.delays[g_cli.ndelays - 1]));
  }
  printf(PROG ": events: %llu received, %s; inputs: %llu sent\n",
         (unsigned long long)g_cli.events,
         g_cli.events_ok ? "complete and in order" : "OUT OF ORDER",
         (unsigned long long)g_cli.inputs);
  printf(PROG ": path: rtt %.2f ms, jitter %.2f ms; of the last %llu "
              "packets this side sent, %.1f%% were lost\n",
         to_ms(st->srtt), to_ms(st->jitter),
         (unsigned long long)st->window_sent, 100.0 * st->loss_rate);
  /* One line for scripts. */
  printf(PROG ": summary received=%llu dropped=%llu late=%llu old=%llu "
              "incomplete=%llu events=%llu events_ok=%d inputs=%llu\n",
         (unsigned long long)g_cli.received, (unsigned long long)dropped,
         (unsigned long long)g_cli.late_count,
         (unsigned long long)snap->dropped_old,
         (unsigned long long)snap->dropped_incomplete,
         (unsigned long long)g_cli.events, g_cli.events_ok,
         (unsigned long long)g_cli.inputs);
}

static int run_client(const struct sockaddr *to, socklen_t tolen,
                      const rudp_event_settings *st, unsigned secs) {
  static const rudp_msg_callbacks mcb = {cli_on_message, NULL};
  struct sockaddr_storage any;
  rudp_callbacks cb;
  struct timeval tick = {0, 10000}, stop = {0, 0}, give_up = {0, 0};
  struct timeval input = {0, 1000000 / INPUT_HZ};
  struct event *tick_ev, *stop_ev, *give_up_ev, *input_ev;
  rudp_event *ev;
  int rv, ok;

  memset(&cb, 0, sizeof(cb));
  rudp_msg_route_callbacks(&cb);
  cb.closed = cli_closed;
  memset(&any, 0, sizeof(any));
  any.ss_family = to->sa_family;
  g_cli.events_ok = 1;
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
  /* Inputs before anything else this side sends. */
  rudp_msg_session_set_channel_priority(g_cli.ms, CH_INPUT, 0, 1);

  stop.tv_sec = (time_t)secs;
  give_up.tv_sec = (time_t)secs + 5;
  tick_ev = event_new(g_cli.base, -1, EV_PERSIST, cli_tick, NULL);
  stop_ev = event_new(g_cli.base, -1, 0, cli_stop, NULL);
  give_up_ev = event_new(g_cli.base, -1, 0, cli_give_up, NULL);
  input_ev = event_new(g_cli.base, -1, EV_PERSIST, cli_input, NULL);
  if (!tick_ev || !stop_ev || !give_up_ev || !input_ev) {
    fprintf(stderr, PROG ": startup: cannot create events\n");
    return 1;
  }
  event_add(tick_ev, &tick);
  event_add(input_ev, &input);
  event_add(stop_ev, &stop);
  event_add(give_up_ev, &give_up);
  event_base_dispatch(g_cli.base);

  cli_end_session();
  cli_summary(&g_cli.mst, &g_cli.snap);
  ok = g_cli.received > 0 && g_cli.events > 0 && g_cli.events_ok &&
       g_cli.closed && g_cli.error == 0;
  if (!g_cli.closed) {
    fprintf(stderr, PROG ": the connection did not close in time\n");
  } else if (g_cli.error != 0) {
    fprintf(stderr, PROG ": connection: %s\n", rudp_strerror(g_cli.error));
  } else if (!ok) {
    fprintf(stderr, PROG ": nothing or not everything arrived\n");
  }
  rudp_event_endpoint_free(ev);
  event_free(tick_ev);
  event_free(stop_ev);
  event_free(give_up_ev);
  event_free(input_ev);
  event_base_free(g_cli.base);
  free(g_cli.delays);
  return ok ? 0 : 1;
}

/* ------------------------------------------------------------ main */

static void usage(FILE *f) {
  fprintf(f,
          "usage: " PROG " -s [-l ADDR] [-p PORT] [--hz N] [--size BYTES]\n"
          "       " PROG " -c HOST [-p PORT] [-t SECS] [--late MS] [-q]\n"
          "A game's traffic over librudp messages: 60 Hz world snapshots\n"
          "(unreliable, sequenced), game events and 30 Hz player inputs\n"
          "(reliable, ordered, most urgent); low-latency settings.\n"
          "  -s, --server       serve snapshots to every client\n"
          "  -l, --listen ADDR  server address (default 127.0.0.1)\n"
          "  -c, --client HOST  connect to the server at HOST\n"
          "  -p, --port PORT    port (default %u; server: 0 picks one)\n"
          "  -t, --time SECS    client: how long to run (default 5)\n"
          "  --hz N             server: snapshots per second (default 60)\n"
          "  --size BYTES       server: snapshot size (default 200, %u to "
          "%u)\n"
          "  --late MS          client: delay above the fastest that counts "
          "as late (default 50)\n"
          "  -q, --quiet        client: only the summary\n"
          "  --netem SPEC       impair sent datagrams, e.g. "
          "loss=5%%,delay=20ms\n"
          "  -h, --help         show this help\n"
          "  --version          show the version\n",
          DEFAULT_PORT, HDRLEN, MAX_SNAPSHOT);
}

/* parse_uint parses a decimal in [min, max]; returns 0 or -1. */
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

/* resolve fills |*ss| with HOST:PORT (a literal or a name). */
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
                                       {"hz", required_argument, NULL, 'H'},
                                       {"size", required_argument, NULL, 'S'},
                                       {"late", required_argument, NULL, 'L'},
                                       {"netem", required_argument, NULL, 'N'},
                                       {"version", no_argument, NULL, 'V'},
                                       {NULL, 0, NULL, 0}};
  const char *laddr = "127.0.0.1", *host = NULL;
  unsigned long port = DEFAULT_PORT, secs = 5, hz = 60, size = 200, late = 50;
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
    case 'H':
      bad = parse_uint(optarg, 1, 1000, &hz) ? "bad --hz" : NULL;
      break;
    case 'S':
      bad =
          parse_uint(optarg, HDRLEN, MAX_SNAPSHOT, &size) ? "bad --size" : NULL;
      break;
    case 'L':
      bad = parse_uint(optarg, 0, 60000, &late) ? "bad --late" : NULL;
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
  /* A game's settings, on both sides: ACKs without delay and an earlier
   * fast retransmit (docs/PRIORITIES.md, "Low-latency tuning"). */
  rudp_settings_low_latency(&st.endpoint.conn);
  /* Snapshots after the events and inputs (urgency 0), before anything
   * bulkier a game might add. */
  st.endpoint.conn.datagram_urgency = SNAPSHOT_URGENCY;
  /* A short datagram queue: a snapshot that waits behind others is stale
   * (the queue drops its oldest entry when full); 16 leaves room for a
   * few snapshots of a few fragments each. */
  st.endpoint.conn.datagram_queue_len = 16;
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
    g_srv.hz = (unsigned)hz;
    g_srv.size = size;
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
    g_cli.late = (rudp_duration)late * RUDP_MILLISECONDS;
    rv = run_client((struct sockaddr *)&ss, sslen, &st, (unsigned)secs);
  }
  return rv;
}
