/*
 * rudp-send [-p PORT] [-q] HOST FILE...: sends files to rudp-recv over one
 * librudp connection, one bidirectional stream per file (docs/TOOLS.md),
 * and exits 0 only when the receiver confirmed every file's SHA-256.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
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

#define TOOL "rudp-send"
/* Chunk read from the file and handed to the stream at a time. */
#define CHUNK (64 * 1024)

typedef struct sfile {
  const char *path;
  char name[TOOL_NAME_MAX + 1];
  uint64_t size;
  uint8_t md[TOOL_SHA256_LEN];
  int64_t sid;
  /* opened: the stream exists; written: FIN queued (or the write was
   * aborted by the receiver); answered: the status line and FIN arrived;
   * ok: the status was "OK". */
  int opened, written, answered, ok;
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
  uint8_t hdr[TOOL_HDR_FIXED + TOOL_NAME_MAX];
  size_t hdrlen, hdroff;
  uint8_t buf[CHUNK];
  size_t buflen, bufoff;
  uint64_t fileoff;
  uint64_t total, sent;
  int quiet, progress, closed, error, failed;
  double start, end;
  rudp_conn_stats stats;
  struct event *tick;
} sender;

static void usage(FILE *f) {
  fprintf(f,
          "usage: " TOOL " [options] HOST FILE...\n"
          "Send FILEs to rudp-recv on HOST; exit 0 only when the receiver\n"
          "verified every file's SHA-256.\n"
          "  -p, --port PORT  receiver port (default %u)\n"
          "  -q, --quiet      no progress line and no summary\n"
          "  --cc reno|cubic  congestion controller (default cubic)\n"
          "  --netem SPEC     impair sent datagrams (see rudp-send(1))\n"
          "  --tls            not built yet\n"
          "  -h, --help       show this help\n"
          "  --version        show the version\n",
          TOOL_DEFAULT_PORT);
}

static void fail_conn(sender *s, const char *what) {
  if (!s->failed) {
    fprintf(stderr, TOOL ": %s\n", what);
  }
  s->failed = 1;
  rudp_conn_abort(s->conn, 1, what, rudp_event_now());
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
}

/* pump writes as much as the stream takes: the header, then the file in
 * CHUNK pieces, then FIN; it opens the next file's stream when one is
 * done.  It returns at RUDP_ERR_WOULDBLOCK (stream_writable resumes) or
 * RUDP_ERR_STREAM_LIMIT (streams_available resumes). */
