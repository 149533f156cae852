/*
 * rudp-perf: an iperf3-like throughput test over librudp (the libevent
 * binding, rudp_event.h) or, with --tcp, over kernel TCP for comparison.
 *
 * Protocol (docs/TOOLS.md, "rudp-perf"): the client opens a control stream
 * (RUDP: its first bidirectional stream; TCP: a first connection) and sends
 * one parameter line, "rudp-perf 1 REVERSE STREAMS SECONDS BYTES LEN
 * DATAGRAM RATE PLOT MORE\n" (a server also takes the first five fields
 * alone, the version 1.0 line).  The sender then opens STREAMS data
 * streams (RUDP: unidirectional streams; TCP: one connection each) and
 * writes until the time or byte budget is spent, then ends each one (FIN /
 * shutdown); with DATAGRAM 1 it sends numbered, timestamped RUDP datagrams
 * at RATE instead and then writes "dgend COUNT\n" on the control stream.
 * The client writes "done\n" on the control stream when its role is over
 * (all data written, or all data received); the server answers with its
 * counters once its own role is over: PLOT 1 first has it send its
 * samples, "s MS BYTES CWND SRTT_US\n" each, then "end BYTES SECONDS RETR
 * PKTS RTTMIN RTTMEAN RTTMAX CWNDMAX CWNDMEAN [cpu=USER,SYS]
 * [dg=WRITTEN,SENT,DROPPED,RECEIVED,OOO,JITTER_NS]\n", so the client can
 * print both sum_sent and sum_received.  MORE 1 says a second test (the
 * TCP half of --compare) follows, so a -1 server waits for it.
 *
 * --messages (version 1.2) appends MSG to the parameter line: the mode + 1
 * (RATE is then messages/s, LEN the message size).  Both sides attach a
 * message session (rudp_msg.h) with one channel per mode; the control
 * stream, bidirectional, stays outside it (the session uses only
 * unidirectional streams).  The server answers "ready
" once its session
 * exists, the client sends numbered, timestamped messages, then
 * "msgend COUNT
" and "done
"; the server's "end" line adds
 * "msg=DELIVERED,LATE,P50,P99,P999,MAX" (ns).  Over TCP the messages go on
 * one TCP_NODELAY data connection, each after a 4-byte length.
 *
 * A RUDP server (-s without --tcp) also listens on the TCP port of the
 * same number, so --tcp and --compare clients need no second server.
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
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/event.h>

#include <rudp/rudp.h>
#include <rudp/rudp_event.h>
#include <rudp/rudp_msg.h>

#include "tls_opts.h"

#define PERF_VERSION "1.2"
#define MAX_STREAMS 128
/* -l: the default write (and read) size of a stream, and the largest,
 * iperf3's limit. */
#define CHUNK (64 * 1024)
#define MAX_LEN (1024 * 1024)
/* The UDP payload rudp-perf sends (loopback and Ethernet carry it). */
#define TX_PAYLOAD 1452
/* A datagram carries its sequence number and send time (8 bytes each, big
 * endian), then filler.  A TX_PAYLOAD packet has room for 1432 bytes of
 * it (short header 1 + DCID RUDP_DEFAULT_CIDLEN + packet number up to 4 +
 * CRC32C 4 + DATAGRAM frame header 3), and librudp accepts that much; but
 * a datagram that only fits an otherwise empty packet waits behind every
 * packet that carries an ACK too, and blocks the queue.  1400 leaves room
 * for an ACK frame, or TLS's 16-byte tag. */
#define DG_HDR 16
#define DG_MAX 1400
#define DG_DEFAULT 1400
/* Datagrams queued in the connection before the oldest is dropped: a 1 ms
 * pacing burst at 2.8 Gbit/s fits; a deeper queue would only turn a
 * congestion-limited sender's drops into delay. */
#define DG_QUEUE 256
/* -b: default and largest rates (bits/s; iperf3's -u default is 1M). */
#define RATE_DEFAULT 1000000
#define RATE_MAX 100000000000ull
/* A tick drives interval reports, statistics samples and the time budget;
 * datagrams are paced by a finer one. */
#define TICK_US 10000
#define PACE_US 1000
/* Slack after the planned end before a test is declared stuck; a -n test
 * gets LIMIT_N in all. */
#define GRACE (30 * RUDP_SECONDS)
#define LIMIT_N (300 * RUDP_SECONDS)
/* After "dgend", the receiver waits this long (plus 2 RTT) for the last
 * datagrams before it counts the missing ones as lost. */
#define DG_GRACE (250 * RUDP_MILLISECONDS)
/* --plot samples every PLOT_STEP_MS; past PLOT_MAX samples every other one
 * is dropped and the step doubles, so a long test stays a small file. */
#define PLOT_STEP_MS 100
#define PLOT_MAX 2048
/* --messages: a message carries its sequence number and send time (8
 * bytes each, big endian, CLOCK_MONOTONIC ns: sender and receiver must
 * share the clock, i.e. run on one host), then filler.  Reliable modes
 * take up to 1 MiB, unreliable ones the message layer's default limit.
 * Both sides declare one channel per mode (channel i has mode i), so the
 * server needs no mode before the session exists. */
#define MSG_HDR 16
#define MSG_DEFAULT 200
#define MSG_RATE_MAX 1000000
#define MSG_UNREL_MAX RUDP_MSG_DEFAULT_UNRELIABLE_SIZE
#define MSG_NCHAN 4

typedef struct perf_opts {
  int server, reverse, streams, interval_ms, json, tcp, one_off, compare,
      datagram;
  /* messages: --messages mode + 1 (0: off), rate then in messages/s;
   * low_latency: rudp_settings_low_latency on (client --messages default,
   * server --low-latency). */
  int messages, low_latency;
  const char *host, *netem, *plot;
  uint16_t port;
  unsigned secs;
  uint64_t bytes, rate;
  size_t len;
  rudp_cc_algo cc;
  /* tls: the --tls options; tls_ctx the context made from them. */
  tool_tls_opts tls;
  rudp_tls_ctx *tls_ctx;
} perf_opts;

/* perf_params is what the client's parameter line asks for. */
typedef struct perf_params {
  int reverse, streams, datagram, plot, more, msg;
  unsigned secs;
  uint64_t bytes, rate;
  size_t len;
} perf_params;

/* perf_samples is the --plot series of one side. */
typedef struct perf_samples {
  int n;
  unsigned step_ms;
  rudp_tstamp next;
  uint32_t t_ms[PLOT_MAX];
  uint64_t bytes[PLOT_MAX], cwnd[PLOT_MAX];
  uint32_t srtt_us[PLOT_MAX];
} perf_samples;

/* perf_side is one end's view of a test. */
typedef struct perf_side {
  int sender, streams, datagram, plot, more;
  size_t len;
  uint64_t rate;        /* -b, bits/s per stream; 0: unpaced */
  uint64_t bytes_total; /* -n budget, 0: time */
  unsigned secs;
  rudp_tstamp t0, t_end, t_fin, deadline, next_report, last_report;
  uint64_t bytes[MAX_STREAMS], ibytes[MAX_STREAMS];
  int fin[MAX_STREAMS]; /* sender: FIN written; receiver: FIN read */
  uint64_t sum, budget_used;
  /* samples of the connection (or of TCP_INFO) */
  uint64_t rtt_min, rtt_max, rtt_sum, rtt_n, cwnd_max, cwnd_sum, cwnd_n;
  uint64_t retr, pkts, cwnd_now, srtt_now, retr_last;
  /* CPU time over the test, percent of the wall time */
  double cpu_u0, cpu_s0, cpu_user, cpu_sys;
  /* datagrams: written by the sender (numbered), put on the wire, dropped
   * (send queue full, or declared lost); received, out of order, RFC 3550
   * interarrival jitter (receiver) */
  uint64_t dg_gen, dg_igen, dg_sent, dg_dropped, dg_recv, dg_ooo;
  double dg_jitter_ns;
  int started, role_done, peer_done, failed;
  /* --messages: mode + 1; the receiver's delivered and late (out of
   * order) counts and one-way latency percentiles (ns) */
  int msg;
  uint64_t msg_deliv, msg_late, lat_p50, lat_p99, lat_p999, lat_max;
  perf_samples smp;
} perf_side;

/* perf_dgrx is the receiver's datagram accounting (RUDP).  It lives apart
 * from perf_side: datagrams may overtake the parameter line. */
typedef struct perf_dgrx {
  uint64_t recv, ooo, next, early, inext, irecv, expect;
  int have_transit, have_expect;
  double transit, jitter;
  rudp_tstamp last, expect_at;
} perf_dgrx;

/* perf_msgrx is the --messages receiver's record: every one-way latency
 * (ns, saturated at 4.29 s) for exact percentiles. */
typedef struct perf_msgrx {
  uint32_t *lat;
  size_t n, cap;
  uint64_t next, late, expect;
  int have_expect;
  rudp_tstamp expect_at;
} perf_msgrx;

static perf_opts O;
static perf_dgrx D;
static perf_msgrx M;

static int bad(const char *msg, const char *arg);
static uint8_t g_buf[MAX_LEN];

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

static void put_be64(uint8_t *p, uint64_t v) {
  int i;
  for (i = 7; i >= 0; --i) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}

static uint64_t get_be64(const uint8_t *p) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; ++i) {
    v = v << 8 | p[i];
  }
  return v;
}

static void cpu_times(double *user, double *sys) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) {
    *user = *sys = 0;
    return;
  }
  *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
  *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
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

/* report_line prints one iperf3 line; |tail| ends it ("" or "  sender"). */
static void report_line(const char *id, double from, double to, uint64_t bytes,
                        int with_cc, uint64_t retr, uint64_t cwnd,
                        const char *tail) {
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
  printf("%s\n", tail);
}

/* dg_line prints a datagram line: sender intervals show how many were
 * written (|lost| < 0), receiver intervals and the summary the jitter and
 * Lost/Total, like iperf3 -u. */
static void dg_line(double from, double to, uint64_t bytes, int64_t lost,
                    uint64_t total, double jitter_ns, const char *tail) {
  char tb[32], rb[32];
  double secs = to - from;
  unit(tb, sizeof(tb), (double)bytes, 1024, "Bytes");
  unit(rb, sizeof(rb), secs > 0 ? (double)bytes * 8 / secs : 0, 1000,
       "bits/sec");
  printf("[  5] %6.2f-%-6.2f sec  %10s  %14s", from, to, tb, rb);
  if (lost < 0) {
    printf("  %" PRIu64, total);
  } else {
    printf("  %5.3f ms  %" PRId64 "/%" PRIu64 " (%.2g%%)", jitter_ns / 1e6,
           lost, total, total ? 100.0 * (double)lost / (double)total : 0.0);
  }
  printf("%s\n", tail);
}

static void report_header(int datagram, int sender) {
  if (!datagram) {
    printf("[ ID] Interval           Transfer     Bitrate         %s\n",
           "Retr  Cwnd");
  } else {
    printf("[ ID] Interval           Transfer     Bitrate         %s\n",
           sender ? "Total Datagrams" : "Jitter    Lost/Total Datagrams");
  }
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
  if (s->datagram && s->sender) {
    dg_line(from, to, s->ibytes[0], -1, s->dg_igen, 0, "");
    s->ibytes[0] = 0;
    s->dg_igen = 0;
  } else if (s->datagram) {
    uint64_t total = D.next - D.inext;
    dg_line(from, to, s->ibytes[0],
            total > D.irecv ? (int64_t)(total - D.irecv) : 0, total, D.jitter,
            "");
    s->ibytes[0] = 0;
    D.inext = D.next;
    D.irecv = 0;
  } else {
    for (i = 0; i < s->streams; ++i) {
      snprintf(id, sizeof(id), "%3d", 5 + 2 * i);
      sum += s->ibytes[i];
      report_line(id, from, to, s->ibytes[i], s->sender && s->streams == 1,
                  retr, s->cwnd_now, "");
      s->ibytes[i] = 0;
    }
    if (s->streams > 1) {
      report_line("SUM", from, to, sum, s->sender, retr, s->cwnd_now, "");
    }
  }
  s->retr_last = s->retr;
  s->last_report = now;
  fflush(stdout);
}

