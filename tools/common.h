/*
 * Shared code of rudp-send and rudp-recv (docs/TOOLS.md), also used by
 * rudp-chat: the incremental SHA-256 (files of several GiB are hashed
 * while they stream), the file header's constants and the option and
 * formatting helpers.
 */
#ifndef RUDP_TOOLS_COMMON_H
#define RUDP_TOOLS_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

#include "rudp_token.h"

#define TOOL_SHA256_LEN 32

/* tool_sha256 is the library's incremental SHA-256 (lib/rudp_token.h). */
typedef rudp_sha256_ctx tool_sha256;

#define tool_sha256_init rudp_sha256_init
#define tool_sha256_update rudp_sha256_update
#define tool_sha256_final rudp_sha256_final

struct rudp_event;

/*
 * tool_endpoint_error returns the reason to print when creating an
 * endpoint failed with |rv| (errno for RUDP_ERR_IO; the --netem spec when
 * one was given and the settings were refused).
 */
const char *tool_endpoint_error(int rv, const char *netem);

/*
 * tool_print_listening prints "|tool|: listening on ADDR:PORT" (IPv6 in
 * brackets) for |ev|'s socket on standard output and flushes it: scripts
 * read the port from this first line when -p 0 picked one.
 */
void tool_print_listening(const char *tool, const struct rudp_event *ev);

/*
 * tool_bulk_settings tunes |s| for bulk transfer: larger initial windows
 * (8 MiB per connection, 4 MiB per stream, auto-tuning to 32 MiB) so a
 * transfer does not wait for the windows to grow, and keepalives at a
 * third of |s|'s idle timeout (set it first).  The datagram size stays at
 * the safe 1200 bytes: the path MTU is not probed yet.
 */
void tool_bulk_settings(rudp_settings *s);

/* The per-file header (docs/TOOLS.md): "RUDPF1", name length (u16 BE),
 * name, size (u64 BE), SHA-256.  "RUDPR1" (rudp-send --resume) has the
 * same fields and asks the receiver for its partial copy first. */
#define TOOL_MAGIC "RUDPF1"
#define TOOL_MAGIC_RESUME "RUDPR1"
#define TOOL_MAGICLEN 6
#define TOOL_HDR_FIXED (TOOL_MAGICLEN + 2 + 8 + TOOL_SHA256_LEN)
/* Longest name accepted: NAME_MAX of Linux file systems. */
#define TOOL_NAME_MAX 255

/* tool_default_port is the port both tools use without -p. */
#define TOOL_DEFAULT_PORT 5300

/* tool_parse_port parses a decimal port in [min, 65535]; returns 0 or
 * -1. */
int tool_parse_port(const char *s, unsigned min, uint16_t *pport);

/* tool_parse_cc parses "reno" or "cubic"; returns 0 or -1. */
int tool_parse_cc(const char *s, rudp_cc_algo *palgo);

/* tool_check_name returns NULL if |name| (|len| bytes) is a safe plain
 * file name, else why it is refused. */
const char *tool_check_name(const uint8_t *name, size_t len);

/* tool_hex writes the 64 hex digits of |md| and a NUL into |out|. */
void tool_hex(char out[2 * TOOL_SHA256_LEN + 1],
              const uint8_t md[TOOL_SHA256_LEN]);

/* tool_fmt_rate writes |bytes_per_s| with a unit ("12.3 MB/s") to |out|. */
void tool_fmt_rate(char *out, size_t outlen, double bytes_per_s);

/* tool_now_s returns CLOCK_MONOTONIC in seconds. */
double tool_now_s(void);

/* Bounds of tool_parse_rate, in bits per second. */
#define TOOL_RATE_MIN 1000ull
#define TOOL_RATE_MAX 100000000000ull

/*
 * tool_parse_rate parses a rate in bits per second like iperf3's -b: a
 * decimal number (fractions allowed) with an optional k, M or G suffix
 * (powers of 1000, either case), e.g. "10M" = 10 Mbit/s.  It stores the
 * rate in |*pbits| and returns 0, or -1 when |s| is not such a number or
 * is outside [TOOL_RATE_MIN, TOOL_RATE_MAX].
 */
int tool_parse_rate(const char *s, uint64_t *pbits);

/* tool_fmt_bytes writes |n| bytes with a decimal unit ("104.9 MB") to
 * |out|. */
void tool_fmt_bytes(char *out, size_t outlen, uint64_t n);

/*
 * tool_bad_option prints the one-line usage error for getopt_long's
 * return |c| ('?' unknown option, ':' missing argument; the option string
 * must start with ':'): "|tool|: OPTION: why (see |tool| -h)".  Call it
 * right after getopt_long returned (it reads optind, optopt and |argv|).
 */
void tool_bad_option(const char *tool, int c, char **argv);

/* tool_hold_signals blocks SIGINT and SIGTERM for the rest of the process:
 * call it once the event loop is over, before freeing the signal events
 * (which put back the default action).  `timeout`, and shells killing a
 * process group, deliver SIGTERM twice; without this a second copy
 * arriving during the clean-up would kill the tool with status 143 after
 * it had already stopped cleanly on the first. */
void tool_hold_signals(void);

#endif /* RUDP_TOOLS_COMMON_H */
