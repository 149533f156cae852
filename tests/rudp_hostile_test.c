/*
 * Hostile input against endpoints (issue "Hardening"; docs/SECURITY.md), in
 * plain and TLS mode, through the sans-I/O endpoint API on a virtual clock:
 *
 * - every truncation and every single-bit flip of every datagram a real
 *   connection sent, both ways, fed to the other side while that
 *   connection is open: none is accepted (CRC32C or AEAD), each is counted
 *   exactly once for every packet it holds, none crashes or leaks, and
 *   the connection still carries data both ways afterwards;
 * - a captured CONNECT replayed from thousands of source addresses: the
 *   half-open table stays bounded, the server never sends any address
 *   more than 3x what it received from it, memory stays within what the
 *   table can hold, and a real client still connects;
 * - slowloris: more attackers than half-open slots start handshakes and
 *   trickle a valid packet every second without ever finishing; each
 *   half-open connection still ends at its creation plus
 *   handshake_timeout, and a real client gets through;
 * - random garbage of every length from many addresses, each datagram
 *   counted once.
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

#include "rudp_endpoint.h"
#include "rudp_frame.h"
#include "rudp_pkt.h"
#include "rudp_test_helper.h"

#define MS RUDP_MILLISECONDS
#define SEC RUDP_SECONDS
#define T0 (1000 * RUDP_SECONDS)
#define MAXCAP 512
#define BUFLEN 2048
#define MAXCLOSES 128

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
  int close_err;
} side;

/*
 * A slowloris attacker: a real client endpoint at its own address.  It
 * receives what the server sends it, but the test withholds everything it
 * sends except its first CONNECT, and sends instead, once a second, a copy
 * of |pkt| with a new packet number.
 */
typedef struct attacker {
  side sd;
  /* holder: its CONNECT got a half-open connection, at |created|. */
  int holder;
  rudp_tstamp created;
  /* pkt: its CONNECT (plain), or its first HANDSHAKE packet (TLS), to
   * trickle copies of. */
  uint8_t pkt[BUFLEN];
  size_t pktlen;
  /* sent, recvd: bytes it sent the server and the server sent it. */
  uint64_t sent, recvd;
} attacker;

/* A server connection that closed without being accepted. */
typedef struct closed_rec {
  rudp_tstamp at;
  int error;
  uint64_t pkts_recv;
} closed_rec;

typedef struct world {
  side c, s;
  rudp_tstamp now;
  cap *caps;
  size_t ncaps;
  int capture;
  rudp_tls_ctx *sctx, *cctx;
  attacker *att;
  size_t natt;
  /* lost_bytes: what the server sent to addresses nobody owns. */
  uint64_t lost_bytes;
  closed_rec closes[MAXCLOSES];
  size_t ncloses;
} world;

static world *W;

static int cb_rand(uint8_t *dest, size_t len, void *ud) {
  side *sd = ud;
  rudp_test_rng_fill(&sd->rng, dest, len);
  return 0;
}

