/*
 * tests/unit/test_config_invoicing.c - hoopsync.yaml: connection `settings:` and the
 *                                      `invoicing:` block of an `objects: invoices` flow.
 *
 * Design:     every key of both is parsed from one document and read back (settings as the
 *             JSON text the CLI merges, typed as documented; percentages as exact decimals);
 *             defaults are checked on a flow without the block; each error class is one row
 *             with its whole "file:line:col: what" message (the user interface of
 *             `hoopsync config check`); the full document is parsed under every failed
 *             allocation. Inputs are copied into buffers of exactly their length, so ASan
 *             catches any read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "core/tax.h"
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

#define CONNS                                                                                      \
    "version: 1\nconnections:\n  crm:\n    provider: hubspot\n  accounting:\n"                     \
    "    provider: quickbooks\n"
/* an invoices flow; the next line of text is line 10 */
#define INV CONNS "flows:\n  - name: invoices\n    objects: invoices\n"
/* ... with an invoicing block; the next line is line 11, indented by 6 */
#define INVB INV "    invoicing:\n"

static const char full_text[] =
    "version: 1\n"
    "connections:\n"
    "  crm:\n"
    "    provider: hubspot\n"
    "    settings:\n"
    "      closed_won_stages: [closedwon, 'signed']\n"
    "      currency: USD\n"
    "      pipeline: \"42\"\n"
    "      limit: 25\n"
    "      negative: -3\n"
    "      ratio: 1.5\n"
    "      enabled: true\n"
    "      off: False\n"
    "      nothing: ~\n"
    "      quoted_true: 'true'\n"
    "      nested: {a: {b: [1, x]}}\n"
    "  accounting:\n"
    "    provider: quickbooks\n"
    "    settings: {income_account: \"79\", home_currency: USD}\n"
    "flows:\n"
    "  - name: Invoices-EU\n"
    "    objects: invoices\n"
    "    direction: crm_to_accounting\n"
    "    filter:\n"
    "      dealstage: [closedwon, signed]\n"
    "      region: EMEA\n"
    "    invoicing:\n"
    "      default_item: \"1\"\n"
    "      payment_terms: net 30\n"
    "      terms: {\"Net 30\": 30, \"Net 60\": 60, \"Due on receipt\": 0, Long: 3650}\n"
    "      tax_mode: inclusive\n"
    "      taxes:\n"
    "        \"VAT 20%\": {code: \"TAX\", rates: [{id: \"3\", percent: \"20\"}]}\n"
    "        CA sales tax:\n"
    "          code: CA\n"
    "          rates:\n"
    "            - {id: '7', percent: 7.25}\n"
    "            - {id: '8', percent: '1.000000'}\n"
    "        \"Exempt\": {code: NON}\n"
    "        Unnamed rate: {code: X, rates: [{percent: 0.000001}]}\n"
    "      untaxed_code: NON\n"
    "      default_currency: EUR\n"
    "      utc_offset: \"-09:30\"\n"
    "      invoice_updates: draft_only\n"
    "  - name: payments\n"
    "    objects: payments\n"
    "    direction: accounting_to_crm\n";

