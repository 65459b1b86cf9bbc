/*
 * sandbox/hubspot.c - the HubSpot module of hoopsync-sandbox (hs_sbx_hubspot_ops).
 *
 * Design:     routes live under /hubspot/ and mirror api.hubapi.com paths. Every CRM route
 *             goes through dispatch(), which does what HubSpot's edge does before the API
 *             runs: the bearer-token check (401 INVALID_AUTHENTICATION in HubSpot's error
 *             shape) and the rate limits of a public OAuth app (100 requests per rolling 10 s
 *             per portal, search 5 per second, plus the daily counter), with the
 *             X-HubSpot-RateLimit-* headers on every non-search answer and HubSpot's 429 body
 *             (errorType RATE_LIMIT, policyName TEN_SECONDLY_ROLLING / SECONDLY). OAuth
 *             (authorize, v1 and v3 token, v1 access-token introspection) is the core's
 *             (sbx.h) with HubSpot's profile: 30-minute access tokens and a long-lived,
 *             non-rotating refresh token. Webhooks follow HubSpot's v3 event shape and are
 *             signed with X-HubSpot-Signature-v3 = base64(HMAC-SHA256(client secret,
 *             method + uri + body + timestamp)) plus the v1 X-HubSpot-Signature
 *             (hex SHA-256 of secret + body) that HubSpot still sends beside it. The world
 *             (sbx.h) seeds one portal: companies, contacts (primary company), products,
 *             deals in the default pipeline with their company and contact, and line items.
 *             Data structures: hubspot.h; endpoints: hubspot_objects.c, hubspot_meta.c.
 * Invariants: one portal, id HS_HUB_PORTAL_ID; record ids come from one counter shared by all
 *             object types, so an id never names two records.
 * Threads:    every handler and op runs under the sandbox state lock (webhook_request too:
 *             the webhook sender calls it with the lock held).
 * Ownership:  the module state owns its stores and the route table registered with the core.
 * Not here:   token and grant bookkeeping (sandbox/oauth.c), webhook delivery
 *             (sandbox/webhook.c), the world generator (sandbox/seed.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "sandbox/hubspot.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

enum { R_AUTH = 1, R_SEARCH = 2 };

struct hs_hub_route {
    struct hs_hubspot *st;
    hs_hub_fn fn;
    unsigned flags;
};

/* ---- helpers shared with the endpoint files ---- */

int64_t hs_hub_now(struct hs_hubspot *st)
{
    return hs_sbx_now_ms(st->sbx);
}

int64_t hs_hub_new_id(struct hs_hubspot *st)
{
    return st->next_id++;
}

void hs_hub_uuid(struct hs_hubspot *st, char out[37])
{
    uint64_t a = hs_rng_next(&st->rng);
    uint64_t b = hs_rng_next(&st->rng);
    snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)((a >> 16) & 0xffff), (unsigned)(a & 0xfff),
             (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
             (unsigned long long)(b & 0xffffffffffffull));
}

int hs_hub_error(struct hs_hubspot *st, struct hs_http_response *resp, int status,
                 const char *category, json_t *extra, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char uuid[37];
    hs_hub_uuid(st, uuid);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "status", "error", "message", msg, "correlationId",
                          uuid, "category", category);
    if (o != NULL && extra != NULL && json_object_update(o, extra) != 0) {
        json_decref(o);
        o = NULL;
    }
    json_decref(extra);
    if (o == NULL)
        return HS_ENOMEM;
    return hs_http_response_json_take(resp, status, o);
}

int hs_hub_fail(struct hs_hubspot *st, struct hs_http_response *resp, int rc)
{
    (void)st;
    (void)resp;
    return rc; /* the core answers 500 */
}

int hs_hub_body(struct hs_hubspot *st, const struct hs_http_request *req,
                struct hs_http_response *resp, json_t **out)
{
    struct hs_error err = {0};
    *out = NULL;
    int rc =
        hs_json_parse((const uint8_t *)req->body.data, req->body.len, "request body", out, &err);
    if (rc == HS_ENOMEM)
        return rc;
    if (rc != HS_OK) {
        hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL, "Invalid input JSON: %s", err.msg);
        return HS_EINVAL;
    }
    return HS_OK;
}

static int push_items(json_t *out, const char *v, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && v[i] != ',')
            continue;
        if (i > start && json_array_append_new(out, json_stringn(v + start, i - start)) != 0)
            return HS_ENOMEM;
        start = i + 1;
    }
    return HS_OK;
}

