/*
 * Reorder buffer (the receive half of a stream, RFC 9000 section 2.2:
 * "an endpoint MUST be able to deliver stream data to an application as an
 * ordered byte stream", while STREAM frames may arrive in any order and
 * overlap).
 *
 * The ring is indexed by stream offset & (cap - 1), so a byte never moves
 * while it waits to be read: arrival is one or two memcpy, reading is
 * zero-copy through rudp_rob_peek.  The ring is kept when it empties so a
 * stream in steady state allocates nothing; it only grows (doubling) when a
 * frame reaches further past the read offset than the ring covers.
 */
#include "rudp_rob.h"

#include <assert.h>
#include <string.h>

#include "rudp_macro.h"
#include "rudp_mem.h"

/* ROB_MIN_CAP is the first ring size: small streams stay small. */
#define ROB_MIN_CAP 1024u

/* ROB_MAX_RING is the largest power of two a size_t holds. */
#define ROB_MAX_RING (((size_t)-1 >> 1) + 1)

/*
 * rob_ring_limit returns the largest ring we may allocate: |max_cap|
 * rounded up to a power of two.  The byte bound itself is still |max_cap|
 * (checked in rudp_rob_push); the rounding only keeps the mask arithmetic.
 */
static size_t rob_ring_limit(size_t max_cap) {
  size_t n = 1;

  if (max_cap > ROB_MAX_RING) {
    return ROB_MAX_RING;
  }
  while (n < max_cap) {
    n <<= 1;
  }
  return n;
}

/* ring_write copies |n| bytes of |src| to stream offset |off| of |buf|. */
static void ring_write(uint8_t *buf, size_t cap, uint64_t off,
                       const uint8_t *src, size_t n) {
  size_t pos = (size_t)(off & (cap - 1));
  size_t n1 = rudp_min(n, cap - pos);

  memcpy(buf + pos, src, n1);
  if (n1 < n) {
    memcpy(buf, src + n1, n - n1);
  }
}

/*
 * rob_grow replaces the ring by one of at least |need| bytes (need <=
 * max_cap), moving every byte held to its position under the new mask.
 */
static int rob_grow(rudp_rob *rob, size_t need) {
  size_t limit = rob_ring_limit(rob->max_cap);
  size_t ncap = rob->cap ? rob->cap : ROB_MIN_CAP;
  uint8_t *nbuf;
  uint64_t off, top;
  size_t pos, n;

  while (ncap < need && ncap < limit) {
    ncap <<= 1;
  }
  ncap = rudp_min(ncap, limit);
  assert(ncap >= need);

  nbuf = rudp_mem_malloc(rob->mem, ncap);
  if (nbuf == NULL) {
    return RUDP_ERR_NOMEM;
  }

  /*
   * Everything held lies in [read_offset, top) with top - read_offset <=
   * old cap; copy that span (gaps included: cheaper than walking them, and
   * the gap bytes are never read).
   */
  if (rudp_iset_len(&rob->have) > 0) {
    top = rudp_iset_get(&rob->have, rudp_iset_len(&rob->have) - 1)->hi;
    assert(top - rob->read_offset <= rob->cap);
    for (off = rob->read_offset; off < top; off += n) {
      pos = (size_t)(off & (rob->cap - 1));
      n = (size_t)rudp_min(top - off, (uint64_t)(rob->cap - pos));
      ring_write(nbuf, ncap, off, rob->buf + pos, n);
    }
  }

  rudp_mem_free(rob->mem, rob->buf);
  if (rob->ring_total) {
    *rob->ring_total += ncap - rob->cap;
  }
  rob->buf = nbuf;
  rob->cap = ncap;
  return 0;
}

void rudp_rob_init(rudp_rob *rob, size_t max_cap, size_t max_gaps,
                   const rudp_mem *mem) {
  rob->buf = NULL;
  rob->cap = 0;
  rob->max_cap = max_cap;
  rob->read_offset = 0;
  rob->lent = NULL;
  rob->lentlen = 0;
  rob->mem = mem ? mem : rudp_mem_default();
  rob->ring_total = NULL;
  rudp_iset_init(&rob->have, max_gaps, rob->mem);
}

void rudp_rob_free(rudp_rob *rob) {
  if (rob == NULL) {
    return;
  }
  rudp_mem_free(rob->mem, rob->buf);
  if (rob->ring_total) {
    *rob->ring_total -= rob->cap;
  }
  rob->buf = NULL;
  rob->cap = 0;
  rob->lent = NULL;
  rob->lentlen = 0;
  rudp_iset_free(&rob->have);
}

void rudp_rob_set_ring_total(rudp_rob *rob, uint64_t *ring_total) {
  rob->ring_total = ring_total;
  if (ring_total) {
    *ring_total += rob->cap;
  }
}

size_t rudp_rob_release(rudp_rob *rob) {
  size_t cap = rob->cap;
  if (cap == 0 || rob->lentlen > 0 || rudp_iset_len(&rob->have) > 0) {
    return 0;
  }
  rudp_mem_free(rob->mem, rob->buf);
  if (rob->ring_total) {
    *rob->ring_total -= cap;
  }
  rob->buf = NULL;
  rob->cap = 0;
  return cap;
}

