/*
 * tests/unit/test_engine_invoice_qbo.c - our invoice figures agree with QuickBooks' (sandbox).
 *
 * Design:     opens the sandbox with only the QuickBooks module (seeded, frozen clock), reads
 *             its tax codes and rates the way a connector would and turns them into a tax map,
 *             creates one customer per currency (USD, JPY with 0 decimals, KWD with 3), then
 *             builds hundreds of random deals (1..6 lines, quantities with decimals, discounts,
 *             four tax codes including the two-rate California code, untaxed lines; modes
 *             TaxExcluded, TaxInclusive and NotApplicable) with hs_invoice_build, POSTs each as
 *             QuickBooks JSON and asserts that TotalAmt, Balance, TxnTaxDetail (TotalTax and
 *             every TaxLine), the subtotal line and every line amount equal our computation to
 *             the minor unit. Worked cases pin the documented behaviours: per-document
 *             rounding (a cent less than per-line) and exclusive vs inclusive totals. Amounts
 *             in answers are read exactly with the sandbox's own marked-number parser.
 *             Line JSON follows docs/modules/invoice.md: Amount always; Qty; UnitPrice only
 *             without a discount (QuickBooks derives it from Amount / Qty otherwise).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/invoice.h"
#include "sandbox/qbo.h"
#include "sandbox/sbx.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/env.h"

#define START_MS 1795456800000LL /* 2026-11-23T10:00:00-08:00 */
#define N_RANDOM 400

static const struct hs_sbx_module_ops *const only_qbo[] = {&hs_sbx_quickbooks_ops};

struct t {
    struct hs_sbx *sbx;
    char base[96];
    struct hs_http_response resp;
    json_t *json; /* exact parse of the last answer (marked numbers) */
    struct hs_tax_map *map;
    char item_id[3][32];
    char cust_usd[32], cust_jpy[32], cust_kwd[32];
};

static int req(struct t *t, const char *method, const char *target, const char *body,
               const char *token)
{
    struct hs_http_request r;
    hs_http_request_init(&r);
    const char *q = strchr(target, '?');
    r.method = hs_strdup(method);
    r.path = q != NULL ? hs_strndup(target, (size_t)(q - target)) : hs_strdup(target);
    r.query = q != NULL ? hs_strdup(q + 1) : NULL;
    assert_non_null(r.method);
    assert_non_null(r.path);
    if (token != NULL) {
        char auth[64];
        snprintf(auth, sizeof auth, "Bearer %s", token);
        assert_int_equal(hs_http_headers_add(&r.headers, "Authorization", auth), HS_OK);
    }
    if (body != NULL) {
        assert_int_equal(hs_buf_puts(&r.body, body), HS_OK);
        assert_int_equal(hs_http_headers_add(&r.headers, "Content-Type", "application/json"),
                         HS_OK);
    }
    hs_http_response_release(&t->resp);
    hs_http_response_init(&t->resp);
    assert_int_equal(hs_sbx_handle(t->sbx, &r, &t->resp), HS_OK);
    hs_http_request_release(&r);
    json_decref(t->json);
    t->json = NULL;
    struct hs_error err;
    if (t->resp.body.len > 0 && hs_qbo_json_parse((const uint8_t *)t->resp.body.data,
                                                  t->resp.body.len, &t->json, &err) != HS_OK)
        t->json = NULL;
    return t->resp.status;
}

static int api(struct t *t, const char *method, const char *rel, const char *body)
{
    char target[512];
    snprintf(target, sizeof target, "%s/%s", t->base, rel);
    int status = req(t, method, target, body, "T");
    if (status != 200)
        print_error("%s %s -> %d: %.*s\n", method, rel, status, (int)t->resp.body.len,
                    t->resp.body.data != NULL ? t->resp.body.data : "");
    return status;
}

static const json_t *jget(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    return b != NULL ? json_object_get(v, b) : v;
}

