/*
 * core/mapping.c - compiles a flow's field mappings and applies their transforms.
 *
 * Design:     compiling copies each `mappings:` entry into a struct rule with canonical paths
 *             (resolver first, then the name itself as a canonical path), its transform data
 *             (map table with a one-to-one flag, default value, resolved concat sources) and
 *             the side its trim/case/default applies toward. Rules live in one array sized
 *             once, so the public struct hs_mapping_field embedded in each rule can point at
 *             it. Authority keys are matched against the rules (labels and paths) first; the
 *             others must name a canonical path and go to a small table the identity pairs
 *             consult. hs_mapping_list merges the rules with identity pairs taken from the
 *             union of the views' names.
 *             Path validity is asked of the model itself: hs_record_from_fields is tried with
 *             one probe value per canonical value type; a path is valid when any probe builds.
 *             This keeps record.c the only field table (see Not here for a cheaper API).
 * Invariants: see core/mapping.h.
 * Ownership:  struct hs_mapping owns every string it keeps; views are borrowed.
 * Not here:   the merge (merge.c); a direct "is this a field of kind" query in record.c would
 *             replace the probes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mapping.h"
#include "util/alloc.h"
#include "util/str.h"

struct rule {
    struct hs_mapping_field f; /* public view; its strings point into this rule */
    struct hs_config_pos pos;
    char *crm_path;
    char *acc_path;
    char *crm_label;
    char *acc_label;
    char **concat; /* further crm source paths */
    size_t n_concat;
    char **from; /* map table: crm values ... */
    char **to;   /* ... and the accounting values they become */
    size_t n_table;
    bool invertible;
    char *dflt;
    enum hs_mapping_side t_to; /* side trim/upper/lower/default apply toward */
};

struct auth {
    char *path;
    enum hs_config_authority authority;
};

struct hs_mapping {
    enum hs_kind kind;
    enum hs_config_direction direction;
    bool enforce;
    enum hs_config_authority dflt_auth;
    char *flow_name;
    struct rule *rules;
    size_t n_rules;
    struct auth *auth; /* authority of identity fields, by canonical path */
    size_t n_auth;
};

/* ---- small helpers ------------------------------------------------------------------------- */

const char *hs_mapping_side_name(enum hs_mapping_side side)
{
    switch (side) {
    case HS_MAPPING_CRM:
        return "crm";
    case HS_MAPPING_ACCOUNTING:
        return "accounting";
    }
    return "?";
}

enum hs_kind hs_mapping_kind_of(enum hs_config_object objects)
{
    switch (objects) {
    case HS_CONFIG_OBJECT_CUSTOMERS:
        return HS_KIND_CUSTOMER;
    case HS_CONFIG_OBJECT_ITEMS:
        return HS_KIND_ITEM;
    case HS_CONFIG_OBJECT_INVOICES:
        return HS_KIND_INVOICE;
    case HS_CONFIG_OBJECT_PAYMENTS:
        return HS_KIND_PAYMENT;
    }
    return HS_KIND_NONE;
}

static int dup_or_null(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL)
        return HS_OK;
    *out = hs_strdup(s);
    return *out == NULL ? HS_ENOMEM : HS_OK;
}

static void free_strv(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        hs_free(v[i]);
    hs_free(v);
}

/* ---- paths ------------------------------------------------------------------------------- */

/* One value per canonical value type (string, boolean, money, decimal, date, currency,
 * country, the enums' first names): a valid path accepts at least one of them. */
static const char *const probes[] = {
    "", "true", "USD 0.00", "0", "2000-01-01", "USD", "FR", "draft", "exclusive",
};

/* 1 when path is a field of kind, 0 when not, HS_ENOMEM when that could not be told. */
static int path_check(enum hs_kind kind, const char *path)
{
    if (path == NULL || *path == '\0' || strlen(path) > HS_FIELD_NAME_MAX)
        return 0;
    if (kind <= HS_KIND_NONE || kind > HS_KIND_MAX)
        return 0;
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        struct hs_field one = {(char *)path, (char *)probes[i]}; /* read only below */
        struct hs_fields f = {&one, 1, 1};
        struct hs_record *r = NULL;
        int rc = hs_record_from_fields(kind, &f, &r, NULL);
        hs_record_free(r);
        if (rc == HS_OK)
            return 1;
        if (rc == HS_ENOMEM)
            return HS_ENOMEM;
        if (rc == HS_ETOOBIG)
            return 0;
    }
    return 0;
}

