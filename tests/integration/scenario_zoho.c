/*
 * tests/integration/scenario_zoho.c - the Zoho Books row of struct scn_acc (scenario.h):
 *                                     contacts, invoices, customer payments and taxes through
 *                                     Zoho Books' own API v3 against the sandbox.
 *
 * Design:     every call goes to <base>/zohobooks/books/v3/<entity> with the organization_id
 *             of the seeded organization (GET /_sandbox/tenants, "zohobooks".organizationId),
 *             as a Zoho app does. Lists are paged (per_page 200) to their last page; they
 *             leave out contact persons, so a customer's person fields are read from GET
 *             /contacts/{id}. A user's edit of the phone or email goes to the primary contact
 *             person (the contact's own fields only mirror it), as the Zoho UI does.
 *             Zoho has no version counter: a record's version is its last_modified_time,
 *             which every update moves (seconds; the sandbox's clock is frozen between passes
 *             and each pass moves it a second first).
 *             Zoho has no batch endpoint and reads share the creates' path (PUT /contacts is
 *             also GET /contacts), so the stall holds every call of that entity, the row's own
 *             included: create_held reads the sandbox's request counters instead of polling
 *             the records (the records are checked through the API once the stall is gone).
 *             Amounts are read from their exact JSON text (scn_minor), never as doubles.
 * Not here:   the shared set-up and the QuickBooks row (scenario.c), Xero (scenario_xero.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "connectors/zohobooks/zohobooks.h"
#include "core/money.h"
#include "scenario.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/jsonnum.h"

static json_t *zoho_settings(struct scn *s)
{
    (void)s;
    return json_pack("{s:s}", "base_currency", "USD");
}

static void zoho_tenant(struct scn *s, char *out, size_t len)
{
    json_t *ten = NULL;
    assert_int_equal(scn_http(s, "GET", "/_sandbox/tenants", NULL, &ten), 200);
    const char *id =
        json_string_value(json_object_get(json_object_get(ten, "zohobooks"), "organizationId"));
    assert_non_null(id);
    snprintf(out, len, "%s", id);
    json_decref(ten);
}

/* One call to the Books API (rel: "contacts/<id>", "invoices?customer_id=..."). */
static int zapi(struct scn *s, const char *method, const char *rel, const char *body, json_t **out)
{
    char path[1200];
    snprintf(path, sizeof path, "/zohobooks/books/v3/%s%corganization_id=%s", rel,
             strchr(rel, '?') != NULL ? '&' : '?', s->tenant);
    return scn_http(s, method, path, body, out);
}

/* Every record of a list (rel without page parameters), all pages: a new array. */
static json_t *zlist(struct scn *s, const char *rel, const char *key)
{
    json_t *all = json_array();
    for (int page = 1; page < 100; page++) {
        char r[512];
        snprintf(r, sizeof r, "%s%cpage=%d&per_page=200", rel, strchr(rel, '?') != NULL ? '&' : '?',
                 page);
        json_t *j = NULL;
        int st = zapi(s, "GET", r, NULL, &j);
        if (st != 200)
            fail_msg("Zoho Books GET %s: %d", r, st);
        json_array_extend(all, json_object_get(j, key));
        bool more =
            json_is_true(json_object_get(json_object_get(j, "page_context"), "has_more_page"));
        json_decref(j);
        if (!more)
            return all;
    }
    fail_msg("too many Zoho Books %s", key);
    return NULL;
}

/* One record (GET <entity>/<id>, answer key key): new reference, NULL on 404. */
static json_t *zget(struct scn *s, const char *entity, const char *key, const char *id)
{
    char rel[128];
    snprintf(rel, sizeof rel, "%s/%s", entity, id);
    json_t *j = NULL;
    int st = zapi(s, "GET", rel, NULL, &j);
    if (st == 404) {
        json_decref(j);
        return NULL;
    }
    if (st != 200)
        fail_msg("Zoho Books GET %s: %d", rel, st);
    json_t *r = json_incref(json_object_get(j, key));
    json_decref(j);
    assert_non_null(r);
    return r;
}

/* True when a parsed answer carries Zoho's success envelope (code 0). */
static bool zok(const json_t *j)
{
    int64_t code = -1;
    return hs_json_i64(j, "code", &code, NULL) == HS_OK && code == 0;
}

