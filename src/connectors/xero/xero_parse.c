/*
 * connectors/xero/xero_parse.c - Xero Accounting API 2.0 JSON <-> canonical records.
 *
 * Design:     no I/O: bytes in, structs out, and records in, elements out. Answers are parsed
 *             with hs_json_parse_exact, so every amount, quantity and price is read from its
 *             exact text (never a double) at the currency's exponent:
 *               Contact  Name, FirstName/LastName and EmailAddress (the primary person;
 *                        else those of the first ContactPersons entry), Phones[DEFAULT],
 *                        Website (read only: never written), Addresses POBOX (billing) /
 *                        STREET (shipping), TaxNumber, DefaultCurrency, ContactStatus (ACTIVE
 *                        true, ARCHIVED false). The person is the CRM contact only on a
 *                        contact we created (ContactNumber "hoopsync-..."); elsewhere it is
 *                        the accounts team's and left out of the sync (meta
 *                        HS_META_UNSYNCED); ContactPersons are never written.
 *               Item     Name, Code (sku), Description, SalesDetails.UnitPrice (base
 *                        currency) and AccountCode
 *               Invoice  ACCREC only: InvoiceNumber, Contact.ContactID, CurrencyCode, Date,
 *                        DueDate, LineAmountTypes (Exclusive/Inclusive/NoTax), LineItems
 *                        (item by Item.ItemID, else ItemCode through the item map), SubTotal,
 *                        TotalTax, Total, AmountPaid, AmountDue, Reference; status from
 *                        Status: DRAFT/SUBMITTED draft, AUTHORISED open or partially paid,
 *                        PAID paid, VOIDED and DELETED void
 *               Payment  ACCRECPAYMENT only: Invoice.Contact.ContactID, Date, Amount,
 *                        Invoice.CurrencyCode, Reference, one application (Invoice.InvoiceID)
 *             A line's canonical amount is Xero's LineAmount, which the line amount type
 *             defines as the canonical model does (net when Exclusive, gross when Inclusive).
 *             Unit amounts may carry more decimals than the currency (unitdp); such a price
 *             is rounded half up, the only rounding on read. Amounts with trailing zeros
 *             beyond the currency ("100.00" JPY) are read exactly.
 *             Writing builds the element from the record; an update keeps only the elements
 *             the changed field paths map to (table per kind), as Xero updates only what is
 *             sent.
 * Invariants: every record returned passes hs_record_validate; webhook changes carry their
 *             kind and Xero's id.
 * Ownership:  see xero_int.h.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "connectors/common/build.h"
#include "connectors/common/fields.h"
#include "connectors/xero/xero_int.h"
#include "core/currency.h"
#include "core/merge.h"
#include "core/tax.h"
#include "util/alloc.h"
#include "util/civil.h"
#include "util/jsonnum.h"
#include "util/str.h"

#define MAX_ID_LEN 64

/* ---- small helpers --------------------------------------------------------------------- */

const char *hs_xero_conn_entity(enum hs_kind kind)
{
    switch (kind) {
    case HS_KIND_CUSTOMER:
        return "Contacts";
    case HS_KIND_ITEM:
        return "Items";
    case HS_KIND_INVOICE:
        return "Invoices";
    case HS_KIND_PAYMENT:
        return "Payments";
    default:
        return NULL;
    }
}

