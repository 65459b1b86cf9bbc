/*
 * sandbox/qbo_query.c - parser of the QuickBooks Online query language subset.
 *
 * Design:     a hand-written tokenizer over (buf,len) with an end pointer (never reads past
 *             len, never needs a NUL), and a recursive-descent parser for
 *               select (* | count(*)) from Entity
 *                 [where Field op Value (and Field op Value)*]
 *                 [orderby Field [asc|desc] (, Field [asc|desc])*]
 *                 [startposition N] [maxresults N]
 *             with op one of = < > <= >= in (v, ...) like 'pattern'. Keywords are
 *             case-insensitive, as in QuickBooks; "order by" is accepted for "orderby".
 *             Only the first orderby field is kept (QuickBooks sorts by one field in practice).
 *             The parser only checks syntax; which entities and fields exist is decided by the
 *             module (quickbooks.c), which answers QueryValidationError for them.
 * Invariants: every error names the column (1-based) and what was expected.
 * Ownership:  the returned query owns every string in it.
 */
#include <string.h>

#include "sandbox/qbo.h"
#include "util/alloc.h"
#include "util/str.h"

enum tok_kind { T_END, T_IDENT, T_STRING, T_NUMBER, T_STAR, T_LPAREN, T_RPAREN, T_COMMA, T_OP };

struct tok {
    enum tok_kind kind;
    const char *p; /* start in the input */
    size_t len;
    size_t col; /* 1-based */
};

struct lexer {
    const char *buf;
    const char *p;
    const char *end;
    struct tok cur;
    struct hs_error *err;
};

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9') || c == '.';
}

static int lex_error(struct lexer *lx, const struct tok *t, const char *expected)
{
    if (t->kind == T_END)
        return hs_error_set(lx->err, HS_EINVAL,
                            "invalid query: unexpected end of query at column %zu, expected %s",
                            t->col, expected);
    int n = t->len > 40 ? 40 : (int)t->len;
    return hs_error_set(lx->err, HS_EINVAL,
                        "invalid query: unexpected '%.*s' at column %zu, expected %s", n, t->p,
                        t->col, expected);
}

/* Reads the next token into lx->cur. */
static int next(struct lexer *lx)
{
    while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r'))
        lx->p++;
    struct tok *t = &lx->cur;
    t->p = lx->p;
    t->col = (size_t)(lx->p - lx->buf) + 1;
    t->len = 0;
    if (lx->p >= lx->end) {
        t->kind = T_END;
        return HS_OK;
    }
    char c = *lx->p;
    if (is_ident_start(c)) {
        while (lx->p < lx->end && is_ident(*lx->p))
            lx->p++;
        t->kind = T_IDENT;
    } else if (c == '\'') {
        lx->p++;
        while (lx->p < lx->end && *lx->p != '\'') {
            if (*lx->p == '\\' && lx->p + 1 < lx->end)
                lx->p++;
            lx->p++;
        }
        if (lx->p >= lx->end) {
            return hs_error_set(lx->err, HS_EINVAL,
                                "invalid query: string starting at column %zu is not closed",
                                t->col);
        }
        lx->p++;
        t->kind = T_STRING;
    } else if ((c >= '0' && c <= '9') || c == '-') {
        lx->p++;
        while (lx->p < lx->end && ((*lx->p >= '0' && *lx->p <= '9') || *lx->p == '.'))
            lx->p++;
        t->kind = T_NUMBER;
    } else if (c == '*' || c == '(' || c == ')' || c == ',') {
        lx->p++;
        t->kind = c == '*' ? T_STAR : c == '(' ? T_LPAREN : c == ')' ? T_RPAREN : T_COMMA;
    } else if (c == '=' || c == '<' || c == '>') {
        lx->p++;
        if (c != '=' && lx->p < lx->end && *lx->p == '=')
            lx->p++;
        t->kind = T_OP;
    } else {
        t->len = 1;
        t->kind = T_OP; /* reported as unexpected by the parser */
        lx->p++;
        return hs_error_set(lx->err, HS_EINVAL, "invalid query: unexpected '%c' at column %zu",
                            (c >= 32 && c < 127) ? c : '?', t->col);
    }
    t->len = (size_t)(lx->p - t->p);
    return HS_OK;
}

static bool is_kw(const struct tok *t, const char *kw)
{
    size_t n = strlen(kw);
    if (t->kind != T_IDENT || t->len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t->p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != kw[i])
            return false;
    }
    return true;
}

static int expect_kw(struct lexer *lx, const char *kw, const char *what)
{
    if (!is_kw(&lx->cur, kw))
        return lex_error(lx, &lx->cur, what);
    return next(lx);
}

/* Copy of a string token's contents with \x escapes resolved. */
static char *unquote(const struct tok *t)
{
    char *s = hs_malloc(t->len);
    if (s == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 1; i + 1 < t->len; i++) {
        if (t->p[i] == '\\' && i + 2 < t->len)
            i++;
        s[o++] = t->p[i];
    }
    s[o] = '\0';
    return s;
}

