/*
 * rudp_bench_raw: the ceiling for any transport over UDP on loopback.
 *
 * No protocol at all: a sender thread writes fixed-size datagrams to a
 * receiver thread over 127.0.0.1 as fast as the kernel takes them, and the
 * receiver counts what arrives.  Modes:
 *
 *   mmsg   sendmmsg / recvmmsg, batches of -b datagrams of -s bytes
 *   gso    UDP GSO on send (UDP_SEGMENT, -s byte segments, super-datagrams
 *          of up to 64 KB: 44 segments of 1452) and UDP GRO on receive, so
 *          a super-datagram crosses loopback as one buffer
 *
 * Both threads live in one process, so getrusage(RUSAGE_SELF) gives the CPU
 * of both ends.  The sender stops at -t seconds or once -n MiB are sent;
 * the receiver drains until nothing arrives for 20 ms.  Goodput is the
 * bytes received over the wall time from the start to the last receipt.
 *
 * Back-pressure: a UDP sender on loopback never blocks (a full receive
 * buffer drops), so a blind blaster spends CPU on datagrams the receiver
 * never sees and the CPU per GiB received measures the loss.  The sender
 * therefore keeps at most -w bytes sent but not yet received, an in-process
 * window (a perfect flow control at zero cost: no bytes on the wire); -w 0
 * blasts blindly.  Bytes the kernel dropped are written off after 10 ms
 * without progress, so a drop never stalls the run.
 *
 * Not a test: it never fails because the machine is slow.
 *
 *   rudp_bench_raw [-m mmsg,gso] [-t SECS] [-n MIB] [-s SEGMENT] [-b BATCH]
 *                  [-w WINDOW_KIB] [-r REPS] [-J]
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE /* recvmmsg, sendmmsg */
#endif

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#ifndef SOL_UDP
#  define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#  define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#  define UDP_GRO 104
#endif

#define GIB (1024.0 * 1024.0 * 1024.0)
/* RXBUF is one receive buffer: a whole GRO super-datagram. */
#define RXBUF 65536
/* GSO_MAX_BYTES keeps a super-datagram below the largest IPv4 UDP payload,
 * GSO_MAX_SEGS below the kernel's UDP_MAX_SEGMENTS (64 before 6.10). */
#define GSO_MAX_BYTES 65507
#define GSO_MAX_SEGS 64
#define MAXBATCH 256
#define MAXREPS 15
/* SOCKBUF: the same 4 MiB the libevent binding asks for. */
#define SOCKBUF (4 << 20)

