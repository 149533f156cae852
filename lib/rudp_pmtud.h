/*
 * Path MTU discovery: packetization-layer PMTUD (RFC 8899 DPLPMTUD, as
 * QUIC uses it in RFC 9000 §14.3).  Every connection starts with datagrams
 * of the configured size (`tx_udp_payload_size`, at least 1200 bytes, the
 * size every path carries) and probes larger ones: a probe is a packet of
 * exactly the candidate size holding only PING and PADDING.  An
 * acknowledged probe proves the path carries that size and the connection
 * sends its datagrams at that size from then on; a probe lost
 * RUDP_PMTUD_MAX_PROBES times marks the size as too large.  No datagram is
 * ever fragmented (the binding sets IP_PMTUDISC_PROBE), so a probe above
 * the path MTU is simply lost, or refused by the sender's kernel with
 * EMSGSIZE, which the binding treats as a loss.
 *
 * The search climbs a ladder of sizes common paths carry (1500-byte
 * Ethernet, 9000-byte jumbo frames, then 16 KiB for loopback-like paths),
 * each capped by the largest size allowed; when a rung fails with a gap
 * of more than RUDP_PMTUD_GRANULARITY below it, it bisects between the
 * last size that worked and the one that failed (tunnels: 1420-byte
 * WireGuard, 1400-byte VPNs).  When the search ends it sleeps for
 * RUDP_PMTUD_RAISE_INTERVAL, then tries again from the current size (the
 * path may have changed).  A black hole (the path's MTU shrank: large
 * packets vanish, so nothing is acknowledged and probe timeouts fire)
 * drops the size back to the base and restarts the search below the size
 * that stopped working.
 *
 * Losing a probe is not a congestion signal (RFC 9000 §14.4); the
 * connection leaves such losses out of congestion control.  Sans-I/O:
 * time comes in as arguments; the module holds no buffers.
 */
#ifndef RUDP_PMTUD_H
#define RUDP_PMTUD_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

/* RUDP_PMTUD_MAX_PROBES is how many probes of one size may be lost before
 * the size counts as too large (RFC 8899 MAX_PROBES). */
#define RUDP_PMTUD_MAX_PROBES 3
/* RUDP_PMTUD_GRANULARITY ends a bisection: the search stops when the
 * largest size that worked is within this many bytes of the smallest that
 * failed. */
#define RUDP_PMTUD_GRANULARITY 32
/* RUDP_PMTUD_RAISE_INTERVAL is the pause between a finished search and the
 * next attempt to raise the size (RFC 8899 PMTU_RAISE_TIMER). */
#define RUDP_PMTUD_RAISE_INTERVAL (600 * RUDP_SECONDS)

typedef struct rudp_pmtud {
  /* base is the size every datagram may use without probing. */
  size_t base;
  /* max is the largest size the search may reach (0: no search). */
  size_t max;
  /* cur is the largest size known to work: the size data is sent at. */
  size_t cur;
  /* fail is the smallest size known not to work (SIZE_MAX: none). */
  size_t fail;
  /* inflight is the size of the probe in flight (0: none). */
  size_t inflight;
  /* lost counts the probes of the current candidate lost so far. */
  unsigned lost;
  /* next_ts: no probe before this time (the raise timer). */
  rudp_tstamp next_ts;
  /* probes_sent, probes_lost, black_holes: counters for the stats. */
  uint64_t probes_sent;
  uint64_t probes_lost;
  uint64_t black_holes;
} rudp_pmtud;

/* rudp_pmtud_init starts at |base| bytes and allows the search up to
 * |max| (no search when |max| <= |base|).  The first probe may leave at
 * once. */
void rudp_pmtud_init(rudp_pmtud *p, size_t base, size_t max);

/* rudp_pmtud_probe_size returns the size of the probe to send at |now|, or
 * 0 when none is due (search finished, a probe in flight, or the raise
 * timer running). */
size_t rudp_pmtud_probe_size(const rudp_pmtud *p, rudp_tstamp now);

/* rudp_pmtud_on_probe_sent records that a probe of |size| bytes left. */
void rudp_pmtud_on_probe_sent(rudp_pmtud *p, size_t size);

/* rudp_pmtud_on_probe_acked records that the peer acknowledged a probe of
 * |size| bytes (also one declared lost before: a late acknowledgement still
 * proves the size).  Returns nonzero if |cur| grew. */
int rudp_pmtud_on_probe_acked(rudp_pmtud *p, size_t size, rudp_tstamp now);

/* rudp_pmtud_on_probe_lost records the loss of a probe of |size| bytes. */
void rudp_pmtud_on_probe_lost(rudp_pmtud *p, size_t size, rudp_tstamp now);

/* rudp_pmtud_on_black_hole drops |cur| back to the base after datagrams of
 * |cur| bytes stopped getting through; the next search stays below it.
 * Returns nonzero if |cur| changed. */
int rudp_pmtud_on_black_hole(rudp_pmtud *p, rudp_tstamp now);

/* rudp_pmtud_reset restarts the search from the base (a new path). */
void rudp_pmtud_reset(rudp_pmtud *p);

#endif /* RUDP_PMTUD_H */