static void side_start(perf_side *s, int sender, const perf_params *p,
                       rudp_tstamp now) {
  memset(s, 0, sizeof(*s));
  s->sender = sender;
  s->streams = p->streams;
  s->datagram = p->datagram;
  s->msg = p->msg;
  s->plot = p->plot;
  s->more = p->more;
  s->len = p->len;
  s->rate = p->rate;
  s->secs = p->secs;
  s->bytes_total = p->bytes;
  s->t0 = s->last_report = now;
  s->next_report = now + (rudp_tstamp)O.interval_ms * RUDP_MILLISECONDS;
  s->deadline = p->bytes ? 0 : now + (rudp_tstamp)p->secs * RUDP_SECONDS;
  s->rtt_min = UINT64_MAX;
  s->smp.step_ms = PLOT_STEP_MS;
  s->smp.next = now;
  cpu_times(&s->cpu_u0, &s->cpu_s0);
  s->started = 1;
  if (!O.json) {
    report_header(s->datagram, s->sender);
  }
}

static void side_sample(perf_side *s, uint64_t rtt_ns, uint64_t cwnd,
                        uint64_t retr, uint64_t pkts, uint64_t srtt_ns) {
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
  s->srtt_now = srtt_ns;
  s->retr = retr;
  s->pkts = pkts;
}

/* samples_add appends one --plot sample, halving the series when full. */
static void samples_add(perf_samples *m, uint32_t t_ms, uint64_t bytes,
                        uint64_t cwnd, uint32_t srtt_us) {
  int i;
  if (m->n == PLOT_MAX) {
    for (i = 0; i < PLOT_MAX / 2; ++i) {
      m->t_ms[i] = m->t_ms[2 * i];
      m->bytes[i] = m->bytes[2 * i];
      m->cwnd[i] = m->cwnd[2 * i];
      m->srtt_us[i] = m->srtt_us[2 * i];
    }
    m->n = PLOT_MAX / 2;
    m->step_ms *= 2;
  }
  m->t_ms[m->n] = t_ms;
  m->bytes[m->n] = bytes;
  m->cwnd[m->n] = cwnd;
  m->srtt_us[m->n] = srtt_us;
  ++m->n;
}

/* side_plot takes a --plot sample when one is due (or |force|). */
static void side_plot(perf_side *s, rudp_tstamp now, int force) {
  perf_samples *m = &s->smp;
  if (!s->plot || !s->started || s->role_done || (!force && now < m->next)) {
    return;
  }
  samples_add(m, (uint32_t)((now - s->t0) / RUDP_MILLISECONDS), s->sum,
              s->cwnd_now, (uint32_t)(s->srtt_now / 1000));
  m->next = now + (rudp_tstamp)m->step_ms * RUDP_MILLISECONDS;
}

static void side_tick(perf_side *s, rudp_tstamp now) {
  side_plot(s, now, 0);
  if (s->started && !s->role_done && O.interval_ms > 0 &&
      now >= s->next_report) {
    report(s, now, 0);
    s->next_report += (rudp_tstamp)O.interval_ms * RUDP_MILLISECONDS;
  }
}

/* side_idle tells whether no stream moved a byte since the last report. */
static int side_idle(const perf_side *s) {
  int i;
  for (i = 0; i < s->streams; ++i) {
    if (s->ibytes[i]) {
      return 0;
    }
  }
  return 1;
}

/* side_finish prints the last partial interval and a summary line. */
static void side_finish(perf_side *s, rudp_tstamp now) {
  double u, sy, wall;
  side_plot(s, now, 1);
  s->t_end = now;
  s->role_done = 1;
  cpu_times(&u, &sy);
  wall = (double)(now - s->t0) / 1e9;
  if (wall > 0) {
    s->cpu_user = (u - s->cpu_u0) * 100 / wall;
    s->cpu_sys = (sy - s->cpu_s0) * 100 / wall;
  }
  /* A last partial interval, unless it carried nothing (a datagram
   * receiver's wait for stragglers, or the last ms of a drain). */
  if (now > s->last_report + RUDP_MILLISECONDS && !side_idle(s)) {
    report(s, now, 1);
  }
}

/* side_take is how many bytes the sender may write now on stream |i|: 0
 * with *end set when the budget is spent (the stream must be ended), 0
 * alone when -b pacing says wait.  Paced writes are whole -l blocks. */
