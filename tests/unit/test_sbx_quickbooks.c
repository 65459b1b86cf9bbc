/*
 * tests/unit/test_sbx_quickbooks.c - the QuickBooks Online module of hoopsync-sandbox.
 *
 * Design:     every case opens a sandbox with only the QuickBooks module (seed 7, static token
 *             "T", frozen clock) and talks to it through hs_sbx_handle in-process, checking
 *             QuickBooks' status codes, Fault codes and exact amounts in the raw JSON text
 *             (amounts are compared as text because the module never uses doubles).
 *             The number, time and query helpers of qbo.h are tested directly, including an
 *             allocation-failure loop over the query parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "sandbox/qbo.h"
#include "sandbox/sbx.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/str.h"

#define START_MS 1795456800000LL /* 2026-11-23T10:00:00-08:00 */

struct t {
    struct hs_sbx *sbx;
    char realm[32];
    char base[96];
    struct hs_http_response resp;
    json_t *json; /* parsed body of the last answer */
};

static const struct hs_sbx_module_ops *const only_qbo[] = {&hs_sbx_quickbooks_ops};

/* Sends method path?query with body (may be NULL); returns the status; parses t->json. */
static int req(struct t *t, const char *method, const char *target, const char *body,
               const char *token)
{
    struct hs_http_request r;
    hs_http_request_init(&r);
    char *q = strchr(target, '?');
    r.method = hs_strdup(method);
    r.path = q != NULL ? hs_strndup(target, (size_t)(q - target)) : hs_strdup(target);
    r.query = q != NULL ? hs_strdup(q + 1) : NULL;
    assert_non_null(r.method);
    assert_non_null(r.path);
    if (token != NULL) {
        char auth[128];
        snprintf(auth, sizeof auth, "Bearer %s", token);
        assert_int_equal(hs_http_headers_add(&r.headers, "Authorization", auth), HS_OK);
    }
    if (body != NULL) {
        assert_int_equal(hs_buf_puts(&r.body, body), HS_OK);
        assert_int_equal(hs_http_headers_add(&r.headers, "Content-Type", "application/json"),
                         HS_OK);
    }
    hs_http_response_release(&t->resp);
    hs_http_response_init(&t->resp);
    assert_int_equal(hs_sbx_handle(t->sbx, &r, &t->resp), HS_OK);
    hs_http_request_release(&r);
    json_decref(t->json);
    json_error_t jerr;
    t->json =
        json_loadb(t->resp.body.data != NULL ? t->resp.body.data : "", t->resp.body.len, 0, &jerr);
    return t->resp.status;
}

/* API call under the realm: "customer/1" -> /quickbooks/v3/company/<realm>/customer/1 */
static int api(struct t *t, const char *method, const char *rel, const char *body)
{
    char target[4096];
    snprintf(target, sizeof target, "%s/%s", t->base, rel);
    return req(t, method, target, body, "T");
}

static const char *body_text(const struct t *t)
{
    return t->resp.body.data != NULL ? t->resp.body.data : "";
}

static void assert_body_has(const struct t *t, const char *needle)
{
    if (strstr(body_text(t), needle) == NULL) {
        print_error("body lacks '%s': %s\n", needle, body_text(t));
        fail();
    }
}

static const char *fault_code(const struct t *t)
{
    json_t *e = json_array_get(json_object_get(json_object_get(t->json, "Fault"), "Error"), 0);
    return json_string_value(json_object_get(e, "code"));
}

static const char *jstr(const json_t *o, const char *path)
{
    /* "Customer.MetaData.LastUpdatedTime" */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *cur = o;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok != NULL && cur != NULL;
         tok = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, tok);
    return json_string_value(cur);
}

static struct t *open_t(bool limits, const char *data_file)
{
    struct t *t = hs_calloc(1, sizeof *t);
    assert_non_null(t);
    struct hs_sbx_options opt;
    memset(&opt, 0, sizeof opt);
    opt.seed = 7;
    opt.seeded = true;
    opt.static_token = "T";
    opt.no_rate_limits = !limits;
    opt.start_ms = START_MS;
    opt.modules = only_qbo;
    opt.n_modules = 1;
    opt.data_file = data_file;
    struct hs_error err;
    hs_error_clear(&err);
    int rc = hs_sbx_open(&opt, &t->sbx, &err);
    if (rc != HS_OK)
        print_error("open: %s\n", err.msg);
    assert_int_equal(rc, HS_OK);
    hs_http_response_init(&t->resp);
    assert_int_equal(req(t, "POST", "/_sandbox/clock", "{\"freeze\":true}", NULL), 200);
    assert_int_equal(req(t, "GET", "/_sandbox/tenants", NULL, NULL), 200);
    const char *realm = jstr(t->json, "quickbooks.realmId");
    assert_non_null(realm);
    snprintf(t->realm, sizeof t->realm, "%s", realm);
    snprintf(t->base, sizeof t->base, "/quickbooks/v3/company/%s", t->realm);
    return t;
}

static void close_t(struct t *t)
{
    json_decref(t->json);
    hs_http_response_release(&t->resp);
    hs_sbx_close(t->sbx);
    hs_free(t);
}

static int setup(void **state)
{
    hs_alloc_setup_json();
    *state = open_t(false, NULL);
    return 0;
}

static int teardown(void **state)
{
    close_t(*state);
    return 0;
}

static void advance(struct t *t, int64_t ms)
{
    char body[64];
    snprintf(body, sizeof body, "{\"advance_ms\":%lld}", (long long)ms);
    assert_int_equal(req(t, "POST", "/_sandbox/clock", body, NULL), 200);
}

/* Creates a customer and returns its Id (static buffer). */
static const char *new_customer(struct t *t, const char *name, const char *currency)
{
    static char id[32];
    char body[512];
    snprintf(body, sizeof body, "{\"DisplayName\":\"%s\",\"CurrencyRef\":{\"value\":\"%s\"}}", name,
             currency);
    assert_int_equal(api(t, "POST", "customer", body), 200);
    snprintf(id, sizeof id, "%s", jstr(t->json, "Customer.Id"));
    return id;
}

/* ---- reads, auth, minorversion ---- */

