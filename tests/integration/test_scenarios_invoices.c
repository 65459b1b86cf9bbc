/*
 * tests/integration/test_scenarios_invoices.c - deal -> invoice -> payment scenarios, engine
 * in process against a hoopsync-sandbox process over real HTTP (set-up in scenario.c).
 *
 * Checks: a closed-won deal becomes exactly one invoice when sync runs twice and when its
 * change event repeats (the same deal marked dirty again, as a repeated webhook delivery does,
 * and a later edit of the deal that the change feed announces again); a tax-exclusive and a
 * tax-inclusive deal (rates from the lines, QuickBooks' codes) give an invoice whose total
 * equals our computation to the cent, and the amount due written back to the deal equals the
 * provider's balance; JPY (0 decimals) and KWD (3 decimals) deals keep every minor unit; a
 * partial payment makes the deal partially_paid, the sandbox clock past the due date makes it
 * overdue, the rest of the payment makes it paid; a pass with nothing changed writes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "connectors/hubspot/hubspot.h"
#include "core/invoice.h"
#include "scenario.h"

#define DAY_MS (24LL * 3600 * 1000)

static int setup_plain(void **state)
{
    struct scn_options o = {.invoicing = true};
    *state = scn_open(&o);
    scn_engine_open(*state);
    return 0;
}

static int setup_exclusive(void **state)
{
    struct scn_options o = {
        .invoicing = true, .tax_mode = HS_TAX_EXCLUSIVE, .tax_from_lines = true};
    *state = scn_open(&o);
    scn_engine_open(*state);
    return 0;
}

static int setup_inclusive(void **state)
{
    struct scn_options o = {
        .invoicing = true, .tax_mode = HS_TAX_INCLUSIVE, .tax_from_lines = true};
    *state = scn_open(&o);
    scn_engine_open(*state);
    return 0;
}

static int teardown(void **state)
{
    scn_close(*state);
    return 0;
}

/* Creates actions of invoices for deal in r. */
static size_t invoice_creates(const struct hs_engine_report *r, const char *deal)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_actions; i++)
        n += r->actions[i].kind == HS_ENGINE_CREATE && r->actions[i].object == HS_KIND_INVOICE &&
             strcmp(r->actions[i].source_id, deal) == 0;
    return n;
}

/*
 * Backfill, then a company (created on the CRM side, or linked by name to an accounting
 * customer made in currency when currency is not NULL) synced: its CRM and accounting ids.
 */
static void company(struct scn *s, const char *name, const char *country, const char *currency,
                    char crm[SCN_ID_MAX], char acc[SCN_ID_MAX])
{
    struct hs_engine_report r;
    scn_pass(s, &r);
    hs_engine_report_release(&r);
    char made[SCN_ID_MAX] = "";
    if (currency != NULL)
        s->acc->create_customer(s, name, currency, NULL, made);
    char props[256];
    snprintf(props, sizeof props, "{\"name\":\"%s\",\"country\":\"%s\"}", name, country);
    scn_crm_create(s, "companies", props, NULL, crm);
    scn_pass(s, &r);
    hs_engine_report_release(&r);
    assert_true(scn_linked(s, "customer", crm, acc));
    if (currency != NULL)
        assert_string_equal(acc, made);
}

/* Runs a pass in which deal must become exactly one invoice; its accounting id in inv. */
static void invoice_pass(struct scn *s, const char *deal, char inv[SCN_ID_MAX])
{
    struct hs_engine_report r;
    scn_pass(s, &r);
    assert_int_equal(invoice_creates(&r, deal), 1);
    hs_engine_report_release(&r);
    assert_true(scn_linked(s, "invoice", deal, inv));
}

/* The deal's invoice number and amount due as written back to HubSpot match the invoice. */
static void check_write_back(struct scn *s, const char *deal, const struct scn_invoice *inv)
{
    char v[128];
    scn_crm_get(s, "deals", deal, "hoopsync_invoice_number", v, sizeof v);
    assert_string_equal(v, inv->number);
    scn_crm_get(s, "deals", deal, "hoopsync_amount_due", v, sizeof v);
    assert_int_equal(scn_minor(v, inv->currency), inv->balance);
}

