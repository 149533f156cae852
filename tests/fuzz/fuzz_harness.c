/*
 * The stateful fuzz harnesses: see fuzz_harness.h.
 */
#ifdef HAVE_CONFIG_H
#  include <config.h>
#endif

#include "fuzz_harness.h"

#include <string.h>

#include <arpa/inet.h>

#include "rudp_conn.h"
#include "rudp_pkt.h"
#include "rudp_tls.h"

#ifdef HAVE_OPENSSL
#  include "fuzz_tls.h"
#endif

/* pattern is what the harness applications write (by reference too, so
 * it must outlive every connection). */
static uint8_t pattern[4096];

static void pattern_init(void) {
  size_t i;
  for (i = 0; i < sizeof(pattern); ++i) {
    pattern[i] = (uint8_t)(i * 7 + 3);
  }
}

/* fatal_ok checks a return code of any call: a fatal one may only follow
 * an injected allocation failure (the callbacks never fail).  Returns
 * nonzero if |rv| is fatal. */
static int fatal(const fuzz_mem *fm, rudp_ssize rv) {
  if (rv >= 0 || !rudp_err_is_fatal((int)rv)) {
    return 0;
  }
  FUZZ_CHECK(rv == RUDP_ERR_NOMEM && fm->failed);
  return 1;
}

/* ------------------------------------------------------------ client */

static const uint8_t client_dcid[8] = {0xd0, 0xd1, 0xd2, 0xd3,
                                       0xd4, 0xd5, 0xd6, 0xd7};
static const uint8_t client_scid[8] = {0xc0, 0xc1, 0xc2, 0xc3,
                                       0xc4, 0xc5, 0xc6, 0xc7};
static const uint8_t server_scid[8] = {0x50, 0x51, 0x52, 0x53,
                                       0x54, 0x55, 0x56, 0x57};
const uint8_t fuzz_reset_token[RUDP_STATELESS_RESET_TOKENLEN] = {
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77,
    0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f};

/* read_all reads everything readable on |id|; with |echo_budget| it
 * writes what it read back (bidi streams only) and ends its side at the
 * peer's FIN. */
static void read_all(rudp_conn *conn, int64_t id, size_t *echo_budget,
                     const fuzz_mem *fm) {
  uint8_t b[2048];
  int fin = 0, guard;
  rudp_ssize n = 0;
  int bidi = (id & 2) == 0;

  FUZZ_CHECK(id >= 0);
  for (guard = 0; guard < 64; ++guard) {
    n = rudp_conn_stream_read(conn, id, b, sizeof(b), &fin);
    if (n <= 0) {
      break;
    }
    FUZZ_CHECK((size_t)n <= sizeof(b));
    if (echo_budget && bidi && *echo_budget > 0) {
      size_t m = (size_t)n < *echo_budget ? (size_t)n : *echo_budget;
      rudp_ssize w = rudp_conn_stream_write(conn, id, b, m, 0);
      if (w > 0) {
        FUZZ_CHECK((size_t)w <= m);
        *echo_budget -= (size_t)w;
      }
      (void)fatal(fm, w);
    }
  }
  FUZZ_CHECK(n >= 0 || n == RUDP_ERR_WOULDBLOCK ||
             n == RUDP_ERR_STREAM_NOT_FOUND || n == RUDP_ERR_STREAM_STATE);
  if (fin && echo_budget && bidi) {
    int rv = rudp_conn_stream_shutdown(conn, id);
    FUZZ_CHECK(rv == 0 || rv == RUDP_ERR_STREAM_NOT_FOUND ||
               rv == RUDP_ERR_STREAM_STATE);
  }
}

static int cl_handshake_completed(rudp_conn *conn, void *ud) {
  fuzz_conn *fc = ud;
  FUZZ_CHECK(conn == fc->client || conn == fc->server);
  FUZZ_CHECK(!fc->forged);
  if (conn == fc->client) {
    fc->established = 1;
  }
  return 0;
}

static int cl_readable(rudp_conn *conn, int64_t id, void *ud) {
  fuzz_conn *fc = ud;
  if (conn == fc->client) {
    /* A forged packet never delivers stream data. */
    FUZZ_CHECK(!fc->forged);
    read_all(conn, id,
             (fc->setup & FUZZ_CONN_SETUP_ECHO) ? &fc->echo_budget : NULL,
             &fc->fm);
  } else {
    read_all(conn, id, NULL, &fc->fm);
  }
  return 0;
}

static int cl_datagram(rudp_conn *conn, const uint8_t *data, size_t len,
                       void *ud) {
  fuzz_conn *fc = ud;
  FUZZ_CHECK(len == 0 || data != NULL);
  if (conn == fc->client) {
    FUZZ_CHECK(!fc->forged);
    FUZZ_CHECK(len <= fc->cs.max_datagram_frame_size);
    if ((fc->setup & FUZZ_CONN_SETUP_ECHO) && fc->echo_budget >= len) {
      int rv = rudp_conn_send_datagram(conn, data, len);
      if (rv == 0) {
        fc->echo_budget -= len;
      }
      (void)fatal(&fc->fm, rv);
    }
  }
  return 0;
}

