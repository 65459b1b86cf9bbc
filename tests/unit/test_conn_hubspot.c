/*
 * tests/unit/test_conn_hubspot.c - the HubSpot connector against the sandbox's HubSpot module.
 *
 * Design:     each case opens a seeded sandbox (HubSpot module only, static token "T", rate
 *             limits off, a fake clock shared with the connector's env) and talks to it
 *             in-process through hs_http_inproc_open(hs_sbx_handle, ...), the same code path
 *             as real HTTP without sockets. Cases check behaviour through the ops table:
 *             records that validate, paging and cursors, idempotent creates, updates, partial
 *             failures, webhook signatures, setup, and the number of HTTP calls each
 *             operation costs (from /_sandbox/stats). The webhook case also receives the
 *             sandbox's own deliveries over loopback. Parser cases run the OOM loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "connectors/hubspot/hubspot.h"
#include "connectors/hubspot/hubspot_int.h"
#include "sandbox/sbx.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

#define START_MS 1735689600000LL /* 2025-01-01T00:00:00Z */

struct fx {
    struct hs_sbx *sbx;
    int64_t now;
    struct hs_env env;
    struct hs_http_transport http;
    struct hs_http_transport held; /* http with the sandbox's allocations held (OOM tests) */
    bool use_held;                 /* open_conn hands the connector `held` */
    struct hs_connector *conn;
    json_t *settings;
};

static int64_t fake_now(void *ud)
{
    return *(const int64_t *)ud;
}

static uint64_t fake_rand(void *ud)
{
    (void)ud;
    return 0x1234567;
}

static void fake_sleep(void *ud, int64_t ms)
{
    *(int64_t *)ud += ms;
}

static int token(void *ud, bool force, char **out, struct hs_error *err)
{
    (void)ud;
    (void)force;
    (void)err;
    *out = hs_strdup("T");
    return *out ? HS_OK : HS_ENOMEM;
}

static const struct hs_sbx_module_ops *const only_hubspot[] = {&hs_sbx_hubspot_ops};

/* The sandbox answers in this process: its allocations are HubSpot's, not the connector's, so
 * an OOM test fails only the connector's (failalloc_hold around each request). */
static int held_send(void *self, const struct hs_http_request *req, struct hs_http_response *out,
                     struct hs_error *err)
{
    failalloc_hold(true);
    int rc = hs_http_send(self, req, out, err);
    failalloc_hold(false);
    return rc;
}

static void held_close(void *self)
{
    (void)self;
}

static const struct hs_http_ops held_ops = {held_send, held_close};

static void open_conn(struct fx *f, const char *settings_json)
{
    json_decref(f->settings);
    f->settings = NULL;
    if (settings_json != NULL) {
        assert_int_equal(hs_json_parse((const uint8_t *)settings_json, strlen(settings_json), "s",
                                       &f->settings, NULL),
                         HS_OK);
    }
    struct hs_connector_config cfg = {0};
    cfg.name = "crm";
    cfg.base_url = "http://sandbox.test/hubspot";
    cfg.tenant = "21430001";
    cfg.http = f->use_held ? &f->held : &f->http;
    cfg.env = &f->env;
    cfg.token = token;
    cfg.settings = f->settings;
    hs_connector_hubspot_ops.close(f->conn);
    f->conn = NULL;
    struct hs_error err = {0};
    int rc = hs_connector_hubspot_ops.open(&cfg, &f->conn, &err);
    if (rc != HS_OK)
        fail_msg("open: %s", err.msg);
}

static int open_fx(void **state, unsigned companies)
{
    hs_alloc_setup_json();
    struct fx *f = hs_calloc(1, sizeof *f);
    assert_non_null(f);
    f->now = START_MS;
    f->env.now_ms = fake_now;
    f->env.rand64 = fake_rand;
    f->env.sleep_ms = fake_sleep;
    f->env.ud = &f->now;
    f->env.min_level = HS_LOG_ERROR;
    struct hs_sbx_options opt = {0};
    opt.seed = 7;
    opt.seeded = true;
    opt.sizes.companies = companies;
    opt.sizes.contacts = 40;
    opt.sizes.products = 10;
    opt.sizes.deals = 30;
    opt.static_token = "T";
    opt.no_rate_limits = true;
    opt.start_ms = START_MS;
    opt.env = &f->env;
    opt.modules = only_hubspot;
    opt.n_modules = 1;
    struct hs_error err = {0};
    if (hs_sbx_open(&opt, &f->sbx, &err) != HS_OK)
        fail_msg("hs_sbx_open: %s", err.msg);
    assert_int_equal(hs_http_inproc_open(hs_sbx_handle, f->sbx, &f->http, &err), HS_OK);
    f->held.ops = &held_ops;
    f->held.self = &f->http;
    open_conn(f, NULL);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return open_fx(state, 30);
}

static int setup_big(void **state)
{
    return open_fx(state, 450);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    hs_connector_hubspot_ops.close(f->conn);
    hs_http_transport_close(&f->http);
    hs_sbx_close(f->sbx);
    json_decref(f->settings);
    hs_free(f);
    return 0;
}

/* An admin or provider call straight to the sandbox; returns the JSON body (or NULL). */
static json_t *sbx_call(struct fx *f, const char *method, const char *path, const char *body,
                        int *status)
{
    struct hs_http_request req;
    hs_http_request_init(&req);
    req.method = hs_strdup(method);
    const char *q = strchr(path, '?');
    req.path = q ? hs_strndup(path, (size_t)(q - path)) : hs_strdup(path);
    req.query = q ? hs_strdup(q + 1) : NULL;
    assert_int_equal(hs_http_headers_add(&req.headers, "Authorization", "Bearer T"), HS_OK);
    if (body != NULL) {
        assert_int_equal(hs_buf_puts(&req.body, body), HS_OK);
        assert_int_equal(hs_http_headers_add(&req.headers, "Content-Type", "application/json"),
                         HS_OK);
    }
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    assert_int_equal(hs_sbx_handle(f->sbx, &req, &resp), HS_OK);
    if (status != NULL)
        *status = resp.status;
    json_t *v = NULL;
    if (resp.body.len > 0)
        if (hs_json_parse((const uint8_t *)resp.body.data, resp.body.len, "resp", &v, NULL) !=
            HS_OK)
            v = NULL;
    hs_http_response_release(&resp);
    hs_http_request_release(&req);
    return v;
}

static void stats_reset(struct fx *f)
{
    json_decref(sbx_call(f, "DELETE", "/_sandbox/stats", NULL, NULL));
}

/* Calls to one HubSpot endpoint pattern ("POST /crm/v3/objects/{type}/batch/{op}"), or the
 * provider's total with NULL. */
static int64_t stat(struct fx *f, const char *endpoint)
{
    json_t *s = sbx_call(f, "GET", "/_sandbox/stats", NULL, NULL);
    assert_non_null(s);
    json_t *hub = json_object_get(json_object_get(s, "providers"), "hubspot");
    json_t *v = endpoint ? json_object_get(json_object_get(hub, "endpoints"), endpoint)
                         : json_object_get(hub, "total");
    int64_t n = json_is_integer(v) ? json_integer_value(v) : 0;
    json_decref(s);
    return n;
}

#define EP_BATCH  "POST /crm/v3/objects/{type}/batch/{op}"
#define EP_SEARCH "POST /crm/v3/objects/{type}/search"
#define EP_ASSOC  "POST /crm/v4/associations/{from}/{to}/batch/{op}"

/* Every id of kind through changes(), following the cursor. */
static size_t all_ids(struct fx *f, enum hs_kind kind, char ***out, char **cursor)
{
    char **ids = NULL;
    size_t n = 0;
    char *cur = NULL;
    for (int guard = 0; guard < 100; guard++) {
        struct hs_changes ch;
        struct hs_error err = {0};
        int rc = hs_connector_hubspot_ops.changes(f->conn, kind, cur, &ch, &err);
        if (rc != HS_OK)
            fail_msg("changes: %s", err.msg);
        ids = hs_reallocarray(ids, n + ch.n_items + 1, sizeof *ids);
        assert_non_null(ids);
        for (size_t i = 0; i < ch.n_items; i++) {
            assert_int_equal(ch.items[i].kind, kind); /* every change names its kind */
            ids[n++] = hs_strdup(ch.items[i].id);
        }
        hs_free(cur);
        cur = hs_strdup(ch.cursor);
        bool more = ch.more;
        hs_changes_release(&ch);
        if (!more)
            break;
    }
    *out = ids;
    if (cursor != NULL)
        *cursor = cur;
    else
        hs_free(cur);
    return n;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hs_free(ids[i]);
    hs_free(ids);
}

static void do_setup(struct fx *f)
{
    struct hs_error err = {0};
    if (hs_connector_hubspot_ops.setup(f->conn, &err) != HS_OK)
        fail_msg("setup: %s", err.msg);
}

