/*
 * One stream's state, the send scheduler that orders the streams (and
 * the datagram queue) by urgency, and the queue of streams waiting for
 * the connection's send buffer to drain.
 */
#include "rudp_strm.h"

#include <string.h>

#include "rudp_macro.h"

void rudp_strm_init(rudp_strm *strm, uint64_t id, int has_tx, int has_rx,
                    uint64_t tx_max, uint64_t rx_window, uint64_t rx_max_window,
                    rudp_pool *chunks, rudp_sbuf_release_cb release,
                    void *release_user_data, const rudp_mem *mem,
                    rudp_tstamp now) {
  memset(strm, 0, sizeof(*strm));
  strm->id = id;
  /* Incremental by default (RFC 9218's default is not): round robin
   * among streams is what an application that never sets priorities
   * expects, and what librudp always did. */
  strm->urgency = RUDP_SCHED_DEFAULT_URGENCY;
  strm->incremental = 1;
  strm->sched.kind = RUDP_SCHED_NODE_STRM;
  if (!has_tx) {
    strm->flags |= RUDP_STRM_FLAG_NO_TX;
  }
  if (!has_rx) {
    strm->flags |= RUDP_STRM_FLAG_NO_RX;
  }
  rudp_sbuf_init(&strm->tx, chunks, release, release_user_data, mem);
  rudp_fc_tx_init(&strm->tx_fc, tx_max);
  /* The reorder buffer never needs more than the window's ceiling: the
   * peer may not send beyond our advertised credit. */
  rudp_rob_init(&strm->rx, (size_t)rx_max_window, RUDP_ROB_DEFAULT_MAX_GAPS,
                mem);
  rudp_fc_rx_init(&strm->rx_fc, rx_window, rx_max_window, now);
}

void rudp_strm_free(rudp_strm *strm) {
  if (!strm) {
    return;
  }
  rudp_sbuf_free(&strm->tx);
  rudp_rob_free(&strm->rx);
}

int rudp_strm_tx_done(const rudp_strm *strm) {
  if (strm->flags & RUDP_STRM_FLAG_NO_TX) {
    return 1;
  }
  if (strm->flags & RUDP_STRM_FLAG_TX_RESET) {
    return (strm->flags & RUDP_STRM_FLAG_TX_RESET_ACKED) != 0;
  }
  return (strm->flags & RUDP_STRM_FLAG_TX_FIN_ACKED) &&
         rudp_sbuf_unacked(&strm->tx) == 0;
}

int rudp_strm_rx_done(const rudp_strm *strm) {
  if (strm->flags & RUDP_STRM_FLAG_NO_RX) {
    return 1;
  }
  return (strm->flags &
          (RUDP_STRM_FLAG_RX_FIN_READ | RUDP_STRM_FLAG_RX_RESET)) != 0;
}

int rudp_strm_tx_fin_pending(const rudp_strm *strm) {
  return (strm->flags & (RUDP_STRM_FLAG_TX_FIN | RUDP_STRM_FLAG_TX_FIN_SENT |
                         RUDP_STRM_FLAG_TX_RESET)) == RUDP_STRM_FLAG_TX_FIN &&
         strm->tx.sent == strm->tx_final;
}

int rudp_strm_tx_has_pending(const rudp_strm *strm) {
  if (strm->flags & (RUDP_STRM_FLAG_NO_TX | RUDP_STRM_FLAG_TX_RESET)) {
    return 0;
  }
  return rudp_sbuf_has_pending(&strm->tx) || rudp_strm_tx_fin_pending(strm);
}

/* ------------------------------------------------------------ wait queue */

void rudp_strm_waitq_push(rudp_strm_waitq *q, rudp_strm *strm) {
  if (strm->in_txwait) {
    return;
  }
  strm->in_txwait = 1;
  strm->txwait_next = NULL;
  strm->txwait_prev = q->tail;
  if (q->tail) {
    q->tail->txwait_next = strm;
  } else {
    q->head = strm;
  }
  q->tail = strm;
}

void rudp_strm_waitq_remove(rudp_strm_waitq *q, rudp_strm *strm) {
  if (!strm->in_txwait) {
    return;
  }
  if (strm->txwait_prev) {
    strm->txwait_prev->txwait_next = strm->txwait_next;
  } else {
    q->head = strm->txwait_next;
  }
  if (strm->txwait_next) {
    strm->txwait_next->txwait_prev = strm->txwait_prev;
  } else {
    q->tail = strm->txwait_prev;
  }
  strm->txwait_next = strm->txwait_prev = NULL;
  strm->in_txwait = 0;
}

rudp_strm *rudp_strm_waitq_pop(rudp_strm_waitq *q) {
  rudp_strm *strm = q->head;
  if (strm) {
    rudp_strm_waitq_remove(q, strm);
  }
  return strm;
}

/* ------------------------------------------------------------ scheduler */

/* ring_push_tail appends |node| to urgency |level|'s round robin. */
static void ring_push_tail(rudp_sched *sched, unsigned level,
                           rudp_sched_node *node) {
  rudp_sched_level *lv = &sched->levels[level];
  node->next = NULL;
  node->prev = lv->tail;
  if (lv->tail) {
    lv->tail->next = node;
  } else {
    lv->head = node;
  }
  lv->tail = node;
  node->level = (uint8_t)level;
  node->queued = 1;
  sched->nonempty |= 1u << level;
}

static void ring_remove(rudp_sched *sched, rudp_sched_node *node) {
  rudp_sched_level *lv = &sched->levels[node->level];
  if (node->prev) {
    node->prev->next = node->next;
  } else {
    lv->head = node->next;
  }
  if (node->next) {
    node->next->prev = node->prev;
  } else {
    lv->tail = node->prev;
  }
  node->next = node->prev = NULL;
  node->queued = 0;
  if (!lv->head) {
    sched->nonempty &= ~(1u << node->level);
  }
}

