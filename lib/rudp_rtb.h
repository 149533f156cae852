/*
 * Sent-packet tracking ("retransmission buffer"): every packet sent, until
 * it is acknowledged or declared lost, with the frames it carried, and loss
 * detection over them (RFC 9002 §6).
 *
 * Packet numbers are sent in increasing order, so packets live in a ring
 * indexed by packet number (base = the lowest still tracked).  Costs:
 *
 * - rudp_rtb_add: O(1) amortized; the ring doubles when full (allocation
 *   only while the window grows, none in steady state).  Frame records come
 *   from a pool (rudp_pool).
 * - rudp_rtb_on_ack: O(newly acknowledged packets + ACK ranges + holes), not
 *   O(packets in flight): the part of each range above the previous largest
 *   acknowledged is walked once (every packet is walked there at most once
 *   in its life), and below it only the "holes" (packets sent before the
 *   largest acknowledged but not acknowledged: few, the candidates for loss)
 *   are visited, through a list kept in packet-number order.
 * - rudp_rtb_detect_lost: O(holes not yet declared lost + records
 *   forgotten now).  The records of lost packets kept for late ACKs (3
 *   PTOs: hundreds on a fast lossy path) stay in the hole list, before
 *   first_hole, and are not walked (they were walked per ACK before:
 *   1.6% of the CPU of a 2 Gbit/s transfer at 1% loss).
 *
 * Loss detection (RFC 9002 §6.1): a hole is lost when the largest
 * acknowledged is at least pkt_threshold (default 3, kPacketThreshold, the
 * "three duplicate ACKs" of fast retransmit) packets above it or it was
 * sent at least rudp_rtt_loss_delay_scaled(time_threshold) before now
 * (default 9/8 RTT).  Persistent
 * congestion (§7.6) is reported when two ack-eliciting packets declared
 * lost by the same rudp_rtb_detect_lost call, both sent after the first RTT
 * sample, were sent more than the persistent-congestion duration apart
 * and no packet sent between them was acknowledged (packets declared lost
 * earlier may lie between them).
 *
 * Spurious losses: a packet declared lost stays as a record (without its
 * frames) for a while; if an ACK later covers it, on_spurious is called and
 * the congestion controller may undo its reduction.  Lost records are
 * forgotten once newer packets are acknowledged well past them (they are
 * below largest_acked - 3 and were lost more than rudp_rtt_pto(..., 0) * 3
 * ago at a later rudp_rtb_detect_lost), so they cost nothing for long.
 *
 * Optimistic-ACK defence: an ACK of a packet number never sent (above the
 * largest sent, or one skipped with rudp_rtb_skip) is RUDP_ERR_PROTO.
 */
#ifndef RUDP_RTB_H
#define RUDP_RTB_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>

#include "rudp_frame.h"
#include "rudp_pool.h"
#include "rudp_rtt.h"

/*
 * rudp_rtb_frame records one frame a packet carried, enough for the
 * connection to act when the packet is acknowledged (release data, stop
 * reporting ACK ranges) or lost (send the content again in a new packet).
 * The rtb does not interpret frames; it hands them to the callbacks.
 */
typedef struct rudp_rtb_frame {
  /* next links the packet's frames. */
  struct rudp_rtb_frame *next;
  /* type is the frame's wire type (RUDP_FRAME_*; STREAM as 0x08). */
  uint8_t type;
  /* fin is nonzero for a STREAM frame that carried FIN. */
  uint8_t fin;
  /* stream_id for stream frames and stream-level control frames. */
  uint64_t stream_id;
  /* offset: STREAM/CRYPTO offset; MAX_* / *_BLOCKED value; ACK largest
   * acknowledged; RESET_STREAM final size. */
  uint64_t offset;
  /* len: STREAM/CRYPTO data length; RESET_STREAM/STOP_SENDING app error. */
  uint64_t len;
} rudp_rtb_frame;