static void test_sbx_quickbooks_reads_seeded_entities(void **state)
{
    struct t *t = *state;
    assert_int_equal(api(t, "GET", "customer/1?minorversion=75", NULL), 200);
    assert_string_equal(jstr(t->json, "Customer.Id"), "1");
    assert_string_equal(jstr(t->json, "Customer.SyncToken"), "0");
    assert_non_null(jstr(t->json, "Customer.DisplayName"));
    assert_non_null(jstr(t->json, "Customer.PrimaryEmailAddr.Address"));
    /* QuickBooks time with the company's offset */
    assert_string_equal(jstr(t->json, "Customer.MetaData.CreateTime"), "2026-11-23T10:00:00-08:00");
    assert_non_null(jstr(t->json, "time"));
    char path[128];
    snprintf(path, sizeof path, "companyinfo/%s", t->realm);
    assert_int_equal(api(t, "GET", path, NULL), 200);
    assert_non_null(jstr(t->json, "CompanyInfo.CompanyName"));
    assert_int_equal(api(t, "GET", "preferences", NULL), 200);
    assert_body_has(t, "\"MultiCurrencyEnabled\":true");
    assert_string_equal(jstr(t->json, "Preferences.CurrencyPrefs.HomeCurrency.value"), "USD");
    assert_int_equal(api(t, "GET", "exchangerate?sourcecurrencycode=EUR", NULL), 200);
    assert_string_equal(jstr(t->json, "ExchangeRate.TargetCurrencyCode"), "USD");
    assert_int_equal(api(t, "GET", "term/3", NULL), 200);
    assert_string_equal(jstr(t->json, "Term.Name"), "Net 30");
    assert_int_equal(api(t, "GET", "taxcode/TAX", NULL), 200);
    assert_int_equal(api(t, "GET", "taxrate/1", NULL), 200);
    assert_int_equal(api(t, "GET", "account/2", NULL), 200);
    assert_int_equal(api(t, "GET", "item/1", NULL), 200);
    assert_int_equal(api(t, "GET", "customer/99999", NULL), 400);
    assert_string_equal(fault_code(t), "610");
}

static void test_sbx_quickbooks_auth_and_minorversion(void **state)
{
    struct t *t = *state;
    char target[256];
    snprintf(target, sizeof target, "%s/customer/1", t->base);
    assert_int_equal(req(t, "GET", target, NULL, NULL), 401);
    json_t *err0 = json_array_get(json_object_get(json_object_get(t->json, "fault"), "error"), 0);
    assert_string_equal(json_string_value(json_object_get(err0, "code")), "3200");
    assert_string_equal(jstr(t->json, "fault.type"), "AUTHENTICATION");
    assert_non_null(hs_http_headers_get(&t->resp.headers, "WWW-Authenticate"));
    assert_int_equal(req(t, "GET", target, NULL, "wrong"), 401);
    assert_int_equal(req(t, "GET", "/quickbooks/v3/company/123/customer/1", NULL, "T"), 403);
    assert_int_equal(api(t, "GET", "customer/1?minorversion=abc", NULL), 400);
    assert_non_null(fault_code(t));
    assert_int_equal(api(t, "GET", "customer/1?minorversion=999", NULL), 400);
    assert_int_equal(api(t, "GET", "customer/1?minorversion=4", NULL), 200);
}

static void test_sbx_quickbooks_oauth_flow(void **state)
{
    struct t *t = *state;
    assert_int_equal(req(t, "GET",
                         "/quickbooks/oauth2/authorize?client_id=app&response_type=code&redirect_"
                         "uri=http%3A%2F%2F127.0.0.1%2Fcb&state=xyz&scope=com.intuit.quickbooks."
                         "accounting",
                         NULL, NULL),
                     302);
    const char *loc = hs_http_headers_get(&t->resp.headers, "Location");
    assert_non_null(loc);
    char realm_param[64];
    snprintf(realm_param, sizeof realm_param, "realmId=%s", t->realm);
    assert_non_null(strstr(loc, realm_param));
    const char *code = strstr(loc, "code=");
    assert_non_null(code);
    char codebuf[128];
    size_t n = strcspn(code + 5, "&");
    snprintf(codebuf, sizeof codebuf, "%.*s", (int)n, code + 5);
    char form[512];
    snprintf(form, sizeof form,
             "grant_type=authorization_code&code=%s&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%2Fcb&"
             "client_id=app&client_secret=s",
             codebuf);
    struct hs_http_request r;
    hs_http_request_init(&r);
    r.method = hs_strdup("POST");
    r.path = hs_strdup("/quickbooks/oauth2/v1/tokens/bearer");
    assert_int_equal(hs_buf_puts(&r.body, form), HS_OK);
    assert_int_equal(
        hs_http_headers_add(&r.headers, "Content-Type", "application/x-www-form-urlencoded"),
        HS_OK);
    hs_http_response_release(&t->resp);
    hs_http_response_init(&t->resp);
    assert_int_equal(hs_sbx_handle(t->sbx, &r, &t->resp), HS_OK);
    hs_http_request_release(&r);
    assert_int_equal(t->resp.status, 200);
    json_t *tok = json_loadb(t->resp.body.data, t->resp.body.len, 0, NULL);
    assert_non_null(tok);
    assert_int_equal(json_integer_value(json_object_get(tok, "expires_in")), 3600);
    assert_non_null(json_object_get(tok, "x_refresh_token_expires_in"));
    char access[256];
    snprintf(access, sizeof access, "%s", json_string_value(json_object_get(tok, "access_token")));
    json_decref(tok);
    char target[256];
    snprintf(target, sizeof target, "%s/customer/1", t->base);
    assert_int_equal(req(t, "GET", target, NULL, access), 200);
    advance(t, 3601 * 1000LL);
    assert_int_equal(req(t, "GET", target, NULL, access), 401);
}

/* ---- customers ---- */

static void test_sbx_quickbooks_customer_rules(void **state)
{
    struct t *t = *state;
    assert_int_equal(api(t, "POST", "customer",
                         "{\"DisplayName\":\"Zeta Widgets\",\"CompanyName\":\"Zeta\","
                         "\"PrimaryEmailAddr\":{\"Address\":\"a@zeta.test\"},"
                         "\"PrimaryPhone\":{\"FreeFormNumber\":\"555\"},"
                         "\"BillAddr\":{\"Line1\":\"1 Main\",\"City\":\"X\"}}"),
                     200);
    assert_string_equal(jstr(t->json, "Customer.SyncToken"), "0");
    assert_string_equal(jstr(t->json, "Customer.CurrencyRef.value"), "USD");
    assert_body_has(t, "\"Balance\":0.00");
    /* duplicate, case-insensitively, with QuickBooks' error */
    assert_int_equal(api(t, "POST", "customer", "{\"DisplayName\":\"zeta widgets \"}"), 400);
    assert_string_equal(fault_code(t), "6240");
    assert_body_has(t, "Duplicate Name Exists Error");
    assert_body_has(t, "Another customer, vendor or employee is already using this name");
    /* forbidden characters */
    assert_int_equal(api(t, "POST", "customer", "{\"DisplayName\":\"a:b\"}"), 400);
    assert_int_equal(api(t, "POST", "customer", "{\"DisplayName\":\"a\\tb\"}"), 400);
    assert_int_equal(api(t, "POST", "customer", "{\"DisplayName\":\"a\\nb\"}"), 400);
    /* 500 characters pass, 501 fail */
    char body[1200];
    char name[502];
    memset(name, 'n', 501);
    name[501] = '\0';
    snprintf(body, sizeof body, "{\"DisplayName\":\"%s\"}", name);
    assert_int_equal(api(t, "POST", "customer", body), 400);
    assert_string_equal(fault_code(t), "2050");
    name[500] = '\0';
    snprintf(body, sizeof body, "{\"DisplayName\":\"%s\"}", name);
    assert_int_equal(api(t, "POST", "customer", body), 200);
    /* no name at all; composed name */
    assert_int_equal(api(t, "POST", "customer", "{\"CompanyName\":\"Only Co\"}"), 400);
    assert_string_equal(fault_code(t), "6080");
    assert_int_equal(api(t, "POST", "customer", "{\"GivenName\":\"Ada\",\"FamilyName\":\"L\"}"),
                     200);
    assert_string_equal(jstr(t->json, "Customer.DisplayName"), "Ada L");
    /* unknown property */
    assert_int_equal(api(t, "POST", "customer", "{\"DisplayName\":\"Q\",\"Bogus\":1}"), 400);
    assert_string_equal(fault_code(t), "2010");
    /* U+0001 is refused (it would collide with the module's number marks) */
    assert_int_equal(api(t, "POST", "customer", "{\"DisplayName\":\"x\\u0001y\"}"), 400);
    /* customers cannot be deleted */
    assert_int_equal(
        api(t, "POST", "customer?operation=delete", "{\"Id\":\"1\",\"SyncToken\":\"0\"}"), 400);
    assert_string_equal(fault_code(t), "500");
}

