/*
 * tests/unit/test_sbx_xero.c - the Xero module of hoopsync-sandbox.
 *
 * Design:     every case opens a sandbox in-process (seed 7, static token "T", frozen clock)
 *             with the Xero module (and QuickBooks where the seeded worlds are compared) and
 *             talks to it through hs_sbx_handle, checking Xero's status codes, error bodies,
 *             rate-limit headers and exact amounts in the raw JSON text (the module never uses
 *             doubles). Webhook deliveries and the intent-to-receive check go to a loopback
 *             receiver (hs_http_server) that verifies x-xero-signature itself. The where/order
 *             subset and the date parsers of xero.h are tested directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/tax.h"
#include "sandbox/qbo.h"
#include "sandbox/sbx.h"
#include "sandbox/xero.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/str.h"

#define START_MS 1795456800000LL /* 2026-11-23T18:00:00Z */
#define API      "/xero/api.xro/2.0/"

struct t {
    struct hs_sbx *sbx;
    char tenant[48];
    char tenant2[48];
    const char *token;
    const char *tenant_hdr; /* Xero-tenant-id sent, NULL for none */
    struct hs_http_response resp;
    json_t *json; /* parsed body of the last answer */
};

static const struct hs_sbx_module_ops *const only_xero[] = {&hs_sbx_xero_ops};
static const struct hs_sbx_module_ops *const qbo_and_xero[] = {&hs_sbx_quickbooks_ops,
                                                               &hs_sbx_xero_ops};

/* Sends method target with body (may be NULL) and extra "Name: value" headers (NULL-ended
 * list, may be NULL). Returns the status and parses t->json. */
static int reqh(struct t *t, const char *method, const char *target, const char *body,
                const char *const *headers)
{
    struct hs_http_request r;
    hs_http_request_init(&r);
    const char *q = strchr(target, '?');
    r.method = hs_strdup(method);
    r.path = q != NULL ? hs_strndup(target, (size_t)(q - target)) : hs_strdup(target);
    r.query = q != NULL ? hs_strdup(q + 1) : NULL;
    assert_non_null(r.method);
    assert_non_null(r.path);
    if (t->token != NULL && strncmp(target, "/_sandbox", 9) != 0) {
        char auth[128];
        snprintf(auth, sizeof auth, "Bearer %s", t->token);
        assert_int_equal(hs_http_headers_add(&r.headers, "Authorization", auth), HS_OK);
    }
    if (t->tenant_hdr != NULL && strncmp(target, API, strlen(API)) == 0)
        assert_int_equal(hs_http_headers_add(&r.headers, "Xero-tenant-id", t->tenant_hdr), HS_OK);
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        const char *colon = strchr(headers[i], ':');
        assert_non_null(colon);
        char *name = hs_strndup(headers[i], (size_t)(colon - headers[i]));
        assert_int_equal(hs_http_headers_add(&r.headers, name, colon + 2), HS_OK);
        hs_free(name);
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
    t->json =
        json_loadb(t->resp.body.data != NULL ? t->resp.body.data : "", t->resp.body.len, 0, NULL);
    return t->resp.status;
}

static int req(struct t *t, const char *method, const char *target, const char *body)
{
    return reqh(t, method, target, body, NULL);
}

/* Accounting call: "Contacts" -> /xero/api.xro/2.0/Contacts */
static int api(struct t *t, const char *method, const char *rel, const char *body)
{
    char target[4096];
    snprintf(target, sizeof target, "%s%s", API, rel);
    return req(t, method, target, body);
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

static const char *header(const struct t *t, const char *name)
{
    return hs_http_headers_get(&t->resp.headers, name);
}

static const char *jpath(const json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *cur = o;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok != NULL && cur != NULL;
         tok = strtok_r(NULL, ".", &save))
        cur = tok[0] >= '0' && tok[0] <= '9' ? json_array_get(cur, (size_t)strtol(tok, NULL, 10))
                                             : json_object_get(cur, tok);
    return json_string_value(cur);
}

static size_t arr_len(const struct t *t, const char *key)
{
    return json_array_size(json_object_get(t->json, key));
}

static struct t *open_with(bool limits, const char *data_file,
                           const struct hs_sbx_module_ops *const *mods, size_t n_mods,
                           unsigned companies)
{
    struct t *t = hs_calloc(1, sizeof *t);
    assert_non_null(t);
    struct hs_sbx_options opt;
    memset(&opt, 0, sizeof opt);
    opt.seed = 7;
    opt.seeded = true;
    opt.sizes.companies = companies;
    opt.static_token = "T";
    opt.no_rate_limits = !limits;
    opt.start_ms = START_MS;
    opt.modules = mods;
    opt.n_modules = n_mods;
    opt.data_file = data_file;
    struct hs_error err;
    hs_error_clear(&err);
    int rc = hs_sbx_open(&opt, &t->sbx, &err);
    if (rc != HS_OK)
        print_error("open: %s\n", err.msg);
    assert_int_equal(rc, HS_OK);
    hs_http_response_init(&t->resp);
    char clock[96];
    snprintf(clock, sizeof clock, "{\"set_ms\":%lld,\"freeze\":true}", (long long)START_MS);
    assert_int_equal(req(t, "POST", "/_sandbox/clock", clock), 200);
    assert_int_equal(req(t, "GET", "/_sandbox/tenants", NULL), 200);
    const json_t *ids = json_object_get(json_object_get(t->json, "xero"), "tenantIds");
    assert_int_equal(json_array_size(ids), 2);
    snprintf(t->tenant, sizeof t->tenant, "%s", json_string_value(json_array_get(ids, 0)));
    snprintf(t->tenant2, sizeof t->tenant2, "%s", json_string_value(json_array_get(ids, 1)));
    assert_string_equal(jpath(t->json, "xero.tenantId"), t->tenant);
    t->token = "T";
    t->tenant_hdr = t->tenant;
    return t;
}

static struct t *open_t(bool limits, const char *data_file)
{
    return open_with(limits, data_file, only_xero, 1, 0);
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
    assert_int_equal(req(t, "POST", "/_sandbox/clock", body), 200);
}

/* PUTs one contact and returns its ContactID (static buffer). */
static const char *new_contact(struct t *t, const char *name)
{
    static char id[48];
    char body[512];
    snprintf(body, sizeof body, "{\"Contacts\":[{\"Name\":\"%s\"}]}", name);
    assert_int_equal(api(t, "PUT", "Contacts?summarizeErrors=false", body), 200);
    const char *s = jpath(t->json, "Contacts.0.ContactID");
    assert_non_null(s);
    snprintf(id, sizeof id, "%s", s);
    return id;
}

/* ---- tenants, auth, errors ---- */

static void test_sbx_xero_tenants_and_connections(void **state)
{
    struct t *t = *state;
    assert_int_equal(req(t, "GET", "/xero/connections", NULL), 200);
    assert_int_equal(json_array_size(t->json), 2);
    assert_string_equal(jpath(t->json, "0.tenantId"), t->tenant);
    assert_string_equal(jpath(t->json, "0.tenantType"), "ORGANISATION");
    assert_string_equal(jpath(t->json, "0.tenantName"), "Hoopsync Sandbox Ltd");
    assert_string_equal(jpath(t->json, "1.tenantId"), t->tenant2);
    assert_int_equal(api(t, "GET", "Organisation", NULL), 200);
    assert_string_equal(jpath(t->json, "Organisations.0.OrganisationID"), t->tenant);
    assert_string_equal(jpath(t->json, "Organisations.0.BaseCurrency"), "USD");
    assert_string_equal(jpath(t->json, "Status"), "OK");
    /* the second tenant has the lists but no contacts */
    t->tenant_hdr = t->tenant2;
    assert_int_equal(api(t, "GET", "Contacts", NULL), 200);
    assert_int_equal(arr_len(t, "Contacts"), 0);
    assert_int_equal(api(t, "GET", "TaxRates", NULL), 200);
    assert_int_equal(arr_len(t, "TaxRates"), 5);
}

