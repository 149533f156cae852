/*
 * Flow-control credit (RFC 9000 section 4), both directions.
 *
 * Every offset and credit here is bounded by 2^62 - 1 (RUDP_MAX_VARINT, the
 * largest value MAX_DATA can carry), so sums of two of them cannot wrap a
 * uint64_t; results are clamped back to RUDP_MAX_VARINT.
 */
#include "rudp_fc.h"

#include <assert.h>

#include "rudp_macro.h"

/* ------------------------------------------------------------------ tx */

void rudp_fc_tx_init(rudp_fc_tx *tx, uint64_t max) {
  tx->max = rudp_min(max, RUDP_MAX_VARINT);
  tx->used = 0;
  tx->blocked_sent = UINT64_MAX;
}

uint64_t rudp_fc_tx_avail(const rudp_fc_tx *tx) {
  return tx->used >= tx->max ? 0 : tx->max - tx->used;
}

void rudp_fc_tx_consume(rudp_fc_tx *tx, uint64_t n) {
  assert(n <= rudp_fc_tx_avail(tx));

  tx->used += n;
}

int rudp_fc_tx_update(rudp_fc_tx *tx, uint64_t max) {
  max = rudp_min(max, RUDP_MAX_VARINT);

  /* MAX_DATA frames may arrive reordered: a smaller value than the one
   * already known is stale, never a reduction (RFC 9000 section 4.1). */
  if (max <= tx->max) {
    return 0;
  }

  tx->max = max;

  return 1;
}

int rudp_fc_tx_should_send_blocked(rudp_fc_tx *tx) {
  /* One DATA_BLOCKED per limit (RFC 9000 section 4.1): repeating it for the
   * same limit tells the peer nothing new. */
  if (rudp_fc_tx_avail(tx) != 0 || tx->blocked_sent == tx->max) {
    return 0;
  }

  tx->blocked_sent = tx->max;

  return 1;
}

/* ------------------------------------------------------------------ rx */

void rudp_fc_rx_init(rudp_fc_rx *rx, uint64_t window, uint64_t max_window,
                     rudp_tstamp now) {
  window = rudp_min(window, RUDP_MAX_VARINT);

  rx->max = window;
  rx->highest = 0;
  rx->consumed = 0;
  rx->window = window;
  rx->max_window = rudp_min(rudp_max(max_window, window), RUDP_MAX_VARINT);
  /* Counting from the start makes a fast first window (consumed within two
   * round trips of opening) grow the window like any later one. */
  rx->last_update_ts = now;
}

int rudp_fc_rx_on_recv(rudp_fc_rx *rx, uint64_t end) {
  if (end > rx->max) {
    return RUDP_ERR_FLOW_CONTROL;
  }

  rx->highest = rudp_max(rx->highest, end);

  return 0;
}

void rudp_fc_rx_consume(rudp_fc_rx *rx, uint64_t n) {
  /* The application can only read what arrived. */
  assert(n <= rx->highest - rx->consumed);

  rx->consumed += n;
}

int rudp_fc_rx_should_update(const rudp_fc_rx *rx) {
  uint64_t left;

  /* At the ceiling no update can raise the credit: asking for one would
   * only repeat the same MAX_DATA forever. */
  if (rx->max >= RUDP_MAX_VARINT) {
    return 0;
  }

  left = rx->consumed >= rx->max ? 0 : rx->max - rx->consumed;

  /* left < window / 2, written without the truncating division so that a
   * window of 1 byte still asks for an update once it is used up.  left <=
   * 2^62 - 1, so doubling it cannot wrap. */
  return 2 * left < rx->window;
}

uint64_t rudp_fc_rx_update(rudp_fc_rx *rx, rudp_duration srtt,
                           rudp_tstamp now) {
  rudp_duration two_srtt;
  uint64_t max;

  /* Autotuning: credit ran low again within two round trips of the last
   * update, so the peer was sending as fast as the window let it and the
   * reader kept up.  The window, not the reader, is the bottleneck: double
   * it, as Linux grows its TCP receive buffer toward the measured
   * bandwidth-delay product (DESIGN.md section 3). */
  two_srtt = srtt > UINT64_MAX / 2 ? UINT64_MAX : 2 * srtt;
  if (rx->window < rx->max_window && now >= rx->last_update_ts &&
      now - rx->last_update_ts < two_srtt) {
    /* window < max_window <= 2^62 - 1, so doubling cannot wrap. */
    rx->window = rudp_min(2 * rx->window, rx->max_window);
  }

  /* consumed <= highest <= max <= 2^62 - 1 and window <= 2^62 - 1: the sum
   * fits in 63 bits. */
  max = rudp_min(rx->consumed + rx->window, RUDP_MAX_VARINT);
  rx->max = rudp_max(rx->max, max);
  rx->last_update_ts = now;

  return rx->max;
}
