/*
 * tests/unit/test_core_mapping.c - compiling flow mappings, path checks, transforms both ways,
 * the default identity mapping, whole-record mapping and out-of-memory behaviour.
 *
 * Design:     flows are built as struct hs_config_flow literals, the way hs_config_parse
 *             returns them, so no YAML is involved (core tests link hs_core only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h> /* after the four above */
#include <string.h>

#include "core/mapping.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"

#define OK(x) assert_int_equal((x), HS_OK)
#define S(x)  ((char *)(x))
#define N(a)  (sizeof(a) / sizeof((a)[0]))

static struct hs_config_mapping rule(const char *crm, const char *acc, enum hs_config_transform t)
{
    struct hs_config_mapping m;
    memset(&m, 0, sizeof m);
    m.pos.line = 7;
    m.pos.col = 9;
    m.crm = S(crm);
    m.accounting = S(acc);
    m.transform = t;
    return m;
}

static struct hs_config_flow flow(enum hs_config_direction d, struct hs_config_mapping *maps,
                                  size_t n)
{
    struct hs_config_flow f;
    memset(&f, 0, sizeof f);
    f.name = S("customers");
    f.objects = HS_CONFIG_OBJECT_CUSTOMERS;
    f.direction = d;
    f.mappings = maps;
    f.n_mappings = n;
    return f;
}

/* kv: name, value, ..., NULL */
static void fill(struct hs_fields *f, const char *const *kv)
{
    hs_fields_init(f);
    for (size_t i = 0; kv[i] != NULL; i += 2)
        OK(hs_fields_set(f, kv[i], kv[i + 1]));
}

static const struct hs_mapping_field *find_field(const struct hs_mapping_list *l, const char *crm)
{
    for (size_t i = 0; i < l->n_items; i++) {
        if (strcmp(l->items[i].crm, crm) == 0)
            return &l->items[i];
    }
    return NULL;
}

/* Converts v toward side to through the field of m whose crm path is crm. */
static int conv(const struct hs_mapping *m, const char *crm, enum hs_mapping_side to, const char *v,
                char **out, struct hs_error *err)
{
    struct hs_mapping_list l;
    hs_mapping_list_init(&l);
    OK(hs_mapping_list(m, NULL, 0, &l));
    const struct hs_mapping_field *f = find_field(&l, crm);
    assert_non_null(f);
    int rc = hs_mapping_convert(f, to, v, out, err);
    hs_mapping_list_release(&l);
    return rc;
}

static void expect_conv(const struct hs_mapping *m, const char *crm, enum hs_mapping_side to,
                        const char *v, const char *want)
{
    char *out = NULL;
    OK(conv(m, crm, to, v, &out, NULL));
    if (want == NULL)
        assert_null(out);
    else
        assert_string_equal(out, want);
    hs_free(out);
}

