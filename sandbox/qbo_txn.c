/*
 * sandbox/qbo_txn.c - invoice totals, sales tax, and payments applied to invoices.
 *
 * Design:     amounts are int64 minor units of the transaction's currency (JPY 0 decimals,
 *             USD 2, KWD 3); quantities, unit prices and tax rates are scale-6 decimals.
 *             A line amount is Qty * UnitPrice rounded half away from zero to the currency
 *             (128-bit intermediate). Tax is computed per tax rate over the sum of the lines
 *             that carry it, then rounded, the way QuickBooks totals a TxnTaxDetail:
 *               TaxExcluded:  tax = base * rate / 100, TotalAmt = lines - discount + tax
 *               TaxInclusive: the lines hold gross amounts; tax = base * rate / (100 + rate),
 *                             TotalAmt = lines - discount; each line reports its net Amount
 *                             and its gross as SalesItemLineDetail.TaxInclusiveAmt
 *               NotApplicable: no tax.
 *             A discount line (a percentage or an amount) reduces every tax base pro rata when
 *             ApplyTaxAfterDiscount is true (always in TaxInclusive mode).
 *             A line's TaxCodeRef "TAX" uses the rates of TxnTaxDetail.TxnTaxCodeRef (US
 *             style), "NON" none, and a TaxCode Id that code's own sales rates (global style).
 *             Payments: a payment's Line[].LinkedTxn names invoices; applying it lowers each
 *             invoice's Balance and the customer's Balance and links the payment on the
 *             invoice (bumping its SyncToken, like QuickBooks); reverting does the opposite.
 * Invariants: Balance = TotalAmt - sum of applied payments, 0 <= Balance <= TotalAmt.
 * Not here:   HTTP, Faults' JSON (quickbooks.c); number text and time (qbo_json.c).
 */
#include <stdio.h>
#include <string.h>

#include "sandbox/qbo.h"
#include "util/alloc.h"
#include "util/str.h"

#define MAX_LINES 1000
#define MAX_RATES 16

static const char *ref_value(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, key), "value"));
}

static int set_num(json_t *obj, const char *key, int64_t units, int scale)
{
    return json_object_set_new(obj, key, hs_qbo_num(units, scale)) == 0 ? HS_OK : HS_ENOMEM;
}

static int set_ref(json_t *obj, const char *key, const char *value, const char *name)
{
    json_t *r = name != NULL ? json_pack("{s:s, s:s}", "value", value, "name", name)
                             : json_pack("{s:s}", "value", value);
    return json_object_set_new(obj, key, r) == 0 ? HS_OK : HS_ENOMEM;
}

static int64_t pow10i(int n)
{
    int64_t r = 1;
    for (int i = 0; i < n; i++)
        r *= 10;
    return r;
}

/* Reads an optional number field at scale; HS_OK and *present=false when absent. */
static int get_opt(struct hs_qbo_ctx *c, const json_t *obj, const char *key, int scale,
                   const char *element, int64_t *out, bool *present)
{
    json_t *v = json_object_get(obj, key);
    *present = false;
    *out = 0;
    if (v == NULL || json_is_null(v))
        return HS_OK;
    int rc = hs_qbo_num_get(v, scale, out);
    if (rc == HS_ERANGE)
        return hs_qbo_fail(c, "2050", element, "Invalid Number",
                           "%s has more than %d decimal places or is too large", element, scale);
    if (rc != HS_OK)
        return hs_qbo_fail(c, "2010", element, "Request has invalid or unsupported property",
                           "Property Name:Can not construct instance of java.math.BigDecimal "
                           "specified is unsupported or invalid: %s",
                           element);
    *present = true;
    return HS_OK;
}

struct rate_acc {
    const char *rate_id; /* TaxRate Id (borrowed from the store) */
    int64_t percent;     /* scale 6 */
    int64_t base;        /* minor units */
    int64_t tax;
};

struct line_info {
    json_t *line; /* the output line (owned by the output array) */
    int64_t gross;
    int64_t sum_percent; /* of the line's rates (scale 6), for the net of inclusive lines */
    bool taxable;
};

/* Adds the sales rates of tax code `code` to rates[]; returns HS_EINVAL with fault set. */
static int code_rates(struct hs_qbo_ctx *c, const char *code, const char *element,
                      struct rate_acc *rates, size_t *n_rates, size_t idx[MAX_RATES], size_t *n_idx)
{
    struct hs_qbo_rec *tc = hs_qbo_lookup(c, HS_QBO_TAXCODE, code);
    if (tc == NULL)
        return hs_qbo_fail(c, "6000", element,
                           "A business validation error has occurred while processing your "
                           "request",
                           "Business Validation Error: Invalid tax code %s", code);
    json_t *list = json_object_get(json_object_get(tc->obj, "SalesTaxRateList"), "TaxRateDetail");
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
        const char *rid = ref_value(d, "TaxRateRef");
        struct hs_qbo_rec *tr = hs_qbo_lookup(c, HS_QBO_TAXRATE, rid);
        if (tr == NULL)
            continue;
        int64_t pct = 0;
        if (hs_qbo_num_get(json_object_get(tr->obj, "RateValue"), HS_QBO_SCALE, &pct) != HS_OK)
            continue;
        size_t k = 0;
        while (k < *n_rates && strcmp(rates[k].rate_id, rid) != 0)
            k++;
        if (k == *n_rates) {
            if (*n_rates >= MAX_RATES)
                return hs_qbo_fail_business(c, element, "too many tax rates on one invoice");
            rates[k].rate_id = json_string_value(json_object_get(tr->obj, "Id"));
            rates[k].percent = pct;
            rates[k].base = 0;
            rates[k].tax = 0;
            (*n_rates)++;
        }
        if (*n_idx < MAX_RATES)
            idx[(*n_idx)++] = k;
    }
    return HS_OK;
}

