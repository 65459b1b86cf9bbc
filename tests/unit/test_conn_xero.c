/*
 * tests/unit/test_conn_xero.c - the Xero connector: parse/build units and the sandbox.
 *
 * Design:     sandbox cases open a seeded sandbox (seed 7, Xero module only, static token "T",
 *             frozen clock, no rate limits unless a case wants them) and the connector on top
 *             of it through the in-process transport, the same code path as real HTTP without
 *             sockets. The connector's env sleep also moves the sandbox clock, so a 429's
 *             Retry-After really ends the window. Parse-level cases (time, cursor and its tie
 *             rule, records, per-element answers, webhook bodies, element building, totals
 *             against core/tax.h's Xero policy) run without a sandbox.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "connectors/xero/xero.h"
#include "connectors/xero/xero_int.h"
#include "core/tax.h"
#include "core/validate.h"
#include "sandbox/sbx.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/jsonnum.h"

#define START_MS 1795456800000LL /* 2026-11-23T18:00:00Z */

static const struct hs_connector_ops *const ops = &hs_connector_xero_ops;
static const struct hs_sbx_module_ops *const only_xero[] = {&hs_sbx_xero_ops};

struct t {
    struct hs_sbx *sbx;
    char tenant[48];
    struct hs_http_transport http;
    struct hs_env env;
    int64_t now;
    uint64_t rng;
    bool sleep_moves_sbx;
    json_t *settings;
    struct hs_connector *c;
};

static int64_t t_now(void *ud)
{
    return ((struct t *)ud)->now;
}

static int sbx_call(struct t *t, const char *method, const char *path, const char *query,
                    const char *body, json_t **out);

