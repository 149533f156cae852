/*
 * HyStart++ (RFC 9406): delay-based exit from the first slow start.
 *
 * Rounds are delimited by send time rather than by sequence number: the
 * round that starts at time T ends with the first ACK for a packet sent at
 * or after T, which is RFC 9406's "ACK of a segment >= windowEnd" with
 * windowEnd = SND.NXT at T.  "At or after" matters because the sans-I/O
 * connection sends in the same call (the same |now|) that took the ACK.
 *
 * Each ACK contributes rtt->latest as one sample (§4.2 "for each arriving
 * ACK"): a repeated sample cannot change a minimum, it only counts towards
 * N_RTT_SAMPLE.
 *
 * One addition to RFC 9406 for paced senders: N_RTT_SAMPLE samples in a
 * row above the last round's minimum by RttThresh end slow start at once
 * while the current round's minimum has not risen (see
 * rudp_hystart_on_ack).
 */
#include "rudp_cc.h"

#include "rudp_macro.h"

void rudp_hystart_init(rudp_hystart *hs, rudp_tstamp now) {
  hs->round_start = now;
  hs->last_round_min_rtt = UINT64_MAX;
  hs->current_round_min_rtt = UINT64_MAX;
  hs->rtt_sample_count = 0;
  hs->css_rounds = 0;
  hs->in_css = 0;
  hs->css_baseline_min_rtt = UINT64_MAX;
  hs->high_run = 0;
  /* exits survives: it is a statistic of the connection. */
}

/* rtt_thresh is §4.2 RttThresh: a rise of an eighth of the last round's
 * minimum counts as a queue, within [4, 16] ms so that tiny RTTs do not
 * trip on jitter and huge ones still exit. */
static rudp_duration rtt_thresh(rudp_duration last_round_min_rtt) {
  rudp_duration t = last_round_min_rtt / RUDP_HYSTART_MIN_RTT_DIVISOR;

  t = rudp_min(t, RUDP_HYSTART_MAX_RTT_THRESH);
  return rudp_max(t, RUDP_HYSTART_MIN_RTT_THRESH);
}

unsigned rudp_hystart_on_ack(rudp_hystart *hs, rudp_cc *cc,
                             const rudp_cc_ack *ack, const rudp_rtt *rtt,
                             rudp_tstamp now) {
  (void)cc;

  /* §4.2: a round ended; the ACK's own sample belongs to the new one
   * (its packet was sent after the old round began). */
  if (ack->largest_acked_sent_ts >= hs->round_start) {
    if (hs->in_css && ++hs->css_rounds >= RUDP_HYSTART_CSS_ROUNDS) {
      /* §4.2: CSS_ROUNDS rounds of CSS without the RTT falling back:
       * the rise was real, enter congestion avoidance. */
      hs->in_css = 0;
      hs->css_rounds = 0;
      hs->css_baseline_min_rtt = UINT64_MAX;
      ++hs->exits;
      return 0;
    }
    hs->last_round_min_rtt = hs->current_round_min_rtt;
    hs->current_round_min_rtt = UINT64_MAX;
    hs->rtt_sample_count = 0;
    hs->round_start = now;
  }

  if (rtt->nsamples > 0) {
    hs->current_round_min_rtt =
        rudp_min(hs->current_round_min_rtt, rtt->latest);
    if (hs->rtt_sample_count < UINT32_MAX) {
      ++hs->rtt_sample_count;
    }
    /* A paced slow start (RFC 9002 §7.7: twice the window's rate) drains
     * the queue between rounds: each round's first samples see the path
     * empty, so the round minimum rises only once the window is far past
     * the path's capacity (about 1.7 BDP on a one-BDP drop-tail queue,
     * and slow start then ends by a loss at 3-4 BDP).  The queue shows
     * within the round instead: RUDP_HYSTART_N_RTT_SAMPLE samples in a
     * row above the last round's minimum by RttThresh (a sliding
     * minimum) while the round's own minimum is below it end slow start
     * at once.  (When the round's minimum rose too, RFC 9406's
     * Conservative Slow Start below applies.)  Conservative Slow Start
     * would not do here: its test for a false rise, the round minimum
     * falling back, is met by every drained round start. */
    if (hs->last_round_min_rtt != UINT64_MAX &&
        rtt->latest >=
            hs->last_round_min_rtt + rtt_thresh(hs->last_round_min_rtt)) {
      if (hs->high_run < UINT32_MAX) {
        ++hs->high_run;
      }
      if (hs->high_run >= RUDP_HYSTART_N_RTT_SAMPLE &&
          hs->current_round_min_rtt <
              hs->last_round_min_rtt + rtt_thresh(hs->last_round_min_rtt)) {
        hs->in_css = 0;
        hs->css_rounds = 0;
        hs->css_baseline_min_rtt = UINT64_MAX;
        hs->high_run = 0;
        ++hs->exits;
        return 0;
      }
    } else {
      hs->high_run = 0;
    }
  }

  /* Too few samples say nothing about the round's minimum. */
  if (hs->rtt_sample_count < RUDP_HYSTART_N_RTT_SAMPLE ||
      hs->current_round_min_rtt == UINT64_MAX) {
    return hs->in_css ? RUDP_HYSTART_CSS_GROWTH_DIVISOR : 1;
  }

  if (!hs->in_css) {
    /* Slow start: enter CSS when the round minimum rose by RttThresh. */
    if (hs->last_round_min_rtt != UINT64_MAX &&
        hs->current_round_min_rtt >=
            hs->last_round_min_rtt + rtt_thresh(hs->last_round_min_rtt)) {
      hs->in_css = 1;
      hs->css_rounds = 0;
      hs->css_baseline_min_rtt = hs->current_round_min_rtt;
    }
  } else if (hs->current_round_min_rtt < hs->css_baseline_min_rtt) {
    /* CSS: the RTT fell below the level that started it, so the rise was
     * a transient (a false positive): resume slow start. */
    hs->in_css = 0;
    hs->css_rounds = 0;
    hs->css_baseline_min_rtt = UINT64_MAX;
  }

  return hs->in_css ? RUDP_HYSTART_CSS_GROWTH_DIVISOR : 1;
}