static void cl_released(rudp_conn *conn, int64_t id, const uint8_t *data,
                        size_t len, void *ref, void *ud) {
  (void)conn;
  (void)ref;
  (void)ud;
  FUZZ_CHECK(id >= 0);
  /* Only the harness writes by reference, and only from |pattern|. */
  FUZZ_CHECK(data >= pattern && len <= sizeof(pattern) &&
             data + len <= pattern + sizeof(pattern));
}

/* conn_released is cl_released for the client target's connections. */
static void conn_released(rudp_conn *conn, int64_t id, const uint8_t *data,
                          size_t len, void *ref, void *ud) {
  fuzz_conn *fc = ud;
  /* A forged packet acknowledges nothing either. */
  FUZZ_CHECK(conn != fc->client || !fc->forged);
  cl_released(conn, id, data, len, ref, ud);
}

static void cl_closed(rudp_conn *conn, int error, void *ud) {
  fuzz_conn *fc = ud;
  (void)error;
  if (conn == fc->client) {
    FUZZ_CHECK(!fc->closed);
    FUZZ_CHECK(!fc->forged);
    fc->closed = 1;
  }
}

static const rudp_callbacks conn_callbacks = {
    .handshake_completed = cl_handshake_completed,
    .stream_readable = cl_readable,
    .stream_data_released = conn_released,
    .datagram_received = cl_datagram,
    .closed = cl_closed,
};

/* conn_rand makes |conn| draw OpenSSL's randomness from its own stream
 * (TLS: the server the peer's, the client the harness's), so the client's
 * handshake is the same whether the server runs or is replayed; returns
 * the stream selected before, for conn_rand_restore. */
static int conn_rand(const fuzz_conn *fc, const rudp_conn *conn) {
#ifdef HAVE_OPENSSL
  if (fc->client_tls) {
    return fuzz_tls_rand_peer(conn != fc->client);
  }
#else
  (void)fc;
  (void)conn;
#endif
  return 0;
}

static void conn_rand_restore(const fuzz_conn *fc, int was) {
#ifdef HAVE_OPENSSL
  if (fc->client_tls) {
    fuzz_tls_rand_peer(was);
  }
#else
  (void)fc;
  (void)was;
#endif
}

/* conn_flush writes |from|'s datagrams until it has nothing more to send,
 * checks each, shows it to fc->observe, and gives it to |to| or, if |to|
 * is NULL, for the client, to fc->out (NULL: dropped). */
static void conn_flush(fuzz_conn *fc, rudp_conn *from, rudp_conn *to) {
  int guard;
  for (guard = 0; guard < 1000; ++guard) {
    uint64_t *pn;
    int was = conn_rand(fc, from);
    rudp_ssize n =
        rudp_conn_write_pkt(from, fc->out_buf, sizeof(fc->out_buf), fc->now);
    conn_rand_restore(fc, was);
    if (n == 0) {
      return;
    }
    if (fatal(&fc->fm, n)) {
      fc->dead = 1;
      return;
    }
    FUZZ_CHECK(n > 0 && (size_t)n <= sizeof(fc->out_buf));
    FUZZ_CHECK((size_t)n <= RUDP_MAX_UDP_PAYLOAD);
    /* Both sides issue 8-byte IDs. */
    pn = from == fc->client ? &fc->client_out_pn : &fc->server_out_pn;
#ifdef HAVE_OPENSSL
    if (fc->client_tls) {
      fuzz_tls_check_sent(from == fc->client ? fc->peer : NULL, fc->out_buf,
                          (size_t)n, 8, pn);
    } else {
      fuzz_check_sent(fc->out_buf, (size_t)n, 8, pn);
    }
#else
    fuzz_check_sent(fc->out_buf, (size_t)n, 8, pn);
#endif
    if (fc->observe) {
      fc->observe(fc, from == fc->client, fc->out_buf, (size_t)n);
    }
#ifdef HAVE_OPENSSL
    if (fc->recording && from == fc->server) {
      fuzz_tls_flight_add(fc->recording, fc->round, fc->out_buf, (size_t)n);
    }
#endif
    if (!to && from == fc->client && fc->out) {
      fc->out(fc, fc->out_buf, (size_t)n);
    }
    if (to) {
      int rv;
      was = conn_rand(fc, to);
      rv = rudp_conn_read_pkt(to, fc->out_buf, (size_t)n, fc->now);
      conn_rand_restore(fc, was);
      FUZZ_CHECK(rv == 0 || rv == RUDP_ERR_INVALID_STATE);
    }
  }
  /* Pacing and congestion control always run dry long before this. */
  FUZZ_CHECK(!"write_pkt never returned 0");
}

static void conn_timers(fuzz_conn *fc, rudp_conn *conn) {
  if (rudp_conn_get_expiry(conn) <= fc->now) {
    int was = conn_rand(fc, conn);
    int rv = rudp_conn_handle_expiry(conn, fc->now);
    conn_rand_restore(fc, was);
    if (fatal(&fc->fm, rv)) {
      fc->dead = 1;
      return;
    }
    FUZZ_CHECK(rv == 0);
  }
}

