/*
 * cli/demo_acc.c - the accounting providers of `hoopsync demo`: QuickBooks, Xero, Zoho Books.
 *
 * Design:     one const row of struct hs_cli_demo_acc (demo_int.h) per provider: the
 *             connection's YAML (provider, scopes, settings), the invoicing block's tax
 *             lines, the tenant's key in /_sandbox/tenants, how the sandbox runs its limits,
 *             and the user-side calls the demo makes through the provider's own API (with
 *             the sandbox's static token, never hoopsync's): counting records, reading and
 *             editing a customer's field, reading an invoice, recording a payment. These are
 *             what a person would do in the provider's app; hoopsync's own calls go through
 *             the connectors, not through here.
 *             Limits: QuickBooks' windows (500 a minute, batches of 30) never slow the demo,
 *             so it runs them as published. Xero allows 60 calls a minute and Zoho Books 100
 *             (and has no batch endpoint): at the seeded sizes the demo would wait on them,
 *             so the sandbox runs their windows 60 times faster and the connection gets the
 *             same compressed windows through its `rate_limits` setting; the demo says so.
 * Invariants: every function prints why it failed and returns HS_CLI_EXIT_OK or _FAIL; ids
 *             that go into a path come from the sandbox's own answers or the store's links.
 * Ownership:  the rows are const; answers are freed before each function returns.
 * Not here:   the steps of the demo and its HubSpot calls (cmd_demo.c).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/demo_int.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/jsonnum.h"
#include "util/str.h"

#define QBO_MINOR     "minorversion=75"
#define ZOHO_PER_PAGE 200
#define MAX_PAGES     100 /* 20,000 records: more than the demo's sizes can make */

/* ---- shared ---------------------------------------------------------------------------- */

/* body's text with exact amounts (hs_json_number_text); NULL after printing why. */
static char *dump(struct hs_cli_demo *d, json_t *body)
{
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = body != NULL ? hs_json_dump_exact(body, &b) : HS_ENOMEM;
    json_decref(body);
    char *text = rc == HS_OK ? hs_buf_detach(&b) : NULL;
    hs_buf_release(&b);
    if (text == NULL)
        hs_cli_fail(d->cli, "out of memory");
    return text;
}

static void copy(char *out, size_t cap, const char *s)
{
    snprintf(out, cap, "%s", s != NULL ? s : "");
}

/* Today's date (UTC) as YYYY-MM-DD: the payment's date. */
static void today(char out[16])
{
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL || strftime(out, 16, "%Y-%m-%d", &tm) == 0)
        snprintf(out, 16, "2026-01-01");
}

static int money_or_fail(struct hs_cli_demo *d, const json_t *obj, const char *key, const char *cur,
                         const char *id, struct hs_money *out)
{
    if (hs_json_money(obj, key, cur != NULL ? cur : "USD", out, &d->err) != HS_OK)
        return hs_cli_fail(d->cli, "cannot read invoice '%s': %s", id,
                           d->err.msg[0] ? d->err.msg : "no total");
    return HS_CLI_EXIT_OK;
}

/* ---- QuickBooks Online: /v3/company/<realm>/..., SyncTokens, queries ----------------------- */

static json_t *qbo(struct hs_cli_demo *d, const char *method, const char *what, const char *body,
                   bool exact)
{
    char path[512];
    snprintf(path, sizeof path, "/quickbooks/v3/company/%s/%s%s" QBO_MINOR, d->tenant, what,
             strchr(what, '?') != NULL ? "&" : "?");
    return hs_cli_demo_call(d, method, path, NULL, NULL, body, exact);
}

static json_t *qbo_query(struct hs_cli_demo *d, const char *q)
{
    char *enc = hs_str_url_encode(q);
    if (enc == NULL) {
        hs_cli_fail(d->cli, "out of memory");
        return NULL;
    }
    char what[256];
    snprintf(what, sizeof what, "query?query=%s", enc);
    hs_free(enc);
    return qbo(d, "GET", what, NULL, false);
}

