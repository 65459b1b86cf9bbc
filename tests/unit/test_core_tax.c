/*
 * tests/unit/test_core_tax.c - tax maps, line amounts and tax under every provider policy.
 *
 * Design:     worked examples first (each documented in docs/modules/invoice.md): discounts,
 *             JPY and KWD, per-line against per-document rounding that differ by one minor
 *             unit, inclusive extraction, combined rates, exclusive and inclusive totals that
 *             agree. Then a fixed-seed randomized property test of 1..6 lines against an
 *             independent reference written here with its own half-away-from-zero rounding on
 *             128-bit integers, and the map's lookup rules, limits and allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/tax.h"
#include "hoopsync/error.h"
#include "testutil/failalloc.h"
#include "util/env.h"

__extension__ typedef __int128 i128;

#define PCT(whole, micro) ((struct hs_decimal){(int64_t)(whole)*1000000 + (micro)})

static struct hs_tax_code code1(const char *code, const char *rate_ref, struct hs_decimal pct)
{
    struct hs_tax_code c;
    memset(&c, 0, sizeof c);
    snprintf(c.code, sizeof c.code, "%s", code);
    snprintf(c.components[0].rate_ref, sizeof c.components[0].rate_ref, "%s", rate_ref);
    c.components[0].percent = pct;
    c.n_components = 1;
    return c;
}

static struct hs_tax_code california(void)
{
    struct hs_tax_code c = code1("3", "1", PCT(7, 250000));
    snprintf(c.components[1].rate_ref, sizeof c.components[1].rate_ref, "%s", "2");
    c.components[1].percent = PCT(1, 0);
    c.n_components = 2;
    return c;
}

static int64_t amount(int64_t qty_micro, int64_t price, const struct hs_decimal *disc)
{
    int64_t out = 0;
    struct hs_error err;
    assert_int_equal(hs_tax_line_amount((struct hs_decimal){qty_micro}, price, disc,
                                        HS_ROUND_HALF_UP, &out, &err),
                     HS_OK);
    return out;
}

static void test_core_tax_line_amount_rounds_once_with_discount(void **state)
{
    (void)state;
    /* 1.5 x 0.33 = 0.495 -> 0.50; negative symmetric */
    assert_int_equal(amount(1500000, 33, NULL), 50);
    assert_int_equal(amount(-1500000, 33, NULL), -50);
    /* 3 x 19.99 less 10% = 53.973 -> 53.97 (not 3 x 17.99 = 53.97 by luck: check 7%) */
    struct hs_decimal d10 = PCT(10, 0);
    assert_int_equal(amount(3000000, 1999, &d10), 5397);
    /* 3 x 19.99 less 7% = 55.7721 -> 55.77; a per-unit rounding would give 3 x 18.59 = 55.77 */
    struct hs_decimal d7 = PCT(7, 0);
    assert_int_equal(amount(3000000, 1999, &d7), 5577);
    /* 7 x 0.15 less 12.5% = 0.91875 -> 0.92; per unit 0.13 x 7 = 0.91: one rounding only */
    struct hs_decimal d125 = PCT(12, 500000);
    assert_int_equal(amount(7000000, 15, &d125), 92);
    /* JPY: 3 x 333 less 15% = 849.15 -> 849; KWD: 2.5 x 1.234 = 3.085 -> 3.085 exact */
    struct hs_decimal d15 = PCT(15, 0);
    assert_int_equal(amount(3000000, 333, &d15), 849);
    assert_int_equal(amount(2500000, 1234, NULL), 3085);
    /* KWD 0.3335 x 1 -> fils: 1 x 0.333 (333 fils) less 50% = 166.5 -> 167 */
    struct hs_decimal d50 = PCT(50, 0);
    assert_int_equal(amount(1000000, 333, &d50), 167);
    struct hs_decimal d100 = PCT(100, 0);
    assert_int_equal(amount(5000000, 999, &d100), 0);

    struct hs_error err;
    int64_t out = 42;
    struct hs_decimal bad = PCT(100, 1);
    assert_int_equal(hs_tax_line_amount(PCT(1, 0), 100, &bad, HS_ROUND_HALF_UP, &out, &err),
                     HS_EINVAL);
    assert_non_null(strstr(err.msg, "between 0 and 100%"));
    bad.v = -1;
    assert_int_equal(hs_tax_line_amount(PCT(1, 0), 100, &bad, HS_ROUND_HALF_UP, &out, &err),
                     HS_EINVAL);
    assert_int_equal(hs_tax_line_amount(PCT(1, 0), 100, NULL, (enum hs_round)9, &out, &err),
                     HS_EINVAL);
    assert_int_equal(out, 42);
    /* overflow of int64 minor units */
    assert_int_equal(hs_tax_line_amount((struct hs_decimal){INT64_MAX}, INT64_MAX, NULL,
                                        HS_ROUND_HALF_UP, &out, &err),
                     HS_ERANGE);
    assert_int_equal(hs_tax_line_amount((struct hs_decimal){INT64_MAX}, INT64_MAX, &d7,
                                        HS_ROUND_HALF_UP, &out, &err),
                     HS_ERANGE);
    assert_int_equal(out, 42);
    /* other modes pass through: 0.495 down -> 0.49, half even 0.5 -> 0 */
    assert_int_equal(hs_tax_line_amount(PCT(1, 500000), 33, NULL, HS_ROUND_DOWN, &out, NULL),
                     HS_OK);
    assert_int_equal(out, 49);
    assert_int_equal(hs_tax_line_amount(PCT(0, 500000), 1, NULL, HS_ROUND_HALF_EVEN, &out, NULL),
                     HS_OK);
    assert_int_equal(out, 0);
}