/* conn_replay_flight feeds the client the server's datagrams of |round|
 * from the cached flight (TLS, fuzz_tls_flight). */
static void conn_replay_flight(fuzz_conn *fc,
                               const struct fuzz_tls_flight *flight,
                               unsigned round) {
#ifdef HAVE_OPENSSL
  const uint8_t *d;
  unsigned r;
  size_t i, len;
  for (i = 0; (d = fuzz_tls_flight_datagram(flight, i, &r, &len)) != NULL;
       ++i) {
    if (r == round) {
      int rv = rudp_conn_read_pkt(fc->client, d, len, fc->now);
      FUZZ_CHECK(rv == 0);
    }
  }
#else
  (void)fc;
  (void)flight;
  (void)round;
#endif
}

void fuzz_conn_init(fuzz_conn *fc, uint8_t setup, uint8_t nomem_at,
                    int keep_server) {
  rudp_cid dcid, scid, sscid;
  const struct fuzz_tls_flight *flight = NULL;
  unsigned key = 0;
  int i, rv, was;

  pattern_init();
  fuzz_mem_init(&fc->fm);
  fuzz_mem_init(&fc->sfm);
  fc->setup = setup;
  fc->now = FUZZ_T0;
  fc->app_stream = -1;
  fc->echo_budget = 64 * 1024;
  fc->client_out_pn = UINT64_MAX;
  fc->server_out_pn = UINT64_MAX;

  rudp_settings_default(&fc->cs);
  rudp_settings_default(&fc->ss);
  if (setup & FUZZ_CONN_SETUP_RENO) {
    fc->cs.cc_algo = RUDP_CC_RENO;
    fc->ss.cc_algo = RUDP_CC_RENO;
  }
  if (setup & FUZZ_CONN_SETUP_SMALL) {
    fc->cs.initial_max_stream_data = 2048;
    fc->cs.initial_max_data = 8192;
    fc->cs.max_window = 16384;
    fc->cs.max_stream_window = 4096;
    fc->cs.max_streams_bidi = 2;
    fc->cs.max_streams_uni = 2;
    fc->cs.ack_ranges = 4;
    fc->cs.max_stream_send_buffer = 4096;
  }
  if (setup & FUZZ_CONN_SETUP_KEEPALIVE) {
    fc->cs.idle_timeout = 2 * RUDP_SECONDS;
    fc->cs.keepalive_interval = 500 * RUDP_MILLISECONDS;
  }
  if (setup & FUZZ_CONN_SETUP_NODGRAM) {
    fc->cs.max_datagram_frame_size = 0;
  }
#ifdef HAVE_OPENSSL
  if (fc->client_tls) {
    /* The handshake draws OpenSSL's randomness: the same every time. */
    fuzz_tls_rand_reset();
    fc->cs.tls = fc->client_tls;
    fc->ss.tls = fc->server_tls;
    if (fc->client_key_update) {
      fc->cs.key_update_interval = fc->client_key_update;
    }
    if (fc->server_key_update) {
      fc->ss.key_update_interval = fc->server_key_update;
    }
  }
#endif

  rudp_cid_init(&dcid, client_dcid, sizeof(client_dcid));
  rudp_cid_init(&scid, client_scid, sizeof(client_scid));
  rudp_cid_init(&sscid, server_scid, sizeof(server_scid));
  rv = rudp_conn_client_new(&fc->client, &dcid, &scid, &fc->cs, &conn_callbacks,
                            &fc->fm.mem, fc, fc->now);
  FUZZ_CHECK(rv == 0);
#ifdef HAVE_OPENSSL
  if (fc->client_tls && !keep_server) {
    /* What shapes the client's handshake: its transport parameters, the
     * congestion controller, and the TLS setup. */
    key = ((setup >> 1) & 0x3u) | ((setup >> 3) & 0xcu) |
          ((fc->tls_setup & 0x1fu) << 4);
    flight = fuzz_tls_flight_get(key);
  }
#endif
  if (!flight) {
    was = conn_rand(fc, NULL); /* the server's stream */
    rv = rudp_conn_server_new(&fc->server, &scid, &dcid, &sscid, &fc->ss,
                              &conn_callbacks, &fc->sfm.mem, fc, fc->now);
    FUZZ_CHECK(rv == 0);
    rv = rudp_conn_server_prepare(fc->server, NULL, 0, fuzz_reset_token);
    FUZZ_CHECK(rv == 0);
    conn_rand_restore(fc, was);
#ifdef HAVE_OPENSSL
    if (fc->client_tls && !keep_server) {
      fc->recording = fuzz_tls_flight_record(key);
    }
#endif
  }

  /* CONNECT, ACCEPT, the client's ACK, HANDSHAKE_DONE and its ACK: a few
   * rounds 10 ms apart. */
  for (i = 0; i < 8; ++i) {
    if (flight) {
      conn_flush(fc, fc->client, NULL);
      conn_replay_flight(fc, flight, (unsigned)i);
    } else {
      fc->round = (unsigned)i;
      conn_flush(fc, fc->client, fc->server);
      conn_flush(fc, fc->server, fc->client);
    }
    fc->now += 10 * RUDP_MILLISECONDS;
    conn_timers(fc, fc->client);
    if (fc->server) {
      conn_timers(fc, fc->server);
    }
  }
  FUZZ_CHECK(!fc->dead);
  FUZZ_CHECK(fc->established);
  FUZZ_CHECK(!fc->server || rudp_conn_is_established(fc->server));
#ifdef HAVE_OPENSSL
  if (fc->client_tls) {
    /* Confirmed (HANDSHAKE_DONE received): from now on the client drops
     * every long-header packet, so nothing but a sealed short packet can
     * reach its frame handlers. */
    FUZZ_CHECK(fc->client->flags & RUDP_CONN_FLAG_CONFIRMED);
    fuzz_tls_check_info(fc->client, fc->tls_setup);
    if (flight) {
      fc->peer = fuzz_tls_flight_peer(flight);
    } else {
      fc->peer = fuzz_tls_peer_new(fc->server);
    }
    if (fc->recording) {
      fuzz_tls_flight_done(fc->recording, fc->server);
      fc->recording = NULL;
    }
  }
#endif

  if (setup & FUZZ_CONN_SETUP_INFLIGHT) {
    int64_t id;
    rv = rudp_conn_open_stream(fc->client, 1, &id);
    FUZZ_CHECK(rv == 0);
    fc->app_stream = id;
    FUZZ_CHECK(rudp_conn_stream_write(fc->client, id, pattern, 3000, 0) ==
               3000);
    FUZZ_CHECK(rudp_conn_send_datagram(fc->client, pattern, 100) == 0);
    conn_flush(fc, fc->client, keep_server ? fc->server : NULL);
  }
  if (!keep_server && fc->server) {
    rudp_conn_del(fc->server);
    fc->server = NULL;
  }
  if ((setup & FUZZ_CONN_SETUP_NOMEM) && nomem_at > 0) {
    fc->fm.fail_at = fc->fm.nalloc + nomem_at;
  }
}

