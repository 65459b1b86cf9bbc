/*
 * engine/filter.c - a generic flow's `filter:` (customers, items): which records the flow syncs.
 *
 * Design:     a filter is compiled once per flow when the engine opens. Each key names a field
 *             as `mappings:` do, and the name decides whose record the clause reads:
 *               1. the `crm` name of one of the flow's mapping rules -> the CRM record (the
 *                  rule's canonical path); else the `accounting` name of a rule -> the
 *                  accounting record;
 *               2. else a provider field name the caller's resolver knows (CRM first);
 *               3. else a canonical path of the kind ("billing_address.country",
 *                  "custom.sales_region") -> the record at hand: an unlinked record itself (the
 *                  source a create would copy), in a linked pair either record (the pair is in
 *                  when one of them is). So a pair's verdict does not depend on which side
 *                  changed, a record created from either side stays in even when the field is
 *                  not copied (custom.* is not), and a record leaves once neither side holds a
 *                  value of the filter: a mapped field's change that takes it out is still
 *                  synced to the other side, then it stops.
 *             A clause of one side fails for an unlinked record of the other side (there is no
 *             record there yet): with a filter on a CRM field only CRM records create records,
 *             and the verdict of a pair needs the record of that side only.
 *             Values are those of the field view (model.md: the canonical form the mapping
 *             reads, e.g. ISO country codes), before any transform of a rule, compared with
 *             the filter's values after trimming white space on both, ASCII letters without
 *             case. An absent or blank field matches nothing (the parser refuses blank values).
 *             Every clause must match (AND); the values of one clause are alternatives (OR).
 * Invariants: a compiled clause names a valid field path of the flow's kind.
 * Ownership:  the filter copies the paths; field names and values are borrowed from the
 *             config, which outlives the engine.
 *             The invoices flow's filter is compiled the same way for the deal (kind invoice,
 *             no mappings): its `dealstage` key is the won stages (src/cli/invoicing.c) and is
 *             left out here; any other key must name a field of the deal (a CRM name or a
 *             path), never an accounting invoice's field: the deal decides alone.
 * Not here:   what the engine does with a record that fails (engine.c, engine/invoices.c,
 *             docs/modules/engine.md).
 */
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/alloc.h"

enum on { ON_CRM = HS_SIDE_CRM, ON_ACCOUNTING = HS_SIDE_ACCOUNTING, ON_EITHER = 3 };

struct clause {
    const struct hs_config_filter *cf; /* field name and values as written */
    char *path;                        /* canonical path read */
    enum on on;
};

struct eng_filter {
    struct clause *items;
    size_t n;
};

void eng_filter_free(struct eng_filter *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; f->items != NULL && i < f->n; i++)
        hs_free(f->items[i].path);
    hs_free(f->items);
    hs_free(f);
}

/* Finds the field a filter key names: *on and *out_path (borrowed from list, the resolver or
 * the config; NULL when unknown). HS_OK or HS_ENOMEM. */
static int resolve_clause(const struct hs_mapping_list *list, enum hs_kind kind,
                          hs_mapping_resolve_fn resolve, void *ud, const char *name, enum on *on,
                          const char **out_path)
{
    *out_path = NULL;
    for (size_t i = 0; i < list->n_items; i++) {
        if (!list->items[i].identity && strcmp(list->items[i].crm_label, name) == 0) {
            *on = ON_CRM;
            *out_path = list->items[i].crm;
            return HS_OK;
        }
    }
    for (size_t i = 0; i < list->n_items; i++) {
        if (!list->items[i].identity && strcmp(list->items[i].acc_label, name) == 0) {
            *on = ON_ACCOUNTING;
            *out_path = list->items[i].accounting;
            return HS_OK;
        }
    }
    for (int s = HS_MAPPING_CRM; resolve != NULL && s <= HS_MAPPING_ACCOUNTING; s++) {
        const char *p = resolve(ud, (enum hs_mapping_side)s, kind, name);
        int ok = p != NULL ? hs_mapping_path_check(kind, p) : 0;
        if (ok < 0)
            return ok;
        if (ok == 1) {
            *on = s == HS_MAPPING_CRM ? ON_CRM : ON_ACCOUNTING;
            *out_path = p;
            return HS_OK;
        }
    }
    int ok = hs_mapping_path_check(kind, name);
    if (ok < 0)
        return ok;
    if (ok == 1) {
        *on = ON_EITHER;
        *out_path = name;
    }
    return HS_OK;
}

