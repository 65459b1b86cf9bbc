/*
 * tests/unit/test_sbx_core.c - the sandbox emulator core, driven in-process through
 * hs_sbx_handle with a fake provider module and a fake clock (no sockets, except the webhook
 * delivery test, which needs a real receiver on 127.0.0.1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sandbox/sbx.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

/* ---- fake clock ---- */

struct fake_clock {
    int64_t now;
};

static int64_t fake_now(void *ud)
{
    return ((struct fake_clock *)ud)->now;
}

static uint64_t fake_rand(void *ud)
{
    (void)ud;
    return 4;
}

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

/* ---- a fake provider module ---- */

extern const struct hs_sbx_module_ops fake_ops;

struct fake {
    struct hs_sbx *sbx;
    int resets;
    size_t world_companies;
    int64_t saved_n;
};

static int fake_unauth(void *state, struct hs_http_response *resp, const char *why)
{
    (void)state;
    return hs_http_response_json_take(resp, 401,
                                      json_pack("{s:s, s:s}", "fake", "unauthorized", "why", why));
}

static int r_item(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                  struct hs_http_response *resp)
{
    struct fake *f = ud;
    if (!hs_sbx_auth_ok(f->sbx, &fake_ops, hs_http_headers_get(&req->headers, "Authorization"),
                        "42"))
        return fake_unauth(f, resp, "bad token");
    return hs_http_response_json_take(resp, 200, json_pack("{s:s}", "id", hs_route_param(m, "id")));
}

static int r_limited(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                     struct hs_http_response *resp)
{
    (void)req;
    (void)m;
    struct fake *f = ud;
    int64_t left = -1;
    int64_t retry = -1;
    if (!hs_sbx_rate_take(f->sbx, "fake:42:burst", 3, 10000, &left, &retry))
        return hs_http_response_json_take(resp, 429, json_pack("{s:I}", "retry_ms", retry));
    return hs_http_response_json_take(resp, 200, json_pack("{s:I}", "remaining", left));
}

static int r_authorize(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                       struct hs_http_response *resp)
{
    (void)m;
    struct fake *f = ud;
    return hs_sbx_oauth_authorize_param(f->sbx, &fake_ops, "42", "realmId", req, resp);
}

static const struct hs_sbx_oauth_profile fake_profile = {1800, 0, true, true, false};

static int r_token(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                   struct hs_http_response *resp)
{
    (void)m;
    struct fake *f = ud;
    return hs_sbx_oauth_token(f->sbx, &fake_ops, &fake_profile, req, resp);
}

static int r_emit(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                  struct hs_http_response *resp)
{
    (void)m;
    struct fake *f = ud;
    json_t *ev = NULL;
    if (hs_json_parse((const uint8_t *)req->body.data, req->body.len, "event", &ev, NULL) != HS_OK)
        return hs_http_response_json_take(resp, 400, json_pack("{s:s}", "fake", "bad"));
    hs_sbx_emit(f->sbx, &fake_ops, ev);
    json_decref(ev);
    resp->status = 204;
    return HS_OK;
}

static int fake_create(struct hs_sbx *sbx, void **out, struct hs_error *err)
{
    struct fake *f = hs_calloc(1, sizeof *f);
    if (f == NULL)
        return hs_error_set(err, HS_ENOMEM, "fake: out of memory");
    f->sbx = sbx;
    *out = f;
    return HS_OK;
}

static void fake_destroy(void *state)
{
    hs_free(state);
}

static int fake_routes(void *state, struct hs_sbx *sbx)
{
    int rc = hs_sbx_route(sbx, &fake_ops, "GET", "/items/{id}", r_item, state);
    if (rc == HS_OK)
        rc = hs_sbx_route(sbx, &fake_ops, "GET", "/limited", r_limited, state);
    if (rc == HS_OK)
        rc = hs_sbx_route(sbx, &fake_ops, "GET", "/oauth/authorize", r_authorize, state);
    if (rc == HS_OK)
        rc = hs_sbx_route(sbx, &fake_ops, "POST", "/oauth/token", r_token, state);
    if (rc == HS_OK)
        rc = hs_sbx_route(sbx, &fake_ops, "POST", "/emit", r_emit, state);
    return rc;
}

static int fake_reset(void *state, const struct hs_sbx_world *w, struct hs_error *err)
{
    (void)err;
    struct fake *f = state;
    f->resets++;
    f->world_companies = w ? w->n_companies : 0;
    return HS_OK;
}

static json_t *fake_tenants(void *state)
{
    (void)state;
    return json_pack("{s:i}", "fakeId", 42);
}

static json_t *fake_save(void *state)
{
    struct fake *f = state;
    return json_pack("{s:I}", "n", (json_int_t)f->world_companies);
}

static int fake_load(void *state, const json_t *saved, struct hs_error *err)
{
    (void)err;
    struct fake *f = state;
    f->saved_n = json_integer_value(json_object_get(saved, "n"));
    return HS_OK;
}

static int fake_throttled(void *state, struct hs_http_response *resp, int retry_after_s)
{
    (void)state;
    return hs_http_response_json_take(
        resp, 429, json_pack("{s:s, s:i}", "fake", "throttled", "retry", retry_after_s));
}

const struct hs_sbx_module_ops fake_ops = {
    "fake",    fake_create,    fake_destroy, fake_routes, fake_reset, fake_tenants, fake_save,
    fake_load, fake_throttled, fake_unauth,  NULL,        0,          NULL,         NULL,
};

static const struct hs_sbx_module_ops *const fake_list[] = {&fake_ops};

/* ---- harness ---- */

struct fix {
    struct fake_clock clock;
    struct hs_env env;
    struct hs_sbx *sbx;
};

static int open_with(struct fix *fx, struct hs_sbx_options *opt)
{
    fx->clock.now = T0;
    fx->env.now_ms = fake_now;
    fx->env.rand64 = fake_rand;
    fx->env.log = NULL;
    fx->env.ud = &fx->clock;
    fx->env.min_level = HS_LOG_ERROR;
    opt->env = &fx->env;
    opt->modules = fake_list;
    opt->n_modules = 1;
    struct hs_error e;
    hs_error_clear(&e);
    int rc = hs_sbx_open(opt, &fx->sbx, &e);
    if (rc != HS_OK)
        print_error("open: %s\n", e.msg);
    return rc;
}

static int setup(void **state)
{
    struct fix *fx = calloc(1, sizeof *fx);
    struct hs_sbx_options opt;
    memset(&opt, 0, sizeof opt);
    opt.static_token = "static-tok";
    opt.seed = 7;
    if (fx == NULL || open_with(fx, &opt) != HS_OK)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fix *fx = *state;
    hs_sbx_close(fx->sbx);
    free(fx);
    return 0;
}