static void die(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

static void die(const char *fmt, ...) {
  va_list ap;
  fputs("rudp_bench_raw: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------ one run */

typedef struct run {
  /* configuration */
  int gso;
  size_t seg, batch;
  uint64_t limit_bytes;
  double secs, t0;
  uint64_t window;
  int sfd, rfd;
  /* shared between the threads (atomics) */
  uint64_t sent, received, written_off;
  int sender_done;
  int sender_waiting;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  /* results */
  uint64_t dgrams_recv, send_calls, recv_calls, send_errors;
  double t_last;
} run;

static uint64_t ld(const uint64_t *p) {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static uint8_t g_tx[MAXBATCH][RXBUF];

/* in_flight is what was sent and neither received nor written off (a
 * write-off can overshoot when late datagrams still arrive: never below
 * zero). */
static uint64_t in_flight(run *r) {
  int64_t d = (int64_t)(r->sent - ld(&r->received) - ld(&r->written_off));
  return d > 0 ? (uint64_t)d : 0;
}

/* wait_window blocks the sender while more than |window| bytes are sent
 * and not received.  The receiver signals only when the sender says it is
 * waiting, so the common case costs one atomic load on each side. */
static void wait_window(run *r) {
  uint64_t last = ld(&r->received);
  int stalls = 0;
  while (in_flight(r) > r->window) {
    struct timespec ts;
    uint64_t got;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 1000000; /* 1 ms */
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_nsec -= 1000000000;
      ++ts.tv_sec;
    }
    pthread_mutex_lock(&r->mu);
    __atomic_store_n(&r->sender_waiting, 1, __ATOMIC_SEQ_CST);
    if (in_flight(r) > r->window) {
      pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    __atomic_store_n(&r->sender_waiting, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&r->mu);
    got = ld(&r->received);
    if (got != last) {
      last = got;
      stalls = 0;
    } else if (++stalls >= 10 || now_s() - r->t0 >= r->secs) {
      /* 10 ms without progress: the kernel dropped what is missing. */
      __atomic_store_n(&r->written_off, r->sent - got, __ATOMIC_RELEASE);
      return;
    }
  }
}

static void *sender(void *arg) {
  run *r = arg;
  struct mmsghdr msgs[MAXBATCH];
  struct iovec iov[MAXBATCH];
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } ctl[MAXBATCH];
  size_t i, per_msg, nmsg;

  /* A GSO message carries as many whole segments as fit in 64 KB. */
  if (r->gso) {
    size_t segs = GSO_MAX_BYTES / r->seg;
    if (segs > GSO_MAX_SEGS) {
      segs = GSO_MAX_SEGS;
    }
    per_msg = segs * r->seg;
  } else {
    per_msg = r->seg;
  }
  nmsg = r->batch;
  memset(msgs, 0, sizeof(msgs));
  for (i = 0; i < nmsg; ++i) {
    iov[i].iov_base = g_tx[i];
    iov[i].iov_len = per_msg;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    if (r->gso) {
      struct cmsghdr *cm;
      memset(&ctl[i], 0, sizeof(ctl[i]));
      msgs[i].msg_hdr.msg_control = ctl[i].buf;
      msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
      cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr);
      cm->cmsg_level = SOL_UDP;
      cm->cmsg_type = UDP_SEGMENT;
      cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      *(uint16_t *)(void *)CMSG_DATA(cm) = (uint16_t)r->seg;
    }
  }

  while (r->sent < r->limit_bytes && now_s() - r->t0 < r->secs) {
    int n;
    if (r->window) {
      wait_window(r);
    }
    ++r->send_calls;
    n = sendmmsg(r->sfd, msgs, (unsigned)nmsg, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ENOBUFS) {
        ++r->send_errors;
        continue;
      }
      die("sendmmsg: %s", strerror(errno));
    }
    __atomic_add_fetch(&r->sent, (uint64_t)n * per_msg, __ATOMIC_RELEASE);
  }
  __atomic_store_n(&r->sender_done, 1, __ATOMIC_RELEASE);
  return NULL;
}

static void *receiver(void *arg) {
  run *r = arg;
  static uint8_t rx[MAXBATCH][RXBUF];
  struct mmsghdr msgs[MAXBATCH];
  struct iovec iov[MAXBATCH];
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl[MAXBATCH];
  size_t i, nb = r->batch;
  struct timeval tv = {0, 20000};

  /* The 20 ms timeout ends the drain and lets the loop see the deadline. */
  setsockopt(r->rfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  for (;;) {
    int n;
    for (i = 0; i < nb; ++i) {
      iov[i].iov_base = rx[i];
      iov[i].iov_len = RXBUF;
      memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      if (r->gso) {
        msgs[i].msg_hdr.msg_control = ctl[i].buf;
        msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
      }
    }
    ++r->recv_calls;
    /* MSG_WAITFORONE: block for the first datagram only, then take what
     * is queued, like the binding's non-blocking reads after epoll. */
    n = recvmmsg(r->rfd, msgs, (unsigned)nb, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (__atomic_load_n(&r->sender_done, __ATOMIC_ACQUIRE)) {
          break;
        }
        if (now_s() - r->t0 > r->secs + 5) {
          break;
        }
        continue;
      }
      die("recvmmsg: %s", strerror(errno));
    }
    for (i = 0; i < (size_t)n; ++i) {
      size_t len = msgs[i].msg_len, gs = 0;
      struct cmsghdr *cm;
      if (r->gso) {
        for (cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr); cm;
             cm = CMSG_NXTHDR(&msgs[i].msg_hdr, cm)) {
          if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
            int v;
            memcpy(&v, CMSG_DATA(cm), sizeof(v));
            gs = (size_t)v;
          }
        }
      }
      r->dgrams_recv += gs ? (len + gs - 1) / gs : 1;
      __atomic_add_fetch(&r->received, (uint64_t)len, __ATOMIC_RELEASE);
    }
    r->t_last = now_s();
    if (__atomic_load_n(&r->sender_waiting, __ATOMIC_SEQ_CST)) {
      pthread_mutex_lock(&r->mu);
      pthread_cond_signal(&r->cv);
      pthread_mutex_unlock(&r->mu);
    }
  }
  return NULL;
}