int eng_filter_new(const struct hs_config_flow *cf, enum hs_kind kind, const struct hs_mapping *map,
                   hs_mapping_resolve_fn resolve, void *ud, struct eng_filter **out,
                   struct hs_error *err)
{
    *out = NULL;
    if (cf->n_filters == 0)
        return HS_OK;
    struct hs_mapping_list list;
    hs_mapping_list_init(&list);
    bool deal = kind == HS_KIND_INVOICE;
    struct eng_filter *f = hs_calloc(1, sizeof *f);
    if (f == NULL || (f->items = hs_calloc(cf->n_filters, sizeof *f->items)) == NULL ||
        (map != NULL && hs_mapping_list(map, NULL, 0, &list) != HS_OK)) {
        eng_filter_free(f);
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    }
    int rc = HS_OK;
    for (size_t i = 0; i < cf->n_filters && rc == HS_OK; i++) {
        struct clause *c = &f->items[f->n];
        c->cf = &cf->filters[i];
        if (deal && strcmp(c->cf->field, "dealstage") == 0)
            continue; /* the won stages */
        const char *path = NULL;
        if (resolve_clause(&list, kind, resolve, ud, c->cf->field, &c->on, &path) != HS_OK) {
            rc = hs_error_set(err, HS_ENOMEM, "out of memory");
            break;
        }
        if (path == NULL && deal) {
            rc = hs_error_set(
                err, HS_EINVAL,
                "flow '%s': unknown field '%.64s' in "
                "'filter' (expected a field of the deal: a property the crm connection "
                "reads, such as pipeline, or a path such as currency)",
                cf->name, c->cf->field);
            break;
        }
        if (path == NULL) {
            rc = hs_error_set(err, HS_EINVAL,
                              "flow '%s': unknown field '%.64s' in "
                              "'filter' (expected a field of %s as in 'mappings': the crm or "
                              "accounting name of a mapping, or a field path such as "
                              "billing_address.country or custom.<property>)",
                              cf->name, c->cf->field, hs_kind_name(kind));
            break;
        }
        if (deal && c->on == ON_ACCOUNTING) {
            rc = hs_error_set(err, HS_EINVAL,
                              "flow '%s': '%.64s' in 'filter' is a "
                              "field of the accounting invoice; an invoices flow's filter reads "
                              "the deal (a deal property the crm connection reads, such as "
                              "pipeline, or custom.<property>)",
                              cf->name, c->cf->field);
            break;
        }
        c->path = hs_strdup(path);
        if (c->path == NULL)
            rc = hs_error_set(err, HS_ENOMEM, "out of memory");
        else
            f->n++;
    }
    hs_mapping_list_release(&list);
    if (rc != HS_OK || f->n == 0) { /* no clause left: the flow takes every record */
        eng_filter_free(f);
        return rc;
    }
    *out = f;
    return HS_OK;
}

int hs_engine_check_filter(const struct hs_config_flow *cf, const struct hs_mapping *map,
                           hs_mapping_resolve_fn resolve, void *ud, struct hs_error *err)
{
    enum hs_kind kind = hs_mapping_kind_of(cf->objects);
    if (kind != HS_KIND_CUSTOMER && kind != HS_KIND_ITEM && kind != HS_KIND_INVOICE)
        return HS_OK;
    struct eng_filter *f = NULL;
    int rc = eng_filter_new(cf, kind, kind == HS_KIND_INVOICE ? NULL : map, resolve, ud, &f, err);
    eng_filter_free(f);
    return rc;
}

