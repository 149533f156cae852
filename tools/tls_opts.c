/*
 * The tools' TLS options (tls_opts.h).
 */
#include "tls_opts.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int tool_tls_opt(tool_tls_opts *o, int c, const char *arg) {
  switch (c) {
  case TOOL_OPT_TLS:
    o->tls = 1;
    return 1;
  case TOOL_OPT_CERT:
    o->cert = arg;
    return 1;
  case TOOL_OPT_KEY:
    o->key = arg;
    return 1;
  case TOOL_OPT_CA:
    o->ca = arg;
    return 1;
  case TOOL_OPT_PIN:
    o->pin = arg;
    return 1;
  case TOOL_OPT_INSECURE:
    o->insecure = 1;
    return 1;
  default:
    return 0;
  }
}

/* pin_valid accepts 64 hex digits, optionally separated by colons. */
static int pin_valid(const char *pin) {
  size_t digits = 0;
  for (; *pin; ++pin) {
    if (isxdigit((unsigned char)*pin)) {
      ++digits;
    } else if (*pin != ':') {
      return 0;
    }
  }
  return digits == 64;
}

int tool_tls_check(const char *prog, const tool_tls_opts *o, int server) {
  const char *opt = NULL;
  if (!o->tls) {
    opt = o->cert       ? "--cert"
          : o->key      ? "--key"
          : o->ca       ? "--ca"
          : o->pin      ? "--pin"
          : o->insecure ? "--insecure"
                        : NULL;
    if (opt) {
      fprintf(stderr, "%s: %s: needs --tls\n", prog, opt);
      return 2;
    }
    return 0;
  }
  if (server) {
    opt = o->ca ? "--ca" : o->pin ? "--pin" : o->insecure ? "--insecure" : NULL;
    if (opt) {
      fprintf(stderr,
              "%s: %s: a client option (the server is verified, not "
              "the client)\n",
              prog, opt);
      return 2;
    }
    if (!o->cert != !o->key) {
      fprintf(stderr, "%s: %s: needs %s too\n", prog,
              o->cert ? "--cert" : "--key", o->cert ? "--key" : "--cert");
      return 2;
    }
    return 0;
  }
  opt = o->cert ? "--cert" : o->key ? "--key" : NULL;
  if (opt) {
    fprintf(stderr, "%s: %s: a server option\n", prog, opt);
    return 2;
  }
  if (!!o->ca + !!o->pin + !!o->insecure > 1) {
    fprintf(stderr, "%s: --ca, --pin, --insecure: choose one\n", prog);
    return 2;
  }
  if (o->pin && !pin_valid(o->pin)) {
    fprintf(stderr,
            "%s: --pin: '%s' is not a SHA-256 fingerprint (64 hex digits, "
            "colons allowed)\n",
            prog, o->pin);
    return 2;
  }
  return 0;
}

int tool_tls_ctx(const char *prog, const tool_tls_opts *o, int server,
                 const char *alpn, rudp_tls_ctx **pctx) {
  rudp_tls_config cfg;
  char err[256] = "";
  int rv;
  *pctx = NULL;
  if (!o->tls) {
    return 0;
  }
  if (!rudp_tls_available()) {
    fprintf(stderr, "%s: --tls: built without TLS (OpenSSL)\n", prog);
    return 2;
  }
  rudp_tls_config_default(&cfg);
  cfg.server = server;
  cfg.alpn = alpn;
  if (server) {
    cfg.cert_file = o->cert;
    cfg.key_file = o->key;
  } else {
    struct stat st;
    cfg.pin_sha256 = o->pin;
    cfg.insecure = o->insecure;
    if (o->ca && stat(o->ca, &st) == 0 && S_ISDIR(st.st_mode)) {
      cfg.ca_dir = o->ca;
    } else {
      cfg.ca_file = o->ca;
    }
  }
  rv = rudp_tls_ctx_new(pctx, &cfg, err, sizeof(err));
  if (rv != 0) {
    fprintf(stderr, "%s: TLS: %s\n", prog, err[0] ? err : rudp_strerror(rv));
    return 1;
  }
  if (server && !o->cert) {
    char fp[96];
    if (rudp_tls_ctx_get_fingerprint(*pctx, fp, sizeof(fp)) == 0) {
      printf("%s: TLS certificate SHA-256 %s\n", prog, fp);
      fflush(stdout);
    }
  }
  return 0;
}
