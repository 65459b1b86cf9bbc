/*
 * tests/unit/test_core_invoice.c - invoice builder, calendar helpers and payment status.
 *
 * Design:     a small HubSpot-like deal (canonical HS_KIND_INVOICE with product lines) is
 *             built into a QuickBooks-style invoice and every field of the result is checked:
 *             items, codes, amounts with discounts, totals, due date from terms, memo and the
 *             external ref; JPY and KWD deals; each error message a finance user would see;
 *             every failed allocation. Payment status runs through a table of invoices and
 *             dates, including overdue by date, due today, void and payments-only input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/invoice.h"
#include "hoopsync/error.h"
#include "testutil/failalloc.h"

static struct hs_date D(int y, int m, int d) {
    struct hs_date r = {(int16_t)y, (int8_t)m, (int8_t)d};
    return r;
}

static struct hs_money
M(int64_t minor, const char *cur) {
    struct hs_money m;
    assert_int_equal(hs_money_from_minor(minor, cur, &m, NULL), HS_OK);
    return m;
}

static struct hs_decimal
Q(int64_t micro) {
    struct hs_decimal d = {micro};
    return d;
}

/* Adds a deal line; price_minor < 0 means no unit price; disc_micro < 0 no discount. */
static void
add_line(struct hs_record *deal, const char *product, const char *desc, int64_t qty_micro,
         int64_t price_minor, int64_t disc_micro, const char *tax)
{
    struct hs_invoice_line *l = NULL;
    assert_int_equal(hs_record_add_line(deal, &l), HS_OK);
    assert_int_equal(hs_record_set_str(&l->item_ref, product), HS_OK);
    assert_int_equal(hs_record_set_str(&l->description, desc), HS_OK);
    assert_int_equal(hs_record_set_str(&l->tax_code, tax), HS_OK);
    if (qty_micro != 0) {
        l->quantity = Q(qty_micro);
        l->has_quantity = true;
    }
    if (price_minor >= 0)
        l->unit_price = M(price_minor, deal->invoice.currency);
    if (disc_micro >= 0) {
        l->discount_percent = Q(disc_micro);
        l->has_discount_percent = true;
    }
}

static struct hs_record *new_deal(const char *id, const char *name, const char *cur)
{
    struct hs_record *d = NULL;
    assert_int_equal(hs_record_new(HS_KIND_INVOICE, &d), HS_OK);
    assert_int_equal(hs_record_set_str(&d->id, id), HS_OK);
    assert_int_equal(hs_record_set_str(&d->invoice.memo, name), HS_OK);
    snprintf(d->invoice.currency, sizeof d->invoice.currency, "%s", cur);
    assert_int_equal(hs_record_set_str(&d->invoice.customer_ref, "company-9"), HS_OK);
    return d;
}

static struct hs_tax_code code1(const char *code, const char *rate_ref, int64_t pct_micro)
{
    struct hs_tax_code c;
    memset(&c, 0, sizeof c);
    snprintf(c.code, sizeof c.code, "%s", code);
    snprintf(c.components[0].rate_ref, sizeof c.components[0].rate_ref, "%s", rate_ref);
    c.components[0].percent = Q(pct_micro);
    c.n_components = 1;
    return c;
}

static const struct hs_invoice_item_link links[] = {
    {"p-widget", "11"},
    {"p-gadget", "12"},
    {"p-yen", "13"},
};

static const struct hs_invoice_term terms[] = {
    {"Due on receipt", 0},
    {"Net 15", 15},
    {"Net 30", 30},
};

struct fixture {
    struct hs_tax_map *map;
    struct hs_invoice_build_opts o;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL || hs_tax_map_new(&f->map) != HS_OK)
        return -1;
    struct hs_tax_code vat20 = code1("4", "3", 20000000);
    struct hs_tax_code vat5 = code1("5", "4", 5000000);
    if (hs_tax_map_add(f->map, "VAT 20%", &vat20, NULL) != HS_OK ||
        hs_tax_map_add(f->map, "Reduced", &vat5, NULL) != HS_OK)
        return -1;
    f->o.provider = "QuickBooks";
    f->o.customer_id = "58";
    f->o.items = links;
    f->o.n_items = sizeof links / sizeof links[0];
    f->o.tax_map = f->map;
    f->o.untaxed_code = "NON";
    f->o.policy = hs_tax_policy_quickbooks(HS_TAX_EXCLUSIVE);
    f->o.terms = terms;
    f->o.n_terms = sizeof terms / sizeof terms[0];
    f->o.payment_terms = "net 30";
    f->o.issue_date = D(2026, 11, 23);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    hs_tax_map_free(f->map);
    free(f);
    return 0;
}

