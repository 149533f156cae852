/*
 * TLS mode for the fuzz harnesses: see fuzz_tls.h.
 */
#ifdef HAVE_CONFIG_H
#  include <config.h>
#endif

/* RAND_set_rand_method is deprecated in OpenSSL 3 (providers replace it)
 * but still honoured by RAND_bytes and RAND_priv_bytes, which is all a
 * test needs to make the library deterministic. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "fuzz_tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "fuzz_harness.h"
#include "rudp_conn.h"
#include "rudp_frame.h"
#include "rudp_pkt.h"
#include "rudp_tls.h"

/* ------------------------------------------------------------ random */

/* Stream 0 is the harness's, stream 1 the generator's peers'. */
static fuzz_rng rand_streams[2];
static int rand_cur;

static int fr_bytes(unsigned char *buf, int num) {
  if (num > 0) {
    fuzz_rng_fill(&rand_streams[rand_cur], buf, (size_t)num);
  }
  return 1;
}

static int fr_seed(const void *buf, int num) {
  (void)buf;
  (void)num;
  return 1;
}

static int fr_add(const void *buf, int num, double randomness) {
  (void)buf;
  (void)num;
  (void)randomness;
  return 1;
}

static int fr_status(void) { return 1; }

static RAND_METHOD fuzz_rand_method = {fr_seed, fr_bytes, NULL,
                                       fr_add,  fr_bytes, fr_status};

void fuzz_tls_rand_reset(void) {
  rand_streams[0].s = 0x7115eedULL;
  rand_streams[1].s = 0x9ee25eedULL;
  rand_cur = 0;
}

int fuzz_tls_rand_peer(int on) {
  int was = rand_cur;
  rand_cur = on != 0;
  return was;
}

/* ------------------------------------------------------------ contexts */

/*
 * The server's certificate and key: a self-signed ECDSA P-256 certificate
 * for localhost, 127.0.0.1 and ::1, valid for a century.  A test key, not
 * a secret: fixed so that every run sends the same Certificate message (an
 * ephemeral one carries its creation time) and a recorded client's
 * Finished stays valid.  Clients pin it.
 */
static const char fuzz_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/yRJSlH/EeUkGfxR\n"
    "K8OeJcgugxwSf6aNAamgxdPa3/ahRANCAAQGoeb73qPBNw0a0EiGtGbcF11sqHSX\n"
    "k2vN13CjtsZFcTqWEaWcF+xAMqGY4bcPFUBWlz/RAwdrbejQ5FRdPwYH\n"
    "-----END PRIVATE KEY-----\n";
static const char fuzz_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBlzCCAT6gAwIBAgICXu0wCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJbG9jYWxo\n"
    "b3N0MCAXDTI2MTEyNjIyMjk0NVoYDzIxMjYxMTAyMjIyOTQ1WjAUMRIwEAYDVQQD\n"
    "DAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQGoeb73qPBNw0a\n"
    "0EiGtGbcF11sqHSXk2vN13CjtsZFcTqWEaWcF+xAMqGY4bcPFUBWlz/RAwdrbejQ\n"
    "5FRdPwYHo34wfDAdBgNVHQ4EFgQURFHN19Ea2ipeS3jUvyJNP1q+gNAwHwYDVR0j\n"
    "BBgwFoAURFHN19Ea2ipeS3jUvyJNP1q+gNAwLAYDVR0RBCUwI4IJbG9jYWxob3N0\n"
    "hwR/AAABhxAAAAAAAAAAAAAAAAAAAAABMAwGA1UdEwEB/wQCMAAwCgYIKoZIzj0E\n"
    "AwIDRwAwRAIgZRm2If/z+HedY0IG+gFWwZFil5QFZ8EjZROSOb+xM3MCIDMrCrhu\n"
    "auCtwlMuoVkQP42MU4do/GEPvqrK8Q4D5vF8\n"
    "-----END CERTIFICATE-----\n";

static const char *const suites[4] = {
    NULL, /* OpenSSL's default: all three */
    "TLS_AES_128_GCM_SHA256",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_256_GCM_SHA384",
};

static rudp_tls_ctx *server_ctxs[FUZZ_TLS_NVARIANTS];
static rudp_tls_ctx *client_ctxs[FUZZ_TLS_NVARIANTS];

static void die(const char *what, const char *why) {
  fprintf(stderr, "fuzz_tls: %s: %s\n", what, why);
  abort();
}

/* write_temp writes |text| to a new temporary file whose name goes to
 * |path| (|len| bytes). */
