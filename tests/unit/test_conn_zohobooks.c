/*
 * tests/unit/test_conn_zohobooks.c - the Zoho Books connector: parse/build units and the sandbox.
 *
 * Design:     sandbox cases open a seeded sandbox (seed 7, Zoho module only, static token "T",
 *             frozen clock, no rate limits unless a case wants them) and the connector on top
 *             of it through the in-process transport, the same code path as real HTTP without
 *             sockets. The connector's env sleep also moves the sandbox clock, so a 429's
 *             minute window really ends. Parse-level cases (time, cursor and its tie rule,
 *             records with inclusive and exclusive tax in USD, JPY and KWD, error envelopes,
 *             webhook bodies, body building) run without a sandbox.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "connectors/zohobooks/zohobooks.h"
#include "connectors/zohobooks/zohobooks_int.h"
#include "core/tax.h"
#include "sandbox/sbx.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/jsonnum.h"
#include "util/str.h"

#define START_MS 1795456800000LL /* 2026-11-23T18:00:00Z */

static const struct hs_connector_ops *const ops = &hs_connector_zohobooks_ops;
static const struct hs_sbx_module_ops *const only_zoho[] = {&hs_sbx_zoho_ops};

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
    cfg.base_url = "http://sandbox/zohobooks";
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
    opt.modules = only_zoho;
    opt.n_modules = 1;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_sbx_open(&opt, &t->sbx, &err), HS_OK);
    assert_int_equal(sbx_call(t, "POST", "/_sandbox/clock", NULL, "{\"freeze\":true}", NULL), 200);
    json_t *ten = NULL;
    assert_int_equal(sbx_call(t, "GET", "/_sandbox/tenants", NULL, NULL, &ten), 200);
    const char *id =
        json_string_value(json_object_get(json_object_get(ten, "zohobooks"), "organizationId"));
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

/* GET a Zoho path of the organization straight from the sandbox. */
static int zget(struct t *t, const char *path, json_t **out)
{
    char full[160];
    char q[96];
    snprintf(full, sizeof full, "/zohobooks/books/v3/%s", path);
    snprintf(q, sizeof q, "organization_id=%s&per_page=200", t->tenant);
    return sbx_call(t, "GET", full, q, NULL, out);
}

static struct hs_record *new_customer(const char *name, const char *email)
{
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_CUSTOMER, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.display_name, name), HS_OK);
    if (email != NULL) {
        assert_int_equal(hs_record_set_str(&r->customer.email, email), HS_OK);
        assert_int_equal(hs_record_set_str(&r->customer.given_name, "Ada"), HS_OK);
        assert_int_equal(hs_record_set_str(&r->customer.family_name, "Lovelace"), HS_OK);
    }
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
static char *create_customer(struct t *t, const char *name, const char *email, const char *key)
{
    struct hs_record *r = new_customer(name, email);
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_CREATE;
    w.record = r;
    w.idem_key = key;
    write_ok(t, HS_KIND_CUSTOMER, &w, 1);
    if (w.status != HS_OK)
        print_error("create: %s\n", w.msg);
    assert_int_equal(w.status, HS_OK);
    assert_non_null(w.result);
    char *id = hs_strdup(w.result->id);
    hs_record_free(w.result);
    hs_record_free(r);
    return id;
}

/* Every change of kind from cursor (NULL: the start), paging to the end. */
static size_t drain(struct t *t, enum hs_kind kind, char **cursor, size_t *calls)
{
    size_t total = 0;
    *calls = 0;
    char *cur = *cursor;
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

static size_t count_of(struct t *t, const char *path, const char *key)
{
    json_t *j = NULL;
    assert_int_equal(zget(t, path, &j), 200);
    size_t n = json_array_size(json_object_get(j, key));
    json_decref(j);
    return n;
}

static struct hs_record *read_one(struct t *t, enum hs_kind kind, const char *id)
{
    struct hs_record *out[1] = {NULL};
    struct hs_error err;
    hs_error_clear(&err);
    int rc = ops->read(t->c, kind, &id, 1, out, &err);
    if (rc != HS_OK)
        print_error("read: %s\n", err.msg);
    assert_int_equal(rc, HS_OK);
    return out[0];
}

/* The tax_id of the sandbox's tax named name. */
static void tax_id(struct t *t, const char *name, char *out, size_t cap)
{
    json_t *j = NULL;
    assert_int_equal(zget(t, "settings/taxes", &j), 200);
    size_t i;
    json_t *x;
    out[0] = '\0';
    json_array_foreach(json_object_get(j, "taxes"), i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "tax_name")), name) == 0)
            snprintf(out, cap, "%s", json_string_value(json_object_get(x, "tax_id")));
    }
    json_decref(j);
    assert_true(out[0] != '\0');
}

/* ---- sandbox cases -------------------------------------------------------------------------- */

static void test_conn_zohobooks_customer_round_trip(void **state)
{
    struct t *t = *state;
    char *id = create_customer(t, "Round Trip Ltd", "ada@round.example", "crm-company-1");
    struct hs_record *r = read_one(t, HS_KIND_CUSTOMER, id);
    assert_non_null(r);
    assert_string_equal(r->customer.display_name, "Round Trip Ltd");
    assert_string_equal(r->customer.email, "ada@round.example");
    assert_string_equal(r->customer.given_name, "Ada");
    assert_string_equal(r->customer.family_name, "Lovelace");
    const char *pid = hs_fields_get(&r->meta, "contact_person_id");
    assert_non_null(pid);
    char person[64];
    snprintf(person, sizeof person, "%s", pid);
    /* the CRM contact's email changes: the same person is updated */
    assert_int_equal(hs_record_set_str(&r->customer.email, "lovelace@round.example"), HS_OK);
    const char *fields[] = {"email"};
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_UPDATE;
    w.record = r;
    w.fields = fields;
    w.n_fields = 1;
    write_ok(t, HS_KIND_CUSTOMER, &w, 1);
    assert_int_equal(w.status, HS_OK);
    assert_string_equal(w.result->customer.email, "lovelace@round.example");
    assert_string_equal(hs_fields_get(&w.result->meta, "contact_person_id"), person);
    assert_string_equal(w.result->customer.display_name, "Round Trip Ltd");
    hs_record_free(w.result);
    hs_record_free(r);
    /* a record that is gone reads as NULL */
    r = read_one(t, HS_KIND_CUSTOMER, "999999999999999");
    assert_null(r);
    hs_free(id);
}

