/*
 * Tests for sent-packet tracking and loss detection (lib/rudp_rtb.c).
 *
 * ACK frames are built the way the connection receives them: encoded from
 * absolute ranges with rudp_frame_encode and decoded again, so the rtb walks
 * real wire ranges.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rudp_rtb.h"
#include "rudp_frame.h"
#include "rudp_ranges.h"
#include "rudp_rtt.h"
#include "rudp_macro.h"
#include "rudp_test_helper.h"

#define MS RUDP_MILLISECONDS
#define NONE UINT64_MAX
/* AE is an ordinary data packet: ack-eliciting and counted in flight. */
#define AE (RUDP_RTB_FLAG_ACK_ELICITING | RUDP_RTB_FLAG_IN_FLIGHT)

/* ------------------------------------------------------------- helpers */

/* test_ack holds an encoded ACK frame and its decoding (whose ranges point
 * into buf). */
typedef struct test_ack {
  uint8_t buf[16384];
  rudp_frame fr;
} test_ack;

/* make_ack encodes |n| absolute ranges (newest first) and decodes them. */
static const rudp_frame_ack *make_ack(test_ack *a, const rudp_range *ranges,
                                      size_t n) {
  rudp_frame f;
  rudp_ssize len;

  memset(&f, 0, sizeof(f));
  f.ack.type = RUDP_FRAME_ACK;
  f.ack.ranges = ranges;
  f.ack.nranges = n;
  len = rudp_frame_encode(a->buf, sizeof(a->buf), &f);
  assert_true(len > 0);
  assert_int_equal(len, rudp_frame_decode(&a->fr, a->buf, (size_t)len));
  assert_int_equal(RUDP_FRAME_ACK, a->fr.type);
  return &a->fr.ack;
}

/* ack1 builds an ACK of the single range [lo, hi]. */
static const rudp_frame_ack *ack1(test_ack *a, uint64_t lo, uint64_t hi) {
  rudp_range r;

  r.lo = lo;
  r.hi = hi;
  return make_ack(a, &r, 1);
}

/* ack2 builds an ACK of [lo1, hi1] (newer) and [lo2, hi2] (older). */
static const rudp_frame_ack *ack2(test_ack *a, uint64_t lo1, uint64_t hi1,
                                  uint64_t lo2, uint64_t hi2) {
  rudp_range r[2];

  r[0].lo = lo1;
  r[0].hi = hi1;
  r[1].lo = lo2;
  r[1].hi = hi2;
  return make_ack(a, r, 2);
}

/* rec records callbacks per packet number (up to npn) plus their order. */
typedef struct rec {
  size_t npn;
  uint8_t *nacked;
  uint8_t *nlost;
  uint8_t *nspur;
  uint64_t order[64];
  size_t norder;
  size_t acked_total;
  size_t lost_total;
  size_t spur_total;
  /* frames_seen counts frames visible to on_acked / on_lost. */
  size_t frames_seen;
  /* rtb, when set, is checked from inside the callbacks. */
  const rudp_rtb *rtb;
} rec;

static void rec_init(rec *r, size_t npn) {
  memset(r, 0, sizeof(*r));
  r->npn = npn;
  r->nacked = calloc(npn, 1);
  r->nlost = calloc(npn, 1);
  r->nspur = calloc(npn, 1);
  assert_non_null(r->nacked);
  assert_non_null(r->nlost);
  assert_non_null(r->nspur);
}

static void rec_free(rec *r) {
  free(r->nacked);
  free(r->nlost);
  free(r->nspur);
}

/* count_frames checks the packet's frames are the ones add_pkt made for it
 * (stream_id = packet number, offsets 0, 1, ... from the list's end). */
static size_t count_frames(const rudp_rtb_pkt *pkt) {
  const rudp_rtb_frame *f;
  size_t n = 0;

  for (f = pkt->frames; f; f = f->next) {
    assert_int_equal(pkt->pkt_num, f->stream_id);
    assert_int_equal(RUDP_FRAME_STREAM, f->type);
    ++n;
  }
  for (f = pkt->frames; f; f = f->next) {
    assert_int_equal(n - 1, f->offset);
    --n;
  }
  for (f = pkt->frames; f; f = f->next) {
    ++n;
  }
  return n;
}

static void on_acked(const rudp_rtb_pkt *pkt, void *user_data) {
  rec *r = user_data;

  assert_true(pkt->pkt_num < r->npn);
  ++r->nacked[pkt->pkt_num];
  if (r->norder < rudp_arraylen(r->order)) {
    r->order[r->norder++] = pkt->pkt_num;
  }
  ++r->acked_total;
  r->frames_seen += count_frames(pkt);
}

static void on_lost(const rudp_rtb_pkt *pkt, void *user_data) {
  rec *r = user_data;

  assert_true(pkt->pkt_num < r->npn);
  ++r->nlost[pkt->pkt_num];
  if (r->norder < rudp_arraylen(r->order)) {
    r->order[r->norder++] = pkt->pkt_num;
  }
  ++r->lost_total;
  r->frames_seen += count_frames(pkt);
}

static void on_spurious(const rudp_rtb_pkt *pkt, void *user_data) {
  rec *r = user_data;

  assert_true(pkt->pkt_num < r->npn);
  assert_null(pkt->frames);
  ++r->nspur[pkt->pkt_num];
  ++r->spur_total;
}

static rudp_rtb_cb make_cb(rec *r) {
  rudp_rtb_cb cb;

  cb.user_data = r;
  cb.on_acked = on_acked;
  cb.on_lost = on_lost;
  cb.on_spurious = on_spurious;
  return cb;
}

/* add_pkt records the next packet with |nframes| frames (stream_id = pn). */
static void add_pkt(rudp_rtb *rtb, rudp_tstamp ts, uint64_t size,
                    uint32_t flags, int nframes) {
  rudp_rtb_frame *head = NULL, *f;
  uint64_t pn = rudp_rtb_next_pkt_num(rtb);
  int i;

  for (i = 0; i < nframes; ++i) {
    f = rudp_rtb_frame_new(rtb);
    assert_non_null(f);
    f->type = RUDP_FRAME_STREAM;
    f->stream_id = pn;
    f->offset = (uint64_t)i;
    f->next = head;
    head = f;
  }
  assert_int_equal(0, rudp_rtb_add(rtb, ts, size, flags, head));
  assert_int_equal(pn + 1, rudp_rtb_next_pkt_num(rtb));
}

/* test_rtt: smoothed = latest = 100 ms, var = 10 ms, so loss_delay =
 * 112.5 ms and the PTO base is 140 ms + max_ack_delay. */
static void test_rtt(rudp_rtt *rtt) {
  rudp_rtt_init(rtt, 100 * MS);
  rtt->latest = 100 * MS;
  rtt->smoothed = 100 * MS;
  rtt->var = 10 * MS;
  rtt->min = 100 * MS;
  rtt->nsamples = 1;
}

static void detect(rudp_rtb *rtb, const rudp_rtt *rtt, rudp_tstamp now,
                   const rudp_rtb_cb *cb, rudp_rtb_loss_result *res) {
  rudp_rtb_detect_lost(rtb, rtt, 25 * MS, 0, now, cb, res);
  assert_int_equal(1, rudp_rtb_check(rtb));
}

/* -------------------------------------------------------------- tests */

static void test_rudp_rtb_init_empty(void **state) {
  rudp_rtb rtb;
  rudp_rtt rtt;
  rudp_rtb_loss_result lres;
  rec r;
  rudp_rtb_cb cb;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  test_rtt(&rtt);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  assert_int_equal(1, rudp_rtb_check(&rtb));
  assert_int_equal(0, rudp_rtb_next_pkt_num(&rtb));
  assert_int_equal(NONE, rtb.largest_acked);
  assert_int_equal(0, rtb.bytes_in_flight);
  assert_null(rudp_rtb_oldest_unacked(&rtb));
  detect(&rtb, &rtt, 1000 * MS, &cb, &lres);
  assert_int_equal(0, lres.npkts);
  assert_int_equal(RUDP_TSTAMP_MAX, lres.loss_time);
  assert_int_equal(0, lres.persistent_congestion);
  rudp_rtb_free(&rtb);
  rudp_rtb_free(NULL);
  rec_free(&r);
}

static void test_rudp_rtb_add_ack_in_order(void **state) {
  rudp_rtb rtb;
  test_ack a;
  rudp_rtb_ack_result res;
  rec r;
  rudp_rtb_cb cb;
  uint64_t i;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  for (i = 0; i < 5; ++i) {
    add_pkt(&rtb, (i + 1) * MS, 1000 + i, AE, (int)i + 1);
  }
  assert_int_equal(5000 + 10, rtb.bytes_in_flight);
  assert_int_equal(5, rtb.ack_eliciting_in_flight);
  assert_int_equal(5 * MS, rtb.last_ack_eliciting_sent_ts);
  assert_int_equal(15, rtb.frames.nused);
  assert_int_equal(1, rudp_rtb_check(&rtb));

  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 2), 50 * MS, &cb, &res));
  assert_int_equal(1, rudp_rtb_check(&rtb));
  assert_int_equal(3, res.npkts);
  assert_int_equal(1000 + 1001 + 1002, res.bytes);
  assert_int_equal(2, res.largest_newly_acked);
  assert_int_equal(3 * MS, res.largest_newly_acked_sent_ts);
  assert_int_equal(1, res.rtt_sample);
  assert_int_equal(0, res.nspurious);
  assert_int_equal(3, r.acked_total);
  assert_int_equal(1 + 2 + 3, r.frames_seen);
  assert_int_equal(1, r.nacked[0]);
  assert_int_equal(1, r.nacked[1]);
  assert_int_equal(1, r.nacked[2]);
  assert_int_equal(0, r.nacked[3]);
  assert_int_equal(1003 + 1004, rtb.bytes_in_flight);
  assert_int_equal(2, rtb.ack_eliciting_in_flight);
  assert_int_equal(4 + 5, rtb.frames.nused);
  assert_int_equal(2, rtb.largest_acked);
  assert_int_equal(3, rtb.base);
  assert_int_equal(3003, rtb.delivered);
  assert_int_equal(50 * MS, rtb.delivered_ts);

  /* Re-acknowledging changes nothing. */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 4), 60 * MS, &cb, &res));
  assert_int_equal(2, res.npkts);
  assert_int_equal(4, res.largest_newly_acked);
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 4), 70 * MS, &cb, &res));
  assert_int_equal(0, res.npkts);
  assert_int_equal(0, res.bytes);
  assert_int_equal(NONE, res.largest_newly_acked);
  assert_int_equal(0, res.rtt_sample);
  assert_int_equal(0, res.delivery_rate);
  assert_int_equal(5, r.acked_total);
  assert_int_equal(0, rtb.bytes_in_flight);
  assert_int_equal(0, rtb.ack_eliciting_in_flight);
  assert_int_equal(0, rtb.last_ack_eliciting_sent_ts);
  assert_int_equal(0, rtb.frames.nused);
  assert_int_equal(5, rtb.base);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