static void compute(struct hs_tax_policy p, struct hs_tax_line *l, size_t n,
                    struct hs_tax_totals *t)
{
    struct hs_error err;
    hs_error_clear(&err);
    int rc = hs_tax_compute(&p, l, n, t, &err);
    if (rc != HS_OK)
        print_error("compute: %s\n", err.msg);
    assert_int_equal(rc, HS_OK);
}

/* Three lines of 0.05 at 10%: per line each tax is 0.005 -> 0.01 (0.03 in all), per document
 * 0.15 x 10% = 0.015 -> 0.02. The documented one-cent difference between Xero and QuickBooks. */
static void test_core_tax_per_line_and_per_document_differ_by_a_cent(void **state)
{
    (void)state;
    struct hs_tax_code vat = code1("10", "r10", PCT(10, 0));
    struct hs_tax_line l[3] = {
        {.amount = 5, .code = &vat}, {.amount = 5, .code = &vat}, {.amount = 5, .code = &vat}};
    struct hs_tax_totals t;
    compute(hs_tax_policy_xero(HS_TAX_EXCLUSIVE), l, 3, &t);
    assert_int_equal(t.subtotal, 15);
    assert_int_equal(t.tax, 3);
    assert_int_equal(t.total, 18);
    assert_int_equal(t.n_rates, 1);
    assert_string_equal(t.rates[0].rate_ref, "r10");
    assert_int_equal(t.rates[0].base, 15);
    assert_int_equal(t.rates[0].tax, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(l[i].net, 5);
        assert_int_equal(l[i].tax, 1);
        assert_int_equal(l[i].gross, 6);
    }
    compute(hs_tax_policy_quickbooks(HS_TAX_EXCLUSIVE), l, 3, &t);
    assert_int_equal(t.subtotal, 15);
    assert_int_equal(t.tax, 2);
    assert_int_equal(t.total, 17);
    assert_int_equal(t.rates[0].tax, 2);
    /* line figures stay per line whatever the policy */
    assert_int_equal(l[0].tax, 1);

    /* the other direction: three lines of 0.04 at 10% -> per line 0.00 each, per document
     * 0.012 -> 0.01 */
    for (int i = 0; i < 3; i++)
        l[i].amount = 4;
    compute(hs_tax_policy_xero(HS_TAX_EXCLUSIVE), l, 3, &t);
    assert_int_equal(t.tax, 0);
    compute(hs_tax_policy_quickbooks(HS_TAX_EXCLUSIVE), l, 3, &t);
    assert_int_equal(t.tax, 1);
    assert_int_equal(t.total, 13);
}