static struct hs_record *build_ok(const struct hs_record *deal,
                                  const struct hs_invoice_build_opts *o)
{
    struct hs_record *inv = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    int rc = hs_invoice_build(deal, o, &inv, &err);
    if (rc != HS_OK)
        print_error("build: %s\n", err.msg);
    assert_int_equal(rc, HS_OK);
    assert_non_null(inv);
    assert_int_equal(hs_record_validate(inv, NULL), HS_OK);
    return inv;
}

static void build_fails(const struct hs_record *deal, const struct hs_invoice_build_opts *o,
                        int code, const char *msg)
{
    struct hs_record *inv = (struct hs_record *)1;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_invoice_build(deal, o, &inv, &err), code);
    assert_null(inv);
    if (strcmp(err.msg, msg) != 0) {
        print_error("got '%s'\nwant '%s'\n", err.msg, msg);
        fail();
    }
}

static void assert_money(const struct hs_money *m, int64_t minor, const char *cur)
{
    assert_string_equal(m->currency, cur);
    assert_int_equal(m->minor, minor);
}

static void test_core_invoice_build_usd_exclusive(void **state)
{
    struct fixture *f = *state;
    struct hs_record *deal = new_deal("9001", "Big Order", "USD");
    add_line(deal, "p-widget", "Widget", 3000000, 1999, 10000000, "VAT 20%"); /* 53.973 */
    add_line(deal, "p-gadget", "Gadget", 0, 500, -1, "reduced");              /* qty 1 */
    add_line(deal, "p-gadget", "Free sample", 2000000, 250, -1, NULL);        /* untaxed */
    add_line(deal, "p-widget", "Half off", 1000000, 1001, 50000000, " vat 20% ");
    struct hs_record *inv = build_ok(deal, &f->o);
    const struct hs_invoice *v = &inv->invoice;
    assert_string_equal(v->customer_ref, "58");
    assert_string_equal(v->currency, "USD");
    assert_int_equal(hs_invoice_date_cmp(v->issue_date, D(2026, 11, 23)), 0);
    assert_int_equal(hs_invoice_date_cmp(v->due_date, D(2026, 12, 23)), 0);
    assert_int_equal(v->tax_mode, HS_TAX_EXCLUSIVE);
    assert_int_equal(v->status, HS_INVOICE_STATUS_UNSET);
    assert_null(v->number);
    assert_string_equal(v->memo, "Big Order");
    assert_string_equal(hs_fields_get(&inv->external_refs, "hubspot_deal"), "9001");
    assert_int_equal(v->n_lines, 4);
    assert_string_equal(v->lines[0].item_ref, "11");
    assert_string_equal(v->lines[0].description, "Widget");
    assert_string_equal(v->lines[0].tax_code, "4");
    assert_int_equal(v->lines[0].quantity.v, 3000000);
    assert_money(&v->lines[0].unit_price, 1999, "USD");
    assert_true(v->lines[0].has_discount_percent);
    assert_int_equal(v->lines[0].discount_percent.v, 10000000);
    assert_money(&v->lines[0].amount, 5397, "USD");
    assert_money(&v->lines[0].tax_amount, 1079, "USD"); /* 10.794 */
    assert_string_equal(v->lines[1].item_ref, "12");
    assert_string_equal(v->lines[1].tax_code, "5");
    assert_true(v->lines[1].has_quantity);
    assert_int_equal(v->lines[1].quantity.v, 1000000);
    assert_false(v->lines[1].has_discount_percent);
    assert_money(&v->lines[1].amount, 500, "USD");
    assert_money(&v->lines[1].tax_amount, 25, "USD");
    assert_string_equal(v->lines[2].tax_code, "NON");
    assert_money(&v->lines[2].amount, 500, "USD");
    assert_money(&v->lines[2].tax_amount, 0, "USD");
    assert_money(&v->lines[3].amount, 501, "USD"); /* 5.005 -> 5.01 */
    assert_string_equal(v->lines[3].tax_code, "4");
    /* per document: VAT 20% on 53.97 + 5.01 = 58.98 -> 11.796 -> 11.80; 5% on 5.00 = 0.25 */
    assert_money(&v->subtotal, 5397 + 500 + 500 + 501, "USD");
    assert_money(&v->tax, 1180 + 25, "USD");
    assert_money(&v->total, 6898 + 1205, "USD");
    assert_int_equal(v->amount_paid.currency[0], '\0');
    assert_int_equal(v->balance.currency[0], '\0');
    hs_record_free(inv);

    /* the same deal under Xero's per-line policy: 10.79 + 1.00 (5.01 x 20% = 1.002) */
    f->o.policy = hs_tax_policy_xero(HS_TAX_EXCLUSIVE);
    inv = build_ok(deal, &f->o);
    assert_money(&inv->invoice.tax, 1079 + 100 + 25, "USD");
    hs_record_free(inv);
    hs_record_free(deal);
}

