/*
 * tests/unit/test_sbx_zoho.c - the Zoho Books module of hoopsync-sandbox.
 *
 * Design:     every case opens a sandbox in-process (seed 7, static token "T", frozen clock)
 *             with the Zoho module (and QuickBooks where the seeded worlds are compared) and
 *             talks to it through hs_sbx_handle, checking Zoho's status codes, its code/message
 *             envelope and error codes, rate-limit answers and exact amounts in the raw JSON
 *             text (the module never uses doubles). Random invoices are checked against
 *             core/tax.h's Zoho policy. Webhook deliveries go to a loopback receiver
 *             (hs_http_server) that checks the shared-secret header itself. The
 *             last_modified_time parser of zoho.h is tested directly.
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

#include "core/tax.h"
#include "sandbox/qbo.h"
#include "sandbox/sbx.h"
#include "sandbox/zoho.h"
#include "util/alloc.h"
#include "util/str.h"

#define START_MS 1795456800000LL /* 2026-11-23T18:00:00Z */
#define API      "/zohobooks/books/v3/"

struct t {
    struct hs_sbx *sbx;
    char org[32];
    char org2[32];
    const char *token;
    const char *org_param; /* organization_id sent, NULL for none */
    struct hs_http_response resp;
    json_t *json; /* parsed body of the last answer */
};

static const struct hs_sbx_module_ops *const only_zoho[] = {&hs_sbx_zoho_ops};
static const struct hs_sbx_module_ops *const qbo_and_zoho[] = {&hs_sbx_quickbooks_ops,
                                                               &hs_sbx_zoho_ops};

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
        snprintf(auth, sizeof auth, "%s %s",
                 strncmp(target, "/zohobooks", 10) == 0 ? "Zoho-oauthtoken" : "Bearer", t->token);
        assert_int_equal(hs_http_headers_add(&r.headers, "Authorization", auth), HS_OK);
    }
    assert_int_equal(hs_http_headers_add(&r.headers, "Host", "127.0.0.1:9"), HS_OK);
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

/* API call: "contacts?page=2" -> /zohobooks/books/v3/contacts?page=2&organization_id=... */
static int apih(struct t *t, const char *method, const char *rel, const char *body,
                const char *const *headers)
{
    char target[4096];
    if (t->org_param != NULL)
        snprintf(target, sizeof target, "%s%s%sorganization_id=%s", API, rel,
                 strchr(rel, '?') != NULL ? "&" : "?", t->org_param);
    else
        snprintf(target, sizeof target, "%s%s", API, rel);
    return reqh(t, method, target, body, headers);
}

static int api(struct t *t, const char *method, const char *rel, const char *body)
{
    return apih(t, method, rel, body, NULL);
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

static const json_t *jget(const json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *cur = o;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok != NULL && cur != NULL;
         tok = strtok_r(NULL, ".", &save))
        cur = tok[0] >= '0' && tok[0] <= '9' ? json_array_get(cur, (size_t)strtol(tok, NULL, 10))
                                             : json_object_get(cur, tok);
    return cur;
}

static const char *jpath(const json_t *o, const char *path)
{
    return json_string_value(jget(o, path));
}

static int code_of(const struct t *t)
{
    return (int)json_integer_value(json_object_get(t->json, "code"));
}

static struct t *open_with(bool limits, const char *data_file,
                           const struct hs_sbx_module_ops *const *mods, size_t n_mods)
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
    const json_t *ids = jget(t->json, "zohobooks.organizationIds");
    assert_int_equal(json_array_size(ids), 2);
    snprintf(t->org, sizeof t->org, "%s", json_string_value(json_array_get(ids, 0)));
    snprintf(t->org2, sizeof t->org2, "%s", json_string_value(json_array_get(ids, 1)));
    assert_string_equal(jpath(t->json, "zohobooks.organizationId"), t->org);
    t->token = "T";
    t->org_param = t->org;
    return t;
}

