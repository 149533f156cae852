/*
 * rudp-pktdump: decode librudp packets and print every header field, frame
 * and transport parameter.  A debugging aid (feed it UDP payloads from a
 * capture as hex) and, with --demo, a tour of the wire codecs: it builds a
 * handshake and data packets with the library's encoders and decodes them.
 */
#include "rudp_macro.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rudp/rudp.h>

#include "rudp_conv.h"
#include "rudp_crc32c.h"
#include "rudp_frame.h"
#include "rudp_pkt.h"
#include "rudp_tp.h"

static const char *progname = "rudp-pktdump";

static void usage(FILE *out) {
  fprintf(out,
          "Usage: %s [--dcid-len N] [--tls] [HEX ...]\n"
          "       %s --demo\n"
          "Decode librudp packets (UDP payloads, as hex; one per argument,\n"
          "or one per line on standard input) and print their headers,\n"
          "frames and transport parameters.\n"
          "\n"
          "  --demo        build a sample handshake and data packets with the\n"
          "                library's encoders, then decode and print them\n"
          "  --dcid-len N  DCID length of short-header packets (default %d)\n"
          "  --tls         short-header packets are AEAD-protected: do not\n"
          "                check a CRC or decode their frames\n"
          "  -h, --help    show this help\n"
          "  --version     show the version\n"
          "\n"
          "Exit status: 0 if every packet decoded, 1 if one did not,\n"
          "2 on a usage error.\n",
          progname, progname, RUDP_DEFAULT_CIDLEN);
}

static void print_hex(const char *label, const uint8_t *p, size_t n,
                      size_t max) {
  size_t i;
  printf("%s", label);
  for (i = 0; i < n && i < max; ++i) {
    printf("%02x", p[i]);
  }
  if (n > max) {
    printf("... (%zu bytes)", n);
  }
  printf("\n");
}

static void print_cid(const char *label, const rudp_cid *cid) {
  size_t i;
  printf("    %s: ", label);
  if (cid->datalen == 0) {
    printf("(empty)");
  }
  for (i = 0; i < cid->datalen; ++i) {
    printf("%02x", cid->data[i]);
  }
  printf("\n");
}

static void print_text(const uint8_t *p, size_t n) {
  size_t i;
  putchar('"');
  for (i = 0; i < n; ++i) {
    putchar(isprint(p[i]) ? p[i] : '.');
  }
  putchar('"');
}

static void print_tp(const uint8_t *p, size_t n, int from_server) {
  rudp_transport_params tp;
  int rv = rudp_tp_decode(&tp, p, n, from_server);
  if (rv != 0) {
    printf("        (not transport parameters: %s)\n", rudp_strerror(rv));
    return;
  }
  printf("        transport parameters (%s):\n",
         from_server ? "server" : "client");
  printf("          max_idle_timeout=%" PRIu64 "ms max_udp_payload_size=%" PRIu64
         "\n",
         tp.max_idle_timeout / RUDP_MILLISECONDS, tp.max_udp_payload_size);
  printf("          initial_max_data=%" PRIu64
         " stream_data bidi_local=%" PRIu64 " bidi_remote=%" PRIu64
         " uni=%" PRIu64 "\n",
         tp.initial_max_data, tp.initial_max_stream_data_bidi_local,
         tp.initial_max_stream_data_bidi_remote,
         tp.initial_max_stream_data_uni);
  printf("          max_streams bidi=%" PRIu64 " uni=%" PRIu64
         " ack_delay_exponent=%" PRIu64 " max_ack_delay=%" PRIu64
         "ms max_datagram_frame_size=%" PRIu64 "\n",
         tp.initial_max_streams_bidi, tp.initial_max_streams_uni,
         tp.ack_delay_exponent, tp.max_ack_delay / RUDP_MILLISECONDS,
         tp.max_datagram_frame_size);
  if (tp.original_dcid_present) {
    printf("          original_dcid=");
    print_hex("", tp.original_dcid, tp.original_dcidlen, 20);
  }
  if (tp.initial_scid_present) {
    printf("          initial_scid=");
    print_hex("", tp.initial_scid, tp.initial_scidlen, 20);
  }
  if (tp.retry_scid_present) {
    printf("          retry_scid=");
    print_hex("", tp.retry_scid, tp.retry_scidlen, 20);
  }
}

