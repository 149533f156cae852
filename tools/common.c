/*
 * Shared code of rudp-send and rudp-recv; see common.h.  SHA-256 is the
 * library's (lib/rudp_token.c).
 */
/* Files over 2 GiB on 32-bit systems too (see tool_off_t_is_64_bit). */
#define _FILE_OFFSET_BITS 64

#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <rudp/rudp_event.h>

/* rudp-send and rudp-recv keep sizes and offsets in uint64_t and hand
 * them to lseek / pread / ftruncate as off_t: a 32-bit off_t would cut
 * files at 2 GiB, so the build fails instead. */
typedef char tool_off_t_is_64_bit[sizeof(off_t) >= 8 ? 1 : -1];

const char *tool_endpoint_error(int rv, const char *netem) {
  if (rv == RUDP_ERR_IO) {
    return strerror(errno);
  }
  if (rv == RUDP_ERR_INVALID_ARGUMENT && netem) {
    return "bad --netem spec or setting";
  }
  return rudp_strerror(rv);
}

void tool_print_listening(const char *tool, const struct rudp_event *ev) {
  struct sockaddr_storage bound;
  socklen_t boundlen = sizeof(bound);
  char host[INET6_ADDRSTRLEN];
  if (rudp_event_local_addr(ev, &bound, &boundlen) != 0) {
    return;
  }
  if (bound.ss_family == AF_INET6) {
    const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)&bound;
    inet_ntop(AF_INET6, &b->sin6_addr, host, sizeof(host));
    printf("%s: listening on [%s]:%u\n", tool, host,
           (unsigned)ntohs(b->sin6_port));
  } else {
    const struct sockaddr_in *b = (const struct sockaddr_in *)&bound;
    inet_ntop(AF_INET, &b->sin_addr, host, sizeof(host));
    printf("%s: listening on %s:%u\n", tool, host,
           (unsigned)ntohs(b->sin_port));
  }
  fflush(stdout);
}

void tool_bulk_settings(rudp_settings *s) {
  s->initial_max_data = 8u << 20;
  s->initial_max_stream_data = 4u << 20;
  s->max_window = 32u << 20;
  s->max_stream_window = 32u << 20;
  /* A side hashing a partial file for --resume sends nothing for a while;
   * PINGs keep the connection within the idle timeout meanwhile. */
  s->keepalive_interval = s->idle_timeout / 3;
}

int tool_parse_port(const char *s, unsigned min, uint16_t *pport) {
  char *end;
  unsigned long v;

  if (*s < '0' || *s > '9') {
    return -1;
  }
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno || *end || v < min || v > 65535) {
    return -1;
  }
  *pport = (uint16_t)v;
  return 0;
}

int tool_parse_cc(const char *s, rudp_cc_algo *palgo) {
  if (strcmp(s, "reno") == 0) {
    *palgo = RUDP_CC_RENO;
  } else if (strcmp(s, "cubic") == 0) {
    *palgo = RUDP_CC_CUBIC;
  } else {
    return -1;
  }
  return 0;
}

const char *tool_check_name(const uint8_t *name, size_t len) {
  size_t i;

  /* The receiver creates exactly DIR/name: a name that is not one plain
   * path component could escape DIR or name DIR itself. */
  if (len == 0) {
    return "empty name";
  }
  if (len > TOOL_NAME_MAX) {
    return "name too long";
  }
  if (name[0] == '/') {
    return "absolute name";
  }
  for (i = 0; i + 1 < len; ++i) {
    /* A ".." component anywhere: named first, it is the usual attack. */
    if (name[i] == '.' && name[i + 1] == '.' &&
        (i == 0 || name[i - 1] == '/') &&
        (i + 2 == len || name[i + 2] == '/')) {
      return "name contains a '..' component";
    }
  }
  if (len == 1 && name[0] == '.') {
    return "name is '.'";
  }
  for (i = 0; i < len; ++i) {
    if (name[i] == '/') {
      return "name contains '/'";
    }
    if (name[i] == 0) {
      return "name contains NUL";
    }
    if (name[i] < 0x20 || name[i] == 0x7f) {
      return "name contains control bytes";
    }
  }
  return NULL;
}

