/*
 * Sent-packet tracking and loss detection (RFC 9002 §6).
 *
 * Every packet number in [base, next) owns one ring slot, in one of these
 * states:
 *
 *   INFLIGHT  sent, not acknowledged, above largest_acked;
 *   HOLE      sent, not acknowledged, below largest_acked: in the hole list;
 *   LOST      declared lost; frames released, out of the in-flight counts,
 *             kept in the hole list (in place) only to notice a late ACK;
 *   ACKED     acknowledged or forgotten: an empty record waiting for base;
 *   SKIPPED   never sent (rudp_rtb_skip); also in the |skipped| array.
 *
 * Slots outside [base, next) are EMPTY.  Packets above largest_acked are
 * all INFLIGHT or SKIPPED, so an ACK turns the span it newly passes into
 * ACKED slots and holes in one walk, and everything older that is still
 * interesting is in the hole list.  base moves over ACKED slots and over
 * SKIPPED slots once largest_acked is past them (not before: a skipped
 * number must stay known while a peer could still claim to have got it).
 */
#include "rudp_rtb.h"

#include <assert.h>
#include <string.h>

#include "rudp_macro.h"
#include "rudp_mem.h"

#define RTB_NONE UINT64_MAX

/* Slot states (rudp_rtb_pkt.state_); EMPTY is 0 so calloc'd rings are
 * empty. */
#define RTB_EMPTY 0u
#define RTB_INFLIGHT 1u
#define RTB_HOLE 2u
#define RTB_LOST 3u
#define RTB_ACKED 4u
#define RTB_SKIPPED 5u

/* RTB_INITIAL_CAP is the ring's first size (a power of two). */
#define RTB_INITIAL_CAP 16u
/* RTB_FRAMES_PER_BLOCK is the frame pool's allocation unit. */
#define RTB_FRAMES_PER_BLOCK 32u
/* RTB_PACKET_THRESHOLD is kPacketThreshold (RFC 9002 §6.1.1): the
 * default of pkt_threshold, and how far below largest_acked a lost record
 * must be before it is forgotten. */
#define RTB_PACKET_THRESHOLD 3u
/* RTB_LOST_KEEP_PTOS: lost records are kept this many PTOs (see header). */
#define RTB_LOST_KEEP_PTOS 3u

static rudp_rtb_pkt *rtb_slot(const rudp_rtb *rtb, uint64_t pn) {
  return &rtb->ring[pn & (rtb->cap - 1)];
}

