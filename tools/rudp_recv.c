/*
 * rudp-recv [-l ADDR] [-p PORT] [-o DIR] [--once] [-q]: receives files
 * sent by rudp-send (docs/TOOLS.md) into DIR, verifies each one's SHA-256
 * and makes it appear atomically (a temporary name in DIR, renamed once
 * verified).  It never writes outside DIR: names must be one plain path
 * component.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
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

#define TOOL "rudp-recv"
#define CHUNK (64 * 1024)

enum { ST_HDR, ST_DATA, ST_DONE };

typedef struct rstream {
  struct rstream *next;
  int64_t sid;
  int stage;
  uint8_t hdr[TOOL_HDR_FIXED + TOOL_NAME_MAX];
  size_t hdrlen;
  char name[TOOL_NAME_MAX + 1];
  uint64_t size, got;
  uint8_t md[TOOL_SHA256_LEN];
  tool_sha256 ctx;
  int fd;
  char tmp[64];
} rstream;

typedef struct cstate {
  /* prev, next link the receiver's connections (cleanup on a signal). */
  struct cstate *prev, *next;
  rstream *streams;
  size_t nok, nfail;
} cstate;

typedef struct receiver {
  struct event_base *base;
  int dirfd;
  int once, quiet, force;
  int done, status, interrupted;
  cstate *conns;
  unsigned tmpseq;
  uint8_t buf[CHUNK];
} receiver;

/* The tools are single-threaded and have one receiver: connection
 * callbacks reach it here because a server connection's user data is
 * NULL until it is accepted (rudp.h, rudp_endpoint_new). */
static receiver *g_recv;

static void usage(FILE *f) {
  fprintf(f,
          "usage: " TOOL " [options]\n"
          "Receive files sent by rudp-send into DIR, verified by SHA-256.\n"
          "  -l, --listen ADDR  listen address (default ::, dual stack)\n"
          "  -p, --port PORT    listen port (default %u; 0 picks a free one)\n"
          "  -o, --output DIR   directory for received files (default .)\n"
          "  --once             exit after one sender's transfer\n"
          "  --force            overwrite existing files\n"
          "  -q, --quiet        print only errors and the listening line\n"
          "  --cc reno|cubic    congestion controller (default cubic)\n"
          "  --netem SPEC       impair sent datagrams (see rudp-recv(1))\n"
          "  --tls              not built yet\n"
          "  -h, --help         show this help\n"
          "  --version          show the version\n",
          TOOL_DEFAULT_PORT);
}

static cstate *get_cs(rudp_conn *conn) {
  cstate *cs = rudp_conn_get_user_data(conn);
  if (!cs) {
    cs = calloc(1, sizeof(*cs));
    if (cs) {
      rudp_conn_set_user_data(conn, cs);
      cs->next = g_recv->conns;
      if (cs->next) {
        cs->next->prev = cs;
      }
      g_recv->conns = cs;
    }
  }
  return cs;
}

static rstream *get_rs(cstate *cs, int64_t sid) {
  rstream *rs;
  for (rs = cs->streams; rs; rs = rs->next) {
    if (rs->sid == sid) {
      return rs;
    }
  }
  rs = calloc(1, sizeof(*rs));
  if (rs) {
    rs->sid = sid;
    rs->fd = -1;
    rs->next = cs->streams;
    cs->streams = rs;
  }
  return rs;
}

static void drop_tmp(rstream *rs) {
  if (rs->fd >= 0) {
    close(rs->fd);
    rs->fd = -1;
    unlinkat(g_recv->dirfd, rs->tmp, 0);
  }
}

/* answer sends the status line with FIN and finishes |rs|. */
static void answer(rudp_conn *conn, cstate *cs, rstream *rs, const char *err) {
  char line[256];
  int n;

  drop_tmp(rs);
  rs->stage = ST_DONE;
  if (err) {
    n = snprintf(line, sizeof(line), "ERR %s\n", err);
    ++cs->nfail;
    fprintf(stderr, TOOL ": %s: refused: %s\n",
            rs->name[0] ? rs->name : "(unnamed)", err);
    /* Nothing more of this file is wanted. */
    rudp_conn_stream_stop_sending(conn, rs->sid, 1);
  } else {
    n = snprintf(line, sizeof(line), "OK\n");
    ++cs->nok;
    if (!g_recv->quiet) {
      printf(TOOL ": %s: %" PRIu64 " bytes verified\n", rs->name, rs->size);
      fflush(stdout);
    }
  }
  /* A short line always fits a fresh stream's send buffer. */
  rudp_conn_stream_write(conn, rs->sid, (const uint8_t *)line, (size_t)n, 1);
}