static struct t *open_t(bool limits, const char *data_file)
{
    return open_with(limits, data_file, only_zoho, 1);
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

/* POSTs one contact and returns its contact_id (static buffer). */
static const char *new_contact(struct t *t, const char *name)
{
    static char id[32];
    char body[512];
    snprintf(body, sizeof body, "{\"contact_name\":\"%s\"}", name);
    assert_int_equal(api(t, "POST", "contacts", body), 201);
    assert_int_equal(code_of(t), 0);
    snprintf(id, sizeof id, "%s", jpath(t->json, "contact.contact_id"));
    return id;
}

/* The id of the first tax of that name (static buffer). */
static const char *tax_id(struct t *t, const char *name)
{
    static char id[32];
    assert_int_equal(api(t, "GET", "settings/taxes", NULL), 200);
    const json_t *arr = json_object_get(t->json, "taxes");
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (hs_str_eq(jpath(json_array_get(arr, i), "tax_name"), name)) {
            snprintf(id, sizeof id, "%s", jpath(json_array_get(arr, i), "tax_id"));
            return id;
        }
    fail_msg("no tax %s", name);
    return NULL;
}

static int64_t amount_of(const json_t *v)
{
    int64_t out = 0;
    assert_int_equal(hs_qbo_num_get(v, 2, &out), HS_OK);
    return out;
}

/* The last answer parsed with exact numbers (caller frees). */
static json_t *exact(const struct t *t)
{
    json_t *j = NULL;
    assert_int_equal(hs_qbo_json_parse((const uint8_t *)body_text(t), t->resp.body.len, &j, NULL),
                     HS_OK);
    return j;
}

/* ---- organizations, auth, errors ---- */

static void test_sbx_zoho_organizations_and_errors(void **state)
{
    struct t *t = *state;
    t->org_param = NULL;
    assert_int_equal(api(t, "GET", "organizations", NULL), 200);
    assert_int_equal(code_of(t), 0);
    assert_string_equal(jpath(t->json, "message"), "success");
    assert_int_equal(json_array_size(json_object_get(t->json, "organizations")), 2);
    assert_string_equal(jpath(t->json, "organizations.0.organization_id"), t->org);
    assert_string_equal(jpath(t->json, "organizations.0.name"), "Hoopsync Sandbox Ltd");
    assert_string_equal(jpath(t->json, "organizations.0.currency_code"), "USD");
    assert_true(json_is_true(jget(t->json, "organizations.0.is_default_org")));
    /* organization_id is required on every other call */
    assert_int_equal(api(t, "GET", "contacts", NULL), 400);
    assert_int_equal(code_of(t), 6042);
    t->org_param = "123";
    assert_int_equal(api(t, "GET", "contacts", NULL), 400);
    assert_int_equal(code_of(t), 6041);
    assert_body_has(t, "CompanyID/CompanyName:123");
    /* no token, a wrong one: 401 with code 57; Bearer works as well as Zoho-oauthtoken */
    t->org_param = t->org;
    t->token = NULL;
    assert_int_equal(api(t, "GET", "contacts", NULL), 401);
    assert_int_equal(code_of(t), 57);
    t->token = "wrong";
    assert_int_equal(api(t, "GET", "contacts", NULL), 401);
    t->token = NULL;
    static const char *const bearer[] = {"Authorization: Bearer T", NULL};
    assert_int_equal(apih(t, "GET", "contacts", NULL, bearer), 200);
    t->token = "T";
    /* unknown records and entities */
    assert_int_equal(api(t, "GET", "contacts/1", NULL), 404);
    assert_int_equal(code_of(t), 1002);
    assert_string_equal(jpath(t->json, "message"), "Contact does not exist.");
    assert_int_equal(api(t, "GET", "nothing", NULL), 404);
    assert_int_equal(api(t, "POST", "contacts", "{nope"), 400);
    assert_int_equal(code_of(t), 1038);
    assert_int_equal(api(t, "GET", "settings/nothing", NULL), 404);
    /* the second organization has the settings but no contacts */
    t->org_param = t->org2;
    assert_int_equal(api(t, "GET", "contacts", NULL), 200);
    assert_int_equal(json_array_size(json_object_get(t->json, "contacts")), 0);
    assert_int_equal(api(t, "GET", "settings/taxes", NULL), 200);
    assert_int_equal(json_array_size(json_object_get(t->json, "taxes")), 5);
    assert_int_equal(api(t, "GET", "settings/currencies", NULL), 200);
    assert_true(json_array_size(json_object_get(t->json, "currencies")) >= 1);
    assert_string_equal(jpath(t->json, "currencies.0.currency_code"), "USD");
    assert_true(json_is_true(jget(t->json, "currencies.0.is_base_currency")));
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

static void test_sbx_zoho_oauth_flow(void **state)
{
    struct t *t = *state;
    t->token = NULL;
    assert_int_equal(req(t, "GET",
                         "/zohobooks/accounts/oauth/v2/auth?response_type=code&client_id=app&"
                         "redirect_uri=http%3A%2F%2Flocalhost%2Fcb&scope=ZohoBooks.fullaccess.all&"
                         "access_type=offline&state=s1&dc=eu",
                         NULL),
                     302);
    const char *loc = header(t, "Location");
    char *where = query_param(loc, "location");
    assert_string_equal(where, "eu");
    hs_free(where);
    char *server = query_param(loc, "accounts-server");
    assert_string_equal(server, "http%3A%2F%2F127.0.0.1%3A9%2Fzohobooks%2Faccounts");
    hs_free(server);
    char *code = query_param(loc, "code");
    char form[512];
    snprintf(form, sizeof form,
             "grant_type=authorization_code&code=%s&redirect_uri=http://localhost/cb&"
             "client_id=app&client_secret=sec",
             code);
    hs_free(code);
    assert_int_equal(req(t, "POST", "/zohobooks/accounts/oauth/v2/token", form), 200);
    assert_int_equal(json_integer_value(json_object_get(t->json, "expires_in")), 3600);
    assert_string_equal(jpath(t->json, "api_domain"), "http://127.0.0.1:9/zohobooks");
    assert_string_equal(jpath(t->json, "token_type"), "Bearer");
    char access[128], refresh[128];
    snprintf(access, sizeof access, "%s", jpath(t->json, "access_token"));
    snprintf(refresh, sizeof refresh, "%s", jpath(t->json, "refresh_token"));
    t->token = access;
    assert_int_equal(api(t, "GET", "contacts", NULL), 200);
    /* refresh: a new access token and no refresh token; the refresh token stays valid */
    t->token = NULL;
    snprintf(form, sizeof form,
             "grant_type=refresh_token&refresh_token=%s&client_id=app&client_secret=sec", refresh);
    assert_int_equal(req(t, "POST", "/zohobooks/accounts/oauth/v2/token", form), 200);
    assert_null(json_object_get(t->json, "refresh_token"));
    assert_non_null(jpath(t->json, "api_domain"));
    assert_int_equal(req(t, "POST", "/zohobooks/accounts/oauth/v2/token", form), 200);
    char access2[128];
    snprintf(access2, sizeof access2, "%s", jpath(t->json, "access_token"));
    /* an hour later the access token is expired; the refresh token still works */
    advance(t, 3601 * 1000LL);
    t->token = access2;
    assert_int_equal(api(t, "GET", "contacts", NULL), 401);
    assert_int_equal(code_of(t), 57);
    t->token = NULL;
    assert_int_equal(req(t, "POST", "/zohobooks/accounts/oauth/v2/token", form), 200);
    assert_int_equal(req(t, "GET", "/zohobooks/accounts/oauth/v2/auth?dc=mars", NULL), 400);
    /* every data center Zoho runs, the UK's too (net/oauth.c follows accounts.zoho.uk) */
    static const char *const dcs[][2] = {{"com", "us"},    {"eu", "eu"}, {"in", "in"},
                                         {"com.au", "au"}, {"jp", "jp"}, {"ca", "ca"},
                                         {"com.cn", "cn"}, {"sa", "sa"}, {"uk", "uk"}};
    for (size_t i = 0; i < sizeof dcs / sizeof dcs[0]; i++) {
        char url[256];
        snprintf(url, sizeof url,
                 "/zohobooks/accounts/oauth/v2/auth?response_type=code&client_id=app&"
                 "redirect_uri=http%%3A%%2F%%2Flocalhost%%2Fcb&scope=ZohoBooks.fullaccess.all&"
                 "state=dc&dc=%s",
                 dcs[i][0]);
        assert_int_equal(req(t, "GET", url, NULL), 302);
        char *dc_loc = query_param(header(t, "Location"), "location");
        assert_string_equal(dc_loc, dcs[i][1]);
        hs_free(dc_loc);
    }
    /* a consent without access_type=offline (Zoho's default, online): an access token only */
    assert_int_equal(req(t, "GET",
                         "/zohobooks/accounts/oauth/v2/auth?response_type=code&client_id=app&"
                         "redirect_uri=http%3A%2F%2Flocalhost%2Fcb&scope=ZohoBooks.fullaccess.all&"
                         "state=s2",
                         NULL),
                     302);
    code = query_param(header(t, "Location"), "code");
    snprintf(form, sizeof form,
             "grant_type=authorization_code&code=%s&redirect_uri=http://localhost/cb&"
             "client_id=app&client_secret=sec",
             code);
    hs_free(code);
    assert_int_equal(req(t, "POST", "/zohobooks/accounts/oauth/v2/token", form), 200);
    assert_non_null(jpath(t->json, "access_token"));
    assert_null(json_object_get(t->json, "refresh_token"));
}

static void test_sbx_zoho_rate_limits(void **state)
{
    (void)state;
    struct t *t = open_t(true, NULL);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(api(t, "GET", "settings/currencies", NULL), 200);
        char want[16];
        snprintf(want, sizeof want, "%d", 9999 - i);
        assert_string_equal(header(t, "X-Rate-Limit-Remaining"), want);
        assert_string_equal(header(t, "X-Rate-Limit-Limit"), "10000");
    }
    assert_int_equal(api(t, "GET", "settings/currencies", NULL), 429);
    assert_int_equal(code_of(t), 45);
    assert_null(header(t, "Retry-After"));
    /* refused for the minute: the day says what it really has left (and lost nothing) */
    assert_string_equal(header(t, "X-Rate-Limit-Remaining"), "9900");
    /* the other organization has its own limits */
    t->org_param = t->org2;
    assert_int_equal(api(t, "GET", "settings/currencies", NULL), 200);
    t->org_param = t->org;
    /* the daily limit is set through the sandbox */
    assert_int_equal(req(t, "POST", "/zohobooks/_sandbox/limits", "{\"per_day\":150}"), 200);
    assert_int_equal(json_integer_value(json_object_get(t->json, "per_day")), 150);
    assert_int_equal(json_integer_value(json_object_get(t->json, "per_minute")), 100);
    assert_int_equal(req(t, "POST", "/zohobooks/_sandbox/limits", "{\"per_day\":0}"), 400);
    advance(t, 60000);
    for (int i = 0; i < 50; i++)
        assert_int_equal(api(t, "GET", "settings/currencies", NULL), 200);
    assert_string_equal(header(t, "X-Rate-Limit-Remaining"), "0");
    assert_int_equal(api(t, "GET", "settings/currencies", NULL), 429);
    assert_int_equal(code_of(t), 44);
    advance(t, 86400000LL);
    assert_int_equal(api(t, "GET", "settings/currencies", NULL), 200);
    close_t(t);
}

/* ---- contacts ---- */

static void test_sbx_zoho_contacts(void **state)
{
    struct t *t = *state;
    assert_int_equal(api(t, "POST", "contacts",
                         "{\"contact_name\":\"Zed Corp\",\"contact_persons\":["
                         "{\"first_name\":\"Ann\",\"email\":\"ann@zed.example\"},"
                         "{\"first_name\":\"Bob\",\"email\":\"bob@zed.example\","
                         "\"is_primary_contact\":true}]}"),
                     201);
    assert_string_equal(jpath(t->json, "message"), "The contact has been added.");
    char cid[32], p0[32];
    snprintf(cid, sizeof cid, "%s", jpath(t->json, "contact.contact_id"));
    snprintf(p0, sizeof p0, "%s", jpath(t->json, "contact.contact_persons.0.contact_person_id"));
    assert_true(strlen(cid) >= 15);
    assert_true(json_is_false(jget(t->json, "contact.contact_persons.0.is_primary_contact")));
    assert_true(json_is_true(jget(t->json, "contact.contact_persons.1.is_primary_contact")));
    assert_string_equal(jpath(t->json, "contact.email"), "bob@zed.example");
    assert_string_equal(jpath(t->json, "contact.contact_type"), "customer");
    assert_string_equal(jpath(t->json, "contact.currency_code"), "USD");
    assert_string_equal(jpath(t->json, "contact.last_modified_time"), "2026-11-23T18:00:00+0000");
    /* validation: Zoho's codes */
    assert_int_equal(api(t, "POST", "contacts", "{\"contact_name\":\" zed corp \"}"), 400);
    assert_int_equal(code_of(t), 3062);
    assert_int_equal(api(t, "POST", "contacts", "{\"company_name\":\"x\"}"), 400);
    assert_int_equal(code_of(t), 4);
    assert_int_equal(api(t, "POST", "contacts", "{\"contact_name\":\"E\",\"email\":\"nope\"}"),
                     400);
    assert_int_equal(code_of(t), 2);
    assert_int_equal(
        api(t, "POST", "contacts", "{\"contact_name\":\"E\",\"currency_code\":\"XXX\"}"), 400);
    assert_int_equal(api(t, "POST", "contacts", "{\"contact_name\":5}"), 400);
    /* update: persons keep their ids, new ones get theirs */
    advance(t, 5000);
    char rel[96], body[512];
    snprintf(rel, sizeof rel, "contacts/%s", cid);
    snprintf(body, sizeof body,
             "{\"contact_name\":\"Zed Corp.\",\"contact_persons\":[{\"contact_person_id\":\"%s\","
             "\"last_name\":\"Lee\"},{\"first_name\":\"Cy\"}]}",
             p0);
    assert_int_equal(api(t, "PUT", rel, body), 200);
    assert_string_equal(jpath(t->json, "message"), "Contact information has been saved.");
    assert_string_equal(jpath(t->json, "contact.contact_persons.0.contact_person_id"), p0);
    assert_string_equal(jpath(t->json, "contact.contact_persons.0.first_name"), "Ann");
    assert_string_equal(jpath(t->json, "contact.contact_persons.0.last_name"), "Lee");
    assert_true(json_is_true(jget(t->json, "contact.contact_persons.0.is_primary_contact")));
    assert_non_null(jpath(t->json, "contact.contact_persons.1.contact_person_id"));
    assert_string_equal(jpath(t->json, "contact.created_time"), "2026-11-23T18:00:00+0000");
    assert_string_equal(jpath(t->json, "contact.last_modified_time"), "2026-11-23T18:00:05+0000");
    snprintf(body, sizeof body, "{\"contact_persons\":[{\"contact_person_id\":\"1\"}]}");
    assert_int_equal(api(t, "PUT", rel, body), 400);
    assert_int_equal(api(t, "PUT", "contacts/1", "{\"contact_name\":\"x\"}"), 404);
    /* get has the persons, the list leaves them out, contactpersons lists them */
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_int_equal(json_array_size(jget(t->json, "contact.contact_persons")), 2);
    snprintf(rel, sizeof rel, "contacts/%s/contactpersons", cid);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(t->json, "contact_persons")), 2);
    /* paging: per_page at most 200, page_context */
    assert_int_equal(api(t, "GET", "contacts?per_page=2&page=1", NULL), 200);
    assert_int_equal(json_array_size(json_object_get(t->json, "contacts")), 2);
    assert_null(jget(t->json, "contacts.0.contact_persons"));
    assert_true(json_is_true(jget(t->json, "page_context.has_more_page")));
    assert_int_equal(json_integer_value(jget(t->json, "page_context.per_page")), 2);
    assert_int_equal(api(t, "GET", "contacts?per_page=200", NULL), 200);
    size_t all = json_array_size(json_object_get(t->json, "contacts"));
    assert_true(all > 3);
    assert_true(json_is_false(jget(t->json, "page_context.has_more_page")));
    char q[64];
    snprintf(q, sizeof q, "contacts?per_page=2&page=%zu", (all + 1) / 2);
    assert_int_equal(api(t, "GET", q, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(t->json, "contacts")), 2 - all % 2);
    assert_true(json_is_false(jget(t->json, "page_context.has_more_page")));
    assert_int_equal(api(t, "GET", "contacts?per_page=201", NULL), 400);
    assert_int_equal(code_of(t), 2);
    assert_int_equal(api(t, "GET", "contacts?page=0", NULL), 400);
    /* the last modified first */
    assert_int_equal(api(t, "GET", "contacts?sort_column=last_modified_time&sort_order=D", NULL),
                     200);
    assert_string_equal(jpath(t->json, "contacts.0.contact_id"), cid);
    assert_int_equal(api(t, "GET", "contacts?sort_column=nope", NULL), 400);
    /* contacts take no last_modified_time filter (as in Zoho's spec): it is ignored */
    assert_int_equal(api(t, "GET", "contacts?last_modified_time=2030-01-01T00:00:00-UTC", NULL),
                     200);
    assert_int_equal(json_array_size(json_object_get(t->json, "contacts")), all);
}

