/*
 * core/invoice.h - invoice builder (closed-won deal -> accounting invoice) and payment status.
 *
 * Design:     hs_invoice_build turns the CRM side's canonical invoice (a closed-won deal with
 *             its line items) into the accounting side's canonical invoice, with every amount
 *             computed the way that accounting system will compute it (core/tax.h policies),
 *             so that what we write, what the provider answers and what we write back agree to
 *             the minor unit. Everything the build needs from the outside world comes in
 *             struct hs_invoice_build_opts: the accounting customer id of the deal's company,
 *             the product -> item links (array or callback), a default item, the tax map, the
 *             payment terms, the issue date (from the caller's clock). It does no I/O and reads
 *             no clock, so the same deal and options always give the same invoice.
 *             hs_invoice_payment_status_derive goes the other way: from the accounting invoice
 *             (total, amount paid or balance, due date, void) and the payments applied to it,
 *             it derives the status and amounts written back to the deal, and
 *             hs_invoice_payment_props formats them as HubSpot property values.
 * Invariants: a built invoice passes hs_record_validate; its lines and totals are exactly
 *             those of hs_tax_compute under the effective policy; it never carries a double.
 *             Status: void wins; otherwise amount due 0 is paid, nothing paid is unpaid, else
 *             partially paid; unpaid or partially paid with due date < today is overdue.
 * Ownership:  the built record belongs to the caller (hs_record_free). Options, links, maps
 *             and payments are borrowed for the call.
 * Not here:   tax arithmetic and maps (core/tax.h), sending the invoice (connectors), deciding
 *             when a deal is closed-won or whether it was already invoiced (engine).
 *             docs/modules/invoice.md has the full rules and examples.
 */
#ifndef HS_CORE_INVOICE_H
#define HS_CORE_INVOICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/money.h"
#include "core/tax.h"
#include "hoopsync/common.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"

/* External ref key the built invoice carries the deal id under, unless opts->ref_key says. */
#define HS_INVOICE_DEAL_REF "hubspot_deal"

/* A CRM product linked to an accounting item. */
struct hs_invoice_item_link {
    const char *product_id; /* CRM product id (the deal line's item_ref) */
    const char *item_id;    /* accounting item id */
};

/* Payment terms: a name ("Net 30", compared without case) and its days until due. */
struct hs_invoice_term {
    const char *name;
    int32_t due_days; /* 0..3650 */
};

/* Returns the accounting item id linked to a CRM product id (borrowed), or NULL when none. */
typedef const char *(*hs_invoice_item_fn)(void *ud, const char *product_id);

struct hs_invoice_build_opts {
    const char *provider;    /* accounting system's name for messages ("QuickBooks") */
    const char *customer_id; /* accounting customer of the deal's company; required */
    /* product -> item links: item_for(item_ud, product) when item_for is set, else items[] */
    const struct hs_invoice_item_link *items;
    size_t n_items;
    hs_invoice_item_fn item_for;
    void *item_ud;
    const char *default_item_id; /* for lines without product or item; NULL = such lines fail */
    const struct hs_tax_map *tax_map; /* CRM tax label -> accounting code; NULL = empty */
    const char *untaxed_code;         /* code for lines without a tax label ("NON"); may be NULL */
    struct hs_tax_policy policy;      /* its mode applies when the deal has no tax_mode */
    const struct hs_invoice_term *terms;
    size_t n_terms;
    const char *payment_terms;    /* a term name; NULL = due on the issue date */
    struct hs_date issue_date;    /* required: today in the company's zone */
    const char *default_currency; /* when the deal has none; NULL = such deals fail */
    const char *deal_name;        /* memo; NULL = the deal's memo, else its number, else its id */
    const char *ref_key;          /* NULL = HS_INVOICE_DEAL_REF */
};

/*
 * Builds the accounting invoice for deal (an HS_KIND_INVOICE from the CRM connector: lines with
 * item_ref = CRM product id, description, quantity (default 1), unit_price, discount_percent,
 * tax_code = CRM tax label; currency; id = deal id) into a new record *out:
 *   customer_ref = opts->customer_id; currency = the deal's (or opts->default_currency);
 *   issue_date = opts->issue_date; due_date = issue_date + the days of opts->payment_terms;
 *   tax_mode = the deal's, else opts->policy.mode; lines: item_ref = the linked item (or
 *   opts->default_item_id), description, quantity, unit_price, discount_percent (only when
 *   non-zero), tax_code = the mapped accounting code (opts->untaxed_code for lines without a
 *   label; none in mode none), amount = quantity * unit_price * (1 - discount / 100) rounded
 *   once (net, or gross in inclusive mode; a line without unit price keeps its amount),
 *   tax_amount = the line's tax; subtotal, tax and total as hs_tax_compute gives them;
 *   memo = the deal name; external_refs[ref_key] = deal id. number, status, amount_paid and
 *   balance stay absent (the accounting system assigns them).
 * Returns HS_OK; HS_EINVAL with a message a finance user understands: "deal 'Big Order' line 2
 * has no product and no default item is configured", "deal 'Big Order' line 1: tax 'VAT 19%'
 * has no mapping to a QuickBooks tax code", "deal 'Big Order' has no QuickBooks customer",
 * "deal 'Big Order': payment terms 'Net 45' are not configured", a line in another currency,
 * a discount outside 0..100%, no lines; HS_ERANGE (amounts overflow); HS_ETOOBIG (too many
 * tax rates); HS_ENOMEM. *out is NULL on failure.
 */
