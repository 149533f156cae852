/*
 * Tests for the TLS 1.3 handshake over memory BIOs and rudp_tls_ctx
 * (lib/rudp_tls_openssl.c).
 *
 * A client and a server session are driven against each other in memory:
 * what one writes is fed to the other until both complete or one fails.
 * The certificates are made at start-up with OpenSSL into a temporary
 * directory (a CA, leaves it signed, an expired one, a self-signed one),
 * so nothing secret is committed.  Some cases need a peer that breaks the
 * protocol (no transport-parameter extension, application data); those
 * use a raw OpenSSL SSL on the other side.
 *
 * Releasing the session after the handshake is tested on sessions and on
 * a client and a server connection exchanging datagrams in memory: what
 * is freed, what is kept (rudp_conn_get_tls_info, resumption, key
 * updates), CRYPTO data arriving afterwards, and the heap an idle
 * connection holds (librudp's through a counting rudp_mem, OpenSSL's
 * through CRYPTO_set_mem_functions).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <rudp/rudp_tls.h>

#include "rudp_conn.h"
#include "rudp_macro.h"
#include "rudp_pkt.h"
#include "rudp_tls.h"
#include "rudp_tls_openssl.h"
#include "rudp_tp.h"
#include "rudp_test_helper.h"

/* The temporary directory holding the test certificates, and its files. */
static char dir[64];
static char ca_pem[128], ca2_pem[128];
static char leaf_pem[128], leaf_key[128];
static char expired_pem[128], expired_key[128];
static char other_pem[128], other_key[128];
static char self_pem[128], self_key[128];
static char missing_pem[128];

/* The transport parameters each side sends (arbitrary bytes: the session
 * carries them opaquely). */
static uint8_t client_tp[RUDP_TP_MAXLEN];
static uint8_t server_tp[57];

/* Certificate generation (test setup). */

static EVP_PKEY *gen_key(void) {
  EVP_PKEY *k = EVP_EC_gen("P-256");
  assert_non_null(k);
  return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX v3;
  X509_EXTENSION *ext;

  X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
  assert_non_null(ext);
  assert_int_equal(X509_add_ext(x, ext, -1), 1);
  X509_EXTENSION_free(ext);
}

/*
 * make_cert makes a certificate for |cn| with |key|, signed by
 * |issuer|/|issuer_key| (NULL: self-signed), valid from |from| to |to|
 * seconds relative to now; |san| (may be NULL) is an OpenSSL
 * subjectAltName value; |ca| marks a CA.
 */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer,
                       EVP_PKEY *issuer_key, long from, long to,
                       const char *san, int ca) {
  static long serial = 1;
  X509 *x = X509_new();

  assert_non_null(x);
  assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
  assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
  assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), from));
  assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), to));
  assert_int_equal(
      X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                 (const unsigned char *)cn, -1, -1, 0),
      1);
  assert_int_equal(
      X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x)), 1);
  assert_int_equal(X509_set_pubkey(x, key), 1);
  add_ext(x, issuer ? issuer : x, NID_basic_constraints,
          ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (ca) {
    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  if (san != NULL) {
    add_ext(x, issuer ? issuer : x, NID_subject_alt_name, san);
  }
  assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
  return x;
}

static void write_cert(const char *path, X509 *x) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(PEM_write_X509(f, x), 1);
  fclose(f);
}

static void write_key(const char *path, EVP_PKEY *k) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
  fclose(f);
}

static void make_files(void) {
  EVP_PKEY *cak = gen_key(), *ca2k = gen_key(), *k;
  X509 *ca, *ca2, *x;
  const long day = 86400;
  size_t i;

  strcpy(dir, "/tmp/rudp_tls_session_test.XXXXXX");
  assert_non_null(mkdtemp(dir));
#define PATH(VAR, NAME) snprintf(VAR, sizeof(VAR), "%s/" NAME, dir)
  PATH(ca_pem, "ca.pem");
  PATH(ca2_pem, "ca2.pem");
  PATH(leaf_pem, "leaf.pem");
  PATH(leaf_key, "leaf.key");
  PATH(expired_pem, "expired.pem");
  PATH(expired_key, "expired.key");
  PATH(other_pem, "other.pem");
  PATH(other_key, "other.key");
  PATH(self_pem, "self.pem");
  PATH(self_key, "self.key");
  PATH(missing_pem, "missing.pem");
#undef PATH

  ca = make_cert("rudp test CA", cak, NULL, NULL, -day, 30 * day, NULL, 1);
  write_cert(ca_pem, ca);
  ca2 = make_cert("rudp other CA", ca2k, NULL, NULL, -day, 30 * day, NULL, 1);
  write_cert(ca2_pem, ca2);

  k = gen_key();
  x = make_cert("localhost", k, ca, cak, -day, 30 * day,
                "DNS:localhost,IP:127.0.0.1", 0);
  write_cert(leaf_pem, x);
  write_key(leaf_key, k);
  X509_free(x);
  EVP_PKEY_free(k);

  k = gen_key();
  x = make_cert("localhost", k, ca, cak, -10 * day, -day,
                "DNS:localhost,IP:127.0.0.1", 0);
  write_cert(expired_pem, x);
  write_key(expired_key, k);
  X509_free(x);
  EVP_PKEY_free(k);

  k = gen_key();
  x = make_cert("other.example", k, ca, cak, -day, 30 * day,
                "DNS:other.example", 0);
  write_cert(other_pem, x);
  write_key(other_key, k);
  X509_free(x);
  EVP_PKEY_free(k);

  k = gen_key();
  x = make_cert("localhost", k, NULL, NULL, -day, 30 * day,
                "DNS:localhost,IP:127.0.0.1", 0);
  write_cert(self_pem, x);
  write_key(self_key, k);
  X509_free(x);
  EVP_PKEY_free(k);

  X509_free(ca);
  X509_free(ca2);
  EVP_PKEY_free(cak);
  EVP_PKEY_free(ca2k);

  for (i = 0; i < sizeof(client_tp); ++i) {
    client_tp[i] = (uint8_t)(i * 7 + 1);
  }
  for (i = 0; i < sizeof(server_tp); ++i) {
    server_tp[i] = (uint8_t)(0xa0 ^ i);
  }
}

static void remove_files(void) {
  const char *files[] = {ca_pem,      ca2_pem,     leaf_pem,  leaf_key,
                         expired_pem, expired_key, other_pem, other_key,
                         self_pem,    self_key};
  size_t i;

  for (i = 0; i < sizeof(files) / sizeof(files[0]); ++i) {
    unlink(files[i]);
  }
  rmdir(dir);
}

/* Contexts and sessions. */

static rudp_tls_ctx *server_ctx_files(const char *cert, const char *key,
                                      const char *alpn,
                                      const char *ciphersuites) {
  rudp_tls_config cfg;
  rudp_tls_ctx *ctx = NULL;
  char err[256] = "";

  rudp_tls_config_default(&cfg);
  cfg.server = 1;
  cfg.cert_file = cert;
  cfg.key_file = key;
  cfg.alpn = alpn;
  cfg.ciphersuites = ciphersuites;
  assert_int_equal(rudp_tls_ctx_new(&ctx, &cfg, err, sizeof(err)), 0);
  assert_string_equal(err, "");
  return ctx;
}

static rudp_tls_ctx *server_ctx(void) {
  return server_ctx_files(leaf_pem, leaf_key, NULL, NULL);
}

static rudp_tls_ctx *client_ctx_ca(const char *ca_file) {
  rudp_tls_config cfg;
  rudp_tls_ctx *ctx = NULL;

  rudp_tls_config_default(&cfg);
  cfg.ca_file = ca_file;
  assert_int_equal(rudp_tls_ctx_new(&ctx, &cfg, NULL, 0), 0);
  return ctx;
}

static rudp_tls_session *new_client(rudp_tls_ctx *ctx, const char *name) {
  rudp_tls_session *s = NULL;
  assert_int_equal(rudp_tls_session_new(&s, ctx, 0, name, client_tp,
                                        sizeof(client_tp), NULL),
                   0);
  return s;
}

static rudp_tls_session *new_server(rudp_tls_ctx *ctx) {
  rudp_tls_session *s = NULL;
  assert_int_equal(rudp_tls_session_new(&s, ctx, 1, NULL, server_tp,
                                        sizeof(server_tp), NULL),
                   0);
  return s;
}

/* pump_result says how a pumped handshake ended. */
typedef struct pump_result {
  /* crv, srv: the last feed result of each side. */
  int crv, srv;
  /* client_flight: the client's first output (ClientHello);
   * server_flight: the server's output for it. */
  size_t client_flight, server_flight;
} pump_result;

/* move feeds |from|'s pending output to |to|; returns the feed result
 * and adds the bytes moved to |*moved|. */
static int move(rudp_tls_session *from, rudp_tls_session *to, size_t *moved) {
  uint8_t buf[16384];
  size_t n;
  int rv = 0;

  while ((n = rudp_tls_session_read_output(from, buf, sizeof(buf))) > 0) {
    *moved += n;
    rv = rudp_tls_session_feed(to, buf, n);
    if (rv != 0) {
      break;
    }
  }
  return rv;
}

/*
 * pump runs the handshake between |c| and |s| until nothing moves or one
 * side fails.  The client's output is delivered first, then the server's,
 * in rounds, as two peers exchanging flights would.
 */
static pump_result pump(rudp_tls_session *c, rudp_tls_session *s) {
  pump_result r = {0, 0, 0, 0};
  int round;

  for (round = 0; round < 10; ++round) {
    size_t cm = 0, sm = 0;
    r.srv = move(c, s, &cm);
    if (round == 0) {
      r.client_flight = cm;
    }
    if (r.srv != 0) {
      break;
    }
    r.crv = move(s, c, &sm);
    if (round == 0) {
      r.server_flight = sm;
    }
    if (r.crv != 0 || (cm == 0 && sm == 0)) {
      break;
    }
  }
  return r;
}

/* assert_connected checks a completed handshake: both sides complete,
 * the transport parameters delivered byte for byte, the secrets paired. */
