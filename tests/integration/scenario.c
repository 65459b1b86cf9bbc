/*
 * tests/integration/scenario.c - the shared set-up of the scenario tests (scenario.h): the
 *                                sandbox process, the engine stack, HubSpot helpers and the
 *                                QuickBooks row of struct scn_acc.
 *
 * Design:     the sandbox runs as its own process (bin/hoopsync-sandbox from $HS_BUILD_DIR)
 *             so that a test can also run the engine in a child process and SIGKILL it; every
 *             call goes over real HTTP through the libcurl transport. Answers are parsed with
 *             exact numbers (util/jsonnum.h) so amounts are compared in minor units, never as
 *             doubles. Sizes of the seeded world are small (a pass takes well under a second)
 *             but keep every country, so name variants and currencies are all there.
 * Not here:   the scenarios themselves (test_scenarios_*.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "connectors/hubspot/hubspot.h"
#include "connectors/quickbooks/quickbooks.h"
#include "core/money.h"
#include "scenario.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/jsonnum.h"
#include "util/str.h"

#define KEY_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define PORTAL  "21430001"
/* the sandbox's world (the same as its command line in start_sandbox) */
#define SEED_JSON                                                                                  \
    "{\"seed\":7,\"companies\":20,\"contacts\":20,\"products\":8,\"deals\":6,"                     \
    "\"customers\":4}"

/* ---- env: a fake clock equal to the sandbox's frozen one ---- */

static int64_t env_now(void *ud)
{
    return ((struct scn *)ud)->now;
}

static void env_sleep(void *ud, int64_t ms)
{
    ((struct scn *)ud)->now += ms;
}

static uint64_t env_rand(void *ud)
{
    (void)ud;
    return 42;
}

static void env_log(void *ud, enum hs_log_level level, const char *msg)
{
    (void)ud;
    if (level >= HS_LOG_ERROR || getenv("HS_TEST_VERBOSE") != NULL)
        print_message("log: %s\n", msg);
}

static int token_fn(void *ud, bool force, char **out, struct hs_error *err)
{
    (void)ud;
    (void)force;
    (void)err;
    *out = hs_strdup("T");
    return *out != NULL ? HS_OK : HS_ENOMEM;
}

int scn_group_setup(void **state)
{
    (void)state;
    hs_alloc_setup_json();
    unsetenv(HS_STORE_KEY_ENV);
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int scn_group_teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

/* ---- HTTP ---- */

int scn_http(struct scn *s, const char *method, const char *path, const char *body, json_t **out)
{
    return scn_http_hdr(s, method, path, NULL, NULL, body, out);
}

int scn_http_hdr(struct scn *s, const char *method, const char *path, const char *name,
                 const char *value, const char *body, json_t **out)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", s->base, path);
    struct hs_http_request r;
    struct hs_http_response resp;
    hs_http_request_init(&r);
    hs_http_response_init(&resp);
    assert_int_equal(hs_http_request_set(&r, method, url), HS_OK);
    assert_int_equal(hs_http_headers_add(&r.headers, "Authorization", "Bearer T"), HS_OK);
    assert_int_equal(hs_http_headers_add(&r.headers, "Accept", "application/json"), HS_OK);
    if (name != NULL)
        assert_int_equal(hs_http_headers_add(&r.headers, name, value), HS_OK);
    if (body != NULL) {
        assert_int_equal(hs_buf_puts(&r.body, body), HS_OK);
        assert_int_equal(hs_http_headers_add(&r.headers, "Content-Type", "application/json"),
                         HS_OK);
    }
    r.timeout_ms = 30000;
    struct hs_error err;
    hs_error_clear(&err);
    int rc = hs_http_send(&s->api, &r, &resp, &err);
    if (rc != HS_OK)
        fail_msg("%s %s: %s", method, path, err.msg);
    if (out != NULL) {
        *out = NULL;
        if (resp.body.len > 0 && hs_json_parse_exact((const uint8_t *)resp.body.data, resp.body.len,
                                                     "answer", out, &err) != HS_OK)
            fail_msg("%s %s: %s", method, path, err.msg);
    }
    if (resp.status >= 400 && getenv("HS_TEST_VERBOSE") != NULL)
        print_message("%s %s -> %d %.*s\n", method, path, resp.status, (int)resp.body.len,
                      resp.body.data != NULL ? resp.body.data : "");
    int status = resp.status;
    hs_http_request_release(&r);
    hs_http_response_release(&resp);
    return status;
}

void scn_reconnect(struct scn *s)
{
    hs_http_transport_close(&s->api);
    struct hs_http_curl_options co = {.timeout_ms = 60000};
    assert_int_equal(hs_http_curl_open(&co, &s->api, NULL), HS_OK);
}

void scn_faults(struct scn *s, const char *spec)
{
    json_t *b = json_pack("{s:s}", "spec", spec);
    char *body = json_dumps(b, JSON_COMPACT);
    assert_int_equal(scn_http(s, "POST", "/_sandbox/faults", body, NULL), 200);
    hs_free(body); /* jansson allocates through hs_malloc */
    json_decref(b);
}

void scn_advance(struct scn *s, int64_t ms)
{
    char body[64];
    snprintf(body, sizeof body, "{\"advance_ms\":%lld}", (long long)ms);
    assert_int_equal(scn_http(s, "POST", "/_sandbox/clock", body, NULL), 200);
    s->now += ms;
}