/* ---- setup ---- */

static void test_conn_hubspot_setup_is_idempotent(void **state)
{
    struct fx *f = *state;
    stats_reset(f);
    do_setup(f);
    int64_t first = stat(f, NULL);
    assert_int_equal(first, 12); /* 3 groups + 9 properties */
    do_setup(f);                 /* everything exists: 409s are fine */
    assert_int_equal(stat(f, NULL), 24);
    int st = 0;
    json_t *p =
        sbx_call(f, "GET", "/hubspot/crm/v3/properties/deals/hoopsync_payment_status", NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(hs_json_str(p, "groupName"), "hoopsync");
    assert_int_equal(json_array_size(json_object_get(p, "options")), 5);
    json_decref(p);
    p = sbx_call(f, "GET", "/hubspot/crm/v3/properties/companies/hoopsync_id", NULL, &st);
    assert_int_equal(st, 200);
    assert_true(json_is_true(json_object_get(p, "hasUniqueValue")));
    json_decref(p);
    p = sbx_call(f, "GET", "/hubspot/crm/v3/properties/products/hoopsync_id", NULL, &st);
    assert_int_equal(st, 200);
    json_decref(p);
}

/* ---- changes ---- */

static void test_conn_hubspot_changes_pages_and_cursor(void **state)
{
    struct fx *f = *state;
    stats_reset(f);
    char **ids = NULL;
    char *cursor = NULL;
    size_t n = all_ids(f, HS_KIND_CUSTOMER, &ids, &cursor);
    assert_int_equal(n, 450);
    /* the contacts' position (1), then 200 + 200 + 50; the first run reads no contacts */
    assert_int_equal(stat(f, EP_SEARCH), 4);
    assert_int_equal(stat(f, NULL), 4);
    for (size_t i = 1; i < n; i++) /* ascending and unique */
        assert_true(hs_hubspot_id_cmp(ids[i - 1], ids[i]) < 0);

    /* nothing changed: the companies' search, then the contacts' one; no ids, same position */
    stats_reset(f);
    struct hs_changes ch;
    assert_int_equal(hs_connector_hubspot_ops.changes(f->conn, HS_KIND_CUSTOMER, cursor, &ch, NULL),
                     HS_OK);
    assert_int_equal(ch.n_items, 0);
    assert_true(ch.more);
    char *mid = hs_strdup(ch.cursor);
    hs_changes_release(&ch);
    assert_int_equal(hs_connector_hubspot_ops.changes(f->conn, HS_KIND_CUSTOMER, mid, &ch, NULL),
                     HS_OK);
    hs_free(mid);
    assert_int_equal(ch.n_items, 0);
    assert_false(ch.more);
    assert_string_equal(ch.cursor, cursor);
    hs_changes_release(&ch);
    assert_int_equal(stat(f, NULL), 2);

    /* 250 updates at one frozen millisecond: ties are paged by id */
    do_setup(f);
    f->now += 60000;
    for (size_t b = 0; b < 250; b += 100) {
        struct hs_write w[100];
        struct hs_record *recs[100];
        size_t k = 250 - b < 100 ? 250 - b : 100;
        memset(w, 0, sizeof w);
        for (size_t i = 0; i < k; i++) {
            assert_int_equal(hs_record_new(HS_KIND_CUSTOMER, &recs[i]), HS_OK);
            assert_int_equal(hs_record_set_str(&recs[i]->id, ids[b + i]), HS_OK);
            assert_int_equal(hs_record_set_str(&recs[i]->customer.notes, "touched"), HS_OK);
            w[i].op = HS_WRITE_UPDATE;
            w[i].record = recs[i];
        }
        assert_int_equal(hs_connector_hubspot_ops.write(f->conn, HS_KIND_CUSTOMER, w, k, NULL),
                         HS_OK);
        for (size_t i = 0; i < k; i++) {
            assert_int_equal(w[i].status, HS_OK);
            hs_record_free(w[i].result);
            hs_record_free(recs[i]);
        }
    }
    char *cur = cursor;
    size_t seen = 0;
    for (int page = 0; page < 3; page++) {
        assert_int_equal(
            hs_connector_hubspot_ops.changes(f->conn, HS_KIND_CUSTOMER, cur, &ch, NULL), HS_OK);
        for (size_t i = 0; i < ch.n_items; i++) {
            assert_string_equal(ch.items[i].id, ids[seen]);
            assert_int_equal(ch.items[i].updated_at, f->now);
            seen++;
        }
        bool more = ch.more;
        hs_free(cur);
        cur = hs_strdup(ch.cursor);
        hs_changes_release(&ch);
        if (!more)
            break;
    }
    assert_int_equal(seen, 250);
    hs_free(cur);
    free_ids(ids, n);

    /* a bad cursor is refused with a message */
    struct hs_error err = {0};
    assert_int_equal(
        hs_connector_hubspot_ops.changes(f->conn, HS_KIND_CUSTOMER, "v2:1:2", &ch, &err),
        HS_EINVAL);
    assert_non_null(strstr(err.msg, "cursor"));
    assert_int_equal(hs_connector_hubspot_ops.changes(f->conn, HS_KIND_PAYMENT, NULL, &ch, &err),
                     HS_EUNSUPPORTED);
}

/* The contact of email (search by email); its id in out. */
static void contact_by_email(struct fx *f, const char *email, char *out, size_t len)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"email\",\"operator\":\"EQ\","
             "\"value\":\"%s\"}]}],\"properties\":[\"email\"],\"limit\":1,\"after\":\"0\"}",
             email);
    int st = 0;
    json_t *v = sbx_call(f, "POST", "/hubspot/crm/v3/objects/contacts/search", body, &st);
    assert_int_equal(st, 200);
    const char *id = hs_json_str(json_array_get(json_object_get(v, "results"), 0), "id");
    assert_non_null(id);
    snprintf(out, len, "%s", id);
    json_decref(v);
}

/* PATCHes one property of a HubSpot object as a user would. */
static void patch_prop(struct fx *f, const char *type, const char *id, const char *prop,
                       const char *value)
{
    char path[128], body[256];
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/%s/%s", type, id);
    snprintf(body, sizeof body, "{\"properties\":{\"%s\":\"%s\"}}", prop, value);
    int st = 0;
    json_decref(sbx_call(f, "PATCH", path, body, &st));
    assert_int_equal(st, 200);
}

/* Editing a company's primary contact leaves the company's hs_lastmodifieddate alone: the
 * customers' feed follows the contacts too, and announces the company. The first run costs
 * one search for the contacts' position (no contact is listed then); a run with nothing
 * changed costs one search more than the companies' own. */
