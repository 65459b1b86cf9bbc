/*
 * tests/unit/test_conn_request.c - the common request helper and the OAuth2 flow end to end
 * against the in-process sandbox: consent -> the sandbox's 302 followed by hand -> code
 * exchange -> API calls through hs_conn_request with the token source -> refresh before
 * expiry with the rotated refresh token persisted -> 401 -> forced refresh -> retry ->
 * revoked grant (POST /_sandbox/revoke) -> the one clear HS_EAUTH. Also 429 + Retry-After,
 * 5xx backoff, transport errors, status mapping and Retry-After dates, on a fake clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "connectors/common/request.h"
#include "hoopsync/connector.h"
#include "net/http.h"
#include "net/oauth.h"
#include "net/ratelimit.h"
#include "sandbox/sbx.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

#define T0 ((int64_t)1767225600000) /* 2026-01-01T00:00:00Z */

/* ---- fake clock ---- */

struct fake {
    int64_t now;
    int64_t slept;
    int n_sleeps;
};

static int64_t fake_now(void *ud)
{
    return ((struct fake *)ud)->now;
}

static void fake_sleep(void *ud, int64_t ms)
{
    struct fake *f = ud;
    f->now += ms;
    f->slept += ms;
    f->n_sleeps++;
}

static uint64_t fake_rand(void *ud)
{
    (void)ud;
    return 7;
}

static void fake_env(struct fake *f, struct hs_env *env)
{
    memset(f, 0, sizeof *f);
    f->now = T0;
    memset(env, 0, sizeof *env);
    env->now_ms = fake_now;
    env->sleep_ms = fake_sleep;
    env->rand64 = fake_rand;
    env->ud = f;
    env->min_level = HS_LOG_ERROR;
}

/* ---- in-memory vault ---- */

struct vault {
    char access[128];
    char refresh[128];
    int64_t expires_at;
    int saves;
};

static int vault_load(void *ud, struct hs_oauth_tokens *out, struct hs_error *err)
{
    struct vault *v = ud;
    if (v->access[0] == '\0')
        return hs_error_set(err, HS_ENOTFOUND, "no tokens");
    out->access_token = hs_strdup(v->access);
    out->refresh_token = hs_strdup(v->refresh);
    out->expires_at = v->expires_at;
    return out->access_token && out->refresh_token ? HS_OK : HS_ENOMEM;
}

static int vault_save(void *ud, const struct hs_oauth_tokens *t, struct hs_error *err)
{
    (void)err;
    struct vault *v = ud;
    snprintf(v->access, sizeof v->access, "%s", t->access_token);
    if (t->refresh_token != NULL)
        snprintf(v->refresh, sizeof v->refresh, "%s", t->refresh_token);
    v->expires_at = t->expires_at;
    v->saves++;
    return HS_OK;
}

static const struct hs_oauth_vault_ops vault_ops = {vault_load, vault_save};

/* ---- sandbox fixture ---- */

struct sfx {
    struct fake clock;
    struct hs_env env;
    struct hs_sbx *sbx;
    struct hs_http_transport http;
};

static int sbx_setup(void **state)
{
    struct sfx *s = hs_calloc(1, sizeof *s);
    if (s == NULL)
        return -1;
    fake_env(&s->clock, &s->env);
    struct hs_sbx_options opt;
    memset(&opt, 0, sizeof opt);
    opt.seed = 7;
    opt.start_ms = T0;
    if (hs_sbx_open(&opt, &s->sbx, NULL) != HS_OK)
        return -1;
    if (hs_http_inproc_open(hs_sbx_handle, s->sbx, &s->http, NULL) != HS_OK)
        return -1;
    *state = s;
    return 0;
}

static int sbx_teardown(void **state)
{
    struct sfx *s = *state;
    hs_http_transport_close(&s->http);
    hs_sbx_close(s->sbx);
    hs_free(s);
    return 0;
}

/* Sends a sandbox admin call; returns the status. */
static int admin(struct sfx *s, const char *method, const char *path, const char *body)
{
    struct hs_http_request req;
    struct hs_http_response resp;
    hs_http_request_init(&req);
    hs_http_response_init(&resp);
    char *url = hs_asprintf("http://sbx%s", path);
    assert_int_equal(hs_http_request_set(&req, method, url), HS_OK);
    if (body != NULL)
        assert_int_equal(hs_buf_puts(&req.body, body), HS_OK);
    assert_int_equal(hs_http_send(&s->http, &req, &resp, NULL), HS_OK);
    int status = resp.status;
    hs_free(url);
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    return status;
}