static void test_mapping_paths_valid_and_side_specific(void **state)
{
    (void)state;
    assert_true(hs_mapping_path_valid(HS_KIND_CUSTOMER, "email"));
    assert_true(hs_mapping_path_valid(HS_KIND_CUSTOMER, "billing_address.country"));
    assert_true(hs_mapping_path_valid(HS_KIND_CUSTOMER, "active"));
    assert_true(hs_mapping_path_valid(HS_KIND_CUSTOMER, "currency"));
    assert_true(hs_mapping_path_valid(HS_KIND_CUSTOMER, "custom.hs_region"));
    assert_true(hs_mapping_path_valid(HS_KIND_CUSTOMER, "external_refs.hubspot"));
    assert_true(hs_mapping_path_valid(HS_KIND_ITEM, "unit_price"));
    assert_true(hs_mapping_path_valid(HS_KIND_INVOICE, "lines[2].quantity"));
    assert_true(hs_mapping_path_valid(HS_KIND_INVOICE, "due_date"));
    assert_true(hs_mapping_path_valid(HS_KIND_INVOICE, "status"));
    assert_true(hs_mapping_path_valid(HS_KIND_INVOICE, "tax_mode"));
    assert_true(hs_mapping_path_valid(HS_KIND_CREDIT_NOTE, "status"));
    assert_false(hs_mapping_path_valid(HS_KIND_CUSTOMER, "DisplayName"));
    assert_false(hs_mapping_path_valid(HS_KIND_CUSTOMER, "billing_address"));
    assert_false(hs_mapping_path_valid(HS_KIND_CUSTOMER, "custom."));
    assert_false(hs_mapping_path_valid(HS_KIND_CUSTOMER, ""));
    assert_false(hs_mapping_path_valid(HS_KIND_ITEM, "email"));
    assert_false(hs_mapping_path_valid(HS_KIND_INVOICE, "lines[01].quantity"));
    assert_false(hs_mapping_path_valid(HS_KIND_INVOICE, "lines[99999999].quantity"));
    assert_false(hs_mapping_path_valid(HS_KIND_NONE, "email"));

    assert_true(hs_mapping_path_side_specific("custom.x"));
    assert_true(hs_mapping_path_side_specific("external_refs.hubspot"));
    assert_true(hs_mapping_path_side_specific("customer_ref"));
    assert_true(hs_mapping_path_side_specific("lines[0].item_ref"));
    assert_true(hs_mapping_path_side_specific("lines[0].tax_code"));
    assert_true(hs_mapping_path_side_specific("applied[1].invoice_ref"));
    assert_false(hs_mapping_path_side_specific("email"));
    assert_false(hs_mapping_path_side_specific("lines[0].quantity"));

    assert_int_equal(hs_mapping_kind_of(HS_CONFIG_OBJECT_CUSTOMERS), HS_KIND_CUSTOMER);
    assert_int_equal(hs_mapping_kind_of(HS_CONFIG_OBJECT_ITEMS), HS_KIND_ITEM);
    assert_int_equal(hs_mapping_kind_of(HS_CONFIG_OBJECT_INVOICES), HS_KIND_INVOICE);
    assert_int_equal(hs_mapping_kind_of(HS_CONFIG_OBJECT_PAYMENTS), HS_KIND_PAYMENT);
}

static void test_mapping_default_is_identity_without_side_specific(void **state)
{
    (void)state;
    struct hs_mapping *m = NULL;
    OK(hs_mapping_compile(NULL, HS_KIND_CUSTOMER, NULL, NULL, &m, NULL));
    assert_string_equal(hs_mapping_flow_name(m), "default");
    assert_int_equal(hs_mapping_direction(m), HS_CONFIG_DIRECTION_BOTH);
    assert_false(hs_mapping_enforce(m));
    struct hs_fields a;
    struct hs_fields b;
    fill(&a, (const char *[]){"email", "a@x", "custom.hs_region", "EMEA", "phone", "1", NULL});
    fill(&b, (const char *[]){"email", "a@x", "external_refs.hubspot", "9", "website", "w", NULL});
    const struct hs_fields *views[3] = {&a, NULL, &b};
    struct hs_mapping_list l;
    hs_mapping_list_init(&l);
    OK(hs_mapping_list(m, views, 3, &l));
    assert_int_equal(l.n_items, 3);
    assert_string_equal(l.items[0].crm, "email");
    assert_string_equal(l.items[1].crm, "phone");
    assert_string_equal(l.items[2].crm, "website");
    for (size_t i = 0; i < l.n_items; i++) {
        assert_true(l.items[i].identity);
        assert_string_equal(l.items[i].crm, l.items[i].accounting);
        assert_true(l.items[i].to_accounting);
        assert_true(l.items[i].to_crm);
        assert_int_equal(l.items[i].authority, HS_CONFIG_AUTHORITY_MANUAL);
    }
    struct hs_fields out;
    hs_fields_init(&out);
    OK(hs_mapping_apply(m, HS_MAPPING_ACCOUNTING, &a, &out, NULL, NULL));
    assert_int_equal(hs_fields_count(&out), 2);
    assert_string_equal(hs_fields_get(&out, "email"), "a@x");
    assert_null(hs_fields_get(&out, "custom.hs_region"));
    hs_fields_release(&out);
    hs_mapping_list_release(&l);
    hs_fields_release(&a);
    hs_fields_release(&b);
    hs_mapping_free(m);
}