static void test_sbx_xero_auth_and_tenant_errors(void **state)
{
    struct t *t = *state;
    t->token = NULL;
    assert_int_equal(api(t, "GET", "Contacts", NULL), 401);
    assert_string_equal(jpath(t->json, "Title"), "Unauthorized");
    assert_string_equal(jpath(t->json, "Detail"), "AuthenticationUnsuccessful");
    assert_true(json_is_null(json_object_get(t->json, "Type")));
    assert_non_null(header(t, "WWW-Authenticate"));
    assert_int_equal(req(t, "GET", "/xero/connections", NULL), 401);
    t->token = "wrong";
    assert_int_equal(api(t, "GET", "Contacts", NULL), 401);
    t->token = "T";
    t->tenant_hdr = NULL;
    assert_int_equal(api(t, "GET", "Contacts", NULL), 403);
    assert_string_equal(jpath(t->json, "Title"), "Forbidden");
    assert_string_equal(jpath(t->json, "Detail"), "AuthorizationUnsuccessful");
    t->tenant_hdr = "00000000-0000-0000-0000-000000000000";
    assert_int_equal(api(t, "GET", "Contacts", NULL), 403);
    t->tenant_hdr = t->tenant;
    assert_int_equal(api(t, "GET", "Contacts/00000000-0000-0000-0000-000000000000", NULL), 404);
    assert_int_equal(api(t, "GET", "Nothing", NULL), 404);
    /* a write that is not JSON */
    assert_int_equal(api(t, "PUT", "Contacts", "{nope"), 400);
    assert_string_equal(jpath(t->json, "Type"), "PostDataInvalidException");
    assert_int_equal(api(t, "PUT", "TaxRates", "{\"TaxRates\":[]}"), 400);
}

static char *query_param(const char *url, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "%s=", key);
    const char *p = strstr(url, pat);
    assert_non_null(p);
    p += strlen(pat);
    size_t n = strcspn(p, "&");
    return hs_strndup(p, n);
}

static void test_sbx_xero_oauth_flow(void **state)
{
    struct t *t = *state;
    t->token = NULL;
    assert_int_equal(req(t, "GET",
                         "/xero/identity/connect/authorize?response_type=code&client_id=app&"
                         "redirect_uri=http%3A%2F%2Flocalhost%2Fcb&scope=offline_access&state=s1",
                         NULL),
                     302);
    char *code = query_param(header(t, "Location"), "code");
    char form[512];
    snprintf(form, sizeof form,
             "grant_type=authorization_code&code=%s&redirect_uri=http://localhost/cb&"
             "client_id=app&client_secret=sec",
             code);
    hs_free(code);
    assert_int_equal(req(t, "POST", "/xero/identity/connect/token", form), 200);
    assert_int_equal(json_integer_value(json_object_get(t->json, "expires_in")), 1800);
    char access[128], refresh[128];
    snprintf(access, sizeof access, "%s", jpath(t->json, "access_token"));
    snprintf(refresh, sizeof refresh, "%s", jpath(t->json, "refresh_token"));
    assert_non_null(jpath(t->json, "scope"));
    /* the token sees both tenants */
    t->token = access;
    assert_int_equal(req(t, "GET", "/xero/connections", NULL), 200);
    assert_int_equal(json_array_size(t->json), 2);
    assert_int_equal(api(t, "GET", "Contacts?page=1", NULL), 200);
    /* refresh rotates: the old refresh token is dead afterwards */
    t->token = NULL;
    snprintf(form, sizeof form,
             "grant_type=refresh_token&refresh_token=%s&client_id=app&client_secret=sec", refresh);
    assert_int_equal(req(t, "POST", "/xero/identity/connect/token", form), 200);
    assert_string_not_equal(jpath(t->json, "refresh_token"), refresh);
    char access2[128];
    snprintf(access2, sizeof access2, "%s", jpath(t->json, "access_token"));
    assert_int_equal(req(t, "POST", "/xero/identity/connect/token", form), 400);
    assert_string_equal(jpath(t->json, "error"), "invalid_grant");
    /* 30 minutes later the access token is expired */
    advance(t, 1801 * 1000LL);
    t->token = access2;
    assert_int_equal(api(t, "GET", "Contacts?page=1", NULL), 401);
    /* disconnecting a tenant: 403 for it, gone from /connections */
    t->token = "T";
    assert_int_equal(req(t, "GET", "/xero/connections", NULL), 200);
    char conn[64];
    snprintf(conn, sizeof conn, "/xero/connections/%s", jpath(t->json, "1.id"));
    assert_int_equal(req(t, "DELETE", conn, NULL), 204);
    assert_int_equal(req(t, "DELETE", conn, NULL), 404);
    assert_int_equal(req(t, "GET", "/xero/connections", NULL), 200);
    assert_int_equal(json_array_size(t->json), 1);
    t->tenant_hdr = t->tenant2;
    assert_int_equal(api(t, "GET", "Contacts", NULL), 403);
}

/* One call of the concurrency test, on its own thread with its own answer. */
struct conc {
    struct t t;
    pthread_barrier_t *go;
    int status;
    char problem[16];
};

static void *conc_call(void *ud)
{
    struct conc *c = ud;
    pthread_barrier_wait(c->go);
    c->status = api(&c->t, "GET", "Currencies", NULL);
    const char *p = header(&c->t, "X-Rate-Limit-Problem");
    snprintf(c->problem, sizeof c->problem, "%s", p != NULL ? p : "");
    return NULL;
}

/* Xero's 5 calls in flight per tenant: with every call held 1 s (latency fault), 8 at once for
 * one tenant give 5 answers and 3 refusals (429, problem "concurrent"); the other tenant's call
 * at the same moment goes through; once they are answered, calls go through again. */
static void test_sbx_xero_concurrent_limit(void **state)
{
    (void)state;
    struct t *t = open_t(true, NULL);
    assert_int_equal(req(t, "POST", "/_sandbox/faults", "{\"spec\":\"latency=1000\"}"), 200);
    enum { N = 9 };
    struct conc c[N];
    pthread_t th[N];
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, N), 0);
    for (int i = 0; i < N; i++) {
        c[i].t = *t;
        c[i].t.json = NULL;
        hs_http_response_init(&c[i].t.resp);
        c[i].t.tenant_hdr = i < N - 1 ? t->tenant : t->tenant2;
        c[i].go = &go;
        c[i].status = 0;
        assert_int_equal(pthread_create(&th[i], NULL, conc_call, &c[i]), 0);
    }
    int ok = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        if (i == N - 1) {
            assert_int_equal(c[i].status, 200);
        } else if (c[i].status == 200) {
            ok++;
        } else {
            assert_int_equal(c[i].status, 429);
            assert_string_equal(c[i].problem, "concurrent");
            refused++;
        }
        hs_http_response_release(&c[i].t.resp);
        json_decref(c[i].t.json);
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(ok, 5);
    assert_int_equal(refused, 3);
    assert_int_equal(req(t, "POST", "/_sandbox/faults", "{\"spec\":\"\"}"), 200);
    assert_int_equal(api(t, "GET", "Currencies", NULL), 200);
    close_t(t);
}

static void test_sbx_xero_rate_limits(void **state)
{
    (void)state;
    struct t *t = open_t(true, NULL);
    for (int i = 0; i < 60; i++) {
        assert_int_equal(api(t, "GET", "Currencies", NULL), 200);
        char want[16];
        snprintf(want, sizeof want, "%d", 59 - i);
        assert_string_equal(header(t, "X-MinLimit-Remaining"), want);
        snprintf(want, sizeof want, "%d", 4999 - i);
        assert_string_equal(header(t, "X-DayLimit-Remaining"), want);
        assert_non_null(header(t, "X-AppMinLimit-Remaining"));
    }
    assert_int_equal(api(t, "GET", "Currencies", NULL), 429);
    assert_string_equal(header(t, "X-Rate-Limit-Problem"), "minute");
    assert_string_equal(header(t, "Retry-After"), "60");
    assert_string_equal(header(t, "X-MinLimit-Remaining"), "0");
    /* a call refused for the minute takes nothing from the day or the app's minute, and their
     * headers say what is really left there, not the full allowance */
    assert_string_equal(header(t, "X-DayLimit-Remaining"), "4940");
    assert_string_equal(header(t, "X-AppMinLimit-Remaining"), "9940");
    assert_int_equal(json_integer_value(json_object_get(t->json, "Status")), 429);
    /* the other tenant has its own limits */
    t->tenant_hdr = t->tenant2;
    assert_int_equal(api(t, "GET", "Currencies", NULL), 200);
    t->tenant_hdr = t->tenant;
    /* a new minute; then the day runs out */
    int calls = 60;
    while (calls < 5000) {
        advance(t, 60000);
        for (int i = 0; i < 60 && calls < 5000; i++, calls++)
            assert_int_equal(api(t, "GET", "Currencies", NULL), 200);
    }
    assert_string_equal(header(t, "X-DayLimit-Remaining"), "0");
    advance(t, 60000);
    assert_int_equal(api(t, "GET", "Currencies", NULL), 429);
    assert_string_equal(header(t, "X-Rate-Limit-Problem"), "day");
    advance(t, 86400000LL);
    assert_int_equal(api(t, "GET", "Currencies", NULL), 200);
    close_t(t);
}

/* ---- contacts ---- */