/* Moves both clocks: ours and the sandbox's. */
static void advance(struct sfx *s, int64_t ms)
{
    s->clock.now += ms;
    char body[64];
    snprintf(body, sizeof body, "{\"advance_ms\":%lld}", (long long)ms);
    assert_int_equal(admin(s, "POST", "/_sandbox/clock", body), 200);
}

/* Runs consent -> 302 -> callback -> exchange for provider; fills vault and tenant. */
static void connect(struct sfx *s, struct hs_oauth_client *c, char **out_authorize,
                    char **out_token, const char *provider, const char *base, struct vault *v,
                    char **out_tenant)
{
    assert_int_equal(
        hs_oauth_endpoints(hs_oauth_profile_find(provider), base, out_authorize, out_token, NULL),
        HS_OK);
    memset(c, 0, sizeof *c);
    c->profile = hs_oauth_profile_find(provider);
    c->name = strcmp(provider, "hubspot") == 0 ? "crm" : "accounting";
    c->client_id = "hoopsync-app";
    c->client_secret = "app-secret";
    c->redirect_uri = "http://127.0.0.1:8977/callback";
    c->authorize_url = *out_authorize;
    c->token_url = *out_token;
    c->http = &s->http;
    c->env = &s->env;

    struct hs_oauth_consent consent;
    assert_int_equal(hs_oauth_consent_build(c, NULL, 0, &consent, NULL), HS_OK);
    struct hs_http_request req;
    struct hs_http_response resp;
    hs_http_request_init(&req);
    hs_http_response_init(&resp);
    assert_int_equal(hs_http_request_set(&req, "GET", consent.url), HS_OK);
    assert_int_equal(hs_http_send(&s->http, &req, &resp, NULL), HS_OK);
    assert_int_equal(resp.status, 302);
    const char *loc = hs_http_headers_get(&resp.headers, "Location");
    assert_non_null(loc);
    assert_true(hs_str_starts(loc, "http://127.0.0.1:8977/callback?"));
    const char *q = strchr(loc, '?') + 1;
    struct hs_oauth_callback cb;
    struct hs_error err = {0};
    assert_int_equal(
        hs_oauth_callback_parse(c->profile, c->name, q, strlen(q), consent.state, &cb, &err),
        HS_OK);
    struct hs_oauth_tokens t;
    assert_int_equal(hs_oauth_exchange(c, cb.code, consent.verifier, &t, &err), HS_OK);
    /* the code is single-use */
    struct hs_oauth_tokens t2;
    assert_int_equal(hs_oauth_exchange(c, cb.code, consent.verifier, &t2, &err), HS_EAUTH);
    assert_non_null(strstr(err.msg, "the authorization code was refused"));
    assert_int_equal(vault_save(v, &t, NULL), HS_OK);
    *out_tenant = hs_strdup(cb.tenant != NULL ? cb.tenant : t.tenant);
    assert_non_null(*out_tenant);
    hs_oauth_tokens_release(&t);
    hs_oauth_callback_release(&cb);
    hs_oauth_consent_release(&consent);
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
}

static int get(const struct hs_connector_config *cfg, const char *path, struct hs_conn_stats *stats,
               struct hs_error *err, int *out_status)
{
    struct hs_http_request req;
    struct hs_http_response resp;
    hs_http_request_init(&req);
    hs_http_response_init(&resp);
    char *url = hs_conn_url(cfg, path);
    assert_non_null(url);
    assert_int_equal(hs_http_request_set(&req, "GET", url), HS_OK);
    assert_int_equal(hs_http_headers_set(&req.headers, "Accept", "application/json"), HS_OK);
    struct hs_conn_request_opts o;
    memset(&o, 0, sizeof o);
    o.stats = stats;
    int rc = hs_conn_request_ex(cfg, NULL, &req, &o, &resp, err);
    *out_status = resp.status;
    if (rc == HS_OK)
        rc = hs_conn_check(cfg, &req, &resp, err);
    hs_free(url);
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    return rc;
}

