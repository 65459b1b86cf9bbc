/*
 * sandbox/oauth.c - OAuth2 authorization-code and refresh-token emulation for every module.
 *
 * Design:     the authorization endpoint consents at once (302 to redirect_uri with code and
 *             state) unless the request says deny=1 or /_sandbox/oauth set "deny": then it
 *             redirects with error=access_denied. A code is single-use (taken out of the map
 *             on first presentation, valid or not) and lives CODE_TTL_MS of emulated time.
 *             The token endpoint authenticates the client (HTTP Basic or client_id and
 *             client_secret in the form; any id with a non-empty secret is accepted, but a
 *             code or refresh token only works for the client it was issued to) and answers
 *             the RFC 6749 JSON; errors are {"error":"invalid_grant",...} with 400 (401 for
 *             invalid_client), plus HubSpot's own fields when the profile asks for them.
 *             A grant (provider, tenant, client) holds the current refresh token; with
 *             rotation, refreshing replaces it and the old one is gone, so replaying it is an
 *             invalid_grant. Access tokens expire after access_ttl_s of EMULATED time, so
 *             tests expire them by moving /_sandbox/clock. /_sandbox/revoke marks grants
 *             revoked and drops their refresh and access tokens, like a user disconnecting
 *             the app. Tokens are random hex from a seeded RNG (deterministic per seed).
 * Invariants: refresh map entries point at live, non-revoked grants; every access entry's
 *             grant is in the grants array.
 * Threads:    every function runs with the state lock held (handlers, admin).
 * Ownership:  the oauth struct owns codes, grants and tokens.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/sbx_int.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

#define CODE_TTL_MS       (5 * 60 * 1000)
#define MAX_FORM          65536
#define QBO_REFRESH_TTL_S 8726400 /* 101 days, what Intuit reports */

struct hs_sbx_grant {
    char *provider;
    char *tenant; /* NULL: any tenant */
    char *client_id;
    char *refresh;
    int64_t refresh_expires_ms; /* 0: never */
    bool revoked;
};

struct oauth_code {
    char *provider;
    char *tenant;
    char *client_id;
    char *redirect_uri;
    int64_t expires_ms;
};

struct oauth_access {
    struct hs_sbx_grant *grant;
    int64_t expires_ms;
};

static void code_free(void *p)
{
    struct oauth_code *c = p;
    if (c == NULL)
        return;
    hs_free(c->provider);
    hs_free(c->tenant);
    hs_free(c->client_id);
    hs_free(c->redirect_uri);
    hs_free(c);
}

static void grant_free(struct hs_sbx_grant *g)
{
    if (g == NULL)
        return;
    hs_free(g->provider);
    hs_free(g->tenant);
    hs_free(g->client_id);
    hs_free(g->refresh);
    hs_free(g);
}

void hs_sbx_oauth_init(struct hs_sbx_oauth *o, uint64_t seed)
{
    memset(o, 0, sizeof *o);
    hs_sbx_map_init(&o->codes, code_free);
    hs_sbx_map_init(&o->refresh, NULL);
    hs_sbx_map_init(&o->access, hs_free);
    hs_rng_seed(&o->rng, seed);
    o->access_sweep_at = 1024;
}

void hs_sbx_oauth_clear(struct hs_sbx_oauth *o)
{
    hs_sbx_map_clear(&o->codes);
    hs_sbx_map_clear(&o->refresh);
    hs_sbx_map_clear(&o->access);
    for (size_t i = 0; i < o->n_grants; i++)
        grant_free(o->grants[i]);
    o->n_grants = 0;
}

void hs_sbx_oauth_release(struct hs_sbx_oauth *o)
{
    hs_sbx_oauth_clear(o);
    hs_sbx_map_release(&o->codes);
    hs_sbx_map_release(&o->refresh);
    hs_sbx_map_release(&o->access);
    HS_FREE(o->grants);
    o->cap_grants = 0;
}

/* "<prefix>" + 40 hex digits. */
static char *new_token(struct hs_sbx_oauth *o, const char *prefix)
{
    uint64_t a = hs_rng_next(&o->rng);
    uint64_t b = hs_rng_next(&o->rng);
    uint32_t c = (uint32_t)hs_rng_next(&o->rng);
    return hs_asprintf("%s%016" PRIx64 "%016" PRIx64 "%08" PRIx32, prefix, a, b, c);
}