unsigned eng_filter_pair_sides(const struct eng_filter *f)
{
    unsigned m = 0;
    for (size_t i = 0; f != NULL && i < f->n; i++)
        m |= f->items[i].on == ON_EITHER ? (1u << HS_SIDE_CRM) | (1u << HS_SIDE_ACCOUNTING)
                                         : 1u << f->items[i].on;
    return m;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Trims s: *out_len bytes from the returned pointer. */
static const char *trimmed(const char *s, size_t *out_len)
{
    while (is_blank(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_blank(s[n - 1]))
        n--;
    *out_len = n;
    return s;
}

static char fold(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool eng_filter_value_matches(const char *value, const char *want)
{
    if (value == NULL)
        return false;
    size_t na = 0, nb = 0;
    const char *a = trimmed(value, &na);
    const char *b = trimmed(want, &nb);
    if (na == 0 || na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (fold(a[i]) != fold(b[i]))
            return false;
    return true;
}

/* "{EMEA, APAC}" of the clause's values into buf. */
static void values_text(const struct hs_config_filter *cf, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < cf->n_values && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s%s", i == 0 ? "{" : ", ", cf->values[i],
                         i + 1 == cf->n_values ? "}" : "");
        used = n < 0 ? len : used + (size_t)n;
    }
}

/* The field views of the records, made when a clause first needs one. */
struct views {
    const struct hs_record *const *recs;
    struct hs_fields view[3];
    bool have[3];
};

/* Value of path in side s's record (NULL when absent or when there is no record there). */
static int value_of(struct views *v, enum hs_side s, const char *path, const char **out)
{
    *out = NULL;
    if (v->recs[s] == NULL)
        return HS_OK;
    if (!v->have[s]) {
        struct hs_error e;
        hs_error_clear(&e);
        int rc = hs_record_to_fields(v->recs[s], &v->view[s], &e);
        if (rc == HS_ENOMEM)
            return rc; /* any other failure: a record without a view has none of the fields */
        v->have[s] = true;
    }
    *out = hs_fields_get(&v->view[s], path);
    return HS_OK;
}

static bool clause_matches(const struct clause *c, const char *value)
{
    for (size_t k = 0; k < c->cf->n_values; k++)
        if (eng_filter_value_matches(value, c->cf->values[k]))
            return true;
    return false;
}

/* "'AMER'" or "empty" for a value, into buf. */
static const char *shown(const char *value, char *buf, size_t len)
{
    size_t n = 0;
    const char *t = value != NULL ? trimmed(value, &n) : "";
    if (n == 0)
        return "empty";
    snprintf(buf, len, "'%.*s'", (int)(n > 64 ? 64 : n), t);
    return buf;
}

static const char *side_word(enum hs_side s)
{
    return s == HS_SIDE_CRM ? "crm" : "accounting";
}

int eng_filter_check(const struct eng_filter *f, const struct hs_record *const recs[3],
                     enum hs_side self, bool pair, bool *out_pass, char *why, size_t len)
{
    *out_pass = true;
    if (why != NULL && len > 0)
        why[0] = '\0';
    if (f == NULL)
        return HS_OK;
    struct views v = {.recs = recs};
    hs_fields_init(&v.view[HS_SIDE_CRM]);
    hs_fields_init(&v.view[HS_SIDE_ACCOUNTING]);
    int rc = HS_OK;
    for (size_t i = 0; i < f->n && *out_pass && rc == HS_OK; i++) {
        const struct clause *c = &f->items[i];
        /* the sides this clause reads: its own; a field path: the record itself, or either
         * record of a pair */
        bool both = c->on == ON_EITHER && pair;
        enum hs_side s = c->on == ON_EITHER ? self : (enum hs_side)c->on;
        const char *a = NULL, *b = NULL;
        rc = value_of(&v, both ? HS_SIDE_CRM : s, c->path, &a);
        if (rc == HS_OK && both)
            rc = value_of(&v, HS_SIDE_ACCOUNTING, c->path, &b);
        if (rc != HS_OK || clause_matches(c, a) || (both && clause_matches(c, b)))
            continue;
        *out_pass = false;
        if (why == NULL)
            break;
        char vals[256], sa[80], sb[80];
        values_text(c->cf, vals, sizeof vals);
        if (both)
            snprintf(why, len, "'%s' is %s in crm and %s in accounting, not one of %s",
                     c->cf->field, shown(a, sa, sizeof sa), shown(b, sb, sizeof sb), vals);
        else if (recs[s] == NULL)
            snprintf(why, len,
                     "'%s' is a %s field and this %s record has no linked %s record (wanted one "
                     "of %s)",
                     c->cf->field, side_word(s), side_word(self), side_word(s), vals);
        else
            snprintf(why, len, "'%s' is %s%s%s, not one of %s", c->cf->field,
                     shown(a, sa, sizeof sa), s != self ? " in " : "",
                     s != self ? side_word(s) : "", vals);
    }
    hs_fields_release(&v.view[HS_SIDE_CRM]);
    hs_fields_release(&v.view[HS_SIDE_ACCOUNTING]);
    return rc;
}
