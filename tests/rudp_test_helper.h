/*
 * Shared test helpers: a deterministic PRNG (so every random test is
 * reproducible from its seed), hex dumping for failure messages and a
 * counting allocator that can be told to fail.
 */
#ifndef RUDP_TEST_HELPER_H
#define RUDP_TEST_HELPER_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

/* rudp_test_rng is a xoshiro256** generator. */
typedef struct rudp_test_rng {
  uint64_t s[4];
} rudp_test_rng;

/* rudp_test_rng_init seeds |rng| from |seed| (splitmix64). */
void rudp_test_rng_init(rudp_test_rng *rng, uint64_t seed);

/* rudp_test_rng_next returns 64 pseudo-random bits. */
uint64_t rudp_test_rng_next(rudp_test_rng *rng);

/* rudp_test_rng_below returns a value in [0, n); n > 0. */
uint64_t rudp_test_rng_below(rudp_test_rng *rng, uint64_t n);

/* rudp_test_rng_fill fills |len| bytes at |buf|. */
void rudp_test_rng_fill(rudp_test_rng *rng, void *buf, size_t len);

/*
 * rudp_test_tls_ctxs makes a TLS server context with an ephemeral
 * certificate and a client context pinning |pin|, or the server's own
 * fingerprint when |pin| is NULL; |fp| (96 bytes, may be NULL) receives
 * that fingerprint.  Returns 0, or -1 if librudp was built without TLS
 * (the caller skips; with RUDP_TEST_EXPECT_TLS defined it should fail).
 * Free both with rudp_tls_ctx_free.
 */
struct rudp_tls_ctx;
int rudp_test_tls_ctxs(struct rudp_tls_ctx **server,
                       struct rudp_tls_ctx **client, const char *pin, char *fp);

/* rudp_test_hex writes |len| bytes as lower-case hex into |out| (2*len+1). */
void rudp_test_hex(char *out, const void *data, size_t len);

/*
 * rudp_test_mem is a rudp_mem over the C library that counts what the code
 * under test does with it, so a test can check that steady-state work
 * allocates nothing, that everything allocated is freed, and that every
 * allocation failure is handled.
 */
typedef struct rudp_test_mem {
  /* mem is the allocator to hand to the code under test; its user_data
   * points back at this struct, so the struct must not move while in use. */
  rudp_mem mem;
  /* nmalloc, ncalloc and nrealloc count the successful calls of each kind;
   * nfree counts the frees of non-NULL pointers. */
  size_t nmalloc, ncalloc, nrealloc, nfree;
  /* nlive counts the blocks allocated and not yet freed: a realloc of NULL
   * is a new block, a realloc of a block is not. */
  size_t nlive;
  /* live_bytes counts the bytes asked for and not yet freed (each block
   * carries its size in a hidden header); peak_bytes is its highest. */
  size_t live_bytes, peak_bytes;
  /* fail makes every allocation return NULL without counting it. */
  int fail;
} rudp_test_mem;

/* rudp_test_mem_init zeroes |tm|'s counters and points |tm|->mem at it. */
void rudp_test_mem_init(rudp_test_mem *tm);

/* rudp_test_mem_nalloc counts the successful allocations of any kind. */
size_t rudp_test_mem_nalloc(const rudp_test_mem *tm);

#endif /* RUDP_TEST_HELPER_H */