static void test_core_tax_inclusive_extracts_tax_from_gross(void **state)
{
    (void)state;
    struct hs_tax_code vat = code1("4", "3", PCT(20, 0));
    /* 1.00 gross at 20%: tax 0.1666.. -> 0.17, net 0.83 */
    struct hs_tax_line l[2] = {{.amount = 100, .code = &vat}, {.amount = 100, .code = &vat}};
    struct hs_tax_totals t;
    compute(hs_tax_policy_xero(HS_TAX_INCLUSIVE), l, 2, &t);
    assert_int_equal(l[0].gross, 100);
    assert_int_equal(l[0].tax, 17);
    assert_int_equal(l[0].net, 83);
    assert_int_equal(t.subtotal, 166);
    assert_int_equal(t.tax, 34);
    assert_int_equal(t.total, 200);
    /* QuickBooks: per document 2.00 x 20/120 = 0.333 -> 0.33, the total is still the gross and
     * the subtotal the sum of per-line nets, so subtotal + tax = 1.99 != 2.00 (QuickBooks does
     * the same) */
    compute(hs_tax_policy_quickbooks(HS_TAX_INCLUSIVE), l, 2, &t);
    assert_int_equal(t.tax, 33);
    assert_int_equal(t.subtotal, 166);
    assert_int_equal(t.total, 200);
    assert_int_equal(t.rates[0].base, 200);
}

static void test_core_tax_exclusive_and_inclusive_totals_agree(void **state)
{
    (void)state;
    /* Net 123.45 at 19%: tax 23.4555 -> 23.46, total 146.91. The same sale entered gross,
     * 146.91 inclusive of 19%, extracts 23.46 and totals 146.91 too, under both policies. */
    struct hs_tax_code vat = code1("19", "", PCT(19, 0));
    struct hs_tax_line ex = {.amount = 12345, .code = &vat};
    struct hs_tax_totals te;
    compute(hs_tax_policy_quickbooks(HS_TAX_EXCLUSIVE), &ex, 1, &te);
    assert_int_equal(te.tax, 2346);
    assert_int_equal(te.total, 14691);
    struct hs_tax_line in = {.amount = te.total, .code = &vat};
    struct hs_tax_totals ti;
    compute(hs_tax_policy_quickbooks(HS_TAX_INCLUSIVE), &in, 1, &ti);
    assert_int_equal(ti.total, te.total);
    assert_int_equal(ti.tax, te.tax);
    assert_int_equal(ti.subtotal, te.subtotal);

    /* the property for many nets, rates and all three currencies' scales: with one rate r > 0
     * the inclusive extraction of round(N r) from N + round(N r) gives back exactly round(N r)
     * (the error moves by less than half a unit), so totals, tax and net all agree */
    struct hs_rng rng;
    hs_rng_seed(&rng, 20261123);
    for (int iter = 0; iter < 20000; iter++) {
        int64_t net = (int64_t)hs_rng_below(&rng, 100000000) - 1000000;
        struct hs_decimal r = {(int64_t)hs_rng_below(&rng, 30000000) + 1};
        struct hs_tax_code c = code1("x", "", r);
        struct hs_tax_line a = {.amount = net, .code = &c};
        struct hs_tax_totals ta;
        struct hs_tax_policy pe = iter % 2 == 0 ? hs_tax_policy_quickbooks(HS_TAX_EXCLUSIVE)
                                                : hs_tax_policy_xero(HS_TAX_EXCLUSIVE);
        compute(pe, &a, 1, &ta);
        struct hs_tax_line b = {.amount = ta.total, .code = &c};
        struct hs_tax_totals tb;
        pe.mode = HS_TAX_INCLUSIVE;
        compute(pe, &b, 1, &tb);
        assert_int_equal(tb.total, ta.total);
        assert_int_equal(tb.tax, ta.tax);
        assert_int_equal(b.net, net);
    }
}