static int64_t zoho_calls(struct t *t);

/* POST /contacts/contactpersons straight to the sandbox, as a Zoho user adds a person. */
static void add_person(struct t *t, const char *contact, const char *first, const char *email)
{
    char q[96], body[256];
    snprintf(q, sizeof q, "organization_id=%s", t->tenant);
    snprintf(body, sizeof body, "{\"contact_id\":\"%s\",\"first_name\":\"%s\",\"email\":\"%s\"}",
             contact, first, email);
    assert_int_equal(
        sbx_call(t, "POST", "/zohobooks/books/v3/contacts/contactpersons", q, body, NULL), 201);
}

/* The contact's persons as the sandbox holds them (new reference). */
static json_t *persons_of(struct t *t, const char *id)
{
    json_t *j = NULL;
    char path[64];
    snprintf(path, sizeof path, "contacts/%s", id);
    assert_int_equal(zget(t, path, &j), 200);
    json_t *p = json_incref(json_object_get(json_object_get(j, "contact"), "contact_persons"));
    json_decref(j);
    return p;
}

static const json_t *person_by_email(const json_t *persons, const char *email)
{
    size_t i;
    const json_t *p;
    json_array_foreach(persons, i, p)
    {
        if (hs_str_eq(hs_json_str(p, "email"), email))
            return p;
    }
    return NULL;
}

/* A contact we created: its person (the CRM contact) is updated on its own, by id; a person a
 * Zoho user added is never deleted; a contact-only change sends no person. */
static void test_conn_zohobooks_person_updates_keep_other_persons(void **state)
{
    struct t *t = *state;
    char *id = create_customer(t, "Persons Kept Ltd", "ada@kept.example", "crm-company-9");
    add_person(t, id, "Betty", "betty.books@kept.example");
    struct hs_record *r = read_one(t, HS_KIND_CUSTOMER, id);
    assert_non_null(r);
    assert_null(hs_fields_get(&r->meta, HS_META_UNSYNCED)); /* ours */
    assert_null(hs_fields_get(&r->meta, HS_META_READ_ONLY));
    assert_string_equal(r->customer.email, "ada@kept.example");
    char person[64];
    snprintf(person, sizeof person, "%s", hs_fields_get(&r->meta, "contact_person_id"));
    /* the CRM contact's name and email change: one call for the person, one to read back */
    assert_int_equal(hs_record_set_str(&r->customer.email, "ada.king@kept.example"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.family_name, "King"), HS_OK);
    const char *fields[] = {"email", "family_name"};
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_UPDATE;
    w.record = r;
    w.fields = fields;
    w.n_fields = 2;
    int64_t before = zoho_calls(t);
    write_ok(t, HS_KIND_CUSTOMER, &w, 1);
    assert_int_equal(zoho_calls(t) - before, 2);
    assert_int_equal(w.status, HS_OK);
    assert_string_equal(w.result->customer.email, "ada.king@kept.example");
    assert_string_equal(w.result->customer.family_name, "King");
    assert_string_equal(w.result->customer.given_name, "Ada");
    assert_string_equal(hs_fields_get(&w.result->meta, "contact_person_id"), person);
    hs_record_free(w.result);
    json_t *ps = persons_of(t, id);
    assert_int_equal(json_array_size(ps), 2);
    assert_non_null(person_by_email(ps, "betty.books@kept.example"));
    assert_string_equal(
        hs_json_str(person_by_email(ps, "ada.king@kept.example"), "contact_person_id"), person);
    json_decref(ps);
    /* a change of the contact's own fields: one call, no person sent */
    assert_int_equal(hs_record_set_str(&r->customer.website, "https://kept.example"), HS_OK);
    const char *wf[] = {"website"};
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_UPDATE;
    w.record = r;
    w.fields = wf;
    w.n_fields = 1;
    before = zoho_calls(t);
    write_ok(t, HS_KIND_CUSTOMER, &w, 1);
    assert_int_equal(zoho_calls(t) - before, 1);
    assert_int_equal(w.status, HS_OK);
    assert_string_equal(w.result->customer.website, "https://kept.example");
    hs_record_free(w.result);
    /* both: the person, then the contact, whose answer is the result (two calls) */
    assert_int_equal(hs_record_set_str(&r->customer.phone, "+44 20 7946 0001"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.display_name, "Persons Kept Group"), HS_OK);
    const char *bf[] = {"display_name", "phone"};
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_UPDATE;
    w.record = r;
    w.fields = bf;
    w.n_fields = 2;
    before = zoho_calls(t);
    write_ok(t, HS_KIND_CUSTOMER, &w, 1);
    assert_int_equal(zoho_calls(t) - before, 2);
    assert_string_equal(w.result->customer.phone, "+44 20 7946 0001");
    assert_string_equal(w.result->customer.display_name, "Persons Kept Group");
    hs_record_free(w.result);
    ps = persons_of(t, id);
    assert_int_equal(json_array_size(ps), 2);
    assert_string_equal(hs_json_str(person_by_email(ps, "betty.books@kept.example"), "first_name"),
                        "Betty");
    json_decref(ps);
    hs_record_free(r);
    hs_free(id);
}

/* A contact we did not create (here the seed's, whose primary person is its billing contact
 * "Accounts Payable"): its persons are left out of the sync and never written. */