/* wrap builds, in fc->buf, a short packet for the client carrying
 * |payload|, numbered after the largest packet it received, and seals it:
 * a CRC, or (TLS) the server's current key. */
static size_t wrap(fuzz_conn *fc, const uint8_t *payload, size_t len,
                   size_t pnlen) {
  rudp_pkt_hd hd;
  rudp_ssize n;
  uint64_t largest = fc->client->acktr.largest;

  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_SHORT;
  hd.dcid = *rudp_conn_get_scid(fc->client);
  hd.pkt_num = largest == UINT64_MAX ? 0 : largest + 1;
  hd.pkt_numlen = pnlen;
#ifdef HAVE_OPENSSL
  if (fc->peer && fuzz_tls_peer_phase(fc->peer)) {
    hd.flags |= RUDP_PKT_FLAG_KEY_PHASE;
  }
#endif
  n = rudp_pkt_encode_hd(fc->buf, sizeof(fc->buf), &hd);
  FUZZ_CHECK(n > 0);
  FUZZ_CHECK((size_t)n + len + RUDP_AEAD_TAGLEN <= sizeof(fc->buf));
  if (len) {
    memcpy(fc->buf + n, payload, len);
  }
#ifdef HAVE_OPENSSL
  if (fc->peer) {
    return fuzz_tls_seal(fc->peer, fc->buf, (size_t)n + len, sizeof(fc->buf),
                         rudp_conn_get_scid(fc->client)->datalen, largest);
  }
#endif
  return rudp_pkt_seal_crc_pn(fc->buf, (size_t)n + len, hd.pkt_num);
}

static void conn_act(fuzz_conn *fc, unsigned act, size_t len) {
  rudp_conn *c = fc->client;
  rudp_ssize rv = 0;
  int64_t id;

  switch (act) {
  case FUZZ_CONN_ACT_WRITE:
    if (fc->app_stream < 0) {
      rv = rudp_conn_open_stream(c, 1, &id);
      if (rv == 0) {
        fc->app_stream = id;
      }
    }
    if (fc->app_stream >= 0) {
      rv =
          rudp_conn_stream_write_ref(c, fc->app_stream, pattern, 1000, NULL, 0);
    }
    break;
  case FUZZ_CONN_ACT_UNI:
    rv = rudp_conn_open_stream(c, 0, &id);
    if (rv == 0) {
      rv = rudp_conn_stream_write(c, id, pattern + 1000, 300, 1);
      FUZZ_CHECK(rv < 0 || rv <= 300);
    }
    break;
  case FUZZ_CONN_ACT_DGRAM:
    rv = rudp_conn_send_datagram(c, pattern + 2000, 64);
    break;
  case FUZZ_CONN_ACT_SHUTDOWN:
    if (fc->app_stream >= 0) {
      rv = rudp_conn_stream_shutdown(c, fc->app_stream);
    }
    break;
  case FUZZ_CONN_ACT_RESET:
    if (fc->app_stream >= 0) {
      rv = rudp_conn_stream_reset(c, fc->app_stream, 7);
    }
    break;
  case FUZZ_CONN_ACT_STOP:
    rv = rudp_conn_stream_stop_sending(c, 1, 9);
    break;
  case FUZZ_CONN_ACT_CLOSE:
    /* The record's length picks a graceful close or an abort. */
    if (len % 2 == 0) {
      rv = rudp_conn_close(c, fc->now);
    } else {
      rv = rudp_conn_abort(c, 0x1234, "fuzz abort", fc->now);
    }
    FUZZ_CHECK(rv == 0 || rv == RUDP_ERR_INVALID_STATE);
    break;
  default:
    break;
  }
  if (fatal(&fc->fm, rv)) {
    fc->dead = 1;
  }
}