static int qbo_count(struct hs_cli_demo *d, enum hs_cli_demo_what what, long *out_n, char *first,
                     size_t cap)
{
    static const char *const entity[] = {"Customer", "Item", "Invoice"};
    char q[96];
    snprintf(q, sizeof q, "select count(*) from %s", entity[what]);
    json_t *v = qbo_query(d, q);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    *out_n = (long)json_integer_value(
        json_object_get(json_object_get(v, "QueryResponse"), "totalCount"));
    json_decref(v);
    if (first == NULL)
        return HS_CLI_EXIT_OK;
    snprintf(q, sizeof q, "select * from %s maxresults 1", entity[what]);
    if ((v = qbo_query(d, q)) == NULL)
        return HS_CLI_EXIT_FAIL;
    copy(first, cap,
         hs_json_str(
             json_array_get(json_object_get(json_object_get(v, "QueryResponse"), entity[what]), 0),
             "Id"));
    json_decref(v);
    return HS_CLI_EXIT_OK;
}

/* QuickBooks' object and member of each field (DisplayName has no member). */
static const struct {
    const char *obj;
    const char *sub;
} qbo_fields[] = {
    [HS_CLI_DEMO_NAME] = {"DisplayName", NULL},
    [HS_CLI_DEMO_PHONE] = {"PrimaryPhone", "FreeFormNumber"},
    [HS_CLI_DEMO_WEBSITE] = {"WebAddr", "URI"},
    [HS_CLI_DEMO_CITY] = {"BillAddr", "City"},
};

static json_t *qbo_customer(struct hs_cli_demo *d, const char *id)
{
    char what[128];
    snprintf(what, sizeof what, "customer/%s", id);
    return qbo(d, "GET", what, NULL, false);
}

static int qbo_customer_get(struct hs_cli_demo *d, const char *id, enum hs_cli_demo_field f,
                            char *out, size_t cap)
{
    json_t *v = qbo_customer(d, id);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    json_t *c = json_object_get(v, "Customer");
    copy(out, cap,
         qbo_fields[f].sub != NULL
             ? hs_json_str(json_object_get(c, qbo_fields[f].obj), qbo_fields[f].sub)
             : hs_json_str(c, qbo_fields[f].obj));
    json_decref(v);
    return HS_CLI_EXIT_OK;
}

/* A sparse update with the customer's current SyncToken. */
static int qbo_customer_set(struct hs_cli_demo *d, const char *id, enum hs_cli_demo_field f,
                            const char *value)
{
    json_t *cur = qbo_customer(d, id);
    if (cur == NULL)
        return HS_CLI_EXIT_FAIL;
    json_t *tok = json_object_get(json_object_get(cur, "Customer"), "SyncToken");
    if (tok == NULL || (f != HS_CLI_DEMO_PHONE && f != HS_CLI_DEMO_WEBSITE)) {
        json_decref(cur);
        return hs_cli_fail(d->cli, "cannot edit QuickBooks customer '%s': %s", id,
                           tok == NULL ? "no SyncToken" : "the demo edits no such field");
    }
    char *text = dump(d, json_pack("{s:s,s:O,s:b,s:{s:s}}", "Id", id, "SyncToken", tok, "sparse", 1,
                                   qbo_fields[f].obj, qbo_fields[f].sub, value));
    json_decref(cur);
    if (text == NULL)
        return HS_CLI_EXIT_FAIL;
    json_t *v = qbo(d, "POST", "customer", text, false);
    hs_free(text);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    json_decref(v);
    return HS_CLI_EXIT_OK;
}

static int qbo_invoice_read(struct hs_cli_demo *d, const char *id, struct hs_cli_demo_invoice *out)
{
    char what[128];
    snprintf(what, sizeof what, "invoice/%s", id);
    json_t *v = qbo(d, "GET", what, NULL, true);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    json_t *inv = json_object_get(v, "Invoice");
    const char *doc = hs_json_str(inv, "DocNumber");
    copy(out->number, sizeof out->number, doc != NULL ? doc : id);
    copy(out->customer, sizeof out->customer,
         hs_json_str(json_object_get(inv, "CustomerRef"), "value"));
    int rc =
        money_or_fail(d, inv, "TotalAmt", hs_json_str(json_object_get(inv, "CurrencyRef"), "value"),
                      id, &out->total);
    json_decref(v);
    return rc;
}

