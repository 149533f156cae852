/*
 * Error strings, the fatal/recoverable split, and the library version.
 */
#include "rudp_macro.h"

#include <rudp/rudp.h>

const char *rudp_strerror(int error_code) {
  switch (error_code) {
  case 0:
    return "success";
  case RUDP_ERR_INVALID_ARGUMENT:
    return "invalid argument";
  case RUDP_ERR_NOBUF:
    return "buffer too small";
  case RUDP_ERR_TRUNCATED:
    return "input truncated";
  case RUDP_ERR_FRAME_ENCODING:
    return "malformed frame";
  case RUDP_ERR_BAD_PACKET:
    return "malformed packet header";
  case RUDP_ERR_VERSION:
    return "unsupported protocol version";
  case RUDP_ERR_TRANSPORT_PARAM:
    return "invalid transport parameters";
  case RUDP_ERR_INTEGRITY:
    return "packet integrity check failed";
  case RUDP_ERR_PROTO:
    return "protocol violation";
  case RUDP_ERR_FLOW_CONTROL:
    return "flow-control limit exceeded";
  case RUDP_ERR_STREAM_LIMIT:
    return "stream limit exceeded";
  case RUDP_ERR_STREAM_STATE:
    return "frame not allowed in stream state";
  case RUDP_ERR_FINAL_SIZE:
    return "stream final size violated";
  case RUDP_ERR_INVALID_STATE:
    return "operation not allowed in current state";
  case RUDP_ERR_CLOSING:
    return "connection is closing";
  case RUDP_ERR_DRAINING:
    return "connection is draining";
  case RUDP_ERR_IDLE_CLOSE:
    return "connection closed after idle timeout";
  case RUDP_ERR_CRYPTO:
    return "TLS error";
  case RUDP_ERR_HANDSHAKE_TIMEOUT:
    return "handshake timed out";
  case RUDP_ERR_CONNECTION_REFUSED:
    return "connection refused";
  case RUDP_ERR_STREAM_NOT_FOUND:
    return "no such stream";
  case RUDP_ERR_WOULDBLOCK:
    return "operation would block";
  case RUDP_ERR_DATAGRAM_TOO_LARGE:
    return "datagram too large for peer";
  case RUDP_ERR_INVALID_TOKEN:
    return "invalid token";
  case RUDP_ERR_PEER_CLOSED:
    return "connection closed by peer with error";
  case RUDP_ERR_STATELESS_RESET:
    return "connection reset by peer (stateless reset)";
  case RUDP_ERR_IO:
    return "system call failed";
  case RUDP_ERR_TLS_UNAVAILABLE:
    return "TLS not available: built without OpenSSL";
  case RUDP_ERR_TLS_CERT_UNTRUSTED:
    return "TLS: certificate not trusted (unknown CA)";
  case RUDP_ERR_TLS_NAME_MISMATCH:
    return "TLS: certificate name mismatch";
  case RUDP_ERR_TLS_CERT_EXPIRED:
    return "TLS: certificate expired or not yet valid";
  case RUDP_ERR_TLS_PIN_MISMATCH:
    return "TLS: certificate does not match the pinned SHA-256";
  case RUDP_ERR_TLS_MODE_MISMATCH:
    return "TLS mode mismatch: one side uses TLS, the other does not";
  case RUDP_ERR_TLS_CONFIG:
    return "TLS: bad configuration";
  case RUDP_ERR_NOMEM:
    return "out of memory";
  case RUDP_ERR_CALLBACK_FAILURE:
    return "application callback failed";
  case RUDP_ERR_INTERNAL:
    return "internal error";
  default:
    return "unknown error";
  }
}

int rudp_err_is_fatal(int error_code) { return error_code <= RUDP_ERR_FATAL; }

const char *rudp_version(void) { return RUDP_VERSION; }
