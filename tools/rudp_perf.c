/*
 * rudp-perf: an iperf3-like throughput test over librudp (the libevent
 * binding, rudp_event.h) or, with --tcp, over kernel TCP for comparison.
 *
 * Protocol (docs/TOOLS.md, "rudp-perf"): the client opens a control stream
 * (RUDP: its first bidirectional stream; TCP: a first connection) and sends
 * one parameter line, "rudp-perf 1 REVERSE STREAMS SECONDS BYTES\n".  The
 * sender then opens STREAMS data streams (RUDP: unidirectional streams;
 * TCP: one connection each) and writes until the time or byte budget is
 * spent, then ends each one (FIN / shutdown).  The client writes "done\n"
 * on the control stream when its role is over (all data written, or all
 * data received); the server answers with its counters once its own role
 * is over, "end BYTES SECONDS RETR PKTS RTTMIN RTTMEAN RTTMAX CWNDMAX
 * CWNDMEAN\n", so the client can print both sum_sent and sum_received.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/tcp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>

#include <rudp/rudp.h>
#include <rudp/rudp_event.h>

#define PERF_VERSION "1.0"
#define MAX_STREAMS 128
#define CHUNK (64 * 1024)
/* A tick drives interval reports, statistics samples and the time budget. */
#define TICK_US 10000
/* Slack after the planned end before a test is declared stuck; a -n test
 * gets LIMIT_N in all. */
#define GRACE (30 * RUDP_SECONDS)
#define LIMIT_N (300 * RUDP_SECONDS)

typedef struct perf_opts {
  int server, reverse, streams, interval_ms, json, tcp, one_off;
  const char *host, *netem;
  uint16_t port;
  unsigned secs;
  uint64_t bytes;
  rudp_cc_algo cc;
} perf_opts;

/* perf_side is one end's view of a test. */
typedef struct perf_side {
  int sender, streams;
  uint64_t bytes_total; /* -n budget, 0: time */
  unsigned secs;
  rudp_tstamp t0, t_end, deadline, next_report, last_report;
  uint64_t bytes[MAX_STREAMS], ibytes[MAX_STREAMS];
  int fin[MAX_STREAMS]; /* sender: FIN written; receiver: FIN read */
  uint64_t sum, budget_used;
  /* samples of the connection (or of TCP_INFO) */
  uint64_t rtt_min, rtt_max, rtt_sum, rtt_n, cwnd_max, cwnd_sum, cwnd_n;
  uint64_t retr, pkts, cwnd_now, retr_last;
  int started, role_done, peer_done, failed;
} perf_side;

static perf_opts O;

static int bad(const char *msg, const char *arg);
static uint8_t g_buf[CHUNK];

