/*
 * tests/unit/test_util_jsonnum.c - exact JSON numbers: parse, read, write, round trip.
 *
 * Design:     links hs_util only, so the inline money/decimal helpers of jsonnum.h (which need
 *             hs_core) are exercised by tests/unit/test_conn_quickbooks.c; here the text level:
 *             numbers keep their exact text through parse and dump, strings are never
 *             mistaken for numbers, errors name the input and the original position, limits
 *             hold, and every allocation failure is reported as HS_ENOMEM without leaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/jsonnum.h"

static json_t *parse_ok(const char *text)
{
    json_t *v = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    int rc = hs_json_parse_exact((const uint8_t *)text, strlen(text), "test input", &v, &err);
    if (rc != HS_OK)
        print_error("parse '%s': %s\n", text, err.msg);
    assert_int_equal(rc, HS_OK);
    assert_non_null(v);
    return v;
}

static char *dump(const json_t *v)
{
    struct hs_buf b;
    hs_buf_init(&b);
    assert_int_equal(hs_json_dump_exact(v, &b), HS_OK);
    char *s = hs_buf_detach(&b);
    assert_non_null(s);
    return s;
}

static void test_util_jsonnum_keeps_exact_text(void **state)
{
    (void)state;
    const char *in = "{\"TotalAmt\":1234.5,\"Big\":12345678901234567890.123456789,"
                     "\"Neg\":-0.10,\"Exp\":1E+3,\"Int\":42,\"Zero\":0,\"Str\":\"1234.5\","
                     "\"Arr\":[0.1,0.2,{\"x\":-7}],\"T\":true,\"N\":null}";
    json_t *v = parse_ok(in);
    assert_string_equal(hs_json_num_text(json_object_get(v, "TotalAmt")), "1234.5");
    /* more digits than a double holds, unchanged */
    assert_string_equal(hs_json_num_text(json_object_get(v, "Big")),
                        "12345678901234567890.123456789");
    assert_string_equal(hs_json_num_text(json_object_get(v, "Neg")), "-0.10");
    assert_string_equal(hs_json_num_text(json_object_get(v, "Exp")), "1E+3");
    assert_true(hs_json_is_number(json_object_get(v, "Int")));
    /* a provider's string stays a string but still reads as number text */
    assert_false(hs_json_is_number(json_object_get(v, "Str")));
    assert_string_equal(hs_json_num_text(json_object_get(v, "Str")), "1234.5");
    assert_string_equal(hs_json_num_text(json_array_get(json_object_get(v, "Arr"), 1)), "0.2");
    assert_null(hs_json_num_text(json_object_get(v, "T")));
    assert_null(hs_json_num_text(json_object_get(v, "N")));
    assert_null(hs_json_num_text(NULL));
    /* dump gives back the same bytes (input is compact with keys in insertion order) */
    char *out = dump(v);
    assert_string_equal(out, in);
    hs_free(out);
    json_decref(v);
}

static void test_util_jsonnum_numbers_inside_strings_untouched(void **state)
{
    (void)state;
    const char *in = "{\"a\":\"x 12 \\\"3.5\\\" -4\",\"b\\\"7\":8,\"c\":\"\\\\\",\"d\":9}";
    json_t *v = parse_ok(in);
    assert_string_equal(json_string_value(json_object_get(v, "a")), "x 12 \"3.5\" -4");
    assert_string_equal(hs_json_num_text(json_object_get(v, "b\"7")), "8");
    assert_string_equal(json_string_value(json_object_get(v, "c")), "\\");
    assert_string_equal(hs_json_num_text(json_object_get(v, "d")), "9");
    char *out = dump(v);
    assert_string_equal(out, in);
    hs_free(out);
    json_decref(v);
}

static void test_util_jsonnum_top_level_and_whitespace(void **state)
{
    (void)state;
    json_t *v = parse_ok(" [ 1 , 2.50 ]\n");
    assert_string_equal(hs_json_num_text(json_array_get(v, 1)), "2.50");
    char *out = dump(v);
    assert_string_equal(out, "[1,2.50]");
    hs_free(out);
    json_decref(v);
}

