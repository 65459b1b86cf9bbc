/*
 * tests/unit/test_core_merge.c - the three-way merge: every row of the DESIGN.md table in both
 * directions and with every authority, one-way drift and enforce, first sync, absent values,
 * transforms, provider reformatting, echo suppression, a randomized idempotence property and
 * the out-of-memory loop.
 *
 * Design:     each table row merges one field ('email', identity) next to an unchanged one
 *             ('phone') and checks the change entry, both patches and both new bases. Every
 *             merge in this file is then replayed the way the engine would: patches applied to
 *             the sides (optionally reformatted by the "provider"), bases updated from the
 *             answer with hs_merge_base_apply, and merged again: the second pass must write
 *             nothing and report the same held fields (fixed point).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h> /* after the four above */
#include <stdio.h>
#include <string.h>

#include "core/merge.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/str.h"

#define OK(x) assert_int_equal((x), HS_OK)
#define S(x)  ((char *)(x))
#define N(a)  (sizeof(a) / sizeof((a)[0]))

enum { C = HS_MAPPING_CRM, A = HS_MAPPING_ACCOUNTING };
enum {
    BOTH = HS_CONFIG_DIRECTION_BOTH,
    C2A = HS_CONFIG_DIRECTION_CRM_TO_ACCOUNTING,
    A2C = HS_CONFIG_DIRECTION_ACCOUNTING_TO_CRM
};
enum {
    MANUAL = HS_CONFIG_AUTHORITY_MANUAL,
    BY_CRM = HS_CONFIG_AUTHORITY_CRM,
    BY_ACC = HS_CONFIG_AUTHORITY_ACCOUNTING,
    NEWEST = HS_CONFIG_AUTHORITY_NEWEST
};

/* ---- helpers --------------------------------------------------------------------------------- */

static struct hs_config_mapping rule(const char *crm, const char *acc, enum hs_config_transform t)
{
    struct hs_config_mapping m;
    memset(&m, 0, sizeof m);
    m.pos.line = 3;
    m.pos.col = 5;
    m.crm = S(crm);
    m.accounting = S(acc);
    m.transform = t;
    return m;
}

static struct hs_mapping *compile(int dir, int auth, bool enforce, struct hs_config_mapping *maps,
                                  size_t n)
{
    struct hs_config_flow f;
    memset(&f, 0, sizeof f);
    f.name = S("customers");
    f.direction = (enum hs_config_direction)dir;
    f.default_authority = (enum hs_config_authority)auth;
    f.enforce = enforce;
    f.mappings = maps;
    f.n_mappings = n;
    struct hs_mapping *m = NULL;
    struct hs_error err = {0, ""};
    int rc = hs_mapping_compile(&f, HS_KIND_CUSTOMER, NULL, NULL, &m, &err);
    if (rc != HS_OK)
        fail_msg("%s", err.msg);
    return m;
}

/* kv: name, value, ..., NULL (a NULL value leaves the name out) */
static void fill(struct hs_fields *f, const char *const *kv)
{
    hs_fields_init(f);
    for (size_t i = 0; kv[i] != NULL; i += 2) {
        if (kv[i + 1] != NULL)
            OK(hs_fields_set(f, kv[i], kv[i + 1]));
    }
}

static void set_opt(struct hs_fields *f, const char *name, const char *value)
{
    if (value != NULL)
        OK(hs_fields_set(f, name, value));
    else
        hs_fields_remove(f, name);
}

/* The provider stores what a patch says; reformat (may be NULL) changes each stored value. */
static void apply_patch(struct hs_fields *cur, const struct hs_merge_patch *p,
                        char *(*reformat)(const char *))
{
    for (size_t i = 0; i < p->n_paths; i++) {
        const char *v = hs_fields_get(&p->values, p->paths[i]);
        char *r = v != NULL && reformat != NULL ? reformat(v) : NULL;
        set_opt(cur, p->paths[i], r != NULL ? r : v);
        hs_free(r);
    }
}

/* Accounting "provider" that trims and keeps at most 10 bytes. */
static char *acc_reformat(const char *v)
{
    char *t = hs_str_trim(v);
    assert_non_null(t);
    if (strlen(t) > 10)
        t[10] = '\0';
    return t;
}

static bool patch_has(const struct hs_merge_patch *p, const char *path)
{
    for (size_t i = 0; i < p->n_paths; i++) {
        if (strcmp(p->paths[i], path) == 0)
            return true;
    }
    return false;
}

/*
 * Replays r as the engine would (writes stored, possibly reformatted on the accounting side,
 * bases updated from the answers) and merges again: nothing may be written, the same fields
 * stay held and the bases are a fixed point.
 */
static void assert_quiet_again(const struct hs_mapping *m, const struct hs_merge_input *in,
                               struct hs_merge_result *r, char *(*reformat)(const char *))
{
    struct hs_fields crm;
    struct hs_fields acc;
    struct hs_fields cb;
    struct hs_fields ab;
    hs_fields_init(&crm);
    hs_fields_init(&acc);
    hs_fields_init(&cb);
    hs_fields_init(&ab);
    OK(hs_fields_copy(&crm, in->crm));
    OK(hs_fields_copy(&acc, in->acc));
    OK(hs_fields_copy(&cb, &r->crm_base));
    OK(hs_fields_copy(&ab, &r->acc_base));
    apply_patch(&crm, &r->to_crm, NULL);
    apply_patch(&acc, &r->to_accounting, reformat);
    OK(hs_merge_base_apply(&cb, &r->to_crm, &crm));
    OK(hs_merge_base_apply(&ab, &r->to_accounting, &acc));
    /* held fields never appear in a patch */
    for (size_t i = 0; i < r->n_changes; i++) {
        const struct hs_merge_change *ch = &r->changes[i];
        if (ch->action == HS_MERGE_CONFLICT || ch->action == HS_MERGE_DRIFT ||
            ch->action == HS_MERGE_ERROR) {
            assert_false(patch_has(&r->to_crm, ch->crm_field));
            assert_false(patch_has(&r->to_accounting, ch->acc_field));
        }
    }
    struct hs_merge_input in2 = {&crm, &cb,  &acc, &ab, in->crm_updated_at, in->acc_updated_at,
                                 NULL, NULL, NULL, NULL};
    in2.crm_read_only = in->crm_read_only;
    in2.acc_read_only = in->acc_read_only;
    in2.crm_unsynced = in->crm_unsynced;
    in2.acc_unsynced = in->acc_unsynced;
    struct hs_merge_result r2;
    hs_merge_result_init(&r2);
    OK(hs_merge_run(m, &in2, &r2, NULL));
    if (hs_merge_n_writes(&r2) != 0) {
        for (size_t i = 0; i < r->n_changes; i++)
            print_message("first pass: %s %s\n", hs_merge_action_name(r->changes[i].action),
                          r->changes[i].reason);
        for (size_t i = 0; i < r2.n_changes; i++)
            print_message("second pass: %s %s\n", hs_merge_action_name(r2.changes[i].action),
                          r2.changes[i].reason);
    }
    assert_int_equal(hs_merge_n_writes(&r2), 0);
    assert_int_equal(r2.n_conflicts, r->n_conflicts);
    assert_int_equal(r2.n_drift, r->n_drift);
    assert_int_equal(r2.n_errors, r->n_errors);
    assert_true(hs_fields_equal(&r2.crm_base, &cb));
    assert_true(hs_fields_equal(&r2.acc_base, &ab));
    hs_merge_result_release(&r2);
    hs_fields_release(&crm);
    hs_fields_release(&acc);
    hs_fields_release(&cb);
    hs_fields_release(&ab);
}