static void test_scenarios_closed_deal_one_invoice_when_sync_runs_twice(void **state)
{
    struct scn *s = *state;
    char crm[SCN_ID_MAX], acc[SCN_ID_MAX], p0[SCN_ID_MAX], p1[SCN_ID_MAX];
    company(s, "Harbor Lights Outfitters Inc", "United States", NULL, crm, acc);
    scn_crm_product(s, 0, p0);
    scn_crm_product(s, 1, p1);
    const struct scn_line lines[] = {{p0, "3", "19.99", NULL}, {p1, "1", "250.00", NULL}};
    char deal[SCN_ID_MAX], inv_id[SCN_ID_MAX];
    scn_crm_deal(s, crm, "Harbor Lights spring order", "USD", "closedwon", lines, 2, deal);
    assert_int_equal(s->acc->invoices_of(s, acc), 0);
    invoice_pass(s, deal, inv_id);
    assert_int_equal(s->acc->invoices_of(s, acc), 1);
    struct scn_invoice inv;
    s->acc->invoice(s, inv_id, &inv);
    assert_true(inv.exists);
    assert_string_equal(inv.customer, acc);
    assert_int_equal(inv.total, 3 * 1999 + 25000);
    check_write_back(s, deal, &inv);

    /* sync runs again, twice: no second invoice, nothing written */
    scn_quiet_pass(s);
    scn_quiet_pass(s);
    assert_int_equal(s->acc->invoices_of(s, acc), 1);
    assert_true(scn_linked(s, "invoice", deal, NULL));
}

static void test_scenarios_repeated_events_make_no_second_invoice(void **state)
{
    struct scn *s = *state;
    char crm[SCN_ID_MAX], acc[SCN_ID_MAX], p0[SCN_ID_MAX];
    company(s, "Repeating Signals Ltd", "United Kingdom", NULL, crm, acc);
    scn_crm_product(s, 2, p0);
    const struct scn_line lines[] = {{p0, "2", "75.50", NULL}};
    char deal[SCN_ID_MAX], inv_id[SCN_ID_MAX];
    scn_crm_deal(s, crm, "Repeating Signals renewal", "USD", "closedwon", lines, 1, deal);
    invoice_pass(s, deal, inv_id);
    assert_int_equal(s->acc->invoices_of(s, acc), 1);

    /* the same event delivered again (a webhook retry marks the deal dirty once more) */
    struct hs_error err;
    hs_error_clear(&err);
    for (int i = 0; i < 2; i++)
        assert_int_equal(hs_store_dirty_mark(s->store, "crm", "invoice", HS_STORE_CRM, deal, &err),
                         HS_OK);
    /* and a poll that announces the deal again: an edit that does not touch what the invoice
     * was built from, and the stage set to the value it already has */
    scn_advance(s, 60000);
    scn_crm_set(s, "deals", deal, "description", "customer asked for a copy of the invoice");
    scn_crm_set(s, "deals", deal, "dealstage", "closedwon");
    struct hs_engine_report r;
    scn_pass(s, &r);
    assert_true(r.n_changes_seen >= 1); /* the feed did announce the deal again */
    assert_int_equal(invoice_creates(&r, deal), 0);
    assert_int_equal(r.n_errors, 0);
    hs_engine_report_release(&r);
    assert_int_equal(hs_store_dirty_count(s->store, NULL), 0); /* every event was consumed */
    scn_quiet_pass(s);
    assert_int_equal(s->acc->invoices_of(s, acc), 1);
    char again[SCN_ID_MAX];
    assert_true(scn_linked(s, "invoice", deal, again));
    assert_string_equal(again, inv_id);
    assert_int_equal(scn_items(s, HS_STORE_ITEM_CONFLICT, deal, NULL, 0), 0);
    assert_int_equal(scn_items(s, HS_STORE_ITEM_ERROR, deal, NULL, 0), 0);
}

/*
 * A taxed deal (rates on the lines, mapped to the provider's codes by percentage): the
 * provider's total equals our computation of the deal to the minor unit, and the deal's amount
 * due equals the provider's balance. Returns the invoice.
 */
