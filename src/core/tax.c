/*
 * core/tax.c - tax maps and exact line and document tax under a provider's rounding policy.
 *
 * Design:     hs_tax_compute makes two passes. The first rounds every line on its own (the
 *             per-line figures every policy reports) and accumulates each distinct rate's base
 *             and per-line tax. The second, for per-document rounding, recomputes each rate's
 *             tax once from its summed base. Every rounding is one hs_decimal_muldiv (a*b/c in
 *             128 bits, rounded once with the policy's mode), so a result is never rounded
 *             twice. hs_tax_line_amount needs a three-factor product (quantity, price,
 *             1 - discount), done here in 128 bits with an explicit overflow check and the
 *             same rounding rule. The map is a small array searched linearly: a company has a
 *             handful of tax codes, and lookups happen once per invoice line.
 * Invariants: see core/tax.h; no double, no global state; the map owns every string in it.
 * Not here:   invoice assembly (core/invoice.c), decimal parsing (core/decimal.c).
 */
#include "core/tax.h"

#include <string.h>

#include "core/money.h"
#include "util/alloc.h"

__extension__ typedef __int128 i128;          /* lint-allow: typedef, not a global */
__extension__ typedef unsigned __int128 u128; /* lint-allow: typedef, not a global */

#define PERCENT_SCALE INT64_C(100000000) /* 100% as a scale-6 decimal */
#define PERCENT_MAX   (INT64_C(1000) * HS_DECIMAL_ONE)

struct map_entry {
    char label[HS_TAX_REF_MAX]; /* folded: trimmed, ASCII lower case */
    struct hs_tax_code code;
};

struct hs_tax_map {
    struct map_entry *v;
    size_t n;
    size_t cap;
};

/* ---- policies ---- */

struct hs_tax_policy hs_tax_policy_quickbooks(enum hs_tax_mode mode)
{
    struct hs_tax_policy p = {mode, HS_TAX_ROUND_PER_DOCUMENT, HS_ROUND_HALF_UP};
    return p;
}

struct hs_tax_policy hs_tax_policy_xero(enum hs_tax_mode mode)
{
    struct hs_tax_policy p = {mode, HS_TAX_ROUND_PER_LINE, HS_ROUND_HALF_UP};
    return p;
}

struct hs_tax_policy hs_tax_policy_zoho(enum hs_tax_mode mode)
{
    struct hs_tax_policy p = {mode, HS_TAX_ROUND_PER_LINE, HS_ROUND_HALF_UP};
    return p;
}

struct hs_decimal hs_tax_code_rate(const struct hs_tax_code *code)
{
    struct hs_decimal r = {0};
    if (code == NULL)
        return r;
    for (size_t i = 0; i < code->n_components && i < HS_TAX_MAX_COMPONENTS; i++)
        r.v += code->components[i].percent.v; /* each <= 1000%: cannot overflow */
    return r;
}

/* ---- the map ---- */

