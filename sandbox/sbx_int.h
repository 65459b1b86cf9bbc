/*
 * sandbox/sbx_int.h - internals shared by the sandbox core files (not for provider modules).
 *
 * Design:     struct hs_sbx is defined here so that sbx.c (lifecycle, routing, clock, stats,
 *             persistence), faults.c (fault spec, rate limits), oauth.c, webhook.c and
 *             admin.c can each own one concern of the same object. A small string-keyed hash
 *             map (map.c) backs rate-limit counters, OAuth codes and tokens, and name sets of
 *             the seed generator, so that every per-request lookup is O(1).
 * Invariants: everything below `lock` is only touched with `lock` held, except the fields
 *             marked otherwise.
 * Threads:    see sandbox/sbx.h: one state lock; the webhook sender waits on wh_cv with it.
 * Not here:   the public contract (sbx.h), provider modules (sandbox/<provider>.c).
 */
#ifndef HS_SANDBOX_SBX_INT_H
#define HS_SANDBOX_SBX_INT_H

#include <pthread.h>

#include "sandbox/sbx.h"

/* ---- string-keyed hash map (map.c) ---- */
struct hs_sbx_map_ent {
    struct hs_sbx_map_ent *next;
    uint64_t hash;
    void *val;
    char key[];
};

struct hs_sbx_map {
    struct hs_sbx_map_ent **b;
    size_t nb; /* number of buckets (power of two, or 0) */
    size_t n;  /* number of entries */
    void (*free_val)(void *val);
};

/* free_val (may be NULL) runs on values that are replaced, deleted or cleared. */
void hs_sbx_map_init(struct hs_sbx_map *m, void (*free_val)(void *));
void hs_sbx_map_release(struct hs_sbx_map *m);
void hs_sbx_map_clear(struct hs_sbx_map *m);
void *hs_sbx_map_get(const struct hs_sbx_map *m, const char *key);
/* Inserts or replaces. On success the map owns val; on failure (HS_ENOMEM) the caller does. */
HS_MUST_CHECK int hs_sbx_map_put(struct hs_sbx_map *m, const char *key, void *val);
/* Removes key and returns its value without freeing it (NULL when absent). */
void *hs_sbx_map_take(struct hs_sbx_map *m, const char *key);
/* Calls fn for every entry; entries for which fn returns true are removed (value freed). */
void hs_sbx_map_each(struct hs_sbx_map *m, bool (*fn)(void *ud, const char *key, void *val),
                     void *ud);

/* ---- faults (faults.c) ---- */
#define HS_SBX_PPM 1000000u
/* Longest stall_path of a fault spec, with its NUL. */
#define HS_SBX_STALL_PATH_MAX 128

struct hs_sbx_faults {
    uint32_t p5xx; /* probabilities in parts per million */
    uint32_t ptimeout;
    uint32_t p429;
    uint32_t pdup;
    uint32_t preorder;
    int64_t latency_ms;     /* added to every module request */
    int64_t timeout_ms;     /* how long an injected timeout holds the request (default 30000) */
    uint32_t burst_429;     /* requests answered 429 per injected burst (default 1) */
    uint32_t retry_after_s; /* Retry-After of injected 429s (default 1) */
    int64_t stall_ms;       /* answer of a matching request held this long after its handler */
    char stall_path[HS_SBX_STALL_PATH_MAX]; /* substring of the path to stall ("": every one) */
};

/* Parses spec into out (cleared first). */
HS_MUST_CHECK int hs_sbx_faults_parse(const char *spec, struct hs_sbx_faults *out,
                                      struct hs_error *err);
/* Canonical spec text of f ("" when no fault is set). Caller frees; NULL on ENOMEM. */
char *hs_sbx_faults_format(const struct hs_sbx_faults *f);
/* JSON view of f for GET /_sandbox/faults. New reference (NULL on ENOMEM). */
json_t *hs_sbx_faults_json(const struct hs_sbx_faults *f);
/* True with probability ppm / 10^6, drawn from rng. */
bool hs_sbx_faults_roll(struct hs_rng *rng, uint32_t ppm);

/* ---- OAuth (oauth.c) ---- */
struct hs_sbx_grant;

struct hs_sbx_oauth {
    struct hs_sbx_map codes;   /* code -> struct oauth_code */
    struct hs_sbx_map refresh; /* refresh token -> struct hs_sbx_grant (borrowed) */
    struct hs_sbx_map access;  /* access token -> struct oauth_access */
    struct hs_sbx_grant **grants;
    size_t n_grants;
    size_t cap_grants;
    size_t access_sweep_at; /* sweep expired access tokens when the map reaches this size */
    bool deny;              /* authorization endpoint refuses consent */
    struct hs_rng rng;      /* token and code generation */
};

void hs_sbx_oauth_init(struct hs_sbx_oauth *o, uint64_t seed);
void hs_sbx_oauth_release(struct hs_sbx_oauth *o);
/* Drops every code, grant and token. */
void hs_sbx_oauth_clear(struct hs_sbx_oauth *o);
/* Revokes every grant of provider (NULL = all) and tenant (NULL = all); returns the count. */
size_t hs_sbx_oauth_revoke(struct hs_sbx *sbx, const char *provider, const char *tenant);
/* Persistence: grants and live tokens. */
json_t *hs_sbx_oauth_save(struct hs_sbx *sbx);
HS_MUST_CHECK int hs_sbx_oauth_load(struct hs_sbx *sbx, const json_t *saved, struct hs_error *err);

/* ---- webhooks (webhook.c) ---- */
struct hs_sbx_wh;

