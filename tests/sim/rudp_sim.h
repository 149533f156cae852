/*
 * Deterministic network simulator for the librudp tests (DESIGN.md section
 * 6).  Two nodes exchange datagrams over two one-way links under a virtual
 * clock; nothing here reads a real clock, sleeps or touches a socket, and
 * every random choice comes from a rudp_test_rng seeded by the caller, so a
 * run is a pure function of its seed and parameters and any failure replays
 * exactly.
 *
 * A link (rudp_sim_link) models, in the order a datagram meets them:
 *
 *   sender -> drop-tail queue -> bottleneck (rate) -> wire -> receiver
 *                (queue_limit)    (serialization)     forced drops (mask,
 *                                                     outage), loss (random
 *                                                     and Gilbert-Elliott
 *                                                     bursts), duplication,
 *                                                     corruption, delay,
 *                                                     jitter, reordering
 *
 * Without reordering delivery is FIFO: jitter only stretches gaps (a packet
 * is delivered at max(its own time, the previous delivery)), because a real
 * path with jitter but no reordering keeps order.  Reordering picks a
 * fraction of packets and gives them extra delay outside that FIFO, so they
 * arrive after packets sent later.
 *
 * A network (rudp_sim_net) joins two nodes through a link each way and runs
 * the event loop: every node writes until it has nothing to send, the clock
 * jumps to the next event (a delivery or a node's timer), and that event
 * runs.  More nodes and links can be added, and several senders may share
 * one link: e.g. two client/server pairs whose clients send through one
 * bottleneck (tests/rudp_cc_sim_test.c), each datagram carrying the node
 * it is addressed to.  Nodes are given as a small table of functions, so the
 * loop drives rudp_conn pairs (tests/rudp_sim_test.c) or anything else with the
 * same sans-I/O shape.  A run is bounded in virtual time and in events, so a
 * bug that stops a connection from finishing ends the run with a result code
 * instead of hanging the test.
 *
 * Probabilities are integers in parts per million (RUDP_SIM_PPM), so
 * scenarios are exact and print exactly.
 */
#ifndef RUDP_SIM_H
#define RUDP_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <rudp/rudp.h>

#include "rudp_test_helper.h"

/* RUDP_SIM_PPM is probability 1 in parts per million. */
#define RUDP_SIM_PPM 1000000u
/* RUDP_SIM_PERCENT converts a percentage (a constant, may be fractional)
 * to parts per million. */
#define RUDP_SIM_PERCENT(pct) ((uint32_t)((pct)*10000.0 + 0.5))

/* RUDP_SIM_MAX_DGRAM is the largest datagram a link carries. */
#define RUDP_SIM_MAX_DGRAM 65536

/*
 * rudp_sim_link_params describes one direction of a path.  Zero everywhere
 * is a perfect link: no delay, unlimited rate, nothing lost.
 */