static int qbo_invoice_pay(struct hs_cli_demo *d, const char *id,
                           const struct hs_cli_demo_invoice *inv, const struct hs_money *amount)
{
    char amt[HS_MONEY_FMT_MAX];
    if (hs_money_format(amount, amt, sizeof amt) < 0)
        return hs_cli_fail(d->cli, "cannot pay invoice '%s': bad amount", id);
    char *text =
        dump(d, json_pack("{s:{s:s},s:{s:s},s:o,s:[{s:o,s:[{s:s,s:s}]}]}", "CustomerRef", "value",
                          inv->customer, "CurrencyRef", "value", amount->currency, "TotalAmt",
                          hs_json_number_text(amt), "Line", "Amount", hs_json_number_text(amt),
                          "LinkedTxn", "TxnId", id, "TxnType", "Invoice"));
    if (text == NULL)
        return HS_CLI_EXIT_FAIL;
    json_t *v = qbo(d, "POST", "payment", text, false);
    hs_free(text);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    json_decref(v);
    return HS_CLI_EXIT_OK;
}

static const struct hs_cli_demo_acc quickbooks = {
    .name = "quickbooks",
    .one_way = HS_CLI_DEMO_WEBSITE,
    .label = "QuickBooks",
    .tenant_key = "realmId",
    .tenant_word = "realm",
    .scopes = "[com.intuit.quickbooks.accounting]",
    .settings = "      income_account: \"2\"\n"
                "      home_currency: USD\n",
    .tax_yaml = "      tax_mode: none\n",
    .time_scale = 1, /* its windows never slow the demo: run as published (windows unused) */
    .count = qbo_count,
    .customer_get = qbo_customer_get,
    .customer_set = qbo_customer_set,
    .invoice_read = qbo_invoice_read,
    .invoice_pay = qbo_invoice_pay,
};

/* ---- Xero: /api.xro/2.0/<Entity>, the Xero-tenant-id header, arrays of elements ------------ */

static json_t *xero(struct hs_cli_demo *d, const char *method, const char *what, const char *body,
                    bool exact)
{
    char path[512];
    snprintf(path, sizeof path, "/xero/api.xro/2.0/%s", what);
    return hs_cli_demo_call(d, method, path, "Xero-tenant-id", d->tenant, body, exact);
}

static int xero_count(struct hs_cli_demo *d, enum hs_cli_demo_what what, long *out_n, char *first,
                      size_t cap)
{
    /* Contacts and Invoices are paged and say how many there are; Items come all at once */
    static const char *const list[] = {"Contacts?page=1&pageSize=1", "Items",
                                       "Invoices?page=1&pageSize=1"};
    json_t *v = xero(d, "GET", list[what], NULL, false);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    json_t *items = json_object_get(v, "Items");
    if (what == HS_CLI_DEMO_ITEMS)
        *out_n = (long)json_array_size(items);
    else
        *out_n = (long)json_integer_value(
            json_object_get(json_object_get(v, "pagination"), "itemCount"));
    if (first != NULL)
        copy(first, cap, hs_json_str(json_array_get(items, 0), "ItemID"));
    json_decref(v);
    return HS_CLI_EXIT_OK;
}

static json_t *xero_contact(struct hs_cli_demo *d, const char *id, json_t **out_contact)
{
    char what[128];
    snprintf(what, sizeof what, "Contacts/%s", id);
    json_t *v = xero(d, "GET", what, NULL, false);
    *out_contact = json_array_get(json_object_get(v, "Contacts"), 0);
    return v;
}