static void test_mapping_rules_claim_paths_from_identity(void **state)
{
    (void)state;
    struct hs_config_mapping maps[] = {
        rule("display_name", "company_name", HS_CONFIG_TRANSFORM_NONE),
        rule("custom.hs_terms", "payment_terms", HS_CONFIG_TRANSFORM_NONE),
    };
    struct hs_config_flow f = flow(HS_CONFIG_DIRECTION_BOTH, maps, N(maps));
    struct hs_mapping *m = NULL;
    OK(hs_mapping_compile(&f, HS_KIND_CUSTOMER, NULL, NULL, &m, NULL));
    struct hs_fields a;
    fill(&a, (const char *[]){"company_name", "Acme SA", "display_name", "Acme", "email", "e",
                              "payment_terms", "x", NULL});
    const struct hs_fields *views[1] = {&a};
    struct hs_mapping_list l;
    hs_mapping_list_init(&l);
    OK(hs_mapping_list(m, views, 1, &l));
    /* company_name, display_name and payment_terms are used by rules: no identity pair */
    assert_int_equal(l.n_items, 3);
    assert_string_equal(l.items[0].crm, "custom.hs_terms");
    assert_string_equal(l.items[0].accounting, "payment_terms");
    assert_false(l.items[0].identity);
    assert_string_equal(l.items[1].crm, "display_name");
    assert_string_equal(l.items[1].accounting, "company_name");
    assert_string_equal(l.items[2].crm, "email");
    assert_true(l.items[2].identity);
    hs_mapping_list_release(&l);
    hs_fields_release(&a);
    hs_mapping_free(m);
}

static const char *resolver(void *ud, enum hs_mapping_side side, enum hs_kind kind,
                            const char *name)
{
    (*(int *)ud)++;
    assert_int_equal(kind, HS_KIND_CUSTOMER);
    if (side == HS_MAPPING_CRM && strcmp(name, "name") == 0)
        return "display_name";
    if (side == HS_MAPPING_CRM && strcmp(name, "hs_payment_terms") == 0)
        return "custom.hs_payment_terms";
    if (side == HS_MAPPING_ACCOUNTING && strcmp(name, "DisplayName") == 0)
        return "display_name";
    if (side == HS_MAPPING_ACCOUNTING && strcmp(name, "SalesTermRef") == 0)
        return "payment_terms";
    if (side == HS_MAPPING_ACCOUNTING && strcmp(name, "Broken") == 0)
        return "no_such_field";
    return NULL;
}

static void test_mapping_resolver_translates_provider_names(void **state)
{
    (void)state;
    int calls = 0;
    struct hs_config_mapping maps[] = {
        rule("name", "DisplayName", HS_CONFIG_TRANSFORM_TRIM),
        rule("hs_payment_terms", "SalesTermRef", HS_CONFIG_TRANSFORM_NONE),
    };
    struct hs_config_field_authority auth[] = {
        {S("SalesTermRef"), HS_CONFIG_AUTHORITY_ACCOUNTING, {0, 0}},
        {S("name"), HS_CONFIG_AUTHORITY_CRM, {0, 0}},
        {S("email"), HS_CONFIG_AUTHORITY_NEWEST, {0, 0}},
    };
    struct hs_config_flow f = flow(HS_CONFIG_DIRECTION_BOTH, maps, N(maps));
    f.authority = auth;
    f.n_authority = N(auth);
    f.default_authority = HS_CONFIG_AUTHORITY_MANUAL;
    struct hs_mapping *m = NULL;
    OK(hs_mapping_compile(&f, HS_KIND_CUSTOMER, resolver, &calls, &m, NULL));
    assert_true(calls > 0);
    struct hs_fields a;
    fill(&a, (const char *[]){"email", "e", "phone", "p", NULL});
    const struct hs_fields *views[1] = {&a};
    struct hs_mapping_list l;
    hs_mapping_list_init(&l);
    OK(hs_mapping_list(m, views, 1, &l));
    const struct hs_mapping_field *terms = find_field(&l, "custom.hs_payment_terms");
    assert_non_null(terms);
    assert_string_equal(terms->accounting, "payment_terms");
    assert_string_equal(terms->crm_label, "hs_payment_terms");
    assert_string_equal(terms->acc_label, "SalesTermRef");
    assert_int_equal(terms->authority, HS_CONFIG_AUTHORITY_ACCOUNTING);
    const struct hs_mapping_field *name = find_field(&l, "display_name");
    assert_non_null(name);
    assert_int_equal(name->authority, HS_CONFIG_AUTHORITY_CRM);
    assert_int_equal(name->transform, HS_CONFIG_TRANSFORM_TRIM);
    assert_int_equal(find_field(&l, "email")->authority, HS_CONFIG_AUTHORITY_NEWEST);
    assert_int_equal(find_field(&l, "phone")->authority, HS_CONFIG_AUTHORITY_MANUAL);
    hs_mapping_list_release(&l);
    hs_fields_release(&a);
    hs_mapping_free(m);
}

