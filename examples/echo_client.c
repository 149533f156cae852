/* echo_client PORT [MESSAGE]: sends MESSAGE on one stream with FIN to a
 * librudp echo server on 127.0.0.1:PORT (public API only), prints the echo
 * and closes cleanly.  Exit 0 on success, else 1 (2: usage) with a
 * one-line error; 5 s at most. */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <rudp/rudp.h>
#include <rudp/rudp_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct client {
  struct event_base *base;
  const char *msg;
  char echo[4096];
  size_t len;
  int opened, fin, ok, closed;
} client;

static int on_streams_available(rudp_conn *conn, int bidi, void *user_data) {
  client *c = user_data;
  size_t len = strlen(c->msg);
  int64_t sid;
  if (bidi && !c->opened && rudp_conn_open_stream(conn, 1, &sid) == 0) {
    c->opened = 1; /* a short write fails the connection: nothing echoed */
    rudp_conn_stream_write(conn, sid, (const uint8_t *)c->msg, len, 1);
  }
  return 0;
}

static int on_stream_readable(rudp_conn *conn, int64_t sid, void *user_data) {
  client *c = user_data;
  rudp_ssize n;
  int f = 0;
  while (!c->fin && c->len < sizeof(c->echo) &&
         (n = rudp_conn_stream_read(conn, sid, (uint8_t *)c->echo + c->len,
                                    sizeof(c->echo) - c->len, &f)) >= 0) {
    c->len += (size_t)n;
    c->fin = f;
  }
  if (c->fin) {
    c->ok = c->len == strlen(c->msg) && memcmp(c->echo, c->msg, c->len) == 0;
    printf("%.*s\n", (int)c->len, c->echo);
    rudp_conn_close(conn, rudp_event_now());
  }
  return 0;
}

static void on_closed(rudp_conn *conn, int error, void *user_data) {
  client *c = user_data;
  (void)conn;
  c->closed = 1;
  if (error != 0 || !c->ok) {
    fprintf(stderr, "echo_client: %s\n",
            error ? rudp_strerror(error) : "echo missing or different");
    c->ok = 0;
  }
  event_base_loopbreak(c->base);
}

int main(int argc, char **argv) {
  rudp_callbacks cb = {0};
  struct sockaddr_in local = {0}, to;
  struct timeval limit = {5, 0};
  client c = {0};
  rudp_event *ev = NULL;
  rudp_conn *conn; /* owned by the endpoint */

  if (argc < 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
    fprintf(stderr, "usage: echo_client PORT [MESSAGE]\n");
    return 2;
  }
  c.msg = argc > 2 ? argv[2] : "hello, rudp";
  cb.streams_available = on_streams_available;
  cb.stream_readable = on_stream_readable;
  cb.closed = on_closed;
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to = local;
  to.sin_port = htons((uint16_t)atoi(argv[1]));
  if (!(c.base = event_base_new()) ||
      rudp_event_endpoint_new(&ev, c.base, (struct sockaddr *)&local,
                              sizeof(local), NULL, NULL, &cb, NULL) != 0 ||
      rudp_event_connect(ev, (struct sockaddr *)&to, sizeof(to), NULL, &c,
                         &conn) != 0) {
    fprintf(stderr, "echo_client: cannot create the endpoint\n");
    return 1;
  }
  event_base_loopexit(c.base, &limit);
  event_base_dispatch(c.base);
  if (!c.closed)
    fprintf(stderr, "echo_client: timed out\n");
  rudp_event_endpoint_free(ev);
  event_base_free(c.base);
  return c.ok && c.closed ? 0 : 1;
}
