/*
 * Hostile input against endpoints (issue "Hardening"; docs/SECURITY.md), in
 * plain and TLS mode, through the sans-I/O endpoint API on a virtual clock:
 *
 * - every truncation and every single-bit flip of every datagram a real
 *   connection sent, fed to the server while that connection is open:
 *   none is accepted (CRC32C or AEAD), none crashes or leaks, and the
 *   connection still carries data afterwards;
 * - a captured CONNECT replayed from thousands of source addresses: the
 *   half-open table stays bounded, the server never sends any address
 *   more than 3x what it received from it, memory stays bounded, and a
 *   real client still connects;
 * - random garbage of every length from many addresses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <rudp/rudp.h>
#include <rudp/rudp_tls.h>

#include "rudp_test_helper.h"

#define MS RUDP_MILLISECONDS
#define SEC RUDP_SECONDS
#define T0 (1000 * RUDP_SECONDS)
#define MAXCAP 512
#define BUFLEN 2048

/* A captured datagram. */
typedef struct cap {
  int dir; /* 0: client -> server */
  size_t len;
  uint8_t data[BUFLEN];
} cap;

typedef struct side {
  rudp_endpoint *ep;
  struct sockaddr_in addr;
  rudp_test_mem tm;
  rudp_test_rng rng;
  rudp_conn *conn; /* the client's connection, or the accepted one */
  size_t recvd;
  int fin;
  int closed;
} side;

typedef struct world {
  side c, s;
  rudp_tstamp now;
  cap *caps;
  size_t ncaps;
  int capture;
  rudp_tls_ctx *sctx, *cctx;
} world;

static world *W;

static int cb_rand(uint8_t *dest, size_t len, void *ud) {
  side *sd = ud;
  rudp_test_rng_fill(&sd->rng, dest, len);
  return 0;
}

static int cb_readable(rudp_conn *conn, int64_t id, void *ud) {
  side *sd = &W->s;
  uint8_t buf[4096];
  (void)ud;
  for (;;) {
    int fin = 0;
    rudp_ssize n = rudp_conn_stream_read(conn, id, buf, sizeof(buf), &fin);
    if (n > 0) {
      sd->recvd += (size_t)n;
    }
    if (fin) {
      sd->fin = 1;
    }
    if (n <= 0 || fin) {
      return 0;
    }
  }
}

static void cb_closed(rudp_conn *conn, int error, void *ud) {
  (void)error;
  (void)ud;
  if (conn == W->c.conn) {
    W->c.closed = 1;
    W->c.conn = NULL;
  }
  if (conn == W->s.conn) {
    W->s.closed = 1;
    W->s.conn = NULL;
  }
}

static const rudp_callbacks conn_cb = {
    NULL, NULL, cb_readable, NULL, NULL,      NULL,
    NULL, NULL, NULL,        NULL, cb_closed,
};

static void addr_make(struct sockaddr_in *a, uint32_t ip, uint16_t port) {
  memset(a, 0, sizeof(*a));
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(ip);
  a->sin_port = htons(port);
}

static void side_init(side *sd, int server, uint32_t ip, uint64_t seed,
                      rudp_tls_ctx *tls, size_t max_half_open,
                      rudp_retry_mode retry) {
  rudp_endpoint_settings st;
  rudp_endpoint_callbacks cb = {cb_rand, NULL, NULL};
  memset(sd, 0, sizeof(*sd));
  rudp_test_mem_init(&sd->tm);
  rudp_test_rng_init(&sd->rng, seed);
  addr_make(&sd->addr, ip, server ? 5300 : 40000);
  rudp_endpoint_settings_default(&st);
  st.listen = server;
  st.max_half_open = max_half_open;
  st.retry_threshold = max_half_open / 2;
  st.retry = retry;
  st.conn.tls = tls;
  st.conn.tls_server_name = server ? NULL : "localhost";
  st.conn.initial_rtt = 10 * MS;
  assert_int_equal(
      rudp_endpoint_new(&sd->ep, &st, &cb, &conn_cb, &sd->tm.mem, sd, W->now),
      0);
}

/* flush moves everything both sides send to the other at once (no delay:
 * the tests are about content, not timing), capturing it. */
