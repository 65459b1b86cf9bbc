/*
 * connectors/common/request.h - the one way a connector talks to its provider.
 *
 * Design:     every provider call of every connector goes through hs_conn_request(): it
 *             takes one call from the account's rate limiter (cfg->limiter, scope such as
 *             "all", "search", "batch"), adds `Authorization: Bearer <token>` from
 *             cfg->token, sends through cfg->http and retries what is worth retrying:
 *               - 401: asks the token source for a forced refresh, once, and resends;
 *               - 429: waits Retry-After (seconds or an HTTP date) when the provider sends
 *                 one (or opts->wait_429 tells), else opts->wait_429_ms when set (QuickBooks
 *                 documents 60 s), else the backoff below; the limiter scope is paused for
 *                 that long so the other workers of the account wait too, and the next
 *                 attempt waits in the limiter: with a longest wait set on it
 *                 (hs_ratelimit_set_max_wait) a longer wait fails the call with
 *                 HS_ERATELIMIT ("... work resumes at <time>"), as does a call the limiter
 *                 refuses before sending; without a limiter, a Retry-After beyond
 *                 retry_after_max_ms is not waited (the 429 is returned);
 *               - 5xx (500, 502, 503, 504) and transport errors (HS_EIO, HS_ETIMEOUT):
 *                 exponential backoff with jitter: the n-th retry waits a uniform time in
 *                 [d/2, d] with d = min(backoff_max_ms, backoff_base_ms * 2^(n-1)),
 *                 through cfg->env's rng and sleep (tests use a fake clock).
 *             At most opts->max_attempts sends (default HS_CONN_MAX_ATTEMPTS = 5, the 401
 *             resend included). Waits are all through the env, never a real sleep of ours.
 *             Every method is retried: connectors make creates safe to repeat with an
 *             idempotency key (QuickBooks requestid, HubSpot upsert on hoopsync_id); a caller
 *             that cannot sets max_attempts = 1.
 * Ownership:  req stays the caller's (the helper sets/replaces its Authorization header and
 *             leaves it there); resp must be initialised by the caller and holds the final
 *             answer on return (released and re-filled between attempts).
 * Not here:   provider URLs and JSON (connectors/<p>/), the token source and OAuth2
 *             (net/oauth.h), the limiter (net/ratelimit.h).
 */
#ifndef HS_CONNECTORS_COMMON_REQUEST_H
#define HS_CONNECTORS_COMMON_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hoopsync/common.h"
#include "hoopsync/connector.h"
#include "hoopsync/error.h"
#include "net/http.h"
#include "net/ratelimit.h"

#define HS_CONN_MAX_ATTEMPTS       5
#define HS_CONN_BACKOFF_BASE_MS    500
#define HS_CONN_BACKOFF_MAX_MS     30000
#define HS_CONN_RETRY_AFTER_MAX_MS ((int64_t)15 * 60 * 1000)

/* Counters of one or more hs_conn_request_ex calls (added to, never reset by the helper). */
struct hs_conn_stats {
    int64_t requests;  /* hs_conn_request calls */
    int64_t attempts;  /* sends, retries included */
    int64_t retries;   /* attempts beyond the first */
    int64_t refreshes; /* forced token refreshes after a 401 */
    int64_t status_429;
    int64_t status_5xx;
    int64_t transport_errors;
    int64_t waited_ms; /* backoff and Retry-After waits (limiter waits not included) */
};