static int xero_customer_get(struct hs_cli_demo *d, const char *id, enum hs_cli_demo_field f,
                             char *out, size_t cap)
{
    json_t *c = NULL;
    json_t *v = xero_contact(d, id, &c);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    out[0] = '\0';
    if (f == HS_CLI_DEMO_NAME || f == HS_CLI_DEMO_WEBSITE) {
        copy(out, cap, hs_json_str(c, f == HS_CLI_DEMO_NAME ? "Name" : "Website"));
    } else if (f == HS_CLI_DEMO_CITY) {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(c, "Addresses"), i, a)
        {
            if (hs_str_eq(hs_json_str(a, "AddressType"), "POBOX"))
                copy(out, cap, hs_json_str(a, "City"));
        }
    } else {
        /* the DEFAULT phone: country code, area code and number joined by spaces */
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(c, "Phones"), i, p)
        {
            if (!hs_str_eq(hs_json_str(p, "PhoneType"), "DEFAULT"))
                continue;
            static const char *const parts[] = {"PhoneCountryCode", "PhoneAreaCode", "PhoneNumber"};
            for (size_t k = 0; k < 3; k++) {
                const char *s = hs_json_str(p, parts[k]);
                size_t l = strlen(out);
                if (s != NULL && s[0] != '\0' && l < cap)
                    snprintf(out + l, cap - l, "%s%s", l > 0 ? " " : "", s);
            }
        }
    }
    json_decref(v);
    return HS_CLI_EXIT_OK;
}

/*
 * A copy of the contact's list key (Phones, Addresses) whose element with type_key = type
 * (added when missing) has member = value; the other elements as they are, since Xero
 * replaces the whole list when it is sent. NULL when out of memory.
 */
static json_t *xero_list_with(const json_t *contact, const char *key, const char *type_key,
                              const char *type, const char *member, const char *value)
{
    json_t *list = json_deep_copy(json_object_get(contact, key));
    if (!json_is_array(list)) {
        json_decref(list);
        if ((list = json_array()) == NULL)
            return NULL;
    }
    json_t *el = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (hs_str_eq(hs_json_str(e, type_key), type))
            el = e;
    }
    if (el == NULL && json_array_append_new(list, el = json_pack("{s:s}", type_key, type)) != 0)
        el = NULL;
    if (el == NULL || json_object_set_new(el, member, json_string(value)) != 0) {
        json_decref(list);
        return NULL;
    }
    if (strcmp(key, "Phones") == 0) { /* the number as typed: no separate codes */
        json_object_del(el, "PhoneCountryCode");
        json_object_del(el, "PhoneAreaCode");
    }
    return list;
}

/*
 * POST /Contacts/{id}: Xero changes only the fields sent. The phone is the DEFAULT one and
 * the city the POBOX (billing) address's; Website is read-only in Xero's API (the sandbox
 * ignores it as Xero does), so the demo never edits it there.
 */
static int xero_customer_set(struct hs_cli_demo *d, const char *id, enum hs_cli_demo_field f,
                             const char *value)
{
    if (f != HS_CLI_DEMO_PHONE && f != HS_CLI_DEMO_CITY)
        return hs_cli_fail(d->cli, "cannot edit Xero contact '%s': the demo edits no such field",
                           id);
    json_t *c = NULL;
    json_t *cur = xero_contact(d, id, &c);
    if (cur == NULL)
        return HS_CLI_EXIT_FAIL;
    const char *key = f == HS_CLI_DEMO_PHONE ? "Phones" : "Addresses";
    json_t *list = f == HS_CLI_DEMO_PHONE
                       ? xero_list_with(c, key, "PhoneType", "DEFAULT", "PhoneNumber", value)
                       : xero_list_with(c, key, "AddressType", "POBOX", "City", value);
    json_decref(cur);
    char *text =
        dump(d, list != NULL ? json_pack("{s:[{s:s,s:o}]}", "Contacts", "ContactID", id, key, list)
                             : NULL);
    if (text == NULL)
        return HS_CLI_EXIT_FAIL;
    char what[128];
    snprintf(what, sizeof what, "Contacts/%s", id);
    json_t *v = xero(d, "POST", what, text, false);
    hs_free(text);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    json_decref(v);
    return HS_CLI_EXIT_OK;
}

