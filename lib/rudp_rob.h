/*
 * Reorder buffer: the receive side of one stream (or the CRYPTO stream).
 * Stores bytes that arrive out of order and hands them to the reader in
 * order; duplicates and overlaps are dropped (each byte is stored once).
 *
 * Bytes live in a ring buffer whose position is offset & (cap - 1); the
 * capacity is a power of two that grows (doubling, through rudp_mem) to fit
 * the highest byte received above the read offset, up to |max_cap| (the
 * flow-control window guarantees the peer never legitimately sends beyond
 * read offset + window).  Which byte ranges are present is tracked in a
 * bounded rudp_iset; a frame that would need more gaps than allowed is
 * refused (RUDP_ERR_NOBUF) so the caller drops its packet unacknowledged
 * and the peer sends it again later: bounded memory under any input.
 */
#ifndef RUDP_ROB_H
#define RUDP_ROB_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

#include "rudp_iset.h"

/* RUDP_ROB_DEFAULT_MAX_GAPS bounds the ranges tracked above read offset. */
#define RUDP_ROB_DEFAULT_MAX_GAPS 256

typedef struct rudp_rob {
  /* buf is the ring (NULL until data arrives); cap its size (power of 2). */
  uint8_t *buf;
  size_t cap;
  /* max_cap bounds cap. */
  size_t max_cap;
  /* read_offset is the next offset the reader gets. */
  uint64_t read_offset;
  /* have holds the ranges present at or above read_offset. */
  rudp_iset have;
  /* lent (lentlen bytes) is the caller's own memory holding the bytes at
   * [read_offset, read_offset + lentlen), read in place until
   * rudp_rob_settle (see rudp_rob_lend).  While lentlen > 0, |have| is
   * empty. */
  const uint8_t *lent;
  size_t lentlen;
  const rudp_mem *mem;
  /* ring_total, when set (rudp_rob_set_ring_total), is the owner's sum of
   * ring sizes: this ring's cap is added on growth, taken on release. */
  uint64_t *ring_total;
} rudp_rob;

/*
 * rudp_rob_init initialises |rob| to buffer at most |max_cap| bytes ahead
 * of the read offset with at most |max_gaps| separate ranges.  Allocates
 * nothing yet.
 */
void rudp_rob_init(rudp_rob *rob, size_t max_cap, size_t max_gaps,
                   const rudp_mem *mem);

/* rudp_rob_free releases |rob|'s memory; |rob| may be NULL. */
void rudp_rob_free(rudp_rob *rob);

/*
 * rudp_rob_push stores the |len| bytes of |data| at stream |offset|.  Bytes
 * below the read offset or already present are ignored.  Returns the number
 * of new bytes stored, or RUDP_ERR_NOBUF (beyond max_cap, or too many gaps;
 * nothing stored) or RUDP_ERR_NOMEM (nothing stored).
 */
rudp_ssize rudp_rob_push(rudp_rob *rob, uint64_t offset, const uint8_t *data,
                         size_t len);

/*
 * rudp_rob_lend is rudp_rob_push without the copy for the common case: when
 * nothing is buffered and the bytes start at (or straddle) the read offset,
 * |rob| keeps a pointer to |data| instead of copying it, and the reader's
 * rudp_rob_read copies straight from there (one copy fewer per byte on an
 * in-order stream).  |data| must stay valid and unchanged until
 * rudp_rob_settle, which the caller must call before it reuses that memory;
 * any other call that stores bytes settles first.  Otherwise the same as
 * rudp_rob_push (same returns).
 */
rudp_ssize rudp_rob_lend(rudp_rob *rob, uint64_t offset, const uint8_t *data,
                         size_t len);

/*
 * rudp_rob_settle copies whatever is left of lent bytes into |rob|'s own
 * buffer and forgets the pointer.  Returns 0, or RUDP_ERR_NOMEM (the lent
 * bytes are then dropped: the connection fails).
 */
int rudp_rob_settle(rudp_rob *rob);

/* rudp_rob_readable returns how many bytes are readable in order now. */
size_t rudp_rob_readable(const rudp_rob *rob);

/*
 * rudp_rob_peek points |*pdata| at the first readable bytes and returns how
 * many are contiguous in memory (at most rudp_rob_readable(); fewer where
 * the ring wraps).  Returns 0 if nothing is readable.
 */
size_t rudp_rob_peek(const rudp_rob *rob, const uint8_t **pdata);

/* rudp_rob_consume advances the read offset by |n| (n <= readable). */
void rudp_rob_consume(rudp_rob *rob, size_t n);

/*
 * rudp_rob_read copies up to |len| readable bytes to |dest| and consumes
 * them.  Returns the number copied.
 */
size_t rudp_rob_read(rudp_rob *rob, uint8_t *dest, size_t len);

/* rudp_rob_buffered returns the bytes held above the read offset. */
uint64_t rudp_rob_buffered(const rudp_rob *rob);

/*
 * rudp_rob_set_ring_total makes |rob| count its ring's size in
 * |*ring_total| (shared by the owner's buffers, e.g. a connection's
 * streams), from now on: call it before any data arrives.
 */
void rudp_rob_set_ring_total(rudp_rob *rob, uint64_t *ring_total);

/*
 * rudp_rob_release frees |rob|'s ring if it holds nothing (every byte
 * received was read): the ring grows to the span behind a gap and would
 * otherwise stay that size until the stream ends.  The next gap grows a
 * new one.  Returns the bytes freed (0 if the ring was kept or absent).
 */
size_t rudp_rob_release(rudp_rob *rob);

#endif /* RUDP_ROB_H */