static void test_util_jsonnum_rejects_reserved_mark(void **state)
{
    (void)state;
    json_t *v = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    const char *in = "{\"a\":\"\\u00011\"}";
    assert_int_equal(hs_json_parse_exact((const uint8_t *)in, strlen(in), "answer", &v, &err),
                     HS_EPROTO);
    assert_null(v);
    assert_non_null(strstr(err.msg, "cannot parse answer"));
    assert_non_null(strstr(err.msg, "U+0001"));
    /* U+0001 later in a string is harmless */
    v = parse_ok("{\"a\":\"x\\u0001\"}");
    assert_string_equal(json_string_value(json_object_get(v, "a")), "x\x01");
    assert_false(hs_json_is_number(json_object_get(v, "a")));
    json_decref(v);
}

static void test_util_jsonnum_error_positions_are_original(void **state)
{
    (void)state;
    json_t *v = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    /* the error is after several numbers: the column must be that of the input */
    const char *in = "[1,2,3,4,5,}";
    assert_int_equal(hs_json_parse_exact((const uint8_t *)in, strlen(in), "answer", &v, &err),
                     HS_EPROTO);
    assert_null(v);
    assert_non_null(strstr(err.msg, "cannot parse answer: line 1 column 12"));
    /* invalid number tokens */
    const char *bad[] = {"[01]", "[1.]", "[-]", "[.5]", "[1e]", "{\"a\":+1}", "[NaN]", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hs_error_clear(&err);
        assert_int_equal(
            hs_json_parse_exact((const uint8_t *)bad[i], strlen(bad[i]), "answer", &v, &err),
            HS_EPROTO);
        assert_null(v);
        assert_true(strlen(err.msg) > 0);
    }
}

static void test_util_jsonnum_not_nul_terminated(void **state)
{
    (void)state;
    /* the number runs to the very end of the buffer; a NUL-assuming scanner would read on */
    char *buf = hs_malloc(2);
    assert_non_null(buf);
    memcpy(buf, "12", 2);
    json_t *v = NULL;
    assert_int_equal(hs_json_parse_exact((const uint8_t *)buf, 2, "x", &v, NULL), HS_OK);
    assert_string_equal(hs_json_num_text(v), "12");
    json_decref(v);
    hs_free(buf);
}

static void test_util_jsonnum_limits(void **state)
{
    (void)state;
    struct hs_error err;
    json_t *v = NULL;
    char deep[2 * (HS_JSONNUM_MAX_DEPTH + 1) + 1];
    size_t n = 0;
    for (int i = 0; i < HS_JSONNUM_MAX_DEPTH + 1; i++)
        deep[n++] = '[';
    for (int i = 0; i < HS_JSONNUM_MAX_DEPTH + 1; i++)
        deep[n++] = ']';
    hs_error_clear(&err);
    assert_int_equal(hs_json_parse_exact((const uint8_t *)deep, n, "x", &v, &err), HS_ETOOBIG);
    assert_non_null(strstr(err.msg, "nesting"));
    /* exactly the maximum is fine */
    assert_int_equal(hs_json_parse_exact((const uint8_t *)deep + 1, n - 2, "x", &v, &err), HS_OK);
    json_decref(v);
    v = NULL;
    char num[HS_JSONNUM_MAX_NUMBER + 3];
    num[0] = '[';
    memset(num + 1, '7', HS_JSONNUM_MAX_NUMBER + 1);
    num[HS_JSONNUM_MAX_NUMBER + 2] = ']';
    hs_error_clear(&err);
    assert_int_equal(hs_json_parse_exact((const uint8_t *)num, sizeof num, "x", &v, &err),
                     HS_ETOOBIG);
    assert_non_null(strstr(err.msg, "number"));
    assert_null(v);
}

