/*
 * Messages over a connection (include/rudp/rudp_msg.h, docs/MESSAGES.md):
 * channels with four delivery modes mapped onto the public stream and
 * datagram API of rudp.h.  This file uses nothing of the connection's
 * internals; it is a client of rudp_conn_* like any application.
 *
 * Wire format (docs/MESSAGES.md, "Wire format"):
 *
 *   every stream is unidirectional, opened by the sender, and starts with
 *   a varint tag: 0 = the channel-table announcement, c + 1 = channel c.
 *     announcement:       tag 0, version (1), nchannels, one mode byte
 *                         per channel, FIN
 *     reliable-ordered:   tag, then (varint length, payload)* (no FIN)
 *     reliable-unordered: tag, varint msg_id, varint length, payload, FIN
 *   every datagram is one message or one fragment of one:
 *     varint (channel << 1 | F), varint seq, [F: varint index, varint
 *     count, varint total length], payload
 *   A fragmented message of T bytes in N fragments is split evenly:
 *   fragment i has T / N bytes, plus one if i < T % N.  The split is
 *   implied, so the receiver checks every fragment's length exactly.
 */
#include "rudp_macro.h"

#include <assert.h>
#include <string.h>

#include <rudp/rudp.h>
#include <rudp/rudp_msg.h>

#include "rudp_conv.h"
#include "rudp_map.h"
#include "rudp_mem.h"

/* MSG_VERSION is the version in the channel-table announcement. */
#define MSG_VERSION 1
/* MSG_TAG_CONTROL is the stream tag of the announcement. */
#define MSG_TAG_CONTROL 0
/* MSG_TXBUF_MAGIC marks a live send buffer (a check on the release path,
 * where the connection hands back an opaque pointer). */
#define MSG_TXBUF_MAGIC 0x6d736762u
/* MSG_RX_PREALLOC: a reliable message up to this size gets its buffer at
 * once; a longer one grows with the data received, so a peer cannot make
 * us reserve memory for bytes it has not sent (flow control bounds those).
 * Above the allocator's mmap threshold growing is a page remap, not a
 * copy, with the default allocator. */
#define MSG_RX_PREALLOC (64u * 1024u)
/* MSG_RX_KEEP: an ordered channel's receive buffer larger than this is
 * freed after delivery rather than kept for the next message. */
#define MSG_RX_KEEP (64u * 1024u)
/* MSG_LOSS_SNAPS snapshots of (sent, lost), one every MSG_LOSS_STEP
 * packets sent, reach more than RUDP_MSG_LOSS_WINDOW back. */
#define MSG_LOSS_STEP (RUDP_MSG_LOSS_WINDOW / 8)
#define MSG_LOSS_SNAPS 10
/* MSG_MIN_TOMBS: the least number of remembered abandoned messages. */
#define MSG_MIN_TOMBS 32
/* MSG_MIN_DGRAM is the smallest usable datagram payload. */
#define MSG_MIN_DGRAM 64
/* MSG_AUTO_PKT is the packet size the automatic fragment size assumes. */
#define MSG_AUTO_PKT RUDP_MIN_UDP_PAYLOAD
/* MSG_AUTO_PROTECT is the room left in such a packet for its integrity
 * check (CRC32C: 4 bytes; an AEAD tag: 16) with margin to spare. */
#define MSG_AUTO_PROTECT 32

/* MSG_PARTIAL: a datagram after the first of a message was refused. */
#define MSG_PARTIAL 1

/* An empty message is delivered from here (never a NULL pointer). */
static const uint8_t msg_empty[1];

/* ------------------------------------------------------------ structures */

typedef struct msg_txbuf msg_txbuf;

/*
 * msg_txbuf is one reliable message on its way: the wire bytes (header
 * and payload) in one allocation, handed to the connection by reference
 * (rudp_conn_stream_write_ref) and freed when the connection releases it
 * (acknowledged, stream reset or connection deleted).  While the session
 * lives it is on the session's |live| list; when the session is deleted
 * first, |session| becomes NULL and the release just frees it.
 */
struct msg_txbuf {
  /* magic is MSG_TXBUF_MAGIC while the buffer is live. */
  uint32_t magic;
  /* channel is the message's channel. */
  uint32_t channel;
  /* handed is nonzero once the connection holds the buffer. */
  int handed;
  /* session owns the buffer's accounting; NULL once orphaned. */
  rudp_msg_session *session;
  /* mem frees the buffer (it outlives the session). */
  const rudp_mem *mem;
  /* prev, next: the session's list of live buffers. */
  msg_txbuf *prev, *next;
  /* qnext: the queue of buffers waiting for a stream. */
  msg_txbuf *qnext;
  /* len is the number of wire bytes in data. */
  size_t len;
  uint8_t data[];
};

/* msg_chan is one channel's state. */
typedef struct msg_chan {
  /* send side: next_id numbers messages (the sequence number of
   * unreliable channels). */
  uint64_t next_id;
  /* tx_stream is the ordered channel's stream, -1 until opened. */
  int64_t tx_stream;
  /* pend_head, pend_tail: the ordered channel's messages waiting for its
   * stream to open. */
  msg_txbuf *pend_head, *pend_tail;
  /* want_writable is set when a send was refused with WOULDBLOCK;
   * conn_blocked when the refusal was the connection's send buffer being
   * full (the channel then waits for that to drain, not its own queue). */
  int want_writable;
  int conn_blocked;
  /* urgency, incremental: the priority given to the channel's streams
   * (rudp_msg_session_set_channel_priority; reliable channels). */
  uint8_t urgency;
  uint8_t incremental;
  /* receive side: rx_next_id numbers the ordered channel's messages;
   * rx_stream is the peer's ordered stream (-1 until seen). */
  uint64_t rx_next_id;
  int64_t rx_stream;
  /* have_newest, newest: the newest sequence number delivered on a
   * sequenced channel. */
  int have_newest;
  uint64_t newest;
  /* st are the channel's counters (mode included). */
  rudp_msg_channel_stats st;
} msg_chan;

/* Phases of a received stream. */
enum {
  RX_TAG,      /* the stream's tag */
  RX_ID,       /* unordered: the message id */
  RX_LEN,      /* a message length (ordered: a message boundary) */
  RX_BODY,     /* a message's payload */
  RX_FIN,      /* unordered and control: only the FIN may follow */
  RX_CTL_VER,  /* control: the version */
  RX_CTL_N,    /* control: the channel count */
  RX_CTL_MODES /* control: the modes */
};

/* msg_rx is a stream the peer opened, being read. */
typedef struct msg_rx {
  int64_t stream_id;
  int phase;
  /* chan is the channel (-1: the control stream, -2: tag not read). */
  int chan;
  /* fin is set once the stream's end was read: nothing more comes. */
  int fin;
  /* vbuf holds a varint being read (vhave bytes so far). */
  uint8_t vbuf[8];
  size_t vhave;
  /* msg_id of the unordered message. */
  uint64_t msg_id;
  /* body receives a message: bodylen expected, bodyhave read, bodycap
   * allocated. */
  uint8_t *body;
  size_t bodylen, bodyhave, bodycap;
} msg_rx;

typedef struct msg_reasm msg_reasm;

/* msg_reasm is one fragmented unreliable message being reassembled. */
struct msg_reasm {
  /* prev, next: the FIFO of messages in arrival order of their first
   * fragment (the oldest is evicted first); on the free list, next. */
  msg_reasm *prev, *next;
  unsigned channel;
  uint64_t seq;
  /* count fragments expected, received so far; total bytes. */
  uint32_t count, received;
  size_t total;
  /* started is when the first fragment arrived (session clock). */
  rudp_tstamp started;
  /* buf holds |total| bytes, then a bitmap of received fragments. */
  uint8_t *buf;
};

/* msg_tomb remembers an abandoned message so that its late fragments are
 * discarded instead of starting (and counting) it again. */
typedef struct msg_tomb {
  uint64_t seq;
  uint32_t channel;
  uint32_t used;
} msg_tomb;

/*
 * msg_dq mirrors one datagram the session handed to the connection's
 * datagram queue, so that queued_msgs / queued_bytes count unreliable
 * messages until they are put in a packet.  The connection's queue is a
 * FIFO consumed from its head (sent in order; when full, its oldest entry
 * is dropped), and the session is its only writer: so the datagrams still
 * queued are exactly the newest rudp_conn_stats.datagrams_queued of those
 * the session pushed, and a poll pops the others from the head of the
 * mirror (dq_sync).  Each entry is pushed once and popped once: O(1)
 * amortized.
 */
typedef struct msg_dq {
  /* len is the datagram's length (message header included). */
  uint32_t len;
  uint16_t channel;
  /* last: the message's last datagram (its queued_msgs ends with it). */
  uint8_t last;
} msg_dq;

/* msg_snap is a loss-window snapshot of the connection's counters. */
typedef struct msg_snap {
  uint64_t sent, lost;
} msg_snap;

