/*
 * tests/integration/scenario_xero.c - the Xero row of struct scn_acc (scenario.h): contacts,
 *                                     invoices, payments and tax rates through Xero's own
 *                                     Accounting API against the sandbox.
 *
 * Design:     every call goes to <base>/xero/api.xro/2.0/<entity> with the Xero-tenant-id
 *             header of the seeded organisation (GET /_sandbox/tenants, "xero".tenantId), as a
 *             Xero app does. The row's own calls spell entities in lower case ("contacts"),
 *             which Xero accepts (paths are case-insensitive), while the connector spells them
 *             "Contacts": so create_path ("/api.xro/2.0/Contacts" or ".../Invoices") stalls the
 *             connector's requests and never the scenario's own polling. Xero has no version
 *             counter: a record's version is its UpdatedDateUTC, which every update moves (the
 *             sandbox's clock is frozen between passes and each pass moves it first).
 *             Amounts are read from their exact JSON text (scn_minor), never as doubles.
 * Not here:   the shared set-up and the QuickBooks row (scenario.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "connectors/xero/xero.h"
#include "core/money.h"
#include "scenario.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/jsonnum.h"

static json_t *xero_settings(struct scn *s)
{
    (void)s;
    return json_pack("{s:s, s:s}", "base_currency", "USD", "sales_account", "200");
}

static void xero_tenant(struct scn *s, char *out, size_t len)
{
    json_t *ten = NULL;
    assert_int_equal(scn_http(s, "GET", "/_sandbox/tenants", NULL, &ten), 200);
    const char *id = json_string_value(json_object_get(json_object_get(ten, "xero"), "tenantId"));
    assert_non_null(id);
    snprintf(out, len, "%s", id);
    json_decref(ten);
}

/* One call to the Accounting API (rel: "contacts/<id>", "invoices?ContactIDs=..."). */
static int xapi(struct scn *s, const char *method, const char *rel, const char *body, json_t **out)
{
    char path[1200];
    snprintf(path, sizeof path, "/xero/api.xro/2.0/%s", rel);
    return scn_http_hdr(s, method, path, "Xero-tenant-id", s->tenant, body, out);
}

/* The array named entity of a GET rel's answer (new reference; asserts 200). */
static json_t *xget(struct scn *s, const char *rel, const char *entity)
{
    json_t *j = NULL;
    int st = xapi(s, "GET", rel, NULL, &j);
    if (st != 200)
        fail_msg("Xero GET %s: %d", rel, st);
    json_t *arr = json_object_get(j, entity);
    json_t *out = json_is_array(arr) ? json_incref(arr) : json_array();
    json_decref(j);
    return out;
}

/* A write whose answer must be 200 with one OK element; that element's id field into out. */
static void xwrite(struct scn *s, const char *method, const char *rel, const char *entity,
                   const char *id_field, json_t *b, char *out, size_t len)
{
    struct hs_buf body;
    hs_buf_init(&body);
    assert_int_equal(hs_json_dump_exact(b, &body), HS_OK);
    json_t *j = NULL;
    int st = xapi(s, method, rel, body.data, &j);
    json_t *e = json_array_get(json_object_get(j, entity), 0);
    const char *ok = hs_json_str(e, "StatusAttributeString");
    if (st != 200 || e == NULL || (ok != NULL && strcmp(ok, "OK") != 0)) {
        char *ans = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
        fail_msg("Xero %s %s %s: %d %s", method, rel, body.data, st, ans != NULL ? ans : "");
    }
    if (out != NULL)
        snprintf(out, len, "%s", hs_json_str(e, id_field));
    json_decref(j);
    hs_buf_release(&body);
}

static void xero_create_customer(struct scn *s, const char *name, const char *currency,
                                 const char *email, char out[SCN_ID_MAX])
{
    json_t *c = json_pack("{s:s, s:s}", "Name", name, "DefaultCurrency",
                          currency != NULL ? currency : "USD");
    if (email != NULL)
        json_object_set_new(c, "EmailAddress", json_string(email));
    json_t *b = json_pack("{s:[o]}", "Contacts", c);
    xwrite(s, "PUT", "contacts", "Contacts", "ContactID", b, out, SCN_ID_MAX);
    json_decref(b);
}