static void test_config_invoicing_parses_every_key(void **state)
{
    (void)state;
    struct hs_config *cfg = NULL;
    struct hs_error err = {0};
    if (parse_text(full_text, &cfg, &err) != HS_OK)
        fail_msg("%s", err.msg);

    /* settings: JSON object text, typed as documented, file order kept */
    assert_non_null(cfg->crm.settings);
    assert_string_equal(cfg->crm.settings,
                        "{\"closed_won_stages\":[\"closedwon\",\"signed\"],\"currency\":\"USD\","
                        "\"pipeline\":\"42\",\"limit\":25,\"negative\":-3,\"ratio\":\"1.5\","
                        "\"enabled\":true,\"off\":false,\"nothing\":null,\"quoted_true\":"
                        "\"true\",\"nested\":{\"a\":{\"b\":[1,\"x\"]}}}");
    assert_string_equal(cfg->accounting.settings,
                        "{\"income_account\":\"79\",\"home_currency\":\"USD\"}");

    const struct hs_config_flow *f = hs_config_flow_find(cfg, "Invoices-EU");
    assert_non_null(f);
    assert_int_equal(f->direction, HS_CONFIG_DIRECTION_CRM_TO_ACCOUNTING);
    const struct hs_config_invoicing *iv = &f->invoicing;
    assert_true(iv->present);
    assert_int_equal(iv->pos.line, 28);
    assert_int_equal(iv->pos.col, 7);
    assert_string_equal(iv->default_item, "1");
    assert_string_equal(iv->payment_terms, "net 30"); /* matched without case */
    assert_int_equal(iv->n_terms, 4);
    assert_string_equal(iv->terms[0].name, "Net 30");
    assert_int_equal(iv->terms[0].due_days, 30);
    assert_string_equal(iv->terms[2].name, "Due on receipt");
    assert_int_equal(iv->terms[2].due_days, 0);
    assert_int_equal(iv->terms[3].due_days, 3650);
    assert_int_equal(iv->tax_mode, HS_CONFIG_TAX_INCLUSIVE);
    assert_string_equal(hs_config_tax_mode_name(iv->tax_mode), "inclusive");

    assert_int_equal(iv->n_taxes, 4);
    assert_string_equal(iv->taxes[0].label, "VAT 20%");
    assert_int_equal(iv->taxes[0].pos.line, 33);
    assert_string_equal(iv->taxes[0].code.code, "TAX");
    assert_int_equal(iv->taxes[0].code.n_components, 1);
    assert_string_equal(iv->taxes[0].code.components[0].rate_ref, "3");
    assert_int_equal(iv->taxes[0].code.components[0].percent.v, 20000000);
    assert_string_equal(iv->taxes[1].label, "CA sales tax");
    assert_string_equal(iv->taxes[1].code.code, "CA");
    assert_int_equal(iv->taxes[1].code.n_components, 2);
    assert_string_equal(iv->taxes[1].code.components[1].rate_ref, "8");
    assert_int_equal(iv->taxes[1].code.components[0].percent.v, 7250000);
    assert_int_equal(iv->taxes[1].code.components[1].percent.v, 1000000);
    assert_int_equal(hs_tax_code_rate(&iv->taxes[1].code).v, 8250000);
    assert_string_equal(iv->taxes[2].code.code, "NON");
    assert_int_equal(iv->taxes[2].code.n_components, 0);
    assert_string_equal(iv->taxes[3].code.components[0].rate_ref, ""); /* no id */
    assert_int_equal(iv->taxes[3].code.components[0].percent.v, 1);

    assert_string_equal(iv->untaxed_code, "NON");
    assert_string_equal(iv->default_currency, "EUR");
    assert_int_equal(iv->utc_offset_minutes, -(9 * 60 + 30));
    assert_int_equal(iv->updates, HS_CONFIG_UPDATES_DRAFT_ONLY);
    assert_string_equal(hs_config_invoice_updates_name(iv->updates), "draft_only");

    /* every tax entry is ready for the tax map as is */
    struct hs_tax_map *map = NULL;
    assert_int_equal(hs_tax_map_new(&map), HS_OK);
    for (size_t i = 0; i < iv->n_taxes; i++)
        assert_int_equal(hs_tax_map_add(map, iv->taxes[i].label, &iv->taxes[i].code, &err), HS_OK);
    assert_string_equal(hs_tax_map_find(map, " vat 20% ")->code, "TAX");
    hs_tax_map_free(map);

    const struct hs_config_flow *p = hs_config_flow_find(cfg, "payments");
    assert_false(p->invoicing.present);
    hs_config_free(cfg);
}

