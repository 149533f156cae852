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

/* ------------------------------------------------------------ scheduler */

/*
 * The send scheduler decides which stream (or the datagram queue) fills
 * the next packet, after the control frames (RFC 9218 section 4
 * semantics, applied locally: nothing about priorities goes on the wire):
 *
 * - strictly by urgency: nothing of urgency u is sent while a member of
 *   a lower urgency value has something it may send now (a stream
 *   blocked by flow control is out of the scheduler);
 * - within one urgency, a round robin, one frame per turn: each
 *   incremental stream is one member, and so is the connection's datagram
 *   queue when its urgency is this one; the non-incremental streams of
 *   the urgency share one member, which serves them one at a time in
 *   stream-ID order (the lowest ID with data to send until it has
 *   nothing more, then the next).
 *
 * Costs: push and remove are O(1) for round-robin members and O(log n)
 * amortized for non-incremental streams (a pairing heap threaded through
 * the streams, no allocation); finding the member to serve is O(1) (a
 * bitmap of the non-empty urgencies).
 */

/* RUDP_SCHED_LEVELS is the number of urgencies (0 .. 7). */
#define RUDP_SCHED_LEVELS (RUDP_URGENCY_MAX + 1)
/* RUDP_SCHED_DEFAULT_URGENCY is the urgency of a new stream (RFC 9218's
 * default, 3). */
#define RUDP_SCHED_DEFAULT_URGENCY RUDP_DEFAULT_URGENCY

/* Kinds of rudp_sched_node. */
/* An incremental stream (the node is rudp_strm.sched). */
#define RUDP_SCHED_NODE_STRM 0
/* The non-incremental streams of one urgency (rudp_sched_level.seq_node). */
#define RUDP_SCHED_NODE_SEQ 1
/* Anything else the owner schedules (the connection's datagram queue). */
#define RUDP_SCHED_NODE_OTHER 2

/* rudp_sched_node is one member of an urgency's round robin. */
typedef struct rudp_sched_node {
  struct rudp_sched_node *next;
  struct rudp_sched_node *prev;
  /* kind is one of RUDP_SCHED_NODE_*. */
  uint8_t kind;
  /* level is the urgency whose round robin holds the node (if queued). */
  uint8_t level;
  /* queued is nonzero while the node is in a round robin. */
  uint8_t queued;
} rudp_sched_node;

/* rudp_sched_level is one urgency. */
typedef struct rudp_sched_level {
  /* head, tail: the round robin (head is served next). */
  rudp_sched_node *head;
  rudp_sched_node *tail;
  /* seq is the root of the pairing heap of non-incremental streams with
   * something to send (NULL: none); seq_node stands for them in the round
   * robin while seq is not NULL. */
  rudp_strm *seq;
  rudp_sched_node seq_node;
} rudp_sched_level;

typedef struct rudp_sched {
  rudp_sched_level levels[RUDP_SCHED_LEVELS];
  /* nonempty has bit u set while level u's round robin is not empty. */
  uint32_t nonempty;
} rudp_sched;

/* rudp_sched_init makes |sched| empty. */
void rudp_sched_init(rudp_sched *sched);

/*
 * rudp_sched_push adds |strm| at its urgency (strm->urgency, at most 7):
 * an incremental stream at the tail of the round robin, a
 * non-incremental one into the heap.  Nothing happens if it is already
 * scheduled (in_sendq).
 */
void rudp_sched_push(rudp_sched *sched, rudp_strm *strm);

/* rudp_sched_remove takes |strm| out (nothing happens if it is not in). */
void rudp_sched_remove(rudp_sched *sched, rudp_strm *strm);

/*
 * rudp_sched_push_node adds |node| (kind RUDP_SCHED_NODE_OTHER) at the
 * tail of urgency |level|'s round robin, unless it is queued already.
 */
void rudp_sched_push_node(rudp_sched *sched, rudp_sched_node *node,
                          unsigned level);