static void test_sbx_xero_contacts_write_rules(void **state)
{
    struct t *t = *state;
    const char *body = "{\"Contacts\":[{\"Name\":\"Ada Widgets\",\"EmailAddress\":\"ap@ada.test\","
                       "\"ContactPersons\":[{\"FirstName\":\"Ada\",\"LastName\":\"L\","
                       "\"EmailAddress\":\"ada@ada.test\",\"IncludeInEmails\":true}]}]}";
    assert_int_equal(api(t, "PUT", "Contacts?summarizeErrors=false", body), 200);
    assert_string_equal(jpath(t->json, "Contacts.0.StatusAttributeString"), "OK");
    assert_string_equal(jpath(t->json, "Contacts.0.ContactStatus"), "ACTIVE");
    assert_string_equal(jpath(t->json, "Contacts.0.ContactPersons.0.EmailAddress"), "ada@ada.test");
    assert_body_has(t, "\"UpdatedDateUTC\":\"/Date(1795456800000+0000)/\"");
    char id[48];
    snprintf(id, sizeof id, "%s", jpath(t->json, "Contacts.0.ContactID"));
    char rel[128];
    snprintf(rel, sizeof rel, "Contacts/%s", id);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_string_equal(jpath(t->json, "Contacts.0.Name"), "Ada Widgets");
    /* mixed batch, summarizeErrors=false: 200, one OK, one with ValidationErrors */
    assert_int_equal(api(t, "POST", "Contacts?summarizeErrors=false",
                         "{\"Contacts\":[{\"Name\":\"Brand New Ltd\"},{\"Name\":\" ada widgets \"},"
                         "{\"Name\":\"\"},{\"Name\":\"Bad Mail\",\"EmailAddress\":\"nope\"},"
                         "{\"Name\":\"Too Many\",\"ContactPersons\":[{},{},{},{},{},{}]}]}"),
                     200);
    assert_string_equal(jpath(t->json, "Contacts.0.StatusAttributeString"), "OK");
    assert_string_equal(jpath(t->json, "Contacts.1.StatusAttributeString"), "ERROR");
    assert_string_equal(jpath(t->json, "Contacts.1.ValidationErrors.0.Message"),
                        "The contact name ada widgets is already assigned to another contact. "
                        "The contact name must be unique across all active contacts.");
    assert_true(json_is_true(json_object_get(
        json_array_get(json_object_get(t->json, "Contacts"), 1), "HasValidationErrors")));
    assert_string_equal(jpath(t->json, "Contacts.2.StatusAttributeString"), "ERROR");
    assert_string_equal(jpath(t->json, "Contacts.3.ValidationErrors.0.Message"),
                        "Email address must be valid.");
    assert_string_equal(jpath(t->json, "Contacts.4.StatusAttributeString"), "ERROR");
    /* summarized (the default): 400 ValidationException and nothing is stored */
    assert_int_equal(
        api(t, "PUT", "Contacts",
            "{\"Contacts\":[{\"Name\":\"Would Be Created\"},{\"Name\":\"Ada Widgets\"}]}"),
        400);
    assert_int_equal(json_integer_value(json_object_get(t->json, "ErrorNumber")), 10);
    assert_string_equal(jpath(t->json, "Type"), "ValidationException");
    assert_string_equal(jpath(t->json, "Message"), "A validation exception occurred");
    assert_int_equal(arr_len(t, "Elements"), 1);
    assert_string_equal(jpath(t->json, "Elements.0.Name"), "Ada Widgets");
    assert_int_equal(api(t, "GET", "Contacts?where=Name%3D%3D%22Would%20Be%20Created%22", NULL),
                     200);
    assert_int_equal(arr_len(t, "Contacts"), 0);
    new_contact(t, "Would Be Created"); /* the rolled-back create left no trace */
    /* a rename frees the old name and takes the new one */
    char renamed[48];
    snprintf(renamed, sizeof renamed, "%s", new_contact(t, "Old Name Co"));
    char ren[256];
    snprintf(ren, sizeof ren, "{\"Contacts\":[{\"ContactID\":\"%s\",\"Name\":\"New Name Co\"}]}",
             renamed);
    assert_int_equal(api(t, "POST", "Contacts?summarizeErrors=false", ren), 200);
    assert_string_equal(jpath(t->json, "Contacts.0.StatusAttributeString"), "OK");
    new_contact(t, "Old Name Co");
    assert_int_equal(api(t, "PUT", "Contacts?summarizeErrors=false",
                         "{\"Contacts\":[{\"Name\":\"new name co\"}]}"),
                     200);
    assert_string_equal(jpath(t->json, "Contacts.0.StatusAttributeString"), "ERROR");
    /* update by id (POST): only the fields sent change; PUT refuses ids */
    char upd[256];
    snprintf(upd, sizeof upd,
             "{\"Contacts\":[{\"ContactID\":\"%s\",\"EmailAddress\":\"x@ada.test\"}]}", id);
    assert_int_equal(api(t, "POST", "Contacts?summarizeErrors=false", upd), 200);
    assert_string_equal(jpath(t->json, "Contacts.0.Name"), "Ada Widgets");
    assert_string_equal(jpath(t->json, "Contacts.0.EmailAddress"), "x@ada.test");
    assert_int_equal(api(t, "PUT", "Contacts?summarizeErrors=false", upd), 200);
    assert_string_equal(jpath(t->json, "Contacts.0.StatusAttributeString"), "ERROR");
    /* POST /Contacts/{id} with a bare element; archiving hides the contact and frees its name */
    assert_int_equal(api(t, "POST", rel, "{\"ContactStatus\":\"ARCHIVED\"}"), 200);
    assert_string_equal(jpath(t->json, "Contacts.0.ContactStatus"), "ARCHIVED");
    assert_int_equal(api(t, "GET", "Contacts?IDs=", NULL), 200);
    size_t all = arr_len(t, "Contacts");
    assert_int_equal(api(t, "GET", "Contacts?includeArchived=true", NULL), 200);
    assert_int_equal(arr_len(t, "Contacts"), all + 1);
    new_contact(t, "Ada Widgets");
}

