/*
 * One stream's state: the send side (send buffer, FIN, reset, the peer's
 * credit) and the receive side (reorder buffer, final size, our credit),
 * plus the links that put it on the connection's send and control queues.
 *
 * Stream IDs (docs/PROTOCOL.md, "Streams"): bit 0 is the initiator (0
 * client, 1 server), bit 1 the direction (0 bidirectional, 1
 * unidirectional); id >> 2 counts the streams of that kind.
 */
#ifndef RUDP_STRM_H
#define RUDP_STRM_H

#include <stdint.h>

#include <rudp/rudp.h>

#include "rudp_fc.h"
#include "rudp_rob.h"
#include "rudp_sbuf.h"

/* Flags of rudp_strm: bitwise OR of zero or more of these. */
/* The application ended the sending side (FIN queued at tx_final). */
#define RUDP_STRM_FLAG_TX_FIN 0x0001u
/* A frame carrying FIN is in flight or acknowledged. */
#define RUDP_STRM_FLAG_TX_FIN_SENT 0x0002u
/* FIN was acknowledged. */
#define RUDP_STRM_FLAG_TX_FIN_ACKED 0x0004u
/* The sending side was reset (RESET_STREAM). */
#define RUDP_STRM_FLAG_TX_RESET 0x0008u
/* The RESET_STREAM was acknowledged. */
#define RUDP_STRM_FLAG_TX_RESET_ACKED 0x0010u
/* The final size of the receiving side is known (FIN or reset seen). */
#define RUDP_STRM_FLAG_RX_FIN 0x0020u
/* The application read everything up to the final size. */
#define RUDP_STRM_FLAG_RX_FIN_READ 0x0040u
/* The peer reset its sending side. */
#define RUDP_STRM_FLAG_RX_RESET 0x0080u
/* This side sent STOP_SENDING: incoming data is discarded. */
#define RUDP_STRM_FLAG_RX_STOPPED 0x0100u
/* The application saw RUDP_ERR_WOULDBLOCK and waits for stream_writable. */
#define RUDP_STRM_FLAG_TX_WANT_WRITABLE 0x0200u
/* The stream has no sending side (peer's unidirectional stream). */
#define RUDP_STRM_FLAG_NO_TX 0x0400u
/* The stream has no receiving side (our unidirectional stream). */
#define RUDP_STRM_FLAG_NO_RX 0x0800u
/* The stream is finished and waits to be freed. */
#define RUDP_STRM_FLAG_CLOSED 0x1000u

/* Pending control frames of a stream: bitwise OR of these. */
#define RUDP_STRM_CTRL_RESET_STREAM 0x01u
#define RUDP_STRM_CTRL_STOP_SENDING 0x02u
#define RUDP_STRM_CTRL_MAX_STREAM_DATA 0x04u
#define RUDP_STRM_CTRL_STREAM_DATA_BLOCKED 0x08u

typedef struct rudp_strm rudp_strm;

struct rudp_strm {
  /* id is the stream ID. */
  uint64_t id;
  /* flags: bitwise OR of zero or more of RUDP_STRM_FLAG_*. */
  uint32_t flags;
  /* ctrl: bitwise OR of zero or more of RUDP_STRM_CTRL_*. */
  uint32_t ctrl;
  /* tx holds data written and not yet acknowledged. */
  rudp_sbuf tx;
  /* tx_fc is the peer's credit for this stream. */
  rudp_fc_tx tx_fc;
  /* tx_final is the final size once TX_FIN or TX_RESET is set. */
  uint64_t tx_final;
  /* tx_reset_code is the error code of our RESET_STREAM. */
  uint64_t tx_reset_code;
  /* rx reassembles received data. */
  rudp_rob rx;
  /* rx_fc is our credit for this stream. */
  rudp_fc_rx rx_fc;
  /* rx_final is the final size once RX_FIN is set. */
  uint64_t rx_final;
  /* rx_stop_code is the error code of our STOP_SENDING. */
  uint64_t rx_stop_code;
  /* sendq links the stream on the connection's queue of streams with data
   * to send; ctrlq on the queue of streams with control frames to send. */
  rudp_strm *sendq_next;
  rudp_strm *sendq_prev;
  rudp_strm *ctrlq_next;
  /* in_sendq / in_ctrlq are nonzero while on those queues. */
  uint8_t in_sendq;
  uint8_t in_ctrlq;
  /* closeq links finished streams waiting to be freed. */
  rudp_strm *closeq_next;
};

/* rudp_strm_is_bidi returns nonzero for a bidirectional stream ID. */
static inline int rudp_strm_is_bidi(uint64_t id) { return (id & 0x2) == 0; }

/* rudp_strm_is_server returns nonzero for a server-initiated stream ID. */
static inline int rudp_strm_is_server(uint64_t id) { return (id & 0x1) != 0; }

/*
 * rudp_strm_init initialises |strm| with ID |id|.  |has_tx| / |has_rx| say
 * which sides exist; |tx_max| is the peer's initial credit, |rx_window| and
 * |rx_max_window| our receive window and its ceiling; |chunks| is the
 * connection's chunk pool; |release| the referenced-data release callback
 * with |release_user_data| (the stream itself is passed as the ref owner by
 * the connection).
 */
void rudp_strm_init(rudp_strm *strm, uint64_t id, int has_tx, int has_rx,
                    uint64_t tx_max, uint64_t rx_window,
                    uint64_t rx_max_window, rudp_pool *chunks,
                    rudp_sbuf_release_cb release, void *release_user_data,
                    const rudp_mem *mem, rudp_tstamp now);

/* rudp_strm_free releases the stream's buffers (not |strm| itself). */
void rudp_strm_free(rudp_strm *strm);

/*
 * rudp_strm_tx_done returns nonzero when the sending side needs nothing
 * more: no sending side, FIN acknowledged with all data, or reset
 * acknowledged.
 */
int rudp_strm_tx_done(const rudp_strm *strm);

/*
 * rudp_strm_rx_done returns nonzero when the receiving side needs nothing
 * more: no receiving side, everything read through FIN, or reset by the
 * peer.
 */
int rudp_strm_rx_done(const rudp_strm *strm);

/*
 * rudp_strm_tx_fin_pending returns nonzero if a FIN must still be sent
 * (requested, every byte before it sent, not in flight or acknowledged).
 */
int rudp_strm_tx_fin_pending(const rudp_strm *strm);

/*
 * rudp_strm_tx_has_pending returns nonzero if the stream has stream data
 * or a FIN to send (ignoring flow control).
 */
int rudp_strm_tx_has_pending(const rudp_strm *strm);

#endif /* RUDP_STRM_H */
