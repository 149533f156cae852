/*
 * The endpoint: many connections over one UDP socket, sans-I/O.  See
 * rudp_endpoint.h for the data structures and docs/PROTOCOL.md 7.3 (the
 * server's decisions, in the order implemented by ep_on_connect), 7.5
 * (RETRY), 7.7 (refusal), 8.7 (stateless reset) and 10.9 (NAT
 * rebinding).
 */
#include "rudp_endpoint.h"

#include <string.h>

#include <netinet/in.h>

#include "rudp_conv.h"
#include "rudp_frame.h"
#include "rudp_macro.h"
#include "rudp_mem.h"
#include "rudp_pkt.h"
#include "rudp_tls_openssl.h"

/* The DCID length of a client's first CONNECT (docs/PROTOCOL.md 1.4: at
 * least 8 random bytes). */
#define EP_CLIENT_DCIDLEN 8

/* Stateless reset sizes (docs/PROTOCOL.md 8.7): at least 21 bytes (5
 * before the 16-byte token, as RFC 9000 §10.3), at most 43 (the size RFC
 * 9000 §10.3 suggests; larger resets cost bandwidth and hide nothing
 * more), and always smaller than the datagram that triggered it. */
#define EP_RESET_MINLEN 21
#define EP_RESET_MAXLEN 43

/* How often a fresh random CID is drawn before giving up on a collision
 * (a collision of random 4- to 20-byte IDs is already unlikely). */
#define EP_CID_DRAWS 8

/* ------------------------------------------------------------ settings */

void rudp_endpoint_settings_default(rudp_endpoint_settings *s) {
  memset(s, 0, sizeof(*s));
  rudp_settings_default(&s->conn);
  s->listen = 0;
  s->cidlen = RUDP_DEFAULT_CIDLEN;
  s->max_connections = 4096;
  s->max_half_open = 256;
  s->accept_backlog = 128;
  s->retry = RUDP_RETRY_AUTO;
  s->retry_threshold = 128;
  s->token_lifetime = 10 * RUDP_SECONDS;
  s->stateless_reset_rate = 100;
}

/* ------------------------------------------------------------ hashing */

#define EP_ROTL(X, B) (uint64_t)(((X) << (B)) | ((X) >> (64 - (B))))
#define EP_SIPROUND                                                            \
  do {                                                                         \
    v0 += v1;                                                                  \
    v1 = EP_ROTL(v1, 13);                                                      \
    v1 ^= v0;                                                                  \
    v0 = EP_ROTL(v0, 32);                                                      \
    v2 += v3;                                                                  \
    v3 = EP_ROTL(v3, 16);                                                      \
    v3 ^= v2;                                                                  \
    v0 += v3;                                                                  \
    v3 = EP_ROTL(v3, 21);                                                      \
    v3 ^= v0;                                                                  \
    v2 += v1;                                                                  \
    v1 = EP_ROTL(v1, 17);                                                      \
    v1 ^= v2;                                                                  \
    v2 = EP_ROTL(v2, 32);                                                      \
  } while (0)

/*
 * ep_hash is SipHash-2-4 (Aumasson and Bernstein) of |len| bytes under the
 * endpoint's random key.  The alias map is keyed by values the peer
 * chooses (its address and first DCID): with a secret key it cannot aim
 * its entries at one probe sequence of the table.
 */
static uint64_t ep_hash(const rudp_endpoint *ep, const uint8_t *in,
                        size_t len) {
  uint64_t k0 = ep->hash_key[0], k1 = ep->hash_key[1];
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
  uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
  uint64_t v3 = 0x7465646279746573ULL ^ k1;
  uint64_t b = (uint64_t)len << 56, m;
  size_t i, j;

  for (i = 0; i + 8 <= len; i += 8) {
    m = 0;
    for (j = 0; j < 8; ++j) {
      m |= (uint64_t)in[i + j] << (8 * j);
    }
    v3 ^= m;
    EP_SIPROUND;
    EP_SIPROUND;
    v0 ^= m;
  }
  for (j = 0; i + j < len; ++j) {
    b |= (uint64_t)in[i + j] << (8 * j);
  }
  v3 ^= b;
  EP_SIPROUND;
  EP_SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  EP_SIPROUND;
  EP_SIPROUND;
  EP_SIPROUND;
  EP_SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t ep_cid_key(const rudp_endpoint *ep, const rudp_cid *cid) {
  uint8_t buf[1 + RUDP_MAX_CIDLEN];
  buf[0] = (uint8_t)cid->datalen;
  memcpy(buf + 1, cid->data, cid->datalen);
  return ep_hash(ep, buf, 1 + cid->datalen);
}

static uint64_t ep_alias_key(const rudp_endpoint *ep, const rudp_ep_addr *addr,
                             const rudp_cid *dcid) {
  uint8_t buf[sizeof(addr->canon.data) + 1 + RUDP_MAX_CIDLEN];
  size_t n = addr->canon.len;
  /* The canonical address starts with its family, which fixes its
   * length: the concatenation is unambiguous. */
  memcpy(buf, addr->canon.data, n);
  buf[n++] = (uint8_t)dcid->datalen;
  memcpy(buf + n, dcid->data, dcid->datalen);
  return ep_hash(ep, buf, n + dcid->datalen);
}

/* ------------------------------------------------------------ addresses */

/* ep_addr_set fills |a| from |sa|; returns 0 or RUDP_ERR_INVALID_ARGUMENT. */
static int ep_addr_set(rudp_ep_addr *a, const struct sockaddr *sa,
                       socklen_t salen) {
  socklen_t len;
  if (!sa || rudp_token_addr_from_sockaddr(&a->canon, sa, salen) != 0) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  len = sa->sa_family == AF_INET ? (socklen_t)sizeof(struct sockaddr_in)
                                 : (socklen_t)sizeof(struct sockaddr_in6);
  memset(&a->sa, 0, sizeof(a->sa));
  memcpy(&a->sa, sa, len);
  a->salen = len;
  return 0;
}

static int ep_addr_eq(const rudp_ep_addr *a, const rudp_ep_addr *b) {
  return a->canon.len == b->canon.len &&
         memcmp(a->canon.data, b->canon.data, a->canon.len) == 0;
}

/* ep_addr_ip_eq compares family and IP address, not the port (canonical
 * form: family byte, 2 port bytes, address). */
static int ep_addr_ip_eq(const rudp_ep_addr *a, const rudp_ep_addr *b) {
  return a->canon.len == b->canon.len && a->canon.len >= 3 &&
         a->canon.data[0] == b->canon.data[0] &&
         memcmp(a->canon.data + 3, b->canon.data + 3, a->canon.len - 3) == 0;
}

/* ------------------------------------------------------------ maps */

/*
 * ep_map_add files |e| under |key| in map |m|.  An entry already there
 * with the same 64-bit key (a hash collision) keeps its slot and |e|
 * joins its chain.  Returns 0 or RUDP_ERR_NOMEM.
 */
static int ep_map_add(rudp_endpoint *ep, int m, rudp_ep_entry *e,
                      uint64_t key) {
  rudp_ep_entry *head = rudp_map_find(&ep->maps[m], key);
  e->key[m] = key;
  if (head) {
    e->next[m] = head->next[m];
    head->next[m] = e;
    return 0;
  }
  e->next[m] = NULL;
  return rudp_map_insert(&ep->maps[m], key, e);
}

static void ep_map_del(rudp_endpoint *ep, int m, rudp_ep_entry *e) {
  rudp_ep_entry *head = rudp_map_find(&ep->maps[m], e->key[m]), *p;
  if (head == e) {
    rudp_map_remove(&ep->maps[m], e->key[m]);
    if (e->next[m]) {
      /* Cannot fail: the slot just freed is reused (same length). */
      rudp_map_insert(&ep->maps[m], e->key[m], e->next[m]);
    }
  } else {
    for (p = head; p && p->next[m] != e; p = p->next[m])
      ;
    if (p) {
      p->next[m] = e->next[m];
    }
  }
  e->next[m] = NULL;
}

static rudp_ep_entry *ep_find_cid(const rudp_endpoint *ep,
                                  const rudp_cid *cid) {
  rudp_ep_entry *e =
      rudp_map_find(&ep->maps[RUDP_EP_MAP_CID], ep_cid_key(ep, cid));
  for (; e; e = e->next[RUDP_EP_MAP_CID]) {
    if (rudp_cid_eq(rudp_conn_get_scid(e->conn), cid)) {
      return e;
    }
  }
  return NULL;
}

static rudp_ep_entry *ep_find_alias(const rudp_endpoint *ep,
                                    const rudp_ep_addr *addr,
                                    const rudp_cid *dcid) {
  rudp_ep_entry *e =
      rudp_map_find(&ep->maps[RUDP_EP_MAP_ALIAS], ep_alias_key(ep, addr, dcid));
  for (; e; e = e->next[RUDP_EP_MAP_ALIAS]) {
    if (rudp_cid_eq(&e->alias_dcid, dcid) && ep_addr_eq(&e->alias_addr, addr)) {
      return e;
    }
  }
  return NULL;
}

/* ------------------------------------------------------------ timer heap */

static void ep_heap_swap(rudp_endpoint *ep, size_t i, size_t j) {
  rudp_ep_entry *t = ep->heap[i];
  ep->heap[i] = ep->heap[j];
  ep->heap[j] = t;
  ep->heap[i]->heap_idx = i;
  ep->heap[j]->heap_idx = j;
}

static void ep_heap_up(rudp_endpoint *ep, size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (ep->heap[parent]->expiry <= ep->heap[i]->expiry) {
      break;
    }
    ep_heap_swap(ep, i, parent);
    i = parent;
  }
}