static int64_t line_amount(int64_t qty, int64_t price, int dec)
{
    /* qty, price at scale 6: amount = qty * price / 10^(12 - dec) */
    hs_qbo_i128 p = (hs_qbo_i128)qty * price;
    return hs_qbo_div_round(p, (hs_qbo_i128)pow10i(2 * HS_QBO_SCALE - dec));
}

int64_t hs_qbo_invoice_paid(const json_t *inv)
{
    const char *cur = ref_value(inv, "CurrencyRef");
    int dec = hs_qbo_currency_decimals(cur);
    int64_t total = 0;
    int64_t bal = 0;
    if (hs_qbo_num_get(json_object_get(inv, "TotalAmt"), dec, &total) != HS_OK ||
        hs_qbo_num_get(json_object_get(inv, "Balance"), dec, &bal) != HS_OK)
        return 0;
    return total - bal;
}

/* Currency checks shared by invoices and payments; fills cur (4 bytes) and rate (scale 6). */
static int txn_currency(struct hs_qbo_ctx *c, json_t *txn, const json_t *customer, char *cur,
                        int64_t *rate)
{
    const char *given = ref_value(txn, "CurrencyRef");
    const char *cust_cur = ref_value(customer, "CurrencyRef");
    if (cust_cur == NULL)
        cust_cur = c->home;
    if (given == NULL)
        given = cust_cur;
    if (strlen(given) != 3)
        return hs_qbo_fail(c, "2010", "CurrencyRef", "Request has invalid or unsupported property",
                           "Invalid currency code: %s", given);
    if (strcmp(given, c->home) != 0 && !c->multicurrency)
        return hs_qbo_fail_business(c, "CurrencyRef",
                                    "Multicurrency is not enabled for this company; transactions "
                                    "must be in the home currency");
    if (strcmp(given, cust_cur) != 0)
        return hs_qbo_fail_business(c, "CurrencyRef",
                                    "The currency of the transaction must match the currency of "
                                    "the customer");
    memcpy(cur, given, 4);
    *rate = 1000000;
    if (strcmp(cur, c->home) != 0) {
        bool present = false;
        int rc = get_opt(c, txn, "ExchangeRate", HS_QBO_SCALE, "ExchangeRate", rate, &present);
        if (rc != HS_OK)
            return rc;
        if (!present) {
            struct hs_qbo_table *t = &c->realm->t[HS_QBO_EXCHANGERATE];
            for (size_t i = 0; i < t->n; i++) {
                const char *src =
                    json_string_value(json_object_get(t->v[i].obj, "SourceCurrencyCode"));
                if (!t->v[i].deleted && src != NULL && strcmp(src, cur) == 0) {
                    if (hs_qbo_num_get(json_object_get(t->v[i].obj, "Rate"), HS_QBO_SCALE, rate) !=
                        HS_OK)
                        *rate = 1000000;
                    break;
                }
            }
        }
        if (*rate <= 0)
            return hs_qbo_fail_business(c, "ExchangeRate", "The exchange rate must be positive");
    }
    int rc = set_ref(txn, "CurrencyRef", cur, NULL);
    if (rc == HS_OK && c->multicurrency)
        rc = json_object_set_new(txn, "ExchangeRate", hs_qbo_num_short(*rate, HS_QBO_SCALE)) == 0
                 ? HS_OK
                 : HS_ENOMEM;
    return rc;
}

