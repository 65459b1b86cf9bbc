/*
 * sandbox/qbo_json.c - exact numbers in jansson trees, decimals, Pacific time, currencies.
 *
 * Design:     see qbo.h: numbers of request bodies become marked strings before jansson
 *             parses them (a one-pass scanner that tracks whether it is inside a string),
 *             and marked strings become bare numbers again after jansson dumps a tree (a
 *             second pass over jansson's output, where a marked string always starts with
 *             the six bytes "\u0001" right after a quote). Decimal text is converted with
 *             integer arithmetic only. Times are shown in US Pacific time like a US company
 *             file: -08:00, or -07:00 from the second Sunday of March to the first Sunday of
 *             November (2:00 local).
 * Invariants: a marked string holds text that matches the JSON number grammar.
 */
#include <stdio.h>
#include <string.h>

#include "sandbox/qbo.h"
#include "util/alloc.h"
#include "util/civil.h"
#include "util/json.h"

/* ---- marked numbers ---- */

/* Length of a JSON number token at p (< end), or 0 when p does not start one. */
static size_t number_len(const char *p, const char *end)
{
    const char *s = p;
    if (s < end && *s == '-')
        s++;
    if (s >= end || *s < '0' || *s > '9')
        return 0;
    if (*s == '0')
        s++;
    else
        while (s < end && *s >= '0' && *s <= '9')
            s++;
    if (s < end && *s == '.') {
        s++;
        if (s >= end || *s < '0' || *s > '9')
            return 0;
        while (s < end && *s >= '0' && *s <= '9')
            s++;
    }
    if (s < end && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < end && (*s == '+' || *s == '-'))
            s++;
        if (s >= end || *s < '0' || *s > '9')
            return 0;
        while (s < end && *s >= '0' && *s <= '9')
            s++;
    }
    return (size_t)(s - p);
}

int hs_qbo_json_parse(const uint8_t *buf, size_t len, json_t **out, struct hs_error *err)
{
    *out = NULL;
    if (len > HS_JSON_MAX_BYTES)
        return hs_error_set(err, HS_ETOOBIG, "cannot parse request body: %zu bytes exceed %zu", len,
                            (size_t)HS_JSON_MAX_BYTES);
    struct hs_buf b;
    hs_buf_init(&b);
    const char *p = (const char *)buf;
    const char *end = p + len;
    const char *run = p; /* first byte not yet copied: bytes are copied a run at a time */
    bool in_str = false;
    int rc = hs_buf_reserve(&b, len + len / 4 + 16);
    while (p < end && rc == HS_OK) {
        char c = *p;
        if (in_str) {
            if (c == '\\' && p + 1 < end) {
                if (p[1] == 'u' && end - p >= 6 && memcmp(p + 2, "0001", 4) == 0) {
                    hs_buf_release(&b);
                    return hs_error_set(err, HS_EINVAL,
                                        "cannot parse request body: control character "
                                        "U+0001 is not allowed");
                }
                p += 2;
                continue;
            }
            if (c == '"')
                in_str = false;
            p++;
            continue;
        }
        if (c == '"') {
            in_str = true;
            p++;
            continue;
        }
        size_t n = (c == '-' || (c >= '0' && c <= '9')) ? number_len(p, end) : 0;
        if (n > 0) {
            rc = hs_buf_append(&b, run, (size_t)(p - run));
            if (rc == HS_OK)
                rc = hs_buf_puts(&b, "\"\\u0001");
            if (rc == HS_OK)
                rc = hs_buf_append(&b, p, n);
            if (rc == HS_OK)
                rc = hs_buf_putc(&b, '"');
            p += n;
            run = p;
            continue;
        }
        p++;
    }
    if (rc == HS_OK)
        rc = hs_buf_append(&b, run, (size_t)(end - run));
    if (rc != HS_OK) {
        hs_buf_release(&b);
        return hs_error_set(err, rc, "cannot parse request body: out of memory");
    }
    rc = hs_json_parse((const uint8_t *)(b.data != NULL ? b.data : ""), b.len, "request body", out,
                       err);
    hs_buf_release(&b);
    return rc;
}

