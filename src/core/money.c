/*
 * core/money.c - money amounts: parse, format, checked arithmetic, products with decimals
 * and allocation of a total over lines.
 *
 * Design:     parse and format delegate to the scaled decimal routines of core/decimal.c with
 *             the currency's exponent, so money and decimals share one exact parser and one
 *             rounding rule. Arithmetic uses explicit pre-checks (no wrap, no UB). Allocation
 *             uses the largest-remainder method without allocating memory: the truncated
 *             shares go to out[] first, then a binary search over the 128-bit remainder range
 *             finds the threshold t such that the lines with remainder > t, plus the
 *             lowest-index lines with remainder == t, receive exactly the leftover units.
 * Invariants: see core/money.h. Every part of an allocation is the truncated exact share or
 *             one more, and only lines with a non-zero remainder get one more.
 * Not here:   the currency table (core/currency.c), decimal parsing (core/decimal.c).
 */
#include "core/money.h"

#include <string.h>

__extension__ typedef unsigned __int128 u128; /* lint-allow: typedef, not a global */

static int currency_error(struct hs_error *err, const char *currency)
{
    if (currency == NULL)
        return hs_error_set(err, HS_EINVAL, "no currency given");
    char shown[8];
    size_t n = 0;
    while (n < 6 && currency[n] != '\0') {
        const unsigned char c = (unsigned char)currency[n];
        shown[n] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
        n++;
    }
    shown[n] = '\0';
    return hs_error_set(err, HS_EINVAL, "unknown currency '%s%s': not an ISO 4217 code", shown,
                        currency[n] != '\0' ? "..." : "");
}

static void set_currency(struct hs_money *m, const struct hs_currency *cur)
{
    memcpy(m->currency, cur->code, sizeof m->currency);
}

int hs_money_from_minor(int64_t minor, const char *currency, struct hs_money *out,
                        struct hs_error *err)
{
    const struct hs_currency *cur = hs_currency_find(currency);
    if (cur == NULL)
        return currency_error(err, currency);
    out->minor = minor;
    set_currency(out, cur);
    return HS_OK;
}

static int parse(const char *s, size_t len, const char *currency, enum hs_round mode, bool exact,
                 struct hs_money *out, struct hs_error *err)
{
    const struct hs_currency *cur = hs_currency_find(currency);
    if (cur == NULL)
        return currency_error(err, currency);
    int64_t minor = 0;
    const int rc = hs_decimal_parse_scaled(s, len, cur->exponent, mode, exact, "amount", cur->code,
                                           &minor, err);
    if (rc != HS_OK)
        return rc;
    out->minor = minor;
    set_currency(out, cur);
    return HS_OK;
}

int hs_money_parse(const char *s, size_t len, const char *currency, enum hs_round mode,
                   struct hs_money *out, struct hs_error *err)
{
    return parse(s, len, currency, mode, false, out, err);
}

int hs_money_parse_exact(const char *s, size_t len, const char *currency, struct hs_money *out,
                         struct hs_error *err)
{
    return parse(s, len, currency, HS_ROUND_HALF_EVEN, true, out, err);
}

int hs_money_format(const struct hs_money *m, char *buf, size_t cap)
{
    const struct hs_currency *cur = m != NULL ? hs_currency_find(m->currency) : NULL;
    if (cur == NULL) {
        if (buf != NULL && cap > 0)
            buf[0] = '\0';
        return HS_EINVAL;
    }
    return hs_decimal_format_scaled(m->minor, cur->exponent, false, buf, cap);
}

/* Both amounts in one currency, or HS_EINVAL with a message naming the operation. */
static int same_currency(const struct hs_money *a, const struct hs_money *b, const char *op,
                         struct hs_error *err)
{
    if (memcmp(a->currency, b->currency, 3) != 0)
        return hs_error_set(err, HS_EINVAL,
                            "cannot %s amounts: currencies '%.3s' and '%.3s' differ", op,
                            a->currency, b->currency);
    return HS_OK;
}

/* "cannot <op> <a> CUR: result out of range" */
static int range_error(struct hs_error *err, const char *op, const struct hs_money *a)
{
    char sa[HS_MONEY_FMT_MAX];
    if (hs_money_format(a, sa, sizeof sa) < 0)
        return hs_error_set(err, HS_ERANGE, "cannot %s amount: result out of range", op);
    return hs_error_set(err, HS_ERANGE, "cannot %s amount '%s %.3s': result out of range", op, sa,
                        a->currency);
}

int hs_money_add(const struct hs_money *a, const struct hs_money *b, struct hs_money *out,
                 struct hs_error *err)
{
    if (same_currency(a, b, "add", err) != HS_OK)
        return HS_EINVAL;
    const int64_t x = a->minor;
    const int64_t y = b->minor;
    if ((y > 0 && x > INT64_MAX - y) || (y < 0 && x < INT64_MIN - y))
        return range_error(err, "add to", a);
    const struct hs_money r = {.minor = x + y,
                               .currency = {a->currency[0], a->currency[1], a->currency[2], '\0'}};
    *out = r;
    return HS_OK;
}

int hs_money_sub(const struct hs_money *a, const struct hs_money *b, struct hs_money *out,
                 struct hs_error *err)
{
    if (same_currency(a, b, "subtract", err) != HS_OK)
        return HS_EINVAL;
    const int64_t x = a->minor;
    const int64_t y = b->minor;
    if ((y < 0 && x > INT64_MAX + y) || (y > 0 && x < INT64_MIN + y))
        return range_error(err, "subtract from", a);
    const struct hs_money r = {.minor = x - y,
                               .currency = {a->currency[0], a->currency[1], a->currency[2], '\0'}};
    *out = r;
    return HS_OK;
}

