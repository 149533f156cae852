/*
 * Token-bucket pacer (RFC 9002 §7.7).
 *
 * Tokens are bytes; they accrue at |rate| bytes per second up to the burst
 * allowance of RUDP_PACER_BURST_PACKETS packets.  Time is in nanoseconds,
 * so a refill over |elapsed| ns earns elapsed * rate / 10^9 bytes.  That
 * product overflows 64 bits for long gaps at high rates (an hour at
 * 10 GB/s is 3.6e22), so it is computed exactly from the operands split
 * around 10^9 (pacer_muldiv) instead of with a 128-bit type, which not
 * every C compiler has.  The fraction of a byte left over is carried in
 * |frac| so that the refill is exact: the bytes earned over an interval do
 * not depend on how often the connection looked at the pacer in between.
 */
#include "rudp_pacer.h"

#include "rudp_macro.h"

/* PACER_GIGA is 10^9: nanoseconds per second, and the unit of |frac|. */
#define PACER_GIGA 1000000000ULL

/* sat_add returns a + b, or UINT64_MAX if that overflows. */
static uint64_t sat_add(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* sat_mul returns a * b, or UINT64_MAX if that overflows. */
static uint64_t sat_mul(uint64_t a, uint64_t b) {
  if (a != 0 && b > UINT64_MAX / a) {
    return UINT64_MAX;
  }
  return a * b;
}

/*
 * pacer_muldiv returns floor(a * b / 10^9), saturated at UINT64_MAX, and
 * stores (a * b) mod 10^9 in |*prem| (exact unless saturated).  With
 * a = ah * G + al and b = bh * G + bl (al, bl < G = 10^9):
 *   a * b = G * (ah * bh * G + ah * bl + al * bh) + al * bl
 * and al * bl < 10^18 fits in 64 bits, so only the small product is ever
 * divided.
 */
static uint64_t pacer_muldiv(uint64_t a, uint64_t b, uint64_t *prem) {
  uint64_t ah = a / PACER_GIGA, al = a % PACER_GIGA;
  uint64_t bh = b / PACER_GIGA, bl = b % PACER_GIGA;
  uint64_t low = al * bl, q;

  *prem = low % PACER_GIGA;
  q = low / PACER_GIGA;
  q = sat_add(q, sat_mul(al, bh));
  q = sat_add(q, sat_mul(ah, bl));
  q = sat_add(q, sat_mul(sat_mul(ah, bh), PACER_GIGA));
  return q;
}

/* pacer_burst returns the burst allowance in bytes. */
static uint64_t pacer_burst(const rudp_pacer *p) {
  return sat_mul(RUDP_PACER_BURST_PACKETS, p->mss);
}

/*
 * pacer_refill computes the tokens and fraction |p| holds at |now| into
 * |*ptokens| and |*pfrac| without changing |p|.  Unpaced, the bucket is
 * full.  A |now| before last_ts earns nothing (the clock never runs
 * backwards for the pacer).
 */
static void pacer_refill(const rudp_pacer *p, rudp_tstamp now,
                         uint64_t *ptokens, uint64_t *pfrac) {
  uint64_t burst = pacer_burst(p), add, rem;

  *ptokens = p->tokens;
  *pfrac = p->frac;
  if (p->rate == 0) {
    *ptokens = burst;
    *pfrac = 0;
    return;
  }
  if (now <= p->last_ts || p->tokens >= burst) {
    if (p->tokens >= burst) {
      *ptokens = burst;
      *pfrac = 0;
    }
    return;
  }
  add = pacer_muldiv(now - p->last_ts, p->rate, &rem);
  rem += p->frac; /* both below 10^9: no overflow */
  add = sat_add(add, rem / PACER_GIGA);
  if (add >= burst - p->tokens) {
    /* Tokens beyond the allowance are not kept, nor is their fraction:
     * an idle sender may not save up a bigger burst (§7.7). */
    *ptokens = burst;
    *pfrac = 0;
    return;
  }
  *ptokens = p->tokens + add;
  *pfrac = rem % PACER_GIGA;
}

/* pacer_advance applies the refill up to |now| to |p|. */
static void pacer_advance(rudp_pacer *p, rudp_tstamp now) {
  pacer_refill(p, now, &p->tokens, &p->frac);
  if (now > p->last_ts) {
    p->last_ts = now;
  }
}

void rudp_pacer_init(rudp_pacer *p, uint64_t mss, rudp_tstamp now) {
  p->mss = mss;
  p->rate = 0;
  p->tokens = pacer_burst(p);
  p->frac = 0;
  p->last_ts = now;
}

void rudp_pacer_set_rate(rudp_pacer *p, uint64_t rate, rudp_tstamp now) {
  /* What was earned so far was earned at the old rate; only the time from
   * |now| on counts at the new one. */
  pacer_advance(p, now);
  p->rate = rate;
}

rudp_tstamp rudp_pacer_next(const rudp_pacer *p, uint64_t size,
                            rudp_tstamp now) {
  uint64_t tokens, frac, need, d, qa, ra, num, wait;
  rudp_tstamp base;

  if (p->rate == 0) {
    return now;
  }
  pacer_refill(p, now, &tokens, &frac);
  need = rudp_min(size, pacer_burst(p));
  if (tokens >= need) {
    return now;
  }
  /* Tokens accrue from max(now, last_ts) on.  The smallest wait t with
   * floor((t * rate + frac) / 10^9) >= d, d the missing bytes, is
   *   t = ceil((d * 10^9 - frac) / rate) = ceil((A * 10^9 + B) / rate)
   * with A = d - 1 and B = 10^9 - frac in [1, 10^9].  Dividing A by the
   * rate first (A = qa * rate + ra) keeps the products in range:
   *   t = qa * 10^9 + ceil((ra * 10^9 + B) / rate). */
  base = rudp_max(now, p->last_ts);
  d = need - tokens;
  qa = (d - 1) / p->rate;
  ra = (d - 1) % p->rate;
  if (ra <= (UINT64_MAX - PACER_GIGA) / PACER_GIGA) {
    num = ra * PACER_GIGA + (PACER_GIGA - frac);
    wait = num / p->rate + (num % p->rate != 0);
  } else {
    /* ra > 1.8e10 bytes: only a burst allowance of gigabyte packets gets
     * here.  Scale ra and the rate down until the product fits; the error
     * is below one nanosecond, and the extra nanosecond keeps the answer
     * from ever being early. */
    uint64_t r = p->rate;
    while (ra > (UINT64_MAX - PACER_GIGA) / PACER_GIGA) {
      ra >>= 1;
      r >>= 1;
    }
    num = ra * PACER_GIGA + (PACER_GIGA - frac);
    wait = num / r + 1;
  }
  wait = sat_add(sat_mul(qa, PACER_GIGA), wait);
  return sat_add(base, wait);
}

void rudp_pacer_on_sent(rudp_pacer *p, uint64_t size, rudp_tstamp now) {
  pacer_advance(p, now);
  /* A packet sent without enough tokens (an ACK, a probe the connection
   * does not pace) empties the bucket; the debt is forgiven rather than
   * carried, so a later burst is not delayed twice. */
  p->tokens = p->tokens > size ? p->tokens - size : 0;
}
