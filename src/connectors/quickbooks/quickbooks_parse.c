/*
 * connectors/quickbooks/quickbooks_parse.c - QuickBooks Online JSON <-> canonical records.
 *
 * Design:     no I/O: bytes in, structs out, and records in, entity bodies out. Answers are
 *             parsed with hs_json_parse_exact, so every amount, quantity and price is read
 *             from its exact text (never a double) at the currency's exponent:
 *               Customer  DisplayName, CompanyName, GivenName, FamilyName, PrimaryEmailAddr,
 *                         PrimaryPhone, WebAddr, BillAddr/ShipAddr, PrimaryTaxIdentifier,
 *                         CurrencyRef, SalesTermRef (name), Notes, Active
 *               Item      Name, Sku, Description, UnitPrice (home currency),
 *                         IncomeAccountRef, Taxable, Active
 *               Invoice   DocNumber, CustomerRef, CurrencyRef, TxnDate, DueDate,
 *                         GlobalTaxCalculation, Line (SalesItemLineDetail, DiscountLineDetail as
 *                         a line without item and a negative amount, DescriptionOnly),
 *                         SubTotal/TxnTaxDetail.TotalTax/TotalAmt/Balance, PrivateNote; status
 *                         from Balance (void: zero total and PrivateNote "Voided")
 *               Payment   CustomerRef, TxnDate, TotalAmt, CurrencyRef, PaymentMethodRef,
 *                         PaymentRefNum, Line[].LinkedTxn (Invoice) -> applied, PrivateNote
 *             In TaxInclusive invoices a line's canonical amount is its gross
 *             (TaxInclusiveAmt), as the canonical model defines amounts by the tax mode, and it
 *             is what QuickBooks takes as Amount when we write in that mode.
 *             Unit prices may carry more decimals than the currency (QuickBooks allows it);
 *             such a price is rounded half up to the currency, the only rounding on read.
 *             Writing builds the entity from the record; a sparse update keeps only the
 *             top-level elements the changed field paths map to (table per kind) and
 *             blanks those whose value went away.
 * Invariants: every record returned passes hs_record_validate; webhook changes carry their
 *             kind and the plain QuickBooks id.
 * Ownership:  see quickbooks_int.h.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "connectors/common/build.h"
#include "connectors/common/fields.h"
#include "connectors/quickbooks/quickbooks_int.h"
#include "core/currency.h"
#include "core/tax.h"
#include "util/alloc.h"
#include "util/civil.h"
#include "util/jsonnum.h"
#include "util/str.h"

#define MAX_ID_LEN 64

/* ---- small helpers --------------------------------------------------------------------- */

const char *hs_quickbooks_entity(enum hs_kind kind)
{
    switch (kind) {
    case HS_KIND_CUSTOMER:
        return "Customer";
    case HS_KIND_ITEM:
        return "Item";
    case HS_KIND_INVOICE:
        return "Invoice";
    case HS_KIND_PAYMENT:
        return "Payment";
    default:
        return NULL;
    }
}

static const char *jstr(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || hs_json_is_number(v))
        return NULL;
    return json_string_value(v);
}

/* An id: a string or a number's text (QuickBooks sends ids as strings; be lenient). */
static const char *jid(const json_t *o, const char *key)
{
    return hs_json_num_text(json_object_get(o, key));
}

static const char *ref_value(const json_t *o, const char *key)
{
    return jid(json_object_get(o, key), "value");
}

static bool digits_at(const char *s, const char *end, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s + i >= end || s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int hs_quickbooks_time_parse(const char *s, size_t len, int64_t *out_ms)
{
    if (s == NULL)
        return HS_EINVAL;
    const char *p = s;
    const char *end = s + len;
    int y, mo, d, hh = 0, mi = 0, ss = 0;
    if (!digits_at(p, end, 4, &y) || p + 10 > end || p[4] != '-' ||
        !digits_at(p + 5, end, 2, &mo) || p[7] != '-' || !digits_at(p + 8, end, 2, &d))
        return HS_EINVAL;
    struct hs_date date = {(int16_t)y, (int8_t)mo, (int8_t)d};
    if (!hs_date_valid(date))
        return HS_EINVAL;
    p += 10;
    int64_t ms = 0;
    int64_t off_min = 0;
    if (p < end) {
        if (*p != 'T' || !digits_at(p + 1, end, 2, &hh) || p + 3 >= end || p[3] != ':' ||
            !digits_at(p + 4, end, 2, &mi))
            return HS_EINVAL;
        p += 6;
        if (p < end && *p == ':') {
            if (!digits_at(p + 1, end, 2, &ss))
                return HS_EINVAL;
            p += 3;
        }
        if (hh > 23 || mi > 59 || ss > 60)
            return HS_EINVAL;
        if (p < end && *p == '.') {
            p++;
            int nd = 0;
            while (p < end && *p >= '0' && *p <= '9') {
                if (nd < 3)
                    ms = ms * 10 + (*p - '0');
                nd++;
                p++;
            }
            if (nd == 0 || nd > 9)
                return HS_EINVAL;
            for (int k = nd; k < 3; k++)
                ms *= 10;
        }
        if (p < end && (*p == 'Z' || *p == 'z')) {
            p++;
        } else if (p < end && (*p == '+' || *p == '-')) {
            int oh, om;
            if (!digits_at(p + 1, end, 2, &oh) || p + 3 >= end || p[3] != ':' ||
                !digits_at(p + 4, end, 2, &om) || oh > 23 || om > 59)
                return HS_EINVAL;
            off_min = (int64_t)oh * 60 + om;
            if (*p == '-')
                off_min = -off_min;
            p += 6;
        }
    }
    if (p != end)
        return HS_EINVAL;
    int64_t secs =
        hs_days_from_civil(y, mo, d) * 86400 + (int64_t)hh * 3600 + (int64_t)mi * 60 + ss;
    *out_ms = (secs - off_min * 60) * 1000 + ms;
    return HS_OK;
}

static int64_t updated_ms(const json_t *obj, const char **out_text)
{
    const char *t = jstr(json_object_get(obj, "MetaData"), "LastUpdatedTime");
    int64_t ms = 0;
    if (out_text != NULL)
        *out_text = t;
    if (t == NULL || hs_quickbooks_time_parse(t, strlen(t), &ms) != HS_OK)
        return 0;
    return ms;
}

static int get_date(const json_t *o, const char *key, struct hs_date *out, struct hs_error *err)
{
    const char *s = jstr(o, key);
    if (s == NULL)
        return HS_OK;
    if (hs_date_parse(s, strlen(s), out, err) != HS_OK)
        return hs_error_set(err, HS_EPROTO, "field '%s': invalid date '%.20s'", key, s);
    return HS_OK;
}

/* Turns a value error already described in err into the answer's protocol error. */
static int as_proto(struct hs_error *err)
{
    if (err != NULL)
        err->code = HS_EPROTO;
    return HS_EPROTO;
}

/* Exact amount, absent stays absent. */
static int get_money(const json_t *o, const char *key, const char *cur, struct hs_money *out,
                     struct hs_error *err)
{
    struct hs_money m;
    int rc = hs_json_money(o, key, cur, &m, err);
    if (rc == HS_ENOTFOUND)
        return HS_OK;
    if (rc != HS_OK)
        return as_proto(err);
    *out = m;
    return HS_OK;
}

/* A price: exact when it fits the currency, else rounded half up (see the design note). */
static int get_price(const json_t *o, const char *key, const char *cur, struct hs_money *out,
                     struct hs_error *err)
{
    const char *text = hs_json_num_text(json_object_get(o, key));
    if (text == NULL)
        return get_money(o, key, cur, out, err); /* absent, or the shape error */
    if (hs_money_parse(text, strlen(text), cur, HS_ROUND_HALF_UP, out, err) != HS_OK) {
        hs_error_prefix(err, "field '%s'", key);
        return as_proto(err);
    }
    return HS_OK;
}

static int get_decimal(const json_t *o, const char *key, struct hs_decimal *out, bool *has,
                       struct hs_error *err)
{
    const char *text = hs_json_num_text(json_object_get(o, key));
    if (json_object_get(o, key) == NULL || json_is_null(json_object_get(o, key)))
        return HS_OK;
    if (text == NULL || hs_decimal_parse(text, strlen(text), HS_ROUND_HALF_UP, out, err) != HS_OK) {
        hs_error_set(err, HS_EPROTO, "field '%s': expected a decimal number", key);
        return HS_EPROTO;
    }
    *has = true;
    return HS_OK;
}

static enum hs_tri get_tri(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_boolean(v))
        return HS_TRI_UNSET;
    return hs_tri_of(json_is_true(v));
}