static uint64_t get64be(const uint8_t *p) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; ++i) {
    v = v << 8 | p[i];
  }
  return v;
}

/* start_file checks the header's name and creates the temporary file. */
static const char *start_file(rstream *rs, size_t nl) {
  receiver *r = g_recv;
  const char *why = tool_check_name(rs->hdr + 8, nl);
  struct stat st;
  int i;

  if (why) {
    return why;
  }
  memcpy(rs->name, rs->hdr + 8, nl);
  rs->name[nl] = 0;
  rs->size = get64be(rs->hdr + 8 + nl);
  memcpy(rs->md, rs->hdr + 16 + nl, TOOL_SHA256_LEN);
  if (!r->force && fstatat(r->dirfd, rs->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    return "file exists (the receiver needs --force)";
  }
  for (i = 0; i < 100; ++i) {
    snprintf(rs->tmp, sizeof(rs->tmp), ".rudp-recv.%ld.%u.tmp", (long)getpid(),
             r->tmpseq++);
    rs->fd = openat(r->dirfd, rs->tmp,
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (rs->fd >= 0 || errno != EEXIST) {
      break;
    }
  }
  if (rs->fd < 0) {
    return "cannot create a temporary file";
  }
  tool_sha256_init(&rs->ctx);
  rs->stage = ST_DATA;
  return NULL;
}

/* finish_file verifies the received file and renames it into place. */
static const char *finish_file(rstream *rs) {
  receiver *r = g_recv;
  uint8_t md[TOOL_SHA256_LEN];

  if (rs->got != rs->size) {
    return "truncated file";
  }
  tool_sha256_final(&rs->ctx, md);
  if (memcmp(md, rs->md, sizeof(md)) != 0) {
    return "SHA-256 mismatch";
  }
  if (fdatasync(rs->fd) != 0) {
    return "cannot write the file";
  }
  if (r->force) {
    if (renameat(r->dirfd, rs->tmp, r->dirfd, rs->name) != 0) {
      return "cannot rename the file into place";
    }
  } else {
    /* link() fails with EEXIST where rename() would replace. */
    if (linkat(r->dirfd, rs->tmp, r->dirfd, rs->name, 0) != 0) {
      return errno == EEXIST ? "file exists (the receiver needs --force)"
                             : "cannot rename the file into place";
    }
    unlinkat(r->dirfd, rs->tmp, 0);
  }
  close(rs->fd);
  rs->fd = -1;
  return NULL;
}

/* consume takes |len| received bytes of |rs|. */
static const char *consume(rstream *rs, const uint8_t *p, size_t len) {
  while (len > 0 && rs->stage != ST_DONE) {
    if (rs->stage == ST_HDR) {
      size_t need = 8, n;
      if (rs->hdrlen >= 8) {
        size_t nl = (size_t)rs->hdr[6] << 8 | rs->hdr[7];
        if (memcmp(rs->hdr, TOOL_MAGIC, TOOL_MAGICLEN) != 0) {
          return "bad header magic";
        }
        if (nl == 0) {
          return "empty name";
        }
        if (nl > TOOL_NAME_MAX) {
          return "name too long";
        }
        need = TOOL_HDR_FIXED + nl;
      }
      n = need - rs->hdrlen < len ? need - rs->hdrlen : len;
      memcpy(rs->hdr + rs->hdrlen, p, n);
      rs->hdrlen += n;
      p += n;
      len -= n;
      if (rs->hdrlen == need && need > 8) {
        const char *why = start_file(rs, need - TOOL_HDR_FIXED);
        if (why) {
          return why;
        }
      }
      continue;
    }
    if (len > rs->size - rs->got) {
      return "more data than announced";
    }
    tool_sha256_update(&rs->ctx, p, len);
    rs->got += len;
    while (len > 0) {
      ssize_t w = write(rs->fd, p, len);
      if (w < 0 && errno == EINTR) {
        continue;
      }
      if (w <= 0) {
        return errno == ENOSPC ? "no space left on the receiver"
                               : "cannot write the file";
      }
      p += w;
      len -= (size_t)w;
    }
  }
  return NULL;
}

static int on_stream_readable(rudp_conn *conn, int64_t sid, void *ud) {
  receiver *r = g_recv;
  cstate *cs = ud ? ud : get_cs(conn);
  rstream *rs = cs ? get_rs(cs, sid) : NULL;
  const char *why;
  rudp_ssize n;
  int fin = 0;

  if (!rs) {
    return RUDP_ERR_CALLBACK_FAILURE; /* out of memory */
  }
  while (rs->stage != ST_DONE &&
         (n = rudp_conn_stream_read(conn, sid, r->buf, sizeof(r->buf), &fin)) >=
             0) {
    why = consume(rs, r->buf, (size_t)n);
    if (!why && fin) {
      why = rs->stage == ST_HDR ? "truncated header" : finish_file(rs);
      if (!why) {
        answer(conn, cs, rs, NULL);
        break;
      }
    }
    if (why) {
      answer(conn, cs, rs, why);
      break;
    }
    if (n == 0) {
      break;
    }
  }
  return 0;
}

static int on_stream_reset(rudp_conn *conn, int64_t sid, uint64_t code,
                           void *ud) {
  cstate *cs = ud ? ud : get_cs(conn);
  rstream *rs = cs ? get_rs(cs, sid) : NULL;
  (void)code;
  if (rs && rs->stage != ST_DONE) {
    answer(conn, cs, rs, "the sender reset the stream");
  }
  return 0;
}

static int on_accept_ready(rudp_endpoint *ep, void *ud) {
  rudp_conn *conn;
  (void)ud;
  while ((conn = rudp_endpoint_accept(ep)) != NULL) {
    if (!get_cs(conn)) {
      rudp_conn_abort(conn, 1, "out of memory", rudp_event_now());
    }
  }
  return 0;
}

/* free_cs unlinks and frees |cs|, deleting the temporary files of its
 * unfinished streams; returns how many there were. */
static size_t free_cs(cstate *cs) {
  rstream *rs, *next;
  size_t unfinished = 0;

  for (rs = cs->streams; rs; rs = next) {
    next = rs->next;
    if (rs->stage != ST_DONE) {
      ++unfinished;
      drop_tmp(rs);
    }
    free(rs);
  }
  if (cs->prev) {
    cs->prev->next = cs->next;
  } else {
    g_recv->conns = cs->next;
  }
  if (cs->next) {
    cs->next->prev = cs->prev;
  }
  free(cs);
  return unfinished;
}

static void on_closed(rudp_conn *conn, int error, void *ud) {
  receiver *r = g_recv;
  cstate *cs = ud;
  size_t unfinished, nok, nfail;

  if (!cs) {
    return; /* a half-open connection that never got anywhere */
  }
  nok = cs->nok;
  nfail = cs->nfail;
  rudp_conn_set_user_data(conn, NULL);
  unfinished = free_cs(cs);
  if (error != 0) {
    fprintf(stderr, TOOL ": connection: %s\n", rudp_strerror(error));
  } else if (unfinished) {
    fprintf(stderr, TOOL ": connection: %zu files incomplete\n", unfinished);
  }
  if (!r->quiet) {
    printf(TOOL ": transfer done: %zu verified, %zu failed\n", nok,
           nfail + unfinished);
    fflush(stdout);
  }
  if (r->once && !r->done) {
    r->done = 1;
    r->status = error == 0 && nfail == 0 && unfinished == 0 ? 0 : 1;
    event_base_loopbreak(r->base);
  }
}

/* on_signal stops the loop on SIGINT / SIGTERM so that temporary files
 * of unfinished transfers are deleted. */
static void on_signal(evutil_socket_t sig, short what, void *arg) {
  receiver *r = arg;
  (void)sig;
  (void)what;
  r->interrupted = 1;
  event_base_loopbreak(r->base);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                       {"port", required_argument, NULL, 'p'},
                                       {"output", required_argument, NULL, 'o'},
                                       {"once", no_argument, NULL, '1'},
                                       {"force", no_argument, NULL, 'f'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'V'},
                                       {"cc", required_argument, NULL, 'c'},
                                       {"netem", required_argument, NULL, 'n'},
                                       {"tls", no_argument, NULL, 'T'},
                                       {NULL, 0, NULL, 0}};
  static receiver rcv;
  const char *dir = ".", *laddr = NULL, *netem = NULL;
  uint16_t port = TOOL_DEFAULT_PORT;
  rudp_cc_algo cc = RUDP_CC_CUBIC;
  rudp_endpoint_callbacks epcb;
  rudp_callbacks cb;
  rudp_event_settings st;
  struct sockaddr_in6 sin6;
  struct sockaddr_in sin;
  struct sockaddr *sa;
  socklen_t salen;
  rudp_event *ev = NULL;
  struct event *sigint, *sigterm;
  int c, rv;

  g_recv = &rcv;
  rcv.dirfd = -1;
  while ((c = getopt_long(argc, argv, "l:p:o:qh", opts, NULL)) != -1) {
    switch (c) {
    case 'l':
      laddr = optarg;
      break;
    case 'p':
      if (tool_parse_port(optarg, 0, &port) != 0) {
        fprintf(stderr, TOOL ": bad port: %s\n", optarg);
        return 2;
      }
      break;
    case 'o':
      dir = optarg;
      break;
    case '1':
      rcv.once = 1;
      break;
    case 'f':
      rcv.force = 1;
      break;
    case 'q':
      rcv.quiet = 1;
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
  if (optind < argc) {
    fprintf(stderr, TOOL ": unexpected argument: %s\n", argv[optind]);
    usage(stderr);
    return 2;
  }
  memset(&sin6, 0, sizeof(sin6));
  memset(&sin, 0, sizeof(sin));
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sa = (struct sockaddr *)&sin6;
  salen = sizeof(sin6);
  if (laddr) {
    if (inet_pton(AF_INET, laddr, &sin.sin_addr) == 1) {
      sa = (struct sockaddr *)&sin;
      salen = sizeof(sin);
    } else if (inet_pton(AF_INET6, laddr, &sin6.sin6_addr) != 1) {
      fprintf(stderr, TOOL ": bad listen address: %s\n", laddr);
      return 2;
    }
  }
  rcv.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rcv.dirfd < 0) {
    fprintf(stderr, TOOL ": open %s: %s\n", dir, strerror(errno));
    return 1;
  }

  memset(&epcb, 0, sizeof(epcb));
  epcb.accept_ready = on_accept_ready;
  memset(&cb, 0, sizeof(cb));
  cb.stream_readable = on_stream_readable;
  cb.stream_reset = on_stream_reset;
  cb.closed = on_closed;
  rudp_event_settings_default(&st);
  st.endpoint.listen = 1;
  st.endpoint.conn.cc_algo = cc;
  tool_bulk_settings(&st.endpoint.conn);
  st.netem = netem;
  rcv.base = event_base_new();
  if (!rcv.base) {
    fprintf(stderr, TOOL ": startup: event_base_new failed\n");
    close(rcv.dirfd);
    return 1;
  }
  rv = rudp_event_endpoint_new(&ev, rcv.base, sa, salen, &st, &epcb, &cb, NULL);
  if (rv != 0) {
    fprintf(stderr, TOOL ": listen: %s\n", tool_endpoint_error(rv, netem));
    event_base_free(rcv.base);
    close(rcv.dirfd);
    return 1;
  }
  tool_print_listening(TOOL, ev);
  rcv.status = 1;
  sigint = evsignal_new(rcv.base, SIGINT, on_signal, &rcv);
  sigterm = evsignal_new(rcv.base, SIGTERM, on_signal, &rcv);
  if (sigint) {
    event_add(sigint, NULL);
  }
  if (sigterm) {
    event_add(sigterm, NULL);
  }
  event_base_dispatch(rcv.base);
  if (rcv.once && !rcv.done) {
    fprintf(stderr, TOOL ": receive: %s\n",
            rcv.interrupted ? "interrupted" : "event loop ended early");
  }
  rudp_event_endpoint_free(ev);
  /* Connections still open were freed without their closed callback. */
  while (rcv.conns) {
    free_cs(rcv.conns);
  }
  if (sigint) {
    event_free(sigint);
  }
  if (sigterm) {
    event_free(sigterm);
  }
  event_base_free(rcv.base);
  close(rcv.dirfd);
  if (!rcv.once) {
    return rcv.interrupted ? 0 : 1;
  }
  return rcv.done ? rcv.status : 1;
}
