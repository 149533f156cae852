/*
 * rudp-netem: the lab's link emulator (docs/TOOLS.md "rudp-netem",
 * rudp-netem(1)).  Not to be confused with lib/rudp_netem.c, the
 * impairment queue it uses.
 *
 * It creates two network namespaces, A and B, and gives each a TUN device
 * (IFF_TUN | IFF_NO_PI, opened here after setns() into the namespace) with
 * its address and on-link route.  Every IP packet one side's kernel routes
 * into its TUN is read here, put through that direction's impairment queue
 * (lib/rudp_netem.h with the lab keys burst= and queue=) and written into
 * the other side's TUN when due.  It works on IP packets, so TCP and UDP are
 * impaired alike: fair kernel TCP vs RUDP comparisons on a kernel without
 * the netem qdisc.  Corruption flips a bit and fixes nothing: the receiving
 * kernel's IP, TCP and UDP checksums catch it, as on a real link.
 *
 * This is a tool, not the core: it has its own clock (CLOCK_MONOTONIC) and
 * event loop (ppoll with nanosecond timeouts and 1 us timer slack).  A
 * wakeup reads every packet that is waiting (up to a batch per device) and
 * releases every copy due within EARLY_NS, so at 1 Gbit/s it does not wake
 * once per packet.  Namespaces and devices are made and removed with `ip`
 * (iproute2); both namespaces are deleted at exit, on SIGINT, SIGTERM and
 * SIGHUP, and `--cleanup` removes those left by a process that died.
 *
 * With --use-tc it configures tc-netem on a veth pair instead (where the
 * kernel has sch_netem) and forwards nothing itself.
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE /* setns, CLONE_NEWNET */
#endif

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <rudp/rudp.h>

#include "rudp_netem.h"

static const char progname[] = "rudp-netem";

/* NS_PREFIX starts the default namespace names, "rudplab-PID-a" / "-b";
 * --cleanup removes those whose PID is gone. */
#define NS_PREFIX "rudplab-"
#define NS_NAME_MAX 64
/* DEV is the TUN (or veth) device's name in both namespaces. */
#define DEV "rlab0"
/* SLOTS bounds the copies one direction holds: 1 Gbit/s over a 50 ms
 * one-way delay is ~4200 full-size packets, plus the queue and the small
 * ACKs of the other way.  MAX_BYTES bounds their bytes. */
#define SLOTS 65536
#define MAX_BYTES ((size_t)256 * 1024 * 1024)
/* DEFAULT_QUEUE is the rate link's queue without queue=: tc-netem's
 * default limit, in packets. */
#define DEFAULT_QUEUE 1000
/* BATCH bounds the packets read from one device per wakeup, so one busy
 * direction does not starve the other or the releases. */
#define BATCH 64
/* EARLY_NS: a copy due within it is released now rather than after another
 * wakeup; 20 us is noise against a 1 ms delay and about two full-size
 * packets at 1 Gbit/s. */
#define EARLY_NS (20 * RUDP_MICROSECONDS)
#define PKT_MAX 65536
#define MTU_MIN 1280 /* IPv6's minimum; both families are configured */
/* DEFAULT_TXQ is the TUN devices' txqueuelen: the ring where the kernel
 * leaves packets for us.  When it is full the kernel drops (no
 * backpressure); 500, the default, overflows in bursts above ~2 Gbit/s
 * (the emulator's ceiling) and hides losses the counters cannot show. */
#define DEFAULT_TXQ 2000
#define MTU_MAX 65520
/* B2A_SEED_MIX makes b2a's generator differ from a2b's when both specs
 * have the same seed, so the two directions do not drop in lockstep. */
#define B2A_SEED_MIX 0x6232616c61622121ULL

/* ------------------------------------------------------------ options */

typedef struct addr {
  int family; /* AF_INET or AF_INET6 */
  char text[INET6_ADDRSTRLEN];
  unsigned prefix;
  uint8_t bytes[16];
} addr;

typedef struct opts {
  char ns_a[NS_NAME_MAX + 1], ns_b[NS_NAME_MAX + 1];
  /* addr4[0] / addr6[0] for A, [1] for B. */
  addr addr4[2], addr6[2];
  const char *spec_str[2]; /* a2b, b2a */
  rudp_netem_spec spec[2];
  unsigned mtu, txqueuelen;
  int use_tc, cleanup, quiet, ns_given;
  char **cmd; /* NULL: foreground until a signal */
} opts;