static void test_util_jsonnum_writer(void **state)
{
    (void)state;
    json_t *o = json_object();
    assert_non_null(o);
    assert_int_equal(json_object_set_new(o, "Amount", hs_json_number_text("1234.50")), 0);
    assert_int_equal(json_object_set_new(o, "Qty", hs_json_number_text("-0.001")), 0);
    assert_int_equal(json_object_set_new(o, "Name", json_string("12")), 0);
    /* a string made by other code that merely starts with the mark stays a string */
    assert_int_equal(json_object_set_new(o, "Odd", json_string("\x01x")), 0);
    char *out = dump(o);
    assert_string_equal(out,
                        "{\"Amount\":1234.50,\"Qty\":-0.001,\"Name\":\"12\",\"Odd\":\"\\u0001x\"}");
    hs_free(out);
    json_decref(o);
    assert_null(hs_json_number_text("1,5"));
    assert_null(hs_json_number_text("1.5 "));
    assert_null(hs_json_number_text(""));
    assert_null(hs_json_number_text(NULL));
    assert_true(hs_json_number_valid("-0.5e-7", 7));
    assert_false(hs_json_number_valid("00", 2));
}

static void test_util_jsonnum_i64(void **state)
{
    (void)state;
    json_t *v = parse_ok("{\"a\":1,\"b\":\"2\",\"c\":1.5,\"d\":99999999999999999999,\"e\":null,"
                         "\"f\":[]}");
    int64_t n = 0;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_json_i64(v, "a", &n, &err), HS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(hs_json_i64(v, "b", &n, &err), HS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(hs_json_i64(v, "c", &n, &err), HS_EPROTO);
    assert_non_null(strstr(err.msg, "field 'c'"));
    assert_int_equal(hs_json_i64(v, "d", &n, &err), HS_ERANGE);
    n = 77;
    assert_int_equal(hs_json_i64(v, "e", &n, &err), HS_ENOTFOUND);
    assert_int_equal(hs_json_i64(v, "zz", &n, &err), HS_ENOTFOUND);
    assert_int_equal(n, 77);
    assert_int_equal(hs_json_i64(v, "f", &n, &err), HS_EPROTO);
    json_decref(v);
}

static void test_util_jsonnum_survives_every_failed_allocation(void **state)
{
    (void)state;
    const char *in = "{\"Line\":[{\"Amount\":10.25,\"Qty\":3},{\"Amount\":1}],\"Id\":\"7\"}";
    for (int n = 0;; n++) {
        json_t *v = NULL;
        struct hs_error err;
        hs_error_clear(&err);
        failalloc_arm(n);
        int rc = hs_json_parse_exact((const uint8_t *)in, strlen(in), "x", &v, &err);
        struct hs_buf b;
        hs_buf_init(&b);
        int rc2 = rc == HS_OK ? hs_json_dump_exact(v, &b) : rc;
        failalloc_disarm();
        json_decref(v);
        if (rc == HS_OK && rc2 == HS_OK) {
            assert_string_equal(b.data, in);
            hs_buf_release(&b);
            break;
        }
        hs_buf_release(&b);
        if (rc2 != HS_ENOMEM)
            print_error("n=%d: %s\n", n, err.msg);
        assert_int_equal(rc2, HS_ENOMEM);
        assert_true(n < 1000);
    }
}

int main(void)
{
    hs_alloc_setup_json();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_util_jsonnum_keeps_exact_text),
        cmocka_unit_test(test_util_jsonnum_numbers_inside_strings_untouched),
        cmocka_unit_test(test_util_jsonnum_top_level_and_whitespace),
        cmocka_unit_test(test_util_jsonnum_rejects_reserved_mark),
        cmocka_unit_test(test_util_jsonnum_error_positions_are_original),
        cmocka_unit_test(test_util_jsonnum_not_nul_terminated),
        cmocka_unit_test(test_util_jsonnum_limits),
        cmocka_unit_test(test_util_jsonnum_writer),
        cmocka_unit_test(test_util_jsonnum_i64),
        cmocka_unit_test(test_util_jsonnum_survives_every_failed_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