static void test_core_invoice_build_inclusive_jpy_kwd(void **state)
{
    struct fixture *f = *state;
    /* JPY deal in inclusive mode: gross 3 x 333 less 15% = 849, tax 849 x 20/120 = 141.5 ->
     * 142 (per line) and per document the same single line */
    struct hs_record *deal = new_deal("77", "Tokyo", "JPY");
    deal->invoice.tax_mode = HS_TAX_INCLUSIVE;
    add_line(deal, "p-yen", "Yen thing", 3000000, 333, 15000000, "VAT 20%");
    add_line(deal, "p-yen", "Yen other", 2000000, 1000, -1, NULL);
    f->o.payment_terms = NULL;
    struct hs_record *inv = build_ok(deal, &f->o);
    const struct hs_invoice *v = &inv->invoice;
    assert_int_equal(v->tax_mode, HS_TAX_INCLUSIVE);
    assert_int_equal(hs_invoice_date_cmp(v->due_date, v->issue_date), 0);
    assert_money(&v->lines[0].amount, 849, "JPY"); /* gross in inclusive mode */
    assert_money(&v->lines[0].tax_amount, 142, "JPY");
    assert_money(&v->lines[1].amount, 2000, "JPY");
    assert_money(&v->total, 2849, "JPY");
    assert_money(&v->tax, 142, "JPY");
    assert_money(&v->subtotal, 707 + 2000, "JPY");
    hs_record_free(inv);
    hs_record_free(deal);

    /* KWD: 2.5 x 1.234 = 3.085 and 1 x 0.333 less 50% = 0.1665 -> 0.167, 5% per document on
     * 3.252 = 0.1626 -> 0.163 */
    deal = new_deal("78", "Kuwait", "KWD");
    add_line(deal, "p-widget", NULL, 2500000, 1234, -1, "Reduced");
    add_line(deal, "p-gadget", NULL, 1000000, 333, 50000000, "Reduced");
    f->o.payment_terms = "Net 15";
    inv = build_ok(deal, &f->o);
    v = &inv->invoice;
    assert_int_equal(hs_invoice_date_cmp(v->due_date, D(2026, 12, 8)), 0);
    assert_null(v->lines[0].description);
    assert_money(&v->lines[0].amount, 3085, "KWD");
    assert_money(&v->lines[1].amount, 167, "KWD");
    assert_money(&v->tax, 163, "KWD");
    assert_money(&v->total, 3252 + 163, "KWD");
    hs_record_free(inv);
    /* mode none ignores labels, even unmapped ones, and sets no code */
    f->o.policy = hs_tax_policy_quickbooks(HS_TAX_NONE);
    add_line(deal, "p-widget", NULL, 1000000, 1, -1, "VAT 19%");
    inv = build_ok(deal, &f->o);
    assert_null(inv->invoice.lines[0].tax_code);
    assert_money(&inv->invoice.tax, 0, "KWD");
    assert_money(&inv->invoice.total, 3253, "KWD");
    hs_record_free(inv);
    hs_record_free(deal);
}

static const char *lookup(void *ud, const char *product)
{
    int *calls = ud;
    (*calls)++;
    return strcmp(product, "p-cb") == 0 ? "99" : NULL;
}

static void test_core_invoice_build_items_default_and_callback(void **state)
{
    struct fixture *f = *state;
    struct hs_record *deal = new_deal("5", "Big Order", "USD");
    add_line(deal, "p-widget", "ok", 1000000, 100, -1, NULL);
    add_line(deal, NULL, "no product", 1000000, 100, -1, NULL);
    build_fails(deal, &f->o, HS_EINVAL,
                "deal 'Big Order' line 2 has no product and no default item is configured");
    f->o.default_item_id = "1";
    struct hs_record *inv = build_ok(deal, &f->o);
    assert_string_equal(inv->invoice.lines[1].item_ref, "1");
    hs_record_free(inv);
    f->o.default_item_id = NULL;
    add_line(deal, "p-unknown", "unlinked", 1000000, 100, -1, NULL);
    assert_int_equal(hs_record_set_str(&deal->invoice.lines[1].item_ref, "p-widget"), HS_OK);
    build_fails(deal, &f->o, HS_EINVAL,
                "deal 'Big Order' line 3: product 'p-unknown' has no QuickBooks item and no "
                "default item is configured");
    int calls = 0;
    f->o.item_for = lookup;
    f->o.item_ud = &calls;
    f->o.default_item_id = "1";
    assert_int_equal(hs_record_set_str(&deal->invoice.lines[0].item_ref, "p-cb"), HS_OK);
    inv = build_ok(deal, &f->o);
    assert_int_equal(calls, 3);
    assert_string_equal(inv->invoice.lines[0].item_ref, "99");
    assert_string_equal(inv->invoice.lines[1].item_ref, "1"); /* callback wins over items[] */
    assert_string_equal(inv->invoice.lines[2].item_ref, "1");
    hs_record_free(inv);
    hs_record_free(deal);
}

