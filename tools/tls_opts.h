/*
 * The TLS options every tool takes (DESIGN.md section 5, docs/TOOLS.md):
 *
 *   --tls            turn TLS 1.3 on
 *   --cert F --key F server: PEM certificate chain and key (without them an
 *                    ephemeral self-signed certificate is made and its
 *                    SHA-256 fingerprint printed for clients to --pin)
 *   --ca F           client: trust the CAs in PEM file F (a directory: a
 *                    hashed CA directory) instead of the system store
 *   --pin SHA256     client: accept exactly the certificate with this
 *                    SHA-256 fingerprint (as the server printed it)
 *   --insecure       client: accept any certificate (no authentication)
 *
 * Each tool adds TOOL_TLS_LONGOPTS to its getopt_long table and passes the
 * option values to tool_tls_opt.
 */
#ifndef RUDP_TOOLS_TLS_OPTS_H
#define RUDP_TOOLS_TLS_OPTS_H

#include <rudp/rudp.h>
#include <rudp/rudp_tls.h>

/* getopt_long values of the TLS options (above any short option). */
enum {
  TOOL_OPT_TLS = 0x1100,
  TOOL_OPT_CERT,
  TOOL_OPT_KEY,
  TOOL_OPT_CA,
  TOOL_OPT_PIN,
  TOOL_OPT_INSECURE
};

#define TOOL_TLS_LONGOPTS                                                      \
  {"tls", no_argument, NULL, TOOL_OPT_TLS},                                    \
      {"cert", required_argument, NULL, TOOL_OPT_CERT},                        \
      {"key", required_argument, NULL, TOOL_OPT_KEY},                          \
      {"ca", required_argument, NULL, TOOL_OPT_CA},                            \
      {"pin", required_argument, NULL, TOOL_OPT_PIN}, {                        \
    "insecure", no_argument, NULL, TOOL_OPT_INSECURE                           \
  }

/* The -h lines of the TLS options: the switch, the server's options and
 * the client's. */
#define TOOL_TLS_HELP_TLS                                                      \
  "  --tls              use TLS 1.3 (both sides must use --tls)\n"
#define TOOL_TLS_HELP_SERVER                                                   \
  "  --cert FILE        PEM certificate chain (with --key); without it an\n"   \
  "                     ephemeral self-signed certificate is made and its\n"   \
  "                     SHA-256 fingerprint printed\n"                         \
  "  --key FILE         PEM private key of --cert\n"
#define TOOL_TLS_HELP_CLIENT                                                   \
  "  --ca FILE          trust the CAs in FILE (PEM; a directory: hashed CA\n"  \
  "                     directory) instead of the system store\n"              \
  "  --pin SHA256       accept only the certificate with this SHA-256\n"       \
  "                     fingerprint (as the server printed it)\n"              \
  "  --insecure         accept any certificate (encryption without\n"          \
  "                     authentication; testing only)\n"

/* tool_tls_opts collects the TLS options of one command line. */
typedef struct tool_tls_opts {
  int tls;
  const char *cert;
  const char *key;
  const char *ca;
  const char *pin;
  int insecure;
} tool_tls_opts;

/*
 * tool_tls_opt records option |c| (one of TOOL_OPT_*) with argument |arg|.
 * Returns 1 if |c| was a TLS option, 0 otherwise.
 */
int tool_tls_opt(tool_tls_opts *o, int c, const char *arg);

/*
 * tool_tls_check validates the combination for a server (|server| nonzero)
 * or client: the options need --tls, --cert and --key go together and only
 * on a server, --ca, --pin and --insecure only on a client and at most one
 * of them, a pin must be 64 hex digits (colons allowed).  On a problem it
 * prints "|prog|: what: why" and returns 2 (usage error); else 0.
 */
int tool_tls_check(const char *prog, const tool_tls_opts *o, int server);

/*
 * tool_tls_ctx makes the TLS context the options ask for (NULL in
 * *pctx without --tls), offering ALPN |alpn|.  A server with an ephemeral
 * certificate prints "|prog|: TLS certificate SHA-256 FP" on standard
 * output (flushed) so a client can --pin it.  On failure it prints
 * "|prog|: TLS: reason" and returns 1 (2 without TLS support, like an
 * unknown option); else 0.
 */
int tool_tls_ctx(const char *prog, const tool_tls_opts *o, int server,
                 const char *alpn, rudp_tls_ctx **pctx);

#endif /* RUDP_TOOLS_TLS_OPTS_H */
