/*
 * util/json.c - jansson helpers: bounded parsing, an allocation-free syntax check, dumping.
 *
 * Design:     hs_json_check scans RFC 8259 text (minus what jansson rejects by default:
 *             \u0000 and unpaired surrogates) without allocating, recursion capped by its
 *             depth argument. Parsers run it before jansson so that a jansson failure on
 *             checked text can only be a duplicate key, a number out of range or a failed
 *             allocation (jansson's lexer reports the latter as a syntax error).
 *             hs_json_build is the fast path in front of that: one pass over the text that
 *             validates it by the same rules and builds the jansson tree directly (jansson's
 *             lexer reads and re-checks the input a byte at a time and was most of the parse
 *             time); whatever it refuses goes to the checked path, so errors are unchanged.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "util/jsonnum.h" /* HS_JSONNUM_MARK */
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

/* Four hex digits at *pp (before end): their value, *pp moved past them; -1 when not. */
static int hex4(const uint8_t **pp, const uint8_t *end)
{
    const uint8_t *p = *pp;
    if (end - p < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
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
    *pp = p + 4;
    return v;
}

static int js_hex4(struct jscan *s)
{
    return hex4(&s->p, s->end);
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

/* ---- one-pass tree builder ---- */

struct jbuild {
    const uint8_t *p;
    const uint8_t *end;
    int depth;
    const struct hs_json_build_opts *o;
    struct hs_buf s; /* decoded strings with escapes, stacked (offsets survive growth) */
};

static void jb_ws(struct jbuild *b)
{
    while (b->p < b->end && (*b->p == ' ' || *b->p == '\t' || *b->p == '\n' || *b->p == '\r'))
        b->p++;
}

static int jb_hex4(struct jbuild *b)
{
    return hex4(&b->p, b->end);
}

static bool jb_put_utf8(struct hs_buf *s, int cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return hs_buf_append(s, u, n) == HS_OK;
}

/* A decoded string: its bytes are the input itself (no escapes) or in b->s at off. */
struct jstr {
    const char *raw; /* NULL: in b->s */
    size_t off;
    size_t len;
};

static const char *jstr_ptr(const struct jbuild *b, const struct jstr *x)
{
    return x->raw != NULL ? x->raw : b->s.data + x->off;
}

/* The string at b->p (its opening quote), with the rules of hs_json_check's js_string. */
static bool jb_string(struct jbuild *b, struct jstr *out)
{
    b->p++;
    const uint8_t *start = b->p;
    if (b->o->marks && b->end - b->p >= 6 && memcmp(b->p, "\\u0001", 6) == 0)
        return false; /* reserved for marked numbers: the checked path says so */
    /* the plain prefix, up to the closing quote or the first escape */
    while (b->p < b->end) {
        uint8_t c = *b->p;
        if (c == '"') {
            out->raw = (const char *)start;
            out->len = (size_t)(b->p - start);
            b->p++;
            return true;
        }
        if (c == '\\')
            break;
        if (c < 0x20)
            return false;
        if (c >= 0x80) {
            size_t n = hs_utf8_len(b->p, (size_t)(b->end - b->p));
            if (n == 0)
                return false;
            b->p += n;
        } else {
            b->p++;
        }
    }
    if (b->p >= b->end)
        return false;
    /* escapes: decoded into b->s */
    out->raw = NULL;
    out->off = b->s.len;
    if (hs_buf_append(&b->s, start, (size_t)(b->p - start)) != HS_OK)
        return false;
    const uint8_t *run = b->p;
    for (;;) {
        if (b->p >= b->end)
            return false;
        uint8_t c = *b->p;
        if (c == '"') {
            if (hs_buf_append(&b->s, run, (size_t)(b->p - run)) != HS_OK)
                return false;
            out->len = b->s.len - out->off;
            b->p++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c >= 0x80) {
            size_t n = hs_utf8_len(b->p, (size_t)(b->end - b->p));
            if (n == 0)
                return false;
            b->p += n;
            continue;
        }
        if (c != '\\') {
            b->p++;
            continue;
        }
        if (hs_buf_append(&b->s, run, (size_t)(b->p - run)) != HS_OK)
            return false;
        b->p++;
        if (b->p >= b->end)
            return false;
        c = *b->p++;
        char e;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            e = (char)c;
            break;
        case 'b':
            e = '\b';
            break;
        case 'f':
            e = '\f';
            break;
        case 'n':
            e = '\n';
            break;
        case 'r':
            e = '\r';
            break;
        case 't':
            e = '\t';
            break;
        case 'u': {
            int cp = jb_hex4(b);
            if (cp <= 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
                return false; /* bad hex, NUL, or a lone low surrogate */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (b->end - b->p < 2 || b->p[0] != '\\' || b->p[1] != 'u')
                    return false;
                b->p += 2;
                int lo = jb_hex4(b);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return false;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (!jb_put_utf8(&b->s, cp))
                return false;
            run = b->p;
            continue;
        }
        default:
            return false;
        }
        if (hs_buf_append(&b->s, &e, 1) != HS_OK)
            return false;
        run = b->p;
    }
}

static bool jb_digits(struct jbuild *b)
{
    const uint8_t *start = b->p;
    while (b->p < b->end && *b->p >= '0' && *b->p <= '9')
        b->p++;
    return b->p > start;
}

/* A number token (RFC 8259 grammar) as jansson builds it, or as a marked string. */
static json_t *jb_number(struct jbuild *b)
{
    const uint8_t *start = b->p;
    bool real = false;
    if (*b->p == '-')
        b->p++;
    if (b->p < b->end && *b->p == '0')
        b->p++;
    else if (!jb_digits(b))
        return NULL;
    if (b->p < b->end && *b->p == '.') {
        b->p++;
        real = true;
        if (!jb_digits(b))
            return NULL;
    }
    if (b->p < b->end && (*b->p == 'e' || *b->p == 'E')) {
        b->p++;
        real = true;
        if (b->p < b->end && (*b->p == '+' || *b->p == '-'))
            b->p++;
        if (!jb_digits(b))
            return NULL;
    }
    size_t n = (size_t)(b->p - start);
    char tmp[64];
    if (b->o->marks) {
        if (n > b->o->max_number || n + 1 > sizeof tmp)
            return NULL;
        tmp[0] = HS_JSONNUM_MARK;
        memcpy(tmp + 1, start, n);
        return json_stringn_nocheck(tmp, n + 1);
    }
    if (n >= sizeof tmp)
        return NULL; /* the checked path judges long numbers */
    memcpy(tmp, start, n);
    tmp[n] = '\0';
    char *endp = NULL;
    errno = 0;
    if (!real) {
        long long v = strtoll(tmp, &endp, 10);
        if (errno == ERANGE || endp != tmp + n)
            return NULL;
        return json_integer((json_int_t)v);
    }
    double d = strtod(tmp, &endp);
    if (endp != tmp + n || ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE))
        return NULL;
    return json_real(d);
}

static bool jb_word(struct jbuild *b, const char *w, size_t n)
{
    if ((size_t)(b->end - b->p) < n || memcmp(b->p, w, n) != 0)
        return false;
    b->p += n;
    return true;
}

static json_t *jb_value(struct jbuild *b);

static json_t *jb_object(struct jbuild *b)
{
    json_t *obj = json_object();
    if (obj == NULL)
        return NULL;
    b->p++;
    jb_ws(b);
    if (b->p < b->end && *b->p == '}') {
        b->p++;
        return obj;
    }
    for (;;) {
        jb_ws(b);
        struct jstr key;
        size_t mark = b->s.len;
        if (b->p >= b->end || *b->p != '"' || !jb_string(b, &key))
            break;
        jb_ws(b);
        if (b->p >= b->end || *b->p != ':')
            break;
        b->p++;
        json_t *v = jb_value(b);
        if (v == NULL)
            break;
        const char *k = jstr_ptr(b, &key);
        if (json_object_getn(obj, k, key.len) != NULL) {
            json_decref(v); /* a duplicate key: the checked path reports it */
            break;
        }
        if (json_object_setn_new_nocheck(obj, k, key.len, v) != 0)
            break; /* jansson released v */
        b->s.len = mark;
        jb_ws(b);
        if (b->p < b->end && *b->p == ',') {
            b->p++;
            continue;
        }
        if (b->p < b->end && *b->p == '}') {
            b->p++;
            return obj;
        }
        break;
    }
    json_decref(obj);
    return NULL;
}

static json_t *jb_array(struct jbuild *b)
{
    json_t *arr = json_array();
    if (arr == NULL)
        return NULL;
    b->p++;
    jb_ws(b);
    if (b->p < b->end && *b->p == ']') {
        b->p++;
        return arr;
    }
    for (;;) {
        json_t *v = jb_value(b);
        if (v == NULL || json_array_append_new(arr, v) != 0)
            break;
        jb_ws(b);
        if (b->p < b->end && *b->p == ',') {
            b->p++;
            continue;
        }
        if (b->p < b->end && *b->p == ']') {
            b->p++;
            return arr;
        }
        break;
    }
    json_decref(arr);
    return NULL;
}

static json_t *jb_value(struct jbuild *b)
{
    jb_ws(b);
    if (b->p >= b->end)
        return NULL;
    switch (*b->p) {
    case '{':
    case '[': {
        if (++b->depth > b->o->max_depth)
            return NULL;
        json_t *v = *b->p == '{' ? jb_object(b) : jb_array(b);
        b->depth--;
        return v;
    }
    case '"': {
        struct jstr x;
        size_t mark = b->s.len;
        if (!jb_string(b, &x))
            return NULL;
        json_t *v = json_stringn_nocheck(jstr_ptr(b, &x), x.len);
        b->s.len = mark;
        return v;
    }
    case 't':
        return jb_word(b, "true", 4) ? json_true() : NULL;
    case 'f':
        return jb_word(b, "false", 5) ? json_false() : NULL;
    case 'n':
        return jb_word(b, "null", 4) ? json_null() : NULL;
    default:
        if (*b->p == '-' || (*b->p >= '0' && *b->p <= '9'))
            return jb_number(b);
        return NULL;
    }
}

json_t *hs_json_build(const uint8_t *buf, size_t len, const struct hs_json_build_opts *o)
{
    if (buf == NULL || len == 0 || len > HS_JSON_MAX_BYTES)
        return NULL;
    struct jbuild b = {buf, buf + len, 0, o, {NULL, 0, 0}};
    jb_ws(&b);
    if (!o->any_top && (b.p >= b.end || (*b.p != '{' && *b.p != '[')))
        return NULL;
    json_t *v = jb_value(&b);
    if (v != NULL) {
        jb_ws(&b);
        if (b.p != b.end) {
            json_decref(v);
            v = NULL;
        }
    }
    hs_buf_release(&b.s);
    return v;
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
    static const struct hs_json_build_opts fast = {HS_JSON_MAX_DEPTH, false, false, 0};
    json_t *v = hs_json_build(buf, len, &fast);
    if (v != NULL) {
        *out = v;
        return HS_OK;
    }
    /* refused: the checked path below gives the reason (or parses what the fast path could
     * not, e.g. after a failed allocation) */
    struct hs_json_where w;
    int rc = hs_json_check(buf, len, HS_JSON_MAX_DEPTH, false, &w);
    if (rc == HS_ETOOBIG)
        return hs_error_set(err, HS_ETOOBIG, "cannot parse %s: nested deeper than %d levels", what,
                            HS_JSON_MAX_DEPTH);
    if (rc != HS_OK)
        return hs_error_set(err, HS_EPROTO, "cannot parse %s: line %d column %zu: %s", what, w.line,
                            w.column, w.why);
    json_error_t jerr;
    memset(&jerr, 0, sizeof jerr); /* a load cut short by memory sets no error code */
    v = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
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

int hs_json_dump_cb(const char *p, size_t n, void *ud)
{
    struct hs_buf *b = ud;
    if (b->cap - b->len > n) { /* room for n bytes and the NUL */
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return hs_buf_append(b, p, n) == HS_OK ? 0 : -1;
}

int hs_json_dump(const json_t *v, struct hs_buf *b)
{
    if (json_dump_callback(v, hs_json_dump_cb, b, JSON_COMPACT | JSON_REAL_PRECISION(17)) != 0)
        return HS_ENOMEM;
    return HS_OK;
}

const char *hs_json_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}
