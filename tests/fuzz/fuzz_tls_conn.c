/*
 * Fuzz target: a client connection in TLS mode after a real TLS 1.3
 * handshake (lib/rudp_conn.c behind lib/rudp_tls.c's packet protection,
 * key updates, and lib/rudp_tls_openssl.c's post-handshake messages).
 *
 * Each input runs a handshake with a server connection in the same
 * process (OpenSSL's randomness is the harness's, reset for every input,
 * so it is the same handshake every time and the inputs stay
 * independent), clones the server's packet protection (fuzz_tls_peer)
 * and deletes the server.  The handshake being deterministic, only the
 * first input of each configuration runs the server: later ones replay
 * its datagrams to the client, which does its whole half of the
 * handshake every time (fuzz_tls_flight).  The records are then fed to
 * the client as in fuzz_conn, except that sealing means the server's real
 * keys: a RESEAL record is a short header and its plaintext, sealed by
 * the harness (the key phase bit may start a key update, or pick the
 * previous key for a packet delayed across one); a WRAP record is a
 * plaintext payload.  So mutated frames reach the frame handlers through
 * decryption.  A RAW record is fed as it is: a forgery, which must change
 * nothing (no packet accepted, no callback, pkts_bad_integrity counts a
 * short packet for the client's ID).  Every packet the client sends must
 * authenticate with the server's keys and decode.
 *
 * Input: setup byte (FUZZ_CONN_SETUP_*), TLS setup byte (FUZZ_TLS_*),
 * [N if FUZZ_CONN_SETUP_NOMEM], then records (fuzz_harness.h).
 */
#include "fuzz_harness.h"
#include "fuzz_tls.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input in = {data, data + size};
  fuzz_conn *fc;
  uint8_t setup, tls, nomem_at = 0, ctl;
  const uint8_t *rec;
  size_t len;

  if (size < 2) {
    return 0;
  }
  fuzz_tls_init();
  fc = calloc(1, sizeof(*fc));
  FUZZ_CHECK(fc != NULL);
  setup = fuzz_u8(&in);
  tls = fuzz_u8(&in);
  if (setup & FUZZ_CONN_SETUP_NOMEM) {
    nomem_at = fuzz_u8(&in);
  }
  fc->tls_setup = tls;
  fc->client_tls = fuzz_tls_client_ctx(tls);
  fc->server_tls = fuzz_tls_server_ctx(tls);
  if (tls & FUZZ_TLS_CLIENT_KEYUPDATE) {
    fc->client_key_update = FUZZ_TLS_KEYUPDATE_INTERVAL;
  }
  if (tls & FUZZ_TLS_SERVER_KEYUPDATE) {
    fc->server_key_update = FUZZ_TLS_KEYUPDATE_INTERVAL;
  }
  fuzz_conn_init(fc, setup, nomem_at, 0);
  while (fuzz_record(&in, &ctl, &rec, &len)) {
    fuzz_conn_step(fc, ctl, rec, len);
  }
  fuzz_conn_finish(fc);
  free(fc);
  return 0;
}