static void test_core_tax_combined_rates_jpy_kwd_and_no_tax(void **state)
{
    (void)state;
    struct hs_tax_code ca = california();
    /* exclusive 100.00: 7.25 + 1.00 */
    struct hs_tax_line l = {.amount = 10000, .code = &ca};
    struct hs_tax_totals t;
    compute(hs_tax_policy_quickbooks(HS_TAX_EXCLUSIVE), &l, 1, &t);
    assert_int_equal(t.n_rates, 2);
    assert_int_equal(t.rates[0].tax, 725);
    assert_int_equal(t.rates[1].tax, 100);
    assert_int_equal(t.tax, 825);
    assert_int_equal(t.total, 10825);
    /* inclusive per line (Xero): 108.25 gross at 8.25% -> 8.25 extracted, split 7.25 / 1.00 */
    l.amount = 10825;
    compute(hs_tax_policy_xero(HS_TAX_INCLUSIVE), &l, 1, &t);
    assert_int_equal(l.tax, 825);
    assert_int_equal(l.net, 10000);
    assert_int_equal(t.rates[0].tax + t.rates[1].tax, 825);
    assert_int_equal(t.rates[0].tax, 725);
    /* inclusive per document (QuickBooks): each rate on its own, 108.25 x 7.25/107.25 = 7.3177
     * -> 7.32 and 108.25 x 1/101 = 1.0718 -> 1.07 */
    compute(hs_tax_policy_quickbooks(HS_TAX_INCLUSIVE), &l, 1, &t);
    assert_int_equal(t.rates[0].tax, 732);
    assert_int_equal(t.rates[1].tax, 107);
    assert_int_equal(t.tax, 839);
    assert_int_equal(t.total, 10825);
    assert_int_equal(t.subtotal, 10000);

    /* JPY (no decimals): 3 lines of 333 yen at 10% -> per line 33 each (99), per document
     * 999 x 10% = 99.9 -> 100 */
    struct hs_tax_code jct = code1("JCT", "jct", PCT(10, 0));
    struct hs_tax_line j[3] = {{.amount = 333, .code = &jct},
                               {.amount = 333, .code = &jct},
                               {.amount = 333, .code = &jct}};
    compute(hs_tax_policy_xero(HS_TAX_EXCLUSIVE), j, 3, &t);
    assert_int_equal(t.tax, 99);
    assert_int_equal(t.total, 1098);
    compute(hs_tax_policy_quickbooks(HS_TAX_EXCLUSIVE), j, 3, &t);
    assert_int_equal(t.tax, 100);
    assert_int_equal(t.total, 1099);
    /* KWD (3 decimals): 1.234 + 2.345 at 5%: per line 0.0617 -> 0.062 and 0.11725 -> 0.117,
     * per document 3.579 x 5% = 0.17895 -> 0.179 */
    struct hs_tax_code v5 = code1("5", "4", PCT(5, 0));
    struct hs_tax_line k[2] = {{.amount = 1234, .code = &v5}, {.amount = 2345, .code = &v5}};
    compute(hs_tax_policy_xero(HS_TAX_EXCLUSIVE), k, 2, &t);
    assert_int_equal(k[0].tax, 62);
    assert_int_equal(k[1].tax, 117);
    assert_int_equal(t.tax, 179);
    compute(hs_tax_policy_quickbooks(HS_TAX_EXCLUSIVE), k, 2, &t);
    assert_int_equal(t.tax, 179);
    assert_int_equal(t.total, 3758);

    /* mode none ignores codes; untaxed lines (NULL code or no components) add no rate */
    struct hs_tax_code non;
    memset(&non, 0, sizeof non);
    snprintf(non.code, sizeof non.code, "%s", "NON");
    struct hs_tax_line m[3] = {
        {.amount = 1000, .code = &ca}, {.amount = 500, .code = &non}, {.amount = 1, .code = NULL}};
    compute(hs_tax_policy_quickbooks(HS_TAX_NONE), m, 3, &t);
    assert_int_equal(t.tax, 0);
    assert_int_equal(t.total, 1501);
    assert_int_equal(t.n_rates, 0);
    assert_int_equal(m[0].gross, 1000);
    compute(hs_tax_policy_quickbooks(HS_TAX_EXCLUSIVE), m, 3, &t);
    assert_int_equal(t.n_rates, 2);
    assert_int_equal(t.rates[0].base, 1000);
    assert_int_equal(t.total, 1501 + 73 + 10);
    /* no lines */
    compute(hs_tax_policy_quickbooks(HS_TAX_EXCLUSIVE), NULL, 0, &t);
    assert_int_equal(t.total, 0);
}