/* A write that must answer 200 or 201 with code 0; the record's id_field into out. */
static void zwrite(struct scn *s, const char *method, const char *rel, const char *key,
                   const char *id_field, json_t *b, char *out, size_t len)
{
    struct hs_buf body;
    hs_buf_init(&body);
    assert_int_equal(hs_json_dump_exact(b, &body), HS_OK);
    json_t *j = NULL;
    int st = zapi(s, method, rel, body.data, &j);
    json_t *rec = json_object_get(j, key);
    if ((st != 200 && st != 201) || !zok(j) || rec == NULL)
        fail_msg("Zoho Books %s %s %s: %d %s", method, rel, body.data, st,
                 hs_json_str(j, "message") != NULL ? hs_json_str(j, "message") : "");
    if (out != NULL)
        snprintf(out, len, "%s", hs_json_str(rec, id_field));
    json_decref(j);
    hs_buf_release(&body);
}

static void zoho_create_customer(struct scn *s, const char *name, const char *currency,
                                 const char *email, char out[SCN_ID_MAX])
{
    json_t *b = json_pack("{s:s, s:s, s:s}", "contact_name", name, "contact_type", "customer",
                          "currency_code", currency != NULL ? currency : "USD");
    if (email != NULL)
        json_object_set_new(b, "email", json_string(email));
    zwrite(s, "POST", "contacts", "contact", "contact_id", b, out, SCN_ID_MAX);
    json_decref(b);
}

static json_t *zoho_contact(struct scn *s, const char *id)
{
    json_t *c = zget(s, "contacts", "contact", id);
    if (c == NULL)
        fail_msg("no Zoho Books contact '%s'", id);
    return c;
}

/* The primary contact person (is_primary_contact, else the first), NULL when none. */
static json_t *primary(const json_t *c)
{
    json_t *persons = json_object_get(c, "contact_persons");
    size_t i;
    json_t *p;
    json_array_foreach(persons, i, p)
    {
        if (json_is_true(json_object_get(p, "is_primary_contact")))
            return p;
    }
    return json_array_get(persons, 0);
}

static void zoho_edit_customer(struct scn *s, const char *id, const char *field, const char *value)
{
    json_t *c = zoho_contact(s, id);
    json_t *b = json_object();
    bool person = strcmp(field, "phone") == 0 || strcmp(field, "email") == 0;
    json_t *p = person ? primary(c) : NULL;
    if (p != NULL) {
        /* the list sent replaces the old one: every person, ids kept, the primary edited */
        json_t *persons = json_array();
        size_t i;
        json_t *q;
        json_array_foreach(json_object_get(c, "contact_persons"), i, q)
        {
            json_t *one =
                json_pack("{s:O}", "contact_person_id", json_object_get(q, "contact_person_id"));
            if (q == p)
                json_object_set_new(one, field, json_string(value));
            json_array_append_new(persons, one);
        }
        json_object_set_new(b, "contact_persons", persons);
    } else if (person || strcmp(field, "website") == 0) {
        json_object_set_new(b, field, json_string(value));
    } else if (strcmp(field, "display_name") == 0) {
        json_object_set_new(b, "contact_name", json_string(value));
    } else if (strcmp(field, "city") == 0) {
        json_object_set_new(b, "billing_address", json_pack("{s:s}", "city", value));
    } else {
        fail_msg("no Zoho Books field for '%s'", field);
    }
    char rel[96];
    snprintf(rel, sizeof rel, "contacts/%s", id);
    zwrite(s, "PUT", rel, "contact", "contact_id", b, NULL, 0);
    json_decref(b);
    json_decref(c);
}

static void zoho_customer_field(struct scn *s, const char *id, const char *field, char *out,
                                size_t len)
{
    json_t *c = zoho_contact(s, id);
    const json_t *p = primary(c);
    const char *v = NULL;
    if (strcmp(field, "phone") == 0 || strcmp(field, "email") == 0) {
        v = p != NULL ? hs_json_str(p, field) : NULL;
        if (v == NULL)
            v = hs_json_str(c, field);
    } else if (strcmp(field, "website") == 0) {
        v = hs_json_str(c, "website");
    } else if (strcmp(field, "display_name") == 0) {
        v = hs_json_str(c, "contact_name");
    } else if (strcmp(field, "city") == 0) {
        v = hs_json_str(json_object_get(c, "billing_address"), "city");
    } else {
        fail_msg("no Zoho Books field for '%s'", field);
    }
    snprintf(out, len, "%s", v != NULL ? v : "");
    json_decref(c);
}

static json_t *zoho_customers(struct scn *s)
{
    json_t *arr = zlist(s, "contacts", "contacts");
    json_t *out = json_object();
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        const char *type = hs_json_str(c, "contact_type");
        if (type == NULL || strcmp(type, "customer") == 0)
            json_object_set_new(out, hs_json_str(c, "contact_id"),
                                json_string(hs_json_str(c, "contact_name")));
    }
    json_decref(arr);
    return out;
}