/* Runs one request; returns the status and, when out_json is given, the parsed body. */
static int call(struct hs_sbx *sbx, const char *method, const char *target, const char *body,
                const char *auth, struct hs_http_response *resp, json_t **out_json)
{
    struct hs_http_request req;
    hs_http_request_init(&req);
    req.method = hs_strdup(method);
    const char *q = strchr(target, '?');
    req.path = q ? hs_strndup(target, (size_t)(q - target)) : hs_strdup(target);
    req.query = q ? hs_strdup(q + 1) : NULL;
    req.peer = hs_strdup("127.0.0.1");
    assert_non_null(req.method);
    assert_non_null(req.path);
    if (auth != NULL)
        assert_int_equal(hs_http_headers_add(&req.headers, "Authorization", auth), HS_OK);
    if (body != NULL)
        assert_int_equal(hs_buf_puts(&req.body, body), HS_OK);
    hs_http_response_release(resp);
    hs_http_response_init(resp);
    int rc = hs_sbx_handle(sbx, &req, resp);
    hs_http_request_release(&req);
    assert_int_equal(rc, HS_OK);
    if (out_json != NULL) {
        *out_json = NULL;
        if (resp->body.len > 0)
            assert_int_equal(hs_json_parse((const uint8_t *)resp->body.data, resp->body.len,
                                           "response", out_json, NULL),
                             HS_OK);
    }
    return resp->status;
}

static int64_t jint(const json_t *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *cur = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, k);
    assert_non_null(cur);
    return json_integer_value(cur);
}

/* ---- clock ---- */

static void test_sbx_core_clock_moves(void **state)
{
    struct fix *fx = *state;
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    json_t *j = NULL;

    assert_int_equal(call(fx->sbx, "GET", "/_sandbox/clock", NULL, NULL, &resp, &j), 200);
    assert_int_equal(jint(j, "now"), T0);
    assert_string_equal(hs_json_str(j, "iso"), "2026-01-01T00:00:00.000Z");
    assert_false(json_is_true(json_object_get(j, "frozen")));
    json_decref(j);

    fx->clock.now += 500; /* real time passes */
    assert_int_equal(
        call(fx->sbx, "POST", "/_sandbox/clock", "{\"advance_ms\":1000}", NULL, &resp, &j), 200);
    assert_int_equal(jint(j, "now"), T0 + 1500);
    json_decref(j);

    assert_int_equal(call(fx->sbx, "POST", "/_sandbox/clock", "{\"freeze\":true}", NULL, &resp, &j),
                     200);
    json_decref(j);
    fx->clock.now += 60000; /* frozen: real time no longer moves it */
    assert_int_equal(call(fx->sbx, "GET", "/_sandbox/clock", NULL, NULL, &resp, &j), 200);
    assert_int_equal(jint(j, "now"), T0 + 1500);
    assert_true(json_is_true(json_object_get(j, "frozen")));
    json_decref(j);
    assert_int_equal(
        call(fx->sbx, "POST", "/_sandbox/clock", "{\"advance_ms\":250}", NULL, &resp, &j), 200);
    assert_int_equal(jint(j, "now"), T0 + 1750);
    json_decref(j);

    assert_int_equal(call(fx->sbx, "POST", "/_sandbox/clock", "{\"set_ms\":1000,\"freeze\":false}",
                          NULL, &resp, &j),
                     200);
    assert_int_equal(jint(j, "now"), 1000);
    json_decref(j);
    fx->clock.now += 7;
    assert_int_equal(call(fx->sbx, "GET", "/_sandbox/clock", NULL, NULL, &resp, &j), 200);
    assert_int_equal(jint(j, "now"), 1007);
    assert_string_equal(hs_json_str(j, "iso"), "1970-01-01T00:00:01.007Z");
    json_decref(j);

    /* bad bodies */
    assert_int_equal(
        call(fx->sbx, "POST", "/_sandbox/clock", "{\"advance_ms\":-5}", NULL, &resp, &j), 400);
    assert_non_null(strstr(hs_json_str(j, "message"), "'advance_ms'"));
    json_decref(j);
    assert_int_equal(call(fx->sbx, "POST", "/_sandbox/clock", "{}", NULL, &resp, NULL), 400);
    assert_int_equal(call(fx->sbx, "POST", "/_sandbox/clock", "{oops", NULL, &resp, &j), 400);
    assert_non_null(strstr(hs_json_str(j, "message"), "request body"));
    json_decref(j);
    hs_http_response_release(&resp);
}

/* ---- rate limits ---- */

static void test_sbx_core_rate_limit_windows(void **state)
{
    struct fix *fx = *state;
    int64_t left = 0;
    int64_t retry = 0;
    hs_sbx_lock(fx->sbx);
    assert_true(hs_sbx_rate_limits_on(fx->sbx));
    for (int i = 0; i < 3; i++) {
        assert_true(hs_sbx_rate_take(fx->sbx, "k", 3, 10000, &left, &retry));
        assert_int_equal(left, 2 - i);
    }
    fx->clock.now += 4000;
    assert_false(hs_sbx_rate_take(fx->sbx, "k", 3, 10000, &left, &retry));
    assert_int_equal(left, 0);
    assert_int_equal(retry, 6000);
    /* another key has its own window */
    assert_true(hs_sbx_rate_take(fx->sbx, "other", 3, 10000, &left, &retry));
    fx->clock.now += 6000; /* the window is over */
    assert_true(hs_sbx_rate_take(fx->sbx, "k", 3, 10000, &left, &retry));
    assert_int_equal(left, 2);
    hs_sbx_unlock(fx->sbx);

    /* moving the emulated clock also opens a new window */
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    json_t *j = NULL;
    for (int i = 0; i < 3; i++)
        call(fx->sbx, "GET", "/fake/limited", NULL, NULL, &resp, NULL);
    assert_int_equal(call(fx->sbx, "GET", "/fake/limited", NULL, NULL, &resp, &j), 429);
    assert_true(jint(j, "retry_ms") > 0);
    json_decref(j);
    assert_int_equal(
        call(fx->sbx, "POST", "/_sandbox/clock", "{\"advance_ms\":10000}", NULL, &resp, NULL), 200);
    assert_int_equal(call(fx->sbx, "GET", "/fake/limited", NULL, NULL, &resp, &j), 200);
    assert_int_equal(jint(j, "remaining"), 2);
    json_decref(j);
    hs_http_response_release(&resp);
}

static void test_sbx_core_rate_limit_time_scale_and_off(void **state)
{
    (void)state;
    struct fix fx;
    struct hs_sbx_options opt;
    memset(&opt, 0, sizeof opt);
    opt.time_scale = 10;
    assert_int_equal(open_with(&fx, &opt), HS_OK);
    int64_t left = 0;
    int64_t retry = 0;
    hs_sbx_lock(fx.sbx);
    assert_true(hs_sbx_rate_take(fx.sbx, "k", 1, 10000, &left, &retry));
    assert_false(hs_sbx_rate_take(fx.sbx, "k", 1, 10000, &left, &retry));
    assert_int_equal(retry, 1000); /* 10 s / 10 */
    fx.clock.now += 1000;
    assert_true(hs_sbx_rate_take(fx.sbx, "k", 1, 10000, &left, &retry));
    hs_sbx_unlock(fx.sbx);
    hs_sbx_close(fx.sbx);

    memset(&opt, 0, sizeof opt);
    opt.no_rate_limits = true;
    assert_int_equal(open_with(&fx, &opt), HS_OK);
    hs_sbx_lock(fx.sbx);
    assert_false(hs_sbx_rate_limits_on(fx.sbx));
    for (int i = 0; i < 100; i++)
        assert_true(hs_sbx_rate_take(fx.sbx, "k", 1, 10000, &left, &retry));
    hs_sbx_unlock(fx.sbx);
    hs_sbx_close(fx.sbx);
}