typedef struct rudp_sim_link_params {
  /* delay is the one-way propagation delay. */
  rudp_duration delay;
  /* jitter adds a uniform extra delay in [0, jitter] to each packet; it
   * never reorders (see the file comment). */
  rudp_duration jitter;
  /* loss is the probability (ppm) that a packet is lost on the wire,
   * independently of the others. */
  uint32_t loss;
  /* burst_enter and burst_exit are the Gilbert-Elliott transition
   * probabilities (ppm) per packet from the good state to the bad state
   * and back; burst_loss is the loss probability in the bad state.  The
   * mean burst lasts 1/burst_exit packets.  burst_enter 0 disables it. */
  uint32_t burst_enter;
  uint32_t burst_exit;
  uint32_t burst_loss;
  /* reorder is the probability (ppm) that a packet is held back by an
   * extra delay uniform in [1, reorder_delay] ns, outside FIFO order, so
   * that packets sent after it overtake it.  0 keeps order. */
  uint32_t reorder;
  rudp_duration reorder_delay;
  /* dup is the probability (ppm) that a packet is delivered twice; the copy
   * gets its own jitter and its own chance of corruption. */
  uint32_t dup;
  /* corrupt is the probability (ppm) that a delivered copy has exactly one
   * random bit flipped.  The sender's buffer is never modified. */
  uint32_t corrupt;
  /* rate is the bottleneck rate in bits per second; a packet takes
   * ceil(len * 8 * 10^9 / rate) ns to serialize, one after another.  0
   * means unlimited (no serialization delay and no queue). */
  uint64_t rate;
  /* queue_limit bounds, in bytes, the packets inside the bottleneck
   * (waiting or being serialized); a packet that does not fit is dropped
   * (drop-tail).  0 means unlimited.  Ignored when rate is 0. */
  size_t queue_limit;
  /* drop_mask drops, deterministically, each datagram whose id (its
   * number among the datagrams given to the link, from 0) is below 64 and
   * has its bit set: precise fault injection, e.g. "lose the first two
   * ACCEPTs". */
  uint64_t drop_mask;
  /* outage_start and outage_end: every datagram that reaches the wire in
   * [outage_start, outage_end) is lost (a link outage or a vanished
   * peer).  Equal values (e.g. both 0) mean no outage. */
  rudp_tstamp outage_start;
  rudp_tstamp outage_end;
} rudp_sim_link_params;

/* Flags of a delivered packet: bitwise OR of zero or more of these. */
#define RUDP_SIM_PKT_FLAG_NONE 0x00u
/* This copy is the duplicate made by the link (the second copy). */
#define RUDP_SIM_PKT_FLAG_DUP 0x01u
/* One bit of this copy was flipped. */
#define RUDP_SIM_PKT_FLAG_CORRUPT 0x02u
/* The packet was held back by reordering. */
#define RUDP_SIM_PKT_FLAG_REORDERED 0x04u

/*
 * rudp_sim_delivery describes a datagram a link delivers.  The simulator is
 * omniscient: tests use these fields to check properties such as "a
 * corrupted datagram is never accepted".
 */
typedef struct rudp_sim_delivery {
  /* len is the datagram's length. */
  size_t len;
  /* id numbers the datagrams given to rudp_sim_link_send from 0; both
   * copies of a duplicated datagram share it. */
  uint64_t id;
  /* tag is the value the sender passed with it. */
  uint64_t tag;
  /* sent_at is when it was given to the link. */
  rudp_tstamp sent_at;
  /* flags is bitwise OR of zero or more of RUDP_SIM_PKT_FLAG_*. */
  uint8_t flags;
  /* to is the node it is addressed to (rudp_sim_link_send_to; 0 when sent
   * with rudp_sim_link_send). */
  size_t to;
} rudp_sim_delivery;

/* rudp_sim_link_stats are a link's counters. */
typedef struct rudp_sim_link_stats {
  /* sent and bytes_sent count datagrams given to the link. */
  uint64_t sent;
  uint64_t bytes_sent;
  /* dropped_queue counts datagrams the full queue refused. */
  uint64_t dropped_queue;
  /* lost counts random losses, lost_burst losses in the bad state. */
  uint64_t lost;
  uint64_t lost_burst;
  /* lost_forced counts datagrams dropped by drop_mask or an outage. */
  uint64_t lost_forced;
  /* duplicated counts extra copies made; corrupted copies with a flipped
   * bit; reordered packets held back. */
  uint64_t duplicated;
  uint64_t corrupted;
  uint64_t reordered;
  /* delivered and bytes_delivered count copies handed to the receiver. */
  uint64_t delivered;
  uint64_t bytes_delivered;
} rudp_sim_link_stats;

/* rudp_sim_pkt is a datagram in flight (internal to the link). */
typedef struct rudp_sim_pkt rudp_sim_pkt;

/* rudp_sim_txent is a packet inside the bottleneck (internal). */
typedef struct rudp_sim_txent {
  /* done is when its serialization ends. */
  rudp_tstamp done;
  /* len is its size in bytes. */
  size_t len;
} rudp_sim_txent;

/*
 * rudp_sim_link is one direction of a path.  Fields are read-only for
 * users, except |trace| and |name|.
 */
