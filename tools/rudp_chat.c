/*
 * rudp-chat -s [-l ADDR] [-p PORT] | rudp-chat [-p PORT] -n NAME HOST: a
 * line-based chat room over the libevent binding (docs/TOOLS.md).  Each
 * client opens one bidirectional stream, sends "NAME name\n" and then one
 * line per message; the server writes each line, prefixed "<name> ", to
 * every other member's stream, plus "* name joined" / "* name left".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>

#include <rudp/rudp.h>
#include <rudp/rudp_event.h>

#include "common.h"
#include "tls_opts.h"

#define TOOL "rudp-chat"
/* Longest line sent; longer stdin lines are split into pieces this long. */
#define LINE_MAX_LEN 4096
#define CHAT_NAME_MAX 32
/* A relayed line: "<name> " + line + "\n". */
#define RELAY_MAX (CHAT_NAME_MAX + LINE_MAX_LEN + 8)

static void usage(FILE *f) {
  fprintf(f,
          "usage: " TOOL " -s [-l ADDR] [-p PORT] [--tls [--cert F --key F]]\n"
          "       " TOOL " [-p PORT] [--tls [--ca F | --pin SHA256 | "
          "--insecure]]\n"
          "                 -n NAME HOST\n"
          "A chat room: -s runs the room, -n NAME HOST joins it; each stdin\n"
          "line goes to everyone else as \"<NAME> line\".\n"
          "  -s, --server       run the room server\n"
          "  -l, --listen ADDR  server listen address (default ::)\n"
          "  -p, --port PORT    port (default %u; server: 0 picks a free one)\n"
          "  -n, --name NAME    your name in the room (client)\n"
          "  --cc reno|cubic    congestion controller (default cubic)\n"
          "  --netem SPEC       impair sent datagrams (see "
          "rudp-chat(1))\n" TOOL_TLS_HELP_TLS TOOL_TLS_HELP_SERVER
              TOOL_TLS_HELP_CLIENT "  -h, --help         show this help\n"
          "  --version          show the version\n"
          "Type /quit or end stdin to leave.\n",
          TOOL_DEFAULT_PORT);
}

/* check_name accepts 1 to CHAT_NAME_MAX printable bytes without spaces. */
static int check_name(const char *p, size_t len) {
  size_t i;
  if (len == 0 || len > CHAT_NAME_MAX) {
    return -1;
  }
  for (i = 0; i < len; ++i) {
    unsigned char c = (unsigned char)p[i];
    if (c <= 0x20 || c == 0x7f) {
      return -1;
    }
  }
  return 0;
}

/* conn_settings: a short idle timeout for tests comes from the
 * environment variable RUDP_CHAT_IDLE_MS (documented in rudp-chat(1));
 * keepalives at a third of it keep a quiet but live connection open and
 * make a dead peer noticed (ICMP unreachable or idle timeout). */
static void conn_settings(rudp_settings *s, rudp_cc_algo cc) {
  const char *e = getenv("RUDP_CHAT_IDLE_MS");
  s->cc_algo = cc;
  if (e && atol(e) > 0) {
    s->idle_timeout = (rudp_duration)atol(e) * RUDP_MILLISECONDS;
  }
  if (s->idle_timeout > 0) {
    s->keepalive_interval = s->idle_timeout / 3;
  }
}

/* ------------------------------------------------------------ server */

typedef struct member {
  struct member *prev, *next;
  rudp_conn *conn;
  int64_t sid;
  int has_sid, joined, kicked;
  char name[CHAT_NAME_MAX + 1];
  char in[LINE_MAX_LEN];
  size_t inlen;
} member;

typedef struct server {
  struct event_base *base;
  member *members;
  int stopping;
} server;

/* A server connection's user data is NULL until it is accepted (rudp.h):
 * callbacks reach the one server here. */
static server *g_srv;