static void print_frame(const rudp_frame *fr, int from_server) {
  rudp_frame_ack_iter it;
  rudp_range r;
  int first = 1;

  printf("      %s", rudp_frame_type_name(fr->type));
  switch (fr->type) {
  case RUDP_FRAME_PADDING:
    printf(" len=%zu", fr->padding.len);
    break;
  case RUDP_FRAME_ACK:
    printf(" largest=%" PRIu64 " delay=%" PRIu64 " ranges=[",
           fr->ack.largest_ack, fr->ack.ack_delay);
    rudp_frame_ack_iter_init(&it, &fr->ack);
    while (rudp_frame_ack_iter_next(&it, &r)) {
      printf("%s%" PRIu64 "-%" PRIu64, first ? "" : " ", r.lo, r.hi);
      first = 0;
    }
    printf("]");
    break;
  case RUDP_FRAME_RESET_STREAM:
    printf(" stream=%" PRIu64 " error=%" PRIu64 " final_size=%" PRIu64,
           fr->reset_stream.stream_id, fr->reset_stream.app_error_code,
           fr->reset_stream.final_size);
    break;
  case RUDP_FRAME_STOP_SENDING:
    printf(" stream=%" PRIu64 " error=%" PRIu64, fr->stop_sending.stream_id,
           fr->stop_sending.app_error_code);
    break;
  case RUDP_FRAME_CRYPTO:
    printf(" offset=%" PRIu64 " len=%zu\n", fr->crypto.offset,
           fr->crypto.datalen);
    if (fr->crypto.offset == 0) {
      print_tp(fr->crypto.data, fr->crypto.datalen, from_server);
    }
    return;
  case RUDP_FRAME_NEW_TOKEN:
    printf(" len=%zu", fr->new_token.tokenlen);
    break;
  case RUDP_FRAME_MAX_DATA:
  case RUDP_FRAME_MAX_STREAMS_BIDI:
  case RUDP_FRAME_MAX_STREAMS_UNI:
  case RUDP_FRAME_DATA_BLOCKED:
  case RUDP_FRAME_STREAMS_BLOCKED_BIDI:
  case RUDP_FRAME_STREAMS_BLOCKED_UNI:
    printf(" value=%" PRIu64, fr->value.value);
    break;
  case RUDP_FRAME_MAX_STREAM_DATA:
  case RUDP_FRAME_STREAM_DATA_BLOCKED:
    printf(" stream=%" PRIu64 " value=%" PRIu64, fr->stream_value.stream_id,
           fr->stream_value.value);
    break;
  case RUDP_FRAME_CONNECTION_CLOSE:
  case RUDP_FRAME_CONNECTION_CLOSE_APP:
    printf(" error=0x%" PRIx64 " frame_type=0x%" PRIx64 " reason=",
           fr->connection_close.error_code, fr->connection_close.frame_type);
    print_text(fr->connection_close.reason, fr->connection_close.reasonlen);
    break;
  case RUDP_FRAME_DATAGRAM:
  case RUDP_FRAME_DATAGRAM_LEN:
    printf(" len=%zu data=", fr->datagram.datalen);
    print_text(fr->datagram.data, rudp_min(fr->datagram.datalen, 40));
    break;
  default:
    if ((fr->type & ~0x07u) == RUDP_FRAME_STREAM) {
      printf(" id=%" PRIu64 " offset=%" PRIu64 " len=%zu%s data=",
             fr->stream.stream_id, fr->stream.offset, fr->stream.datalen,
             fr->stream.fin ? " fin" : "");
      print_text(fr->stream.data, rudp_min(fr->stream.datalen, 40));
    }
    break;
  }
  printf("\n");
}

