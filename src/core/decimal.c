/*
 * core/decimal.c - fixed-point decimal arithmetic, the shared decimal-text parser and
 * formatter, and the one rounding rule every core number goes through.
 *
 * Design:     all rounding reduces to one question, asked in round_away(): after truncating
 *             toward zero, does the magnitude go up by one? The answer depends only on the
 *             mode, the sign, the parity of the truncated magnitude and where the dropped part
 *             lies against one half (below, exactly, above). The parser learns that from the
 *             first dropped digit plus a sticky "any later non-zero digit" bit, so arbitrarily
 *             long fractions round exactly without big numbers; muldiv() learns it from the
 *             remainder of a 128-bit division. Magnitudes are accumulated unsigned against a
 *             limit of 2^63 (negative) or 2^63-1 (positive), so INT64_MIN parses and
 *             overflow is detected before it happens, never after.
 * Invariants: no double, no allocation, no global state; (ptr, len) input is never read past
 *             len nor assumed NUL-terminated.
 * Not here:   currencies and money amounts (core/currency.c, core/money.c).
 */
#include "core/decimal.h"

#include <string.h>

__extension__ typedef __int128 i128;          /* lint-allow: typedef, not a global */
__extension__ typedef unsigned __int128 u128; /* lint-allow: typedef, not a global */

#define SHOW_MAX 40 /* input bytes quoted in an error message */

static const uint64_t pow10_tab[HS_DECIMAL_SCALE_MAX + 1] = {
    UINT64_C(1),
    UINT64_C(10),
    UINT64_C(100),
    UINT64_C(1000),
    UINT64_C(10000),
    UINT64_C(100000),
    UINT64_C(1000000),
    UINT64_C(10000000),
    UINT64_C(100000000),
    UINT64_C(1000000000),
    UINT64_C(10000000000),
    UINT64_C(100000000000),
    UINT64_C(1000000000000),
    UINT64_C(10000000000000),
    UINT64_C(100000000000000),
    UINT64_C(1000000000000000),
    UINT64_C(10000000000000000),
    UINT64_C(100000000000000000),
    UINT64_C(1000000000000000000),
};

static bool mode_valid(enum hs_round mode)
{
    return (int)mode >= 0 && (int)mode < HS_ROUND_COUNT;
}

const char *hs_decimal_round_name(enum hs_round mode)
{
    switch (mode) {
    case HS_ROUND_HALF_UP:
        return "half_up";
    case HS_ROUND_HALF_EVEN:
        return "half_even";
    case HS_ROUND_DOWN:
        return "down";
    case HS_ROUND_UP:
        return "up";
    case HS_ROUND_FLOOR:
        return "floor";
    case HS_ROUND_CEILING:
        return "ceiling";
    }
    return "invalid";
}

/*
 * Whether a value truncated toward zero must have its magnitude raised by one. negative is the
 * sign of the exact value, odd the parity of the truncated magnitude, half where the dropped
 * part lies against one half (-1 below, 0 exactly, 1 above), inexact whether anything non-zero
 * was dropped at all.
 */
static bool round_away(enum hs_round mode, bool negative, bool odd, int half, bool inexact)
{
    if (!inexact)
        return false;
    switch (mode) {
    case HS_ROUND_HALF_UP:
        return half >= 0;
    case HS_ROUND_HALF_EVEN:
        return half > 0 || (half == 0 && odd);
    case HS_ROUND_DOWN:
        return false;
    case HS_ROUND_UP:
        return true;
    case HS_ROUND_FLOOR:
        return negative;
    case HS_ROUND_CEILING:
        return !negative;
    }
    return false;
}

