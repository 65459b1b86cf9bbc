/*
 * core/invoice.c - closed-won deal -> accounting invoice, calendar arithmetic, payment status.
 *
 * Design:     hs_invoice_build resolves everything that can fail for a reason a finance user
 *             must fix (customer link, item links, tax mappings, terms, currencies) line by
 *             line, in line order, so the first problem is the one reported, with the deal's
 *             name and the 1-based line number. It then hands the line amounts to
 *             hs_tax_compute under the effective policy and copies the figures into a new
 *             record, which is validated before it is returned. Dates are days since
 *             1970-01-01 in between (H. Hinnant's civil-from-days algorithms), exact for the
 *             model's years 1..9999. hs_invoice_payment_status_derive prefers the accounting
 *             system's own figures (amount paid, balance) over sums of payments, because the
 *             provider also counts credits and write-offs we may not see.
 * Invariants: see core/invoice.h; no double, no clock, no I/O.
 * Ownership:  the built record is the caller's; a failed build frees everything it made.
 * Not here:   tax arithmetic (core/tax.c), record storage and field view (core/record.c).
 */
#include "core/invoice.h"

#include <string.h>

#include "util/alloc.h"
#include "util/civil.h"
#include "util/str.h"

#define NAME_SHOW    80 /* bytes of a deal name quoted in messages */
#define DUE_DAYS_MAX 3650

/* ---- dates ---- */

static int64_t date_days(struct hs_date d)
{
    return hs_days_from_civil(d.year, d.month, d.day);
}

static int date_of_days(int64_t days, struct hs_date *out, struct hs_error *err)
{
    int64_t y, m, d;
    hs_civil_from_days(days, &y, &m, &d);
    if (y < 1 || y > 9999)
        return hs_error_set(err, HS_EINVAL, "cannot compute date: year %lld is outside 1..9999",
                            (long long)y);
    out->year = (int16_t)y;
    out->month = (int8_t)m;
    out->day = (int8_t)d;
    return HS_OK;
}

int hs_invoice_date_add_days(struct hs_date d, int32_t days, struct hs_date *out,
                             struct hs_error *err)
{
    if (!hs_date_valid(d))
        return hs_error_set(err, HS_EINVAL, "cannot compute date: invalid start date");
    return date_of_days(date_days(d) + days, out, err);
}

int hs_invoice_date_from_ms(int64_t ms, int32_t utc_offset_minutes, struct hs_date *out,
                            struct hs_error *err)
{
    if (utc_offset_minutes < -18 * 60 || utc_offset_minutes > 18 * 60)
        return hs_error_set(err, HS_EINVAL, "cannot compute date: UTC offset %d min is too large",
                            (int)utc_offset_minutes);
    const int64_t day_ms = INT64_C(86400000);
    const int64_t lim = INT64_C(400000) * 366 * day_ms; /* far beyond year 9999 */
    if (ms > lim || ms < -lim)
        return hs_error_set(err, HS_EINVAL, "cannot compute date: time is out of range");
    const int64_t local = ms + (int64_t)utc_offset_minutes * 60000;
    int64_t days = local / day_ms;
    if (local % day_ms < 0)
        days--;
    return date_of_days(days, out, err);
}

int hs_invoice_date_cmp(struct hs_date a, struct hs_date b)
{
    const int64_t da = date_days(a);
    const int64_t db = date_days(b);
    return da < db ? -1 : (da > db ? 1 : 0);
}

/* ---- building ---- */

static bool blank(const char *s)
{
    if (s == NULL)
        return true;
    for (; *s != '\0'; s++) {
        if (*s != ' ' && *s != '\t')
            return false;
    }
    return true;
}

static const char *deal_name(const struct hs_record *deal, const struct hs_invoice_build_opts *o)
{
    if (!blank(o->deal_name))
        return o->deal_name;
    if (!blank(deal->invoice.memo))
        return deal->invoice.memo;
    if (!blank(deal->invoice.number))
        return deal->invoice.number;
    if (!blank(deal->id))
        return deal->id;
    return "(unnamed)";
}

