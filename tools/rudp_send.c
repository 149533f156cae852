/*
 * rudp-send [options] HOST FILE...: sends files to rudp-recv over one
 * librudp connection, one bidirectional stream per file (docs/TOOLS.md),
 * and exits 0 only when the receiver confirmed every file's SHA-256.
 * --resume continues the receiver's partial copies, --rate caps the data
 * rate, and a progress bar shows on a terminal (or with --progress).
 */
/* Files over 2 GiB on 32-bit systems too (off_t for lseek, pread). */
#define _FILE_OFFSET_BITS 64

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>

#include <rudp/rudp.h>
#include <rudp/rudp_event.h>

#include "common.h"
#include "tls_opts.h"

#define TOOL "rudp-send"
/* Chunk read from the file and handed to the stream at a time. */
#define CHUNK (64 * 1024)
/* The progress bar is redrawn every TICK_US microseconds. */
#define TICK_US 250000
/* Bytes hashed per turn of the event loop (tens of milliseconds). */
#define HASH_SLICE (8u << 20)
/* Characters of the bar's [####----] part. */
#define BAR_WIDTH 20
/* With --rate, a write waits for at least this many tokens (or the rest
 * of the chunk): smaller pieces would only cost more calls. */
#define RATE_PIECE 4096

typedef struct sfile {
  const char *path;
  char name[TOOL_NAME_MAX + 1];
  uint64_t size;
  uint8_t md[TOOL_SHA256_LEN];
  int64_t sid;
  /* opened: the stream exists; have: the data may follow the header (at
   * once, or with --resume once the receiver's HAVE line arrived);
   * written: FIN queued, or the receiver ended the file early; answered:
   * the status line and FIN arrived; ok: the status was "OK". */
  int opened, have, written, answered, ok;
  char status[256];
  size_t statuslen;
} sfile;

typedef struct sender {
  struct event_base *base;
  rudp_conn *conn;
  sfile *files;
  size_t nfiles;
  /* cur is the file being written; fd its descriptor. */
  size_t cur;
  int fd;
  /* hdr holds what precedes the data: the header, then with --resume the
   * 8-byte offset the data starts at. */
  uint8_t hdr[TOOL_HDR_FIXED + TOOL_NAME_MAX];
  size_t hdrlen, hdroff;
  uint8_t buf[CHUNK];
  size_t buflen, bufoff;
  uint64_t fileoff;
  /* total: bytes of all files; sent: file bytes handed to the streams in
   * this run; skipped: bytes the receiver already had (--resume). */
  uint64_t total, sent, skipped;
  int quiet, resume, closed, error, failed;
  /* start: the connection attempt; data_start: the first data written;
   * end: the connection closed. */
  double start, data_start, end;
  rudp_conn_stats stats;
  /* --rate's token bucket over stream writes: rate and burst in bytes
   * per second and bytes, tokens as of tok_t; rate_ev resumes pump once
   * enough tokens have accrued. */
  double rate, burst, tokens, tok_t;
  struct event *rate_ev;
  int rate_armed;
  /* stop_after (RUDP_SEND_STOP_AFTER, a testing aid): after that many
   * file bytes, stop writing, wait until all is acknowledged (stop_ev
   * polls), then abort as on SIGINT. */
  uint64_t stop_after;
  int stopping, idle_polls;
  struct event *stop_ev;
  /* The --resume check of the receiver's prefix: the first check_len
   * bytes of the current file hashed in slices by check_ev (check_off so
   * far), to compare with check_md.  Slices let the loop answer the peer
   * meanwhile: a GiB prefix takes seconds. */
  struct event *check_ev;
  tool_sha256 check_ctx;
  uint64_t check_len, check_off;
  uint8_t check_md[TOOL_SHA256_LEN];
  /* progress: draw the bar; barlen: length of the bar line on screen (0
   * when none is). */
  int progress;
  size_t barlen;
  struct event *tick;
  /* reason: the close reason when the connection failed. */
  char reason[128];
} sender;

static void usage(FILE *f) {
  fprintf(f,
          "usage: " TOOL " [options] [--tls [--ca F | --pin SHA256 | "
          "--insecure]] HOST FILE...\n"
          "Send FILEs to rudp-recv on HOST; exit 0 only when the receiver\n"
          "verified every file's SHA-256.\n"
          "  -p, --port PORT  receiver port (default %u)\n"
          "  --resume         continue the receiver's partial copies\n"
          "  --rate RATE      cap the data rate, bits/s (k, M, G: 10M)\n"
          "  --progress       progress bar even when stderr is no terminal\n"
          "  -q, --quiet      no progress bar (unless --progress), no "
          "summary\n"
          "  --cc reno|cubic  congestion controller (default cubic)\n"
          "  --netem SPEC     impair sent datagrams (see "
          "rudp-send(1))\n" TOOL_TLS_HELP_TLS TOOL_TLS_HELP_CLIENT
          "  -h, --help       show this help\n"
          "  --version        show the version\n",
          TOOL_DEFAULT_PORT);
}