static void fail(const char *what, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void fail(const char *what, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "rudp-perf: %s: ", what);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* ------------------------------------------------------------ reports */

/* unit formats |v| like iperf3's adaptive units (1024 for bytes, 1000 for
 * bits): three significant digits at most. */
static void unit(char *out, size_t outlen, double v, double k,
                 const char *suffix) {
  const char *pre[] = {"", "K", "M", "G", "T"};
  int i = 0;
  while (v >= k && i < 4) {
    v /= k;
    ++i;
  }
  snprintf(out, outlen,
           v < 9.995   ? "%.2f %s%s"
           : v < 99.95 ? "%.1f %s%s"
                       : "%.0f %s%s",
           v, pre[i], suffix);
}

static void report_line(const char *id, double from, double to, uint64_t bytes,
                        int with_cc, uint64_t retr, uint64_t cwnd) {
  char tb[32], rb[32], cb[32];
  double secs = to - from;
  unit(tb, sizeof(tb), (double)bytes, 1024, "Bytes");
  unit(rb, sizeof(rb), secs > 0 ? (double)bytes * 8 / secs : 0, 1000,
       "bits/sec");
  printf("[%s] %6.2f-%-6.2f sec  %10s  %14s", id, from, to, tb, rb);
  if (with_cc) {
    unit(cb, sizeof(cb), (double)cwnd, 1024, "Bytes");
    printf("  %4" PRIu64 "  %10s", retr, cb);
  }
  printf("\n");
}

static void report_header(void) {
  printf("[ ID] Interval           Transfer     Bitrate         %s\n",
         "Retr  Cwnd");
}

static void report(perf_side *s, rudp_tstamp now, int final) {
  double from = (double)(s->last_report - s->t0) / 1e9;
  double to = (double)(now - s->t0) / 1e9;
  uint64_t sum = 0, retr = s->retr - s->retr_last;
  char id[8];
  int i;
  if (O.json || (!final && O.interval_ms == 0)) {
    return;
  }
  for (i = 0; i < s->streams; ++i) {
    snprintf(id, sizeof(id), "%3d", 5 + 2 * i);
    sum += s->ibytes[i];
    report_line(id, from, to, s->ibytes[i], s->sender && s->streams == 1, retr,
                s->cwnd_now);
    s->ibytes[i] = 0;
  }
  if (s->streams > 1) {
    report_line("SUM", from, to, sum, s->sender, retr, s->cwnd_now);
  }
  s->retr_last = s->retr;
  s->last_report = now;
  fflush(stdout);
}

static void side_start(perf_side *s, int sender, int streams, unsigned secs,
                       uint64_t bytes, rudp_tstamp now) {
  memset(s, 0, sizeof(*s));
  s->sender = sender;
  s->streams = streams;
  s->secs = secs;
  s->bytes_total = bytes;
  s->t0 = s->last_report = now;
  s->next_report = now + (rudp_tstamp)O.interval_ms * RUDP_MILLISECONDS;
  s->deadline = bytes ? 0 : now + (rudp_tstamp)secs * RUDP_SECONDS;
  s->rtt_min = UINT64_MAX;
  s->started = 1;
  if (!O.json) {
    report_header();
  }
}

static void side_sample(perf_side *s, uint64_t rtt_ns, uint64_t cwnd,
                        uint64_t retr, uint64_t pkts) {
  if (rtt_ns > 0) {
    s->rtt_min = rtt_ns < s->rtt_min ? rtt_ns : s->rtt_min;
    s->rtt_max = rtt_ns > s->rtt_max ? rtt_ns : s->rtt_max;
    s->rtt_sum += rtt_ns;
    ++s->rtt_n;
  }
  if (cwnd > 0) {
    s->cwnd_max = cwnd > s->cwnd_max ? cwnd : s->cwnd_max;
    s->cwnd_sum += cwnd;
    ++s->cwnd_n;
  }
  s->cwnd_now = cwnd;
  s->retr = retr;
  s->pkts = pkts;
}

static void side_tick(perf_side *s, rudp_tstamp now) {
  if (s->started && !s->role_done && O.interval_ms > 0 &&
      now >= s->next_report) {
    report(s, now, 0);
    s->next_report += (rudp_tstamp)O.interval_ms * RUDP_MILLISECONDS;
  }
}

/* side_finish prints the last partial interval and a summary line. */
static void side_finish(perf_side *s, rudp_tstamp now) {
  s->t_end = now;
  s->role_done = 1;
  if (now > s->last_report + RUDP_MILLISECONDS) {
    report(s, now, 1);
  }
}

/* side_take is how many bytes the sender may write now on stream |i|
 * (0: the budget is spent and the stream must be ended). */
static size_t side_take(perf_side *s, rudp_tstamp now) {
  if (s->bytes_total) {
    uint64_t left = s->bytes_total - s->budget_used;
    return left < CHUNK ? (size_t)left : CHUNK;
  }
  return now >= s->deadline ? 0 : CHUNK;
}

static void side_count(perf_side *s, int i, uint64_t n) {
  s->bytes[i] += n;
  s->ibytes[i] += n;
  s->sum += n;
  if (s->sender) {
    s->budget_used += n;
  }
}

static int side_all_fin(const perf_side *s) {
  int i;
  for (i = 0; i < s->streams; ++i) {
    if (!s->fin[i]) {
      return 0;
    }
  }
  return 1;
}

static rudp_tstamp give_up_at(rudp_tstamp now, unsigned secs) {
  return now + (secs ? (rudp_tstamp)secs * RUDP_SECONDS + GRACE : LIMIT_N);
}

static double secs_of(const perf_side *s) {
  return (double)(s->t_end - s->t0) / 1e9;
}

static int format_end(const perf_side *s, char *buf, size_t len) {
  return snprintf(buf, len,
                  "end %" PRIu64 " %.9f %" PRIu64 " %" PRIu64 " %" PRIu64
                  " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                  s->sum, secs_of(s), s->retr, s->pkts,
                  s->rtt_n ? s->rtt_min : 0,
                  s->rtt_n ? s->rtt_sum / s->rtt_n : 0, s->rtt_max, s->cwnd_max,
                  s->cwnd_n ? s->cwnd_sum / s->cwnd_n : 0);
}

/* parse_end fills |s| (the server's side) from an "end" line. */
static int parse_end(const char *line, perf_side *s) {
  double secs;
  uint64_t rmean, cmean;
  memset(s, 0, sizeof(*s));
  if (sscanf(line,
             "end %" SCNu64 " %lf %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
             " %" SCNu64 " %" SCNu64 " %" SCNu64,
             &s->sum, &secs, &s->retr, &s->pkts, &s->rtt_min, &rmean,
             &s->rtt_max, &s->cwnd_max, &cmean) != 9 ||
      secs < 0) {
    return -1;
  }
  s->t_end = (rudp_tstamp)(secs * 1e9);
  s->rtt_sum = rmean;
  s->rtt_n = 1;
  s->cwnd_sum = cmean;
  s->cwnd_n = 1;
  return 0;
}

/* summary prints the client's result: |me| is the client, |peer| what the
 * server reported. */
static void summary(const perf_side *me, const perf_side *peer) {
  const perf_side *snd = me->sender ? me : peer;
  const perf_side *rcv = me->sender ? peer : me;
  double ss = secs_of(snd), rs = secs_of(rcv);
  double sbps = ss > 0 ? (double)snd->sum * 8 / ss : 0;
  double rbps = rs > 0 ? (double)rcv->sum * 8 / rs : 0;
  if (O.json) {
    printf("{\n  \"start\": {\"version\": \"rudp-perf " PERF_VERSION
           "\", \"test_start\": {\"protocol\": \"%s\", \"num_streams\": %d, "
           "\"reverse\": %d, \"duration\": %u, \"bytes\": %" PRIu64 "}},\n",
           O.tcp ? "TCP" : "RUDP", O.streams, O.reverse, O.bytes ? 0 : O.secs,
           O.bytes);
    printf("  \"end\": {\n    \"sum_sent\": {\"bytes\": %" PRIu64
           ", \"seconds\": %.6f, \"bits_per_second\": %.1f, "
           "\"retransmits\": %" PRIu64 ", \"packets\": %" PRIu64 "},\n",
           snd->sum, ss, sbps, snd->retr, snd->pkts);
    printf("    \"sum_received\": {\"bytes\": %" PRIu64
           ", \"seconds\": %.6f, \"bits_per_second\": %.1f},\n",
           rcv->sum, rs, rbps);
    printf("    \"rtt\": {\"min\": %" PRIu64 ", \"mean\": %" PRIu64
           ", \"max\": %" PRIu64 "},\n",
           snd->rtt_n ? snd->rtt_min / 1000 : 0,
           snd->rtt_n ? snd->rtt_sum / snd->rtt_n / 1000 : 0,
           snd->rtt_max / 1000);
    printf("    \"cwnd\": {\"max\": %" PRIu64 ", \"mean\": %" PRIu64
           "}\n  }\n}\n",
           snd->cwnd_max, snd->cwnd_n ? snd->cwnd_sum / snd->cwnd_n : 0);
  } else {
    printf("- - - - - - - - - - - - - - - - - - - - - - - - -\n");
    report_header();
    report_line("SUM", 0, ss, snd->sum, 1, snd->retr, snd->cwnd_max);
    printf("    sender\n");
    report_line("SUM", 0, rs, rcv->sum, 0, 0, 0);
    printf("    receiver\n");
  }
  fflush(stdout);
}

/* ------------------------------------------------------------ control */

typedef struct ctl_buf {
  char data[512];
  size_t len;
} ctl_buf;

/* ctl_line takes the first complete line out of |c| into |line|; returns
 * 1 if one was there. */
static int ctl_line(ctl_buf *c, char *line, size_t linelen) {
  char *nl = memchr(c->data, '\n', c->len);
  size_t n;
  if (!nl) {
    return 0;
  }
  n = (size_t)(nl - c->data);
  if (n >= linelen) {
    n = linelen - 1;
  }
  memcpy(line, c->data, n);
  line[n] = '\0';
  n = (size_t)(nl - c->data) + 1;
  memmove(c->data, c->data + n, c->len - n);
  c->len -= n;
  return 1;
}

static int parse_params(const char *line, int *reverse, int *streams,
                        unsigned *secs, uint64_t *bytes) {
  return sscanf(line, "rudp-perf 1 %d %d %u %" SCNu64, reverse, streams, secs,
                bytes) == 4 &&
                 (*reverse == 0 || *reverse == 1) && *streams >= 1 &&
                 *streams <= MAX_STREAMS && (*secs > 0 || *bytes > 0)
             ? 0
             : -1;
}

/* ------------------------------------------------------------ rudp */

typedef struct rperf {
  struct event_base *base;
  rudp_event *ev;
  rudp_conn *conn;
  int64_t ctl_sid;
  int64_t sid[MAX_STREAMS];
  int nsid, ctl_fin_sent, closed, close_err, result_ok, busy;
  ctl_buf ctl;
  perf_side me, peer;
  rudp_tstamp give_up;
} rperf;

static rperf R;

/* is_mine tells whether |conn| is the test's connection.  A server adopts
 * the first connection that shows up (its streams may arrive before
 * accept_ready runs); later ones are refused in on_accept_ready. */
static int is_mine(rudp_conn *conn) {
  if (!R.conn && O.server) {
    R.conn = conn;
    R.closed = 0;
  }
  return conn == R.conn;
}

static int stream_index(int64_t sid) {
  int i;
  for (i = 0; i < R.nsid; ++i) {
    if (R.sid[i] == sid) {
      return i;
    }
  }
  return -1;
}

static void perf_ctl_write(const char *s, int fin) {
  size_t len = strlen(s);
  rudp_ssize n =
      rudp_conn_stream_write(R.conn, R.ctl_sid, (const uint8_t *)s, len, fin);
  if (n != (rudp_ssize)len) {
    fail("control stream", "write failed: %s",
         n < 0 ? rudp_strerror((int)n) : "short write");
    R.me.failed = 1;
    rudp_conn_abort(R.conn, 1, "control write", rudp_event_now());
  }
}

static void perf_sample(void) {
  rudp_conn_stats st;
  if (!R.conn) {
    return;
  }
  rudp_conn_get_stats(R.conn, &st);
  side_sample(&R.me, st.latest_rtt, st.cwnd, st.pkts_retransmitted,
              st.pkts_sent);
}

static void perf_pump(void) {
  rudp_tstamp now = rudp_event_now();
  int i, progress = 1;
  if (!R.me.started || !R.me.sender || !R.conn) {
    return;
  }
  while (progress) {
    progress = 0;
    for (i = 0; i < R.nsid; ++i) {
      size_t take;
      rudp_ssize n;
      if (R.me.fin[i]) {
        continue;
      }
      take = side_take(&R.me, now);
      if (take == 0) {
        if (rudp_conn_stream_shutdown(R.conn, R.sid[i]) == 0) {
          R.me.fin[i] = 1;
        }
        continue;
      }
      n = rudp_conn_stream_write(R.conn, R.sid[i], g_buf, take, 0);
      if (n > 0) {
        side_count(&R.me, i, (uint64_t)n);
        progress = (size_t)n == take;
      }
    }
  }
  if (R.nsid == R.me.streams && side_all_fin(&R.me) && !O.server &&
      !R.ctl_fin_sent) {
    /* Client sender: all written; the server confirms when received. */
    R.ctl_fin_sent = 1;
    perf_ctl_write("done\n", 0);
  }
}

static void perf_open_streams(void) {
  while (R.nsid < R.me.streams &&
         rudp_conn_open_stream(R.conn, 0, &R.sid[R.nsid]) == 0) {
    ++R.nsid;
  }
  perf_pump();
}

static void perf_drain(rudp_conn *conn, int64_t sid, int i);

/* perf_server_maybe_end answers "done" once the server's role is over. */
static void perf_server_maybe_end(void) {
  char line[256];
  rudp_tstamp now = rudp_event_now();
  if (!O.server || !R.me.started || R.ctl_fin_sent || !R.me.peer_done) {
    return;
  }
  if (!R.me.sender && !side_all_fin(&R.me)) {
    return;
  }
  perf_sample();
  side_finish(&R.me, now);
  format_end(&R.me, line, sizeof(line));
  R.ctl_fin_sent = 1;
  perf_ctl_write(line, 1);
}

static void perf_client_maybe_done(void) {
  if (!O.server && !R.me.sender && R.me.started && side_all_fin(&R.me) &&
      R.nsid == R.me.streams && !R.ctl_fin_sent) {
    R.ctl_fin_sent = 1;
    side_finish(&R.me, rudp_event_now());
    perf_ctl_write("done\n", 0);
  }
}

static void perf_ctl_input(const char *line) {
  rudp_tstamp now = rudp_event_now();
  if (O.server && !R.me.started) {
    int reverse, streams;
    unsigned secs;
    uint64_t bytes;
    if (parse_params(line, &reverse, &streams, &secs, &bytes) != 0) {
      fail("control stream", "bad parameters from the client");
      rudp_conn_abort(R.conn, 2, "bad parameters", now);
      return;
    }
    side_start(&R.me, reverse, streams, secs, bytes, now);
    R.give_up = give_up_at(now, secs);
    if (reverse) {
      perf_open_streams();
    } else {
      int i;
      for (i = 0; i < R.nsid && R.conn; ++i) {
        perf_drain(R.conn, R.sid[i], i);
      }
    }
  } else if (O.server && strcmp(line, "done") == 0) {
    R.me.peer_done = 1;
    perf_server_maybe_end();
  } else if (!O.server && strncmp(line, "end ", 4) == 0) {
    if (parse_end(line, &R.peer) != 0) {
      fail("control stream", "bad result from the server");
      R.me.failed = 1;
      rudp_conn_abort(R.conn, 2, "bad result", now);
      return;
    }
    if (R.me.sender) {
      perf_sample();
      side_finish(&R.me, now);
    }
    R.result_ok = 1;
    rudp_conn_close(R.conn, now);
  }
}

static int on_readable(rudp_conn *conn, int64_t sid, void *ud) {
  int fin = 0, i;
  rudp_ssize n;
  char line[512];
  (void)ud;
  if (!is_mine(conn)) {
    return 0;
  }
  if (sid == R.ctl_sid) {
    while (
        R.ctl.len < sizeof(R.ctl.data) &&
        (n = rudp_conn_stream_read(conn, sid, (uint8_t *)R.ctl.data + R.ctl.len,
                                   sizeof(R.ctl.data) - R.ctl.len, &fin)) > 0) {
      R.ctl.len += (size_t)n;
    }
    while (ctl_line(&R.ctl, line, sizeof(line))) {
      perf_ctl_input(line);
    }
    return 0;
  }
  i = stream_index(sid);
  if (i < 0 && (sid & 2) && R.nsid < MAX_STREAMS) {
    /* A data stream (unidirectional, opened by the sender); it may come
     * before the parameters: it is read once the test starts. */
    i = R.nsid;
    R.sid[R.nsid++] = sid;
  }
  if (i >= 0 && R.me.started && !R.me.sender) {
    perf_drain(conn, sid, i);
  }
  return 0;
}

static void perf_drain(rudp_conn *conn, int64_t sid, int i) {
  int fin = 0;
  rudp_ssize n;
  for (;;) {
    n = rudp_conn_stream_read(conn, sid, g_buf, sizeof(g_buf), &fin);
    if (n < 0) {
      break;
    }
    side_count(&R.me, i, (uint64_t)n);
    if (fin) {
      R.me.fin[i] = 1;
      break;
    }
    if (n == 0) {
      break;
    }
  }
  perf_server_maybe_end();
  perf_client_maybe_done();
}

static int on_stream_opened(rudp_conn *conn, int64_t sid, void *ud) {
  (void)ud;
  if (is_mine(conn) && O.server && !(sid & 2) && R.ctl_sid < 0) {
    R.ctl_sid = sid;
  }
  return 0;
}

static int on_writable(rudp_conn *conn, int64_t sid, void *ud) {
  (void)sid;
  (void)ud;
  if (conn == R.conn) {
    perf_pump();
  }
  return 0;
}

static int on_streams_available(rudp_conn *conn, int bidi, void *ud) {
  char params[128];
  (void)ud;
  if (conn != R.conn) {
    return 0;
  }
  if (!O.server && bidi && R.ctl_sid < 0) {
    rudp_tstamp now = rudp_event_now();
    if (rudp_conn_open_stream(conn, 1, &R.ctl_sid) != 0) {
      fail("control stream", "cannot open it");
      rudp_conn_abort(conn, 1, "no stream", now);
      return 0;
    }
    snprintf(params, sizeof(params), "rudp-perf 1 %d %d %u %" PRIu64 "\n",
             O.reverse, O.streams, O.secs, O.bytes);
    perf_ctl_write(params, 0);
    side_start(&R.me, !O.reverse, O.streams, O.secs, O.bytes, now);
    R.give_up = give_up_at(now, O.secs);
    if (R.me.sender) {
      perf_open_streams();
    }
    return 0;
  }
  if (!bidi && R.me.started && R.me.sender) {
    perf_open_streams();
  }
  return 0;
}

static void on_closed(rudp_conn *conn, int error, void *ud) {
  (void)ud;
  if (conn != R.conn) {
    return;
  }
  R.closed = 1;
  R.close_err = error;
  R.conn = NULL;
  if (!O.server) {
    event_base_loopbreak(R.base);
  } else {
    if (error != 0 && !R.ctl_fin_sent) {
      fail("test", "connection closed: %s", rudp_strerror(error));
    }
    if (O.one_off) {
      event_base_loopbreak(R.base);
    }
    memset(&R.me, 0, sizeof(R.me));
    R.ctl_sid = -1;
    R.nsid = 0;
    R.ctl.len = 0;
    R.ctl_fin_sent = 0;
    R.give_up = 0;
  }
}

static int on_accept_ready(rudp_endpoint *ep, void *ud) {
  rudp_conn *c;
  (void)ud;
  while ((c = rudp_endpoint_accept(ep)) != NULL) {
    if (!is_mine(c)) {
      /* One test at a time, like iperf3. */
      rudp_conn_abort(c, 3, "busy", rudp_event_now());
    }
  }
  return 0;
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  rudp_tstamp now = rudp_event_now();
  (void)fd;
  (void)what;
  (void)arg;
  if (!R.conn || !R.me.started) {
    return;
  }
  perf_sample();
  side_tick(&R.me, now);
  perf_pump();
  if (R.give_up && now > R.give_up) {
    fail("test", "timed out");
    R.me.failed = 1;
    rudp_conn_abort(R.conn, 4, "timed out", now);
    R.give_up = 0;
  }
}

static const rudp_callbacks perf_cb = {
    NULL,        on_stream_opened,
    on_readable, on_writable,
    NULL,        NULL,
    NULL,        NULL,
    NULL,        on_streams_available,
    on_closed,
};

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss,
                   socklen_t *len) {
  struct addrinfo hints, *ai;
  char serv[8];
  int rv;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = O.tcp ? SOCK_STREAM : SOCK_DGRAM;
  hints.ai_flags = host ? 0 : AI_PASSIVE;
  snprintf(serv, sizeof(serv), "%u", (unsigned)port);
  rv = getaddrinfo(host, serv, &hints, &ai);
  if (rv != 0) {
    fail("resolve", "%s: %s", host ? host : "(any)", gai_strerror(rv));
    return -1;
  }
  memcpy(ss, ai->ai_addr, ai->ai_addrlen);
  *len = (socklen_t)ai->ai_addrlen;
  freeaddrinfo(ai);
  return 0;
}