struct rudp_msg_session {
  rudp_conn *conn;
  const rudp_mem *mem;
  rudp_msg_settings settings;
  rudp_msg_callbacks callbacks;
  void *user_data;
  /* error is the sticky error that failed the session (0: none). */
  int error;
  size_t nchannels;
  msg_chan *chans;
  /* modes as announced (one byte each). */
  uint8_t *modes;
  /* rx maps the peer's stream IDs to their msg_rx. */
  rudp_map rx;
  /* live lists every msg_txbuf of the session; uq_head/uq_tail queue the
   * unordered messages waiting for a stream; npending counts the buffers
   * not yet handed to the connection. */
  msg_txbuf *live;
  msg_txbuf *uq_head, *uq_tail;
  size_t npending;
  /* handed is the bytes of the buffers the connection holds (handed over,
   * not yet released).  The connection bounds what all its streams hold
   * (rudp_settings.max_send_buffer): when it is full, conn_full is set,
   * channels that had a message refused are conn_blocked, and they are
   * woken once |handed| falls to conn_resume (half of it then: about the
   * connection's own low-water mark, as this session is the connection's
   * writer); tx_held is set when messages already accepted wait for room
   * in the connection. */
  uint64_t handed;
  int conn_full;
  uint64_t conn_resume;
  int tx_held;
  /* wake_next is the channel conn_unblock starts from. */
  size_t wake_next;
  /* hello_sent: the channel table was announced.  open_next: the ordered
   * channels below it have their stream open (see open_chans). */
  int hello_sent;
  size_t open_next;
  /* dgram_payload is the fragment size in use (0: not computed yet);
   * scratch (scratchcap bytes) builds each datagram. */
  size_t dgram_payload;
  uint8_t *scratch;
  size_t scratchcap;
  /* Reassembly: |slots| (max_reassembly entries), the FIFO of messages in
   * progress (rq_head oldest), the free list, counts and bytes. */
  msg_reasm *slots;
  msg_reasm *rq_head, *rq_tail, *rq_free;
  size_t nreasm;
  uint64_t reasm_bytes;
  /* tombs is a ring of ntombs abandoned messages; tomb_next the slot to
   * overwrite next. */
  msg_tomb *tombs;
  size_t ntombs, tomb_next;
  /* now is the last time given to handle_expiry; now_set once given. */
  rudp_tstamp now;
  int now_set;
  /* dq is a ring (dqcap entries, dq_len from dq_head) mirroring the
   * session's datagrams in the connection's queue, dq_bytes their length;
   * dq_ahead counts datagrams queued before the session existed, ahead of
   * its own (the connection sends them first).  dq_off is set once the
   * connection's queue held datagrams the session did not queue (the
   * application sent some itself): the mirror is then abandoned and
   * unreliable messages no longer counted as queued. */
  msg_dq *dq;
  size_t dqcap, dq_head, dq_len;
  uint64_t dq_bytes, dq_ahead;
  int dq_off;
  /* Loss window: a ring of snapshots, snap_head the oldest. */
  msg_snap snaps[MSG_LOSS_SNAPS];
  size_t snap_head, nsnaps;
  /* tot sums the channels' counters (the rest of it is filled on
   * demand). */
  rudp_msg_stats tot;
};

/* ------------------------------------------------------------ helpers */

/* msg_fail makes |rv| the session's sticky error and returns it. */
static int msg_fail(rudp_msg_session *s, int rv) {
  if (s->error == 0) {
    s->error = rv;
  }
  return s->error;
}

/* get_varint decodes a varint from [*pp, end); returns 0 or -1. */
static int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *pv) {
  size_t n;
  if (*pp >= end) {
    return -1;
  }
  n = rudp_varint_len_from_first(**pp);
  if ((size_t)(end - *pp) < n) {
    return -1;
  }
  *pp = rudp_get_varint(pv, *pp);
  return 0;
}

/* frag_len and frag_off give fragment |i| of an even split of |total|
 * bytes into |count| fragments (see the file comment). */
static size_t frag_len(size_t total, size_t count, size_t i) {
  return total / count + (i < total % count ? 1 : 0);
}

static size_t frag_off(size_t total, size_t count, size_t i) {
  return i * (total / count) + rudp_min(i, total % count);
}

static int mode_reliable(rudp_msg_mode m) {
  return m == RUDP_MSG_RELIABLE_ORDERED || m == RUDP_MSG_RELIABLE_UNORDERED;
}

/* Counter updates: the channel's and the session's totals together. */
static void stat_sent(rudp_msg_session *s, msg_chan *ch, size_t len) {
  ++ch->st.msgs_sent;
  ch->st.bytes_sent += len;
  ++s->tot.msgs_sent;
  s->tot.bytes_sent += len;
}

static void stat_queued_add(rudp_msg_session *s, msg_chan *ch, size_t len) {
  ++ch->st.queued_msgs;
  ch->st.queued_bytes += len;
  ++s->tot.queued_msgs;
  s->tot.queued_bytes += len;
}

static void stat_queued_sub(rudp_msg_session *s, msg_chan *ch, size_t len) {
  --ch->st.queued_msgs;
  ch->st.queued_bytes -= len;
  --s->tot.queued_msgs;
  s->tot.queued_bytes -= len;
}

static void stat_dropped_old(rudp_msg_session *s, msg_chan *ch) {
  ++ch->st.dropped_old;
  ++s->tot.dropped_old;
}

static void stat_dropped_incomplete(rudp_msg_session *s, msg_chan *ch) {
  ++ch->st.dropped_incomplete;
  ++s->tot.dropped_incomplete;
}

/* ------------------------------------------------------------ dgram mirror */

/* dq_reserve makes room in the mirror for |n| more entries; returns 0 or
 * RUDP_ERR_NOMEM (before anything is queued, so the mirror stays exact). */
static int dq_reserve(rudp_msg_session *s, size_t n) {
  msg_dq *p;
  size_t cap, i;
  if (s->dq_off || s->dq_len + n <= s->dqcap) {
    return 0;
  }
  cap = s->dqcap ? s->dqcap : 64;
  while (cap < s->dq_len + n) {
    cap *= 2;
  }
  p = rudp_mem_malloc(s->mem, cap * sizeof(*p));
  if (!p) {
    return RUDP_ERR_NOMEM;
  }
  for (i = 0; i < s->dq_len; ++i) {
    p[i] = s->dq[(s->dq_head + i) % s->dqcap];
  }
  rudp_mem_free(s->mem, s->dq);
  s->dq = p;
  s->dqcap = cap;
  s->dq_head = 0;
  return 0;
}

/* dq_push records a datagram of |len| bytes on |channel| that the
 * connection just queued (room was reserved); |first| starts a message. */
static void dq_push(rudp_msg_session *s, unsigned channel, size_t len,
                    int first) {
  msg_chan *ch = &s->chans[channel];
  msg_dq *d;
  if (s->dq_off) {
    return;
  }
  d = &s->dq[(s->dq_head + s->dq_len) % s->dqcap];
  d->len = (uint32_t)len;
  d->channel = (uint16_t)channel;
  d->last = 0;
  ++s->dq_len;
  s->dq_bytes += len;
  ch->st.queued_bytes += len;
  s->tot.queued_bytes += len;
  if (first) {
    ++ch->st.queued_msgs;
    ++s->tot.queued_msgs;
  }
}

/* dq_end_msg marks the newest entry as the last datagram of its message
 * (called once the message's datagrams are all queued, or the rest were
 * refused). */
static void dq_end_msg(rudp_msg_session *s) {
  if (!s->dq_off && s->dq_len > 0) {
    s->dq[(s->dq_head + s->dq_len - 1) % s->dqcap].last = 1;
  }
}

/* dq_pop forgets the oldest entry: the connection sent or dropped it. */
static void dq_pop(rudp_msg_session *s) {
  const msg_dq *d = &s->dq[s->dq_head];
  msg_chan *ch = &s->chans[d->channel];
  ch->st.queued_bytes -= d->len;
  s->tot.queued_bytes -= d->len;
  if (d->last) {
    --ch->st.queued_msgs;
    --s->tot.queued_msgs;
  }
  s->dq_bytes -= d->len;
  s->dq_head = (s->dq_head + 1) % s->dqcap;
  --s->dq_len;
}

/* dq_sync brings the mirror in line with the connection's queue (|cs|):
 * the datagrams it no longer holds are its oldest, ours or those queued
 * before the session (dq_ahead, which go first).  If the queue holds more
 * than we queued, or other bytes, the application sent datagrams itself:
 * the mirror cannot tell whose are whose, so it is dropped for good. */
static void dq_sync(rudp_msg_session *s, const rudp_conn_stats *cs) {
  uint64_t excess;
  if (s->dq_off) {
    return;
  }
  if (s->dq_ahead + s->dq_len > cs->datagrams_queued) {
    excess = s->dq_ahead + s->dq_len - cs->datagrams_queued;
    if (s->dq_ahead > 0) {
      uint64_t k = rudp_min(excess, s->dq_ahead);
      s->dq_ahead -= k;
      excess -= k;
    }
    for (; excess > 0; --excess) {
      dq_pop(s);
    }
  }
  if (s->dq_ahead + s->dq_len < cs->datagrams_queued ||
      (s->dq_ahead == 0 && s->dq_bytes != cs->datagram_bytes_queued)) {
    while (s->dq_len > 0) {
      dq_pop(s);
    }
    s->dq_off = 1;
  }
}