static void t_sleep(void *ud, int64_t ms)
{
    struct t *t = ud;
    t->now += ms;
    if (t->sleep_moves_sbx) {
        char body[64];
        snprintf(body, sizeof body, "{\"advance_ms\":%lld}", (long long)ms);
        assert_int_equal(sbx_call(t, "POST", "/_sandbox/clock", NULL, body, NULL), 200);
    }
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
    if (t->tenant[0] != '\0')
        assert_int_equal(hs_http_headers_add(&r.headers, "Xero-tenant-id", t->tenant), HS_OK);
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

static void advance(struct t *t, int64_t ms)
{
    char body[64];
    snprintf(body, sizeof body, "{\"advance_ms\":%lld}", (long long)ms);
    assert_int_equal(sbx_call(t, "POST", "/_sandbox/clock", NULL, body, NULL), 200);
    t->now += ms;
}

static void open_conn(struct t *t)
{
    struct hs_connector_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.name = "accounting";
    cfg.base_url = "http://sandbox/xero";
    cfg.tenant = t->tenant;
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

static int open_fixture(void **state, bool limits)
{
    hs_alloc_setup_json();
    struct t *t = hs_calloc(1, sizeof *t);
    assert_non_null(t);
    struct hs_sbx_options opt;
    memset(&opt, 0, sizeof opt);
    opt.seed = 7;
    opt.seeded = true;
    opt.static_token = "T";
    opt.no_rate_limits = !limits;
    opt.start_ms = START_MS;
    opt.modules = only_xero;
    opt.n_modules = 1;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_sbx_open(&opt, &t->sbx, &err), HS_OK);
    assert_int_equal(sbx_call(t, "POST", "/_sandbox/clock", NULL, "{\"freeze\":true}", NULL), 200);
    json_t *ten = NULL;
    assert_int_equal(sbx_call(t, "GET", "/_sandbox/tenants", NULL, NULL, &ten), 200);
    const char *id = json_string_value(json_object_get(json_object_get(ten, "xero"), "tenantId"));
    assert_non_null(id);
    snprintf(t->tenant, sizeof t->tenant, "%s", id);
    json_decref(ten);
    assert_int_equal(hs_http_inproc_open(hs_sbx_handle, t->sbx, &t->http, &err), HS_OK);
    t->now = START_MS;
    t->env.now_ms = t_now;
    t->env.rand64 = t_rand;
    t->env.log = t_log;
    t->env.sleep_ms = t_sleep;
    t->env.ud = t;
    t->env.min_level = HS_LOG_ERROR;
    t->settings = json_object();
    open_conn(t);
    *state = t;
    return 0;
}

static int setup(void **state)
{
    return open_fixture(state, false);
}

static int setup_limited(void **state)
{
    return open_fixture(state, true);
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

static struct hs_record *new_customer(const char *name, const char *email)
{
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_CUSTOMER, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.display_name, name), HS_OK);
    if (email != NULL)
        assert_int_equal(hs_record_set_str(&r->customer.email, email), HS_OK);
    return r;
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

static bool has_id(const struct hs_changes *ch, const char *id)
{
    for (size_t i = 0; i < ch->n_items; i++)
        if (strcmp(ch->items[i].id, id) == 0)
            return true;
    return false;
}

/* Writes n records of kind; asserts the batch answered. */
static void write_ok(struct t *t, enum hs_kind kind, struct hs_write *w, size_t n)
{
    struct hs_error err;
    hs_error_clear(&err);
    int rc = ops->write(t->c, kind, w, n, &err);
    if (rc != HS_OK)
        print_error("write: %s\n", err.msg);
    assert_int_equal(rc, HS_OK);
}

/* Creates one customer and returns its id (caller frees). */
static char *create_customer(struct t *t, const char *name, const char *key)
{
    struct hs_record *r = new_customer(name, NULL);
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_CREATE;
    w.record = r;
    w.idem_key = key;
    write_ok(t, HS_KIND_CUSTOMER, &w, 1);
    if (w.status != HS_OK)
        print_error("create: %s\n", w.msg);
    assert_int_equal(w.status, HS_OK);
    char *id = hs_strdup(w.result->id);
    hs_record_free(w.result);
    hs_record_free(r);
    return id;
}

/* Every change of kind from no cursor, paging to the end; returns the count and the cursor. */
static size_t drain(struct t *t, enum hs_kind kind, char **cursor, size_t *calls)
{
    size_t total = 0;
    *calls = 0;
    char *cur = NULL;
    for (;;) {
        struct hs_changes ch;
        changes_ok(t, kind, cur, &ch);
        (*calls)++;
        assert_true(*calls < 1000);
        total += ch.n_items;
        hs_free(cur);
        cur = hs_strdup(ch.cursor);
        bool more = ch.more;
        hs_changes_release(&ch);
        if (!more)
            break;
    }
    *cursor = cur;
    return total;
}

/* The id of the seeded item with code (read from the sandbox directly), into out. */
static void item_id(struct t *t, const char *code, char *out, size_t cap)
{
    json_t *j = NULL;
    char path[96];
    snprintf(path, sizeof path, "/xero/api.xro/2.0/Items/%s", code);
    assert_int_equal(sbx_call(t, "GET", path, NULL, NULL, &j), 200);
    snprintf(out, cap, "%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(j, "Items"), 0), "ItemID")));
    json_decref(j);
}

/* The Code of the first seeded item. */
static void first_item_code(struct t *t, char *out, size_t cap)
{
    json_t *j = NULL;
    assert_int_equal(sbx_call(t, "GET", "/xero/api.xro/2.0/Items", NULL, NULL, &j), 200);
    const char *code =
        json_string_value(json_object_get(json_array_get(json_object_get(j, "Items"), 0), "Code"));
    assert_non_null(code);
    snprintf(out, cap, "%s", code);
    json_decref(j);
}

/* ---- changes ------------------------------------------------------------------------------ */

static void test_conn_xero_changes_pages_and_then_only_new(void **state)
{
    struct t *t = *state;
    /* 150 more contacts, 30 per second, so that the feed has more than one page */
    for (int b = 0; b < 5; b++) {
        struct hs_write w[30];
        struct hs_record *r[30];
        char keys[30][32];
        memset(w, 0, sizeof w);
        for (int i = 0; i < 30; i++) {
            char name[48];
            snprintf(name, sizeof name, "Paged Co %d", b * 30 + i);
            snprintf(keys[i], sizeof keys[i], "paged-%d", b * 30 + i);
            r[i] = new_customer(name, NULL);
            w[i].op = HS_WRITE_CREATE;
            w[i].record = r[i];
            w[i].idem_key = keys[i];
        }
        write_ok(t, HS_KIND_CUSTOMER, w, 30);
        for (int i = 0; i < 30; i++) {
            assert_int_equal(w[i].status, HS_OK);
            hs_record_free(w[i].result);
            hs_record_free(r[i]);
        }
        advance(t, 1000);
    }
    json_t *all = NULL;
    assert_int_equal(
        sbx_call(t, "GET", "/xero/api.xro/2.0/Contacts", "includeArchived=true", NULL, &all), 200);
    size_t n_contacts = json_array_size(json_object_get(all, "Contacts"));
    json_decref(all);
    assert_true(n_contacts >= 150);
    char *cursor = NULL;
    size_t calls = 0;
    size_t seen = drain(t, HS_KIND_CUSTOMER, &cursor, &calls);
    /* every contact exactly once: the window edges overlap, the cursor's versions do not */
    assert_int_equal(seen, n_contacts);
    assert_true(calls >= 2);
    /* nothing changed: the newest two seconds are listed again (the header is sent a second
     * early) but nothing is reported */
    advance(t, 60000);
    struct hs_changes ch;
    changes_ok(t, HS_KIND_CUSTOMER, cursor, &ch);
    assert_int_equal(ch.n_items, 0);
    assert_false(ch.more);
    hs_free(cursor);
    cursor = hs_strdup(ch.cursor);
    hs_changes_release(&ch);
    /* a new contact shows up with its time */
    advance(t, 5000);
    char *id = create_customer(t, "Fresh After Cursor", "fresh-1");
    changes_ok(t, HS_KIND_CUSTOMER, cursor, &ch);
    assert_true(has_id(&ch, id));
    for (size_t i = 0; i < ch.n_items; i++)
        if (strcmp(ch.items[i].id, id) == 0)
            assert_true(ch.items[i].updated_at >= t->now && ch.items[i].updated_at < t->now + 1000);
    hs_free(cursor);
    cursor = hs_strdup(ch.cursor);
    hs_changes_release(&ch);
    /* changed again within the same second (1 ms later): a new version, reported again */
    advance(t, 1);
    struct hs_record *r = new_customer("Fresh After Cursor", "new@fresh.example");
    r->id = hs_strdup(id);
    const char *fields[] = {"email"};
    struct hs_write u;
    memset(&u, 0, sizeof u);
    u.op = HS_WRITE_UPDATE;
    u.record = r;
    u.fields = fields;
    u.n_fields = 1;
    write_ok(t, HS_KIND_CUSTOMER, &u, 1);
    assert_int_equal(u.status, HS_OK);
    hs_record_free(u.result);
    hs_record_free(r);
    changes_ok(t, HS_KIND_CUSTOMER, cursor, &ch);
    assert_int_equal(ch.n_items, 1);
    assert_string_equal(ch.items[0].id, id);
    hs_changes_release(&ch);
    hs_free(cursor);
    hs_free(id);
}

/* 250 contacts changed in one second: the cursor pages through the tie without losing one. */
static void test_conn_xero_changes_tie_larger_than_a_page(void **state)
{
    struct t *t = *state;
    advance(t, 10000);
    char *cursor = NULL;
    size_t calls = 0;
    (void)drain(t, HS_KIND_CUSTOMER, &cursor, &calls);
    advance(t, 10000);
    char *ids[250];
    for (int b = 0; b < 5; b++) {
        struct hs_write w[50];
        struct hs_record *r[50];
        char keys[50][32];
        memset(w, 0, sizeof w);
        for (int i = 0; i < 50; i++) {
            char name[48];
            snprintf(name, sizeof name, "Tie Co %d", b * 50 + i);
            snprintf(keys[i], sizeof keys[i], "tie-%d", b * 50 + i);
            r[i] = new_customer(name, NULL);
            w[i].op = HS_WRITE_CREATE;
            w[i].record = r[i];
            w[i].idem_key = keys[i];
        }
        write_ok(t, HS_KIND_CUSTOMER, w, 50);
        for (int i = 0; i < 50; i++) {
            assert_int_equal(w[i].status, HS_OK);
            ids[b * 50 + i] = hs_strdup(w[i].result->id);
            hs_record_free(w[i].result);
            hs_record_free(r[i]);
        }
    }
    bool seen[250];
    memset(seen, 0, sizeof seen);
    char *cur = cursor;
    for (int guard = 0; guard < 20; guard++) {
        struct hs_changes ch;
        changes_ok(t, HS_KIND_CUSTOMER, cur, &ch);
        for (size_t i = 0; i < ch.n_items; i++)
            for (int k = 0; k < 250; k++)
                if (strcmp(ch.items[i].id, ids[k]) == 0)
                    seen[k] = true;
        hs_free(cur);
        cur = hs_strdup(ch.cursor);
        bool more = ch.more;
        hs_changes_release(&ch);
        if (!more)
            break;
    }
    for (int k = 0; k < 250; k++) {
        assert_true(seen[k]);
        hs_free(ids[k]);
    }
    hs_free(cur);
}

static void test_conn_xero_changes_items_invoices_payments(void **state)
{
    struct t *t = *state;
    char *cursor = NULL;
    size_t calls = 0;
    size_t n_items = drain(t, HS_KIND_ITEM, &cursor, &calls);
    assert_true(n_items > 0);
    assert_int_equal(calls, 1); /* Xero does not page items */
    hs_free(cursor);
    size_t n_inv = drain(t, HS_KIND_INVOICE, &cursor, &calls);
    assert_int_equal(n_inv, 0);
    hs_free(cursor);
    size_t n_pay = drain(t, HS_KIND_PAYMENT, &cursor, &calls);
    assert_int_equal(n_pay, 0);
    hs_free(cursor);
    /* a bad cursor is refused before any call */
    struct hs_changes ch;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(ops->changes(t->c, HS_KIND_CUSTOMER, "cdc|x", &ch, &err), HS_EINVAL);
    assert_int_equal(ops->changes(t->c, HS_KIND_CREDIT_NOTE, NULL, &ch, &err), HS_EINVAL);
}

/* ---- read and write ------------------------------------------------------------------------ */

static void test_conn_xero_customer_round_trip(void **state)
{
    struct t *t = *state;
    struct hs_record *r = new_customer("Round Trip GmbH", "ap@roundtrip.example");
    assert_int_equal(hs_record_set_str(&r->customer.given_name, "Ada"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.family_name, "Lovelace"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.phone, "+49 30 1234"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.billing_address.line1, "Hauptstr. 1"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.billing_address.city, "Berlin"), HS_OK);
    memcpy(r->customer.billing_address.country, "DE", 3);
    assert_int_equal(hs_record_set_str(&r->customer.tax_id, "DE123456789"), HS_OK);
    memcpy(r->customer.currency, "USD", 4);
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_CREATE;
    w.record = r;
    w.idem_key = "rt-1";
    write_ok(t, HS_KIND_CUSTOMER, &w, 1);
    if (w.status != HS_OK)
        print_error("create: %s\n", w.msg);
    assert_int_equal(w.status, HS_OK);
    struct hs_record *got = w.result;
    assert_non_null(got->id);
    assert_string_equal(got->customer.display_name, "Round Trip GmbH");
    assert_string_equal(got->customer.email, "ap@roundtrip.example");
    assert_string_equal(got->customer.given_name, "Ada");
    assert_string_equal(got->customer.family_name, "Lovelace");
    assert_string_equal(got->customer.phone, "+49 30 1234");
    assert_string_equal(got->customer.billing_address.city, "Berlin");
    assert_string_equal(got->customer.billing_address.country, "DE");
    assert_string_equal(got->customer.tax_id, "DE123456789");
    assert_string_equal(got->customer.currency, "USD");
    assert_int_equal(got->customer.active, HS_TRI_TRUE);
    assert_true(got->updated_at >= t->now && got->updated_at < t->now + 1000);
    /* the CRM contact is the contact's (primary) person, and the contact is marked ours; no
     * ContactPersons (the other persons are the accounts team's) */
    assert_null(hs_fields_get(&got->meta, HS_META_UNSYNCED));
    json_t *j = NULL;
    char path[128];
    snprintf(path, sizeof path, "/xero/api.xro/2.0/Contacts/%s", got->id);
    assert_int_equal(sbx_call(t, "GET", path, NULL, NULL, &j), 200);
    json_t *jc = json_array_get(json_object_get(j, "Contacts"), 0);
    assert_string_equal(json_string_value(json_object_get(jc, "EmailAddress")),
                        "ap@roundtrip.example");
    assert_string_equal(json_string_value(json_object_get(jc, "ContactNumber")), "hoopsync-rt-1");
    assert_int_equal(json_array_size(json_object_get(jc, "ContactPersons")), 0);
    json_decref(j);
    /* read it back with a seeded one and an unknown id */
    advance(t, 1000);
    json_t *all = NULL;
    assert_int_equal(sbx_call(t, "GET", "/xero/api.xro/2.0/Contacts", NULL, NULL, &all), 200);
    const char *seeded = json_string_value(
        json_object_get(json_array_get(json_object_get(all, "Contacts"), 0), "ContactID"));
    const char *ids[3] = {got->id, "00000000-0000-0000-0000-000000000000", seeded};
    struct hs_record *out[3];
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(ops->read(t->c, HS_KIND_CUSTOMER, ids, 3, out, &err), HS_OK);
    assert_non_null(out[0]);
    assert_null(out[1]);
    assert_non_null(out[2]);
    assert_string_equal(out[0]->customer.email, "ap@roundtrip.example");
    assert_non_null(out[2]->customer.display_name);
    json_decref(all);
    /* an update of the email only: the name stays */
    assert_int_equal(hs_record_set_str(&out[0]->customer.email, "billing@roundtrip.example"),
                     HS_OK);
    const char *fields[] = {"email"};
    struct hs_write u;
    memset(&u, 0, sizeof u);
    u.op = HS_WRITE_UPDATE;
    u.record = out[0];
    u.fields = fields;
    u.n_fields = 1;
    write_ok(t, HS_KIND_CUSTOMER, &u, 1);
    assert_int_equal(u.status, HS_OK);
    assert_string_equal(u.result->customer.email, "billing@roundtrip.example");
    assert_string_equal(u.result->customer.display_name, "Round Trip GmbH");
    assert_string_equal(u.result->id, got->id);
    hs_record_free(u.result);
    u.result = NULL;
    /* a contact we did not create: its person is the accounts team's and is not written,
     * whoever asks (the engine leaves it out: meta HS_META_UNSYNCED) */
    assert_string_equal(hs_fields_get(&out[2]->meta, HS_META_UNSYNCED),
                        "given_name,family_name,email");
    char *billing = hs_strdup(out[2]->customer.email);
    assert_int_equal(hs_record_set_str(&out[2]->customer.email, "crm.person@else.example"), HS_OK);
    assert_int_equal(hs_record_set_str(&out[2]->customer.given_name, "Crm"), HS_OK);
    const char *pfields[] = {"email", "given_name"};
    u.record = out[2];
    u.fields = pfields;
    u.n_fields = 2;
    write_ok(t, HS_KIND_CUSTOMER, &u, 1);
    assert_int_equal(u.status, HS_OK);
    assert_string_equal(u.result->customer.email, billing);
    hs_free(billing);
    hs_record_free(u.result);
    u.result = NULL;
    /* Website is read only in Xero: never sent, declared to the engine */
    assert_int_equal(hs_record_set_str(&out[0]->customer.website, "https://rt.example"), HS_OK);
    const char *wfields[] = {"website"};
    u.record = out[0];
    u.fields = wfields;
    u.n_fields = 1;
    json_t *el = NULL;
    struct hs_xero_opts xo;
    memset(&xo, 0, sizeof xo);
    assert_int_equal(hs_xero_conn_build(HS_KIND_CUSTOMER, &u, &xo, &el, NULL), HS_OK);
    assert_null(el); /* nothing Xero takes changes: no request */
    hs_record_free(u.result);
    for (int i = 0; i < 3; i++)
        hs_record_free(out[i]);
    hs_record_free(got);
    hs_record_free(r);
}

static void test_conn_xero_create_replayed_with_same_keys(void **state)
{
    struct t *t = *state;
    struct hs_record *a = new_customer("Replay One", NULL);
    struct hs_record *b = new_customer("Replay Two", NULL);
    struct hs_write w[2];
    memset(w, 0, sizeof w);
    w[0].op = HS_WRITE_CREATE;
    w[0].record = a;
    w[0].idem_key = "replay-a";
    w[1].op = HS_WRITE_CREATE;
    w[1].record = b;
    w[1].idem_key = "replay-b";
    write_ok(t, HS_KIND_CUSTOMER, w, 2);
    assert_int_equal(w[0].status, HS_OK);
    assert_int_equal(w[1].status, HS_OK);
    char *id0 = hs_strdup(w[0].result->id);
    char *id1 = hs_strdup(w[1].result->id);
    hs_record_free(w[0].result);
    hs_record_free(w[1].result);
    w[0].result = w[1].result = NULL;
    /* the answer was lost; the same batch again: Xero replays, nothing is created twice */
    advance(t, 2000);
    write_ok(t, HS_KIND_CUSTOMER, w, 2);
    assert_int_equal(w[0].status, HS_OK);
    assert_int_equal(w[1].status, HS_OK);
    assert_string_equal(w[0].result->id, id0);
    assert_string_equal(w[1].result->id, id1);
    json_t *j = NULL;
    assert_int_equal(sbx_call(t, "GET", "/xero/api.xro/2.0/Contacts",
                              "where=Name.StartsWith(%22Replay%22)", NULL, &j),
                     200);
    assert_int_equal(json_array_size(json_object_get(j, "Contacts")), 2);
    json_decref(j);
    hs_record_free(w[0].result);
    hs_record_free(w[1].result);
    w[0].result = w[1].result = NULL;
    /* another key for the same name is another create: Xero refuses the name */
    w[0].idem_key = "replay-a-2";
    write_ok(t, HS_KIND_CUSTOMER, w, 1);
    assert_int_equal(w[0].status, HS_EEXIST);
    assert_non_null(strstr(w[0].msg, "already assigned to another contact"));
    assert_null(w[0].result);
    hs_free(id0);
    hs_free(id1);
    hs_record_free(a);
    hs_record_free(b);
}

static void test_conn_xero_per_element_errors(void **state)
{
    struct t *t = *state;
    struct hs_record *ok = new_customer("Fine Ltd", NULL);
    struct hs_record *bad = new_customer("Bad Email Ltd", "not-an-address");
    struct hs_record *ok2 = new_customer("Also Fine Ltd", NULL);
    struct hs_record *upd = new_customer("No Id Ltd", NULL);
    struct hs_write w[4];
    memset(w, 0, sizeof w);
    w[0].op = HS_WRITE_CREATE;
    w[0].record = ok;
    w[0].idem_key = "pe-0";
    w[1].op = HS_WRITE_CREATE;
    w[1].record = bad;
    w[1].idem_key = "pe-1";
    w[2].op = HS_WRITE_CREATE;
    w[2].record = ok2;
    w[2].idem_key = "pe-2";
    w[3].op = HS_WRITE_UPDATE; /* no id: fails without a request */
    w[3].record = upd;
    write_ok(t, HS_KIND_CUSTOMER, w, 4);
    assert_int_equal(w[0].status, HS_OK);
    assert_int_equal(w[1].status, HS_EINVAL);
    assert_non_null(strstr(w[1].msg, "Email address must be valid"));
    assert_null(w[1].result);
    assert_int_equal(w[2].status, HS_OK);
    assert_string_equal(w[2].result->customer.display_name, "Also Fine Ltd");
    assert_int_equal(w[3].status, HS_EINVAL);
    assert_non_null(strstr(w[3].msg, "no id"));
    for (int i = 0; i < 4; i++)
        hs_record_free(w[i].result);
    hs_record_free(ok);
    hs_record_free(bad);
    hs_record_free(ok2);
    hs_record_free(upd);
    /* too many for one batch */
    struct hs_write many[51];
    memset(many, 0, sizeof many);
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(ops->write(t->c, HS_KIND_CUSTOMER, many, 51, &err), HS_ETOOBIG);
}

/* Creates an invoice for customer with one line per (qty, price, tax type) and returns the
 * result (caller frees); asserts Xero accepted it. */
static struct hs_record *create_invoice(struct t *t, const char *customer, const char *cur,
                                        enum hs_tax_mode mode, const char *item,
                                        const char *const *qty, const int64_t *price,
                                        const char *const *tax, size_t n, const char *key,
                                        int *status, char *msg)
{
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_INVOICE, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->invoice.customer_ref, customer), HS_OK);
    memcpy(r->invoice.currency, cur, 4);
    r->invoice.tax_mode = mode;
    r->invoice.issue_date = (struct hs_date){2026, 11, 23};
    r->invoice.due_date = (struct hs_date){2026, 12, 23};
    struct hs_error err;
    hs_error_clear(&err);
    for (size_t i = 0; i < n; i++) {
        struct hs_invoice_line *ln = NULL;
        assert_int_equal(hs_record_add_line(r, &ln), HS_OK);
        assert_int_equal(hs_record_set_str(&ln->description, "Consulting"), HS_OK);
        if (item != NULL)
            assert_int_equal(hs_record_set_str(&ln->item_ref, item), HS_OK);
        assert_int_equal(hs_decimal_parse_exact(qty[i], strlen(qty[i]), &ln->quantity, &err),
                         HS_OK);
        ln->has_quantity = true;
        assert_int_equal(hs_money_from_minor(price[i], cur, &ln->unit_price, &err), HS_OK);
        if (tax[i] != NULL)
            assert_int_equal(hs_record_set_str(&ln->tax_code, tax[i]), HS_OK);
    }
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_CREATE;
    w.record = r;
    w.idem_key = key;
    write_ok(t, HS_KIND_INVOICE, &w, 1);
    hs_record_free(r);
    *status = w.status;
    snprintf(msg, HS_ERRMSG_MAX, "%s", w.msg);
    return w.result;
}

