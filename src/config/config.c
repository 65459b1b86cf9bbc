/*
 * config/config.c - schema walk from the YAML node tree to struct hs_config.
 *
 * Design:     each mapping node of the schema has one table of known keys (struct key_spec:
 *             name, flags, parse function). parse_map() does what every mapping needs: reject
 *             duplicate keys (sorted, so a hostile file cannot make it quadratic), reject unknown
 *             keys listing the known ones, call each key's parser, then report missing required
 *             keys. Adding a key is one table row plus its parse function. Messages carry the
 *             node's file:line:col and a context ("in flow 'customers'") built by the caller.
 *             A plain `~`, `null` or empty value means "not set" (the default applies).
 *             Checks that need a whole mapping (transform arguments, review <= link, crm vs
 *             accounting providers, unique flow names) run after that mapping's table pass.
 * Invariants: every array in struct hs_config is allocated zeroed with its count set at once,
 *             so hs_config_free can release a partly filled config on any error path.
 * Ownership:  the tree is freed before hs_config_parse returns; the config is the caller's.
 * Not here:   YAML syntax, caps and aliases (config/tree.c); the meaning of flows (engine).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_int.h"
#include "util/alloc.h"
#include "util/str.h"

#define MAX_FLOWS      256
#define MAX_NAME_LEN   64
#define WHAT_MAX       160
#define FLOW_WHAT_MAX  96
#define DEFAULT_LINK   900000u
#define DEFAULT_REVIEW 600000u

struct ctx {
    const char *file;
    size_t dir_len; /* bytes of file up to and including its last '/', or 0 */
    struct hs_error *err;
};

/* One key of a mapping, as handed to the key's parse function. */
struct field {
    const char *key;
    const struct hs_config_node *kn; /* the key */
    const struct hs_config_node *v;  /* its value, never a null scalar */
    const char *what;                /* "in flow 'customers'" */
};

typedef int (*parse_fn)(struct ctx *c, const struct field *f, void *obj);

enum key_flags {
    KEY_REQUIRED = 1 << 0,
    KEY_HIDDEN = 1 << 1, /* accepted only to give a better message; not listed as expected */
};

