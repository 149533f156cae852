/*
 * rudp_netem: an impairment queue for outgoing datagrams (loss, delay,
 * jitter, reordering, duplication, corruption, rate limit), in the spirit
 * of Linux tc-netem and GameNetworkingSockets' FakePacketLoss / FakeLag
 * settings.  The libevent binding puts each datagram it would send through
 * it when `--netem SPEC` / RUDP_NETEM is set (DESIGN.md 5).
 *
 * Like the core it is sans-I/O and clock-free: the caller passes |now| and
 * asks `rudp_netem_next` when to come back.  Every random decision comes
 * from a splitmix64 generator seeded by the spec, so one spec and one
 * sequence of calls always give the same drops, delays and bit flips.
 */
#ifndef RUDP_NETEM_H
#define RUDP_NETEM_H

#include <rudp/rudp.h>
#include <rudp/rudp_event.h> /* rudp_netem_stats */

/*
 * Spec grammar (whitespace around keys, values and commas is ignored; keys
 * and units are case-insensitive; each key at most once; "" is valid and
 * impairs nothing):
 *
 *   spec    = [ item *( "," item ) ]
 *   item    = key "=" value
 *   loss | reorder | dup | corrupt = PROB
 *   delay | jitter                 = TIME
 *   rate                           = RATE
 *   seed                           = 1*DIGIT        (uint64, default 1)
 *   PROB = DEC "%"       a percentage, 0% to 100% (e.g. 2%, 0.1%), kept to
 *                        1e-7 % (one part per billion; finer digits are cut)
 *        | DEC           a fraction, 0 to 1 (e.g. 0.02)
 *   TIME = DEC ( "ns" | "us" | "ms" | "s" ), at most 60 s (e.g. 20ms, 1.5s)
 *   RATE = DEC ( "bit" | "kbit" | "mbit" | "gbit" )        bits per second
 *        | DEC ( "bps" | "kbps" | "mbps" | "gbps" )       BYTES per second
 *        (tc's units; k/m/g are powers of 1000); 8 kbit/s to 1000 gbit/s
 *   DEC  = 1*DIGIT [ "." 1*DIGIT ]
 *
 * Semantics, in the order applied to each offered datagram:
 *   loss     drop it (dropped_loss).
 *   dup      enqueue it twice (duplicated); each copy then goes on alone.
 *   corrupt  flip one uniformly chosen bit of the queued copy (corrupted).
 *   rate     serialise it on a link of that bit rate: it starts when the
 *            link is free and occupies it len * 8 / rate; drop-tail
 *            (dropped_queue) when more than RUDP_NETEM_MAX_BACKLOG of
 *            transmission time is already waiting.
 *   delay    added after serialisation, plus a uniform jitter in
 *   jitter   [-jitter, +jitter] (the total never below 0).  The queue stays
 *            FIFO even with jitter: a datagram never leaves before one
 *            offered earlier (like a real path without reordering).
 *   reorder  this fraction of the copies is held max(delay, 1 ms) longer
 *            and left out of the FIFO rule, so later datagrams overtake
 *            them (reordered).
 * Independently, when RUDP_NETEM_MAX_BYTES are queued or every slot is in
 * use, new copies are dropped (dropped_queue).
 *
 * The lab grammar (`rudp_netem_parse_lab` only, for tools/rudp-netem; the
 * two parsers above keep rejecting these keys as "unknown key") adds:
 *
 *   burst = PROB ":" PROB [ ":" PROB [ ":" PROB ] ]
 *   queue = 1*DIGIT                  packets, 1 to 1000000
 *         | 1*DIGIT ( "b" | "kb" | "mb" )
 *                                    bytes (tc's units: k = 1024,
 *                                    m = 1048576), 1 b to 1024 mb
 *
 *   burst    Gilbert-Elliott loss, like tc-netem's `loss gemodel p r 1-h
 *            1-k`: a two-state chain moved once per offered datagram, good
 *            to bad with the first PROB (burst_enter) and bad to good with
 *            the second (burst_exit); a datagram is lost with the third
 *            PROB in the bad state (burst_loss_bad, default 100%) and with
 *            the fourth in the good one (burst_loss_good, default 0%).  It
 *            is decided before `loss` (both drop: either one is enough)
 *            and counted in dropped_loss, and in `dropped_burst`.  Mean
 *            burst: 1 / burst_exit datagrams; mean loss: burst_enter /
 *            (burst_enter + burst_exit) with the defaults.
 *   queue    the rate link's queue (drop-tail, dropped_queue) holds at
 *            most that many copies, or bytes, counting the one being
 *            serialised; it replaces the one-second backlog bound.  Needs
 *            `rate` ("queue needs rate").
 */