static member *get_member(rudp_conn *conn) {
  member *m = rudp_conn_get_user_data(conn);
  if (!m) {
    m = calloc(1, sizeof(*m));
    if (m) {
      m->conn = conn;
      rudp_conn_set_user_data(conn, m);
      m->next = g_srv->members;
      if (m->next) {
        m->next->prev = m;
      }
      g_srv->members = m;
    }
  }
  return m;
}

static void free_member(member *m) {
  if (m->prev) {
    m->prev->next = m->next;
  } else {
    g_srv->members = m->next;
  }
  if (m->next) {
    m->next->prev = m->prev;
  }
  free(m);
}

/* broadcast writes |len| bytes to every joined member but |from|.  A member
 * whose stream cannot take a whole line is too slow: a partial line would
 * garble the room, so it is disconnected (after the loop, so the list is
 * not changed while it is walked). */
static void broadcast(member *from, const char *text, size_t len) {
  member *m;
  for (m = g_srv->members; m; m = m->next) {
    rudp_ssize n;
    if (m == from || !m->joined || !m->has_sid || m->kicked) {
      continue;
    }
    n = rudp_conn_stream_write(m->conn, m->sid, (const uint8_t *)text, len, 0);
    if (n != (rudp_ssize)len) {
      m->kicked = 1;
    }
  }
  for (m = g_srv->members; m; m = m->next) {
    if (m->kicked == 1) {
      m->kicked = 2;
      fprintf(stderr, TOOL ": %s: too slow, disconnected\n", m->name);
      rudp_conn_abort(m->conn, 1, "too slow", rudp_event_now());
    }
  }
}

static void refuse(member *m, const char *why) {
  char line[64];
  int n = snprintf(line, sizeof(line), "ERR %s\n", why);
  m->kicked = 2;
  /* A short line always fits a fresh stream's send buffer; the graceful
   * close delivers it before CONNECTION_CLOSE. */
  rudp_conn_stream_write(m->conn, m->sid, (const uint8_t *)line, (size_t)n, 1);
  rudp_conn_close(m->conn, rudp_event_now());
}

static void server_line(member *m, const char *p, size_t len) {
  char out[RELAY_MAX];
  member *o;
  int n;

  if (m->kicked) {
    return;
  }
  if (!m->joined) {
    if (len < 5 || memcmp(p, "NAME ", 5) != 0 ||
        check_name(p + 5, len - 5) != 0) {
      refuse(m, "bad name");
      return;
    }
    for (o = g_srv->members; o; o = o->next) {
      if (o->joined && strlen(o->name) == len - 5 &&
          memcmp(o->name, p + 5, len - 5) == 0) {
        refuse(m, "name taken");
        return;
      }
    }
    memcpy(m->name, p + 5, len - 5);
    m->name[len - 5] = 0;
    m->joined = 1;
    printf(TOOL ": %s joined\n", m->name);
    fflush(stdout);
    n = snprintf(out, sizeof(out), "* %s joined\n", m->name);
    broadcast(m, out, (size_t)n);
    return;
  }
  n = snprintf(out, sizeof(out), "<%s> %.*s\n", m->name, (int)len, p);
  broadcast(m, out, (size_t)n);
}

static int srv_stream_readable(rudp_conn *conn, int64_t sid, void *ud) {
  member *m = ud ? ud : get_member(conn);
  uint8_t buf[4096];
  rudp_ssize n;
  int fin = 0;
  size_t i;

  if (!m) {
    return RUDP_ERR_CALLBACK_FAILURE; /* out of memory */
  }
  if (!m->has_sid) {
    m->sid = sid;
    m->has_sid = 1;
  } else if (m->sid != sid) {
    /* One stream per member: others are refused. */
    rudp_conn_stream_stop_sending(conn, sid, 1);
    return 0;
  }
  while (!m->kicked &&
         (n = rudp_conn_stream_read(conn, sid, buf, sizeof(buf), &fin)) > 0) {
    for (i = 0; i < (size_t)n && !m->kicked; ++i) {
      if (buf[i] == '\n') {
        server_line(m, m->in, m->inlen);
        m->inlen = 0;
        continue;
      }
      if (m->inlen == sizeof(m->in)) {
        /* Longer than LINE_MAX_LEN: split (a line of exactly that length
         * is followed by its newline, handled above). */
        server_line(m, m->in, m->inlen);
        m->inlen = 0;
      }
      m->in[m->inlen++] = (char)buf[i];
    }
  }
  return 0;
}