static void test_sbx_quickbooks_update_sync_token(void **state)
{
    struct t *t = *state;
    const char *id0 = new_customer(t, "Sync Co", "USD");
    char id[32];
    snprintf(id, sizeof id, "%s", id0);
    advance(t, 60000);
    char body[512];
    /* sparse update keeps other fields */
    snprintf(body, sizeof body,
             "{\"Id\":\"%s\",\"SyncToken\":\"0\",\"sparse\":true,\"CompanyName\":\"Sync Inc\"}",
             id);
    assert_int_equal(api(t, "POST", "customer", body), 200);
    assert_string_equal(jstr(t->json, "Customer.SyncToken"), "1");
    assert_string_equal(jstr(t->json, "Customer.DisplayName"), "Sync Co");
    assert_string_equal(jstr(t->json, "Customer.CompanyName"), "Sync Inc");
    assert_string_equal(jstr(t->json, "Customer.MetaData.LastUpdatedTime"),
                        "2026-11-23T10:01:00-08:00");
    assert_string_equal(jstr(t->json, "Customer.MetaData.CreateTime"), "2026-11-23T10:00:00-08:00");
    /* stale token */
    assert_int_equal(api(t, "POST", "customer", body), 400);
    assert_string_equal(fault_code(t), "5010");
    assert_body_has(t, "Stale Object Error");
    /* full update drops what it leaves out */
    snprintf(body, sizeof body, "{\"Id\":\"%s\",\"SyncToken\":\"1\",\"DisplayName\":\"Sync Co 2\"}",
             id);
    assert_int_equal(api(t, "POST", "customer", body), 200);
    assert_string_equal(jstr(t->json, "Customer.SyncToken"), "2");
    assert_null(jstr(t->json, "Customer.CompanyName"));
    /* the old name is free again, the new one is taken */
    assert_int_equal(api(t, "POST", "customer", "{\"DisplayName\":\"Sync Co\"}"), 200);
    assert_int_equal(api(t, "POST", "customer", "{\"DisplayName\":\"Sync Co 2\"}"), 400);
    /* deactivation renames like QuickBooks and hides it from default queries */
    snprintf(body, sizeof body,
             "{\"Id\":\"%s\",\"SyncToken\":\"2\",\"sparse\":true,\"Active\":false}", id);
    assert_int_equal(api(t, "POST", "customer", body), 200);
    assert_string_equal(jstr(t->json, "Customer.DisplayName"), "Sync Co 2 (deleted)");
    assert_int_equal(api(t, "GET",
                         "query?query=select%20*%20from%20Customer%20where%20DisplayName%20like%20"
                         "'Sync%20Co%202%25'",
                         NULL),
                     200);
    assert_null(json_object_get(json_object_get(t->json, "QueryResponse"), "Customer"));
    assert_int_equal(api(t, "GET",
                         "query?query=select%20*%20from%20Customer%20where%20Active%20%3D%20false",
                         NULL),
                     200);
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(t->json, "QueryResponse"), "Customer")), 1);
}

/* ---- invoices and payments ---- */

static const char *new_invoice(struct t *t, const char *body)
{
    static char id[32];
    int st = api(t, "POST", "invoice", body);
    if (st != 200)
        print_error("invoice: %s\n", body_text(t));
    assert_int_equal(st, 200);
    snprintf(id, sizeof id, "%s", jstr(t->json, "Invoice.Id"));
    return id;
}

static void test_sbx_quickbooks_invoice_totals_usd(void **state)
{
    struct t *t = *state;
    /* 3 x 19.99 = 59.97, 10% discount 6.00 (5.997), tax on 59.97 (ApplyTaxAfterDiscount false):
     * 7.25% = 4.35 (4.3478), 1% = 0.60 (0.5997) -> total 59.97 - 6.00 + 4.95 = 58.92 */
    new_invoice(t, "{\"CustomerRef\":{\"value\":\"1\"},\"TxnTaxDetail\":{\"TxnTaxCodeRef\":{"
                   "\"value\":\"3\"}},\"Line\":[{\"DetailType\":\"SalesItemLineDetail\","
                   "\"SalesItemLineDetail\":{\"ItemRef\":{\"value\":\"1\"},\"Qty\":3,"
                   "\"UnitPrice\":19.99,\"TaxCodeRef\":{\"value\":\"TAX\"}}},{\"DetailType\":"
                   "\"DiscountLineDetail\",\"DiscountLineDetail\":{\"PercentBased\":true,"
                   "\"DiscountPercent\":10}}]}");
    assert_body_has(t, "\"TotalTax\":4.95");
    assert_body_has(t, "\"TotalAmt\":58.92");
    assert_body_has(t, "\"Balance\":58.92");
    assert_body_has(t, "\"DetailType\":\"SubTotalLineDetail\"");
    assert_string_equal(jstr(t->json, "Invoice.DocNumber"), "1001");
    assert_string_equal(jstr(t->json, "Invoice.TxnDate"), "2026-11-23");
    /* customer 1 has Net 30 */
    assert_string_equal(jstr(t->json, "Invoice.DueDate"), "2026-12-23");
    /* 7 x 0.3333 = 2.3331 -> 2.33; NON is untaxed; explicit Net 15 */
    new_invoice(t, "{\"CustomerRef\":{\"value\":\"1\"},\"SalesTermRef\":{\"value\":\"2\"},"
                   "\"Line\":[{\"DetailType\":\"SalesItemLineDetail\",\"SalesItemLineDetail\":{"
                   "\"ItemRef\":{\"value\":\"1\"},\"Qty\":7,\"UnitPrice\":0.3333,"
                   "\"TaxCodeRef\":{\"value\":\"NON\"}}}]}");
    assert_body_has(t, "\"TotalAmt\":2.33");
    assert_string_equal(jstr(t->json, "Invoice.DocNumber"), "1002");
    assert_string_equal(jstr(t->json, "Invoice.DueDate"), "2026-12-08");
    /* an explicit DueDate wins over the customer's Net 30, as in QuickBooks */
    new_invoice(t, "{\"CustomerRef\":{\"value\":\"1\"},\"DueDate\":\"2027-01-31\","
                   "\"Line\":[{\"DetailType\":\"SalesItemLineDetail\",\"SalesItemLineDetail\":{"
                   "\"ItemRef\":{\"value\":\"1\"},\"Qty\":1,\"UnitPrice\":5,"
                   "\"TaxCodeRef\":{\"value\":\"NON\"}}}]}");
    assert_string_equal(jstr(t->json, "Invoice.DueDate"), "2027-01-31");
    assert_string_equal(jstr(t->json, "Invoice.SalesTermRef.value"), "3");
    /* wrong Amount for Qty * UnitPrice */
    assert_int_equal(api(t, "POST", "invoice",
                         "{\"CustomerRef\":{\"value\":\"1\"},\"Line\":[{\"DetailType\":"
                         "\"SalesItemLineDetail\",\"Amount\":10,\"SalesItemLineDetail\":{"
                         "\"ItemRef\":{\"value\":\"1\"},\"Qty\":2,\"UnitPrice\":4}}]}"),
                     400);
    assert_string_equal(fault_code(t), "6070");
    /* an amount with more decimals than USD has */
    assert_int_equal(api(t, "POST", "invoice",
                         "{\"CustomerRef\":{\"value\":\"1\"},\"Line\":[{\"DetailType\":"
                         "\"SalesItemLineDetail\",\"Amount\":1.234,\"SalesItemLineDetail\":{"
                         "\"ItemRef\":{\"value\":\"1\"}}}]}"),
                     400);
    assert_string_equal(fault_code(t), "2050");
    /* no lines; unknown customer */
    assert_int_equal(api(t, "POST", "invoice", "{\"CustomerRef\":{\"value\":\"1\"}}"), 400);
    assert_string_equal(fault_code(t), "2020");
    assert_int_equal(api(t, "POST", "invoice",
                         "{\"CustomerRef\":{\"value\":\"9999\"},\"Line\":[{\"DetailType\":"
                         "\"SalesItemLineDetail\",\"Amount\":1,\"SalesItemLineDetail\":{"
                         "\"ItemRef\":{\"value\":\"1\"}}}]}"),
                     400);
    assert_string_equal(fault_code(t), "610");
}