int64_t scn_minor(const char *text, const char *currency)
{
    assert_non_null(text);
    struct hs_money m;
    struct hs_error err;
    hs_error_clear(&err);
    if (hs_money_parse_exact(text, strlen(text), currency, &m, &err) != HS_OK)
        fail_msg("amount '%s' %s: %s", text, currency, err.msg);
    return m.minor;
}

void scn_url_encode(const char *in, char *out, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p != '\0' && o + 4 < len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

/* ---- the sandbox process ---- */

static void start_sandbox(struct scn *s)
{
    const char *build = getenv("HS_BUILD_DIR");
    assert_non_null(build); /* set by CTest */
    char bin[512], errlog[160];
    snprintf(bin, sizeof bin, "%s/bin/hoopsync-sandbox", build);
    snprintf(errlog, sizeof errlog, "%s/sandbox.err", s->dir);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int e = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (e >= 0)
            dup2(e, 2);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        /* small world with every country: 20 companies (half also in QuickBooks, under
         * variant names), 1 contact each, 8 products, 6 deals, 4 accounting-only customers */
        execl(bin, bin, "--port", "0", "--seed", "7", "--token", "T", "--no-rate-limits",
              "--threads", "4", "--companies", "20", "--contacts", "20", "--products", "8",
              "--deals", "6", "--customers", "4", (char *)NULL); /* as SEED_JSON */
        _exit(127);
    }
    close(fds[1]);
    s->sbx_pid = pid;
    char line[256];
    size_t n = 0;
    while (n + 1 < sizeof line) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int pr = poll(&p, 1, 15000);
        if (pr <= 0)
            fail_msg("sandbox did not start (see %s)", errlog);
        ssize_t k = read(fds[0], line + n, 1);
        if (k <= 0)
            fail_msg("sandbox exited at start (see %s)", errlog);
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    close(fds[0]); /* it prints nothing else to stdout */
    const char *at = strstr(line, "http://127.0.0.1:");
    if (at == NULL)
        fail_msg("sandbox said '%s'", line);
    snprintf(s->base, sizeof s->base, "%s", at);
}

/* Stops the sandbox; false (with its stderr in msg) unless it shut down cleanly (exit 0). */
static bool stop_sandbox(struct scn *s, char *msg, size_t len)
{
    msg[0] = '\0';
    if (s->sbx_pid <= 0)
        return true;
    kill(s->sbx_pid, SIGTERM);
    int st = 0;
    while (waitpid(s->sbx_pid, &st, 0) < 0 && errno == EINTR)
        ;
    s->sbx_pid = 0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return true;
    /* show what the sandbox said (sanitizer reports included) */
    char path[160];
    snprintf(path, sizeof path, "%s/sandbox.err", s->dir);
    int k = snprintf(msg, len, "status %d: ", st);
    FILE *f = fopen(path, "r");
    size_t n =
        f != NULL && k > 0 && (size_t)k < len ? fread(msg + k, 1, len - (size_t)k - 1, f) : 0;
    msg[(k > 0 && (size_t)k < len ? (size_t)k : 0) + n] = '\0';
    if (f != NULL)
        fclose(f);
    return false;
}