static void flush(void) {
  int moved = 1, guard = 0;
  while (moved && ++guard < 100000) {
    int d;
    moved = 0;
    for (d = 0; d < 2; ++d) {
      side *from = d == 0 ? &W->c : &W->s;
      side *to = d == 0 ? &W->s : &W->c;
      uint8_t buf[BUFLEN];
      struct sockaddr_storage dst;
      socklen_t dstlen;
      rudp_ssize n;
      while ((n = rudp_endpoint_write(from->ep, buf, sizeof(buf), &dst, &dstlen,
                                      W->now)) > 0) {
        moved = 1;
        if (W->capture && W->ncaps < MAXCAP) {
          cap *c = &W->caps[W->ncaps++];
          c->dir = d;
          c->len = (size_t)n;
          memcpy(c->data, buf, (size_t)n);
        }
        assert_int_equal(rudp_endpoint_read(to->ep, buf, (size_t)n,
                                            (struct sockaddr *)&from->addr,
                                            sizeof(from->addr), W->now),
                         0);
      }
      assert_true(n == 0);
    }
  }
}

/* step runs timers up to |until|, flushing as it goes. */
static void run_until(rudp_tstamp until) {
  int guard = 0;
  flush();
  while (W->now < until && ++guard < 100000) {
    rudp_tstamp t = rudp_endpoint_get_expiry(W->c.ep);
    rudp_tstamp u = rudp_endpoint_get_expiry(W->s.ep);
    if (u < t) {
      t = u;
    }
    if (t > until) {
      W->now = until;
      break;
    }
    if (t > W->now) {
      W->now = t;
    }
    assert_int_equal(rudp_endpoint_handle_expiry(W->c.ep, W->now), 0);
    assert_int_equal(rudp_endpoint_handle_expiry(W->s.ep, W->now), 0);
    flush();
  }
}

static void world_init(world *w, int tls) {
  memset(w, 0, sizeof(*w));
  W = w;
  w->now = T0;
  w->caps = calloc(MAXCAP, sizeof(cap));
  assert_non_null(w->caps);
  if (tls) {
    rudp_tls_config cfg;
    if (!rudp_tls_available()) {
#ifdef RUDP_TEST_EXPECT_TLS
      fail_msg("configured with OpenSSL, yet rudp_tls_available() is 0");
#endif
      free(w->caps);
      skip();
    }
    rudp_tls_config_default(&cfg);
    cfg.server = 1;
    assert_int_equal(rudp_tls_ctx_new(&w->sctx, &cfg, NULL, 0), 0);
    rudp_tls_config_default(&cfg);
    cfg.insecure = 1;
    assert_int_equal(rudp_tls_ctx_new(&w->cctx, &cfg, NULL, 0), 0);
  }
}

static void world_free(world *w) {
  rudp_endpoint_del(w->c.ep);
  rudp_endpoint_del(w->s.ep);
  assert_int_equal(w->c.tm.nlive, 0);
  assert_int_equal(w->s.tm.nlive, 0);
  rudp_tls_ctx_free(w->sctx);
  rudp_tls_ctx_free(w->cctx);
  free(w->caps);
  W = NULL;
}

/* connect_pair connects the client to the server and has the server
 * accept; with |data|, the client sends it on a stream first (captured). */
static void connect_pair(size_t data) {
  static uint8_t buf[64 * 1024];
  struct sockaddr_in to = W->s.addr;
  int64_t id;
  assert_int_equal(rudp_endpoint_connect(W->c.ep, (struct sockaddr *)&to,
                                         sizeof(to), NULL, NULL, &W->c.conn,
                                         W->now),
                   0);
  run_until(W->now + 200 * MS);
  W->s.conn = rudp_endpoint_accept(W->s.ep);
  assert_non_null(W->s.conn);
  assert_true(rudp_conn_is_established(W->c.conn));
  if (data) {
    memset(buf, 0x5a, sizeof(buf));
    assert_int_equal(rudp_conn_open_stream(W->c.conn, 1, &id), 0);
    assert_int_equal(rudp_conn_stream_write(W->c.conn, id, buf, data, 0),
                     (rudp_ssize)data);
    run_until(W->now + 200 * MS);
    assert_int_equal(W->s.recvd, data);
  }
}

/* feed gives the server one hostile datagram from the client's address. */
static void feed(const uint8_t *data, size_t len) {
  assert_int_equal(rudp_endpoint_read(W->s.ep, data, len,
                                      (struct sockaddr *)&W->c.addr,
                                      sizeof(W->c.addr), W->now),
                   0);
}