static const char *type_name(rudp_pkt_type t) {
  switch (t) {
  case RUDP_PKT_CONNECT:
    return "CONNECT";
  case RUDP_PKT_ACCEPT:
    return "ACCEPT";
  case RUDP_PKT_HANDSHAKE:
    return "HANDSHAKE";
  case RUDP_PKT_RETRY:
    return "RETRY";
  case RUDP_PKT_VERSION_NEGOTIATION:
    return "VERSION_NEGOTIATION";
  default:
    return "SHORT";
  }
}

/*
 * dump_datagram decodes every packet in the datagram and prints it.
 * Returns 0 if all decoded, -1 otherwise.
 */
static int dump_datagram(const uint8_t *dgram, size_t len, size_t dcidlen,
                         int tls) {
  size_t off = 0;
  while (off < len) {
    rudp_pkt_hd hd;
    const uint8_t *pkt = dgram + off;
    size_t pktlen, payload_end, i;
    int from_server;
    rudp_ssize hdlen = rudp_pkt_decode_hd(&hd, pkt, len - off, dcidlen);
    if (hdlen < 0) {
      printf("  packet at offset %zu: cannot decode header: %s\n", off,
             rudp_strerror((int)hdlen));
      return -1;
    }
    pktlen = hd.pktlen;
    printf("  %s packet, %zu bytes\n", type_name(hd.type), pktlen);
    if (hd.flags & RUDP_PKT_FLAG_LONG_FORM) {
      printf("    version: 0x%08" PRIx32 "\n", hd.version);
    }
    print_cid("dcid", &hd.dcid);
    if (hd.flags & RUDP_PKT_FLAG_LONG_FORM) {
      print_cid("scid", &hd.scid);
    }
    if (hd.type == RUDP_PKT_VERSION_NEGOTIATION) {
      for (i = 0; i < hd.nversions; ++i) {
        printf("    supported version: 0x%08" PRIx32 "\n",
               rudp_pkt_get_version(&hd, i));
      }
    } else if (hd.type == RUDP_PKT_RETRY) {
      print_cid("odcid", &hd.odcid);
      print_hex("    token: ", hd.token, hd.tokenlen, 32);
    } else {
      if (hd.type == RUDP_PKT_CONNECT) {
        printf("    token: %zu bytes\n", hd.tokenlen);
      }
      printf("    packet number: %" PRIu64 " truncated (%zu bytes on the wire)\n",
             hd.pkt_num, hd.pkt_numlen);
      if (hd.type == RUDP_PKT_SHORT) {
        printf("    flags:%s%s%s\n",
               (hd.flags & RUDP_PKT_FLAG_KEY_PHASE) ? " key-phase" : "",
               (hd.flags & RUDP_PKT_FLAG_SPIN) ? " spin" : "",
               (hd.flags & (RUDP_PKT_FLAG_KEY_PHASE | RUDP_PKT_FLAG_SPIN))
                   ? ""
                   : " (none)");
      }
    }
    if (tls && hd.type == RUDP_PKT_SHORT) {
      printf("    payload: %zu bytes, AEAD-protected\n",
             pktlen - (size_t)hdlen);
      return 0;
    }
    if (hd.type == RUDP_PKT_RETRY ||
        hd.type == RUDP_PKT_VERSION_NEGOTIATION) {
      if (rudp_pkt_verify_crc(pkt, pktlen) != 0) {
        printf("    crc32c: MISMATCH (packet would be dropped)\n");
        return -1;
      }
      printf("    crc32c: ok\n");
    } else {
      /* The CRC covers the full packet number, which a lone packet does
       * not tell: try the expansions of the truncated one, lowest first. */
      uint64_t step = (uint64_t)1 << (8 * hd.pkt_numlen), k, full = 0;
      int found = 0;
      for (k = 0; k < 65536 && !found; ++k) {
        full = hd.pkt_num + k * step;
        found = rudp_pkt_verify_crc_pn(pkt, pktlen, full) == 0;
      }
      if (!found) {
        printf("    crc32c: MISMATCH for every packet number up to 2^%zu "
               "(packet would be dropped)\n",
               8 * hd.pkt_numlen + 16);
        return -1;
      }
      printf("    crc32c: ok, full packet number %" PRIu64 "\n", full);
    }
    if (hd.type == RUDP_PKT_RETRY ||
        hd.type == RUDP_PKT_VERSION_NEGOTIATION) {
      off += pktlen;
      continue;
    }
    from_server = hd.type == RUDP_PKT_ACCEPT;
    payload_end = pktlen - RUDP_PKT_CRCLEN;
    printf("    frames:\n");
    for (i = (size_t)hdlen; i < payload_end;) {
      rudp_frame fr;
      rudp_ssize n = rudp_frame_decode(&fr, pkt + i, payload_end - i);
      if (n < 0) {
        printf("      cannot decode frame at offset %zu: %s\n", off + i,
               rudp_strerror((int)n));
        return -1;
      }
      print_frame(&fr, from_server);
      i += (size_t)n;
    }
    off += pktlen;
  }
  return 0;
}