static void test_config_invoicing_defaults(void **state)
{
    (void)state;
    struct hs_config *cfg = NULL;
    struct hs_error err = {0};
    /* no direction: an invoices flow is crm_to_accounting; no block: every default */
    if (parse_text(INV "    invoicing: ~\n", &cfg, &err) != HS_OK)
        fail_msg("%s", err.msg);
    const struct hs_config_flow *f = &cfg->flows[0];
    assert_int_equal(f->direction, HS_CONFIG_DIRECTION_CRM_TO_ACCOUNTING);
    assert_false(f->invoicing.present);
    assert_null(f->invoicing.default_item);
    assert_null(f->invoicing.payment_terms);
    assert_int_equal(f->invoicing.n_terms, 0);
    assert_int_equal(f->invoicing.n_taxes, 0);
    assert_int_equal(f->invoicing.tax_mode, HS_CONFIG_TAX_EXCLUSIVE);
    assert_int_equal(f->invoicing.utc_offset_minutes, 0);
    assert_int_equal(f->invoicing.updates, HS_CONFIG_UPDATES_NEVER);
    assert_null(cfg->crm.settings);
    assert_null(cfg->accounting.settings);
    hs_config_free(cfg);

    /* an empty block is present, with the same defaults; +14:00 and -12:00 are the bounds;
     * `updates` is still read as the older spelling of invoice_updates */
    assert_int_equal(parse_text(INVB "      utc_offset: +14:00\n      tax_mode: none\n"
                                     "      updates: unpaid\n",
                                &cfg, &err),
                     HS_OK);
    assert_true(cfg->flows[0].invoicing.present);
    assert_int_equal(cfg->flows[0].invoicing.utc_offset_minutes, 14 * 60);
    assert_int_equal(cfg->flows[0].invoicing.tax_mode, HS_CONFIG_TAX_NONE);
    assert_int_equal(cfg->flows[0].invoicing.updates, HS_CONFIG_UPDATES_UNPAID);
    hs_config_free(cfg);
    assert_int_equal(parse_text(INVB "      utc_offset: '-12:00'\n", &cfg, &err), HS_OK);
    assert_int_equal(cfg->flows[0].invoicing.utc_offset_minutes, -12 * 60);
    hs_config_free(cfg);
}

struct error_case {
    const char *text;
    int code;
    const char *msg;
};