static void usage(FILE *out) {
  fprintf(out,
          "Usage: rudp-netem [options] [--a2b SPEC] [--b2a SPEC] [-- CMD "
          "[ARG]...]\n"
          "       rudp-netem --cleanup [--ns-a NAME --ns-b NAME]\n"
          "Joins two new network namespaces A and B through TUN devices and\n"
          "impairs every IP packet between them, per direction.\n"
          "  --a2b SPEC        impairment from A to B (default: none)\n"
          "  --b2a SPEC        impairment from B to A (default: none)\n"
          "  --both SPEC       the same SPEC both ways (--a2b/--b2a replace "
          "it)\n"
          "  --ns-a NAME       namespace A (default rudplab-PID-a)\n"
          "  --ns-b NAME       namespace B (default rudplab-PID-b)\n"
          "  --addr-a CIDR     A's address (default 10.77.0.1/24, "
          "fd77::1/64)\n"
          "  --addr-b CIDR     B's address (default 10.77.0.2/24, "
          "fd77::2/64)\n"
          "  --mtu N           MTU of both devices (default 1500; 1280 to "
          "65520)\n"
          "  --txqueuelen N    device queue where packets wait for the "
          "emulator\n"
          "                    (default 2000; 10 to 100000)\n"
          "  --use-tc          tc-netem on a veth pair instead (needs "
          "sch_netem)\n"
          "  --cleanup         delete namespaces left by dead runs (or the "
          "named ones)\n"
          "  -q, --quiet       no counters at exit\n"
          "  -h, --help        print this help\n"
          "      --version     print the version\n"
          "SPEC: loss=2%%,delay=20ms,jitter=5ms,reorder=1%%,dup=1%%,"
          "corrupt=0.1%%,\n"
          "      rate=50mbit,queue=PKTS|BYTESb,burst=P:R[:LOSSBAD[:LOSSGOOD]],"
          "seed=N\n"
          "Without CMD: prints RUDP_NS_A=... lines and 'rudp-netem: ready', "
          "runs\n"
          "until SIGINT/SIGTERM.  With CMD: runs it with those variables set, "
          "then\n"
          "exits with its status.  Root only.  Exit: 0 success, 1 failure, 2 "
          "usage.\n");
}

/* usage_error prints "rudp-netem: what: why" and returns 2. */
static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", progname);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 2;
}

/* ns_name_ok: the names `ip netns` accepts and a file name can hold. */
static int ns_name_ok(const char *s) {
  size_t n = strlen(s), i;
  if (n == 0 || n > NS_NAME_MAX || s[0] == '.' || s[0] == '-') {
    return 0;
  }
  for (i = 0; i < n; ++i) {
    if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' &&
        s[i] != '.') {
      return 0;
    }
  }
  return 1;
}

/* parse_cidr parses "ADDR/PREFIX" (IPv4 or IPv6) into |*a|; 0 or -1. */
static int parse_cidr(addr *a, const char *s) {
  const char *slash = strchr(s, '/');
  char host[INET6_ADDRSTRLEN + 1], *end;
  size_t n;
  unsigned long pfx;
  if (!slash || (n = (size_t)(slash - s)) == 0 || n >= sizeof(host)) {
    return -1;
  }
  memcpy(host, s, n);
  host[n] = '\0';
  errno = 0;
  pfx = strtoul(slash + 1, &end, 10);
  if (errno || *end || end == slash + 1) {
    return -1;
  }
  if (inet_pton(AF_INET, host, a->bytes) == 1) {
    a->family = AF_INET;
    if (pfx < 1 || pfx > 30) {
      return -1;
    }
  } else if (inet_pton(AF_INET6, host, a->bytes) == 1) {
    a->family = AF_INET6;
    if (pfx < 1 || pfx > 126) {
      return -1;
    }
  } else {
    return -1;
  }
  a->prefix = (unsigned)pfx;
  inet_ntop(a->family, a->bytes, a->text, sizeof(a->text));
  return 0;
}

/* same_subnet: A and B differ and share the (equal) prefix, so each is
 * on-link for the other through the TUN. */
static int same_subnet(const addr *a, const addr *b) {
  unsigned i, bits = a->prefix;
  if (a->prefix != b->prefix ||
      memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16) == 0) {
    return 0;
  }
  for (i = 0; i < bits; ++i) {
    unsigned m = 0x80u >> (i % 8);
    if ((a->bytes[i / 8] & m) != (b->bytes[i / 8] & m)) {
      return 0;
    }
  }
  return 1;
}

/* ------------------------------------------------------------ state */

/* dir is one direction of the link. */
typedef struct dir {
  const char *name; /* "a2b" or "b2a" */
  int in_fd, out_fd;
  /* impaired: the spec does something; otherwise packets go straight
   * through without a copy. */
  int impaired;
  rudp_netem ne;
  uint64_t pkts_in, bytes_in, pkts_out, bytes_out, write_errors;
  /* dev_drops: packets the sending side's kernel dropped because its
   * device queue was full (the emulator fell behind); -1 if unknown. */
  int64_t dev_drops;
} dir;

static struct {
  opts *o;
  int ns_made[2];  /* namespace created by us, to delete */
  int tun_fd[2];   /* A's and B's device, -1 when closed */
  int orig_ns;     /* our starting network namespace */
  int sig_pipe[2]; /* the signal handler's self-pipe */
  pid_t child;     /* CMD's pid, or 0 */
  int cleaned;     /* cleanup ran */
} G = {NULL, {0, 0}, {-1, -1}, -1, {-1, -1}, 0, 0};

static volatile sig_atomic_t g_signal;

static void on_signal(int sig) {
  int saved = errno;
  char c = 1;
  if (sig != SIGCHLD) {
    g_signal = sig;
  }
  if (G.sig_pipe[1] >= 0 && write(G.sig_pipe[1], &c, 1) < 0) {
    /* Full pipe: a wakeup is already pending. */
  }
  errno = saved;
}

static rudp_tstamp mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (rudp_tstamp)ts.tv_sec * RUDP_SECONDS + (rudp_tstamp)ts.tv_nsec;
}

/* ------------------------------------------------------------ commands */