typedef struct result {
  double secs, cpu, rate;
  uint64_t sent, received, dgrams, send_calls, recv_calls;
  int gro;
} result;

static int cmp_rate(const void *a, const void *b) {
  double x = ((const result *)a)->rate, y = ((const result *)b)->rate;
  return x < y ? -1 : x > y;
}

static void run_once(int gso, size_t seg, size_t batch, double secs,
                     uint64_t limit, uint64_t window, result *res) {
  static run R;
  struct sockaddr_in sin;
  socklen_t len = sizeof(sin);
  int one = 1, buf = SOCKBUF;
  pthread_t ts, tr;
  double cpu0;

  memset(&R, 0, sizeof(R));
  pthread_mutex_init(&R.mu, NULL);
  pthread_cond_init(&R.cv, NULL);
  R.gso = gso;
  R.seg = seg;
  R.batch = batch;
  R.secs = secs;
  R.limit_bytes = limit;
  R.window = window;
  R.rfd = socket(AF_INET, SOCK_DGRAM, 0);
  R.sfd = socket(AF_INET, SOCK_DGRAM, 0);
  if (R.rfd < 0 || R.sfd < 0) {
    die("socket: %s", strerror(errno));
  }
  setsockopt(R.rfd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  setsockopt(R.sfd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
  res->gro = 0;
  if (gso) {
    if (setsockopt(R.rfd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0) {
      res->gro = 1;
    } else {
      fprintf(stderr, "rudp_bench_raw: UDP_GRO refused: %s\n", strerror(errno));
    }
  }
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(R.rfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
      getsockname(R.rfd, (struct sockaddr *)&sin, &len) != 0 ||
      connect(R.sfd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
    die("bind/connect on 127.0.0.1: %s", strerror(errno));
  }

  cpu0 = cpu_now();
  R.t0 = now_s();
  if (pthread_create(&tr, NULL, receiver, &R) != 0 ||
      pthread_create(&ts, NULL, sender, &R) != 0) {
    die("pthread_create failed");
  }
  pthread_join(ts, NULL);
  pthread_join(tr, NULL);
  res->cpu = cpu_now() - cpu0;
  close(R.rfd);
  close(R.sfd);
  pthread_mutex_destroy(&R.mu);
  pthread_cond_destroy(&R.cv);
  if (R.received == 0) {
    die("%s: nothing received", gso ? "gso" : "mmsg");
  }
  res->secs = R.t_last - R.t0;
  res->sent = R.sent;
  res->received = R.received;
  res->dgrams = R.dgrams_recv;
  res->send_calls = R.send_calls;
  res->recv_calls = R.recv_calls;
  res->rate = (double)R.received * 8 / 1e9 / res->secs;
}

static int selected(const char *list, const char *name) {
  size_t n = strlen(name);
  const char *p = list;
  while ((p = strstr(p, name)) != NULL) {
    if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) {
      return 1;
    }
    ++p;
  }
  return 0;
}

static void usage(void) {
  fprintf(stderr, "usage: rudp_bench_raw [-m mmsg,gso] [-t SECS] [-n MIB] "
                  "[-s SEGMENT] [-b BATCH] [-w WINDOW_KIB] [-r REPS] [-J]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *modes = "mmsg,gso";
  double secs = 3;
  uint64_t mib = 1u << 20, window_kib = 1024;
  size_t seg = 1452, batch = 32;
  int reps = 1, json = 0, i, k;
  result runs[MAXREPS];
  static const char *const names[2] = {"mmsg", "gso"};

  for (i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "-m") && i + 1 < argc) {
      modes = argv[++i];
    } else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
      secs = strtod(argv[++i], NULL);
    } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
      mib = strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
      seg = (size_t)strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-b") && i + 1 < argc) {
      batch = (size_t)strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-w") && i + 1 < argc) {
      window_kib = strtoull(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
      reps = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "-J")) {
      json = 1;
    } else {
      usage();
    }
  }
  if (!(secs > 0 && secs <= 60)) {
    fprintf(stderr, "rudp_bench_raw: -t: expected 0 < SECS <= 60\n");
    return 2;
  }
  if (mib == 0 || seg < 64 || seg > 1472 || batch < 1 || batch > MAXBATCH ||
      reps < 1 || reps > MAXREPS || window_kib > (1u << 20)) {
    fprintf(stderr,
            "rudp_bench_raw: bad -n, -s (64-1472), -b (1-%d), -w or "
            "-r (1-%d)\n",
            MAXBATCH, MAXREPS);
    return 2;
  }
  for (k = 0; k < MAXBATCH; ++k) {
    memset(g_tx[k], 0xab, sizeof(g_tx[k]));
  }

  if (!json) {
    printf("rudp_bench_raw: loopback 127.0.0.1, %zu-byte datagrams, %.1f s "
           "per run, window %" PRIu64 " KiB; median of %d\n",
           seg, secs, window_kib, reps);
    printf("%-28s %9s %10s %9s %9s %11s\n", "mode", "Gbit/s", "CPU s/GiB",
           "sent MiB", "recv MiB", "recv calls");
  }
  for (k = 0; k < 2; ++k) {
    const result *r;
    if (!selected(modes, names[k])) {
      continue;
    }
    for (i = 0; i < reps; ++i) {
      run_once(k == 1, seg, batch, secs, mib << 20, window_kib << 10, &runs[i]);
      fprintf(stderr, "# raw %s run %d: %.2f Gbit/s, %.3f CPU s/GiB\n",
              names[k], i + 1, runs[i].rate,
              runs[i].cpu / ((double)runs[i].received / GIB));
    }
    qsort(runs, (size_t)reps, sizeof(result), cmp_rate);
    r = &runs[reps / 2];
    if (json) {
      printf("{\"bench\":\"raw\",\"mode\":\"%s\",\"segment\":%zu,"
             "\"batch\":%zu,\"window\":%" PRIu64 ",\"runs\":%d,"
             "\"gbit_per_s\":%.3f,\"gbit_per_s_runs\":[",
             names[k], seg, batch, window_kib << 10, reps, r->rate);
      for (i = 0; i < reps; ++i) {
        printf("%s%.3f", i ? "," : "", runs[i].rate);
      }
      printf("],\"wall_seconds\":%.3f,\"cpu_seconds\":%.3f,"
             "\"cpu_seconds_per_gib\":%.3f,\"bytes_sent\":%" PRIu64
             ",\"bytes_received\":%" PRIu64 ",\"datagrams_received\":%" PRIu64
             ",\"send_calls\":%" PRIu64 ",\"recv_calls\":%" PRIu64
             ",\"gro_enabled\":%d}\n",
             r->secs, r->cpu, r->cpu / ((double)r->received / GIB), r->sent,
             r->received, r->dgrams, r->send_calls, r->recv_calls, r->gro);
    } else {
      printf("%-28s %9.2f %10.3f %9.0f %9.0f %11" PRIu64 "\n",
             k == 1 ? "raw UDP, GSO 64 KB + GRO" : "raw UDP, sendmmsg 32",
             r->rate, r->cpu / ((double)r->received / GIB),
             (double)r->sent / 1048576, (double)r->received / 1048576,
             r->recv_calls);
    }
    fflush(stdout);
  }
  return 0;
}