static const struct error_case error_cases[] = {
    /* settings */
    {CONNS "    settings: [a]\n", HS_EINVAL,
     "t.yaml:7:15: 'settings' in connection 'accounting' must be a mapping of provider settings, "
     "got a list"},
    {CONNS "    settings: {a: {b: 1, b: 2}}\n", HS_EINVAL,
     "t.yaml:7:26: duplicate key 'b' in 'settings' in connection 'accounting' (first defined at "
     "line 7)"},
    /* where the block may be, and the invoices flow's direction */
    {CONNS "flows:\n  - name: c\n    objects: customers\n    invoicing: {default_item: '1'}\n",
     HS_EINVAL,
     "t.yaml:10:5: 'invoicing' in flow 'c' is only allowed on an 'objects: invoices' flow (this "
     "flow has objects: customers)"},
    {CONNS "flows:\n  - name: i\n    invoicing: {}\n    objects: payments\n", HS_EINVAL,
     "t.yaml:9:5: 'invoicing' in flow 'i' is only allowed on an 'objects: invoices' flow (this "
     "flow has objects: payments)"},
    {INV "    direction: both\n", HS_EINVAL,
     "t.yaml:10:16: invalid direction 'both' for flow 'invoices' (an 'objects: invoices' flow is "
     "always crm_to_accounting: closed-won deals become invoices)"},
    {INV "    direction: accounting_to_crm\n    invoicing: {}\n", HS_EINVAL,
     "t.yaml:10:16: invalid direction 'accounting_to_crm' for flow 'invoices' (an 'objects: "
     "invoices' flow is always crm_to_accounting: closed-won deals become invoices)"},
    {INV "  - name: more\n    objects: invoices\n", HS_EINVAL,
     "t.yaml:10:5: second 'objects: invoices' flow 'more' (flow 'invoices' at line 8 already "
     "invoices closed-won deals; one invoices flow is allowed)"},
    /* keys and types */
    {INVB "      default_itme: '1'\n", HS_EINVAL,
     "t.yaml:11:7: unknown key 'default_itme' in 'invoicing' of flow 'invoices' (expected one "
     "of: default_item, payment_terms, terms, tax_mode, taxes, untaxed_code, default_currency, "
     "utc_offset, invoice_updates)"},
    {INV "    invoicing: [a]\n", HS_EINVAL,
     "t.yaml:10:16: 'invoicing' in flow 'invoices' must be a mapping, got a list"},
    {INVB "      default_item: {id: 1}\n", HS_EINVAL,
     "t.yaml:11:21: 'default_item' in 'invoicing' of flow 'invoices' must be a string, got a "
     "mapping"},
    {INVB "      default_item: ''\n", HS_EINVAL,
     "t.yaml:11:21: 'default_item' in 'invoicing' of flow 'invoices' must not be empty"},
    /* terms */
    {INVB "      terms: [Net 30]\n", HS_EINVAL,
     "t.yaml:11:14: 'terms' in 'invoicing' of flow 'invoices' must be a mapping of term name: "
     "days until due, got a list"},
    {INVB "      terms: {Net 30: 3651}\n", HS_EINVAL,
     "t.yaml:11:23: invalid value '3651' for 'Net 30' in 'invoicing.terms' of flow 'invoices' "
     "(expected an integer from 0 to 3650)"},
    {INVB "      terms: {Net 30: -1}\n", HS_EINVAL,
     "t.yaml:11:23: invalid value '-1' for 'Net 30' in 'invoicing.terms' of flow 'invoices' "
     "(expected an integer from 0 to 3650)"},
    {INVB "      terms: {Net 30: thirty}\n", HS_EINVAL,
     "t.yaml:11:23: invalid value 'thirty' for 'Net 30' in 'invoicing.terms' of flow 'invoices' "
     "(expected an integer from 0 to 3650)"},
    {INVB "      terms: {Net 30: 30, Net 30: 31}\n", HS_EINVAL,
     "t.yaml:11:27: duplicate key 'Net 30' in 'invoicing.terms' of flow 'invoices' (first "
     "defined at line 11)"},
    {INVB "      terms: {Net 30: 30, NET 30: 31}\n", HS_EINVAL,
     "t.yaml:11:27: duplicate term 'NET 30' in 'invoicing.terms' of flow 'invoices' (same as "
     "'Net 30'; names are compared without case)"},
    {INVB "      terms: {Net 30: }\n", HS_EINVAL,
     "t.yaml:11:23: missing days for term 'Net 30' in 'invoicing.terms' of flow 'invoices'"},
    {INVB "      payment_terms: Net 45\n      terms: {Net 30: 30, Net 60: 60}\n", HS_EINVAL,
     "t.yaml:11:22: payment_terms 'Net 45' in 'invoicing' of flow 'invoices' is not among "
     "'terms' (expected one of: Net 30, Net 60)"},
    {INVB "      payment_terms: Net 30\n", HS_EINVAL,
     "t.yaml:11:22: payment_terms 'Net 30' in 'invoicing' of flow 'invoices' is not among "
     "'terms' (no terms are defined; add terms: {\"Net 30\": 30})"},
    /* enums */
    {INVB "      tax_mode: gross\n", HS_EINVAL,
     "t.yaml:11:17: invalid tax_mode 'gross' in 'invoicing' of flow 'invoices' (expected one "
     "of: exclusive, inclusive, none)"},
    {INVB "      invoice_updates: always\n", HS_EINVAL,
     "t.yaml:11:24: invalid invoice_updates 'always' in 'invoicing' of flow 'invoices' (expected "
     "one of: never, draft_only, unpaid)"},
    {INVB "      updates: always\n", HS_EINVAL,
     "t.yaml:11:16: invalid updates 'always' in 'invoicing' of flow 'invoices' (expected one "
     "of: never, draft_only, unpaid)"},
    {INVB "      invoice_updates: unpaid\n      updates: never\n", HS_EINVAL,
     "t.yaml:12:7: 'updates' in 'invoicing' of flow 'invoices' repeats 'invoice_updates' of line "
     "11 (they are one setting: keep 'invoice_updates')"},
    {INVB "      invoice_update: unpaid\n", HS_EINVAL,
     "t.yaml:11:7: unknown key 'invoice_update' in 'invoicing' of flow 'invoices' (expected one "
     "of: default_item, payment_terms, terms, tax_mode, taxes, untaxed_code, default_currency, "
     "utc_offset, invoice_updates)"},
    {INVB "      default_currency: usd\n", HS_EINVAL,
     "t.yaml:11:25: invalid currency 'usd' for 'default_currency' in 'invoicing' of flow "
     "'invoices' (expected an ISO 4217 code such as USD or EUR)"},
    /* utc_offset */
    {INVB "      utc_offset: '+14:01'\n", HS_EINVAL,
     "t.yaml:11:19: invalid utc_offset '+14:01' in 'invoicing' of flow 'invoices' (expected "
     "+HH:MM or -HH:MM from -12:00 to +14:00, such as \"+01:00\")"},
    {INVB "      utc_offset: '-12:30'\n", HS_EINVAL,
     "t.yaml:11:19: invalid utc_offset '-12:30' in 'invoicing' of flow 'invoices' (expected "
     "+HH:MM or -HH:MM from -12:00 to +14:00, such as \"+01:00\")"},
    {INVB "      utc_offset: 1\n", HS_EINVAL,
     "t.yaml:11:19: invalid utc_offset '1' in 'invoicing' of flow 'invoices' (expected +HH:MM or "
     "-HH:MM from -12:00 to +14:00, such as \"+01:00\")"},
    {INVB "      utc_offset: '+01:60'\n", HS_EINVAL,
     "t.yaml:11:19: invalid utc_offset '+01:60' in 'invoicing' of flow 'invoices' (expected "
     "+HH:MM or -HH:MM from -12:00 to +14:00, such as \"+01:00\")"},
    /* taxes */
    {INVB "      taxes: [VAT]\n", HS_EINVAL,
     "t.yaml:11:14: 'taxes' in 'invoicing' of flow 'invoices' must be a mapping of CRM tax "
     "label: {code, rates}, got a list"},
    {INVB "      taxes:\n        VAT 20%: {code: TAX}\n        ' vat 20% ': {code: T2}\n",
     HS_EINVAL,
     "t.yaml:13:9: duplicate tax label ' vat 20% ' in 'invoicing.taxes' of flow 'invoices' "
     "(same as 'VAT 20%' on line 12; labels are compared without case and surrounding "
     "blanks)"},
    {INVB "      taxes:\n        VAT: {code: TAX}\n        VAT: {code: T2}\n", HS_EINVAL,
     "t.yaml:13:9: duplicate key 'VAT' in 'invoicing.taxes' of flow 'invoices' (first defined "
     "at line 12)"},
    {INVB "      taxes: {'  ': {code: TAX}}\n", HS_EINVAL,
     "t.yaml:11:15: invalid tax label '  ' in 'invoicing.taxes' of flow 'invoices' (expected 1 "
     "to 63 characters besides surrounding blanks)"},
    {INVB "      taxes: {VAT: TAX}\n", HS_EINVAL,
     "t.yaml:11:20: tax 'VAT' in 'invoicing.taxes' of flow 'invoices' must be a mapping with "
     "'code' (and 'rates'), got a string"},
    {INVB "      taxes: {VAT: }\n", HS_EINVAL,
     "t.yaml:11:15: tax 'VAT' in 'invoicing.taxes' of flow 'invoices' must be a mapping with "
     "'code' (and 'rates'), got nothing"},
    {INVB "      taxes: {VAT: {rates: []}}\n", HS_EINVAL,
     "t.yaml:11:20: missing required key 'code' in tax 'VAT' of flow 'invoices'"},
    {INVB "      taxes: {VAT: {code: TAX, rate: []}}\n", HS_EINVAL,
     "t.yaml:11:32: unknown key 'rate' in tax 'VAT' of flow 'invoices' (expected one of: code, "
     "rates)"},
    {INVB "      taxes: {VAT: {code: TAX, rates: [{id: '3', percent: 1000.000001}]}}\n", HS_EINVAL,
     "t.yaml:11:59: invalid percent '1000.000001' in rate 1 of tax 'VAT' of flow 'invoices' "
     "(expected a number from 0 to 1000 with at most 6 decimals, such as \"20\" or \"7.25\")"},
    {INVB "      taxes: {VAT: {code: TAX, rates: [{percent: '-1'}]}}\n", HS_EINVAL,
     "t.yaml:11:50: invalid percent '-1' in rate 1 of tax 'VAT' of flow 'invoices' (expected a "
     "number from 0 to 1000 with at most 6 decimals, such as \"20\" or \"7.25\")"},
    {INVB "      taxes: {VAT: {code: TAX, rates: [{percent: 20%}]}}\n", HS_EINVAL,
     "t.yaml:11:50: invalid percent '20%' in rate 1 of tax 'VAT' of flow 'invoices' (expected a "
     "number from 0 to 1000 with at most 6 decimals, such as \"20\" or \"7.25\")"},
    {INVB "      taxes: {VAT: {code: TAX, rates: [{percent: 0.0000001}]}}\n", HS_EINVAL,
     "t.yaml:11:50: invalid percent '0.0000001' in rate 1 of tax 'VAT' of flow 'invoices' "
     "(expected a number from 0 to 1000 with at most 6 decimals, such as \"20\" or \"7.25\")"},
    {INVB "      taxes: {VAT: {code: TAX, rates: [{percent: 2e1}]}}\n", HS_EINVAL,
     "t.yaml:11:50: invalid percent '2e1' in rate 1 of tax 'VAT' of flow 'invoices' (expected a "
     "number from 0 to 1000 with at most 6 decimals, such as \"20\" or \"7.25\")"},
    {INVB "      taxes: {VAT: {code: TAX, rates: [{id: '3'}]}}\n", HS_EINVAL,
     "t.yaml:11:40: missing required key 'percent' in rate 1 of tax 'VAT' of flow 'invoices'"},
    {INVB "      taxes: {VAT: {code: TAX, rates: [{id: a, percent: 1}, {id: a, percent: 2}]}}\n",
     HS_EINVAL, "t.yaml:11:61: duplicate rate id 'a' in tax 'VAT' of flow 'invoices'"},
    {INVB "      taxes: {CA: {code: CA, rates: [{percent: 1}, {percent: 1}, {percent: 1}, "
          "{percent: 1}, {percent: 1}]}}\n",
     HS_EINVAL, "t.yaml:11:37: too many rates in tax 'CA' of flow 'invoices' (5, limit 4)"},
    {INVB "      taxes: {VAT: {code: "
          "'0123456789012345678901234567890123456789012345678901234567890123'}}\n",
     HS_EINVAL,
     "t.yaml:11:27: 'code' in tax 'VAT' of flow 'invoices' is too long (64 bytes, limit 63)"},
    {INVB "      untaxed_code: "
          "'0123456789012345678901234567890123456789012345678901234567890123'\n",
     HS_EINVAL,
     "t.yaml:11:21: 'untaxed_code' in 'invoicing' of flow 'invoices' is too long (64 bytes, "
     "limit 63)"},
    {INVB "      taxes: {VAT: {code: TAX, rates: {id: 3}}}\n", HS_EINVAL,
     "t.yaml:11:39: 'rates' in tax 'VAT' of flow 'invoices' must be a list of {id, percent}, got "
     "a mapping"},
    {INVB "      taxes: {VAT: {code: TAX, rates: [20]}}\n", HS_EINVAL,
     "t.yaml:11:40: each entry of 'rates' in tax 'VAT' of flow 'invoices' must be a mapping "
     "with 'percent' (and 'id'), got a string"},
};