static void test_conn_hubspot_changes_contact_edit_announces_company(void **state)
{
    struct fx *f = *state;
    stats_reset(f);
    char **ids = NULL;
    char *cursor = NULL;
    size_t n = all_ids(f, HS_KIND_CUSTOMER, &ids, &cursor);
    assert_int_equal(n, 30);
    assert_int_equal(stat(f, EP_SEARCH), 2); /* the contacts' position, the companies */
    assert_int_equal(stat(f, NULL), 2);

    /* a customer with a primary contact, and that contact */
    struct hs_record *recs[30];
    assert_int_equal(hs_connector_hubspot_ops.read(f->conn, HS_KIND_CUSTOMER,
                                                   (const char *const *)ids, n, recs, NULL),
                     HS_OK);
    size_t pick = n;
    for (size_t i = 0; i < n && pick == n; i++)
        if (recs[i]->customer.email != NULL)
            pick = i;
    assert_true(pick < n);
    char contact[32];
    contact_by_email(f, recs[pick]->customer.email, contact, sizeof contact);
    int64_t before = recs[pick]->updated_at;
    for (size_t i = 0; i < n; i++)
        hs_record_free(recs[i]);

    f->now += 60000;
    patch_prop(f, "contacts", contact, "email", "new.billing@contact-edit.example");
    stats_reset(f);
    char **changed = NULL;
    char *cursor2 = hs_strdup(cursor);
    size_t n_changed = 0;
    for (int guard = 0; guard < 10; guard++) {
        struct hs_changes ch;
        struct hs_error err = {0};
        if (hs_connector_hubspot_ops.changes(f->conn, HS_KIND_CUSTOMER, cursor2, &ch, &err) !=
            HS_OK)
            fail_msg("changes: %s", err.msg);
        changed = hs_reallocarray(changed, n_changed + ch.n_items + 1, sizeof *changed);
        assert_non_null(changed);
        for (size_t i = 0; i < ch.n_items; i++) {
            assert_int_equal(ch.items[i].kind, HS_KIND_CUSTOMER);
            assert_int_equal(ch.items[i].updated_at, f->now); /* the contact's edit */
            changed[n_changed++] = hs_strdup(ch.items[i].id);
        }
        hs_free(cursor2);
        cursor2 = hs_strdup(ch.cursor);
        bool more = ch.more;
        hs_changes_release(&ch);
        if (!more)
            break;
    }
    /* the contact's companies: the seed gives each contact one */
    assert_int_equal(n_changed, 1);
    assert_string_equal(changed[0], ids[pick]);
    /* companies search (nothing), contacts search (one), contacts->companies associations */
    assert_int_equal(stat(f, EP_SEARCH), 2);
    assert_int_equal(stat(f, EP_ASSOC), 1);
    assert_int_equal(stat(f, NULL), 3);

    /* the read shows the edit, and the customer's time is the contact's */
    struct hs_record *r = NULL;
    const char *one[1] = {ids[pick]};
    assert_int_equal(hs_connector_hubspot_ops.read(f->conn, HS_KIND_CUSTOMER, one, 1, &r, NULL),
                     HS_OK);
    assert_string_equal(r->customer.email, "new.billing@contact-edit.example");
    assert_true(r->updated_at > before);
    assert_int_equal(r->updated_at, f->now);
    hs_record_free(r);

    /* nothing changed since: two searches, nothing announced */
    stats_reset(f);
    size_t n_again = 0;
    char *cur3 = hs_strdup(cursor2);
    for (int guard = 0; guard < 10; guard++) {
        struct hs_changes ch;
        assert_int_equal(
            hs_connector_hubspot_ops.changes(f->conn, HS_KIND_CUSTOMER, cur3, &ch, NULL), HS_OK);
        n_again += ch.n_items;
        hs_free(cur3);
        cur3 = hs_strdup(ch.cursor);
        bool more = ch.more;
        hs_changes_release(&ch);
        if (!more)
            break;
    }
    assert_int_equal(n_again, 0);
    assert_string_equal(cur3, cursor2);
    assert_int_equal(stat(f, NULL), 2);
    hs_free(cur3);
    hs_free(cursor2);
    free_ids(changed, n_changed);
    free_ids(ids, n);
    hs_free(cursor);

    /* a cursor of before the contacts feed (v1) takes the contacts' position, then goes on */
    struct hs_changes ch;
    stats_reset(f);
    assert_int_equal(hs_connector_hubspot_ops.changes(f->conn, HS_KIND_CUSTOMER,
                                                      "v1:1735689600000:0", &ch, NULL),
                     HS_OK);
    assert_int_equal(ch.n_items, 0);
    assert_true(ch.more);
    assert_true(hs_str_starts(ch.cursor, "v2:1735689600000:0:"));
    hs_changes_release(&ch);
    assert_int_equal(stat(f, EP_SEARCH), 1);
    /* other kinds keep v1 cursors */
    struct hs_error err = {0};
    assert_int_equal(
        hs_connector_hubspot_ops.changes(f->conn, HS_KIND_ITEM, "v2:1:2:3:4:contacts", &ch, &err),
        HS_EINVAL);
}

/* ---- read ---- */

static void test_conn_hubspot_read_customers(void **state)
{
    struct fx *f = *state;
    char **ids = NULL;
    size_t n = all_ids(f, HS_KIND_CUSTOMER, &ids, NULL);
    assert_int_equal(n, 30);
    stats_reset(f);
    struct hs_record *recs[31];
    const char *want[31];
    for (size_t i = 0; i < n; i++)
        want[i] = ids[i];
    want[n] = "99999999"; /* unknown: NULL */
    struct hs_error err = {0};
    if (hs_connector_hubspot_ops.read(f->conn, HS_KIND_CUSTOMER, want, n + 1, recs, &err) != HS_OK)
        fail_msg("read: %s", err.msg);
    assert_int_equal(stat(f, NULL), 3); /* companies, associations, contacts */
    assert_int_equal(stat(f, EP_BATCH), 2);
    assert_int_equal(stat(f, EP_ASSOC), 1);
    assert_null(recs[n]);
    size_t with_email = 0;
    for (size_t i = 0; i < n; i++) {
        assert_non_null(recs[i]);
        assert_int_equal(hs_record_validate(recs[i], NULL), HS_OK);
        assert_string_equal(recs[i]->id, ids[i]);
        assert_non_null(recs[i]->customer.display_name);
        assert_true(recs[i]->updated_at > 0);
        assert_int_equal(strlen(recs[i]->customer.billing_address.country), 2);
        if (recs[i]->customer.email != NULL) {
            with_email++;
            assert_non_null(strchr(recs[i]->customer.email, '@'));
        }
        hs_record_free(recs[i]);
    }
    assert_true(with_email > 10);
    free_ids(ids, n);
}

static void test_conn_hubspot_read_items(void **state)
{
    struct fx *f = *state;
    char **ids = NULL;
    size_t n = all_ids(f, HS_KIND_ITEM, &ids, NULL);
    assert_int_equal(n, 10);
    stats_reset(f);
    struct hs_record *recs[10];
    assert_int_equal(hs_connector_hubspot_ops.read(f->conn, HS_KIND_ITEM, (const char *const *)ids,
                                                   n, recs, NULL),
                     HS_OK);
    assert_int_equal(stat(f, NULL), 1);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(hs_record_validate(recs[i], NULL), HS_OK);
        assert_non_null(recs[i]->item.name);
        assert_non_null(recs[i]->item.sku);
        assert_string_equal(recs[i]->item.unit_price.currency, "USD");
        assert_true(recs[i]->item.unit_price.minor > 0);
        hs_record_free(recs[i]);
    }
    free_ids(ids, n);
}

static void test_conn_hubspot_read_invoices(void **state)
{
    struct fx *f = *state;
    char **ids = NULL;
    size_t n = all_ids(f, HS_KIND_INVOICE, &ids, NULL);
    assert_true(n > 0);
    assert_true(n < 30); /* only closed-won deals */
    stats_reset(f);
    struct hs_record **recs = hs_calloc(n, sizeof *recs);
    assert_non_null(recs);
    struct hs_error err = {0};
    if (hs_connector_hubspot_ops.read(f->conn, HS_KIND_INVOICE, (const char *const *)ids, n, recs,
                                      &err) != HS_OK)
        fail_msg("read: %s", err.msg);
    size_t lines = 0;
    for (size_t i = 0; i < n; i++) {
        struct hs_record *r = recs[i];
        assert_non_null(r);
        if (hs_record_validate(r, &err) != HS_OK)
            fail_msg("validate: %s", err.msg);
        assert_string_equal(r->invoice.currency, r->invoice.total.currency);
        assert_non_null(r->invoice.customer_ref);
        assert_true(r->invoice.n_lines >= 1);
        assert_true(hs_date_valid(r->invoice.issue_date));
        assert_string_equal(hs_fields_get(&r->custom, "dealstage"), "closedwon");
        /* the deal's page in HubSpot (portal = the connection's tenant) */
        char url[128];
        snprintf(url, sizeof url, "https://app.hubspot.com/contacts/21430001/record/0-3/%s", r->id);
        assert_string_equal(hs_fields_get(&r->meta, "url"), url);
        /* the seed's deal amount is the sum of its net line amounts */
        int64_t sum = 0;
        for (size_t k = 0; k < r->invoice.n_lines; k++) {
            assert_string_equal(r->invoice.lines[k].amount.currency, r->invoice.currency);
            assert_true(r->invoice.lines[k].has_quantity);
            assert_non_null(r->invoice.lines[k].item_ref);
            sum += r->invoice.lines[k].amount.minor;
        }
        assert_int_equal(sum, r->invoice.total.minor);
        lines += r->invoice.n_lines;
        hs_record_free(r);
    }
    /* deals, 2 association reads, ceil(lines / 100) line item reads */
    assert_int_equal(stat(f, NULL), 3 + (int64_t)((lines + 99) / 100));
    hs_free(recs);
    free_ids(ids, n);
}

/* ---- write ---- */

static struct hs_record *new_item(const char *name, const char *sku, int64_t cents)
{
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_ITEM, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->item.name, name), HS_OK);
    assert_int_equal(hs_record_set_str(&r->item.sku, sku), HS_OK);
    assert_int_equal(hs_money_from_minor(cents, "USD", &r->item.unit_price, NULL), HS_OK);
    return r;
}

