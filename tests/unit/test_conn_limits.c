/*
 * tests/unit/test_conn_limits.c - the "rate_limits" connection setting: parsing
 * (connectors/common/limits.c), both connectors' limits() returning it instead of the
 * published windows, a bad setting refusing the open, and a limiter built from the replaced
 * windows pacing calls by them (fake clock, no I/O).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <jansson.h>

#include "connectors/common/limits.h"
#include "connectors/hubspot/hubspot.h"
#include "connectors/quickbooks/quickbooks.h"
#include "net/ratelimit.h"
#include "util/alloc.h"

struct clock {
    int64_t now;
};

static int64_t clk_now(void *ud)
{
    return ((struct clock *)ud)->now;
}

static void clk_sleep(void *ud, int64_t ms)
{
    ((struct clock *)ud)->now += ms;
}

static uint64_t clk_rand(void *ud)
{
    (void)ud;
    return 1;
}

static json_t *load(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

static void test_conn_limits_parse_valid_absent_and_invalid(void **state)
{
    (void)state;
    struct hs_rate_window w[HS_CONN_MAX_WINDOWS];
    size_t n = 99;
    struct hs_error err = {0};
    assert_int_equal(hs_conn_rate_limits_parse(NULL, w, &n, &err), HS_OK);
    assert_int_equal(n, 0);
    json_t *s = load("{\"minorversion\":75}");
    assert_int_equal(hs_conn_rate_limits_parse(s, w, &n, &err), HS_OK);
    assert_int_equal(n, 0);
    json_decref(s);

    s = load("{\"rate_limits\":[{\"requests\":500,\"window_ms\":1000},"
             "{\"scope\":\"batch\",\"requests\":40,\"window_ms\":1000}]}");
    assert_int_equal(hs_conn_rate_limits_parse(s, w, &n, &err), HS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(w[0].scope, "all");
    assert_int_equal(w[0].limit, 500);
    assert_int_equal(w[0].window_ms, 1000);
    assert_string_equal(w[1].scope, "batch");
    assert_int_equal(w[1].limit, 40);
    json_decref(s);

    static const char *const bad[][2] = {
        {"{\"rate_limits\":[]}", "'rate_limits'"},
        {"{\"rate_limits\":{\"requests\":1}}", "'rate_limits'"},
        {"{\"rate_limits\":[1]}", "'rate_limits[0]'"},
        {"{\"rate_limits\":[{\"requests\":0,\"window_ms\":10}]}", "'rate_limits[0].requests'"},
        {"{\"rate_limits\":[{\"requests\":1,\"window_ms\":10},{\"requests\":1}]}",
         "'rate_limits[1].window_ms'"},
        {"{\"rate_limits\":[{\"requests\":1,\"window_ms\":\"10\"}]}", "'rate_limits[0].window_ms'"},
        {"{\"rate_limits\":[{\"scope\":\"minute\",\"requests\":1,\"window_ms\":10}]}",
         "'rate_limits[0].scope'"},
        {"{\"rate_limits\":[{\"requests\":1,\"window_ms\":1},{\"requests\":1,\"window_ms\":1},"
         "{\"requests\":1,\"window_ms\":1},{\"requests\":1,\"window_ms\":1},"
         "{\"requests\":1,\"window_ms\":1}]}",
         "'rate_limits'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = load(bad[i][0]);
        n = 99;
        hs_error_clear(&err);
        assert_int_equal(hs_conn_rate_limits_parse(s, w, &n, &err), HS_EINVAL);
        assert_int_equal(n, 0);
        assert_non_null(strstr(err.msg, bad[i][1]));
        json_decref(s);
    }
}

struct conn {
    struct clock clk;
    struct hs_env env;
    struct hs_http_transport http;
    struct hs_connector_config cfg;
};

static void conn_init(struct conn *c, const json_t *settings)
{
    memset(c, 0, sizeof *c);
    c->env = (struct hs_env){
        .now_ms = clk_now, .sleep_ms = clk_sleep, .rand64 = clk_rand, .ud = &c->clk};
    c->cfg = (struct hs_connector_config){.name = "x",
                                          .base_url = "http://sandbox.test/p",
                                          .tenant = "123",
                                          .http = &c->http,
                                          .env = &c->env,
                                          .settings = settings};
}

static void test_conn_limits_both_connectors_replace_published_windows(void **state)
{
    (void)state;
    static const struct hs_connector_ops *const ops[] = {&hs_connector_hubspot_ops,
                                                         &hs_connector_quickbooks_ops};
    json_t *s = load("{\"rate_limits\":[{\"requests\":50,\"window_ms\":1000},"
                     "{\"scope\":\"search\",\"requests\":3,\"window_ms\":17}]}");
    for (size_t i = 0; i < 2; i++) {
        struct conn c;
        struct hs_connector *h = NULL;
        struct hs_error err = {0};
        struct hs_connector_limits lim;

        /* without the setting: the published windows */
        conn_init(&c, NULL);
        assert_int_equal(ops[i]->open(&c.cfg, &h, &err), HS_OK);
        ops[i]->limits(h, HS_KIND_CUSTOMER, &lim);
        assert_true(lim.n_windows >= 2);
        assert_int_equal(lim.windows[0].limit, i == 0 ? 100 : 500);
        assert_int_equal(lim.windows[0].window_ms, i == 0 ? 10000 : 60000);
        size_t read_batch = lim.read_batch;
        ops[i]->close(h);

        conn_init(&c, s);
        assert_int_equal(ops[i]->open(&c.cfg, &h, &err), HS_OK);
        ops[i]->limits(h, HS_KIND_INVOICE, &lim);
        assert_int_equal(lim.n_windows, 2);
        assert_string_equal(lim.windows[0].scope, "all");
        assert_int_equal(lim.windows[0].limit, 50);
        assert_int_equal(lim.windows[0].window_ms, 1000);
        assert_string_equal(lim.windows[1].scope, "search");
        assert_int_equal(lim.windows[1].limit, 3);
        assert_int_equal(lim.windows[1].window_ms, 17);
        assert_int_equal(lim.read_batch, read_batch); /* only the windows change */
        ops[i]->close(h);
    }
    json_decref(s);

    /* a bad setting refuses the open, naming the member */
    s = load("{\"rate_limits\":[{\"requests\":-5,\"window_ms\":1000}]}");
    for (size_t i = 0; i < 2; i++) {
        struct conn c;
        struct hs_connector *h = NULL;
        struct hs_error err = {0};
        conn_init(&c, s);
        assert_int_equal(ops[i]->open(&c.cfg, &h, &err), HS_EINVAL);
        assert_null(h);
        assert_non_null(strstr(err.msg, "'rate_limits[0].requests'"));
    }
    json_decref(s);
}