/* conn_check_info checks what the client reports about itself. */
static void conn_check_info(fuzz_conn *fc) {
  rudp_conn_close_info ci;
  rudp_conn_stats st;

  rudp_conn_get_stats(fc->client, &st);
  FUZZ_CHECK(st.pkts_duplicate + st.pkts_bad_integrity <= st.pkts_dropped);
  FUZZ_CHECK(st.spurious_losses <= st.pkts_lost);
  rudp_conn_get_close_info(fc->client, &ci);
  FUZZ_CHECK(memchr(ci.reason, 0, sizeof(ci.reason)) != NULL);
  FUZZ_CHECK(ci.error <= 0);
  if (rudp_conn_get_state(fc->client) == RUDP_CONN_STATE_ESTABLISHED) {
    FUZZ_CHECK(ci.error == 0);
  }
}

/*
 * conn_check_forged checks what a raw datagram (|n| bytes in fc->buf) did
 * to a TLS client, from its stats |st0| and state |state0| before: no
 * key of the server's sealed it, so nothing may have been accepted, and a
 * short packet for the client's connection ID failed authentication.
 */
static void conn_check_forged(fuzz_conn *fc, const rudp_conn_stats *st0,
                              rudp_conn_state state0, size_t n) {
  const rudp_cid *scid = rudp_conn_get_scid(fc->client);
  rudp_conn_stats st;
  rudp_pkt_hd hd;

  rudp_conn_get_stats(fc->client, &st);
  FUZZ_CHECK(st.pkts_recv == st0->pkts_recv);
  FUZZ_CHECK(st.bytes_recv == st0->bytes_recv);
  FUZZ_CHECK(st.datagrams_recv == st0->datagrams_recv);
  FUZZ_CHECK(rudp_conn_get_state(fc->client) == state0);
  if (state0 != RUDP_CONN_STATE_CLOSED && !(fc->buf[0] & 0x80) &&
      rudp_pkt_decode_hd(&hd, fc->buf, n, scid->datalen) > 0 &&
      rudp_cid_eq(&hd.dcid, scid)) {
    FUZZ_CHECK(st.pkts_bad_integrity == st0->pkts_bad_integrity + 1);
  }
}

void fuzz_conn_pump(fuzz_conn *fc) {
  if (!fc->dead) {
    conn_flush(fc, fc->client, NULL);
  }
}

void fuzz_conn_step(fuzz_conn *fc, uint8_t ctl, const uint8_t *data,
                    size_t len) {
  rudp_duration adv = fuzz_time_step((ctl >> 2) & 7);
  rudp_conn_state state;
  size_t n = 0;
  int rv;

  if (fc->dead) {
    return;
  }
  if (adv == RUDP_TSTAMP_MAX) {
    rudp_tstamp e = rudp_conn_get_expiry(fc->client);
    if (e != RUDP_TSTAMP_MAX && e > fc->now) {
      fc->now = e;
    }
  } else {
    fc->now += adv;
  }
  conn_timers(fc, fc->client);
  if (fc->dead) {
    return;
  }

  switch (ctl & 3) {
  case FUZZ_CONN_RAW:
  case FUZZ_CONN_RESEAL:
    /* (Room for the AEAD tag a TLS short packet gets.) */
    if (len > sizeof(fc->buf) - RUDP_AEAD_TAGLEN) {
      len = sizeof(fc->buf) - RUDP_AEAD_TAGLEN;
    }
    if (len) {
      memcpy(fc->buf, data, len);
    }
    n = len;
    if ((ctl & 3) == FUZZ_CONN_RESEAL) {
#ifdef HAVE_OPENSSL
      if (fc->peer) {
        n = fuzz_tls_seal(fc->peer, fc->buf, n, sizeof(fc->buf),
                          rudp_conn_get_scid(fc->client)->datalen,
                          fc->client->acktr.largest);
        break;
      }
#endif
      fuzz_reseal(fc->buf, n, rudp_conn_get_scid(fc->client)->datalen,
                  fc->client->acktr.largest);
    }
    break;
  default:
    if (len > RUDP_MAX_UDP_PAYLOAD) {
      len = RUDP_MAX_UDP_PAYLOAD;
    }
    n = wrap(fc, data, len, (ctl & 3) == FUZZ_CONN_WRAP ? 4 : 1);
    break;
  }
  if (n > 0 && !(fc->buf[0] & 0x80) &&
      (n < 9 || memcmp(fc->buf + 1, client_scid, 8) != 0) &&
      rudp_conn_is_stateless_reset(fc->client, fc->buf, n)) {
    /* What the endpoint does with a datagram for no connection that ends
     * in the token the server announced. */
    rudp_conn_on_stateless_reset(fc->client);
  } else if (n > 0) {
    rudp_conn_stats st0;
    rudp_conn_state state0 = rudp_conn_get_state(fc->client);
    int forged;
    rudp_conn_get_stats(fc->client, &st0);
    fc->forged = fc->peer && (ctl & 3) == FUZZ_CONN_RAW;
    rv = rudp_conn_read_pkt(fc->client, fc->buf, n, fc->now);
    forged = fc->forged;
    fc->forged = 0;
    if (fatal(&fc->fm, rv)) {
      fc->dead = 1;
      return;
    }
    FUZZ_CHECK(rv == 0 || rv == RUDP_ERR_INVALID_STATE);
    FUZZ_CHECK(rv == 0 ||
               rudp_conn_get_state(fc->client) == RUDP_CONN_STATE_CLOSED);
    if (forged) {
      conn_check_forged(fc, &st0, state0, n);
    }
  }
  conn_act(fc, ctl >> 5, len);
  if (fc->dead) {
    return;
  }
  conn_flush(fc, fc->client, NULL);

  /* Established once, the client never goes back to the handshake. */
  state = rudp_conn_get_state(fc->client);
  FUZZ_CHECK(state >= RUDP_CONN_STATE_ESTABLISHED);
  FUZZ_CHECK(fc->closed == (state == RUDP_CONN_STATE_CLOSED));
  conn_check_info(fc);
}

