/*
 * The TLS functions of a build without OpenSSL (configure
 * --without-openssl): every constructor fails with RUDP_ERR_TLS_UNAVAILABLE
 * and the rest are harmless no-ops, so the connection code and the tools
 * link unchanged and report the missing feature at run time.
 */
#include "rudp_macro.h"

#include <string.h>

#include <rudp/rudp_tls.h>

#include "rudp_tls.h"
#include "rudp_tls_openssl.h"

/* UNAVAILABLE is the errbuf text of every failing constructor. */
#define UNAVAILABLE "built without OpenSSL (configure --without-openssl)"

void rudp_tls_config_default(rudp_tls_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->session_cache = 1;
  cfg->tickets = 1;
}

int rudp_tls_ctx_new(rudp_tls_ctx **pctx, const rudp_tls_config *cfg,
                     char *errbuf, size_t errlen) {
  (void)cfg;
  if (pctx != NULL) {
    *pctx = NULL;
  }
  if (errbuf != NULL && errlen > 0) {
    size_t n = rudp_min(strlen(UNAVAILABLE), errlen - 1);
    memcpy(errbuf, UNAVAILABLE, n);
    errbuf[n] = '\0';
  }
  return RUDP_ERR_TLS_UNAVAILABLE;
}

rudp_tls_ctx *rudp_tls_ctx_ref(rudp_tls_ctx *ctx) { return ctx; }

void rudp_tls_ctx_free(rudp_tls_ctx *ctx) { (void)ctx; }

int rudp_tls_ctx_get_fingerprint(const rudp_tls_ctx *ctx, char *out,
                                 size_t outlen) {
  (void)ctx;
  if (out != NULL && outlen > 0) {
    out[0] = '\0';
  }
  return RUDP_ERR_INVALID_ARGUMENT;
}

int rudp_tls_available(void) { return 0; }

int rudp_tls_session_new(rudp_tls_session **psess, rudp_tls_ctx *ctx,
                         int server, const char *server_name,
                         const uint8_t *local_tp, size_t local_tplen,
                         const rudp_mem *mem) {
  (void)ctx;
  (void)server;
  (void)server_name;
  (void)local_tp;
  (void)local_tplen;
  (void)mem;
  if (psess != NULL) {
    *psess = NULL;
  }
  return RUDP_ERR_TLS_UNAVAILABLE;
}

void rudp_tls_session_del(rudp_tls_session *sess) { (void)sess; }

int rudp_tls_session_set_local_tp(rudp_tls_session *sess,
                                  const uint8_t *local_tp, size_t local_tplen) {
  (void)sess;
  (void)local_tp;
  (void)local_tplen;
  return RUDP_ERR_INVALID_STATE;
}

int rudp_tls_session_feed(rudp_tls_session *sess, const uint8_t *data,
                          size_t len) {
  (void)sess;
  (void)data;
  (void)len;
  return RUDP_ERR_TLS_UNAVAILABLE;
}

size_t rudp_tls_session_read_output(rudp_tls_session *sess, uint8_t *buf,
                                    size_t len) {
  (void)sess;
  (void)buf;
  (void)len;
  return 0;
}

int rudp_tls_session_is_complete(const rudp_tls_session *sess) {
  (void)sess;
  return 0;
}

int rudp_tls_session_release(rudp_tls_session *sess, int crypto_buffered) {
  (void)sess;
  (void)crypto_buffered;
  return 0;
}

int rudp_tls_session_is_released(const rudp_tls_session *sess) {
  (void)sess;
  return 0;
}

const uint8_t *rudp_tls_session_peer_tp(const rudp_tls_session *sess,
                                        size_t *plen) {
  (void)sess;
  if (plen != NULL) {
    *plen = 0;
  }
  return NULL;
}

int rudp_tls_session_get_secrets(rudp_tls_session *sess,
                                 uint8_t tx[RUDP_TLS_SECRETLEN],
                                 uint8_t rx[RUDP_TLS_SECRETLEN],
                                 rudp_aead_alg *palg) {
  (void)sess;
  (void)tx;
  (void)rx;
  (void)palg;
  return RUDP_ERR_INVALID_STATE;
}

uint8_t rudp_tls_session_alert(const rudp_tls_session *sess) {
  (void)sess;
  return 80; /* internal_error */
}

const char *rudp_tls_session_reason(const rudp_tls_session *sess) {
  (void)sess;
  return "";
}

void rudp_tls_session_get_info(const rudp_tls_session *sess,
                               rudp_tls_info *info) {
  (void)sess;
  info->handshake_done = 0;
  info->resumed = 0;
  info->cipher[0] = '\0';
  info->alpn[0] = '\0';
  info->peer_fingerprint[0] = '\0';
}

/* Packet protection needs OpenSSL's AEADs: without them no key is ever
 * installed (no session can produce secrets), so these only fail. */
int rudp_pp_init(rudp_pp *pp, rudp_aead_alg alg,
                 const uint8_t tx_secret[RUDP_TLS_SECRETLEN],
                 const uint8_t rx_secret[RUDP_TLS_SECRETLEN]) {
  (void)alg;
  (void)tx_secret;
  (void)rx_secret;
  memset(pp, 0, sizeof(*pp));
  return RUDP_ERR_INVALID_ARGUMENT;
}

void rudp_pp_free(rudp_pp *pp) {
  if (pp != NULL) {
    memset(pp, 0, sizeof(*pp));
  }
}

rudp_ssize rudp_pp_seal(rudp_pp *pp, uint8_t *pkt, size_t hdlen,
                        size_t payloadlen, uint64_t pn) {
  (void)pp;
  (void)pkt;
  (void)hdlen;
  (void)payloadlen;
  (void)pn;
  return RUDP_ERR_INTERNAL;
}

rudp_ssize rudp_pp_open(rudp_pp *pp, uint8_t *out, size_t outlen,
                        const uint8_t *pkt, size_t hdlen, size_t pktlen,
                        uint64_t pn, int key_phase) {
  (void)out;
  (void)outlen;
  (void)pkt;
  (void)hdlen;
  (void)pktlen;
  (void)pn;
  (void)key_phase;
  ++pp->auth_failures;
  return RUDP_ERR_INTEGRITY;
}

void rudp_pp_on_acked(rudp_pp *pp, uint64_t largest_acked) {
  (void)pp;
  (void)largest_acked;
}

int rudp_pp_can_update(const rudp_pp *pp) {
  (void)pp;
  return 0;
}

int rudp_pp_update(rudp_pp *pp) {
  (void)pp;
  return RUDP_ERR_INVALID_STATE;
}

int rudp_hkdf_expand_label(uint8_t *out, size_t outlen, const uint8_t *secret,
                           size_t secretlen, const char *label) {
  (void)out;
  (void)outlen;
  (void)secret;
  (void)secretlen;
  (void)label;
  return RUDP_ERR_INTERNAL;
}