static const char *item_for(const struct hs_invoice_build_opts *o, const char *product)
{
    if (o->item_for != NULL)
        return o->item_for(o->item_ud, product);
    for (size_t i = 0; i < o->n_items && o->items != NULL; i++) {
        if (hs_str_eq(o->items[i].product_id, product))
            return o->items[i].item_id;
    }
    return NULL;
}

/* Resolved input of one line, before tax. */
struct pre_line {
    const char *item_id;
    const char *tax_code;
    struct hs_decimal quantity;
    bool has_discount;
};

static int due_date(const struct hs_invoice_build_opts *o, const char *name, struct hs_date *out,
                    struct hs_error *err)
{
    int32_t days = 0;
    if (!blank(o->payment_terms)) {
        const struct hs_invoice_term *t = NULL;
        for (size_t i = 0; i < o->n_terms && o->terms != NULL && t == NULL; i++) {
            if (o->terms[i].name != NULL && hs_str_ieq(o->terms[i].name, o->payment_terms))
                t = &o->terms[i];
        }
        if (t == NULL)
            return hs_error_set(err, HS_EINVAL,
                                "deal '%.*s': payment terms '%.64s' are not "
                                "configured",
                                NAME_SHOW, name, o->payment_terms);
        if (t->due_days < 0 || t->due_days > DUE_DAYS_MAX)
            return hs_error_set(err, HS_EINVAL,
                                "deal '%.*s': payment terms '%.64s' have %d due days, outside "
                                "0..%d",
                                NAME_SHOW, name, t->name, (int)t->due_days, DUE_DAYS_MAX);
        days = t->due_days;
    }
    return hs_invoice_date_add_days(o->issue_date, days, out, err);
}

/* Checks one deal line and resolves its item, quantity, code and amount. */
static int resolve_line(const struct hs_invoice_build_opts *o, const char *name, size_t i,
                        const struct hs_invoice_line *in, const char *currency,
                        enum hs_tax_mode mode, const char *provider, struct pre_line *pre,
                        struct hs_tax_line *tl, struct hs_error *err)
{
    const size_t no = i + 1;
    if (blank(in->item_ref)) {
        pre->item_id = o->default_item_id;
        if (blank(pre->item_id))
            return hs_error_set(err, HS_EINVAL,
                                "deal '%.*s' line %zu has no product and no default item is "
                                "configured",
                                NAME_SHOW, name, no);
    } else {
        pre->item_id = item_for(o, in->item_ref);
        if (blank(pre->item_id))
            pre->item_id = o->default_item_id;
        if (blank(pre->item_id))
            return hs_error_set(err, HS_EINVAL,
                                "deal '%.*s' line %zu: product '%.64s' has no %s item and no "
                                "default item is configured",
                                NAME_SHOW, name, no, in->item_ref, provider);
    }
    pre->quantity.v = in->has_quantity ? in->quantity.v : HS_DECIMAL_ONE;
    pre->has_discount = in->has_discount_percent && in->discount_percent.v != 0;
    if (in->has_discount_percent &&
        (in->discount_percent.v < 0 || in->discount_percent.v > 100 * HS_DECIMAL_ONE))
        return hs_error_set(err, HS_EINVAL,
                            "deal '%.*s' line %zu: discount must be between 0 and 100%%", NAME_SHOW,
                            name, no);
    const struct hs_money *m = in->unit_price.currency[0] != '\0' ? &in->unit_price : &in->amount;
    if (m->currency[0] == '\0')
        return hs_error_set(err, HS_EINVAL, "deal '%.*s' line %zu has no unit price", NAME_SHOW,
                            name, no);
    if (strcmp(m->currency, currency) != 0)
        return hs_error_set(err, HS_EINVAL, "deal '%.*s' line %zu is in %s but the deal is in %s",
                            NAME_SHOW, name, no, m->currency, currency);
    if (m == &in->unit_price) {
        struct hs_error e2;
        hs_error_clear(&e2);
        int rc = hs_tax_line_amount(pre->quantity, m->minor,
                                    pre->has_discount ? &in->discount_percent : NULL,
                                    o->policy.round_mode, &tl->amount, &e2);
        if (rc != HS_OK)
            return hs_error_set(err, rc, "deal '%.*s' line %zu: %s", NAME_SHOW, name, no, e2.msg);
    } else {
        tl->amount = m->minor; /* no unit price: the CRM's line amount stands */
    }
    tl->code = NULL;
    pre->tax_code = NULL;
    if (mode == HS_TAX_NONE)
        return HS_OK;
    if (blank(in->tax_code)) {
        pre->tax_code = blank(o->untaxed_code) ? NULL : o->untaxed_code;
        return HS_OK;
    }
    tl->code = hs_tax_map_find(o->tax_map, in->tax_code);
    if (tl->code == NULL)
        return hs_error_set(err, HS_EINVAL,
                            "deal '%.*s' line %zu: tax '%.64s' has no mapping to a %s tax code",
                            NAME_SHOW, name, no, in->tax_code, provider);
    pre->tax_code = tl->code->code;
    return HS_OK;
}