/* Builds one sales line; adds its tax bases. */
static int sales_line(struct hs_qbo_ctx *c, const json_t *in, int dec, bool inclusive, bool no_tax,
                      const char *txn_code, struct rate_acc *rates, size_t *n_rates,
                      struct line_info *li)
{
    const json_t *d = json_object_get(in, "SalesItemLineDetail");
    if (!json_is_object(d))
        return hs_qbo_fail_required(c, "Line.SalesItemLineDetail");
    const char *item_id = ref_value(d, "ItemRef");
    if (item_id == NULL)
        return hs_qbo_fail_required(c, "Line.SalesItemLineDetail.ItemRef");
    struct hs_qbo_rec *item = hs_qbo_lookup(c, HS_QBO_ITEM, item_id);
    if (item == NULL || json_is_false(json_object_get(item->obj, "Active")))
        return hs_qbo_fail_not_found(c, "Line.SalesItemLineDetail.ItemRef");
    int64_t qty, price, amount, incl;
    bool has_qty, has_price, has_amount, has_incl;
    int rc = get_opt(c, d, "Qty", HS_QBO_SCALE, "Line.SalesItemLineDetail.Qty", &qty, &has_qty);
    if (rc == HS_OK)
        rc = get_opt(c, d, "UnitPrice", HS_QBO_SCALE, "Line.SalesItemLineDetail.UnitPrice", &price,
                     &has_price);
    if (rc == HS_OK)
        rc = get_opt(c, in, "Amount", dec, "Line.Amount", &amount, &has_amount);
    if (rc == HS_OK)
        rc = get_opt(c, d, "TaxInclusiveAmt", dec, "Line.SalesItemLineDetail.TaxInclusiveAmt",
                     &incl, &has_incl);
    if (rc != HS_OK)
        return rc;
    /* in TaxInclusive mode an echoed line carries its gross in TaxInclusiveAmt and its net in
     * Amount: the gross is what counts */
    if (inclusive && has_incl) {
        amount = incl;
        has_amount = true;
    }
    if (!has_price && !has_amount) {
        rc = get_opt(c, item->obj, "UnitPrice", HS_QBO_SCALE, "Item.UnitPrice", &price, &has_price);
        if (rc != HS_OK)
            return rc;
        has_price = true;
    }
    if (!has_qty && has_price && has_amount && price != 0) {
        qty = hs_qbo_div_round((hs_qbo_i128)amount * pow10i(2 * HS_QBO_SCALE - dec), price);
        has_qty = true;
    }
    if (!has_qty)
        qty = 1000000;
    if (!has_price) {
        price = qty != 0
                    ? hs_qbo_div_round((hs_qbo_i128)amount * pow10i(2 * HS_QBO_SCALE - dec), qty)
                    : 0;
    }
    int64_t computed = line_amount(qty, price, dec);
    if (computed == INT64_MAX || computed == INT64_MIN)
        return hs_qbo_fail(c, "2050", "Line.Amount", "Invalid Number", "Amount is too large");
    if (has_amount && has_price && has_qty && computed != amount) {
        char sup[48];
        hs_qbo_dec_format(amount, dec, sup, sizeof sup);
        return hs_qbo_fail(c, "6070", "Line.Amount", "Amount calculation incorrect in the request",
                           "Amount is not equal to UnitPrice * Qty. Supplied value:%s", sup);
    }
    if (!has_amount)
        amount = computed;
    li->gross = amount;
    li->sum_percent = 0;
    li->taxable = false;

    /* tax code: the line's, else the item's, else TAX/NON by Item.Taxable */
    const char *code = ref_value(d, "TaxCodeRef");
    if (code == NULL)
        code = ref_value(item->obj, "SalesTaxCodeRef");
    if (code == NULL)
        code = json_is_true(json_object_get(item->obj, "Taxable")) ? "TAX" : "NON";
    size_t idx[MAX_RATES];
    size_t n_idx = 0;
    if (!no_tax && strcmp(code, "NON") != 0) {
        const char *use = strcmp(code, "TAX") == 0 ? txn_code : code;
        if (use != NULL) {
            rc = code_rates(c, use, "Line.SalesItemLineDetail.TaxCodeRef", rates, n_rates, idx,
                            &n_idx);
            if (rc != HS_OK)
                return rc;
        }
    } else if (!no_tax && strcmp(code, "NON") != 0 && strcmp(code, "TAX") != 0) {
        return hs_qbo_fail_business(c, "Line.SalesItemLineDetail.TaxCodeRef", "invalid tax code");
    }
    for (size_t k = 0; k < n_idx; k++) {
        rates[idx[k]].base += amount;
        li->sum_percent += rates[idx[k]].percent;
        li->taxable = true;
    }

    /* the output line */
    json_t *out = json_object();
    json_t *od = json_object();
    if (out == NULL || od == NULL) {
        json_decref(out);
        json_decref(od);
        return HS_ENOMEM;
    }
    li->line = out;
    const char *desc = json_string_value(json_object_get(in, "Description"));
    if (desc == NULL)
        desc = json_string_value(json_object_get(item->obj, "Description"));
    const char *item_name = json_string_value(json_object_get(item->obj, "Name"));
    rc = HS_OK;
    if (desc != NULL && json_object_set_new(out, "Description", json_string(desc)) != 0)
        rc = HS_ENOMEM;
    if (rc == HS_OK)
        rc = set_num(out, "Amount", amount, dec); /* net fixed later for inclusive lines */
    if (rc == HS_OK &&
        json_object_set_new(out, "DetailType", json_string("SalesItemLineDetail")) != 0)
        rc = HS_ENOMEM;
    if (rc == HS_OK)
        rc = set_ref(od, "ItemRef", item_id, item_name);
    if (rc == HS_OK)
        rc = json_object_set_new(od, "UnitPrice", hs_qbo_num_short(price, HS_QBO_SCALE)) == 0
                 ? HS_OK
                 : HS_ENOMEM;
    if (rc == HS_OK)
        rc = json_object_set_new(od, "Qty", hs_qbo_num_short(qty, HS_QBO_SCALE)) == 0 ? HS_OK
                                                                                      : HS_ENOMEM;
    if (rc == HS_OK)
        rc = set_ref(od, "TaxCodeRef", code, NULL);
    if (rc == HS_OK && inclusive)
        rc = set_num(od, "TaxInclusiveAmt", amount, dec);
    const char *sd = json_string_value(json_object_get(d, "ServiceDate"));
    if (rc == HS_OK && sd != NULL && json_object_set_new(od, "ServiceDate", json_string(sd)) != 0)
        rc = HS_ENOMEM;
    if (rc == HS_OK && json_object_set_new(out, "SalesItemLineDetail", od) != 0)
        rc = HS_ENOMEM;
    else if (rc != HS_OK)
        json_decref(od);
    if (rc != HS_OK) {
        json_decref(out);
        li->line = NULL;
    }
    return rc;
}