static void assert_opt_equal(const char *got, const char *want)
{
    if (want == NULL)
        assert_null(got);
    else {
        assert_non_null(got);
        assert_string_equal(got, want);
    }
}

/* ---- the DESIGN.md table ------------------------------------------------------------------ */

struct row {
    const char *name;
    int dir;
    int auth;
    bool enforce;
    bool first;                  /* no base yet */
    const char *a, *a0, *b, *b0; /* crm, crm base, accounting, accounting base ('email') */
    int64_t ta, tb;              /* updated_at */
    enum hs_merge_action action; /* HS_MERGE_NOTHING: nothing listed */
    int target;
    int winner;
    const char *value;     /* value written to target */
    const char *crm_after; /* new bases' 'email' */
    const char *acc_after;
};

/* clang-format off */
static const struct row rows[] = {
    {"same/same", BOTH, MANUAL, 0, 0, "x", "x", "x", "x", 0, 0, HS_MERGE_NOTHING, 0, 0, NULL, "x", "x"},
    {"crm changed", BOTH, MANUAL, 0, 0, "y", "x", "x", "x", 0, 0, HS_MERGE_WRITE_ACCOUNTING, A, 0, "y", "y", "y"},
    {"acc changed", BOTH, MANUAL, 0, 0, "x", "x", "y", "x", 0, 0, HS_MERGE_WRITE_CRM, C, 0, "y", "y", "y"},
    {"both to same", BOTH, MANUAL, 0, 0, "y", "x", "y", "x", 0, 0, HS_MERGE_ADVANCE_BASE, 0, 0, NULL, "y", "y"},
    {"crm changed to acc's value", BOTH, MANUAL, 0, 0, "y", "x", "y", "y", 0, 0, HS_MERGE_ADVANCE_BASE, 0, 0, NULL, "y", "y"},
    {"conflict, crm wins", BOTH, BY_CRM, 0, 0, "y", "x", "z", "x", 0, 0, HS_MERGE_SETTLED, A, C, "y", "y", "y"},
    {"conflict, acc wins", BOTH, BY_ACC, 0, 0, "y", "x", "z", "x", 0, 0, HS_MERGE_SETTLED, C, A, "z", "z", "z"},
    {"newest: crm later", BOTH, NEWEST, 0, 0, "y", "x", "z", "x", 200, 100, HS_MERGE_SETTLED, A, C, "y", "y", "y"},
    {"newest: acc later", BOTH, NEWEST, 0, 0, "y", "x", "z", "x", 100, 200, HS_MERGE_SETTLED, C, A, "z", "z", "z"},
    {"newest: tie holds", BOTH, NEWEST, 0, 0, "y", "x", "z", "x", 100, 100, HS_MERGE_CONFLICT, 0, 0, NULL, "x", "x"},
    {"newest: unknown holds", BOTH, NEWEST, 0, 0, "y", "x", "z", "x", 0, 100, HS_MERGE_CONFLICT, 0, 0, NULL, "x", "x"},
    {"manual holds", BOTH, MANUAL, 0, 0, "y", "x", "z", "x", 0, 0, HS_MERGE_CONFLICT, 0, 0, NULL, "x", "x"},
    {"c2a: crm changed", C2A, MANUAL, 0, 0, "y", "x", "x", "x", 0, 0, HS_MERGE_WRITE_ACCOUNTING, A, 0, "y", "y", "y"},
    {"c2a: acc drift", C2A, MANUAL, 0, 0, "x", "x", "y", "x", 0, 0, HS_MERGE_DRIFT, A, 0, NULL, "x", "x"},
    {"c2a: acc drift enforced", C2A, MANUAL, 1, 0, "x", "x", "y", "x", 0, 0, HS_MERGE_WRITE_ACCOUNTING, A, 0, "x", "x", "x"},
    {"c2a: both changed, source wins", C2A, BY_ACC, 0, 0, "y", "x", "z", "x", 0, 0, HS_MERGE_WRITE_ACCOUNTING, A, 0, "y", "y", "y"},
    {"c2a: both to same", C2A, MANUAL, 0, 0, "y", "x", "y", "x", 0, 0, HS_MERGE_ADVANCE_BASE, 0, 0, NULL, "y", "y"},
    {"a2c: acc changed", A2C, MANUAL, 0, 0, "x", "x", "y", "x", 0, 0, HS_MERGE_WRITE_CRM, C, 0, "y", "y", "y"},
    {"a2c: crm drift", A2C, MANUAL, 0, 0, "y", "x", "x", "x", 0, 0, HS_MERGE_DRIFT, C, 0, NULL, "x", "x"},
    {"a2c: crm drift enforced", A2C, MANUAL, 1, 0, "y", "x", "x", "x", 0, 0, HS_MERGE_WRITE_CRM, C, 0, "x", "x", "x"},
    {"a2c: both changed, source wins", A2C, BY_CRM, 0, 0, "y", "x", "z", "x", 0, 0, HS_MERGE_WRITE_CRM, C, 0, "z", "z", "z"},
    {"crm removed", BOTH, MANUAL, 0, 0, NULL, "x", "x", "x", 0, 0, HS_MERGE_WRITE_ACCOUNTING, A, 0, NULL, NULL, NULL},
    {"acc removed", BOTH, MANUAL, 0, 0, "x", "x", NULL, "x", 0, 0, HS_MERGE_WRITE_CRM, C, 0, NULL, NULL, NULL},
    {"crm added", BOTH, MANUAL, 0, 0, "y", NULL, NULL, NULL, 0, 0, HS_MERGE_WRITE_ACCOUNTING, A, 0, "y", "y", "y"},
    {"both removed", BOTH, MANUAL, 0, 0, NULL, "x", NULL, "x", 0, 0, HS_MERGE_ADVANCE_BASE, 0, 0, NULL, NULL, NULL},
    {"removed vs changed", BOTH, MANUAL, 0, 0, NULL, "x", "z", "x", 0, 0, HS_MERGE_CONFLICT, 0, 0, NULL, "x", "x"},
    {"removed vs changed, crm wins", BOTH, BY_CRM, 0, 0, NULL, "x", "z", "x", 0, 0, HS_MERGE_SETTLED, A, C, NULL, NULL, NULL},
    {"first: equal", BOTH, MANUAL, 0, 1, "x", NULL, "x", NULL, 0, 0, HS_MERGE_NOTHING, 0, 0, NULL, "x", "x"},
    {"first: only crm", BOTH, MANUAL, 0, 1, "x", NULL, NULL, NULL, 0, 0, HS_MERGE_WRITE_ACCOUNTING, A, 0, "x", "x", "x"},
    {"first: only acc", BOTH, MANUAL, 0, 1, NULL, NULL, "x", NULL, 0, 0, HS_MERGE_WRITE_CRM, C, 0, "x", "x", "x"},
    {"first: differ, manual", BOTH, MANUAL, 0, 1, "x", NULL, "y", NULL, 0, 0, HS_MERGE_CONFLICT, 0, 0, NULL, NULL, NULL},
    {"first: differ, crm", BOTH, BY_CRM, 0, 1, "x", NULL, "y", NULL, 0, 0, HS_MERGE_SETTLED, A, C, "x", "x", "x"},
    {"first: differ, newest", BOTH, NEWEST, 0, 1, "x", NULL, "y", NULL, 5, 9, HS_MERGE_SETTLED, C, A, "y", "y", "y"},
    {"first: c2a differ", C2A, MANUAL, 0, 1, "x", NULL, "y", NULL, 0, 0, HS_MERGE_WRITE_ACCOUNTING, A, 0, "x", "x", "x"},
    {"first: c2a only acc", C2A, MANUAL, 0, 1, NULL, NULL, "y", NULL, 0, 0, HS_MERGE_ADVANCE_BASE, 0, 0, NULL, NULL, "y"},
    {"first: a2c only crm", A2C, MANUAL, 0, 1, "y", NULL, NULL, NULL, 0, 0, HS_MERGE_ADVANCE_BASE, 0, 0, NULL, "y", NULL},
    {"first: a2c only acc", A2C, MANUAL, 0, 1, NULL, NULL, "y", NULL, 0, 0, HS_MERGE_WRITE_CRM, C, 0, "y", "y", "y"},
};
/* clang-format on */

