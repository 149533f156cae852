/*
 * Fixed-size object pool.
 */
#include "rudp_pool.h"

#include <assert.h>

#include "rudp_mem.h"

struct rudp_pool_block {
  rudp_pool_block *next;
  /* unused marks, during rudp_pool_trim, a block whose object is free
   * (one object per block). */
  int unused;
  /* Objects follow, aligned to max_align_t. */
};

/* Header size rounded so objects after it are aligned for any type. */
#define POOL_ALIGN 16u
#define POOL_HDRLEN                                                            \
  ((sizeof(rudp_pool_block) + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1))

void rudp_pool_init(rudp_pool *pool, size_t objsize, size_t perblock,
                    const rudp_mem *mem) {
  if (objsize < sizeof(void *)) {
    objsize = sizeof(void *);
  }
  /* Rounding must not wrap to 0; an oversized pool just fails to get. */
  pool->objsize = objsize > SIZE_MAX - (POOL_ALIGN - 1)
                      ? SIZE_MAX
                      : (objsize + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
  pool->perblock = perblock ? perblock : 1;
  pool->freelist = NULL;
  pool->blocks = NULL;
  pool->nblocks = 0;
  pool->nused = 0;
  pool->mem = mem ? mem : rudp_mem_default();
}

void rudp_pool_free(rudp_pool *pool) {
  rudp_pool_block *b, *next;
  if (!pool) {
    return;
  }
  for (b = pool->blocks; b; b = next) {
    next = b->next;
    rudp_mem_free(pool->mem, b);
  }
  pool->blocks = NULL;
  pool->freelist = NULL;
  pool->nblocks = 0;
  pool->nused = 0;
}

size_t rudp_pool_trim(rudp_pool *pool) {
  rudp_pool_block **pb, *b;
  size_t before = pool->nblocks;
  void *o;

  if (pool->nused == 0) {
    rudp_pool_free(pool);
    return before;
  }
  if (pool->perblock != 1 || !pool->freelist) {
    return 0;
  }
  /* One object per block: a free object is a free block, found from the
   * object's address.  Mark them, then unlink and free the marked ones;
   * the free list held only objects of freed blocks. */
  for (b = pool->blocks; b; b = b->next) {
    b->unused = 0;
  }
  for (o = pool->freelist; o; o = *(void **)o) {
    ((rudp_pool_block *)(void *)((uint8_t *)o - POOL_HDRLEN))->unused = 1;
  }
  pool->freelist = NULL;
  for (pb = &pool->blocks; (b = *pb) != NULL;) {
    if (b->unused) {
      *pb = b->next;
      rudp_mem_free(pool->mem, b);
      --pool->nblocks;
    } else {
      pb = &b->next;
    }
  }
  return before - pool->nblocks;
}

void *rudp_pool_get(rudp_pool *pool) {
  void *obj;
  if (!pool->freelist) {
    size_t i;
    uint8_t *base;
    rudp_pool_block *b;
    /* A wrapped size would allocate a block too small for its objects. */
    if (pool->perblock > (SIZE_MAX - POOL_HDRLEN) / pool->objsize) {
      return NULL;
    }
    b = rudp_mem_malloc(pool->mem,
                        POOL_HDRLEN + pool->objsize * pool->perblock);
    if (!b) {
      return NULL;
    }
    b->next = pool->blocks;
    pool->blocks = b;
    ++pool->nblocks;
    base = (uint8_t *)b + POOL_HDRLEN;
    /* Thread the new objects onto the free list, lowest address first. */
    for (i = pool->perblock; i-- > 0;) {
      void *o = base + i * pool->objsize;
      *(void **)o = pool->freelist;
      pool->freelist = o;
    }
  }
  obj = pool->freelist;
  pool->freelist = *(void **)obj;
  ++pool->nused;
  return obj;
}

void rudp_pool_put(rudp_pool *pool, void *obj) {
  if (!obj) {
    return;
  }
  assert(pool->nused > 0);
  *(void **)obj = pool->freelist;
  pool->freelist = obj;
  --pool->nused;
}