/* ---- OAuth ---- */

/* Extracts query parameter key of the Location header of resp (caller frees). */
static char *location_param(const struct hs_http_response *resp, const char *key)
{
    const char *loc = hs_http_headers_get(&resp->headers, "Location");
    assert_non_null(loc);
    const char *q = strchr(loc, '?');
    assert_non_null(q);
    return hs_str_form_get(q + 1, key, NULL);
}

static char *token_call(struct hs_sbx *sbx, const char *body, const char *basic, int want,
                        const char *want_error, char **out_refresh)
{
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    json_t *j = NULL;
    assert_int_equal(call(sbx, "POST", "/fake/oauth/token", body, basic, &resp, &j), want);
    char *access = NULL;
    if (want == 200) {
        assert_string_equal(hs_json_str(j, "token_type"), "bearer");
        assert_int_equal(jint(j, "expires_in"), 1800);
        assert_int_equal(jint(j, "x_refresh_token_expires_in"), 8726400);
        access = hs_strdup(hs_json_str(j, "access_token"));
        if (out_refresh != NULL)
            *out_refresh = hs_strdup(hs_json_str(j, "refresh_token"));
        assert_string_equal(hs_http_headers_get(&resp.headers, "Cache-Control"), "no-store");
    } else {
        assert_string_equal(hs_json_str(j, "error"), want_error);
        assert_non_null(hs_json_str(j, "error_description"));
    }
    json_decref(j);
    hs_http_response_release(&resp);
    return access;
}

static void test_sbx_core_oauth_code_refresh_rotation_expiry(void **state)
{
    struct fix *fx = *state;
    struct hs_sbx *sbx = fx->sbx;
    struct hs_http_response resp;
    hs_http_response_init(&resp);

    assert_int_equal(call(sbx, "GET",
                          "/fake/oauth/authorize?client_id=app1&redirect_uri=http%3A%2F%2F127.0.0.1"
                          "%3A9%2Fcb&state=xyz&scope=crm",
                          NULL, NULL, &resp, NULL),
                     302);
    char *code = location_param(&resp, "code");
    char *st = location_param(&resp, "state");
    char *realm = location_param(&resp, "realmId");
    assert_non_null(code);
    assert_string_equal(st, "xyz");
    assert_string_equal(realm, "42");
    assert_true(
        hs_str_starts(hs_http_headers_get(&resp.headers, "Location"), "http://127.0.0.1:9/cb?"));
    hs_free(st);
    hs_free(realm);

    char body[512];
    /* no client authentication at all */
    snprintf(body, sizeof body, "grant_type=authorization_code&code=%s", code);
    assert_null(token_call(sbx, body, NULL, 401, "invalid_client", NULL));
    /* a wrong client id burns the code (single use) */
    char *refresh = NULL;
    snprintf(body, sizeof body,
             "grant_type=authorization_code&code=%s&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%3A9%%"
             "2Fcb&client_id=app1&client_secret=s3cret",
             code);
    char *access = token_call(sbx, body, NULL, 200, NULL, &refresh);
    assert_non_null(access);
    assert_non_null(refresh);
    /* replaying the code fails */
    assert_null(token_call(sbx, body, NULL, 400, "invalid_grant", NULL));
    hs_free(code);

    /* the access token works for the fake module, a wrong one does not */
    char auth[256];
    snprintf(auth, sizeof auth, "Bearer %s", access);
    assert_int_equal(call(sbx, "GET", "/fake/items/1", NULL, auth, &resp, NULL), 200);
    assert_int_equal(call(sbx, "GET", "/fake/items/1", NULL, "Bearer nope", &resp, NULL), 401);
    assert_int_equal(call(sbx, "GET", "/fake/items/1", NULL, NULL, &resp, NULL), 401);
    assert_int_equal(call(sbx, "GET", "/fake/items/1", NULL, "Bearer static-tok", &resp, NULL),
                     200);

    /* refresh with another client: invalid_grant; with HTTP Basic for app1: rotation */
    snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=%s", refresh);
    assert_null(
        token_call(sbx, body, "Basic b3RoZXI6eA==" /* other:x */, 400, "invalid_grant", NULL));
    char *refresh2 = NULL;
    char *access2 =
        token_call(sbx, body, "Basic YXBwMTpzM2NyZXQ=" /* app1:s3cret */, 200, NULL, &refresh2);
    assert_non_null(access2);
    assert_string_not_equal(refresh, refresh2);
    /* the rotated-out refresh token is dead */
    assert_null(token_call(sbx, body, "Basic YXBwMTpzM2NyZXQ=", 400, "invalid_grant", NULL));
    char body2[512];
    snprintf(body2, sizeof body2,
             "grant_type=refresh_token&refresh_token=%s&client_id=app1&client_secret=x", refresh2);
    char *refresh3 = NULL;
    char *access3 = token_call(sbx, body2, NULL, 200, NULL, &refresh3);
    assert_non_null(access3);

    /* access tokens expire with the EMULATED clock */
    snprintf(auth, sizeof auth, "Bearer %s", access3);
    assert_int_equal(call(sbx, "GET", "/fake/items/1", NULL, auth, &resp, NULL), 200);
    assert_int_equal(
        call(sbx, "POST", "/_sandbox/clock", "{\"advance_ms\":1800000}", NULL, &resp, NULL), 200);
    assert_int_equal(call(sbx, "GET", "/fake/items/1", NULL, auth, &resp, NULL), 401);

    /* revocation through the admin API kills the grant */
    snprintf(body2, sizeof body2,
             "grant_type=refresh_token&refresh_token=%s&client_id=app1&client_secret=x", refresh3);
    char *refresh4 = NULL;
    char *access4 = token_call(sbx, body2, NULL, 200, NULL, &refresh4);
    snprintf(auth, sizeof auth, "Bearer %s", access4);
    assert_int_equal(call(sbx, "GET", "/fake/items/1", NULL, auth, &resp, NULL), 200);
    json_t *j = NULL;
    assert_int_equal(
        call(sbx, "POST", "/_sandbox/revoke", "{\"provider\":\"fake\"}", NULL, &resp, &j), 200);
    assert_int_equal(jint(j, "revoked"), 1);
    json_decref(j);
    assert_int_equal(call(sbx, "GET", "/fake/items/1", NULL, auth, &resp, NULL), 401);
    snprintf(body2, sizeof body2,
             "grant_type=refresh_token&refresh_token=%s&client_id=app1&client_secret=x", refresh4);
    assert_null(token_call(sbx, body2, NULL, 400, "invalid_grant", NULL));
    assert_int_equal(
        call(sbx, "POST", "/_sandbox/revoke", "{\"provider\":\"nope\"}", NULL, &resp, NULL), 400);

    /* unsupported grant type, missing grant type */
    assert_null(token_call(sbx, "grant_type=password&client_id=a&client_secret=b", NULL, 400,
                           "unsupported_grant_type", NULL));
    assert_null(token_call(sbx, "client_id=a&client_secret=b", NULL, 400, "invalid_request", NULL));

    /* denied consent */
    assert_int_equal(call(sbx, "GET",
                          "/fake/oauth/authorize?client_id=app1&redirect_uri=http%3A%2F%2F"
                          "localhost%2Fcb&state=s1&deny=1",
                          NULL, NULL, &resp, NULL),
                     302);
    char *error = location_param(&resp, "error");
    assert_string_equal(error, "access_denied");
    hs_free(error);
    assert_int_equal(call(sbx, "POST", "/_sandbox/oauth", "{\"deny\":true}", NULL, &resp, NULL),
                     200);
    assert_int_equal(call(sbx, "GET",
                          "/fake/oauth/authorize?client_id=app1&redirect_uri=http%3A%2F%2F"
                          "localhost%2Fcb%3Fx%3D1",
                          NULL, NULL, &resp, NULL),
                     302);
    assert_true(hs_str_starts(hs_http_headers_get(&resp.headers, "Location"),
                              "http://localhost/cb?x=1&error=access_denied"));
    assert_int_equal(
        call(sbx, "GET", "/fake/oauth/authorize?client_id=app1", NULL, NULL, &resp, NULL), 400);

    hs_free(access);
    hs_free(access2);
    hs_free(access3);
    hs_free(access4);
    hs_free(refresh);
    hs_free(refresh2);
    hs_free(refresh3);
    hs_free(refresh4);
    hs_http_response_release(&resp);
}