/* Creates an invoice for customer cust in mode with one line qty x price and tax code. */
static void invoice_with(struct t *t, const char *cust, const char *mode, const char *qty,
                         const char *price, const char *code)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"CustomerRef\":{\"value\":\"%s\"},\"GlobalTaxCalculation\":\"%s\",\"Line\":[{"
             "\"DetailType\":\"SalesItemLineDetail\",\"SalesItemLineDetail\":{\"ItemRef\":{"
             "\"value\":\"1\"},\"Qty\":%s,\"UnitPrice\":%s,\"TaxCodeRef\":{\"value\":\"%s\"}}}]}",
             cust, mode, qty, price, code);
    new_invoice(t, body);
}

static void test_sbx_quickbooks_invoice_tax_modes_jpy_kwd(void **state)
{
    struct t *t = *state;
    char jpy[32], kwd[32], usd[32];
    snprintf(jpy, sizeof jpy, "%s", new_customer(t, "Yamada KK", "JPY"));
    snprintf(kwd, sizeof kwd, "%s", new_customer(t, "Kuwait Trading", "KWD"));
    snprintf(usd, sizeof usd, "%s", new_customer(t, "Dollar Co", "USD"));
    /* JPY, GST 10% (code 6): 3 x 1234 = 3702; exclusive tax 370.2 -> 370 */
    invoice_with(t, jpy, "TaxExcluded", "3", "1234", "6");
    assert_body_has(t, "\"TotalTax\":370,");
    assert_body_has(t, "\"TotalAmt\":4072,");
    assert_string_equal(jstr(t->json, "Invoice.CurrencyRef.value"), "JPY");
    assert_non_null(json_object_get(json_object_get(t->json, "Invoice"), "HomeTotalAmt"));
    /* inclusive: tax = 3702 * 10 / 110 = 336.5 -> 337, total stays 3702, net line 3365 */
    invoice_with(t, jpy, "TaxInclusive", "3", "1234", "6");
    assert_body_has(t, "\"TotalTax\":337,");
    assert_body_has(t, "\"TotalAmt\":3702,");
    assert_body_has(t, "\"Amount\":3365,");
    assert_body_has(t, "\"TaxInclusiveAmt\":3702");
    /* KWD, VAT 5% (code 5): 2 x 1.2345 = 2.469; exclusive 0.12345 -> 0.123 */
    invoice_with(t, kwd, "TaxExcluded", "2", "1.2345", "5");
    assert_body_has(t, "\"TotalTax\":0.123,");
    assert_body_has(t, "\"TotalAmt\":2.592,");
    /* inclusive: 2.469 * 5 / 105 = 0.11757 -> 0.118 */
    invoice_with(t, kwd, "TaxInclusive", "2", "1.2345", "5");
    assert_body_has(t, "\"TotalTax\":0.118,");
    assert_body_has(t, "\"TotalAmt\":2.469,");
    /* USD, VAT 20% (code 4): 3 x 33.33 = 99.99; exclusive 19.998 -> 20.00, total 119.99 */
    invoice_with(t, usd, "TaxExcluded", "3", "33.33", "4");
    assert_body_has(t, "\"TotalTax\":20.00,");
    assert_body_has(t, "\"TotalAmt\":119.99,");
    /* inclusive: 99.99 / 6 = 16.665 -> 16.67 */
    invoice_with(t, usd, "TaxInclusive", "3", "33.33", "4");
    assert_body_has(t, "\"TotalTax\":16.67,");
    assert_body_has(t, "\"TotalAmt\":99.99,");
    /* NotApplicable: no tax at all */
    invoice_with(t, usd, "NotApplicable", "3", "33.33", "4");
    assert_body_has(t, "\"TotalTax\":0.00}");
    assert_body_has(t, "\"TotalAmt\":99.99,");
    /* a JPY amount with decimals is refused */
    char body[512];
    snprintf(body, sizeof body,
             "{\"CustomerRef\":{\"value\":\"%s\"},\"Line\":[{\"DetailType\":"
             "\"SalesItemLineDetail\",\"Amount\":10.5,\"SalesItemLineDetail\":{\"ItemRef\":{"
             "\"value\":\"1\"}}}]}",
             jpy);
    assert_int_equal(api(t, "POST", "invoice", body), 400);
    /* the invoice currency must be the customer's */
    snprintf(body, sizeof body,
             "{\"CustomerRef\":{\"value\":\"%s\"},\"CurrencyRef\":{\"value\":\"EUR\"},\"Line\":[{"
             "\"DetailType\":\"SalesItemLineDetail\",\"Amount\":10,\"SalesItemLineDetail\":{"
             "\"ItemRef\":{\"value\":\"1\"}}}]}",
             jpy);
    assert_int_equal(api(t, "POST", "invoice", body), 400);
    assert_string_equal(fault_code(t), "6000");
}

