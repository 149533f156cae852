/*
 * Hash map from 64-bit keys to pointers: open addressing, linear probing,
 * backward-shift deletion (no tombstones, so lookups never slow down after
 * many removals, which matters for stream IDs that come and go).
 */
#include "rudp_map.h"

#include "rudp_mem.h"

/* MAP_INITIAL_CAP is the first table size; a power of two. */
#define MAP_INITIAL_CAP 8

/*
 * map_hash is the splitmix64 finalizer.  Stream IDs are sequential
 * multiples of 4 (RFC 9000 section 2.1), so the identity hash would leave
 * three quarters of the slots unused and cluster the rest; this mixer
 * spreads every input bit over the whole word.
 */
static uint64_t map_hash(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/* map_home returns the slot |key| hashes to; cap > 0. */
static size_t map_home(const rudp_map *map, uint64_t key) {
  return (size_t)(map_hash(key) & (map->cap - 1));
}

void rudp_map_init(rudp_map *map, const rudp_mem *mem) {
  map->slots = NULL;
  map->cap = 0;
  map->len = 0;
  map->mem = mem ? mem : rudp_mem_default();
}

void rudp_map_free(rudp_map *map) {
  if (!map) {
    return;
  }
  rudp_mem_free(map->mem, map->slots);
  map->slots = NULL;
  map->cap = 0;
  map->len = 0;
}

/*
 * map_lookup returns the slot holding |key|, or cap if absent.  Terminates
 * because the load factor keeps at least one slot empty.
 */
static size_t map_lookup(const rudp_map *map, uint64_t key) {
  size_t mask, i;

  if (map->len == 0) {
    return map->cap;
  }
  mask = map->cap - 1;
  for (i = map_home(map, key); map->slots[i].value; i = (i + 1) & mask) {
    if (map->slots[i].key == key) {
      return i;
    }
  }
  return map->cap;
}

/* map_place stores an entry known to be absent; a free slot exists. */
static void map_place(rudp_map *map, uint64_t key, void *value) {
  size_t mask = map->cap - 1, i;

  for (i = map_home(map, key); map->slots[i].value; i = (i + 1) & mask)
    ;
  map->slots[i].key = key;
  map->slots[i].value = value;
}

/* map_grow doubles the table (or creates it).  On error nothing changed. */
static int map_grow(rudp_map *map) {
  rudp_map_entry *old = map->slots;
  size_t oldcap = map->cap, newcap, i;

  newcap = oldcap ? oldcap * 2 : MAP_INITIAL_CAP;
  if (newcap <= oldcap || newcap > SIZE_MAX / sizeof(rudp_map_entry)) {
    return RUDP_ERR_NOMEM;
  }
  /* calloc: a NULL value marks an empty slot. */
  map->slots = rudp_mem_calloc(map->mem, newcap, sizeof(rudp_map_entry));
  if (!map->slots) {
    map->slots = old;
    return RUDP_ERR_NOMEM;
  }
  map->cap = newcap;
  for (i = 0; i < oldcap; ++i) {
    if (old[i].value) {
      map_place(map, old[i].key, old[i].value);
    }
  }
  rudp_mem_free(map->mem, old);
  return 0;
}

int rudp_map_insert(rudp_map *map, uint64_t key, void *value) {
  int rv;

  if (!value) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (map_lookup(map, key) != map->cap) {
    return RUDP_ERR_INVALID_STATE;
  }
  /* Keep the load at or below 3/4 so probe chains stay short. */
  if ((map->len + 1) > map->cap / 4 * 3) {
    rv = map_grow(map);
    if (rv != 0) {
      return rv;
    }
  }
  map_place(map, key, value);
  ++map->len;
  return 0;
}

void *rudp_map_find(const rudp_map *map, uint64_t key) {
  size_t i = map_lookup(map, key);

  return i == map->cap ? NULL : map->slots[i].value;
}

void *rudp_map_remove(rudp_map *map, uint64_t key) {
  size_t i = map_lookup(map, key), j, mask;
  void *value;

  if (i == map->cap) {
    return NULL;
  }
  value = map->slots[i].value;
  mask = map->cap - 1;

  /*
   * Backward-shift deletion: walk the chain after the hole and pull back
   * every entry whose home is not cyclically within (i, j], i.e. whose
   * probe from home would otherwise pass the now-empty slot i and stop.
   */
  for (j = (i + 1) & mask; map->slots[j].value; j = (j + 1) & mask) {
    size_t home = map_home(map, map->slots[j].key);
    if (((j - home) & mask) >= ((j - i) & mask)) {
      map->slots[i] = map->slots[j];
      i = j;
    }
  }
  map->slots[i].value = NULL;
  --map->len;
  return value;
}

size_t rudp_map_len(const rudp_map *map) { return map->len; }

void rudp_map_each(const rudp_map *map,
                   void (*fn)(uint64_t key, void *value, void *arg),
                   void *arg) {
  size_t i;

  for (i = 0; i < map->cap; ++i) {
    if (map->slots[i].value) {
      fn(map->slots[i].key, map->slots[i].value, arg);
    }
  }
}