static int set_money(int64_t minor, const char *currency, struct hs_money *out)
{
    return hs_money_from_minor(minor, currency, out, NULL);
}

/* Fills the output record from the resolved lines and the computed taxes. */
static int fill(struct hs_record *r, const struct hs_record *deal,
                const struct hs_invoice_build_opts *o, const char *name, const char *currency,
                enum hs_tax_mode mode, struct hs_date due, const struct pre_line *pre,
                const struct hs_tax_line *tl, const struct hs_tax_totals *tot)
{
    struct hs_invoice *inv = &r->invoice;
    int rc = hs_record_set_str(&inv->customer_ref, o->customer_id);
    memcpy(inv->currency, currency, 4);
    inv->issue_date = o->issue_date;
    inv->due_date = due;
    inv->tax_mode = mode;
    for (size_t i = 0; rc == HS_OK && i < deal->invoice.n_lines; i++) {
        const struct hs_invoice_line *in = &deal->invoice.lines[i];
        struct hs_invoice_line *l = NULL;
        rc = hs_record_add_line(r, &l);
        if (rc == HS_OK)
            rc = hs_record_set_str(&l->item_ref, pre[i].item_id);
        if (rc == HS_OK)
            rc = hs_record_set_str(&l->description, in->description);
        if (rc == HS_OK)
            rc = hs_record_set_str(&l->tax_code, pre[i].tax_code);
        if (rc != HS_OK)
            break;
        l->quantity = pre[i].quantity;
        l->has_quantity = true;
        if (in->unit_price.currency[0] != '\0')
            l->unit_price = in->unit_price;
        if (pre[i].has_discount) {
            l->discount_percent = in->discount_percent;
            l->has_discount_percent = true;
        }
        rc = set_money(mode == HS_TAX_INCLUSIVE ? tl[i].gross : tl[i].net, currency, &l->amount);
        if (rc == HS_OK)
            rc = set_money(tl[i].tax, currency, &l->tax_amount);
    }
    if (rc == HS_OK)
        rc = set_money(tot->subtotal, currency, &inv->subtotal);
    if (rc == HS_OK)
        rc = set_money(tot->tax, currency, &inv->tax);
    if (rc == HS_OK)
        rc = set_money(tot->total, currency, &inv->total);
    if (rc == HS_OK)
        rc = hs_record_set_str(&inv->memo, name);
    if (rc == HS_OK)
        rc = hs_fields_set(&r->external_refs, o->ref_key != NULL ? o->ref_key : HS_INVOICE_DEAL_REF,
                           deal->id);
    return rc;
}