/* Totals as core/tax.h computes them under Xero's policy (rates of the sandbox's codes). */
static void expected_totals(enum hs_tax_mode mode, const char *const *qty, const int64_t *price,
                            const char *const *tax, size_t n, struct hs_tax_totals *out)
{
    struct hs_tax_code output = {"OUTPUT", {{"", {7250000}}, {"", {1000000}}}, 2};
    struct hs_tax_code vat = {"TAX001", {{"", {20000000}}}, 1};
    struct hs_tax_line lines[8];
    memset(lines, 0, sizeof lines);
    struct hs_error err;
    hs_error_clear(&err);
    for (size_t i = 0; i < n; i++) {
        struct hs_decimal q;
        assert_int_equal(hs_decimal_parse_exact(qty[i], strlen(qty[i]), &q, &err), HS_OK);
        assert_int_equal(
            hs_tax_line_amount(q, price[i], NULL, HS_ROUND_HALF_UP, &lines[i].amount, &err), HS_OK);
        lines[i].code = tax[i] == NULL                  ? NULL
                        : strcmp(tax[i], "OUTPUT") == 0 ? &output
                        : strcmp(tax[i], "TAX001") == 0 ? &vat
                                                        : NULL;
    }
    struct hs_tax_policy p = hs_tax_policy_xero(mode);
    assert_int_equal(hs_tax_compute(&p, lines, n, out, &err), HS_OK);
}

static void test_conn_xero_invoice_totals_agree_with_tax_policy(void **state)
{
    struct t *t = *state;
    char *cust = create_customer(t, "Totals Inc", "tot-c");
    static const char *const qty[] = {"3", "1", "2.5"};
    static const int64_t usd[] = {3333, 9999, 1001};
    static const int64_t jpy[] = {3333, 9999, 1001};
    static const int64_t kwd[] = {3333, 99999, 1001};
    static const char *const tax_out[] = {"OUTPUT", "OUTPUT", "TAX001"};
    const struct {
        const char *cur;
        enum hs_tax_mode mode;
        const int64_t *price;
    } cases[] = {
        {"USD", HS_TAX_EXCLUSIVE, usd}, {"USD", HS_TAX_INCLUSIVE, usd},
        {"USD", HS_TAX_NONE, usd},      {"JPY", HS_TAX_EXCLUSIVE, jpy},
        {"JPY", HS_TAX_INCLUSIVE, jpy}, {"KWD", HS_TAX_EXCLUSIVE, kwd},
        {"KWD", HS_TAX_INCLUSIVE, kwd},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char key[32];
        snprintf(key, sizeof key, "tot-%zu", k);
        int st = 0;
        char msg[HS_ERRMSG_MAX];
        const char *const *tax =
            cases[k].mode == HS_TAX_NONE ? (const char *const[]){NULL, NULL, NULL} : tax_out;
        struct hs_record *inv = create_invoice(t, cust, cases[k].cur, cases[k].mode, NULL, qty,
                                               cases[k].price, tax, 3, key, &st, msg);
        if (st != HS_OK)
            print_error("case %zu: %s\n", k, msg);
        assert_int_equal(st, HS_OK);
        struct hs_tax_totals want;
        expected_totals(cases[k].mode, qty, cases[k].price, tax, 3, &want);
        if (inv->invoice.subtotal.minor != want.subtotal || inv->invoice.tax.minor != want.tax)
            print_error("case %zu: xero %lld/%lld/%lld, policy %lld/%lld/%lld\n", k,
                        (long long)inv->invoice.subtotal.minor, (long long)inv->invoice.tax.minor,
                        (long long)inv->invoice.total.minor, (long long)want.subtotal,
                        (long long)want.tax, (long long)want.total);
        assert_string_equal(inv->invoice.currency, cases[k].cur);
        assert_int_equal(inv->invoice.tax_mode, cases[k].mode);
        assert_int_equal(inv->invoice.subtotal.minor, want.subtotal);
        assert_int_equal(inv->invoice.tax.minor, want.tax);
        assert_int_equal(inv->invoice.total.minor, want.total);
        assert_int_equal(inv->invoice.balance.minor, want.total);
        assert_int_equal(inv->invoice.status, HS_INVOICE_OPEN);
        assert_int_equal(inv->invoice.n_lines, 3);
        assert_non_null(inv->invoice.number);
        assert_non_null(hs_fields_get(&inv->meta, "url"));
        hs_record_free(inv);
    }
    hs_free(cust);
}