/* The contact persons endpoints (contact-persons.yml): each touches one person. */
static void test_sbx_zoho_contact_person_endpoints(void **state)
{
    struct t *t = *state;
    assert_int_equal(api(t, "POST", "contacts",
                         "{\"contact_name\":\"Persons Ltd\",\"contact_persons\":["
                         "{\"first_name\":\"Accounts\",\"last_name\":\"Payable\","
                         "\"email\":\"ap@persons.example\"}]}"),
                     201);
    char cid[32], ap[32], rel[160], body[512];
    snprintf(cid, sizeof cid, "%s", jpath(t->json, "contact.contact_id"));
    snprintf(ap, sizeof ap, "%s", jpath(t->json, "contact.contact_persons.0.contact_person_id"));
    /* create: a second person, not primary; the first is kept */
    advance(t, 2000);
    snprintf(body, sizeof body,
             "{\"contact_id\":\"%s\",\"first_name\":\"Betty\",\"last_name\":\"Books\","
             "\"email\":\"betty@persons.example\",\"phone\":\"+1 555 0101\"}",
             cid);
    assert_int_equal(api(t, "POST", "contacts/contactpersons", body), 201);
    assert_int_equal(code_of(t), 0);
    assert_string_equal(jpath(t->json, "contact_person.0.first_name"), "Betty");
    assert_string_equal(jpath(t->json, "contact_person.0.contact_id"), cid);
    assert_true(json_is_false(jget(t->json, "contact_person.0.is_primary_contact")));
    char betty[32];
    snprintf(betty, sizeof betty, "%s", jpath(t->json, "contact_person.0.contact_person_id"));
    assert_string_not_equal(betty, ap);
    snprintf(rel, sizeof rel, "contacts/%s", cid);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_int_equal(json_array_size(jget(t->json, "contact.contact_persons")), 2);
    assert_string_equal(jpath(t->json, "contact.contact_persons.0.first_name"), "Accounts");
    assert_string_equal(jpath(t->json, "contact.email"), "ap@persons.example");
    assert_string_equal(jpath(t->json, "contact.last_modified_time"), "2026-11-23T18:00:02+0000");
    /* update: only that person, only the fields sent */
    snprintf(rel, sizeof rel, "contacts/contactpersons/%s", betty);
    snprintf(body, sizeof body,
             "{\"contact_id\":\"%s\",\"first_name\":\"Bettina\",\"email\":"
             "\"bettina@persons.example\"}",
             cid);
    assert_int_equal(api(t, "PUT", rel, body), 200);
    assert_string_equal(jpath(t->json, "message"), "The contactperson details has been updated.");
    assert_string_equal(jpath(t->json, "contact_person.0.first_name"), "Bettina");
    assert_string_equal(jpath(t->json, "contact_person.0.last_name"), "Books");
    assert_string_equal(jpath(t->json, "contact_person.0.phone"), "+1 555 0101");
    snprintf(rel, sizeof rel, "contacts/%s/contactpersons/%s", cid, betty);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_string_equal(jpath(t->json, "contact_person.email"), "bettina@persons.example");
    snprintf(rel, sizeof rel, "contacts/%s/contactpersons/%s", cid, ap);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_string_equal(jpath(t->json, "contact_person.first_name"), "Accounts");
    assert_true(json_is_true(jget(t->json, "contact_person.is_primary_contact")));
    /* refusals: no contact_id, a blank first name, a new person without one, unknown ids, a
     * bad email */
    snprintf(rel, sizeof rel, "contacts/contactpersons/%s", betty);
    assert_int_equal(api(t, "PUT", rel, "{\"first_name\":\"X\"}"), 400);
    assert_int_equal(code_of(t), 4);
    snprintf(body, sizeof body, "{\"contact_id\":\"%s\",\"first_name\":\"\"}", cid);
    assert_int_equal(api(t, "PUT", rel, body), 400);
    assert_int_equal(code_of(t), 4);
    snprintf(body, sizeof body, "{\"contact_id\":\"%s\",\"last_name\":\"X\"}", cid);
    assert_int_equal(api(t, "POST", "contacts/contactpersons", body), 400);
    assert_int_equal(code_of(t), 4);
    snprintf(body, sizeof body,
             "{\"contact_id\":\"%s\",\"first_name\":\"X\","
             "\"email\":\"nope\"}",
             cid);
    assert_int_equal(api(t, "PUT", rel, body), 400);
    assert_int_equal(code_of(t), 2);
    snprintf(body, sizeof body, "{\"contact_id\":\"%s\",\"first_name\":\"X\"}", cid);
    assert_int_equal(api(t, "PUT", "contacts/contactpersons/1", body), 404);
    assert_int_equal(code_of(t), 1002);
    assert_int_equal(
        api(t, "POST", "contacts/contactpersons", "{\"contact_id\":\"1\",\"first_name\":\"X\"}"),
        404);
    assert_int_equal(api(t, "POST", "contacts/contactpersons", "{\"first_name\":\"X\"}"), 400);
    /* primary: the contact's own fields follow the primary person */
    snprintf(rel, sizeof rel, "contacts/contactpersons/%s/primary", betty);
    assert_int_equal(api(t, "POST", rel, NULL), 200);
    snprintf(rel, sizeof rel, "contacts/%s", cid);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_string_equal(jpath(t->json, "contact.email"), "bettina@persons.example");
    assert_true(json_is_false(jget(t->json, "contact.contact_persons.0.is_primary_contact")));
    assert_true(json_is_true(jget(t->json, "contact.contact_persons.1.is_primary_contact")));
    /* delete one; the other stays (and becomes primary again) */
    snprintf(rel, sizeof rel, "contacts/contactpersons/%s", betty);
    assert_int_equal(api(t, "DELETE", rel, NULL), 200);
    assert_string_equal(jpath(t->json, "message"), "The contact person has been deleted.");
    snprintf(rel, sizeof rel, "contacts/%s", cid);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_int_equal(json_array_size(jget(t->json, "contact.contact_persons")), 1);
    assert_string_equal(jpath(t->json, "contact.contact_persons.0.contact_person_id"), ap);
    assert_true(json_is_true(jget(t->json, "contact.contact_persons.0.is_primary_contact")));
    /* whereas a contact_persons list sent with the contact replaces the persons (Zoho's
     * "remove them by excluding them from the contact_persons list") */
    snprintf(body, sizeof body, "%s",
             "{\"contact_persons\":[{\"first_name\":\"Only\",\"email\":\"only@p.example\"}]}");
    assert_int_equal(api(t, "PUT", rel, body), 200);
    assert_int_equal(json_array_size(jget(t->json, "contact.contact_persons")), 1);
    assert_string_equal(jpath(t->json, "contact.contact_persons.0.first_name"), "Only");
}

