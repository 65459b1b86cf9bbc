/*
 * tests/unit/test_util_json.c - the allocation-free JSON syntax check and how hs_json_parse
 *                               tells bad input from a failed allocation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/json.h"

static int check(const char *text, int depth, bool object_top, struct hs_json_where *w)
{
    return hs_json_check((const uint8_t *)text, strlen(text), depth, object_top, w);
}

static void test_util_json_check_accepts_rfc_8259(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "{}",      "[]",         " {\"a\": [1, -2.5e+3, true, false, null, \"x\\u00e9\\n\"]} ",
        "\"s\"",   "0",          "[\"\\ud83d\\ude00\", \"caf\xc3\xa9\"]",
        "[[[1]]]", "{\"a\":{}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (check(ok[i], 8, false, NULL) != HS_OK)
            fail_msg("rejected: %s", ok[i]);
}

static void test_util_json_check_says_where_and_why(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int line;
        size_t column;
        const char *why;
    } bad[] = {
        {"{\"a\":1,}", 1, 8, "expected a string key"},
        {"{\n  \"a\": tru}", 2, 8, "invalid literal"},
        {"[1 2]", 1, 4, "expected ',' or ']'"},
        {"{\"a\":\"\\u0000\"}", 1, 13, "NUL character (\\u0000) in string"},
        {"[\"\\udc00\"]", 1, 9, "unpaired surrogate in \\u escape"},
        {"[\"\xff\"]", 1, 3, "invalid UTF-8 in string"},
        {"[01]", 1, 3, "expected ',' or ']'"},
        {"{} x", 1, 4, "unexpected data after the value"},
        {"", 1, 1, "unexpected end of input"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hs_json_where w;
        assert_int_equal(check(bad[i].text, 8, false, &w), HS_EPROTO);
        if (w.line != bad[i].line || w.column != bad[i].column || strcmp(w.why, bad[i].why) != 0)
            fail_msg("'%s': line %d column %zu '%s'", bad[i].text, w.line, w.column, w.why);
    }
    struct hs_json_where w;
    assert_int_equal(check("[1]", 8, true, &w), HS_EPROTO);
    assert_string_equal(w.why, "expected an object");
    assert_int_equal(check("[[[[1]]]]", 3, false, &w), HS_ETOOBIG);
    assert_int_equal(check("[[[1]]]", 3, false, &w), HS_OK);
}

static void test_util_json_parse_reports_memory_not_syntax(void **state)
{
    (void)state;
    static const char text[] = "{\"name\":\"Acme\",\"lines\":[{\"qty\":2},{\"qty\":3}],\"x\":null}";
    struct hs_error err = {0};
    json_t *v = NULL;
    /* fail each allocation in turn: the answer is out of memory, never a syntax error */
    int n_fail = 0;
    for (int i = 0; i < 200; i++) {
        failalloc_arm(i);
        int rc = hs_json_parse((const uint8_t *)text, sizeof text - 1, "body", &v, &err);
        bool tripped = failalloc_tripped();
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_false(tripped);
            json_decref(v);
            break;
        }
        n_fail++;
        if (rc != HS_ENOMEM)
            fail_msg("allocation %d: %d %s", i, rc, err.msg);
        assert_null(v);
    }
    assert_true(n_fail > 0);
    /* and content errors stay input errors */
    assert_int_equal(hs_json_parse((const uint8_t *)"{\"a\":1,\"a\":2}", 13, "body", &v, &err),
                     HS_EPROTO);
    assert_non_null(strstr(err.msg, "cannot parse body: line 1"));
    assert_int_equal(hs_json_parse((const uint8_t *)"{\"a\":}", 6, "body", &v, &err), HS_EPROTO);
    assert_string_equal(err.msg, "cannot parse body: line 1 column 6: unexpected character");
}

int main(void)
{
    hs_alloc_setup_json();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_util_json_check_accepts_rfc_8259),
        cmocka_unit_test(test_util_json_check_says_where_and_why),
        cmocka_unit_test(test_util_json_parse_reports_memory_not_syntax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
