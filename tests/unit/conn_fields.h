/*
 * tests/unit/conn_fields.h - shared checks of the test_conn_fields*.c tests: a connector's field
 *                            names (describe_fields) against its own parser, and mappings
 *                            compiled through the resolver (connectors/common/fields.h).
 *
 * Design:     static helpers, included by one test file per connector (each connector's
 *             <p>_int.h defines struct hs_connector, so one file cannot include two).
 *             check_rows_against_parser proves a name table against the parser: a full fixture
 *             record is parsed, then each row's element is removed and the record parsed
 *             again, and the row's canonical field must go away or change; and every field the
 *             parser filled from the fixture must have a row. An edit of the parser or the
 *             table without the other fails there.
 */
#ifndef HS_TESTS_CONN_FIELDS_H
#define HS_TESTS_CONN_FIELDS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "connectors/common/fields.h"
#include "connectors/hubspot/hubspot.h"
#include "core/mapping.h"
#include "util/alloc.h"
#include "util/jsonnum.h"

#define S(x) ((char *)(x))

/* Parses one provider object into a record (the connector's own parser). */
typedef int (*parse_fn)(enum hs_kind kind, const json_t *obj, struct hs_record **out,
                        struct hs_error *err);

static json_t *load(const char *text)
{
    json_t *j = NULL;
    struct hs_error err = {0};
    if (hs_json_parse_exact((const uint8_t *)text, strlen(text), "fixture", &j, &err) != HS_OK)
        fail_msg("fixture: %s", err.msg);
    return j;
}

/* The field view of obj as the connector parses it. */
static inline void fields_of(parse_fn parse, enum hs_kind kind, const json_t *obj,
                             struct hs_fields *out)
{
    struct hs_record *r = NULL;
    struct hs_error err = {0};
    if (parse(kind, obj, &r, &err) != HS_OK)
        fail_msg("parse: %s", err.msg);
    hs_fields_init(out);
    assert_int_equal(hs_record_to_fields(r, out, &err), HS_OK);
    hs_record_free(r);
}

/*
 * Removes the element a provider field name points at: segments split on '.', each an object
 * member, or, inside an array, a TYPE that picks the element with a string member equal to it
 * (Xero "Addresses.POBOX.City"). Returns false when the name points at nothing.
 */
static inline bool remove_named(json_t *obj, const char *name)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", name);
    json_t *cur = obj;
    char *seg = buf;
    for (;;) {
        char *dot = strchr(seg, '.');
        if (dot != NULL)
            *dot = '\0';
        json_t *next = NULL;
        if (json_is_array(cur)) {
            size_t i;
            json_t *el;
            json_array_foreach(cur, i, el)
            {
                const char *k;
                json_t *v;
                json_object_foreach(el, k, v)
                {
                    if (next == NULL && json_is_string(v) && strcmp(json_string_value(v), seg) == 0)
                        next = el;
                }
            }
        } else if (dot == NULL) {
            return json_object_del(cur, seg) == 0;
        } else {
            next = json_object_get(cur, seg);
        }
        if (next == NULL || dot == NULL)
            return false;
        cur = next;
        seg = dot + 1;
    }
}

/*
 * The parser-drift check of one connector and kind over a full fixture: every row the
 * connector describes is read by its parser from that element, and every field the parser
 * fills has a row.
 */