/* Flags of rudp_rtb_pkt: bitwise OR of zero or more of these. */
#define RUDP_RTB_FLAG_NONE 0x00u
/* The packet carried an ack-eliciting frame. */
#define RUDP_RTB_FLAG_ACK_ELICITING 0x01u
/* The packet counts toward bytes in flight. */
#define RUDP_RTB_FLAG_IN_FLIGHT 0x02u
/* The packet was sent while the sender was application-limited. */
#define RUDP_RTB_FLAG_APP_LIMITED 0x04u
/* The packet was a PTO probe. */
#define RUDP_RTB_FLAG_PROBE 0x08u
/* The packet was a path MTU probe (rudp_pmtud.h): its loss is not a
 * congestion signal. */
#define RUDP_RTB_FLAG_PMTU_PROBE 0x10u

/* rudp_rtb_pkt is one sent packet. */
typedef struct rudp_rtb_pkt {
  uint64_t pkt_num;
  rudp_tstamp sent_ts;
  /* size is the datagram bytes of this packet. */
  uint64_t size;
  /* flags: bitwise OR of zero or more of RUDP_RTB_FLAG_*. */
  uint32_t flags;
  /* frames lists what it carried (owned by the rtb). */
  rudp_rtb_frame *frames;
  /* delivered / delivered_ts: the rtb's delivered-bytes counter and its
   * timestamp when this packet was sent (delivery-rate sampling). */
  uint64_t delivered;
  rudp_tstamp delivered_ts;
  /* Internal state (slot status, hole-list links, lost time).  lost_ts_
   * (the |now| of the rudp_rtb_detect_lost call that declared it lost) may
   * be read in on_spurious. */
  uint32_t state_;
  uint64_t prev_hole_;
  uint64_t next_hole_;
  rudp_tstamp lost_ts_;
} rudp_rtb_pkt;

/*
 * rudp_rtb_cb receives acknowledgement and loss events.  The callbacks run
 * in the middle of an update: they must not call rudp_rtb_* functions on
 * the same rtb (the ring may move).
 */
typedef struct rudp_rtb_cb {
  void *user_data;
  /* on_acked: |pkt| was newly acknowledged.  Its frames are valid during
   * the call and returned to the pool after it. Required. */
  void (*on_acked)(const rudp_rtb_pkt *pkt, void *user_data);
  /* on_lost: |pkt| was declared lost; requeue its frames' content.
   * Required. */
  void (*on_lost)(const rudp_rtb_pkt *pkt, void *user_data);
  /* on_spurious: a packet declared lost was acknowledged after all (its
   * frames are gone: frames == NULL).  Optional. */
  void (*on_spurious)(const rudp_rtb_pkt *pkt, void *user_data);
} rudp_rtb_cb;

/* rudp_rtb_ack_result summarises one rudp_rtb_on_ack call. */
typedef struct rudp_rtb_ack_result {
  /* npkts and bytes newly acknowledged (bytes: in-flight packets only). */
  uint64_t npkts;
  uint64_t bytes;
  /* largest_newly_acked is the largest packet number newly acknowledged
   * (UINT64_MAX: none), sent at largest_newly_acked_sent_ts. */
  uint64_t largest_newly_acked;
  rudp_tstamp largest_newly_acked_sent_ts;
  /* rtt_sample is nonzero when an RTT sample may be taken: the ACK's
   * largest acknowledged was newly acknowledged and at least one newly
   * acknowledged packet was ack-eliciting (RFC 9002 §5.1). */
  int rtt_sample;
  /* app_limited is nonzero if the largest newly acked was app-limited. */
  int app_limited;
  /* delivery_rate is a bytes-per-second sample from the largest newly
   * acknowledged packet (0: none). */
  uint64_t delivery_rate;
  /* nspurious counts lost packets found acknowledged. */
  uint64_t nspurious;
} rudp_rtb_ack_result;