int hs_invoice_build(const struct hs_record *deal, const struct hs_invoice_build_opts *o,
                     struct hs_record **out, struct hs_error *err)
{
    struct pre_line *pre = NULL;
    struct hs_tax_line *tl = NULL;
    struct hs_record *r = NULL;
    int rc;
    *out = NULL;
    if (deal == NULL || o == NULL || deal->kind != HS_KIND_INVOICE)
        return hs_error_set(err, HS_EINVAL, "cannot build invoice: no deal or not an invoice");
    const char *name = deal_name(deal, o);
    const char *provider = blank(o->provider) ? "accounting" : o->provider;
    if (blank(deal->id))
        return hs_error_set(err, HS_EINVAL, "deal '%.*s' has no id", NAME_SHOW, name);
    if (blank(o->customer_id))
        return hs_error_set(err, HS_EINVAL,
                            "deal '%.*s' has no %s customer: its company is not linked yet",
                            NAME_SHOW, name, provider);
    if (!hs_date_valid(o->issue_date))
        return hs_error_set(err, HS_EINVAL, "deal '%.*s': no valid issue date", NAME_SHOW, name);
    const char *currency =
        deal->invoice.currency[0] != '\0' ? deal->invoice.currency : o->default_currency;
    if (blank(currency))
        return hs_error_set(err, HS_EINVAL,
                            "deal '%.*s' has no currency and no default currency is configured",
                            NAME_SHOW, name);
    if (hs_currency_find(currency) == NULL)
        return hs_error_set(err, HS_EINVAL, "deal '%.*s': unknown currency '%.8s'", NAME_SHOW, name,
                            currency);
    const size_t n = deal->invoice.n_lines;
    if (n == 0 || deal->invoice.lines == NULL)
        return hs_error_set(err, HS_EINVAL, "deal '%.*s' has no line items", NAME_SHOW, name);
    struct hs_tax_policy policy = o->policy;
    if (deal->invoice.tax_mode != HS_TAX_MODE_UNSET)
        policy.mode = deal->invoice.tax_mode;
    if (policy.mode == HS_TAX_MODE_UNSET)
        policy.mode = HS_TAX_EXCLUSIVE; /* every provider's default */
    struct hs_date due = {0, 0, 0};
    rc = due_date(o, name, &due, err);
    if (rc != HS_OK)
        return rc;

    pre = hs_calloc(n, sizeof *pre);
    tl = hs_calloc(n, sizeof *tl);
    if (pre == NULL || tl == NULL) {
        rc = hs_error_set(err, HS_ENOMEM, "cannot build invoice: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        rc = resolve_line(o, name, i, &deal->invoice.lines[i], currency, policy.mode, provider,
                          &pre[i], &tl[i], err);
        if (rc != HS_OK)
            goto fail;
    }
    struct hs_tax_totals tot;
    struct hs_error e2;
    hs_error_clear(&e2);
    rc = hs_tax_compute(&policy, tl, n, &tot, &e2);
    if (rc != HS_OK) {
        rc = hs_error_set(err, rc, "deal '%.*s': %s", NAME_SHOW, name, e2.msg);
        goto fail;
    }
    rc = hs_record_new(HS_KIND_INVOICE, &r);
    if (rc == HS_OK)
        rc = fill(r, deal, o, name, currency, policy.mode, due, pre, tl, &tot);
    if (rc != HS_OK) {
        rc = hs_error_set(err, rc, "cannot build invoice for deal '%.*s': %s", NAME_SHOW, name,
                          hs_strerror(rc));
        goto fail;
    }
    rc = hs_record_validate(r, &e2);
    if (rc != HS_OK) {
        rc = hs_error_set(err, rc, "deal '%.*s': %s", NAME_SHOW, name, e2.msg);
        goto fail;
    }
    hs_free(pre);
    hs_free(tl);
    *out = r;
    return HS_OK;
fail:
    hs_record_free(r);
    hs_free(pre);
    hs_free(tl);
    return rc;
}

/* ---- payment status ---- */

const char *hs_invoice_payment_status_name(enum hs_invoice_status status)
{
    switch (status) {
    case HS_INVOICE_PAID:
        return "paid";
    case HS_INVOICE_PARTIALLY_PAID:
        return "partially_paid";
    case HS_INVOICE_OPEN:
        return "unpaid";
    case HS_INVOICE_OVERDUE:
        return "overdue";
    case HS_INVOICE_VOID:
        return "void";
    default:
        return NULL;
    }
}