static void test_conn_xero_invoice_with_item_and_payment(void **state)
{
    struct t *t = *state;
    char *cust = create_customer(t, "Payer Pty", "pay-c");
    char code[64], iid[64];
    first_item_code(t, code, sizeof code);
    item_id(t, code, iid, sizeof iid);
    static const char *const qty[] = {"2"};
    static const int64_t price[] = {5000};
    static const char *const tax[] = {"NONE"};
    int st = 0;
    char msg[HS_ERRMSG_MAX];
    struct hs_record *inv = create_invoice(t, cust, "USD", HS_TAX_EXCLUSIVE, iid, qty, price, tax,
                                           1, "pay-i", &st, msg);
    if (st != HS_OK)
        print_error("invoice: %s\n", msg);
    assert_int_equal(st, HS_OK);
    assert_string_equal(inv->invoice.lines[0].item_ref, iid); /* code mapped back to the id */
    assert_int_equal(inv->invoice.total.minor, 10000);
    /* a partial payment, then the rest */
    int64_t parts[2] = {4000, 6000};
    char *pay_ids[2];
    for (int k = 0; k < 2; k++) {
        struct hs_record *p = NULL;
        assert_int_equal(hs_record_new(HS_KIND_PAYMENT, &p), HS_OK);
        p->payment.date = (struct hs_date){2026, 11, 24};
        struct hs_error err;
        hs_error_clear(&err);
        assert_int_equal(hs_money_from_minor(parts[k], "USD", &p->payment.amount, &err), HS_OK);
        struct hs_payment_applied *a = NULL;
        assert_int_equal(hs_record_add_applied(p, &a), HS_OK);
        assert_int_equal(hs_record_set_str(&a->invoice_ref, inv->id), HS_OK);
        a->amount = p->payment.amount;
        struct hs_write w;
        memset(&w, 0, sizeof w);
        w.op = HS_WRITE_CREATE;
        w.record = p;
        w.idem_key = k == 0 ? "pay-p0" : "pay-p1";
        write_ok(t, HS_KIND_PAYMENT, &w, 1);
        if (w.status != HS_OK)
            print_error("payment: %s\n", w.msg);
        assert_int_equal(w.status, HS_OK);
        assert_int_equal(w.result->payment.amount.minor, parts[k]);
        assert_string_equal(w.result->payment.applied[0].invoice_ref, inv->id);
        assert_string_equal(w.result->payment.customer_ref, cust);
        pay_ids[k] = hs_strdup(w.result->id);
        hs_record_free(w.result);
        hs_record_free(p);
        struct hs_record *back[1] = {NULL};
        const char *ids[1] = {inv->id};
        assert_int_equal(ops->read(t->c, HS_KIND_INVOICE, ids, 1, back, &err), HS_OK);
        assert_non_null(back[0]);
        assert_int_equal(back[0]->invoice.amount_paid.minor, k == 0 ? 4000 : 10000);
        assert_int_equal(back[0]->invoice.balance.minor, k == 0 ? 6000 : 0);
        assert_int_equal(back[0]->invoice.status,
                         k == 0 ? HS_INVOICE_PARTIALLY_PAID : HS_INVOICE_PAID);
        assert_int_equal(back[0]->invoice.n_lines, 1);
        hs_record_free(back[0]);
    }
    /* payments come in the feed and read by id */
    char *cursor = NULL;
    size_t calls = 0;
    assert_int_equal(drain(t, HS_KIND_PAYMENT, &cursor, &calls), 2);
    hs_free(cursor);
    struct hs_record *p[2] = {NULL, NULL};
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(ops->read(t->c, HS_KIND_PAYMENT, (const char *const *)pay_ids, 2, p, &err),
                     HS_OK);
    assert_int_equal(p[0]->payment.amount.minor, 4000);
    assert_int_equal(p[1]->payment.amount.minor, 6000);
    /* a payment over what is due is refused with Xero's words */
    struct hs_record *over = NULL;
    assert_int_equal(hs_record_clone(p[0], &over), HS_OK);
    hs_free(over->id);
    over->id = NULL;
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_CREATE;
    w.record = over;
    w.idem_key = "pay-over";
    write_ok(t, HS_KIND_PAYMENT, &w, 1);
    assert_int_equal(w.status, HS_EINVAL);
    assert_true(strlen(w.msg) > 0);
    hs_record_free(over);
    for (int k = 0; k < 2; k++) {
        hs_record_free(p[k]);
        hs_free(pay_ids[k]);
    }
    hs_record_free(inv);
    hs_free(cust);
}

/* An invoice like the one of create_invoice (one line, no item), not sent. */
static struct hs_record *invoice_of(const char *customer, int64_t cents)
{
    struct hs_record *r = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_record_new(HS_KIND_INVOICE, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->invoice.customer_ref, customer), HS_OK);
    memcpy(r->invoice.currency, "USD", 4);
    r->invoice.tax_mode = HS_TAX_EXCLUSIVE;
    r->invoice.issue_date = (struct hs_date){2026, 11, 23};
    r->invoice.due_date = (struct hs_date){2026, 12, 23};
    struct hs_invoice_line *ln = NULL;
    assert_int_equal(hs_record_add_line(r, &ln), HS_OK);
    assert_int_equal(hs_record_set_str(&ln->description, "Consulting"), HS_OK);
    assert_int_equal(hs_decimal_from_int(1, &ln->quantity, &err), HS_OK);
    ln->has_quantity = true;
    assert_int_equal(hs_money_from_minor(cents, "USD", &ln->unit_price, &err), HS_OK);
    assert_int_equal(hs_record_set_str(&ln->tax_code, "NONE"), HS_OK);
    return r;
}

/* Invoices of a contact, straight from the sandbox. */
static size_t invoices_of(struct t *t, const char *contact)
{
    json_t *j = NULL;
    char q[128];
    snprintf(q, sizeof q, "ContactIDs=%s", contact);
    assert_int_equal(sbx_call(t, "GET", "/xero/api.xro/2.0/Invoices", q, NULL, &j), 200);
    size_t n = json_array_size(json_object_get(j, "Invoices"));
    json_decref(j);
    return n;
}

/* A crash after Xero made the invoice, before we linked it: the retry goes out in another
 * batch (another Idempotency-Key) and must find the first invoice, not make a second; an
 * invoice already paid is never taken for it. */
static void test_conn_xero_retried_invoice_create_finds_the_first(void **state)
{
    struct t *t = *state;
    char *cust = create_customer(t, "Retry Traders", "rt-c");
    struct hs_record *a = invoice_of(cust, 5000);
    struct hs_record *b = invoice_of(cust, 5000); /* alike, another deal */
    struct hs_write w[2];
    memset(w, 0, sizeof w);
    int64_t intent_at = t->now;
    w[0] = (struct hs_write){.op = HS_WRITE_CREATE, .record = a, .idem_key = "rt-a"};
    write_ok(t, HS_KIND_INVOICE, w, 1);
    assert_int_equal(w[0].status, HS_OK);
    char *first = hs_strdup(w[0].result->id);
    hs_record_free(w[0].result);
    w[0] = (struct hs_write){.op = HS_WRITE_CREATE, .record = b, .idem_key = "rt-b"};
    w[1] = (struct hs_write){.op = HS_WRITE_CREATE,
                             .record = a,
                             .idem_key = "rt-a",
                             .retry = true,
                             .retry_since_ms = intent_at};
    write_ok(t, HS_KIND_INVOICE, w, 2);
    assert_int_equal(w[0].status, HS_OK);
    assert_int_equal(w[1].status, HS_OK);
    assert_string_equal(w[1].result->id, first);
    assert_string_not_equal(w[0].result->id, first);
    assert_int_equal(invoices_of(t, cust), 2);
    /* both paid: a retry like them that never reached Xero is created */
    const char *ids[2] = {w[0].result->id, first};
    for (int k = 0; k < 2; k++) {
        struct hs_record *p = NULL;
        assert_int_equal(hs_record_new(HS_KIND_PAYMENT, &p), HS_OK);
        p->payment.date = (struct hs_date){2026, 11, 24};
        assert_int_equal(hs_money_from_minor(5000, "USD", &p->payment.amount, NULL), HS_OK);
        struct hs_payment_applied *ap = NULL;
        assert_int_equal(hs_record_add_applied(p, &ap), HS_OK);
        assert_int_equal(hs_record_set_str(&ap->invoice_ref, ids[k]), HS_OK);
        ap->amount = p->payment.amount;
        struct hs_write pw = {.op = HS_WRITE_CREATE, .record = p, .idem_key = ids[k]};
        write_ok(t, HS_KIND_PAYMENT, &pw, 1);
        assert_int_equal(pw.status, HS_OK);
        hs_record_free(pw.result);
        hs_record_free(p);
    }
    hs_record_free(w[0].result);
    hs_record_free(w[1].result);
    w[0] = (struct hs_write){.op = HS_WRITE_CREATE,
                             .record = b,
                             .idem_key = "rt-c",
                             .retry = true,
                             .retry_since_ms = intent_at};
    write_ok(t, HS_KIND_INVOICE, w, 1);
    assert_int_equal(w[0].status, HS_OK);
    assert_string_not_equal(w[0].result->id, first);
    assert_int_equal(invoices_of(t, cust), 3);
    hs_record_free(w[0].result);
    hs_free(first);
    hs_record_free(a);
    hs_record_free(b);
    hs_free(cust);
}