/* ---- request parsing ---- */

struct form {
    char *body;        /* NUL-terminated copy of the request body */
    const char *query; /* borrowed */
};

/* Value of key from the form body, else the query string; caller frees. */
static char *form_get(const struct form *f, const char *key)
{
    char *v = hs_str_form_get(f->body, key, NULL);
    if (v == NULL && f->query != NULL)
        v = hs_str_form_get(f->query, key, NULL);
    return v;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes base64 s into a new NUL-terminated string; NULL on bad input or ENOMEM. */
static char *b64_decode(const char *s)
{
    size_t n = strlen(s);
    if (n > MAX_FORM)
        return NULL;
    char *out = hs_malloc(n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '=')
            break;
        int v = b64val(c);
        if (v < 0) {
            hs_free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    if (strlen(out) != o) { /* embedded NUL */
        hs_free(out);
        return NULL;
    }
    return out;
}

/* Client credentials from HTTP Basic or the form. Both outputs NULL when absent/invalid. */
static int client_auth(const struct hs_http_request *req, const struct form *f, char **out_id,
                       char **out_secret)
{
    *out_id = NULL;
    *out_secret = NULL;
    const char *auth = hs_http_headers_get(&req->headers, "Authorization");
    bool basic = false;
    if (auth != NULL && strlen(auth) > 6) {
        char scheme[7];
        memcpy(scheme, auth, 6);
        scheme[6] = '\0';
        basic = hs_str_ieq(scheme, "basic ");
    }
    if (auth != NULL && basic) {
        const char *p = auth + 6;
        while (*p == ' ')
            p++;
        char *dec = b64_decode(p);
        if (dec == NULL)
            return HS_OK;
        char *colon = strchr(dec, ':');
        if (colon != NULL) {
            *out_id = hs_strndup(dec, (size_t)(colon - dec));
            *out_secret = hs_strdup(colon + 1);
            if (*out_id == NULL || *out_secret == NULL) {
                HS_FREE(*out_id);
                HS_FREE(*out_secret);
                hs_free(dec);
                return HS_ENOMEM;
            }
        }
        hs_free(dec);
        return HS_OK;
    }
    *out_id = form_get(f, "client_id");
    *out_secret = form_get(f, "client_secret");
    return HS_OK;
}

/* ---- answers ---- */

static const char *hubspot_status(const char *error, const char *about)
{
    if (strcmp(error, "invalid_client") == 0)
        return "BAD_CLIENT_ID";
    if (strcmp(error, "unsupported_grant_type") == 0)
        return "BAD_GRANT_TYPE";
    if (strcmp(error, "invalid_grant") == 0)
        return hs_str_eq(about, "refresh") ? "BAD_REFRESH_TOKEN" : "BAD_AUTH_CODE";
    return "BAD_REQUEST";
}

static int token_error(struct hs_sbx *sbx, const struct hs_sbx_oauth_profile *profile,
                       struct hs_http_response *resp, int status, const char *error,
                       const char *about, const char *desc)
{
    json_t *body = json_pack("{s:s, s:s}", "error", error, "error_description", desc);
    if (body != NULL && profile->hubspot_extras) {
        struct hs_rng *r = &sbx->oauth.rng;
        uint64_t a = hs_rng_next(r);
        uint64_t b = hs_rng_next(r);
        char uuid[40];
        snprintf(uuid, sizeof uuid, "%08" PRIx32 "-%04x-4%03x-8%03x-%012" PRIx64,
                 (uint32_t)(a >> 32), (unsigned)((a >> 16) & 0xffff), (unsigned)(a & 0xfff),
                 (unsigned)(b >> 52), (uint64_t)(b & 0xffffffffffffull));
        json_t *extra =
            json_pack("{s:s, s:s, s:s, s:s}", "status", hubspot_status(error, about), "message",
                      desc, "correlationId", uuid, "category", "VALIDATION_ERROR");
        if (extra == NULL || json_object_update(body, extra) != 0) {
            json_decref(body);
            body = NULL;
        }
        json_decref(extra);
    }
    int rc = hs_http_response_json_take(resp, status, body);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&resp->headers, "Cache-Control", "no-store");
    if (rc == HS_OK && status == 401)
        rc = hs_http_headers_set(&resp->headers, "WWW-Authenticate", "Basic realm=\"sandbox\"");
    return rc;
}

static int redirect(struct hs_http_response *resp, const char *uri, const char *params)
{
    char *loc = hs_asprintf("%s%s%s", uri, strchr(uri, '?') ? "&" : "?", params);
    if (loc == NULL)
        return HS_ENOMEM;
    int rc = hs_http_response_text(resp, 302, "text/plain; charset=utf-8", "Redirecting\n");
    if (rc == HS_OK)
        rc = hs_http_headers_set(&resp->headers, "Location", loc);
    hs_free(loc);
    return rc;
}

/* Appends "&key=<encoded value>" (or "key=..." when b is empty). */
static int add_param(struct hs_buf *b, const char *key, const char *value)
{
    if (value == NULL)
        return HS_OK;
    char *enc = hs_str_url_encode(value);
    if (enc == NULL)
        return HS_ENOMEM;
    int rc = hs_buf_printf(b, "%s%s=%s", b->len ? "&" : "", key, enc);
    hs_free(enc);
    return rc;
}

int hs_sbx_oauth_authorize_param(struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod,
                                 const char *tenant, const char *tenant_param,
                                 const struct hs_http_request *req, struct hs_http_response *resp)
{
    struct hs_sbx_oauth *o = &sbx->oauth;
    char *client_id = hs_http_request_query(req, "client_id");
    char *redirect_uri = hs_http_request_query(req, "redirect_uri");
    char *state = hs_http_request_query(req, "state");
    char *response_type = hs_http_request_query(req, "response_type");
    char *deny = hs_http_request_query(req, "deny");
    struct oauth_code *code = NULL;
    char *code_str = NULL;
    struct hs_buf params;
    hs_buf_init(&params);
    int rc = HS_OK;

    if (client_id == NULL || client_id[0] == '\0') {
        rc = hs_http_response_json_take(resp, 400,
                                        json_pack("{s:s, s:s}", "error", "invalid_request",
                                                  "error_description", "missing client_id"));
        goto done;
    }
    if (redirect_uri == NULL || redirect_uri[0] == '\0') {
        rc = hs_http_response_json_take(resp, 400,
                                        json_pack("{s:s, s:s}", "error", "invalid_request",
                                                  "error_description", "missing redirect_uri"));
        goto done;
    }
    if (response_type != NULL && strcmp(response_type, "code") != 0) {
        rc = add_param(&params, "error", "unsupported_response_type");
        if (rc == HS_OK)
            rc = add_param(&params, "state", state);
        if (rc == HS_OK)
            rc = redirect(resp, redirect_uri, params.data);
        goto done;
    }
    if (o->deny || hs_str_eq(deny, "1") || hs_str_eq(deny, "true")) {
        rc = add_param(&params, "error", "access_denied");
        if (rc == HS_OK)
            rc = add_param(&params, "error_description", "the user denied access");
        if (rc == HS_OK)
            rc = add_param(&params, "state", state);
        if (rc == HS_OK)
            rc = redirect(resp, redirect_uri, params.data);
        goto done;
    }
    rc = HS_ENOMEM;
    code = hs_calloc(1, sizeof *code);
    code_str = new_token(o, "code-");
    if (code == NULL || code_str == NULL)
        goto done;
    code->provider = hs_strdup(mod->name);
    code->tenant = tenant ? hs_strdup(tenant) : NULL;
    code->client_id = client_id;
    client_id = NULL;
    code->redirect_uri = hs_strdup(redirect_uri);
    code->expires_ms = hs_sbx_now_ms(sbx) + CODE_TTL_MS;
    if (code->provider == NULL || (tenant && code->tenant == NULL) || code->redirect_uri == NULL)
        goto done;
    if (hs_sbx_map_put(&o->codes, code_str, code) != HS_OK)
        goto done;
    code = NULL;
    rc = add_param(&params, "code", code_str);
    if (rc == HS_OK)
        rc = add_param(&params, "state", state);
    if (rc == HS_OK && tenant_param != NULL && tenant != NULL)
        rc = add_param(&params, tenant_param, tenant);
    if (rc == HS_OK)
        rc = redirect(resp, redirect_uri, params.data);
done:
    code_free(code);
    hs_free(code_str);
    hs_buf_release(&params);
    hs_free(client_id);
    hs_free(redirect_uri);
    hs_free(state);
    hs_free(response_type);
    hs_free(deny);
    return rc;
}

int hs_sbx_oauth_authorize(struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod,
                           const char *tenant, const struct hs_http_request *req,
                           struct hs_http_response *resp)
{
    return hs_sbx_oauth_authorize_param(sbx, mod, tenant, NULL, req, resp);
}

static bool drop_expired_access(void *ud, const char *key, void *val)
{
    (void)key;
    const int64_t *now = ud;
    const struct oauth_access *a = val;
    return a->expires_ms <= *now || a->grant->revoked;
}

static int grant_add(struct hs_sbx_oauth *o, struct hs_sbx_grant *g)
{
    if (o->n_grants == o->cap_grants) {
        size_t cap = o->cap_grants ? o->cap_grants * 2 : 16;
        struct hs_sbx_grant **v = hs_reallocarray(o->grants, cap, sizeof(struct hs_sbx_grant *));
        if (v == NULL)
            return HS_ENOMEM;
        o->grants = v;
        o->cap_grants = cap;
    }
    o->grants[o->n_grants++] = g;
    return HS_OK;
}

/* Issues an access token for g and writes the token response. */
static int issue(struct hs_sbx *sbx, const struct hs_sbx_oauth_profile *profile,
                 struct hs_sbx_grant *g, struct hs_http_response *resp)
{
    struct hs_sbx_oauth *o = &sbx->oauth;
    int64_t now = hs_sbx_now_ms(sbx);
    if (o->access.n >= o->access_sweep_at) {
        hs_sbx_map_each(&o->access, drop_expired_access, &now);
        o->access_sweep_at = o->access.n * 2 > 1024 ? o->access.n * 2 : 1024;
    }
    char *tok = new_token(o, "at-");
    struct oauth_access *a = hs_calloc(1, sizeof *a);
    if (tok == NULL || a == NULL) {
        hs_free(tok);
        hs_free(a);
        return HS_ENOMEM;
    }
    a->grant = g;
    a->expires_ms = now + profile->access_ttl_s * 1000;
    if (hs_sbx_map_put(&o->access, tok, a) != HS_OK) {
        hs_free(tok);
        hs_free(a);
        return HS_ENOMEM;
    }
    json_t *body =
        json_pack("{s:s, s:s, s:I, s:s}", "access_token", tok, "token_type", "bearer", "expires_in",
                  (json_int_t)profile->access_ttl_s, "refresh_token", g->refresh);
    hs_free(tok);
    if (body != NULL && profile->qbo_extras) {
        int64_t left =
            g->refresh_expires_ms ? (g->refresh_expires_ms - now) / 1000 : QBO_REFRESH_TTL_S;
        if (json_object_set_new(body, "x_refresh_token_expires_in", json_integer(left)) != 0)
            HS_FREE(body);
    }
    if (body != NULL && profile->hubspot_extras) {
        int64_t hub = 0;
        bool ok = json_object_set_new(body, "token_use", json_string("access_token")) == 0;
        if (ok && g->tenant != NULL && hs_str_to_i64(g->tenant, strlen(g->tenant), &hub) == HS_OK)
            ok = json_object_set_new(body, "hub_id", json_integer(hub)) == 0;
        if (!ok) {
            json_decref(body);
            body = NULL;
        }
    }
    int rc = hs_http_response_json_take(resp, 200, body);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&resp->headers, "Cache-Control", "no-store");
    if (rc == HS_OK)
        rc = hs_http_headers_set(&resp->headers, "Pragma", "no-cache");
    return rc;
}