static void run_row(const struct row *w)
{
    struct hs_mapping *m = compile(w->dir, w->auth, w->enforce, NULL, 0);
    struct hs_fields crm;
    struct hs_fields crm0;
    struct hs_fields acc;
    struct hs_fields acc0;
    fill(&crm, (const char *[]){"email", w->a, "phone", "1", "external_refs.qbo", "5", NULL});
    fill(&crm0, (const char *[]){"email", w->a0, "phone", "1", NULL});
    fill(&acc, (const char *[]){"email", w->b, "phone", "1", NULL});
    fill(&acc0, (const char *[]){"email", w->b0, "phone", "1", NULL});
    struct hs_merge_input in = {&crm,  w->first ? NULL : &crm0,
                                &acc,  w->first ? NULL : &acc0,
                                w->ta, w->tb,
                                NULL,  NULL,
                                NULL,  NULL};
    struct hs_merge_result r;
    hs_merge_result_init(&r);
    OK(hs_merge_run(m, &in, &r, NULL));
    bool listed = w->action != HS_MERGE_NOTHING;
    assert_int_equal(r.n_changes, listed ? 1 : 0);
    assert_int_equal(r.n_unchanged, listed ? 1 : 2);
    bool writes = w->action == HS_MERGE_WRITE_ACCOUNTING || w->action == HS_MERGE_WRITE_CRM ||
                  w->action == HS_MERGE_SETTLED;
    if (listed) {
        const struct hs_merge_change *ch = &r.changes[0];
        assert_string_equal(hs_merge_action_name(ch->action), hs_merge_action_name(w->action));
        assert_int_equal(ch->target, w->target);
        assert_int_equal(ch->winner, w->winner);
        assert_string_equal(ch->crm_field, "email");
        assert_string_equal(ch->acc_field, "email");
        assert_opt_equal(ch->crm_value, w->a);
        assert_opt_equal(ch->acc_value, w->b);
        assert_opt_equal(ch->value, w->value);
        assert_non_null(strstr(ch->reason, "'email'"));
    }
    const struct hs_merge_patch *to = w->target == A ? &r.to_accounting : &r.to_crm;
    const struct hs_merge_patch *no = w->target == A ? &r.to_crm : &r.to_accounting;
    assert_int_equal(no->n_paths, 0);
    assert_int_equal(to->n_paths, writes ? 1 : 0);
    if (writes) {
        assert_string_equal(to->paths[0], "email");
        assert_opt_equal(hs_fields_get(&to->values, "email"), w->value);
        assert_int_equal(hs_fields_count(&to->values), w->value != NULL ? 1 : 0);
    }
    assert_int_equal(r.n_conflicts, w->action == HS_MERGE_CONFLICT ? 1 : 0);
    assert_int_equal(r.n_drift, w->action == HS_MERGE_DRIFT ? 1 : 0);
    assert_opt_equal(hs_fields_get(&r.crm_base, "email"), w->crm_after);
    assert_opt_equal(hs_fields_get(&r.acc_base, "email"), w->acc_after);
    assert_string_equal(hs_fields_get(&r.crm_base, "phone"), "1");
    assert_string_equal(hs_fields_get(&r.acc_base, "phone"), "1");
    assert_string_equal(hs_fields_get(&r.crm_base, "external_refs.qbo"), "5");
    assert_quiet_again(m, &in, &r, NULL);
    hs_merge_result_release(&r);
    hs_fields_release(&crm);
    hs_fields_release(&crm0);
    hs_fields_release(&acc);
    hs_fields_release(&acc0);
    hs_mapping_free(m);
}

static void test_merge_design_table_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(rows); i++) {
        print_message("row: %s\n", rows[i].name);
        run_row(&rows[i]);
    }
}

/* ---- reasons, holds, order ---------------------------------------------------------------- */