int hs_qbo_invoice_compute(struct hs_qbo_ctx *c, json_t *inv, int64_t paid)
{
    /* customer */
    const char *cust_id = ref_value(inv, "CustomerRef");
    if (cust_id == NULL)
        return hs_qbo_fail_required(c, "CustomerRef");
    struct hs_qbo_rec *cust = hs_qbo_lookup(c, HS_QBO_CUSTOMER, cust_id);
    if (cust == NULL || json_is_false(json_object_get(cust->obj, "Active")))
        return hs_qbo_fail_not_found(c, "CustomerRef");
    char cust_id_copy[32];
    snprintf(cust_id_copy, sizeof cust_id_copy, "%s", cust_id);
    int rc = set_ref(inv, "CustomerRef", cust_id_copy,
                     json_string_value(json_object_get(cust->obj, "DisplayName")));
    if (rc != HS_OK)
        return rc;

    /* currency */
    char cur[4];
    int64_t xrate;
    rc = txn_currency(c, inv, cust->obj, cur, &xrate);
    if (rc != HS_OK)
        return rc;
    int dec = hs_qbo_currency_decimals(cur);
    int home_dec = hs_qbo_currency_decimals(c->home);

    /* mode */
    const char *mode = json_string_value(json_object_get(inv, "GlobalTaxCalculation"));
    if (mode == NULL)
        mode = "TaxExcluded";
    bool inclusive = strcmp(mode, "TaxInclusive") == 0;
    bool no_tax = strcmp(mode, "NotApplicable") == 0;
    if (!inclusive && !no_tax && strcmp(mode, "TaxExcluded") != 0)
        return hs_qbo_fail(c, "2010", "GlobalTaxCalculation",
                           "Request has invalid or unsupported property",
                           "Property Name:GlobalTaxCalculation specified is unsupported or "
                           "invalid: %s",
                           mode);
    char mode_copy[16];
    snprintf(mode_copy, sizeof mode_copy, "%s", mode);
    const json_t *ttd_in = json_object_get(inv, "TxnTaxDetail");
    const char *txn_code = ref_value(ttd_in, "TxnTaxCodeRef");
    char txn_code_copy[32] = "";
    if (txn_code != NULL) {
        if (hs_qbo_lookup(c, HS_QBO_TAXCODE, txn_code) == NULL)
            return hs_qbo_fail_not_found(c, "TxnTaxDetail.TxnTaxCodeRef");
        snprintf(txn_code_copy, sizeof txn_code_copy, "%s", txn_code);
    }
    bool after_discount = inclusive || json_is_true(json_object_get(inv, "ApplyTaxAfterDiscount"));

    /* lines */
    const json_t *lines = json_object_get(inv, "Line");
    if (!json_is_array(lines) || json_array_size(lines) == 0)
        return hs_qbo_fail_required(c, "Line");
    if (json_array_size(lines) > MAX_LINES)
        return hs_qbo_fail_business(c, "Line", "an invoice can have at most 1000 lines");
    struct rate_acc rates[MAX_RATES];
    size_t n_rates = 0;
    size_t n_in = json_array_size(lines);
    struct line_info *li = hs_calloc(n_in, sizeof *li);
    json_t *out_lines = json_array();
    if (li == NULL || out_lines == NULL) {
        hs_free(li);
        json_decref(out_lines);
        return HS_ENOMEM;
    }
    size_t n_sales = 0;
    int64_t sales = 0;
    bool has_discount = false;
    bool disc_pct = false;
    int64_t disc_percent = 0;
    int64_t discount = 0;
    json_t *disc_line = NULL;
    for (size_t i = 0; i < n_in && rc == HS_OK; i++) {
        const json_t *in = json_array_get(lines, i);
        const char *type = json_string_value(json_object_get(in, "DetailType"));
        if (!json_is_object(in) || type == NULL) {
            rc = hs_qbo_fail_required(c, "Line.DetailType");
        } else if (strcmp(type, "SalesItemLineDetail") == 0) {
            rc = sales_line(c, in, dec, inclusive, no_tax, txn_code_copy[0] ? txn_code_copy : NULL,
                            rates, &n_rates, &li[n_sales]);
            if (rc == HS_OK) {
                if (json_array_append_new(out_lines, li[n_sales].line) != 0)
                    rc = HS_ENOMEM;
                sales += li[n_sales].gross;
                n_sales++;
            }
        } else if (strcmp(type, "DiscountLineDetail") == 0) {
            if (has_discount) {
                rc = hs_qbo_fail_business(c, "Line", "an invoice can have one discount line");
                break;
            }
            has_discount = true;
            const json_t *d = json_object_get(in, "DiscountLineDetail");
            bool present;
            disc_pct = json_is_true(json_object_get(d, "PercentBased"));
            if (disc_pct) {
                rc = get_opt(c, d, "DiscountPercent", HS_QBO_SCALE,
                             "Line.DiscountLineDetail.DiscountPercent", &disc_percent, &present);
                if (rc == HS_OK && !present)
                    rc = hs_qbo_fail(c, "6090", "Line.DiscountLineDetail",
                                     "Discount Line missing required info.",
                                     "Discount amount or percent should be provided.");
            } else {
                rc = get_opt(c, in, "Amount", dec, "Line.Amount", &discount, &present);
                if (rc == HS_OK && !present)
                    rc = hs_qbo_fail(c, "6090", "Line.DiscountLineDetail",
                                     "Discount Line missing required info.",
                                     "Discount amount or percent should be provided.");
            }
            if (rc == HS_OK && (disc_percent < 0 || disc_percent > 100000000 || discount < 0))
                rc = hs_qbo_fail_business(c, "Line.DiscountLineDetail",
                                          "a discount must be between 0 and 100%");
        } else if (strcmp(type, "SubTotalLineDetail") == 0) {
            /* regenerated below */
        } else if (strcmp(type, "DescriptionOnly") == 0) {
            json_t *copy = json_deep_copy(in);
            if (copy == NULL || json_array_append_new(out_lines, copy) != 0)
                rc = HS_ENOMEM;
        } else {
            rc = hs_qbo_fail(
                c, "2010", "Line.DetailType", "Request has invalid or unsupported property",
                "Property Name:DetailType specified is unsupported or invalid: %s", type);
        }
    }
    if (rc == HS_OK && n_sales == 0)
        rc = hs_qbo_fail_required(c, "Line.SalesItemLineDetail");
    if (rc != HS_OK)
        goto done;
    if (has_discount && disc_pct)
        discount = hs_qbo_div_round((hs_qbo_i128)sales * disc_percent, 100000000);
    if (discount > sales) {
        rc = hs_qbo_fail_business(c, "Line.DiscountLineDetail",
                                  "the discount is larger than the invoice amount");
        goto done;
    }

    /* tax per rate */
    int64_t total_tax = 0;
    for (size_t k = 0; k < n_rates; k++) {
        int64_t base = rates[k].base;
        if (after_discount && discount != 0 && sales != 0)
            base -= hs_qbo_div_round((hs_qbo_i128)discount * base, sales);
        rates[k].base = base;
        if (inclusive)
            rates[k].tax = hs_qbo_div_round((hs_qbo_i128)base * rates[k].percent,
                                            100000000 + rates[k].percent);
        else
            rates[k].tax = hs_qbo_div_round((hs_qbo_i128)base * rates[k].percent, 100000000);
        total_tax += rates[k].tax;
    }
    int64_t total = inclusive ? sales - discount : sales - discount + total_tax;

    /* inclusive lines report their net amount */
    int64_t subtotal = 0;
    for (size_t i = 0; i < n_sales; i++) {
        int64_t amount = li[i].gross;
        if (inclusive && li[i].taxable)
            amount -= hs_qbo_div_round((hs_qbo_i128)amount * li[i].sum_percent,
                                       100000000 + li[i].sum_percent);
        subtotal += amount;
        char id[24];
        snprintf(id, sizeof id, "%zu", i + 1);
        if (set_num(li[i].line, "Amount", amount, dec) != HS_OK ||
            json_object_set_new(li[i].line, "Id", json_string(id)) != 0 ||
            json_object_set_new(li[i].line, "LineNum", json_integer((json_int_t)i + 1)) != 0) {
            rc = HS_ENOMEM;
            goto done;
        }
    }
    /* subtotal and discount lines, QuickBooks order */
    json_t *st = json_pack("{s:o, s:s, s:{}}", "Amount", hs_qbo_num(subtotal, dec), "DetailType",
                           "SubTotalLineDetail", "SubTotalLineDetail");
    if (st == NULL || json_array_append_new(out_lines, st) != 0) {
        rc = HS_ENOMEM;
        goto done;
    }
    if (has_discount) {
        disc_line =
            json_pack("{s:o, s:s, s:{s:b}}", "Amount", hs_qbo_num(discount, dec), "DetailType",
                      "DiscountLineDetail", "DiscountLineDetail", "PercentBased", disc_pct);
        if (disc_line == NULL ||
            (disc_pct && json_object_set_new(json_object_get(disc_line, "DiscountLineDetail"),
                                             "DiscountPercent",
                                             hs_qbo_num_short(disc_percent, HS_QBO_SCALE)) != 0) ||
            json_array_append_new(out_lines, disc_line) != 0) {
            rc = HS_ENOMEM;
            goto done;
        }
    }

    /* TxnTaxDetail */
    json_t *ttd = json_object();
    json_t *tax_lines = json_array();
    if (ttd == NULL || tax_lines == NULL) {
        json_decref(ttd);
        json_decref(tax_lines);
        rc = HS_ENOMEM;
        goto done;
    }
    if (txn_code_copy[0] != '\0')
        rc = set_ref(ttd, "TxnTaxCodeRef", txn_code_copy, NULL);
    if (rc == HS_OK)
        rc = set_num(ttd, "TotalTax", total_tax, dec);
    for (size_t k = 0; k < n_rates && rc == HS_OK; k++) {
        json_t *tl = json_pack(
            "{s:o, s:s, s:{s:{s:s}, s:b, s:o, s:o}}", "Amount", hs_qbo_num(rates[k].tax, dec),
            "DetailType", "TaxLineDetail", "TaxLineDetail", "TaxRateRef", "value", rates[k].rate_id,
            "PercentBased", 1, "TaxPercent", hs_qbo_num_short(rates[k].percent, HS_QBO_SCALE),
            "NetAmountTaxable", hs_qbo_num(rates[k].base, dec));
        if (tl == NULL || json_array_append_new(tax_lines, tl) != 0)
            rc = HS_ENOMEM;
    }
    if (rc == HS_OK && json_array_size(tax_lines) > 0)
        rc = json_object_set(ttd, "TaxLine", tax_lines) == 0 ? HS_OK : HS_ENOMEM;
    json_decref(tax_lines);
    if (rc != HS_OK || json_object_set_new(inv, "TxnTaxDetail", ttd) != 0) {
        if (rc == HS_OK)
            rc = HS_ENOMEM;
        goto done;
    }

    /* totals */
    if (paid > total) {
        rc = hs_qbo_fail_business(c, "TotalAmt",
                                  "the invoice total cannot be less than the payments applied "
                                  "to it");
        goto done;
    }
    if (json_object_set(inv, "Line", out_lines) != 0 ||
        json_object_set_new(inv, "GlobalTaxCalculation", json_string(mode_copy)) != 0 ||
        set_num(inv, "TotalAmt", total, dec) != HS_OK ||
        set_num(inv, "Balance", total - paid, dec) != HS_OK) {
        rc = HS_ENOMEM;
        goto done;
    }
    if (strcmp(cur, c->home) != 0) {
        hs_qbo_i128 d = (hs_qbo_i128)pow10i(dec + HS_QBO_SCALE - home_dec);
        if (set_num(inv, "HomeTotalAmt", hs_qbo_div_round((hs_qbo_i128)total * xrate, d),
                    home_dec) != HS_OK ||
            set_num(inv, "HomeBalance", hs_qbo_div_round((hs_qbo_i128)(total - paid) * xrate, d),
                    home_dec) != HS_OK) {
            rc = HS_ENOMEM;
            goto done;
        }
    } else {
        json_object_del(inv, "HomeTotalAmt");
        json_object_del(inv, "HomeBalance");
    }

    /* dates and terms */
    char date[16];
    int64_t txn_days;
    const char *td = json_string_value(json_object_get(inv, "TxnDate"));
    if (td != NULL) {
        if (hs_qbo_date_parse(td, strlen(td), &txn_days) != HS_OK) {
            rc = hs_qbo_fail(c, "2010", "TxnDate", "Request has invalid or unsupported property",
                             "Property Name:TxnDate specified is unsupported or invalid: %s", td);
            goto done;
        }
    } else {
        hs_qbo_date_format(c->now_ms, date, sizeof date);
        if (hs_qbo_date_parse(date, strlen(date), &txn_days) != HS_OK)
            txn_days = 0;
    }
    hs_qbo_days_format(txn_days, date, sizeof date);
    if (json_object_set_new(inv, "TxnDate", json_string(date)) != 0) {
        rc = HS_ENOMEM;
        goto done;
    }
    const char *term_id = ref_value(inv, "SalesTermRef");
    if (term_id == NULL)
        term_id = ref_value(cust->obj, "SalesTermRef");
    const char *due = json_string_value(json_object_get(inv, "DueDate"));
    int64_t due_days = txn_days;
    if (term_id != NULL) {
        struct hs_qbo_rec *term = hs_qbo_lookup(c, HS_QBO_TERM, term_id);
        if (term == NULL) {
            rc = hs_qbo_fail_not_found(c, "SalesTermRef");
            goto done;
        }
        int64_t n = 0;
        if (hs_qbo_num_get(json_object_get(term->obj, "DueDays"), 0, &n) == HS_OK)
            due_days = txn_days + n;
        char tid[32];
        snprintf(tid, sizeof tid, "%s", term_id);
        rc = set_ref(inv, "SalesTermRef", tid,
                     json_string_value(json_object_get(term->obj, "Name")));
        if (rc != HS_OK)
            goto done;
    }
    /* an explicit DueDate wins over the one the terms would give, as in QuickBooks */
    if (due != NULL) {
        if (hs_qbo_date_parse(due, strlen(due), &due_days) != HS_OK) {
            rc = hs_qbo_fail(c, "2010", "DueDate", "Request has invalid or unsupported property",
                             "Property Name:DueDate specified is unsupported or invalid: %s", due);
            goto done;
        }
    }
    hs_qbo_days_format(due_days, date, sizeof date);
    if (json_object_set_new(inv, "DueDate", json_string(date)) != 0)
        rc = HS_ENOMEM;
done:
    json_decref(out_lines);
    hs_free(li);
    return rc;
}

