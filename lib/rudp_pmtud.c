/*
 * Path MTU discovery (RFC 8899 DPLPMTUD): the search state machine.  See
 * rudp_pmtud.h for the protocol; the connection sends the probes.
 */
#include "rudp_pmtud.h"

#include "rudp_macro.h"

/* pmtud_ladder are the UDP payload sizes the search tries, smallest first:
 * 1500-byte Ethernet over IPv6 and IPv4 (1500 - 40 - 8, 1500 - 20 - 8),
 * 9000-byte jumbo frames likewise, then 16 KiB, 32 KiB and the IPv4
 * maximum for loopback and other large-MTU paths.  Each is capped by the
 * search's maximum, which is itself tried last. */
static const size_t pmtud_ladder[] = {1452,  1472,  8952, 8972,
                                      16384, 32768, 65507};

/* PMTUD_BISECT_LIMIT: a failed rung at or below this size starts a
 * bisection (tunnels shave a few dozen bytes off 1500); above it the path
 * is taken to be one of the ladder's standard sizes. */
#define PMTUD_BISECT_LIMIT 1472

/* pmtud_next returns the next size to try above |p->cur|, assuming the
 * smallest failing size is |fail|, or 0 when there is none. */
static size_t pmtud_next(const rudp_pmtud *p, size_t fail) {
  size_t hi = p->max, i;
  if (fail != SIZE_MAX && fail - 1 < hi) {
    hi = fail - 1;
  }
  if (hi <= p->cur) {
    return 0;
  }
  for (i = 0; i < sizeof(pmtud_ladder) / sizeof(pmtud_ladder[0]); ++i) {
    if (pmtud_ladder[i] > p->cur && pmtud_ladder[i] <= hi) {
      return pmtud_ladder[i];
    }
  }
  if (fail == SIZE_MAX) {
    return hi; /* above the ladder's last rung below max: max itself */
  }
  if (fail <= PMTUD_BISECT_LIMIT && fail - p->cur > RUDP_PMTUD_GRANULARITY) {
    return p->cur + (fail - p->cur) / 2;
  }
  return 0;
}

void rudp_pmtud_init(rudp_pmtud *p, size_t base, size_t max) {
  p->base = base;
  p->max = max > base ? max : 0;
  p->probes_sent = p->probes_lost = p->black_holes = 0;
  rudp_pmtud_reset(p);
}

void rudp_pmtud_reset(rudp_pmtud *p) {
  p->cur = p->base;
  p->fail = SIZE_MAX;
  p->inflight = 0;
  p->lost = 0;
  p->next_ts = 0;
}

size_t rudp_pmtud_probe_size(const rudp_pmtud *p, rudp_tstamp now) {
  size_t next;
  if (p->max == 0 || p->inflight || now < p->next_ts) {
    return 0;
  }
  next = pmtud_next(p, p->fail);
  if (next == 0) {
    /* The search ended and its raise timer ran out: try again above the
     * current size, forgetting the old failure (the path may be a new
     * one). */
    next = pmtud_next(p, SIZE_MAX);
  }
  return next;
}

void rudp_pmtud_on_probe_sent(rudp_pmtud *p, size_t size) {
  if (p->fail != SIZE_MAX && size >= p->fail) {
    p->fail = SIZE_MAX; /* a raise attempt: the old failure is forgotten */
  }
  p->inflight = size;
  ++p->probes_sent;
}

/* pmtud_settle arms the raise timer when there is nothing left to try. */
static void pmtud_settle(rudp_pmtud *p, rudp_tstamp now) {
  if (pmtud_next(p, p->fail) == 0) {
    p->next_ts = now + RUDP_PMTUD_RAISE_INTERVAL;
  }
}

int rudp_pmtud_on_probe_acked(rudp_pmtud *p, size_t size, rudp_tstamp now) {
  int grew = 0;
  if (p->inflight == size) {
    p->inflight = 0;
  }
  if (size > p->cur && size <= (p->max ? p->max : p->base)) {
    p->cur = size;
    p->lost = 0;
    if (p->fail != SIZE_MAX && p->fail <= size) {
      p->fail = SIZE_MAX;
    }
    grew = 1;
  }
  pmtud_settle(p, now);
  return grew;
}

void rudp_pmtud_on_probe_lost(rudp_pmtud *p, size_t size, rudp_tstamp now) {
  ++p->probes_lost;
  if (p->inflight != size) {
    return; /* an old probe: the search has moved on */
  }
  p->inflight = 0;
  if (size <= p->cur) {
    return; /* proved by another probe meanwhile */
  }
  if (++p->lost >= RUDP_PMTUD_MAX_PROBES) {
    p->lost = 0;
    if (size < p->fail) {
      p->fail = size;
    }
    pmtud_settle(p, now);
  }
}

int rudp_pmtud_on_black_hole(rudp_pmtud *p, rudp_tstamp now) {
  if (p->cur <= p->base) {
    return 0;
  }
  ++p->black_holes;
  p->fail = p->cur;
  p->cur = p->base;
  p->inflight = 0;
  p->lost = 0;
  p->next_ts = now;
  return 1;
}