static void test_sbx_zoho_upsert_by_unique_field(void **state)
{
    struct t *t = *state;
    static const char *const by_key[] = {"X-Unique-Identifier-Key: cf_hoopsync_id",
                                         "X-Unique-Identifier-Value: hs-42", NULL};
    static const char *const upsert[] = {"X-Unique-Identifier-Key: cf_hoopsync_id",
                                         "X-Unique-Identifier-Value: hs-42", "X-Upsert: true",
                                         NULL};
    static const char *const plain[] = {"X-Unique-Identifier-Key: cf_source",
                                        "X-Unique-Identifier-Value: crm", "X-Upsert: true", NULL};
    /* no record yet: 404 without X-Upsert, a create with it */
    assert_int_equal(apih(t, "PUT", "contacts", "{\"contact_name\":\"Upsert Ltd\"}", by_key), 404);
    assert_int_equal(code_of(t), 1002);
    assert_int_equal(apih(t, "PUT", "contacts", "{\"contact_name\":\"Upsert Ltd\"}", upsert), 200);
    assert_string_equal(jpath(t->json, "message"), "The contact has been added.");
    char cid[32];
    snprintf(cid, sizeof cid, "%s", jpath(t->json, "contact.contact_id"));
    assert_string_equal(jpath(t->json, "contact.custom_fields.0.api_name"), "cf_hoopsync_id");
    assert_string_equal(jpath(t->json, "contact.custom_fields.0.value"), "hs-42");
    /* the same call again updates the same record: a retried create makes no duplicate */
    assert_int_equal(apih(t, "PUT", "contacts", "{\"contact_name\":\"Upsert Ltd\"}", upsert), 200);
    assert_string_equal(jpath(t->json, "contact.contact_id"), cid);
    assert_int_equal(apih(t, "PUT", "contacts", "{\"contact_name\":\"Upsert 2\"}", by_key), 200);
    assert_string_equal(jpath(t->json, "contact.contact_id"), cid);
    assert_string_equal(jpath(t->json, "contact.contact_name"), "Upsert 2");
    /* the key must be a custom field that refuses duplicates; both headers are needed */
    assert_int_equal(apih(t, "PUT", "contacts", "{\"contact_name\":\"P\"}", plain), 400);
    assert_int_equal(code_of(t), 2);
    assert_int_equal(api(t, "PUT", "contacts", "{\"contact_name\":\"P\"}"), 400);
    assert_int_equal(code_of(t), 4);
    /* a unique value cannot be given to a second record */
    assert_int_equal(api(t, "POST", "contacts",
                         "{\"contact_name\":\"Dup\",\"custom_fields\":[{\"api_name\":"
                         "\"cf_hoopsync_id\",\"value\":\"hs-42\"}]}"),
                     400);
    assert_int_equal(code_of(t), 3080);
    assert_int_equal(api(t, "POST", "contacts",
                         "{\"contact_name\":\"Dup\",\"custom_fields\":[{\"api_name\":"
                         "\"cf_nope\",\"value\":\"1\"}]}"),
                     400);
    /* items and invoices upsert the same way; payments do not */
    assert_int_equal(apih(t, "PUT", "items", "{\"name\":\"Upsert item\",\"rate\":12.5}", upsert),
                     200);
    char iid[32];
    snprintf(iid, sizeof iid, "%s", jpath(t->json, "item.item_id"));
    assert_body_has(t, "\"rate\":12.50");
    assert_int_equal(apih(t, "PUT", "items", "{\"name\":\"Upsert item\",\"rate\":13}", upsert),
                     200);
    assert_string_equal(jpath(t->json, "item.item_id"), iid);
    char body[512];
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"line_items\":[{\"item_id\":\"%s\",\"quantity\":2}]}", cid,
             iid);
    assert_int_equal(apih(t, "PUT", "invoices", body, upsert), 200);
    assert_string_equal(jpath(t->json, "message"), "The invoice has been created.");
    char inv[32];
    snprintf(inv, sizeof inv, "%s", jpath(t->json, "invoice.invoice_id"));
    assert_body_has(t, "\"total\":26.00");
    assert_int_equal(apih(t, "PUT", "invoices", body, upsert), 200);
    assert_string_equal(jpath(t->json, "invoice.invoice_id"), inv);
    assert_int_equal(api(t, "GET", "invoices", NULL), 200);
    assert_int_equal(json_array_size(json_object_get(t->json, "invoices")), 1);
    assert_int_equal(apih(t, "PUT", "customerpayments", "{}", upsert), 405);
    /* credit notes too */
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"line_items\":[{\"name\":\"r\",\"rate\":4}]}", cid);
    assert_int_equal(apih(t, "PUT", "creditnotes", body, upsert), 200);
    char cn[32];
    snprintf(cn, sizeof cn, "%s", jpath(t->json, "creditnote.creditnote_id"));
    assert_int_equal(apih(t, "PUT", "creditnotes", body, by_key), 200);
    assert_string_equal(jpath(t->json, "creditnote.creditnote_id"), cn);
}

