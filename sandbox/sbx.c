/*
 * sandbox/sbx.c - the emulator core: lifecycle, module routes, clock, stats, persistence.
 *
 * Design:     hs_sbx_open loads the modules (options or the built-in list), lets each one
 *             register its routes through hs_sbx_route, builds their tenants (and, with a
 *             seed, their records from one generated world), then loads --data if the file
 *             exists. Every module route is wrapped by route_call, which first counts the call
 *             in flight for its tenant when the module limits that (Xero: 5; a call beyond is
 *             answered with the module's own 429), then under the state lock
 *             draws the request's faults from a dedicated RNG, then (lock released) sleeps for
 *             injected latency or timeouts, and finally (lock taken again) either answers the
 *             fault or calls the module's handler and counts the answer per endpoint and
 *             status class. An injected timeout holds the request for timeout_ms (default
 *             30 s, longer than a sane client timeout) and then answers 504; hs_sbx_stop cuts
 *             such sleeps short so shutdown is prompt. Injected 5xx answers are a generic 503
 *             {"message":"injected fault"}; injected 429s use the module's own throttled().
 *             An injected stall runs the handler first (its change is committed) and then
 *             holds the answer, lock released, so a client can die between the two.
 *             The emulated clock is anchor_emul + (real now - anchor_real), or anchor_emul
 *             itself while frozen; /_sandbox/clock moves the anchors, never the real clock.
 *             Persistence writes {"format":"hoopsync-sandbox/1", clock, modules{name: save()},
 *             oauth, webhooks} to a temp file, fsyncs it and renames it over --data.
 * Invariants: routes and modules are fixed after open; the clock never reads the system
 *             clock directly (only env->now_ms).
 * States:     open (serving) -> hs_sbx_stop (sleeps return at once) -> hs_sbx_close.
 * Threads:    any number of HTTP workers call hs_sbx_handle; module handlers and all state
 *             changes run under sbx->lock. Sleeps use sleep_mu/sleep_cv (never the state lock).
 * Ownership:  the sbx owns modules' states, route contexts, the router and copies of options.
 * Not here:   admin API (admin.c), faults and rate limits (faults.c), OAuth (oauth.c),
 *             webhooks (webhook.c), seeded data (seed.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sbx_int.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

#define SAVE_FORMAT   "hoopsync-sandbox/1"
#define MAX_DATA_FILE ((size_t)1024 * 1024 * 1024)

/* ---- small shared helpers ---- */

void hs_sbx_iso8601(int64_t ms, char *out, size_t size)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int msec = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        snprintf(out, size, "1970-01-01T00:00:00.000Z");
        return;
    }
    char buf[64]; /* every int fits: no truncation to reason about */
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, msec);
    size_t n = strlen(buf);
    if (size == 0)
        return;
    if (n >= size)
        n = size - 1;
    memcpy(out, buf, n);
    out[n] = '\0';
}

int hs_sbx_reply_error(struct hs_http_response *resp, int status, const char *msg)
{
    return hs_http_response_json_take(resp, status, json_pack("{s:s}", "message", msg));
}

struct hs_sbx_mod *hs_sbx_find_mod(struct hs_sbx *sbx, const char *name)
{
    for (size_t i = 0; i < sbx->n_mods; i++)
        if (strcmp(sbx->mods[i].ops->name, name) == 0)
            return &sbx->mods[i];
    return NULL;
}

static struct hs_sbx_mod *mod_of(struct hs_sbx *sbx, const struct hs_sbx_module_ops *ops)
{
    for (size_t i = 0; i < sbx->n_mods; i++)
        if (sbx->mods[i].ops == ops)
            return &sbx->mods[i];
    return NULL;
}

void hs_sbx_lock(struct hs_sbx *sbx)
{
    pthread_mutex_lock(&sbx->lock);
}

void hs_sbx_unlock(struct hs_sbx *sbx)
{
    pthread_mutex_unlock(&sbx->lock);
}

struct hs_rng *hs_sbx_rng(struct hs_sbx *sbx)
{
    return &sbx->rng;
}

/* ---- clock ---- */