static int srv_accept_ready(rudp_endpoint *ep, void *ud) {
  rudp_conn *conn;
  (void)ud;
  while ((conn = rudp_endpoint_accept(ep)) != NULL) {
    if (!get_member(conn)) {
      rudp_conn_abort(conn, 1, "out of memory", rudp_event_now());
    }
  }
  return 0;
}

static void srv_closed(rudp_conn *conn, int error, void *ud) {
  member *m = ud;
  char out[64];
  int n;

  (void)error;
  if (!m) {
    return;
  }
  rudp_conn_set_user_data(conn, NULL);
  if (m->joined) {
    m->joined = 0;
    printf(TOOL ": %s left\n", m->name);
    fflush(stdout);
    n = snprintf(out, sizeof(out), "* %s left\n", m->name);
    broadcast(m, out, (size_t)n);
  }
  free_member(m);
}

static void on_grace_end(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  event_base_loopbreak(arg);
}

/* on_signal (SIGINT, SIGTERM) closes every member's connection with the
 * FIN first, so clients learn it at once instead of waiting for their
 * idle timeout, and stops the loop a moment later (the
 * CONNECTION_CLOSE frames leave from the loop).  A second signal stops at
 * once. */
static void on_signal(evutil_socket_t sig, short what, void *arg) {
  server *srv = arg;
  struct timeval grace = {0, 300000};
  member *m;
  (void)sig;
  (void)what;
  if (srv->stopping || !srv->members) {
    event_base_loopbreak(srv->base);
    return;
  }
  srv->stopping = 1;
  for (m = srv->members; m; m = m->next) {
    m->joined = 0; /* no "left" notices to members being closed */
    m->kicked = 2;
    /* FIN on the member's stream tells the client the room is closed
     * right away (the graceful close would only end after its linger and
     * draining periods). */
    if (m->has_sid) {
      rudp_conn_stream_shutdown(m->conn, m->sid);
    }
    rudp_conn_close(m->conn, rudp_event_now());
  }
  event_base_once(srv->base, -1, EV_TIMEOUT, on_grace_end, srv->base, &grace);
}

static int run_server(const char *laddr, uint16_t port, rudp_cc_algo cc,
                      const char *netem, rudp_tls_ctx *tls) {
  static server srv;
  rudp_endpoint_callbacks epcb;
  rudp_callbacks cb;
  rudp_event_settings st;
  struct sockaddr_in6 sin6;
  struct sockaddr_in sin;
  struct sockaddr *sa;
  socklen_t salen;
  rudp_event *ev = NULL;
  struct event *sigint, *sigterm;
  int rv;

  g_srv = &srv;
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
  memset(&epcb, 0, sizeof(epcb));
  epcb.accept_ready = srv_accept_ready;
  memset(&cb, 0, sizeof(cb));
  cb.stream_readable = srv_stream_readable;
  cb.closed = srv_closed;
  rudp_event_settings_default(&st);
  st.endpoint.listen = 1;
  conn_settings(&st.endpoint.conn, cc);
  st.endpoint.conn.tls = tls;
  st.netem = netem;
  srv.base = event_base_new();
  if (!srv.base) {
    fprintf(stderr, TOOL ": startup: event_base_new failed\n");
    return 1;
  }
  rv = rudp_event_endpoint_new(&ev, srv.base, sa, salen, &st, &epcb, &cb, NULL);
  if (rv != 0) {
    fprintf(stderr, TOOL ": listen: %s\n", tool_endpoint_error(rv, netem));
    event_base_free(srv.base);
    return 1;
  }
  tool_print_listening(TOOL, ev);
  sigint = evsignal_new(srv.base, SIGINT, on_signal, &srv);
  sigterm = evsignal_new(srv.base, SIGTERM, on_signal, &srv);
  if (sigint) {
    event_add(sigint, NULL);
  }
  if (sigterm) {
    event_add(sigterm, NULL);
  }
  event_base_dispatch(srv.base);
  rudp_event_endpoint_free(ev);
  /* Connections still open were freed without their closed callback. */
  while (srv.members) {
    free_member(srv.members);
  }
  tool_hold_signals();
  if (sigint) {
    event_free(sigint);
  }
  if (sigterm) {
    event_free(sigterm);
  }
  event_base_free(srv.base);
  return 0;
}

