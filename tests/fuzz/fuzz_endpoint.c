/*
 * Fuzz target: a listening endpoint (lib/rudp_endpoint.c and, through it,
 * the server side of lib/rudp_conn.c), sans-I/O.
 *
 * The input's records are datagrams from four source addresses (two ports
 * of one IPv4 host, another IPv4 host, an IPv6 host), optionally with
 * their CRCs recomputed.  Between records the fake clock advances and the
 * endpoint's timers run; after each, the harness accepts established
 * connections (which echo what they read), may make them write or close,
 * and drains the endpoint's output, checking that it only ever sends to
 * addresses it heard from and that its limits hold.  At the end the
 * timers run out and every allocation must have been freed.
 *
 * Input: setup byte (FUZZ_EP_SETUP_*), [N if FUZZ_EP_SETUP_NOMEM], then
 * records (fuzz_harness.h).
 */
#include "fuzz_harness.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input in = {data, data + size};
  fuzz_ep *fe;
  uint8_t setup, nomem_at = 0, ctl;
  const uint8_t *rec;
  size_t len;

  if (size < 1) {
    return 0;
  }
  fe = calloc(1, sizeof(*fe));
  FUZZ_CHECK(fe != NULL);
  setup = fuzz_u8(&in);
  if (setup & FUZZ_EP_SETUP_NOMEM) {
    nomem_at = fuzz_u8(&in);
  }
  fuzz_ep_init(fe, setup, nomem_at);
  while (fuzz_record(&in, &ctl, &rec, &len)) {
    fuzz_ep_step(fe, ctl, rec, len);
  }
  fuzz_ep_finish(fe);
  free(fe);
  return 0;
}