static void test_conn_limits_limiter_from_replaced_windows_paces_calls(void **state)
{
    (void)state;
    /* QuickBooks' published windows compressed 60 times, as the backfill bench hands them */
    json_t *s = load("{\"rate_limits\":[{\"requests\":500,\"window_ms\":1000},"
                     "{\"requests\":10,\"window_ms\":16},"
                     "{\"scope\":\"batch\",\"requests\":40,\"window_ms\":1000}]}");
    struct conn c;
    struct hs_connector *h = NULL;
    struct hs_error err = {0};
    conn_init(&c, s);
    /* the connector is opened through a limiter of its windows, as the CLI does */
    struct hs_ratelimit *rl = NULL;
    assert_int_equal(hs_conn_open_limited(&hs_connector_quickbooks_ops, &c.cfg, &rl, &h, &err),
                     HS_OK);
    assert_non_null(rl);
    assert_ptr_equal(c.cfg.limiter, rl);
    /* 41 batch calls cannot all fit one compressed minute (1000 ms, held 1% + 15 ms longer so
     * that a call never lands in the provider's previous window) */
    assert_int_equal(hs_conn_limiter_window_ms(1000), 1025);
    assert_int_equal(hs_conn_limiter_window_ms(60000), 60615);
    assert_int_equal(hs_conn_limiter_window_ms(86400000), 86401000); /* at most 1 s more */
    int64_t t0 = c.clk.now;
    for (int i = 0; i < 41; i++)
        (void)hs_ratelimit_acquire(rl, "batch");
    assert_int_equal(c.clk.now - t0, 1025);
    hs_connector_quickbooks_ops.close(h);
    hs_ratelimit_free(rl);
    json_decref(s);
}

int main(void)
{
    hs_alloc_setup_json();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conn_limits_parse_valid_absent_and_invalid),
        cmocka_unit_test(test_conn_limits_both_connectors_replace_published_windows),
        cmocka_unit_test(test_conn_limits_limiter_from_replaced_windows_paces_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