static void test_sbx_core_oauth_code_expires(void **state)
{
    struct fix *fx = *state;
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    assert_int_equal(call(fx->sbx, "GET",
                          "/fake/oauth/authorize?client_id=c&redirect_uri=http%3A%2F%2Flocalhost",
                          NULL, NULL, &resp, NULL),
                     302);
    char *code = location_param(&resp, "code");
    fx->clock.now += 5 * 60 * 1000 + 1;
    char body[256];
    snprintf(body, sizeof body,
             "grant_type=authorization_code&code=%s&client_id=c&client_secret=s&redirect_uri="
             "http%%3A%%2F%%2Flocalhost",
             code);
    assert_null(token_call(fx->sbx, body, NULL, 400, "invalid_grant", NULL));
    hs_free(code);
    hs_http_response_release(&resp);
}

/* ---- admin and stats ---- */

static void test_sbx_core_admin_endpoints(void **state)
{
    struct fix *fx = *state;
    struct hs_sbx *sbx = fx->sbx;
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    json_t *j = NULL;

    assert_int_equal(call(sbx, "GET", "/_sandbox/health", NULL, NULL, &resp, &j), 200);
    assert_string_equal(hs_json_str(j, "status"), "ok");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "providers"), 0)),
                        "fake");
    json_decref(j);

    assert_int_equal(call(sbx, "GET", "/_sandbox/tenants", NULL, NULL, &resp, &j), 200);
    assert_int_equal(jint(j, "fake.fakeId"), 42);
    json_decref(j);

    /* seed: the module is rebuilt from a world of the requested size */
    assert_int_equal(call(sbx, "POST", "/_sandbox/seed",
                          "{\"seed\":3,\"companies\":12,\"customers\":4}", NULL, &resp, &j),
                     200);
    assert_int_equal(jint(j, "companies"), 12);
    assert_int_equal(jint(j, "customers"), 4);
    json_decref(j);
    hs_sbx_lock(sbx);
    hs_sbx_unlock(sbx);
    assert_int_equal(call(sbx, "POST", "/_sandbox/seed", "{\"companies\":-1}", NULL, &resp, &j),
                     400);
    assert_non_null(strstr(hs_json_str(j, "message"), "'companies'"));
    json_decref(j);
    assert_int_equal(call(sbx, "POST", "/_sandbox/reset", NULL, NULL, &resp, &j), 200);
    assert_false(json_is_true(json_object_get(j, "seeded")));
    json_decref(j);

    /* faults */
    assert_int_equal(
        call(sbx, "POST", "/_sandbox/faults", "{\"spec\":\"5xx=0.25,latency=0\"}", NULL, &resp, &j),
        200);
    assert_string_equal(hs_json_str(j, "spec"), "5xx=0.25");
    assert_int_equal(jint(j, "5xx_ppm"), 250000);
    json_decref(j);
    assert_int_equal(call(sbx, "POST", "/_sandbox/faults", "{\"spec\":\"5xx=7\"}", NULL, &resp, &j),
                     400);
    assert_non_null(strstr(hs_json_str(j, "message"), "'5xx'"));
    json_decref(j);
    assert_int_equal(call(sbx, "POST", "/_sandbox/faults", "{\"spec\":\"\"}", NULL, &resp, &j),
                     200);
    assert_string_equal(hs_json_str(j, "spec"), "");
    json_decref(j);

    /* stats count module requests per endpoint and status class, not admin calls */
    assert_int_equal(call(sbx, "DELETE", "/_sandbox/stats", NULL, NULL, &resp, NULL), 200);
    call(sbx, "GET", "/fake/items/1", NULL, "Bearer static-tok", &resp, NULL);
    call(sbx, "GET", "/fake/items/2", NULL, "Bearer static-tok", &resp, NULL);
    call(sbx, "GET", "/fake/items/3", NULL, NULL, &resp, NULL);
    call(sbx, "GET", "/fake/limited", NULL, NULL, &resp, NULL);
    assert_int_equal(call(sbx, "GET", "/nowhere", NULL, NULL, &resp, NULL), 404);
    assert_int_equal(call(sbx, "GET", "/_sandbox/stats", NULL, NULL, &resp, &j), 200);
    assert_int_equal(jint(j, "total"), 4);
    assert_int_equal(jint(j, "providers.fake.total"), 4);
    assert_int_equal(jint(j, "providers.fake.status.2xx"), 3);
    assert_int_equal(jint(j, "providers.fake.status.4xx"), 1);
    json_t *ep = json_object_get(json_object_get(j, "endpoints"), "fake GET /items/{id}");
    assert_int_equal(json_integer_value(ep), 3);
    json_decref(j);
    assert_int_equal(call(sbx, "POST", "/_sandbox/stats", NULL, NULL, &resp, &j), 200);
    assert_int_equal(jint(j, "total"), 0);
    json_decref(j);

    /* webhooks: loopback only */
    assert_int_equal(call(sbx, "POST", "/_sandbox/webhooks",
                          "{\"provider\":\"fake\",\"url\":\"http://example.com/x\"}", NULL, &resp,
                          &j),
                     400);
    assert_non_null(strstr(hs_json_str(j, "message"), "loopback"));
    json_decref(j);
    assert_int_equal(call(sbx, "POST", "/_sandbox/webhooks",
                          "{\"provider\":\"fake\",\"url\":\"http://127.0.0.1@evil.com/\"}", NULL,
                          &resp, NULL),
                     400);
    assert_int_equal(call(sbx, "POST", "/_sandbox/webhooks",
                          "{\"provider\":\"nope\",\"url\":\"http://127.0.0.1/\"}", NULL, &resp,
                          NULL),
                     400);
    assert_int_equal(call(sbx, "POST", "/_sandbox/webhooks",
                          "{\"provider\":\"fake\",\"url\":\"http://127.0.0.1:9/hook\","
                          "\"secret\":\"shh\"}",
                          NULL, &resp, &j),
                     201);
    assert_int_equal(jint(j, "id"), 1);
    json_decref(j);
    assert_int_equal(call(sbx, "GET", "/_sandbox/webhooks", NULL, NULL, &resp, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "subscriptions")), 1);
    json_decref(j);
    assert_int_equal(call(sbx, "DELETE", "/_sandbox/webhooks", NULL, NULL, &resp, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "subscriptions")), 0);
    json_decref(j);

    /* save without --data is a clear 400 */
    assert_int_equal(call(sbx, "POST", "/_sandbox/save", NULL, NULL, &resp, &j), 400);
    assert_non_null(strstr(hs_json_str(j, "message"), "--data"));
    json_decref(j);
    hs_http_response_release(&resp);
}

