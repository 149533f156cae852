/*
 * echo_server_mt [-j N] [PORT]: the echo server of echo_server.c on N
 * threads (default 2), one endpoint per thread, each with its own
 * event_base and its own UDP socket, all bound to 127.0.0.1:PORT with
 * SO_REUSEPORT.  The kernel spreads clients over the sockets by a hash of
 * their 4-tuple (docs/SCALING.md, which also explains what this does NOT
 * handle: a client whose address changes may land on another thread; the
 * workers share a stateless-reset key, so such a client is reset at once).
 * PORT 0 (the default) picks a free port; the first line printed names it.
 * SIGINT or SIGTERM stops every thread and exits.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>

#include <event2/event.h>

#include <rudp/rudp.h>
#include <rudp/rudp_event.h>

#define MAX_THREADS 256

/* One worker: an endpoint and the loop that drives it, on its thread. */
typedef struct worker {
  struct event_base *base;
  rudp_event *ev;
  pthread_t thread;
  /* accepted is only touched by the worker's thread (and by main after
   * the join). */
  unsigned long long accepted;
} worker;

/* Take every established connection: the accept backlog must not fill. */
static int on_accept_ready(rudp_endpoint *ep, void *user_data) {
  worker *w = user_data;
  while (rudp_endpoint_accept(ep) != NULL) {
    ++w->accepted;
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

static void *worker_run(void *arg) {
  worker *w = arg;
  event_base_dispatch(w->base);
  return NULL;
}

/* stop_loop runs on a worker's own thread, queued by rudp_event_wakeup:
 * the only binding call another thread may make. */
static void stop_loop(void *arg) { event_base_loopbreak(arg); }

static void usage(void) {
  fprintf(stderr, "usage: echo_server_mt [-j THREADS] [PORT]\n");
}

int main(int argc, char **argv) {
  static worker workers[MAX_THREADS];
  rudp_endpoint_callbacks epcb = {NULL, on_accept_ready, NULL};
  rudp_callbacks cb;
  rudp_event_settings st;
  struct sockaddr_in sin;
  struct sockaddr_storage local;
  socklen_t locallen;
  sigset_t sigs;
  long nthreads = 2;
  uint16_t port = 0;
  int i, n, rv, sig;

  for (i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "-j") == 0 && i + 1 < argc) {
      nthreads = strtol(argv[++i], NULL, 10);
      if (nthreads < 1 || nthreads > MAX_THREADS) {
        usage();
        return 2;
      }
    } else if (argv[i][0] != '-') {
      port = (uint16_t)atoi(argv[i]);
    } else {
      usage();
      return 2;
    }
  }
  n = (int)nthreads;

  memset(&cb, 0, sizeof(cb));
  cb.stream_readable = on_stream_readable;
  rudp_event_settings_default(&st);
  st.endpoint.listen = 1;
  /* Every socket sets SO_REUSEPORT before bind, the first included:
   * Linux lets a socket join a port only if all sockets bound to it have
   * the option (and the same user). */
  st.reuseport = 1;
  /* One stateless-reset key for every worker: a client whose address
   * changes and lands on another worker's socket is then reset at once
   * (RUDP_ERR_STATELESS_RESET) rather than left to its idle timeout
   * (docs/SCALING.md).  A server that must also survive restarts would
   * load this key from its secrets instead. */
  if (getrandom(st.endpoint.stateless_reset_key,
                sizeof(st.endpoint.stateless_reset_key),
                0) != (ssize_t)sizeof(st.endpoint.stateless_reset_key)) {
    perror("echo_server_mt: getrandom");
    return 1;
  }
  st.endpoint.has_stateless_reset_key = 1;

  /* Block the stop signals before starting threads (they inherit the
   * mask): main alone takes them, with sigwait. */
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);

  /* The endpoints are created here and each handed to its thread, which
   * alone uses it from then on.  The first binds PORT (0: any free port);
   * the others join the port it got. */
  for (i = 0; i < n; ++i) {
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    workers[i].base = event_base_new();
    if (!workers[i].base) {
      fprintf(stderr, "echo_server_mt: event_base_new failed\n");
      return 1;
    }
    rv = rudp_event_endpoint_new(&workers[i].ev, workers[i].base,
                                 (struct sockaddr *)&sin, sizeof(sin), &st,
                                 &epcb, &cb, &workers[i]);
    if (rv != 0) {
      fprintf(stderr, "echo_server_mt: cannot listen: %s\n",
              rv == RUDP_ERR_IO ? "socket error" : rudp_strerror(rv));
      return 1;
    }
    if (rudp_event_local_addr(workers[i].ev, &local, &locallen) != 0) {
      fprintf(stderr, "echo_server_mt: getsockname failed\n");
      return 1;
    }
    port = ntohs(((struct sockaddr_in *)&local)->sin_port);
  }
  printf("echo_server_mt: listening on 127.0.0.1:%u with %d threads\n",
         (unsigned)port, n);
  fflush(stdout);

  for (i = 0; i < n; ++i) {
    if (pthread_create(&workers[i].thread, NULL, worker_run, &workers[i]) !=
        0) {
      fprintf(stderr, "echo_server_mt: pthread_create failed\n");
      return 1;
    }
  }

  sigwait(&sigs, &sig);
  for (i = 0; i < n; ++i) {
    rudp_event_wakeup(workers[i].ev, stop_loop, workers[i].base);
  }
  for (i = 0; i < n; ++i) {
    pthread_join(workers[i].thread, NULL);
    printf("echo_server_mt: thread %d accepted %llu connections\n", i,
           workers[i].accepted);
    rudp_event_endpoint_free(workers[i].ev);
    event_base_free(workers[i].base);
  }
  return 0;
}
