/*
 * rudp-recv [-l ADDR] [-p PORT] [-o DIR] [--once] [-q]: receives files
 * sent by rudp-send (docs/TOOLS.md) into DIR, verifies each one's SHA-256
 * and makes it appear atomically (written as DIR/.NAME.rudp-part, renamed
 * once verified).  The partial file of an interrupted transfer is kept
 * for rudp-send --resume.  It never writes outside DIR: names must be one
 * plain path component.
 */
/* Files over 2 GiB on 32-bit systems too (off_t for lseek, pread). */
#define _FILE_OFFSET_BITS 64

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>

#include <rudp/rudp.h>
#include <rudp/rudp_event.h>

#include "common.h"
#include "tls_opts.h"

#define TOOL "rudp-recv"
#define CHUNK (64 * 1024)
/* The partial file of NAME is DIR/.NAME.rudp-part. */
#define PART_SUFFIX ".rudp-part"
/* Bytes of partial files hashed per turn of the event loop (tens of
 * milliseconds): the loop goes on answering meanwhile. */
#define HASH_SLICE (8u << 20)

/* A stream's stages: the header; with RUDPR1, hashing the partial file
 * (in slices, see on_hash), then the sender's 8-byte offset (after our
 * HAVE line); the data; done (answered). */
enum { ST_HDR, ST_HASH, ST_OFF, ST_DATA, ST_DONE };

/* What happens to a partial file when its transfer ends unverified. */
enum { PART_DELETE, PART_KEEP, PART_KEEP_QUIET };

typedef struct rstream {
  struct rstream *next;
  int64_t sid;
  int stage;
  uint8_t hdr[TOOL_HDR_FIXED + TOOL_NAME_MAX];
  size_t hdrlen;
  char name[TOOL_NAME_MAX + 1];
  uint64_t size, got;
  /* have: bytes of the partial file offered in the HAVE line (hashed so
   * far: hashed); from: the offset the sender's data starts at; off,
   * offlen: that offset as it arrives. */
  uint64_t have, hashed, from;
  uint8_t off[8];
  size_t offlen;
  uint8_t md[TOOL_SHA256_LEN];
  tool_sha256 ctx;
  /* fd is the partial file, open and locked (flock) from the header to
   * the answer; -1 otherwise. */
  int fd;
  char part[TOOL_NAME_MAX + 1];
} rstream;

typedef struct cstate {
  /* prev, next link the receiver's connections (cleanup on a signal; a
   * newer transfer of a file supersedes an older one). */
  struct cstate *prev, *next;
  rudp_conn *conn;
  rstream *streams;
  size_t nok, nfail;
} cstate;

typedef struct receiver {
  struct event_base *base;
  /* hash_ev runs on_hash while partial files are being hashed. */
  struct event *hash_ev;
  int dirfd;
  int once, quiet, force;
  int done, status, interrupted;
  cstate *conns;
  /* buf takes stream data; hashbuf the partial file's prefix (read while
   * buf still holds the chunk being consumed). */
  uint8_t buf[CHUNK];
  uint8_t hashbuf[CHUNK];
} receiver;

/* The tools are single-threaded and have one receiver: connection
 * callbacks reach it here because a server connection's user data is
 * NULL until it is accepted (rudp.h, rudp_endpoint_new). */
static receiver *g_recv;

static void usage(FILE *f) {
  fprintf(f,
          "usage: " TOOL " [options] [--tls [--cert F --key F]]\n"
          "Receive files sent by rudp-send into DIR, verified by SHA-256.\n"
          "  -l, --listen ADDR  listen address (default ::, dual stack)\n"
          "  -p, --port PORT    listen port (default %u; 0 picks a free one)\n"
          "  -o, --output DIR   directory for received files (default .)\n"
          "  --once             exit after one sender's transfer\n"
          "  --force            overwrite existing files\n"
          "  -q, --quiet        print only errors and the listening line\n"
          "  --cc reno|cubic    congestion controller (default cubic)\n"
          "  --netem SPEC       impair sent datagrams (see "
          "rudp-recv(1))\n" TOOL_TLS_HELP_TLS TOOL_TLS_HELP_SERVER
          "  -h, --help         show this help\n"
          "  --version          show the version\n",
          TOOL_DEFAULT_PORT);
}