static uint64_t sat_add(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ---------------------------------------------------------- skipped list */

static uint64_t skipped_at(const rudp_rtb *rtb, size_t i) {
  return rtb->skipped[(rtb->skipped_head + i) & (rtb->skipped_cap - 1)];
}

/* skipped_lower_bound returns the index of the first skipped packet number
 * >= |pn| (skipped_len if none). */
static size_t skipped_lower_bound(const rudp_rtb *rtb, uint64_t pn) {
  size_t lo = 0, hi = rtb->skipped_len;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (skipped_at(rtb, mid) < pn) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/* skipped_count returns how many skipped packet numbers lie in [lo, hi]. */
static size_t skipped_count(const rudp_rtb *rtb, uint64_t lo, uint64_t hi) {
  size_t i = skipped_lower_bound(rtb, lo);
  size_t j =
      hi == UINT64_MAX ? rtb->skipped_len : skipped_lower_bound(rtb, hi + 1);
  return j - i;
}

static int skipped_push(rudp_rtb *rtb, uint64_t pn) {
  if (rtb->skipped_len == rtb->skipped_cap) {
    size_t i, ncap = rtb->skipped_cap ? rtb->skipped_cap * 2 : 8;
    uint64_t *n = rudp_mem_malloc(rtb->mem, ncap * sizeof(*n));
    if (!n) {
      return RUDP_ERR_NOMEM;
    }
    for (i = 0; i < rtb->skipped_len; ++i) {
      n[i] = skipped_at(rtb, i);
    }
    rudp_mem_free(rtb->mem, rtb->skipped);
    rtb->skipped = n;
    rtb->skipped_cap = ncap;
    rtb->skipped_head = 0;
  }
  rtb->skipped[(rtb->skipped_head + rtb->skipped_len) &
               (rtb->skipped_cap - 1)] = pn;
  ++rtb->skipped_len;
  return 0;
}

static void skipped_pop(rudp_rtb *rtb) {
  assert(rtb->skipped_len > 0);
  rtb->skipped_head = (rtb->skipped_head + 1) & (rtb->skipped_cap - 1);
  --rtb->skipped_len;
}

/* ------------------------------------------------------------------ ring */

/* ring_grow doubles the ring, re-placing every tracked slot (pn & (cap-1)
 * changes with cap).  Hole links are packet numbers, so they stay valid. */
static int ring_grow(rudp_rtb *rtb) {
  size_t ncap = rtb->cap * 2;
  rudp_rtb_pkt *n;
  uint64_t pn;

  if (ncap < rtb->cap) {
    return RUDP_ERR_NOMEM;
  }
  n = rudp_mem_calloc(rtb->mem, ncap, sizeof(*n));
  if (!n) {
    return RUDP_ERR_NOMEM;
  }
  for (pn = rtb->base; pn < rtb->next; ++pn) {
    n[pn & (ncap - 1)] = *rtb_slot(rtb, pn);
  }
  rudp_mem_free(rtb->mem, rtb->ring);
  rtb->ring = n;
  rtb->cap = ncap;
  return 0;
}

/* ring_reserve makes room for packet number |next|. */
static int ring_reserve(rudp_rtb *rtb) {
  if (rtb->next - rtb->base < rtb->cap) {
    return 0;
  }
  return ring_grow(rtb);
}

/* advance_base releases the slots at base that nothing needs any more.
 * Each packet number passes here once, so this is O(1) amortized. */
static void advance_base(rudp_rtb *rtb) {
  while (rtb->base < rtb->next) {
    rudp_rtb_pkt *p = rtb_slot(rtb, rtb->base);

    if (p->state_ == RTB_SKIPPED) {
      /* Keep it while an ACK could still "newly" cover it. */
      if (rtb->largest_acked == RTB_NONE || rtb->base > rtb->largest_acked) {
        return;
      }
      assert(rtb->skipped_len > 0 && skipped_at(rtb, 0) == rtb->base);
      skipped_pop(rtb);
    } else if (p->state_ != RTB_ACKED) {
      return;
    }
    p->state_ = RTB_EMPTY;
    ++rtb->base;
  }
}

/* ------------------------------------------------------------- hole list */

static void hole_unlink(rudp_rtb *rtb, rudp_rtb_pkt *p) {
  if (p->prev_hole_ == RTB_NONE) {
    rtb->hole_head = p->next_hole_;
  } else {
    rtb_slot(rtb, p->prev_hole_)->next_hole_ = p->next_hole_;
  }
  if (p->next_hole_ == RTB_NONE) {
    rtb->hole_tail = p->prev_hole_;
  } else {
    rtb_slot(rtb, p->next_hole_)->prev_hole_ = p->prev_hole_;
  }
  p->prev_hole_ = p->next_hole_ = RTB_NONE;
}

/* --------------------------------------------------------------- packets */

/* pkt_leave_flight takes |p| (INFLIGHT or HOLE) out of the in-flight
 * counts, before on_acked / on_lost so the callbacks see them updated. */
static void pkt_leave_flight(rudp_rtb *rtb, const rudp_rtb_pkt *p) {
  if (p->flags & RUDP_RTB_FLAG_IN_FLIGHT) {
    assert(rtb->bytes_in_flight >= p->size);
    rtb->bytes_in_flight -= p->size;
  }
  if (p->flags & RUDP_RTB_FLAG_ACK_ELICITING) {
    assert(rtb->ack_eliciting_in_flight > 0);
    if (--rtb->ack_eliciting_in_flight == 0) {
      /* Nothing left for the PTO to protect (RFC 9002 §6.2.1). */
      rtb->last_ack_eliciting_sent_ts = 0;
    }
  }
}

int rudp_rtb_init(rudp_rtb *rtb, const rudp_mem *mem) {
  memset(rtb, 0, sizeof(*rtb));
  rtb->mem = mem ? mem : rudp_mem_default();
  rtb->ring = rudp_mem_calloc(rtb->mem, RTB_INITIAL_CAP, sizeof(*rtb->ring));
  if (!rtb->ring) {
    return RUDP_ERR_NOMEM;
  }
  rtb->cap = RTB_INITIAL_CAP;
  rtb->largest_acked = RTB_NONE;
  rtb->hole_head = rtb->hole_tail = RTB_NONE;
  rtb->first_hole = RTB_NONE;
  rtb->pkt_threshold = RTB_PACKET_THRESHOLD;
  rtb->time_threshold = RUDP_DEFAULT_TIME_THRESHOLD;
  rudp_pool_init(&rtb->frames, sizeof(rudp_rtb_frame), RTB_FRAMES_PER_BLOCK,
                 rtb->mem);
  return 0;
}

void rudp_rtb_free(rudp_rtb *rtb) {
  if (!rtb) {
    return;
  }
  /* Frame records all live in the pool's blocks. */
  rudp_pool_free(&rtb->frames);
  rudp_mem_free(rtb->mem, rtb->ring);
  rudp_mem_free(rtb->mem, rtb->skipped);
  rtb->ring = NULL;
  rtb->skipped = NULL;
  rtb->cap = 0;
  rtb->skipped_cap = rtb->skipped_len = 0;
}

rudp_rtb_frame *rudp_rtb_frame_new(rudp_rtb *rtb) {
  rudp_rtb_frame *f = rudp_pool_get(&rtb->frames);
  if (f) {
    memset(f, 0, sizeof(*f));
  }
  return f;
}

void rudp_rtb_frames_del(rudp_rtb *rtb, rudp_rtb_frame *frames) {
  while (frames) {
    rudp_rtb_frame *next = frames->next;
    rudp_pool_put(&rtb->frames, frames);
    frames = next;
  }
}

uint64_t rudp_rtb_next_pkt_num(const rudp_rtb *rtb) { return rtb->next; }

int rudp_rtb_skip(rudp_rtb *rtb) {
  rudp_rtb_pkt *p;
  int rv;

  rv = ring_reserve(rtb);
  if (rv != 0) {
    return rv;
  }
  rv = skipped_push(rtb, rtb->next);
  if (rv != 0) {
    return rv;
  }
  p = rtb_slot(rtb, rtb->next);
  memset(p, 0, sizeof(*p));
  p->pkt_num = rtb->next;
  p->state_ = RTB_SKIPPED;
  p->prev_hole_ = p->next_hole_ = RTB_NONE;
  ++rtb->next;
  return 0;
}

int rudp_rtb_add(rudp_rtb *rtb, rudp_tstamp sent_ts, uint64_t size,
                 uint32_t flags, rudp_rtb_frame *frames) {
  rudp_rtb_pkt *p;

  if (ring_reserve(rtb) != 0) {
    rudp_rtb_frames_del(rtb, frames);
    return RUDP_ERR_NOMEM;
  }
  if ((flags & RUDP_RTB_FLAG_IN_FLIGHT) && rtb->bytes_in_flight == 0) {
    /* A new flight starts: measure its delivery rate from now, not from
     * the last ACK before the idle period (draft-cheng-iccrg-delivery-rate
     * -estimation §3.2). */
    rtb->delivered_ts = sent_ts;
  }
  p = rtb_slot(rtb, rtb->next);
  p->pkt_num = rtb->next;
  p->sent_ts = sent_ts;
  p->size = size;
  p->flags = flags;
  p->frames = frames;
  p->delivered = rtb->delivered;
  p->delivered_ts = rtb->delivered_ts;
  p->state_ = RTB_INFLIGHT;
  p->prev_hole_ = p->next_hole_ = RTB_NONE;
  p->lost_ts_ = 0;
  if (flags & RUDP_RTB_FLAG_IN_FLIGHT) {
    rtb->bytes_in_flight += size;
  }
  if (flags & RUDP_RTB_FLAG_ACK_ELICITING) {
    ++rtb->ack_eliciting_in_flight;
    rtb->last_ack_eliciting_sent_ts = sent_ts;
  }
  ++rtb->next;
  return 0;
}

/* ------------------------------------------------------------------- ACK */

/* ack_ctx carries what one rudp_rtb_on_ack accumulates. */
typedef struct ack_ctx {
  const rudp_rtb_cb *cb;
  rudp_rtb_ack_result *res;
  /* frame_largest is the ACK frame's largest acknowledged. */
  uint64_t frame_largest;
  /* largest_newly: frame_largest was newly acknowledged; any_ae: some
   * newly acknowledged packet was ack-eliciting (RFC 9002 §5.1). */
  int largest_newly;
  int any_ae;
  /* The delivery-rate snapshot of the largest newly acknowledged. */
  uint64_t pkt_delivered;
  rudp_tstamp pkt_delivered_ts;
  /* new_head/new_tail: holes created by this ACK, ascending, spliced onto
   * the hole list at the end (they are all above the existing ones). */
  uint64_t new_head;
  uint64_t new_tail;
} ack_ctx;

/* ack_pkt handles the newly acknowledged |p| (INFLIGHT or unlinked HOLE). */
static void ack_pkt(rudp_rtb *rtb, rudp_rtb_pkt *p, ack_ctx *ctx) {
  rudp_rtb_ack_result *res = ctx->res;

  pkt_leave_flight(rtb, p);
  if (p->flags & RUDP_RTB_FLAG_IN_FLIGHT) {
    res->bytes += p->size;
    rtb->delivered += p->size;
  }
  if (p->flags & RUDP_RTB_FLAG_ACK_ELICITING) {
    ctx->any_ae = 1;
  }
  ++res->npkts;
  if (res->largest_newly_acked == RTB_NONE ||
      p->pkt_num > res->largest_newly_acked) {
    res->largest_newly_acked = p->pkt_num;
    res->largest_newly_acked_sent_ts = p->sent_ts;
    res->app_limited = (p->flags & RUDP_RTB_FLAG_APP_LIMITED) != 0;
    ctx->pkt_delivered = p->delivered;
    ctx->pkt_delivered_ts = p->delivered_ts;
  }
  if (p->pkt_num == ctx->frame_largest) {
    ctx->largest_newly = 1;
  }
  ctx->cb->on_acked(p, ctx->cb->user_data);
  rudp_rtb_frames_del(rtb, p->frames);
  p->frames = NULL;
  p->state_ = RTB_ACKED;
}

/* new_hole makes INFLIGHT |pn|, just passed over by an ACK, a hole.  Called
 * in descending order, so prepending keeps the new list ascending. */
static void new_hole(rudp_rtb *rtb, uint64_t pn, ack_ctx *ctx) {
  rudp_rtb_pkt *p = rtb_slot(rtb, pn);

  ++rtb->nwork;
  if (p->state_ != RTB_INFLIGHT) {
    assert(p->state_ == RTB_SKIPPED);
    return;
  }
  p->state_ = RTB_HOLE;
  p->prev_hole_ = RTB_NONE;
  p->next_hole_ = ctx->new_head;
  if (ctx->new_head == RTB_NONE) {
    ctx->new_tail = pn;
  } else {
    rtb_slot(rtb, ctx->new_head)->prev_hole_ = pn;
  }
  ctx->new_head = pn;
}

/* ack_validate checks |fr| without changing anything (see header). */
static int ack_validate(rudp_rtb *rtb, const rudp_frame_ack *fr) {
  rudp_frame_ack_iter it;
  rudp_range r;
  uint64_t n = 0;
  /* skip_lo: the lowest skipped number still tracked; ranges entirely
   * below it cannot cover one. */
  uint64_t skip_lo = rtb->skipped_len ? skipped_at(rtb, 0) : RTB_NONE;
  int proto = 0;

  if (fr->first_range > fr->largest_ack) {
    return RUDP_ERR_FRAME_ENCODING;
  }
  /* Optimistic-ACK defence (RFC 9000 §21.4): never sent. */
  if (fr->largest_ack >= rtb->next) {
    proto = 1;
  }
  rudp_frame_ack_iter_init(&it, fr);
  while (rudp_frame_ack_iter_next(&it, &r)) {
    ++n;
    ++rtb->nwork;
    if (!proto && skip_lo != RTB_NONE && r.hi >= skip_lo) {
      size_t i = skipped_lower_bound(rtb, r.lo);
      if (i < rtb->skipped_len && skipped_at(rtb, i) <= r.hi) {
        proto = 1;
      }
    }
  }
  /* The iterator stops early on pairs that do not decode or that go below
   * packet number 0. */
  if (n - 1 != fr->range_count) {
    return RUDP_ERR_FRAME_ENCODING;
  }
  return proto ? RUDP_ERR_PROTO : 0;
}

int rudp_rtb_on_ack(rudp_rtb *rtb, const rudp_frame_ack *fr, rudp_tstamp now,
                    const rudp_rtb_cb *cb, rudp_rtb_ack_result *res) {
  rudp_frame_ack_iter it;
  rudp_range r;
  ack_ctx ctx;
  uint64_t old = rtb->largest_acked;
  uint64_t start, end, h, pn;
  int rv;

  res->npkts = 0;
  res->bytes = 0;
  res->largest_newly_acked = RTB_NONE;
  res->largest_newly_acked_sent_ts = 0;
  res->rtt_sample = 0;
  res->app_limited = 0;
  res->delivery_rate = 0;
  res->nspurious = 0;

  rv = ack_validate(rtb, fr);
  if (rv != 0) {
    return rv;
  }

  memset(&ctx, 0, sizeof(ctx));
  ctx.cb = cb;
  ctx.res = res;
  ctx.frame_largest = fr->largest_ack;
  ctx.new_head = ctx.new_tail = RTB_NONE;

  /* The "new" span is [start, end): packets above the old largest
   * acknowledged, up to the frame's largest.  |end| moves down as ranges
   * consume it; every packet number in it is walked once in its life. */
  start = old == RTB_NONE ? 0 : old + 1;
  start = rudp_max(start, rtb->base);
  end = fr->largest_ack >= start ? fr->largest_ack + 1 : start;
  /* h walks the old hole list down from its tail. */
  h = rtb->hole_tail;

  rudp_frame_ack_iter_init(&it, fr);
  while (rudp_frame_ack_iter_next(&it, &r)) {
    ++rtb->nwork;
    if (end > start && r.hi >= start) {
      uint64_t lo = rudp_max(r.lo, start);

      /* The gap above this range was passed over: holes. */
      for (pn = end; pn > r.hi + 1;) {
        new_hole(rtb, --pn, &ctx);
      }
      for (pn = r.hi + 1; pn > lo;) {
        rudp_rtb_pkt *p = rtb_slot(rtb, --pn);
        ++rtb->nwork;
        assert(p->state_ == RTB_INFLIGHT);
        ack_pkt(rtb, p, &ctx);
      }
      end = lo;
    }
    if (old != RTB_NONE && r.lo <= old) {
      uint64_t hi = rudp_min(r.hi, old);

      while (h != RTB_NONE && h > hi) {
        ++rtb->nwork;
        h = rtb_slot(rtb, h)->prev_hole_;
      }
      while (h != RTB_NONE && h >= r.lo) {
        rudp_rtb_pkt *p = rtb_slot(rtb, h);

        ++rtb->nwork;
        h = p->prev_hole_;
        if (p->pkt_num == rtb->first_hole) {
          /* Everything above it is already walked: its successor is the
           * next entry left (LOST ones are skipped below). */
          rtb->first_hole = p->next_hole_;
        }
        hole_unlink(rtb, p);
        if (p->state_ == RTB_HOLE) {
          ack_pkt(rtb, p, &ctx);
        } else {
          /* Declared lost too early: tell the congestion controller
           * (RFC 9002 §7.3.2 allows undoing the reduction). */
          assert(p->state_ == RTB_LOST);
          ++res->nspurious;
          if (cb->on_spurious) {
            cb->on_spurious(p, cb->user_data);
          }
          p->state_ = RTB_ACKED;
        }
      }
    }
    /* Older ranges can only meet holes below h, and none below base. */
    if (end <= start && (h == RTB_NONE || r.lo <= rtb->base)) {
      break;
    }
  }
  /* What is left of the new span lies below the lowest range. */
  for (pn = end; pn > start;) {
    new_hole(rtb, --pn, &ctx);
  }
  while (rtb->first_hole != RTB_NONE &&
         rtb_slot(rtb, rtb->first_hole)->state_ != RTB_HOLE) {
    ++rtb->nwork;
    rtb->first_hole = rtb_slot(rtb, rtb->first_hole)->next_hole_;
  }
  if (rtb->first_hole == RTB_NONE) {
    rtb->first_hole = ctx.new_head;
  }
  if (ctx.new_head != RTB_NONE) {
    if (rtb->hole_tail == RTB_NONE) {
      rtb->hole_head = ctx.new_head;
    } else {
      rtb_slot(rtb, rtb->hole_tail)->next_hole_ = ctx.new_head;
      rtb_slot(rtb, ctx.new_head)->prev_hole_ = rtb->hole_tail;
    }
    rtb->hole_tail = ctx.new_tail;
  }
  if (old == RTB_NONE || fr->largest_ack > old) {
    rtb->largest_acked = fr->largest_ack;
  }

  if (res->bytes) {
    rtb->delivered_ts = now;
  }
  if (res->largest_newly_acked != RTB_NONE) {
    res->rtt_sample = ctx.largest_newly && ctx.any_ae;
    if (now > ctx.pkt_delivered_ts) {
      uint64_t d = rtb->delivered - ctx.pkt_delivered;
      uint64_t dt = now - ctx.pkt_delivered_ts;
      /* bytes * 1e9 / ns without overflowing for very large counts. */
      res->delivery_rate = d <= UINT64_MAX / RUDP_SECONDS
                               ? d * RUDP_SECONDS / dt
                               : d / dt * RUDP_SECONDS;
    }
  }
  advance_base(rtb);
  return 0;
}

/* ------------------------------------------------------------------ loss */

/* acked_between returns nonzero if a packet number in (a, b) was
 * acknowledged, given that a and b are consecutive in the hole list: every
 * number in between below largest_acked is then acknowledged or skipped. */
static int acked_between(const rudp_rtb *rtb, uint64_t a, uint64_t b) {
  if (b - a == 1) {
    return 0;
  }
  return skipped_count(rtb, a + 1, b - 1) != b - a - 1;
}

void rudp_rtb_detect_lost(rudp_rtb *rtb, const rudp_rtt *rtt,
                          rudp_duration max_ack_delay,
                          rudp_tstamp first_rtt_sample_ts, rudp_tstamp now,
                          const rudp_rtb_cb *cb, rudp_rtb_loss_result *res) {
  rudp_duration loss_delay, pc_duration, keep;
  uint64_t pn, next, prev, first = RTB_NONE;
  /* The current run for persistent congestion (RFC 9002 §7.6.2): send
   * times of the first and the latest ack-eliciting packets lost now, sent
   * after the first RTT sample, with nothing acknowledged in between. */
  int in_run = 0;
  rudp_tstamp run_first_ts = 0;

  res->npkts = 0;
  res->bytes = 0;
  res->largest_lost_sent_ts = 0;
  res->persistent_congestion = 0;
  res->loss_time = RUDP_TSTAMP_MAX;

  if (rtb->hole_head == RTB_NONE) {
    return;
  }
  loss_delay = rudp_rtt_loss_delay_scaled(rtt, rtb->time_threshold);
  pc_duration = rudp_rtt_persistent_congestion_duration(rtt, max_ack_delay);

  /* The LOST records before the first hole, oldest first (declared lost
   * in packet-number order, so in lost_ts order): forget those too old
   * for a late ACK to be plausible, up to the first one still kept. */
  keep = rudp_rtt_pto(rtt, max_ack_delay, 0);
  keep = keep > UINT64_MAX / RTB_LOST_KEEP_PTOS ? UINT64_MAX
                                                : keep * RTB_LOST_KEEP_PTOS;
  for (pn = rtb->hole_head; pn != RTB_NONE && pn != rtb->first_hole;
       pn = next) {
    rudp_rtb_pkt *p = rtb_slot(rtb, pn);

    ++rtb->nwork;
    next = p->next_hole_;
    assert(p->state_ == RTB_LOST);
    if (!(pn + RTB_PACKET_THRESHOLD < rtb->largest_acked &&
          now > p->lost_ts_ && now - p->lost_ts_ > keep)) {
      break;
    }
    hole_unlink(rtb, p);
    p->state_ = RTB_ACKED;
  }

  /* The holes, from the first: the kept LOST records before it cannot
   * start a persistent-congestion run (only packets lost now do). */
  if (rtb->first_hole == RTB_NONE) {
    advance_base(rtb);
    return;
  }
  prev = rtb_slot(rtb, rtb->first_hole)->prev_hole_;
  for (pn = rtb->first_hole; pn != RTB_NONE; prev = pn, pn = next) {
    rudp_rtb_pkt *p = rtb_slot(rtb, pn);
    rudp_tstamp deadline;

    ++rtb->nwork;
    next = p->next_hole_;
    /* An acknowledgement between two list entries ends the run. */
    if (in_run && acked_between(rtb, prev, pn)) {
      in_run = 0;
    }
    if (p->state_ == RTB_LOST) {
      /* Lost earlier: not acknowledged, so the run goes on through it. */
      continue;
    }
    assert(p->state_ == RTB_HOLE);
    /* RFC 9002 §6.1: packet threshold, or time threshold. */
    deadline = sat_add(p->sent_ts, loss_delay);
    if (rtb->largest_acked < pn + rtb->pkt_threshold && deadline > now) {
      if (deadline < res->loss_time) {
        res->loss_time = deadline;
      }
      if (first == RTB_NONE) {
        first = pn;
      }
      continue;
    }
    pkt_leave_flight(rtb, p);
    if (p->flags & RUDP_RTB_FLAG_IN_FLIGHT) {
      ++res->npkts;
      res->bytes += p->size;
      res->largest_lost_sent_ts =
          rudp_max(res->largest_lost_sent_ts, p->sent_ts);
    }
    /* §7.6.2: only ack-eliciting packets sent after an RTT sample count
     * (before it, the PTO came from the initial RTT). */
    if ((p->flags & RUDP_RTB_FLAG_ACK_ELICITING) &&
        first_rtt_sample_ts != RUDP_TSTAMP_MAX &&
        p->sent_ts > first_rtt_sample_ts) {
      if (!in_run) {
        in_run = 1;
        run_first_ts = p->sent_ts;
      } else if (p->sent_ts > run_first_ts &&
                 p->sent_ts - run_first_ts > pc_duration) {
        res->persistent_congestion = 1;
      }
    }
    cb->on_lost(p, cb->user_data);
    rudp_rtb_frames_del(rtb, p->frames);
    p->frames = NULL;
    p->state_ = RTB_LOST;
    p->lost_ts_ = now;
  }
  rtb->first_hole = first;
  advance_base(rtb);
}

const rudp_rtb_pkt *rudp_rtb_oldest_unacked(const rudp_rtb *rtb) {
  uint64_t pn;

  if (rtb->ack_eliciting_in_flight == 0) {
    return NULL;
  }
  /* Holes are older than every INFLIGHT packet. */
  for (pn = rtb->first_hole; pn != RTB_NONE;) {
    const rudp_rtb_pkt *p = rtb_slot(rtb, pn);
    if (p->state_ == RTB_HOLE && (p->flags & RUDP_RTB_FLAG_ACK_ELICITING)) {
      return p;
    }
    pn = p->next_hole_;
  }
  pn = rtb->largest_acked == RTB_NONE
           ? rtb->base
           : rudp_max(rtb->base, rtb->largest_acked + 1);
  for (; pn < rtb->next; ++pn) {
    const rudp_rtb_pkt *p = rtb_slot(rtb, pn);
    if (p->state_ == RTB_INFLIGHT && (p->flags & RUDP_RTB_FLAG_ACK_ELICITING)) {
      return p;
    }
  }
  return NULL;
}

void rudp_rtb_discard_all(rudp_rtb *rtb, const rudp_rtb_cb *cb) {
  uint64_t pn;

  for (pn = rtb->base; pn < rtb->next; ++pn) {
    rudp_rtb_pkt *p = rtb_slot(rtb, pn);

    if (p->state_ == RTB_INFLIGHT || p->state_ == RTB_HOLE) {
      pkt_leave_flight(rtb, p);
      if (cb) {
        cb->on_lost(p, cb->user_data);
      }
    }
    rudp_rtb_frames_del(rtb, p->frames);
    p->frames = NULL;
    p->state_ = RTB_EMPTY;
  }
  rtb->base = rtb->next;
  rtb->hole_head = rtb->hole_tail = RTB_NONE;
  rtb->first_hole = RTB_NONE;
  rtb->skipped_len = 0;
  rtb->skipped_head = 0;
  assert(rtb->bytes_in_flight == 0 && rtb->ack_eliciting_in_flight == 0);
  rtb->bytes_in_flight = 0;
  rtb->ack_eliciting_in_flight = 0;
  rtb->last_ack_eliciting_sent_ts = 0;
}

/* ----------------------------------------------------------------- check */

int rudp_rtb_check(const rudp_rtb *rtb) {
  uint64_t pn, prev, first, bytes = 0, ae = 0, nholes = 0, nlisted = 0;
  size_t i, nskipped = 0;

  if (rtb->cap == 0 || (rtb->cap & (rtb->cap - 1)) != 0 ||
      rtb->base > rtb->next || rtb->next - rtb->base > rtb->cap) {
    return 0;
  }
  if (rtb->skipped_len > rtb->skipped_cap) {
    return 0;
  }
  for (i = 0; i < rtb->cap; ++i) {
    const rudp_rtb_pkt *p = &rtb->ring[i];
    /* The slot's packet number if it is tracked. */
    uint64_t spn = rtb->base + ((i - rtb->base) & (rtb->cap - 1));
    if (spn >= rtb->next && p->state_ != RTB_EMPTY) {
      return 0;
    }
  }
  for (pn = rtb->base; pn < rtb->next; ++pn) {
    const rudp_rtb_pkt *p = rtb_slot(rtb, pn);
    int below = rtb->largest_acked != RTB_NONE && pn <= rtb->largest_acked;

    if (p->pkt_num != pn) {
      return 0;
    }
    switch (p->state_) {
    case RTB_INFLIGHT:
    case RTB_HOLE:
      /* Unacknowledged packets below largest_acked are holes. */
      if ((p->state_ == RTB_HOLE) != below ||
          (below && pn == rtb->largest_acked)) {
        return 0;
      }
      if (p->flags & RUDP_RTB_FLAG_IN_FLIGHT) {
        bytes += p->size;
      }
      if (p->flags & RUDP_RTB_FLAG_ACK_ELICITING) {
        ++ae;
      }
      nholes += p->state_ == RTB_HOLE;
      break;
    case RTB_LOST:
      if (!below || p->frames) {
        return 0;
      }
      ++nholes;
      break;
    case RTB_ACKED:
      if (pn == rtb->base || !below || p->frames) {
        return 0;
      }
      break;
    case RTB_SKIPPED:
      if (nskipped >= rtb->skipped_len || skipped_at(rtb, nskipped) != pn) {
        return 0;
      }
      ++nskipped;
      /* base stops at a skipped number only until largest_acked passes. */
      if (pn == rtb->base && below) {
        return 0;
      }
      break;
    default:
      return 0;
    }
  }
  if (nskipped != rtb->skipped_len) {
    return 0;
  }
  if (bytes != rtb->bytes_in_flight || ae != rtb->ack_eliciting_in_flight ||
      (ae == 0 && rtb->last_ack_eliciting_sent_ts != 0)) {
    return 0;
  }
  /* The hole list: ascending, doubly linked, exactly the HOLE and LOST
   * slots; first_hole is its first HOLE, and only LOST slots precede
   * it. */
  prev = RTB_NONE;
  first = RTB_NONE;
  for (pn = rtb->hole_head; pn != RTB_NONE;) {
    const rudp_rtb_pkt *p;
    if (pn < rtb->base || pn >= rtb->next || (prev != RTB_NONE && pn <= prev) ||
        ++nlisted > nholes) {
      return 0;
    }
    p = rtb_slot(rtb, pn);
    if ((p->state_ != RTB_HOLE && p->state_ != RTB_LOST) ||
        p->prev_hole_ != prev) {
      return 0;
    }
    if (p->state_ == RTB_HOLE && first == RTB_NONE) {
      first = pn;
    }
    prev = pn;
    pn = p->next_hole_;
  }
  if (first != rtb->first_hole) {
    return 0;
  }
  if (nlisted != nholes || rtb->hole_tail != prev) {
    return 0;
  }
  return 1;
}