static void test_sbx_quickbooks_payments_void_delete(void **state)
{
    struct t *t = *state;
    char cust[32], inv[32], body[1024];
    snprintf(cust, sizeof cust, "%s", new_customer(t, "Payer Co", "USD"));
    invoice_with(t, cust, "NotApplicable", "4", "25", "NON"); /* 100.00 */
    snprintf(inv, sizeof inv, "%s", jstr(t->json, "Invoice.Id"));
    char path[64];
    snprintf(path, sizeof path, "customer/%s", cust);
    assert_int_equal(api(t, "GET", path, NULL), 200);
    assert_body_has(t, "\"Balance\":100.00");
    /* pay 30 of it */
    snprintf(body, sizeof body,
             "{\"CustomerRef\":{\"value\":\"%s\"},\"TotalAmt\":35,\"Line\":[{\"Amount\":30,"
             "\"LinkedTxn\":[{\"TxnId\":\"%s\",\"TxnType\":\"Invoice\"}]}]}",
             cust, inv);
    assert_int_equal(api(t, "POST", "payment", body), 200);
    assert_body_has(t, "\"UnappliedAmt\":5.00");
    char pay[32];
    snprintf(pay, sizeof pay, "%s", jstr(t->json, "Payment.Id"));
    snprintf(path, sizeof path, "invoice/%s", inv);
    assert_int_equal(api(t, "GET", path, NULL), 200);
    assert_body_has(t, "\"Balance\":70.00");
    assert_string_equal(jstr(t->json, "Invoice.SyncToken"), "1");
    assert_body_has(t, "\"TxnType\":\"Payment\"");
    snprintf(path, sizeof path, "customer/%s", cust);
    assert_int_equal(api(t, "GET", path, NULL), 200);
    assert_body_has(t, "\"Balance\":70.00");
    /* more than the open balance */
    snprintf(body, sizeof body,
             "{\"CustomerRef\":{\"value\":\"%s\"},\"TotalAmt\":80,\"Line\":[{\"Amount\":80,"
             "\"LinkedTxn\":[{\"TxnId\":\"%s\",\"TxnType\":\"Invoice\"}]}]}",
             cust, inv);
    assert_int_equal(api(t, "POST", "payment", body), 400);
    assert_string_equal(fault_code(t), "6000");
    /* an invoice with payments cannot be voided */
    snprintf(body, sizeof body, "{\"Id\":\"%s\",\"SyncToken\":\"1\"}", inv);
    assert_int_equal(api(t, "POST", "invoice?operation=void", body), 400);
    /* delete the payment: balance back to 100 */
    snprintf(body, sizeof body, "{\"Id\":\"%s\",\"SyncToken\":\"0\"}", pay);
    assert_int_equal(api(t, "POST", "payment?operation=delete", body), 200);
    assert_string_equal(jstr(t->json, "Payment.status"), "Deleted");
    snprintf(path, sizeof path, "invoice/%s", inv);
    assert_int_equal(api(t, "GET", path, NULL), 200);
    assert_body_has(t, "\"Balance\":100.00");
    /* void the invoice: amounts zero, customer balance zero */
    snprintf(body, sizeof body, "{\"Id\":\"%s\",\"SyncToken\":\"%s\"}", inv,
             jstr(t->json, "Invoice.SyncToken"));
    assert_int_equal(api(t, "POST", "invoice?operation=void", body), 200);
    assert_body_has(t, "\"TotalAmt\":0.00");
    assert_string_equal(jstr(t->json, "Invoice.PrivateNote"), "Voided");
    snprintf(path, sizeof path, "customer/%s", cust);
    assert_int_equal(api(t, "GET", path, NULL), 200);
    assert_body_has(t, "\"Balance\":0.00");
    /* delete it; reading it afterwards fails */
    snprintf(path, sizeof path, "invoice/%s", inv);
    assert_int_equal(api(t, "GET", path, NULL), 200);
    snprintf(body, sizeof body, "{\"Id\":\"%s\",\"SyncToken\":\"%s\"}", inv,
             jstr(t->json, "Invoice.SyncToken"));
    assert_int_equal(api(t, "POST", "invoice?operation=delete", body), 200);
    assert_int_equal(api(t, "GET", path, NULL), 400);
    assert_string_equal(fault_code(t), "610");
}

/* ---- query ---- */

static json_t *qr_list(struct t *t, const char *entity)
{
    return json_object_get(json_object_get(t->json, "QueryResponse"), entity);
}

static void test_sbx_quickbooks_query_subset(void **state)
{
    struct t *t = *state;
    assert_int_equal(api(t, "GET", "query?query=select%20count(*)%20from%20Customer", NULL), 200);
    json_int_t total = json_integer_value(
        json_object_get(json_object_get(t->json, "QueryResponse"), "totalCount"));
    assert_true(total >= 10);
    /* paging */
    assert_int_equal(api(t, "GET",
                         "query?query=SELECT%20*%20FROM%20Customer%20STARTPOSITION%203%20"
                         "MAXRESULTS%204",
                         NULL),
                     200);
    assert_int_equal(json_array_size(qr_list(t, "Customer")), 4);
    assert_string_equal(jstr(json_array_get(qr_list(t, "Customer"), 0), "Id"), "3");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(t->json, "QueryResponse"),
                                                        "startPosition")),
                     3);
    /* in (...) */
    assert_int_equal(api(t, "GET",
                         "query?query=select%20*%20from%20Customer%20where%20Id%20in%20('2'%2C"
                         "'5'%2C'7')",
                         NULL),
                     200);
    assert_int_equal(json_array_size(qr_list(t, "Customer")), 3);
    /* orderby desc */
    assert_int_equal(api(t, "GET",
                         "query?query=select%20*%20from%20Customer%20orderby%20DisplayName%20desc"
                         "%20maxresults%201000",
                         NULL),
                     200);
    json_t *list = qr_list(t, "Customer");
    for (size_t i = 1; i < json_array_size(list); i++) {
        const char *a = jstr(json_array_get(list, i - 1), "DisplayName");
        const char *b = jstr(json_array_get(list, i), "DisplayName");
        char *la = hs_str_lower(a), *lb = hs_str_lower(b);
        assert_true(strcmp(la, lb) >= 0);
        hs_free(la);
        hs_free(lb);
    }
    /* like and LastUpdatedTime with offset */
    new_customer(t, "Likeable Unique Corp", "USD");
    assert_int_equal(api(t, "GET",
                         "query?query=select%20*%20from%20Customer%20where%20DisplayName%20LIKE%20"
                         "'%25eable%20uniq%25'",
                         NULL),
                     200);
    assert_int_equal(json_array_size(qr_list(t, "Customer")), 1);
    advance(t, 1000);
    new_customer(t, "Later Corp", "USD");
    assert_int_equal(api(t, "GET",
                         "query?query=select%20*%20from%20Customer%20where%20Metadata."
                         "LastUpdatedTime%20%3E%20'2026-11-23T10:00:00-08:00'",
                         NULL),
                     200);
    assert_int_equal(json_array_size(qr_list(t, "Customer")), 1);
    assert_string_equal(jstr(json_array_get(qr_list(t, "Customer"), 0), "DisplayName"),
                        "Later Corp");
    /* invoices by CustomerRef and DocNumber */
    invoice_with(t, "1", "NotApplicable", "1", "5", "NON");
    assert_int_equal(api(t, "GET",
                         "query?query=select%20*%20from%20Invoice%20where%20CustomerRef%20%3D%20'1'"
                         "%20and%20DocNumber%20%3D%20'1001'",
                         NULL),
                     200);
    assert_int_equal(json_array_size(qr_list(t, "Invoice")), 1);
    /* POST with application/text body */
    assert_int_equal(api(t, "POST", "query", "select * from Item maxresults 2"), 200);
    assert_int_equal(json_array_size(qr_list(t, "Item")), 2);
    /* errors */
    assert_int_equal(api(t, "GET", "query?query=selec%20*%20from%20Customer", NULL), 400);
    assert_string_equal(fault_code(t), "4000");
    assert_body_has(t, "QueryParserError");
    assert_int_equal(
        api(t, "GET", "query?query=select%20*%20from%20Customer%20where%20Foo%20%3D%201", NULL),
        400);
    assert_string_equal(fault_code(t), "4001");
    assert_int_equal(api(t, "GET", "query?query=select%20*%20from%20Nope", NULL), 400);
    assert_string_equal(fault_code(t), "4001");
}