static void ep_heap_down(rudp_endpoint *ep, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, min = i;
    if (l < ep->heap_len && ep->heap[l]->expiry < ep->heap[min]->expiry) {
      min = l;
    }
    if (r < ep->heap_len && ep->heap[r]->expiry < ep->heap[min]->expiry) {
      min = r;
    }
    if (min == i) {
      return;
    }
    ep_heap_swap(ep, i, min);
    i = min;
  }
}

/*
 * ep_heap_set gives |e| the key |expiry|, inserting it if it is outside
 * the heap.  Never allocates: ep_reserve made room for every live entry.
 */
static void ep_heap_set(rudp_endpoint *ep, rudp_ep_entry *e,
                        rudp_tstamp expiry) {
  rudp_tstamp old = e->expiry;
  e->expiry = expiry;
  if (e->heap_idx == RUDP_EP_HEAP_NONE) {
    e->heap_idx = ep->heap_len;
    ep->heap[ep->heap_len++] = e;
    ep_heap_up(ep, e->heap_idx);
  } else if (expiry < old) {
    ep_heap_up(ep, e->heap_idx);
  } else if (expiry > old) {
    ep_heap_down(ep, e->heap_idx);
  }
}

static void ep_heap_remove(rudp_endpoint *ep, rudp_ep_entry *e) {
  size_t i = e->heap_idx;
  if (i == RUDP_EP_HEAP_NONE) {
    return;
  }
  e->heap_idx = RUDP_EP_HEAP_NONE;
  if (i != --ep->heap_len) {
    ep->heap[i] = ep->heap[ep->heap_len];
    ep->heap[i]->heap_idx = i;
    ep_heap_down(ep, i);
    ep_heap_up(ep, i);
  }
}

/* ep_reserve makes room in the heap for one more live entry. */
static int ep_reserve(rudp_endpoint *ep) {
  rudp_ep_entry **h;
  size_t cap;
  if (ep->nconns + 1 <= ep->heap_cap) {
    return 0;
  }
  cap = ep->heap_cap ? ep->heap_cap * 2 : 16;
  h = rudp_mem_realloc(ep->mem, ep->heap, cap * sizeof(*h));
  if (!h) {
    return RUDP_ERR_NOMEM;
  }
  ep->heap = h;
  ep->heap_cap = cap;
  return 0;
}

/* ------------------------------------------------------------ lists */

static void ep_act_push(rudp_endpoint *ep, rudp_ep_entry *e) {
  e->flags |= RUDP_EP_ENTRY_FLAG_ACTIVE;
  e->act_next = NULL;
  e->act_prev = ep->act_tail;
  if (ep->act_tail) {
    ep->act_tail->act_next = e;
  } else {
    ep->act_head = e;
  }
  ep->act_tail = e;
}

static void ep_act_remove(rudp_endpoint *ep, rudp_ep_entry *e) {
  if (!(e->flags & RUDP_EP_ENTRY_FLAG_ACTIVE)) {
    return;
  }
  e->flags &= ~(uint32_t)RUDP_EP_ENTRY_FLAG_ACTIVE;
  if (e->act_prev) {
    e->act_prev->act_next = e->act_next;
  } else {
    ep->act_head = e->act_next;
  }
  if (e->act_next) {
    e->act_next->act_prev = e->act_prev;
  } else {
    ep->act_tail = e->act_prev;
  }
  e->act_prev = e->act_next = NULL;
}

/* ep_mark_active puts |e| on the active list (if it is not there). */
static void ep_mark_active(rudp_endpoint *ep, rudp_ep_entry *e) {
  if (!(e->flags & (RUDP_EP_ENTRY_FLAG_ACTIVE | RUDP_EP_ENTRY_FLAG_DEAD))) {
    ep_act_push(ep, e);
  }
}

static void ep_aq_push(rudp_endpoint *ep, rudp_ep_entry *e) {
  e->flags |= RUDP_EP_ENTRY_FLAG_ACCEPTQ;
  e->aq_next = NULL;
  e->aq_prev = ep->aq_tail;
  if (ep->aq_tail) {
    ep->aq_tail->aq_next = e;
  } else {
    ep->aq_head = e;
  }
  ep->aq_tail = e;
  ++ep->accept_queue;
}

static void ep_aq_remove(rudp_endpoint *ep, rudp_ep_entry *e) {
  if (!(e->flags & RUDP_EP_ENTRY_FLAG_ACCEPTQ)) {
    return;
  }
  e->flags &= ~(uint32_t)RUDP_EP_ENTRY_FLAG_ACCEPTQ;
  if (e->aq_prev) {
    e->aq_prev->aq_next = e->aq_next;
  } else {
    ep->aq_head = e->aq_next;
  }
  if (e->aq_next) {
    e->aq_next->aq_prev = e->aq_prev;
  } else {
    ep->aq_tail = e->aq_prev;
  }
  e->aq_prev = e->aq_next = NULL;
  --ep->accept_queue;
}

/* ------------------------------------------------------------ entries */

/*
 * ep_retire takes a closed connection's entry out of every map, list and
 * the heap and puts it on the dead list; it is freed when the outermost
 * endpoint call returns (the connection may still be on the stack).
 */