static int xero_invoice_read(struct hs_cli_demo *d, const char *id, struct hs_cli_demo_invoice *out)
{
    char what[128];
    snprintf(what, sizeof what, "Invoices/%s", id);
    json_t *v = xero(d, "GET", what, NULL, true);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    json_t *inv = json_array_get(json_object_get(v, "Invoices"), 0);
    const char *num = hs_json_str(inv, "InvoiceNumber");
    copy(out->number, sizeof out->number, num != NULL ? num : id);
    copy(out->customer, sizeof out->customer,
         hs_json_str(json_object_get(inv, "Contact"), "ContactID"));
    int rc = money_or_fail(d, inv, "Total", hs_json_str(inv, "CurrencyCode"), id, &out->total);
    json_decref(v);
    return rc;
}

/* PUT /Payments into the bank account 090, with per-element results. */
static int xero_invoice_pay(struct hs_cli_demo *d, const char *id,
                            const struct hs_cli_demo_invoice *inv, const struct hs_money *amount)
{
    (void)inv;
    char amt[HS_MONEY_FMT_MAX], date[16];
    if (hs_money_format(amount, amt, sizeof amt) < 0)
        return hs_cli_fail(d->cli, "cannot pay invoice '%s': bad amount", id);
    today(date);
    char *text = dump(d, json_pack("{s:[{s:{s:s},s:{s:s},s:s,s:o}]}", "Payments", "Invoice",
                                   "InvoiceID", id, "Account", "Code", "090", "Date", date,
                                   "Amount", hs_json_number_text(amt)));
    if (text == NULL)
        return HS_CLI_EXIT_FAIL;
    json_t *v = xero(d, "PUT", "Payments?summarizeErrors=false", text, false);
    hs_free(text);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    json_t *el = json_array_get(json_object_get(v, "Payments"), 0);
    int rc = HS_CLI_EXIT_OK;
    if (!hs_str_eq(hs_json_str(el, "StatusAttributeString"), "OK")) {
        const char *why =
            hs_json_str(json_array_get(json_object_get(el, "ValidationErrors"), 0), "Message");
        rc = hs_cli_fail(d->cli, "cannot pay Xero invoice '%s': %s", id,
                         why != NULL ? why : "refused");
    }
    json_decref(v);
    return rc;
}

static const struct hs_cli_demo_acc xero_acc = {
    .name = "xero",
    .one_way = HS_CLI_DEMO_CITY, /* Website is read-only in Xero's API */
    .label = "Xero",
    .tenant_key = "tenantId",
    .tenant_word = "organisation",
    .scopes = "[offline_access, accounting.transactions, accounting.contacts, "
              "accounting.settings.read]",
    .settings = "",
    .tax_yaml = "      tax_mode: none\n",
    .time_scale = 60,
    .windows = {{"all", 60, 60000}, {"day", 5000, 86400000}},
    .count = xero_count,
    .customer_get = xero_customer_get,
    .customer_set = xero_customer_set,
    .invoice_read = xero_invoice_read,
    .invoice_pay = xero_invoice_pay,
};

/* ---- Zoho Books: /books/v3/<entity>?organization_id=..., one record per call ---------------- */

static json_t *zoho(struct hs_cli_demo *d, const char *method, const char *what, const char *body,
                    bool exact)
{
    char path[512];
    snprintf(path, sizeof path, "/zohobooks/books/v3/%s%sorganization_id=%s", what,
             strchr(what, '?') != NULL ? "&" : "?", d->tenant);
    return hs_cli_demo_call(d, method, path, NULL, NULL, body, exact);
}