typedef struct rudp_sim_link {
  /* params is the link's configuration. */
  rudp_sim_link_params params;
  /* rng draws every random choice of this link. */
  rudp_test_rng rng;
  /* heap is a binary min-heap of packets in flight ordered by (delivery
   * time, insertion order), so ties deliver deterministically. */
  rudp_sim_pkt **heap;
  /* heaplen and heapcap: packets in |heap| and its capacity. */
  size_t heaplen;
  size_t heapcap;
  /* next_seq orders insertions; next_id numbers sent datagrams. */
  uint64_t next_seq;
  uint64_t next_id;
  /* fifo_last is the latest delivery time of a packet that keeps FIFO
   * order; the next one is not delivered earlier. */
  rudp_tstamp fifo_last;
  /* busy_until is when the bottleneck finishes its last packet. */
  rudp_tstamp busy_until;
  /* txq is a ring of the packets in the bottleneck, oldest first (only
   * kept when a queue limit is set); txqhead, txqlen, txqcap index it and
   * backlog sums their sizes. */
  rudp_sim_txent *txq;
  size_t txqhead;
  size_t txqlen;
  size_t txqcap;
  size_t backlog;
  /* burst_bad is nonzero while the Gilbert-Elliott chain is bad. */
  int burst_bad;
  /* stats are the link's counters. */
  rudp_sim_link_stats stats;
  /* trace, if not NULL, receives one line per packet event, prefixed with
   * |name|. */
  FILE *trace;
  const char *name;
} rudp_sim_link;

/*
 * rudp_sim_link_init initialises |link| with a copy of |params| and a
 * random generator seeded from |seed|.
 *
 * Returns 0 or RUDP_ERR_INVALID_ARGUMENT (a probability above
 * RUDP_SIM_PPM, or reorder set with reorder_delay 0).
 */
int rudp_sim_link_init(rudp_sim_link *link, const rudp_sim_link_params *params,
                       uint64_t seed);

/* rudp_sim_link_free frees the packets still in flight. */
void rudp_sim_link_free(rudp_sim_link *link);

/*
 * rudp_sim_link_send gives the |len| bytes at |data| (copied; 1 to
 * RUDP_SIM_MAX_DGRAM) to |link| at time |now|, with |tag| for the receiver.
 * The datagram may be dropped, duplicated, corrupted, delayed; counters
 * say which.  |now| must not go backwards between calls.
 *
 * Returns 0, RUDP_ERR_INVALID_ARGUMENT (a bad length) or RUDP_ERR_NOMEM.
 */
int rudp_sim_link_send(rudp_sim_link *link, const uint8_t *data, size_t len,
                       uint64_t tag, rudp_tstamp now);

/*
 * rudp_sim_link_send_to is rudp_sim_link_send for a link shared by several
 * nodes: the datagram is addressed to node |to|, which the delivery
 * reports.
 */
int rudp_sim_link_send_to(rudp_sim_link *link, const uint8_t *data, size_t len,
                          uint64_t tag, size_t to, rudp_tstamp now);

/*
 * rudp_sim_link_next returns the delivery time of the next packet, or
 * RUDP_TSTAMP_MAX if none is in flight.
 */
rudp_tstamp rudp_sim_link_next(const rudp_sim_link *link);

/*
 * rudp_sim_link_recv takes the next packet due at or before |now|, copies
 * it into |buf| (|buflen| bytes) and describes it in |*d|.
 *
 * Returns 1 if a packet was delivered, 0 if none is due, or
 * RUDP_ERR_NOBUF (|buflen| too small; the packet stays queued).
 */
int rudp_sim_link_recv(rudp_sim_link *link, rudp_tstamp now, uint8_t *buf,
                       size_t buflen, rudp_sim_delivery *d);

/* rudp_sim_link_inflight returns how many packets are in flight. */
size_t rudp_sim_link_inflight(const rudp_sim_link *link);