static void test_core_invoice_build_errors_are_clear(void **state)
{
    struct fixture *f = *state;
    struct hs_record *deal = new_deal("5", "Big Order", "USD");
    add_line(deal, "p-widget", "a", 1000000, 100, -1, "Reduced");
    add_line(deal, "p-widget", "b", 1000000, 100, -1, "VAT 19%");
    build_fails(deal, &f->o, HS_EINVAL,
                "deal 'Big Order' line 2: tax 'VAT 19%' has no mapping to a QuickBooks tax code");
    assert_int_equal(hs_record_set_str(&deal->invoice.lines[1].tax_code, NULL), HS_OK);

    struct hs_invoice_build_opts o = f->o;
    o.customer_id = NULL;
    build_fails(deal, &o, HS_EINVAL,
                "deal 'Big Order' has no QuickBooks customer: its company is not linked yet");
    o = f->o;
    o.payment_terms = "Net 45";
    build_fails(deal, &o, HS_EINVAL, "deal 'Big Order': payment terms 'Net 45' are not configured");
    o = f->o;
    o.issue_date = D(2026, 2, 30);
    build_fails(deal, &o, HS_EINVAL, "deal 'Big Order': no valid issue date");
    o = f->o;
    o.deal_name = "Renamed";
    o.tax_map = NULL;
    assert_int_equal(hs_record_set_str(&deal->invoice.lines[1].tax_code, "Reduced"), HS_OK);
    build_fails(deal, &o, HS_EINVAL,
                "deal 'Renamed' line 1: tax 'Reduced' has no mapping to a QuickBooks tax code");
    assert_int_equal(hs_record_set_str(&deal->invoice.lines[1].tax_code, NULL), HS_OK);
    assert_int_equal(hs_record_set_str(&deal->invoice.lines[0].tax_code, NULL), HS_OK);

    /* a line in another currency */
    deal->invoice.lines[1].unit_price = M(100, "EUR");
    build_fails(deal, &f->o, HS_EINVAL, "deal 'Big Order' line 2 is in EUR but the deal is in USD");
    /* no unit price, but an amount: the amount stands */
    memset(&deal->invoice.lines[1].unit_price, 0, sizeof(struct hs_money));
    build_fails(deal, &f->o, HS_EINVAL, "deal 'Big Order' line 2 has no unit price");
    deal->invoice.lines[1].amount = M(1234, "USD");
    struct hs_record *inv = build_ok(deal, &f->o);
    assert_money(&inv->invoice.lines[1].amount, 1234, "USD");
    assert_int_equal(inv->invoice.lines[1].unit_price.currency[0], '\0');
    hs_record_free(inv);
    /* discount out of range */
    deal->invoice.lines[0].discount_percent = Q(100000001);
    deal->invoice.lines[0].has_discount_percent = true;
    build_fails(deal, &f->o, HS_EINVAL,
                "deal 'Big Order' line 1: discount must be between 0 and 100%");
    deal->invoice.lines[0].discount_percent = Q(-1);
    build_fails(deal, &f->o, HS_EINVAL,
                "deal 'Big Order' line 1: discount must be between 0 and 100%");
    deal->invoice.lines[0].has_discount_percent = false;
    /* overflow */
    deal->invoice.lines[0].quantity = Q(INT64_MAX);
    deal->invoice.lines[0].has_quantity = true;
    deal->invoice.lines[0].unit_price = M(INT64_MAX, "USD");
    build_fails(deal, &f->o, HS_ERANGE,
                "deal 'Big Order' line 1: cannot compute line amount: the amount is too large");
    deal->invoice.lines[0].quantity = Q(1000000);
    deal->invoice.lines[0].unit_price = M(INT64_MAX, "USD");
    build_fails(deal, &f->o, HS_ERANGE,
                "deal 'Big Order': cannot compute tax: an amount is too large");
    deal->invoice.lines[0].unit_price = M(1, "USD");
    /* no currency */
    deal->invoice.currency[0] = '\0';
    build_fails(deal, &f->o, HS_EINVAL,
                "deal 'Big Order' has no currency and no default currency is configured");
    struct hs_invoice_build_opts o2 = f->o;
    o2.default_currency = "USD";
    inv = build_ok(deal, &o2);
    assert_string_equal(inv->invoice.currency, "USD");
    hs_record_free(inv);
    o2.default_currency = "usd";
    build_fails(deal, &o2, HS_EINVAL, "deal 'Big Order': unknown currency 'usd'");
    hs_record_free(deal);

    /* no lines, no id, name fallbacks */
    deal = new_deal(NULL, NULL, "USD");
    build_fails(deal, &f->o, HS_EINVAL, "deal '(unnamed)' has no id");
    assert_int_equal(hs_record_set_str(&deal->id, "31"), HS_OK);
    build_fails(deal, &f->o, HS_EINVAL, "deal '31' has no line items");
    assert_int_equal(hs_record_set_str(&deal->invoice.number, "D-31"), HS_OK);
    build_fails(deal, &f->o, HS_EINVAL, "deal 'D-31' has no line items");
    struct hs_record *inv2 = NULL;
    assert_int_equal(hs_invoice_build(NULL, &f->o, &inv2, NULL), HS_EINVAL);
    assert_int_equal(hs_invoice_build(deal, NULL, &inv2, NULL), HS_EINVAL);
    hs_record_free(deal);
}

