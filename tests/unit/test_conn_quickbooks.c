/*
 * tests/unit/test_conn_quickbooks.c - the QuickBooks Online connector against the sandbox.
 *
 * Design:     every case opens a seeded sandbox (seed 7, QuickBooks module only, static token
 *             "T", frozen clock, no rate limits) and the connector on top of it through the
 *             in-process transport, the same code path as real HTTP without sockets. The
 *             connector's env clock follows the sandbox clock (advance() moves both, unless a
 *             case wants them apart). Request counts come from /_sandbox/stats and must equal
 *             the batch minimum. Parse-level cases (cursor, sparse bodies, allocation
 *             failures, exact money helpers of util/jsonnum.h) run without a sandbox.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "connectors/quickbooks/quickbooks.h"
#include "connectors/quickbooks/quickbooks_int.h"
#include "net/ratelimit.h"
#include "sandbox/sbx.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/jsonnum.h"

#define START_MS 1795456800000LL /* 2026-11-23T10:00:00-08:00 */
#define DAY_MS   (86400LL * 1000)

static const struct hs_connector_ops *const ops = &hs_connector_quickbooks_ops;
static const struct hs_sbx_module_ops *const only_qbo[] = {&hs_sbx_quickbooks_ops};

struct t {
    struct hs_sbx *sbx;
    char realm[32];
    struct hs_http_transport http;
    struct hs_env env;
    int64_t now;
    uint64_t rng;
    json_t *settings;
    struct hs_connector *c;
};

static int64_t t_now(void *ud)
{
    return ((struct t *)ud)->now;
}

static void t_sleep(void *ud, int64_t ms)
{
    ((struct t *)ud)->now += ms;
}

static uint64_t t_rand(void *ud)
{
    struct t *t = ud;
    uint64_t z = (t->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void t_log(void *ud, enum hs_log_level level, const char *msg)
{
    (void)ud;
    (void)level;
    (void)msg;
}

static int t_token(void *ud, bool force, char **out, struct hs_error *err)
{
    (void)ud;
    (void)force;
    (void)err;
    *out = hs_strdup("T");
    return *out != NULL ? HS_OK : HS_ENOMEM;
}

/* Admin or raw provider call straight into the sandbox; returns the status, *out the JSON. */
static int sbx_call(struct t *t, const char *method, const char *path, const char *query,
                    const char *body, json_t **out)
{
    struct hs_http_request r;
    struct hs_http_response resp;
    hs_http_request_init(&r);
    hs_http_response_init(&resp);
    r.method = hs_strdup(method);
    r.path = hs_strdup(path);
    r.query = query != NULL ? hs_strdup(query) : NULL;
    assert_int_equal(hs_http_headers_add(&r.headers, "Authorization", "Bearer T"), HS_OK);
    if (body != NULL) {
        assert_int_equal(hs_buf_puts(&r.body, body), HS_OK);
        assert_int_equal(hs_http_headers_add(&r.headers, "Content-Type", "application/json"),
                         HS_OK);
    }
    assert_int_equal(hs_sbx_handle(t->sbx, &r, &resp), HS_OK);
    if (out != NULL)
        *out = json_loadb(resp.body.data != NULL ? resp.body.data : "", resp.body.len, 0, NULL);
    int status = resp.status;
    hs_http_request_release(&r);
    hs_http_response_release(&resp);
    return status;
}

static void advance(struct t *t, int64_t ms, bool env_too)
{
    char body[64];
    snprintf(body, sizeof body, "{\"advance_ms\":%lld}", (long long)ms);
    assert_int_equal(sbx_call(t, "POST", "/_sandbox/clock", NULL, body, NULL), 200);
    if (env_too)
        t->now += ms;
}

static void stats_reset(struct t *t)
{
    assert_int_equal(sbx_call(t, "DELETE", "/_sandbox/stats", NULL, NULL, NULL), 200);
}

/* Requests QuickBooks counted for "METHOD /v3/company/{realm}/<what>". */
static int64_t stats(struct t *t, const char *endpoint)
{
    json_t *s = NULL;
    assert_int_equal(sbx_call(t, "GET", "/_sandbox/stats", NULL, NULL, &s), 200);
    json_t *eps = json_object_get(json_object_get(json_object_get(s, "providers"), "quickbooks"),
                                  "endpoints");
    char key[128];
    snprintf(key, sizeof key, "%s", endpoint);
    int64_t n = endpoint[0] == '*'
                    ? (int64_t)json_integer_value(json_object_get(
                          json_object_get(json_object_get(s, "providers"), "quickbooks"), "total"))
                    : (int64_t)json_integer_value(json_object_get(eps, key));
    json_decref(s);
    return n;
}

#define BATCH "POST /v3/company/{realm}/batch"
#define QUERY "POST /v3/company/{realm}/query"
#define CDC   "GET /v3/company/{realm}/cdc"

static void open_conn(struct t *t)
{
    struct hs_connector_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.name = "accounting";
    cfg.base_url = "http://sandbox/quickbooks";
    cfg.tenant = t->realm;
    cfg.http = &t->http;
    cfg.env = &t->env;
    cfg.token = t_token;
    cfg.settings = t->settings;
    struct hs_error err;
    hs_error_clear(&err);
    int rc = ops->open(&cfg, &t->c, &err);
    if (rc != HS_OK)
        print_error("open: %s\n", err.msg);
    assert_int_equal(rc, HS_OK);
}

static int setup(void **state)
{
    hs_alloc_setup_json();
    struct t *t = hs_calloc(1, sizeof *t);
    assert_non_null(t);
    struct hs_sbx_options opt;
    memset(&opt, 0, sizeof opt);
    opt.seed = 7;
    opt.seeded = true;
    opt.static_token = "T";
    opt.no_rate_limits = true;
    opt.start_ms = START_MS;
    opt.modules = only_qbo;
    opt.n_modules = 1;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_sbx_open(&opt, &t->sbx, &err), HS_OK);
    assert_int_equal(sbx_call(t, "POST", "/_sandbox/clock", NULL, "{\"freeze\":true}", NULL), 200);
    json_t *ten = NULL;
    assert_int_equal(sbx_call(t, "GET", "/_sandbox/tenants", NULL, NULL, &ten), 200);
    snprintf(t->realm, sizeof t->realm, "%s",
             json_string_value(json_object_get(json_object_get(ten, "quickbooks"), "realmId")));
    json_decref(ten);
    assert_int_equal(hs_http_inproc_open(hs_sbx_handle, t->sbx, &t->http, &err), HS_OK);
    t->now = START_MS;
    t->env.now_ms = t_now;
    t->env.rand64 = t_rand;
    t->env.log = t_log;
    t->env.sleep_ms = t_sleep;
    t->env.ud = t;
    t->env.min_level = HS_LOG_ERROR;
    t->settings = json_pack("{s:s, s:i}", "income_account", "2", "minorversion", 75);
    assert_non_null(t->settings);
    open_conn(t);
    stats_reset(t);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    ops->close(t->c);
    json_decref(t->settings);
    hs_http_transport_close(&t->http);
    hs_sbx_close(t->sbx);
    hs_free(t);
    return 0;
}

/* ---- helpers ---------------------------------------------------------------------------- */

static struct hs_record *new_customer(const char *name, const char *currency)
{
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_CUSTOMER, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.display_name, name), HS_OK);
    if (currency != NULL)
        memcpy(r->customer.currency, currency, 4);
    return r;
}

/* Writes w[0..n) of kind; every write must succeed; ids[i] = the answer's id (caller
 * frees; ids may be NULL). */
static void write_ok(struct t *t, enum hs_kind kind, struct hs_write *w, size_t n, char **ids)
{
    struct hs_error err;
    hs_error_clear(&err);
    int rc = ops->write(t->c, kind, w, n, &err);
    if (rc != HS_OK)
        print_error("write: %s\n", err.msg);
    assert_int_equal(rc, HS_OK);
    for (size_t i = 0; i < n; i++) {
        if (w[i].status != HS_OK)
            print_error("record %zu: %s\n", i, w[i].msg);
        assert_int_equal(w[i].status, HS_OK);
        assert_non_null(w[i].result);
        if (ids != NULL)
            ids[i] = hs_strdup(w[i].result->id);
        hs_record_free(w[i].result);
        w[i].result = NULL;
    }
}

/* Creates customers in one batch; returns their ids in ids[] (caller frees). */
static void create_customers(struct t *t, const char *prefix, size_t first, size_t n, char **ids)
{
    struct hs_write w[30];
    struct hs_record *recs[30];
    char keys[30][32];
    assert_true(n <= 30);
    memset(w, 0, sizeof w);
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s %zu", prefix, first + i);
        snprintf(keys[i], sizeof keys[i], "%s-%zu", prefix, first + i);
        recs[i] = new_customer(name, NULL);
        w[i].op = HS_WRITE_CREATE;
        w[i].record = recs[i];
        w[i].idem_key = keys[i];
    }
    write_ok(t, HS_KIND_CUSTOMER, w, n, ids);
    for (size_t i = 0; i < n; i++)
        hs_record_free(recs[i]);
}

static bool has_id(const struct hs_changes *ch, const char *id)
{
    for (size_t i = 0; i < ch->n_items; i++)
        if (strcmp(ch->items[i].id, id) == 0)
            return true;
    return false;
}

