/*
 * core/tax.h - tax mappings and exact line / document tax under a provider's rounding policy.
 *
 * Design:     every amount is an int64 count of minor units of the document currency and every
 *             rate a scale-6 decimal percentage (20% is 20), so one computation serves USD,
 *             JPY (0 decimals) and KWD (3 decimals) alike: rounding to "the minor unit" is
 *             rounding to an integer. A struct hs_tax_policy says how a provider turns lines
 *             into totals: the mode (exclusive: line amounts are net and tax is added;
 *             inclusive: line amounts are gross and tax is extracted; none), where tax is
 *             rounded (per line, or per document: once per tax rate on the summed bases) and
 *             the rounding mode. The presets name what each provider does:
 *               QuickBooks Online  per document, half away from zero. Exclusive: tax of rate k
 *                                  = round(base_k * r_k / 100). Inclusive: round(base_k * r_k /
 *                                  (100 + r_k)), each line's net = gross - round(gross * R /
 *                                  (100 + R)) with R the sum of the line's rates, subtotal =
 *                                  sum of those nets, total = sum of gross (so subtotal + tax
 *                                  may differ from total by a unit, as in QuickBooks).
 *               Xero               per line, half away from zero (LineAmountTypes Exclusive /
 *                                  Inclusive / NoTax).
 *               Zoho Books         per line (item-level tax rounding, the default; pass
 *                                  HS_TAX_ROUND_PER_DOCUMENT for total-level), half up;
 *                                  is_inclusive_tax is the inclusive mode.
 *             Line figures (net, tax, gross) are always rounded per line; per-document
 *             rounding changes only the document tax and the per-rate totals. A tax code has up
 *             to HS_TAX_MAX_COMPONENTS rates (California 7.25% + 1%): exclusive line tax is the
 *             sum of each rate's rounded tax; inclusive line tax is extracted once with the
 *             summed rate and split over the rates by largest remainder.
 *             A struct hs_tax_map maps the CRM's tax labels ("VAT 19%") to the accounting
 *             system's tax code and rates; lookup folds case and surrounding blanks, and a
 *             label that is only a percentage ("19", "19%") finds the single code of that rate.
 * Invariants: no double anywhere; 128-bit intermediates, overflow is HS_ERANGE, never a wrap.
 *             Per line: gross = net + tax. Exclusive: total = subtotal + tax. Per line
 *             rounding: tax = sum of line taxes = sum of per-rate taxes.
 * Ownership:  hs_tax_map_new allocates the map, hs_tax_map_free frees it; codes returned by
 *             lookups are borrowed from the map. Everything else is plain values.
 * Not here:   building an invoice from a deal (core/invoice.h); sending it (connectors).
 *             docs/modules/invoice.md has worked examples of every policy.
 */
#ifndef HS_CORE_TAX_H
#define HS_CORE_TAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/decimal.h"
#include "hoopsync/common.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"

/* Most rates in one tax code, and distinct rates on one document. */
#define HS_TAX_MAX_COMPONENTS 4
#define HS_TAX_MAX_RATES      16
/* Longest tax code / rate id / label, with its NUL. */
#define HS_TAX_REF_MAX 64
/* Most entries in one tax map. */
#define HS_TAX_MAP_MAX 1024

enum hs_tax_rounding {
    HS_TAX_ROUND_PER_LINE = 1,     /* each line's tax rounded, document tax = their sum */
    HS_TAX_ROUND_PER_DOCUMENT = 2, /* each rate's tax rounded once over its summed base */
};

struct hs_tax_policy {
    enum hs_tax_mode mode;         /* HS_TAX_EXCLUSIVE, HS_TAX_INCLUSIVE or HS_TAX_NONE */
    enum hs_tax_rounding rounding; /* where tax is rounded */
    enum hs_round round_mode;      /* how: HS_ROUND_HALF_UP for every provider so far */
};

/* The policies of the providers (mode as given; see the design comment). */
HS_API struct hs_tax_policy hs_tax_policy_quickbooks(enum hs_tax_mode mode);
HS_API struct hs_tax_policy hs_tax_policy_xero(enum hs_tax_mode mode);
HS_API struct hs_tax_policy hs_tax_policy_zoho(enum hs_tax_mode mode);

/* One rate of a tax code. */
struct hs_tax_component {
    char rate_ref[HS_TAX_REF_MAX]; /* provider's tax rate id ("3"); "" when it has none */
    struct hs_decimal percent;     /* 20% is 20 (v = 20000000); 0 <= percent <= 1000 */
};

/* An accounting tax code with its rates; no components = no tax (QuickBooks "NON"). */
struct hs_tax_code {
    char code[HS_TAX_REF_MAX]; /* provider's tax code id ("4", "TAX", "OUTPUT2") */
    struct hs_tax_component components[HS_TAX_MAX_COMPONENTS];
    size_t n_components;
};