/* ---- payments ---- */

struct app {
    const char *inv_id;
    int64_t amount;
};

/* Amount this payment (pay_id) applies to invoice inv_id, from a stored payment object. */
static int64_t applied_to(const json_t *pay, const char *inv_id, int dec)
{
    int64_t sum = 0;
    size_t i, j;
    json_t *line, *lt;
    json_array_foreach(json_object_get(pay, "Line"), i, line)
    {
        json_array_foreach(json_object_get(line, "LinkedTxn"), j, lt)
        {
            const char *id = json_string_value(json_object_get(lt, "TxnId"));
            if (id != NULL && strcmp(id, inv_id) == 0) {
                int64_t a = 0;
                if (hs_qbo_num_get(json_object_get(line, "Amount"), dec, &a) == HS_OK)
                    sum += a;
            }
        }
    }
    return sum;
}

int hs_qbo_payment_check(struct hs_qbo_ctx *c, json_t *pay, const char *old_id)
{
    const char *cust_id = ref_value(pay, "CustomerRef");
    if (cust_id == NULL)
        return hs_qbo_fail_required(c, "CustomerRef");
    struct hs_qbo_rec *cust = hs_qbo_lookup(c, HS_QBO_CUSTOMER, cust_id);
    if (cust == NULL || json_is_false(json_object_get(cust->obj, "Active")))
        return hs_qbo_fail_not_found(c, "CustomerRef");
    char cid[32];
    snprintf(cid, sizeof cid, "%s", cust_id);
    int rc = set_ref(pay, "CustomerRef", cid,
                     json_string_value(json_object_get(cust->obj, "DisplayName")));
    if (rc != HS_OK)
        return rc;
    char cur[4];
    int64_t xrate;
    rc = txn_currency(c, pay, cust->obj, cur, &xrate);
    if (rc != HS_OK)
        return rc;
    int dec = hs_qbo_currency_decimals(cur);
    int64_t total;
    bool present;
    rc = get_opt(c, pay, "TotalAmt", dec, "TotalAmt", &total, &present);
    if (rc != HS_OK)
        return rc;
    if (!present)
        return hs_qbo_fail_required(c, "TotalAmt");
    if (total < 0)
        return hs_qbo_fail_business(c, "TotalAmt", "a payment amount cannot be negative");
    const json_t *old = NULL;
    if (old_id != NULL) {
        struct hs_qbo_rec *r = hs_qbo_lookup(c, HS_QBO_PAYMENT, old_id);
        old = r != NULL ? r->obj : NULL;
    }
    int64_t applied = 0;
    size_t i, j;
    json_t *line, *lt;
    json_t *lines = json_object_get(pay, "Line");
    if (lines != NULL && !json_is_array(lines))
        return hs_qbo_fail_required(c, "Line");
    json_array_foreach(lines, i, line)
    {
        int64_t amount;
        rc = get_opt(c, line, "Amount", dec, "Line.Amount", &amount, &present);
        if (rc != HS_OK)
            return rc;
        if (!present)
            return hs_qbo_fail_required(c, "Line.Amount");
        if (amount < 0)
            return hs_qbo_fail_business(c, "Line.Amount", "an applied amount cannot be negative");
        rc = set_num(line, "Amount", amount, dec);
        if (rc != HS_OK)
            return rc;
        json_t *links = json_object_get(line, "LinkedTxn");
        if (!json_is_array(links) || json_array_size(links) != 1)
            return hs_qbo_fail_required(c, "Line.LinkedTxn");
        json_array_foreach(links, j, lt)
        {
            const char *type = json_string_value(json_object_get(lt, "TxnType"));
            const char *inv_id = json_string_value(json_object_get(lt, "TxnId"));
            if (type == NULL || strcmp(type, "Invoice") != 0 || inv_id == NULL)
                return hs_qbo_fail_required(c, "Line.LinkedTxn.TxnId");
            struct hs_qbo_rec *inv = hs_qbo_lookup(c, HS_QBO_INVOICE, inv_id);
            if (inv == NULL)
                return hs_qbo_fail_not_found(c, "Line.LinkedTxn.TxnId");
            const char *inv_cust = ref_value(inv->obj, "CustomerRef");
            if (inv_cust == NULL || strcmp(inv_cust, cid) != 0)
                return hs_qbo_fail_business(c, "Line.LinkedTxn",
                                            "the invoice belongs to another customer");
            int64_t bal = 0;
            if (hs_qbo_num_get(json_object_get(inv->obj, "Balance"), dec, &bal) != HS_OK)
                bal = 0;
            if (old != NULL)
                bal += applied_to(old, inv_id, dec);
            /* earlier lines of this payment to the same invoice */
            for (size_t k = 0; k < i; k++) {
                const json_t *pl = json_array_get(lines, k);
                const char *pid = json_string_value(
                    json_object_get(json_array_get(json_object_get(pl, "LinkedTxn"), 0), "TxnId"));
                int64_t pa = 0;
                if (pid != NULL && strcmp(pid, inv_id) == 0 &&
                    hs_qbo_num_get(json_object_get(pl, "Amount"), dec, &pa) == HS_OK)
                    bal -= pa;
            }
            if (amount > bal)
                return hs_qbo_fail_business(c, "Line.Amount",
                                            "The payment amount applied to an invoice cannot be "
                                            "more than the invoice's open balance");
        }
        applied += amount;
    }
    if (applied > total)
        return hs_qbo_fail_business(c, "TotalAmt",
                                    "The amount applied to invoices cannot be more than the "
                                    "payment's TotalAmt");
    rc = set_num(pay, "TotalAmt", total, dec);
    if (rc == HS_OK)
        rc = set_num(pay, "UnappliedAmt", total - applied, dec);
    if (rc == HS_OK && json_object_get(pay, "TxnDate") == NULL) {
        char date[16];
        hs_qbo_date_format(c->now_ms, date, sizeof date);
        rc = json_object_set_new(pay, "TxnDate", json_string(date)) == 0 ? HS_OK : HS_ENOMEM;
    }
    if (rc == HS_OK && json_object_get(pay, "Line") == NULL)
        rc = json_object_set_new(pay, "Line", json_array()) == 0 ? HS_OK : HS_ENOMEM;
    return rc;
}