static void changes_ok(struct t *t, enum hs_kind kind, const char *cursor, struct hs_changes *out)
{
    struct hs_error err;
    hs_error_clear(&err);
    int rc = ops->changes(t->c, kind, cursor, out, &err);
    if (rc != HS_OK)
        print_error("changes: %s\n", err.msg);
    assert_int_equal(rc, HS_OK);
    assert_non_null(out->cursor);
}

/* ---- changes ------------------------------------------------------------------------------ */

static void test_conn_quickbooks_changes_scan_then_cdc(void **state)
{
    struct t *t = *state;
    struct hs_changes ch;
    /* the seed is written on the sandbox's clock before setup froze it, usually in the same
     * millisecond: a second later, the cursor (QuickBooks' time of the scan) is after every
     * seeded change, as it is with a real realm (CDC counts changes at the cursor again) */
    advance(t, 1000, true);
    changes_ok(t, HS_KIND_CUSTOMER, NULL, &ch);
    /* no cursor: a query scan of every customer, active or not, in one page */
    json_t *cnt = NULL;
    char path[96];
    snprintf(path, sizeof path, "/quickbooks/v3/company/%s/query", t->realm);
    assert_int_equal(sbx_call(t, "GET", path,
                              "query=select%20count(*)%20from%20Customer%20where%20Active%20in%20("
                              "true,false)",
                              NULL, &cnt),
                     200);
    int64_t total =
        json_integer_value(json_object_get(json_object_get(cnt, "QueryResponse"), "totalCount"));
    json_decref(cnt);
    assert_true(total > 5);
    assert_int_equal(ch.n_items, (size_t)total);
    assert_false(ch.more);
    assert_true(strncmp(ch.cursor, "cdc|2026-11-23T10:00:01", 23) == 0);
    assert_int_equal(stats(t, QUERY), 1);
    char *cursor = hs_strdup(ch.cursor);
    hs_changes_release(&ch);
    /* nothing changed: CDC answers empty and the cursor moves to QuickBooks' time */
    advance(t, 60000, true);
    changes_ok(t, HS_KIND_CUSTOMER, cursor, &ch);
    assert_int_equal(ch.n_items, 0);
    assert_false(ch.more);
    assert_int_equal(stats(t, CDC), 1);
    hs_free(cursor);
    cursor = hs_strdup(ch.cursor);
    hs_changes_release(&ch);
    /* one new customer shows up, once */
    advance(t, 1000, true);
    char *id = NULL;
    create_customers(t, "Fresh", 0, 1, &id);
    changes_ok(t, HS_KIND_CUSTOMER, cursor, &ch);
    assert_int_equal(ch.n_items, 1);
    assert_string_equal(ch.items[0].id, id);
    assert_int_equal(ch.items[0].updated_at, START_MS + 62000);
    assert_false(ch.items[0].deleted);
    hs_free(cursor);
    hs_free(id);
    hs_changes_release(&ch);
}

/* 1,020 customers, one batch of 30 per second: CDC caps at 1,000 and the window narrows. */
static void test_conn_quickbooks_cdc_pages_past_the_cap(void **state)
{
    struct t *t = *state;
    struct hs_changes ch;
    advance(t, 1000, true);
    changes_ok(t, HS_KIND_CUSTOMER, NULL, &ch);
    char *cursor = hs_strdup(ch.cursor);
    hs_changes_release(&ch);
    char *ids[1020];
    for (size_t b = 0; b < 34; b++) {
        advance(t, 1000, true);
        create_customers(t, "Paged", b * 30, 30, ids + b * 30);
    }
    stats_reset(t);
    bool seen[1020];
    memset(seen, 0, sizeof seen);
    int calls = 0;
    bool more = true;
    while (more) {
        changes_ok(t, HS_KIND_CUSTOMER, cursor, &ch);
        calls++;
        for (size_t i = 0; i < ch.n_items; i++)
            for (size_t k = 0; k < 1020; k++)
                if (strcmp(ch.items[i].id, ids[k]) == 0)
                    seen[k] = true;
        more = ch.more;
        if (calls == 1) {
            assert_int_equal(ch.n_items, 1000);
            assert_true(more);
            assert_true(strncmp(ch.cursor, "cdc|", 4) == 0);
        }
        hs_free(cursor);
        cursor = hs_strdup(ch.cursor);
        hs_changes_release(&ch);
        assert_true(calls < 5);
    }
    assert_int_equal(calls, 2);
    assert_int_equal(stats(t, CDC), 2);
    for (size_t k = 0; k < 1020; k++) {
        assert_true(seen[k]);
        hs_free(ids[k]);
    }
    hs_free(cursor);
}

/* 1,020 customers in one instant: CDC cannot narrow, so the query scan pages them. */
static void test_conn_quickbooks_cdc_ties_fall_back_to_scan(void **state)
{
    struct t *t = *state;
    struct hs_changes ch;
    advance(t, 1000, true); /* the cursor then lies after the seeded records */
    changes_ok(t, HS_KIND_CUSTOMER, NULL, &ch);
    char *cursor = hs_strdup(ch.cursor);
    hs_changes_release(&ch);
    advance(t, 1000, true);
    char *ids[1020];
    for (size_t b = 0; b < 34; b++)
        create_customers(t, "Tied", b * 30, 30, ids + b * 30);
    stats_reset(t);
    bool seen[1020];
    memset(seen, 0, sizeof seen);
    int calls = 0;
    bool more = true;
    while (more) {
        changes_ok(t, HS_KIND_CUSTOMER, cursor, &ch);
        calls++;
        for (size_t i = 0; i < ch.n_items; i++)
            for (size_t k = 0; k < 1020; k++)
                if (strcmp(ch.items[i].id, ids[k]) == 0)
                    seen[k] = true;
        more = ch.more;
        hs_free(cursor);
        cursor = hs_strdup(ch.cursor);
        hs_changes_release(&ch);
        assert_true(calls < 6);
    }
    /* cdc (1,000, all at one instant) -> scan page (1,000) -> scan page (the rest) */
    assert_int_equal(calls, 3);
    assert_int_equal(stats(t, CDC), 1);
    assert_int_equal(stats(t, QUERY), 2);
    assert_true(strncmp(cursor, "cdc|", 4) == 0);
    for (size_t k = 0; k < 1020; k++) {
        assert_true(seen[k]);
        hs_free(ids[k]);
    }
    hs_free(cursor);
}

static void test_conn_quickbooks_changes_fall_back_after_30_days(void **state)
{
    struct t *t = *state;
    struct hs_changes ch;
    advance(t, 1000, true); /* the cursor then lies after the seeded records */
    changes_ok(t, HS_KIND_CUSTOMER, NULL, &ch);
    char *cursor = hs_strdup(ch.cursor);
    hs_changes_release(&ch);
    /* 31 days on, by both clocks: the connector re-scans without trying CDC */
    advance(t, 31 * DAY_MS, true);
    char *id = NULL;
    create_customers(t, "Late", 0, 1, &id);
    stats_reset(t);
    changes_ok(t, HS_KIND_CUSTOMER, cursor, &ch);
    assert_int_equal(stats(t, CDC), 0);
    assert_int_equal(stats(t, QUERY), 1);
    assert_int_equal(ch.n_items, 1); /* only what changed since the cursor */
    assert_string_equal(ch.items[0].id, id);
    assert_true(strncmp(ch.cursor, "cdc|2026-12-24", 14) == 0);
    hs_free(cursor);
    cursor = hs_strdup(ch.cursor);
    hs_changes_release(&ch);
    /* 31 more days by QuickBooks' clock only: its fault makes the connector re-scan */
    advance(t, 1000, true);
    char *id2 = NULL;
    create_customers(t, "Later", 0, 1, &id2);
    advance(t, 31 * DAY_MS, false);
    stats_reset(t);
    changes_ok(t, HS_KIND_CUSTOMER, cursor, &ch);
    assert_int_equal(stats(t, CDC), 1);
    assert_int_equal(stats(t, QUERY), 1);
    /* "Late" changed at the very instant of the cursor, and the window is inclusive (at least
     * once), so it may come again; nothing older does */
    assert_true(ch.n_items == 1 || (ch.n_items == 2 && has_id(&ch, id)));
    assert_true(has_id(&ch, id2));
    hs_changes_release(&ch);
    hs_free(id);
    hs_free(id2);
    hs_free(cursor);
}

static void test_conn_quickbooks_changes_report_deletes(void **state)
{
    struct t *t = *state;
    struct hs_changes ch;
    changes_ok(t, HS_KIND_INVOICE, NULL, &ch);
    assert_int_equal(ch.n_items, 0);
    char *cursor = hs_strdup(ch.cursor);
    hs_changes_release(&ch);
    advance(t, 1000, true);
    char path[96];
    snprintf(path, sizeof path, "/quickbooks/v3/company/%s/invoice", t->realm);
    json_t *inv = NULL;
    assert_int_equal(sbx_call(t, "POST", path, NULL,
                              "{\"CustomerRef\":{\"value\":\"1\"},\"Line\":[{\"DetailType\":"
                              "\"SalesItemLineDetail\",\"Amount\":10,\"SalesItemLineDetail\":{"
                              "\"ItemRef\":{\"value\":\"1\"},\"Qty\":1,\"UnitPrice\":10}}]}",
                              &inv),
                     200);
    char id[16];
    snprintf(id, sizeof id, "%s",
             json_string_value(json_object_get(json_object_get(inv, "Invoice"), "Id")));
    json_decref(inv);
    char body[96];
    snprintf(body, sizeof body, "{\"Id\":\"%s\",\"SyncToken\":\"0\"}", id);
    assert_int_equal(sbx_call(t, "POST", path, "operation=delete", body, NULL), 200);
    changes_ok(t, HS_KIND_INVOICE, cursor, &ch);
    assert_int_equal(ch.n_items, 1);
    assert_string_equal(ch.items[0].id, id);
    assert_true(ch.items[0].deleted);
    hs_changes_release(&ch);
    hs_free(cursor);
}