static size_t side_take(perf_side *s, int i, rudp_tstamp now, int *end) {
  size_t take = s->len;
  *end = 0;
  if (s->bytes_total) {
    uint64_t left = s->bytes_total - s->budget_used;
    if (left == 0) {
      *end = 1;
      return 0;
    }
    take = left < take ? (size_t)left : take;
  } else if (now >= s->deadline) {
    *end = 1;
    return 0;
  }
  if (s->rate) {
    double allowed = (double)(now - s->t0) / 1e9 * (double)s->rate / 8 +
                     (double)s->len - (double)s->bytes[i];
    if (allowed < (double)take) {
      return 0;
    }
  }
  return take;
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

/* secs_of is the side's test time; a datagram sender's ends when it wrote
 * the last datagram (the receiver's wait for stragglers is not sending). */
static double secs_of(const perf_side *s) {
  if (s->datagram && s->sender && s->t_fin) {
    return (double)(s->t_fin - s->t0) / 1e9;
  }
  return (double)(s->t_end - s->t0) / 1e9;
}

static int format_end(const perf_side *s, char *buf, size_t len) {
  int n = snprintf(
      buf, len,
      "end %" PRIu64 " %.9f %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
      " %" PRIu64 " %" PRIu64 " %" PRIu64 " cpu=%.2f,%.2f",
      s->sum, secs_of(s), s->retr, s->pkts, s->rtt_n ? s->rtt_min : 0,
      s->rtt_n ? s->rtt_sum / s->rtt_n : 0, s->rtt_max, s->cwnd_max,
      s->cwnd_n ? s->cwnd_sum / s->cwnd_n : 0, s->cpu_user, s->cpu_sys);
  if (s->datagram && n > 0 && (size_t)n < len) {
    n += snprintf(buf + n, len - (size_t)n,
                  " dg=%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                  ",%.0f",
                  s->dg_gen, s->dg_sent, s->dg_dropped, s->dg_recv, s->dg_ooo,
                  s->dg_jitter_ns);
  }
  if (s->msg && n > 0 && (size_t)n < len) {
    n += snprintf(buf + n, len - (size_t)n,
                  " msg=%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                  ",%" PRIu64 ",%" PRIu64,
                  s->msg_deliv, s->msg_late, s->lat_p50, s->lat_p99,
                  s->lat_p999, s->lat_max);
  }
  if (n > 0 && (size_t)n + 1 < len) {
    buf[n++] = '\n';
    buf[n] = '\0';
  }
  return n;
}

/* parse_end fills |s| (the server's side) from an "end" line; the
 * server's --plot samples, received before, are kept. */
static int parse_end(const char *line, perf_side *s) {
  double secs, u, sy, jit;
  uint64_t sum, retr, pkts, rmin, rmean, rmax, cmax, cmean;
  uint64_t g, snt, drp, rcv, ooo, l50, l99, l999, lmax;
  int off = 0;
  const char *p;
  if (sscanf(line,
             "end %" SCNu64 " %lf %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
             " %" SCNu64 " %" SCNu64 " %" SCNu64 "%n",
             &sum, &secs, &retr, &pkts, &rmin, &rmean, &rmax, &cmax, &cmean,
             &off) != 9 ||
      secs < 0 || off == 0) {
    return -1;
  }
  s->sum = sum;
  s->t0 = 0;
  s->t_end = (rudp_tstamp)(secs * 1e9);
  s->t_fin = 0;
  s->retr = retr;
  s->pkts = pkts;
  s->rtt_min = rmin;
  s->rtt_sum = rmean;
  s->rtt_max = rmax;
  s->rtt_n = 1;
  s->cwnd_max = cmax;
  s->cwnd_sum = cmean;
  s->cwnd_n = 1;
  /* Optional key=value fields (rudp-perf 1.1). */
  for (p = line + off; (p = strchr(p, ' ')) != NULL; ++p) {
    if (sscanf(p, " cpu=%lf,%lf", &u, &sy) == 2) {
      s->cpu_user = u;
      s->cpu_sys = sy;
    } else if (sscanf(p,
                      " dg=%" SCNu64 ",%" SCNu64 ",%" SCNu64 ",%" SCNu64
                      ",%" SCNu64 ",%lf",
                      &g, &snt, &drp, &rcv, &ooo, &jit) == 6) {
      s->dg_gen = g;
      s->dg_sent = snt;
      s->dg_dropped = drp;
      s->dg_recv = rcv;
      s->dg_ooo = ooo;
      s->dg_jitter_ns = jit;
    } else if (sscanf(p,
                      " msg=%" SCNu64 ",%" SCNu64 ",%" SCNu64 ",%" SCNu64
                      ",%" SCNu64 ",%" SCNu64,
                      &rcv, &ooo, &l50, &l99, &l999, &lmax) == 6) {
      s->msg = 1;
      s->msg_deliv = rcv;
      s->msg_late = ooo;
      s->lat_p50 = l50;
      s->lat_p99 = l99;
      s->lat_p999 = l999;
      s->lat_max = lmax;
    }
  }
  return 0;
}

/* parse_sample appends an "s MS BYTES CWND SRTT_US" line to |m|. */
static int parse_sample(const char *line, perf_samples *m) {
  unsigned t, srtt;
  uint64_t bytes, cwnd;
  if (sscanf(line, "s %u %" SCNu64 " %" SCNu64 " %u", &t, &bytes, &cwnd,
             &srtt) != 4) {
    return -1;
  }
  samples_add(m, t, bytes, cwnd, srtt);
  return 0;
}

static int format_sample(const perf_samples *m, int i, char *buf, size_t len) {
  return snprintf(buf, len, "s %u %" PRIu64 " %" PRIu64 " %u\n",
                  (unsigned)m->t_ms[i], m->bytes[i], m->cwnd[i],
                  (unsigned)m->srtt_us[i]);
}

/* ------------------------------------------------------------ summary */

/* dg_loss is the datagrams the receiver never got: numbers written by the
 * sender (dropped in its send queue or on the path included). */
static uint64_t dg_loss(const perf_side *snd, const perf_side *rcv) {
  return snd->dg_gen > rcv->dg_recv ? snd->dg_gen - rcv->dg_recv : 0;
}

/* json_test prints one test's result as an iperf3-shaped object; |ind|
 * indents every line after the first. */
static void json_test(const perf_side *me, const perf_side *peer, int tcp,
                      const char *ind) {
  const perf_side *snd = me->sender ? me : peer;
  const perf_side *rcv = me->sender ? peer : me;
  double ss = secs_of(snd), rs = secs_of(rcv);
  double sbps = ss > 0 ? (double)snd->sum * 8 / ss : 0;
  double rbps = rs > 0 ? (double)rcv->sum * 8 / rs : 0;
  printf("{\n%s  \"start\": {\"version\": \"rudp-perf " PERF_VERSION
         "\", \"test_start\": {\"protocol\": \"%s\", \"num_streams\": %d, "
         "\"reverse\": %d, \"duration\": %u, \"bytes\": %" PRIu64
         ", \"blksize\": %zu, \"target_bitrate\": %" PRIu64
         ", \"datagram\": %d}},\n",
         ind, tcp ? "TCP" : "RUDP", O.streams, O.reverse, O.bytes ? 0 : O.secs,
         O.bytes, O.len, O.rate, O.datagram);
  printf("%s  \"end\": {\n%s    \"sum_sent\": {\"bytes\": %" PRIu64
         ", \"seconds\": %.6f, \"bits_per_second\": %.1f, "
         "\"retransmits\": %" PRIu64 ", \"packets\": %" PRIu64 "},\n",
         ind, ind, snd->sum, ss, sbps, snd->retr, snd->pkts);
  printf("%s    \"sum_received\": {\"bytes\": %" PRIu64
         ", \"seconds\": %.6f, \"bits_per_second\": %.1f},\n",
         ind, rcv->sum, rs, rbps);
  printf("%s    \"rtt\": {\"min\": %" PRIu64 ", \"mean\": %" PRIu64
         ", \"max\": %" PRIu64 "},\n",
         ind, snd->rtt_n ? snd->rtt_min / 1000 : 0,
         snd->rtt_n ? snd->rtt_sum / snd->rtt_n / 1000 : 0,
         snd->rtt_max / 1000);
  printf("%s    \"cwnd\": {\"max\": %" PRIu64 ", \"mean\": %" PRIu64 "},\n",
         ind, snd->cwnd_max, snd->cwnd_n ? snd->cwnd_sum / snd->cwnd_n : 0);
  printf("%s    \"cpu_utilization_percent\": {\"host_total\": %.2f, "
         "\"host_user\": %.2f, \"host_system\": %.2f, \"remote_total\": "
         "%.2f, \"remote_user\": %.2f, \"remote_system\": %.2f}",
         ind, me->cpu_user + me->cpu_sys, me->cpu_user, me->cpu_sys,
         peer->cpu_user + peer->cpu_sys, peer->cpu_user, peer->cpu_sys);
  if (O.datagram) {
    uint64_t lost = dg_loss(snd, rcv);
    /* iperf3 -u's end.sum: the sender's bytes, the receiver's loss. */
    printf(",\n%s    \"sum\": {\"start\": 0, \"end\": %.6f, \"seconds\": "
           "%.6f, \"bytes\": %" PRIu64 ", \"bits_per_second\": %.1f, "
           "\"jitter_ms\": %.3f, \"lost_packets\": %" PRIu64
           ", \"packets\": %" PRIu64 ", \"lost_percent\": %.4f, "
           "\"out_of_order\": %" PRIu64 ", \"sender\": true},\n",
           ind, ss, ss, snd->sum, sbps, rcv->dg_jitter_ns / 1e6, lost,
           snd->dg_gen,
           snd->dg_gen ? 100.0 * (double)lost / (double)snd->dg_gen : 0.0,
           rcv->dg_ooo);
    printf("%s    \"datagrams\": {\"written\": %" PRIu64 ", \"sent\": %" PRIu64
           ", \"dropped\": %" PRIu64 ", \"received\": %" PRIu64
           ", \"out_of_order\": %" PRIu64 "}",
           ind, snd->dg_gen, snd->dg_sent, snd->dg_dropped, rcv->dg_recv,
           rcv->dg_ooo);
  }
  printf("\n%s  }\n%s}", ind, ind);
}

static void summary_text(const perf_side *me, const perf_side *peer) {
  const perf_side *snd = me->sender ? me : peer;
  const perf_side *rcv = me->sender ? peer : me;
  double ss = secs_of(snd), rs = secs_of(rcv);
  printf("- - - - - - - - - - - - - - - - - - - - - - - - -\n");
  if (O.datagram) {
    uint64_t lost = dg_loss(snd, rcv);
    report_header(1, 0);
    dg_line(0, ss, snd->sum, 0, snd->dg_gen, 0, "  sender");
    dg_line(0, rs, rcv->sum, (int64_t)lost, snd->dg_gen, rcv->dg_jitter_ns,
            "  receiver");
    if (rcv->dg_ooo) {
      printf("[  5] %" PRIu64 " datagrams received out-of-order\n",
             rcv->dg_ooo);
    }
    printf("[  5] sender: %" PRIu64 " datagrams written, %" PRIu64
           " sent, %" PRIu64 " dropped (send queue full or declared lost)\n",
           snd->dg_gen, snd->dg_sent, snd->dg_dropped);
  } else {
    report_header(0, 0);
    report_line("SUM", 0, ss, snd->sum, 1, snd->retr, snd->cwnd_max,
                "  sender");
    report_line("SUM", 0, rs, rcv->sum, 0, 0, 0, "  receiver");
  }
}

static const char *const MSG_MODES[MSG_NCHAN] = {"ordered", "unordered",
                                                 "unreliable", "sequenced"};

/* msg_summary prints a --messages result (the client sends, the server
 * measured): one line, or JSON with end.latency_us and end.messages. */
static void msg_summary(const perf_side *me, const perf_side *peer, int tcp) {
  uint64_t sent = me->dg_gen, deliv = peer->msg_deliv;
  uint64_t dropped = sent > deliv ? sent - deliv : 0;
  const char *mode = tcp ? "tcp" : MSG_MODES[O.messages - 1];
  if (O.json) {
    printf("{\n  \"start\": {\"version\": \"rudp-perf " PERF_VERSION
           "\", \"test_start\": {\"protocol\": \"%s\", \"mode\": \"%s\", "
           "\"messages_per_second\": %" PRIu64 ", \"message_size\": %zu, "
           "\"duration\": %u, \"low_latency\": %d}, \"clock\": "
           "\"CLOCK_MONOTONIC; sender and receiver on one host\"},\n",
           tcp ? "TCP" : "RUDP", mode, O.rate, O.len, O.secs,
           tcp ? 0 : O.low_latency);
    printf("  \"end\": {\n    \"messages\": {\"sent\": %" PRIu64
           ", \"delivered\": %" PRIu64 ", \"dropped\": %" PRIu64
           ", \"late\": %" PRIu64 "},\n",
           sent, deliv, dropped, peer->msg_late);
    printf("    \"latency_us\": {\"p50\": %.1f, \"p99\": %.1f, \"p999\": "
           "%.1f, \"max\": %.1f},\n",
           (double)peer->lat_p50 / 1e3, (double)peer->lat_p99 / 1e3,
           (double)peer->lat_p999 / 1e3, (double)peer->lat_max / 1e3);
    printf("    \"sum_sent\": {\"bytes\": %" PRIu64 ", \"seconds\": %.6f, "
           "\"retransmits\": %" PRIu64 "},\n",
           me->sum, secs_of(me), me->retr);
    printf("    \"rtt\": {\"min\": %" PRIu64 ", \"mean\": %" PRIu64
           ", \"max\": %" PRIu64 "}\n  }\n}\n",
           me->rtt_n ? me->rtt_min / 1000 : 0,
           me->rtt_n ? me->rtt_sum / me->rtt_n / 1000 : 0, me->rtt_max / 1000);
  } else {
    printf("- - - - - - - - - - - - - - - - - - - - - - - - -\n");
    printf("[msg] %s %" PRIu64 " msg/s %zu B: delivered %" PRIu64 "/%" PRIu64
           " (%" PRIu64 " dropped, %" PRIu64 " late); one-way latency p50 "
           "%.3f p99 %.3f p99.9 %.3f max %.3f ms\n",
           mode, O.rate, O.len, deliv, sent, dropped, peer->msg_late,
           (double)peer->lat_p50 / 1e6, (double)peer->lat_p99 / 1e6,
           (double)peer->lat_p999 / 1e6, (double)peer->lat_max / 1e6);
    printf("[msg] latency = receive time - send time, CLOCK_MONOTONIC of one "
           "host\n");
  }
  fflush(stdout);
}

/* summary prints the client's result: |me| is the client, |peer| what the
 * server reported. */
static void summary(const perf_side *me, const perf_side *peer, int tcp) {
  if (O.messages) {
    msg_summary(me, peer, tcp);
    return;
  }
  if (O.json) {
    json_test(me, peer, tcp, "");
    printf("\n");
  } else {
    summary_text(me, peer);
  }
  fflush(stdout);
}

/* g_res keeps each transport's result for --compare and --plot: [0] RUDP,
 * [1] TCP; g_have[i] when that test completed. */
static perf_side g_res_me[2], g_res_peer[2];
static int g_have[2];

static void keep_result(int tcp, const perf_side *me, const perf_side *peer) {
  g_res_me[tcp] = *me;
  g_res_peer[tcp] = *peer;
  g_have[tcp] = 1;
}

static double bps_of(const perf_side *s) {
  double secs = secs_of(s);
  return secs > 0 ? (double)s->sum * 8 / secs : 0;
}

static void cmp_row(const char *label, const char *a, const char *b) {
  printf("%-22s  %-24s  %s\n", label, a, b);
}

static void cmp_rtt(char *out, size_t len, const perf_side *snd) {
  snprintf(out, len, "%.3f/%.3f/%.3f ms",
           snd->rtt_n ? (double)snd->rtt_min / 1e6 : 0.0,
           snd->rtt_n ? (double)(snd->rtt_sum / snd->rtt_n) / 1e6 : 0.0,
           (double)snd->rtt_max / 1e6);
}

/* compare_print prints the RUDP and TCP results side by side (text) or
 * both objects and their ratios (-J). */
static void compare_print(void) {
  const perf_side *snd[2], *rcv[2];
  char a[64], b[64];
  double rr, sr;
  int i;
  for (i = 0; i < 2; ++i) {
    snd[i] = g_res_me[i].sender ? &g_res_me[i] : &g_res_peer[i];
    rcv[i] = g_res_me[i].sender ? &g_res_peer[i] : &g_res_me[i];
  }
  rr = bps_of(rcv[1]) > 0 ? bps_of(rcv[0]) / bps_of(rcv[1]) : 0;
  sr = bps_of(snd[1]) > 0 ? bps_of(snd[0]) / bps_of(snd[1]) : 0;
  if (O.json) {
    printf("{\n  \"rudp\": ");
    json_test(&g_res_me[0], &g_res_peer[0], 0, "  ");
    printf(",\n  \"tcp\": ");
    json_test(&g_res_me[1], &g_res_peer[1], 1, "  ");
    printf(",\n  \"compare\": {\"receiver_bitrate_ratio\": %.4f, "
           "\"sender_bitrate_ratio\": %.4f}\n}\n",
           rr, sr);
    fflush(stdout);
    return;
  }
  printf("- - - - - - - - - - - - - - - - - - - - - - - - -\n");
  cmp_row("Comparison", "RUDP", "TCP");
  unit(a, sizeof(a), bps_of(snd[0]), 1000, "bits/sec");
  unit(b, sizeof(b), bps_of(snd[1]), 1000, "bits/sec");
  cmp_row("Bitrate (sender)", a, b);
  unit(a, sizeof(a), bps_of(rcv[0]), 1000, "bits/sec");
  unit(b, sizeof(b), bps_of(rcv[1]), 1000, "bits/sec");
  cmp_row("Bitrate (receiver)", a, b);
  unit(a, sizeof(a), (double)rcv[0]->sum, 1024, "Bytes");
  unit(b, sizeof(b), (double)rcv[1]->sum, 1024, "Bytes");
  cmp_row("Transfer (receiver)", a, b);
  snprintf(a, sizeof(a), "%.2f", secs_of(rcv[0]));
  snprintf(b, sizeof(b), "%.2f", secs_of(rcv[1]));
  cmp_row("Seconds (receiver)", a, b);
  snprintf(a, sizeof(a), "%" PRIu64, snd[0]->retr);
  snprintf(b, sizeof(b), "%" PRIu64, snd[1]->retr);
  cmp_row("Retransmits", a, b);
  cmp_rtt(a, sizeof(a), snd[0]);
  cmp_rtt(b, sizeof(b), snd[1]);
  cmp_row("RTT min/mean/max", a, b);
  unit(a, sizeof(a), (double)snd[0]->cwnd_max, 1024, "Bytes");
  unit(b, sizeof(b), (double)snd[1]->cwnd_max, 1024, "Bytes");
  cmp_row("Cwnd max", a, b);
  snprintf(a, sizeof(a), "%.1f%%", g_res_me[0].cpu_user + g_res_me[0].cpu_sys);
  snprintf(b, sizeof(b), "%.1f%%", g_res_me[1].cpu_user + g_res_me[1].cpu_sys);
  cmp_row("CPU client (user+sys)", a, b);
  snprintf(a, sizeof(a), "%.1f%%",
           g_res_peer[0].cpu_user + g_res_peer[0].cpu_sys);
  snprintf(b, sizeof(b), "%.1f%%",
           g_res_peer[1].cpu_user + g_res_peer[1].cpu_sys);
  cmp_row("CPU server (user+sys)", a, b);
  printf("Ratio RUDP/TCP: receiver bitrate %.2f, sender bitrate %.2f\n", rr,
         sr);
  fflush(stdout);
}

/* ------------------------------------------------------------ plot */

/* The SVG layout: three charts stacked, each PLOT_H high. */
#define SVG_W 820
#define SVG_LEFT 80
#define SVG_RIGHT 30
#define SVG_TOP 60
#define PLOT_H 180
#define PLOT_GAP 70

/* plot_run is one transport's series: throughput from the receiver's
 * samples, cwnd and RTT from the sender's. */
typedef struct plot_run {
  const char *name, *color;
  const perf_samples *snd, *rcv;
} plot_run;

/* nice_step is a 1, 2 or 5 times a power of ten step that cuts |max| into
 * about |n| ticks. */
static double nice_step(double max, int n) {
  double raw = max / n, mag = 1;
  if (!(raw > 0)) {
    return 1;
  }
  while (mag * 10 <= raw) {
    mag *= 10;
  }
  while (mag > raw) {
    mag /= 10;
  }
  return raw <= mag       ? mag
         : raw <= 2 * mag ? 2 * mag
         : raw <= 5 * mag ? 5 * mag
                          : 10 * mag;
}

/* plot_value is point |i| (i >= 1) of chart |chart| of |r|, or -1 when it
 * has none. */
static double plot_value(const plot_run *r, int chart, int i, double *x) {
  const perf_samples *m = chart == 0 ? r->rcv : r->snd;
  if (i >= m->n) {
    return -1;
  }
  *x = (double)m->t_ms[i] / 1e3;
  switch (chart) {
  case 0: {
    double dt;
    if (i == 0) {
      return -1;
    }
    dt = (double)(m->t_ms[i] - m->t_ms[i - 1]) / 1e3;
    return dt > 0 ? (double)(m->bytes[i] - m->bytes[i - 1]) * 8 / dt / 1e6 : -1;
  }
  case 1:
    return (double)m->cwnd[i] / 1024;
  default:
    return (double)m->srtt_us[i] / 1e3;
  }
}

static void svg_text(FILE *f, const char *s) {
  for (; *s; ++s) {
    switch (*s) {
    case '<':
      fputs("&lt;", f);
      break;
    case '>':
      fputs("&gt;", f);
      break;
    case '&':
      fputs("&amp;", f);
      break;
    case '"':
      fputs("&quot;", f);
      break;
    default:
      fputc(*s, f);
    }
  }
}

static void plot_chart(FILE *f, int chart, const plot_run *runs, int nruns,
                       double xmax) {
  static const char *const names[] = {"throughput", "cwnd", "rtt"};
  static const char *const titles[] = {
      "Throughput (Mbit/s)", "Congestion window (KiB)", "Smoothed RTT (ms)"};
  double ymax = 0, x, y, ystep, xstep, v;
  int top = SVG_TOP + chart * (PLOT_H + PLOT_GAP);
  int w = SVG_W - SVG_LEFT - SVG_RIGHT;
  int r, i, k;
  for (r = 0; r < nruns; ++r) {
    const perf_samples *m = chart == 0 ? runs[r].rcv : runs[r].snd;
    for (i = 0; i < m->n; ++i) {
      y = plot_value(&runs[r], chart, i, &x);
      ymax = y > ymax ? y : ymax;
    }
  }
  /* The top of the axis: the first whole step at or above the peak. */
  ystep = nice_step(ymax > 0 ? ymax : 1, 5);
  v = ymax;
  ymax = ystep;
  while (ymax < v) {
    ymax += ystep;
  }
  xstep = nice_step(xmax, 8);
  fprintf(f, "<g class=\"chart\" id=\"%s\">\n", names[chart]);
  fprintf(f,
          "<text x=\"%d\" y=\"%d\" font-size=\"14\" "
          "font-weight=\"bold\">%s</text>\n",
          SVG_LEFT, top - 10, titles[chart]);
  fprintf(f,
          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fff\" "
          "stroke=\"#444\"/>\n",
          SVG_LEFT, top, w, PLOT_H);
  /* y ticks, grid and labels */
  for (k = 0; (v = k * ystep) <= ymax * (1 + 1e-9); ++k) {
    double py = top + PLOT_H - v / ymax * PLOT_H;
    fprintf(f,
            "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
            "stroke=\"#ddd\"/>\n",
            SVG_LEFT, py, SVG_LEFT + w, py);
    fprintf(f,
            "<text class=\"tick\" x=\"%d\" y=\"%.1f\" font-size=\"11\" "
            "text-anchor=\"end\">%g</text>\n",
            SVG_LEFT - 6, py + 4, v);
  }
  /* x ticks and labels */
  for (k = 0; (v = k * xstep) <= xmax * (1 + 1e-9); ++k) {
    double px = SVG_LEFT + v / xmax * w;
    fprintf(f,
            "<line class=\"xtick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
            "y2=\"%d\" stroke=\"#444\"/>\n",
            px, top + PLOT_H, px, top + PLOT_H + 5);
    fprintf(f,
            "<text class=\"tick\" x=\"%.1f\" y=\"%d\" font-size=\"11\" "
            "text-anchor=\"middle\">%g</text>\n",
            px, top + PLOT_H + 18, v);
  }
  fprintf(f,
          "<text x=\"%d\" y=\"%d\" font-size=\"11\" "
          "text-anchor=\"middle\">time (s)</text>\n",
          SVG_LEFT + w / 2, top + PLOT_H + 34);
  fprintf(f,
          "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" "
          "transform=\"rotate(-90 %d %d)\">%s</text>\n",
          22, top + PLOT_H / 2, 22, top + PLOT_H / 2,
          chart == 0   ? "Mbit/s"
          : chart == 1 ? "KiB"
                       : "ms");
  /* the series */
  for (r = 0; r < nruns; ++r) {
    int n = 0;
    fprintf(f,
            "<polyline class=\"series\" data-name=\"%s\" fill=\"none\" "
            "stroke=\"%s\" stroke-width=\"1.5\" points=\"",
            runs[r].name, runs[r].color);
    for (i = 0; i < (chart == 0 ? runs[r].rcv : runs[r].snd)->n; ++i) {
      y = plot_value(&runs[r], chart, i, &x);
      if (y < 0) {
        continue;
      }
      fprintf(f, "%s%.1f,%.1f", n++ ? " " : "", SVG_LEFT + x / xmax * w,
              top + PLOT_H - (y > ymax ? ymax : y) / ymax * PLOT_H);
    }
    fprintf(f, "\"/>\n");
  }
  /* the legend, top right inside the frame */
  fprintf(f,
          "<g class=\"legend\">\n<rect x=\"%d\" y=\"%d\" width=\"%d\" "
          "height=\"%d\" fill=\"#fff\" fill-opacity=\"0.85\" "
          "stroke=\"#ccc\"/>\n",
          SVG_LEFT + w - 98, top + 4, 92, 8 + 16 * nruns);
  for (r = 0; r < nruns; ++r) {
    int lx = SVG_LEFT + w - 90, ly = top + 16 + 16 * r;
    fprintf(f,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
            "stroke-width=\"3\"/>\n",
            lx, ly - 4, lx + 24, ly - 4, runs[r].color);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>\n", lx + 30,
            ly, runs[r].name);
  }
  fprintf(f, "</g>\n</g>\n");
}