static void expect_compile_error(const struct hs_config_flow *f, hs_mapping_resolve_fn res,
                                 const char *msg)
{
    int calls = 0;
    struct hs_mapping *m = (struct hs_mapping *)&calls; /* must be reset to NULL */
    struct hs_error err = {0, ""};
    assert_int_equal(hs_mapping_compile(f, HS_KIND_CUSTOMER, res, &calls, &m, &err), HS_EINVAL);
    assert_null(m);
    assert_int_equal(err.code, HS_EINVAL);
    assert_string_equal(err.msg, msg);
}

static void test_mapping_compile_errors_are_clear(void **state)
{
    (void)state;
    struct hs_config_mapping unknown[] = {rule("nme", "display_name", HS_CONFIG_TRANSFORM_NONE)};
    struct hs_config_flow f = flow(HS_CONFIG_DIRECTION_BOTH, unknown, 1);
    expect_compile_error(&f, NULL,
                         "cannot compile mapping of flow 'customers': line 7:9: unknown crm "
                         "field 'nme' of customer");

    struct hs_config_mapping broken[] = {rule("email", "Broken", HS_CONFIG_TRANSFORM_NONE)};
    f = flow(HS_CONFIG_DIRECTION_BOTH, broken, 1);
    expect_compile_error(&f, resolver,
                         "cannot compile mapping of flow 'customers': line 7:9: accounting field "
                         "'Broken' resolves to 'no_such_field', which is not a field of customer");

    struct hs_config_mapping twice[] = {rule("email", "email", HS_CONFIG_TRANSFORM_NONE),
                                        rule("phone", "email", HS_CONFIG_TRANSFORM_NONE)};
    twice[1].pos.line = 9;
    f = flow(HS_CONFIG_DIRECTION_BOTH, twice, 2);
    expect_compile_error(&f, NULL,
                         "cannot compile mapping of flow 'customers': line 9:9: accounting field "
                         "'email' is already mapped at line 7:9");

    struct hs_config_pair pairs[] = {{S("Net 30"), S("3")}, {S("30 days"), S("3")}};
    struct hs_config_mapping map[] = {
        rule("custom.terms", "payment_terms", HS_CONFIG_TRANSFORM_MAP)};
    map[0].map = pairs;
    map[0].n_map = 2;
    f = flow(HS_CONFIG_DIRECTION_BOTH, map, 1);
    expect_compile_error(
        &f, NULL,
        "cannot compile mapping of flow 'customers': line 7:9: map table of crm "
        "'custom.terms' is not one-to-one ('3' comes from 'Net 30' and '30 days'), "
        "so accounting values cannot flow back to the crm; make the table "
        "one-to-one or the flow crm_to_accounting");
    f.direction = HS_CONFIG_DIRECTION_ACCOUNTING_TO_CRM;
    assert_int_equal(
        hs_mapping_compile(&f, HS_KIND_CUSTOMER, NULL, NULL, &(struct hs_mapping *){NULL}, NULL),
        HS_EINVAL);

    struct hs_config_pair dup[] = {{S("a"), S("1")}, {S("a"), S("2")}};
    map[0].map = dup;
    f = flow(HS_CONFIG_DIRECTION_CRM_TO_ACCOUNTING, map, 1);
    expect_compile_error(&f, NULL,
                         "cannot compile mapping of flow 'customers': line 7:9: map table of crm "
                         "'custom.terms' lists 'a' twice");

    char *args[] = {S("family_nme")};
    struct hs_config_mapping cat[] = {
        rule("given_name", "display_name", HS_CONFIG_TRANSFORM_CONCAT)};
    cat[0].args = args;
    cat[0].n_args = 1;
    f = flow(HS_CONFIG_DIRECTION_BOTH, cat, 1);
    expect_compile_error(&f, NULL,
                         "cannot compile mapping of flow 'customers': line 7:9: unknown crm "
                         "field 'family_nme' of customer");
    args[0] = S("family_name");
    f.direction = HS_CONFIG_DIRECTION_ACCOUNTING_TO_CRM;
    expect_compile_error(
        &f, NULL,
        "cannot compile mapping of flow 'customers': line 7:9: transform 'concat' "
        "joins crm fields, so it cannot feed the crm in an accounting_to_crm flow");

    struct hs_config_field_authority auth[] = {{S("emial"), HS_CONFIG_AUTHORITY_CRM, {0, 0}}};
    f = flow(HS_CONFIG_DIRECTION_BOTH, NULL, 0);
    f.authority = auth;
    f.n_authority = 1;
    expect_compile_error(&f, NULL,
                         "cannot compile mapping of flow 'customers': authority for unknown field "
                         "'emial' (not mapped and not a field of customer)");
    /* with its place in the file (the parser records it) */
    auth[0].pos = (struct hs_config_pos){12, 7};
    expect_compile_error(&f, NULL,
                         "cannot compile mapping of flow 'customers': line 12:7: authority for "
                         "unknown field 'emial' (not mapped and not a field of customer)");

    struct hs_error err = {0, ""};
    struct hs_mapping *m = NULL;
    assert_int_equal(hs_mapping_compile(NULL, HS_KIND_NONE, NULL, NULL, &m, &err), HS_EINVAL);
    assert_null(m);
}

