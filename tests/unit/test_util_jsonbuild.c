/*
 * tests/unit/test_util_jsonbuild.c - hs_json_build, the one-pass parser in front of jansson:
 *                                    the same trees as json_loadb on what it accepts, and a
 *                                    refusal for everything the checked path refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/json.h"
#include "util/jsonnum.h"

static const struct hs_json_build_opts plain = {HS_JSON_MAX_DEPTH, false, false, 0};
static const struct hs_json_build_opts exact = {HS_JSONNUM_MAX_DEPTH, true, true,
                                                HS_JSONNUM_MAX_NUMBER};

static json_t *build(const char *text, const struct hs_json_build_opts *o)
{
    return hs_json_build((const uint8_t *)text, strlen(text), o);
}

/* Order-preserving dump: equal dumps mean equal trees, member order and number types too. */
static void assert_same_tree(const json_t *a, const json_t *b, const char *text)
{
    char *da = json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
    char *db = json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
    assert_non_null(da);
    assert_non_null(db);
    if (strcmp(da, db) != 0)
        fail_msg("%s: built %s, jansson %s", text, da, db);
    free(da);
    free(db);
}

static void test_util_jsonbuild_same_tree_as_jansson(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}",
        " [ ] ",
        "{\"a\":1,\"b\":-0,\"c\":2.5,\"d\":1e3,\"e\":-1.25E-2,\"f\":9223372036854775807}",
        "{\"z\":1,\"a\":2,\"m\":{\"y\":[true,false,null],\"x\":{}}}",
        "[\"plain\",\"q\\\"uote\",\"back\\\\slash\",\"\\/\\b\\f\\n\\r\\t\",\"\\u00e9t\\u00C9\"]",
        "[\"\\ud83d\\ude00\",\"caf\xc3\xa9\",\"\xe2\x82\xac 5\",\"x\\u0001y\",\"\"]",
        "{\"caf\\u00e9\":1,\"k\\n\":\"v\",\"\":0}",
        "\t\r\n{\"results\" :[ {\"id\" : \"1\", \"properties\": {\"name\":\"Acme\"}} ] }\n",
        "[1e-400,-9223372036854775808,0.1,100.00]",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_t *got = build(docs[i], &plain);
        json_t *want = json_loadb(docs[i], strlen(docs[i]), JSON_REJECT_DUPLICATES, NULL);
        if (got == NULL || want == NULL)
            fail_msg("not parsed: %s (built %p, jansson %p)", docs[i], (void *)got, (void *)want);
        assert_same_tree(got, want, docs[i]);
        json_decref(got);
        json_decref(want);
    }
}

static void test_util_jsonbuild_marks_numbers(void **state)
{
    (void)state;
    json_t *v = build("{\"amt\":[1.50,-0,12e2],\"s\":\"1.5\"}", &exact);
    assert_non_null(v);
    const json_t *arr = json_object_get(v, "amt");
    assert_int_equal(json_array_size(arr), 3);
    assert_string_equal(hs_json_num_text(json_array_get(arr, 0)), "1.50");
    assert_string_equal(hs_json_num_text(json_array_get(arr, 1)), "-0");
    assert_string_equal(hs_json_num_text(json_array_get(arr, 2)), "12e2");
    assert_true(hs_json_is_number(json_array_get(arr, 0)));
    assert_false(hs_json_is_number(json_object_get(v, "s")));
    json_decref(v);
    /* a scalar at the top is fine with any_top */
    v = build(" 42 ", &exact);
    assert_non_null(v);
    assert_string_equal(hs_json_num_text(v), "42");
    json_decref(v);
}

static void test_util_jsonbuild_refuses_what_the_checked_path_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "   ",
        "{\"a\":1,\"a\":2}",  /* duplicate key */
        "[\"\\u0000\"]",      /* NUL */
        "[\"\\udc00\"]",      /* lone low surrogate */
        "[\"\\ud800x\"]",     /* lone high surrogate */
        "[\"\xed\xa0\x80\"]", /* surrogate in UTF-8 */
        "[\"\xc0\xaf\"]",     /* overlong */
        "[\"a\tb\"]",         /* control character */
        "[\"\\x\"]",          /* unknown escape */
        "[01]",               /* leading zero */
        "[1.]",               /* no fraction digits */
        "[-]",
        "[1e400]",               /* real overflow */
        "[9223372036854775808]", /* integer beyond json_int_t */
        "[-9223372036854775809]",
        "[1,]", /* trailing comma */
        "{\"a\" 1}",
        "[1] x",   /* trailing data */
        "\"top\"", /* not an object or array */
        "12",
        "[tru]",
        "{\"a\":1", /* unterminated */
        "[\"abc",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *v = hs_json_build((const uint8_t *)bad[i], strlen(bad[i]), &plain);
        if (v != NULL)
            fail_msg("accepted: %s", bad[i]);
    }
    /* a NUL byte after the value is trailing data too */
    static const uint8_t nul_after[] = {'[', '1', ']', 0};
    assert_null(hs_json_build(nul_after, sizeof nul_after, &plain));
    /* nesting: max_depth containers are fine, one more is refused */
    char deep[2 * HS_JSON_MAX_DEPTH + 3];
    for (size_t d = HS_JSON_MAX_DEPTH; d <= HS_JSON_MAX_DEPTH + 1; d++) {
        memset(deep, '[', d);
        memset(deep + d, ']', d);
        json_t *v = hs_json_build((const uint8_t *)deep, 2 * d, &plain);
        if (d == HS_JSON_MAX_DEPTH)
            assert_non_null(v);
        else
            assert_null(v);
        json_decref(v);
    }
    /* with marks: the reserved mark at the start of a string, a number past max_number */
    assert_null(build("{\"a\":\"\\u0001x\"}", &exact));
    assert_null(build("{\"\\u0001\":1}", &exact));
    char long_num[HS_JSONNUM_MAX_NUMBER + 4];
    memset(long_num, '7', sizeof long_num - 1);
    long_num[sizeof long_num - 1] = '\0';
    assert_null(build(long_num, &exact));
}

static void test_util_jsonbuild_parsers_keep_their_errors(void **state)
{
    (void)state;
    struct hs_error err = {0};
    json_t *v = NULL;
    assert_int_equal(
        hs_json_parse_exact((const uint8_t *)"{\"a\":\"\\u0001\"}", 14, "body", &v, &err),
        HS_EPROTO);
    assert_non_null(strstr(err.msg, "U+0001"));
    assert_int_equal(hs_json_parse((const uint8_t *)"[1e400]", 7, "body", &v, &err), HS_EPROTO);
    assert_non_null(strstr(err.msg, "cannot parse body: line 1"));
    assert_null(v);
    /* and what the fast path accepts still parses */
    assert_int_equal(hs_json_parse((const uint8_t *)"{\"a\":[1]}", 9, "body", &v, &err), HS_OK);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(v, "a"), 0)), 1);
    json_decref(v);
}

int main(void)
{
    hs_alloc_setup_json();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_util_jsonbuild_same_tree_as_jansson),
        cmocka_unit_test(test_util_jsonbuild_marks_numbers),
        cmocka_unit_test(test_util_jsonbuild_refuses_what_the_checked_path_refuses),
        cmocka_unit_test(test_util_jsonbuild_parsers_keep_their_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