static int64_t num(const json_t *v, int scale)
{
    int64_t out = 0;
    assert_non_null(v);
    assert_int_equal(hs_qbo_num_get(v, scale, &out), HS_OK);
    return out;
}

static void new_customer(struct t *t, const char *name, const char *cur, char out[32])
{
    char body[256];
    snprintf(body, sizeof body, "{\"DisplayName\":\"%s\",\"CurrencyRef\":{\"value\":\"%s\"}}", name,
             cur);
    assert_int_equal(api(t, "POST", "customer", body), 200);
    snprintf(out, 32, "%s", json_string_value(jget(t->json, "Customer", "Id")));
}

/* Reads TaxCode id and its rates from the sandbox into a struct hs_tax_code. */
static void read_code(struct t *t, const char *id, struct hs_tax_code *out)
{
    char rel[64];
    snprintf(rel, sizeof rel, "taxcode/%s", id);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    memset(out, 0, sizeof *out);
    snprintf(out->code, sizeof out->code, "%s", id);
    json_t *list = json_deep_copy(json_object_get(
        jget(jget(t->json, "TaxCode", NULL), "SalesTaxRateList", NULL), "TaxRateDetail"));
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
        const char *rid = json_string_value(jget(d, "TaxRateRef", "value"));
        assert_non_null(rid);
        snprintf(rel, sizeof rel, "taxrate/%s", rid);
        assert_int_equal(api(t, "GET", rel, NULL), 200);
        struct hs_tax_component *c = &out->components[out->n_components++];
        snprintf(c->rate_ref, sizeof c->rate_ref, "%s", rid);
        c->percent.v = num(jget(t->json, "TaxRate", "RateValue"), 6);
    }
    json_decref(list);
}

static const char *const labels[] = {"CA sales tax", "VAT 20%", "VAT 5%", "GST"};
static const char *const code_ids[] = {"3", "4", "5", "6"};

static int setup(void **state)
{
    hs_alloc_setup_json();
    struct t *t = hs_calloc(1, sizeof *t);
    assert_non_null(t);
    struct hs_sbx_options opt;
    memset(&opt, 0, sizeof opt);
    opt.seed = 7;
    opt.seeded = true;
    opt.static_token = "T";
    opt.no_rate_limits = true;
    opt.start_ms = START_MS;
    opt.modules = only_qbo;
    opt.n_modules = 1;
    struct hs_error err;
    hs_error_clear(&err);
    int rc = hs_sbx_open(&opt, &t->sbx, &err);
    if (rc != HS_OK)
        print_error("open: %s\n", err.msg);
    assert_int_equal(rc, HS_OK);
    hs_http_response_init(&t->resp);
    assert_int_equal(req(t, "POST", "/_sandbox/clock", "{\"freeze\":true}", NULL), 200);
    assert_int_equal(req(t, "GET", "/_sandbox/tenants", NULL, NULL), 200);
    const char *realm = json_string_value(jget(t->json, "quickbooks", "realmId"));
    assert_non_null(realm);
    snprintf(t->base, sizeof t->base, "/quickbooks/v3/company/%s", realm);

    assert_int_equal(hs_tax_map_new(&t->map), HS_OK);
    for (size_t i = 0; i < 4; i++) {
        struct hs_tax_code c;
        read_code(t, code_ids[i], &c);
        assert_true(c.n_components >= 1);
        assert_int_equal(hs_tax_map_add(t->map, labels[i], &c, &err), HS_OK);
    }
    assert_int_equal(hs_tax_map_find(t->map, "CA sales tax")->n_components, 2);
    assert_int_equal(hs_tax_code_rate(hs_tax_map_find(t->map, "CA sales tax")).v, 8250000);
    assert_int_equal(hs_tax_code_rate(hs_tax_map_find(t->map, "VAT 20%")).v, 20000000);

    assert_int_equal(api(t, "GET", "query?query=select%20*%20from%20Item%20maxresults%203", NULL),
                     200);
    const json_t *items = jget(t->json, "QueryResponse", "Item");
    assert_true(json_array_size(items) == 3);
    for (size_t i = 0; i < 3; i++)
        snprintf(t->item_id[i], sizeof t->item_id[i], "%s",
                 json_string_value(json_object_get(json_array_get(items, i), "Id")));
    new_customer(t, "Invoice Test USD", "USD", t->cust_usd);
    new_customer(t, "Invoice Test JPY", "JPY", t->cust_jpy);
    new_customer(t, "Invoice Test KWD", "KWD", t->cust_kwd);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    json_decref(t->json);
    hs_http_response_release(&t->resp);
    hs_tax_map_free(t->map);
    hs_sbx_close(t->sbx);
    hs_free(t);
    return 0;
}