/* With the deal's page as the invoice's source document (Url), a retried create finds its own
 * invoice exactly, even next to one alike made for another deal. */
static void test_conn_xero_retried_invoice_found_by_its_source_url(void **state)
{
    struct t *t = *state;
    char *cust = create_customer(t, "Url Traders", "ru-c");
    struct hs_record *a = invoice_of(cust, 700);
    struct hs_record *b = invoice_of(cust, 700);
    assert_int_equal(hs_fields_set(&a->meta, "source_url", "https://crm.example/deal/1"), HS_OK);
    assert_int_equal(hs_fields_set(&b->meta, "source_url", "https://crm.example/deal/2"), HS_OK);
    struct hs_write w[2];
    memset(w, 0, sizeof w);
    int64_t intent_at = t->now;
    w[0] = (struct hs_write){.op = HS_WRITE_CREATE, .record = b, .idem_key = "ru-b"};
    w[1] = (struct hs_write){.op = HS_WRITE_CREATE, .record = a, .idem_key = "ru-a"};
    write_ok(t, HS_KIND_INVOICE, w, 2);
    assert_int_equal(w[0].status, HS_OK);
    assert_int_equal(w[1].status, HS_OK);
    assert_string_equal(hs_fields_get(&w[1].result->meta, "source_url"),
                        "https://crm.example/deal/1");
    char *id_a = hs_strdup(w[1].result->id);
    hs_record_free(w[0].result);
    hs_record_free(w[1].result);
    /* a's retry, alone in its batch: b comes first in the answer and is alike, yet a is found */
    w[0] = (struct hs_write){.op = HS_WRITE_CREATE,
                             .record = a,
                             .idem_key = "ru-a",
                             .retry = true,
                             .retry_since_ms = intent_at};
    write_ok(t, HS_KIND_INVOICE, w, 1);
    assert_int_equal(w[0].status, HS_OK);
    assert_string_equal(w[0].result->id, id_a);
    hs_record_free(w[0].result);
    assert_int_equal(invoices_of(t, cust), 2);
    /* a retry of a third deal whose create never reached Xero: made, not taken for another */
    struct hs_record *c = invoice_of(cust, 700);
    assert_int_equal(hs_fields_set(&c->meta, "source_url", "https://crm.example/deal/3"), HS_OK);
    w[0] = (struct hs_write){.op = HS_WRITE_CREATE,
                             .record = c,
                             .idem_key = "ru-c",
                             .retry = true,
                             .retry_since_ms = intent_at};
    write_ok(t, HS_KIND_INVOICE, w, 1);
    assert_int_equal(w[0].status, HS_OK);
    assert_string_not_equal(w[0].result->id, id_a);
    hs_record_free(w[0].result);
    assert_int_equal(invoices_of(t, cust), 3);
    hs_free(id_a);
    hs_record_free(a);
    hs_record_free(b);
    hs_record_free(c);
    hs_free(cust);
}

static struct hs_record *new_item(const char *name, const char *sku, int64_t price)
{
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_ITEM, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->item.name, name), HS_OK);
    if (sku != NULL)
        assert_int_equal(hs_record_set_str(&r->item.sku, sku), HS_OK);
    assert_int_equal(hs_money_from_minor(price, "USD", &r->item.unit_price, NULL), HS_OK);
    return r;
}

static void test_conn_xero_item_round_trip(void **state)
{
    struct t *t = *state;
    struct hs_record *a = new_item("Support plan", "SUP-1", 123456);
    struct hs_record *b = new_item("Onboarding workshop for new customer teams", NULL, 99900);
    struct hs_record *dup = new_item("Other", "sup-1", 100);
    struct hs_write w[3];
    memset(w, 0, sizeof w);
    w[0].op = w[1].op = w[2].op = HS_WRITE_CREATE;
    w[0].record = a;
    w[0].idem_key = "it-0";
    w[1].record = b;
    w[1].idem_key = "it-1";
    w[2].record = dup;
    w[2].idem_key = "it-2";
    write_ok(t, HS_KIND_ITEM, w, 3);
    assert_int_equal(w[0].status, HS_OK);
    assert_string_equal(w[0].result->item.sku, "SUP-1");
    assert_int_equal(w[0].result->item.unit_price.minor, 123456);
    assert_string_equal(w[0].result->item.income_account_ref, "200");
    assert_int_equal(w[1].status, HS_OK);
    assert_string_equal(w[1].result->item.sku, "Onboarding workshop for new cu");
    assert_int_equal(w[2].status, HS_EEXIST); /* codes are unique ignoring case */
    assert_non_null(strstr(w[2].msg, "already exists"));
    const char *ids[2] = {w[0].result->id, w[1].result->id};
    struct hs_record *out[2];
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(ops->read(t->c, HS_KIND_ITEM, ids, 2, out, &err), HS_OK);
    assert_string_equal(out[0]->item.name, "Support plan");
    assert_string_equal(out[1]->item.name, "Onboarding workshop for new customer teams");
    /* a new price only */
    assert_int_equal(hs_money_from_minor(130000, "USD", &out[0]->item.unit_price, &err), HS_OK);
    const char *fields[] = {"unit_price"};
    struct hs_write u;
    memset(&u, 0, sizeof u);
    u.op = HS_WRITE_UPDATE;
    u.record = out[0];
    u.fields = fields;
    u.n_fields = 1;
    write_ok(t, HS_KIND_ITEM, &u, 1);
    assert_int_equal(u.status, HS_OK);
    assert_int_equal(u.result->item.unit_price.minor, 130000);
    assert_string_equal(u.result->item.name, "Support plan");
    hs_record_free(u.result);
    /* an item priced in another currency fails on its own */
    assert_int_equal(hs_money_from_minor(5, "EUR", &out[1]->item.unit_price, &err), HS_OK);
    u.record = out[1];
    u.result = NULL;
    write_ok(t, HS_KIND_ITEM, &u, 1);
    assert_int_equal(u.status, HS_EINVAL);
    assert_non_null(strstr(u.msg, "base currency USD"));
    for (int i = 0; i < 3; i++)
        hs_record_free(w[i].result);
    for (int i = 0; i < 2; i++)
        hs_record_free(out[i]);
    hs_record_free(a);
    hs_record_free(b);
    hs_record_free(dup);
}

/* ---- limits --------------------------------------------------------------------------------- */

static void test_conn_xero_429_is_waited_out(void **state)
{
    struct t *t = *state;
    t->sleep_moves_sbx = true;
    /* 60 calls a minute per tenant: the 61st is refused with Retry-After, then goes through */
    for (int i = 0; i < 65; i++) {
        struct hs_changes ch;
        changes_ok(t, HS_KIND_ITEM, NULL, &ch);
        hs_changes_release(&ch);
    }
    assert_true(t->now > START_MS); /* the connector waited, through the env */
    assert_true(t->now - START_MS <= 61000);
    json_t *s = NULL;
    assert_int_equal(sbx_call(t, "GET", "/_sandbox/stats", NULL, NULL, &s), 200);
    json_t *x = json_object_get(json_object_get(s, "providers"), "xero");
    assert_int_equal(json_integer_value(json_object_get(x, "total")), 66);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(x, "status"), "4xx")), 1);
    json_decref(s);
}

static void test_conn_xero_limits_and_settings(void **state)
{
    struct t *t = *state;
    struct hs_connector_limits lim;
    ops->limits(t->c, HS_KIND_CUSTOMER, &lim);
    assert_int_equal(lim.read_batch, 50);
    assert_int_equal(lim.write_batch, 50);
    assert_int_equal(lim.max_concurrency, 5);
    assert_int_equal(lim.n_windows, 2);
    assert_string_equal(lim.windows[0].scope, "all");
    assert_int_equal(lim.windows[0].limit, 60);
    assert_int_equal(lim.windows[0].window_ms, 60000);
    assert_string_equal(lim.windows[1].scope, "day");
    assert_int_equal(lim.windows[1].limit, 5000);
    assert_int_equal(lim.windows[1].window_ms, 86400000);
    assert_int_equal(ops->kinds(t->c), (1u << HS_KIND_CUSTOMER) | (1u << HS_KIND_ITEM) |
                                           (1u << HS_KIND_INVOICE) | (1u << HS_KIND_PAYMENT));
    size_t n = 0;
    const struct hs_validate_limit *fl = ops->field_limits(t->c, HS_KIND_CUSTOMER, &n);
    assert_int_equal(n, 2);
    assert_non_null(fl);
    assert_string_equal(fl[1].field, "website");
    assert_true(fl[1].read_only);
    /* rate_limits replaces the windows; bad settings are refused by name */
    ops->close(t->c);
    t->c = NULL;
    json_decref(t->settings);
    t->settings = json_pack("{s:[{s:s, s:i, s:i}], s:i}", "rate_limits", "scope", "all", "requests",
                            6, "window_ms", 1000, "batch_max", 10);
    open_conn(t);
    ops->limits(t->c, HS_KIND_INVOICE, &lim);
    assert_int_equal(lim.n_windows, 1);
    assert_int_equal(lim.windows[0].limit, 6);
    assert_int_equal(lim.write_batch, 10);
    struct hs_connector *c2 = NULL;
    struct hs_connector_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.base_url = "http://sandbox/xero";
    cfg.tenant = t->tenant;
    cfg.http = &t->http;
    cfg.env = &t->env;
    json_t *bad = json_pack("{s:s}", "base_currency", "usd");
    cfg.settings = bad;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(ops->open(&cfg, &c2, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "base_currency"));
    json_decref(bad);
    cfg.settings = NULL;
    cfg.tenant = "realm 1";
    assert_int_equal(ops->open(&cfg, &c2, &err), HS_EINVAL);
    assert_null(c2);
}

/* ---- webhook --------------------------------------------------------------------------- */