static void pump(sender *s) {
  while (s->cur < s->nfiles && !s->closed) {
    sfile *f = &s->files[s->cur];
    rudp_ssize n;
    int rv;

    if (!f->opened) {
      size_t nl = strlen(f->name);
      rv = rudp_conn_open_stream(s->conn, 1, &f->sid);
      if (rv == RUDP_ERR_STREAM_LIMIT) {
        return;
      }
      if (rv != 0) {
        fail_conn(s, "open stream failed");
        return;
      }
      f->opened = 1;
      s->fd = open(f->path, O_RDONLY | O_CLOEXEC);
      if (s->fd < 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s: open: %s", f->path, strerror(errno));
        fail_conn(s, msg);
        return;
      }
      memcpy(s->hdr, TOOL_MAGIC, TOOL_MAGICLEN);
      s->hdr[6] = (uint8_t)(nl >> 8);
      s->hdr[7] = (uint8_t)nl;
      memcpy(s->hdr + 8, f->name, nl);
      for (rv = 0; rv < 8; ++rv) {
        s->hdr[8 + nl + (size_t)rv] = (uint8_t)(f->size >> (56 - 8 * rv));
      }
      memcpy(s->hdr + 16 + nl, f->md, TOOL_SHA256_LEN);
      s->hdrlen = TOOL_HDR_FIXED + nl;
    }
    if (f->written) {
      next_file(s);
      continue;
    }
    if (s->hdroff < s->hdrlen) {
      n = rudp_conn_stream_write(s->conn, f->sid, s->hdr + s->hdroff,
                                 s->hdrlen - s->hdroff, 0);
    } else {
      if (s->bufoff == s->buflen && s->fileoff < f->size) {
        ssize_t r = read(s->fd, s->buf, sizeof(s->buf));
        if (r <= 0) {
          char msg[512];
          snprintf(msg, sizeof(msg), "%s: read: %s", f->path,
                   r == 0 ? "file shrank" : strerror(errno));
          fail_conn(s, msg);
          return;
        }
        s->buflen = (size_t)r;
        s->bufoff = 0;
        s->fileoff += (uint64_t)r;
        if (s->fileoff > f->size) {
          char msg[512];
          snprintf(msg, sizeof(msg), "%s: read: file grew", f->path);
          fail_conn(s, msg);
          return;
        }
      }
      n = rudp_conn_stream_write(s->conn, f->sid, s->buf + s->bufoff,
                                 s->buflen - s->bufoff, s->fileoff == f->size);
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
    if (n < 0) {
      fail_conn(s, rudp_strerror((int)n));
      return;
    }
    if (s->hdroff < s->hdrlen) {
      s->hdroff += (size_t)n;
      continue;
    }
    s->bufoff += (size_t)n;
    s->sent += (uint64_t)n;
    if (s->bufoff == s->buflen && s->fileoff == f->size) {
      /* FIN went with the last piece (FIN applies when all was taken). */
      f->written = 1;
    }
  }
  maybe_close(s);
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
  while (!f->answered &&
         (n = rudp_conn_stream_read(conn, sid, tmp, sizeof(tmp), &fin)) >= 0) {
    size_t room = sizeof(f->status) - 1 - f->statuslen;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(f->status + f->statuslen, tmp, take);
    f->statuslen += take;
    if (fin) {
      f->answered = 1;
      f->status[f->statuslen] = 0;
      f->ok = strcmp(f->status, "OK\n") == 0;
      if (!f->ok) {
        char *nl = strchr(f->status, '\n');
        if (nl) {
          *nl = 0;
        }
        fprintf(stderr, TOOL ": %s: receiver refused: %s\n", f->name,
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
    fprintf(stderr, TOOL ": %s: receiver reset the stream\n", f->name);
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
  event_base_loopbreak(s->base);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  sender *s = arg;
  double el = tool_now_s() - s->start;
  double rate = el > 0 ? (double)s->sent / el : 0;
  char r[32];
  (void)fd;
  (void)what;
  tool_fmt_rate(r, sizeof(r), rate);
  fprintf(stderr, "\r%" PRIu64 " / %" PRIu64 " bytes  %3.0f%%  %s  ETA %.0f s ",
          s->sent, s->total,
          s->total ? 100.0 * (double)s->sent / (double)s->total : 100.0, r,
          rate > 0 ? (double)(s->total - s->sent) / rate : 0.0);
}

/* hash_file fills |f|'s size and SHA-256 before anything is sent: the
 * header carries them ahead of the data. */
static int hash_file(sfile *f, uint8_t *buf, size_t buflen) {
  tool_sha256 ctx;
  struct stat st;
  ssize_t r;
  int fd = open(f->path, O_RDONLY | O_CLOEXEC);

  if (fd < 0 || fstat(fd, &st) != 0) {
    fprintf(stderr, TOOL ": %s: open: %s\n", f->path, strerror(errno));
    if (fd >= 0) {
      close(fd);
    }
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    fprintf(stderr, TOOL ": %s: open: not a regular file\n", f->path);
    close(fd);
    return -1;
  }
  tool_sha256_init(&ctx);
  f->size = 0;
  while ((r = read(fd, buf, buflen)) > 0) {
    tool_sha256_update(&ctx, buf, (size_t)r);
    f->size += (uint64_t)r;
  }
  if (r < 0) {
    fprintf(stderr, TOOL ": %s: read: %s\n", f->path, strerror(errno));
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
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'V'},
                                       {"cc", required_argument, NULL, 'c'},
                                       {"netem", required_argument, NULL, 'n'},
                                       {"tls", no_argument, NULL, 'T'},
                                       {NULL, 0, NULL, 0}};
  uint16_t port = TOOL_DEFAULT_PORT;
  rudp_cc_algo cc = RUDP_CC_CUBIC;
  const char *netem = NULL, *host;
  rudp_callbacks cb;
  rudp_event_settings st;
  struct addrinfo hints, *ai = NULL;
  struct sockaddr_storage local;
  char portstr[8], rate[32];
  sender *s;
  rudp_event *ev = NULL;
  size_t i, nok = 0;
  int c, rv, ret = 1, quiet = 0;
  int raw_names = getenv("RUDP_SEND_RAW_NAMES") != NULL &&
                  strcmp(getenv("RUDP_SEND_RAW_NAMES"), "1") == 0;

  while ((c = getopt_long(argc, argv, "p:qh", opts, NULL)) != -1) {
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
    case 'T':
      fprintf(stderr, TOOL ": --tls: not built yet\n");
      return 2;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (argc - optind < 2) {
    fprintf(stderr, TOOL ": missing HOST or FILE\n");
    usage(stderr);
    return 2;
  }
  s = calloc(1, sizeof(*s));
  if (!s) {
    fprintf(stderr, TOOL ": startup: out of memory\n");
    return 1;
  }
  s->fd = -1;
  s->quiet = quiet;
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
      fprintf(stderr, TOOL ": %s: name too long\n", p);
      goto out;
    }
    snprintf(f->name, sizeof(f->name), "%s", b);
    if (hash_file(f, s->buf, sizeof(s->buf)) != 0) {
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
    fprintf(stderr, TOOL ": resolve %s: %s\n", host, gai_strerror(rv));
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
  st.netem = netem;
  s->base = event_base_new();
  if (!s->base) {
    fprintf(stderr, TOOL ": startup: event_base_new failed\n");
    goto out;
  }
  rv = rudp_event_endpoint_new(&ev, s->base, (struct sockaddr *)&local,
                               ai->ai_family == AF_INET6
                                   ? sizeof(struct sockaddr_in6)
                                   : sizeof(struct sockaddr_in),
                               &st, NULL, &cb, NULL);
  if (rv != 0) {
    fprintf(stderr, TOOL ": create endpoint: %s\n", tool_endpoint_error(rv, netem));
    goto out;
  }
  rv = rudp_event_connect(ev, ai->ai_addr, ai->ai_addrlen, NULL, s, &s->conn);
  if (rv != 0) {
    fprintf(stderr, TOOL ": connect %s: %s\n", host, rudp_strerror(rv));
    goto out;
  }
  s->start = tool_now_s();
  s->progress = !s->quiet && isatty(STDERR_FILENO);
  if (s->progress) {
    struct timeval iv = {0, 250000};
    s->tick = event_new(s->base, -1, EV_PERSIST, on_tick, s);
    if (s->tick) {
      event_add(s->tick, &iv);
    }
  }
  event_base_dispatch(s->base);
  if (s->tick) {
    event_free(s->tick);
    s->tick = NULL;
    fprintf(stderr, "\n");
  }
  if (!s->closed) {
    fprintf(stderr, TOOL ": transfer: event loop ended early\n");
    goto out;
  }
  for (i = 0; i < s->nfiles; ++i) {
    nok += s->files[i].ok;
  }
  if (s->error != 0 && !s->failed) {
    fprintf(stderr, TOOL ": connection to %s: %s\n", host,
            rudp_strerror(s->error));
  } else if (nok < s->nfiles && !s->failed) {
    fprintf(stderr, TOOL ": transfer: %zu of %zu files not verified\n",
            s->nfiles - nok, s->nfiles);
  }
  if (!s->quiet) {
    double el = s->end - s->start;
    tool_fmt_rate(rate, sizeof(rate), el > 0 ? (double)s->sent / el : 0);
    fprintf(stderr,
            TOOL ": %zu/%zu files verified, %" PRIu64 " bytes in %.2f s, %s, "
                 "%" PRIu64 " retransmissions\n",
            nok, s->nfiles, s->sent, el, rate, s->stats.pkts_retransmitted);
  }
  ret = s->error == 0 && !s->failed && nok == s->nfiles ? 0 : 1;
out:
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
  return ret;
}
