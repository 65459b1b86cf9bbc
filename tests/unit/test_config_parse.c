/*
 * tests/unit/test_config_parse.c - hoopsync.yaml parser: the example, defaults, every error
 *                                  class with its exact file:line:col message, caps and OOM.
 *
 * Design:     inputs are copied into buffers of exactly their length (no NUL terminator), so
 *             ASan catches any read past the end. Messages are compared whole: they are the
 *             user interface of `hoopsync config check`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "hoopsync/error.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"

/* Parses text (without its NUL) under the name "t.yaml". */
static int parse_text(const char *text, struct hs_config **out, struct hs_error *err)
{
    size_t len = strlen(text);
    uint8_t *buf = hs_malloc(len);
    assert_non_null(buf);
    memcpy(buf, text, len);
    int rc = hs_config_parse(buf, len, "t.yaml", out, err);
    hs_free(buf);
    return rc;
}

static char *example_path(void)
{
    const char *src = getenv("HS_SOURCE_DIR");
    char *p = hs_asprintf("%s/examples/hoopsync.yaml", src != NULL ? src : ".");
    assert_non_null(p);
    return p;
}

static void test_config_parse_example(void **state)
{
    (void)state;
    char *path = example_path();
    struct hs_config *cfg = NULL;
    struct hs_error err = {0};
    int rc = hs_config_load_file(path, &cfg, &err);
    if (rc != HS_OK)
        fail_msg("example does not parse: %s", err.msg);
    assert_int_equal(cfg->version, 1);
    assert_int_equal(cfg->store_kind, HS_CONFIG_STORE_SQLITE);
    /* relative to the config file's directory */
    char *dir = hs_strndup(path, (size_t)(strrchr(path, '/') - path));
    char *want_db = hs_asprintf("%s/hoopsync.db", dir);
    char *want_key = hs_asprintf("%s/hoopsync.key", dir);
    assert_string_equal(cfg->store, want_db);
    assert_string_equal(cfg->master_key_file, want_key);
    assert_int_equal(hs_config_n_connections(cfg), 2);
    assert_int_equal(cfg->crm.provider, HS_CONFIG_PROVIDER_HUBSPOT);
    assert_string_equal(cfg->crm.client_secret_env, "HUBSPOT_CLIENT_SECRET");
    /* no scopes: `hoopsync connect` asks for what hoopsync uses (net/oauth.c defaults) */
    assert_int_equal(cfg->crm.n_scopes, 0);
    assert_null(cfg->crm.base_url);
    assert_int_equal(cfg->accounting.provider, HS_CONFIG_PROVIDER_QUICKBOOKS);
    assert_int_equal(cfg->accounting.n_scopes, 0);
    assert_int_equal(cfg->n_flows, 4);

    const struct hs_config_flow *cu = hs_config_flow_find(cfg, "customers");
    assert_non_null(cu);
    assert_int_equal(cu->objects, HS_CONFIG_OBJECT_CUSTOMERS);
    assert_int_equal(cu->direction, HS_CONFIG_DIRECTION_BOTH);
    assert_false(cu->enforce);
    assert_int_equal(cu->n_mappings, 4);
    assert_string_equal(cu->mappings[1].crm, "email");
    assert_string_equal(cu->mappings[1].accounting, "PrimaryEmailAddr.Address");
    assert_int_equal(cu->mappings[1].transform, HS_CONFIG_TRANSFORM_LOWER);
    assert_int_equal(cu->mappings[2].transform, HS_CONFIG_TRANSFORM_NONE);
    assert_int_equal(cu->mappings[3].transform, HS_CONFIG_TRANSFORM_UPPER);
    assert_int_equal(cu->default_authority, HS_CONFIG_AUTHORITY_MANUAL);
    assert_int_equal(cu->n_authority, 4);
    assert_string_equal(cu->authority[1].field, "company_name");
    assert_int_equal(cu->authority[1].authority, HS_CONFIG_AUTHORITY_CRM);
    assert_int_not_equal(cu->authority[1].pos.line, 0);
    assert_int_equal(cu->match_link, 900000);
    assert_int_equal(cu->match_review, 600000);

    const struct hs_config_flow *inv = hs_config_flow_find(cfg, "invoices");
    assert_non_null(inv);
    assert_int_equal(inv->direction, HS_CONFIG_DIRECTION_CRM_TO_ACCOUNTING);
    assert_int_equal(inv->n_filters, 1);
    assert_string_equal(inv->filters[0].field, "dealstage");
    assert_int_equal(inv->filters[0].n_values, 1);
    assert_string_equal(inv->filters[0].values[0], "closedwon");
    assert_int_equal(inv->n_mappings, 0); /* refused on invoices flows */
    assert_int_equal(inv->invoicing.updates, HS_CONFIG_UPDATES_NEVER);
    assert_string_equal(inv->invoicing.default_currency, "USD");
    assert_true(inv->invoicing.present);
    assert_string_equal(inv->invoicing.default_item, "1");
    assert_string_equal(inv->invoicing.payment_terms, "Net 30");
    assert_int_equal(inv->invoicing.n_terms, 3);
    assert_int_equal(inv->invoicing.terms[1].due_days, 60);
    assert_int_equal(inv->invoicing.n_taxes, 2);
    assert_string_equal(inv->invoicing.taxes[0].code.code, "TAX");
    assert_int_equal(inv->invoicing.taxes[0].code.components[0].percent.v, 20000000);
    assert_int_equal(inv->invoicing.taxes[1].code.n_components, 0);
    assert_int_equal(inv->invoicing.utc_offset_minutes, 60);
    assert_string_equal(cfg->crm.settings,
                        "{\"closed_won_stages\":[\"closedwon\"],\"currency\":\"USD\"}");
    assert_string_equal(cfg->accounting.settings,
                        "{\"income_account\":\"1\",\"home_currency\":\"USD\"}");
    assert_null(hs_config_flow_find(cfg, "nope"));

    assert_int_equal(cfg->sync.interval_s, 300);
    assert_int_equal(cfg->sync.read_batch, 0); /* the providers' maximums */
    assert_int_equal(cfg->sync.write_batch, 0);
    hs_config_free(cfg);
    hs_free(want_key);
    hs_free(want_db);
    hs_free(dir);
    hs_free(path);
}