/* clear_bar erases the progress bar so that a message starts on a clean
 * line; the next tick draws it again below the message. */
static void clear_bar(sender *s) {
  if (s->barlen > 0) {
    fprintf(stderr, "\r%*s\r", (int)s->barlen, "");
    s->barlen = 0;
  }
}

/* say prints one "rudp-send: ..." line on stderr. */
static void say(sender *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(sender *s, const char *fmt, ...) {
  va_list ap;

  clear_bar(s);
  fputs(TOOL ": ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static void fail_conn(sender *s, const char *what) {
  if (!s->failed) {
    say(s, "%s", what);
  }
  s->failed = 1;
  rudp_conn_abort(s->conn, 1, what, rudp_event_now());
}

/* fmt_eta writes the remaining time as "ETA m:ss" (h:mm:ss past an
 * hour), or "ETA --:--" while there is no rate to tell. */
static void fmt_eta(char *out, size_t outlen, double left, double rate) {
  double secs;
  uint64_t t;

  if (left <= 0) {
    snprintf(out, outlen, "ETA 0:00");
    return;
  }
  secs = rate > 0 ? left / rate : -1;
  if (secs < 0 || secs > 359999) {
    snprintf(out, outlen, "ETA --:--");
    return;
  }
  t = (uint64_t)(secs + 0.5);
  if (t >= 3600) {
    snprintf(out, outlen, "ETA %u:%02u:%02u", (unsigned)(t / 3600),
             (unsigned)(t / 60 % 60), (unsigned)(t % 60));
  } else {
    snprintf(out, outlen, "ETA %u:%02u", (unsigned)(t / 60),
             (unsigned)(t % 60));
  }
}

/* wait_line writes to |line| what --resume waits for, if it does: the
 * receiver's HAVE line, or the check of its prefix against the file.
 * Returns the length, or 0 when the data flows. */
static int wait_line(sender *s, char *line, size_t len) {
  const sfile *f = s->cur < s->nfiles ? &s->files[s->cur] : NULL;
  char b[16];

  if (!f || !f->opened || f->have || f->answered) {
    return 0;
  }
  if (s->check_len == 0) {
    return snprintf(line, len, "%.40s: asking the receiver what it has",
                    f->name);
  }
  tool_fmt_bytes(b, sizeof(b), s->check_len);
  return snprintf(line, len, "%.40s: checking the receiver's %s  %3d%%",
                  f->name, b,
                  (int)(100.0 * (double)s->check_off / (double)s->check_len));
}

/* bar_line writes "[####----]  45%  1.41 GB / 3.22 GB  312.5 MB/s  ETA
 * 0:06" to |line|: bytes handed to the connection (plus those resumed) of
 * all the files, and the average rate since the data began to flow. */
static int bar_line(sender *s, char *line, size_t len) {
  double el = s->data_start > 0 ? tool_now_s() - s->data_start : 0;
  uint64_t done = s->skipped + s->sent;
  double rate = el > 0 ? (double)s->sent / el : 0;
  double frac = s->total ? (double)done / (double)s->total : 1;
  char bar[BAR_WIDTH + 1], b1[16], b2[16], r[32], eta[32];
  int fill;

  if (frac > 1) {
    frac = 1;
  }
  /* Floors: 100% only when all is written. */
  fill = (int)(frac * BAR_WIDTH);
  memset(bar, '#', (size_t)fill);
  memset(bar + fill, '-', (size_t)(BAR_WIDTH - fill));
  bar[BAR_WIDTH] = 0;
  tool_fmt_bytes(b1, sizeof(b1), done);
  tool_fmt_bytes(b2, sizeof(b2), s->total);
  tool_fmt_rate(r, sizeof(r), rate);
  fmt_eta(eta, sizeof(eta), done < s->total ? (double)(s->total - done) : 0,
          rate);
  return snprintf(line, len, "[%s] %3d%%  %s / %s  %s  %s", bar,
                  (int)(frac * 100), b1, b2, r, eta);
}

/* draw_bar redraws the progress line: what --resume waits for, or the
 * bar. */
static void draw_bar(sender *s) {
  char line[160];
  int n = wait_line(s, line, sizeof(line));

  if (n == 0) {
    n = bar_line(s, line, sizeof(line));
  }
  if (n < 0) {
    return;
  }
  /* Spaces cover what is left of a longer previous line. */
  fprintf(stderr, "\r%s%*s", line,
          s->barlen > (size_t)n ? (int)(s->barlen - (size_t)n) : 0, "");
  fflush(stderr);
  s->barlen = (size_t)n;
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  draw_bar(arg);
}

/* all_done: every file is written and answered. */
static int all_done(const sender *s) {
  size_t i;
  for (i = 0; i < s->nfiles; ++i) {
    if (!s->files[i].written || !s->files[i].answered) {
      return 0;
    }
  }
  return 1;
}

static void maybe_close(sender *s) {
  if (all_done(s)) {
    rudp_conn_close(s->conn, rudp_event_now());
  }
}

static void next_file(sender *s) {
  if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
  ++s->cur;
  s->hdrlen = s->hdroff = s->buflen = s->bufoff = 0;
  s->fileoff = 0;
  s->check_len = s->check_off = 0;
}

static void put64be(uint8_t *p, uint64_t v) {
  int i;
  for (i = 0; i < 8; ++i) {
    p[i] = (uint8_t)(v >> (56 - 8 * i));
  }
}

/* open_file opens |f|'s stream and file and queues its header; returns
 * 0, 1 (no stream credit yet: streams_available resumes) or -1 (failed,
 * the connection is aborted). */
static int open_file(sender *s, sfile *f) {
  size_t nl = strlen(f->name);
  int rv = rudp_conn_open_stream(s->conn, 1, &f->sid);

  if (rv == RUDP_ERR_STREAM_LIMIT) {
    return 1;
  }
  if (rv != 0) {
    fail_conn(s, "open stream failed");
    return -1;
  }
  f->opened = 1;
  s->fd = open(f->path, O_RDONLY | O_CLOEXEC);
  if (s->fd < 0) {
    char msg[512];
    snprintf(msg, sizeof(msg), "%s: open: %s", f->path, strerror(errno));
    fail_conn(s, msg);
    return -1;
  }
  /* RUDPR1 asks the receiver what it has of the file before the data;
   * RUDPF1 sends the data at once. */
  memcpy(s->hdr, s->resume ? TOOL_MAGIC_RESUME : TOOL_MAGIC, TOOL_MAGICLEN);
  s->hdr[6] = (uint8_t)(nl >> 8);
  s->hdr[7] = (uint8_t)nl;
  memcpy(s->hdr + 8, f->name, nl);
  put64be(s->hdr + 8 + nl, f->size);
  memcpy(s->hdr + 16 + nl, f->md, TOOL_SHA256_LEN);
  s->hdrlen = TOOL_HDR_FIXED + nl;
  f->have = !s->resume;
  return 0;
}

static void on_rate_timer(evutil_socket_t fd, short what, void *arg);

/* rate_allow returns how many bytes --rate lets the next write take
 * (|want| at most), or 0 after arming rate_ev to try again. */
static size_t rate_allow(sender *s, size_t want) {
  double now = tool_now_s(), need;
  size_t piece = want < RATE_PIECE ? want : RATE_PIECE;
  struct timeval tv;

  s->tokens += (now - s->tok_t) * s->rate;
  if (s->tokens > s->burst) {
    s->tokens = s->burst;
  }
  s->tok_t = now;
  if (s->tokens >= (double)piece) {
    return s->tokens >= (double)want ? want : (size_t)s->tokens;
  }
  if (!s->rate_armed) {
    need = ((double)piece - s->tokens) / s->rate;
    tv.tv_sec = (time_t)need;
    tv.tv_usec = (suseconds_t)((need - (double)tv.tv_sec) * 1e6) + 1;
    s->rate_armed = 1;
    evtimer_add(s->rate_ev, &tv);
  }
  return 0;
}

static void on_stop_poll(evutil_socket_t fd, short what, void *arg);

/* start_stop begins RUDP_SEND_STOP_AFTER's stop: no more writes; the abort
 * comes once nothing is in flight, so the receiver has exactly the bytes
 * written (a predictable partial file for the tests). */
static void start_stop(sender *s) {
  struct timeval iv = {0, 20000};

  s->stopping = 1;
  s->stop_ev = event_new(s->base, -1, EV_PERSIST, on_stop_poll, s);
  if (!s->stop_ev || event_add(s->stop_ev, &iv) != 0) {
    fail_conn(s, "interrupted");
  }
}

/* pump writes as much as the stream takes: the header, (with --resume,
 * once the receiver answered) the offset, then the file in CHUNK pieces,
 * then FIN; it opens the next file's stream when one is done.  It returns
 * at RUDP_ERR_WOULDBLOCK (stream_writable resumes), RUDP_ERR_STREAM_LIMIT
 * (streams_available resumes), while waiting for the HAVE line
 * (stream_readable resumes) or for --rate's tokens (rate_ev resumes). */
static void pump(sender *s) {
  while (s->cur < s->nfiles && !s->closed && !s->failed && !s->stopping) {
    sfile *f = &s->files[s->cur];
    size_t want;
    rudp_ssize n;
    int fin;

    if (!f->opened && open_file(s, f) != 0) {
      return;
    }
    if (f->answered) {
      /* The receiver refused the file before its end (it also sent
       * STOP_SENDING): nothing more to write. */
      f->written = 1;
    }
    if (f->written) {
      next_file(s);
      continue;
    }
    if (s->hdroff < s->hdrlen) {
      n = rudp_conn_stream_write(s->conn, f->sid, s->hdr + s->hdroff,
                                 s->hdrlen - s->hdroff, 0);
      if (n >= 0) {
        s->hdroff += (size_t)n;
        continue;
      }
    } else if (!f->have) {
      return; /* on_stream_readable resumes with the receiver's HAVE */
    } else {
      if (s->stop_after > 0 && s->sent >= s->stop_after) {
        start_stop(s);
        return;
      }
      if (s->bufoff == s->buflen && s->fileoff < f->size) {
        ssize_t r = read(s->fd, s->buf, sizeof(s->buf));
        if (r <= 0 || s->fileoff + (uint64_t)r > f->size) {
          char msg[512];
          snprintf(msg, sizeof(msg), "%s: read: %s", f->path,
                   r == 0  ? "file shrank"
                   : r > 0 ? "file grew"
                           : strerror(errno));
          fail_conn(s, msg);
          return;
        }
        s->buflen = (size_t)r;
        s->bufoff = 0;
        s->fileoff += (uint64_t)r;
      }
      want = s->buflen - s->bufoff;
      if (s->stop_after > 0 && want > s->stop_after - s->sent) {
        want = (size_t)(s->stop_after - s->sent);
      }
      if (s->rate > 0 && want > 0 && (want = rate_allow(s, want)) == 0) {
        return;
      }
      /* FIN goes with the file's last byte (applied only if all of this
       * write is taken). */
      fin = s->fileoff == f->size && want == s->buflen - s->bufoff;
      n = rudp_conn_stream_write(s->conn, f->sid, s->buf + s->bufoff, want,
                                 fin);
      if (n >= 0) {
        if (s->data_start == 0) {
          s->data_start = tool_now_s();
        }
        s->bufoff += (size_t)n;
        s->sent += (uint64_t)n;
        if (s->rate > 0) {
          s->tokens -= (double)n;
        }
        if (fin && (size_t)n == want) {
          f->written = 1;
        }
        continue;
      }
    }
    if (n == RUDP_ERR_WOULDBLOCK) {
      return;
    }
    if (n == RUDP_ERR_STREAM_STATE || n == RUDP_ERR_STREAM_NOT_FOUND) {
      /* The receiver stopped this stream (STOP_SENDING after refusing
       * the file): its answer says why; go on with the next file. */
      f->written = 1;
      continue;
    }
    fail_conn(s, rudp_strerror((int)n));
    return;
  }
  maybe_close(s);
}

static void on_rate_timer(evutil_socket_t fd, short what, void *arg) {
  sender *s = arg;
  (void)fd;
  (void)what;
  s->rate_armed = 0;
  pump(s);
}

static void on_stop_poll(evutil_socket_t fd, short what, void *arg) {
  sender *s = arg;
  rudp_conn_stats st;
  (void)fd;
  (void)what;
  if (s->closed || s->failed) {
    return;
  }
  rudp_conn_get_stats(s->conn, &st);
  /* Two polls in a row with nothing in flight: all written was
   * acknowledged, so the receiver has it. */
  s->idle_polls = st.bytes_in_flight == 0 ? s->idle_polls + 1 : 0;
  if (s->idle_polls >= 2) {
    fail_conn(s, "interrupted (RUDP_SEND_STOP_AFTER)");
  }
}

static sfile *file_of(sender *s, int64_t sid) {
  size_t i;
  for (i = 0; i < s->nfiles; ++i) {
    if (s->files[i].opened && s->files[i].sid == sid) {
      return &s->files[i];
    }
  }
  return NULL;
}

static int unhex(int c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

/* parse_have parses "HAVE N HEX" (the line without its newline): N
 * decimal, HEX the 64 lowercase hex digits of the SHA-256 of the
 * receiver's first N bytes.  Returns 0 or -1. */
static int parse_have(const char *line, uint64_t *plen,
                      uint8_t md[TOOL_SHA256_LEN]) {
  const char *p = line + 5;
  uint64_t v = 0;
  size_t i;

  if (strncmp(line, "HAVE ", 5) != 0 || *p < '0' || *p > '9') {
    return -1;
  }
  for (; *p >= '0' && *p <= '9'; ++p) {
    if (v > (UINT64_MAX - 9) / 10) {
      return -1;
    }
    v = v * 10 + (uint64_t)(*p - '0');
  }
  if (*p++ != ' ') {
    return -1;
  }
  for (i = 0; i < TOOL_SHA256_LEN; ++i) {
    int hi = unhex(p[2 * i]), lo = hi < 0 ? -1 : unhex(p[2 * i + 1]);
    if (lo < 0) {
      return -1;
    }
    md[i] = (uint8_t)(hi << 4 | lo);
  }
  if (p[2 * TOOL_SHA256_LEN] != 0) {
    return -1;
  }
  *plen = v;
  return 0;
}

/* resume_at starts |f|'s data at |off|: the receiver's length |have| if
 * its prefix hashed like this file's, else 0. */
static void resume_at(sender *s, sfile *f, uint64_t off, uint64_t have) {
  if (off > 0 && !s->quiet) {
    say(s, "%s: resuming at byte %" PRIu64 " of %" PRIu64, f->name, off,
        f->size);
  } else if (have > 0 && !s->quiet) {
    say(s,
        "%s: the receiver's partial copy (%" PRIu64 " bytes) differs "
        "from this file: sending it from the start",
        f->name, have);
  }
  if (off > 0 && lseek(s->fd, (off_t)off, SEEK_SET) < 0) {
    char msg[512];
    snprintf(msg, sizeof(msg), "%s: seek: %s", f->path, strerror(errno));
    fail_conn(s, msg);
    return;
  }
  s->fileoff = off;
  s->skipped += off;
  put64be(s->hdr, off);
  s->hdrlen = 8;
  s->hdroff = 0;
  f->have = 1;
  pump(s);
}

/* on_check hashes the next slice of the current file's first check_len
 * bytes; at the end it compares them with the receiver's and resumes. */
static void on_check(evutil_socket_t fd, short what, void *arg) {
  sender *s = arg;
  sfile *f = &s->files[s->cur];
  uint64_t end = s->check_off + HASH_SLICE < s->check_len
                     ? s->check_off + HASH_SLICE
                     : s->check_len;
  uint8_t got[TOOL_SHA256_LEN];
  struct timeval now = {0, 0};
  (void)fd;
  (void)what;

  if (s->closed || s->failed) {
    return;
  }
  while (s->check_off < end) {
    size_t want = end - s->check_off < sizeof(s->buf)
                      ? (size_t)(end - s->check_off)
                      : sizeof(s->buf);
    /* s->buf is free: no data of this file has been read yet. */
    ssize_t r = pread(s->fd, s->buf, want, (off_t)s->check_off);
    if (r <= 0) {
      char msg[512];
      snprintf(msg, sizeof(msg), "%s: read: %s", f->path,
               r == 0 ? "file shrank" : strerror(errno));
      fail_conn(s, msg);
      return;
    }
    tool_sha256_update(&s->check_ctx, s->buf, (size_t)r);
    s->check_off += (uint64_t)r;
  }
  if (s->check_off < s->check_len) {
    evtimer_add(s->check_ev, &now);
    return;
  }
  tool_sha256_final(&s->check_ctx, got);
  resume_at(s, f, memcmp(got, s->check_md, sizeof(got)) == 0 ? s->check_len : 0,
            s->check_len);
}

/* take_have handles the receiver's first line on a --resume stream: HAVE
 * N HEX, where the data is to start; an ERR line is left for the final
 * answer.  The data starts at N only if the file's first N bytes hash to
 * HEX (checked by on_check), else at 0; the whole file's SHA-256 still
 * decides at the end. */
static void take_have(sender *s, sfile *f) {
  char *nl = memchr(f->status, '\n', f->statuslen);
  struct timeval now = {0, 0};
  uint64_t have;
  size_t linelen;

  if (!nl) {
    if (f->statuslen == sizeof(f->status) - 1) {
      fail_conn(s, "bad answer from the receiver");
    }
    return;
  }
  if (strncmp(f->status, "HAVE ", 5) != 0) {
    return; /* "ERR reason": the answer, FIN follows */
  }
  *nl = 0;
  if (parse_have(f->status, &have, s->check_md) != 0 ||
      f != &s->files[s->cur] || s->hdroff < s->hdrlen || s->check_len > 0) {
    fail_conn(s, "bad answer from the receiver");
    return;
  }
  linelen = (size_t)(nl - f->status) + 1;
  memmove(f->status, nl + 1, f->statuslen - linelen);
  f->statuslen -= linelen;
  if (have == 0 || have > f->size) {
    resume_at(s, f, 0, have);
    return;
  }
  tool_sha256_init(&s->check_ctx);
  s->check_len = have;
  s->check_off = 0;
  evtimer_add(s->check_ev, &now);
}

static int on_streams_available(rudp_conn *conn, int bidi, void *ud) {
  sender *s = ud;
  (void)conn;
  if (bidi) {
    pump(s);
  }
  return 0;
}

static int on_stream_writable(rudp_conn *conn, int64_t sid, void *ud) {
  sender *s = ud;
  (void)conn;
  (void)sid;
  pump(s);
  return 0;
}

static int on_stream_readable(rudp_conn *conn, int64_t sid, void *ud) {
  sender *s = ud;
  sfile *f = file_of(s, sid);
  uint8_t tmp[256];
  int fin = 0;
  rudp_ssize n;

  if (!f) {
    return 0;
  }
  while (!f->answered && !s->failed &&
         (n = rudp_conn_stream_read(conn, sid, tmp, sizeof(tmp), &fin)) >= 0) {
    size_t room = sizeof(f->status) - 1 - f->statuslen;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(f->status + f->statuslen, tmp, take);
    f->statuslen += take;
    if (!f->have && take > 0) {
      take_have(s, f);
    }
    if (fin) {
      f->answered = 1;
      f->status[f->statuslen] = 0;
      f->ok = strcmp(f->status, "OK\n") == 0;
      if (!f->ok) {
        char *nl = strchr(f->status, '\n');
        if (nl) {
          *nl = 0;
        }
        say(s, "%s: receiver refused: %s", f->name,
            strncmp(f->status, "ERR ", 4) == 0 ? f->status + 4 : f->status);
      }
      pump(s); /* may close the connection */
    }
    if (n == 0 && !fin) {
      break;
    }
  }
  return 0;
}

static int on_stream_reset(rudp_conn *conn, int64_t sid, uint64_t code,
                           void *ud) {
  sender *s = ud;
  sfile *f = file_of(s, sid);
  (void)conn;
  (void)code;
  if (f && !f->answered) {
    f->answered = 1;
    say(s, "%s: receiver reset the stream", f->name);
    pump(s);
  }
  return 0;
}

static void on_closed(rudp_conn *conn, int error, void *ud) {
  sender *s = ud;
  s->closed = 1;
  s->error = error;
  s->end = tool_now_s();
  rudp_conn_get_stats(conn, &s->stats);
  if (error) {
    /* The reason names a TLS failure ("certificate verify failed: ..."),
     * or is the receiver's own. */
    rudp_conn_close_info ci;
    rudp_conn_get_close_info(conn, &ci);
    snprintf(s->reason, sizeof(s->reason), "%s", ci.reason);
  }
  event_base_loopbreak(s->base);
}

/* on_signal: the first SIGINT / SIGTERM aborts the connection (the
 * receiver learns it at once and keeps its partial copy for --resume);
 * a second one stops at once. */
static void on_signal(evutil_socket_t sig, short what, void *arg) {
  sender *s = arg;
  (void)sig;
  (void)what;
  if (s->failed || s->closed) {
    event_base_loopbreak(s->base);
    return;
  }
  fail_conn(s, "interrupted");
}

/* hash_file fills |f|'s size and SHA-256 before anything is sent: the
 * header carries them ahead of the data.  With the progress bar on, it
 * shows how far the hashing is (files of GiB take seconds). */
static int hash_file(sender *s, sfile *f) {
  tool_sha256 ctx;
  struct stat st;
  ssize_t r;
  double last = tool_now_s();
  int fd = open(f->path, O_RDONLY | O_CLOEXEC);

  if (fd < 0 || fstat(fd, &st) != 0) {
    say(s, "%s: open: %s", f->path, strerror(errno));
    if (fd >= 0) {
      close(fd);
    }
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    say(s, "%s: open: not a regular file", f->path);
    close(fd);
    return -1;
  }
  tool_sha256_init(&ctx);
  f->size = 0;
  while ((r = read(fd, s->buf, sizeof(s->buf))) > 0) {
    tool_sha256_update(&ctx, s->buf, (size_t)r);
    f->size += (uint64_t)r;
    if (s->progress && (f->size & ((16u << 20) - 1)) < (uint64_t)r &&
        tool_now_s() - last >= TICK_US / 1e6) {
      int n = fprintf(stderr, "\rhashing %.40s  %3d%%", f->name,
                      st.st_size > 0
                          ? (int)(100.0 * (double)f->size / (double)st.st_size)
                          : 100);
      s->barlen = n > 0 ? (size_t)n - 1 : 0;
      last = tool_now_s();
    }
  }
  clear_bar(s);
  if (r < 0) {
    say(s, "%s: read: %s", f->path, strerror(errno));
    close(fd);
    return -1;
  }
  close(fd);
  tool_sha256_final(&ctx, f->md);
  return 0;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"resume", no_argument, NULL, 'R'},
                                       {"rate", required_argument, NULL, 'r'},
                                       {"progress", no_argument, NULL, 'P'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'V'},
                                       {"cc", required_argument, NULL, 'c'},
                                       {"netem", required_argument, NULL, 'n'},
                                       TOOL_TLS_LONGOPTS,
                                       {NULL, 0, NULL, 0}};
  tool_tls_opts tlso;
  rudp_tls_ctx *tls = NULL;
  uint16_t port = TOOL_DEFAULT_PORT;
  rudp_cc_algo cc = RUDP_CC_CUBIC;
  const char *netem = NULL, *host, *env;
  rudp_callbacks cb;
  rudp_event_settings st;
  struct addrinfo hints, *ai = NULL;
  struct sockaddr_storage local;
  char portstr[8], rate[32], bits[32], size[16];
  sender *s;
  rudp_event *ev = NULL;
  struct event *sigint = NULL, *sigterm = NULL;
  size_t i, nok = 0;
  uint64_t rate_bits = 0, stop_after = 0;
  int c, rv, ret = 1, quiet = 0, resume = 0, force_progress = 0;
  int raw_names = getenv("RUDP_SEND_RAW_NAMES") != NULL &&
                  strcmp(getenv("RUDP_SEND_RAW_NAMES"), "1") == 0;

  memset(&tlso, 0, sizeof(tlso));
  while ((c = getopt_long(argc, argv, ":p:qh", opts, NULL)) != -1) {
    switch (c) {
    case 'p':
      if (tool_parse_port(optarg, 1, &port) != 0) {
        fprintf(stderr, TOOL ": bad port: %s\n", optarg);
        return 2;
      }
      break;
    case 'q':
      quiet = 1;
      break;
    case 'R':
      resume = 1;
      break;
    case 'r':
      if (tool_parse_rate(optarg, &rate_bits) != 0) {
        fprintf(stderr,
                TOOL ": --rate: expected bits per second, 1k to 100G, "
                     "like 10M: %s\n",
                optarg);
        return 2;
      }
      break;
    case 'P':
      force_progress = 1;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      printf(TOOL " (librudp %s)\n", rudp_version());
      return 0;
    case 'c':
      if (tool_parse_cc(optarg, &cc) != 0) {
        fprintf(stderr, TOOL ": --cc: expected reno or cubic: %s\n", optarg);
        return 2;
      }
      break;
    case 'n':
      netem = optarg;
      break;
    default:
      if (tool_tls_opt(&tlso, c, optarg)) {
        break;
      }
      tool_bad_option(TOOL, c, argv);
      return 2;
    }
  }
  if ((rv = tool_tls_check(TOOL, &tlso, 0)) != 0) {
    return rv;
  }
  if (argc - optind < 2) {
    fprintf(stderr, TOOL ": missing %s (see " TOOL " -h)\n",
            argc - optind < 1 ? "HOST and FILE" : "FILE");
    return 2;
  }
  env = getenv("RUDP_SEND_STOP_AFTER");
  if (env && *env) {
    char *end;
    errno = 0;
    stop_after = strtoull(env, &end, 10);
    if (*env < '0' || *env > '9' || errno || *end || stop_after == 0) {
      fprintf(stderr,
              TOOL ": RUDP_SEND_STOP_AFTER: expected a byte count > 0: %s\n",
              env);
      return 2;
    }
  }
  if ((rv = tool_tls_ctx(TOOL, &tlso, 0, "rudp-file", &tls)) != 0) {
    return rv;
  }
  s = calloc(1, sizeof(*s));
  if (!s) {
    fprintf(stderr, TOOL ": startup: out of memory\n");
    rudp_tls_ctx_free(tls);
    return 1;
  }
  s->fd = -1;
  s->quiet = quiet;
  s->resume = resume;
  s->stop_after = stop_after;
  s->progress = force_progress || (!quiet && isatty(STDERR_FILENO));
  if (rate_bits > 0) {
    s->rate = (double)rate_bits / 8;
    /* 50 ms of data: smooth at any rate, and at least one piece. */
    s->burst = s->rate / 20 > RATE_PIECE ? s->rate / 20 : RATE_PIECE;
  }
  host = argv[optind];
  s->nfiles = (size_t)(argc - optind - 1);
  s->files = calloc(s->nfiles, sizeof(sfile));
  if (!s->files) {
    fprintf(stderr, TOOL ": startup: out of memory\n");
    goto out;
  }
  for (i = 0; i < s->nfiles; ++i) {
    sfile *f = &s->files[i];
    const char *p = argv[optind + 1 + (int)i], *b;
    f->path = p;
    /* The name sent is the file's basename; RUDP_SEND_RAW_NAMES=1 sends
     * the argument as given (a testing aid for the receiver's checks). */
    b = strrchr(p, '/');
    b = raw_names || !b ? p : b + 1;
    if (strlen(b) > TOOL_NAME_MAX) {
      say(s, "%s: name too long", p);
      goto out;
    }
    snprintf(f->name, sizeof(f->name), "%s", b);
    if (hash_file(s, f) != 0) {
      goto out;
    }
    s->total += f->size;
  }

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
  rv = getaddrinfo(host, portstr, &hints, &ai);
  if (rv != 0) {
    say(s, "resolve %s: %s", host, gai_strerror(rv));
    goto out;
  }
  memset(&local, 0, sizeof(local));
  local.ss_family = (sa_family_t)ai->ai_family;

  memset(&cb, 0, sizeof(cb));
  cb.streams_available = on_streams_available;
  cb.stream_writable = on_stream_writable;
  cb.stream_readable = on_stream_readable;
  cb.stream_reset = on_stream_reset;
  cb.closed = on_closed;
  rudp_event_settings_default(&st);
  st.endpoint.conn.cc_algo = cc;
  tool_bulk_settings(&st.endpoint.conn);
  st.endpoint.conn.tls = tls;
  st.endpoint.conn.tls_server_name = host;
  st.netem = netem;
  s->base = event_base_new();
  if (!s->base) {
    say(s, "startup: event_base_new failed");
    goto out;
  }
  s->rate_ev = evtimer_new(s->base, on_rate_timer, s);
  s->check_ev = evtimer_new(s->base, on_check, s);
  if (!s->rate_ev || !s->check_ev) {
    say(s, "startup: event_new failed");
    goto out;
  }
  rv = rudp_event_endpoint_new(&ev, s->base, (struct sockaddr *)&local,
                               ai->ai_family == AF_INET6
                                   ? sizeof(struct sockaddr_in6)
                                   : sizeof(struct sockaddr_in),
                               &st, NULL, &cb, NULL);
  if (rv != 0) {
    say(s, "create endpoint: %s", tool_endpoint_error(rv, netem));
    goto out;
  }
  rv = rudp_event_connect(ev, ai->ai_addr, ai->ai_addrlen, NULL, s, &s->conn);
  if (rv != 0) {
    say(s, "connect %s: %s", host, rudp_strerror(rv));
    goto out;
  }
  sigint = evsignal_new(s->base, SIGINT, on_signal, s);
  sigterm = evsignal_new(s->base, SIGTERM, on_signal, s);
  if (sigint) {
    event_add(sigint, NULL);
  }
  if (sigterm) {
    event_add(sigterm, NULL);
  }
  s->start = s->tok_t = tool_now_s();
  if (s->progress) {
    struct timeval iv = {0, TICK_US};
    s->tick = event_new(s->base, -1, EV_PERSIST, on_tick, s);
    if (s->tick) {
      event_add(s->tick, &iv);
    }
    draw_bar(s);
  }
  event_base_dispatch(s->base);
  if (s->progress) {
    /* The final state stays on screen above the summary. */
    draw_bar(s);
    fputc('\n', stderr);
    s->barlen = 0;
  }
  if (!s->closed) {
    say(s, "transfer: %s",
        s->failed ? "interrupted" : "event loop ended early");
    s->end = tool_now_s();
    rudp_conn_get_stats(s->conn, &s->stats);
    s->failed = 1;
  }
  for (i = 0; i < s->nfiles; ++i) {
    nok += s->files[i].ok;
  }
  if (s->error != 0 && !s->failed) {
    say(s, "connection to %s: %s%s%s", host, rudp_strerror(s->error),
        s->reason[0] ? ": " : "", s->reason);
  } else if (nok < s->nfiles && !s->failed) {
    say(s, "transfer: %zu of %zu files not verified", s->nfiles - nok,
        s->nfiles);
  }
  if (!s->quiet) {
    double el = s->end - s->start;
    double bps = el > 0 ? (double)s->sent / el : 0;
    tool_fmt_rate(rate, sizeof(rate), bps);
    snprintf(bits, sizeof(bits), "%.1f Mbit/s", bps * 8 / 1e6);
    tool_fmt_bytes(size, sizeof(size), s->sent);
    fprintf(stderr,
            TOOL ": %zu/%zu files verified, %" PRIu64 " bytes (%s) sent in "
                 "%.2f s, %s (%s), %" PRIu64 " retransmissions",
            nok, s->nfiles, s->sent, size, el, rate, bits,
            s->stats.pkts_retransmitted);
    if (s->skipped > 0) {
      fprintf(stderr, ", %" PRIu64 " bytes resumed", s->skipped);
    }
    fputc('\n', stderr);
  }
  ret = s->error == 0 && !s->failed && nok == s->nfiles ? 0 : 1;
out:
  if (s->tick) {
    event_free(s->tick);
  }
  if (s->rate_ev) {
    event_free(s->rate_ev);
  }
  if (s->stop_ev) {
    event_free(s->stop_ev);
  }
  if (s->check_ev) {
    event_free(s->check_ev);
  }
  tool_hold_signals();
  if (sigint) {
    event_free(sigint);
  }
  if (sigterm) {
    event_free(sigterm);
  }
  rudp_event_endpoint_free(ev);
  if (s->base) {
    event_base_free(s->base);
  }
  if (ai) {
    freeaddrinfo(ai);
  }
  if (s->fd >= 0) {
    close(s->fd);
  }
  free(s->files);
  free(s);
  rudp_tls_ctx_free(tls);
  return ret;
}
