/*
 * core/validate.c - email syntax, country codes, tax-id schemes and provider field limits.
 *
 * Design:     each check produces the second half of a sentence ("should have 9 digits after
 *             DE", "it contains more than one '@'"); hs_validate_customer puts a label and the
 *             value in front, so every message reads as one plain sentence for a finance
 *             user. Tax ids are reduced to upper-case letters and digits (spaces, dots,
 *             dashes and slashes are how people write them, not part of them), the scheme is
 *             taken from a VAT prefix or else from the billing country (whose number may
 *             follow its name, as in "ABN 51 824 753 556"), and each scheme is one small
 *             function: format first (the message then says what the number should look
 *             like, or why not when the length is right but a part cannot be, such as a
 *             birth date), then the check digits (the message then says it is probably
 *             mistyped).
 *             The check algorithms are the ones the issuing authorities publish (EU VIES
 *             algorithms per member state, HMRC mod 97 / 9755, ATO ABN mod 89, IRS EIN
 *             prefixes, CRA Luhn, Swiss UID mod 11, Receita Federal mod 11, NTA mod 9).
 * Invariants: an issue list's n_errors equals the number of its HS_VALIDATE_ERROR items.
 * Not here:   tables of countries (core/country.c), the model's canonical checks (record.c).
 */
#include "core/validate.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/country.h"
#include "util/alloc.h"

#define SHOWN_MAX  80 /* bytes of a value quoted in a message */
#define TAX_ID_MAX 40 /* longest tax id key we look at */
#define WHY_MAX    400

/* ---- issues ----------------------------------------------------------------------------- */

void hs_validate_issues_init(struct hs_validate_issues *list)
{
    memset(list, 0, sizeof *list);
}

void hs_validate_issues_release(struct hs_validate_issues *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->n_items; i++) {
        hs_free(list->items[i].field);
        hs_free(list->items[i].message);
    }
    hs_free(list->items);
    memset(list, 0, sizeof *list);
}

int hs_validate_issues_add(struct hs_validate_issues *list, enum hs_validate_severity severity,
                           const char *field, const char *fmt, ...)
{
    if (list->n_items == list->cap) {
        size_t cap = list->cap == 0 ? 4 : list->cap * 2;
        struct hs_validate_issue *items = hs_reallocarray(list->items, cap, sizeof *items);
        if (items == NULL)
            return HS_ENOMEM;
        list->items = items;
        list->cap = cap;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *f = hs_strdup(field != NULL ? field : "");
    char *m = hs_strdup(msg);
    if (f == NULL || m == NULL) {
        hs_free(f);
        hs_free(m);
        return HS_ENOMEM;
    }
    struct hs_validate_issue *it = &list->items[list->n_items++];
    it->severity = severity;
    it->field = f;
    it->message = m;
    if (severity == HS_VALIDATE_ERROR)
        list->n_errors++;
    return HS_OK;
}

/* ---- helpers ---------------------------------------------------------------------------- */

/* Copies s for quoting in a message: control characters become spaces, at most SHOWN_MAX
 * bytes cut at a character boundary, then "...". */
static const char *shown(const char *s, char out[SHOWN_MAX + 4])
{
    size_t n = strlen(s);
    size_t m = n > SHOWN_MAX ? SHOWN_MAX : n;
    while (m < n && m > 0 && ((unsigned char)s[m] & 0xC0u) == 0x80u)
        m--;
    for (size_t i = 0; i < m; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7F ? ' ' : s[i];
    if (m < n) {
        memcpy(out + m, "...", 4);
    } else {
        out[m] = '\0';
    }
    return out;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

static int dig(char c)
{
    return c - '0';
}

/* Luhn over n digits (the last one is the check digit). */
static bool luhn(const char *s, size_t n)
{
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int d = dig(s[n - 1 - i]);
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

/* ISO 7064 MOD 11,10 over n digits (the last one is the check digit). */
static bool mod11_10(const char *s, size_t n)
{
    int product = 10;
    for (size_t i = 0; i + 1 < n; i++) {
        int sum = (dig(s[i]) + product) % 10;
        if (sum == 0)
            sum = 10;
        product = (2 * sum) % 11;
    }
    int check = 11 - product;
    if (check == 10)
        check = 0;
    return check == dig(s[n - 1]);
}

static int64_t number(const char *s, size_t n)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + dig(s[i]);
    return v;
}

/* ---- email ------------------------------------------------------------------------------ */

static bool atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL) || c >= 0x80;
}

static void describe_char(unsigned char c, char *out, size_t size)
{
    if (c == ' ')
        snprintf(out, size, "a space");
    else if (c == '\t')
        snprintf(out, size, "a tab");
    else if (c == '\n' || c == '\r')
        snprintf(out, size, "a line break");
    else if (c == ':')
        snprintf(out, size, "a colon (:)");
    else if (c < 0x20 || c == 0x7F)
        snprintf(out, size, "a control character");
    else
        snprintf(out, size, "the character '%c'", c);
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t need = 9;
        if (c < 0x80)
            need = 0;
        else if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF)
            need = 2;
        else if (c >= 0xF0 && c <= 0xF4)
            need = 3;
        if (need == 9 || i + need >= n)
            return false;
        for (size_t k = 1; k <= need; k++)
            if ((s[i + k] & 0xC0u) != 0x80u)
                return false;
        i += need + 1;
    }
    return true;
}

