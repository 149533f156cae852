/*
 * Send buffer: the send side of one stream (or the CRYPTO stream).  Holds
 * every byte the application wrote until the peer acknowledges it, tracks
 * what was sent, acknowledged and must be sent again, and hands the packet
 * builder the next bytes to send.
 *
 * Storage is a queue of segments.  Copied writes land in fixed-size chunks
 * from a pool shared by the connection (no allocation in steady state);
 * referenced writes (zero-copy) point at the application's memory, which
 * stays the application's and must stay valid and unchanged until the
 * segment is released: the release callback fires when every byte of the
 * segment is acknowledged, or when the buffer is reset or freed.
 *
 * Offsets: [0, acked) acknowledged and released; [acked, written) held;
 * of these, [.., sent) sent at least once.  |lost| holds ranges below
 * |sent| to send again (declared lost, or a PTO probe); |acked_ranges| holds
 * ranges above |acked| acknowledged out of order.
 */
#ifndef RUDP_SBUF_H
#define RUDP_SBUF_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

#include "rudp_iset.h"
#include "rudp_pool.h"

/* RUDP_SBUF_CHUNKLEN is the size of a copy chunk (16 KiB). */
#define RUDP_SBUF_CHUNKLEN 16384

/* rudp_sbuf_release_cb is called when a referenced segment is released. */
typedef void (*rudp_sbuf_release_cb)(const uint8_t *data, size_t len, void *ref,
                                     void *user_data);

typedef struct rudp_sbuf_seg {
  /* offset of data[0] in the stream; len bytes. */
  uint64_t offset;
  const uint8_t *data;
  size_t len;
  /* chunk is the pool chunk holding copied data (NULL: referenced). */
  uint8_t *chunk;
  /* ref is the application's token for a referenced segment. */
  void *ref;
} rudp_sbuf_seg;

typedef struct rudp_sbuf {
  /* segs is a ring of |segcap| segments, segs[seghead .. +nsegs). */
  rudp_sbuf_seg *segs;
  size_t segcap;
  size_t seghead;
  size_t nsegs;
  /* acked, sent, written: see the file comment. */
  uint64_t acked;
  uint64_t sent;
  uint64_t written;
  /* lost: ranges to send again; acked_ranges: acked above |acked|. */
  rudp_iset lost;
  rudp_iset acked_ranges;
  /* chunks is the connection's chunk pool (objects of CHUNKLEN bytes). */
  rudp_pool *chunks;
  /* release, release_user_data: the referenced-segment release callback. */
  rudp_sbuf_release_cb release;
  void *release_user_data;
  const rudp_mem *mem;
} rudp_sbuf;

/*
 * rudp_sbuf_init initialises an empty buffer drawing chunks from |chunks|
 * (a pool of RUDP_SBUF_CHUNKLEN-byte objects).  |release| (may be NULL) is
 * called for referenced segments.
 */
void rudp_sbuf_init(rudp_sbuf *sb, rudp_pool *chunks,
                    rudp_sbuf_release_cb release, void *release_user_data,
                    const rudp_mem *mem);

/*
 * rudp_sbuf_free releases every segment (calling |release| for referenced
 * ones) and the buffer's memory.  |sb| may be NULL.
 */
void rudp_sbuf_free(rudp_sbuf *sb);

/*
 * rudp_sbuf_write copies |len| bytes of |data| to the end.  Returns 0 or
 * RUDP_ERR_NOMEM (nothing written).
 */
int rudp_sbuf_write(rudp_sbuf *sb, const uint8_t *data, size_t len);

/*
 * rudp_sbuf_write_ref appends |len| bytes at |data| without copying; |ref|
 * is passed back to the release callback.  Returns 0 or RUDP_ERR_NOMEM (not
 * appended; the application still owns |data|, no callback).
 */
int rudp_sbuf_write_ref(rudp_sbuf *sb, const uint8_t *data, size_t len,
                        void *ref);

/* rudp_sbuf_unacked returns written - acked (bytes held). */
uint64_t rudp_sbuf_unacked(const rudp_sbuf *sb);

/*
 * rudp_sbuf_next picks what to send next: the lowest lost range first,
 * else new data from |sent|.  Stores its offset in |*poffset| and returns
 * its length, at most |maxlen|, or 0 if there is nothing to send.  It does
 * not mark anything sent.
 */
size_t rudp_sbuf_next(const rudp_sbuf *sb, uint64_t *poffset, size_t maxlen);

/*
 * rudp_sbuf_copy copies the |len| bytes at stream |offset| (which must be in
 * [acked, written)) to |dest|, across segments.
 */
void rudp_sbuf_copy(const rudp_sbuf *sb, uint8_t *dest, uint64_t offset,
                    size_t len);

/*
 * rudp_sbuf_on_sent marks [offset, offset + len) sent: removed from |lost|,
 * and |sent| advances if it reaches past it.  Returns 0, or RUDP_ERR_NOMEM
 * / RUDP_ERR_NOBUF from the lost set (it then stays marked lost).
 */
int rudp_sbuf_on_sent(rudp_sbuf *sb, uint64_t offset, size_t len);

/*
 * rudp_sbuf_on_acked marks [offset, offset + len) acknowledged; releases
 * segments that became wholly acknowledged in order.  Returns 0 or
 * RUDP_ERR_NOMEM.
 */
int rudp_sbuf_on_acked(rudp_sbuf *sb, uint64_t offset, size_t len);

/*
 * rudp_sbuf_on_lost marks [offset, offset + len) to be sent again, except
 * bytes already acknowledged.  Returns 0, RUDP_ERR_NOMEM or RUDP_ERR_NOBUF.
 */
int rudp_sbuf_on_lost(rudp_sbuf *sb, uint64_t offset, size_t len);

/*
 * rudp_sbuf_has_pending returns nonzero if there is something to send
 * (lost ranges, or unsent data).
 */
int rudp_sbuf_has_pending(const rudp_sbuf *sb);

/*
 * rudp_sbuf_shrink frees what an empty buffer keeps for reuse: the segment
 * ring when no segment is held, and the arrays of the lost and
 * out-of-order acknowledged range sets when they are empty.  The offsets
 * stay: later acknowledgements and losses of old ranges are ignored as
 * before, and a later write allocates again.  (Chunks go back to the pool
 * as soon as they are acknowledged; rudp_pool_trim frees them.)  Returns
 * nonzero if it freed anything.  O(1).
 */
int rudp_sbuf_shrink(rudp_sbuf *sb);

/*
 * rudp_sbuf_reset drops everything unacknowledged (RESET_STREAM): releases
 * every segment; afterwards the buffer is empty with acked = sent =
 * written.
 */
void rudp_sbuf_reset(rudp_sbuf *sb);

#endif /* RUDP_SBUF_H */