/* A callback that checks the rtb's counters are already updated. */
static void on_acked_check(const rudp_rtb_pkt *pkt, void *user_data) {
  rec *r = user_data;

  assert_int_equal(0, r->rtb->bytes_in_flight);
  assert_int_equal(7, pkt->pkt_num);
  ++r->acked_total;
}

static void test_rudp_rtb_callback_sees_updated_counts(void **state) {
  rudp_rtb rtb;
  test_ack a;
  rudp_rtb_ack_result res;
  rec r;
  rudp_rtb_cb cb;
  int i;

  (void)state;
  rec_init(&r, 16);
  r.rtb = &rtb;
  cb = make_cb(&r);
  cb.on_acked = on_acked_check;
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  for (i = 0; i < 7; ++i) {
    assert_int_equal(0, rudp_rtb_skip(&rtb));
  }
  add_pkt(&rtb, MS, 1200, AE, 0);
  assert_int_equal(0, rudp_rtb_on_ack(&rtb, ack1(&a, 7, 7), 2 * MS, &cb, &res));
  assert_int_equal(1, r.acked_total);
  /* Every skipped number was passed: nothing is tracked any more. */
  assert_int_equal(8, rtb.base);
  assert_int_equal(0, rtb.skipped_len);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

static void test_rudp_rtb_ack_only_not_in_flight(void **state) {
  rudp_rtb rtb;
  test_ack a;
  rudp_rtb_ack_result res;
  rec r;
  rudp_rtb_cb cb;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  add_pkt(&rtb, MS, 50, RUDP_RTB_FLAG_NONE, 1);
  assert_int_equal(0, rtb.bytes_in_flight);
  assert_int_equal(0, rtb.ack_eliciting_in_flight);
  assert_int_equal(1, rtb.next - rtb.base);
  assert_null(rudp_rtb_oldest_unacked(&rtb));
  assert_int_equal(1, rudp_rtb_check(&rtb));
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 0), 20 * MS, &cb, &res));
  assert_int_equal(1, res.npkts);
  assert_int_equal(0, res.bytes);
  assert_int_equal(0, res.largest_newly_acked);
  /* No ack-eliciting packet newly acknowledged: no RTT sample. */
  assert_int_equal(0, res.rtt_sample);
  assert_int_equal(0, rtb.delivered);
  assert_int_equal(1, r.nacked[0]);
  assert_int_equal(1, r.frames_seen);
  assert_int_equal(0, rtb.frames.nused);
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

static void test_rudp_rtb_ack_gaps_make_holes(void **state) {
  rudp_rtb rtb;
  test_ack a;
  rudp_rtb_ack_result res;
  rec r;
  rudp_rtb_cb cb;
  rudp_range rg[3];
  uint64_t i, pn;
  const uint64_t holes[] = {0, 1, 5, 6, 10};
  size_t n;

  (void)state;
  rec_init(&r, 32);
  cb = make_cb(&r);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  for (i = 0; i < 14; ++i) {
    add_pkt(&rtb, (i + 1) * MS, 100, AE, 1);
  }
  /* {11-12, 7-9, 2-4}: 0, 1, 5, 6, 10 become holes; 13 stays in flight. */
  rg[0].lo = 11;
  rg[0].hi = 12;
  rg[1].lo = 7;
  rg[1].hi = 9;
  rg[2].lo = 2;
  rg[2].hi = 4;
  assert_int_equal(
      0, rudp_rtb_on_ack(&rtb, make_ack(&a, rg, 3), 30 * MS, &cb, &res));
  assert_int_equal(1, rudp_rtb_check(&rtb));
  assert_int_equal(8, res.npkts);
  assert_int_equal(800, res.bytes);
  assert_int_equal(12, res.largest_newly_acked);
  assert_int_equal(12, rtb.largest_acked);
  assert_int_equal(600, rtb.bytes_in_flight);
  /* The hole list, in packet-number order. */
  n = 0;
  for (pn = rtb.hole_head; pn != NONE;
       pn = rtb.ring[pn & (rtb.cap - 1)].next_hole_) {
    assert_true(n < rudp_arraylen(holes));
    assert_int_equal(holes[n], pn);
    ++n;
  }
  assert_int_equal(rudp_arraylen(holes), n);
  assert_int_equal(10, rtb.hole_tail);
  assert_int_equal(0, rtb.base);
  /* The oldest hole is the oldest unacknowledged packet. */
  assert_int_equal(0, rudp_rtb_oldest_unacked(&rtb)->pkt_num);

  /* Holes acknowledged later (reordering): 5-6 and 0. */
  assert_int_equal(
      0, rudp_rtb_on_ack(&rtb, ack2(&a, 2, 12, 0, 0), 31 * MS, &cb, &res));
  assert_int_equal(1, rudp_rtb_check(&rtb));
  assert_int_equal(4, res.npkts);
  assert_int_equal(10, res.largest_newly_acked);
  assert_int_equal(11 * MS, res.largest_newly_acked_sent_ts);
  /* 12 was not newly acknowledged: no RTT sample (RFC 9002 §5.1). */
  assert_int_equal(0, res.rtt_sample);
  assert_int_equal(1, rtb.hole_head);
  assert_int_equal(1, rtb.hole_tail);
  assert_int_equal(1, rtb.base);
  for (i = 0; i < 14; ++i) {
    assert_int_equal(i == 1 || i == 13 ? 0 : 1, r.nacked[i]);
  }
  assert_int_equal(200, rtb.bytes_in_flight);
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

static void test_rudp_rtb_packet_threshold(void **state) {
  rudp_rtb rtb;
  rudp_rtt rtt;
  test_ack a;
  rudp_rtb_ack_result res;
  rudp_rtb_loss_result lres;
  rec r;
  rudp_rtb_cb cb;
  uint64_t i;
  rudp_duration ld;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  test_rtt(&rtt);
  ld = rudp_rtt_loss_delay(&rtt);
  assert_int_equal(112500 * RUDP_MICROSECONDS, ld);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  for (i = 0; i < 6; ++i) {
    add_pkt(&rtb, (i + 1) * MS, 100 + i, AE, 2);
  }
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 3, 3), 10 * MS, &cb, &res));
  /* Largest acknowledged 3: exactly 3 above pn 0, which is lost; 1 and 2
   * are not (yet). */
  detect(&rtb, &rtt, 10 * MS, &cb, &lres);
  assert_int_equal(1, lres.npkts);
  assert_int_equal(100, lres.bytes);
  assert_int_equal(1 * MS, lres.largest_lost_sent_ts);
  assert_int_equal(0, lres.persistent_congestion);
  assert_int_equal(2 * MS + ld, lres.loss_time);
  assert_int_equal(1, r.nlost[0]);
  assert_int_equal(0, r.nlost[1]);
  /* Two frames of 3 (acknowledged) and two of 0 (lost). */
  assert_int_equal(4, r.frames_seen);
  assert_int_equal(101 + 102 + 104 + 105, rtb.bytes_in_flight);
  assert_int_equal(4, rtb.ack_eliciting_in_flight);
  /* The lost record keeps base; its frames are back in the pool. */
  assert_int_equal(0, rtb.base);
  assert_int_equal(2 * 4, rtb.frames.nused);
  /* Detecting again loses nothing more. */
  detect(&rtb, &rtt, 11 * MS, &cb, &lres);
  assert_int_equal(0, lres.npkts);
  assert_int_equal(0, lres.largest_lost_sent_ts);
  assert_int_equal(1, r.lost_total);

  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 3, 4), 12 * MS, &cb, &res));
  detect(&rtb, &rtt, 12 * MS, &cb, &lres);
  assert_int_equal(1, lres.npkts);
  assert_int_equal(1, r.nlost[1]);
  assert_int_equal(0, r.nlost[2]);
  assert_int_equal(3 * MS + ld, lres.loss_time);
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

static void test_rudp_rtb_time_threshold(void **state) {
  rudp_rtb rtb;
  rudp_rtt rtt;
  test_ack a;
  rudp_rtb_ack_result res;
  rudp_rtb_loss_result lres;
  rec r;
  rudp_rtb_cb cb;
  rudp_duration ld;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  test_rtt(&rtt);
  ld = rudp_rtt_loss_delay(&rtt);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  add_pkt(&rtb, 1 * MS, 100, AE, 1);
  add_pkt(&rtb, 2 * MS, 100, AE, 1);
  add_pkt(&rtb, 3 * MS, 100, AE, 1);
  add_pkt(&rtb, 4 * MS, 100, AE, 1); /* never acknowledged: in flight */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 2, 2), 50 * MS, &cb, &res));
  detect(&rtb, &rtt, 50 * MS, &cb, &lres);
  assert_int_equal(0, lres.npkts);
  assert_int_equal(1 * MS + ld, lres.loss_time);
  detect(&rtb, &rtt, 1 * MS + ld - 1, &cb, &lres);
  assert_int_equal(0, lres.npkts);
  assert_int_equal(1 * MS + ld, lres.loss_time);
  /* At the deadline exactly (sent_ts <= now - loss_delay, §6.1.2). */
  detect(&rtb, &rtt, 1 * MS + ld, &cb, &lres);
  assert_int_equal(1, lres.npkts);
  assert_int_equal(1, r.nlost[0]);
  assert_int_equal(2 * MS + ld, lres.loss_time);
  detect(&rtb, &rtt, 5 * MS + ld, &cb, &lres);
  assert_int_equal(1, lres.npkts);
  assert_int_equal(1, r.nlost[1]);
  assert_int_equal(RUDP_TSTAMP_MAX, lres.loss_time);
  assert_int_equal(100, rtb.bytes_in_flight);
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