/*
 * rudp_sim_link_backlog returns the bytes inside the bottleneck (waiting or
 * being serialized) at |now|; 0 when no queue limit is set.
 */
size_t rudp_sim_link_backlog(rudp_sim_link *link, rudp_tstamp now);

/*
 * rudp_sim_node_ops are the functions through which rudp_sim_net drives a
 * node; |node| is the pointer given to rudp_sim_net_set_node.  A negative
 * return is an error that ends the run with that code.
 */
typedef struct rudp_sim_node_ops {
  /* write stores the next datagram to send at |now| in |buf| (|buflen|
   * bytes) and returns its length, or 0 when there is nothing to send now.
   * It may set |*ptag| (0 by default); the receiver sees it. */
  rudp_ssize (*write)(void *node, uint8_t *buf, size_t buflen, uint64_t *ptag,
                      rudp_tstamp now);
  /* read handles a delivered datagram. */
  int (*read)(void *node, const uint8_t *data, size_t len,
              const rudp_sim_delivery *d, rudp_tstamp now);
  /* expiry returns when handle_expiry must run next, or RUDP_TSTAMP_MAX. */
  rudp_tstamp (*expiry)(void *node);
  /* handle_expiry runs the node's timers due at |now|. */
  int (*handle_expiry)(void *node, rudp_tstamp now);
  /* done returns nonzero once the node expects nothing more; the run ends
   * when every node is done. */
  int (*done)(void *node);
} rudp_sim_node_ops;

/* Results of rudp_sim_net_run (errors of the nodes are negative). */
typedef enum rudp_sim_result {
  /* Every node is done. */
  RUDP_SIM_DONE = 0,
  /* Nothing is in flight and no timer is armed, yet a node is not done:
   * the nodes are deadlocked. */
  RUDP_SIM_IDLE = 1,
  /* The next event lies beyond max_time. */
  RUDP_SIM_TIME_LIMIT = 2,
  /* More than max_events events ran. */
  RUDP_SIM_EVENT_LIMIT = 3,
  /* A node wrote more than max_burst datagrams without an event between:
   * it never stops sending. */
  RUDP_SIM_BURST_LIMIT = 4,
  /* A node's timer ran more than max_timer_repeats times without the
   * clock moving: its expiry stays due after handle_expiry, which is a
   * busy loop for any real event loop. */
  RUDP_SIM_TIMER_LOOP = 5
} rudp_sim_result;

/* RUDP_SIM_NET_MAX_NODES and RUDP_SIM_NET_MAX_LINKS bound a network. */
#define RUDP_SIM_NET_MAX_NODES 8
#define RUDP_SIM_NET_MAX_LINKS 8

/*
 * rudp_sim_net is a network of nodes joined by links.  It starts with two
 * nodes: link[i] carries what node i sends to node 1 - i.  Nodes added with
 * rudp_sim_net_add_node send through any link (several nodes may share
 * one) to a fixed peer.  Set max_time, max_events, max_burst and trace
 * after rudp_sim_net_init if the defaults do not fit.
 */
typedef struct rudp_sim_net {
  /* now is the virtual time; set it before the run to choose the start. */
  rudp_tstamp now;
  /* link[0] carries node 0 -> node 1, link[1] node 1 -> node 0; further
   * links are added by rudp_sim_net_add_link.  nlinks counts them. */
  rudp_sim_link link[RUDP_SIM_NET_MAX_LINKS];
  size_t nlinks;
  /* ops and node are the nodes; nnodes counts them. */
  const rudp_sim_node_ops *ops[RUDP_SIM_NET_MAX_NODES];
  void *node[RUDP_SIM_NET_MAX_NODES];
  size_t nnodes;
  /* out[i] is the link node i sends through, peer[i] the node its
   * datagrams are addressed to. */
  size_t out[RUDP_SIM_NET_MAX_NODES];
  size_t peer[RUDP_SIM_NET_MAX_NODES];
  /* nevents counts the events run (deliveries and timer expiries). */
  uint64_t nevents;
  /* max_time bounds the virtual time (absolute; default now + 1 hour). */
  rudp_tstamp max_time;
  /* max_events bounds the events (default 1000000). */
  uint64_t max_events;
  /* max_burst bounds the datagrams one write round may produce (default
   * 100000). */
  uint64_t max_burst;
  /* max_timer_repeats bounds the timer events at one instant (default
   * 1000); timer_repeats counts them. */
  uint64_t max_timer_repeats;
  uint64_t timer_repeats;
  /* trace, if not NULL, receives a line per event and per packet. */
  FILE *trace;
  /* buf holds the datagram being moved. */
  uint8_t buf[RUDP_SIM_MAX_DGRAM];
} rudp_sim_net;