static void test_sbx_quickbooks_query_parser(void **state)
{
    (void)state;
    struct hs_qbo_query *q = NULL;
    struct hs_error err;
    const char *text = "SeLeCt * FROM Customer WHERE Active IN (true, false) AND DisplayName "
                       "LIKE 'O\\'Brien%' ORDER BY Id DESC STARTPOSITION 5 MAXRESULTS 5000";
    assert_int_equal(hs_qbo_query_parse(text, strlen(text), &q, &err), HS_OK);
    assert_string_equal(q->entity, "Customer");
    assert_int_equal(q->n_conds, 2);
    assert_int_equal(q->conds[0].op, HS_QBO_IN);
    assert_int_equal(q->conds[0].n_values, 2);
    assert_string_equal(q->conds[1].values[0].text, "O'Brien%");
    assert_true(q->desc);
    assert_int_equal(q->start, 5);
    assert_int_equal(q->max, HS_QBO_QUERY_MAX_RESULTS); /* capped at 1000 */
    hs_qbo_query_free(q);
    /* not NUL-terminated: the parser must stop at len */
    char buf[32];
    memcpy(buf, "select * from Item'''''", 23);
    assert_int_equal(hs_qbo_query_parse(buf, 18, &q, &err), HS_OK);
    hs_qbo_query_free(q);
    assert_int_equal(hs_qbo_query_parse("select * from", 13, &q, &err), HS_EINVAL);
    assert_null(q);
    assert_non_null(strstr(err.msg, "column 14"));
    assert_int_equal(hs_qbo_query_parse("select * from X where a = 'open", 31, &q, &err),
                     HS_EINVAL);
    assert_int_equal(hs_qbo_query_parse("select * from X where a ~ 1", 27, &q, &err), HS_EINVAL);
}

