/*
 * Fuzz target: a listening endpoint in TLS mode (lib/rudp_endpoint.c, the
 * server side of lib/rudp_conn.c, and through them the TLS 1.3 handshake
 * of lib/rudp_tls_openssl.c: OpenSSL's ClientHello parsing, our
 * transport-parameter extension 0xff52, ALPN, then lib/rudp_tls.c's
 * packet protection).
 *
 * The same harness as fuzz_endpoint.c (fuzz_harness.h), with the server
 * context of a fixed certificate (fuzz_tls.h): CONNECT packets carry
 * arbitrary CRYPTO data, which reaches OpenSSL as a ClientHello.  The
 * reseal bit of a record fixes the CRC of long-header packets only (TLS
 * short packets carry an AEAD tag).  OpenSSL's randomness is the
 * harness's, reset for every input, so a seed recorded from a real TLS
 * client (gen_corpus) replays its whole session: the server's handshake
 * is the recorded one, the client's Finished verifies, and its protected
 * short packets open.  Invariants as in fuzz_endpoint.
 *
 * Input: setup byte (FUZZ_EP_SETUP_*), TLS setup byte (FUZZ_TLS_SUITE_MASK
 * and FUZZ_TLS_ALPN pick the server's context), [N if
 * FUZZ_EP_SETUP_NOMEM], then records (fuzz_harness.h).
 */
#include "fuzz_harness.h"
#include "fuzz_tls.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input in = {data, data + size};
  fuzz_ep *fe;
  uint8_t setup, tls, nomem_at = 0, ctl;
  const uint8_t *rec;
  size_t len;

  if (size < 2) {
    return 0;
  }
  fuzz_tls_init();
  fe = calloc(1, sizeof(*fe));
  FUZZ_CHECK(fe != NULL);
  setup = fuzz_u8(&in);
  tls = fuzz_u8(&in);
  if (setup & FUZZ_EP_SETUP_NOMEM) {
    nomem_at = fuzz_u8(&in);
  }
  fe->tls = fuzz_tls_server_ctx(tls);
  fe->tls_setup = tls;
  fuzz_ep_init(fe, setup, nomem_at);
  while (fuzz_record(&in, &ctl, &rec, &len)) {
    fuzz_ep_step(fe, ctl, rec, len);
  }
  fuzz_ep_finish(fe);
  free(fe);
  return 0;
}