static void ep_retire(rudp_endpoint *ep, rudp_ep_entry *e) {
  if (e->flags & RUDP_EP_ENTRY_FLAG_DEAD) {
    return;
  }
  if (e->flags & RUDP_EP_ENTRY_FLAG_HALF_OPEN) {
    --ep->half_open;
  }
  ep_aq_remove(ep, e);
  ep_act_remove(ep, e);
  ep_heap_remove(ep, e);
  ep_map_del(ep, RUDP_EP_MAP_CID, e);
  if (e->flags & RUDP_EP_ENTRY_FLAG_ALIAS) {
    ep_map_del(ep, RUDP_EP_MAP_ALIAS, e);
  }
  if (e->flags & RUDP_EP_ENTRY_FLAG_RESET) {
    ep_map_del(ep, RUDP_EP_MAP_RESET, e);
  }
  if (e->all_prev) {
    e->all_prev->all_next = e->all_next;
  } else {
    ep->all_head = e->all_next;
  }
  if (e->all_next) {
    e->all_next->all_prev = e->all_prev;
  }
  e->all_prev = e->all_next = NULL;
  --ep->nconns;
  e->flags = (e->flags & RUDP_EP_ENTRY_FLAG_SERVER) | RUDP_EP_ENTRY_FLAG_DEAD;
  rudp_conn_set_touch(e->conn, NULL, NULL);
  e->dead_next = ep->dead_head;
  ep->dead_head = e;
}

static void ep_free_dead(rudp_endpoint *ep) {
  while (ep->dead_head) {
    rudp_ep_entry *e = ep->dead_head;
    ep->dead_head = e->dead_next;
    rudp_conn_del(e->conn);
    rudp_mem_free(ep->mem, e);
  }
}

/*
 * ep_kill ends a connection that returned a fatal error (out of memory, a
 * callback failure): the endpoint survives, the connection does not.  It
 * closes silently and its closed callback reports |error|.
 */
static void ep_kill(rudp_ep_entry *e, int error) {
  rudp_conn *conn = e->conn;
  if (rudp_conn_get_state(conn) == RUDP_CONN_STATE_CLOSED) {
    return;
  }
  rudp_conn_close_now(conn, error);
}

/*
 * ep_update brings the endpoint's view of |e| up to date after anything
 * happened to its connection: a closed connection is retired; a server
 * connection leaves the half-open table when the handshake ends and joins
 * the accept queue if it is established, or leaves the queue when it
 * closes; a client registers the server's stateless reset token once
 * known; the timer heap gets the connection's new expiry.
 */
static void ep_update(rudp_endpoint *ep, rudp_ep_entry *e) {
  rudp_conn *conn = e->conn;
  rudp_tstamp expiry;

  if (e->flags & RUDP_EP_ENTRY_FLAG_DEAD) {
    return;
  }
  if (rudp_conn_get_state(conn) == RUDP_CONN_STATE_CLOSED) {
    ep_retire(ep, e);
    return;
  }
  if ((e->flags & RUDP_EP_ENTRY_FLAG_HALF_OPEN) &&
      rudp_conn_get_state(conn) != RUDP_CONN_STATE_ACCEPT_SENT) {
    e->flags &= ~(uint32_t)RUDP_EP_ENTRY_FLAG_HALF_OPEN;
    --ep->half_open;
    if (rudp_conn_is_established(conn)) {
      /* accept() returns after the third message (docs/PROTOCOL.md
       * 7.4); accept_ready is called when the endpoint call returns. */
      ep_aq_push(ep, e);
      ++ep->stats.accepted;
      ++ep->accept_ready_pending;
    }
  }
  if ((e->flags & RUDP_EP_ENTRY_FLAG_ACCEPTQ) &&
      !rudp_conn_is_established(conn)) {
    ep_aq_remove(ep, e); /* closed before the application took it */
  }
  if (!(e->flags & (RUDP_EP_ENTRY_FLAG_SERVER | RUDP_EP_ENTRY_FLAG_RESET))) {
    const rudp_transport_params *p = rudp_conn_get_peer_params(conn);
    if (p && p->stateless_reset_token_present) {
      memcpy(e->reset_token, p->stateless_reset_token,
             RUDP_STATELESS_RESET_TOKENLEN);
      /* Out of memory only delays the registration to the next update. */
      if (ep_map_add(ep, RUDP_EP_MAP_RESET, e,
                     ep_hash(ep, e->reset_token,
                             RUDP_STATELESS_RESET_TOKENLEN)) == 0) {
        e->flags |= RUDP_EP_ENTRY_FLAG_RESET;
      }
    }
  }
  expiry = rudp_conn_get_expiry(conn);
  if ((e->flags & RUDP_EP_ENTRY_FLAG_PATH_UNVALIDATED) && expiry <= ep->now &&
      e->path_sent + conn->max_tx_payload > 3 * e->path_recv) {
    /* The connection wants to send now but the new address's
     * amplification credit is spent: look again in a millisecond rather
     * than report a deadline in the past (a busy loop for the caller).
     * A datagram from the new address adds credit and reschedules it. */
    expiry = ep->now + RUDP_MILLISECONDS;
  }
  ep_heap_set(ep, e, expiry);
}

static void ep_touch(rudp_conn *conn, void *arg) {
  rudp_ep_entry *e = arg;
  rudp_endpoint *ep = e->ep;
  (void)conn;
  if (e->flags & RUDP_EP_ENTRY_FLAG_DEAD) {
    return;
  }
  ep_mark_active(ep, e);
  ep_update(ep, e);
  if (ep->callbacks.work_ready) {
    ep->callbacks.work_ready(ep, ep->user_data);
  }
}

/*
 * ep_register gives |conn| a new entry for |peer| and files it under its
 * CID; ep_reserve must have been called.  On failure nothing is kept and
 * the caller still owns |conn|.  Returns 0 or RUDP_ERR_NOMEM.
 */
static int ep_register(rudp_endpoint *ep, rudp_conn *conn,
                       const rudp_ep_addr *peer, uint32_t flags,
                       rudp_ep_entry **pe) {
  rudp_ep_entry *e = rudp_mem_calloc(ep->mem, 1, sizeof(*e));
  int rv;
  rudp_conn_share_rxbuf(conn, &ep->rx);
  if (!e) {
    return RUDP_ERR_NOMEM;
  }
  e->ep = ep;
  e->conn = conn;
  e->peer = *peer;
  e->heap_idx = RUDP_EP_HEAP_NONE;
  e->flags = flags;
  rv = ep_map_add(ep, RUDP_EP_MAP_CID, e,
                  ep_cid_key(ep, rudp_conn_get_scid(conn)));
  if (rv != 0) {
    rudp_mem_free(ep->mem, e);
    return rv;
  }
  e->all_next = ep->all_head;
  if (ep->all_head) {
    ep->all_head->all_prev = e;
  }
  ep->all_head = e;
  ++ep->nconns;
  rudp_conn_set_touch(conn, ep_touch, e);
  ep_heap_set(ep, e, rudp_conn_get_expiry(conn));
  ep_act_push(ep, e);
  *pe = e;
  return 0;
}

/* ------------------------------------------------------------ randomness */

/* The configured stateless reset key is used as the reset secret as is. */
#if RUDP_STATELESS_RESET_KEYLEN != RUDP_TOKEN_SECRETLEN
#  error "RUDP_STATELESS_RESET_KEYLEN must equal RUDP_TOKEN_SECRETLEN"
#endif