/* ------------------------------------------------------------ client */

typedef struct client {
  struct event_base *base;
  rudp_conn *conn;
  struct event *stdin_ev;
  int64_t sid;
  int has_sid, stdin_on, leaving, close_started, closed, error, established;
  int refused, got_line, server_fin;
  const char *name;
  /* in: stdin bytes not yet a whole line; one byte more than a line, so
   * that a line of exactly LINE_MAX_LEN bytes is not split before its
   * newline is seen. */
  char in[LINE_MAX_LEN + 1];
  size_t inlen;
  /* out: lines the stream has not taken yet (stdin waits meanwhile). */
  char out[4 * (LINE_MAX_LEN + 1) + CHAT_NAME_MAX + 8];
  size_t outlen;
  /* rl: the line being received from the server. */
  char rl[RELAY_MAX];
  size_t rllen;
  char reason[128];
} client;

static void stdin_enable(client *c, int on) {
  if (on && !c->stdin_on && !c->leaving) {
    c->stdin_on = event_add(c->stdin_ev, NULL) == 0;
    if (!c->stdin_on) {
      fprintf(stderr, TOOL ": stdin: cannot watch it (a regular file?)\n");
      c->leaving = 1;
    }
  } else if (!on && c->stdin_on) {
    event_del(c->stdin_ev);
    c->stdin_on = 0;
  }
}

static void maybe_close(client *c) {
  if (c->leaving && c->outlen == 0 && !c->close_started && !c->closed) {
    c->close_started = 1;
    rudp_conn_close(c->conn, rudp_event_now());
  }
}

/* flush hands the pending lines to the stream; stdin is read again only
 * when all were taken, which bounds the memory used. */
static void flush(client *c) {
  while (c->outlen > 0 && c->has_sid) {
    rudp_ssize n = rudp_conn_stream_write(c->conn, c->sid, (uint8_t *)c->out,
                                          c->outlen, 0);
    if (n == RUDP_ERR_WOULDBLOCK) {
      break;
    }
    if (n < 0) {
      fprintf(stderr, TOOL ": send: %s\n", rudp_strerror((int)n));
      c->outlen = 0;
      c->leaving = 1;
      break;
    }
    memmove(c->out, c->out + n, c->outlen - (size_t)n);
    c->outlen -= (size_t)n;
  }
  stdin_enable(c, c->outlen == 0);
  maybe_close(c);
}

static void queue_line(client *c, const char *p, size_t len) {
  if (len == 5 && memcmp(p, "/quit", 5) == 0) {
    c->leaving = 1;
    stdin_enable(c, 0);
    return;
  }
  memcpy(c->out + c->outlen, p, len);
  c->out[c->outlen + len] = '\n';
  c->outlen += len + 1;
}