static void test_sbx_zoho_seed_matches_quickbooks(void **state)
{
    (void)state;
    struct t *t = open_with(false, NULL, qbo_and_zoho, 2);
    assert_int_equal(req(t, "GET", "/_sandbox/tenants", NULL), 200);
    char realm[32];
    snprintf(realm, sizeof realm, "%s", jpath(t->json, "quickbooks.realmId"));
    char target[256];
    snprintf(target, sizeof target,
             "/quickbooks/v3/company/%s/"
             "query?query=select%%20*%%20from%%20Customer%%20maxresults%%20"
             "1000",
             realm);
    assert_int_equal(req(t, "GET", target, NULL), 200);
    json_t *qc =
        json_incref(json_object_get(json_object_get(t->json, "QueryResponse"), "Customer"));
    assert_int_equal(api(t, "GET", "contacts", NULL), 200);
    const json_t *zc = json_object_get(t->json, "contacts");
    assert_true(json_array_size(zc) > 0);
    assert_int_equal(json_array_size(zc), json_array_size(qc));
    for (size_t i = 0; i < json_array_size(qc); i++) {
        const json_t *q = json_array_get(qc, i);
        const json_t *z = json_array_get(zc, i);
        assert_string_equal(jpath(q, "DisplayName"), jpath(z, "contact_name"));
        assert_string_equal(jpath(q, "PrimaryEmailAddr.Address"), jpath(z, "email"));
        assert_string_equal(jpath(q, "CurrencyRef.value"), jpath(z, "currency_code"));
    }
    json_decref(qc);
    /* items: the accounting products, priced as in QuickBooks */
    snprintf(target, sizeof target,
             "/quickbooks/v3/company/%s/query?query=select%%20*%%20from%%20Item%%20maxresults%%20"
             "1000",
             realm);
    assert_int_equal(req(t, "GET", target, NULL), 200);
    json_t *qi = json_incref(json_object_get(json_object_get(t->json, "QueryResponse"), "Item"));
    assert_int_equal(api(t, "GET", "items", NULL), 200);
    const json_t *zi = json_object_get(t->json, "items");
    assert_true(json_array_size(zi) > 0);
    size_t matched = 0;
    for (size_t i = 0; i < json_array_size(zi); i++)
        for (size_t k = 0; k < json_array_size(qi); k++)
            if (hs_str_eq(jpath(json_array_get(zi, i), "name"),
                          jpath(json_array_get(qi, k), "Name")))
                matched++;
    assert_int_equal(matched, json_array_size(zi));
    json_decref(qi);
    close_t(t);
}

/* ---- items ---- */

static void test_sbx_zoho_items(void **state)
{
    struct t *t = *state;
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"Gadget\",\"rate\":10.005,\"tax_id\":\"%s\"}",
             tax_id(t, "VAT 20%"));
    assert_int_equal(api(t, "POST", "items", body), 201);
    assert_string_equal(jpath(t->json, "message"), "The item has been added.");
    assert_body_has(t, "\"rate\":10.01");
    assert_body_has(t, "\"tax_percentage\":\"20%\"");
    assert_string_equal(jpath(t->json, "item.tax_name"), "VAT 20%");
    assert_string_equal(jpath(t->json, "item.status"), "active");
    assert_int_equal(api(t, "POST", "items", "{\"name\":\"gadget\",\"rate\":1}"), 400);
    assert_int_equal(code_of(t), 1001);
    assert_int_equal(api(t, "POST", "items", "{\"name\":\"No rate\"}"), 400);
    assert_int_equal(code_of(t), 4);
    assert_int_equal(api(t, "POST", "items", "{\"name\":\"Bad tax\",\"rate\":1,\"tax_id\":\"9\"}"),
                     400);
    assert_int_equal(api(t, "POST", "items", "{\"name\":\"Neg\",\"rate\":-1}"), 400);
    assert_int_equal(api(t, "POST", "items", "{\"name\":\"Str\",\"rate\":\"x\"}"), 400);
}

/* ---- invoices ---- */

/* POSTs an invoice of `lines` (JSON array text) for the contact; returns the status. */
static int post_invoice(struct t *t, const char *cid, const char *extra, const char *lines)
{
    char body[4096];
    int k = snprintf(body, sizeof body, "{\"customer_id\":\"%s\"%s%s,\"line_items\":%s}", cid,
                     extra != NULL ? "," : "", extra != NULL ? extra : "", lines);
    assert_true(k > 0 && (size_t)k < sizeof body);
    return api(t, "POST", "invoices", body);
}

static void test_sbx_zoho_invoice_amounts(void **state)
{
    struct t *t = *state;
    char cid[32], st[32], vat[32], lines[1024];
    snprintf(cid, sizeof cid, "%s", new_contact(t, "Amounts Inc"));
    snprintf(st, sizeof st, "%s", tax_id(t, "Sales Tax"));
    snprintf(vat, sizeof vat, "%s", tax_id(t, "VAT 20%"));
    /* exclusive: 3 x 10.005 = 30.015 -> 30.02, tax 8.25% = 2.47665 -> 2.48 (per line);
     * 19.99 less 10% = 17.991 -> 17.99, tax 1.484 -> 1.48; flat discount 1 on 5 */
    snprintf(lines, sizeof lines,
             "[{\"name\":\"A\",\"rate\":10.005,\"quantity\":3,\"tax_id\":\"%s\"},"
             "{\"name\":\"B\",\"rate\":19.99,\"discount\":\"10%%\",\"tax_id\":\"%s\"},"
             "{\"name\":\"C\",\"rate\":5,\"discount\":1}]",
             st, st);
    assert_int_equal(post_invoice(t, cid, NULL, lines), 201);
    assert_string_equal(jpath(t->json, "message"), "The invoice has been created.");
    assert_body_has(t, "\"item_total\":30.02");
    assert_body_has(t, "\"item_total\":17.99");
    assert_body_has(t, "\"item_total\":4.00");
    assert_body_has(t, "\"tax_amount\":2.48");
    assert_body_has(t, "\"tax_amount\":1.48");
    assert_body_has(t, "\"sub_total\":52.01");
    assert_body_has(t, "\"tax_total\":3.96");
    assert_body_has(t, "\"total\":55.97");
    assert_body_has(t, "\"balance\":55.97");
    assert_string_equal(jpath(t->json, "invoice.status"), "draft");
    assert_string_equal(jpath(t->json, "invoice.invoice_number"), "INV-000001");
    assert_string_equal(jpath(t->json, "invoice.date"), "2026-11-23");
    assert_string_equal(jpath(t->json, "invoice.due_date"), "2026-12-23");
    assert_string_equal(jpath(t->json, "invoice.customer_name"), "Amounts Inc");
    /* inclusive: 120.00 with VAT 20% holds 20.00; the sub-total is shown inclusive */
    snprintf(lines, sizeof lines, "[{\"name\":\"G\",\"rate\":120,\"tax_id\":\"%s\"}]", vat);
    assert_int_equal(post_invoice(t, cid, "\"is_inclusive_tax\":true", lines), 201);
    assert_body_has(t, "\"tax_amount\":20.00");
    assert_body_has(t, "\"total\":120.00");
    assert_body_has(t, "\"sub_total\":120.00");
    assert_string_equal(jpath(t->json, "invoice.invoice_number"), "INV-000002");
    /* numbers and rules */
    assert_int_equal(post_invoice(t, cid, "\"invoice_number\":\"inv-000001\"", lines), 400);
    assert_int_equal(code_of(t), 1001);
    assert_int_equal(post_invoice(t, cid, NULL, "[]"), 400);
    assert_int_equal(post_invoice(t, "1", NULL, lines), 400);
    assert_int_equal(post_invoice(t, cid, "\"date\":\"2026-13-01\"", lines), 400);
    assert_int_equal(post_invoice(t, cid, NULL, "[{\"name\":\"x\",\"rate\":1,\"tax_id\":\"1\"}]"),
                     400);
    assert_int_equal(post_invoice(t, cid, NULL, "[{\"name\":\"x\"}]"), 400);
    assert_int_equal(post_invoice(t, cid, NULL, "[{\"name\":\"x\",\"rate\":1,\"discount\":2}]"),
                     400);
    assert_int_equal(post_invoice(t, cid, "\"is_inclusive_tax\":\"yes\"", lines), 400);
    /* a customer in EUR invoices in EUR at the currency's rate */
    assert_int_equal(
        api(t, "POST", "contacts", "{\"contact_name\":\"Euro GmbH\",\"currency_code\":\"EUR\"}"),
        201);
    snprintf(cid, sizeof cid, "%s", jpath(t->json, "contact.contact_id"));
    assert_int_equal(post_invoice(t, cid, NULL, "[{\"name\":\"E\",\"rate\":9.99}]"), 201);
    assert_string_equal(jpath(t->json, "invoice.currency_code"), "EUR");
    assert_body_has(t, "\"total\":9.99");
    /* status: draft -> sent -> void */
    char rel[96];
    snprintf(rel, sizeof rel, "invoices/%s/status/sent", jpath(t->json, "invoice.invoice_id"));
    assert_int_equal(api(t, "POST", rel, NULL), 200);
    assert_int_equal(code_of(t), 0);
    assert_int_equal(api(t, "POST", rel, NULL), 400);
    rel[strlen(rel) - 4] = '\0';
    strncat(rel, "void", sizeof rel - strlen(rel) - 1);
    assert_int_equal(api(t, "POST", rel, NULL), 200);
    assert_int_equal(api(t, "GET", "invoices?status=void", NULL), 200);
    assert_int_equal(json_array_size(json_object_get(t->json, "invoices")), 1);
}

