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
 *             accounting providers, unique flow names) run after that mapping's table pass;
 *             a flow's `invoicing:` is parsed only once its `objects` is known (it belongs to
 *             the one invoices flow, whose direction is crm_to_accounting). A connection's
 *             `settings:` is free-form: the subtree becomes compact JSON text for the
 *             connector (duplicate keys still refused); tax percentages are read with the
 *             exact decimal parser, never through a double.
 * Invariants: every array in struct hs_config is allocated zeroed with its count set at once,
 *             so hs_config_free can release a partly filled config on any error path.
 * Ownership:  the tree is freed before hs_config_parse returns; the config is the caller's.
 * Not here:   YAML syntax, caps and aliases (config/tree.c); the meaning of flows (engine).
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_int.h"
#include "core/currency.h"
#include "core/decimal.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/str.h"

#define MAX_FLOWS      256
#define MAX_TERMS      256
#define MAX_TAXES      256
#define MAX_DUE_DAYS   3650
#define MIN_UTC_OFFSET (-12 * 60)
#define MAX_UTC_OFFSET (14 * 60)
#define PERCENT_MAX    INT64_C(1000000000) /* 1000%, scale 6 */
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
    KEY_HIDDEN = 1 << 1, /* accepted (an older spelling, or for a better message); not listed */
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
static const char *const tax_mode_names[] = {"exclusive", "inclusive", "none"};
static const char *const updates_names[] = {"never", "draft_only", "unpaid"};

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

const char *hs_config_tax_mode_name(enum hs_config_tax_mode m)
{
    return name_of(tax_mode_names, N_ELEMS(tax_mode_names), (int)m);
}

const char *hs_config_invoice_updates_name(enum hs_config_invoice_updates u)
{
    return name_of(updates_names, N_ELEMS(updates_names), (int)u);
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
                    "provider '%s' cannot be the crm connection (expected one of: hubspot)",
                    hs_config_provider_name(p));
    /* a known name without a connector yet: refused here, not at connect time */
    if (p == HS_CONFIG_PROVIDER_HIGHLEVEL)
        return fail(c, f->v, HS_EUNSUPPORTED,
                    "provider 'highlevel' is not supported yet (the crm connection can be: "
                    "hubspot)");
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
    char **out = &((struct conn_scratch *)obj)->conn->redirect_uri;
    int rc = get_str(c, f, out);
    if (rc != HS_OK)
        return rc;
    /* the rule `hoopsync connect` listens by (util/str.h), so check and connect agree */
    rc = hs_str_loopback_uri(*out, NULL, NULL, NULL);
    if (rc == HS_ENOMEM)
        return nomem(c);
    if (rc != HS_OK)
        return fail(c, f->v, HS_EINVAL,
                    "invalid redirect_uri '%.64s' %s (expected " HS_LOOPBACK_URI_FORMS
                    ": 'hoopsync connect' receives the consent redirect on this machine)",
                    f->v->value, f->what);
    return HS_OK;
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

/* ---- settings: a YAML subtree as JSON ---- */

/* "-?[0-9]+" that fits int64. */
static bool plain_integer(const struct hs_config_node *n, int64_t *out)
{
    const char *s = n->value;
    size_t len = n->len;
    size_t digits = len > 0 && s[0] == '-' ? 1 : 0;
    if (!all_digits(s + digits, len - digits) || len > 20)
        return false;
    return hs_str_to_i64(s, len, out) == 0;
}

static json_t *scalar_to_json(const struct hs_config_node *n)
{
    if (n->plain) {
        int64_t i = 0;
        if (is_null(n))
            return json_null();
        if (hs_str_eq(n->value, "true") || hs_str_eq(n->value, "True") ||
            hs_str_eq(n->value, "TRUE"))
            return json_true();
        if (hs_str_eq(n->value, "false") || hs_str_eq(n->value, "False") ||
            hs_str_eq(n->value, "FALSE"))
            return json_false();
        if (plain_integer(n, &i))
            return json_integer((json_int_t)i);
    }
    return json_stringn(n->value, n->len);
}

