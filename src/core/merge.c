/*
 * core/merge.c - the per-field three-way merge of core/merge.h.
 *
 * Design:     hs_merge_run lists the field pairs of the mapping for the four views, then walks
 *             them in order. For each pair it takes the four side values (each side in its own
 *             representation: a = crm, a0 = crm base, b = accounting, b0 = accounting base),
 *             classifies it with the table in merge.h and records the outcome through three
 *             primitives: put() appends a change entry, write() adds a path to one side's patch
 *             and moves that side's new base to the written value, hold() puts a side's old
 *             base value back for that path. The new bases start as copies of the current
 *             views, so everything not written or held simply advances.
 * Invariants: see core/merge.h; every failure path leaves the result released.
 * Ownership:  the result owns copies of every string; inputs are borrowed.
 * Not here:   listing pairs and converting values (mapping.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/merge.h"
#include "util/alloc.h"
#include "util/str.h"

const char *hs_merge_action_name(enum hs_merge_action a)
{
    switch (a) {
    case HS_MERGE_NOTHING:
        return "nothing";
    case HS_MERGE_WRITE_ACCOUNTING:
        return "write_accounting";
    case HS_MERGE_WRITE_CRM:
        return "write_crm";
    case HS_MERGE_ADVANCE_BASE:
        return "advance_base";
    case HS_MERGE_SETTLED:
        return "settled";
    case HS_MERGE_CONFLICT:
        return "conflict";
    case HS_MERGE_DRIFT:
        return "drift";
    case HS_MERGE_ERROR:
        return "error";
    }
    return "?";
}

static void patch_init(struct hs_merge_patch *p)
{
    hs_fields_init(&p->values);
    p->paths = NULL;
    p->n_paths = 0;
}

static void patch_release(struct hs_merge_patch *p)
{
    hs_fields_release(&p->values);
    for (size_t i = 0; i < p->n_paths; i++)
        hs_free(p->paths[i]);
    hs_free(p->paths);
    patch_init(p);
}

void hs_merge_result_init(struct hs_merge_result *r)
{
    r->changes = NULL;
    r->n_changes = 0;
    r->n_unchanged = 0;
    patch_init(&r->to_crm);
    patch_init(&r->to_accounting);
    hs_fields_init(&r->crm_base);
    hs_fields_init(&r->acc_base);
    r->n_conflicts = 0;
    r->n_drift = 0;
    r->n_errors = 0;
}

void hs_merge_result_release(struct hs_merge_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_changes; i++) {
        struct hs_merge_change *c = &r->changes[i];
        hs_free(c->crm_field);
        hs_free(c->acc_field);
        hs_free(c->crm_value);
        hs_free(c->acc_value);
        hs_free(c->value);
        hs_free(c->reason);
    }
    hs_free(r->changes);
    patch_release(&r->to_crm);
    patch_release(&r->to_accounting);
    hs_fields_release(&r->crm_base);
    hs_fields_release(&r->acc_base);
    hs_merge_result_init(r);
}

size_t hs_merge_n_writes(const struct hs_merge_result *r)
{
    return r->to_crm.n_paths + r->to_accounting.n_paths;
}

/* ---- primitives -------------------------------------------------------------------------- */

struct ctx {
    const struct hs_mapping *m;
    const struct hs_merge_input *in;
    struct hs_merge_result *out;
    size_t cap_changes;
    size_t cap_paths[2];
    const struct hs_mapping_field *f;
    const char *a, *a0, *b, *b0; /* current pair's side values */
};

static bool is_crm(enum hs_mapping_side s)
{
    return s == HS_MAPPING_CRM;
}

static enum hs_mapping_side other(enum hs_mapping_side s)
{
    return is_crm(s) ? HS_MAPPING_ACCOUNTING : HS_MAPPING_CRM;
}

static const char *path_of(const struct hs_mapping_field *f, enum hs_mapping_side s)
{
    return is_crm(s) ? f->crm : f->accounting;
}