/* The contact element setting one canonical field, as the Xero UI stores it. */
static json_t *xero_field(const char *field, const char *value)
{
    if (strcmp(field, "phone") == 0)
        return json_pack("{s:[{s:s, s:s}]}", "Phones", "PhoneType", "DEFAULT", "PhoneNumber",
                         value);
    if (strcmp(field, "website") == 0)
        return json_pack("{s:s}", "Website", value);
    if (strcmp(field, "email") == 0)
        return json_pack("{s:s}", "EmailAddress", value);
    if (strcmp(field, "display_name") == 0)
        return json_pack("{s:s}", "Name", value);
    fail_msg("no Xero field for '%s'", field);
    return NULL;
}

static json_t *xero_contact(struct scn *s, const char *id)
{
    char rel[96];
    snprintf(rel, sizeof rel, "contacts/%s", id);
    json_t *arr = xget(s, rel, "Contacts");
    json_t *c = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    if (c == NULL)
        fail_msg("no Xero contact '%s'", id);
    return c;
}

static void xero_edit_customer(struct scn *s, const char *id, const char *field, const char *value)
{
    json_t *c = xero_field(field, value);
    json_object_set_new(c, "ContactID", json_string(id));
    json_t *b = json_pack("{s:[o]}", "Contacts", c);
    char rel[96];
    snprintf(rel, sizeof rel, "contacts/%s", id);
    xwrite(s, "POST", rel, "Contacts", "ContactID", b, NULL, 0);
    json_decref(b);
}

/* The DEFAULT phone: country code, area code and number joined by spaces ("" when none). */
static void xero_phone(const json_t *c, char *out, size_t len)
{
    out[0] = '\0';
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(c, "Phones"), i, p)
    {
        const char *type = hs_json_str(p, "PhoneType");
        if (type == NULL || strcmp(type, "DEFAULT") != 0)
            continue;
        static const char *const parts[] = {"PhoneCountryCode", "PhoneAreaCode", "PhoneNumber"};
        size_t o = 0;
        for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
            const char *v = hs_json_str(p, parts[k]);
            if (v == NULL || v[0] == '\0' || o >= len)
                continue;
            int w = snprintf(out + o, len - o, "%s%s", o > 0 ? " " : "", v);
            o = w > 0 ? o + (size_t)w : o;
        }
        return;
    }
}

/* City of the billing (POBOX) address; NULL when none. */
static const char *xero_city(const json_t *c)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(c, "Addresses"), i, a)
    {
        const char *type = hs_json_str(a, "AddressType");
        if (type != NULL && strcmp(type, "POBOX") == 0)
            return hs_json_str(a, "City");
    }
    return NULL;
}

static void xero_customer_field(struct scn *s, const char *id, const char *field, char *out,
                                size_t len)
{
    json_t *c = xero_contact(s, id);
    const char *v = NULL;
    if (strcmp(field, "phone") == 0) {
        xero_phone(c, out, len);
        json_decref(c);
        return;
    }
    if (strcmp(field, "website") == 0)
        v = hs_json_str(c, "Website");
    else if (strcmp(field, "city") == 0)
        v = xero_city(c);
    else if (strcmp(field, "email") == 0)
        v = hs_json_str(c, "EmailAddress");
    else if (strcmp(field, "display_name") == 0)
        v = hs_json_str(c, "Name");
    else
        fail_msg("no Xero field for '%s'", field);
    snprintf(out, len, "%s", v != NULL ? v : "");
    json_decref(c);
}

static json_t *xero_customers(struct scn *s)
{
    json_t *arr = xget(s, "contacts?includeArchived=true", "Contacts");
    json_t *out = json_object();
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
        json_object_set_new(out, hs_json_str(c, "ContactID"), json_string(hs_json_str(c, "Name")));
    json_decref(arr);
    return out;
}

static json_t *xero_versions(struct scn *s)
{
    static const struct {
        const char *rel, *entity, *id;
    } lists[] = {{"contacts?includeArchived=true", "Contacts", "ContactID"},
                 {"items", "Items", "ItemID"},
                 {"invoices", "Invoices", "InvoiceID"},
                 {"payments", "Payments", "PaymentID"}};
    json_t *out = json_object();
    for (size_t e = 0; e < sizeof lists / sizeof lists[0]; e++) {
        json_t *arr = xget(s, lists[e].rel, lists[e].entity);
        size_t i;
        json_t *r;
        json_array_foreach(arr, i, r)
        {
            char key[96];
            snprintf(key, sizeof key, "%s/%s", lists[e].entity, hs_json_str(r, lists[e].id));
            const char *v = hs_json_str(r, "UpdatedDateUTC");
            assert_non_null(v);
            json_object_set_new(out, key, json_string(v));
        }
        json_decref(arr);
    }
    return out;
}