/*
 * The pairing heap (Fredman, Sedgewick, Sleator and Tarjan, 1986): insert
 * and meld O(1), delete-min and delete O(log n) amortized, with three
 * pointers per node and no allocation.  heap_prev of a first child is its
 * parent, of any other child its previous sibling; NULL at the root.
 */

/* heap_meld joins two roots (heap_next and heap_prev NULL) and returns
 * the new root. */
static rudp_strm *heap_meld(rudp_strm *a, rudp_strm *b) {
  rudp_strm *t;
  if (!a) {
    return b;
  }
  if (!b) {
    return a;
  }
  if (b->id < a->id) {
    t = a;
    a = b;
    b = t;
  }
  b->heap_prev = a;
  b->heap_next = a->heap_child;
  if (a->heap_child) {
    a->heap_child->heap_prev = b;
  }
  a->heap_child = b;
  return a;
}

/* heap_merge_pairs melds the sibling list starting at |first| into one
 * heap: pairs left to right, then the pairs right to left (the two-pass
 * rule that gives the amortized bound), iteratively. */
static rudp_strm *heap_merge_pairs(rudp_strm *first) {
  rudp_strm *stack = NULL, *root = NULL;
  while (first) {
    rudp_strm *a = first, *b = first->heap_next;
    first = b ? b->heap_next : NULL;
    a->heap_next = a->heap_prev = NULL;
    if (b) {
      b->heap_next = b->heap_prev = NULL;
      a = heap_meld(a, b);
    }
    a->heap_next = stack; /* the stack of pairs, linked by heap_next */
    stack = a;
  }
  while (stack) {
    rudp_strm *a = stack;
    stack = a->heap_next;
    a->heap_next = NULL;
    root = heap_meld(a, root);
  }
  return root;
}

/* heap_remove takes |strm| out of the heap rooted at |root| and returns
 * the new root. */
static rudp_strm *heap_remove(rudp_strm *root, rudp_strm *strm) {
  rudp_strm *sub;
  if (strm == root) {
    root = heap_merge_pairs(strm->heap_child);
  } else {
    if (strm->heap_prev->heap_child == strm) {
      strm->heap_prev->heap_child = strm->heap_next;
    } else {
      strm->heap_prev->heap_next = strm->heap_next;
    }
    if (strm->heap_next) {
      strm->heap_next->heap_prev = strm->heap_prev;
    }
    sub = heap_merge_pairs(strm->heap_child);
    root = heap_meld(root, sub);
  }
  strm->heap_child = strm->heap_next = strm->heap_prev = NULL;
  return root;
}

void rudp_sched_init(rudp_sched *sched) {
  unsigned i;
  memset(sched, 0, sizeof(*sched));
  for (i = 0; i < RUDP_SCHED_LEVELS; ++i) {
    sched->levels[i].seq_node.kind = RUDP_SCHED_NODE_SEQ;
    sched->levels[i].seq_node.level = (uint8_t)i;
  }
}

void rudp_sched_push(rudp_sched *sched, rudp_strm *strm) {
  rudp_sched_level *lv;
  if (strm->in_sendq) {
    return;
  }
  strm->in_sendq = 1;
  if (strm->incremental) {
    ring_push_tail(sched, strm->urgency, &strm->sched);
    return;
  }
  lv = &sched->levels[strm->urgency];
  lv->seq = heap_meld(lv->seq, strm);
  if (!lv->seq_node.queued) {
    ring_push_tail(sched, strm->urgency, &lv->seq_node);
  }
}

void rudp_sched_remove(rudp_sched *sched, rudp_strm *strm) {
  rudp_sched_level *lv;
  if (!strm->in_sendq) {
    return;
  }
  strm->in_sendq = 0;
  if (strm->incremental) {
    ring_remove(sched, &strm->sched);
    return;
  }
  lv = &sched->levels[strm->urgency];
  lv->seq = heap_remove(lv->seq, strm);
  if (!lv->seq) {
    ring_remove(sched, &lv->seq_node);
  }
}

void rudp_sched_push_node(rudp_sched *sched, rudp_sched_node *node,
                          unsigned level) {
  if (node->queued) {
    return;
  }
  ring_push_tail(sched, level, node);
}

void rudp_sched_remove_node(rudp_sched *sched, rudp_sched_node *node) {
  if (node->queued) {
    ring_remove(sched, node);
  }
}

rudp_sched_node *rudp_sched_top(const rudp_sched *sched) {
  unsigned level;
  if (sched->nonempty == 0) {
    return NULL;
  }
  /* The lowest set bit is the most urgent non-empty level. */
#if defined(__GNUC__)
  level = (unsigned)__builtin_ctz(sched->nonempty);
#else
  for (level = 0; !(sched->nonempty & (1u << level)); ++level) {
  }
#endif
  return sched->levels[level].head;
}

rudp_strm *rudp_sched_node_strm(rudp_sched_node *node) {
  switch (node->kind) {
  case RUDP_SCHED_NODE_STRM:
    return rudp_struct_of(node, rudp_strm, sched);
  case RUDP_SCHED_NODE_SEQ:
    return rudp_struct_of(node, rudp_sched_level, seq_node)->seq;
  default:
    return NULL;
  }
}

void rudp_sched_rotate(rudp_sched *sched, rudp_sched_node *node) {
  unsigned level = node->level;
  if (sched->levels[level].tail == node) {
    return;
  }
  ring_remove(sched, node);
  ring_push_tail(sched, level, node);
}