static void test_core_tax_compute_rejects_bad_input(void **state)
{
    (void)state;
    struct hs_error err;
    struct hs_tax_totals t;
    struct hs_tax_line l = {.amount = 100, .code = NULL};
    struct hs_tax_policy p = hs_tax_policy_quickbooks(HS_TAX_EXCLUSIVE);
    p.rounding = (enum hs_tax_rounding)0;
    assert_int_equal(hs_tax_compute(&p, &l, 1, &t, &err), HS_EINVAL);
    assert_string_equal(err.msg, "cannot compute tax: invalid rounding policy");
    p = hs_tax_policy_quickbooks((enum hs_tax_mode)7);
    assert_int_equal(hs_tax_compute(&p, &l, 1, &t, &err), HS_EINVAL);
    p = hs_tax_policy_quickbooks(HS_TAX_EXCLUSIVE);
    p.round_mode = (enum hs_round)6;
    assert_int_equal(hs_tax_compute(&p, &l, 1, &t, &err), HS_EINVAL);
    p = hs_tax_policy_quickbooks(HS_TAX_EXCLUSIVE);
    assert_int_equal(hs_tax_compute(NULL, &l, 1, &t, &err), HS_EINVAL);
    assert_int_equal(hs_tax_compute(&p, NULL, 1, &t, &err), HS_EINVAL);

    /* 17 distinct rates */
    struct hs_tax_code codes[HS_TAX_MAX_RATES + 1];
    struct hs_tax_line ls[HS_TAX_MAX_RATES + 1];
    for (int i = 0; i <= HS_TAX_MAX_RATES; i++) {
        char ref[8];
        snprintf(ref, sizeof ref, "%d", i);
        codes[i] = code1("c", ref, PCT(i + 1, 0));
        ls[i] = (struct hs_tax_line){.amount = 100, .code = &codes[i]};
    }
    assert_int_equal(hs_tax_compute(&p, ls, HS_TAX_MAX_RATES, &t, &err), HS_OK);
    assert_int_equal(t.n_rates, HS_TAX_MAX_RATES);
    assert_int_equal(hs_tax_compute(&p, ls, HS_TAX_MAX_RATES + 1, &t, &err), HS_ETOOBIG);
    assert_int_equal(t.total, 0);
    /* one rate id with two percentages */
    struct hs_tax_code a = code1("a", "same", PCT(5, 0));
    struct hs_tax_code b = code1("b", "same", PCT(6, 0));
    struct hs_tax_line two[2] = {{.amount = 1, .code = &a}, {.amount = 1, .code = &b}};
    assert_int_equal(hs_tax_compute(&p, two, 2, &t, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "'same' has two percentages"));
    /* overflow: sums and products */
    struct hs_tax_line big[2] = {{.amount = INT64_MAX, .code = NULL}, {.amount = 1, .code = NULL}};
    assert_int_equal(hs_tax_compute(&p, big, 2, &t, &err), HS_ERANGE);
    assert_string_equal(err.msg, "cannot compute tax: an amount is too large");
    struct hs_tax_code huge = code1("h", "h", PCT(1000, 0));
    struct hs_tax_line hl = {.amount = INT64_MAX / 2, .code = &huge};
    assert_int_equal(hs_tax_compute(&p, &hl, 1, &t, &err), HS_ERANGE);
    struct hs_tax_code over = code1("o", "o", PCT(1000, 1));
    struct hs_tax_line ol = {.amount = 1, .code = &over};
    assert_int_equal(hs_tax_compute(&p, &ol, 1, &t, &err), HS_EINVAL);
}

/* ---- randomized property test against an independent reference ---- */

