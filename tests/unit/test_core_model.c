/*
 * tests/unit/test_core_model.c - canonical records: field view, JSON form, validation, OOM.
 *
 * Design:     sample() builds a record of each kind with EVERY field present (unicode text,
 *             several lines, custom fields, external refs); the round-trip tests run over all
 *             kinds. Rejection tests are tables of (input, code, message fragment). The OOM
 *             loops of STYLE.md section 7 fail each allocation in turn (jansson included, via
 *             hs_alloc_setup_json) and rely on ASan for leaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h> /* after the four above */
#include <stdio.h>
#include <string.h>

#include "hoopsync/model.h"
#include "core/money.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"

#define OK(x) assert_int_equal((x), HS_OK)

static const enum hs_kind all_kinds[] = {
    HS_KIND_CUSTOMER, HS_KIND_CONTACT_PERSON, HS_KIND_ITEM,
    HS_KIND_INVOICE,  HS_KIND_PAYMENT,        HS_KIND_CREDIT_NOTE,
};
#define N_KINDS (sizeof all_kinds / sizeof all_kinds[0])

/* ---- builders ------------------------------------------------------------------------------- */

static struct hs_money money(const char *cur, int64_t minor)
{
    struct hs_money m;
    OK(hs_money_from_minor(minor, cur, &m, NULL));
    return m;
}

static struct hs_decimal dec(int64_t v)
{
    struct hs_decimal d = {v};
    return d;
}

/* A text value that differs by variant and carries non-ASCII characters. */
static void text(char **slot, const char *what, int alt)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s %s", what, alt ? "Zoë Çağrı 株式会社 🚀" : "Société Générale");
    OK(hs_record_set_str(slot, buf));
}

static void fill_address(struct hs_address *a, int alt)
{
    text(&a->line1, "1 rue de la Paix", alt);
    text(&a->line2, "Bâtiment B", alt);
    text(&a->line3, "3e étage", alt);
    text(&a->city, "Lyon", alt);
    text(&a->region, "Rhône", alt);
    text(&a->postcode, "69002", alt);
    memcpy(a->country, alt ? "JP" : "FR", 3);
}

static void fill_line(struct hs_invoice_line *l, int i, int alt)
{
    const char *cur = alt ? "EUR" : "USD";
    text(&l->item_ref, i % 2 ? "item-7" : "item-9", alt);
    text(&l->description, "Consulting – day rate", alt);
    l->quantity = dec(1500000 + (int64_t)i * 1000000 + alt);
    l->has_quantity = true;
    l->unit_price = money(cur, 12050 + alt);
    l->discount_percent = dec(10000000 + alt);
    l->has_discount_percent = true;
    text(&l->tax_code, "TAX", alt);
    l->amount = money(cur, 18075 + i + alt);
    l->tax_amount = money(cur, 1808 + i + alt);
}

static void fill_maps(struct hs_record *r, int alt)
{
    OK(hs_fields_set(&r->custom, "hs_region", alt ? "APAC" : "EMEA"));
    OK(hs_fields_set(&r->custom, "zz_note", alt ? "ünïcödé" : "plain"));
    OK(hs_fields_set(&r->external_refs, "hubspot", alt ? "9001" : "42"));
    OK(hs_fields_set(&r->external_refs, "quickbooks", alt ? "77" : "13"));
}

/* A record of kind with every field present; alt selects a second set of values that differs
 * from the first in every single field. */
static struct hs_record *sample(enum hs_kind kind, int alt, size_t n_lines)
{
    struct hs_record *r = NULL;
    OK(hs_record_new(kind, &r));
    const char *cur = alt ? "EUR" : "USD";
    enum hs_tri yes = alt ? HS_TRI_FALSE : HS_TRI_TRUE;
    struct hs_date d1 = {2024, 2, (int8_t)(28 + alt)};
    struct hs_date d2 = {2024, 3, (int8_t)(30 + alt)};
    switch (kind) {
    case HS_KIND_CUSTOMER: {
        struct hs_customer *c = &r->customer;
        text(&c->display_name, "Acme, Inc.", alt);
        text(&c->company_name, "Acme Incorporated", alt);
        text(&c->given_name, "Jérôme", alt);
        text(&c->family_name, "Dupré", alt);
        OK(hs_record_set_str(&c->email, alt ? "zoe@example.jp" : "jerome@example.fr"));
        OK(hs_record_set_str(&c->phone, alt ? "+81 3 1234 5678" : "+33 4 12 34 56 78"));
        OK(hs_record_set_str(&c->website, alt ? "https://b.example" : "https://a.example"));
        fill_address(&c->billing_address, alt);
        fill_address(&c->shipping_address, !alt);
        if (alt) /* shipping of alt must still differ from shipping of !alt */
            text(&c->shipping_address.city, "Kyoto", 1);
        text(&c->tax_id, "FR123", alt);
        memcpy(c->currency, cur, 4);
        text(&c->payment_terms, "Net 30", alt);
        text(&c->notes, "Notes\nsecond line \"quoted\"", alt);
        c->active = yes;
        break;
    }
    case HS_KIND_CONTACT_PERSON: {
        struct hs_contact_person *p = &r->contact_person;
        text(&p->customer_ref, "cust", alt);
        text(&p->name, "Jérôme Dupré", alt);
        text(&p->given_name, "Jérôme", alt);
        text(&p->family_name, "Dupré", alt);
        text(&p->email, "j@example.fr", alt);
        text(&p->phone, "+33", alt);
        text(&p->role, "CFO", alt);
        p->primary = yes;
        break;
    }
    case HS_KIND_ITEM: {
        struct hs_item *it = &r->item;
        text(&it->name, "Widget", alt);
        text(&it->sku, "W-1", alt);
        text(&it->description, "A widget", alt);
        it->unit_price = money(alt ? "JPY" : "KWD", 1234 + alt);
        text(&it->income_account_ref, "4000", alt);
        it->taxable = yes;
        it->active = alt ? HS_TRI_TRUE : HS_TRI_FALSE;
        break;
    }
    case HS_KIND_INVOICE: {
        struct hs_invoice *v = &r->invoice;
        text(&v->number, "INV-1001", alt);
        text(&v->customer_ref, "cust", alt);
        memcpy(v->currency, cur, 4);
        v->issue_date = d1;
        v->due_date = d2;
        v->status = alt ? HS_INVOICE_OPEN : HS_INVOICE_PARTIALLY_PAID;
        v->tax_mode = alt ? HS_TAX_INCLUSIVE : HS_TAX_EXCLUSIVE;
        for (size_t i = 0; i < n_lines; i++) {
            struct hs_invoice_line *l;
            OK(hs_record_add_line(r, &l));
            fill_line(l, (int)i, alt);
        }
        v->subtotal = money(cur, 123450 + alt);
        v->tax = money(cur, 12345 + alt);
        v->total = money(cur, 135795 + alt);
        v->amount_paid = money(cur, 5000 + alt);
        v->balance = money(cur, 130795 + alt);
        text(&v->memo, "Thanks", alt);
        break;
    }
    case HS_KIND_PAYMENT: {
        struct hs_payment *p = &r->payment;
        text(&p->customer_ref, "cust", alt);
        p->date = d1;
        p->amount = money(cur, 99999 + alt);
        memcpy(p->currency, cur, 4);
        text(&p->method, "bank_transfer", alt);
        text(&p->reference, "TX-1", alt);
        for (size_t i = 0; i < 2; i++) {
            struct hs_payment_applied *a;
            OK(hs_record_add_applied(r, &a));
            text(&a->invoice_ref, i ? "inv-2" : "inv-1", alt);
            a->amount = money(cur, 40000 + (int64_t)i + alt);
        }
        text(&p->memo, "Payment", alt);
        break;
    }
    case HS_KIND_CREDIT_NOTE: {
        struct hs_credit_note *c = &r->credit_note;
        text(&c->number, "CN-1", alt);
        text(&c->customer_ref, "cust", alt);
        text(&c->invoice_ref, "inv-1", alt);
        memcpy(c->currency, cur, 4);
        c->issue_date = d1;
        c->status = alt ? HS_CREDIT_APPLIED : HS_CREDIT_OPEN;
        c->tax_mode = alt ? HS_TAX_NONE : HS_TAX_EXCLUSIVE;
        for (size_t i = 0; i < n_lines; i++) {
            struct hs_invoice_line *l;
            OK(hs_record_add_line(r, &l));
            fill_line(l, (int)i, alt);
        }
        c->subtotal = money(cur, 1000 + alt);
        c->tax = money(cur, 100 + alt);
        c->total = money(cur, 1100 + alt);
        c->balance = money(cur, 600 + alt);
        text(&c->memo, "Refund", alt);
        break;
    }
    default:
        fail();
    }
    fill_maps(r, alt);
    return r;
}