struct scn *scn_open(const struct scn_options *opt)
{
    struct scn *s = calloc(1, sizeof *s);
    assert_non_null(s);
    if (opt != NULL)
        s->opt = *opt;
    s->acc = s->opt.acc != NULL ? s->opt.acc : scn_current;
    snprintf(s->dir, sizeof s->dir, "/tmp/hs-scenario-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->db, sizeof s->db, "%s/hoopsync.db", s->dir);
    s->now = SCN_START_MS;
    s->env = (struct hs_env){.now_ms = env_now,
                             .rand64 = env_rand,
                             .log = env_log,
                             .sleep_ms = env_sleep,
                             .ud = s,
                             .min_level = HS_LOG_WARN};
    struct hs_error err;
    hs_error_clear(&err);
    struct hs_http_curl_options co = {.timeout_ms = 60000};
    assert_int_equal(hs_http_curl_open(&co, &s->api, &err), HS_OK);
    start_sandbox(s);
    char body[96];
    snprintf(body, sizeof body, "{\"set_ms\":%lld,\"freeze\":true}", (long long)SCN_START_MS);
    assert_int_equal(scn_http(s, "POST", "/_sandbox/clock", body, NULL), 200);
    /* seeded again under the frozen clock: the start-up seed stamped the records with the
     * wall clock, which may be hours after SCN_START_MS, and a change feed whose cursor is the
     * newest record's time (Xero's UpdatedDateUTC) would then skip every later change */
    assert_int_equal(scn_http(s, "POST", "/_sandbox/seed", SEED_JSON, NULL), 200);
    s->acc->tenant(s, s->tenant, sizeof s->tenant);
    return s;
}

static void open_store(struct scn *s)
{
    struct hs_error err;
    hs_error_clear(&err);
    struct hs_store_options so = {.env = &s->env, .master_key_hex = KEY_HEX};
    if (hs_store_open(s->db, &so, &s->store, &err) != HS_OK)
        fail_msg("store: %s", err.msg);
    assert_int_equal(
        hs_store_connection_put(s->store, "crm", HS_STORE_CRM, "hubspot", PORTAL, NULL, &err),
        HS_OK);
    assert_int_equal(hs_store_connection_put(s->store, "accounting", HS_STORE_ACCOUNTING,
                                             s->acc->name, s->tenant, NULL, &err),
                     HS_OK);
}

void scn_engine_open(struct scn *s)
{
    struct hs_error err;
    hs_error_clear(&err);
    open_store(s);
    struct hs_http_curl_options co = {.timeout_ms = 60000};
    assert_int_equal(hs_http_curl_open(&co, &s->http, &err), HS_OK);
    snprintf(s->crm_url, sizeof s->crm_url, "%s/hubspot", s->base);
    s->crm_settings = s->opt.tax_from_lines ? json_pack("{s:{s:{s:s}}}", "properties", "line",
                                                        "tax_code", "hs_tax_rate")
                                            : json_object();
    if (s->opt.crm_custom != NULL) {
        /* a company property of the customer's own (as a HubSpot admin creates it) */
        char body[256];
        snprintf(body, sizeof body,
                 "{\"name\":\"%s\",\"label\":\"%s\",\"type\":\"string\",\"fieldType\":\"text\","
                 "\"groupName\":\"companyinformation\"}",
                 s->opt.crm_custom, s->opt.crm_custom);
        int st = scn_http(s, "POST", "/hubspot/crm/v3/properties/companies", body, NULL);
        assert_true(st == 201 || st == 409);
        assert_int_equal(json_object_set_new(s->crm_settings, "custom_properties",
                                             json_pack("{s:[s]}", "customer", s->opt.crm_custom)),
                         0);
    }
    struct hs_connector_config cc = {.name = "crm",
                                     .base_url = s->crm_url,
                                     .tenant = PORTAL,
                                     .http = &s->http,
                                     .env = &s->env,
                                     .token = token_fn,
                                     .settings = s->crm_settings};
    if (hs_connector_hubspot_ops.open(&cc, &s->crm, &err) != HS_OK)
        fail_msg("hubspot: %s", err.msg);
    /* what `hoopsync connect crm` does: the hoopsync properties (idempotent) */
    if (hs_connector_hubspot_ops.setup != NULL &&
        hs_connector_hubspot_ops.setup(s->crm, &err) != HS_OK)
        fail_msg("hubspot setup: %s", err.msg);
    snprintf(s->acc_url, sizeof s->acc_url, "%s/%s", s->base, s->acc->name);
    snprintf(s->acc_tenant, sizeof s->acc_tenant, "%s", s->tenant);
    s->acc_settings = s->acc->settings(s);
    struct hs_connector_config ac = {.name = "accounting",
                                     .base_url = s->acc_url,
                                     .tenant = s->acc_tenant,
                                     .http = &s->http,
                                     .env = &s->env,
                                     .token = token_fn,
                                     .settings = s->acc_settings};
    if (s->acc->ops->open(&ac, &s->accc, &err) != HS_OK)
        fail_msg("%s: %s", s->acc->name, err.msg);

    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "version: 1\n"
             "store: sqlite:hoopsync.db\n"
             "connections:\n"
             "  crm: {provider: hubspot}\n"
             "  accounting: {provider: %s}\n"
             "flows:\n"
             "  - name: customers\n"
             "    objects: customers\n"
             "    direction: both\n"
             "    authority:\n"
             "      default: %s\n"
             "%s%s%s"
             "%s",
             s->acc->name, s->opt.authority != NULL ? s->opt.authority : "crm",
             s->opt.filter != NULL ? "    filter: " : "",
             s->opt.filter != NULL ? s->opt.filter : "", s->opt.filter != NULL ? "\n" : "",
             s->opt.invoicing ? "  - name: items\n"
                                "    objects: items\n"
                                "    direction: crm_to_accounting\n"
                              : "");
    if (hs_config_parse((const uint8_t *)yaml, strlen(yaml), "/tmp/hoopsync.yaml", &s->cfg, &err) !=
        HS_OK)
        fail_msg("config: %s", err.msg);
    struct hs_engine_config ec = {
        .config = s->cfg,
        .store = s->store,
        .crm = {.ops = &hs_connector_hubspot_ops, .conn = s->crm, .conn_id = "crm"},
        .accounting = {.ops = s->acc->ops, .conn = s->accc, .conn_id = "accounting"},
        .env = &s->env,
    };
    if (s->opt.invoicing) {
        if (s->opt.tax_from_lines && s->tax_map == NULL) {
            assert_int_equal(hs_tax_map_new(&s->tax_map), HS_OK);
            s->acc->tax_codes(s, s->tax_map);
        }
        s->terms[0] = (struct hs_invoice_term){.name = "Net 30", .due_days = 30};
        s->stages[0] = "closedwon";
        enum hs_tax_mode mode = s->opt.tax_mode != 0 ? s->opt.tax_mode : HS_TAX_NONE;
        s->iv = (struct hs_engine_invoicing){.won_stages = s->stages,
                                             .n_won_stages = 1,
                                             .tax_map = s->tax_map,
                                             .policy = s->acc->policy(mode),
                                             .terms = s->terms,
                                             .n_terms = 1,
                                             .payment_terms = "Net 30",
                                             .default_currency = "USD",
                                             .provider = s->acc->label};
        ec.invoicing = &s->iv;
    }
    if (hs_engine_open(&ec, &s->e, &err) != HS_OK)
        fail_msg("engine: %s", err.msg);
}