static void test_mapping_compile_file_places_errors_like_the_config_parser(void **state)
{
    (void)state;
    int calls = 0;
    struct hs_error err = {0, ""};
    struct hs_mapping *m = NULL;
    /* with a resolver, an unknown name is neither the provider's nor canonical */
    struct hs_config_mapping unknown[] = {rule("phnoe", "PrimaryPhone", HS_CONFIG_TRANSFORM_NONE)};
    struct hs_config_flow f = flow(HS_CONFIG_DIRECTION_BOTH, unknown, 1);
    assert_int_equal(hs_mapping_compile_file(&f, HS_KIND_CUSTOMER, "conf/hoopsync.yaml", resolver,
                                             &calls, &m, &err),
                     HS_EINVAL);
    assert_null(m);
    assert_string_equal(err.msg, "conf/hoopsync.yaml:7:9: cannot compile mapping of flow "
                                 "'customers': unknown crm field 'phnoe' of customer (neither a "
                                 "field name of the provider on that side nor a canonical field "
                                 "path)");
    /* an entry without a position still names the file and the flow */
    struct hs_config_field_authority auth[] = {{S("emial"), HS_CONFIG_AUTHORITY_CRM, {0, 0}}};
    f = flow(HS_CONFIG_DIRECTION_BOTH, NULL, 0);
    f.authority = auth;
    f.n_authority = 1;
    assert_int_equal(hs_mapping_compile_file(&f, HS_KIND_CUSTOMER, "h.yaml", NULL, NULL, &m, &err),
                     HS_EINVAL);
    assert_string_equal(err.msg, "h.yaml: cannot compile mapping of flow 'customers': authority "
                                 "for unknown field 'emial' (not mapped and not a field of "
                                 "customer)");
    /* a name the resolver knows, and canonical names, compile */
    struct hs_config_mapping good[] = {rule("name", "DisplayName", HS_CONFIG_TRANSFORM_NONE),
                                       rule("email", "email", HS_CONFIG_TRANSFORM_NONE)};
    f = flow(HS_CONFIG_DIRECTION_BOTH, good, 2);
    OK(hs_mapping_compile_file(&f, HS_KIND_CUSTOMER, "h.yaml", resolver, &calls, &m, &err));
    hs_mapping_free(m);
}

