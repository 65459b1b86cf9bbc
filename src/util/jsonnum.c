/*
 * util/jsonnum.c - JSON with exact numbers (see jsonnum.h for the design).
 *
 * Design:     parse: hs_json_build with the marks option builds the tree directly (numbers
 *             as marked strings); text it refuses takes the reference path that reports the
 *             error: one pass over the input that copies it into a buffer, turning each number
 *             token found outside strings into "\u0001<text>" (a JSON string jansson decodes to
 *             the mark byte plus the text), counting nesting, and refusing strings that start
 *             with \u0001. If jansson then rejects the rewritten text, the original is parsed
 *             with hs_json_parse to report the position the caller's input really has.
 *             dump: jansson dumps the tree (it escapes the mark as \u0001); a second pass
 *             walks its output string by string and writes a string whose content is
 *             \u0001 plus valid number text without quotes and mark.
 * Invariants: the tokenizer never reads past buf + len; escapes are skipped as two bytes so an
 *             escaped quote never ends a string.
 */
#include <string.h>

#include "util/alloc.h"
#include "util/json.h" /* HS_JSON_MAX_BYTES */
#include "util/jsonnum.h"
#include "util/str.h"

/* The mark as jansson writes it inside a string, and as input spells it. */
static const char mark_esc[] = "\\u0001";
#define MARK_ESC_LEN (sizeof mark_esc - 1)

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the JSON number token at p (< end), or 0 when p does not start one. */
static size_t number_len(const char *p, const char *end)
{
    const char *s = p;
    if (s < end && *s == '-')
        s++;
    if (s >= end || !is_digit(*s))
        return 0;
    if (*s == '0')
        s++;
    else
        while (s < end && is_digit(*s))
            s++;
    if (s < end && *s == '.') {
        s++;
        if (s >= end || !is_digit(*s))
            return 0;
        while (s < end && is_digit(*s))
            s++;
    }
    if (s < end && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < end && (*s == '+' || *s == '-'))
            s++;
        if (s >= end || !is_digit(*s))
            return 0;
        while (s < end && is_digit(*s))
            s++;
    }
    return (size_t)(s - p);
}

bool hs_json_number_valid(const char *s, size_t len)
{
    return s != NULL && len > 0 && number_len(s, s + len) == len;
}

/* True when the escape at p (inside a string, p < end) spells U+0001 in any hex case. */
static bool is_mark_escape(const char *p, const char *end)
{
    return end - p >= (ptrdiff_t)MARK_ESC_LEN && p[0] == '\\' && p[1] == 'u' && p[2] == '0' &&
           p[3] == '0' && p[4] == '0' && p[5] == '1';
}

/* Rewrites (buf, len) into b; HS_OK or an error with message. */
static int rewrite(const char *buf, size_t len, const char *what, struct hs_buf *b,
                   struct hs_error *err)
{
    const char *p = buf;
    const char *end = buf + len;
    const char *run = p; /* first byte not yet copied */
    int depth = 0;
    int rc = hs_buf_reserve(b, len + len / 4 + 16);
    while (rc == HS_OK && p < end) {
        char c = *p;
        if (c == '"') {
            /* a string: copied as is, up to and including its closing quote */
            p++;
            if (is_mark_escape(p, end))
                return hs_error_set(err, HS_EPROTO,
                                    "cannot parse %s: a string starts with U+0001, which is "
                                    "reserved",
                                    what);
            while (p < end && *p != '"')
                p += (*p == '\\' && p + 1 < end) ? 2 : 1;
            if (p < end)
                p++;
            continue;
        }
        if (c == '[' || c == '{') {
            if (++depth > HS_JSONNUM_MAX_DEPTH)
                return hs_error_set(err, HS_ETOOBIG,
                                    "cannot parse %s: nesting is deeper than %d levels", what,
                                    HS_JSONNUM_MAX_DEPTH);
        } else if (c == ']' || c == '}') {
            depth--;
        }
        size_t n = (c == '-' || is_digit(c)) ? number_len(p, end) : 0;
        if (n == 0) {
            p++;
            continue;
        }
        if (n > HS_JSONNUM_MAX_NUMBER)
            return hs_error_set(err, HS_ETOOBIG,
                                "cannot parse %s: a number is longer than %d characters", what,
                                HS_JSONNUM_MAX_NUMBER);
        rc = hs_buf_append(b, run, (size_t)(p - run));
        if (rc == HS_OK)
            rc = hs_buf_putc(b, '"');
        if (rc == HS_OK)
            rc = hs_buf_append(b, mark_esc, MARK_ESC_LEN);
        if (rc == HS_OK)
            rc = hs_buf_append(b, p, n);
        if (rc == HS_OK)
            rc = hs_buf_putc(b, '"');
        p += n;
        run = p;
    }
    if (rc == HS_OK)
        rc = hs_buf_append(b, run, (size_t)(end - run));
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot parse %s: out of memory", what);
    return HS_OK;
}