int hs_qbo_json_dump(const json_t *v, struct hs_buf *out)
{
    struct hs_buf tmp;
    hs_buf_init(&tmp);
    int rc = hs_json_dump(v, &tmp);
    if (rc != HS_OK) {
        hs_buf_release(&tmp);
        return rc;
    }
    const char *p = tmp.data;
    const char *end = p + tmp.len;
    const char *run = p; /* start of bytes not yet copied */
    static const char pat[] = "\"\\u0001";
    const size_t plen = sizeof pat - 1;
    while (p + plen <= end) {
        const char *hit = memchr(p, '"', (size_t)(end - p));
        if (hit == NULL || hit + plen > end)
            break;
        if (memcmp(hit, pat, plen) != 0) {
            p = hit + 1;
            /* skip the rest of this string so a quote inside it never matches */
            bool closed = false;
            while (p < end) {
                if (*p == '\\') {
                    p += 2;
                    continue;
                }
                if (*p == '"') {
                    p++;
                    closed = true;
                    break;
                }
                p++;
            }
            if (!closed)
                break;
            continue;
        }
        const char *num = hit + plen;
        const char *q = num;
        while (q < end && *q != '"')
            q += (*q == '\\' && q + 1 < end) ? 2 : 1;
        size_t n = (size_t)(q - num);
        if (q < end && n > 0 && number_len(num, q) == n) {
            rc = hs_buf_append(out, run, (size_t)(hit - run));
            if (rc == HS_OK)
                rc = hs_buf_append(out, num, n);
            if (rc != HS_OK) {
                hs_buf_release(&tmp);
                return rc;
            }
            run = q + 1;
        }
        p = q < end ? q + 1 : end;
    }
    rc = hs_buf_append(out, run, (size_t)(end - run));
    hs_buf_release(&tmp);
    return rc;
}

static int64_t pow10i(int n)
{
    int64_t r = 1;
    for (int i = 0; i < n; i++)
        r *= 10;
    return r;
}

void hs_qbo_dec_format(int64_t units, int scale, char *out, size_t size)
{
    /* digits written backwards into tmp, then copied */
    char tmp[48];
    size_t n = 0;
    uint64_t u = units < 0 ? (uint64_t)0 - (uint64_t)units : (uint64_t)units;
    if (scale < 0)
        scale = 0;
    if (scale > 18)
        scale = 18;
    for (int i = 0; i < scale; i++) {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    }
    if (scale > 0)
        tmp[n++] = '.';
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (units < 0)
        tmp[n++] = '-';
    size_t o = 0;
    while (n > 0 && o + 1 < size)
        out[o++] = tmp[--n];
    if (size > 0)
        out[o] = '\0';
}

json_t *hs_qbo_num(int64_t units, int scale)
{
    char text[48];
    text[0] = HS_QBO_MARK;
    hs_qbo_dec_format(units, scale, text + 1, sizeof text - 1);
    return json_string(text);
}

json_t *hs_qbo_num_short(int64_t units, int scale)
{
    while (scale > 0 && units % 10 == 0) {
        units /= 10;
        scale--;
    }
    return hs_qbo_num(units, scale);
}

int hs_qbo_dec_parse(const char *s, size_t len, int scale, int64_t *out)
{
    *out = 0;
    const char *end = s + len;
    if (len == 0 || number_len(s, end) != len)
        return HS_EINVAL;
    bool neg = false;
    if (*s == '-') {
        neg = true;
        s++;
    }
    /* collect digits and the decimal exponent: value = digits * 10^exp */
    uint64_t digits = 0;
    long exp10 = 0;
    bool frac = false;
    int dropped_nonzero = 0;
    for (; s < end && *s != 'e' && *s != 'E'; s++) {
        if (*s == '.') {
            frac = true;
            continue;
        }
        unsigned d = (unsigned)(*s - '0');
        if (digits > (UINT64_MAX - d) / 10) {
            /* too many digits: fine if they are trailing zeros of an integer part */
            if (d != 0)
                dropped_nonzero = 1;
            if (!frac)
                exp10++;
            continue;
        }
        digits = digits * 10 + d;
        if (frac)
            exp10--;
    }
    if (s < end) { /* exponent */
        s++;
        bool eneg = false;
        if (*s == '+' || *s == '-') {
            eneg = *s == '-';
            s++;
        }
        long e = 0;
        for (; s < end; s++) {
            if (e < 100000)
                e = e * 10 + (*s - '0');
        }
        exp10 += eneg ? -e : e;
    }
    if (dropped_nonzero)
        return HS_ERANGE;
    /* units = digits * 10^(exp10 + scale) */
    long shift = exp10 + scale;
    if (digits == 0) {
        *out = 0;
        return HS_OK;
    }
    while (shift < 0) {
        if (digits % 10 != 0)
            return HS_ERANGE; /* more decimals than scale allows */
        digits /= 10;
        shift++;
    }
    while (shift > 0) {
        if (digits > (uint64_t)INT64_MAX / 10)
            return HS_ERANGE;
        digits *= 10;
        shift--;
    }
    if (digits > (uint64_t)INT64_MAX)
        return HS_ERANGE;
    *out = neg ? -(int64_t)digits : (int64_t)digits;
    return HS_OK;
}