/* The sandbox's invoice arithmetic agrees with core/tax.h's Zoho policy on random invoices. */
static void test_sbx_zoho_invoices_agree_with_core_tax(void **state)
{
    struct t *t = *state;
    char cid[32];
    snprintf(cid, sizeof cid, "%s", new_contact(t, "Agreement Pty"));
    static const char *const names[] = {"Sales Tax", "VAT 20%", "VAT 5%", "GST 10%", "Tax Exempt"};
    static const int64_t pcts[] = {8250000, 20000000, 5000000, 10000000, 0};
    char ids[5][32];
    for (int i = 0; i < 5; i++)
        snprintf(ids[i], sizeof ids[i], "%s", tax_id(t, names[i]));
    uint64_t rng = 0x243F6A8885A308D3ULL;
    for (int n = 0; n < 150; n++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t n_lines = 1 + (size_t)(rng % 5);
        bool incl = (rng >> 8) % 2 == 1;
        struct hs_tax_code codes[5];
        struct hs_tax_line lines[5];
        char body[4096];
        int len = snprintf(body, sizeof body, "[");
        for (size_t k = 0; k < n_lines; k++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            int64_t qty_micro = (int64_t)(1 + (rng >> 33) % 40) * 250000; /* 0.25 .. 10 */
            int64_t price = (int64_t)((rng >> 17) % 500000);              /* minor units */
            int64_t disc = (int64_t)((rng >> 41) % 4) * 12500000 / 10;    /* 0 .. 3.75 % */
            size_t ti = (size_t)((rng >> 50) % 5);
            memset(&codes[k], 0, sizeof codes[k]);
            snprintf(codes[k].code, sizeof codes[k].code, "%s", ids[ti]);
            snprintf(codes[k].components[0].rate_ref, HS_TAX_REF_MAX, "%s", ids[ti]);
            codes[k].components[0].percent.v = pcts[ti];
            codes[k].n_components = 1;
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
                            "%s{\"name\":\"L%zu\",\"quantity\":%s,\"rate\":%s,"
                            "\"discount\":\"%s%%\",\"tax_id\":\"%s\"}",
                            k ? "," : "", k, qs, ps, ds, ids[ti]);
        }
        snprintf(body + len, sizeof body - (size_t)len, "]");
        struct hs_tax_policy pol = hs_tax_policy_zoho(incl ? HS_TAX_INCLUSIVE : HS_TAX_EXCLUSIVE);
        struct hs_tax_totals tot;
        assert_int_equal(hs_tax_compute(&pol, lines, n_lines, &tot, NULL), HS_OK);
        int st = post_invoice(t, cid, incl ? "\"is_inclusive_tax\":true" : NULL, body);
        if (st != 201)
            fail_msg("invoice %d refused: %s", n, body_text(t));
        json_t *ex = exact(t);
        const json_t *inv = json_object_get(ex, "invoice");
        assert_int_equal(amount_of(json_object_get(inv, "tax_total")), tot.tax);
        assert_int_equal(amount_of(json_object_get(inv, "total")), tot.total);
        assert_int_equal(amount_of(json_object_get(inv, "sub_total")),
                         incl ? tot.total : tot.subtotal);
        for (size_t k = 0; k < n_lines; k++) {
            const json_t *l = json_array_get(json_object_get(inv, "line_items"), k);
            assert_int_equal(amount_of(json_object_get(l, "item_total")), lines[k].amount);
            assert_int_equal(amount_of(jget(l, "line_item_taxes.0.tax_amount")), lines[k].tax);
        }
        json_decref(ex);
    }
}

static void test_sbx_zoho_last_modified_filter(void **state)
{
    struct t *t = *state;
    char cid[32];
    snprintf(cid, sizeof cid, "%s", new_contact(t, "Filter Co"));
    assert_int_equal(post_invoice(t, cid, NULL, "[{\"name\":\"a\",\"rate\":1}]"), 201);
    char first[32];
    snprintf(first, sizeof first, "%s", jpath(t->json, "invoice.invoice_id"));
    advance(t, 3600 * 1000LL);
    assert_int_equal(post_invoice(t, cid, NULL, "[{\"name\":\"b\",\"rate\":2}]"), 201);
    char second[32];
    snprintf(second, sizeof second, "%s", jpath(t->json, "invoice.invoice_id"));
    assert_string_equal(jpath(t->json, "invoice.last_modified_time"), "2026-11-23T19:00:00+0000");
    /* 18:30 UTC, written three ways */
    static const char *const since[] = {"2026-11-23T18:30:00-UTC", "2026-11-23T10:30:00-0800",
                                        "2026-11-23T19:30:00%2B0100"};
    for (size_t i = 0; i < 3; i++) {
        char q[96];
        snprintf(q, sizeof q, "invoices?last_modified_time=%s", since[i]);
        assert_int_equal(api(t, "GET", q, NULL), 200);
        assert_int_equal(json_array_size(json_object_get(t->json, "invoices")), 1);
        assert_string_equal(jpath(t->json, "invoices.0.invoice_id"), second);
        assert_null(jget(t->json, "invoices.0.line_items"));
    }
    /* an update moves the first one past the mark */
    advance(t, 60000);
    char rel[64];
    snprintf(rel, sizeof rel, "invoices/%s", first);
    assert_int_equal(api(t, "PUT", rel, "{\"reference_number\":\"PO-1\"}"), 200);
    assert_string_equal(jpath(t->json, "message"), "Invoice information has been updated.");
    assert_body_has(t, "\"total\":1.00");
    assert_int_equal(api(t, "GET", "invoices?last_modified_time=2026-11-23T18:30:00-UTC", NULL),
                     200);
    assert_int_equal(json_array_size(json_object_get(t->json, "invoices")), 2);
    assert_int_equal(api(t, "GET", "invoices?last_modified_time=yesterday", NULL), 400);
    assert_int_equal(code_of(t), 2);
    /* credit notes: create and list with the same filter */
    assert_int_equal(api(t, "POST", "creditnotes", NULL), 400);
    char body[256];
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"line_items\":[{\"name\":\"r\",\"rate\":3.5}]}", cid);
    assert_int_equal(api(t, "POST", "creditnotes", body), 201);
    assert_string_equal(jpath(t->json, "creditnote.creditnote_number"), "CN-00001");
    assert_string_equal(jpath(t->json, "creditnote.status"), "open");
    assert_body_has(t, "\"balance\":3.50");
    assert_int_equal(api(t, "GET", "creditnotes?last_modified_time=2026-11-23T19:01:00-UTC", NULL),
                     200);
    assert_int_equal(json_array_size(json_object_get(t->json, "creditnotes")), 1);
    assert_int_equal(api(t, "GET", "creditnotes?last_modified_time=2026-11-23T19:02:00-UTC", NULL),
                     200);
    assert_int_equal(json_array_size(json_object_get(t->json, "creditnotes")), 0);
}

/* ---- payments ---- */