/* run_argv runs argv (a NULL-terminated list of at most 63, argv[0]
 * looked up in PATH) and returns its exit status, or -1 if it could not
 * run or was killed.  |quiet_err| sends its stderr to /dev/null
 * (probes). */
static int run_argv(const char *const argv[], int quiet_err) {
  pid_t pid;
  int st;
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid < 0) {
    return -1;
  }
  if (pid == 0) {
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
      dup2(fd, 1);
      if (quiet_err) {
        dup2(fd, 2);
      }
    }
    char *v[64];
    size_t i;
    /* execvp wants char *: copies (in the child only, freed by exec). */
    for (i = 0; i < 63 && argv[i]; ++i) {
      v[i] = strdup(argv[i]);
    }
    v[i] = NULL;
    execvp(v[0], v);
    _exit(127);
  }
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) {
      return -1;
    }
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define RUN(quiet, ...)                                                        \
  run_argv((const char *const[]){__VA_ARGS__, NULL}, (quiet))

/* ip_in runs `ip -n NS ARGS...` (up to 8 arguments). */
static int ip_in(const char *ns, const char *a1, const char *a2, const char *a3,
                 const char *a4, const char *a5, const char *a6, const char *a7,
                 const char *a8) {
  const char *v[12] = {"ip", "-n", ns, a1, a2, a3, a4, a5, a6, a7, a8, NULL};
  return run_argv(v, 0);
}

/* ------------------------------------------------------------ cleanup */

static void close_tuns(void) {
  int i;
  for (i = 0; i < 2; ++i) {
    if (G.tun_fd[i] >= 0) {
      close(G.tun_fd[i]);
      G.tun_fd[i] = -1;
    }
  }
}

/* cleanup deletes what this run made; idempotent, called at exit and
 * after a signal.  A process still inside a namespace keeps it alive
 * (unnamed) until it exits: the name is gone all the same. */
static void cleanup(void) {
  int i;
  if (G.cleaned || !G.o) {
    return;
  }
  G.cleaned = 1;
  if (G.child > 0) {
    int st;
    kill(G.child, SIGTERM);
    for (i = 0; i < 30 && waitpid(G.child, &st, WNOHANG) == 0; ++i) {
      usleep(100000);
    }
    if (i == 30) {
      kill(G.child, SIGKILL);
      waitpid(G.child, &st, 0);
    }
    G.child = 0;
  }
  close_tuns();
  for (i = 0; i < 2; ++i) {
    if (G.ns_made[i]) {
      const char *ns = i == 0 ? G.o->ns_a : G.o->ns_b;
      if (RUN(0, "ip", "netns", "delete", ns) != 0) {
        fprintf(stderr, "%s: could not delete namespace %s\n", progname, ns);
      }
      G.ns_made[i] = 0;
    }
  }
}

/* stale_pid returns the PID in a default name "rudplab-PID-a|b", or 0. */
static long stale_pid(const char *name) {
  const char *p = name + strlen(NS_PREFIX);
  char *end;
  long pid;
  if (strncmp(name, NS_PREFIX, strlen(NS_PREFIX)) != 0 || !isdigit(*p)) {
    return 0;
  }
  pid = strtol(p, &end, 10);
  if (pid <= 0 || (strcmp(end, "-a") != 0 && strcmp(end, "-b") != 0)) {
    return 0;
  }
  return pid;
}

/* pid_gone: no such process, or a zombie (a killed run whose parent has
 * not reaped it yet). */
static int pid_gone(long pid) {
  char path[64], buf[256], *p;
  FILE *f;
  size_t n;
  if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
    return 1;
  }
  snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
  f = fopen(path, "r");
  if (!f) {
    return 1;
  }
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* "PID (COMM) STATE ...": COMM may hold spaces and parentheses. */
  p = strrchr(buf, ')');
  return p && p[1] == ' ' && p[2] == 'Z';
}

/* do_cleanup implements --cleanup: the named namespaces, or every
 * rudplab-PID-a|b whose PID no longer runs. */
static int do_cleanup(const opts *o) {
  DIR *d;
  struct dirent *e;
  int removed = 0, rv = 0;
  if (o->ns_given) {
    const char *names[2] = {o->ns_a, o->ns_b};
    int i;
    for (i = 0; i < 2; ++i) {
      char path[128];
      snprintf(path, sizeof(path), "/run/netns/%s", names[i]);
      if (access(path, F_OK) != 0) {
        continue;
      }
      if (RUN(0, "ip", "netns", "delete", names[i]) != 0) {
        rv = 1;
      } else {
        printf("%s: deleted %s\n", progname, names[i]);
        ++removed;
      }
    }
    return rv;
  }
  d = opendir("/run/netns");
  if (!d) {
    return 0; /* no namespace at all */
  }
  while ((e = readdir(d)) != NULL) {
    long pid = stale_pid(e->d_name);
    if (pid == 0 || !pid_gone(pid)) {
      continue;
    }
    if (RUN(0, "ip", "netns", "delete", e->d_name) != 0) {
      rv = 1;
    } else {
      printf("%s: deleted %s (pid %ld is gone)\n", progname, e->d_name, pid);
      ++removed;
    }
  }
  closedir(d);
  if (removed == 0 && rv == 0) {
    printf("%s: no stale namespace\n", progname);
  }
  return rv;
}