static int grant_code(struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod,
                      const struct hs_sbx_oauth_profile *profile, const struct form *f,
                      const char *client_id, struct hs_http_response *resp)
{
    struct hs_sbx_oauth *o = &sbx->oauth;
    char *code_str = form_get(f, "code");
    char *redirect_uri = form_get(f, "redirect_uri");
    struct oauth_code *code = code_str ? hs_sbx_map_take(&o->codes, code_str) : NULL;
    struct hs_sbx_grant *g = NULL;
    int rc;
    if (code_str == NULL) {
        rc = token_error(sbx, profile, resp, 400, "invalid_request", "code", "missing code");
        goto done;
    }
    if (code == NULL || code->expires_ms <= hs_sbx_now_ms(sbx) ||
        strcmp(code->provider, mod->name) != 0) {
        rc = token_error(sbx, profile, resp, 400, "invalid_grant", "code",
                         "authorization code is invalid, expired or already used");
        goto done;
    }
    if (strcmp(code->client_id, client_id) != 0) {
        rc = token_error(sbx, profile, resp, 400, "invalid_grant", "code",
                         "authorization code was issued to another client");
        goto done;
    }
    if (!hs_str_eq(code->redirect_uri, redirect_uri)) {
        rc = token_error(sbx, profile, resp, 400, "invalid_grant", "code",
                         "redirect_uri does not match the authorization request");
        goto done;
    }
    rc = HS_ENOMEM;
    g = hs_calloc(1, sizeof *g);
    if (g == NULL)
        goto done;
    g->provider = hs_strdup(mod->name);
    g->tenant = code->tenant ? hs_strdup(code->tenant) : NULL;
    g->client_id = hs_strdup(client_id);
    g->refresh = new_token(o, "rt-");
    g->refresh_expires_ms =
        profile->refresh_ttl_s ? hs_sbx_now_ms(sbx) + profile->refresh_ttl_s * 1000 : 0;
    if (g->provider == NULL || (code->tenant && g->tenant == NULL) || g->client_id == NULL ||
        g->refresh == NULL)
        goto done;
    if (grant_add(o, g) != HS_OK)
        goto done;
    struct hs_sbx_grant *added = g;
    g = NULL;
    if (hs_sbx_map_put(&o->refresh, added->refresh, added) != HS_OK) {
        added->revoked = true;
        goto done;
    }
    rc = issue(sbx, profile, added, resp);
done:
    grant_free(g);
    code_free(code);
    hs_free(code_str);
    hs_free(redirect_uri);
    return rc;
}