/* ---- read ------------------------------------------------------------------------------ */

static void test_conn_quickbooks_read_seeded_records(void **state)
{
    struct t *t = *state;
    const char *ids[] = {"1", "2", "3", "99999", "4"};
    struct hs_record *out[5];
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(ops->read(t->c, HS_KIND_CUSTOMER, ids, 5, out, &err), HS_OK);
    assert_int_equal(stats(t, QUERY), 1);
    for (size_t i = 0; i < 5; i++) {
        if (i == 3) {
            assert_null(out[i]);
            continue;
        }
        assert_non_null(out[i]);
        assert_int_equal(hs_record_validate(out[i], &err), HS_OK);
        assert_string_equal(out[i]->id, ids[i]);
        assert_non_null(out[i]->customer.display_name);
        assert_non_null(out[i]->customer.email);
        assert_int_equal(strlen(out[i]->customer.billing_address.country), 2);
        assert_int_equal(strlen(out[i]->customer.currency), 3);
        assert_string_equal(hs_fields_get(&out[i]->meta, "sync_token"), "0");
        assert_string_equal(out[i]->customer.payment_terms, "Net 30");
        assert_int_equal(out[i]->customer.active, HS_TRI_TRUE);
        assert_int_equal(out[i]->updated_at, START_MS);
        hs_record_free(out[i]);
    }
    /* items: prices exact against the provider's own text */
    const char *iids[] = {"1", "2"};
    assert_int_equal(ops->read(t->c, HS_KIND_ITEM, iids, 2, out, &err), HS_OK);
    char path[96];
    for (size_t i = 0; i < 2; i++) {
        assert_non_null(out[i]);
        assert_int_equal(hs_record_validate(out[i], &err), HS_OK);
        assert_string_equal(out[i]->item.income_account_ref, "2");
        assert_string_equal(out[i]->item.unit_price.currency, "USD");
        snprintf(path, sizeof path, "/quickbooks/v3/company/%s/item/%s", t->realm, iids[i]);
        struct hs_http_request r;
        struct hs_http_response resp;
        hs_http_request_init(&r);
        hs_http_response_init(&resp);
        r.method = hs_strdup("GET");
        r.path = hs_strdup(path);
        assert_int_equal(hs_http_headers_add(&r.headers, "Authorization", "Bearer T"), HS_OK);
        assert_int_equal(hs_sbx_handle(t->sbx, &r, &resp), HS_OK);
        const char *p = strstr(resp.body.data, "\"UnitPrice\":");
        assert_non_null(p);
        p += strlen("\"UnitPrice\":");
        char text[32];
        size_t n = strspn(p, "0123456789.");
        snprintf(text, sizeof text, "%.*s", (int)n, p);
        char mine[32];
        assert_true(hs_money_format(&out[i]->item.unit_price, mine, sizeof mine) > 0);
        assert_string_equal(mine, text); /* the sandbox writes 2 decimals for USD */
        hs_http_request_release(&r);
        hs_http_response_release(&resp);
        hs_record_free(out[i]);
    }
    assert_int_equal(stats(t, QUERY), 2);
    /* unsafe ids never reach the query */
    const char *bad[] = {"1' or '1'='1"};
    assert_int_equal(ops->read(t->c, HS_KIND_CUSTOMER, bad, 1, out, &err), HS_EINVAL);
    assert_null(out[0]);
}

/* Invoices in three currencies: amounts exact at 2, 0 and 3 decimals, written and read. */
static void test_conn_quickbooks_money_exact_usd_jpy_kwd(void **state)
{
    struct t *t = *state;
    static const struct {
        const char *cur;
        const char *price;
        int qty;
        int64_t total_minor;
    } cases[] = {{"USD", "411.50", 3, 123450}, {"JPY", "1234", 3, 3702}, {"KWD", "1.235", 2, 2470}};
    struct hs_write cw[3];
    struct hs_record *cust[3];
    memset(cw, 0, sizeof cw);
    for (size_t i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "Exact %s", cases[i].cur);
        cust[i] = new_customer(name, cases[i].cur);
        cw[i].op = HS_WRITE_CREATE;
        cw[i].record = cust[i];
        cw[i].idem_key = cases[i].cur;
    }
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, cw, 3, &err), HS_OK);
    struct hs_write iw[3];
    struct hs_record *inv[3];
    memset(iw, 0, sizeof iw);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(cw[i].status, HS_OK);
        assert_string_equal(cw[i].result->customer.currency, cases[i].cur);
        assert_int_equal(hs_record_new(HS_KIND_INVOICE, &inv[i]), HS_OK);
        struct hs_invoice *v = &inv[i]->invoice;
        assert_int_equal(hs_record_set_str(&v->customer_ref, cw[i].result->id), HS_OK);
        memcpy(v->currency, cases[i].cur, 4);
        v->tax_mode = HS_TAX_NONE;
        assert_int_equal(hs_record_set_str(&v->memo, "deal 42"), HS_OK);
        struct hs_invoice_line *ln = NULL;
        assert_int_equal(hs_record_add_line(inv[i], &ln), HS_OK);
        assert_int_equal(hs_record_set_str(&ln->item_ref, "1"), HS_OK);
        assert_int_equal(hs_decimal_from_int(cases[i].qty, &ln->quantity, &err), HS_OK);
        ln->has_quantity = true;
        assert_int_equal(hs_money_parse_exact(cases[i].price, strlen(cases[i].price), cases[i].cur,
                                              &ln->unit_price, &err),
                         HS_OK);
        iw[i].op = HS_WRITE_CREATE;
        iw[i].record = inv[i];
        iw[i].idem_key = cases[i].cur;
    }
    assert_int_equal(ops->write(t->c, HS_KIND_INVOICE, iw, 3, &err), HS_OK);
    const char *ids[3];
    for (size_t i = 0; i < 3; i++) {
        if (iw[i].status != HS_OK)
            print_error("invoice %zu: %s\n", i, iw[i].msg);
        assert_int_equal(iw[i].status, HS_OK);
        const struct hs_invoice *v = &iw[i].result->invoice;
        assert_string_equal(v->total.currency, cases[i].cur);
        assert_int_equal(v->total.minor, cases[i].total_minor);
        assert_int_equal(v->balance.minor, cases[i].total_minor);
        assert_int_equal(v->amount_paid.minor, 0);
        assert_int_equal(v->status, HS_INVOICE_OPEN);
        assert_int_equal(v->lines[0].amount.minor, cases[i].total_minor);
        assert_non_null(hs_fields_get(&iw[i].result->meta, "url"));
        ids[i] = iw[i].result->id;
    }
    struct hs_record *back[3];
    assert_int_equal(ops->read(t->c, HS_KIND_INVOICE, ids, 3, back, &err), HS_OK);
    for (size_t i = 0; i < 3; i++) {
        assert_non_null(back[i]);
        assert_int_equal(hs_record_validate(back[i], &err), HS_OK);
        assert_int_equal(back[i]->invoice.total.minor, cases[i].total_minor);
        assert_string_equal(back[i]->invoice.memo, "deal 42");
        assert_int_equal(back[i]->invoice.tax_mode, HS_TAX_NONE);
        assert_true(hs_date_valid(back[i]->invoice.due_date));
        hs_record_free(back[i]);
    }
    for (size_t i = 0; i < 3; i++) {
        hs_record_free(cw[i].result);
        hs_record_free(iw[i].result);
        hs_record_free(cust[i]);
        hs_record_free(inv[i]);
    }
}