static void perf_settings(rudp_event_settings *st, int listen) {
  rudp_settings *c = &st->endpoint.conn;
  rudp_event_settings_default(st);
  st->endpoint.listen = listen;
  st->netem = O.netem ? O.netem : NULL;
  c->tx_udp_payload_size = 1452;
  c->initial_max_data = 32u << 20;
  c->initial_max_stream_data = 16u << 20;
  c->max_window = 32u << 20;
  c->max_stream_window = 32u << 20;
  c->max_stream_send_buffer = 1u << 20;
  c->max_streams_uni = MAX_STREAMS;
  c->cc_algo = O.cc;
}

static int run_rudp(void) {
  rudp_endpoint_callbacks epcb = {NULL, on_accept_ready, NULL};
  rudp_event_settings st;
  struct sockaddr_storage ss, bind_ss;
  socklen_t len, bind_len;
  struct timeval tv = {0, TICK_US};
  struct event *tick;
  int rv, ok = 0;

  memset(&R, 0, sizeof(R));
  R.ctl_sid = -1;
  if (resolve(O.server ? NULL : O.host, O.port, &ss, &len) != 0) {
    return 1;
  }
  R.base = event_base_new();
  if (!R.base) {
    fail("event_base_new", "failed");
    return 1;
  }
  perf_settings(&st, O.server);
  if (O.server) {
    bind_ss = ss;
    bind_len = len;
  } else {
    memset(&bind_ss, 0, sizeof(bind_ss));
    bind_ss.ss_family = ss.ss_family;
    bind_len = len;
  }
  rv = rudp_event_endpoint_new(&R.ev, R.base, (struct sockaddr *)&bind_ss,
                               bind_len, &st, &epcb, &perf_cb, NULL);
  if (rv != 0) {
    if (rv == RUDP_ERR_INVALID_ARGUMENT && O.netem) {
      event_base_free(R.base);
      return bad("--netem: bad spec", O.netem);
    }
    fail("endpoint", "%s",
         rv == RUDP_ERR_IO ? strerror(errno) : rudp_strerror(rv));
    event_base_free(R.base);
    return 1;
  }
  tick = event_new(R.base, -1, EV_PERSIST, on_tick, NULL);
  if (!tick || event_add(tick, &tv) != 0) {
    fail("event_new", "failed");
    if (tick) {
      event_free(tick);
    }
    rudp_event_endpoint_free(R.ev);
    event_base_free(R.base);
    return 1;
  }
  if (O.server) {
    printf("Server listening on %u (RUDP)\n", (unsigned)O.port);
    fflush(stdout);
    event_base_dispatch(R.base);
    ok = 1;
  } else {
    rv = rudp_event_connect(R.ev, (struct sockaddr *)&ss, len, NULL, NULL,
                            &R.conn);
    if (rv != 0) {
      fail("connect", "%s", rudp_strerror(rv));
    } else {
      if (!O.json) {
        printf("Connecting to host %s, port %u (RUDP)\n", O.host,
               (unsigned)O.port);
      }
      event_base_dispatch(R.base);
      if (!R.result_ok || R.me.failed) {
        if (!R.me.failed) {
          fail("test", "%s",
               R.closed ? rudp_strerror(R.close_err) : "no result");
        }
      } else {
        summary(&R.me, &R.peer);
        ok = 1;
      }
    }
  }
  event_free(tick);
  rudp_event_endpoint_free(R.ev);
  event_base_free(R.base);
  return ok ? 0 : 1;
}

