/*
 * TLS 1.3 handshake over OpenSSL 3 memory BIOs, and the public rudp_tls_ctx
 * (rudp_tls_openssl.h, rudp/rudp_tls.h).
 *
 * A session owns an SSL whose read BIO receives the peer's CRYPTO stream
 * and whose write BIO collects what goes into ours; nothing here does I/O
 * besides loading certificate files when a context is built.  The SSL
 * lives only through the handshake: once the connection is confirmed,
 * rudp_tls_session_release frees it and keeps what the connection still
 * reports (the negotiated suite, ALPN, resumption, the peer's fingerprint);
 * packet protection and key updates need nothing from it.
 *
 * OpenSSL keeps a per-thread error queue that every connection of the
 * thread shares, so it is cleared before each SSL call and after a failure
 * has been read from it: a stale entry would otherwise be blamed on the
 * next connection.
 */
#include "rudp_macro.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <rudp/rudp_tls.h>

#include "rudp_mem.h"
#include "rudp_tls.h"
#include "rudp_tls_openssl.h"
#include "rudp_tp.h"

/* TLS alert descriptions used here (RFC 8446 section 6). */
#define ALERT_UNEXPECTED_MESSAGE 10
#define ALERT_DECODE_ERROR 50
#define ALERT_INTERNAL_ERROR 80
#define ALERT_MISSING_EXTENSION 109
#define ALERT_NO_APPLICATION_PROTOCOL 120

/* The ClientHello extension type of ALPN (RFC 7301). */
#define EXT_ALPN 16

/* TLS record content types: the first byte of a TLS peer's stream. */
#define RECORD_ALERT 0x15
#define RECORD_HANDSHAKE 0x16

/* CACHE_MAX bounds the client session cache (server names). */
#define CACHE_MAX 64

/* FPLEN is the length of a printed fingerprint with its NUL. */
#define FPLEN (RUDP_TLS_SECRETLEN * 3)

#define EXPORTER_CLIENT "EXPORTER-rudp client 1rtt"
#define EXPORTER_SERVER "EXPORTER-rudp server 1rtt"

/* cache_entry is one server name's ticket; stamp orders insertions so the
 * oldest is evicted first. */
typedef struct cache_entry {
  char *name;
  SSL_SESSION *sess;
  uint64_t stamp;
} cache_entry;

struct rudp_tls_ctx {
  SSL_CTX *ssl_ctx;
  int server;
  /* verify_names: the client checks the certificate's names (CA mode:
   * neither pinned nor insecure). */
  int verify_names;
  int pinned;
  uint8_t pin[RUDP_TLS_SECRETLEN];
  /* alpn: the protocol list in wire format (length-prefixed names). */
  uint8_t *alpn;
  size_t alpnlen;
  /* fingerprint: the server's leaf certificate, printed. */
  char fingerprint[FPLEN];
  /* mu guards refcnt and the cache. */
  pthread_mutex_t mu;
  unsigned refcnt;
  int session_cache;
  cache_entry cache[CACHE_MAX];
  size_t ncache;
  uint64_t cache_stamp;
};

/*
 * tls_hs is what only the handshake needs: the SSL with its BIOs, the
 * transport parameters both ways and the causes of a failure.  It is
 * allocated apart from the session so that rudp_tls_session_release can
 * give all of it back once the handshake is confirmed (OpenSSL's SSL, its
 * record buffers, keys and the peer's certificate: tens of KB).  OpenSSL's
 * callbacks find it through SSL_get_app_data.
 */
typedef struct tls_hs {
  rudp_tls_ctx *ctx;
  SSL *ssl;
  /* rbio, wbio belong to ssl (SSL_set_bio). */
  BIO *rbio;
  BIO *wbio;
  char *server_name;
  uint8_t local_tp[RUDP_TP_MAXLEN];
  size_t local_tplen;
  /* tp_sent: the extension carrying local_tp went out (it can no longer
   * change). */
  int tp_sent;
  uint8_t peer_tp[RUDP_TP_MAXLEN];
  size_t peer_tplen;
  int peer_tp_received;
  /* started: the first byte of the peer's stream was seen (and checked to
   * be a TLS record). */
  int started;
  /* can_export: the exporter master secret exists (keylog callback). */
  int can_export;
  /* tickets counts the NewSessionTicket messages received (client with a
   * session cache). */
  unsigned tickets;
  /* Failure causes recorded by callbacks while OpenSSL runs. */
  int pin_mismatch;
  int tp_missing;
  int tp_too_long;
  /* alert_sent/alert_recv: the last alert written/read, or -1. */
  int alert_sent;
  int alert_recv;
  char reason[256];
} tls_hs;

struct rudp_tls_session {
  rudp_tls_ctx *ctx;
  const rudp_mem *mem;
  /* hs is the handshake state; NULL once released. */
  tls_hs *hs;
  int server;
  int complete;
  /* error is the sticky RUDP_ERR_* of the failure, or 0; alert its TLS
   * alert. */
  int error;
  uint8_t alert;
  /* What rudp_tls_session_get_info reports, copied out of the SSL when the
   * handshake completes so that it outlives it. */
  int resumed;
  char cipher[48];
  char alpn[64];
  char peer_fingerprint[FPLEN];
};

/* set_errbuf writes a formatted one-line message to |errbuf|. */
static void set_errbuf(char *errbuf, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void set_errbuf(char *errbuf, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (errbuf == NULL || errlen == 0) {
    return;
  }
  va_start(ap, fmt);
  vsnprintf(errbuf, errlen, fmt, ap);
  va_end(ap);
}

/*
 * ossl_reason writes the first error of the OpenSSL queue as one line of
 * text into |buf| and clears the queue.  System errors (a missing file)
 * come out as strerror text; others as OpenSSL's reason string.
 */
static void ossl_reason(char *buf, size_t len) {
  unsigned long e = ERR_get_error();
  const char *r;

  if (e == 0) {
    snprintf(buf, len, "unknown error");
  } else if (ERR_SYSTEM_ERROR(e)) {
    snprintf(buf, len, "%s", strerror((int)ERR_GET_REASON(e)));
  } else if ((r = ERR_reason_error_string(e)) != NULL) {
    snprintf(buf, len, "%s", r);
  } else {
    ERR_error_string_n(e, buf, len);
  }
  ERR_clear_error();
}

/* print_fingerprint prints the 32 bytes of |md| as "AB:CD:..." in |out|
 * (FPLEN bytes). */
static void print_fingerprint(char *out, const uint8_t *md) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i;

  for (i = 0; i < RUDP_TLS_SECRETLEN; ++i) {
    out[i * 3] = hex[md[i] >> 4];
    out[i * 3 + 1] = hex[md[i] & 0xf];
    out[i * 3 + 2] = i + 1 < RUDP_TLS_SECRETLEN ? ':' : '\0';
  }
}

/* cert_sha256 computes the SHA-256 of |x|'s DER encoding. */
static int cert_sha256(uint8_t md[RUDP_TLS_SECRETLEN], const X509 *x) {
  unsigned int n = 0;

  if (X509_digest(x, EVP_sha256(), md, &n) != 1 || n != RUDP_TLS_SECRETLEN) {
    return -1;
  }
  return 0;
}

