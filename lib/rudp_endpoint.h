/*
 * The endpoint: many connections over one UDP socket, sans-I/O
 * (docs/PROTOCOL.md 7.3 to 7.9, 8.7, 10.9).  The public type is opaque;
 * the struct is exposed here for the tests and for invariant checks.
 *
 * Every connection has an entry, found:
 *
 * - by its own connection ID (all packets but a first CONNECT): the
 *   |cids| map;
 * - server side, by (client address, DCID of the client's first CONNECT)
 *   for its whole life, so a retransmitted or late CONNECT reaches the
 *   connection it created instead of opening a second one (7.3): the
 *   |aliases| map;
 * - client side, once the server announced it, by its stateless reset
 *   token, so a datagram that matches no connection can be recognised as
 *   a reset in O(1) (8.7): the |resets| map.
 *
 * The three maps are rudp_map tables keyed by a keyed 64-bit hash
 * (SipHash-2-4 with a random per-endpoint key, so a peer cannot aim
 * collisions at one slot); entries whose keys collide are chained and
 * every lookup compares the full value.
 *
 * Timers: a binary min-heap of entries keyed by rudp_conn_get_expiry, kept
 * current after every interaction with a connection; the top is the
 * endpoint's expiry (O(1)).  Output: an "active" list of connections that
 * may have something to send, served round robin, after a small bounded
 * queue of stateless packets (RETRY, VERSION NEGOTIATION, refusals,
 * stateless resets) that go first.
 *
 * Entries of connections that reached RUDP_CONN_STATE_CLOSED leave every
 * map, list and the heap at once and wait on the |dead| list; they are
 * freed when the outermost endpoint call returns, never while a
 * connection may still be on the stack.
 */
#ifndef RUDP_ENDPOINT_H
#define RUDP_ENDPOINT_H

#include <sys/socket.h>

#include <rudp/rudp.h>

#include "rudp_conn.h"
#include "rudp_map.h"
#include "rudp_token.h"

/* Entry flags: bitwise OR of zero or more of these. */
/* The entry's connection is a server connection (listener side). */
#define RUDP_EP_ENTRY_FLAG_SERVER 0x0001u
/* Server: counted in the half-open table (ACCEPT_SENT). */
#define RUDP_EP_ENTRY_FLAG_HALF_OPEN 0x0002u
/* Server: established and waiting in the accept queue. */
#define RUDP_EP_ENTRY_FLAG_ACCEPTQ 0x0004u
/* Server: taken with rudp_endpoint_accept. */
#define RUDP_EP_ENTRY_FLAG_ACCEPTED 0x0008u
/* On the active list (may have something to send). */
#define RUDP_EP_ENTRY_FLAG_ACTIVE 0x0010u
/* Server: registered in the alias map. */
#define RUDP_EP_ENTRY_FLAG_ALIAS 0x0020u
/* Client: registered in the reset-token map. */
#define RUDP_EP_ENTRY_FLAG_RESET 0x0040u
/* Closed: out of every map, list and the heap; freed soon. */
#define RUDP_EP_ENTRY_FLAG_DEAD 0x0080u
/* Server: the client's address changed (NAT rebinding) and the new one
 * is not validated yet: at most 3x the bytes received from it are sent
 * (docs/PROTOCOL.md 10.9). */
#define RUDP_EP_ENTRY_FLAG_PATH_UNVALIDATED 0x0100u

/* The maps of an entry (index into rudp_endpoint.maps and the entry's
 * keys and chains). */
#define RUDP_EP_MAP_CID 0
#define RUDP_EP_MAP_ALIAS 1
#define RUDP_EP_MAP_RESET 2
#define RUDP_EP_NMAPS 3

/* RUDP_EP_HEAP_NONE is the heap index of an entry outside the heap. */
#define RUDP_EP_HEAP_NONE ((size_t)-1)

/* An address as given by the caller, with its canonical form (family,
 * port, address bytes) used for hashing, comparing and tokens. */
typedef struct rudp_ep_addr {
  struct sockaddr_storage sa;
  socklen_t salen;
  rudp_token_addr canon;
} rudp_ep_addr;

typedef struct rudp_ep_entry rudp_ep_entry;