struct hs_conn_request_opts {
    int max_attempts;        /* 0 = HS_CONN_MAX_ATTEMPTS; 1 = never retry */
    int64_t backoff_base_ms; /* 0 = HS_CONN_BACKOFF_BASE_MS */
    int64_t backoff_max_ms;  /* 0 = HS_CONN_BACKOFF_MAX_MS */
    int64_t wait_429_ms;     /* wait after a 429 without Retry-After; 0 = use the backoff */
    /* Optional, for providers whose 429 says which limit without a Retry-After (Zoho's code
     * 44, the day): the wait in ms (< 0: not known, use wait_429_ms) and *scope, the limiter
     * scope to pause (left as the request's when not set). */
    int64_t (*wait_429)(void *ud, const struct hs_http_response *resp, const char **scope);
    void *wait_429_ud;
    /* A Retry-After longer than this is not waited: the 429 is returned. 0 = 15 minutes. */
    int64_t retry_after_max_ms;
    bool no_auth;                /* send without an Authorization header (token not asked) */
    struct hs_conn_stats *stats; /* may be NULL */
};

/*
 * Sends req (method and absolute url set; body and headers as the caller wants them) with
 * the policy above and the default options. Returns HS_OK with the final response in resp,
 * whatever its status (a 401 after the refresh, a 429 or 5xx after the last attempt all
 * come back as responses: see hs_conn_check()); the transport's error (HS_EIO, HS_ETIMEOUT)
 * when the last attempt got no answer; the token source's error (HS_EAUTH naming the
 * connection and `hoopsync connect <name>`) when no token could be had; HS_ENOMEM.
 * scope NULL means "all". err may be NULL.
 */
/* "2026-11-24 18:00:00 UTC" for ms since the epoch (messages and status). */
HS_API void hs_conn_fmt_utc(int64_t ms, char *out, size_t cap);
/* The sentence for a call the limiter refused ("connection 'accounting': its limit of 10000
 * calls a day (day) is spent: work resumes at ..."). */
HS_API void hs_conn_limit_reason(const char *conn, const struct hs_ratelimit_block *b, char *out,
                                 size_t cap);

HS_API HS_MUST_CHECK int hs_conn_request(const struct hs_connector_config *cfg, const char *scope,
                                         struct hs_http_request *req, struct hs_http_response *resp,
                                         struct hs_error *err);

/* Same, with options (opts may be NULL = defaults). */
HS_API HS_MUST_CHECK int hs_conn_request_ex(const struct hs_connector_config *cfg,
                                            const char *scope, struct hs_http_request *req,
                                            const struct hs_conn_request_opts *opts,
                                            struct hs_http_response *resp, struct hs_error *err);

/*
 * Maps a final response to a code: HS_OK for 2xx; otherwise sets err to
 * "<name>: <METHOD> <path>: HTTP <status>: <provider message>" and returns
 * 400/422 -> HS_EINVAL, 401/403 -> HS_EAUTH (message ends with "run 'hoopsync connect
 * <name>'"), 404/410 -> HS_ENOTFOUND, 409/412 -> HS_ECONFLICT, 413 -> HS_ETOOBIG,
 * 429 -> HS_ERATELIMIT, 5xx -> HS_EIO, other -> HS_EPROTO. The provider message is taken
 * from the JSON body ("message", "error_description", "error", QuickBooks
 * Fault.Error[0].Message/Detail) or else the first 120 bytes of the body.
 */
HS_API HS_MUST_CHECK int hs_conn_check(const struct hs_connector_config *cfg,
                                       const struct hs_http_request *req,
                                       const struct hs_http_response *resp, struct hs_error *err);

/*
 * Convenience: builds "<cfg->base_url><path>" into a new string (caller hs_free()s), with a
 * single '/' between them whatever their ends. NULL on ENOMEM.
 */
HS_API char *hs_conn_url(const struct hs_connector_config *cfg, const char *path);

/*
 * Parses a Retry-After value: delta-seconds ("120") or an HTTP date ("Wed, 21 Oct 2015
 * 07:28:00 GMT", also RFC 850 and asctime forms) relative to now_ms. Returns the wait in
 * milliseconds (>= 0; a date in the past gives 0), or -1 when value is absent or unreadable.
 */
HS_API int64_t hs_conn_retry_after_ms(const char *value, int64_t now_ms);

#endif