static void test_rudp_rtb_reordered_hole_not_lost(void **state) {
  rudp_rtb rtb;
  rudp_rtt rtt;
  test_ack a;
  rudp_rtb_ack_result res;
  rudp_rtb_loss_result lres;
  rec r;
  rudp_rtb_cb cb;
  uint64_t i;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  test_rtt(&rtt);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  for (i = 0; i < 6; ++i) {
    add_pkt(&rtb, (i + 1) * MS, 100, AE, 1);
  }
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 4, 5), 30 * MS, &cb, &res));
  /* 0-3 are holes; 0 and 1 are past the packet threshold but the ACK of
   * 0-3 arrives before detection runs. */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 5), 31 * MS, &cb, &res));
  assert_int_equal(4, res.npkts);
  assert_int_equal(3, res.largest_newly_acked);
  detect(&rtb, &rtt, 1000 * MS, &cb, &lres);
  assert_int_equal(0, lres.npkts);
  assert_int_equal(RUDP_TSTAMP_MAX, lres.loss_time);
  assert_int_equal(0, r.lost_total);
  assert_int_equal(6, r.acked_total);
  assert_int_equal(6, rtb.base);
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

static void test_rudp_rtb_spurious_loss(void **state) {
  rudp_rtb rtb;
  rudp_rtt rtt;
  test_ack a;
  rudp_rtb_ack_result res;
  rudp_rtb_loss_result lres;
  rec r;
  rudp_rtb_cb cb;
  uint64_t i;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  test_rtt(&rtt);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  for (i = 0; i < 5; ++i) {
    add_pkt(&rtb, (i + 1) * MS, 100, AE, 1);
  }
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 3, 3), 30 * MS, &cb, &res));
  detect(&rtb, &rtt, 30 * MS, &cb, &lres);
  assert_int_equal(1, lres.npkts);
  assert_int_equal(1, r.nlost[0]);
  assert_int_equal(300, rtb.bytes_in_flight);

  /* The late ACK of 0 (and 1): 0 was acknowledged after all. */
  assert_int_equal(
      0, rudp_rtb_on_ack(&rtb, ack2(&a, 3, 3, 0, 1), 40 * MS, &cb, &res));
  assert_int_equal(1, rudp_rtb_check(&rtb));
  assert_int_equal(1, res.nspurious);
  assert_int_equal(1, r.nspur[0]);
  assert_int_equal(0, r.nacked[0]);
  assert_int_equal(1, r.nacked[1]);
  assert_int_equal(1, res.npkts);
  assert_int_equal(100, res.bytes);
  assert_int_equal(1, res.largest_newly_acked);
  assert_int_equal(200, rtb.bytes_in_flight);
  assert_int_equal(2, rtb.base);
  /* Once only. */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 3), 41 * MS, &cb, &res));
  assert_int_equal(0, res.nspurious);
  assert_int_equal(1, res.npkts);
  assert_int_equal(1, r.spur_total);

  /* on_spurious is optional. */
  cb.on_spurious = NULL;
  add_pkt(&rtb, 50 * MS, 100, AE, 0);
  add_pkt(&rtb, 51 * MS, 100, AE, 0);
  add_pkt(&rtb, 52 * MS, 100, AE, 0);
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 7, 7), 60 * MS, &cb, &res));
  detect(&rtb, &rtt, 60 * MS, &cb, &lres);
  assert_int_equal(1, lres.npkts);
  assert_int_equal(1, r.nlost[4]);
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 4, 7), 61 * MS, &cb, &res));
  assert_int_equal(1, res.nspurious);
  assert_int_equal(2, res.npkts);
  assert_int_equal(0, rtb.bytes_in_flight);
  assert_int_equal(8, rtb.base);
  assert_int_equal(0, rtb.frames.nused);
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

/* snap captures the observable state to show a rejected ACK changed
 * nothing. */
typedef struct snap {
  uint64_t base, next, largest_acked, hole_head, hole_tail, bif, ae;
  uint64_t delivered;
  size_t nused, skipped_len;
} snap;

static snap take_snap(const rudp_rtb *rtb) {
  snap s;

  s.base = rtb->base;
  s.next = rtb->next;
  s.largest_acked = rtb->largest_acked;
  s.hole_head = rtb->hole_head;
  s.hole_tail = rtb->hole_tail;
  s.bif = rtb->bytes_in_flight;
  s.ae = rtb->ack_eliciting_in_flight;
  s.delivered = rtb->delivered;
  s.nused = rtb->frames.nused;
  s.skipped_len = rtb->skipped_len;
  return s;
}

static void assert_snap(const snap *s, const rudp_rtb *rtb) {
  snap t = take_snap(rtb);

  assert_memory_equal(s, &t, sizeof(t));
}

static void test_rudp_rtb_optimistic_ack_unsent(void **state) {
  rudp_rtb rtb;
  test_ack a;
  rudp_rtb_ack_result res;
  rec r;
  rudp_rtb_cb cb;
  snap s;
  uint64_t i;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  for (i = 0; i < 5; ++i) {
    add_pkt(&rtb, (i + 1) * MS, 100, AE, 1);
  }
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 1, 1), 10 * MS, &cb, &res));
  memset(&s, 0, sizeof(s));
  s = take_snap(&rtb);
  assert_int_equal(RUDP_ERR_PROTO,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 5, 5), 20 * MS, &cb, &res));
  assert_int_equal(RUDP_ERR_PROTO,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 9), 20 * MS, &cb, &res));
  assert_int_equal(RUDP_ERR_PROTO, rudp_rtb_on_ack(&rtb, ack2(&a, 5, 5, 0, 3),
                                                   20 * MS, &cb, &res));
  assert_int_equal(0, res.npkts);
  assert_int_equal(1, r.acked_total);
  assert_int_equal(0, r.lost_total);
  assert_snap(&s, &rtb);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  /* The honest ACK still works. */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 4), 20 * MS, &cb, &res));
  assert_int_equal(4, res.npkts);
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

static void test_rudp_rtb_optimistic_ack_skipped(void **state) {
  rudp_rtb rtb;
  test_ack a;
  rudp_rtb_ack_result res;
  rec r;
  rudp_rtb_cb cb;
  snap s;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  add_pkt(&rtb, 1 * MS, 100, AE, 1);        /* 0 */
  assert_int_equal(0, rudp_rtb_skip(&rtb)); /* 1 */
  assert_int_equal(2, rudp_rtb_next_pkt_num(&rtb));
  add_pkt(&rtb, 2 * MS, 100, AE, 1);        /* 2 */
  add_pkt(&rtb, 3 * MS, 100, AE, 1);        /* 3 */
  assert_int_equal(0, rudp_rtb_skip(&rtb)); /* 4 */
  add_pkt(&rtb, 4 * MS, 100, AE, 1);        /* 5 */
  assert_int_equal(1, rudp_rtb_check(&rtb));
  assert_int_equal(400, rtb.bytes_in_flight);

  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 0), 10 * MS, &cb, &res));
  /* base waits at the skipped 1 while nothing above it is acknowledged. */
  assert_int_equal(1, rtb.base);
  s = take_snap(&rtb);
  assert_int_equal(RUDP_ERR_PROTO,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 2), 11 * MS, &cb, &res));
  assert_int_equal(RUDP_ERR_PROTO,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 1, 1), 11 * MS, &cb, &res));
  assert_int_equal(RUDP_ERR_PROTO,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 4, 5), 11 * MS, &cb, &res));
  assert_snap(&s, &rtb);
  assert_int_equal(1, r.acked_total);

  /* Acknowledging around the skipped numbers is fine; the skipped ones do
   * not become holes. */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 5, 5), 12 * MS, &cb, &res));
  assert_int_equal(1, rudp_rtb_check(&rtb));
  assert_int_equal(2, rtb.hole_head);
  assert_int_equal(3, rtb.hole_tail);
  /* Skipped 4 is still tracked (base is held by hole 2): rejected. */
  s = take_snap(&rtb);
  assert_int_equal(RUDP_ERR_PROTO,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 3, 5), 13 * MS, &cb, &res));
  assert_snap(&s, &rtb);
  assert_int_equal(
      0, rudp_rtb_on_ack(&rtb, ack2(&a, 5, 5, 2, 3), 13 * MS, &cb, &res));
  assert_int_equal(2, res.npkts);
  assert_int_equal(6, rtb.base);
  assert_int_equal(0, rtb.skipped_len);
  /* Below base the numbers are forgotten; an ACK of them is harmless. */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 5), 14 * MS, &cb, &res));
  assert_int_equal(0, res.npkts);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