/* ---- QuickBooks JSON for a built invoice (what the connector sends) ---- */

static void put_money(struct hs_buf *b, const struct hs_money *m)
{
    char s[HS_MONEY_FMT_MAX];
    assert_true(hs_money_format(m, s, sizeof s) > 0);
    assert_int_equal(hs_buf_puts(b, s), HS_OK);
}

static char *qbo_body(const struct hs_record *inv, const char *customer)
{
    const struct hs_invoice *v = &inv->invoice;
    struct hs_buf b;
    hs_buf_init(&b);
    const char *mode = v->tax_mode == HS_TAX_INCLUSIVE ? "TaxInclusive"
                       : v->tax_mode == HS_TAX_NONE    ? "NotApplicable"
                                                       : "TaxExcluded";
    char date[11], due[11];
    hs_date_format(v->issue_date, date);
    hs_date_format(v->due_date, due);
    char head[512];
    snprintf(head, sizeof head,
             "{\"CustomerRef\":{\"value\":\"%s\"},\"CurrencyRef\":{\"value\":\"%s\"},%s"
             "\"GlobalTaxCalculation\":\"%s\",\"TxnDate\":\"%s\",\"DueDate\":\"%s\",\"Line\":[",
             customer, v->currency,
             strcmp(v->currency, "JPY") == 0   ? "\"ExchangeRate\":0.0067,"
             : strcmp(v->currency, "KWD") == 0 ? "\"ExchangeRate\":3.25,"
                                               : "",
             mode, date, due);
    assert_int_equal(hs_buf_puts(&b, head), HS_OK);
    for (size_t i = 0; i < v->n_lines; i++) {
        const struct hs_invoice_line *l = &v->lines[i];
        char q[HS_DECIMAL_FMT_MAX];
        assert_true(hs_decimal_format(l->quantity, q, sizeof q) > 0);
        assert_int_equal(hs_buf_puts(&b, i > 0 ? ",{" : "{"), HS_OK);
        assert_int_equal(hs_buf_puts(&b, "\"DetailType\":\"SalesItemLineDetail\",\"Amount\":"),
                         HS_OK);
        put_money(&b, &l->amount);
        char s[256];
        snprintf(s, sizeof s, ",\"SalesItemLineDetail\":{\"ItemRef\":{\"value\":\"%s\"},\"Qty\":%s",
                 l->item_ref, q);
        assert_int_equal(hs_buf_puts(&b, s), HS_OK);
        if (!l->has_discount_percent && l->unit_price.currency[0] != '\0') {
            assert_int_equal(hs_buf_puts(&b, ",\"UnitPrice\":"), HS_OK);
            put_money(&b, &l->unit_price);
        }
        if (l->tax_code != NULL) {
            snprintf(s, sizeof s, ",\"TaxCodeRef\":{\"value\":\"%s\"}", l->tax_code);
            assert_int_equal(hs_buf_puts(&b, s), HS_OK);
        }
        assert_int_equal(hs_buf_puts(&b, "}}"), HS_OK);
    }
    assert_int_equal(hs_buf_puts(&b, "]}"), HS_OK);
    char *out = hs_strndup(b.data, b.len);
    hs_buf_release(&b);
    assert_non_null(out);
    return out;
}