/* ------------------------------------------------------------ tcp */

typedef struct tperf {
  int ctl, data[MAX_STREAMS], n;
  ctl_buf cbuf;
  perf_side me, peer;
} tperf;

static tperf T;

static void tcp_sample(void) {
  struct tcp_info ti;
  uint64_t rtt = 0, cwnd = 0, retr = 0, pkts = 0;
  int i;
  for (i = 0; i < T.n; ++i) {
    socklen_t l = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    if (T.data[i] >= 0 &&
        getsockopt(T.data[i], IPPROTO_TCP, TCP_INFO, &ti, &l) == 0) {
      rtt = (uint64_t)ti.tcpi_rtt * 1000 > rtt ? (uint64_t)ti.tcpi_rtt * 1000
                                               : rtt;
      cwnd += (uint64_t)ti.tcpi_snd_cwnd * ti.tcpi_snd_mss;
      retr += ti.tcpi_total_retrans;
      pkts += ti.tcpi_segs_out;
    }
  }
  if (T.n > 0) {
    side_sample(&T.me, rtt, cwnd, retr, pkts);
  }
}

static int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int tcp_write_all(int fd, const char *s) {
  size_t len = strlen(s), off = 0;
  while (off < len) {
    ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += (size_t)n;
    } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
      return -1;
    } else if (n < 0 && errno == EAGAIN) {
      struct pollfd p = {fd, POLLOUT, 0};
      poll(&p, 1, 1000);
    }
  }
  return 0;
}