static void test_mapping_transforms_both_ways(void **state)
{
    (void)state;
    struct hs_config_pair pairs[] = {{S("Net 30"), S("3")}, {S("Net 60"), S("4")}};
    char *dflt[] = {S("USD")};
    char *rest[] = {S("family_name"), S("custom.suffix")};
    struct hs_config_mapping maps[] = {
        rule("display_name", "display_name", HS_CONFIG_TRANSFORM_TRIM),
        rule("email", "email", HS_CONFIG_TRANSFORM_LOWER),
        rule("billing_address.country", "billing_address.country", HS_CONFIG_TRANSFORM_UPPER),
        rule("custom.terms", "payment_terms", HS_CONFIG_TRANSFORM_MAP),
        rule("currency", "currency", HS_CONFIG_TRANSFORM_DEFAULT),
        rule("given_name", "company_name", HS_CONFIG_TRANSFORM_CONCAT),
    };
    maps[3].map = pairs;
    maps[3].n_map = N(pairs);
    maps[4].args = dflt;
    maps[4].n_args = 1;
    maps[5].args = rest;
    maps[5].n_args = N(rest);
    struct hs_config_flow f = flow(HS_CONFIG_DIRECTION_BOTH, maps, N(maps));
    struct hs_mapping *m = NULL;
    OK(hs_mapping_compile(&f, HS_KIND_CUSTOMER, NULL, NULL, &m, NULL));
    const enum hs_mapping_side ACC = HS_MAPPING_ACCOUNTING;
    const enum hs_mapping_side CRM = HS_MAPPING_CRM;

    expect_conv(m, "display_name", ACC, " \tAcme  Ltd \n", "Acme  Ltd");
    expect_conv(m, "display_name", CRM, " Acme ", " Acme "); /* no inverse: identity */
    expect_conv(m, "display_name", ACC, NULL, NULL);
    expect_conv(m, "email", ACC, "Ann@X.COM", "ann@x.com");
    expect_conv(m, "email", CRM, "Ann@X.COM", "Ann@X.COM");
    expect_conv(m, "billing_address.country", ACC, "fr", "FR");
    expect_conv(m, "billing_address.country", ACC, "gb\xc3\xa9", "GB\xc3\xa9"); /* ASCII only */
    expect_conv(m, "custom.terms", ACC, "Net 60", "4");
    expect_conv(m, "custom.terms", CRM, "3", "Net 30");
    expect_conv(m, "custom.terms", ACC, NULL, NULL);
    expect_conv(m, "currency", ACC, NULL, "USD");
    expect_conv(m, "currency", ACC, "", "USD");
    expect_conv(m, "currency", ACC, "EUR", "EUR");
    expect_conv(m, "currency", CRM, NULL, NULL);
    expect_conv(m, "given_name", ACC, "Ada Lovelace", "Ada Lovelace");

    char *out = NULL;
    struct hs_error err = {0, ""};
    assert_int_equal(conv(m, "custom.terms", ACC, "Net 90", &out, &err), HS_ENOTFOUND);
    assert_null(out);
    assert_string_equal(err.msg, "value 'Net 90' of crm 'custom.terms' is not in the map table");
    assert_int_equal(conv(m, "custom.terms", CRM, "9", &out, &err), HS_ENOTFOUND);
    assert_string_equal(err.msg, "value '9' of accounting 'payment_terms' is not in the map table");
    assert_int_equal(conv(m, "given_name", CRM, "Ada Lovelace", &out, &err), HS_EUNSUPPORTED);
    assert_null(out);

    /* capabilities: concat is one-way even in a two-way flow */
    struct hs_mapping_list l;
    hs_mapping_list_init(&l);
    OK(hs_mapping_list(m, NULL, 0, &l));
    assert_int_equal(l.n_items, N(maps));
    for (size_t i = 0; i < l.n_items; i++) {
        assert_true(l.items[i].to_accounting);
        assert_int_equal(l.items[i].to_crm, strcmp(l.items[i].crm, "given_name") != 0);
    }

    /* concat joins the crm sources, skipping absent and empty ones */
    struct hs_fields v;
    fill(&v, (const char *[]){"given_name", "Ada", "family_name", "Lovelace", NULL});
    const struct hs_mapping_field *cat = find_field(&l, "given_name");
    OK(hs_mapping_side_value(cat, CRM, &v, &out));
    assert_string_equal(out, "Ada Lovelace");
    HS_FREE(out);
    OK(hs_fields_set(&v, "custom.suffix", "FRS"));
    OK(hs_fields_set(&v, "family_name", ""));
    OK(hs_mapping_side_value(cat, CRM, &v, &out));
    assert_string_equal(out, "Ada FRS");
    HS_FREE(out);
    OK(hs_mapping_side_value(cat, ACC, &v, &out)); /* accounting side: its own path */
    assert_null(out);
    hs_fields_release(&v);
    fill(&v, (const char *[]){"family_name", "", NULL});
    OK(hs_mapping_side_value(cat, CRM, &v, &out));
    assert_null(out);
    OK(hs_mapping_side_value(cat, CRM, NULL, &out));
    assert_null(out);
    hs_fields_release(&v);
    hs_mapping_list_release(&l);
    hs_mapping_free(m);
}