static void test_sbx_xero_contacts_list_filters(void **state)
{
    (void)state;
    struct t *t = open_with(false, NULL, only_xero, 1, 300);
    assert_int_equal(api(t, "GET", "Contacts", NULL), 200);
    size_t total = arr_len(t, "Contacts");
    assert_true(total > 100);
    assert_null(json_object_get(t->json, "pagination"));
    /* pages of 100 */
    assert_int_equal(api(t, "GET", "Contacts?page=1", NULL), 200);
    assert_int_equal(arr_len(t, "Contacts"), 100);
    json_t *p = json_object_get(t->json, "pagination");
    assert_int_equal(json_integer_value(json_object_get(p, "page")), 1);
    assert_int_equal(json_integer_value(json_object_get(p, "pageSize")), 100);
    assert_int_equal(json_integer_value(json_object_get(p, "itemCount")), (json_int_t)total);
    assert_int_equal(json_integer_value(json_object_get(p, "pageCount")),
                     (json_int_t)((total + 99) / 100));
    char first_id[48];
    snprintf(first_id, sizeof first_id, "%s", jpath(t->json, "Contacts.0.ContactID"));
    assert_int_equal(api(t, "GET", "Contacts?page=2", NULL), 200);
    assert_int_equal(arr_len(t, "Contacts"), total - 100);
    assert_int_equal(api(t, "GET", "Contacts?page=3&pageSize=40", NULL), 200);
    assert_int_equal(arr_len(t, "Contacts"), 40);
    assert_int_equal(api(t, "GET", "Contacts?page=0", NULL), 400);
    assert_string_equal(jpath(t->json, "Type"), "QueryParseException");
    /* If-Modified-Since: only what changed at or after the instant */
    advance(t, 3600 * 1000LL);
    const char *fresh = new_contact(t, "Fresh Contact GmbH");
    char fresh_id[48];
    snprintf(fresh_id, sizeof fresh_id, "%s", fresh);
    const char *ims[] = {"If-Modified-Since: 2026-11-23T18:30:00", NULL};
    assert_int_equal(reqh(t, "GET", API "Contacts", NULL, ims), 200);
    assert_int_equal(arr_len(t, "Contacts"), 1);
    assert_string_equal(jpath(t->json, "Contacts.0.ContactID"), fresh_id);
    const char *ims_http[] = {"If-Modified-Since: Mon, 23 Nov 2026 19:00:00 GMT", NULL};
    assert_int_equal(reqh(t, "GET", API "Contacts", NULL, ims_http), 200);
    assert_int_equal(arr_len(t, "Contacts"), 1);
    const char *ims_bad[] = {"If-Modified-Since: yesterday", NULL};
    assert_int_equal(reqh(t, "GET", API "Contacts", NULL, ims_bad), 400);
    /* IDs */
    char rel[256];
    snprintf(rel, sizeof rel, "Contacts?IDs=%s,%s", first_id, fresh_id);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_int_equal(arr_len(t, "Contacts"), 2);
    /* where and order */
    assert_int_equal(
        api(t, "GET",
            "Contacts?where=Name.StartsWith(%22Fresh%22)%20AND%20ContactStatus%3D%3D%22ACTIVE%22",
            NULL),
        200);
    assert_int_equal(arr_len(t, "Contacts"), 1);
    snprintf(rel, sizeof rel, "Contacts?where=ContactID%%3D%%3DGuid(%%22%s%%22)", fresh_id);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_int_equal(arr_len(t, "Contacts"), 1);
    assert_int_equal(
        api(t, "GET", "Contacts?where=UpdatedDateUTC%3E%3DDateTime(2026,11,23,18,30,0)", NULL),
        200);
    assert_int_equal(arr_len(t, "Contacts"), 1);
    assert_int_equal(api(t, "GET", "Contacts?order=Name%20DESC&page=1", NULL), 200);
    const json_t *arr = json_object_get(t->json, "Contacts");
    for (size_t i = 1; i < json_array_size(arr); i++) {
        const char *a = jpath(json_array_get(arr, i - 1), "Name");
        const char *b = jpath(json_array_get(arr, i), "Name");
        char *la = hs_str_lower(a), *lb = hs_str_lower(b);
        assert_true(strcmp(la, lb) >= 0);
        hs_free(la);
        hs_free(lb);
    }
    assert_int_equal(
        api(t, "GET", "Contacts?where=Name%3D%3D%22x%22%20OR%20Name%3D%3D%22y%22", NULL), 400);
    assert_string_equal(jpath(t->json, "Type"), "QueryParseException");
    assert_int_equal(json_integer_value(json_object_get(t->json, "ErrorNumber")), 16);
    /* a field the entity does not have is refused, as Xero does, not answered empty */
    assert_int_equal(api(t, "GET", "Contacts?where=Nmae%3D%3D%22x%22", NULL), 400);
    assert_string_equal(jpath(t->json, "Type"), "QueryParseException");
    assert_int_equal(json_integer_value(json_object_get(t->json, "ErrorNumber")), 16);
    assert_string_equal(jpath(t->json, "Message"),
                        "where: No property or field 'Nmae' exists in type 'Contact'");
    assert_int_equal(api(t, "GET", "Contacts?order=Nmae%20DESC&page=1", NULL), 400);
    assert_string_equal(jpath(t->json, "Message"),
                        "order: No property or field 'Nmae' exists in type 'Contact'");
    assert_int_equal(api(t, "GET", "Invoices?where=Contact.Nmae%3D%3D%22x%22", NULL), 400);
    assert_string_equal(jpath(t->json, "Message"),
                        "where: No property or field 'Nmae' exists in type 'Contact'");
    assert_int_equal(api(t, "GET", "Items?order=SalesDetails.Price", NULL), 400);
    assert_string_equal(jpath(t->json, "Message"),
                        "order: No property or field 'Price' exists in type 'Purchase'");
    /* fields of the spec's schemas, in any case, absent from every record or not */
    assert_int_equal(api(t, "GET", "Contacts?where=name%3D%3D%22x%22", NULL), 200);
    assert_int_equal(api(t, "GET", "Contacts?where=Website%3D%3Dnull&order=AccountNumber", NULL),
                     200);
    assert_int_equal(api(t, "GET",
                         "Invoices?where=Contact.ContactID%3D%3DGuid(%2200000000-0000-0000-0000-"
                         "000000000000%22)&order=Contact.Name",
                         NULL),
                     200);
    assert_int_equal(api(t, "GET", "Items?order=SalesDetails.UnitPrice%20DESC", NULL), 200);
    assert_int_equal(api(t, "GET", "Accounts?where=Type%3D%3D%22BANK%22", NULL), 200);
    close_t(t);
}

static void test_sbx_xero_field_known(void **state)
{
    (void)state;
    char msg[160];
    assert_true(hs_xero_field_known("Contact", "Name", msg, sizeof msg));
    assert_true(hs_xero_field_known("Payment", "Invoice.Contact.ContactID", msg, sizeof msg));
    assert_true(hs_xero_field_known("Contact", "Balances.AccountsReceivable", msg, sizeof msg));
    assert_true(hs_xero_field_known("Organisation", "Anything", msg, sizeof msg));
    assert_false(hs_xero_field_known("Payment", "Invoice.Contact.Nope", msg, sizeof msg));
    assert_string_equal(msg, "No property or field 'Nope' exists in type 'Contact'");
    assert_false(hs_xero_field_known("TaxRate", "Rate", NULL, 0));
    assert_false(hs_xero_field_known("Currency", "Codes", msg, sizeof msg));
    assert_string_equal(msg, "No property or field 'Codes' exists in type 'Currency'");
}

/* The seeded accounting customers are the same companies in QuickBooks and Xero. */
static void test_sbx_xero_seed_matches_quickbooks(void **state)
{
    (void)state;
    struct t *t = open_with(false, NULL, qbo_and_xero, 2, 0);
    assert_int_equal(req(t, "GET", "/_sandbox/tenants", NULL), 200);
    char realm[32];
    snprintf(realm, sizeof realm, "%s", jpath(t->json, "quickbooks.realmId"));
    char target[256];
    snprintf(
        target, sizeof target,
        "/quickbooks/v3/company/%s/query?query=select%%20*%%20from%%20Customer%%20maxresults%%20"
        "1000",
        realm);
    assert_int_equal(req(t, "GET", target, NULL), 200);
    json_t *qc =
        json_incref(json_object_get(json_object_get(t->json, "QueryResponse"), "Customer"));
    assert_int_equal(api(t, "GET", "Contacts", NULL), 200);
    const json_t *xc = json_object_get(t->json, "Contacts");
    assert_true(json_array_size(xc) > 0);
    assert_int_equal(json_array_size(xc), json_array_size(qc));
    for (size_t i = 0; i < json_array_size(qc); i++) {
        const json_t *q = json_array_get(qc, i);
        const json_t *x = json_array_get(xc, i);
        assert_string_equal(jpath(q, "DisplayName"), jpath(x, "Name"));
        assert_string_equal(jpath(q, "PrimaryEmailAddr.Address"), jpath(x, "EmailAddress"));
        assert_string_equal(jpath(q, "CurrencyRef.value"), jpath(x, "DefaultCurrency"));
    }
    json_decref(qc);
    close_t(t);
}

/* ---- items ---- */

static void test_sbx_xero_items(void **state)
{
    struct t *t = *state;
    assert_int_equal(api(t, "GET", "Items", NULL), 200);
    size_t seeded = arr_len(t, "Items");
    assert_true(seeded > 0);
    assert_non_null(jpath(t->json, "Items.0.SalesDetails.AccountCode"));
    assert_int_equal(
        api(t, "PUT", "Items?summarizeErrors=false",
            "{\"Items\":[{\"Code\":\"WIDGET-1\",\"Name\":\"Widget\",\"Description\":"
            "\"A widget\",\"SalesDetails\":{\"UnitPrice\":12.345,\"AccountCode\":"
            "\"200\",\"TaxType\":\"OUTPUT\"}},{\"Code\":\"widget-1\"},"
            "{\"Code\":\"X\",\"SalesDetails\":{\"AccountCode\":\"999\"}},{\"Name\":\"no code\"}]}"),
        200);
    assert_string_equal(jpath(t->json, "Items.0.StatusAttributeString"), "OK");
    assert_body_has(t, "\"UnitPrice\":12.35"); /* 2 decimals without unitdp */
    assert_string_equal(jpath(t->json, "Items.1.ValidationErrors.0.Message"),
                        "Item code 'widget-1' already exists.");
    assert_string_equal(jpath(t->json, "Items.2.StatusAttributeString"), "ERROR");
    assert_string_equal(jpath(t->json, "Items.3.StatusAttributeString"), "ERROR");
    assert_int_equal(api(t, "PUT", "Items?summarizeErrors=false&unitdp=4",
                         "{\"Items\":[{\"Code\":\"W4\",\"SalesDetails\":{\"UnitPrice\":1.2345}}]}"),
                     200);
    assert_body_has(t, "\"UnitPrice\":1.2345");
    assert_int_equal(api(t, "GET", "Items/WIDGET-1", NULL), 200); /* by Code */
    assert_string_equal(jpath(t->json, "Items.0.Name"), "Widget");
    assert_int_equal(api(t, "GET", "Items?where=Code%3D%3D%22W4%22", NULL), 200);
    assert_int_equal(arr_len(t, "Items"), 1);
}

/* ---- invoices ---- */