/* rudp_rtb_loss_result summarises one rudp_rtb_detect_lost call. */
typedef struct rudp_rtb_loss_result {
  /* npkts and bytes of the in-flight packets declared lost now (what the
   * congestion controller reacts to; ACK-only packets declared lost go to
   * on_lost too but are not counted: npkts == 0 means no congestion
   * event). */
  uint64_t npkts;
  uint64_t bytes;
  /* largest_lost_sent_ts is the send time of the newest in-flight packet
   * declared lost now (for the congestion event, RFC 9002 §B.8; 0 when
   * npkts is 0). */
  rudp_tstamp largest_lost_sent_ts;
  /* persistent_congestion is nonzero when RFC 9002 §7.6 applies. */
  int persistent_congestion;
  /* loss_time is when the next hole will pass the time threshold
   * (RUDP_TSTAMP_MAX: none); arm the loss timer for it. */
  rudp_tstamp loss_time;
} rudp_rtb_loss_result;

typedef struct rudp_rtb {
  /* ring of |cap| slots (a power of two); slot of pn is pn & (cap - 1). */
  rudp_rtb_pkt *ring;
  size_t cap;
  /* base is the lowest packet number still tracked; next is one above the
   * highest added (the next packet number). */
  uint64_t base;
  uint64_t next;
  /* largest_acked is the largest packet number acknowledged (UINT64_MAX:
   * none). */
  uint64_t largest_acked;
  /* hole list head/tail (packet numbers; UINT64_MAX: empty). */
  uint64_t hole_head;
  uint64_t hole_tail;
  /* first_hole is the lowest HOLE entry of the hole list (UINT64_MAX:
   * none).  The LOST records kept for late acknowledgements lie before it
   * (loss detection declares holes lost oldest first), so loss detection
   * starts there instead of walking every kept record per ACK. */
  uint64_t first_hole;
  /* bytes_in_flight and ack_eliciting_in_flight (packets). */
  uint64_t bytes_in_flight;
  uint64_t ack_eliciting_in_flight;
  /* last_ack_eliciting_sent_ts: send time of the last ack-eliciting packet
   * sent, for the PTO timer (RFC 9002 §6.2.1); reset to 0 when none is in
   * flight (test ack_eliciting_in_flight, as 0 is also a valid time). */
  rudp_tstamp last_ack_eliciting_sent_ts;
  /* delivered / delivered_ts: bytes acknowledged so far, and when;
   * delivered_ts is also reset to the send time of a packet sent with
   * nothing in flight, so an idle period does not dilute the next
   * delivery-rate sample. */
  uint64_t delivered;
  rudp_tstamp delivered_ts;
  /* frames is the pool of rudp_rtb_frame records. */
  rudp_pool frames;
  const rudp_mem *mem;
  /* skipped holds the packet numbers skipped with rudp_rtb_skip that are
   * still >= base, ascending, in a ring of skipped_cap (0 or a power of
   * two) slots starting at skipped_head: binary-searched to reject an ACK
   * of one.  A skipped number stays until largest_acked passes it. */
  uint64_t *skipped;
  size_t skipped_cap;
  size_t skipped_head;
  size_t skipped_len;
  /* pkt_threshold (packets, >= 1) and time_threshold (1/1000 of an RTT,
   * >= 1000) are the loss-detection thresholds (RFC 9002 §6.1):
   * rudp_rtb_init sets kPacketThreshold 3 and kTimeThreshold 9/8 (1125);
   * the owner may change them between calls. */
  uint64_t pkt_threshold;
  uint32_t time_threshold;
  /* nwork counts ranges, slots and hole-list entries visited by
   * rudp_rtb_on_ack and rudp_rtb_detect_lost: instrumentation that lets
   * tests check the costs promised above. */
  uint64_t nwork;
} rudp_rtb;

/*
 * rudp_rtb_init initialises an empty |rtb| (next packet number 0).
 * Returns 0 or RUDP_ERR_NOMEM.
 */
int rudp_rtb_init(rudp_rtb *rtb, const rudp_mem *mem);

/* rudp_rtb_free releases everything (no callbacks); |rtb| may be NULL. */
void rudp_rtb_free(rudp_rtb *rtb);