static void write_temp(char *path, size_t len, const char *text) {
  const char *dir = getenv("TMPDIR");
  size_t n = strlen(text);
  int fd;

  snprintf(path, len, "%s/fuzz-tls-XXXXXX", dir && *dir ? dir : "/tmp");
  fd = mkstemp(path);
  if (fd < 0 || write(fd, text, n) != (ssize_t)n || close(fd) != 0) {
    die(path, "cannot write");
  }
}

void fuzz_tls_init(void) {
  static int done;
  char cert[4096], key[4096], err[256], fp[96];
  rudp_tls_config cfg;
  unsigned v;

  if (done) {
    return;
  }
  done = 1;
  if (!rudp_tls_available()) {
    die("init", "librudp was built without TLS");
  }
  if (!RAND_set_rand_method(&fuzz_rand_method)) {
    die("init", "RAND_set_rand_method failed");
  }
  write_temp(cert, sizeof(cert), fuzz_cert_pem);
  write_temp(key, sizeof(key), fuzz_key_pem);
  for (v = 0; v < FUZZ_TLS_NVARIANTS; ++v) {
    /* Each context draws its ticket key from a stream of its own. */
    fuzz_tls_rand_reset();
    rand_streams[0].s += v;
    rudp_tls_config_default(&cfg);
    cfg.server = 1;
    cfg.cert_file = cert;
    cfg.key_file = key;
    cfg.ciphersuites = suites[v & FUZZ_TLS_SUITE_MASK];
    cfg.alpn = (v & FUZZ_TLS_ALPN) ? "rudp-other,rudp-fuzz" : NULL;
    if (rudp_tls_ctx_new(&server_ctxs[v], &cfg, err, sizeof(err)) != 0 ||
        rudp_tls_ctx_get_fingerprint(server_ctxs[v], fp, sizeof(fp)) != 0) {
      die("server context", err);
    }
    rudp_tls_config_default(&cfg);
    cfg.pin_sha256 = fp;
    cfg.ciphersuites = suites[v & FUZZ_TLS_SUITE_MASK];
    cfg.alpn = (v & FUZZ_TLS_ALPN) ? "rudp-fuzz" : NULL;
    cfg.session_cache = 0;
    if (rudp_tls_ctx_new(&client_ctxs[v], &cfg, err, sizeof(err)) != 0) {
      die("client context", err);
    }
  }
  unlink(cert);
  unlink(key);
  fuzz_tls_rand_reset();
}

rudp_tls_ctx *fuzz_tls_server_ctx(unsigned variant) {
  return server_ctxs[variant % FUZZ_TLS_NVARIANTS];
}

rudp_tls_ctx *fuzz_tls_client_ctx(unsigned variant) {
  return client_ctxs[variant % FUZZ_TLS_NVARIANTS];
}

void fuzz_tls_check_info(const rudp_conn *conn, uint8_t tls_setup) {
  const char *suite = suites[tls_setup & FUZZ_TLS_SUITE_MASK];
  rudp_tls_info info;

  rudp_conn_get_tls_info(conn, &info);
  FUZZ_CHECK(info.enabled && info.handshake_done);
  if (suite) {
    FUZZ_CHECK(strcmp(info.cipher, suite) == 0);
  } else {
    FUZZ_CHECK(strcmp(info.cipher, suites[1]) == 0 ||
               strcmp(info.cipher, suites[2]) == 0 ||
               strcmp(info.cipher, suites[3]) == 0);
  }
  if (!(tls_setup & FUZZ_TLS_ALPN)) {
    FUZZ_CHECK(info.alpn[0] == '\0');
  } else if (!conn->server) {
    /* Our client offers rudp-fuzz only. */
    FUZZ_CHECK(strcmp(info.alpn, "rudp-fuzz") == 0);
  } else {
    /* A fuzzed ClientHello may offer the server's other protocol. */
    FUZZ_CHECK(strcmp(info.alpn, "rudp-fuzz") == 0 ||
               strcmp(info.alpn, "rudp-other") == 0);
  }
}

/* ------------------------------------------------------------ peer */

struct fuzz_tls_peer {
  /* pp: the server's protection state (tx seals what the harness feeds,
   * rx opens what the client sends). */
  rudp_pp pp;
  /* old: its tx is the send generation before pp's (old_valid), for
   * packets "delayed" across an update. */
  rudp_pp old;
  int old_valid;
  uint8_t plain[FUZZ_BUFLEN];
};