HS_MUST_CHECK int hs_sbx_wh_open(struct hs_sbx *sbx, struct hs_sbx_wh **out, struct hs_error *err);
/* Stops the sender thread (pending events are dropped) and frees. */
void hs_sbx_wh_close(struct hs_sbx_wh *wh);
/* Lock held: */
HS_MUST_CHECK int hs_sbx_wh_subscribe(struct hs_sbx *sbx, const char *provider, const char *url,
                                      const char *secret, json_t **out, struct hs_error *err);
json_t *hs_sbx_wh_list(struct hs_sbx *sbx);
void hs_sbx_wh_clear(struct hs_sbx *sbx);
json_t *hs_sbx_wh_stats(struct hs_sbx *sbx);
void hs_sbx_wh_stats_reset(struct hs_sbx *sbx);
json_t *hs_sbx_wh_save(struct hs_sbx *sbx);
HS_MUST_CHECK int hs_sbx_wh_load(struct hs_sbx *sbx, const json_t *saved, struct hs_error *err);
/* True when url is http(s) to a loopback host (127.0.0.0/8, localhost, [::1]). */
bool hs_sbx_wh_url_ok(const char *url);

/* ---- admin API (admin.c) ---- */
HS_MUST_CHECK int hs_sbx_admin_routes(struct hs_sbx *sbx);

/* ---- the emulator ---- */
#define HS_SBX_MAX_MODULES 8

struct hs_sbx_mod {
    const struct hs_sbx_module_ops *ops;
    void *state;
    uint64_t n_requests;
    uint64_t status[6];  /* by status / 100 (index 0: anything else) */
    uint32_t burst_left; /* remaining requests of an injected 429 burst */
    size_t wh_batch_max; /* most webhook events in one delivery (0: the default of 100); a
                            module sets it from its routes() (Zoho posts one record per call) */
};

struct hs_sbx_route_ctx {
    struct hs_sbx *sbx;
    struct hs_sbx_mod *mod;
    hs_route_fn fn;
    void *ud;
    char *endpoint; /* "GET /crm/v3/objects/{objectType}" */
    uint64_t count;
};

#define HS_SBX_MAX_INFLIGHT 64

struct hs_sbx {
    /* set at open, read-only afterwards (no lock needed) */
    struct hs_env env;
    char *static_token;
    char *data_file;
    bool no_rate_limits;
    uint32_t time_scale;
    struct hs_router *router;
    struct hs_sbx_route_ctx **routes;
    size_t n_routes;
    size_t cap_routes;
    struct hs_sbx_mod mods[HS_SBX_MAX_MODULES];
    size_t n_mods;

    /* the state lock and everything it guards */
    pthread_mutex_t lock;
    struct hs_rng rng;       /* modules: ids and data */
    struct hs_rng fault_rng; /* fault decisions, separate so faults never shift ids */
    uint64_t seed;
    bool seeded;
    struct hs_sbx_sizes sizes;
    bool frozen;
    int64_t anchor_emul; /* emulated time at anchor_real (or the frozen time) */
    int64_t anchor_real;
    struct hs_sbx_faults faults;
    struct hs_sbx_map rates;
    struct hs_sbx_oauth oauth;
    struct hs_sbx_wh *wh;
    uint64_t n_unmatched;

    /* calls in flight per (module, tenant) of modules with a concurrency limit; conc_mu only
     * (taken without the state lock: a call waiting for that lock is in flight too) */
    pthread_mutex_t conc_mu;
    struct hs_sbx_inflight {
        const struct hs_sbx_mod *mod;
        char tenant[64];
        unsigned n;
    } inflight[HS_SBX_MAX_INFLIGHT];

    /* interruptible sleeps of injected latency and timeouts */
    pthread_mutex_t sleep_mu;
    pthread_cond_t sleep_cv;
    bool stopping; /* guarded by sleep_mu */
};

/* Built-in modules (modules.c): fills out with up to max tables, returns the count. */
size_t hs_sbx_builtin_modules(const struct hs_sbx_module_ops **out, size_t max);
/* Sleeps ms of real time unless hs_sbx_stop is called; lock NOT held. */
void hs_sbx_sleep(struct hs_sbx *sbx, int64_t ms);
/* Module with that name, or NULL. */
struct hs_sbx_mod *hs_sbx_find_mod(struct hs_sbx *sbx, const char *name);
/* Lock held: resets rate limits (faults.c). */
void hs_sbx_rates_clear(struct hs_sbx *sbx);
/* Lock held: stats as JSON / reset (sbx.c). */
json_t *hs_sbx_stats_json(struct hs_sbx *sbx);
void hs_sbx_stats_reset(struct hs_sbx *sbx);
/* Lock held: reset modules (world NULL = empty), optionally everything else. */
HS_MUST_CHECK int hs_sbx_reset_locked(struct hs_sbx *sbx, const struct hs_sbx_world *world,
                                      bool everything, struct hs_error *err);
/* Lock held: clock. */
json_t *hs_sbx_clock_json(struct hs_sbx *sbx);
void hs_sbx_clock_advance(struct hs_sbx *sbx, int64_t ms);
void hs_sbx_clock_set(struct hs_sbx *sbx, int64_t ms);
void hs_sbx_clock_freeze(struct hs_sbx *sbx, bool freeze);
/* Lock NOT held: whole state as JSON (for --data). */
json_t *hs_sbx_save_json(struct hs_sbx *sbx);

/* Formats ms since epoch as "2025-01-01T00:00:00.000Z" into out (at least 32 bytes). */
void hs_sbx_iso8601(int64_t ms, char *out, size_t size);
/* Sets a {"message": msg} JSON answer with status. */
HS_MUST_CHECK int hs_sbx_reply_error(struct hs_http_response *resp, int status, const char *msg);

#endif
