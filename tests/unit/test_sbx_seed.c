/*
 * tests/unit/test_sbx_seed.c - the seed parameters benchmarks use: won_pct (share of deals at
 * "closedwon"), lines (line items per deal), usd_deals and an explicit none for customers and
 * overlap_pct (an empty accounting side), both in hs_sbx_world_generate and through
 * POST /_sandbox/seed with the real provider modules (in-process, no sockets).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/sbx.h"
#include "util/alloc.h"
#include "util/json.h"

#define WON "closedwon"

static size_t count_won(const struct hs_sbx_world *w)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n_deals; i++)
        n += strcmp(hs_sbx_deal_stages[w->deals[i].stage], WON) == 0;
    return n;
}

static void test_sbx_seed_all_won_three_lines_empty_accounting(void **state)
{
    (void)state;
    struct hs_sbx_sizes sz = {0};
    sz.companies = 300;
    sz.deals = 500;
    sz.customers = HS_SBX_NONE;
    sz.overlap_pct = HS_SBX_NONE;
    sz.won_pct = 100;
    sz.lines = 3;
    sz.usd_deals = 1;
    struct hs_sbx_world w;
    assert_int_equal(hs_sbx_world_generate(9, &sz, &w), HS_OK);
    assert_int_equal(w.n_companies, 300);
    assert_int_equal(w.n_deals, 500);
    assert_int_equal(count_won(&w), 500);
    for (size_t i = 0; i < w.n_deals; i++) {
        assert_int_equal(w.deals[i].n_lines, 3);
        assert_string_equal(w.deals[i].currency, "USD");
        assert_int_equal(w.persons[w.deals[i].contact].company, w.deals[i].company);
    }
    for (size_t i = 0; i < w.n_companies; i++) {
        assert_true(w.companies[i].in_crm);
        assert_false(w.companies[i].in_accounting);
        assert_string_equal(w.companies[i].acct_name, "");
    }
    hs_sbx_world_release(&w);
}

static void test_sbx_seed_won_share_and_default_unchanged(void **state)
{
    (void)state;
    struct hs_sbx_sizes sz = {0};
    sz.companies = 50;
    sz.deals = 1000;
    sz.won_pct = 30;
    struct hs_sbx_world w;
    assert_int_equal(hs_sbx_world_generate(4, &sz, &w), HS_OK);
    size_t won = count_won(&w);
    assert_in_range(won, 230, 370); /* 30% of 1000, binomial sd ~14.5 */
    bool lines_seen[7] = {false};
    bool other_currency = false;
    for (size_t i = 0; i < w.n_deals; i++) {
        assert_string_equal(w.deals[i].currency, w.companies[w.deals[i].company].currency);
        other_currency |= strcmp(w.deals[i].currency, "USD") != 0;
        assert_in_range(w.deals[i].n_lines, 1, 6);
        lines_seen[w.deals[i].n_lines] = true;
    }
    for (size_t k = 1; k <= 6; k++)
        assert_true(lines_seen[k]); /* lines 0: still 1 to 6 at random */
    assert_true(other_currency);    /* usd_deals 0: deals in their company's currency */
    /* the other deals spread over every other stage */
    bool stage_seen[16] = {false};
    for (size_t i = 0; i < w.n_deals; i++)
        stage_seen[w.deals[i].stage] = true;
    for (size_t s = 0; s < hs_sbx_n_deal_stages; s++)
        assert_true(stage_seen[s]);
    hs_sbx_world_release(&w);

    /* without the new parameters: the first deals take every stage in order, as before */
    sz.won_pct = 0;
    assert_int_equal(hs_sbx_world_generate(4, &sz, &w), HS_OK);
    for (size_t i = 0; i < hs_sbx_n_deal_stages; i++)
        assert_int_equal(w.deals[i].stage, (int)i);
    assert_true(count_won(&w) < 300);
    /* 0 in customers and overlap_pct still means the defaults (10, 50%) */
    assert_int_equal(w.n_companies, 60);
    size_t both = 0;
    for (size_t i = 0; i < 50; i++)
        both += w.companies[i].in_accounting;
    assert_int_equal(both, 25);
    hs_sbx_world_release(&w);
}

static void test_sbx_seed_rejects_out_of_range(void **state)
{
    (void)state;
    struct hs_sbx_world w;
    struct hs_sbx_sizes sz = {0};
    sz.won_pct = 101;
    assert_int_equal(hs_sbx_world_generate(1, &sz, &w), HS_ERANGE);
    sz.won_pct = 0;
    sz.lines = 7;
    assert_int_equal(hs_sbx_world_generate(1, &sz, &w), HS_ERANGE);
    sz.lines = 0;
    sz.usd_deals = 2;
    assert_int_equal(hs_sbx_world_generate(1, &sz, &w), HS_ERANGE);
}