static char *to_json(const struct hs_record *r)
{
    char *s = NULL;
    struct hs_error err;
    int rc = hs_record_to_json(r, &s, &err);
    if (rc != HS_OK)
        fail_msg("to_json: %s", err.msg);
    return s;
}

static struct hs_record *from_json(const char *s)
{
    struct hs_record *r = NULL;
    struct hs_error err;
    int rc = hs_record_from_json((const uint8_t *)s, strlen(s), &r, &err);
    if (rc != HS_OK)
        fail_msg("from_json: %s", err.msg);
    return r;
}

/* ---- the sorted map ------------------------------------------------------------------------- */

static void test_model_fields_map_keeps_sorted_unique_names(void **state)
{
    (void)state;
    struct hs_fields f;
    hs_fields_init(&f);
    OK(hs_fields_set(&f, "b", "2"));
    OK(hs_fields_set(&f, "a", "1"));
    OK(hs_fields_set(&f, "c", "3"));
    OK(hs_fields_set(&f, "b", "two"));
    assert_int_equal(hs_fields_count(&f), 3);
    assert_string_equal(hs_fields_get(&f, "b"), "two");
    assert_null(hs_fields_get(&f, "d"));
    assert_int_equal(hs_fields_set(&f, NULL, "x"), HS_EINVAL);
    assert_int_equal(hs_fields_set(&f, "x", NULL), HS_EINVAL);

    const char *expect[][2] = {{"a", "1"}, {"b", "two"}, {"c", "3"}};
    size_t pos = 0;
    const char *n;
    const char *v;
    size_t i = 0;
    while (hs_fields_iter(&f, &pos, &n, &v)) {
        assert_string_equal(n, expect[i][0]);
        assert_string_equal(v, expect[i][1]);
        i++;
    }
    assert_int_equal(i, 3);

    struct hs_fields g;
    hs_fields_init(&g);
    OK(hs_fields_set(&g, "zzz", "old contents are replaced"));
    OK(hs_fields_copy(&g, &f));
    assert_true(hs_fields_equal(&f, &g));
    assert_int_equal(hs_fields_remove(&g, "b"), 1);
    assert_int_equal(hs_fields_remove(&g, "b"), 0);
    assert_false(hs_fields_equal(&f, &g));
    assert_string_equal(g.items[0].name, "a");
    assert_string_equal(g.items[1].name, "c");
    OK(hs_fields_set(&g, "b", "2"));
    assert_false(hs_fields_equal(&f, &g)); /* same names, other value */
    hs_fields_release(&g);
    hs_fields_release(&f);
    hs_fields_release(&f); /* released twice is harmless */
    assert_int_equal(hs_fields_count(&f), 0);
}

static void test_model_kind_names_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_KINDS; i++) {
        enum hs_kind k = HS_KIND_NONE;
        OK(hs_kind_parse(hs_kind_name(all_kinds[i]), &k, NULL));
        assert_int_equal(k, all_kinds[i]);
    }
    assert_null(hs_kind_name(HS_KIND_NONE));
    assert_null(hs_kind_name((enum hs_kind)99));
    struct hs_error err;
    enum hs_kind k;
    assert_int_equal(hs_kind_parse("Invoice", &k, &err), HS_EINVAL);
    assert_string_equal(err.msg, "unknown record kind 'Invoice'");
    struct hs_record *r = (struct hs_record *)&err; /* must be overwritten with NULL */
    assert_int_equal(hs_record_new(HS_KIND_NONE, &r), HS_EINVAL);
    assert_null(r);
}