json_t *hs_hub_query_list(const struct hs_http_request *req, const char *key)
{
    json_t *out = json_array();
    if (out == NULL || req->query == NULL)
        return out;
    size_t klen = strlen(key);
    const char *p = req->query;
    while (*p != '\0') {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (eq != NULL) {
            char *k = hs_str_url_decode(p, (size_t)(eq - p), true);
            if (k != NULL && strlen(k) == klen && memcmp(k, key, klen) == 0) {
                char *v = hs_str_url_decode(eq + 1, n - (size_t)(eq + 1 - p), true);
                if (v != NULL && push_items(out, v, strlen(v)) != HS_OK) {
                    hs_free(v);
                    hs_free(k);
                    json_decref(out);
                    return NULL;
                }
                hs_free(v);
            }
            hs_free(k);
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return out;
}

json_t *hs_hub_std_error(const char *category, const char *message, json_t *context)
{
    return json_pack("{s:s,s:s,s:s,s:o,s:[],s:{}}", "status", "error", "category", category,
                     "message", message, "context", context ? context : json_object(), "errors",
                     "links");
}

int hs_hub_batch_reply(struct hs_hubspot *st, struct hs_http_response *resp, int ok_status,
                       int64_t started_ms, json_t *results, json_t *errors)
{
    char started[32], done[32];
    hs_hub_iso(started_ms, started);
    hs_hub_iso(hs_hub_now(st), done);
    bool partial = errors != NULL && json_array_size(errors) > 0;
    json_t *o = json_pack("{s:s,s:o,s:s,s:s}", "status", "COMPLETE", "results", results,
                          "startedAt", started, "completedAt", done);
    if (o != NULL && partial &&
        (json_object_set_new(o, "numErrors", json_integer((json_int_t)json_array_size(errors))) !=
             0 ||
         json_object_set(o, "errors", errors) != 0)) {
        json_decref(o);
        o = NULL;
    }
    json_decref(errors);
    if (o == NULL)
        return HS_ENOMEM;
    return hs_http_response_json_take(resp, partial ? 207 : ok_status, o);
}

int hs_hub_batch_reply_text(struct hs_hubspot *st, struct hs_http_response *resp, int ok_status,
                            int64_t started_ms, struct hs_buf *results, json_t *errors)
{
    char started[32], done[32];
    hs_hub_iso(started_ms, started);
    hs_hub_iso(hs_hub_now(st), done);
    bool partial = errors != NULL && json_array_size(errors) > 0;
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = hs_buf_reserve(&b, results->len + 160);
    if (rc == HS_OK)
        rc = hs_buf_puts(&b, "{\"status\":\"COMPLETE\",\"results\":[");
    if (rc == HS_OK)
        rc = hs_buf_append(&b, results->data ? results->data : "", results->len);
    if (rc == HS_OK)
        rc = hs_buf_printf(&b, "],\"startedAt\":\"%s\",\"completedAt\":\"%s\"", started, done);
    if (rc == HS_OK && partial) {
        rc = hs_buf_printf(&b, ",\"numErrors\":%zu,\"errors\":", json_array_size(errors));
        if (rc == HS_OK)
            rc = hs_json_dump(errors, &b);
    }
    if (rc == HS_OK)
        rc = hs_buf_putc(&b, '}');
    json_decref(errors);
    if (rc == HS_OK)
        rc = hs_hub_reply_buf(resp, partial ? 207 : ok_status, &b);
    hs_buf_release(&b);
    return rc;
}

void hs_hub_emit(struct hs_hubspot *st, enum hs_hub_type t, const struct hs_hub_record *r,
                 const char *kind, const char *prop, const char *value)
{
    const char *prefix = hs_hub_types[t].webhook;
    if (prefix == NULL)
        return;
    if (!hs_sbx_listening(st->sbx, &hs_sbx_hubspot_ops)) {
        st->next_event_id++; /* the id is spent as if the event had been sent */
        return;
    }
    char type[64];
    snprintf(type, sizeof type, "%s.%s", prefix, kind);
    int k = hs_str_eq(kind, "creation") ? 1 : hs_str_eq(kind, "deletion") ? 2 : 3;
    /* built member by member: json_pack's format parsing was a fifth of a batch create */
    json_t *ev = json_object();
    if (ev == NULL)
        return; /* out of memory: the event is lost, as a dropped delivery would be */
    int rc = json_object_set_new_nocheck(ev, "eventId", json_integer(st->next_event_id++));
    rc |= json_object_set_new_nocheck(ev, "subscriptionId",
                                      json_integer((json_int_t)2400000 + (json_int_t)t * 10 + k));
    rc |= json_object_set_new_nocheck(ev, "portalId", json_integer(st->portal_id));
    rc |= json_object_set_new_nocheck(ev, "appId", json_integer(HS_HUB_APP_ID));
    rc |= json_object_set_new_nocheck(ev, "occurredAt", json_integer(hs_hub_now(st)));
    rc |= json_object_set_new_nocheck(ev, "subscriptionType", json_string_nocheck(type));
    rc |= json_object_set_new_nocheck(ev, "attemptNumber", json_integer(0));
    rc |= json_object_set_new_nocheck(ev, "objectId", json_integer(r->id));
    rc |= json_object_set_new_nocheck(ev, "changeSource", json_string_nocheck("API"));
    rc |= json_object_set_new_nocheck(ev, "sourceId", json_string_nocheck("sandbox"));
    if (k == 1)
        rc |= json_object_set_new_nocheck(ev, "changeFlag", json_string_nocheck("NEW"));
    else if (k == 2)
        rc |= json_object_set_new_nocheck(ev, "changeFlag", json_string_nocheck("DELETED"));
    else
        rc |= json_object_set_new_nocheck(ev, "propertyName", json_string(prop)) |
              json_object_set_new(ev, "propertyValue", json_string(value ? value : ""));
    if (rc == 0)
        hs_sbx_emit(st->sbx, &hs_sbx_hubspot_ops, ev);
    json_decref(ev);
}

/* ---- auth and rate limits ---- */

static int reply_401(struct hs_hubspot *st, struct hs_http_response *resp)
{
    return hs_hub_error(st, resp, 401, "INVALID_AUTHENTICATION", NULL,
                        "Authentication credentials not found. This API supports OAuth 2.0 "
                        "authentication and you can find more details at "
                        "https://developers.hubspot.com/docs/methods/auth/oauth-overview");
}

static int reply_429(struct hs_hubspot *st, struct hs_http_response *resp, bool search)
{
    char group[64];
    snprintf(group, sizeof group, "publicapi:oauth:%d:%lld", HS_HUB_APP_ID,
             (long long)st->portal_id);
    json_t *extra = json_pack("{s:s,s:s,s:s}", "errorType", "RATE_LIMIT", "policyName",
                              search ? "SECONDLY" : "TEN_SECONDLY_ROLLING", "groupName", group);
    return hs_hub_error(st, resp, 429, "RATE_LIMITS", extra, "You have reached your %s limit.",
                        search ? "secondly" : "ten_secondly_rolling");
}

static int set_num(struct hs_http_response *resp, const char *name, int64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)(v < 0 ? 0 : v));
    return hs_http_headers_set(&resp->headers, name, b);
}