/* Sum of the code's rates (20 for VAT 20%, 8.25 for California); 0 for NULL. */
HS_API struct hs_decimal hs_tax_code_rate(const struct hs_tax_code *code);

/* ---- the map from CRM tax labels to accounting tax codes ---- */

struct hs_tax_map;

/* New empty map into *out. HS_OK or HS_ENOMEM (*out NULL). Free with hs_tax_map_free. */
HS_API HS_MUST_CHECK int hs_tax_map_new(struct hs_tax_map **out);
/* Frees m and its entries; NULL does nothing. */
HS_API void hs_tax_map_free(struct hs_tax_map *m);

/*
 * Maps the CRM tax label (copied; compared without case and surrounding blanks) to code (copied,
 * with its components). HS_OK; HS_EINVAL with a message for an empty label or code, a code or
 * rate id of HS_TAX_REF_MAX bytes or more, more than HS_TAX_MAX_COMPONENTS rates, a rate outside
 * 0..1000 percent, or a label already mapped; HS_ETOOBIG past HS_TAX_MAP_MAX entries; HS_ENOMEM
 * (m unchanged).
 */
HS_API HS_MUST_CHECK int hs_tax_map_add(struct hs_tax_map *m, const char *label,
                                        const struct hs_tax_code *code, struct hs_error *err);

/*
 * The code mapped to label: first by label (case and surrounding blanks ignored), then, when
 * label is only a percentage ("19", "19%", " 19.0 % "), the one mapped code whose summed rate
 * equals it. NULL when nothing (or more than one code of that rate) matches. Borrowed from m
 * until it is freed.
 */
HS_API const struct hs_tax_code *hs_tax_map_find(const struct hs_tax_map *m, const char *label);

/* Number of entries. */
HS_API size_t hs_tax_map_count(const struct hs_tax_map *m);

/* ---- computation ---- */

/*
 * Line amount before tax handling: quantity * unit_price * (1 - discount_percent / 100), rounded
 * once with mode to minor units, exact in 128 bits (unit_price in minor units, quantity and
 * discount scale-6 decimals; discount_percent NULL means none). This is how QuickBooks (Amount =
 * Qty * UnitPrice, half away from zero), Xero and HubSpot compute a line. HS_OK; HS_EINVAL for a
 * discount outside 0..100 or a bad mode; HS_ERANGE on overflow. *out written only on success.
 */
HS_API HS_MUST_CHECK int hs_tax_line_amount(struct hs_decimal quantity, int64_t unit_price,
                                            const struct hs_decimal *discount_percent,
                                            enum hs_round mode, int64_t *out, struct hs_error *err);

/* One line of the computation: amount and code in, net / tax / gross out. */
struct hs_tax_line {
    int64_t amount;                 /* in: net (exclusive, none) or gross (inclusive) */
    const struct hs_tax_code *code; /* in: borrowed; NULL or no components = untaxed */
    int64_t net;                    /* out: amount before tax */
    int64_t tax;                    /* out: the line's tax, rounded per line */
    int64_t gross;                  /* out: net + tax */
};

/* One distinct rate of a document: rates are told apart by rate_ref (by percent when ""). */
struct hs_tax_rate_total {
    char rate_ref[HS_TAX_REF_MAX];
    struct hs_decimal percent;
    int64_t base; /* sum of the line amounts (net, or gross when inclusive) carrying it */
    int64_t tax;  /* this rate's tax on the document */
};

struct hs_tax_totals {
    int64_t subtotal; /* sum of line nets */
    int64_t tax;      /* document tax: sum of rates[].tax */
    int64_t total;    /* exclusive and none: subtotal + tax; inclusive: sum of line gross */
    struct hs_tax_rate_total rates[HS_TAX_MAX_RATES]; /* in order of first use */
    size_t n_rates;
};

/*
 * Computes every line's net, tax and gross and the document totals under policy. Lines are
 * read and written in place; n_lines may be 0 (all totals 0). A policy mode of HS_TAX_NONE
 * (or HS_TAX_MODE_UNSET) ignores the codes. HS_OK; HS_EINVAL (bad policy, NULL pointer; message);
 * HS_ETOOBIG (more than HS_TAX_MAX_RATES distinct rates); HS_ERANGE (overflow). On failure
 * *out is zeroed and the lines' outputs are unspecified.
 */
HS_API HS_MUST_CHECK int hs_tax_compute(const struct hs_tax_policy *policy,
                                        struct hs_tax_line *lines, size_t n_lines,
                                        struct hs_tax_totals *out, struct hs_error *err);

#endif