static void test_conn_zohobooks_persons_of_others_are_never_written(void **state)
{
    struct t *t = *state;
    json_t *all = NULL;
    assert_int_equal(zget(t, "contacts", &all), 200);
    const char *id = hs_json_str(json_array_get(json_object_get(all, "contacts"), 0), "contact_id");
    assert_non_null(id);
    char cid[32];
    snprintf(cid, sizeof cid, "%s", id);
    json_decref(all);
    add_person(t, cid, "Betty", "betty.books@seeded.example");
    struct hs_record *r = read_one(t, HS_KIND_CUSTOMER, cid);
    assert_non_null(r);
    assert_string_equal(r->customer.given_name, "Accounts");
    assert_string_equal(hs_fields_get(&r->meta, HS_META_UNSYNCED), "given_name,family_name,email");
    assert_null(hs_fields_get(&r->meta, HS_META_READ_ONLY));
    char *billing = hs_strdup(r->customer.email);
    /* names and email asked anyway (the engine does not ask): none is sent, no person is
     * renamed or deleted; the phone (the contact's, kept on its primary person) goes to that
     * person alone */
    assert_int_equal(hs_record_set_str(&r->customer.given_name, "Jane"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.email, "jane@crm.example"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.phone, "+1 555 0000"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.billing_address.city, "Springfield"), HS_OK);
    const char *fields[] = {"billing_address.city", "email", "given_name", "phone"};
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_UPDATE;
    w.record = r;
    w.fields = fields;
    w.n_fields = 4;
    int64_t before = zoho_calls(t);
    write_ok(t, HS_KIND_CUSTOMER, &w, 1);
    assert_int_equal(zoho_calls(t) - before, 2);
    assert_int_equal(w.status, HS_OK);
    assert_string_equal(w.result->customer.billing_address.city, "Springfield");
    assert_string_equal(w.result->customer.given_name, "Accounts");
    assert_string_equal(w.result->customer.email, billing);
    assert_string_equal(w.result->customer.phone, "+1 555 0000");
    hs_record_free(w.result);
    json_t *ps = persons_of(t, cid);
    assert_int_equal(json_array_size(ps), 2);
    assert_non_null(person_by_email(ps, "betty.books@seeded.example"));
    const json_t *ap = person_by_email(ps, billing);
    assert_non_null(ap);
    assert_string_equal(hs_json_str(ap, "first_name"), "Accounts");
    assert_string_equal(hs_json_str(ap, "last_name"), "Payable");
    assert_string_equal(hs_json_str(ap, "phone"), "+1 555 0000");
    json_decref(ps);
    hs_free(billing);
    hs_record_free(r);
    /* a contact of someone else's without any person: its phone has nowhere to go */
    char *bare = NULL;
    {
        char q[96];
        snprintf(q, sizeof q, "organization_id=%s", t->tenant);
        json_t *j = NULL;
        assert_int_equal(sbx_call(t, "POST", "/zohobooks/books/v3/contacts", q,
                                  "{\"contact_name\":\"No Persons Ltd\"}", &j),
                         201);
        bare = hs_strdup(hs_json_str(json_object_get(j, "contact"), "contact_id"));
        json_decref(j);
    }
    r = read_one(t, HS_KIND_CUSTOMER, bare);
    assert_string_equal(hs_fields_get(&r->meta, HS_META_READ_ONLY), "phone");
    hs_record_free(r);
    hs_free(bare);
}

/* An update of fields Zoho does not carry sends nothing, and its result is the contact as
 * Zoho holds it (read), never an echo of the record asked for. */
static void test_conn_zohobooks_update_of_nothing_zoho_stores_reads_back(void **state)
{
    struct t *t = *state;
    char *id = create_customer(t, "Echo Free Ltd", "ada@echo.example", "crm-company-2");
    struct hs_record *r = read_one(t, HS_KIND_CUSTOMER, id);
    assert_non_null(r);
    assert_null(r->customer.company_name);
    assert_int_equal(hs_record_set_str(&r->customer.company_name, "Echo Free Holdings"), HS_OK);
    /* not among the fields of the write: must not come back either */
    assert_int_equal(hs_record_set_str(&r->customer.website, "https://stale.example"), HS_OK);
    const char *fields[] = {"company_name"};
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_UPDATE;
    w.record = r;
    w.fields = fields;
    w.n_fields = 1;
    write_ok(t, HS_KIND_CUSTOMER, &w, 1);
    assert_int_equal(w.status, HS_OK);
    assert_non_null(w.result);
    assert_string_equal(w.result->id, id);
    assert_null(w.result->customer.company_name);
    assert_null(w.result->customer.website);
    assert_string_equal(w.result->customer.display_name, "Echo Free Ltd");
    assert_string_equal(w.result->customer.email, "ada@echo.example");
    hs_record_free(w.result);
    /* the same on a contact that is gone: the record's own status, not an echo */
    assert_int_equal(hs_record_set_str(&r->id, "999999999999999"), HS_OK);
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_UPDATE;
    w.record = r;
    w.fields = fields;
    w.n_fields = 1;
    write_ok(t, HS_KIND_CUSTOMER, &w, 1);
    assert_int_equal(w.status, HS_ENOTFOUND);
    assert_null(w.result);
    hs_record_free(r);
    hs_free(id);
}

static void test_conn_zohobooks_create_replayed_via_upsert(void **state)
{
    struct t *t = *state;
    size_t before = count_of(t, "contacts", "contacts");
    char *a = create_customer(t, "Replay GmbH", "r@replay.example", "crm-company-77");
    char *b = create_customer(t, "Replay GmbH", "r@replay.example", "crm-company-77");
    assert_string_equal(a, b);
    assert_int_equal(count_of(t, "contacts", "contacts"), before + 1);
    /* the key is in the unique field */
    json_t *j = NULL;
    char path[64];
    snprintf(path, sizeof path, "contacts/%s", a);
    assert_int_equal(zget(t, path, &j), 200);
    json_t *cf = json_array_get(json_object_get(json_object_get(j, "contact"), "custom_fields"), 0);
    assert_string_equal(json_string_value(json_object_get(cf, "api_name")), "cf_hoopsync_id");
    assert_string_equal(json_string_value(json_object_get(cf, "value")), "crm-company-77");
    json_decref(j);
    hs_free(a);
    hs_free(b);
}

static void test_conn_zohobooks_per_record_errors(void **state)
{
    struct t *t = *state;
    /* a name another contact has (seeded "ACME Inc"), a create with another key */
    struct hs_record *dup = new_customer("ACME Inc", NULL);
    struct hs_record *gone = new_customer("Gone Ltd", NULL);
    assert_int_equal(hs_record_set_str(&gone->id, "999999999999999"), HS_OK);
    struct hs_record *pay = NULL;
    assert_int_equal(hs_record_new(HS_KIND_PAYMENT, &pay), HS_OK);
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_CREATE;
    w.record = dup;
    w.idem_key = "crm-company-dup";
    write_ok(t, HS_KIND_CUSTOMER, &w, 1);
    assert_int_equal(w.status, HS_EEXIST);
    assert_non_null(strstr(w.msg, "already exists"));
    assert_null(w.result);
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_UPDATE;
    w.record = gone;
    write_ok(t, HS_KIND_CUSTOMER, &w, 1);
    assert_int_equal(w.status, HS_ENOTFOUND);
    assert_non_null(strstr(w.msg, "does not exist"));
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_CREATE;
    w.record = pay;
    write_ok(t, HS_KIND_PAYMENT, &w, 1);
    assert_int_equal(w.status, HS_EINVAL);
    assert_non_null(strstr(w.msg, "no customer"));
    hs_record_free(dup);
    hs_record_free(gone);
    hs_record_free(pay);
}

