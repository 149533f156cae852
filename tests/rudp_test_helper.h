/*
 * Shared test helpers: a deterministic PRNG (so every random test is
 * reproducible from its seed) and hex dumping for failure messages.
 */
#ifndef RUDP_TEST_HELPER_H
#define RUDP_TEST_HELPER_H

#include <stddef.h>
#include <stdint.h>

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

/* rudp_test_hex writes |len| bytes as lower-case hex into |out| (2*len+1). */
void rudp_test_hex(char *out, const void *data, size_t len);

#endif /* RUDP_TEST_HELPER_H */
