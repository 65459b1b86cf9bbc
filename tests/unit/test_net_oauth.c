/*
 * tests/unit/test_net_oauth.c - OAuth2 pieces against a scripted token endpoint (in-process
 * transport) and a real loopback listener: consent URL, callback checks, token answers,
 * exchange and refresh errors, and the token source (margin, force, rotation, concurrent
 * callers, failed saves, another process refreshing first).
 * The whole flow against the sandbox is in tests/unit/test_conn_request.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "net/http.h"
#include "net/oauth.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/str.h"

/* ---- fake clock ---- */

struct fake {
    pthread_mutex_t mu;
    int64_t now;
};

static int64_t fake_now(void *ud)
{
    struct fake *f = ud;
    pthread_mutex_lock(&f->mu);
    int64_t n = f->now;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static void fake_sleep(void *ud, int64_t ms)
{
    struct fake *f = ud;
    pthread_mutex_lock(&f->mu);
    f->now += ms;
    pthread_mutex_unlock(&f->mu);
}

static uint64_t fake_rand(void *ud)
{
    (void)ud;
    return 7;
}

/* ---- scripted token endpoint ---- */

struct tokend {
    pthread_mutex_t mu;
    struct fake *clock;
    bool rotate;
    int fail_5xx; /* answer 503 this many times first */
    int calls;
    int refreshes;
    int serial;
    char refresh[64]; /* the one valid refresh token */
    char last_auth[256];
    char last_body[1024];
};

static int tokend_handler(void *ud, const struct hs_http_request *req,
                          struct hs_http_response *resp)
{
    struct tokend *t = ud;
    pthread_mutex_lock(&t->mu);
    t->calls++;
    const char *auth = hs_http_headers_get(&req->headers, "Authorization");
    snprintf(t->last_auth, sizeof t->last_auth, "%s", auth ? auth : "");
    snprintf(t->last_body, sizeof t->last_body, "%.*s", (int)req->body.len,
             req->body.data ? req->body.data : "");
    int rc;
    if (t->fail_5xx > 0) {
        t->fail_5xx--;
        pthread_mutex_unlock(&t->mu);
        return hs_http_response_text(resp, 503, "text/plain", "busy");
    }
    char *grant = hs_str_form_get(t->last_body, "grant_type", NULL);
    char *rt = hs_str_form_get(t->last_body, "refresh_token", NULL);
    char *code = hs_str_form_get(t->last_body, "code", NULL);
    bool ok = false;
    if (hs_str_eq(grant, "authorization_code"))
        ok = hs_str_eq(code, "good-code");
    else if (hs_str_eq(grant, "refresh_token"))
        ok = hs_str_eq(rt, t->refresh);
    if (!ok) {
        rc = hs_http_response_json_take(resp, 400,
                                        json_pack("{s:s,s:s}", "error", "invalid_grant",
                                                  "error_description", "token is not valid"));
    } else {
        if (hs_str_eq(grant, "refresh_token"))
            t->refreshes++;
        t->serial++;
        if (t->rotate || hs_str_eq(grant, "authorization_code"))
            snprintf(t->refresh, sizeof t->refresh, "rt-%d", t->serial);
        char at[32];
        snprintf(at, sizeof at, "at-%d", t->serial);
        rc = hs_http_response_json_take(resp, 200,
                                        json_pack("{s:s,s:s,s:i,s:s,s:i,s:i}", "access_token", at,
                                                  "token_type", "bearer", "expires_in", 1800,
                                                  "refresh_token", t->refresh, "hub_id", 4242,
                                                  "x_refresh_token_expires_in", 8726400));
    }
    hs_free(grant);
    hs_free(rt);
    hs_free(code);
    pthread_mutex_unlock(&t->mu);
    return rc;
}

/* ---- in-memory vault ---- */

struct vault {
    char access[64];
    char refresh[64];
    int64_t expires_at;
    bool empty;
    int saves;
    int fail_saves; /* fail this many saves first */
};

static int vault_load(void *ud, struct hs_oauth_tokens *out, struct hs_error *err)
{
    struct vault *v = ud;
    if (v->empty)
        return hs_error_set(err, HS_ENOTFOUND, "no tokens");
    out->access_token = hs_strdup(v->access);
    out->refresh_token = hs_strdup(v->refresh);
    out->expires_at = v->expires_at;
    if (out->access_token == NULL || out->refresh_token == NULL)
        return HS_ENOMEM;
    return HS_OK;
}

static int vault_save(void *ud, const struct hs_oauth_tokens *t, struct hs_error *err)
{
    struct vault *v = ud;
    if (v->fail_saves > 0) {
        v->fail_saves--;
        return hs_error_set(err, HS_EIO, "disk full");
    }
    snprintf(v->access, sizeof v->access, "%s", t->access_token);
    if (t->refresh_token != NULL)
        snprintf(v->refresh, sizeof v->refresh, "%s", t->refresh_token);
    v->expires_at = t->expires_at;
    v->empty = false;
    v->saves++;
    return HS_OK;
}

static const struct hs_oauth_vault_ops vault_ops = {vault_load, vault_save};

/* ---- fixture ---- */

struct fx {
    struct fake clock;
    struct hs_env env;
    struct tokend tokend;
    struct hs_http_transport http;
    struct hs_oauth_client client;
    struct vault vault;
};

static int setup(void **state)
{
    struct fx *fx = hs_calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    pthread_mutex_init(&fx->clock.mu, NULL);
    pthread_mutex_init(&fx->tokend.mu, NULL);
    fx->clock.now = 1700000000000;
    fx->env.now_ms = fake_now;
    fx->env.sleep_ms = fake_sleep;
    fx->env.rand64 = fake_rand;
    fx->env.ud = &fx->clock;
    fx->env.min_level = HS_LOG_ERROR;
    fx->tokend.clock = &fx->clock;
    fx->tokend.rotate = true;
    snprintf(fx->tokend.refresh, sizeof fx->tokend.refresh, "rt-0");
    if (hs_http_inproc_open(tokend_handler, &fx->tokend, &fx->http, NULL) != HS_OK)
        return -1;
    fx->client.profile = hs_oauth_profile_find("quickbooks");
    fx->client.name = "accounting";
    fx->client.client_id = "app";
    fx->client.client_secret = "s3cret";
    fx->client.redirect_uri = "http://127.0.0.1:8765/callback";
    fx->client.authorize_url = "http://sbx/quickbooks/oauth2/authorize";
    fx->client.token_url = "http://sbx/quickbooks/oauth2/v1/tokens/bearer";
    fx->client.http = &fx->http;
    fx->client.env = &fx->env;
    snprintf(fx->vault.access, sizeof fx->vault.access, "at-0");
    snprintf(fx->vault.refresh, sizeof fx->vault.refresh, "rt-0");
    fx->vault.expires_at = fx->clock.now + 3600 * 1000;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    hs_http_transport_close(&fx->http);
    pthread_mutex_destroy(&fx->clock.mu);
    pthread_mutex_destroy(&fx->tokend.mu);
    hs_free(fx);
    return 0;
}

/* ---- profiles and consent ---- */

static void test_oauth_endpoints_public_and_sandbox(void **state)
{
    (void)state;
    const struct hs_oauth_profile *hub = hs_oauth_profile_find("hubspot");
    const struct hs_oauth_profile *qbo = hs_oauth_profile_find("quickbooks");
    assert_non_null(hub);
    assert_non_null(qbo);
    assert_null(hs_oauth_profile_find("salesforce"));
    assert_null(hs_oauth_profile_find(NULL));
    char *a = NULL;
    char *t = NULL;
    assert_int_equal(hs_oauth_endpoints(hub, NULL, &a, &t, NULL), HS_OK);
    assert_string_equal(a, "https://app.hubspot.com/oauth/authorize");
    assert_string_equal(t, "https://api.hubapi.com/oauth/v1/token");
    hs_free(a);
    hs_free(t);
    assert_int_equal(hs_oauth_endpoints(qbo, "https://quickbooks.api.intuit.com", &a, &t, NULL),
                     HS_OK);
    assert_string_equal(a, "https://appcenter.intuit.com/connect/oauth2");
    assert_string_equal(t, "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer");
    hs_free(a);
    hs_free(t);
    assert_int_equal(hs_oauth_endpoints(qbo, "http://127.0.0.1:9/quickbooks/", &a, &t, NULL),
                     HS_OK);
    assert_string_equal(a, "http://127.0.0.1:9/quickbooks/oauth2/authorize");
    assert_string_equal(t, "http://127.0.0.1:9/quickbooks/oauth2/v1/tokens/bearer");
    hs_free(a);
    hs_free(t);
    struct hs_error err = {0};
    assert_int_equal(hs_oauth_endpoints(hub, "ftp://x", &a, &t, &err), HS_EINVAL);
    assert_null(a);
    assert_null(t);
    assert_non_null(strstr(err.msg, "'ftp://x'"));
}

static void test_oauth_consent_url_carries_every_parameter(void **state)
{
    struct fx *fx = *state;
    struct hs_oauth_consent c;
    const char *scopes[] = {"com.intuit.quickbooks.accounting", "openid"};
    assert_int_equal(hs_oauth_consent_build(&fx->client, scopes, 2, &c, NULL), HS_OK);
    assert_true(hs_str_starts(c.url, "http://sbx/quickbooks/oauth2/authorize?response_type=code"));
    assert_non_null(strstr(c.url, "&client_id=app&"));
    assert_non_null(strstr(c.url, "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback&"));
    assert_non_null(strstr(c.url, "&scope=com.intuit.quickbooks.accounting%20openid&"));
    assert_non_null(c.state);
    assert_int_equal(strlen(c.state), 43); /* 32 bytes base64url */
    char *st = hs_asprintf("&state=%s", c.state);
    assert_non_null(strstr(c.url, st));
    hs_free(st);
    assert_null(c.verifier); /* QuickBooks: no PKCE */
    assert_null(strstr(c.url, "code_challenge"));
    /* a second consent gets a different state */
    struct hs_oauth_consent c2;
    assert_int_equal(hs_oauth_consent_build(&fx->client, NULL, 0, &c2, NULL), HS_OK);
    assert_string_not_equal(c.state, c2.state);
    assert_non_null(strstr(c2.url, "&scope=com.intuit.quickbooks.accounting&"));
    hs_oauth_consent_release(&c);
    hs_oauth_consent_release(&c2);

    /* a PKCE profile adds an S256 challenge of the verifier */
    struct hs_oauth_profile pk = *hs_oauth_profile_find("hubspot");
    pk.pkce = true;
    struct hs_oauth_client cl = fx->client;
    cl.profile = &pk;
    assert_int_equal(hs_oauth_consent_build(&cl, NULL, 0, &c, NULL), HS_OK);
    assert_non_null(c.verifier);
    assert_true(strlen(c.verifier) >= 43);
    assert_non_null(strstr(c.url, "&code_challenge_method=S256"));
    const char *ch = strstr(c.url, "&code_challenge=");
    assert_non_null(ch);
    assert_int_equal(strcspn(ch + 16, "&"), 43);
    hs_oauth_consent_release(&c);
    assert_null(hs_oauth_profile_find("hubspot")->auth_params);

    /* Zoho: an offline consent (else no refresh token), asked again each time */
    cl = fx->client;
    cl.profile = hs_oauth_profile_find("zohobooks");
    assert_int_equal(hs_oauth_consent_build(&cl, NULL, 0, &c, NULL), HS_OK);
    assert_non_null(strstr(c.url, "&scope=ZohoBooks.fullaccess.all&"));
    assert_non_null(strstr(c.url, "&access_type=offline&prompt=consent"));
    hs_oauth_consent_release(&c);

    struct hs_error err = {0};
    cl.client_id = NULL;
    assert_int_equal(hs_oauth_consent_build(&cl, NULL, 0, &c, &err), HS_EINVAL);
    assert_null(c.url);
    assert_non_null(strstr(err.msg, "'accounting'"));
}

static void test_oauth_consent_survives_every_failed_allocation(void **state)
{
    struct fx *fx = *state;
    for (int n = 0;; n++) {
        struct hs_oauth_consent c;
        failalloc_arm(n);
        int rc = hs_oauth_consent_build(&fx->client, NULL, 0, &c, NULL);
        failalloc_disarm();
        if (rc == HS_OK) {
            hs_oauth_consent_release(&c);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_null(c.url);
    }
}

static void test_oauth_callback_checks_state_error_and_tenant(void **state)
{
    (void)state;
    const struct hs_oauth_profile *qbo = hs_oauth_profile_find("quickbooks");
    struct hs_oauth_callback cb;
    struct hs_error err = {0};
    const char *q = "code=abc%2B1&state=S1&realmId=9130&ignored=x";
    assert_int_equal(hs_oauth_callback_parse(qbo, "accounting", q, strlen(q), "S1", &cb, &err),
                     HS_OK);
    assert_string_equal(cb.code, "abc+1");
    assert_string_equal(cb.tenant, "9130");
    hs_oauth_callback_release(&cb);
    /* not NUL-terminated input: only len bytes count */
    assert_int_equal(
        hs_oauth_callback_parse(qbo, "accounting", "code=x&state=S1XYZ", 15, "S1", &cb, &err),
        HS_OK);
    assert_string_equal(cb.code, "x");
    hs_oauth_callback_release(&cb);
    q = "code=abc&state=S2";
    assert_int_equal(hs_oauth_callback_parse(qbo, "accounting", q, strlen(q), "S1", &cb, &err),
                     HS_EAUTH);
    assert_null(cb.code);
    assert_non_null(strstr(err.msg, "state does not match"));
    q = "error=access_denied&error_description=the+user+denied+access&state=S1";
    assert_int_equal(hs_oauth_callback_parse(qbo, "accounting", q, strlen(q), "S1", &cb, &err),
                     HS_EAUTH);
    assert_string_equal(err.msg, "connection 'accounting' (quickbooks): the consent was refused "
                                 "(access_denied: the user denied access); run 'hoopsync "
                                 "connect accounting' to try again");
    q = "state=S1";
    assert_int_equal(hs_oauth_callback_parse(qbo, "accounting", q, strlen(q), "S1", &cb, &err),
                     HS_EINVAL);
    q = "code=a&state=S1&realmId=%zz";
    assert_int_equal(hs_oauth_callback_parse(qbo, "accounting", q, strlen(q), "S1", &cb, &err),
                     HS_EINVAL);
    char big[9000];
    memset(big, 'a', sizeof big);
    assert_int_equal(hs_oauth_callback_parse(qbo, "accounting", big, sizeof big, "S1", &cb, &err),
                     HS_ETOOBIG);
}

/* ---- token answers ---- */

static void test_oauth_tokens_parse_reads_and_rejects(void **state)
{
    (void)state;
    const struct hs_oauth_profile *hub = hs_oauth_profile_find("hubspot");
    struct hs_oauth_tokens t;
    struct hs_error err = {0};
    const char *ok = "{\"access_token\":\"at-1\",\"token_type\":\"Bearer\",\"expires_in\":1800,"
                     "\"refresh_token\":\"rt-1\",\"hub_id\":62515,"
                     "\"x_refresh_token_expires_in\":\"100\"}";
    assert_int_equal(hs_oauth_tokens_parse(hub, (const uint8_t *)ok, strlen(ok), 1000, &t, &err),
                     HS_OK);
    assert_string_equal(t.access_token, "at-1");
    assert_string_equal(t.refresh_token, "rt-1");
    assert_string_equal(t.tenant, "62515");
    assert_int_equal(t.expires_at, 1000 + 1800 * 1000);
    assert_int_equal(t.refresh_expires_at, 1000 + 100 * 1000);
    hs_oauth_tokens_release(&t);

    static const char *const bad[] = {
        "[]",
        "{}",
        "{\"access_token\":\"\"}",
        "{\"access_token\":\"has space\"}",
        "{\"access_token\":7}",
        "{\"access_token\":\"a\",\"token_type\":\"mac\"}",
        "{\"access_token\":\"a\",\"expires_in\":-1}",
        "{\"access_token\":\"a\",\"expires_in\":1.5}",
        "{\"access_token\":\"a\",\"expires_in\":\"1h\"}",
        "{\"access_token\":\"a\",\"expires_in\":99999999999}",
        "{\"access_token\":\"a\",\"refresh_token\":[1]}",
        "{\"access_token\":\"a\",\"hub_id\":{}}",
        "{\"access_token\":\"a\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = hs_oauth_tokens_parse(hub, (const uint8_t *)bad[i], strlen(bad[i]), 0, &t, &err);
        assert_int_equal(rc, HS_EPROTO);
        assert_null(t.access_token);
        assert_true(hs_str_starts(err.msg, "cannot read the token answer") ||
                    strstr(err.msg, "token answer") != NULL);
    }
    /* no refresh token and no expiry: both unknown */
    const char *min = "{\"access_token\":\"a\",\"refresh_token\":null}";
    assert_int_equal(hs_oauth_tokens_parse(NULL, (const uint8_t *)min, strlen(min), 5, &t, &err),
                     HS_OK);
    assert_null(t.refresh_token);
    assert_int_equal(t.expires_at, 0);
    hs_oauth_tokens_release(&t);
    assert_int_equal(
        hs_oauth_tokens_parse(hub, (const uint8_t *)ok, HS_OAUTH_MAX_ANSWER + 1, 0, &t, &err),
        HS_ETOOBIG);
}

static void test_oauth_tokens_parse_survives_every_failed_allocation(void **state)
{
    (void)state;
    const struct hs_oauth_profile *hub = hs_oauth_profile_find("hubspot");
    const char *ok = "{\"access_token\":\"at-1\",\"refresh_token\":\"rt-1\",\"hub_id\":\"62\"}";
    for (int n = 0;; n++) {
        struct hs_oauth_tokens t;
        failalloc_arm(n);
        int rc = hs_oauth_tokens_parse(hub, (const uint8_t *)ok, strlen(ok), 0, &t, NULL);
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_string_equal(t.tenant, "62");
            hs_oauth_tokens_release(&t);
            break;
        }
        assert_true(rc == HS_ENOMEM || rc == HS_EPROTO); /* jansson reports OOM as a parse error */
        assert_null(t.access_token);
    }
}

/* ---- token endpoint ---- */

static void test_oauth_exchange_basic_auth_and_form_auth(void **state)
{
    struct fx *fx = *state;
    struct hs_oauth_tokens t;
    struct hs_error err = {0};
    assert_int_equal(hs_oauth_exchange(&fx->client, "good-code", NULL, &t, &err), HS_OK);
    assert_string_equal(t.access_token, "at-1");
    assert_string_equal(t.refresh_token, "rt-1");
    assert_int_equal(t.expires_at, fx->clock.now + 1800 * 1000);
    assert_null(t.tenant); /* QuickBooks gets its realm on the redirect */
    hs_oauth_tokens_release(&t);
    /* QuickBooks: HTTP Basic base64("app:s3cret"), nothing secret in the body */
    assert_string_equal(fx->tokend.last_auth, "Basic YXBwOnMzY3JldA==");
    assert_null(strstr(fx->tokend.last_body, "client_secret"));
    assert_non_null(strstr(fx->tokend.last_body, "grant_type=authorization_code&code=good-code"));
    assert_non_null(strstr(fx->tokend.last_body, "redirect_uri=http%3A%2F%2F127.0.0.1%3A8765"));

    /* HubSpot: client id and secret in the form, tenant from hub_id */
    struct hs_oauth_client hub = fx->client;
    hub.profile = hs_oauth_profile_find("hubspot");
    hub.name = "crm";
    assert_int_equal(hs_oauth_exchange(&hub, "good-code", "ver1", &t, &err), HS_OK);
    assert_string_equal(t.tenant, "4242");
    hs_oauth_tokens_release(&t);
    assert_string_equal(fx->tokend.last_auth, "");
    assert_non_null(strstr(fx->tokend.last_body, "client_id=app&client_secret=s3cret"));
    assert_non_null(strstr(fx->tokend.last_body, "code_verifier=ver1"));

    /* a refused code names the connection and the fix */
    assert_int_equal(hs_oauth_exchange(&hub, "old-code", NULL, &t, &err), HS_EAUTH);
    assert_string_equal(err.msg, "connection 'crm' (hubspot): the authorization code was refused "
                                 "(token is not valid); run 'hoopsync connect crm' again");
    /* no secret: says which setting to fix, sends nothing */
    int calls = fx->tokend.calls;
    hub.client_secret = "";
    assert_int_equal(hs_oauth_exchange(&hub, "good-code", NULL, &t, &err), HS_EAUTH);
    assert_non_null(strstr(err.msg, "client_secret_env"));
    assert_int_equal(fx->tokend.calls, calls);
}

static void test_oauth_refresh_retries_5xx_then_reports_revoked_grant(void **state)
{
    struct fx *fx = *state;
    struct hs_oauth_tokens t;
    struct hs_error err = {0};
    fx->tokend.fail_5xx = 2;
    int64_t t0 = fx->clock.now;
    assert_int_equal(hs_oauth_refresh(&fx->client, "rt-0", &t, &err), HS_OK);
    assert_string_equal(t.refresh_token, "rt-1");
    hs_oauth_tokens_release(&t);
    assert_int_equal(fx->tokend.calls, 3);
    assert_int_equal(fx->clock.now - t0, 500 + 1000); /* backoff on the fake clock */
    /* replaying the rotated refresh token: the one clear message */
    assert_int_equal(hs_oauth_refresh(&fx->client, "rt-0", &t, &err), HS_EAUTH);
    assert_string_equal(err.msg, "connection 'accounting' (quickbooks): the grant was revoked or "
                                 "expired; run 'hoopsync connect accounting'");
    /* 5xx every time: gives up after three attempts with HS_EIO */
    fx->tokend.fail_5xx = 10;
    assert_int_equal(hs_oauth_refresh(&fx->client, "rt-1", &t, &err), HS_EIO);
    assert_non_null(strstr(err.msg, "HTTP 503"));
}

/* ---- token source ---- */

static struct hs_oauth_source *new_source(struct fx *fx)
{
    struct hs_oauth_source *s = NULL;
    assert_int_equal(hs_oauth_source_new(&fx->client, &vault_ops, &fx->vault, 0, &s, NULL), HS_OK);
    return s;
}

static void test_oauth_source_refreshes_inside_margin_and_persists_rotation(void **state)
{
    struct fx *fx = *state;
    struct hs_oauth_source *s = new_source(fx);
    char *tok = NULL;
    /* valid for an hour: the stored token, no refresh */
    assert_int_equal(hs_oauth_source_token(s, false, &tok, NULL), HS_OK);
    assert_string_equal(tok, "at-0");
    hs_free(tok);
    assert_int_equal(fx->tokend.calls, 0);
    /* 56 minutes later it expires within the 5-minute margin: refresh first */
    fx->clock.now += 56 * 60 * 1000;
    assert_int_equal(hs_oauth_source_token(s, false, &tok, NULL), HS_OK);
    assert_string_equal(tok, "at-1");
    hs_free(tok);
    assert_int_equal(hs_oauth_source_refreshes(s), 1);
    /* the rotated refresh token and the new access token were saved together */
    assert_string_equal(fx->vault.access, "at-1");
    assert_string_equal(fx->vault.refresh, "rt-1");
    assert_int_equal(fx->vault.expires_at, fx->clock.now + 1800 * 1000);
    assert_int_equal(fx->vault.saves, 1);
    /* force (after a 401) refreshes although the token looks valid */
    assert_int_equal(hs_oauth_source_token(s, true, &tok, NULL), HS_OK);
    assert_string_equal(tok, "at-2");
    hs_free(tok);
    assert_string_equal(fx->vault.refresh, "rt-2");
    hs_oauth_source_free(s);
}

static void test_oauth_source_revoked_grant_is_one_clear_error(void **state)
{
    struct fx *fx = *state;
    struct hs_oauth_source *s = new_source(fx);
    snprintf(fx->tokend.refresh, sizeof fx->tokend.refresh, "revoked-everything");
    char *tok = NULL;
    struct hs_error err = {0};
    assert_int_equal(hs_oauth_source_token(s, true, &tok, &err), HS_EAUTH);
    assert_null(tok);
    assert_string_equal(err.msg, "connection 'accounting' (quickbooks): the grant was revoked or "
                                 "expired; run 'hoopsync connect accounting'");
    fx->vault.empty = true;
    hs_oauth_source_free(s);
    s = new_source(fx);
    assert_int_equal(hs_oauth_source_token(s, false, &tok, &err), HS_EAUTH);
    assert_non_null(strstr(err.msg, "run 'hoopsync connect accounting'"));
    hs_oauth_source_free(s);
}

static void test_oauth_source_failed_save_is_retried_before_anything_else(void **state)
{
    struct fx *fx = *state;
    struct hs_oauth_source *s = new_source(fx);
    char *tok = NULL;
    struct hs_error err = {0};
    fx->vault.fail_saves = 1;
    assert_int_equal(hs_oauth_source_token(s, true, &tok, &err), HS_EIO);
    assert_null(tok);
    assert_non_null(strstr(err.msg, "cannot save the refreshed tokens of connection"));
    assert_string_equal(fx->vault.refresh, "rt-0"); /* not saved yet */
    /* the next call saves the rotated token it holds instead of refreshing again */
    assert_int_equal(hs_oauth_source_token(s, false, &tok, &err), HS_OK);
    assert_string_equal(tok, "at-1");
    hs_free(tok);
    assert_string_equal(fx->vault.refresh, "rt-1");
    assert_int_equal(fx->tokend.refreshes, 1);
    hs_oauth_source_free(s);
}

static void test_oauth_source_uses_a_refresh_done_by_another_process(void **state)
{
    struct fx *fx = *state;
    struct hs_oauth_source *a = new_source(fx);
    struct hs_oauth_source *b = new_source(fx); /* "another process" sharing the vault */
    char *tok = NULL;
    assert_int_equal(hs_oauth_source_token(a, false, &tok, NULL), HS_OK);
    hs_free(tok);
    assert_int_equal(hs_oauth_source_token(b, false, &tok, NULL), HS_OK);
    hs_free(tok);
    fx->clock.now += 59 * 60 * 1000;
    /* b refreshes (rotating rt-0 -> rt-1); a, still holding rt-0, must not refresh with it */
    assert_int_equal(hs_oauth_source_token(b, false, &tok, NULL), HS_OK);
    assert_string_equal(tok, "at-1");
    hs_free(tok);
    assert_int_equal(hs_oauth_source_token(a, false, &tok, NULL), HS_OK);
    assert_string_equal(tok, "at-1");
    hs_free(tok);
    assert_int_equal(fx->tokend.refreshes, 1);
    assert_int_equal(hs_oauth_source_refreshes(a), 0);
    hs_oauth_source_free(a);
    hs_oauth_source_free(b);
}

struct caller {
    struct hs_oauth_source *s;
    int rc;
    char tok[32];
};

static void *caller_main(void *ud)
{
    struct caller *c = ud;
    char *tok = NULL;
    c->rc = hs_oauth_source_token(c->s, false, &tok, NULL);
    if (tok != NULL)
        snprintf(c->tok, sizeof c->tok, "%s", tok);
    hs_free(tok);
    return NULL;
}

static void test_oauth_source_concurrent_callers_share_one_refresh(void **state)
{
    struct fx *fx = *state;
    struct hs_oauth_source *s = new_source(fx);
    fx->vault.expires_at = fx->clock.now - 1; /* expired */
    enum { N = 6 };
    pthread_t th[N];
    struct caller c[N];
    for (int i = 0; i < N; i++) {
        memset(&c[i], 0, sizeof c[i]);
        c[i].s = s;
        assert_int_equal(pthread_create(&th[i], NULL, caller_main, &c[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(c[i].rc, HS_OK);
        assert_string_equal(c[i].tok, "at-1");
    }
    assert_int_equal(fx->tokend.refreshes, 1);
    hs_oauth_source_free(s);
}

/* ---- listener ---- */

static void test_oauth_listener_receives_the_callback(void **state)
{
    (void)state;
    struct hs_env sys;
    hs_env_system(&sys, HS_LOG_ERROR);
    const struct hs_oauth_profile *qbo = hs_oauth_profile_find("quickbooks");
    struct hs_oauth_listener *l = NULL;
    struct hs_error err = {0};
    assert_int_equal(
        hs_oauth_listen_open(qbo, "accounting", "https://example.com/cb", "S", &sys, &l, &err),
        HS_EINVAL);
    assert_null(l);
    assert_int_equal(
        hs_oauth_listen_open(qbo, "accounting", "http://127.0.0.1:0/cb", "S1", &sys, &l, &err),
        HS_OK);
    const char *uri = hs_oauth_listener_redirect_uri(l);
    assert_true(hs_str_starts(uri, "http://127.0.0.1:"));
    assert_true(hs_str_ends(uri, "/cb"));
    assert_null(strstr(uri, ":0/"));

    struct hs_http_transport curl;
    assert_int_equal(hs_http_curl_open(NULL, &curl, NULL), HS_OK);
    struct hs_http_request req;
    struct hs_http_response resp;
    hs_http_request_init(&req);
    hs_http_response_init(&resp);
    /* wrong path: 404; wrong state: 400 and ignored; then the real one */
    char *url = hs_asprintf("%.*s/other", (int)(strlen(uri) - 3), uri);
    assert_int_equal(hs_http_request_set(&req, "GET", url), HS_OK);
    assert_int_equal(hs_http_send(&curl, &req, &resp, NULL), HS_OK);
    assert_int_equal(resp.status, 404);
    hs_free(url);
    url = hs_asprintf("%s?code=c1&state=forged&realmId=77", uri);
    assert_int_equal(hs_http_request_set(&req, "GET", url), HS_OK);
    hs_http_response_release(&resp);
    hs_http_response_init(&resp);
    assert_int_equal(hs_http_send(&curl, &req, &resp, NULL), HS_OK);
    assert_int_equal(resp.status, 400);
    hs_free(url);
    url = hs_asprintf("%s?code=c2&state=S1&realmId=77", uri);
    assert_int_equal(hs_http_request_set(&req, "GET", url), HS_OK);
    hs_http_response_release(&resp);
    hs_http_response_init(&resp);
    assert_int_equal(hs_http_send(&curl, &req, &resp, NULL), HS_OK);
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr(resp.body.data, "connected"));
    hs_free(url);
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    hs_http_transport_close(&curl);

    struct hs_oauth_callback cb;
    assert_int_equal(hs_oauth_listen_wait(l, 5000, &cb, &err), HS_OK);
    assert_string_equal(cb.code, "c2");
    assert_string_equal(cb.tenant, "77");
    hs_oauth_callback_release(&cb);
    hs_oauth_listen_close(l);
}

static void test_oauth_listener_times_out_on_the_env_clock(void **state)
{
    struct fx *fx = *state;
    struct hs_oauth_listener *l = NULL;
    struct hs_error err = {0};
    assert_int_equal(hs_oauth_listen_open(hs_oauth_profile_find("hubspot"), "crm",
                                          "http://localhost:0/", "S1", &fx->env, &l, &err),
                     HS_OK);
    struct hs_oauth_callback cb;
    int64_t t0 = fx->clock.now;
    assert_int_equal(hs_oauth_listen_wait(l, 120000, &cb, &err), HS_ETIMEOUT);
    assert_int_equal(fx->clock.now - t0, 120000);
    assert_string_equal(err.msg, "connection 'crm' (hubspot): no answer from the consent page "
                                 "within 120 s; run 'hoopsync connect crm' again");
    hs_oauth_listen_close(l);
}

/* Zoho's data centers: the redirect names the accounts server, the token answer the API
 * domain; only Zoho's own (or, against the sandbox, the sandbox's origin) are used. */
static void test_oauth_data_centers_are_followed_only_to_known_servers(void **state)
{
    (void)state;
    const struct hs_oauth_profile *zoho = hs_oauth_profile_find("zohobooks");
    const struct hs_oauth_profile *qbo = hs_oauth_profile_find("quickbooks");
    assert_non_null(zoho);
    struct hs_error err;
    hs_error_clear(&err);
    struct hs_oauth_callback cb;
    const char *q = "code=C&state=S&location=eu&accounts-server=https%3A%2F%2Faccounts.zoho.eu";
    assert_int_equal(hs_oauth_callback_parse(zoho, "accounting", q, strlen(q), "S", &cb, &err),
                     HS_OK);
    assert_string_equal(cb.dc, "https://accounts.zoho.eu");
    char *tok = NULL;
    assert_int_equal(hs_oauth_dc_token_url(zoho, NULL, "accounting", cb.dc, &tok, &err), HS_OK);
    assert_string_equal(tok, "https://accounts.zoho.eu/oauth/v2/token");
    hs_free(tok);
    hs_oauth_callback_release(&cb);
    /* another host, a look-alike, a path trick, another scheme: refused, named, nothing sent */
    static const char *const bad[] = {
        "https://evil.example",
        "https://accounts.zoho.eu.evil.example",
        "https://accounts.zoho.eu@evil.example",
        "http://accounts.zoho.eu",
        "https://accounts.zoho.eu/x?y",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hs_error_clear(&err);
        assert_int_equal(hs_oauth_dc_token_url(zoho, NULL, "accounting", bad[i], &tok, &err),
                         HS_EAUTH);
        assert_null(tok);
        assert_non_null(strstr(err.msg, "not one of"));
    }
    /* a profile without data centers follows none */
    assert_int_equal(
        hs_oauth_dc_token_url(qbo, NULL, "accounting", "https://accounts.zoho.eu", &tok, &err),
        HS_EAUTH);
    /* the sandbox: its own origin only */
    const char *sbx = "http://127.0.0.1:4100/zohobooks";
    assert_int_equal(hs_oauth_dc_token_url(zoho, sbx, "accounting",
                                           "http://127.0.0.1:4100/zohobooks/accounts", &tok, &err),
                     HS_OK);
    assert_string_equal(tok, "http://127.0.0.1:4100/zohobooks/accounts/oauth/v2/token");
    hs_free(tok);
    assert_int_equal(
        hs_oauth_dc_token_url(zoho, sbx, "accounting", "http://127.0.0.1:41000/x", &tok, &err),
        HS_EAUTH);
    /* API domains */
    assert_true(hs_oauth_api_domain_ok(zoho, NULL, "https://www.zohoapis.eu"));
    assert_true(hs_oauth_api_domain_ok(zoho, NULL, "https://www.zohoapis.com.au/"));
    assert_false(hs_oauth_api_domain_ok(zoho, NULL, "https://www.zohoapis.eu.evil.example"));
    assert_false(hs_oauth_api_domain_ok(zoho, NULL, NULL));
    assert_false(hs_oauth_api_domain_ok(qbo, NULL, "https://www.zohoapis.eu"));
    assert_true(hs_oauth_api_domain_ok(zoho, sbx, "http://127.0.0.1:4100/zohobooks"));
    assert_false(hs_oauth_api_domain_ok(zoho, sbx, "https://www.zohoapis.eu"));
    /* the token answer's api_domain is read (checked by the caller), a bad one refused */
    struct hs_oauth_tokens t;
    const char *ans = "{\"access_token\":\"A\",\"expires_in\":3600,"
                      "\"api_domain\":\"https://www.zohoapis.in\"}";
    assert_int_equal(hs_oauth_tokens_parse(zoho, (const uint8_t *)ans, strlen(ans), 0, &t, &err),
                     HS_OK);
    assert_string_equal(t.api_domain, "https://www.zohoapis.in");
    hs_oauth_tokens_release(&t);
    const char *bad_ans = "{\"access_token\":\"A\",\"api_domain\":7}";
    assert_int_equal(
        hs_oauth_tokens_parse(zoho, (const uint8_t *)bad_ans, strlen(bad_ans), 0, &t, &err),
        HS_EPROTO);
}

int main(void)
{
    hs_alloc_setup_json();
    curl_global_init(CURL_GLOBAL_DEFAULT);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_oauth_endpoints_public_and_sandbox),
        T(test_oauth_consent_url_carries_every_parameter),
        T(test_oauth_consent_survives_every_failed_allocation),
        T(test_oauth_callback_checks_state_error_and_tenant),
        T(test_oauth_tokens_parse_reads_and_rejects),
        T(test_oauth_data_centers_are_followed_only_to_known_servers),
        T(test_oauth_tokens_parse_survives_every_failed_allocation),
        T(test_oauth_exchange_basic_auth_and_form_auth),
        T(test_oauth_refresh_retries_5xx_then_reports_revoked_grant),
        T(test_oauth_source_refreshes_inside_margin_and_persists_rotation),
        T(test_oauth_source_revoked_grant_is_one_clear_error),
        T(test_oauth_source_failed_save_is_retried_before_anything_else),
        T(test_oauth_source_uses_a_refresh_done_by_another_process),
        T(test_oauth_source_concurrent_callers_share_one_refresh),
        T(test_oauth_listener_receives_the_callback),
        T(test_oauth_listener_times_out_on_the_env_clock),
    };
#undef T
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