static void test_rudp_rtb_malformed_ack(void **state) {
  rudp_rtb rtb;
  rudp_rtb_ack_result res;
  rec r;
  rudp_rtb_cb cb;
  rudp_frame_ack fr;
  snap s;
  /* gap 5 below a first range at 3: below packet number 0. */
  static const uint8_t below_zero[] = {5, 0};
  /* A truncated varint. */
  static const uint8_t truncated[] = {0x40};
  uint64_t i;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  for (i = 0; i < 5; ++i) {
    add_pkt(&rtb, (i + 1) * MS, 100, AE, 1);
  }
  s = take_snap(&rtb);
  memset(&fr, 0, sizeof(fr));
  fr.type = RUDP_FRAME_ACK;
  fr.largest_ack = 2;
  fr.first_range = 3;
  assert_int_equal(RUDP_ERR_FRAME_ENCODING,
                   rudp_rtb_on_ack(&rtb, &fr, 10 * MS, &cb, &res));
  fr.largest_ack = 3;
  fr.first_range = 0;
  fr.range_count = 1;
  assert_int_equal(RUDP_ERR_FRAME_ENCODING,
                   rudp_rtb_on_ack(&rtb, &fr, 10 * MS, &cb, &res));
  fr.rangebuf = below_zero;
  fr.rangebuflen = sizeof(below_zero);
  assert_int_equal(RUDP_ERR_FRAME_ENCODING,
                   rudp_rtb_on_ack(&rtb, &fr, 10 * MS, &cb, &res));
  fr.rangebuf = truncated;
  fr.rangebuflen = sizeof(truncated);
  assert_int_equal(RUDP_ERR_FRAME_ENCODING,
                   rudp_rtb_on_ack(&rtb, &fr, 10 * MS, &cb, &res));
  fr.range_count = UINT64_MAX >> 2;
  assert_int_equal(RUDP_ERR_FRAME_ENCODING,
                   rudp_rtb_on_ack(&rtb, &fr, 10 * MS, &cb, &res));
  assert_snap(&s, &rtb);
  assert_int_equal(0, r.acked_total);
  /* A hand-made frame without pairs is valid. */
  fr.range_count = 0;
  fr.rangebuf = NULL;
  fr.rangebuflen = 0;
  fr.first_range = 3;
  assert_int_equal(0, rudp_rtb_on_ack(&rtb, &fr, 10 * MS, &cb, &res));
  assert_int_equal(4, res.npkts);
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

static void test_rudp_rtb_rtt_sample_rules(void **state) {
  rudp_rtb rtb;
  test_ack a;
  rudp_rtb_ack_result res;
  rec r;
  rudp_rtb_cb cb;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  add_pkt(&rtb, 1 * MS, 40, RUDP_RTB_FLAG_NONE, 0); /* 0: ACK-only */
  add_pkt(&rtb, 2 * MS, 100, AE, 0);                /* 1 */
  /* Only an ACK-only packet newly acknowledged: no sample. */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 0), 10 * MS, &cb, &res));
  assert_int_equal(1, res.npkts);
  assert_int_equal(0, res.rtt_sample);
  /* Largest newly acknowledged and ack-eliciting: sample. */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 1), 11 * MS, &cb, &res));
  assert_int_equal(1, res.rtt_sample);
  assert_int_equal(1, res.largest_newly_acked);
  assert_int_equal(2 * MS, res.largest_newly_acked_sent_ts);
  /* Duplicate: no sample. */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 1), 12 * MS, &cb, &res));
  assert_int_equal(0, res.rtt_sample);

  add_pkt(&rtb, 3 * MS, 100, AE, 0); /* 2 */
  add_pkt(&rtb, 4 * MS, 100, AE, 0); /* 3 */
  add_pkt(&rtb, 5 * MS, 100, AE, 0); /* 4 */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 4, 4), 20 * MS, &cb, &res));
  assert_int_equal(1, res.rtt_sample);
  /* Holes newly acknowledged but the frame's largest (4) is old: none. */
  assert_int_equal(
      0, rudp_rtb_on_ack(&rtb, ack2(&a, 4, 4, 2, 2), 21 * MS, &cb, &res));
  assert_int_equal(1, res.npkts);
  assert_int_equal(2, res.largest_newly_acked);
  assert_int_equal(0, res.rtt_sample);
  /* The frame's largest is a hole newly acknowledged: sample. */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 3, 3), 22 * MS, &cb, &res));
  assert_int_equal(3, res.largest_newly_acked);
  assert_int_equal(1, res.rtt_sample);

  /* Largest newly acknowledged is ACK-only, but an ack-eliciting one was
   * newly acknowledged with it: sample (RFC 9002 §5.1). */
  add_pkt(&rtb, 6 * MS, 100, AE, 0);                /* 5 */
  add_pkt(&rtb, 7 * MS, 40, RUDP_RTB_FLAG_NONE, 0); /* 6 */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 5, 6), 30 * MS, &cb, &res));
  assert_int_equal(6, res.largest_newly_acked);
  assert_int_equal(7 * MS, res.largest_newly_acked_sent_ts);
  assert_int_equal(1, res.rtt_sample);
  assert_int_equal(100, res.bytes);
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

static void test_rudp_rtb_delivery_rate(void **state) {
  rudp_rtb rtb;
  test_ack a;
  rudp_rtb_ack_result res;
  rec r;
  rudp_rtb_cb cb;
  uint64_t i;

  (void)state;
  rec_init(&r, 32);
  cb = make_cb(&r);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  for (i = 0; i < 10; ++i) {
    add_pkt(&rtb, 1 * MS, 1000, AE, 0);
  }
  /* The first flight starts at 1 ms; 10000 bytes over 100 ms. */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 9), 101 * MS, &cb, &res));
  assert_int_equal(100000, res.delivery_rate);
  assert_int_equal(0, res.app_limited);
  assert_int_equal(10000, rtb.delivered);

  /* After an idle period the next flight is measured from its own start
   * (150 ms), not from the last ACK (101 ms). */
  for (i = 0; i < 10; ++i) {
    add_pkt(&rtb, 150 * MS, 1000, AE | (i == 9 ? RUDP_RTB_FLAG_APP_LIMITED : 0),
            0);
  }
  assert_int_equal(
      0, rudp_rtb_on_ack(&rtb, ack1(&a, 10, 14), 200 * MS, &cb, &res));
  assert_int_equal(100000, res.delivery_rate);
  assert_int_equal(0, res.app_limited);
  /* 20 is sent mid-flight: it keeps the counters of the last ACK
   * (15000 delivered at 200 ms). */
  add_pkt(&rtb, 210 * MS, 1000, AE, 0); /* 20 */
  assert_int_equal(
      0, rudp_rtb_on_ack(&rtb, ack1(&a, 10, 19), 250 * MS, &cb, &res));
  /* Largest newly acked is 19: sent with delivered 10000 at 150 ms. */
  assert_int_equal(10000 * RUDP_SECONDS / (100 * MS), res.delivery_rate);
  assert_int_equal(1, res.app_limited);
  assert_int_equal(
      0, rudp_rtb_on_ack(&rtb, ack1(&a, 10, 20), 260 * MS, &cb, &res));
  /* 20 was sent with delivered 15000 at 200 ms: 6000 bytes in 60 ms. */
  assert_int_equal(100000, res.delivery_rate);
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

/* pc_case sends ack-eliciting packets at |ts| (0 entries: skip that
 * number), acknowledges |ack_hi| plus optionally |ack_mid|, then detects
 * at |now| and returns persistent_congestion. */
static int pc_case(const rudp_tstamp *ts, size_t n, uint64_t ack_mid,
                   rudp_tstamp first_sample, rudp_tstamp now, uint64_t *nlost) {
  rudp_rtb rtb;
  rudp_rtt rtt;
  test_ack a;
  rudp_rtb_ack_result res;
  rudp_rtb_loss_result lres;
  rec r;
  rudp_rtb_cb cb;
  size_t i;
  int pc;

  rec_init(&r, 64);
  cb = make_cb(&r);
  test_rtt(&rtt);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  for (i = 0; i < n; ++i) {
    if (ts[i]) {
      add_pkt(&rtb, ts[i], 100, AE, 0);
    } else {
      assert_int_equal(0, rudp_rtb_skip(&rtb));
    }
  }
  if (ack_mid != NONE) {
    assert_int_equal(
        0, rudp_rtb_on_ack(&rtb, ack2(&a, n - 1, n - 1, ack_mid, ack_mid), now,
                           &cb, &res));
  } else {
    assert_int_equal(
        0, rudp_rtb_on_ack(&rtb, ack1(&a, n - 1, n - 1), now, &cb, &res));
  }
  rudp_rtb_detect_lost(&rtb, &rtt, 25 * MS, first_sample, now, &cb, &lres);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  pc = lres.persistent_congestion;
  *nlost = lres.npkts;
  rudp_rtb_free(&rtb);
  rec_free(&r);
  return pc;
}

static void test_rudp_rtb_persistent_congestion(void **state) {
  rudp_rtt rtt;
  rudp_duration pcd;
  rudp_tstamp t0 = 10 * MS, now;
  rudp_tstamp ts[7];
  uint64_t nlost;

  (void)state;
  test_rtt(&rtt);
  pcd = rudp_rtt_persistent_congestion_duration(&rtt, 25 * MS);
  assert_int_equal(3 * 165 * MS, pcd);

  /* 0, 1, 2 lost, spanning pcd + 1 ns; 3 acknowledged. */
  ts[0] = t0;
  ts[1] = t0 + pcd / 2;
  ts[2] = t0 + pcd + 1;
  ts[3] = t0 + pcd + 2;
  now = ts[2] + rudp_rtt_loss_delay(&rtt);
  assert_int_equal(1, pc_case(ts, 4, NONE, 1 * MS, now, &nlost));
  assert_int_equal(3, nlost);
  /* Exactly pcd: not more than it. */
  ts[2] = t0 + pcd;
  assert_int_equal(0, pc_case(ts, 4, NONE, 1 * MS, now, &nlost));
  assert_int_equal(3, nlost);
  ts[2] = t0 + pcd + 1;
  /* No RTT sample yet, or the first sample after the first loss: the
   * period would start before anything was known. */
  assert_int_equal(0, pc_case(ts, 4, NONE, RUDP_TSTAMP_MAX, now, &nlost));
  assert_int_equal(0, pc_case(ts, 4, NONE, t0, now, &nlost));
  assert_int_equal(3, nlost);

  /* Something in between acknowledged: 0, 2, 3 lost, 1 acknowledged. */
  ts[0] = t0;
  ts[1] = t0 + 1 * MS;
  ts[2] = t0 + 2 * MS;
  ts[3] = t0 + pcd + 1;
  ts[4] = t0 + pcd + 2;
  now = ts[3] + rudp_rtt_loss_delay(&rtt);
  assert_int_equal(0, pc_case(ts, 5, 1, 1 * MS, now, &nlost));
  assert_int_equal(3, nlost);
  /* The same without the ACK of 1. */
  assert_int_equal(1, pc_case(ts, 5, NONE, 1 * MS, now, &nlost));
  assert_int_equal(4, nlost);
  /* A skipped number in between is no acknowledgement. */
  ts[1] = 0;
  assert_int_equal(1, pc_case(ts, 5, NONE, 1 * MS, now, &nlost));
  assert_int_equal(3, nlost);

  /* Two runs split by the ACK of 2: {0, 1} is short, but {3, 4, 5} alone
   * spans more than the duration. */
  ts[0] = t0;
  ts[1] = t0 + 1 * MS;
  ts[2] = t0 + 2 * MS;
  ts[3] = t0 + 3 * MS;
  ts[4] = t0 + 4 * MS;
  ts[5] = t0 + pcd + 4 * MS;
  ts[6] = t0 + pcd + 5 * MS;
  now = ts[5] + rudp_rtt_loss_delay(&rtt);
  assert_int_equal(1, pc_case(ts, 7, 2, 1 * MS, now, &nlost));
  assert_int_equal(5, nlost);
  /* Split by the ACK of 3 instead, with 4 sent late: {0, 1, 2} and
   * {4, 5} are both short. */
  ts[4] = t0 + pcd + 3 * MS;
  assert_int_equal(0, pc_case(ts, 7, 3, 1 * MS, now, &nlost));
  assert_int_equal(5, nlost);
}