static int parse_value(struct lexer *lx, struct hs_qbo_value *out)
{
    struct tok t = lx->cur;
    if (t.kind == T_STRING) {
        out->text = unquote(&t);
        out->quoted = true;
    } else if (t.kind == T_NUMBER || is_kw(&t, "true") || is_kw(&t, "false")) {
        out->text = hs_strndup(t.p, t.len);
        out->quoted = false;
    } else {
        return lex_error(lx, &t, "a value ('text', a number, true or false)");
    }
    if (out->text == NULL)
        return hs_error_set(lx->err, HS_ENOMEM, "cannot parse query: out of memory");
    return next(lx);
}

static void cond_release(struct hs_qbo_cond *c)
{
    hs_free(c->field);
    for (size_t i = 0; i < c->n_values; i++)
        hs_free(c->values[i].text);
    hs_free(c->values);
}

void hs_qbo_query_free(struct hs_qbo_query *q)
{
    if (q == NULL)
        return;
    hs_free(q->entity);
    for (size_t i = 0; i < q->n_conds; i++)
        cond_release(&q->conds[i]);
    hs_free(q->conds);
    hs_free(q->orderby);
    hs_free(q);
}

static int add_value(struct lexer *lx, struct hs_qbo_cond *c)
{
    if (c->n_values >= HS_QBO_QUERY_MAX_IN)
        return hs_error_set(lx->err, HS_ETOOBIG,
                            "invalid query: more than %d values in 'in (...)' at column %zu",
                            HS_QBO_QUERY_MAX_IN, lx->cur.col);
    struct hs_qbo_value *v = hs_reallocarray(c->values, c->n_values + 1, sizeof *v);
    if (v == NULL)
        return hs_error_set(lx->err, HS_ENOMEM, "cannot parse query: out of memory");
    c->values = v;
    memset(&v[c->n_values], 0, sizeof v[0]);
    int rc = parse_value(lx, &v[c->n_values]);
    if (v[c->n_values].text != NULL)
        c->n_values++;
    return rc;
}

static int parse_cond(struct lexer *lx, struct hs_qbo_cond *c)
{
    if (lx->cur.kind != T_IDENT)
        return lex_error(lx, &lx->cur, "a field name");
    c->field = hs_strndup(lx->cur.p, lx->cur.len);
    if (c->field == NULL)
        return hs_error_set(lx->err, HS_ENOMEM, "cannot parse query: out of memory");
    int rc = next(lx);
    if (rc != HS_OK)
        return rc;
    struct tok t = lx->cur;
    if (t.kind == T_OP) {
        if (t.len == 1)
            c->op = t.p[0] == '=' ? HS_QBO_EQ : t.p[0] == '<' ? HS_QBO_LT : HS_QBO_GT;
        else
            c->op = t.p[0] == '<' ? HS_QBO_LE : HS_QBO_GE;
        rc = next(lx);
        return rc != HS_OK ? rc : add_value(lx, c);
    }
    if (is_kw(&t, "like")) {
        c->op = HS_QBO_LIKE;
        rc = next(lx);
        if (rc != HS_OK)
            return rc;
        if (lx->cur.kind != T_STRING)
            return lex_error(lx, &lx->cur, "a 'pattern' after like");
        return add_value(lx, c);
    }
    if (is_kw(&t, "in")) {
        c->op = HS_QBO_IN;
        rc = next(lx);
        if (rc != HS_OK)
            return rc;
        if (lx->cur.kind != T_LPAREN)
            return lex_error(lx, &lx->cur, "'(' after in");
        rc = next(lx);
        while (rc == HS_OK) {
            rc = add_value(lx, c);
            if (rc != HS_OK)
                return rc;
            if (lx->cur.kind == T_RPAREN)
                return next(lx);
            if (lx->cur.kind != T_COMMA)
                return lex_error(lx, &lx->cur, "',' or ')'");
            rc = next(lx);
        }
        return rc;
    }
    return lex_error(lx, &t, "an operator (=, <, >, <=, >=, in, like)");
}

static int parse_int(struct lexer *lx, const char *what, int64_t *out)
{
    if (lx->cur.kind != T_NUMBER || hs_str_to_i64(lx->cur.p, lx->cur.len, out) != HS_OK)
        return lex_error(lx, &lx->cur, what);
    return next(lx);
}