static void test_model_dates_are_strict(void **state)
{
    (void)state;
    struct hs_date d;
    OK(hs_date_parse("2024-02-29", 10, &d, NULL));
    assert_int_equal(d.year, 2024);
    assert_int_equal(d.month, 2);
    assert_int_equal(d.day, 29);
    char buf[11];
    hs_date_format(d, buf);
    assert_string_equal(buf, "2024-02-29");
    OK(hs_date_parse("2000-02-29", 10, &d, NULL));
    /* input is (ptr, len): trailing bytes beyond len are ignored */
    OK(hs_date_parse("0001-01-01xyz", 10, &d, NULL));
    hs_date_format(d, buf);
    assert_string_equal(buf, "0001-01-01");

    const char *bad[] = {"2023-02-29",       "1900-02-29",  "2024-13-01", "2024-00-10",
                         "2024-04-31",       "0000-01-01",  "2024-1-01",  "2024/01/01",
                         "2024-01-01T00:00", " 2024-01-01", "+024-01-01", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hs_error err;
        assert_int_equal(hs_date_parse(bad[i], strlen(bad[i]), &d, &err), HS_EINVAL);
        assert_non_null(strstr(err.msg, "invalid date '"));
    }
    struct hs_error err;
    assert_int_equal(hs_date_parse("2023-02-29", 10, &d, &err), HS_EINVAL);
    assert_string_equal(err.msg, "invalid date '2023-02-29': no such day");
    struct hs_date zero = {0, 0, 0};
    assert_false(hs_date_valid(zero));
}

/* ---- field view ----------------------------------------------------------------------------- */

static void test_model_field_view_names_and_canonical_values(void **state)
{
    (void)state;
    struct hs_record *r = sample(HS_KIND_INVOICE, 0, 12);
    struct hs_fields f;
    hs_fields_init(&f);
    OK(hs_record_to_fields(r, &f, NULL));
    assert_string_equal(hs_fields_get(&f, "total"), "USD 1357.95");
    assert_string_equal(hs_fields_get(&f, "currency"), "USD");
    assert_string_equal(hs_fields_get(&f, "issue_date"), "2024-02-28");
    assert_string_equal(hs_fields_get(&f, "status"), "partially_paid");
    assert_string_equal(hs_fields_get(&f, "tax_mode"), "exclusive");
    assert_string_equal(hs_fields_get(&f, "lines[0].quantity"), "1.5");
    assert_string_equal(hs_fields_get(&f, "lines[11].quantity"), "12.5");
    assert_string_equal(hs_fields_get(&f, "lines[3].discount_percent"), "10");
    assert_string_equal(hs_fields_get(&f, "lines[3].unit_price"), "USD 120.50");
    assert_string_equal(hs_fields_get(&f, "custom.hs_region"), "EMEA");
    assert_string_equal(hs_fields_get(&f, "external_refs.hubspot"), "42");
    assert_null(hs_fields_get(&f, "id"));
    assert_null(hs_fields_get(&f, "lines[12].quantity"));
    /* 13 top-level values + 8 per line + 2 custom + 2 refs */
    assert_int_equal(hs_fields_count(&f), 13 + 12 * 8 + 4);
    for (size_t i = 1; i < f.n_items; i++)
        assert_true(strcmp(f.items[i - 1].name, f.items[i].name) < 0);
    hs_fields_release(&f);
    hs_record_free(r);

    /* other formats: booleans, currencies with exponent 0 and 3, nested address paths */
    r = sample(HS_KIND_ITEM, 0, 0);
    OK(hs_record_to_fields(r, &f, NULL));
    assert_string_equal(hs_fields_get(&f, "unit_price"), "KWD 1.234");
    assert_string_equal(hs_fields_get(&f, "taxable"), "true");
    assert_string_equal(hs_fields_get(&f, "active"), "false");
    hs_record_free(r);
    r = sample(HS_KIND_ITEM, 1, 0);
    OK(hs_record_to_fields(r, &f, NULL)); /* replaces previous contents */
    assert_string_equal(hs_fields_get(&f, "unit_price"), "JPY 1235");
    hs_record_free(r);
    r = sample(HS_KIND_CUSTOMER, 0, 0);
    OK(hs_record_to_fields(r, &f, NULL));
    assert_string_equal(hs_fields_get(&f, "billing_address.city"), "Lyon Société Générale");
    assert_string_equal(hs_fields_get(&f, "billing_address.country"), "FR");
    assert_string_equal(hs_fields_get(&f, "shipping_address.country"), "JP");
    assert_null(hs_fields_get(&f, "billing_address"));
    hs_fields_release(&f);
    hs_record_free(r);
}

static void test_model_absent_values_have_no_entry(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_KINDS; i++) {
        struct hs_record *r = NULL;
        OK(hs_record_new(all_kinds[i], &r));
        struct hs_fields f;
        hs_fields_init(&f);
        OK(hs_record_to_fields(r, &f, NULL));
        assert_int_equal(hs_fields_count(&f), 0);
        hs_fields_release(&f);
        hs_record_free(r);
    }
    struct hs_record *r = NULL;
    OK(hs_record_new(HS_KIND_CUSTOMER, &r));
    OK(hs_record_set_str(&r->customer.email, ""));
    r->customer.active = HS_TRI_FALSE;
    OK(hs_record_set_str(&r->id, "provider-1"));
    r->updated_at = 1700000000000;
    OK(hs_fields_set(&r->meta, "sync_token", "3"));
    struct hs_fields f;
    hs_fields_init(&f);
    OK(hs_record_to_fields(r, &f, NULL));
    assert_int_equal(hs_fields_count(&f), 2); /* "" is present; id/meta are not fields */
    assert_string_equal(hs_fields_get(&f, "email"), "");
    assert_string_equal(hs_fields_get(&f, "active"), "false");
    hs_fields_release(&f);
    hs_record_free(r);
    hs_record_free(NULL);
}