static int rate_headers(struct hs_http_response *resp, int64_t remaining, int64_t daily_left)
{
    int rc = set_num(resp, "X-HubSpot-RateLimit-Max", HS_HUB_BURST_LIMIT);
    if (rc == HS_OK)
        rc = set_num(resp, "X-HubSpot-RateLimit-Remaining", remaining);
    if (rc == HS_OK)
        rc = set_num(resp, "X-HubSpot-RateLimit-Interval-Milliseconds", HS_HUB_BURST_MS);
    if (rc == HS_OK)
        rc = set_num(resp, "X-HubSpot-RateLimit-Daily", HS_HUB_DAILY_LIMIT);
    if (rc == HS_OK)
        rc = set_num(resp, "X-HubSpot-RateLimit-Daily-Remaining", daily_left);
    return rc;
}

static int dispatch(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                    struct hs_http_response *resp)
{
    struct hs_hub_route *r = ud;
    struct hs_hubspot *st = r->st;
    if (r->flags & R_AUTH) {
        const char *auth = hs_http_headers_get(&req->headers, "Authorization");
        if (!hs_sbx_auth_ok(st->sbx, &hs_sbx_hubspot_ops, auth, st->portal_str))
            return reply_401(st, resp);
    }
    bool limited = (r->flags & R_AUTH) && hs_sbx_rate_limits_on(st->sbx);
    int64_t remaining = 0, daily = 0, retry = 0;
    if (limited) {
        char key[64];
        if (r->flags & R_SEARCH) {
            snprintf(key, sizeof key, "hubspot:%lld:search", (long long)st->portal_id);
            if (!hs_sbx_rate_take(st->sbx, key, HS_HUB_SEARCH_LIMIT, 1000, &remaining, &retry))
                return reply_429(st, resp, true);
        } else {
            snprintf(key, sizeof key, "hubspot:%lld:burst", (long long)st->portal_id);
            if (!hs_sbx_rate_take(st->sbx, key, HS_HUB_BURST_LIMIT, HS_HUB_BURST_MS, &remaining,
                                  &retry)) {
                int rc = reply_429(st, resp, false);
                return rc == HS_OK ? rate_headers(resp, 0, 0) : rc;
            }
            snprintf(key, sizeof key, "hubspot:%lld:daily", (long long)st->portal_id);
            int64_t dretry = 0;
            if (!hs_sbx_rate_take(st->sbx, key, HS_HUB_DAILY_LIMIT, 86400000, &daily, &dretry)) {
                json_t *extra =
                    json_pack("{s:s,s:s}", "errorType", "RATE_LIMIT", "policyName", "DAILY");
                int rc = hs_hub_error(st, resp, 429, "RATE_LIMITS", extra,
                                      "You have reached your daily limit.");
                return rc == HS_OK ? rate_headers(resp, remaining, 0) : rc;
            }
        }
    }
    int rc = r->fn(st, req, m, resp);
    if (rc == HS_OK && limited && !(r->flags & R_SEARCH))
        rc = rate_headers(resp, remaining, daily);
    return rc;
}

/* ---- OAuth ---- */

static const struct hs_sbx_oauth_profile hub_profile = {
    .access_ttl_s = HS_HUB_ACCESS_TTL_S,
    .refresh_ttl_s = 0,
    .rotate_refresh = false,
    .qbo_extras = false,
    .hubspot_extras = true,
};

static int oauth_authorize(struct hs_hubspot *st, const struct hs_http_request *req,
                           const struct hs_route_match *m, struct hs_http_response *resp)
{
    (void)m;
    return hs_sbx_oauth_authorize(st->sbx, &hs_sbx_hubspot_ops, st->portal_str, req, resp);
}

static bool drop_expired(struct hs_hubspot *st)
{
    int64_t now = hs_hub_now(st);
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(st->tokens, tmp, key, v)
    {
        if (json_integer_value(v) <= now)
            json_object_del(st->tokens, key);
    }
    return true;
}

static int oauth_token(struct hs_hubspot *st, const struct hs_http_request *req,
                       const struct hs_route_match *m, struct hs_http_response *resp)
{
    (void)m;
    int rc = hs_sbx_oauth_token(st->sbx, &hs_sbx_hubspot_ops, &hub_profile, req, resp);
    if (rc != HS_OK || resp->status != 200)
        return rc;
    /* remember the token's expiry for introspection; add what HubSpot adds */
    json_t *body = NULL;
    if (hs_json_parse((const uint8_t *)resp->body.data, resp->body.len, "token", &body, NULL) !=
        HS_OK)
        return HS_OK;
    const char *tok = hs_json_str(body, "access_token");
    if (tok != NULL) {
        if (json_object_size(st->tokens) > 4096)
            drop_expired(st);
        json_t *exp = json_integer(hs_hub_now(st) + HS_HUB_ACCESS_TTL_S * 1000);
        if (exp == NULL || json_object_set_new(st->tokens, tok, exp) != 0) {
            json_decref(body);
            return HS_ENOMEM;
        }
    }
    if (json_object_get(body, "hub_id") == NULL)
        json_object_set_new(body, "hub_id", json_integer(st->portal_id));
    json_object_set_new(body, "user_id", json_integer(HS_HUB_USER_ID));
    json_object_set_new(
        body, "scopes",
        json_pack("[s,s,s]", "oauth", "crm.objects.companies.read", "crm.objects.companies.write"));
    hs_buf_reset(&resp->body);
    rc = hs_json_dump(body, &resp->body);
    json_decref(body);
    return rc;
}