/* Adds or removes {"TxnId": pay_id, "TxnType": "Payment"} in the invoice's LinkedTxn. */
static int link_payment(json_t *inv, const char *pay_id, bool add)
{
    json_t *links = json_object_get(inv, "LinkedTxn");
    if (!json_is_array(links)) {
        links = json_array();
        if (links == NULL || json_object_set_new(inv, "LinkedTxn", links) != 0)
            return HS_ENOMEM;
    }
    for (size_t i = 0; i < json_array_size(links); i++) {
        json_t *lt = json_array_get(links, i);
        const char *id = json_string_value(json_object_get(lt, "TxnId"));
        const char *type = json_string_value(json_object_get(lt, "TxnType"));
        if (id != NULL && type != NULL && strcmp(id, pay_id) == 0 && strcmp(type, "Payment") == 0) {
            if (!add)
                json_array_remove(links, i);
            return HS_OK;
        }
    }
    if (!add)
        return HS_OK;
    json_t *lt = json_pack("{s:s, s:s}", "TxnId", pay_id, "TxnType", "Payment");
    return lt != NULL && json_array_append_new(links, lt) == 0 ? HS_OK : HS_ENOMEM;
}

int hs_qbo_payment_apply(struct hs_qbo_ctx *c, const json_t *pay, const char *pay_id, int sign)
{
    const char *cur = ref_value(pay, "CurrencyRef");
    int dec = hs_qbo_currency_decimals(cur != NULL ? cur : c->home);
    const char *cust_id = ref_value(pay, "CustomerRef");
    size_t i, j;
    json_t *line, *lt;
    json_array_foreach(json_object_get(pay, "Line"), i, line)
    {
        int64_t amount = 0;
        if (hs_qbo_num_get(json_object_get(line, "Amount"), dec, &amount) != HS_OK)
            continue;
        json_array_foreach(json_object_get(line, "LinkedTxn"), j, lt)
        {
            const char *inv_id = json_string_value(json_object_get(lt, "TxnId"));
            struct hs_qbo_rec *inv = hs_qbo_table_get(&c->realm->t[HS_QBO_INVOICE], inv_id);
            if (inv == NULL || inv->deleted)
                continue;
            int idec = hs_qbo_currency_decimals(ref_value(inv->obj, "CurrencyRef"));
            int64_t bal = 0;
            if (hs_qbo_num_get(json_object_get(inv->obj, "Balance"), idec, &bal) != HS_OK)
                bal = 0;
            bal -= sign * amount;
            int rc = set_num(inv->obj, "Balance", bal, idec);
            if (rc == HS_OK && json_object_get(inv->obj, "HomeBalance") != NULL) {
                int64_t total = 0, home_total = 0;
                int hdec = hs_qbo_currency_decimals(c->home);
                if (hs_qbo_num_get(json_object_get(inv->obj, "TotalAmt"), idec, &total) == HS_OK &&
                    hs_qbo_num_get(json_object_get(inv->obj, "HomeTotalAmt"), hdec, &home_total) ==
                        HS_OK &&
                    total != 0)
                    rc = set_num(inv->obj, "HomeBalance",
                                 hs_qbo_div_round((hs_qbo_i128)home_total * bal, total), hdec);
            }
            if (rc == HS_OK)
                rc = link_payment(inv->obj, pay_id, sign > 0);
            if (rc == HS_OK)
                rc = hs_qbo_touch(c, inv);
            if (rc == HS_OK && cust_id != NULL)
                rc = hs_qbo_customer_balance_add(c, cust_id, -sign * amount);
            if (rc != HS_OK)
                return rc;
            hs_qbo_changed(c, HS_QBO_INVOICE, inv_id, "Update");
        }
    }
    return HS_OK;
}
