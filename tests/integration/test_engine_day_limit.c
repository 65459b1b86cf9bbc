/*
 * tests/integration/test_engine_day_limit.c - a provider's day limit spent part-way through a
 * slice: the real HubSpot and Zoho Books connectors against the sandbox (in-process transport),
 * Zoho's calls through the organization's rate limiter as the CLI builds it
 * (hs_conn_open_limited, the connection's rate_limits setting), a fake clock.
 *
 * Design:     the CRM has companies that Zoho Books does not; Zoho has no batch endpoint, so
 *             every create is one call (an upsert keyed by the idempotency key). The
 *             organization's day allows fewer calls than the creates need and the limiter
 *             may not wait for the next day (max wait 1 s): the pass stops with
 *             HS_ERATELIMIT. Every contact Zoho made before the refusal must be linked at
 *             once, the others not made; then the limit is lifted (the limiter may wait for
 *             the next day: the fake clock moves) and a pass creates the rest, none twice,
 *             and links everything. Zoho's requests are counted by the sandbox.
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

#include <jansson.h>

#include "config/config.h"
#include "connectors/common/limits.h"
#include "connectors/hubspot/hubspot.h"
#include "connectors/zohobooks/zohobooks.h"
#include "engine/engine.h"
#include "hoopsync/store.h"
#include "net/http.h"
#include "net/ratelimit.h"
#include "sandbox/sbx.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/jsonnum.h"

#define KEY_A     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define START_MS  1795456800000LL
#define COMPANIES 8
#define DAY_CALLS 5 /* Zoho calls a day: fewer than the creates need */

struct fx {
    char dir[64];
    char path[128];
    int64_t now;
    struct hs_env env;
    struct hs_sbx *sbx;
    struct hs_http_transport http;
    char org[32];
    json_t *zoho_settings;
    struct hs_connector *crm;
    struct hs_connector *acc;
    struct hs_ratelimit *limiter; /* Zoho's */
    struct hs_store *store;
    struct hs_config *cfg;
    struct hs_engine *e;
};

static int64_t fx_now(void *ud)
{
    return ((struct fx *)ud)->now;
}

static void fx_sleep(void *ud, int64_t ms)
{
    ((struct fx *)ud)->now += ms;
}

static uint64_t fx_rand(void *ud)
{
    (void)ud;
    return 42;
}

static void fx_log(void *ud, enum hs_log_level level, const char *msg)
{
    (void)ud;
    (void)level;
    (void)msg;
}

static int fx_token(void *ud, bool force, char **out, struct hs_error *err)
{
    (void)ud;
    (void)force;
    (void)err;
    *out = hs_strdup("T");
    return *out != NULL ? HS_OK : HS_ENOMEM;
}

static int sbx_call(struct fx *x, const char *method, const char *path, const char *auth,
                    const char *body, json_t **out)
{
    struct hs_http_request r;
    struct hs_http_response resp;
    hs_http_request_init(&r);
    hs_http_response_init(&resp);
    r.method = hs_strdup(method);
    const char *q = strchr(path, '?');
    r.path = q != NULL ? hs_strndup(path, (size_t)(q - path)) : hs_strdup(path);
    r.query = q != NULL ? hs_strdup(q + 1) : NULL;
    assert_int_equal(hs_http_headers_add(&r.headers, "Authorization", auth), HS_OK);
    if (body != NULL) {
        assert_int_equal(hs_buf_puts(&r.body, body), HS_OK);
        assert_int_equal(hs_http_headers_add(&r.headers, "Content-Type", "application/json"),
                         HS_OK);
    }
    assert_int_equal(hs_sbx_handle(x->sbx, &r, &resp), HS_OK);
    if (out != NULL)
        *out = json_loadb(resp.body.data != NULL ? resp.body.data : "", resp.body.len, 0, NULL);
    int status = resp.status;
    hs_http_request_release(&r);
    hs_http_response_release(&resp);
    return status;
}

static const char YAML[] = "version: 1\n"
                           "store: sqlite:hoopsync.db\n"
                           "connections:\n"
                           "  crm: {provider: hubspot}\n"
                           "  accounting: {provider: zohobooks}\n"
                           "flows:\n"
                           "  - name: customers\n"
                           "    objects: customers\n"
                           "    direction: both\n"
                           "    authority:\n"
                           "      default: crm\n";