static inline void check_rows_against_parser(const struct hs_connector_ops *ops, parse_fn parse,
                                             enum hs_kind kind, const char *fixture)
{
    struct hs_field_names names;
    hs_field_names_init(&names);
    assert_int_equal(ops->describe_fields(NULL, kind, &names, NULL), HS_OK);
    assert_true(names.n_items > 0);
    json_t *obj = load(fixture);
    struct hs_fields full;
    fields_of(parse, kind, obj, &full);
    for (size_t i = 0; i < names.n_items; i++) {
        const char *name = names.items[i].name;
        const char *path = names.items[i].path;
        const char *before = hs_fields_get(&full, path);
        if (before == NULL)
            fail_msg("%s: the fixture leaves '%s' (from '%s') empty", ops->provider, path, name);
        json_t *copy = json_deep_copy(obj);
        if (!remove_named(copy, name))
            fail_msg("%s: '%s' is not in the fixture", ops->provider, name);
        struct hs_fields cut;
        fields_of(parse, kind, copy, &cut);
        const char *after = hs_fields_get(&cut, path);
        if (after != NULL && strcmp(after, before) == 0)
            fail_msg("%s: the parser does not read '%s' from '%s' (still '%s' without it)",
                     ops->provider, path, name, after);
        hs_fields_release(&cut);
        json_decref(copy);
    }
    size_t pos = 0;
    const char *path;
    const char *value;
    while (hs_fields_iter(&full, &pos, &path, &value)) {
        bool named = false;
        for (size_t i = 0; i < names.n_items && !named; i++)
            named = strcmp(names.items[i].path, path) == 0;
        if (!named)
            fail_msg("%s: the parser fills %s '%s' but no field name says from where",
                     ops->provider, hs_kind_name(kind), path);
    }
    hs_fields_release(&full);
    json_decref(obj);
    hs_field_names_release(&names);
}

/* Loads both sides and compiles one customers rule; returns the compile's code. */
static inline int compile_rule(const struct hs_connector_ops *crm,
                               const struct hs_connector_ops *acc, const char *crm_name,
                               const char *acc_name, enum hs_kind kind, struct hs_mapping **out,
                               struct hs_error *err)
{
    struct hs_conn_fields f;
    hs_conn_fields_init(&f);
    assert_int_equal(hs_conn_fields_load(&f, HS_SIDE_CRM, crm, NULL, NULL), HS_OK);
    assert_int_equal(hs_conn_fields_load(&f, HS_SIDE_ACCOUNTING, acc, NULL, NULL), HS_OK);
    struct hs_config_mapping m;
    memset(&m, 0, sizeof m);
    m.pos = (struct hs_config_pos){41, 9};
    m.crm = S(crm_name);
    m.accounting = S(acc_name);
    struct hs_config_flow flow;
    memset(&flow, 0, sizeof flow);
    flow.name = S("customers");
    flow.objects = kind == HS_KIND_ITEM ? HS_CONFIG_OBJECT_ITEMS : HS_CONFIG_OBJECT_CUSTOMERS;
    flow.mappings = &m;
    flow.n_mappings = 1;
    int rc =
        hs_mapping_compile_file(&flow, kind, "hoopsync.yaml", hs_conn_fields_resolve, &f, out, err);
    hs_conn_fields_release(&f);
    return rc;
}

/* The canonical pair rule 0 of a compiled mapping maps. */
static inline void expect_pair(struct hs_mapping *m, const char *crm, const char *acc)
{
    struct hs_mapping_list l;
    hs_mapping_list_init(&l);
    assert_int_equal(hs_mapping_list(m, NULL, 0, &l), HS_OK);
    assert_int_equal(l.n_items, 1);
    assert_string_equal(l.items[0].crm, crm);
    assert_string_equal(l.items[0].accounting, acc);
    hs_mapping_list_release(&l);
    hs_mapping_free(m);
}

static inline void expect_unknown(const struct hs_connector_ops *crm,
                                  const struct hs_connector_ops *acc, const char *crm_name,
                                  const char *acc_name, const char *msg)
{
    struct hs_mapping *m = NULL;
    struct hs_error err = {0};
    assert_int_equal(compile_rule(crm, acc, crm_name, acc_name, HS_KIND_CUSTOMER, &m, &err),
                     HS_EINVAL);
    assert_null(m);
    assert_string_equal(err.msg, msg);
}

#define UNKNOWN_TAIL                                                                               \
    " (neither a field name of the provider on that side nor a canonical field path)"

#endif