/* keep_old makes |secret| (phase |phase|) the previous send generation. */
static void keep_old(fuzz_tls_peer *peer, const uint8_t *secret, int phase) {
  if (peer->old_valid) {
    rudp_pp_free(&peer->old);
  }
  FUZZ_CHECK(rudp_pp_init(&peer->old, peer->pp.alg, secret, secret) == 0);
  peer->old.tx_phase = phase;
  peer->old_valid = 1;
}

/* peer_of clones the protection state |s| (see fuzz_tls_peer_new). */
static fuzz_tls_peer *peer_of(const rudp_pp *s) {
  fuzz_tls_peer *peer = calloc(1, sizeof(*peer));

  FUZZ_CHECK(peer != NULL && s != NULL);
  /* rudp_pp_init derives the current keys of both directions and the next
   * receive generation from the secrets; the rest is copied.  (The
   * previous receive generation, if any, is lost: the client sends in
   * order, so it is never needed.) */
  FUZZ_CHECK(rudp_pp_init(&peer->pp, s->alg, s->tx_secret, s->rx_secret) == 0);
  peer->pp.tx_phase = s->tx_phase;
  peer->pp.tx_first_pn = s->tx_first_pn;
  peer->pp.tx_count = s->tx_count;
  peer->pp.rx_phase = s->rx_phase;
  peer->pp.rx_first_pn = s->rx_first_pn;
  peer->pp.update_acked = s->update_acked;
  peer->pp.updates = s->updates;
  return peer;
}

fuzz_tls_peer *fuzz_tls_peer_new(const rudp_conn *server) {
  return peer_of(server->pp);
}

/* ------------------------------------------------------------ flights */

typedef struct flight_dgram {
  unsigned round;
  size_t len;
  uint8_t *data;
} flight_dgram;

struct fuzz_tls_flight {
  flight_dgram *dg;
  size_t n, cap;
  /* pp: the server's protection state, without cipher contexts (only
   * the secrets and counters are read from it). */
  rudp_pp pp;
  int done;
};

static fuzz_tls_flight *flights[FUZZ_TLS_NFLIGHTS];

const fuzz_tls_flight *fuzz_tls_flight_get(unsigned key) {
  fuzz_tls_flight *fl = flights[key % FUZZ_TLS_NFLIGHTS];
  return fl && fl->done ? fl : NULL;
}

fuzz_tls_flight *fuzz_tls_flight_record(unsigned key) {
  fuzz_tls_flight **pfl = &flights[key % FUZZ_TLS_NFLIGHTS];
  if (*pfl) {
    /* An earlier recording that did not finish (an invariant failed). */
    while ((*pfl)->n > 0) {
      free((*pfl)->dg[--(*pfl)->n].data);
    }
  } else {
    *pfl = calloc(1, sizeof(**pfl));
    FUZZ_CHECK(*pfl != NULL);
  }
  return *pfl;
}

void fuzz_tls_flight_add(fuzz_tls_flight *fl, unsigned round, const uint8_t *d,
                         size_t len) {
  flight_dgram *g;
  if (fl->n == fl->cap) {
    fl->cap = fl->cap ? 2 * fl->cap : 16;
    fl->dg = realloc(fl->dg, fl->cap * sizeof(*fl->dg));
    FUZZ_CHECK(fl->dg != NULL);
  }
  g = &fl->dg[fl->n];
  g->data = malloc(len ? len : 1);
  FUZZ_CHECK(g->data != NULL);
  memcpy(g->data, d, len);
  g->len = len;
  g->round = round;
  ++fl->n;
}

void fuzz_tls_flight_done(fuzz_tls_flight *fl, const rudp_conn *server) {
  const rudp_pp *s = server->pp;
  FUZZ_CHECK(s != NULL);
  memset(&fl->pp, 0, sizeof(fl->pp));
  fl->pp.alg = s->alg;
  memcpy(fl->pp.tx_secret, s->tx_secret, RUDP_TLS_SECRETLEN);
  memcpy(fl->pp.rx_secret, s->rx_secret, RUDP_TLS_SECRETLEN);
  fl->pp.tx_phase = s->tx_phase;
  fl->pp.tx_first_pn = s->tx_first_pn;
  fl->pp.tx_count = s->tx_count;
  fl->pp.rx_phase = s->rx_phase;
  fl->pp.rx_first_pn = s->rx_first_pn;
  fl->pp.update_acked = s->update_acked;
  fl->pp.updates = s->updates;
  fl->done = 1;
}

