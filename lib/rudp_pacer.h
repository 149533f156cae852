/*
 * Pacer: spreads a window's worth of packets over a round trip instead of
 * sending it as one burst (RFC 9002 §7.7), so a bottleneck queue sees a
 * smooth flow.  A token bucket: tokens (bytes) refill at the pacing rate up
 * to a burst allowance; a packet may leave when a full packet's worth of
 * tokens is there.  Sans-I/O: the connection asks when the next packet may
 * leave and reports it through its expiry.
 */
#ifndef RUDP_PACER_H
#define RUDP_PACER_H

#include <stdint.h>

#include <rudp/rudp.h>

/* RUDP_PACER_BURST_PACKETS is the burst allowance in packets. */
#define RUDP_PACER_BURST_PACKETS 10

typedef struct rudp_pacer {
  /* tokens: bytes that may be sent now (at most the burst allowance,
   * RUDP_PACER_BURST_PACKETS * mss). */
  uint64_t tokens;
  /* frac: the fraction of a byte earned but not yet credited, in units of
   * 10^-9 byte (below 10^9).  Keeping it makes the refill exact however
   * often it runs: rounding each refill down would lose up to a byte per
   * call and pace below the rate. */
  uint64_t frac;
  /* last_ts: when tokens were last refilled. */
  rudp_tstamp last_ts;
  /* rate: bytes per second (0: unpaced). */
  uint64_t rate;
  /* mss: the packet size the allowance is counted in. */
  uint64_t mss;
} rudp_pacer;

/* rudp_pacer_init starts with a full burst allowance, unpaced (rate 0).
 * While unpaced the bucket counts as full, so pacing starts with a full
 * burst allowance when a rate is set. */
void rudp_pacer_init(rudp_pacer *p, uint64_t mss, rudp_tstamp now);

/*
 * rudp_pacer_set_rate sets the rate in bytes per second (0: unpaced),
 * first crediting the tokens earned at the old rate up to |now|.
 */
void rudp_pacer_set_rate(rudp_pacer *p, uint64_t rate, rudp_tstamp now);

/*
 * rudp_pacer_next returns when a packet of |size| bytes may be sent: |now|
 * (or earlier) if it may go at once, else the earliest time the tokens
 * will be there (exact to the nanosecond; RUDP_TSTAMP_MAX if that lies
 * beyond the clock's range).  A packet larger than the burst allowance
 * waits for a full bucket.  Does not change |p|.
 */
rudp_tstamp rudp_pacer_next(const rudp_pacer *p, uint64_t size,
                            rudp_tstamp now);

/* rudp_pacer_on_sent takes |size| bytes of tokens for a packet sent at
 * |now| (refilling first; tokens never go below zero). */
void rudp_pacer_on_sent(rudp_pacer *p, uint64_t size, rudp_tstamp now);

#endif /* RUDP_PACER_H */