static json_t *zoho_versions(struct scn *s)
{
    static const struct {
        const char *rel, *key, *id;
    } lists[] = {{"contacts", "contacts", "contact_id"},
                 {"items", "items", "item_id"},
                 {"invoices", "invoices", "invoice_id"},
                 {"customerpayments", "customerpayments", "payment_id"}};
    json_t *out = json_object();
    for (size_t e = 0; e < sizeof lists / sizeof lists[0]; e++) {
        json_t *arr = zlist(s, lists[e].rel, lists[e].key);
        size_t i;
        json_t *r;
        json_array_foreach(arr, i, r)
        {
            char key[96];
            snprintf(key, sizeof key, "%s/%s", lists[e].rel, hs_json_str(r, lists[e].id));
            const char *v = hs_json_str(r, "last_modified_time");
            if (v == NULL)
                fail_msg("Zoho Books %s without last_modified_time", key);
            json_object_set_new(out, key, json_string(v));
        }
        json_decref(arr);
    }
    return out;
}

/* The connector creates with PUT /contacts and PUT /invoices (upserts; no batch endpoint):
 * every read of that list and of its records is held too, only the answer waits. */
static void zoho_create_path(struct scn *s, enum hs_kind kind, char *out, size_t len)
{
    (void)s;
    snprintf(out, len, "/books/v3/%s", kind == HS_KIND_INVOICE ? "invoices" : "contacts");
}

/* True once the sandbox answered (and so committed) an upsert, the connector's create: the
 * count of PUT /books/v3/{entity} since the stall was set (the counters are reset then). */
static bool zoho_create_held(struct scn *s, enum hs_kind kind)
{
    (void)kind;
    json_t *j = NULL;
    assert_int_equal(scn_http(s, "GET", "/_sandbox/stats", NULL, &j), 200);
    json_t *eps =
        json_object_get(json_object_get(json_object_get(j, "providers"), "zohobooks"), "endpoints");
    int64_t n = 0;
    int rc = hs_json_i64(eps, "PUT /books/v3/{entity}", &n, NULL);
    json_decref(j);
    assert_true(rc == HS_OK || rc == HS_ENOTFOUND);
    return n > 0;
}

static size_t zoho_customers_named(struct scn *s, const char *name, char out[SCN_ID_MAX])
{
    json_t *arr = zlist(s, "contacts", "contacts");
    size_t n = 0;
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        const char *cn = hs_json_str(c, "contact_name");
        if (cn == NULL || strcmp(cn, name) != 0)
            continue;
        if (n++ == 0 && out != NULL)
            snprintf(out, SCN_ID_MAX, "%s", hs_json_str(c, "contact_id"));
    }
    json_decref(arr);
    return n;
}

static void zoho_invoice(struct scn *s, const char *id, struct scn_invoice *out)
{
    memset(out, 0, sizeof *out);
    json_t *inv = zget(s, "invoices", "invoice", id);
    if (inv == NULL)
        return;
    out->exists = true;
    const char *cur = hs_json_str(inv, "currency_code");
    snprintf(out->currency, sizeof out->currency, "%s", cur != NULL ? cur : "USD");
    out->total = scn_minor(hs_json_num_text(json_object_get(inv, "total")), out->currency);
    out->balance = scn_minor(hs_json_num_text(json_object_get(inv, "balance")), out->currency);
    const char *num = hs_json_str(inv, "invoice_number");
    snprintf(out->number, sizeof out->number, "%s", num != NULL ? num : "");
    const char *cust = hs_json_str(inv, "customer_id");
    snprintf(out->customer, sizeof out->customer, "%s", cust != NULL ? cust : "");
    json_decref(inv);
}

static size_t zoho_invoices_of(struct scn *s, const char *customer)
{
    char rel[160];
    snprintf(rel, sizeof rel, "invoices?customer_id=%s", customer);
    json_t *arr = zlist(s, rel, "invoices");
    size_t n = json_array_size(arr);
    json_decref(arr);
    return n;
}