static const char *label_of(const struct hs_mapping_field *f, enum hs_mapping_side s)
{
    return is_crm(s) ? f->crm_label : f->acc_label;
}

static int dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL)
        return HS_OK;
    *out = hs_strdup(s);
    return *out == NULL ? HS_ENOMEM : HS_OK;
}

bool hs_merge_path_listed(const char *list, const char *path)
{
    if (list == NULL || path == NULL)
        return false;
    size_t plen = strlen(path);
    const char *p = list;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n > 0 && n <= plen && strncmp(path, p, n) == 0 &&
            (path[n] == '\0' || path[n] == '.' || path[n] == '['))
            return true;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return false;
}

/* Whether side s does not take the current pair's path (hs_merge_input read_only). */
static bool read_only(const struct ctx *c, enum hs_mapping_side s)
{
    return hs_merge_path_listed(is_crm(s) ? c->in->crm_read_only : c->in->acc_read_only,
                                path_of(c->f, s));
}

/* Appends a change for the current pair; takes value and reason (freed on failure too). */
static int put(struct ctx *c, enum hs_merge_action action, enum hs_mapping_side target,
               enum hs_mapping_side winner, char *value, char *reason)
{
    struct hs_merge_result *r = c->out;
    if (reason == NULL)
        goto nomem;
    if (r->n_changes == c->cap_changes) {
        size_t cap = c->cap_changes == 0 ? 8 : c->cap_changes * 2;
        struct hs_merge_change *grown = hs_reallocarray(r->changes, cap, sizeof *grown);
        if (grown == NULL)
            goto nomem;
        r->changes = grown;
        c->cap_changes = cap;
    }
    struct hs_merge_change *ch = &r->changes[r->n_changes];
    memset(ch, 0, sizeof *ch);
    ch->action = action;
    ch->target = target;
    ch->winner = winner;
    ch->value = value;
    ch->reason = reason;
    r->n_changes++; /* from here on, release frees what the entry holds */
    if (dup_opt(c->f->crm, &ch->crm_field) != HS_OK ||
        dup_opt(c->f->accounting, &ch->acc_field) != HS_OK ||
        dup_opt(c->a, &ch->crm_value) != HS_OK || dup_opt(c->b, &ch->acc_value) != HS_OK)
        return HS_ENOMEM;
    if (action == HS_MERGE_CONFLICT)
        r->n_conflicts++;
    else if (action == HS_MERGE_DRIFT)
        r->n_drift++;
    else if (action == HS_MERGE_ERROR)
        r->n_errors++;
    return HS_OK;
nomem:
    hs_free(value);
    hs_free(reason);
    return HS_ENOMEM;
}

static struct hs_fields *base_of(struct ctx *c, enum hs_mapping_side s)
{
    return is_crm(s) ? &c->out->crm_base : &c->out->acc_base;
}

static int set_or_remove(struct hs_fields *f, const char *path, const char *value)
{
    if (value == NULL) {
        hs_fields_remove(f, path);
        return HS_OK;
    }
    return hs_fields_set(f, path, value);
}

/* Adds value (NULL = clear) for the current pair's path to side's patch and new base. */
static int write(struct ctx *c, enum hs_mapping_side side, const char *value)
{
    struct hs_merge_patch *p = is_crm(side) ? &c->out->to_crm : &c->out->to_accounting;
    size_t *cap = &c->cap_paths[is_crm(side) ? 0 : 1];
    const char *path = path_of(c->f, side);
    if (p->n_paths == *cap) {
        size_t ncap = *cap == 0 ? 8 : *cap * 2;
        char **grown = hs_reallocarray(p->paths, ncap, sizeof *grown);
        if (grown == NULL)
            return HS_ENOMEM;
        p->paths = grown;
        *cap = ncap;
    }
    p->paths[p->n_paths] = hs_strdup(path);
    if (p->paths[p->n_paths] == NULL)
        return HS_ENOMEM;
    p->n_paths++;
    if (value != NULL && hs_fields_set(&p->values, path, value) != HS_OK)
        return HS_ENOMEM;
    return set_or_remove(base_of(c, side), path, value);
}