static int grant_refresh(struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod,
                         const struct hs_sbx_oauth_profile *profile, const struct form *f,
                         const char *client_id, struct hs_http_response *resp)
{
    struct hs_sbx_oauth *o = &sbx->oauth;
    char *rt = form_get(f, "refresh_token");
    int rc;
    if (rt == NULL) {
        rc = token_error(sbx, profile, resp, 400, "invalid_request", "refresh",
                         "missing refresh_token");
        goto done;
    }
    struct hs_sbx_grant *g = hs_sbx_map_get(&o->refresh, rt);
    int64_t now = hs_sbx_now_ms(sbx);
    if (g == NULL || g->revoked || strcmp(g->provider, mod->name) != 0) {
        rc = token_error(sbx, profile, resp, 400, "invalid_grant", "refresh",
                         "refresh token is invalid, revoked or was already rotated");
        goto done;
    }
    if (g->refresh_expires_ms != 0 && g->refresh_expires_ms <= now) {
        rc = token_error(sbx, profile, resp, 400, "invalid_grant", "refresh",
                         "refresh token expired");
        goto done;
    }
    if (strcmp(g->client_id, client_id) != 0) {
        rc = token_error(sbx, profile, resp, 400, "invalid_grant", "refresh",
                         "refresh token was issued to another client");
        goto done;
    }
    if (profile->rotate_refresh) {
        char *next = new_token(o, "rt-");
        if (next == NULL) {
            rc = HS_ENOMEM;
            goto done;
        }
        if (hs_sbx_map_put(&o->refresh, next, g) != HS_OK) {
            hs_free(next);
            rc = HS_ENOMEM;
            goto done;
        }
        hs_sbx_map_take(&o->refresh, g->refresh);
        hs_free(g->refresh);
        g->refresh = next;
        if (profile->refresh_ttl_s)
            g->refresh_expires_ms = now + profile->refresh_ttl_s * 1000;
    }
    rc = issue(sbx, profile, g, resp);
done:
    hs_free(rt);
    return rc;
}