/* Zoho's lists say no total: the pages are counted (200 a page). */
static int zoho_count(struct hs_cli_demo *d, enum hs_cli_demo_what what, long *out_n, char *first,
                      size_t cap)
{
    static const char *const list[] = {"contacts", "items", "invoices"};
    static const char *const id_key[] = {"contact_id", "item_id", "invoice_id"};
    *out_n = 0;
    if (first != NULL)
        first[0] = '\0';
    for (int page = 1; page <= MAX_PAGES; page++) {
        char what_[96];
        snprintf(what_, sizeof what_, "%s?page=%d&per_page=%d", list[what], page, ZOHO_PER_PAGE);
        json_t *v = zoho(d, "GET", what_, NULL, false);
        if (v == NULL)
            return HS_CLI_EXIT_FAIL;
        json_t *recs = json_object_get(v, list[what]);
        *out_n += (long)json_array_size(recs);
        if (first != NULL && first[0] == '\0')
            copy(first, cap, hs_json_str(json_array_get(recs, 0), id_key[what]));
        bool more =
            json_is_true(json_object_get(json_object_get(v, "page_context"), "has_more_page"));
        json_decref(v);
        if (!more)
            break;
    }
    return HS_CLI_EXIT_OK;
}

static json_t *zoho_contact(struct hs_cli_demo *d, const char *id, json_t **out_contact)
{
    char what[128];
    snprintf(what, sizeof what, "contacts/%s", id);
    json_t *v = zoho(d, "GET", what, NULL, false);
    *out_contact = json_object_get(v, "contact");
    return v;
}

/* The primary person (is_primary_contact, else the first): whose phone the contact's is. */
static json_t *zoho_primary(json_t *contact)
{
    json_t *persons = json_object_get(contact, "contact_persons");
    size_t i;
    json_t *p;
    json_array_foreach(persons, i, p)
    {
        if (json_is_true(json_object_get(p, "is_primary_contact")))
            return p;
    }
    return json_array_get(persons, 0);
}

static int zoho_customer_get(struct hs_cli_demo *d, const char *id, enum hs_cli_demo_field f,
                             char *out, size_t cap)
{
    json_t *c = NULL;
    json_t *v = zoho_contact(d, id, &c);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    const char *s = NULL;
    if (f == HS_CLI_DEMO_PHONE) {
        json_t *p = zoho_primary(c);
        s = p != NULL ? hs_json_str(p, "phone") : hs_json_str(c, "phone");
    } else if (f == HS_CLI_DEMO_CITY) {
        s = hs_json_str(json_object_get(c, "billing_address"), "city");
    } else {
        s = hs_json_str(c, f == HS_CLI_DEMO_NAME ? "contact_name" : "website");
    }
    copy(out, cap, s);
    json_decref(v);
    return HS_CLI_EXIT_OK;
}

/*
 * The body that gives the primary person the phone value: every person sent back by id
 * (the list sent replaces the old one), or the contact's own phone when it has no person.
 */