static void test_core_invoice_build_survives_every_failed_allocation(void **state)
{
    struct fixture *f = *state;
    struct hs_record *deal = new_deal("9001", "Big Order", "USD");
    add_line(deal, "p-widget", "Widget", 3000000, 1999, 10000000, "VAT 20%");
    add_line(deal, "p-gadget", "Gadget", 0, 500, -1, "reduced");
    add_line(deal, "p-gadget", "Free", 2000000, 250, -1, NULL);
    for (int n = 0;; n++) {
        struct hs_record *inv = NULL;
        struct hs_error err;
        failalloc_arm(n);
        int rc = hs_invoice_build(deal, &f->o, &inv, &err);
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_int_equal(inv->invoice.n_lines, 3);
            hs_record_free(inv);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_null(inv);
    }
    hs_record_free(deal);
}

static void test_core_invoice_dates(void **state)
{
    (void)state;
    struct hs_date d;
    struct hs_error err;
    assert_int_equal(hs_invoice_date_add_days(D(2028, 2, 15), 30, &d, &err), HS_OK);
    assert_int_equal(hs_invoice_date_cmp(d, D(2028, 3, 16)), 0); /* leap year */
    assert_int_equal(hs_invoice_date_add_days(D(2026, 12, 15), 30, &d, &err), HS_OK);
    assert_int_equal(hs_invoice_date_cmp(d, D(2027, 1, 14)), 0);
    assert_int_equal(hs_invoice_date_add_days(D(2026, 3, 1), -1, &d, &err), HS_OK);
    assert_int_equal(hs_invoice_date_cmp(d, D(2026, 2, 28)), 0);
    assert_int_equal(hs_invoice_date_add_days(D(9999, 12, 31), 1, &d, &err), HS_EINVAL);
    assert_int_equal(hs_invoice_date_add_days(D(2026, 2, 29), 1, &d, &err), HS_EINVAL);
    /* 2026-11-23T10:00:00-08:00 is 18:00Z; at -08:00 it is the 23rd, at +09:00 the 24th */
    const int64_t ms = 1795456800000LL;
    assert_int_equal(hs_invoice_date_from_ms(ms, -480, &d, &err), HS_OK);
    assert_int_equal(hs_invoice_date_cmp(d, D(2026, 11, 23)), 0);
    assert_int_equal(hs_invoice_date_from_ms(ms, 9 * 60, &d, &err), HS_OK);
    assert_int_equal(hs_invoice_date_cmp(d, D(2026, 11, 24)), 0);
    assert_int_equal(hs_invoice_date_from_ms(-1, 0, &d, &err), HS_OK);
    assert_int_equal(hs_invoice_date_cmp(d, D(1969, 12, 31)), 0);
    assert_int_equal(hs_invoice_date_from_ms(0, 0, &d, &err), HS_OK);
    assert_int_equal(hs_invoice_date_cmp(d, D(1970, 1, 1)), 0);
    assert_int_equal(hs_invoice_date_from_ms(ms, 19 * 60, &d, &err), HS_EINVAL);
    assert_int_equal(hs_invoice_date_from_ms(INT64_MAX, 0, &d, &err), HS_EINVAL);
    assert_true(hs_invoice_date_cmp(D(2026, 1, 1), D(2025, 12, 31)) > 0);
    assert_true(hs_invoice_date_cmp(D(2025, 12, 31), D(2026, 1, 1)) < 0);
    /* every day of 1..9999 round-trips through add_days */
    struct hs_date cur = D(1, 1, 1);
    for (int i = 0; i < 3652058; i++) {
        struct hs_date next;
        assert_int_equal(hs_invoice_date_add_days(cur, 1, &next, NULL), HS_OK);
        assert_true(hs_date_valid(next));
        assert_true(hs_invoice_date_cmp(next, cur) == 1);
        cur = next;
    }
    assert_int_equal(hs_invoice_date_cmp(cur, D(9999, 12, 31)), 0);
}