/* The connector creates contacts and invoices with POST /Contacts and POST /Invoices (Xero
 * has no batch endpoint); its reads of that list are held too, only the answer waits. */
static void xero_create_path(struct scn *s, enum hs_kind kind, char *out, size_t len)
{
    (void)s;
    snprintf(out, len, "/api.xro/2.0/%s", kind == HS_KIND_INVOICE ? "Invoices" : "Contacts");
}

static size_t xero_customers_named(struct scn *s, const char *name, char out[SCN_ID_MAX])
{
    char where[256], enc[768], rel[800];
    snprintf(where, sizeof where, "Name==\"%s\"", name);
    scn_url_encode(where, enc, sizeof enc);
    snprintf(rel, sizeof rel, "contacts?where=%s", enc);
    json_t *arr = xget(s, rel, "Contacts");
    size_t n = json_array_size(arr);
    if (n > 0 && out != NULL)
        snprintf(out, SCN_ID_MAX, "%s", hs_json_str(json_array_get(arr, 0), "ContactID"));
    json_decref(arr);
    return n;
}

static void xero_invoice(struct scn *s, const char *id, struct scn_invoice *out)
{
    memset(out, 0, sizeof *out);
    char rel[96];
    snprintf(rel, sizeof rel, "invoices/%s", id);
    json_t *j = NULL;
    int st = xapi(s, "GET", rel, NULL, &j);
    json_t *inv = st == 200 ? json_array_get(json_object_get(j, "Invoices"), 0) : NULL;
    if (inv == NULL) {
        json_decref(j);
        return;
    }
    out->exists = true;
    const char *cur = hs_json_str(inv, "CurrencyCode");
    snprintf(out->currency, sizeof out->currency, "%s", cur != NULL ? cur : "USD");
    out->total = scn_minor(hs_json_num_text(json_object_get(inv, "Total")), out->currency);
    out->balance = scn_minor(hs_json_num_text(json_object_get(inv, "AmountDue")), out->currency);
    const char *num = hs_json_str(inv, "InvoiceNumber");
    snprintf(out->number, sizeof out->number, "%s", num != NULL ? num : "");
    const char *cust = hs_json_str(json_object_get(inv, "Contact"), "ContactID");
    snprintf(out->customer, sizeof out->customer, "%s", cust != NULL ? cust : "");
    json_decref(j);
}

static size_t xero_invoices_of(struct scn *s, const char *customer)
{
    char rel[160];
    snprintf(rel, sizeof rel, "invoices?ContactIDs=%s", customer);
    json_t *arr = xget(s, rel, "Invoices");
    size_t n = json_array_size(arr);
    json_decref(arr);
    return n;
}

/* A payment into the bank account 090, dated the sandbox's (frozen) day. */
static void xero_pay(struct scn *s, const char *invoice_id, int64_t amount)
{
    struct scn_invoice inv;
    xero_invoice(s, invoice_id, &inv);
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
    snprintf(body, sizeof body,
             "{\"Payments\":[{\"Invoice\":{\"InvoiceID\":\"%s\"},\"Account\":{\"Code\":\"090\"},"
             "\"Amount\":%s,\"Date\":\"%s\"}]}",
             invoice_id, amt, date);
    json_t *j = NULL;
    int st = xapi(s, "PUT", "payments", body, &j);
    json_t *e = json_array_get(json_object_get(j, "Payments"), 0);
    const char *ok = hs_json_str(e, "StatusAttributeString");
    if (st != 200 || e == NULL || (ok != NULL && strcmp(ok, "OK") != 0))
        fail_msg("Xero payment %s: %d", body, st);
    json_decref(j);
}

/* Every active tax rate with at least one component, under its name; rate ids are the
 * components' own (Xero names them, it has no ids for them). */
