/*
 * Tests of lib/rudp_conn.c: the handshake, data transfer, close, and the
 * loss of each handshake and close packet, over a tiny in-memory link whose
 * every datagram the test can inspect, drop or tamper with.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rudp/rudp.h>

#include "rudp_conn.h"
#include "rudp_frame.h"
#include "rudp_pkt.h"
#include "rudp_test_helper.h"

#define MS RUDP_MILLISECONDS
#define MAXQ 4096

/* One direction of the link: a FIFO of datagrams with fixed delay. */
typedef struct dgram {
  uint8_t data[RUDP_MAX_UDP_PAYLOAD];
  size_t len;
  rudp_tstamp at;
} dgram;

typedef struct side {
  rudp_conn *conn;
  int server;
  int established;
  int closed;
  int closed_error;
  /* received stream bytes, by stream (small tests: stream index < 16) */
  uint8_t *rx[16];
  size_t rxlen[16];
  int rxfin[16];
  int64_t opened[16];
  size_t nopened;
  size_t ndgrams;
  uint8_t lastdgram[2048];
  size_t lastdgramlen;
  uint64_t resets;
  uint64_t reset_code;
  uint64_t stops;
} side;

typedef struct pair {
  side c, s;
  rudp_settings cs, ss;
  rudp_tstamp now;
  rudp_duration delay;
  dgram *q[2]; /* 0: client->server, 1: server->client */
  size_t qlen[2];
  /* drop_mask[dir]: bit n set drops the n-th datagram sent that way. */
  uint64_t drop_mask[2];
  uint64_t sent[2];
  /* filter, if set, sees every datagram and returns 0 to drop it. */
  int (*filter)(struct pair *p, int dir, uint8_t *data, size_t len);
  int filter_state;
} pair;

static pair *P; /* for callbacks */

static side *side_of(rudp_conn *conn) {
  return P->c.conn == conn ? &P->c : &P->s;
}

static int cb_handshake_completed(rudp_conn *conn, void *ud) {
  (void)ud;
  side_of(conn)->established = 1;
  return 0;
}

static int cb_stream_readable(rudp_conn *conn, int64_t id, void *ud) {
  side *sd = side_of(conn);
  size_t idx = (size_t)(id >> 2) % 16;
  uint8_t buf[4096];
  (void)ud;
  for (;;) {
    int fin = 0;
    rudp_ssize n = rudp_conn_stream_read(conn, id, buf, sizeof(buf), &fin);
    if (n < 0) {
      break;
    }
    if (n > 0) {
      sd->rx[idx] = realloc(sd->rx[idx], sd->rxlen[idx] + (size_t)n);
      memcpy(sd->rx[idx] + sd->rxlen[idx], buf, (size_t)n);
      sd->rxlen[idx] += (size_t)n;
    }
    if (fin) {
      sd->rxfin[idx] = 1;
      break;
    }
  }
  return 0;
}

static int cb_stream_opened(rudp_conn *conn, int64_t id, void *ud) {
  side *sd = side_of(conn);
  (void)ud;
  if (sd->nopened < 16) {
    sd->opened[sd->nopened++] = id;
  }
  return 0;
}

static int cb_datagram(rudp_conn *conn, const uint8_t *data, size_t len,
                       void *ud) {
  side *sd = side_of(conn);
  (void)ud;
  ++sd->ndgrams;
  memcpy(sd->lastdgram, data, len < 2048 ? len : 2048);
  sd->lastdgramlen = len;
  return 0;
}

static int cb_stream_reset(rudp_conn *conn, int64_t id, uint64_t code,
                           void *ud) {
  side *sd = side_of(conn);
  (void)id;
  (void)ud;
  ++sd->resets;
  sd->reset_code = code;
  return 0;
}

static int cb_stop_sending(rudp_conn *conn, int64_t id, uint64_t code,
                           void *ud) {
  (void)id;
  (void)code;
  (void)ud;
  ++side_of(conn)->stops;
  return 0;
}

static void cb_closed(rudp_conn *conn, int error, void *ud) {
  side *sd = side_of(conn);
  (void)ud;
  sd->closed = 1;
  sd->closed_error = error;
}

static const rudp_callbacks callbacks = {
    cb_handshake_completed,
    cb_stream_opened,
    cb_stream_readable,
    NULL,
    cb_stream_reset,
    cb_stop_sending,
    NULL,
    NULL,
    cb_datagram,
    NULL,
    cb_closed,
};

static void cid_make(rudp_cid *cid, uint8_t seed) {
  size_t i;
  cid->datalen = 8;
  for (i = 0; i < 8; ++i) {
    cid->data[i] = (uint8_t)(seed * 31 + i * 7 + 1);
  }
}