static void test_merge_reasons_read_well(void **state)
{
    (void)state;
    struct hs_mapping *m = compile(BOTH, MANUAL, false, NULL, 0);
    struct hs_fields crm;
    struct hs_fields crm0;
    struct hs_fields acc;
    struct hs_fields acc0;
    fill(&crm, (const char *[]){"email", "b@x", "phone", "2", "website", "w", "notes", "n2", NULL});
    fill(&crm0, (const char *[]){"email", "a@x", "phone", "1", "notes", "n", "website", "w", NULL});
    fill(&acc, (const char *[]){"email", "a@x", "phone", "3", "notes", "n", NULL});
    fill(&acc0, (const char *[]){"email", "a@x", "phone", "1", "notes", "n", "website", "w", NULL});
    struct hs_merge_input in = {&crm, &crm0, &acc, &acc0, 0, 0, NULL, NULL, NULL, NULL};
    struct hs_merge_result r;
    hs_merge_result_init(&r);
    OK(hs_merge_run(m, &in, &r, NULL));
    assert_int_equal(r.n_changes, 4);
    /* sorted by path: email, notes, phone, website */
    assert_string_equal(r.changes[0].reason,
                        "crm changed 'email' from 'a@x' to 'b@x'; accounting unchanged");
    assert_string_equal(r.changes[1].reason,
                        "crm changed 'notes' from 'n' to 'n2'; accounting unchanged");
    assert_string_equal(r.changes[2].reason,
                        "crm changed 'phone' from '1' to '2'; accounting changed 'phone' from '1' "
                        "to '3'; authority manual: held for a person");
    assert_string_equal(r.changes[3].reason, "accounting removed 'website' (was 'w'); crm "
                                             "unchanged");
    /* manual holds only that field: the others proceed */
    assert_int_equal(r.n_conflicts, 1);
    assert_int_equal(r.to_accounting.n_paths, 2);
    assert_string_equal(r.to_accounting.paths[0], "email");
    assert_string_equal(r.to_accounting.paths[1], "notes");
    assert_int_equal(r.to_crm.n_paths, 1);
    assert_string_equal(r.to_crm.paths[0], "website");
    assert_int_equal(hs_fields_count(&r.to_crm.values), 0);
    assert_string_equal(hs_fields_get(&r.crm_base, "phone"), "1");
    assert_string_equal(hs_fields_get(&r.acc_base, "phone"), "1");
    assert_quiet_again(m, &in, &r, NULL);
    hs_merge_result_release(&r);

    /* long values are cut in reasons, on a character boundary */
    char longv[200];
    memset(longv, 'a', sizeof longv);
    memcpy(longv + 59, "\xc3\xa9", 2); /* a cut after 60 bytes would split it */
    longv[sizeof longv - 1] = '\0';
    OK(hs_fields_set(&crm, "email", longv));
    OK(hs_merge_run(m, &in, &r, NULL));
    const char *reason = r.changes[0].reason;
    assert_non_null(strstr(reason, "aaa...'; accounting unchanged"));
    assert_null(strchr(reason, '\xc3'));
    assert_true(strlen(reason) < 200);
    assert_string_equal(r.changes[0].value, longv);
    hs_merge_result_release(&r);

    hs_fields_release(&crm);
    hs_fields_release(&crm0);
    hs_fields_release(&acc);
    hs_fields_release(&acc0);
    hs_mapping_free(m);
}

static void test_merge_rejects_missing_inputs(void **state)
{
    (void)state;
    struct hs_mapping *m = compile(BOTH, MANUAL, false, NULL, 0);
    struct hs_fields f;
    hs_fields_init(&f);
    struct hs_merge_input in = {&f, NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL};
    struct hs_merge_result r;
    hs_merge_result_init(&r);
    struct hs_error err = {0, ""};
    assert_int_equal(hs_merge_run(m, &in, &r, &err), HS_EINVAL);
    assert_string_equal(err.msg, "cannot merge: missing mapping or current record");
    assert_int_equal(r.n_changes, 0);
    /* empty views: nothing at all */
    in.acc = &f;
    OK(hs_merge_run(m, &in, &r, NULL));
    assert_int_equal(r.n_changes + r.n_unchanged + hs_merge_n_writes(&r), 0);
    hs_merge_result_release(&r);
    hs_mapping_free(m);
}

/* ---- transforms and provider formatting ---------------------------------------------------- */

static struct hs_mapping *transform_mapping(int dir, int auth, bool enforce)
{
    static struct hs_config_pair pairs[] = {{S("Net 30"), S("3")}, {S("Net 60"), S("4")}};
    static char *dflt[] = {S("USD")};
    static char *rest[] = {S("family_name")};
    struct hs_config_mapping maps[] = {
        rule("display_name", "display_name", HS_CONFIG_TRANSFORM_TRIM),
        rule("email", "email", HS_CONFIG_TRANSFORM_LOWER),
        rule("custom.terms", "payment_terms", HS_CONFIG_TRANSFORM_MAP),
        rule("currency", "currency", HS_CONFIG_TRANSFORM_DEFAULT),
        rule("given_name", "company_name", HS_CONFIG_TRANSFORM_CONCAT),
        rule("billing_address.country", "billing_address.country", HS_CONFIG_TRANSFORM_UPPER),
    };
    maps[2].map = pairs;
    maps[2].n_map = N(pairs);
    maps[3].args = dflt;
    maps[3].n_args = 1;
    maps[4].args = rest;
    maps[4].n_args = 1;
    return compile(dir, auth, enforce, maps, N(maps));
}

static const struct hs_merge_change *change_of(const struct hs_merge_result *r, const char *crm)
{
    for (size_t i = 0; i < r->n_changes; i++) {
        if (strcmp(r->changes[i].crm_field, crm) == 0)
            return &r->changes[i];
    }
    return NULL;
}