/* ------------------------------------------------------------ setup */

/* open_tun opens a TUN device named DEV inside namespace |ns|: the device
 * is created in the calling thread's namespace, so enter it, open, and
 * come back. */
static int open_tun(const char *ns, const char **pwhy) {
  char path[128];
  struct ifreq ifr;
  int nsfd, fd = -1, err;
  snprintf(path, sizeof(path), "/run/netns/%s", ns);
  nsfd = open(path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) {
    *pwhy = "cannot open the namespace";
    return -1;
  }
  if (setns(nsfd, CLONE_NEWNET) != 0) {
    *pwhy = "setns";
    close(nsfd);
    return -1;
  }
  close(nsfd);
  fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  err = errno;
  if (fd >= 0) {
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", DEV);
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
      err = errno;
      close(fd);
      fd = -1;
      *pwhy = "TUNSETIFF";
    }
  } else {
    *pwhy = "/dev/net/tun";
  }
  if (setns(G.orig_ns, CLONE_NEWNET) != 0) {
    /* Cannot happen with a valid fd as root; going on would run CMD in
     * namespace B. */
    fprintf(stderr, "%s: setns back: %s\n", progname, strerror(errno));
    exit(1);
  }
  errno = err;
  return fd;
}

/* config_side brings namespace |ns|'s loopback and DEV up with the MTU
 * and txqueuelen of |o| and its addresses. */
