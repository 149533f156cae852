/*
 * Send buffer (the send half of a stream).  RFC 9000 section 13.3: stream
 * data in a lost packet is sent again in new frames, so the buffer keeps
 * every byte until it is acknowledged and tracks, per byte range, whether it
 * still has to be (re)sent.  Bytes only leave the buffer in stream order
 * (when the contiguous acknowledged prefix passes a whole segment), which
 * keeps the segment queue a plain ring.
 */
#include "rudp_sbuf.h"

#include <assert.h>
#include <string.h>

#include "rudp_macro.h"
#include "rudp_mem.h"

/* SBUF_MIN_SEGCAP is the first size of the segment ring. */
#define SBUF_MIN_SEGCAP 8u

/* sbuf_seg returns the |i|-th segment held (0 = oldest; i < nsegs). */
static rudp_sbuf_seg *sbuf_seg(const rudp_sbuf *sb, size_t i) {
  return &sb->segs[(sb->seghead + i) & (sb->segcap - 1)];
}

/*
 * sbuf_reserve makes room for |extra| more segments.  The ring doubles and
 * is unwrapped into the new array, so it is allocated only when the number
 * of segments held reaches a new high.
 */
static int sbuf_reserve(rudp_sbuf *sb, size_t extra) {
  size_t ncap = sb->segcap ? sb->segcap : SBUF_MIN_SEGCAP, i;
  rudp_sbuf_seg *nsegs;

  if (extra > ((size_t)-1 >> 2) - sb->nsegs) {
    return RUDP_ERR_NOMEM;
  }
  if (sb->nsegs + extra <= sb->segcap) {
    return 0;
  }
  while (ncap < sb->nsegs + extra) {
    ncap <<= 1;
  }
  if (ncap > (size_t)-1 / sizeof(*nsegs)) {
    return RUDP_ERR_NOMEM;
  }
  nsegs = rudp_mem_malloc(sb->mem, ncap * sizeof(*nsegs));
  if (nsegs == NULL) {
    return RUDP_ERR_NOMEM;
  }
  for (i = 0; i < sb->nsegs; ++i) {
    nsegs[i] = *sbuf_seg(sb, i);
  }
  rudp_mem_free(sb->mem, sb->segs);
  sb->segs = nsegs;
  sb->segcap = ncap;
  sb->seghead = 0;
  return 0;
}

/*
 * sbuf_pop_release removes the oldest segment and releases it.  The
 * segment leaves the ring before the callback runs, so a callback that
 * writes to this buffer sees a consistent queue.
 */
static void sbuf_pop_release(rudp_sbuf *sb) {
  rudp_sbuf_seg seg = *sbuf_seg(sb, 0);

  sb->seghead = (sb->seghead + 1) & (sb->segcap - 1);
  --sb->nsegs;
  if (seg.chunk != NULL) {
    rudp_pool_put(sb->chunks, seg.chunk);
  } else if (sb->release != NULL) {
    sb->release(seg.data, seg.len, seg.ref, sb->release_user_data);
  }
}

static void sbuf_release_all(rudp_sbuf *sb) {
  while (sb->nsegs > 0) {
    sbuf_pop_release(sb);
  }
  sb->seghead = 0;
}

void rudp_sbuf_init(rudp_sbuf *sb, rudp_pool *chunks,
                    rudp_sbuf_release_cb release, void *release_user_data,
                    const rudp_mem *mem) {
  assert(chunks == NULL || chunks->objsize >= RUDP_SBUF_CHUNKLEN);
  sb->segs = NULL;
  sb->segcap = 0;
  sb->seghead = 0;
  sb->nsegs = 0;
  sb->acked = 0;
  sb->sent = 0;
  sb->written = 0;
  sb->mem = mem ? mem : rudp_mem_default();
  /*
   * Both sets are unbounded: their ranges come from our own packets in
   * flight (bounded by the congestion window), not from what the peer
   * chooses to send.
   */
  rudp_iset_init(&sb->lost, 0, sb->mem);
  rudp_iset_init(&sb->acked_ranges, 0, sb->mem);
  sb->chunks = chunks;
  sb->release = release;
  sb->release_user_data = release_user_data;
}

void rudp_sbuf_free(rudp_sbuf *sb) {
  if (sb == NULL) {
    return;
  }
  sbuf_release_all(sb);
  rudp_mem_free(sb->mem, sb->segs);
  sb->segs = NULL;
  sb->segcap = 0;
  rudp_iset_free(&sb->lost);
  rudp_iset_free(&sb->acked_ranges);
}