int hs_json_parse_exact(const uint8_t *buf, size_t len, const char *what, json_t **out,
                        struct hs_error *err)
{
    *out = NULL;
    if (what == NULL)
        what = "JSON";
    if (len > HS_JSON_MAX_BYTES)
        return hs_error_set(err, HS_ETOOBIG, "cannot parse %s: %zu bytes exceeds the limit of %zu",
                            what, len, HS_JSON_MAX_BYTES);
    if (len == 0 || buf == NULL)
        return hs_error_set(err, HS_EPROTO, "cannot parse %s: empty body, expected JSON", what);
    static const struct hs_json_build_opts fast = {HS_JSONNUM_MAX_DEPTH, true, true,
                                                   HS_JSONNUM_MAX_NUMBER};
    json_t *v0 = hs_json_build(buf, len, &fast);
    if (v0 != NULL) {
        *out = v0;
        return HS_OK;
    }
    /* refused: the rewrite and jansson below give the reason */
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = rewrite((const char *)buf, len, what, &b, err);
    if (rc == HS_OK) {
        const size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY;
        json_error_t jerr;
        json_t *v = json_loadb(b.data, b.len, flags, &jerr);
        if (v != NULL) {
            *out = v;
        } else if (json_error_code(&jerr) == json_error_out_of_memory || jerr.text[0] == '\0') {
            /* jansson leaves the text empty when its own set-up allocation fails */
            rc = hs_error_set(err, HS_ENOMEM, "cannot parse %s: out of memory", what);
        } else {
            /* report the position in the caller's bytes, not in the rewritten ones */
            json_error_t perr;
            json_t *plain = json_loadb((const char *)buf, len, flags, &perr);
            json_decref(plain);
            if (plain == NULL &&
                (json_error_code(&perr) == json_error_out_of_memory || perr.text[0] == '\0'))
                rc = hs_error_set(err, HS_ENOMEM, "cannot parse %s: out of memory", what);
            else if (plain == NULL)
                rc = hs_error_set(err, HS_EPROTO, "cannot parse %s: line %d column %d: %s", what,
                                  perr.line, perr.column, perr.text);
            else
                rc = hs_error_set(err, HS_EPROTO, "cannot parse %s: line %d column %d: %s", what,
                                  jerr.line, jerr.column, jerr.text);
        }
    }
    hs_buf_release(&b);
    return rc;
}

json_t *hs_json_number_text(const char *text)
{
    if (text == NULL)
        return NULL;
    size_t n = strlen(text);
    if (n > HS_JSONNUM_MAX_NUMBER || !hs_json_number_valid(text, n))
        return NULL;
    char tmp[HS_JSONNUM_MAX_NUMBER + 2];
    tmp[0] = HS_JSONNUM_MARK;
    memcpy(tmp + 1, text, n);
    tmp[n + 1] = '\0';
    return json_stringn(tmp, n + 1);
}

bool hs_json_is_number(const json_t *v)
{
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    return n > 1 && s[0] == HS_JSONNUM_MARK && hs_json_number_valid(s + 1, n - 1);
}

const char *hs_json_num_text(const json_t *v)
{
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    if (s[0] == HS_JSONNUM_MARK)
        return hs_json_is_number(v) ? s + 1 : NULL;
    /* a plain string with an embedded NUL is not a number of ours */
    return strlen(s) == json_string_length(v) ? s : NULL;
}

int hs_json_i64(const json_t *obj, const char *key, int64_t *out, struct hs_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return HS_ENOTFOUND;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return HS_OK;
    }
    const char *text = hs_json_num_text(v);
    if (text == NULL)
        return hs_error_set(err, HS_EPROTO, "field '%s': expected an integer", key);
    int64_t n;
    int rc = hs_str_to_i64(text, strlen(text), &n);
    if (rc == HS_ERANGE)
        return hs_error_set(err, HS_ERANGE, "field '%s': integer '%.40s' is out of range", key,
                            text);
    if (rc != HS_OK)
        return hs_error_set(err, HS_EPROTO, "field '%s': expected an integer, got '%.40s'", key,
                            text);
    *out = n;
    return HS_OK;
}

int hs_json_dump_exact(const json_t *v, struct hs_buf *b)
{
    struct hs_buf tmp;
    hs_buf_init(&tmp);
    if (json_dump_callback(v, hs_json_dump_cb, &tmp, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
        hs_buf_release(&tmp);
        return HS_ENOMEM;
    }
    const size_t old_len = b->len;
    const char *p = tmp.data != NULL ? tmp.data : "";
    const char *end = p + tmp.len;
    const char *run = p;
    int rc = HS_OK;
    while (rc == HS_OK && p < end) {
        if (*p != '"') {
            p++;
            continue;
        }
        const char *open = p++;
        const char *body = p;
        while (p < end && *p != '"')
            p += (*p == '\\' && p + 1 < end) ? 2 : 1;
        const char *close = p; /* the closing quote (jansson always writes one) */
        if (p < end)
            p++;
        size_t blen = (size_t)(close - body);
        if (blen > MARK_ESC_LEN && memcmp(body, mark_esc, MARK_ESC_LEN) == 0 &&
            hs_json_number_valid(body + MARK_ESC_LEN, blen - MARK_ESC_LEN)) {
            rc = hs_buf_append(b, run, (size_t)(open - run));
            if (rc == HS_OK)
                rc = hs_buf_append(b, body + MARK_ESC_LEN, blen - MARK_ESC_LEN);
            run = p;
        }
    }
    if (rc == HS_OK)
        rc = hs_buf_append(b, run, (size_t)(end - run));
    hs_buf_release(&tmp);
    if (rc != HS_OK) {
        /* keep the caller's previous contents */
        b->len = old_len;
        if (b->data != NULL)
            b->data[old_len] = '\0';
    }
    return rc;
}
