/*
 * sandbox/admin.c - the admin API under /_sandbox/ (tests and scripts drive the emulator here).
 *
 * Design:     one handler per resource, registered straight on the router (not through
 *             hs_sbx_route: admin calls are neither counted in stats nor subject to faults).
 *             Bodies are JSON objects (an empty body counts as {}); a malformed body or value
 *             is a 400 {"message":"..."} naming the field. Endpoints:
 *               GET  health                 {"status":"ok","providers":[...],"now":ms,...}
 *               GET  tenants                {"<provider>": module tenants, ...}
 *               POST reset   [{"seed":N, sizes}]  empty everything (modules, tokens, rate
 *                                           limits, stats, webhooks); with seed: reseed too
 *               POST seed    {"seed":N, sizes}    rebuild module data from a new world
 *               GET|POST faults  {"spec":"5xx=0.1,..."}
 *               GET|POST|DELETE stats      (POST and DELETE reset the counters)
 *               GET|POST clock   {"advance_ms":N} | {"set_ms":N} | {"freeze":bool}
 *               GET|POST|DELETE webhooks   {"provider","url","secret"}
 *               POST revoke  {"provider":P[,"tenant":T]}
 *               GET|POST oauth  {"deny":bool}   make the authorization endpoint refuse
 *               POST save                  write --data now
 *             Sizes are "companies", "contacts", "products", "deals", "customers",
 *             "overlap_pct", "won_pct", "lines" and "usd_deals" (see struct hs_sbx_sizes); 0
 *             is the default, except "customers":0 and "overlap_pct":0, which mean none.
 * Threads:    each handler takes the state lock around what it touches; world generation for
 *             seed/reset runs before taking it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/sbx_int.h"
#include "util/alloc.h"
#include "util/json.h"

#ifndef HS_VERSION
#define HS_VERSION "0.0.0"
#endif

#define MAX_ADMIN_SIZE 200000

/* Parses the body as a JSON object into *out; on failure answers 400 and returns false. */
static bool body_object(const struct hs_http_request *req, struct hs_http_response *resp,
                        json_t **out, int *rc)
{
    *out = NULL;
    *rc = HS_OK;
    if (req->body.len == 0) {
        *out = json_object();
        if (*out == NULL)
            *rc = HS_ENOMEM;
        return *out != NULL;
    }
    struct hs_error e;
    hs_error_clear(&e);
    if (hs_json_parse((const uint8_t *)req->body.data, req->body.len, "request body", out, &e) !=
        HS_OK) {
        *rc = hs_sbx_reply_error(resp, 400, e.msg);
        return false;
    }
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        *rc = hs_sbx_reply_error(resp, 400, "invalid request body: a JSON object is expected");
        return false;
    }
    return true;
}

static int bad_field(struct hs_http_response *resp, const char *field, const char *why)
{
    char msg[200];
    snprintf(msg, sizeof msg, "invalid field '%s': %s", field, why);
    return hs_sbx_reply_error(resp, 400, msg);
}

/* Reads optional non-negative integer field (<= max) into *out. */
static bool int_field(const json_t *obj, const char *field, int64_t max, int64_t *out,
                      bool *present, struct hs_http_response *resp, int *rc)
{
    json_t *v = json_object_get(obj, field);
    *present = v != NULL;
    if (v == NULL)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
        char why[80];
        snprintf(why, sizeof why, "an integer from 0 to %" PRId64 " is expected", max);
        *rc = bad_field(resp, field, why);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

/* Seed and sizes of a seed/reset body. */
static bool seed_fields(const json_t *body, uint64_t *seed, bool *has_seed,
                        struct hs_sbx_sizes *sizes, struct hs_http_response *resp, int *rc)
{
    /* an explicit 0 means none for customers and overlap_pct, the default for the others */
    static const struct {
        const char *name;
        int64_t max;
        bool zero_is_none;
    } f[] = {
        {"companies", MAX_ADMIN_SIZE, false},
        {"contacts", MAX_ADMIN_SIZE, false},
        {"products", MAX_ADMIN_SIZE, false},
        {"deals", MAX_ADMIN_SIZE, false},
        {"customers", MAX_ADMIN_SIZE, true},
        {"overlap_pct", 100, true},
        {"won_pct", 100, false},
        {"lines", 6, false},
        {"usd_deals", 1, false},
    };
    unsigned *fields[] = {&sizes->companies, &sizes->contacts,  &sizes->products,
                          &sizes->deals,     &sizes->customers, &sizes->overlap_pct,
                          &sizes->won_pct,   &sizes->lines,     &sizes->usd_deals};
    int64_t v = 0;
    bool present = false;
    if (!int_field(body, "seed", INT64_MAX, &v, has_seed, resp, rc))
        return false;
    *seed = (uint64_t)v;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!int_field(body, f[i].name, f[i].max, &v, &present, resp, rc))
            return false;
        if (present)
            *fields[i] = v == 0 && f[i].zero_is_none ? HS_SBX_NONE : (unsigned)v;
    }
    return true;
}