static void test_config_parse_defaults_and_paths(void **state)
{
    (void)state;
    struct hs_config *cfg = NULL;
    struct hs_error err = {0};
    const char *text = "version: 1\n";
    assert_int_equal(
        hs_config_parse((const uint8_t *)text, strlen(text), "conf/sub/x.yaml", &cfg, &err), HS_OK);
    assert_string_equal(cfg->store, "conf/sub/hoopsync.db");
    assert_string_equal(cfg->master_key_file, "conf/sub/hoopsync.key");
    assert_string_equal(cfg->path, "conf/sub/x.yaml");
    assert_int_equal(hs_config_n_connections(cfg), 0);
    assert_int_equal(cfg->n_flows, 0);
    assert_int_equal(cfg->sync.interval_s, 300);
    hs_config_free(cfg);

    text = "version: 1\nstore: sqlite:/var/lib/hs.db\nmaster_key_file: keys/k\n"
           "sync: {interval: 45, read_batch: 1000, write_batch: 1}\n";
    assert_int_equal(
        hs_config_parse((const uint8_t *)text, strlen(text), "/etc/hs/h.yaml", &cfg, &err), HS_OK);
    assert_string_equal(cfg->store, "/var/lib/hs.db");
    assert_string_equal(cfg->master_key_file, "/etc/hs/keys/k");
    assert_int_equal(cfg->sync.interval_s, 45);
    assert_int_equal(cfg->sync.read_batch, 1000);
    assert_int_equal(cfg->sync.write_batch, 1);
    hs_config_free(cfg);

    /* no directory part: relative to the current directory; null values mean "default" */
    assert_int_equal(parse_text("version: 1\nstore: postgres://hs@db/hoopsync\nsync:\n"
                                "  interval: 2h\nconnections:\n  crm: ~\n",
                                &cfg, &err),
                     HS_OK);
    assert_int_equal(cfg->store_kind, HS_CONFIG_STORE_POSTGRES);
    assert_string_equal(cfg->store, "postgres://hs@db/hoopsync");
    assert_string_equal(cfg->master_key_file, "hoopsync.key");
    assert_int_equal(cfg->sync.interval_s, 7200);
    assert_false(cfg->crm.present);
    hs_config_free(cfg);

    /* no name: messages and paths use "hoopsync.yaml" */
    text = "version: 1\nsync: {interval: '5m'}\n";
    assert_int_equal(hs_config_parse((const uint8_t *)text, strlen(text), NULL, &cfg, &err),
                     HS_EINVAL);
    assert_string_equal(err.msg, "hoopsync.yaml:2:18: invalid duration '5m' for 'interval' in "
                                 "'sync' (expected seconds, or a number with s, m, h or d, from "
                                 "10s to 86400s)");
    assert_null(cfg);
}