static void test_conn_zohobooks_changes_pages_ties_and_only_new(void **state)
{
    struct t *t = *state;
    size_t seeded = count_of(t, "contacts", "contacts");
    assert_true(seeded > 0);
    /* 250 more, 10 a second (the clock is frozen between advances): more than a page */
    for (int i = 0; i < 250; i++) {
        if (i % 10 == 0)
            advance(t, 1000);
        char name[32];
        char key[32];
        snprintf(name, sizeof name, "Tie %03d", i);
        snprintf(key, sizeof key, "tie-%d", i);
        hs_free(create_customer(t, name, NULL, key));
    }
    char *cur = NULL;
    size_t calls = 0;
    size_t n = drain(t, HS_KIND_CUSTOMER, &cur, &calls);
    assert_int_equal(n, seeded + 250);
    assert_true(calls >= 2);
    /* nothing changed: nothing reported, even though the newest second is listed again */
    n = drain(t, HS_KIND_CUSTOMER, &cur, &calls);
    assert_int_equal(n, 0);
    /* a new contact in that same second is reported, once */
    char *id = create_customer(t, "Same Second Ltd", NULL, "same-second");
    struct hs_changes ch;
    changes_ok(t, HS_KIND_CUSTOMER, cur, &ch);
    assert_int_equal(ch.n_items, 1);
    assert_true(has_id(&ch, id));
    hs_free(cur);
    cur = hs_strdup(ch.cursor);
    hs_changes_release(&ch);
    /* later: an update of an old contact is reported */
    advance(t, 5000);
    struct hs_record *r = read_one(t, HS_KIND_CUSTOMER, id);
    assert_int_equal(hs_record_set_str(&r->customer.website, "https://same.example"), HS_OK);
    const char *fields[] = {"website"};
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_UPDATE;
    w.record = r;
    w.fields = fields;
    w.n_fields = 1;
    write_ok(t, HS_KIND_CUSTOMER, &w, 1);
    assert_int_equal(w.status, HS_OK);
    hs_record_free(w.result);
    hs_record_free(r);
    changes_ok(t, HS_KIND_CUSTOMER, cur, &ch);
    assert_int_equal(ch.n_items, 1);
    assert_true(has_id(&ch, id));
    assert_false(ch.more);
    hs_changes_release(&ch);
    hs_free(cur);
    hs_free(id);
}

static struct hs_record *new_invoice(const char *customer, enum hs_tax_mode mode, const char *tax)
{
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_INVOICE, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->invoice.customer_ref, customer), HS_OK);
    memcpy(r->invoice.currency, "USD", 4);
    r->invoice.tax_mode = mode;
    r->invoice.status = HS_INVOICE_OPEN;
    const char *prices[] = {"33.33", "100.00"};
    const char *qty[] = {"3", "1.5"};
    struct hs_error err;
    hs_error_clear(&err);
    for (int i = 0; i < 2; i++) {
        struct hs_invoice_line *ln = NULL;
        assert_int_equal(hs_record_add_line(r, &ln), HS_OK);
        assert_int_equal(hs_record_set_str(&ln->description, i == 0 ? "Consulting" : "Support"),
                         HS_OK);
        assert_int_equal(hs_decimal_parse_exact(qty[i], strlen(qty[i]), &ln->quantity, &err),
                         HS_OK);
        ln->has_quantity = true;
        assert_int_equal(
            hs_money_parse_exact(prices[i], strlen(prices[i]), "USD", &ln->unit_price, &err),
            HS_OK);
        assert_int_equal(hs_record_set_str(&ln->tax_code, tax), HS_OK);
    }
    return r;
}

/* Totals as core/tax.h computes them under Zoho's policy (VAT 20% on both lines). */
static void expected_totals(enum hs_tax_mode mode, struct hs_tax_totals *out)
{
    struct hs_tax_code vat = {"VAT", {{"", {20000000}}}, 1};
    struct hs_tax_line lines[2];
    memset(lines, 0, sizeof lines);
    struct hs_error err;
    hs_error_clear(&err);
    const char *qty[] = {"3", "1.5"};
    const int64_t price[] = {3333, 10000};
    for (int i = 0; i < 2; i++) {
        struct hs_decimal q;
        assert_int_equal(hs_decimal_parse_exact(qty[i], strlen(qty[i]), &q, &err), HS_OK);
        assert_int_equal(
            hs_tax_line_amount(q, price[i], NULL, HS_ROUND_HALF_UP, &lines[i].amount, &err), HS_OK);
        lines[i].code = &vat;
    }
    struct hs_tax_policy p = hs_tax_policy_zoho(mode);
    assert_int_equal(hs_tax_compute(&p, lines, 2, out, &err), HS_OK);
}

/* Zoho's calls so far, from the sandbox's stats. */
static int64_t zoho_calls(struct t *t)
{
    json_t *st = NULL;
    assert_int_equal(sbx_call(t, "GET", "/_sandbox/stats", NULL, NULL, &st), 200);
    int64_t n = (int64_t)json_integer_value(
        json_object_get(json_object_get(json_object_get(st, "providers"), "zohobooks"), "total"));
    json_decref(st);
    return n;
}

/* A contact is billed only in its own currency: a EUR invoice for a USD contact is refused
 * before any invoice exists, naming both; a USD one takes two calls (create, mark sent) when
 * the handle has seen the contact, and one GET more for a contact it has not. */