/** RUDP_NETEM_MAX_BACKLOG bounds the serialisation backlog of `rate`. */
#define RUDP_NETEM_MAX_BACKLOG RUDP_SECONDS
/** RUDP_NETEM_MAX_BYTES bounds the bytes held by one queue. */
#define RUDP_NETEM_MAX_BYTES (4 * 1024 * 1024)
/** RUDP_NETEM_PPB is "always" for the probabilities (parts per billion). */
#define RUDP_NETEM_PPB 1000000000U

/* rudp_netem_spec is a parsed spec (all zero: impairs nothing). */
typedef struct rudp_netem_spec {
  /* loss, reorder, dup, corrupt: probabilities in parts per billion. */
  uint32_t loss;
  uint32_t reorder;
  uint32_t dup;
  uint32_t corrupt;
  /* delay, jitter: in nanoseconds. */
  rudp_duration delay;
  rudp_duration jitter;
  /* rate in bits per second; 0 is unlimited. */
  uint64_t rate;
  /* seed seeds the generator (default 1). */
  uint64_t seed;
  /* The lab keys (`rudp_netem_parse_lab`); all zero from the others.
   * burst_*: the Gilbert-Elliott chain in parts per billion (off while
   * burst_enter and burst_loss_good are both 0). */
  uint32_t burst_enter;
  uint32_t burst_exit;
  uint32_t burst_loss_bad;
  uint32_t burst_loss_good;
  /* queue_pkts, queue_bytes bound the rate link's queue (0: no bound of
   * that kind; both 0: the one-second backlog bound). */
  uint64_t queue_pkts;
  uint64_t queue_bytes;
} rudp_netem_spec;

/*
 * `rudp_netem_parse` parses |str| (grammar above) into |*spec|.  Neither
 * may be NULL.  Returns 0 or :macro:`RUDP_ERR_INVALID_ARGUMENT` (|*spec| is
 * then unspecified).
 */
int rudp_netem_parse(rudp_netem_spec *spec, const char *str);

/*
 * `rudp_netem_parse_ex` is `rudp_netem_parse` that also stores in |*perr|
 * (if |perr| is not NULL) a static string saying what was wrong, or NULL on
 * success: "unknown key", "duplicate key", "missing '='", "missing value",
 * "bad number", "bad unit", "probability above 100%", "time above 60 s",
 * "rate out of range", "trailing garbage".
 */
int rudp_netem_parse_ex(rudp_netem_spec *spec, const char *str,
                        const char **perr);

/*
 * `rudp_netem_parse_lab` is `rudp_netem_parse_ex` that also accepts the
 * lab keys `burst` and `queue` (grammar above).  Its extra messages: "bad
 * burst" (not 2 to 4 PROBs joined by ':'), "queue out of range", "queue
 * needs rate".
 */
int rudp_netem_parse_lab(rudp_netem_spec *spec, const char *str,
                         const char **perr);

/*
 * `rudp_netem_spec_is_active` returns nonzero if |spec| impairs anything
 * (the seed alone does not).
 */
int rudp_netem_spec_is_active(const rudp_netem_spec *spec);

/* rudp_netem_slot is one queued copy (internal). */
typedef struct rudp_netem_slot {
  /* at is the release time; seq the order offered (ties and FIFO). */
  rudp_tstamp at;
  uint64_t seq;
  /* data (cap bytes, allocated on first use and kept) holds len bytes. */
  uint8_t *data;
  size_t len, cap;
  struct sockaddr_storage to;
  socklen_t tolen;
} rudp_netem_slot;