int rudp_sbuf_write(rudp_sbuf *sb, const uint8_t *data, size_t len) {
  rudp_sbuf_seg *last = NULL, *seg;
  size_t room = 0, nchunks, i, n;
  int rv;

  if (len == 0) {
    return 0;
  }
  assert(sb->chunks != NULL);
  if (sb->nsegs > 0) {
    last = sbuf_seg(sb, sb->nsegs - 1);
    if (last->chunk != NULL) {
      room = RUDP_SBUF_CHUNKLEN - last->len;
    }
  }
  nchunks = len > room
                ? (len - room + RUDP_SBUF_CHUNKLEN - 1) / RUDP_SBUF_CHUNKLEN
                : 0;

  /*
   * Take every chunk (into the free slots past the queue's end) before
   * copying a byte, so a failure leaves the buffer as it was.
   */
  if (nchunks > 0) {
    rv = sbuf_reserve(sb, nchunks);
    if (rv != 0) {
      return rv;
    }
    for (i = 0; i < nchunks; ++i) {
      seg = sbuf_seg(sb, sb->nsegs + i);
      seg->chunk = rudp_pool_get(sb->chunks);
      if (seg->chunk == NULL) {
        while (i-- > 0) {
          rudp_pool_put(sb->chunks, sbuf_seg(sb, sb->nsegs + i)->chunk);
        }
        return RUDP_ERR_NOMEM;
      }
    }
    /* sbuf_reserve may have moved the ring. */
    last = sb->nsegs > 0 ? sbuf_seg(sb, sb->nsegs - 1) : NULL;
  }

  if (room > 0) {
    n = rudp_min(room, len);
    memcpy(last->chunk + last->len, data, n);
    last->len += n;
    data += n;
    len -= n;
    sb->written += n;
  }
  for (i = 0; i < nchunks; ++i) {
    seg = sbuf_seg(sb, sb->nsegs);
    n = rudp_min(len, (size_t)RUDP_SBUF_CHUNKLEN);
    memcpy(seg->chunk, data, n);
    seg->offset = sb->written;
    seg->data = seg->chunk;
    seg->len = n;
    seg->ref = NULL;
    ++sb->nsegs;
    data += n;
    len -= n;
    sb->written += n;
  }
  assert(len == 0);
  return 0;
}

int rudp_sbuf_write_ref(rudp_sbuf *sb, const uint8_t *data, size_t len,
                        void *ref) {
  rudp_sbuf_seg *seg;
  int rv;

  /*
   * Zero bytes are trivially all acknowledged: release at once rather than
   * keep an empty segment (which the offset search could not tell apart
   * from its neighbour).
   */
  if (len == 0) {
    if (sb->release != NULL) {
      sb->release(data, 0, ref, sb->release_user_data);
    }
    return 0;
  }
  rv = sbuf_reserve(sb, 1);
  if (rv != 0) {
    return rv;
  }
  seg = sbuf_seg(sb, sb->nsegs);
  seg->offset = sb->written;
  seg->data = data;
  seg->len = len;
  seg->chunk = NULL;
  seg->ref = ref;
  ++sb->nsegs;
  sb->written += len;
  return 0;
}

uint64_t rudp_sbuf_unacked(const rudp_sbuf *sb) {
  return sb->written - sb->acked;
}

size_t rudp_sbuf_next(const rudp_sbuf *sb, uint64_t *poffset, size_t maxlen) {
  const rudp_ival *iv;

  if (maxlen == 0) {
    return 0;
  }
  /*
   * Lost data first: it is the oldest, and the peer's reorder buffer (and
   * so its flow-control credit) is held up until it arrives.
   */
  if (rudp_iset_len(&sb->lost) > 0) {
    iv = rudp_iset_get(&sb->lost, 0);
    *poffset = iv->lo;
    return (size_t)rudp_min(iv->hi - iv->lo, (uint64_t)maxlen);
  }
  if (sb->sent < sb->written) {
    *poffset = sb->sent;
    return (size_t)rudp_min(sb->written - sb->sent, (uint64_t)maxlen);
  }
  return 0;
}

