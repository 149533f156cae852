/*
 * Shared pieces of the fuzz targets (docs/TESTING.md): a counting
 * allocator that can fail one allocation on purpose, a deterministic random
 * source, a cursor over the fuzz input, the CRC fix-up that lets mutated
 * packets past their integrity check, and the validator that every
 * datagram librudp emits must pass.
 *
 * Each target defines LLVMFuzzerTestOneInput; the same file links either
 * with libFuzzer (./configure --enable-fuzz CC=clang) or with standalone.c,
 * which replays files (make check).
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

/* The entry point libFuzzer calls, once per input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * FUZZ_CHECK aborts with the failed condition when an invariant does not
 * hold: libFuzzer (and the standalone driver under ASan) reports the abort
 * as a crash and saves the input.
 */
#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fuzz_fail(__FILE__, __LINE__, #cond);                                    \
    }                                                                          \
  } while (0)

/* fuzz_fail prints where an invariant failed and aborts. */
void fuzz_fail(const char *file, int line, const char *cond);

/*
 * fuzz_mem is a rudp_mem that counts live blocks (so a target can check
 * that deleting everything frees everything, even without LeakSanitizer)
 * and fails the |fail_at|-th allocation (1-based; 0: none) once.
 */
typedef struct fuzz_mem {
  rudp_mem mem;
  size_t nlive;
  size_t nalloc;
  size_t fail_at;
  int failed;
} fuzz_mem;

/* fuzz_mem_init zeroes |fm| and points fm->mem at it. */
void fuzz_mem_init(fuzz_mem *fm);

/* fuzz_rng is a splitmix64 generator: the same seed, the same bytes. */
typedef struct fuzz_rng {
  uint64_t s;
} fuzz_rng;

/* fuzz_rng_fill fills |len| bytes at |dest|. */
void fuzz_rng_fill(fuzz_rng *rng, uint8_t *dest, size_t len);

/* fuzz_input is a cursor over the fuzz input. */
typedef struct fuzz_input {
  const uint8_t *p;
  const uint8_t *end;
} fuzz_input;

/* fuzz_u8 returns the next byte, or 0 at the end. */
uint8_t fuzz_u8(fuzz_input *in);

/*
 * fuzz_record reads one record: a control byte, a 2-byte big-endian length
 * and that many bytes (fewer if the input ends first).  Returns 0 at the
 * end of the input, 1 otherwise.
 */
int fuzz_record(fuzz_input *in, uint8_t *ctl, const uint8_t **data,
                size_t *len);

/*
 * fuzz_put_record appends a record (as fuzz_record reads it) to |buf| at
 * *|off| (|cap| bytes); the corpus generator writes with it.  Returns 0, or
 * -1 if it does not fit.
 */
int fuzz_put_record(uint8_t *buf, size_t cap, size_t *off, uint8_t ctl,
                    const uint8_t *data, size_t len);

/*
 * fuzz_reseal recomputes the CRC32C trailer of every packet of the datagram
 * at |d| (|len| bytes, modified in place), the way an honest sender seals
 * it: with the packet number expanded against |largest_pn| (the largest
 * the receiver has seen, UINT64_MAX if none).  |short_dcidlen| is the
 * receiver's CID length.  Packets after the first undecodable one are
 * left alone.  Without this, a mutation anywhere in a packet would fail
 * the CRC check and the fuzzer would never reach the frame parser.
 */
void fuzz_reseal(uint8_t *d, size_t len, size_t short_dcidlen,
                 uint64_t largest_pn);

/*
 * fuzz_reseal_long is fuzz_reseal for a TLS receiver: long-header packets
 * carry a CRC there too, but a short-header packet is AEAD-protected (its
 * last 16 bytes are the tag), so it is left alone.
 */
void fuzz_reseal_long(uint8_t *d, size_t len, size_t short_dcidlen,
                      uint64_t largest_pn);

/*
 * fuzz_check_sent checks a datagram a connection sent (|d|, |len| bytes):
 * every packet decodes, its CRC verifies against the packet number
 * expanded from *|largest_pn| (updated), and every frame of its payload
 * decodes.  |short_dcidlen| is the receiver's CID length.  Aborts
 * otherwise: librudp must never emit a packet its own decoder refuses.
 */
void fuzz_check_sent(const uint8_t *d, size_t len, size_t short_dcidlen,
                     uint64_t *largest_pn);

/*
 * fuzz_time_step maps a 3-bit code to a clock advance: 0, 1 ms, 10 ms,
 * 50 ms, 200 ms, 1 s, 10 s; code 7 returns RUDP_TSTAMP_MAX, meaning "to
 * the next timer".
 */
rudp_duration fuzz_time_step(unsigned code);

#endif /* FUZZ_COMMON_H */