static void test_sbx_zoho_payments(void **state)
{
    struct t *t = *state;
    char cid[32], other[32], inv[32], body[512];
    snprintf(cid, sizeof cid, "%s", new_contact(t, "Payer Corp"));
    snprintf(other, sizeof other, "%s", new_contact(t, "Other Corp"));
    assert_int_equal(post_invoice(t, cid, NULL, "[{\"name\":\"a\",\"rate\":25,\"quantity\":4}]"),
                     201);
    snprintf(inv, sizeof inv, "%s", jpath(t->json, "invoice.invoice_id"));
    /* partial, then the rest: partially_paid, then paid */
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"payment_mode\":\"banktransfer\",\"amount\":40,"
             "\"invoices\":[{\"invoice_id\":\"%s\",\"amount_applied\":40}]}",
             cid, inv);
    assert_int_equal(api(t, "POST", "customerpayments", body), 201);
    assert_string_equal(jpath(t->json, "payment.payment_mode"), "banktransfer");
    assert_body_has(t, "\"amount\":40.00");
    assert_body_has(t, "\"unused_amount\":0.00");
    assert_body_has(t, "\"balance_amount\":60.00");
    char rel[64];
    snprintf(rel, sizeof rel, "invoices/%s", inv);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_string_equal(jpath(t->json, "invoice.status"), "partially_paid");
    assert_body_has(t, "\"balance\":60.00");
    assert_body_has(t, "\"payment_made\":40.00");
    /* refused: more than the balance, another customer's invoice, applied more than paid */
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"amount\":70,\"invoices\":[{\"invoice_id\":\"%s\","
             "\"amount_applied\":60.01}]}",
             cid, inv);
    assert_int_equal(api(t, "POST", "customerpayments", body), 400);
    assert_int_equal(code_of(t), 2);
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"amount\":10,\"invoices\":[{\"invoice_id\":\"%s\","
             "\"amount_applied\":10}]}",
             other, inv);
    assert_int_equal(api(t, "POST", "customerpayments", body), 400);
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"amount\":10,\"invoices\":[{\"invoice_id\":\"%s\","
             "\"amount_applied\":20}]}",
             cid, inv);
    assert_int_equal(api(t, "POST", "customerpayments", body), 400);
    assert_int_equal(api(t, "POST", "customerpayments", "{\"customer_id\":\"1\",\"amount\":1}"),
                     400);
    snprintf(body, sizeof body, "{\"customer_id\":\"%s\",\"amount\":0}", cid);
    assert_int_equal(api(t, "POST", "customerpayments", body), 400);
    /* nothing changed */
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_body_has(t, "\"balance\":60.00");
    /* the rest, with 5.00 unused */
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"amount\":65,\"invoices\":[{\"invoice_id\":\"%s\","
             "\"amount_applied\":60}]}",
             cid, inv);
    assert_int_equal(api(t, "POST", "customerpayments", body), 201);
    assert_body_has(t, "\"unused_amount\":5.00");
    assert_string_equal(jpath(t->json, "payment.invoices.0.invoice_id"), inv);
    assert_string_equal(jpath(t->json, "payment.payment_number"), "2");
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_string_equal(jpath(t->json, "invoice.status"), "paid");
    assert_body_has(t, "\"balance\":0.00");
    assert_body_has(t, "\"payment_made\":100.00");
    assert_string_equal(jpath(t->json, "invoice.last_payment_date"), "2026-11-23");
    /* a paid invoice cannot be voided nor lowered below what was paid */
    char st[96];
    snprintf(st, sizeof st, "invoices/%s/status/void", inv);
    assert_int_equal(api(t, "POST", st, NULL), 400);
    assert_int_equal(api(t, "PUT", rel, "{\"line_items\":[{\"name\":\"a\",\"rate\":1}]}"), 400);
    /* the spec's top-level invoice_id and amount_applied apply to that invoice */
    assert_int_equal(post_invoice(t, cid, NULL, "[{\"name\":\"b\",\"rate\":30}]"), 201);
    char inv2[32];
    snprintf(inv2, sizeof inv2, "%s", jpath(t->json, "invoice.invoice_id"));
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"amount\":30,\"invoice_id\":\"%s\",\"amount_applied\":12.5}",
             cid, inv2);
    assert_int_equal(api(t, "POST", "customerpayments", body), 201);
    assert_body_has(t, "\"unused_amount\":17.50");
    snprintf(rel, sizeof rel, "invoices/%s", inv2);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_body_has(t, "\"balance\":17.50");
    /* lists */
    char q[96];
    snprintf(q, sizeof q, "customerpayments?customer_id=%s", cid);
    assert_int_equal(api(t, "GET", q, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(t->json, "customerpayments")), 3);
    assert_int_equal(api(t, "GET", "invoices?status=paid", NULL), 200);
    assert_int_equal(json_array_size(json_object_get(t->json, "invoices")), 1);
}

static void test_sbx_zoho_credits_applied(void **state)
{
    struct t *t = *state;
    char cid[32], other[32], inv[32], cn[32], body[512], rel[96];
    snprintf(cid, sizeof cid, "%s", new_contact(t, "Credited Corp"));
    snprintf(other, sizeof other, "%s", new_contact(t, "Uncredited Corp"));
    assert_int_equal(post_invoice(t, cid, NULL, "[{\"name\":\"a\",\"rate\":50}]"), 201);
    snprintf(inv, sizeof inv, "%s", jpath(t->json, "invoice.invoice_id"));
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"line_items\":[{\"name\":\"r\",\"rate\":30}]}", cid);
    assert_int_equal(api(t, "POST", "creditnotes", body), 201);
    snprintf(cn, sizeof cn, "%s", jpath(t->json, "creditnote.creditnote_id"));
    snprintf(rel, sizeof rel, "creditnotes/%s/invoices", cn);
    /* refused: more than the credit note holds, another customer's invoice, no invoices */
    snprintf(body, sizeof body, "{\"invoices\":[{\"invoice_id\":\"%s\",\"amount_applied\":31}]}",
             inv);
    assert_int_equal(api(t, "POST", rel, body), 400);
    assert_int_equal(api(t, "POST", rel, "{}"), 400);
    assert_int_equal(api(t, "POST", "creditnotes/1/invoices", "{}"), 404);
    assert_int_equal(post_invoice(t, other, NULL, "[{\"name\":\"o\",\"rate\":5}]"), 201);
    snprintf(body, sizeof body, "{\"invoice_id\":\"%s\",\"amount_applied\":1}",
             jpath(t->json, "invoice.invoice_id"));
    assert_int_equal(api(t, "POST", rel, body), 400);
    /* 20 of 30, then the remaining 10 */
    snprintf(body, sizeof body, "{\"invoices\":[{\"invoice_id\":\"%s\",\"amount_applied\":20}]}",
             inv);
    assert_int_equal(api(t, "POST", rel, body), 200);
    assert_string_equal(jpath(t->json, "message"), "Credits have been applied to the invoice(s).");
    char ir[64], cr[64];
    snprintf(ir, sizeof ir, "invoices/%s", inv);
    snprintf(cr, sizeof cr, "creditnotes/%s", cn);
    assert_int_equal(api(t, "GET", ir, NULL), 200);
    assert_body_has(t, "\"credits_applied\":20.00");
    assert_body_has(t, "\"balance\":30.00");
    assert_string_equal(jpath(t->json, "invoice.status"), "partially_paid");
    assert_int_equal(api(t, "GET", cr, NULL), 200);
    assert_body_has(t, "\"balance\":10.00");
    assert_body_has(t, "\"credits_used\":20.00");
    assert_string_equal(jpath(t->json, "creditnote.status"), "open");
    snprintf(body, sizeof body, "{\"invoice_id\":\"%s\",\"amount_applied\":10}", inv);
    assert_int_equal(api(t, "POST", rel, body), 200);
    assert_int_equal(api(t, "GET", cr, NULL), 200);
    assert_string_equal(jpath(t->json, "creditnote.status"), "closed");
    assert_body_has(t, "\"balance\":0.00");
    assert_int_equal(api(t, "POST", rel, body), 400); /* closed */
    /* a payment pays the rest: 50 = 30 credited + 20 paid */
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"amount\":20,\"invoices\":[{\"invoice_id\":\"%s\","
             "\"amount_applied\":20}]}",
             cid, inv);
    assert_int_equal(api(t, "POST", "customerpayments", body), 201);
    assert_int_equal(api(t, "GET", ir, NULL), 200);
    assert_string_equal(jpath(t->json, "invoice.status"), "paid");
    assert_body_has(t, "\"balance\":0.00");
    /* an edit keeps what was paid and credited */
    assert_int_equal(api(t, "PUT", ir, "{\"line_items\":[{\"name\":\"a\",\"rate\":60}]}"), 200);
    assert_body_has(t, "\"balance\":10.00");
    assert_string_equal(jpath(t->json, "invoice.status"), "partially_paid");
}

