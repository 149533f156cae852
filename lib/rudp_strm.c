/*
 * One stream's state.
 */
#include "rudp_strm.h"

#include <string.h>

void rudp_strm_init(rudp_strm *strm, uint64_t id, int has_tx, int has_rx,
                    uint64_t tx_max, uint64_t rx_window,
                    uint64_t rx_max_window, rudp_pool *chunks,
                    rudp_sbuf_release_cb release, void *release_user_data,
                    const rudp_mem *mem, rudp_tstamp now) {
  memset(strm, 0, sizeof(*strm));
  strm->id = id;
  if (!has_tx) {
    strm->flags |= RUDP_STRM_FLAG_NO_TX;
  }
  if (!has_rx) {
    strm->flags |= RUDP_STRM_FLAG_NO_RX;
  }
  rudp_sbuf_init(&strm->tx, chunks, release, release_user_data, mem);
  rudp_fc_tx_init(&strm->tx_fc, tx_max);
  /* The reorder buffer never needs more than the window's ceiling: the
   * peer may not send beyond our advertised credit. */
  rudp_rob_init(&strm->rx, (size_t)rx_max_window, RUDP_ROB_DEFAULT_MAX_GAPS,
                mem);
  rudp_fc_rx_init(&strm->rx_fc, rx_window, rx_max_window, now);
}

void rudp_strm_free(rudp_strm *strm) {
  if (!strm) {
    return;
  }
  rudp_sbuf_free(&strm->tx);
  rudp_rob_free(&strm->rx);
}

int rudp_strm_tx_done(const rudp_strm *strm) {
  if (strm->flags & RUDP_STRM_FLAG_NO_TX) {
    return 1;
  }
  if (strm->flags & RUDP_STRM_FLAG_TX_RESET) {
    return (strm->flags & RUDP_STRM_FLAG_TX_RESET_ACKED) != 0;
  }
  return (strm->flags & RUDP_STRM_FLAG_TX_FIN_ACKED) &&
         rudp_sbuf_unacked(&strm->tx) == 0;
}

int rudp_strm_rx_done(const rudp_strm *strm) {
  if (strm->flags & RUDP_STRM_FLAG_NO_RX) {
    return 1;
  }
  return (strm->flags &
          (RUDP_STRM_FLAG_RX_FIN_READ | RUDP_STRM_FLAG_RX_RESET)) != 0;
}

int rudp_strm_tx_fin_pending(const rudp_strm *strm) {
  return (strm->flags & (RUDP_STRM_FLAG_TX_FIN | RUDP_STRM_FLAG_TX_FIN_SENT |
                         RUDP_STRM_FLAG_TX_RESET)) == RUDP_STRM_FLAG_TX_FIN &&
         strm->tx.sent == strm->tx_final;
}

int rudp_strm_tx_has_pending(const rudp_strm *strm) {
  if (strm->flags & (RUDP_STRM_FLAG_NO_TX | RUDP_STRM_FLAG_TX_RESET)) {
    return 0;
  }
  return rudp_sbuf_has_pending(&strm->tx) || rudp_strm_tx_fin_pending(strm);
}
