/*
 * Shared code of rudp-send and rudp-recv; see common.h.  SHA-256 is the
 * library's (lib/rudp_token.c).
 */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <rudp/rudp_event.h>

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
  if (bytes_per_s >= 1e9) {
    snprintf(out, outlen, "%.2f GB/s", bytes_per_s / 1e9);
  } else if (bytes_per_s >= 1e6) {
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