/* hexval returns the value of hex digit |c|, or -1. */
static int hexval(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

/*
 * parse_pin reads |s|: 64 hex digits, either contiguous or as 32 pairs
 * separated by single colons (the form rudp_tls_ctx_get_fingerprint
 * prints), in either case.  Returns 0 or -1.
 */
static int parse_pin(uint8_t pin[RUDP_TLS_SECRETLEN], const char *s) {
  size_t len = strlen(s), i, step;

  if (len == RUDP_TLS_SECRETLEN * 2) {
    step = 2;
  } else if (len == RUDP_TLS_SECRETLEN * 3 - 1) {
    step = 3;
  } else {
    return -1;
  }
  for (i = 0; i < RUDP_TLS_SECRETLEN; ++i) {
    const char *p = s + i * step;
    int hi = hexval(p[0]), lo = hexval(p[1]);
    if (hi < 0 || lo < 0) {
      return -1;
    }
    if (step == 3 && i + 1 < RUDP_TLS_SECRETLEN && p[2] != ':') {
      return -1;
    }
    pin[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

/* is_ip_literal returns nonzero if |name| is an IPv4 or IPv6 address. */
static int is_ip_literal(const char *name) {
  uint8_t buf[16];

  return inet_pton(AF_INET, name, buf) == 1 ||
         inet_pton(AF_INET6, name, buf) == 1;
}

/*
 * parse_alpn turns the comma-separated |list| into ALPN wire format in
 * |*pout| (malloc'd).  Returns 0, RUDP_ERR_TLS_CONFIG with |errbuf| set, or
 * RUDP_ERR_NOMEM.
 */
static int parse_alpn(uint8_t **pout, size_t *poutlen, const char *list,
                      char *errbuf, size_t errlen) {
  size_t len = strlen(list), outlen = 0;
  const char *p = list;
  uint8_t *out;

  /* Each name gains a length byte and loses a comma: len + 1 bounds it. */
  out = malloc(len + 1);
  if (out == NULL) {
    return RUDP_ERR_NOMEM;
  }
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
    if (n == 0 || n > 255) {
      set_errbuf(errbuf, errlen,
                 "alpn \"%s\": each protocol must be 1 to 255 bytes", list);
      free(out);
      return RUDP_ERR_TLS_CONFIG;
    }
    out[outlen++] = (uint8_t)n;
    memcpy(out + outlen, p, n);
    outlen += n;
    if (comma == NULL) {
      break;
    }
    p = comma + 1;
  }
  if (outlen > 65535) {
    set_errbuf(errbuf, errlen, "alpn: list too long");
    free(out);
    return RUDP_ERR_TLS_CONFIG;
  }
  *pout = out;
  *poutlen = outlen;
  return 0;
}

/* alpn_contains returns nonzero if the wire-format |list| has |proto|. */
static int alpn_contains(const uint8_t *list, size_t listlen,
                         const uint8_t *proto, size_t protolen) {
  size_t i = 0;

  while (i < listlen) {
    size_t n = list[i];
    if (i + 1 + n > listlen) {
      return 0;
    }
    if (n == protolen && memcmp(list + i + 1, proto, n) == 0) {
      return 1;
    }
    i += 1 + n;
  }
  return 0;
}

/* Callbacks.  Each finds its handshake state through SSL_get_app_data. */

static tls_hs *hs_of(const SSL *ssl) { return (tls_hs *)SSL_get_app_data(ssl); }

static int tp_add_cb(SSL *ssl, unsigned int ext_type, unsigned int context,
                     const unsigned char **out, size_t *outlen, X509 *x,
                     size_t chainidx, int *al, void *add_arg) {
  tls_hs *hs = hs_of(ssl);

  (void)ext_type;
  (void)context;
  (void)x;
  (void)chainidx;
  (void)add_arg;
  if (hs == NULL) {
    *al = ALERT_INTERNAL_ERROR;
    return -1;
  }
  *out = hs->local_tp;
  *outlen = hs->local_tplen;
  hs->tp_sent = 1;
  return 1;
}

static int tp_parse_cb(SSL *ssl, unsigned int ext_type, unsigned int context,
                       const unsigned char *in, size_t inlen, X509 *x,
                       size_t chainidx, int *al, void *parse_arg) {
  tls_hs *hs = hs_of(ssl);

  (void)ext_type;
  (void)context;
  (void)x;
  (void)chainidx;
  (void)parse_arg;
  if (hs == NULL) {
    *al = ALERT_INTERNAL_ERROR;
    return 0;
  }
  if (inlen > RUDP_TP_MAXLEN) {
    hs->tp_too_long = 1;
    *al = ALERT_DECODE_ERROR;
    return 0;
  }
  memcpy(hs->peer_tp, in, inlen);
  hs->peer_tplen = inlen;
  hs->peer_tp_received = 1;
  return 1;
}

/*
 * client_hello_cb (server) refuses, before any work, a ClientHello without
 * the transport-parameter extension, or without ALPN when the server has a
 * protocol list (OpenSSL would not call the ALPN callback at all).
 */
static int client_hello_cb(SSL *ssl, int *al, void *arg) {
  tls_hs *hs = hs_of(ssl);
  const unsigned char *ext;
  size_t extlen;

  (void)arg;
  if (hs == NULL) {
    *al = ALERT_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  if (!SSL_client_hello_get0_ext(ssl, RUDP_TLS_TP_EXT, &ext, &extlen)) {
    hs->tp_missing = 1;
    *al = ALERT_MISSING_EXTENSION;
    return SSL_CLIENT_HELLO_ERROR;
  }
  if (hs->ctx->alpn != NULL &&
      !SSL_client_hello_get0_ext(ssl, EXT_ALPN, &ext, &extlen)) {
    snprintf(hs->reason, sizeof(hs->reason),
             "client offers no application protocol (ALPN)");
    *al = ALERT_NO_APPLICATION_PROTOCOL;
    return SSL_CLIENT_HELLO_ERROR;
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

/* alpn_select_cb (server) picks the first of the server's protocols that
 * the client offers. */
static int alpn_select_cb(SSL *ssl, const unsigned char **out,
                          unsigned char *outlen, const unsigned char *in,
                          unsigned int inlen, void *arg) {
  rudp_tls_ctx *ctx = arg;
  size_t i = 0;

  (void)ssl;
  while (i < ctx->alpnlen) {
    size_t n = ctx->alpn[i];
    if (alpn_contains(in, inlen, ctx->alpn + i + 1, n)) {
      *out = ctx->alpn + i + 1;
      *outlen = (unsigned char)n;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/*
 * pin_verify_cb (client with a pin) replaces OpenSSL's chain verification:
 * the leaf is accepted if and only if its SHA-256 is the pin.  A refusal
 * makes OpenSSL send bad_certificate.
 */
static int pin_verify_cb(X509_STORE_CTX *store, void *arg) {
  rudp_tls_ctx *ctx = arg;
  SSL *ssl =
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
  tls_hs *hs = ssl != NULL ? hs_of(ssl) : NULL;
  X509 *leaf = X509_STORE_CTX_get0_cert(store);
  uint8_t md[RUDP_TLS_SECRETLEN];

  if (leaf != NULL && cert_sha256(md, leaf) == 0 &&
      CRYPTO_memcmp(md, ctx->pin, sizeof(md)) == 0) {
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
  }
  if (hs != NULL) {
    hs->pin_mismatch = 1;
    if (leaf != NULL && cert_sha256(md, leaf) == 0) {
      char fp[FPLEN];
      print_fingerprint(fp, md);
      snprintf(hs->reason, sizeof(hs->reason),
               "certificate pin mismatch: the server's is %s", fp);
    } else {
      snprintf(hs->reason, sizeof(hs->reason), "certificate pin mismatch");
    }
  }
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
  return 0;
}

/* info_cb records the alerts either side sends. */
static void info_cb(const SSL *ssl, int where, int ret) {
  tls_hs *hs = hs_of(ssl);

  if (hs == NULL || !(where & SSL_CB_ALERT)) {
    return;
  }
  if (where & SSL_CB_WRITE) {
    hs->alert_sent = ret & 0xff;
  } else if (where & SSL_CB_READ) {
    hs->alert_recv = ret & 0xff;
  }
}

/*
 * keylog_cb learns when the exporter master secret exists: OpenSSL logs it
 * right after deriving it (the server once its Finished is written, the
 * client once the server's Finished is verified).  The line is not kept.
 */
static void keylog_cb(const SSL *ssl, const char *line) {
  tls_hs *hs = hs_of(ssl);
  static const char label[] = "EXPORTER_SECRET ";

  if (hs != NULL && strncmp(line, label, sizeof(label) - 1) == 0) {
    hs->can_export = 1;
  }
}

/* cache_remove_at frees entry |i| (mu held). */
static void cache_remove_at(rudp_tls_ctx *ctx, size_t i) {
  free(ctx->cache[i].name);
  SSL_SESSION_free(ctx->cache[i].sess);
  ctx->cache[i] = ctx->cache[--ctx->ncache];
}

/* cache_find returns the index of |name|'s entry, or -1 (mu held). */
static ptrdiff_t cache_find(const rudp_tls_ctx *ctx, const char *name) {
  size_t i;

  for (i = 0; i < ctx->ncache; ++i) {
    if (strcmp(ctx->cache[i].name, name) == 0) {
      return (ptrdiff_t)i;
    }
  }
  return -1;
}

/*
 * new_session_cb (client) keeps a ticket the server sent, replacing the
 * name's previous one, evicting the oldest name when full.
 *
 * The cache holds a copy: |s| is the connection's own session, which
 * SSL_free marks not resumable when the connection did not end with a TLS
 * close_notify (ours never do: the transport closes them).  Returns 0
 * (OpenSSL keeps its reference).
 */
static int new_session_cb(SSL *ssl, SSL_SESSION *s) {
  tls_hs *hs = hs_of(ssl);
  rudp_tls_ctx *ctx;
  ptrdiff_t i;
  char *name;
  SSL_SESSION *copy;

  if (hs == NULL) {
    return 0;
  }
  ++hs->tickets;
  if (hs->server_name == NULL || !SSL_SESSION_is_resumable(s)) {
    return 0;
  }
  ctx = hs->ctx;
  name = strdup(hs->server_name);
  copy = SSL_SESSION_dup(s);
  if (name == NULL || copy == NULL) {
    free(name);
    SSL_SESSION_free(copy);
    return 0;
  }
  pthread_mutex_lock(&ctx->mu);
  i = cache_find(ctx, name);
  if (i >= 0) {
    cache_remove_at(ctx, (size_t)i);
  } else if (ctx->ncache == CACHE_MAX) {
    size_t j, oldest = 0;
    for (j = 1; j < ctx->ncache; ++j) {
      if (ctx->cache[j].stamp < ctx->cache[oldest].stamp) {
        oldest = j;
      }
    }
    cache_remove_at(ctx, oldest);
  }
  ctx->cache[ctx->ncache].name = name;
  ctx->cache[ctx->ncache].sess = copy;
  ctx->cache[ctx->ncache].stamp = ++ctx->cache_stamp;
  ++ctx->ncache;
  pthread_mutex_unlock(&ctx->mu);
  return 0;
}

/*
 * cache_take removes and returns |name|'s ticket (the caller owns the
 * reference), or NULL.  A TLS 1.3 ticket is used once (RFC 8446 C.4: reuse
 * would let observers link the connections); the resumed connection
 * brings a fresh one.
 */
static SSL_SESSION *cache_take(rudp_tls_ctx *ctx, const char *name) {
  SSL_SESSION *s = NULL;
  ptrdiff_t i;

  pthread_mutex_lock(&ctx->mu);
  i = cache_find(ctx, name);
  if (i >= 0) {
    s = ctx->cache[i].sess;
    ctx->cache[i].sess = NULL;
    cache_remove_at(ctx, (size_t)i);
  }
  pthread_mutex_unlock(&ctx->mu);
  return s;
}

/* Context construction. */

void rudp_tls_config_default(rudp_tls_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->session_cache = 1;
  cfg->tickets = 1;
}

int rudp_tls_available(void) { return 1; }

/*
 * add_san appends the comma-separated |names| to |gens| as DNS names or IP
 * addresses; the first one is copied to |cn| for the subject.  Returns 0,
 * RUDP_ERR_TLS_CONFIG with |errbuf| set, or RUDP_ERR_NOMEM.
 */
static int add_san(GENERAL_NAMES *gens, const char *names, char *cn,
                   size_t cnlen, char *errbuf, size_t errlen) {
  const char *p = names;
  int first = 1;

  for (;;) {
    const char *comma = strchr(p, ',');
    size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
    char name[256];
    GENERAL_NAME *gn;

    while (n > 0 && *p == ' ') {
      ++p;
      --n;
    }
    while (n > 0 && p[n - 1] == ' ') {
      --n;
    }
    if (n == 0 || n >= sizeof(name)) {
      set_errbuf(errbuf, errlen,
                 "ephemeral_names \"%s\": empty or too long name", names);
      return RUDP_ERR_TLS_CONFIG;
    }
    memcpy(name, p, n);
    name[n] = '\0';
    if (first) {
      snprintf(cn, cnlen, "%.*s", n > 64 ? 64 : (int)n, name);
      first = 0;
    }
    gn = GENERAL_NAME_new();
    if (gn == NULL) {
      return RUDP_ERR_NOMEM;
    }
    if (is_ip_literal(name)) {
      ASN1_OCTET_STRING *ip = a2i_IPADDRESS(name);
      if (ip == NULL) {
        GENERAL_NAME_free(gn);
        return RUDP_ERR_NOMEM;
      }
      GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
    } else {
      ASN1_IA5STRING *dns = ASN1_IA5STRING_new();
      if (dns == NULL || !ASN1_STRING_set(dns, name, (int)n)) {
        ASN1_IA5STRING_free(dns);
        GENERAL_NAME_free(gn);
        return RUDP_ERR_NOMEM;
      }
      GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
    }
    if (!sk_GENERAL_NAME_push(gens, gn)) {
      GENERAL_NAME_free(gn);
      return RUDP_ERR_NOMEM;
    }
    if (comma == NULL) {
      return 0;
    }
    p = comma + 1;
  }
}

/*
 * make_ephemeral installs in |sctx| a fresh self-signed ECDSA P-256
 * certificate for |names|, valid from an hour ago (clock skew) for a day.
 * Returns 0 or a RUDP_ERR_* with |errbuf| set.
 */
static int make_ephemeral(SSL_CTX *sctx, const char *names, char *errbuf,
                          size_t errlen) {
  EVP_PKEY *pkey = NULL;
  X509 *x = NULL;
  X509_NAME *subj;
  BIGNUM *bn = NULL;
  GENERAL_NAMES *gens = NULL;
  BASIC_CONSTRAINTS *bc = NULL;
  char cn[80] = "";
  int rv = RUDP_ERR_NOMEM;

  if (names == NULL) {
    names = "localhost,127.0.0.1,::1";
  }
  gens = sk_GENERAL_NAME_new_null();
  if (gens == NULL) {
    goto out;
  }
  rv = add_san(gens, names, cn, sizeof(cn), errbuf, errlen);
  if (rv != 0) {
    goto out;
  }
  rv = RUDP_ERR_NOMEM;
  pkey = EVP_EC_gen("P-256");
  x = X509_new();
  bn = BN_new();
  bc = BASIC_CONSTRAINTS_new();
  if (pkey == NULL || x == NULL || bn == NULL || bc == NULL) {
    goto out;
  }
  bc->ca = 0;
  subj = X509_get_subject_name(x);
  if (!X509_set_version(x, X509_VERSION_3) ||
      !BN_rand(bn, 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
      !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
      !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(x), 86400) ||
      !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
                                  (const unsigned char *)cn, -1, -1, 0) ||
      !X509_set_issuer_name(x, subj) || !X509_set_pubkey(x, pkey) ||
      !X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT) ||
      !X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
                         X509V3_ADD_DEFAULT) ||
      !X509_sign(x, pkey, EVP_sha256()) || !SSL_CTX_use_certificate(sctx, x) ||
      !SSL_CTX_use_PrivateKey(sctx, pkey)) {
    char r[160];
    ossl_reason(r, sizeof(r));
    set_errbuf(errbuf, errlen, "cannot make the ephemeral certificate: %s", r);
    rv = RUDP_ERR_TLS_CONFIG;
    goto out;
  }
  rv = 0;
out:
  BASIC_CONSTRAINTS_free(bc);
  GENERAL_NAMES_free(gens);
  BN_free(bn);
  X509_free(x);
  EVP_PKEY_free(pkey);
  return rv;
}

/* load_cert_key loads the server's PEM chain and key. */
static int load_cert_key(SSL_CTX *sctx, const char *cert_file,
                         const char *key_file, char *errbuf, size_t errlen) {
  char r[160];

  if (SSL_CTX_use_certificate_chain_file(sctx, cert_file) != 1) {
    ossl_reason(r, sizeof(r));
    set_errbuf(errbuf, errlen, "cannot read certificate %s: %s", cert_file, r);
    return RUDP_ERR_TLS_CONFIG;
  }
  if (SSL_CTX_use_PrivateKey_file(sctx, key_file, SSL_FILETYPE_PEM) != 1) {
    ossl_reason(r, sizeof(r));
    set_errbuf(errbuf, errlen, "cannot use private key %s: %s", key_file, r);
    return RUDP_ERR_TLS_CONFIG;
  }
  if (SSL_CTX_check_private_key(sctx) != 1) {
    ossl_reason(r, sizeof(r));
    set_errbuf(errbuf, errlen, "private key %s does not match certificate %s",
               key_file, cert_file);
    return RUDP_ERR_TLS_CONFIG;
  }
  return 0;
}

/* load_trust sets the client's trust anchors. */
static int load_trust(SSL_CTX *sctx, const char *ca_file, const char *ca_dir,
                      char *errbuf, size_t errlen) {
  char r[160];
  struct stat st;

  if (ca_file == NULL && ca_dir == NULL) {
    if (SSL_CTX_set_default_verify_paths(sctx) != 1) {
      ossl_reason(r, sizeof(r));
      set_errbuf(errbuf, errlen, "cannot load the system CA store: %s", r);
      return RUDP_ERR_TLS_CONFIG;
    }
    return 0;
  }
  if (ca_file != NULL && SSL_CTX_load_verify_file(sctx, ca_file) != 1) {
    ossl_reason(r, sizeof(r));
    set_errbuf(errbuf, errlen, "cannot read CA file %s: %s", ca_file, r);
    return RUDP_ERR_TLS_CONFIG;
  }
  /* OpenSSL only records the directory; check it exists now rather than
   * fail every handshake later. */
  if (ca_dir != NULL) {
    if (stat(ca_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
      set_errbuf(errbuf, errlen, "cannot read CA directory %s: %s", ca_dir,
                 stat(ca_dir, &st) != 0 ? strerror(errno) : "not a directory");
      return RUDP_ERR_TLS_CONFIG;
    }
    if (SSL_CTX_load_verify_dir(sctx, ca_dir) != 1) {
      ossl_reason(r, sizeof(r));
      set_errbuf(errbuf, errlen, "cannot read CA directory %s: %s", ca_dir, r);
      return RUDP_ERR_TLS_CONFIG;
    }
  }
  return 0;
}

/*
 * set_ciphersuites applies |list| and checks that every TLS 1.3 suite it
 * enables has a packet-protection AEAD here (the CCM suites do not).
 */
static int set_ciphersuites(SSL_CTX *sctx, const char *list, char *errbuf,
                            size_t errlen) {
  STACK_OF(SSL_CIPHER) * ciphers;
  int i, n13 = 0;

  if (list != NULL && SSL_CTX_set_ciphersuites(sctx, list) != 1) {
    char r[160];
    ossl_reason(r, sizeof(r));
    set_errbuf(errbuf, errlen, "ciphersuites \"%s\": %s", list, r);
    return RUDP_ERR_TLS_CONFIG;
  }
  ciphers = SSL_CTX_get_ciphers(sctx);
  for (i = 0; ciphers != NULL && i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER *c = sk_SSL_CIPHER_value(ciphers, i);
    /* The list holds the TLS 1.2 ciphers too (unused: TLS 1.3 only);
     * TLS 1.3 suites are numbered 0x13xx. */
    if ((SSL_CIPHER_get_protocol_id(c) >> 8) != 0x13) {
      continue;
    }
    switch (SSL_CIPHER_get_protocol_id(c)) {
    case 0x1301:
    case 0x1302:
    case 0x1303:
      ++n13;
      break;
    default:
      set_errbuf(errbuf, errlen,
                 "ciphersuites: %s is not supported (AES-GCM and "
                 "ChaCha20-Poly1305 only)",
                 SSL_CIPHER_get_name(c));
      return RUDP_ERR_TLS_CONFIG;
    }
  }
  if (n13 == 0) {
    set_errbuf(errbuf, errlen, "ciphersuites \"%s\": no TLS 1.3 suite",
               list != NULL ? list : "");
    return RUDP_ERR_TLS_CONFIG;
  }
  return 0;
}

static void ctx_destroy(rudp_tls_ctx *ctx) {
  size_t i;

  for (i = 0; i < ctx->ncache; ++i) {
    free(ctx->cache[i].name);
    SSL_SESSION_free(ctx->cache[i].sess);
  }
  SSL_CTX_free(ctx->ssl_ctx);
  free(ctx->alpn);
  pthread_mutex_destroy(&ctx->mu);
  free(ctx);
}

int rudp_tls_ctx_new(rudp_tls_ctx **pctx, const rudp_tls_config *cfg,
                     char *errbuf, size_t errlen) {
  rudp_tls_ctx *ctx;
  SSL_CTX *sctx;
  int rv;

  if (errbuf != NULL && errlen > 0) {
    errbuf[0] = '\0';
  }
  if (pctx == NULL || cfg == NULL) {
    set_errbuf(errbuf, errlen, "no context or configuration");
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  *pctx = NULL;
  if (cfg->server && (cfg->cert_file == NULL) != (cfg->key_file == NULL)) {
    set_errbuf(errbuf, errlen, "cert_file and key_file must be given together");
    return RUDP_ERR_TLS_CONFIG;
  }
  ctx = calloc(1, sizeof(*ctx));
  if (ctx == NULL) {
    return RUDP_ERR_NOMEM;
  }
  if (pthread_mutex_init(&ctx->mu, NULL) != 0) {
    free(ctx);
    return RUDP_ERR_NOMEM;
  }
  ctx->refcnt = 1;
  ctx->server = cfg->server != 0;
  ERR_clear_error();
  sctx = SSL_CTX_new(TLS_method());
  if (sctx == NULL) {
    ERR_clear_error();
    ctx_destroy(ctx);
    return RUDP_ERR_NOMEM;
  }
  ctx->ssl_ctx = sctx;

  if (!SSL_CTX_set_min_proto_version(sctx, TLS1_3_VERSION) ||
      !SSL_CTX_set_max_proto_version(sctx, TLS1_3_VERSION)) {
    rv = RUDP_ERR_NOMEM;
    goto fail;
  }
  /* No fake ChangeCipherSpec records: no middlebox sees these bytes, and
   * the flights stay smaller. */
  SSL_CTX_clear_options(sctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
  /* OpenSSL's record buffers (16 KB each way) only ever hold handshake
   * messages here (librudp protects the data itself): give them back
   * whenever they are empty, between flights, rather than keep them for
   * the life of the SSL. */
  SSL_CTX_set_mode(sctx, SSL_MODE_RELEASE_BUFFERS);
  /* No 0-RTT: early data could be replayed. */
  SSL_CTX_set_max_early_data(sctx, 0);
  SSL_CTX_set_recv_max_early_data(sctx, 0);
  SSL_CTX_set_info_callback(sctx, info_cb);
  SSL_CTX_set_keylog_callback(sctx, keylog_cb);
  if (SSL_CTX_add_custom_ext(sctx, RUDP_TLS_TP_EXT,
                             SSL_EXT_CLIENT_HELLO |
                                 SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS,
                             tp_add_cb, NULL, NULL, tp_parse_cb, NULL) != 1) {
    rv = RUDP_ERR_NOMEM;
    goto fail;
  }
  rv = set_ciphersuites(sctx, cfg->ciphersuites, errbuf, errlen);
  if (rv != 0) {
    goto fail;
  }
  if (cfg->alpn != NULL) {
    rv = parse_alpn(&ctx->alpn, &ctx->alpnlen, cfg->alpn, errbuf, errlen);
    if (rv != 0) {
      goto fail;
    }
  }

  if (ctx->server) {
    uint8_t md[RUDP_TLS_SECRETLEN];
    X509 *leaf;

    if (cfg->cert_file != NULL) {
      rv = load_cert_key(sctx, cfg->cert_file, cfg->key_file, errbuf, errlen);
    } else {
      rv = make_ephemeral(sctx, cfg->ephemeral_names, errbuf, errlen);
    }
    if (rv != 0) {
      goto fail;
    }
    leaf = SSL_CTX_get0_certificate(sctx);
    if (leaf == NULL || cert_sha256(md, leaf) != 0) {
      rv = RUDP_ERR_NOMEM;
      goto fail;
    }
    print_fingerprint(ctx->fingerprint, md);
    SSL_CTX_set_verify(sctx, SSL_VERIFY_NONE, NULL);
    /* Tickets are stateless (the session travels in them, encrypted with
     * this context's ticket key), so the server keeps no cache. */
    SSL_CTX_set_session_cache_mode(sctx, SSL_SESS_CACHE_OFF);
    if (!SSL_CTX_set_num_tickets(sctx, cfg->tickets)) {
      rv = RUDP_ERR_NOMEM;
      goto fail;
    }
    SSL_CTX_set_client_hello_cb(sctx, client_hello_cb, ctx);
    if (ctx->alpn != NULL) {
      SSL_CTX_set_alpn_select_cb(sctx, alpn_select_cb, ctx);
    }
  } else {
    /* A pin is the stricter setting: it wins over insecure. */
    if (cfg->pin_sha256 != NULL) {
      if (parse_pin(ctx->pin, cfg->pin_sha256) != 0) {
        set_errbuf(errbuf, errlen,
                   "pin_sha256 \"%s\": expected 64 hex digits, optionally "
                   "colon-separated pairs",
                   cfg->pin_sha256);
        rv = RUDP_ERR_TLS_CONFIG;
        goto fail;
      }
      ctx->pinned = 1;
      SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER, NULL);
      SSL_CTX_set_cert_verify_callback(sctx, pin_verify_cb, ctx);
    } else if (cfg->insecure) {
      SSL_CTX_set_verify(sctx, SSL_VERIFY_NONE, NULL);
    } else {
      rv = load_trust(sctx, cfg->ca_file, cfg->ca_dir, errbuf, errlen);
      if (rv != 0) {
        goto fail;
      }
      ctx->verify_names = 1;
      SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER, NULL);
    }
    ctx->session_cache = cfg->session_cache != 0;
    if (ctx->session_cache) {
      SSL_CTX_set_session_cache_mode(
          sctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
      SSL_CTX_sess_set_new_cb(sctx, new_session_cb);
    } else {
      SSL_CTX_set_session_cache_mode(sctx, SSL_SESS_CACHE_OFF);
    }
  }
  ERR_clear_error();
  *pctx = ctx;
  return 0;

fail:
  ERR_clear_error();
  ctx_destroy(ctx);
  return rv;
}

rudp_tls_ctx *rudp_tls_ctx_ref(rudp_tls_ctx *ctx) {
  if (ctx != NULL) {
    pthread_mutex_lock(&ctx->mu);
    ++ctx->refcnt;
    pthread_mutex_unlock(&ctx->mu);
  }
  return ctx;
}

void rudp_tls_ctx_free(rudp_tls_ctx *ctx) {
  unsigned left;

  if (ctx == NULL) {
    return;
  }
  pthread_mutex_lock(&ctx->mu);
  left = --ctx->refcnt;
  pthread_mutex_unlock(&ctx->mu);
  if (left == 0) {
    ctx_destroy(ctx);
  }
}

int rudp_tls_ctx_get_fingerprint(const rudp_tls_ctx *ctx, char *out,
                                 size_t outlen) {
  if (ctx == NULL || !ctx->server) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (out == NULL || outlen < FPLEN) {
    return RUDP_ERR_NOBUF;
  }
  memcpy(out, ctx->fingerprint, FPLEN);
  return 0;
}

/* Sessions. */

/* mem_strdup copies |s| through |mem|. */
static char *mem_strdup(const rudp_mem *mem, const char *s) {
  size_t n = strlen(s) + 1;
  char *p = rudp_mem_malloc(mem, n);

  if (p != NULL) {
    memcpy(p, s, n);
  }
  return p;
}

/* hs_free frees the handshake state: the SSL (which owns the BIOs and,
 * through its SSL_SESSION, the peer's certificate) and the copies. */
static void hs_free(const rudp_mem *mem, tls_hs *hs) {
  if (hs == NULL) {
    return;
  }
  SSL_free(hs->ssl);
  rudp_mem_free(mem, hs->server_name);
  OPENSSL_cleanse(hs, sizeof(*hs));
  rudp_mem_free(mem, hs);
}

int rudp_tls_session_new(rudp_tls_session **psess, rudp_tls_ctx *ctx,
                         int server, const char *server_name,
                         const uint8_t *local_tp, size_t local_tplen,
                         const rudp_mem *mem) {
  rudp_tls_session *sess;
  tls_hs *hs;
  SSL *ssl;
  int rv;

  if (psess == NULL || ctx == NULL || (server != 0) != ctx->server ||
      local_tplen > RUDP_TP_MAXLEN || (local_tp == NULL && local_tplen > 0)) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  /* A CA-verifying client without a name would accept any certificate the
   * store trusts, for any host. */
  if (!server && ctx->verify_names &&
      (server_name == NULL || server_name[0] == '\0')) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  *psess = NULL;
  if (mem == NULL) {
    mem = rudp_mem_default();
  }
  sess = rudp_mem_calloc(mem, 1, sizeof(*sess));
  if (sess == NULL) {
    return RUDP_ERR_NOMEM;
  }
  sess->mem = mem;
  sess->hs = hs = rudp_mem_calloc(mem, 1, sizeof(*hs));
  if (hs == NULL) {
    rudp_mem_free(mem, sess);
    return RUDP_ERR_NOMEM;
  }
  sess->server = server != 0;
  sess->alert = ALERT_INTERNAL_ERROR;
  hs->alert_sent = -1;
  hs->alert_recv = -1;
  if (local_tplen > 0) {
    memcpy(hs->local_tp, local_tp, local_tplen);
  }
  hs->local_tplen = local_tplen;
  if (!server && server_name != NULL && server_name[0] != '\0') {
    hs->server_name = mem_strdup(mem, server_name);
    if (hs->server_name == NULL) {
      rudp_mem_free(mem, hs);
      rudp_mem_free(mem, sess);
      return RUDP_ERR_NOMEM;
    }
  }

  pthread_mutex_lock(&ctx->mu);
  ++ctx->refcnt;
  pthread_mutex_unlock(&ctx->mu);
  sess->ctx = hs->ctx = ctx;

  ERR_clear_error();
  ssl = SSL_new(ctx->ssl_ctx);
  hs->rbio = BIO_new(BIO_s_mem());
  hs->wbio = BIO_new(BIO_s_mem());
  if (ssl == NULL || hs->rbio == NULL || hs->wbio == NULL) {
    SSL_free(ssl);
    BIO_free(hs->rbio);
    BIO_free(hs->wbio);
    hs->rbio = hs->wbio = NULL;
    rv = RUDP_ERR_NOMEM;
    goto fail;
  }
  hs->ssl = ssl;
  /* An empty read BIO means "retry", not end of stream. */
  BIO_set_mem_eof_return(hs->rbio, -1);
  BIO_set_mem_eof_return(hs->wbio, -1);
  SSL_set_bio(ssl, hs->rbio, hs->wbio);
  SSL_set_app_data(ssl, hs);

  if (server) {
    SSL_set_accept_state(ssl);
    ERR_clear_error();
    *psess = sess;
    return 0;
  }

  SSL_set_connect_state(ssl);
  if (hs->server_name != NULL) {
    int ip = is_ip_literal(hs->server_name);
    if (!ip && !SSL_set_tlsext_host_name(ssl, hs->server_name)) {
      rv = RUDP_ERR_INVALID_ARGUMENT;
      goto fail;
    }
    if (ctx->verify_names) {
      if (ip) {
        if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
                                           hs->server_name)) {
          rv = RUDP_ERR_INVALID_ARGUMENT;
          goto fail;
        }
      } else {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (!SSL_set1_host(ssl, hs->server_name)) {
          rv = RUDP_ERR_INVALID_ARGUMENT;
          goto fail;
        }
      }
    }
    if (ctx->session_cache) {
      SSL_SESSION *cached = cache_take(ctx, hs->server_name);
      if (cached != NULL) {
        if (SSL_SESSION_is_resumable(cached)) {
          SSL_set_session(ssl, cached);
        }
        SSL_SESSION_free(cached);
      }
    }
  }
  if (ctx->alpn != NULL &&
      SSL_set_alpn_protos(ssl, ctx->alpn, (unsigned int)ctx->alpnlen) != 0) {
    rv = RUDP_ERR_NOMEM;
    goto fail;
  }
  /* Write the ClientHello now. */
  rv = SSL_do_handshake(ssl);
  if (rv != 1 && SSL_get_error(ssl, rv) != SSL_ERROR_WANT_READ) {
    /* The context was checked when built (suites, names): what is left
     * is an allocation failure. */
    rv = RUDP_ERR_NOMEM;
    goto fail;
  }
  ERR_clear_error();
  *psess = sess;
  return 0;

fail:
  ERR_clear_error();
  rudp_tls_session_del(sess);
  return rv;
}

void rudp_tls_session_del(rudp_tls_session *sess) {
  if (sess == NULL) {
    return;
  }
  hs_free(sess->mem, sess->hs);
  rudp_tls_ctx_free(sess->ctx);
  rudp_mem_free(sess->mem, sess);
}

int rudp_tls_session_set_local_tp(rudp_tls_session *sess,
                                  const uint8_t *local_tp, size_t local_tplen) {
  if (sess == NULL || local_tplen > RUDP_TP_MAXLEN ||
      (local_tp == NULL && local_tplen > 0)) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  /* A client's went out with its ClientHello in rudp_tls_session_new. */
  if (!sess->server || sess->hs == NULL || sess->hs->tp_sent ||
      sess->error != 0) {
    return RUDP_ERR_INVALID_STATE;
  }
  if (local_tplen > 0) {
    memcpy(sess->hs->local_tp, local_tp, local_tplen);
  }
  sess->hs->local_tplen = local_tplen;
  return 0;
}

/* session_fail records a failure: |rv|, the alert and the reason (unless a
 * callback already wrote one).  Returns |rv|. */
static int session_fail(rudp_tls_session *sess, int rv, int alert,
                        const char *reason) {
  sess->error = rv;
  sess->alert = (uint8_t)alert;
  if (reason != NULL) {
    snprintf(sess->hs->reason, sizeof(sess->hs->reason), "%s", reason);
  }
  ERR_clear_error();
  return rv;
}

/*
 * session_classify turns an OpenSSL failure into a RUDP_ERR_*, alert and
 * reason, from what the callbacks recorded, the verification result and
 * the error queue.
 */
static int session_classify(rudp_tls_session *sess) {
  tls_hs *hs = sess->hs;
  int alert = hs->alert_sent >= 0 ? hs->alert_sent : ALERT_INTERNAL_ERROR;
  long vr;
  char buf[200];

  if (hs->pin_mismatch) {
    return session_fail(sess, RUDP_ERR_TLS_PIN_MISMATCH, alert, NULL);
  }
  if (hs->tp_missing) {
    /* OpenSSL sends handshake_failure on the wire (the ClientHello
     * callback runs before TLS 1.3 is negotiated); report the real one. */
    return session_fail(sess, RUDP_ERR_TRANSPORT_PARAM, ALERT_MISSING_EXTENSION,
                        "peer sent no transport parameters extension");
  }
  if (hs->tp_too_long) {
    return session_fail(sess, RUDP_ERR_TRANSPORT_PARAM, ALERT_DECODE_ERROR,
                        "peer's transport parameters are too long");
  }
  if (hs->alert_recv >= 0) {
    snprintf(buf, sizeof(buf), "peer sent alert %s",
             SSL_alert_desc_string_long(hs->alert_recv));
    return session_fail(sess, RUDP_ERR_CRYPTO, hs->alert_recv, buf);
  }
  if (!sess->server && sess->ctx->verify_names &&
      (vr = SSL_get_verify_result(hs->ssl)) != X509_V_OK) {
    int rv;
    switch (vr) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      rv = RUDP_ERR_TLS_NAME_MISMATCH;
      break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      rv = RUDP_ERR_TLS_CERT_EXPIRED;
      break;
    default:
      /* Unknown issuer, self-signed, bad signature, untrusted or rejected
       * CA, unusable purpose...: all mean "not trusted". */
      rv = RUDP_ERR_TLS_CERT_UNTRUSTED;
      break;
    }
    snprintf(buf, sizeof(buf), "certificate verify failed: %s",
             X509_verify_cert_error_string(vr));
    return session_fail(sess, rv, alert, buf);
  }
  if (hs->reason[0] != '\0') {
    /* A callback explained it (no ALPN offered). */
    return session_fail(sess, RUDP_ERR_CRYPTO, alert, NULL);
  }
  ossl_reason(buf, sizeof(buf));
  return session_fail(sess, RUDP_ERR_CRYPTO, alert, buf);
}

/* session_on_complete checks what OpenSSL does not once the handshake
 * completed, and copies out what rudp_tls_session_get_info reports (the
 * SSL does not live as long as the connection). */
static int session_on_complete(rudp_tls_session *sess) {
  tls_hs *hs = sess->hs;
  const SSL_CIPHER *c;
  const unsigned char *alpn = NULL;
  unsigned int alpnlen = 0;
  X509 *peer;

  if (!hs->peer_tp_received) {
    /* The client got no extension in EncryptedExtensions (the server
     * checks the ClientHello up front).  Drop our Finished: the server
     * must not see a completed handshake. */
    (void)BIO_reset(hs->wbio);
    return session_fail(sess, RUDP_ERR_TRANSPORT_PARAM, ALERT_MISSING_EXTENSION,
                        "peer sent no transport parameters extension");
  }
  SSL_get0_alpn_selected(hs->ssl, &alpn, &alpnlen);
  if (!sess->server && sess->ctx->alpn != NULL && alpnlen > 0 &&
      !alpn_contains(sess->ctx->alpn, sess->ctx->alpnlen, alpn, alpnlen)) {
    (void)BIO_reset(hs->wbio);
    return session_fail(sess, RUDP_ERR_CRYPTO, ALERT_NO_APPLICATION_PROTOCOL,
                        "server selected an application protocol we did "
                        "not offer");
  }
  if (alpnlen > 0 && alpnlen < sizeof(sess->alpn)) {
    memcpy(sess->alpn, alpn, alpnlen);
    sess->alpn[alpnlen] = '\0';
  }
  c = SSL_get_current_cipher(hs->ssl);
  if (c != NULL) {
    snprintf(sess->cipher, sizeof(sess->cipher), "%s", SSL_CIPHER_get_name(c));
  }
  sess->resumed = SSL_session_reused(hs->ssl) != 0;
  peer = SSL_get0_peer_certificate(hs->ssl);
  if (peer != NULL && !sess->resumed) {
    uint8_t md[RUDP_TLS_SECRETLEN];
    if (cert_sha256(md, peer) == 0) {
      print_fingerprint(sess->peer_fingerprint, md);
    }
  }
  sess->complete = 1;
  /* Both sides can export by now; the keylog callback said so earlier,
   * this only guards against an OpenSSL that logs nothing. */
  hs->can_export = 1;
  return 0;
}

/* session_post_handshake processes records after completion: session
 * tickets and key updates are handled inside SSL_read; application data
 * is a protocol error (nothing but the handshake runs over TLS). */
static int session_post_handshake(rudp_tls_session *sess) {
  uint8_t buf[256];

  for (;;) {
    int n, err;

    ERR_clear_error();
    n = SSL_read(sess->hs->ssl, buf, sizeof(buf));
    if (n > 0) {
      return session_fail(sess, RUDP_ERR_CRYPTO, ALERT_UNEXPECTED_MESSAGE,
                          "peer sent application data over TLS");
    }
    err = SSL_get_error(sess->hs->ssl, n);
    if (err == SSL_ERROR_WANT_READ) {
      ERR_clear_error();
      return 0;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {
      return session_fail(sess, RUDP_ERR_CRYPTO, 0,
                          "peer sent alert close notify");
    }
    return session_classify(sess);
  }
}

int rudp_tls_session_feed(rudp_tls_session *sess, const uint8_t *data,
                          size_t len) {
  tls_hs *hs;
  int rv;

  if (sess == NULL || (data == NULL && len > 0)) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (sess->error != 0) {
    return sess->error;
  }
  hs = sess->hs;
  if (hs == NULL) {
    /* Released: nothing the peer can still send matters (a late session
     * ticket, a copy of its Finished). */
    return 0;
  }
  if (len > 0 && !hs->started) {
    /* A plain-mode peer sends its transport parameters as they are, not a
     * TLS record; say so instead of letting OpenSSL fail on garbage. */
    if (data[0] != RECORD_HANDSHAKE &&
        (sess->server || data[0] != RECORD_ALERT)) {
      return session_fail(sess, RUDP_ERR_TLS_MODE_MISMATCH,
                          ALERT_UNEXPECTED_MESSAGE, "peer does not use TLS");
    }
    hs->started = 1;
  }
  while (len > 0) {
    int chunk = len > INT_MAX ? INT_MAX : (int)len;
    int n = BIO_write(hs->rbio, data, chunk);
    if (n <= 0) {
      ERR_clear_error();
      return session_fail(sess, RUDP_ERR_NOMEM, ALERT_INTERNAL_ERROR,
                          "out of memory");
    }
    data += n;
    len -= (size_t)n;
  }

  if (!sess->complete) {
    ERR_clear_error();
    rv = SSL_do_handshake(hs->ssl);
    if (rv != 1) {
      if (SSL_get_error(hs->ssl, rv) == SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return 0;
      }
      return session_classify(sess);
    }
    rv = session_on_complete(sess);
    if (rv != 0) {
      return rv;
    }
  }
  return session_post_handshake(sess);
}

size_t rudp_tls_session_read_output(rudp_tls_session *sess, uint8_t *buf,
                                    size_t len) {
  size_t total = 0;

  if (sess == NULL || sess->hs == NULL || buf == NULL) {
    return 0;
  }
  while (total < len) {
    size_t want = len - total;
    int n = BIO_read(sess->hs->wbio, buf + total,
                     want > INT_MAX ? INT_MAX : (int)want);
    if (n <= 0) {
      break;
    }
    total += (size_t)n;
  }
  return total;
}

int rudp_tls_session_is_complete(const rudp_tls_session *sess) {
  return sess != NULL && sess->complete && sess->error == 0;
}

/*
 * rudp_tls_session_release: the server has nothing left to wait for once
 * its handshake completed (OpenSSL writes the session tickets in the same
 * call, and the caller has taken them); nor has a client that keeps no
 * tickets.  A client that does waits for the tickets the server sent
 * before HANDSHAKE_DONE: it stops waiting once one arrived, or when no
 * part of one is buffered (the server sends none, or sent all before;
 * docs/PROTOCOL.md 4.4).
 */
int rudp_tls_session_release(rudp_tls_session *sess, int crypto_buffered) {
  tls_hs *hs;

  if (sess == NULL || !sess->complete || sess->error != 0) {
    return 0;
  }
  hs = sess->hs;
  if (hs == NULL) {
    return 1;
  }
  if (BIO_ctrl_pending(hs->wbio) > 0) {
    return 0; /* output not taken yet */
  }
  if (!sess->server && sess->ctx->session_cache && hs->server_name != NULL &&
      hs->tickets == 0 &&
      (crypto_buffered || BIO_ctrl_pending(hs->rbio) > 0 ||
       SSL_has_pending(hs->ssl))) {
    return 0; /* part of a ticket is here: wait for the rest */
  }
  sess->hs = NULL;
  hs_free(sess->mem, hs);
  ERR_clear_error();
  return 1;
}

int rudp_tls_session_is_released(const rudp_tls_session *sess) {
  return sess != NULL && sess->hs == NULL;
}

const uint8_t *rudp_tls_session_peer_tp(const rudp_tls_session *sess,
                                        size_t *plen) {
  if (sess == NULL || sess->hs == NULL || !sess->hs->peer_tp_received) {
    if (plen != NULL) {
      *plen = 0;
    }
    return NULL;
  }
  if (plen != NULL) {
    *plen = sess->hs->peer_tplen;
  }
  return sess->hs->peer_tp;
}

/* aead_of maps the negotiated suite to the packet-protection AEAD. */
static rudp_aead_alg aead_of(const SSL *ssl) {
  const SSL_CIPHER *c = SSL_get_current_cipher(ssl);

  if (c == NULL) {
    return RUDP_AEAD_NONE;
  }
  switch (SSL_CIPHER_get_protocol_id(c)) {
  case 0x1301: /* TLS_AES_128_GCM_SHA256 */
    return RUDP_AEAD_AES_128_GCM;
  case 0x1302: /* TLS_AES_256_GCM_SHA384 */
    return RUDP_AEAD_AES_256_GCM;
  case 0x1303: /* TLS_CHACHA20_POLY1305_SHA256 */
    return RUDP_AEAD_CHACHA20_POLY1305;
  default:
    return RUDP_AEAD_NONE;
  }
}

int rudp_tls_session_get_secrets(rudp_tls_session *sess,
                                 uint8_t tx[RUDP_TLS_SECRETLEN],
                                 uint8_t rx[RUDP_TLS_SECRETLEN],
                                 rudp_aead_alg *palg) {
  static const char cl[] = EXPORTER_CLIENT, sl[] = EXPORTER_SERVER;
  uint8_t c2s[RUDP_TLS_SECRETLEN], s2c[RUDP_TLS_SECRETLEN];
  rudp_aead_alg alg;
  SSL *ssl;

  if (sess == NULL || sess->error != 0 || sess->hs == NULL ||
      !sess->hs->can_export) {
    return RUDP_ERR_INVALID_STATE;
  }
  ssl = sess->hs->ssl;
  alg = aead_of(ssl);
  if (alg == RUDP_AEAD_NONE) {
    return RUDP_ERR_INVALID_STATE;
  }
  ERR_clear_error();
  if (SSL_export_keying_material(ssl, c2s, sizeof(c2s), cl, sizeof(cl) - 1,
                                 NULL, 0, 0) != 1 ||
      SSL_export_keying_material(ssl, s2c, sizeof(s2c), sl, sizeof(sl) - 1,
                                 NULL, 0, 0) != 1) {
    ERR_clear_error();
    return RUDP_ERR_INVALID_STATE;
  }
  memcpy(tx, sess->server ? s2c : c2s, RUDP_TLS_SECRETLEN);
  memcpy(rx, sess->server ? c2s : s2c, RUDP_TLS_SECRETLEN);
  OPENSSL_cleanse(c2s, sizeof(c2s));
  OPENSSL_cleanse(s2c, sizeof(s2c));
  *palg = alg;
  return 0;
}

uint8_t rudp_tls_session_alert(const rudp_tls_session *sess) {
  return sess != NULL ? sess->alert : ALERT_INTERNAL_ERROR;
}

const char *rudp_tls_session_reason(const rudp_tls_session *sess) {
  /* A failed session is never released: its reason is still there. */
  return sess != NULL && sess->error != 0 && sess->hs != NULL ? sess->hs->reason
                                                              : "";
}

void rudp_tls_session_get_info(const rudp_tls_session *sess,
                               rudp_tls_info *info) {
  info->handshake_done = 0;
  info->resumed = 0;
  info->cipher[0] = '\0';
  info->alpn[0] = '\0';
  info->peer_fingerprint[0] = '\0';
  if (sess == NULL || !sess->complete || sess->error != 0) {
    return;
  }
  info->handshake_done = 1;
  info->resumed = sess->resumed;
  snprintf(info->cipher, sizeof(info->cipher), "%s", sess->cipher);
  snprintf(info->alpn, sizeof(info->alpn), "%s", sess->alpn);
  snprintf(info->peer_fingerprint, sizeof(info->peer_fingerprint), "%s",
           sess->peer_fingerprint);
}