static void test_request_quickbooks_oauth_refresh_rotation_and_revocation(void **state)
{
    struct sfx *s = *state;
    assert_int_equal(admin(s, "POST", "/_sandbox/clock", "{\"freeze\":true}"), 200);
    struct hs_oauth_client c;
    char *a = NULL;
    char *t = NULL;
    char *realm = NULL;
    struct vault v;
    memset(&v, 0, sizeof v);
    connect(s, &c, &a, &t, "quickbooks", "http://sbx/quickbooks", &v, &realm);
    assert_int_equal(v.expires_at, T0 + 3600 * 1000);
    char first_refresh[128];
    snprintf(first_refresh, sizeof first_refresh, "%s", v.refresh);

    struct hs_oauth_source *src = NULL;
    assert_int_equal(hs_oauth_source_new(&c, &vault_ops, &v, 0, &src, NULL), HS_OK);
    struct hs_connector_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.name = "accounting";
    cfg.base_url = "http://sbx/quickbooks/";
    cfg.tenant = realm;
    cfg.http = &s->http;
    cfg.env = &s->env;
    cfg.token = hs_oauth_source_token;
    cfg.token_ud = src;
    char path[128];
    snprintf(path, sizeof path, "/v3/company/%s/companyinfo/%s", realm, realm);

    struct hs_conn_stats st;
    memset(&st, 0, sizeof st);
    struct hs_error err = {0};
    int status = 0;
    assert_int_equal(get(&cfg, path, &st, &err, &status), HS_OK);
    assert_int_equal(status, 200);
    assert_int_equal(st.attempts, 1);
    assert_int_equal(hs_oauth_source_refreshes(src), 0);

    /* 56 minutes later the token expires within the margin: refreshed before the call, the
     * rotated refresh token saved with the new access token */
    advance(s, 56 * 60 * 1000);
    assert_int_equal(get(&cfg, path, &st, &err, &status), HS_OK);
    assert_int_equal(hs_oauth_source_refreshes(src), 1);
    assert_string_not_equal(v.refresh, first_refresh);
    assert_int_equal(v.expires_at, s->clock.now + 3600 * 1000);
    assert_int_equal(st.attempts, 2);
    assert_int_equal(st.refreshes, 0);

    /* the old refresh token is dead (rotation), the saved one works */
    struct hs_oauth_tokens nt;
    assert_int_equal(hs_oauth_refresh(&c, first_refresh, &nt, &err), HS_EAUTH);

    /* the user disconnects the app: the next call gets 401, the forced refresh is refused,
     * and the caller sees the one clear message */
    assert_int_equal(admin(s, "POST", "/_sandbox/revoke", "{\"provider\":\"quickbooks\"}"), 200);
    assert_int_equal(get(&cfg, path, &st, &err, &status), HS_EAUTH);
    assert_string_equal(err.msg, "connection 'accounting' (quickbooks): the grant was revoked or "
                                 "expired; run 'hoopsync connect accounting'");
    assert_int_equal(st.refreshes, 1);

    hs_oauth_source_free(src);
    hs_free(a);
    hs_free(t);
    hs_free(realm);
}

static void test_request_hubspot_401_refreshes_once_and_retries(void **state)
{
    struct sfx *s = *state;
    assert_int_equal(admin(s, "POST", "/_sandbox/clock", "{\"freeze\":true}"), 200);
    struct hs_oauth_client c;
    char *a = NULL;
    char *t = NULL;
    char *portal = NULL;
    struct vault v;
    memset(&v, 0, sizeof v);
    connect(s, &c, &a, &t, "hubspot", "http://sbx/hubspot", &v, &portal);
    assert_true(strlen(portal) > 0); /* hub_id from the token answer */
    struct hs_oauth_source *src = NULL;
    assert_int_equal(hs_oauth_source_new(&c, &vault_ops, &v, 0, &src, NULL), HS_OK);
    struct hs_connector_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.name = "crm";
    cfg.base_url = "http://sbx/hubspot";
    cfg.http = &s->http;
    cfg.env = &s->env;
    cfg.token = hs_oauth_source_token;
    cfg.token_ud = src;
    /* only the provider's clock moves: our copy still looks valid, the provider says 401 */
    assert_int_equal(admin(s, "POST", "/_sandbox/clock", "{\"advance_ms\":1860000}"), 200);
    struct hs_conn_stats st;
    memset(&st, 0, sizeof st);
    struct hs_error err = {0};
    int status = 0;
    assert_int_equal(get(&cfg, "crm/v3/objects/companies?limit=1", &st, &err, &status), HS_OK);
    assert_int_equal(status, 200);
    assert_int_equal(st.attempts, 2);
    assert_int_equal(st.refreshes, 1);
    assert_int_equal(hs_oauth_source_refreshes(src), 1);
    /* HubSpot does not rotate: the refresh token is kept */
    hs_oauth_source_free(src);
    hs_free(a);
    hs_free(t);
    hs_free(portal);
}