static void test_conn_hubspot_create_twice_is_one_record(void **state)
{
    struct fx *f = *state;
    do_setup(f);
    struct hs_record *r = new_item("Widget XL", "WXL-1", 123456);
    char *first_id = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        stats_reset(f);
        struct hs_write w = {0};
        w.op = HS_WRITE_CREATE;
        w.record = r;
        w.idem_key = "hs-item-7f3a";
        struct hs_error err = {0};
        if (hs_connector_hubspot_ops.write(f->conn, HS_KIND_ITEM, &w, 1, &err) != HS_OK)
            fail_msg("write: %s", err.msg);
        assert_int_equal(w.status, HS_OK);
        assert_non_null(w.result);
        assert_non_null(w.result->id);
        assert_int_equal(stat(f, NULL), 1); /* one batch/upsert */
        if (first_id == NULL)
            first_id = hs_strdup(w.result->id);
        else
            assert_string_equal(first_id, w.result->id);
        hs_record_free(w.result);
    }
    char **ids = NULL;
    size_t n = all_ids(f, HS_KIND_ITEM, &ids, NULL);
    assert_int_equal(n, 11); /* 10 seeded + exactly one */
    struct hs_record *back = NULL;
    const char *one[1] = {first_id};
    assert_int_equal(hs_connector_hubspot_ops.read(f->conn, HS_KIND_ITEM, one, 1, &back, NULL),
                     HS_OK);
    assert_string_equal(back->item.name, "Widget XL");
    assert_int_equal(back->item.unit_price.minor, 123456);
    hs_record_free(back);
    free_ids(ids, n);
    hs_free(first_id);
    hs_record_free(r);
}

static void test_conn_hubspot_update_customer(void **state)
{
    struct fx *f = *state;
    do_setup(f);
    char **ids = NULL;
    size_t n = all_ids(f, HS_KIND_CUSTOMER, &ids, NULL);
    struct hs_record *r = NULL;
    const char *one[1] = {ids[3]};
    assert_int_equal(hs_connector_hubspot_ops.read(f->conn, HS_KIND_CUSTOMER, one, 1, &r, NULL),
                     HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.display_name, "Renamed GmbH"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.website, "https://renamed.example"), HS_OK);
    assert_int_equal(hs_fields_set(&r->external_refs, "accounting", "58"), HS_OK);
    const char *fields[] = {"display_name", "website", "external_refs.accounting",
                            "billing_address.region"};
    struct hs_write w = {0};
    w.op = HS_WRITE_UPDATE;
    w.record = r;
    w.fields = fields;
    w.n_fields = 4;
    stats_reset(f);
    assert_int_equal(hs_connector_hubspot_ops.write(f->conn, HS_KIND_CUSTOMER, &w, 1, NULL), HS_OK);
    assert_int_equal(w.status, HS_OK);
    assert_int_equal(stat(f, NULL), 1); /* no contact field named: one batch/update */
    assert_string_equal(w.result->id, ids[3]);
    hs_record_free(w.result);
    struct hs_record *back = NULL;
    assert_int_equal(hs_connector_hubspot_ops.read(f->conn, HS_KIND_CUSTOMER, one, 1, &back, NULL),
                     HS_OK);
    assert_string_equal(back->customer.display_name, "Renamed GmbH");
    assert_string_equal(back->customer.website, "https://renamed.example");
    assert_string_equal(hs_fields_get(&back->external_refs, "accounting"), "58");
    assert_null(back->customer.billing_address.region);
    hs_record_free(back);

    /* the email goes to the primary contact */
    assert_int_equal(hs_record_set_str(&r->customer.email, "billing@renamed.example"), HS_OK);
    const char *f2[] = {"email"};
    w.fields = f2;
    w.n_fields = 1;
    w.result = NULL;
    struct hs_error err = {0};
    assert_int_equal(hs_connector_hubspot_ops.write(f->conn, HS_KIND_CUSTOMER, &w, 1, &err), HS_OK);
    if (w.status != HS_OK)
        fail_msg("write status %d: %s", w.status, w.msg);
    hs_record_free(w.result);
    assert_int_equal(hs_connector_hubspot_ops.read(f->conn, HS_KIND_CUSTOMER, one, 1, &back, NULL),
                     HS_OK);
    assert_string_equal(back->customer.email, "billing@renamed.example");
    hs_record_free(back);
    hs_record_free(r);
    free_ids(ids, n);
}

/* Creates a HubSpot object from a properties JSON text (assoc: a contact's primary company id,
 * or NULL); its id in out. */
static void create_obj(struct fx *f, const char *type, const char *props, const char *assoc,
                       char *out, size_t len)
{
    char path[96], body[1024];
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/%s", type);
    if (assoc != NULL)
        snprintf(body, sizeof body,
                 "{\"properties\":%s,\"associations\":[{\"to\":{\"id\":\"%s\"},\"types\":[{"
                 "\"associationCategory\":\"HUBSPOT_DEFINED\",\"associationTypeId\":1}]}]}",
                 props, assoc);
    else
        snprintf(body, sizeof body, "{\"properties\":%s,\"associations\":[]}", props);
    int st = 0;
    json_t *v = sbx_call(f, "POST", path, body, &st);
    assert_int_equal(st, 201);
    snprintf(out, len, "%s", hs_json_str(v, "id"));
    json_decref(v);
}

static void get_prop(struct fx *f, const char *type, const char *id, const char *prop, char *out,
                     size_t len)
{
    char path[160];
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/%s/%s?properties=%s", type, id, prop);
    int st = 0;
    json_t *v = sbx_call(f, "GET", path, NULL, &st);
    assert_int_equal(st, 200);
    const char *s = hs_json_str(json_object_get(v, "properties"), prop);
    snprintf(out, len, "%s", s ? s : "");
    json_decref(v);
}

static struct hs_record *read_one(struct fx *f, const char *id)
{
    struct hs_record *r = NULL;
    const char *one[1] = {id};
    assert_int_equal(hs_connector_hubspot_ops.read(f->conn, HS_KIND_CUSTOMER, one, 1, &r, NULL),
                     HS_OK);
    assert_non_null(r);
    return r;
}

/* Writes only the customer's phone; returns the calls it cost. */
static int64_t write_phone(struct fx *f, const char *id, const char *phone)
{
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_CUSTOMER, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->id, id), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.phone, phone), HS_OK);
    const char *fields[] = {"phone"};
    struct hs_write w = {0};
    w.op = HS_WRITE_UPDATE;
    w.record = r;
    w.fields = fields;
    w.n_fields = 1;
    stats_reset(f);
    struct hs_error err = {0};
    assert_int_equal(hs_connector_hubspot_ops.write(f->conn, HS_KIND_CUSTOMER, &w, 1, &err), HS_OK);
    if (w.status != HS_OK)
        fail_msg("write status %d: %s", w.status, w.msg);
    int64_t calls = stat(f, NULL);
    /* the result is what a read returns, time included (the engine's echo check) */
    struct hs_record *back = read_one(f, id);
    assert_string_equal(w.result->customer.phone, phone);
    assert_string_equal(back->customer.phone, phone);
    assert_int_equal(w.result->updated_at, back->updated_at);
    hs_record_free(back);
    hs_record_free(w.result);
    hs_record_free(r);
    return calls;
}

/* The customer's phone is its primary contact's phone, else the contact's mobile phone, else
 * the company's; a phone written goes where a read takes it from: the primary contact when
 * there is one (the company's own number stays), else the company. */
static void test_conn_hubspot_customer_phone_is_the_primary_contacts(void **state)
{
    struct fx *f = *state;
    do_setup(f);
    char co[32], ct[32], lone[32], v[64];
    create_obj(f, "companies", "{\"name\":\"Phone Routing AG\",\"phone\":\"+41 44 111 11 11\"}",
               NULL, co, sizeof co);
    struct hs_record *r = read_one(f, co);
    assert_string_equal(r->customer.phone, "+41 44 111 11 11"); /* no contact: the company's */
    hs_record_free(r);
    f->now += 1000;
    create_obj(f, "contacts",
               "{\"email\":\"desk@phone-routing.example\",\"mobilephone\":\"+41 79 222 22 22\"}",
               co, ct, sizeof ct);
    r = read_one(f, co);
    assert_string_equal(r->customer.phone, "+41 79 222 22 22"); /* the contact's mobile */
    assert_string_equal(r->customer.email, "desk@phone-routing.example");
    hs_record_free(r);
    f->now += 1000;
    patch_prop(f, "contacts", ct, "phone", "+41 44 333 33 33");
    r = read_one(f, co);
    assert_string_equal(r->customer.phone, "+41 44 333 33 33"); /* the contact's phone */
    assert_int_equal(r->updated_at, f->now);
    hs_record_free(r);

    /* written to the contact: association read, company update, contact update */
    f->now += 1000;
    assert_int_equal(write_phone(f, co, "+41 44 444 44 44"), 3);
    get_prop(f, "contacts", ct, "phone", v, sizeof v);
    assert_string_equal(v, "+41 44 444 44 44");
    get_prop(f, "companies", co, "phone", v, sizeof v);
    assert_string_equal(v, "+41 44 111 11 11");
    get_prop(f, "contacts", ct, "mobilephone", v, sizeof v);
    assert_string_equal(v, "+41 79 222 22 22");

    /* no contact: to the company (association read, company update) */
    create_obj(f, "companies", "{\"name\":\"Lonely Line Ltd\"}", NULL, lone, sizeof lone);
    f->now += 1000;
    assert_int_equal(write_phone(f, lone, "+44 20 5555 5555"), 2);
    get_prop(f, "companies", lone, "phone", v, sizeof v);
    assert_string_equal(v, "+44 20 5555 5555");

    /* "properties": {"customer": {"phone": ...}} names the company's property alone */
    open_conn(f, "{\"properties\":{\"customer\":{\"phone\":\"phone\"}}}");
    r = read_one(f, co);
    assert_string_equal(r->customer.phone, "+41 44 111 11 11");
    hs_record_free(r);
    f->now += 1000;
    assert_int_equal(write_phone(f, co, "+41 44 666 66 66"), 1);
    get_prop(f, "contacts", ct, "phone", v, sizeof v);
    assert_string_equal(v, "+41 44 444 44 44");
}