static void on_stdin(evutil_socket_t fd, short what, void *arg) {
  client *c = arg;
  ssize_t n;
  size_t start, i;
  (void)what;

  n = read(fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    return;
  }
  if (n <= 0) {
    if (c->inlen > 0) {
      queue_line(c, c->in, c->inlen); /* a last line without newline */
      c->inlen = 0;
    }
    c->leaving = 1;
    stdin_enable(c, 0);
    flush(c);
    return;
  }
  c->inlen += (size_t)n;
  start = 0;
  for (i = 0; i < c->inlen && !c->leaving; ++i) {
    if (c->in[i] == '\n') {
      size_t len = i - start;
      if (len > 0 && c->in[start + len - 1] == '\r') {
        --len;
      }
      queue_line(c, c->in + start, len);
      start = i + 1;
    }
  }
  if (!c->leaving && start == 0 && c->inlen == sizeof(c->in)) {
    queue_line(c, c->in, LINE_MAX_LEN); /* too long: split */
    start = LINE_MAX_LEN;
  }
  memmove(c->in, c->in + start, c->inlen - start);
  c->inlen -= start;
  if (c->leaving) {
    stdin_enable(c, 0);
  }
  flush(c);
}

static int cli_handshake_completed(rudp_conn *conn, void *ud) {
  client *c = ud;
  int n;

  c->established = 1;
  if (rudp_conn_open_stream(conn, 1, &c->sid) != 0) {
    /* The stream limit is not known yet: streams_available retries. */
    return 0;
  }
  c->has_sid = 1;
  n = snprintf(c->out, sizeof(c->out), "NAME %s\n", c->name);
  c->outlen = (size_t)n;
  flush(c);
  return 0;
}

static int cli_streams_available(rudp_conn *conn, int bidi, void *ud) {
  client *c = ud;
  if (bidi && !c->has_sid && c->established) {
    cli_handshake_completed(conn, ud);
  }
  return 0;
}

static int cli_stream_writable(rudp_conn *conn, int64_t sid, void *ud) {
  (void)conn;
  (void)sid;
  flush(ud);
  return 0;
}