static void test_sbx_quickbooks_query_parser_survives_failed_allocations(void **state)
{
    (void)state;
    const char *text = "select * from Invoice where Id in ('1','2','3') and DocNumber like '%1' "
                       "orderby TxnDate desc startposition 2 maxresults 10";
    for (int n = 0;; n++) {
        struct hs_qbo_query *q = NULL;
        failalloc_arm(n);
        int rc = hs_qbo_query_parse(text, strlen(text), &q, NULL);
        failalloc_disarm();
        if (rc == HS_OK) {
            hs_qbo_query_free(q);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_null(q);
    }
}

/* ---- cdc ---- */

static void test_sbx_quickbooks_cdc_window_and_cap(void **state)
{
    struct t *t = *state;
    advance(t, 60000);
    char since[64] = "2026-11-23T10:00:30-08:00";
    const char *id0 = new_customer(t, "Cdc Co", "USD");
    char id[32];
    snprintf(id, sizeof id, "%s", id0);
    invoice_with(t, id, "NotApplicable", "1", "5", "NON");
    char inv[32], body[256];
    snprintf(inv, sizeof inv, "%s", jstr(t->json, "Invoice.Id"));
    snprintf(body, sizeof body, "{\"Id\":\"%s\",\"SyncToken\":\"0\"}", inv);
    assert_int_equal(api(t, "POST", "invoice?operation=delete", body), 200);
    char path[256];
    snprintf(path, sizeof path, "cdc?entities=Customer,Invoice&changedSince=%s", since);
    assert_int_equal(api(t, "GET", path, NULL), 200);
    json_t *qrs = json_object_get(json_array_get(json_object_get(t->json, "CDCResponse"), 0),
                                  "QueryResponse");
    assert_int_equal(json_array_size(qrs), 2);
    json_t *custs = json_object_get(json_array_get(qrs, 0), "Customer");
    assert_int_equal(json_array_size(custs), 1);
    json_t *invs = json_object_get(json_array_get(qrs, 1), "Invoice");
    assert_int_equal(json_array_size(invs), 1);
    assert_string_equal(jstr(json_array_get(invs, 0), "status"), "Deleted");
    /* older than 30 days */
    assert_int_equal(api(t, "GET", "cdc?entities=Customer&changedSince=2026-10-20T00:00:00Z", NULL),
                     400);
    assert_body_has(t, "older than fixed days");
    assert_int_equal(api(t, "GET", "cdc?entities=Customer", NULL), 400);
    assert_int_equal(api(t, "GET", "cdc?entities=Bogus&changedSince=2026-11-23", NULL), 400);
    /* at most 1000 objects */
    for (int i = 0; i < 1005; i++) {
        char name[64];
        snprintf(name, sizeof name, "Bulk %d", i);
        new_customer(t, name, "USD");
    }
    assert_int_equal(
        api(t, "GET", "cdc?entities=Customer&changedSince=2026-11-23T10:00:00-08:00", NULL), 200);
    qrs = json_object_get(json_array_get(json_object_get(t->json, "CDCResponse"), 0),
                          "QueryResponse");
    assert_int_equal(json_array_size(json_object_get(json_array_get(qrs, 0), "Customer")), 1000);
}

/* ---- batch ---- */

static void test_sbx_quickbooks_batch(void **state)
{
    struct t *t = *state;
    assert_int_equal(api(t, "GET", "query?query=select%20count(*)%20from%20Customer", NULL), 200);
    json_int_t before = json_integer_value(
        json_object_get(json_object_get(t->json, "QueryResponse"), "totalCount"));
    char next_id[32];
    snprintf(next_id, sizeof next_id, "%lld", (long long)before + 1);
    char body[2048];
    snprintf(body, sizeof body,
             "{\"BatchItemRequest\":["
             "{\"bId\":\"1\",\"operation\":\"create\",\"Customer\":{\"DisplayName\":\"Batch A\"}},"
             "{\"bId\":\"2\",\"operation\":\"create\",\"Customer\":{\"DisplayName\":\"Batch A\"}},"
             "{\"bId\":\"3\",\"operation\":\"create\",\"Invoice\":{\"CustomerRef\":{\"value\":"
             "\"%s\"},\"Line\":[{\"DetailType\":\"SalesItemLineDetail\",\"Amount\":5,"
             "\"SalesItemLineDetail\":{\"ItemRef\":{\"value\":\"1\"}}}]}},"
             "{\"bId\":\"4\",\"Query\":\"select * from Customer where DisplayName = 'Batch A'\"},"
             "{\"bId\":\"5\",\"operation\":\"update\",\"Customer\":{\"Id\":\"1\",\"SyncToken\":"
             "\"0\",\"sparse\":true,\"Notes\":\"n\"}},"
             "{\"bId\":\"6\",\"operation\":\"update\",\"Customer\":{\"Id\":\"1\",\"SyncToken\":"
             "\"1\",\"sparse\":true,\"Notes\":\"m\"}}]}",
             next_id);
    assert_int_equal(api(t, "POST", "batch", body), 200);
    json_t *items = json_object_get(t->json, "BatchItemResponse");
    assert_int_equal(json_array_size(items), 6);
    /* in order, with bIds */
    assert_string_equal(jstr(json_array_get(items, 0), "bId"), "1");
    assert_string_equal(jstr(json_array_get(items, 0), "Customer.Id"), next_id);
    /* the second create of the same name fails as a duplicate */
    assert_string_equal(
        jstr(json_array_get(
                 json_object_get(json_object_get(json_array_get(items, 1), "Fault"), "Error"), 0),
             "code"),
        "6240");
    /* the invoice cannot see the customer created by item 1 */
    assert_string_equal(
        jstr(json_array_get(
                 json_object_get(json_object_get(json_array_get(items, 2), "Fault"), "Error"), 0),
             "code"),
        "610");
    /* nor can the query */
    assert_null(
        json_object_get(json_object_get(json_array_get(items, 3), "QueryResponse"), "Customer"));
    /* updates run in order: item 6 sees item 5's SyncToken */
    assert_string_equal(jstr(json_array_get(items, 4), "Customer.SyncToken"), "1");
    assert_string_equal(jstr(json_array_get(items, 5), "Customer.SyncToken"), "2");
    /* after the batch the customer is visible */
    snprintf(body, sizeof body, "customer/%s", next_id);
    assert_int_equal(api(t, "GET", body, NULL), 200);
    /* the maximum (default 30, settable) */
    struct hs_buf b;
    hs_buf_init(&b);
    assert_int_equal(hs_buf_puts(&b, "{\"BatchItemRequest\":["), HS_OK);
    for (int i = 0; i < 31; i++)
        assert_int_equal(hs_buf_printf(&b, "%s{\"bId\":\"%d\",\"Query\":\"select * from Term\"}",
                                       i ? "," : "", i),
                         HS_OK);
    assert_int_equal(hs_buf_puts(&b, "]}"), HS_OK);
    assert_int_equal(api(t, "POST", "batch", b.data), 400);
    assert_non_null(json_object_get(t->json, "Fault"));
    assert_int_equal(req(t, "POST", "/quickbooks/_sandbox/settings", "{\"batch_max\":40}", NULL),
                     200);
    assert_int_equal(api(t, "POST", "batch", b.data), 200);
    assert_int_equal(json_array_size(json_object_get(t->json, "BatchItemResponse")), 31);
    assert_int_equal(req(t, "POST", "/quickbooks/_sandbox/settings", "{\"batch_max\":0}", NULL),
                     400);
    hs_buf_release(&b);
}

/* ---- requestid ---- */

static void test_sbx_quickbooks_requestid_replay(void **state)
{
    struct t *t = *state;
    const char *body = "{\"DisplayName\":\"Idem Co\"}";
    assert_int_equal(api(t, "POST", "customer?requestid=r-1", body), 200);
    char id[32];
    snprintf(id, sizeof id, "%s", jstr(t->json, "Customer.Id"));
    char *first = hs_strdup(body_text(t));
    advance(t, 5000);
    /* the same requestid replays the first answer byte for byte, without a second create */
    assert_int_equal(api(t, "POST", "customer?requestid=r-1", body), 200);
    assert_string_equal(body_text(t), first);
    hs_free(first);
    /* without requestid the duplicate name is refused: so only one was created */
    assert_int_equal(api(t, "POST", "customer", body), 400);
    assert_string_equal(fault_code(t), "6240");
    /* faults replay too, and batches */
    assert_int_equal(api(t, "POST", "customer?requestid=r-2", body), 400);
    assert_int_equal(api(t, "POST", "customer?requestid=r-2", "{\"DisplayName\":\"Other\"}"), 400);
    const char *batch = "{\"BatchItemRequest\":[{\"bId\":\"1\",\"operation\":\"create\","
                        "\"Customer\":{\"DisplayName\":\"Idem Batch\"}}]}";
    assert_int_equal(api(t, "POST", "batch?requestid=b-1", batch), 200);
    assert_int_equal(api(t, "POST", "batch?requestid=b-1", batch), 200);
    assert_null(
        json_object_get(json_array_get(json_object_get(t->json, "BatchItemResponse"), 0), "Fault"));
}

/* ---- throttling ---- */

static void test_sbx_quickbooks_throttles(void **state)
{
    (void)state;
    struct t *t = open_t(true, NULL);
    int ok = 0, limited = 0;
    for (int i = 0; i < 12; i++) {
        int st = api(t, "GET", "customer/1", NULL);
        if (st == 200)
            ok++;
        if (st == 429) {
            limited++;
            assert_string_equal(fault_code(t), "3001");
            assert_body_has(t, "ThrottleExceeded");
        }
    }
    assert_int_equal(ok, 10);
    assert_int_equal(limited, 2);
    advance(t, 1000);
    assert_int_equal(api(t, "GET", "customer/1", NULL), 200);
    /* 500 a minute: spread over seconds */
    int minute_ok = 1 + 10;
    for (int s = 0; s < 60 && minute_ok < 500; s++) {
        advance(t, 1000);
        for (int i = 0; i < 10 && minute_ok < 500; i++) {
            assert_int_equal(api(t, "GET", "customer/1", NULL), 200);
            minute_ok++;
        }
    }
    advance(t, 1000);
    assert_int_equal(minute_ok, 500);
    assert_int_equal(api(t, "GET", "customer/1", NULL), 429); /* 501st within the minute */
    /* batches have their own 40 a minute */
    const char *batch = "{\"BatchItemRequest\":[{\"bId\":\"1\",\"Query\":\"select * from Term\"}]}";
    advance(t, 60000);
    for (int i = 0; i < 40; i++)
        assert_int_equal(api(t, "POST", "batch", batch), 200);
    assert_int_equal(api(t, "POST", "batch", batch), 429);
    close_t(t);
}

/* ---- webhooks ---- */

static void test_sbx_quickbooks_webhook_payload_signature(void **state)
{
    (void)state;
    json_t *events =
        json_pack("[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]", "realmId", "123",
                  "name", "Customer", "id", "1", "operation", "Create", "lastUpdated",
                  "2026-11-23T10:00:00-08:00", "realmId", "123", "name", "Invoice", "id", "7",
                  "operation", "Void", "lastUpdated", "2026-11-23T10:00:01-08:00");
    assert_non_null(events);
    struct hs_http_request out;
    hs_http_request_init(&out);
    assert_int_equal(hs_sbx_quickbooks_ops.webhook_request(NULL, events, "verifier",
                                                           "http://127.0.0.1:9/hook", &out),
                     HS_OK);
    json_decref(events);
    json_t *body = json_loadb(out.body.data, out.body.len, 0, NULL);
    assert_non_null(body);
    json_t *note = json_array_get(json_object_get(body, "eventNotifications"), 0);
    assert_string_equal(json_string_value(json_object_get(note, "realmId")), "123");
    json_t *ents = json_object_get(json_object_get(note, "dataChangeEvent"), "entities");
    assert_int_equal(json_array_size(ents), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ents, 1), "operation")),
                        "Void");
    json_decref(body);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)"verifier", 8);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)out.body.data, out.body.len);
    crypto_auth_hmacsha256_final(&st, mac);
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    assert_string_equal(hs_http_headers_get(&out.headers, "intuit-signature"), b64);
    assert_string_equal(out.method, "POST");
    hs_http_request_release(&out);
}