/* Why email is not valid, or false when it is. */
static bool email_why(const char *email, char *why, size_t size)
{
    size_t len = strlen(email);
    if (len == 0) {
        snprintf(why, size, "it is empty");
        return true;
    }
    if (!utf8_valid((const unsigned char *)email, len)) {
        snprintf(why, size, "it is not valid UTF-8 text");
        return true;
    }
    if (email[0] == ' ' || email[len - 1] == ' ') {
        snprintf(why, size, "it starts or ends with a space");
        return true;
    }
    if (len > 254) {
        snprintf(why, size, "it is %zu characters long; at most 254 are allowed", len);
        return true;
    }
    const char *at = strrchr(email, '@');
    if (at == NULL) {
        snprintf(why, size, "it contains no '@'");
        return true;
    }
    size_t llen = (size_t)(at - email);
    const char *dom = at + 1;
    size_t dlen = strlen(dom);
    bool quoted = llen >= 2 && email[0] == '"' && email[llen - 1] == '"';
    if (!quoted && memchr(email, '@', llen) != NULL) {
        snprintf(why, size, "it contains more than one '@'");
        return true;
    }
    if (llen == 0) {
        snprintf(why, size, "there is nothing before the '@'");
        return true;
    }
    if (dlen == 0) {
        snprintf(why, size, "there is nothing after the '@'");
        return true;
    }
    if (llen > 64) {
        snprintf(why, size,
                 "the part before the '@' is %zu characters long; at most 64 are "
                 "allowed",
                 llen);
        return true;
    }
    char c_desc[32];
    if (quoted) {
        for (size_t i = 1; i + 1 < llen; i++) {
            unsigned char c = (unsigned char)email[i];
            if (c == '\\' && i + 2 < llen) {
                i++;
                continue;
            }
            if (c == '"' || c == '\\' || c < 0x20 || c == 0x7F) {
                describe_char(c, c_desc, sizeof c_desc);
                snprintf(why, size, "its quoted part contains %s", c_desc);
                return true;
            }
        }
    } else {
        if (email[0] == '.' || email[llen - 1] == '.') {
            snprintf(why, size, "the part before the '@' %s with a dot",
                     email[0] == '.' ? "starts" : "ends");
            return true;
        }
        for (size_t i = 0; i < llen; i++) {
            unsigned char c = (unsigned char)email[i];
            if (c == '.' && email[i + 1] == '.') {
                snprintf(why, size, "it contains two dots in a row");
                return true;
            }
            if (c != '.' && !atext(c)) {
                describe_char(c, c_desc, sizeof c_desc);
                snprintf(why, size, "it contains %s", c_desc);
                return true;
            }
        }
    }
    if (dom[0] == '[') {
        snprintf(why, size,
                 "the domain '%.80s' is an address in brackets, which mail systems do "
                 "not accept",
                 dom);
        return true;
    }
    if (dlen > 253) {
        snprintf(why, size, "the domain is %zu characters long; at most 253 are allowed", dlen);
        return true;
    }
    size_t labels = 0;
    const char *last = NULL;
    for (const char *p = dom;;) {
        size_t n = strcspn(p, ".");
        if (n == 0) {
            snprintf(why, size, "the domain '%.80s' %s", dom,
                     p == dom       ? "starts with a dot"
                     : p[0] == '\0' ? "ends with a dot"
                                    : "contains two dots in a row");
            return true;
        }
        if (n > 63) {
            snprintf(why, size, "a part of the domain is longer than 63 characters");
            return true;
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit((char)c) ||
                      c == '-' || c >= 0x80;
            if (!ok) {
                describe_char(c, c_desc, sizeof c_desc);
                snprintf(why, size, "its domain contains %s", c_desc);
                return true;
            }
        }
        if (p[0] == '-' || p[n - 1] == '-') {
            snprintf(why, size, "a part of the domain '%.80s' starts or ends with a hyphen", dom);
            return true;
        }
        labels++;
        last = p;
        p += n;
        if (*p == '\0')
            break;
        p++;
    }
    if (labels < 2) {
        snprintf(why, size, "the domain '%.80s' has no dot (like 'example.com')", dom);
        return true;
    }
    size_t tl = strlen(last);
    if (all_digits(last, tl) || tl < 2) {
        snprintf(why, size, "the domain '%.80s' does not end in a real top-level domain", dom);
        return true;
    }
    return false;
}

int hs_validate_email(const char *email, struct hs_error *err)
{
    char why[WHY_MAX];
    char s[SHOWN_MAX + 4];
    if (email == NULL)
        return hs_error_set(err, HS_EINVAL, "email is missing");
    if (email_why(email, why, sizeof why))
        return hs_error_set(err, HS_EINVAL, "email '%s' is not valid: %s", shown(email, s), why);
    return HS_OK;
}

/* ---- tax ids ---------------------------------------------------------------------------- */

enum tax_status { TAX_OK = 0, TAX_WARN = 1, TAX_FORMAT = 2, TAX_CHECK = 3 };

struct tax_scheme {
    const char *country; /* ISO code of the scheme */
    const char *prefix;  /* VAT prefix written before the number, or NULL */
    const char *label;
    const char *format; /* what a valid body looks like */
    enum tax_status (*check)(const char *b, size_t n, char *why, size_t size);
};