/* round(n / d) half away from zero, d > 0: written differently from core on purpose. */
static int64_t ref_round(i128 n, i128 d)
{
    i128 mag = n < 0 ? -n : n;
    i128 q = (2 * mag + d) / (2 * d);
    return (int64_t)(n < 0 ? -q : q);
}

struct ref_rate {
    const char *ref;
    int64_t pct;
    int64_t base;
    int64_t tax;
};

static void test_core_tax_random_invoices_match_reference(void **state)
{
    (void)state;
    struct hs_tax_code codes[6];
    codes[0] = california();
    codes[1] = code1("4", "3", PCT(20, 0));
    codes[2] = code1("5", "4", PCT(5, 0));
    codes[3] = code1("6", "5", PCT(10, 0));
    codes[4] = code1("7", "6", PCT(8, 875000));
    memset(&codes[5], 0, sizeof codes[5]);
    snprintf(codes[5].code, sizeof codes[5].code, "%s", "NON");
    struct hs_rng rng;
    hs_rng_seed(&rng, 77);
    for (int iter = 0; iter < 20000; iter++) {
        const size_t n = 1 + (size_t)hs_rng_below(&rng, 6);
        const bool inclusive = hs_rng_below(&rng, 2) == 0;
        const bool per_doc = hs_rng_below(&rng, 2) == 0;
        const unsigned exp3[3] = {0, 2, 3};
        const unsigned e = exp3[hs_rng_below(&rng, 3)];
        struct hs_tax_policy p = per_doc ? hs_tax_policy_quickbooks(HS_TAX_EXCLUSIVE)
                                         : hs_tax_policy_xero(HS_TAX_EXCLUSIVE);
        p.mode = inclusive ? HS_TAX_INCLUSIVE : HS_TAX_EXCLUSIVE;
        struct hs_tax_line l[6];
        int64_t ref_net[6], ref_tax[6], ref_gross[6];
        struct ref_rate rr[8];
        size_t n_rr = 0;
        for (size_t i = 0; i < n; i++) {
            /* quantity 0.01 .. 500 with two decimals, price up to 10,000 in major units */
            const int64_t qty = ((int64_t)hs_rng_below(&rng, 50000) + 1) * 10000;
            int64_t scale = 1;
            for (unsigned k = 0; k < e; k++)
                scale *= 10;
            const int64_t price = (int64_t)hs_rng_below(&rng, (uint64_t)(10000 * scale)) + 1;
            const bool has_disc = hs_rng_below(&rng, 3) == 0;
            struct hs_decimal disc = {(int64_t)hs_rng_below(&rng, 100000001)};
            int64_t amt = 0;
            assert_int_equal(hs_tax_line_amount((struct hs_decimal){qty}, price,
                                                has_disc ? &disc : NULL, HS_ROUND_HALF_UP, &amt,
                                                NULL),
                             HS_OK);
            const int64_t ref_amt = has_disc ? ref_round((i128)qty * price * (100000000 - disc.v),
                                                         (i128)100000000000000)
                                             : ref_round((i128)qty * price, 1000000);
            assert_int_equal(amt, ref_amt);
            const struct hs_tax_code *c = &codes[hs_rng_below(&rng, 6)];
            l[i] = (struct hs_tax_line){.amount = amt, .code = c};
            /* reference line */
            int64_t R = 0;
            for (size_t k = 0; k < c->n_components; k++)
                R += c->components[k].percent.v;
            int64_t t = 0;
            if (!inclusive) {
                for (size_t k = 0; k < c->n_components; k++)
                    t += ref_round((i128)amt * c->components[k].percent.v, 100000000);
                ref_net[i] = amt;
                ref_gross[i] = amt + t;
            } else {
                t = c->n_components > 0 ? ref_round((i128)amt * R, (i128)100000000 + R) : 0;
                ref_gross[i] = amt;
                ref_net[i] = amt - t;
            }
            ref_tax[i] = t;
            for (size_t k = 0; k < c->n_components; k++) {
                size_t s = 0;
                while (s < n_rr && strcmp(rr[s].ref, c->components[k].rate_ref) != 0)
                    s++;
                if (s == n_rr)
                    rr[n_rr++] = (struct ref_rate){c->components[k].rate_ref,
                                                   c->components[k].percent.v, 0, 0};
                rr[s].base += amt;
            }
        }
        struct hs_tax_totals tot;
        compute(p, l, n, &tot);
        int64_t sub = 0, tax = 0, gross = 0;
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(l[i].net, ref_net[i]);
            assert_int_equal(l[i].tax, ref_tax[i]);
            assert_int_equal(l[i].gross, ref_gross[i]);
            sub += ref_net[i];
            gross += ref_gross[i];
        }
        assert_int_equal(tot.n_rates, n_rr);
        for (size_t s = 0; s < n_rr; s++) {
            assert_string_equal(tot.rates[s].rate_ref, rr[s].ref);
            assert_int_equal(tot.rates[s].base, rr[s].base);
            if (per_doc) {
                const i128 den = inclusive ? (i128)100000000 + rr[s].pct : 100000000;
                assert_int_equal(tot.rates[s].tax, ref_round((i128)rr[s].base * rr[s].pct, den));
            }
            tax += tot.rates[s].tax;
        }
        if (!per_doc) {
            int64_t line_tax = 0;
            for (size_t i = 0; i < n; i++)
                line_tax += ref_tax[i];
            assert_int_equal(tax, line_tax);
        }
        assert_int_equal(tot.tax, tax);
        assert_int_equal(tot.subtotal, sub);
        assert_int_equal(tot.total, inclusive ? gross : sub + tax);
    }
}