static int reply_locked_json(struct hs_sbx *sbx, struct hs_http_response *resp, int status,
                             json_t *(*fn)(struct hs_sbx *))
{
    pthread_mutex_lock(&sbx->lock);
    json_t *j = fn(sbx);
    pthread_mutex_unlock(&sbx->lock);
    return hs_http_response_json_take(resp, status, j);
}

static int h_health(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                    struct hs_http_response *resp)
{
    (void)req;
    (void)m;
    struct hs_sbx *sbx = ud;
    json_t *names = json_array();
    for (size_t i = 0; names && i < sbx->n_mods; i++)
        if (json_array_append_new(names, json_string(sbx->mods[i].ops->name)) != 0)
            HS_FREE(names);
    if (names == NULL)
        return HS_ENOMEM;
    pthread_mutex_lock(&sbx->lock);
    json_t *j =
        json_pack("{s:s, s:s, s:o, s:I, s:b, s:I, s:b}", "status", "ok", "version", HS_VERSION,
                  "providers", names, "now", (json_int_t)hs_sbx_now_ms(sbx), "seeded", sbx->seeded,
                  "seed", (json_int_t)sbx->seed, "rate_limits", !sbx->no_rate_limits);
    pthread_mutex_unlock(&sbx->lock);
    return hs_http_response_json_take(resp, 200, j);
}