static const char *id_field(enum hs_kind kind)
{
    switch (kind) {
    case HS_KIND_CUSTOMER:
        return "ContactID";
    case HS_KIND_ITEM:
        return "ItemID";
    case HS_KIND_INVOICE:
        return "InvoiceID";
    default:
        return "PaymentID";
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

int hs_xero_conn_time_parse(const char *s, size_t len, int64_t *out_ms)
{
    if (s == NULL)
        return HS_EINVAL;
    if (len >= 8 && memcmp(s, "/Date(", 6) == 0) {
        size_t i = 6;
        bool neg = false;
        if (i < len && s[i] == '-') {
            neg = true;
            i++;
        }
        size_t start = i;
        int64_t ms = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 16)
            ms = ms * 10 + (s[i++] - '0');
        if (i == start)
            return HS_EINVAL;
        if (i < len && (s[i] == '+' || s[i] == '-')) { /* informational offset: +0000 */
            int off;
            if (i + 5 > len || !digits(s + i + 1, 4, &off))
                return HS_EINVAL;
            i += 5;
        }
        if (len - i != 2 || s[i] != ')' || s[i + 1] != '/')
            return HS_EINVAL;
        *out_ms = neg ? -ms : ms;
        return HS_OK;
    }
    int y, mo, d, h, mi, sec;
    if (len < 19 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
        !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return HS_EINVAL;
    struct hs_date dt = {(int16_t)y, (int8_t)mo, (int8_t)d};
    if (!hs_date_valid(dt) || h > 23 || mi > 59 || sec > 59)
        return HS_EINVAL;
    size_t i = 19;
    int64_t frac = 0;
    if (i < len && s[i] == '.') {
        i++;
        size_t start = i;
        int64_t scale = 100;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            frac += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start || i - start > 9)
            return HS_EINVAL;
    }
    if (i < len && s[i] == 'Z')
        i++;
    if (i != len)
        return HS_EINVAL;
    *out_ms = ((hs_days_from_civil(y, mo, d) * 86400) + h * 3600 + mi * 60 + sec) * 1000 + frac;
    return HS_OK;
}

void hs_xero_conn_time_format(int64_t ms, char out[24])
{
    int64_t s = ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
    int64_t days = s / 86400 - (s % 86400 < 0 ? 1 : 0);
    int64_t rem = s - days * 86400;
    int64_t y, m, d;
    hs_civil_from_days(days, &y, &m, &d);
    snprintf(out, 24, "%04d-%02d-%02dT%02d:%02d:%02d", (int)y, (int)m, (int)d, (int)(rem / 3600),
             (int)(rem % 3600 / 60), (int)(rem % 60));
}

static int64_t updated_ms(const json_t *obj)
{
    const char *t = jstr(obj, "UpdatedDateUTC");
    int64_t ms = 0;
    if (t == NULL || hs_xero_conn_time_parse(t, strlen(t), &ms) != HS_OK)
        return 0;
    return ms;
}

/* A date: DateString "2026-11-23T00:00:00", or the "/Date(ms)/" form of key. */
static int get_date(const json_t *o, const char *key, const char *str_key, struct hs_date *out,
                    struct hs_error *err)
{
    const char *s = str_key != NULL ? jstr(o, str_key) : NULL;
    if (s != NULL && strlen(s) >= 10 && hs_date_parse(s, 10, out, NULL) == HS_OK)
        return HS_OK;
    s = jstr(o, key);
    if (s == NULL)
        return HS_OK;
    if (strlen(s) >= 10 && s[0] != '/' && hs_date_parse(s, 10, out, NULL) == HS_OK)
        return HS_OK;
    int64_t ms = 0;
    if (hs_xero_conn_time_parse(s, strlen(s), &ms) != HS_OK)
        return hs_error_set(err, HS_EPROTO, "field '%s': invalid date '%.32s'", key, s);
    int64_t days = ms / 86400000 - (ms % 86400000 < 0 ? 1 : 0);
    int64_t y, m, d;
    hs_civil_from_days(days, &y, &m, &d);
    struct hs_date dt = {(int16_t)y, (int8_t)m, (int8_t)d};
    if (y < 1 || y > 9999 || !hs_date_valid(dt))
        return hs_error_set(err, HS_EPROTO, "field '%s': invalid date '%.32s'", key, s);
    *out = dt;
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

/* A unit price: exact when it fits the currency, else rounded half up. */
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

/* Country as Xero stores it (free text) -> ISO alpha-2 when recognisable. */
static void set_country(char out[3], const char *s)
{
    static const struct {
        const char *name;
        const char *iso;
    } names[] = {
        {"USA", "US"},         {"United States", "US"},  {"United States of America", "US"},
        {"UK", "GB"},          {"United Kingdom", "GB"}, {"Great Britain", "GB"},
        {"Canada", "CA"},      {"Australia", "AU"},      {"France", "FR"},
        {"Germany", "DE"},     {"Deutschland", "DE"},    {"Japan", "JP"},
        {"Kuwait", "KW"},      {"Spain", "ES"},          {"Italy", "IT"},
        {"Netherlands", "NL"}, {"Ireland", "IE"},        {"New Zealand", "NZ"},
        {"India", "IN"},       {"Poland", "PL"},         {"Switzerland", "CH"},
    };
    out[0] = '\0';
    if (s == NULL)
        return;
    size_t n = strlen(s);
    if (n == 2 && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z') &&
        ((s[1] | 0x20) >= 'a' && (s[1] | 0x20) <= 'z')) {
        out[0] = (char)(s[0] & ~0x20);
        out[1] = (char)(s[1] & ~0x20);
        out[2] = '\0';
        return;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (hs_str_ieq(s, names[i].name)) {
            memcpy(out, names[i].iso, 3);
            return;
        }
}

static void set_currency(char out[4], const char *code)
{
    out[0] = '\0';
    if (code != NULL && strlen(code) == 3 && hs_currency_find(code) != NULL)
        memcpy(out, code, 4);
}

/* ---- field names (describe_fields) ------------------------------------------------------- */

/* What parse_customer, parse_address and parse_item below read: the names hoopsync.yaml's
 * `mappings:` may use for Xero fields. In "Phones.DEFAULT.PhoneNumber" and
 * "Addresses.POBOX.City" the middle part picks the array element of that PhoneType or
 * AddressType (brackets would need quotes in YAML flow mappings). FirstName, LastName and
 * EmailAddress are the contact's own (the first ContactPersons entry's when the contact has none).
 * tests/unit/test_conn_fields_xero.c proves every row against those functions and that every field
 * they fill has a row. Invoices and payments are built by the invoice step: no names here. */
#define C HS_KIND_CUSTOMER
#define I HS_KIND_ITEM
static const struct hs_conn_field_row field_rows[] = {
    {C, "Name", "display_name"},
    {C, "FirstName", "given_name"},
    {C, "LastName", "family_name"},
    {C, "EmailAddress", "email"},
    {C, "Phones.DEFAULT.PhoneNumber", "phone"},
    {C, "Website", "website"},
    {C, "Addresses.POBOX.AddressLine1", "billing_address.line1"},
    {C, "Addresses.POBOX.AddressLine2", "billing_address.line2"},
    {C, "Addresses.POBOX.AddressLine3", "billing_address.line3"},
    {C, "Addresses.POBOX.City", "billing_address.city"},
    {C, "Addresses.POBOX.Region", "billing_address.region"},
    {C, "Addresses.POBOX.PostalCode", "billing_address.postcode"},
    {C, "Addresses.POBOX.Country", "billing_address.country"},
    {C, "Addresses.STREET.AddressLine1", "shipping_address.line1"},
    {C, "Addresses.STREET.AddressLine2", "shipping_address.line2"},
    {C, "Addresses.STREET.AddressLine3", "shipping_address.line3"},
    {C, "Addresses.STREET.City", "shipping_address.city"},
    {C, "Addresses.STREET.Region", "shipping_address.region"},
    {C, "Addresses.STREET.PostalCode", "shipping_address.postcode"},
    {C, "Addresses.STREET.Country", "shipping_address.country"},
    {C, "TaxNumber", "tax_id"},
    {C, "DefaultCurrency", "currency"},
    {C, "ContactStatus", "active"},
    {I, "Name", "name"},
    {I, "Code", "sku"},
    {I, "Description", "description"},
    {I, "SalesDetails.UnitPrice", "unit_price"},
    {I, "SalesDetails.AccountCode", "income_account_ref"},
    {I, "SalesDetails.TaxType", "taxable"},
    {I, "IsSold", "active"},
};
#undef C
#undef I

int hs_xero_conn_describe_fields(const void *settings, enum hs_kind kind,
                                 struct hs_field_names *out, struct hs_error *err)
{
    (void)settings; /* no setting renames a field */
    return hs_conn_fields_add_rows(out, field_rows, sizeof field_rows / sizeof field_rows[0], kind,
                                   "Xero", err);
}

/* ---- records ------------------------------------------------------------------------------ */

static int parse_address(const json_t *a, struct hs_address *out)
{
    int rc = hs_conn_set_str(&out->line1, jtext(a, "AddressLine1"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&out->line2, jtext(a, "AddressLine2"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&out->line3, jtext(a, "AddressLine3"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&out->city, jtext(a, "City"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&out->region, jtext(a, "Region"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&out->postcode, jtext(a, "PostalCode"));
    set_country(out->country, jtext(a, "Country"));
    return rc;
}

static int parse_customer(const json_t *o, struct hs_record *r)
{
    struct hs_customer *c = &r->customer;
    const json_t *person = json_array_get(json_object_get(o, "ContactPersons"), 0);
    int rc = hs_conn_set_str(&c->display_name, jstr(o, "Name"));
    const char *given = jtext(o, "FirstName");
    const char *family = jtext(o, "LastName");
    if (given == NULL && family == NULL) {
        given = jtext(person, "FirstName");
        family = jtext(person, "LastName");
    }
    const char *email = jtext(o, "EmailAddress");
    if (email == NULL)
        email = jtext(person, "EmailAddress");
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->given_name, given);
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->family_name, family);
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->email, email);
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->website, jtext(o, "Website"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->tax_id, jtext(o, "TaxNumber"));
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(o, "Phones"), i, v)
    {
        if (rc != HS_OK || c->phone != NULL || !hs_str_eq(jstr(v, "PhoneType"), "DEFAULT"))
            continue;
        const char *parts[3] = {jtext(v, "PhoneCountryCode"), jtext(v, "PhoneAreaCode"),
                                jtext(v, "PhoneNumber")};
        if (parts[2] == NULL)
            continue;
        struct hs_buf b;
        hs_buf_init(&b);
        for (size_t k = 0; rc == HS_OK && k < 3; k++)
            if (parts[k] != NULL)
                rc = hs_buf_printf(&b, "%s%s", b.len > 0 ? " " : "", parts[k]);
        if (rc == HS_OK)
            rc = hs_conn_set_str(&c->phone, b.data);
        hs_buf_release(&b);
    }
    json_array_foreach(json_object_get(o, "Addresses"), i, v)
    {
        const char *type = jstr(v, "AddressType");
        if (rc != HS_OK)
            break;
        if (hs_str_eq(type, "POBOX") && c->billing_address.line1 == NULL &&
            c->billing_address.city == NULL)
            rc = parse_address(v, &c->billing_address);
        else if (hs_str_eq(type, "STREET") && c->shipping_address.line1 == NULL &&
                 c->shipping_address.city == NULL)
            rc = parse_address(v, &c->shipping_address);
    }
    set_currency(c->currency, jtext(o, "DefaultCurrency"));
    const char *status = jstr(o, "ContactStatus");
    if (hs_str_eq(status, "ACTIVE"))
        c->active = HS_TRI_TRUE;
    else if (status != NULL)
        c->active = HS_TRI_FALSE;
    /* the contact's person (FirstName, LastName, EmailAddress: its primary person, the one
     * invoices are emailed to) is ours only on a contact we created; on any other it is the
     * accounts team's billing contact, which neither overwrites the CRM contact nor is
     * overwritten by it */
    if (rc == HS_OK && !hs_xero_conn_owned(o))
        rc = hs_fields_set(&r->meta, HS_META_UNSYNCED, HS_XERO_PERSON_PATHS);
    return rc;
}

bool hs_xero_conn_owned(const json_t *contact)
{
    const char *num = jstr(contact, "ContactNumber");
    return num != NULL && strncmp(num, HS_XERO_OWN_PREFIX, strlen(HS_XERO_OWN_PREFIX)) == 0;
}

static int parse_item(const json_t *o, struct hs_record *r, const struct hs_xero_opts *xo,
                      struct hs_error *err)
{
    struct hs_item *it = &r->item;
    const json_t *sales = json_object_get(o, "SalesDetails");
    int rc = hs_conn_set_str(&it->name, jstr(o, "Name"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&it->sku, jstr(o, "Code"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&it->description, jtext(o, "Description"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&it->income_account_ref, jtext(sales, "AccountCode"));
    if (rc == HS_OK)
        rc = get_price(sales, "UnitPrice", xo->base_currency, &it->unit_price, err);
    const char *tax = jtext(sales, "TaxType");
    if (tax != NULL)
        it->taxable = hs_tri_of(strcmp(tax, "NONE") != 0);
    const json_t *sold = json_object_get(o, "IsSold");
    if (json_is_boolean(sold))
        it->active = hs_tri_of(json_is_true(sold));
    return rc;
}

static const char *item_id_of_code(const struct hs_xero_opts *xo, const char *code)
{
    for (size_t i = 0; code != NULL && i < xo->n_items; i++)
        if (hs_str_eq(xo->items[i].code, code))
            return xo->items[i].id;
    return NULL;
}

static const char *item_code_of_id(const struct hs_xero_opts *xo, const char *id)
{
    for (size_t i = 0; id != NULL && i < xo->n_items; i++)
        if (hs_str_ieq(xo->items[i].id, id))
            return xo->items[i].code;
    return NULL;
}

static int parse_line(const json_t *l, struct hs_record *r, const char *cur,
                      const struct hs_xero_opts *xo, size_t idx, struct hs_error *err)
{
    struct hs_invoice_line *ln = NULL;
    int rc = hs_record_add_line(r, &ln);
    if (rc != HS_OK)
        return rc;
    const char *item = jtext(json_object_get(l, "Item"), "ItemID");
    if (item == NULL)
        item = item_id_of_code(xo, jtext(l, "ItemCode"));
    rc = hs_conn_set_str(&ln->description, jstr(l, "Description"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&ln->item_ref, item);
    if (rc == HS_OK)
        rc = hs_conn_set_str(&ln->tax_code, jtext(l, "TaxType"));
    if (rc == HS_OK)
        rc = get_decimal(l, "Quantity", &ln->quantity, &ln->has_quantity, err);
    if (rc == HS_OK)
        rc = get_price(l, "UnitAmount", cur, &ln->unit_price, err);
    if (rc == HS_OK)
        rc = get_decimal(l, "DiscountRate", &ln->discount_percent, &ln->has_discount_percent, err);
    if (rc == HS_OK && ln->has_discount_percent && ln->discount_percent.v == 0)
        ln->has_discount_percent = false;
    if (rc == HS_OK)
        rc = get_money(l, "LineAmount", cur, &ln->amount, err);
    if (rc == HS_OK)
        rc = get_money(l, "TaxAmount", cur, &ln->tax_amount, err);
    if (rc == HS_EPROTO)
        hs_error_prefix(err, "line %zu", idx + 1);
    return rc;
}

static enum hs_tax_mode tax_mode(const char *s)
{
    if (s == NULL)
        return HS_TAX_EXCLUSIVE; /* Xero: exclusive unless said otherwise */
    if (strcmp(s, "Exclusive") == 0)
        return HS_TAX_EXCLUSIVE;
    if (strcmp(s, "Inclusive") == 0)
        return HS_TAX_INCLUSIVE;
    if (strcmp(s, "NoTax") == 0)
        return HS_TAX_NONE;
    return HS_TAX_MODE_UNSET;
}

static const char *currency_of(const char *code, const struct hs_xero_opts *xo,
                               struct hs_error *err)
{
    if (code == NULL || code[0] == '\0')
        return xo->base_currency;
    if (strlen(code) != 3 || hs_currency_find(code) == NULL) {
        hs_error_set(err, HS_EPROTO, "field 'CurrencyCode': unknown currency '%.8s'", code);
        return NULL;
    }
    return code;
}

static int parse_invoice(const json_t *o, struct hs_record *r, const struct hs_xero_opts *xo,
                         struct hs_error *err)
{
    struct hs_invoice *inv = &r->invoice;
    const char *cur = currency_of(jstr(o, "CurrencyCode"), xo, err);
    if (cur == NULL)
        return HS_EPROTO;
    memcpy(inv->currency, cur, 4);
    int rc = hs_conn_set_str(&inv->number, jtext(o, "InvoiceNumber"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&inv->customer_ref, jtext(json_object_get(o, "Contact"), "ContactID"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&inv->memo, jtext(o, "Reference"));
    const char *src_url = jtext(o, "Url");
    if (rc == HS_OK && src_url != NULL && *src_url != '\0' &&
        hs_fields_set(&r->meta, "source_url", src_url) != HS_OK)
        rc = HS_ENOMEM;
    if (rc == HS_OK)
        rc = get_date(o, "Date", "DateString", &inv->issue_date, err);
    if (rc == HS_OK)
        rc = get_date(o, "DueDate", "DueDateString", &inv->due_date, err);
    inv->tax_mode = tax_mode(jstr(o, "LineAmountTypes"));
    const json_t *lines = json_object_get(o, "LineItems");
    if (rc == HS_OK && lines != NULL && !json_is_array(lines))
        rc = hs_error_set(err, HS_EPROTO, "field 'LineItems': expected an array");
    size_t i;
    const json_t *l;
    json_array_foreach(lines, i, l)
    {
        if (rc != HS_OK)
            break;
        rc = parse_line(l, r, cur, xo, i, err);
    }
    if (rc == HS_OK)
        rc = get_money(o, "SubTotal", cur, &inv->subtotal, err);
    if (rc == HS_OK)
        rc = get_money(o, "TotalTax", cur, &inv->tax, err);
    if (rc == HS_OK)
        rc = get_money(o, "Total", cur, &inv->total, err);
    if (rc == HS_OK)
        rc = get_money(o, "AmountPaid", cur, &inv->amount_paid, err);
    if (rc == HS_OK)
        rc = get_money(o, "AmountDue", cur, &inv->balance, err);
    if (rc != HS_OK)
        return rc;
    const char *st = jstr(o, "Status");
    if (hs_str_eq(st, "DRAFT") || hs_str_eq(st, "SUBMITTED"))
        inv->status = HS_INVOICE_DRAFT;
    else if (hs_str_eq(st, "PAID"))
        inv->status = HS_INVOICE_PAID;
    else if (hs_str_eq(st, "VOIDED") || hs_str_eq(st, "DELETED"))
        inv->status = HS_INVOICE_VOID;
    else if (hs_str_eq(st, "AUTHORISED"))
        inv->status = inv->amount_paid.currency[0] != '\0' && inv->amount_paid.minor != 0
                          ? HS_INVOICE_PARTIALLY_PAID
                          : HS_INVOICE_OPEN;
    if (r->id != NULL && xo->app_url != NULL) {
        char *url = hs_asprintf("%s/AccountsReceivable/View.aspx?InvoiceID=%s", xo->app_url, r->id);
        if (url == NULL)
            return HS_ENOMEM;
        rc = hs_fields_set(&r->meta, "url", url);
        hs_free(url);
    }
    return rc;
}

static int parse_payment(const json_t *o, struct hs_record *r, const struct hs_xero_opts *xo,
                         struct hs_error *err)
{
    struct hs_payment *p = &r->payment;
    const json_t *inv = json_object_get(o, "Invoice");
    const char *cur = currency_of(jstr(inv, "CurrencyCode"), xo, err);
    if (cur == NULL)
        return HS_EPROTO;
    memcpy(p->currency, cur, 4);
    int rc = hs_conn_set_str(&p->customer_ref, jtext(json_object_get(inv, "Contact"), "ContactID"));
    if (rc == HS_OK)
        rc = get_date(o, "Date", NULL, &p->date, err);
    if (rc == HS_OK)
        rc = get_money(o, "Amount", cur, &p->amount, err);
    if (rc == HS_OK)
        rc = hs_conn_set_str(&p->reference, jtext(o, "Reference"));
    const char *inv_id = jtext(inv, "InvoiceID");
    if (rc == HS_OK && inv_id != NULL && p->amount.currency[0] != '\0') {
        struct hs_payment_applied *a = NULL;
        rc = hs_record_add_applied(r, &a);
        if (rc == HS_OK)
            rc = hs_conn_set_str(&a->invoice_ref, inv_id);
        if (rc == HS_OK)
            a->amount = p->amount;
    }
    return rc;
}

int hs_xero_conn_parse_record(enum hs_kind kind, const json_t *obj, const struct hs_xero_opts *o,
                              struct hs_record **out, struct hs_error *err)
{
    *out = NULL;
    const char *entity = hs_xero_conn_entity(kind);
    if (entity == NULL)
        return hs_error_set(err, HS_EINVAL, "Xero does not carry %s records",
                            hs_kind_name(kind) != NULL ? hs_kind_name(kind) : "these");
    const char *id = jtext(obj, id_field(kind));
    if (!json_is_object(obj) || id == NULL || strlen(id) > MAX_ID_LEN)
        return hs_error_set(err, HS_EPROTO, "Xero %s element without a valid %s", entity,
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
            rc = parse_customer(obj, r);
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
            hs_error_prefix(err, "cannot read Xero %s '%s'", entity, id);
        hs_record_free(r);
        return rc;
    }
    *out = r;
    return HS_OK;
}

/* ---- answers ----------------------------------------------------------------------------- */

void hs_xero_conn_page_release(struct hs_xero_page *p)
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

/* False for elements of the collection that are not ours (bills, supplier payments). */
static bool ours(enum hs_kind kind, const json_t *obj)
{
    if (kind == HS_KIND_INVOICE) {
        const char *t = jstr(obj, "Type");
        return t == NULL || strcmp(t, "ACCREC") == 0;
    }
    if (kind == HS_KIND_PAYMENT) {
        const char *t = jstr(obj, "PaymentType");
        return t == NULL || strcmp(t, "ACCRECPAYMENT") == 0;
    }
    return true;
}

static int page_add(struct hs_xero_page *p, enum hs_kind kind, const json_t *obj, bool records,
                    const struct hs_xero_opts *o, struct hs_error *err)
{
    const char *id = jtext(obj, id_field(kind));
    if (!json_is_object(obj) || id == NULL || strlen(id) > MAX_ID_LEN)
        return hs_error_set(err, HS_EPROTO, "Xero %s element without a valid %s",
                            hs_xero_conn_entity(kind), id_field(kind));
    if (!ours(kind, obj))
        return HS_OK;
    if (p->n_items >= HS_XERO_MAX_OBJS)
        return hs_error_set(err, HS_ETOOBIG, "Xero answer holds more than %d elements",
                            HS_XERO_MAX_OBJS);
    struct hs_xero_obj *v = hs_reallocarray(p->items, p->n_items + 1, sizeof *v);
    if (v == NULL)
        return HS_ENOMEM;
    p->items = v;
    struct hs_xero_obj *it = &v[p->n_items];
    memset(it, 0, sizeof *it);
    const char *status = jstr(obj, "Status");
    it->deleted = status != NULL && strcmp(status, "DELETED") == 0;
    it->updated_at = updated_ms(obj);
    it->id = hs_strdup(id);
    p->n_items++;
    if (it->id == NULL)
        return HS_ENOMEM;
    if (records && !it->deleted)
        return hs_xero_conn_parse_record(kind, obj, o, &it->rec, err);
    return HS_OK;
}

int hs_xero_conn_parse_list(const uint8_t *buf, size_t len, enum hs_kind kind, bool records,
                            const struct hs_xero_opts *o, struct hs_xero_page *out,
                            struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    const char *entity = hs_xero_conn_entity(kind);
    if (entity == NULL)
        return hs_error_set(err, HS_EINVAL, "Xero does not carry this kind");
    if (len > HS_XERO_MAX_BODY)
        return hs_error_set(err, HS_ETOOBIG, "Xero answer of %zu bytes is too large", len);
    json_t *root = NULL;
    int rc = hs_json_parse_exact(buf, len, "Xero answer", &root, err);
    if (rc != HS_OK)
        return rc;
    const json_t *arr = json_object_get(root, entity);
    if (!json_is_object(root) || !json_is_array(arr)) {
        rc = hs_error_set(err, HS_EPROTO, "Xero answer: no '%s' array", entity);
    } else {
        size_t i;
        const json_t *obj;
        json_array_foreach(arr, i, obj)
        {
            rc = page_add(out, kind, obj, records, o, err);
            if (rc != HS_OK)
                break;
        }
    }
    json_decref(root);
    if (rc != HS_OK) {
        if (rc == HS_ENOMEM)
            hs_error_set(err, HS_ENOMEM, "cannot read Xero answer: out of memory");
        hs_xero_conn_page_release(out);
    }
    return rc;
}

static void copy_text(char *dst, size_t cap, const char *s)
{
    if (cap > 0)
        snprintf(dst, cap, "%s", s != NULL ? s : "");
}

/* The ValidationErrors messages of one element joined by "; " into text. */
static bool validation_text(const json_t *el, char *text, size_t cap)
{
    size_t k;
    const json_t *e;
    size_t used = 0;
    bool any = false;
    json_array_foreach(json_object_get(el, "ValidationErrors"), k, e)
    {
        const char *m = jtext(e, "Message");
        if (m == NULL || used + 1 >= cap)
            continue;
        int w = snprintf(text + used, cap - used, "%s%s", any ? "; " : "", m);
        if (w < 0)
            break;
        used += (size_t)w < cap - used ? (size_t)w : cap - used - 1;
        any = true;
    }
    return any;
}

bool hs_xero_conn_parse_error(const uint8_t *buf, size_t len, char *text, size_t text_cap)
{
    copy_text(text, text_cap, "");
    json_t *root = NULL;
    if (buf == NULL || hs_json_parse_exact(buf, len, "Xero answer", &root, NULL) != HS_OK)
        return false;
    bool found = false;
    size_t k;
    const json_t *el;
    json_array_foreach(json_object_get(root, "Elements"), k, el)
    {
        if (validation_text(el, text, text_cap)) {
            found = true;
            break;
        }
    }
    if (!found && jtext(root, "Message") != NULL) {
        copy_text(text, text_cap, jtext(root, "Message"));
        found = true;
    }
    if (!found && jtext(root, "Detail") != NULL) {
        copy_text(text, text_cap, jtext(root, "Detail"));
        found = true;
    }
    json_decref(root);
    return found;
}

static int write_status(enum hs_kind kind, const char *msg)
{
    if (kind == HS_KIND_CUSTOMER && strstr(msg, "already assigned to another contact") != NULL)
        return HS_EEXIST;
    if (kind == HS_KIND_ITEM && strstr(msg, "already exists") != NULL)
        return HS_EEXIST; /* "Item code 'X' already exists." */
    if (kind == HS_KIND_INVOICE && strstr(msg, "must be unique") != NULL)
        return HS_EEXIST; /* "Invoice # must be unique." */
    if (strstr(msg, "No ") == msg && strstr(msg, "was found") != NULL)
        return HS_ENOTFOUND;
    return HS_EINVAL;
}

int hs_xero_conn_parse_write(const uint8_t *buf, size_t len, enum hs_kind kind,
                             const struct hs_xero_opts *o, const bool *sent,
                             struct hs_write *writes, size_t n, struct hs_error *err)
{
    const char *entity = hs_xero_conn_entity(kind);
    if (entity == NULL)
        return hs_error_set(err, HS_EINVAL, "Xero does not carry this kind");
    if (len > HS_XERO_MAX_BODY)
        return hs_error_set(err, HS_ETOOBIG, "Xero answer of %zu bytes is too large", len);
    json_t *root = NULL;
    int rc = hs_json_parse_exact(buf, len, "Xero write answer", &root, err);
    if (rc != HS_OK)
        return rc;
    const json_t *arr = json_object_get(root, entity);
    if (!json_is_array(arr)) {
        json_decref(root);
        return hs_error_set(err, HS_EPROTO, "Xero write answer: no '%s' array", entity);
    }
    /* results go to side arrays first so that a failure leaves writes untouched */
    struct hs_record **res = hs_calloc(n + 1, sizeof(struct hs_record *));
    int *st = hs_calloc(n + 1, sizeof *st);
    char(*msgs)[HS_ERRMSG_MAX] = hs_calloc(n + 1, sizeof *msgs);
    if (res == NULL || st == NULL || msgs == NULL) {
        rc = HS_ENOMEM;
        goto done;
    }
    size_t k = 0; /* next answer element */
    for (size_t i = 0; i < n; i++) {
        if (!sent[i])
            continue;
        const json_t *el = json_array_get(arr, k++);
        if (!json_is_object(el)) {
            st[i] = HS_EPROTO;
            copy_text(msgs[i], HS_ERRMSG_MAX, "Xero gave no answer for this record");
            continue;
        }
        const char *sas = jstr(el, "StatusAttributeString");
        bool failed = hs_str_eq(sas, "ERROR") ||
                      (sas == NULL && json_array_size(json_object_get(el, "ValidationErrors")) > 0);
        if (failed) {
            if (!validation_text(el, msgs[i], HS_ERRMSG_MAX))
                copy_text(msgs[i], HS_ERRMSG_MAX, "Xero refused the record");
            st[i] = write_status(kind, msgs[i]);
            continue;
        }
        struct hs_error perr;
        hs_error_clear(&perr);
        int prc = hs_xero_conn_parse_record(kind, el, o, &res[i], &perr);
        if (prc == HS_ENOMEM) {
            rc = HS_ENOMEM;
            goto done;
        }
        st[i] = prc;
        copy_text(msgs[i], HS_ERRMSG_MAX, prc == HS_OK ? "" : perr.msg);
        /* a WARNING keeps the record; its message goes along */
        if (prc == HS_OK && hs_str_eq(sas, "WARNING"))
            (void)validation_text(el, msgs[i], HS_ERRMSG_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        if (!sent[i])
            continue;
        writes[i].status = st[i];
        copy_text(writes[i].msg, sizeof writes[i].msg, msgs[i]);
        hs_record_free(writes[i].result);
        writes[i].result = res[i];
        res[i] = NULL;
    }
done:
    if (res != NULL)
        for (size_t i = 0; i < n; i++)
            hs_record_free(res[i]);
    hs_free(res);
    hs_free(st);
    hs_free(msgs);
    json_decref(root);
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "cannot read Xero write answer: out of memory");
    return rc;
}

void hs_xero_conn_item_refs_free(struct hs_xero_item_ref *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        hs_free(v[i].id);
        hs_free(v[i].code);
    }
    hs_free(v);
}

int hs_xero_conn_parse_item_refs(const uint8_t *buf, size_t len, struct hs_xero_item_ref **out,
                                 size_t *n_out, struct hs_error *err)
{
    *out = NULL;
    *n_out = 0;
    if (len > HS_XERO_MAX_BODY)
        return hs_error_set(err, HS_ETOOBIG, "Xero answer of %zu bytes is too large", len);
    json_t *root = NULL;
    int rc = hs_json_parse_exact(buf, len, "Xero answer", &root, err);
    if (rc != HS_OK)
        return rc;
    const json_t *arr = json_object_get(root, "Items");
    size_t n = json_array_size(arr);
    if (!json_is_array(arr))
        rc = hs_error_set(err, HS_EPROTO, "Xero answer: no 'Items' array");
    else if (n > HS_XERO_MAX_OBJS)
        rc =
            hs_error_set(err, HS_ETOOBIG, "Xero answer holds more than %d items", HS_XERO_MAX_OBJS);
    struct hs_xero_item_ref *v = NULL;
    size_t used = 0;
    if (rc == HS_OK && n > 0 && (v = hs_calloc(n, sizeof *v)) == NULL)
        rc = HS_ENOMEM;
    for (size_t i = 0; rc == HS_OK && i < n; i++) {
        const json_t *it = json_array_get(arr, i);
        const char *id = jtext(it, "ItemID");
        const char *code = jtext(it, "Code");
        if (id == NULL || code == NULL)
            continue;
        v[used].id = hs_strdup(id);
        v[used].code = hs_strdup(code);
        used++;
        if (v[used - 1].id == NULL || v[used - 1].code == NULL)
            rc = HS_ENOMEM;
    }
    json_decref(root);
    if (rc != HS_OK) {
        hs_xero_conn_item_refs_free(v, used);
        if (rc == HS_ENOMEM)
            hs_error_set(err, HS_ENOMEM, "cannot read Xero items: out of memory");
        return rc;
    }
    *out = v;
    *n_out = used;
    return HS_OK;
}

/* ---- webhooks ---------------------------------------------------------------------------- */

int hs_xero_conn_parse_webhook(const uint8_t *buf, size_t len, const char *tenant,
                               struct hs_changes *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    if (len > HS_XERO_MAX_BODY)
        return hs_error_set(err, HS_ETOOBIG, "Xero webhook of %zu bytes is too large", len);
    json_t *root = NULL;
    int rc = hs_json_parse_exact(buf, len, "Xero webhook", &root, err);
    if (rc != HS_OK)
        return rc;
    const json_t *events = json_object_get(root, "events");
    if (!json_is_array(events))
        rc = hs_error_set(err, HS_EPROTO, "Xero webhook: no 'events' array");
    size_t i;
    const json_t *e;
    json_array_foreach(events, i, e)
    {
        if (rc != HS_OK)
            break;
        const char *cat = jstr(e, "eventCategory");
        const char *t = jstr(e, "tenantId");
        const char *id = jtext(e, "resourceId");
        enum hs_kind kind = hs_str_eq(cat, "CONTACT")   ? HS_KIND_CUSTOMER
                            : hs_str_eq(cat, "INVOICE") ? HS_KIND_INVOICE
                                                        : HS_KIND_NONE;
        if (kind == HS_KIND_NONE || id == NULL || strlen(id) > MAX_ID_LEN ||
            (tenant != NULL && (t == NULL || !hs_str_ieq(t, tenant))))
            continue;
        const char *at = jstr(e, "eventDateUtc");
        int64_t ms = 0;
        if (at == NULL || hs_xero_conn_time_parse(at, strlen(at), &ms) != HS_OK)
            ms = 0;
        if (out->n_items >= HS_XERO_MAX_OBJS) {
            rc = hs_error_set(err, HS_ETOOBIG, "Xero webhook: too many events");
            break;
        }
        rc = hs_changes_add(out, kind, id, ms, false);
    }
    json_decref(root);
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "cannot read Xero webhook: out of memory");
    if (rc != HS_OK)
        hs_changes_release(out);
    return rc;
}

/* ---- cursors ------------------------------------------------------------------------------ */

uint64_t hs_xero_conn_version_hash(const char *id, int64_t updated_ms)
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

bool hs_xero_conn_cursor_seen(const struct hs_xero_cursor *c, uint64_t h)
{
    for (size_t i = 0; i < c->n_seen; i++)
        if (c->seen[i] == h)
            return true;
    return false;
}

bool hs_xero_conn_cursor_add_seen(struct hs_xero_cursor *c, uint64_t h)
{
    if (hs_xero_conn_cursor_seen(c, h))
        return true;
    if (c->n_seen >= HS_XERO_SEEN_MAX)
        return false;
    c->seen[c->n_seen++] = h;
    return true;
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

int hs_xero_conn_cursor_parse(const char *s, size_t len, struct hs_xero_cursor *out,
                              struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    if (s == NULL || len < 3 || memcmp(s, "x1|", 3) != 0)
        return hs_error_set(err, HS_EINVAL, "invalid Xero cursor: expected 'x1|<ms>|<page>'");
    const char *p = s + 3;
    const char *end = s + len;
    const char *bar = memchr(p, '|', (size_t)(end - p));
    if (bar == NULL || !canon_i64(p, (size_t)(bar - p), &out->since_ms) ||
        out->since_ms > INT64_C(253402300799000))
        return hs_error_set(err, HS_EINVAL, "invalid Xero cursor: bad time");
    p = bar + 1;
    bar = memchr(p, '|', (size_t)(end - p));
    const char *pend = bar != NULL ? bar : end;
    if (!canon_i64(p, (size_t)(pend - p), &out->page) || out->page < 1 ||
        out->page > INT64_C(100000000))
        return hs_error_set(err, HS_EINVAL, "invalid Xero cursor: bad page");
    if (bar == NULL)
        return HS_OK;
    for (p = bar + 1;;) {
        if (end - p < 16 || out->n_seen >= HS_XERO_SEEN_MAX)
            return hs_error_set(err, HS_EINVAL, "invalid Xero cursor: bad version list");
        uint64_t h = 0;
        for (int i = 0; i < 16; i++) {
            int v = hexval(p[i]);
            if (v < 0)
                return hs_error_set(err, HS_EINVAL, "invalid Xero cursor: bad version list");
            h = (h << 4) | (uint64_t)v;
        }
        /* canonical: no repeats, so that the list formats back to the same text */
        if (hs_xero_conn_cursor_seen(out, h))
            return hs_error_set(err, HS_EINVAL, "invalid Xero cursor: bad version list");
        out->seen[out->n_seen++] = h;
        p += 16;
        if (p == end)
            return HS_OK;
        if (*p != ',')
            return hs_error_set(err, HS_EINVAL, "invalid Xero cursor: bad version list");
        p++;
    }
}

char *hs_xero_conn_cursor_format(const struct hs_xero_cursor *c)
{
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = hs_buf_printf(&b, "x1|%lld|%lld", (long long)c->since_ms, (long long)c->page);
    for (size_t i = 0; rc == HS_OK && i < c->n_seen; i++)
        rc = hs_buf_printf(&b, "%c%016llx", i == 0 ? '|' : ',', (unsigned long long)c->seen[i]);
    char *out = rc == HS_OK ? hs_buf_detach(&b) : NULL;
    hs_buf_release(&b);
    return out;
}

void hs_xero_conn_cursor_next(const struct hs_xero_cursor *cur, int64_t newest_ms, bool full,
                              struct hs_xero_cursor *out, bool *out_more)
{
    int64_t newest_sec = newest_ms > 0 ? newest_ms - newest_ms % 1000 : 0;
    out->since_ms = cur->since_ms;
    out->page = cur->page;
    out->n_seen = 0;
    if (full) {
        *out_more = true;
        if (newest_sec > cur->since_ms) {
            out->since_ms = newest_sec;
            out->page = 1;
        } else {
            out->page = cur->page + 1; /* a whole page in one second: page through the tie */
        }
        return;
    }
    *out_more = false;
    out->page = 1;
    if (newest_sec > cur->since_ms)
        out->since_ms = newest_sec;
}

/* ---- building elements --------------------------------------------------------------------- */

static int add_address(json_t *arr, const char *type, const struct hs_address *a)
{
    json_t *v = json_pack("{s:s}", "AddressType", type);
    int rc = v != NULL ? HS_OK : HS_ENOMEM;
    /* an empty address blanks Xero's: every line sent empty */
    if (rc == HS_OK)
        rc = hs_conn_put(v, "AddressLine1", json_string(a->line1 != NULL ? a->line1 : ""));
    if (rc == HS_OK)
        rc = hs_conn_put(v, "AddressLine2", json_string(a->line2 != NULL ? a->line2 : ""));
    if (rc == HS_OK)
        rc = hs_conn_put(v, "AddressLine3", json_string(a->line3 != NULL ? a->line3 : ""));
    if (rc == HS_OK)
        rc = hs_conn_put(v, "City", json_string(a->city != NULL ? a->city : ""));
    if (rc == HS_OK)
        rc = hs_conn_put(v, "Region", json_string(a->region != NULL ? a->region : ""));
    if (rc == HS_OK)
        rc = hs_conn_put(v, "PostalCode", json_string(a->postcode != NULL ? a->postcode : ""));
    if (rc == HS_OK)
        rc = hs_conn_put(v, "Country", json_string(a->country));
    if (rc == HS_OK && json_array_append_new(arr, v) != 0)
        return HS_ENOMEM;
    if (rc != HS_OK)
        json_decref(v);
    return rc;
}

static int build_customer(const struct hs_record *r, bool create, const char *idem_key, json_t *o)
{
    const struct hs_customer *c = &r->customer;
    /* the person is written only where it is ours (hs_xero_conn_owned): the engine leaves an
     * unsynced person alone, and so does this, whoever asks */
    bool person =
        create || !hs_merge_path_listed(hs_fields_get(&r->meta, HS_META_UNSYNCED), "email");
    int rc = hs_conn_put_str(o, "Name", c->display_name);
    if (rc == HS_OK && person)
        rc = hs_conn_put_str(o, "FirstName", c->given_name);
    if (rc == HS_OK && person)
        rc = hs_conn_put_str(o, "LastName", c->family_name);
    if (rc == HS_OK && person)
        rc = hs_conn_put_str(o, "EmailAddress", c->email);
    /* Website is read only in Xero's API (the spec; xero.c declares it read_only): not sent */
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "TaxNumber", c->tax_id);
    if (rc == HS_OK && c->phone != NULL)
        rc =
            hs_conn_put(o, "Phones",
                        json_pack("[{s:s, s:s}]", "PhoneType", "DEFAULT", "PhoneNumber", c->phone));
    if (rc == HS_OK && (!hs_conn_address_empty(&c->billing_address) ||
                        !hs_conn_address_empty(&c->shipping_address) || !create)) {
        json_t *arr = json_array();
        rc = arr != NULL ? HS_OK : HS_ENOMEM;
        if (rc == HS_OK && (!create || !hs_conn_address_empty(&c->billing_address)))
            rc = add_address(arr, "POBOX", &c->billing_address);
        if (rc == HS_OK && (!create || !hs_conn_address_empty(&c->shipping_address)))
            rc = add_address(arr, "STREET", &c->shipping_address);
        if (rc == HS_OK)
            rc = hs_conn_put(o, "Addresses", arr);
        else
            json_decref(arr);
    }
    if (rc == HS_OK && c->currency[0] != '\0')
        rc = hs_conn_put_str(o, "DefaultCurrency", c->currency);
    if (rc == HS_OK && c->active != HS_TRI_UNSET)
        rc = hs_conn_put_str(o, "ContactStatus", c->active == HS_TRI_TRUE ? "ACTIVE" : "ARCHIVED");
    /* ContactPersons (the other persons) are never sent: Xero replaces the whole list with
     * what is sent, and they are the accounts team's. A contact we create is marked ours by
     * its ContactNumber ("used to identify contacts in external systems"), so that its
     * person, the CRM contact, is kept in sync later (hs_xero_conn_owned). */
    if (rc == HS_OK && create && idem_key != NULL && idem_key[0] != '\0') {
        char num[HS_XERO_CONTACT_NUMBER_MAX + 1];
        snprintf(num, sizeof num, "%s%s", HS_XERO_OWN_PREFIX, idem_key);
        rc = hs_conn_put_str(o, "ContactNumber", num);
    }
    if (rc == HS_OK && create)
        rc = hs_conn_put(o, "IsCustomer", json_true());
    return rc;
}

/* The first max_chars characters of s (UTF-8), new string. */
static char *utf8_prefix(const char *s, size_t max_chars)
{
    size_t chars = 0, k = 0;
    for (; s[k] != '\0'; k++)
        if (((unsigned char)s[k] & 0xC0) != 0x80 && ++chars > max_chars)
            break;
    return hs_strndup(s, k);
}

static int build_item(const struct hs_record *r, bool create, const struct hs_xero_opts *xo,
                      json_t *o, struct hs_error *err)
{
    const struct hs_item *it = &r->item;
    if (it->unit_price.currency[0] != '\0' &&
        strcmp(it->unit_price.currency, xo->base_currency) != 0)
        return hs_error_set(err, HS_EINVAL,
                            "item price is in %s but Xero keeps item prices in the base "
                            "currency %s",
                            it->unit_price.currency, xo->base_currency);
    int rc = HS_OK;
    if (it->sku != NULL) {
        rc = hs_conn_put_str(o, "Code", it->sku);
    } else if (create) {
        if (it->name == NULL)
            return hs_error_set(err, HS_EINVAL,
                                "Xero needs an item code: the item has no SKU "
                                "and no name");
        /* no SKU: the code is the name's first 30 characters, as a user would type it */
        char *code = utf8_prefix(it->name, 30);
        rc = code != NULL ? hs_conn_put_str(o, "Code", code) : HS_ENOMEM;
        hs_free(code);
    }
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "Name", it->name);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "Description", it->description);
    const char *acct = it->income_account_ref != NULL ? it->income_account_ref : xo->sales_account;
    if (rc == HS_OK && (it->unit_price.currency[0] != '\0' || create)) {
        json_t *d = json_object();
        rc = d != NULL ? HS_OK : HS_ENOMEM;
        if (rc == HS_OK)
            rc = hs_conn_put_money(d, "UnitPrice", &it->unit_price);
        if (rc == HS_OK)
            rc = hs_conn_put_str(d, "AccountCode", acct);
        if (rc == HS_OK)
            rc = hs_conn_put(o, "SalesDetails", d);
        else
            json_decref(d);
    }
    if (rc == HS_OK && create)
        rc = hs_conn_put(o, "IsSold", json_true());
    return rc;
}

static int line_error(struct hs_error *err, size_t i, const char *why)
{
    return hs_error_set(err, HS_EINVAL, "invoice line %zu: %s", i + 1, why);
}

static int build_line(const struct hs_invoice_line *ln, size_t i, const char *cur,
                      const struct hs_xero_opts *xo, json_t *arr, struct hs_error *err)
{
    if ((ln->unit_price.currency[0] != '\0' && strcmp(ln->unit_price.currency, cur) != 0) ||
        (ln->amount.currency[0] != '\0' && strcmp(ln->amount.currency, cur) != 0))
        return line_error(err, i, "amount in another currency than the invoice");
    const char *code = NULL;
    if (ln->item_ref != NULL && (code = item_code_of_id(xo, ln->item_ref)) == NULL)
        return line_error(err, i, "its item is not among Xero's items (was it deleted?)");
    json_t *l = json_object();
    if (l == NULL)
        return HS_ENOMEM;
    int rc = hs_conn_put_str(l, "Description", ln->description != NULL ? ln->description : "");
    if (rc == HS_OK)
        rc = hs_conn_put_str(l, "ItemCode", code);
    if (rc == HS_OK && ln->has_quantity)
        rc = hs_conn_put(l, "Quantity", hs_json_decimal_new(ln->quantity));
    if (rc == HS_OK)
        rc = hs_conn_put_money(l, "UnitAmount", &ln->unit_price);
    if (rc == HS_OK && ln->has_discount_percent && ln->discount_percent.v != 0)
        rc = hs_conn_put(l, "DiscountRate", hs_json_decimal_new(ln->discount_percent));
    /* the amount goes along as a check: Xero refuses a line whose total it computes otherwise */
    if (rc == HS_OK)
        rc = hs_conn_put_money(l, "LineAmount", &ln->amount);
    if (rc == HS_OK && !(ln->has_quantity && ln->unit_price.currency[0] != '\0') &&
        ln->amount.currency[0] == '\0' && ln->item_ref == NULL)
        rc = line_error(err, i, "no amount, and no quantity and unit price to compute it");
    if (rc == HS_OK)
        rc = hs_conn_put_str(l, "TaxType", ln->tax_code);
    if (rc == HS_OK && code == NULL)
        rc = hs_conn_put_str(l, "AccountCode", xo->sales_account);
    if (rc == HS_OK)
        return json_array_append_new(arr, l) == 0 ? HS_OK : HS_ENOMEM;
    json_decref(l);
    return rc;
}

static const char *tax_mode_name(enum hs_tax_mode m)
{
    switch (m) {
    case HS_TAX_EXCLUSIVE:
        return "Exclusive";
    case HS_TAX_INCLUSIVE:
        return "Inclusive";
    case HS_TAX_NONE:
        return "NoTax";
    default:
        return NULL;
    }
}

static int build_invoice(const struct hs_record *r, bool create, const struct hs_xero_opts *xo,
                         json_t *o, struct hs_error *err)
{
    const struct hs_invoice *inv = &r->invoice;
    const char *cur = inv->currency[0] != '\0' ? inv->currency : xo->base_currency;
    int rc = hs_conn_put_str(o, "Type", "ACCREC");
    if (rc == HS_OK && inv->customer_ref != NULL)
        rc = hs_conn_put(o, "Contact", json_pack("{s:s}", "ContactID", inv->customer_ref));
    if (rc == HS_OK && inv->currency[0] != '\0')
        rc = hs_conn_put_str(o, "CurrencyCode", inv->currency);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "InvoiceNumber", inv->number);
    if (rc == HS_OK)
        rc = hs_conn_put_date(o, "Date", inv->issue_date);
    if (rc == HS_OK)
        rc = hs_conn_put_date(o, "DueDate", inv->due_date);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "LineAmountTypes", tax_mode_name(inv->tax_mode));
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "Reference", inv->memo);
    /* "URL link to a source document - shown as 'Go to [appName]' in the Xero app": the deal
     * the invoice was made from; set on create only */
    const char *src = hs_fields_get(&r->meta, "source_url");
    if (rc == HS_OK && create && src != NULL && hs_str_starts(src, "https://") &&
        strlen(src) <= 2000)
        rc = hs_conn_put_str(o, "Url", src);
    const char *status = NULL;
    if (inv->status == HS_INVOICE_VOID)
        status = create ? NULL : "VOIDED";
    else if (inv->status == HS_INVOICE_DRAFT)
        status = create ? "DRAFT" : NULL;
    else if (create)
        status = xo->invoice_status;
    if (rc == HS_OK && create && inv->status == HS_INVOICE_VOID)
        return hs_error_set(err, HS_EINVAL, "cannot create a void invoice in Xero");
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "Status", status);
    json_t *arr = rc == HS_OK ? json_array() : NULL;
    if (rc == HS_OK && arr == NULL)
        rc = HS_ENOMEM;
    for (size_t i = 0; rc == HS_OK && i < inv->n_lines; i++)
        rc = build_line(&inv->lines[i], i, cur, xo, arr, err);
    if (rc == HS_OK)
        return hs_conn_put(o, "LineItems", arr);
    json_decref(arr);
    return rc;
}

static int build_payment(const struct hs_record *r, bool create, const struct hs_xero_opts *xo,
                         json_t *o, struct hs_error *err)
{
    const struct hs_payment *p = &r->payment;
    if (!create)
        return hs_error_set(err, HS_EINVAL,
                            "Xero payments cannot be changed: delete the payment and record it "
                            "again");
    if (p->n_applied != 1 || p->applied[0].invoice_ref == NULL)
        return hs_error_set(err, HS_EINVAL,
                            "a Xero payment applies to exactly one invoice (this one has %zu)",
                            p->n_applied);
    const struct hs_money *amount =
        p->applied[0].amount.currency[0] != '\0' ? &p->applied[0].amount : &p->amount;
    if (amount->currency[0] == '\0')
        return hs_error_set(err, HS_EINVAL, "payment has no amount");
    int rc = hs_conn_put(o, "Invoice", json_pack("{s:s}", "InvoiceID", p->applied[0].invoice_ref));
    if (rc == HS_OK)
        rc = hs_conn_put(o, "Account", json_pack("{s:s}", "Code", xo->payment_account));
    if (rc == HS_OK)
        rc = hs_conn_put_date(o, "Date", p->date);
    if (rc == HS_OK)
        rc = hs_conn_put_money(o, "Amount", amount);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "Reference", p->reference);
    return rc;
}

/* Canonical field path prefix -> the Xero element it lives in. */
struct fmap {
    const char *prefix;
    const char *key;
    bool blank; /* a plain string Xero blanks when sent "" */
};

static const struct fmap customer_map[] = {
    {"display_name", "Name", false},
    {"given_name", "FirstName", true},
    {"family_name", "LastName", true},
    {"email", "EmailAddress", true},
    {"phone", "Phones", false},
    {"billing_address", "Addresses", false},
    {"shipping_address", "Addresses", false},
    {"tax_id", "TaxNumber", true},
    {"currency", "DefaultCurrency", false},
    {"active", "ContactStatus", false},
    {NULL, NULL, false},
};
static const struct fmap item_map[] = {
    {"name", "Name", false},
    {"sku", "Code", false},
    {"description", "Description", true},
    {"unit_price", "SalesDetails", false},
    {"income_account_ref", "SalesDetails", false},
    {NULL, NULL, false},
};
static const struct fmap invoice_map[] = {
    {"number", "InvoiceNumber", false},  {"customer_ref", "Contact", false},
    {"currency", "CurrencyCode", false}, {"issue_date", "Date", false},
    {"due_date", "DueDate", false},      {"tax_mode", "LineAmountTypes", false},
    {"lines", "LineItems", false},       {"memo", "Reference", true},
    {"status", "Status", false},         {NULL, NULL, false},
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

/* Keeps only the elements named by w->fields; blanks the plain strings that went away. */
static int partial_select(enum hs_kind kind, const struct hs_write *w, json_t *full, json_t *out,
                          size_t *n_selected)
{
    *n_selected = 0;
    const char *unsynced = hs_fields_get(&w->record->meta, HS_META_UNSYNCED);
    for (const struct fmap *m = fmap_of(kind); m->prefix != NULL; m++) {
        if (hs_merge_path_listed(unsynced, m->prefix))
            continue; /* not ours to write (hs_xero_conn_owned) */
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
            continue; /* references, dates and amounts are not blanked */
        if (rc != HS_OK)
            return rc;
        (*n_selected)++;
    }
    /* the amount type travels with the lines: Xero reads lines by it */
    json_t *lat = json_object_get(full, "LineAmountTypes");
    if (lat != NULL && json_object_get(out, "LineItems") != NULL)
        return hs_conn_put(out, "LineAmountTypes", json_incref(lat));
    return HS_OK;
}

int hs_xero_conn_build(enum hs_kind kind, const struct hs_write *w, const struct hs_xero_opts *o,
                       json_t **out, struct hs_error *err)
{
    *out = NULL;
    const struct hs_record *r = w->record;
    if (r == NULL || r->kind != kind || hs_xero_conn_entity(kind) == NULL)
        return hs_error_set(err, HS_EINVAL, "Xero cannot write this record");
    bool create = w->op == HS_WRITE_CREATE;
    if (!create && r->id == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot update Xero %s: the record has no id",
                            hs_xero_conn_entity(kind));
    json_t *full = json_object();
    if (full == NULL)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    int rc;
    switch (kind) {
    case HS_KIND_CUSTOMER:
        rc = build_customer(r, create, w->idem_key, full);
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
        return HS_OK; /* nothing Xero stores changes */
    }
    if (rc == HS_OK)
        rc = hs_conn_put(part, id_field(kind), json_string(r->id));
    if (rc != HS_OK) {
        json_decref(part);
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    }
    *out = part;
    return HS_OK;
}

void hs_xero_conn_idem_key(const char *tenant, enum hs_kind kind, const struct hs_write *writes,
                           const char *const *bodies, size_t n, char out[36])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    const char *k = hs_kind_name(kind) != NULL ? hs_kind_name(kind) : "";
    tenant = tenant != NULL ? tenant : "";
    crypto_hash_sha256_update(&st, (const unsigned char *)"xero", 5);
    crypto_hash_sha256_update(&st, (const unsigned char *)tenant, strlen(tenant) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)k, strlen(k) + 1);
    for (size_t i = 0; i < n; i++) {
        if (bodies[i] == NULL)
            continue; /* not sent */
        const struct hs_write *w = &writes[i];
        bool by_key = w->op == HS_WRITE_CREATE && w->idem_key != NULL;
        const char *tag = by_key ? "c" : "b";
        const char *v = by_key ? w->idem_key : bodies[i];
        char idx[24];
        snprintf(idx, sizeof idx, "%zu", i);
        crypto_hash_sha256_update(&st, (const unsigned char *)idx, strlen(idx) + 1);
        crypto_hash_sha256_update(&st, (const unsigned char *)tag, 1);
        crypto_hash_sha256_update(&st, (const unsigned char *)v, strlen(v) + 1);
    }
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "hs-", 3);
    for (size_t i = 0; i < 16; i++) {
        out[3 + 2 * i] = hex[h[i] >> 4];
        out[4 + 2 * i] = hex[h[i] & 15];
    }
    out[35] = '\0';
}