static void test_conn_hubspot_create_customer_with_contact(void **state)
{
    struct fx *f = *state;
    do_setup(f);
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_CUSTOMER, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.display_name, "Nouvelle SARL"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.email, "compta@nouvelle.example"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.given_name, "Marie"), HS_OK);
    memcpy(r->customer.billing_address.country, "FR", 3);
    struct hs_write w = {0};
    w.op = HS_WRITE_CREATE;
    w.record = r;
    w.idem_key = "cust-1";
    struct hs_error err = {0};
    assert_int_equal(hs_connector_hubspot_ops.write(f->conn, HS_KIND_CUSTOMER, &w, 1, &err), HS_OK);
    if (w.status != HS_OK)
        fail_msg("write status %d: %s", w.status, w.msg);
    const char *one[1] = {w.result->id};
    struct hs_record *back = NULL;
    assert_int_equal(hs_connector_hubspot_ops.read(f->conn, HS_KIND_CUSTOMER, one, 1, &back, NULL),
                     HS_OK);
    assert_string_equal(back->customer.display_name, "Nouvelle SARL");
    assert_string_equal(back->customer.email, "compta@nouvelle.example");
    assert_string_equal(back->customer.given_name, "Marie");
    assert_string_equal(back->customer.billing_address.country, "FR");
    hs_record_free(back);
    hs_record_free(w.result);
    hs_record_free(r);
}

/* A write's result is what HubSpot stored, not an echo of the request: fields a company cannot
 * hold (currency, payment terms, active) are absent from it, like from the next read, so the
 * engine's base never holds values the CRM does not have. */
static void test_conn_hubspot_write_result_is_what_hubspot_stored(void **state)
{
    struct fx *f = *state;
    do_setup(f);
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_CUSTOMER, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.display_name, "Stored Only GmbH"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.email, "ap@stored-only.example"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.payment_terms, "Net 30"), HS_OK);
    memcpy(r->customer.currency, "EUR", 4);
    r->customer.active = HS_TRI_FALSE;
    struct hs_write w = {0};
    w.op = HS_WRITE_CREATE;
    w.record = r;
    w.idem_key = "stored-only-1";
    struct hs_error err = {0};
    assert_int_equal(hs_connector_hubspot_ops.write(f->conn, HS_KIND_CUSTOMER, &w, 1, &err), HS_OK);
    if (w.status != HS_OK)
        fail_msg("write status %d: %s", w.status, w.msg);
    assert_non_null(w.result);
    assert_string_equal(w.result->customer.display_name, "Stored Only GmbH");
    assert_string_equal(w.result->customer.email, "ap@stored-only.example");
    assert_string_equal(w.result->customer.currency, "");
    assert_null(w.result->customer.payment_terms);
    assert_int_equal(w.result->customer.active, HS_TRI_UNSET);
    const char *one[1] = {w.result->id};
    struct hs_record *back = NULL;
    assert_int_equal(hs_connector_hubspot_ops.read(f->conn, HS_KIND_CUSTOMER, one, 1, &back, NULL),
                     HS_OK);
    struct hs_fields fr;
    struct hs_fields fb;
    hs_fields_init(&fr);
    hs_fields_init(&fb);
    assert_int_equal(hs_record_to_fields(w.result, &fr, NULL), HS_OK);
    assert_int_equal(hs_record_to_fields(back, &fb, NULL), HS_OK);
    /* every field the result claims is what a read returns */
    size_t pos = 0;
    const char *name;
    const char *value;
    while (hs_fields_iter(&fr, &pos, &name, &value)) {
        if (!hs_str_eq(hs_fields_get(&fb, name), value))
            fail_msg("result has %s = '%s', a read has '%s'", name, value,
                     hs_fields_get(&fb, name) ? hs_fields_get(&fb, name) : "(absent)");
    }
    hs_fields_release(&fr);
    hs_fields_release(&fb);
    hs_record_free(back);
    hs_record_free(w.result);
    hs_record_free(r);
}

static void test_conn_hubspot_partial_failure(void **state)
{
    struct fx *f = *state;
    do_setup(f);
    char **ids = NULL;
    size_t n = all_ids(f, HS_KIND_ITEM, &ids, NULL);
    struct hs_record *a = new_item("A", "A-1", 100);
    struct hs_record *b = new_item("B", "B-1", 200);
    assert_int_equal(hs_record_set_str(&a->id, ids[0]), HS_OK);
    assert_int_equal(hs_record_set_str(&b->id, "77777777"), HS_OK); /* does not exist */
    struct hs_write w[2];
    memset(w, 0, sizeof w);
    w[0].op = w[1].op = HS_WRITE_UPDATE;
    w[0].record = b; /* the failing one first: results must not be matched by position */
    w[1].record = a;
    stats_reset(f);
    assert_int_equal(hs_connector_hubspot_ops.write(f->conn, HS_KIND_ITEM, w, 2, NULL), HS_OK);
    assert_int_equal(stat(f, NULL), 1);
    assert_int_equal(w[0].status, HS_ENOTFOUND);
    assert_non_null(strstr(w[0].msg, "not exist"));
    assert_null(w[0].result);
    assert_int_equal(w[1].status, HS_OK);
    assert_string_equal(w[1].result->id, ids[0]);
    hs_record_free(w[1].result);

    /* one input HubSpot refuses whole (unknown property): only that record fails */
    open_conn(f, "{\"custom_properties\":{\"item\":[\"no_such_property\"]}}");
    struct hs_record *c = new_item("C", "C-1", 300);
    assert_int_equal(hs_fields_set(&c->custom, "no_such_property", "x"), HS_OK);
    struct hs_write w3[3];
    memset(w3, 0, sizeof w3);
    struct hs_record *recs[3] = {new_item("D", "D-1", 1), c, new_item("E", "E-1", 2)};
    const char *keys[3] = {"k-d", "k-c", "k-e"};
    for (int i = 0; i < 3; i++) {
        w3[i].op = HS_WRITE_CREATE;
        w3[i].record = recs[i];
        w3[i].idem_key = keys[i];
    }
    assert_int_equal(hs_connector_hubspot_ops.write(f->conn, HS_KIND_ITEM, w3, 3, NULL), HS_OK);
    assert_int_equal(w3[0].status, HS_OK);
    assert_int_equal(w3[1].status, HS_EINVAL);
    assert_non_null(strstr(w3[1].msg, "no_such_property"));
    assert_int_equal(w3[2].status, HS_OK);
    for (int i = 0; i < 3; i++) {
        hs_record_free(w3[i].result);
        hs_record_free(recs[i]);
    }
    /* a deal is never created */
    struct hs_record *inv = NULL;
    assert_int_equal(hs_record_new(HS_KIND_INVOICE, &inv), HS_OK);
    struct hs_write wi = {0};
    wi.op = HS_WRITE_CREATE;
    wi.record = inv;
    wi.idem_key = "x";
    assert_int_equal(hs_connector_hubspot_ops.write(f->conn, HS_KIND_INVOICE, &wi, 1, NULL), HS_OK);
    assert_int_equal(wi.status, HS_EUNSUPPORTED);
    hs_record_free(inv);
    hs_record_free(a);
    hs_record_free(b);
    free_ids(ids, n);
}

static void test_conn_hubspot_batch_too_big(void **state)
{
    struct fx *f = *state;
    struct hs_write w[101];
    memset(w, 0, sizeof w);
    assert_int_equal(hs_connector_hubspot_ops.write(f->conn, HS_KIND_ITEM, w, 101, NULL),
                     HS_ETOOBIG);
    /* HubSpot's own refusal maps to HS_ETOOBIG too */
    json_t *inputs = json_array();
    for (int i = 0; i < 101; i++)
        json_array_append_new(inputs, json_pack("{s:s,s:{}}", "id", "1", "properties"));
    struct hs_connector_config cfg = {0};
    cfg.name = "crm";
    cfg.base_url = "http://sandbox.test/hubspot";
    cfg.http = &f->http;
    cfg.env = &f->env;
    cfg.token = token;
    struct hs_hubspot_page page;
    struct hs_error err = {0};
    assert_int_equal(
        hs_hubspot_client_batch_write(&cfg, HS_HUBSPOT_PRODUCTS, "update", inputs, &page, &err),
        HS_ETOOBIG);
    json_decref(inputs);
}