int64_t hs_sbx_now_ms(struct hs_sbx *sbx)
{
    if (sbx->frozen)
        return sbx->anchor_emul;
    return sbx->anchor_emul + (hs_env_now_ms(&sbx->env) - sbx->anchor_real);
}

void hs_sbx_clock_advance(struct hs_sbx *sbx, int64_t ms)
{
    sbx->anchor_emul += ms;
}

void hs_sbx_clock_set(struct hs_sbx *sbx, int64_t ms)
{
    sbx->anchor_emul = ms;
    sbx->anchor_real = hs_env_now_ms(&sbx->env);
}

void hs_sbx_clock_freeze(struct hs_sbx *sbx, bool freeze)
{
    if (freeze == sbx->frozen)
        return;
    int64_t now = hs_sbx_now_ms(sbx);
    sbx->frozen = freeze;
    hs_sbx_clock_set(sbx, now);
}

json_t *hs_sbx_clock_json(struct hs_sbx *sbx)
{
    int64_t now = hs_sbx_now_ms(sbx);
    char iso[40];
    hs_sbx_iso8601(now, iso, sizeof iso);
    return json_pack("{s:I, s:s, s:b}", "now", (json_int_t)now, "iso", iso, "frozen", sbx->frozen);
}

/* ---- sleeping (injected latency and timeouts) ---- */