const uint8_t *fuzz_tls_flight_datagram(const fuzz_tls_flight *fl, size_t i,
                                        unsigned *round, size_t *len) {
  if (i >= fl->n) {
    return NULL;
  }
  *round = fl->dg[i].round;
  *len = fl->dg[i].len;
  return fl->dg[i].data;
}

fuzz_tls_peer *fuzz_tls_flight_peer(const fuzz_tls_flight *fl) {
  return peer_of(&fl->pp);
}

fuzz_tls_peer *fuzz_tls_view_new(const rudp_conn *server) {
  const rudp_pp *s = server->pp;
  fuzz_tls_peer *view = calloc(1, sizeof(*view));

  FUZZ_CHECK(view != NULL && s != NULL);
  /* The client's receive side: what the server seals, at its phase. */
  FUZZ_CHECK(rudp_pp_init(&view->pp, s->alg, s->rx_secret, s->tx_secret) == 0);
  view->pp.rx_phase = s->tx_phase;
  view->pp.rx_first_pn = s->tx_first_pn;
  return view;
}

size_t fuzz_tls_unseal(fuzz_tls_peer *view, const uint8_t *d, size_t len,
                       uint8_t *out, size_t cap, size_t short_dcidlen,
                       uint64_t *largest_pn) {
  size_t off = 0;

  FUZZ_CHECK(len <= cap);
  while (off < len) {
    rudp_pkt_hd hd;
    rudp_ssize hdlen =
        rudp_pkt_decode_hd(&hd, d + off, len - off, short_dcidlen);
    uint64_t pn;
    rudp_ssize n;

    FUZZ_CHECK(hdlen > 0 && hd.pktlen <= len - off);
    pn = rudp_pkt_decode_pkt_num(*largest_pn, hd.pkt_num, hd.pkt_numlen);
    if (*largest_pn == UINT64_MAX || pn > *largest_pn) {
      *largest_pn = pn;
    }
    if (hd.type != RUDP_PKT_SHORT) {
      memcpy(out + off, d + off, hd.pktlen);
      off += hd.pktlen;
      continue;
    }
    memcpy(out + off, d + off, (size_t)hdlen);
    n = rudp_pp_open(&view->pp, out + off + hdlen, cap - off - (size_t)hdlen,
                     d + off, (size_t)hdlen, hd.pktlen, pn,
                     (hd.flags & RUDP_PKT_FLAG_KEY_PHASE) != 0);
    FUZZ_CHECK(n >= 0);
    return off + (size_t)hdlen + (size_t)n;
  }
  return len;
}

void fuzz_tls_peer_del(fuzz_tls_peer *peer) {
  if (!peer) {
    return;
  }
  rudp_pp_free(&peer->pp);
  if (peer->old_valid) {
    rudp_pp_free(&peer->old);
  }
  free(peer);
}

int fuzz_tls_peer_phase(const fuzz_tls_peer *peer) { return peer->pp.tx_phase; }

/* seal_short seals the short packet at |pkt| (|hdlen| header bytes, then
 * |payloadlen| bytes of plaintext) numbered |pn|: see fuzz_tls_seal. */
static size_t seal_short(fuzz_tls_peer *peer, uint8_t *pkt, size_t hdlen,
                         size_t payloadlen, uint64_t pn) {
  rudp_pp *use = &peer->pp;
  int phase = (pkt[0] & 0x04) != 0;
  rudp_ssize n;

  if (phase != peer->pp.tx_phase) {
    if (peer->old_valid && pn < peer->pp.tx_first_pn) {
      use = &peer->old;
    } else if (rudp_pp_can_update(&peer->pp)) {
      uint8_t secret[RUDP_TLS_SECRETLEN];
      int was = peer->pp.tx_phase;
      memcpy(secret, peer->pp.tx_secret, sizeof(secret));
      FUZZ_CHECK(rudp_pp_update(&peer->pp) == 0);
      keep_old(peer, secret, was);
    }
    /* Otherwise the current key under the other phase bit: a packet the
     * client must refuse. */
  }
  n = rudp_pp_seal(use, pkt, hdlen, payloadlen, pn);
  FUZZ_CHECK(n == (rudp_ssize)(hdlen + payloadlen + RUDP_AEAD_TAGLEN));
  return (size_t)n;
}