/* Folds (trim blanks, ASCII lower case) s into out; false when it does not fit or is empty. */
static bool fold(const char *s, char out[HS_TAX_REF_MAX])
{
    if (s == NULL)
        return false;
    size_t b = 0;
    size_t e = strlen(s);
    while (b < e && (s[b] == ' ' || s[b] == '\t'))
        b++;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    if (e == b || e - b >= HS_TAX_REF_MAX)
        return false;
    for (size_t i = b; i < e; i++) {
        char c = s[i];
        out[i - b] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[e - b] = '\0';
    return true;
}

int hs_tax_map_new(struct hs_tax_map **out)
{
    *out = hs_calloc(1, sizeof **out);
    return *out != NULL ? HS_OK : HS_ENOMEM;
}

void hs_tax_map_free(struct hs_tax_map *m)
{
    if (m == NULL)
        return;
    hs_free(m->v);
    hs_free(m);
}

size_t hs_tax_map_count(const struct hs_tax_map *m)
{
    return m != NULL ? m->n : 0;
}

static int check_code(const struct hs_tax_code *code, const char *label, struct hs_error *err)
{
    size_t len = strnlen(code->code, HS_TAX_REF_MAX);
    if (len == 0 || len >= HS_TAX_REF_MAX)
        return hs_error_set(err, HS_EINVAL,
                            "cannot map tax '%s': the tax code is empty or longer than %d bytes",
                            label, HS_TAX_REF_MAX - 1);
    if (code->n_components > HS_TAX_MAX_COMPONENTS)
        return hs_error_set(err, HS_EINVAL, "cannot map tax '%s': more than %d rates in code '%s'",
                            label, HS_TAX_MAX_COMPONENTS, code->code);
    for (size_t i = 0; i < code->n_components; i++) {
        const struct hs_tax_component *c = &code->components[i];
        if (strnlen(c->rate_ref, HS_TAX_REF_MAX) >= HS_TAX_REF_MAX)
            return hs_error_set(err, HS_EINVAL,
                                "cannot map tax '%s': a rate id of code '%s' is longer than %d "
                                "bytes",
                                label, code->code, HS_TAX_REF_MAX - 1);
        if (c->percent.v < 0 || c->percent.v > PERCENT_MAX)
            return hs_error_set(err, HS_EINVAL,
                                "cannot map tax '%s': a rate of code '%s' is outside 0..1000%%",
                                label, code->code);
        for (size_t j = 0; j < i; j++) {
            if (c->rate_ref[0] != '\0' && strcmp(c->rate_ref, code->components[j].rate_ref) == 0)
                return hs_error_set(err, HS_EINVAL,
                                    "cannot map tax '%s': code '%s' lists rate '%s' twice", label,
                                    code->code, c->rate_ref);
        }
    }
    return HS_OK;
}

int hs_tax_map_add(struct hs_tax_map *m, const char *label, const struct hs_tax_code *code,
                   struct hs_error *err)
{
    if (m == NULL || code == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot map tax: no map or no code");
    char key[HS_TAX_REF_MAX];
    if (!fold(label, key))
        return hs_error_set(err, HS_EINVAL,
                            "cannot map tax '%.64s': the label is empty or longer than %d bytes",
                            label != NULL ? label : "", HS_TAX_REF_MAX - 1);
    int rc = check_code(code, label, err);
    if (rc != HS_OK)
        return rc;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->v[i].label, key) == 0)
            return hs_error_set(err, HS_EINVAL, "cannot map tax '%s': the label is already mapped",
                                label);
    }
    if (m->n >= HS_TAX_MAP_MAX)
        return hs_error_set(err, HS_ETOOBIG, "cannot map tax '%s': more than %d tax mappings",
                            label, HS_TAX_MAP_MAX);
    if (m->n == m->cap) {
        size_t cap = m->cap != 0 ? m->cap * 2 : 8;
        struct map_entry *v = hs_reallocarray(m->v, cap, sizeof *v);
        if (v == NULL)
            return hs_error_set(err, HS_ENOMEM, "cannot map tax '%s': out of memory", label);
        m->v = v;
        m->cap = cap;
    }
    struct map_entry *e = &m->v[m->n];
    memset(e, 0, sizeof *e);
    memcpy(e->label, key, sizeof key);
    memcpy(e->code.code, code->code, strlen(code->code) + 1);
    e->code.n_components = code->n_components;
    for (size_t i = 0; i < code->n_components; i++) {
        const struct hs_tax_component *c = &code->components[i];
        memcpy(e->code.components[i].rate_ref, c->rate_ref, strlen(c->rate_ref) + 1);
        e->code.components[i].percent = c->percent;
    }
    m->n++;
    return HS_OK;
}

/* A label that is only a percentage ("19", "19%", "19.0 %") as a decimal. */
static bool label_percent(const char *key, struct hs_decimal *out)
{
    size_t len = strlen(key);
    if (len > 0 && key[len - 1] == '%')
        len--;
    while (len > 0 && (key[len - 1] == ' ' || key[len - 1] == '\t'))
        len--;
    return len > 0 && hs_decimal_parse_exact(key, len, out, NULL) == HS_OK;
}

const struct hs_tax_code *hs_tax_map_find(const struct hs_tax_map *m, const char *label)
{
    char key[HS_TAX_REF_MAX];
    if (m == NULL || !fold(label, key))
        return NULL;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->v[i].label, key) == 0)
            return &m->v[i].code;
    }
    struct hs_decimal pct;
    if (!label_percent(key, &pct))
        return NULL;
    const struct hs_tax_code *found = NULL;
    for (size_t i = 0; i < m->n; i++) {
        const struct hs_tax_code *c = &m->v[i].code;
        if (c->n_components == 0 || hs_tax_code_rate(c).v != pct.v)
            continue;
        if (found != NULL && strcmp(found->code, c->code) != 0)
            return NULL; /* ambiguous: two codes share the rate */
        found = c;
    }
    return found;
}

/* ---- computation ---- */

static bool mode_valid(enum hs_round mode)
{
    return (int)mode >= 0 && (int)mode < HS_ROUND_COUNT;
}