/* ---- scripted endpoint for retry policy ---- */

struct script {
    int statuses[8];
    const char *retry_after[8];
    int n;
    int i;
    struct fake *clock;
    int64_t at[8]; /* fake time of each request */
    char auth[8][64];
};

static int script_handler(void *ud, const struct hs_http_request *req,
                          struct hs_http_response *resp)
{
    struct script *sc = ud;
    int k = sc->i < sc->n ? sc->i : sc->n - 1;
    if (sc->i < 8) {
        sc->at[sc->i] = sc->clock->now;
        const char *a = hs_http_headers_get(&req->headers, "Authorization");
        snprintf(sc->auth[sc->i], sizeof sc->auth[sc->i], "%s", a ? a : "");
    }
    sc->i++;
    int rc = hs_http_response_text(resp, sc->statuses[k], "text/plain", "x");
    if (rc == HS_OK && sc->retry_after[k] != NULL)
        rc = hs_http_headers_set(&resp->headers, "Retry-After", sc->retry_after[k]);
    return rc;
}

struct tok {
    int calls;
    int forced;
    int fail;
};

static int tok_fn(void *ud, bool force, char **out, struct hs_error *err)
{
    struct tok *t = ud;
    t->calls++;
    if (force)
        t->forced++;
    if (t->fail)
        return hs_error_set(err, HS_EAUTH,
                            "connection 'crm' (hubspot): the grant was revoked "
                            "or expired; run 'hoopsync connect crm'");
    *out = hs_asprintf("tok-%d", t->calls);
    return *out != NULL ? HS_OK : HS_ENOMEM;
}

struct rfx {
    struct fake clock;
    struct hs_env env;
    struct script sc;
    struct tok tok;
    struct hs_http_transport http;
    struct hs_connector_config cfg;
    struct hs_conn_stats st;
};

static int r_setup(void **state)
{
    struct rfx *r = hs_calloc(1, sizeof *r);
    if (r == NULL)
        return -1;
    fake_env(&r->clock, &r->env);
    r->sc.clock = &r->clock;
    if (hs_http_inproc_open(script_handler, &r->sc, &r->http, NULL) != HS_OK)
        return -1;
    r->cfg.name = "crm";
    r->cfg.base_url = "http://api";
    r->cfg.http = &r->http;
    r->cfg.env = &r->env;
    r->cfg.token = tok_fn;
    r->cfg.token_ud = &r->tok;
    *state = r;
    return 0;
}

static int r_teardown(void **state)
{
    struct rfx *r = *state;
    hs_http_transport_close(&r->http);
    hs_free(r);
    return 0;
}

static int send_one(struct rfx *r, const struct hs_conn_request_opts *o0, int *out_status,
                    struct hs_error *err)
{
    struct hs_http_request req;
    struct hs_http_response resp;
    hs_http_request_init(&req);
    hs_http_response_init(&resp);
    assert_int_equal(hs_http_request_set(&req, "POST", "http://api/x"), HS_OK);
    struct hs_conn_request_opts o;
    memset(&o, 0, sizeof o);
    if (o0 != NULL)
        o = *o0;
    o.stats = &r->st;
    int rc = hs_conn_request_ex(&r->cfg, "batch", &req, &o, &resp, err);
    *out_status = resp.status;
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    return rc;
}

static void script(struct rfx *r, int n, const int *statuses, const char *const *ra)
{
    r->sc.n = n;
    r->sc.i = 0;
    for (int i = 0; i < n; i++) {
        r->sc.statuses[i] = statuses[i];
        r->sc.retry_after[i] = ra != NULL ? ra[i] : NULL;
    }
}