struct key_spec {
    const char *name;
    unsigned flags;
    parse_fn parse;
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------------------------- */
/* names */

static const char *const provider_names[] = {"none",       "hubspot", "highlevel",
                                             "quickbooks", "xero",    "zohobooks"};
static const char *const object_names[] = {"customers", "items", "invoices", "payments"};
static const char *const direction_names[] = {"both", "crm_to_accounting", "accounting_to_crm"};
static const char *const transform_names[] = {"none", "trim",   "upper",  "lower",
                                              "map",  "concat", "default"};
static const char *const authority_names[] = {"manual", "crm", "accounting", "newest"};

static const char *name_of(const char *const *names, size_t n, int v)
{
    if (v < 0 || (size_t)v >= n)
        return "unknown";
    return names[v];
}

const char *hs_config_provider_name(enum hs_config_provider p)
{
    return name_of(provider_names, N_ELEMS(provider_names), (int)p);
}

const char *hs_config_object_name(enum hs_config_object o)
{
    return name_of(object_names, N_ELEMS(object_names), (int)o);
}

const char *hs_config_direction_name(enum hs_config_direction d)
{
    return name_of(direction_names, N_ELEMS(direction_names), (int)d);
}

const char *hs_config_transform_name(enum hs_config_transform t)
{
    return name_of(transform_names, N_ELEMS(transform_names), (int)t);
}

const char *hs_config_authority_name(enum hs_config_authority a)
{
    return name_of(authority_names, N_ELEMS(authority_names), (int)a);
}

bool hs_config_provider_is_crm(enum hs_config_provider p)
{
    return p == HS_CONFIG_PROVIDER_HUBSPOT || p == HS_CONFIG_PROVIDER_HIGHLEVEL;
}

bool hs_config_provider_is_accounting(enum hs_config_provider p)
{
    return p == HS_CONFIG_PROVIDER_QUICKBOOKS || p == HS_CONFIG_PROVIDER_XERO ||
           p == HS_CONFIG_PROVIDER_ZOHOBOOKS;
}

/* ---------------------------------------------------------------------------------------- */
/* errors */

static int fail(struct ctx *c, const struct hs_config_node *n, int code, const char *fmt, ...)
    HS_PRINTF(4, 5);

static int fail(struct ctx *c, const struct hs_config_node *n, int code, const char *fmt, ...)
{
    char msg[HS_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n == NULL)
        hs_error_set(c->err, code, "%s: %s", c->file, msg);
    else
        hs_error_set(c->err, code, "%s:%u:%u: %s", c->file, n->line, n->col, msg);
    return code; /* not hs_error_set's result, so analyzers see a failure code */
}

static int nomem(struct ctx *c)
{
    hs_error_set(c->err, HS_ENOMEM, "cannot load config '%s': out of memory", c->file);
    return HS_ENOMEM;
}

static const char *kind_name(const struct hs_config_node *n)
{
    switch (n->kind) {
    case HS_CONFIG_NODE_MAP:
        return "a mapping";
    case HS_CONFIG_NODE_SEQ:
        return "a list";
    case HS_CONFIG_NODE_SCALAR:
    default:
        return "a string";
    }
}

static int wrong_type(struct ctx *c, const struct field *f, const char *expected)
{
    return fail(c, f->v, HS_EINVAL, "'%s' %s must be %s, got %s", f->key, f->what, expected,
                kind_name(f->v));
}

/* "a, b, c" into out (truncated with "..." if it does not fit). */
static void join_names(const char *const *names, size_t n, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(out + used, cap - used, "%s%s", i > 0 ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= cap - used) {
            if (cap >= 4)
                memcpy(out + cap - 4, "...", 4);
            return;
        }
        used += (size_t)w;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* scalar helpers */

static bool is_null(const struct hs_config_node *n)
{
    if (n->kind != HS_CONFIG_NODE_SCALAR || !n->plain)
        return false;
    return n->len == 0 || hs_str_eq(n->value, "~") || hs_str_eq(n->value, "null") ||
           hs_str_eq(n->value, "Null") || hs_str_eq(n->value, "NULL");
}

static int dup_str(struct ctx *c, const struct hs_config_node *n, char **out)
{
    char *s = hs_strndup(n->value, n->len);
    if (s == NULL)
        return nomem(c);
    hs_free(*out);
    *out = s;
    return HS_OK;
}

static int get_str(struct ctx *c, const struct field *f, char **out)
{
    if (f->v->kind != HS_CONFIG_NODE_SCALAR)
        return wrong_type(c, f, "a string");
    if (f->v->len == 0)
        return fail(c, f->v, HS_EINVAL, "'%s' %s must not be empty", f->key, f->what);
    return dup_str(c, f->v, out);
}

/* Index of value among names[first..n), or -1. */
static int lookup(const char *const *names, size_t n, size_t first, const char *value)
{
    for (size_t i = first; i < n; i++) {
        if (hs_str_eq(value, names[i]))
            return (int)i;
    }
    return -1;
}

static int get_enum(struct ctx *c, const struct field *f, const char *const *names, size_t n,
                    size_t first, int *out)
{
    if (f->v->kind != HS_CONFIG_NODE_SCALAR)
        return wrong_type(c, f, "a string");
    int i = lookup(names, n, first, f->v->value);
    if (i >= 0) {
        *out = i;
        return HS_OK;
    }
    char list[160];
    join_names(names + first, n - first, list, sizeof list);
    return fail(c, f->v, HS_EINVAL, "invalid %s '%.64s' %s (expected one of: %s)", f->key,
                f->v->value, f->what, list);
}

static int get_bool(struct ctx *c, const struct field *f, bool *out)
{
    const struct hs_config_node *v = f->v;
    if (v->kind == HS_CONFIG_NODE_SCALAR && v->plain) {
        if (hs_str_eq(v->value, "true") || hs_str_eq(v->value, "True") ||
            hs_str_eq(v->value, "TRUE")) {
            *out = true;
            return HS_OK;
        }
        if (hs_str_eq(v->value, "false") || hs_str_eq(v->value, "False") ||
            hs_str_eq(v->value, "FALSE")) {
            *out = false;
            return HS_OK;
        }
    }
    if (v->kind != HS_CONFIG_NODE_SCALAR)
        return wrong_type(c, f, "true or false");
    return fail(c, v, HS_EINVAL, "invalid value '%.64s' for '%s' %s (expected true or false)",
                v->value, f->key, f->what);
}

static bool all_digits(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

/* Unsigned decimal integer in [min, max]. */
static int get_u32(struct ctx *c, const struct field *f, uint32_t min, uint32_t max, uint32_t *out)
{
    const struct hs_config_node *v = f->v;
    if (v->kind != HS_CONFIG_NODE_SCALAR)
        return wrong_type(c, f, "an integer");
    int64_t n = 0;
    if (!v->plain || !all_digits(v->value, v->len) || hs_str_to_i64(v->value, v->len, &n) != 0 ||
        n < (int64_t)min || n > (int64_t)max)
        return fail(c, v, HS_EINVAL,
                    "invalid value '%.64s' for '%s' %s (expected an integer from %u to %u)",
                    v->value, f->key, f->what, min, max);
    *out = (uint32_t)n;
    return HS_OK;
}

/* "300", "30s", "5m", "1h", "1d" -> seconds in [min_s, max_s]. */
static int get_duration(struct ctx *c, const struct field *f, uint32_t min_s, uint32_t max_s,
                        uint32_t *out)
{
    const struct hs_config_node *v = f->v;
    if (v->kind != HS_CONFIG_NODE_SCALAR)
        return wrong_type(c, f, "a duration");
    size_t len = v->len;
    int64_t unit = 1;
    if (len > 1) {
        switch (v->value[len - 1]) {
        case 's':
            unit = 1;
            len--;
            break;
        case 'm':
            unit = 60;
            len--;
            break;
        case 'h':
            unit = 3600;
            len--;
            break;
        case 'd':
            unit = 86400;
            len--;
            break;
        default:
            break;
        }
    }
    int64_t n = 0;
    if (!v->plain || !all_digits(v->value, len) || len > 9 ||
        hs_str_to_i64(v->value, len, &n) != 0 || n * unit < (int64_t)min_s ||
        n * unit > (int64_t)max_s)
        return fail(c, v, HS_EINVAL,
                    "invalid duration '%.64s' for '%s' %s (expected seconds, or a number with "
                    "s, m, h or d, from %us to %us)",
                    v->value, f->key, f->what, min_s, max_s);
    *out = (uint32_t)(n * unit);
    return HS_OK;
}

/* A fraction 0..1 with up to 6 decimals ("0", "1", "0.85", "1.0") -> millionths. */
static int get_threshold(struct ctx *c, const struct field *f, uint32_t *out)
{
    const struct hs_config_node *v = f->v;
    if (v->kind != HS_CONFIG_NODE_SCALAR)
        return wrong_type(c, f, "a number from 0 to 1");
    const char *s = v->value;
    size_t len = v->len;
    const char *dot = memchr(s, '.', len);
    size_t ilen = dot != NULL ? (size_t)(dot - s) : len;
    size_t flen = dot != NULL ? len - ilen - 1 : 0;
    bool ok = v->plain && ilen == 1 && (s[0] == '0' || s[0] == '1') &&
              (dot == NULL || (flen >= 1 && flen <= 6 && all_digits(dot + 1, flen)));
    uint32_t frac = 0;
    if (ok && dot != NULL) {
        for (size_t i = 0; i < 6; i++)
            frac = frac * 10 + (i < flen ? (uint32_t)(dot[1 + i] - '0') : 0);
    }
    if (ok && s[0] == '1' && frac != 0)
        ok = false;
    if (!ok)
        return fail(c, v, HS_EINVAL,
                    "invalid value '%.64s' for '%s' %s (expected a number from 0 to 1, "
                    "at most 6 decimals)",
                    v->value, f->key, f->what);
    *out = s[0] == '1' ? HS_CONFIG_THRESHOLD_ONE : frac;
    return HS_OK;
}

/* Splits s on ASCII white space into a new array. */
static int split_words(struct ctx *c, const char *s, char ***out, size_t *out_n)
{
    size_t n = 0;
    for (size_t i = 0; s[i] != '\0'; i++) {
        if (s[i] != ' ' && s[i] != '\t' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t'))
            n++;
    }
    char **v = hs_calloc(n > 0 ? n : 1, sizeof *v);
    if (v == NULL)
        return nomem(c);
    *out = v;
    *out_n = n;
    size_t k = 0;
    for (size_t i = 0; s[i] != '\0';) {
        while (s[i] == ' ' || s[i] == '\t')
            i++;
        size_t start = i;
        while (s[i] != '\0' && s[i] != ' ' && s[i] != '\t')
            i++;
        if (i > start) {
            v[k] = hs_strndup(s + start, i - start);
            if (v[k] == NULL)
                return nomem(c);
            k++;
        }
    }
    return HS_OK;
}

/*
 * A list of non-empty strings: `[a, b]`, or a single string (one element, or split on white
 * space when split is true).
 */
static int get_str_list(struct ctx *c, const struct field *f, bool split, char ***out,
                        size_t *out_n)
{
    const struct hs_config_node *v = f->v;
    if (v->kind == HS_CONFIG_NODE_SCALAR) {
        if (v->len == 0)
            return fail(c, v, HS_EINVAL, "'%s' %s must not be empty", f->key, f->what);
        if (split)
            return split_words(c, v->value, out, out_n);
        *out = hs_calloc(1, sizeof **out);
        if (*out == NULL)
            return nomem(c);
        *out_n = 1;
        return dup_str(c, v, &(*out)[0]);
    }
    if (v->kind != HS_CONFIG_NODE_SEQ)
        return wrong_type(c, f, "a list of strings");
    if (v->n_items == 0)
        return fail(c, v, HS_EINVAL, "'%s' %s must not be empty", f->key, f->what);
    *out = hs_calloc(v->n_items, sizeof **out);
    if (*out == NULL)
        return nomem(c);
    *out_n = v->n_items;
    for (size_t i = 0; i < v->n_items; i++) {
        const struct hs_config_node *it = v->items[i];
        if (it->kind != HS_CONFIG_NODE_SCALAR || is_null(it) || it->len == 0)
            return fail(c, it, HS_EINVAL, "each entry of '%s' %s must be a non-empty string",
                        f->key, f->what);
        int rc = dup_str(c, it, &(*out)[i]);
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}

static bool is_http_url(const char *s)
{
    const char *rest = NULL;
    if (hs_str_starts(s, "https://"))
        rest = s + 8;
    else if (hs_str_starts(s, "http://"))
        rest = s + 7;
    if (rest == NULL || rest[0] == '\0' || rest[0] == '/')
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    }
    return true;
}

static int get_url(struct ctx *c, const struct field *f, char **out)
{
    int rc = get_str(c, f, out);
    if (rc != HS_OK)
        return rc;
    if (!is_http_url(*out))
        return fail(c, f->v, HS_EINVAL,
                    "invalid URL '%.64s' for '%s' %s (expected http://HOST... or https://HOST...)",
                    f->v->value, f->key, f->what);
    return HS_OK;
}

/* Resolves rel against the directory of the config file. */
static int resolve_path(struct ctx *c, const char *rel, size_t rel_len, char **out)
{
    char *p;
    if (rel[0] == '/' || c->dir_len == 0)
        p = hs_strndup(rel, rel_len);
    else
        p = hs_asprintf("%.*s%.*s", (int)c->dir_len, c->file, (int)rel_len, rel);
    if (p == NULL)
        return nomem(c);
    hs_free(*out);
    *out = p;
    return HS_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* mappings */

static int cmp_key_nodes(const void *a, const void *b)
{
    const struct hs_config_node *x = *(const struct hs_config_node *const *)a;
    const struct hs_config_node *y = *(const struct hs_config_node *const *)b;
    int r = strcmp(x->value, y->value);
    if (r != 0)
        return r;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->col < y->col ? -1 : (x->col > y->col ? 1 : 0);
}

static bool pos_before(const struct hs_config_node *a, const struct hs_config_node *b)
{
    return a->line < b->line || (a->line == b->line && a->col < b->col);
}

/* Rejects a key that appears twice in mapping n, naming the earliest repeat in the file. */
static int check_duplicates(struct ctx *c, const struct hs_config_node *n, const char *what)
{
    size_t nk = n->n_items / 2;
    if (nk < 2)
        return HS_OK;
    const struct hs_config_node **keys = hs_calloc(nk, sizeof(struct hs_config_node *));
    if (keys == NULL)
        return nomem(c);
    for (size_t i = 0; i < nk; i++)
        keys[i] = n->items[2 * i];
    qsort(keys, nk, sizeof(struct hs_config_node *), cmp_key_nodes);
    const struct hs_config_node *dup = NULL;
    const struct hs_config_node *first = NULL;
    size_t run = 0; /* index of the first key of the current run of equal keys */
    for (size_t i = 1; i < nk; i++) {
        if (strcmp(keys[run]->value, keys[i]->value) != 0) {
            run = i;
            continue;
        }
        /* within a run keys are in file order, so keys[run + 1] is its earliest repeat */
        if (i == run + 1 && (dup == NULL || pos_before(keys[i], dup))) {
            dup = keys[i];
            first = keys[run];
        }
    }
    int rc = HS_OK;
    if (dup != NULL)
        rc = fail(c, dup, HS_EINVAL, "duplicate key '%.64s' %s (first defined at line %u)",
                  dup->value, what, first->line);
    hs_free(keys);
    return rc;
}

static int unknown_key(struct ctx *c, const struct hs_config_node *k, const struct key_spec *specs,
                       size_t n_specs, const char *what)
{
    const char *names[32];
    size_t n = 0;
    for (size_t i = 0; i < n_specs && n < N_ELEMS(names); i++) {
        if ((specs[i].flags & KEY_HIDDEN) == 0)
            names[n++] = specs[i].name;
    }
    char list[200];
    join_names(names, n, list, sizeof list);
    return fail(c, k, HS_EINVAL, "unknown key '%.64s' %s (expected one of: %s)", k->value, what,
                list);
}

/*
 * Walks mapping n against specs: duplicates, unknown keys, each key's parser in file order,
 * then required keys. n must be a mapping.
 */
static int parse_map(struct ctx *c, const struct hs_config_node *n, const struct key_spec *specs,
                     size_t n_specs, const char *what, void *obj)
{
    HS_ASSERT(n->kind == HS_CONFIG_NODE_MAP && n_specs <= 32);
    int rc = check_duplicates(c, n, what);
    if (rc != HS_OK)
        return rc;
    uint32_t seen = 0;
    for (size_t i = 0; i + 1 < n->n_items; i += 2) {
        const struct hs_config_node *k = n->items[i];
        const struct hs_config_node *v = n->items[i + 1];
        size_t s = 0;
        while (s < n_specs && !hs_str_eq(specs[s].name, k->value))
            s++;
        if (s == n_specs)
            return unknown_key(c, k, specs, n_specs, what);
        if (is_null(v)) {
            if (specs[s].flags & KEY_REQUIRED)
                return fail(c, v, HS_EINVAL, "missing value for '%s' %s", specs[s].name, what);
            continue;
        }
        seen |= 1u << s;
        struct field f = {specs[s].name, k, v, what};
        rc = specs[s].parse(c, &f, obj);
        if (rc != HS_OK)
            return rc;
    }
    for (size_t s = 0; s < n_specs; s++) {
        if ((specs[s].flags & KEY_REQUIRED) && (seen & (1u << s)) == 0)
            return fail(c, n, HS_EINVAL, "missing required key '%s' %s", specs[s].name, what);
    }
    return HS_OK;
}

/* Checks f's value is a mapping, then parse_map with the context what. */
static int parse_sub_map(struct ctx *c, const struct field *f, const struct key_spec *specs,
                         size_t n_specs, const char *what, void *obj)
{
    if (f->v->kind != HS_CONFIG_NODE_MAP)
        return wrong_type(c, f, "a mapping");
    return parse_map(c, f->v, specs, n_specs, what, obj);
}

/* ---------------------------------------------------------------------------------------- */
/* connections */

struct conn_scratch {
    struct hs_config_connection *conn;
    bool crm;
};

static int p_conn_provider(struct ctx *c, const struct field *f, void *obj)
{
    struct conn_scratch *s = obj;
    int v = 0;
    int rc = get_enum(c, f, provider_names, N_ELEMS(provider_names), 1, &v);
    if (rc != HS_OK)
        return rc;
    enum hs_config_provider p = (enum hs_config_provider)v;
    if (s->crm && !hs_config_provider_is_crm(p))
        return fail(c, f->v, HS_EINVAL,
                    "provider '%s' cannot be the crm connection (expected one of: hubspot, "
                    "highlevel)",
                    hs_config_provider_name(p));
    if (!s->crm && !hs_config_provider_is_accounting(p))
        return fail(c, f->v, HS_EINVAL,
                    "provider '%s' cannot be the accounting connection (expected one of: "
                    "quickbooks, xero, zohobooks)",
                    hs_config_provider_name(p));
    s->conn->provider = p;
    return HS_OK;
}

static int p_conn_base_url(struct ctx *c, const struct field *f, void *obj)
{
    return get_url(c, f, &((struct conn_scratch *)obj)->conn->base_url);
}

static int p_conn_redirect_uri(struct ctx *c, const struct field *f, void *obj)
{
    return get_url(c, f, &((struct conn_scratch *)obj)->conn->redirect_uri);
}

static int p_conn_client_id(struct ctx *c, const struct field *f, void *obj)
{
    return get_str(c, f, &((struct conn_scratch *)obj)->conn->client_id);
}

static int p_conn_tenant_id(struct ctx *c, const struct field *f, void *obj)
{
    return get_str(c, f, &((struct conn_scratch *)obj)->conn->tenant_id);
}

static bool is_env_name(const char *s)
{
    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    }
    return true;
}

static int p_conn_secret_env(struct ctx *c, const struct field *f, void *obj)
{
    struct conn_scratch *s = obj;
    int rc = get_str(c, f, &s->conn->client_secret_env);
    if (rc != HS_OK)
        return rc;
    if (!is_env_name(s->conn->client_secret_env))
        return fail(c, f->v, HS_EINVAL,
                    "invalid 'client_secret_env' %s (expected the name of an environment "
                    "variable, such as HUBSPOT_CLIENT_SECRET)",
                    f->what);
    return HS_OK;
}

static int p_conn_inline_secret(struct ctx *c, const struct field *f, void *obj)
{
    (void)obj;
    return fail(c, f->kn, HS_EINVAL,
                "inline 'client_secret' %s is not allowed (put the secret in an environment "
                "variable and name it with 'client_secret_env')",
                f->what);
}

static int p_conn_scopes(struct ctx *c, const struct field *f, void *obj)
{
    struct hs_config_connection *conn = ((struct conn_scratch *)obj)->conn;
    return get_str_list(c, f, true, &conn->scopes, &conn->n_scopes);
}

static const struct key_spec connection_keys[] = {
    {"provider", KEY_REQUIRED, p_conn_provider},
    {"base_url", 0, p_conn_base_url},
    {"client_id", 0, p_conn_client_id},
    {"client_secret_env", 0, p_conn_secret_env},
    {"client_secret", KEY_HIDDEN, p_conn_inline_secret},
    {"redirect_uri", 0, p_conn_redirect_uri},
    {"scopes", 0, p_conn_scopes},
    {"tenant_id", 0, p_conn_tenant_id},
};

static int parse_connection(struct ctx *c, const struct field *f, struct hs_config_connection *conn,
                            bool crm)
{
    char what[WHAT_MAX];
    snprintf(what, sizeof what, "in connection '%s'", f->key);
    struct conn_scratch s = {conn, crm};
    conn->present = true;
    conn->pos.line = f->v->line;
    conn->pos.col = f->v->col;
    return parse_sub_map(c, f, connection_keys, N_ELEMS(connection_keys), what, &s);
}

static int p_conn_crm(struct ctx *c, const struct field *f, void *obj)
{
    return parse_connection(c, f, &((struct hs_config *)obj)->crm, true);
}

static int p_conn_accounting(struct ctx *c, const struct field *f, void *obj)
{
    return parse_connection(c, f, &((struct hs_config *)obj)->accounting, false);
}

static const struct key_spec connections_keys[] = {
    {"crm", 0, p_conn_crm},
    {"accounting", 0, p_conn_accounting},
};

/* ---------------------------------------------------------------------------------------- */
/* mappings of a flow */

struct mapping_scratch {
    struct hs_config_mapping *m;
    struct field args; /* args.v == NULL when absent */
};

static int p_map_crm(struct ctx *c, const struct field *f, void *obj)
{
    return get_str(c, f, &((struct mapping_scratch *)obj)->m->crm);
}

static int p_map_accounting(struct ctx *c, const struct field *f, void *obj)
{
    return get_str(c, f, &((struct mapping_scratch *)obj)->m->accounting);
}

static int p_map_transform(struct ctx *c, const struct field *f, void *obj)
{
    int v = 0;
    int rc = get_enum(c, f, transform_names, N_ELEMS(transform_names), 1, &v);
    if (rc == HS_OK)
        ((struct mapping_scratch *)obj)->m->transform = (enum hs_config_transform)v;
    return rc;
}

static int p_map_args(struct ctx *c, const struct field *f, void *obj)
{
    (void)c;
    ((struct mapping_scratch *)obj)->args = *f;
    return HS_OK;
}

static const struct key_spec mapping_keys[] = {
    {"crm", KEY_REQUIRED, p_map_crm},
    {"accounting", KEY_REQUIRED, p_map_accounting},
    {"transform", 0, p_map_transform},
    {"args", 0, p_map_args},
};

static int parse_value_table(struct ctx *c, const struct field *f, struct hs_config_mapping *m)
{
    const struct hs_config_node *v = f->v;
    if (v->kind != HS_CONFIG_NODE_MAP)
        return fail(c, v, HS_EINVAL,
                    "'args' %s must be a mapping of values for transform 'map' (such as "
                    "{Net 30: NET30}), got %s",
                    f->what, kind_name(v));
    if (v->n_items == 0)
        return fail(c, v, HS_EINVAL, "'args' %s must not be empty", f->what);
    int rc = check_duplicates(c, v, f->what);
    if (rc != HS_OK)
        return rc;
    m->map = hs_calloc(v->n_items / 2, sizeof *m->map);
    if (m->map == NULL)
        return nomem(c);
    m->n_map = v->n_items / 2;
    for (size_t i = 0; i < m->n_map; i++) {
        const struct hs_config_node *val = v->items[2 * i + 1];
        if (val->kind != HS_CONFIG_NODE_SCALAR || is_null(val))
            return fail(c, val, HS_EINVAL, "each value of 'args' %s must be a string", f->what);
        rc = dup_str(c, v->items[2 * i], &m->map[i].from);
        if (rc == HS_OK)
            rc = dup_str(c, val, &m->map[i].to);
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}

/* Checks args against the transform once the whole mapping entry has been read. */
static int check_transform_args(struct ctx *c, const struct hs_config_node *entry,
                                struct mapping_scratch *s, const char *what)
{
    struct hs_config_mapping *m = s->m;
    const char *tname = hs_config_transform_name(m->transform);
    switch (m->transform) {
    case HS_CONFIG_TRANSFORM_MAP:
    case HS_CONFIG_TRANSFORM_CONCAT:
    case HS_CONFIG_TRANSFORM_DEFAULT:
        if (s->args.v == NULL)
            return fail(c, entry, HS_EINVAL, "missing required key 'args' %s (transform '%s' %s)",
                        what, tname,
                        m->transform == HS_CONFIG_TRANSFORM_MAP
                            ? "needs a table of values"
                            : (m->transform == HS_CONFIG_TRANSFORM_CONCAT
                                   ? "needs the further fields to join"
                                   : "needs the value to use"));
        break;
    case HS_CONFIG_TRANSFORM_NONE:
    case HS_CONFIG_TRANSFORM_TRIM:
    case HS_CONFIG_TRANSFORM_UPPER:
    case HS_CONFIG_TRANSFORM_LOWER:
    default:
        if (s->args.v != NULL)
            return fail(c, s->args.kn, HS_EINVAL, "'args' %s is not used by transform '%s'", what,
                        tname);
        return HS_OK;
    }
    if (m->transform == HS_CONFIG_TRANSFORM_MAP)
        return parse_value_table(c, &s->args, m);
    int rc = get_str_list(c, &s->args, false, &m->args, &m->n_args);
    if (rc != HS_OK)
        return rc;
    if (m->transform == HS_CONFIG_TRANSFORM_DEFAULT && m->n_args != 1)
        return fail(c, s->args.v, HS_EINVAL,
                    "'args' %s must be one value for transform 'default', got %zu", what,
                    m->n_args);
    return HS_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* flows */

struct flow_scratch {
    struct hs_config_flow *flow;
    const char *flow_what; /* "flow 'customers'" */
};

static int p_flow_name(struct ctx *c, const struct field *f, void *obj)
{
    struct hs_config_flow *flow = ((struct flow_scratch *)obj)->flow;
    int rc = get_str(c, f, &flow->name);
    if (rc != HS_OK)
        return rc;
    bool ok = f->v->len <= MAX_NAME_LEN;
    for (size_t i = 0; ok && i < f->v->len; i++) {
        char ch = flow->name[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '_' || ch == '-' || ch == '.';
    }
    if (!ok)
        return fail(c, f->v, HS_EINVAL,
                    "invalid flow name '%.64s' (expected up to %d letters, digits, '_', '-' or "
                    "'.')",
                    f->v->value, MAX_NAME_LEN);
    return HS_OK;
}

static int p_flow_objects(struct ctx *c, const struct field *f, void *obj)
{
    int v = 0;
    int rc = get_enum(c, f, object_names, N_ELEMS(object_names), 0, &v);
    if (rc == HS_OK)
        ((struct flow_scratch *)obj)->flow->objects = (enum hs_config_object)v;
    return rc;
}

static int p_flow_direction(struct ctx *c, const struct field *f, void *obj)
{
    int v = 0;
    int rc = get_enum(c, f, direction_names, N_ELEMS(direction_names), 0, &v);
    if (rc == HS_OK)
        ((struct flow_scratch *)obj)->flow->direction = (enum hs_config_direction)v;
    return rc;
}

static int p_flow_enforce(struct ctx *c, const struct field *f, void *obj)
{
    return get_bool(c, f, &((struct flow_scratch *)obj)->flow->enforce);
}

static int p_flow_filter(struct ctx *c, const struct field *f, void *obj)
{
    struct flow_scratch *s = obj;
    struct hs_config_flow *flow = s->flow;
    char what[WHAT_MAX];
    snprintf(what, sizeof what, "in 'filter' of %s", s->flow_what);
    if (f->v->kind != HS_CONFIG_NODE_MAP)
        return wrong_type(c, f, "a mapping of field: value");
    int rc = check_duplicates(c, f->v, what);
    if (rc != HS_OK)
        return rc;
    size_t n = f->v->n_items / 2;
    flow->filters = hs_calloc(n > 0 ? n : 1, sizeof *flow->filters);
    if (flow->filters == NULL)
        return nomem(c);
    flow->n_filters = n;
    for (size_t i = 0; i < n; i++) {
        const struct hs_config_node *k = f->v->items[2 * i];
        const struct hs_config_node *v = f->v->items[2 * i + 1];
        if (k->len == 0)
            return fail(c, k, HS_EINVAL, "empty field name %s", what);
        if (is_null(v))
            return fail(c, v, HS_EINVAL, "missing value for '%.64s' %s", k->value, what);
        rc = dup_str(c, k, &flow->filters[i].field);
        if (rc != HS_OK)
            return rc;
        struct field ff = {k->value, k, v, what};
        rc = get_str_list(c, &ff, false, &flow->filters[i].values, &flow->filters[i].n_values);
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}

static int p_flow_mappings(struct ctx *c, const struct field *f, void *obj)
{
    struct flow_scratch *s = obj;
    struct hs_config_flow *flow = s->flow;
    if (f->v->kind != HS_CONFIG_NODE_SEQ)
        return wrong_type(c, f, "a list");
    size_t n = f->v->n_items;
    flow->mappings = hs_calloc(n > 0 ? n : 1, sizeof *flow->mappings);
    if (flow->mappings == NULL)
        return nomem(c);
    flow->n_mappings = n;
    for (size_t i = 0; i < n; i++) {
        const struct hs_config_node *e = f->v->items[i];
        char what[WHAT_MAX];
        snprintf(what, sizeof what, "in mapping %zu of %s", i + 1, s->flow_what);
        struct hs_config_mapping *m = &flow->mappings[i];
        m->pos.line = e->line;
        m->pos.col = e->col;
        if (e->kind != HS_CONFIG_NODE_MAP)
            return fail(c, e, HS_EINVAL,
                        "each entry of 'mappings' in %s must be a mapping with 'crm' and "
                        "'accounting', got %s",
                        s->flow_what, kind_name(e));
        struct mapping_scratch ms;
        memset(&ms, 0, sizeof ms);
        ms.m = m;
        int rc = parse_map(c, e, mapping_keys, N_ELEMS(mapping_keys), what, &ms);
        if (rc == HS_OK)
            rc = check_transform_args(c, e, &ms, what);
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}

static int p_flow_authority(struct ctx *c, const struct field *f, void *obj)
{
    struct flow_scratch *s = obj;
    struct hs_config_flow *flow = s->flow;
    char what[WHAT_MAX];
    snprintf(what, sizeof what, "in 'authority' of %s", s->flow_what);
    if (f->v->kind != HS_CONFIG_NODE_MAP)
        return wrong_type(c, f, "a mapping of field: crm|accounting|newest|manual");
    int rc = check_duplicates(c, f->v, what);
    if (rc != HS_OK)
        return rc;
    size_t n = f->v->n_items / 2;
    flow->authority = hs_calloc(n > 0 ? n : 1, sizeof *flow->authority);
    if (flow->authority == NULL)
        return nomem(c);
    for (size_t i = 0; i < n; i++) {
        const struct hs_config_node *k = f->v->items[2 * i];
        const struct hs_config_node *v = f->v->items[2 * i + 1];
        if (k->len == 0)
            return fail(c, k, HS_EINVAL, "empty field name %s", what);
        if (is_null(v))
            return fail(c, v, HS_EINVAL, "missing value for '%.64s' %s", k->value, what);
        int a = v->kind == HS_CONFIG_NODE_SCALAR
                    ? lookup(authority_names, N_ELEMS(authority_names), 0, v->value)
                    : -1;
        if (a < 0) {
            char list[160];
            join_names(authority_names, N_ELEMS(authority_names), list, sizeof list);
            return fail(c, v, HS_EINVAL,
                        "invalid authority '%.64s' for field '%.64s' %s (expected one of: %s)",
                        v->kind == HS_CONFIG_NODE_SCALAR ? v->value : kind_name(v), k->value, what,
                        list);
        }
        if (hs_str_eq(k->value, "default")) {
            flow->default_authority = (enum hs_config_authority)a;
            continue;
        }
        struct hs_config_field_authority *fa = &flow->authority[flow->n_authority++];
        fa->authority = (enum hs_config_authority)a;
        rc = dup_str(c, k, &fa->field);
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}

struct matching_scratch {
    struct hs_config_flow *flow;
    const struct hs_config_node *review; /* position of 'review', for the order check */
};

static int p_match_link(struct ctx *c, const struct field *f, void *obj)
{
    return get_threshold(c, f, &((struct matching_scratch *)obj)->flow->match_link);
}

static int p_match_review(struct ctx *c, const struct field *f, void *obj)
{
    struct matching_scratch *s = obj;
    s->review = f->v;
    return get_threshold(c, f, &s->flow->match_review);
}

static const struct key_spec matching_keys[] = {
    {"link", 0, p_match_link},
    {"review", 0, p_match_review},
};

static int p_flow_matching(struct ctx *c, const struct field *f, void *obj)
{
    struct flow_scratch *s = obj;
    char what[WHAT_MAX];
    snprintf(what, sizeof what, "in 'matching' of %s", s->flow_what);
    struct matching_scratch ms = {s->flow, NULL};
    int rc = parse_sub_map(c, f, matching_keys, N_ELEMS(matching_keys), what, &ms);
    if (rc != HS_OK)
        return rc;
    if (s->flow->match_review > s->flow->match_link)
        return fail(c, ms.review != NULL ? ms.review : f->v, HS_EINVAL,
                    "'review' threshold %s is above the 'link' threshold (expected review <= "
                    "link)",
                    what);
    return HS_OK;
}

static const struct key_spec flow_keys[] = {
    {"name", KEY_REQUIRED, p_flow_name}, {"objects", KEY_REQUIRED, p_flow_objects},
    {"direction", 0, p_flow_direction},  {"enforce", 0, p_flow_enforce},
    {"filter", 0, p_flow_filter},        {"mappings", 0, p_flow_mappings},
    {"authority", 0, p_flow_authority},  {"matching", 0, p_flow_matching},
};

/* The flow's name as written (for messages before 'name' itself is parsed), or NULL. */
static const char *peek_name(const struct hs_config_node *n)
{
    for (size_t i = 0; i + 1 < n->n_items; i += 2) {
        const struct hs_config_node *v = n->items[i + 1];
        if (hs_str_eq(n->items[i]->value, "name") && v->kind == HS_CONFIG_NODE_SCALAR && v->len > 0)
            return v->value;
    }
    return NULL;
}

static int p_flows(struct ctx *c, const struct field *f, void *obj)
{
    struct hs_config *cfg = obj;
    if (f->v->kind != HS_CONFIG_NODE_SEQ)
        return wrong_type(c, f, "a list");
    size_t n = f->v->n_items;
    if (n > MAX_FLOWS)
        return fail(c, f->v, HS_ETOOBIG, "too many flows (%zu, limit %d)", n, MAX_FLOWS);
    cfg->flows = hs_calloc(n > 0 ? n : 1, sizeof *cfg->flows);
    if (cfg->flows == NULL)
        return nomem(c);
    cfg->n_flows = n;
    for (size_t i = 0; i < n; i++) {
        const struct hs_config_node *e = f->v->items[i];
        struct hs_config_flow *flow = &cfg->flows[i];
        flow->pos.line = e->line;
        flow->pos.col = e->col;
        flow->match_link = DEFAULT_LINK;
        flow->match_review = DEFAULT_REVIEW;
        if (e->kind != HS_CONFIG_NODE_MAP)
            return fail(c, e, HS_EINVAL, "each entry of 'flows' must be a mapping, got %s",
                        kind_name(e));
        char flow_what[FLOW_WHAT_MAX];
        const char *name = peek_name(e);
        if (name != NULL)
            snprintf(flow_what, sizeof flow_what, "flow '%.64s'", name);
        else
            snprintf(flow_what, sizeof flow_what, "flow %zu", i + 1);
        char what[WHAT_MAX];
        snprintf(what, sizeof what, "in %s", flow_what);
        struct flow_scratch s = {flow, flow_what};
        int rc = parse_map(c, e, flow_keys, N_ELEMS(flow_keys), what, &s);
        if (rc != HS_OK)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (hs_str_eq(cfg->flows[j].name, flow->name))
                return fail(c, e, HS_EINVAL, "duplicate flow name '%s' (first defined at line %u)",
                            flow->name, cfg->flows[j].pos.line);
        }
    }
    return HS_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* sync */

static int p_sync_interval(struct ctx *c, const struct field *f, void *obj)
{
    return get_duration(c, f, 10, 86400, &((struct hs_config_sync *)obj)->interval_s);
}

static int p_sync_read_batch(struct ctx *c, const struct field *f, void *obj)
{
    return get_u32(c, f, 1, 1000, &((struct hs_config_sync *)obj)->read_batch);
}

static int p_sync_write_batch(struct ctx *c, const struct field *f, void *obj)
{
    return get_u32(c, f, 1, 1000, &((struct hs_config_sync *)obj)->write_batch);
}

static const struct key_spec sync_keys[] = {
    {"interval", 0, p_sync_interval},
    {"read_batch", 0, p_sync_read_batch},
    {"write_batch", 0, p_sync_write_batch},
};

/* ---------------------------------------------------------------------------------------- */
/* top level */

static int p_version(struct ctx *c, const struct field *f, void *obj)
{
    uint32_t v = 0;
    int rc = get_u32(c, f, 0, 1000000, &v);
    if (rc != HS_OK)
        return rc;
    if (v != HS_CONFIG_VERSION)
        return fail(c, f->v, HS_EUNSUPPORTED, "unsupported config version %u (expected %d)", v,
                    HS_CONFIG_VERSION);
    ((struct hs_config *)obj)->version = (int)v;
    return HS_OK;
}

static int p_store(struct ctx *c, const struct field *f, void *obj)
{
    struct hs_config *cfg = obj;
    if (f->v->kind != HS_CONFIG_NODE_SCALAR)
        return wrong_type(c, f, "a string");
    const char *s = f->v->value;
    if (hs_str_starts(s, "sqlite:") && s[7] != '\0') {
        cfg->store_kind = HS_CONFIG_STORE_SQLITE;
        return resolve_path(c, s + 7, f->v->len - 7, &cfg->store);
    }
    if ((hs_str_starts(s, "postgres://") && s[11] != '\0') ||
        (hs_str_starts(s, "postgresql://") && s[13] != '\0')) {
        cfg->store_kind = HS_CONFIG_STORE_POSTGRES;
        return dup_str(c, f->v, &cfg->store);
    }
    return fail(c, f->v, HS_EINVAL,
                "invalid store '%.64s' (expected sqlite:PATH or postgres://USER@HOST/DB)", s);
}

static int p_master_key_file(struct ctx *c, const struct field *f, void *obj)
{
    struct hs_config *cfg = obj;
    if (f->v->kind != HS_CONFIG_NODE_SCALAR)
        return wrong_type(c, f, "a file path");
    if (f->v->len == 0)
        return fail(c, f->v, HS_EINVAL, "'%s' %s must not be empty", f->key, f->what);
    return resolve_path(c, f->v->value, f->v->len, &cfg->master_key_file);
}

static int p_connections(struct ctx *c, const struct field *f, void *obj)
{
    return parse_sub_map(c, f, connections_keys, N_ELEMS(connections_keys), "in 'connections'",
                         obj);
}

static int p_sync(struct ctx *c, const struct field *f, void *obj)
{
    return parse_sub_map(c, f, sync_keys, N_ELEMS(sync_keys), "in 'sync'",
                         &((struct hs_config *)obj)->sync);
}

static const struct key_spec top_keys[] = {
    {"version", KEY_REQUIRED, p_version},
    {"store", 0, p_store},
    {"master_key_file", 0, p_master_key_file},
    {"connections", 0, p_connections},
    {"flows", 0, p_flows},
    {"sync", 0, p_sync},
};

static int parse_root(struct ctx *c, const struct hs_config_node *root, struct hs_config *cfg)
{
    if (root == NULL || is_null(root))
        return hs_error_set(c->err, HS_EINVAL,
                            "%s:1:1: empty configuration (expected a mapping with at least "
                            "'version: %d')",
                            c->file, HS_CONFIG_VERSION);
    if (root->kind != HS_CONFIG_NODE_MAP)
        return fail(c, root, HS_EINVAL,
                    "the configuration must be a mapping of keys (version, store, connections, "
                    "flows, ...), got %s",
                    kind_name(root));
    int rc = parse_map(c, root, top_keys, N_ELEMS(top_keys), "at top level", cfg);
    if (rc != HS_OK)
        return rc;
    if (cfg->store == NULL) {
        cfg->store_kind = HS_CONFIG_STORE_SQLITE;
        rc = resolve_path(c, "hoopsync.db", strlen("hoopsync.db"), &cfg->store);
        if (rc != HS_OK)
            return rc;
    }
    if (cfg->master_key_file == NULL) {
        rc = resolve_path(c, "hoopsync.key", strlen("hoopsync.key"), &cfg->master_key_file);
        if (rc != HS_OK)
            return rc;
    }
    if (cfg->n_flows > 0 && (!cfg->crm.present || !cfg->accounting.present)) {
        const struct hs_config_flow *fl = &cfg->flows[0];
        struct hs_config_node at;
        memset(&at, 0, sizeof at);
        at.line = fl->pos.line;
        at.col = fl->pos.col;
        return fail(c, &at, HS_EINVAL,
                    "flow '%s' needs both connections (missing '%s' in 'connections')", fl->name,
                    cfg->crm.present ? "accounting" : "crm");
    }
    return HS_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* public API */

int hs_config_parse(const uint8_t *buf, size_t len, const char *name, struct hs_config **out,
                    struct hs_error *err)
{
    *out = NULL;
    if (name == NULL)
        name = "hoopsync.yaml";
    struct ctx c = {name, 0, err};
    const char *slash = strrchr(name, '/');
    if (slash != NULL)
        c.dir_len = (size_t)(slash - name) + 1;
    if (len > HS_CONFIG_MAX_BYTES)
        return hs_error_set(err, HS_ETOOBIG, "config '%s' is too large (%zu bytes, limit %zu)",
                            name, len, HS_CONFIG_MAX_BYTES);
    struct hs_config_node *root = NULL;
    int rc = hs_config_tree_build(buf, len, name, &root, err);
    if (rc != HS_OK)
        return rc;
    struct hs_config *cfg = hs_calloc(1, sizeof *cfg);
    if (cfg == NULL) {
        hs_config_tree_free(root);
        return nomem(&c);
    }
    cfg->sync.interval_s = 300;
    cfg->sync.read_batch = 100;
    cfg->sync.write_batch = 30;
    cfg->path = hs_strdup(name);
    rc = cfg->path == NULL ? nomem(&c) : parse_root(&c, root, cfg);
    hs_config_tree_free(root);
    if (rc != HS_OK) {
        hs_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return HS_OK;
}

int hs_config_load_file(const char *path, struct hs_config **out, struct hs_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        return hs_error_set(err, e == ENOENT ? HS_ENOTFOUND : HS_EIO, "cannot read config '%s': %s",
                            path, strerror(e));
    }
    size_t cap = HS_CONFIG_MAX_BYTES + 1;
    uint8_t *buf = hs_malloc(cap);
    if (buf == NULL) {
        fclose(f);
        return hs_error_set(err, HS_ENOMEM, "cannot read config '%s': out of memory", path);
    }
    size_t len = 0;
    while (len < cap) {
        size_t got = fread(buf + len, 1, cap - len, f);
        if (got == 0)
            break;
        len += got;
    }
    int rc = HS_OK;
    if (ferror(f)) {
        int e = errno;
        rc = hs_error_set(err, HS_EIO, "cannot read config '%s': %s", path,
                          e != 0 ? strerror(e) : "read error");
    } else if (len > HS_CONFIG_MAX_BYTES) {
        rc = hs_error_set(err, HS_ETOOBIG, "config '%s' is too large (more than %zu bytes)", path,
                          HS_CONFIG_MAX_BYTES);
    }
    fclose(f);
    if (rc == HS_OK)
        rc = hs_config_parse(buf, len, path, out, err);
    hs_free(buf);
    return rc;
}

static void free_strv(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        hs_free(v[i]);
    hs_free(v);
}

static void release_connection(struct hs_config_connection *conn)
{
    hs_free(conn->base_url);
    hs_free(conn->client_id);
    hs_free(conn->client_secret_env);
    hs_free(conn->redirect_uri);
    free_strv(conn->scopes, conn->n_scopes);
    hs_free(conn->tenant_id);
}

static void release_flow(struct hs_config_flow *fl)
{
    hs_free(fl->name);
    for (size_t i = 0; i < fl->n_filters; i++) {
        hs_free(fl->filters[i].field);
        free_strv(fl->filters[i].values, fl->filters[i].n_values);
    }
    hs_free(fl->filters);
    for (size_t i = 0; i < fl->n_mappings; i++) {
        struct hs_config_mapping *m = &fl->mappings[i];
        hs_free(m->crm);
        hs_free(m->accounting);
        free_strv(m->args, m->n_args);
        for (size_t j = 0; j < m->n_map; j++) {
            hs_free(m->map[j].from);
            hs_free(m->map[j].to);
        }
        hs_free(m->map);
    }
    hs_free(fl->mappings);
    for (size_t i = 0; i < fl->n_authority; i++)
        hs_free(fl->authority[i].field);
    hs_free(fl->authority);
}

void hs_config_free(struct hs_config *cfg)
{
    if (cfg == NULL)
        return;
    hs_free(cfg->path);
    hs_free(cfg->store);
    hs_free(cfg->master_key_file);
    release_connection(&cfg->crm);
    release_connection(&cfg->accounting);
    for (size_t i = 0; i < cfg->n_flows; i++)
        release_flow(&cfg->flows[i]);
    hs_free(cfg->flows);
    hs_free(cfg);
}

size_t hs_config_n_connections(const struct hs_config *cfg)
{
    return (cfg->crm.present ? 1u : 0u) + (cfg->accounting.present ? 1u : 0u);
}

const struct hs_config_flow *hs_config_flow_find(const struct hs_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_flows; i++) {
        if (hs_str_eq(cfg->flows[i].name, name))
            return &cfg->flows[i];
    }
    return NULL;
}