size_t fuzz_tls_seal(fuzz_tls_peer *peer, uint8_t *d, size_t len, size_t cap,
                     size_t short_dcidlen, uint64_t largest_pn) {
  size_t off = 0;

  while (off < len) {
    rudp_pkt_hd hd;
    rudp_ssize hdlen =
        rudp_pkt_decode_hd(&hd, d + off, len - off, short_dcidlen);
    uint64_t pn;

    if (hdlen < 0) {
      return len;
    }
    if (hd.type == RUDP_PKT_RETRY || hd.type == RUDP_PKT_VERSION_NEGOTIATION) {
      rudp_pkt_seal_crc(d + off, hd.pktlen - RUDP_PKT_CRCLEN);
      return len;
    }
    pn = rudp_pkt_decode_pkt_num(largest_pn, hd.pkt_num, hd.pkt_numlen);
    if (hd.type != RUDP_PKT_SHORT) {
      if (hd.pktlen < (size_t)hdlen + RUDP_PKT_CRCLEN) {
        return len;
      }
      rudp_pkt_seal_crc_pn(d + off, hd.pktlen - RUDP_PKT_CRCLEN, pn);
      off += hd.pktlen;
      continue;
    }
    if (cap - len < RUDP_AEAD_TAGLEN || pn > RUDP_PKT_MAX_PKT_NUM) {
      return len;
    }
    return off + seal_short(peer, d + off, (size_t)hdlen,
                            len - off - (size_t)hdlen, pn);
  }
  return len;
}

/* check_frames decodes every frame of a plaintext payload and tells the
 * peer what the client acknowledged. */
static void check_frames(fuzz_tls_peer *peer, const uint8_t *p, size_t left) {
  /* Every packet carries at least one frame. */
  FUZZ_CHECK(left > 0);
  while (left > 0) {
    rudp_frame fr;
    rudp_ssize n = rudp_frame_decode(&fr, p, left);
    FUZZ_CHECK(n > 0 && (size_t)n <= left);
    if (peer && fr.type == RUDP_FRAME_ACK) {
      rudp_pp_on_acked(&peer->pp, fr.ack.largest_ack);
    }
    p += n;
    left -= (size_t)n;
  }
}

void fuzz_tls_check_sent(fuzz_tls_peer *peer, const uint8_t *d, size_t len,
                         size_t short_dcidlen, uint64_t *largest_pn) {
  size_t off = 0;

  FUZZ_CHECK(len > 0);
  while (off < len) {
    rudp_pkt_hd hd;
    rudp_ssize hdlen =
        rudp_pkt_decode_hd(&hd, d + off, len - off, short_dcidlen);
    uint64_t pn;

    FUZZ_CHECK(hdlen > 0);
    FUZZ_CHECK(hd.type != RUDP_PKT_RETRY &&
               hd.type != RUDP_PKT_VERSION_NEGOTIATION);
    FUZZ_CHECK(hd.pktlen <= len - off);
    pn = rudp_pkt_decode_pkt_num(*largest_pn, hd.pkt_num, hd.pkt_numlen);
    if (hd.type != RUDP_PKT_SHORT) {
      FUZZ_CHECK(hd.pktlen >= (size_t)hdlen + RUDP_PKT_CRCLEN);
      FUZZ_CHECK(rudp_pkt_verify_crc_pn(d + off, hd.pktlen, pn) == 0);
      check_frames(NULL, d + off + hdlen,
                   hd.pktlen - (size_t)hdlen - RUDP_PKT_CRCLEN);
    } else {
      FUZZ_CHECK(hd.pktlen >= (size_t)hdlen + RUDP_AEAD_TAGLEN + 1);
      if (peer) {
        uint8_t secret[RUDP_TLS_SECRETLEN];
        int was = peer->pp.tx_phase;
        rudp_ssize n;
        memcpy(secret, peer->pp.tx_secret, sizeof(secret));
        n = rudp_pp_open(&peer->pp, peer->plain, sizeof(peer->plain), d + off,
                         (size_t)hdlen, hd.pktlen, pn,
                         (hd.flags & RUDP_PKT_FLAG_KEY_PHASE) != 0);
        /* The client only ever sends what its server can open. */
        FUZZ_CHECK(n > 0);
        if (peer->pp.tx_phase != was) {
          /* The client started an update and the server followed. */
          keep_old(peer, secret, was);
        }
        check_frames(peer, peer->plain, (size_t)n);
      }
    }
    if (*largest_pn == UINT64_MAX || pn > *largest_pn) {
      *largest_pn = pn;
    }
    off += hd.pktlen;
    /* A short packet fills the rest of the datagram. */
    FUZZ_CHECK(hd.type != RUDP_PKT_SHORT || off == len);
  }
}