static void test_conn_hubspot_invoice_write_back(void **state)
{
    struct fx *f = *state;
    do_setup(f);
    char **ids = NULL;
    size_t n = all_ids(f, HS_KIND_INVOICE, &ids, NULL);
    const char *one[1] = {ids[0]};
    struct hs_record *r = NULL;
    assert_int_equal(hs_connector_hubspot_ops.read(f->conn, HS_KIND_INVOICE, one, 1, &r, NULL),
                     HS_OK);
    const char *cur = r->invoice.currency;
    assert_int_equal(hs_record_set_str(&r->invoice.number, "INV-1042"), HS_OK);
    r->invoice.status = HS_INVOICE_PARTIALLY_PAID;
    assert_int_equal(hs_money_from_minor(1, cur, &r->invoice.amount_paid, NULL), HS_OK);
    assert_int_equal(
        hs_money_sub(&r->invoice.total, &r->invoice.amount_paid, &r->invoice.balance, NULL), HS_OK);
    assert_int_equal(hs_fields_set(&r->external_refs, "invoice_url", "https://qbo.example/i/42"),
                     HS_OK);
    assert_int_equal(hs_fields_set(&r->custom, "hoopsync_last_payment_date", "2025-02-03"), HS_OK);
    r->invoice.total.minor += 999; /* read-only on this side: never written */
    struct hs_write w = {0};
    w.op = HS_WRITE_UPDATE;
    w.record = r;
    stats_reset(f);
    assert_int_equal(hs_connector_hubspot_ops.write(f->conn, HS_KIND_INVOICE, &w, 1, NULL), HS_OK);
    if (w.status != HS_OK)
        fail_msg("status %d: %s", w.status, w.msg);
    assert_int_equal(stat(f, NULL), 1);
    hs_record_free(w.result);
    struct hs_record *back = NULL;
    assert_int_equal(hs_connector_hubspot_ops.read(f->conn, HS_KIND_INVOICE, one, 1, &back, NULL),
                     HS_OK);
    assert_string_equal(back->invoice.number, "INV-1042");
    assert_int_equal(back->invoice.status, HS_INVOICE_PARTIALLY_PAID);
    assert_int_equal(back->invoice.amount_paid.minor, 1);
    assert_int_equal(back->invoice.balance.minor, r->invoice.total.minor - 999 - 1);
    assert_int_equal(back->invoice.total.minor, r->invoice.total.minor - 999);
    assert_string_equal(hs_fields_get(&back->external_refs, "invoice_url"),
                        "https://qbo.example/i/42");
    assert_string_equal(hs_fields_get(&back->custom, "hoopsync_last_payment_date"), "2025-02-03");
    int st = 0;
    char path[128];
    snprintf(path, sizeof path,
             "/hubspot/crm/v3/objects/deals/%s?properties=hoopsync_payment_status", ids[0]);
    json_t *d = sbx_call(f, "GET", path, NULL, &st);
    assert_string_equal(hs_json_str(json_object_get(d, "properties"), "hoopsync_payment_status"),
                        "partially_paid");
    json_decref(d);
    hs_record_free(back);
    hs_record_free(r);
    free_ids(ids, n);
}

/* ---- webhooks ---- */

static void sign(const char *secret, const char *uri, const char *body, const char *ts,
                 char out[64])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state h;
    crypto_auth_hmacsha256_init(&h, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)"POST", 4);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)uri, strlen(uri));
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)ts, strlen(ts));
    crypto_auth_hmacsha256_final(&h, mac);
    sodium_bin2base64(out, 64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
}

static void hook_request(struct hs_http_request *req, const char *body, const char *sig,
                         const char *ts)
{
    hs_http_request_init(req);
    req->method = hs_strdup("POST");
    req->path = hs_strdup("/hooks/hubspot");
    assert_int_equal(hs_buf_puts(&req->body, body), HS_OK);
    assert_int_equal(hs_http_headers_add(&req->headers, "Host", "127.0.0.1:8750"), HS_OK);
    if (sig != NULL)
        assert_int_equal(hs_http_headers_add(&req->headers, "X-HubSpot-Signature-v3", sig), HS_OK);
    assert_int_equal(hs_http_headers_add(&req->headers, "X-HubSpot-Request-Timestamp", ts), HS_OK);
}

static void test_conn_hubspot_webhook_signature(void **state)
{
    struct fx *f = *state;
    const char *body = "[{\"eventId\":1,\"subscriptionType\":\"company.propertyChange\","
                       "\"objectId\":1001,\"occurredAt\":1735689600000},"
                       "{\"eventId\":2,\"subscriptionType\":\"deal.deletion\",\"objectId\":\"77\"},"
                       "{\"eventId\":3,\"subscriptionType\":\"contact.creation\",\"objectId\":5}]";
    char ts[24], sig[64];
    snprintf(ts, sizeof ts, "%lld", (long long)f->now);
    sign("s3cret", "http://127.0.0.1:8750/hooks/hubspot", body, ts, sig);
    struct hs_http_request req;
    hook_request(&req, body, sig, ts);
    struct hs_changes ch;
    struct hs_error err = {0};
    if (hs_connector_hubspot_ops.webhook(f->conn, &req, "s3cret", &ch, &err) != HS_OK)
        fail_msg("webhook: %s", err.msg);
    assert_int_equal(ch.n_items, 2); /* contacts are not a kind of ours */
    assert_string_equal(ch.items[0].id, "1001");
    assert_int_equal(ch.items[0].kind, HS_KIND_CUSTOMER);
    assert_int_equal(ch.items[0].updated_at, START_MS);
    assert_false(ch.items[0].deleted);
    assert_string_equal(ch.items[1].id, "77");
    assert_int_equal(ch.items[1].kind, HS_KIND_INVOICE);
    assert_true(ch.items[1].deleted);
    hs_changes_release(&ch);
    /* wrong secret */
    assert_int_equal(hs_connector_hubspot_ops.webhook(f->conn, &req, "other", &ch, &err), HS_EAUTH);
    /* tampered body */
    req.body.data[10] ^= 1;
    assert_int_equal(hs_connector_hubspot_ops.webhook(f->conn, &req, "s3cret", &ch, &err),
                     HS_EAUTH);
    assert_non_null(strstr(err.msg, "does not match"));
    hs_http_request_release(&req);
    /* stale: signed correctly but 6 minutes old */
    snprintf(ts, sizeof ts, "%lld", (long long)(f->now - 6 * 60000));
    sign("s3cret", "http://127.0.0.1:8750/hooks/hubspot", body, ts, sig);
    hook_request(&req, body, sig, ts);
    assert_int_equal(hs_connector_hubspot_ops.webhook(f->conn, &req, "s3cret", &ch, &err),
                     HS_EAUTH);
    assert_non_null(strstr(err.msg, "timestamp"));
    hs_http_request_release(&req);
    /* no signature */
    hook_request(&req, body, NULL, ts);
    assert_int_equal(hs_connector_hubspot_ops.webhook(f->conn, &req, "s3cret", &ch, &err),
                     HS_EAUTH);
    hs_http_request_release(&req);
}

struct receiver {
    pthread_mutex_t mu;
    struct hs_http_request got[8];
    int n;
};

static int receive(void *ud, const struct hs_http_request *req, struct hs_http_response *resp)
{
    struct receiver *r = ud;
    pthread_mutex_lock(&r->mu);
    if (r->n < 8) {
        struct hs_http_request *c = &r->got[r->n++];
        hs_http_request_init(c);
        c->method = hs_strdup(req->method);
        c->path = hs_strdup(req->path);
        c->query = req->query ? hs_strdup(req->query) : NULL;
        int rc = HS_OK;
        for (size_t i = 0; i < req->headers.n && rc == HS_OK; i++)
            rc = hs_http_headers_add(&c->headers, req->headers.v[i].name, req->headers.v[i].value);
        if (rc == HS_OK)
            rc = hs_buf_append(&c->body, req->body.data, req->body.len);
        if (rc != HS_OK)
            resp->status = 500;
    }
    pthread_mutex_unlock(&r->mu);
    if (resp->status != 500)
        resp->status = 204;
    return HS_OK;
}

