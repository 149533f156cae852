/*
 * A hash map from 64-bit keys (stream IDs) to pointers: open addressing
 * with linear probing and backward-shift deletion, power-of-two capacity
 * growing at 3/4 load.  Lookups O(1) expected; no allocation except when
 * growing.
 */
#ifndef RUDP_MAP_H
#define RUDP_MAP_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

typedef struct rudp_map_entry {
  uint64_t key;
  void *value; /* NULL marks an empty slot */
} rudp_map_entry;

typedef struct rudp_map {
  rudp_map_entry *slots;
  size_t cap;
  size_t len;
  const rudp_mem *mem;
} rudp_map;

/* rudp_map_init makes an empty map; allocates nothing yet. */
void rudp_map_init(rudp_map *map, const rudp_mem *mem);

/* rudp_map_free releases the table (not the values); |map| may be NULL. */
void rudp_map_free(rudp_map *map);

/*
 * rudp_map_insert maps |key| to |value| (not NULL).  Returns 0,
 * RUDP_ERR_INVALID_STATE (key already present; unchanged),
 * RUDP_ERR_INVALID_ARGUMENT (value NULL) or RUDP_ERR_NOMEM.
 */
int rudp_map_insert(rudp_map *map, uint64_t key, void *value);

/* rudp_map_find returns the value of |key|, or NULL. */
void *rudp_map_find(const rudp_map *map, uint64_t key);

/* rudp_map_remove removes |key| and returns its value (NULL if absent). */
void *rudp_map_remove(rudp_map *map, uint64_t key);

/* rudp_map_len returns the number of entries. */
size_t rudp_map_len(const rudp_map *map);

/*
 * rudp_map_each calls |fn| for every entry (in no particular order);
 * |fn| must not modify the map.
 */
void rudp_map_each(const rudp_map *map,
                   void (*fn)(uint64_t key, void *value, void *arg),
                   void *arg);

#endif /* RUDP_MAP_H */