static void test_mapping_one_way_flows_orient_transforms(void **state)
{
    (void)state;
    struct hs_config_pair pairs[] = {{S("a"), S("1")}, {S("b"), S("1")}};
    struct hs_config_mapping maps[] = {
        rule("display_name", "display_name", HS_CONFIG_TRANSFORM_TRIM),
        rule("custom.terms", "payment_terms", HS_CONFIG_TRANSFORM_MAP),
    };
    maps[1].map = pairs;
    maps[1].n_map = N(pairs);
    /* crm_to_accounting: a table that is not one-to-one is fine, it never goes back */
    struct hs_config_flow f = flow(HS_CONFIG_DIRECTION_CRM_TO_ACCOUNTING, maps, N(maps));
    struct hs_mapping *m = NULL;
    OK(hs_mapping_compile(&f, HS_KIND_CUSTOMER, NULL, NULL, &m, NULL));
    struct hs_mapping_list l;
    hs_mapping_list_init(&l);
    OK(hs_mapping_list(m, NULL, 0, &l));
    for (size_t i = 0; i < l.n_items; i++) {
        assert_true(l.items[i].to_accounting);
        assert_false(l.items[i].to_crm);
    }
    expect_conv(m, "custom.terms", HS_MAPPING_ACCOUNTING, "b", "1");
    char *out = NULL;
    assert_int_equal(conv(m, "custom.terms", HS_MAPPING_CRM, "1", &out, NULL), HS_EUNSUPPORTED);
    hs_mapping_list_release(&l);
    hs_mapping_free(m);

    /* accounting_to_crm: trim applies toward the crm */
    f = flow(HS_CONFIG_DIRECTION_ACCOUNTING_TO_CRM, maps, 1);
    OK(hs_mapping_compile(&f, HS_KIND_CUSTOMER, NULL, NULL, &m, NULL));
    expect_conv(m, "display_name", HS_MAPPING_CRM, " Acme ", "Acme");
    expect_conv(m, "display_name", HS_MAPPING_ACCOUNTING, " Acme ", " Acme ");
    hs_mapping_list_init(&l);
    OK(hs_mapping_list(m, NULL, 0, &l));
    assert_false(l.items[0].to_accounting);
    assert_true(l.items[0].to_crm);
    hs_mapping_list_release(&l);
    hs_mapping_free(m);
}

static void test_mapping_apply_whole_record_with_skips(void **state)
{
    (void)state;
    struct hs_config_pair pairs[] = {{S("Net 30"), S("3")}};
    struct hs_config_mapping maps[] = {
        rule("custom.terms", "payment_terms", HS_CONFIG_TRANSFORM_MAP),
        rule("display_name", "display_name", HS_CONFIG_TRANSFORM_TRIM),
    };
    maps[0].map = pairs;
    maps[0].n_map = 1;
    struct hs_config_flow f = flow(HS_CONFIG_DIRECTION_BOTH, maps, N(maps));
    struct hs_mapping *m = NULL;
    OK(hs_mapping_compile(&f, HS_KIND_CUSTOMER, NULL, NULL, &m, NULL));
    struct hs_fields src;
    fill(&src, (const char *[]){"custom.terms", "Net 90", "display_name", " Acme ", "email", "a@x",
                                "customer_ref", "7", NULL});
    struct hs_fields out;
    struct hs_fields skipped;
    hs_fields_init(&out);
    hs_fields_init(&skipped);
    OK(hs_mapping_apply(m, HS_MAPPING_ACCOUNTING, &src, &out, &skipped, NULL));
    assert_int_equal(hs_fields_count(&out), 2);
    assert_string_equal(hs_fields_get(&out, "display_name"), "Acme");
    assert_string_equal(hs_fields_get(&out, "email"), "a@x");
    assert_int_equal(hs_fields_count(&skipped), 1);
    assert_string_equal(hs_fields_get(&skipped, "custom.terms"),
                        "value 'Net 90' of crm 'custom.terms' is not in the map table");
    struct hs_error err = {0, ""};
    assert_int_equal(hs_mapping_apply(m, HS_MAPPING_ACCOUNTING, &src, &out, NULL, &err),
                     HS_ENOTFOUND);
    assert_int_equal(hs_fields_count(&out), 0);
    assert_string_equal(err.msg, "value 'Net 90' of crm 'custom.terms' is not in the map table");
    /* the other way: accounting -> crm */
    hs_fields_release(&src);
    fill(&src, (const char *[]){"payment_terms", "3", "display_name", " B ", NULL});
    OK(hs_mapping_apply(m, HS_MAPPING_CRM, &src, &out, NULL, NULL));
    assert_int_equal(hs_fields_count(&out), 2);
    assert_string_equal(hs_fields_get(&out, "custom.terms"), "Net 30");
    assert_string_equal(hs_fields_get(&out, "display_name"), " B ");
    hs_fields_release(&out);
    hs_fields_release(&skipped);
    hs_fields_release(&src);
    hs_mapping_free(m);
}