static void test_request_429_waits_retry_after_and_pauses_the_scope(void **state)
{
    struct rfx *r = *state;
    struct hs_ratelimit *rl = NULL;
    assert_int_equal(hs_ratelimit_new(&r->env, &rl), HS_OK);
    r->cfg.limiter = rl;
    const int st[] = {429, 200};
    const char *ra[] = {"7", NULL};
    script(r, 2, st, ra);
    int status = 0;
    assert_int_equal(send_one(r, NULL, &status, NULL), HS_OK);
    assert_int_equal(status, 200);
    assert_int_equal(r->sc.at[1] - r->sc.at[0], 7000);
    assert_int_equal(r->clock.slept, 7000);
    assert_int_equal(r->st.status_429, 1);
    assert_int_equal(r->st.waited_ms, 7000);
    int64_t calls = 0;
    hs_ratelimit_stats(rl, &calls, NULL);
    assert_int_equal(calls, 2); /* every attempt takes a call from the limiter */

    /* an HTTP date 90 s ahead waits exactly 90 s; the scope is paused for others too */
    const char *date[] = {"Thu, 01 Jan 2026 00:01:37 GMT", NULL}; /* T0 + 7 s + 90 s */
    script(r, 2, st, date);
    assert_int_equal(send_one(r, NULL, &status, NULL), HS_OK);
    assert_int_equal(r->sc.at[1] - r->sc.at[0], 90000);
    /* a Retry-After beyond the cap (a day limit) goes to the limiter: with a longest wait
     * set (the CLI) the call is refused at once, saying when work resumes, and so is the next
     * one, without a send */
    struct hs_ratelimit *day = NULL;
    assert_int_equal(hs_ratelimit_new(&r->env, &day), HS_OK);
    hs_ratelimit_set_max_wait(day, 15 * 60000);
    r->cfg.limiter = day;
    const char *huge[] = {"86400", NULL};
    script(r, 2, st, huge);
    int64_t t0 = r->clock.now;
    struct hs_error err = {0};
    assert_int_equal(send_one(r, NULL, &status, &err), HS_ERATELIMIT);
    assert_int_equal(r->sc.i, 1);
    assert_int_equal(r->clock.now, t0);
    assert_non_null(strstr(err.msg, "connection 'crm': the provider asked us to wait"));
    assert_non_null(strstr(err.msg, "work resumes at"));
    struct hs_ratelimit_block b;
    assert_true(hs_ratelimit_blocked(day, &b));
    assert_int_equal(b.resume_at_ms, t0 + 86400000);
    const int ok200[] = {200};
    script(r, 1, ok200, NULL);
    assert_int_equal(send_one(r, NULL, &status, &err), HS_ERATELIMIT);
    assert_int_equal(r->sc.i, 0);
    /* without a longest wait (the benchmark) the limiter waits the day out */
    hs_ratelimit_set_max_wait(day, 0);
    script(r, 1, ok200, NULL);
    assert_int_equal(send_one(r, NULL, &status, NULL), HS_OK);
    assert_int_equal(status, 200);
    assert_int_equal(r->clock.now, t0 + 86400000);
    /* without a limiter the 429 comes back as it is */
    r->cfg.limiter = NULL;
    script(r, 2, st, huge);
    t0 = r->clock.now;
    assert_int_equal(send_one(r, NULL, &status, NULL), HS_OK);
    assert_int_equal(status, 429);
    assert_int_equal(r->clock.now, t0);
    hs_ratelimit_free(day);
    r->cfg.limiter = rl;
    /* without Retry-After: wait_429_ms when given */
    const char *none[] = {NULL, NULL};
    script(r, 2, st, none);
    struct hs_conn_request_opts o;
    memset(&o, 0, sizeof o);
    o.wait_429_ms = 60000;
    assert_int_equal(send_one(r, &o, &status, NULL), HS_OK);
    assert_int_equal(status, 200);
    assert_int_equal(r->sc.at[1] - r->sc.at[0], 60000);
    r->cfg.limiter = NULL;
    hs_ratelimit_free(rl);
}

/* A 429 without Retry-After that opts->wait_429 recognises (Zoho's day limit): the scope it
 * names is paused for the wait it gives. */
static int64_t day_429(void *ud, const struct hs_http_response *resp, const char **scope)
{
    int *seen = ud;
    (*seen)++;
    if (resp->status != 429)
        return -1;
    *scope = "all"; /* holds back every scope */
    return 86400000;
}