static void test_conn_zohobooks_invoice_currency_is_the_contacts(void **state)
{
    struct t *t = *state;
    char vat[32];
    tax_id(t, "VAT 20%", vat, sizeof vat);
    char *cust = create_customer(t, "Euro Deal Co", "billing@euro.example", "crm-company-eur");
    size_t before = count_of(t, "invoices", "invoices");
    struct hs_record *r = new_invoice(cust, HS_TAX_EXCLUSIVE, vat);
    memcpy(r->invoice.currency, "EUR", 4);
    for (size_t i = 0; i < r->invoice.n_lines; i++)
        memcpy(r->invoice.lines[i].unit_price.currency, "EUR", 4);
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_CREATE;
    w.record = r;
    w.idem_key = "deal-eur";
    int64_t c0 = zoho_calls(t);
    write_ok(t, HS_KIND_INVOICE, &w, 1);
    assert_int_equal(w.status, HS_EINVAL);
    assert_non_null(strstr(w.msg, "in EUR"));
    assert_non_null(strstr(w.msg, "its own currency, USD"));
    assert_null(w.result);
    assert_int_equal(zoho_calls(t), c0); /* the contact's currency was known: no call */
    assert_int_equal(count_of(t, "invoices", "invoices"), before);
    hs_record_free(r);
    /* in the contact's currency: create and mark sent, nothing else */
    r = new_invoice(cust, HS_TAX_EXCLUSIVE, vat);
    w.record = r;
    w.idem_key = "deal-usd";
    c0 = zoho_calls(t);
    write_ok(t, HS_KIND_INVOICE, &w, 1);
    assert_int_equal(w.status, HS_OK);
    assert_int_equal(w.result->invoice.status, HS_INVOICE_OPEN);
    assert_int_equal(zoho_calls(t), c0 + 2);
    hs_record_free(w.result);
    w.result = NULL;
    hs_record_free(r);
    /* a handle that has not seen the contact reads it once */
    ops->close(t->c);
    t->c = NULL;
    open_conn(t);
    r = new_invoice(cust, HS_TAX_EXCLUSIVE, vat);
    memcpy(r->invoice.currency, "EUR", 4);
    for (size_t i = 0; i < r->invoice.n_lines; i++)
        memcpy(r->invoice.lines[i].unit_price.currency, "EUR", 4);
    w.record = r;
    w.idem_key = "deal-eur-2";
    c0 = zoho_calls(t);
    write_ok(t, HS_KIND_INVOICE, &w, 1);
    assert_int_equal(w.status, HS_EINVAL);
    assert_int_equal(zoho_calls(t), c0 + 1);
    assert_int_equal(count_of(t, "invoices", "invoices"), before + 1);
    hs_record_free(r);
    hs_free(cust);
}

static void test_conn_zohobooks_invoices_tax_and_payment(void **state)
{
    struct t *t = *state;
    char vat[32];
    tax_id(t, "VAT 20%", vat, sizeof vat);
    char *cust = create_customer(t, "Invoice Co", "billing@invoice.example", "crm-company-inv");
    char ids[2][32];
    const enum hs_tax_mode modes[] = {HS_TAX_EXCLUSIVE, HS_TAX_INCLUSIVE};
    for (int m = 0; m < 2; m++) {
        struct hs_record *r = new_invoice(cust, modes[m], vat);
        struct hs_write w;
        memset(&w, 0, sizeof w);
        w.op = HS_WRITE_CREATE;
        w.record = r;
        w.idem_key = m == 0 ? "deal-1" : "deal-2";
        write_ok(t, HS_KIND_INVOICE, &w, 1);
        if (w.status != HS_OK)
            print_error("invoice: %s\n", w.msg);
        assert_int_equal(w.status, HS_OK);
        const struct hs_invoice *got = &w.result->invoice;
        struct hs_tax_totals want;
        expected_totals(modes[m], &want);
        assert_int_equal(got->tax_mode, modes[m]);
        assert_int_equal(got->tax.minor, want.tax);
        assert_int_equal(got->total.minor, want.total);
        assert_int_equal(got->subtotal.minor, want.subtotal);
        assert_int_equal(got->n_lines, 2);
        assert_int_equal(got->lines[0].tax_amount.minor + got->lines[1].tax_amount.minor, want.tax);
        assert_int_equal(got->status, HS_INVOICE_OPEN); /* marked sent */
        assert_non_null(hs_fields_get(&w.result->meta, "url"));
        snprintf(ids[m], sizeof ids[m], "%s", w.result->id);
        /* replayed: the same invoice */
        hs_record_free(w.result);
        w.result = NULL;
        write_ok(t, HS_KIND_INVOICE, &w, 1);
        assert_int_equal(w.status, HS_OK);
        assert_string_equal(w.result->id, ids[m]);
        hs_record_free(w.result);
        hs_record_free(r);
    }
    assert_int_equal(count_of(t, "invoices", "invoices"), 2);
    char *inv_cursor = NULL;
    size_t calls = 0;
    assert_int_equal(drain(t, HS_KIND_INVOICE, &inv_cursor, &calls), 2);
    /* a payment of part of the first invoice */
    advance(t, 3000);
    struct hs_record *p = NULL;
    assert_int_equal(hs_record_new(HS_KIND_PAYMENT, &p), HS_OK);
    assert_int_equal(hs_record_set_str(&p->payment.customer_ref, cust), HS_OK);
    memcpy(p->payment.currency, "USD", 4);
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_money_parse_exact("50.00", 5, "USD", &p->payment.amount, &err), HS_OK);
    p->payment.date = (struct hs_date){2026, 11, 23};
    struct hs_payment_applied *a = NULL;
    assert_int_equal(hs_record_add_applied(p, &a), HS_OK);
    assert_int_equal(hs_record_set_str(&a->invoice_ref, ids[0]), HS_OK);
    a->amount = p->payment.amount;
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_CREATE;
    w.record = p;
    write_ok(t, HS_KIND_PAYMENT, &w, 1);
    assert_int_equal(w.status, HS_OK);
    assert_int_equal(w.result->payment.n_applied, 1);
    assert_string_equal(w.result->payment.applied[0].invoice_ref, ids[0]);
    assert_int_equal(w.result->payment.amount.minor, 5000);
    char pay_id[32];
    snprintf(pay_id, sizeof pay_id, "%s", w.result->id);
    hs_record_free(w.result);
    hs_record_free(p);
    /* the invoice feed (filtered by last_modified_time) reports the paid invoice only */
    struct hs_changes ch;
    changes_ok(t, HS_KIND_INVOICE, inv_cursor, &ch);
    assert_true(has_id(&ch, ids[0]));
    assert_false(has_id(&ch, ids[1]));
    hs_changes_release(&ch);
    struct hs_record *inv = read_one(t, HS_KIND_INVOICE, ids[0]);
    assert_int_equal(inv->invoice.status, HS_INVOICE_PARTIALLY_PAID);
    assert_int_equal(inv->invoice.balance.minor, inv->invoice.total.minor - 5000);
    assert_int_equal(inv->invoice.amount_paid.minor, 5000);
    hs_record_free(inv);
    struct hs_record *pay = read_one(t, HS_KIND_PAYMENT, pay_id);
    assert_non_null(pay);
    assert_string_equal(pay->payment.customer_ref, cust);
    hs_record_free(pay);
    /* the payment feed has it */
    char *pc = NULL;
    assert_int_equal(drain(t, HS_KIND_PAYMENT, &pc, &calls), 1);
    hs_free(pc);
    hs_free(inv_cursor);
    hs_free(cust);
}