static void test_model_fields_round_trip_every_kind(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_KINDS; i++) {
        for (int alt = 0; alt < 2; alt++) {
            struct hs_record *r = sample(all_kinds[i], alt, 3);
            struct hs_fields f;
            struct hs_fields g;
            hs_fields_init(&f);
            hs_fields_init(&g);
            OK(hs_record_to_fields(r, &f, NULL));
            struct hs_record *back = NULL;
            struct hs_error err;
            if (hs_record_from_fields(all_kinds[i], &f, &back, &err) != HS_OK)
                fail_msg("from_fields(%s): %s", hs_kind_name(all_kinds[i]), err.msg);
            assert_int_equal(back->kind, all_kinds[i]);
            assert_null(back->id);
            OK(hs_record_to_fields(back, &g, NULL));
            assert_true(hs_fields_equal(&f, &g));
            /* the typed structs agree too: same JSON once provider bookkeeping is aligned */
            OK(hs_record_set_str(&back->id, r->id));
            char *a = to_json(r);
            char *b = to_json(back);
            assert_string_equal(a, b);
            hs_free(a);
            hs_free(b);
            hs_fields_release(&f);
            hs_fields_release(&g);
            hs_record_free(back);
            hs_record_free(r);
        }
    }
}

static void test_model_fields_round_trip_sparse_and_many_lines(void **state)
{
    (void)state;
    struct hs_fields f;
    hs_fields_init(&f);
    OK(hs_fields_set(&f, "lines[2].description", "third"));
    OK(hs_fields_set(&f, "lines[0].quantity", "-0.000001"));
    OK(hs_fields_set(&f, "number", "番号-1"));
    struct hs_record *r = NULL;
    OK(hs_record_from_fields(HS_KIND_INVOICE, &f, &r, NULL));
    assert_int_equal(r->invoice.n_lines, 3);
    assert_true(r->invoice.lines[0].has_quantity);
    assert_int_equal(r->invoice.lines[0].quantity.v, -1);
    assert_null(r->invoice.lines[1].description);
    assert_string_equal(r->invoice.lines[2].description, "third");
    struct hs_fields g;
    hs_fields_init(&g);
    OK(hs_record_to_fields(r, &g, NULL));
    assert_true(hs_fields_equal(&f, &g));
    hs_record_free(r);
    hs_fields_release(&g);
    hs_fields_release(&f);

    /* an invoice with 2500 lines survives both directions */
    r = sample(HS_KIND_INVOICE, 1, 2500);
    OK(hs_record_to_fields(r, &f, NULL));
    struct hs_record *back = NULL;
    OK(hs_record_from_fields(HS_KIND_INVOICE, &f, &back, NULL));
    assert_int_equal(back->invoice.n_lines, 2500);
    assert_string_equal(back->invoice.lines[2499].description, r->invoice.lines[2499].description);
    OK(hs_record_to_fields(back, &g, NULL));
    assert_true(hs_fields_equal(&f, &g));
    hs_fields_release(&f);
    hs_fields_release(&g);
    hs_record_free(back);
    hs_record_free(r);
}

struct bad_field {
    enum hs_kind kind;
    const char *name;
    const char *value;
    int code;
    const char *msg; /* expected substring */
};