/* pc_two_batches loses 0 alone, then 1 and 2 (or all three at once when
 * |one_batch|), and returns whether either call found persistent
 * congestion. */
static int pc_two_batches(int one_batch) {
  rudp_rtb rtb;
  rudp_rtt rtt;
  test_ack a;
  rudp_rtb_ack_result res;
  rudp_rtb_loss_result lres;
  rec r;
  rudp_rtb_cb cb;
  rudp_duration pcd, ld;
  rudp_tstamp t0 = 10 * MS;
  int pc = 0;

  rec_init(&r, 16);
  cb = make_cb(&r);
  test_rtt(&rtt);
  pcd = rudp_rtt_persistent_congestion_duration(&rtt, 25 * MS);
  ld = rudp_rtt_loss_delay(&rtt);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  add_pkt(&rtb, t0, 100, AE, 0);
  add_pkt(&rtb, t0 + pcd, 100, AE, 0);
  add_pkt(&rtb, t0 + pcd + 1 * MS, 100, AE, 0);
  add_pkt(&rtb, t0 + pcd + 2 * MS, 100, AE, 0);
  assert_int_equal(
      0, rudp_rtb_on_ack(&rtb, ack1(&a, 3, 3), t0 + pcd + 3 * MS, &cb, &res));
  if (!one_batch) {
    rudp_rtb_detect_lost(&rtb, &rtt, 25 * MS, 1 * MS, t0 + pcd + 3 * MS, &cb,
                         &lres);
    assert_int_equal(1, lres.npkts);
    assert_int_equal(t0 + pcd + ld, lres.loss_time);
    pc |= lres.persistent_congestion;
  }
  rudp_rtb_detect_lost(&rtb, &rtt, 25 * MS, 1 * MS, t0 + pcd + 1 * MS + ld, &cb,
                       &lres);
  assert_int_equal(one_batch ? 3 : 2, lres.npkts);
  pc |= lres.persistent_congestion;
  assert_int_equal(3, r.lost_total);
  assert_int_equal(0, rtb.bytes_in_flight);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  rudp_rtb_free(&rtb);
  rec_free(&r);
  return pc;
}

static void test_rudp_rtb_persistent_congestion_per_batch(void **state) {
  (void)state;
  /* 0 to 2 span more than the duration, but declared lost in two calls
   * neither batch does (each call judges its own losses, as the header
   * says). */
  assert_int_equal(0, pc_two_batches(0));
  assert_int_equal(1, pc_two_batches(1));
}

static void test_rudp_rtb_ack_only_loss_no_congestion(void **state) {
  rudp_rtb rtb;
  rudp_rtt rtt;
  test_ack a;
  rudp_rtb_ack_result res;
  rudp_rtb_loss_result lres;
  rec r;
  rudp_rtb_cb cb;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  test_rtt(&rtt);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  add_pkt(&rtb, 1 * MS, 40, RUDP_RTB_FLAG_NONE, 1);
  add_pkt(&rtb, 2 * MS, 100, AE, 0);
  add_pkt(&rtb, 3 * MS, 100, AE, 0);
  add_pkt(&rtb, 4 * MS, 100, AE, 0);
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 1, 3), 30 * MS, &cb, &res));
  detect(&rtb, &rtt, 30 * MS, &cb, &lres);
  /* The ACK-only packet is declared lost (on_lost, its frames), but it was
   * not in flight: not counted, no congestion event. */
  assert_int_equal(0, lres.npkts);
  assert_int_equal(0, lres.bytes);
  assert_int_equal(0, lres.largest_lost_sent_ts);
  assert_int_equal(1, r.nlost[0]);
  assert_int_equal(1, r.frames_seen);
  assert_int_equal(0, rtb.frames.nused);
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

static void test_rudp_rtb_ring_growth(void **state) {
  rudp_rtb rtb;
  test_ack a;
  rudp_rtb_ack_result res;
  rec r;
  rudp_rtb_cb cb;
  uint64_t i;
  size_t cap0;

  (void)state;
  rec_init(&r, 12000);
  cb = make_cb(&r);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  cap0 = rtb.cap;
  for (i = 0; i < 100; ++i) {
    add_pkt(&rtb, (i + 1) * RUDP_MICROSECONDS, 100, AE, 1);
  }
  /* 0..98 become holes, then the ring grows under them. */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 99, 99), 1 * MS, &cb, &res));
  for (i = 100; i < 10000; ++i) {
    add_pkt(&rtb, (i + 1) * RUDP_MICROSECONDS, 100, AE, (int)(i % 3));
  }
  assert_true(rtb.cap >= 10000);
  assert_true(rtb.cap > cap0);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  assert_int_equal(9999 * 100, rtb.bytes_in_flight);
  assert_int_equal(0, rtb.hole_head);
  assert_int_equal(98, rtb.hole_tail);
  assert_int_equal(0, rudp_rtb_oldest_unacked(&rtb)->pkt_num);

  /* Acknowledge 5000..9999 first, then the rest. */
  assert_int_equal(
      0, rudp_rtb_on_ack(&rtb, ack1(&a, 5000, 9999), 2 * MS, &cb, &res));
  assert_int_equal(5000, res.npkts);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 9999), 3 * MS, &cb, &res));
  assert_int_equal(4999, res.npkts);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  for (i = 0; i < 10000; ++i) {
    assert_int_equal(1, r.nacked[i]);
  }
  assert_int_equal(0, rtb.bytes_in_flight);
  assert_int_equal(0, rtb.frames.nused);
  assert_int_equal(10000, rtb.base);
  assert_int_equal(NONE, rtb.hole_head);
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

static void test_rudp_rtb_discard_all(void **state) {
  rudp_rtb rtb;
  rudp_rtt rtt;
  test_ack a;
  rudp_rtb_ack_result res;
  rudp_rtb_loss_result lres;
  rec r;
  rudp_rtb_cb cb;
  uint64_t i;

  (void)state;
  rec_init(&r, 32);
  cb = make_cb(&r);
  test_rtt(&rtt);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  for (i = 0; i < 6; ++i) {
    add_pkt(&rtb, (i + 1) * MS, 100, AE, 2);
  }
  assert_int_equal(0, rudp_rtb_skip(&rtb)); /* 6 */
  add_pkt(&rtb, 7 * MS, 100, AE, 2);        /* 7 */
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 5, 5), 10 * MS, &cb, &res));
  detect(&rtb, &rtt, 10 * MS, &cb, &lres);
  assert_int_equal(3, lres.npkts); /* 0, 1, 2 */
  r.lost_total = 0;
  memset(r.nlost, 0, r.npn);
  r.frames_seen = 0;

  /* 3 and 4 are holes, 7 in flight, 0-2 lost records. */
  rudp_rtb_discard_all(&rtb, &cb);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  assert_int_equal(3, r.lost_total);
  assert_int_equal(1, r.nlost[3]);
  assert_int_equal(1, r.nlost[4]);
  assert_int_equal(1, r.nlost[7]);
  assert_int_equal(6, r.frames_seen);
  assert_int_equal(0, rtb.bytes_in_flight);
  assert_int_equal(0, rtb.ack_eliciting_in_flight);
  assert_int_equal(0, rtb.last_ack_eliciting_sent_ts);
  assert_int_equal(0, rtb.frames.nused);
  assert_int_equal(NONE, rtb.hole_head);
  assert_int_equal(8, rtb.base);
  assert_int_equal(8, rudp_rtb_next_pkt_num(&rtb));
  assert_null(rudp_rtb_oldest_unacked(&rtb));

  /* Packet numbers continue; ACKs of the discarded ones do nothing. */
  add_pkt(&rtb, 20 * MS, 100, AE, 1);
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 7), 30 * MS, &cb, &res));
  assert_int_equal(0, res.npkts);
  assert_int_equal(0, res.nspurious);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  assert_int_equal(100, rtb.bytes_in_flight);
  /* Without callbacks. */
  rudp_rtb_discard_all(&rtb, NULL);
  assert_int_equal(3, r.lost_total);
  assert_int_equal(0, rtb.frames.nused);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