static const char *inv_name(const struct hs_record *inv)
{
    if (!blank(inv->invoice.number))
        return inv->invoice.number;
    if (!blank(inv->id))
        return inv->id;
    return "(new)";
}

static bool has_money(const struct hs_money *m)
{
    return m->currency[0] != '\0';
}

/* Sum of the payments' applications to invoice id (same currency) and the latest date. */
static int payments_scan(const struct hs_record *inv, const struct hs_record *const *payments,
                         size_t n, const char *currency, int64_t *sum, bool *any_amount,
                         struct hs_date *last, struct hs_error *err)
{
    *sum = 0;
    *any_amount = false;
    memset(last, 0, sizeof *last);
    for (size_t i = 0; i < n; i++) {
        const struct hs_record *p = payments[i];
        if (p == NULL || p->kind != HS_KIND_PAYMENT)
            continue;
        bool applies = blank(inv->id);
        for (size_t k = 0; k < p->payment.n_applied; k++) {
            const struct hs_payment_applied *a = &p->payment.applied[k];
            if (blank(inv->id) || !hs_str_eq(a->invoice_ref, inv->id))
                continue;
            applies = true;
            if (!has_money(&a->amount))
                continue;
            if (strcmp(a->amount.currency, currency) != 0)
                return hs_error_set(err, HS_EINVAL,
                                    "invoice '%.64s': a payment is in %s but the invoice is in %s",
                                    inv_name(inv), a->amount.currency, currency);
            if (__builtin_add_overflow(*sum, a->amount.minor, sum))
                return hs_error_set(err, HS_ERANGE, "invoice '%.64s': payments overflow",
                                    inv_name(inv));
            *any_amount = true;
        }
        if (applies && hs_date_valid(p->payment.date) &&
            (!hs_date_valid(*last) || hs_invoice_date_cmp(p->payment.date, *last) > 0))
            *last = p->payment.date;
    }
    return HS_OK;
}

static int check_cur(const struct hs_record *inv, const char *what, const struct hs_money *m,
                     const char *currency, struct hs_error *err)
{
    if (strcmp(m->currency, currency) != 0)
        return hs_error_set(err, HS_EINVAL, "invoice '%.64s': %s is in %s but the invoice is in %s",
                            inv_name(inv), what, m->currency, currency);
    return HS_OK;
}