/*
 * rudp_rtb_frame_new returns a zeroed frame record from the pool (NULL when
 * out of memory).  Link records into a list and pass it to rudp_rtb_add, or
 * give them back with rudp_rtb_frames_del.
 */
rudp_rtb_frame *rudp_rtb_frame_new(rudp_rtb *rtb);

/* rudp_rtb_frames_del returns the list |frames| to the pool. */
void rudp_rtb_frames_del(rudp_rtb *rtb, rudp_rtb_frame *frames);

/*
 * rudp_rtb_next_pkt_num returns the packet number the next packet must
 * carry.
 */
uint64_t rudp_rtb_next_pkt_num(const rudp_rtb *rtb);

/*
 * rudp_rtb_skip skips the next packet number (it is never sent, so an ACK
 * of it proves an optimistic-ACK attack).  Returns 0 or RUDP_ERR_NOMEM
 * (nothing skipped).
 */
int rudp_rtb_skip(rudp_rtb *rtb);

/*
 * rudp_rtb_add records a packet just sent with number
 * rudp_rtb_next_pkt_num(), taking ownership of |frames| (even on error).
 * |size| is its datagram bytes; |flags| RUDP_RTB_FLAG_*.  A packet with
 * neither ACK_ELICITING nor IN_FLIGHT (ACK-only) is tracked too, so that an
 * ACK of it stops ACK ranges being repeated.  Returns 0 or RUDP_ERR_NOMEM.
 */
int rudp_rtb_add(rudp_rtb *rtb, rudp_tstamp sent_ts, uint64_t size,
                 uint32_t flags, rudp_rtb_frame *frames);

/*
 * rudp_rtb_on_ack processes a decoded ACK frame received at |now|: every
 * newly acknowledged packet is removed and passed to cb->on_acked; packets
 * newly passed over become holes.  Fills |res|.
 *
 * Returns 0, RUDP_ERR_PROTO (the frame acknowledges a packet number never
 * sent: at or above rudp_rtb_next_pkt_num(), or skipped and still tracked;
 * nothing is changed), or RUDP_ERR_FRAME_ENCODING (malformed ranges;
 * nothing is changed).
 */
int rudp_rtb_on_ack(rudp_rtb *rtb, const rudp_frame_ack *fr, rudp_tstamp now,
                    const rudp_rtb_cb *cb, rudp_rtb_ack_result *res);

/*
 * rudp_rtb_detect_lost declares lost every hole past the packet or time
 * threshold, removing each and calling cb->on_lost.  |max_ack_delay| and
 * |first_rtt_sample_ts| (RUDP_TSTAMP_MAX: no sample yet) feed the
 * persistent-congestion check.  Fills |res|.
 */
void rudp_rtb_detect_lost(rudp_rtb *rtb, const rudp_rtt *rtt,
                          rudp_duration max_ack_delay,
                          rudp_tstamp first_rtt_sample_ts, rudp_tstamp now,
                          const rudp_rtb_cb *cb, rudp_rtb_loss_result *res);

/*
 * rudp_rtb_oldest_unacked returns the oldest ack-eliciting packet still in
 * flight (for a PTO probe to send its content again), or NULL.
 */
const rudp_rtb_pkt *rudp_rtb_oldest_unacked(const rudp_rtb *rtb);

/*
 * rudp_rtb_discard_all removes every tracked packet, calling cb->on_lost
 * for each still in flight when |cb| is not NULL (used when the connection
 * closes or the handshake packets are abandoned).
 */
void rudp_rtb_discard_all(rudp_rtb *rtb, const rudp_rtb_cb *cb);

/*
 * rudp_rtb_check returns 1 if the internal invariants hold (hole list
 * sorted and consistent, bytes in flight equal to the sum over in-flight
 * packets), 0 otherwise.  O(n): tests and assert() only.
 */
int rudp_rtb_check(const rudp_rtb *rtb);

#endif /* RUDP_RTB_H */
