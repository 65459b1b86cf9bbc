/*
 * connectors/zohobooks/zohobooks_parse.c - Zoho Books API v3 JSON <-> canonical records.
 *
 * Design:     no I/O: bytes in, structs out, and records in, bodies out. Answers are parsed
 *             with hs_json_parse_exact, so every amount, quantity and rate is read from its
 *             exact text (never a double) at the currency's exponent:
 *               contact   contact_name, the primary contact person's (is_primary_contact, else
 *                         the first; else the contact's own) first_name, last_name, email and
 *                         phone (the CRM contact), website, billing_address /
 *                         shipping_address, tax_reg_no, currency_code, status
 *               item      name, sku, description, rate (base currency), status, tax_id
 *               invoice   invoice_number, customer_id, currency_code, date, due_date,
 *                         is_inclusive_tax, line_items (item_id, description or name, rate,
 *                         quantity, discount "10%", tax_id, item_total, line_item_taxes),
 *                         tax_total, total, payment_made, balance, reference_number, status
 *               payment   customer_id, date, amount, currency_code, reference_number,
 *                         invoices[] (invoice_id, amount_applied)
 *             A line's canonical amount is Zoho's item_total, which is net when exclusive and
 *             gross when is_inclusive_tax, as the canonical model defines it. The canonical
 *             subtotal is net: Zoho shows the inclusive sub_total gross, so an inclusive
 *             invoice's subtotal is total - tax_total. Rates with more decimals than the
 *             currency are rounded half up, the only rounding on read.
 *             Writing builds the body from the record; an update keeps only the fields the
 *             changed paths map to (table per kind), as Zoho updates only what is sent. The
 *             contact persons list is sent on create only: sent with an update it replaces the
 *             contact's persons, deleting the others. An update of the CRM contact goes to the
 *             one person we own, by its id (hs_zoho_conn_build_person), and only on a contact
 *             we created (hs_zoho_conn_owned); any other contact's persons are marked unsynced
 *             in the record's meta and never written.
 * Invariants: every record returned passes hs_record_validate.
 * Ownership:  see zohobooks_int.h.
 */
#include <stdio.h>
#include <string.h>

#include "connectors/common/build.h"
#include "connectors/common/fields.h"
#include "connectors/zohobooks/zohobooks_int.h"
#include "core/currency.h"
#include "core/merge.h"
#include "util/alloc.h"
#include "util/civil.h"
#include "util/jsonnum.h"
#include "util/str.h"

#define MAX_ID_LEN 64

/* ---- small helpers --------------------------------------------------------------------- */

const char *hs_zoho_conn_entity(enum hs_kind kind)
{
    switch (kind) {
    case HS_KIND_CUSTOMER:
        return "contacts";
    case HS_KIND_ITEM:
        return "items";
    case HS_KIND_INVOICE:
        return "invoices";
    case HS_KIND_PAYMENT:
        return "customerpayments";
    default:
        return NULL;
    }
}

const char *hs_zoho_conn_single(enum hs_kind kind)
{
    switch (kind) {
    case HS_KIND_CUSTOMER:
        return "contact";
    case HS_KIND_ITEM:
        return "item";
    case HS_KIND_INVOICE:
        return "invoice";
    case HS_KIND_PAYMENT:
        return "payment";
    default:
        return NULL;
    }
}

/* The list key: Zoho lists payments under "customerpayments". */
static const char *id_field(enum hs_kind kind)
{
    switch (kind) {
    case HS_KIND_CUSTOMER:
        return "contact_id";
    case HS_KIND_ITEM:
        return "item_id";
    case HS_KIND_INVOICE:
        return "invoice_id";
    default:
        return "payment_id";
    }
}

static const char *jstr(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) && (json_string_length(v) == 0 || json_string_value(v)[0] != '\x01')
               ? json_string_value(v)
               : NULL;
}

/* A non-empty string, or NULL. */
static const char *jtext(const json_t *o, const char *key)
{
    const char *s = jstr(o, key);
    return s != NULL && s[0] != '\0' ? s : NULL;
}

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int hs_zoho_conn_time_parse(const char *s, size_t len, int64_t *out_ms)
{
    int y, mo, d, h, mi, sec;
    if (s == NULL || len < 19 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return HS_EINVAL;
    struct hs_date dt = {(int16_t)y, (int8_t)mo, (int8_t)d};
    if (!hs_date_valid(dt) || h > 23 || mi > 59 || sec > 59)
        return HS_EINVAL;
    size_t i = 19;
    int off = 0;
    if (i < len && s[i] == 'Z') {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        bool colon = len - i == 6 && s[i + 3] == ':';
        if (!(len - i == 5 || colon) || !digits(s + i + 1, 2, &oh) ||
            !digits(s + i + (colon ? 4 : 3), 2, &om) || oh > 23 || om > 59)
            return HS_EINVAL;
        off = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i = len;
    }
    if (i != len)
        return HS_EINVAL;
    *out_ms =
        ((hs_days_from_civil(y, mo, d) * 86400) + h * 3600 + mi * 60 + sec - (int64_t)off * 60) *
        1000;
    return HS_OK;
}

void hs_zoho_conn_time_format(int64_t ms, char out[32])
{
    int64_t s = ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
    int64_t days = s / 86400 - (s % 86400 < 0 ? 1 : 0);
    int64_t rem = s - days * 86400;
    int64_t y, m, d;
    hs_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999;
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d+0000", (int)y, (int)m, (int)d,
             (int)(rem / 3600), (int)(rem % 3600 / 60), (int)(rem % 60));
}

static int64_t updated_ms(const json_t *obj)
{
    const char *t = jstr(obj, "last_modified_time");
    int64_t ms = 0;
    if (t == NULL || hs_zoho_conn_time_parse(t, strlen(t), &ms) != HS_OK)
        return 0;
    return ms;
}

static int get_date(const json_t *o, const char *key, struct hs_date *out, struct hs_error *err)
{
    const char *s = jtext(o, key);
    if (s == NULL)
        return HS_OK;
    if (strlen(s) < 10 || hs_date_parse(s, 10, out, NULL) != HS_OK)
        return hs_error_set(err, HS_EPROTO, "field '%s': invalid date '%.32s'", key, s);
    return HS_OK;
}

static int as_proto(struct hs_error *err)
{
    if (err != NULL)
        err->code = HS_EPROTO;
    return HS_EPROTO;
}

/* Exact amount (trailing zeros beyond the currency allowed); absent stays absent. */
static int get_money(const json_t *o, const char *key, const char *cur, struct hs_money *out,
                     struct hs_error *err)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v))
        return HS_OK;
    const char *text = hs_json_num_text(v);
    if (text == NULL && json_is_string(v) && json_string_length(v) > 0)
        text = json_string_value(v); /* the specs type some amounts as strings */
    if (text == NULL)
        return hs_error_set(err, HS_EPROTO, "field '%s': expected a number", key);
    struct hs_money m;
    if (hs_money_parse_exact(text, strlen(text), cur, &m, err) != HS_OK) {
        hs_error_prefix(err, "field '%s'", key);
        return as_proto(err);
    }
    *out = m;
    return HS_OK;
}