static void cli_line(client *c, const char *p, size_t len) {
  if (!c->got_line && len >= 4 && memcmp(p, "ERR ", 4) == 0) {
    c->refused = 1;
    snprintf(c->reason, sizeof(c->reason), "%.*s", (int)(len - 4), p + 4);
  } else {
    fwrite(p, 1, len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
  }
  c->got_line = 1;
}

static int cli_stream_readable(rudp_conn *conn, int64_t sid, void *ud) {
  client *c = ud;
  uint8_t buf[4096];
  rudp_ssize n;
  int fin = 0;
  size_t i;

  while ((n = rudp_conn_stream_read(conn, sid, buf, sizeof(buf), &fin)) >= 0) {
    for (i = 0; i < (size_t)n; ++i) {
      if (buf[i] == '\n') {
        cli_line(c, c->rl, c->rllen);
        c->rllen = 0;
        continue;
      }
      if (c->rllen == sizeof(c->rl)) {
        cli_line(c, c->rl, c->rllen);
        c->rllen = 0;
      }
      c->rl[c->rllen++] = (char)buf[i];
    }
    if (fin) {
      /* The server ends its half only when it refuses us or closes the
       * room: either way this member is done. */
      c->server_fin = 1;
      if (!c->close_started) {
        event_base_loopbreak(c->base);
      }
      break;
    }
    if (n == 0) {
      break;
    }
  }
  return 0;
}

static void cli_closed(rudp_conn *conn, int error, void *ud) {
  client *c = ud;
  rudp_conn_close_info info;

  rudp_conn_get_close_info(conn, &info);
  /* The peer's reason, or ours when TLS failed (it names the cause:
   * "certificate verify failed: ..."). */
  if (info.reason[0] && !c->refused &&
      (!info.local || error == RUDP_ERR_CRYPTO ||
       (error <= RUDP_ERR_TLS_CERT_UNTRUSTED &&
        error >= RUDP_ERR_TLS_CONFIG))) {
    snprintf(c->reason, sizeof(c->reason), "%s", info.reason);
  }
  c->closed = 1;
  c->error = error;
  c->conn = NULL;
  stdin_enable(c, 0);
  event_base_loopbreak(c->base);
}

static void cli_on_signal(evutil_socket_t sig, short what, void *arg) {
  client *c = arg;
  (void)sig;
  (void)what;
  if (c->closed) {
    return;
  }
  /* Ctrl-C leaves like /quit; a second one aborts. */
  if (c->leaving || !c->established) {
    event_base_loopbreak(c->base);
    return;
  }
  c->leaving = 1;
  stdin_enable(c, 0);
  flush(c);
}

static int run_client(const char *host, uint16_t port, const char *name,
                      rudp_cc_algo cc, const char *netem, rudp_tls_ctx *tls) {
  static client cl;
  client *c = &cl;
  rudp_callbacks cb;
  rudp_event_settings st;
  struct addrinfo hints, *ai = NULL;
  struct sockaddr_storage local;
  char portstr[8];
  rudp_event *ev = NULL;
  struct event *sigint = NULL;
  int rv, ret = 1, flags;

  c->name = name;
  flags = fcntl(STDIN_FILENO, F_GETFL);
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
  rv = getaddrinfo(host, portstr, &hints, &ai);
  if (rv != 0) {
    fprintf(stderr, TOOL ": resolve %s: %s\n", host, gai_strerror(rv));
    return 1;
  }
  memset(&local, 0, sizeof(local));
  local.ss_family = (sa_family_t)ai->ai_family;
  memset(&cb, 0, sizeof(cb));
  cb.handshake_completed = cli_handshake_completed;
  cb.streams_available = cli_streams_available;
  cb.stream_writable = cli_stream_writable;
  cb.stream_readable = cli_stream_readable;
  cb.closed = cli_closed;
  rudp_event_settings_default(&st);
  conn_settings(&st.endpoint.conn, cc);
  st.endpoint.conn.tls = tls;
  st.endpoint.conn.tls_server_name = host;
  st.netem = netem;
  c->base = event_base_new();
  if (!c->base) {
    fprintf(stderr, TOOL ": startup: event_base_new failed\n");
    goto out;
  }
  /* Lines are read as they come, never blocking the loop. */
  if (flags >= 0) {
    fcntl(STDIN_FILENO, F_SETFL, flags | O_NONBLOCK);
  }
  c->stdin_ev =
      event_new(c->base, STDIN_FILENO, EV_READ | EV_PERSIST, on_stdin, c);
  if (!c->stdin_ev) {
    fprintf(stderr, TOOL ": startup: event_new failed\n");
    goto out;
  }
  rv = rudp_event_endpoint_new(&ev, c->base, (struct sockaddr *)&local,
                               ai->ai_family == AF_INET6
                                   ? sizeof(struct sockaddr_in6)
                                   : sizeof(struct sockaddr_in),
                               &st, NULL, &cb, NULL);
  if (rv != 0) {
    fprintf(stderr, TOOL ": create endpoint: %s\n",
            tool_endpoint_error(rv, netem));
    goto out;
  }
  rv = rudp_event_connect(ev, ai->ai_addr, ai->ai_addrlen, NULL, c, &c->conn);
  if (rv != 0) {
    fprintf(stderr, TOOL ": connect %s: %s\n", host, rudp_strerror(rv));
    goto out;
  }
  sigint = evsignal_new(c->base, SIGINT, cli_on_signal, c);
  if (sigint) {
    event_add(sigint, NULL);
  }
  event_base_dispatch(c->base);
  if (c->refused) {
    fprintf(stderr, TOOL ": the server refused: %s\n", c->reason);
  } else if (c->server_fin && !c->close_started) {
    fprintf(stderr, TOOL ": lost the server: the server closed the room\n");
  } else if (!c->closed) {
    fprintf(stderr, TOOL ": interrupted\n");
  } else if (!c->established) {
    fprintf(stderr, TOOL ": cannot reach the server: %s%s%s\n",
            c->error ? rudp_strerror(c->error) : "connection closed",
            c->reason[0] ? ": " : "", c->reason);
  } else if (c->error != 0) {
    fprintf(stderr, TOOL ": lost the server: %s%s%s\n", rudp_strerror(c->error),
            c->reason[0] ? ": " : "", c->reason);
  } else if (!c->close_started) {
    fprintf(stderr, TOOL ": lost the server: the server closed the room\n");
  } else {
    ret = 0;
  }
out:
  rudp_event_endpoint_free(ev);
  tool_hold_signals();
  if (sigint) {
    event_free(sigint);
  }
  if (c->stdin_ev) {
    event_free(c->stdin_ev);
  }
  if (c->base) {
    event_base_free(c->base);
  }
  freeaddrinfo(ai);
  /* stdin may be a terminal shared with the shell: restore its flags. */
  if (flags >= 0) {
    fcntl(STDIN_FILENO, F_SETFL, flags);
  }
  return ret;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"server", no_argument, NULL, 's'},
                                       {"listen", required_argument, NULL, 'l'},
                                       {"port", required_argument, NULL, 'p'},
                                       {"name", required_argument, NULL, 'n'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'V'},
                                       {"cc", required_argument, NULL, 'c'},
                                       {"netem", required_argument, NULL, 'N'},
                                       TOOL_TLS_LONGOPTS,
                                       {NULL, 0, NULL, 0}};
  tool_tls_opts tlso;
  rudp_tls_ctx *tls = NULL;
  const char *laddr = NULL, *name = NULL, *netem = NULL;
  uint16_t port = TOOL_DEFAULT_PORT;
  rudp_cc_algo cc = RUDP_CC_CUBIC;
  int c, is_server = 0, port_set = 0;

  memset(&tlso, 0, sizeof(tlso));
  while ((c = getopt_long(argc, argv, "sl:p:n:h", opts, NULL)) != -1) {
    switch (c) {
    case 's':
      is_server = 1;
      break;
    case 'l':
      laddr = optarg;
      break;
    case 'p':
      if (tool_parse_port(optarg, 0, &port) != 0) {
        fprintf(stderr, TOOL ": bad port: %s\n", optarg);
        return 2;
      }
      port_set = 1;
      break;
    case 'n':
      name = optarg;
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
    case 'N':
      netem = optarg;
      break;
    default:
      if (tool_tls_opt(&tlso, c, optarg)) {
        break;
      }
      usage(stderr);
      return 2;
    }
  }
  if ((c = tool_tls_check(TOOL, &tlso, is_server)) != 0) {
    return c;
  }
  if (is_server) {
    if (optind < argc || name) {
      fprintf(stderr, TOOL ": -s takes no -n or HOST\n");
      usage(stderr);
      return 2;
    }
    if ((c = tool_tls_ctx(TOOL, &tlso, 1, "rudp-chat", &tls)) != 0) {
      return c;
    }
    c = run_server(laddr, port, cc, netem, tls);
    rudp_tls_ctx_free(tls);
    return c;
  }
  if (!name) {
    fprintf(stderr, TOOL ": missing -n NAME (or -s)\n");
    usage(stderr);
    return 2;
  }
  if (check_name(name, strlen(name)) != 0) {
    fprintf(stderr, TOOL ": bad name (1 to %d printable bytes, no spaces)\n",
            CHAT_NAME_MAX);
    return 2;
  }
  if (argc - optind != 1) {
    fprintf(stderr, TOOL ": expected one HOST\n");
    usage(stderr);
    return 2;
  }
  if (laddr || (port_set && port == 0)) {
    fprintf(stderr, TOOL ": %s\n", laddr ? "-l needs -s" : "bad port: 0");
    return 2;
  }
  if ((c = tool_tls_ctx(TOOL, &tlso, 0, "rudp-chat", &tls)) != 0) {
    return c;
  }
  c = run_client(argv[optind], port, name, cc, netem, tls);
  rudp_tls_ctx_free(tls);
  return c;
}