/* ---- the map ---- */

static void test_core_tax_map_finds_labels_and_rates(void **state)
{
    (void)state;
    struct hs_tax_map *m = NULL;
    struct hs_error err;
    assert_int_equal(hs_tax_map_new(&m), HS_OK);
    struct hs_tax_code vat20 = code1("4", "3", PCT(20, 0));
    struct hs_tax_code vat5 = code1("5", "4", PCT(5, 0));
    struct hs_tax_code ca = california();
    assert_int_equal(hs_tax_map_add(m, "VAT 20%", &vat20, &err), HS_OK);
    assert_int_equal(hs_tax_map_add(m, "Standard", &vat20, &err), HS_OK);
    assert_int_equal(hs_tax_map_add(m, "Reduced", &vat5, &err), HS_OK);
    assert_int_equal(hs_tax_map_add(m, "CA sales tax", &ca, &err), HS_OK);
    assert_int_equal(hs_tax_map_count(m), 4);
    assert_string_equal(hs_tax_map_find(m, "vat 20%")->code, "4");
    assert_string_equal(hs_tax_map_find(m, "  STANDARD\t")->code, "4");
    assert_string_equal(hs_tax_map_find(m, "ca SALES TAX")->code, "3");
    assert_int_equal(hs_tax_map_find(m, "ca SALES TAX")->n_components, 2);
    /* by rate: two labels of one code are not ambiguous */
    assert_string_equal(hs_tax_map_find(m, "20")->code, "4");
    assert_string_equal(hs_tax_map_find(m, "20.000 %")->code, "4");
    assert_string_equal(hs_tax_map_find(m, "5%")->code, "5");
    assert_string_equal(hs_tax_map_find(m, "8.25%")->code, "3");
    assert_null(hs_tax_map_find(m, "19%"));
    assert_null(hs_tax_map_find(m, "VAT 19%"));
    assert_null(hs_tax_map_find(m, ""));
    assert_null(hs_tax_map_find(m, NULL));
    assert_null(hs_tax_map_find(NULL, "Standard"));
    /* a second code with 20% makes "20%" ambiguous */
    struct hs_tax_code other20 = code1("9", "8", PCT(20, 0));
    assert_int_equal(hs_tax_map_add(m, "Export 20", &other20, &err), HS_OK);
    assert_null(hs_tax_map_find(m, "20%"));
    assert_string_equal(hs_tax_map_find(m, "export 20")->code, "9");

    /* errors */
    assert_int_equal(hs_tax_map_add(m, "standard ", &vat5, &err), HS_EINVAL);
    assert_string_equal(err.msg, "cannot map tax 'standard ': the label is already mapped");
    assert_int_equal(hs_tax_map_add(m, "  ", &vat5, &err), HS_EINVAL);
    struct hs_tax_code empty = code1("", "1", PCT(1, 0));
    assert_int_equal(hs_tax_map_add(m, "x", &empty, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "the tax code is empty"));
    struct hs_tax_code neg = code1("n", "1", (struct hs_decimal){-1});
    assert_int_equal(hs_tax_map_add(m, "x", &neg, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "outside 0..1000%"));
    struct hs_tax_code dup = california();
    snprintf(dup.components[1].rate_ref, sizeof dup.components[1].rate_ref, "%s", "1");
    assert_int_equal(hs_tax_map_add(m, "x", &dup, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "lists rate '1' twice"));
    struct hs_tax_code many = california();
    many.n_components = HS_TAX_MAX_COMPONENTS + 1;
    assert_int_equal(hs_tax_map_add(m, "x", &many, &err), HS_EINVAL);
    char longl[HS_TAX_REF_MAX + 1];
    memset(longl, 'a', sizeof longl - 1);
    longl[HS_TAX_REF_MAX] = '\0';
    assert_int_equal(hs_tax_map_add(m, longl, &vat5, &err), HS_EINVAL);
    assert_null(hs_tax_map_find(m, longl));
    assert_int_equal(hs_tax_map_count(m), 5);
    hs_tax_map_free(m);
    hs_tax_map_free(NULL);
    assert_int_equal(hs_tax_code_rate(&ca).v, 8250000);
    assert_int_equal(hs_tax_code_rate(NULL).v, 0);
}