void scn_engine_close(struct scn *s)
{
    hs_engine_close(s->e);
    s->e = NULL;
    hs_config_free(s->cfg);
    s->cfg = NULL;
    if (s->crm != NULL)
        hs_connector_hubspot_ops.close(s->crm);
    s->crm = NULL;
    if (s->accc != NULL)
        s->acc->ops->close(s->accc);
    s->accc = NULL;
    json_decref(s->crm_settings);
    json_decref(s->acc_settings);
    s->crm_settings = s->acc_settings = NULL;
    if (s->http.ops != NULL)
        hs_http_transport_close(&s->http);
    memset(&s->http, 0, sizeof s->http);
    hs_store_close(s->store);
    s->store = NULL;
}

void scn_close(struct scn *s)
{
    if (s == NULL)
        return;
    scn_engine_close(s);
    hs_tax_map_free(s->tax_map);
    char msg[4096];
    bool clean = stop_sandbox(s, msg, sizeof msg);
    hs_http_transport_close(&s->api);
    static const char *const files[] = {"hoopsync.db", "hoopsync.db-wal", "hoopsync.db-shm",
                                        "hoopsync.db-journal", "sandbox.err"};
    char p[256];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", s->dir, files[i]);
        unlink(p);
    }
    rmdir(s->dir);
    free(s);
    if (!clean)
        fail_msg("the sandbox did not shut down cleanly (%s)", msg);
}

void scn_pass(struct scn *s, struct hs_engine_report *r)
{
    assert_non_null(s->e);
    scn_advance(s, 1000);
    hs_engine_report_init(r);
    struct hs_error err;
    hs_error_clear(&err);
    int rc = hs_engine_run_once(s->e, r, &err);
    if (rc != HS_OK)
        fail_msg("pass: %s", err.msg);
    for (size_t i = 0; i < r->n_actions; i++)
        if (r->actions[i].kind == HS_ENGINE_ERROR || getenv("HS_TEST_VERBOSE") != NULL)
            print_message("  %s %s %s -> %s [%s]: %s\n", hs_engine_action_name(r->actions[i].kind),
                          hs_kind_name(r->actions[i].object), r->actions[i].source_id,
                          r->actions[i].target_id != NULL ? r->actions[i].target_id : "-",
                          r->actions[i].fields != NULL ? r->actions[i].fields : "",
                          r->actions[i].reason);
}

/* HubSpot records of type with their last-modified date, into out ("<type>/<id>" -> date). */
static void crm_versions(struct scn *s, const char *type, const char *prop, json_t *out)
{
    char path[256];
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/%s?limit=100&properties=%s", type, prop);
    for (int page = 0; page < 100; page++) {
        json_t *j = NULL;
        assert_int_equal(scn_http(s, "GET", path, NULL, &j), 200);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(j, "results"), i, r)
        {
            char key[128];
            snprintf(key, sizeof key, "%s/%s", type, hs_json_str(r, "id"));
            const char *v = hs_json_str(json_object_get(r, "properties"), prop);
            json_object_set_new(out, key, json_string(v != NULL ? v : ""));
        }
        const char *after =
            hs_json_str(json_object_get(json_object_get(j, "paging"), "next"), "after");
        if (after != NULL)
            snprintf(path, sizeof path,
                     "/hubspot/crm/v3/objects/%s?limit=100&properties=%s&after=%s", type, prop,
                     after);
        json_decref(j);
        if (after == NULL)
            return;
    }
    fail_msg("too many %s", type);
}

static json_t *all_versions(struct scn *s)
{
    json_t *v = s->acc->versions(s);
    crm_versions(s, "companies", "hs_lastmodifieddate", v);
    crm_versions(s, "contacts", "lastmodifieddate", v);
    crm_versions(s, "deals", "hs_lastmodifieddate", v);
    crm_versions(s, "products", "hs_lastmodifieddate", v);
    return v;
}

void scn_quiet_pass(struct scn *s)
{
    json_t *before = all_versions(s);
    struct hs_engine_report r;
    scn_pass(s, &r);
    /* everything is released before a failure (a failed assertion does not return) */
    char msg[512] = "";
    if (r.n_writes != 0 || r.n_calls_write != 0) {
        snprintf(msg, sizeof msg, "a pass with nothing changed wrote %zu records in %zu calls",
                 r.n_writes, r.n_calls_write);
        for (size_t i = 0; i < r.n_actions; i++)
            print_message("  %s %s: %s\n", r.actions[i].fields ? r.actions[i].fields : "",
                          r.actions[i].source_id, r.actions[i].reason ? r.actions[i].reason : "");
    } else if (scn_count(&r, HS_ENGINE_CREATE, HS_KIND_NONE) != 0)
        snprintf(msg, sizeof msg, "a pass with nothing changed created records");
    hs_engine_report_release(&r);
    json_t *after = msg[0] == '\0' ? all_versions(s) : json_object();
    const char *key;
    json_t *v;
    json_object_foreach(after, key, v)
    {
        json_t *was = json_object_get(before, key);
        if (msg[0] == '\0' && (was == NULL || !json_equal(was, v)))
            snprintf(msg, sizeof msg, "a pass with nothing changed changed %s (%s -> %s)", key,
                     was != NULL ? json_string_value(was) : "absent", json_string_value(v));
    }
    if (msg[0] == '\0' && json_object_size(after) != json_object_size(before))
        snprintf(msg, sizeof msg, "a pass with nothing changed: %zu records before, %zu after",
                 json_object_size(before), json_object_size(after));
    json_decref(before);
    json_decref(after);
    if (msg[0] != '\0')
        fail_msg("%s", msg);
}