static int oauth_introspect(struct hs_hubspot *st, const struct hs_http_request *req,
                            const struct hs_route_match *m, struct hs_http_response *resp)
{
    (void)req;
    const char *tok = hs_route_param(m, "token");
    char *hdr = hs_asprintf("Bearer %s", tok ? tok : "");
    if (hdr == NULL)
        return HS_ENOMEM;
    bool ok = hs_sbx_auth_ok(st->sbx, &hs_sbx_hubspot_ops, hdr, st->portal_str);
    hs_free(hdr);
    if (!ok)
        return hs_hub_error(st, resp, 404, "OBJECT_NOT_FOUND", NULL,
                            "The access token was not found or has expired");
    json_t *exp = json_object_get(st->tokens, tok);
    int64_t left = exp ? (json_integer_value(exp) - hs_hub_now(st)) / 1000 : HS_HUB_ACCESS_TTL_S;
    char domain[64];
    snprintf(domain, sizeof domain, "sandbox-%lld.hubspot.com", (long long)st->portal_id);
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:[s,s,s,s,s,s,s,s,s,s,s],s:I,s:I,s:I,s:I,s:s,s:b}", "token", tok, "user",
        "sandbox@hoopsync.invalid", "hub_domain", domain, "scopes", "oauth",
        "crm.objects.companies.read", "crm.objects.companies.write", "crm.objects.contacts.read",
        "crm.objects.contacts.write", "crm.objects.deals.read", "crm.objects.deals.write",
        "crm.objects.line_items.read", "crm.objects.line_items.write", "e-commerce",
        "crm.schemas.companies.write", "hub_id", (json_int_t)st->portal_id, "app_id",
        (json_int_t)HS_HUB_APP_ID, "expires_in", (json_int_t)(left > 0 ? left : 0), "user_id",
        (json_int_t)HS_HUB_USER_ID, "token_type", "access", "is_private_distribution", 0);
    return o ? hs_http_response_json_take(resp, 200, o) : HS_ENOMEM;
}

/* ---- routes ---- */

struct route_def {
    const char *method;
    const char *pattern;
    hs_hub_fn fn;
    unsigned flags;
};

static const struct route_def route_defs[] = {
    {"GET", "/oauth/authorize", oauth_authorize, 0},
    {"POST", "/oauth/v1/token", oauth_token, 0},
    {"POST", "/oauth/v3/token", oauth_token, 0},
    {"GET", "/oauth/v1/access-tokens/{token}", oauth_introspect, 0},
    {"POST", "/crm/v3/objects/{type}/search", hs_hub_obj_search, R_AUTH | R_SEARCH},
    {"POST", "/crm/v3/objects/{type}/batch/{op}", hs_hub_obj_batch, R_AUTH},
    {"GET", "/crm/v3/objects/{type}", hs_hub_obj_list, R_AUTH},
    {"POST", "/crm/v3/objects/{type}", hs_hub_obj_create, R_AUTH},
    {"GET", "/crm/v3/objects/{type}/{id}", hs_hub_obj_read, R_AUTH},
    {"PATCH", "/crm/v3/objects/{type}/{id}", hs_hub_obj_update, R_AUTH},
    {"DELETE", "/crm/v3/objects/{type}/{id}", hs_hub_obj_archive, R_AUTH},
    {"GET", "/crm/v3/properties/{type}/groups", hs_hub_groups_list, R_AUTH},
    {"POST", "/crm/v3/properties/{type}/groups", hs_hub_groups_create, R_AUTH},
    {"GET", "/crm/v3/properties/{type}/groups/{group}", hs_hub_groups_get, R_AUTH},
    {"GET", "/crm/v3/properties/{type}", hs_hub_props_list, R_AUTH},
    {"POST", "/crm/v3/properties/{type}", hs_hub_props_create, R_AUTH},
    {"GET", "/crm/v3/properties/{type}/{name}", hs_hub_props_get, R_AUTH},
    {"GET", "/crm/v3/pipelines/{type}", hs_hub_pipelines, R_AUTH},
    {"GET", "/crm/v3/pipelines/{type}/{pid}", hs_hub_pipelines, R_AUTH},
    {"GET", "/crm/v3/pipelines/{type}/{pid}/{what}", hs_hub_pipelines, R_AUTH},
    {"GET", "/crm/v3/pipelines/{type}/{pid}/{what}/{sid}", hs_hub_pipelines, R_AUTH},
    {"PUT", "/crm/v4/objects/{from}/{fromId}/associations/default/{to}/{toId}",
     hs_hub_assoc_put_default, R_AUTH},
    {"PUT", "/crm/v4/objects/{from}/{fromId}/associations/{to}/{toId}", hs_hub_assoc_put, R_AUTH},
    {"DELETE", "/crm/v4/objects/{from}/{fromId}/associations/{to}/{toId}", hs_hub_assoc_delete,
     R_AUTH},
    {"GET", "/crm/v4/objects/{from}/{fromId}/associations/{to}", hs_hub_assoc_list, R_AUTH},
    {"POST", "/crm/v4/associations/{from}/{to}/batch/{op}", hs_hub_assoc_batch, R_AUTH},
    {"POST", "/crm/v4/associations/{from}/{to}/batch/{op}/{op2}", hs_hub_assoc_batch, R_AUTH},
};
#define N_ROUTES (sizeof route_defs / sizeof route_defs[0])