static void test_conn_quickbooks_payment_marks_invoice_partially_paid(void **state)
{
    struct t *t = *state;
    char path[96];
    snprintf(path, sizeof path, "/quickbooks/v3/company/%s/invoice", t->realm);
    json_t *inv = NULL;
    assert_int_equal(sbx_call(t, "POST", path, NULL,
                              "{\"CustomerRef\":{\"value\":\"1\"},\"GlobalTaxCalculation\":"
                              "\"NotApplicable\",\"Line\":[{\"DetailType\":\"SalesItemLineDetail\","
                              "\"Amount\":100.50,\"SalesItemLineDetail\":{\"ItemRef\":{\"value\":"
                              "\"1\"},\"Qty\":1,\"UnitPrice\":100.5}}]}",
                              &inv),
                     200);
    const char *iid = json_string_value(json_object_get(json_object_get(inv, "Invoice"), "Id"));
    struct hs_record *p = NULL;
    assert_int_equal(hs_record_new(HS_KIND_PAYMENT, &p), HS_OK);
    assert_int_equal(hs_record_set_str(&p->payment.customer_ref, "1"), HS_OK);
    struct hs_error err;
    assert_int_equal(hs_money_parse_exact("40.25", 5, "USD", &p->payment.amount, &err), HS_OK);
    struct hs_payment_applied *a = NULL;
    assert_int_equal(hs_record_add_applied(p, &a), HS_OK);
    assert_int_equal(hs_record_set_str(&a->invoice_ref, iid), HS_OK);
    a->amount = p->payment.amount;
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_CREATE;
    w.record = p;
    w.idem_key = "pay-1";
    assert_int_equal(ops->write(t->c, HS_KIND_PAYMENT, &w, 1, &err), HS_OK);
    assert_int_equal(w.status, HS_OK);
    assert_int_equal(w.result->payment.amount.minor, 4025);
    assert_int_equal(w.result->payment.n_applied, 1);
    assert_string_equal(w.result->payment.applied[0].invoice_ref, iid);
    struct hs_record *back = NULL;
    const char *ids[] = {iid};
    assert_int_equal(ops->read(t->c, HS_KIND_INVOICE, ids, 1, &back, &err), HS_OK);
    assert_int_equal(back->invoice.status, HS_INVOICE_PARTIALLY_PAID);
    assert_int_equal(back->invoice.amount_paid.minor, 4025);
    assert_int_equal(back->invoice.balance.minor, 6025);
    hs_record_free(back);
    hs_record_free(w.result);
    hs_record_free(p);
    json_decref(inv);
}

/* ---- write ----------------------------------------------------------------------------- */

static void test_conn_quickbooks_create_twice_same_idem_keys(void **state)
{
    struct t *t = *state;
    struct hs_record *a = new_customer("Twice Co", "EUR");
    struct hs_record *b = new_customer("Twice Two", NULL);
    struct hs_write w[2];
    memset(w, 0, sizeof w);
    w[0] = (struct hs_write){.op = HS_WRITE_CREATE, .record = a, .idem_key = "deal-1"};
    w[1] = (struct hs_write){.op = HS_WRITE_CREATE, .record = b, .idem_key = "deal-2"};
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, w, 2, &err), HS_OK);
    char id0[16], id1[16];
    snprintf(id0, sizeof id0, "%s", w[0].result->id);
    snprintf(id1, sizeof id1, "%s", w[1].result->id);
    hs_record_free(w[0].result);
    hs_record_free(w[1].result);
    w[0].result = w[1].result = NULL;
    /* the retry (say the answer was lost) is replayed: same ids, no duplicate */
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, w, 2, &err), HS_OK);
    assert_int_equal(w[0].status, HS_OK);
    assert_int_equal(w[1].status, HS_OK);
    assert_string_equal(w[0].result->id, id0);
    assert_string_equal(w[1].result->id, id1);
    assert_int_equal(stats(t, BATCH), 2);
    struct hs_changes ch;
    changes_ok(t, HS_KIND_CUSTOMER, NULL, &ch);
    size_t twice = 0;
    for (size_t i = 0; i < ch.n_items; i++)
        twice += strcmp(ch.items[i].id, id0) == 0 || strcmp(ch.items[i].id, id1) == 0;
    assert_int_equal(twice, 2);
    hs_changes_release(&ch);
    hs_record_free(w[0].result);
    hs_record_free(w[1].result);
    /* other idem keys are another logical create: QuickBooks refuses the duplicate name */
    w[0].idem_key = "deal-3";
    w[0].result = NULL;
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, w, 1, &err), HS_OK);
    assert_int_equal(w[0].status, HS_EEXIST);
    hs_record_free(a);
    hs_record_free(b);
}

static void test_conn_quickbooks_stale_sync_token_conflicts(void **state)
{
    struct t *t = *state;
    const char *ids[] = {"1"};
    struct hs_record *r = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(ops->read(t->c, HS_KIND_CUSTOMER, ids, 1, &r, &err), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.notes, "first"), HS_OK);
    const char *fields[] = {"notes"};
    struct hs_write w = {.op = HS_WRITE_UPDATE, .record = r, .fields = fields, .n_fields = 1};
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, &w, 1, &err), HS_OK);
    assert_int_equal(w.status, HS_OK);
    assert_string_equal(hs_fields_get(&w.result->meta, "sync_token"), "1");
    assert_string_equal(w.result->customer.notes, "first");
    /* a sparse update leaves the other fields alone */
    assert_string_equal(w.result->customer.display_name, r->customer.display_name);
    hs_record_free(w.result);
    w.result = NULL;
    /* the same SyncToken again is stale */
    assert_int_equal(hs_record_set_str(&r->customer.notes, "second"), HS_OK);
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, &w, 1, &err), HS_OK);
    assert_int_equal(w.status, HS_ECONFLICT);
    assert_non_null(strstr(w.msg, "Stale Object Error"));
    assert_null(w.result);
    /* blanking a value: the email goes away */
    hs_record_free(r);
    r = NULL;
    assert_int_equal(ops->read(t->c, HS_KIND_CUSTOMER, ids, 1, &r, &err), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.email, NULL), HS_OK);
    const char *ef[] = {"email"};
    struct hs_write w2 = {.op = HS_WRITE_UPDATE, .record = r, .fields = ef, .n_fields = 1};
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, &w2, 1, &err), HS_OK);
    assert_int_equal(w2.status, HS_OK);
    assert_true(w2.result->customer.email == NULL || w2.result->customer.email[0] == '\0');
    hs_record_free(w2.result);
    hs_record_free(r);
}

static void test_conn_quickbooks_partial_batch_failure(void **state)
{
    struct t *t = *state;
    const char *ids[] = {"1"};
    struct hs_record *seeded = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(ops->read(t->c, HS_KIND_CUSTOMER, ids, 1, &seeded, &err), HS_OK);
    struct hs_record *ok1 = new_customer("Batch Good One", NULL);
    struct hs_record *dup = new_customer(seeded->customer.display_name, NULL);
    struct hs_record *bad = new_customer("Bad: colon", NULL);
    struct hs_record *ok2 = new_customer("Batch Good Two", NULL);
    struct hs_record *notok = new_customer("No token", NULL);
    assert_int_equal(hs_record_set_str(&notok->id, "1"), HS_OK);
    stats_reset(t);
    struct hs_write w[5];
    memset(w, 0, sizeof w);
    w[0] = (struct hs_write){.op = HS_WRITE_CREATE, .record = ok1, .idem_key = "p1"};
    w[1] = (struct hs_write){.op = HS_WRITE_CREATE, .record = dup, .idem_key = "p2"};
    w[2] = (struct hs_write){.op = HS_WRITE_CREATE, .record = bad, .idem_key = "p3"};
    w[3] = (struct hs_write){.op = HS_WRITE_UPDATE, .record = notok};
    w[4] = (struct hs_write){.op = HS_WRITE_CREATE, .record = ok2, .idem_key = "p5"};
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, w, 5, &err), HS_OK);
    assert_int_equal(w[0].status, HS_OK);
    assert_non_null(w[0].result);
    assert_int_equal(w[1].status, HS_EEXIST);
    assert_non_null(strstr(w[1].msg, "already using this name"));
    assert_null(w[1].result);
    assert_int_equal(w[2].status, HS_EINVAL);
    assert_true(strlen(w[2].msg) > 0);
    assert_int_equal(w[3].status, HS_EINVAL);
    assert_non_null(strstr(w[3].msg, "SyncToken"));
    assert_int_equal(w[4].status, HS_OK);
    assert_non_null(w[4].result);
    assert_int_equal(stats(t, "*"), 1); /* one batch for all of them */
    for (size_t i = 0; i < 5; i++)
        hs_record_free(w[i].result);
    hs_record_free(seeded);
    hs_record_free(ok1);
    hs_record_free(dup);
    hs_record_free(bad);
    hs_record_free(ok2);
    hs_record_free(notok);
}

static void test_conn_quickbooks_batch_too_big(void **state)
{
    struct t *t = *state;
    assert_int_equal(
        sbx_call(t, "POST", "/quickbooks/_sandbox/settings", NULL, "{\"batch_max\":10}", NULL),
        200);
    struct hs_record *recs[11];
    struct hs_write w[31];
    char keys[11][16];
    memset(w, 0, sizeof w);
    for (size_t i = 0; i < 11; i++) {
        char name[32];
        snprintf(name, sizeof name, "Big %zu", i);
        snprintf(keys[i], sizeof keys[i], "big-%zu", i);
        recs[i] = new_customer(name, NULL);
        w[i] = (struct hs_write){.op = HS_WRITE_CREATE, .record = recs[i], .idem_key = keys[i]};
    }
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, w, 11, &err), HS_ETOOBIG);
    assert_non_null(strstr(err.msg, "too large"));
    /* halved, it goes through */
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, w, 5, &err), HS_OK);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(w[i].status, HS_OK);
        hs_record_free(w[i].result);
    }
    /* more than the connector's own batch_max never leaves the process */
    stats_reset(t);
    for (size_t i = 11; i < 31; i++)
        w[i] = w[0];
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, w, 31, &err), HS_ETOOBIG);
    assert_int_equal(stats(t, "*"), 0);
    for (size_t i = 0; i < 11; i++)
        hs_record_free(recs[i]);
}