HS_API HS_MUST_CHECK int hs_invoice_build(const struct hs_record *deal,
                                          const struct hs_invoice_build_opts *opts,
                                          struct hs_record **out, struct hs_error *err);

/* ---- dates ---- */

/* d plus days (may be negative) into *out. HS_OK; HS_EINVAL when d is invalid or the result
 * falls outside years 1..9999. */
HS_API HS_MUST_CHECK int hs_invoice_date_add_days(struct hs_date d, int32_t days,
                                                  struct hs_date *out, struct hs_error *err);

/* The calendar date of ms (milliseconds since the epoch, UTC) at a fixed UTC offset in minutes
 * (-08:00 is -480). HS_OK; HS_EINVAL outside years 1..9999 or |offset| > 18 h. */
HS_API HS_MUST_CHECK int hs_invoice_date_from_ms(int64_t ms, int32_t utc_offset_minutes,
                                                 struct hs_date *out, struct hs_error *err);

/* <0, 0, >0 as a is before, equal to or after b (valid dates). */
HS_API int hs_invoice_date_cmp(struct hs_date a, struct hs_date b);

/* ---- payment status ---- */

/* Write-back property names on the deal. */
#define HS_INVOICE_PROP_STATUS      "hoopsync_payment_status"
#define HS_INVOICE_PROP_AMOUNT_PAID "hoopsync_amount_paid"
#define HS_INVOICE_PROP_AMOUNT_DUE  "hoopsync_amount_due"
#define HS_INVOICE_PROP_LAST_PAID   "hoopsync_last_payment_date"

struct hs_invoice_payment_status {
    enum hs_invoice_status status; /* PAID, PARTIALLY_PAID, OPEN (unpaid), OVERDUE or VOID */
    struct hs_money amount_paid;
    struct hs_money amount_due;
    struct hs_date last_payment_date; /* all zero when no payment is known */
};

/* "paid", "partially_paid", "unpaid" (for HS_INVOICE_OPEN), "overdue", "void"; NULL otherwise. */
HS_API const char *hs_invoice_payment_status_name(enum hs_invoice_status status);

/*
 * Derives the payment status of the accounting invoice (HS_KIND_INVOICE) on day today:
 *   amount paid = invoice.amount_paid, else total - balance, else the sum of the payments'
 *   applications to invoice->id, else 0; amount due = invoice.balance, else total - paid;
 *   status = void when invoice.status is HS_INVOICE_VOID (amounts 0), paid when nothing is
 *   due, unpaid when nothing is paid, else partially_paid; unpaid or partially paid with a
 *   due date before today is overdue; last payment date = the latest date of the payments
 *   (HS_KIND_PAYMENT, borrowed, may be NULL when n_payments is 0) applied to invoice->id
 *   (or of all of them when the invoice has no id).
 * Returns HS_OK; HS_EINVAL with a message for a missing total or currency, an invalid today,
 * amounts in other currencies, a negative amount paid or due ("invoice '1042': amount paid
 * 120.00 is more than its total 100.00"); HS_ERANGE on overflow. *out written on success only.
 */
HS_API HS_MUST_CHECK int hs_invoice_payment_status_derive(const struct hs_record *invoice,
                                                          const struct hs_record *const *payments,
                                                          size_t n_payments, struct hs_date today,
                                                          struct hs_invoice_payment_status *out,
                                                          struct hs_error *err);

/*
 * Sets the four write-back properties in out (other entries kept) in HubSpot's formats:
 * HS_INVOICE_PROP_STATUS the status name, amounts as plain decimals with the currency's
 * digits ("1234.50", "1500" JPY, "12.345" KWD), the last payment date "YYYY-MM-DD" or "" when
 * none (HubSpot clears a property set to ""). HS_OK, HS_EINVAL (bad status), HS_ENOMEM (out
 * may hold some of the four).
 */
HS_API HS_MUST_CHECK int hs_invoice_payment_props(const struct hs_invoice_payment_status *st,
                                                  struct hs_fields *out, struct hs_error *err);

#endif