static enum tax_status tax_at(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    if (n != 9 || b[0] != 'U' || !all_digits(b + 1, 8))
        return TAX_FORMAT;
    int sum = 0;
    for (size_t i = 0; i < 7; i++) {
        int d = dig(b[1 + i]);
        if (i % 2 == 1) {
            d *= 2;
            d = d / 10 + d % 10;
        }
        sum += d;
    }
    return (10 - (sum + 4) % 10) % 10 == dig(b[8]) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_be(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    char tmp[10];
    if (n == 9 && all_digits(b, 9)) { /* old numbers: a 0 in front */
        tmp[0] = '0';
        memcpy(tmp + 1, b, 9);
        b = tmp;
        n = 10;
    }
    if (n != 10 || !all_digits(b, 10) || (b[0] != '0' && b[0] != '1'))
        return TAX_FORMAT;
    return 97 - number(b, 8) % 97 == number(b + 8, 2) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_de(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    if (n != 9 || !all_digits(b, 9) || b[0] == '0')
        return TAX_FORMAT;
    return mod11_10(b, 9) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_dk(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    static const int w[8] = {2, 7, 6, 5, 4, 3, 2, 1};
    if (n != 8 || !all_digits(b, 8) || b[0] == '0')
        return TAX_FORMAT;
    int sum = 0;
    for (size_t i = 0; i < 8; i++)
        sum += dig(b[i]) * w[i];
    return sum % 11 == 0 ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_ee(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    static const int w[8] = {3, 7, 1, 3, 7, 1, 3, 7};
    if (n != 9 || !all_digits(b, 9))
        return TAX_FORMAT;
    int sum = 0;
    for (size_t i = 0; i < 8; i++)
        sum += dig(b[i]) * w[i];
    return (10 - sum % 10) % 10 == dig(b[8]) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_gr(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    char tmp[9];
    if (n == 8 && all_digits(b, 8)) { /* old 8-digit numbers take a leading 0 */
        tmp[0] = '0';
        memcpy(tmp + 1, b, 8);
        b = tmp;
        n = 9;
    }
    if (n != 9 || !all_digits(b, 9))
        return TAX_FORMAT;
    int sum = 0;
    for (size_t i = 0; i < 8; i++)
        sum += dig(b[i]) << (8 - i);
    return sum % 11 % 10 == dig(b[8]) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_es(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    static const char nif_letters[] = "TRWAGMYFPDXBNJZSQVHLCKE";
    if (n != 9 || !all_digits(b + 1, 7))
        return TAX_FORMAT;
    char first = b[0];
    char last = b[8];
    if (is_digit(first) || first == 'X' || first == 'Y' || first == 'Z' || first == 'K' ||
        first == 'L' || first == 'M') {
        if (!is_upper(last))
            return TAX_FORMAT;
        int64_t v = number(b + 1, 7);
        if (is_digit(first))
            v = number(b, 8);
        else if (first == 'Y')
            v += 10000000;
        else if (first == 'Z')
            v += 20000000;
        return nif_letters[v % 23] == last ? TAX_OK : TAX_CHECK;
    }
    if (strchr("ABCDEFGHJNPQRSUVW", first) == NULL || first == '\0')
        return TAX_FORMAT;
    int sum = 0;
    for (size_t i = 0; i < 7; i++) {
        int d = dig(b[1 + i]);
        if (i % 2 == 0) {
            d *= 2;
            d = d / 10 + d % 10;
        }
        sum += d;
    }
    int control = (10 - sum % 10) % 10;
    char letter = "JABCDEFGHI"[control];
    bool wants_letter = strchr("KPQSNW", first) != NULL;
    bool wants_digit = strchr("ABEH", first) != NULL;
    if (is_digit(last))
        return !wants_letter && dig(last) == control ? TAX_OK : TAX_CHECK;
    if (is_upper(last))
        return !wants_digit && last == letter ? TAX_OK : TAX_CHECK;
    return TAX_FORMAT;
}

static enum tax_status tax_fi(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    static const int w[7] = {7, 9, 10, 5, 8, 4, 2};
    if (n != 8 || !all_digits(b, 8))
        return TAX_FORMAT;
    int sum = 0;
    for (size_t i = 0; i < 7; i++)
        sum += dig(b[i]) * w[i];
    int r = sum % 11;
    if (r == 1)
        return TAX_CHECK;
    return (r == 0 ? 0 : 11 - r) == dig(b[7]) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_fr(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    if (n != 11 || !all_digits(b + 2, 9))
        return TAX_FORMAT;
    for (size_t i = 0; i < 2; i++)
        if (!is_digit(b[i]) && (!is_upper(b[i]) || b[i] == 'I' || b[i] == 'O'))
            return TAX_FORMAT;
    if (!is_digit(b[0]) || !is_digit(b[1]))
        return TAX_OK; /* letter keys use a scheme the tax office does not publish */
    return (12 + 3 * (number(b + 2, 9) % 97)) % 97 == number(b, 2) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_hr(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    if (n != 11 || !all_digits(b, 11))
        return TAX_FORMAT;
    return mod11_10(b, 11) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_hu(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    static const int w[7] = {9, 7, 3, 1, 9, 7, 3};
    if (n != 8 || !all_digits(b, 8))
        return TAX_FORMAT;
    int sum = 0;
    for (size_t i = 0; i < 7; i++)
        sum += dig(b[i]) * w[i];
    return (10 - sum % 10) % 10 == dig(b[7]) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_ie(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    static const char letters[] = "WABCDEFGHIJKLMNOPQRSTUV";
    char tmp[9];
    /* old style: digit, letter or + or *, 5 digits, letter -> 0 + 5 digits + digit + letter */
    if (n == 8 && is_digit(b[0]) && (is_upper(b[1]) || b[1] == '+' || b[1] == '*') &&
        all_digits(b + 2, 5) && is_upper(b[7])) {
        tmp[0] = '0';
        memcpy(tmp + 1, b + 2, 5);
        tmp[6] = b[0];
        tmp[7] = b[7];
        b = tmp;
    }
    if ((n != 8 && n != 9) || !all_digits(b, 7) || !is_upper(b[7]) || (n == 9 && !is_upper(b[8])))
        return TAX_FORMAT;
    int sum = 0;
    for (size_t i = 0; i < 7; i++)
        sum += dig(b[i]) * (int)(8 - i);
    if (n == 9 && b[8] != 'W') {
        if (b[8] > 'I')
            return TAX_FORMAT;
        sum += (b[8] - 'A' + 1) * 9;
    }
    return letters[sum % 23] == b[7] ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_it(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    if (n != 11 || !all_digits(b, 11))
        return TAX_FORMAT;
    return luhn(b, 11) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_lu(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    if (n != 8 || !all_digits(b, 8))
        return TAX_FORMAT;
    return number(b, 6) % 89 == number(b + 6, 2) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_nl(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    if (n != 12 || !all_digits(b, 9) || b[9] != 'B' || !all_digits(b + 10, 2))
        return TAX_FORMAT;
    int sum = 0;
    for (size_t i = 0; i < 8; i++)
        sum += dig(b[i]) * (int)(9 - i);
    if (sum % 11 != 10 && sum % 11 == dig(b[8]))
        return TAX_OK;
    /* since 2020 sole traders' numbers: "NL" + number, letters as 10..35, mod 97 == 1 */
    int r = (23 * 100 + 21) % 97; /* N = 23, L = 21 */
    for (size_t i = 0; i < 12; i++) {
        if (is_digit(b[i]))
            r = (r * 10 + dig(b[i])) % 97;
        else
            r = (r * 100 + (b[i] - 'A' + 10)) % 97;
    }
    return r == 1 ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_pl(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    static const int w[9] = {6, 5, 7, 2, 3, 4, 5, 6, 7};
    if (n != 10 || !all_digits(b, 10))
        return TAX_FORMAT;
    int sum = 0;
    for (size_t i = 0; i < 9; i++)
        sum += dig(b[i]) * w[i];
    return sum % 11 != 10 && sum % 11 == dig(b[9]) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_pt(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    if (n != 9 || !all_digits(b, 9))
        return TAX_FORMAT;
    int sum = 0;
    for (size_t i = 0; i < 8; i++)
        sum += dig(b[i]) * (int)(9 - i);
    int check = 11 - sum % 11;
    if (check >= 10)
        check = 0;
    return check == dig(b[8]) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_se(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    if (n != 12 || !all_digits(b, 12) || b[10] != '0' || b[11] != '1')
        return TAX_FORMAT;
    return luhn(b, 10) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_si(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    if (n != 8 || !all_digits(b, 8) || b[0] == '0')
        return TAX_FORMAT;
    int sum = 0;
    for (size_t i = 0; i < 7; i++)
        sum += dig(b[i]) * (int)(8 - i);
    int check = 11 - sum % 11;
    if (check == 11)
        return TAX_CHECK;
    if (check == 10)
        check = 0;
    return check == dig(b[7]) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_sk(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    if (n != 10 || !all_digits(b, 10) || b[0] == '0')
        return TAX_FORMAT;
    return number(b, 10) % 11 == 0 ? TAX_OK : TAX_CHECK;
}

/* Weighted digit sum of s[0..n) with weights w[0..n). */
static int weighted(const char *s, const int *w, size_t n)
{
    int sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += dig(s[i]) * w[i];
    return sum;
}

/* Whether y-m-d is a day of the Gregorian calendar. */
static bool is_date(int y, int m, int d)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap ? 1 : 0);
}

/* BG personal number (EGN): YYMMDD (month +20 for the 1800s, +40 for the 2000s), weights
 * 2 4 8 5 10 9 7 3 6, mod 11 mod 10. */
static bool bg_egn(const char *b)
{
    static const int w[9] = {2, 4, 8, 5, 10, 9, 7, 3, 6};
    int y = 1900 + (int)number(b, 2);
    int m = (int)number(b + 2, 2);
    if (m > 40) {
        y += 100;
        m -= 40;
    } else if (m > 20) {
        y -= 100;
        m -= 20;
    }
    return is_date(y, m, (int)number(b + 4, 2)) && weighted(b, w, 9) % 11 % 10 == dig(b[9]);
}

/* BG: 9 digits for legal entities (weights 1..8 mod 11; a remainder of 10 takes weights
 * 3..10, then mod 10); 10 digits for a citizen (EGN), a foreigner (LNCh: weights 21 19 17 13
 * 11 9 7 3 1, mod 10) or others (weights 4 3 2 7 6 5 4 3 2, 11 - sum mod 11). */
static enum tax_status tax_bg(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    static const int legal1[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const int legal2[8] = {3, 4, 5, 6, 7, 8, 9, 10};
    static const int foreigner[9] = {21, 19, 17, 13, 11, 9, 7, 3, 1};
    static const int other[9] = {4, 3, 2, 7, 6, 5, 4, 3, 2};
    if ((n != 9 && n != 10) || !all_digits(b, n))
        return TAX_FORMAT;
    if (n == 9) {
        int r = weighted(b, legal1, 8) % 11;
        if (r == 10)
            r = weighted(b, legal2, 8) % 11 % 10;
        return r == dig(b[8]) ? TAX_OK : TAX_CHECK;
    }
    if (bg_egn(b) || weighted(b, foreigner, 9) % 10 == dig(b[9]))
        return TAX_OK;
    return (11 - weighted(b, other, 9) % 11) % 11 == dig(b[9]) ? TAX_OK : TAX_CHECK;
}

/* CY: 8 digits (not starting with 12) and a check letter: digits in odd places map through
 * 1 0 5 7 9 13 15 17 19 21, the others count as themselves, sum mod 26 as A..Z. */
static enum tax_status tax_cy(const char *b, size_t n, char *why, size_t size)
{
    static const int odd[10] = {1, 0, 5, 7, 9, 13, 15, 17, 19, 21};
    if (n != 9 || !all_digits(b, 8) || !is_upper(b[8]))
        return TAX_FORMAT;
    if (b[0] == '1' && b[1] == '2') {
        snprintf(why, size, "no number after CY starts with 12");
        return TAX_FORMAT;
    }
    int sum = 0;
    for (size_t i = 0; i < 8; i++)
        sum += i % 2 == 0 ? odd[dig(b[i])] : dig(b[i]);
    return 'A' + sum % 26 == b[8] ? TAX_OK : TAX_CHECK;
}

/* CZ: 8 digits for legal entities (weights 8..2, 11 - sum mod 11; 0 -> 1, 10 -> 0); 9 digits
 * starting with 6 for individuals without a birth number (digits 2..8 weighted 8..2); else
 * the birth number: YYMMDD (month +50 for women, +20 when a day's serials ran out), 9 digits
 * for births before 1954 (no check digit) or 10 digits, the last being the first 9 mod 11
 * mod 10. */
static enum tax_status tax_cz(const char *b, size_t n, char *why, size_t size)
{
    static const int w[7] = {8, 7, 6, 5, 4, 3, 2};
    if (n < 8 || n > 10 || !all_digits(b, n))
        return TAX_FORMAT;
    if (n == 8) {
        if (b[0] == '9') {
            snprintf(why, size, "an 8-digit number after CZ cannot start with 9");
            return TAX_FORMAT;
        }
        int check = (11 - weighted(b, w, 7) % 11) % 11;
        check = check == 0 ? 1 : check % 10;
        return check == dig(b[7]) ? TAX_OK : TAX_CHECK;
    }
    if (n == 9 && b[0] == '6') {
        int r = weighted(b + 1, w, 7) % 11;
        int check = ((8 - (10 - r) % 11) % 10 + 10) % 10;
        return check == dig(b[8]) ? TAX_OK : TAX_CHECK;
    }
    int yy = (int)number(b, 2);
    int m = (int)number(b + 2, 2);
    if (m > 70)
        m -= 70;
    else if (m > 50)
        m -= 50;
    else if (m > 20)
        m -= 20;
    int y = n == 10 ? (yy < 54 ? 2000 : 1900) + yy : (yy >= 80 ? 1800 : 1900) + yy;
    if (n == 9 && y >= 1954) {
        snprintf(why, size, "9-digit numbers after CZ belong to people born before 1954");
        return TAX_FORMAT;
    }
    if (!is_date(y, m, (int)number(b + 4, 2))) {
        snprintf(why, size, "a %zu-digit number after CZ should start with a birth date (YYMMDD)",
                 n);
        return TAX_FORMAT;
    }
    if (n == 9)
        return TAX_OK;
    return number(b, 9) % 11 % 10 == dig(b[9]) ? TAX_OK : TAX_CHECK;
}

/* LT: 9 digits for legal entities, 12 for temporary taxpayers, the last but one being 1;
 * weights 1..9 cycling mod 11, on 10 again with weights 3..9, 1.. cycling, then mod 10. */
static enum tax_status tax_lt(const char *b, size_t n, char *why, size_t size)
{
    if ((n != 9 && n != 12) || !all_digits(b, n))
        return TAX_FORMAT;
    if (b[n - 2] != '1') {
        snprintf(why, size, "the last but one digit of a number after LT should be 1");
        return TAX_FORMAT;
    }
    int sum = 0;
    for (size_t i = 0; i + 1 < n; i++)
        sum += dig(b[i]) * (int)(1 + i % 9);
    int r = sum % 11;
    if (r == 10) {
        sum = 0;
        for (size_t i = 0; i + 1 < n; i++)
            sum += dig(b[i]) * (int)(1 + (i + 2) % 9);
        r = sum % 11 % 10;
    }
    return r == dig(b[n - 1]) ? TAX_OK : TAX_CHECK;
}

/* LV: 11 digits. Legal entities start with 4..9: weights 9 1 4 8 3 10 2 5 7 6 1, sum mod 11
 * is 3. Individuals give their personal code, DDMMYY and a century digit (0 for the 1800s,
 * 1 for the 1900s, 2 for the 2000s), or since July 2017 32 and no date. Their last digit is
 * not checked: no official source publishes its algorithm. */
static enum tax_status tax_lv(const char *b, size_t n, char *why, size_t size)
{
    static const int w[11] = {9, 1, 4, 8, 3, 10, 2, 5, 7, 6, 1};
    if (n != 11 || !all_digits(b, 11))
        return TAX_FORMAT;
    if (b[0] > '3')
        return weighted(b, w, 11) % 11 == 3 ? TAX_OK : TAX_CHECK;
    if (b[0] == '3' && b[1] == '2')
        return TAX_OK;
    int y = 1800 + 100 * dig(b[6]) + (int)number(b + 4, 2);
    if (b[6] > '2' || !is_date(y, (int)number(b + 2, 2), (int)number(b, 2))) {
        snprintf(why, size,
                 "a personal code after LV should be a birth date (DDMMYY), a century digit "
                 "(0, 1 or 2) and 4 more digits");
        return TAX_FORMAT;
    }
    return TAX_OK;
}

/* MT: 8 digits, the first not 0; the last two are 37 - (weights 3 4 6 7 8 9 mod 37). */
static enum tax_status tax_mt(const char *b, size_t n, char *why, size_t size)
{
    static const int w[6] = {3, 4, 6, 7, 8, 9};
    if (n != 8 || !all_digits(b, 8))
        return TAX_FORMAT;
    if (b[0] == '0') {
        snprintf(why, size, "no number after MT starts with 0");
        return TAX_FORMAT;
    }
    return 37 - weighted(b, w, 6) % 37 == number(b + 6, 2) ? TAX_OK : TAX_CHECK;
}

/* RO: 2 to 10 digits, the first not 0; key 7 5 3 2 1 7 5 3 2 against the digits before the
 * check digit, aligned right, 10 x sum mod 11 mod 10. */
static enum tax_status tax_ro(const char *b, size_t n, char *why, size_t size)
{
    static const int w[9] = {7, 5, 3, 2, 1, 7, 5, 3, 2};
    if (n < 2 || n > 10 || !all_digits(b, n))
        return TAX_FORMAT;
    if (b[0] == '0') {
        snprintf(why, size, "no number after RO starts with 0");
        return TAX_FORMAT;
    }
    return weighted(b, w + (10 - n), n - 1) * 10 % 11 % 10 == dig(b[n - 1]) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_gb(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    if (n == 5 && (memcmp(b, "GD", 2) == 0 || memcmp(b, "HA", 2) == 0) && all_digits(b + 2, 3)) {
        int64_t v = number(b + 2, 3); /* government departments < 500, health authorities >= */
        return (b[0] == 'G') == (v < 500) ? TAX_OK : TAX_FORMAT;
    }
    if ((n != 9 && n != 12) || !all_digits(b, n))
        return TAX_FORMAT;
    int sum = 0;
    for (size_t i = 0; i < 7; i++)
        sum += dig(b[i]) * (int)(8 - i);
    sum += (int)number(b + 7, 2);
    return sum % 97 == 0 || (sum + 55) % 97 == 0 ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_au(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    static const int w[11] = {10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19};
    if (n != 11 || !all_digits(b, 11) || b[0] == '0')
        return TAX_FORMAT;
    int sum = 0;
    for (size_t i = 0; i < 11; i++)
        sum += (dig(b[i]) - (i == 0 ? 1 : 0)) * w[i];
    return sum % 89 == 0 ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_us(const char *b, size_t n, char *why, size_t size)
{
    /* prefixes the IRS assigns (IRS "How EINs are assigned and valid EIN prefixes") */
    static const char *const ranges[] = {"0106", "1016", "2027", "3039", "4048",
                                         "5068", "7177", "8088", "9095", "9899"};
    if (n != 9 || !all_digits(b, 9))
        return TAX_FORMAT;
    int p = (int)number(b, 2);
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (p >= (int)number(ranges[i], 2) && p <= (int)number(ranges[i] + 2, 2))
            return TAX_OK;
    snprintf(why, size, "starts with %02d, a prefix the IRS does not assign; please check it", p);
    return TAX_WARN;
}

static enum tax_status tax_ca(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    if (n != 9 && !(n == 15 && is_upper(b[9]) && is_upper(b[10]) && all_digits(b + 11, 4)))
        return TAX_FORMAT;
    if (!all_digits(b, 9))
        return TAX_FORMAT;
    return luhn(b, 9) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_ch(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    static const int w[8] = {5, 4, 3, 2, 7, 6, 5, 4};
    if (n > 9 && (strcmp(b + 9, "MWST") == 0 || strcmp(b + 9, "TVA") == 0 ||
                  strcmp(b + 9, "IVA") == 0 || strcmp(b + 9, "TPV") == 0))
        n = 9;
    if (n != 9 || !all_digits(b, 9))
        return TAX_FORMAT;
    int sum = 0;
    for (size_t i = 0; i < 8; i++)
        sum += dig(b[i]) * w[i];
    int check = 11 - sum % 11;
    if (check == 11)
        check = 0;
    return check != 10 && check == dig(b[8]) ? TAX_OK : TAX_CHECK;
}

/* Two mod-11 check digits over weights starting at top (CNPJ: cycling 2..9; CPF: 10..2). */
static bool br_digits(const char *b, size_t n, bool cnpj)
{
    for (size_t k = n - 2; k < n; k++) {
        int sum = 0;
        for (size_t i = 0; i < k; i++) {
            int w = cnpj ? (int)((k - 1 - i) % 8) + 2 : (int)(k + 1 - i);
            sum += dig(b[i]) * w;
        }
        int check = sum % 11 < 2 ? 0 : 11 - sum % 11;
        if (check != dig(b[k]))
            return false;
    }
    return true;
}

static enum tax_status tax_br(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    if ((n != 14 && n != 11) || !all_digits(b, n))
        return TAX_FORMAT;
    return br_digits(b, n, n == 14) ? TAX_OK : TAX_CHECK;
}

static enum tax_status tax_jp(const char *b, size_t n, char *why, size_t size)
{
    (void)why;
    (void)size;
    if (n != 13 || !all_digits(b, 13))
        return TAX_FORMAT;
    int sum = 0;
    for (size_t k = 1; k <= 12; k++)
        sum += dig(b[13 - k]) * (k % 2 == 1 ? 1 : 2);
    return 9 - sum % 9 == dig(b[0]) ? TAX_OK : TAX_CHECK;
}

/* clang-format off */
static const struct tax_scheme schemes[] = {
    {"AT", "AT", "VAT number", "U followed by 8 digits", tax_at},
    {"AU", NULL, "ABN", "11 digits", tax_au},
    {"BE", "BE", "VAT number", "10 digits starting with 0 or 1", tax_be},
    {"BG", "BG", "VAT number", "9 or 10 digits", tax_bg},
    {"BR", NULL, "CNPJ", "14 digits (or 11 for a CPF)", tax_br},
    {"CA", NULL, "Business number", "9 digits, optionally followed by a program account such as RT0001", tax_ca},
    {"CH", "CHE", "UID/VAT number", "9 digits", tax_ch},
    {"CY", "CY", "VAT number", "8 digits and a letter", tax_cy},
    {"CZ", "CZ", "VAT number", "8 to 10 digits", tax_cz},
    {"DE", "DE", "VAT number", "9 digits", tax_de},
    {"DK", "DK", "VAT number", "8 digits", tax_dk},
    {"EE", "EE", "VAT number", "9 digits", tax_ee},
    {"ES", "ES", "VAT number", "9 characters: a letter or digit, 7 digits, a letter or digit", tax_es},
    {"FI", "FI", "VAT number", "8 digits", tax_fi},
    {"FR", "FR", "VAT number", "a 2-character key and 9 digits", tax_fr},
    {"GB", "GB", "VAT number", "9 digits (12 for a branch)", tax_gb},
    {"GR", "EL", "VAT number", "9 digits", tax_gr},
    {"HR", "HR", "VAT number", "11 digits", tax_hr},
    {"HU", "HU", "VAT number", "8 digits", tax_hu},
    {"IE", "IE", "VAT number", "7 digits and 1 or 2 letters", tax_ie},
    {"IT", "IT", "VAT number", "11 digits", tax_it},
    {"JP", NULL, "Corporate number", "13 digits", tax_jp},
    {"LT", "LT", "VAT number", "9 or 12 digits", tax_lt},
    {"LU", "LU", "VAT number", "8 digits", tax_lu},
    {"LV", "LV", "VAT number", "11 digits", tax_lv},
    {"MT", "MT", "VAT number", "8 digits", tax_mt},
    {"NL", "NL", "VAT number", "9 digits, the letter B and 2 digits", tax_nl},
    {"PL", "PL", "VAT number", "10 digits", tax_pl},
    {"PT", "PT", "VAT number", "9 digits", tax_pt},
    {"RO", "RO", "VAT number", "2 to 10 digits", tax_ro},
    {"SE", "SE", "VAT number", "12 digits ending in 01", tax_se},
    {"SI", "SI", "VAT number", "8 digits", tax_si},
    {"SK", "SK", "VAT number", "10 digits", tax_sk},
    {"US", NULL, "EIN", "9 digits (12-3456789)", tax_us},
};
/* clang-format on */

static const struct tax_scheme *scheme_for(const char *country)
{
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (strcmp(schemes[i].country, country) == 0)
            return &schemes[i];
    return NULL;
}

/* The names people paste in front of a number of a scheme without a VAT prefix. */
static const struct {
    const char *country;
    const char *word; /* upper case */
} tax_words[] = {
    {"AU", "ABN"},
    {"US", "EIN"},
};

static bool is_separator(char c)
{
    return c == ' ' || c == '	' || (c >= '!' && c <= '/') || (c >= ':' && c <= '@') ||
           (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
}

/* Length of the name of country's number when tax_id starts with it in any case, after
 * optional blanks, followed by a space or punctuation ("ABN: 51 824 753 556"), else 0. */
static size_t leading_word(const char *tax_id, const char *country)
{
    while (*tax_id == ' ' || *tax_id == '\t')
        tax_id++;
    for (size_t i = 0; i < sizeof tax_words / sizeof tax_words[0]; i++) {
        if (strcmp(tax_words[i].country, country) != 0)
            continue;
        const char *w = tax_words[i].word;
        size_t len = strlen(w);
        for (size_t k = 0; k < len; k++) {
            char c = tax_id[k];
            if (c >= 'a' && c <= 'z')
                c = (char)(c - 'a' + 'A');
            if (c != w[k])
                return 0;
        }
        return is_separator(tax_id[len]) ? len : 0;
    }
    return 0;
}

/*
 * Judges tax_id; on a problem writes the sentence into msg. Returns TAX_OK (also for schemes
 * not judged), TAX_WARN, TAX_FORMAT or TAX_CHECK.
 */
static enum tax_status tax_check(const char *tax_id, const char *country, char *msg, size_t size)
{
    char shown_id[SHOWN_MAX + 4];
    shown(tax_id, shown_id);
    char key[TAX_ID_MAX + 1];
    size_t n = 0;
    for (const char *p = tax_id; *p != '\0'; p++) {
        char c = *p;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (!is_digit(c) && !is_upper(c))
            continue;
        if (n == TAX_ID_MAX) {
            snprintf(msg, size, "Tax id '%s' is too long to be a tax id", shown_id);
            return TAX_FORMAT;
        }
        key[n++] = c;
    }
    key[n] = '\0';
    const struct tax_scheme *sc = NULL;
    const char *body = key;
    /* a VAT prefix names the scheme, whatever the address says */
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0] && sc == NULL; i++) {
        const char *pf = schemes[i].prefix;
        if (pf != NULL && strncmp(key, pf, strlen(pf)) == 0 && n > strlen(pf)) {
            sc = &schemes[i];
            body = key + strlen(pf);
        }
    }
    if (sc == NULL && strncmp(key, "XI", 2) == 0 && n > 2) {
        sc = scheme_for("GB"); /* Northern Ireland */
        body = key + 2;
    }
    if (sc == NULL && country != NULL && country[0] != '\0') {
        sc = scheme_for(country);
        size_t word = sc != NULL ? leading_word(tax_id, sc->country) : 0;
        if (word > 0)
            body = key + word; /* "ABN 51 824 753 556", "EIN 12-3456789" */
        else if (sc != NULL && strncmp(key, sc->country, 2) == 0 && n > 2 && is_upper(key[1]) &&
                 sc->prefix == NULL)
            body = key + 2; /* "US12-3456789" */
    }
    if (sc == NULL)
        return TAX_OK; /* not a scheme we judge */
    if (n == 0) {
        snprintf(msg, size, "%s '%s' for %s contains no letters or digits", sc->label, shown_id,
                 hs_country_name(sc->country));
        return TAX_FORMAT;
    }
    char why[WHY_MAX] = "";
    enum tax_status st = sc->check(body, strlen(body), why, sizeof why);
    const char *cname = hs_country_name(sc->country);
    switch (st) {
    case TAX_OK:
        break;
    case TAX_WARN:
        snprintf(msg, size, "%s '%s' for %s %s", sc->label, shown_id, cname, why);
        break;
    case TAX_FORMAT:
        if (why[0] != '\0')
            snprintf(msg, size, "%s '%s' for %s is not valid: %s", sc->label, shown_id, cname, why);
        else if (sc->prefix != NULL)
            snprintf(msg, size, "%s '%s' for %s should have %s after %s", sc->label, shown_id,
                     cname, sc->format, sc->prefix);
        else
            snprintf(msg, size, "%s '%s' for %s should have %s", sc->label, shown_id, cname,
                     sc->format);
        break;
    case TAX_CHECK:
        snprintf(msg, size,
                 "%s '%s' for %s is not valid: its check digits do not match, which usually "
                 "means a typing error",
                 sc->label, shown_id, cname);
        break;
    }
    return st;
}

int hs_validate_tax_id(const char *tax_id, const char *country, struct hs_error *err)
{
    if (tax_id == NULL)
        return hs_error_set(err, HS_EINVAL, "tax id is missing");
    char msg[HS_ERRMSG_MAX];
    enum tax_status st = tax_check(tax_id, country, msg, sizeof msg);
    if (st == TAX_OK)
        return HS_OK;
    if (st == TAX_WARN) {
        hs_error_set(err, HS_OK, "%s", msg);
        return 1;
    }
    return hs_error_set(err, HS_EINVAL, "%s", msg);
}

/* ---- records ---------------------------------------------------------------------------- */

static const struct hs_validate_limit qbo_customer_limits[] = {
    {"display_name", "Display name", 500, ":\t\n\r", true, true, false},
    {"company_name", "Company name", 100, NULL, false, false, false},
    {"given_name", "First name", 100, NULL, false, false, false},
    {"family_name", "Last name", 100, NULL, false, false, false},
    {"email", "Email", 100, NULL, false, false, false},
    {"phone", "Phone", 30, NULL, false, false, false},
    {"website", "Website", 1000, NULL, false, false, false},
    {"notes", "Notes", 2000, NULL, false, false, false},
    {"billing_address.line1", "Billing address line 1", 500, NULL, false, false, false},
    {"billing_address.line2", "Billing address line 2", 500, NULL, false, false, false},
    {"billing_address.line3", "Billing address line 3", 500, NULL, false, false, false},
    {"billing_address.city", "Billing city", 255, NULL, false, false, false},
    {"billing_address.region", "Billing state or region", 255, NULL, false, false, false},
    {"billing_address.postcode", "Billing postcode", 30, NULL, false, false, false},
    {"shipping_address.line1", "Shipping address line 1", 500, NULL, false, false, false},
    {"shipping_address.line2", "Shipping address line 2", 500, NULL, false, false, false},
    {"shipping_address.line3", "Shipping address line 3", 500, NULL, false, false, false},
    {"shipping_address.city", "Shipping city", 255, NULL, false, false, false},
    {"shipping_address.region", "Shipping state or region", 255, NULL, false, false, false},
    {"shipping_address.postcode", "Shipping postcode", 30, NULL, false, false, false},
    {"tax_id", "Tax id", 20, NULL, false, false, false},
};

const struct hs_validate_limit *hs_validate_quickbooks_customer_limits(size_t *n_out)
{
    *n_out = sizeof qbo_customer_limits / sizeof qbo_customer_limits[0];
    return qbo_customer_limits;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xC0u) != 0x80u;
    return n;
}

static bool blank(const char *s)
{
    for (; *s != '\0'; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

static int check_limit(const struct hs_record *rec, const struct hs_fields *fields,
                       const struct hs_validate_limit *lim, const struct hs_validate_rules *rules,
                       struct hs_validate_issues *out)
{
    const char *provider = rules->provider != NULL ? rules->provider : "the accounting system";
    const char *label = lim->label != NULL ? lim->label : lim->field;
    if (lim->read_only)
        return HS_OK; /* a direction of the sync, not a rule on values (engine.c) */
    const char *v = hs_fields_get(fields, lim->field);
    char s[SHOWN_MAX + 4];
    if (v == NULL || blank(v)) {
        if (lim->required)
            return hs_validate_issues_add(out, HS_VALIDATE_ERROR, lim->field,
                                          "%s is required by %s", label, provider);
        return HS_OK;
    }
    int rc = HS_OK;
    size_t chars = utf8_chars(v);
    if (lim->max_chars > 0 && chars > lim->max_chars)
        rc = hs_validate_issues_add(out, HS_VALIDATE_ERROR, lim->field,
                                    "%s '%s' is %zu characters long; %s accepts at most %zu", label,
                                    shown(v, s), chars, provider, lim->max_chars);
    if (rc == HS_OK && lim->forbidden != NULL) {
        size_t at = strcspn(v, lim->forbidden);
        if (v[at] != '\0') {
            char what[32];
            describe_char((unsigned char)v[at], what, sizeof what);
            rc = hs_validate_issues_add(out, HS_VALIDATE_ERROR, lim->field,
                                        "%s '%s' contains %s, which %s does not accept in this "
                                        "field",
                                        label, shown(v, s), what, provider);
        }
    }
    if (rc == HS_OK && lim->unique && rules->is_taken != NULL &&
        rules->is_taken(rules->ud, rec, lim->field, v))
        rc = hs_validate_issues_add(out, HS_VALIDATE_ERROR, lim->field,
                                    "%s '%s' is already used by another customer in %s, which "
                                    "requires it to be unique",
                                    label, shown(v, s), provider);
    return rc;
}

int hs_validate_customer(const struct hs_record *rec, const struct hs_validate_rules *rules,
                         struct hs_validate_issues *out)
{
    if (rec == NULL || rec->kind != HS_KIND_CUSTOMER || out == NULL)
        return HS_EINVAL;
    const struct hs_customer *c = &rec->customer;
    size_t errors_before = out->n_errors;
    char s[SHOWN_MAX + 4];
    char why[WHY_MAX];
    int rc = HS_OK;
    if (c->email != NULL && email_why(c->email, why, sizeof why))
        rc = hs_validate_issues_add(out, HS_VALIDATE_ERROR, "email",
                                    "Email '%s' is not a valid email address: %s",
                                    shown(c->email, s), why);
    const struct {
        const char *field;
        const char *label;
        const char *code;
    } countries[] = {
        {"billing_address.country", "Billing country", c->billing_address.country},
        {"shipping_address.country", "Shipping country", c->shipping_address.country},
    };
    for (size_t i = 0; i < 2 && rc == HS_OK; i++)
        if (countries[i].code[0] != '\0' && hs_country_find(countries[i].code) == NULL)
            rc = hs_validate_issues_add(out, HS_VALIDATE_ERROR, countries[i].field,
                                        "%s '%s' is not an ISO 3166 country code",
                                        countries[i].label, shown(countries[i].code, s));
    if (rc == HS_OK && c->tax_id != NULL) {
        const char *country = c->billing_address.country[0] != '\0' ? c->billing_address.country
                                                                    : c->shipping_address.country;
        char msg[400];
        enum tax_status st = tax_check(c->tax_id, country, msg, sizeof msg);
        if (st != TAX_OK)
            rc = hs_validate_issues_add(
                out, st == TAX_WARN ? HS_VALIDATE_WARNING : HS_VALIDATE_ERROR, "tax_id", "%s", msg);
    }
    if (rc == HS_OK && rules != NULL && rules->n_limits > 0) {
        struct hs_fields fields;
        hs_fields_init(&fields);
        struct hs_error err;
        int frc = hs_record_to_fields(rec, &fields, &err);
        if (frc == HS_ENOMEM) {
            rc = HS_ENOMEM;
        } else if (frc != HS_OK) {
            rc = hs_validate_issues_add(out, HS_VALIDATE_ERROR, "", "The record is malformed: %s",
                                        err.msg);
        } else {
            for (size_t i = 0; i < rules->n_limits && rc == HS_OK; i++)
                rc = check_limit(rec, &fields, &rules->limits[i], rules, out);
        }
        hs_fields_release(&fields);
    }
    if (rc != HS_OK)
        return rc;
    return (int)(out->n_errors - errors_before);
}