/* A rate: exact when it fits the currency, else rounded half up. */
static int get_price(const json_t *o, const char *key, const char *cur, struct hs_money *out,
                     struct hs_error *err)
{
    const char *text = hs_json_num_text(json_object_get(o, key));
    if (text == NULL)
        return get_money(o, key, cur, out, err);
    if (hs_money_parse(text, strlen(text), cur, HS_ROUND_HALF_UP, out, err) != HS_OK) {
        hs_error_prefix(err, "field '%s'", key);
        return as_proto(err);
    }
    return HS_OK;
}

static int get_decimal(const json_t *o, const char *key, struct hs_decimal *out, bool *has,
                       struct hs_error *err)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v))
        return HS_OK;
    const char *text = hs_json_num_text(v);
    if (text == NULL || hs_decimal_parse(text, strlen(text), HS_ROUND_HALF_UP, out, err) != HS_OK)
        return hs_error_set(err, HS_EPROTO, "field '%s': expected a decimal number", key);
    *has = true;
    return HS_OK;
}

static void set_country(char out[3], const char *s)
{
    out[0] = '\0';
    if (s == NULL || strlen(s) != 2)
        return;
    if (((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z') &&
        ((s[1] | 0x20) >= 'a' && (s[1] | 0x20) <= 'z')) {
        out[0] = (char)(s[0] & ~0x20);
        out[1] = (char)(s[1] & ~0x20);
        out[2] = '\0';
    }
}

static void set_currency(char out[4], const char *code)
{
    out[0] = '\0';
    if (code != NULL && strlen(code) == 3 && hs_currency_find(code) != NULL)
        memcpy(out, code, 4);
}

static const char *currency_of(const char *code, const struct hs_zoho_opts *zo,
                               struct hs_error *err)
{
    if (code == NULL || code[0] == '\0')
        return zo->base_currency;
    if (strlen(code) != 3 || hs_currency_find(code) == NULL) {
        hs_error_set(err, HS_EPROTO, "field 'currency_code': unknown currency '%.8s'", code);
        return NULL;
    }
    return code;
}

/* ---- field names (describe_fields) ------------------------------------------------------- */

/* What parse_customer, parse_address and parse_item below read: the names hoopsync.yaml's
 * `mappings:` may use for Zoho Books fields. first_name, last_name, email and phone are the
 * primary contact person's (the contact's own when it has no persons), as Zoho shows them on
 * the contact. tests/unit/test_conn_fields_zohobooks.c proves every row against those functions and
 * that every field they fill has a row. Invoices and payments are built by the invoice step:
 * no names here. */
#define C HS_KIND_CUSTOMER
#define I HS_KIND_ITEM
static const struct hs_conn_field_row field_rows[] = {
    {C, "contact_name", "display_name"},
    {C, "first_name", "given_name"},
    {C, "last_name", "family_name"},
    {C, "email", "email"},
    {C, "phone", "phone"},
    {C, "website", "website"},
    {C, "tax_reg_no", "tax_id"},
    {C, "billing_address.address", "billing_address.line1"},
    {C, "billing_address.street2", "billing_address.line2"},
    {C, "billing_address.city", "billing_address.city"},
    {C, "billing_address.state", "billing_address.region"},
    {C, "billing_address.zip", "billing_address.postcode"},
    {C, "billing_address.country", "billing_address.country"},
    {C, "shipping_address.address", "shipping_address.line1"},
    {C, "shipping_address.street2", "shipping_address.line2"},
    {C, "shipping_address.city", "shipping_address.city"},
    {C, "shipping_address.state", "shipping_address.region"},
    {C, "shipping_address.zip", "shipping_address.postcode"},
    {C, "shipping_address.country", "shipping_address.country"},
    {C, "currency_code", "currency"},
    {C, "status", "active"},
    {I, "name", "name"},
    {I, "sku", "sku"},
    {I, "description", "description"},
    {I, "rate", "unit_price"},
    {I, "tax_id", "taxable"},
    {I, "status", "active"},
};
#undef C
#undef I

int hs_zoho_conn_describe_fields(const void *settings, enum hs_kind kind,
                                 struct hs_field_names *out, struct hs_error *err)
{
    (void)settings; /* no setting renames a field */
    return hs_conn_fields_add_rows(out, field_rows, sizeof field_rows / sizeof field_rows[0], kind,
                                   "Zoho Books", err);
}

/* ---- records ------------------------------------------------------------------------------ */

static int parse_address(const json_t *a, struct hs_address *out)
{
    int rc = hs_conn_set_str(&out->line1, jtext(a, "address"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&out->line2, jtext(a, "street2"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&out->city, jtext(a, "city"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&out->region, jtext(a, "state"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&out->postcode, jtext(a, "zip"));
    set_country(out->country, jtext(a, "country"));
    return rc;
}

static const json_t *primary_person(const json_t *o)
{
    const json_t *persons = json_object_get(o, "contact_persons");
    size_t i;
    const json_t *p;
    json_array_foreach(persons, i, p)
    {
        if (json_is_true(json_object_get(p, "is_primary_contact")))
            return p;
    }
    return json_array_get(persons, 0);
}

bool hs_zoho_conn_owned(const json_t *contact, const struct hs_zoho_opts *zo)
{
    const char *key = zo != NULL ? zo->unique_field : NULL;
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(contact, "custom_fields"), i, f)
    {
        const char *v = jtext(f, "value");
        if (key != NULL && hs_str_eq(jstr(f, "api_name"), key) && v != NULL && v[0] != '\0')
            return true;
    }
    return false;
}

static int parse_customer(const json_t *o, struct hs_record *r, const struct hs_zoho_opts *zo)
{
    struct hs_customer *c = &r->customer;
    const json_t *person = primary_person(o);
    const json_t *src = person != NULL ? person : o;
    int rc = hs_conn_set_str(&c->display_name, jstr(o, "contact_name"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->given_name, jtext(src, "first_name"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->family_name, jtext(src, "last_name"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->email,
                             jtext(src, "email") != NULL ? jtext(src, "email") : jtext(o, "email"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->phone,
                             jtext(src, "phone") != NULL ? jtext(src, "phone") : jtext(o, "phone"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->website, jtext(o, "website"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->tax_id, jtext(o, "tax_reg_no"));
    if (rc == HS_OK && json_is_object(json_object_get(o, "billing_address")))
        rc = parse_address(json_object_get(o, "billing_address"), &c->billing_address);
    if (rc == HS_OK && json_is_object(json_object_get(o, "shipping_address")))
        rc = parse_address(json_object_get(o, "shipping_address"), &c->shipping_address);
    set_currency(c->currency, jtext(o, "currency_code"));
    const char *status = jstr(o, "status");
    if (hs_str_eq(status, "active"))
        c->active = HS_TRI_TRUE;
    else if (status != NULL)
        c->active = HS_TRI_FALSE;
    const char *pid = jtext(person, "contact_person_id");
    if (rc == HS_OK && pid != NULL && strlen(pid) <= MAX_ID_LEN)
        rc = hs_fields_set(&r->meta, HS_ZOHO_META_PERSON, pid);
    const char *first = jtext(person, "first_name");
    if (rc == HS_OK && pid != NULL && first != NULL)
        rc = hs_fields_set(&r->meta, HS_ZOHO_META_FIRST, first);
    /* a contact we did not create: its persons are the accounts team's (the primary one is
     * its billing contact); none is the CRM contact: names and email are neither written nor
     * taken into the CRM contact. The phone is the contact's own (Zoho shows the primary
     * person's phone as the contact's): it syncs, written to that person's phone alone; a
     * contact without a person has nowhere to take it (the update of a contact has no phone) */
    bool owned = hs_zoho_conn_owned(o, zo);
    if (rc == HS_OK && !owned)
        rc = hs_fields_set(&r->meta, HS_META_UNSYNCED, HS_ZOHO_PERSON_PATHS);
    if (rc == HS_OK && !owned && person == NULL)
        rc = hs_fields_set(&r->meta, HS_META_READ_ONLY, "phone");
    return rc;
}

static int parse_item(const json_t *o, struct hs_record *r, const struct hs_zoho_opts *zo,
                      struct hs_error *err)
{
    struct hs_item *it = &r->item;
    int rc = hs_conn_set_str(&it->name, jstr(o, "name"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&it->sku, jtext(o, "sku"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&it->description, jtext(o, "description"));
    if (rc == HS_OK)
        rc = get_price(o, "rate", zo->base_currency, &it->unit_price, err);
    const json_t *tax = json_object_get(o, "tax_id");
    if (json_is_string(tax))
        it->taxable = hs_tri_of(json_string_length(tax) > 0);
    const char *status = jstr(o, "status");
    if (status != NULL)
        it->active = hs_tri_of(strcmp(status, "active") == 0);
    return rc;
}

/* "10%" -> 10; a flat amount (no '%') is not a percentage and is left out. */
static int get_discount(const json_t *l, struct hs_invoice_line *ln, struct hs_error *err)
{
    const json_t *v = json_object_get(l, "discount");
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    size_t n = s != NULL ? strlen(s) : 0;
    if (n < 2 || s[n - 1] != '%')
        return HS_OK;
    if (hs_decimal_parse(s, n - 1, HS_ROUND_HALF_UP, &ln->discount_percent, err) != HS_OK)
        return hs_error_set(err, HS_EPROTO, "field 'discount': invalid percentage '%.16s'", s);
    ln->has_discount_percent = ln->discount_percent.v != 0;
    return HS_OK;
}

static int parse_line(const json_t *l, struct hs_record *r, const char *cur, size_t idx,
                      struct hs_error *err)
{
    struct hs_invoice_line *ln = NULL;
    int rc = hs_record_add_line(r, &ln);
    if (rc != HS_OK)
        return rc;
    const char *desc = jstr(l, "description");
    if (desc == NULL || desc[0] == '\0')
        desc = jtext(l, "name");
    rc = hs_conn_set_str(&ln->description, desc);
    if (rc == HS_OK)
        rc = hs_conn_set_str(&ln->item_ref, jtext(l, "item_id"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&ln->tax_code, jtext(l, "tax_id"));
    if (rc == HS_OK)
        rc = get_decimal(l, "quantity", &ln->quantity, &ln->has_quantity, err);
    if (rc == HS_OK)
        rc = get_price(l, "rate", cur, &ln->unit_price, err);
    if (rc == HS_OK)
        rc = get_discount(l, ln, err);
    if (rc == HS_OK)
        rc = get_money(l, "item_total", cur, &ln->amount, err);
    /* the line's tax: the sum of its line_item_taxes */
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(l, "line_item_taxes"), i, t)
    {
        struct hs_money m;
        memset(&m, 0, sizeof m);
        if (rc == HS_OK)
            rc = get_money(t, "tax_amount", cur, &m, err);
        if (rc != HS_OK || m.currency[0] == '\0')
            continue;
        if (ln->tax_amount.currency[0] == '\0')
            ln->tax_amount = m;
        else if (hs_money_add(&ln->tax_amount, &m, &ln->tax_amount, NULL) != HS_OK)
            rc = hs_error_set(err, HS_EPROTO, "field 'line_item_taxes': amount out of range");
    }
    if (rc == HS_EPROTO)
        hs_error_prefix(err, "line %zu", idx + 1);
    return rc;
}

static enum hs_invoice_status invoice_status(const char *st)
{
    if (hs_str_eq(st, "draft"))
        return HS_INVOICE_DRAFT;
    if (hs_str_eq(st, "paid"))
        return HS_INVOICE_PAID;
    if (hs_str_eq(st, "partially_paid"))
        return HS_INVOICE_PARTIALLY_PAID;
    if (hs_str_eq(st, "overdue"))
        return HS_INVOICE_OVERDUE;
    if (hs_str_eq(st, "void"))
        return HS_INVOICE_VOID;
    if (hs_str_eq(st, "sent") || hs_str_eq(st, "viewed") || hs_str_eq(st, "unpaid"))
        return HS_INVOICE_OPEN;
    return HS_INVOICE_STATUS_UNSET;
}

static int parse_invoice(const json_t *o, struct hs_record *r, const struct hs_zoho_opts *zo,
                         struct hs_error *err)
{
    struct hs_invoice *inv = &r->invoice;
    const char *cur = currency_of(jstr(o, "currency_code"), zo, err);
    if (cur == NULL)
        return HS_EPROTO;
    memcpy(inv->currency, cur, 4);
    int rc = hs_conn_set_str(&inv->number, jtext(o, "invoice_number"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&inv->customer_ref, jtext(o, "customer_id"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&inv->memo, jtext(o, "reference_number"));
    if (rc == HS_OK)
        rc = get_date(o, "date", &inv->issue_date, err);
    if (rc == HS_OK)
        rc = get_date(o, "due_date", &inv->due_date, err);
    bool inclusive = json_is_true(json_object_get(o, "is_inclusive_tax"));
    inv->tax_mode = inclusive ? HS_TAX_INCLUSIVE : HS_TAX_EXCLUSIVE;
    const json_t *lines = json_object_get(o, "line_items");
    if (rc == HS_OK && lines != NULL && !json_is_array(lines))
        rc = hs_error_set(err, HS_EPROTO, "field 'line_items': expected an array");
    size_t i;
    const json_t *l;
    json_array_foreach(lines, i, l)
    {
        if (rc != HS_OK)
            break;
        rc = parse_line(l, r, cur, i, err);
    }
    if (rc == HS_OK)
        rc = get_money(o, "sub_total", cur, &inv->subtotal, err);
    if (rc == HS_OK)
        rc = get_money(o, "tax_total", cur, &inv->tax, err);
    if (rc == HS_OK)
        rc = get_money(o, "total", cur, &inv->total, err);
    if (rc == HS_OK)
        rc = get_money(o, "payment_made", cur, &inv->amount_paid, err);
    if (rc == HS_OK)
        rc = get_money(o, "balance", cur, &inv->balance, err);
    if (rc == HS_OK && inclusive && inv->total.currency[0] != '\0' &&
        inv->tax.currency[0] != '\0' &&
        hs_money_sub(&inv->total, &inv->tax, &inv->subtotal, NULL) != HS_OK) /* net, see Design */
        rc = hs_error_set(err, HS_EPROTO, "field 'total': amount out of range");
    if (rc != HS_OK)
        return rc;
    inv->status = invoice_status(jstr(o, "status"));
    if (r->id != NULL && zo->app_url != NULL) {
        char *url = hs_asprintf("%s/app/%s#/invoices/%s", zo->app_url,
                                zo->organization != NULL ? zo->organization : "", r->id);
        if (url == NULL)
            return HS_ENOMEM;
        rc = hs_fields_set(&r->meta, "url", url);
        hs_free(url);
    }
    return rc;
}

static int parse_payment(const json_t *o, struct hs_record *r, const struct hs_zoho_opts *zo,
                         struct hs_error *err)
{
    struct hs_payment *p = &r->payment;
    const char *cur = currency_of(jstr(o, "currency_code"), zo, err);
    if (cur == NULL)
        return HS_EPROTO;
    memcpy(p->currency, cur, 4);
    int rc = hs_conn_set_str(&p->customer_ref, jtext(o, "customer_id"));
    if (rc == HS_OK)
        rc = get_date(o, "date", &p->date, err);
    if (rc == HS_OK)
        rc = get_money(o, "amount", cur, &p->amount, err);
    if (rc == HS_OK)
        rc = hs_conn_set_str(&p->reference, jtext(o, "reference_number"));
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(o, "invoices"), i, a)
    {
        const char *inv_id = jtext(a, "invoice_id");
        if (rc != HS_OK || inv_id == NULL)
            continue;
        struct hs_payment_applied *ap = NULL;
        rc = hs_record_add_applied(r, &ap);
        if (rc == HS_OK)
            rc = hs_conn_set_str(&ap->invoice_ref, inv_id);
        if (rc == HS_OK)
            rc = get_money(a, "amount_applied", cur, &ap->amount, err);
    }
    return rc;
}

int hs_zoho_conn_parse_record(enum hs_kind kind, const json_t *obj, const struct hs_zoho_opts *o,
                              struct hs_record **out, struct hs_error *err)
{
    *out = NULL;
    const char *entity = hs_zoho_conn_single(kind);
    if (entity == NULL)
        return hs_error_set(err, HS_EINVAL, "Zoho Books does not carry %s records",
                            hs_kind_name(kind) != NULL ? hs_kind_name(kind) : "these");
    const char *id = jtext(obj, id_field(kind));
    if (!json_is_object(obj) || id == NULL || strlen(id) > MAX_ID_LEN)
        return hs_error_set(err, HS_EPROTO, "Zoho Books %s without a valid %s", entity,
                            id_field(kind));
    struct hs_record *r = NULL;
    int rc = hs_record_new(kind, &r);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "out of memory");
    rc = hs_conn_set_str(&r->id, id);
    r->updated_at = updated_ms(obj);
    if (rc == HS_OK) {
        switch (kind) {
        case HS_KIND_CUSTOMER:
            rc = parse_customer(obj, r, o);
            break;
        case HS_KIND_ITEM:
            rc = parse_item(obj, r, o, err);
            break;
        case HS_KIND_INVOICE:
            rc = parse_invoice(obj, r, o, err);
            break;
        default:
            rc = parse_payment(obj, r, o, err);
            break;
        }
    }
    if (rc == HS_OK) {
        struct hs_error verr;
        hs_error_clear(&verr);
        rc = hs_record_validate(r, &verr);
        if (rc != HS_OK)
            rc = hs_error_set(err, HS_EPROTO, "%s", verr.msg);
    }
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "out of memory");
    if (rc != HS_OK) {
        if (rc != HS_ENOMEM)
            hs_error_prefix(err, "cannot read Zoho Books %s '%s'", entity, id);
        hs_record_free(r);
        return rc;
    }
    *out = r;
    return HS_OK;
}

/* ---- answers ----------------------------------------------------------------------------- */

void hs_zoho_conn_page_release(struct hs_zoho_page *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_items; i++) {
        hs_free(p->items[i].id);
        hs_record_free(p->items[i].rec);
    }
    hs_free(p->items);
    memset(p, 0, sizeof *p);
}

static int page_add(struct hs_zoho_page *p, enum hs_kind kind, const json_t *obj, bool records,
                    const struct hs_zoho_opts *o, struct hs_error *err)
{
    const char *id = jtext(obj, id_field(kind));
    if (!json_is_object(obj) || id == NULL || strlen(id) > MAX_ID_LEN)
        return hs_error_set(err, HS_EPROTO, "Zoho Books %s without a valid %s",
                            hs_zoho_conn_single(kind), id_field(kind));
    if (p->n_items >= HS_ZOHO_MAX_OBJS)
        return hs_error_set(err, HS_ETOOBIG, "Zoho Books answer holds more than %d records",
                            HS_ZOHO_MAX_OBJS);
    struct hs_zoho_obj *v = hs_reallocarray(p->items, p->n_items + 1, sizeof *v);
    if (v == NULL)
        return HS_ENOMEM;
    p->items = v;
    struct hs_zoho_obj *it = &v[p->n_items];
    memset(it, 0, sizeof *it);
    it->updated_at = updated_ms(obj);
    it->id = hs_strdup(id);
    p->n_items++;
    if (it->id == NULL)
        return HS_ENOMEM;
    /* vendors are contacts too: they stay in the page (paging, cursor) without a record */
    if (records && !(kind == HS_KIND_CUSTOMER && hs_str_eq(jstr(obj, "contact_type"), "vendor")))
        return hs_zoho_conn_parse_record(kind, obj, o, &it->rec, err);
    return HS_OK;
}

static int parse_root(const uint8_t *buf, size_t len, const char *what, json_t **root,
                      struct hs_error *err)
{
    *root = NULL;
    if (len > HS_ZOHO_MAX_BODY)
        return hs_error_set(err, HS_ETOOBIG, "%s of %zu bytes is too large", what, len);
    int rc = hs_json_parse_exact(buf, len, what, root, err);
    if (rc != HS_OK)
        return rc;
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return hs_error_set(err, HS_EPROTO, "%s: expected an object", what);
    }
    const json_t *code = json_object_get(*root, "code");
    if (code != NULL && !(json_is_integer(code) && json_integer_value(code) == 0) &&
        !hs_str_eq(hs_json_num_text(code), "0")) {
        json_decref(*root);
        *root = NULL;
        return hs_error_set(err, HS_EPROTO, "%s: Zoho answered an error code", what);
    }
    return HS_OK;
}

int hs_zoho_conn_parse_list(const uint8_t *buf, size_t len, enum hs_kind kind, bool records,
                            const struct hs_zoho_opts *o, struct hs_zoho_page *out,
                            struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    const char *entity = hs_zoho_conn_entity(kind);
    if (entity == NULL)
        return hs_error_set(err, HS_EINVAL, "Zoho Books does not carry this kind");
    json_t *root = NULL;
    int rc = parse_root(buf, len, "Zoho Books answer", &root, err);
    if (rc != HS_OK)
        return rc;
    const json_t *arr = json_object_get(root, entity);
    if (!json_is_array(arr)) {
        rc = hs_error_set(err, HS_EPROTO, "Zoho Books answer: no '%s' array", entity);
    } else {
        size_t i;
        const json_t *obj;
        json_array_foreach(arr, i, obj)
        {
            rc = page_add(out, kind, obj, records, o, err);
            if (rc != HS_OK)
                break;
        }
        const json_t *pc = json_object_get(root, "page_context");
        if (json_is_array(pc)) /* the specs type it as an array of one */
            pc = json_array_get(pc, 0);
        out->has_more = json_is_true(json_object_get(pc, "has_more_page"));
    }
    json_decref(root);
    if (rc != HS_OK) {
        if (rc == HS_ENOMEM)
            hs_error_set(err, HS_ENOMEM, "cannot read Zoho Books answer: out of memory");
        hs_zoho_conn_page_release(out);
    }
    return rc;
}

int hs_zoho_conn_parse_one(const uint8_t *buf, size_t len, enum hs_kind kind,
                           const struct hs_zoho_opts *o, struct hs_record **out,
                           struct hs_error *err)
{
    *out = NULL;
    const char *single = hs_zoho_conn_single(kind);
    if (single == NULL)
        return hs_error_set(err, HS_EINVAL, "Zoho Books does not carry this kind");
    json_t *root = NULL;
    int rc = parse_root(buf, len, "Zoho Books answer", &root, err);
    if (rc != HS_OK)
        return rc;
    const json_t *obj = json_object_get(root, single);
    if (!json_is_object(obj))
        rc = hs_error_set(err, HS_EPROTO, "Zoho Books answer: no '%s' object", single);
    else
        rc = hs_zoho_conn_parse_record(kind, obj, o, out, err);
    json_decref(root);
    return rc;
}

bool hs_zoho_conn_parse_error(const uint8_t *buf, size_t len, int *out_code, char *text,
                              size_t text_cap)
{
    *out_code = -1;
    if (text_cap > 0)
        text[0] = '\0';
    json_t *root = NULL;
    if (buf == NULL || len > HS_ZOHO_MAX_BODY ||
        hs_json_parse_exact(buf, len, "Zoho Books answer", &root, NULL) != HS_OK)
        return false;
    const json_t *code = json_object_get(root, "code");
    const char *msg = jtext(root, "message");
    bool found = msg != NULL;
    if (json_is_integer(code) && json_integer_value(code) >= 0 &&
        json_integer_value(code) <= 1000000)
        *out_code = (int)json_integer_value(code);
    else if (hs_json_num_text(code) != NULL) {
        int64_t v = 0;
        const char *t = hs_json_num_text(code);
        if (hs_str_to_i64(t, strlen(t), &v) == HS_OK && v >= 0 && v <= 1000000)
            *out_code = (int)v;
    }
    if (found && text_cap > 0)
        snprintf(text, text_cap, "%s", msg);
    json_decref(root);
    return found;
}

int hs_zoho_conn_write_status(int http_status, int zoho_code)
{
    if (zoho_code == 3062 || zoho_code == 1001 || zoho_code == 3080)
        return HS_EEXIST;
    if (zoho_code == 1002 || http_status == 404 || http_status == 410)
        return HS_ENOTFOUND;
    if (http_status == 401 || http_status == 403 || zoho_code == 57)
        return HS_EAUTH;
    if (http_status == 429 || zoho_code == 44 || zoho_code == 45)
        return HS_ERATELIMIT;
    if (http_status >= 500)
        return HS_EIO;
    if (http_status >= 400)
        return HS_EINVAL;
    return HS_EPROTO;
}

/* ---- webhooks ---------------------------------------------------------------------------- */

int hs_zoho_conn_parse_webhook(const uint8_t *buf, size_t len, struct hs_changes *out,
                               struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = NULL;
    int rc = parse_root(buf, len, "Zoho Books webhook", &root, err);
    if (rc != HS_OK)
        return rc;
    static const enum hs_kind kinds[] = {HS_KIND_CUSTOMER, HS_KIND_ITEM, HS_KIND_INVOICE,
                                         HS_KIND_PAYMENT};
    for (size_t k = 0; rc == HS_OK && k < sizeof kinds / sizeof kinds[0]; k++) {
        const json_t *obj = json_object_get(root, hs_zoho_conn_single(kinds[k]));
        if (obj == NULL)
            continue;
        const char *id = jtext(obj, id_field(kinds[k]));
        if (!json_is_object(obj) || id == NULL || strlen(id) > MAX_ID_LEN) {
            rc = hs_error_set(err, HS_EPROTO, "Zoho Books webhook: %s without a valid %s",
                              hs_zoho_conn_single(kinds[k]), id_field(kinds[k]));
            break;
        }
        rc = hs_changes_add(out, kinds[k], id, updated_ms(obj), false);
        if (rc != HS_OK)
            break;
    }
    json_decref(root);
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "cannot read Zoho Books webhook: out of memory");
    if (rc != HS_OK)
        hs_changes_release(out);
    return rc;
}

/* ---- cursors ------------------------------------------------------------------------------ */

uint64_t hs_zoho_conn_version_hash(const char *id, int64_t updated_ms)
{
    char ms[24];
    snprintf(ms, sizeof ms, "@%lld", (long long)updated_ms);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = id != NULL ? id : ""; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    for (const char *p = ms; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    return h;
}

static bool seen_in(const uint64_t *v, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == h)
            return true;
    return false;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* Canonical decimal digits only ("0", "17"; not "017", "+1"): cursors compare as text. */
static bool canon_i64(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 18 || (len > 1 && s[0] == '0'))
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* One field up to '|' or end: [*p, *field_end), *p moved past the '|'. */
static bool next_field(const char **p, const char *end, const char **field_end, bool last)
{
    const char *bar = memchr(*p, '|', (size_t)(end - *p));
    if (last != (bar == NULL))
        return false;
    *field_end = bar != NULL ? bar : end;
    return true;
}

static bool parse_hashes(const char *p, const char *end, uint64_t *v, size_t *n)
{
    *n = 0;
    while (p < end) {
        if (end - p < 16 || *n >= HS_ZOHO_SEEN_MAX)
            return false;
        uint64_t h = 0;
        for (int i = 0; i < 16; i++) {
            int x = hexval(p[i]);
            if (x < 0)
                return false;
            h = (h << 4) | (uint64_t)x;
        }
        if (seen_in(v, *n, h))
            return false; /* canonical: no repeats */
        v[(*n)++] = h;
        p += 16;
        if (p == end)
            break;
        if (*p != ',' || p + 1 == end)
            return false;
        p++;
    }
    return true;
}

int hs_zoho_conn_cursor_parse(const char *s, size_t len, struct hs_zoho_cursor *out,
                              struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    if (s == NULL || len < 3 || memcmp(s, "z1|", 3) != 0)
        return hs_error_set(err, HS_EINVAL,
                            "invalid Zoho Books cursor: expected 'z1|<ms>|<page>|<ms>|..|..'");
    const char *p = s + 3;
    const char *end = s + len;
    const char *fe = NULL;
    int64_t *nums[3] = {&out->since_ms, &out->page, &out->top_ms};
    for (int i = 0; i < 3; i++) {
        if (!next_field(&p, end, &fe, false) || !canon_i64(p, (size_t)(fe - p), nums[i]) ||
            *nums[i] > INT64_C(253402300799000))
            return hs_error_set(err, HS_EINVAL, "invalid Zoho Books cursor: bad number");
        p = fe + 1;
    }
    if (out->page < 1 || out->page > INT64_C(100000000) || out->since_ms % 1000 != 0 ||
        out->top_ms % 1000 != 0)
        return hs_error_set(err, HS_EINVAL, "invalid Zoho Books cursor: bad page or time");
    if (!next_field(&p, end, &fe, false) || !parse_hashes(p, fe, out->old_seen, &out->n_old))
        return hs_error_set(err, HS_EINVAL, "invalid Zoho Books cursor: bad version list");
    p = fe + 1;
    if (!next_field(&p, end, &fe, true) || !parse_hashes(p, fe, out->new_seen, &out->n_new))
        return hs_error_set(err, HS_EINVAL, "invalid Zoho Books cursor: bad version list");
    return HS_OK;
}

char *hs_zoho_conn_cursor_format(const struct hs_zoho_cursor *c)
{
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = hs_buf_printf(&b, "z1|%lld|%lld|%lld|", (long long)c->since_ms, (long long)c->page,
                           (long long)c->top_ms);
    for (size_t i = 0; rc == HS_OK && i < c->n_old; i++)
        rc = hs_buf_printf(&b, "%s%016llx", i == 0 ? "" : ",", (unsigned long long)c->old_seen[i]);
    if (rc == HS_OK)
        rc = hs_buf_puts(&b, "|");
    for (size_t i = 0; rc == HS_OK && i < c->n_new; i++)
        rc = hs_buf_printf(&b, "%s%016llx", i == 0 ? "" : ",", (unsigned long long)c->new_seen[i]);
    char *out = rc == HS_OK ? hs_buf_detach(&b) : NULL;
    hs_buf_release(&b);
    return out;
}

static int64_t floor_sec(int64_t ms)
{
    return ms - ((ms % 1000) + 1000) % 1000;
}

void hs_zoho_conn_cursor_step(const struct hs_zoho_cursor *cur, const struct hs_zoho_page *page,
                              size_t *out_idx, size_t *n_out, struct hs_zoho_cursor *next,
                              bool *out_more)
{
    *n_out = 0;
    *next = *cur;
    if (cur->page == 1) { /* a new scan: its top is the newest record */
        next->top_ms = cur->since_ms;
        next->n_new = 0;
    }
    bool reached = false; /* met a record older than since: the scan is done */
    bool overflow = false;
    for (size_t i = 0; i < page->n_items; i++) {
        const struct hs_zoho_obj *o = &page->items[i];
        int64_t sec = floor_sec(o->updated_at);
        if (sec < cur->since_ms) {
            reached = true;
            continue;
        }
        uint64_t h = hs_zoho_conn_version_hash(o->id, o->updated_at);
        if (sec > next->top_ms) {
            next->top_ms = sec;
            next->n_new = 0; /* versions of an older second are not at the top */
        }
        if (sec == next->top_ms && !seen_in(next->new_seen, next->n_new, h)) {
            if (next->n_new < HS_ZOHO_SEEN_MAX)
                next->new_seen[next->n_new++] = h;
            else
                overflow = true;
        }
        if (sec == cur->since_ms && seen_in(cur->old_seen, cur->n_old, h))
            continue; /* reported by the scan before */
        out_idx[(*n_out)++] = i;
    }
    if (overflow)
        next->n_new = 0; /* too many in one second: they may come again, never lost */
    if (!reached && page->has_more) {
        *out_more = true;
        next->page = cur->page + 1;
        return;
    }
    *out_more = false;
    next->page = 1;
    if (next->top_ms > cur->since_ms) {
        next->since_ms = next->top_ms;
        memcpy(next->old_seen, next->new_seen, next->n_new * sizeof next->new_seen[0]);
        next->n_old = next->n_new;
    } else { /* nothing newer: the versions at since are those of both lists */
        for (size_t i = 0; i < next->n_new; i++)
            if (!seen_in(next->old_seen, next->n_old, next->new_seen[i]) &&
                next->n_old < HS_ZOHO_SEEN_MAX)
                next->old_seen[next->n_old++] = next->new_seen[i];
    }
    next->top_ms = next->since_ms;
    next->n_new = 0;
}

/* ---- building bodies ----------------------------------------------------------------------- */

static int put_address(json_t *o, const char *key, const struct hs_address *a)
{
    if (hs_conn_address_empty(a))
        return HS_OK;
    json_t *v = json_object();
    if (v == NULL)
        return HS_ENOMEM;
    int rc = hs_conn_put_str(v, "address", a->line1);
    if (rc == HS_OK)
        rc = hs_conn_put_str(v, "street2", a->line2);
    if (rc == HS_OK)
        rc = hs_conn_put_str(v, "city", a->city);
    if (rc == HS_OK)
        rc = hs_conn_put_str(v, "state", a->region);
    if (rc == HS_OK)
        rc = hs_conn_put_str(v, "zip", a->postcode);
    if (rc == HS_OK && a->country[0] != '\0')
        rc = hs_conn_put_str(v, "country", a->country);
    if (rc == HS_OK)
        return hs_conn_put(o, key, v);
    json_decref(v);
    return rc;
}

static int build_customer(const struct hs_record *r, bool create, json_t *o)
{
    const struct hs_customer *c = &r->customer;
    int rc = hs_conn_put_str(o, "contact_name", c->display_name);
    if (rc == HS_OK && create)
        rc = hs_conn_put_str(o, "contact_type", "customer");
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "website", c->website);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "tax_reg_no", c->tax_id);
    if (rc == HS_OK && c->currency[0] != '\0')
        rc = hs_conn_put_str(o, "currency_code", c->currency);
    if (rc == HS_OK)
        rc = put_address(o, "billing_address", &c->billing_address);
    if (rc == HS_OK)
        rc = put_address(o, "shipping_address", &c->shipping_address);
    /* a new contact's only person, its primary one, is the CRM contact (sent with it: no extra
     * call). An update never sends contact_persons: the list sent replaces the contact's
     * persons, deleting any other (hs_zoho_conn_build_person writes ours alone). */
    if (rc == HS_OK && create &&
        (c->email != NULL || c->given_name != NULL || c->family_name != NULL || c->phone != NULL)) {
        json_t *p = json_pack("{s:b}", "is_primary_contact", 1);
        rc = p != NULL ? HS_OK : HS_ENOMEM;
        if (rc == HS_OK)
            rc = hs_conn_put_str(p, "first_name", c->given_name);
        if (rc == HS_OK)
            rc = hs_conn_put_str(p, "last_name", c->family_name);
        if (rc == HS_OK)
            rc = hs_conn_put_str(p, "email", c->email);
        if (rc == HS_OK)
            rc = hs_conn_put_str(p, "phone", c->phone);
        if (rc == HS_OK)
            rc = hs_conn_put(o, "contact_persons", json_pack("[o]", p));
        else
            json_decref(p);
    }
    return rc;
}

static int build_item(const struct hs_record *r, bool create, const struct hs_zoho_opts *zo,
                      json_t *o, struct hs_error *err)
{
    const struct hs_item *it = &r->item;
    if (it->unit_price.currency[0] != '\0' &&
        strcmp(it->unit_price.currency, zo->base_currency) != 0)
        return hs_error_set(err, HS_EINVAL,
                            "item price is in %s but Zoho Books keeps item rates in the base "
                            "currency %s",
                            it->unit_price.currency, zo->base_currency);
    if (create && it->name == NULL)
        return hs_error_set(err, HS_EINVAL, "Zoho Books needs an item name");
    int rc = hs_conn_put_str(o, "name", it->name);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "sku", it->sku);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "description", it->description);
    if (rc == HS_OK && it->unit_price.currency[0] != '\0')
        rc = hs_conn_put_money(o, "rate", &it->unit_price);
    else if (rc == HS_OK && create)
        rc = hs_conn_put(o, "rate", json_integer(0)); /* Zoho requires a rate */
    if (rc == HS_OK && create)
        rc = hs_conn_put_str(o, "product_type", "service");
    return rc;
}

static int line_error(struct hs_error *err, size_t i, const char *why)
{
    return hs_error_set(err, HS_EINVAL, "invoice line %zu: %s", i + 1, why);
}

static int build_line(const struct hs_invoice_line *ln, size_t i, const char *cur, json_t *arr,
                      struct hs_error *err)
{
    if ((ln->unit_price.currency[0] != '\0' && strcmp(ln->unit_price.currency, cur) != 0) ||
        (ln->amount.currency[0] != '\0' && strcmp(ln->amount.currency, cur) != 0))
        return line_error(err, i, "amount in another currency than the invoice");
    struct hs_money rate = ln->unit_price;
    if (rate.currency[0] == '\0' && !ln->has_quantity && ln->amount.currency[0] != '\0')
        rate = ln->amount; /* an amount alone: one unit at that rate */
    if (rate.currency[0] == '\0' && ln->item_ref == NULL)
        return line_error(err, i, "no amount, and no quantity and unit price to compute it");
    json_t *l = json_object();
    if (l == NULL)
        return HS_ENOMEM;
    int rc = hs_conn_put_str(l, "item_id", ln->item_ref);
    if (rc == HS_OK)
        rc = hs_conn_put_str(l, ln->item_ref != NULL ? "description" : "name",
                             ln->description != NULL ? ln->description : "");
    if (rc == HS_OK && ln->has_quantity)
        rc = hs_conn_put(l, "quantity", hs_json_decimal_new(ln->quantity));
    if (rc == HS_OK)
        rc = hs_conn_put_money(l, "rate", &rate);
    if (rc == HS_OK && ln->has_discount_percent && ln->discount_percent.v != 0) {
        char d[64];
        char pct[72];
        rc = hs_decimal_format(ln->discount_percent, d, sizeof d) >= 0 ? HS_OK : HS_EINVAL;
        if (rc == HS_OK) {
            snprintf(pct, sizeof pct, "%s%%", d);
            rc = hs_conn_put_str(l, "discount", pct);
        }
    }
    if (rc == HS_OK)
        rc = hs_conn_put_str(l, "tax_id", ln->tax_code);
    if (rc == HS_OK)
        return json_array_append_new(arr, l) == 0 ? HS_OK : HS_ENOMEM;
    json_decref(l);
    return rc;
}

static int build_invoice(const struct hs_record *r, bool create, const struct hs_zoho_opts *zo,
                         json_t *o, struct hs_error *err)
{
    const struct hs_invoice *inv = &r->invoice;
    const char *cur = inv->currency[0] != '\0' ? inv->currency : zo->base_currency;
    if (create && inv->customer_ref == NULL)
        return hs_error_set(err, HS_EINVAL, "the invoice has no customer");
    if (create && inv->status == HS_INVOICE_VOID)
        return hs_error_set(err, HS_EINVAL, "cannot create a void invoice in Zoho Books");
    int rc = hs_conn_put_str(o, "customer_id", inv->customer_ref);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "invoice_number", inv->number);
    if (rc == HS_OK)
        rc = hs_conn_put_date(o, "date", inv->issue_date);
    if (rc == HS_OK)
        rc = hs_conn_put_date(o, "due_date", inv->due_date);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "reference_number", inv->memo);
    if (rc == HS_OK && inv->tax_mode != HS_TAX_MODE_UNSET)
        rc = hs_conn_put(o, "is_inclusive_tax", json_boolean(inv->tax_mode == HS_TAX_INCLUSIVE));
    json_t *arr = rc == HS_OK ? json_array() : NULL;
    if (rc == HS_OK && arr == NULL)
        rc = HS_ENOMEM;
    for (size_t i = 0; rc == HS_OK && i < inv->n_lines; i++) {
        const struct hs_invoice_line *ln = &inv->lines[i];
        if (inv->tax_mode == HS_TAX_NONE && ln->tax_code != NULL)
            rc = line_error(err, i, "a tax code on an invoice without tax");
        else
            rc = build_line(ln, i, cur, arr, err);
    }
    if (rc == HS_OK && create && inv->n_lines == 0)
        rc = hs_error_set(err, HS_EINVAL, "Zoho Books needs at least one invoice line");
    if (rc == HS_OK && (create || inv->n_lines > 0))
        return hs_conn_put(o, "line_items", arr);
    json_decref(arr);
    return rc;
}

static int build_payment(const struct hs_record *r, bool create, const struct hs_zoho_opts *zo,
                         json_t *o, struct hs_error *err)
{
    const struct hs_payment *p = &r->payment;
    if (!create)
        return hs_error_set(err, HS_EINVAL,
                            "Zoho Books payments cannot be changed: delete the payment and "
                            "record it again");
    if (p->customer_ref == NULL)
        return hs_error_set(err, HS_EINVAL, "the payment has no customer");
    if (p->amount.currency[0] == '\0')
        return hs_error_set(err, HS_EINVAL, "the payment has no amount");
    int rc = hs_conn_put_str(o, "customer_id", p->customer_ref);
    if (rc == HS_OK)
        rc = hs_conn_put_money(o, "amount", &p->amount);
    if (rc == HS_OK)
        rc = hs_conn_put_date(o, "date", p->date);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "reference_number", p->reference);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "payment_mode", zo->payment_mode);
    json_t *arr = rc == HS_OK ? json_array() : NULL;
    if (rc == HS_OK && arr == NULL)
        rc = HS_ENOMEM;
    for (size_t i = 0; rc == HS_OK && i < p->n_applied; i++) {
        const struct hs_payment_applied *a = &p->applied[i];
        if (a->invoice_ref == NULL)
            continue;
        json_t *e = json_pack("{s:s}", "invoice_id", a->invoice_ref);
        rc = e != NULL ? HS_OK : HS_ENOMEM;
        if (rc == HS_OK)
            rc = hs_conn_put_money(e, "amount_applied",
                                   a->amount.currency[0] != '\0' ? &a->amount : &p->amount);
        if (rc == HS_OK && json_array_append_new(arr, e) != 0)
            rc = HS_ENOMEM;
        else if (rc != HS_OK)
            json_decref(e);
    }
    if (rc == HS_OK)
        return hs_conn_put(o, "invoices", arr);
    json_decref(arr);
    return rc;
}

/* Canonical field path prefix -> the Zoho field it lives in. */
struct fmap {
    const char *prefix;
    const char *key;
    bool blank; /* a plain string Zoho clears when sent "" */
};

static const struct fmap customer_map[] = {
    {"display_name", "contact_name", false},
    {"website", "website", true},
    {"billing_address", "billing_address", false},
    {"shipping_address", "shipping_address", false},
    {"tax_id", "tax_reg_no", true},
    {"currency", "currency_code", false},
    {NULL, NULL, false},
};
static const struct fmap item_map[] = {
    {"name", "name", false},       {"sku", "sku", true}, {"description", "description", true},
    {"unit_price", "rate", false}, {NULL, NULL, false},
};
static const struct fmap invoice_map[] = {
    {"number", "invoice_number", false},     {"customer_ref", "customer_id", false},
    {"issue_date", "date", false},           {"due_date", "due_date", false},
    {"tax_mode", "is_inclusive_tax", false}, {"lines", "line_items", false},
    {"memo", "reference_number", true},      {NULL, NULL, false},
};

static const struct fmap *fmap_of(enum hs_kind kind)
{
    switch (kind) {
    case HS_KIND_CUSTOMER:
        return customer_map;
    case HS_KIND_ITEM:
        return item_map;
    default:
        return invoice_map;
    }
}

static bool fmap_match(const struct fmap *m, const char *field)
{
    size_t n = strlen(m->prefix);
    return strncmp(field, m->prefix, n) == 0 &&
           (field[n] == '\0' || field[n] == '.' || field[n] == '[');
}

/* Keeps only the fields named by w->fields; blanks the plain strings that went away. */
static int partial_select(enum hs_kind kind, const struct hs_write *w, json_t *full, json_t *out,
                          size_t *n_selected)
{
    *n_selected = 0;
    for (const struct fmap *m = fmap_of(kind); m->prefix != NULL; m++) {
        bool wanted = w->fields == NULL;
        for (size_t i = 0; !wanted && i < w->n_fields; i++)
            wanted = w->fields[i] != NULL && fmap_match(m, w->fields[i]);
        if (!wanted || json_object_get(out, m->key) != NULL)
            continue;
        json_t *v = json_object_get(full, m->key);
        int rc = HS_OK;
        if (v != NULL)
            rc = hs_conn_put(out, m->key, json_incref(v));
        else if (w->fields != NULL && m->blank)
            rc = hs_conn_put(out, m->key, json_string(""));
        else
            continue;
        if (rc != HS_OK)
            return rc;
        (*n_selected)++;
    }
    /* the tax mode travels with the lines: Zoho reads the rates by it */
    json_t *inc = json_object_get(full, "is_inclusive_tax");
    if (inc != NULL && json_object_get(out, "line_items") != NULL)
        return hs_conn_put(out, "is_inclusive_tax", json_incref(inc));
    return HS_OK;
}

int hs_zoho_conn_build(enum hs_kind kind, const struct hs_write *w, const struct hs_zoho_opts *o,
                       json_t **out, struct hs_error *err)
{
    *out = NULL;
    const struct hs_record *r = w->record;
    if (r == NULL || r->kind != kind || hs_zoho_conn_entity(kind) == NULL)
        return hs_error_set(err, HS_EINVAL, "Zoho Books cannot write this record");
    bool create = w->op == HS_WRITE_CREATE;
    if (!create && r->id == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot update Zoho Books %s: the record has no id",
                            hs_zoho_conn_single(kind));
    json_t *full = json_object();
    if (full == NULL)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    int rc;
    switch (kind) {
    case HS_KIND_CUSTOMER:
        rc = build_customer(r, create, full);
        break;
    case HS_KIND_ITEM:
        rc = build_item(r, create, o, full, err);
        break;
    case HS_KIND_INVOICE:
        rc = build_invoice(r, create, o, full, err);
        break;
    default:
        rc = build_payment(r, create, o, full, err);
        break;
    }
    if (rc != HS_OK || create) {
        if (rc != HS_OK)
            json_decref(full);
        else
            *out = full;
        return rc == HS_ENOMEM ? hs_error_set(err, HS_ENOMEM, "out of memory") : rc;
    }
    json_t *part = json_object();
    size_t n_sel = 0;
    rc = part != NULL ? HS_OK : HS_ENOMEM;
    if (rc == HS_OK)
        rc = partial_select(kind, w, full, part, &n_sel);
    json_decref(full);
    if (rc == HS_OK && n_sel == 0) {
        json_decref(part);
        return HS_OK; /* nothing Zoho stores changes */
    }
    if (rc != HS_OK) {
        json_decref(part);
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    }
    *out = part;
    return HS_OK;
}

/* ---- the contact's person ------------------------------------------------------------------- */

/* The canonical paths of the person, in the order of their Zoho fields below. */
static const char *const person_paths[] = {"given_name", "family_name", "email", "phone"};
static const char *const person_keys[] = {"first_name", "last_name", "email", "phone"};

static bool field_asked(const struct hs_write *w, const char *path)
{
    if (w->fields == NULL)
        return true;
    for (size_t i = 0; i < w->n_fields; i++) {
        size_t n = strlen(path);
        const char *f = w->fields[i];
        if (f != NULL && strncmp(f, path, n) == 0 && (f[n] == '\0' || f[n] == '.'))
            return true;
    }
    return false;
}

int hs_zoho_conn_build_person(const struct hs_write *w, json_t **out, const char **out_pid,
                              struct hs_error *err)
{
    *out = NULL;
    *out_pid = NULL;
    const struct hs_record *r = w->record;
    if (w->op == HS_WRITE_CREATE || r == NULL || r->kind != HS_KIND_CUSTOMER || r->id == NULL)
        return HS_OK;
    const char *unsynced = hs_fields_get(&r->meta, HS_META_UNSYNCED);
    const char *read_only = hs_fields_get(&r->meta, HS_META_READ_ONLY);
    const struct hs_customer *c = &r->customer;
    const char *vals[4] = {c->given_name, c->family_name, c->email, c->phone};
    json_t *p = json_pack("{s:s}", "contact_id", r->id);
    if (p == NULL)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    int rc = HS_OK;
    size_t n = 0;
    for (size_t i = 0; rc == HS_OK && i < 4; i++) {
        /* never a person that is not ours (hs_zoho_conn_owned), whoever asks */
        if (!field_asked(w, person_paths[i]) || hs_merge_path_listed(unsynced, person_paths[i]) ||
            hs_merge_path_listed(read_only, person_paths[i]))
            continue;
        if (vals[i] != NULL || i > 0) /* a cleared first name is kept: Zoho requires one */
            rc = hs_conn_put(p, person_keys[i], json_string(vals[i] != NULL ? vals[i] : ""));
        n++;
    }
    const char *pid = hs_fields_get(&r->meta, HS_ZOHO_META_PERSON);
    if (rc == HS_OK && n > 0 && json_object_get(p, "first_name") == NULL && pid != NULL)
        /* contact-persons.yml asks for first_name on an update too: the one the person has
         * (none: not sent, as contacts.yml's update of a person requires nothing) */
        rc = hs_conn_put_str(p, "first_name", hs_fields_get(&r->meta, HS_ZOHO_META_FIRST));
    if (rc == HS_OK && pid == NULL && json_object_get(p, "first_name") == NULL)
        n = 0; /* a new person needs a first name (both specs): without one there is none to
                * make, and the result read back says so (nothing is claimed that did not land) */
    if (rc != HS_OK || n == 0) {
        json_decref(p);
        return rc == HS_OK ? HS_OK : hs_error_set(err, HS_ENOMEM, "out of memory");
    }
    *out = p;
    *out_pid = pid;
    return HS_OK;
}