bool hs_qbo_is_num(const json_t *v)
{
    if (json_is_integer(v) || json_is_real(v))
        return true;
    const char *s = json_string_value(v);
    return s != NULL && s[0] == HS_QBO_MARK;
}

int hs_qbo_num_get(const json_t *v, int scale, int64_t *out)
{
    *out = 0;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        int64_t p = pow10i(scale);
        if (i > INT64_MAX / p || i < INT64_MIN / p)
            return HS_ERANGE;
        *out = (int64_t)i * p;
        return HS_OK;
    }
    const char *s = json_string_value(v);
    if (s == NULL)
        return HS_EINVAL;
    if (s[0] == HS_QBO_MARK)
        s++;
    return hs_qbo_dec_parse(s, strlen(s), scale, out);
}

int hs_qbo_currency_decimals(const char *code)
{
    static const char *const zero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
                                       "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                                       "VND", "VUV", "XAF", "XOF", "XPF"};
    static const char *const three[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};
    if (code == NULL)
        return 2;
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        if (strcmp(code, zero[i]) == 0)
            return 0;
    for (size_t i = 0; i < sizeof three / sizeof three[0]; i++)
        if (strcmp(code, three[i]) == 0)
            return 3;
    return 2;
}

int64_t hs_qbo_div_round(hs_qbo_i128 n, hs_qbo_i128 d)
{
    bool neg = n < 0;
    if (neg)
        n = -n;
    hs_qbo_i128 q = n / d;
    hs_qbo_i128 r = n % d;
    if (r * 2 >= d)
        q++;
    if (neg)
        q = -q;
    if (q > INT64_MAX)
        return INT64_MAX;
    if (q < INT64_MIN)
        return INT64_MIN;
    return (int64_t)q;
}

/* ---- calendar ---- */

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian; H. Hinnant's algorithm). */
/* util/civil.h with the unsigned month and day this file uses. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t mm, dd;
    hs_civil_from_days(z, y, &mm, &dd);
    *m = (unsigned)mm;
    *d = (unsigned)dd;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* Day (since epoch) of the n-th Sunday (n >= 1) of month m of year y. */
static int64_t nth_sunday(int64_t y, unsigned m, int n)
{
    int64_t first = hs_days_from_civil(y, m, 1);
    int64_t wd = ((first % 7) + 7 + 4) % 7; /* 0 = Sunday; 1970-01-01 was a Thursday */
    int64_t to_sunday = (7 - wd) % 7;
    return first + to_sunday + 7 * (n - 1);
}

/* UTC offset in minutes of US Pacific time at instant ms. */
static int pacific_offset_min(int64_t ms)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(floor_div(ms - 8 * 3600000LL, 86400000LL), &y, &m, &d);
    int64_t start = nth_sunday(y, 3, 2) * 86400000LL + 10 * 3600000LL; /* 2:00 PST */
    int64_t stop = nth_sunday(y, 11, 1) * 86400000LL + 9 * 3600000LL;  /* 2:00 PDT */
    return (ms >= start && ms < stop) ? -420 : -480;
}

static void format_local(int64_t ms, bool millis, char *out, size_t size)
{
    int off = pacific_offset_min(ms);
    int64_t local = ms + (int64_t)off * 60000;
    int64_t day = floor_div(local, 86400000LL);
    int64_t rem = local - day * 86400000LL;
    int64_t y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    int hh = (int)(rem / 3600000);
    int mi = (int)(rem / 60000 % 60);
    int ss = (int)(rem / 1000 % 60);
    int frac = (int)(rem % 1000);
    int aoff = off < 0 ? -off : off;
    /* written by hand when it fits (every MetaData of every answer has two of these) */
    char fast[32];
    size_t n = 0;
    if (y >= 0 && y <= 9999 && size >= (millis ? 30u : 26u)) {
        const int parts[] = {(int)y, (int)m, (int)d, hh, mi, ss, frac};
        const int widths[] = {4, 2, 2, 2, 2, 2, 3};
        const char seps[] = {'-', '-', 'T', ':', ':', '.', '\0'};
        const int n_parts = millis ? 7 : 6;
        for (int i = 0; i < n_parts; i++) {
            int v = parts[i];
            for (int k = widths[i] - 1; k >= 0; k--) {
                fast[n + (size_t)k] = (char)('0' + v % 10);
                v /= 10;
            }
            n += (size_t)widths[i];
            if (i + 1 < n_parts)
                fast[n++] = seps[i];
        }
        const char zone[] = {off < 0 ? '-' : '+',          (char)('0' + aoff / 600),
                             (char)('0' + aoff / 60 % 10), ':',
                             (char)('0' + aoff % 60 / 10), (char)('0' + aoff % 10)};
        memcpy(fast + n, zone, sizeof zone);
        n += sizeof zone;
        fast[n] = '\0';
        memcpy(out, fast, n + 1);
        return;
    }
    if (millis)
        snprintf(out, size, "%04lld-%02u-%02uT%02d:%02d:%02d.%03d%c%02d:%02d", (long long)y, m, d,
                 hh, mi, ss, frac, off < 0 ? '-' : '+', aoff / 60, aoff % 60);
    else
        snprintf(out, size, "%04lld-%02u-%02uT%02d:%02d:%02d%c%02d:%02d", (long long)y, m, d, hh,
                 mi, ss, off < 0 ? '-' : '+', aoff / 60, aoff % 60);
}

