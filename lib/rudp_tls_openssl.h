/*
 * TLS 1.3 handshake through OpenSSL memory BIOs (docs/PROTOCOL.md 4.4, "TLS
 * mode").  Sans-I/O: the connection feeds the bytes the peer sent in
 * CRYPTO frames, in order, and sends what the session produces in its own
 * CRYPTO frames; this module never touches a socket or a clock (OpenSSL
 * reads the wall clock itself to check certificate validity).
 *
 * What travels in CRYPTO is the TLS byte stream exactly as OpenSSL's record
 * layer writes it to a memory BIO (records: ClientHello, ServerHello, the
 * encrypted handshake, later NewSessionTicket).  The transport parameters
 * travel in a custom extension, codepoint RUDP_TLS_TP_EXT (0xff52), in the
 * ClientHello and the server's EncryptedExtensions (SSL_CTX_add_custom_ext),
 * so the handshake authenticates them; a peer without it fails the
 * handshake with alert missing_extension (109).
 *
 * Packet-protection secrets: once the session can export (the client when
 * its handshake completes; the server once its Finished is written), each
 * direction's 32-byte secret is SSL_export_keying_material with the label
 * "EXPORTER-rudp client 1rtt" (client to server) or "EXPORTER-rudp server
 * 1rtt" (server to client) and no context.  Key updates derive from these
 * with librudp's own HKDF (rudp_tls.h), so the SSL is not needed after the
 * handshake: rudp_tls_session_release frees it once the connection is
 * confirmed (an idle connection then holds no OpenSSL state but its packet
 * protection's cipher contexts).
 *
 * This file also implements the public rudp_tls_ctx (rudp/rudp_tls.h):
 * certificates, verification (CA file/dir or the system store, host name
 * or IP address, SHA-256 pin, insecure), the ephemeral self-signed
 * certificate, ALPN, cipher suites and the client session cache.
 *
 * Without OpenSSL, lib/rudp_tls_none.c provides the same functions:
 * constructors fail with RUDP_ERR_TLS_UNAVAILABLE.
 */
#ifndef RUDP_TLS_OPENSSL_H
#define RUDP_TLS_OPENSSL_H

#include <stddef.h>
#include <stdint.h>

#include <rudp/rudp.h>
#include <rudp/rudp_tls.h>

#include "rudp_tls.h"

/* RUDP_TLS_TP_EXT is the TLS extension carrying transport parameters. */
#define RUDP_TLS_TP_EXT 0xff52

/* rudp_tls_session is one connection's TLS state (opaque). */
typedef struct rudp_tls_session rudp_tls_session;

/*
 * rudp_tls_session_new creates a session on |ctx| (taking a reference to
 * it) for a client (|server| 0) or server.  |server_name| (client; may be
 * NULL) is checked against the certificate (a DNS name, or an IPv4/IPv6
 * literal checked as an IP address) unless the context pins or is
 * insecure, sent as SNI when it is a DNS name, and keys the session cache
 * (a cached session for it is offered for resumption).  |local_tp|
 * (|local_tplen| bytes, at most RUDP_TP_MAXLEN) is this side's encoded
 * transport parameters, copied, sent in the extension.
 *
 * The session's own memory comes from |mem| (NULL: the default), OpenSSL's
 * from OpenSSL's allocator.
 *
 * A client session produces its ClientHello at once (read it with
 * rudp_tls_session_read_output).  Returns 0, RUDP_ERR_INVALID_ARGUMENT
 * (|ctx| NULL, or a server context used for a client or the reverse, or a
 * client without |server_name| on a context that checks names: neither
 * pinned nor insecure), RUDP_ERR_TLS_UNAVAILABLE or RUDP_ERR_NOMEM.
 */
int rudp_tls_session_new(rudp_tls_session **psess, rudp_tls_ctx *ctx,
                         int server, const char *server_name,
                         const uint8_t *local_tp, size_t local_tplen,
                         const rudp_mem *mem);

/* rudp_tls_session_del frees |sess| (NULL ignored) and drops its context
 * reference. */
void rudp_tls_session_del(rudp_tls_session *sess);

/*
 * rudp_tls_session_set_local_tp replaces the transport parameters to send
 * (a server after a RETRY changes them); only before they were sent.
 * Returns 0, RUDP_ERR_INVALID_STATE or RUDP_ERR_INVALID_ARGUMENT.
 */
int rudp_tls_session_set_local_tp(rudp_tls_session *sess,
                                  const uint8_t *local_tp, size_t local_tplen);