void hs_sbx_sleep(struct hs_sbx *sbx, int64_t ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(ms / 1000);
    deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&sbx->sleep_mu);
    while (!sbx->stopping) {
        if (pthread_cond_timedwait(&sbx->sleep_cv, &sbx->sleep_mu, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&sbx->sleep_mu);
}

void hs_sbx_stop(struct hs_sbx *sbx)
{
    if (sbx == NULL)
        return;
    pthread_mutex_lock(&sbx->sleep_mu);
    sbx->stopping = true;
    pthread_cond_broadcast(&sbx->sleep_cv);
    pthread_mutex_unlock(&sbx->sleep_mu);
}

/* ---- routes ---- */

struct fault_pick {
    bool timeout;
    bool err5xx;
    bool throttle;
    int64_t latency_ms;
    int64_t timeout_ms;
    int64_t stall_ms; /* hold the handler's answer this long (0: no stall) */
    uint32_t retry_after_s;
};

/* Lock held: decides this request's faults. */
static void pick_faults(struct hs_sbx *sbx, struct hs_sbx_mod *mod, const char *path,
                        struct fault_pick *p)
{
    const struct hs_sbx_faults *f = &sbx->faults;
    memset(p, 0, sizeof *p);
    p->latency_ms = f->latency_ms;
    p->timeout_ms = f->timeout_ms;
    p->retry_after_s = f->retry_after_s;
    if (f->stall_ms > 0 && (f->stall_path[0] == '\0' || strstr(path, f->stall_path) != NULL))
        p->stall_ms = f->stall_ms;
    if (mod->burst_left > 0) {
        mod->burst_left--;
        p->throttle = true;
        return;
    }
    if (hs_sbx_faults_roll(&sbx->fault_rng, f->ptimeout)) {
        p->timeout = true;
    } else if (hs_sbx_faults_roll(&sbx->fault_rng, f->p5xx)) {
        p->err5xx = true;
    } else if (hs_sbx_faults_roll(&sbx->fault_rng, f->p429)) {
        p->throttle = true;
        mod->burst_left = f->burst_429 > 0 ? f->burst_429 - 1 : 0;
    }
}

static int generic_429(struct hs_http_response *resp, uint32_t retry_after_s)
{
    char ra[16];
    snprintf(ra, sizeof ra, "%u", (unsigned)retry_after_s);
    int rc = hs_sbx_reply_error(resp, 429, "rate limit exceeded (injected)");
    if (rc == HS_OK)
        rc = hs_http_headers_set(&resp->headers, "Retry-After", ra);
    return rc;
}

/*
 * Counts a call in flight for its tenant when the module limits them (from arrival to answer,
 * so calls waiting for the state lock count too). Returns the slot to give back (NULL: not
 * counted) and sets *over when the tenant already has the maximum in flight. Tenants beyond
 * the table's size are not limited (a sandbox serves a handful).
 */
static struct hs_sbx_inflight *inflight_take(struct hs_sbx *sbx, const struct hs_sbx_mod *mod,
                                             const struct hs_http_request *req, bool *over)
{
    *over = false;
    if (mod->ops->max_concurrent == 0 || mod->ops->concurrent_header == NULL || sbx->no_rate_limits)
        return NULL;
    const char *t = hs_http_headers_get(&req->headers, mod->ops->concurrent_header);
    if (t == NULL || t[0] == '\0' || strlen(t) >= sizeof sbx->inflight[0].tenant)
        return NULL;
    struct hs_sbx_inflight *slot = NULL;
    pthread_mutex_lock(&sbx->conc_mu);
    for (size_t i = 0; i < HS_SBX_MAX_INFLIGHT && slot == NULL; i++)
        if (sbx->inflight[i].mod == mod && strcmp(sbx->inflight[i].tenant, t) == 0)
            slot = &sbx->inflight[i];
    for (size_t i = 0; i < HS_SBX_MAX_INFLIGHT && slot == NULL; i++)
        if (sbx->inflight[i].n == 0) {
            slot = &sbx->inflight[i];
            slot->mod = mod;
            snprintf(slot->tenant, sizeof slot->tenant, "%s", t);
        }
    if (slot != NULL && slot->n >= mod->ops->max_concurrent) {
        *over = true;
        slot = NULL;
    } else if (slot != NULL) {
        slot->n++;
    }
    pthread_mutex_unlock(&sbx->conc_mu);
    return slot;
}

static void inflight_give(struct hs_sbx *sbx, struct hs_sbx_inflight *slot)
{
    if (slot == NULL)
        return;
    pthread_mutex_lock(&sbx->conc_mu);
    slot->n--;
    pthread_mutex_unlock(&sbx->conc_mu);
}

static int route_call(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                      struct hs_http_response *resp)
{
    struct hs_sbx_route_ctx *rc = ud;
    struct hs_sbx *sbx = rc->sbx;
    struct hs_sbx_mod *mod = rc->mod;
    struct fault_pick pick;

    bool over = false;
    struct hs_sbx_inflight *slot = inflight_take(sbx, mod, req, &over);
    pthread_mutex_lock(&sbx->lock);
    if (over) {
        int ret = mod->ops->concurrent(mod->state, resp);
        rc->count++;
        mod->n_requests++;
        mod->status[ret == HS_OK ? 4 : 5]++;
        pthread_mutex_unlock(&sbx->lock);
        return ret;
    }
    pick_faults(sbx, mod, req->path != NULL ? req->path : "", &pick);
    if (pick.latency_ms > 0 || pick.timeout) {
        pthread_mutex_unlock(&sbx->lock);
        hs_sbx_sleep(sbx, pick.latency_ms + (pick.timeout ? pick.timeout_ms : 0));
        pthread_mutex_lock(&sbx->lock);
    }
    int ret;
    if (pick.timeout) {
        ret = hs_sbx_reply_error(resp, 504, "injected timeout");
    } else if (pick.err5xx) {
        ret = hs_sbx_reply_error(resp, 503, "injected fault");
    } else if (pick.throttle) {
        int ra = (int)pick.retry_after_s;
        ret = mod->ops->throttled != NULL ? mod->ops->throttled(mod->state, resp, ra)
                                          : generic_429(resp, pick.retry_after_s);
    } else {
        ret = rc->fn(rc->ud, req, m, resp);
    }
    bool stall = !pick.timeout && !pick.err5xx && !pick.throttle && pick.stall_ms > 0;
    rc->count++;
    mod->n_requests++;
    int cls = ret == HS_OK ? resp->status / 100 : 5;
    mod->status[(cls >= 1 && cls <= 5) ? cls : 0]++;
    pthread_mutex_unlock(&sbx->lock);
    /* the handler's change is committed; the client sees it only after the stall */
    if (stall)
        hs_sbx_sleep(sbx, pick.stall_ms);
    inflight_give(sbx, slot);
    return ret;
}

int hs_sbx_route(struct hs_sbx *sbx, const struct hs_sbx_module_ops *ops, const char *method,
                 const char *pattern, hs_route_fn fn, void *ud)
{
    struct hs_sbx_mod *mod = mod_of(sbx, ops);
    if (mod == NULL || method == NULL || pattern == NULL || pattern[0] != '/' || fn == NULL)
        return HS_EINVAL;
    if (sbx->n_routes == sbx->cap_routes) {
        size_t cap = sbx->cap_routes ? sbx->cap_routes * 2 : 64;
        struct hs_sbx_route_ctx **v =
            hs_reallocarray(sbx->routes, cap, sizeof(struct hs_sbx_route_ctx *));
        if (v == NULL)
            return HS_ENOMEM;
        sbx->routes = v;
        sbx->cap_routes = cap;
    }
    struct hs_sbx_route_ctx *ctx = hs_calloc(1, sizeof *ctx);
    char *full = hs_asprintf("/%s%s", ops->name, pattern);
    if (ctx != NULL)
        ctx->endpoint = hs_asprintf("%s %s", method, pattern);
    if (ctx == NULL || full == NULL || ctx->endpoint == NULL) {
        if (ctx != NULL)
            hs_free(ctx->endpoint);
        hs_free(ctx);
        hs_free(full);
        return HS_ENOMEM;
    }
    ctx->sbx = sbx;
    ctx->mod = mod;
    ctx->fn = fn;
    ctx->ud = ud;
    int rc = hs_router_add(sbx->router, method, full, route_call, ctx);
    hs_free(full);
    if (rc != HS_OK) {
        hs_free(ctx->endpoint);
        hs_free(ctx);
        return rc;
    }
    sbx->routes[sbx->n_routes++] = ctx;
    return HS_OK;
}

int hs_sbx_routes(struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod,
                  const struct hs_sbx_route_def *defs, size_t n, void *ud)
{
    int rc = HS_OK;
    for (size_t i = 0; rc == HS_OK && i < n; i++)
        rc = hs_sbx_route(sbx, mod, defs[i].method, defs[i].pattern, defs[i].fn, ud);
    return rc;
}

int hs_sbx_handle(void *ud, const struct hs_http_request *req, struct hs_http_response *resp)
{
    struct hs_sbx *sbx = ud;
    if (req->method == NULL || req->path == NULL || req->path[0] != '/')
        return hs_sbx_reply_error(resp, 400, "bad request: missing method or path");
    return hs_router_handle(sbx->router, req, resp);
}

/* ---- stats ---- */

json_t *hs_sbx_stats_json(struct hs_sbx *sbx)
{
    json_t *root = json_object();
    json_t *providers = json_object();
    json_t *flat = json_object();
    uint64_t total = 0;
    bool ok = root && providers && flat;
    for (size_t i = 0; ok && i < sbx->n_mods; i++) {
        struct hs_sbx_mod *mod = &sbx->mods[i];
        json_t *eps = json_object();
        json_t *status =
            json_pack("{s:I, s:I, s:I, s:I, s:I}", "2xx", (json_int_t)mod->status[2], "3xx",
                      (json_int_t)mod->status[3], "4xx", (json_int_t)mod->status[4], "5xx",
                      (json_int_t)mod->status[5], "other",
                      (json_int_t)mod->status[0] + (json_int_t)mod->status[1]);
        json_t *p = json_object();
        ok = eps && status && p;
        for (size_t r = 0; ok && r < sbx->n_routes; r++) {
            struct hs_sbx_route_ctx *ctx = sbx->routes[r];
            if (ctx->mod != mod || ctx->count == 0)
                continue;
            char *key = hs_asprintf("%s %s", mod->ops->name, ctx->endpoint);
            ok = key != NULL &&
                 json_object_set_new(eps, ctx->endpoint, json_integer((json_int_t)ctx->count)) ==
                     0 &&
                 json_object_set_new(flat, key, json_integer((json_int_t)ctx->count)) == 0;
            hs_free(key);
        }
        if (ok)
            ok = json_object_set_new(p, "total", json_integer((json_int_t)mod->n_requests)) == 0 &&
                 json_object_set(p, "status", status) == 0 &&
                 json_object_set(p, "endpoints", eps) == 0 &&
                 json_object_set(providers, mod->ops->name, p) == 0;
        json_decref(eps);
        json_decref(status);
        json_decref(p);
        total += mod->n_requests;
    }
    json_t *wh = ok ? hs_sbx_wh_stats(sbx) : NULL;
    ok = ok && wh != NULL &&
         json_object_set_new(root, "total", json_integer((json_int_t)total)) == 0 &&
         json_object_set(root, "providers", providers) == 0 &&
         json_object_set(root, "endpoints", flat) == 0 &&
         json_object_set(root, "webhooks", wh) == 0;
    json_decref(wh);
    json_decref(providers);
    json_decref(flat);
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}

void hs_sbx_stats_reset(struct hs_sbx *sbx)
{
    for (size_t i = 0; i < sbx->n_mods; i++) {
        sbx->mods[i].n_requests = 0;
        memset(sbx->mods[i].status, 0, sizeof sbx->mods[i].status);
    }
    for (size_t r = 0; r < sbx->n_routes; r++)
        sbx->routes[r]->count = 0;
    sbx->n_unmatched = 0;
    hs_sbx_wh_stats_reset(sbx);
}

/* ---- reset and seed ---- */

int hs_sbx_reset_locked(struct hs_sbx *sbx, const struct hs_sbx_world *world, bool everything,
                        struct hs_error *err)
{
    for (size_t i = 0; i < sbx->n_mods; i++) {
        struct hs_sbx_mod *mod = &sbx->mods[i];
        int rc = mod->ops->reset(mod->state, world, err);
        if (rc != HS_OK)
            return hs_error_prefix(err, "cannot reset module '%s'", mod->ops->name);
        mod->burst_left = 0;
    }
    if (everything) {
        hs_sbx_rates_clear(sbx);
        hs_sbx_stats_reset(sbx);
        hs_sbx_oauth_clear(&sbx->oauth);
        hs_sbx_wh_clear(sbx);
    }
    return HS_OK;
}

/* ---- persistence ---- */

json_t *hs_sbx_save_json(struct hs_sbx *sbx)
{
    pthread_mutex_lock(&sbx->lock);
    int64_t now = hs_sbx_now_ms(sbx);
    int64_t real = hs_env_now_ms(&sbx->env);
    json_t *mods = json_object();
    bool ok = mods != NULL;
    for (size_t i = 0; ok && i < sbx->n_mods; i++) {
        struct hs_sbx_mod *mod = &sbx->mods[i];
        if (mod->ops->save == NULL)
            continue;
        json_t *s = mod->ops->save(mod->state);
        ok = s != NULL && json_object_set_new(mods, mod->ops->name, s) == 0;
    }
    json_t *root = NULL;
    if (ok)
        root = json_pack("{s:s, s:{s:I, s:I, s:b}, s:I, s:b, s:o, s:o*, s:o*}", "format",
                         SAVE_FORMAT, "clock", "now", (json_int_t)now, "offset_ms",
                         (json_int_t)(now - real), "frozen", sbx->frozen, "seed",
                         (json_int_t)sbx->seed, "seeded", sbx->seeded, "modules", mods, "oauth",
                         hs_sbx_oauth_save(sbx), "webhooks", hs_sbx_wh_save(sbx));
    else
        json_decref(mods);
    pthread_mutex_unlock(&sbx->lock);
    return root;
}

int hs_sbx_save(struct hs_sbx *sbx, struct hs_error *err)
{
    if (sbx->data_file == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot save sandbox state: no data file (--data)");
    json_t *root = hs_sbx_save_json(sbx);
    if (root == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot save sandbox state to '%s': out of memory",
                            sbx->data_file);
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = hs_json_dump(root, &b);
    json_decref(root);
    if (rc != HS_OK) {
        hs_buf_release(&b);
        return hs_error_set(err, rc, "cannot save sandbox state to '%s': out of memory",
                            sbx->data_file);
    }
    char *tmp = hs_asprintf("%s.tmp", sbx->data_file);
    if (tmp == NULL) {
        hs_buf_release(&b);
        return hs_error_set(err, HS_ENOMEM, "cannot save sandbox state to '%s': out of memory",
                            sbx->data_file);
    }
    FILE *f = fopen(tmp, "wb");
    rc = HS_OK;
    if (f == NULL) {
        rc = hs_error_set(err, HS_EIO, "cannot save sandbox state to '%s': %s", tmp,
                          strerror(errno));
    } else {
        bool ok = fwrite(b.data, 1, b.len, f) == b.len && fflush(f) == 0 && fsync(fileno(f)) == 0;
        int e = errno;
        if (fclose(f) != 0 && ok) {
            ok = false;
            e = errno;
        }
        if (!ok)
            rc = hs_error_set(err, HS_EIO, "cannot save sandbox state to '%s': %s", tmp,
                              strerror(e));
        else if (rename(tmp, sbx->data_file) != 0)
            rc = hs_error_set(err, HS_EIO, "cannot save sandbox state to '%s': %s", sbx->data_file,
                              strerror(errno));
        if (rc != HS_OK)
            unlink(tmp);
    }
    hs_free(tmp);
    hs_buf_release(&b);
    return rc;
}

static int read_file(const char *path, struct hs_buf *out, bool *out_missing, struct hs_error *err)
{
    *out_missing = false;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (errno == ENOENT) {
            *out_missing = true;
            return HS_OK;
        }
        return hs_error_set(err, HS_EIO, "cannot read sandbox data '%s': %s", path,
                            strerror(errno));
    }
    char chunk[65536];
    size_t n;
    int rc = HS_OK;
    while (rc == HS_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (out->len + n > MAX_DATA_FILE)
            rc = hs_error_set(err, HS_ETOOBIG, "cannot read sandbox data '%s': larger than 1 GiB",
                              path);
        else if (hs_buf_append(out, chunk, n) != HS_OK)
            rc = hs_error_set(err, HS_ENOMEM, "cannot read sandbox data '%s': out of memory", path);
    }
    if (rc == HS_OK && ferror(f))
        rc = hs_error_set(err, HS_EIO, "cannot read sandbox data '%s': read error", path);
    fclose(f);
    return rc;
}

static int load_data(struct hs_sbx *sbx, struct hs_error *err)
{
    struct hs_buf b;
    hs_buf_init(&b);
    bool missing = false;
    int rc = read_file(sbx->data_file, &b, &missing, err);
    if (rc != HS_OK || missing) {
        hs_buf_release(&b);
        return rc;
    }
    json_t *root = NULL;
    rc = hs_json_parse((const uint8_t *)b.data, b.len, "sandbox data", &root, err);
    hs_buf_release(&b);
    if (rc != HS_OK)
        return hs_error_prefix(err, "cannot load '%s'", sbx->data_file);
    if (!json_is_object(root) || !hs_str_eq(hs_json_str(root, "format"), SAVE_FORMAT)) {
        json_decref(root);
        return hs_error_set(err, HS_EPROTO,
                            "cannot load '%s': not a hoopsync-sandbox data file (format '%s' "
                            "expected)",
                            sbx->data_file, SAVE_FORMAT);
    }
    json_t *clock = json_object_get(root, "clock");
    if (json_is_object(clock)) {
        sbx->frozen = json_is_true(json_object_get(clock, "frozen"));
        if (sbx->frozen)
            sbx->anchor_emul = json_integer_value(json_object_get(clock, "now"));
        else
            sbx->anchor_emul =
                sbx->anchor_real + json_integer_value(json_object_get(clock, "offset_ms"));
    }
    json_t *seed = json_object_get(root, "seed");
    if (json_is_integer(seed))
        sbx->seed = (uint64_t)json_integer_value(seed);
    sbx->seeded = json_is_true(json_object_get(root, "seeded"));
    json_t *mods = json_object_get(root, "modules");
    for (size_t i = 0; rc == HS_OK && i < sbx->n_mods; i++) {
        struct hs_sbx_mod *mod = &sbx->mods[i];
        json_t *saved = json_object_get(mods, mod->ops->name);
        if (saved == NULL || mod->ops->load == NULL)
            continue;
        rc = mod->ops->load(mod->state, saved, err);
        if (rc != HS_OK)
            hs_error_prefix(err, "cannot load '%s': module '%s'", sbx->data_file, mod->ops->name);
    }
    if (rc == HS_OK && json_object_get(root, "oauth") != NULL)
        rc = hs_sbx_oauth_load(sbx, json_object_get(root, "oauth"), err);
    if (rc == HS_OK && json_object_get(root, "webhooks") != NULL)
        rc = hs_sbx_wh_load(sbx, json_object_get(root, "webhooks"), err);
    json_decref(root);
    return rc;
}

/* ---- lifecycle ---- */

static void unmatched_count(struct hs_sbx *sbx)
{
    pthread_mutex_lock(&sbx->lock);
    sbx->n_unmatched++;
    pthread_mutex_unlock(&sbx->lock);
}

static int fallback(void *ud, const struct hs_http_request *req, struct hs_http_response *resp)
{
    struct hs_sbx *sbx = ud;
    unmatched_count(sbx);
    return hs_http_response_json_take(resp, 404,
                                      json_pack("{s:s, s:s}", "message",
                                                "no sandbox route matches this path", "path",
                                                req->path ? req->path : ""));
}

static int init_locks(struct hs_sbx *sbx)
{
    pthread_condattr_t ca;
    if (pthread_mutex_init(&sbx->lock, NULL) != 0)
        return HS_EIO;
    if (pthread_mutex_init(&sbx->sleep_mu, NULL) != 0) {
        pthread_mutex_destroy(&sbx->lock);
        return HS_EIO;
    }
    if (pthread_mutex_init(&sbx->conc_mu, NULL) != 0) {
        pthread_mutex_destroy(&sbx->sleep_mu);
        pthread_mutex_destroy(&sbx->lock);
        return HS_EIO;
    }
    int rc = pthread_condattr_init(&ca);
    if (rc == 0) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        rc = pthread_cond_init(&sbx->sleep_cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (rc != 0) {
        pthread_mutex_destroy(&sbx->conc_mu);
        pthread_mutex_destroy(&sbx->sleep_mu);
        pthread_mutex_destroy(&sbx->lock);
        return HS_EIO;
    }
    return HS_OK;
}

int hs_sbx_open(const struct hs_sbx_options *opt, struct hs_sbx **out, struct hs_error *err)
{
    *out = NULL;
    struct hs_sbx *sbx = hs_calloc(1, sizeof *sbx);
    if (sbx == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot open sandbox: out of memory");
    if (init_locks(sbx) != HS_OK) {
        hs_free(sbx);
        return hs_error_set(err, HS_EIO, "cannot open sandbox: cannot create locks");
    }
    if (opt->env != NULL)
        sbx->env = *opt->env;
    else
        hs_env_system(&sbx->env, HS_LOG_WARN);
    hs_sbx_map_init(&sbx->rates, hs_free);
    sbx->seed = opt->seed ? opt->seed : 1;
    sbx->seeded = opt->seeded;
    sbx->sizes = opt->sizes;
    hs_rng_seed(&sbx->rng, sbx->seed);
    hs_rng_seed(&sbx->fault_rng, sbx->seed ^ 0xfa017ull);
    hs_sbx_oauth_init(&sbx->oauth, sbx->seed ^ 0x0a7e5ull);
    sbx->no_rate_limits = opt->no_rate_limits;
    sbx->time_scale = opt->time_scale ? opt->time_scale : 1;
    sbx->anchor_real = hs_env_now_ms(&sbx->env);
    sbx->anchor_emul = opt->start_ms ? opt->start_ms : sbx->anchor_real;
    /* from here on hs_sbx_close cleans up */
    int rc = hs_sbx_faults_parse(opt->faults, &sbx->faults, err);
    if (rc != HS_OK)
        goto fail;
    if (opt->static_token != NULL && (sbx->static_token = hs_strdup(opt->static_token)) == NULL)
        goto fail_oom;
    if (opt->data_file != NULL && (sbx->data_file = hs_strdup(opt->data_file)) == NULL)
        goto fail_oom;
    if (hs_router_new(&sbx->router) != HS_OK)
        goto fail_oom;
    hs_router_set_fallback(sbx->router, fallback, sbx);
    rc = hs_sbx_admin_routes(sbx);
    if (rc != HS_OK)
        goto fail_oom;
    rc = hs_sbx_wh_open(sbx, &sbx->wh, err);
    if (rc != HS_OK)
        goto fail;

    const struct hs_sbx_module_ops *list[HS_SBX_MAX_MODULES];
    size_t n = 0;
    if (opt->modules != NULL) {
        for (size_t i = 0; i < opt->n_modules && n < HS_SBX_MAX_MODULES; i++)
            list[n++] = opt->modules[i];
    } else {
        n = hs_sbx_builtin_modules(list, HS_SBX_MAX_MODULES);
    }
    for (size_t i = 0; i < n; i++) {
        struct hs_sbx_mod *mod = &sbx->mods[sbx->n_mods];
        mod->ops = list[i];
        rc = list[i]->create(sbx, &mod->state, err);
        if (rc != HS_OK) {
            hs_error_prefix(err, "cannot open sandbox module '%s'", list[i]->name);
            goto fail;
        }
        sbx->n_mods++;
        rc = list[i]->routes(mod->state, sbx);
        if (rc != HS_OK) {
            hs_error_set(err, rc, "cannot open sandbox module '%s': cannot add its routes (%s)",
                         list[i]->name, hs_strerror(rc));
            goto fail;
        }
    }

    struct hs_sbx_world world;
    memset(&world, 0, sizeof world);
    if (sbx->seeded) {
        rc = hs_sbx_world_generate(sbx->seed, &sbx->sizes, &world);
        if (rc != HS_OK) {
            hs_error_set(err, rc, "cannot seed sandbox with seed %" PRIu64 ": %s", sbx->seed,
                         rc == HS_ERANGE ? "sizes out of range" : hs_strerror(rc));
            goto fail;
        }
    }
    rc = hs_sbx_reset_locked(sbx, sbx->seeded ? &world : NULL, false, err);
    hs_sbx_world_release(&world);
    if (rc != HS_OK)
        goto fail;
    if (sbx->data_file != NULL) {
        rc = load_data(sbx, err);
        if (rc != HS_OK)
            goto fail;
    }
    *out = sbx;
    return HS_OK;

fail_oom:
    rc = hs_error_set(err, HS_ENOMEM, "cannot open sandbox: out of memory");
fail : {
    char *keep = sbx->data_file; /* never overwrite the data file of a failed open */
    sbx->data_file = NULL;
    hs_free(keep);
    hs_sbx_close(sbx);
    return rc;
}
}

void hs_sbx_close(struct hs_sbx *sbx)
{
    if (sbx == NULL)
        return;
    hs_sbx_stop(sbx);
    if (sbx->data_file != NULL) {
        struct hs_error e;
        hs_error_clear(&e);
        if (hs_sbx_save(sbx, &e) != HS_OK)
            hs_env_log(&sbx->env, HS_LOG_ERROR, "%s", e.msg);
    }
    hs_sbx_wh_close(sbx->wh);
    sbx->wh = NULL;
    for (size_t i = 0; i < sbx->n_mods; i++)
        if (sbx->mods[i].ops->destroy != NULL)
            sbx->mods[i].ops->destroy(sbx->mods[i].state);
    hs_router_free(sbx->router);
    for (size_t r = 0; r < sbx->n_routes; r++) {
        hs_free(sbx->routes[r]->endpoint);
        hs_free(sbx->routes[r]);
    }
    hs_free(sbx->routes);
    hs_sbx_map_release(&sbx->rates);
    hs_sbx_oauth_release(&sbx->oauth);
    hs_free(sbx->static_token);
    hs_free(sbx->data_file);
    pthread_cond_destroy(&sbx->sleep_cv);
    pthread_mutex_destroy(&sbx->conc_mu);
    pthread_mutex_destroy(&sbx->sleep_mu);
    pthread_mutex_destroy(&sbx->lock);
    hs_free(sbx);
}