static void test_conn_zohobooks_limits_and_settings(void **state)
{
    struct t *t = *state;
    struct hs_connector_limits l;
    ops->limits(t->c, HS_KIND_INVOICE, &l);
    assert_int_equal(l.write_batch, 1);
    assert_int_equal(l.n_windows, 2);
    assert_string_equal(l.windows[0].scope, "all");
    assert_int_equal(l.windows[0].limit, 100);
    assert_string_equal(l.windows[1].scope, "day");
    assert_int_equal(l.windows[1].limit, 10000);
    /* the rate_limits setting replaces both windows */
    ops->close(t->c);
    t->c = NULL;
    json_decref(t->settings);
    t->settings = json_loads("{\"rate_limits\":[{\"scope\":\"all\",\"requests\":10,"
                             "\"window_ms\":6000},{\"scope\":\"day\",\"requests\":1000,"
                             "\"window_ms\":86400000}]}",
                             0, NULL);
    open_conn(t);
    ops->limits(t->c, HS_KIND_CUSTOMER, &l);
    assert_int_equal(l.n_windows, 2);
    assert_int_equal(l.windows[0].limit, 10);
    assert_int_equal(l.windows[0].window_ms, 6000);
    assert_int_equal(l.windows[1].limit, 1000);
    /* bad settings are refused with the setting's name */
    const char *bad[] = {"{\"unique_field\":\"hoopsync id\"}", "{\"invoice_status\":\"paid\"}",
                         "{\"base_currency\":\"XXX\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_decref(t->settings);
        t->settings = json_loads(bad[i], 0, NULL);
        struct hs_connector_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.base_url = "http://sandbox/zohobooks";
        cfg.tenant = t->tenant;
        cfg.http = &t->http;
        cfg.env = &t->env;
        cfg.token = t_token;
        cfg.settings = t->settings;
        struct hs_connector *c = NULL;
        struct hs_error err;
        hs_error_clear(&err);
        assert_int_equal(ops->open(&cfg, &c, &err), HS_EINVAL);
        assert_null(c);
        assert_non_null(strstr(err.msg, "setting"));
    }
    /* a tenant that is not an organization id */
    struct hs_connector_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.base_url = "http://sandbox/zohobooks";
    cfg.tenant = "not-an-org";
    cfg.http = &t->http;
    cfg.env = &t->env;
    struct hs_connector *c = NULL;
    assert_int_equal(ops->open(&cfg, &c, NULL), HS_EINVAL);
}

static void test_conn_zohobooks_webhook(void **state)
{
    struct t *t = *state;
    const char *body = "{\"invoice\":{\"invoice_id\":\"460070000000095\","
                       "\"last_modified_time\":\"2026-11-23T18:00:00+0000\"}}";
    struct hs_http_request req;
    hs_http_request_init(&req);
    assert_int_equal(hs_buf_puts(&req.body, body), HS_OK);
    struct hs_changes ch;
    struct hs_error err;
    hs_error_clear(&err);
    /* no token header */
    assert_int_equal(ops->webhook(t->c, &req, "S3cret", &ch, &err), HS_EAUTH);
    assert_int_equal(hs_http_headers_set(&req.headers, "X-Zoho-Webhook-Token", "wrong"), HS_OK);
    assert_int_equal(ops->webhook(t->c, &req, "S3cret", &ch, &err), HS_EAUTH);
    assert_int_equal(hs_http_headers_set(&req.headers, "X-Zoho-Webhook-Token", "S3cret"), HS_OK);
    assert_int_equal(ops->webhook(t->c, &req, "S3cret", &ch, &err), HS_OK);
    assert_int_equal(ch.n_items, 1);
    assert_int_equal(ch.items[0].kind, HS_KIND_INVOICE);
    assert_string_equal(ch.items[0].id, "460070000000095");
    assert_int_equal(ch.items[0].updated_at, START_MS);
    hs_changes_release(&ch);
    /* another organization's delivery gives nothing */
    assert_int_equal(hs_http_headers_set(&req.headers, "X-Zoho-Organization-Id", "1"), HS_OK);
    assert_int_equal(ops->webhook(t->c, &req, "S3cret", &ch, &err), HS_OK);
    assert_int_equal(ch.n_items, 0);
    hs_changes_release(&ch);
    hs_http_request_release(&req);
}

/* ---- no sandbox: parse and build ----------------------------------------------------------- */