/* Country as QuickBooks stores it (free text) -> ISO alpha-2 when recognisable. */
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

static int parse_address(const json_t *a, struct hs_address *out)
{
    if (!json_is_object(a))
        return HS_OK;
    int rc = hs_conn_set_str(&out->line1, jstr(a, "Line1"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&out->line2, jstr(a, "Line2"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&out->line3, jstr(a, "Line3"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&out->city, jstr(a, "City"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&out->region, jstr(a, "CountrySubDivisionCode"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&out->postcode, jstr(a, "PostalCode"));
    set_country(out->country, jstr(a, "Country"));
    return rc;
}

static void set_currency(char out[4], const char *code)
{
    out[0] = '\0';
    if (code != NULL && hs_currency_find(code) != NULL)
        memcpy(out, code, 4);
}

/* ---- field names (describe_fields) ------------------------------------------------------- */

/* What parse_customer, parse_address and parse_item below read, element by element: the names
 * hoopsync.yaml's `mappings:` may use for QuickBooks fields.
 * tests/unit/test_conn_fields_quickbooks.c proves every row against those functions and that every
 * field they fill has a row, so an edit of one without the other fails there. Invoices and payments
 * are built by the invoice step, which `mappings:` does not drive: they have no names here. */
#define C HS_KIND_CUSTOMER
#define I HS_KIND_ITEM
static const struct hs_conn_field_row field_rows[] = {
    {C, "DisplayName", "display_name"},
    {C, "CompanyName", "company_name"},
    {C, "GivenName", "given_name"},
    {C, "FamilyName", "family_name"},
    {C, "PrimaryEmailAddr.Address", "email"},
    {C, "PrimaryPhone.FreeFormNumber", "phone"},
    {C, "WebAddr.URI", "website"},
    {C, "BillAddr.Line1", "billing_address.line1"},
    {C, "BillAddr.Line2", "billing_address.line2"},
    {C, "BillAddr.Line3", "billing_address.line3"},
    {C, "BillAddr.City", "billing_address.city"},
    {C, "BillAddr.CountrySubDivisionCode", "billing_address.region"},
    {C, "BillAddr.PostalCode", "billing_address.postcode"},
    {C, "BillAddr.Country", "billing_address.country"},
    {C, "ShipAddr.Line1", "shipping_address.line1"},
    {C, "ShipAddr.Line2", "shipping_address.line2"},
    {C, "ShipAddr.Line3", "shipping_address.line3"},
    {C, "ShipAddr.City", "shipping_address.city"},
    {C, "ShipAddr.CountrySubDivisionCode", "shipping_address.region"},
    {C, "ShipAddr.PostalCode", "shipping_address.postcode"},
    {C, "ShipAddr.Country", "shipping_address.country"},
    {C, "PrimaryTaxIdentifier", "tax_id"},
    {C, "CurrencyRef", "currency"},
    {C, "SalesTermRef", "payment_terms"},
    {C, "Notes", "notes"},
    {C, "Active", "active"},
    {I, "Name", "name"},
    {I, "Sku", "sku"},
    {I, "Description", "description"},
    {I, "UnitPrice", "unit_price"},
    {I, "IncomeAccountRef", "income_account_ref"},
    {I, "Taxable", "taxable"},
    {I, "Active", "active"},
};
#undef C
#undef I

int hs_quickbooks_describe_fields(const void *settings, enum hs_kind kind,
                                  struct hs_field_names *out, struct hs_error *err)
{
    (void)settings; /* no setting renames a field */
    return hs_conn_fields_add_rows(out, field_rows, sizeof field_rows / sizeof field_rows[0], kind,
                                   "QuickBooks", err);
}

/* ---- records ------------------------------------------------------------------------------ */

static int parse_customer(const json_t *o, struct hs_record *r, struct hs_error *err)
{
    (void)err;
    struct hs_customer *c = &r->customer;
    int rc = hs_conn_set_str(&c->display_name, jstr(o, "DisplayName"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->company_name, jstr(o, "CompanyName"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->given_name, jstr(o, "GivenName"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->family_name, jstr(o, "FamilyName"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->email, jstr(json_object_get(o, "PrimaryEmailAddr"), "Address"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->phone, jstr(json_object_get(o, "PrimaryPhone"), "FreeFormNumber"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->website, jstr(json_object_get(o, "WebAddr"), "URI"));
    if (rc == HS_OK)
        rc = parse_address(json_object_get(o, "BillAddr"), &c->billing_address);
    if (rc == HS_OK)
        rc = parse_address(json_object_get(o, "ShipAddr"), &c->shipping_address);
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->tax_id, jstr(o, "PrimaryTaxIdentifier"));
    if (rc == HS_OK) {
        const json_t *terms = json_object_get(o, "SalesTermRef");
        const char *t = jstr(terms, "name");
        rc = hs_conn_set_str(&c->payment_terms, t != NULL ? t : ref_value(o, "SalesTermRef"));
    }
    if (rc == HS_OK)
        rc = hs_conn_set_str(&c->notes, jstr(o, "Notes"));
    set_currency(c->currency, ref_value(o, "CurrencyRef"));
    c->active = get_tri(o, "Active");
    return rc;
}

static int parse_item(const json_t *o, struct hs_record *r, const struct hs_quickbooks_opts *qo,
                      struct hs_error *err)
{
    struct hs_item *it = &r->item;
    int rc = hs_conn_set_str(&it->name, jstr(o, "Name"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&it->sku, jstr(o, "Sku"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&it->description, jstr(o, "Description"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&it->income_account_ref, ref_value(o, "IncomeAccountRef"));
    if (rc == HS_OK)
        rc = get_price(o, "UnitPrice", qo->home_currency, &it->unit_price, err);
    if (rc == HS_OK && jstr(o, "Type") != NULL)
        rc = hs_fields_set(&r->meta, "item_type", jstr(o, "Type"));
    it->taxable = get_tri(o, "Taxable");
    it->active = get_tri(o, "Active");
    return rc;
}

static int parse_line(const json_t *l, struct hs_record *r, const char *cur, bool inclusive,
                      size_t idx, struct hs_error *err)
{
    const char *type = jstr(l, "DetailType");
    if (type == NULL || strcmp(type, "SubTotalLineDetail") == 0)
        return HS_OK;
    bool item = strcmp(type, "SalesItemLineDetail") == 0;
    bool discount = strcmp(type, "DiscountLineDetail") == 0;
    bool text = strcmp(type, "DescriptionOnly") == 0;
    if (!item && !discount && !text)
        return HS_OK; /* group and other line types are not carried */
    struct hs_invoice_line *ln = NULL;
    int rc = hs_record_add_line(r, &ln);
    if (rc != HS_OK)
        return rc;
    rc = hs_conn_set_str(&ln->description, jstr(l, "Description"));
    if (rc == HS_OK && item) {
        const json_t *d = json_object_get(l, "SalesItemLineDetail");
        rc = hs_conn_set_str(&ln->item_ref, ref_value(d, "ItemRef"));
        if (rc == HS_OK)
            rc = hs_conn_set_str(&ln->tax_code, ref_value(d, "TaxCodeRef"));
        if (rc == HS_OK)
            rc = get_decimal(d, "Qty", &ln->quantity, &ln->has_quantity, err);
        if (rc == HS_OK)
            rc = get_price(d, "UnitPrice", cur, &ln->unit_price, err);
        if (rc == HS_OK && inclusive && json_object_get(d, "TaxInclusiveAmt") != NULL)
            rc = get_money(d, "TaxInclusiveAmt", cur, &ln->amount, err);
        else if (rc == HS_OK)
            rc = get_money(l, "Amount", cur, &ln->amount, err);
    } else if (rc == HS_OK && discount) {
        const json_t *d = json_object_get(l, "DiscountLineDetail");
        rc = get_money(l, "Amount", cur, &ln->amount, err);
        if (rc == HS_OK && ln->amount.currency[0] != '\0')
            ln->amount.minor = -ln->amount.minor;
        if (rc == HS_OK && json_is_true(json_object_get(d, "PercentBased")))
            rc = get_decimal(d, "DiscountPercent", &ln->discount_percent, &ln->has_discount_percent,
                             err);
    }
    if (rc == HS_EPROTO)
        hs_error_prefix(err, "line %zu", idx + 1);
    return rc;
}

static enum hs_tax_mode tax_mode(const char *s)
{
    if (s == NULL)
        return HS_TAX_MODE_UNSET;
    if (strcmp(s, "TaxExcluded") == 0)
        return HS_TAX_EXCLUSIVE;
    if (strcmp(s, "TaxInclusive") == 0)
        return HS_TAX_INCLUSIVE;
    if (strcmp(s, "NotApplicable") == 0)
        return HS_TAX_NONE;
    return HS_TAX_MODE_UNSET;
}

static const char *currency_of(const json_t *o, const struct hs_quickbooks_opts *qo,
                               struct hs_error *err)
{
    const char *cur = ref_value(o, "CurrencyRef");
    if (cur == NULL)
        return qo->home_currency;
    if (hs_currency_find(cur) == NULL) {
        hs_error_set(err, HS_EPROTO, "field 'CurrencyRef': unknown currency '%.8s'", cur);
        return NULL;
    }
    return cur;
}

/* ---- the create marker of invoices ---------------------------------------------------- */

#define MARKER           "hoopsync:"
#define MARKER_LEN       (sizeof MARKER - 1)
#define KEY_MAX          64
#define PRIVATE_NOTE_MAX 4000

static bool key_char(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           ch == '-' || ch == '_';
}

/* Where the marker line at the end of note starts (with its newline), else strlen(note). */
static size_t marker_start(const char *note)
{
    size_t len = strlen(note);
    const char *nl = strrchr(note, '\n');
    const char *line = nl != NULL ? nl + 1 : note;
    size_t key_len = len - (size_t)(line - note);
    if (key_len <= MARKER_LEN || key_len - MARKER_LEN > KEY_MAX ||
        strncmp(line, MARKER, MARKER_LEN) != 0)
        return len;
    for (const char *p = line + MARKER_LEN; *p != '\0'; p++)
        if (!key_char(*p))
            return len;
    return nl != NULL ? (size_t)(nl - note) : 0;
}

bool hs_quickbooks_has_marker(const char *note, const char *key)
{
    if (note == NULL || key == NULL)
        return false;
    size_t at = marker_start(note);
    if (note[at] == '\n')
        at++;
    return note[at] != '\0' && strcmp(note + at + MARKER_LEN, key) == 0;
}

/* PrivateNote of a new invoice: its memo, then the marker line of the create's key; none
 * when that would pass PrivateNote's 4,000 characters (Intuit's limit; the memo wins). */
static int put_marker(json_t *o, const char *memo, const char *key)
{
    size_t klen = strlen(key);
    if (klen == 0 || klen > KEY_MAX ||
        (memo != NULL && strlen(memo) + 1 + MARKER_LEN + klen > PRIVATE_NOTE_MAX))
        return HS_OK;
    for (const char *p = key; *p != '\0'; p++)
        if (!key_char(*p))
            return HS_OK;
    char *note = memo != NULL && *memo != '\0' ? hs_asprintf("%s\n" MARKER "%s", memo, key)
                                               : hs_asprintf(MARKER "%s", key);
    if (note == NULL)
        return HS_ENOMEM;
    int rc = hs_conn_put(o, "PrivateNote", json_string(note));
    hs_free(note);
    return rc;
}

static int parse_invoice(const json_t *o, struct hs_record *r, const struct hs_quickbooks_opts *qo,
                         struct hs_error *err)
{
    struct hs_invoice *inv = &r->invoice;
    const char *cur = currency_of(o, qo, err);
    if (cur == NULL)
        return HS_EPROTO;
    memcpy(inv->currency, cur, 4);
    int rc = hs_conn_set_str(&inv->number, jstr(o, "DocNumber"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&inv->customer_ref, ref_value(o, "CustomerRef"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&inv->memo, jstr(o, "PrivateNote"));
    if (rc == HS_OK && inv->memo != NULL) {
        size_t keep = marker_start(inv->memo);
        inv->memo[keep] = '\0';
        if (keep == 0) {
            hs_free(inv->memo);
            inv->memo = NULL;
        }
    }
    if (rc == HS_OK)
        rc = get_date(o, "TxnDate", &inv->issue_date, err);
    if (rc == HS_OK)
        rc = get_date(o, "DueDate", &inv->due_date, err);
    inv->tax_mode = tax_mode(jstr(o, "GlobalTaxCalculation"));
    const json_t *lines = json_object_get(o, "Line");
    if (rc == HS_OK && lines != NULL && !json_is_array(lines))
        rc = hs_error_set(err, HS_EPROTO, "field 'Line': expected an array");
    size_t i;
    const json_t *l;
    json_array_foreach(lines, i, l)
    {
        if (rc != HS_OK)
            break;
        rc = parse_line(l, r, cur, inv->tax_mode == HS_TAX_INCLUSIVE, i, err);
        if (rc == HS_OK && strcmp(jstr(l, "DetailType") != NULL ? jstr(l, "DetailType") : "",
                                  "SubTotalLineDetail") == 0)
            rc = get_money(l, "Amount", cur, &inv->subtotal, err);
    }
    if (rc == HS_OK)
        rc = get_money(json_object_get(o, "TxnTaxDetail"), "TotalTax", cur, &inv->tax, err);
    if (rc == HS_OK)
        rc = get_money(o, "TotalAmt", cur, &inv->total, err);
    if (rc == HS_OK)
        rc = get_money(o, "Balance", cur, &inv->balance, err);
    if (rc != HS_OK)
        return rc;
    if (inv->total.currency[0] != '\0' && inv->balance.currency[0] != '\0') {
        inv->amount_paid = inv->total;
        inv->amount_paid.minor = inv->total.minor - inv->balance.minor;
        const char *note = inv->memo != NULL ? inv->memo : "";
        if (inv->total.minor == 0 && strncmp(note, "Voided", 6) == 0)
            inv->status = HS_INVOICE_VOID;
        else if (inv->balance.minor == 0)
            inv->status = HS_INVOICE_PAID;
        else if (inv->balance.minor == inv->total.minor)
            inv->status = HS_INVOICE_OPEN;
        else
            inv->status = HS_INVOICE_PARTIALLY_PAID;
    }
    if (r->id != NULL && qo->app_url != NULL) {
        char *url = hs_asprintf("%s/app/invoice?txnId=%s", qo->app_url, r->id);
        if (url == NULL)
            return HS_ENOMEM;
        rc = hs_fields_set(&r->meta, "url", url);
        hs_free(url);
    }
    return rc;
}

static int parse_payment(const json_t *o, struct hs_record *r, const struct hs_quickbooks_opts *qo,
                         struct hs_error *err)
{
    struct hs_payment *p = &r->payment;
    const char *cur = currency_of(o, qo, err);
    if (cur == NULL)
        return HS_EPROTO;
    memcpy(p->currency, cur, 4);
    int rc = hs_conn_set_str(&p->customer_ref, ref_value(o, "CustomerRef"));
    if (rc == HS_OK)
        rc = get_date(o, "TxnDate", &p->date, err);
    if (rc == HS_OK)
        rc = get_money(o, "TotalAmt", cur, &p->amount, err);
    if (rc == HS_OK) {
        const json_t *pm = json_object_get(o, "PaymentMethodRef");
        rc = hs_conn_set_str(&p->method,
                             jstr(pm, "name") != NULL ? jstr(pm, "name") : jid(pm, "value"));
    }
    if (rc == HS_OK)
        rc = hs_conn_set_str(&p->reference, jstr(o, "PaymentRefNum"));
    if (rc == HS_OK)
        rc = hs_conn_set_str(&p->memo, jstr(o, "PrivateNote"));
    size_t i;
    const json_t *l;
    json_array_foreach(json_object_get(o, "Line"), i, l)
    {
        if (rc != HS_OK)
            break;
        size_t k;
        const json_t *t;
        json_array_foreach(json_object_get(l, "LinkedTxn"), k, t)
        {
            const char *type = jstr(t, "TxnType");
            if (type == NULL || strcmp(type, "Invoice") != 0 || jid(t, "TxnId") == NULL)
                continue;
            struct hs_payment_applied *a = NULL;
            rc = hs_record_add_applied(r, &a);
            if (rc == HS_OK)
                rc = hs_conn_set_str(&a->invoice_ref, jid(t, "TxnId"));
            if (rc == HS_OK)
                rc = get_money(l, "Amount", cur, &a->amount, err);
            break; /* one amount per line: its first invoice */
        }
    }
    return rc;
}

int hs_quickbooks_parse_record(enum hs_kind kind, const json_t *obj,
                               const struct hs_quickbooks_opts *o, struct hs_record **out,
                               struct hs_error *err)
{
    *out = NULL;
    const char *id = jid(obj, "Id");
    if (!json_is_object(obj) || id == NULL || *id == '\0' || strlen(id) > MAX_ID_LEN)
        return hs_error_set(err, HS_EPROTO, "QuickBooks %s without a valid Id",
                            hs_quickbooks_entity(kind) != NULL ? hs_quickbooks_entity(kind) : "?");
    struct hs_record *r = NULL;
    int rc = hs_record_new(kind, &r);
    if (rc != HS_OK)
        return rc;
    rc = hs_conn_set_str(&r->id, id);
    r->updated_at = updated_ms(obj, NULL);
    const char *tok = jid(obj, "SyncToken");
    if (rc == HS_OK && tok != NULL)
        rc = hs_fields_set(&r->meta, "sync_token", tok);
    if (rc == HS_OK) {
        switch (kind) {
        case HS_KIND_CUSTOMER:
            rc = parse_customer(obj, r, err);
            break;
        case HS_KIND_ITEM:
            rc = parse_item(obj, r, o, err);
            break;
        case HS_KIND_INVOICE:
            rc = parse_invoice(obj, r, o, err);
            break;
        case HS_KIND_PAYMENT:
            rc = parse_payment(obj, r, o, err);
            break;
        default:
            rc = hs_error_set(err, HS_EINVAL, "QuickBooks does not carry %s records",
                              hs_kind_name(kind) != NULL ? hs_kind_name(kind) : "these");
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
            hs_error_prefix(err, "cannot read QuickBooks %s '%s'", hs_quickbooks_entity(kind), id);
        hs_record_free(r);
        return rc;
    }
    *out = r;
    return HS_OK;
}

/* ---- answers ----------------------------------------------------------------------------- */

void hs_quickbooks_page_release(struct hs_quickbooks_page *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_items; i++) {
        hs_free(p->items[i].id);
        hs_free(p->items[i].updated_text);
        hs_record_free(p->items[i].rec);
    }
    hs_free(p->items);
    hs_free(p->time);
    memset(p, 0, sizeof *p);
}

static int page_add(struct hs_quickbooks_page *p, enum hs_kind kind, const json_t *obj,
                    bool records, const struct hs_quickbooks_opts *o, struct hs_error *err)
{
    const char *id = jid(obj, "Id");
    if (!json_is_object(obj) || id == NULL || *id == '\0' || strlen(id) > MAX_ID_LEN)
        return hs_error_set(err, HS_EPROTO, "QuickBooks %s without a valid Id",
                            hs_quickbooks_entity(kind));
    if (p->n_items >= HS_QUICKBOOKS_READ_MAX * 4)
        return hs_error_set(err, HS_ETOOBIG, "QuickBooks answer holds more than %d objects",
                            HS_QUICKBOOKS_READ_MAX * 4);
    struct hs_quickbooks_obj *v = hs_reallocarray(p->items, p->n_items + 1, sizeof *v);
    if (v == NULL)
        return HS_ENOMEM;
    p->items = v;
    struct hs_quickbooks_obj *it = &v[p->n_items];
    memset(it, 0, sizeof *it);
    const char *status = jstr(obj, "status");
    it->deleted = status != NULL && strcmp(status, "Deleted") == 0;
    const char *ut = NULL;
    it->updated_at = updated_ms(obj, &ut);
    it->id = hs_strdup(id);
    it->updated_text = ut != NULL ? hs_strdup(ut) : NULL;
    p->n_items++;
    if (it->id == NULL || (ut != NULL && it->updated_text == NULL))
        return HS_ENOMEM;
    if (records && !it->deleted)
        return hs_quickbooks_parse_record(kind, obj, o, &it->rec, err);
    return HS_OK;
}

static int add_array(struct hs_quickbooks_page *p, enum hs_kind kind, const json_t *arr,
                     bool records, const struct hs_quickbooks_opts *o, struct hs_error *err)
{
    if (arr == NULL)
        return HS_OK;
    if (!json_is_array(arr))
        return hs_error_set(err, HS_EPROTO, "QuickBooks answer: '%s' is not an array",
                            hs_quickbooks_entity(kind));
    size_t i;
    const json_t *obj;
    json_array_foreach(arr, i, obj)
    {
        int rc = page_add(p, kind, obj, records, o, err);
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}

int hs_quickbooks_parse_list(const uint8_t *buf, size_t len, enum hs_kind kind, bool cdc,
                             bool records, const struct hs_quickbooks_opts *o,
                             struct hs_quickbooks_page *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    const char *entity = hs_quickbooks_entity(kind);
    if (entity == NULL)
        return hs_error_set(err, HS_EINVAL, "QuickBooks does not carry this kind");
    if (len > HS_QUICKBOOKS_MAX_BODY)
        return hs_error_set(err, HS_ETOOBIG, "QuickBooks answer of %zu bytes is too large", len);
    json_t *root = NULL;
    int rc = hs_json_parse_exact(buf, len, "QuickBooks answer", &root, err);
    if (rc != HS_OK)
        return rc;
    if (!json_is_object(root)) {
        rc = hs_error_set(err, HS_EPROTO, "QuickBooks answer: expected an object");
    } else if (!cdc) {
        const json_t *qr = json_object_get(root, "QueryResponse");
        if (!json_is_object(qr))
            rc = hs_error_set(err, HS_EPROTO, "QuickBooks answer: no 'QueryResponse' object");
        else
            rc = add_array(out, kind, json_object_get(qr, entity), records, o, err);
    } else {
        const json_t *cr = json_object_get(root, "CDCResponse");
        if (!json_is_array(cr))
            rc = hs_error_set(err, HS_EPROTO, "QuickBooks answer: no 'CDCResponse' array");
        size_t i;
        const json_t *c;
        json_array_foreach(cr, i, c)
        {
            size_t k;
            const json_t *qr;
            json_array_foreach(json_object_get(c, "QueryResponse"), k, qr)
            {
                if (rc == HS_OK)
                    rc = add_array(out, kind, json_object_get(qr, entity), records, o, err);
            }
        }
    }
    const char *t = jstr(root, "time");
    if (rc == HS_OK && t != NULL && strlen(t) < 48) {
        out->time = hs_strdup(t);
        if (out->time == NULL)
            rc = HS_ENOMEM;
    }
    json_decref(root);
    if (rc != HS_OK) {
        if (rc == HS_ENOMEM)
            hs_error_set(err, HS_ENOMEM, "cannot read QuickBooks answer: out of memory");
        hs_quickbooks_page_release(out);
    }
    return rc;
}

static void copy_text(char *dst, size_t cap, const char *s)
{
    if (cap == 0)
        return;
    snprintf(dst, cap, "%s", s != NULL ? s : "");
}

/* First error of a Fault object: code and text. */
static void fault_info(const json_t *fault, char *code, size_t code_cap, char *text,
                       size_t text_cap)
{
    const json_t *e = json_array_get(json_object_get(fault, "Error"), 0);
    const char *detail = jstr(e, "Detail");
    const char *message = jstr(e, "Message");
    copy_text(code, code_cap, jid(e, "code"));
    copy_text(text, text_cap, detail != NULL ? detail : message != NULL ? message : "");
}

bool hs_quickbooks_parse_fault(const uint8_t *buf, size_t len, char *code, size_t code_cap,
                               char *text, size_t text_cap)
{
    copy_text(code, code_cap, "");
    copy_text(text, text_cap, "");
    json_t *root = NULL;
    if (buf == NULL || hs_json_parse_exact(buf, len, "QuickBooks answer", &root, NULL) != HS_OK)
        return false;
    const json_t *f = json_object_get(root, "Fault");
    if (f == NULL) /* authentication faults are spelled in lower case */
        f = json_object_get(root, "fault");
    if (f == NULL) {
        json_decref(root);
        return false;
    }
    const json_t *e = json_array_get(json_object_get(f, "Error"), 0);
    if (e == NULL) {
        e = json_array_get(json_object_get(f, "error"), 0);
        copy_text(code, code_cap, jid(e, "code"));
        copy_text(text, text_cap, jstr(e, "message"));
    } else {
        fault_info(f, code, code_cap, text, text_cap);
    }
    json_decref(root);
    return true;
}

static int fault_status(const char *code)
{
    if (strcmp(code, "5010") == 0)
        return HS_ECONFLICT;
    if (strcmp(code, "6240") == 0)
        return HS_EEXIST;
    if (strcmp(code, "610") == 0)
        return HS_ENOTFOUND;
    return HS_EINVAL;
}

/* One record's answer: the entity object or a Fault (batch item, or a single call's whole
 * answer) into *res, *st and msg (HS_ERRMSG_MAX); neither leaves them. HS_OK or HS_ENOMEM. */
static int item_answer(const json_t *item, enum hs_kind kind, const char *entity,
                       const struct hs_quickbooks_opts *o, struct hs_record **res, int *st,
                       char *msg)
{
    const json_t *fault = json_object_get(item, "Fault");
    const json_t *obj = json_object_get(item, entity);
    if (fault != NULL) {
        hs_record_free(*res); /* a repeated bId: the last answer wins */
        *res = NULL;
        char code[16];
        fault_info(fault, code, sizeof code, msg, HS_ERRMSG_MAX);
        *st = fault_status(code);
        if (msg[0] == '\0')
            copy_text(msg, HS_ERRMSG_MAX, "QuickBooks refused the record");
        /* an item's one reference the finance user sets: its income account */
        if (kind == HS_KIND_ITEM && strcmp(code, "610") == 0) {
            size_t n = strlen(msg);
            snprintf(msg + n, HS_ERRMSG_MAX - n,
                     " (is the item's income account active? setting 'income_account': %s)",
                     o != NULL && o->income_account != NULL ? o->income_account : "(not set)");
        }
    } else if (obj != NULL) {
        struct hs_error perr;
        hs_error_clear(&perr);
        hs_record_free(*res);
        *res = NULL;
        int prc = hs_quickbooks_parse_record(kind, obj, o, res, &perr);
        if (prc == HS_ENOMEM)
            return HS_ENOMEM;
        *st = prc;
        copy_text(msg, HS_ERRMSG_MAX, prc == HS_OK ? "" : perr.msg);
    }
    return HS_OK;
}

int hs_quickbooks_parse_single(const uint8_t *buf, size_t len, enum hs_kind kind,
                               const struct hs_quickbooks_opts *o, struct hs_write *w,
                               struct hs_error *err)
{
    const char *entity = hs_quickbooks_entity(kind);
    if (entity == NULL)
        return hs_error_set(err, HS_EINVAL, "QuickBooks does not carry this kind");
    json_t *root = NULL;
    int rc = hs_json_parse_exact(buf, len, "QuickBooks answer", &root, err);
    if (rc != HS_OK)
        return rc;
    struct hs_record *res = NULL;
    int st = HS_EPROTO;
    char msg[HS_ERRMSG_MAX];
    copy_text(msg, sizeof msg, "QuickBooks gave no answer for this record");
    if (!json_is_object(root))
        rc = hs_error_set(err, HS_EPROTO, "QuickBooks answer: not an object");
    else if (item_answer(root, kind, entity, o, &res, &st, msg) == HS_ENOMEM)
        rc = hs_error_set(err, HS_ENOMEM, "cannot read QuickBooks answer: out of memory");
    json_decref(root);
    if (rc != HS_OK)
        return rc;
    w->status = st;
    copy_text(w->msg, sizeof w->msg, msg);
    hs_record_free(w->result);
    w->result = res;
    return HS_OK;
}

int hs_quickbooks_parse_batch(const uint8_t *buf, size_t len, enum hs_kind kind,
                              const struct hs_quickbooks_opts *o, struct hs_write *writes, size_t n,
                              struct hs_error *err)
{
    const char *entity = hs_quickbooks_entity(kind);
    if (entity == NULL)
        return hs_error_set(err, HS_EINVAL, "QuickBooks does not carry this kind");
    json_t *root = NULL;
    int rc = hs_json_parse_exact(buf, len, "QuickBooks batch answer", &root, err);
    if (rc != HS_OK)
        return rc;
    const json_t *arr = json_object_get(root, "BatchItemResponse");
    if (!json_is_array(arr)) {
        json_decref(root);
        return hs_error_set(err, HS_EPROTO, "QuickBooks batch answer: no 'BatchItemResponse'");
    }
    /* results go to a side array first so that a failure leaves writes untouched */
    struct hs_record **res = hs_calloc(n + 1, sizeof(struct hs_record *));
    int *st = hs_calloc(n + 1, sizeof *st);
    char(*msgs)[HS_ERRMSG_MAX] = hs_calloc(n + 1, sizeof *msgs);
    if (res == NULL || st == NULL || msgs == NULL) {
        rc = HS_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        st[i] = HS_EPROTO;
        copy_text(msgs[i], HS_ERRMSG_MAX, "QuickBooks gave no answer for this record");
    }
    size_t k;
    const json_t *item;
    json_array_foreach(arr, k, item)
    {
        const char *bid = jid(item, "bId");
        int64_t idx = -1;
        if (bid == NULL || hs_str_to_i64(bid, strlen(bid), &idx) != HS_OK || idx < 0 ||
            (uint64_t)idx >= n)
            continue; /* not one of ours */
        if (item_answer(item, kind, entity, o, &res[idx], &st[idx], msgs[idx]) == HS_ENOMEM) {
            rc = HS_ENOMEM;
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) {
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
        hs_error_set(err, HS_ENOMEM, "cannot read QuickBooks batch answer: out of memory");
    return rc;
}

/* ---- webhooks ---------------------------------------------------------------------------- */

static enum hs_kind kind_of_entity(const char *name)
{
    static const enum hs_kind kinds[] = {HS_KIND_CUSTOMER, HS_KIND_ITEM, HS_KIND_INVOICE,
                                         HS_KIND_PAYMENT};
    for (size_t i = 0; name != NULL && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(name, hs_quickbooks_entity(kinds[i])) == 0)
            return kinds[i];
    return HS_KIND_NONE;
}

int hs_quickbooks_parse_webhook(const uint8_t *buf, size_t len, const char *realm,
                                struct hs_changes *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    if (len > HS_QUICKBOOKS_MAX_BODY)
        return hs_error_set(err, HS_ETOOBIG, "QuickBooks webhook of %zu bytes is too large", len);
    json_t *root = NULL;
    int rc = hs_json_parse_exact(buf, len, "QuickBooks webhook", &root, err);
    if (rc != HS_OK)
        return rc;
    const json_t *notes = json_object_get(root, "eventNotifications");
    if (!json_is_array(notes))
        rc = hs_error_set(err, HS_EPROTO, "QuickBooks webhook: no 'eventNotifications' array");
    size_t i;
    const json_t *n;
    json_array_foreach(notes, i, n)
    {
        const char *r = jid(n, "realmId");
        if (rc != HS_OK || (realm != NULL && (r == NULL || strcmp(r, realm) != 0)))
            continue;
        size_t k;
        const json_t *e;
        json_array_foreach(json_object_get(json_object_get(n, "dataChangeEvent"), "entities"), k, e)
        {
            enum hs_kind kind = kind_of_entity(jstr(e, "name"));
            const char *id = jid(e, "id");
            if (kind == HS_KIND_NONE || id == NULL || *id == '\0' || strlen(id) > MAX_ID_LEN)
                continue;
            const char *op = jstr(e, "operation");
            const char *at = jstr(e, "lastUpdated");
            int64_t ms = 0;
            if (at == NULL || hs_quickbooks_time_parse(at, strlen(at), &ms) != HS_OK)
                ms = 0;
            if (out->n_items >= HS_QUICKBOOKS_READ_MAX * 10) {
                rc = hs_error_set(err, HS_ETOOBIG, "QuickBooks webhook: too many events");
                break;
            }
            rc = hs_changes_add(out, kind, id, ms, op != NULL && strcmp(op, "Delete") == 0);
            if (rc != HS_OK)
                break;
        }
    }
    json_decref(root);
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "cannot read QuickBooks webhook: out of memory");
    if (rc != HS_OK)
        hs_changes_release(out);
    return rc;
}

/* ---- cursors ------------------------------------------------------------------------------ */

int hs_quickbooks_cursor_parse(const char *s, size_t len, struct hs_quickbooks_cursor *out,
                               struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    if (s == NULL)
        return hs_error_set(err, HS_EINVAL, "invalid QuickBooks cursor: empty");
    const char *end = s + len;
    const char *bar = memchr(s, '|', len);
    if (bar == NULL)
        return hs_error_set(err, HS_EINVAL, "invalid QuickBooks cursor: expected 'cdc|<time>'");
    size_t kl = (size_t)(bar - s);
    const char *t = bar + 1;
    const char *tend = end;
    if (kl == 4 && memcmp(s, "scan", 4) == 0) {
        out->scan = true;
        const char *bar2 = memchr(t, '|', (size_t)(end - t));
        /* canonical digits only ("1001", not "+1001" or "01"): cursors compare as text */
        if (bar2 == NULL || bar2 + 1 >= end || bar2[1] < '1' || bar2[1] > '9' ||
            hs_str_to_i64(bar2 + 1, (size_t)(end - bar2 - 1), &out->pos) != HS_OK || out->pos < 1 ||
            out->pos > INT64_C(1000000000))
            return hs_error_set(err, HS_EINVAL, "invalid QuickBooks cursor: bad scan position");
        tend = bar2;
    } else if (!(kl == 3 && memcmp(s, "cdc", 3) == 0)) {
        return hs_error_set(err, HS_EINVAL, "invalid QuickBooks cursor: unknown mode");
    }
    size_t tl = (size_t)(tend - t);
    int64_t ms;
    if (tl >= sizeof out->since || (tl == 0 && !out->scan) ||
        (tl > 0 && hs_quickbooks_time_parse(t, tl, &ms) != HS_OK))
        return hs_error_set(err, HS_EINVAL, "invalid QuickBooks cursor: bad time");
    memcpy(out->since, t, tl);
    out->since[tl] = '\0';
    return HS_OK;
}

char *hs_quickbooks_cursor_format(const struct hs_quickbooks_cursor *c)
{
    if (c->scan)
        return hs_asprintf("scan|%s|%lld", c->since, (long long)c->pos);
    return hs_asprintf("cdc|%s", c->since);
}

/* ---- building entities --------------------------------------------------------------------- */

static int put_ref(json_t *o, const char *key, const char *value)
{
    return value != NULL ? hs_conn_put(o, key, json_pack("{s:s}", "value", value)) : HS_OK;
}

static int put_wrapped(json_t *o, const char *key, const char *inner, const char *s)
{
    return s != NULL ? hs_conn_put(o, key, json_pack("{s:s}", inner, s)) : HS_OK;
}

static int put_tri(json_t *o, const char *key, enum hs_tri t)
{
    return t != HS_TRI_UNSET ? hs_conn_put(o, key, json_boolean(t == HS_TRI_TRUE)) : HS_OK;
}

static int put_address(json_t *o, const char *key, const struct hs_address *a)
{
    if (hs_conn_address_empty(a))
        return HS_OK;
    json_t *v = json_object();
    int rc = v != NULL ? HS_OK : HS_ENOMEM;
    if (rc == HS_OK)
        rc = hs_conn_put_str(v, "Line1", a->line1);
    if (rc == HS_OK)
        rc = hs_conn_put_str(v, "Line2", a->line2);
    if (rc == HS_OK)
        rc = hs_conn_put_str(v, "Line3", a->line3);
    if (rc == HS_OK)
        rc = hs_conn_put_str(v, "City", a->city);
    if (rc == HS_OK)
        rc = hs_conn_put_str(v, "CountrySubDivisionCode", a->region);
    if (rc == HS_OK)
        rc = hs_conn_put_str(v, "PostalCode", a->postcode);
    if (rc == HS_OK && a->country[0] != '\0')
        rc = hs_conn_put_str(v, "Country", a->country);
    if (rc != HS_OK) {
        json_decref(v);
        return rc;
    }
    return hs_conn_put(o, key, v);
}

static int build_customer(const struct hs_record *r, bool create, json_t *o)
{
    const struct hs_customer *c = &r->customer;
    int rc = hs_conn_put_str(o, "DisplayName", c->display_name);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "CompanyName", c->company_name);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "GivenName", c->given_name);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "FamilyName", c->family_name);
    if (rc == HS_OK)
        rc = put_wrapped(o, "PrimaryEmailAddr", "Address", c->email);
    if (rc == HS_OK)
        rc = put_wrapped(o, "PrimaryPhone", "FreeFormNumber", c->phone);
    if (rc == HS_OK)
        rc = put_wrapped(o, "WebAddr", "URI", c->website);
    if (rc == HS_OK)
        rc = put_address(o, "BillAddr", &c->billing_address);
    if (rc == HS_OK)
        rc = put_address(o, "ShipAddr", &c->shipping_address);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "PrimaryTaxIdentifier", c->tax_id);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "Notes", c->notes);
    if (rc == HS_OK)
        rc = put_tri(o, "Active", c->active);
    /* a customer's currency is set once, at creation */
    if (rc == HS_OK && create && c->currency[0] != '\0')
        rc = put_ref(o, "CurrencyRef", c->currency);
    return rc;
}

static int build_item(const struct hs_record *r, bool create, const struct hs_quickbooks_opts *qo,
                      json_t *o, struct hs_error *err)
{
    const struct hs_item *it = &r->item;
    if (it->unit_price.currency[0] != '\0' &&
        strcmp(it->unit_price.currency, qo->home_currency) != 0)
        return hs_error_set(err, HS_EINVAL,
                            "item price is in %s but QuickBooks keeps item prices in the home "
                            "currency %s",
                            it->unit_price.currency, qo->home_currency);
    int rc = hs_conn_put_str(o, "Name", it->name);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "Sku", it->sku);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "Description", it->description);
    if (rc == HS_OK)
        rc = hs_conn_put_money(o, "UnitPrice", &it->unit_price);
    const char *acct = it->income_account_ref != NULL ? it->income_account_ref : qo->income_account;
    if (rc == HS_OK && (create || it->income_account_ref != NULL))
        rc = put_ref(o, "IncomeAccountRef", acct);
    if (rc == HS_OK)
        rc = put_tri(o, "Taxable", it->taxable);
    if (rc == HS_OK)
        rc = put_tri(o, "Active", it->active);
    if (rc == HS_OK && create) {
        const char *type = hs_fields_get(&r->meta, "item_type");
        rc = hs_conn_put_str(o, "Type", type != NULL ? type : qo->item_type);
    }
    if (rc == HS_OK && create && acct == NULL)
        return hs_error_set(err, HS_EINVAL,
                            "item '%s' needs an income account: set 'income_account' in the "
                            "QuickBooks connection settings",
                            it->name != NULL ? it->name : "?");
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
    json_t *l = json_object();
    if (l == NULL)
        return HS_ENOMEM;
    int rc = hs_conn_put_str(l, "Description", ln->description);
    if (ln->item_ref != NULL) {
        /* QuickBooks has no per-line discount: a discounted line goes out as its amount and
         * quantity only, and QuickBooks derives the unit price (docs/modules/invoice.md) */
        bool discounted = ln->has_discount_percent && ln->discount_percent.v != 0;
        struct hs_money amount = ln->amount;
        if (amount.currency[0] == '\0' && ln->has_quantity && ln->unit_price.currency[0] != '\0') {
            int64_t minor = 0;
            rc = hs_tax_line_amount(ln->quantity, ln->unit_price.minor,
                                    discounted ? &ln->discount_percent : NULL, HS_ROUND_HALF_UP,
                                    &minor, err);
            if (rc == HS_OK)
                rc = hs_money_from_minor(minor, ln->unit_price.currency, &amount, err);
        }
        if (rc == HS_OK && amount.currency[0] == '\0')
            rc = line_error(err, i, "no amount, and no quantity and unit price to compute it");
        json_t *d = rc == HS_OK ? json_object() : NULL;
        if (rc == HS_OK && d == NULL)
            rc = HS_ENOMEM;
        if (rc == HS_OK)
            rc = put_ref(d, "ItemRef", ln->item_ref);
        if (rc == HS_OK && ln->has_quantity)
            rc = hs_conn_put(d, "Qty", hs_json_decimal_new(ln->quantity));
        if (rc == HS_OK && !discounted)
            rc = hs_conn_put_money(d, "UnitPrice", &ln->unit_price);
        if (rc == HS_OK)
            rc = put_ref(d, "TaxCodeRef", ln->tax_code);
        if (rc == HS_OK)
            rc = hs_conn_put(l, "SalesItemLineDetail", d);
        else
            json_decref(d);
        if (rc == HS_OK)
            rc = hs_conn_put_str(l, "DetailType", "SalesItemLineDetail");
        if (rc == HS_OK)
            rc = hs_conn_put_money(l, "Amount", &amount);
    } else if (ln->has_discount_percent ||
               (ln->amount.currency[0] != '\0' && ln->amount.minor < 0)) {
        json_t *d = json_object();
        rc = d != NULL ? HS_OK : HS_ENOMEM;
        if (rc == HS_OK)
            rc = hs_conn_put(d, "PercentBased", json_boolean(ln->has_discount_percent));
        if (rc == HS_OK && ln->has_discount_percent)
            rc = hs_conn_put(d, "DiscountPercent", hs_json_decimal_new(ln->discount_percent));
        if (rc == HS_OK)
            rc = hs_conn_put(l, "DiscountLineDetail", d);
        else
            json_decref(d);
        if (rc == HS_OK)
            rc = hs_conn_put_str(l, "DetailType", "DiscountLineDetail");
        if (rc == HS_OK && ln->amount.currency[0] != '\0') {
            struct hs_money pos = ln->amount;
            pos.minor = pos.minor < 0 ? -pos.minor : pos.minor;
            rc = hs_conn_put_money(l, "Amount", &pos);
        }
    } else if (ln->amount.currency[0] == '\0' || ln->amount.minor == 0) {
        rc = hs_conn_put_str(l, "DetailType", "DescriptionOnly");
        if (rc == HS_OK)
            rc = hs_conn_put(l, "DescriptionLineDetail", json_object());
    } else {
        rc = line_error(err, i, "an amount without an item (QuickBooks needs an item)");
    }
    if (rc == HS_OK)
        return json_array_append_new(arr, l) == 0 ? HS_OK : HS_ENOMEM;
    json_decref(l);
    return rc;
}

static const char *tax_mode_name(enum hs_tax_mode m)
{
    switch (m) {
    case HS_TAX_EXCLUSIVE:
        return "TaxExcluded";
    case HS_TAX_INCLUSIVE:
        return "TaxInclusive";
    case HS_TAX_NONE:
        return "NotApplicable";
    default:
        return NULL;
    }
}

static int build_invoice(const struct hs_record *r, const struct hs_quickbooks_opts *qo, json_t *o,
                         struct hs_error *err)
{
    const struct hs_invoice *inv = &r->invoice;
    const char *cur = inv->currency[0] != '\0' ? inv->currency : qo->home_currency;
    int rc = put_ref(o, "CustomerRef", inv->customer_ref);
    if (rc == HS_OK && inv->currency[0] != '\0')
        rc = put_ref(o, "CurrencyRef", inv->currency);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "DocNumber", inv->number);
    if (rc == HS_OK)
        rc = hs_conn_put_date(o, "TxnDate", inv->issue_date);
    if (rc == HS_OK)
        rc = hs_conn_put_date(o, "DueDate", inv->due_date);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "GlobalTaxCalculation", tax_mode_name(inv->tax_mode));
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "PrivateNote", inv->memo);
    if (rc == HS_OK && qo->txn_tax_code != NULL)
        rc = hs_conn_put(o, "TxnTaxDetail",
                         json_pack("{s:{s:s}}", "TxnTaxCodeRef", "value", qo->txn_tax_code));
    json_t *arr = rc == HS_OK ? json_array() : NULL;
    if (rc == HS_OK && arr == NULL)
        rc = HS_ENOMEM;
    for (size_t i = 0; rc == HS_OK && i < inv->n_lines; i++)
        rc = build_line(&inv->lines[i], i, cur, arr, err);
    if (rc == HS_OK)
        return hs_conn_put(o, "Line", arr);
    json_decref(arr);
    return rc;
}

static int build_payment(const struct hs_record *r, json_t *o, struct hs_error *err)
{
    const struct hs_payment *p = &r->payment;
    int rc = put_ref(o, "CustomerRef", p->customer_ref);
    if (rc == HS_OK && p->currency[0] != '\0')
        rc = put_ref(o, "CurrencyRef", p->currency);
    if (rc == HS_OK)
        rc = hs_conn_put_date(o, "TxnDate", p->date);
    if (rc == HS_OK)
        rc = hs_conn_put_money(o, "TotalAmt", &p->amount);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "PaymentRefNum", p->reference);
    if (rc == HS_OK)
        rc = hs_conn_put_str(o, "PrivateNote", p->memo);
    json_t *arr = rc == HS_OK ? json_array() : NULL;
    if (rc == HS_OK && arr == NULL)
        rc = HS_ENOMEM;
    for (size_t i = 0; rc == HS_OK && i < p->n_applied; i++) {
        const struct hs_payment_applied *a = &p->applied[i];
        if (a->invoice_ref == NULL || a->amount.currency[0] == '\0') {
            rc = hs_error_set(err, HS_EINVAL, "payment application %zu: no invoice or amount",
                              i + 1);
            break;
        }
        json_t *l = json_pack("{s:o, s:[{s:s, s:s}]}", "Amount", hs_json_money_new(&a->amount),
                              "LinkedTxn", "TxnId", a->invoice_ref, "TxnType", "Invoice");
        if (l == NULL || json_array_append_new(arr, l) != 0)
            rc = HS_ENOMEM;
    }
    if (rc == HS_OK)
        return hs_conn_put(o, "Line", arr);
    json_decref(arr);
    return rc;
}

/* Canonical field path prefix -> the QuickBooks element it lives in, and how to blank it. */
struct fmap {
    const char *prefix;
    const char *key;
    const char *blank_inner; /* wrapped string ("Address"), "" = plain string, NULL = no blank */
};

static const struct fmap customer_map[] = {
    {"display_name", "DisplayName", ""},
    {"company_name", "CompanyName", ""},
    {"given_name", "GivenName", ""},
    {"family_name", "FamilyName", ""},
    {"email", "PrimaryEmailAddr", "Address"},
    {"phone", "PrimaryPhone", "FreeFormNumber"},
    {"website", "WebAddr", "URI"},
    {"billing_address", "BillAddr", NULL},
    {"shipping_address", "ShipAddr", NULL},
    {"tax_id", "PrimaryTaxIdentifier", ""},
    {"notes", "Notes", ""},
    {"active", "Active", NULL},
    {NULL, NULL, NULL},
};
static const struct fmap item_map[] = {
    {"name", "Name", ""},
    {"sku", "Sku", ""},
    {"description", "Description", ""},
    {"unit_price", "UnitPrice", NULL},
    {"income_account_ref", "IncomeAccountRef", NULL},
    {"taxable", "Taxable", NULL},
    {"active", "Active", NULL},
    {NULL, NULL, NULL},
};
static const struct fmap invoice_map[] = {
    {"number", "DocNumber", ""},
    {"customer_ref", "CustomerRef", NULL},
    {"currency", "CurrencyRef", NULL},
    {"issue_date", "TxnDate", NULL},
    {"due_date", "DueDate", NULL},
    {"tax_mode", "GlobalTaxCalculation", NULL},
    {"lines", "Line", NULL},
    {"memo", "PrivateNote", ""},
    {NULL, NULL, NULL},
};
static const struct fmap payment_map[] = {
    {"customer_ref", "CustomerRef", NULL}, {"date", "TxnDate", NULL},
    {"amount", "TotalAmt", NULL},          {"currency", "CurrencyRef", NULL},
    {"reference", "PaymentRefNum", ""},    {"applied", "Line", NULL},
    {"memo", "PrivateNote", ""},           {NULL, NULL, NULL},
};

static const struct fmap *fmap_of(enum hs_kind kind)
{
    switch (kind) {
    case HS_KIND_CUSTOMER:
        return customer_map;
    case HS_KIND_ITEM:
        return item_map;
    case HS_KIND_INVOICE:
        return invoice_map;
    default:
        return payment_map;
    }
}

static const struct fmap *fmap_find(const struct fmap *m, const char *field)
{
    for (; m->prefix != NULL; m++) {
        size_t n = strlen(m->prefix);
        if (strncmp(field, m->prefix, n) == 0 &&
            (field[n] == '\0' || field[n] == '.' || field[n] == '['))
            return m;
    }
    return NULL;
}

/* Keeps in full only the elements named by w->fields; blanks those that went away. */
static int sparse_select(enum hs_kind kind, const struct hs_write *w, json_t *full, json_t *out,
                         size_t *n_selected)
{
    const struct fmap *map = fmap_of(kind);
    *n_selected = 0;
    for (const struct fmap *m = map; m->prefix != NULL; m++) {
        bool wanted = w->fields == NULL;
        for (size_t i = 0; !wanted && i < w->n_fields; i++)
            wanted = w->fields[i] != NULL && fmap_find(map, w->fields[i]) == m;
        if (!wanted)
            continue;
        json_t *v = json_object_get(full, m->key);
        int rc = HS_OK;
        if (v != NULL)
            rc = hs_conn_put(out, m->key, json_incref(v));
        else if (w->fields == NULL)
            continue;
        else if (m->blank_inner != NULL && m->blank_inner[0] == '\0')
            rc = hs_conn_put(out, m->key, json_string(""));
        else if (m->blank_inner != NULL)
            rc = hs_conn_put(out, m->key, json_pack("{s:s}", m->blank_inner, ""));
        else if (strcmp(m->key, "BillAddr") == 0 || strcmp(m->key, "ShipAddr") == 0)
            rc = hs_conn_put(out, m->key, json_object());
        else
            continue; /* references, dates and amounts cannot be blanked in QuickBooks */
        if (rc != HS_OK)
            return rc;
        (*n_selected)++;
    }
    /* the tax code of the document travels with its lines */
    json_t *ttd = json_object_get(full, "TxnTaxDetail");
    if (ttd != NULL && json_object_get(out, "Line") != NULL)
        return hs_conn_put(out, "TxnTaxDetail", json_incref(ttd));
    return HS_OK;
}

int hs_quickbooks_build(enum hs_kind kind, const struct hs_write *w,
                        const struct hs_quickbooks_opts *o, json_t **out, struct hs_error *err)
{
    *out = NULL;
    const struct hs_record *r = w->record;
    if (r == NULL || r->kind != kind || hs_quickbooks_entity(kind) == NULL)
        return hs_error_set(err, HS_EINVAL, "QuickBooks cannot write this record");
    bool create = w->op == HS_WRITE_CREATE;
    const char *tok = hs_fields_get(&r->meta, "sync_token");
    if (!create && (r->id == NULL || tok == NULL))
        return hs_error_set(err, HS_EINVAL,
                            "cannot update QuickBooks %s: the record has no Id or SyncToken "
                            "(read it first)",
                            hs_quickbooks_entity(kind));
    json_t *full = json_object();
    if (full == NULL)
        return HS_ENOMEM;
    int rc;
    switch (kind) {
    case HS_KIND_CUSTOMER:
        rc = build_customer(r, create, full);
        break;
    case HS_KIND_ITEM:
        rc = build_item(r, create, o, full, err);
        break;
    case HS_KIND_INVOICE:
        rc = build_invoice(r, o, full, err);
        if (rc == HS_OK && create && w->idem_key != NULL)
            rc = put_marker(full, r->invoice.memo, w->idem_key);
        break;
    default:
        rc = build_payment(r, full, err);
        break;
    }
    if (rc != HS_OK || create) {
        if (rc != HS_OK)
            json_decref(full);
        else
            *out = full;
        return rc == HS_ENOMEM ? hs_error_set(err, HS_ENOMEM, "out of memory") : rc;
    }
    json_t *sp = json_object();
    size_t n_sel = 0;
    rc = sp != NULL ? HS_OK : HS_ENOMEM;
    if (rc == HS_OK)
        rc = sparse_select(kind, w, full, sp, &n_sel);
    json_decref(full);
    if (rc == HS_OK && n_sel == 0) {
        json_decref(sp);
        return HS_OK; /* nothing QuickBooks stores changes */
    }
    if (rc == HS_OK)
        rc = hs_conn_put(sp, "Id", json_string(r->id));
    if (rc == HS_OK)
        rc = hs_conn_put(sp, "SyncToken", json_string(tok));
    if (rc == HS_OK)
        rc = hs_conn_put(sp, "sparse", json_true());
    if (rc != HS_OK) {
        json_decref(sp);
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    }
    *out = sp;
    return HS_OK;
}

void hs_quickbooks_request_id(const char *realm, enum hs_kind kind, const struct hs_write *writes,
                              const char *const *bodies, size_t n, char out[36])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    const char *k = hs_kind_name(kind) != NULL ? hs_kind_name(kind) : "";
    realm = realm != NULL ? realm : "";
    crypto_hash_sha256_update(&st, (const unsigned char *)realm, strlen(realm) + 1);
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