/* Request counts equal the batch minimum: 30 creates = 1 batch, 30 reads = 1 query. */
static void test_conn_quickbooks_request_counts_are_minimal(void **state)
{
    struct t *t = *state;
    char *ids[30];
    create_customers(t, "Count", 0, 30, ids);
    assert_int_equal(stats(t, BATCH), 1);
    struct hs_record *out[30];
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(ops->read(t->c, HS_KIND_CUSTOMER, (const char *const *)ids, 30, out, &err),
                     HS_OK);
    assert_int_equal(stats(t, QUERY), 1);
    assert_int_equal(stats(t, "*"), 2);
    for (size_t i = 0; i < 30; i++) {
        assert_non_null(out[i]);
        assert_string_equal(out[i]->id, ids[i]);
        hs_record_free(out[i]);
        hs_free(ids[i]);
    }
    struct hs_connector_limits lim;
    ops->limits(t->c, HS_KIND_CUSTOMER, &lim);
    assert_int_equal(lim.read_batch, 1000);
    assert_int_equal(lim.write_batch, 30);
    assert_int_equal(lim.n_windows, 3);
    assert_string_equal(lim.windows[2].scope, "batch");
    assert_int_equal(lim.windows[2].limit, 40);
    assert_int_equal(ops->kinds(t->c), (1u << HS_KIND_CUSTOMER) | (1u << HS_KIND_ITEM) |
                                           (1u << HS_KIND_INVOICE) | (1u << HS_KIND_PAYMENT));
}

static void test_conn_quickbooks_item_create_uses_settings(void **state)
{
    struct t *t = *state;
    struct hs_record *it = NULL;
    assert_int_equal(hs_record_new(HS_KIND_ITEM, &it), HS_OK);
    assert_int_equal(hs_record_set_str(&it->item.name, "Consulting hour"), HS_OK);
    struct hs_error err;
    assert_int_equal(hs_money_parse_exact("150.5", 5, "USD", &it->item.unit_price, &err), HS_OK);
    struct hs_write w = {.op = HS_WRITE_CREATE, .record = it, .idem_key = "prod-1"};
    assert_int_equal(ops->write(t->c, HS_KIND_ITEM, &w, 1, &err), HS_OK);
    if (w.status != HS_OK)
        print_error("%s\n", w.msg);
    assert_int_equal(w.status, HS_OK);
    assert_string_equal(w.result->item.income_account_ref, "2");
    assert_int_equal(w.result->item.unit_price.minor, 15050);
    assert_string_equal(hs_fields_get(&w.result->meta, "item_type"), "Service");
    hs_record_free(w.result);
    /* a price in another currency than the home currency is refused with a reason */
    assert_int_equal(hs_money_parse_exact("1", 1, "EUR", &it->item.unit_price, &err), HS_OK);
    w.result = NULL;
    w.idem_key = "prod-2";
    assert_int_equal(ops->write(t->c, HS_KIND_ITEM, &w, 1, &err), HS_OK);
    assert_int_equal(w.status, HS_EINVAL);
    assert_non_null(strstr(w.msg, "home currency"));
    /* an income account QuickBooks does not have: the message says which setting to check */
    assert_int_equal(hs_money_parse_exact("1", 1, "USD", &it->item.unit_price, &err), HS_OK);
    assert_int_equal(hs_record_set_str(&it->item.income_account_ref, "79"), HS_OK);
    assert_int_equal(hs_record_set_str(&it->item.name, "Consulting day"), HS_OK);
    w.result = NULL;
    w.idem_key = "prod-3";
    assert_int_equal(ops->write(t->c, HS_KIND_ITEM, &w, 1, &err), HS_OK);
    assert_int_equal(w.status, HS_ENOTFOUND);
    assert_non_null(strstr(w.msg, "(is the item's income account active? setting "
                                  "'income_account': 2)"));
    hs_record_free(w.result);
    hs_record_free(it);
}

/* ---- webhook --------------------------------------------------------------------------- */

static void test_conn_quickbooks_webhook_verification(void **state)
{
    struct t *t = *state;
    json_t *events = json_pack(
        "[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s},"
        " {s:s, s:s, s:s, s:s, s:s}]",
        "realmId", t->realm, "name", "Customer", "id", "1", "operation", "Update", "lastUpdated",
        "2026-11-23T10:00:00-08:00", "realmId", t->realm, "name", "Invoice", "id", "7", "operation",
        "Delete", "lastUpdated", "2026-11-23T10:00:01-08:00", "realmId", t->realm, "name", "Vendor",
        "id", "3", "operation", "Create", "lastUpdated", "2026-11-23T10:00:01-08:00", "realmId",
        "999", "name", "Customer", "id", "9", "operation", "Create", "lastUpdated",
        "2026-11-23T10:00:01-08:00");
    assert_non_null(events);
    struct hs_http_request req;
    hs_http_request_init(&req);
    assert_int_equal(hs_sbx_quickbooks_ops.webhook_request(NULL, events, "verifier",
                                                           "http://127.0.0.1:9/hook", &req),
                     HS_OK);
    json_decref(events);
    struct hs_changes ch;
    struct hs_error err;
    hs_error_clear(&err);
    int rc = ops->webhook(t->c, &req, "verifier", &ch, &err);
    if (rc != HS_OK)
        print_error("webhook: %s\n", err.msg);
    assert_int_equal(rc, HS_OK);
    assert_int_equal(ch.n_items, 2); /* the Vendor and the other realm are skipped */
    assert_string_equal(ch.items[0].id, "1");
    assert_int_equal(ch.items[0].kind, HS_KIND_CUSTOMER);
    assert_false(ch.items[0].deleted);
    assert_int_equal(ch.items[0].updated_at, START_MS);
    assert_string_equal(ch.items[1].id, "7");
    assert_int_equal(ch.items[1].kind, HS_KIND_INVOICE);
    assert_true(ch.items[1].deleted);
    hs_changes_release(&ch);
    /* wrong verifier, tampered body, missing or garbled signature */
    assert_int_equal(ops->webhook(t->c, &req, "other", &ch, &err), HS_EAUTH);
    assert_int_equal(ch.n_items, 0);
    req.body.data[req.body.len - 2] ^= 1;
    assert_int_equal(ops->webhook(t->c, &req, "verifier", &ch, &err), HS_EAUTH);
    req.body.data[req.body.len - 2] ^= 1;
    assert_int_equal(hs_http_headers_set(&req.headers, "intuit-signature", "bm9wZQ=="), HS_OK);
    assert_int_equal(ops->webhook(t->c, &req, "verifier", &ch, &err), HS_EAUTH);
    assert_int_equal(hs_http_headers_set(&req.headers, "intuit-signature", "***"), HS_OK);
    assert_int_equal(ops->webhook(t->c, &req, "verifier", &ch, &err), HS_EAUTH);
    hs_http_request_release(&req);
    hs_http_request_init(&req);
    assert_int_equal(ops->webhook(t->c, &req, "verifier", &ch, &err), HS_EAUTH);
    assert_non_null(strstr(err.msg, "intuit-signature"));
    hs_http_request_release(&req);
}

/* ---- no sandbox: parse and build ----------------------------------------------------------- */

static void test_conn_quickbooks_exact_money_helpers(void **state)
{
    (void)state;
    json_t *v = NULL;
    const char *in = "{\"TotalAmt\":1234.5,\"J\":100,\"K\":1.235,\"Bad\":1.234,\"S\":\"2.50\","
                     "\"Qty\":0.333333,\"B\":true}";
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_json_parse_exact((const uint8_t *)in, strlen(in), "x", &v, &err), HS_OK);
    struct hs_money m;
    assert_int_equal(hs_json_money(v, "TotalAmt", "USD", &m, &err), HS_OK);
    assert_int_equal(m.minor, 123450);
    assert_int_equal(hs_json_money(v, "J", "JPY", &m, &err), HS_OK);
    assert_int_equal(m.minor, 100);
    assert_int_equal(hs_json_money(v, "K", "KWD", &m, &err), HS_OK);
    assert_int_equal(m.minor, 1235);
    assert_int_equal(hs_json_money(v, "S", "USD", &m, &err), HS_OK);
    assert_int_equal(m.minor, 250);
    assert_int_equal(hs_json_money(v, "Bad", "USD", &m, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "field 'Bad'"));
    assert_int_equal(hs_json_money(v, "B", "USD", &m, &err), HS_EPROTO);
    assert_int_equal(hs_json_money(v, "None", "USD", &m, &err), HS_ENOTFOUND);
    struct hs_decimal d;
    assert_int_equal(hs_json_decimal(v, "Qty", &d, &err), HS_OK);
    assert_int_equal(d.v, 333333);
    json_decref(v);
    /* writer: exact text out, as a bare number */
    json_t *o = json_object();
    assert_int_equal(hs_money_parse_exact("1.5", 3, "KWD", &m, &err), HS_OK);
    assert_int_equal(json_object_set_new(o, "A", hs_json_money_new(&m)), 0);
    assert_int_equal(json_object_set_new(o, "Q", hs_json_decimal_new(d)), 0);
    struct hs_buf b;
    hs_buf_init(&b);
    assert_int_equal(hs_json_dump_exact(o, &b), HS_OK);
    assert_string_equal(b.data, "{\"A\":1.500,\"Q\":0.333333}");
    hs_buf_release(&b);
    json_decref(o);
}