static void test_model_from_fields_rejects_bad_names_and_values(void **state)
{
    (void)state;
    static const struct bad_field cases[] = {
        {HS_KIND_CUSTOMER, "nickname", "x", HS_EINVAL,
         "cannot build customer from fields: field 'nickname': unknown field of customer"},
        {HS_KIND_CUSTOMER, "billing_address", "x", HS_EINVAL, "unknown field of customer"},
        {HS_KIND_CUSTOMER, "billing_address.town", "x", HS_EINVAL,
         "field 'billing_address.town': unknown field of address"},
        {HS_KIND_CUSTOMER, "email.x", "x", HS_EINVAL, "unknown field"},
        {HS_KIND_CUSTOMER, "active", "yes", HS_EINVAL,
         "field 'active': expected 'true' or 'false', got 'yes'"},
        {HS_KIND_CUSTOMER, "currency", "usd", HS_EINVAL, "expected an ISO 4217 code"},
        {HS_KIND_CUSTOMER, "currency", "ABC", HS_EINVAL, "unknown currency 'ABC'"},
        {HS_KIND_CUSTOMER, "billing_address.country", "France", HS_EINVAL, "alpha-2"},
        {HS_KIND_CUSTOMER, "email", "\xff\xfe", HS_EINVAL, "field 'email': not valid UTF-8"},
        {HS_KIND_CUSTOMER, "email", "\xc0\xaf", HS_EINVAL, "not valid UTF-8"},     /* overlong */
        {HS_KIND_CUSTOMER, "email", "\xed\xa0\x80", HS_EINVAL, "not valid UTF-8"}, /* surrogate */
        {HS_KIND_CUSTOMER, "custom.", "x", HS_EINVAL, "field 'custom.': empty key"},
        {HS_KIND_CUSTOMER, "custom.k", "\xe2\x82", HS_EINVAL, "not valid UTF-8"},
        {HS_KIND_CUSTOMER, "lines[0].description", "x", HS_EINVAL, "unknown field of customer"},
        {HS_KIND_INVOICE, "total", "USD 1.5", HS_EINVAL,
         "field 'total': 'USD 1.5' is not canonical, expected 'USD 1.50'"},
        {HS_KIND_INVOICE, "total", "USD 1.505", HS_EINVAL, "more than 2 decimals"},
        {HS_KIND_INVOICE, "total", "1.50", HS_EINVAL, "expected '<currency> <amount>'"},
        {HS_KIND_INVOICE, "total", "usd 1.50", HS_EINVAL, "expected '<currency> <amount>'"},
        {HS_KIND_INVOICE, "total", "USD  1.50", HS_EINVAL, "field 'total'"},
        {HS_KIND_INVOICE, "total", "QQQ 1.50", HS_EINVAL, "unknown currency 'QQQ'"},
        {HS_KIND_INVOICE, "total", "USD +1.50", HS_EINVAL, "is not canonical"},
        {HS_KIND_INVOICE, "total", "USD 1e2", HS_EINVAL, "field 'total'"},
        {HS_KIND_INVOICE, "lines[0].quantity", "1.50", HS_EINVAL,
         "field 'lines[0].quantity': '1.50' is not canonical, expected '1.5'"},
        {HS_KIND_INVOICE, "lines[0].quantity", "0.0000001", HS_EINVAL, "more than 6 decimals"},
        {HS_KIND_INVOICE, "lines[0].quantity", "abc", HS_EINVAL, "field 'lines[0].quantity'"},
        {HS_KIND_INVOICE, "lines[01].description", "x", HS_EINVAL, "unknown field of invoice"},
        {HS_KIND_INVOICE, "lines[x].description", "x", HS_EINVAL, "unknown field of invoice"},
        {HS_KIND_INVOICE, "lines[].description", "x", HS_EINVAL, "unknown field of invoice"},
        {HS_KIND_INVOICE, "lines[0]description", "x", HS_EINVAL, "unknown field of invoice"},
        {HS_KIND_INVOICE, "lines[0].qty", "1", HS_EINVAL,
         "field 'lines[0].qty': unknown field of invoice line"},
        {HS_KIND_INVOICE, "lines[10000].description", "x", HS_ETOOBIG, "beyond the limit"},
        {HS_KIND_INVOICE, "lines[99999999999].description", "x", HS_ETOOBIG, "beyond"},
        {HS_KIND_INVOICE, "status", "closed", HS_EINVAL,
         "field 'status': unknown value 'closed', expected one of draft, open, paid, "
         "partially_paid, overdue, void"},
        {HS_KIND_INVOICE, "issue_date", "2024-02-30", HS_EINVAL,
         "field 'issue_date': invalid date '2024-02-30': no such day"},
        {HS_KIND_INVOICE, "due_date", "31/01/2024", HS_EINVAL, "expected YYYY-MM-DD"},
        {HS_KIND_PAYMENT, "applied[0].amount", "EUR 1", HS_EINVAL, "is not canonical"},
        {HS_KIND_CREDIT_NOTE, "status", "paid", HS_EINVAL, "unknown value 'paid'"},
        {HS_KIND_CREDIT_NOTE, "amount_paid", "USD 1.00", HS_EINVAL, "unknown field of credit_note"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bad_field *c = &cases[i];
        struct hs_fields f;
        hs_fields_init(&f);
        OK(hs_fields_set(&f, c->name, c->value));
        struct hs_record *r = (struct hs_record *)&f; /* must become NULL */
        struct hs_error err;
        int rc = hs_record_from_fields(c->kind, &f, &r, &err);
        if (rc != c->code || strstr(err.msg, c->msg) == NULL)
            fail_msg("case %zu (%s=%s): rc %d, message '%s'", i, c->name, c->value, rc, err.msg);
        assert_null(r);
        assert_int_equal(hs_record_from_fields(c->kind, &f, &r, NULL), c->code);
        assert_null(r);
        hs_fields_release(&f);
    }
    /* over-long names */
    char name[HS_FIELD_NAME_MAX + 2];
    memset(name, 'k', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    memcpy(name, "custom.", 7);
    struct hs_fields f;
    hs_fields_init(&f);
    OK(hs_fields_set(&f, name, "x"));
    struct hs_record *r = NULL;
    struct hs_error err;
    assert_int_equal(hs_record_from_fields(HS_KIND_ITEM, &f, &r, &err), HS_ETOOBIG);
    assert_non_null(strstr(err.msg, "name longer than 256 bytes"));
    hs_fields_release(&f);
    assert_int_equal(hs_record_from_fields(HS_KIND_NONE, &f, &r, &err), HS_EINVAL);
}

static void test_model_validate_rejects_bad_typed_values(void **state)
{
    (void)state;
    struct hs_record *r = sample(HS_KIND_INVOICE, 0, 2);
    struct hs_error err;
    struct hs_fields f;
    hs_fields_init(&f);
    OK(hs_record_validate(r, NULL));

    memcpy(r->invoice.currency, "usd", 4);
    assert_int_equal(hs_record_validate(r, NULL), HS_EINVAL);
    assert_int_equal(hs_record_to_fields(r, &f, NULL), HS_EINVAL);
    assert_int_equal(hs_record_validate(r, &err), HS_EINVAL);
    assert_string_equal(err.msg, "invalid invoice: field 'currency': unknown currency");
    memcpy(r->invoice.currency, "USD", 4);

    memcpy(r->invoice.lines[1].amount.currency, "ZZZ", 4);
    assert_int_equal(hs_record_to_fields(r, &f, &err), HS_EINVAL);
    assert_string_equal(err.msg, "invalid invoice: field 'lines[1].amount': unknown currency");
    assert_int_equal(hs_fields_count(&f), 0);
    memcpy(r->invoice.lines[1].amount.currency, "USD", 4);

    r->invoice.due_date.day = 31;
    r->invoice.due_date.month = 4;
    assert_int_equal(hs_record_validate(r, &err), HS_EINVAL);
    assert_string_equal(err.msg, "invalid invoice: field 'due_date': not a calendar date");
    r->invoice.due_date.month = 5;

    r->invoice.status = (enum hs_invoice_status)42;
    assert_int_equal(hs_record_validate(r, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "field 'status'"));
    r->invoice.status = HS_INVOICE_VOID;

    OK(hs_record_set_str(&r->invoice.lines[0].tax_code, "bad \xff"));
    char *json = (char *)&err;
    assert_int_equal(hs_record_to_json(r, &json, &err), HS_EINVAL);
    assert_null(json);
    assert_string_equal(err.msg, "invalid invoice: field 'lines[0].tax_code': not valid UTF-8");
    OK(hs_record_set_str(&r->invoice.lines[0].tax_code, NULL));

    OK(hs_fields_set(&r->custom, "", "x"));
    assert_int_equal(hs_record_validate(r, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "map 'custom': empty key"));
    assert_int_equal(hs_fields_remove(&r->custom, ""), 1);
    OK(hs_record_validate(r, &err));
    hs_record_free(r);

    r = sample(HS_KIND_CUSTOMER, 0, 0);
    memcpy(r->customer.billing_address.country, "fr", 3);
    assert_int_equal(hs_record_validate(r, &err), HS_EINVAL);
    assert_string_equal(err.msg, "invalid customer: field 'billing_address.country': not an ISO "
                                 "3166 alpha-2 code");
    memcpy(r->customer.billing_address.country, "FR", 3);
    r->customer.active = (enum hs_tri)7;
    assert_int_equal(hs_record_validate(r, &err), HS_EINVAL);
    r->customer.active = HS_TRI_UNSET;
    OK(hs_record_validate(r, &err));
    hs_record_free(r);
}

static void test_model_add_line_only_for_documents(void **state)
{
    (void)state;
    struct hs_record *r = sample(HS_KIND_CUSTOMER, 0, 0);
    struct hs_invoice_line *l = (struct hs_invoice_line *)r;
    assert_int_equal(hs_record_add_line(r, &l), HS_EINVAL);
    assert_null(l);
    struct hs_payment_applied *a = (struct hs_payment_applied *)r;
    assert_int_equal(hs_record_add_applied(r, &a), HS_EINVAL);
    assert_null(a);
    hs_record_free(r);
    r = sample(HS_KIND_CREDIT_NOTE, 0, 1);
    OK(hs_record_add_line(r, &l));
    assert_int_equal(r->credit_note.n_lines, 2);
    assert_ptr_equal(l, &r->credit_note.lines[1]);
    assert_null(l->description);
    hs_record_free(r);
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static void test_model_json_round_trip_every_kind(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_KINDS; i++) {
        struct hs_record *r = sample(all_kinds[i], 0, 4);
        OK(hs_record_set_str(&r->id, "ext-42"));
        r->updated_at = 1712345678901;
        OK(hs_fields_set(&r->meta, "sync_token", "7"));
        char *a = to_json(r);
        assert_non_null(strstr(a, "\"v\":1"));
        assert_null(strchr(a, '\n'));
        struct hs_record *back = from_json(a);
        assert_int_equal(back->kind, all_kinds[i]);
        assert_string_equal(back->id, "ext-42");
        assert_int_equal(back->updated_at, 1712345678901);
        assert_string_equal(hs_fields_get(&back->meta, "sync_token"), "7");
        char *b = to_json(back);
        assert_string_equal(a, b);
        struct hs_record *c = NULL;
        OK(hs_record_clone(back, &c));
        char *d = to_json(c);
        assert_string_equal(a, d);
        hs_free(a);
        hs_free(b);
        hs_free(d);
        hs_record_free(c);
        hs_record_free(back);
        hs_record_free(r);
    }
}

static void test_model_json_shape_has_no_reals(void **state)
{
    (void)state;
    struct hs_record *r = NULL;
    OK(hs_record_new(HS_KIND_INVOICE, &r));
    r->invoice.total = money("USD", 123450);
    struct hs_invoice_line *l;
    OK(hs_record_add_line(r, &l));
    l->quantity = dec(2500000);
    l->has_quantity = true;
    OK(hs_record_set_str(&l->description, "Ça va"));
    OK(hs_fields_set(&r->custom, "b", "2"));
    OK(hs_fields_set(&r->custom, "a", "1"));
    char *s = to_json(r);
    assert_string_equal(s, "{\"custom\":{\"a\":\"1\",\"b\":\"2\"},\"kind\":\"invoice\","
                           "\"lines\":[{\"description\":\"Ça va\",\"quantity\":\"2.5\"}],"
                           "\"total\":\"USD 1234.50\",\"v\":1}");
    hs_free(s);
    hs_record_free(r);
}

static void test_model_json_many_lines_and_unicode(void **state)
{
    (void)state;
    struct hs_record *r = sample(HS_KIND_INVOICE, 1, 3000);
    OK(hs_record_set_str(&r->invoice.memo, "Grüße aus Köln — 東京 — مرحبا — \xf0\x9f\x98\x80"));
    char *a = to_json(r);
    struct hs_record *back = from_json(a);
    assert_int_equal(back->invoice.n_lines, 3000);
    assert_string_equal(back->invoice.memo, r->invoice.memo);
    assert_int_equal(back->invoice.lines[2999].amount.minor, r->invoice.lines[2999].amount.minor);
    char *b = to_json(back);
    assert_string_equal(a, b);
    hs_free(a);
    hs_free(b);
    hs_record_free(back);
    hs_record_free(r);

    /* empty array elements survive JSON exactly */
    OK(hs_record_new(HS_KIND_PAYMENT, &r));
    struct hs_payment_applied *ap;
    OK(hs_record_add_applied(r, &ap));
    OK(hs_record_add_applied(r, &ap));
    ap->amount = money("BHD", 1);
    a = to_json(r);
    assert_string_equal(a, "{\"applied\":[{},{\"amount\":\"BHD 0.001\"}],\"kind\":\"payment\","
                           "\"v\":1}");
    back = from_json(a);
    assert_int_equal(back->payment.n_applied, 2);
    hs_free(a);
    hs_record_free(back);
    hs_record_free(r);
}

struct bad_json {
    const char *json;
    int code;
    const char *msg;
};

static void test_model_from_json_rejects_bad_input(void **state)
{
    (void)state;
    static const struct bad_json cases[] = {
        {"", HS_EPROTO, "cannot parse record JSON: empty input"},
        {"{\"v\":1,", HS_EPROTO, "cannot parse record JSON: line 1"},
        {"[1]", HS_EPROTO, "cannot parse record JSON: line 1 column 1: expected an object"},
        {"{\"v\":1,\"kind\":\"item\"} x", HS_EPROTO, "column 23: unexpected data after"},
        {"{\"v\":1,\n\"kind\":\"item}", HS_EPROTO, "line 2 column 14: unterminated string"},
        {"{\"v\":01}", HS_EPROTO, "expected ',' or '}'"},
        {"{\"v\":-}", HS_EPROTO, "invalid number"},
        {"{\"v\":1.}", HS_EPROTO, "invalid number"},
        {"{\"v\":tru}", HS_EPROTO, "invalid literal"},
        {"{\"v\":1,}", HS_EPROTO, "expected a string key"},
        {"{\"v\" 1}", HS_EPROTO, "expected ':'"},
        {"{\"a\":\"\x01\"}", HS_EPROTO, "control character in string"},
        {"{\"a\":\"\xc3\x28\"}", HS_EPROTO, "invalid UTF-8 in string"},
        {"{\"a\":\"\\x\"}", HS_EPROTO, "invalid escape in string"},
        {"{\"a\":\"\\u12G4\"}", HS_EPROTO, "invalid \\u escape"},
        {"{\"a\":\"\\udc00\"}", HS_EPROTO, "unpaired surrogate"},
        {"{\"a\":\"\\ud800\\u0041\"}", HS_EPROTO, "unpaired surrogate"},
        {"{\"v\":1,\"kind\":\"item\",\"updated_at\":1e400}", HS_EPROTO, "line 1"},
        {"{\"v\":1,\"kind\":\"item\",\"updated_at\":99999999999999999999}", HS_EPROTO, "too big"},
        {"{\"v\":1,\"kind\":\"item\",\"name\":\"\\ud83d\\ude00\"}", 0, ""},
        {"{\"kind\":\"item\"}", HS_EPROTO, "member 'v' (format version) is missing"},
        {"{\"v\":\"1\",\"kind\":\"item\"}", HS_EPROTO, "member 'v': expected an integer"},
        {"{\"v\":2,\"kind\":\"item\"}", HS_EUNSUPPORTED, "format version 2 is not supported"},
        {"{\"v\":1}", HS_EPROTO, "member 'kind' is missing"},
        {"{\"v\":1,\"kind\":7}", HS_EPROTO, "member 'kind': expected a string, got a number"},
        {"{\"v\":1,\"kind\":\"widget\"}", HS_EINVAL,
         "cannot read record JSON: unknown record kind 'widget'"},
        {"{\"v\":1,\"kind\":\"invoice\",\"total\":1234.5}", HS_EPROTO,
         "cannot read record JSON: field 'total': expected a string like 'USD 12.50', got a "
         "number"},
        {"{\"v\":1,\"kind\":\"invoice\",\"total\":123450}", HS_EPROTO, "got a number"},
        {"{\"v\":1,\"kind\":\"invoice\",\"total\":{\"minor\":1,\"currency\":\"USD\"}}", HS_EPROTO,
         "field 'total': expected a string like 'USD 12.50', got an object"},
        {"{\"v\":1,\"kind\":\"invoice\",\"total\":\"USD 1.5\"}", HS_EINVAL, "is not canonical"},
        {"{\"v\":1,\"kind\":\"invoice\",\"lines\":[{\"quantity\":2}]}", HS_EPROTO,
         "field 'lines[0].quantity': expected a decimal string like '1.5', got a number"},
        {"{\"v\":1,\"kind\":\"invoice\",\"lines\":{}}", HS_EPROTO,
         "field 'lines': expected an array, got an object"},
        {"{\"v\":1,\"kind\":\"invoice\",\"lines\":[{},3]}", HS_EPROTO,
         "field 'lines[1]': expected an object, got a number"},
        {"{\"v\":1,\"kind\":\"invoice\",\"lines\":[{\"qty\":\"1\"}]}", HS_EPROTO,
         "field 'lines[0].qty': unknown field of invoice line"},
        {"{\"v\":1,\"kind\":\"invoice\",\"number\":5}", HS_EPROTO,
         "field 'number': expected a string, got a number"},
        {"{\"v\":1,\"kind\":\"invoice\",\"number\":null}", HS_EPROTO, "got null"},
        {"{\"v\":1,\"kind\":\"invoice\",\"status\":\"closed\"}", HS_EINVAL, "unknown value"},
        {"{\"v\":1,\"kind\":\"invoice\",\"issue_date\":20240101}", HS_EPROTO,
         "expected a date string"},
        {"{\"v\":1,\"kind\":\"item\",\"taxable\":\"true\"}", HS_EPROTO,
         "field 'taxable': expected true or false, got a string"},
        {"{\"v\":1,\"kind\":\"item\",\"colour\":\"red\"}", HS_EPROTO,
         "field 'colour': unknown field of item"},
        {"{\"v\":1,\"kind\":\"customer\",\"billing_address\":\"x\"}", HS_EPROTO,
         "field 'billing_address': expected an object, got a string"},
        {"{\"v\":1,\"kind\":\"customer\",\"billing_address\":{\"zip\":\"1\"}}", HS_EPROTO,
         "field 'billing_address.zip': unknown field of address"},
        {"{\"v\":1,\"kind\":\"customer\",\"custom\":{\"a\":1}}", HS_EPROTO,
         "member 'custom.a': expected a string, got a number"},
        {"{\"v\":1,\"kind\":\"customer\",\"custom\":[]}", HS_EPROTO,
         "member 'custom': expected an object, got an array"},
        {"{\"v\":1,\"kind\":\"customer\",\"custom\":{\"\":\"x\"}}", HS_EINVAL, "empty key"},
        {"{\"v\":1,\"kind\":\"customer\",\"id\":5}", HS_EPROTO,
         "member 'id': expected a string or null"},
        {"{\"v\":1,\"kind\":\"customer\",\"updated_at\":1.5}", HS_EPROTO,
         "member 'updated_at': expected an integer, got a number"},
        {"{\"v\":1,\"kind\":\"customer\",\"email\":\"a\",\"email\":\"b\"}", HS_EPROTO,
         "duplicate object key"},
        {"{\"v\":1,\"kind\":\"customer\",\"email\":\"a\\u0000b\"}", HS_EPROTO,
         "NUL character (\\u0000) in string"},
        {"{\"v\":1,\"kind\":\"customer\",\"email\":\"\\ud800\"}", HS_EPROTO, "unpaired surrogate"},
        {"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", HS_ETOOBIG,
         "nesting deeper than 8 levels"},
        {"{\"v\":1,\"kind\":\"customer\",\"custom\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{"
         "\"g\":{}}}}}}}}}",
         HS_ETOOBIG, "nesting deeper than 8 levels"},
        /* brackets inside strings do not count as nesting */
        {"{\"v\":1,\"kind\":\"customer\",\"notes\":\"[[[[[[[[[[[[{{{{{{{{{{\\\"\",\"x\":1}",
         HS_EPROTO, "field 'x': unknown field of customer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bad_json *c = &cases[i];
        struct hs_record *r = (struct hs_record *)&i; /* must become NULL */
        struct hs_error err;
        hs_error_clear(&err);
        int rc = hs_record_from_json((const uint8_t *)c->json, strlen(c->json), &r, &err);
        if (rc != c->code || strstr(err.msg, c->msg) == NULL)
            fail_msg("case %zu (%s): rc %d, message '%s'", i, c->json, rc, err.msg);
        if (c->code != HS_OK) { /* the same code without an error buffer */
            assert_null(r);
            assert_int_equal(
                hs_record_from_json((const uint8_t *)c->json, strlen(c->json), &r, NULL), c->code);
        }
        if (c->code == HS_OK)
            hs_record_free(r);
        else
            assert_null(r);
    }
    /* (buf, len) input: bytes after len are not read */
    const char *s = "{\"v\":1,\"kind\":\"item\"}garbage";
    struct hs_record *r = NULL;
    OK(hs_record_from_json((const uint8_t *)s, strlen(s) - 7, &r, NULL));
    assert_int_equal(r->kind, HS_KIND_ITEM);
    hs_record_free(r);
    /* id null is accepted and means "not created yet" */
    r = from_json("{\"v\":1,\"kind\":\"item\",\"id\":null,\"name\":\"x\"}");
    assert_null(r->id);
    hs_record_free(r);
}

/* ---- OOM loops (STYLE.md section 7) --------------------------------------------------------- */

static void test_model_from_json_survives_every_failed_allocation(void **state)
{
    (void)state;
    struct hs_record *src = sample(HS_KIND_INVOICE, 0, 3);
    OK(hs_record_set_str(&src->id, "1"));
    OK(hs_fields_set(&src->meta, "etag", "x"));
    char *json = to_json(src);
    int n;
    for (n = 0;; n++) {
        struct hs_record *r = NULL;
        failalloc_arm(n);
        struct hs_error e;
        int rc = hs_record_from_json((const uint8_t *)json, strlen(json), &r, &e);
        failalloc_disarm();
        if (rc != HS_OK && rc != HS_ENOMEM)
            fail_msg("n=%d: %s", n, e.msg);
        if (rc == HS_OK) {
            char *again = to_json(r);
            assert_string_equal(again, json);
            hs_free(again);
            hs_record_free(r);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_null(r);
    }
    assert_true(n > 10);
    hs_free(json);
    hs_record_free(src);
}

static void test_model_to_fields_survives_every_failed_allocation(void **state)
{
    (void)state;
    struct hs_record *src = sample(HS_KIND_CUSTOMER, 1, 0);
    struct hs_fields want;
    hs_fields_init(&want);
    OK(hs_record_to_fields(src, &want, NULL));
    for (int n = 0;; n++) {
        struct hs_fields f;
        hs_fields_init(&f);
        OK(hs_fields_set(&f, "stale", "entry"));
        failalloc_arm(n);
        int rc = hs_record_to_fields(src, &f, NULL);
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_true(hs_fields_equal(&f, &want));
            hs_fields_release(&f);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_int_equal(hs_fields_count(&f), 0);
        hs_fields_release(&f);
    }
    hs_fields_release(&want);
    hs_record_free(src);
}

static void test_model_from_fields_and_to_json_survive_every_failed_allocation(void **state)
{
    (void)state;
    struct hs_record *src = sample(HS_KIND_PAYMENT, 0, 0);
    struct hs_fields f;
    hs_fields_init(&f);
    OK(hs_record_to_fields(src, &f, NULL));
    for (int n = 0;; n++) {
        struct hs_record *r = NULL;
        failalloc_arm(n);
        int rc = hs_record_from_fields(HS_KIND_PAYMENT, &f, &r, NULL);
        failalloc_disarm();
        if (rc == HS_OK) {
            hs_record_free(r);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_null(r);
    }
    char *want = to_json(src);
    for (int n = 0;; n++) {
        char *s = NULL;
        failalloc_arm(n);
        int rc = hs_record_to_json(src, &s, NULL);
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_string_equal(s, want);
            hs_free(s);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_null(s);
    }
    for (int n = 0;; n++) {
        struct hs_record *c = NULL;
        failalloc_arm(n);
        int rc = hs_record_clone(src, &c);
        failalloc_disarm();
        if (rc == HS_OK) {
            hs_record_free(c);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_null(c);
    }
    for (int n = 0;; n++) {
        struct hs_fields g;
        hs_fields_init(&g);
        OK(hs_fields_set(&g, "keep", "me"));
        failalloc_arm(n);
        int rc = hs_fields_copy(&g, &f);
        int rc2 = rc == HS_OK ? hs_fields_set(&g, "zz", "new") : HS_OK;
        failalloc_disarm();
        if (rc == HS_OK && rc2 == HS_OK) {
            assert_int_equal(hs_fields_count(&g), hs_fields_count(&f) + 1);
            hs_fields_release(&g);
            break;
        }
        if (rc != HS_OK) {
            assert_int_equal(rc, HS_ENOMEM);
            assert_string_equal(hs_fields_get(&g, "keep"), "me"); /* unchanged */
        } else {
            assert_int_equal(rc2, HS_ENOMEM);
            assert_null(hs_fields_get(&g, "zz"));
        }
        hs_fields_release(&g);
    }
    hs_free(want);
    hs_fields_release(&f);
    hs_record_free(src);
}

int main(void)
{
    hs_alloc_setup_json();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_fields_map_keeps_sorted_unique_names),
        cmocka_unit_test(test_model_kind_names_round_trip),
        cmocka_unit_test(test_model_dates_are_strict),
        cmocka_unit_test(test_model_field_view_names_and_canonical_values),
        cmocka_unit_test(test_model_absent_values_have_no_entry),
        cmocka_unit_test(test_model_fields_round_trip_every_kind),
        cmocka_unit_test(test_model_fields_round_trip_sparse_and_many_lines),
        cmocka_unit_test(test_model_from_fields_rejects_bad_names_and_values),
        cmocka_unit_test(test_model_validate_rejects_bad_typed_values),
        cmocka_unit_test(test_model_add_line_only_for_documents),
        cmocka_unit_test(test_model_json_round_trip_every_kind),
        cmocka_unit_test(test_model_json_shape_has_no_reals),
        cmocka_unit_test(test_model_json_many_lines_and_unicode),
        cmocka_unit_test(test_model_from_json_rejects_bad_input),
        cmocka_unit_test(test_model_from_json_survives_every_failed_allocation),
        cmocka_unit_test(test_model_to_fields_survives_every_failed_allocation),
        cmocka_unit_test(test_model_from_fields_and_to_json_survive_every_failed_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