size_t scn_count(const struct hs_engine_report *r, enum hs_engine_action_kind k, enum hs_kind obj)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_actions; i++)
        n += r->actions[i].kind == k && (obj == HS_KIND_NONE || r->actions[i].object == obj);
    return n;
}

/* ---- HubSpot ---- */

void scn_crm_create(struct scn *s, const char *type, const char *props_json, const char *assoc,
                    char out[SCN_ID_MAX])
{
    char path[128];
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/%s", type);
    struct hs_buf b;
    hs_buf_init(&b);
    assert_int_equal(hs_buf_printf(&b, "{\"properties\":%s%s%s}", props_json,
                                   assoc != NULL ? ",\"associations\":" : "",
                                   assoc != NULL ? assoc : ""),
                     HS_OK);
    json_t *j = NULL;
    int st = scn_http(s, "POST", path, b.data, &j);
    if (st != 201)
        fail_msg("create %s %s: %d", type, b.data, st);
    snprintf(out, SCN_ID_MAX, "%s", hs_json_str(j, "id"));
    json_decref(j);
    hs_buf_release(&b);
}

void scn_crm_set(struct scn *s, const char *type, const char *id, const char *prop,
                 const char *value)
{
    char path[160];
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/%s/%s", type, id);
    json_t *b = json_pack("{s:{s:s}}", "properties", prop, value);
    char *body = json_dumps(b, JSON_COMPACT);
    int st = scn_http(s, "PATCH", path, body, NULL);
    if (st != 200)
        fail_msg("PATCH %s %s: %d", path, body, st);
    hs_free(body);
    json_decref(b);
}

void scn_crm_get(struct scn *s, const char *type, const char *id, const char *prop, char *out,
                 size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/%s/%s?properties=%s", type, id, prop);
    json_t *j = NULL;
    assert_int_equal(scn_http(s, "GET", path, NULL, &j), 200);
    const char *v = hs_json_str(json_object_get(j, "properties"), prop);
    snprintf(out, len, "%s", v != NULL ? v : "");
    json_decref(j);
}

size_t scn_crm_find(struct scn *s, const char *type, const char *prop, const char *value,
                    char out[SCN_ID_MAX])
{
    char path[128];
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/%s/search", type);
    json_t *b = json_pack("{s:[{s:[{s:s, s:s, s:s}]}], s:i}", "filterGroups", "filters",
                          "propertyName", prop, "operator", "EQ", "value", value, "limit", 100);
    char *body = json_dumps(b, JSON_COMPACT);
    json_t *j = NULL;
    assert_int_equal(scn_http(s, "POST", path, body, &j), 200);
    json_t *res = json_object_get(j, "results");
    size_t n = json_array_size(res);
    if (n > 0 && out != NULL)
        snprintf(out, SCN_ID_MAX, "%s", hs_json_str(json_array_get(res, 0), "id"));
    json_decref(j);
    hs_free(body);
    json_decref(b);
    return n;
}

void scn_crm_product(struct scn *s, size_t n, char out[SCN_ID_MAX])
{
    json_t *j = NULL;
    assert_int_equal(scn_http(s, "GET", "/hubspot/crm/v3/objects/products?limit=100", NULL, &j),
                     200);
    json_t *res = json_object_get(j, "results");
    assert_true(n < json_array_size(res));
    snprintf(out, SCN_ID_MAX, "%s", hs_json_str(json_array_get(res, n), "id"));
    json_decref(j);
}

void scn_crm_deal(struct scn *s, const char *company, const char *name, const char *currency,
                  const char *stage, const struct scn_line *lines, size_t n_lines,
                  char out[SCN_ID_MAX])
{
    char props[512], assoc[256];
    snprintf(props, sizeof props,
             "{\"dealname\":\"%s\",\"dealstage\":\"%s\",\"pipeline\":\"default\","
             "\"deal_currency_code\":\"%s\",\"closedate\":\"%lld\"}",
             name, stage, currency, (long long)s->now);
    snprintf(assoc, sizeof assoc,
             "[{\"to\":{\"id\":\"%s\"},\"types\":[{\"associationCategory\":\"HUBSPOT_DEFINED\","
             "\"associationTypeId\":5}]}]",
             company);
    scn_crm_create(s, "deals", props, assoc, out);
    for (size_t i = 0; i < n_lines; i++) {
        char lp[512], la[256], id[SCN_ID_MAX];
        snprintf(lp, sizeof lp,
                 "{\"name\":\"%s line %zu\",\"hs_product_id\":\"%s\",\"quantity\":\"%s\","
                 "\"price\":\"%s\",\"hs_line_item_currency_code\":\"%s\"%s%s%s}",
                 name, i + 1, lines[i].product, lines[i].quantity, lines[i].price, currency,
                 lines[i].tax_rate != NULL ? ",\"hs_tax_rate\":\"" : "",
                 lines[i].tax_rate != NULL ? lines[i].tax_rate : "",
                 lines[i].tax_rate != NULL ? "\"" : "");
        snprintf(la, sizeof la,
                 "[{\"to\":{\"id\":\"%s\"},\"types\":[{\"associationCategory\":"
                 "\"HUBSPOT_DEFINED\",\"associationTypeId\":20}]}]",
                 out);
        scn_crm_create(s, "line_items", lp, la, id);
    }
}