/* ---- webhooks ---- */

struct receiver {
    pthread_mutex_t mu;
    const char *secret;
    int n;
    int bad;
    json_t *bodies; /* every accepted body */
    json_t *events; /* X-Zoho-Event of each */
};

static int receive(void *ud, const struct hs_http_request *req, struct hs_http_response *resp)
{
    struct receiver *r = ud;
    const char *tok = hs_http_headers_get(&req->headers, "X-Zoho-Webhook-Token");
    bool ok = tok != NULL && strcmp(tok, r->secret) == 0;
    pthread_mutex_lock(&r->mu);
    r->n++;
    if (!ok) {
        r->bad++;
    } else {
        json_array_append_new(r->bodies, json_loadb(req->body.data, req->body.len, 0, NULL));
        json_array_append_new(r->events,
                              json_string(hs_http_headers_get(&req->headers, "X-Zoho-Event")));
    }
    pthread_mutex_unlock(&r->mu);
    resp->status = ok ? 200 : 401;
    return HS_OK;
}

static void test_sbx_zoho_webhooks(void **state)
{
    struct t *t = *state;
    struct receiver r = {PTHREAD_MUTEX_INITIALIZER, "s3cret", 0, 0, json_array(), json_array()};
    struct hs_http_server_config cfg = {"127.0.0.1", 0, 0, 2};
    struct hs_http_server *srv = NULL;
    assert_int_equal(hs_http_server_open(&cfg, receive, &r, &srv, NULL), HS_OK);
    char url[96], body[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/hook", (unsigned)hs_http_server_port(srv));
    snprintf(body, sizeof body, "{\"provider\":\"zohobooks\",\"url\":\"%s\",\"secret\":\"s3cret\"}",
             url);
    assert_int_equal(req(t, "POST", "/_sandbox/webhooks", body), 201);
    char cid[32];
    snprintf(cid, sizeof cid, "%s", new_contact(t, "Hooked Ltd"));
    assert_int_equal(post_invoice(t, cid, NULL, "[{\"name\":\"a\",\"rate\":7}]"), 201);
    char inv[32];
    snprintf(inv, sizeof inv, "%s", jpath(t->json, "invoice.invoice_id"));
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"amount\":7,\"invoices\":[{\"invoice_id\":\"%s\","
             "\"amount_applied\":7}]}",
             cid, inv);
    assert_int_equal(api(t, "POST", "customerpayments", body), 201);
    assert_int_equal(hs_sbx_webhook_drain(t->sbx, 5000), HS_OK);
    pthread_mutex_lock(&r.mu);
    /* one POST per change: contact, invoice, the invoice paid, the payment */
    assert_int_equal(r.bad, 0);
    assert_int_equal(r.n, 4);
    assert_string_equal(json_string_value(json_array_get(r.events, 0)), "contact.created");
    assert_string_equal(jpath(json_array_get(r.bodies, 0), "contact.contact_id"), cid);
    assert_string_equal(json_string_value(json_array_get(r.events, 1)), "invoice.created");
    assert_string_equal(json_string_value(json_array_get(r.events, 2)), "invoice.updated");
    assert_string_equal(jpath(json_array_get(r.bodies, 2), "invoice.status"), "paid");
    assert_string_equal(json_string_value(json_array_get(r.events, 3)), "payment.created");
    assert_string_equal(jpath(json_array_get(r.bodies, 3), "payment.customer_id"), cid);
    pthread_mutex_unlock(&r.mu);
    hs_http_server_close(srv);
    json_decref(r.bodies);
    json_decref(r.events);
}

/* ---- persistence ---- */

static void test_sbx_zoho_persistence(void **state)
{
    (void)state;
    char path[] = "/tmp/test_sbx_zoho_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    struct t *t = open_t(false, path);
    assert_int_equal(req(t, "POST", "/zohobooks/_sandbox/limits", "{\"per_day\":1234}"), 200);
    char cid[32];
    snprintf(cid, sizeof cid, "%s", new_contact(t, "Kept Corp"));
    assert_int_equal(post_invoice(t, cid, NULL, "[{\"name\":\"a\",\"rate\":100}]"), 201);
    char inv[32];
    snprintf(inv, sizeof inv, "%s", jpath(t->json, "invoice.invoice_id"));
    hs_sbx_close(t->sbx);
    t->sbx = NULL;
    json_decref(t->json);
    t->json = NULL;
    hs_http_response_release(&t->resp);
    hs_free(t);
    t = open_t(false, path);
    char rel[64];
    snprintf(rel, sizeof rel, "invoices/%s", inv);
    assert_int_equal(api(t, "GET", rel, NULL), 200);
    assert_body_has(t, "\"total\":100.00");
    assert_int_equal(api(t, "POST", "contacts", "{\"contact_name\":\"Kept Corp\"}"), 400);
    assert_int_equal(post_invoice(t, cid, NULL, "[{\"name\":\"a\",\"rate\":1}]"), 201);
    assert_string_equal(jpath(t->json, "invoice.invoice_number"), "INV-000002");
    assert_int_equal(req(t, "GET", "/zohobooks/_sandbox/limits", NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(t->json, "per_day")), 1234);
    close_t(t);
    unlink(path);
}

/* ---- the last_modified_time parser ---- */

static void test_sbx_zoho_time_parser(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_true(hs_zoho_time_parse("2026-11-23T18:00:00-UTC", &ms));
    assert_int_equal(ms, START_MS);
    assert_true(hs_zoho_time_parse("2026-11-23T18:00:00Z", &ms));
    assert_int_equal(ms, START_MS);
    assert_true(hs_zoho_time_parse("2026-11-23T18:00:00", &ms));
    assert_int_equal(ms, START_MS);
    assert_true(hs_zoho_time_parse("2026-11-23T10:00:00-0800", &ms));
    assert_int_equal(ms, START_MS);
    assert_true(hs_zoho_time_parse("2026-11-23T23:30:00+05:30", &ms));
    assert_int_equal(ms, START_MS);
    assert_true(hs_zoho_time_parse("2026-11-23", &ms));
    assert_int_equal(ms, START_MS - 18 * 3600000LL);
    assert_true(hs_zoho_time_parse("2024-02-29T00:00:00+0000", &ms));
    assert_true(hs_zoho_time_parse("1969-12-31T23:59:59Z", &ms));
    assert_int_equal(ms, -1000);
    static const char *const bad[] = {"",
                                      "2026-11-23T",
                                      "2026-11-23T18:00",
                                      "2026-13-01T00:00:00Z",
                                      "2026-02-29T00:00:00Z",
                                      "2026-04-31",
                                      "2026-11-23T24:00:00Z",
                                      "2026-11-23T18:00:00+2400",
                                      "2026-11-23T18:00:00+08",
                                      "2026-11-23T18:00:00-UTCX",
                                      "2026-11-23T18:00:00 ",
                                      "26-11-23",
                                      "2026/11/23",
                                      "2026-11-23x",
                                      "yesterday"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (hs_zoho_time_parse(bad[i], &ms))
            fail_msg("accepted '%s'", bad[i]);
    assert_false(hs_zoho_time_parse(NULL, &ms));
    char out[40];
    hs_zoho_time_format(START_MS, out, sizeof out);
    assert_string_equal(out, "2026-11-23T18:00:00+0000");
    assert_true(hs_zoho_time_parse(out, &ms));
    assert_int_equal(ms, START_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sbx_zoho_organizations_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_zoho_oauth_flow, setup, teardown),
        cmocka_unit_test(test_sbx_zoho_rate_limits),
        cmocka_unit_test_setup_teardown(test_sbx_zoho_contacts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_zoho_contact_person_endpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_zoho_upsert_by_unique_field, setup, teardown),
        cmocka_unit_test(test_sbx_zoho_seed_matches_quickbooks),
        cmocka_unit_test_setup_teardown(test_sbx_zoho_items, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_zoho_invoice_amounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_zoho_invoices_agree_with_core_tax, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sbx_zoho_last_modified_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_zoho_payments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_zoho_credits_applied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_zoho_webhooks, setup, teardown),
        cmocka_unit_test(test_sbx_zoho_persistence),
        cmocka_unit_test(test_sbx_zoho_time_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