static void test_mapping_survives_every_failed_allocation(void **state)
{
    (void)state;
    struct hs_config_pair pairs[] = {{S("Net 30"), S("3")}, {S("Net 60"), S("4")}};
    char *rest[] = {S("family_name")};
    char *dflt[] = {S("USD")};
    struct hs_config_mapping maps[] = {
        rule("custom.terms", "payment_terms", HS_CONFIG_TRANSFORM_MAP),
        rule("given_name", "display_name", HS_CONFIG_TRANSFORM_CONCAT),
        rule("currency", "currency", HS_CONFIG_TRANSFORM_DEFAULT),
        rule("email", "email", HS_CONFIG_TRANSFORM_LOWER),
    };
    maps[0].map = pairs;
    maps[0].n_map = N(pairs);
    maps[1].args = rest;
    maps[1].n_args = 1;
    maps[2].args = dflt;
    maps[2].n_args = 1;
    struct hs_config_field_authority auth[] = {{S("phone"), HS_CONFIG_AUTHORITY_CRM, {0, 0}},
                                               {S("email"), HS_CONFIG_AUTHORITY_NEWEST, {0, 0}}};
    struct hs_config_flow f = flow(HS_CONFIG_DIRECTION_BOTH, maps, N(maps));
    f.authority = auth;
    f.n_authority = N(auth);
    struct hs_fields src;
    fill(&src, (const char *[]){"custom.terms", "Net 60", "given_name", "Ada", "family_name", "L",
                                "email", "A@X", "phone", "1", NULL});
    int n;
    for (n = 0;; n++) {
        struct hs_mapping *m = NULL;
        struct hs_fields out;
        hs_fields_init(&out);
        failalloc_arm(n);
        int rc = hs_mapping_compile(&f, HS_KIND_CUSTOMER, NULL, NULL, &m, NULL);
        if (rc == HS_OK)
            rc = hs_mapping_apply(m, HS_MAPPING_ACCOUNTING, &src, &out, NULL, NULL);
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_int_equal(hs_fields_count(&out), 6);
            assert_string_equal(hs_fields_get(&out, "currency"), "USD");
            assert_string_equal(hs_fields_get(&out, "payment_terms"), "4");
            assert_string_equal(hs_fields_get(&out, "display_name"), "Ada L");
            hs_fields_release(&out);
            hs_mapping_free(m);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_int_equal(hs_fields_count(&out), 0);
        hs_mapping_free(m);
    }
    assert_true(n > 10);
    hs_fields_release(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mapping_paths_valid_and_side_specific),
        cmocka_unit_test(test_mapping_default_is_identity_without_side_specific),
        cmocka_unit_test(test_mapping_rules_claim_paths_from_identity),
        cmocka_unit_test(test_mapping_resolver_translates_provider_names),
        cmocka_unit_test(test_mapping_compile_errors_are_clear),
        cmocka_unit_test(test_mapping_compile_file_places_errors_like_the_config_parser),
        cmocka_unit_test(test_mapping_transforms_both_ways),
        cmocka_unit_test(test_mapping_one_way_flows_orient_transforms),
        cmocka_unit_test(test_mapping_apply_whole_record_with_skips),
        cmocka_unit_test(test_mapping_survives_every_failed_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
