/*
 * Fuzz target: a client connection after a real handshake (lib/rudp_conn.c
 * through the public rudp_conn_* API).
 *
 * The handshake with a server connection in the same process is replayed
 * deterministically (fuzz_conn_init), then the input's records are fed to
 * the client as datagrams from the server: raw, with their CRCs
 * recomputed, or as payloads the harness wraps into valid short packets,
 * so that mutated frames reach the frame handlers instead of dying at the
 * integrity check.  Between records the fake clock advances and the
 * client's timers run; every datagram the client sends must decode.  At
 * the end the timers run until the client closes, and every allocation
 * must have been freed.
 *
 * Input: setup byte (FUZZ_CONN_SETUP_*), [N if FUZZ_CONN_SETUP_NOMEM],
 * then records (fuzz_harness.h).
 */
#include "fuzz_harness.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input in = {data, data + size};
  fuzz_conn *fc;
  uint8_t setup, nomem_at = 0, ctl;
  const uint8_t *rec;
  size_t len;

  if (size < 1) {
    return 0;
  }
  fc = calloc(1, sizeof(*fc));
  FUZZ_CHECK(fc != NULL);
  setup = fuzz_u8(&in);
  if (setup & FUZZ_CONN_SETUP_NOMEM) {
    nomem_at = fuzz_u8(&in);
  }
  fuzz_conn_init(fc, setup, nomem_at, 0);
  while (fuzz_record(&in, &ctl, &rec, &len)) {
    fuzz_conn_step(fc, ctl, rec, len);
  }
  fuzz_conn_finish(fc);
  free(fc);
  return 0;
}