static void test_sbx_xero_invoice_amounts(void **state)
{
    struct t *t = *state;
    const char *cid = new_contact(t, "Tax Test Inc");
    char body[2048];
    /* Exclusive, OUTPUT = 7.25% + 1% rounded per rate and per line:
     * line 1: 3 x 33.33 = 99.99 -> 7.25% = 7.249275 -> 7.25, 1% = 0.9999 -> 1.00 : 8.25
     * line 2: 1 x 10.05 less 10% = 9.045 -> 9.05 -> 0.656125 -> 0.66, 0.0905 -> 0.09 : 0.75 */
    snprintf(body, sizeof body,
             "{\"Invoices\":[{\"Type\":\"ACCREC\",\"Contact\":{\"ContactID\":\"%s\"},"
             "\"Date\":\"2026-11-20\",\"DueDate\":\"2026-12-20\",\"Status\":\"AUTHORISED\","
             "\"LineAmountTypes\":\"Exclusive\",\"LineItems\":["
             "{\"Description\":\"A\",\"Quantity\":3,\"UnitAmount\":33.33,\"AccountCode\":\"200\","
             "\"TaxType\":\"OUTPUT\"},"
             "{\"Description\":\"B\",\"Quantity\":1,\"UnitAmount\":10.05,\"DiscountRate\":10,"
             "\"AccountCode\":\"200\",\"TaxType\":\"OUTPUT\"}]}]}",
             cid);
    assert_int_equal(api(t, "PUT", "Invoices?summarizeErrors=false", body), 200);
    assert_string_equal(jpath(t->json, "Invoices.0.StatusAttributeString"), "OK");
    assert_body_has(t, "\"LineAmount\":99.99");
    assert_body_has(t, "\"TaxAmount\":8.25");
    assert_body_has(t, "\"LineAmount\":9.05");
    assert_body_has(t, "\"TaxAmount\":0.75");
    assert_body_has(t, "\"SubTotal\":109.04");
    assert_body_has(t, "\"TotalTax\":9.00");
    assert_body_has(t, "\"Total\":118.04");
    assert_body_has(t, "\"AmountDue\":118.04");
    assert_body_has(t, "\"AmountPaid\":0.00");
    assert_body_has(t, "\"Date\":\"/Date(1795132800000+0000)/\"");
    assert_string_equal(jpath(t->json, "Invoices.0.InvoiceNumber"), "INV-0001");
    assert_string_equal(jpath(t->json, "Invoices.0.CurrencyCode"), "USD");
    assert_string_equal(jpath(t->json, "Invoices.0.Contact.Name"), "Tax Test Inc");
    /* Inclusive VAT 20%: 120.00 gross -> 20.00 tax; 10.01 -> 1.668.. -> 1.67 */
    snprintf(body, sizeof body,
             "{\"Invoices\":[{\"Type\":\"ACCREC\",\"Contact\":{\"ContactID\":\"%s\"},"
             "\"LineAmountTypes\":\"Inclusive\",\"LineItems\":["
             "{\"Description\":\"A\",\"Quantity\":1,\"UnitAmount\":120,\"AccountCode\":\"200\","
             "\"TaxType\":\"TAX001\"},{\"Description\":\"B\",\"Quantity\":1,\"UnitAmount\":10.01,"
             "\"AccountCode\":\"200\",\"TaxType\":\"TAX001\"}]}]}",
             cid);
    assert_int_equal(api(t, "PUT", "Invoices?summarizeErrors=false", body), 200);
    assert_body_has(t, "\"TotalTax\":21.67");
    assert_body_has(t, "\"SubTotal\":108.34");
    assert_body_has(t, "\"Total\":130.01");
    assert_string_equal(jpath(t->json, "Invoices.0.Status"), "DRAFT");
    assert_string_equal(jpath(t->json, "Invoices.0.InvoiceNumber"), "INV-0002");
    /* NoTax, a JPY invoice (0 decimals), and a new contact made from the Name */
    assert_int_equal(
        api(t, "PUT", "Invoices?summarizeErrors=false",
            "{\"Invoices\":[{\"Type\":\"ACCREC\",\"Contact\":{\"Name\":\"Brand New KK\"},"
            "\"CurrencyCode\":\"JPY\",\"LineAmountTypes\":\"NoTax\",\"LineItems\":["
            "{\"Description\":\"A\",\"Quantity\":3,\"UnitAmount\":333.5,"
            "\"AccountCode\":\"200\",\"TaxType\":\"TAX001\"}]}]}"),
        200);
    assert_string_equal(jpath(t->json, "Invoices.0.StatusAttributeString"), "OK");
    assert_body_has(t, "\"LineAmount\":1001,"); /* 1000.5 rounds half away from zero */
    assert_body_has(t, "\"TotalTax\":0,");
    assert_string_equal(jpath(t->json, "Invoices.0.LineItems.0.TaxType"), "NONE");
    assert_int_equal(api(t, "GET", "Contacts?where=Name%3D%3D%22Brand%20New%20KK%22", NULL), 200);
    assert_int_equal(arr_len(t, "Contacts"), 1);
    /* validation: a LineAmount that disagrees, an unknown tax type, ACCPAY, no contact */
    snprintf(
        body, sizeof body,
        "{\"Invoices\":[{\"Type\":\"ACCREC\",\"Contact\":{\"ContactID\":\"%s\"},"
        "\"LineItems\":[{\"Description\":\"A\",\"Quantity\":2,\"UnitAmount\":5,"
        "\"LineAmount\":11,\"AccountCode\":\"200\"}]},"
        "{\"Type\":\"ACCREC\",\"Contact\":{\"ContactID\":\"%s\"},\"LineItems\":[{"
        "\"Description\":\"A\",\"UnitAmount\":5,\"AccountCode\":\"200\",\"TaxType\":\"NOPE\"}]},"
        "{\"Type\":\"ACCPAY\",\"Contact\":{\"ContactID\":\"%s\"}},"
        "{\"Type\":\"ACCREC\"},"
        "{\"Type\":\"ACCREC\",\"Contact\":{\"ContactID\":\"%s\"},\"Status\":\"AUTHORISED\"}]}",
        cid, cid, cid, cid);
    assert_int_equal(api(t, "PUT", "Invoices?summarizeErrors=false", body), 200);
    assert_string_equal(jpath(t->json, "Invoices.0.ValidationErrors.0.Message"),
                        "The line total 11.000000 does not match the expected line total 10.00.");
    assert_true(json_is_true(
        json_object_get(json_array_get(json_object_get(t->json, "Invoices"), 0), "HasErrors")));
    for (int i = 1; i < 5; i++) {
        char path[64];
        snprintf(path, sizeof path, "Invoices.%d.StatusAttributeString", i);
        assert_string_equal(jpath(t->json, path), "ERROR");
    }
    /* lists: Statuses and ContactIDs filters, GET by number */
    assert_int_equal(api(t, "GET", "Invoices?Statuses=AUTHORISED", NULL), 200);
    assert_int_equal(arr_len(t, "Invoices"), 1);
    /* without page, no line items (as Xero); with page, full invoices */
    assert_null(
        json_object_get(json_array_get(json_object_get(t->json, "Invoices"), 0), "LineItems"));
    assert_int_equal(api(t, "GET", "Invoices?Statuses=AUTHORISED&page=1", NULL), 200);
    assert_int_equal(json_array_size(json_object_get(
                         json_array_get(json_object_get(t->json, "Invoices"), 0), "LineItems")),
                     2);
    char rel[256];
    snprintf(rel, sizeof rel, "Invoices?ContactIDs=%s&page=1", cid);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_int_equal(arr_len(t, "Invoices"), 2);
    assert_int_equal(api(t, "GET", "Invoices/INV-0002", NULL), 200);
    assert_string_equal(jpath(t->json, "Invoices.0.LineAmountTypes"), "Inclusive");
    assert_int_equal(api(t, "GET", "Invoices?where=Total%3E100%20AND%20Total%3C120", NULL), 200);
    assert_int_equal(arr_len(t, "Invoices"), 1);
}

/* Amount (minor units, scale 2) of a marked number, failing the test when it is none. */
static int64_t amount_of(const json_t *v)
{
    int64_t out = 0;
    assert_int_equal(hs_qbo_num_get(v, 2, &out), HS_OK);
    return out;
}