static void test_request_429_callback_pauses_the_day(void **state)
{
    struct rfx *r = *state;
    struct hs_ratelimit *rl = NULL;
    assert_int_equal(hs_ratelimit_new(&r->env, &rl), HS_OK);
    assert_int_equal(hs_ratelimit_add(rl, "day", 1000, 86400000), HS_OK);
    hs_ratelimit_set_max_wait(rl, 60000);
    r->cfg.limiter = rl;
    const int st[] = {429, 200};
    script(r, 2, st, NULL);
    int seen = 0;
    struct hs_conn_request_opts o;
    memset(&o, 0, sizeof o);
    o.wait_429_ms = 60000;
    o.wait_429 = day_429;
    o.wait_429_ud = &seen;
    int status = 0;
    struct hs_error err = {0};
    int64_t t0 = r->clock.now;
    /* the request's scope is "batch": the pause is the callback's ("all"), and too long */
    assert_int_equal(send_one(r, &o, &status, &err), HS_ERATELIMIT);
    assert_int_equal(seen, 1);
    assert_int_equal(r->sc.i, 1);
    assert_int_equal(r->clock.now, t0);
    struct hs_ratelimit_block b;
    assert_true(hs_ratelimit_blocked(rl, &b));
    assert_string_equal(b.scope, "all");
    assert_int_equal(b.limit, 0);
    assert_int_equal(b.resume_at_ms, t0 + 86400000);
    /* a window refusal names the window */
    struct hs_ratelimit *w = NULL;
    assert_int_equal(hs_ratelimit_new(&r->env, &w), HS_OK);
    assert_int_equal(hs_ratelimit_add(w, "batch", 1, 86400000), HS_OK);
    hs_ratelimit_set_max_wait(w, 60000);
    r->cfg.limiter = w;
    const int ok200[] = {200, 200};
    script(r, 2, ok200, NULL);
    assert_int_equal(send_one(r, NULL, &status, &err), HS_OK);
    assert_int_equal(send_one(r, NULL, &status, &err), HS_ERATELIMIT);
    assert_int_equal(r->sc.i, 1);
    assert_non_null(
        strstr(err.msg, "connection 'crm': its limit of 1 calls a day (batch) is spent"));
    r->cfg.limiter = NULL;
    hs_ratelimit_free(w);
    hs_ratelimit_free(rl);
}

static void test_request_5xx_backoff_is_bounded(void **state)
{
    struct rfx *r = *state;
    const int st[] = {503};
    script(r, 1, st, NULL);
    int status = 0;
    assert_int_equal(send_one(r, NULL, &status, NULL), HS_OK);
    assert_int_equal(status, 503);
    assert_int_equal(r->sc.i, HS_CONN_MAX_ATTEMPTS);
    assert_int_equal(r->st.attempts, HS_CONN_MAX_ATTEMPTS);
    assert_int_equal(r->st.retries, HS_CONN_MAX_ATTEMPTS - 1);
    /* retry n waits in [d/2, d], d = 500 * 2^(n-1); rand 7: d/2 + 7 */
    assert_int_equal(r->sc.at[1] - r->sc.at[0], 250 + 7);
    assert_int_equal(r->sc.at[2] - r->sc.at[1], 500 + 7);
    assert_int_equal(r->sc.at[3] - r->sc.at[2], 1000 + 7);
    assert_int_equal(r->sc.at[4] - r->sc.at[3], 2000 + 7);
    /* the cap holds */
    struct hs_conn_request_opts o;
    memset(&o, 0, sizeof o);
    o.max_attempts = 8;
    o.backoff_base_ms = 1000;
    o.backoff_max_ms = 3000;
    script(r, 1, st, NULL);
    assert_int_equal(send_one(r, &o, &status, NULL), HS_OK);
    assert_int_equal(r->sc.i, 8);
    for (int i = 3; i < 8; i++)
        assert_int_equal(r->sc.at[i] - r->sc.at[i - 1], 1500 + 7);
    /* 500 then 200: one retry; 400 is never retried */
    const int st2[] = {500, 200};
    script(r, 2, st2, NULL);
    assert_int_equal(send_one(r, NULL, &status, NULL), HS_OK);
    assert_int_equal(status, 200);
    assert_int_equal(r->sc.i, 2);
    const int st3[] = {400, 200};
    script(r, 2, st3, NULL);
    assert_int_equal(send_one(r, NULL, &status, NULL), HS_OK);
    assert_int_equal(status, 400);
    assert_int_equal(r->sc.i, 1);
}