void fuzz_conn_finish(fuzz_conn *fc) {
  int i;
  for (i = 0; i < 200 && !fc->dead; ++i) {
    rudp_tstamp e = rudp_conn_get_expiry(fc->client);
    if (e == RUDP_TSTAMP_MAX) {
      break;
    }
    /* Timers never move backwards past what was already run. */
    if (e > fc->now) {
      fc->now = e;
    }
    conn_timers(fc, fc->client);
    if (!fc->dead) {
      conn_flush(fc, fc->client, NULL);
    }
  }
  rudp_conn_del(fc->client);
  rudp_conn_del(fc->server);
  fc->client = fc->server = NULL;
#ifdef HAVE_OPENSSL
  fuzz_tls_peer_del(fc->peer);
  fc->peer = NULL;
#endif
  FUZZ_CHECK(fc->fm.nlive == 0 && fc->sfm.nlive == 0);
}

/* ------------------------------------------------------------ endpoint */

/* The endpoint's callbacks reach the harness through this (one fuzz input
 * at a time; server connections have no user data before accept). */
static fuzz_ep *cur_ep;

static int ep_rand(uint8_t *dest, size_t len, void *ud) {
  fuzz_ep *fe = ud;
  fuzz_rng_fill(&fe->rng, dest, len);
  return 0;
}

static int ep_stream_readable(rudp_conn *conn, int64_t id, void *ud) {
  fuzz_ep *fe = cur_ep;
  (void)ud;
  read_all(conn, id,
           (fe->setup & FUZZ_EP_SETUP_NOECHO) ? NULL : &fe->echo_budget,
           &fe->fm);
  return 0;
}

static int ep_datagram(rudp_conn *conn, const uint8_t *data, size_t len,
                       void *ud) {
  fuzz_ep *fe = cur_ep;
  (void)ud;
  FUZZ_CHECK(len <= fe->st.conn.max_datagram_frame_size);
  if (!(fe->setup & FUZZ_EP_SETUP_NOECHO) && fe->echo_budget >= len) {
    int rv = rudp_conn_send_datagram(conn, data, len);
    if (rv == 0) {
      fe->echo_budget -= len;
    }
    (void)fatal(&fe->fm, rv);
  }
  return 0;
}

static void ep_closed(rudp_conn *conn, int error, void *ud) {
  fuzz_ep *fe = cur_ep;
  size_t i;
  (void)error;
  (void)ud;
  for (i = 0; i < fe->naccepted; ++i) {
    if (fe->accepted[i] == conn) {
      memmove(fe->accepted + i, fe->accepted + i + 1,
              (fe->naccepted - i - 1) * sizeof(fe->accepted[0]));
      --fe->naccepted;
      return;
    }
  }
}

static const rudp_callbacks ep_conn_callbacks = {
    .stream_readable = ep_stream_readable,
    .stream_data_released = cl_released,
    .datagram_received = ep_datagram,
    .closed = ep_closed,
};

static void set_addr4(struct sockaddr_storage *ss, socklen_t *len,
                      const char *ip, uint16_t port) {
  struct sockaddr_in *sin = (struct sockaddr_in *)ss;
  memset(ss, 0, sizeof(*ss));
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  FUZZ_CHECK(inet_pton(AF_INET, ip, &sin->sin_addr) == 1);
  *len = sizeof(*sin);
}

static void set_addr6(struct sockaddr_storage *ss, socklen_t *len,
                      const char *ip, uint16_t port) {
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  memset(ss, 0, sizeof(*ss));
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  FUZZ_CHECK(inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1);
  *len = sizeof(*sin6);
}