/*
 * n as a new JSON value into *out (see struct hs_config_connection.settings for the typing).
 * Mappings reject duplicate keys like every other mapping of the file.
 */
static int node_to_json(struct ctx *c, const struct hs_config_node *n, const char *what,
                        json_t **out)
{
    *out = NULL;
    if (n->kind == HS_CONFIG_NODE_SCALAR) {
        *out = scalar_to_json(n);
        return *out != NULL ? HS_OK : nomem(c);
    }
    json_t *j = n->kind == HS_CONFIG_NODE_MAP ? json_object() : json_array();
    if (j == NULL)
        return nomem(c);
    int rc = n->kind == HS_CONFIG_NODE_MAP ? check_duplicates(c, n, what) : HS_OK;
    size_t step = n->kind == HS_CONFIG_NODE_MAP ? 2 : 1;
    for (size_t i = 0; rc == HS_OK && i + step - 1 < n->n_items; i += step) {
        json_t *v = NULL;
        rc = node_to_json(c, n->items[i + step - 1], what, &v);
        if (rc != HS_OK)
            break;
        int jr = n->kind == HS_CONFIG_NODE_MAP ? json_object_set_new(j, n->items[i]->value, v)
                                               : json_array_append_new(j, v);
        if (jr != 0)
            rc = nomem(c);
    }
    if (rc != HS_OK) {
        json_decref(j);
        return rc;
    }
    *out = j;
    return HS_OK;
}

static int p_conn_settings(struct ctx *c, const struct field *f, void *obj)
{
    struct hs_config_connection *conn = ((struct conn_scratch *)obj)->conn;
    if (f->v->kind != HS_CONFIG_NODE_MAP)
        return wrong_type(c, f, "a mapping of provider settings");
    char what[WHAT_MAX];
    snprintf(what, sizeof what, "in 'settings' %s", f->what);
    json_t *j = NULL;
    int rc = node_to_json(c, f->v, what, &j);
    if (rc != HS_OK)
        return rc;
    struct hs_buf b;
    hs_buf_init(&b);
    char *text = NULL;
    if (hs_json_dump(j, &b) == HS_OK)
        text = hs_buf_detach(&b);
    hs_buf_release(&b);
    json_decref(j);
    if (text == NULL)
        return nomem(c);
    hs_free(conn->settings);
    conn->settings = text;
    return HS_OK;
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
    {"settings", 0, p_conn_settings},
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
    const char *flow_what;                  /* "flow 'customers'" */
    const struct hs_config_node *direction; /* its value when given, else NULL */
    const struct hs_config_node *enforce;   /* its value when given, else NULL */
    struct field invoicing;                 /* invoicing.v == NULL when absent */
    /* the keys of mappings, authority, matching and filter when given (for invoices and
     * payments flows, which do not use them all: check_flow_objects) */
    const struct hs_config_node *field_keys[4];
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
    struct flow_scratch *s = obj;
    int rc = get_enum(c, f, direction_names, N_ELEMS(direction_names), 0, &v);
    if (rc == HS_OK) {
        s->flow->direction = (enum hs_config_direction)v;
        s->direction = f->v;
    }
    return rc;
}

static int p_flow_enforce(struct ctx *c, const struct field *f, void *obj)
{
    ((struct flow_scratch *)obj)->enforce = f->v;
    return get_bool(c, f, &((struct flow_scratch *)obj)->flow->enforce);
}