bool hs_mapping_path_valid(enum hs_kind kind, const char *path)
{
    return path_check(kind, path) == 1;
}

int hs_mapping_path_check(enum hs_kind kind, const char *path)
{
    return path_check(kind, path);
}

bool hs_mapping_path_side_specific(const char *path)
{
    if (hs_str_starts(path, "custom.") || hs_str_starts(path, "external_refs."))
        return true;
    /* last segment after the final '.' */
    const char *seg = strrchr(path, '.');
    seg = seg == NULL ? path : seg + 1;
    return hs_str_ends(seg, "_ref") || strcmp(seg, "tax_code") == 0;
}

/* ---- compile ----------------------------------------------------------------------------- */

static void rule_release(struct rule *r)
{
    hs_free(r->crm_path);
    hs_free(r->acc_path);
    hs_free(r->crm_label);
    hs_free(r->acc_label);
    free_strv(r->concat, r->n_concat);
    free_strv(r->from, r->n_table);
    free_strv(r->to, r->n_table);
    hs_free(r->dflt);
}

void hs_mapping_free(struct hs_mapping *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; m->rules != NULL && i < m->n_rules; i++)
        rule_release(&m->rules[i]);
    hs_free(m->rules);
    for (size_t i = 0; i < m->n_auth; i++)
        hs_free(m->auth[i].path);
    hs_free(m->auth);
    hs_free(m->flow_name);
    hs_free(m);
}

enum hs_kind hs_mapping_kind(const struct hs_mapping *m)
{
    return m->kind;
}

enum hs_config_direction hs_mapping_direction(const struct hs_mapping *m)
{
    return m->direction;
}

bool hs_mapping_enforce(const struct hs_mapping *m)
{
    return m->enforce;
}

const char *hs_mapping_flow_name(const struct hs_mapping *m)
{
    return m->flow_name;
}

struct compile {
    struct hs_mapping *m;
    hs_mapping_resolve_fn resolve;
    void *ud;
    struct hs_error *err;
    const char *file; /* NULL: positions as "line L:C: " after the flow prefix */
    bool placed;      /* the message already names the file and the flow */
};

/*
 * Fails with a message about the config entry at pos: "line L:C: what" (hs_mapping_compile
 * adds "cannot compile mapping of flow 'x': " in front), or with a file name
 * "FILE:L:C: cannot compile mapping of flow 'x': what", as the config parser words its own
 * errors. pos.line 0 (an entry built without a position) gives no position. Returns code.
 */
static int at(struct compile *c, struct hs_config_pos pos, int code, const char *fmt, ...)
    HS_PRINTF(4, 5);