/* Puts side's old base value (absent without a base) back into its new base. */
static int hold(struct ctx *c, enum hs_mapping_side side)
{
    const struct hs_fields *old = is_crm(side) ? c->in->crm_base : c->in->acc_base;
    const char *path = path_of(c->f, side);
    return set_or_remove(base_of(c, side), path, hs_fields_get(old, path));
}

/* ---- reasons ----------------------------------------------------------------------------- */

#define SHOW_MAX 60

/* Quotes v for a message ('v', cut at SHOW_MAX bytes on a UTF-8 boundary) or "nothing". */
static const char *show(const char *v, char buf[SHOW_MAX + 8])
{
    if (v == NULL)
        return "nothing";
    size_t n = strlen(v);
    bool cut = n > SHOW_MAX;
    if (cut) {
        n = SHOW_MAX;
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
            n--;
    }
    snprintf(buf, SHOW_MAX + 8, "'%.*s%s'", (int)n, v, cut ? "..." : "");
    return buf;
}

/* "crm changed 'email' from 'a' to 'b'" and variants, for side s's values old -> now. */
static char *describe(const struct hs_mapping_field *f, enum hs_mapping_side s, const char *old,
                      const char *now)
{
    char b1[SHOW_MAX + 8];
    char b2[SHOW_MAX + 8];
    const char *side = hs_mapping_side_name(s);
    const char *label = label_of(f, s);
    if (old == NULL)
        return hs_asprintf("%s set '%s' to %s", side, label, show(now, b1));
    if (now == NULL)
        return hs_asprintf("%s removed '%s' (was %s)", side, label, show(old, b1));
    return hs_asprintf("%s changed '%s' from %s to %s", side, label, show(old, b1), show(now, b2));
}

/* "<what>; <tail>" where what is taken (freed). NULL on ENOMEM. */
static char *join(char *what, const char *tail)
{
    if (what == NULL)
        return NULL;
    char *s = hs_asprintf("%s; %s", what, tail);
    hs_free(what);
    return s;
}

/* Description of both sides' changes ("crm changed ...; accounting changed ..."), or of the
 * first-sync state. */
static char *describe_both(struct ctx *c, bool first)
{
    char b1[SHOW_MAX + 8];
    char b2[SHOW_MAX + 8];
    if (first)
        return hs_asprintf("first sync: crm '%s' is %s, accounting '%s' is %s", c->f->crm_label,
                           show(c->a, b1), c->f->acc_label, show(c->b, b2));
    char *x = describe(c->f, HS_MAPPING_CRM, c->a0, c->a);
    char *y = describe(c->f, HS_MAPPING_ACCOUNTING, c->b0, c->b);
    char *s = x != NULL && y != NULL ? hs_asprintf("%s; %s", x, y) : NULL;
    hs_free(x);
    hs_free(y);
    return s;
}

/* ---- the decision ------------------------------------------------------------------------ */

/*
 * Converts v toward side to. A value that cannot be converted becomes an error change (why
 * borrowed, plus the reason), both sides' bases are held and *done is set.
 */
static int convert_or_error(struct ctx *c, enum hs_mapping_side to, const char *v, const char *why,
                            char **out, bool *done)
{
    struct hs_error e = {0, ""};
    *done = false;
    int rc = hs_mapping_convert(c->f, to, v, out, &e);
    if (rc == HS_OK || rc == HS_ENOMEM)
        return rc;
    *done = true;
    rc = put(c, HS_MERGE_ERROR, to, 0, NULL, hs_asprintf("%s; %s", why, e.msg));
    if (rc == HS_OK)
        rc = hold(c, HS_MAPPING_CRM);
    if (rc == HS_OK)
        rc = hold(c, HS_MAPPING_ACCOUNTING);
    return rc;
}