static cstate *get_cs(rudp_conn *conn) {
  cstate *cs = rudp_conn_get_user_data(conn);
  if (!cs) {
    cs = calloc(1, sizeof(*cs));
    if (cs) {
      cs->conn = conn;
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

/* release_part closes |rs|'s partial file: deleted (PART_DELETE), or kept
 * for rudp-send --resume if it holds data (PART_KEEP says so on stderr).
 * Deleting happens before the close, under the lock. */
static void release_part(rstream *rs, int what) {
  struct stat st;

  if (rs->fd < 0) {
    return;
  }
  if (what != PART_DELETE && fstat(rs->fd, &st) == 0 && st.st_size > 0) {
    if (what == PART_KEEP) {
      fprintf(stderr,
              TOOL ": %s: incomplete: kept %" PRIu64 " bytes in %s for "
                   "rudp-send --resume\n",
              rs->name, (uint64_t)st.st_size, rs->part);
    }
  } else {
    unlinkat(g_recv->dirfd, rs->part, 0);
  }
  close(rs->fd);
  rs->fd = -1;
}

/* answer sends the status line with FIN and finishes |rs|; a partial file
 * still open is released as |part| says. */
static void answer(rudp_conn *conn, cstate *cs, rstream *rs, const char *err,
                   int part) {
  char line[256];
  int n;

  release_part(rs, part);
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
      if (rs->from > 0) {
        printf(TOOL ": %s: %" PRIu64 " bytes verified (resumed at %" PRIu64
                    ")\n",
               rs->name, rs->size, rs->from);
      } else {
        printf(TOOL ": %s: %" PRIu64 " bytes verified\n", rs->name, rs->size);
      }
      fflush(stdout);
    }
  }
  /* A short line always fits the stream's send buffer (at most a HAVE
   * line went before it). */
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

/* part_name writes the partial file's name for |name| to |out|
 * (TOOL_NAME_MAX + 1 bytes): ".NAME.rudp-part", or for a name too long
 * for that ".rudp-part.HEX" with the SHA-256 of the name.  Either is one
 * plain path component since |name| passed tool_check_name. */
static void part_name(char *out, const char *name) {
  size_t nl = strlen(name);

  if (1 + nl + sizeof(PART_SUFFIX) - 1 <= TOOL_NAME_MAX) {
    out[0] = '.';
    memcpy(out + 1, name, nl);
    memcpy(out + 1 + nl, PART_SUFFIX, sizeof(PART_SUFFIX));
  } else {
    uint8_t md[TOOL_SHA256_LEN];
    char hex[2 * TOOL_SHA256_LEN + 1];
    tool_sha256 ctx;
    tool_sha256_init(&ctx);
    tool_sha256_update(&ctx, name, nl);
    tool_sha256_final(&ctx, md);
    tool_hex(hex, md);
    snprintf(out, TOOL_NAME_MAX + 1, PART_SUFFIX ".%s", hex);
  }
}

/* supersede ends the older transfers of |rs|'s partial file in this
 * receiver: a sender that vanished leaves its connection (and the lock)
 * until the idle timeout, and its --resume must not wait for that. */
static void supersede(rstream *rs) {
  cstate *cs;
  rstream *o;

  for (cs = g_recv->conns; cs; cs = cs->next) {
    for (o = cs->streams; o; o = o->next) {
      if (o != rs && o->fd >= 0 && strcmp(o->part, rs->part) == 0) {
        answer(cs->conn, cs, o, "superseded by a newer transfer of the file",
               PART_KEEP_QUIET);
      }
    }
  }
}

/* open_part opens and locks |rs|'s partial file, creating it if needed,
 * and stores its size in |*psize|.  Returns NULL or why not. */
static const char *open_part(rstream *rs, uint64_t *psize) {
  struct stat st, st2;
  int i, fd;

  for (i = 0; i < 3; ++i) {
    /* O_NOFOLLOW: a symbolic link planted under the predictable name must
     * not lead the writes outside DIR; a hard link (st_nlink) neither. */
    fd = openat(g_recv->dirfd, rs->part,
                O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    if (fd < 0) {
      return errno == ELOOP ? "the partial file is a symbolic link"
             : errno == ENOSPC || errno == EDQUOT
                 ? "no space left on the receiver"
                 : "cannot create the partial file";
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
      close(fd);
      return "the partial file is not a plain file";
    }
    /* Another rudp-recv on the same DIR may be writing it. */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      return "the partial file is in use by another receiver";
    }
    /* The name may have been renamed into place or deleted between the
     * open and the lock: the lock is good only if it still names this
     * file. */
    if (fstatat(g_recv->dirfd, rs->part, &st2, AT_SYMLINK_NOFOLLOW) == 0 &&
        st2.st_dev == st.st_dev && st2.st_ino == st.st_ino) {
      rs->fd = fd;
      *psize = (uint64_t)st.st_size;
      return NULL;
    }
    close(fd);
  }
  return "the partial file keeps changing";
}

/* restart empties the partial file: the data starts at 0. */
static const char *restart(rstream *rs) {
  if (ftruncate(rs->fd, 0) != 0 || lseek(rs->fd, 0, SEEK_SET) != 0) {
    return "cannot write the file";
  }
  tool_sha256_init(&rs->ctx);
  rs->got = 0;
  return NULL;
}

/* offer_part writes "HAVE LEN HEX": the length of the partial file and
 * the SHA-256 of its bytes, hashed into rs->ctx (the whole file's hash
 * goes on from there). */
static const char *offer_part(rudp_conn *conn, rstream *rs) {
  uint8_t md[TOOL_SHA256_LEN];
  char hex[2 * TOOL_SHA256_LEN + 1], line[128];
  tool_sha256 prefix = rs->ctx;
  int n;

  tool_sha256_final(&prefix, md);
  tool_hex(hex, md);
  rs->got = rs->have;
  rs->stage = ST_OFF;
  n = snprintf(line, sizeof(line), "HAVE %" PRIu64 " %s\n", rs->have, hex);
  if (rudp_conn_stream_write(conn, rs->sid, (const uint8_t *)line, (size_t)n,
                             0) != n) {
    return "cannot answer";
  }
  return NULL;
}

/* hash_slice hashes up to |budget| more bytes of |rs|'s partial file;
 * returns how many, or -1 on a read error. */
static int64_t hash_slice(rstream *rs, uint64_t budget) {
  receiver *r = g_recv;
  uint64_t done = 0;

  while (done < budget && rs->hashed < rs->have) {
    uint64_t left = rs->have - rs->hashed;
    size_t want = left < sizeof(r->hashbuf) ? (size_t)left : sizeof(r->hashbuf);
    ssize_t got = read(rs->fd, r->hashbuf, want);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      return -1;
    }
    tool_sha256_update(&rs->ctx, r->hashbuf, (size_t)got);
    rs->hashed += (uint64_t)got;
    done += (uint64_t)got;
  }
  return (int64_t)done;
}

/* on_hash hashes the next slice of the partial files being offered (all
 * streams in ST_HASH, HASH_SLICE bytes in all) and sends each one's HAVE
 * line when it is done. */
static void on_hash(evutil_socket_t fd, short what, void *arg) {
  receiver *r = arg;
  struct timeval now = {0, 0};
  uint64_t budget = HASH_SLICE;
  int more = 0;
  cstate *cs;
  rstream *rs;
  (void)fd;
  (void)what;

  for (cs = r->conns; cs; cs = cs->next) {
    for (rs = cs->streams; rs; rs = rs->next) {
      const char *why = NULL;
      int64_t n;
      if (rs->stage != ST_HASH) {
        continue;
      }
      n = budget > 0 ? hash_slice(rs, budget) : 0;
      if (n < 0) {
        why = "cannot read the partial file";
      } else if (rs->hashed == rs->have) {
        why = offer_part(cs->conn, rs);
      } else {
        more = 1;
      }
      budget -= n > 0 ? (uint64_t)n : 0;
      if (why) {
        answer(cs->conn, cs, rs, why, PART_KEEP);
      }
    }
  }
  if (more) {
    evtimer_add(r->hash_ev, &now);
  }
}

/* start_file checks the header's name, opens the partial file and, for
 * RUDPR1, offers what it holds. */
static const char *start_file(rudp_conn *conn, rstream *rs, size_t nl) {
  receiver *r = g_recv;
  const char *why = tool_check_name(rs->hdr + 8, nl);
  int resume = memcmp(rs->hdr, TOOL_MAGIC_RESUME, TOOL_MAGICLEN) == 0;
  struct timeval now = {0, 0};
  struct stat st;
  uint64_t len;

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
  part_name(rs->part, rs->name);
  supersede(rs);
  why = open_part(rs, &len);
  if (why) {
    return why;
  }
  if (!resume) {
    rs->stage = ST_DATA;
    return restart(rs);
  }
  /* A partial file longer than the file cannot be its prefix. */
  if (len > rs->size) {
    why = restart(rs);
    if (why) {
      return why;
    }
    len = 0;
  }
  tool_sha256_init(&rs->ctx);
  rs->have = len;
  rs->hashed = 0;
  rs->stage = ST_HASH;
  if (len == 0) {
    return offer_part(conn, rs);
  }
  evtimer_add(r->hash_ev, &now);
  return NULL;
}

/* take_offset handles the sender's offset after HAVE: our length (its
 * prefix matched) or 0 (it did not: start again). */
static const char *take_offset(rstream *rs) {
  rs->from = get64be(rs->off);
  rs->stage = ST_DATA;
  if (rs->from == rs->have) {
    return NULL;
  }
  if (rs->from == 0) {
    return restart(rs);
  }
  return "bad resume offset";
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
    if (renameat(r->dirfd, rs->part, r->dirfd, rs->name) != 0) {
      return "cannot rename the file into place";
    }
  } else {
    /* link() fails with EEXIST where rename() would replace. */
    if (linkat(r->dirfd, rs->part, r->dirfd, rs->name, 0) != 0) {
      return errno == EEXIST ? "file exists (the receiver needs --force)"
                             : "cannot rename the file into place";
    }
    unlinkat(r->dirfd, rs->part, 0);
  }
  close(rs->fd);
  rs->fd = -1;
  return NULL;
}