static void test_merge_transforms_both_ways(void **state)
{
    (void)state;
    struct hs_mapping *m = transform_mapping(BOTH, MANUAL, false);
    struct hs_fields crm;
    struct hs_fields crm0;
    struct hs_fields acc;
    struct hs_fields acc0;
    const char *base_crm[] = {"display_name",
                              "Acme",
                              "email",
                              "a@x.com",
                              "custom.terms",
                              "Net 30",
                              "given_name",
                              "Ada",
                              "family_name",
                              "L",
                              "billing_address.country",
                              "FR",
                              NULL};
    const char *base_acc[] = {"display_name",
                              "Acme",
                              "email",
                              "a@x.com",
                              "payment_terms",
                              "3",
                              "currency",
                              "USD",
                              "company_name",
                              "Ada L",
                              "billing_address.country",
                              "FR",
                              "family_name",
                              "L",
                              NULL};
    fill(&crm0, base_crm);
    fill(&acc0, base_acc);
    fill(&crm, base_crm);
    fill(&acc, base_acc);
    OK(hs_fields_set(&crm, "display_name", "  Acme Ltd "));   /* trim toward accounting */
    OK(hs_fields_set(&crm, "email", "Ann@X.com"));            /* lower toward accounting */
    OK(hs_fields_set(&acc, "payment_terms", "4"));            /* inverse map toward crm */
    OK(hs_fields_set(&crm, "family_name", "Lovelace"));       /* concat source + identity */
    OK(hs_fields_set(&acc, "billing_address.country", "BE")); /* upper: identity back */
    struct hs_merge_input in = {&crm, &crm0, &acc, &acc0, 0, 0, NULL, NULL, NULL, NULL};
    struct hs_merge_result r;
    hs_merge_result_init(&r);
    OK(hs_merge_run(m, &in, &r, NULL));
    assert_int_equal(r.n_conflicts + r.n_drift + r.n_errors, 0);
    assert_string_equal(hs_fields_get(&r.to_accounting.values, "display_name"), "Acme Ltd");
    assert_string_equal(hs_fields_get(&r.to_accounting.values, "email"), "ann@x.com");
    assert_string_equal(hs_fields_get(&r.to_crm.values, "custom.terms"), "Net 60");
    assert_string_equal(hs_fields_get(&r.to_accounting.values, "company_name"), "Ada Lovelace");
    assert_string_equal(hs_fields_get(&r.to_accounting.values, "family_name"), "Lovelace");
    assert_string_equal(hs_fields_get(&r.to_crm.values, "billing_address.country"), "BE");
    assert_int_equal(r.to_accounting.n_paths, 4);
    assert_int_equal(r.to_crm.n_paths, 2);
    assert_string_equal(change_of(&r, "display_name")->reason,
                        "crm changed 'display_name' from 'Acme' to '  Acme Ltd '; accounting "
                        "unchanged; written to accounting 'display_name' as 'Acme Ltd'");
    assert_string_equal(change_of(&r, "custom.terms")->reason,
                        "accounting changed 'payment_terms' from '3' to '4'; crm unchanged; "
                        "written to crm 'custom.terms' as 'Net 60'");
    /* bases per side, each in its own representation */
    assert_string_equal(hs_fields_get(&r.crm_base, "display_name"), "  Acme Ltd ");
    assert_string_equal(hs_fields_get(&r.acc_base, "display_name"), "Acme Ltd");
    assert_quiet_again(m, &in, &r, NULL);
    hs_merge_result_release(&r);

    /* both changed, equal only after mapping: advance base, no conflict */
    hs_fields_release(&crm);
    hs_fields_release(&acc);
    fill(&crm, base_crm);
    fill(&acc, base_acc);
    OK(hs_fields_set(&crm, "email", "B@Y.COM"));
    OK(hs_fields_set(&acc, "email", "b@y.com"));
    OK(hs_fields_set(&crm, "display_name", "New "));
    OK(hs_fields_set(&acc, "display_name", "New"));
    OK(hs_merge_run(m, &in, &r, NULL));
    assert_int_equal(r.n_changes, 2);
    assert_int_equal(r.changes[0].action, HS_MERGE_ADVANCE_BASE);
    assert_int_equal(r.changes[1].action, HS_MERGE_ADVANCE_BASE);
    assert_int_equal(hs_merge_n_writes(&r), 0);
    assert_quiet_again(m, &in, &r, NULL);
    hs_merge_result_release(&r);

    /* concat target changed on the accounting side: one-way field, drift */
    hs_fields_release(&acc);
    fill(&acc, base_acc);
    OK(hs_fields_set(&acc, "company_name", "Ada Countess"));
    hs_fields_release(&crm);
    fill(&crm, base_crm);
    OK(hs_merge_run(m, &in, &r, NULL));
    assert_int_equal(r.n_changes, 1);
    assert_int_equal(r.changes[0].action, HS_MERGE_DRIFT);
    assert_int_equal(r.changes[0].target, A);
    assert_string_equal(r.changes[0].reason,
                        "accounting changed 'company_name' from 'Ada L' to 'Ada Countess'; "
                        "one-way field: reported as drift, not overwritten");
    assert_string_equal(hs_fields_get(&r.acc_base, "company_name"), "Ada L");
    assert_quiet_again(m, &in, &r, NULL);
    hs_merge_result_release(&r);

    /* a map-table miss holds that field only */
    OK(hs_fields_set(&crm, "custom.terms", "Net 90"));
    OK(hs_fields_set(&crm, "email", "c@z.com"));
    OK(hs_merge_run(m, &in, &r, NULL));
    const struct hs_merge_change *miss = change_of(&r, "custom.terms");
    assert_non_null(miss);
    assert_int_equal(miss->action, HS_MERGE_ERROR);
    assert_string_equal(miss->reason,
                        "crm changed 'custom.terms' from 'Net 30' to 'Net 90'; accounting "
                        "unchanged; value 'Net 90' of crm 'custom.terms' is not in the map table");
    assert_int_equal(r.n_errors, 1);
    assert_false(patch_has(&r.to_accounting, "payment_terms"));
    assert_true(patch_has(&r.to_accounting, "email"));
    assert_string_equal(hs_fields_get(&r.crm_base, "custom.terms"), "Net 30");
    assert_quiet_again(m, &in, &r, NULL);
    hs_merge_result_release(&r);

    /* default: crm has no currency, the accounting side gets USD on first sync, then rests */
    struct hs_fields fresh;
    struct hs_fields empty;
    fill(&fresh, (const char *[]){"email", "a@x.com", NULL});
    hs_fields_init(&empty);
    struct hs_merge_input first = {&fresh, NULL, &empty, NULL, 0, 0, NULL, NULL, NULL, NULL};
    OK(hs_merge_run(m, &first, &r, NULL));
    assert_string_equal(hs_fields_get(&r.to_accounting.values, "currency"), "USD");
    assert_string_equal(hs_fields_get(&r.to_accounting.values, "email"), "a@x.com");
    assert_quiet_again(m, &first, &r, NULL);
    hs_merge_result_release(&r);
    hs_fields_release(&fresh);
    hs_fields_release(&empty);

    hs_fields_release(&crm);
    hs_fields_release(&crm0);
    hs_fields_release(&acc);
    hs_fields_release(&acc0);
    hs_mapping_free(m);
}

static void test_merge_provider_reformatting_does_not_flap(void **state)
{
    (void)state;
    struct hs_mapping *m = compile(BOTH, MANUAL, false, NULL, 0);
    struct hs_fields crm;
    struct hs_fields crm0;
    struct hs_fields acc;
    struct hs_fields acc0;
    fill(&crm, (const char *[]){"display_name", "  International Widgets Ltd", NULL});
    fill(&crm0, (const char *[]){"display_name", "Widgets", NULL});
    fill(&acc, (const char *[]){"display_name", "Widgets", NULL});
    fill(&acc0, (const char *[]){"display_name", "Widgets", NULL});
    struct hs_merge_input in = {&crm, &crm0, &acc, &acc0, 0, 0, NULL, NULL, NULL, NULL};
    struct hs_merge_result r;
    hs_merge_result_init(&r);
    OK(hs_merge_run(m, &in, &r, NULL));
    assert_int_equal(r.to_accounting.n_paths, 1);
    /* the provider trims and truncates what we send; its answer becomes the base */
    struct hs_fields answer;
    fill(&answer, (const char *[]){"display_name", "Internatio", NULL});
    OK(hs_merge_base_apply(&r.acc_base, &r.to_accounting, &answer));
    assert_string_equal(hs_fields_get(&r.acc_base, "display_name"), "Internatio");
    /* next pass reads the truncated value back: no change on either side */
    struct hs_merge_input in2 = {&crm, &r.crm_base, &answer, &r.acc_base, 0,
                                 0,    NULL,        NULL,    NULL,        NULL};
    struct hs_merge_result r2;
    hs_merge_result_init(&r2);
    OK(hs_merge_run(m, &in2, &r2, NULL));
    assert_int_equal(r2.n_changes, 0);
    assert_int_equal(r2.n_unchanged, 1);
    hs_merge_result_release(&r2);
    /* the same through the generic replay with a reformatting provider */
    assert_quiet_again(m, &in, &r, acc_reformat);
    hs_merge_result_release(&r);
    hs_fields_release(&answer);
    hs_fields_release(&crm);
    hs_fields_release(&crm0);
    hs_fields_release(&acc);
    hs_fields_release(&acc0);
    hs_mapping_free(m);
}