/* ---- store ---- */

bool scn_linked(struct scn *s, const char *object, const char *crm_id, char out[SCN_ID_MAX])
{
    struct hs_store_link l;
    memset(&l, 0, sizeof l);
    int rc =
        hs_store_link_find(s->store, "crm", "accounting", object, HS_STORE_CRM, crm_id, &l, NULL);
    if (rc == HS_ENOTFOUND)
        return false;
    assert_int_equal(rc, HS_OK);
    if (out != NULL)
        snprintf(out, SCN_ID_MAX, "%s", l.acc_id);
    hs_store_link_release(&l);
    return true;
}

bool scn_linked_acc(struct scn *s, const char *object, const char *acc_id, char out[SCN_ID_MAX])
{
    struct hs_store_link l;
    memset(&l, 0, sizeof l);
    int rc = hs_store_link_find(s->store, "crm", "accounting", object, HS_STORE_ACCOUNTING, acc_id,
                                &l, NULL);
    if (rc == HS_ENOTFOUND)
        return false;
    assert_int_equal(rc, HS_OK);
    if (out != NULL)
        snprintf(out, SCN_ID_MAX, "%s", l.crm_id);
    hs_store_link_release(&l);
    return true;
}

struct items_ud {
    const char *remote_id;
    int n;
    char *msg;
    size_t len;
};

static int items_cb(void *ud, const struct hs_store_item *it)
{
    struct items_ud *u = ud;
    if (u->remote_id != NULL && strcmp(u->remote_id, it->remote_id) != 0)
        return 0;
    u->n++;
    if (u->msg != NULL)
        snprintf(u->msg, u->len, "%s", it->message);
    return 0;
}

int scn_items(struct scn *s, enum hs_store_item_kind kind, const char *remote_id, char *msg,
              size_t len)
{
    struct items_ud u = {.remote_id = remote_id, .msg = msg, .len = len};
    if (msg != NULL && len > 0)
        msg[0] = '\0';
    assert_int_equal(
        hs_store_item_each(s->store, kind, NULL, HS_STORE_ITEM_OPEN, items_cb, &u, NULL), 0);
    return u.n;
}

/* ---- QuickBooks Online: the first row of struct scn_acc ---- */

static json_t *qbo_settings(struct scn *s)
{
    (void)s;
    return json_pack("{s:s, s:i}", "income_account", "2", "minorversion", 75);
}

static void qbo_tenant(struct scn *s, char *out, size_t len)
{
    json_t *ten = NULL;
    assert_int_equal(scn_http(s, "GET", "/_sandbox/tenants", NULL, &ten), 200);
    const char *realm =
        json_string_value(json_object_get(json_object_get(ten, "quickbooks"), "realmId"));
    assert_non_null(realm);
    snprintf(out, len, "%s", realm);
    json_decref(ten);
}

static int qbo_api(struct scn *s, const char *method, const char *rel, const char *body,
                   json_t **out)
{
    char path[1200];
    int w = snprintf(path, sizeof path, "/quickbooks/v3/company/%s/%s%cminorversion=75", s->tenant,
                     rel, strchr(rel, '?') != NULL ? '&' : '?');
    assert_true(w > 0 && (size_t)w < sizeof path);
    return scn_http(s, method, path, body, out);
}

/* Answers of "select * from <entity> [where <where>]": the QueryResponse array (new ref). */
static json_t *qbo_query(struct scn *s, const char *entity, const char *where)
{
    char q[512], enc[1024], rel[1100];
    snprintf(q, sizeof q, "select * from %s%s%s maxresults 1000", entity,
             where != NULL ? " where " : "", where != NULL ? where : "");
    scn_url_encode(q, enc, sizeof enc);
    snprintf(rel, sizeof rel, "query?query=%s", enc);
    json_t *j = NULL;
    int st = qbo_api(s, "GET", rel, NULL, &j);
    if (st != 200)
        fail_msg("query '%s': %d", q, st);
    json_t *arr = json_object_get(json_object_get(j, "QueryResponse"), entity);
    json_t *out = arr != NULL ? json_incref(arr) : json_array();
    json_decref(j);
    return out;
}

static void qbo_create_customer(struct scn *s, const char *name, const char *currency,
                                const char *email, char out[SCN_ID_MAX])
{
    json_t *b = json_pack("{s:s, s:{s:s}}", "DisplayName", name, "CurrencyRef", "value",
                          currency != NULL ? currency : "USD");
    if (email != NULL)
        json_object_set_new(b, "PrimaryEmailAddr", json_pack("{s:s}", "Address", email));
    char *body = json_dumps(b, JSON_COMPACT);
    json_t *j = NULL;
    int st = qbo_api(s, "POST", "customer", body, &j);
    if (st != 200)
        fail_msg("QuickBooks customer %s: %d", body, st);
    snprintf(out, SCN_ID_MAX, "%s", hs_json_str(json_object_get(j, "Customer"), "Id"));
    json_decref(j);
    hs_free(body);
    json_decref(b);
}

