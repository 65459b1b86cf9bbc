/*
 * util/json.c - jansson helpers: bounded parsing, an allocation-free syntax check, dumping.
 *
 * Design:     hs_json_check scans RFC 8259 text (minus what jansson rejects by default:
 *             \u0000 and unpaired surrogates) without allocating, recursion capped by its
 *             depth argument. Parsers run it before jansson so that a jansson failure on
 *             checked text can only be a duplicate key, a number out of range or a failed
 *             allocation (jansson's lexer reports the latter as a syntax error).
 */
#include <stdbool.h>
#include <string.h>

#include "util/json.h"
#include "util/str.h"

/* ---- syntax check ---- */

struct jscan {
    const uint8_t *p;
    const uint8_t *end;
    const uint8_t *line_start;
    int line;
    int depth;
    int max_depth;
    bool too_deep;
    const char *why;
};

static bool js_fail(struct jscan *s, const char *why)
{
    s->why = why;
    return false;
}

static void js_ws(struct jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
        if (*s->p == '\n') {
            s->line++;
            s->line_start = s->p + 1;
        }
        s->p++;
    }
}

static int js_hex4(struct jscan *s)
{
    if (s->end - s->p < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = s->p[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    s->p += 4;
    return v;
}

static bool js_string(struct jscan *s)
{
    s->p++; /* opening quote */
    for (;;) {
        if (s->p >= s->end)
            return js_fail(s, "unterminated string");
        uint8_t c = *s->p;
        if (c == '"') {
            s->p++;
            return true;
        }
        if (c < 0x20)
            return js_fail(s, "control character in string");
        if (c >= 0x80) {
            size_t n = hs_utf8_len(s->p, (size_t)(s->end - s->p));
            if (n == 0)
                return js_fail(s, "invalid UTF-8 in string");
            s->p += n;
            continue;
        }
        s->p++;
        if (c != '\\')
            continue;
        if (s->p >= s->end)
            return js_fail(s, "unterminated string");
        c = *s->p++;
        if (strchr("\"\\/bfnrt", c) != NULL && c != '\0')
            continue;
        if (c != 'u')
            return js_fail(s, "invalid escape in string");
        int cp = js_hex4(s);
        if (cp < 0)
            return js_fail(s, "invalid \\u escape in string");
        if (cp == 0)
            return js_fail(s, "NUL character (\\u0000) in string");
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return js_fail(s, "unpaired surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                return js_fail(s, "unpaired surrogate in \\u escape");
            s->p += 2;
            int lo = js_hex4(s);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return js_fail(s, "unpaired surrogate in \\u escape");
        }
    }
}

static bool js_digits(struct jscan *s)
{
    const uint8_t *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > start;
}

static bool js_number(struct jscan *s)
{
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (!js_digits(s))
        return js_fail(s, "invalid number");
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!js_digits(s))
            return js_fail(s, "invalid number");
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!js_digits(s))
            return js_fail(s, "invalid number");
    }
    return true;
}

static bool js_word(struct jscan *s, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
        return js_fail(s, "invalid literal");
    s->p += n;
    return true;
}

static bool js_value(struct jscan *s);

static bool js_container(struct jscan *s)
{
    uint8_t close = *s->p == '{' ? '}' : ']';
    bool object = close == '}';
    if (++s->depth > s->max_depth) {
        s->too_deep = true;
        return js_fail(s, "nesting too deep");
    }
    s->p++;
    js_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return true;
    }
    for (;;) {
        js_ws(s);
        if (object) {
            if (s->p >= s->end || *s->p != '"')
                return js_fail(s, "expected a string key");
            if (!js_string(s))
                return false;
            js_ws(s);
            if (s->p >= s->end || *s->p != ':')
                return js_fail(s, "expected ':'");
            s->p++;
        }
        if (!js_value(s))
            return false;
        js_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == close) {
            s->p++;
            s->depth--;
            return true;
        }
        return js_fail(s, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool js_value(struct jscan *s)
{
    js_ws(s);
    if (s->p >= s->end)
        return js_fail(s, "unexpected end of input");
    switch (*s->p) {
    case '{':
    case '[':
        return js_container(s);
    case '"':
        return js_string(s);
    case 't':
        return js_word(s, "true");
    case 'f':
        return js_word(s, "false");
    case 'n':
        return js_word(s, "null");
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
            return js_number(s);
        return js_fail(s, "unexpected character");
    }
}

int hs_json_check(const uint8_t *buf, size_t len, int max_depth, bool object_top,
                  struct hs_json_where *out)
{
    struct jscan s = {buf, buf + len, buf, 1, 0, max_depth, false, NULL};
    js_ws(&s);
    bool ok;
    if (object_top && s.p < s.end && *s.p != '{')
        ok = js_fail(&s, "expected an object");
    else
        ok = js_value(&s);
    if (ok) {
        js_ws(&s);
        if (s.p < s.end)
            ok = js_fail(&s, "unexpected data after the value");
    }
    if (out != NULL) {
        out->line = s.line;
        out->column = (size_t)(s.p - s.line_start) + 1;
        out->why = ok ? "" : s.why;
    }
    if (ok)
        return HS_OK;
    return s.too_deep ? HS_ETOOBIG : HS_EPROTO;
}

int hs_json_parse(const uint8_t *buf, size_t len, const char *what, json_t **out,
                  struct hs_error *err)
{
    *out = NULL;
    if (len > HS_JSON_MAX_BYTES)
        return hs_error_set(err, HS_ETOOBIG, "cannot parse %s: %zu bytes exceeds the limit of %zu",
                            what, len, HS_JSON_MAX_BYTES);
    if (len == 0)
        return hs_error_set(err, HS_EPROTO, "cannot parse %s: empty body, expected JSON", what);
    struct hs_json_where w;
    int rc = hs_json_check(buf, len, HS_JSON_MAX_DEPTH, false, &w);
    if (rc == HS_ETOOBIG)
        return hs_error_set(err, HS_ETOOBIG, "cannot parse %s: nested deeper than %d levels", what,
                            HS_JSON_MAX_DEPTH);
    if (rc != HS_OK)
        return hs_error_set(err, HS_EPROTO, "cannot parse %s: line %d column %zu: %s", what, w.line,
                            w.column, w.why);
    json_error_t jerr;
    json_t *v = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL)
        return hs_json_load_error(&jerr, what, err);
    *out = v;
    return HS_OK;
}

int hs_json_load_error(const json_error_t *jerr, const char *what, struct hs_error *err)
{
    switch (json_error_code(jerr)) {
    case json_error_invalid_utf8:
    case json_error_null_character:
    case json_error_duplicate_key:
    case json_error_numeric_overflow:
        return hs_error_set(err, HS_EPROTO, "cannot parse %s: line %d column %d: %s", what,
                            jerr->line, jerr->column, jerr->text);
    default:
        return hs_error_set(err, HS_ENOMEM, "cannot parse %s: out of memory", what);
    }
}

static int dump_cb(const char *p, size_t n, void *ud)
{
    return hs_buf_append(ud, p, n) == HS_OK ? 0 : -1;
}

int hs_json_dump(const json_t *v, struct hs_buf *b)
{
    if (json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_REAL_PRECISION(17)) != 0)
        return HS_ENOMEM;
    return HS_OK;
}

const char *hs_json_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}