static void xero_tax_codes(struct scn *s, struct hs_tax_map *m)
{
    json_t *rates = xget(s, "taxrates", "TaxRates");
    size_t i;
    json_t *r;
    json_array_foreach(rates, i, r)
    {
        json_t *comps = json_object_get(r, "TaxComponents");
        const char *status = hs_json_str(r, "Status");
        if (json_array_size(comps) == 0 || (status != NULL && strcmp(status, "ACTIVE") != 0))
            continue;
        struct hs_tax_code code;
        memset(&code, 0, sizeof code);
        snprintf(code.code, sizeof code.code, "%s", hs_json_str(r, "TaxType"));
        size_t k;
        json_t *c;
        json_array_foreach(comps, k, c)
        {
            if (code.n_components == HS_TAX_MAX_COMPONENTS)
                break;
            const char *pct = hs_json_num_text(json_object_get(c, "Rate"));
            assert_non_null(pct);
            struct hs_tax_component *tc = &code.components[code.n_components++];
            assert_int_equal(hs_decimal_parse_exact(pct, strlen(pct), &tc->percent, NULL), HS_OK);
        }
        struct hs_error err;
        hs_error_clear(&err);
        if (hs_tax_map_add(m, hs_json_str(r, "Name"), &code, &err) != HS_OK)
            fail_msg("tax map: %s", err.msg);
    }
    json_decref(rates);
    assert_true(hs_tax_map_count(m) >= 2);
}

/* A Xero user adds a person: the API takes the whole ContactPersons list (it replaces it), so
 * the persons already there are sent again with the new one. */
static void xero_add_person(struct scn *s, const char *id, const char *first, const char *last,
                            const char *email)
{
    json_t *c = xero_contact(s, id);
    json_t *list = json_deep_copy(json_object_get(c, "ContactPersons"));
    if (!json_is_array(list)) {
        json_decref(list);
        list = json_array();
    }
    json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:b}", "FirstName", first, "LastName",
                                          last, "EmailAddress", email, "IncludeInEmails", 1));
    json_t *b = json_pack("{s:[{s:s, s:o}]}", "Contacts", "ContactID", id, "ContactPersons", list);
    char rel[96];
    snprintf(rel, sizeof rel, "contacts/%s", id);
    xwrite(s, "POST", rel, "Contacts", "ContactID", b, NULL, 0);
    json_decref(b);
    json_decref(c);
}

/* The contact's own FirstName/LastName/EmailAddress (its primary person, when it has one),
 * then its ContactPersons. */
static json_t *xero_persons(struct scn *s, const char *id)
{
    json_t *c = xero_contact(s, id);
    json_t *out = json_array();
    const char *f = hs_json_str(c, "FirstName"), *l = hs_json_str(c, "LastName");
    const char *e = hs_json_str(c, "EmailAddress");
    if (f != NULL || l != NULL || e != NULL)
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:b}", "first", f != NULL ? f : "",
                                             "last", l != NULL ? l : "", "email",
                                             e != NULL ? e : "", "primary", 1));
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(c, "ContactPersons"), i, p)
    {
        f = hs_json_str(p, "FirstName");
        l = hs_json_str(p, "LastName");
        e = hs_json_str(p, "EmailAddress");
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:b}", "first", f != NULL ? f : "",
                                             "last", l != NULL ? l : "", "email",
                                             e != NULL ? e : "", "primary", 0));
    }
    json_decref(c);
    return out;
}

const struct scn_acc scn_xero = {
    .name = "xero",
    .label = "Xero",
    .ops = &hs_connector_xero_ops,
    .settings = xero_settings,
    .tenant = xero_tenant,
    .create_customer = xero_create_customer,
    .edit_customer = xero_edit_customer,
    .customer_field = xero_customer_field,
    .customers = xero_customers,
    .create_path = xero_create_path,
    /* one held read (the change feed) comes before the create: the create is seen ~5 s after
     * the fork, and its answer is held 5 s more, a margin for a loaded machine (2 s was not) */
    .stall_ms = 5000,
    .versions = xero_versions,
    .customers_named = xero_customers_named,
    .invoice = xero_invoice,
    .invoices_of = xero_invoices_of,
    .pay = xero_pay,
    .tax_codes = xero_tax_codes,
    .policy = hs_tax_policy_xero,
    .add_person = xero_add_person,
    .persons = xero_persons,
    .edit_prop = "city",
    .edit_field = "city",
    .edit_before = "",
    .edit_after = " Harbour",
};