/*
 * rudp_tls_session_feed gives the session the next |len| bytes of the
 * peer's CRYPTO stream (in order, no gaps) and runs the handshake (or,
 * after it, processes post-handshake messages such as NewSessionTicket).
 * Output it produces is read with rudp_tls_session_read_output.
 *
 * Returns 0, or on a handshake failure a RUDP_ERR_* code naming the cause:
 * RUDP_ERR_TLS_CERT_UNTRUSTED, RUDP_ERR_TLS_NAME_MISMATCH,
 * RUDP_ERR_TLS_CERT_EXPIRED, RUDP_ERR_TLS_PIN_MISMATCH,
 * RUDP_ERR_TLS_MODE_MISMATCH (the first bytes are not a TLS handshake
 * record: the peer runs plain mode), RUDP_ERR_TRANSPORT_PARAM (the peer
 * sent no transport-parameter extension, or one longer than
 * RUDP_TP_MAXLEN), or RUDP_ERR_CRYPTO (any other
 * failure, e.g. no common cipher suite or ALPN, a peer's alert, malformed
 * data); then rudp_tls_session_alert gives the TLS alert to report in
 * CRYPTO_ERROR and rudp_tls_session_reason a one-line reason.  After a
 * failure the session is unusable.  RUDP_ERR_NOMEM is possible too.
 */
int rudp_tls_session_feed(rudp_tls_session *sess, const uint8_t *data,
                          size_t len);

/*
 * rudp_tls_session_read_output copies up to |len| bytes of pending output
 * (TLS records for the peer's CRYPTO stream) into |buf| and consumes them.
 * Returns the bytes copied (0: nothing pending).
 */
size_t rudp_tls_session_read_output(rudp_tls_session *sess, uint8_t *buf,
                                    size_t len);

/* rudp_tls_session_is_complete returns nonzero once the handshake
 * completed (the peer's Finished verified), released or not. */
int rudp_tls_session_is_complete(const rudp_tls_session *sess);

/*
 * rudp_tls_session_release frees the OpenSSL session and everything only
 * the handshake needed (the SSL, its buffers and keys, the peer's
 * certificate, the transport parameters: about 50 KB), keeping what
 * rudp_tls_session_get_info reports.  The caller calls it once the
 * connection's handshake is confirmed, with |crypto_buffered| nonzero
 * while it holds peer CRYPTO bytes received out of order.  It releases
 * when the session is done: complete without failure, its output all read,
 * and, for a client that keeps tickets (a session cache and a server
 * name), a ticket received or none partly received (the server sends its
 * tickets before HANDSHAKE_DONE; docs/PROTOCOL.md 4.4).
 *
 * Returns 1 if the session is released (now or earlier), else 0 (call
 * again when more CRYPTO data arrived).  Once released, feed ignores what
 * it is given and returns 0, read_output has nothing, peer_tp returns
 * NULL, get_secrets returns RUDP_ERR_INVALID_STATE; is_complete and
 * get_info report the handshake as before.
 */
int rudp_tls_session_release(rudp_tls_session *sess, int crypto_buffered);

/* rudp_tls_session_is_released returns nonzero once |sess| is released. */
int rudp_tls_session_is_released(const rudp_tls_session *sess);

/*
 * rudp_tls_session_peer_tp returns the peer's transport parameters from
 * its extension (*plen bytes, owned by the session), or NULL if they have
 * not arrived or the session is released.
 */
const uint8_t *rudp_tls_session_peer_tp(const rudp_tls_session *sess,
                                        size_t *plen);

/*
 * rudp_tls_session_get_secrets exports the packet-protection secrets:
 * |tx| protects what this side sends, |rx| what it receives, and *palg is
 * the AEAD of the negotiated suite.  Returns 0, or RUDP_ERR_INVALID_STATE
 * if the session cannot export yet.
 */
int rudp_tls_session_get_secrets(rudp_tls_session *sess,
                                 uint8_t tx[RUDP_TLS_SECRETLEN],
                                 uint8_t rx[RUDP_TLS_SECRETLEN],
                                 rudp_aead_alg *palg);

/* rudp_tls_session_alert returns the TLS alert of the failure (e.g. 48
 * unknown_ca, 42 bad_certificate, 45 certificate_expired, 109
 * missing_extension, 120 no_application_protocol; 80 internal_error when
 * none applies). */
uint8_t rudp_tls_session_alert(const rudp_tls_session *sess);

/* rudp_tls_session_reason returns a one-line reason of the failure
 * ("certificate verify failed: unable to get local issuer certificate"),
 * or "". */
const char *rudp_tls_session_reason(const rudp_tls_session *sess);

/*
 * rudp_tls_session_get_info fills the TLS fields of |info| (handshake_done,
 * resumed, cipher, alpn, peer_fingerprint); the caller fills enabled and
 * the key-update fields.
 */
void rudp_tls_session_get_info(const rudp_tls_session *sess,
                               rudp_tls_info *info);

#endif /* RUDP_TLS_OPENSSL_H */