static void sign_request(struct hs_http_request *req, const char *body, const char *key)
{
    hs_http_request_init(req);
    assert_int_equal(hs_http_request_set(req, "POST", "http://127.0.0.1:9/hook"), HS_OK);
    assert_int_equal(hs_buf_puts(&req->body, body), HS_OK);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(hs_http_headers_set(&req->headers, "x-xero-signature", b64), HS_OK);
}

static void test_conn_xero_webhook_verification(void **state)
{
    struct t *t = *state;
    char body[1200];
    snprintf(
        body, sizeof body,
        "{\"events\":[{\"resourceUrl\":\"https://api.xero.com/api.xro/2.0/Contacts/c1\","
        "\"resourceId\":\"c1\",\"eventDateUtc\":\"2026-11-23T18:00:00.000\",\"eventType\":"
        "\"CREATE\",\"eventCategory\":\"CONTACT\",\"tenantId\":\"%s\",\"tenantType\":"
        "\"ORGANISATION\"},{\"resourceId\":\"i1\",\"eventDateUtc\":\"2026-11-23T18:00:01.500\","
        "\"eventType\":\"UPDATE\",\"eventCategory\":\"INVOICE\",\"tenantId\":\"%s\"},"
        "{\"resourceId\":\"n1\",\"eventCategory\":\"CREDITNOTE\",\"tenantId\":\"%s\"},"
        "{\"resourceId\":\"c9\",\"eventCategory\":\"CONTACT\",\"tenantId\":\"other\"}],"
        "\"firstEventSequence\":1,\"lastEventSequence\":4,\"entropy\":\"ABC\"}",
        t->tenant, t->tenant, t->tenant);
    struct hs_http_request req;
    sign_request(&req, body, "WEBHOOK_KEY");
    struct hs_changes ch;
    struct hs_error err;
    hs_error_clear(&err);
    int rc = ops->webhook(t->c, &req, "WEBHOOK_KEY", &ch, &err);
    if (rc != HS_OK)
        print_error("webhook: %s\n", err.msg);
    assert_int_equal(rc, HS_OK);
    assert_int_equal(ch.n_items, 2); /* the credit note and the other tenant are skipped */
    assert_string_equal(ch.items[0].id, "c1");
    assert_int_equal(ch.items[0].kind, HS_KIND_CUSTOMER);
    assert_int_equal(ch.items[0].updated_at, START_MS);
    assert_string_equal(ch.items[1].id, "i1");
    assert_int_equal(ch.items[1].kind, HS_KIND_INVOICE);
    assert_int_equal(ch.items[1].updated_at, START_MS + 1500);
    hs_changes_release(&ch);
    /* wrong key, tampered body, garbled or missing signature */
    assert_int_equal(ops->webhook(t->c, &req, "OTHER_KEY", &ch, &err), HS_EAUTH);
    assert_int_equal(ch.n_items, 0);
    req.body.data[10] ^= 1;
    assert_int_equal(ops->webhook(t->c, &req, "WEBHOOK_KEY", &ch, &err), HS_EAUTH);
    req.body.data[10] ^= 1;
    assert_int_equal(hs_http_headers_set(&req.headers, "x-xero-signature", "bm9wZQ=="), HS_OK);
    assert_int_equal(ops->webhook(t->c, &req, "WEBHOOK_KEY", &ch, &err), HS_EAUTH);
    hs_http_request_release(&req);
    hs_http_request_init(&req);
    assert_int_equal(ops->webhook(t->c, &req, "WEBHOOK_KEY", &ch, &err), HS_EAUTH);
    assert_non_null(strstr(err.msg, "x-xero-signature"));
    hs_http_request_release(&req);
    /* intent to receive: an empty, correctly signed delivery gives no changes */
    sign_request(&req,
                 "{\"events\":[],\"firstEventSequence\":0,\"lastEventSequence\":0,"
                 "\"entropy\":\"X\"}",
                 "WEBHOOK_KEY");
    assert_int_equal(ops->webhook(t->c, &req, "WEBHOOK_KEY", &ch, &err), HS_OK);
    assert_int_equal(ch.n_items, 0);
    hs_changes_release(&ch);
    hs_http_request_release(&req);
}

/* ---- no sandbox: parse and build ----------------------------------------------------------- */

static void test_conn_xero_time_and_cursor(void **state)
{
    (void)state;
    int64_t ms = 0;
    const char *a = "/Date(1795456800000+0000)/";
    assert_int_equal(hs_xero_conn_time_parse(a, strlen(a), &ms), HS_OK);
    assert_int_equal(ms, START_MS);
    const char *b = "/Date(1795456800123)/";
    assert_int_equal(hs_xero_conn_time_parse(b, strlen(b), &ms), HS_OK);
    assert_int_equal(ms, START_MS + 123);
    const char *c = "2026-11-23T18:00:00.25";
    assert_int_equal(hs_xero_conn_time_parse(c, strlen(c), &ms), HS_OK);
    assert_int_equal(ms, START_MS + 250);
    const char *bad[] = {"/Date()/",
                         "/Date(12",
                         "2026-13-01T00:00:00",
                         "2026-11-23 18:00:00",
                         "2026-11-23T18:00:00+01:00",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(hs_xero_conn_time_parse(bad[i], strlen(bad[i]), &ms), HS_EINVAL);
    char out[24];
    hs_xero_conn_time_format(START_MS + 999, out);
    assert_string_equal(out, "2026-11-23T18:00:00");
    /* cursors */
    struct hs_xero_cursor cur;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_xero_conn_cursor_parse("x1|1795456800000|3", 18, &cur, &err), HS_OK);
    assert_int_equal(cur.since_ms, START_MS);
    assert_int_equal(cur.page, 3);
    char *s = hs_xero_conn_cursor_format(&cur);
    assert_string_equal(s, "x1|1795456800000|3");
    hs_free(s);
    /* with the versions already reported at the window's edge */
    const char *withv = "x1|5|1|00000000000000ff,0123456789abcdef";
    assert_int_equal(hs_xero_conn_cursor_parse(withv, strlen(withv), &cur, &err), HS_OK);
    assert_int_equal(cur.n_seen, 2);
    assert_true(hs_xero_conn_cursor_seen(&cur, 0xff));
    assert_true(hs_xero_conn_cursor_seen(&cur, 0x0123456789abcdefULL));
    assert_false(hs_xero_conn_cursor_seen(&cur, 0xfe));
    s = hs_xero_conn_cursor_format(&cur);
    assert_string_equal(s, withv);
    hs_free(s);
    assert_true(hs_xero_conn_version_hash("a", 1) != hs_xero_conn_version_hash("a", 2));
    assert_true(hs_xero_conn_version_hash("a", 1) == hs_xero_conn_version_hash("a", 1));
    const char *badc[] = {"x1|",
                          "x1|5",
                          "x1|5|0",
                          "x1|-5|1",
                          "x1|05|1",
                          "x2|5|1",
                          "x1|5|1x",
                          "x1|a|1",
                          "x1|5|1|",
                          "x1|5|1|00000000000000FF",
                          "x1|5|1|00000000000000ff,",
                          "x1|5|1|00000000000000ff,00000000000000ff",
                          "x1|5|1|0000000000000ff"};
    for (size_t i = 0; i < sizeof badc / sizeof badc[0]; i++)
        assert_int_equal(hs_xero_conn_cursor_parse(badc[i], strlen(badc[i]), &cur, &err),
                         HS_EINVAL);
    /* the tie rule: a full page moves to its newest second, or pages within one second */
    struct hs_xero_cursor c0 = {.since_ms = START_MS, .page = 1}, next;
    bool more = false;
    hs_xero_conn_cursor_next(&c0, START_MS + 5500, true, &next, &more);
    assert_true(more);
    assert_int_equal(next.since_ms, START_MS + 5000);
    assert_int_equal(next.page, 1);
    hs_xero_conn_cursor_next(&c0, START_MS + 400, true, &next, &more);
    assert_true(more);
    assert_int_equal(next.since_ms, START_MS);
    assert_int_equal(next.page, 2);
    struct hs_xero_cursor c2 = {.since_ms = START_MS, .page = 2};
    hs_xero_conn_cursor_next(&c2, START_MS + 9000, false, &next, &more);
    assert_false(more);
    assert_int_equal(next.since_ms, START_MS + 9000);
    assert_int_equal(next.page, 1);
    hs_xero_conn_cursor_next(&c2, 0, false, &next, &more);
    assert_false(more);
    assert_int_equal(next.since_ms, START_MS);
}

static const struct hs_xero_opts plain_opts = {
    "USD", "200", "090", "AUTHORISED", "https://go.xero.com", NULL, 0};

static struct hs_record *parse_one(enum hs_kind kind, const char *text, int want_rc)
{
    json_t *obj = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_json_parse_exact((const uint8_t *)text, strlen(text), "t", &obj, &err),
                     HS_OK);
    struct hs_record *r = NULL;
    int rc = hs_xero_conn_parse_record(kind, obj, &plain_opts, &r, &err);
    if (rc != want_rc)
        print_error("parse: %s\n", err.msg);
    assert_int_equal(rc, want_rc);
    json_decref(obj);
    return r;
}