int hs_money_neg(const struct hs_money *a, struct hs_money *out, struct hs_error *err)
{
    if (a->minor == INT64_MIN)
        return range_error(err, "negate", a);
    const struct hs_money r = {.minor = -a->minor,
                               .currency = {a->currency[0], a->currency[1], a->currency[2], '\0'}};
    *out = r;
    return HS_OK;
}

int hs_money_mul_int(const struct hs_money *a, int64_t k, struct hs_money *out,
                     struct hs_error *err)
{
    int64_t v = 0;
    if (hs_decimal_muldiv(a->minor, k, 1, HS_ROUND_DOWN, &v) != HS_OK)
        return range_error(err, "multiply", a);
    const struct hs_money r = {.minor = v,
                               .currency = {a->currency[0], a->currency[1], a->currency[2], '\0'}};
    *out = r;
    return HS_OK;
}

int hs_money_cmp(const struct hs_money *a, const struct hs_money *b, int *out, struct hs_error *err)
{
    if (same_currency(a, b, "compare", err) != HS_OK)
        return HS_EINVAL;
    *out = (a->minor > b->minor) - (a->minor < b->minor);
    return HS_OK;
}

int hs_money_mul_decimal(const struct hs_money *m, struct hs_decimal d, enum hs_round mode,
                         struct hs_money *out, struct hs_error *err)
{
    if ((int)mode < 0 || (int)mode >= HS_ROUND_COUNT)
        return hs_error_set(err, HS_EINVAL, "cannot multiply amount: invalid rounding mode %d",
                            (int)mode);
    int64_t v = 0;
    if (hs_decimal_muldiv(m->minor, d.v, HS_DECIMAL_ONE, mode, &v) != HS_OK) {
        char sm[HS_MONEY_FMT_MAX];
        char sd[HS_DECIMAL_FMT_MAX];
        if (hs_money_format(m, sm, sizeof sm) < 0 || hs_decimal_format(d, sd, sizeof sd) < 0)
            return hs_error_set(err, HS_ERANGE, "cannot multiply amount: result out of range");
        return hs_error_set(err, HS_ERANGE,
                            "cannot multiply amount '%s %.3s' by '%s': result out of range", sm,
                            m->currency, sd);
    }
    const struct hs_money r = {.minor = v,
                               .currency = {m->currency[0], m->currency[1], m->currency[2], '\0'}};
    *out = r;
    return HS_OK;
}

/* Weight of line i, with all-zero weights meaning equal weights. */
static u128 weight(const int64_t *weights, size_t i, bool equal)
{
    return equal ? 1 : (u128)(uint64_t)weights[i];
}

/* Number of lines whose remainder mag * w - part * sum exceeds t. */
static u128 count_above(u128 mag, const int64_t *weights, size_t n, bool equal, u128 sum,
                        const uint64_t *part, u128 t)
{
    u128 count = 0;
    for (size_t i = 0; i < n; i++) {
        const u128 r = mag * weight(weights, i, equal) - (u128)part[i] * sum;
        count += r > t;
    }
    return count;
}

int hs_money_allocate(int64_t total, const int64_t *weights, size_t n, int64_t *out)
{
    if (n == 0 || weights == NULL || out == NULL)
        return HS_EINVAL;
    u128 sum = 0; /* n * 2^63 < 2^128 for any n that fits in memory */
    for (size_t i = 0; i < n; i++) {
        if (weights[i] < 0)
            return HS_EINVAL;
        sum += (u128)(uint64_t)weights[i];
    }
    const bool equal = sum == 0;
    if (equal)
        sum = n;
    const bool negative = total < 0;
    const u128 mag = negative ? (u128)((uint64_t)0 - (uint64_t)total) : (u128)total;

    /* Truncated shares (magnitudes, kept unsigned in out[] for now) and the units left over. */
    uint64_t *part = (uint64_t *)(void *)out; /* int64_t and uint64_t may alias (C11 6.5p7) */
    u128 given = 0;
    for (size_t i = 0; i < n; i++) {
        const u128 q = mag * weight(weights, i, equal) / sum; /* <= mag <= 2^63 */
        part[i] = (uint64_t)q;
        given += q;
    }
    const u128 left = mag - given; /* < n, since each line dropped less than one unit */

    /*
     * Smallest t in [0, sum) with count(remainder > t) <= left: those lines get one unit, and
     * the rest of left goes to lines with remainder == t in index order. Remainders are
     * recomputed (mag * w - q * sum) instead of stored, so nothing is allocated.
     */
    if (left > 0) {
        u128 lo = 0;
        u128 hi = sum - 1;
        while (lo < hi) {
            const u128 mid = lo + (hi - lo) / 2;
            if (count_above(mag, weights, n, equal, sum, part, mid) <= left)
                hi = mid;
            else
                lo = mid + 1;
        }
        const u128 t = lo;
        u128 ties = left - count_above(mag, weights, n, equal, sum, part, t);
        for (size_t i = 0; i < n; i++) {
            const u128 r = mag * weight(weights, i, equal) - (u128)part[i] * sum;
            if (r > t) {
                part[i]++;
            } else if (r == t && ties > 0) {
                part[i]++;
                ties--;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const uint64_t m = part[i];
        if (!negative)
            out[i] = (int64_t)m; /* m <= mag <= INT64_MAX */
        else
            out[i] = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
    }
    return HS_OK;
}
