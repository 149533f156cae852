/*
 * Fixed-size object pool: the answer to "no allocation per packet in steady
 * state".  Objects are carved from blocks allocated through a rudp_mem and
 * recycled through a free list; blocks are released by rudp_pool_free, or
 * by rudp_pool_trim when none of their objects is in use.  Once a
 * connection has reached its working set, allocating and releasing
 * sent-packet records, frame records and buffer chunks costs no malloc.
 */
#ifndef RUDP_POOL_H
#define RUDP_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

typedef struct rudp_pool_block rudp_pool_block;

typedef struct rudp_pool {
  /* objsize is the size of each object, rounded up for alignment. */
  size_t objsize;
  /* perblock is how many objects one block holds. */
  size_t perblock;
  /* freelist links released objects through their first bytes. */
  void *freelist;
  /* blocks lists every block allocated, for rudp_pool_free. */
  rudp_pool_block *blocks;
  /* nblocks counts |blocks|; nused counts objects handed out. */
  size_t nblocks;
  size_t nused;
  /* mem allocates the blocks. */
  const rudp_mem *mem;
} rudp_pool;

/*
 * rudp_pool_init prepares |pool| for objects of |objsize| bytes (at least 1),
 * |perblock| (at least 1) per block, allocating from |mem| (NULL: default).
 * Allocates nothing yet.
 */
void rudp_pool_init(rudp_pool *pool, size_t objsize, size_t perblock,
                    const rudp_mem *mem);

/*
 * rudp_pool_free releases every block.  Objects still in use become invalid.
 * |pool| may be NULL.
 */
void rudp_pool_free(rudp_pool *pool);

/*
 * rudp_pool_get returns an object of objsize bytes (contents unspecified,
 * aligned for any type), or NULL when a new block cannot be allocated.
 */
void *rudp_pool_get(rudp_pool *pool);

/* rudp_pool_put returns |obj| (from this pool; may be NULL) to the pool. */
void rudp_pool_put(rudp_pool *pool, void *obj);

/*
 * rudp_pool_trim frees the blocks none of whose objects is in use: a pool
 * that once needed many objects (a connection's handshake, a burst) does
 * not keep them while idle, and the next get allocates again.  With one
 * object per block every unused block goes; with several, blocks go only
 * when no object at all is in use.  Returns the number of blocks freed.
 * O(blocks + free objects): for a state change, not for every packet
 * (trimming after each release would turn recycling back into malloc).
 */
size_t rudp_pool_trim(rudp_pool *pool);

#endif /* RUDP_POOL_H */