int hs_sbx_oauth_token(struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod,
                       const struct hs_sbx_oauth_profile *profile,
                       const struct hs_http_request *req, struct hs_http_response *resp)
{
    if (req->body.len > MAX_FORM)
        return token_error(sbx, profile, resp, 400, "invalid_request", NULL,
                           "request body is larger than 64 KiB");
    struct form f = {NULL, req->query};
    f.body = hs_strndup(req->body.len ? req->body.data : "", req->body.len);
    if (f.body == NULL)
        return HS_ENOMEM;
    char *grant_type = form_get(&f, "grant_type");
    char *id = NULL;
    char *secret = NULL;
    int rc = client_auth(req, &f, &id, &secret);
    if (rc != HS_OK)
        goto done;
    if (id == NULL || id[0] == '\0' || secret == NULL || secret[0] == '\0') {
        rc = token_error(sbx, profile, resp, 401, "invalid_client", NULL,
                         "client authentication failed: send client_id and client_secret "
                         "(HTTP Basic or form)");
    } else if (grant_type == NULL) {
        rc = token_error(sbx, profile, resp, 400, "invalid_request", NULL, "missing grant_type");
    } else if (strcmp(grant_type, "authorization_code") == 0) {
        rc = grant_code(sbx, mod, profile, &f, id, resp);
    } else if (strcmp(grant_type, "refresh_token") == 0) {
        rc = grant_refresh(sbx, mod, profile, &f, id, resp);
    } else {
        rc = token_error(sbx, profile, resp, 400, "unsupported_grant_type", NULL,
                         "grant_type must be authorization_code or refresh_token");
    }
done:
    hs_free(f.body);
    hs_free(grant_type);
    hs_free(id);
    hs_free(secret);
    return rc;
}