/* parse_hex decodes |s| (hex digits, spaces and colons ignored). */
static int parse_hex(uint8_t *out, size_t cap, size_t *plen, const char *s) {
  size_t n = 0;
  int hi = -1;
  for (; *s; ++s) {
    int v;
    if (isspace((unsigned char)*s) || *s == ':') {
      continue;
    }
    if (*s >= '0' && *s <= '9') {
      v = *s - '0';
    } else if (*s >= 'a' && *s <= 'f') {
      v = *s - 'a' + 10;
    } else if (*s >= 'A' && *s <= 'F') {
      v = *s - 'A' + 10;
    } else {
      return -1;
    }
    if (hi < 0) {
      hi = v;
    } else {
      if (n == cap) {
        return -1;
      }
      out[n++] = (uint8_t)(hi << 4 | v);
      hi = -1;
    }
  }
  if (hi >= 0 || n == 0) {
    return -1;
  }
  *plen = n;
  return 0;
}

/* ---------------------------------------------------------------- demo */

/* die_on reports an encoder failure in the demo, which is a library bug. */
static size_t die_on(rudp_ssize n, const char *what) {
  if (n < 0) {
    fprintf(stderr, "%s: demo: encoding %s failed: %s\n", progname, what,
            rudp_strerror((int)n));
    exit(1);
  }
  return (size_t)n;
}

/*
 * build_long writes a long-header packet with |frames| (already encoded)
 * and optional padding up to |pad_to| bytes, then seals its CRC.
 */
static size_t build_long(uint8_t *out, size_t cap, rudp_pkt_hd *hd,
                         const uint8_t *frames, size_t frameslen,
                         size_t pad_to) {
  size_t hdlen, len, padlen = 0;
  hd->len = 1200; /* placeholder sizes the length field; patched below */
  hdlen = die_on(rudp_pkt_encode_hd(out, cap, hd), "long header");
  len = hdlen + frameslen + RUDP_PKT_CRCLEN;
  if (len < pad_to) {
    padlen = pad_to - len;
  }
  memcpy(out + hdlen, frames, frameslen);
  memset(out + hdlen + frameslen, 0, padlen);
  die_on(rudp_pkt_patch_len(out, cap,
                            hd->pkt_numlen + frameslen + padlen +
                                RUDP_PKT_CRCLEN),
         "length field");
  return rudp_pkt_seal_crc_pn(out, hdlen + frameslen + padlen, hd->pkt_num);
}