static void test_sbx_core_webhook_url_check(void **state)
{
    (void)state;
    struct {
        const char *url;
        bool ok;
    } cases[] = {
        {"http://127.0.0.1/x", true},
        {"http://127.1.2.3:8080/a?b", true},
        {"http://localhost:1/", true},
        {"https://[::1]:443/h", true},
        {"http://localhost", true},
        {"http://128.0.0.1/", false},
        {"http://10.0.0.1/", false},
        {"ftp://127.0.0.1/", false},
        {"http://127.0.0.1.evil.com/", false},
        {"http://localhost.evil.com/", false},
        {"http://127.0.0.1:0/", false},
        {"http://127.0.0.1:99999/", false},
        {"http://user@127.0.0.1/", false},
        {"http://127.0.0.256/", false},
        {"http://127.0.0/", false},
        {"http://127.0.0.1 /", false},
        {"", false},
    };
    /* hs_sbx_wh_url_ok is internal; exercise it through the admin API */
    struct fix fx;
    struct hs_sbx_options opt;
    memset(&opt, 0, sizeof opt);
    assert_int_equal(open_with(&fx, &opt), HS_OK);
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *body = json_pack("{s:s, s:s}", "provider", "fake", "url", cases[i].url);
        char *text = json_dumps(body, JSON_COMPACT);
        int st = call(fx.sbx, "POST", "/_sandbox/webhooks", text, NULL, &resp, NULL);
        if (st != (cases[i].ok ? 201 : 400))
            fail_msg("url '%s': status %d", cases[i].url, st);
        free(text);
        json_decref(body);
    }
    hs_http_response_release(&resp);
    hs_sbx_close(fx.sbx);
}

/* ---- faults ---- */