/* ---- bearer checks and revocation ---- */

bool hs_sbx_auth_ok(struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod,
                    const char *authorization_header, const char *tenant)
{
    const char *h = authorization_header;
    if (h == NULL || strlen(h) < 7)
        return false;
    char scheme[7];
    memcpy(scheme, h, 6);
    scheme[6] = '\0';
    if (!hs_str_ieq(scheme, "bearer") || h[6] != ' ')
        return false;
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    size_t n = strlen(tok);
    while (n > 0 && tok[n - 1] == ' ')
        n--;
    if (n == 0 || n > 4096)
        return false;
    char buf[4097];
    memcpy(buf, tok, n);
    buf[n] = '\0';
    if (sbx->static_token != NULL && strcmp(buf, sbx->static_token) == 0)
        return true;
    const struct oauth_access *a = hs_sbx_map_get(&sbx->oauth.access, buf);
    if (a == NULL || a->grant->revoked || a->expires_ms <= hs_sbx_now_ms(sbx))
        return false;
    if (strcmp(a->grant->provider, mod->name) != 0)
        return false;
    if (tenant != NULL && a->grant->tenant != NULL && strcmp(tenant, a->grant->tenant) != 0)
        return false;
    return true;
}

static bool drop_revoked(void *ud, const char *key, void *val)
{
    (void)ud;
    (void)key;
    const struct oauth_access *a = val;
    return a->grant->revoked;
}

size_t hs_sbx_oauth_revoke(struct hs_sbx *sbx, const char *provider, const char *tenant)
{
    struct hs_sbx_oauth *o = &sbx->oauth;
    size_t n = 0;
    for (size_t i = 0; i < o->n_grants; i++) {
        struct hs_sbx_grant *g = o->grants[i];
        if (g->revoked || (provider != NULL && strcmp(provider, g->provider) != 0) ||
            (tenant != NULL && !hs_str_eq(tenant, g->tenant)))
            continue;
        g->revoked = true;
        hs_sbx_map_take(&o->refresh, g->refresh);
        n++;
    }
    if (n > 0)
        hs_sbx_map_each(&o->access, drop_revoked, NULL);
    return n;
}

/* ---- persistence ---- */

struct save_ctx {
    struct hs_sbx_oauth *o;
    json_t *arr;
    bool ok;
};

static bool save_access(void *ud, const char *key, void *val)
{
    struct save_ctx *c = ud;
    const struct oauth_access *a = val;
    size_t idx = 0;
    while (idx < c->o->n_grants && c->o->grants[idx] != a->grant)
        idx++;
    if (c->ok && !a->grant->revoked)
        c->ok = json_array_append_new(c->arr, json_pack("{s:s, s:I, s:I}", "token", key, "grant",
                                                        (json_int_t)idx, "expires_ms",
                                                        (json_int_t)a->expires_ms)) == 0;
    return false;
}