static void test_core_tax_map_caps_entries(void **state)
{
    (void)state;
    struct hs_tax_map *m = NULL;
    struct hs_error err;
    assert_int_equal(hs_tax_map_new(&m), HS_OK);
    struct hs_tax_code c = code1("1", "1", PCT(1, 0));
    for (int i = 0; i < HS_TAX_MAP_MAX; i++) {
        char label[16];
        snprintf(label, sizeof label, "t%d", i);
        assert_int_equal(hs_tax_map_add(m, label, &c, &err), HS_OK);
    }
    assert_int_equal(hs_tax_map_add(m, "one more", &c, &err), HS_ETOOBIG);
    assert_string_equal(hs_tax_map_find(m, "T1023")->code, "1");
    hs_tax_map_free(m);
}

static void test_core_tax_map_survives_every_failed_allocation(void **state)
{
    (void)state;
    struct hs_tax_code c = code1("1", "1", PCT(1, 0));
    for (int n = 0;; n++) {
        struct hs_tax_map *m = NULL;
        failalloc_arm(n);
        int rc = hs_tax_map_new(&m);
        for (int i = 0; rc == HS_OK && i < 20; i++) {
            char label[16];
            snprintf(label, sizeof label, "t%d", i);
            rc = hs_tax_map_add(m, label, &c, NULL);
            if (rc == HS_ENOMEM)
                assert_int_equal(hs_tax_map_count(m), (size_t)i);
        }
        failalloc_disarm();
        if (m == NULL) {
            assert_int_equal(rc, HS_ENOMEM);
            continue;
        }
        hs_tax_map_free(m);
        if (rc == HS_OK)
            break;
        assert_int_equal(rc, HS_ENOMEM);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_tax_line_amount_rounds_once_with_discount),
        cmocka_unit_test(test_core_tax_per_line_and_per_document_differ_by_a_cent),
        cmocka_unit_test(test_core_tax_inclusive_extracts_tax_from_gross),
        cmocka_unit_test(test_core_tax_exclusive_and_inclusive_totals_agree),
        cmocka_unit_test(test_core_tax_combined_rates_jpy_kwd_and_no_tax),
        cmocka_unit_test(test_core_tax_compute_rejects_bad_input),
        cmocka_unit_test(test_core_tax_random_invoices_match_reference),
        cmocka_unit_test(test_core_tax_map_finds_labels_and_rates),
        cmocka_unit_test(test_core_tax_map_caps_entries),
        cmocka_unit_test(test_core_tax_map_survives_every_failed_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