static uint64_t magnitude(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

/* Signed value of a magnitude known to fit (at most 2^63 when negative). */
static int64_t with_sign(uint64_t mag, bool negative)
{
    if (!negative)
        return (int64_t)mag;
    if (mag == (uint64_t)INT64_MAX + 1)
        return INT64_MIN;
    return -(int64_t)mag;
}

int hs_decimal_muldiv(int64_t a, int64_t b, int64_t c, enum hs_round mode, int64_t *out)
{
    if (c == 0 || !mode_valid(mode))
        return HS_EINVAL;
    const i128 num = (i128)a * (i128)b;
    if (num == 0) {
        *out = 0;
        return HS_OK;
    }
    const bool negative = (num < 0) != (c < 0);
    const u128 un = num < 0 ? (u128)0 - (u128)num : (u128)num;
    const u128 ud = magnitude(c);
    u128 q = un / ud;
    const u128 r = un % ud;
    const u128 twice = r * 2; /* r < 2^63, cannot overflow */
    const int half = twice < ud ? -1 : (twice == ud ? 0 : 1);
    if (round_away(mode, negative, (q & 1) != 0, half, r != 0))
        q++;
    const u128 limit = negative ? (u128)INT64_MAX + 1 : (u128)INT64_MAX;
    if (q > limit)
        return HS_ERANGE;
    *out = with_sign((uint64_t)q, negative);
    return HS_OK;
}

/* A printable, bounded copy of untrusted input for error messages. */
static void show(const char *s, size_t len, char *buf, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < cap && i < SHOW_MAX; i++) {
        const unsigned char c = (unsigned char)s[i];
        buf[n++] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
    }
    if (len > SHOW_MAX && n + 4 <= cap) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Explains why byte i of s ends the number; returns HS_EINVAL. */
static int syntax_error(const char *s, size_t len, size_t i, const char *what, const char *shown,
                        struct hs_error *err)
{
    const char c = s[i];
    const char *pre = "cannot parse";
    if (is_space(c)) {
        if (i == 0 || is_space(s[len - 1]))
            return hs_error_set(err, HS_EINVAL, "%s %s '%s': leading or trailing white space", pre,
                                what, shown);
        return hs_error_set(err, HS_EINVAL, "%s %s '%s': digit grouping is not supported", pre,
                            what, shown);
    }
    if (c == ',')
        return hs_error_set(err, HS_EINVAL,
                            "%s %s '%s': ',' is not accepted (no digit grouping or decimal comma, "
                            "use '.' as the decimal point)",
                            pre, what, shown);
    if (c == '_' || c == '\'')
        return hs_error_set(err, HS_EINVAL, "%s %s '%s': digit grouping is not supported", pre,
                            what, shown);
    if (c == 'e' || c == 'E')
        return hs_error_set(err, HS_EINVAL, "%s %s '%s': exponent notation is not supported", pre,
                            what, shown);
    if (c == '.')
        return hs_error_set(err, HS_EINVAL, "%s %s '%s': more than one decimal point", pre, what,
                            shown);
    if (c == '+' || c == '-')
        return hs_error_set(err, HS_EINVAL, "%s %s '%s': misplaced sign at offset %zu", pre, what,
                            shown, i);
    const unsigned char uc = (unsigned char)c;
    if (uc >= 0x20 && uc < 0x7f && uc != '\'')
        return hs_error_set(err, HS_EINVAL, "%s %s '%s': unexpected character '%c' at offset %zu",
                            pre, what, shown, c, i);
    return hs_error_set(err, HS_EINVAL, "%s %s '%s': unexpected byte 0x%02x at offset %zu", pre,
                        what, shown, (unsigned)uc, i);
}

/* mag = mag * 10 + d unless that exceeds limit. */
static bool push_digit(uint64_t *mag, unsigned d, uint64_t limit)
{
    if (*mag > (limit - d) / 10)
        return false;
    *mag = *mag * 10 + d;
    return true;
}

int hs_decimal_parse_scaled(const char *s, size_t len, unsigned scale, enum hs_round mode,
                            bool exact, const char *what, const char *unit, int64_t *out,
                            struct hs_error *err)
{
    if (what == NULL)
        what = "number";
    const char *sep = unit != NULL ? " for " : "";
    if (unit == NULL)
        unit = "";
    if (scale > HS_DECIMAL_SCALE_MAX)
        return hs_error_set(err, HS_EINVAL, "cannot parse %s: scale %u is above %d", what, scale,
                            HS_DECIMAL_SCALE_MAX);
    if (!exact && !mode_valid(mode))
        return hs_error_set(err, HS_EINVAL, "cannot parse %s: invalid rounding mode %d", what,
                            (int)mode);
    if (s == NULL || len == 0)
        return hs_error_set(err, HS_EINVAL, "cannot parse %s '': empty", what);
    char shown[SHOW_MAX + 8];
    show(s, len, shown, sizeof shown);
    if (len > HS_DECIMAL_PARSE_MAX)
        return hs_error_set(err, HS_ETOOBIG, "cannot parse %s '%s': longer than %d bytes", what,
                            shown, HS_DECIMAL_PARSE_MAX);

    /* Syntax: [+-] digits [. digits], at least one digit. */
    size_t i = 0;
    const bool negative = s[0] == '-';
    if (s[0] == '+' || s[0] == '-')
        i = 1;
    const size_t int_start = i;
    while (i < len && is_digit(s[i]))
        i++;
    const size_t int_end = i;
    size_t frac_start = i;
    size_t frac_end = i;
    if (i < len && s[i] == '.') {
        i++;
        frac_start = i;
        while (i < len && is_digit(s[i]))
            i++;
        frac_end = i;
    }
    if (i < len)
        return syntax_error(s, len, i, what, shown, err);
    if (int_end == int_start && frac_end == frac_start)
        return hs_error_set(err, HS_EINVAL, "cannot parse %s '%s': no digits", what, shown);

    /* Value: integer digits, then exactly scale fraction digits (padded with zeros). */
    const uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    const size_t n_frac = frac_end - frac_start;
    uint64_t mag = 0;
    bool fits = true;
    for (size_t k = int_start; k < int_end && fits; k++)
        fits = push_digit(&mag, (unsigned)(s[k] - '0'), limit);
    for (size_t k = 0; k < scale && fits; k++)
        fits = push_digit(&mag, k < n_frac ? (unsigned)(s[frac_start + k] - '0') : 0, limit);

    /* Dropped digits: the first decides against one half, the rest are a sticky bit. */
    int half = -1;
    bool inexact = false;
    if (n_frac > scale) {
        const unsigned first = (unsigned)(s[frac_start + scale] - '0');
        bool sticky = false;
        for (size_t k = frac_start + scale + 1; k < frac_end && !sticky; k++)
            sticky = s[k] != '0';
        inexact = first != 0 || sticky;
        half = first > 5 ? 1 : (first < 5 ? -1 : (sticky ? 1 : 0));
    }
    if (exact && inexact)
        return hs_error_set(err, HS_EINVAL, "cannot parse %s '%s': has more than %u decimals%s%s",
                            what, shown, scale, sep, unit);
    if (fits && !exact && round_away(mode, negative, (mag & 1) != 0, half, inexact)) {
        if (mag == limit)
            fits = false;
        else
            mag++;
    }
    if (!fits)
        return hs_error_set(err, HS_ERANGE, "cannot parse %s '%s': out of range%s%s", what, shown,
                            sep, unit);
    *out = with_sign(mag, negative);
    return HS_OK;
}

int hs_decimal_format_scaled(int64_t v, unsigned scale, bool trim, char *buf, size_t cap)
{
    if (scale > HS_DECIMAL_SCALE_MAX) {
        if (buf != NULL && cap > 0)
            buf[0] = '\0';
        return HS_EINVAL;
    }
    const uint64_t mag = magnitude(v);
    uint64_t ip = mag / pow10_tab[scale];
    uint64_t fp = mag % pow10_tab[scale];

    char tmp[HS_DECIMAL_FMT_MAX + 8];
    size_t n = 0;
    if (v < 0)
        tmp[n++] = '-';
    char rev[24];
    size_t n_rev = 0;
    do {
        rev[n_rev++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip != 0);
    while (n_rev > 0)
        tmp[n++] = rev[--n_rev];

    char frac[HS_DECIMAL_SCALE_MAX];
    for (size_t k = scale; k > 0; k--) {
        frac[k - 1] = (char)('0' + fp % 10);
        fp /= 10;
    }
    size_t n_frac = scale;
    if (trim) {
        while (n_frac > 0 && frac[n_frac - 1] == '0')
            n_frac--;
    }
    if (n_frac > 0) {
        tmp[n++] = '.';
        memcpy(tmp + n, frac, n_frac);
        n += n_frac;
    }
    if (buf == NULL || n + 1 > cap) {
        if (buf != NULL && cap > 0)
            buf[0] = '\0';
        return HS_ERANGE;
    }
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return (int)n;
}

int hs_decimal_parse(const char *s, size_t len, enum hs_round mode, struct hs_decimal *out,
                     struct hs_error *err)
{
    int64_t v = 0;
    const int rc =
        hs_decimal_parse_scaled(s, len, HS_DECIMAL_SCALE, mode, false, "decimal", NULL, &v, err);
    if (rc == HS_OK)
        out->v = v;
    return rc;
}

int hs_decimal_parse_exact(const char *s, size_t len, struct hs_decimal *out, struct hs_error *err)
{
    int64_t v = 0;
    const int rc = hs_decimal_parse_scaled(s, len, HS_DECIMAL_SCALE, HS_ROUND_HALF_EVEN, true,
                                           "decimal", NULL, &v, err);
    if (rc == HS_OK)
        out->v = v;
    return rc;
}

int hs_decimal_format(struct hs_decimal d, char *buf, size_t cap)
{
    return hs_decimal_format_scaled(d.v, HS_DECIMAL_SCALE, true, buf, cap);
}

int hs_decimal_from_int(int64_t i, struct hs_decimal *out, struct hs_error *err)
{
    if (i > INT64_MAX / HS_DECIMAL_ONE || i < INT64_MIN / HS_DECIMAL_ONE)
        return hs_error_set(err, HS_ERANGE,
                            "cannot convert integer '%lld' to a decimal: out of range",
                            (long long)i);
    out->v = i * HS_DECIMAL_ONE;
    return HS_OK;
}

static int bad_mode(struct hs_error *err, const char *op, enum hs_round mode)
{
    return hs_error_set(err, HS_EINVAL, "cannot %s: invalid rounding mode %d", op, (int)mode);
}

int hs_decimal_to_int(struct hs_decimal d, enum hs_round mode, int64_t *out, struct hs_error *err)
{
    if (!mode_valid(mode))
        return bad_mode(err, "round decimal to integer", mode);
    return hs_decimal_muldiv(d.v, 1, HS_DECIMAL_ONE, mode, out); /* cannot overflow */
}

/* Formats both operands into a message about a failed binary operation. */
static int op_error(struct hs_error *err, int code, const char *op, struct hs_decimal a,
                    struct hs_decimal b, const char *why)
{
    char sa[HS_DECIMAL_FMT_MAX];
    char sb[HS_DECIMAL_FMT_MAX];
    if (hs_decimal_format(a, sa, sizeof sa) < 0 || hs_decimal_format(b, sb, sizeof sb) < 0)
        return hs_error_set(err, code, "cannot %s decimals: %s", op, why);
    return hs_error_set(err, code, "cannot %s decimals '%s' and '%s': %s", op, sa, sb, why);
}

int hs_decimal_add(struct hs_decimal a, struct hs_decimal b, struct hs_decimal *out,
                   struct hs_error *err)
{
    if ((b.v > 0 && a.v > INT64_MAX - b.v) || (b.v < 0 && a.v < INT64_MIN - b.v))
        return op_error(err, HS_ERANGE, "add", a, b, "result out of range");
    out->v = a.v + b.v;
    return HS_OK;
}

int hs_decimal_sub(struct hs_decimal a, struct hs_decimal b, struct hs_decimal *out,
                   struct hs_error *err)
{
    if ((b.v < 0 && a.v > INT64_MAX + b.v) || (b.v > 0 && a.v < INT64_MIN + b.v))
        return op_error(err, HS_ERANGE, "subtract", a, b, "result out of range");
    out->v = a.v - b.v;
    return HS_OK;
}

int hs_decimal_mul(struct hs_decimal a, struct hs_decimal b, enum hs_round mode,
                   struct hs_decimal *out, struct hs_error *err)
{
    if (!mode_valid(mode))
        return bad_mode(err, "multiply decimals", mode);
    int64_t v = 0;
    if (hs_decimal_muldiv(a.v, b.v, HS_DECIMAL_ONE, mode, &v) != HS_OK)
        return op_error(err, HS_ERANGE, "multiply", a, b, "result out of range");
    out->v = v;
    return HS_OK;
}

int hs_decimal_div(struct hs_decimal a, struct hs_decimal b, enum hs_round mode,
                   struct hs_decimal *out, struct hs_error *err)
{
    if (!mode_valid(mode))
        return bad_mode(err, "divide decimals", mode);
    if (b.v == 0)
        return op_error(err, HS_EINVAL, "divide", a, b, "division by zero");
    int64_t v = 0;
    if (hs_decimal_muldiv(a.v, HS_DECIMAL_ONE, b.v, mode, &v) != HS_OK)
        return op_error(err, HS_ERANGE, "divide", a, b, "result out of range");
    out->v = v;
    return HS_OK;
}

int hs_decimal_cmp(struct hs_decimal a, struct hs_decimal b)
{
    return (a.v > b.v) - (a.v < b.v);
}

int hs_decimal_to_minor(struct hs_decimal d, unsigned exponent, enum hs_round mode, int64_t *out,
                        struct hs_error *err)
{
    if (!mode_valid(mode))
        return bad_mode(err, "convert decimal to minor units", mode);
    if (exponent > HS_DECIMAL_SCALE_MAX)
        return hs_error_set(err, HS_EINVAL,
                            "cannot convert decimal to minor units: exponent %u is above %d",
                            exponent, HS_DECIMAL_SCALE_MAX);
    if (hs_decimal_muldiv(d.v, (int64_t)pow10_tab[exponent], HS_DECIMAL_ONE, mode, out) != HS_OK) {
        char sd[HS_DECIMAL_FMT_MAX];
        if (hs_decimal_format(d, sd, sizeof sd) < 0)
            sd[0] = '\0';
        return hs_error_set(err, HS_ERANGE,
                            "cannot convert decimal '%s' to minor units of exponent %u: out of "
                            "range",
                            sd, exponent);
    }
    return HS_OK;
}
