/*
 * echo_server [PORT]: a librudp echo server on 127.0.0.1 (public API
 * only).  Every stream a client opens is echoed back, FIN included.  PORT
 * 0 (the default) picks a free port; the first line printed names it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>

#include <rudp/rudp.h>
#include <rudp/rudp_event.h>

/* Take every established connection: the accept backlog must not fill. */
static int on_accept_ready(rudp_endpoint *ep, void *user_data) {
  (void)user_data;
  while (rudp_endpoint_accept(ep) != NULL) {
  }
  return 0;
}

static int on_stream_readable(rudp_conn *conn, int64_t stream_id,
                              void *user_data) {
  uint8_t buf[4096];
  (void)user_data;
  for (;;) {
    int fin = 0;
    rudp_ssize n =
        rudp_conn_stream_read(conn, stream_id, buf, sizeof(buf), &fin);
    if (n < 0) {
      return 0; /* nothing more for now */
    }
    if ((n > 0 || fin) &&
        rudp_conn_stream_write(conn, stream_id, buf, (size_t)n, fin) != n) {
      /* Send buffer full: an echo server for small messages gives up. */
      rudp_conn_stream_reset(conn, stream_id, 1);
      return 0;
    }
    if (fin || n == 0) {
      return 0;
    }
  }
}

int main(int argc, char **argv) {
  rudp_endpoint_callbacks epcb = {NULL, on_accept_ready, NULL};
  rudp_callbacks cb;
  rudp_event_settings st;
  struct sockaddr_in sin;
  struct sockaddr_storage local;
  socklen_t locallen;
  struct event_base *base;
  rudp_event *ev;
  int rv;

  memset(&cb, 0, sizeof(cb));
  cb.stream_readable = on_stream_readable;
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons((uint16_t)(argc > 1 ? atoi(argv[1]) : 0));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  rudp_event_settings_default(&st);
  st.endpoint.listen = 1;
  base = event_base_new();
  if (!base) {
    fprintf(stderr, "echo_server: event_base_new failed\n");
    return 1;
  }
  rv = rudp_event_endpoint_new(&ev, base, (struct sockaddr *)&sin, sizeof(sin),
                               &st, &epcb, &cb, NULL);
  if (rv != 0) {
    fprintf(stderr, "echo_server: cannot listen: %s\n",
            rv == RUDP_ERR_IO ? "socket error" : rudp_strerror(rv));
    return 1;
  }
  rudp_event_local_addr(ev, &local, &locallen);
  printf("echo_server: listening on 127.0.0.1:%u\n",
         (unsigned)ntohs(((struct sockaddr_in *)&local)->sin_port));
  fflush(stdout);
  event_base_dispatch(base);
  rudp_event_endpoint_free(ev);
  event_base_free(base);
  return 0;
}