static int hub_routes(void *state, struct hs_sbx *sbx)
{
    struct hs_hubspot *st = state;
    for (size_t i = 0; i < N_ROUTES; i++) {
        st->routes[i] = (struct hs_hub_route){st, route_defs[i].fn, route_defs[i].flags};
        int rc = hs_sbx_route(sbx, &hs_sbx_hubspot_ops, route_defs[i].method, route_defs[i].pattern,
                              dispatch, &st->routes[i]);
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}

/* ---- lifecycle ---- */

static void stores_release(struct hs_hubspot *st)
{
    for (int t = 0; t < HS_HUB_N_TYPES; t++)
        hs_hub_store_release(&st->stores[t]);
}

static int stores_init(struct hs_hubspot *st)
{
    int64_t now = hs_hub_now(st);
    for (int t = 0; t < HS_HUB_N_TYPES; t++) {
        if (hs_hub_store_init(&st->stores[t], (enum hs_hub_type)t, now) != HS_OK) {
            stores_release(st);
            return HS_ENOMEM;
        }
    }
    st->next_id = 1001;
    st->next_event_id = 1;
    return HS_OK;
}

static int hub_create(struct hs_sbx *sbx, void **out_state, struct hs_error *err)
{
    *out_state = NULL;
    if (sodium_init() < 0)
        return hs_error_set(err, HS_ECRYPTO, "cannot start module 'hubspot': libsodium failed");
    struct hs_hubspot *st = hs_calloc(1, sizeof *st);
    if (st == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot start module 'hubspot': out of memory");
    st->sbx = sbx;
    st->portal_id = HS_HUB_PORTAL_ID;
    snprintf(st->portal_str, sizeof st->portal_str, "%lld", (long long)st->portal_id);
    hs_rng_seed(&st->rng, 0x4855425350u);
    st->tokens = json_object();
    st->routes = hs_calloc(N_ROUTES, sizeof *st->routes);
    if (st->tokens == NULL || st->routes == NULL || stores_init(st) != HS_OK) {
        json_decref(st->tokens);
        hs_free(st->routes);
        hs_free(st);
        return hs_error_set(err, HS_ENOMEM, "cannot start module 'hubspot': out of memory");
    }
    *out_state = st;
    return HS_OK;
}

static void hub_destroy(void *state)
{
    struct hs_hubspot *st = state;
    if (st == NULL)
        return;
    stores_release(st);
    json_decref(st->tokens);
    hs_free(st->routes);
    hs_free(st);
}

static json_t *hub_tenants(void *state)
{
    struct hs_hubspot *st = state;
    return json_pack("{s:I}", "portalId", (json_int_t)st->portal_id);
}

static int hub_throttled(void *state, struct hs_http_response *resp, int retry_after_s)
{
    (void)retry_after_s; /* HubSpot sends no Retry-After: clients back off by the policy */
    struct hs_hubspot *st = state;
    int rc = reply_429(st, resp, false);
    return rc == HS_OK ? rate_headers(resp, 0, HS_HUB_DAILY_LIMIT) : rc;
}

static int hub_unauthorized(void *state, struct hs_http_response *resp, const char *why)
{
    (void)why;
    return reply_401(state, resp);
}

/* ---- webhooks ---- */

static int hub_webhook_request(void *state, const json_t *events, const char *secret,
                               const char *url, struct hs_http_request *out)
{
    struct hs_hubspot *st = state;
    int rc = hs_http_request_set(out, "POST", url);
    if (rc == HS_OK)
        rc = hs_http_request_json(out, events);
    if (rc != HS_OK)
        return rc;
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)hs_sbx_now_ms(st->sbx));
    const char *body = out->body.data ? out->body.data : "";
    size_t blen = out->body.len;
    size_t klen = strlen(secret);

    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state h;
    crypto_auth_hmacsha256_init(&h, (const unsigned char *)secret, klen);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)"POST", 4);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)url, strlen(url));
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)body, blen);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)ts, strlen(ts));
    crypto_auth_hmacsha256_final(&h, mac);
    char b64[sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES,
                                       sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);

    unsigned char sha[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state hs;
    crypto_hash_sha256_init(&hs);
    crypto_hash_sha256_update(&hs, (const unsigned char *)secret, klen);
    crypto_hash_sha256_update(&hs, (const unsigned char *)body, blen);
    crypto_hash_sha256_final(&hs, sha);
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, sha, sizeof sha);

    rc = hs_http_headers_set(&out->headers, "X-HubSpot-Signature-v3", b64);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&out->headers, "X-HubSpot-Request-Timestamp", ts);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&out->headers, "X-HubSpot-Signature", hex);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&out->headers, "X-HubSpot-Signature-Version", "v1");
    if (rc == HS_OK)
        rc = hs_http_headers_set(&out->headers, "User-Agent", "HubSpot Connect 2.0 (sandbox)");
    return rc;
}

/* ---- seeding ---- */