static json_t *zoho_phone_body(const json_t *primary, const json_t *persons, const char *value)
{
    if (primary == NULL)
        return json_pack("{s:s}", "phone", value);
    json_t *out = json_array();
    if (out == NULL)
        return NULL;
    size_t i;
    json_t *p;
    json_array_foreach(persons, i, p)
    {
        const char *pid = hs_json_str(p, "contact_person_id");
        json_t *el = p == primary
                         ? json_pack("{s:s?,s:s}", "contact_person_id", pid, "phone", value)
                         : json_pack("{s:s?}", "contact_person_id", pid);
        if (json_array_append_new(out, el) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return json_pack("{s:o}", "contact_persons", out);
}

/*
 * PUT /contacts/{id}. The phone is the primary person's: the persons are sent back by id
 * (the list sent replaces the old one) with the primary's new phone.
 */
static int zoho_customer_set(struct hs_cli_demo *d, const char *id, enum hs_cli_demo_field f,
                             const char *value)
{
    json_t *body = NULL;
    if (f == HS_CLI_DEMO_NAME || f == HS_CLI_DEMO_WEBSITE) {
        body = json_pack("{s:s}", f == HS_CLI_DEMO_WEBSITE ? "website" : "contact_name", value);
    } else if (f == HS_CLI_DEMO_CITY) {
        json_t *c = NULL;
        json_t *v = zoho_contact(d, id, &c);
        if (v == NULL)
            return HS_CLI_EXIT_FAIL;
        json_t *addr = json_deep_copy(json_object_get(c, "billing_address"));
        json_decref(v);
        if (!json_is_object(addr)) {
            json_decref(addr);
            addr = json_object();
        }
        if (addr != NULL && json_object_set_new(addr, "city", json_string(value)) == 0)
            body = json_pack("{s:o}", "billing_address", addr);
        else
            json_decref(addr);
    } else {
        json_t *c = NULL;
        json_t *v = zoho_contact(d, id, &c);
        if (v == NULL)
            return HS_CLI_EXIT_FAIL;
        body = zoho_phone_body(zoho_primary(c), json_object_get(c, "contact_persons"), value);
        json_decref(v);
    }
    char *text = dump(d, body);
    if (text == NULL)
        return HS_CLI_EXIT_FAIL;
    char what[128];
    snprintf(what, sizeof what, "contacts/%s", id);
    json_t *v = zoho(d, "PUT", what, text, false);
    hs_free(text);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    json_decref(v);
    return HS_CLI_EXIT_OK;
}

static int zoho_invoice_read(struct hs_cli_demo *d, const char *id, struct hs_cli_demo_invoice *out)
{
    char what[128];
    snprintf(what, sizeof what, "invoices/%s", id);
    json_t *v = zoho(d, "GET", what, NULL, true);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    json_t *inv = json_object_get(v, "invoice");
    const char *num = hs_json_str(inv, "invoice_number");
    copy(out->number, sizeof out->number, num != NULL ? num : id);
    copy(out->customer, sizeof out->customer, hs_json_str(inv, "customer_id"));
    int rc = money_or_fail(d, inv, "total", hs_json_str(inv, "currency_code"), id, &out->total);
    json_decref(v);
    return rc;
}

/* POST /customerpayments: the customer's payment, applied to the one invoice. */
static int zoho_invoice_pay(struct hs_cli_demo *d, const char *id,
                            const struct hs_cli_demo_invoice *inv, const struct hs_money *amount)
{
    char amt[HS_MONEY_FMT_MAX], date[16];
    if (hs_money_format(amount, amt, sizeof amt) < 0)
        return hs_cli_fail(d->cli, "cannot pay invoice '%s': bad amount", id);
    today(date);
    char *text = dump(d, json_pack("{s:s,s:o,s:s,s:[{s:s,s:o}]}", "customer_id", inv->customer,
                                   "amount", hs_json_number_text(amt), "date", date, "invoices",
                                   "invoice_id", id, "amount_applied", hs_json_number_text(amt)));
    if (text == NULL)
        return HS_CLI_EXIT_FAIL;
    json_t *v = zoho(d, "POST", "customerpayments", text, false);
    hs_free(text);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    json_decref(v);
    return HS_CLI_EXIT_OK;
}

static const struct hs_cli_demo_acc zohobooks = {
    .name = "zohobooks",
    .one_way = HS_CLI_DEMO_WEBSITE,
    .label = "Zoho Books",
    .tenant_key = "organizationId",
    .tenant_word = "organization",
    .scopes = "[ZohoBooks.fullaccess.all]",
    .settings = "",
    .tax_yaml = "      tax_mode: none\n",
    .time_scale = 60,
    .windows = {{"all", 100, 60000}, {"day", 10000, 86400000}},
    .count = zoho_count,
    .customer_get = zoho_customer_get,
    .customer_set = zoho_customer_set,
    .invoice_read = zoho_invoice_read,
    .invoice_pay = zoho_invoice_pay,
};

const struct hs_cli_demo_acc *const hs_cli_demo_accs[HS_CLI_DEMO_N_ACC] = {&quickbooks, &xero_acc,
                                                                           &zohobooks};