static json_t *tenants_json(struct hs_sbx *sbx)
{
    json_t *j = json_object();
    for (size_t i = 0; j && i < sbx->n_mods; i++) {
        struct hs_sbx_mod *mod = &sbx->mods[i];
        json_t *t = mod->ops->tenants ? mod->ops->tenants(mod->state) : json_object();
        if (t == NULL || json_object_set_new(j, mod->ops->name, t) != 0) {
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

static int h_tenants(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                     struct hs_http_response *resp)
{
    (void)req;
    (void)m;
    return reply_locked_json(ud, resp, 200, tenants_json);
}

/* POST reset (everything) and POST seed (modules only). */
static int reseed(struct hs_sbx *sbx, const struct hs_http_request *req,
                  struct hs_http_response *resp, bool everything)
{
    json_t *body = NULL;
    int rc = HS_OK;
    if (!body_object(req, resp, &body, &rc))
        return rc;
    uint64_t seed = 0;
    bool has_seed = false;
    struct hs_sbx_sizes sizes;
    memset(&sizes, 0, sizeof sizes);
    bool ok = seed_fields(body, &seed, &has_seed, &sizes, resp, &rc);
    json_decref(body);
    if (!ok)
        return rc;
    if (!everything && !has_seed) {
        pthread_mutex_lock(&sbx->lock);
        seed = sbx->seed;
        pthread_mutex_unlock(&sbx->lock);
        has_seed = true;
    }
    struct hs_sbx_world world;
    memset(&world, 0, sizeof world);
    if (has_seed) {
        rc = hs_sbx_world_generate(seed, &sizes, &world);
        if (rc == HS_ERANGE)
            return hs_sbx_reply_error(resp, 400, "invalid sizes: out of range");
        if (rc != HS_OK)
            return rc;
    }
    struct hs_error e;
    hs_error_clear(&e);
    pthread_mutex_lock(&sbx->lock);
    if (has_seed) {
        sbx->seed = seed;
        sbx->sizes = sizes;
        hs_rng_seed(&sbx->rng, seed);
    }
    sbx->seeded = has_seed;
    rc = hs_sbx_reset_locked(sbx, has_seed ? &world : NULL, everything, &e);
    pthread_mutex_unlock(&sbx->lock);
    json_t *j = NULL;
    if (rc == HS_OK) {
        size_t crm = 0;
        for (size_t i = 0; i < world.n_companies; i++)
            crm += world.companies[i].in_crm;
        j = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "seeded", has_seed, "seed",
                      (json_int_t)seed, "companies", (json_int_t)crm, "customers",
                      (json_int_t)(world.n_companies - crm), "contacts",
                      (json_int_t)world.n_persons, "products", (json_int_t)world.n_products,
                      "deals", (json_int_t)world.n_deals);
    }
    hs_sbx_world_release(&world);
    if (rc != HS_OK)
        return hs_sbx_reply_error(resp, 500, e.msg);
    return hs_http_response_json_take(resp, 200, j);
}

static int h_reset(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                   struct hs_http_response *resp)
{
    (void)m;
    return reseed(ud, req, resp, true);
}

static int h_seed(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                  struct hs_http_response *resp)
{
    (void)m;
    return reseed(ud, req, resp, false);
}

static json_t *faults_json(struct hs_sbx *sbx)
{
    return hs_sbx_faults_json(&sbx->faults);
}

static int h_faults(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                    struct hs_http_response *resp)
{
    (void)m;
    struct hs_sbx *sbx = ud;
    if (strcmp(req->method, "POST") == 0) {
        json_t *body = NULL;
        int rc = HS_OK;
        if (!body_object(req, resp, &body, &rc))
            return rc;
        json_t *spec = json_object_get(body, "spec");
        if (!json_is_string(spec)) {
            json_decref(body);
            return bad_field(resp, "spec", "a string like \"5xx=0.1,latency=50\" is expected");
        }
        struct hs_error e;
        hs_error_clear(&e);
        rc = hs_sbx_set_faults(sbx, json_string_value(spec), &e);
        json_decref(body);
        if (rc != HS_OK)
            return hs_sbx_reply_error(resp, 400, e.msg);
    }
    return reply_locked_json(sbx, resp, 200, faults_json);
}

static int h_stats(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                   struct hs_http_response *resp)
{
    (void)m;
    struct hs_sbx *sbx = ud;
    if (strcmp(req->method, "GET") != 0) {
        pthread_mutex_lock(&sbx->lock);
        hs_sbx_stats_reset(sbx);
        pthread_mutex_unlock(&sbx->lock);
    }
    return reply_locked_json(sbx, resp, 200, hs_sbx_stats_json);
}

static int h_clock(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                   struct hs_http_response *resp)
{
    (void)m;
    struct hs_sbx *sbx = ud;
    if (strcmp(req->method, "POST") == 0) {
        json_t *body = NULL;
        int rc = HS_OK;
        if (!body_object(req, resp, &body, &rc))
            return rc;
        json_t *adv = json_object_get(body, "advance_ms");
        json_t *set = json_object_get(body, "set_ms");
        json_t *freeze = json_object_get(body, "freeze");
        const char *bad = NULL;
        const char *why = NULL;
        if (adv != NULL && (!json_is_integer(adv) || json_integer_value(adv) < 0)) {
            bad = "advance_ms";
            why = "a non-negative integer (milliseconds) is expected";
        } else if (set != NULL && !json_is_integer(set)) {
            bad = "set_ms";
            why = "an integer (milliseconds since the epoch) is expected";
        } else if (freeze != NULL && !json_is_boolean(freeze)) {
            bad = "freeze";
            why = "true or false is expected";
        } else if (adv == NULL && set == NULL && freeze == NULL) {
            bad = "advance_ms";
            why = "one of advance_ms, set_ms or freeze is required";
        }
        if (bad != NULL) {
            json_decref(body);
            return bad_field(resp, bad, why);
        }
        pthread_mutex_lock(&sbx->lock);
        if (set != NULL)
            hs_sbx_clock_set(sbx, json_integer_value(set));
        if (adv != NULL)
            hs_sbx_clock_advance(sbx, json_integer_value(adv));
        if (freeze != NULL)
            hs_sbx_clock_freeze(sbx, json_is_true(freeze));
        pthread_mutex_unlock(&sbx->lock);
        json_decref(body);
    }
    return reply_locked_json(sbx, resp, 200, hs_sbx_clock_json);
}

static int h_webhooks(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                      struct hs_http_response *resp)
{
    (void)m;
    struct hs_sbx *sbx = ud;
    if (strcmp(req->method, "DELETE") == 0) {
        pthread_mutex_lock(&sbx->lock);
        hs_sbx_wh_clear(sbx);
        pthread_mutex_unlock(&sbx->lock);
    } else if (strcmp(req->method, "POST") == 0) {
        json_t *body = NULL;
        int rc = HS_OK;
        if (!body_object(req, resp, &body, &rc))
            return rc;
        json_t *secret = json_object_get(body, "secret");
        if (secret != NULL && !json_is_string(secret)) {
            json_decref(body);
            return bad_field(resp, "secret", "a string is expected");
        }
        struct hs_error e;
        hs_error_clear(&e);
        json_t *info = NULL;
        pthread_mutex_lock(&sbx->lock);
        rc = hs_sbx_wh_subscribe(sbx, hs_json_str(body, "provider"), hs_json_str(body, "url"),
                                 hs_json_str(body, "secret"), &info, &e);
        pthread_mutex_unlock(&sbx->lock);
        json_decref(body);
        if (rc == HS_ENOMEM)
            return rc;
        if (rc != HS_OK)
            return hs_sbx_reply_error(resp, 400, e.msg);
        return hs_http_response_json_take(resp, 201, info);
    }
    return reply_locked_json(sbx, resp, 200, hs_sbx_wh_list);
}

static int h_revoke(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                    struct hs_http_response *resp)
{
    (void)m;
    struct hs_sbx *sbx = ud;
    json_t *body = NULL;
    int rc = HS_OK;
    if (!body_object(req, resp, &body, &rc))
        return rc;
    json_t *pv = json_object_get(body, "provider");
    json_t *tv = json_object_get(body, "tenant");
    const char *provider = json_string_value(pv);
    char tenant_num[32];
    const char *tenant = json_string_value(tv);
    if (json_is_integer(tv)) { /* portal ids are numbers in HubSpot's own JSON */
        snprintf(tenant_num, sizeof tenant_num, "%" JSON_INTEGER_FORMAT, json_integer_value(tv));
        tenant = tenant_num;
    }
    if ((pv != NULL && provider == NULL) || (tv != NULL && tenant == NULL)) {
        json_decref(body);
        return bad_field(resp, pv != NULL && provider == NULL ? "provider" : "tenant",
                         "a string is expected");
    }
    if (provider != NULL && hs_sbx_find_mod(sbx, provider) == NULL) {
        json_decref(body);
        return bad_field(resp, "provider", "no such provider in this sandbox");
    }
    pthread_mutex_lock(&sbx->lock);
    size_t n = hs_sbx_oauth_revoke(sbx, provider, tenant);
    pthread_mutex_unlock(&sbx->lock);
    json_decref(body);
    return hs_http_response_json_take(resp, 200, json_pack("{s:I}", "revoked", (json_int_t)n));
}

static json_t *oauth_json(struct hs_sbx *sbx)
{
    return json_pack("{s:b, s:I, s:I}", "deny", sbx->oauth.deny, "grants",
                     (json_int_t)sbx->oauth.n_grants, "access_tokens",
                     (json_int_t)sbx->oauth.access.n);
}

static int h_oauth(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                   struct hs_http_response *resp)
{
    (void)m;
    struct hs_sbx *sbx = ud;
    if (strcmp(req->method, "POST") == 0) {
        json_t *body = NULL;
        int rc = HS_OK;
        if (!body_object(req, resp, &body, &rc))
            return rc;
        json_t *deny = json_object_get(body, "deny");
        if (!json_is_boolean(deny)) {
            json_decref(body);
            return bad_field(resp, "deny", "true or false is expected");
        }
        pthread_mutex_lock(&sbx->lock);
        sbx->oauth.deny = json_is_true(deny);
        pthread_mutex_unlock(&sbx->lock);
        json_decref(body);
    }
    return reply_locked_json(sbx, resp, 200, oauth_json);
}

static int h_save(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                  struct hs_http_response *resp)
{
    (void)req;
    (void)m;
    struct hs_sbx *sbx = ud;
    struct hs_error e;
    hs_error_clear(&e);
    int rc = hs_sbx_save(sbx, &e);
    if (rc == HS_EINVAL)
        return hs_sbx_reply_error(resp, 400, e.msg);
    if (rc != HS_OK)
        return hs_sbx_reply_error(resp, 500, e.msg);
    return hs_http_response_json_take(resp, 200, json_pack("{s:s}", "saved", sbx->data_file));
}

int hs_sbx_admin_routes(struct hs_sbx *sbx)
{
    static const struct {
        const char *method;
        const char *path;
        hs_route_fn fn;
    } routes[] = {
        {"GET", "/_sandbox/health", h_health},      {"GET", "/_sandbox/tenants", h_tenants},
        {"POST", "/_sandbox/reset", h_reset},       {"POST", "/_sandbox/seed", h_seed},
        {"GET", "/_sandbox/faults", h_faults},      {"POST", "/_sandbox/faults", h_faults},
        {"GET", "/_sandbox/stats", h_stats},        {"POST", "/_sandbox/stats", h_stats},
        {"DELETE", "/_sandbox/stats", h_stats},     {"GET", "/_sandbox/clock", h_clock},
        {"POST", "/_sandbox/clock", h_clock},       {"GET", "/_sandbox/webhooks", h_webhooks},
        {"POST", "/_sandbox/webhooks", h_webhooks}, {"DELETE", "/_sandbox/webhooks", h_webhooks},
        {"POST", "/_sandbox/revoke", h_revoke},     {"GET", "/_sandbox/oauth", h_oauth},
        {"POST", "/_sandbox/oauth", h_oauth},       {"POST", "/_sandbox/save", h_save},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = hs_router_add(sbx->router, routes[i].method, routes[i].path, routes[i].fn, sbx);
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}