/* addr_index returns which harness address |ss| is, or -1. */
static int addr_index(const fuzz_ep *fe, const struct sockaddr_storage *ss,
                      socklen_t len) {
  int i;
  for (i = 0; i < FUZZ_EP_NADDR; ++i) {
    const struct sockaddr_storage *a = &fe->addr[i];
    if (a->ss_family != ss->ss_family || fe->addrlen[i] != len) {
      continue;
    }
    if (a->ss_family == AF_INET) {
      const struct sockaddr_in *x = (const void *)a, *y = (const void *)ss;
      if (x->sin_port == y->sin_port &&
          x->sin_addr.s_addr == y->sin_addr.s_addr) {
        return i;
      }
    } else {
      const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)ss;
      if (x->sin6_port == y->sin6_port &&
          memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0) {
        return i;
      }
    }
  }
  return -1;
}

void fuzz_ep_init(fuzz_ep *fe, uint8_t setup, uint8_t nomem_at) {
  static const rudp_retry_mode modes[4] = {RUDP_RETRY_AUTO, RUDP_RETRY_ALWAYS,
                                           RUDP_RETRY_NEVER, RUDP_RETRY_AUTO};
  rudp_endpoint_callbacks cbs;
  int rv;

  pattern_init();
  cur_ep = fe;
  fuzz_mem_init(&fe->fm);
  fe->rng.s = 0x5eed;
  fe->setup = setup;
  fe->now = FUZZ_T0;
  fe->echo_budget = 64 * 1024;
  /* Documentation addresses (RFC 5737, RFC 3849): 0 and 1 are one host
   * behind a NAT that changed its port. */
  set_addr4(&fe->addr[0], &fe->addrlen[0], "198.51.100.7", 40000);
  set_addr4(&fe->addr[1], &fe->addrlen[1], "198.51.100.7", 40001);
  set_addr4(&fe->addr[2], &fe->addrlen[2], "203.0.113.9", 5555);
  set_addr6(&fe->addr[3], &fe->addrlen[3], "2001:db8::1", 6000);

  rudp_endpoint_settings_default(&fe->st);
  fe->st.listen = 1;
#ifdef HAVE_OPENSSL
  if (fe->tls) {
    /* Server handshakes draw OpenSSL's randomness: the same every time. */
    fuzz_tls_rand_reset();
    fe->st.conn.tls = fe->tls;
  }
#endif
  fe->st.retry = modes[setup & FUZZ_EP_SETUP_RETRY_MASK];
  if (setup & FUZZ_EP_SETUP_SMALL) {
    fe->st.max_connections = 3;
    fe->st.max_half_open = 2;
    fe->st.accept_backlog = 1;
    fe->st.retry_threshold = 1;
  }
  if (setup & FUZZ_EP_SETUP_RESET_RATE) {
    fe->st.stateless_reset_rate = 1;
  }
  if (setup & FUZZ_EP_SETUP_CID20) {
    fe->st.cidlen = 20;
  }
  memset(&cbs, 0, sizeof(cbs));
  cbs.rand = ep_rand;
  rv = rudp_endpoint_new(&fe->ep, &fe->st, &cbs, &ep_conn_callbacks,
                         &fe->fm.mem, fe, fe->now);
  FUZZ_CHECK(rv == 0);
  if ((setup & FUZZ_EP_SETUP_NOMEM) && nomem_at > 0) {
    fe->fm.fail_at = fe->fm.nalloc + nomem_at;
  }
}

static void ep_check_stats(const fuzz_ep *fe) {
  rudp_endpoint_stats s;
  rudp_endpoint_get_stats(fe->ep, &s);
  FUZZ_CHECK(s.connections <= fe->st.max_connections);
  FUZZ_CHECK(s.half_open <= fe->st.max_half_open);
  FUZZ_CHECK(s.half_open <= s.connections);
  FUZZ_CHECK(s.accept_queue <= fe->st.accept_backlog);
  FUZZ_CHECK(s.accept_queue + fe->naccepted <= s.connections);
}

static void ep_flush(fuzz_ep *fe) {
  int guard;
  for (guard = 0; guard < 4000; ++guard) {
    struct sockaddr_storage to;
    socklen_t tolen = sizeof(to);
    rudp_ssize n;
    int idx;

    memset(&to, 0, sizeof(to));
    n = rudp_endpoint_write(fe->ep, fe->out_buf, sizeof(fe->out_buf), &to,
                            &tolen, fe->now);
    if (n == 0) {
      return;
    }
    if (fatal(&fe->fm, n)) {
      fe->dead = 1;
      return;
    }
    FUZZ_CHECK(n > 0 && (size_t)n <= RUDP_MAX_UDP_PAYLOAD);
    /* A server only ever answers addresses it heard from. */
    idx = addr_index(fe, &to, tolen);
    FUZZ_CHECK(idx >= 0);
    FUZZ_CHECK(fe->heard & (1u << idx));
    if (fe->out) {
      fe->out(fe, (unsigned)idx, fe->out_buf, (size_t)n);
    }
  }
  FUZZ_CHECK(!"endpoint_write never returned 0");
}