int hs_invoice_payment_status_derive(const struct hs_record *invoice,
                                     const struct hs_record *const *payments, size_t n_payments,
                                     struct hs_date today, struct hs_invoice_payment_status *out,
                                     struct hs_error *err)
{
    if (invoice == NULL || out == NULL || invoice->kind != HS_KIND_INVOICE ||
        (payments == NULL && n_payments > 0))
        return hs_error_set(err, HS_EINVAL, "cannot derive payment status: no invoice");
    const struct hs_invoice *inv = &invoice->invoice;
    if (!hs_date_valid(today))
        return hs_error_set(err, HS_EINVAL, "invoice '%.64s': no valid date for today",
                            inv_name(invoice));
    const char *currency = inv->currency[0] != '\0' ? inv->currency : inv->total.currency;
    if (currency[0] == '\0' || hs_currency_find(currency) == NULL)
        return hs_error_set(err, HS_EINVAL, "invoice '%.64s' has no currency", inv_name(invoice));
    struct hs_invoice_payment_status st;
    memset(&st, 0, sizeof st);
    int64_t from_payments = 0;
    bool any = false;
    int rc = payments_scan(invoice, payments, n_payments, currency, &from_payments, &any,
                           &st.last_payment_date, err);
    if (rc != HS_OK)
        return rc;
    int64_t paid = 0;
    int64_t due = 0;
    if (inv->status == HS_INVOICE_VOID) {
        st.status = HS_INVOICE_VOID;
    } else {
        if (!has_money(&inv->total))
            return hs_error_set(err, HS_EINVAL, "invoice '%.64s' has no total", inv_name(invoice));
        rc = check_cur(invoice, "the total", &inv->total, currency, err);
        if (rc == HS_OK && has_money(&inv->amount_paid))
            rc = check_cur(invoice, "the amount paid", &inv->amount_paid, currency, err);
        if (rc == HS_OK && has_money(&inv->balance))
            rc = check_cur(invoice, "the balance", &inv->balance, currency, err);
        if (rc != HS_OK)
            return rc;
        const int64_t total = inv->total.minor;
        bool ovf = false;
        if (has_money(&inv->amount_paid))
            paid = inv->amount_paid.minor;
        else if (has_money(&inv->balance))
            ovf = __builtin_sub_overflow(total, inv->balance.minor, &paid);
        else
            paid = any ? from_payments : 0;
        if (has_money(&inv->balance))
            due = inv->balance.minor;
        else
            ovf = ovf || __builtin_sub_overflow(total, paid, &due);
        if (ovf)
            return hs_error_set(err, HS_ERANGE, "invoice '%.64s': amounts overflow",
                                inv_name(invoice));
        char a[HS_MONEY_FMT_MAX];
        char b[HS_MONEY_FMT_MAX];
        if (paid < 0 || due < 0 || (paid > total && total >= 0)) {
            struct hs_money mp = {paid, {0}};
            struct hs_money mt = {total, {0}};
            memcpy(mp.currency, currency, 4);
            memcpy(mt.currency, currency, 4);
            if (hs_money_format(&mp, a, sizeof a) < 0 || hs_money_format(&mt, b, sizeof b) < 0)
                a[0] = b[0] = '\0';
            if (paid < 0)
                return hs_error_set(err, HS_EINVAL, "invoice '%.64s': amount paid %s is negative",
                                    inv_name(invoice), a);
            if (due >= 0 || paid > total)
                return hs_error_set(err, HS_EINVAL,
                                    "invoice '%.64s': amount paid %s is more than its total %s",
                                    inv_name(invoice), a, b);
            return hs_error_set(err, HS_EINVAL,
                                "invoice '%.64s': amount due is negative (total %s)",
                                inv_name(invoice), b);
        }
        if (due == 0)
            st.status = HS_INVOICE_PAID;
        else if (paid == 0)
            st.status = HS_INVOICE_OPEN;
        else
            st.status = HS_INVOICE_PARTIALLY_PAID;
        if (due > 0 && hs_date_valid(inv->due_date) &&
            hs_invoice_date_cmp(inv->due_date, today) < 0)
            st.status = HS_INVOICE_OVERDUE;
    }
    rc = set_money(paid, currency, &st.amount_paid);
    if (rc == HS_OK)
        rc = set_money(due, currency, &st.amount_due);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "invoice '%.64s': bad currency", inv_name(invoice));
    *out = st;
    return HS_OK;
}

int hs_invoice_payment_props(const struct hs_invoice_payment_status *st, struct hs_fields *out,
                             struct hs_error *err)
{
    const char *name = st != NULL ? hs_invoice_payment_status_name(st->status) : NULL;
    if (name == NULL || out == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot write payment status: invalid status");
    char paid[HS_MONEY_FMT_MAX];
    char due[HS_MONEY_FMT_MAX];
    char date[11] = "";
    if (hs_money_format(&st->amount_paid, paid, sizeof paid) < 0 ||
        hs_money_format(&st->amount_due, due, sizeof due) < 0)
        return hs_error_set(err, HS_EINVAL, "cannot write payment status: invalid amounts");
    if (hs_date_valid(st->last_payment_date))
        hs_date_format(st->last_payment_date, date);
    int rc = hs_fields_set(out, HS_INVOICE_PROP_STATUS, name);
    if (rc == HS_OK)
        rc = hs_fields_set(out, HS_INVOICE_PROP_AMOUNT_PAID, paid);
    if (rc == HS_OK)
        rc = hs_fields_set(out, HS_INVOICE_PROP_AMOUNT_DUE, due);
    if (rc == HS_OK)
        rc = hs_fields_set(out, HS_INVOICE_PROP_LAST_PAID, date);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot write payment status: %s", hs_strerror(rc));
    return HS_OK;
}