/* round(num / den) with mode, den > 0; HS_ERANGE when the result does not fit int64. */
static int round_div(i128 num, i128 den, enum hs_round mode, int64_t *out)
{
    const bool negative = num < 0;
    const u128 un = negative ? (u128)0 - (u128)num : (u128)num;
    const u128 ud = (u128)den;
    u128 q = un / ud;
    const u128 r = un % ud;
    if (r != 0) {
        const u128 twice = r * 2; /* r < den < 2^127 */
        const int half = twice < ud ? -1 : (twice == ud ? 0 : 1);
        bool away = false;
        switch (mode) {
        case HS_ROUND_HALF_UP:
            away = half >= 0;
            break;
        case HS_ROUND_HALF_EVEN:
            away = half > 0 || (half == 0 && (q & 1) != 0);
            break;
        case HS_ROUND_DOWN:
            away = false;
            break;
        case HS_ROUND_UP:
            away = true;
            break;
        case HS_ROUND_FLOOR:
            away = negative;
            break;
        case HS_ROUND_CEILING:
            away = !negative;
            break;
        }
        if (away)
            q++;
    }
    const u128 limit = negative ? (u128)INT64_MAX + 1 : (u128)INT64_MAX;
    if (q > limit)
        return HS_ERANGE;
    if (!negative)
        *out = (int64_t)q;
    else if (q == (u128)INT64_MAX + 1)
        *out = INT64_MIN;
    else
        *out = -(int64_t)q;
    return HS_OK;
}

int hs_tax_line_amount(struct hs_decimal quantity, int64_t unit_price,
                       const struct hs_decimal *discount_percent, enum hs_round mode, int64_t *out,
                       struct hs_error *err)
{
    if (!mode_valid(mode))
        return hs_error_set(err, HS_EINVAL, "cannot compute line amount: invalid rounding mode");
    int64_t factor = 1;
    i128 den = HS_DECIMAL_ONE;
    if (discount_percent != NULL) {
        if (discount_percent->v < 0 || discount_percent->v > PERCENT_SCALE)
            return hs_error_set(err, HS_EINVAL,
                                "cannot compute line amount: discount must be between 0 and 100%%");
        factor = PERCENT_SCALE - discount_percent->v;
        den = (i128)HS_DECIMAL_ONE * PERCENT_SCALE;
    }
    const i128 p = (i128)quantity.v * unit_price; /* |p| < 2^126 */
    const i128 lim = (i128)(((u128)1 << 126) - 1);
    if (factor > 1 && (p > lim / factor || p < -(lim / factor)))
        return hs_error_set(err, HS_ERANGE, "cannot compute line amount: the amount is too large");
    int64_t v;
    if (round_div(p * factor, den, mode, &v) != HS_OK)
        return hs_error_set(err, HS_ERANGE, "cannot compute line amount: the amount is too large");
    *out = v;
    return HS_OK;
}

static int overflow(struct hs_tax_totals *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    return hs_error_set(err, HS_ERANGE, "cannot compute tax: an amount is too large");
}

/* Index of the document rate for component c, adding it when new; <0 on error. */
static int rate_slot(struct hs_tax_totals *out, const struct hs_tax_component *c,
                     struct hs_error *err)
{
    for (size_t k = 0; k < out->n_rates; k++) {
        struct hs_tax_rate_total *r = &out->rates[k];
        bool same = c->rate_ref[0] != '\0' ? strcmp(r->rate_ref, c->rate_ref) == 0
                                           : r->rate_ref[0] == '\0' && r->percent.v == c->percent.v;
        if (!same)
            continue;
        if (r->percent.v != c->percent.v)
            return hs_error_set(err, HS_EINVAL, "cannot compute tax: rate '%s' has two percentages",
                                c->rate_ref);
        return (int)k;
    }
    if (out->n_rates >= HS_TAX_MAX_RATES)
        return hs_error_set(err, HS_ETOOBIG, "cannot compute tax: more than %d tax rates",
                            HS_TAX_MAX_RATES);
    struct hs_tax_rate_total *r = &out->rates[out->n_rates];
    memset(r, 0, sizeof *r);
    size_t len = strnlen(c->rate_ref, HS_TAX_REF_MAX - 1);
    memcpy(r->rate_ref, c->rate_ref, len);
    r->rate_ref[len] = '\0';
    r->percent = c->percent;
    return (int)out->n_rates++;
}

