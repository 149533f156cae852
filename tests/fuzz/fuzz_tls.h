/*
 * TLS mode for the fuzz harnesses (docs/TESTING.md): what the TLS targets
 * (fuzz_tls_endpoint.c, fuzz_tls_conn.c) and the corpus generator need on
 * top of fuzz_harness.h.  Built only with OpenSSL.
 *
 * Determinism.  A TLS handshake draws randomness (ClientHello and
 * ServerHello randoms, key shares, the ECDSA nonce) and a server's
 * certificate normally carries its creation time, so two runs of the same
 * input would take different paths and a recorded session could never
 * replay: the client's Finished covers the whole transcript.  Here
 * OpenSSL's random source is replaced by the harness's splitmix64
 * (RAND_set_rand_method), reset at the start of every input, and the
 * server certificate is a fixed one (below, in fuzz_tls.c), so an input
 * always produces the same handshake bytes and the same keys: a seed
 * recorded from a real session replays through the whole handshake, into
 * the packets protected with the keys it produced.
 *
 * The generator's own peers (client connections talking to the fuzzed
 * endpoint, the server talking to the fuzzed client) draw from a second
 * stream (fuzz_tls_rand_peer), so that what the harness draws is the same
 * whether or not a peer runs in the same process.
 */
#ifndef FUZZ_TLS_H
#define FUZZ_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>
#include <rudp/rudp_tls.h>

/* TLS setup byte of both TLS targets (the second input byte). */
/* Bits 0-1: the cipher suites both sides offer: OpenSSL's default list,
 * or only AES-128-GCM, ChaCha20-Poly1305 or AES-256-GCM. */
#define FUZZ_TLS_SUITE_MASK 0x03u
/* ALPN: the server requires "rudp-fuzz" or "rudp-other"; the client
 * offers "rudp-fuzz". */
#define FUZZ_TLS_ALPN 0x04u
/* fuzz_tls_conn: the client starts a key update every 8 packets. */
#define FUZZ_TLS_CLIENT_KEYUPDATE 0x08u
/* fuzz_tls_conn: the server does (before the harness takes over: during
 * the handshake, and in the generator's sessions). */
#define FUZZ_TLS_SERVER_KEYUPDATE 0x10u
/* The number of context variants: suites and ALPN. */
#define FUZZ_TLS_NVARIANTS 8

/* FUZZ_TLS_KEYUPDATE_INTERVAL is the key update interval of the bits. */
#define FUZZ_TLS_KEYUPDATE_INTERVAL 8

/*
 * fuzz_tls_init makes, once per process, OpenSSL's random source the
 * harness's and the server and client contexts of every variant (the
 * client pins the fixed certificate; it keeps no session cache, so that
 * no input depends on the tickets of another).  Aborts if it cannot.
 */
void fuzz_tls_init(void);

/* fuzz_tls_server_ctx and fuzz_tls_client_ctx return the contexts of
 * |variant| (the low 3 bits of a TLS setup byte); fuzz_tls_init first. */
rudp_tls_ctx *fuzz_tls_server_ctx(unsigned variant);
rudp_tls_ctx *fuzz_tls_client_ctx(unsigned variant);

/* fuzz_tls_rand_reset restarts both random streams from their seeds and
 * selects the harness's: at the start of every input. */
void fuzz_tls_rand_reset(void);

/* fuzz_tls_rand_peer selects the peer's stream (|on| nonzero) or the
 * harness's, and returns which was selected before. */
int fuzz_tls_rand_peer(int on);

/*
 * fuzz_tls_check_info checks what |conn| (established, its contexts of
 * TLS setup |tls_setup|) reports about its TLS session: the handshake is
 * done, with a cipher suite of the variant's list and, with ALPN, a
 * protocol of the server's list that the client offered (none without;
 * our client offers rudp-fuzz, a fuzzed ClientHello anything).
 */
void fuzz_tls_check_info(const rudp_conn *conn, uint8_t tls_setup);

/*
 * fuzz_tls_peer is what the fuzzed client's server would hold after the
 * handshake: its packet protection, cloned from the real server
 * connection (which the conn target then deletes).  The harness seals
 * the packets it feeds with it and opens the client's with it, so it
 * moves through key updates as a server would.
 */
typedef struct fuzz_tls_peer fuzz_tls_peer;

/* fuzz_tls_peer_new clones the protection state of |server| (a TLS
 * connection with its keys installed).  Aborts on failure. */
fuzz_tls_peer *fuzz_tls_peer_new(const rudp_conn *server);

/* fuzz_tls_peer_del frees |peer| (NULL ignored). */
void fuzz_tls_peer_del(fuzz_tls_peer *peer);

