/*
 * sandbox/sbx.h - the emulator core shared by every provider module of hoopsync-sandbox.
 *
 * Design:     one struct hs_sbx holds the modules (one per provider, each a const
 *             struct hs_sbx_module_ops table), the movable clock, the rate-limit counters, the
 *             fault settings, request statistics, OAuth2 grants and tokens, and the webhook
 *             subscriptions and delivery queue. Modules register their routes through
 *             hs_sbx_route(), which wraps each handler so that the core, not the module,
 *             counts the request in /_sandbox/stats, injects faults, and serializes access:
 *             every handler runs under the one state lock, so module state needs no locks.
 *             The core also serves /_sandbox/... (admin API) and the OAuth2 endpoints'
 *             shared logic (hs_sbx_oauth_*), and generates one seeded "world" (seed.c) that
 *             every module derives its data from, so that the accounting side's customers
 *             overlap the CRM's companies under other spellings, as in real life.
 * Invariants: the same seed and sizes give byte-identical data; the clock only moves through
 *             /_sandbox/clock (or time passing when not frozen).
 * Threads:    HTTP worker threads call in; one mutex (state lock) guards everything a handler
 *             touches. The webhook sender runs on its own thread and takes the lock only to
 *             dequeue.
 * Ownership:  the sbx owns module states; modules own their records.
 * Not here:   HTTP serving (net/server.c), routing (net/router.c), providers (sandbox/<p>.c).
 */
#ifndef HS_SANDBOX_SBX_H
#define HS_SANDBOX_SBX_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hoopsync/error.h"
#include "net/http.h"
#include "net/router.h"
#include "util/env.h"

struct hs_sbx;

/* Sizes of the seeded world (0 means "use the default"). */
struct hs_sbx_sizes {
    unsigned companies;   /* CRM companies (default 40) */
    unsigned contacts;    /* CRM contacts (default 2 per company) */
    unsigned products;    /* products (default 20) */
    unsigned deals;       /* deals (default 30) */
    unsigned customers;   /* accounting customers that are NOT in the CRM (default 10) */
    unsigned overlap_pct; /* % of CRM companies that also exist in accounting (default 50) */
    unsigned won_pct;     /* % of deals at "closedwon", the others at other stages at random
                             (0: the first deals take every stage, then stages at random) */
    unsigned lines;       /* line items of every deal, 1..6 (0: 1 to 6 at random) */
    unsigned usd_deals;   /* 1: every deal is priced in USD, whatever its company's currency */
};

/* For customers and overlap_pct: none at all (0 in those fields means the default). */
#define HS_SBX_NONE UINT_MAX

/* ---- the seeded world: what "really exists", from which each module builds its data ---- */
struct hs_sbx_company {
    char name[128];       /* as the CRM spells it, UTF-8 (may be accented) */
    char acct_name[128];  /* as the accounting system spells it ("ACME Inc" vs "Acme, Inc."),
                             "" when !in_accounting */
    char domain[96];      /* CRM website domain */
    char acct_email[128]; /* accounting billing email (may have another domain) */
    char phone[32];
    char street[128];
    char city[64];
    char postcode[16];
    char country[3];    /* ISO 3166-1 alpha-2 */
    char currency[4];   /* ISO 4217 */
    char tax_id[32];    /* VAT/ABN/EIN or "" */
    bool in_crm;        /* exists in the CRM */
    bool in_accounting; /* exists in the accounting system */
};

struct hs_sbx_person {
    char first[64];
    char last[64];
    char email[128];
    char phone[32];
    size_t company; /* index into companies */
};

struct hs_sbx_product {
    char name[128];
    char sku[32];
    char description[256];
    int64_t price_minor; /* unit price in minor units of currency */
    char currency[4];
    bool in_accounting; /* also exists as an accounting item */
};

struct hs_sbx_deal_line {
    size_t product;       /* index into products */
    int64_t quantity;     /* whole units */
    int64_t price_minor;  /* unit price (may differ from the product's) */
    int32_t discount_pct; /* 0..100 */
};

struct hs_sbx_deal {
    char name[160];
    size_t company; /* index into companies */
    size_t contact; /* index into persons (a person of the same company) */
    char currency[4];
    int stage;        /* index into hs_sbx_deal_stages */
    int64_t close_ms; /* close date, ms since epoch (within 180 days of 2025-01-01) */
    size_t n_lines;   /* 1..6 */
    struct hs_sbx_deal_line lines[6];
};

struct hs_sbx_world {
    size_t n_companies;
    struct hs_sbx_company *companies;
    size_t n_persons;
    struct hs_sbx_person *persons;
    size_t n_products;
    struct hs_sbx_product *products;
    size_t n_deals;
    struct hs_sbx_deal *deals;
};

/* Deal stages of the default pipeline, in order ("appointmentscheduled" ... "closedwon",
 * "closedlost"), as HubSpot names them. */