/* consume takes |len| received bytes of |rs|. */
static const char *consume(rudp_conn *conn, rstream *rs, const uint8_t *p,
                           size_t len) {
  const char *why;

  while (len > 0 && rs->stage != ST_DONE) {
    if (rs->stage == ST_HDR) {
      size_t need = 8, n;
      if (rs->hdrlen >= 8) {
        size_t nl = (size_t)rs->hdr[6] << 8 | rs->hdr[7];
        if (memcmp(rs->hdr, TOOL_MAGIC, TOOL_MAGICLEN) != 0 &&
            memcmp(rs->hdr, TOOL_MAGIC_RESUME, TOOL_MAGICLEN) != 0) {
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
        why = start_file(conn, rs, need - TOOL_HDR_FIXED);
        if (why) {
          return why;
        }
      }
      continue;
    }
    if (rs->stage == ST_HASH) {
      /* The sender waits for HAVE before it sends anything more. */
      return "data before the resume offer";
    }
    if (rs->stage == ST_OFF) {
      size_t n = sizeof(rs->off) - rs->offlen < len
                     ? sizeof(rs->off) - rs->offlen
                     : len;
      memcpy(rs->off + rs->offlen, p, n);
      rs->offlen += n;
      p += n;
      len -= n;
      if (rs->offlen == sizeof(rs->off) && (why = take_offset(rs)) != NULL) {
        return why;
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
    why = consume(conn, rs, r->buf, (size_t)n);
    if (!why && fin) {
      why = rs->stage == ST_HDR    ? "truncated header"
            : rs->stage != ST_DATA ? "truncated resume offset"
                                   : finish_file(rs);
      if (!why) {
        answer(conn, cs, rs, NULL, PART_DELETE);
        break;
      }
    }
    if (why) {
      /* The data cannot be trusted (or did not fit): no partial file. */
      answer(conn, cs, rs, why, PART_DELETE);
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
    answer(conn, cs, rs, "the sender reset the stream", PART_KEEP);
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

/* free_cs unlinks and frees |cs|, keeping the partial files of its
 * unfinished streams for rudp-send --resume; returns how many there
 * were. */
static size_t free_cs(cstate *cs) {
  rstream *rs, *next;
  size_t unfinished = 0;

  for (rs = cs->streams; rs; rs = next) {
    next = rs->next;
    if (rs->stage != ST_DONE) {
      ++unfinished;
      release_part(rs, PART_KEEP);
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

/* on_signal stops the loop on SIGINT / SIGTERM so that the partial files
 * of unfinished transfers are closed (and kept) in order. */
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
                                       TOOL_TLS_LONGOPTS,
                                       {NULL, 0, NULL, 0}};
  tool_tls_opts tlso;
  rudp_tls_ctx *tls = NULL;
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
  memset(&tlso, 0, sizeof(tlso));
  while ((c = getopt_long(argc, argv, ":l:p:o:qh", opts, NULL)) != -1) {
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
    default:
      if (tool_tls_opt(&tlso, c, optarg)) {
        break;
      }
      tool_bad_option(TOOL, c, argv);
      return 2;
    }
  }
  if ((rv = tool_tls_check(TOOL, &tlso, 1)) != 0) {
    return rv;
  }
  if (optind < argc) {
    fprintf(stderr, TOOL ": unexpected argument: %s (see " TOOL " -h)\n",
            argv[optind]);
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
  /* The fingerprint line (ephemeral certificate) comes before the
   * listening line: a script reads both before starting a sender. */
  if ((rv = tool_tls_ctx(TOOL, &tlso, 1, "rudp-file", &tls)) != 0) {
    close(rcv.dirfd);
    return rv;
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
  st.endpoint.conn.tls = tls;
  st.netem = netem;
  rcv.base = event_base_new();
  rcv.hash_ev = rcv.base ? evtimer_new(rcv.base, on_hash, &rcv) : NULL;
  if (!rcv.hash_ev) {
    fprintf(stderr, TOOL ": startup: event_base_new failed\n");
    if (rcv.base) {
      event_base_free(rcv.base);
    }
    close(rcv.dirfd);
    rudp_tls_ctx_free(tls);
    return 1;
  }
  rv = rudp_event_endpoint_new(&ev, rcv.base, sa, salen, &st, &epcb, &cb, NULL);
  if (rv != 0) {
    fprintf(stderr, TOOL ": listen: %s\n", tool_endpoint_error(rv, netem));
    event_free(rcv.hash_ev);
    event_base_free(rcv.base);
    close(rcv.dirfd);
    rudp_tls_ctx_free(tls);
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
  tool_hold_signals();
  if (sigint) {
    event_free(sigint);
  }
  if (sigterm) {
    event_free(sigterm);
  }
  event_free(rcv.hash_ev);
  event_base_free(rcv.base);
  close(rcv.dirfd);
  rudp_tls_ctx_free(tls);
  if (!rcv.once) {
    return rcv.interrupted ? 0 : 1;
  }
  return rcv.done ? rcv.status : 1;
}