void rudp_sbuf_copy(const rudp_sbuf *sb, uint8_t *dest, uint64_t offset,
                    size_t len) {
  size_t lo = 0, hi = sb->nsegs, mid, i, skip, n;
  const rudp_sbuf_seg *seg;

  if (len == 0) {
    return;
  }
  assert(offset >= sb->acked && len <= sb->written - offset);

  /*
   * Segments are contiguous in offset: the one holding |offset| is the last
   * one starting at or below it.
   */
  while (hi - lo > 1) {
    mid = lo + (hi - lo) / 2;
    if (sbuf_seg(sb, mid)->offset <= offset) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  for (i = lo; len > 0; ++i) {
    assert(i < sb->nsegs);
    seg = sbuf_seg(sb, i);
    skip = (size_t)(offset - seg->offset);
    n = rudp_min(len, seg->len - skip);
    memcpy(dest, seg->data + skip, n);
    dest += n;
    offset += n;
    len -= n;
  }
}

int rudp_sbuf_on_sent(rudp_sbuf *sb, uint64_t offset, size_t len) {
  uint64_t end = offset + len;

  if (len == 0) {
    return 0;
  }
  assert(end <= sb->written);
  sb->sent = rudp_max(sb->sent, end);
  /* Bytes below |acked| are never in |lost|; nothing to do for them. */
  offset = rudp_max(offset, sb->acked);
  if (offset >= end || rudp_iset_len(&sb->lost) == 0) {
    return 0;
  }
  return rudp_iset_remove(&sb->lost, offset, end);
}

int rudp_sbuf_on_acked(rudp_sbuf *sb, uint64_t offset, size_t len) {
  uint64_t lo = rudp_max(offset, sb->acked);
  uint64_t hi = rudp_min(offset + len, sb->sent);
  int rv;

  /* Never-sent bytes cannot be acknowledged: clip, as after a reset. */
  if (lo >= hi) {
    return 0;
  }
  rv = rudp_iset_add(&sb->acked_ranges, lo, hi);
  if (rv != 0) {
    return rv;
  }
  /*
   * A late ack for data declared lost (spurious loss): no need to send it
   * again.  If the split fails the range is merely resent; the state stays
   * consistent, so carry on and report the error afterwards.
   */
  rv = rudp_iset_len(&sb->lost) > 0 ? rudp_iset_remove(&sb->lost, lo, hi) : 0;

  if (lo == sb->acked) {
    sb->acked = rudp_iset_end_from(&sb->acked_ranges, sb->acked);
    rudp_iset_remove_below(&sb->acked_ranges, sb->acked);
    rudp_iset_remove_below(&sb->lost, sb->acked);
    while (sb->nsegs > 0) {
      const rudp_sbuf_seg *seg = sbuf_seg(sb, 0);
      if (seg->offset + seg->len > sb->acked) {
        break;
      }
      sbuf_pop_release(sb);
    }
  }
  return rv;
}

int rudp_sbuf_on_lost(rudp_sbuf *sb, uint64_t offset, size_t len) {
  uint64_t lo = rudp_max(offset, sb->acked);
  uint64_t hi = rudp_min(offset + len, sb->sent);
  uint64_t stop;
  const rudp_ival *iv;
  int rv;

  /* Add the parts of [lo, hi) not acknowledged out of order. */
  while (lo < hi) {
    iv = rudp_iset_first_at_or_after(&sb->acked_ranges, lo);
    stop = hi;
    if (iv != NULL && iv->lo < hi) {
      stop = rudp_max(iv->lo, lo);
    }
    if (stop > lo) {
      rv = rudp_iset_add(&sb->lost, lo, stop);
      if (rv != 0) {
        return rv;
      }
    }
    if (stop == hi) {
      break;
    }
    lo = iv->hi;
  }
  return 0;
}

int rudp_sbuf_has_pending(const rudp_sbuf *sb) {
  return rudp_iset_len(&sb->lost) > 0 || sb->sent < sb->written;
}

int rudp_sbuf_shrink(rudp_sbuf *sb) {
  int freed = 0;

  if (sb->nsegs == 0 && sb->segs != NULL) {
    rudp_mem_free(sb->mem, sb->segs);
    sb->segs = NULL;
    sb->segcap = 0;
    sb->seghead = 0;
    freed = 1;
  }
  /* rudp_iset_free leaves an empty set ready for use. */
  if (rudp_iset_len(&sb->lost) == 0 && sb->lost.v != NULL) {
    rudp_iset_free(&sb->lost);
    freed = 1;
  }
  if (rudp_iset_len(&sb->acked_ranges) == 0 && sb->acked_ranges.v != NULL) {
    rudp_iset_free(&sb->acked_ranges);
    freed = 1;
  }
  return freed;
}

void rudp_sbuf_reset(rudp_sbuf *sb) {
  sbuf_release_all(sb);
  sb->acked = sb->sent = sb->written;
  rudp_iset_clear(&sb->lost);
  rudp_iset_clear(&sb->acked_ranges);
}