static void test_rudp_rtb_oldest_unacked(void **state) {
  rudp_rtb rtb;
  test_ack a;
  rudp_rtb_ack_result res;
  rec r;
  rudp_rtb_cb cb;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  add_pkt(&rtb, 1 * MS, 40, RUDP_RTB_FLAG_NONE, 0); /* 0 */
  add_pkt(&rtb, 2 * MS, 100, AE, 0);                /* 1 */
  add_pkt(&rtb, 3 * MS, 100, AE, 0);                /* 2 */
  add_pkt(&rtb, 4 * MS, 40, RUDP_RTB_FLAG_NONE, 0); /* 3 */
  add_pkt(&rtb, 5 * MS, 100, AE, 0);                /* 4 */
  assert_int_equal(1, rudp_rtb_oldest_unacked(&rtb)->pkt_num);
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 1, 1), 10 * MS, &cb, &res));
  /* 0 is a hole but ACK-only; 2 is the oldest ack-eliciting. */
  assert_int_equal(2, rudp_rtb_oldest_unacked(&rtb)->pkt_num);
  assert_int_equal(3 * MS, rudp_rtb_oldest_unacked(&rtb)->sent_ts);
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 3, 3), 11 * MS, &cb, &res));
  /* 2 is now a hole. */
  assert_int_equal(2, rudp_rtb_oldest_unacked(&rtb)->pkt_num);
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 2, 3), 12 * MS, &cb, &res));
  assert_int_equal(4, rudp_rtb_oldest_unacked(&rtb)->pkt_num);
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 1, 4), 13 * MS, &cb, &res));
  assert_null(rudp_rtb_oldest_unacked(&rtb));
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

static void test_rudp_rtb_last_ack_eliciting_sent_ts(void **state) {
  rudp_rtb rtb;
  test_ack a;
  rudp_rtb_ack_result res;
  rec r;
  rudp_rtb_cb cb;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  assert_int_equal(0, rtb.last_ack_eliciting_sent_ts);
  add_pkt(&rtb, 10 * MS, 100, AE, 0);
  add_pkt(&rtb, 20 * MS, 100, AE, 0);
  assert_int_equal(20 * MS, rtb.last_ack_eliciting_sent_ts);
  add_pkt(&rtb, 30 * MS, 40, RUDP_RTB_FLAG_NONE, 0);
  assert_int_equal(20 * MS, rtb.last_ack_eliciting_sent_ts);
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 1, 1), 40 * MS, &cb, &res));
  /* 0 is still in flight: the PTO stays armed from the last send. */
  assert_int_equal(1, rtb.ack_eliciting_in_flight);
  assert_int_equal(20 * MS, rtb.last_ack_eliciting_sent_ts);
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack1(&a, 0, 1), 41 * MS, &cb, &res));
  assert_int_equal(0, rtb.ack_eliciting_in_flight);
  assert_int_equal(0, rtb.last_ack_eliciting_sent_ts);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

