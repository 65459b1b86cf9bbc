/*
 * tests/unit/test_util_buf.c - hs_buf, hs_str and hs_error behaviour, including OOM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "hoopsync/error.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/str.h"

static void test_util_buf_appends_and_stays_terminated(void **state)
{
    (void)state;
    struct hs_buf b;
    hs_buf_init(&b);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(hs_buf_printf(&b, "%d,", i), HS_OK);
    assert_true(b.len > 1000);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data, "0,1,2,", 6);
    char *s = hs_buf_detach(&b);
    assert_null(b.data);
    assert_int_equal(strncmp(s + strlen(s) - 4, "999,", 4), 0);
    hs_free(s);
}

static void test_util_buf_keeps_contents_when_growth_fails(void **state)
{
    (void)state;
    struct hs_buf b;
    hs_buf_init(&b);
    assert_int_equal(hs_buf_puts(&b, "abc"), HS_OK);
    failalloc_arm(0);
    char big[200];
    memset(big, 'x', sizeof big);
    int rc = hs_buf_append(&b, big, sizeof big);
    failalloc_disarm();
    assert_int_equal(rc, HS_ENOMEM);
    assert_string_equal(b.data, "abc");
    hs_buf_release(&b);
}

static void test_util_str_parses_i64_strictly(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(hs_str_to_i64("9223372036854775807", 19, &v), HS_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(hs_str_to_i64("-9223372036854775808", 20, &v), HS_OK);
    assert_true(v == INT64_MIN);
    assert_int_equal(hs_str_to_i64("9223372036854775808", 19, &v), HS_ERANGE);
    assert_int_equal(hs_str_to_i64("12a", 3, &v), HS_EINVAL);
    assert_int_equal(hs_str_to_i64("-", 1, &v), HS_EINVAL);
    assert_int_equal(hs_str_to_i64("", 0, &v), HS_EINVAL);
}

static void test_util_str_form_get_decodes(void **state)
{
    (void)state;
    int err = 0;
    char *v = hs_str_form_get("a=1&redirect_uri=http%3A%2F%2Fx%2Fy&b=c+d", "redirect_uri", &err);
    assert_string_equal(v, "http://x/y");
    hs_free(v);
    v = hs_str_form_get("a=1&b=c+d", "b", &err);
    assert_string_equal(v, "c d");
    hs_free(v);
    assert_null(hs_str_form_get("a=1", "zz", &err));
    assert_int_equal(err, HS_OK);
    assert_null(hs_str_form_get("a=%G1", "a", &err));
    assert_int_equal(err, HS_EINVAL);
}

static void test_util_error_formats_and_prefixes(void **state)
{
    (void)state;
    struct hs_error e;
    hs_error_clear(&e);
    assert_int_equal(hs_error_set(&e, HS_EIO, "cannot open '%s'", "x.db"), HS_EIO);
    assert_int_equal(hs_error_prefix(&e, "store"), HS_EIO);
    assert_string_equal(e.msg, "store: cannot open 'x.db'");
    assert_int_equal(hs_error_set(NULL, HS_EINVAL, "ignored"), HS_EINVAL);
    assert_string_equal(hs_strerror(HS_ENOMEM), "out of memory");
    assert_string_equal(hs_strerror(-999), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_util_buf_appends_and_stays_terminated),
        cmocka_unit_test(test_util_buf_keeps_contents_when_growth_fails),
        cmocka_unit_test(test_util_str_parses_i64_strictly),
        cmocka_unit_test(test_util_str_form_get_decodes),
        cmocka_unit_test(test_util_error_formats_and_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