static void test_merge_echo_of_our_write_is_nothing(void **state)
{
    (void)state;
    struct hs_mapping *m = transform_mapping(BOTH, BY_CRM, false);
    struct hs_fields crm;
    struct hs_fields base;
    struct hs_fields acc;
    fill(&base, (const char *[]){"email", "a@x.com", "display_name", "Acme", NULL});
    fill(&crm, (const char *[]){"email", "NEW@X.COM", "display_name", "Acme", NULL});
    fill(&acc, (const char *[]){"email", "a@x.com", "display_name", "Acme", NULL});
    struct hs_fields acc0;
    hs_fields_init(&acc0);
    OK(hs_fields_copy(&acc0, &acc));
    OK(hs_fields_set(&acc0, "currency", "USD"));
    OK(hs_fields_set(&acc, "currency", "USD"));
    struct hs_merge_input in = {&crm, &base, &acc, &acc0, 10, 20, NULL, NULL, NULL, NULL};
    struct hs_merge_result r;
    hs_merge_result_init(&r);
    OK(hs_merge_run(m, &in, &r, NULL));
    assert_int_equal(r.to_accounting.n_paths, 1);
    assert_string_equal(hs_fields_get(&r.to_accounting.values, "email"), "new@x.com");
    /* the provider stores it; its change feed (or webhook) now reports the accounting record
     * as changed, several times; each time the merge sees it equal to the base */
    struct hs_fields echoed;
    hs_fields_init(&echoed);
    OK(hs_fields_copy(&echoed, &acc));
    OK(hs_fields_set(&echoed, "email", "new@x.com"));
    OK(hs_merge_base_apply(&r.acc_base, &r.to_accounting, &echoed));
    for (int i = 0; i < 3; i++) {
        struct hs_merge_input again = {&crm,   &r.crm_base, &echoed, &r.acc_base, 10,
                                       30 + i, NULL,        NULL,    NULL,        NULL};
        struct hs_merge_result r2;
        hs_merge_result_init(&r2);
        OK(hs_merge_run(m, &again, &r2, NULL));
        assert_int_equal(r2.n_changes, 0);
        assert_int_equal(hs_merge_n_writes(&r2), 0);
        hs_merge_result_release(&r2);
    }
    hs_merge_result_release(&r);
    hs_fields_release(&echoed);
    hs_fields_release(&crm);
    hs_fields_release(&base);
    hs_fields_release(&acc);
    hs_fields_release(&acc0);
    hs_mapping_free(m);
}

static void test_merge_create_maps_the_whole_record(void **state)
{
    (void)state;
    struct hs_mapping *m = transform_mapping(BOTH, MANUAL, false);
    struct hs_fields src;
    fill(&src,
         (const char *[]){"display_name", " Acme ", "email", "A@X.COM", "custom.terms", "Net 90",
                          "given_name", "Ada", "customer_ref", "17", "custom.other", "o", NULL});
    struct hs_merge_result r;
    hs_merge_result_init(&r);
    OK(hs_merge_create(m, HS_MAPPING_ACCOUNTING, &src, NULL, &r, NULL));
    const struct hs_fields *v = &r.to_accounting.values;
    assert_string_equal(hs_fields_get(v, "display_name"), "Acme");
    assert_string_equal(hs_fields_get(v, "email"), "a@x.com");
    assert_string_equal(hs_fields_get(v, "currency"), "USD");
    assert_string_equal(hs_fields_get(v, "company_name"), "Ada");
    assert_null(hs_fields_get(v, "payment_terms"));
    assert_null(hs_fields_get(v, "customer_ref"));
    assert_int_equal(hs_fields_count(v), 4);
    assert_int_equal(r.to_accounting.n_paths, 4);
    assert_int_equal(r.to_crm.n_paths, 0);
    assert_int_equal(r.n_errors, 1);
    assert_int_equal(r.n_changes, 1);
    assert_string_equal(r.changes[0].crm_field, "custom.terms");
    assert_string_equal(r.changes[0].reason,
                        "new record: crm 'custom.terms' is 'Net 90'; value 'Net 90' of crm "
                        "'custom.terms' is not in the map table");
    /* the failed field stays out of the source base, so the next merge retries it */
    assert_null(hs_fields_get(&r.crm_base, "custom.terms"));
    assert_string_equal(hs_fields_get(&r.crm_base, "display_name"), " Acme ");
    assert_true(hs_fields_equal(&r.acc_base, v));
    struct hs_merge_input next = {&src, &r.crm_base, &r.acc_base, &r.acc_base, 0,
                                  0,    NULL,        NULL,        NULL,        NULL};
    struct hs_merge_result r2;
    hs_merge_result_init(&r2);
    OK(hs_merge_run(m, &next, &r2, NULL));
    assert_int_equal(r2.n_errors, 1);
    assert_int_equal(hs_merge_n_writes(&r2), 0);
    hs_merge_result_release(&r2);
    hs_merge_result_release(&r);
    hs_fields_release(&src);
    hs_mapping_free(m);
}

/* ---- read-only and unsynced paths ----------------------------------------------------- */