static int p_flow_filter(struct ctx *c, const struct field *f, void *obj)
{
    struct flow_scratch *s = obj;
    struct hs_config_flow *flow = s->flow;
    s->field_keys[3] = f->kn;
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
        /* values are compared trimmed, and an empty field matches no filter: a blank value
         * could never match */
        for (size_t j = 0; j < flow->filters[i].n_values; j++) {
            const char *t = flow->filters[i].values[j];
            if (t[strspn(t, " \t\n\r\f\v")] == '\0')
                return fail(c, v->kind == HS_CONFIG_NODE_SEQ ? v->items[j] : v, HS_EINVAL,
                            "blank value for '%.64s' %s (values are compared without surrounding "
                            "blanks, and a record whose field is empty is in no filter)",
                            k->value, what);
        }
    }
    return HS_OK;
}

static int p_flow_mappings(struct ctx *c, const struct field *f, void *obj)
{
    struct flow_scratch *s = obj;
    struct hs_config_flow *flow = s->flow;
    s->field_keys[0] = f->kn;
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
    s->field_keys[1] = f->kn;
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
        fa->pos.line = k->line;
        fa->pos.col = k->col;
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
    s->field_keys[2] = f->kn;
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

/* ---------------------------------------------------------------------------------------- */
/* invoicing of an invoices flow */

struct invoicing_scratch {
    struct hs_config_invoicing *iv;
    const char *flow_what;                      /* "flow 'invoices'" */
    const struct hs_config_node *payment_terms; /* its value, for the check against terms */
    const struct hs_config_node *updates;       /* invoice_updates or updates, the first seen */
};

/* A string shorter than HS_TAX_REF_MAX (a tax code or rate id the tax map can hold). */
static int get_ref(struct ctx *c, const struct field *f, char **out)
{
    int rc = get_str(c, f, out);
    if (rc == HS_OK && f->v->len >= HS_TAX_REF_MAX)
        return fail(c, f->v, HS_EINVAL, "'%s' %s is too long (%zu bytes, limit %d)", f->key,
                    f->what, f->v->len, HS_TAX_REF_MAX - 1);
    return rc;
}

static int p_inv_default_item(struct ctx *c, const struct field *f, void *obj)
{
    return get_str(c, f, &((struct invoicing_scratch *)obj)->iv->default_item);
}

static int p_inv_payment_terms(struct ctx *c, const struct field *f, void *obj)
{
    struct invoicing_scratch *s = obj;
    s->payment_terms = f->v;
    return get_str(c, f, &s->iv->payment_terms);
}

static int p_inv_untaxed_code(struct ctx *c, const struct field *f, void *obj)
{
    return get_ref(c, f, &((struct invoicing_scratch *)obj)->iv->untaxed_code);
}

static int p_inv_tax_mode(struct ctx *c, const struct field *f, void *obj)
{
    int v = 0;
    int rc = get_enum(c, f, tax_mode_names, N_ELEMS(tax_mode_names), 0, &v);
    if (rc == HS_OK)
        ((struct invoicing_scratch *)obj)->iv->tax_mode = (enum hs_config_tax_mode)v;
    return rc;
}

/* invoice_updates, and `updates` (its spelling before 0.1.0 was documented with the name the
 * product uses; still read so that files `hoopsync init` wrote keep working). */
static int p_inv_updates(struct ctx *c, const struct field *f, void *obj)
{
    struct invoicing_scratch *s = obj;
    if (s->updates != NULL)
        return fail(c, f->kn, HS_EINVAL,
                    "'%s' %s repeats '%s' of line %u (they are one setting: keep "
                    "'invoice_updates')",
                    f->key, f->what, s->updates->value, s->updates->line);
    s->updates = f->kn;
    int v = 0;
    int rc = get_enum(c, f, updates_names, N_ELEMS(updates_names), 0, &v);
    if (rc == HS_OK)
        s->iv->updates = (enum hs_config_invoice_updates)v;
    return rc;
}

static int p_inv_default_currency(struct ctx *c, const struct field *f, void *obj)
{
    struct hs_config_invoicing *iv = ((struct invoicing_scratch *)obj)->iv;
    if (f->v->kind != HS_CONFIG_NODE_SCALAR)
        return wrong_type(c, f, "a currency code");
    if (hs_currency_find(f->v->value) == NULL)
        return fail(c, f->v, HS_EINVAL,
                    "invalid currency '%.64s' for '%s' %s (expected an ISO 4217 code such as "
                    "USD or EUR)",
                    f->v->value, f->key, f->what);
    return dup_str(c, f->v, &iv->default_currency);
}

/* "+HH:MM" / "-HH:MM" within -12:00..+14:00 -> minutes. */
static int p_inv_utc_offset(struct ctx *c, const struct field *f, void *obj)
{
    struct hs_config_invoicing *iv = ((struct invoicing_scratch *)obj)->iv;
    const struct hs_config_node *v = f->v;
    if (v->kind != HS_CONFIG_NODE_SCALAR)
        return wrong_type(c, f, "an offset such as \"+01:00\"");
    const char *s = v->value;
    bool ok = v->len == 6 && (s[0] == '+' || s[0] == '-') && all_digits(s + 1, 2) && s[3] == ':' &&
              all_digits(s + 4, 2);
    int32_t m = 0;
    if (ok) {
        int32_t hh = (s[1] - '0') * 10 + (s[2] - '0');
        int32_t mm = (s[4] - '0') * 10 + (s[5] - '0');
        m = (s[0] == '-' ? -1 : 1) * (hh * 60 + mm);
        ok = mm < 60 && m >= MIN_UTC_OFFSET && m <= MAX_UTC_OFFSET;
    }
    if (!ok)
        return fail(c, v, HS_EINVAL,
                    "invalid utc_offset '%.64s' %s (expected +HH:MM or -HH:MM from -12:00 to "
                    "+14:00, such as \"+01:00\")",
                    s, f->what);
    iv->utc_offset_minutes = m;
    return HS_OK;
}

static int p_inv_terms(struct ctx *c, const struct field *f, void *obj)
{
    struct invoicing_scratch *s = obj;
    struct hs_config_invoicing *iv = s->iv;
    char what[WHAT_MAX];
    snprintf(what, sizeof what, "in 'invoicing.terms' of %s", s->flow_what);
    if (f->v->kind != HS_CONFIG_NODE_MAP)
        return wrong_type(c, f, "a mapping of term name: days until due");
    size_t n = f->v->n_items / 2;
    if (n > MAX_TERMS)
        return fail(c, f->v, HS_ETOOBIG, "too many terms %s (%zu, limit %d)", what, n, MAX_TERMS);
    int rc = check_duplicates(c, f->v, what);
    if (rc != HS_OK)
        return rc;
    iv->terms = hs_calloc(n > 0 ? n : 1, sizeof *iv->terms);
    if (iv->terms == NULL)
        return nomem(c);
    iv->n_terms = n;
    for (size_t i = 0; i < n; i++) {
        const struct hs_config_node *k = f->v->items[2 * i];
        const struct hs_config_node *v = f->v->items[2 * i + 1];
        if (k->len == 0)
            return fail(c, k, HS_EINVAL, "empty term name %s", what);
        if (is_null(v))
            return fail(c, v, HS_EINVAL, "missing days for term '%.64s' %s", k->value, what);
        for (size_t j = 0; j < i; j++) {
            if (hs_str_ieq(iv->terms[j].name, k->value))
                return fail(c, k, HS_EINVAL,
                            "duplicate term '%.64s' %s (same as '%.64s'; names are compared "
                            "without case)",
                            k->value, what, iv->terms[j].name);
        }
        struct field ff = {k->value, k, v, what};
        uint32_t days = 0;
        rc = get_u32(c, &ff, 0, MAX_DUE_DAYS, &days);
        if (rc == HS_OK)
            rc = dup_str(c, k, &iv->terms[i].name);
        if (rc != HS_OK)
            return rc;
        iv->terms[i].due_days = (int32_t)days;
    }
    return HS_OK;
}

/* ---- taxes ---- */

struct tax_scratch {
    struct hs_config_tax *tax;
    char *code; /* parsed 'code', copied into tax->code after the pass */
};

static int p_tax_code(struct ctx *c, const struct field *f, void *obj)
{
    return get_ref(c, f, &((struct tax_scratch *)obj)->code);
}

struct rate_scratch {
    struct hs_tax_component *comp;
    char *id;
};

static int p_rate_id(struct ctx *c, const struct field *f, void *obj)
{
    return get_ref(c, f, &((struct rate_scratch *)obj)->id);
}

/* An exact decimal percentage 0..1000 ("20", "7.25"); never through a double. */
static int p_rate_percent(struct ctx *c, const struct field *f, void *obj)
{
    struct rate_scratch *s = obj;
    const struct hs_config_node *v = f->v;
    if (v->kind != HS_CONFIG_NODE_SCALAR)
        return wrong_type(c, f, "a percentage such as \"20\"");
    struct hs_decimal d = {0};
    bool ok = v->len > 0 && v->value[0] != '+' &&
              hs_decimal_parse_exact(v->value, v->len, &d, NULL) == HS_OK && d.v >= 0 &&
              d.v <= PERCENT_MAX;
    if (!ok)
        return fail(c, v, HS_EINVAL,
                    "invalid percent '%.64s' %s (expected a number from 0 to 1000 with at most 6 "
                    "decimals, such as \"20\" or \"7.25\")",
                    v->value, f->what);
    s->comp->percent = d;
    return HS_OK;
}

static const struct key_spec rate_keys[] = {
    {"id", 0, p_rate_id},
    {"percent", KEY_REQUIRED, p_rate_percent},
};

static int p_tax_rates(struct ctx *c, const struct field *f, void *obj)
{
    struct hs_tax_code *code = &((struct tax_scratch *)obj)->tax->code;
    const struct hs_config_node *v = f->v;
    if (v->kind != HS_CONFIG_NODE_SEQ)
        return wrong_type(c, f, "a list of {id, percent}");
    if (v->n_items > HS_TAX_MAX_COMPONENTS)
        return fail(c, v, HS_EINVAL, "too many rates %s (%zu, limit %d)", f->what, v->n_items,
                    HS_TAX_MAX_COMPONENTS);
    for (size_t i = 0; i < v->n_items; i++) {
        const struct hs_config_node *e = v->items[i];
        char what[WHAT_MAX];
        snprintf(what, sizeof what, "in rate %zu of %s", i + 1, f->what + 3);
        if (e->kind != HS_CONFIG_NODE_MAP)
            return fail(c, e, HS_EINVAL,
                        "each entry of 'rates' %s must be a mapping with 'percent' (and 'id'), "
                        "got %s",
                        f->what, kind_name(e));
        struct hs_tax_component *comp = &code->components[i];
        struct rate_scratch rs = {comp, NULL};
        int rc = parse_map(c, e, rate_keys, N_ELEMS(rate_keys), what, &rs);
        if (rc == HS_OK && rs.id != NULL) {
            memcpy(comp->rate_ref, rs.id, strlen(rs.id) + 1);
            for (size_t j = 0; j < i; j++) {
                if (strcmp(code->components[j].rate_ref, comp->rate_ref) == 0)
                    rc =
                        fail(c, e, HS_EINVAL, "duplicate rate id '%s' %s", comp->rate_ref, f->what);
            }
        }
        hs_free(rs.id);
        if (rc != HS_OK)
            return rc;
        code->n_components = i + 1;
    }
    return HS_OK;
}

static const struct key_spec tax_keys[] = {
    {"code", KEY_REQUIRED, p_tax_code},
    {"rates", 0, p_tax_rates},
};

/* Trims blanks and folds ASCII case into out as the tax map does; false when empty or too long. */
static bool fold_label(const char *s, char out[HS_TAX_REF_MAX])
{
    size_t b = 0;
    size_t e = strlen(s);
    while (b < e && (s[b] == ' ' || s[b] == '\t'))
        b++;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    if (e == b || e - b >= HS_TAX_REF_MAX)
        return false;
    for (size_t i = b; i < e; i++)
        out[i - b] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
    out[e - b] = '\0';
    return true;
}

static int p_inv_taxes(struct ctx *c, const struct field *f, void *obj)
{
    struct invoicing_scratch *s = obj;
    struct hs_config_invoicing *iv = s->iv;
    char what[WHAT_MAX];
    snprintf(what, sizeof what, "in 'invoicing.taxes' of %s", s->flow_what);
    if (f->v->kind != HS_CONFIG_NODE_MAP)
        return wrong_type(c, f, "a mapping of CRM tax label: {code, rates}");
    size_t n = f->v->n_items / 2;
    if (n > MAX_TAXES)
        return fail(c, f->v, HS_ETOOBIG, "too many taxes %s (%zu, limit %d)", what, n, MAX_TAXES);
    int rc = check_duplicates(c, f->v, what);
    if (rc != HS_OK)
        return rc;
    iv->taxes = hs_calloc(n > 0 ? n : 1, sizeof *iv->taxes);
    if (iv->taxes == NULL)
        return nomem(c);
    iv->n_taxes = n;
    for (size_t i = 0; i < n; i++) {
        const struct hs_config_node *k = f->v->items[2 * i];
        const struct hs_config_node *v = f->v->items[2 * i + 1];
        struct hs_config_tax *t = &iv->taxes[i];
        t->pos.line = k->line;
        t->pos.col = k->col;
        char key[HS_TAX_REF_MAX];
        if (!fold_label(k->value, key))
            return fail(c, k, HS_EINVAL,
                        "invalid tax label '%.64s' %s (expected 1 to %d characters besides "
                        "surrounding blanks)",
                        k->value, what, HS_TAX_REF_MAX - 1);
        for (size_t j = 0; j < i; j++) {
            char other[HS_TAX_REF_MAX];
            if (fold_label(iv->taxes[j].label, other) && strcmp(key, other) == 0)
                return fail(c, k, HS_EINVAL,
                            "duplicate tax label '%.64s' %s (same as '%.64s' on line %u; labels "
                            "are compared without case and surrounding blanks)",
                            k->value, what, iv->taxes[j].label, iv->taxes[j].pos.line);
        }
        rc = dup_str(c, k, &t->label);
        if (rc != HS_OK)
            return rc;
        char twhat[WHAT_MAX];
        snprintf(twhat, sizeof twhat, "in tax '%.32s' of %s", k->value, s->flow_what);
        if (v->kind != HS_CONFIG_NODE_MAP)
            return fail(c, is_null(v) ? k : v, HS_EINVAL,
                        "tax '%.64s' %s must be a mapping with 'code' (and 'rates'), got %s",
                        k->value, what, is_null(v) ? "nothing" : kind_name(v));
        struct tax_scratch ts = {t, NULL};
        rc = parse_map(c, v, tax_keys, N_ELEMS(tax_keys), twhat, &ts);
        if (rc == HS_OK)
            memcpy(t->code.code, ts.code, strlen(ts.code) + 1);
        hs_free(ts.code);
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}

static const struct key_spec invoicing_keys[] = {
    {"default_item", 0, p_inv_default_item},
    {"payment_terms", 0, p_inv_payment_terms},
    {"terms", 0, p_inv_terms},
    {"tax_mode", 0, p_inv_tax_mode},
    {"taxes", 0, p_inv_taxes},
    {"untaxed_code", 0, p_inv_untaxed_code},
    {"default_currency", 0, p_inv_default_currency},
    {"utc_offset", 0, p_inv_utc_offset},
    {"invoice_updates", 0, p_inv_updates},
    {"updates", KEY_HIDDEN, p_inv_updates}, /* the older spelling of invoice_updates */
};

/* The `invoicing:` value f of the invoices flow described by flow_what. */
static int parse_invoicing(struct ctx *c, const struct field *f, const char *flow_what,
                           struct hs_config_invoicing *iv)
{
    char what[WHAT_MAX];
    snprintf(what, sizeof what, "in 'invoicing' of %s", flow_what);
    iv->present = true;
    iv->pos.line = f->v->line;
    iv->pos.col = f->v->col;
    struct invoicing_scratch s = {iv, flow_what, NULL, NULL};
    int rc = parse_sub_map(c, f, invoicing_keys, N_ELEMS(invoicing_keys), what, &s);
    if (rc != HS_OK || iv->payment_terms == NULL)
        return rc;
    const char *names[32];
    size_t n_names = 0;
    for (size_t i = 0; i < iv->n_terms; i++) {
        if (hs_str_ieq(iv->terms[i].name, iv->payment_terms))
            return HS_OK;
        if (n_names < N_ELEMS(names))
            names[n_names++] = iv->terms[i].name;
    }
    if (iv->n_terms == 0)
        return fail(c, s.payment_terms, HS_EINVAL,
                    "payment_terms '%.64s' %s is not among 'terms' (no terms are defined; add "
                    "terms: {\"%.64s\": 30})",
                    iv->payment_terms, what, iv->payment_terms);
    char list[160];
    join_names(names, n_names, list, sizeof list);
    return fail(c, s.payment_terms, HS_EINVAL,
                "payment_terms '%.64s' %s is not among 'terms' (expected one of: %s)",
                iv->payment_terms, what, list);
}

static int p_flow_invoicing(struct ctx *c, const struct field *f, void *obj)
{
    (void)c;
    ((struct flow_scratch *)obj)->invoicing = *f; /* parsed once 'objects' is known */
    return HS_OK;
}

/*
 * mappings, authority and matching drive the field sync of customers and items flows. An
 * invoices flow builds each invoice from its deal (engine/invoices.c) and a payments flow
 * writes payment status to the deals as it is (and of every invoice: no filter), so there
 * they would be silently ignored: they are refused instead, saying what to use.
 */
static int check_field_keys(struct ctx *c, const struct flow_scratch *s)
{
    static const char *const keys[4] = {"mappings", "authority", "matching", "filter"};
    static const char *const invoices[4] = {
        ("invoices are built from their deals; use 'invoicing' (default_currency, default_item, "
         "payment_terms, taxes)"),
        ("invoices are built from their deals; 'invoice_updates' in 'invoicing' says what a deal "
         "edit may change"),
        "each closed-won deal gets its own invoice, nothing is matched",
        NULL, /* an invoices flow's filter chooses the deals */
    };
    static const char *const payments[4] = {
        ("payment status is written to the deals as it is (hoopsync_payment_status, amounts "
         "paid and due)"),
        "payment status only goes from accounting to the deals",
        "payments reach the deals through their invoices, nothing is matched",
        ("payment status follows every invoice hoopsync made; to choose the deals, put the "
         "filter on the invoices flow"),
    };
    enum hs_config_object o = s->flow->objects;
    if (o != HS_CONFIG_OBJECT_INVOICES && o != HS_CONFIG_OBJECT_PAYMENTS)
        return HS_OK;
    for (size_t i = 0; i < N_ELEMS(keys); i++) {
        const char *why = o == HS_CONFIG_OBJECT_INVOICES ? invoices[i] : payments[i];
        if (s->field_keys[i] != NULL && why != NULL)
            return fail(c, s->field_keys[i], HS_EINVAL,
                        "'%s' in %s would be ignored on an 'objects: %s' flow: %s", keys[i],
                        s->flow_what, hs_config_object_name(o), why);
    }
    return HS_OK;
}

/* What needs the whole flow: the invoicing block's place, the invoices flow's direction, the
 * keys invoices and payments flows do not use. */
static int check_flow_objects(struct ctx *c, struct flow_scratch *s)
{
    struct hs_config_flow *flow = s->flow;
    if (flow->enforce && flow->direction == HS_CONFIG_DIRECTION_BOTH &&
        flow->objects != HS_CONFIG_OBJECT_INVOICES)
        return fail(c, s->enforce, HS_EINVAL,
                    "'enforce: true' in %s has no effect: it applies to one-way flows "
                    "(crm_to_accounting or accounting_to_crm), and this flow syncs both ways",
                    s->flow_what);
    int rc = check_field_keys(c, s);
    if (rc != HS_OK)
        return rc;
    if (flow->objects != HS_CONFIG_OBJECT_INVOICES) {
        if (s->invoicing.v != NULL)
            return fail(c, s->invoicing.kn, HS_EINVAL,
                        "'invoicing' in %s is only allowed on an 'objects: invoices' flow (this "
                        "flow has objects: %s)",
                        s->flow_what, hs_config_object_name(flow->objects));
        return HS_OK;
    }
    if (s->direction == NULL)
        flow->direction = HS_CONFIG_DIRECTION_CRM_TO_ACCOUNTING;
    else if (flow->direction != HS_CONFIG_DIRECTION_CRM_TO_ACCOUNTING)
        return fail(c, s->direction, HS_EINVAL,
                    "invalid direction '%s' for %s (an 'objects: invoices' flow is always "
                    "crm_to_accounting: closed-won deals become invoices)",
                    hs_config_direction_name(flow->direction), s->flow_what);
    if (s->invoicing.v != NULL)
        return parse_invoicing(c, &s->invoicing, s->flow_what, &flow->invoicing);
    return HS_OK;
}

static const struct key_spec flow_keys[] = {
    {"name", KEY_REQUIRED, p_flow_name}, {"objects", KEY_REQUIRED, p_flow_objects},
    {"direction", 0, p_flow_direction},  {"enforce", 0, p_flow_enforce},
    {"filter", 0, p_flow_filter},        {"mappings", 0, p_flow_mappings},
    {"authority", 0, p_flow_authority},  {"matching", 0, p_flow_matching},
    {"invoicing", 0, p_flow_invoicing},
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
        struct flow_scratch s;
        memset(&s, 0, sizeof s);
        s.flow = flow;
        s.flow_what = flow_what;
        int rc = parse_map(c, e, flow_keys, N_ELEMS(flow_keys), what, &s);
        if (rc == HS_OK)
            rc = check_flow_objects(c, &s);
        if (rc != HS_OK)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (hs_str_eq(cfg->flows[j].name, flow->name))
                return fail(c, e, HS_EINVAL, "duplicate flow name '%s' (first defined at line %u)",
                            flow->name, cfg->flows[j].pos.line);
            if (flow->objects == HS_CONFIG_OBJECT_INVOICES &&
                cfg->flows[j].objects == HS_CONFIG_OBJECT_INVOICES)
                return fail(c, e, HS_EINVAL,
                            "second 'objects: invoices' flow '%s' (flow '%s' at line %u already "
                            "invoices closed-won deals; one invoices flow is allowed)",
                            flow->name, cfg->flows[j].name, cfg->flows[j].pos.line);
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
    cfg->sync.read_batch = 0; /* 0: each provider's maximum */
    cfg->sync.write_batch = 0;
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
    hs_free(conn->settings);
}

static void release_invoicing(struct hs_config_invoicing *iv)
{
    hs_free(iv->default_item);
    hs_free(iv->payment_terms);
    for (size_t i = 0; i < iv->n_terms; i++)
        hs_free(iv->terms[i].name);
    hs_free(iv->terms);
    for (size_t i = 0; i < iv->n_taxes; i++)
        hs_free(iv->taxes[i].label);
    hs_free(iv->taxes);
    hs_free(iv->untaxed_code);
    hs_free(iv->default_currency);
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
    release_invoicing(&fl->invoicing);
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