static void test_sbx_core_fault_spec_parsing(void **state)
{
    struct fix *fx = *state;
    struct hs_error e;
    hs_error_clear(&e);
    assert_int_equal(hs_sbx_set_faults(fx->sbx,
                                       " 5xx=0.1, latency=50,timeout=0.01,429=0.05,"
                                       "dup=0.2,reorder=1 ,burst429=3",
                                       &e),
                     HS_OK);
    struct {
        const char *spec;
        const char *want;
    } bad[] = {
        {"5xx=2", "rate '2' must be a decimal from 0 to 1"},
        {"5xx=1.5", "rate '1.5'"},
        {"5xx=0.1234567", "rate '0.1234567'"},
        {"5xx=abc", "rate 'abc'"},
        {"5xx", "invalid fault '5xx': expected key=value"},
        {"latency=-1", "'-1' must be milliseconds"},
        {"latency=10ms", "'10ms' must be milliseconds"},
        {"bogus=1", "invalid fault 'bogus': unknown key"},
        {"burst429=0", "'0' must be an integer from 1"},
        {"5xx=", "rate ''"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hs_error_clear(&e);
        assert_int_equal(hs_sbx_set_faults(fx->sbx, bad[i].spec, &e), HS_EINVAL);
        if (strstr(e.msg, bad[i].want) == NULL)
            fail_msg("spec '%s': message '%s' lacks '%s'", bad[i].spec, e.msg, bad[i].want);
    }
    /* a bad spec leaves the previous one in place */
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    json_t *j = NULL;
    assert_int_equal(call(fx->sbx, "GET", "/_sandbox/faults", NULL, NULL, &resp, &j), 200);
    assert_string_equal(hs_json_str(j, "spec"),
                        "5xx=0.1,timeout=0.01,429=0.05,latency=50,dup=0.2,reorder=1,burst429=3");
    json_decref(j);
    assert_int_equal(hs_sbx_set_faults(fx->sbx, "", &e), HS_OK);
    assert_int_equal(hs_sbx_set_faults(fx->sbx, NULL, &e), HS_OK);
    hs_http_response_release(&resp);
}

static void test_sbx_core_faults_applied(void **state)
{
    struct fix *fx = *state;
    struct hs_sbx *sbx = fx->sbx;
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    json_t *j = NULL;

    assert_int_equal(hs_sbx_set_faults(sbx, "5xx=1", NULL), HS_OK);
    assert_int_equal(call(sbx, "GET", "/fake/items/1", NULL, "Bearer static-tok", &resp, &j), 503);
    assert_string_equal(hs_json_str(j, "message"), "injected fault");
    json_decref(j);
    /* admin calls are never faulted */
    assert_int_equal(call(sbx, "GET", "/_sandbox/health", NULL, NULL, &resp, NULL), 200);

    assert_int_equal(hs_sbx_set_faults(sbx, "429=1,retry_after=7", NULL), HS_OK);
    assert_int_equal(call(sbx, "GET", "/fake/items/1", NULL, "Bearer static-tok", &resp, &j), 429);
    assert_string_equal(hs_json_str(j, "fake"), "throttled"); /* the module's own shape */
    assert_int_equal(jint(j, "retry"), 7);
    json_decref(j);

    assert_int_equal(hs_sbx_set_faults(sbx, "timeout=1,timeout_ms=1,latency=1", NULL), HS_OK);
    assert_int_equal(call(sbx, "GET", "/fake/items/1", NULL, "Bearer static-tok", &resp, NULL),
                     504);

    /* about half of the requests fail at 5xx=0.5, deterministically per seed */
    assert_int_equal(hs_sbx_set_faults(sbx, "5xx=0.5", NULL), HS_OK);
    int n503 = 0;
    for (int i = 0; i < 200; i++)
        n503 += call(sbx, "GET", "/fake/items/1", NULL, "Bearer static-tok", &resp, NULL) == 503;
    assert_in_range(n503, 60, 140);

    assert_int_equal(hs_sbx_set_faults(sbx, "", NULL), HS_OK);
    assert_int_equal(call(sbx, "GET", "/fake/items/1", NULL, "Bearer static-tok", &resp, NULL),
                     200);
    assert_int_equal(call(sbx, "GET", "/_sandbox/stats", NULL, NULL, &resp, &j), 200);
    assert_int_equal(jint(j, "providers.fake.status.5xx"), 2 + n503);
    assert_int_equal(jint(j, "providers.fake.status.4xx"), 1);
    json_decref(j);
    hs_http_response_release(&resp);
}

/* ---- seed ---- */

static bool abn_ok(const char *s)
{
    static const int w[11] = {10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19};
    int d[11];
    int n = 0;
    for (; *s && n <= 11; s++)
        if (*s >= '0' && *s <= '9')
            d[n++] = *s - '0';
    if (n != 11)
        return false;
    d[0] -= 1;
    int sum = 0;
    for (int i = 0; i < 11; i++)
        sum += d[i] * w[i];
    return sum % 89 == 0;
}

static bool de_vat_ok(const char *s)
{
    if (strncmp(s, "DE", 2) != 0 || strlen(s) != 11)
        return false;
    int product = 10;
    for (int i = 0; i < 8; i++) {
        int sum = (s[2 + i] - '0' + product) % 10;
        if (sum == 0)
            sum = 10;
        product = (2 * sum) % 11;
    }
    int check = 11 - product;
    if (check == 10)
        check = 0;
    return check == s[10] - '0';
}

static bool gb_vat_ok(const char *s)
{
    if (strncmp(s, "GB", 2) != 0 || strlen(s) != 11)
        return false;
    int sum = 0;
    for (int i = 0; i < 7; i++)
        sum += (s[2 + i] - '0') * (8 - i);
    sum += (s[9] - '0') * 10 + (s[10] - '0');
    return sum % 97 == 0;
}

static void test_sbx_core_seed_determinism(void **state)
{
    (void)state;
    struct hs_sbx_sizes sz = {60, 0, 15, 50, 12, 0, 0, 0, 0};
    struct hs_sbx_world a;
    struct hs_sbx_world b;
    struct hs_sbx_world c;
    assert_int_equal(hs_sbx_world_generate(7, &sz, &a), HS_OK);
    assert_int_equal(hs_sbx_world_generate(7, &sz, &b), HS_OK);
    assert_int_equal(hs_sbx_world_generate(8, &sz, &c), HS_OK);
    assert_int_equal(a.n_companies, 72);
    assert_int_equal(a.n_persons, 120);
    assert_int_equal(a.n_products, 15);
    assert_int_equal(a.n_deals, 50);
    assert_memory_equal(a.companies, b.companies, a.n_companies * sizeof *a.companies);
    assert_memory_equal(a.persons, b.persons, a.n_persons * sizeof *a.persons);
    assert_memory_equal(a.products, b.products, a.n_products * sizeof *a.products);
    assert_memory_equal(a.deals, b.deals, a.n_deals * sizeof *a.deals);
    assert_memory_not_equal(a.companies, c.companies, a.n_companies * sizeof *a.companies);
    assert_memory_not_equal(a.deals, c.deals, a.n_deals * sizeof *a.deals);
    /* the classics are fixed */
    assert_string_equal(a.companies[0].name, "Acme, Inc.");
    assert_string_equal(a.companies[0].acct_name, "ACME Inc");
    assert_string_equal(a.companies[1].name, "Müller GmbH");
    assert_string_equal(a.companies[2].name, "Łódź Logistics Sp. z o.o.");
    assert_string_equal(a.companies[2].acct_name, "Logistics Łódź Sp. z o.o.");
    assert_string_equal(a.companies[3].name, "Société Générale des Eaux SAS");
    hs_sbx_world_release(&a);
    hs_sbx_world_release(&b);
    hs_sbx_world_release(&c);
}

static bool has_prefix_suffix_variant(const struct hs_sbx_company *co)
{
    /* accounting name is the CRM name without its legal suffix */
    size_t n = strlen(co->acct_name);
    return n > 0 && n < strlen(co->name) && strncmp(co->name, co->acct_name, n) == 0;
}

static void test_sbx_core_seed_properties(void **state)
{
    (void)state;
    struct hs_sbx_sizes sz = {200, 0, 30, 300, 40, 0, 0, 0, 0};
    struct hs_sbx_world w;
    assert_int_equal(hs_sbx_world_generate(11, &sz, &w), HS_OK);
    char countries[32][3];
    size_t n_countries = 0;
    size_t n_unicode = 0;
    size_t n_abn = 0;
    size_t n_de = 0;
    size_t n_gb = 0;
    size_t n_case = 0;
    size_t n_swap = 0;
    size_t n_nosuffix = 0;
    size_t n_email = 0;
    size_t n_acct_only = 0;
    size_t n_overlap = 0;
    for (size_t i = 0; i < w.n_companies; i++) {
        const struct hs_sbx_company *co = &w.companies[i];
        bool seen = false;
        for (size_t k = 0; k < n_countries; k++)
            seen = seen || strcmp(countries[k], co->country) == 0;
        if (!seen && n_countries < 32)
            memcpy(countries[n_countries++], co->country, 3);
        static const char *const cc[][2] = {
            {"US", "USD"}, {"GB", "GBP"}, {"DE", "EUR"}, {"FR", "EUR"}, {"JP", "JPY"},
            {"KW", "KWD"}, {"AU", "AUD"}, {"CA", "CAD"}, {"BR", "BRL"}, {"PL", "PLN"}};
        for (size_t k = 0; k < sizeof cc / sizeof cc[0]; k++)
            if (strcmp(co->country, cc[k][0]) == 0)
                assert_string_equal(co->currency, cc[k][1]);
        for (const char *p = co->name; *p; p++)
            if ((unsigned char)*p >= 0x80) {
                n_unicode++;
                break;
            }
        if (strcmp(co->country, "AU") == 0) {
            assert_true(abn_ok(co->tax_id));
            n_abn++;
        }
        if (strcmp(co->country, "DE") == 0) {
            assert_true(de_vat_ok(co->tax_id));
            n_de++;
        }
        if (strcmp(co->country, "GB") == 0) {
            if (!gb_vat_ok(co->tax_id))
                fail_msg("bad GB VAT '%s'", co->tax_id);
            n_gb++;
        }
        assert_true(co->in_crm || co->in_accounting);
        assert_true(strlen(co->name) < 100);
        if (!co->in_crm)
            n_acct_only++;
        if (co->in_crm && co->in_accounting) {
            n_overlap++;
            if (strcmp(co->name, co->acct_name) != 0 && strcasecmp(co->name, co->acct_name) != 0 &&
                strncasecmp(co->name, co->acct_name, 4) == 0 && strchr(co->acct_name, ',') == NULL)
                n_case += strstr(co->acct_name, "ACME") != NULL ||
                          (co->acct_name[1] >= 'A' && co->acct_name[1] <= 'Z');
            if (has_prefix_suffix_variant(co))
                n_nosuffix++;
            const char *at = strchr(co->acct_email, '@');
            assert_non_null(at);
            if (strcmp(at + 1, co->domain) != 0)
                n_email++;
            /* swapped: same words, other order */
            const char *sp = strchr(co->name, ' ');
            if (sp != NULL && strcmp(co->name, co->acct_name) != 0) {
                char first[64];
                snprintf(first, sizeof first, "%.*s", (int)(sp - co->name), co->name);
                if (strstr(co->acct_name, first) != NULL &&
                    strncmp(co->acct_name, first, strlen(first)) != 0)
                    n_swap++;
            }
        }
    }
    assert_true(n_countries >= 8);
    assert_true(n_unicode > 20);
    assert_true(n_abn > 0 && n_de > 0 && n_gb > 0);
    assert_int_equal(n_acct_only, 40);
    assert_int_equal(n_overlap, 100); /* 50% of 200 */
    assert_true(n_case > 0);
    assert_true(n_swap > 0);
    assert_true(n_nosuffix > 0);
    assert_true(n_email > 0);

    /* unique names per side, unique emails */
    for (size_t i = 0; i < w.n_companies; i++)
        for (size_t k = i + 1; k < w.n_companies; k++) {
            if (w.companies[i].in_crm && w.companies[k].in_crm)
                assert_true(strcasecmp(w.companies[i].name, w.companies[k].name) != 0);
            if (w.companies[i].in_accounting && w.companies[k].in_accounting)
                assert_true(strcasecmp(w.companies[i].acct_name, w.companies[k].acct_name) != 0);
        }
    for (size_t i = 0; i < w.n_persons; i++) {
        const struct hs_sbx_person *p = &w.persons[i];
        assert_true(w.companies[p->company].in_crm);
        const char *at = strchr(p->email, '@');
        assert_non_null(at);
        assert_string_equal(at + 1, w.companies[p->company].domain);
        for (size_t k = i + 1; k < w.n_persons; k++)
            assert_string_not_equal(p->email, w.persons[k].email);
    }
    /* deals: every stage, 1..6 lines, contact of the same company */
    bool stage_seen[16] = {false};
    for (size_t i = 0; i < w.n_deals; i++) {
        const struct hs_sbx_deal *d = &w.deals[i];
        assert_in_range(d->n_lines, 1, 6);
        assert_in_range(d->stage, 0, (int)hs_sbx_n_deal_stages - 1);
        stage_seen[d->stage] = true;
        assert_int_equal(w.persons[d->contact].company, d->company);
        assert_string_equal(d->currency, w.companies[d->company].currency);
        for (size_t k = 0; k < d->n_lines; k++) {
            assert_true(d->lines[k].product < w.n_products);
            assert_true(d->lines[k].quantity >= 1);
            assert_true(d->lines[k].price_minor > 0);
        }
    }
    for (size_t s = 0; s < hs_sbx_n_deal_stages; s++)
        assert_true(stage_seen[s]);
    assert_string_equal(hs_sbx_deal_stages[hs_sbx_n_deal_stages - 2], "closedwon");
    hs_sbx_world_release(&w);

    /* 10,000 companies and deals */
    struct hs_sbx_sizes big = {10000, 0, 500, 10000, 2000, 0, 0, 0, 0};
    assert_int_equal(hs_sbx_world_generate(1, &big, &w), HS_OK);
    assert_int_equal(w.n_companies, 12000);
    assert_int_equal(w.n_deals, 10000);
    hs_sbx_world_release(&w);
    struct hs_sbx_sizes huge = {3000000, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(hs_sbx_world_generate(1, &huge, &w), HS_ERANGE);
}

static void test_sbx_core_seed_survives_every_failed_allocation(void **state)
{
    (void)state;
    struct hs_sbx_sizes sz = {6, 8, 4, 9, 3, 0, 0, 0, 0};
    for (int n = 0;; n++) {
        struct hs_sbx_world w;
        failalloc_arm(n);
        int rc = hs_sbx_world_generate(5, &sz, &w);
        failalloc_disarm();
        if (rc == HS_OK) {
            hs_sbx_world_release(&w);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_null(w.companies);
    }
}

static void test_sbx_core_open_survives_every_failed_allocation(void **state)
{
    (void)state;
    for (int n = 0;; n++) {
        struct fix fx;
        struct hs_sbx_options opt;
        memset(&opt, 0, sizeof opt);
        opt.seeded = true;
        opt.sizes.companies = 3;
        opt.faults = "5xx=0.1";
        opt.static_token = "t";
        fx.sbx = NULL;
        fx.clock.now = T0;
        fx.env.now_ms = fake_now;
        fx.env.rand64 = fake_rand;
        fx.env.log = NULL;
        fx.env.ud = &fx.clock;
        fx.env.min_level = HS_LOG_ERROR;
        opt.env = &fx.env;
        opt.modules = fake_list;
        opt.n_modules = 1;
        failalloc_arm(n);
        int rc = hs_sbx_open(&opt, &fx.sbx, NULL);
        failalloc_disarm();
        if (rc == HS_OK) {
            hs_sbx_close(fx.sbx);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_null(fx.sbx);
    }
}

/* ---- persistence ---- */

static void test_sbx_core_data_file_persists(void **state)
{
    (void)state;
    char dir[] = "/tmp/hs-sbx-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/state.json", dir);
    struct fix fx;
    struct hs_sbx_options opt;
    memset(&opt, 0, sizeof opt);
    opt.seeded = true;
    opt.sizes.companies = 9;
    opt.sizes.customers = 2;
    opt.data_file = path;
    assert_int_equal(open_with(&fx, &opt), HS_OK);
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    assert_int_equal(
        call(fx.sbx, "POST", "/_sandbox/clock", "{\"advance_ms\":3600000}", NULL, &resp, NULL),
        200);
    assert_int_equal(call(fx.sbx, "POST", "/_sandbox/webhooks",
                          "{\"provider\":\"fake\",\"url\":\"http://127.0.0.1:9/h\"}", NULL, &resp,
                          NULL),
                     201);
    json_t *j = NULL;
    assert_int_equal(call(fx.sbx, "POST", "/_sandbox/save", NULL, NULL, &resp, &j), 200);
    assert_string_equal(hs_json_str(j, "saved"), path);
    json_decref(j);
    assert_int_equal(access(path, F_OK), 0);
    hs_sbx_close(fx.sbx); /* saves again */

    /* reopen unseeded: the module gets its saved state, the clock keeps its offset */
    memset(&opt, 0, sizeof opt);
    opt.data_file = path;
    assert_int_equal(open_with(&fx, &opt), HS_OK);
    fx.clock.now += 10; /* open_with reset the real clock to T0 */
    assert_int_equal(call(fx.sbx, "GET", "/_sandbox/clock", NULL, NULL, &resp, &j), 200);
    assert_int_equal(jint(j, "now"), T0 + 3600000 + 10);
    json_decref(j);
    assert_int_equal(call(fx.sbx, "GET", "/_sandbox/webhooks", NULL, NULL, &resp, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "subscriptions")), 1);
    json_decref(j);
    assert_int_equal(call(fx.sbx, "GET", "/_sandbox/health", NULL, NULL, &resp, &j), 200);
    assert_true(json_is_true(json_object_get(j, "seeded")));
    json_decref(j);
    hs_sbx_close(fx.sbx);

    /* a corrupt file is a clear error, and is left alone */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"format\":\"something-else\"}", f);
    fclose(f);
    struct hs_error e;
    hs_error_clear(&e);
    memset(&opt, 0, sizeof opt);
    opt.data_file = path;
    opt.env = &fx.env;
    opt.modules = fake_list;
    opt.n_modules = 1;
    assert_int_equal(hs_sbx_open(&opt, &fx.sbx, &e), HS_EPROTO);
    assert_non_null(strstr(e.msg, "not a hoopsync-sandbox data file"));
    f = fopen(path, "r");
    char buf[64] = "";
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_non_null(strstr(buf, "something-else"));
    hs_http_response_release(&resp);
    unlink(path);
    rmdir(dir);
}

/* ---- webhook delivery over loopback ---- */

struct receiver {
    pthread_mutex_t mu;
    json_t *bodies;
    int fail_first; /* answer 500 to this many requests first */
};

static int receive(void *ud, const struct hs_http_request *req, struct hs_http_response *resp)
{
    struct receiver *r = ud;
    pthread_mutex_lock(&r->mu);
    int status = 204;
    if (r->fail_first > 0) {
        r->fail_first--;
        status = 500;
    } else {
        json_t *j = NULL;
        if (hs_json_parse((const uint8_t *)req->body.data, req->body.len, "hook", &j, NULL) ==
            HS_OK)
            json_array_append_new(r->bodies, j);
    }
    pthread_mutex_unlock(&r->mu);
    resp->status = status;
    return HS_OK;
}

static void test_sbx_core_webhook_delivery(void **state)
{
    struct fix *fx = *state;
    struct receiver r;
    pthread_mutex_init(&r.mu, NULL);
    r.bodies = json_array();
    r.fail_first = 1; /* the first delivery is retried */
    struct hs_http_server_config cfg = {"127.0.0.1", 0, 0, 1};
    struct hs_http_server *srv = NULL;
    assert_int_equal(hs_http_server_open(&cfg, receive, &r, &srv, NULL), HS_OK);
    char body[160];
    snprintf(body, sizeof body, "{\"provider\":\"fake\",\"url\":\"http://127.0.0.1:%u/hook\"}",
             (unsigned)hs_http_server_port(srv));
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    assert_int_equal(call(fx->sbx, "POST", "/_sandbox/webhooks", body, NULL, &resp, NULL), 201);

    assert_int_equal(call(fx->sbx, "POST", "/fake/emit", "{\"n\":1}", NULL, &resp, NULL), 204);
    assert_int_equal(hs_sbx_webhook_drain(fx->sbx, 10000), HS_OK);
    assert_int_equal(call(fx->sbx, "POST", "/fake/emit", "{\"n\":2}", NULL, &resp, NULL), 204);
    assert_int_equal(call(fx->sbx, "POST", "/fake/emit", "{\"n\":3}", NULL, &resp, NULL), 204);
    assert_int_equal(hs_sbx_webhook_drain(fx->sbx, 10000), HS_OK);

    pthread_mutex_lock(&r.mu);
    size_t events = 0;
    size_t i;
    json_t *b;
    json_array_foreach(r.bodies, i, b)
    {
        assert_true(json_is_array(b)); /* default shape: an array of events */
        events += json_array_size(b);
    }
    assert_int_equal(events, 3);
    assert_int_equal(jint(json_array_get(json_array_get(r.bodies, 0), 0), "n"), 1);
    pthread_mutex_unlock(&r.mu);

    /* duplicate deliveries */
    assert_int_equal(hs_sbx_set_faults(fx->sbx, "dup=1", NULL), HS_OK);
    assert_int_equal(call(fx->sbx, "POST", "/fake/emit", "{\"n\":4}", NULL, &resp, NULL), 204);
    assert_int_equal(hs_sbx_webhook_drain(fx->sbx, 10000), HS_OK);
    pthread_mutex_lock(&r.mu);
    size_t n4 = 0;
    json_array_foreach(r.bodies, i, b)
    {
        size_t k;
        json_t *ev;
        json_array_foreach(b, k, ev) n4 += json_integer_value(json_object_get(ev, "n")) == 4;
    }
    assert_int_equal(n4, 2);
    pthread_mutex_unlock(&r.mu);

    json_t *j = NULL;
    assert_int_equal(call(fx->sbx, "GET", "/_sandbox/stats", NULL, NULL, &resp, &j), 200);
    assert_int_equal(jint(j, "webhooks.events"), 4);
    assert_true(jint(j, "webhooks.delivered") >= 4);
    assert_true(jint(j, "webhooks.attempts") >= 5); /* one retry after the 500 */
    assert_int_equal(jint(j, "webhooks.failed"), 0);
    assert_int_equal(jint(j, "webhooks.duplicated"), 1);
    json_decref(j);

    hs_http_response_release(&resp);
    hs_sbx_stop(fx->sbx);
    hs_http_server_close(srv);
    json_decref(r.bodies);
    pthread_mutex_destroy(&r.mu);
}

int main(void)
{
    hs_alloc_setup_json();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sbx_core_clock_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_core_rate_limit_windows, setup, teardown),
        cmocka_unit_test(test_sbx_core_rate_limit_time_scale_and_off),
        cmocka_unit_test_setup_teardown(test_sbx_core_oauth_code_refresh_rotation_expiry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sbx_core_oauth_code_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_core_admin_endpoints, setup, teardown),
        cmocka_unit_test(test_sbx_core_webhook_url_check),
        cmocka_unit_test_setup_teardown(test_sbx_core_fault_spec_parsing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_core_faults_applied, setup, teardown),
        cmocka_unit_test(test_sbx_core_seed_determinism),
        cmocka_unit_test(test_sbx_core_seed_properties),
        cmocka_unit_test(test_sbx_core_seed_survives_every_failed_allocation),
        cmocka_unit_test(test_sbx_core_open_survives_every_failed_allocation),
        cmocka_unit_test(test_sbx_core_data_file_persists),
        cmocka_unit_test_setup_teardown(test_sbx_core_webhook_delivery, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