static pair *pair_new(void) {
  pair *p = calloc(1, sizeof(*p));
  rudp_cid dcid, scid;
  p->q[0] = calloc(MAXQ, sizeof(dgram));
  p->q[1] = calloc(MAXQ, sizeof(dgram));
  p->now = 1000 * RUDP_SECONDS;
  p->delay = 10 * MS;
  rudp_settings_default(&p->cs);
  rudp_settings_default(&p->ss);
  p->s.server = 1;
  cid_make(&dcid, 1);
  cid_make(&scid, 2);
  P = p;
  assert_int_equal(rudp_conn_client_new(&p->c.conn, &dcid, &scid, &p->cs,
                                        &callbacks, NULL, NULL, p->now),
                   0);
  return p;
}

static void pair_del(pair *p) {
  size_t i;
  rudp_conn_del(p->c.conn);
  rudp_conn_del(p->s.conn);
  for (i = 0; i < 16; ++i) {
    free(p->c.rx[i]);
    free(p->s.rx[i]);
  }
  free(p->q[0]);
  free(p->q[1]);
  free(p);
  P = NULL;
}

/* pair_flush sends everything both sides want to send now. */
static void pair_flush(pair *p) {
  int dir;
  for (dir = 0; dir < 2; ++dir) {
    rudp_conn *conn = dir == 0 ? p->c.conn : p->s.conn;
    uint8_t buf[RUDP_MAX_UDP_PAYLOAD];
    rudp_ssize n;
    if (!conn) {
      continue;
    }
    while ((n = rudp_conn_write_pkt(conn, buf, sizeof(buf), p->now)) > 0) {
      uint64_t k = p->sent[dir]++;
      dgram *d;
      if (k < 64 && (p->drop_mask[dir] >> k) & 1) {
        continue;
      }
      if (p->filter && !p->filter(p, dir, buf, (size_t)n)) {
        continue;
      }
      assert_true(p->qlen[dir] < MAXQ);
      d = &p->q[dir][p->qlen[dir]++];
      memcpy(d->data, buf, (size_t)n);
      d->len = (size_t)n;
      d->at = p->now + p->delay;
    }
    assert_true(n == 0);
  }
}

static void deliver(pair *p, int dir, const dgram *d) {
  if (dir == 0) {
    if (!p->s.conn) {
      rudp_pkt_hd hd;
      rudp_cid scid;
      if (rudp_pkt_decode_hd(&hd, d->data, d->len, 8) < 0 ||
          hd.type != RUDP_PKT_CONNECT) {
        return;
      }
      cid_make(&scid, 3);
      assert_int_equal(rudp_conn_server_new(&p->s.conn, &hd.scid, &hd.dcid,
                                            &scid, &p->ss, &callbacks, NULL,
                                            NULL, p->now),
                       0);
    }
    assert_true(rudp_conn_read_pkt(p->s.conn, d->data, d->len, p->now) >= 0 ||
                rudp_conn_get_state(p->s.conn) == RUDP_CONN_STATE_CLOSED);
  } else {
    assert_true(rudp_conn_read_pkt(p->c.conn, d->data, d->len, p->now) >= 0 ||
                rudp_conn_get_state(p->c.conn) == RUDP_CONN_STATE_CLOSED);
  }
}

/*
 * pair_step advances to the next event (a delivery or a timer) and
 * handles it.  Returns 0 when nothing is left to happen.
 */
static int pair_step(pair *p) {
  rudp_tstamp t = RUDP_TSTAMP_MAX, e;
  int dir;
  pair_flush(p);
  for (dir = 0; dir < 2; ++dir) {
    if (p->qlen[dir] && p->q[dir][0].at < t) {
      t = p->q[dir][0].at;
    }
  }
  if (p->c.conn && (e = rudp_conn_get_expiry(p->c.conn)) < t) {
    t = e;
  }
  if (p->s.conn && (e = rudp_conn_get_expiry(p->s.conn)) < t) {
    t = e;
  }
  if (t == RUDP_TSTAMP_MAX) {
    return 0;
  }
  if (t > p->now) {
    p->now = t;
  }
  for (dir = 0; dir < 2; ++dir) {
    while (p->qlen[dir] && p->q[dir][0].at <= p->now) {
      dgram d = p->q[dir][0];
      memmove(p->q[dir], p->q[dir] + 1, (p->qlen[dir] - 1) * sizeof(dgram));
      --p->qlen[dir];
      deliver(p, dir, &d);
    }
  }
  if (p->c.conn && rudp_conn_get_expiry(p->c.conn) <= p->now) {
    assert_int_equal(rudp_conn_handle_expiry(p->c.conn, p->now), 0);
  }
  if (p->s.conn && rudp_conn_get_expiry(p->s.conn) <= p->now) {
    assert_int_equal(rudp_conn_handle_expiry(p->s.conn, p->now), 0);
  }
  return 1;
}