struct rudp_ep_entry {
  rudp_endpoint *ep;
  rudp_conn *conn;
  /* flags: bitwise OR of zero or more of RUDP_EP_ENTRY_FLAG_*. */
  uint32_t flags;
  /* peer is where the connection's packets go (updated on NAT
   * rebinding, server side). */
  rudp_ep_addr peer;
  /* Server: alias_addr and alias_dcid are the client address of the
   * first CONNECT and its DCID (the original DCID): the alias key. */
  rudp_ep_addr alias_addr;
  rudp_cid alias_dcid;
  /* Client: reset_token is the server's stateless reset token once
   * registered in the reset map. */
  uint8_t reset_token[RUDP_STATELESS_RESET_TOKENLEN];
  /* keys and chains of the maps, indexed by RUDP_EP_MAP_*: entries whose
   * keys collide hang off the one in the map through |next|. */
  uint64_t key[RUDP_EP_NMAPS];
  rudp_ep_entry *next[RUDP_EP_NMAPS];
  /* heap_idx is the position in the timer heap (RUDP_EP_HEAP_NONE:
   * outside); expiry the key it is sorted by. */
  size_t heap_idx;
  rudp_tstamp expiry;
  /* Doubly linked lists: all live entries; the active list; the accept
   * queue.  dead_next links the dead list, due_next the timers due in
   * rudp_endpoint_handle_expiry. */
  rudp_ep_entry *all_prev, *all_next;
  rudp_ep_entry *act_prev, *act_next;
  rudp_ep_entry *aq_prev, *aq_next;
  rudp_ep_entry *dead_next;
  rudp_ep_entry *due_next;
  /* After a NAT rebinding (flag PATH_UNVALIDATED): bytes received from
   * and sent to the new address, and the first packet number sent there;
   * an acknowledgement of it (or later) validates the address. */
  uint64_t path_recv;
  uint64_t path_sent;
  uint64_t path_pn;
};

/* RUDP_EP_SLQ_LEN bounds the stateless packets waiting to be sent;
 * RUDP_EP_SLQ_BUFLEN is the room for each (a RETRY is the largest, about
 * 140 bytes with librudp's tokens). */
#define RUDP_EP_SLQ_LEN 64
#define RUDP_EP_SLQ_BUFLEN 256

/* One queued stateless packet. */
typedef struct rudp_ep_slq_slot {
  uint8_t buf[RUDP_EP_SLQ_BUFLEN];
  size_t len;
  struct sockaddr_storage to;
  socklen_t tolen;
} rudp_ep_slq_slot;

struct rudp_endpoint {
  rudp_endpoint_settings settings;
  rudp_endpoint_callbacks callbacks;
  rudp_callbacks conn_callbacks;
  const rudp_mem *mem;
  void *user_data;
  /* rx is the decrypt buffer the connections share (TLS mode). */
  rudp_conn_rxbuf rx;

  /* hash_key is the SipHash key of the maps. */
  uint64_t hash_key[2];
  rudp_map maps[RUDP_EP_NMAPS];

  /* token_keys sign RETRY tokens (rotating every token_lifetime);
   * reset_secret derives stateless reset tokens from CIDs, fixed for the
   * endpoint's life (a reset must be recomputable for as long as a
   * connection may live): settings.stateless_reset_key if given (so that
   * it outlives the endpoint: a restart, a reuseport group), else drawn
   * at random.  It is the only copy of that key the endpoint keeps. */
  rudp_token_keys token_keys;
  uint8_t reset_secret[RUDP_TOKEN_SECRETLEN];

  /* Timer heap of all live entries. */
  rudp_ep_entry **heap;
  size_t heap_len;
  size_t heap_cap;

  /* Lists (see rudp_ep_entry). */
  rudp_ep_entry *all_head;
  rudp_ep_entry *act_head, *act_tail;
  rudp_ep_entry *aq_head, *aq_tail;
  rudp_ep_entry *dead_head;

  /* Stateless packets to send: a ring of RUDP_EP_SLQ_LEN slots. */
  rudp_ep_slq_slot *slq;
  size_t slq_head;
  size_t slq_len;

  /* Stateless reset rate limit: a token bucket holding |reset_budget|
   * nanotokens (one reset costs RUDP_SECONDS of them) refilled at
   * stateless_reset_rate per second, at most one second's worth. */
  uint64_t reset_budget;
  rudp_tstamp reset_ts;

  /* now is the latest time passed to the endpoint. */
  rudp_tstamp now;
  /* busy counts nested endpoint calls; dead entries are freed and
   * accept_ready is called when the outermost returns. */
  int busy;
  /* accept_ready_pending: connections that joined the accept queue and
   * have not been announced with accept_ready yet. */
  size_t accept_ready_pending;

  /* Current counts; the cumulative counters are in |stats|. */
  size_t nconns;
  size_t half_open;
  size_t accept_queue;
  rudp_endpoint_stats stats;
};

/*
 * rudp_endpoint_forget drops |conn| (a connection of |ep|) at once, as if
 * the endpoint had lost its state: it leaves every table and is deleted
 * with rudp_conn_del, sending nothing and calling no callback.  For tests
 * (stateless reset) and for callers that must discard a connection
 * outside the normal close.  Must not be called from a callback of
 * |conn|.
 */
void rudp_endpoint_forget(rudp_endpoint *ep, rudp_conn *conn);

/*
 * rudp_endpoint_check verifies the endpoint's invariants (heap order and
 * indices, counts, list and map membership).  Returns 0 or
 * RUDP_ERR_INTERNAL.  O(n); for tests and assertions.
 */
int rudp_endpoint_check(const rudp_endpoint *ep);

#endif /* RUDP_ENDPOINT_H */