static void test_config_invoicing_errors_name_line_and_column(void **state)
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
        if (rc == HS_OK)
            hs_config_free(cfg);
    }
    assert_int_equal(failures, 0);
}

static void test_config_invoicing_caps_terms_and_taxes(void **state)
{
    (void)state;
    char *text = hs_strdup(INVB "      terms:\n");
    assert_non_null(text);
    for (int i = 0; i < 257; i++) {
        char *t = hs_asprintf("%s        T%d: %d\n", text, i, i);
        assert_non_null(t);
        hs_free(text);
        text = t;
    }
    struct hs_config *cfg = NULL;
    struct hs_error err = {0};
    assert_int_equal(parse_text(text, &cfg, &err), HS_ETOOBIG);
    assert_string_equal(err.msg, "t.yaml:12:9: too many terms in 'invoicing.terms' of flow "
                                 "'invoices' (257, limit 256)");
    hs_free(text);
}

static void test_config_invoicing_survives_every_failed_allocation(void **state)
{
    (void)state;
    size_t len = strlen(full_text);
    uint8_t *buf = hs_malloc(len);
    assert_non_null(buf);
    memcpy(buf, full_text, len);
    int n;
    for (n = 0;; n++) {
        struct hs_config *cfg = NULL;
        struct hs_error err = {0};
        failalloc_arm(n);
        int rc = hs_config_parse(buf, len, "t.yaml", &cfg, &err);
        bool tripped = failalloc_tripped();
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_false(tripped);
            assert_int_equal(cfg->flows[0].invoicing.n_taxes, 4);
            assert_non_null(cfg->crm.settings);
            hs_config_free(cfg);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_null(cfg);
        assert_string_equal(err.msg, "cannot load config 't.yaml': out of memory");
    }
    assert_true(n > 100);
    hs_free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_invoicing_parses_every_key),
        cmocka_unit_test(test_config_invoicing_defaults),
        cmocka_unit_test(test_config_invoicing_errors_name_line_and_column),
        cmocka_unit_test(test_config_invoicing_caps_terms_and_taxes),
        cmocka_unit_test(test_config_invoicing_survives_every_failed_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