static void ep_timers(fuzz_ep *fe) {
  if (rudp_endpoint_get_expiry(fe->ep) <= fe->now) {
    int rv = rudp_endpoint_handle_expiry(fe->ep, fe->now);
    if (fatal(&fe->fm, rv)) {
      fe->dead = 1;
      return;
    }
    FUZZ_CHECK(rv == 0);
  }
}

static void ep_accept(fuzz_ep *fe) {
  rudp_conn *c;
  while ((c = rudp_endpoint_accept(fe->ep)) != NULL) {
    FUZZ_CHECK(rudp_conn_get_state(c) >= RUDP_CONN_STATE_ESTABLISHED);
#ifdef HAVE_OPENSSL
    if (fe->tls) {
      /* Accepted means the TLS handshake completed, as configured. */
      fuzz_tls_check_info(c, fe->tls_setup);
    }
#endif
    if (fe->naccepted < FUZZ_EP_MAXACCEPT) {
      fe->accepted[fe->naccepted++] = c;
    }
  }
}

static void ep_act(fuzz_ep *fe, unsigned act, unsigned idx) {
  size_t i;
  rudp_ssize rv = 0;

  switch (act) {
  case FUZZ_EP_ACT_UNREACHABLE:
    /* A server has no connection in its handshake as a client. */
    FUZZ_CHECK(rudp_endpoint_on_unreachable(
                   fe->ep, (const struct sockaddr *)&fe->addr[idx],
                   fe->addrlen[idx]) == 0);
    break;
  case FUZZ_EP_ACT_WRITE:
    for (i = 0; i < fe->naccepted && !fe->dead; ++i) {
      int64_t id;
      rv = rudp_conn_open_stream(fe->accepted[i], 1, &id);
      if (rv == 0) {
        rv = rudp_conn_stream_write_ref(fe->accepted[i], id, pattern, 1500,
                                        NULL, 1);
      }
      if (!fatal(&fe->fm, rv)) {
        rv = rudp_conn_send_datagram(fe->accepted[i], pattern, 200);
      }
      if (fatal(&fe->fm, rv)) {
        fe->dead = 1;
      }
    }
    break;
  case FUZZ_EP_ACT_CLOSE:
    if (fe->naccepted > 0) {
      rv = rudp_conn_close(fe->accepted[0], fe->now);
      FUZZ_CHECK(rv == 0 || rv == RUDP_ERR_INVALID_STATE);
    }
    break;
  default:
    break;
  }
}

void fuzz_ep_step(fuzz_ep *fe, uint8_t ctl, const uint8_t *data, size_t len) {
  unsigned idx = ctl & 3;
  rudp_duration adv = fuzz_time_step((ctl >> 3) & 7);
  int rv;

  cur_ep = fe;
  if (fe->dead) {
    return;
  }
  if (adv == RUDP_TSTAMP_MAX) {
    rudp_tstamp e = rudp_endpoint_get_expiry(fe->ep);
    if (e != RUDP_TSTAMP_MAX && e > fe->now) {
      fe->now = e;
    }
  } else {
    fe->now += adv;
  }
  ep_timers(fe);
  if (fe->dead) {
    return;
  }
  if ((ctl >> 6) == FUZZ_EP_ACT_UNREACHABLE) {
    ep_act(fe, FUZZ_EP_ACT_UNREACHABLE, idx);
  }
  if (len > sizeof(fe->buf)) {
    len = sizeof(fe->buf);
  }
  if (len > 0) {
    memcpy(fe->buf, data, len);
    if ((ctl & FUZZ_EP_RESEAL) && fe->tls) {
      fuzz_reseal_long(fe->buf, len, fe->st.cidlen, UINT64_MAX);
    } else if (ctl & FUZZ_EP_RESEAL) {
      fuzz_reseal(fe->buf, len, fe->st.cidlen, UINT64_MAX);
    }
    fe->heard |= 1u << idx;
    rv = rudp_endpoint_read(fe->ep, fe->buf, len,
                            (const struct sockaddr *)&fe->addr[idx],
                            fe->addrlen[idx], fe->now);
    if (fatal(&fe->fm, rv)) {
      fe->dead = 1;
      return;
    }
    FUZZ_CHECK(rv == 0);
  }
  if (!(fe->setup & FUZZ_EP_SETUP_NOACCEPT)) {
    ep_accept(fe);
  }
  if ((ctl >> 6) != FUZZ_EP_ACT_UNREACHABLE) {
    ep_act(fe, ctl >> 6, idx);
  }
  if (fe->dead) {
    return;
  }
  ep_flush(fe);
  ep_check_stats(fe);
}

void fuzz_ep_finish(fuzz_ep *fe) {
  int i;
  cur_ep = fe;
  for (i = 0; i < 300 && !fe->dead; ++i) {
    rudp_tstamp e = rudp_endpoint_get_expiry(fe->ep);
    if (e == RUDP_TSTAMP_MAX) {
      break;
    }
    if (e > fe->now) {
      fe->now = e;
    }
    ep_timers(fe);
    if (!fe->dead) {
      ep_flush(fe);
    }
  }
  rudp_endpoint_del(fe->ep);
  fe->ep = NULL;
  FUZZ_CHECK(fe->fm.nlive == 0);
}