/* pair_run runs until |until| (virtual time) or nothing is left. */
static void pair_run_until(pair *p, rudp_tstamp until) {
  int guard = 0;
  while (p->now < until && pair_step(p)) {
    assert_true(++guard < 1000000);
  }
}

static void pair_run(pair *p, rudp_duration d) { pair_run_until(p, p->now + d); }

static void pair_connect(pair *p) {
  rudp_tstamp end = p->now + 60 * RUDP_SECONDS;
  while (!(p->c.established && p->s.established) && p->now < end &&
         pair_step(p)) {
  }
  assert_true(p->c.established);
  assert_true(p->s.established);
}

/* ------------------------------------------------------------ tests */

static void test_rudp_conn_handshake(void **state) {
  pair *p = pair_new();
  const rudp_transport_params *tp;
  (void)state;
  assert_int_equal(rudp_conn_get_state(p->c.conn),
                   RUDP_CONN_STATE_CONNECT_SENT);
  pair_flush(p);
  /* The CONNECT is padded to 1200 bytes. */
  assert_int_equal(p->qlen[0], 1);
  assert_int_equal(p->q[0][0].len, RUDP_MIN_UDP_PAYLOAD);
  pair_connect(p);
  assert_int_equal(rudp_conn_get_state(p->c.conn),
                   RUDP_CONN_STATE_ESTABLISHED);
  assert_int_equal(rudp_conn_get_state(p->s.conn),
                   RUDP_CONN_STATE_ESTABLISHED);
  tp = rudp_conn_get_peer_params(p->c.conn);
  assert_non_null(tp);
  assert_int_equal(tp->initial_max_data, p->ss.initial_max_data);
  /* One round trip of 20 ms: the client is connected after it. */
  assert_true(rudp_conn_get_dcid(p->c.conn)->data[0] ==
              rudp_conn_get_scid(p->s.conn)->data[0]);
  pair_del(p);
}

static void test_rudp_conn_transfer_bidi(void **state) {
  pair *p = pair_new();
  static uint8_t data[200000];
  int64_t id;
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(data); ++i) {
    data[i] = (uint8_t)(i * 131 + (i >> 8));
  }
  pair_connect(p);
  assert_int_equal(rudp_conn_open_stream(p->c.conn, 1, &id), 0);
  assert_int_equal(id, 0);
  assert_int_equal(
      rudp_conn_stream_write(p->c.conn, id, data, sizeof(data), 1),
      (rudp_ssize)sizeof(data));
  pair_run(p, 10 * RUDP_SECONDS);
  assert_int_equal(p->s.rxlen[0], sizeof(data));
  assert_memory_equal(p->s.rx[0], data, sizeof(data));
  assert_true(p->s.rxfin[0]);
  assert_int_equal(p->s.nopened, 1);
  pair_del(p);
}

static void test_rudp_conn_graceful_close(void **state) {
  pair *p = pair_new();
  rudp_conn_close_info ci;
  int64_t id;
  (void)state;
  pair_connect(p);
  assert_int_equal(rudp_conn_open_stream(p->c.conn, 0, &id), 0);
  assert_int_equal(id, 2);
  assert_int_equal(rudp_conn_stream_write(p->c.conn, id,
                                          (const uint8_t *)"bye", 3, 1),
                   3);
  assert_int_equal(rudp_conn_close(p->c.conn, p->now), 0);
  assert_int_equal(rudp_conn_get_state(p->c.conn), RUDP_CONN_STATE_LINGER);
  pair_run(p, 30 * RUDP_SECONDS);
  assert_true(p->c.closed);
  assert_true(p->s.closed);
  assert_int_equal(p->c.closed_error, 0);
  assert_int_equal(p->s.closed_error, 0);
  assert_int_equal(p->s.rxlen[0], 3);
  assert_memory_equal(p->s.rx[0], "bye", 3);
  rudp_conn_get_close_info(p->s.conn, &ci);
  assert_false(ci.local);
  assert_int_equal(ci.wire_error, 0);
  rudp_conn_get_close_info(p->c.conn, &ci);
  assert_true(ci.local);
  pair_del(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_conn_handshake),
      cmocka_unit_test(test_rudp_conn_transfer_bidi),
      cmocka_unit_test(test_rudp_conn_graceful_close),
  };
  return cmocka_run_group_tests_name("conn", tests, NULL, NULL);
}