static int at(struct compile *c, struct hs_config_pos pos, int code, const char *fmt, ...)
{
    char what[HS_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (c->file == NULL && pos.line == 0)
        return hs_error_set(c->err, code, "%s", what);
    if (c->file == NULL)
        return hs_error_set(c->err, code, "line %u:%u: %s", pos.line, pos.col, what);
    c->placed = true;
    if (pos.line == 0)
        return hs_error_set(c->err, code, "%s: cannot compile mapping of flow '%.64s': %s", c->file,
                            c->m->flow_name, what);
    return hs_error_set(c->err, code, "%s:%u:%u: cannot compile mapping of flow '%.64s': %s",
                        c->file, pos.line, pos.col, c->m->flow_name, what);
}

/*
 * Resolves a config name on side into a new canonical path (*out). HS_OK, HS_EINVAL (unknown
 * field, message without prefix), HS_ENOMEM.
 */
static int resolve_name(struct compile *c, enum hs_mapping_side side, const char *name,
                        struct hs_config_pos pos, char **out)
{
    *out = NULL;
    const char *kind = hs_kind_name(c->m->kind);
    if (name == NULL || *name == '\0')
        return at(c, pos, HS_EINVAL, "empty %s field name", hs_mapping_side_name(side));
    const char *path = c->resolve != NULL ? c->resolve(c->ud, side, c->m->kind, name) : NULL;
    int ok = path_check(c->m->kind, path != NULL ? path : name);
    if (ok == HS_ENOMEM)
        return hs_error_set(c->err, HS_ENOMEM, "out of memory");
    if (path != NULL && ok == 0)
        return at(c, pos, HS_EINVAL,
                  "%s field '%.64s' resolves to '%.64s', which is not a "
                  "field of %s",
                  hs_mapping_side_name(side), name, path, kind);
    if (path == NULL) {
        if (ok == 0)
            return at(c, pos, HS_EINVAL, "unknown %s field '%.64s' of %s%s",
                      hs_mapping_side_name(side), name, kind,
                      c->resolve != NULL ? " (neither a field name of the provider on that side "
                                           "nor a canonical field path)"
                                         : "");
        path = name;
    }
    *out = hs_strdup(path);
    if (*out == NULL)
        return hs_error_set(c->err, HS_ENOMEM, "out of memory");
    return HS_OK;
}

/* Fills r's transform data from the config entry. */
static int compile_transform(struct compile *c, const struct hs_config_mapping *cm, struct rule *r)
{
    struct hs_mapping *m = c->m;
    r->t_to = m->direction == HS_CONFIG_DIRECTION_ACCOUNTING_TO_CRM ? HS_MAPPING_CRM
                                                                    : HS_MAPPING_ACCOUNTING;
    bool need_acc = m->direction != HS_CONFIG_DIRECTION_ACCOUNTING_TO_CRM;
    bool need_crm = m->direction != HS_CONFIG_DIRECTION_CRM_TO_ACCOUNTING;
    bool can_crm = true;
    switch (cm->transform) {
    case HS_CONFIG_TRANSFORM_NONE:
    case HS_CONFIG_TRANSFORM_TRIM:
    case HS_CONFIG_TRANSFORM_UPPER:
    case HS_CONFIG_TRANSFORM_LOWER:
        break;
    case HS_CONFIG_TRANSFORM_DEFAULT:
        if (cm->n_args != 1 || cm->args[0] == NULL)
            return at(c, cm->pos, HS_EINVAL, "transform 'default' needs exactly one value");
        r->dflt = hs_strdup(cm->args[0]);
        if (r->dflt == NULL)
            return hs_error_set(c->err, HS_ENOMEM, "out of memory");
        break;
    case HS_CONFIG_TRANSFORM_MAP: {
        if (cm->n_map == 0)
            return at(c, cm->pos, HS_EINVAL, "transform 'map' needs a table");
        r->from = hs_calloc(cm->n_map, sizeof *r->from);
        r->to = hs_calloc(cm->n_map, sizeof *r->to);
        if (r->from == NULL || r->to == NULL)
            return hs_error_set(c->err, HS_ENOMEM, "out of memory");
        for (size_t i = 0; i < cm->n_map; i++) {
            r->from[i] = hs_strdup(cm->map[i].from);
            r->to[i] = hs_strdup(cm->map[i].to);
            r->n_table = i + 1;
            if (r->from[i] == NULL || r->to[i] == NULL)
                return hs_error_set(c->err, HS_ENOMEM, "out of memory");
        }
        r->invertible = true;
        const char *dup_to = NULL;
        const char *first = NULL;
        const char *second = NULL;
        for (size_t i = 0; i < r->n_table && dup_to == NULL; i++) {
            for (size_t j = i + 1; j < r->n_table; j++) {
                if (strcmp(r->from[i], r->from[j]) == 0)
                    return at(c, cm->pos, HS_EINVAL, "map table of crm '%.64s' lists '%.64s' twice",
                              r->crm_label, r->from[i]);
                if (strcmp(r->to[i], r->to[j]) == 0 && dup_to == NULL) {
                    dup_to = r->to[i];
                    first = r->from[i];
                    second = r->from[j];
                }
            }
        }
        if (dup_to != NULL) {
            r->invertible = false;
            can_crm = false;
            if (need_crm)
                return at(c, cm->pos, HS_EINVAL,
                          "map table of crm '%.64s' is not one-to-one ('%.32s' comes from "
                          "'%.32s' and '%.32s'), so accounting values cannot flow back to the crm; "
                          "make the table one-to-one or the flow crm_to_accounting",
                          r->crm_label, dup_to, first, second);
        }
        break;
    }
    case HS_CONFIG_TRANSFORM_CONCAT:
        if (m->direction == HS_CONFIG_DIRECTION_ACCOUNTING_TO_CRM)
            return at(c, cm->pos, HS_EINVAL,
                      "transform 'concat' joins crm fields, so it cannot "
                      "feed the crm in an accounting_to_crm flow");
        if (cm->n_args == 0)
            return at(c, cm->pos, HS_EINVAL, "transform 'concat' needs the fields to append");
        r->concat = hs_calloc(cm->n_args, sizeof *r->concat);
        if (r->concat == NULL)
            return hs_error_set(c->err, HS_ENOMEM, "out of memory");
        for (size_t i = 0; i < cm->n_args; i++) {
            int rc = resolve_name(c, HS_MAPPING_CRM, cm->args[i], cm->pos, &r->concat[i]);
            if (rc != HS_OK)
                return rc;
            r->n_concat = i + 1;
        }
        can_crm = false;
        break;
    default:
        return at(c, cm->pos, HS_EINVAL, "unknown transform %d", (int)cm->transform);
    }
    r->f.to_accounting = need_acc;
    r->f.to_crm = need_crm && can_crm;
    return HS_OK;
}

static int compile_rule(struct compile *c, const struct hs_config_mapping *cm, struct rule *r)
{
    r->pos = cm->pos;
    r->crm_label = hs_strdup(cm->crm != NULL ? cm->crm : "");
    r->acc_label = hs_strdup(cm->accounting != NULL ? cm->accounting : "");
    if (r->crm_label == NULL || r->acc_label == NULL)
        return hs_error_set(c->err, HS_ENOMEM, "out of memory");
    int rc = resolve_name(c, HS_MAPPING_CRM, cm->crm, cm->pos, &r->crm_path);
    if (rc == HS_OK)
        rc = resolve_name(c, HS_MAPPING_ACCOUNTING, cm->accounting, cm->pos, &r->acc_path);
    if (rc == HS_OK)
        rc = compile_transform(c, cm, r);
    if (rc != HS_OK)
        return rc;
    r->f.crm = r->crm_path;
    r->f.accounting = r->acc_path;
    r->f.crm_label = r->crm_label;
    r->f.acc_label = r->acc_label;
    r->f.transform = cm->transform;
    r->f.authority = c->m->dflt_auth;
    r->f.identity = false;
    r->f.rule = r;
    return HS_OK;
}

static int cmp_rule(const void *a, const void *b)
{
    const struct rule *x = a;
    const struct rule *y = b;
    int d = strcmp(x->crm_path, y->crm_path);
    return d != 0 ? d : strcmp(x->acc_path, y->acc_path);
}

/* Refuses a canonical path used by two rules on the same side. */
static int check_duplicates(struct compile *c)
{
    const struct hs_mapping *m = c->m;
    for (size_t i = 0; i < m->n_rules; i++) {
        for (size_t j = i + 1; j < m->n_rules; j++) {
            const struct rule *a = &m->rules[i];
            const struct rule *b = &m->rules[j];
            const char *side = NULL;
            const char *path = NULL;
            if (hs_str_eq(a->crm_path, b->crm_path)) {
                side = "crm";
                path = a->crm_path;
            } else if (hs_str_eq(a->acc_path, b->acc_path)) {
                side = "accounting";
                path = a->acc_path;
            }
            if (side != NULL) {
                const struct rule *lo = a->pos.line <= b->pos.line ? a : b;
                const struct rule *hi = lo == a ? b : a;
                return at(c, hi->pos, HS_EINVAL, "%s field '%.64s' is already mapped at line %u:%u",
                          side, path, lo->pos.line, lo->pos.col);
            }
        }
    }
    return HS_OK;
}

static bool rule_matches(const struct rule *r, const char *key)
{
    return strcmp(r->crm_label, key) == 0 || strcmp(r->acc_label, key) == 0 ||
           strcmp(r->crm_path, key) == 0 || strcmp(r->acc_path, key) == 0;
}

static int cmp_auth(const void *a, const void *b)
{
    return strcmp(((const struct auth *)a)->path, ((const struct auth *)b)->path);
}

static int compile_authority(struct compile *c, const struct hs_config_flow *flow)
{
    struct hs_mapping *m = c->m;
    if (flow->n_authority == 0)
        return HS_OK;
    m->auth = hs_calloc(flow->n_authority, sizeof *m->auth);
    if (m->auth == NULL)
        return hs_error_set(c->err, HS_ENOMEM, "out of memory");
    for (size_t i = 0; i < flow->n_authority; i++) {
        const struct hs_config_field_authority *fa = &flow->authority[i];
        const char *key = fa->field != NULL ? fa->field : "";
        bool matched = false;
        for (size_t k = 0; k < m->n_rules; k++) {
            if (rule_matches(&m->rules[k], key)) {
                m->rules[k].f.authority = fa->authority;
                matched = true;
            }
        }
        if (matched)
            continue;
        const char *path = NULL;
        int ok = path_check(m->kind, key);
        if (ok == 1)
            path = key;
        for (int s = HS_MAPPING_CRM; ok == 0 && c->resolve != NULL && s <= HS_MAPPING_ACCOUNTING;
             s++) {
            const char *p = c->resolve(c->ud, (enum hs_mapping_side)s, m->kind, key);
            ok = p != NULL ? path_check(m->kind, p) : 0;
            if (ok == 1)
                path = p;
        }
        if (ok == HS_ENOMEM)
            return hs_error_set(c->err, HS_ENOMEM, "out of memory");
        if (path == NULL)
            return at(c, fa->pos, HS_EINVAL,
                      "authority for unknown field '%.64s' (not mapped and not a field of %s)", key,
                      hs_kind_name(m->kind));
        bool dup = false;
        for (size_t k = 0; k < m->n_auth; k++) {
            if (strcmp(m->auth[k].path, path) == 0) {
                m->auth[k].authority = fa->authority;
                dup = true;
            }
        }
        if (dup)
            continue;
        m->auth[m->n_auth].path = hs_strdup(path);
        if (m->auth[m->n_auth].path == NULL)
            return hs_error_set(c->err, HS_ENOMEM, "out of memory");
        m->auth[m->n_auth].authority = fa->authority;
        m->n_auth++;
    }
    if (m->n_auth > 1)
        qsort(m->auth, m->n_auth, sizeof *m->auth, cmp_auth);
    return HS_OK;
}

static int compile(const struct hs_config_flow *flow, enum hs_kind kind, const char *file,
                   hs_mapping_resolve_fn resolve, void *ud, struct hs_mapping **out,
                   struct hs_error *err);

int hs_mapping_compile(const struct hs_config_flow *flow, enum hs_kind kind,
                       hs_mapping_resolve_fn resolve, void *ud, struct hs_mapping **out,
                       struct hs_error *err)
{
    return compile(flow, kind, NULL, resolve, ud, out, err);
}

int hs_mapping_compile_file(const struct hs_config_flow *flow, enum hs_kind kind, const char *file,
                            hs_mapping_resolve_fn resolve, void *ud, struct hs_mapping **out,
                            struct hs_error *err)
{
    return compile(flow, kind, file, resolve, ud, out, err);
}

static int compile(const struct hs_config_flow *flow, enum hs_kind kind, const char *file,
                   hs_mapping_resolve_fn resolve, void *ud, struct hs_mapping **out,
                   struct hs_error *err)
{
    *out = NULL;
    const char *flow_name = flow != NULL && flow->name != NULL ? flow->name : "default";
    if (kind <= HS_KIND_NONE || kind > HS_KIND_MAX)
        return hs_error_set(err, HS_EINVAL,
                            "cannot compile mapping of flow '%.64s': kind %d is "
                            "not valid",
                            flow_name, (int)kind);
    struct hs_mapping *m = hs_calloc(1, sizeof *m);
    if (m == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot compile mapping: out of memory");
    struct compile c = {m, resolve, ud, err, file, false};
    int rc = HS_ENOMEM;
    m->kind = kind;
    m->flow_name = hs_strdup(flow_name);
    if (m->flow_name == NULL)
        goto fail;
    if (flow == NULL) {
        *out = m;
        return HS_OK;
    }
    m->direction = flow->direction;
    m->enforce = flow->enforce;
    m->dflt_auth = flow->default_authority;
    if (flow->n_mappings > 0) {
        m->rules = hs_calloc(flow->n_mappings, sizeof *m->rules);
        if (m->rules == NULL)
            goto fail;
    }
    for (size_t i = 0; i < flow->n_mappings; i++) {
        m->n_rules = i + 1;
        rc = compile_rule(&c, &flow->mappings[i], &m->rules[i]);
        if (rc != HS_OK)
            goto fail;
    }
    rc = check_duplicates(&c);
    if (rc != HS_OK)
        goto fail;
    if (m->n_rules > 1) {
        qsort(m->rules, m->n_rules, sizeof *m->rules, cmp_rule);
        for (size_t i = 0; i < m->n_rules; i++) {
            struct rule *r = &m->rules[i];
            r->f.crm = r->crm_path;
            r->f.accounting = r->acc_path;
            r->f.crm_label = r->crm_label;
            r->f.acc_label = r->acc_label;
            r->f.rule = r;
        }
    }
    rc = compile_authority(&c, flow);
    if (rc != HS_OK)
        goto fail;
    *out = m;
    return HS_OK;
fail:
    hs_mapping_free(m);
    if (rc == HS_ENOMEM)
        return hs_error_set(err, HS_ENOMEM,
                            "cannot compile mapping of flow '%.64s': out of "
                            "memory",
                            flow_name);
    if (!c.placed)
        hs_error_prefix(err, "cannot compile mapping of flow '%.64s'", flow_name);
    return rc;
}

/* ---- listing ------------------------------------------------------------------------------ */

void hs_mapping_list_init(struct hs_mapping_list *l)
{
    l->items = NULL;
    l->n_items = 0;
}

void hs_mapping_list_release(struct hs_mapping_list *l)
{
    if (l == NULL)
        return;
    hs_free(l->items);
    hs_mapping_list_init(l);
}

static bool claimed(const struct hs_mapping *m, const char *path)
{
    for (size_t i = 0; i < m->n_rules; i++) {
        if (strcmp(m->rules[i].crm_path, path) == 0 || strcmp(m->rules[i].acc_path, path) == 0)
            return true;
    }
    return false;
}

static enum hs_config_authority identity_authority(const struct hs_mapping *m, const char *path)
{
    size_t lo = 0;
    size_t hi = m->n_auth;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(m->auth[mid].path, path);
        if (d == 0)
            return m->auth[mid].authority;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return m->dflt_auth;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_field(const void *a, const void *b)
{
    const struct hs_mapping_field *x = a;
    const struct hs_mapping_field *y = b;
    int d = strcmp(x->crm, y->crm);
    return d != 0 ? d : strcmp(x->accounting, y->accounting);
}

int hs_mapping_list(const struct hs_mapping *m, const struct hs_fields *const *views,
                    size_t n_views, struct hs_mapping_list *out)
{
    hs_mapping_list_release(out);
    size_t total = 0;
    for (size_t v = 0; v < n_views; v++)
        total += views[v] != NULL ? views[v]->n_items : 0;
    const char **names = NULL;
    if (total > 0) {
        names = hs_calloc(total, sizeof *names);
        if (names == NULL)
            return HS_ENOMEM;
    }
    size_t n = 0;
    for (size_t v = 0; v < n_views; v++) {
        for (size_t i = 0; views[v] != NULL && i < views[v]->n_items; i++) {
            const char *name = views[v]->items[i].name;
            if (!hs_mapping_path_side_specific(name) && !claimed(m, name))
                names[n++] = name;
        }
    }
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str_ptr);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u == 0 || strcmp(names[u - 1], names[i]) != 0)
            names[u++] = names[i];
    }
    size_t count = u + m->n_rules;
    if (count == 0) {
        hs_free(names);
        return HS_OK;
    }
    out->items = hs_calloc(count, sizeof *out->items);
    if (out->items == NULL) {
        hs_free(names);
        return HS_ENOMEM;
    }
    bool to_acc = m->direction != HS_CONFIG_DIRECTION_ACCOUNTING_TO_CRM;
    bool to_crm = m->direction != HS_CONFIG_DIRECTION_CRM_TO_ACCOUNTING;
    for (size_t i = 0; i < m->n_rules; i++)
        out->items[out->n_items++] = m->rules[i].f;
    for (size_t i = 0; i < u; i++) {
        struct hs_mapping_field *f = &out->items[out->n_items++];
        f->crm = names[i];
        f->accounting = names[i];
        f->crm_label = names[i];
        f->acc_label = names[i];
        f->transform = HS_CONFIG_TRANSFORM_NONE;
        f->to_accounting = to_acc;
        f->to_crm = to_crm;
        f->authority = identity_authority(m, names[i]);
        f->identity = true;
        f->rule = NULL;
    }
    hs_free(names);
    if (out->n_items > 1)
        qsort(out->items, out->n_items, sizeof *out->items, cmp_field);
    return HS_OK;
}