/* ---- persistence ---- */

static void test_sbx_quickbooks_save_and_load(void **state)
{
    (void)state;
    char path[] = "/tmp/hs_qbo_data_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    struct t *t = open_t(false, path);
    new_customer(t, "Persisted Co", "USD");
    char id[32];
    snprintf(id, sizeof id, "%s", jstr(t->json, "Customer.Id"));
    invoice_with(t, id, "TaxExcluded", "2", "10.005", "NON");
    assert_body_has(t, "\"TotalAmt\":20.01");
    close_t(t);
    t = open_t(false, path);
    char p[64];
    snprintf(p, sizeof p, "customer/%s", id);
    assert_int_equal(api(t, "GET", p, NULL), 200);
    assert_string_equal(jstr(t->json, "Customer.DisplayName"), "Persisted Co");
    assert_body_has(t, "\"Balance\":20.01");
    assert_int_equal(api(t, "POST", "customer", "{\"DisplayName\":\"persisted co\"}"), 400);
    assert_string_equal(fault_code(t), "6240");
    invoice_with(t, id, "NotApplicable", "1", "1", "NON");
    assert_string_equal(jstr(t->json, "Invoice.DocNumber"), "1002");
    close_t(t);
    unlink(path);
}

/* ---- numbers and time ---- */

static void test_sbx_quickbooks_exact_numbers(void **state)
{
    (void)state;
    const char *in = "{\"a\":0.1,\"b\":[1e-2,-12.50,123456789012345678],\"c\":\"x\\\"1\"}";
    json_t *v = NULL;
    assert_int_equal(hs_qbo_json_parse((const uint8_t *)in, strlen(in), &v, NULL), HS_OK);
    int64_t n;
    assert_int_equal(hs_qbo_num_get(json_object_get(v, "a"), 2, &n), HS_OK);
    assert_int_equal(n, 10);
    assert_int_equal(hs_qbo_num_get(json_array_get(json_object_get(v, "b"), 0), 2, &n), HS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(hs_qbo_num_get(json_array_get(json_object_get(v, "b"), 0), 1, &n), HS_ERANGE);
    assert_int_equal(hs_qbo_num_get(json_array_get(json_object_get(v, "b"), 2), 0, &n), HS_OK);
    assert_int_equal(n, 123456789012345678LL);
    struct hs_buf b;
    hs_buf_init(&b);
    assert_int_equal(hs_qbo_json_dump(v, &b), HS_OK);
    assert_string_equal(b.data, in);
    hs_buf_release(&b);
    json_decref(v);
    assert_int_equal(hs_qbo_json_parse((const uint8_t *)"{\"a\":\"\\u0001\"}", 13, &v, NULL),
                     HS_EINVAL);
    assert_int_equal(hs_qbo_json_parse((const uint8_t *)"{\"a\":", 5, &v, NULL), HS_EPROTO);
    assert_int_equal(hs_qbo_dec_parse("1.005", 5, 2, &n), HS_ERANGE);
    assert_int_equal(hs_qbo_dec_parse("1.000", 5, 2, &n), HS_OK);
    assert_int_equal(n, 100);
    assert_int_equal(hs_qbo_dec_parse("99999999999999999999", 20, 0, &n), HS_ERANGE);
    assert_int_equal(hs_qbo_dec_parse("abc", 3, 0, &n), HS_EINVAL);
    assert_int_equal(hs_qbo_div_round(5, 2), 3);
    assert_int_equal(hs_qbo_div_round(-5, 2), -3);
    assert_int_equal(hs_qbo_currency_decimals("JPY"), 0);
    assert_int_equal(hs_qbo_currency_decimals("KWD"), 3);
    assert_int_equal(hs_qbo_currency_decimals("USD"), 2);
}

static void test_sbx_quickbooks_pacific_time(void **state)
{
    (void)state;
    char buf[48];
    hs_qbo_time_format(START_MS, buf, sizeof buf);
    assert_string_equal(buf, "2026-11-23T10:00:00-08:00");
    /* 2026-07-01T12:00:00Z is daylight time */
    int64_t ms;
    assert_int_equal(hs_qbo_time_parse("2026-07-01T12:00:00Z", 20, &ms), HS_OK);
    hs_qbo_time_format(ms, buf, sizeof buf);
    assert_string_equal(buf, "2026-07-01T05:00:00-07:00");
    hs_qbo_time_format_ms(ms + 7, buf, sizeof buf);
    assert_string_equal(buf, "2026-07-01T05:00:00.007-07:00");
    int64_t ms2;
    assert_int_equal(hs_qbo_time_parse("2026-07-01T05:00:00-07:00", 25, &ms2), HS_OK);
    assert_int_equal(ms, ms2);
    assert_int_equal(hs_qbo_time_parse("2026-07-01T05:00:00.000-0700", 28, &ms2), HS_OK);
    assert_int_equal(ms, ms2);
    /* no offset: company-local */
    assert_int_equal(hs_qbo_time_parse("2026-07-01T05:00:00", 19, &ms2), HS_OK);
    assert_int_equal(ms, ms2);
    assert_int_equal(hs_qbo_time_parse("2026-02-30", 10, &ms2), HS_EINVAL);
    assert_int_equal(hs_qbo_time_parse("2026-07-01T25:00:00Z", 20, &ms2), HS_EINVAL);
    int64_t days;
    assert_int_equal(hs_qbo_date_parse("1970-01-02", 10, &days), HS_OK);
    assert_int_equal(days, 1);
}

int main(void)
{
    hs_alloc_setup_json();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sbx_quickbooks_reads_seeded_entities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_quickbooks_auth_and_minorversion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_quickbooks_oauth_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_quickbooks_customer_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_quickbooks_update_sync_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_quickbooks_invoice_totals_usd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_quickbooks_invoice_tax_modes_jpy_kwd, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sbx_quickbooks_payments_void_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_quickbooks_query_subset, setup, teardown),
        cmocka_unit_test(test_sbx_quickbooks_query_parser),
        cmocka_unit_test(test_sbx_quickbooks_query_parser_survives_failed_allocations),
        cmocka_unit_test_setup_teardown(test_sbx_quickbooks_cdc_window_and_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_quickbooks_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_quickbooks_requestid_replay, setup, teardown),
        cmocka_unit_test(test_sbx_quickbooks_throttles),
        cmocka_unit_test(test_sbx_quickbooks_webhook_payload_signature),
        cmocka_unit_test(test_sbx_quickbooks_save_and_load),
        cmocka_unit_test(test_sbx_quickbooks_exact_numbers),
        cmocka_unit_test(test_sbx_quickbooks_pacific_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