static void test_conn_xero_parse_records(void **state)
{
    (void)state;
    /* a contact whose person carries the CRM contact */
    struct hs_record *c = parse_one(
        HS_KIND_CUSTOMER,
        "{\"ContactID\":\"c-1\",\"Name\":\"Acme\",\"ContactStatus\":\"ARCHIVED\","
        "\"ContactPersons\":"
        "[{\"FirstName\":\"Ada\",\"LastName\":\"L\",\"EmailAddress\":\"ada@acme.example\"}],"
        "\"Phones\":[{\"PhoneType\":\"MOBILE\",\"PhoneNumber\":\"1\"},{\"PhoneType\":\"DEFAULT\","
        "\"PhoneCountryCode\":\"1\",\"PhoneAreaCode\":\"415\",\"PhoneNumber\":\"555\"}],"
        "\"Addresses\":[{\"AddressType\":\"STREET\",\"City\":\"Paris\",\"Country\":\"France\"},"
        "{\"AddressType\":\"POBOX\",\"AddressLine1\":\"1 Main\",\"Country\":\"Atlantis\"}],"
        "\"DefaultCurrency\":\"EUR\",\"UpdatedDateUTC\":\"/Date(1795456800000+0000)/\"}",
        HS_OK);
    assert_string_equal(c->customer.display_name, "Acme");
    assert_string_equal(c->customer.email, "ada@acme.example");
    assert_string_equal(c->customer.given_name, "Ada");
    assert_string_equal(c->customer.phone, "1 415 555");
    assert_string_equal(c->customer.shipping_address.country, "FR");
    assert_string_equal(c->customer.billing_address.line1, "1 Main");
    assert_string_equal(c->customer.billing_address.country, ""); /* not recognisable */
    assert_string_equal(c->customer.currency, "EUR");
    assert_int_equal(c->customer.active, HS_TRI_FALSE);
    assert_int_equal(c->updated_at, START_MS);
    hs_record_free(c);
    /* invoices: JPY without decimals (and "100.00" read exactly), KWD with three */
    struct hs_record *j = parse_one(
        HS_KIND_INVOICE,
        "{\"InvoiceID\":\"i-1\",\"Type\":\"ACCREC\",\"CurrencyCode\":\"JPY\",\"Status\":"
        "\"AUTHORISED\",\"LineAmountTypes\":\"Inclusive\",\"DateString\":\"2026-11-23T00:00:00\","
        "\"DueDate\":\"/Date(1797984000000+0000)/\",\"LineItems\":[{\"Description\":\"x\","
        "\"Quantity\":3,\"UnitAmount\":333.4,\"LineAmount\":1000,\"TaxAmount\":167,\"TaxType\":"
        "\"TAX001\",\"DiscountRate\":0}],\"SubTotal\":833,\"TotalTax\":167,\"Total\":\"100.00\","
        "\"AmountPaid\":0,\"AmountDue\":1000,\"Contact\":{\"ContactID\":\"c-1\"}}",
        HS_OK);
    assert_int_equal(j->invoice.tax_mode, HS_TAX_INCLUSIVE);
    assert_int_equal(j->invoice.total.minor, 100);
    assert_int_equal(j->invoice.lines[0].unit_price.minor, 333); /* unitdp price rounded */
    assert_int_equal(j->invoice.lines[0].amount.minor, 1000);
    assert_false(j->invoice.lines[0].has_discount_percent);
    assert_int_equal(j->invoice.status, HS_INVOICE_OPEN);
    assert_int_equal(j->invoice.issue_date.day, 23);
    assert_int_equal(j->invoice.due_date.month, 12);
    assert_string_equal(j->invoice.customer_ref, "c-1");
    hs_record_free(j);
    struct hs_record *k = parse_one(
        HS_KIND_INVOICE,
        "{\"InvoiceID\":\"i-2\",\"CurrencyCode\":\"KWD\",\"Status\":\"PAID\",\"LineAmountTypes\":"
        "\"NoTax\",\"Total\":1.235,\"AmountPaid\":1.235,\"AmountDue\":0}",
        HS_OK);
    assert_int_equal(k->invoice.total.minor, 1235);
    assert_int_equal(k->invoice.status, HS_INVOICE_PAID);
    assert_int_equal(k->invoice.tax_mode, HS_TAX_NONE);
    hs_record_free(k);
    struct hs_record *v = parse_one(
        HS_KIND_INVOICE,
        "{\"InvoiceID\":\"i-3\",\"Status\":\"VOIDED\",\"Total\":5,\"AmountPaid\":0}", HS_OK);
    assert_int_equal(v->invoice.status, HS_INVOICE_VOID);
    assert_string_equal(v->invoice.currency, "USD");
    hs_record_free(v);
    /* errors name the field */
    (void)parse_one(HS_KIND_INVOICE, "{\"InvoiceID\":\"i-4\",\"Total\":1.234}", HS_EPROTO);
    (void)parse_one(HS_KIND_INVOICE, "{\"InvoiceID\":\"i-5\",\"CurrencyCode\":\"XXQ\"}", HS_EPROTO);
    (void)parse_one(HS_KIND_INVOICE, "{\"Total\":1}", HS_EPROTO);
    (void)parse_one(HS_KIND_INVOICE, "{\"InvoiceID\":\"i-6\",\"Total\":\"abc\"}", HS_EPROTO);
    /* a payment and its one application */
    struct hs_record *p = parse_one(
        HS_KIND_PAYMENT,
        "{\"PaymentID\":\"p-1\",\"Date\":\"/Date(1795392000000+0000)/\",\"Amount\":12.5,"
        "\"Reference\":\"chq 7\",\"Invoice\":{\"InvoiceID\":\"i-1\",\"CurrencyCode\":\"GBP\","
        "\"Contact\":{\"ContactID\":\"c-1\"}}}",
        HS_OK);
    assert_string_equal(p->payment.currency, "GBP");
    assert_int_equal(p->payment.amount.minor, 1250);
    assert_int_equal(p->payment.n_applied, 1);
    assert_string_equal(p->payment.applied[0].invoice_ref, "i-1");
    assert_string_equal(p->payment.customer_ref, "c-1");
    assert_int_equal(p->payment.date.year, 2026);
    hs_record_free(p);
}

static void test_conn_xero_parse_write_and_lists(void **state)
{
    (void)state;
    const char *ans =
        "{\"Contacts\":[{\"ContactID\":\"c-1\",\"Name\":\"A\",\"StatusAttributeString\":\"OK\"},"
        "{\"Name\":\"B\",\"StatusAttributeString\":\"ERROR\",\"ValidationErrors\":[{\"Message\":"
        "\"The contact name B is already assigned to another contact.\"}]},{\"Name\":\"C\","
        "\"StatusAttributeString\":\"ERROR\",\"ValidationErrors\":[{\"Message\":\"one\"},"
        "{\"Message\":\"two\"}]}]}";
    struct hs_write w[4];
    memset(w, 0, sizeof w);
    bool sent[4] = {true, false, true, true};
    w[1].status = HS_EINVAL;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_xero_conn_parse_write((const uint8_t *)ans, strlen(ans), HS_KIND_CUSTOMER,
                                              &plain_opts, sent, w, 4, &err),
                     HS_OK);
    assert_int_equal(w[0].status, HS_OK);
    assert_string_equal(w[0].result->id, "c-1");
    assert_int_equal(w[1].status, HS_EINVAL); /* not sent: untouched */
    assert_int_equal(w[2].status, HS_EEXIST);
    assert_int_equal(w[3].status, HS_EINVAL);
    assert_string_equal(w[3].msg, "one; two");
    hs_record_free(w[0].result);
    /* a short answer leaves the last one without an answer */
    const char *short_ans = "{\"Contacts\":[{\"ContactID\":\"c-1\",\"Name\":\"A\"}]}";
    bool sent2[2] = {true, true};
    memset(w, 0, sizeof w);
    assert_int_equal(hs_xero_conn_parse_write((const uint8_t *)short_ans, strlen(short_ans),
                                              HS_KIND_CUSTOMER, &plain_opts, sent2, w, 2, &err),
                     HS_OK);
    assert_int_equal(w[1].status, HS_EPROTO);
    hs_record_free(w[0].result);
    assert_int_equal(hs_xero_conn_parse_write((const uint8_t *)"{}", 2, HS_KIND_CUSTOMER,
                                              &plain_opts, sent2, w, 2, &err),
                     HS_EPROTO);
    /* lists skip bills and supplier payments; DELETED is a deletion */
    const char *list =
        "{\"Invoices\":[{\"InvoiceID\":\"a\",\"Type\":\"ACCPAY\"},{\"InvoiceID\":\"b\",\"Type\":"
        "\"ACCREC\",\"Status\":\"DELETED\",\"UpdatedDateUTC\":\"/Date(5)/\"}]}";
    struct hs_xero_page page;
    assert_int_equal(hs_xero_conn_parse_list((const uint8_t *)list, strlen(list), HS_KIND_INVOICE,
                                             true, &plain_opts, &page, &err),
                     HS_OK);
    assert_int_equal(page.n_items, 1);
    assert_string_equal(page.items[0].id, "b");
    assert_true(page.items[0].deleted);
    assert_int_equal(page.items[0].updated_at, 5);
    assert_null(page.items[0].rec);
    hs_xero_conn_page_release(&page);
    /* error bodies: element messages first, then Message, then Detail */
    char text[128];
    const char *e1 = "{\"ErrorNumber\":10,\"Message\":\"A validation exception occurred\","
                     "\"Elements\":[{\"ValidationErrors\":[{\"Message\":\"Bad thing\"}]}]}";
    assert_true(hs_xero_conn_parse_error((const uint8_t *)e1, strlen(e1), text, sizeof text));
    assert_string_equal(text, "Bad thing");
    const char *e2 = "{\"Title\":\"Forbidden\",\"Detail\":\"AuthorizationUnsuccessful\"}";
    assert_true(hs_xero_conn_parse_error((const uint8_t *)e2, strlen(e2), text, sizeof text));
    assert_string_equal(text, "AuthorizationUnsuccessful");
    assert_false(hs_xero_conn_parse_error((const uint8_t *)"nope", 4, text, sizeof text));
}