/* One taxed line: fills net/tax/gross and adds to the rates. */
static int tax_line(const struct hs_tax_policy *p, struct hs_tax_line *l, struct hs_tax_totals *out,
                    struct hs_error *err)
{
    const struct hs_tax_code *code = l->code;
    const size_t n = code->n_components;
    if (n > HS_TAX_MAX_COMPONENTS)
        return hs_error_set(err, HS_EINVAL, "cannot compute tax: code '%.63s' has too many rates",
                            code->code);
    int slot[HS_TAX_MAX_COMPONENTS];
    int64_t part[HS_TAX_MAX_COMPONENTS];
    for (size_t i = 0; i < n; i++) {
        const struct hs_decimal pct = code->components[i].percent;
        if (pct.v < 0 || pct.v > PERCENT_MAX)
            return hs_error_set(err, HS_EINVAL,
                                "cannot compute tax: a rate of code '%.63s' is outside 0..1000%%",
                                code->code);
        slot[i] = rate_slot(out, &code->components[i], err);
        if (slot[i] < 0)
            return slot[i];
    }
    int64_t tax = 0;
    if (p->mode == HS_TAX_EXCLUSIVE) {
        for (size_t i = 0; i < n; i++) {
            if (hs_decimal_muldiv(l->amount, code->components[i].percent.v, PERCENT_SCALE,
                                  p->round_mode, &part[i]) != HS_OK ||
                __builtin_add_overflow(tax, part[i], &tax))
                return HS_ERANGE;
        }
        l->net = l->amount;
        if (__builtin_add_overflow(l->net, tax, &l->gross))
            return HS_ERANGE;
    } else {
        const int64_t sum = hs_tax_code_rate(code).v;
        if (hs_decimal_muldiv(l->amount, sum, PERCENT_SCALE + sum, p->round_mode, &tax) != HS_OK)
            return HS_ERANGE;
        int64_t weights[HS_TAX_MAX_COMPONENTS];
        for (size_t i = 0; i < n; i++)
            weights[i] = code->components[i].percent.v;
        if (n > 0 && hs_money_allocate(tax, weights, n, part) != HS_OK)
            return hs_error_set(err, HS_EINVAL, "cannot compute tax: bad rates");
        l->gross = l->amount;
        if (__builtin_sub_overflow(l->gross, tax, &l->net))
            return HS_ERANGE;
    }
    l->tax = tax;
    for (size_t i = 0; i < n; i++) {
        struct hs_tax_rate_total *r = &out->rates[slot[i]];
        if (__builtin_add_overflow(r->base, l->amount, &r->base) ||
            __builtin_add_overflow(r->tax, part[i], &r->tax))
            return HS_ERANGE;
    }
    return HS_OK;
}

int hs_tax_compute(const struct hs_tax_policy *policy, struct hs_tax_line *lines, size_t n_lines,
                   struct hs_tax_totals *out, struct hs_error *err)
{
    if (out == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot compute tax: no output");
    memset(out, 0, sizeof *out);
    if (policy == NULL || (lines == NULL && n_lines > 0))
        return hs_error_set(err, HS_EINVAL, "cannot compute tax: no policy or no lines");
    const enum hs_tax_mode mode = policy->mode;
    if ((int)mode < HS_TAX_MODE_UNSET || (int)mode > HS_TAX_NONE)
        return hs_error_set(err, HS_EINVAL, "cannot compute tax: invalid tax mode");
    if (policy->rounding != HS_TAX_ROUND_PER_LINE && policy->rounding != HS_TAX_ROUND_PER_DOCUMENT)
        return hs_error_set(err, HS_EINVAL, "cannot compute tax: invalid rounding policy");
    if (!mode_valid(policy->round_mode))
        return hs_error_set(err, HS_EINVAL, "cannot compute tax: invalid rounding mode");
    const bool taxing = mode == HS_TAX_EXCLUSIVE || mode == HS_TAX_INCLUSIVE;

    int64_t gross_sum = 0;
    for (size_t i = 0; i < n_lines; i++) {
        struct hs_tax_line *l = &lines[i];
        if (!taxing || l->code == NULL || l->code->n_components == 0) {
            l->net = l->amount;
            l->tax = 0;
            l->gross = l->amount;
        } else {
            int rc = tax_line(policy, l, out, err);
            if (rc == HS_ERANGE)
                return overflow(out, err);
            if (rc != HS_OK) {
                memset(out, 0, sizeof *out);
                return rc;
            }
        }
        if (__builtin_add_overflow(out->subtotal, l->net, &out->subtotal) ||
            __builtin_add_overflow(gross_sum, l->gross, &gross_sum))
            return overflow(out, err);
    }
    if (policy->rounding == HS_TAX_ROUND_PER_DOCUMENT) {
        for (size_t k = 0; k < out->n_rates; k++) {
            struct hs_tax_rate_total *r = &out->rates[k];
            const int64_t den =
                mode == HS_TAX_EXCLUSIVE ? PERCENT_SCALE : PERCENT_SCALE + r->percent.v;
            if (hs_decimal_muldiv(r->base, r->percent.v, den, policy->round_mode, &r->tax) != HS_OK)
                return overflow(out, err);
        }
    }
    for (size_t k = 0; k < out->n_rates; k++) {
        if (__builtin_add_overflow(out->tax, out->rates[k].tax, &out->tax))
            return overflow(out, err);
    }
    if (mode == HS_TAX_INCLUSIVE)
        out->total = gross_sum;
    else if (__builtin_add_overflow(out->subtotal, out->tax, &out->total))
        return overflow(out, err);
    return HS_OK;
}