rudp_ssize rudp_rob_push(rudp_rob *rob, uint64_t offset, const uint8_t *data,
                         size_t len) {
  uint64_t end, cursor, stop;
  const rudp_ival *iv;
  size_t need, nnew = 0;
  int rv;

  if (len == 0) {
    return 0;
  }
  if (rob->lentlen > 0) {
    rv = rudp_rob_settle(rob);
    if (rv != 0) {
      return rv;
    }
  }
  /* An end past 2^64 is certainly beyond any window. */
  if ((uint64_t)len > UINT64_MAX - offset) {
    return RUDP_ERR_NOBUF;
  }
  end = offset + len;
  if (end <= rob->read_offset) {
    return 0;
  }
  if (offset < rob->read_offset) {
    data += rob->read_offset - offset;
    offset = rob->read_offset;
  }
  if (end - rob->read_offset > rob->max_cap) {
    return RUDP_ERR_NOBUF;
  }
  need = (size_t)(end - rob->read_offset);
  if (need > rob->cap) {
    rv = rob_grow(rob, need);
    if (rv != 0) {
      return rv;
    }
  }

  /*
   * Copy only the gaps of [offset, end): a byte already held is never
   * overwritten, so a pointer from rudp_rob_peek stays valid and a peer
   * resending different bytes cannot change what the reader sees.  Writing
   * gap bytes before the add below is harmless if the add fails: bytes
   * outside |have| are never read.
   */
  cursor = offset;
  while (cursor < end) {
    iv = rudp_iset_first_at_or_after(&rob->have, cursor);
    stop = end;
    if (iv != NULL && iv->lo < end) {
      stop = rudp_max(iv->lo, cursor);
    }
    if (stop > cursor) {
      ring_write(rob->buf, rob->cap, cursor, data + (cursor - offset),
                 (size_t)(stop - cursor));
      nnew += (size_t)(stop - cursor);
    }
    if (stop == end) {
      break;
    }
    cursor = iv->hi;
  }

  if (nnew == 0) {
    return 0;
  }
  rv = rudp_iset_add(&rob->have, offset, end);
  if (rv != 0) {
    return rv;
  }
  return (rudp_ssize)nnew;
}

rudp_ssize rudp_rob_lend(rudp_rob *rob, uint64_t offset, const uint8_t *data,
                         size_t len) {
  uint64_t end;
  if (len == 0 || rob->lentlen > 0 || rudp_iset_len(&rob->have) > 0 ||
      offset > rob->read_offset || (uint64_t)len > UINT64_MAX - offset) {
    return rudp_rob_push(rob, offset, data, len);
  }
  end = offset + len;
  if (end <= rob->read_offset) {
    return 0;
  }
  if (end - rob->read_offset > rob->max_cap) {
    return RUDP_ERR_NOBUF;
  }
  rob->lent = data + (rob->read_offset - offset);
  rob->lentlen = (size_t)(end - rob->read_offset);
  return (rudp_ssize)rob->lentlen;
}

int rudp_rob_settle(rudp_rob *rob) {
  const uint8_t *p = rob->lent;
  size_t n = rob->lentlen;
  rudp_ssize rv;
  if (n == 0) {
    return 0;
  }
  rob->lent = NULL;
  rob->lentlen = 0;
  rv = rudp_rob_push(rob, rob->read_offset, p, n);
  return rv < 0 ? (int)rv : 0;
}

size_t rudp_rob_readable(const rudp_rob *rob) {
  if (rob->lentlen > 0) {
    return rob->lentlen;
  }
  return (size_t)(rudp_iset_end_from(&rob->have, rob->read_offset) -
                  rob->read_offset);
}

size_t rudp_rob_peek(const rudp_rob *rob, const uint8_t **pdata) {
  size_t n = rudp_rob_readable(rob), pos;

  if (n == 0) {
    *pdata = NULL;
    return 0;
  }
  if (rob->lentlen > 0) {
    *pdata = rob->lent;
    return n;
  }
  pos = (size_t)(rob->read_offset & (rob->cap - 1));
  *pdata = rob->buf + pos;
  return rudp_min(n, rob->cap - pos);
}

void rudp_rob_consume(rudp_rob *rob, size_t n) {
  assert(n <= rudp_rob_readable(rob));
  if (n == 0) {
    return;
  }
  if (rob->lentlen > 0) {
    rob->lent += n;
    rob->lentlen -= n;
    rob->read_offset += n;
    return;
  }
  rob->read_offset += n;
  rudp_iset_remove_below(&rob->have, rob->read_offset);
}

size_t rudp_rob_read(rudp_rob *rob, uint8_t *dest, size_t len) {
  const uint8_t *p;
  size_t total = 0, n;

  /* At most two rounds: the ring wraps at most once. */
  while (total < len) {
    n = rudp_min(rudp_rob_peek(rob, &p), len - total);
    if (n == 0) {
      break;
    }
    memcpy(dest + total, p, n);
    rudp_rob_consume(rob, n);
    total += n;
  }
  return total;
}

uint64_t rudp_rob_buffered(const rudp_rob *rob) {
  if (rob->lentlen > 0) {
    return rob->lentlen;
  }
  return rudp_iset_covered(&rob->have, rob->read_offset, UINT64_MAX);
}