/* A customer payment of amount applied to the invoice, dated the sandbox's (frozen) day. */
static void zoho_pay(struct scn *s, const char *invoice_id, int64_t amount)
{
    struct scn_invoice inv;
    zoho_invoice(s, invoice_id, &inv);
    assert_true(inv.exists);
    struct hs_money m;
    assert_int_equal(hs_money_from_minor(amount, inv.currency, &m, NULL), HS_OK);
    char amt[HS_MONEY_FMT_MAX];
    assert_true(hs_money_format(&m, amt, sizeof amt) > 0);
    time_t t = (time_t)(s->now / 1000);
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    char date[16];
    assert_true(strftime(date, sizeof date, "%Y-%m-%d", &tm) > 0);
    char body[512];
    snprintf(
        body, sizeof body,
        "{\"customer_id\":\"%s\",\"amount\":%s,\"date\":\"%s\",\"payment_mode\":\"banktransfer\","
        "\"invoices\":[{\"invoice_id\":\"%s\",\"amount_applied\":%s}]}",
        inv.customer, amt, date, invoice_id, amt);
    json_t *j = NULL;
    int st = zapi(s, "POST", "customerpayments", body, &j);
    if ((st != 200 && st != 201) || !zok(j))
        fail_msg("Zoho Books payment %s: %d %s", body, st,
                 hs_json_str(j, "message") != NULL ? hs_json_str(j, "message") : "");
    json_decref(j);
}

/* Every tax of the organization with its percentage, under its name; the code is its tax_id
 * (a line's tax_id), one component (Zoho's taxes have one rate; groups are not used). */
static void zoho_tax_codes(struct scn *s, struct hs_tax_map *m)
{
    json_t *taxes = zlist(s, "settings/taxes", "taxes");
    size_t i;
    json_t *t;
    json_array_foreach(taxes, i, t)
    {
        const char *pct = hs_json_num_text(json_object_get(t, "tax_percentage"));
        const char *id = hs_json_str(t, "tax_id");
        assert_non_null(pct);
        assert_non_null(id);
        struct hs_tax_code code;
        memset(&code, 0, sizeof code);
        snprintf(code.code, sizeof code.code, "%s", id);
        struct hs_tax_component *tc = &code.components[code.n_components++];
        snprintf(tc->rate_ref, sizeof tc->rate_ref, "%s", id);
        assert_int_equal(hs_decimal_parse_exact(pct, strlen(pct), &tc->percent, NULL), HS_OK);
        struct hs_error err;
        hs_error_clear(&err);
        if (hs_tax_map_add(m, hs_json_str(t, "tax_name"), &code, &err) != HS_OK)
            fail_msg("tax map: %s", err.msg);
    }
    json_decref(taxes);
    assert_true(hs_tax_map_count(m) >= 2);
}

static void zoho_add_person(struct scn *s, const char *id, const char *first, const char *last,
                            const char *email)
{
    json_t *b = json_pack("{s:s, s:s, s:s, s:s}", "contact_id", id, "first_name", first,
                          "last_name", last, "email", email);
    struct hs_buf body;
    hs_buf_init(&body);
    assert_int_equal(hs_json_dump_exact(b, &body), HS_OK);
    json_t *j = NULL;
    int st = zapi(s, "POST", "contacts/contactpersons", body.data, &j);
    if (st != 201 || !zok(j))
        fail_msg("Zoho Books POST contacts/contactpersons %s: %d", body.data, st);
    json_decref(j);
    hs_buf_release(&body);
    json_decref(b);
}

static json_t *zoho_persons(struct scn *s, const char *id)
{
    json_t *c = zoho_contact(s, id);
    json_t *out = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(c, "contact_persons"), i, p)
    {
        const char *f = hs_json_str(p, "first_name"), *l = hs_json_str(p, "last_name");
        const char *e = hs_json_str(p, "email");
        json_array_append_new(out,
                              json_pack("{s:s, s:s, s:s, s:b}", "first", f != NULL ? f : "", "last",
                                        l != NULL ? l : "", "email", e != NULL ? e : "", "primary",
                                        json_is_true(json_object_get(p, "is_primary_contact"))));
    }
    json_decref(c);
    return out;
}

const struct scn_acc scn_zoho = {
    .name = "zohobooks",
    .label = "Zoho Books",
    .ops = &hs_connector_zohobooks_ops,
    .settings = zoho_settings,
    .tenant = zoho_tenant,
    .create_customer = zoho_create_customer,
    .edit_customer = zoho_edit_customer,
    .customer_field = zoho_customer_field,
    .customers = zoho_customers,
    .create_path = zoho_create_path,
    .stall_ms = 2000,
    .create_held = zoho_create_held,
    .versions = zoho_versions,
    .customers_named = zoho_customers_named,
    .invoice = zoho_invoice,
    .invoices_of = zoho_invoices_of,
    .pay = zoho_pay,
    .tax_codes = zoho_tax_codes,
    .policy = hs_tax_policy_zoho,
    .add_person = zoho_add_person,
    .persons = zoho_persons,
    .edit_prop = "website",
    .edit_field = "website",
    .edit_before = "https://",
    .edit_after = ".example",
};