/* plot_write writes the --plot SVG: self-contained, no script, no external
 * reference.  Returns 0 or -1 (errno set). */
static int plot_write(const char *path, const char *title, const plot_run *runs,
                      int nruns) {
  FILE *f = fopen(path, "w");
  double xmax = 0;
  int r, c, h = SVG_TOP + 3 * (PLOT_H + PLOT_GAP);
  if (!f) {
    return -1;
  }
  for (r = 0; r < nruns; ++r) {
    const perf_samples *ms[2] = {runs[r].snd, runs[r].rcv};
    for (c = 0; c < 2; ++c) {
      if (ms[c]->n > 0 && ms[c]->t_ms[ms[c]->n - 1] / 1e3 > xmax) {
        xmax = ms[c]->t_ms[ms[c]->n - 1] / 1e3;
      }
    }
  }
  if (xmax <= 0) {
    xmax = 1;
  }
  fprintf(f,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
          "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
          "<title>",
          SVG_W, h, SVG_W, h);
  svg_text(f, title);
  fprintf(f,
          "</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n"
          "<text x=\"%d\" y=\"26\" font-size=\"16\" font-weight=\"bold\" "
          "text-anchor=\"middle\">",
          SVG_W / 2);
  svg_text(f, title);
  fprintf(f, "</text>\n");
  for (c = 0; c < 3; ++c) {
    plot_chart(f, c, runs, nruns, xmax);
  }
  fprintf(f, "</svg>\n");
  if (ferror(f)) {
    int e = errno;
    fclose(f);
    errno = e ? e : EIO;
    return -1;
  }
  return fclose(f) == 0 ? 0 : -1;
}

/* plot_dir_check fails early, before a test is spent, when --plot's
 * directory cannot take the file. */
static int plot_dir_check(const char *path) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (size_t)(slash - path) : 1;
  if (n >= sizeof(dir)) {
    fail("--plot", "%s: %s", path, strerror(ENAMETOOLONG));
    return -1;
  }
  memcpy(dir, slash ? path : ".", n);
  dir[n ? n : 1] = '\0';
  if (slash == path) {
    dir[0] = '/';
  }
  if (access(dir, W_OK) != 0) {
    fail("--plot", "%s: %s", dir, strerror(errno));
    return -1;
  }
  return 0;
}