static void tcp_close_all(void) {
  int i;
  for (i = 0; i < T.n; ++i) {
    if (T.data[i] >= 0) {
      close(T.data[i]);
    }
  }
  T.n = 0;
  if (T.ctl >= 0) {
    close(T.ctl);
  }
  T.ctl = -1;
}

/* tcp_loop runs the data phase and the final exchange; returns 0 or -1. */
static int tcp_loop(void) {
  struct pollfd pf[MAX_STREAMS + 1];
  char line[512];
  int ctl_sent = 0, got_end = 0, i;
  rudp_tstamp give_up = give_up_at(rudp_event_now(), T.me.secs);

  for (;;) {
    rudp_tstamp now = rudp_event_now();
    int np = 0;
    if (now > give_up) {
      fail("test", "timed out");
      return -1;
    }
    if (T.me.sender && !T.me.role_done) {
      tcp_sample();
    }
    side_tick(&T.me, now);
    for (i = 0; i < T.n; ++i) {
      pf[i].fd = T.me.fin[i] ? -1 : T.data[i];
      pf[i].events = T.me.sender ? POLLOUT : POLLIN;
      pf[i].revents = 0;
    }
    pf[T.n].fd = T.ctl;
    pf[T.n].events = POLLIN;
    pf[T.n].revents = 0;
    np = poll(pf, (nfds_t)T.n + 1, TICK_US / 1000);
    if (np < 0 && errno != EINTR) {
      fail("poll", "%s", strerror(errno));
      return -1;
    }
    now = rudp_event_now();
    for (i = 0; i < T.n; ++i) {
      if (T.me.fin[i]) {
        continue;
      }
      if (T.me.sender) {
        size_t take = side_take(&T.me, now);
        ssize_t n;
        if (take == 0) {
          shutdown(T.data[i], SHUT_WR);
          T.me.fin[i] = 1;
          continue;
        }
        if (!(pf[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
          continue;
        }
        n = send(T.data[i], g_buf, take, MSG_NOSIGNAL);
        if (n > 0) {
          side_count(&T.me, i, (uint64_t)n);
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          fail("data connection", "send: %s", strerror(errno));
          return -1;
        }
      } else if (pf[i].revents) {
        ssize_t n = recv(T.data[i], g_buf, sizeof(g_buf), 0);
        if (n > 0) {
          side_count(&T.me, i, (uint64_t)n);
        } else if (n == 0) {
          T.me.fin[i] = 1;
        } else if (errno != EAGAIN && errno != EINTR) {
          fail("data connection", "recv: %s", strerror(errno));
          return -1;
        }
      }
    }
    if (pf[T.n].revents) {
      ssize_t n = recv(T.ctl, T.cbuf.data + T.cbuf.len,
                       sizeof(T.cbuf.data) - T.cbuf.len, 0);
      if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
        fail("control connection", "%s",
             n == 0 ? "closed by the peer" : strerror(errno));
        return -1;
      }
      if (n > 0) {
        T.cbuf.len += (size_t)n;
      }
    }
    /* Lines may already wait in the buffer: a fast client's "done" can
     * arrive with its parameters. */
    while (ctl_line(&T.cbuf, line, sizeof(line))) {
      if (O.server && strcmp(line, "done") == 0) {
        T.me.peer_done = 1;
      } else if (!O.server && strncmp(line, "end ", 4) == 0) {
        if (parse_end(line, &T.peer) != 0) {
          fail("control connection", "bad result from the server");
          return -1;
        }
        got_end = 1;
      }
    }
    now = rudp_event_now();
    if (!O.server && !ctl_sent && side_all_fin(&T.me)) {
      /* Client: its role is over (all written, or all received). */
      ctl_sent = 1;
      if (T.me.sender) {
        tcp_sample();
      } else {
        side_finish(&T.me, now);
      }
      if (tcp_write_all(T.ctl, "done\n") != 0) {
        fail("control connection", "send: %s", strerror(errno));
        return -1;
      }
    }
    if (!O.server && got_end) {
      if (T.me.sender) {
        side_finish(&T.me, now);
      }
      return 0;
    }
    if (O.server && T.me.peer_done && side_all_fin(&T.me)) {
      if (T.me.sender) {
        tcp_sample();
      }
      side_finish(&T.me, now);
      format_end(&T.me, line, sizeof(line));
      if (tcp_write_all(T.ctl, line) != 0) {
        fail("control connection", "send: %s", strerror(errno));
        return -1;
      }
      return 0;
    }
  }
}

static int tcp_socket_opts(int fd) {
  int off = 0;
  /* Nagle stays on (TCP_NODELAY off): plain bulk send/recv. */
  return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &off, sizeof(off));
}