void tool_hex(char out[2 * TOOL_SHA256_LEN + 1],
              const uint8_t md[TOOL_SHA256_LEN]) {
  static const char digits[] = "0123456789abcdef";
  size_t i;

  for (i = 0; i < TOOL_SHA256_LEN; ++i) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 0xf];
  }
  out[2 * TOOL_SHA256_LEN] = 0;
}

void tool_fmt_rate(char *out, size_t outlen, double bytes_per_s) {
  /* The thresholds sit where rounding would print "1000.0 kB/s". */
  if (bytes_per_s >= 999.995e6) {
    snprintf(out, outlen, "%.2f GB/s", bytes_per_s / 1e9);
  } else if (bytes_per_s >= 999.95e3) {
    snprintf(out, outlen, "%.2f MB/s", bytes_per_s / 1e6);
  } else {
    snprintf(out, outlen, "%.1f kB/s", bytes_per_s / 1e3);
  }
}

double tool_now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tool_parse_rate(const char *s, uint64_t *pbits) {
  char *end;
  double v, mult = 1;

  size_t i = strspn(s, "0123456789");

  /* Digits, at most one '.' and digits: strtod alone would also take
   * "inf", "nan", hex, exponents and a sign. */
  if (i == 0) {
    return -1;
  }
  if (s[i] == '.') {
    i += 1 + strspn(s + i + 1, "0123456789");
  }
  if (s[i] && (s[i + 1] || !strchr("kKmMgG", s[i]))) {
    return -1;
  }
  errno = 0;
  v = strtod(s, &end);
  if (errno || end == s) {
    return -1;
  }
  switch (*end) {
  case 'k':
  case 'K':
    mult = 1e3;
    ++end;
    break;
  case 'm':
  case 'M':
    mult = 1e6;
    ++end;
    break;
  case 'g':
  case 'G':
    mult = 1e9;
    ++end;
    break;
  default:
    break;
  }
  v *= mult;
  if (*end || !isfinite(v) || v < (double)TOOL_RATE_MIN ||
      v > (double)TOOL_RATE_MAX) {
    return -1;
  }
  *pbits = (uint64_t)v;
  return 0;
}

void tool_fmt_bytes(char *out, size_t outlen, uint64_t n) {
  double v = (double)n;

  if (v >= 999.995e9) {
    snprintf(out, outlen, "%.2f TB", v / 1e12);
  } else if (v >= 999.95e6) {
    snprintf(out, outlen, "%.2f GB", v / 1e9);
  } else if (v >= 999.95e3) {
    snprintf(out, outlen, "%.1f MB", v / 1e6);
  } else if (v >= 1e3) {
    snprintf(out, outlen, "%.1f kB", v / 1e3);
  } else {
    snprintf(out, outlen, "%u B", (unsigned)n);
  }
}

void tool_bad_option(const char *tool, int c, char **argv) {
  /* getopt_long's own messages are off (a leading ':' in the option
   * string): ours fit on one line, "tool: what: why". */
  const char *arg = optind > 0 ? argv[optind - 1] : "";
  int is_long = strncmp(arg, "--", 2) == 0;
  const char *why = c == ':' ? "missing argument" : "unknown option";

  if (is_long && c == '?' && optopt != 0) {
    /* A known long option given "=VALUE" it does not take. */
    why = "takes no argument";
  }
  if (!is_long && optopt > 0 && optopt < 128) {
    fprintf(stderr, "%s: -%c: %s (see %s -h)\n", tool, optopt, why, tool);
  } else {
    fprintf(stderr, "%s: %s: %s (see %s -h)\n", tool, arg, why, tool);
  }
}

void tool_hold_signals(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, NULL);
}