/* rudp_sched_remove_node takes |node| (RUDP_SCHED_NODE_OTHER) out. */
void rudp_sched_remove_node(rudp_sched *sched, rudp_sched_node *node);

/*
 * rudp_sched_top returns the member to serve next: the head of the most
 * urgent non-empty round robin, or NULL when nothing is scheduled.  O(1).
 */
rudp_sched_node *rudp_sched_top(const rudp_sched *sched);

/*
 * rudp_sched_node_strm returns the stream a member stands for: the
 * stream itself, or the lowest-ID stream of a RUDP_SCHED_NODE_SEQ
 * member; NULL for RUDP_SCHED_NODE_OTHER.
 */
rudp_strm *rudp_sched_node_strm(rudp_sched_node *node);

/*
 * rudp_sched_rotate moves |node|, the head of its round robin, to the
 * tail: its turn is over (a RUDP_SCHED_NODE_SEQ member keeps serving the
 * same stream at its next turn).
 */
void rudp_sched_rotate(rudp_sched *sched, rudp_sched_node *node);

/* rudp_sched_empty returns nonzero when nothing is scheduled. */
static inline int rudp_sched_empty(const rudp_sched *sched) {
  return sched->nonempty == 0;
}

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
  /* urgency (0 most urgent .. 7) and incremental: the stream's priority
   * in the send scheduler (rudp_sched; RFC 9218 semantics). */
  uint8_t urgency;
  uint8_t incremental;
  /* in_sendq is nonzero while the stream is in the send scheduler (it has
   * data to send); in_ctrlq while on the queue of streams with control
   * frames to send, linked by ctrlq_next. */
  uint8_t in_sendq;
  uint8_t in_ctrlq;
  rudp_strm *ctrlq_next;
  /* sched links an incremental stream in its urgency's round robin. */
  rudp_sched_node sched;
  /* heap_child, heap_next, heap_prev place a non-incremental stream in
   * its urgency's pairing heap (ordered by stream ID): first child, next
   * sibling, and the previous sibling or, for a first child, the parent
   * (NULL at the root). */
  rudp_strm *heap_child;
  rudp_strm *heap_next;
  rudp_strm *heap_prev;
  /* closeq links finished streams waiting to be freed. */
  rudp_strm *closeq_next;
  /* tx_counted is the tx.acked the connection last took off its count of
   * bytes held for sending (rudp_conn.tx_buffered): the stream adds
   * tx.written - tx_counted to that count. */
  uint64_t tx_counted;
  /* in_txwait is nonzero while the stream is on the connection's queue of
   * streams whose write the connection's send-buffer bound held back,
   * linked by txwait_next and txwait_prev (rudp_strm_waitq). */
  uint8_t in_txwait;
  rudp_strm *txwait_next;
  rudp_strm *txwait_prev;
};

/* ------------------------------------------------------------ wait queue */

/*
 * rudp_strm_waitq is a FIFO of streams waiting for the connection's send
 * buffer to drain (linked through rudp_strm.txwait_*): push, remove and
 * pop are O(1), so the streams to wake are found without scanning all
 * of them.
 */
typedef struct rudp_strm_waitq {
  rudp_strm *head;
  rudp_strm *tail;
} rudp_strm_waitq;

/* rudp_strm_waitq_push appends |strm| unless it is queued already. */
void rudp_strm_waitq_push(rudp_strm_waitq *q, rudp_strm *strm);

/* rudp_strm_waitq_remove takes |strm| out (nothing happens if it is not
 * in). */
void rudp_strm_waitq_remove(rudp_strm_waitq *q, rudp_strm *strm);

/* rudp_strm_waitq_pop removes and returns the oldest stream, or NULL. */
rudp_strm *rudp_strm_waitq_pop(rudp_strm_waitq *q);

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
                    uint64_t tx_max, uint64_t rx_window, uint64_t rx_max_window,
                    rudp_pool *chunks, rudp_sbuf_release_cb release,
                    void *release_user_data, const rudp_mem *mem,
                    rudp_tstamp now);

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