/* The sandbox's invoice arithmetic agrees with core/tax.h's Xero policy on random invoices. */
static void test_sbx_xero_invoices_agree_with_core_tax(void **state)
{
    struct t *t = *state;
    const char *cid = new_contact(t, "Agreement Pty");
    static const struct {
        const char *type;
        int64_t pct[2]; /* scale 6 */
    } types[] = {{"NONE", {0, 0}},
                 {"OUTPUT", {7250000, 1000000}},
                 {"TAX001", {20000000, 0}},
                 {"TAX002", {5000000, 0}},
                 {"TAX003", {10000000, 0}}};
    static const char *const modes[] = {"Exclusive", "Inclusive", "NoTax"};
    static const enum hs_tax_mode core_modes[] = {HS_TAX_EXCLUSIVE, HS_TAX_INCLUSIVE, HS_TAX_NONE};
    uint64_t rng = 0x243F6A8885A308D3ULL;
    for (int n = 0; n < 150; n++) {
        size_t n_lines = 1 + (size_t)(rng % 5);
        int mode = (int)((rng >> 8) % 3);
        struct hs_tax_code codes[5];
        struct hs_tax_line lines[5];
        char body[4096];
        int len = snprintf(body, sizeof body,
                           "{\"Invoices\":[{\"Type\":\"ACCREC\",\"Contact\":{\"ContactID\":\"%s\"},"
                           "\"LineAmountTypes\":\"%s\",\"LineItems\":[",
                           cid, modes[mode]);
        for (size_t k = 0; k < n_lines; k++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            int64_t qty_micro = (int64_t)(1 + (rng >> 33) % 40) * 250000; /* 0.25 .. 10 */
            int64_t price = (int64_t)((rng >> 17) % 500000);              /* minor units */
            int64_t disc = (int64_t)((rng >> 41) % 4) * 12500000 / 10;    /* 0, 1.25, 2.5, 3.75 */
            size_t ti = (size_t)((rng >> 50) % 5);
            memset(&codes[k], 0, sizeof codes[k]);
            snprintf(codes[k].code, sizeof codes[k].code, "%s", types[ti].type);
            for (int c = 0; c < 2 && types[ti].pct[c] > 0; c++) {
                snprintf(codes[k].components[c].rate_ref, HS_TAX_REF_MAX, "%s%d", types[ti].type,
                         c);
                codes[k].components[c].percent.v = types[ti].pct[c];
                codes[k].n_components++;
            }
            struct hs_decimal q = {qty_micro}, d = {disc};
            memset(&lines[k], 0, sizeof lines[k]);
            assert_int_equal(
                hs_tax_line_amount(q, price, &d, HS_ROUND_HALF_UP, &lines[k].amount, NULL), HS_OK);
            lines[k].code = &codes[k];
            char qs[40], ps[40], ds[40];
            hs_qbo_dec_format(qty_micro, 6, qs, sizeof qs);
            hs_qbo_dec_format(price, 2, ps, sizeof ps);
            hs_qbo_dec_format(disc, 6, ds, sizeof ds);
            len += snprintf(body + len, sizeof body - (size_t)len,
                            "%s{\"Description\":\"L%zu\",\"Quantity\":%s,\"UnitAmount\":%s,"
                            "\"DiscountRate\":%s,\"AccountCode\":\"200\",\"TaxType\":\"%s\"}",
                            k ? "," : "", k, qs, ps, ds, types[ti].type);
        }
        snprintf(body + len, sizeof body - (size_t)len, "]}]}");
        struct hs_tax_policy pol = hs_tax_policy_xero(core_modes[mode]);
        struct hs_tax_totals tot;
        assert_int_equal(hs_tax_compute(&pol, lines, n_lines, &tot, NULL), HS_OK);
        assert_int_equal(api(t, "PUT", "Invoices?summarizeErrors=false", body), 200);
        json_t *exact = NULL;
        assert_int_equal(
            hs_qbo_json_parse((const uint8_t *)body_text(t), t->resp.body.len, &exact, NULL),
            HS_OK);
        const json_t *inv = json_array_get(json_object_get(exact, "Invoices"), 0);
        if (!hs_str_eq(json_string_value(json_object_get(inv, "StatusAttributeString")), "OK"))
            fail_msg("invoice %d refused: %s", n, body_text(t));
        assert_int_equal(amount_of(json_object_get(inv, "SubTotal")), tot.subtotal);
        assert_int_equal(amount_of(json_object_get(inv, "TotalTax")), tot.tax);
        assert_int_equal(amount_of(json_object_get(inv, "Total")), tot.total);
        for (size_t k = 0; k < n_lines; k++) {
            const json_t *l = json_array_get(json_object_get(inv, "LineItems"), k);
            assert_int_equal(amount_of(json_object_get(l, "LineAmount")), lines[k].amount);
            assert_int_equal(amount_of(json_object_get(l, "TaxAmount")), lines[k].tax);
        }
        json_decref(exact);
    }
}

/* Creates an AUTHORISED USD invoice of total 100.00 (no tax); returns its id (static). */
static const char *new_invoice(struct t *t)
{
    static char id[48];
    const char *cid = new_contact(t, "Payer Corp");
    char body[1024];
    snprintf(body, sizeof body,
             "{\"Invoices\":[{\"Type\":\"ACCREC\",\"Contact\":{\"ContactID\":\"%s\"},"
             "\"Status\":\"AUTHORISED\",\"LineAmountTypes\":\"NoTax\",\"LineItems\":["
             "{\"Description\":\"A\",\"Quantity\":4,\"UnitAmount\":25,\"AccountCode\":\"200\"}]}]}",
             cid);
    assert_int_equal(api(t, "PUT", "Invoices?summarizeErrors=false", body), 200);
    snprintf(id, sizeof id, "%s", jpath(t->json, "Invoices.0.InvoiceID"));
    return id;
}

static void test_sbx_xero_payments(void **state)
{
    struct t *t = *state;
    char inv[48];
    snprintf(inv, sizeof inv, "%s", new_invoice(t));
    char body[512], rel[128];
    snprintf(rel, sizeof rel, "Invoices/%s", inv);
    snprintf(body, sizeof body,
             "{\"Payments\":[{\"Invoice\":{\"InvoiceID\":\"%s\"},\"Account\":{\"Code\":\"090\"},"
             "\"Date\":\"2026-11-23\",\"Amount\":40.00,\"Reference\":\"p1\"}]}",
             inv);
    assert_int_equal(api(t, "PUT", "Payments?summarizeErrors=false", body), 200);
    assert_string_equal(jpath(t->json, "Payments.0.StatusAttributeString"), "OK");
    assert_string_equal(jpath(t->json, "Payments.0.Status"), "AUTHORISED");
    char pay1[48];
    snprintf(pay1, sizeof pay1, "%s", jpath(t->json, "Payments.0.PaymentID"));
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_body_has(t, "\"AmountDue\":60.00");
    assert_body_has(t, "\"AmountPaid\":40.00");
    assert_string_equal(jpath(t->json, "Invoices.0.Status"), "AUTHORISED");
    assert_string_equal(jpath(t->json, "Invoices.0.Payments.0.PaymentID"), pay1);
    /* more than is due; not a bank account; three decimals */
    snprintf(body, sizeof body,
             "{\"Payments\":[{\"Invoice\":{\"InvoiceID\":\"%s\"},\"Account\":{\"Code\":\"090\"},"
             "\"Amount\":60.01},{\"Invoice\":{\"InvoiceID\":\"%s\"},\"Account\":{\"Code\":\"200\"},"
             "\"Amount\":1},{\"Invoice\":{\"InvoiceID\":\"%s\"},\"Account\":{\"Code\":\"090\"},"
             "\"Amount\":1.001}]}",
             inv, inv, inv);
    assert_int_equal(api(t, "PUT", "Payments?summarizeErrors=false", body), 200);
    assert_string_equal(jpath(t->json, "Payments.0.ValidationErrors.0.Message"),
                        "Payment amount exceeds the amount outstanding on this document");
    assert_string_equal(jpath(t->json, "Payments.1.StatusAttributeString"), "ERROR");
    assert_string_equal(jpath(t->json, "Payments.2.StatusAttributeString"), "ERROR");
    /* the rest: PAID */
    snprintf(body, sizeof body,
             "{\"Payments\":[{\"Invoice\":{\"InvoiceNumber\":\"INV-0001\"},\"Account\":{\"Code\":"
             "\"090\"},\"Date\":\"2026-11-24\",\"Amount\":60}]}");
    assert_int_equal(api(t, "PUT", "Payments?summarizeErrors=false", body), 200);
    assert_string_equal(jpath(t->json, "Payments.0.StatusAttributeString"), "OK");
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_string_equal(jpath(t->json, "Invoices.0.Status"), "PAID");
    assert_body_has(t, "\"AmountDue\":0.00");
    assert_body_has(t, "\"FullyPaidOnDate\":\"/Date(1795478400000+0000)/\"");
    /* a paid invoice cannot be edited */
    snprintf(body, sizeof body, "{\"Invoices\":[{\"InvoiceID\":\"%s\",\"Reference\":\"x\"}]}", inv);
    assert_int_equal(api(t, "POST", "Invoices?summarizeErrors=false", body), 200);
    assert_string_equal(jpath(t->json, "Invoices.0.StatusAttributeString"), "ERROR");
    /* deleting the first payment re-opens the invoice */
    snprintf(rel, sizeof rel, "Payments/%s", pay1);
    assert_int_equal(api(t, "POST", rel, "{\"Payments\":[{\"Status\":\"DELETED\"}]}"), 200);
    assert_string_equal(jpath(t->json, "Payments.0.Status"), "DELETED");
    snprintf(rel, sizeof rel, "Invoices/%s", inv);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_string_equal(jpath(t->json, "Invoices.0.Status"), "AUTHORISED");
    assert_body_has(t, "\"AmountDue\":40.00");
    assert_int_equal(api(t, "GET", "Payments?page=1", NULL), 200);
    assert_int_equal(arr_len(t, "Payments"), 2);
    /* voiding needs no payments left */
    snprintf(body, sizeof body, "{\"Invoices\":[{\"InvoiceID\":\"%s\",\"Status\":\"VOIDED\"}]}",
             inv);
    assert_int_equal(api(t, "POST", "Invoices?summarizeErrors=false", body), 200);
    assert_string_equal(jpath(t->json, "Invoices.0.StatusAttributeString"), "ERROR");
}