extern const char *const hs_sbx_deal_stages[];
extern const size_t hs_sbx_n_deal_stages;

/* Generates the world for seed and sizes (deterministic). Caller frees with
 * hs_sbx_world_release. */
HS_MUST_CHECK int hs_sbx_world_generate(uint64_t seed, const struct hs_sbx_sizes *sizes,
                                        struct hs_sbx_world *out);
void hs_sbx_world_release(struct hs_sbx_world *w);

/* The world's exchange rates: currencies it uses, and micro-units of each per 1 USD
 * (0 when the currency is not in the table). */
size_t hs_sbx_fx_count(void);
const char *hs_sbx_fx_code(size_t i);
int64_t hs_sbx_fx_per_usd_micro(const char *code);

/* ---- provider modules ---- */
struct hs_sbx_module_ops {
    const char *name; /* "hubspot": routes live under "/hubspot/" */
    /* Creates empty module state. */
    int (*create)(struct hs_sbx *sbx, void **out_state, struct hs_error *err);
    void (*destroy)(void *state);
    /* Registers every route with hs_sbx_route(). */
    int (*routes)(void *state, struct hs_sbx *sbx);
    /* Drops all records and tenants, then (when world != NULL) builds tenants and records
     * from the world. Called with the state lock held. */
    int (*reset)(void *state, const struct hs_sbx_world *world, struct hs_error *err);
    /* {"portalId": 123, ...}: the module's tenant ids for /_sandbox/tenants. New ref. */
    json_t *(*tenants)(void *state);
    /* Persistence for --data FILE: whole state as JSON, and back. */
    json_t *(*save)(void *state);
    int (*load)(void *state, const json_t *saved, struct hs_error *err);
    /* Writes the provider's own 429 answer (used for injected 429 bursts). */
    int (*throttled)(void *state, struct hs_http_response *resp, int retry_after_s);
    /* Writes the provider's own 401 answer. */
    int (*unauthorized)(void *state, struct hs_http_response *resp, const char *why);
    /* Builds one webhook delivery (body, headers incl. signature) for events to url signed
     * with secret. Optional. */
    int (*webhook_request)(void *state, const json_t *events, const char *secret, const char *url,
                           struct hs_http_request *out);
    /* The provider's limit of calls in flight at once per tenant (Xero: 5; 0 = none), the
     * request header naming the tenant, and the provider's 429 for it (state lock held). */
    unsigned max_concurrent;
    const char *concurrent_header;
    int (*concurrent)(void *state, struct hs_http_response *resp);
};

extern const struct hs_sbx_module_ops hs_sbx_hubspot_ops;
extern const struct hs_sbx_module_ops hs_sbx_quickbooks_ops;
extern const struct hs_sbx_module_ops hs_sbx_xero_ops;
extern const struct hs_sbx_module_ops hs_sbx_zoho_ops;

/* ---- the emulator ---- */
struct hs_sbx_options {
    uint64_t seed; /* world seed (default 1) */
    bool seeded;   /* generate seeded data at start */
    struct hs_sbx_sizes sizes;
    const char *static_token; /* bearer token accepted for every tenant, or NULL */
    bool no_rate_limits;      /* switch provider rate limits off (benchmarks) */
    uint32_t time_scale;      /* rate-limit windows are divided by this (>= 1; 60 = a minute
                                 of limits per second) */
    const char *faults;       /* fault spec, see hs_sbx_set_faults */
    const char *data_file;    /* persist state here (loaded at open, saved at close) */
    int64_t start_ms;         /* initial clock (0 = real time) */
    const struct hs_env *env; /* log and rng (NULL = system) */
    /* Modules to load, in order (NULL = every built-in module that is linked in). Tests pass
     * their own fake modules here. */
    const struct hs_sbx_module_ops *const *modules;
    size_t n_modules;
};

HS_MUST_CHECK int hs_sbx_open(const struct hs_sbx_options *opt, struct hs_sbx **out,
                              struct hs_error *err);
/* Stops the webhook sender, saves to --data (failures are logged) and frees. NULL is fine. */
void hs_sbx_close(struct hs_sbx *sbx);
/* Wakes every request held by injected latency or timeout faults and makes later ones return
 * at once; call before closing the HTTP server so that shutdown is prompt. */
void hs_sbx_stop(struct hs_sbx *sbx);
/* Writes the state to the --data file now (temp file + rename). HS_EINVAL without --data. */
HS_MUST_CHECK int hs_sbx_save(struct hs_sbx *sbx, struct hs_error *err);
/* Takes and releases the state lock, for callers outside a handler (tests, benchmarks). */
void hs_sbx_lock(struct hs_sbx *sbx);
void hs_sbx_unlock(struct hs_sbx *sbx);
/* The request handler for the whole sandbox (modules + /_sandbox + 404). ud = sbx. */
int hs_sbx_handle(void *ud, const struct hs_http_request *req, struct hs_http_response *resp);