/* Whether a and b agree after mapping, either way round. */
static int agree(struct ctx *c, bool *out)
{
    *out = false;
    const char *from[2] = {c->a, c->b};
    const char *want[2] = {c->b, c->a};
    enum hs_mapping_side to[2] = {HS_MAPPING_ACCOUNTING, HS_MAPPING_CRM};
    for (int i = 0; i < 2 && !*out; i++) {
        char *t = NULL;
        int rc = hs_mapping_convert(c->f, to[i], from[i], &t, NULL);
        if (rc == HS_ENOMEM)
            return rc;
        if (rc == HS_OK && hs_str_eq(t, want[i]))
            *out = true;
        hs_free(t);
    }
    return HS_OK;
}

/*
 * Writes the value of side src to the other side (converted), as action with reason why
 * (taken, NULL = out of memory). When the converted value already equals the other side,
 * only the base advances.
 */
static int propagate(struct ctx *c, enum hs_mapping_side src, enum hs_merge_action action,
                     enum hs_mapping_side winner, char *why)
{
    if (why == NULL)
        return HS_ENOMEM;
    enum hs_mapping_side to = other(src);
    const char *v = is_crm(src) ? c->a : c->b;
    const char *cur = is_crm(to) ? c->a : c->b;
    if (read_only(c, to)) {
        /* the provider does not take it: nothing to write, nothing to retry; both bases
         * follow the current values, so the next pass is quiet */
        char *reason = hs_asprintf("%s; not written: %s does not take '%s'", why,
                                   hs_mapping_side_name(to), label_of(c->f, to));
        hs_free(why);
        return put(c, HS_MERGE_ADVANCE_BASE, 0, 0, NULL, reason);
    }
    char *t = NULL;
    bool done = false;
    int rc = convert_or_error(c, to, v, why, &t, &done);
    if (rc != HS_OK || done) {
        hs_free(why);
        return rc;
    }
    char b1[SHOW_MAX + 8];
    char *reason = NULL;
    if (hs_str_eq(t, cur)) {
        hs_free(t);
        reason =
            hs_asprintf("%s; %s already holds %s", why, hs_mapping_side_name(to), show(cur, b1));
        hs_free(why);
        return put(c, HS_MERGE_ADVANCE_BASE, 0, 0, NULL, reason);
    }
    if (!hs_str_eq(t, v) || strcmp(path_of(c->f, to), path_of(c->f, src)) != 0) {
        reason = hs_asprintf("%s; written to %s '%s' as %s", why, hs_mapping_side_name(to),
                             label_of(c->f, to), show(t, b1));
        hs_free(why);
    } else {
        reason = why;
    }
    rc = write(c, to, t);
    if (rc != HS_OK) {
        hs_free(t);
        hs_free(reason);
        return rc;
    }
    return put(c, action, to, winner, t, reason);
}

/* One side changed alone (side s), the other did not. */
static int one_changed(struct ctx *c, enum hs_mapping_side s)
{
    enum hs_mapping_side to = other(s);
    bool may = is_crm(to) ? c->f->to_crm : c->f->to_accounting;
    char *why = is_crm(s) ? describe(c->f, s, c->a0, c->a) : describe(c->f, s, c->b0, c->b);
    if (why == NULL)
        return HS_ENOMEM;
    if (may) {
        char *w = join(why, is_crm(to) ? "crm unchanged" : "accounting unchanged");
        if (w == NULL)
            return HS_ENOMEM;
        return propagate(c, s, is_crm(to) ? HS_MERGE_WRITE_CRM : HS_MERGE_WRITE_ACCOUNTING, 0, w);
    }
    /* s only receives: drift */
    if (hs_mapping_enforce(c->m)) {
        char *w = join(why, "one-way field, enforce: true: the source value is written back");
        if (w == NULL)
            return HS_ENOMEM;
        return propagate(c, to, is_crm(s) ? HS_MERGE_WRITE_CRM : HS_MERGE_WRITE_ACCOUNTING, 0, w);
    }
    char *w = join(why, "one-way field: reported as drift, not overwritten");
    int rc = put(c, HS_MERGE_DRIFT, s, 0, NULL, w);
    return rc == HS_OK ? hold(c, s) : rc;
}