static int config_side(const char *ns, const opts *o, const addr *a4,
                       const addr *a6) {
  char mtus[16], txqs[16], cidr[INET6_ADDRSTRLEN + 8];
  snprintf(mtus, sizeof(mtus), "%u", o->mtu);
  snprintf(txqs, sizeof(txqs), "%u", o->txqueuelen);
  if (ip_in(ns, "link", "set", "lo", "up", NULL, NULL, NULL, NULL) != 0 ||
      ip_in(ns, "link", "set", DEV, "mtu", mtus, "txqueuelen", txqs, "up") !=
          0) {
    return -1;
  }
  snprintf(cidr, sizeof(cidr), "%s/%u", a4->text, a4->prefix);
  if (ip_in(ns, "addr", "add", cidr, "dev", DEV, NULL, NULL, NULL) != 0) {
    return -1;
  }
  snprintf(cidr, sizeof(cidr), "%s/%u", a6->text, a6->prefix);
  /* nodad: usable at once (duplicate detection would hold it ~1 s). */
  if (ip_in(ns, "-6", "addr", "add", cidr, "dev", DEV, "nodad", NULL) != 0) {
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------ tc mode */

/* tc_pct formats parts per billion as tc's "P%" into |buf|. */
static const char *tc_pct(char *buf, size_t n, uint32_t ppb) {
  snprintf(buf, n, "%.7f%%", (double)ppb / 1e7);
  return buf;
}

/* tc_args builds tc-netem's arguments for |sp| into |argv| (at least 40
 * entries, strings in |store|).  Returns the count, or -1 with |*pwhy|. */
static int tc_args(const rudp_netem_spec *sp, const char **argv,
                   char store[][32], const char **pwhy) {
  int n = 0, s = 0;
#define ARG(x) (argv[n++] = (x))
#define FMT(...) (snprintf(store[s], 32, __VA_ARGS__), argv[n++] = store[s++])
  if (sp->loss && (sp->burst_enter || sp->burst_loss_good)) {
    *pwhy = "tc-netem takes one loss model: loss= or burst=";
    return -1;
  }
  if (sp->queue_bytes) {
    *pwhy = "tc-netem's limit counts packets: use queue=PKTS";
    return -1;
  }
  if (sp->delay || sp->jitter) {
    ARG("delay");
    FMT("%" PRIu64 "us", (uint64_t)(sp->delay / RUDP_MICROSECONDS));
    if (sp->jitter) {
      FMT("%" PRIu64 "us", (uint64_t)(sp->jitter / RUDP_MICROSECONDS));
    }
  }
  if (sp->loss) {
    ARG("loss");
    ARG("random");
    argv[n++] = tc_pct(store[s++], 32, sp->loss);
  } else if (sp->burst_enter || sp->burst_loss_good) {
    ARG("loss");
    ARG("gemodel");
    argv[n++] = tc_pct(store[s++], 32, sp->burst_enter);
    argv[n++] = tc_pct(store[s++], 32, sp->burst_exit);
    argv[n++] = tc_pct(store[s++], 32, sp->burst_loss_bad);
    argv[n++] = tc_pct(store[s++], 32, sp->burst_loss_good);
  }
  if (sp->reorder) {
    ARG("reorder");
    argv[n++] = tc_pct(store[s++], 32, sp->reorder);
  }
  if (sp->dup) {
    ARG("duplicate");
    argv[n++] = tc_pct(store[s++], 32, sp->dup);
  }
  if (sp->corrupt) {
    ARG("corrupt");
    argv[n++] = tc_pct(store[s++], 32, sp->corrupt);
  }
  if (sp->rate) {
    ARG("rate");
    FMT("%" PRIu64 "bit", sp->rate);
  }
  ARG("limit");
  FMT("%" PRIu64, sp->queue_pkts ? sp->queue_pkts : (uint64_t)SLOTS);
#undef ARG
#undef FMT
  argv[n] = NULL;
  return n;
}

/* setup_tc joins the namespaces with a veth pair and puts tc-netem on
 * each end.  Returns 0, or 1 after printing why. */
static int setup_tc(const opts *o) {
  int i, rv;
  rv = RUN(0, "ip", "link", "add", DEV, "netns", o->ns_a, "type", "veth",
           "peer", "name", DEV, "netns", o->ns_b);
  if (rv != 0) {
    fprintf(stderr, "%s: --use-tc: cannot create the veth pair\n", progname);
    return 1;
  }
  for (i = 0; i < 2; ++i) {
    const char *ns = i == 0 ? o->ns_a : o->ns_b;
    const char *argv[64] = {"ip",  "netns", "exec", ns,     "tc",   "qdisc",
                            "add", "dev",   DEV,    "root", "netem"};
    char store[40][32];
    const char *why = NULL;
    if (config_side(ns, o, &o->addr4[i], &o->addr6[i]) != 0) {
      fprintf(stderr, "%s: cannot configure %s\n", progname, ns);
      return 1;
    }
    if (tc_args(&o->spec[i], argv + 11, store, &why) < 0) {
      fprintf(stderr, "%s: --use-tc: %s: %s\n", progname, i ? "b2a" : "a2b",
              why);
      return 1;
    }
    if (run_argv(argv, 0) != 0) {
      fprintf(stderr,
              "%s: --use-tc: tc could not add a netem qdisc (does this kernel "
              "have sch_netem?); run without --use-tc\n",
              progname);
      return 1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------ forwarding */

static void dir_write(dir *d, const uint8_t *pkt, size_t len) {
  ssize_t w = write(d->out_fd, pkt, len);
  if (w == (ssize_t)len) {
    ++d->pkts_out;
    d->bytes_out += len;
  } else {
    /* EIO / ENOMEM / a full backlog: the packet is lost, as on a link. */
    ++d->write_errors;
  }
}

/* dir_read reads up to BATCH packets from |d|'s input.  Each packet's
 * delay counts from the clock read after its read(): a time taken before
 * the batch would be stale by the reads before it, or by a preemption, and
 * the packet would leave early (a busy CI host saw a 20 ms path's RTT at
 * 19.4 ms).  Returns -1 on a fatal read error. */
static int dir_read(dir *d, uint8_t *buf) {
  int i;
  static const struct sockaddr_storage none;
  for (i = 0; i < BATCH; ++i) {
    ssize_t r = read(d->in_fd, buf, PKT_MAX);
    rudp_tstamp now = mono_ns();
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        return 0;
      }
      return -1;
    }
    if (r == 0 || r > RUDP_MAX_UDP_PAYLOAD) {
      continue;
    }
    ++d->pkts_in;
    d->bytes_in += (uint64_t)r;
    if (!d->impaired) {
      dir_write(d, buf, (size_t)r);
    } else {
      rudp_netem_submit(&d->ne, buf, (size_t)r, (const struct sockaddr *)&none,
                        0, now);
    }
  }
  return 0;
}

/* dir_release writes every copy due by |now| + EARLY_NS. */
static void dir_release(dir *d, uint8_t *buf, rudp_tstamp now) {
  struct sockaddr_storage to;
  socklen_t tolen;
  rudp_ssize n;
  if (!d->impaired) {
    return;
  }
  while ((n = rudp_netem_pop(&d->ne, now + EARLY_NS, buf, PKT_MAX, &to,
                             &tolen)) > 0) {
    dir_write(d, buf, (size_t)n);
  }
}

/* dev_tx_dropped returns DEV's tx_dropped counter in namespace |ns| (from
 * /proc/self/net/dev, which shows the reading thread's namespace), or
 * -1. */
static int64_t dev_tx_dropped(const char *ns) {
  char path[128], line[512];
  int64_t drops = -1;
  FILE *f;
  int nsfd;
  snprintf(path, sizeof(path), "/run/netns/%s", ns);
  nsfd = open(path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) {
    return -1;
  }
  if (setns(nsfd, CLONE_NEWNET) != 0) {
    close(nsfd);
    return -1;
  }
  close(nsfd);
  f = fopen("/proc/self/net/dev", "r");
  while (f && fgets(line, sizeof(line), f)) {
    char *p = line + strspn(line, " ");
    unsigned long long v[16];
    if (strncmp(p, DEV ":", strlen(DEV) + 1) != 0) {
      continue;
    }
    /* rx: bytes packets errs drop fifo frame compressed multicast;
     * tx: bytes packets errs drop ... */
    if (sscanf(p + strlen(DEV) + 1,
               "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
               &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
               &v[9], &v[10], &v[11]) == 12) {
      drops = (int64_t)v[11];
    }
  }
  if (f) {
    fclose(f);
  }
  if (setns(G.orig_ns, CLONE_NEWNET) != 0) {
    fprintf(stderr, "%s: setns back: %s\n", progname, strerror(errno));
    exit(1);
  }
  return drops;
}

static void dir_report(const dir *d) {
  const rudp_netem_stats *s = &d->ne.stats;
  fprintf(stderr,
          "%s: %s: %" PRIu64 " packets in (%" PRIu64 " bytes), %" PRIu64
          " out; lost %" PRIu64 " (burst %" PRIu64 "), queue drops %" PRIu64
          ", duplicated %" PRIu64 ", corrupted %" PRIu64 ", reordered %" PRIu64
          ", write errors %" PRIu64 "; device queue drops %" PRId64 "\n",
          progname, d->name, d->pkts_in, d->bytes_in, d->pkts_out,
          s->dropped_loss, d->ne.dropped_burst, s->dropped_queue, s->duplicated,
          s->corrupted, s->reordered, d->write_errors, d->dev_drops);
}

/* check_child reaps CMD; returns nonzero (with |*pstatus|) once it
 * exited. */
static int check_child(int *pstatus) {
  int st;
  pid_t p;
  if (G.child <= 0) {
    return 0;
  }
  p = waitpid(G.child, &st, WNOHANG);
  if (p != G.child) {
    return 0;
  }
  G.child = 0;
  *pstatus = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return 1;
}

/* loop forwards until a signal, CMD's exit or a device error.  Returns
 * the exit status. */
static int loop(dir *ab, dir *ba) {
  static uint8_t buf[PKT_MAX];
  struct pollfd pf[3];
  int status = 0, nfds;
  pf[0].fd = G.sig_pipe[0];
  pf[0].events = POLLIN;
  pf[1].fd = ab ? ab->in_fd : -1;
  pf[1].events = POLLIN;
  pf[2].fd = ba ? ba->in_fd : -1;
  pf[2].events = POLLIN;
  nfds = ab ? 3 : 1;
  for (;;) {
    rudp_tstamp now, next = RUDP_TSTAMP_MAX;
    struct timespec ts, *tsp = NULL;
    int rv, i;
    if (g_signal) {
      fprintf(stderr, "%s: %s: stopping\n", progname, strsignal(g_signal));
      return G.o->cmd ? 128 + g_signal : 0;
    }
    if (check_child(&status)) {
      return status;
    }
    if (ab) {
      now = mono_ns();
      dir_release(ab, buf, now);
      dir_release(ba, buf, now);
      if (ab->impaired) {
        next = rudp_netem_next(&ab->ne);
      }
      if (ba->impaired) {
        rudp_tstamp t = rudp_netem_next(&ba->ne);
        next = t < next ? t : next;
      }
      if (next != RUDP_TSTAMP_MAX) {
        rudp_duration wait = next > now + EARLY_NS ? next - now - EARLY_NS : 0;
        ts.tv_sec = (time_t)(wait / RUDP_SECONDS);
        ts.tv_nsec = (long)(wait % RUDP_SECONDS);
        tsp = &ts;
      }
    }
    rv = ppoll(pf, (nfds_t)nfds, tsp, NULL);
    if (rv < 0) {
      if (errno == EINTR) {
        continue;
      }
      fprintf(stderr, "%s: ppoll: %s\n", progname, strerror(errno));
      return 1;
    }
    if (pf[0].revents & POLLIN) {
      char drain[64];
      while (read(G.sig_pipe[0], drain, sizeof(drain)) > 0) {
      }
    }
    for (i = 1; i < nfds; ++i) {
      dir *d = i == 1 ? ab : ba;
      if ((pf[i].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0 ||
          ((pf[i].revents & POLLIN) && dir_read(d, buf) != 0)) {
        fprintf(stderr, "%s: %s: reading the device failed: %s\n", progname,
                d->name, strerror(errno));
        return 1;
      }
    }
  }
}

/* start_cmd runs CMD (in our namespace, with the RUDP_* variables set). */
static int start_cmd(char **cmd) {
  pid_t pid;
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid < 0) {
    fprintf(stderr, "%s: fork: %s\n", progname, strerror(errno));
    return -1;
  }
  if (pid == 0) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    execvp(cmd[0], cmd);
    fprintf(stderr, "%s: %s: %s\n", progname, cmd[0], strerror(errno));
    _exit(127);
  }
  G.child = pid;
  return 0;
}

/* export_env sets RUDP_NS_A, RUDP_NS_B, RUDP_ADDR_A/B and RUDP_ADDR6_A/B
 * and, when |print|, prints them as NAME=VALUE lines. */
static void export_env(const opts *o, int print) {
  const char *kv[6][2] = {{"RUDP_NS_A", o->ns_a},
                          {"RUDP_NS_B", o->ns_b},
                          {"RUDP_ADDR_A", o->addr4[0].text},
                          {"RUDP_ADDR_B", o->addr4[1].text},
                          {"RUDP_ADDR6_A", o->addr6[0].text},
                          {"RUDP_ADDR6_B", o->addr6[1].text}};
  size_t i;
  for (i = 0; i < 6; ++i) {
    setenv(kv[i][0], kv[i][1], 1);
    if (print) {
      printf("%s=%s\n", kv[i][0], kv[i][1]);
    }
  }
}

/* ------------------------------------------------------------ main */

enum {
  OPT_A2B = 256,
  OPT_B2A,
  OPT_BOTH,
  OPT_NS_A,
  OPT_NS_B,
  OPT_ADDR_A,
  OPT_ADDR_B,
  OPT_MTU,
  OPT_TXQ,
  OPT_USE_TC,
  OPT_CLEANUP,
  OPT_VERSION
};

/* parse_opts fills |o|; returns 0, or 2 after a usage error, or -1 after
 * -h / --version (exit 0). */
static int parse_opts(opts *o, int argc, char **argv) {
  static const struct option longopts[] = {
      {"a2b", required_argument, NULL, OPT_A2B},
      {"b2a", required_argument, NULL, OPT_B2A},
      {"both", required_argument, NULL, OPT_BOTH},
      {"ns-a", required_argument, NULL, OPT_NS_A},
      {"ns-b", required_argument, NULL, OPT_NS_B},
      {"addr-a", required_argument, NULL, OPT_ADDR_A},
      {"addr-b", required_argument, NULL, OPT_ADDR_B},
      {"mtu", required_argument, NULL, OPT_MTU},
      {"txqueuelen", required_argument, NULL, OPT_TXQ},
      {"use-tc", no_argument, NULL, OPT_USE_TC},
      {"cleanup", no_argument, NULL, OPT_CLEANUP},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION},
      {NULL, 0, NULL, 0},
  };
  const char *both = NULL, *ns[2] = {NULL, NULL};
  int c, i, given_a = 0, given_b = 0;
  char *end;
  unsigned long v;

  memset(o, 0, sizeof(*o));
  o->mtu = 1500;
  o->txqueuelen = DEFAULT_TXQ;
  parse_cidr(&o->addr4[0], "10.77.0.1/24");
  parse_cidr(&o->addr4[1], "10.77.0.2/24");
  parse_cidr(&o->addr6[0], "fd77::1/64");
  parse_cidr(&o->addr6[1], "fd77::2/64");
  /* "+": options end at the first non-option (CMD's own options). */
  while ((c = getopt_long(argc, argv, "+qh", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_A2B:
      o->spec_str[0] = optarg;
      break;
    case OPT_B2A:
      o->spec_str[1] = optarg;
      break;
    case OPT_BOTH:
      both = optarg;
      break;
    case OPT_NS_A:
    case OPT_NS_B:
      if (!ns_name_ok(optarg)) {
        return usage_error("%s: bad namespace name '%s' (letters, digits, "
                           "'-', '_', '.'; at most %d)",
                           c == OPT_NS_A ? "--ns-a" : "--ns-b", optarg,
                           NS_NAME_MAX);
      }
      ns[c == OPT_NS_B] = optarg;
      break;
    case OPT_ADDR_A:
    case OPT_ADDR_B: {
      addr a;
      int side = c == OPT_ADDR_B;
      int *given = side ? &given_b : &given_a;
      if (parse_cidr(&a, optarg) != 0) {
        return usage_error("%s: expected ADDR/PREFIX (IPv4 /1-30 or IPv6 "
                           "/1-126), got '%s'",
                           side ? "--addr-b" : "--addr-a", optarg);
      }
      if (*given & (a.family == AF_INET ? 1 : 2)) {
        return usage_error("%s: one address per family",
                           side ? "--addr-b" : "--addr-a");
      }
      *given |= a.family == AF_INET ? 1 : 2;
      if (a.family == AF_INET) {
        o->addr4[side] = a;
      } else {
        o->addr6[side] = a;
      }
      break;
    }
    case OPT_MTU:
      errno = 0;
      v = strtoul(optarg, &end, 10);
      if (errno || *end || end == optarg || v < MTU_MIN || v > MTU_MAX) {
        return usage_error("--mtu: expected %d to %d, got '%s'", MTU_MIN,
                           MTU_MAX, optarg);
      }
      o->mtu = (unsigned)v;
      break;
    case OPT_TXQ:
      errno = 0;
      v = strtoul(optarg, &end, 10);
      if (errno || *end || end == optarg || v < 10 || v > 100000) {
        return usage_error("--txqueuelen: expected 10 to 100000, got '%s'",
                           optarg);
      }
      o->txqueuelen = (unsigned)v;
      break;
    case OPT_USE_TC:
      o->use_tc = 1;
      break;
    case OPT_CLEANUP:
      o->cleanup = 1;
      break;
    case 'q':
      o->quiet = 1;
      break;
    case 'h':
      usage(stdout);
      return -1;
    case OPT_VERSION:
      printf("%s (librudp) %s\n", progname, rudp_version());
      return -1;
    default:
      fprintf(stderr, "%s: try '%s --help'\n", progname, progname);
      return 2;
    }
  }
  if (optind < argc) {
    if (o->cleanup) {
      return usage_error("--cleanup: takes no command");
    }
    o->cmd = argv + optind;
  }
  if ((ns[0] == NULL) != (ns[1] == NULL)) {
    return usage_error("--ns-a and --ns-b: give both or neither");
  }
  if (ns[0]) {
    if (strcmp(ns[0], ns[1]) == 0) {
      return usage_error("--ns-a, --ns-b: the two names must differ");
    }
    snprintf(o->ns_a, sizeof(o->ns_a), "%s", ns[0]);
    snprintf(o->ns_b, sizeof(o->ns_b), "%s", ns[1]);
    o->ns_given = 1;
  } else {
    snprintf(o->ns_a, sizeof(o->ns_a), NS_PREFIX "%ld-a", (long)getpid());
    snprintf(o->ns_b, sizeof(o->ns_b), NS_PREFIX "%ld-b", (long)getpid());
  }
  if (!same_subnet(&o->addr4[0], &o->addr4[1]) ||
      !same_subnet(&o->addr6[0], &o->addr6[1])) {
    return usage_error("--addr-a, --addr-b: A and B need different addresses "
                       "in one subnet of one prefix length");
  }
  for (i = 0; i < 2; ++i) {
    const char *s = o->spec_str[i] ? o->spec_str[i] : both;
    const char *why = NULL;
    if (!s) {
      s = "";
    }
    o->spec_str[i] = s;
    if (rudp_netem_parse_lab(&o->spec[i], s, &why) != 0) {
      return usage_error("%s: %s: '%s'", i ? "--b2a" : "--a2b", why, s);
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  /* static: still reachable (leak checkers) when an error path returns. */
  static opts o;
  static dir ab, ba;
  struct sigaction sa;
  int rv, i, status;

  rv = parse_opts(&o, argc, argv);
  if (rv != 0) {
    return rv < 0 ? 0 : rv;
  }
  if (geteuid() != 0) {
    fprintf(stderr,
            "%s: needs root: it creates network namespaces and TUN devices\n",
            progname);
    return 1;
  }
  if (RUN(1, "ip", "-V") != 0) {
    fprintf(stderr, "%s: ip (iproute2) not found: install iproute2\n",
            progname);
    return 1;
  }
  if (o.cleanup) {
    return do_cleanup(&o);
  }
  if (!o.use_tc && access("/dev/net/tun", R_OK | W_OK) != 0) {
    fprintf(stderr, "%s: /dev/net/tun: %s\n", progname, strerror(errno));
    return 1;
  }

  /* Signals first: from the first namespace on, every way out cleans. */
  if (pipe2(G.sig_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
    fprintf(stderr, "%s: pipe: %s\n", progname, strerror(errno));
    return 1;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGCHLD, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  G.o = &o;
  atexit(cleanup);
  G.orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (G.orig_ns < 0) {
    fprintf(stderr, "%s: /proc/self/ns/net: %s\n", progname, strerror(errno));
    return 1;
  }

  for (i = 0; i < 2; ++i) {
    const char *ns = i == 0 ? o.ns_a : o.ns_b;
    char path[128];
    snprintf(path, sizeof(path), "/run/netns/%s", ns);
    if (access(path, F_OK) == 0) {
      fprintf(stderr, "%s: namespace %s already exists\n", progname, ns);
      return 1;
    }
    if (RUN(0, "ip", "netns", "add", ns) != 0) {
      fprintf(stderr, "%s: cannot create namespace %s\n", progname, ns);
      return 1;
    }
    G.ns_made[i] = 1;
  }
  if (g_signal) {
    return 1;
  }

  memset(&ab, 0, sizeof(ab));
  memset(&ba, 0, sizeof(ba));
  if (o.use_tc) {
    if (setup_tc(&o) != 0) {
      return 1;
    }
  } else {
    dir *d[2] = {&ab, &ba};
    for (i = 0; i < 2; ++i) {
      const char *ns = i == 0 ? o.ns_a : o.ns_b;
      const char *why = "";
      G.tun_fd[i] = open_tun(ns, &why);
      if (G.tun_fd[i] < 0) {
        fprintf(stderr, "%s: TUN device in %s: %s: %s\n", progname, ns, why,
                strerror(errno));
        return 1;
      }
      if (config_side(ns, &o, &o.addr4[i], &o.addr6[i]) != 0) {
        fprintf(stderr, "%s: cannot configure %s\n", progname, ns);
        return 1;
      }
    }
    for (i = 0; i < 2; ++i) {
      rudp_netem_spec sp = o.spec[i];
      d[i]->name = i == 0 ? "a2b" : "b2a";
      d[i]->in_fd = G.tun_fd[i];
      d[i]->out_fd = G.tun_fd[1 - i];
      d[i]->impaired = rudp_netem_spec_is_active(&sp);
      if (sp.rate && !sp.queue_pkts && !sp.queue_bytes) {
        sp.queue_pkts = DEFAULT_QUEUE;
      }
      if (i == 1) {
        sp.seed ^= B2A_SEED_MIX;
      }
      if (rudp_netem_init(&d[i]->ne, &sp, SLOTS, NULL) != 0 ||
          rudp_netem_set_max_bytes(&d[i]->ne, MAX_BYTES) != 0) {
        fprintf(stderr, "%s: out of memory\n", progname);
        return 1;
      }
    }
    /* Wakeups at the planned time, not 50 us later (the default slack). */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  }
  if (g_signal) {
    return 1;
  }

  export_env(&o, o.cmd == NULL);
  if (o.cmd) {
    if (start_cmd(o.cmd) != 0) {
      return 1;
    }
  } else {
    printf("%s: ready\n", progname);
    fflush(stdout);
  }
  status = loop(o.use_tc ? NULL : &ab, o.use_tc ? NULL : &ba);
  if (!o.use_tc) {
    /* Read while the devices exist (closing their fds removes them). */
    ab.dev_drops = dev_tx_dropped(o.ns_a);
    ba.dev_drops = dev_tx_dropped(o.ns_b);
    if (!o.quiet) {
      dir_report(&ab);
      dir_report(&ba);
    }
  }
  cleanup();
  if (!o.use_tc) {
    rudp_netem_free(&ab.ne);
    rudp_netem_free(&ba.ne);
  }
  return status;
}