/* ---- values ---------------------------------------------------------------------------------- */

int hs_mapping_side_value(const struct hs_mapping_field *f, enum hs_mapping_side side,
                          const struct hs_fields *view, char **out)
{
    *out = NULL;
    if (view == NULL)
        return HS_OK;
    const struct rule *r = f->rule;
    if (side != HS_MAPPING_CRM || r == NULL || f->transform != HS_CONFIG_TRANSFORM_CONCAT)
        return dup_or_null(hs_fields_get(view, side == HS_MAPPING_CRM ? f->crm : f->accounting),
                           out);
    size_t len = 0;
    size_t parts = 0;
    for (size_t i = 0; i <= r->n_concat; i++) {
        const char *v = hs_fields_get(view, i == 0 ? r->crm_path : r->concat[i - 1]);
        if (v != NULL && *v != '\0') {
            len += strlen(v) + (parts > 0 ? 1 : 0);
            parts++;
        }
    }
    if (parts == 0)
        return HS_OK;
    char *s = hs_malloc(len + 1);
    if (s == NULL)
        return HS_ENOMEM;
    size_t at = 0;
    for (size_t i = 0; i <= r->n_concat; i++) {
        const char *v = hs_fields_get(view, i == 0 ? r->crm_path : r->concat[i - 1]);
        if (v == NULL || *v == '\0')
            continue;
        if (at > 0)
            s[at++] = ' ';
        size_t vl = strlen(v);
        memcpy(s + at, v, vl);
        at += vl;
    }
    s[at] = '\0';
    *out = s;
    return HS_OK;
}