/* ---- payment status ---- */

struct status_case {
    const char *name;
    bool is_void;
    int64_t total;   /* minor; < 0: absent */
    int64_t paid;    /* < 0: absent */
    int64_t balance; /* < 0: absent */
    struct hs_date due;
    struct hs_date today;
    enum hs_invoice_status want;
    int64_t want_paid;
    int64_t want_due;
};

static struct hs_record *status_invoice(const char *cur, bool is_void, int64_t total, int64_t paid,
                                        int64_t balance, struct hs_date due)
{
    struct hs_record *inv = NULL;
    assert_int_equal(hs_record_new(HS_KIND_INVOICE, &inv), HS_OK);
    assert_int_equal(hs_record_set_str(&inv->id, "130"), HS_OK);
    assert_int_equal(hs_record_set_str(&inv->invoice.number, "1042"), HS_OK);
    snprintf(inv->invoice.currency, sizeof inv->invoice.currency, "%s", cur);
    if (is_void)
        inv->invoice.status = HS_INVOICE_VOID;
    if (total >= 0)
        inv->invoice.total = M(total, cur);
    if (paid >= 0)
        inv->invoice.amount_paid = M(paid, cur);
    if (balance >= 0)
        inv->invoice.balance = M(balance, cur);
    inv->invoice.due_date = due;
    return inv;
}