static void test_config_parse_flow_details(void **state)
{
    (void)state;
    struct hs_config *cfg = NULL;
    struct hs_error err = {0};
    int rc = parse_text("version: 1\n"
                        "connections:\n"
                        "  crm: {provider: hubspot, base_url: 'http://127.0.0.1:9/hubspot',"
                        " tenant_id: 123}\n"
                        "  accounting: {provider: zohobooks, scopes: [a, b c]}\n"
                        "flows:\n"
                        "  - name: Team-EU.invoices_2\n"
                        "    objects: customers\n"
                        "    direction: accounting_to_crm\n"
                        "    enforce: TRUE\n"
                        "    filter: {region: [EMEA, APAC], team: '7'}\n"
                        "    mappings:\n"
                        "      - {crm: first, accounting: Name, transform: concat, args: [last]}\n"
                        "    authority: {default: newest, Name: crm}\n"
                        "    matching: {link: 1, review: 0.000001}\n",
                        &cfg, &err);
    if (rc != HS_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg->crm.provider, HS_CONFIG_PROVIDER_HUBSPOT);
    assert_string_equal(cfg->crm.base_url, "http://127.0.0.1:9/hubspot");
    assert_string_equal(cfg->crm.tenant_id, "123");
    assert_int_equal(cfg->accounting.provider, HS_CONFIG_PROVIDER_ZOHOBOOKS);
    assert_int_equal(cfg->accounting.n_scopes, 2);
    assert_string_equal(cfg->accounting.scopes[1], "b c");
    const struct hs_config_flow *f = &cfg->flows[0];
    assert_string_equal(f->name, "Team-EU.invoices_2");
    assert_int_equal(f->pos.line, 6);
    assert_int_equal(f->pos.col, 5);
    assert_int_equal(f->objects, HS_CONFIG_OBJECT_CUSTOMERS);
    assert_int_equal(f->direction, HS_CONFIG_DIRECTION_ACCOUNTING_TO_CRM);
    assert_true(f->enforce);
    assert_int_equal(f->n_filters, 2);
    assert_int_equal(f->filters[0].n_values, 2);
    assert_string_equal(f->filters[0].values[1], "APAC");
    assert_string_equal(f->filters[1].values[0], "7");
    assert_int_equal(f->mappings[0].transform, HS_CONFIG_TRANSFORM_CONCAT);
    assert_int_equal(f->mappings[0].pos.line, 12);
    assert_string_equal(f->mappings[0].args[0], "last");
    assert_int_equal(f->default_authority, HS_CONFIG_AUTHORITY_NEWEST);
    assert_int_equal(f->n_authority, 1);
    assert_int_equal(f->authority[0].authority, HS_CONFIG_AUTHORITY_CRM);
    assert_int_equal(f->match_link, HS_CONFIG_THRESHOLD_ONE);
    assert_int_equal(f->match_review, 1);
    assert_string_equal(hs_config_provider_name(cfg->crm.provider), "hubspot");
    assert_string_equal(hs_config_object_name(f->objects), "customers");
    assert_string_equal(hs_config_object_name(HS_CONFIG_OBJECT_PAYMENTS), "payments");
    assert_string_equal(hs_config_direction_name(f->direction), "accounting_to_crm");
    assert_string_equal(hs_config_transform_name(f->mappings[0].transform), "concat");
    assert_string_equal(hs_config_authority_name(f->default_authority), "newest");
    hs_config_free(cfg);
}

struct error_case {
    const char *text;
    int code;
    const char *msg;
};

#define CONNS                                                                                      \
    "version: 1\nconnections:\n  crm:\n    provider: hubspot\n  accounting:\n"                     \
    "    provider: quickbooks\n"