static int cb_readable(rudp_conn *conn, int64_t id, void *ud) {
  side *sd = conn == W->c.conn ? &W->c : &W->s;
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
  side *sd = conn == W->c.conn ? &W->c : conn == W->s.conn ? &W->s : NULL;
  (void)ud;
  if (sd) {
    sd->closed = 1;
    sd->close_err = error;
    sd->conn = NULL;
    return;
  }
  /* A server connection the application never took (half-open). */
  if (W->ncloses < MAXCLOSES) {
    closed_rec *r = &W->closes[W->ncloses];
    rudp_conn_stats st;
    rudp_conn_get_stats(conn, &st);
    r->at = W->now;
    r->error = error;
    r->pkts_recv = st.pkts_recv;
  }
  ++W->ncloses;
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

static int addr_is(const struct sockaddr_storage *ss,
                   const struct sockaddr_in *a) {
  const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
  return sin->sin_family == AF_INET &&
         sin->sin_addr.s_addr == a->sin_addr.s_addr &&
         sin->sin_port == a->sin_port;
}

static void side_settings(rudp_endpoint_settings *st, int server,
                          rudp_tls_ctx *tls, size_t max_half_open,
                          rudp_retry_mode retry) {
  rudp_endpoint_settings_default(st);
  st->listen = server;
  st->max_half_open = max_half_open;
  st->retry_threshold = max_half_open / 2;
  st->retry = retry;
  st->conn.tls = tls;
  st->conn.tls_server_name = server ? NULL : "localhost";
  st->conn.initial_rtt = 10 * MS;
}

static void side_start(side *sd, uint32_t ip, uint16_t port, uint64_t seed,
                       const rudp_endpoint_settings *st,
                       const rudp_callbacks *cb) {
  static const rudp_endpoint_callbacks epcb = {cb_rand, NULL, NULL};
  memset(sd, 0, sizeof(*sd));
  rudp_test_mem_init(&sd->tm);
  rudp_test_rng_init(&sd->rng, seed);
  addr_make(&sd->addr, ip, port);
  assert_int_equal(
      rudp_endpoint_new(&sd->ep, st, &epcb, cb, &sd->tm.mem, sd, W->now), 0);
}

static void side_init(side *sd, int server, uint32_t ip, uint64_t seed,
                      rudp_tls_ctx *tls, size_t max_half_open,
                      rudp_retry_mode retry) {
  rudp_endpoint_settings st;
  side_settings(&st, server, tls, max_half_open, retry);
  side_start(sd, ip, server ? 5300 : 40000, seed, &st, &conn_cb);
}

/* deliver gives |to| a datagram from |from|'s address. */
static void deliver(side *to, const side *from, const uint8_t *data,
                    size_t len) {
  assert_int_equal(rudp_endpoint_read(to->ep, data, len,
                                      (const struct sockaddr *)&from->addr,
                                      sizeof(from->addr), W->now),
                   0);
}

static void capture(int dir, const uint8_t *data, size_t len) {
  if (W->capture && W->ncaps < MAXCAP) {
    cap *c = &W->caps[W->ncaps++];
    c->dir = dir;
    c->len = len;
    memcpy(c->data, data, len);
  }
}

/* drain_attacker withholds everything attacker |a| sends, keeping its
 * first HANDSHAKE packet (in TLS mode: its Finished); returns nonzero if
 * it sent anything. */
static int drain_attacker(attacker *a) {
  uint8_t buf[BUFLEN];
  struct sockaddr_storage dst;
  socklen_t dstlen;
  rudp_ssize n;
  int any = 0;
  while ((n = rudp_endpoint_write(a->sd.ep, buf, sizeof(buf), &dst, &dstlen,
                                  W->now)) > 0) {
    rudp_pkt_hd hd;
    any = 1;
    if (a->pktlen == 0 &&
        rudp_pkt_decode_hd(&hd, buf, (size_t)n, RUDP_DEFAULT_CIDLEN) > 0 &&
        hd.type == RUDP_PKT_HANDSHAKE) {
      memcpy(a->pkt, buf, hd.pktlen);
      a->pktlen = hd.pktlen;
    }
  }
  assert_true(n == 0);
  return any;
}

/* flush moves everything the endpoints send at once (no delay: the tests
 * are about content, not timing), capturing the client's and server's
 * datagrams; the server's go to whoever owns their destination. */
static void flush(void) {
  int moved = 1, guard = 0;
  while (moved && ++guard < 100000) {
    uint8_t buf[BUFLEN];
    struct sockaddr_storage dst;
    socklen_t dstlen;
    rudp_ssize n;
    size_t i;
    moved = 0;
    while ((n = rudp_endpoint_write(W->c.ep, buf, sizeof(buf), &dst, &dstlen,
                                    W->now)) > 0) {
      moved = 1;
      capture(0, buf, (size_t)n);
      deliver(&W->s, &W->c, buf, (size_t)n);
    }
    assert_true(n == 0);
    while ((n = rudp_endpoint_write(W->s.ep, buf, sizeof(buf), &dst, &dstlen,
                                    W->now)) > 0) {
      moved = 1;
      if (addr_is(&dst, &W->c.addr)) {
        capture(1, buf, (size_t)n);
        deliver(&W->c, &W->s, buf, (size_t)n);
        continue;
      }
      for (i = 0; i < W->natt && !addr_is(&dst, &W->att[i].sd.addr); ++i)
        ;
      if (i < W->natt) {
        W->att[i].recvd += (uint64_t)n;
        deliver(&W->att[i].sd, &W->s, buf, (size_t)n);
      } else {
        W->lost_bytes += (uint64_t)n;
      }
    }
    assert_true(n == 0);
    for (i = 0; i < W->natt; ++i) {
      moved |= drain_attacker(&W->att[i]);
    }
  }
}

static rudp_tstamp next_expiry(void) {
  rudp_tstamp t = rudp_endpoint_get_expiry(W->c.ep), u;
  size_t i;
  u = rudp_endpoint_get_expiry(W->s.ep);
  t = u < t ? u : t;
  for (i = 0; i < W->natt; ++i) {
    u = rudp_endpoint_get_expiry(W->att[i].sd.ep);
    t = u < t ? u : t;
  }
  return t;
}

/* run_until runs timers up to |until|, flushing as it goes. */
static void run_until(rudp_tstamp until) {
  int guard = 0;
  size_t i;
  flush();
  while (W->now < until && ++guard < 100000) {
    rudp_tstamp t = next_expiry();
    if (t > until) {
      W->now = until;
      break;
    }
    if (t > W->now) {
      W->now = t;
    }
    assert_int_equal(rudp_endpoint_handle_expiry(W->c.ep, W->now), 0);
    assert_int_equal(rudp_endpoint_handle_expiry(W->s.ep, W->now), 0);
    for (i = 0; i < W->natt; ++i) {
      assert_int_equal(rudp_endpoint_handle_expiry(W->att[i].sd.ep, W->now), 0);
    }
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
  size_t i;
  rudp_endpoint_del(w->c.ep);
  rudp_endpoint_del(w->s.ep);
  assert_int_equal(w->c.tm.nlive, 0);
  assert_int_equal(w->s.tm.nlive, 0);
  for (i = 0; i < w->natt; ++i) {
    rudp_endpoint_del(w->att[i].sd.ep);
    assert_int_equal(w->att[i].sd.tm.nlive, 0);
  }
  free(w->att);
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

/* ------------------------------------------------------------ mutations */

/*
 * reaches tells whether |to|'s endpoint hands datagram |d| to |to|'s
 * connection, routing as rudp_endpoint_read does: a long header of a known
 * version that decodes and names the connection's CID (at the server also
 * a CONNECT naming the client's first DCID |odcid|: all datagrams come
 * from the peer's address), or a short header whose first bytes after
 * byte 0 are that CID.
 */
static int reaches(const side *to, int server, const rudp_cid *odcid,
                   const uint8_t *d, size_t len) {
  const rudp_cid *scid = rudp_conn_get_scid(to->conn);
  rudp_pkt_hd hd;
  rudp_cid dcid;
  uint32_t version;
  if (len == 0) {
    return 0;
  }
  if (!(d[0] & 0x80)) {
    if (len < 1 + scid->datalen) {
      return 0;
    }
    rudp_cid_init(&dcid, d + 1, scid->datalen);
    return rudp_cid_eq(&dcid, scid);
  }
  if (len < 7) {
    return 0;
  }
  version =
      (uint32_t)d[1] << 24 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 8 | d[4];
  if ((version != RUDP_PROTO_VER_V1 && version != RUDP_PROTO_VER_NEGOTIATION) ||
      rudp_pkt_decode_hd(&hd, d, len, scid->datalen) < 0) {
    return 0;
  }
  return rudp_cid_eq(&hd.dcid, scid) ||
         (server && hd.type == RUDP_PKT_CONNECT &&
          rudp_cid_eq(&hd.dcid, odcid));
}

/*
 * pkts_in counts the packets a connection reads in datagram |d|, walking
 * it as rudp_conn_read_pkt does: each packet ends where its header's
 * length says, and a header that does not decode, a RETRY, a version
 * negotiation or another version takes the rest.  A bit flip in a length
 * field (or in a CID length, which moves it) splits one packet in two.
 */
static size_t pkts_in(const uint8_t *d, size_t len, size_t cidlen) {
  size_t n = 0, off = 0;
  while (off < len) {
    rudp_pkt_hd hd;
    ++n;
    if (rudp_pkt_decode_hd(&hd, d + off, len - off, cidlen) < 0 ||
        hd.type == RUDP_PKT_RETRY || hd.type == RUDP_PKT_VERSION_NEGOTIATION ||
        ((hd.flags & RUDP_PKT_FLAG_LONG_FORM) &&
         hd.version != RUDP_PROTO_VER_V1)) {
      break;
    }
    off += hd.pktlen;
  }
  return n;
}

/* What an endpoint and its connection counted. */
typedef struct counts {
  uint64_t recv, dropped, dup, integrity, undecryptable;
  uint64_t ep_dropped, resets, vn, other;
} counts;

static void count(const side *sd, counts *k) {
  rudp_conn_stats cs;
  rudp_endpoint_stats es;
  rudp_conn_get_stats(sd->conn, &cs);
  rudp_endpoint_get_stats(sd->ep, &es);
  k->recv = cs.pkts_recv;
  k->dropped = cs.pkts_dropped;
  k->dup = cs.pkts_duplicate;
  k->integrity = cs.pkts_bad_integrity;
  k->undecryptable = cs.pkts_undecryptable;
  k->ep_dropped = es.datagrams_dropped;
  k->resets = es.stateless_resets_sent;
  k->vn = es.version_negotiations_sent;
  /* None of these may move: no hostile datagram opens, refuses, retries
   * or accepts anything. */
  k->other = es.refused + es.retries_sent + es.tokens_invalid + es.connections +
             es.accepted + es.half_open;
}

/* The totals of one direction. */
typedef struct tally {
  size_t fed, split;
  counts sum;
} tally;

/*
 * feed_one gives the side at the end of direction |dir| one hostile
 * datagram from its peer and checks it is accounted for exactly: no packet
 * accepted, and one count for each packet the connection read in it (a
 * drop of the connection: failed integrity, undecryptable, duplicate,
 * stale or malformed) or, if the endpoint did not hand it over, one
 * count of the endpoint (dropped, or answered with a stateless reset or a
 * version negotiation).
 */
static void feed_one(world *w, int dir, const rudp_cid *odcid, const uint8_t *d,
                     size_t len, tally *t) {
  side *to = dir == 0 ? &w->s : &w->c;
  side *from = dir == 0 ? &w->c : &w->s;
  size_t expect = reaches(to, dir == 0, odcid, d, len)
                      ? pkts_in(d, len, rudp_conn_get_scid(to->conn)->datalen)
                      : 1;
  counts a, b;
  count(to, &a);
  deliver(to, from, d, len);
  count(to, &b);
  assert_int_equal(b.recv, a.recv);
  assert_int_equal(b.other, a.other);
  assert_int_equal((b.dropped - a.dropped) + (b.ep_dropped - a.ep_dropped) +
                       (b.resets - a.resets) + (b.vn - a.vn),
                   expect);
  ++t->fed;
  t->split += expect > 1;
  t->sum.dropped += b.dropped - a.dropped;
  t->sum.dup += b.dup - a.dup;
  t->sum.integrity += b.integrity - a.integrity;
  t->sum.undecryptable += b.undecryptable - a.undecryptable;
  t->sum.ep_dropped += b.ep_dropped - a.ep_dropped;
  t->sum.resets += b.resets - a.resets;
  t->sum.vn += b.vn - a.vn;
}

static void mutations(int tls) {
  world w;
  uint8_t buf[BUFLEN];
  size_t i, n, bit;
  int d;
  int64_t id;
  tally t[2];
  rudp_pkt_hd hd;
  rudp_cid odcid;
  static uint8_t reply[3000];
  static const uint8_t more[] = "still working after the storm";

  world_init(&w, tls);
  side_init(&w.c, 0, 0x7f000002, 1, w.cctx, 256, RUDP_RETRY_NEVER);
  side_init(&w.s, 1, 0x7f000001, 2, w.sctx, 256, RUDP_RETRY_NEVER);
  w.capture = 1;
  connect_pair(20000);
  /* Stream data the other way too. */
  memset(reply, 0xa5, sizeof(reply));
  assert_int_equal(rudp_conn_open_stream(w.s.conn, 1, &id), 0);
  assert_int_equal(
      rudp_conn_stream_write(w.s.conn, id, reply, sizeof(reply), 0),
      (rudp_ssize)sizeof(reply));
  run_until(w.now + 200 * MS);
  assert_int_equal(w.c.recvd, sizeof(reply));
  w.capture = 0;
  assert_true(w.ncaps > 6 && w.ncaps < MAXCAP);
  /* The first datagram is the client's CONNECT: its DCID is the one the
   * server also files the connection under. */
  assert_int_equal(w.caps[0].dir, 0);
  assert_true(rudp_pkt_decode_hd(&hd, w.caps[0].data, w.caps[0].len,
                                 RUDP_DEFAULT_CIDLEN) > 0);
  assert_int_equal(hd.type, RUDP_PKT_CONNECT);
  odcid = hd.dcid;
  memset(t, 0, sizeof(t));
  for (i = 0; i < w.ncaps; ++i) {
    const cap *c = &w.caps[i];
    /* Every truncation, then the datagram whole: a replay, dropped as a
     * duplicate (or, a handshake packet, as stale)... */
    for (n = 0; n <= c->len; ++n) {
      feed_one(&w, c->dir, &odcid, c->data, n, &t[c->dir]);
    }
    /* ...and every single-bit flip. */
    for (bit = 0; bit < c->len * 8; ++bit) {
      memcpy(buf, c->data, c->len);
      buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      feed_one(&w, c->dir, &odcid, buf, c->len, &t[c->dir]);
    }
  }
  for (d = 0; d < 2; ++d) {
    const counts *k = &t[d].sum;
    print_message(
        "%s, %s: %zu hostile datagrams (%zu split in two by a "
        "length flip): connection dropped %llu (%llu integrity, "
        "%llu duplicate, %llu undecryptable), endpoint dropped "
        "%llu, %llu stateless resets, %llu version negotiations\n",
        tls ? "tls" : "plain", d == 0 ? "client -> server" : "server -> client",
        t[d].fed, t[d].split, (unsigned long long)k->dropped,
        (unsigned long long)k->integrity, (unsigned long long)k->dup,
        (unsigned long long)k->undecryptable, (unsigned long long)k->ep_dropped,
        (unsigned long long)k->resets, (unsigned long long)k->vn);
    /* Each datagram once, plus the second packet of each split one. */
    assert_int_equal(k->dropped + k->ep_dropped + k->resets + k->vn,
                     t[d].fed + t[d].split);
    assert_true(k->integrity > 0);
  }
  /* Both ways still work. */
  flush();
  assert_int_equal(rudp_conn_get_state(w.s.conn), RUDP_CONN_STATE_ESTABLISHED);
  assert_int_equal(rudp_conn_get_state(w.c.conn), RUDP_CONN_STATE_ESTABLISHED);
  assert_int_equal(rudp_conn_open_stream(w.c.conn, 1, &id), 0);
  assert_int_equal(rudp_conn_stream_write(w.c.conn, id, more, sizeof(more), 1),
                   (rudp_ssize)sizeof(more));
  assert_int_equal(rudp_conn_open_stream(w.s.conn, 1, &id), 0);
  assert_int_equal(rudp_conn_stream_write(w.s.conn, id, more, sizeof(more), 1),
                   (rudp_ssize)sizeof(more));
  run_until(w.now + 500 * MS);
  assert_int_equal(w.s.recvd, 20000 + sizeof(more));
  assert_int_equal(w.c.recvd, sizeof(reply) + sizeof(more));
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

/* ------------------------------------------------------------ replay */

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
  size_t connect_len = 0, i, peak_live = 0, sent_to_fakes = 0, base;
  size_t first = 0, second = 0;
  const size_t nfake = 5000, half_open = 64;

  world_init(&w, tls);
  side_init(&w.c, 0, 0x7f000002, 3, w.cctx, half_open, retry);
  side_init(&w.s, 1, 0x7f000001, 4, w.sctx, half_open, retry);
  base = w.s.tm.nlive;
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
    if (i == 0) {
      first = w.s.tm.nlive - base;
    } else if (i == 1) {
      second = w.s.tm.nlive - base - first;
    }
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
      "refused %llu, retries %llu, live blocks %zu before, +%zu with the "
      "first connection, +%zu with the second, peak %zu, %zu bytes sent to "
      "fake addresses\n",
      tls ? "tls" : "plain", retry == RUDP_RETRY_NEVER ? "never" : "auto",
      nfake, (unsigned long long)es.half_open, (unsigned long long)es.refused,
      (unsigned long long)es.retries_sent, base, first, second, peak_live,
      sent_to_fakes);
  /* Memory is what the half-open table can hold, whatever the flood: a
   * CONNECT beyond the table (or the RETRY threshold) is answered from the
   * preallocated stateless queue and allocates nothing, so at most
   * max_half_open connections live.  The first one also made the one-time
   * blocks (the maps' tables); each further one takes what the second
   * took.  One block kept per CONNECT would exceed this bound 6 times. */
  assert_true(second > 0 && second <= first);
  assert_true(peak_live <= base + first + (half_open - 1) * second);
  if (retry == RUDP_RETRY_NEVER) {
    assert_int_equal(es.half_open, half_open);
    assert_int_equal(es.refused, nfake - half_open);
    /* The entries expire after handshake_timeout (10 s); a client that
     * tries then gets in. */
    run_until(w.now + 11 * SEC);
    rudp_endpoint_get_stats(w.s.ep, &es);
    assert_int_equal(es.half_open, 0);
    assert_int_equal(w.ncloses, half_open);
    /* All they took is freed (the one-time blocks may stay). */
    assert_true(w.s.tm.nlive <= base + first - second);
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

/* ------------------------------------------------------------ slowloris */

#define SL_ATTACKERS 40
#define SL_MAX_HALF_OPEN 16
#define SL_TRICKLES 4
#define SL_TICK (10 * MS)
#define SL_HANDSHAKE_TIMEOUT (5 * SEC)

/*
 * trickle_pkt writes into |out| the |k|-th trickle of attacker |a|: its
 * packet again with packet number 100 + k, and in TLS mode its CRYPTO
 * frame cut to k/SL_TRICKLES of its bytes but the last, never more (a
 * Finished that never completes).  Other frames (its ACK) are kept as
 * they are.  Returns the length.
 */
static size_t trickle_pkt(uint8_t *out, const attacker *a, int tls, size_t k) {
  rudp_pkt_hd hd;
  uint8_t payload[BUFLEN];
  size_t plen = 0, off, end;
  int crypto = 0;
  rudp_ssize hl =
      rudp_pkt_decode_hd(&hd, a->pkt, a->pktlen, RUDP_DEFAULT_CIDLEN);
  assert_true(hl > 0);
  off = (size_t)hl;
  end = hd.pktlen - RUDP_PKT_CRCLEN;
  while (off < end) {
    rudp_frame fr;
    rudp_ssize n = rudp_frame_decode(&fr, a->pkt + off, end - off);
    assert_true(n > 0);
    if (tls && fr.type == RUDP_FRAME_CRYPTO) {
      size_t len = fr.crypto.datalen - 1;
      rudp_ssize m;
      fr.crypto.datalen = k < SL_TRICKLES ? k * len / SL_TRICKLES : len;
      m = rudp_frame_encode(payload + plen, sizeof(payload) - plen, &fr);
      assert_true(m > 0);
      plen += (size_t)m;
      crypto = 1;
    } else {
      memcpy(payload + plen, a->pkt + off, (size_t)n);
      plen += (size_t)n;
    }
    off += (size_t)n;
  }
  assert_true(crypto || !tls);
  hd.pkt_num = 100 + k;
  hd.pkt_numlen = 2;
  hd.len = hd.pkt_numlen + plen + RUDP_PKT_CRCLEN;
  hl = rudp_pkt_encode_hd(out, BUFLEN, &hd);
  assert_true(hl > 0);
  memcpy(out + hl, payload, plen);
  return rudp_pkt_seal_crc_pn(out, (size_t)hl + plen, hd.pkt_num);
}

static void trickle(attacker *a, int tls, size_t k) {
  uint8_t buf[BUFLEN];
  size_t n = trickle_pkt(buf, a, tls, k);
  a->sent += n;
  deliver(&W->s, &a->sd, buf, n);
}

/* attack_start has attacker |a| connect; its CONNECT goes to the server,
 * and the server's answer comes back to it. */
static void attack_start(attacker *a, int tls) {
  uint8_t buf[BUFLEN];
  struct sockaddr_storage dst;
  socklen_t dstlen;
  rudp_ssize n;
  rudp_endpoint_stats before, after;
  assert_int_equal(
      rudp_endpoint_connect(a->sd.ep, (struct sockaddr *)&W->s.addr,
                            sizeof(W->s.addr), NULL, NULL, &a->sd.conn, W->now),
      0);
  n = rudp_endpoint_write(a->sd.ep, buf, sizeof(buf), &dst, &dstlen, W->now);
  assert_true(n >= RUDP_MIN_UDP_PAYLOAD);
  if (!tls) {
    /* Plain mode: it retransmits its CONNECT. */
    memcpy(a->pkt, buf, (size_t)n);
    a->pktlen = (size_t)n;
  }
  a->sent += (uint64_t)n;
  rudp_endpoint_get_stats(W->s.ep, &before);
  deliver(&W->s, &a->sd, buf, (size_t)n);
  rudp_endpoint_get_stats(W->s.ep, &after);
  if (after.half_open > before.half_open) {
    a->holder = 1;
    a->created = W->now;
  }
  flush();
}

/*
 * slowloris: SL_ATTACKERS addresses, 10 ms apart, each start a handshake
 * with a server that has SL_MAX_HALF_OPEN half-open slots and a 5 s
 * handshake_timeout; each that gets a slot sends a valid packet at 1, 2, 3
 * and 4 s (plain mode: its CONNECT again; TLS mode: a HANDSHAKE packet with
 * ever more of its Finished, never all of it), every one accepted by its
 * half-open connection.  A real client tries at 2 s and, without RETRY,
 * again at 6 s.
 */
static void slowloris(int tls, rudp_retry_mode retry) {
  world w;
  rudp_endpoint_settings st;
  rudp_endpoint_stats es;
  static uint8_t data[10000];
  const size_t nholders =
      retry == RUDP_RETRY_NEVER ? SL_MAX_HALF_OPEN : SL_MAX_HALF_OPEN / 2;
  size_t i, j, tick;
  int64_t id;

  world_init(&w, tls);
  side_settings(&st, 1, w.sctx, SL_MAX_HALF_OPEN, retry);
  st.conn.handshake_timeout = SL_HANDSHAKE_TIMEOUT;
  side_start(&w.s, 0x7f000001, 5300, 7, &st, &conn_cb);
  side_init(&w.c, 0, 0x7f000002, 8, w.cctx, SL_MAX_HALF_OPEN, retry);
  w.att = calloc(SL_ATTACKERS, sizeof(*w.att));
  assert_non_null(w.att);
  side_settings(&st, 0, w.cctx, SL_MAX_HALF_OPEN, retry);
  for (i = 0; i < SL_ATTACKERS; ++i) {
    side_start(&w.att[i].sd, 0x0a010000u + (uint32_t)i, 40000, 100 + i, &st,
               NULL);
  }
  w.natt = SL_ATTACKERS;
  memset(data, 0x3c, sizeof(data));

  for (tick = 0; tick <= 700; ++tick) {
    run_until(T0 + tick * SL_TICK);
    if (tick < SL_ATTACKERS) {
      attack_start(&w.att[tick], tls);
      /* The first ones get the slots (to the RETRY threshold with
       * RETRY), and only they. */
      assert_int_equal(w.att[tick].holder, tick < nholders);
      /* A TLS holder got the server's flight and answered it. */
      assert_true(!tls || !w.att[tick].holder || w.att[tick].pktlen > 0);
    }
    for (i = 0; i < SL_ATTACKERS; ++i) {
      attacker *a = &w.att[i];
      rudp_duration age = w.now - a->created;
      if (!a->holder || age == 0 || age % SEC != 0) {
        continue;
      }
      if (age <= SL_TRICKLES * SEC) {
        trickle(a, tls, age / SEC);
      } else if (tls && age == (SL_TRICKLES + 2) * SEC) {
        /* Its connection is gone: a HANDSHAKE packet for no connection is
         * dropped. */
        trickle(a, tls, SL_TRICKLES + 2);
      }
    }
    if (tick == 200) {
      assert_int_equal(
          rudp_endpoint_connect(w.c.ep, (struct sockaddr *)&w.s.addr,
                                sizeof(w.s.addr), NULL, NULL, &w.c.conn, w.now),
          0);
    } else if (tick == 201) {
      if (retry == RUDP_RETRY_NEVER) {
        /* The table is full: refused. */
        assert_true(w.c.closed);
        assert_int_equal(w.c.close_err, RUDP_ERR_CONNECTION_REFUSED);
      } else {
        /* Through RETRY, while the slots stay held. */
        assert_non_null(w.c.conn);
        assert_true(rudp_conn_is_established(w.c.conn));
        w.s.conn = rudp_endpoint_accept(w.s.ep);
        assert_non_null(w.s.conn);
        assert_int_equal(rudp_conn_open_stream(w.c.conn, 1, &id), 0);
        assert_int_equal(
            rudp_conn_stream_write(w.c.conn, id, data, sizeof(data), 1),
            (rudp_ssize)sizeof(data));
      }
    }
    rudp_endpoint_get_stats(w.s.ep, &es);
    assert_true(es.half_open <= SL_MAX_HALF_OPEN);
    if (tick == 300) {
      /* Every slot still held, well past the first trickles. */
      assert_int_equal(es.half_open, nholders);
    }
  }
  rudp_endpoint_get_stats(w.s.ep, &es);
  print_message("%s, retry %s: %d attackers, %zu held a slot; refused %llu, "
                "retries %llu, dropped %llu\n",
                tls ? "tls" : "plain",
                retry == RUDP_RETRY_NEVER ? "never" : "auto", SL_ATTACKERS,
                nholders, (unsigned long long)es.refused,
                (unsigned long long)es.retries_sent,
                (unsigned long long)es.datagrams_dropped);
  /* Each half-open connection ended at its creation + handshake_timeout
   * exactly, the trickle notwithstanding: its CONNECT and all four
   * trickled packets were accepted, and the deadline did not move. */
  assert_int_equal(w.ncloses, nholders);
  for (i = 0, j = 0; i < SL_ATTACKERS; ++i) {
    if (w.att[i].holder) {
      assert_int_equal(w.closes[j].at, w.att[i].created + SL_HANDSHAKE_TIMEOUT);
      assert_int_equal(w.closes[j].error, RUDP_ERR_HANDSHAKE_TIMEOUT);
      assert_int_equal(w.closes[j].pkts_recv, 1 + SL_TRICKLES);
      ++j;
    }
    /* Never more than 3x what it sent, unvalidated. */
    assert_true(w.att[i].recvd <= 3 * w.att[i].sent);
    assert_true(w.att[i].recvd > 0);
  }
  assert_int_equal(j, nholders);
  assert_int_equal(es.half_open, 0);
  assert_int_equal(w.lost_bytes, 0);
  /* TLS: each late trickle dropped, nothing else. */
  assert_int_equal(es.datagrams_dropped, tls ? nholders : 0);
  if (retry == RUDP_RETRY_NEVER) {
    /* The attackers beyond the table and the real client's first try. */
    assert_int_equal(es.refused, SL_ATTACKERS - SL_MAX_HALF_OPEN + 1);
    assert_int_equal(es.retries_sent, 0);
    assert_int_equal(es.connections, 0);
    assert_int_equal(es.accepted, 0);
    w.c.closed = 0;
    connect_pair(sizeof(data));
  } else {
    /* The attackers beyond the threshold and the real client. */
    assert_int_equal(es.refused, 0);
    assert_int_equal(es.retries_sent, SL_ATTACKERS - SL_MAX_HALF_OPEN / 2 + 1);
    assert_int_equal(es.connections, 1);
    assert_int_equal(w.s.recvd, sizeof(data));
    assert_true(w.s.fin);
  }
  rudp_endpoint_get_stats(w.s.ep, &es);
  assert_int_equal(es.accepted, 1);
  assert_int_equal(es.connections, 1);
  assert_int_equal(w.s.recvd, sizeof(data));
  world_free(&w);
}

static void test_rudp_hostile_slowloris_plain(void **state) {
  (void)state;
  slowloris(0, RUDP_RETRY_NEVER);
  slowloris(0, RUDP_RETRY_AUTO);
}

static void test_rudp_hostile_slowloris_tls(void **state) {
  (void)state;
  slowloris(1, RUDP_RETRY_NEVER);
  slowloris(1, RUDP_RETRY_AUTO);
}

/* ------------------------------------------------------------ garbage */

/* Garbage of every length 0..1500 from 64 addresses, long-header-looking
 * and short-header-looking, while a connection is open. */
static void garbage(int tls) {
  world w;
  uint8_t buf[1500];
  size_t len, fed = 0;
  int a;
  rudp_endpoint_stats before, es;
  rudp_conn_stats cs0, cs1;
  uint64_t answered;

  world_init(&w, tls);
  side_init(&w.c, 0, 0x7f000002, 5, w.cctx, 256, RUDP_RETRY_AUTO);
  side_init(&w.s, 1, 0x7f000001, 6, w.sctx, 256, RUDP_RETRY_AUTO);
  connect_pair(1000);
  rudp_endpoint_get_stats(w.s.ep, &before);
  rudp_conn_get_stats(w.s.conn, &cs0);
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
      ++fed;
    }
  }
  rudp_endpoint_get_stats(w.s.ep, &es);
  rudp_conn_get_stats(w.s.conn, &cs1);
  answered = (es.stateless_resets_sent - before.stateless_resets_sent) +
             (es.version_negotiations_sent - before.version_negotiations_sent);
  print_message(
      "%s: %zu garbage datagrams: %llu dropped, %llu stateless "
      "resets, %llu version negotiations\n",
      tls ? "tls" : "plain", fed,
      (unsigned long long)(es.datagrams_dropped - before.datagrams_dropped),
      (unsigned long long)(es.stateless_resets_sent -
                           before.stateless_resets_sent),
      (unsigned long long)(es.version_negotiations_sent -
                           before.version_negotiations_sent));
  /* Each garbage datagram counted once: dropped, or answered (a short
   * header with a stateless reset, a long one of 1200 bytes or more with
   * a version negotiation).  Nothing is sent during the storm, so the
   * answers fill the stateless queue and every later one is dropped. */
  assert_int_equal(answered, RUDP_EP_SLQ_LEN);
  assert_int_equal(es.datagrams_dropped - before.datagrams_dropped,
                   fed - RUDP_EP_SLQ_LEN);
  assert_int_equal(es.refused, before.refused);
  assert_int_equal(es.retries_sent, before.retries_sent);
  /* None reached the connection. */
  assert_int_equal(cs1.pkts_dropped, cs0.pkts_dropped);
  assert_int_equal(cs1.pkts_recv, cs0.pkts_recv);
  flush();
  rudp_endpoint_get_stats(w.s.ep, &es);
  assert_int_equal(es.connections, 1);
  assert_int_equal(rudp_conn_get_state(w.s.conn), RUDP_CONN_STATE_ESTABLISHED);
  world_free(&w);
}

static void test_rudp_hostile_garbage_plain(void **state) {
  (void)state;
  garbage(0);
}

static void test_rudp_hostile_garbage_tls(void **state) {
  (void)state;
  garbage(1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_hostile_mutations_plain),
      cmocka_unit_test(test_rudp_hostile_mutations_tls),
      cmocka_unit_test(test_rudp_hostile_replayed_connect_plain),
      cmocka_unit_test(test_rudp_hostile_replayed_connect_tls),
      cmocka_unit_test(test_rudp_hostile_slowloris_plain),
      cmocka_unit_test(test_rudp_hostile_slowloris_tls),
      cmocka_unit_test(test_rudp_hostile_garbage_plain),
      cmocka_unit_test(test_rudp_hostile_garbage_tls),
  };
  return cmocka_run_group_tests_name("hostile", tests, NULL, NULL);
}