/* fuzz_tls_peer_phase returns the key phase the peer sends with. */
int fuzz_tls_peer_phase(const fuzz_tls_peer *peer);

/*
 * fuzz_tls_seal protects, in place, the datagram at |d| (|len| bytes, in
 * a buffer of |cap|), as the peer would have sent it: each long-header
 * packet gets its CRC (as fuzz_reseal), and a short-header packet (the
 * rest of the datagram: header, then plaintext payload) is sealed, its
 * AEAD tag appended.  Packet numbers are expanded against |largest_pn|
 * (the client's largest received).  The key phase bit of a short header
 * picks the key as a server's would: its current key; at the other phase,
 * the previous generation for a packet numbered before the current one's
 * first (delayed across an update), else a key update, started only when
 * RFC 9001 6.1 allows it (the client acknowledged a packet of the current
 * generation and answered the previous update); a phase it may not move
 * to yet is sealed with the current key, and the client must refuse the
 * packet.  Returns the new length (|len| if nothing was sealed).
 */
size_t fuzz_tls_seal(fuzz_tls_peer *peer, uint8_t *d, size_t len, size_t cap,
                     size_t short_dcidlen, uint64_t largest_pn);

/*
 * fuzz_tls_check_sent is fuzz_check_sent for a TLS connection: long-header
 * packets carry a CRC; short ones must authenticate with |peer|'s keys
 * (the packet-protection state moves on as the server's would, key
 * updates included, and learns which packets the client acknowledged)
 * and their plaintext must decode into frames.  |peer| NULL (during the
 * handshake, before the keys exist): short packets are only decoded.
 */
void fuzz_tls_check_sent(fuzz_tls_peer *peer, const uint8_t *d, size_t len,
                         size_t short_dcidlen, uint64_t *largest_pn);

/*
 * The server's half of a handshake, kept per process: the datagrams the
 * server sent in each round of fuzz_conn_init and its packet protection
 * at the end.  The handshake is deterministic, so after the first real
 * one with a given configuration (|key|: the setup bits that change what
 * the client sends, and the TLS setup byte), the conn target replays the
 * server's datagrams to a fresh client instead of running the server
 * again: the client still does its whole half (ClientHello, key
 * exchange, the certificate pin and signature, Finished) and ends up in
 * the same state, at about half the cost.
 */
typedef struct fuzz_tls_flight fuzz_tls_flight;

/* FUZZ_TLS_NFLIGHTS bounds |key|. */
#define FUZZ_TLS_NFLIGHTS 512

/* fuzz_tls_flight_get returns the flight recorded for |key|, or NULL. */
const fuzz_tls_flight *fuzz_tls_flight_get(unsigned key);

/* fuzz_tls_flight_record starts recording the flight of |key| (replacing
 * none: only when fuzz_tls_flight_get returned NULL). */
fuzz_tls_flight *fuzz_tls_flight_record(unsigned key);

/* fuzz_tls_flight_add records a datagram the server sent in |round|. */
void fuzz_tls_flight_add(fuzz_tls_flight *fl, unsigned round, const uint8_t *d,
                         size_t len);

/* fuzz_tls_flight_done ends the recording with the protection state of
 * |server| (which must have its keys). */
void fuzz_tls_flight_done(fuzz_tls_flight *fl, const rudp_conn *server);

/* fuzz_tls_flight_datagram returns the |i|-th datagram (its round and
 * length in *|round| and *|len|), or NULL past the last. */
const uint8_t *fuzz_tls_flight_datagram(const fuzz_tls_flight *fl, size_t i,
                                        unsigned *round, size_t *len);

/* fuzz_tls_flight_peer is fuzz_tls_peer_new of the recorded server. */
fuzz_tls_peer *fuzz_tls_flight_peer(const fuzz_tls_flight *fl);

/*
 * For the corpus generator, which records what a real server sends as
 * RESEAL records (header and plaintext, sealed again on replay):
 * fuzz_tls_view_new clones the receive side of the client, i.e. the keys
 * of what |server| sends; fuzz_tls_unseal copies the datagram |d| (|len|
 * bytes) to |out| (|cap| bytes) with its short packet opened (header and
 * plaintext, no tag), numbers expanded against *|largest_pn| (updated).
 * Returns the length written; aborts if the packet does not open.
 * Delete the view with fuzz_tls_peer_del.
 */
fuzz_tls_peer *fuzz_tls_view_new(const rudp_conn *server);
size_t fuzz_tls_unseal(fuzz_tls_peer *view, const uint8_t *d, size_t len,
                       uint8_t *out, size_t cap, size_t short_dcidlen,
                       uint64_t *largest_pn);

#endif /* FUZZ_TLS_H */