static void test_conn_quickbooks_cursor_parse(void **state)
{
    (void)state;
    struct hs_quickbooks_cursor c;
    struct hs_error err;
    const char *good[] = {"cdc|2026-11-23T10:00:00-08:00", "scan||1",
                          "scan|2026-11-23T10:00:00.123-08:00|1001", "cdc|2026-11-23T18:00:00Z"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(hs_quickbooks_cursor_parse(good[i], strlen(good[i]), &c, &err), HS_OK);
        char *s = hs_quickbooks_cursor_format(&c);
        assert_string_equal(s, good[i]);
        hs_free(s);
    }
    const char *bad[] = {"",
                         "cdc|",
                         "cdc|yesterday",
                         "scan|2026-11-23T10:00:00Z",
                         "x|y",
                         "scan||0",
                         "scan||-1",
                         "scan||1x",
                         "scan||+1",
                         "scan||01",
                         "cdc|2026-02-30T10:00:00Z",
                         "cdc|2026-11-23T10:00:00+25:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hs_error_clear(&err);
        assert_int_equal(hs_quickbooks_cursor_parse(bad[i], strlen(bad[i]), &c, &err), HS_EINVAL);
        assert_non_null(strstr(err.msg, "QuickBooks cursor"));
    }
    int64_t ms = 0;
    assert_int_equal(hs_quickbooks_time_parse("2026-11-23T10:00:00-08:00", 25, &ms), HS_OK);
    assert_int_equal(ms, START_MS);
    assert_int_equal(hs_quickbooks_time_parse("2026-11-23T18:00:00.5Z", 22, &ms), HS_OK);
    assert_int_equal(ms, START_MS + 500);
}

static void test_conn_quickbooks_sparse_update_body(void **state)
{
    (void)state;
    struct hs_quickbooks_opts o;
    memset(&o, 0, sizeof o);
    memcpy(o.home_currency, "USD", 4);
    struct hs_record *r = new_customer("Acme", "EUR");
    assert_int_equal(hs_record_set_str(&r->id, "12"), HS_OK);
    assert_int_equal(hs_fields_set(&r->meta, "sync_token", "4"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.email, "ap@acme.test"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.billing_address.city, "Lyon"), HS_OK);
    memcpy(r->customer.billing_address.country, "FR", 3);
    const char *fields[] = {"email", "billing_address.city", "company_name", "currency"};
    struct hs_write w = {.op = HS_WRITE_UPDATE, .record = r, .fields = fields, .n_fields = 4};
    json_t *body = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_quickbooks_build(HS_KIND_CUSTOMER, &w, &o, &body, &err), HS_OK);
    struct hs_buf b;
    hs_buf_init(&b);
    assert_int_equal(hs_json_dump_exact(body, &b), HS_OK);
    /* whole elements for what changed, a blank for the company name that went away, never
     * the currency (QuickBooks does not change it) nor the display name */
    assert_string_equal(b.data, "{\"CompanyName\":\"\",\"PrimaryEmailAddr\":{\"Address\":"
                                "\"ap@acme.test\"},\"BillAddr\":{\"City\":\"Lyon\","
                                "\"Country\":\"FR\"},\"Id\":\"12\",\"SyncToken\":\"4\","
                                "\"sparse\":true}");
    hs_buf_release(&b);
    json_decref(body);
    /* an update of nothing QuickBooks stores needs no request */
    const char *none[] = {"currency", "custom.x"};
    w.fields = none;
    w.n_fields = 2;
    assert_int_equal(hs_quickbooks_build(HS_KIND_CUSTOMER, &w, &o, &body, &err), HS_OK);
    assert_null(body);
    /* request ids: stable for the same writes, different for others */
    struct hs_write c1 = {.op = HS_WRITE_CREATE, .record = r, .idem_key = "k1"};
    struct hs_write c2 = {.op = HS_WRITE_CREATE, .record = r, .idem_key = "k2"};
    char a[36], a2[36], x[36], u1[36], u2[36];
    const char *b1[] = {"{\"DisplayName\":\"A\"}"};
    const char *b2[] = {"{\"DisplayName\":\"B\"}"};
    hs_quickbooks_request_id("1", HS_KIND_CUSTOMER, &c1, b1, 1, a);
    hs_quickbooks_request_id("1", HS_KIND_CUSTOMER, &c1, b2, 1, a2);
    hs_quickbooks_request_id("1", HS_KIND_CUSTOMER, &c2, b1, 1, x);
    assert_string_equal(a, a2); /* a create is known by its idem_key alone */
    assert_string_not_equal(a, x);
    assert_int_equal(strlen(a), 35);
    struct hs_write up = {.op = HS_WRITE_UPDATE, .record = r};
    hs_quickbooks_request_id("1", HS_KIND_CUSTOMER, &up, b1, 1, u1);
    hs_quickbooks_request_id("1", HS_KIND_CUSTOMER, &up, b2, 1, u2);
    assert_string_not_equal(u1, u2); /* an update by what it sends */
    hs_record_free(r);
}

static const char invoice_json[] =
    "{\"QueryResponse\":{\"Invoice\":[{\"Id\":\"5\",\"SyncToken\":\"2\",\"DocNumber\":\"1001\","
    "\"CustomerRef\":{\"value\":\"1\"},\"CurrencyRef\":{\"value\":\"USD\"},\"TxnDate\":"
    "\"2026-11-23\",\"DueDate\":\"2026-12-23\",\"GlobalTaxCalculation\":\"TaxInclusive\","
    "\"Line\":[{\"Amount\":16.67,\"DetailType\":\"SalesItemLineDetail\",\"Description\":\"W\","
    "\"SalesItemLineDetail\":{\"ItemRef\":{\"value\":\"1\"},\"UnitPrice\":10.005,\"Qty\":2,"
    "\"TaxCodeRef\":{\"value\":\"4\"},\"TaxInclusiveAmt\":20.01}},{\"Amount\":16.67,"
    "\"DetailType\":\"SubTotalLineDetail\",\"SubTotalLineDetail\":{}},{\"Amount\":2.00,"
    "\"DetailType\":\"DiscountLineDetail\",\"DiscountLineDetail\":{\"PercentBased\":true,"
    "\"DiscountPercent\":10}}],\"TxnTaxDetail\":{\"TotalTax\":3.00},\"TotalAmt\":18.01,"
    "\"Balance\":0,\"PrivateNote\":\"deal\",\"MetaData\":{\"LastUpdatedTime\":"
    "\"2026-11-23T10:00:00-08:00\"}}]},\"time\":\"2026-11-23T10:00:01.000-08:00\"}";

static void test_conn_quickbooks_parse_invoice(void **state)
{
    (void)state;
    struct hs_quickbooks_opts o;
    memset(&o, 0, sizeof o);
    memcpy(o.home_currency, "USD", 4);
    o.app_url = "https://app.qbo.intuit.com";
    struct hs_quickbooks_page p;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_quickbooks_parse_list((const uint8_t *)invoice_json, strlen(invoice_json),
                                              HS_KIND_INVOICE, false, true, &o, &p, &err),
                     HS_OK);
    assert_int_equal(p.n_items, 1);
    assert_string_equal(p.time, "2026-11-23T10:00:01.000-08:00");
    const struct hs_record *r = p.items[0].rec;
    assert_non_null(r);
    assert_int_equal(r->invoice.n_lines, 2);
    /* inclusive: the gross amount; the price rounded to cents once, on read */
    assert_int_equal(r->invoice.lines[0].amount.minor, 2001);
    assert_int_equal(r->invoice.lines[0].unit_price.minor, 1001);
    assert_int_equal(r->invoice.lines[0].quantity.v, 2 * HS_DECIMAL_ONE);
    assert_int_equal(r->invoice.lines[1].amount.minor, -200);
    assert_int_equal(r->invoice.lines[1].discount_percent.v, 10 * HS_DECIMAL_ONE);
    assert_int_equal(r->invoice.subtotal.minor, 1667);
    assert_int_equal(r->invoice.tax.minor, 300);
    assert_int_equal(r->invoice.total.minor, 1801);
    assert_int_equal(r->invoice.status, HS_INVOICE_PAID);
    assert_string_equal(hs_fields_get(&r->meta, "url"),
                        "https://app.qbo.intuit.com/app/invoice?txnId=5");
    /* building it again gives QuickBooks' shape back: discount line positive, percent based */
    struct hs_write w = {.op = HS_WRITE_CREATE, .record = r, .idem_key = "x"};
    json_t *body = NULL;
    assert_int_equal(hs_quickbooks_build(HS_KIND_INVOICE, &w, &o, &body, &err), HS_OK);
    struct hs_buf b;
    hs_buf_init(&b);
    assert_int_equal(hs_json_dump_exact(body, &b), HS_OK);
    assert_non_null(strstr(b.data, "\"DiscountLineDetail\":{\"PercentBased\":true,"
                                   "\"DiscountPercent\":10},\"DetailType\":"
                                   "\"DiscountLineDetail\",\"Amount\":2.00}"));
    assert_non_null(strstr(b.data, "\"Amount\":20.01"));
    assert_non_null(strstr(b.data, "\"Qty\":2,"));
    assert_non_null(strstr(b.data, "\"GlobalTaxCalculation\":\"TaxInclusive\""));
    hs_buf_release(&b);
    json_decref(body);
    hs_quickbooks_page_release(&p);
    /* bad shapes fail with a message and leave nothing behind */
    const char *bad[] = {"[]",
                         "{}",
                         "{\"QueryResponse\":{\"Invoice\":{}}}",
                         "{\"QueryResponse\":{\"Invoice\":[{\"SyncToken\":\"1\"}]}}",
                         "{\"QueryResponse\":{\"Invoice\":[{\"Id\":\"1\",\"TotalAmt\":1.001}]}}",
                         ("{\"QueryResponse\":{\"Invoice\":[{\"Id\":\"1\",\"CurrencyRef\":{"
                          "\"value\":\"XYZ\"}}]}}")};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hs_error_clear(&err);
        assert_int_equal(hs_quickbooks_parse_list((const uint8_t *)bad[i], strlen(bad[i]),
                                                  HS_KIND_INVOICE, false, true, &o, &p, &err),
                         HS_EPROTO);
        assert_int_equal(p.n_items, 0);
        assert_true(strlen(err.msg) > 0);
    }
}