static int setup(void **state)
{
    hs_alloc_setup_json();
    unsetenv(HS_STORE_KEY_ENV);
    struct fx *x = calloc(1, sizeof *x);
    snprintf(x->dir, sizeof x->dir, "/tmp/hs-engine-day-XXXXXX");
    if (mkdtemp(x->dir) == NULL)
        return -1;
    snprintf(x->path, sizeof x->path, "%s/hoopsync.db", x->dir);
    x->now = START_MS;
    x->env = (struct hs_env){.now_ms = fx_now,
                             .rand64 = fx_rand,
                             .log = fx_log,
                             .sleep_ms = fx_sleep,
                             .ud = x,
                             .min_level = HS_LOG_ERROR};
    struct hs_sbx_options opt = {0};
    opt.seed = 7;
    opt.seeded = true;
    opt.static_token = "T";
    opt.no_rate_limits = true; /* the client's limiter is what refuses */
    opt.start_ms = START_MS;
    opt.env = &x->env;
    opt.sizes.companies = COMPANIES;
    opt.sizes.customers = HS_SBX_NONE; /* Zoho has none of the companies: every one a create */
    opt.sizes.overlap_pct = HS_SBX_NONE;
    struct hs_error err = {0};
    if (hs_sbx_open(&opt, &x->sbx, &err) != HS_OK)
        fail_msg("sandbox: %s", err.msg);
    assert_int_equal(sbx_call(x, "POST", "/_sandbox/clock", "Bearer T", "{\"freeze\":true}", NULL),
                     200);
    json_t *ten = NULL;
    assert_int_equal(sbx_call(x, "GET", "/_sandbox/tenants", "Bearer T", NULL, &ten), 200);
    snprintf(
        x->org, sizeof x->org, "%s",
        json_string_value(json_object_get(json_object_get(ten, "zohobooks"), "organizationId")));
    json_decref(ten);
    assert_int_equal(hs_http_inproc_open(hs_sbx_handle, x->sbx, &x->http, &err), HS_OK);

    struct hs_connector_config cc = {.name = "crm",
                                     .base_url = "http://sandbox.test/hubspot",
                                     .tenant = "21430001",
                                     .http = &x->http,
                                     .env = &x->env,
                                     .token = fx_token};
    if (hs_connector_hubspot_ops.open(&cc, &x->crm, &err) != HS_OK)
        fail_msg("hubspot: %s", err.msg);
    if (hs_connector_hubspot_ops.setup != NULL &&
        hs_connector_hubspot_ops.setup(x->crm, &err) != HS_OK)
        fail_msg("hubspot setup: %s", err.msg);
    x->zoho_settings = json_pack("{s:s, s:[{s:s,s:i,s:i},{s:s,s:i,s:i}]}", "base_currency", "USD",
                                 "rate_limits", "scope", "all", "requests", 100, "window_ms", 60000,
                                 "scope", "day", "requests", DAY_CALLS, "window_ms", 86400000);
    assert_non_null(x->zoho_settings);
    struct hs_connector_config ac = {.name = "accounting",
                                     .base_url = "http://sandbox.test/zohobooks",
                                     .tenant = x->org,
                                     .http = &x->http,
                                     .env = &x->env,
                                     .token = fx_token,
                                     .settings = x->zoho_settings};
    if (hs_conn_open_limited(&hs_connector_zohobooks_ops, &ac, &x->limiter, &x->acc, &err) != HS_OK)
        fail_msg("zoho books: %s", err.msg);
    hs_ratelimit_set_max_wait(x->limiter, 1000); /* as `sync --once --max-wait 1` */

    struct hs_store_options sopt = {.env = &x->env, .master_key_hex = KEY_A};
    if (hs_store_open(x->path, &sopt, &x->store, &err) != HS_OK)
        fail_msg("store: %s", err.msg);
    assert_int_equal(
        hs_store_connection_put(x->store, "crm", HS_STORE_CRM, "hubspot", "21430001", NULL, &err),
        HS_OK);
    assert_int_equal(hs_store_connection_put(x->store, "accounting", HS_STORE_ACCOUNTING,
                                             "zohobooks", x->org, NULL, &err),
                     HS_OK);
    if (hs_config_parse((const uint8_t *)YAML, strlen(YAML), "/tmp/hoopsync.yaml", &x->cfg, &err) !=
        HS_OK)
        fail_msg("config: %s", err.msg);
    struct hs_engine_config ec = {
        .config = x->cfg,
        .store = x->store,
        .crm = {.ops = &hs_connector_hubspot_ops, .conn = x->crm, .conn_id = "crm"},
        .accounting = {.ops = &hs_connector_zohobooks_ops, .conn = x->acc, .conn_id = "accounting"},
        .env = &x->env,
    };
    if (hs_engine_open(&ec, &x->e, &err) != HS_OK)
        fail_msg("engine: %s", err.msg);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    hs_engine_close(x->e);
    hs_config_free(x->cfg);
    hs_store_close(x->store);
    hs_connector_hubspot_ops.close(x->crm);
    hs_connector_zohobooks_ops.close(x->acc);
    hs_ratelimit_free(x->limiter);
    json_decref(x->zoho_settings);
    hs_http_transport_close(&x->http);
    hs_sbx_close(x->sbx);
    char p[256];
    static const char *const files[] = {"hoopsync.db", "hoopsync.db-wal", "hoopsync.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", x->dir, files[i]);
        unlink(p);
    }
    rmdir(x->dir);
    free(x);
    return 0;
}

/* One pass a second later (both clocks); its result code, the report in *r. */
static int pass(struct fx *x, struct hs_engine_report *r, struct hs_error *err)
{
    hs_engine_report_init(r);
    x->now += 1000;
    assert_int_equal(
        sbx_call(x, "POST", "/_sandbox/clock", "Bearer T", "{\"advance_ms\":1000}", NULL), 200);
    return hs_engine_run_once(x->e, r, err);
}