/* The per-rate taxes we expect, recomputed from the built invoice's lines and codes. */
static void expected_rates(const struct t *t, const struct hs_record *inv,
                           struct hs_tax_totals *out)
{
    const struct hs_invoice *v = &inv->invoice;
    struct hs_tax_line lines[8];
    assert_true(v->n_lines <= 8);
    for (size_t i = 0; i < v->n_lines; i++) {
        const struct hs_tax_code *code = NULL;
        for (size_t k = 0; k < 4 && v->lines[i].tax_code != NULL; k++) {
            if (strcmp(v->lines[i].tax_code, code_ids[k]) == 0)
                code = hs_tax_map_find(t->map, labels[k]);
        }
        lines[i] = (struct hs_tax_line){.amount = v->lines[i].amount.minor, .code = code};
    }
    struct hs_tax_policy p = hs_tax_policy_quickbooks(v->tax_mode);
    assert_int_equal(hs_tax_compute(&p, lines, v->n_lines, out, NULL), HS_OK);
}

/* POSTs the invoice and checks QuickBooks' figures against ours. */
static void post_and_compare(struct t *t, const struct hs_record *inv, const char *customer)
{
    const struct hs_invoice *v = &inv->invoice;
    const int dec = hs_currency_find(v->currency)->exponent;
    char *body = qbo_body(inv, customer);
    int status = api(t, "POST", "invoice?minorversion=75", body);
    if (status != 200)
        print_error("body: %s\n", body);
    assert_int_equal(status, 200);
    hs_free(body);
    const json_t *q = json_object_get(t->json, "Invoice");
    assert_non_null(q);
    assert_int_equal(num(json_object_get(q, "TotalAmt"), dec), v->total.minor);
    assert_int_equal(num(json_object_get(q, "Balance"), dec), v->total.minor);
    const json_t *ttd = json_object_get(q, "TxnTaxDetail");
    assert_int_equal(num(json_object_get(ttd, "TotalTax"), dec), v->tax.minor);
    struct hs_tax_totals exp;
    expected_rates(t, inv, &exp);
    assert_int_equal(exp.tax, v->tax.minor);
    const json_t *tl = json_object_get(ttd, "TaxLine");
    assert_int_equal(json_array_size(tl), exp.n_rates);
    for (size_t k = 0; k < exp.n_rates; k++) {
        const json_t *x = json_array_get(tl, k);
        const char *rid =
            json_string_value(json_object_get(jget(x, "TaxLineDetail", "TaxRateRef"), "value"));
        assert_non_null(rid);
        assert_string_equal(rid, exp.rates[k].rate_ref);
        assert_int_equal(num(json_object_get(x, "Amount"), dec), exp.rates[k].tax);
        assert_int_equal(num(jget(x, "TaxLineDetail", "NetAmountTaxable"), dec), exp.rates[k].base);
    }
    size_t n_sales = 0;
    size_t i;
    const json_t *l;
    json_array_foreach(json_object_get(q, "Line"), i, l)
    {
        const char *type = json_string_value(json_object_get(l, "DetailType"));
        if (strcmp(type, "SubTotalLineDetail") == 0) {
            assert_int_equal(num(json_object_get(l, "Amount"), dec), v->subtotal.minor);
            continue;
        }
        assert_string_equal(type, "SalesItemLineDetail");
        assert_true(n_sales < v->n_lines);
        const struct hs_invoice_line *ours = &v->lines[n_sales++];
        int64_t net = ours->amount.minor;
        if (v->tax_mode == HS_TAX_INCLUSIVE) {
            net -= ours->tax_amount.minor;
            assert_int_equal(num(jget(l, "SalesItemLineDetail", "TaxInclusiveAmt"), dec),
                             ours->amount.minor);
        }
        assert_int_equal(num(json_object_get(l, "Amount"), dec), net);
        assert_int_equal(num(jget(l, "SalesItemLineDetail", "Qty"), 6), ours->quantity.v);
    }
    assert_int_equal(n_sales, v->n_lines);
}