static int parse(struct lexer *lx, struct hs_qbo_query *q)
{
    int rc = next(lx);
    if (rc == HS_OK)
        rc = expect_kw(lx, "select", "'select'");
    if (rc != HS_OK)
        return rc;
    if (lx->cur.kind == T_STAR) {
        rc = next(lx);
    } else if (is_kw(&lx->cur, "count")) {
        q->count = true;
        rc = next(lx);
        if (rc == HS_OK && lx->cur.kind != T_LPAREN)
            rc = lex_error(lx, &lx->cur, "'(' after count");
        if (rc == HS_OK)
            rc = next(lx);
        if (rc == HS_OK && lx->cur.kind != T_STAR)
            rc = lex_error(lx, &lx->cur, "'*' in count(*)");
        if (rc == HS_OK)
            rc = next(lx);
        if (rc == HS_OK && lx->cur.kind != T_RPAREN)
            rc = lex_error(lx, &lx->cur, "')' after count(*");
        if (rc == HS_OK)
            rc = next(lx);
    } else {
        rc = lex_error(lx, &lx->cur, "'*' or 'count(*)'");
    }
    if (rc == HS_OK)
        rc = expect_kw(lx, "from", "'from'");
    if (rc != HS_OK)
        return rc;
    if (lx->cur.kind != T_IDENT)
        return lex_error(lx, &lx->cur, "an entity name");
    q->entity = hs_strndup(lx->cur.p, lx->cur.len);
    if (q->entity == NULL)
        return hs_error_set(lx->err, HS_ENOMEM, "cannot parse query: out of memory");
    rc = next(lx);
    if (rc == HS_OK && is_kw(&lx->cur, "where")) {
        do {
            rc = next(lx);
            if (rc != HS_OK)
                return rc;
            if (q->n_conds >= HS_QBO_QUERY_MAX_CONDS)
                return hs_error_set(lx->err, HS_ETOOBIG,
                                    "invalid query: more than %d conditions at column %zu",
                                    HS_QBO_QUERY_MAX_CONDS, lx->cur.col);
            struct hs_qbo_cond *c = hs_reallocarray(q->conds, q->n_conds + 1, sizeof *c);
            if (c == NULL)
                return hs_error_set(lx->err, HS_ENOMEM, "cannot parse query: out of memory");
            q->conds = c;
            memset(&c[q->n_conds], 0, sizeof c[0]);
            q->n_conds++;
            rc = parse_cond(lx, &c[q->n_conds - 1]);
            if (rc != HS_OK)
                return rc;
        } while (is_kw(&lx->cur, "and"));
    }
    if (rc != HS_OK)
        return rc;
    bool order = is_kw(&lx->cur, "orderby");
    if (!order && is_kw(&lx->cur, "order")) {
        rc = next(lx);
        if (rc == HS_OK && !is_kw(&lx->cur, "by"))
            rc = lex_error(lx, &lx->cur, "'by' after order");
        order = true;
    }
    if (rc == HS_OK && order) {
        bool first = true;
        do {
            rc = next(lx);
            if (rc != HS_OK)
                return rc;
            if (lx->cur.kind != T_IDENT)
                return lex_error(lx, &lx->cur, "a field name after orderby");
            if (first) {
                q->orderby = hs_strndup(lx->cur.p, lx->cur.len);
                if (q->orderby == NULL)
                    return hs_error_set(lx->err, HS_ENOMEM, "cannot parse query: out of memory");
            }
            rc = next(lx);
            if (rc == HS_OK && (is_kw(&lx->cur, "asc") || is_kw(&lx->cur, "desc"))) {
                if (first)
                    q->desc = is_kw(&lx->cur, "desc");
                rc = next(lx);
            }
            first = false;
        } while (rc == HS_OK && lx->cur.kind == T_COMMA);
    }
    if (rc == HS_OK && is_kw(&lx->cur, "startposition")) {
        rc = next(lx);
        if (rc == HS_OK)
            rc = parse_int(lx, "a number after startposition", &q->start);
    }
    if (rc == HS_OK && is_kw(&lx->cur, "maxresults")) {
        rc = next(lx);
        if (rc == HS_OK)
            rc = parse_int(lx, "a number after maxresults", &q->max);
    }
    if (rc == HS_OK && lx->cur.kind != T_END)
        rc = lex_error(lx, &lx->cur, "the end of the query");
    return rc;
}

int hs_qbo_query_parse(const char *buf, size_t len, struct hs_qbo_query **out, struct hs_error *err)
{
    *out = NULL;
    if (len > HS_QBO_QUERY_MAX_LEN)
        return hs_error_set(err, HS_ETOOBIG, "invalid query: %zu bytes exceed the limit of %d", len,
                            HS_QBO_QUERY_MAX_LEN);
    struct hs_qbo_query *q = hs_calloc(1, sizeof *q);
    if (q == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot parse query: out of memory");
    q->start = 1;
    q->max = 100;
    struct lexer lx = {.buf = buf, .p = buf, .end = buf + len, .err = err};
    int rc = parse(&lx, q);
    if (rc != HS_OK) {
        hs_qbo_query_free(q);
        return rc;
    }
    if (q->start < 1)
        q->start = 1;
    if (q->max < 0)
        q->max = 0;
    if (q->max > HS_QBO_QUERY_MAX_RESULTS)
        q->max = HS_QBO_QUERY_MAX_RESULTS;
    *out = q;
    return HS_OK;
}