static void taxed_deal(struct scn *s, struct scn_invoice *out, int64_t *gross_sum)
{
    char crm[SCN_ID_MAX], acc[SCN_ID_MAX], p0[SCN_ID_MAX], p1[SCN_ID_MAX], p2[SCN_ID_MAX];
    company(s, "Tally Tax Instruments Inc", "United States", NULL, crm, acc);
    scn_crm_product(s, 0, p0);
    scn_crm_product(s, 1, p1);
    scn_crm_product(s, 3, p2);
    /* odd cents so that per-line and per-document rounding differ */
    const struct scn_line lines[] = {
        {p0, "3", "19.99", "20"}, {p1, "7", "0.33", "20"}, {p2, "1.5", "33.33", "5"}};
    /* line amounts: 59.97 + 2.31 + 50.00 (1.5 x 33.33 = 49.995, half away from zero) */
    *gross_sum = 5997 + 231 + 5000;
    char deal[SCN_ID_MAX], inv_id[SCN_ID_MAX];
    scn_crm_deal(s, crm, "Tally taxed order", "USD", "closedwon", lines, 3, deal);
    invoice_pass(s, deal, inv_id);
    s->acc->invoice(s, inv_id, out);
    assert_true(out->exists);
    assert_string_equal(out->currency, "USD");

    /* our computation of the same deal, as read through the connector */
    struct hs_record *d = NULL;
    const char *ids[1] = {deal};
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_connector_hubspot_ops.read(s->crm, HS_KIND_INVOICE, ids, 1, &d, &err),
                     HS_OK);
    assert_non_null(d);
    struct hs_invoice_build_opts o = {.customer_id = acc,
                                      .default_item_id = "1",
                                      .tax_map = s->tax_map,
                                      .policy = s->iv.policy,
                                      .terms = s->terms,
                                      .n_terms = 1,
                                      .payment_terms = "Net 30",
                                      .issue_date = {0},
                                      .default_currency = "USD"};
    assert_int_equal(hs_invoice_date_from_ms(s->now, 0, &o.issue_date, &err), HS_OK);
    struct hs_record *want = NULL;
    if (hs_invoice_build(d, &o, &want, &err) != HS_OK)
        fail_msg("build: %s", err.msg);
    print_message("%s: ours subtotal %lld tax %lld total %lld; %s total %lld\n",
                  s->iv.policy.mode == HS_TAX_INCLUSIVE ? "inclusive" : "exclusive",
                  (long long)want->invoice.subtotal.minor, (long long)want->invoice.tax.minor,
                  (long long)want->invoice.total.minor, s->acc->label, (long long)out->total);
    assert_true(want->invoice.tax.minor > 0);
    assert_int_equal(out->total, want->invoice.total.minor);
    assert_int_equal(out->balance, out->total);
    check_write_back(s, deal, out);
    hs_record_free(want);
    hs_record_free(d);
    scn_quiet_pass(s);
}

static void test_scenarios_tax_exclusive_invoice_totals_agree(void **state)
{
    struct scn *s = *state;
    struct scn_invoice inv;
    int64_t gross = 0;
    taxed_deal(s, &inv, &gross);
    /* exclusive: tax comes on top of the line amounts */
    assert_true(inv.total > gross);
}

static void test_scenarios_tax_inclusive_invoice_totals_agree(void **state)
{
    struct scn *s = *state;
    struct scn_invoice inv;
    int64_t gross = 0;
    taxed_deal(s, &inv, &gross);
    /* inclusive: the line amounts already hold the tax, the total is their sum */
    assert_int_equal(inv.total, gross);
}

/* A deal in currency for a customer kept in that currency: every minor unit arrives. */
static void currency_deal(struct scn *s, const char *name, const char *country,
                          const char *currency, const struct scn_line *lines, size_t n,
                          int64_t want_minor)
{
    char crm[SCN_ID_MAX], acc[SCN_ID_MAX];
    company(s, name, country, currency, crm, acc);
    char deal[SCN_ID_MAX], inv_id[SCN_ID_MAX];
    scn_crm_deal(s, crm, name, currency, "closedwon", lines, n, deal);
    invoice_pass(s, deal, inv_id);
    struct scn_invoice inv;
    s->acc->invoice(s, inv_id, &inv);
    assert_true(inv.exists);
    assert_string_equal(inv.currency, currency);
    assert_int_equal(inv.total, want_minor);
    assert_int_equal(inv.balance, want_minor);
    check_write_back(s, deal, &inv);
    scn_quiet_pass(s);
    assert_int_equal(s->acc->invoices_of(s, acc), 1);
}