static void test_request_401_refreshes_once_only(void **state)
{
    struct rfx *r = *state;
    const int st[] = {401, 401, 200};
    script(r, 3, st, NULL);
    int status = 0;
    assert_int_equal(send_one(r, NULL, &status, NULL), HS_OK);
    assert_int_equal(status, 401); /* the second 401 is the answer */
    assert_int_equal(r->sc.i, 2);
    assert_int_equal(r->tok.forced, 1);
    assert_string_equal(r->sc.auth[0], "Bearer tok-1");
    assert_string_equal(r->sc.auth[1], "Bearer tok-2");
    assert_int_equal(r->clock.slept, 0);
    /* no token at all: the source's error, nothing sent */
    r->tok.fail = 1;
    struct hs_error err = {0};
    script(r, 1, st, NULL);
    assert_int_equal(send_one(r, NULL, &status, &err), HS_EAUTH);
    assert_int_equal(r->sc.i, 0);
    assert_non_null(strstr(err.msg, "run 'hoopsync connect crm'"));
}

static int failing_send(void *self, const struct hs_http_request *req, struct hs_http_response *out,
                        struct hs_error *err)
{
    (void)req;
    (void)out;
    int *n = self;
    (*n)++;
    return hs_error_set(err, HS_EIO, "cannot connect to 'api': connection refused");
}

static void failing_close(void *self)
{
    (void)self;
}

static void test_request_transport_errors_retry_then_fail(void **state)
{
    struct rfx *r = *state;
    static const struct hs_http_ops ops = {failing_send, failing_close};
    int n = 0;
    struct hs_http_transport bad = {&ops, &n};
    r->cfg.http = &bad;
    struct hs_error err = {0};
    int status = 0;
    struct hs_conn_request_opts o;
    memset(&o, 0, sizeof o);
    o.max_attempts = 3;
    assert_int_equal(send_one(r, &o, &status, &err), HS_EIO);
    assert_int_equal(n, 3);
    assert_int_equal(r->st.transport_errors, 3);
    assert_string_equal(err.msg, "crm: POST: gave up after 3 attempts: cannot connect to 'api': "
                                 "connection refused");
    r->cfg.http = &r->http;
}

static void test_request_check_maps_status_and_provider_words(void **state)
{
    struct rfx *r = *state;
    struct hs_http_request req;
    struct hs_http_response resp;
    hs_http_request_init(&req);
    hs_http_response_init(&resp);
    assert_int_equal(hs_http_request_set(&req, "POST", "http://api/v3/company/1/invoice?x=1"),
                     HS_OK);
    struct hs_error err = {0};
    resp.status = 201;
    assert_int_equal(hs_conn_check(&r->cfg, &req, &resp, &err), HS_OK);
    resp.status = 400;
    assert_int_equal(hs_buf_puts(&resp.body, "{\"Fault\":{\"Error\":[{\"Message\":\"Duplicate Name "
                                             "Exists Error\",\"Detail\":\"The name supplied "
                                             "already exists.\",\"code\":\"6240\"}]}}"),
                     HS_OK);
    assert_int_equal(hs_conn_check(&r->cfg, &req, &resp, &err), HS_EINVAL);
    assert_string_equal(err.msg, "crm: POST /v3/company/1/invoice: HTTP 400: Duplicate Name "
                                 "Exists Error: The name supplied already exists.");
    hs_buf_reset(&resp.body);
    assert_int_equal(hs_buf_puts(&resp.body, "{\"status\":\"error\",\"message\":\"Authentication "
                                             "credentials not found.\"}"),
                     HS_OK);
    resp.status = 401;
    assert_int_equal(hs_conn_check(&r->cfg, &req, &resp, &err), HS_EAUTH);
    assert_string_equal(err.msg, "crm: POST /v3/company/1/invoice: HTTP 401: Authentication "
                                 "credentials not found.; run 'hoopsync connect crm'");
    hs_buf_reset(&resp.body);
    assert_int_equal(hs_buf_puts(&resp.body, "<html>\nbad gateway</html>"), HS_OK);
    resp.status = 502;
    assert_int_equal(hs_conn_check(&r->cfg, &req, &resp, &err), HS_EIO);
    assert_string_equal(err.msg, "crm: POST /v3/company/1/invoice: HTTP 502: <html> bad "
                                 "gateway</html>");
    static const int codes[][2] = {{404, HS_ENOTFOUND}, {409, HS_ECONFLICT},  {412, HS_ECONFLICT},
                                   {413, HS_ETOOBIG},   {429, HS_ERATELIMIT}, {418, HS_EPROTO},
                                   {302, HS_EPROTO}};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        resp.status = codes[i][0];
        assert_int_equal(hs_conn_check(&r->cfg, &req, &resp, &err), codes[i][1]);
    }
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
}