void hs_qbo_time_format(int64_t ms, char *out, size_t size)
{
    format_local(ms, false, out, size);
}

void hs_qbo_time_format_ms(int64_t ms, char *out, size_t size)
{
    format_local(ms, true, out, size);
}

void hs_qbo_days_format(int64_t days, char *out, size_t size)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, size, "%04lld-%02u-%02u", (long long)y, m, d);
}

void hs_qbo_date_format(int64_t ms, char *out, size_t size)
{
    int64_t local = ms + (int64_t)pacific_offset_min(ms) * 60000;
    hs_qbo_days_format(floor_div(local, 86400000LL), out, size);
}

/* Reads exactly n digits at *p (bounded by end). */
static bool digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (*p >= end || **p < '0' || **p > '9')
            return false;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return true;
}

static bool parse_date(const char **p, const char *end, int64_t *out_days)
{
    int y, m, d;
    if (!digits(p, end, 4, &y) || *p >= end || **p != '-')
        return false;
    (*p)++;
    if (!digits(p, end, 2, &m) || *p >= end || **p != '-')
        return false;
    (*p)++;
    if (!digits(p, end, 2, &d))
        return false;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap)
        return false;
    *out_days = hs_days_from_civil(y, (unsigned)m, (unsigned)d);
    return true;
}

int hs_qbo_date_parse(const char *s, size_t len, int64_t *out_days)
{
    const char *p = s;
    const char *end = s + len;
    if (!parse_date(&p, end, out_days) || p != end)
        return HS_EINVAL;
    return HS_OK;
}

int hs_qbo_time_parse(const char *s, size_t len, int64_t *out_ms)
{
    const char *p = s;
    const char *end = s + len;
    int64_t days;
    *out_ms = 0;
    if (!parse_date(&p, end, &days))
        return HS_EINVAL;
    int64_t ms = days * 86400000LL;
    if (p < end && (*p == 'T' || *p == 't' || *p == ' ')) {
        p++;
        int hh, mi, ss = 0;
        if (!digits(&p, end, 2, &hh) || p >= end || *p != ':')
            return HS_EINVAL;
        p++;
        if (!digits(&p, end, 2, &mi) || hh > 23 || mi > 59)
            return HS_EINVAL;
        if (p < end && *p == ':') {
            p++;
            if (!digits(&p, end, 2, &ss) || ss > 60)
                return HS_EINVAL;
        }
        ms += ((int64_t)hh * 3600 + mi * 60 + ss) * 1000;
        if (p < end && (*p == '.' || *p == ',')) {
            p++;
            int64_t frac = 0;
            int nd = 0;
            while (p < end && *p >= '0' && *p <= '9') {
                if (nd < 3) {
                    frac = frac * 10 + (*p - '0');
                    nd++;
                }
                p++;
            }
            if (nd == 0)
                return HS_EINVAL;
            while (nd < 3) {
                frac *= 10;
                nd++;
            }
            ms += frac;
        }
    }
    if (p == end) {
        /* company-local: try the standard offset, then correct for daylight time */
        int64_t guess = ms + 8 * 3600000LL;
        *out_ms = ms - (int64_t)pacific_offset_min(guess) * 60000;
        return HS_OK;
    }
    if (*p == 'Z' || *p == 'z') {
        if (p + 1 != end)
            return HS_EINVAL;
        *out_ms = ms;
        return HS_OK;
    }
    if (*p != '+' && *p != '-')
        return HS_EINVAL;
    int sign = *p == '-' ? -1 : 1;
    p++;
    int oh, om;
    if (!digits(&p, end, 2, &oh))
        return HS_EINVAL;
    if (p < end && *p == ':')
        p++;
    if (!digits(&p, end, 2, &om) || p != end || oh > 23 || om > 59)
        return HS_EINVAL;
    *out_ms = ms - (int64_t)sign * ((int64_t)oh * 3600000 + (int64_t)om * 60000);
    return HS_OK;
}