static void mutations(int tls) {
  world w;
  rudp_conn_stats before, after;
  uint8_t buf[BUFLEN];
  size_t i, n, bit, fed = 0;
  int64_t id;
  static const uint8_t more[] = "still working after the storm";

  world_init(&w, tls);
  side_init(&w.c, 0, 0x7f000002, 1, w.cctx, 256, RUDP_RETRY_NEVER);
  side_init(&w.s, 1, 0x7f000001, 2, w.sctx, 256, RUDP_RETRY_NEVER);
  w.capture = 1;
  connect_pair(20000);
  w.capture = 0;
  assert_true(w.ncaps > 6);
  rudp_conn_get_stats(w.s.conn, &before);
  for (i = 0; i < w.ncaps; ++i) {
    const cap *c = &w.caps[i];
    if (c->dir != 0) {
      continue;
    }
    /* Every truncation... */
    for (n = 0; n < c->len; ++n) {
      feed(c->data, n);
      ++fed;
    }
    /* ...and every single-bit flip (all of the small ones; every 7th bit
     * of the padded 1200-byte ones, to keep the run short). */
    for (bit = 0; bit<c->len * 8; bit += c->len> 300 ? 7 : 1) {
      memcpy(buf, c->data, c->len);
      buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      feed(buf, c->len);
      ++fed;
    }
  }
  flush();
  rudp_conn_get_stats(w.s.conn, &after);
  print_message("%s: %zu hostile datagrams from %zu captured; server "
                "dropped %llu (%llu integrity)\n",
                tls ? "tls" : "plain", fed, w.ncaps,
                (unsigned long long)(after.pkts_dropped - before.pkts_dropped),
                (unsigned long long)(after.pkts_bad_integrity -
                                     before.pkts_bad_integrity));
  /* Nothing was accepted as a packet of the connection... */
  assert_int_equal(after.pkts_recv, before.pkts_recv);
  assert_true(after.pkts_bad_integrity > before.pkts_bad_integrity);
  /* ...and the connection still works. */
  assert_int_equal(rudp_conn_get_state(w.s.conn), RUDP_CONN_STATE_ESTABLISHED);
  assert_int_equal(rudp_conn_open_stream(w.c.conn, 1, &id), 0);
  assert_int_equal(rudp_conn_stream_write(w.c.conn, id, more, sizeof(more), 1),
                   (rudp_ssize)sizeof(more));
  run_until(w.now + 500 * MS);
  assert_int_equal(w.s.recvd, 20000 + sizeof(more));
  world_free(&w);
}

static void test_rudp_hostile_mutations_plain(void **state) {
  (void)state;
  mutations(0);
}

static void test_rudp_hostile_mutations_tls(void **state) {
  (void)state;
  mutations(1);
}

/* replay: a captured CONNECT from 5000 addresses.  Without RETRY the
 * half-open table fills and the rest are refused (the real client too,
 * until the entries expire after handshake_timeout); with RETRY (AUTO,
 * the default) the flood gets stateless RETRYs once the table is half
 * full, and the real client, which echoes its token, gets through during
 * the flood. */