static void test_conn_xero_build_elements(void **state)
{
    (void)state;
    struct hs_xero_item_ref items[1] = {{(char *)"item-1", (char *)"SKU-1"}};
    struct hs_xero_opts o = plain_opts;
    o.items = items;
    o.n_items = 1;
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_INVOICE, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->invoice.customer_ref, "c-1"), HS_OK);
    memcpy(r->invoice.currency, "KWD", 4);
    r->invoice.tax_mode = HS_TAX_INCLUSIVE;
    struct hs_error err;
    hs_error_clear(&err);
    struct hs_invoice_line *ln = NULL;
    assert_int_equal(hs_record_add_line(r, &ln), HS_OK);
    assert_int_equal(hs_record_set_str(&ln->item_ref, "item-1"), HS_OK);
    assert_int_equal(hs_decimal_parse_exact("1.5", 3, &ln->quantity, &err), HS_OK);
    ln->has_quantity = true;
    assert_int_equal(hs_money_from_minor(1001, "KWD", &ln->unit_price, &err), HS_OK);
    assert_int_equal(hs_decimal_parse_exact("10", 2, &ln->discount_percent, &err), HS_OK);
    ln->has_discount_percent = true;
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_CREATE;
    w.record = r;
    json_t *el = NULL;
    assert_int_equal(hs_xero_conn_build(HS_KIND_INVOICE, &w, &o, &el, &err), HS_OK);
    struct hs_buf b;
    hs_buf_init(&b);
    assert_int_equal(hs_json_dump_exact(el, &b), HS_OK);
    assert_non_null(strstr(b.data, "\"Type\":\"ACCREC\""));
    assert_non_null(strstr(b.data, "\"LineAmountTypes\":\"Inclusive\""));
    assert_non_null(strstr(b.data, "\"Status\":\"AUTHORISED\""));
    assert_non_null(strstr(b.data, "\"ItemCode\":\"SKU-1\""));
    assert_non_null(strstr(b.data, "\"UnitAmount\":1.001"));
    assert_non_null(strstr(b.data, "\"Quantity\":1.5"));
    assert_non_null(strstr(b.data, "\"DiscountRate\":10"));
    assert_non_null(strstr(b.data, "\"CurrencyCode\":\"KWD\""));
    assert_null(strstr(b.data, "AccountCode")); /* the item's account */
    hs_buf_release(&b);
    json_decref(el);
    /* an item Xero does not know, and a line in another currency */
    assert_int_equal(hs_record_set_str(&ln->item_ref, "gone"), HS_OK);
    assert_int_equal(hs_xero_conn_build(HS_KIND_INVOICE, &w, &o, &el, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "line 1"));
    hs_free(ln->item_ref);
    ln->item_ref = NULL;
    assert_int_equal(hs_money_from_minor(1, "USD", &ln->unit_price, &err), HS_OK);
    assert_int_equal(hs_xero_conn_build(HS_KIND_INVOICE, &w, &o, &el, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "another currency"));
    /* an update of the memo only: InvoiceID and Reference */
    assert_int_equal(hs_money_from_minor(1001, "KWD", &ln->unit_price, &err), HS_OK);
    hs_free(r->id);
    r->id = hs_strdup("inv-9");
    assert_int_equal(hs_record_set_str(&r->invoice.memo, "PO 42"), HS_OK);
    const char *fields[] = {"memo"};
    w.op = HS_WRITE_UPDATE;
    w.fields = fields;
    w.n_fields = 1;
    assert_int_equal(hs_xero_conn_build(HS_KIND_INVOICE, &w, &o, &el, &err), HS_OK);
    hs_buf_init(&b);
    assert_int_equal(hs_json_dump_exact(el, &b), HS_OK);
    assert_string_equal(b.data, "{\"Reference\":\"PO 42\",\"InvoiceID\":\"inv-9\"}");
    hs_buf_release(&b);
    json_decref(el);
    /* nothing Xero stores: no element */
    const char *none[] = {"custom.x"};
    w.fields = none;
    assert_int_equal(hs_xero_conn_build(HS_KIND_INVOICE, &w, &o, &el, &err), HS_OK);
    assert_null(el);
    hs_record_free(r);
    /* an item without SKU gets its code from the name; a payment needs one invoice */
    struct hs_record *it = NULL;
    assert_int_equal(hs_record_new(HS_KIND_ITEM, &it), HS_OK);
    assert_int_equal(
        hs_record_set_str(&it->item.name, "A very long product name that goes past thirty"), HS_OK);
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_CREATE;
    w.record = it;
    assert_int_equal(hs_xero_conn_build(HS_KIND_ITEM, &w, &o, &el, &err), HS_OK);
    assert_string_equal(json_string_value(json_object_get(el, "Code")),
                        "A very long product name that ");
    json_decref(el);
    hs_record_free(it);
    struct hs_record *p = NULL;
    assert_int_equal(hs_record_new(HS_KIND_PAYMENT, &p), HS_OK);
    w.record = p;
    assert_int_equal(hs_xero_conn_build(HS_KIND_PAYMENT, &w, &o, &el, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "exactly one invoice"));
    hs_record_free(p);
    /* the idempotency key: stable for the same batch, different for another */
    struct hs_write ws[2];
    memset(ws, 0, sizeof ws);
    ws[0].op = HS_WRITE_CREATE;
    ws[0].idem_key = "k0";
    ws[1].op = HS_WRITE_CREATE;
    ws[1].idem_key = "k1";
    const char *bodies[2] = {"{}", "{}"};
    char k1[36], k2[36], k3[36];
    hs_xero_conn_idem_key("t", HS_KIND_CUSTOMER, ws, bodies, 2, k1);
    hs_xero_conn_idem_key("t", HS_KIND_CUSTOMER, ws, bodies, 2, k2);
    ws[1].idem_key = "k2";
    hs_xero_conn_idem_key("t", HS_KIND_CUSTOMER, ws, bodies, 2, k3);
    assert_string_equal(k1, k2);
    assert_string_not_equal(k1, k3);
    assert_int_equal(strlen(k1), 35);
}

static const char failalloc_invoices[] =
    "{\"Invoices\":[{\"InvoiceID\":\"i-1\",\"Type\":\"ACCREC\",\"InvoiceNumber\":\"INV-1\","
    "\"Contact\":{\"ContactID\":\"c-1\"},\"CurrencyCode\":\"KWD\",\"Status\":\"AUTHORISED\","
    "\"LineAmountTypes\":\"Exclusive\",\"DateString\":\"2026-11-23T00:00:00\",\"LineItems\":[{"
    "\"Description\":\"x\",\"Quantity\":2.5,\"UnitAmount\":1.001,\"ItemCode\":\"SKU-1\","
    "\"LineAmount\":2.503,\"TaxType\":\"OUTPUT\",\"DiscountRate\":10}],\"SubTotal\":2.503,"
    "\"TotalTax\":0.207,\"Total\":2.71,\"AmountPaid\":1,\"AmountDue\":1.71,\"Reference\":\"PO\","
    "\"UpdatedDateUTC\":\"/Date(1795456800000+0000)/\"}]}";

static const char failalloc_contacts[] =
    "{\"Contacts\":[{\"ContactID\":\"c-1\",\"Name\":\"Acme\",\"StatusAttributeString\":\"OK\","
    "\"Phones\":[{\"PhoneType\":\"DEFAULT\",\"PhoneAreaCode\":\"415\",\"PhoneNumber\":\"555\"}],"
    "\"Addresses\":[{\"AddressType\":\"POBOX\",\"City\":\"Paris\"}],\"ContactPersons\":[{"
    "\"FirstName\":\"Ada\",\"EmailAddress\":\"a@b.example\"}]},{\"Name\":\"B\","
    "\"StatusAttributeString\":\"ERROR\",\"ValidationErrors\":[{\"Message\":\"no\"}]}]}";

/* Every allocation of parsing and building may fail: the answer is HS_ENOMEM, nothing leaks. */
static void test_conn_xero_parse_survives_every_failed_allocation(void **state)
{
    (void)state;
    struct hs_xero_item_ref items[1] = {{(char *)"it-1", (char *)"SKU-1"}};
    struct hs_xero_opts o = plain_opts;
    o.items = items;
    o.n_items = 1;
    for (int n = 0;; n++) {
        struct hs_xero_page p;
        struct hs_error err;
        hs_error_clear(&err);
        failalloc_arm(n);
        int rc =
            hs_xero_conn_parse_list((const uint8_t *)failalloc_invoices, strlen(failalloc_invoices),
                                    HS_KIND_INVOICE, true, &o, &p, &err);
        json_t *body = NULL;
        int rc2 = rc;
        if (rc == HS_OK) {
            struct hs_write w = {.op = HS_WRITE_CREATE, .record = p.items[0].rec};
            rc2 = hs_xero_conn_build(HS_KIND_INVOICE, &w, &o, &body, &err);
        }
        struct hs_write ws[2];
        memset(ws, 0, sizeof ws);
        bool sent[2] = {true, true};
        int rc3 = rc2 == HS_OK ? hs_xero_conn_parse_write((const uint8_t *)failalloc_contacts,
                                                          strlen(failalloc_contacts),
                                                          HS_KIND_CUSTOMER, &o, sent, ws, 2, &err)
                               : rc2;
        failalloc_disarm();
        json_decref(body);
        hs_record_free(ws[0].result);
        hs_xero_conn_page_release(&p);
        if (rc3 == HS_OK) {
            assert_int_equal(ws[0].status, HS_OK);
            assert_int_equal(ws[1].status, HS_EINVAL);
            break;
        }
        assert_int_equal(rc3, HS_ENOMEM);
        assert_true(n < 5000);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conn_xero_changes_pages_and_then_only_new, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_xero_changes_tie_larger_than_a_page, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_xero_changes_items_invoices_payments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_xero_customer_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_xero_create_replayed_with_same_keys, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_xero_per_element_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_xero_invoice_totals_agree_with_tax_policy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_xero_retried_invoice_create_finds_the_first,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_xero_retried_invoice_found_by_its_source_url,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_xero_invoice_with_item_and_payment, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_xero_item_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_xero_429_is_waited_out, setup_limited, teardown),
        cmocka_unit_test_setup_teardown(test_conn_xero_limits_and_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_xero_webhook_verification, setup, teardown),
        cmocka_unit_test(test_conn_xero_time_and_cursor),
        cmocka_unit_test(test_conn_xero_parse_records),
        cmocka_unit_test(test_conn_xero_parse_write_and_lists),
        cmocka_unit_test(test_conn_xero_build_elements),
        cmocka_unit_test(test_conn_xero_parse_survives_every_failed_allocation),
    };
    hs_alloc_setup_json();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