/* Xero's Contact.Website: the accounting side does not take it. */
static void test_merge_read_only_side_is_never_written(void **state)
{
    (void)state;
    struct hs_mapping *m = compile(BOTH, BY_CRM, false, NULL, 0);
    struct hs_fields crm, crm0, acc, acc0;
    /* the crm changed it: nothing toward accounting, reported as a base move, then quiet */
    fill(&crm, (const char *[]){"website", "new.example", "phone", "2", NULL});
    fill(&crm0, (const char *[]){"website", "old.example", "phone", "1", NULL});
    fill(&acc, (const char *[]){"website", "old.example", "phone", "1", NULL});
    fill(&acc0, (const char *[]){"website", "old.example", "phone", "1", NULL});
    struct hs_merge_input in = {&crm, &crm0, &acc, &acc0, 1, 1, NULL, NULL, NULL, NULL};
    in.acc_read_only = "tax_id,website";
    struct hs_merge_result r;
    hs_merge_result_init(&r);
    OK(hs_merge_run(m, &in, &r, NULL));
    assert_int_equal(r.to_accounting.n_paths, 1);
    assert_true(patch_has(&r.to_accounting, "phone"));
    assert_false(patch_has(&r.to_accounting, "website"));
    const struct hs_merge_change *ch = change_of(&r, "website");
    assert_non_null(ch);
    assert_int_equal(ch->action, HS_MERGE_ADVANCE_BASE);
    assert_string_equal(ch->reason, "crm changed 'website' from 'old.example' to 'new.example'; "
                                    "accounting unchanged; not written: accounting does not take "
                                    "'website'");
    assert_string_equal(hs_fields_get(&r.crm_base, "website"), "new.example");
    assert_string_equal(hs_fields_get(&r.acc_base, "website"), "old.example");
    assert_quiet_again(m, &in, &r, NULL);
    hs_merge_result_release(&r);

    /* the accounting side's own change still flows to the crm */
    set_opt(&crm, "website", "old.example");
    set_opt(&acc, "website", "acc.example");
    set_opt(&crm, "phone", "1");
    OK(hs_merge_run(m, &in, &r, NULL));
    assert_true(patch_has(&r.to_crm, "website"));
    assert_string_equal(hs_fields_get(&r.to_crm.values, "website"), "acc.example");
    assert_quiet_again(m, &in, &r, NULL);
    hs_merge_result_release(&r);

    /* both changed, the crm wins by authority but cannot be written: both left as they are */
    set_opt(&crm, "website", "crm.example");
    OK(hs_merge_run(m, &in, &r, NULL));
    assert_int_equal(hs_merge_n_writes(&r), 0);
    assert_int_equal(change_of(&r, "website")->action, HS_MERGE_ADVANCE_BASE);
    assert_quiet_again(m, &in, &r, NULL);
    hs_merge_result_release(&r);

    /* first sync, only the crm has one: nothing to send */
    struct hs_merge_input first = {&crm, NULL, &acc, NULL, 1, 1, NULL, NULL, NULL, NULL};
    first.acc_read_only = "website";
    set_opt(&acc, "website", NULL);
    OK(hs_merge_run(m, &first, &r, NULL));
    assert_int_equal(hs_merge_n_writes(&r), 0);
    hs_merge_result_release(&r);

    /* a create leaves it out */
    OK(hs_merge_create(m, HS_MAPPING_ACCOUNTING, &crm, "website", &r, NULL));
    assert_false(patch_has(&r.to_accounting, "website"));
    assert_true(patch_has(&r.to_accounting, "phone"));
    hs_merge_result_release(&r);
    hs_fields_release(&crm);
    hs_fields_release(&crm0);
    hs_fields_release(&acc);
    hs_fields_release(&acc0);
    hs_mapping_free(m);
}

/* A billing contact the accounting connector does not own: its person fields stay out. */
static void test_merge_unsynced_paths_are_left_alone(void **state)
{
    (void)state;
    struct hs_mapping *m = compile(BOTH, BY_ACC, false, NULL, 0);
    struct hs_fields crm, crm0, acc, acc0;
    fill(&crm, (const char *[]){"given_name", "Jane", "email", "jane@acme.example",
                                "billing_address.city", "Oslo", NULL});
    fill(&crm0, (const char *[]){"given_name", "Jane", "email", "jane@acme.example",
                                 "billing_address.city", "Bergen", NULL});
    fill(&acc, (const char *[]){"given_name", "Accounts", "email", "ap@acme.example",
                                "billing_address.city", "Bergen", NULL});
    fill(&acc0, (const char *[]){"given_name", "Accounts", "email", "old-ap@acme.example",
                                 "billing_address.city", "Bergen", NULL});
    struct hs_merge_input in = {&crm, &crm0, &acc, &acc0, 1, 2, NULL, NULL, NULL, NULL};
    in.acc_unsynced = "given_name,family_name,email";
    struct hs_merge_result r;
    hs_merge_result_init(&r);
    OK(hs_merge_run(m, &in, &r, NULL));
    /* the city goes across; the person is neither written nor taken, and not reported */
    assert_int_equal(r.to_crm.n_paths, 0);
    assert_int_equal(r.to_accounting.n_paths, 1);
    assert_true(patch_has(&r.to_accounting, "billing_address.city"));
    assert_int_equal(r.n_changes, 1);
    assert_string_equal(hs_fields_get(&r.acc_base, "email"), "ap@acme.example");
    assert_string_equal(hs_fields_get(&r.crm_base, "email"), "jane@acme.example");
    assert_quiet_again(m, &in, &r, NULL);
    hs_merge_result_release(&r);
    /* first sync too: no conflict over the person */
    struct hs_merge_input first = {&crm, NULL, &acc, NULL, 1, 2, NULL, NULL, NULL, NULL};
    first.acc_unsynced = in.acc_unsynced;
    OK(hs_merge_run(m, &first, &r, NULL));
    assert_null(change_of(&r, "email"));
    assert_null(change_of(&r, "given_name"));
    assert_false(patch_has(&r.to_crm, "email"));
    hs_merge_result_release(&r);
    hs_fields_release(&crm);
    hs_fields_release(&crm0);
    hs_fields_release(&acc);
    hs_fields_release(&acc0);
    hs_mapping_free(m);
}

static void test_merge_path_listed(void **state)
{
    (void)state;
    assert_true(hs_merge_path_listed("website", "website"));
    assert_true(hs_merge_path_listed("a,billing_address", "billing_address.city"));
    assert_true(hs_merge_path_listed("lines", "lines[2].amount"));
    assert_false(hs_merge_path_listed("email", "email2"));
    assert_false(hs_merge_path_listed("billing_address.city", "billing_address"));
    assert_false(hs_merge_path_listed(",", "email"));
    assert_false(hs_merge_path_listed("", "email"));
    assert_false(hs_merge_path_listed(NULL, "email"));
}