#define FLOW CONNS "flows:\n  - name: customers\n    objects: customers\n" /* next is line 10 */

static const struct error_case error_cases[] = {
    /* enforce on a two-way flow would silently do nothing */
    {FLOW "    enforce: true\n", HS_EINVAL,
     "t.yaml:10:14: 'enforce: true' in flow 'customers' has no effect: it applies to one-way "
     "flows (crm_to_accounting or accounting_to_crm), and this flow syncs both ways"},
    /* unknown keys */
    {FLOW "    directon: both\n", HS_EINVAL,
     "t.yaml:10:5: unknown key 'directon' in flow 'customers' (expected one of: name, objects, "
     "direction, enforce, filter, mappings, authority, matching, invoicing)"},
    {CONNS "flows:\n  - directon: both\n    name: customers\n", HS_EINVAL,
     "t.yaml:8:5: unknown key 'directon' in flow 'customers' (expected one of: name, objects, "
     "direction, enforce, filter, mappings, authority, matching, invoicing)"},
    {"version: 1\nflow: []\n", HS_EINVAL,
     "t.yaml:2:1: unknown key 'flow' at top level (expected one of: version, store, "
     "master_key_file, connections, flows, sync)"},
    {"version: 1\nconnections:\n  crm:\n    provider: hubspot\n    secret: x\n", HS_EINVAL,
     "t.yaml:5:5: unknown key 'secret' in connection 'crm' (expected one of: provider, base_url, "
     "client_id, client_secret_env, redirect_uri, scopes, tenant_id, settings)"},
    {"version: 1\nsync: {intervall: 5m}\n", HS_EINVAL,
     "t.yaml:2:8: unknown key 'intervall' in 'sync' (expected one of: interval, read_batch, "
     "write_batch)"},
    /* wrong types */
    {FLOW "    mappings: email\n", HS_EINVAL,
     "t.yaml:10:15: 'mappings' in flow 'customers' must be a list, got a string"},
    {"version: 1\nconnections: [crm]\n", HS_EINVAL,
     "t.yaml:2:14: 'connections' at top level must be a mapping, got a list"},
    {FLOW "    objects: [customers]\n", HS_EINVAL,
     "t.yaml:10:5: duplicate key 'objects' in flow 'customers' (first defined at line 9)"},
    {"version: 1\nflows:\n  - name: [a]\n", HS_EINVAL,
     "t.yaml:3:11: 'name' in flow 1 must be a string, got a list"},
    {"version: '1'\n", HS_EINVAL,
     "t.yaml:1:10: invalid value '1' for 'version' at top level (expected an integer from 0 to "
     "1000000)"},
    {FLOW "    enforce: yes\n", HS_EINVAL,
     "t.yaml:10:14: invalid value 'yes' for 'enforce' in flow 'customers' (expected true or "
     "false)"},
    {"version: 1\nsync:\n  read_batch: 0\n", HS_EINVAL,
     "t.yaml:3:15: invalid value '0' for 'read_batch' in 'sync' (expected an integer from 1 to "
     "1000)"},
    {"version: 1\nsync:\n  interval: 5x\n", HS_EINVAL,
     "t.yaml:3:13: invalid duration '5x' for 'interval' in 'sync' (expected seconds, or a number "
     "with s, m, h or d, from 10s to 86400s)"},
    {FLOW "    mappings:\n      - email\n", HS_EINVAL,
     "t.yaml:11:9: each entry of 'mappings' in flow 'customers' must be a mapping with 'crm' and "
     "'accounting', got a string"},
    /* filter values are compared trimmed: a blank one could never match */
    {FLOW "    filter: {region: \"  \"}\n", HS_EINVAL,
     "t.yaml:10:22: blank value for 'region' in 'filter' of flow 'customers' (values are compared "
     "without surrounding blanks, and a record whose field is empty is in no filter)"},
    {FLOW "    filter:\n      region: [EMEA, ' ']\n", HS_EINVAL,
     "t.yaml:11:22: blank value for 'region' in 'filter' of flow 'customers' (values are compared "
     "without surrounding blanks, and a record whose field is empty is in no filter)"},
    /* enum values */
    {FLOW "    direction: bth\n", HS_EINVAL,
     "t.yaml:10:16: invalid direction 'bth' in flow 'customers' (expected one of: both, "
     "crm_to_accounting, accounting_to_crm)"},
    {CONNS "flows:\n  - name: c\n    objects: deals\n", HS_EINVAL,
     "t.yaml:9:14: invalid objects 'deals' in flow 'c' (expected one of: customers, items, "
     "invoices, payments)"},
    {"version: 1\nconnections:\n  crm:\n    provider: salesforce\n", HS_EINVAL,
     "t.yaml:4:15: invalid provider 'salesforce' in connection 'crm' (expected one of: hubspot, "
     "highlevel, quickbooks, xero, zohobooks)"},
    {"version: 1\nconnections:\n  crm:\n    provider: xero\n", HS_EINVAL,
     "t.yaml:4:15: provider 'xero' cannot be the crm connection (expected one of: hubspot)"},
    {"version: 1\nconnections:\n  crm:\n    provider: highlevel\n", HS_EUNSUPPORTED,
     "t.yaml:4:15: provider 'highlevel' is not supported yet (the crm connection can be: "
     "hubspot)"},
    {"version: 1\nconnections:\n  accounting: {provider: hubspot}\n", HS_EINVAL,
     "t.yaml:3:26: provider 'hubspot' cannot be the accounting connection (expected one of: "
     "quickbooks, xero, zohobooks)"},
    {FLOW "    mappings:\n      - {crm: a, accounting: b, transform: camel}\n", HS_EINVAL,
     "t.yaml:11:44: invalid transform 'camel' in mapping 1 of flow 'customers' (expected one of: "
     "trim, upper, lower, map, concat, default)"},
    {FLOW "    authority: {email: crm, name: owner}\n", HS_EINVAL,
     "t.yaml:10:35: invalid authority 'owner' for field 'name' in 'authority' of flow 'customers' "
     "(expected one of: "
     "manual, crm, accounting, newest)"},
    /* duplicates */
    {FLOW "    objects: items\n", HS_EINVAL,
     "t.yaml:10:5: duplicate key 'objects' in flow 'customers' (first defined at line 9)"},
    {"version: 1\nversion: 1\n", HS_EINVAL,
     "t.yaml:2:1: duplicate key 'version' at top level (first defined at line 1)"},
    {FLOW "    authority:\n      email: crm\n      default: crm\n      email: accounting\n",
     HS_EINVAL,
     "t.yaml:13:7: duplicate key 'email' in 'authority' of flow 'customers' (first defined at "
     "line 11)"},
    {FLOW "  - name: customers\n    objects: items\n", HS_EINVAL,
     "t.yaml:10:5: duplicate flow name 'customers' (first defined at line 8)"},
    /* missing required keys */
    {CONNS "flows:\n  - name: customers\n    direction: both\n", HS_EINVAL,
     "t.yaml:8:5: missing required key 'objects' in flow 'customers'"},
    {"store: sqlite:x.db\n", HS_EINVAL, "t.yaml:1:1: missing required key 'version' at top level"},
    {FLOW "    mappings:\n      - crm: email\n", HS_EINVAL,
     "t.yaml:11:9: missing required key 'accounting' in mapping 1 of flow 'customers'"},
    {"version: 1\nconnections:\n  crm:\n    provider:\n    client_id: x\n", HS_EINVAL,
     "t.yaml:4:14: missing value for 'provider' in connection 'crm'"},
    {"version: 1\nflows:\n  - name: c\n    objects: customers\n", HS_EINVAL,
     "t.yaml:3:5: flow 'c' needs both connections (missing 'crm' in 'connections')"},
    /* values */
    {"version: 1\nconnections:\n  crm:\n    provider: hubspot\n    client_secret: abc\n", HS_EINVAL,
     "t.yaml:5:5: inline 'client_secret' in connection 'crm' is not allowed (put the secret in an "
     "environment variable and name it with 'client_secret_env')"},
    {"version: 1\nconnections:\n  crm:\n    provider: hubspot\n    client_secret_env: s3cr3t!\n",
     HS_EINVAL,
     "t.yaml:5:24: invalid 'client_secret_env' in connection 'crm' (expected the name of an "
     "environment variable, such as HUBSPOT_CLIENT_SECRET)"},
    {"version: 1\nconnections:\n  crm:\n    provider: hubspot\n    base_url: ftp://x\n", HS_EINVAL,
     "t.yaml:5:15: invalid URL 'ftp://x' for 'base_url' in connection 'crm' (expected "
     "http://HOST... or https://HOST...)"},
    /* redirect_uri: what `hoopsync connect` can listen on (a loopback port), nothing else */
    {"version: 1\nconnections:\n  crm:\n    provider: hubspot\n"
     "    redirect_uri: https://example.com/cb\n",
     HS_EINVAL,
     "t.yaml:5:19: invalid redirect_uri 'https://example.com/cb' in connection 'crm' (expected "
     "http://127.0.0.1:PORT/path or http://localhost:PORT/path: 'hoopsync connect' receives the "
     "consent redirect on this machine)"},
    {"version: 1\nconnections:\n  accounting:\n    provider: xero\n"
     "    redirect_uri: http://localhost/cb\n",
     HS_EINVAL,
     "t.yaml:5:19: invalid redirect_uri 'http://localhost/cb' in connection 'accounting' "
     "(expected http://127.0.0.1:PORT/path or http://localhost:PORT/path: 'hoopsync connect' "
     "receives the consent redirect on this machine)"},
    /* keys an invoices or payments flow would ignore */
    {CONNS "flows:\n  - name: invoices\n    objects: invoices\n"
           "    mappings: [{crm: dealname, accounting: PrivateNote}]\n",
     HS_EINVAL,
     "t.yaml:10:5: 'mappings' in flow 'invoices' would be ignored on an 'objects: invoices' flow: "
     "invoices are built from their deals; use 'invoicing' (default_currency, default_item, "
     "payment_terms, taxes)"},
    {CONNS "flows:\n  - name: invoices\n    authority: {default: crm}\n    objects: invoices\n",
     HS_EINVAL,
     "t.yaml:9:5: 'authority' in flow 'invoices' would be ignored on an 'objects: invoices' flow: "
     "invoices are built from their deals; 'invoice_updates' in 'invoicing' says what a deal "
     "edit may change"},
    {CONNS "flows:\n  - name: p\n    objects: payments\n    mappings: []\n", HS_EINVAL,
     "t.yaml:10:5: 'mappings' in flow 'p' would be ignored on an 'objects: payments' flow: "
     "payment status is written to the deals as it is (hoopsync_payment_status, amounts paid and "
     "due)"},
    {CONNS "flows:\n  - name: p\n    objects: payments\n    matching: {link: 0.9}\n", HS_EINVAL,
     "t.yaml:10:5: 'matching' in flow 'p' would be ignored on an 'objects: payments' flow: "
     "payments reach the deals through their invoices, nothing is matched"},
    {CONNS "flows:\n  - name: p\n    objects: payments\n    filter: {pipeline: default}\n",
     HS_EINVAL,
     "t.yaml:10:5: 'filter' in flow 'p' would be ignored on an 'objects: payments' flow: payment "
     "status follows every invoice hoopsync made; to choose the deals, put the filter on the "
     "invoices flow"},
    {"version: 1\nstore: hoopsync.db\n", HS_EINVAL,
     "t.yaml:2:8: invalid store 'hoopsync.db' (expected sqlite:PATH or postgres://USER@HOST/DB)"},
    {"version: 2\n", HS_EUNSUPPORTED, "t.yaml:1:10: unsupported config version 2 (expected 1)"},
    {FLOW "    matching: {link: 1.5}\n", HS_EINVAL,
     "t.yaml:10:22: invalid value '1.5' for 'link' in 'matching' of flow 'customers' (expected a "
     "number from 0 to 1, at most 6 decimals)"},
    {FLOW "    matching: {link: 0.5, review: 0.7}\n", HS_EINVAL,
     "t.yaml:10:35: 'review' threshold in 'matching' of flow 'customers' is above the 'link' "
     "threshold (expected review <= link)"},
    {FLOW "    matching: {review: 0.95}\n", HS_EINVAL,
     "t.yaml:10:24: 'review' threshold in 'matching' of flow 'customers' is above the 'link' "
     "threshold (expected review <= link)"},
    {CONNS "flows:\n  - name: 'a b'\n    objects: items\n", HS_EINVAL,
     "t.yaml:8:11: invalid flow name 'a b' (expected up to 64 letters, digits, '_', '-' or '.')"},
    {FLOW "    mappings:\n      - {crm: a, accounting: b, transform: trim, args: [x]}\n", HS_EINVAL,
     "t.yaml:11:50: 'args' in mapping 1 of flow 'customers' is not used by transform "
     "'trim'"},
    {FLOW "    mappings:\n      - {crm: a, accounting: b, args: x}\n", HS_EINVAL,
     "t.yaml:11:33: 'args' in mapping 1 of flow 'customers' is not used by transform 'none'"},
    {FLOW "    mappings:\n      - {crm: a, accounting: b, transform: map}\n", HS_EINVAL,
     "t.yaml:11:9: missing required key 'args' in mapping 1 of flow 'customers' (transform "
     "'map' needs a table of values)"},
    {FLOW "    mappings:\n      - {crm: a, accounting: b, transform: map, args: [x]}\n", HS_EINVAL,
     "t.yaml:11:55: 'args' in mapping 1 of flow 'customers' must be a mapping of values for "
     "transform 'map' (such as {Net 30: NET30}), got a list"},
    {FLOW "    mappings:\n      - {crm: a, accounting: b, transform: default, args: [x, y]}\n",
     HS_EINVAL,
     "t.yaml:11:59: 'args' in mapping 1 of flow 'customers' must be one value for transform "
     "'default', got 2"},
    /* YAML syntax, structure and caps */
    {"version: 1\nflows: [a, b\n", HS_EINVAL,
     "t.yaml:3:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence "
     "at line 2)"},
    {"version: 1\n\tstore: x\n", HS_EINVAL,
     "t.yaml:2:1: invalid YAML: found a tab character that violates indentation (while "
     "scanning a plain scalar at line 1)"},
    {"version: 1\nstore: \xff\n", HS_EINVAL,
     "t.yaml:2:8: invalid YAML: invalid leading UTF-8 octet (byte 0xff)"},
    {"version: &v 1\nsync:\n  read_batch: *v\n", HS_EINVAL,
     "t.yaml:3:15: aliases ('*name') are not supported in the configuration"},
    {"version: 1\n---\nversion: 1\n", HS_EINVAL,
     "t.yaml:2:1: more than one YAML document (expected exactly one)"},
    {"version: 1\n? [a]\n: b\n", HS_EINVAL, "t.yaml:2:3: mapping keys must be plain strings"},
    {"version: 1\nstore: \"sqlite:a\\0b\"\n", HS_EINVAL,
     "t.yaml:2:8: value contains a NUL character"},
    {"", HS_EINVAL,
     "t.yaml:1:1: empty configuration (expected a mapping with at least "
     "'version: 1')"},
    {"# only a comment\n", HS_EINVAL,
     "t.yaml:1:1: empty configuration (expected a mapping with "
     "at least 'version: 1')"},
    {"- version: 1\n", HS_EINVAL,
     "t.yaml:1:1: the configuration must be a mapping of keys (version, store, connections, "
     "flows, ...), got a list"},
};