static void test_conn_quickbooks_parse_survives_every_failed_allocation(void **state)
{
    (void)state;
    struct hs_quickbooks_opts o;
    memset(&o, 0, sizeof o);
    memcpy(o.home_currency, "USD", 4);
    o.app_url = "https://app.qbo.intuit.com";
    for (int n = 0;; n++) {
        struct hs_quickbooks_page p;
        struct hs_error err;
        hs_error_clear(&err);
        failalloc_arm(n);
        int rc = hs_quickbooks_parse_list((const uint8_t *)invoice_json, strlen(invoice_json),
                                          HS_KIND_INVOICE, false, true, &o, &p, &err);
        json_t *body = NULL;
        int rc2 = rc;
        if (rc == HS_OK) {
            struct hs_write w = {.op = HS_WRITE_CREATE, .record = p.items[0].rec};
            rc2 = hs_quickbooks_build(HS_KIND_INVOICE, &w, &o, &body, &err);
        }
        failalloc_disarm();
        json_decref(body);
        hs_quickbooks_page_release(&p);
        if (rc == HS_OK && rc2 == HS_OK)
            break;
        assert_int_equal(rc2, HS_ENOMEM);
        assert_true(n < 5000);
    }
}

/* A discounted item line goes out as amount and quantity (QuickBooks derives the price). */
static void test_qb_discounted_line_is_sent_as_amount_and_quantity(void **state)
{
    (void)state;
    struct hs_quickbooks_opts o;
    memset(&o, 0, sizeof o);
    memcpy(o.home_currency, "USD", 4);
    struct hs_record *r = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_record_new(HS_KIND_INVOICE, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->invoice.customer_ref, "7"), HS_OK);
    memcpy(r->invoice.currency, "USD", 4);
    struct hs_invoice_line *ln = NULL;
    assert_int_equal(hs_record_add_line(r, &ln), HS_OK);
    assert_int_equal(hs_record_set_str(&ln->item_ref, "3"), HS_OK);
    assert_int_equal(hs_decimal_from_int(3, &ln->quantity, &err), HS_OK);
    ln->has_quantity = true;
    assert_int_equal(hs_money_from_minor(1999, "USD", &ln->unit_price, &err), HS_OK);
    assert_int_equal(hs_decimal_from_int(10, &ln->discount_percent, &err), HS_OK);
    ln->has_discount_percent = true;
    struct hs_write w = {.op = HS_WRITE_CREATE, .record = r, .idem_key = "x"};
    json_t *body = NULL;
    assert_int_equal(hs_quickbooks_build(HS_KIND_INVOICE, &w, &o, &body, &err), HS_OK);
    struct hs_buf b;
    hs_buf_init(&b);
    assert_int_equal(hs_json_dump_exact(body, &b), HS_OK);
    /* 3 x 19.99 less 10% = 53.973 -> 53.97; no UnitPrice, no discount field */
    assert_non_null(strstr(b.data, "\"Amount\":53.97"));
    assert_non_null(strstr(b.data, "\"Qty\":3"));
    assert_null(strstr(b.data, "UnitPrice"));
    assert_null(strstr(b.data, "Discount"));
    hs_buf_release(&b);
    json_decref(body);
    /* with the amount given, that amount is sent as is */
    assert_int_equal(hs_money_from_minor(5398, "USD", &ln->amount, &err), HS_OK);
    assert_int_equal(hs_quickbooks_build(HS_KIND_INVOICE, &w, &o, &body, &err), HS_OK);
    hs_buf_init(&b);
    assert_int_equal(hs_json_dump_exact(body, &b), HS_OK);
    assert_non_null(strstr(b.data, "\"Amount\":53.98"));
    hs_buf_release(&b);
    json_decref(body);
    hs_record_free(r);
}

/* ---- retried creates and single requests ---------------------------------------------- */

static struct hs_record *new_invoice(const char *customer, int64_t cents, const char *memo)
{
    struct hs_record *r = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_record_new(HS_KIND_INVOICE, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->invoice.customer_ref, customer), HS_OK);
    if (memo != NULL)
        assert_int_equal(hs_record_set_str(&r->invoice.memo, memo), HS_OK);
    r->invoice.tax_mode = HS_TAX_NONE;
    struct hs_invoice_line *ln = NULL;
    assert_int_equal(hs_record_add_line(r, &ln), HS_OK);
    assert_int_equal(hs_record_set_str(&ln->item_ref, "1"), HS_OK);
    assert_int_equal(hs_decimal_from_int(1, &ln->quantity, &err), HS_OK);
    ln->has_quantity = true;
    assert_int_equal(hs_money_from_minor(cents, "USD", &ln->unit_price, &err), HS_OK);
    return r;
}

/* Objects of entity QuickBooks holds (count(*) through the sandbox's own query route). */
static int64_t count_of(struct t *t, const char *entity)
{
    char path[96], q[128];
    snprintf(path, sizeof path, "/quickbooks/v3/company/%s/query", t->realm);
    snprintf(q, sizeof q, "query=select%%20count(*)%%20from%%20%s", entity);
    json_t *ans = NULL;
    assert_int_equal(sbx_call(t, "GET", path, q, NULL, &ans), 200);
    int64_t n = (int64_t)json_integer_value(
        json_object_get(json_object_get(ans, "QueryResponse"), "totalCount"));
    json_decref(ans);
    return n;
}

/* A crash after QuickBooks made the invoice, before we linked it: the retry goes out in
 * another batch (so another requestid) and must find the first invoice, not make a second. */
static void test_conn_quickbooks_retried_invoice_create_finds_the_first(void **state)
{
    struct t *t = *state;
    int64_t before = count_of(t, "Invoice");
    struct hs_record *a = new_invoice("1", 12500, "Thank you");
    struct hs_record *b = new_invoice("1", 12500, NULL); /* same customer and amount */
    struct hs_record *c = new_invoice("2", 700, NULL);
    struct hs_write w[3];
    memset(w, 0, sizeof w);
    w[0] = (struct hs_write){.op = HS_WRITE_CREATE, .record = a, .idem_key = "hs1-a"};
    char *first[1];
    write_ok(t, HS_KIND_INVOICE, w, 1, first);
    /* QuickBooks keeps the key in PrivateNote; our record shows only the memo */
    char path[96];
    snprintf(path, sizeof path, "/quickbooks/v3/company/%s/invoice/%s", t->realm, first[0]);
    json_t *raw = NULL;
    assert_int_equal(sbx_call(t, "GET", path, NULL, NULL, &raw), 200);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(raw, "Invoice"), "PrivateNote")),
        "Thank you\nhoopsync:hs1-a");
    json_decref(raw);
    struct hs_record *back = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(ops->read(t->c, HS_KIND_INVOICE, (const char *const *)first, 1, &back, &err),
                     HS_OK);
    assert_string_equal(back->invoice.memo, "Thank you");
    hs_record_free(back);
    /* the retry, in a batch with two new invoices (one of them alike but another deal) */
    w[0] = (struct hs_write){.op = HS_WRITE_CREATE, .record = b, .idem_key = "hs1-b"};
    w[1] =
        (struct hs_write){.op = HS_WRITE_CREATE, .record = a, .idem_key = "hs1-a", .retry = true};
    w[2] =
        (struct hs_write){.op = HS_WRITE_CREATE, .record = c, .idem_key = "hs1-c", .retry = true};
    char *ids[3];
    write_ok(t, HS_KIND_INVOICE, w, 3, ids);
    assert_string_equal(ids[1], first[0]);
    assert_string_not_equal(ids[0], first[0]);
    assert_string_not_equal(ids[2], first[0]);
    /* hs1-c was marked retry but never reached QuickBooks: it is created once */
    assert_int_equal(count_of(t, "Invoice"), before + 3);
    for (size_t i = 0; i < 3; i++)
        hs_free(ids[i]);
    hs_free(first[0]);
    hs_record_free(a);
    hs_record_free(b);
    hs_record_free(c);
}