/* tcp_read_line reads the control connection (blocking, 10 s) up to one
 * line. */
static int tcp_read_line(int fd, char *line, size_t linelen) {
  while (!ctl_line(&T.cbuf, line, linelen)) {
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t n;
    if (poll(&p, 1, 10000) <= 0) {
      return -1;
    }
    n = recv(fd, T.cbuf.data + T.cbuf.len, sizeof(T.cbuf.data) - T.cbuf.len, 0);
    if (n <= 0) {
      return -1;
    }
    T.cbuf.len += (size_t)n;
  }
  return 0;
}

static int tcp_accept(int lfd) {
  struct pollfd p = {lfd, POLLIN, 0};
  if (poll(&p, 1, 10000) <= 0) {
    return -1;
  }
  return accept(lfd, NULL, NULL);
}

static int run_tcp_server(void) {
  struct sockaddr_storage ss;
  socklen_t len;
  int lfd, one = 1;
  char line[512];

  if (resolve(NULL, O.port, &ss, &len) != 0) {
    return 1;
  }
  lfd = socket(ss.ss_family, SOCK_STREAM, 0);
  if (lfd < 0 ||
      setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(lfd, (struct sockaddr *)&ss, len) != 0 || listen(lfd, 16) != 0) {
    fail("listen", "%s", strerror(errno));
    if (lfd >= 0) {
      close(lfd);
    }
    return 1;
  }
  printf("Server listening on %u (TCP)\n", (unsigned)O.port);
  fflush(stdout);
  for (;;) {
    int reverse, streams, ok = 1;
    unsigned secs;
    uint64_t bytes;
    memset(&T, 0, sizeof(T));
    T.ctl = accept(lfd, NULL, NULL);
    if (T.ctl < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail("accept", "%s", strerror(errno));
      break;
    }
    if (tcp_read_line(T.ctl, line, sizeof(line)) != 0 ||
        parse_params(line, &reverse, &streams, &secs, &bytes) != 0) {
      fail("control connection", "no valid parameters from the client");
      ok = 0;
    }
    while (ok && T.n < streams) {
      int fd = tcp_accept(lfd);
      if (fd < 0) {
        fail("accept", "data connection: %s",
             errno ? strerror(errno) : "timed out");
        ok = 0;
        break;
      }
      T.data[T.n++] = fd;
      tcp_socket_opts(fd);
      set_nonblock(fd);
    }
    if (ok) {
      set_nonblock(T.ctl);
      side_start(&T.me, reverse, streams, secs, bytes, rudp_event_now());
      ok = tcp_loop() == 0;
    }
    tcp_close_all();
    if (O.one_off) {
      close(lfd);
      return ok ? 0 : 1;
    }
  }
  close(lfd);
  return 1;
}