static void test_rudp_rtb_lost_records_forgotten(void **state) {
  rudp_rtb rtb;
  rudp_rtt rtt;
  test_ack a;
  rudp_rtb_ack_result res;
  rudp_rtb_loss_result lres;
  rec r;
  rudp_rtb_cb cb;
  rudp_duration keep;
  rudp_tstamp t;
  uint64_t i;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  test_rtt(&rtt);
  keep = 3 * rudp_rtt_pto(&rtt, 25 * MS, 0);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  for (i = 0; i < 10; ++i) {
    add_pkt(&rtb, (i + 1) * MS, 100, AE, 1);
  }
  t = 20 * MS;
  assert_int_equal(0, rudp_rtb_on_ack(&rtb, ack1(&a, 9, 9), t, &cb, &res));
  detect(&rtb, &rtt, t, &cb, &lres);
  assert_int_equal(7, lres.npkts); /* 0..6 */
  assert_int_equal(0, rtb.base);
  /* Exactly 3 PTOs later: kept. */
  detect(&rtb, &rtt, t + keep, &cb, &lres);
  assert_int_equal(2, lres.npkts); /* 7, 8 by time */
  assert_int_equal(0, rtb.base);
  /* Later: 0..5 forgotten (below largest_acked - 3); 6 is not. */
  detect(&rtb, &rtt, t + keep + 1, &cb, &lres);
  assert_int_equal(0, lres.npkts);
  assert_int_equal(6, rtb.base);
  assert_int_equal(6, rtb.hole_head);
  /* An ACK of a forgotten record is no longer a spurious loss; of a kept
   * one it is. */
  assert_int_equal(
      0, rudp_rtb_on_ack(&rtb, ack1(&a, 3, 6), t + keep + 2, &cb, &res));
  assert_int_equal(1, res.nspurious);
  assert_int_equal(1, r.nspur[6]);
  assert_int_equal(0, r.nspur[3]);
  assert_int_equal(7, rtb.base);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  /* Raising largest_acked lets 7 and 8 go too, after their own 3 PTOs. */
  add_pkt(&rtb, t + keep + 3, 100, AE, 0);
  add_pkt(&rtb, t + keep + 3, 100, AE, 0);
  add_pkt(&rtb, t + keep + 3, 100, AE, 0);
  add_pkt(&rtb, t + keep + 3, 100, AE, 0);
  assert_int_equal(
      0, rudp_rtb_on_ack(&rtb, ack1(&a, 10, 13), t + keep + 4, &cb, &res));
  detect(&rtb, &rtt, t + 2 * keep + 1, &cb, &lres);
  assert_int_equal(14, rtb.base);
  assert_int_equal(NONE, rtb.hole_head);
  assert_int_equal(0, rtb.frames.nused);
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

/* A failing allocator: fails every allocation while |fail| is set. */
typedef struct fail_mem {
  int fail;
} fail_mem;

static void *fm_malloc(size_t size, void *ud) {
  return ((fail_mem *)ud)->fail ? NULL : malloc(size);
}

static void fm_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

static void *fm_calloc(size_t n, size_t size, void *ud) {
  return ((fail_mem *)ud)->fail ? NULL : calloc(n, size);
}

static void *fm_realloc(void *p, size_t size, void *ud) {
  return ((fail_mem *)ud)->fail ? NULL : realloc(p, size);
}

static void test_rudp_rtb_nomem(void **state) {
  fail_mem fm = {1};
  rudp_mem mem = {&fm, fm_malloc, fm_free, fm_calloc, fm_realloc};
  rudp_rtb rtb;
  rudp_rtb_frame *f;
  snap s;
  size_t i, cap;

  (void)state;
  assert_int_equal(RUDP_ERR_NOMEM, rudp_rtb_init(&rtb, &mem));
  fm.fail = 0;
  assert_int_equal(0, rudp_rtb_init(&rtb, &mem));
  cap = rtb.cap;
  for (i = 0; i < cap; ++i) {
    add_pkt(&rtb, 1 * MS, 100, AE, 0);
  }
  f = rudp_rtb_frame_new(&rtb);
  assert_non_null(f);
  assert_int_equal(1, rtb.frames.nused);
  fm.fail = 1;
  s = take_snap(&rtb);
  s.nused = 0;
  /* The ring is full and cannot grow: the frames are taken anyway. */
  assert_int_equal(RUDP_ERR_NOMEM, rudp_rtb_add(&rtb, 2 * MS, 100, AE, f));
  assert_int_equal(RUDP_ERR_NOMEM, rudp_rtb_skip(&rtb));
  assert_snap(&s, &rtb);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  fm.fail = 0;
  add_pkt(&rtb, 2 * MS, 100, AE, 1);
  assert_int_equal(cap + 1, rudp_rtb_next_pkt_num(&rtb));
  /* The skipped list's first allocation can fail too. */
  fm.fail = 1;
  assert_int_equal(RUDP_ERR_NOMEM, rudp_rtb_skip(&rtb));
  assert_int_equal(cap + 1, rudp_rtb_next_pkt_num(&rtb));
  fm.fail = 0;
  assert_int_equal(0, rudp_rtb_skip(&rtb));
  assert_int_equal(1, rudp_rtb_check(&rtb));
  rudp_rtb_free(&rtb);
}

static void test_rudp_rtb_frames_del(void **state) {
  rudp_rtb rtb;
  rudp_rtb_frame *a, *b;

  (void)state;
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  a = rudp_rtb_frame_new(&rtb);
  assert_non_null(a);
  a->offset = 77;
  a->fin = 1;
  rudp_rtb_frames_del(&rtb, a);
  b = rudp_rtb_frame_new(&rtb);
  assert_non_null(b);
  /* Recycled records come back zeroed. */
  assert_int_equal(0, b->offset);
  assert_int_equal(0, b->fin);
  assert_null(b->next);
  b->next = rudp_rtb_frame_new(&rtb);
  assert_int_equal(2, rtb.frames.nused);
  rudp_rtb_frames_del(&rtb, b);
  rudp_rtb_frames_del(&rtb, NULL);
  assert_int_equal(0, rtb.frames.nused);
  rudp_rtb_free(&rtb);
}

static void test_rudp_rtb_check_detects_corruption(void **state) {
  rudp_rtb rtb;
  test_ack a;
  rudp_rtb_ack_result res;
  rec r;
  rudp_rtb_cb cb;
  uint64_t i;

  (void)state;
  rec_init(&r, 16);
  cb = make_cb(&r);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  for (i = 0; i < 6; ++i) {
    add_pkt(&rtb, (i + 1) * MS, 100, AE, 0);
  }
  assert_int_equal(
      0, rudp_rtb_on_ack(&rtb, ack2(&a, 5, 5, 2, 2), 10 * MS, &cb, &res));
  assert_int_equal(1, rudp_rtb_check(&rtb));
  ++rtb.bytes_in_flight;
  assert_int_equal(0, rudp_rtb_check(&rtb));
  --rtb.bytes_in_flight;
  /* Holes 0, 1, 3, 4: break the order. */
  rtb.hole_tail = 3;
  assert_int_equal(0, rudp_rtb_check(&rtb));
  rtb.hole_tail = 4;
  rtb.ring[1].prev_hole_ = 3;
  assert_int_equal(0, rudp_rtb_check(&rtb));
  rtb.ring[1].prev_hole_ = 0;
  assert_int_equal(1, rudp_rtb_check(&rtb));
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

/*
 * With 100k packets in flight, ACKs that each re-acknowledge a huge old
 * range and one new packet must cost O(1) each: the old range is never
 * walked (the work counter is deterministic, unlike a clock).
 */
static void test_rudp_rtb_complexity(void **state) {
  enum { NPKTS = 110000, NACKS = 10000, MID = 50000 };
  rudp_rtb rtb;
  test_ack a;
  rudp_rtb_ack_result res;
  rec r;
  rudp_rtb_cb cb;
  uint64_t i, work0;

  (void)state;
  rec_init(&r, NPKTS);
  cb = make_cb(&r);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  for (i = 0; i < NPKTS; ++i) {
    add_pkt(&rtb, (i + 1) * RUDP_MICROSECONDS, 1200, AE, 0);
  }
  /* First ACK: everything below MID plus MID + 1; MID is a hole for good. */
  work0 = rtb.nwork;
  assert_int_equal(0,
                   rudp_rtb_on_ack(&rtb, ack2(&a, MID + 1, MID + 1, 0, MID - 1),
                                   1 * RUDP_SECONDS, &cb, &res));
  assert_int_equal(MID + 1, res.npkts);
  /* Walking the new span is linear in it, once. */
  assert_true(rtb.nwork - work0 <= 2 * (MID + 2) + 16);
  assert_int_equal(MID, rtb.base);
  work0 = rtb.nwork;
  for (i = 1; i <= NACKS; ++i) {
    assert_int_equal(
        0, rudp_rtb_on_ack(&rtb, ack2(&a, MID + 1, MID + 1 + i, 0, MID - 1),
                           1 * RUDP_SECONDS + i, &cb, &res));
    assert_int_equal(1, res.npkts);
    assert_int_equal(MID + 1 + i, res.largest_newly_acked);
  }
  /* A handful of units per ACK, nowhere near the 50000-packet range. */
  assert_true(rtb.nwork - work0 <= 16 * NACKS);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  assert_int_equal(MID + 1 + NACKS, r.acked_total);
  for (i = 0; i < NPKTS; ++i) {
    assert_int_equal(i == MID || i > MID + 1 + NACKS ? 0 : 1, r.nacked[i]);
  }
  assert_int_equal((uint64_t)(NPKTS - MID - 1 - NACKS) * 1200,
                   rtb.bytes_in_flight);
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

/*
 * The LOST records kept for late acknowledgements (3 PTOs) are many on a
 * lossy fast path: loss detection after each ACK must not walk them all.
 * 2,000 records lost at once, then 1,000 ACKs, each of every other new
 * packet (a hole each time, lost 3 ACKs later), each followed by loss
 * detection: a handful of units of work each (the walk starts at the first
 * hole), not 2,000.
 */
static void test_rudp_rtb_complexity_lost_records(void **state) {
  enum { NPKTS = 4000, NACKS = 1000 };
  static rudp_range ranges[NPKTS / 2];
  static test_ack a;
  rudp_rtb rtb;
  rudp_rtt rtt;
  rudp_rtb_ack_result res;
  rudp_rtb_loss_result lres;
  rec r;
  rudp_rtb_cb cb;
  uint64_t i, work0;
  rudp_tstamp t = 10 * MS;

  (void)state;
  rec_init(&r, NPKTS + 2 * NACKS);
  cb = make_cb(&r);
  test_rtt(&rtt);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  for (i = 0; i < NPKTS; ++i) {
    add_pkt(&rtb, (i + 1) * RUDP_MICROSECONDS, 1200, AE, 0);
  }
  /* Every odd packet acknowledged (newest range first): the even ones
   * are holes, and all but the newest are lost by the packet threshold. */
  for (i = 0; i < NPKTS / 2; ++i) {
    ranges[i].lo = ranges[i].hi = NPKTS - 1 - 2 * i;
  }
  assert_int_equal(
      0, rudp_rtb_on_ack(&rtb, make_ack(&a, ranges, NPKTS / 2), t, &cb, &res));
  detect(&rtb, &rtt, t, &cb, &lres);
  assert_int_equal(NPKTS / 2 - 1, lres.npkts);
  assert_int_equal(NPKTS - 2, rtb.first_hole);
  work0 = rtb.nwork;
  for (i = 0; i < NACKS; ++i) {
    uint64_t pn = NPKTS + 2 * i;
    add_pkt(&rtb, t + i, 1200, AE, 0);
    add_pkt(&rtb, t + i, 1200, AE, 0);
    assert_int_equal(0, rudp_rtb_on_ack(&rtb, ack1(&a, pn + 1, pn + 1),
                                        t + i + 1, &cb, &res));
    assert_int_equal(1, res.npkts);
    rudp_rtb_detect_lost(&rtb, &rtt, 25 * MS, 0, t + i + 1, &cb, &lres);
    assert_true(rtb.first_hole != NONE);
  }
  assert_true(rtb.nwork - work0 <= 16 * NACKS);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  /* All but the newest hole or two are lost by now. */
  assert_true(r.lost_total >= NPKTS / 2 + NACKS - 2);
  /* A late ACK of a kept record is still a spurious loss. */
  assert_int_equal(0, rudp_rtb_on_ack(&rtb, ack1(&a, 0, 0), t + NACKS + 1,
                                      &cb, &res));
  assert_int_equal(1, res.nspurious);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  rudp_rtb_free(&rtb);
  rec_free(&r);
}

/* ------------------------------------------------------ property test */

enum { SIM_NSEND = 2000, SIM_MAXEV = 2048, SIM_ACK_RANGES = 24 };

/* sim_data is a packet on its way to the receiver. */
typedef struct sim_data {
  rudp_tstamp at;
  uint64_t pn;
} sim_data;

/* sim_ack is an ACK on its way back: the receiver's ranges when it was
 * sent (ACKs can be reordered, so an older, smaller one can come last). */
typedef struct sim_ack {
  rudp_tstamp at;
  size_t n;
  rudp_range rg[SIM_ACK_RANGES];
} sim_ack;

/* sim_pkt is the oracle's view of one packet number. */
typedef struct sim_pkt {
  uint64_t size;
  uint32_t flags;
  int skipped;
  int received;
} sim_pkt;

typedef struct sim_rec {
  rec r;
  sim_pkt *pkts;
  /* bif is bytes in flight computed from the callbacks. */
  uint64_t bif;
  /* lost_npkts / lost_bytes: in-flight packets passed to on_lost since
   * they were last reset. */
  uint64_t lost_npkts;
  uint64_t lost_bytes;
} sim_rec;

static void sim_on_acked(const rudp_rtb_pkt *pkt, void *ud) {
  sim_rec *s = ud;
  sim_pkt *p = &s->pkts[pkt->pkt_num];

  /* Only what the receiver got is acknowledged, once, and never after
   * being declared lost (that is on_spurious). */
  assert_true(p->received);
  assert_false(p->skipped);
  assert_int_equal(0, s->r.nacked[pkt->pkt_num]);
  assert_int_equal(0, s->r.nlost[pkt->pkt_num]);
  assert_int_equal(p->size, pkt->size);
  ++s->r.nacked[pkt->pkt_num];
  if (pkt->flags & RUDP_RTB_FLAG_IN_FLIGHT) {
    s->bif -= pkt->size;
  }
  s->r.frames_seen += count_frames(pkt);
}

static void sim_on_lost(const rudp_rtb_pkt *pkt, void *ud) {
  sim_rec *s = ud;
  sim_pkt *p = &s->pkts[pkt->pkt_num];

  assert_false(p->skipped);
  assert_int_equal(0, s->r.nacked[pkt->pkt_num]);
  assert_int_equal(0, s->r.nlost[pkt->pkt_num]);
  ++s->r.nlost[pkt->pkt_num];
  if (pkt->flags & RUDP_RTB_FLAG_IN_FLIGHT) {
    s->bif -= pkt->size;
    ++s->lost_npkts;
    s->lost_bytes += pkt->size;
  }
  s->r.frames_seen += count_frames(pkt);
}

static void sim_on_spurious(const rudp_rtb_pkt *pkt, void *ud) {
  sim_rec *s = ud;
  sim_pkt *p = &s->pkts[pkt->pkt_num];

  assert_true(p->received);
  assert_null(pkt->frames);
  assert_int_equal(1, s->r.nlost[pkt->pkt_num]);
  assert_int_equal(0, s->r.nspur[pkt->pkt_num]);
  ++s->r.nspur[pkt->pkt_num];
}

/* sim_attack sends an ACK of a number never sent (one skipped and still
 * tracked, else the next one) and expects it rejected without effect. */
static void sim_attack(rudp_rtb *rtb, const sim_rec *s, rudp_tstamp now,
                       const rudp_rtb_cb *cb) {
  test_ack a;
  rudp_rtb_ack_result res;
  snap sn = take_snap(rtb);
  uint64_t pn, bad = rudp_rtb_next_pkt_num(rtb);

  for (pn = rtb->base; pn < rtb->next; ++pn) {
    if (s->pkts[pn].skipped) {
      bad = pn;
      break;
    }
  }
  assert_int_equal(RUDP_ERR_PROTO,
                   rudp_rtb_on_ack(rtb, ack1(&a, bad, bad), now, cb, &res));
  assert_snap(&sn, rtb);
}

/* sim_stats adds up what the runs exercised. */
typedef struct sim_stats {
  uint64_t acked, lost, spurious, attacks, pc, skipped;
} sim_stats;

static void sim_run(uint64_t seed, sim_stats *st) {
  rudp_test_rng rng;
  rudp_rtb rtb;
  rudp_rtt rtt;
  rudp_ranges recv;
  sim_rec s;
  rudp_rtb_cb cb;
  rudp_rtb_ack_result res;
  rudp_rtb_loss_result lres;
  test_ack a;
  sim_data *data;
  sim_ack *acks;
  size_t ndata = 0, nacks = 0, i, j;
  rudp_tstamp now = 1 * MS, loss_time = RUDP_TSTAMP_MAX, bo_start, bo_end;
  uint64_t sent = 0, pn, loss_pct, reorder_pct, nspur = 0, nacked = 0;
  uint64_t npc = 0;

  rudp_test_rng_init(&rng, seed);
  loss_pct = rudp_test_rng_below(&rng, 30);
  reorder_pct = rudp_test_rng_below(&rng, 40);
  /* A blackout of 1 s drops everything sent in it: long enough for
   * persistent congestion (sending goes on for about 2.7 s). */
  bo_start = 300 * MS + rudp_test_rng_below(&rng, 500 * MS);
  bo_end = bo_start + 1000 * MS;
  memset(&s, 0, sizeof(s));
  rec_init(&s.r, SIM_NSEND + 1);
  s.pkts = calloc(SIM_NSEND + 1, sizeof(*s.pkts));
  data = calloc(SIM_MAXEV, sizeof(*data));
  acks = calloc(SIM_MAXEV, sizeof(*acks));
  assert_non_null(s.pkts);
  assert_non_null(data);
  assert_non_null(acks);
  cb.user_data = &s;
  cb.on_acked = sim_on_acked;
  cb.on_lost = sim_on_lost;
  cb.on_spurious = sim_on_spurious;
  test_rtt(&rtt);
  assert_int_equal(0, rudp_rtb_init(&rtb, NULL));
  assert_int_equal(0, rudp_ranges_init(&recv, SIM_ACK_RANGES, NULL));

  while (sent < SIM_NSEND || ndata || nacks) {
    now += rudp_test_rng_below(&rng, 4 * MS) + 1;

    /* Send a few packets, or skip a number now and then. */
    for (i = rudp_test_rng_below(&rng, 4); i > 0 && sent < SIM_NSEND; --i) {
      uint64_t roll = rudp_test_rng_below(&rng, 100);
      sim_pkt *p;

      pn = rudp_rtb_next_pkt_num(&rtb);
      p = &s.pkts[pn];
      ++sent;
      if (roll < 3) {
        assert_int_equal(0, rudp_rtb_skip(&rtb));
        p->skipped = 1;
        continue;
      }
      p->flags = roll < 12 ? RUDP_RTB_FLAG_NONE
                           : AE | (roll < 20 ? RUDP_RTB_FLAG_APP_LIMITED : 0);
      p->size = 40 + rudp_test_rng_below(&rng, 1200);
      if (p->flags & RUDP_RTB_FLAG_IN_FLIGHT) {
        s.bif += p->size;
      }
      add_pkt(&rtb, now, p->size, p->flags, (int)rudp_test_rng_below(&rng, 3));
      if ((now < bo_start || now >= bo_end) &&
          rudp_test_rng_below(&rng, 100) >= loss_pct && ndata < SIM_MAXEV) {
        rudp_duration d = 40 * MS + rudp_test_rng_below(&rng, 10 * MS);
        if (rudp_test_rng_below(&rng, 100) < reorder_pct) {
          d += rudp_test_rng_below(&rng, 150 * MS);
        }
        data[ndata].at = now + d;
        data[ndata].pn = pn;
        ++ndata;
      }
    }

    /* Deliver data; the receiver answers with its ranges (the ACK itself
     * may be lost or delayed past later ones). */
    for (i = 0; i < ndata;) {
      if (data[i].at > now) {
        ++i;
        continue;
      }
      s.pkts[data[i].pn].received = 1;
      assert_true(rudp_ranges_add(&recv, data[i].pn) >= 0);
      data[i] = data[--ndata];
      if (rudp_test_rng_below(&rng, 100) >= loss_pct / 2 && nacks < SIM_MAXEV) {
        sim_ack *k = &acks[nacks++];
        k->at = now + 40 * MS + rudp_test_rng_below(&rng, 30 * MS);
        k->n = rudp_ranges_len(&recv);
        for (j = 0; j < k->n; ++j) {
          k->rg[j] = *rudp_ranges_get(&recv, j);
        }
      }
    }

    /* ACKs arriving now. */
    for (i = 0; i < nacks;) {
      sim_ack k;
      uint64_t before_bif;

      if (acks[i].at > now) {
        ++i;
        continue;
      }
      k = acks[i];
      acks[i] = acks[--nacks];
      before_bif = rtb.bytes_in_flight;
      assert_int_equal(
          0, rudp_rtb_on_ack(&rtb, make_ack(&a, k.rg, k.n), now, &cb, &res));
      assert_int_equal(1, rudp_rtb_check(&rtb));
      assert_int_equal(before_bif - res.bytes, rtb.bytes_in_flight);
      nspur += res.nspurious;
      nacked += res.npkts;
      if (res.largest_newly_acked != NONE) {
        assert_int_equal((s.pkts[res.largest_newly_acked].flags &
                          RUDP_RTB_FLAG_APP_LIMITED) != 0,
                         res.app_limited);
      }
      if (rudp_test_rng_below(&rng, 4) == 0) {
        sim_attack(&rtb, &s, now, &cb);
        ++st->attacks;
      }
    }

    if (loss_time <= now || rudp_test_rng_below(&rng, 4) == 0) {
      s.lost_npkts = s.lost_bytes = 0;
      rudp_rtb_detect_lost(&rtb, &rtt, 25 * MS, 0, now, &cb, &lres);
      assert_int_equal(1, rudp_rtb_check(&rtb));
      assert_int_equal(s.lost_npkts, lres.npkts);
      assert_int_equal(s.lost_bytes, lres.bytes);
      loss_time = lres.loss_time;
      npc += (uint64_t)lres.persistent_congestion;
      if (loss_time != RUDP_TSTAMP_MAX) {
        assert_true(loss_time > now);
      }
    }
    assert_int_equal(s.bif, rtb.bytes_in_flight);
  }

  /* A quiet period resolves the holes by the time threshold; what is
   * left (never passed by an ACK) is discarded. */
  now += 10 * RUDP_SECONDS;
  rudp_rtb_detect_lost(&rtb, &rtt, 25 * MS, 0, now, &cb, &lres);
  assert_int_equal(1, rudp_rtb_check(&rtb));
  assert_int_equal(RUDP_TSTAMP_MAX, lres.loss_time);
  /* Every hole has been declared lost (only lost records remain in the
   * list), so whatever is unacknowledged is above largest_acked. */
  if (rudp_rtb_oldest_unacked(&rtb)) {
    assert_true(rtb.largest_acked == NONE ||
                rudp_rtb_oldest_unacked(&rtb)->pkt_num > rtb.largest_acked);
  }
  rudp_rtb_discard_all(&rtb, &cb);
  assert_int_equal(0, s.bif);
  assert_int_equal(0, rtb.bytes_in_flight);
  assert_int_equal(0, rtb.frames.nused);

  /* Every packet sent ended acknowledged or lost, exactly once. */
  for (pn = 0; pn < sent; ++pn) {
    if (s.pkts[pn].skipped) {
      assert_int_equal(0, s.r.nacked[pn] + s.r.nlost[pn]);
      ++st->skipped;
    } else {
      st->acked += s.r.nacked[pn];
      st->lost += s.r.nlost[pn];
      st->spurious += s.r.nspur[pn];
      assert_int_equal(1, s.r.nacked[pn] + s.r.nlost[pn]);
      nacked -= s.r.nacked[pn];
    }
    nspur -= s.r.nspur[pn];
  }
  assert_int_equal(0, nacked);
  assert_int_equal(0, nspur);
  /* The blackout is persistent congestion. */
  assert_true(npc > 0);
  st->pc += npc;

  rudp_ranges_free(&recv);
  rudp_rtb_free(&rtb);
  free(data);
  free(acks);
  free(s.pkts);
  rec_free(&s.r);
}

static void test_rudp_rtb_property(void **state) {
  uint64_t seed;
  sim_stats st;

  (void)state;
  memset(&st, 0, sizeof(st));
  for (seed = 1; seed <= 40; ++seed) {
    sim_run(seed, &st);
  }
  /* The runs did meet every case: losses, late ACKs of lost packets,
   * rejected optimistic ACKs, skipped numbers. */
  assert_true(st.acked > 1000);
  assert_true(st.lost > 1000);
  assert_true(st.spurious > 10);
  assert_true(st.attacks > 100);
  assert_true(st.skipped > 100);
  assert_true(st.pc >= 40);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_rtb_init_empty),
      cmocka_unit_test(test_rudp_rtb_add_ack_in_order),
      cmocka_unit_test(test_rudp_rtb_callback_sees_updated_counts),
      cmocka_unit_test(test_rudp_rtb_ack_only_not_in_flight),
      cmocka_unit_test(test_rudp_rtb_ack_gaps_make_holes),
      cmocka_unit_test(test_rudp_rtb_packet_threshold),
      cmocka_unit_test(test_rudp_rtb_time_threshold),
      cmocka_unit_test(test_rudp_rtb_reordered_hole_not_lost),
      cmocka_unit_test(test_rudp_rtb_spurious_loss),
      cmocka_unit_test(test_rudp_rtb_optimistic_ack_unsent),
      cmocka_unit_test(test_rudp_rtb_optimistic_ack_skipped),
      cmocka_unit_test(test_rudp_rtb_malformed_ack),
      cmocka_unit_test(test_rudp_rtb_rtt_sample_rules),
      cmocka_unit_test(test_rudp_rtb_delivery_rate),
      cmocka_unit_test(test_rudp_rtb_persistent_congestion),
      cmocka_unit_test(test_rudp_rtb_persistent_congestion_per_batch),
      cmocka_unit_test(test_rudp_rtb_ack_only_loss_no_congestion),
      cmocka_unit_test(test_rudp_rtb_ring_growth),
      cmocka_unit_test(test_rudp_rtb_discard_all),
      cmocka_unit_test(test_rudp_rtb_oldest_unacked),
      cmocka_unit_test(test_rudp_rtb_last_ack_eliciting_sent_ts),
      cmocka_unit_test(test_rudp_rtb_lost_records_forgotten),
      cmocka_unit_test(test_rudp_rtb_nomem),
      cmocka_unit_test(test_rudp_rtb_frames_del),
      cmocka_unit_test(test_rudp_rtb_check_detects_corruption),
      cmocka_unit_test(test_rudp_rtb_complexity),
      cmocka_unit_test(test_rudp_rtb_complexity_lost_records),
      cmocka_unit_test(test_rudp_rtb_property),
  };

  return cmocka_run_group_tests_name("rtb", tests, NULL, NULL);
}