static void test_config_parse_errors_name_line_and_column(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        const struct error_case *ec = &error_cases[i];
        struct hs_config *cfg = (struct hs_config *)&cfg; /* must be reset to NULL */
        struct hs_error err = {0};
        int rc = parse_text(ec->text, &cfg, &err);
        if (rc != ec->code || strcmp(err.msg, ec->msg) != 0 || cfg != NULL) {
            print_error("case %zu: rc %d (want %d)\n  got:  %s\n  want: %s\n", i, rc, ec->code,
                        err.msg, ec->msg);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

static void test_config_parse_enforces_caps(void **state)
{
    (void)state;
    struct hs_config *cfg = NULL;
    struct hs_error err = {0};
    /* nesting */
    char deep[200];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof deep, "version: 1\nx: ");
    for (int i = 0; i < 40; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    assert_int_equal(parse_text(deep, &cfg, &err), HS_ETOOBIG);
    assert_string_equal(err.msg, "t.yaml:2:35: nesting is deeper than 32 levels");
    assert_null(cfg);

    /* node count */
    size_t cap = 20 + 2 * (HS_CONFIG_MAX_NODES + 10);
    char *many = hs_malloc(cap);
    assert_non_null(many);
    n = (size_t)snprintf(many, cap, "version: 1\nx: [");
    for (int i = 0; i < HS_CONFIG_MAX_NODES + 5; i++) {
        many[n++] = '0';
        many[n++] = ',';
    }
    many[n++] = ']';
    many[n] = '\0';
    assert_int_equal(parse_text(many, &cfg, &err), HS_ETOOBIG);
    assert_non_null(strstr(err.msg, "document has too many nodes (limit 50000)"));
    hs_free(many);

    /* document size, checked before parsing anything */
    size_t big = HS_CONFIG_MAX_BYTES + 1;
    uint8_t *buf = hs_malloc(big);
    assert_non_null(buf);
    memset(buf, '#', big);
    assert_int_equal(hs_config_parse(buf, big, "big.yaml", &cfg, &err), HS_ETOOBIG);
    assert_string_equal(err.msg, "config 'big.yaml' is too large (1048577 bytes, limit 1048576)");
    assert_null(cfg);
    hs_free(buf);

    /* a hostile mapping of many equal keys stays fast and names the first repeat */
    cap = 64 + 5 * 20000;
    many = hs_malloc(cap);
    assert_non_null(many);
    n = (size_t)snprintf(many, cap, "version: 1\nx: {");
    for (int i = 0; i < 20000; i++) {
        memcpy(many + n, "a: 1,", 5);
        n += 5;
    }
    many[n++] = '}';
    many[n] = '\0';
    assert_int_equal(parse_text(many, &cfg, &err), HS_EINVAL);
    assert_string_equal(err.msg,
                        "t.yaml:2:1: unknown key 'x' at top level (expected one of: version, "
                        "store, master_key_file, connections, flows, sync)");
    hs_free(many);
}

static void test_config_load_file_reports_missing_and_reads_files(void **state)
{
    (void)state;
    struct hs_config *cfg = NULL;
    struct hs_error err = {0};
    assert_int_equal(hs_config_load_file("/nonexistent/dir/hoopsync.yaml", &cfg, &err),
                     HS_ENOTFOUND);
    assert_string_equal(err.msg, "cannot read config '/nonexistent/dir/hoopsync.yaml': No such "
                                 "file or directory");
    assert_null(cfg);

    char path[] = "/tmp/hs_config_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "version: 1\nsync:\n  interval: 1d\n  bogus: 1\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(hs_config_load_file(path, &cfg, &err), HS_EINVAL);
    char want[512];
    snprintf(want, sizeof want,
             "%s:4:3: unknown key 'bogus' in 'sync' (expected one of: interval, read_batch, "
             "write_batch)",
             path);
    assert_string_equal(err.msg, want);
    unlink(path);

    assert_int_equal(hs_config_load_file("/tmp", &cfg, &err), HS_EIO);
    assert_string_equal(err.msg, "cannot read config '/tmp': Is a directory");
}

static void test_config_parse_survives_every_failed_allocation(void **state)
{
    (void)state;
    char *path = example_path();
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t buf[8192];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(len > 0 && len < sizeof buf);
    int n;
    for (n = 0;; n++) {
        struct hs_config *cfg = NULL;
        struct hs_error err = {0};
        failalloc_arm(n);
        int rc = hs_config_parse(buf, len, "x/hoopsync.yaml", &cfg, &err);
        bool tripped = failalloc_tripped();
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_false(tripped);
            assert_int_equal(cfg->n_flows, 4);
            hs_config_free(cfg);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_null(cfg);
        assert_string_equal(err.msg, "cannot load config 'x/hoopsync.yaml': out of memory");
    }
    assert_true(n > 100); /* the loop really went through the parser's allocations */
    hs_free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_parse_example),
        cmocka_unit_test(test_config_parse_defaults_and_paths),
        cmocka_unit_test(test_config_parse_flow_details),
        cmocka_unit_test(test_config_parse_errors_name_line_and_column),
        cmocka_unit_test(test_config_parse_enforces_caps),
        cmocka_unit_test(test_config_load_file_reports_missing_and_reads_files),
        cmocka_unit_test(test_config_parse_survives_every_failed_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