static struct hs_record *deal_new(const char *id, const char *cur, enum hs_tax_mode mode)
{
    struct hs_record *d = NULL;
    assert_int_equal(hs_record_new(HS_KIND_INVOICE, &d), HS_OK);
    assert_int_equal(hs_record_set_str(&d->id, id), HS_OK);
    assert_int_equal(hs_record_set_str(&d->invoice.memo, "Random deal"), HS_OK);
    snprintf(d->invoice.currency, sizeof d->invoice.currency, "%s", cur);
    d->invoice.tax_mode = mode;
    return d;
}

static void deal_line(struct hs_record *d, const char *product, int64_t qty, int64_t price,
                      int64_t disc, const char *tax)
{
    struct hs_invoice_line *l = NULL;
    assert_int_equal(hs_record_add_line(d, &l), HS_OK);
    assert_int_equal(hs_record_set_str(&l->item_ref, product), HS_OK);
    assert_int_equal(hs_record_set_str(&l->tax_code, tax), HS_OK);
    l->quantity.v = qty;
    l->has_quantity = true;
    assert_int_equal(hs_money_from_minor(price, d->invoice.currency, &l->unit_price, NULL), HS_OK);
    if (disc >= 0) {
        l->discount_percent.v = disc;
        l->has_discount_percent = true;
    }
}

static struct hs_record *build(struct t *t, const struct hs_record *deal, const char *customer)
{
    const struct hs_invoice_item_link links[3] = {
        {"prod-a", t->item_id[0]}, {"prod-b", t->item_id[1]}, {"prod-c", t->item_id[2]}};
    const struct hs_invoice_term terms[1] = {{"Net 30", 30}};
    struct hs_invoice_build_opts o;
    memset(&o, 0, sizeof o);
    o.provider = "QuickBooks";
    o.customer_id = customer;
    o.items = links;
    o.n_items = 3;
    o.tax_map = t->map;
    o.untaxed_code = "NON";
    o.policy = hs_tax_policy_quickbooks(HS_TAX_EXCLUSIVE);
    o.terms = terms;
    o.n_terms = 1;
    o.payment_terms = "Net 30";
    o.issue_date = (struct hs_date){2026, 11, 23};
    struct hs_record *inv = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    int rc = hs_invoice_build(deal, &o, &inv, &err);
    if (rc != HS_OK)
        print_error("build: %s\n", err.msg);
    assert_int_equal(rc, HS_OK);
    return inv;
}