/* {"PrimaryPhone":{"FreeFormNumber":v}} and the like for canonical field names. */
static json_t *qbo_field(const char *field, const char *value)
{
    if (strcmp(field, "phone") == 0)
        return json_pack("{s:{s:s}}", "PrimaryPhone", "FreeFormNumber", value);
    if (strcmp(field, "website") == 0)
        return json_pack("{s:{s:s}}", "WebAddr", "URI", value);
    if (strcmp(field, "email") == 0)
        return json_pack("{s:{s:s}}", "PrimaryEmailAddr", "Address", value);
    if (strcmp(field, "display_name") == 0)
        return json_pack("{s:s}", "DisplayName", value);
    fail_msg("no QuickBooks field for '%s'", field);
    return NULL;
}

static json_t *qbo_customer(struct scn *s, const char *id)
{
    char rel[96];
    snprintf(rel, sizeof rel, "customer/%s", id);
    json_t *j = NULL;
    assert_int_equal(qbo_api(s, "GET", rel, NULL, &j), 200);
    json_t *c = json_incref(json_object_get(j, "Customer"));
    json_decref(j);
    assert_non_null(c);
    return c;
}

static void qbo_edit_customer(struct scn *s, const char *id, const char *field, const char *value)
{
    json_t *cur = qbo_customer(s, id);
    json_t *b = qbo_field(field, value);
    json_object_set_new(b, "Id", json_string(id));
    json_object_set(b, "SyncToken", json_object_get(cur, "SyncToken"));
    json_object_set_new(b, "sparse", json_true());
    struct hs_buf body;
    hs_buf_init(&body);
    assert_int_equal(hs_json_dump_exact(b, &body), HS_OK);
    int st = qbo_api(s, "POST", "customer", body.data, NULL);
    if (st != 200)
        fail_msg("QuickBooks edit %s: %d", body.data, st);
    hs_buf_release(&body);
    json_decref(b);
    json_decref(cur);
}

static void qbo_customer_field(struct scn *s, const char *id, const char *field, char *out,
                               size_t len)
{
    json_t *c = qbo_customer(s, id);
    const char *v = NULL;
    if (strcmp(field, "phone") == 0)
        v = hs_json_str(json_object_get(c, "PrimaryPhone"), "FreeFormNumber");
    else if (strcmp(field, "website") == 0)
        v = hs_json_str(json_object_get(c, "WebAddr"), "URI");
    else if (strcmp(field, "email") == 0)
        v = hs_json_str(json_object_get(c, "PrimaryEmailAddr"), "Address");
    else if (strcmp(field, "display_name") == 0)
        v = hs_json_str(c, "DisplayName");
    else
        fail_msg("no QuickBooks field for '%s'", field);
    snprintf(out, len, "%s", v != NULL ? v : "");
    json_decref(c);
}

static json_t *qbo_customers(struct scn *s)
{
    json_t *arr = qbo_query(s, "Customer", "Active in (true, false)");
    json_t *out = json_object();
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
        json_object_set_new(out, hs_json_str(c, "Id"), json_string(hs_json_str(c, "DisplayName")));
    json_decref(arr);
    return out;
}

static json_t *qbo_versions(struct scn *s)
{
    static const char *const entities[] = {"Customer", "Item", "Invoice", "Payment"};
    json_t *out = json_object();
    for (size_t e = 0; e < sizeof entities / sizeof entities[0]; e++) {
        json_t *arr = qbo_query(s, entities[e], e < 2 ? "Active in (true, false)" : NULL);
        size_t i;
        json_t *r;
        json_array_foreach(arr, i, r)
        {
            char key[96];
            snprintf(key, sizeof key, "%s/%s", entities[e], hs_json_str(r, "Id"));
            json_object_set_new(out, key, json_string(hs_json_str(r, "SyncToken")));
        }
        json_decref(arr);
    }
    return out;
}

/* Every QuickBooks create of the connector goes through the realm's /batch endpoint. */
static void qbo_create_path(struct scn *s, enum hs_kind kind, char *out, size_t len)
{
    (void)kind;
    snprintf(out, len, "/company/%s/batch", s->tenant);
}

static size_t qbo_customers_named(struct scn *s, const char *name, char out[SCN_ID_MAX])
{
    char where[256];
    snprintf(where, sizeof where, "DisplayName = '%s'", name);
    json_t *arr = qbo_query(s, "Customer", where);
    size_t n = json_array_size(arr);
    if (n > 0 && out != NULL)
        snprintf(out, SCN_ID_MAX, "%s", hs_json_str(json_array_get(arr, 0), "Id"));
    json_decref(arr);
    return n;
}

static void qbo_invoice(struct scn *s, const char *id, struct scn_invoice *out)
{
    memset(out, 0, sizeof *out);
    char rel[96];
    snprintf(rel, sizeof rel, "invoice/%s", id);
    json_t *j = NULL;
    int st = qbo_api(s, "GET", rel, NULL, &j);
    json_t *inv = json_object_get(j, "Invoice");
    if (st != 200 || inv == NULL) {
        json_decref(j);
        return;
    }
    out->exists = true;
    const char *cur = hs_json_str(json_object_get(inv, "CurrencyRef"), "value");
    snprintf(out->currency, sizeof out->currency, "%s", cur != NULL ? cur : "USD");
    out->total = scn_minor(hs_json_num_text(json_object_get(inv, "TotalAmt")), out->currency);
    out->balance = scn_minor(hs_json_num_text(json_object_get(inv, "Balance")), out->currency);
    const char *num = hs_json_str(inv, "DocNumber");
    snprintf(out->number, sizeof out->number, "%s", num != NULL ? num : "");
    snprintf(out->customer, sizeof out->customer, "%s",
             hs_json_str(json_object_get(inv, "CustomerRef"), "value"));
    json_decref(j);
}