static int currency_exponent(const char *c)
{
    static const char *const zero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
                                       "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                                       "VND", "VUV", "XAF", "XOF", "XPF"};
    static const char *const three[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        if (hs_str_eq(c, zero[i]))
            return 0;
    for (size_t i = 0; i < sizeof three / sizeof three[0]; i++)
        if (hs_str_eq(c, three[i]))
            return 3;
    return 2;
}

static void format_minor(int64_t minor, const char *currency, char out[40])
{
    int e = currency_exponent(currency);
    if (e == 0) {
        snprintf(out, 40, "%lld", (long long)minor);
        return;
    }
    int64_t div = e == 3 ? 1000 : 100;
    int64_t a = minor < 0 ? -minor : minor;
    snprintf(out, 40, "%s%lld.%0*lld", minor < 0 ? "-" : "", (long long)(a / div), e,
             (long long)(a % div));
}

static int set_prop(struct hs_hubspot *st, enum hs_hub_type t, struct hs_hub_record *r,
                    const char *name, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return HS_OK;
    const struct hs_hub_prop *p = hs_hub_prop_get(&st->stores[t], name);
    if (p == NULL)
        return HS_EINVAL;
    if (p->index != NULL && json_object_get(p->index, value) != NULL)
        return HS_OK; /* keep unique values unique */
    return hs_hub_record_set(&st->stores[t], r, p, value);
}

static int seed_record(struct hs_hubspot *st, enum hs_hub_type t, int64_t at,
                       struct hs_hub_record **out)
{
    int rc = hs_hub_record_new(&st->stores[t], hs_hub_new_id(st), at, out);
    return rc;
}

static int seed(struct hs_hubspot *st, const struct hs_sbx_world *w)
{
    int rc = HS_OK;
    int64_t *company_ids = hs_calloc(w->n_companies + 1, sizeof *company_ids);
    int64_t *person_ids = hs_calloc(w->n_persons + 1, sizeof *person_ids);
    int64_t *product_ids = hs_calloc(w->n_products + 1, sizeof *product_ids);
    if (company_ids == NULL || person_ids == NULL || product_ids == NULL) {
        rc = HS_ENOMEM;
        goto done;
    }
    /* creation times spread over the 30 days before now, one second apart */
    int64_t now = hs_hub_now(st);
    int64_t at = now - 30LL * 86400000;
    struct hs_hub_record *r = NULL;
    char buf[64];
    for (size_t i = 0; rc == HS_OK && i < w->n_companies; i++) {
        const struct hs_sbx_company *c = &w->companies[i];
        if (!c->in_crm)
            continue;
        rc = seed_record(st, HS_HUB_COMPANIES, at += 1000, &r);
        if (rc != HS_OK)
            break;
        company_ids[i] = r->id;
        rc = set_prop(st, HS_HUB_COMPANIES, r, "name", c->name);
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_COMPANIES, r, "domain", c->domain);
        if (rc == HS_OK && c->domain[0] != '\0') {
            snprintf(buf, sizeof buf, "https://www.%.50s", c->domain);
            rc = set_prop(st, HS_HUB_COMPANIES, r, "website", buf);
        }
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_COMPANIES, r, "phone", c->phone);
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_COMPANIES, r, "address", c->street);
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_COMPANIES, r, "city", c->city);
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_COMPANIES, r, "zip", c->postcode);
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_COMPANIES, r, "country", c->country);
    }
    for (size_t i = 0; rc == HS_OK && i < w->n_persons; i++) {
        const struct hs_sbx_person *p = &w->persons[i];
        rc = seed_record(st, HS_HUB_CONTACTS, at += 1000, &r);
        if (rc != HS_OK)
            break;
        person_ids[i] = r->id;
        rc = set_prop(st, HS_HUB_CONTACTS, r, "firstname", p->first);
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_CONTACTS, r, "lastname", p->last);
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_CONTACTS, r, "email", p->email);
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_CONTACTS, r, "phone", p->phone);
        if (rc == HS_OK && p->company < w->n_companies && company_ids[p->company] != 0) {
            struct hs_hub_record *co =
                hs_hub_find(&st->stores[HS_HUB_COMPANIES], company_ids[p->company]);
            rc = set_prop(st, HS_HUB_CONTACTS, r, "company", w->companies[p->company].name);
            if (rc == HS_OK)
                rc = hs_hub_assoc_add(st, HS_HUB_CONTACTS, r, HS_HUB_COMPANIES, co, 1);
            if (rc == HS_OK)
                rc = hs_hub_assoc_add(st, HS_HUB_CONTACTS, r, HS_HUB_COMPANIES, co, 279);
        }
    }
    for (size_t i = 0; rc == HS_OK && i < w->n_products; i++) {
        const struct hs_sbx_product *p = &w->products[i];
        rc = seed_record(st, HS_HUB_PRODUCTS, at += 1000, &r);
        if (rc != HS_OK)
            break;
        product_ids[i] = r->id;
        char price[40];
        format_minor(p->price_minor, p->currency, price);
        rc = set_prop(st, HS_HUB_PRODUCTS, r, "name", p->name);
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_PRODUCTS, r, "hs_sku", p->sku);
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_PRODUCTS, r, "price", price);
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_PRODUCTS, r, "description", p->description);
    }
    for (size_t i = 0; rc == HS_OK && i < w->n_deals; i++) {
        const struct hs_sbx_deal *d = &w->deals[i];
        struct hs_hub_record *deal = NULL;
        rc = seed_record(st, HS_HUB_DEALS, at += 1000, &deal);
        if (rc != HS_OK)
            break;
        int64_t total = 0;
        for (size_t k = 0; rc == HS_OK && k < d->n_lines && k < 6; k++) {
            const struct hs_sbx_deal_line *l = &d->lines[k];
            /* amount = quantity * price * (100 - discount%) / 100, rounded half up */
            int64_t gross = l->quantity * l->price_minor;
            int64_t net = (gross * (100 - l->discount_pct) + 50) / 100;
            total += net;
            struct hs_hub_record *li = NULL;
            rc = seed_record(st, HS_HUB_LINE_ITEMS, at, &li);
            if (rc != HS_OK)
                break;
            char price[40], amount[40], qty[24], disc[16], pid[24];
            format_minor(l->price_minor, d->currency, price);
            format_minor(net, d->currency, amount);
            snprintf(qty, sizeof qty, "%lld", (long long)l->quantity);
            snprintf(disc, sizeof disc, "%d", (int)l->discount_pct);
            bool has_product = l->product < w->n_products;
            snprintf(pid, sizeof pid, "%lld",
                     (long long)(has_product ? product_ids[l->product] : 0));
            rc = set_prop(st, HS_HUB_LINE_ITEMS, li, "name",
                          has_product ? w->products[l->product].name : "Item");
            if (rc == HS_OK && has_product)
                rc = set_prop(st, HS_HUB_LINE_ITEMS, li, "hs_product_id", pid);
            if (rc == HS_OK && has_product)
                rc = set_prop(st, HS_HUB_LINE_ITEMS, li, "hs_sku", w->products[l->product].sku);
            if (rc == HS_OK)
                rc = set_prop(st, HS_HUB_LINE_ITEMS, li, "quantity", qty);
            if (rc == HS_OK)
                rc = set_prop(st, HS_HUB_LINE_ITEMS, li, "price", price);
            if (rc == HS_OK && l->discount_pct > 0)
                rc = set_prop(st, HS_HUB_LINE_ITEMS, li, "hs_discount_percentage", disc);
            if (rc == HS_OK)
                rc = set_prop(st, HS_HUB_LINE_ITEMS, li, "amount", amount);
            if (rc == HS_OK)
                rc = set_prop(st, HS_HUB_LINE_ITEMS, li, "hs_line_item_currency_code", d->currency);
            if (rc == HS_OK)
                rc = hs_hub_assoc_add(st, HS_HUB_LINE_ITEMS, li, HS_HUB_DEALS, deal, 20);
        }
        if (rc != HS_OK)
            break;
        char amount[40], close[32];
        format_minor(total, d->currency, amount);
        hs_hub_iso(d->close_ms, close);
        rc = set_prop(st, HS_HUB_DEALS, deal, "dealname", d->name);
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_DEALS, deal, "amount", amount);
        if (rc == HS_OK && d->stage >= 0 && (size_t)d->stage < hs_sbx_n_deal_stages)
            rc = set_prop(st, HS_HUB_DEALS, deal, "dealstage", hs_sbx_deal_stages[d->stage]);
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_DEALS, deal, "pipeline", "default");
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_DEALS, deal, "closedate", close);
        if (rc == HS_OK)
            rc = set_prop(st, HS_HUB_DEALS, deal, "deal_currency_code", d->currency);
        if (rc == HS_OK && d->company < w->n_companies && company_ids[d->company] != 0) {
            struct hs_hub_record *co =
                hs_hub_find(&st->stores[HS_HUB_COMPANIES], company_ids[d->company]);
            rc = hs_hub_assoc_add(st, HS_HUB_DEALS, deal, HS_HUB_COMPANIES, co, 5);
            if (rc == HS_OK)
                rc = hs_hub_assoc_add(st, HS_HUB_DEALS, deal, HS_HUB_COMPANIES, co, 341);
        }
        if (rc == HS_OK && d->contact < w->n_persons && person_ids[d->contact] != 0) {
            struct hs_hub_record *ct =
                hs_hub_find(&st->stores[HS_HUB_CONTACTS], person_ids[d->contact]);
            rc = hs_hub_assoc_add(st, HS_HUB_DEALS, deal, HS_HUB_CONTACTS, ct, 3);
        }
    }