static void test_conn_quickbooks_retried_customer_create_finds_it_by_name(void **state)
{
    struct t *t = *state;
    struct hs_record *a = new_customer("O'Brien \\ Sons", NULL);
    struct hs_record *b = new_customer("Brand New Ltd", NULL);
    struct hs_write w[2];
    memset(w, 0, sizeof w);
    w[0] = (struct hs_write){.op = HS_WRITE_CREATE, .record = a, .idem_key = "k-a"};
    char *first[1];
    write_ok(t, HS_KIND_CUSTOMER, w, 1, first);
    w[0] = (struct hs_write){.op = HS_WRITE_CREATE, .record = b, .idem_key = "k-b", .retry = true};
    w[1] = (struct hs_write){.op = HS_WRITE_CREATE, .record = a, .idem_key = "k-a", .retry = true};
    stats_reset(t);
    char *ids[2];
    write_ok(t, HS_KIND_CUSTOMER, w, 2, ids);
    assert_string_equal(ids[1], first[0]);
    assert_int_equal(stats(t, QUERY), 1);
    assert_int_equal(stats(t, BATCH), 1);
    /* another create of that name (another key, no retry mark): QuickBooks refuses the name */
    w[0] = (struct hs_write){.op = HS_WRITE_CREATE, .record = a, .idem_key = "k-other"};
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, w, 1, &err), HS_OK);
    assert_int_equal(w[0].status, HS_EEXIST);
    for (size_t i = 0; i < 2; i++)
        hs_free(ids[i]);
    hs_free(first[0]);
    hs_record_free(a);
    hs_record_free(b);
}

#define SINGLE "POST /v3/company/{realm}/{entity}"

/* QuickBooks allows 40 batches but 500 requests a minute: once the batches are spent, records
 * go one by one instead of waiting for the next minute. */
/* Opens t->c (closed before) with settings and limiter (may be NULL). */
static int open_with(struct t *t, const json_t *settings, struct hs_ratelimit *rl,
                     struct hs_error *err)
{
    struct hs_connector_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.name = "accounting";
    cfg.base_url = "http://sandbox/quickbooks";
    cfg.tenant = t->realm;
    cfg.http = &t->http;
    cfg.env = &t->env;
    cfg.token = t_token;
    cfg.settings = settings;
    cfg.limiter = rl;
    return ops->open(&cfg, &t->c, err);
}

/* Reopens t's connection with settings and a limiter of 100 calls and 1 batch a minute. */
static struct hs_ratelimit *open_limited(struct t *t, const json_t *settings)
{
    struct hs_ratelimit *rl = NULL;
    assert_int_equal(hs_ratelimit_new(&t->env, &rl), HS_OK);
    assert_int_equal(hs_ratelimit_add(rl, "all", 100, 60000), HS_OK);
    assert_int_equal(hs_ratelimit_add(rl, "batch", 1, 60000), HS_OK);
    ops->close(t->c);
    t->c = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    if (open_with(t, settings, rl, &err) != HS_OK)
        fail_msg("open: %s", err.msg);
    return rl;
}

/* Frees what open_limited made, and records[0..n) and ids[0..n); reopens t's connection. */
static void close_limited(struct t *t, struct hs_ratelimit *rl, struct hs_record **r, char **ids,
                          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        hs_free(ids[i]);
        hs_record_free(r[i]);
    }
    ops->close(t->c);
    t->c = NULL;
    hs_ratelimit_free(rl);
    open_conn(t);
}

/* n customer creates named "<name> <i>" with idempotency keys "<key>-<i>". */
static void customer_creates(const char *name, const char *key, size_t n, struct hs_record **r,
                             struct hs_write *w, char (*keys)[32])
{
    memset(w, 0, n * sizeof *w);
    for (size_t i = 0; i < n; i++) {
        char label[32];
        snprintf(label, sizeof label, "%s %zu", name, i);
        snprintf(keys[i], sizeof keys[i], "%.4s-%zu", key, i);
        r[i] = new_customer(label, NULL);
        w[i] = (struct hs_write){.op = HS_WRITE_CREATE, .record = r[i], .idem_key = keys[i]};
    }
}

static void test_conn_quickbooks_singles_while_batches_are_spent(void **state)
{
    struct t *t = *state;
    struct hs_ratelimit *rl = open_limited(t, t->settings);
    struct hs_error err;
    hs_error_clear(&err);
    struct hs_record *r[6];
    struct hs_write w[6];
    char keys[6][32];
    customer_creates("Single", "s", 6, r, w, keys);
    char *ids[6];
    write_ok(t, HS_KIND_CUSTOMER, w, 2, ids); /* the minute's one batch */
    assert_int_equal(stats(t, BATCH), 1);
    int64_t t0 = t->now;
    write_ok(t, HS_KIND_CUSTOMER, w + 2, 3, ids + 2);
    assert_int_equal(stats(t, BATCH), 1);
    assert_int_equal(stats(t, SINGLE), 3);
    assert_int_equal(t->now, t0); /* nothing waited */
    /* a record QuickBooks refuses on its own is that write's failure, not the call's */
    w[0].idem_key = "s-dup";
    w[0].result = NULL;
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, w, 1, &err), HS_OK);
    assert_int_equal(w[0].status, HS_EEXIST);
    assert_int_equal(stats(t, SINGLE), 4);
    /* an update goes alone too (sparse, with its SyncToken), and a stale one conflicts */
    struct hs_record *cur = NULL;
    assert_int_equal(ops->read(t->c, HS_KIND_CUSTOMER, (const char *const *)&ids[2], 1, &cur, &err),
                     HS_OK);
    assert_int_equal(hs_record_set_str(&cur->customer.notes, "alone"), HS_OK);
    const char *nf[] = {"notes"};
    struct hs_write up = {.op = HS_WRITE_UPDATE, .record = cur, .fields = nf, .n_fields = 1};
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, &up, 1, &err), HS_OK);
    assert_int_equal(up.status, HS_OK);
    assert_string_equal(up.result->customer.notes, "alone");
    assert_string_equal(up.result->id, ids[2]);
    hs_record_free(up.result);
    up.result = NULL;
    /* the same update again is a replay (same requestid); another one on that SyncToken is
     * stale */
    assert_int_equal(hs_record_set_str(&cur->customer.notes, "alone again"), HS_OK);
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, &up, 1, &err), HS_OK);
    assert_int_equal(up.status, HS_ECONFLICT);
    assert_null(up.result);
    assert_int_equal(stats(t, SINGLE), 6);
    assert_int_equal(stats(t, BATCH), 1);
    hs_record_free(cur);
    /* a minute later batches are allowed again */
    t->now += 60000;
    write_ok(t, HS_KIND_CUSTOMER, w + 5, 1, ids + 5);
    assert_int_equal(stats(t, BATCH), 2);
    assert_int_equal(count_of(t, "Customer") > 0, true);
    for (size_t i = 2; i < 6; i++) /* the singles' answers are read as batch answers are */
        assert_non_null(ids[i]);
    close_limited(t, rl, r, ids, 6);
}

/* single_requests "never": the fewest calls; a spent batch allowance is waited out. A value
 * that is neither choice is refused by name. */
static void test_conn_quickbooks_batches_only_when_asked(void **state)
{
    struct t *t = *state;
    json_t *set = json_deep_copy(t->settings);
    assert_non_null(set);
    assert_int_equal(json_object_set_new(set, "single_requests", json_string("never")), 0);
    struct hs_ratelimit *rl = open_limited(t, set);
    struct hs_record *r[4];
    struct hs_write w[4];
    char keys[4][32];
    customer_creates("Batched", "b", 4, r, w, keys);
    char *ids[4];
    write_ok(t, HS_KIND_CUSTOMER, w, 2, ids);
    int64_t t0 = t->now;
    write_ok(t, HS_KIND_CUSTOMER, w + 2, 2, ids + 2);
    assert_int_equal(stats(t, BATCH), 2);
    assert_int_equal(stats(t, SINGLE), 0);
    assert_true(t->now - t0 >= 60000); /* the minute's batch allowance was waited for */
    for (size_t i = 0; i < 4; i++)
        assert_non_null(ids[i]);
    close_limited(t, rl, r, ids, 4);
    /* neither when_faster nor never */
    assert_int_equal(json_object_set_new(set, "single_requests", json_string("sometimes")), 0);
    ops->close(t->c);
    t->c = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(open_with(t, set, NULL, &err), HS_EINVAL);
    assert_null(t->c);
    assert_non_null(strstr(err.msg, "'single_requests'"));
    assert_non_null(strstr(err.msg, "'sometimes'"));
    json_decref(set);
    open_conn(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_batches_only_when_asked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_changes_scan_then_cdc, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_retried_invoice_create_finds_the_first,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_conn_quickbooks_retried_customer_create_finds_it_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_singles_while_batches_are_spent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_cdc_pages_past_the_cap, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_cdc_ties_fall_back_to_scan, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_changes_fall_back_after_30_days, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_changes_report_deletes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_read_seeded_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_money_exact_usd_jpy_kwd, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_payment_marks_invoice_partially_paid,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_create_twice_same_idem_keys, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_stale_sync_token_conflicts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_partial_batch_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_batch_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_request_counts_are_minimal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_item_create_uses_settings, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_quickbooks_webhook_verification, setup, teardown),
        cmocka_unit_test(test_qb_discounted_line_is_sent_as_amount_and_quantity),
        cmocka_unit_test(test_conn_quickbooks_exact_money_helpers),
        cmocka_unit_test(test_conn_quickbooks_cursor_parse),
        cmocka_unit_test(test_conn_quickbooks_sparse_update_body),
        cmocka_unit_test(test_conn_quickbooks_parse_invoice),
        cmocka_unit_test(test_conn_quickbooks_parse_survives_every_failed_allocation),
    };
    hs_alloc_setup_json();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