static size_t qbo_invoices_of(struct scn *s, const char *customer)
{
    char where[128];
    snprintf(where, sizeof where, "CustomerRef = '%s'", customer);
    json_t *arr = qbo_query(s, "Invoice", where);
    size_t n = json_array_size(arr);
    json_decref(arr);
    return n;
}

static void qbo_pay(struct scn *s, const char *invoice_id, int64_t amount)
{
    struct scn_invoice inv;
    qbo_invoice(s, invoice_id, &inv);
    assert_true(inv.exists);
    struct hs_money m;
    assert_int_equal(hs_money_from_minor(amount, inv.currency, &m, NULL), HS_OK);
    char amt[HS_MONEY_FMT_MAX];
    assert_true(hs_money_format(&m, amt, sizeof amt) > 0);
    char body[512];
    snprintf(body, sizeof body,
             "{\"CustomerRef\":{\"value\":\"%s\"},\"CurrencyRef\":{\"value\":\"%s\"},"
             "\"TotalAmt\":%s,\"Line\":[{\"Amount\":%s,\"LinkedTxn\":[{\"TxnId\":\"%s\","
             "\"TxnType\":\"Invoice\"}]}]}",
             inv.customer, inv.currency, amt, amt, invoice_id);
    int st = qbo_api(s, "POST", "payment", body, NULL);
    if (st != 200)
        fail_msg("QuickBooks payment %s: %d", body, st);
}

static void qbo_tax_codes(struct scn *s, struct hs_tax_map *m)
{
    json_t *codes = qbo_query(s, "TaxCode", "Active = true");
    size_t i;
    json_t *c;
    json_array_foreach(codes, i, c)
    {
        json_t *details = json_object_get(json_object_get(c, "SalesTaxRateList"), "TaxRateDetail");
        if (json_array_size(details) == 0)
            continue;
        struct hs_tax_code code;
        memset(&code, 0, sizeof code);
        snprintf(code.code, sizeof code.code, "%s", hs_json_str(c, "Id"));
        size_t k;
        json_t *d;
        json_array_foreach(details, k, d)
        {
            if (code.n_components == HS_TAX_MAX_COMPONENTS)
                break;
            const char *rid = hs_json_str(json_object_get(d, "TaxRateRef"), "value");
            char rel[64];
            snprintf(rel, sizeof rel, "taxrate/%s", rid);
            json_t *r = NULL;
            assert_int_equal(qbo_api(s, "GET", rel, NULL, &r), 200);
            const char *pct =
                hs_json_num_text(json_object_get(json_object_get(r, "TaxRate"), "RateValue"));
            assert_non_null(pct);
            struct hs_tax_component *tc = &code.components[code.n_components++];
            snprintf(tc->rate_ref, sizeof tc->rate_ref, "%s", rid);
            assert_int_equal(hs_decimal_parse_exact(pct, strlen(pct), &tc->percent, NULL), HS_OK);
            json_decref(r);
        }
        struct hs_error err;
        hs_error_clear(&err);
        if (hs_tax_map_add(m, hs_json_str(c, "Name"), &code, &err) != HS_OK)
            fail_msg("tax map: %s", err.msg);
    }
    json_decref(codes);
    assert_true(hs_tax_map_count(m) >= 2);
}

const struct scn_acc scn_quickbooks = {
    .name = "quickbooks",
    .label = "QuickBooks",
    .ops = &hs_connector_quickbooks_ops,
    .settings = qbo_settings,
    .tenant = qbo_tenant,
    .create_customer = qbo_create_customer,
    .edit_customer = qbo_edit_customer,
    .customer_field = qbo_customer_field,
    .customers = qbo_customers,
    .create_path = qbo_create_path,
    .versions = qbo_versions,
    .customers_named = qbo_customers_named,
    .invoice = qbo_invoice,
    .invoices_of = qbo_invoices_of,
    .pay = qbo_pay,
    .tax_codes = qbo_tax_codes,
    .policy = hs_tax_policy_quickbooks,
    .edit_prop = "website",
    .edit_field = "website",
    .edit_before = "https://",
    .edit_after = ".example",
};

/* ---- the suite over every accounting provider ---------------------------------------------- */

const struct scn_acc *const scn_providers[] = {&scn_quickbooks, &scn_xero, &scn_zoho, NULL};

/* GLOBAL: the provider of the group running now (one group at a time, set by scn_run_all) */
const struct scn_acc *scn_current = &scn_quickbooks;

int scn_run_all(const char *suite, const struct CMUnitTest *tests, size_t n)
{
    int failed = 0;
    for (size_t i = 0; scn_providers[i] != NULL; i++) {
        scn_current = scn_providers[i];
        char name[128];
        snprintf(name, sizeof name, "%s: HubSpot x %s", suite, scn_current->label);
        failed += _cmocka_run_group_tests(name, tests, n, scn_group_setup, scn_group_teardown);
    }
    scn_current = &scn_quickbooks;
    return failed;
}

void scn_skip_unless(const struct scn *s, bool applies, const char *why)
{
    if (applies)
        return;
    print_message("skipped for %s: %s\n", s->acc->label, why);
    skip();
}