done:
    hs_free(company_ids);
    hs_free(person_ids);
    hs_free(product_ids);
    return rc;
}

static int hub_reset(void *state, const struct hs_sbx_world *world, struct hs_error *err)
{
    struct hs_hubspot *st = state;
    stores_release(st);
    json_object_clear(st->tokens);
    if (stores_init(st) != HS_OK)
        return hs_error_set(err, HS_ENOMEM, "cannot reset HubSpot portal: out of memory");
    if (world != NULL) {
        int rc = seed(st, world);
        if (rc != HS_OK)
            return hs_error_set(err, rc, "cannot seed HubSpot portal %lld: %s",
                                (long long)st->portal_id, hs_strerror(rc));
    }
    return HS_OK;
}

/* ---- persistence ---- */

static json_t *save_record(const struct hs_hub_record *r)
{
    json_t *as = json_array();
    for (size_t i = 0; as != NULL && i < r->n_assocs; i++)
        if (json_array_append_new(as, json_pack("[i,I,i]", (int)r->assocs[i].to_type,
                                                (json_int_t)r->assocs[i].to_id,
                                                (int)r->assocs[i].type_id)) != 0) {
            json_decref(as);
            return NULL;
        }
    return as ? json_pack("{s:I,s:I,s:I,s:b,s:I,s:O,s:o}", "id", (json_int_t)r->id, "c",
                          (json_int_t)r->created_ms, "u", (json_int_t)r->updated_ms, "a",
                          r->archived ? 1 : 0, "am", (json_int_t)r->archived_ms, "p", r->props,
                          "as", as)
              : NULL;
}

static json_t *save_store(const struct hs_hub_store *s)
{
    json_t *recs = json_array();
    json_t *props = json_array();
    json_t *o =
        json_pack("{s:o*,s:o*,s:O}", "records", recs, "customProps", props, "groups", s->groups);
    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (json_array_append_new(recs, save_record(s->recs[i])) != 0)
            goto fail;
    for (size_t i = 0; i < s->n_props; i++) {
        const struct hs_hub_prop *p = &s->props[i];
        if (p->hubspot_defined)
            continue;
        if (json_array_append_new(
                props,
                json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:i,s:O,s:I}", "name", p->name, "label",
                          p->label, "type", p->type, "fieldType", p->field_type, "groupName",
                          p->group, "description", p->description, "hasUniqueValue",
                          p->unique ? 1 : 0, "displayOrder", (int)p->display_order, "options",
                          p->options, "createdAt", (json_int_t)p->created_ms)) != 0)
            goto fail;
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

static json_t *hub_save(void *state)
{
    struct hs_hubspot *st = state;
    json_t *types = json_object();
    json_t *o = json_pack("{s:I,s:I,s:I,s:o*}", "portalId", (json_int_t)st->portal_id, "nextId",
                          (json_int_t)st->next_id, "nextEventId", (json_int_t)st->next_event_id,
                          "types", types);
    if (o == NULL)
        return NULL;
    for (int t = 0; t < HS_HUB_N_TYPES; t++)
        if (json_object_set_new(types, hs_hub_types[t].name, save_store(&st->stores[t])) != 0) {
            json_decref(o);
            return NULL;
        }
    return o;
}