static void assert_connected(rudp_tls_session *c, rudp_tls_session *s,
                             rudp_aead_alg want_alg) {
  const uint8_t *tp;
  size_t tplen = 0;
  uint8_t ctx_[RUDP_TLS_SECRETLEN], crx[RUDP_TLS_SECRETLEN];
  uint8_t stx[RUDP_TLS_SECRETLEN], srx[RUDP_TLS_SECRETLEN];
  rudp_aead_alg calg = RUDP_AEAD_NONE, salg = RUDP_AEAD_NONE;

  assert_true(rudp_tls_session_is_complete(c));
  assert_true(rudp_tls_session_is_complete(s));
  tp = rudp_tls_session_peer_tp(s, &tplen);
  assert_non_null(tp);
  assert_int_equal(tplen, sizeof(client_tp));
  assert_memory_equal(tp, client_tp, sizeof(client_tp));
  tp = rudp_tls_session_peer_tp(c, &tplen);
  assert_non_null(tp);
  assert_int_equal(tplen, sizeof(server_tp));
  assert_memory_equal(tp, server_tp, sizeof(server_tp));

  assert_int_equal(rudp_tls_session_get_secrets(c, ctx_, crx, &calg), 0);
  assert_int_equal(rudp_tls_session_get_secrets(s, stx, srx, &salg), 0);
  assert_int_equal(calg, want_alg);
  assert_int_equal(salg, want_alg);
  assert_memory_equal(ctx_, srx, RUDP_TLS_SECRETLEN);
  assert_memory_equal(crx, stx, RUDP_TLS_SECRETLEN);
  assert_memory_not_equal(ctx_, crx, RUDP_TLS_SECRETLEN);
  assert_string_equal(rudp_tls_session_reason(c), "");
  assert_string_equal(rudp_tls_session_reason(s), "");
}

/* handshake_ok runs a handshake that must succeed; returns the result. */
static pump_result handshake_ok(rudp_tls_session *c, rudp_tls_session *s) {
  pump_result r = pump(c, s);
  assert_int_equal(r.crv, 0);
  assert_int_equal(r.srv, 0);
  assert_connected(c, s, RUDP_AEAD_AES_256_GCM);
  return r;
}

/* Success cases. */