json_t *hs_sbx_oauth_save(struct hs_sbx *sbx)
{
    struct hs_sbx_oauth *o = &sbx->oauth;
    json_t *grants = json_array();
    json_t *access = json_array();
    bool ok = grants && access;
    for (size_t i = 0; ok && i < o->n_grants; i++) {
        const struct hs_sbx_grant *g = o->grants[i];
        ok = json_array_append_new(
                 grants, json_pack("{s:s, s:s?, s:s, s:s, s:I, s:b}", "provider", g->provider,
                                   "tenant", g->tenant, "client_id", g->client_id, "refresh",
                                   g->refresh, "refresh_expires_ms",
                                   (json_int_t)g->refresh_expires_ms, "revoked", g->revoked)) == 0;
    }
    struct save_ctx c = {o, access, ok};
    if (ok)
        hs_sbx_map_each(&o->access, save_access, &c);
    if (!c.ok) {
        json_decref(grants);
        json_decref(access);
        return NULL;
    }
    return json_pack("{s:o, s:o, s:b}", "grants", grants, "access", access, "deny", o->deny);
}

int hs_sbx_oauth_load(struct hs_sbx *sbx, const json_t *saved, struct hs_error *err)
{
    struct hs_sbx_oauth *o = &sbx->oauth;
    hs_sbx_oauth_clear(o);
    o->deny = json_is_true(json_object_get(saved, "deny"));
    const json_t *grants = json_object_get(saved, "grants");
    size_t i;
    const json_t *v;
    json_array_foreach(grants, i, v)
    {
        const char *provider = hs_json_str(v, "provider");
        const char *client = hs_json_str(v, "client_id");
        const char *refresh = hs_json_str(v, "refresh");
        if (provider == NULL || client == NULL || refresh == NULL)
            return hs_error_set(err, HS_EPROTO, "cannot load oauth grant %zu: missing fields", i);
        struct hs_sbx_grant *g = hs_calloc(1, sizeof *g);
        if (g == NULL)
            return hs_error_set(err, HS_ENOMEM, "cannot load oauth grants: out of memory");
        g->provider = hs_strdup(provider);
        g->tenant = hs_json_str(v, "tenant") ? hs_strdup(hs_json_str(v, "tenant")) : NULL;
        g->client_id = hs_strdup(client);
        g->refresh = hs_strdup(refresh);
        g->refresh_expires_ms = json_integer_value(json_object_get(v, "refresh_expires_ms"));
        g->revoked = json_is_true(json_object_get(v, "revoked"));
        if (g->provider == NULL || g->client_id == NULL || g->refresh == NULL ||
            (hs_json_str(v, "tenant") && g->tenant == NULL) || grant_add(o, g) != HS_OK) {
            grant_free(g);
            return hs_error_set(err, HS_ENOMEM, "cannot load oauth grants: out of memory");
        }
        if (!g->revoked && hs_sbx_map_put(&o->refresh, g->refresh, g) != HS_OK)
            return hs_error_set(err, HS_ENOMEM, "cannot load oauth grants: out of memory");
    }
    const json_t *access = json_object_get(saved, "access");
    json_array_foreach(access, i, v)
    {
        const char *tok = hs_json_str(v, "token");
        json_int_t gi = json_integer_value(json_object_get(v, "grant"));
        if (tok == NULL || gi < 0 || (size_t)gi >= o->n_grants)
            return hs_error_set(err, HS_EPROTO, "cannot load oauth token %zu: bad fields", i);
        struct oauth_access *a = hs_calloc(1, sizeof *a);
        if (a == NULL)
            return hs_error_set(err, HS_ENOMEM, "cannot load oauth tokens: out of memory");
        a->grant = o->grants[gi];
        a->expires_ms = json_integer_value(json_object_get(v, "expires_ms"));
        if (hs_sbx_map_put(&o->access, tok, a) != HS_OK) {
            hs_free(a);
            return hs_error_set(err, HS_ENOMEM, "cannot load oauth tokens: out of memory");
        }
    }
    return HS_OK;
}