static void test_conn_zohobooks_time(void **state)
{
    (void)state;
    int64_t ms = 0;
    const char *ok[] = {"2026-11-23T18:00:00+0000", "2026-11-23T18:00:00Z", "2026-11-23T18:00:00",
                        "2026-11-23T23:30:00+05:30", "2026-11-23T10:00:00-0800"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(hs_zoho_conn_time_parse(ok[i], strlen(ok[i]), &ms), HS_OK);
        assert_int_equal(ms, START_MS);
    }
    const char *bad[] = {"", "2026-11-23", "2026-13-23T18:00:00", "2026-11-23T18:00:00+00",
                         "2026-11-23T18:00:00+0000x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(hs_zoho_conn_time_parse(bad[i], strlen(bad[i]), &ms), HS_EINVAL);
    char out[32];
    hs_zoho_conn_time_format(START_MS + 999, out);
    assert_string_equal(out, "2026-11-23T18:00:00+0000");
}

static void test_conn_zohobooks_cursor(void **state)
{
    (void)state;
    struct hs_zoho_cursor *c = hs_calloc(3, sizeof *c);
    assert_non_null(c);
    struct hs_error err;
    const char *ok[] = {"z1|0|1|0||", "z1|1795456800000|3|1795456801000|00000000000000ff|",
                        "z1|1000|1|1000|0000000000000001,0000000000000002|00000000000000aa"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(hs_zoho_conn_cursor_parse(ok[i], strlen(ok[i]), &c[0], &err), HS_OK);
        char *s = hs_zoho_conn_cursor_format(&c[0]);
        assert_string_equal(s, ok[i]);
        hs_free(s);
    }
    const char *bad[] = {"",
                         "x1|0|1|0||",
                         "z1|0|0|0||",
                         "z1|01|1|0||",
                         "z1|0|1|0|",
                         "z1|0|1|0|zz|",
                         "z1|1500|1|0||",
                         "z1|0|1|0|0000000000000001,0000000000000001|",
                         "z1|0|1|0||,"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(hs_zoho_conn_cursor_parse(bad[i], strlen(bad[i]), &c[0], &err), HS_EINVAL);
    /* a scan: page 1 holds two records at T+2 and one at T; since T, with "a"@T seen */
    const int64_t T = START_MS;
    struct hs_zoho_obj objs[4] = {{(char *)"b", T + 2000, NULL},
                                  {(char *)"c", T + 2000, NULL},
                                  {(char *)"a", T, NULL},
                                  {(char *)"z", T - 1000, NULL}};
    memset(&c[0], 0, sizeof c[0]);
    c[0].since_ms = T;
    c[0].top_ms = T;
    c[0].page = 1;
    c[0].old_seen[c[0].n_old++] = hs_zoho_conn_version_hash("a", T);
    struct hs_zoho_page page = {objs, 4, true};
    size_t picked[4];
    size_t n = 0;
    bool more = true;
    hs_zoho_conn_cursor_step(&c[0], &page, picked, &n, &c[1], &more);
    assert_int_equal(n, 2); /* b, c; a was reported; z is older than the window */
    assert_string_equal(objs[picked[0]].id, "b");
    assert_string_equal(objs[picked[1]].id, "c");
    assert_false(more); /* met an older record: the scan is over */
    assert_int_equal(c[1].since_ms, T + 2000);
    assert_int_equal(c[1].page, 1);
    assert_int_equal(c[1].n_old, 2);
    /* the next scan lists b and c again, unchanged: nothing; a new d at the same second: d */
    struct hs_zoho_obj objs2[3] = {{(char *)"d", T + 2000, NULL},
                                   {(char *)"b", T + 2000, NULL},
                                   {(char *)"c", T + 2000, NULL}};
    struct hs_zoho_page page2 = {objs2, 3, false};
    hs_zoho_conn_cursor_step(&c[1], &page2, picked, &n, &c[2], &more);
    assert_int_equal(n, 1);
    assert_string_equal(objs2[picked[0]].id, "d");
    assert_false(more);
    assert_int_equal(c[2].since_ms, T + 2000);
    assert_int_equal(c[2].n_old, 3);
    /* a full page all newer than since: the scan goes on at page 2, since unchanged */
    page2.has_more = true;
    hs_zoho_conn_cursor_step(&c[0], &page2, picked, &n, &c[1], &more);
    assert_true(more);
    assert_int_equal(c[1].page, 2);
    assert_int_equal(c[1].since_ms, T);
    assert_int_equal(c[1].top_ms, T + 2000);
    assert_int_equal(c[1].n_new, 3);
    hs_free(c);
}

static const struct hs_zoho_opts plain_opts = {"USD", "https://books.zoho.com", "cf_hoopsync_id",
                                               NULL, "1"};

static struct hs_record *parse_one(enum hs_kind kind, const char *text, int want_rc)
{
    json_t *j = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_json_parse_exact((const uint8_t *)text, strlen(text), "t", &j, &err),
                     HS_OK);
    struct hs_record *r = NULL;
    int rc = hs_zoho_conn_parse_record(kind, j, &plain_opts, &r, &err);
    if (rc != want_rc)
        print_error("parse: %s\n", err.msg);
    assert_int_equal(rc, want_rc);
    json_decref(j);
    return r;
}

static void test_conn_zohobooks_parse_records(void **state)
{
    (void)state;
    /* JPY, inclusive: no minor units; sub_total shown gross, read back net */
    struct hs_record *r = parse_one(
        HS_KIND_INVOICE,
        "{\"invoice_id\":\"11\",\"customer_id\":\"22\",\"currency_code\":\"JPY\","
        "\"is_inclusive_tax\":true,\"status\":\"overdue\",\"date\":\"2026-11-01\","
        "\"line_items\":[{\"item_id\":\"33\",\"name\":\"Widget\",\"rate\":1000,\"quantity\":3,"
        "\"discount\":\"10%\",\"tax_id\":\"44\",\"item_total\":2700,"
        "\"line_item_taxes\":[{\"tax_id\":\"44\",\"tax_amount\":245}]}],"
        "\"sub_total\":2700,\"tax_total\":245,\"total\":2700,\"payment_made\":0,\"balance\":2700,"
        "\"last_modified_time\":\"2026-11-23T18:00:00+0000\"}",
        HS_OK);
    assert_string_equal(r->invoice.currency, "JPY");
    assert_int_equal(r->invoice.tax_mode, HS_TAX_INCLUSIVE);
    assert_int_equal(r->invoice.status, HS_INVOICE_OVERDUE);
    assert_int_equal(r->invoice.total.minor, 2700);
    assert_int_equal(r->invoice.subtotal.minor, 2455);
    assert_int_equal(r->invoice.lines[0].amount.minor, 2700);
    assert_int_equal(r->invoice.lines[0].tax_amount.minor, 245);
    assert_true(r->invoice.lines[0].has_discount_percent);
    assert_string_equal(r->invoice.lines[0].description, "Widget");
    assert_int_equal(r->updated_at, START_MS);
    /* built back: the same lines, the discount as Zoho writes it */
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_CREATE;
    w.record = r;
    json_t *body = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_zoho_conn_build(HS_KIND_INVOICE, &w, &plain_opts, &body, &err), HS_OK);
    struct hs_buf b;
    hs_buf_init(&b);
    assert_int_equal(hs_json_dump_exact(body, &b), HS_OK);
    assert_non_null(strstr(b.data, "\"is_inclusive_tax\":true"));
    assert_non_null(strstr(b.data, "\"discount\":\"10%\""));
    assert_non_null(strstr(b.data, "\"rate\":1000"));
    assert_non_null(strstr(b.data, "\"tax_id\":\"44\""));
    hs_buf_release(&b);
    json_decref(body);
    /* an update of the memo only sends the memo */
    const char *fields[] = {"memo"};
    w.op = HS_WRITE_UPDATE;
    w.fields = fields;
    w.n_fields = 1;
    assert_int_equal(hs_zoho_conn_build(HS_KIND_INVOICE, &w, &plain_opts, &body, &err), HS_OK);
    assert_int_equal(json_object_size(body), 1);
    assert_string_equal(json_string_value(json_object_get(body, "reference_number")), "");
    json_decref(body);
    hs_record_free(r);
    /* KWD, exclusive: three decimals, exact */
    r = parse_one(HS_KIND_INVOICE,
                  "{\"invoice_id\":\"12\",\"currency_code\":\"KWD\",\"is_inclusive_tax\":false,"
                  "\"status\":\"partially_paid\",\"line_items\":[{\"rate\":1.235,\"quantity\":2,"
                  "\"item_total\":2.470}],\"sub_total\":2.470,\"tax_total\":0.247,"
                  "\"total\":2.717,\"payment_made\":1.000,\"balance\":1.717}",
                  HS_OK);
    assert_int_equal(r->invoice.tax_mode, HS_TAX_EXCLUSIVE);
    assert_int_equal(r->invoice.subtotal.minor, 2470);
    assert_int_equal(r->invoice.total.minor, 2717);
    assert_int_equal(r->invoice.balance.minor, 1717);
    assert_int_equal(r->invoice.lines[0].unit_price.minor, 1235);
    assert_int_equal(r->invoice.status, HS_INVOICE_PARTIALLY_PAID);
    hs_record_free(r);
    /* a contact: the primary person is the CRM contact */
    r = parse_one(HS_KIND_CUSTOMER,
                  "{\"contact_id\":\"5\",\"contact_name\":\"P Ltd\",\"email\":\"x@p.example\","
                  "\"status\":\"active\",\"currency_code\":\"EUR\",\"billing_address\":{"
                  "\"address\":\"1 Road\",\"city\":\"Köln\",\"zip\":\"1\",\"country\":\"de\"},"
                  "\"contact_persons\":[{\"contact_person_id\":\"6\",\"first_name\":\"A\","
                  "\"email\":\"a@p.example\"},{\"contact_person_id\":\"7\",\"first_name\":\"B\","
                  "\"email\":\"b@p.example\",\"is_primary_contact\":true}]}",
                  HS_OK);
    assert_string_equal(r->customer.email, "b@p.example");
    assert_string_equal(r->customer.given_name, "B");
    assert_string_equal(hs_fields_get(&r->meta, "contact_person_id"), "7");
    assert_string_equal(r->customer.billing_address.country, "DE");
    assert_string_equal(r->customer.currency, "EUR");
    assert_int_equal(r->customer.active, HS_TRI_TRUE);
    hs_record_free(r);
    /* unreadable: an unknown currency, an amount that is text, no id */
    assert_null(
        parse_one(HS_KIND_INVOICE, "{\"invoice_id\":\"1\",\"currency_code\":\"ZZZ\"}", HS_EPROTO));
    assert_null(parse_one(HS_KIND_INVOICE, "{\"invoice_id\":\"1\",\"total\":\"abc\"}", HS_EPROTO));
    assert_null(parse_one(HS_KIND_ITEM, "{\"name\":\"x\"}", HS_EPROTO));
}