/*
 * rudp_sim_net_init initialises |net| with links |p01| (node 0 -> 1) and
 * |p10| (1 -> 0), whose generators are derived from |seed|, time 0 and the
 * default bounds.  Returns 0 or an error of rudp_sim_link_init.
 */
int rudp_sim_net_init(rudp_sim_net *net, const rudp_sim_link_params *p01,
                      const rudp_sim_link_params *p10, uint64_t seed);

/* rudp_sim_net_free frees every link (not the nodes). */
void rudp_sim_net_free(rudp_sim_net *net);

/* rudp_sim_net_set_node makes |node| with |ops| node |i| (below nnodes:
 * 0 or 1 unless nodes were added). */
void rudp_sim_net_set_node(rudp_sim_net *net, int i,
                           const rudp_sim_node_ops *ops, void *node);

/*
 * rudp_sim_net_add_link adds a link with |params|, its generator seeded
 * from |seed|, named |name| in traces (may be NULL).  Returns its index, or
 * RUDP_ERR_NOBUF (RUDP_SIM_NET_MAX_LINKS reached) or an error of
 * rudp_sim_link_init.
 */
int rudp_sim_net_add_link(rudp_sim_net *net, const rudp_sim_link_params *params,
                          uint64_t seed, const char *name);

/*
 * rudp_sim_net_add_node adds |node| with |ops|, sending through link
 * |link| to node |peer| (which may be added later).  Returns its index, or
 * RUDP_ERR_NOBUF (RUDP_SIM_NET_MAX_NODES reached) or
 * RUDP_ERR_INVALID_ARGUMENT (no such link, or |peer| out of range).
 */
int rudp_sim_net_add_node(rudp_sim_net *net, const rudp_sim_node_ops *ops,
                          void *node, size_t link, size_t peer);

/* rudp_sim_net_set_trace sends the trace of |net| and its links to |f|
 * (NULL: none), naming the directions |name01| and |name10| (links 0 and
 * 1; added links keep their names). */
void rudp_sim_net_set_trace(rudp_sim_net *net, FILE *f, const char *name01,
                            const char *name10);

/*
 * rudp_sim_net_run runs the event loop until every node is done or a bound
 * is hit.  Events at the same instant run in a fixed order: deliveries
 * before timers, deliveries by receiving node then link, timers by node.
 * Returns a rudp_sim_result, or the negative error a node returned.
 */
int rudp_sim_net_run(rudp_sim_net *net);

/* rudp_sim_result_str names a result of rudp_sim_net_run. */
const char *rudp_sim_result_str(int result);

/*
 * rudp_sim_dissect prints a one-line summary of the rudp datagram at
 * |data| (|len| bytes) to |f|: each coalesced packet's type and number and
 * its frames, e.g. "ACCEPT pn=0 [ack 0..0, crypto 0+71]".  Short headers
 * are decoded with RUDP_DEFAULT_CIDLEN-byte DCIDs; the CRC is not checked
 * (the line says "badcrc" when it fails).  For traces only.
 */
void rudp_sim_dissect(FILE *f, const uint8_t *data, size_t len);

/* rudp_sim_fmt_time formats |t| as "seconds.nanoseconds" in |buf| (at
 * least 32 bytes) and returns |buf|. */
const char *rudp_sim_fmt_time(char *buf, rudp_tstamp t);

#endif /* RUDP_SIM_H */