static int admin(struct hs_sbx *sbx, const char *method, const char *path, const char *query,
                 const char *body, json_t **out)
{
    struct hs_http_request req;
    struct hs_http_response resp;
    hs_http_request_init(&req);
    hs_http_response_init(&resp);
    req.method = hs_strdup(method);
    req.path = hs_strdup(path);
    req.query = query != NULL ? hs_strdup(query) : NULL;
    req.peer = hs_strdup("127.0.0.1");
    assert_int_equal(hs_http_headers_add(&req.headers, "Authorization", "Bearer T"), HS_OK);
    if (body != NULL)
        assert_int_equal(hs_buf_puts(&req.body, body), HS_OK);
    assert_int_equal(hs_sbx_handle(sbx, &req, &resp), HS_OK);
    *out = NULL;
    assert_int_equal(
        hs_json_parse((const uint8_t *)resp.body.data, resp.body.len, "response", out, NULL),
        HS_OK);
    int status = resp.status;
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    return status;
}

static void test_sbx_seed_admin_won_lines_and_none(void **state)
{
    (void)state;
    hs_alloc_setup_json();
    struct hs_sbx_options opt = {0};
    opt.static_token = "T";
    opt.no_rate_limits = true;
    opt.time_scale = 1;
    struct hs_sbx *sbx = NULL;
    struct hs_error err = {0};
    assert_int_equal(hs_sbx_open(&opt, &sbx, &err), HS_OK);
    json_t *j = NULL;
    assert_int_equal(admin(sbx, "POST", "/_sandbox/seed", NULL,
                           "{\"seed\":5,\"companies\":20,\"deals\":40,\"customers\":0,"
                           "\"overlap_pct\":0,\"won_pct\":100,\"lines\":3,\"usd_deals\":1}",
                           &j),
                     200);
    assert_int_equal(json_integer_value(json_object_get(j, "companies")), 20);
    assert_int_equal(json_integer_value(json_object_get(j, "customers")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "deals")), 40);
    json_decref(j);

    /* HubSpot holds 40 closed-won deals with 3 line items each: 120 line items */
    assert_int_equal(admin(sbx, "GET", "/hubspot/crm/v3/objects/deals",
                           "limit=100&properties=dealstage,deal_currency_code", NULL, &j),
                     200);
    json_t *results = json_object_get(j, "results");
    assert_int_equal(json_array_size(results), 40);
    for (size_t i = 0; i < json_array_size(results); i++)
        assert_string_equal(
            json_string_value(json_object_get(
                json_object_get(json_array_get(results, i), "properties"), "dealstage")),
            WON);
    for (size_t i = 0; i < json_array_size(results); i++)
        assert_string_equal(
            json_string_value(json_object_get(
                json_object_get(json_array_get(results, i), "properties"), "deal_currency_code")),
            "USD");
    json_decref(j);
    size_t lines = 0;
    char after[32] = "";
    for (;;) {
        char q[64];
        snprintf(q, sizeof q, "limit=100%s%s", after[0] ? "&after=" : "", after);
        assert_int_equal(admin(sbx, "GET", "/hubspot/crm/v3/objects/line_items", q, NULL, &j), 200);
        lines += json_array_size(json_object_get(j, "results"));
        const char *next = json_string_value(
            json_object_get(json_object_get(json_object_get(j, "paging"), "next"), "after"));
        snprintf(after, sizeof after, "%s", next != NULL ? next : "");
        json_decref(j);
        if (after[0] == '\0')
            break;
    }
    assert_int_equal(lines, 120);

    assert_int_equal(admin(sbx, "POST", "/_sandbox/seed", NULL, "{\"lines\":7}", &j), 400);
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "'lines'"));
    json_decref(j);
    assert_int_equal(admin(sbx, "POST", "/_sandbox/seed", NULL, "{\"won_pct\":101}", &j), 400);
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "'won_pct'"));
    json_decref(j);
    hs_sbx_close(sbx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sbx_seed_all_won_three_lines_empty_accounting),
        cmocka_unit_test(test_sbx_seed_won_share_and_default_unchanged),
        cmocka_unit_test(test_sbx_seed_rejects_out_of_range),
        cmocka_unit_test(test_sbx_seed_admin_won_lines_and_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