static int load_store(struct hs_hub_store *s, const json_t *saved, struct hs_error *err)
{
    size_t i;
    json_t *v;
    json_t *groups = json_object_get(saved, "groups");
    if (json_is_array(groups) && json_array_size(groups) > 0) {
        json_decref(s->groups);
        s->groups = json_deep_copy(groups);
        if (s->groups == NULL)
            return HS_ENOMEM;
    }
    json_array_foreach(json_object_get(saved, "customProps"), i, v)
    {
        struct hs_hub_prop def = {0};
        def.name = (char *)(uintptr_t)hs_json_str(v, "name");
        def.label = (char *)(uintptr_t)hs_json_str(v, "label");
        def.type = (char *)(uintptr_t)hs_json_str(v, "type");
        def.field_type = (char *)(uintptr_t)hs_json_str(v, "fieldType");
        def.group = (char *)(uintptr_t)hs_json_str(v, "groupName");
        def.description = (char *)(uintptr_t)hs_json_str(v, "description");
        def.unique = json_is_true(json_object_get(v, "hasUniqueValue"));
        def.display_order = (int32_t)json_integer_value(json_object_get(v, "displayOrder"));
        def.created_ms = json_integer_value(json_object_get(v, "createdAt"));
        def.updated_ms = def.created_ms;
        def.options = json_object_get(v, "options");
        if (def.name == NULL || def.type == NULL || def.field_type == NULL || def.group == NULL)
            return hs_error_set(err, HS_EPROTO, "cannot load HubSpot property #%zu: incomplete", i);
        if (hs_hub_prop_get(s, def.name) != NULL)
            continue;
        int rc = hs_hub_prop_add(s, &def);
        if (rc != HS_OK)
            return rc;
    }
    json_array_foreach(json_object_get(saved, "records"), i, v)
    {
        json_t *props = json_object_get(v, "p");
        json_t *id = json_object_get(v, "id");
        if (!json_is_integer(id) || !json_is_object(props))
            return hs_error_set(err, HS_EPROTO, "cannot load HubSpot record #%zu: no id/props", i);
        struct hs_hub_record *r = hs_calloc(1, sizeof *r);
        if (r == NULL)
            return HS_ENOMEM;
        r->id = json_integer_value(id);
        r->created_ms = json_integer_value(json_object_get(v, "c"));
        r->updated_ms = json_integer_value(json_object_get(v, "u"));
        r->archived = json_is_true(json_object_get(v, "a"));
        r->archived_ms = json_integer_value(json_object_get(v, "am"));
        r->props = json_deep_copy(props);
        size_t k;
        json_t *a;
        json_t *as = json_object_get(v, "as");
        r->assocs = json_array_size(as) ? hs_calloc(json_array_size(as), sizeof *r->assocs) : NULL;
        r->cap_assocs = json_array_size(as);
        if (r->props == NULL || (r->cap_assocs > 0 && r->assocs == NULL)) {
            hs_hub_record_free(r);
            return HS_ENOMEM;
        }
        json_array_foreach(as, k, a)
        {
            int to = (int)json_integer_value(json_array_get(a, 0));
            if (to < 0 || to >= HS_HUB_N_TYPES || r->assocs == NULL)
                continue;
            r->assocs[r->n_assocs++] = (struct hs_hub_assoc){
                json_integer_value(json_array_get(a, 1)),
                (int32_t)json_integer_value(json_array_get(a, 2)), (uint8_t)to};
        }
        int rc = hs_hub_record_insert(s, r);
        if (rc != HS_OK) {
            hs_hub_record_free(r);
            return rc == HS_EEXIST ? hs_error_set(err, HS_EPROTO,
                                                  "cannot load HubSpot record %lld: duplicate id",
                                                  (long long)json_integer_value(id))
                                   : rc;
        }
    }
    return HS_OK;
}

static int hub_load(void *state, const json_t *saved, struct hs_error *err)
{
    struct hs_hubspot *st = state;
    stores_release(st);
    if (stores_init(st) != HS_OK)
        return hs_error_set(err, HS_ENOMEM, "cannot load HubSpot portal: out of memory");
    json_t *types = json_object_get(saved, "types");
    if (!json_is_object(types))
        return hs_error_set(err, HS_EPROTO, "cannot load HubSpot portal: 'types' missing");
    for (int t = 0; t < HS_HUB_N_TYPES; t++) {
        int rc = load_store(&st->stores[t], json_object_get(types, hs_hub_types[t].name), err);
        if (rc != HS_OK) {
            if (rc == HS_ENOMEM)
                hs_error_set(err, rc, "cannot load HubSpot %s: out of memory",
                             hs_hub_types[t].name);
            return rc;
        }
    }
    json_t *next = json_object_get(saved, "nextId");
    if (json_is_integer(next) && json_integer_value(next) > st->next_id)
        st->next_id = json_integer_value(next);
    json_t *ev = json_object_get(saved, "nextEventId");
    if (json_is_integer(ev))
        st->next_event_id = json_integer_value(ev);
    return HS_OK;
}

const struct hs_sbx_module_ops hs_sbx_hubspot_ops = {
    .name = "hubspot",
    .create = hub_create,
    .destroy = hub_destroy,
    .routes = hub_routes,
    .reset = hub_reset,
    .tenants = hub_tenants,
    .save = hub_save,
    .load = hub_load,
    .throttled = hub_throttled,
    .unauthorized = hub_unauthorized,
    .webhook_request = hub_webhook_request,
};