static int tcp_connect(const struct sockaddr_storage *ss, socklen_t len) {
  int fd = socket(ss->ss_family, SOCK_STREAM, 0);
  if (fd < 0) {
    return -1;
  }
  tcp_socket_opts(fd);
  if (connect(fd, (const struct sockaddr *)ss, len) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static int run_tcp_client(void) {
  struct sockaddr_storage ss;
  socklen_t len;
  char params[128];
  int ok;

  memset(&T, 0, sizeof(T));
  T.ctl = -1;
  if (resolve(O.host, O.port, &ss, &len) != 0) {
    return 1;
  }
  T.ctl = tcp_connect(&ss, len);
  if (T.ctl < 0) {
    fail("connect", "%s", strerror(errno));
    return 1;
  }
  snprintf(params, sizeof(params), "rudp-perf 1 %d %d %u %" PRIu64 "\n",
           O.reverse, O.streams, O.secs, O.bytes);
  if (tcp_write_all(T.ctl, params) != 0) {
    fail("control connection", "send: %s", strerror(errno));
    tcp_close_all();
    return 1;
  }
  while (T.n < O.streams) {
    int fd = tcp_connect(&ss, len);
    if (fd < 0) {
      fail("connect", "data connection: %s", strerror(errno));
      tcp_close_all();
      return 1;
    }
    set_nonblock(fd);
    T.data[T.n++] = fd;
  }
  set_nonblock(T.ctl);
  if (!O.json) {
    printf("Connecting to host %s, port %u (TCP)\n", O.host, (unsigned)O.port);
  }
  side_start(&T.me, !O.reverse, O.streams, O.secs, O.bytes, rudp_event_now());
  ok = tcp_loop() == 0;
  tcp_close_all();
  if (ok) {
    summary(&T.me, &T.peer);
  }
  return ok ? 0 : 1;
}

/* ------------------------------------------------------------ main */

static void usage(FILE *f) {
  fprintf(f, "Usage: rudp-perf [-s|-c HOST] [options]\n"
             "  -s, --server          run as a server\n"
             "  -c, --client HOST     run as a client, connecting to HOST\n"
             "  -p, --port PORT       server port (default 5300)\n"
             "  -t, --time SECS       seconds to transmit (default 10)\n"
             "  -n, --bytes N[KMG]    bytes to transmit (instead of -t)\n"
             "  -P, --parallel N      parallel streams on one connection "
             "(default 1, at most 128)\n"
             "  -R, --reverse         the server sends, the client receives\n"
             "  -i, --interval SECS   seconds between reports (default 1; 0: "
             "none)\n"
             "  -J, --json            print the result as JSON (client)\n"
             "      --tcp             test kernel TCP instead of RUDP\n"
             "      --cc reno|cubic   congestion control (RUDP; default "
             "cubic)\n"
             "      --netem SPEC      impair sent datagrams (RUDP; see "
             "rudp_event.h)\n"
             "  -1, --one-off         server: exit after one test\n"
             "      --tls             not built yet\n"
             "  -h, --help            print this help\n"
             "      --version         print the version\n"
             "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static int bad(const char *msg, const char *arg) {
  fprintf(stderr, "rudp-perf: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
  return 2;
}

static int parse_size(const char *s, uint64_t *out) {
  char *end;
  unsigned long long v;
  uint64_t mul = 1;
  if (*s < '0' || *s > '9') {
    return -1;
  }
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || end == s) {
    return -1;
  }
  switch (*end) {
  case 'k':
  case 'K':
    mul = 1u << 10;
    ++end;
    break;
  case 'm':
  case 'M':
    mul = 1u << 20;
    ++end;
    break;
  case 'g':
  case 'G':
    mul = 1u << 30;
    ++end;
    break;
  default:
    break;
  }
  if (*end != '\0' || v == 0 || v > UINT64_MAX / mul) {
    return -1;
  }
  *out = (uint64_t)v * mul;
  return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out) {
  char *end;
  if (*s < '0' || *s > '9') {
    return -1;
  }
  errno = 0;
  *out = strtoul(s, &end, 10);
  return errno || *end != '\0' || *out > max ? -1 : 0;
}

enum { OPT_TCP = 256, OPT_CC, OPT_NETEM, OPT_TLS, OPT_VERSION };

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"server", no_argument, NULL, 's'},
      {"client", required_argument, NULL, 'c'},
      {"port", required_argument, NULL, 'p'},
      {"time", required_argument, NULL, 't'},
      {"bytes", required_argument, NULL, 'n'},
      {"parallel", required_argument, NULL, 'P'},
      {"reverse", no_argument, NULL, 'R'},
      {"interval", required_argument, NULL, 'i'},
      {"json", no_argument, NULL, 'J'},
      {"one-off", no_argument, NULL, '1'},
      {"help", no_argument, NULL, 'h'},
      {"tcp", no_argument, NULL, OPT_TCP},
      {"cc", required_argument, NULL, OPT_CC},
      {"netem", required_argument, NULL, OPT_NETEM},
      {"tls", no_argument, NULL, OPT_TLS},
      {"version", no_argument, NULL, OPT_VERSION},
      {NULL, 0, NULL, 0}};
  unsigned long v;
  int c, time_set = 0;

  O.port = 5300;
  O.secs = 10;
  O.streams = 1;
  O.interval_ms = 1000;
  O.cc = RUDP_CC_CUBIC;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":sc:p:t:n:P:Ri:J1h", longopts, NULL)) !=
         -1) {
    switch (c) {
    case 's':
      O.server = 1;
      break;
    case 'c':
      O.host = optarg;
      break;
    case 'p':
      if (parse_uint(optarg, 65535, &v) != 0 || v == 0) {
        return bad("bad port", optarg);
      }
      O.port = (uint16_t)v;
      break;
    case 't':
      if (parse_uint(optarg, 86400, &v) != 0 || v == 0) {
        return bad("bad time (1 to 86400 seconds)", optarg);
      }
      O.secs = (unsigned)v;
      time_set = 1;
      break;
    case 'n':
      if (parse_size(optarg, &O.bytes) != 0) {
        return bad("bad byte count", optarg);
      }
      break;
    case 'P':
      if (parse_uint(optarg, MAX_STREAMS, &v) != 0 || v == 0) {
        return bad("bad stream count (1 to 128)", optarg);
      }
      O.streams = (int)v;
      break;
    case 'R':
      O.reverse = 1;
      break;
    case 'i': {
      char *end;
      double d = strtod(optarg, &end);
      if (end == optarg || *end != '\0' || !(d >= 0 && d <= 3600)) {
        return bad("bad interval", optarg);
      }
      O.interval_ms = (int)(d * 1000 + 0.5);
      break;
    }
    case 'J':
      O.json = 1;
      break;
    case '1':
      O.one_off = 1;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case OPT_TCP:
      O.tcp = 1;
      break;
    case OPT_CC:
      if (strcmp(optarg, "reno") == 0) {
        O.cc = RUDP_CC_RENO;
      } else if (strcmp(optarg, "cubic") == 0) {
        O.cc = RUDP_CC_CUBIC;
      } else {
        return bad("--cc: expected reno or cubic", optarg);
      }
      break;
    case OPT_NETEM:
      O.netem = optarg;
      break;
    case OPT_TLS:
      return bad("--tls: not built yet", NULL);
    case OPT_VERSION:
      printf("rudp-perf " PERF_VERSION " (librudp %s)\n", rudp_version());
      return 0;
    case ':':
      fprintf(stderr, "rudp-perf: option requires an argument: %s\n",
              argv[optind - 1]);
      usage(stderr);
      return 2;
    default:
      fprintf(stderr, "rudp-perf: unknown option: %s\n", argv[optind - 1]);
      usage(stderr);
      return 2;
    }
  }
  if (optind < argc) {
    return bad("unexpected argument", argv[optind]);
  }
  if (O.server == (O.host != NULL)) {
    fprintf(stderr, "rudp-perf: give exactly one of -s and -c HOST\n");
    usage(stderr);
    return 2;
  }
  if (O.bytes && time_set) {
    return bad("-t and -n exclude each other", NULL);
  }
  if (O.tcp && (O.netem || O.cc != RUDP_CC_CUBIC)) {
    return bad("--netem and --cc apply to RUDP, not --tcp", NULL);
  }
  if (O.server && (O.bytes || time_set || O.reverse || O.streams != 1)) {
    return bad("-t, -n, -P and -R are client options", NULL);
  }
  if (O.bytes) {
    /* The time then only bounds the wait (see GRACE). */
    O.secs = 0;
  }
  signal(SIGPIPE, SIG_IGN);
  memset(g_buf, 0xab, sizeof(g_buf));
  if (O.tcp) {
    return O.server ? run_tcp_server() : run_tcp_client();
  }
  return run_rudp();
}