/* deliver hands a message to the application. */
static int deliver(rudp_msg_session *s, unsigned channel, uint64_t id,
                   const uint8_t *data, size_t len) {
  msg_chan *ch = &s->chans[channel];
  ++ch->st.msgs_received;
  ch->st.bytes_received += len;
  ++s->tot.msgs_received;
  s->tot.bytes_received += len;
  if (s->callbacks.message_received &&
      s->callbacks.message_received(s, channel, id, len ? data : msg_empty, len,
                                    s->user_data) != 0) {
    return RUDP_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

/* ------------------------------------------------------------ loss window */

/* loss_update takes a snapshot every MSG_LOSS_STEP packets sent (or
 * more, when the polls are further apart). */
static void loss_update(rudp_msg_session *s, const rudp_conn_stats *cs) {
  const msg_snap *newest;
  if (s->nsnaps > 0) {
    newest = &s->snaps[(s->snap_head + s->nsnaps - 1) % MSG_LOSS_SNAPS];
    if (cs->pkts_sent - newest->sent < MSG_LOSS_STEP) {
      return;
    }
  }
  if (s->nsnaps == MSG_LOSS_SNAPS) {
    s->snap_head = (s->snap_head + 1) % MSG_LOSS_SNAPS;
    --s->nsnaps;
  }
  s->snaps[(s->snap_head + s->nsnaps) % MSG_LOSS_SNAPS].sent = cs->pkts_sent;
  s->snaps[(s->snap_head + s->nsnaps) % MSG_LOSS_SNAPS].lost = cs->pkts_lost;
  ++s->nsnaps;
}

/* loss_base returns the window's start: the newest snapshot at least
 * RUDP_MSG_LOSS_WINDOW packets back, or the oldest one. */
static const msg_snap *loss_base(const rudp_msg_session *s,
                                 const rudp_conn_stats *cs) {
  size_t i;
  for (i = s->nsnaps; i-- > 1;) {
    const msg_snap *sn = &s->snaps[(s->snap_head + i) % MSG_LOSS_SNAPS];
    if (cs->pkts_sent - sn->sent >= RUDP_MSG_LOSS_WINDOW) {
      return sn;
    }
  }
  return &s->snaps[s->snap_head];
}

/* ------------------------------------------------------------ settings */

void rudp_msg_settings_default(rudp_msg_settings *settings) {
  memset(settings, 0, sizeof(*settings));
  settings->max_reliable_size = RUDP_MSG_MAX_RELIABLE_SIZE;
  settings->max_unreliable_size = RUDP_MSG_DEFAULT_UNRELIABLE_SIZE;
  settings->max_channel_queued = 4u * 1024u * 1024u;
  settings->max_reassembly = 16;
  settings->reassembly_timeout = RUDP_SECONDS;
  settings->datagram_payload = 0;
}

static int settings_valid(const rudp_msg_settings *st) {
  return st->max_reliable_size <= RUDP_MSG_MAX_RELIABLE_SIZE &&
         st->max_unreliable_size <= RUDP_MSG_MAX_UNRELIABLE_SIZE &&
         st->max_channel_queued >= 1 && st->max_reassembly >= 1 &&
         st->max_reassembly <= RUDP_MSG_MAX_REASSEMBLY &&
         (st->datagram_payload == 0 ||
          (st->datagram_payload >= MSG_MIN_DGRAM &&
           st->datagram_payload <= RUDP_MAX_UDP_PAYLOAD));
}

/* ------------------------------------------------------------ reassembly */

static int tomb_has(const rudp_msg_session *s, unsigned channel, uint64_t seq) {
  size_t i;
  for (i = 0; i < s->ntombs; ++i) {
    const msg_tomb *t = &s->tombs[i];
    if (t->used && t->seq == seq && t->channel == channel) {
      return 1;
    }
  }
  return 0;
}

static void tomb_add(rudp_msg_session *s, unsigned channel, uint64_t seq) {
  msg_tomb *t = &s->tombs[s->tomb_next];
  t->seq = seq;
  t->channel = (uint32_t)channel;
  t->used = 1;
  s->tomb_next = (s->tomb_next + 1) % s->ntombs;
}

static void reasm_unlink(rudp_msg_session *s, msg_reasm *r) {
  if (r->prev) {
    r->prev->next = r->next;
  } else {
    s->rq_head = r->next;
  }
  if (r->next) {
    r->next->prev = r->prev;
  } else {
    s->rq_tail = r->prev;
  }
  --s->nreasm;
  s->reasm_bytes -= r->total + (r->count + 7) / 8;
}

/* reasm_release returns an unlinked entry's memory and slot. */
static void reasm_release(rudp_msg_session *s, msg_reasm *r) {
  rudp_mem_free(s->mem, r->buf);
  r->buf = NULL;
  r->prev = NULL;
  r->next = s->rq_free;
  s->rq_free = r;
}

/* reasm_drop abandons |r|: counted as |old| (dropped_old) or incomplete,
 * and remembered so its late fragments are ignored. */
static void reasm_drop(rudp_msg_session *s, msg_reasm *r, int old) {
  msg_chan *ch = &s->chans[r->channel];
  reasm_unlink(s, r);
  if (old) {
    stat_dropped_old(s, ch);
  } else {
    stat_dropped_incomplete(s, ch);
  }
  tomb_add(s, r->channel, r->seq);
  reasm_release(s, r);
}

static msg_reasm *reasm_find(const rudp_msg_session *s, unsigned channel,
                             uint64_t seq) {
  msg_reasm *r;
  for (r = s->rq_head; r; r = r->next) {
    if (r->seq == seq && r->channel == channel) {
      return r;
    }
  }
  return NULL;
}

/* reasm_new starts reassembling a message, evicting the oldest one when
 * every slot is taken.  Returns NULL when out of memory. */
static msg_reasm *reasm_new(rudp_msg_session *s, unsigned channel, uint64_t seq,
                            uint32_t count, size_t total) {
  msg_reasm *r;
  size_t bitmap = (count + 7) / 8;
  if (!s->rq_free) {
    reasm_drop(s, s->rq_head, 0);
  }
  r = s->rq_free;
  r->buf = rudp_mem_calloc(s->mem, 1, total + bitmap);
  if (!r->buf) {
    return NULL;
  }
  s->rq_free = r->next;
  r->channel = channel;
  r->seq = seq;
  r->count = count;
  r->received = 0;
  r->total = total;
  r->started = s->now;
  r->next = NULL;
  r->prev = s->rq_tail;
  if (s->rq_tail) {
    s->rq_tail->next = r;
  } else {
    s->rq_head = r;
  }
  s->rq_tail = r;
  ++s->nreasm;
  s->reasm_bytes += total + bitmap;
  return r;
}

/* seq_delivered records a delivered sequenced message and abandons the
 * older messages of its channel still being reassembled. */
static void seq_delivered(rudp_msg_session *s, unsigned channel, uint64_t seq) {
  msg_chan *ch = &s->chans[channel];
  msg_reasm *r, *next;
  ch->have_newest = 1;
  ch->newest = seq;
  for (r = s->rq_head; r; r = next) {
    next = r->next;
    if (r->channel == channel && r->seq < seq) {
      reasm_drop(s, r, 1);
    }
  }
}

/* ------------------------------------------------------------ datagrams */

int rudp_msg_session_handle_datagram(rudp_msg_session *s, const uint8_t *data,
                                     size_t len) {
  const uint8_t *p = data, *end = data + len;
  uint64_t c2, seq, index, count, total;
  unsigned channel;
  msg_chan *ch;
  msg_reasm *r;
  size_t flen;
  int sequenced, rv;

  if (!s || (!data && len)) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (s->error) {
    return s->error;
  }
  if (get_varint(&p, end, &c2) != 0 || (c2 >> 1) >= s->nchannels ||
      get_varint(&p, end, &seq) != 0) {
    return msg_fail(s, RUDP_ERR_PROTO);
  }
  channel = (unsigned)(c2 >> 1);
  ch = &s->chans[channel];
  if (mode_reliable(ch->st.mode)) {
    return msg_fail(s, RUDP_ERR_PROTO);
  }
  sequenced = ch->st.mode == RUDP_MSG_UNRELIABLE_SEQUENCED;

  if (!(c2 & 1)) {
    /* A whole message: delivered straight from the connection's buffer. */
    if ((size_t)(end - p) > s->settings.max_unreliable_size) {
      return msg_fail(s, RUDP_ERR_PROTO);
    }
    if (sequenced) {
      if (ch->have_newest && seq <= ch->newest) {
        stat_dropped_old(s, ch);
        return 0;
      }
      seq_delivered(s, channel, seq);
    }
    return deliver(s, channel, seq, p, (size_t)(end - p));
  }

  if (get_varint(&p, end, &index) != 0 || get_varint(&p, end, &count) != 0 ||
      get_varint(&p, end, &total) != 0 || count < 2 || index >= count ||
      total > s->settings.max_unreliable_size || count > total) {
    return msg_fail(s, RUDP_ERR_PROTO);
  }
  flen = frag_len((size_t)total, (size_t)count, (size_t)index);
  if ((size_t)(end - p) != flen) {
    return msg_fail(s, RUDP_ERR_PROTO);
  }
  if (tomb_has(s, channel, seq)) {
    return 0; /* a late fragment of a message already abandoned */
  }
  if (sequenced && ch->have_newest && seq <= ch->newest) {
    stat_dropped_old(s, ch);
    tomb_add(s, channel, seq);
    return 0;
  }
  r = reasm_find(s, channel, seq);
  if (!r) {
    r = reasm_new(s, channel, seq, (uint32_t)count, (size_t)total);
    if (!r) {
      return msg_fail(s, RUDP_ERR_NOMEM);
    }
  } else if (r->count != count || r->total != total) {
    return msg_fail(s, RUDP_ERR_PROTO);
  }
  if (r->buf[r->total + index / 8] & (1u << (index % 8))) {
    return 0; /* the same fragment twice (only a misbehaving peer) */
  }
  r->buf[r->total + index / 8] |= (uint8_t)(1u << (index % 8));
  memcpy(r->buf + frag_off(r->total, r->count, (size_t)index), p, flen);
  if (++r->received < r->count) {
    return 0;
  }
  reasm_unlink(s, r);
  if (sequenced) {
    seq_delivered(s, channel, seq);
  }
  rv = deliver(s, channel, seq, r->buf, r->total);
  reasm_release(s, r);
  return rv;
}

/* dgram_auto computes the fragment size from the peer's limits (see
 * rudp_msg_settings.datagram_payload), or returns 0 if the peer accepts
 * no datagrams. */
static size_t dgram_auto(const rudp_msg_session *s) {
  const rudp_transport_params *pp = rudp_conn_get_peer_params(s->conn);
  const rudp_cid *dcid = rudp_conn_get_dcid(s->conn);
  uint64_t frame, pkt;
  if (!pp || pp->max_datagram_frame_size < MSG_MIN_DGRAM) {
    return 0;
  }
  /* The limit covers the whole DATAGRAM frame: type and length varint. */
  frame = pp->max_datagram_frame_size - 1 -
          rudp_varint_len(pp->max_datagram_frame_size);
  /* A short-header packet: flags, DCID, packet number (up to 4 bytes),
   * the frame's type and length, and the integrity check. */
  pkt = MSG_AUTO_PKT - 1 - (dcid ? dcid->datalen : RUDP_MAX_CIDLEN) - 4 - 3 -
        MSG_AUTO_PROTECT;
  return (size_t)rudp_min(frame, pkt);
}

/* dgram_size makes sure s->dgram_payload and the scratch buffer are set;
 * returns 0 or RUDP_ERR_DATAGRAM_TOO_LARGE / RUDP_ERR_NOMEM. */
static int dgram_size(rudp_msg_session *s, size_t want) {
  if (want == 0) {
    want = s->settings.datagram_payload ? s->settings.datagram_payload
                                        : dgram_auto(s);
  }
  if (want < MSG_MIN_DGRAM) {
    return RUDP_ERR_DATAGRAM_TOO_LARGE;
  }
  if (want > s->scratchcap) {
    uint8_t *p = rudp_mem_realloc(s->mem, s->scratch, want);
    if (!p) {
      return RUDP_ERR_NOMEM;
    }
    s->scratch = p;
    s->scratchcap = want;
  }
  s->dgram_payload = want;
  return 0;
}

/* dgram_shrink picks a smaller fragment size after the connection refused
 * a datagram: the computed size first, then 7/8 steps.  Returns 0 if a
 * smaller size was chosen, else RUDP_ERR_DATAGRAM_TOO_LARGE. */
static int dgram_shrink(rudp_msg_session *s) {
  size_t cur = s->dgram_payload, next = dgram_auto(s);
  if (next == 0) {
    return RUDP_ERR_DATAGRAM_TOO_LARGE;
  }
  if (next >= cur) {
    next = cur - cur / 8;
  }
  if (next < MSG_MIN_DGRAM || next >= cur) {
    return RUDP_ERR_DATAGRAM_TOO_LARGE;
  }
  s->dgram_payload = next;
  return 0;
}

/* dgram_push hands one datagram (built in scratch) to the connection. */
static int dgram_push(rudp_msg_session *s, size_t len) {
  int rv = rudp_conn_send_datagram(s->conn, s->scratch, len);
  if (rv == 0) {
    ++s->tot.datagrams_sent;
  }
  return rv;
}

/* dgram_send_once sends |data| as one datagram or as fragments at the
 * current fragment size.  RUDP_ERR_DATAGRAM_TOO_LARGE from the first
 * datagram (the largest) means nothing was queued. */
static int dgram_send_once(rudp_msg_session *s, unsigned channel, uint64_t seq,
                           const uint8_t *data, size_t len) {
  size_t fs = s->dgram_payload, hdr, maxdata, count, i;
  uint64_t c2 = (uint64_t)channel << 1;
  uint8_t *p;
  int rv;

  hdr = rudp_varint_len(c2) + rudp_varint_len(seq);
  if (hdr + len <= fs) {
    rv = dq_reserve(s, 1);
    if (rv != 0) {
      return rv;
    }
    p = rudp_put_varint(s->scratch, c2);
    p = rudp_put_varint(p, seq);
    p = rudp_put_bytes(p, data, len);
    rv = dgram_push(s, (size_t)(p - s->scratch));
    if (rv == 0) {
      dq_push(s, channel, (size_t)(p - s->scratch), 1);
      dq_end_msg(s);
    }
    return rv;
  }
  /* index and count are at most len, so 3 * varint_len(len) covers the
   * three fragment fields. */
  hdr =
      rudp_varint_len(c2 | 1) + rudp_varint_len(seq) + 3 * rudp_varint_len(len);
  if (fs <= hdr) {
    return RUDP_ERR_DATAGRAM_TOO_LARGE;
  }
  maxdata = fs - hdr;
  count = (len + maxdata - 1) / maxdata;
  rv = dq_reserve(s, count);
  if (rv != 0) {
    return rv;
  }
  for (i = 0; i < count; ++i) {
    size_t flen = frag_len(len, count, i);
    p = rudp_put_varint(s->scratch, c2 | 1);
    p = rudp_put_varint(p, seq);
    p = rudp_put_varint(p, i);
    p = rudp_put_varint(p, count);
    p = rudp_put_varint(p, len);
    p = rudp_put_bytes(p, data + frag_off(len, count, i), flen);
    rv = dgram_push(s, (size_t)(p - s->scratch));
    if (rv != 0) {
      /* The fragments queued stay counted as one message until they
       * leave the connection's queue. */
      dq_end_msg(s);
      /* A later fragment can be a byte longer than the first (a longer
       * index varint): refused, the fragments queued are wasted (the
       * peer drops the message as incomplete) and the sequence number is
       * spent. */
      return rv == RUDP_ERR_DATAGRAM_TOO_LARGE && i > 0 ? MSG_PARTIAL : rv;
    }
    dq_push(s, channel, (size_t)(p - s->scratch), i == 0);
  }
  dq_end_msg(s);
  return 0;
}

static int dgram_send(rudp_msg_session *s, unsigned channel, msg_chan *ch,
                      const uint8_t *data, size_t len) {
  rudp_conn_stats before, after;
  int rv;

  if (s->dgram_payload == 0) {
    rv = dgram_size(s, 0);
    if (rv != 0) {
      return rv;
    }
  }
  rudp_conn_get_stats(s->conn, &before);
  /* Forget what left the queue since the last poll first: the mirror
   * then holds at most the queue's length plus this message. */
  dq_sync(s, &before);
  for (;;) {
    rv = dgram_send_once(s, channel, ch->next_id, data, len);
    if (rv == MSG_PARTIAL) {
      ++ch->next_id;
      rv = RUDP_ERR_DATAGRAM_TOO_LARGE;
    }
    if (rv != RUDP_ERR_DATAGRAM_TOO_LARGE || dgram_shrink(s) != 0) {
      break;
    }
  }
  rudp_conn_get_stats(s->conn, &after);
  s->tot.datagrams_overflowed +=
      after.datagrams_dropped - before.datagrams_dropped;
  dq_sync(s, &after);
  if (rv != 0) {
    return rv;
  }
  ++ch->next_id;
  stat_sent(s, ch, len);
  return 0;
}

/* ------------------------------------------------------------ streams: tx */

static void txbuf_unlink(rudp_msg_session *s, msg_txbuf *b) {
  if (b->prev) {
    b->prev->next = b->next;
  } else {
    s->live = b->next;
  }
  if (b->next) {
    b->next->prev = b->prev;
  }
  b->prev = b->next = NULL;
}

static void txbuf_free(msg_txbuf *b) {
  b->magic = 0;
  rudp_mem_free(b->mem, b);
}

/* open_uni opens a unidirectional stream.  Returns 0, 1 when the peer's
 * limit (or the handshake) holds it back, or an error. */
static int open_uni(rudp_msg_session *s, int64_t *pid) {
  int rv = rudp_conn_open_stream(s->conn, 0, pid);
  if (rv == RUDP_ERR_STREAM_LIMIT || rv == RUDP_ERR_INVALID_STATE) {
    return 1;
  }
  return rv;
}

/* conn_has_room returns nonzero if the connection's send buffer takes
 * |need| more bytes now (the callers check before opening a stream, so
 * that no stream is opened for nothing). */
static int conn_has_room(const rudp_msg_session *s, size_t need) {
  return rudp_conn_get_send_buffer_room(s->conn) >= need;
}

/* write_small copies a short header (a tag, the announcement) to a new
 * stream, whose send buffer is empty: it is taken whole (the caller made
 * sure the connection's buffer has room for it). */
static int write_small(rudp_msg_session *s, int64_t id, const uint8_t *p,
                       size_t len, int fin) {
  rudp_ssize n = rudp_conn_stream_write(s->conn, id, p, len, fin);
  if (n < 0) {
    return (int)n;
  }
  return (size_t)n == len ? 0 : RUDP_ERR_INTERNAL;
}

static int send_hello(rudp_msg_session *s) {
  uint8_t hdr[3 * 8];
  uint8_t *p;
  int64_t id;
  int rv;
  p = rudp_put_varint(hdr, MSG_TAG_CONTROL);
  p = rudp_put_varint(p, MSG_VERSION);
  p = rudp_put_varint(p, s->nchannels);
  if (!conn_has_room(s, (size_t)(p - hdr) + s->nchannels)) {
    s->tx_held = 1;
    return 0;
  }
  rv = open_uni(s, &id);
  if (rv != 0) {
    return rv > 0 ? 0 : rv;
  }
  rv = write_small(s, id, hdr, (size_t)(p - hdr), 0);
  if (rv == 0) {
    rv = write_small(s, id, s->modes, s->nchannels, 1);
  }
  if (rv != 0) {
    return rv;
  }
  s->hello_sent = 1;
  return 0;
}

/* hand_over gives |b| to the connection on stream |id|.  Returns 0,
 * RUDP_ERR_WOULDBLOCK (the connection's send buffer is full) or an
 * error. */
static int hand_over(rudp_msg_session *s, msg_txbuf *b, int64_t id, int fin) {
  int rv = rudp_conn_stream_write_ref(s->conn, id, b->data, b->len, b, fin);
  if (rv != 0) {
    return rv;
  }
  b->handed = 1;
  s->handed += b->len;
  --s->npending;
  return 0;
}

/* set_prio gives the new stream |id| its channel's priority (a stream just
 * opened: it cannot fail). */
static void set_prio(rudp_msg_session *s, const msg_chan *ch, int64_t id) {
  if (ch->urgency != RUDP_DEFAULT_URGENCY || !ch->incremental) {
    (void)rudp_conn_stream_set_priority(s->conn, id, ch->urgency,
                                        ch->incremental);
  }
}

/* open_chan opens an ordered channel's stream and writes its tag.
 * Returns 0, 1 (the peer's stream limit, or no room in the connection's
 * send buffer) or an error. */
static int open_chan(rudp_msg_session *s, unsigned channel) {
  msg_chan *ch = &s->chans[channel];
  uint8_t tag[8];
  uint8_t *p = rudp_put_varint(tag, (uint64_t)channel + 1);
  int64_t id;
  int rv;
  if (!conn_has_room(s, (size_t)(p - tag))) {
    s->tx_held = 1;
    return 1;
  }
  rv = open_uni(s, &id);
  if (rv != 0) {
    return rv;
  }
  set_prio(s, ch, id);
  rv = write_small(s, id, tag, (size_t)(p - tag), 0);
  if (rv != 0) {
    return rv;
  }
  ch->tx_stream = id;
  return 0;
}

/* open_chans opens the stream of every ordered channel not open yet, in
 * channel order.  flush calls it before the first reliable-unordered
 * message takes a stream: those take a stream each, and a download of
 * many of them would otherwise hold every stream the peer allows, so that
 * a channel's first message (a game's first input) would wait until one
 * of them completed.  Returns as open_chan. */
static int open_chans(rudp_msg_session *s) {
  size_t i;
  int rv;
  for (i = s->open_next; i < s->nchannels; ++i) {
    if (s->chans[i].st.mode == RUDP_MSG_RELIABLE_ORDERED &&
        s->chans[i].tx_stream < 0) {
      rv = open_chan(s, (unsigned)i);
      if (rv != 0) {
        s->open_next = i;
        return rv;
      }
    }
  }
  s->open_next = s->nchannels;
  return 0;
}

/* flush_chan writes an ordered channel's waiting messages, opening its
 * stream first if needed.  Returns 0, 1 (no stream yet, or no room in the
 * connection's send buffer) or an error. */
static int flush_chan(rudp_msg_session *s, unsigned channel) {
  msg_chan *ch = &s->chans[channel];
  int rv;
  if (ch->tx_stream < 0) {
    rv = open_chan(s, channel);
    if (rv != 0) {
      return rv;
    }
  }
  while (ch->pend_head) {
    msg_txbuf *b = ch->pend_head;
    rv = hand_over(s, b, ch->tx_stream, 0);
    if (rv == RUDP_ERR_WOULDBLOCK) {
      s->tx_held = 1;
      return 1;
    }
    if (rv != 0) {
      return rv;
    }
    ch->pend_head = b->qnext;
    if (!ch->pend_head) {
      ch->pend_tail = NULL;
    }
    b->qnext = NULL;
  }
  return 0;
}

/* flush sends everything waiting for a stream, as far as the peer's
 * stream limit allows.  Returns 0 or an error (the session's sticky error,
 * or RUDP_ERR_NOMEM; what could not be written stays queued). */
static int flush(rudp_msg_session *s) {
  size_t i;
  int rv;

  if (s->error) {
    return s->error;
  }
  if (rudp_conn_get_state(s->conn) != RUDP_CONN_STATE_ESTABLISHED) {
    return 0;
  }
  if (!s->hello_sent) {
    rv = send_hello(s);
    if (rv != 0 || !s->hello_sent) {
      return rv;
    }
  }
  if (s->npending == 0) {
    return 0;
  }
  for (i = 0; i < s->nchannels; ++i) {
    if (s->chans[i].pend_head) {
      rv = flush_chan(s, (unsigned)i);
      if (rv != 0) {
        return rv > 0 ? 0 : rv;
      }
    }
  }
  if (s->uq_head && s->open_next < s->nchannels) {
    /* Every ordered channel gets its stream before the first message
     * that takes a stream of its own (open_chans). */
    rv = open_chans(s);
    if (rv != 0) {
      return rv > 0 ? 0 : rv;
    }
  }
  while (s->uq_head) {
    msg_txbuf *b = s->uq_head;
    int64_t id;
    if (!conn_has_room(s, 1)) {
      s->tx_held = 1;
      return 0;
    }
    rv = open_uni(s, &id);
    if (rv != 0) {
      return rv > 0 ? 0 : rv;
    }
    set_prio(s, &s->chans[b->channel], id);
    rv = hand_over(s, b, id, 1);
    if (rv != 0) {
      /* Close the empty stream: the receiver ignores an empty one. */
      rudp_conn_stream_shutdown(s->conn, id);
      if (rv == RUDP_ERR_WOULDBLOCK) {
        s->tx_held = 1;
        return 0;
      }
      return rv;
    }
    s->uq_head = b->qnext;
    if (!s->uq_head) {
      s->uq_tail = NULL;
    }
    b->qnext = NULL;
  }
  return 0;
}

static int reliable_send(rudp_msg_session *s, unsigned channel, msg_chan *ch,
                         const uint8_t *data, size_t len) {
  uint8_t hdr[3 * 8];
  uint8_t *p = hdr;
  size_t hlen, wire;
  msg_txbuf *b;
  int ordered = ch->st.mode == RUDP_MSG_RELIABLE_ORDERED;

  if (!ordered) {
    p = rudp_put_varint(p, (uint64_t)channel + 1);
    p = rudp_put_varint(p, ch->next_id);
  }
  p = rudp_put_varint(p, len);
  hlen = (size_t)(p - hdr);
  wire = hlen + len;
  if (ch->st.queued_bytes > 0 &&
      ch->st.queued_bytes + wire > s->settings.max_channel_queued) {
    ch->want_writable = 1;
    return RUDP_ERR_WOULDBLOCK;
  }
  /* The connection's send buffer is full (max_send_buffer): refuse, as
   * for a full channel, rather than queue here beyond the connection's
   * bound.  The release of the buffers it holds wakes the channel.  (If
   * it holds none of ours, the connection is full of the application's
   * own streams: the message is taken and waits, as for a stream.) */
  if (s->handed > 0 && rudp_conn_get_send_buffer_room(s->conn) == 0) {
    if (!s->conn_full) {
      s->conn_full = 1;
      s->conn_resume = s->handed / 2;
    }
    ch->want_writable = 1;
    ch->conn_blocked = 1;
    return RUDP_ERR_WOULDBLOCK;
  }
  b = rudp_mem_malloc(s->mem, sizeof(*b) + wire);
  if (!b) {
    return RUDP_ERR_NOMEM;
  }
  b->magic = MSG_TXBUF_MAGIC;
  b->channel = (uint32_t)channel;
  b->handed = 0;
  b->session = s;
  b->mem = s->mem;
  b->qnext = NULL;
  b->len = wire;
  memcpy(b->data, hdr, hlen);
  if (len) {
    memcpy(b->data + hlen, data, len);
  }
  b->prev = NULL;
  b->next = s->live;
  if (s->live) {
    s->live->prev = b;
  }
  s->live = b;
  ++s->npending;
  ++ch->next_id;
  stat_sent(s, ch, len);
  stat_queued_add(s, ch, wire);

  if (ordered) {
    /* The common case: the stream is open and nothing waits before. */
    if (ch->tx_stream >= 0 && !ch->pend_head &&
        hand_over(s, b, ch->tx_stream, 0) == 0) {
      return 0;
    }
    if (ch->pend_tail) {
      ch->pend_tail->qnext = b;
    } else {
      ch->pend_head = b;
    }
    ch->pend_tail = b;
  } else {
    if (s->uq_tail) {
      s->uq_tail->qnext = b;
    } else {
      s->uq_head = b;
    }
    s->uq_tail = b;
  }
  /* The message is accepted: whatever cannot be written now (stream
   * limit, handshake, or out of memory) is retried by the next flush. */
  (void)flush(s);
  return 0;
}

int rudp_msg_session_set_channel_priority(rudp_msg_session *s, unsigned channel,
                                          unsigned urgency, int incremental) {
  msg_chan *ch;
  if (!s || channel >= s->nchannels || urgency > RUDP_URGENCY_MAX) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  ch = &s->chans[channel];
  if (!mode_reliable(ch->st.mode)) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  ch->urgency = (uint8_t)urgency;
  ch->incremental = incremental != 0;
  if (ch->tx_stream >= 0) {
    /* The ordered channel's stream is open: from its next packet on (it
     * is never closed while the session lives, so this cannot fail). */
    (void)rudp_conn_stream_set_priority(s->conn, ch->tx_stream, urgency,
                                        incremental);
  }
  return 0;
}

int rudp_msg_send(rudp_msg_session *s, unsigned channel, const uint8_t *data,
                  size_t len, uint32_t flags) {
  msg_chan *ch;
  rudp_conn_state st;

  if (!s || (!data && len) || flags != 0 || channel >= s->nchannels) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (s->error) {
    return RUDP_ERR_INVALID_STATE;
  }
  st = rudp_conn_get_state(s->conn);
  if (st > RUDP_CONN_STATE_ESTABLISHED) {
    return RUDP_ERR_INVALID_STATE;
  }
  ch = &s->chans[channel];
  if (mode_reliable(ch->st.mode)) {
    if (len > s->settings.max_reliable_size) {
      return RUDP_ERR_DATAGRAM_TOO_LARGE;
    }
    return reliable_send(s, channel, ch, data, len);
  }
  if (len > s->settings.max_unreliable_size) {
    return RUDP_ERR_DATAGRAM_TOO_LARGE;
  }
  if (st != RUDP_CONN_STATE_ESTABLISHED) {
    return RUDP_ERR_INVALID_STATE;
  }
  return dgram_send(s, channel, ch, data, len);
}

/* conn_unblock wakes the channels whose messages a full connection
 * refused, now that it drained, starting after the last one woken (so
 * that no channel is always last); it stops if a woken channel's sends
 * fill the connection again, and the others wait for the next time. */
static void conn_unblock(rudp_msg_session *s) {
  size_t start = s->wake_next, k, i;
  s->conn_full = 0;
  for (k = 0; k < s->nchannels && !s->conn_full; ++k) {
    msg_chan *ch;
    i = (start + k) % s->nchannels;
    ch = &s->chans[i];
    if (!ch->conn_blocked) {
      continue;
    }
    ch->conn_blocked = 0;
    s->wake_next = i + 1;
    if (ch->want_writable) {
      ch->want_writable = 0;
      if (s->callbacks.channel_writable) {
        s->callbacks.channel_writable(s, (unsigned)i, s->user_data);
      }
    }
  }
}

void rudp_msg_handle_stream_data_released(const uint8_t *data, size_t len,
                                          void *ref) {
  msg_txbuf *b = ref;
  rudp_msg_session *s;
  msg_chan *ch;
  (void)data;
  (void)len;
  if (!b || b->magic != MSG_TXBUF_MAGIC) {
    assert(0 && "a buffer this layer did not write");
    return;
  }
  s = b->session;
  if (!s) {
    txbuf_free(b); /* orphaned: the session was deleted first */
    return;
  }
  ch = &s->chans[b->channel];
  txbuf_unlink(s, b);
  stat_queued_sub(s, ch, b->len);
  if (b->handed) {
    s->handed -= b->len;
  }
  txbuf_free(b);
  if (ch->want_writable && !ch->conn_blocked &&
      ch->st.queued_bytes <= s->settings.max_channel_queued / 2) {
    ch->want_writable = 0;
    if (s->callbacks.channel_writable) {
      s->callbacks.channel_writable(s, (unsigned)(ch - s->chans), s->user_data);
    }
  }
  /* Messages accepted earlier wait for room in the connection: there is
   * some now (the connection counted this release before calling). */
  if (s->tx_held && conn_has_room(s, 1)) {
    s->tx_held = 0;
    if (flush(s) == RUDP_ERR_NOMEM) {
      msg_fail(s, RUDP_ERR_NOMEM);
    }
  }
  if (s->conn_full && s->handed <= s->conn_resume) {
    conn_unblock(s);
  }
}

int rudp_msg_session_handle_streams_available(rudp_msg_session *s) {
  int rv;
  if (!s) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  rv = flush(s);
  if (rv == RUDP_ERR_NOMEM) {
    return msg_fail(s, rv);
  }
  return rv;
}

/* ------------------------------------------------------------ streams: rx */

static void rx_free(rudp_msg_session *s, msg_rx *rx) {
  rudp_map_remove(&s->rx, (uint64_t)rx->stream_id);
  rudp_mem_free(s->mem, rx->body);
  rudp_mem_free(s->mem, rx);
}

/* rx_read reads up to |len| bytes of |rx|'s stream.  Returns the bytes
 * read (0: nothing now, or the end was reached: see rx->fin), or
 * RUDP_ERR_STREAM_STATE when the stream was reset or vanished. */
static rudp_ssize rx_read(rudp_msg_session *s, msg_rx *rx, uint8_t *buf,
                          size_t len) {
  rudp_ssize n;
  int fin = 0;
  if (rx->fin) {
    return 0;
  }
  n = rudp_conn_stream_read(s->conn, rx->stream_id, buf, len, &fin);
  if (n == RUDP_ERR_WOULDBLOCK) {
    return 0;
  }
  if (n < 0) {
    return RUDP_ERR_STREAM_STATE;
  }
  if (fin) {
    rx->fin = 1;
  }
  return n;
}

/* rx_varint reads a varint: 1 when complete (in *pv), 0 when more bytes
 * are needed, or a negative error of rx_read.  The first byte gives the
 * length, so no byte past the varint is read. */
static int rx_varint(rudp_msg_session *s, msg_rx *rx, uint64_t *pv) {
  size_t need;
  rudp_ssize n;
  if (rx->vhave == 0) {
    n = rx_read(s, rx, rx->vbuf, 1);
    if (n <= 0) {
      return (int)n;
    }
    rx->vhave = 1;
  }
  need = rudp_varint_len_from_first(rx->vbuf[0]);
  while (rx->vhave < need) {
    n = rx_read(s, rx, rx->vbuf + rx->vhave, need - rx->vhave);
    if (n <= 0) {
      return (int)n;
    }
    rx->vhave += (size_t)n;
  }
  rudp_get_varint(pv, rx->vbuf);
  rx->vhave = 0;
  return 1;
}

/* rx_body_prepare sets up |rx| to receive a body of |len| bytes. */
static int rx_body_prepare(rudp_msg_session *s, msg_rx *rx, size_t len) {
  size_t want = rudp_min(len, (size_t)MSG_RX_PREALLOC);
  rx->bodylen = len;
  rx->bodyhave = 0;
  if (rx->bodycap < want) {
    uint8_t *p = rudp_mem_realloc(s->mem, rx->body, want);
    if (!p) {
      return RUDP_ERR_NOMEM;
    }
    rx->body = p;
    rx->bodycap = want;
  }
  return 0;
}

/* rx_body reads the body: 1 when complete, 0 when more is needed, or an
 * error. */
static int rx_body(rudp_msg_session *s, msg_rx *rx) {
  while (rx->bodyhave < rx->bodylen) {
    rudp_ssize n;
    if (rx->bodyhave == rx->bodycap) {
      /* Grow with the data (see MSG_RX_PREALLOC). */
      size_t cap = rudp_min(rx->bodylen, rx->bodycap * 2);
      uint8_t *p = rudp_mem_realloc(s->mem, rx->body, cap);
      if (!p) {
        return RUDP_ERR_NOMEM;
      }
      rx->body = p;
      rx->bodycap = cap;
    }
    /* Never past the message: the next one's header follows it. */
    n = rx_read(s, rx, rx->body + rx->bodyhave,
                rudp_min(rx->bodycap, rx->bodylen) - rx->bodyhave);
    if (n <= 0) {
      return (int)n;
    }
    rx->bodyhave += (size_t)n;
  }
  return 1;
}

/* rx_tag handles a stream's tag. */
static int rx_tag(rudp_msg_session *s, msg_rx *rx, uint64_t tag) {
  msg_chan *ch;
  if (tag == MSG_TAG_CONTROL) {
    rx->chan = -1;
    rx->phase = RX_CTL_VER;
    return 0;
  }
  if (tag > s->nchannels) {
    return RUDP_ERR_PROTO;
  }
  rx->chan = (int)(tag - 1);
  ch = &s->chans[rx->chan];
  switch (ch->st.mode) {
  case RUDP_MSG_RELIABLE_ORDERED:
    if (ch->rx_stream >= 0) {
      return RUDP_ERR_PROTO; /* one stream per channel and direction */
    }
    ch->rx_stream = rx->stream_id;
    rx->phase = RX_LEN;
    return 0;
  case RUDP_MSG_RELIABLE_UNORDERED:
    rx->phase = RX_ID;
    return 0;
  default:
    return RUDP_ERR_PROTO; /* unreliable channels use datagrams */
  }
}

/* rx_end handles the end of a stream's data (rx->fin) in |rx|'s phase:
 * fine at an ordered channel's message boundary or after an unordered
 * message or the announcement, a protocol violation elsewhere. */
static int rx_end(rudp_msg_session *s, msg_rx *rx) {
  int clean = rx->vhave == 0 && (rx->phase == RX_LEN || rx->phase == RX_FIN);
  if (rx->phase == RX_TAG && rx->vhave == 0) {
    clean = 1; /* an empty stream (a send that failed midway) */
  }
  if (rx->chan >= 0 && rx->phase == RX_LEN) {
    clean = clean && s->chans[rx->chan].st.mode == RUDP_MSG_RELIABLE_ORDERED;
  }
  rx_free(s, rx);
  return clean ? 0 : RUDP_ERR_PROTO;
}

/* rx_gone handles a stream that was reset under us. */
static int rx_gone(rudp_msg_session *s, msg_rx *rx) {
  int ordered =
      rx->chan >= 0 && s->chans[rx->chan].st.mode == RUDP_MSG_RELIABLE_ORDERED;
  rx_free(s, rx);
  /* An ordered channel cannot lose a stream and stay ordered. */
  return ordered ? RUDP_ERR_PROTO : 0;
}

/* rx_process advances |rx| as far as its data allows, delivering
 * messages.  |rx| may be freed.  Returns 0 or an error. */
static int rx_process(rudp_msg_session *s, msg_rx *rx) {
  for (;;) {
    uint64_t v = 0;
    int rv = 0;
    msg_chan *ch = rx->chan >= 0 ? &s->chans[rx->chan] : NULL;

    switch (rx->phase) {
    case RX_TAG:
    case RX_ID:
    case RX_LEN:
    case RX_CTL_VER:
    case RX_CTL_N:
      rv = rx_varint(s, rx, &v);
      break;
    case RX_BODY:
    case RX_CTL_MODES:
      rv = rx_body(s, rx);
      break;
    default: { /* RX_FIN: nothing but the end may follow */
      uint8_t extra;
      rudp_ssize n = rx_read(s, rx, &extra, 1);
      rv = n > 0 ? RUDP_ERR_PROTO : (int)n;
      break;
    }
    }
    if (rv == RUDP_ERR_STREAM_STATE) {
      return rx_gone(s, rx);
    }
    if (rv < 0) {
      return rv;
    }
    if (rv == 0) {
      return rx->fin ? rx_end(s, rx) : 0;
    }

    rv = 0;
    switch (rx->phase) {
    case RX_TAG:
      rv = rx_tag(s, rx, v);
      break;
    case RX_ID:
      rx->msg_id = v;
      rx->phase = RX_LEN;
      break;
    case RX_LEN:
      if (v > s->settings.max_reliable_size) {
        return RUDP_ERR_PROTO;
      }
      rv = rx_body_prepare(s, rx, (size_t)v);
      rx->phase = RX_BODY;
      break;
    case RX_BODY:
      if (ch->st.mode == RUDP_MSG_RELIABLE_ORDERED) {
        rv = deliver(s, (unsigned)rx->chan, ch->rx_next_id++, rx->body,
                     rx->bodylen);
        rx->phase = RX_LEN;
        if (rx->bodycap > MSG_RX_KEEP) {
          rudp_mem_free(s->mem, rx->body);
          rx->body = NULL;
          rx->bodycap = 0;
        }
      } else {
        rv = deliver(s, (unsigned)rx->chan, rx->msg_id, rx->body, rx->bodylen);
        rx->phase = RX_FIN;
      }
      break;
    case RX_CTL_VER:
      if (v != MSG_VERSION) {
        return RUDP_ERR_PROTO;
      }
      rx->phase = RX_CTL_N;
      break;
    case RX_CTL_N:
      /* The peer declared a different number of channels. */
      if (v != s->nchannels) {
        return RUDP_ERR_PROTO;
      }
      rv = rx_body_prepare(s, rx, (size_t)v);
      rx->phase = RX_CTL_MODES;
      break;
    case RX_CTL_MODES:
      if (memcmp(rx->body, s->modes, s->nchannels) != 0) {
        return RUDP_ERR_PROTO; /* a channel has another mode there */
      }
      rx->phase = RX_FIN;
      break;
    default:
      break;
    }
    if (rv != 0) {
      return rv;
    }
  }
}

int rudp_msg_session_handle_stream_readable(rudp_msg_session *s,
                                            int64_t stream_id) {
  msg_rx *rx;
  int rv;

  if (!s) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (s->error) {
    return s->error;
  }
  rx = rudp_map_find(&s->rx, (uint64_t)stream_id);
  if (!rx) {
    rx = rudp_mem_calloc(s->mem, 1, sizeof(*rx));
    if (!rx) {
      return msg_fail(s, RUDP_ERR_NOMEM);
    }
    rx->stream_id = stream_id;
    rx->phase = RX_TAG;
    rx->chan = -2;
    rv = rudp_map_insert(&s->rx, (uint64_t)stream_id, rx);
    if (rv != 0) {
      rudp_mem_free(s->mem, rx);
      return msg_fail(s, RUDP_ERR_NOMEM);
    }
  }
  rv = rx_process(s, rx);
  if (rv == RUDP_ERR_PROTO || rv == RUDP_ERR_NOMEM) {
    return msg_fail(s, rv);
  }
  return rv;
}

int rudp_msg_session_handle_stream_reset(rudp_msg_session *s, int64_t stream_id,
                                         uint64_t app_error_code) {
  msg_rx *rx;
  (void)app_error_code;
  if (!s) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (s->error) {
    return s->error;
  }
  rx = rudp_map_find(&s->rx, (uint64_t)stream_id);
  if (!rx) {
    return 0;
  }
  return rx_gone(s, rx) == 0 ? 0 : msg_fail(s, RUDP_ERR_PROTO);
}

/* ------------------------------------------------------------ routing */

static int route_stream_readable(rudp_conn *conn, int64_t stream_id,
                                 void *user_data) {
  (void)conn;
  if (!user_data) {
    return 0;
  }
  return rudp_msg_session_handle_stream_readable(user_data, stream_id) == 0
             ? 0
             : RUDP_ERR_CALLBACK_FAILURE;
}

static int route_stream_reset(rudp_conn *conn, int64_t stream_id,
                              uint64_t app_error_code, void *user_data) {
  (void)conn;
  if (!user_data) {
    return 0;
  }
  return rudp_msg_session_handle_stream_reset(user_data, stream_id,
                                              app_error_code) == 0
             ? 0
             : RUDP_ERR_CALLBACK_FAILURE;
}

static void route_stream_data_released(rudp_conn *conn, int64_t stream_id,
                                       const uint8_t *data, size_t len,
                                       void *ref, void *user_data) {
  /* |user_data| may be a deleted session: only |ref| is used. */
  (void)conn;
  (void)stream_id;
  (void)user_data;
  rudp_msg_handle_stream_data_released(data, len, ref);
}

static int route_datagram_received(rudp_conn *conn, const uint8_t *data,
                                   size_t len, void *user_data) {
  (void)conn;
  if (!user_data) {
    return 0;
  }
  return rudp_msg_session_handle_datagram(user_data, data, len) == 0
             ? 0
             : RUDP_ERR_CALLBACK_FAILURE;
}

static int route_streams_available(rudp_conn *conn, int bidi, void *user_data) {
  (void)conn;
  if (!user_data || bidi) {
    return 0;
  }
  return rudp_msg_session_handle_streams_available(user_data) == 0
             ? 0
             : RUDP_ERR_CALLBACK_FAILURE;
}

void rudp_msg_route_callbacks(rudp_callbacks *callbacks) {
  callbacks->stream_readable = route_stream_readable;
  callbacks->stream_reset = route_stream_reset;
  callbacks->stream_data_released = route_stream_data_released;
  callbacks->datagram_received = route_datagram_received;
  callbacks->streams_available = route_streams_available;
}

/* ------------------------------------------------------------ time */

rudp_tstamp rudp_msg_session_get_expiry(const rudp_msg_session *s) {
  if (!s->rq_head || s->settings.reassembly_timeout == 0) {
    return RUDP_TSTAMP_MAX;
  }
  return s->rq_head->started + s->settings.reassembly_timeout;
}

void rudp_msg_session_handle_expiry(rudp_msg_session *s, rudp_tstamp now) {
  rudp_conn_stats cs;
  msg_reasm *r;
  if (!s->now_set) {
    /* Fragments that came before the first time was known start now. */
    for (r = s->rq_head; r; r = r->next) {
      r->started = now;
    }
    s->now_set = 1;
  }
  s->now = now;
  while (s->rq_head && s->settings.reassembly_timeout > 0 &&
         s->rq_head->started + s->settings.reassembly_timeout <= now) {
    reasm_drop(s, s->rq_head, 0);
  }
  rudp_conn_get_stats(s->conn, &cs);
  loss_update(s, &cs);
  dq_sync(s, &cs);
}

/* ------------------------------------------------------------ statistics */

void rudp_msg_get_stats(rudp_msg_session *s, rudp_msg_stats *stats) {
  rudp_conn_stats cs;
  const msg_snap *base;

  rudp_conn_get_stats(s->conn, &cs);
  loss_update(s, &cs);
  dq_sync(s, &cs);
  *stats = s->tot;
  stats->srtt = cs.srtt;
  stats->min_rtt = cs.min_rtt;
  stats->latest_rtt = cs.latest_rtt;
  stats->jitter = cs.rttvar;
  stats->cwnd = cs.cwnd;
  stats->bytes_in_flight = cs.bytes_in_flight;
  base = loss_base(s, &cs);
  stats->window_sent = cs.pkts_sent - base->sent;
  stats->window_lost =
      cs.pkts_lost >= base->lost ? cs.pkts_lost - base->lost : 0;
  stats->loss_rate = stats->window_sent ? (double)stats->window_lost /
                                              (double)stats->window_sent
                                        : 0.0;
  stats->reassembly_msgs = s->nreasm;
  stats->reassembly_bytes = s->reasm_bytes;
  stats->datagrams_lost = cs.datagrams_dropped;
  stats->datagram_payload = s->dgram_payload;
}

int rudp_msg_get_channel_stats(rudp_msg_session *s, unsigned channel,
                               rudp_msg_channel_stats *stats) {
  rudp_conn_stats cs;
  if (!s || !stats || channel >= s->nchannels) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  if (s->dq_len > 0) {
    rudp_conn_get_stats(s->conn, &cs);
    dq_sync(s, &cs);
  }
  *stats = s->chans[channel].st;
  return 0;
}

/* ------------------------------------------------------------ session */

static void rx_free_cb(uint64_t key, void *value, void *arg) {
  rudp_msg_session *s = arg;
  msg_rx *rx = value;
  (void)key;
  rudp_mem_free(s->mem, rx->body);
  rudp_mem_free(s->mem, rx);
}

/* catch_up reads the peer's unidirectional streams opened before the
 * session existed (their stream_readable events went unheard).  Stream
 * IDs of each kind are dense from 0 and none of the peer's can have been
 * freed yet (freeing needs its FIN read), so the scan stops at the first
 * ID that does not exist.  Both initiators' sequences are scanned: the
 * session's own side has opened none yet, and reading a stream of ours
 * fails harmlessly with RUDP_ERR_STREAM_STATE. */
static int catch_up(rudp_msg_session *s) {
  int64_t base, id;
  int rv;
  for (base = 2; base <= 3; ++base) {
    for (id = base;; id += 4) {
      int fin = 0;
      rudp_ssize n = rudp_conn_stream_read(s->conn, id, NULL, 0, &fin);
      if (n == RUDP_ERR_STREAM_NOT_FOUND) {
        break;
      }
      if (n == RUDP_ERR_STREAM_STATE || fin) {
        continue;
      }
      rv = rudp_msg_session_handle_stream_readable(s, id);
      if (rv != 0) {
        return rv;
      }
    }
  }
  return 0;
}

int rudp_msg_session_new(rudp_msg_session **psession, rudp_conn *conn,
                         const rudp_msg_mode *modes, size_t nchannels,
                         const rudp_msg_settings *settings,
                         const rudp_msg_callbacks *callbacks,
                         const rudp_mem *mem, void *user_data) {
  rudp_msg_session *s;
  rudp_conn_stats cs;
  size_t i;
  int rv;

  if (!psession || !conn || !modes || nchannels == 0 ||
      nchannels > RUDP_MSG_MAX_CHANNELS ||
      (settings && !settings_valid(settings))) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  for (i = 0; i < nchannels; ++i) {
    if ((unsigned)modes[i] > (unsigned)RUDP_MSG_UNRELIABLE_SEQUENCED) {
      return RUDP_ERR_INVALID_ARGUMENT;
    }
  }
  if (rudp_conn_get_state(conn) > RUDP_CONN_STATE_ESTABLISHED) {
    return RUDP_ERR_INVALID_STATE;
  }
  if (!mem) {
    mem = rudp_mem_default();
  }
  s = rudp_mem_calloc(mem, 1, sizeof(*s));
  if (!s) {
    return RUDP_ERR_NOMEM;
  }
  s->conn = conn;
  s->mem = mem;
  if (settings) {
    s->settings = *settings;
  } else {
    rudp_msg_settings_default(&s->settings);
  }
  if (callbacks) {
    s->callbacks = *callbacks;
  }
  s->user_data = user_data;
  s->nchannels = nchannels;
  rudp_map_init(&s->rx, mem);
  s->ntombs = rudp_max((size_t)MSG_MIN_TOMBS, 2 * s->settings.max_reassembly);
  s->chans = rudp_mem_calloc(mem, nchannels, sizeof(*s->chans));
  s->modes = rudp_mem_malloc(mem, nchannels);
  s->slots =
      rudp_mem_calloc(mem, s->settings.max_reassembly, sizeof(*s->slots));
  s->tombs = rudp_mem_calloc(mem, s->ntombs, sizeof(*s->tombs));
  if (!s->chans || !s->modes || !s->slots || !s->tombs) {
    rudp_msg_session_del(s);
    return RUDP_ERR_NOMEM;
  }
  for (i = 0; i < nchannels; ++i) {
    s->chans[i].st.mode = modes[i];
    s->chans[i].tx_stream = -1;
    s->chans[i].rx_stream = -1;
    s->chans[i].urgency = RUDP_DEFAULT_URGENCY;
    s->chans[i].incremental = 1;
    s->modes[i] = (uint8_t)modes[i];
  }
  for (i = 0; i < s->settings.max_reassembly; ++i) {
    s->slots[i].next =
        i + 1 < s->settings.max_reassembly ? &s->slots[i + 1] : NULL;
  }
  s->rq_free = &s->slots[0];
  rudp_conn_get_stats(conn, &cs);
  loss_update(s, &cs);
  /* Datagrams the application queued before: the connection sends them
   * before ours. */
  s->dq_ahead = cs.datagrams_queued;

  /* Callbacks may run from here on: the caller sees the session first. */
  *psession = s;
  rv = catch_up(s);
  if (rv == 0) {
    rv = flush(s);
  }
  if (rv != 0) {
    *psession = NULL;
    rudp_msg_session_del(s);
    return rv;
  }
  return 0;
}

void rudp_msg_session_del(rudp_msg_session *s) {
  msg_txbuf *b, *next;
  size_t i;

  if (!s) {
    return;
  }
  if (rudp_conn_get_user_data(s->conn) == s) {
    rudp_conn_set_user_data(s->conn, NULL);
  }
  /* Buffers the connection holds are orphaned (freed on release); the
   * others are ours to free. */
  for (b = s->live; b; b = next) {
    next = b->next;
    if (b->handed) {
      b->session = NULL;
      b->prev = b->next = NULL;
    } else {
      txbuf_free(b);
    }
  }
  rudp_map_each(&s->rx, rx_free_cb, s);
  rudp_map_free(&s->rx);
  if (s->slots) {
    for (i = 0; i < s->settings.max_reassembly; ++i) {
      rudp_mem_free(s->mem, s->slots[i].buf);
    }
  }
  rudp_mem_free(s->mem, s->slots);
  rudp_mem_free(s->mem, s->tombs);
  rudp_mem_free(s->mem, s->chans);
  rudp_mem_free(s->mem, s->modes);
  rudp_mem_free(s->mem, s->scratch);
  rudp_mem_free(s->mem, s->dq);
  rudp_mem_free(s->mem, s);
}

void *rudp_msg_session_get_user_data(const rudp_msg_session *s) {
  return s->user_data;
}

rudp_conn *rudp_msg_session_get_conn(const rudp_msg_session *s) {
  return s->conn;
}

int rudp_msg_session_get_error(const rudp_msg_session *s) { return s->error; }