/* Registers a module route. pattern starts after the module prefix ("/crm/v3/objects/{t}"),
 * the core prepends "/<name>". Stats name the route "<name> <METHOD> <pattern>". Every call
 * of fn runs with the state lock held, after faults were applied. */
HS_MUST_CHECK int hs_sbx_route(struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod,
                               const char *method, const char *pattern, hs_route_fn fn, void *ud);

/* One route of a module's table (hs_sbx_routes). */
struct hs_sbx_route_def {
    const char *method;
    const char *pattern;
    hs_route_fn fn;
};

/* Registers defs[0..n) with hs_sbx_route, all with ud; stops at the first failure. */
HS_MUST_CHECK int hs_sbx_routes(struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod,
                                const struct hs_sbx_route_def *defs, size_t n, void *ud);

/* Current emulated time (ms since epoch). Call with the state lock held (handlers are). */
int64_t hs_sbx_now_ms(struct hs_sbx *sbx);
/* Deterministic RNG of the emulator (ids, seeded data). Lock held. */
struct hs_rng *hs_sbx_rng(struct hs_sbx *sbx);
bool hs_sbx_rate_limits_on(const struct hs_sbx *sbx);

/*
 * Fixed-window rate limit counter `key` (e.g. "hubspot:123:burst"): allows `limit` calls per
 * `window_ms` (divided by the time scale). Returns true and sets *out_remaining when the call
 * is allowed, false and sets *out_retry_ms otherwise. Always true when limits are off.
 */
bool hs_sbx_rate_take(struct hs_sbx *sbx, const char *key, int64_t limit, int64_t window_ms,
                      int64_t *out_remaining, int64_t *out_retry_ms);
/* Calls left in counter `key`'s current window (as hs_sbx_rate_take counts them), taking
 * none: limit when no window of it is running. For the headers of a call refused by another
 * window. */
int64_t hs_sbx_rate_left(struct hs_sbx *sbx, const char *key, int64_t limit, int64_t window_ms);

/* Bearer-token check for provider `mod` and tenant (NULL = any tenant): true when token is
 * the static token or a live access token issued for that provider and tenant. */
bool hs_sbx_auth_ok(struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod,
                    const char *authorization_header, const char *tenant);

/* OAuth2 emulation shared by modules. */
struct hs_sbx_oauth_profile {
    int64_t access_ttl_s;  /* HubSpot 1800, QBO 3600, Xero 1800 */
    int64_t refresh_ttl_s; /* 0 = no expiry */
    bool rotate_refresh;   /* issue a new refresh token on every refresh (old one dies) */
    bool qbo_extras;       /* add x_refresh_token_expires_in (QuickBooks) */
    bool hubspot_extras;   /* add token_use and hub_id (tenant); errors also carry HubSpot's
                              status/message/correlationId/category fields */
};
/* Authorization endpoint: answers 302 to redirect_uri?code=...&state=... for tenant. */
int hs_sbx_oauth_authorize(struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod,
                           const char *tenant, const struct hs_http_request *req,
                           struct hs_http_response *resp);
/* Same, adding "&<tenant_param>=<tenant>" to the redirect (QuickBooks sends realmId). */
int hs_sbx_oauth_authorize_param(struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod,
                                 const char *tenant, const char *tenant_param,
                                 const struct hs_http_request *req, struct hs_http_response *resp);
/* Token endpoint (form body: grant_type=authorization_code|refresh_token, ...). Answers the
 * standard JSON token response or {"error":"invalid_grant",...} with 400. */
int hs_sbx_oauth_token(struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod,
                       const struct hs_sbx_oauth_profile *profile,
                       const struct hs_http_request *req, struct hs_http_response *resp);

/* Queues a webhook event (a JSON object owned by the caller; copied) for every subscription
 * of module mod; the sender batches, signs (mod->webhook_request) and delivers them, with
 * duplicate/reorder faults applied. */
void hs_sbx_emit(struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod, const json_t *event);
/* True when a subscription of module mod would receive an event now (lock held): callers
 * skip building events nobody receives (hs_sbx_emit would drop them). */
bool hs_sbx_listening(const struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod);
/* Waits (lock NOT held) until every queued webhook event was delivered or given up, at most
 * timeout_ms of real time. HS_OK or HS_ETIMEOUT. */
HS_MUST_CHECK int hs_sbx_webhook_drain(struct hs_sbx *sbx, int64_t timeout_ms);

/* Applies a fault spec "5xx=0.1,latency=50,timeout=0.01,429=0.05,dup=0.2,reorder=0.2"
 * (rates 0..1, latency in ms; empty string clears). */
HS_MUST_CHECK int hs_sbx_set_faults(struct hs_sbx *sbx, const char *spec, struct hs_error *err);

#endif