static void test_sbx_xero_credit_notes_and_lists(void **state)
{
    struct t *t = *state;
    const char *cid = new_contact(t, "Credit Me Ltd");
    char body[1024];
    snprintf(body, sizeof body,
             "{\"CreditNotes\":[{\"Type\":\"ACCRECCREDIT\",\"Contact\":{\"ContactID\":\"%s\"},"
             "\"Status\":\"AUTHORISED\",\"LineItems\":[{\"Description\":\"Refund\",\"Quantity\":1,"
             "\"UnitAmount\":50,\"AccountCode\":\"200\",\"TaxType\":\"TAX002\"}]}]}",
             cid);
    assert_int_equal(api(t, "PUT", "CreditNotes?summarizeErrors=false", body), 200);
    assert_string_equal(jpath(t->json, "CreditNotes.0.StatusAttributeString"), "OK");
    assert_string_equal(jpath(t->json, "CreditNotes.0.CreditNoteNumber"), "CN-0001");
    assert_body_has(t, "\"Total\":52.50");
    assert_body_has(t, "\"RemainingCredit\":52.50");
    assert_int_equal(api(t, "GET", "CreditNotes?page=1", NULL), 200);
    assert_int_equal(arr_len(t, "CreditNotes"), 1);
    assert_int_equal(api(t, "GET", "CreditNotes/CN-0001", NULL), 200);
    /* the reference lists */
    assert_int_equal(api(t, "GET", "TaxRates", NULL), 200);
    assert_int_equal(api(t, "GET", "TaxRates?where=TaxType%3D%3D%22OUTPUT%22", NULL), 200);
    assert_int_equal(arr_len(t, "TaxRates"), 1);
    assert_body_has(t, "\"EffectiveRate\":8.2500");
    assert_int_equal(api(t, "GET", "Currencies", NULL), 200);
    assert_true(arr_len(t, "Currencies") >= 9);
    assert_int_equal(api(t, "GET", "Accounts?where=Type%3D%3D%22BANK%22", NULL), 200);
    assert_int_equal(arr_len(t, "Accounts"), 1);
    assert_string_equal(jpath(t->json, "Accounts.0.Code"), "090");
}

static void test_sbx_xero_idempotency_key(void **state)
{
    struct t *t = *state;
    const char *h[] = {"Idempotency-Key: k-1", NULL};
    const char *body = "{\"Contacts\":[{\"Name\":\"Once Only Ltd\"}]}";
    assert_int_equal(reqh(t, "PUT", API "Contacts?summarizeErrors=false", body, h), 200);
    char *first = hs_strdup(body_text(t));
    assert_int_equal(reqh(t, "PUT", API "Contacts?summarizeErrors=false", body, h), 200);
    assert_string_equal(body_text(t), first);
    hs_free(first);
    assert_int_equal(api(t, "GET", "Contacts?where=Name%3D%3D%22Once%20Only%20Ltd%22", NULL), 200);
    assert_int_equal(arr_len(t, "Contacts"), 1);
    /* a failed answer is replayed too; keys are per tenant */
    const char *h2[] = {"Idempotency-Key: k-2", NULL};
    assert_int_equal(reqh(t, "PUT", API "Contacts", body, h2), 400);
    assert_int_equal(reqh(t, "PUT", API "Contacts", "{\"Contacts\":[{\"Name\":\"Other\"}]}", h2),
                     400);
    t->tenant_hdr = t->tenant2;
    assert_int_equal(reqh(t, "PUT", API "Contacts?summarizeErrors=false", body, h), 200);
    assert_string_equal(jpath(t->json, "Contacts.0.StatusAttributeString"), "OK");
    char longkey[200] = "Idempotency-Key: ";
    memset(longkey + strlen(longkey), 'k', 129);
    const char *h3[] = {longkey, NULL};
    assert_int_equal(reqh(t, "PUT", API "Contacts", body, h3), 400);
}

/* The last 20,000 keys of a tenant are kept: the oldest goes first, the newer ones stay. */
static void test_sbx_xero_idempotency_keys_keep_the_last_20000(void **state)
{
    struct t *t = *state;
    char key[64];
    const char *h[] = {key, NULL};
    for (int i = 0; i <= 20000; i++) {
        snprintf(key, sizeof key, "Idempotency-Key: ev-%d", i);
        /* not JSON: a 400 PostDataInvalidException, stored under the key like any answer */
        assert_int_equal(reqh(t, "PUT", API "Contacts", "x", h), 400);
    }
    const char *good = "{\"Contacts\":[{\"Name\":\"Evicted Key Ltd\"}]}";
    /* ev-0 was the oldest of 20,001: gone, so the request is done anew */
    snprintf(key, sizeof key, "Idempotency-Key: ev-0");
    assert_int_equal(reqh(t, "PUT", API "Contacts?summarizeErrors=false", good, h), 200);
    /* ev-2 (ev-1 went for ev-0's new answer) and the newest are still answered from the store */
    snprintf(key, sizeof key, "Idempotency-Key: ev-2");
    assert_int_equal(reqh(t, "PUT", API "Contacts?summarizeErrors=false", good, h), 400);
    assert_string_equal(jpath(t->json, "Type"), "PostDataInvalidException");
    snprintf(key, sizeof key, "Idempotency-Key: ev-20000");
    assert_int_equal(reqh(t, "PUT", API "Contacts?summarizeErrors=false", good, h), 400);
}

/* ---- webhooks ---- */

struct receiver {
    pthread_mutex_t mu;
    const char *key;
    int n;
    int bad_sig;
    json_t *events; /* every event received */
    json_t *last;   /* the last correctly signed body */
};

static int receive(void *ud, const struct hs_http_request *req, struct hs_http_response *resp)
{
    struct receiver *r = ud;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)r->key, strlen(r->key));
    crypto_auth_hmacsha256_update(
        &st, (const unsigned char *)(req->body.data ? req->body.data : ""), req->body.len);
    crypto_auth_hmacsha256_final(&st, mac);
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    const char *sig = hs_http_headers_get(&req->headers, "x-xero-signature");
    bool ok = sig != NULL && strcmp(sig, b64) == 0;
    pthread_mutex_lock(&r->mu);
    r->n++;
    if (!ok) {
        r->bad_sig++;
    } else {
        json_t *b = json_loadb(req->body.data, req->body.len, 0, NULL);
        json_array_extend(r->events, json_object_get(b, "events"));
        json_decref(r->last);
        r->last = b;
    }
    pthread_mutex_unlock(&r->mu);
    resp->status = ok ? 200 : 401;
    return HS_OK;
}