static void test_rudp_tls_session_ca_dns_name(void **state) {
  rudp_tls_ctx *sctx = server_ctx(), *cctx = client_ctx_ca(ca_pem);
  rudp_tls_session *c = new_client(cctx, "localhost"), *s = new_server(sctx);
  rudp_tls_info ci, si;
  char fp[96];
  pump_result r;

  (void)state;
  assert_false(rudp_tls_session_is_complete(c));
  assert_null(rudp_tls_session_peer_tp(c, NULL));
  r = handshake_ok(c, s);
  print_message("client first flight %zu bytes, server flight %zu bytes "
                "(full handshake, ECDSA P-256 leaf)\n",
                r.client_flight, r.server_flight);
  /* ClientHello with 256 bytes of transport parameters; the server's
   * flight carries the certificate. */
  assert_in_range(r.client_flight, 256 + 100, 256 + 400);
  assert_in_range(r.server_flight, 57 + 400, 57 + 1200);

  rudp_tls_session_get_info(c, &ci);
  rudp_tls_session_get_info(s, &si);
  assert_int_equal(ci.handshake_done, 1);
  assert_int_equal(ci.resumed, 0);
  assert_string_equal(ci.cipher, "TLS_AES_256_GCM_SHA384");
  assert_string_equal(si.cipher, "TLS_AES_256_GCM_SHA384");
  assert_string_equal(ci.alpn, "");
  assert_int_equal(rudp_tls_ctx_get_fingerprint(sctx, fp, sizeof(fp)), 0);
  assert_int_equal(strlen(fp), 95);
  assert_string_equal(ci.peer_fingerprint, fp);
  /* The client sends no certificate. */
  assert_string_equal(si.peer_fingerprint, "");

  rudp_tls_session_del(c);
  rudp_tls_session_del(s);
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

static void test_rudp_tls_session_ca_ip_name(void **state) {
  rudp_tls_ctx *sctx = server_ctx(), *cctx = client_ctx_ca(ca_pem);
  rudp_tls_session *c = new_client(cctx, "127.0.0.1"), *s = new_server(sctx);
  pump_result r;

  (void)state;
  handshake_ok(c, s);
  rudp_tls_session_del(c);
  rudp_tls_session_del(s);

  /* ::1 is not in the certificate. */
  c = new_client(cctx, "::1");
  s = new_server(sctx);
  r = pump(c, s);
  assert_int_equal(r.crv, RUDP_ERR_TLS_NAME_MISMATCH);
  assert_int_equal(rudp_tls_session_alert(c), 42);
  assert_string_equal(rudp_tls_session_reason(c),
                      "certificate verify failed: IP address mismatch");
  assert_false(rudp_tls_session_is_complete(c));
  rudp_tls_session_del(c);
  rudp_tls_session_del(s);

  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

static void test_rudp_tls_session_cipher_suites(void **state) {
  static const struct {
    const char *name;
    rudp_aead_alg alg;
  } suites[] = {
      {"TLS_AES_128_GCM_SHA256", RUDP_AEAD_AES_128_GCM},
      {"TLS_AES_256_GCM_SHA384", RUDP_AEAD_AES_256_GCM},
      {"TLS_CHACHA20_POLY1305_SHA256", RUDP_AEAD_CHACHA20_POLY1305},
  };
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(suites) / sizeof(suites[0]); ++i) {
    rudp_tls_ctx *sctx =
        server_ctx_files(leaf_pem, leaf_key, NULL, suites[i].name);
    rudp_tls_ctx *cctx = client_ctx_ca(ca_pem);
    rudp_tls_session *c = new_client(cctx, "localhost");
    rudp_tls_session *s = new_server(sctx);
    rudp_tls_info info;
    pump_result r = pump(c, s);

    assert_int_equal(r.crv, 0);
    assert_int_equal(r.srv, 0);
    assert_connected(c, s, suites[i].alg);
    rudp_tls_session_get_info(c, &info);
    assert_string_equal(info.cipher, suites[i].name);
    rudp_tls_session_del(c);
    rudp_tls_session_del(s);
    rudp_tls_ctx_free(cctx);
    rudp_tls_ctx_free(sctx);
  }
}

/* The server can export as soon as its flight (with its Finished) is
 * written, before the client's Finished arrives; the client only once the
 * server's Finished is verified. */
static void test_rudp_tls_session_server_exports_early(void **state) {
  rudp_tls_ctx *sctx = server_ctx(), *cctx = client_ctx_ca(ca_pem);
  rudp_tls_session *c = new_client(cctx, "localhost"), *s = new_server(sctx);
  uint8_t buf[16384], stx[32], srx[32], ctx_[32], crx[32];
  rudp_aead_alg alg;
  size_t n;

  (void)state;
  assert_int_equal(rudp_tls_session_get_secrets(s, stx, srx, &alg),
                   RUDP_ERR_INVALID_STATE);
  assert_int_equal(rudp_tls_session_get_secrets(c, ctx_, crx, &alg),
                   RUDP_ERR_INVALID_STATE);
  n = rudp_tls_session_read_output(c, buf, sizeof(buf));
  assert_int_equal(rudp_tls_session_feed(s, buf, n), 0);
  assert_false(rudp_tls_session_is_complete(s));
  assert_int_equal(rudp_tls_session_get_secrets(s, stx, srx, &alg), 0);
  assert_int_equal(alg, RUDP_AEAD_AES_256_GCM);

  n = rudp_tls_session_read_output(s, buf, sizeof(buf));
  assert_int_equal(rudp_tls_session_feed(c, buf, n), 0);
  assert_true(rudp_tls_session_is_complete(c));
  assert_int_equal(rudp_tls_session_get_secrets(c, ctx_, crx, &alg), 0);
  assert_memory_equal(stx, crx, 32);
  assert_memory_equal(srx, ctx_, 32);

  n = rudp_tls_session_read_output(c, buf, sizeof(buf));
  assert_int_equal(rudp_tls_session_feed(s, buf, n), 0);
  assert_true(rudp_tls_session_is_complete(s));
  assert_connected(c, s, RUDP_AEAD_AES_256_GCM);

  rudp_tls_session_del(c);
  rudp_tls_session_del(s);
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

/* A server replaces its transport parameters before the ClientHello (after
 * a RETRY), not after; a client never can (its ClientHello is out). */
static void test_rudp_tls_session_set_local_tp(void **state) {
  rudp_tls_ctx *sctx = server_ctx(), *cctx = client_ctx_ca(ca_pem);
  rudp_tls_session *c = new_client(cctx, "localhost"), *s = new_server(sctx);
  uint8_t tp[3] = {9, 8, 7}, big[RUDP_TP_MAXLEN + 1];
  const uint8_t *got;
  size_t len = 0;
  pump_result r;

  (void)state;
  memset(big, 0, sizeof(big));
  assert_int_equal(rudp_tls_session_set_local_tp(c, tp, sizeof(tp)),
                   RUDP_ERR_INVALID_STATE);
  assert_int_equal(rudp_tls_session_set_local_tp(s, big, sizeof(big)),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_tls_session_set_local_tp(s, tp, sizeof(tp)), 0);
  r = pump(c, s);
  assert_int_equal(r.crv, 0);
  assert_int_equal(r.srv, 0);
  got = rudp_tls_session_peer_tp(c, &len);
  assert_int_equal(len, 3);
  assert_memory_equal(got, tp, 3);
  assert_int_equal(rudp_tls_session_set_local_tp(s, tp, 1),
                   RUDP_ERR_INVALID_STATE);

  rudp_tls_session_del(c);
  rudp_tls_session_del(s);
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

/* ALPN: the server's preference wins; no overlap, or a client offering
 * nothing to a server with a list, fails with no_application_protocol. */
static void alpn_case(const char *server_alpn, const char *client_alpn,
                      const char *want) {
  rudp_tls_ctx *sctx = server_ctx_files(leaf_pem, leaf_key, server_alpn, NULL);
  rudp_tls_config cfg;
  rudp_tls_ctx *cctx = NULL;
  rudp_tls_session *c, *s;
  pump_result r;

  rudp_tls_config_default(&cfg);
  cfg.ca_file = ca_pem;
  cfg.alpn = client_alpn;
  assert_int_equal(rudp_tls_ctx_new(&cctx, &cfg, NULL, 0), 0);
  c = new_client(cctx, "localhost");
  s = new_server(sctx);
  r = pump(c, s);
  if (want != NULL) {
    rudp_tls_info ci, si;
    assert_int_equal(r.crv, 0);
    assert_int_equal(r.srv, 0);
    rudp_tls_session_get_info(c, &ci);
    rudp_tls_session_get_info(s, &si);
    assert_string_equal(ci.alpn, want);
    assert_string_equal(si.alpn, want);
  } else {
    uint8_t buf[256];
    size_t n;
    assert_int_equal(r.srv, RUDP_ERR_CRYPTO);
    assert_int_equal(rudp_tls_session_alert(s), 120);
    if (client_alpn == NULL) {
      assert_string_equal(rudp_tls_session_reason(s),
                          "client offers no application protocol (ALPN)");
    } else {
      assert_string_equal(rudp_tls_session_reason(s),
                          "no application protocol");
    }
    /* The server's alert reaches the client. */
    n = rudp_tls_session_read_output(s, buf, sizeof(buf));
    assert_int_equal(n, 7); /* a plaintext alert record */
    assert_int_equal(rudp_tls_session_feed(c, buf, n), RUDP_ERR_CRYPTO);
    assert_int_equal(rudp_tls_session_alert(c), 120);
    assert_string_equal(rudp_tls_session_reason(c),
                        "peer sent alert no application protocol");
  }
  rudp_tls_session_del(c);
  rudp_tls_session_del(s);
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

static void test_rudp_tls_session_alpn(void **state) {
  (void)state;
  alpn_case("rudp-perf,rudp-file", "rudp-file,rudp-perf", "rudp-perf");
  alpn_case("rudp-perf,rudp-file", "x,rudp-file", "rudp-file");
  alpn_case(NULL, "rudp-file", "");
  alpn_case(NULL, NULL, "");
  alpn_case("rudp-perf", "rudp-file", NULL);
  alpn_case("rudp-perf", NULL, NULL);
}

/* Verification failures. */

/* fail_case runs a handshake the client must refuse with |want| and alert
 * |alert|; the client's alert then fails the server with RUDP_ERR_CRYPTO
 * and the same alert. */
static void fail_case(rudp_tls_ctx *sctx, rudp_tls_ctx *cctx, const char *name,
                      int want, int alert, const char *reason) {
  rudp_tls_session *c = new_client(cctx, name), *s = new_server(sctx);
  pump_result r = pump(c, s);
  uint8_t buf[256];
  size_t n;
  char sreason[128];

  assert_int_equal(r.crv, want);
  assert_false(rudp_tls_session_is_complete(c));
  assert_int_equal(rudp_tls_session_alert(c), alert);
  assert_string_equal(rudp_tls_session_reason(c), reason);
  /* Sticky: the session stays failed. */
  assert_int_equal(rudp_tls_session_feed(c, NULL, 0), want);
  assert_int_equal(
      rudp_tls_session_get_secrets(c, buf, buf + 32, &(rudp_aead_alg){0}),
      RUDP_ERR_INVALID_STATE);

  /* The alert record tells the server.  The client has not switched to its
   * handshake keys yet (it does so to send its Finished), so the record is
   * plaintext: 5 bytes of header, level, description. */
  n = rudp_tls_session_read_output(c, buf, sizeof(buf));
  assert_int_equal(n, 7);
  assert_int_equal(buf[0], 0x15);
  assert_int_equal(buf[6], alert);
  assert_int_equal(rudp_tls_session_feed(s, buf, n), RUDP_ERR_CRYPTO);
  assert_int_equal(rudp_tls_session_alert(s), alert);
  snprintf(sreason, sizeof(sreason), "peer sent alert %s",
           SSL_alert_desc_string_long(alert));
  assert_string_equal(rudp_tls_session_reason(s), sreason);
  assert_false(rudp_tls_session_is_complete(s));

  rudp_tls_session_del(c);
  rudp_tls_session_del(s);
}

static void test_rudp_tls_session_unknown_ca(void **state) {
  rudp_tls_ctx *sctx = server_ctx(), *cctx = client_ctx_ca(ca2_pem);

  (void)state;
  fail_case(sctx, cctx, "localhost", RUDP_ERR_TLS_CERT_UNTRUSTED, 48,
            "certificate verify failed: unable to get local issuer "
            "certificate");
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

static void test_rudp_tls_session_self_signed(void **state) {
  rudp_tls_ctx *sctx = server_ctx_files(self_pem, self_key, NULL, NULL);
  rudp_tls_ctx *cctx = client_ctx_ca(ca_pem);

  (void)state;
  fail_case(sctx, cctx, "localhost", RUDP_ERR_TLS_CERT_UNTRUSTED, 48,
            "certificate verify failed: self-signed certificate");
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

static void test_rudp_tls_session_name_mismatch(void **state) {
  rudp_tls_ctx *sctx = server_ctx_files(other_pem, other_key, NULL, NULL);
  rudp_tls_ctx *cctx = client_ctx_ca(ca_pem);

  (void)state;
  fail_case(sctx, cctx, "localhost", RUDP_ERR_TLS_NAME_MISMATCH, 42,
            "certificate verify failed: hostname mismatch");
  /* A name check is not a suffix check. */
  fail_case(sctx, cctx, "example", RUDP_ERR_TLS_NAME_MISMATCH, 42,
            "certificate verify failed: hostname mismatch");
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

static void test_rudp_tls_session_expired(void **state) {
  rudp_tls_ctx *sctx = server_ctx_files(expired_pem, expired_key, NULL, NULL);
  rudp_tls_ctx *cctx = client_ctx_ca(ca_pem);

  (void)state;
  fail_case(sctx, cctx, "localhost", RUDP_ERR_TLS_CERT_EXPIRED, 45,
            "certificate verify failed: certificate has expired");
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

/* Pins, insecure. */

static rudp_tls_ctx *ephemeral_ctx(const char *names) {
  rudp_tls_config cfg;
  rudp_tls_ctx *ctx = NULL;
  char err[256] = "";

  rudp_tls_config_default(&cfg);
  cfg.server = 1;
  cfg.ephemeral_names = names;
  assert_int_equal(rudp_tls_ctx_new(&ctx, &cfg, err, sizeof(err)), 0);
  return ctx;
}

static rudp_tls_ctx *pinned_ctx(const char *pin) {
  rudp_tls_config cfg;
  rudp_tls_ctx *ctx = NULL;
  char err[256] = "";

  rudp_tls_config_default(&cfg);
  cfg.pin_sha256 = pin;
  cfg.ca_file = missing_pem; /* ignored: the pin replaces the CA */
  assert_int_equal(rudp_tls_ctx_new(&ctx, &cfg, err, sizeof(err)), 0);
  return ctx;
}

static void test_rudp_tls_session_pin(void **state) {
  rudp_tls_ctx *sctx = ephemeral_ctx(NULL), *cctx;
  rudp_tls_session *c, *s;
  char fp[96], lower[65];
  rudp_tls_info info;
  size_t i;

  (void)state;
  assert_int_equal(rudp_tls_ctx_get_fingerprint(sctx, fp, sizeof(fp)), 0);
  for (i = 0; i < 95; ++i) {
    assert_true(i % 3 == 2 ? fp[i] == ':'
                           : (fp[i] >= '0' && fp[i] <= '9') ||
                                 (fp[i] >= 'A' && fp[i] <= 'F'));
  }
  assert_int_equal(fp[95], '\0');

  /* The printed form, with a name the certificate does not have: the pin
   * replaces the name check. */
  cctx = pinned_ctx(fp);
  c = new_client(cctx, "not-in-the-cert.example");
  s = new_server(sctx);
  handshake_ok(c, s);
  rudp_tls_session_get_info(c, &info);
  assert_string_equal(info.peer_fingerprint, fp);
  rudp_tls_session_del(c);
  rudp_tls_session_del(s);
  rudp_tls_ctx_free(cctx);

  /* 64 lower-case digits, no name at all. */
  for (i = 0; i < 32; ++i) {
    lower[2 * i] = (char)(fp[3 * i] >= 'A' ? fp[3 * i] + 32 : fp[3 * i]);
    lower[2 * i + 1] =
        (char)(fp[3 * i + 1] >= 'A' ? fp[3 * i + 1] + 32 : fp[3 * i + 1]);
  }
  lower[64] = '\0';
  cctx = pinned_ctx(lower);
  c = new_client(cctx, NULL);
  s = new_server(sctx);
  handshake_ok(c, s);
  rudp_tls_session_del(c);
  rudp_tls_session_del(s);
  rudp_tls_ctx_free(cctx);

  rudp_tls_ctx_free(sctx);
}

static void test_rudp_tls_session_pin_mismatch(void **state) {
  rudp_tls_ctx *sctx = ephemeral_ctx(NULL), *other = ephemeral_ctx(NULL);
  rudp_tls_ctx *cctx;
  char fp[96], ofp[96], reason[160];

  (void)state;
  assert_int_equal(rudp_tls_ctx_get_fingerprint(sctx, fp, sizeof(fp)), 0);
  assert_int_equal(rudp_tls_ctx_get_fingerprint(other, ofp, sizeof(ofp)), 0);
  assert_string_not_equal(fp, ofp);
  cctx = pinned_ctx(ofp);
  snprintf(reason, sizeof(reason),
           "certificate pin mismatch: the server's is %s", fp);
  fail_case(sctx, cctx, "localhost", RUDP_ERR_TLS_PIN_MISMATCH, 42, reason);
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(other);
  rudp_tls_ctx_free(sctx);
}

static void test_rudp_tls_session_insecure(void **state) {
  rudp_tls_ctx *sctx = server_ctx_files(self_pem, self_key, NULL, NULL);
  rudp_tls_config cfg;
  rudp_tls_ctx *cctx = NULL;
  rudp_tls_session *c, *s;

  (void)state;
  rudp_tls_config_default(&cfg);
  cfg.insecure = 1;
  assert_int_equal(rudp_tls_ctx_new(&cctx, &cfg, NULL, 0), 0);
  c = new_client(cctx, "wrong.example");
  s = new_server(sctx);
  handshake_ok(c, s);
  rudp_tls_session_del(c);
  rudp_tls_session_del(s);
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

/* Configuration errors name the file or setting at fault. */

static void config_fails(const rudp_tls_config *cfg, const char *needle) {
  rudp_tls_ctx *ctx = (rudp_tls_ctx *)&ctx;
  char err[512] = "unchanged";

  assert_int_equal(rudp_tls_ctx_new(&ctx, cfg, err, sizeof(err)),
                   RUDP_ERR_TLS_CONFIG);
  assert_null(ctx);
  if (strstr(err, needle) == NULL) {
    fail_msg("errbuf \"%s\" does not name \"%s\"", err, needle);
  }
  assert_null(strchr(err, '\n'));
  /* Nothing is left on the thread's OpenSSL error queue. */
  assert_int_equal(ERR_peek_error(), 0);
  /* The same code without an error buffer. */
  assert_int_equal(rudp_tls_ctx_new(&ctx, cfg, NULL, 0), RUDP_ERR_TLS_CONFIG);
  assert_null(ctx);
}

static void test_rudp_tls_session_config_errors(void **state) {
  /* The printed form with one separator wrong. */
  static const char bad_colons[] =
      "01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:"
      "ef:01:23:45:67:89:ab:cd-ef";
  static const char *bad_pins[] = {
      "",
      "00",
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef00",
      bad_colons,
  };
  rudp_tls_config cfg;
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(bad_pins) / sizeof(bad_pins[0]); ++i) {
    rudp_tls_config_default(&cfg);
    cfg.pin_sha256 = bad_pins[i];
    config_fails(&cfg, "pin_sha256");
  }

  rudp_tls_config_default(&cfg);
  cfg.server = 1;
  cfg.cert_file = missing_pem;
  cfg.key_file = leaf_key;
  config_fails(&cfg, missing_pem);
  config_fails(&cfg, "No such file or directory");

  cfg.cert_file = leaf_pem;
  cfg.key_file = missing_pem;
  config_fails(&cfg, missing_pem);

  /* A key that belongs to another certificate. */
  cfg.key_file = other_key;
  config_fails(&cfg, other_key);

  /* A key file that is no key. */
  cfg.key_file = ca_pem;
  config_fails(&cfg, ca_pem);

  cfg.key_file = NULL;
  config_fails(&cfg, "key_file");

  rudp_tls_config_default(&cfg);
  cfg.server = 1;
  cfg.ephemeral_names = "localhost,,x";
  config_fails(&cfg, "ephemeral_names");

  rudp_tls_config_default(&cfg);
  cfg.ca_file = missing_pem;
  config_fails(&cfg, missing_pem);

  rudp_tls_config_default(&cfg);
  cfg.ca_dir = missing_pem;
  config_fails(&cfg, missing_pem);

  rudp_tls_config_default(&cfg);
  cfg.ca_dir = ca_pem; /* a file, not a directory */
  config_fails(&cfg, "not a directory");

  rudp_tls_config_default(&cfg);
  cfg.insecure = 1;
  cfg.ciphersuites = "TLS_NO_SUCH_SUITE";
  config_fails(&cfg, "TLS_NO_SUCH_SUITE");
  cfg.ciphersuites = "TLS_AES_128_CCM_SHA256";
  config_fails(&cfg, "TLS_AES_128_CCM_SHA256 is not supported");

  cfg.ciphersuites = NULL;
  cfg.alpn = "a,,b";
  config_fails(&cfg, "alpn");
  cfg.alpn = "";
  config_fails(&cfg, "alpn");
}

static void test_rudp_tls_session_api_misuse(void **state) {
  rudp_tls_ctx *sctx = server_ctx(), *cctx = client_ctx_ca(ca_pem);
  rudp_tls_session *s = (rudp_tls_session *)&s;
  char fp[96];

  (void)state;
  assert_int_equal(rudp_tls_available(), 1);
  assert_int_equal(rudp_tls_ctx_new(NULL, NULL, NULL, 0),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_tls_ctx_get_fingerprint(cctx, fp, sizeof(fp)),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_tls_ctx_get_fingerprint(sctx, fp, 95), RUDP_ERR_NOBUF);
  assert_int_equal(
      rudp_tls_session_new(&s, NULL, 0, "localhost", NULL, 0, NULL),
      RUDP_ERR_INVALID_ARGUMENT);
  /* Roles must match the context's. */
  assert_int_equal(
      rudp_tls_session_new(&s, sctx, 0, "localhost", NULL, 0, NULL),
      RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_tls_session_new(&s, cctx, 1, NULL, NULL, 0, NULL),
                   RUDP_ERR_INVALID_ARGUMENT);
  /* A CA-verifying client needs a name to check. */
  assert_int_equal(rudp_tls_session_new(&s, cctx, 0, NULL, NULL, 0, NULL),
                   RUDP_ERR_INVALID_ARGUMENT);
  assert_int_equal(rudp_tls_session_new(&s, cctx, 0, "localhost", client_tp,
                                        RUDP_TP_MAXLEN + 1, NULL),
                   RUDP_ERR_INVALID_ARGUMENT);
  rudp_tls_session_del(NULL);
  rudp_tls_ctx_free(NULL);
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

/* Mode mismatch: a plain-mode peer's first bytes are its transport
 * parameters, not a TLS record. */
static void test_rudp_tls_session_mode_mismatch(void **state) {
  static const uint8_t plain[] = {0x01, 0x04, 0x80, 0x00, 0x75, 0x30};
  rudp_tls_ctx *sctx = server_ctx(), *cctx = client_ctx_ca(ca_pem);
  rudp_tls_session *c = new_client(cctx, "localhost"), *s = new_server(sctx);
  uint8_t buf[64];

  (void)state;
  assert_int_equal(rudp_tls_session_feed(s, plain, sizeof(plain)),
                   RUDP_ERR_TLS_MODE_MISMATCH);
  assert_string_equal(rudp_tls_session_reason(s), "peer does not use TLS");
  /* Nothing was answered. */
  assert_int_equal(rudp_tls_session_read_output(s, buf, sizeof(buf)), 0);
  assert_int_equal(rudp_tls_session_feed(c, plain, sizeof(plain)),
                   RUDP_ERR_TLS_MODE_MISMATCH);
  rudp_tls_session_del(c);
  rudp_tls_session_del(s);
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

/* Garbage: a corrupted server flight, and garbage after a valid-looking
 * first byte, fail cleanly. */
static void test_rudp_tls_session_garbage(void **state) {
  rudp_tls_ctx *sctx = server_ctx(), *cctx = client_ctx_ca(ca_pem);
  rudp_tls_session *c, *s;
  uint8_t buf[16384];
  size_t n, i;
  rudp_test_rng rng;

  (void)state;
  rudp_test_rng_init(&rng, 7);
  for (i = 0; i < 40; ++i) {
    size_t pos;
    int rv;

    c = new_client(cctx, "localhost");
    s = new_server(sctx);
    n = rudp_tls_session_read_output(c, buf, sizeof(buf));
    assert_int_equal(rudp_tls_session_feed(s, buf, n), 0);
    n = rudp_tls_session_read_output(s, buf, sizeof(buf));
    /* Flip a byte after the first: anywhere in the ServerHello or the
     * encrypted records. */
    pos = 1 + (size_t)rudp_test_rng_below(&rng, n - 1);
    buf[pos] ^= (uint8_t)(1 + rudp_test_rng_below(&rng, 255));
    rv = rudp_tls_session_feed(c, buf, n);
    /* A flipped length byte may leave the client waiting for more; then
     * more garbage must end it. */
    if (rv == 0) {
      rudp_test_rng_fill(&rng, buf, 4096);
      rv = rudp_tls_session_feed(c, buf, 4096);
    }
    assert_true(rv < 0);
    assert_int_not_equal(rv, RUDP_ERR_NOMEM);
    assert_false(rudp_tls_session_is_complete(c));
    assert_true(rudp_tls_session_alert(c) > 0);
    assert_true(strlen(rudp_tls_session_reason(c)) > 0);
    rudp_tls_session_del(c);
    rudp_tls_session_del(s);
  }

  /* A handshake record header followed by random bytes. */
  s = new_server(sctx);
  rudp_test_rng_fill(&rng, buf, 2000);
  buf[0] = 0x16;
  buf[1] = 0x03;
  buf[2] = 0x01;
  buf[3] = 0x01;
  buf[4] = 0x00;
  assert_int_equal(rudp_tls_session_feed(s, buf, 2000), RUDP_ERR_CRYPTO);
  rudp_tls_session_del(s);

  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

/* Resumption: the ticket the server sends lets the next connection to the
 * same name resume without a certificate; the transport parameters still
 * travel (EncryptedExtensions is sent on resumption too). */
static void test_rudp_tls_session_resumption(void **state) {
  rudp_tls_ctx *sctx = server_ctx(), *cctx = client_ctx_ca(ca_pem);
  rudp_tls_session *c, *s;
  rudp_tls_info info;
  pump_result full, res;
  int i;

  (void)state;
  c = new_client(cctx, "localhost");
  s = new_server(sctx);
  full = handshake_ok(c, s);
  rudp_tls_session_get_info(c, &info);
  assert_int_equal(info.resumed, 0);
  rudp_tls_session_del(c);
  rudp_tls_session_del(s);

  /* Each resumed connection brings the ticket for the next one. */
  for (i = 0; i < 2; ++i) {
    c = new_client(cctx, "localhost");
    s = new_server(sctx);
    res = handshake_ok(c, s);
    rudp_tls_session_get_info(c, &info);
    assert_int_equal(info.resumed, 1);
    assert_string_equal(info.peer_fingerprint, "");
    rudp_tls_session_get_info(s, &info);
    assert_int_equal(info.resumed, 1);
    if (i == 0) {
      print_message("resumed: client first flight %zu bytes, server flight "
                    "%zu bytes (full: %zu, %zu)\n",
                    res.client_flight, res.server_flight, full.client_flight,
                    full.server_flight);
    }
    /* No certificate, no CertificateVerify: at least 300 bytes fewer. */
    assert_true(res.server_flight + 300 < full.server_flight);
    /* The ClientHello grows by the pre-shared key offer. */
    assert_true(res.client_flight > full.client_flight);
    rudp_tls_session_del(c);
    rudp_tls_session_del(s);
  }

  /* Another name has no ticket: a full handshake. */
  c = new_client(cctx, "127.0.0.1");
  s = new_server(sctx);
  handshake_ok(c, s);
  rudp_tls_session_get_info(c, &info);
  assert_int_equal(info.resumed, 0);
  rudp_tls_session_del(c);
  rudp_tls_session_del(s);

  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

/* No resumption when the server sends no tickets, or the client keeps
 * none. */
static void test_rudp_tls_session_no_resumption(void **state) {
  rudp_tls_config cfg;
  rudp_tls_ctx *sctx = NULL, *cctx = NULL;
  rudp_tls_session *c, *s;
  rudp_tls_info info;
  int i, round;

  (void)state;
  for (round = 0; round < 2; ++round) {
    rudp_tls_config_default(&cfg);
    cfg.server = 1;
    cfg.cert_file = leaf_pem;
    cfg.key_file = leaf_key;
    cfg.tickets = round == 0 ? 0 : 1;
    assert_int_equal(rudp_tls_ctx_new(&sctx, &cfg, NULL, 0), 0);
    rudp_tls_config_default(&cfg);
    cfg.ca_file = ca_pem;
    cfg.session_cache = round == 0 ? 1 : 0;
    assert_int_equal(rudp_tls_ctx_new(&cctx, &cfg, NULL, 0), 0);
    for (i = 0; i < 2; ++i) {
      c = new_client(cctx, "localhost");
      s = new_server(sctx);
      handshake_ok(c, s);
      rudp_tls_session_get_info(c, &info);
      assert_int_equal(info.resumed, 0);
      rudp_tls_session_del(c);
      rudp_tls_session_del(s);
    }
    rudp_tls_ctx_free(cctx);
    rudp_tls_ctx_free(sctx);
  }
}

/* The cache keeps 64 names and evicts the oldest. */
static void test_rudp_tls_session_cache_eviction(void **state) {
  rudp_tls_ctx *sctx = ephemeral_ctx("localhost"), *cctx;
  rudp_tls_config cfg;
  rudp_tls_session *c, *s;
  rudp_tls_info info;
  char name[32];
  int i;

  (void)state;
  rudp_tls_config_default(&cfg);
  cfg.insecure = 1;
  cctx = NULL;
  assert_int_equal(rudp_tls_ctx_new(&cctx, &cfg, NULL, 0), 0);
  for (i = 0; i <= 64; ++i) {
    snprintf(name, sizeof(name), "h%d.example", i);
    c = new_client(cctx, name);
    s = new_server(sctx);
    handshake_ok(c, s);
    rudp_tls_session_del(c);
    rudp_tls_session_del(s);
  }
  /* h0 was evicted by h64; h1 is still there.  (h1 first: h0's full
   * handshake would store a ticket and evict h1.) */
  for (i = 1; i >= 0; --i) {
    snprintf(name, sizeof(name), "h%d.example", i);
    c = new_client(cctx, name);
    s = new_server(sctx);
    handshake_ok(c, s);
    rudp_tls_session_get_info(c, &info);
    assert_int_equal(info.resumed, i);
    rudp_tls_session_del(c);
    rudp_tls_session_del(s);
  }
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

/* Freeing the contexts before the sessions is safe: each session holds a
 * reference (the handshake even completes afterwards). */
static void test_rudp_tls_session_ctx_refcount(void **state) {
  rudp_tls_ctx *sctx = server_ctx(), *cctx = client_ctx_ca(ca_pem);
  rudp_tls_session *c = new_client(cctx, "localhost"), *s = new_server(sctx);

  (void)state;
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
  handshake_ok(c, s);
  rudp_tls_session_del(c);
  rudp_tls_session_del(s);
}

/* Raw OpenSSL peers that break the protocol. */

static int raw_add_cb(SSL *ssl, unsigned int ext_type, unsigned int context,
                      const unsigned char **out, size_t *outlen, X509 *x,
                      size_t chainidx, int *al, void *add_arg) {
  static const uint8_t big[300];
  (void)ssl;
  (void)ext_type;
  (void)context;
  (void)x;
  (void)chainidx;
  (void)al;
  *out = big;
  *outlen = (size_t)(uintptr_t)add_arg;
  return 1;
}

static int raw_parse_cb(SSL *ssl, unsigned int ext_type, unsigned int context,
                        const unsigned char *in, size_t inlen, X509 *x,
                        size_t chainidx, int *al, void *parse_arg) {
  (void)ssl;
  (void)ext_type;
  (void)context;
  (void)in;
  (void)inlen;
  (void)x;
  (void)chainidx;
  (void)al;
  (void)parse_arg;
  return 1;
}

/*
 * raw_new makes an SSL over memory BIOs: a server (with leaf.pem) or a
 * client (verifying nothing).  |tplen| < 0: no transport-parameter
 * extension; otherwise one of |tplen| zero bytes.
 */
static SSL *raw_new(int server, long tplen, BIO **prbio, BIO **pwbio) {
  SSL_CTX *sctx = SSL_CTX_new(TLS_method());
  SSL *ssl;

  assert_non_null(sctx);
  SSL_CTX_set_min_proto_version(sctx, TLS1_3_VERSION);
  if (server) {
    assert_int_equal(SSL_CTX_use_certificate_chain_file(sctx, leaf_pem), 1);
    assert_int_equal(
        SSL_CTX_use_PrivateKey_file(sctx, leaf_key, SSL_FILETYPE_PEM), 1);
  }
  if (tplen >= 0) {
    assert_int_equal(
        SSL_CTX_add_custom_ext(
            sctx, RUDP_TLS_TP_EXT,
            SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS,
            raw_add_cb, NULL, (void *)(uintptr_t)tplen, raw_parse_cb, NULL),
        1);
  }
  ssl = SSL_new(sctx);
  SSL_CTX_free(sctx);
  assert_non_null(ssl);
  *prbio = BIO_new(BIO_s_mem());
  *pwbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, *prbio, *pwbio);
  if (server) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
  }
  return ssl;
}

/* raw_to_sess moves the raw SSL's output into |sess|. */
static int raw_to_sess(BIO *wbio, rudp_tls_session *sess) {
  uint8_t buf[16384];
  int n = BIO_read(wbio, buf, sizeof(buf));
  return n > 0 ? rudp_tls_session_feed(sess, buf, (size_t)n) : 0;
}

static void sess_to_raw(rudp_tls_session *sess, BIO *rbio) {
  uint8_t buf[16384];
  size_t n = rudp_tls_session_read_output(sess, buf, sizeof(buf));
  if (n > 0) {
    assert_int_equal(BIO_write(rbio, buf, (int)n), (int)n);
  }
}

static void test_rudp_tls_session_missing_tp(void **state) {
  rudp_tls_ctx *sctx = server_ctx(), *cctx = client_ctx_ca(ca_pem);
  rudp_tls_session *sess;
  BIO *rbio, *wbio;
  SSL *raw;
  uint8_t buf[64];

  (void)state;
  /* A client without the extension: the server refuses its ClientHello. */
  raw = raw_new(0, -1, &rbio, &wbio);
  assert_int_equal(SSL_do_handshake(raw), -1);
  sess = new_server(sctx);
  assert_int_equal(raw_to_sess(wbio, sess), RUDP_ERR_TRANSPORT_PARAM);
  assert_int_equal(rudp_tls_session_alert(sess), 109);
  assert_string_equal(rudp_tls_session_reason(sess),
                      "peer sent no transport parameters extension");
  rudp_tls_session_del(sess);
  SSL_free(raw);

  /* A client sending 300 bytes of them: too long. */
  raw = raw_new(0, 300, &rbio, &wbio);
  assert_int_equal(SSL_do_handshake(raw), -1);
  sess = new_server(sctx);
  assert_int_equal(raw_to_sess(wbio, sess), RUDP_ERR_TRANSPORT_PARAM);
  assert_int_equal(rudp_tls_session_alert(sess), 50);
  rudp_tls_session_del(sess);
  SSL_free(raw);

  /* A server without the extension: the client fails at the end and
   * withholds its Finished. */
  raw = raw_new(1, -1, &rbio, &wbio);
  sess = new_client(cctx, "localhost");
  sess_to_raw(sess, rbio);
  assert_int_equal(SSL_do_handshake(raw), -1);
  assert_int_equal(raw_to_sess(wbio, sess), RUDP_ERR_TRANSPORT_PARAM);
  assert_int_equal(rudp_tls_session_alert(sess), 109);
  assert_false(rudp_tls_session_is_complete(sess));
  assert_int_equal(rudp_tls_session_read_output(sess, buf, sizeof(buf)), 0);
  rudp_tls_session_del(sess);
  SSL_free(raw);

  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

/* The ephemeral certificate: P-256, the names asked for, a day's validity
 * from an hour ago, not a CA, and the fingerprint the context reports. */
static void test_rudp_tls_session_ephemeral_cert(void **state) {
  rudp_tls_ctx *sctx = ephemeral_ctx("a.example, 10.0.0.1,::2");
  rudp_tls_session *sess = new_server(sctx);
  BIO *rbio, *wbio;
  SSL *raw = raw_new(0, 5, &rbio, &wbio);
  X509 *x;
  EVP_PKEY *pk;
  uint8_t md[32];
  unsigned int mdlen = 0;
  char fp[96], want[96];
  int days = -1, secs = -1;
  size_t i;

  (void)state;
  assert_int_equal(SSL_do_handshake(raw), -1);
  assert_int_equal(raw_to_sess(wbio, sess), 0);
  sess_to_raw(sess, rbio);
  assert_int_equal(SSL_do_handshake(raw), 1);
  x = SSL_get0_peer_certificate(raw);
  assert_non_null(x);
  assert_int_equal(X509_check_host(x, "a.example", 0, 0, NULL), 1);
  assert_int_equal(X509_check_ip_asc(x, "10.0.0.1", 0), 1);
  assert_int_equal(X509_check_ip_asc(x, "::2", 0), 1);
  assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 0);
  assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 0);
  assert_int_equal(X509_check_ca(x), 0);
  assert_int_equal(X509_get_version(x), X509_VERSION_3);
  assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
  pk = X509_get0_pubkey(x);
  assert_true(EVP_PKEY_is_a(pk, "EC"));
  assert_int_equal(EVP_PKEY_get_bits(pk), 256);
  assert_int_equal(X509_verify(x, pk), 1); /* self-signed */
  assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
                                  X509_get0_notAfter(x)),
                   1);
  assert_int_equal(days, 1);
  assert_int_equal(secs, 3600);
  assert_true(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);

  assert_int_equal(X509_digest(x, EVP_sha256(), md, &mdlen), 1);
  for (i = 0; i < 32; ++i) {
    snprintf(want + 3 * i, 4, i < 31 ? "%02X:" : "%02X", md[i]);
  }
  assert_int_equal(rudp_tls_ctx_get_fingerprint(sctx, fp, sizeof(fp)), 0);
  assert_string_equal(fp, want);

  SSL_free(raw);
  rudp_tls_session_del(sess);
  rudp_tls_ctx_free(sctx);
}

/* Application data over TLS is a protocol error (only the handshake runs
 * over it). */
static void test_rudp_tls_session_app_data(void **state) {
  rudp_tls_ctx *cctx = client_ctx_ca(ca_pem);
  rudp_tls_session *sess = new_client(cctx, "localhost");
  BIO *rbio, *wbio;
  SSL *raw = raw_new(1, 5, &rbio, &wbio);

  (void)state;
  sess_to_raw(sess, rbio);
  assert_int_equal(SSL_do_handshake(raw), -1);
  assert_int_equal(raw_to_sess(wbio, sess), 0);
  assert_true(rudp_tls_session_is_complete(sess));
  sess_to_raw(sess, rbio);
  assert_int_equal(SSL_do_handshake(raw), 1);
  /* Session tickets are fine. */
  assert_int_equal(raw_to_sess(wbio, sess), 0);
  assert_int_equal(SSL_write(raw, "hi", 2), 2);
  assert_int_equal(raw_to_sess(wbio, sess), RUDP_ERR_CRYPTO);
  assert_int_equal(rudp_tls_session_alert(sess), 10);
  assert_string_equal(rudp_tls_session_reason(sess),
                      "peer sent application data over TLS");
  assert_false(rudp_tls_session_is_complete(sess));
  SSL_free(raw);
  rudp_tls_session_del(sess);
  rudp_tls_ctx_free(cctx);
}

/* ------------------------------------------------------------ memory */

/*
 * Live heap, counted: OpenSSL's through CRYPTO_set_mem_functions (set in
 * main before any OpenSSL call), librudp's through a byte-counting
 * rudp_mem per connection.  A header before each block remembers its
 * size.
 */
typedef struct mhdr {
  size_t size;
  size_t pad; /* keeps the block 16-byte aligned */
} mhdr;

static int64_t g_ossl_bytes;

static void *counted_malloc(size_t size, int64_t *bytes) {
  mhdr *h = malloc(sizeof(*h) + size);
  if (h == NULL) {
    return NULL;
  }
  h->size = size;
  *bytes += (int64_t)size;
  return h + 1;
}

static void counted_free(void *p, int64_t *bytes) {
  mhdr *h;
  if (p == NULL) {
    return;
  }
  h = (mhdr *)p - 1;
  *bytes -= (int64_t)h->size;
  free(h);
}

static void *counted_realloc(void *p, size_t size, int64_t *bytes) {
  void *q;
  if (p == NULL) {
    return counted_malloc(size, bytes);
  }
  q = counted_malloc(size, bytes);
  if (q != NULL) {
    size_t old = ((mhdr *)p - 1)->size;
    memcpy(q, p, old < size ? old : size);
    counted_free(p, bytes);
  }
  return q;
}

static void *ossl_malloc(size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  return counted_malloc(n, &g_ossl_bytes);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  return counted_realloc(p, n, &g_ossl_bytes);
}

static void ossl_free(void *p, const char *file, int line) {
  (void)file;
  (void)line;
  counted_free(p, &g_ossl_bytes);
}

/* bmem is a rudp_mem counting live bytes. */
typedef struct bmem {
  rudp_mem mem;
  int64_t bytes;
} bmem;

static void *bm_malloc(size_t n, void *ud) {
  return counted_malloc(n, &((bmem *)ud)->bytes);
}

static void bm_free(void *p, void *ud) {
  counted_free(p, &((bmem *)ud)->bytes);
}

static void *bm_calloc(size_t n, size_t size, void *ud) {
  void *p = size != 0 && n > SIZE_MAX / size
                ? NULL
                : counted_malloc(n * size, &((bmem *)ud)->bytes);
  if (p != NULL) {
    memset(p, 0, n * size);
  }
  return p;
}

static void *bm_realloc(void *p, size_t n, void *ud) {
  return counted_realloc(p, n, &((bmem *)ud)->bytes);
}

static void bmem_init(bmem *m) {
  m->mem.user_data = m;
  m->mem.malloc = bm_malloc;
  m->mem.free = bm_free;
  m->mem.calloc = bm_calloc;
  m->mem.realloc = bm_realloc;
  m->bytes = 0;
}

/* ------------------------------------------------------------ connections */

/*
 * cpair is a client and a server connection exchanging datagrams in
 * memory, 5 ms one way, on a simulated clock.  The server is created when
 * the first CONNECT arrives.  |drop| (may be NULL) sees each datagram and
 * returns nonzero to lose it.
 */
#define CP_MAXQ 256
#define CP_DELAY (5 * RUDP_MILLISECONDS)
#define CP_T0 (1000 * RUDP_SECONDS)

typedef struct cp_dgram {
  rudp_tstamp at;
  size_t len;
  uint8_t data[1500];
} cp_dgram;

typedef struct cpair {
  rudp_conn *c, *s;
  bmem cm, sm;
  rudp_settings cs, ss;
  rudp_tstamp now;
  /* q[0]: client to server, q[1]: server to client, in arrival order. */
  cp_dgram *q[2];
  size_t qlen[2];
  int (*drop)(struct cpair *p, int way, const uint8_t *data, size_t len);
  /* drop_state, mark: the drop function's own. */
  int drop_state;
  rudp_tstamp mark;
  int c_done, s_done;
  int c_closed, s_closed;
  int c_error, s_error;
  /* rx: what each side read on stream 0 (client: what the server wrote). */
  uint8_t rx[2][4096];
  size_t rxlen[2];
} cpair;

static cpair *g_cp;

static int cp_handshake_completed(rudp_conn *conn, void *ud) {
  (void)ud;
  if (conn == g_cp->c) {
    g_cp->c_done = 1;
  } else {
    g_cp->s_done = 1;
  }
  return 0;
}

static int cp_stream_readable(rudp_conn *conn, int64_t id, void *ud) {
  int k = conn == g_cp->c ? 0 : 1;
  int fin = 0;
  rudp_ssize n;

  (void)ud;
  do {
    size_t room = sizeof(g_cp->rx[k]) - g_cp->rxlen[k];
    n = rudp_conn_stream_read(conn, id, g_cp->rx[k] + g_cp->rxlen[k], room,
                              &fin);
    if (n > 0) {
      g_cp->rxlen[k] += (size_t)n;
    }
  } while (n > 0 && !fin);
  return 0;
}

static void cp_closed(rudp_conn *conn, int error, void *ud) {
  (void)ud;
  if (conn == g_cp->c) {
    g_cp->c_closed = 1;
    g_cp->c_error = error;
  } else {
    g_cp->s_closed = 1;
    g_cp->s_error = error;
  }
}

static const rudp_callbacks cp_callbacks = {
    cp_handshake_completed,
    NULL,
    cp_stream_readable,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    cp_closed,
};

static void cp_cid(rudp_cid *cid, uint8_t seed) {
  size_t i;

  cid->datalen = 8;
  for (i = 0; i < 8; ++i) {
    cid->data[i] = (uint8_t)(seed * 29 + i * 11 + 3);
  }
}

/* cp_new makes a pair in TLS mode with |sctx| and |cctx| (the client
 * names "localhost") and starts the client. */
static cpair *cp_new(rudp_tls_ctx *sctx, rudp_tls_ctx *cctx) {
  cpair *p = calloc(1, sizeof(*p));
  rudp_cid dcid, scid;

  assert_non_null(p);
  p->q[0] = calloc(CP_MAXQ, sizeof(cp_dgram));
  p->q[1] = calloc(CP_MAXQ, sizeof(cp_dgram));
  assert_non_null(p->q[0]);
  assert_non_null(p->q[1]);
  bmem_init(&p->cm);
  bmem_init(&p->sm);
  rudp_settings_default(&p->cs);
  rudp_settings_default(&p->ss);
  p->cs.tls = cctx;
  p->cs.tls_server_name = "localhost";
  p->ss.tls = sctx;
  p->now = CP_T0;
  g_cp = p;
  cp_cid(&dcid, 1);
  cp_cid(&scid, 2);
  assert_int_equal(rudp_conn_client_new(&p->c, &dcid, &scid, &p->cs,
                                        &cp_callbacks, &p->cm.mem, NULL,
                                        p->now),
                   0);
  return p;
}

static void cp_del(cpair *p) {
  rudp_conn_del(p->c);
  rudp_conn_del(p->s);
  /* Every byte either connection allocated is back. */
  assert_int_equal(p->cm.bytes, 0);
  assert_int_equal(p->sm.bytes, 0);
  free(p->q[0]);
  free(p->q[1]);
  free(p);
  g_cp = NULL;
}

/* cp_flush sends what both sides have to send now. */
static void cp_flush(cpair *p) {
  int way;

  for (way = 0; way < 2; ++way) {
    rudp_conn *conn = way == 0 ? p->c : p->s;
    uint8_t buf[1500];
    rudp_ssize n;

    if (conn == NULL) {
      continue;
    }
    while ((n = rudp_conn_write_pkt(conn, buf, sizeof(buf), p->now)) > 0) {
      cp_dgram *d;
      if (p->drop != NULL && p->drop(p, way, buf, (size_t)n)) {
        continue;
      }
      assert_true(p->qlen[way] < CP_MAXQ);
      d = &p->q[way][p->qlen[way]++];
      d->at = p->now + CP_DELAY;
      d->len = (size_t)n;
      memcpy(d->data, buf, (size_t)n);
    }
    assert_int_equal(n, 0);
  }
}

static void cp_deliver(cpair *p, int way, const cp_dgram *d) {
  if (way == 0) {
    if (p->s == NULL) {
      rudp_pkt_hd hd;
      rudp_cid scid;
      if (rudp_pkt_decode_hd(&hd, d->data, d->len, 8) < 0 ||
          hd.type != RUDP_PKT_CONNECT) {
        return;
      }
      cp_cid(&scid, 3);
      assert_int_equal(rudp_conn_server_new(&p->s, &hd.scid, &hd.dcid, &scid,
                                            &p->ss, &cp_callbacks, &p->sm.mem,
                                            NULL, p->now),
                       0);
    }
    assert_true(rudp_conn_read_pkt(p->s, d->data, d->len, p->now) >= 0);
  } else {
    assert_true(rudp_conn_read_pkt(p->c, d->data, d->len, p->now) >= 0);
  }
}

/* cp_step handles the next event before |limit|; returns 0 if none. */
static int cp_step(cpair *p, rudp_tstamp limit) {
  rudp_tstamp t = RUDP_TSTAMP_MAX;
  int way;

  cp_flush(p);
  for (way = 0; way < 2; ++way) {
    if (p->qlen[way] > 0 && p->q[way][0].at < t) {
      t = p->q[way][0].at;
    }
  }
  if (p->c != NULL) {
    t = rudp_min(t, rudp_conn_get_expiry(p->c));
  }
  if (p->s != NULL) {
    t = rudp_min(t, rudp_conn_get_expiry(p->s));
  }
  if (t > limit) {
    p->now = limit;
    return 0;
  }
  if (t > p->now) {
    p->now = t;
  }
  for (way = 0; way < 2; ++way) {
    while (p->qlen[way] > 0 && p->q[way][0].at <= p->now) {
      cp_dgram d = p->q[way][0];
      memmove(p->q[way], p->q[way] + 1, --p->qlen[way] * sizeof(cp_dgram));
      cp_deliver(p, way, &d);
    }
  }
  if (p->c != NULL && rudp_conn_get_expiry(p->c) <= p->now) {
    assert_int_equal(rudp_conn_handle_expiry(p->c, p->now), 0);
  }
  if (p->s != NULL && rudp_conn_get_expiry(p->s) <= p->now) {
    assert_int_equal(rudp_conn_handle_expiry(p->s, p->now), 0);
  }
  return 1;
}

/* cp_run runs the pair for |d| of simulated time. */
static void cp_run(cpair *p, rudp_duration d) {
  rudp_tstamp end = p->now + d;
  int guard = 0;

  while (cp_step(p, end)) {
    assert_true(++guard < 100000);
  }
  cp_flush(p);
}

/* cp_settle connects and runs until the handshake is over on both sides
 * (HANDSHAKE_DONE acknowledged, the tickets too): the pair is idle. */
static void cp_settle(cpair *p) {
  cp_run(p, 2 * RUDP_SECONDS);
  assert_true(p->c_done);
  assert_true(p->s_done);
  assert_false(p->c_closed);
  assert_false(p->s_closed);
  assert_true(p->c->flags & RUDP_CONN_FLAG_CONFIRMED);
}

/* cp_echo has the client send |msg| on a new stream, the server send it
 * back, and checks both arrived. */
static void cp_echo(cpair *p, const char *msg) {
  size_t len = strlen(msg);
  int64_t id;

  p->rxlen[0] = p->rxlen[1] = 0;
  assert_int_equal(rudp_conn_open_stream(p->c, 1, &id), 0);
  assert_int_equal(
      rudp_conn_stream_write(p->c, id, (const uint8_t *)msg, len, 0),
      (rudp_ssize)len);
  cp_run(p, 200 * RUDP_MILLISECONDS);
  assert_int_equal(p->rxlen[1], len);
  assert_memory_equal(p->rx[1], msg, len);
  assert_int_equal(rudp_conn_stream_write(p->s, id, p->rx[1], len, 1),
                   (rudp_ssize)len);
  cp_run(p, 200 * RUDP_MILLISECONDS);
  assert_int_equal(p->rxlen[0], len);
  assert_memory_equal(p->rx[0], msg, len);
}

/* ------------------------------------------------------------ release */

/* step moves |from|'s pending output to |to| (one flight); returns the
 * feed result. */
static int step(rudp_tls_session *from, rudp_tls_session *to) {
  size_t moved = 0;
  return move(from, to, &moved);
}

/*
 * After release a session keeps what get_info reports and nothing of the
 * handshake: no SSL (OpenSSL's heap shrinks by the SSL object at least),
 * no parameters, no secrets, no output; what is fed is ignored.
 */
static void test_rudp_tls_session_release(void **state) {
  rudp_tls_ctx *sctx = server_ctx_files(leaf_pem, leaf_key, "rudp-test", NULL);
  rudp_tls_ctx *cctx;
  rudp_tls_config cfg;
  rudp_tls_session *c, *s;
  rudp_tls_info before, after;
  uint8_t buf[4096], tx[RUDP_TLS_SECRETLEN], rx[RUDP_TLS_SECRETLEN];
  rudp_aead_alg alg;
  size_t n;
  int64_t o;

  (void)state;
  rudp_tls_config_default(&cfg);
  cfg.ca_file = ca_pem;
  cfg.alpn = "rudp-test";
  cfg.session_cache = 0;
  assert_int_equal(rudp_tls_ctx_new(&cctx, &cfg, NULL, 0), 0);
  c = new_client(cctx, "localhost");
  s = new_server(sctx);

  /* Not before the handshake completed. */
  assert_int_equal(rudp_tls_session_release(c, 0), 0);
  assert_int_equal(rudp_tls_session_release(s, 0), 0);
  assert_int_equal(step(c, s), 0);
  assert_int_equal(step(s, c), 0);
  assert_true(rudp_tls_session_is_complete(c));
  assert_int_equal(rudp_tls_session_release(s, 0), 0);
  /* The client's Finished makes the server write its ticket: not
   * before that output is taken. */
  assert_int_equal(step(c, s), 0);
  assert_true(rudp_tls_session_is_complete(s));
  assert_int_equal(rudp_tls_session_release(s, 0), 0);
  assert_false(rudp_tls_session_is_released(s));
  memset(&before, 0, sizeof(before));
  memset(&after, 0, sizeof(after));
  rudp_tls_session_get_info(s, &before);
  n = rudp_tls_session_read_output(s, buf, sizeof(buf));
  assert_in_range(n, 100, 1000); /* one NewSessionTicket */
  o = g_ossl_bytes;
  assert_int_equal(rudp_tls_session_release(s, 0), 1);
  assert_true(rudp_tls_session_is_released(s));
  /* The SSL object alone is over 6 KB. */
  assert_true(o - g_ossl_bytes > 6000);
  assert_int_equal(rudp_tls_session_release(s, 0), 1); /* idempotent */
  rudp_tls_session_get_info(s, &after);
  assert_memory_equal(&before, &after, sizeof(before));
  assert_int_equal(after.handshake_done, 1);
  assert_string_equal(after.cipher, "TLS_AES_256_GCM_SHA384");
  assert_string_equal(after.alpn, "rudp-test");
  assert_string_equal(after.peer_fingerprint, "");
  assert_true(rudp_tls_session_is_complete(s));
  assert_null(rudp_tls_session_peer_tp(s, &n));
  assert_int_equal(n, 0);
  assert_int_equal(rudp_tls_session_get_secrets(s, tx, rx, &alg),
                   RUDP_ERR_INVALID_STATE);
  assert_int_equal(rudp_tls_session_read_output(s, buf, sizeof(buf)), 0);
  assert_int_equal(rudp_tls_session_set_local_tp(s, server_tp, 4),
                   RUDP_ERR_INVALID_STATE);
  memset(buf, 0x17, 64);
  assert_int_equal(rudp_tls_session_feed(s, buf, 64), 0);
  assert_string_equal(rudp_tls_session_reason(s), "");

  /* A client that keeps no tickets is done at once, even with CRYPTO data
   * buffered; the ticket arriving later is ignored. */
  memset(&before, 0, sizeof(before));
  memset(&after, 0, sizeof(after));
  rudp_tls_session_get_info(c, &before);
  assert_string_equal(before.alpn, "rudp-test");
  assert_int_equal(strlen(before.peer_fingerprint), 95);
  o = g_ossl_bytes;
  assert_int_equal(rudp_tls_session_release(c, 1), 1);
  /* The SSL and the server's certificate. */
  assert_true(o - g_ossl_bytes > 8000);
  assert_int_equal(rudp_tls_session_feed(c, buf, n), 0);
  rudp_tls_session_get_info(c, &after);
  assert_memory_equal(&before, &after, sizeof(before));

  rudp_tls_session_del(c);
  rudp_tls_session_del(s);
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

/*
 * A client with a session cache waits for a ticket when part of one is
 * here (buffered by the caller, or a partial record in TLS), and releases
 * once it arrived (the next connection resumes) or when nothing of one is
 * pending (a late ticket is then ignored: the next one does not resume).
 */
static void test_rudp_tls_session_release_ticket(void **state) {
  rudp_tls_ctx *sctx = server_ctx(), *cctx = client_ctx_ca(ca_pem);
  rudp_tls_session *c, *s;
  rudp_tls_info info;
  uint8_t ticket[4096];
  size_t n;
  int round;

  (void)state;
  for (round = 0; round < 2; ++round) {
    c = new_client(cctx, "localhost");
    s = new_server(sctx);
    assert_int_equal(step(c, s), 0);
    assert_int_equal(step(s, c), 0);
    assert_int_equal(step(c, s), 0);
    n = rudp_tls_session_read_output(s, ticket, sizeof(ticket));
    assert_true(n > 20);
    assert_int_equal(rudp_tls_session_release(s, 0), 1);
    /* Round 1 uses the ticket the resumed connection of round 0 left. */
    rudp_tls_session_get_info(c, &info);
    assert_int_equal(info.resumed, round);
    if (round == 0) {
      /* CRYPTO bytes held out of order by the caller: wait. */
      assert_int_equal(rudp_tls_session_release(c, 1), 0);
      /* A partial record inside TLS: wait. */
      assert_int_equal(rudp_tls_session_feed(c, ticket, 20), 0);
      assert_int_equal(rudp_tls_session_release(c, 0), 0);
      assert_false(rudp_tls_session_is_released(c));
      assert_int_equal(rudp_tls_session_feed(c, ticket + 20, n - 20), 0);
      /* The ticket is in: done, even with more bytes buffered. */
      assert_int_equal(rudp_tls_session_release(c, 1), 1);
    } else {
      /* Nothing of a ticket here: done; the ticket comes too late. */
      assert_int_equal(rudp_tls_session_release(c, 0), 1);
      assert_int_equal(rudp_tls_session_feed(c, ticket, n), 0);
    }
    rudp_tls_session_del(c);
    rudp_tls_session_del(s);

    c = new_client(cctx, "localhost");
    s = new_server(sctx);
    handshake_ok(c, s);
    rudp_tls_session_get_info(c, &info);
    assert_int_equal(info.resumed, round == 0);
    rudp_tls_session_del(c);
    rudp_tls_session_del(s);
  }

  /* A failed session is never released and keeps its reason. */
  c = new_client(cctx, "::1");
  s = new_server(sctx);
  assert_int_equal(pump(c, s).crv, RUDP_ERR_TLS_NAME_MISMATCH);
  assert_int_equal(rudp_tls_session_release(c, 0), 0);
  assert_string_equal(rudp_tls_session_reason(c),
                      "certificate verify failed: IP address mismatch");
  rudp_tls_session_del(c);
  rudp_tls_session_del(s);
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

/* cp_assert_released checks that |conn| kept nothing of its handshake: no SSL,
 * no CRYPTO receive buffer, no send-buffer ring, no chunk. */
static void cp_assert_released(const rudp_conn *conn) {
  assert_true(rudp_tls_session_is_released(conn->tls));
  assert_null(conn->crypto_rx.buf);
  assert_null(conn->crypto_tx.segs);
  assert_int_equal(rudp_sbuf_unacked(&conn->crypto_tx), 0);
  assert_int_equal(conn->chunks.nblocks, 0);
}

/* The per-connection bound of docs/PERFORMANCE.md (issue 8). */
#define IDLE_TLS_MAX 16384

/*
 * Two connections, confirmed and idle, keep no OpenSSL session, no CRYPTO
 * buffers, and at most 16 KiB each (librudp's heap and OpenSSL's);
 * rudp_conn_get_tls_info still reports the handshake, data flows both
 * ways and a key update works.
 */
static void test_rudp_tls_session_conn_release(void **state) {
  rudp_tls_ctx *sctx = server_ctx_files(leaf_pem, leaf_key, "rudp-test", NULL);
  rudp_tls_ctx *cctx;
  rudp_tls_config cfg;
  rudp_tls_info ci, si;
  char fp[96];
  cpair *p;
  int64_t o0, o1;

  (void)state;
  rudp_tls_config_default(&cfg);
  cfg.ca_file = ca_pem;
  cfg.alpn = "rudp-test";
  assert_int_equal(rudp_tls_ctx_new(&cctx, &cfg, NULL, 0), 0);
  assert_int_equal(rudp_tls_ctx_get_fingerprint(sctx, fp, sizeof(fp)), 0);

  o0 = g_ossl_bytes;
  p = cp_new(sctx, cctx);
  cp_settle(p);
  o1 = g_ossl_bytes;
  cp_assert_released(p->c);
  cp_assert_released(p->s);
  rudp_conn_get_tls_info(p->c, &ci);
  rudp_conn_get_tls_info(p->s, &si);
  assert_int_equal(ci.enabled, 1);
  assert_int_equal(ci.handshake_done, 1);
  assert_int_equal(si.handshake_done, 1);
  assert_int_equal(ci.resumed, 0);
  assert_int_equal(si.resumed, 0);
  assert_string_equal(ci.cipher, "TLS_AES_256_GCM_SHA384");
  assert_string_equal(si.cipher, "TLS_AES_256_GCM_SHA384");
  assert_string_equal(ci.alpn, "rudp-test");
  assert_string_equal(si.alpn, "rudp-test");
  assert_string_equal(ci.peer_fingerprint, fp);
  assert_string_equal(si.peer_fingerprint, "");
  assert_int_equal(ci.key_updates, 0);
  print_message("idle TLS connection: client %lld + server %lld B librudp, "
                "%lld B OpenSSL for both (the client's ticket cached in its "
                "context included)\n",
                (long long)p->cm.bytes, (long long)p->sm.bytes,
                (long long)(o1 - o0));

  cp_echo(p, "after the handshake");
  assert_int_equal(rudp_conn_update_key(p->c), 0);
  cp_echo(p, "with the next keys");
  rudp_conn_get_tls_info(p->c, &ci);
  rudp_conn_get_tls_info(p->s, &si);
  assert_int_equal(ci.key_updates, 1);
  assert_int_equal(si.key_updates, 1);
  assert_int_equal(ci.key_phase, 1);
  assert_int_equal(si.key_phase, 1);
  assert_false(p->c_closed);
  assert_false(p->s_closed);
  cp_del(p);

  /* Memory: librudp's heap per side, plus half of what OpenSSL holds for
   * the pair (measured against a client without a cache, whose context
   * then holds nothing that outlives the connection). */
  rudp_tls_ctx_free(cctx);
  cfg.session_cache = 0;
  assert_int_equal(rudp_tls_ctx_new(&cctx, &cfg, NULL, 0), 0);
  o0 = g_ossl_bytes;
  p = cp_new(sctx, cctx);
  cp_settle(p);
  o1 = g_ossl_bytes - o0;
  cp_assert_released(p->c);
  cp_assert_released(p->s);
  print_message("per connection: client %lld B, server %lld B (OpenSSL "
                "%lld B of each)\n",
                (long long)(p->cm.bytes + o1 / 2),
                (long long)(p->sm.bytes + o1 / 2), (long long)(o1 / 2));
  assert_true(p->cm.bytes + o1 / 2 <= IDLE_TLS_MAX);
  assert_true(p->sm.bytes + o1 / 2 <= IDLE_TLS_MAX);
  /* What is left of OpenSSL is the packet protection's cipher contexts,
   * no SSL (over 6 KB alone). */
  assert_true(o1 / 2 < 6000);
  cp_del(p);
  /* Nothing of OpenSSL outlives the connections. */
  assert_int_equal(g_ossl_bytes, o0);

  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

/* Resumption still works: the client keeps its ticket before it lets go
 * of TLS, and the resumed connections report it after release. */
static void test_rudp_tls_session_conn_resumption(void **state) {
  rudp_tls_ctx *sctx = server_ctx(), *cctx = client_ctx_ca(ca_pem);
  rudp_tls_info ci, si;
  cpair *p;
  int i;

  (void)state;
  for (i = 0; i < 3; ++i) {
    p = cp_new(sctx, cctx);
    cp_settle(p);
    cp_assert_released(p->c);
    cp_assert_released(p->s);
    rudp_conn_get_tls_info(p->c, &ci);
    rudp_conn_get_tls_info(p->s, &si);
    assert_int_equal(ci.resumed, i > 0);
    assert_int_equal(si.resumed, i > 0);
    assert_int_equal(strlen(ci.peer_fingerprint), i > 0 ? 0 : 95);
    cp_echo(p, "resumed or not");
    cp_del(p);
  }
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

/* drop_ticket_pkt loses the server's second short datagram of regular
 * size once it is established (PMTU probes are larger).  With 8 tickets
 * (2 KB) the first carries the first tickets and HANDSHAKE_DONE (CRYPTO
 * goes before control frames), the second the other tickets: they reach
 * the client again after it is confirmed. */
static int drop_ticket_pkt(cpair *p, int way, const uint8_t *data, size_t len) {
  rudp_pkt_hd hd;

  if (way != 1 || rudp_conn_get_state(p->s) != RUDP_CONN_STATE_ESTABLISHED ||
      rudp_pkt_decode_hd(&hd, data, len, 8) < 0 || hd.type != RUDP_PKT_SHORT ||
      len > 1200) {
    return 0;
  }
  return ++p->drop_state == 2;
}

/*
 * Session tickets that arrive after HANDSHAKE_DONE: the client, with a
 * session cache or not, has let go of TLS when confirmed (it had a ticket
 * by then, or keeps none), ignores them and acknowledges them all the same
 * (the server's CRYPTO ends up all acknowledged, its chunk freed); the
 * connection carries on, and the ticket that came in time serves the next
 * connection.
 */
static void test_rudp_tls_session_conn_late_ticket(void **state) {
  rudp_tls_config cfg;
  rudp_tls_ctx *sctx = NULL, *cctx = NULL;
  rudp_tls_info info;
  cpair *p;
  int cache, guard;

  (void)state;
  rudp_tls_config_default(&cfg);
  cfg.server = 1;
  cfg.cert_file = leaf_pem;
  cfg.key_file = leaf_key;
  cfg.tickets = 8;
  assert_int_equal(rudp_tls_ctx_new(&sctx, &cfg, NULL, 0), 0);
  for (cache = 0; cache < 2; ++cache) {
    rudp_tls_config_default(&cfg);
    cfg.ca_file = ca_pem;
    cfg.session_cache = cache;
    assert_int_equal(rudp_tls_ctx_new(&cctx, &cfg, NULL, 0), 0);
    p = cp_new(sctx, cctx);
    p->drop = drop_ticket_pkt;
    for (guard = 0; !(p->c->flags & RUDP_CONN_FLAG_CONFIRMED); ++guard) {
      assert_true(guard < 1000);
      assert_true(cp_step(p, p->now + RUDP_SECONDS));
    }
    /* Confirmed, released, with tickets still on their way. */
    assert_true(p->drop_state >= 2);
    assert_true(rudp_tls_session_is_released(p->c->tls));
    assert_null(p->c->crypto_rx.buf);
    assert_true(rudp_sbuf_unacked(&p->s->crypto_tx) > 0);
    cp_settle(p);
    cp_assert_released(p->c);
    cp_assert_released(p->s);
    cp_echo(p, "tickets or not");
    cp_del(p);

    p = cp_new(sctx, cctx);
    cp_settle(p);
    rudp_conn_get_tls_info(p->c, &info);
    assert_int_equal(info.resumed, cache);
    cp_del(p);
    rudp_tls_ctx_free(cctx);
  }
  rudp_tls_ctx_free(sctx);
}

/* drop_server_early loses every server datagram for 300 ms after it is
 * established, and counts the client's HANDSHAKE packets sent meanwhile
 * once the server has released TLS (its Finished again, on a PTO). */
static int drop_server_early(cpair *p, int way, const uint8_t *data,
                             size_t len) {
  rudp_pkt_hd hd;

  if (p->s == NULL ||
      rudp_conn_get_state(p->s) != RUDP_CONN_STATE_ESTABLISHED) {
    return 0;
  }
  if (p->mark == 0) {
    p->mark = p->now;
  }
  if (way == 0) {
    if (rudp_pkt_decode_hd(&hd, data, len, 8) >= 0 &&
        hd.type == RUDP_PKT_HANDSHAKE &&
        rudp_tls_session_is_released(p->s->tls)) {
      ++p->drop_state;
    }
    return 0;
  }
  return p->now < p->mark + 300 * RUDP_MILLISECONDS;
}

/* The client's CRYPTO (its Finished sent again) reaching a server that
 * released TLS is ignored: no close, the connection works. */
static void test_rudp_tls_session_conn_late_finished(void **state) {
  rudp_tls_ctx *sctx = server_ctx(), *cctx = client_ctx_ca(ca_pem);
  cpair *p;

  (void)state;
  p = cp_new(sctx, cctx);
  p->drop = drop_server_early;
  cp_settle(p);
  assert_true(p->drop_state >= 1);
  cp_assert_released(p->c);
  cp_assert_released(p->s);
  cp_echo(p, "late Finished");
  cp_del(p);
  rudp_tls_ctx_free(cctx);
  rudp_tls_ctx_free(sctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_tls_session_ca_dns_name),
      cmocka_unit_test(test_rudp_tls_session_ca_ip_name),
      cmocka_unit_test(test_rudp_tls_session_cipher_suites),
      cmocka_unit_test(test_rudp_tls_session_server_exports_early),
      cmocka_unit_test(test_rudp_tls_session_set_local_tp),
      cmocka_unit_test(test_rudp_tls_session_alpn),
      cmocka_unit_test(test_rudp_tls_session_unknown_ca),
      cmocka_unit_test(test_rudp_tls_session_self_signed),
      cmocka_unit_test(test_rudp_tls_session_name_mismatch),
      cmocka_unit_test(test_rudp_tls_session_expired),
      cmocka_unit_test(test_rudp_tls_session_pin),
      cmocka_unit_test(test_rudp_tls_session_pin_mismatch),
      cmocka_unit_test(test_rudp_tls_session_insecure),
      cmocka_unit_test(test_rudp_tls_session_config_errors),
      cmocka_unit_test(test_rudp_tls_session_api_misuse),
      cmocka_unit_test(test_rudp_tls_session_mode_mismatch),
      cmocka_unit_test(test_rudp_tls_session_garbage),
      cmocka_unit_test(test_rudp_tls_session_resumption),
      cmocka_unit_test(test_rudp_tls_session_no_resumption),
      cmocka_unit_test(test_rudp_tls_session_cache_eviction),
      cmocka_unit_test(test_rudp_tls_session_ctx_refcount),
      cmocka_unit_test(test_rudp_tls_session_missing_tp),
      cmocka_unit_test(test_rudp_tls_session_ephemeral_cert),
      cmocka_unit_test(test_rudp_tls_session_app_data),
      cmocka_unit_test(test_rudp_tls_session_release),
      cmocka_unit_test(test_rudp_tls_session_release_ticket),
      cmocka_unit_test(test_rudp_tls_session_conn_release),
      cmocka_unit_test(test_rudp_tls_session_conn_resumption),
      cmocka_unit_test(test_rudp_tls_session_conn_late_ticket),
      cmocka_unit_test(test_rudp_tls_session_conn_late_finished),
  };

  /* Before any other OpenSSL call, or OpenSSL refuses. */
  if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free)) {
    fprintf(stderr, "CRYPTO_set_mem_functions refused\n");
    return 1;
  }
  make_files();
  atexit(remove_files);
  return cmocka_run_group_tests_name("tls_session", tests, NULL, NULL);
}
