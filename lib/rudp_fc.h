/*
 * Flow control: the credit one side grants the other, per stream and per
 * connection (RFC 9000 §4).  The receiver advertises a maximum offset
 * (MAX_DATA / MAX_STREAM_DATA); the sender never sends beyond it.
 *
 * The receive window auto-tunes like Linux's TCP buffer autotuning: when
 * the application consumes a whole window in less than about two round
 * trips (the window, not the reader, is the bottleneck), the window doubles,
 * up to |max_window|.  Updates are sent once half the window is consumed, so
 * the peer receives new credit long before it runs dry.
 *
 * Every credit is clamped to RUDP_MAX_VARINT (2^62 - 1), the largest value
 * MAX_DATA can carry, so no sum of offsets here can overflow.
 */
#ifndef RUDP_FC_H
#define RUDP_FC_H

#include <rudp/rudp.h>

/* rudp_fc_tx is the sending side's view of the peer's credit. */
typedef struct rudp_fc_tx {
  /* max is the highest offset the peer allows (from its parameters and
   * MAX_DATA / MAX_STREAM_DATA frames; only ever increases). */
  uint64_t max;
  /* used is the highest offset sent so far. */
  uint64_t used;
  /* blocked_sent is the |max| for which a *_BLOCKED frame was already
   * queued (UINT64_MAX: none), so one is sent once per limit. */
  uint64_t blocked_sent;
} rudp_fc_tx;

/* rudp_fc_tx_init sets the initial credit |max|. */
void rudp_fc_tx_init(rudp_fc_tx *tx, uint64_t max);

/* rudp_fc_tx_avail returns how many more bytes may be sent. */
uint64_t rudp_fc_tx_avail(const rudp_fc_tx *tx);

/* rudp_fc_tx_consume records |n| new bytes sent (n <= avail). */
void rudp_fc_tx_consume(rudp_fc_tx *tx, uint64_t n);

/*
 * rudp_fc_tx_update raises the credit to |max| (ignored if not higher).
 * Returns 1 if the credit grew, 0 otherwise.
 */
int rudp_fc_tx_update(rudp_fc_tx *tx, uint64_t max);

/*
 * rudp_fc_tx_should_send_blocked returns nonzero if the sender is blocked
 * by this credit and has not yet said so for the current limit; it then
 * marks it said.
 */
int rudp_fc_tx_should_send_blocked(rudp_fc_tx *tx);

/* rudp_fc_rx is the receiving side's credit. */
typedef struct rudp_fc_rx {
  /* max is the highest offset advertised to the peer. */
  uint64_t max;
  /* highest is the highest offset the peer has sent (received). */
  uint64_t highest;
  /* consumed is the offset the application has read up to. */
  uint64_t consumed;
  /* window is the current window size; max_window its ceiling. */
  uint64_t window;
  uint64_t max_window;
  /* last_update_ts is when the last update was sent (for autotuning). */
  rudp_tstamp last_update_ts;
} rudp_fc_rx;

/*
 * rudp_fc_rx_init sets a window of |window| bytes (advertised max = window)
 * growing up to |max_window| (at least window).
 */
void rudp_fc_rx_init(rudp_fc_rx *rx, uint64_t window, uint64_t max_window,
                     rudp_tstamp now);

/*
 * rudp_fc_rx_on_recv records that the peer sent data up to offset |end|.
 * Returns 0, or RUDP_ERR_FLOW_CONTROL if |end| exceeds the advertised max.
 */
int rudp_fc_rx_on_recv(rudp_fc_rx *rx, uint64_t end);

/*
 * rudp_fc_rx_consume records that the application consumed |n| more bytes.
 */
void rudp_fc_rx_consume(rudp_fc_rx *rx, uint64_t n);

/*
 * rudp_fc_rx_should_update returns nonzero if a new credit should be sent:
 * less than half a window of credit remains beyond what was consumed
 * (2 * (max - consumed) < window, so a 1-byte window still asks once used
 * up).  Never once max has reached RUDP_MAX_VARINT: it cannot grow.
 */
int rudp_fc_rx_should_update(const rudp_fc_rx *rx);

/*
 * rudp_fc_rx_update computes and records the new credit to advertise
 * (consumed + window), first doubling the window (up to max_window) if the
 * previous update was less than 2 * |srtt| ago.  Returns the new max, which
 * is never lower than the previous one.
 */
uint64_t rudp_fc_rx_update(rudp_fc_rx *rx, rudp_duration srtt,
                           rudp_tstamp now);

#endif /* RUDP_FC_H */