static void test_conn_hubspot_webhook_sandbox_delivery(void **state)
{
    struct fx *f = *state;
    struct receiver r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.mu, NULL);
    struct hs_http_server_config scfg = {"127.0.0.1", 0, 0, 1};
    struct hs_http_server *srv = NULL;
    assert_int_equal(hs_http_server_open(&scfg, receive, &r, &srv, NULL), HS_OK);
    char url[96], body[256], settings[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/hooks/hubspot",
             (unsigned)hs_http_server_port(srv));
    snprintf(body, sizeof body,
             "{\"provider\":\"hubspot\",\"url\":\"%s\",\"secret\":\"wh-secret\"}", url);
    int st = 0;
    json_decref(sbx_call(f, "POST", "/_sandbox/webhooks", body, &st));
    assert_int_equal(st, 201);
    snprintf(settings, sizeof settings, "{\"webhook_url\":\"%s\"}", url);
    open_conn(f, settings);

    char **ids = NULL;
    size_t n = all_ids(f, HS_KIND_CUSTOMER, &ids, NULL);
    struct hs_record *rec = NULL;
    assert_int_equal(hs_record_new(HS_KIND_CUSTOMER, &rec), HS_OK);
    assert_int_equal(hs_record_set_str(&rec->id, ids[5]), HS_OK);
    assert_int_equal(hs_record_set_str(&rec->customer.website, "https://hooked.example"), HS_OK);
    struct hs_write w = {0};
    w.op = HS_WRITE_UPDATE;
    w.record = rec;
    assert_int_equal(hs_connector_hubspot_ops.write(f->conn, HS_KIND_CUSTOMER, &w, 1, NULL), HS_OK);
    assert_int_equal(w.status, HS_OK);
    hs_record_free(w.result);
    assert_int_equal(hs_sbx_webhook_drain(f->sbx, 10000), HS_OK);
    hs_http_server_close(srv);

    assert_true(r.n >= 1);
    struct hs_changes ch;
    struct hs_error err = {0};
    if (hs_connector_hubspot_ops.webhook(f->conn, &r.got[0], "wh-secret", &ch, &err) != HS_OK)
        fail_msg("webhook: %s", err.msg);
    bool found = false;
    for (size_t i = 0; i < ch.n_items; i++)
        found =
            found || (ch.items[i].kind == HS_KIND_CUSTOMER && strcmp(ch.items[i].id, ids[5]) == 0);
    assert_true(found);
    hs_changes_release(&ch);
    /* tampered delivery */
    r.got[0].body.data[r.got[0].body.len / 2] ^= 0x20;
    assert_int_equal(hs_connector_hubspot_ops.webhook(f->conn, &r.got[0], "wh-secret", &ch, &err),
                     HS_EAUTH);
    /* the same delivery 10 minutes later (replay) */
    r.got[0].body.data[r.got[0].body.len / 2] ^= 0x20;
    f->now += 10 * 60000;
    assert_int_equal(hs_connector_hubspot_ops.webhook(f->conn, &r.got[0], "wh-secret", &ch, &err),
                     HS_EAUTH);
    for (int i = 0; i < r.n; i++)
        hs_http_request_release(&r.got[i]);
    pthread_mutex_destroy(&r.mu);
    hs_record_free(rec);
    free_ids(ids, n);
}

/* ---- parser ---- */

static const char page_json[] =
    "{\"results\":[{\"id\":\"12\",\"properties\":{\"name\":\"Acme\",\"price\":\"10.005\","
    "\"hs_lastmodifieddate\":\"2025-01-02T03:04:05.678Z\",\"quantity\":3,\"bad\":1.5,"
    "\"country\":\"de\",\"amount\":\"12.50\",\"deal_currency_code\":\"JPY\","
    "\"hoopsync_payment_status\":\"unpaid\"},\"updatedAt\":"
    "\"2025-01-02T03:04:05.678Z\",\"objectWriteTraceId\":\"0\"}],\"errors\":[{\"status\":\"error\","
    "\"category\":\"OBJECT_NOT_FOUND\",\"message\":\"gone\",\"context\":{\"ids\":[\"9\"]}}],"
    "\"paging\":{\"next\":{\"after\":\"200\"}},\"total\":5000}";

static void test_conn_hubspot_parse_page(void **state)
{
    (void)state;
    hs_alloc_setup_json();
    struct hs_hubspot_page p;
    assert_int_equal(hs_hubspot_parse_page((const uint8_t *)page_json, strlen(page_json), &p, NULL),
                     HS_OK);
    assert_int_equal(p.n_objs, 1);
    assert_string_equal(p.objs[0].id, "12");
    assert_int_equal(p.objs[0].updated_ms, 1735787045678LL);
    assert_string_equal(hs_json_str(p.objs[0].props, "quantity"), "3"); /* integer as text */
    assert_null(json_object_get(p.objs[0].props, "bad"));               /* a real is dropped */
    assert_string_equal(p.objs[0].trace, "0");
    assert_int_equal(p.n_errs, 1);
    assert_int_equal(p.errs[0].code, HS_ENOTFOUND);
    assert_string_equal(p.after, "200");
    assert_int_equal(p.total, 5000);

    struct hs_hubspot_settings s;
    assert_int_equal(hs_hubspot_settings_parse(NULL, &s, NULL), HS_OK);
    struct hs_record *r = NULL;
    assert_int_equal(hs_hubspot_to_item(&s, &p.objs[0], &r, NULL), HS_OK);
    assert_int_equal(r->item.unit_price.minor, 1001); /* 10.005 USD rounds half up */
    hs_record_free(r);
    assert_int_equal(hs_hubspot_to_invoice(&s, &p.objs[0], "7", NULL, 0, &r, NULL), HS_OK);
    assert_string_equal(r->invoice.currency, "JPY");
    assert_int_equal(r->invoice.total.minor, 13); /* 12.50 JPY: 0 decimals */
    assert_string_equal(r->invoice.customer_ref, "7");
    hs_record_free(r);
    assert_int_equal(hs_hubspot_to_customer(&s, &p.objs[0], NULL, &r, NULL), HS_OK);
    assert_string_equal(r->customer.billing_address.country, "DE");
    hs_record_free(r);
    hs_hubspot_settings_release(&s);
    hs_hubspot_page_release(&p);

    /* shapes that are refused with a message */
    static const char *const bad[] = {"[1]", "{\"results\":{}}",
                                      "{\"results\":[{\"properties\":{}}]}",
                                      "{\"results\":[{\"id\":\"\",\"properties\":{}}]}", "{"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hs_error err = {0};
        assert_int_equal(hs_hubspot_parse_page((const uint8_t *)bad[i], strlen(bad[i]), &p, &err),
                         HS_EPROTO);
        assert_true(strlen(err.msg) > 0);
        assert_int_equal(p.n_objs, 0);
    }
}

static void test_conn_hubspot_parse_survives_every_failed_allocation(void **state)
{
    (void)state;
    hs_alloc_setup_json();
    for (int n = 0;; n++) {
        struct hs_hubspot_page p;
        struct hs_hubspot_settings s;
        struct hs_record *r = NULL;
        failalloc_arm(n);
        int rc = hs_hubspot_parse_page((const uint8_t *)page_json, strlen(page_json), &p, NULL);
        if (rc == HS_OK) {
            rc = hs_hubspot_settings_parse(NULL, &s, NULL);
            if (rc == HS_OK) {
                rc = hs_hubspot_to_invoice(&s, &p.objs[0], "7", NULL, 0, &r, NULL);
                json_t *props = NULL, *contact = NULL;
                if (rc == HS_OK)
                    rc = hs_hubspot_props_of(&s, r, NULL, 0, &props, &contact, NULL);
                if (rc != HS_OK) {
                    hs_record_free(r);
                    r = NULL;
                } else {
                    assert_string_equal(hs_json_str(props, "hoopsync_payment_status"), "unpaid");
                }
                json_decref(props);
                json_decref(contact);
                hs_hubspot_settings_release(&s);
            }
            hs_hubspot_page_release(&p);
        }
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_non_null(r);
            hs_record_free(r);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_null(r);
    }
}