static void test_sbx_xero_webhooks_and_intent(void **state)
{
    struct t *t = *state;
    struct receiver r = {PTHREAD_MUTEX_INITIALIZER, "whkey", 0, 0, json_array(), NULL};
    struct hs_http_server_config cfg = {"127.0.0.1", 0, 0, 2};
    struct hs_http_server *srv = NULL;
    assert_int_equal(hs_http_server_open(&cfg, receive, &r, &srv, NULL), HS_OK);
    char url[96], body[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/hook", (unsigned)hs_http_server_port(srv));
    /* intent to receive: the receiver answers 200 to the right signature, 401 to the wrong */
    snprintf(body, sizeof body, "{\"url\":\"%s\",\"key\":\"whkey\"}", url);
    assert_int_equal(req(t, "POST", "/xero/_sandbox/intent", body), 200);
    assert_string_equal(jpath(t->json, "status"), "OK");
    assert_int_equal(r.n, 2);
    assert_int_equal(r.bad_sig, 1);
    /* checked with another key, the receiver refuses both: the check fails */
    snprintf(body, sizeof body, "{\"url\":\"%s\",\"key\":\"other\"}", url);
    assert_int_equal(req(t, "POST", "/xero/_sandbox/intent", body), 200);
    assert_string_equal(jpath(t->json, "status"), "FAILED");
    assert_int_equal(req(t, "POST", "/xero/_sandbox/intent", "{\"url\":\"http://10.0.0.1/\"}"),
                     400);
    /* deliveries */
    snprintf(body, sizeof body, "{\"provider\":\"xero\",\"url\":\"%s\",\"secret\":\"whkey\"}", url);
    assert_int_equal(req(t, "POST", "/_sandbox/webhooks", body), 201);
    char cid[48];
    snprintf(cid, sizeof cid, "%s", new_contact(t, "Hooked Ltd"));
    assert_int_equal(
        api(t, "PUT", "Items?summarizeErrors=false", "{\"Items\":[{\"Code\":\"NOHOOK\"}]}"),
        200); /* Xero sends no item events */
    assert_int_equal(hs_sbx_webhook_drain(t->sbx, 5000), HS_OK);
    pthread_mutex_lock(&r.mu);
    assert_int_equal(r.bad_sig, 3);
    assert_int_equal(json_array_size(r.events), 1);
    const json_t *ev = json_array_get(r.events, 0);
    assert_string_equal(jpath(ev, "resourceId"), cid);
    assert_string_equal(jpath(ev, "eventCategory"), "CONTACT");
    assert_string_equal(jpath(ev, "eventType"), "CREATE");
    assert_string_equal(jpath(ev, "tenantId"), t->tenant);
    assert_string_equal(jpath(ev, "tenantType"), "ORGANISATION");
    assert_true(hs_str_ends(jpath(ev, "resourceUrl"), cid));
    assert_int_equal(json_integer_value(json_object_get(r.last, "firstEventSequence")), 1);
    assert_int_equal(json_integer_value(json_object_get(r.last, "lastEventSequence")), 1);
    assert_int_equal(strlen(jpath(r.last, "entropy")), 20);
    pthread_mutex_unlock(&r.mu);
    hs_http_server_close(srv);
    json_decref(r.events);
    json_decref(r.last);
}

/* ---- persistence ---- */

static void test_sbx_xero_persistence(void **state)
{
    (void)state;
    char path[] = "/tmp/test_sbx_xero_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    struct t *t = open_t(false, path);
    new_invoice(t);
    char inv[48];
    snprintf(inv, sizeof inv, "%s", jpath(t->json, "Invoices.0.InvoiceID"));
    hs_sbx_close(t->sbx);
    t->sbx = NULL;
    json_decref(t->json);
    t->json = NULL;
    hs_http_response_release(&t->resp);
    hs_free(t);
    t = open_t(false, path);
    char rel[96];
    snprintf(rel, sizeof rel, "Invoices/%s", inv);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_body_has(t, "\"Total\":100.00");
    assert_int_equal(api(t, "PUT", "Contacts?summarizeErrors=false",
                         "{\"Contacts\":[{\"Name\":\"Payer Corp\"}]}"),
                     200);
    assert_string_equal(jpath(t->json, "Contacts.0.StatusAttributeString"), "ERROR");
    close_t(t);
    unlink(path);
}

/* ---- where, order and dates ---- */

static void test_sbx_xero_where_parser(void **state)
{
    (void)state;
    struct hs_error err;
    json_t *o = NULL;
    struct hs_xero_where *w = NULL;
    assert_int_equal(hs_qbo_json_parse((const uint8_t *)"{\"Name\":\"Acme\",\"Total\":10.50,"
                                                        "\"Contact\":{\"ContactID\":\"AB-1\"},"
                                                        "\"Paid\":false,\"UpdatedDateUTC\":"
                                                        "\"/Date(1795456800000+0000)/\"}",
                                       strlen("{\"Name\":\"Acme\",\"Total\":10.50,"
                                              "\"Contact\":{\"ContactID\":\"AB-1\"},"
                                              "\"Paid\":false,\"UpdatedDateUTC\":"
                                              "\"/Date(1795456800000+0000)/\"}"),
                                       &o, &err),
                     HS_OK);
    static const struct {
        const char *where;
        bool match;
    } cases[] = {
        {"Name==\"acme\"", true},
        {"Name != \"Acme\"", false},
        {"Name.Contains(\"CM\") && Total >= 10.5", true},
        {"Name.EndsWith(\"me\") AND Total<10.5", false},
        {"Contact.ContactID=guid(\"ab-1\")", true},
        {"Paid == false and Reference == null", true},
        {"Reference != null", false},
        {"UpdatedDateUTC > DateTime(2026, 11, 23, 17, 59, 59)", true},
        {"UpdatedDateUTC >= DateTime(2026,11,24)", false},
        {"Name.StartsWith(\"Ac\")", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hs_error_clear(&err);
        int rc = hs_xero_where_parse(cases[i].where, &w, &err);
        if (rc != HS_OK)
            print_error("%s: %s\n", cases[i].where, err.msg);
        assert_int_equal(rc, HS_OK);
        assert_int_equal(hs_xero_where_match(w, o), cases[i].match);
        hs_xero_where_free(w);
    }
    static const char *const bad[] = {"",
                                      "Name",
                                      "Name ==",
                                      "Name == \"x",
                                      "Name.Foo(\"x\")",
                                      "Name == \"a\" OR Name == \"b\"",
                                      "Total == 1.2.3",
                                      "X == DateTime(2026,13,1)",
                                      "(Name == \"a\")"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hs_error_clear(&err);
        assert_int_equal(hs_xero_where_parse(bad[i], &w, &err), HS_EINVAL);
        assert_null(w);
        assert_non_null(strstr(err.msg, "column"));
    }
    struct hs_xero_order *ord = NULL;
    assert_int_equal(hs_xero_order_parse("Name DESC, Total", &ord, &err), HS_OK);
    assert_int_equal(ord->n, 2);
    assert_true(ord->desc[0]);
    assert_false(ord->desc[1]);
    hs_xero_order_free(ord);
    assert_int_equal(hs_xero_order_parse("Name SIDEWAYS", &ord, &err), HS_EINVAL);
    assert_int_equal(hs_xero_order_parse("", &ord, &err), HS_EINVAL);
    json_decref(o);
    int64_t ms;
    assert_true(hs_xero_time_parse("2026-11-23T18:00:00", &ms));
    assert_int_equal(ms, START_MS);
    assert_true(hs_xero_time_parse("Mon, 23 Nov 2026 18:00:00 GMT", &ms));
    assert_int_equal(ms, START_MS);
    assert_true(hs_xero_time_parse("/Date(1795456800000+0000)/", &ms));
    assert_int_equal(ms, START_MS);
    assert_true(hs_xero_time_parse("2026-11-23", &ms));
    assert_int_equal(ms, START_MS - 18 * 3600000LL);
    assert_false(hs_xero_time_parse("2026-02-30", &ms));
    assert_false(hs_xero_time_parse("/Date(abc)/", &ms));
    char buf[48];
    hs_xero_msdate_format(START_MS, buf, sizeof buf);
    assert_string_equal(buf, "/Date(1795456800000+0000)/");
}

static void test_sbx_xero_where_alloc_failures(void **state)
{
    (void)state;
    for (int n = 0; n < 200; n++) {
        struct hs_error err;
        struct hs_xero_where *w = NULL;
        failalloc_arm(n);
        int rc = hs_xero_where_parse("Name.Contains(\"a\") AND Contact.ContactID==guid(\"x\") "
                                     "AND Total>1",
                                     &w, &err);
        failalloc_disarm();
        if (rc == HS_OK) {
            hs_xero_where_free(w);
            return;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_null(w);
    }
    fail_msg("the parser never succeeded");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sbx_xero_tenants_and_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_xero_auth_and_tenant_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_xero_oauth_flow, setup, teardown),
        cmocka_unit_test(test_sbx_xero_rate_limits),
        cmocka_unit_test(test_sbx_xero_concurrent_limit),
        cmocka_unit_test_setup_teardown(test_sbx_xero_contacts_write_rules, setup, teardown),
        cmocka_unit_test(test_sbx_xero_contacts_list_filters),
        cmocka_unit_test(test_sbx_xero_seed_matches_quickbooks),
        cmocka_unit_test_setup_teardown(test_sbx_xero_items, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_xero_invoice_amounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_xero_invoices_agree_with_core_tax, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sbx_xero_payments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_xero_credit_notes_and_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_xero_idempotency_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_xero_idempotency_keys_keep_the_last_20000, setup,
                                        teardown),
        cmocka_unit_test(test_sbx_xero_field_known),
        cmocka_unit_test_setup_teardown(test_sbx_xero_webhooks_and_intent, setup, teardown),
        cmocka_unit_test(test_sbx_xero_persistence),
        cmocka_unit_test(test_sbx_xero_where_parser),
        cmocka_unit_test(test_sbx_xero_where_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