static int ep_rand(rudp_endpoint *ep, uint8_t *dest, size_t len) {
  if (ep->callbacks.rand(dest, len, ep->user_data) != 0) {
    return RUDP_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

/* ep_draw_cid draws a random CID of the endpoint's length that no
 * connection of the endpoint uses. */
static int ep_draw_cid(rudp_endpoint *ep, rudp_cid *cid) {
  int i, rv;
  cid->datalen = ep->settings.cidlen;
  for (i = 0; i < EP_CID_DRAWS; ++i) {
    rv = ep_rand(ep, cid->data, cid->datalen);
    if (rv != 0) {
      return rv;
    }
    if (!ep_find_cid(ep, cid)) {
      return 0;
    }
  }
  return RUDP_ERR_CALLBACK_FAILURE; /* rand returns the same bytes */
}

/* ep_keys_fresh rotates the token secret when its slot has passed. */
static int ep_keys_fresh(rudp_endpoint *ep, rudp_tstamp now) {
  uint8_t secret[RUDP_TOKEN_SECRETLEN];
  int rv;
  if (!rudp_token_keys_need_rotation(&ep->token_keys, now)) {
    return 0;
  }
  rv = ep_rand(ep, secret, sizeof(secret));
  if (rv != 0) {
    return rv;
  }
  rudp_token_keys_rotate(&ep->token_keys, secret, now);
  return 0;
}

/* ------------------------------------------------------------ stateless */

/* ep_slq_reserve returns the next free stateless slot addressed to |to|,
 * or NULL when the queue is full (the answer is dropped and counted). */
static rudp_ep_slq_slot *ep_slq_reserve(rudp_endpoint *ep,
                                        const rudp_ep_addr *to) {
  rudp_ep_slq_slot *s;
  if (ep->slq_len == RUDP_EP_SLQ_LEN) {
    ++ep->stats.datagrams_dropped;
    return NULL;
  }
  s = &ep->slq[(ep->slq_head + ep->slq_len) % RUDP_EP_SLQ_LEN];
  memcpy(&s->to, &to->sa, to->salen);
  s->tolen = to->salen;
  s->len = 0;
  return s;
}

static void ep_slq_commit(rudp_endpoint *ep, rudp_ep_slq_slot *s, size_t len) {
  s->len = len;
  ++ep->slq_len;
}

/*
 * ep_send_refusal answers a CONNECT (|hd|) it cannot take with an ACCEPT
 * carrying CONNECTION_CLOSE (0x1c) with |code| (docs/PROTOCOL.md 7.7):
 * DCID the CONNECT's SCID, SCID its DCID, packet number 0.  Stateless.
 */
static void ep_send_refusal(rudp_endpoint *ep, const rudp_pkt_hd *hd,
                            const rudp_ep_addr *to, uint64_t code) {
  rudp_ep_slq_slot *s;
  rudp_pkt_hd out;
  rudp_frame fr;
  uint8_t frbuf[16];
  rudp_ssize frlen, hdlen;

  memset(&fr, 0, sizeof(fr));
  fr.connection_close.type = RUDP_FRAME_CONNECTION_CLOSE;
  fr.connection_close.error_code = code;
  frlen = rudp_frame_encode(frbuf, sizeof(frbuf), &fr);
  if (frlen < 0) {
    return;
  }
  memset(&out, 0, sizeof(out));
  out.type = RUDP_PKT_ACCEPT;
  out.flags = RUDP_PKT_FLAG_LONG_FORM;
  out.version = RUDP_PROTO_VER_V1;
  out.dcid = hd->scid;
  out.scid = hd->dcid;
  out.pkt_num = 0;
  out.pkt_numlen = 1;
  out.len = out.pkt_numlen + (size_t)frlen + RUDP_PKT_CRCLEN;
  s = ep_slq_reserve(ep, to);
  if (!s) {
    return;
  }
  hdlen = rudp_pkt_encode_hd(s->buf, sizeof(s->buf), &out);
  if (hdlen < 0 ||
      (size_t)hdlen + (size_t)frlen + RUDP_PKT_CRCLEN > sizeof(s->buf)) {
    return;
  }
  memcpy(s->buf + hdlen, frbuf, (size_t)frlen);
  ep_slq_commit(ep, s,
                rudp_pkt_seal_crc_pn(s->buf, (size_t)hdlen + (size_t)frlen, 0));
}

/*
 * ep_send_retry answers a CONNECT (|hd|) with a RETRY: a fresh SCID and a
 * token binding the client's address, the CONNECT's DCID and that SCID
 * (docs/PROTOCOL.md 7.5).  Nothing is allocated.
 */
static int ep_send_retry(rudp_endpoint *ep, const rudp_pkt_hd *hd,
                         const rudp_ep_addr *to, rudp_tstamp now) {
  uint8_t token[RUDP_TOKEN_MAXLEN];
  rudp_ep_slq_slot *s;
  rudp_cid scid;
  rudp_ssize toklen, n;
  int rv;

  rv = ep_draw_cid(ep, &scid);
  if (rv != 0) {
    return rv;
  }
  rv = ep_keys_fresh(ep, now);
  if (rv != 0) {
    return rv;
  }
  toklen = rudp_token_mint(token, sizeof(token), &ep->token_keys, &to->canon,
                           &hd->dcid, &scid, now);
  if (toklen <= 0) {
    return RUDP_ERR_INTERNAL;
  }
  s = ep_slq_reserve(ep, to);
  if (!s) {
    return 0;
  }
  n = rudp_pkt_encode_retry(s->buf, sizeof(s->buf), RUDP_PROTO_VER_V1,
                            &hd->scid, &scid, &hd->dcid, token, (size_t)toklen);
  if (n < 0) {
    return RUDP_ERR_INTERNAL;
  }
  ep_slq_commit(ep, s, (size_t)n);
  ++ep->stats.retries_sent;
  return 0;
}

/*
 * ep_version_negotiation handles a long-header datagram of an unknown
 * version (docs/PROTOCOL.md 6): a listener answers a datagram of at least
 * 1200 bytes with VERSION NEGOTIATION, reading only the
 * version-independent fields; anything else is dropped.
 */
static void ep_version_negotiation(rudp_endpoint *ep, const uint8_t *data,
                                   size_t datalen, const rudp_ep_addr *from) {
  static const uint32_t versions[] = {RUDP_PROTO_VER_V1};
  rudp_ep_slq_slot *s;
  rudp_cid dcid, scid;
  size_t dcil, scil;
  rudp_ssize n;

  /* A VN is much smaller than 1200 bytes: answering only datagrams at
   * least that large, it cannot amplify (and the fields below fit). */
  if (!ep->settings.listen || datalen < RUDP_MIN_UDP_PAYLOAD) {
    ++ep->stats.datagrams_dropped;
    return;
  }
  dcil = data[5];
  if (dcil > RUDP_MAX_CIDLEN || 6 + dcil + 1 > datalen) {
    ++ep->stats.datagrams_dropped;
    return;
  }
  scil = data[6 + dcil];
  if (scil > RUDP_MAX_CIDLEN || 7 + dcil + scil > datalen) {
    ++ep->stats.datagrams_dropped;
    return;
  }
  rudp_cid_init(&dcid, data + 6, dcil);
  rudp_cid_init(&scid, data + 7 + dcil, scil);
  s = ep_slq_reserve(ep, from);
  if (!s) {
    return;
  }
  /* 0x40 in the unused bits, as docs/PROTOCOL.md 2.4 recommends. */
  n = rudp_pkt_encode_version_negotiation(s->buf, sizeof(s->buf), 0x40, &scid,
                                          &dcid, versions,
                                          rudp_arraylen(versions));
  if (n < 0) {
    return;
  }
  ep_slq_commit(ep, s, (size_t)n);
  ++ep->stats.version_negotiations_sent;
}

/*
 * ep_reset_allowed takes a token from the stateless reset bucket
 * (stateless_reset_rate per second, at most a second's worth saved up).
 */
static int ep_reset_allowed(rudp_endpoint *ep, rudp_tstamp now) {
  uint64_t rate =
      rudp_min(ep->settings.stateless_reset_rate, (uint64_t)RUDP_SECONDS);
  uint64_t cap = rate * RUDP_SECONDS;
  if (now > ep->reset_ts) {
    uint64_t elapsed = rudp_min(now - ep->reset_ts, (uint64_t)RUDP_SECONDS);
    ep->reset_budget = rudp_min(cap, ep->reset_budget + elapsed * rate);
    ep->reset_ts = now;
  }
  if (ep->reset_budget < RUDP_SECONDS) {
    return 0;
  }
  ep->reset_budget -= RUDP_SECONDS;
  return 1;
}

/*
 * ep_send_reset answers a short-header datagram for no connection with a
 * stateless reset (docs/PROTOCOL.md 8.7): 0b01 then random bits, random
 * bytes, and the reset token of the datagram's DCID, shorter than the
 * datagram (so two endpoints that both lost state cannot loop: each reset
 * answers a longer datagram, and below 22 bytes nothing is answered).
 */
static int ep_send_reset(rudp_endpoint *ep, const uint8_t *data, size_t datalen,
                         const rudp_ep_addr *from, rudp_tstamp now) {
  size_t cidlen = ep->settings.cidlen, len;
  rudp_ep_slq_slot *s;
  rudp_cid dcid;
  int rv;

  if (!ep->settings.listen || ep->settings.stateless_reset_rate == 0 ||
      !(data[0] & 0x40) || datalen < 1 + cidlen || datalen <= EP_RESET_MINLEN) {
    ++ep->stats.datagrams_dropped;
    return 0;
  }
  if (!ep_reset_allowed(ep, now)) {
    ++ep->stats.stateless_resets_limited;
    ++ep->stats.datagrams_dropped;
    return 0;
  }
  s = ep_slq_reserve(ep, from);
  if (!s) {
    return 0;
  }
  len = rudp_min(datalen - 1, (size_t)EP_RESET_MAXLEN);
  rv = ep_rand(ep, s->buf, len - RUDP_STATELESS_RESET_TOKENLEN);
  if (rv != 0) {
    return rv;
  }
  /* Short header form, fixed bit set, reserved bits clear: it looks like
   * any short packet (spin, key phase and packet-number length random). */
  s->buf[0] = (uint8_t)(0x40 | (s->buf[0] & 0x27));
  rudp_cid_init(&dcid, data + 1, cidlen);
  rudp_token_stateless_reset(s->buf + len - RUDP_STATELESS_RESET_TOKENLEN,
                             ep->reset_secret, &dcid);
  ep_slq_commit(ep, s, len);
  ++ep->stats.stateless_resets_sent;
  return 0;
}

/*
 * ep_check_reset looks the last 16 bytes of a datagram that matched no
 * connection up among the reset tokens servers announced; a match ends
 * that connection (RUDP_ERR_STATELESS_RESET).  Returns nonzero on a match.
 */
static int ep_check_reset(rudp_endpoint *ep, const uint8_t *data,
                          size_t datalen) {
  rudp_ep_entry *e;
  if (datalen < EP_RESET_MINLEN) {
    return 0;
  }
  e = rudp_map_find(&ep->maps[RUDP_EP_MAP_RESET],
                    ep_hash(ep, data + datalen - RUDP_STATELESS_RESET_TOKENLEN,
                            RUDP_STATELESS_RESET_TOKENLEN));
  for (; e; e = e->next[RUDP_EP_MAP_RESET]) {
    if (rudp_conn_is_stateless_reset(e->conn, data, datalen)) {
      rudp_conn_on_stateless_reset(e->conn);
      ep_update(ep, e);
      return 1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------ receiving */

/*
 * ep_deliver hands a datagram to its connection and follows up: a server
 * connection that accepted, from a new address, the largest packet number
 * so far sends there from then on, under the anti-amplification limit
 * until that address is validated (docs/PROTOCOL.md 10.9).
 */
static void ep_deliver(rudp_endpoint *ep, rudp_ep_entry *e, const uint8_t *data,
                       size_t datalen, const rudp_ep_addr *from,
                       rudp_tstamp now) {
  rudp_conn *conn = e->conn;
  int same = ep_addr_eq(&e->peer, from);
  uint64_t largest = conn->acktr.largest;
  int rv;

  if (!same && !(e->flags & RUDP_EP_ENTRY_FLAG_SERVER)) {
    /* A client only listens to the server it connected to (10.9). */
    ++ep->stats.datagrams_dropped;
    return;
  }
  rv = rudp_conn_read_pkt(conn, data, datalen, now);
  if (rv != 0 && rv != RUDP_ERR_INVALID_STATE) {
    ep_kill(e, rv);
  } else if (rv == 0) {
    if (!same) {
      if (conn->acktr.largest != UINT64_MAX &&
          (largest == UINT64_MAX || conn->acktr.largest > largest)) {
        if (!ep_addr_ip_eq(&e->peer, from)) {
          /* A new IP address is a new path: its congestion and RTT
           * state start afresh (a port change alone is a NAT rebinding
           * on the same path). */
          rudp_conn_on_path_change(conn, now);
        }
        e->peer = *from;
        e->flags |= RUDP_EP_ENTRY_FLAG_PATH_UNVALIDATED;
        e->path_recv = datalen;
        e->path_sent = 0;
        e->path_pn = rudp_rtb_next_pkt_num(&conn->rtb);
      }
    } else if (e->flags & RUDP_EP_ENTRY_FLAG_PATH_UNVALIDATED) {
      e->path_recv += datalen;
      /* An acknowledgement, from the new address, of a packet sent
       * there proves the client receives at it. */
      if (conn->rtb.largest_acked != UINT64_MAX &&
          conn->rtb.largest_acked >= e->path_pn) {
        e->flags &= ~(uint32_t)RUDP_EP_ENTRY_FLAG_PATH_UNVALIDATED;
      }
    }
  }
  ep_mark_active(ep, e);
  ep_update(ep, e);
}

/*
 * ep_connect_has_crypto checks a CONNECT for no known connection: it must
 * pass its integrity check and carry a CRYPTO frame (docs/PROTOCOL.md
 * 7.3 step 2; a closing client's CONNECT carries none and must not open a
 * connection or draw an answer).
 */
static int ep_connect_has_crypto(const rudp_pkt_hd *hd, size_t hdlen,
                                 const uint8_t *pkt) {
  uint64_t pn =
      rudp_pkt_decode_pkt_num(UINT64_MAX, hd->pkt_num, hd->pkt_numlen);
  const uint8_t *p = pkt + hdlen;
  size_t len;

  if (hd->pktlen < hdlen + RUDP_PKT_CRCLEN ||
      rudp_pkt_verify_crc_pn(pkt, hd->pktlen, pn) != 0) {
    return 0;
  }
  len = hd->pktlen - hdlen - RUDP_PKT_CRCLEN;
  while (len > 0) {
    rudp_frame fr;
    rudp_ssize n = rudp_frame_decode(&fr, p, len);
    if (n < 0) {
      return 0;
    }
    if (fr.type == RUDP_FRAME_CRYPTO) {
      return 1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/*
 * ep_accept_new allocates a half-open server connection for a CONNECT
 * (docs/PROTOCOL.md 7.3 step 7) and feeds it the datagram.  |retry_scid|
 * (NULL: no RETRY) is the CONNECT's DCID after a RETRY, reused as the
 * connection's CID; |odcid| is the client's original DCID.  Out of memory
 * drops the CONNECT (the client retransmits) rather than failing the
 * endpoint.
 */
static int ep_accept_new(rudp_endpoint *ep, const rudp_pkt_hd *hd,
                         const uint8_t *data, size_t datalen,
                         const rudp_ep_addr *from, const rudp_cid *odcid,
                         const rudp_cid *retry_scid, rudp_tstamp now) {
  uint8_t reset_token[RUDP_STATELESS_RESET_TOKENLEN];
  rudp_ep_entry *e;
  rudp_conn *conn;
  rudp_cid scid;
  int rv;

  if (retry_scid) {
    scid = *retry_scid;
  } else {
    rv = ep_draw_cid(ep, &scid);
    if (rv != 0) {
      return rv;
    }
  }
  if (ep_reserve(ep) != 0) {
    goto drop;
  }
  rv = rudp_conn_server_new(&conn, &hd->scid, odcid, &scid, &ep->settings.conn,
                            &ep->conn_callbacks, ep->mem, NULL, now);
  if (rv != 0) {
    goto drop;
  }
  rudp_token_stateless_reset(reset_token, ep->reset_secret, &scid);
  if (rudp_conn_server_prepare(conn, retry_scid, retry_scid != NULL,
                               reset_token) != 0 ||
      ep_register(ep, conn, from,
                  RUDP_EP_ENTRY_FLAG_SERVER | RUDP_EP_ENTRY_FLAG_HALF_OPEN,
                  &e) != 0) {
    rudp_conn_del(conn);
    goto drop;
  }
  ++ep->half_open;
  e->alias_addr = *from;
  e->alias_dcid = *odcid;
  if (ep_map_add(ep, RUDP_EP_MAP_ALIAS, e, ep_alias_key(ep, from, odcid)) ==
      0) {
    e->flags |= RUDP_EP_ENTRY_FLAG_ALIAS;
  }
  /* Without the alias, retransmitted CONNECTs (before the ACCEPT names
   * our CID) would open a second connection: give up this one. */
  if (!(e->flags & RUDP_EP_ENTRY_FLAG_ALIAS)) {
    ep_retire(ep, e);
    goto drop;
  }
  ep_deliver(ep, e, data, datalen, from, now);
  return 0;

drop:
  ++ep->stats.datagrams_dropped;
  return 0;
}

/*
 * ep_on_connect decides what to do with a CONNECT for no known connection,
 * in the order of docs/PROTOCOL.md 7.3, allocating nothing before the
 * last step.
 */
static int ep_on_connect(rudp_endpoint *ep, const rudp_pkt_hd *hd, size_t hdlen,
                         const uint8_t *data, size_t datalen,
                         const rudp_ep_addr *from, rudp_tstamp now) {
  const rudp_endpoint_settings *st = &ep->settings;
  rudp_cid odcid;
  int validated = 0, rv;

  /* 1. Too small to answer without amplifying, or a short DCID. */
  if (datalen < RUDP_MIN_UDP_PAYLOAD || hd->dcid.datalen < 8) {
    ++ep->stats.datagrams_dropped;
    return 0;
  }
  /* 2. (The known connections were looked up by the caller.) Only a
   * CONNECT that verifies and opens a handshake gets an answer. */
  if (!ep_connect_has_crypto(hd, hdlen, data)) {
    ++ep->stats.datagrams_dropped;
    return 0;
  }
  /* 3. No listener, too many connections, or the accept backlog full. */
  if (!st->listen || ep->nconns >= st->max_connections ||
      ep->accept_queue >= st->accept_backlog) {
    ++ep->stats.refused;
    ep_send_refusal(ep, hd, from, RUDP_CONNECTION_REFUSED);
    return 0;
  }
  /* 4. A token validates the address; an invalid one is refused with
   * INVALID_TOKEN (librudp issues no NEW_TOKEN tokens, so every token is
   * a RETRY token). */
  odcid = hd->dcid;
  if (hd->tokenlen > 0) {
    rv = ep_keys_fresh(ep, now);
    if (rv != 0) {
      return rv;
    }
    if (hd->dcid.datalen != st->cidlen ||
        rudp_token_verify(&ep->token_keys, hd->token, hd->tokenlen,
                          &from->canon, &hd->dcid, now, &odcid) != 0) {
      ++ep->stats.tokens_invalid;
      ep_send_refusal(ep, hd, from, RUDP_INVALID_TOKEN);
      return 0;
    }
    validated = 1;
  }
  /* 5. RETRY when configured, or under load. */
  if (!validated &&
      (st->retry == RUDP_RETRY_ALWAYS ||
       (st->retry == RUDP_RETRY_AUTO &&
        ep->half_open >= rudp_min(st->retry_threshold, st->max_half_open)))) {
    return ep_send_retry(ep, hd, from, now);
  }
  /* 6. Half-open table full. */
  if (ep->half_open >= st->max_half_open) {
    ++ep->stats.refused;
    ep_send_refusal(ep, hd, from, RUDP_CONNECTION_REFUSED);
    return 0;
  }
  /* 7. A half-open connection. */
  return ep_accept_new(ep, hd, data, datalen, from, &odcid,
                       validated ? &hd->dcid : NULL, now);
}

static int ep_read_long(rudp_endpoint *ep, const uint8_t *data, size_t datalen,
                        const rudp_ep_addr *from, rudp_tstamp now) {
  rudp_ep_entry *e;
  rudp_pkt_hd hd;
  rudp_ssize hdlen;
  uint32_t version;

  if (datalen < 7) {
    ++ep->stats.datagrams_dropped;
    return 0;
  }
  rudp_get_uint32be(&version, data + 1);
  if (version != RUDP_PROTO_VER_V1 && version != RUDP_PROTO_VER_NEGOTIATION) {
    ep_version_negotiation(ep, data, datalen, from);
    return 0;
  }
  hdlen = rudp_pkt_decode_hd(&hd, data, datalen, ep->settings.cidlen);
  if (hdlen < 0) {
    ++ep->stats.datagrams_dropped;
    return 0;
  }
  e = ep_find_cid(ep, &hd.dcid);
  if (!e && hd.type == RUDP_PKT_CONNECT) {
    e = ep_find_alias(ep, from, &hd.dcid);
  }
  if (e) {
    ep_deliver(ep, e, data, datalen, from, now);
    return 0;
  }
  if (hd.type == RUDP_PKT_CONNECT) {
    return ep_on_connect(ep, &hd, (size_t)hdlen, data, datalen, from, now);
  }
  ++ep->stats.datagrams_dropped;
  return 0;
}

static int ep_read_short(rudp_endpoint *ep, const uint8_t *data, size_t datalen,
                         const rudp_ep_addr *from, rudp_tstamp now) {
  size_t cidlen = ep->settings.cidlen;
  if (datalen >= 1 + cidlen) {
    rudp_ep_entry *e;
    rudp_cid dcid;
    rudp_cid_init(&dcid, data + 1, cidlen);
    e = ep_find_cid(ep, &dcid);
    if (e) {
      ep_deliver(ep, e, data, datalen, from, now);
      return 0;
    }
  }
  if (ep_check_reset(ep, data, datalen)) {
    return 0;
  }
  return ep_send_reset(ep, data, datalen, from, now);
}

/* ------------------------------------------------------------ API */

static void ep_enter(rudp_endpoint *ep, rudp_tstamp now) {
  ++ep->busy;
  ep->now = now;
}

/*
 * ep_leave ends an endpoint call: the outermost one announces the
 * connections that joined the accept queue and frees the dead entries
 * (no connection is on the stack any more).
 */
static int ep_leave(rudp_endpoint *ep, int rv) {
  if (ep->busy == 1) {
    while (ep->accept_ready_pending > 0 && rv == 0) {
      --ep->accept_ready_pending;
      if (ep->callbacks.accept_ready &&
          ep->callbacks.accept_ready(ep, ep->user_data) != 0) {
        rv = RUDP_ERR_CALLBACK_FAILURE;
      }
    }
    ep_free_dead(ep);
  }
  --ep->busy;
  return rv;
}

/* ep_key_is_zero tells an all-zero stateless reset key: one the caller
 * forgot to fill, which anybody could use to end its connections. */
static int ep_key_is_zero(const uint8_t key[RUDP_STATELESS_RESET_KEYLEN]) {
  uint8_t acc = 0;
  size_t i;
  for (i = 0; i < RUDP_STATELESS_RESET_KEYLEN; ++i) {
    acc |= key[i];
  }
  return acc == 0;
}

int rudp_endpoint_new(rudp_endpoint **pep,
                      const rudp_endpoint_settings *settings,
                      const rudp_endpoint_callbacks *ep_callbacks,
                      const rudp_callbacks *conn_callbacks, const rudp_mem *mem,
                      void *user_data, rudp_tstamp now) {
  uint8_t secret[RUDP_TOKEN_SECRETLEN];
  uint8_t hk[16];
  rudp_endpoint *ep;
  rudp_conn *probe;
  rudp_cid dcid, scid;
  int rv, i;

  if (!pep || !settings || !ep_callbacks || !ep_callbacks->rand ||
      settings->cidlen < 4 || settings->cidlen > RUDP_MAX_CIDLEN ||
      settings->token_lifetime == 0 || settings->retry > RUDP_RETRY_NEVER ||
      (settings->has_stateless_reset_key &&
       ep_key_is_zero(settings->stateless_reset_key))) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (!mem) {
    mem = rudp_mem_default();
  }
  /* The connection settings are checked once here, by the connection
   * constructor itself, rather than failing every CONNECT later. */
  memset(&dcid, 0, sizeof(dcid));
  dcid.datalen = EP_CLIENT_DCIDLEN;
  memset(&scid, 0, sizeof(scid));
  scid.datalen = settings->cidlen;
  {
    /* Without TLS: a server's context cannot make a client session, and
     * contexts are checked when connections are made. */
    rudp_settings cs = settings->conn;
    cs.tls = NULL;
    rv = rudp_conn_client_new(&probe, &dcid, &scid, &cs, NULL, mem, NULL, now);
  }
  if (rv != 0) {
    return rv;
  }
  rudp_conn_del(probe);

  ep = rudp_mem_calloc(mem, 1, sizeof(*ep));
  if (!ep) {
    return RUDP_ERR_NOMEM;
  }
  ep->settings = *settings;
  ep->callbacks = *ep_callbacks;
  if (conn_callbacks) {
    ep->conn_callbacks = *conn_callbacks;
  }
  ep->mem = mem;
  ep->user_data = user_data;
  ep->now = now;
  for (i = 0; i < RUDP_EP_NMAPS; ++i) {
    rudp_map_init(&ep->maps[i], mem);
  }
  /* The hash and RETRY token keys are always this endpoint's own: a
   * token is only ever checked where it was issued (docs/SCALING.md).  The
   * reset key may be given, so that resets outlive the endpoint. */
  if (settings->has_stateless_reset_key) {
    memcpy(ep->reset_secret, settings->stateless_reset_key,
           sizeof(ep->reset_secret));
    /* Keep a single copy of the secret, the one in use. */
    memset(ep->settings.stateless_reset_key, 0,
           sizeof(ep->settings.stateless_reset_key));
  }
  if (ep_rand(ep, hk, sizeof(hk)) != 0 ||
      ep_rand(ep, secret, sizeof(secret)) != 0 ||
      (!settings->has_stateless_reset_key &&
       ep_rand(ep, ep->reset_secret, sizeof(ep->reset_secret)) != 0)) {
    rv = RUDP_ERR_CALLBACK_FAILURE;
    goto fail_rand;
  }
  rudp_get_uint64be(&ep->hash_key[0], hk);
  rudp_get_uint64be(&ep->hash_key[1], hk + 8);
  rudp_token_keys_init(&ep->token_keys, secret, settings->token_lifetime, now);
  ep->slq = rudp_mem_calloc(mem, RUDP_EP_SLQ_LEN, sizeof(*ep->slq));
  if (!ep->slq) {
    rv = RUDP_ERR_NOMEM;
    goto fail_slq;
  }
  if (ep_reserve(ep) != 0) {
    rv = RUDP_ERR_NOMEM;
    goto fail_heap;
  }
  ep->reset_budget =
      rudp_min(settings->stateless_reset_rate, (uint64_t)RUDP_SECONDS) *
      RUDP_SECONDS;
  ep->reset_ts = now;
  /* The settings keep the TLS context and the server name for every
   * connection to come: hold a reference and a copy of our own. */
  if (settings->conn.tls_server_name) {
    size_t n = strlen(settings->conn.tls_server_name) + 1;
    char *name = rudp_mem_malloc(mem, n);
    if (!name) {
      rv = RUDP_ERR_NOMEM;
      rudp_mem_free(mem, ep->heap);
      goto fail_heap;
    }
    memcpy(name, settings->conn.tls_server_name, n);
    ep->settings.conn.tls_server_name = name;
  }
  rudp_tls_ctx_ref(settings->conn.tls);
  *pep = ep;
  return 0;

fail_heap:
  rudp_mem_free(mem, ep->slq);
fail_slq:
fail_rand:
  rudp_mem_free(mem, ep);
  return rv;
}

void rudp_endpoint_del(rudp_endpoint *ep) {
  int i;
  if (!ep) {
    return;
  }
  while (ep->all_head) {
    rudp_ep_entry *e = ep->all_head;
    ep->all_head = e->all_next;
    rudp_conn_del(e->conn);
    rudp_mem_free(ep->mem, e);
  }
  ep_free_dead(ep);
  for (i = 0; i < RUDP_EP_NMAPS; ++i) {
    rudp_map_free(&ep->maps[i]);
  }
  rudp_mem_free(ep->mem, ep->heap);
  rudp_mem_free(ep->mem, ep->slq);
  rudp_mem_free(ep->mem, ep->rx.buf);
  rudp_tls_ctx_free(ep->settings.conn.tls);
  rudp_mem_free(ep->mem, (char *)(uintptr_t)ep->settings.conn.tls_server_name);
  rudp_mem_free(ep->mem, ep);
}

int rudp_endpoint_read(rudp_endpoint *ep, const uint8_t *data, size_t datalen,
                       const struct sockaddr *from, socklen_t fromlen,
                       rudp_tstamp now) {
  rudp_ep_addr addr;
  int rv;

  if (!ep || (!data && datalen) || ep_addr_set(&addr, from, fromlen) != 0) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  ep_enter(ep, now);
  if (datalen == 0) {
    ++ep->stats.datagrams_dropped;
    rv = 0;
  } else if (data[0] & 0x80) {
    rv = ep_read_long(ep, data, datalen, &addr, now);
  } else {
    rv = ep_read_short(ep, data, datalen, &addr, now);
  }
  return ep_leave(ep, rv);
}

rudp_ssize rudp_endpoint_write(rudp_endpoint *ep, uint8_t *out, size_t outlen,
                               struct sockaddr_storage *to, socklen_t *tolen,
                               rudp_tstamp now) {
  rudp_ssize n = 0;
  rudp_ep_entry *e;
  int rv;

  if (!ep || !out || !to || !tolen || outlen < RUDP_MIN_UDP_PAYLOAD) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  ep_enter(ep, now);
  if (ep->slq_len > 0) {
    /* Stateless answers first: they are small and time-critical. */
    rudp_ep_slq_slot *s = &ep->slq[ep->slq_head];
    memcpy(out, s->buf, s->len);
    memcpy(to, &s->to, s->tolen);
    *tolen = s->tolen;
    n = (rudp_ssize)s->len;
    ep->slq_head = (ep->slq_head + 1) % RUDP_EP_SLQ_LEN;
    --ep->slq_len;
    rv = ep_leave(ep, 0);
    return rv < 0 ? rv : n;
  }
  while ((e = ep->act_head) != NULL) {
    size_t cap = outlen;
    if (e->flags & RUDP_EP_ENTRY_FLAG_PATH_UNVALIDATED) {
      uint64_t allowed = 3 * e->path_recv;
      cap = allowed > e->path_sent
                ? (size_t)rudp_min((uint64_t)outlen, allowed - e->path_sent)
                : 0;
    }
    n = cap ? rudp_conn_write_pkt(e->conn, out, cap, now) : 0;
    if (n < 0) {
      ep_kill(e, (int)n);
      ep_update(ep, e);
      n = 0;
      continue;
    }
    if (n == 0) {
      /* Nothing to send now: off the list until a packet, a timer or an
       * API call gives it something. */
      ep_act_remove(ep, e);
      ep_update(ep, e);
      continue;
    }
    memcpy(to, &e->peer.sa, e->peer.salen);
    *tolen = e->peer.salen;
    if (e->flags & RUDP_EP_ENTRY_FLAG_PATH_UNVALIDATED) {
      e->path_sent += (uint64_t)n;
    }
    /* Round robin: the next call serves the next connection. */
    ep_act_remove(ep, e);
    ep_act_push(ep, e);
    ep_update(ep, e);
    break;
  }
  rv = ep_leave(ep, 0);
  return rv < 0 ? rv : n;
}

rudp_tstamp rudp_endpoint_get_expiry(const rudp_endpoint *ep) {
  return ep->heap_len ? ep->heap[0]->expiry : RUDP_TSTAMP_MAX;
}

int rudp_endpoint_handle_expiry(rudp_endpoint *ep, rudp_tstamp now) {
  rudp_ep_entry *due = NULL, **tail = &due, *e;
  int rv;

  ep_enter(ep, now);
  /* Take the due entries out first: a connection whose timer stays in the
   * past must not be run twice in one call. */
  while (ep->heap_len > 0 && ep->heap[0]->expiry <= now) {
    e = ep->heap[0];
    ep_heap_remove(ep, e);
    e->due_next = NULL;
    *tail = e;
    tail = &e->due_next;
  }
  for (e = due; e; e = e->due_next) {
    if (e->flags & RUDP_EP_ENTRY_FLAG_DEAD) {
      continue; /* retired meanwhile by another connection's callback */
    }
    rv = rudp_conn_handle_expiry(e->conn, now);
    if (rv != 0) {
      ep_kill(e, rv);
    }
    ep_mark_active(ep, e);
    ep_update(ep, e);
  }
  return ep_leave(ep, 0);
}

int rudp_endpoint_connect(rudp_endpoint *ep, const struct sockaddr *to,
                          socklen_t tolen, const rudp_settings *settings,
                          void *conn_user_data, rudp_conn **pconn,
                          rudp_tstamp now) {
  rudp_ep_addr addr;
  rudp_ep_entry *e;
  rudp_conn *conn;
  rudp_cid dcid, scid;
  int rv;

  if (!ep || !pconn || ep_addr_set(&addr, to, tolen) != 0) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (ep->nconns >= ep->settings.max_connections) {
    return RUDP_ERR_CONNECTION_REFUSED;
  }
  rv = ep_reserve(ep);
  if (rv != 0) {
    return rv;
  }
  dcid.datalen = EP_CLIENT_DCIDLEN;
  rv = ep_rand(ep, dcid.data, dcid.datalen);
  if (rv != 0) {
    return rv;
  }
  rv = ep_draw_cid(ep, &scid);
  if (rv != 0) {
    return rv;
  }
  rv = rudp_conn_client_new(&conn, &dcid, &scid,
                            settings ? settings : &ep->settings.conn,
                            &ep->conn_callbacks, ep->mem, conn_user_data, now);
  if (rv != 0) {
    return rv;
  }
  rv = ep_register(ep, conn, &addr, 0, &e);
  if (rv != 0) {
    rudp_conn_del(conn);
    return rv;
  }
  *pconn = conn;
  return 0;
}

size_t rudp_endpoint_on_unreachable(rudp_endpoint *ep,
                                    const struct sockaddr *to,
                                    socklen_t tolen) {
  rudp_ep_addr addr;
  size_t i, n = 0;
  if (!ep || ep_addr_set(&addr, to, tolen) != 0) {
    return 0;
  }
  ep_enter(ep, ep->now);
  /* Rare (an ICMP error): a rescan after each connection ended keeps the
   * walk simple while ep_update reorders the heap. */
  for (i = 0; i < ep->heap_len;) {
    rudp_ep_entry *e = ep->heap[i];
    if (!(e->flags & RUDP_EP_ENTRY_FLAG_DEAD) && ep_addr_eq(&e->peer, &addr) &&
        rudp_conn_get_state(e->conn) == RUDP_CONN_STATE_CONNECT_SENT) {
      rudp_conn_close_now(e->conn, RUDP_ERR_CONNECTION_REFUSED);
      ep_update(ep, e);
      ++n;
      i = 0;
    } else {
      ++i;
    }
  }
  ep_leave(ep, 0);
  return n;
}

rudp_conn *rudp_endpoint_accept(rudp_endpoint *ep) {
  rudp_ep_entry *e = ep->aq_head;
  if (!e) {
    return NULL;
  }
  ep_aq_remove(ep, e);
  e->flags |= RUDP_EP_ENTRY_FLAG_ACCEPTED;
  return e->conn;
}

void rudp_endpoint_get_stats(const rudp_endpoint *ep,
                             rudp_endpoint_stats *stats) {
  *stats = ep->stats;
  stats->connections = ep->nconns;
  stats->half_open = ep->half_open;
  stats->accept_queue = ep->accept_queue;
}

/* ------------------------------------------------------------ internal */

void rudp_endpoint_forget(rudp_endpoint *ep, rudp_conn *conn) {
  rudp_ep_entry *e = conn->touch_arg;
  if (conn->touch != ep_touch || !e || e->ep != ep || e->conn != conn) {
    return;
  }
  ep_retire(ep, e);
  if (ep->busy == 0) {
    ep_free_dead(ep);
  }
}

int rudp_endpoint_check(const rudp_endpoint *ep) {
  const rudp_ep_entry *e;
  size_t i, n = 0, half = 0, aq = 0;

  for (i = 0; i < ep->heap_len; ++i) {
    if (ep->heap[i]->heap_idx != i ||
        (i > 0 && ep->heap[(i - 1) / 2]->expiry > ep->heap[i]->expiry)) {
      return RUDP_ERR_INTERNAL;
    }
  }
  for (e = ep->all_head; e; e = e->all_next) {
    ++n;
    if (e->flags & RUDP_EP_ENTRY_FLAG_DEAD) {
      return RUDP_ERR_INTERNAL;
    }
    if (e->flags & RUDP_EP_ENTRY_FLAG_HALF_OPEN) {
      ++half;
    }
    if (ep->busy == 0 && (e->heap_idx == RUDP_EP_HEAP_NONE ||
                          e->expiry != rudp_conn_get_expiry(e->conn))) {
      if (!(e->flags & RUDP_EP_ENTRY_FLAG_PATH_UNVALIDATED)) {
        return RUDP_ERR_INTERNAL;
      }
    }
    if (ep_find_cid(ep, rudp_conn_get_scid(e->conn)) != e) {
      return RUDP_ERR_INTERNAL;
    }
    if ((e->flags & RUDP_EP_ENTRY_FLAG_ALIAS) &&
        ep_find_alias(ep, &e->alias_addr, &e->alias_dcid) != e) {
      return RUDP_ERR_INTERNAL;
    }
  }
  for (e = ep->aq_head; e; e = e->aq_next) {
    if (!(e->flags & RUDP_EP_ENTRY_FLAG_ACCEPTQ)) {
      return RUDP_ERR_INTERNAL;
    }
    ++aq;
  }
  if (n != ep->nconns || half != ep->half_open || aq != ep->accept_queue ||
      (ep->busy == 0 && (ep->heap_len != n || ep->dead_head))) {
    return RUDP_ERR_INTERNAL;
  }
  return 0;
}
