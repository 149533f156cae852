/*
 * Tests of lib/rudp_err.c and lib/rudp_mem.c: error strings, the
 * fatal/recoverable split, version, default allocator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <rudp/rudp.h>

#include "rudp_mem.h"

static const int all_codes[] = {
    RUDP_ERR_INVALID_ARGUMENT,
    RUDP_ERR_NOBUF,
    RUDP_ERR_TRUNCATED,
    RUDP_ERR_FRAME_ENCODING,
    RUDP_ERR_BAD_PACKET,
    RUDP_ERR_VERSION,
    RUDP_ERR_TRANSPORT_PARAM,
    RUDP_ERR_INTEGRITY,
    RUDP_ERR_PROTO,
    RUDP_ERR_FLOW_CONTROL,
    RUDP_ERR_STREAM_LIMIT,
    RUDP_ERR_STREAM_STATE,
    RUDP_ERR_FINAL_SIZE,
    RUDP_ERR_INVALID_STATE,
    RUDP_ERR_CLOSING,
    RUDP_ERR_DRAINING,
    RUDP_ERR_IDLE_CLOSE,
    RUDP_ERR_CRYPTO,
    RUDP_ERR_HANDSHAKE_TIMEOUT,
    RUDP_ERR_CONNECTION_REFUSED,
    RUDP_ERR_STREAM_NOT_FOUND,
    RUDP_ERR_WOULDBLOCK,
    RUDP_ERR_DATAGRAM_TOO_LARGE,
    RUDP_ERR_INVALID_TOKEN,
    RUDP_ERR_PEER_CLOSED,
    RUDP_ERR_STATELESS_RESET,
    RUDP_ERR_IO,
    RUDP_ERR_TLS_UNAVAILABLE,
    RUDP_ERR_TLS_CERT_UNTRUSTED,
    RUDP_ERR_TLS_NAME_MISMATCH,
    RUDP_ERR_TLS_CERT_EXPIRED,
    RUDP_ERR_TLS_PIN_MISMATCH,
    RUDP_ERR_TLS_MODE_MISMATCH,
    RUDP_ERR_TLS_CONFIG,
    RUDP_ERR_NOMEM,
    RUDP_ERR_CALLBACK_FAILURE,
    RUDP_ERR_INTERNAL,
};

static void test_rudp_err_strerror_every_code_distinct(void **state) {
  size_t i, j, n = sizeof(all_codes) / sizeof(all_codes[0]);
  (void)state;
  for (i = 0; i < n; ++i) {
    const char *s = rudp_strerror(all_codes[i]);
    assert_non_null(s);
    assert_string_not_equal(s, "unknown error");
    assert_null(strchr(s, '\n'));
    for (j = 0; j < i; ++j) {
      assert_string_not_equal(s, rudp_strerror(all_codes[j]));
    }
  }
}

static void test_rudp_err_strerror_unknown_and_success(void **state) {
  (void)state;
  assert_string_equal(rudp_strerror(0), "success");
  assert_string_equal(rudp_strerror(-1), "unknown error");
  assert_string_equal(rudp_strerror(-499), "unknown error");
  assert_string_equal(rudp_strerror(12345), "unknown error");
  assert_string_equal(rudp_strerror(RUDP_ERR_TRUNCATED), "input truncated");
}

static void test_rudp_err_is_fatal(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(all_codes) / sizeof(all_codes[0]); ++i) {
    int fatal = all_codes[i] <= -500;
    assert_int_equal(!!rudp_err_is_fatal(all_codes[i]), fatal);
  }
  assert_false(rudp_err_is_fatal(0));
  assert_true(rudp_err_is_fatal(RUDP_ERR_NOMEM));
  assert_true(rudp_err_is_fatal(RUDP_ERR_CALLBACK_FAILURE));
  assert_false(rudp_err_is_fatal(RUDP_ERR_PROTO));
}

static void test_rudp_err_version(void **state) {
  (void)state;
  assert_string_equal(rudp_version(), RUDP_VERSION);
  assert_true(RUDP_VERSION_NUM > 0);
}

static void test_rudp_err_mem_default(void **state) {
  const rudp_mem *mem = rudp_mem_default();
  uint8_t *p;
  (void)state;
  assert_non_null(mem);
  assert_ptr_equal(mem, rudp_mem_default());
  p = rudp_mem_calloc(mem, 4, 4);
  assert_non_null(p);
  assert_int_equal(p[15], 0);
  p = rudp_mem_realloc(mem, p, 64);
  assert_non_null(p);
  p[63] = 1;
  rudp_mem_free(mem, p);
  rudp_mem_free(mem, NULL); /* must be a no-op */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rudp_err_strerror_every_code_distinct),
      cmocka_unit_test(test_rudp_err_strerror_unknown_and_success),
      cmocka_unit_test(test_rudp_err_is_fatal),
      cmocka_unit_test(test_rudp_err_version),
      cmocka_unit_test(test_rudp_err_mem_default),
  };
  return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