static void test_core_invoice_payment_status_table(void **state)
{
    (void)state;
    const struct hs_date due = D(2026, 12, 23);
    const struct status_case cases[] = {
        {"unpaid before due", false, 10000, -1, 10000, due, D(2026, 12, 1), HS_INVOICE_OPEN, 0,
         10000},
        {"unpaid on due date", false, 10000, -1, 10000, due, due, HS_INVOICE_OPEN, 0, 10000},
        {"unpaid day after", false, 10000, -1, 10000, due, D(2026, 12, 24), HS_INVOICE_OVERDUE, 0,
         10000},
        {"partial", false, 10000, -1, 2500, due, D(2026, 12, 1), HS_INVOICE_PARTIALLY_PAID, 7500,
         2500},
        {"partial overdue", false, 10000, -1, 2500, due, D(2027, 1, 1), HS_INVOICE_OVERDUE, 7500,
         2500},
        {"paid", false, 10000, -1, 0, due, D(2026, 12, 1), HS_INVOICE_PAID, 10000, 0},
        {"paid after due stays paid", false, 10000, -1, 0, due, D(2027, 6, 1), HS_INVOICE_PAID,
         10000, 0},
        {"amount paid field", false, 10000, 4000, -1, due, D(2026, 12, 1),
         HS_INVOICE_PARTIALLY_PAID, 4000, 6000},
        {"paid and balance (credit)", false, 10000, 4000, 1000, due, D(2026, 12, 1),
         HS_INVOICE_PARTIALLY_PAID, 4000, 1000},
        {"no due date never overdue", false, 10000, -1, 10000, (struct hs_date){0, 0, 0},
         D(2030, 1, 1), HS_INVOICE_OPEN, 0, 10000},
        {"zero invoice", false, 0, -1, 0, due, D(2027, 1, 1), HS_INVOICE_PAID, 0, 0},
        {"void", true, 0, -1, 0, due, D(2027, 1, 1), HS_INVOICE_VOID, 0, 0},
        {"void with figures", true, 10000, -1, 10000, due, D(2027, 1, 1), HS_INVOICE_VOID, 0, 0},
        {"nothing known: unpaid", false, 10000, -1, -1, due, D(2026, 1, 1), HS_INVOICE_OPEN, 0,
         10000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct status_case *c = &cases[i];
        struct hs_record *inv =
            status_invoice("USD", c->is_void, c->total, c->paid, c->balance, c->due);
        struct hs_invoice_payment_status st;
        struct hs_error err;
        hs_error_clear(&err);
        int rc = hs_invoice_payment_status_derive(inv, NULL, 0, c->today, &st, &err);
        if (rc != HS_OK || st.status != c->want || st.amount_paid.minor != c->want_paid ||
            st.amount_due.minor != c->want_due) {
            print_error("case '%s': rc %d (%s) status %d paid %lld due %lld\n", c->name, rc,
                        err.msg, (int)st.status, (long long)st.amount_paid.minor,
                        (long long)st.amount_due.minor);
            fail();
        }
        assert_string_equal(st.amount_paid.currency, "USD");
        assert_false(hs_date_valid(st.last_payment_date));
        hs_record_free(inv);
    }
}

static struct hs_record *payment(struct hs_date date, const char *inv_id, int64_t amount,
                                 const char *cur)
{
    struct hs_record *p = NULL;
    assert_int_equal(hs_record_new(HS_KIND_PAYMENT, &p), HS_OK);
    p->payment.date = date;
    p->payment.amount = M(amount, cur);
    struct hs_payment_applied *a = NULL;
    assert_int_equal(hs_record_add_applied(p, &a), HS_OK);
    assert_int_equal(hs_record_set_str(&a->invoice_ref, inv_id), HS_OK);
    a->amount = M(amount, cur);
    return p;
}

static void test_core_invoice_payment_status_from_payments(void **state)
{
    (void)state;
    /* no balance and no amount paid on the invoice: the payments decide */
    struct hs_record *inv = status_invoice("KWD", false, 12345, -1, -1, D(2026, 12, 23));
    struct hs_record *p[4];
    p[0] = payment(D(2026, 12, 1), "130", 2000, "KWD");
    p[1] = payment(D(2026, 12, 20), "130", 345, "KWD");
    p[2] = payment(D(2027, 1, 5), "other", 999, "KWD"); /* another invoice: ignored */
    p[3] = payment(D(2026, 11, 30), "130", 0, "KWD");
    struct hs_invoice_payment_status st;
    struct hs_error err;
    assert_int_equal(hs_invoice_payment_status_derive(inv, (const struct hs_record *const *)p, 4,
                                                      D(2026, 12, 24), &st, &err),
                     HS_OK);
    assert_int_equal(st.status, HS_INVOICE_OVERDUE);
    assert_int_equal(st.amount_paid.minor, 2345);
    assert_int_equal(st.amount_due.minor, 10000);
    assert_int_equal(hs_invoice_date_cmp(st.last_payment_date, D(2026, 12, 20)), 0);

    struct hs_fields props;
    hs_fields_init(&props);
    assert_int_equal(hs_fields_set(&props, "dealname", "kept"), HS_OK);
    assert_int_equal(hs_invoice_payment_props(&st, &props, &err), HS_OK);
    assert_string_equal(hs_fields_get(&props, "hoopsync_payment_status"), "overdue");
    assert_string_equal(hs_fields_get(&props, "hoopsync_amount_paid"), "2.345");
    assert_string_equal(hs_fields_get(&props, "hoopsync_amount_due"), "10.000");
    assert_string_equal(hs_fields_get(&props, "hoopsync_last_payment_date"), "2026-12-20");
    assert_string_equal(hs_fields_get(&props, "dealname"), "kept");

    /* the invoice's own balance wins over payments we may only partly see */
    inv->invoice.balance = M(0, "KWD");
    assert_int_equal(hs_invoice_payment_status_derive(inv, (const struct hs_record *const *)p, 4,
                                                      D(2026, 12, 24), &st, &err),
                     HS_OK);
    assert_int_equal(st.status, HS_INVOICE_PAID);
    assert_int_equal(st.amount_paid.minor, 12345);
    assert_int_equal(hs_invoice_date_cmp(st.last_payment_date, D(2026, 12, 20)), 0);

    /* a payment in another currency is refused */
    hs_record_free(p[2]);
    p[2] = payment(D(2027, 1, 5), "130", 1, "USD");
    assert_int_equal(hs_invoice_payment_status_derive(inv, (const struct hs_record *const *)p, 4,
                                                      D(2026, 12, 24), &st, &err),
                     HS_EINVAL);
    assert_string_equal(err.msg, "invoice '1042': a payment is in USD but the invoice is in KWD");
    for (int i = 0; i < 4; i++)
        hs_record_free(p[i]);
    hs_record_free(inv);

    /* JPY formatting and an empty last payment date */
    inv = status_invoice("JPY", false, 150000, -1, 50000, D(2026, 12, 23));
    assert_int_equal(hs_invoice_payment_status_derive(inv, NULL, 0, D(2026, 12, 1), &st, &err),
                     HS_OK);
    assert_int_equal(hs_invoice_payment_props(&st, &props, &err), HS_OK);
    assert_string_equal(hs_fields_get(&props, "hoopsync_payment_status"), "partially_paid");
    assert_string_equal(hs_fields_get(&props, "hoopsync_amount_paid"), "100000");
    assert_string_equal(hs_fields_get(&props, "hoopsync_amount_due"), "50000");
    assert_string_equal(hs_fields_get(&props, "hoopsync_last_payment_date"), "");
    hs_fields_release(&props);
    hs_record_free(inv);
}

static void test_core_invoice_payment_status_errors(void **state)
{
    (void)state;
    struct hs_invoice_payment_status st;
    struct hs_error err;
    struct hs_record *inv = status_invoice("USD", false, 10000, 12000, -1, D(2026, 12, 23));
    assert_int_equal(hs_invoice_payment_status_derive(inv, NULL, 0, D(2026, 12, 1), &st, &err),
                     HS_EINVAL);
    assert_string_equal(err.msg,
                        "invoice '1042': amount paid 120.00 is more than its total 100.00");
    hs_record_free(inv);
    inv = status_invoice("USD", false, 10000, -1, 12000, D(2026, 12, 23));
    assert_int_equal(hs_invoice_payment_status_derive(inv, NULL, 0, D(2026, 12, 1), &st, &err),
                     HS_EINVAL);
    assert_string_equal(err.msg, "invoice '1042': amount paid -20.00 is negative");
    assert_int_equal(hs_invoice_payment_status_derive(inv, NULL, 0, D(2026, 13, 1), &st, &err),
                     HS_EINVAL);
    assert_string_equal(err.msg, "invoice '1042': no valid date for today");
    inv->invoice.balance = M(100, "EUR");
    assert_int_equal(hs_invoice_payment_status_derive(inv, NULL, 0, D(2026, 12, 1), &st, &err),
                     HS_EINVAL);
    assert_string_equal(err.msg, "invoice '1042': the balance is in EUR but the invoice is in USD");
    memset(&inv->invoice.total, 0, sizeof inv->invoice.total);
    assert_int_equal(hs_invoice_payment_status_derive(inv, NULL, 0, D(2026, 12, 1), &st, &err),
                     HS_EINVAL);
    assert_string_equal(err.msg, "invoice '1042' has no total");
    inv->invoice.currency[0] = '\0';
    assert_int_equal(hs_invoice_payment_status_derive(inv, NULL, 0, D(2026, 12, 1), &st, &err),
                     HS_EINVAL);
    assert_string_equal(err.msg, "invoice '1042' has no currency");
    hs_record_free(inv);
    assert_null(hs_invoice_payment_status_name(HS_INVOICE_DRAFT));
    assert_string_equal(hs_invoice_payment_status_name(HS_INVOICE_OPEN), "unpaid");
    memset(&st, 0, sizeof st);
    struct hs_fields props;
    hs_fields_init(&props);
    assert_int_equal(hs_invoice_payment_props(&st, &props, &err), HS_EINVAL);
    assert_int_equal(hs_fields_count(&props), 0);
}

static void test_core_invoice_payment_props_survive_every_failed_allocation(void **state)
{
    (void)state;
    struct hs_invoice_payment_status st;
    memset(&st, 0, sizeof st);
    st.status = HS_INVOICE_PARTIALLY_PAID;
    st.amount_paid = M(150, "USD");
    st.amount_due = M(50, "USD");
    st.last_payment_date = D(2026, 12, 1);
    for (int n = 0;; n++) {
        struct hs_fields props;
        hs_fields_init(&props);
        struct hs_error err;
        failalloc_arm(n);
        int rc = hs_invoice_payment_props(&st, &props, &err);
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_int_equal(hs_fields_count(&props), 4);
            assert_string_equal(hs_fields_get(&props, "hoopsync_amount_paid"), "1.50");
            assert_string_equal(hs_fields_get(&props, "hoopsync_last_payment_date"), "2026-12-01");
            hs_fields_release(&props);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_true(hs_fields_count(&props) < 4);
        hs_fields_release(&props);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_core_invoice_build_usd_exclusive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_core_invoice_build_inclusive_jpy_kwd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_core_invoice_build_items_default_and_callback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_core_invoice_build_errors_are_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_core_invoice_build_survives_every_failed_allocation,
                                        setup, teardown),
        cmocka_unit_test(test_core_invoice_dates),
        cmocka_unit_test(test_core_invoice_payment_status_table),
        cmocka_unit_test(test_core_invoice_payment_status_from_payments),
        cmocka_unit_test(test_core_invoice_payment_status_errors),
        cmocka_unit_test(test_core_invoice_payment_props_survive_every_failed_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