static void test_conn_hubspot_settings(void **state)
{
    (void)state;
    hs_alloc_setup_json();
    static const char *const bad[] = {
        "{\"currency\":\"XXY\"}",
        "{\"closed_won_stages\":[]}",
        "{\"properties\":{\"customer\":{\"total\":\"x\"}}}", /* not a customer field */
        "{\"properties\":{\"item\":{\"unit_price\":\"Bad Name\"}}}",
        "{\"custom_properties\":{\"deal\":[\"x\"]}}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = NULL;
        assert_int_equal(hs_json_parse((const uint8_t *)bad[i], strlen(bad[i]), "s", &j, NULL),
                         HS_OK);
        struct hs_hubspot_settings s;
        struct hs_error err = {0};
        assert_int_equal(hs_hubspot_settings_parse(j, &s, &err), HS_EINVAL);
        assert_non_null(strstr(err.msg, "HubSpot settings"));
        json_decref(j);
    }
    const char *good = "{\"currency\":\"EUR\",\"closed_won_stages\":[\"won\",\"paid\"],"
                       "\"properties\":{\"customer\":{\"tax_id\":\"vat_number\",\"phone\":\"\"}},"
                       "\"accounting_ref_key\":\"quickbooks\"}";
    json_t *j = NULL;
    assert_int_equal(hs_json_parse((const uint8_t *)good, strlen(good), "s", &j, NULL), HS_OK);
    struct hs_hubspot_settings s;
    assert_int_equal(hs_hubspot_settings_parse(j, &s, NULL), HS_OK);
    assert_string_equal(s.currency, "EUR");
    assert_int_equal(s.n_won_stages, 2);
    json_t *props = hs_hubspot_props_for(&s, HS_KIND_CUSTOMER, HS_HUBSPOT_SRC_MAIN);
    bool vat = false, phone = false, ref = false;
    size_t i;
    json_t *v;
    json_array_foreach(props, i, v)
    {
        vat = vat || hs_str_eq(json_string_value(v), "vat_number");
        phone = phone || hs_str_eq(json_string_value(v), "phone");
        ref = ref || hs_str_eq(json_string_value(v), "hoopsync_customer_id");
    }
    assert_true(vat);
    assert_false(phone);
    assert_true(ref);
    json_decref(props);
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_CUSTOMER, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.tax_id, "DE123456789"), HS_OK);
    assert_int_equal(hs_fields_set(&r->external_refs, "quickbooks", "9"), HS_OK);
    json_t *out = NULL, *contact = NULL;
    assert_int_equal(hs_hubspot_props_of(&s, r, NULL, 0, &out, &contact, NULL), HS_OK);
    assert_string_equal(hs_json_str(out, "vat_number"), "DE123456789");
    assert_string_equal(hs_json_str(out, "hoopsync_customer_id"), "9");
    assert_int_equal(json_object_size(contact), 0);
    json_decref(out);
    json_decref(contact);
    hs_record_free(r);
    hs_hubspot_settings_release(&s);
    json_decref(j);
}

/* The contacts feed (companies page, contacts page with its association read) and a phone
 * written to a primary contact (association read first) with every allocation of the
 * connector failing in turn: HS_ENOMEM with nothing returned, or the full answer. */
static void test_conn_hubspot_contacts_survive_every_failed_allocation(void **state)
{
    struct fx *f = *state;
    f->use_held = true;
    open_conn(f, NULL);
    do_setup(f);
    char **ids = NULL;
    char *cursor = NULL;
    size_t n = all_ids(f, HS_KIND_CUSTOMER, &ids, &cursor);
    struct hs_record *recs[30];
    assert_int_equal(hs_connector_hubspot_ops.read(f->conn, HS_KIND_CUSTOMER,
                                                   (const char *const *)ids, n, recs, NULL),
                     HS_OK);
    size_t pick = n;
    for (size_t i = 0; i < n && pick == n; i++)
        if (recs[i]->customer.email != NULL)
            pick = i;
    assert_true(pick < n);
    char contact[32];
    contact_by_email(f, recs[pick]->customer.email, contact, sizeof contact);
    for (size_t i = 0; i < n; i++)
        hs_record_free(recs[i]);
    f->now += 60000;
    patch_prop(f, "contacts", contact, "lastname", "Oomtest");

    for (int k = 0;; k++) {
        struct hs_changes a, b;
        memset(&b, 0, sizeof b);
        failalloc_arm(k);
        int rc = hs_connector_hubspot_ops.changes(f->conn, HS_KIND_CUSTOMER, cursor, &a, NULL);
        if (rc == HS_OK)
            rc = hs_connector_hubspot_ops.changes(f->conn, HS_KIND_CUSTOMER, a.cursor, &b, NULL);
        failalloc_disarm();
        if (rc != HS_OK) {
            assert_int_equal(rc, HS_ENOMEM);
            assert_int_equal(b.n_items, 0);
            assert_null(b.cursor);
            hs_changes_release(&a);
            continue;
        }
        assert_int_equal(b.n_items, 1);
        assert_string_equal(b.items[0].id, ids[pick]);
        hs_changes_release(&a);
        hs_changes_release(&b);
        break;
    }

    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_CUSTOMER, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->id, ids[pick]), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.phone, "+1 646 555 0123"), HS_OK);
    const char *fields[] = {"phone"};
    for (int k = 0;; k++) {
        struct hs_write w = {0};
        w.op = HS_WRITE_UPDATE;
        w.record = r;
        w.fields = fields;
        w.n_fields = 1;
        failalloc_arm(k);
        int rc = hs_connector_hubspot_ops.write(f->conn, HS_KIND_CUSTOMER, &w, 1, NULL);
        failalloc_disarm();
        if (rc != HS_OK) {
            assert_int_equal(rc, HS_ENOMEM);
            assert_null(w.result);
            continue;
        }
        if (w.status == HS_ENOMEM) { /* one record's own failure */
            assert_null(w.result);
            continue;
        }
        assert_int_equal(w.status, HS_OK);
        assert_string_equal(w.result->customer.phone, "+1 646 555 0123");
        hs_record_free(w.result);
        break;
    }
    char v[64];
    get_prop(f, "contacts", contact, "phone", v, sizeof v);
    assert_string_equal(v, "+1 646 555 0123");
    hs_record_free(r);
    free_ids(ids, n);
    hs_free(cursor);
}

static void test_conn_hubspot_time_and_cursor(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_int_equal(hs_hubspot_parse_time("2025-01-01T00:00:00Z", 20, &ms), HS_OK);
    assert_int_equal(ms, START_MS);
    assert_int_equal(hs_hubspot_parse_time("2025-01-01T01:00:00.5+01:00", 27, &ms), HS_OK);
    assert_int_equal(ms, START_MS + 500);
    assert_int_equal(hs_hubspot_parse_time("2025-01-01", 10, &ms), HS_OK);
    assert_int_equal(ms, START_MS);
    assert_int_equal(hs_hubspot_parse_time("1735689600000", 13, &ms), HS_OK);
    assert_int_equal(ms, START_MS);
    assert_int_equal(hs_hubspot_parse_time("2025-02-30", 10, &ms), HS_EINVAL);
    assert_int_equal(hs_hubspot_parse_time("2025-01-01T00:00:00", 19, &ms), HS_EINVAL);
    struct hs_hubspot_cursor cur = {.ms = START_MS, .id = 1234, .phase = HS_HUBSPOT_PHASE_MAIN};
    char *c = hs_hubspot_cursor_format(&cur);
    assert_string_equal(c, "v1:1735689600000:1234");
    memset(&cur, 0xff, sizeof cur);
    assert_int_equal(hs_hubspot_cursor_parse(c, strlen(c), &cur, NULL), HS_OK);
    assert_int_equal(cur.ms, START_MS);
    assert_int_equal(cur.id, 1234);
    assert_false(cur.has_contacts);
    hs_free(c);
    /* customers: companies' and contacts' positions, and the phase */
    static const char *const good[] = {
        "v2:1735689600000:1234:1735689500000:9223372036854775807:first",
        "v2:0:0:0:0:companies",
        "v2:1:2:3:4:contacts",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(hs_hubspot_cursor_parse(good[i], strlen(good[i]), &cur, NULL), HS_OK);
        assert_true(cur.has_contacts);
        assert_int_equal(cur.phase, (enum hs_hubspot_phase)i);
        c = hs_hubspot_cursor_format(&cur);
        assert_string_equal(c, good[i]);
        hs_free(c);
    }
    assert_int_equal(cur.contact_ms, 3);
    assert_int_equal(cur.contact_id, 4);
    static const char *const bad[] = {
        "v1:12",
        "v1:-1:2",
        "v1:1:2:",
        "v1:1:2:3:4:contacts",
        "v2:1:2",
        "v2:1:2:3:4:people",
        "v2:1:2:3:4:contacts:",
        "v2:1:2:3:9223372036854775808:first",
        "v2:1:2:3:+4:first",
        "v2:1:2::4:first",
        "v3:1:2",
    };
    struct hs_error err = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(hs_hubspot_cursor_parse(bad[i], strlen(bad[i]), &cur, &err), HS_EINVAL);
        assert_non_null(strstr(err.msg, "invalid HubSpot cursor"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conn_hubspot_setup_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_changes_pages_and_cursor, setup_big,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_changes_contact_edit_announces_company,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_read_customers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_read_items, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_read_invoices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_create_twice_is_one_record, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_update_customer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_customer_phone_is_the_primary_contacts,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_write_result_is_what_hubspot_stored,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_create_customer_with_contact, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_partial_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_batch_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_invoice_write_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_webhook_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_webhook_sandbox_delivery, setup,
                                        teardown),
        cmocka_unit_test(test_conn_hubspot_parse_page),
        cmocka_unit_test(test_conn_hubspot_parse_survives_every_failed_allocation),
        cmocka_unit_test(test_conn_hubspot_settings),
        cmocka_unit_test(test_conn_hubspot_time_and_cursor),
        cmocka_unit_test_setup_teardown(test_conn_hubspot_contacts_survive_every_failed_allocation,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