/* Both changed (or first sync with two different values). */
static int both_changed(struct ctx *c, bool first)
{
    const struct hs_mapping_field *f = c->f;
    char *why = describe_both(c, first);
    if (why == NULL)
        return HS_ENOMEM;
    if (!(f->to_accounting && f->to_crm)) {
        enum hs_mapping_side src = f->to_accounting ? HS_MAPPING_CRM : HS_MAPPING_ACCOUNTING;
        char *w = join(why, src == HS_MAPPING_CRM ? "one-way field: crm wins"
                                                  : "one-way field: accounting wins");
        if (w == NULL)
            return HS_ENOMEM;
        return propagate(c, src, is_crm(src) ? HS_MERGE_WRITE_ACCOUNTING : HS_MERGE_WRITE_CRM, 0,
                         w);
    }
    enum hs_mapping_side winner = 0;
    const char *how = "authority manual: held for a person";
    switch (f->authority) {
    case HS_CONFIG_AUTHORITY_CRM:
        winner = HS_MAPPING_CRM;
        how = "authority crm: crm wins";
        break;
    case HS_CONFIG_AUTHORITY_ACCOUNTING:
        winner = HS_MAPPING_ACCOUNTING;
        how = "authority accounting: accounting wins";
        break;
    case HS_CONFIG_AUTHORITY_NEWEST: {
        int64_t tc = c->in->crm_updated_at;
        int64_t ta = c->in->acc_updated_at;
        if (tc <= 0 || ta <= 0) {
            how = "authority newest: a change time is unknown, held for a person";
        } else if (tc == ta) {
            how = "authority newest: both changed at the same time, held for a person";
        } else {
            winner = tc > ta ? HS_MAPPING_CRM : HS_MAPPING_ACCOUNTING;
            how = tc > ta ? "authority newest: crm changed last"
                          : "authority newest: accounting changed last";
        }
        break;
    }
    case HS_CONFIG_AUTHORITY_MANUAL:
    default:
        break;
    }
    char *w = join(why, how);
    if (w == NULL)
        return HS_ENOMEM;
    if (winner == 0) {
        int rc = put(c, HS_MERGE_CONFLICT, 0, 0, NULL, w);
        if (rc == HS_OK)
            rc = hold(c, HS_MAPPING_CRM);
        if (rc == HS_OK)
            rc = hold(c, HS_MAPPING_ACCOUNTING);
        return rc;
    }
    return propagate(c, winner, HS_MERGE_SETTLED, winner, w);
}

static int first_sync(struct ctx *c)
{
    char b1[SHOW_MAX + 8];
    if (c->a == NULL && c->b == NULL) {
        /* only a default can make something of nothing, toward the flow's target side */
        enum hs_mapping_side to = c->f->to_accounting ? HS_MAPPING_ACCOUNTING : HS_MAPPING_CRM;
        char *t = NULL;
        int rc = hs_mapping_convert(c->f, to, NULL, &t, NULL);
        if (rc == HS_ENOMEM)
            return rc;
        bool some = rc == HS_OK && t != NULL;
        hs_free(t);
        if (!some)
            return HS_OK;
        return propagate(c, other(to), is_crm(to) ? HS_MERGE_WRITE_CRM : HS_MERGE_WRITE_ACCOUNTING,
                         0, hs_asprintf("first sync: neither side has '%s'", label_of(c->f, to)));
    }
    bool same = false;
    int rc = agree(c, &same);
    if (rc != HS_OK)
        return rc;
    if (same) {
        c->out->n_unchanged++;
        return HS_OK;
    }
    if (c->a == NULL || c->b == NULL) {
        enum hs_mapping_side has = c->a != NULL ? HS_MAPPING_CRM : HS_MAPPING_ACCOUNTING;
        enum hs_mapping_side to = other(has);
        bool may = is_crm(to) ? c->f->to_crm : c->f->to_accounting;
        char *why = hs_asprintf("first sync: only %s has '%s' (%s)", hs_mapping_side_name(has),
                                label_of(c->f, has), show(has == HS_MAPPING_CRM ? c->a : c->b, b1));
        if (why == NULL)
            return HS_ENOMEM;
        if (!may)
            return put(c, HS_MERGE_ADVANCE_BASE, 0, 0, NULL,
                       join(why, "one-way field: the receiving side is not cleared"));
        return propagate(c, has, is_crm(to) ? HS_MERGE_WRITE_CRM : HS_MERGE_WRITE_ACCOUNTING, 0,
                         why);
    }
    return both_changed(c, true);
}