static void test_request_retry_after_forms(void **state)
{
    (void)state;
    const int64_t now = 784111777000; /* Sun, 06 Nov 1994 08:49:37 GMT */
    assert_int_equal(hs_conn_retry_after_ms("120", now), 120000);
    assert_int_equal(hs_conn_retry_after_ms(" 0 ", now), 0);
    assert_int_equal(hs_conn_retry_after_ms("Sun, 06 Nov 1994 08:49:47 GMT", now), 10000);
    assert_int_equal(hs_conn_retry_after_ms("Sunday, 06-Nov-94 08:50:37 GMT", now), 60000);
    assert_int_equal(hs_conn_retry_after_ms("Sun Nov  6 08:49:38 1994", now), 1000);
    assert_int_equal(hs_conn_retry_after_ms("Sat, 05 Nov 1994 08:49:37 GMT", now), 0);
    assert_int_equal(hs_conn_retry_after_ms(NULL, now), -1);
    assert_int_equal(hs_conn_retry_after_ms("", now), -1);
    assert_int_equal(hs_conn_retry_after_ms("soon", now), -1);
    assert_int_equal(hs_conn_retry_after_ms("-5", now), -1);
    assert_int_equal(hs_conn_retry_after_ms("Sun, 32 Nov 1994 08:49:47 GMT", now), -1);
    assert_int_equal(hs_conn_retry_after_ms("Sun, 06 Nov 1994 25:49:47 GMT", now), -1);
    assert_true(hs_conn_retry_after_ms("99999999999999999999", now) > HS_CONN_RETRY_AFTER_MAX_MS);
}

static void test_request_url_and_changes_release(void **state)
{
    (void)state;
    struct hs_connector_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.base_url = "http://h/hubspot/";
    char *u = hs_conn_url(&cfg, "/crm/v3/objects/deals");
    assert_string_equal(u, "http://h/hubspot/crm/v3/objects/deals");
    hs_free(u);
    cfg.base_url = "https://api.hubapi.com";
    u = hs_conn_url(&cfg, "crm/v3");
    assert_string_equal(u, "https://api.hubapi.com/crm/v3");
    hs_free(u);

    struct hs_changes ch;
    memset(&ch, 0, sizeof ch);
    ch.items = hs_calloc(2, sizeof *ch.items);
    assert_non_null(ch.items);
    ch.n_items = 2;
    ch.items[0].id = hs_strdup("1");
    ch.items[1].id = hs_strdup("2");
    ch.cursor = hs_strdup("c");
    hs_changes_release(&ch);
    assert_null(ch.items);
    assert_int_equal(ch.n_items, 0);
    assert_null(ch.cursor);
    hs_changes_release(&ch);
    hs_changes_release(NULL);
}

int main(void)
{
    hs_alloc_setup_json();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_request_quickbooks_oauth_refresh_rotation_and_revocation, sbx_setup, sbx_teardown),
        cmocka_unit_test_setup_teardown(test_request_hubspot_401_refreshes_once_and_retries,
                                        sbx_setup, sbx_teardown),
        cmocka_unit_test_setup_teardown(test_request_429_waits_retry_after_and_pauses_the_scope,
                                        r_setup, r_teardown),
        cmocka_unit_test_setup_teardown(test_request_429_callback_pauses_the_day, r_setup,
                                        r_teardown),
        cmocka_unit_test_setup_teardown(test_request_5xx_backoff_is_bounded, r_setup, r_teardown),
        cmocka_unit_test_setup_teardown(test_request_401_refreshes_once_only, r_setup, r_teardown),
        cmocka_unit_test_setup_teardown(test_request_transport_errors_retry_then_fail, r_setup,
                                        r_teardown),
        cmocka_unit_test_setup_teardown(test_request_check_maps_status_and_provider_words, r_setup,
                                        r_teardown),
        cmocka_unit_test(test_request_retry_after_forms),
        cmocka_unit_test(test_request_url_and_changes_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