static void replay(int tls, rudp_retry_mode retry) {
  world w;
  rudp_endpoint_stats es;
  uint8_t connect[BUFLEN], out[BUFLEN];
  size_t connect_len = 0, i, peak_live = 0, sent_to_fakes = 0;
  const size_t nfake = 5000, half_open = 64;

  world_init(&w, tls);
  side_init(&w.c, 0, 0x7f000002, 3, w.cctx, half_open, retry);
  side_init(&w.s, 1, 0x7f000001, 4, w.sctx, half_open, retry);
  /* Capture the client's CONNECT without delivering it. */
  assert_int_equal(rudp_endpoint_connect(w.c.ep, (struct sockaddr *)&w.s.addr,
                                         sizeof(w.s.addr), NULL, NULL,
                                         &w.c.conn, w.now),
                   0);
  {
    struct sockaddr_storage dst;
    socklen_t dstlen;
    rudp_ssize n = rudp_endpoint_write(w.c.ep, connect, sizeof(connect), &dst,
                                       &dstlen, w.now);
    assert_true(n >= RUDP_MIN_UDP_PAYLOAD);
    connect_len = (size_t)n;
  }
  /* The same CONNECT from nfake addresses (10.x.y.z), every reply counted;
   * each address gets at most 3x the 1200 bytes it sent. */
  for (i = 0; i < nfake; ++i) {
    struct sockaddr_in from;
    struct sockaddr_storage dst;
    socklen_t dstlen;
    rudp_ssize n;
    size_t to_this = 0;
    addr_make(&from, 0x0a000000u + (uint32_t)i + 1,
              (uint16_t)(1024 + i % 60000));
    assert_int_equal(rudp_endpoint_read(w.s.ep, connect, connect_len,
                                        (struct sockaddr *)&from, sizeof(from),
                                        w.now),
                     0);
    while ((n = rudp_endpoint_write(w.s.ep, out, sizeof(out), &dst, &dstlen,
                                    w.now)) > 0) {
      const struct sockaddr_in *d = (const struct sockaddr_in *)&dst;
      assert_int_equal(d->sin_addr.s_addr, from.sin_addr.s_addr);
      to_this += (size_t)n;
    }
    assert_true(to_this <= 3 * connect_len);
    sent_to_fakes += to_this;
    if (w.s.tm.nlive > peak_live) {
      peak_live = w.s.tm.nlive;
    }
    rudp_endpoint_get_stats(w.s.ep, &es);
    assert_true(es.half_open <= half_open);
    w.now += 100 * RUDP_MICROSECONDS;
  }
  rudp_endpoint_get_stats(w.s.ep, &es);
  print_message(
      "%s, retry %s: %zu replayed CONNECTs: half-open %llu, "
      "refused %llu, retries %llu, peak live blocks %zu, %zu bytes "
      "sent to fake addresses\n",
      tls ? "tls" : "plain", retry == RUDP_RETRY_NEVER ? "never" : "auto",
      nfake, (unsigned long long)es.half_open, (unsigned long long)es.refused,
      (unsigned long long)es.retries_sent, peak_live, sent_to_fakes);
  if (retry == RUDP_RETRY_NEVER) {
    assert_int_equal(es.half_open, half_open);
    assert_int_equal(es.refused, nfake - half_open);
    /* The entries expire after handshake_timeout (10 s); a client that
     * tries then gets in. */
    run_until(w.now + 11 * SEC);
    rudp_endpoint_get_stats(w.s.ep, &es);
    assert_int_equal(es.half_open, 0);
    if (!w.c.conn) {
      assert_int_equal(
          rudp_endpoint_connect(w.c.ep, (struct sockaddr *)&w.s.addr,
                                sizeof(w.s.addr), NULL, NULL, &w.c.conn, w.now),
          0);
    }
  } else {
    /* Half the table, then stateless RETRYs for everyone else. */
    assert_int_equal(es.half_open, half_open / 2);
    assert_int_equal(es.retries_sent, nfake - half_open / 2);
    assert_int_equal(es.refused, 0);
  }
  run_until(w.now + 5 * SEC);
  assert_non_null(w.c.conn);
  assert_true(rudp_conn_is_established(w.c.conn));
  rudp_endpoint_get_stats(w.s.ep, &es);
  assert_int_equal(es.accepted, 1);
  world_free(&w);
}

static void test_rudp_hostile_replayed_connect_plain(void **state) {
  (void)state;
  replay(0, RUDP_RETRY_NEVER);
  replay(0, RUDP_RETRY_AUTO);
}

static void test_rudp_hostile_replayed_connect_tls(void **state) {
  (void)state;
  replay(1, RUDP_RETRY_NEVER);
  replay(1, RUDP_RETRY_AUTO);
}

/* Garbage of every length 0..1500 from 64 addresses, long-header-looking
 * and short-header-looking, while a connection is open. */
static void test_rudp_hostile_garbage(void **state) {
  world w;
  uint8_t buf[1500];
  size_t len;
  int a;
  rudp_endpoint_stats es;
  (void)state;
  world_init(&w, 0);
  side_init(&w.c, 0, 0x7f000002, 5, NULL, 256, RUDP_RETRY_AUTO);
  side_init(&w.s, 1, 0x7f000001, 6, NULL, 256, RUDP_RETRY_AUTO);
  connect_pair(1000);
  for (a = 0; a < 64; ++a) {
    struct sockaddr_in from;
    addr_make(&from, 0x0b000000u + (uint32_t)a, 999);
    for (len = 0; len <= sizeof(buf); len += 1 + (size_t)a) {
      rudp_test_rng_fill(&w.s.rng, buf, len);
      if (len > 0) {
        buf[0] = (uint8_t)(a & 1 ? buf[0] | 0xc0 : (buf[0] & 0x7f) | 0x40);
      }
      assert_int_equal(rudp_endpoint_read(w.s.ep, buf, len,
                                          (struct sockaddr *)&from,
                                          sizeof(from), w.now),
                       0);
    }
  }
  flush();
  rudp_endpoint_get_stats(w.s.ep, &es);
  assert_true(es.datagrams_dropped > 0);
  assert_int_equal(es.connections, 1);
  assert_int_equal(rudp_conn_get_state(w.s.conn), RUDP_CONN_STATE_ESTABLISHED);
  world_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_hostile_mutations_plain),
      cmocka_unit_test(test_rudp_hostile_mutations_tls),
      cmocka_unit_test(test_rudp_hostile_replayed_connect_plain),
      cmocka_unit_test(test_rudp_hostile_replayed_connect_tls),
      cmocka_unit_test(test_rudp_hostile_garbage),
  };
  return cmocka_run_group_tests_name("hostile", tests, NULL, NULL);
}