static char *ascii_case(const char *s, bool upper)
{
    char *d = hs_strdup(s);
    if (d == NULL)
        return NULL;
    for (char *p = d; *p != '\0'; p++) {
        if (upper && *p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
        else if (!upper && *p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    return d;
}

/* Shows at most 64 bytes of a value in a message, cut on a UTF-8 boundary. */
static int shown(const char *s)
{
    size_t n = strlen(s);
    if (n <= 64)
        return (int)n;
    n = 64;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

int hs_mapping_convert(const struct hs_mapping_field *f, enum hs_mapping_side to, const char *value,
                       char **out, struct hs_error *err)
{
    *out = NULL;
    const struct rule *r = f->rule;
    if (r == NULL)
        return dup_or_null(value, out) == HS_OK ? HS_OK
                                                : hs_error_set(err, HS_ENOMEM, "out of memory");
    int rc = HS_OK;
    switch (f->transform) {
    case HS_CONFIG_TRANSFORM_TRIM:
    case HS_CONFIG_TRANSFORM_UPPER:
    case HS_CONFIG_TRANSFORM_LOWER:
        if (to != r->t_to || value == NULL) {
            rc = dup_or_null(value, out);
            break;
        }
        if (f->transform == HS_CONFIG_TRANSFORM_TRIM)
            *out = hs_str_trim(value);
        else
            *out = ascii_case(value, f->transform == HS_CONFIG_TRANSFORM_UPPER);
        rc = *out == NULL ? HS_ENOMEM : HS_OK;
        break;
    case HS_CONFIG_TRANSFORM_DEFAULT:
        if (to == r->t_to && (value == NULL || *value == '\0'))
            rc = dup_or_null(r->dflt, out);
        else
            rc = dup_or_null(value, out);
        break;
    case HS_CONFIG_TRANSFORM_MAP: {
        if (value == NULL)
            break;
        if (to == HS_MAPPING_CRM && !r->invertible)
            return hs_error_set(err, HS_EUNSUPPORTED,
                                "accounting '%.64s' cannot be mapped back to crm '%.64s': the map "
                                "table is not one-to-one",
                                r->acc_label, r->crm_label);
        char *const *keys = to == HS_MAPPING_CRM ? r->to : r->from;
        char *const *vals = to == HS_MAPPING_CRM ? r->from : r->to;
        for (size_t i = 0; i < r->n_table; i++) {
            if (strcmp(keys[i], value) == 0)
                return dup_or_null(vals[i], out) == HS_OK
                           ? HS_OK
                           : hs_error_set(err, HS_ENOMEM, "out of memory");
        }
        return hs_error_set(err, HS_ENOTFOUND, "value '%.*s' of %s '%.64s' is not in the map table",
                            shown(value), value, to == HS_MAPPING_CRM ? "accounting" : "crm",
                            to == HS_MAPPING_CRM ? r->acc_label : r->crm_label);
    }
    case HS_CONFIG_TRANSFORM_CONCAT:
        if (to == HS_MAPPING_CRM)
            return hs_error_set(err, HS_EUNSUPPORTED,
                                "accounting '%.64s' cannot be mapped back to crm '%.64s': it is "
                                "joined from several crm fields",
                                r->acc_label, r->crm_label);
        rc = dup_or_null(value, out);
        break;
    case HS_CONFIG_TRANSFORM_NONE:
    default:
        rc = dup_or_null(value, out);
        break;
    }
    if (rc != HS_OK)
        return hs_error_set(err, rc, "out of memory");
    return HS_OK;
}

int hs_mapping_apply(const struct hs_mapping *m, enum hs_mapping_side to,
                     const struct hs_fields *src, struct hs_fields *out,
                     struct hs_fields *out_skipped, struct hs_error *err)
{
    hs_fields_release(out);
    enum hs_mapping_side from = to == HS_MAPPING_CRM ? HS_MAPPING_ACCOUNTING : HS_MAPPING_CRM;
    struct hs_mapping_list list;
    hs_mapping_list_init(&list);
    const struct hs_fields *views[1] = {src};
    int rc = hs_mapping_list(m, views, 1, &list);
    if (rc != HS_OK) {
        hs_error_set(err, HS_ENOMEM, "cannot map %s: out of memory", hs_kind_name(m->kind));
        return HS_ENOMEM;
    }
    for (size_t i = 0; i < list.n_items && rc == HS_OK; i++) {
        const struct hs_mapping_field *f = &list.items[i];
        if (!(to == HS_MAPPING_ACCOUNTING ? f->to_accounting : f->to_crm))
            continue;
        char *sv = NULL;
        char *v = NULL;
        struct hs_error e = {0, ""};
        rc = hs_mapping_side_value(f, from, src, &sv);
        if (rc == HS_OK)
            rc = hs_mapping_convert(f, to, sv, &v, &e);
        if ((rc == HS_ENOTFOUND || rc == HS_EUNSUPPORTED) && out_skipped != NULL) {
            rc = hs_fields_set(out_skipped, from == HS_MAPPING_CRM ? f->crm : f->accounting, e.msg);
        } else if (rc == HS_ENOTFOUND || rc == HS_EUNSUPPORTED) {
            hs_error_set(err, rc, "%s", e.msg);
        } else if (rc == HS_OK && v != NULL) {
            rc = hs_fields_set(out, to == HS_MAPPING_CRM ? f->crm : f->accounting, v);
        }
        hs_free(sv);
        hs_free(v);
    }
    hs_mapping_list_release(&list);
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "cannot map %s: out of memory", hs_kind_name(m->kind));
    if (rc != HS_OK)
        hs_fields_release(out);
    return rc;
}