static void test_conn_zohobooks_parse_answers(void **state)
{
    (void)state;
    int code = 0;
    char text[HS_ERRMSG_MAX];
    const char *e = "{\"code\":3062,\"message\":\"The contact \\\"X\\\" already exists.\"}";
    assert_true(hs_zoho_conn_parse_error((const uint8_t *)e, strlen(e), &code, text, sizeof text));
    assert_int_equal(code, 3062);
    assert_string_equal(text, "The contact \"X\" already exists.");
    assert_int_equal(hs_zoho_conn_write_status(400, code), HS_EEXIST);
    assert_int_equal(hs_zoho_conn_write_status(404, 1002), HS_ENOTFOUND);
    assert_int_equal(hs_zoho_conn_write_status(400, 2), HS_EINVAL);
    assert_int_equal(hs_zoho_conn_write_status(429, 45), HS_ERATELIMIT);
    assert_false(hs_zoho_conn_parse_error((const uint8_t *)"<html>", 6, &code, text, sizeof text));
    assert_int_equal(code, -1);
    /* a list: vendors stay in the page without a record, has_more_page read */
    const char *list =
        "{\"code\":0,\"contacts\":[{\"contact_id\":\"1\",\"contact_name\":\"A\","
        "\"contact_type\":\"customer\"},{\"contact_id\":\"2\",\"contact_name\":\"V\","
        "\"contact_type\":\"vendor\"}],\"page_context\":{\"has_more_page\":true}}";
    struct hs_zoho_page p;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_zoho_conn_parse_list((const uint8_t *)list, strlen(list), HS_KIND_CUSTOMER,
                                             true, &plain_opts, &p, &err),
                     HS_OK);
    assert_int_equal(p.n_items, 2);
    assert_true(p.has_more);
    assert_non_null(p.items[0].rec);
    assert_null(p.items[1].rec);
    hs_zoho_conn_page_release(&p);
    const char *err_body = "{\"code\":57,\"message\":\"no\"}";
    assert_int_equal(hs_zoho_conn_parse_list((const uint8_t *)err_body, strlen(err_body),
                                             HS_KIND_CUSTOMER, false, &plain_opts, &p, &err),
                     HS_EPROTO);
    /* webhooks: unknown entity gives nothing, a bad id is refused */
    struct hs_changes ch;
    const char *cn = "{\"creditnote\":{\"creditnote_id\":\"9\"}}";
    assert_int_equal(hs_zoho_conn_parse_webhook((const uint8_t *)cn, strlen(cn), &ch, &err), HS_OK);
    assert_int_equal(ch.n_items, 0);
    hs_changes_release(&ch);
    const char *bad = "{\"contact\":{\"contact_id\":5}}";
    assert_int_equal(hs_zoho_conn_parse_webhook((const uint8_t *)bad, strlen(bad), &ch, &err),
                     HS_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conn_zohobooks_customer_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_zohobooks_person_updates_keep_other_persons,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_zohobooks_persons_of_others_are_never_written,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_conn_zohobooks_update_of_nothing_zoho_stores_reads_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_zohobooks_create_replayed_via_upsert, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_zohobooks_per_record_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_zohobooks_changes_pages_ties_and_only_new, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_zohobooks_invoices_tax_and_payment, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_zohobooks_invoice_currency_is_the_contacts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_zohobooks_limits_and_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_zohobooks_webhook, setup, teardown),
        cmocka_unit_test(test_conn_zohobooks_time),
        cmocka_unit_test(test_conn_zohobooks_cursor),
        cmocka_unit_test(test_conn_zohobooks_parse_records),
        cmocka_unit_test(test_conn_zohobooks_parse_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