/* Zoho Books' upserts so far (PUT /contacts, the create path), as the sandbox counted them. */
static int64_t zoho_creates(struct fx *x)
{
    json_t *j = NULL;
    assert_int_equal(sbx_call(x, "GET", "/_sandbox/stats", "Bearer T", NULL, &j), 200);
    json_t *eps =
        json_object_get(json_object_get(json_object_get(j, "providers"), "zohobooks"), "endpoints");
    int64_t n = 0;
    int rc = hs_json_i64(eps, "PUT /books/v3/{entity}", &n, NULL);
    json_decref(j);
    assert_true(rc == HS_OK || rc == HS_ENOTFOUND);
    return n;
}

/* Zoho Books' contacts (one page holds them all here): ids into ids[], the count returned. */
static size_t zoho_contacts(struct fx *x, char ids[][64], size_t cap)
{
    char path[160];
    snprintf(path, sizeof path, "/zohobooks/books/v3/contacts?organization_id=%s&per_page=200",
             x->org);
    json_t *j = NULL;
    assert_int_equal(sbx_call(x, "GET", path, "Zoho-oauthtoken T", NULL, &j), 200);
    json_t *arr = json_object_get(j, "contacts");
    assert_true(json_is_array(arr));
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n && i < cap; i++)
        snprintf(ids[i], sizeof ids[i], "%s",
                 json_string_value(json_object_get(json_array_get(arr, i), "contact_id")));
    json_decref(j);
    return n;
}

struct links {
    char acc[COMPANIES * 2][64];
    size_t n;
};

static int link_cb(void *ud, const struct hs_store_link *l)
{
    struct links *k = ud;
    if (k->n < sizeof k->acc / sizeof k->acc[0])
        snprintf(k->acc[k->n], sizeof k->acc[k->n], "%s", l->acc_id);
    k->n++;
    return 0;
}

static void links_of(struct fx *x, struct links *out)
{
    memset(out, 0, sizeof *out);
    struct hs_error err = {0};
    assert_int_equal(
        hs_store_link_each(x->store, "crm", "accounting", "customer", link_cb, out, &err), HS_OK);
}

/* Every link names a contact Zoho has, and every contact Zoho has is linked once. */
static void assert_linked_exactly(struct fx *x, size_t want)
{
    char ids[COMPANIES * 2][64];
    size_t n = zoho_contacts(x, ids, COMPANIES * 2);
    assert_int_equal(n, want);
    struct links l;
    links_of(x, &l);
    assert_int_equal(l.n, want);
    for (size_t i = 0; i < n; i++) {
        size_t found = 0;
        for (size_t k = 0; k < l.n; k++)
            found += strcmp(l.acc[k], ids[i]) == 0;
        assert_int_equal(found, 1);
    }
}

static void test_day_limit_links_what_zoho_created_and_resumes_without_duplicates(void **state)
{
    struct fx *x = *state;
    struct hs_engine_report r;
    struct hs_error err = {0};
    char ids[COMPANIES * 2][64];
    assert_int_equal(zoho_contacts(x, ids, COMPANIES * 2), 0);

    /* the day's calls run out part-way through the creates */
    assert_int_equal(pass(x, &r, &err), HS_ERATELIMIT);
    assert_non_null(strstr(err.msg, "work resumes at"));
    int64_t made = zoho_creates(x);
    print_message("first pass: %lld of %d creates before the day's limit; %zu created in the "
                  "report\n",
                  (long long)made, COMPANIES, r.n_created);
    assert_true(made > 0 && made < COMPANIES);
    assert_linked_exactly(x, (size_t)made);
    assert_int_equal(hs_store_intent_count(x->store, &err), COMPANIES - made);
    /* the report counts what was done */
    assert_int_equal(r.n_created, (size_t)made);
    assert_int_equal(r.n_errors, 0);
    hs_engine_report_release(&r);
    assert_int_equal(hs_store_item_count(x->store, 0, NULL, -1, &err), 0);

    /* the limit lifted (the limiter may wait for the next day): the rest, none twice */
    hs_ratelimit_set_max_wait(x->limiter, 0);
    if (pass(x, &r, &err) != HS_OK)
        fail_msg("second pass: %s", err.msg);
    assert_int_equal(r.n_created, (size_t)(COMPANIES - made));
    assert_int_equal(zoho_creates(x), COMPANIES);
    hs_engine_report_release(&r);
    assert_linked_exactly(x, COMPANIES);
    assert_int_equal(hs_store_intent_count(x->store, &err), 0);
    assert_int_equal(hs_store_dirty_count(x->store, &err), 0);

    /* and nothing is left to do */
    if (pass(x, &r, &err) != HS_OK)
        fail_msg("third pass: %s", err.msg);
    assert_int_equal(r.n_writes, 0);
    hs_engine_report_release(&r);
    assert_int_equal(zoho_creates(x), COMPANIES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_day_limit_links_what_zoho_created_and_resumes_without_duplicates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
