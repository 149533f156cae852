/*
 * librudp: optional TLS 1.3 (OpenSSL 3).
 *
 * A `rudp_tls_ctx` holds what many connections share: the server's
 * certificate and key, or the client's trust anchors (CA file or directory,
 * the system store by default, or a pinned certificate), ALPN, cipher
 * suites and the client's session cache for resumption.  A connection uses
 * TLS when its `rudp_settings.tls` points at a context; the handshake runs
 * inside the connection's handshake packets (CRYPTO frames), the transport
 * parameters travel in a TLS extension, and every short-header packet is
 * protected with AEAD keys exported from the TLS session (docs/PROTOCOL.md,
 * "TLS mode"; docs/SECURITY.md says what each mode protects).
 *
 * Without OpenSSL (configure --without-openssl) every constructor here
 * fails with :macro:`RUDP_ERR_TLS_UNAVAILABLE`; `rudp_tls_available`
 * returns 0.
 *
 * Threads: a context may be shared by connections in several threads once
 * it is built (its session cache has a lock); build and free it from one.
 *
 * Memory: contexts and each connection's TLS session are allocated with
 * the C library and OpenSSL's allocator (CRYPTO_set_mem_functions), not
 * through the connection's `rudp_mem`; the packet-protection state and
 * the decryption buffer of an established connection go through
 * `rudp_mem` as usual.
 */
#ifndef RUDP_TLS_H
#define RUDP_TLS_H

#include <rudp/rudp.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * `rudp_tls_ctx` is a TLS configuration shared by connections (opaque,
 * reference-counted: each connection using it holds a reference, so the
 * application may free its own reference while connections still run).
 */
typedef struct rudp_tls_ctx rudp_tls_ctx;

/**
 * `rudp_tls_config` describes a context.  Strings are copied or loaded by
 * `rudp_tls_ctx_new`; they need not outlive the call.
 */
typedef struct rudp_tls_config {
  /** server is nonzero for a server (listening) context. */
  int server;
  /** cert_file and key_file (server): a PEM certificate chain (leaf
   *  first) and its PEM private key.  Both NULL: an ephemeral self-signed
   *  ECDSA P-256 certificate is made, valid for a day, naming
   *  |ephemeral_names|; `rudp_tls_ctx_get_fingerprint` gives its SHA-256
   *  for clients to pin. */
  const char *cert_file;
  const char *key_file;
  /** ephemeral_names (server, ephemeral certificate only): comma-separated
   *  DNS names and IP addresses put in the certificate's subjectAltName
   *  (NULL: "localhost,127.0.0.1,::1"). */
  const char *ephemeral_names;
  /** ca_file, ca_dir (client): PEM CA bundle and/or hashed CA directory
   *  to verify the server against.  Both NULL: the system's default
   *  store. */
  const char *ca_file;
  const char *ca_dir;
  /** pin_sha256 (client): the SHA-256 of the server's leaf certificate
   *  (DER), 64 hex digits, optionally separated by colons.  When set, the
   *  certificate is accepted if and only if it has this fingerprint: CA,
   *  name and validity checks are replaced by the pin (this is how a
   *  client trusts a server's ephemeral certificate). */
  const char *pin_sha256;
  /** insecure (client): nonzero accepts any certificate.  Testing only:
   *  it gives encryption without authentication. */
  int insecure;
  /** alpn: comma-separated application protocols in preference order
   *  (e.g. "rudp-perf,rudp-file"), or NULL for none.  A server with a list
   *  refuses clients offering none of its protocols
   *  (no_application_protocol); a client with a list requires the server to
   *  pick one of them if it picks any. */
  const char *alpn;
  /** ciphersuites: an OpenSSL TLS 1.3 cipher-suite list
   *  ("TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"), or NULL for
   *  OpenSSL's default.  The negotiated suite picks the packet-protection
   *  AEAD: AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305. */
  const char *ciphersuites;
  /** session_cache (client): nonzero keeps the session tickets servers
   *  send, one per server name (at most 64 names, oldest evicted), so the
   *  next connection to that name resumes without a certificate exchange
   *  (default 1). */
  int session_cache;
  /** tickets (server): how many session tickets to send after each full
   *  handshake (default 1; 0 disables resumption). */
  unsigned tickets;
} rudp_tls_config;