/* rudp_netem is the queue. */
typedef struct rudp_netem {
  rudp_netem_spec spec;
  const rudp_mem *mem;
  /* slots[max_slots]; free_[nfree] are the indices of unused slots; heap
   * [nheap] is a binary min-heap of used slot indices by (at, seq). */
  rudp_netem_slot *slots;
  uint32_t *free_;
  uint32_t *heap;
  size_t max_slots, nfree, nheap;
  /* bytes is the payload bytes queued. */
  size_t bytes;
  /* rng is the splitmix64 state. */
  uint64_t rng;
  /* seq numbers the copies. */
  uint64_t seq;
  /* link_free is when the rate-limited link finishes its backlog;
   * fifo_floor the latest release time given to a non-reordered copy. */
  rudp_tstamp link_free;
  rudp_tstamp fifo_floor;
  rudp_netem_stats stats;
  /* max_bytes bounds bytes (RUDP_NETEM_MAX_BYTES unless
   * `rudp_netem_set_max_bytes` changed it). */
  size_t max_bytes;
  /* burst_bad is nonzero while the Gilbert-Elliott chain is bad;
   * dropped_burst counts its losses (also in stats.dropped_loss). */
  int burst_bad;
  uint64_t dropped_burst;
  /* With a queue bound: the end of serialisation (bl_end) and length
   * (bl_len) of each copy in the rate link's queue, oldest first, in a
   * ring of max_slots entries from bl_head; bl_bytes sums bl_len. */
  rudp_tstamp *bl_end;
  uint32_t *bl_len;
  size_t bl_head, bl_n;
  uint64_t bl_bytes;
} rudp_netem;

/*
 * `rudp_netem_init` initialises |ne| for |spec| (copied) with at most
 * |max_slots| queued copies (1 to 2^31).  Slot descriptors are allocated
 * now, each slot's buffer on its first use and kept until
 * `rudp_netem_free`, so a warmed-up queue allocates nothing (except when a
 * datagram larger than any before lands in a slot).  |mem| NULL: default.
 *
 * Returns 0, :macro:`RUDP_ERR_INVALID_ARGUMENT` or :macro:`RUDP_ERR_NOMEM`.
 */
int rudp_netem_init(rudp_netem *ne, const rudp_netem_spec *spec,
                    size_t max_slots, const rudp_mem *mem);

/* `rudp_netem_free` frees |ne|'s memory and queued copies (|ne| may be
 * NULL). */
void rudp_netem_free(rudp_netem *ne);

/*
 * `rudp_netem_set_max_bytes` sets the bound on the bytes |ne| holds (queued
 * and delayed copies alike; RUDP_NETEM_MAX_BYTES after init) to
 * |max_bytes|: a link of 1 Gbit/s and 100 ms holds 12.5 MB in flight.
 * Copies already held stay.  Returns 0, or
 * :macro:`RUDP_ERR_INVALID_ARGUMENT` if |max_bytes| is 0.
 */
int rudp_netem_set_max_bytes(rudp_netem *ne, size_t max_bytes);

/*
 * `rudp_netem_submit` offers the datagram |data| (|len| bytes, 1 to
 * RUDP_MAX_UDP_PAYLOAD) for |to| (|tolen| bytes, at most
 * sizeof(struct sockaddr_storage)) at time |now| (non-decreasing between
 * calls).  The data is copied.  Dropping is not an error: it is counted.
 *
 * Returns 0, or :macro:`RUDP_ERR_INVALID_ARGUMENT` (bad |len| or |tolen|;
 * nothing counted).
 */
int rudp_netem_submit(rudp_netem *ne, const uint8_t *data, size_t len,
                      const struct sockaddr *to, socklen_t tolen,
                      rudp_tstamp now);

/* `rudp_netem_next` returns the earliest release time queued, or
 * RUDP_TSTAMP_MAX if the queue is empty.  O(1). */
rudp_tstamp rudp_netem_next(const rudp_netem *ne);

/*
 * `rudp_netem_pop` releases the earliest copy due at |now| (release time
 * <= |now|): copies it into |dest| (|destlen| bytes) and its destination
 * into |*to|, |*tolen|.  O(log n).
 *
 * Returns its length, 0 if none is due, or :macro:`RUDP_ERR_NOBUF` if
 * |destlen| is too small (it stays queued; `rudp_netem_peek_len` tells).
 */
rudp_ssize rudp_netem_pop(rudp_netem *ne, rudp_tstamp now, uint8_t *dest,
                          size_t destlen, struct sockaddr_storage *to,
                          socklen_t *tolen);

/* `rudp_netem_peek_len` returns the length of the copy `rudp_netem_pop`
 * would release at |now|, or 0. */
size_t rudp_netem_peek_len(const rudp_netem *ne, rudp_tstamp now);

#endif /* RUDP_NETEM_H */