static void test_engine_invoice_qbo_documented_cases(void **state)
{
    struct t *t = *state;
    /* per document: three lines of 0.05 with GST 10% -> QuickBooks charges 0.02 (per line it
     * would be 0.03) */
    struct hs_record *deal = deal_new("d1", "USD", HS_TAX_EXCLUSIVE);
    for (int i = 0; i < 3; i++)
        deal_line(deal, "prod-a", 1000000, 5, -1, "GST");
    struct hs_record *inv = build(t, deal, t->cust_usd);
    assert_int_equal(inv->invoice.tax.minor, 2);
    assert_int_equal(inv->invoice.total.minor, 17);
    post_and_compare(t, inv, t->cust_usd);
    hs_record_free(inv);
    hs_record_free(deal);

    /* exclusive 123.45 net at VAT 20% and the same sale entered inclusive: same total, same
     * tax, in both our computation and QuickBooks' */
    deal = deal_new("d2", "USD", HS_TAX_EXCLUSIVE);
    deal_line(deal, "prod-b", 1000000, 12345, -1, "VAT 20%");
    inv = build(t, deal, t->cust_usd);
    assert_int_equal(inv->invoice.total.minor, 14814);
    post_and_compare(t, inv, t->cust_usd);
    const int64_t total = inv->invoice.total.minor;
    const int64_t tax = inv->invoice.tax.minor;
    hs_record_free(inv);
    hs_record_free(deal);
    deal = deal_new("d3", "USD", HS_TAX_INCLUSIVE);
    deal_line(deal, "prod-b", 1000000, total, -1, "VAT 20%");
    inv = build(t, deal, t->cust_usd);
    assert_int_equal(inv->invoice.total.minor, total);
    assert_int_equal(inv->invoice.tax.minor, tax);
    post_and_compare(t, inv, t->cust_usd);
    hs_record_free(inv);
    hs_record_free(deal);

    /* JPY and KWD with a discount and the two-rate California code */
    deal = deal_new("d4", "JPY", HS_TAX_EXCLUSIVE);
    deal_line(deal, "prod-a", 3000000, 333, 15000000, "CA sales tax");
    deal_line(deal, "prod-c", 1500000, 999, -1, NULL);
    inv = build(t, deal, t->cust_jpy);
    assert_int_equal(inv->invoice.lines[0].amount.minor, 849);
    post_and_compare(t, inv, t->cust_jpy);
    hs_record_free(inv);
    hs_record_free(deal);
    deal = deal_new("d5", "KWD", HS_TAX_INCLUSIVE);
    deal_line(deal, "prod-a", 2500000, 1234, -1, "CA sales tax");
    deal_line(deal, "prod-b", 1000000, 333, 50000000, "VAT 5%");
    inv = build(t, deal, t->cust_kwd);
    assert_int_equal(inv->invoice.lines[1].amount.minor, 167);
    post_and_compare(t, inv, t->cust_kwd);
    hs_record_free(inv);
    hs_record_free(deal);
}

static void test_engine_invoice_qbo_random_invoices_agree(void **state)
{
    struct t *t = *state;
    struct hs_rng rng;
    hs_rng_seed(&rng, 424242);
    const char *const products[] = {"prod-a", "prod-b", "prod-c"};
    const char *const taxes[] = {"CA sales tax", "VAT 20%", "VAT 5%", "GST", NULL};
    const enum hs_tax_mode modes[] = {HS_TAX_EXCLUSIVE, HS_TAX_INCLUSIVE, HS_TAX_NONE};
    for (int iter = 0; iter < N_RANDOM; iter++) {
        const int c = (int)hs_rng_below(&rng, 3);
        const char *cur = c == 0 ? "USD" : (c == 1 ? "JPY" : "KWD");
        const char *cust = c == 0 ? t->cust_usd : (c == 1 ? t->cust_jpy : t->cust_kwd);
        const int64_t major = c == 0 ? 100 : (c == 1 ? 1 : 1000);
        char id[32];
        snprintf(id, sizeof id, "r%d", iter);
        struct hs_record *deal = deal_new(id, cur, modes[hs_rng_below(&rng, 3)]);
        const size_t n = 1 + (size_t)hs_rng_below(&rng, 6);
        for (size_t i = 0; i < n; i++) {
            /* quantity: whole 1..20 or 0.01..50.00 */
            const int64_t qty = hs_rng_below(&rng, 2) == 0
                                    ? ((int64_t)hs_rng_below(&rng, 20) + 1) * 1000000
                                    : ((int64_t)hs_rng_below(&rng, 5000) + 1) * 10000;
            const int64_t price = (int64_t)hs_rng_below(&rng, (uint64_t)(2000 * major)) + 1;
            const int64_t disc = hs_rng_below(&rng, 3) == 0
                                     ? (int64_t)hs_rng_below(&rng, 10000) * 10000 /* 0..99.99 */
                                     : -1;
            deal_line(deal, products[hs_rng_below(&rng, 3)], qty, price, disc,
                      taxes[hs_rng_below(&rng, 5)]);
        }
        struct hs_record *inv = build(t, deal, cust);
        post_and_compare(t, inv, cust);
        hs_record_free(inv);
        hs_record_free(deal);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_engine_invoice_qbo_documented_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_invoice_qbo_random_invoices_agree, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