/** `rudp_tls_config_default` fills |cfg| with the defaults above (a client
 *  configuration using the system store). */
RUDP_EXTERN void rudp_tls_config_default(rudp_tls_config *cfg);

/**
 * `rudp_tls_ctx_new` builds a context from |cfg| and stores it in |*pctx|
 * (reference count 1).  On failure |errbuf| (if not NULL, |errlen| bytes)
 * receives a one-line reason naming the file or setting at fault.
 *
 * Returns 0, :macro:`RUDP_ERR_INVALID_ARGUMENT`,
 * :macro:`RUDP_ERR_TLS_CONFIG`, :macro:`RUDP_ERR_TLS_UNAVAILABLE` or
 * :macro:`RUDP_ERR_NOMEM`.
 */
RUDP_EXTERN int rudp_tls_ctx_new(rudp_tls_ctx **pctx,
                                 const rudp_tls_config *cfg, char *errbuf,
                                 size_t errlen);

/** `rudp_tls_ctx_ref` takes another reference to |ctx| (NULL ignored)
 *  and returns |ctx|; drop it with `rudp_tls_ctx_free`.  Endpoints take
 *  one for the context in their settings, connections one each. */
RUDP_EXTERN rudp_tls_ctx *rudp_tls_ctx_ref(rudp_tls_ctx *ctx);

/** `rudp_tls_ctx_free` drops the caller's reference; the context is freed
 *  when the last connection or endpoint using it is deleted.  NULL is
 *  ignored. */
RUDP_EXTERN void rudp_tls_ctx_free(rudp_tls_ctx *ctx);

/**
 * `rudp_tls_ctx_get_fingerprint` writes the SHA-256 of a server context's
 * leaf certificate as 32 colon-separated hex pairs ("AB:01:...", 96 bytes
 * with the NUL) into |out|.  Returns 0, :macro:`RUDP_ERR_NOBUF` (|outlen| <
 * 96) or :macro:`RUDP_ERR_INVALID_ARGUMENT` (a client context).
 */
RUDP_EXTERN int rudp_tls_ctx_get_fingerprint(const rudp_tls_ctx *ctx, char *out,
                                             size_t outlen);

/** `rudp_tls_available` returns nonzero if librudp was built with TLS. */
RUDP_EXTERN int rudp_tls_available(void);

/**
 * `rudp_tls_info` describes a connection's TLS session.
 */
typedef struct rudp_tls_info {
  /** enabled is nonzero if the connection uses TLS. */
  int enabled;
  /** handshake_done is nonzero once the TLS handshake completed. */
  int handshake_done;
  /** resumed is nonzero if the session was resumed from a ticket (no
   *  certificate exchange). */
  int resumed;
  /** cipher is the TLS 1.3 cipher suite ("TLS_AES_128_GCM_SHA256"), or
   *  "" before the handshake. */
  char cipher[48];
  /** alpn is the negotiated application protocol, or "". */
  char alpn[64];
  /** peer_fingerprint is the SHA-256 of the peer's leaf certificate as in
   *  `rudp_tls_ctx_get_fingerprint`, or "" (no certificate, or resumed). */
  char peer_fingerprint[96];
  /** key_phase is the current send key phase bit; key_updates counts the
   *  key updates this connection went through (either side's). */
  int key_phase;
  uint64_t key_updates;
} rudp_tls_info;

/**
 * `rudp_conn_get_tls_info` fills |info| for |conn| (enabled 0 in plain
 * mode).
 */
RUDP_EXTERN void rudp_conn_get_tls_info(const rudp_conn *conn,
                                        rudp_tls_info *info);

/**
 * `rudp_conn_update_key` starts a key update now (docs/PROTOCOL.md, key
 * update): new packet-protection keys in both directions, the key phase
 * bit flips.  Returns 0, :macro:`RUDP_ERR_INVALID_STATE` (not TLS, the
 * handshake is not confirmed, or the previous update is not yet
 * acknowledged: try again later).
 */
RUDP_EXTERN int rudp_conn_update_key(rudp_conn *conn);

#ifdef __cplusplus
}
#endif

#endif /* RUDP_TLS_H */