static void test_scenarios_jpy_deal_has_no_decimals(void **state)
{
    struct scn *s = *state;
    char p0[SCN_ID_MAX], p1[SCN_ID_MAX];
    scn_crm_product(s, 0, p0);
    scn_crm_product(s, 1, p1);
    const struct scn_line lines[] = {{p0, "3", "1500", NULL}, {p1, "2", "981", NULL}};
    currency_deal(s, "Kyoto Precision Tools KK", "Japan", "JPY", lines, 2, 3 * 1500 + 2 * 981);
}

static void test_scenarios_kwd_deal_keeps_three_decimals(void **state)
{
    struct scn *s = *state;
    char p0[SCN_ID_MAX], p1[SCN_ID_MAX];
    scn_crm_product(s, 0, p0);
    scn_crm_product(s, 1, p1);
    const struct scn_line lines[] = {{p0, "2", "12.345", NULL}, {p1, "3", "0.125", NULL}};
    currency_deal(s, "Gulf Pearl Trading WLL", "Kuwait", "KWD", lines, 2, 2 * 12345 + 3 * 125);
}

static void test_scenarios_partial_payment_then_overdue_then_paid(void **state)
{
    struct scn *s = *state;
    char crm[SCN_ID_MAX], acc[SCN_ID_MAX], p0[SCN_ID_MAX];
    company(s, "Partial Payments Plumbing LLC", "United States", NULL, crm, acc);
    scn_crm_product(s, 0, p0);
    const struct scn_line lines[] = {{p0, "4", "125.25", NULL}};
    char deal[SCN_ID_MAX], inv_id[SCN_ID_MAX];
    scn_crm_deal(s, crm, "Partial Payments boiler", "USD", "closedwon", lines, 1, deal);
    invoice_pass(s, deal, inv_id);
    char v[64];
    scn_crm_get(s, "deals", deal, "hoopsync_payment_status", v, sizeof v);
    assert_string_equal(v, "unpaid");

    s->acc->pay(s, inv_id, 20000);
    struct hs_engine_report r;
    scn_pass(s, &r);
    hs_engine_report_release(&r);
    scn_crm_get(s, "deals", deal, "hoopsync_payment_status", v, sizeof v);
    assert_string_equal(v, "partially_paid");
    scn_crm_get(s, "deals", deal, "hoopsync_amount_paid", v, sizeof v);
    assert_int_equal(scn_minor(v, "USD"), 20000);
    scn_crm_get(s, "deals", deal, "hoopsync_amount_due", v, sizeof v);
    assert_int_equal(scn_minor(v, "USD"), 4 * 12525 - 20000);
    scn_quiet_pass(s);

    /* Net 30: a month and a day later the rest is overdue (sandbox clock, not real time) */
    scn_advance(s, 31 * DAY_MS);
    scn_pass(s, &r);
    hs_engine_report_release(&r);
    scn_crm_get(s, "deals", deal, "hoopsync_payment_status", v, sizeof v);
    assert_string_equal(v, "overdue");

    s->acc->pay(s, inv_id, 4 * 12525 - 20000);
    scn_pass(s, &r);
    hs_engine_report_release(&r);
    scn_crm_get(s, "deals", deal, "hoopsync_payment_status", v, sizeof v);
    assert_string_equal(v, "paid");
    scn_crm_get(s, "deals", deal, "hoopsync_amount_due", v, sizeof v);
    assert_int_equal(scn_minor(v, "USD"), 0);
    scn_quiet_pass(s);
    assert_int_equal(s->acc->invoices_of(s, acc), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scenarios_closed_deal_one_invoice_when_sync_runs_twice,
                                        setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_scenarios_repeated_events_make_no_second_invoice,
                                        setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_scenarios_tax_exclusive_invoice_totals_agree,
                                        setup_exclusive, teardown),
        cmocka_unit_test_setup_teardown(test_scenarios_tax_inclusive_invoice_totals_agree,
                                        setup_inclusive, teardown),
        cmocka_unit_test_setup_teardown(test_scenarios_jpy_deal_has_no_decimals, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scenarios_kwd_deal_keeps_three_decimals, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scenarios_partial_payment_then_overdue_then_paid,
                                        setup_plain, teardown),
    };
    return scn_run_all("invoices", tests, sizeof tests / sizeof tests[0]);
}