static int merge_pair(struct ctx *c)
{
    if (c->in->crm_base == NULL || c->in->acc_base == NULL)
        return first_sync(c);
    bool ca = !hs_str_eq(c->a, c->a0);
    bool cb = !hs_str_eq(c->b, c->b0);
    if (!ca && !cb) {
        c->out->n_unchanged++;
        return HS_OK;
    }
    if (ca != cb)
        return one_changed(c, ca ? HS_MAPPING_CRM : HS_MAPPING_ACCOUNTING);
    bool same = false;
    int rc = agree(c, &same);
    if (rc != HS_OK)
        return rc;
    if (same) {
        char *why = describe_both(c, false);
        return put(c, HS_MERGE_ADVANCE_BASE, 0, 0, NULL, join(why, "the sides agree"));
    }
    return both_changed(c, false);
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_change(const void *x, const void *y)
{
    const struct hs_merge_change *a = x;
    const struct hs_merge_change *b = y;
    int d = strcmp(a->crm_field, b->crm_field);
    return d != 0 ? d : strcmp(a->acc_field, b->acc_field);
}

/* Merges the pair c->f with crm as the current crm view. */
static int merge_one(struct ctx *c, const struct hs_fields *crm)
{
    const struct hs_merge_input *in = c->in;
    if (hs_merge_path_listed(in->crm_unsynced, c->f->crm) ||
        hs_merge_path_listed(in->acc_unsynced, c->f->accounting)) {
        c->out->n_unchanged++; /* left out: the new bases keep the current values */
        return HS_OK;
    }
    char *v[4] = {NULL, NULL, NULL, NULL};
    int rc = hs_mapping_side_value(c->f, HS_MAPPING_CRM, crm, &v[0]);
    if (rc == HS_OK)
        rc = hs_mapping_side_value(c->f, HS_MAPPING_CRM, in->crm_base, &v[1]);
    if (rc == HS_OK)
        rc = hs_mapping_side_value(c->f, HS_MAPPING_ACCOUNTING, in->acc, &v[2]);
    if (rc == HS_OK)
        rc = hs_mapping_side_value(c->f, HS_MAPPING_ACCOUNTING, in->acc_base, &v[3]);
    c->a = v[0];
    c->a0 = v[1];
    c->b = v[2];
    c->b0 = v[3];
    if (rc == HS_OK)
        rc = merge_pair(c);
    c->a = c->a0 = c->b = c->b0 = NULL;
    for (int k = 0; k < 4; k++)
        hs_free(v[k]);
    return rc;
}

int hs_merge_run(const struct hs_mapping *m, const struct hs_merge_input *in,
                 struct hs_merge_result *out, struct hs_error *err)
{
    hs_merge_result_release(out);
    if (m == NULL || in == NULL || in->crm == NULL || in->acc == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot merge: missing mapping or current record");
    struct ctx c = {0};
    c.m = m;
    c.in = in;
    c.out = out;
    struct hs_mapping_list list;
    hs_mapping_list_init(&list);
    const struct hs_fields *views[4] = {in->crm, in->crm_base, in->acc, in->acc_base};
    int rc = hs_mapping_list(m, views, 4, &list);
    if (rc == HS_OK)
        rc = hs_fields_copy(&out->crm_base, in->crm);
    if (rc == HS_OK)
        rc = hs_fields_copy(&out->acc_base, in->acc);
    /* concat pairs go last and read the crm side as this pass leaves it agreed (its new
     * base: written sources in, held ones at their old base): a source written or held here
     * would otherwise make the joined value look changed on the next pass */
    for (int phase = 0; phase < 2 && rc == HS_OK; phase++) {
        for (size_t i = 0; i < list.n_items && rc == HS_OK; i++) {
            c.f = &list.items[i];
            bool joined = c.f->transform == HS_CONFIG_TRANSFORM_CONCAT;
            if (joined != (phase == 1))
                continue;
            rc = merge_one(&c, joined ? &out->crm_base : in->crm);
        }
    }
    hs_mapping_list_release(&list);
    if (rc != HS_OK) {
        hs_merge_result_release(out);
        return hs_error_set(err, rc, "cannot merge %s: out of memory",
                            hs_kind_name(hs_mapping_kind(m)));
    }
    if (out->n_changes > 1)
        qsort(out->changes, out->n_changes, sizeof *out->changes, cmp_change);
    if (out->to_crm.n_paths > 1)
        qsort(out->to_crm.paths, out->to_crm.n_paths, sizeof(char *), cmp_path);
    if (out->to_accounting.n_paths > 1)
        qsort(out->to_accounting.paths, out->to_accounting.n_paths, sizeof(char *), cmp_path);
    return HS_OK;
}

int hs_merge_create(const struct hs_mapping *m, enum hs_mapping_side to,
                    const struct hs_fields *src, const char *read_only_paths,
                    struct hs_merge_result *out, struct hs_error *err)
{
    hs_merge_result_release(out);
    if (m == NULL || src == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot map new record: missing mapping or record");
    enum hs_mapping_side from = other(to);
    struct hs_merge_input in = {0};
    in.crm = is_crm(from) ? src : NULL;
    in.acc = is_crm(from) ? NULL : src;
    struct ctx c = {0};
    c.m = m;
    c.in = &in;
    c.out = out;
    struct hs_mapping_list list;
    hs_mapping_list_init(&list);
    const struct hs_fields *views[1] = {src};
    int rc = hs_mapping_list(m, views, 1, &list);
    if (rc == HS_OK)
        rc = hs_fields_copy(is_crm(from) ? &out->crm_base : &out->acc_base, src);
    for (size_t i = 0; i < list.n_items && rc == HS_OK; i++) {
        c.f = &list.items[i];
        if (!(is_crm(to) ? c.f->to_crm : c.f->to_accounting) ||
            hs_merge_path_listed(read_only_paths, path_of(c.f, to)))
            continue;
        char *sv = NULL;
        char *t = NULL;
        rc = hs_mapping_side_value(c.f, from, src, &sv);
        c.a = is_crm(from) ? sv : NULL;
        c.b = is_crm(from) ? NULL : sv;
        bool done = false;
        if (rc == HS_OK) {
            char b1[SHOW_MAX + 8];
            char *why = hs_asprintf("new record: %s '%s' is %s", hs_mapping_side_name(from),
                                    label_of(c.f, from), show(sv, b1));
            /* on a miss, the error change drops the field from both bases: retried later */
            rc = why == NULL ? HS_ENOMEM : convert_or_error(&c, to, sv, why, &t, &done);
            hs_free(why);
        }
        if (rc == HS_OK && !done && t != NULL)
            rc = write(&c, to, t);
        hs_free(sv);
        hs_free(t);
    }
    hs_mapping_list_release(&list);
    if (rc != HS_OK) {
        hs_merge_result_release(out);
        return hs_error_set(err, rc, "cannot map new %s: out of memory",
                            hs_kind_name(hs_mapping_kind(m)));
    }
    struct hs_merge_patch *p = is_crm(to) ? &out->to_crm : &out->to_accounting;
    if (p->n_paths > 1)
        qsort(p->paths, p->n_paths, sizeof(char *), cmp_path);
    return HS_OK;
}

int hs_merge_base_apply(struct hs_fields *base, const struct hs_merge_patch *patch,
                        const struct hs_fields *answer)
{
    for (size_t i = 0; i < patch->n_paths; i++) {
        int rc = set_or_remove(base, patch->paths[i], hs_fields_get(answer, patch->paths[i]));
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}