/* ---- randomized idempotence ------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static const char *pick(uint64_t *s, const char *const *pool, size_t n)
{
    return pool[rng_next(s) % n];
}

static void random_view(uint64_t *s, struct hs_fields *f, const char *const *names, size_t nn,
                        const char *const *vals, size_t nv)
{
    hs_fields_init(f);
    for (size_t i = 0; i < nn; i++) {
        const char *v = pick(s, vals, nv);
        if (v != NULL)
            OK(hs_fields_set(f, names[i], v));
    }
}

static void test_merge_random_merges_reach_a_fixed_point(void **state)
{
    (void)state;
    static const char *const crm_names[] = {"display_name", "email",      "custom.terms",
                                            "currency",     "given_name", "family_name",
                                            "phone",        "notes"};
    static const char *const acc_names[] = {"display_name", "email",        "payment_terms",
                                            "currency",     "company_name", "family_name",
                                            "phone",        "notes"};
    static const char *const vals[] = {NULL, "a",      " a ",           "A", "b", "", "Net 30", "3",
                                       "4",  "Net 60", "x y long value"};
    uint64_t seed = 20241123;
    for (int iter = 0; iter < 3000; iter++) {
        int dir = (int)(rng_next(&seed) % 3);
        int auth = (int)(rng_next(&seed) % 4);
        bool enforce = rng_next(&seed) % 2 == 0;
        struct hs_mapping *m = transform_mapping(dir == A2C ? BOTH : dir, auth, enforce);
        struct hs_fields v[4];
        random_view(&seed, &v[0], crm_names, N(crm_names), vals, N(vals));
        random_view(&seed, &v[1], crm_names, N(crm_names), vals, N(vals));
        random_view(&seed, &v[2], acc_names, N(acc_names), vals, N(vals));
        random_view(&seed, &v[3], acc_names, N(acc_names), vals, N(vals));
        bool first = rng_next(&seed) % 5 == 0;
        struct hs_merge_input in = {&v[0],
                                    first ? NULL : &v[1],
                                    &v[2],
                                    first ? NULL : &v[3],
                                    (int64_t)(rng_next(&seed) % 3) * 100,
                                    (int64_t)(rng_next(&seed) % 3) * 100,
                                    NULL,
                                    NULL,
                                    NULL,
                                    NULL};
        struct hs_merge_result r;
        hs_merge_result_init(&r);
        OK(hs_merge_run(m, &in, &r, NULL));
        for (size_t i = 1; i < r.n_changes; i++) {
            int d = strcmp(r.changes[i - 1].crm_field, r.changes[i].crm_field);
            assert_true(d < 0 ||
                        (d == 0 && strcmp(r.changes[i - 1].acc_field, r.changes[i].acc_field) < 0));
        }
        assert_quiet_again(m, &in, &r, (iter & 1) ? acc_reformat : NULL);
        hs_merge_result_release(&r);
        for (int k = 0; k < 4; k++)
            hs_fields_release(&v[k]);
        hs_mapping_free(m);
    }
}

/* Same, for accounting_to_crm flows (concat is not allowed there). */
static void test_merge_random_one_way_back_reaches_a_fixed_point(void **state)
{
    (void)state;
    static const char *const names[] = {"display_name", "email", "phone", "notes"};
    static const char *const vals[] = {NULL, "a", " a ", "A", "b", ""};
    struct hs_config_mapping maps[] = {
        rule("display_name", "display_name", HS_CONFIG_TRANSFORM_TRIM),
        rule("email", "email", HS_CONFIG_TRANSFORM_UPPER),
    };
    uint64_t seed = 7;
    for (int iter = 0; iter < 1000; iter++) {
        struct hs_mapping *m =
            compile(A2C, (int)(rng_next(&seed) % 4), iter % 2 == 0, maps, N(maps));
        struct hs_fields v[4];
        for (int k = 0; k < 4; k++)
            random_view(&seed, &v[k], names, N(names), vals, N(vals));
        bool first = iter % 7 == 0;
        struct hs_merge_input in = {
            &v[0], first ? NULL : &v[1], &v[2], first ? NULL : &v[3], 100, 200, NULL, NULL, NULL,
            NULL};
        struct hs_merge_result r;
        hs_merge_result_init(&r);
        OK(hs_merge_run(m, &in, &r, NULL));
        assert_int_equal(r.n_conflicts, 0); /* one-way flows never queue conflicts */
        assert_quiet_again(m, &in, &r, NULL);
        hs_merge_result_release(&r);
        for (int k = 0; k < 4; k++)
            hs_fields_release(&v[k]);
        hs_mapping_free(m);
    }
}

/* ---- out of memory ------------------------------------------------------------------------- */

static void test_merge_survives_every_failed_allocation(void **state)
{
    (void)state;
    struct hs_mapping *m = transform_mapping(BOTH, NEWEST, false);
    struct hs_fields crm;
    struct hs_fields crm0;
    struct hs_fields acc;
    struct hs_fields acc0;
    fill(&crm0, (const char *[]){"display_name", "Acme", "email", "a@x.com", "custom.terms",
                                 "Net 30", "given_name", "Ada", "phone", "1", "notes", "n", NULL});
    fill(&acc0, (const char *[]){"display_name", "Acme", "email", "a@x.com", "payment_terms", "3",
                                 "company_name", "Ada", "phone", "1", "notes", "n", NULL});
    fill(&crm,
         (const char *[]){"display_name", " Acme 2", "email", "a@x.com", "custom.terms", "Net 90",
                          "given_name", "Ada", "phone", "2", "notes", "n", "website", "w", NULL});
    fill(&acc, (const char *[]){"display_name", "Acme", "email", "B@x.com", "payment_terms", "3",
                                "company_name", "Ada B", "phone", "3", NULL});
    struct hs_merge_input in = {&crm, &crm0, &acc, &acc0, 5, 5, NULL, NULL, NULL, NULL};
    struct hs_merge_result want;
    hs_merge_result_init(&want);
    OK(hs_merge_run(m, &in, &want, NULL));
    assert_true(want.n_changes >= 6);
    int n;
    for (n = 0;; n++) {
        struct hs_merge_result r;
        hs_merge_result_init(&r);
        struct hs_error err = {0, ""};
        failalloc_arm(n);
        int rc = hs_merge_run(m, &in, &r, &err);
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_int_equal(r.n_changes, want.n_changes);
            for (size_t i = 0; i < r.n_changes; i++)
                assert_string_equal(r.changes[i].reason, want.changes[i].reason);
            assert_true(hs_fields_equal(&r.crm_base, &want.crm_base));
            assert_true(hs_fields_equal(&r.acc_base, &want.acc_base));
            hs_merge_result_release(&r);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_string_equal(err.msg, "cannot merge customer: out of memory");
        assert_int_equal(r.n_changes + hs_merge_n_writes(&r) + hs_fields_count(&r.crm_base), 0);
    }
    assert_true(n > 20);
    for (n = 0;; n++) {
        struct hs_merge_result r;
        hs_merge_result_init(&r);
        failalloc_arm(n);
        int rc = hs_merge_create(m, HS_MAPPING_ACCOUNTING, &crm, NULL, &r, NULL);
        failalloc_disarm();
        hs_merge_result_release(&r);
        if (rc == HS_OK)
            break;
        assert_int_equal(rc, HS_ENOMEM);
    }
    hs_merge_result_release(&want);
    hs_fields_release(&crm);
    hs_fields_release(&crm0);
    hs_fields_release(&acc);
    hs_fields_release(&acc0);
    hs_mapping_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_design_table_rows),
        cmocka_unit_test(test_merge_reasons_read_well),
        cmocka_unit_test(test_merge_rejects_missing_inputs),
        cmocka_unit_test(test_merge_transforms_both_ways),
        cmocka_unit_test(test_merge_provider_reformatting_does_not_flap),
        cmocka_unit_test(test_merge_echo_of_our_write_is_nothing),
        cmocka_unit_test(test_merge_create_maps_the_whole_record),
        cmocka_unit_test(test_merge_read_only_side_is_never_written),
        cmocka_unit_test(test_merge_unsynced_paths_are_left_alone),
        cmocka_unit_test(test_merge_path_listed),
        cmocka_unit_test(test_merge_random_merges_reach_a_fixed_point),
        cmocka_unit_test(test_merge_random_one_way_back_reaches_a_fixed_point),
        cmocka_unit_test(test_merge_survives_every_failed_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