/* plot_results writes --plot from the kept results; returns 0 or 1. */
static int plot_results(void) {
  plot_run runs[2];
  char title[256];
  int n = 0, i;
  static const char *const names[] = {"RUDP", "TCP"};
  static const char *const colors[] = {"#1f77b4", "#d62728"};
  for (i = 0; i < 2; ++i) {
    if (g_have[i]) {
      const perf_side *me = &g_res_me[i], *peer = &g_res_peer[i];
      runs[n].name = names[i];
      runs[n].color = colors[i];
      runs[n].snd = me->sender ? &me->smp : &peer->smp;
      runs[n].rcv = me->sender ? &peer->smp : &me->smp;
      ++n;
    }
  }
  snprintf(title, sizeof(title), "rudp-perf -c %s: %s, %d stream%s, %s%s",
           O.host,
           O.compare ? "RUDP and TCP"
           : O.tcp   ? "TCP"
                     : "RUDP",
           O.streams, O.streams > 1 ? "s" : "",
           O.reverse ? "server sends" : "client sends",
           O.datagram ? ", datagrams" : "");
  if (plot_write(O.plot, title, runs, n) != 0) {
    fail("--plot", "%s: %s", O.plot, strerror(errno));
    return 1;
  }
  if (!O.json) {
    printf("Plot written to %s\n", O.plot);
  }
  return 0;
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

static int format_params(const perf_params *p, char *buf, size_t len) {
  return snprintf(buf, len,
                  "rudp-perf 1 %d %d %u %" PRIu64 " %zu %d %" PRIu64
                  " %d %d %d\n",
                  p->reverse, p->streams, p->secs, p->bytes, p->len,
                  p->datagram, p->rate, p->plot, p->more, p->msg);
}

/* client_params is what this client asks for; |more| when the TCP half of
 * --compare follows. */
static void client_params(perf_params *p, int more) {
  memset(p, 0, sizeof(*p));
  p->reverse = O.reverse;
  p->streams = O.streams;
  p->secs = O.secs;
  p->bytes = O.bytes;
  p->len = O.len;
  p->datagram = O.datagram;
  p->rate = O.rate;
  p->plot = O.plot != NULL;
  p->more = more;
  p->msg = O.messages;
}

/* parse_params reads a parameter line: the five fields of rudp-perf 1.0
 * (then 64 KiB writes, no pacing) or all ten. */
static int parse_params(const char *line, perf_params *p) {
  unsigned long long bytes = 0, rate = 0;
  size_t len = CHUNK;
  int n;
  memset(p, 0, sizeof(*p));
  n = sscanf(line, "rudp-perf 1 %d %d %u %llu %zu %d %llu %d %d %d",
             &p->reverse, &p->streams, &p->secs, &bytes, &len, &p->datagram,
             &rate, &p->plot, &p->more, &p->msg);
  p->bytes = bytes;
  p->rate = rate;
  p->len = len;
  if (n == 4) {
    p->len = CHUNK;
  } else if (n != 9 && n != 10) {
    return -1;
  }
  if (p->msg) {
    /* --messages (rudp-perf 1.2): the client sends, one "stream". */
    return p->msg >= 1 && p->msg <= MSG_NCHAN && !p->reverse && !p->datagram &&
                   p->streams == 1 && p->secs > 0 && p->rate >= 1 &&
                   p->rate <= MSG_RATE_MAX && p->len >= MSG_HDR &&
                   p->len <= (p->msg > 2 ? MSG_UNREL_MAX : MAX_LEN)
               ? 0
               : -1;
  }
  if ((p->reverse != 0 && p->reverse != 1) || p->streams < 1 ||
      p->streams > MAX_STREAMS || (p->secs == 0 && p->bytes == 0) ||
      (p->datagram != 0 && p->datagram != 1) ||
      (p->plot != 0 && p->plot != 1) || (p->more != 0 && p->more != 1) ||
      p->rate > RATE_MAX) {
    return -1;
  }
  if (p->datagram) {
    return p->streams == 1 && p->len >= DG_HDR && p->len <= DG_MAX &&
                   p->rate > 0
               ? 0
               : -1;
  }
  return p->len >= 1 && p->len <= MAX_LEN ? 0 : -1;
}

/* ------------------------------------------------------------ rudp */

typedef struct rperf {
  struct event_base *base;
  rudp_event *ev;
  rudp_conn *conn;
  struct event *pace;
  int64_t ctl_sid;
  int64_t sid[MAX_STREAMS];
  int nsid, ctl_fin_sent, closed, close_err, result_ok, pacing;
  char close_reason[128];
  ctl_buf ctl;
  perf_side me, peer;
  rudp_tstamp give_up;
  /* --messages: the message session (both sides), and the server's
   * "ready" (its session exists: datagrams sent before would be lost). */
  rudp_msg_session *ms;
  int msg_ready;
} rperf;

static rperf R;

static void msg_reset(void);

/* is_mine tells whether |conn| is the test's connection.  A server adopts
 * the first connection that shows up (its streams may arrive before
 * accept_ready runs); later ones are refused in on_accept_ready. */
static int is_mine(rudp_conn *conn) {
  if (!R.conn && O.server) {
    R.conn = conn;
    R.closed = 0;
    memset(&D, 0, sizeof(D));
    msg_reset();
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
              st.pkts_sent, st.srtt);
  R.me.dg_sent = st.datagrams_sent;
  R.me.dg_dropped = st.datagrams_dropped;
}

static void perf_pace(int on) {
  struct timeval tv = {0, PACE_US};
  if (on && !R.pacing && event_add(R.pace, &tv) == 0) {
    R.pacing = 1;
  } else if (!on && R.pacing) {
    event_del(R.pace);
    R.pacing = 0;
  }
}

/* perf_dg_pump sends the datagrams due by now (-b), each numbered and
 * stamped; once the budget is spent it writes "dgend COUNT" (a client also
 * "done"). */
static void perf_dg_pump(rudp_tstamp now) {
  perf_side *s = &R.me;
  uint64_t target, limit;
  char line[64];
  if (!R.conn || !s->started || !s->sender || !s->datagram || s->fin[0]) {
    return;
  }
  limit = s->bytes_total       ? (s->bytes_total + s->len - 1) / s->len
          : now >= s->deadline ? s->dg_gen
                               : UINT64_MAX;
  /* One datagram at the start, then rate * elapsed. */
  target = (uint64_t)((double)(now - s->t0) / 1e9 * (double)s->rate / 8 /
                      (double)s->len) +
           1;
  target = target < limit ? target : limit;
  /* A sender that fell behind (a slow CPU, a huge -b) catches up at most a
   * queue's worth per call: more would only be dropped, and the loop would
   * starve the event loop. */
  if (target - s->dg_gen > DG_QUEUE) {
    target = s->dg_gen + DG_QUEUE;
  }
  while (s->dg_gen < target) {
    int rv;
    put_be64(g_buf, s->dg_gen);
    put_be64(g_buf + 8, now);
    rv = rudp_conn_send_datagram(R.conn, g_buf, s->len);
    if (rv == RUDP_ERR_INVALID_STATE) {
      return; /* the handshake is not confirmed yet: the next tick */
    }
    if (rv != 0) {
      fail("datagram", "%s", rudp_strerror(rv));
      s->failed = 1;
      perf_pace(0);
      rudp_conn_abort(R.conn, 1, "datagram", now);
      return;
    }
    ++s->dg_gen;
    ++s->dg_igen;
    side_count(s, 0, s->len);
  }
  if (s->dg_gen >= limit) {
    s->fin[0] = 1;
    s->t_fin = now;
    perf_pace(0);
    snprintf(line, sizeof(line), "dgend %" PRIu64 "\n", s->dg_gen);
    perf_ctl_write(line, 0);
    if (!O.server && R.conn) {
      R.ctl_fin_sent = 1;
      perf_ctl_write("done\n", 0);
    }
  }
}

/* ------------------------------------------------------------ messages */

static void msg_reset(void) {
  uint32_t *lat = M.lat;
  size_t cap = M.cap;
  memset(&M, 0, sizeof(M));
  M.lat = lat;
  M.cap = cap;
}

/* msg_record is the receiver's accounting of one message: its one-way
 * latency (both ends read CLOCK_MONOTONIC of this host) and its order. */
static void msg_record(const uint8_t *data, size_t len, rudp_tstamp now) {
  uint64_t seq, sent, lat;
  if (len < MSG_HDR) {
    return;
  }
  seq = get_be64(data);
  sent = get_be64(data + 8);
  lat = now > sent ? now - sent : 0;
  if (M.n == M.cap) {
    size_t cap = M.cap ? M.cap * 2 : 4096;
    uint32_t *l = realloc(M.lat, cap * sizeof(*l));
    if (!l) {
      return;
    }
    M.lat = l;
    M.cap = cap;
  }
  M.lat[M.n++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
  if (seq >= M.next) {
    M.next = seq + 1;
  } else {
    ++M.late;
  }
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* msg_rank is the nearest-rank percentile |per_mille| / 10 of the sorted
 * latencies. */
static uint64_t msg_rank(unsigned per_mille) {
  size_t k;
  if (M.n == 0) {
    return 0;
  }
  k = (M.n * per_mille + 999) / 1000;
  return M.lat[k ? k - 1 : 0];
}

/* msg_stats fills the receiver's side with its counts and percentiles. */
static void msg_stats(perf_side *s) {
  if (M.n) {
    qsort(M.lat, M.n, sizeof(*M.lat), cmp_u32);
  }
  s->msg_deliv = M.n;
  s->msg_late = M.late;
  s->lat_p50 = msg_rank(500);
  s->lat_p99 = msg_rank(990);
  s->lat_p999 = msg_rank(999);
  s->lat_max = M.n ? M.lat[M.n - 1] : 0;
}

static void perf_server_maybe_end(void);

/* perf_msg_check ends a --messages receiver's role once every message
 * counted in "msgend" arrived; unreliable modes stop waiting DG_GRACE + 2
 * RTT after "msgend", reliable ones wait (the test's time limit bounds
 * it). */
static void perf_msg_check(rudp_tstamp now) {
  perf_side *s = &R.me;
  if (!s->started || s->sender || !s->msg || s->fin[0] || !M.have_expect) {
    return;
  }
  if (M.n < M.expect &&
      (s->msg <= 2 ||
       now < M.expect_at + DG_GRACE + 2 * (rudp_tstamp)s->srtt_now)) {
    return;
  }
  s->fin[0] = 1;
  s->dg_gen = M.expect;
  msg_stats(s);
  perf_server_maybe_end();
}

static int msg_on_message(rudp_msg_session *ms, unsigned channel,
                          uint64_t msg_id, const uint8_t *data, size_t len,
                          void *ud) {
  rudp_tstamp now = rudp_event_now();
  (void)ms;
  (void)channel;
  (void)msg_id;
  (void)ud;
  if (R.me.started && !R.me.sender && R.me.msg && !R.me.fin[0]) {
    msg_record(data, len, now);
    side_count(&R.me, 0, len);
    perf_msg_check(now);
  }
  return 0;
}

static void perf_msg_pump(rudp_tstamp now);

static void msg_on_writable(rudp_msg_session *ms, unsigned channel, void *ud) {
  (void)ms;
  (void)channel;
  (void)ud;
  perf_msg_pump(rudp_event_now());
}

/* perf_msg_session attaches the message session to R.conn: one channel
 * per mode, the same table on both sides. */
static int perf_msg_session(void) {
  static const rudp_msg_mode modes[MSG_NCHAN] = {
      RUDP_MSG_RELIABLE_ORDERED, RUDP_MSG_RELIABLE_UNORDERED,
      RUDP_MSG_UNRELIABLE, RUDP_MSG_UNRELIABLE_SEQUENCED};
  static const rudp_msg_callbacks mcb = {msg_on_message, msg_on_writable};
  rudp_msg_settings st;
  rudp_msg_settings_default(&st);
  st.max_reliable_size = MAX_LEN;
  return rudp_msg_session_new(&R.ms, R.conn, modes, MSG_NCHAN, &st, &mcb, NULL,
                              NULL);
}

/* perf_msg_pump sends the messages due by now (--messages RATE), each
 * numbered and stamped; once the time is up it writes "msgend COUNT" and
 * "done" (only a client sends messages). */
static void perf_msg_pump(rudp_tstamp now) {
  perf_side *s = &R.me;
  uint64_t target, limit;
  char line[64];
  if (!R.conn || !R.ms || !R.msg_ready || !s->started || !s->sender ||
      s->fin[0]) {
    return;
  }
  limit = now >= s->deadline ? s->dg_gen : UINT64_MAX;
  target = (uint64_t)((double)(now - s->t0) / 1e9 * (double)s->rate) + 1;
  target = target < limit ? target : limit;
  if (target - s->dg_gen > DG_QUEUE) {
    target = s->dg_gen + DG_QUEUE;
  }
  while (s->dg_gen < target) {
    int rv;
    put_be64(g_buf, s->dg_gen);
    put_be64(g_buf + 8, now);
    rv = rudp_msg_send(R.ms, (unsigned)s->msg - 1, g_buf, s->len, 0);
    if (rv == RUDP_ERR_WOULDBLOCK) {
      break; /* channel_writable, or the next tick, sends it */
    }
    if (rv != 0) {
      fail("message", "%s", rudp_strerror(rv));
      s->failed = 1;
      perf_pace(0);
      rudp_conn_abort(R.conn, 1, "message", now);
      return;
    }
    ++s->dg_gen;
    side_count(s, 0, s->len);
  }
  if (now >= s->deadline && s->dg_gen >= limit) {
    s->fin[0] = 1;
    s->t_fin = now;
    perf_pace(0);
    snprintf(line, sizeof(line), "msgend %" PRIu64 "\n", s->dg_gen);
    perf_ctl_write(line, 0);
    if (R.conn) {
      R.ctl_fin_sent = 1;
      perf_ctl_write("done\n", 0);
    }
  }
}

static void perf_pump(void) {
  rudp_tstamp now = rudp_event_now();
  int i, progress = 1;
  if (!R.me.started || !R.me.sender || !R.conn) {
    return;
  }
  if (R.me.msg) {
    perf_msg_pump(now);
    return;
  }
  if (R.me.datagram) {
    perf_dg_pump(now);
    return;
  }
  while (progress) {
    progress = 0;
    for (i = 0; i < R.nsid; ++i) {
      size_t take;
      int end;
      rudp_ssize n;
      if (R.me.fin[i]) {
        continue;
      }
      take = side_take(&R.me, i, now, &end);
      if (end) {
        if (rudp_conn_stream_shutdown(R.conn, R.sid[i]) == 0) {
          R.me.fin[i] = 1;
        }
        continue;
      }
      if (take == 0) {
        continue; /* paced: the next tick */
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

/* perf_start_sending starts the sender's role: streams, or paced
 * datagrams. */
static void perf_start_sending(void) {
  if (R.me.msg) {
    return; /* on the server's "ready" */
  }
  if (R.me.datagram) {
    perf_pace(1);
    perf_dg_pump(rudp_event_now());
    return;
  }
  while (R.nsid < R.me.streams &&
         rudp_conn_open_stream(R.conn, 0, &R.sid[R.nsid]) == 0) {
    ++R.nsid;
  }
  perf_pump();
}

/* perf_dg_received is the receiver's accounting of one datagram: loss
 * from the numbers, RFC 3550 jitter from the transit times (the clocks'
 * offset cancels out). */
static void perf_dg_received(const uint8_t *data, size_t len, rudp_tstamp now) {
  uint64_t seq;
  double transit, d;
  if (len < DG_HDR) {
    return;
  }
  seq = get_be64(data);
  transit = (double)now - (double)get_be64(data + 8);
  if (D.have_transit) {
    d = transit > D.transit ? transit - D.transit : D.transit - transit;
    D.jitter += (d - D.jitter) / 16;
  }
  D.transit = transit;
  D.have_transit = 1;
  if (seq >= D.next) {
    D.next = seq + 1;
  } else {
    ++D.ooo;
  }
  ++D.recv;
  ++D.irecv;
  D.last = now;
}

static void perf_client_maybe_done(void);

/* perf_dg_check ends a datagram receiver's role once every datagram
 * counted in "dgend" arrived, or DG_GRACE + 2 RTT after "dgend". */
static void perf_dg_check(rudp_tstamp now) {
  perf_side *s = &R.me;
  if (!s->started || s->sender || !s->datagram || s->fin[0] || !D.have_expect) {
    return;
  }
  if (D.recv < D.expect &&
      now < D.expect_at + DG_GRACE + 2 * (rudp_tstamp)s->srtt_now) {
    return;
  }
  s->fin[0] = 1;
  s->dg_recv = D.recv;
  s->dg_ooo = D.ooo;
  s->dg_jitter_ns = D.jitter;
  s->dg_gen = D.expect;
  perf_server_maybe_end();
  perf_client_maybe_done();
}

static void perf_drain(rudp_conn *conn, int64_t sid, int i);

/* dg_rx_time ends a datagram receiver's time at the last arrival, not
 * after the wait for stragglers. */
static void dg_rx_time(perf_side *s) {
  if (s->datagram && !s->sender && D.last > s->t0 && D.last < s->t_end) {
    s->t_end = D.last;
  }
}

/* perf_server_maybe_end answers "done" once the server's role is over. */
static void perf_server_maybe_end(void) {
  char line[256];
  rudp_tstamp now = rudp_event_now();
  int i;
  if (!O.server || !R.me.started || R.ctl_fin_sent || !R.me.peer_done) {
    return;
  }
  if (!R.me.sender && !side_all_fin(&R.me)) {
    return;
  }
  perf_sample();
  side_finish(&R.me, now);
  dg_rx_time(&R.me);
  for (i = 0; R.me.plot && i < R.me.smp.n && R.conn; ++i) {
    format_sample(&R.me.smp, i, line, sizeof(line));
    perf_ctl_write(line, 0);
  }
  if (!R.conn) {
    return;
  }
  format_end(&R.me, line, sizeof(line));
  R.ctl_fin_sent = 1;
  perf_ctl_write(line, 1);
}

static void perf_client_maybe_done(void) {
  if (!O.server && !R.me.sender && R.me.started && side_all_fin(&R.me) &&
      (R.me.datagram || R.nsid == R.me.streams) && !R.ctl_fin_sent) {
    rudp_tstamp now = rudp_event_now();
    R.ctl_fin_sent = 1;
    perf_sample();
    side_finish(&R.me, now);
    dg_rx_time(&R.me);
    perf_ctl_write("done\n", 0);
  }
}

static void perf_ctl_input(const char *line) {
  rudp_tstamp now = rudp_event_now();
  if (O.server && !R.me.started) {
    perf_params p;
    if (parse_params(line, &p) != 0) {
      fail("control stream", "bad parameters from the client");
      rudp_conn_abort(R.conn, 2, "bad parameters", now);
      return;
    }
    side_start(&R.me, p.reverse, &p, now);
    R.give_up = give_up_at(now, p.secs);
    if (p.msg) {
      /* The uni streams seen so far are the session's: it reads them. */
      int rv;
      R.nsid = 0;
      msg_reset();
      rv = perf_msg_session();
      if (rv != 0) {
        fail("message session", "%s", rudp_strerror(rv));
        rudp_conn_abort(R.conn, 2, "message session", now);
        return;
      }
      perf_ctl_write("ready\n", 0);
    } else if (p.reverse) {
      perf_start_sending();
    } else if (p.datagram) {
      /* Datagrams that overtook the parameters. */
      side_count(&R.me, 0, D.early);
      D.early = 0;
    } else {
      int i;
      for (i = 0; i < R.nsid && R.conn; ++i) {
        perf_drain(R.conn, R.sid[i], i);
      }
    }
  } else if (O.server && strcmp(line, "done") == 0) {
    R.me.peer_done = 1;
    perf_server_maybe_end();
  } else if (!O.server && strcmp(line, "ready") == 0 && R.me.msg) {
    /* Time runs from here: the server's session exists. */
    R.msg_ready = 1;
    R.me.t0 = R.me.last_report = now;
    R.me.deadline = now + (rudp_tstamp)R.me.secs * RUDP_SECONDS;
    R.me.next_report = now + (rudp_tstamp)O.interval_ms * RUDP_MILLISECONDS;
    perf_pace(1);
    perf_msg_pump(now);
  } else if (O.server && strncmp(line, "msgend ", 7) == 0) {
    if (sscanf(line + 7, "%" SCNu64, &M.expect) == 1) {
      M.have_expect = 1;
      M.expect_at = now;
      perf_msg_check(now);
    }
  } else if (strncmp(line, "dgend ", 6) == 0) {
    if (sscanf(line + 6, "%" SCNu64, &D.expect) == 1) {
      D.have_expect = 1;
      D.expect_at = now;
      perf_dg_check(now);
    }
  } else if (!O.server && strncmp(line, "s ", 2) == 0) {
    parse_sample(line, &R.peer.smp);
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
  if ((sid & 2) && R.ms) {
    return rudp_msg_session_handle_stream_readable(R.ms, sid) != 0
               ? RUDP_ERR_CALLBACK_FAILURE
               : 0;
  }
  if (sid == R.ctl_sid) {
    /* Read until the stream is empty: --plot samples may be more than the
     * buffer holds, and no new data means no new callback. */
    do {
      n = 0;
      if (R.ctl.len < sizeof(R.ctl.data)) {
        n = rudp_conn_stream_read(conn, sid, (uint8_t *)R.ctl.data + R.ctl.len,
                                  sizeof(R.ctl.data) - R.ctl.len, &fin);
        if (n > 0) {
          R.ctl.len += (size_t)n;
        }
      }
      while (ctl_line(&R.ctl, line, sizeof(line))) {
        perf_ctl_input(line);
      }
    } while (n > 0 && R.conn == conn);
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
  size_t len = R.me.len ? R.me.len : CHUNK;
  rudp_ssize n;
  for (;;) {
    n = rudp_conn_stream_read(conn, sid, g_buf, len, &fin);
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

static int on_datagram(rudp_conn *conn, const uint8_t *data, size_t len,
                       void *ud) {
  rudp_tstamp now = rudp_event_now();
  (void)ud;
  if (is_mine(conn) && R.ms) {
    return rudp_msg_session_handle_datagram(R.ms, data, len) != 0
               ? RUDP_ERR_CALLBACK_FAILURE
               : 0;
  }
  if (!is_mine(conn) || (R.me.started && (R.me.sender || !R.me.datagram))) {
    return 0;
  }
  perf_dg_received(data, len, now);
  if (R.me.started) {
    side_count(&R.me, 0, len);
    perf_dg_check(now);
  } else {
    D.early += len;
  }
  return 0;
}

static int on_reset(rudp_conn *conn, int64_t sid, uint64_t code, void *ud) {
  (void)ud;
  if (conn == R.conn && R.ms && (sid & 2)) {
    return rudp_msg_session_handle_stream_reset(R.ms, sid, code) != 0
               ? RUDP_ERR_CALLBACK_FAILURE
               : 0;
  }
  return 0;
}

/* on_released: only the message session writes referenced data; its
 * buffers come back here even after the session is gone. */
static void on_released(rudp_conn *conn, int64_t sid, const uint8_t *data,
                        size_t len, void *ref, void *ud) {
  (void)conn;
  (void)sid;
  (void)ud;
  rudp_msg_handle_stream_data_released(data, len, ref);
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

/* g_more: the test being run is the RUDP half of --compare. */
static int g_more;

static int on_streams_available(rudp_conn *conn, int bidi, void *ud) {
  char params[160];
  perf_params p;
  (void)ud;
  if (conn != R.conn) {
    return 0;
  }
  if (R.ms && !bidi && rudp_msg_session_handle_streams_available(R.ms) != 0) {
    return RUDP_ERR_CALLBACK_FAILURE;
  }
  if (!O.server && bidi && R.ctl_sid < 0) {
    rudp_tstamp now = rudp_event_now();
    if (rudp_conn_open_stream(conn, 1, &R.ctl_sid) != 0) {
      fail("control stream", "cannot open it");
      rudp_conn_abort(conn, 1, "no stream", now);
      return 0;
    }
    client_params(&p, g_more);
    format_params(&p, params, sizeof(params));
    perf_ctl_write(params, 0);
    side_start(&R.me, !O.reverse, &p, now);
    memset(&R.peer, 0, sizeof(R.peer));
    R.give_up = give_up_at(now, O.secs);
    if (R.me.sender) {
      perf_start_sending();
    }
    return 0;
  }
  if (!bidi && R.me.started && R.me.sender && !R.me.datagram) {
    perf_start_sending();
  }
  return 0;
}

/* g_tcp_lfd is the RUDP server's TCP listener (-1: none). */
static int g_tcp_lfd = -1;

static void on_closed(rudp_conn *conn, int error, void *ud) {
  (void)ud;
  if (conn != R.conn) {
    return;
  }
  R.closed = 1;
  R.close_err = error;
  if (error) {
    rudp_conn_close_info ci;
    rudp_conn_get_close_info(conn, &ci);
    snprintf(R.close_reason, sizeof(R.close_reason), "%s", ci.reason);
  }
  /* The session goes before its connection. */
  rudp_msg_session_del(R.ms);
  R.ms = NULL;
  R.msg_ready = 0;
  R.conn = NULL;
  perf_pace(0);
  if (!O.server) {
    event_base_loopbreak(R.base);
  } else {
    /* -1 exits after this test unless it completed and said the TCP half
     * of --compare follows. */
    int more = R.me.more && R.ctl_fin_sent && error == 0;
    if (error != 0 && !R.ctl_fin_sent) {
      fail("test", "connection closed: %s", rudp_strerror(error));
    }
    if (O.one_off && !more) {
      event_base_loopbreak(R.base);
    }
    memset(&R.me, 0, sizeof(R.me));
    memset(&D, 0, sizeof(D));
    msg_reset();
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
  perf_dg_check(now);
  perf_msg_check(now);
  if (R.ms && R.conn) {
    rudp_msg_session_handle_expiry(R.ms, now);
  }
  if (R.give_up && now > R.give_up && R.conn) {
    fail("test", "timed out");
    R.me.failed = 1;
    rudp_conn_abort(R.conn, 4, "timed out", now);
    R.give_up = 0;
  }
}

static void on_pace(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  if (R.me.msg) {
    perf_msg_pump(rudp_event_now());
  } else {
    perf_dg_pump(rudp_event_now());
  }
}

static void perf_callbacks(rudp_callbacks *cb) {
  memset(cb, 0, sizeof(*cb));
  cb->stream_opened = on_stream_opened;
  cb->stream_readable = on_readable;
  cb->stream_writable = on_writable;
  cb->datagram_received = on_datagram;
  cb->streams_available = on_streams_available;
  cb->stream_reset = on_reset;
  cb->stream_data_released = on_released;
  cb->closed = on_closed;
}

static int resolve(const char *host, uint16_t port, int socktype,
                   struct sockaddr_storage *ss, socklen_t *len) {
  struct addrinfo hints, *ai;
  char serv[8];
  int rv;
  if (!host) {
    /* A server listens on [::], dual-stack: IPv4 clients arrive as
     * v4-mapped addresses (the sockets turn IPV6_V6ONLY off). */
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    int probe = socket(AF_INET6, socktype, 0);
    if (probe >= 0) {
      close(probe);
      memset(ss, 0, sizeof(*ss));
      sin6->sin6_family = AF_INET6;
      sin6->sin6_addr = in6addr_any;
      sin6->sin6_port = htons(port);
      *len = sizeof(*sin6);
      return 0;
    }
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
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
  c->tx_udp_payload_size = TX_PAYLOAD;
  c->initial_max_data = 32u << 20;
  c->initial_max_stream_data = 16u << 20;
  c->max_window = 32u << 20;
  c->max_stream_window = 32u << 20;
  c->max_stream_send_buffer = 8u << 20;
  /* Every parallel stream keeps its 8 MiB: the connection's bound (16 MiB
   * by default) would otherwise cap -P 3 and up below that. */
  c->max_send_buffer = (uint64_t)MAX_STREAMS * c->max_stream_send_buffer;
  c->max_streams_uni = MAX_STREAMS;
  /* --datagram: accept a whole packet's worth, queue a pacing burst. */
  c->max_datagram_frame_size = TX_PAYLOAD;
  c->datagram_queue_len = DG_QUEUE;
  c->cc_algo = O.cc;
  if (O.low_latency) {
    /* --messages measures latency: no ACK delay, fast retransmit after
     * two later packets (docs/PRIORITIES.md). */
    rudp_settings_low_latency(c);
  }
  c->tls = O.tls_ctx;
  c->tls_server_name = O.host;
}

static int tcp_listen(void);
static void on_tcp_accept(evutil_socket_t fd, short what, void *arg);

static int run_rudp(void) {
  rudp_endpoint_callbacks epcb = {NULL, on_accept_ready, NULL};
  rudp_event_settings st;
  rudp_callbacks cb;
  struct sockaddr_storage ss, bind_ss;
  socklen_t len, bind_len;
  struct timeval tv = {0, TICK_US};
  struct event *tick, *tcp_ev = NULL;
  int rv, ok = 0;

  memset(&R, 0, sizeof(R));
  memset(&D, 0, sizeof(D));
  R.ctl_sid = -1;
  if (resolve(O.server ? NULL : O.host, O.port, SOCK_DGRAM, &ss, &len) != 0) {
    return 1;
  }
  {
    /* Precise timers (timerfd): librudp's loss and pacing timers are
     * sub-millisecond; epoll's millisecond timeout would round them up. */
    struct event_config *cfg = event_config_new();
    if (cfg) {
      event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
      R.base = event_base_new_with_config(cfg);
      event_config_free(cfg);
    }
  }
  if (!R.base) {
    fail("event_base_new", "failed");
    return 1;
  }
  perf_settings(&st, O.server);
  perf_callbacks(&cb);
  if (O.server) {
    bind_ss = ss;
    bind_len = len;
  } else {
    memset(&bind_ss, 0, sizeof(bind_ss));
    bind_ss.ss_family = ss.ss_family;
    bind_len = len;
  }
  rv = rudp_event_endpoint_new(&R.ev, R.base, (struct sockaddr *)&bind_ss,
                               bind_len, &st, &epcb, &cb, NULL);
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
  R.pace = event_new(R.base, -1, EV_PERSIST, on_pace, NULL);
  if (!tick || !R.pace || event_add(tick, &tv) != 0) {
    fail("event_new", "failed");
    if (tick) {
      event_free(tick);
    }
    if (R.pace) {
      event_free(R.pace);
    }
    rudp_event_endpoint_free(R.ev);
    event_base_free(R.base);
    return 1;
  }
  if (O.server) {
    printf("Server listening on %u (RUDP)\n", (unsigned)O.port);
    /* The TCP port of the same number serves --tcp and --compare clients;
     * without it the server still serves RUDP. */
    g_tcp_lfd = tcp_listen();
    if (g_tcp_lfd >= 0) {
      tcp_ev = event_new(R.base, g_tcp_lfd, EV_READ | EV_PERSIST, on_tcp_accept,
                         NULL);
      if (!tcp_ev || event_add(tcp_ev, NULL) != 0) {
        fail("event_new", "failed");
        ok = -1;
      } else {
        printf("Server listening on %u (TCP)\n", (unsigned)O.port);
      }
    }
    fflush(stdout);
    if (ok == 0) {
      event_base_dispatch(R.base);
      ok = 1;
    } else {
      ok = 0;
    }
  } else {
    rv = rudp_event_connect(R.ev, (struct sockaddr *)&ss, len, NULL, NULL,
                            &R.conn);
    if (rv == 0 && O.messages && (rv = perf_msg_session()) != 0) {
      rudp_conn_abort(R.conn, 1, "message session", rudp_event_now());
    }
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
          fail("test", "%s%s%s",
               R.closed ? rudp_strerror(R.close_err) : "no result",
               R.closed && R.close_reason[0] ? ": " : "", R.close_reason);
        }
      } else {
        keep_result(0, &R.me, &R.peer);
        if (!(O.compare && O.json)) {
          summary(&R.me, &R.peer, 0);
        }
        ok = 1;
      }
    }
  }
  if (tcp_ev) {
    event_free(tcp_ev);
  }
  if (g_tcp_lfd >= 0) {
    close(g_tcp_lfd);
    g_tcp_lfd = -1;
  }
  event_free(R.pace);
  event_free(tick);
  /* A session whose connection never reported closed goes before it. */
  rudp_msg_session_del(R.ms);
  R.ms = NULL;
  rudp_event_endpoint_free(R.ev);
  event_base_free(R.base);
  return ok ? 0 : 1;
}

/* ------------------------------------------------------------ tcp */

typedef struct tperf {
  int ctl, data[MAX_STREAMS], n;
  ctl_buf cbuf;
  perf_side me, peer;
  /* --messages over TCP: framed bytes not yet sent / not yet parsed */
  size_t tx_len, rx_len;
} tperf;

static tperf T;
/* --messages over TCP: each message is framed by a 4-byte big-endian
 * length; a buffer holds at least one whole frame. */
static uint8_t g_tx[2 * MAX_LEN + 8], g_rx[2 * MAX_LEN + 8];

/* tcp_msg_fill frames the messages due by now into g_tx (the sender) and
 * ends the connection once the time is up and all is written. */
static void tcp_msg_fill(rudp_tstamp now) {
  perf_side *s = &T.me;
  uint64_t target;
  if (now >= s->deadline) {
    if (T.tx_len == 0 && !s->fin[0]) {
      shutdown(T.data[0], SHUT_WR);
      s->fin[0] = 1;
      s->t_fin = now;
    }
    return;
  }
  target = (uint64_t)((double)(now - s->t0) / 1e9 * (double)s->rate) + 1;
  while (s->dg_gen < target && T.tx_len + 4 + s->len <= sizeof(g_tx)) {
    uint8_t *f = g_tx + T.tx_len;
    f[0] = (uint8_t)(s->len >> 24);
    f[1] = (uint8_t)(s->len >> 16);
    f[2] = (uint8_t)(s->len >> 8);
    f[3] = (uint8_t)s->len;
    memcpy(f + 4 + MSG_HDR, g_buf, s->len - MSG_HDR);
    put_be64(f + 4, s->dg_gen);
    put_be64(f + 12, now);
    T.tx_len += 4 + s->len;
    ++s->dg_gen;
  }
}

/* tcp_msg_send writes what g_tx holds; returns -1 on a socket error. */
static int tcp_msg_send(void) {
  ssize_t n;
  if (T.tx_len == 0) {
    return 0;
  }
  n = send(T.data[0], g_tx, T.tx_len, MSG_NOSIGNAL);
  if (n < 0) {
    return errno == EAGAIN || errno == EINTR ? 0 : -1;
  }
  side_count(&T.me, 0, (uint64_t)n);
  memmove(g_tx, g_tx + n, T.tx_len - (size_t)n);
  T.tx_len -= (size_t)n;
  return 0;
}

/* tcp_msg_recv reads and parses frames (the receiver); returns -1 on an
 * error, sets fin at the end of the stream. */
static int tcp_msg_recv(rudp_tstamp now) {
  ssize_t n = recv(T.data[0], g_rx + T.rx_len, sizeof(g_rx) - T.rx_len, 0);
  size_t off = 0;
  if (n == 0) {
    T.me.fin[0] = 1;
    return 0;
  }
  if (n < 0) {
    return errno == EAGAIN || errno == EINTR ? 0 : -1;
  }
  side_count(&T.me, 0, (uint64_t)n);
  T.rx_len += (size_t)n;
  while (T.rx_len - off >= 4) {
    const uint8_t *f = g_rx + off;
    size_t len =
        (size_t)f[0] << 24 | (size_t)f[1] << 16 | (size_t)f[2] << 8 | f[3];
    if (len > MAX_LEN) {
      errno = EPROTO;
      return -1;
    }
    if (T.rx_len - off < 4 + len) {
      break;
    }
    msg_record(f + 4, len, now);
    off += 4 + len;
  }
  memmove(g_rx, g_rx + off, T.rx_len - off);
  T.rx_len -= off;
  return 0;
}

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
    /* tcpi_rtt is the kernel's smoothed RTT: both the sample and the
     * --plot value. */
    side_sample(&T.me, rtt, cwnd, retr, pkts, rtt);
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
      int fd = T.me.fin[i] ? -1 : T.data[i];
      if (fd >= 0 && T.me.sender && T.me.msg) {
        tcp_msg_fill(now);
        if (T.me.fin[i] || T.tx_len == 0) {
          fd = -1; /* nothing due: poll wakes up within PACE_US */
        }
      } else if (fd >= 0 && T.me.sender) {
        int end;
        size_t take = side_take(&T.me, i, now, &end);
        if (end) {
          shutdown(T.data[i], SHUT_WR);
          T.me.fin[i] = 1;
          fd = -1;
        } else if (take == 0) {
          fd = -1; /* paced (-b): poll wakes up at the next tick */
        }
      }
      pf[i].fd = fd;
      pf[i].events = T.me.sender ? POLLOUT : POLLIN;
      pf[i].revents = 0;
    }
    pf[T.n].fd = T.ctl;
    pf[T.n].events = POLLIN;
    pf[T.n].revents = 0;
    np = poll(pf, (nfds_t)T.n + 1, (T.me.msg ? PACE_US : TICK_US) / 1000);
    if (np < 0 && errno != EINTR) {
      fail("poll", "%s", strerror(errno));
      return -1;
    }
    now = rudp_event_now();
    for (i = 0; i < T.n; ++i) {
      if (T.me.fin[i] || pf[i].fd < 0 || !pf[i].revents) {
        continue;
      }
      if (T.me.msg) {
        if ((T.me.sender ? tcp_msg_send() : tcp_msg_recv(now)) != 0) {
          fail("data connection", "%s", strerror(errno));
          return -1;
        }
      } else if (T.me.sender) {
        int end;
        size_t take = side_take(&T.me, i, now, &end);
        ssize_t n;
        if (take == 0) {
          continue; /* ended or paced: the next round */
        }
        n = send(T.data[i], g_buf, take, MSG_NOSIGNAL);
        if (n > 0) {
          side_count(&T.me, i, (uint64_t)n);
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          fail("data connection", "send: %s", strerror(errno));
          return -1;
        }
      } else {
        ssize_t n = recv(T.data[i], g_buf, T.me.len, 0);
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
      } else if (!O.server && strncmp(line, "s ", 2) == 0) {
        parse_sample(line, &T.peer.smp);
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
      if (T.me.msg) {
        msg_stats(&T.me);
      }
      side_finish(&T.me, now);
      for (i = 0; T.me.plot && i < T.me.smp.n; ++i) {
        format_sample(&T.me.smp, i, line, sizeof(line));
        if (tcp_write_all(T.ctl, line) != 0) {
          fail("control connection", "send: %s", strerror(errno));
          return -1;
        }
      }
      format_end(&T.me, line, sizeof(line));
      if (tcp_write_all(T.ctl, line) != 0) {
        fail("control connection", "send: %s", strerror(errno));
        return -1;
      }
      return 0;
    }
  }
}

static int tcp_socket_opts(int fd, int nodelay) {
  /* Nagle stays on (TCP_NODELAY off) for plain bulk send/recv; --messages
   * turns it off, as a latency-sensitive application would. */
  return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay));
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

/* tcp_accept waits up to |ms| (-1: no limit) for a connection on the
 * (non-blocking) listener. */
static int tcp_accept(int lfd, int ms) {
  for (;;) {
    struct pollfd p = {lfd, POLLIN, 0};
    int fd, rv = poll(&p, 1, ms);
    if (rv == 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    if (rv < 0 && errno != EINTR) {
      return -1;
    }
    fd = accept(lfd, NULL, NULL);
    if (fd >= 0 ||
        (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)) {
      return fd;
    }
  }
}

/* tcp_listen opens the server's non-blocking TCP listener; returns it or
 * -1 (reported). */
static int tcp_listen(void) {
  struct sockaddr_storage ss;
  socklen_t len;
  int lfd, one = 1;
  if (resolve(NULL, O.port, SOCK_STREAM, &ss, &len) != 0) {
    return -1;
  }
  lfd = socket(ss.ss_family, SOCK_STREAM, 0);
  if (lfd >= 0 && ss.ss_family == AF_INET6) {
    int off = 0;
    (void)setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  }
  if (lfd < 0 ||
      setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(lfd, (struct sockaddr *)&ss, len) != 0 || listen(lfd, 16) != 0 ||
      set_nonblock(lfd) != 0) {
    fail("listen", "TCP port %u: %s", (unsigned)O.port, strerror(errno));
    if (lfd >= 0) {
      close(lfd);
    }
    return -1;
  }
  return lfd;
}

/* tcp_serve runs one test whose control connection is |ctl|; *more tells
 * whether it completed and the client said a second test follows.
 * Returns 0 or -1. */
static int tcp_serve(int lfd, int ctl, int *more) {
  perf_params p;
  char line[512];
  int ok = 1;
  memset(&T, 0, sizeof(T));
  T.ctl = ctl;
  *more = 0;
  if (tcp_read_line(T.ctl, line, sizeof(line)) != 0 ||
      parse_params(line, &p) != 0 || p.datagram) {
    fail("control connection", "no valid parameters from the client");
    ok = 0;
  }
  while (ok && T.n < p.streams) {
    int fd = tcp_accept(lfd, 10000);
    if (fd < 0) {
      fail("accept", "data connection: %s", strerror(errno));
      ok = 0;
      break;
    }
    T.data[T.n++] = fd;
    tcp_socket_opts(fd, p.msg != 0);
    set_nonblock(fd);
  }
  if (ok) {
    set_nonblock(T.ctl);
    msg_reset();
    side_start(&T.me, p.reverse, &p, rudp_event_now());
    ok = tcp_loop() == 0;
  }
  tcp_close_all();
  *more = ok && p.more;
  return ok ? 0 : -1;
}

/* on_tcp_accept serves a TCP test from inside the RUDP server's loop (one
 * test at a time: a TCP client is turned away while a RUDP test runs). */
static void on_tcp_accept(evutil_socket_t fd, short what, void *arg) {
  int ctl, more;
  (void)fd;
  (void)what;
  (void)arg;
  ctl = accept(g_tcp_lfd, NULL, NULL);
  if (ctl < 0) {
    return;
  }
  if (R.conn && !R.ctl_fin_sent) {
    /* Busy: turn away this client's control and data connections. */
    do {
      close(ctl);
    } while ((ctl = accept(g_tcp_lfd, NULL, NULL)) >= 0);
    return;
  }
  if (tcp_serve(g_tcp_lfd, ctl, &more) != 0 || !more) {
    if (O.one_off) {
      event_base_loopbreak(R.base);
    }
  }
}

static int run_tcp_server(void) {
  int lfd = tcp_listen();
  if (lfd < 0) {
    return 1;
  }
  printf("Server listening on %u (TCP)\n", (unsigned)O.port);
  fflush(stdout);
  for (;;) {
    int ok, more, ctl = tcp_accept(lfd, -1);
    if (ctl < 0) {
      fail("accept", "%s", strerror(errno));
      break;
    }
    ok = tcp_serve(lfd, ctl, &more) == 0;
    if (O.one_off && !more) {
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
  tcp_socket_opts(fd, O.messages != 0);
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
  char params[160];
  perf_params p;
  int ok;

  memset(&T, 0, sizeof(T));
  T.ctl = -1;
  if (resolve(O.host, O.port, SOCK_STREAM, &ss, &len) != 0) {
    return 1;
  }
  T.ctl = tcp_connect(&ss, len);
  if (T.ctl < 0) {
    fail("connect", "%s", strerror(errno));
    return 1;
  }
  client_params(&p, 0);
  format_params(&p, params, sizeof(params));
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
  side_start(&T.me, !O.reverse, &p, rudp_event_now());
  ok = tcp_loop() == 0;
  tcp_close_all();
  if (ok) {
    keep_result(1, &T.me, &T.peer);
    if (!(O.compare && O.json)) {
      summary(&T.me, &T.peer, 1);
    }
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
             "  -l, --length LEN[KM]  bytes per write/read (default 64K, 1 "
             "to 1M);\n"
             "                        --datagram: datagram size (default "
             "1400, 16 to 1400)\n"
             "  -b, --bitrate RATE    pace each stream to RATE bits/s "
             "(k, M, G: 1000s);\n"
             "                        --datagram: default 1M\n"
             "  -J, --json            print the result as JSON (client)\n"
             "      --datagram        send unreliable RUDP datagrams at -b "
             "RATE; report\n"
             "                        loss, jitter and reordering (like "
             "iperf3 -u)\n"
             "      --messages RATE   send -l byte messages (default 200) at "
             "RATE per second\n"
             "                        (1 to 1000000) on a message channel; "
             "the server\n"
             "                        reports one-way latency (one host: "
             "CLOCK_MONOTONIC)\n"
             "      --mode MODE       --messages channel mode: ordered "
             "(default),\n"
             "                        unordered, unreliable or sequenced\n"
             "      --low-latency     use rudp_settings_low_latency (the "
             "default of\n"
             "                        --messages; a server needs it for its "
             "ACKs)\n"
             "      --no-low-latency  keep the default settings with "
             "--messages\n"
             "      --compare         run the test over RUDP, then over TCP; "
             "print both\n"
             "      --plot FILE       write an SVG of throughput, cwnd and "
             "RTT over time\n"
             "      --tcp             test kernel TCP instead of RUDP\n"
             "      --cc reno|cubic   congestion control (RUDP; default "
             "cubic)\n"
             "      --netem SPEC      impair sent datagrams (RUDP; see "
             "rudp_event.h)\n"
             "  -1, --one-off         server: exit after one test (a "
             "--compare is one)\n"
             "      --tls             use TLS 1.3 (RUDP; both sides)\n"
             "      --cert FILE       server: PEM certificate chain (with "
             "--key); without\n"
             "                        it an ephemeral certificate, "
             "fingerprint printed\n"
             "      --key FILE        server: PEM private key of --cert\n"
             "      --ca FILE         client: trust the CAs in FILE instead "
             "of the system\n"
             "                        store\n"
             "      --pin SHA256      client: accept only the certificate "
             "with this\n"
             "                        SHA-256 fingerprint\n"
             "      --insecure        client: accept any certificate (no "
             "authentication)\n"
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

/* parse_rate parses -b: bits/s, with k, M, G meaning 1000s like iperf3;
 * 1 to RATE_MAX. */
static int parse_rate(const char *s, uint64_t *out) {
  char *end;
  double v, mul = 1;
  if (*s < '0' || *s > '9') {
    return -1;
  }
  errno = 0;
  v = strtod(s, &end);
  if (errno || end == s) {
    return -1;
  }
  switch (*end) {
  case 'k':
  case 'K':
    mul = 1e3;
    ++end;
    break;
  case 'm':
  case 'M':
    mul = 1e6;
    ++end;
    break;
  case 'g':
  case 'G':
    mul = 1e9;
    ++end;
    break;
  default:
    break;
  }
  v *= mul;
  if (*end != '\0' || !(v >= 1 && v <= (double)RATE_MAX)) {
    return -1;
  }
  *out = (uint64_t)v;
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

enum {
  OPT_TCP = 256,
  OPT_CC,
  OPT_NETEM,
  OPT_VERSION,
  OPT_DATAGRAM,
  OPT_COMPARE,
  OPT_PLOT,
  OPT_MESSAGES,
  OPT_MODE,
  OPT_LOW_LATENCY,
  OPT_NO_LOW_LATENCY
};

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
      {"length", required_argument, NULL, 'l'},
      {"bitrate", required_argument, NULL, 'b'},
      {"datagram", no_argument, NULL, OPT_DATAGRAM},
      {"compare", no_argument, NULL, OPT_COMPARE},
      {"plot", required_argument, NULL, OPT_PLOT},
      {"messages", required_argument, NULL, OPT_MESSAGES},
      {"mode", required_argument, NULL, OPT_MODE},
      {"low-latency", no_argument, NULL, OPT_LOW_LATENCY},
      {"no-low-latency", no_argument, NULL, OPT_NO_LOW_LATENCY},
      {"one-off", no_argument, NULL, '1'},
      {"help", no_argument, NULL, 'h'},
      {"tcp", no_argument, NULL, OPT_TCP},
      {"cc", required_argument, NULL, OPT_CC},
      {"netem", required_argument, NULL, OPT_NETEM},
      {"version", no_argument, NULL, OPT_VERSION},
      TOOL_TLS_LONGOPTS,
      {NULL, 0, NULL, 0}};
  unsigned long v;
  uint64_t len = 0;
  int c, rc, time_set = 0, mode = -1;
  unsigned long msg_rate = 0;

  O.port = 5300;
  O.secs = 10;
  O.streams = 1;
  O.interval_ms = 1000;
  O.cc = RUDP_CC_CUBIC;
  O.low_latency = -1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":sc:p:t:n:P:Ri:J1hl:b:", longopts,
                          NULL)) != -1) {
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
    case 'l':
      if (parse_size(optarg, &len) != 0) {
        return bad("-l: bad length", optarg);
      }
      break;
    case 'b':
      if (parse_rate(optarg, &O.rate) != 0) {
        return bad("-b: bad bitrate (1 to 100G bits/s)", optarg);
      }
      break;
    case OPT_DATAGRAM:
      O.datagram = 1;
      break;
    case OPT_COMPARE:
      O.compare = 1;
      break;
    case OPT_PLOT:
      if (*optarg == '\0') {
        return bad("--plot: no file name", NULL);
      }
      O.plot = optarg;
      break;
    case '1':
      O.one_off = 1;
      break;
    case OPT_MESSAGES:
      if (parse_uint(optarg, MSG_RATE_MAX, &msg_rate) != 0 || msg_rate == 0) {
        return bad("--messages: bad rate (1 to 1000000 messages/s)", optarg);
      }
      break;
    case OPT_MODE:
      for (mode = 0; mode < MSG_NCHAN; ++mode) {
        if (strcmp(optarg, MSG_MODES[mode]) == 0) {
          break;
        }
      }
      if (mode == MSG_NCHAN) {
        return bad("--mode: expected ordered, unordered, unreliable or "
                   "sequenced",
                   optarg);
      }
      break;
    case OPT_LOW_LATENCY:
      O.low_latency = 1;
      break;
    case OPT_NO_LOW_LATENCY:
      O.low_latency = 0;
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
    case OPT_VERSION:
      printf("rudp-perf " PERF_VERSION " (librudp %s)\n", rudp_version());
      return 0;
    case ':':
      fprintf(stderr, "rudp-perf: option requires an argument: %s\n",
              argv[optind - 1]);
      usage(stderr);
      return 2;
    default:
      if (tool_tls_opt(&O.tls, c, optarg)) {
        break;
      }
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
  if (O.server && (len || O.rate || O.datagram || O.compare || O.plot)) {
    return bad("-l, -b, --datagram, --compare and --plot are client options",
               NULL);
  }
  if (O.server && (msg_rate || mode >= 0)) {
    return bad("--messages and --mode are client options", NULL);
  }
  if (mode >= 0 && !msg_rate) {
    return bad("--mode needs --messages", NULL);
  }
  if (msg_rate) {
    size_t max = mode >= 2 && !O.tcp ? MSG_UNREL_MAX : MAX_LEN;
    if (O.datagram || O.compare || O.reverse || O.streams != 1 || O.bytes ||
        O.rate || O.plot) {
      return bad("--messages excludes --datagram, --compare, -R, -P, -n, -b "
                 "and --plot",
                 NULL);
    }
    if (len && (len < MSG_HDR || len > max)) {
      char why[80];
      snprintf(why, sizeof(why), "-l: %s message length is %d to %zu bytes",
               mode >= 2 && !O.tcp ? "unreliable" : "a", MSG_HDR, max);
      return bad(why, NULL);
    }
    O.messages = (mode >= 0 ? mode : 0) + 1;
    O.rate = msg_rate;
    if (!len) {
      len = MSG_DEFAULT;
    }
  }
  if (O.low_latency < 0) {
    O.low_latency = O.messages && !O.tcp;
  }
  if (O.compare && O.tcp) {
    return bad("--compare runs both RUDP and TCP: drop --tcp", NULL);
  }
  if (O.datagram && (O.tcp || O.compare)) {
    return bad("--datagram is RUDP only (not with --tcp or --compare)", NULL);
  }
  if (O.datagram && O.streams != 1) {
    return bad("--datagram takes one stream (no -P)", NULL);
  }
  if (O.datagram && len && (len < DG_HDR || len > DG_MAX)) {
    char why[64];
    snprintf(why, sizeof(why), "-l: datagram length is %d to %d bytes", DG_HDR,
             DG_MAX);
    return bad(why, NULL);
  }
  if (!O.datagram && len > MAX_LEN) {
    return bad("-l: length is 1 to 1M bytes", NULL);
  }
  O.len = len ? (size_t)len : O.datagram ? DG_DEFAULT : CHUNK;
  if (O.datagram && !O.rate) {
    O.rate = RATE_DEFAULT;
  }
  if (O.bytes) {
    /* The time then only bounds the wait (see GRACE). */
    O.secs = 0;
  }
  if (O.tls.tls && O.tcp) {
    return bad("--tls applies to RUDP, not --tcp", NULL);
  }
  if ((rc = tool_tls_check("rudp-perf", &O.tls, O.server)) != 0) {
    return rc;
  }
  if (O.tcp && O.low_latency) {
    return bad("--low-latency applies to RUDP, not --tcp", NULL);
  }
  if (O.plot && plot_dir_check(O.plot) != 0) {
    return 1;
  }
  if ((rc = tool_tls_ctx("rudp-perf", &O.tls, O.server, "rudp-perf",
                         &O.tls_ctx)) != 0) {
    return rc;
  }
  signal(SIGPIPE, SIG_IGN);
  memset(g_buf, 0xab, sizeof(g_buf));
  if (O.server) {
    rc = O.tcp ? run_tcp_server() : run_rudp();
    rudp_tls_ctx_free(O.tls_ctx);
    return rc;
  }
  if (O.compare) {
    /* The RUDP half says a second test follows (a -1 server waits). */
    g_more = 1;
    rc = run_rudp();
    g_more = 0;
    if (rc == 0) {
      rc = run_tcp_client();
    }
    if (rc == 0) {
      compare_print();
    }
  } else {
    rc = O.tcp ? run_tcp_client() : run_rudp();
  }
  if (rc == 0 && O.plot) {
    rc = plot_results();
  }
  rudp_tls_ctx_free(O.tls_ctx);
  free(M.lat);
  return rc;
}