static int run_demo(void) {
  static const uint8_t cid_client[8] = {0xc1, 0x1e, 0x47, 0x00,
                                        0x00, 0x00, 0x00, 0x01};
  static const uint8_t cid_random[8] = {0x8d, 0x3a, 0x7f, 0x10,
                                        0x52, 0x9e, 0x04, 0xb6};
  static const uint8_t cid_server[8] = {0x5e, 0x7e, 0x70, 0x00,
                                        0x00, 0x00, 0x00, 0x02};
  static const uint8_t token[] = "hmac(client addr, time slot)";
  static const char hello[] = "hello over librudp";
  static const char dgram[] = "unreliable tick 42";
  uint8_t pkt[1500], frames[1200], tpbuf[RUDP_TP_MAXLEN];
  rudp_transport_params tp;
  rudp_pkt_hd hd;
  rudp_frame fr;
  rudp_cid ccid, scid, rcid;
  rudp_range ranges[3];
  size_t n, fl, tplen;
  uint32_t versions[2] = {RUDP_PROTO_VER_V1, 0x0a0a0a0a};
  int rv = 0;

  rudp_cid_init(&ccid, cid_client, sizeof(cid_client));
  rudp_cid_init(&rcid, cid_random, sizeof(cid_random));
  rudp_cid_init(&scid, cid_server, sizeof(cid_server));
  printf("librudp %s: wire codec demonstration (protocol version "
         "0x%08x, crc32c %s)\n\n",
         rudp_version(), RUDP_PROTO_VER_V1,
         rudp_crc32c_hw_available() ? "in hardware" : "by table");

  /* 1. The client's CONNECT (like SYN): transport parameters in CRYPTO,
   * padded to 1200 bytes. */
  rudp_transport_params_default(&tp);
  tp.max_idle_timeout = 30 * RUDP_SECONDS;
  tp.initial_max_data = 16 << 20;
  tp.initial_max_stream_data_bidi_local = 1 << 20;
  tp.initial_max_stream_data_bidi_remote = 1 << 20;
  tp.initial_max_stream_data_uni = 1 << 20;
  tp.initial_max_streams_bidi = 100;
  tp.initial_max_streams_uni = 100;
  tp.max_datagram_frame_size = 1200;
  memcpy(tp.initial_scid, cid_client, sizeof(cid_client));
  tp.initial_scidlen = sizeof(cid_client);
  tp.initial_scid_present = 1;
  tplen = die_on(rudp_tp_encode(tpbuf, sizeof(tpbuf), &tp, 0), "client tp");
  memset(&fr, 0, sizeof(fr));
  fr.crypto.type = RUDP_FRAME_CRYPTO;
  fr.crypto.data = tpbuf;
  fr.crypto.datalen = tplen;
  fl = die_on(rudp_frame_encode(frames, sizeof(frames), &fr), "CRYPTO");
  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_CONNECT;
  hd.flags = RUDP_PKT_FLAG_LONG_FORM;
  hd.version = RUDP_PROTO_VER_V1;
  hd.dcid = rcid;
  hd.scid = ccid;
  hd.pkt_num = 0;
  hd.pkt_numlen = 1;
  n = build_long(pkt, sizeof(pkt), &hd, frames, fl, RUDP_MIN_UDP_PAYLOAD);
  printf("1. client -> server: CONNECT (SYN), padded to %zu bytes\n", n);
  print_hex("   ", pkt, n, 48);
  rv |= dump_datagram(pkt, n, RUDP_DEFAULT_CIDLEN, 0);

  /* 2. A loaded server answers with RETRY (the SYN-cookie idea). */
  n = die_on(rudp_pkt_encode_retry(pkt, sizeof(pkt), RUDP_PROTO_VER_V1, &ccid,
                                   &scid, &rcid, token, sizeof(token) - 1),
             "RETRY");
  printf("\n2. server -> client: RETRY with a stateless token\n");
  print_hex("   ", pkt, n, 48);
  rv |= dump_datagram(pkt, n, RUDP_DEFAULT_CIDLEN, 0);

  /* 3. ACCEPT (like SYN+ACK): ACK of the CONNECT, server parameters. */
  rudp_transport_params_default(&tp);
  tp.max_idle_timeout = 30 * RUDP_SECONDS;
  tp.initial_max_data = 32 << 20;
  tp.initial_max_streams_bidi = 100;
  tp.max_udp_payload_size = 1472;
  memcpy(tp.initial_scid, cid_server, sizeof(cid_server));
  tp.initial_scidlen = sizeof(cid_server);
  tp.initial_scid_present = 1;
  memcpy(tp.original_dcid, cid_random, sizeof(cid_random));
  tp.original_dcidlen = sizeof(cid_random);
  tp.original_dcid_present = 1;
  tplen = die_on(rudp_tp_encode(tpbuf, sizeof(tpbuf), &tp, 1), "server tp");
  ranges[0].lo = 0;
  ranges[0].hi = 1;
  memset(&fr, 0, sizeof(fr));
  fr.ack.type = RUDP_FRAME_ACK;
  fr.ack.ranges = ranges;
  fr.ack.nranges = 1;
  fl = die_on(rudp_frame_encode(frames, sizeof(frames), &fr), "ACK");
  memset(&fr, 0, sizeof(fr));
  fr.crypto.type = RUDP_FRAME_CRYPTO;
  fr.crypto.data = tpbuf;
  fr.crypto.datalen = tplen;
  fl += die_on(rudp_frame_encode(frames + fl, sizeof(frames) - fl, &fr),
               "CRYPTO");
  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_ACCEPT;
  hd.flags = RUDP_PKT_FLAG_LONG_FORM;
  hd.version = RUDP_PROTO_VER_V1;
  hd.dcid = ccid;
  hd.scid = scid;
  hd.pkt_num = 0;
  hd.pkt_numlen = 1;
  n = build_long(pkt, sizeof(pkt), &hd, frames, fl, 0);
  printf("\n3. server -> client: ACCEPT (SYN+ACK)\n");
  print_hex("   ", pkt, n, 48);
  rv |= dump_datagram(pkt, n, RUDP_DEFAULT_CIDLEN, 0);

  /* 4. Established: a short packet with a SACK (two ranges), stream data
   * with FIN and an unreliable datagram. */
  ranges[0].lo = 7;
  ranges[0].hi = 9;
  ranges[1].lo = 2;
  ranges[1].hi = 4;
  ranges[2].lo = 0;
  ranges[2].hi = 0;
  memset(&fr, 0, sizeof(fr));
  fr.ack.type = RUDP_FRAME_ACK;
  fr.ack.ack_delay = 125;
  fr.ack.ranges = ranges;
  fr.ack.nranges = 3;
  fl = die_on(rudp_frame_encode(frames, sizeof(frames), &fr), "ACK");
  memset(&fr, 0, sizeof(fr));
  fr.stream.type = RUDP_FRAME_STREAM;
  fr.stream.stream_id = 0;
  fr.stream.offset = 0;
  fr.stream.fin = 1;
  fr.stream.data = (const uint8_t *)hello;
  fr.stream.datalen = sizeof(hello) - 1;
  fl += die_on(rudp_frame_encode(frames + fl, sizeof(frames) - fl, &fr),
               "STREAM");
  memset(&fr, 0, sizeof(fr));
  fr.datagram.type = RUDP_FRAME_DATAGRAM;
  fr.datagram.implicit_len = 1;
  fr.datagram.data = (const uint8_t *)dgram;
  fr.datagram.datalen = sizeof(dgram) - 1;
  fl += die_on(rudp_frame_encode(frames + fl, sizeof(frames) - fl, &fr),
               "DATAGRAM");
  memset(&hd, 0, sizeof(hd));
  hd.type = RUDP_PKT_SHORT;
  hd.dcid = scid;
  hd.pkt_num = 10;
  hd.pkt_numlen = rudp_pkt_num_len(10, 9);
  n = die_on(rudp_pkt_encode_hd(pkt, sizeof(pkt), &hd), "short header");
  memcpy(pkt + n, frames, fl);
  n = rudp_pkt_seal_crc_pn(pkt, n + fl, hd.pkt_num);
  printf("\n4. client -> server: short packet: SACK, stream data, datagram\n");
  print_hex("   ", pkt, n, 48);
  rv |= dump_datagram(pkt, n, RUDP_DEFAULT_CIDLEN, 0);

  /* 5. Graceful close. */
  memset(&fr, 0, sizeof(fr));
  fr.connection_close.type = RUDP_FRAME_CONNECTION_CLOSE_APP;
  fr.connection_close.error_code = 0;
  fr.connection_close.reason = (const uint8_t *)"bye";
  fr.connection_close.reasonlen = 3;
  fl = die_on(rudp_frame_encode(frames, sizeof(frames), &fr), "CLOSE");
  hd.pkt_num = 11;
  n = die_on(rudp_pkt_encode_hd(pkt, sizeof(pkt), &hd), "short header");
  memcpy(pkt + n, frames, fl);
  n = rudp_pkt_seal_crc_pn(pkt, n + fl, hd.pkt_num);
  printf("\n5. client -> server: CONNECTION_CLOSE\n");
  print_hex("   ", pkt, n, 48);
  rv |= dump_datagram(pkt, n, RUDP_DEFAULT_CIDLEN, 0);

  /* 6. Version negotiation for a client speaking an unknown version. */
  n = die_on(rudp_pkt_encode_version_negotiation(pkt, sizeof(pkt), 0x2a, &ccid,
                                                 &rcid, versions, 2),
             "VERSION_NEGOTIATION");
  printf("\n6. server -> client: VERSION_NEGOTIATION\n");
  print_hex("   ", pkt, n, 48);
  rv |= dump_datagram(pkt, n, RUDP_DEFAULT_CIDLEN, 0);

  /* 7. Corruption is caught by the CRC. */
  pkt[n / 2] ^= 0x10;
  printf("\n7. the same packet with one bit flipped in transit\n");
  if (dump_datagram(pkt, n, RUDP_DEFAULT_CIDLEN, 0) == 0) {
    printf("   ERROR: corruption went unnoticed\n");
    rv = -1;
  } else {
    printf("   (dropped, as it should be)\n");
  }

  printf("\n%s\n", rv == 0 ? "demo: every packet encoded and decoded"
                           : "demo: FAILED");
  return rv == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"demo", no_argument, NULL, 'D'},
      {"dcid-len", required_argument, NULL, 'L'},
      {"tls", no_argument, NULL, 'T'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0},
  };
  uint8_t buf[RUDP_MAX_UDP_PAYLOAD];
  size_t len, dcidlen = RUDP_DEFAULT_CIDLEN;
  int demo = 0, tls = 0, c, rv = 0, i;
  char *end, line[2 * RUDP_MAX_UDP_PAYLOAD + 64];
  unsigned long v;

  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'D':
      demo = 1;
      break;
    case 'L':
      errno = 0;
      v = strtoul(optarg, &end, 10);
      if (errno || *end || end == optarg || v > RUDP_MAX_CIDLEN) {
        fprintf(stderr, "%s: --dcid-len: expected 0 to %d, got '%s'\n",
                progname, RUDP_MAX_CIDLEN, optarg);
        return 2;
      }
      dcidlen = v;
      break;
    case 'T':
      tls = 1;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      printf("%s (librudp) %s\n", progname, rudp_version());
      return 0;
    default:
      fprintf(stderr, "%s: try '%s --help'\n", progname, progname);
      return 2;
    }
  }
  if (demo) {
    if (optind < argc) {
      fprintf(stderr, "%s: --demo takes no packets\n", progname);
      return 2;
    }
    return run_demo();
  }
  if (optind < argc) {
    for (i = optind; i < argc; ++i) {
      if (parse_hex(buf, sizeof(buf), &len, argv[i]) != 0) {
        fprintf(stderr, "%s: argument %d: not a hex packet\n", progname,
                i - optind + 1);
        return 2;
      }
      printf("datagram %d (%zu bytes)\n", i - optind + 1, len);
      rv |= dump_datagram(buf, len, dcidlen, tls);
    }
    return rv ? 1 : 0;
  }
  for (i = 1; fgets(line, sizeof(line), stdin); ++i) {
    if (line[strspn(line, " \t\r\n")] == '\0') {
      continue;
    }
    if (parse_hex(buf, sizeof(buf), &len, line) != 0) {
      printf("line %d: not a hex packet\n", i);
      rv = -1;
      continue;
    }
    printf("datagram on line %d (%zu bytes)\n", i, len);
    rv |= dump_datagram(buf, len, dcidlen, tls);
  }
  return rv ? 1 : 0;
}
