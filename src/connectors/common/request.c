/*
 * connectors/common/request.c - authorised, rate-limited, retrying provider requests.
 *
 * Design:     one loop per call (see request.h for the policy). Each attempt takes one call
 *             from the limiter, sends, and classifies the answer: done (any status we do not
 *             retry), refresh-and-resend (first 401), wait-and-resend (429, 500/502/503/504,
 *             transport error). Waits go through the env's sleep; a 429 also pauses the
 *             limiter scope for the same time so every worker of the account holds off,
 *             not only the one that was told. Retry-After wins over the computed backoff
 *             (for 429 and 5xx alike). A 429's wait goes to the limiter when there is one:
 *             the scope is paused for that long and the next attempt's take() waits it out
 *             or, when the wait is longer than the limiter's longest wait (the CLI's
 *             --max-wait), refuses the call with HS_ERATELIMIT saying when work resumes.
 *             Without a limiter a Retry-After beyond retry_after_max_ms is not waited: the
 *             answer is returned as is. A limiter refusal before sending (a day window spent) is
 * the same HS_ERATELIMIT: the pass stops, what it did not do stays pending. Invariants: at most
 * max_attempts sends per call; the token source is asked at most twice (once normally, once forced
 * after the first 401). Threads:    reentrant; shares only cfg's limiter (thread-safe) and token
 * source (its own lock) between threads. Ownership:  see request.h; the token string lives only
 * inside this call and the request's Authorization header. Not here:   provider payloads
 * (connectors/<p>/), the limiter (net/ratelimit.c), OAuth2 refresh itself (net/oauth.c).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "connectors/common/request.h"
#include "net/ratelimit.h"
#include "util/alloc.h"
#include "util/civil.h"
#include "util/env.h"
#include "util/json.h"
#include "util/str.h"

#define MSG_MAX_BODY 120

/* "10000 calls a day", "100 calls per 10 s" for a window of limit calls per window_ms. */
static void fmt_window(char *out, size_t cap, int64_t limit, int64_t ms)
{
    static const struct {
        int64_t ms;
        const char *one;
        const char *unit;
    } units[] = {
        {86400000, "a day", "days"}, {3600000, "an hour", "h"},  {60000, "a minute", "min"},
        {1000, "a second", "s"},     {1, "a millisecond", "ms"},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms % units[i].ms != 0)
            continue;
        if (ms == units[i].ms)
            snprintf(out, cap, "%lld calls %s", (long long)limit, units[i].one);
        else
            snprintf(out, cap, "%lld calls per %lld %s", (long long)limit,
                     (long long)(ms / units[i].ms), units[i].unit);
        return;
    }
}

void hs_conn_limit_reason(const char *conn, const struct hs_ratelimit_block *b, char *out,
                          size_t cap)
{
    char when[40];
    hs_conn_fmt_utc(b->resume_at_ms, when, sizeof when);
    if (b->limit <= 0 && strcmp(b->scope, "day") == 0) {
        snprintf(out, cap,
                 "connection '%s': the provider's daily limit is spent (HTTP 429): work resumes "
                 "at %s",
                 conn, when);
        return;
    }
    if (b->limit <= 0) {
        snprintf(out, cap,
                 "connection '%s': the provider asked us to wait (HTTP 429): work resumes at %s",
                 conn, when);
        return;
    }
    char win[64];
    fmt_window(win, sizeof win, b->limit, b->window_ms);
    snprintf(out, cap, "connection '%s': its limit of %s (%s) is spent: work resumes at %s", conn,
             win, b->scope, when);
}

/* HS_ERATELIMIT for a call the limiter refused: what is spent and when work resumes. */
static int refused(const struct hs_connector_config *cfg, const struct hs_ratelimit_block *b,
                   struct hs_error *err)
{
    char why[HS_ERRMSG_MAX];
    hs_conn_limit_reason(cfg->name != NULL ? cfg->name : "?", b, why, sizeof why);
    return hs_error_set(err, HS_ERATELIMIT, "%s", why);
}

void hs_conn_fmt_utc(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (cap == 0)
        return;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(out, cap, "%lld ms", (long long)ms);
}

static struct hs_conn_request_opts resolve_opts(const struct hs_conn_request_opts *in)
{
    struct hs_conn_request_opts o;
    memset(&o, 0, sizeof o);
    if (in != NULL)
        o = *in;
    if (o.max_attempts <= 0)
        o.max_attempts = HS_CONN_MAX_ATTEMPTS;
    if (o.backoff_base_ms <= 0)
        o.backoff_base_ms = HS_CONN_BACKOFF_BASE_MS;
    if (o.backoff_max_ms <= 0)
        o.backoff_max_ms = HS_CONN_BACKOFF_MAX_MS;
    if (o.backoff_max_ms < o.backoff_base_ms)
        o.backoff_max_ms = o.backoff_base_ms;
    if (o.retry_after_max_ms <= 0)
        o.retry_after_max_ms = HS_CONN_RETRY_AFTER_MAX_MS;
    return o;
}

/* Wait before the n-th retry (n >= 1): uniform in [d/2, d], d = min(max, base * 2^(n-1)). */
static int64_t backoff_ms(const struct hs_conn_request_opts *o, const struct hs_env *env, int n)
{
    int64_t d = o->backoff_base_ms;
    for (int i = 1; i < n && d < o->backoff_max_ms; i++)
        d *= 2;
    if (d > o->backoff_max_ms)
        d = o->backoff_max_ms;
    int64_t half = d / 2;
    uint64_t span = (uint64_t)(d - half) + 1;
    return half + (int64_t)(hs_env_rand(env) % span);
}

static int set_bearer(struct hs_http_request *req, const char *token)
{
    char *v = hs_asprintf("Bearer %s", token);
    if (v == NULL)
        return HS_ENOMEM;
    int rc = hs_http_headers_set(&req->headers, "Authorization", v);
    memset(v, 0, strlen(v));
    hs_free(v);
    return rc;
}

static int get_token(const struct hs_connector_config *cfg, bool force, struct hs_http_request *req,
                     struct hs_error *err)
{
    if (cfg->token == NULL)
        return hs_error_set(err, HS_EAUTH,
                            "connection '%s': no token source; run 'hoopsync connect %s'",
                            cfg->name ? cfg->name : "?", cfg->name ? cfg->name : "<name>");
    char *tok = NULL;
    int rc = cfg->token(cfg->token_ud, force, &tok, err);
    if (rc != HS_OK) {
        hs_free(tok);
        return rc;
    }
    if (tok == NULL)
        return hs_error_set(err, HS_EAUTH, "connection '%s': token source gave no token",
                            cfg->name ? cfg->name : "?");
    rc = set_bearer(req, tok);
    memset(tok, 0, strlen(tok));
    hs_free(tok);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot set the authorization header: out of memory");
    return HS_OK;
}

static bool retry_status(int status)
{
    return status == 500 || status == 502 || status == 503 || status == 504;
}

int hs_conn_request_ex(const struct hs_connector_config *cfg, const char *scope,
                       struct hs_http_request *req, const struct hs_conn_request_opts *opts,
                       struct hs_http_response *resp, struct hs_error *err)
{
    if (cfg == NULL || cfg->http == NULL || cfg->env == NULL || req == NULL || resp == NULL ||
        req->url == NULL || req->method == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot send request: missing config, url or method");
    const struct hs_conn_request_opts o = resolve_opts(opts);
    struct hs_conn_stats *st = o.stats;
    const char *sc = scope != NULL ? scope : "all";
    if (st != NULL)
        st->requests++;
    int rc = HS_OK;
    if (!o.no_auth) {
        rc = get_token(cfg, false, req, err);
        if (rc != HS_OK)
            return rc;
    }
    bool refreshed = false;
    int retries = 0;
    bool paused = false; /* the last 429's wait is the limiter's (next take) */
    for (int attempt = 1;; attempt++) {
        struct hs_ratelimit_block block;
        int64_t t0 = hs_env_now_ms(cfg->env);
        if (cfg->limiter != NULL && hs_ratelimit_take(cfg->limiter, sc, &block) != HS_OK)
            return refused(cfg, &block, err);
        if (paused && st != NULL)
            st->waited_ms += hs_env_now_ms(cfg->env) - t0;
        paused = false;
        hs_http_response_release(resp);
        hs_http_response_init(resp);
        struct hs_error terr;
        hs_error_clear(&terr);
        rc = hs_http_send(cfg->http, req, resp, &terr);
        if (st != NULL) {
            st->attempts++;
            if (attempt > 1)
                st->retries++;
        }
        int64_t wait = -1; /* < 0: do not retry */
        if (rc == HS_OK) {
            if (resp->status == 401 && !o.no_auth && !refreshed) {
                refreshed = true;
                if (st != NULL)
                    st->refreshes++;
                if (attempt < o.max_attempts) {
                    rc = get_token(cfg, true, req, err);
                    if (rc != HS_OK)
                        return rc;
                    wait = 0;
                }
            } else if (resp->status == 429 || retry_status(resp->status)) {
                if (st != NULL) {
                    if (resp->status == 429)
                        st->status_429++;
                    else
                        st->status_5xx++;
                }
                int64_t ra = hs_conn_retry_after_ms(
                    hs_http_headers_get(&resp->headers, "Retry-After"), hs_env_now_ms(cfg->env));
                const char *psc = sc; /* the limiter scope a 429 pauses */
                if (ra < 0 && resp->status == 429 && o.wait_429 != NULL)
                    ra = o.wait_429(o.wait_429_ud, resp, &psc);
                if (ra > o.retry_after_max_ms && (cfg->limiter == NULL || resp->status != 429))
                    wait = -1;
                else if (ra >= 0)
                    wait = ra;
                else if (resp->status == 429 && o.wait_429_ms > 0)
                    wait = o.wait_429_ms;
                else
                    wait = backoff_ms(&o, cfg->env, retries + 1);
                retries++;
                if (wait > 0 && resp->status == 429 && cfg->limiter != NULL) {
                    /* the limiter holds the scope (every worker of the account waits) and the
                     * next attempt's take() waits it out, or refuses the call when the wait is
                     * longer than the limiter's longest wait (a day window spent) */
                    hs_ratelimit_pause(cfg->limiter, psc, wait);
                    paused = true;
                    wait = 0;
                }
            }
        } else if (rc == HS_EIO || rc == HS_ETIMEOUT) {
            if (st != NULL)
                st->transport_errors++;
            wait = backoff_ms(&o, cfg->env, retries + 1);
            retries++;
        } else {
            if (err != NULL)
                *err = terr;
            return rc;
        }
        if (wait < 0 || attempt >= o.max_attempts) {
            if (rc != HS_OK && err != NULL)
                *err = terr;
            if (rc != HS_OK)
                hs_error_prefix(err, "%s: %s: gave up after %d attempts",
                                cfg->name ? cfg->name : "?", req->method, attempt);
            return rc;
        }
        if (wait > 0) {
            hs_env_sleep_ms(cfg->env, wait);
            if (st != NULL)
                st->waited_ms += wait;
        }
    }
}

int hs_conn_request(const struct hs_connector_config *cfg, const char *scope,
                    struct hs_http_request *req, struct hs_http_response *resp,
                    struct hs_error *err)
{
    return hs_conn_request_ex(cfg, scope, req, NULL, resp, err);
}

/* ---- status mapping -------------------------------------------------------------------- */

static const json_t *get_ci(const json_t *obj, const char *a, const char *b)
{
    const json_t *v = json_object_get(obj, a);
    return v != NULL ? v : json_object_get(obj, b);
}

/* The provider's own words from a JSON error body, or NULL (borrowed from j). */
static const char *provider_message(const json_t *j, const char **out_detail)
{
    *out_detail = NULL;
    if (!json_is_object(j))
        return NULL;
    const json_t *fault = get_ci(j, "Fault", "fault");
    if (json_is_object(fault)) {
        const json_t *errs = get_ci(fault, "Error", "error");
        const json_t *e0 = json_is_array(errs) ? json_array_get(errs, 0) : NULL;
        if (json_is_object(e0)) {
            const json_t *d = get_ci(e0, "Detail", "detail");
            if (json_is_string(d))
                *out_detail = json_string_value(d);
            const json_t *m = get_ci(e0, "Message", "message");
            if (json_is_string(m))
                return json_string_value(m);
        }
    }
    static const char *const keys[] = {"message", "error_description", "error", "Message"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const json_t *v = json_object_get(j, keys[i]);
        if (json_is_string(v) && json_string_length(v) > 0)
            return json_string_value(v);
    }
    return NULL;
}

static int code_for_status(int status)
{
    switch (status) {
    case 400:
    case 422:
        return HS_EINVAL;
    case 401:
    case 403:
        return HS_EAUTH;
    case 404:
    case 410:
        return HS_ENOTFOUND;
    case 409:
    case 412:
        return HS_ECONFLICT;
    case 413:
        return HS_ETOOBIG;
    case 429:
        return HS_ERATELIMIT;
    default:
        break;
    }
    if (status >= 500 && status <= 599)
        return HS_EIO;
    return HS_EPROTO;
}

/* Printable, single-line copy of at most max bytes of (p, n). */
static void clip(char *out, size_t cap, const char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[o] = '\0';
}

int hs_conn_check(const struct hs_connector_config *cfg, const struct hs_http_request *req,
                  const struct hs_http_response *resp, struct hs_error *err)
{
    if (resp == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot check response: none given");
    if (resp->status >= 200 && resp->status <= 299)
        return HS_OK;
    const char *name = cfg != NULL && cfg->name != NULL ? cfg->name : "?";
    int code = code_for_status(resp->status);
    char *path = NULL;
    char *query = NULL;
    if (req != NULL && req->url != NULL && hs_http_split_url(req->url, &path, &query) != HS_OK)
        path = NULL;
    hs_free(query);
    char words[MSG_MAX_BODY + 1];
    words[0] = '\0';
    json_t *j = NULL;
    if (resp->body.len > 0 && hs_json_parse((const uint8_t *)resp->body.data, resp->body.len,
                                            "error body", &j, NULL) == HS_OK) {
        const char *detail = NULL;
        const char *m = provider_message(j, &detail);
        char both[2 * MSG_MAX_BODY + 4] = {0};
        if (m != NULL && detail != NULL && strcmp(m, detail) != 0)
            snprintf(both, sizeof both, "%.60s: %s", m, detail);
        else if (m != NULL)
            snprintf(both, sizeof both, "%s", m);
        clip(words, sizeof words, both, strlen(both));
    }
    json_decref(j);
    if (words[0] == '\0' && resp->body.len > 0)
        clip(words, sizeof words, resp->body.data, resp->body.len);
    const char *method = req != NULL && req->method != NULL ? req->method : "?";
    const char *p = path != NULL ? path : "?";
    if (code == HS_EAUTH)
        hs_error_set(err, code, "%s: %s %s: HTTP %d: %s; run 'hoopsync connect %s'", name, method,
                     p, resp->status, words[0] ? words : "not authorized", name);
    else
        hs_error_set(err, code, "%s: %s %s: HTTP %d%s%s", name, method, p, resp->status,
                     words[0] ? ": " : "", words);
    hs_free(path);
    return code;
}

char *hs_conn_url(const struct hs_connector_config *cfg, const char *path)
{
    const char *base = cfg != NULL && cfg->base_url != NULL ? cfg->base_url : "";
    const char *pp = path != NULL ? path : "";
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    while (*pp == '/')
        pp++;
    return hs_asprintf("%.*s/%s", (int)bl, base, pp);
}

/* ---- Retry-After ----------------------------------------------------------------------- */

static int month_index(const char *s, size_t n)
{
    static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                         "jul", "aug", "sep", "oct", "nov", "dec"};
    if (n != 3)
        return -1;
    for (int i = 0; i < 12; i++) {
        bool eq = true;
        for (size_t k = 0; k < 3; k++) {
            char c = s[k];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if (c != months[i][k])
                eq = false;
        }
        if (eq)
            return i;
    }
    return -1;
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* HTTP date (IMF-fixdate, RFC 850, asctime) to ms since the epoch; -1 when unreadable. */
static int64_t parse_http_date(const char *s)
{
    int64_t day = -1, mon = -1, year = -1, hh = -1, mm = -1, ss = -1;
    const char *p = s;
    int n_tokens = 0;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',' || *p == '-' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        const char *t = p;
        while (*p != '\0' && *p != ' ' && *p != ',' && *p != '-' && *p != '\t')
            p++;
        size_t n = (size_t)(p - t);
        if (++n_tokens > 8 || n > 16)
            return -1;
        if (n == 8 && t[2] == ':' && t[5] == ':' && all_digits(t, 2) && all_digits(t + 3, 2) &&
            all_digits(t + 6, 2)) {
            hh = (t[0] - '0') * 10 + (t[1] - '0');
            mm = (t[3] - '0') * 10 + (t[4] - '0');
            ss = (t[6] - '0') * 10 + (t[7] - '0');
        } else if (all_digits(t, n)) {
            int64_t v = 0;
            if (hs_str_to_i64(t, n, &v) != HS_OK)
                return -1;
            if (n == 4 && year < 0)
                year = v;
            else if (n <= 2 && day < 0)
                day = v;
            else if (n == 2 && year < 0)
                year = v < 70 ? 2000 + v : 1900 + v;
            else
                return -1;
        } else {
            int m = month_index(t, n);
            if (m >= 0)
                mon = m + 1;
            /* weekday names and "GMT" are skipped */
        }
    }
    if (day < 1 || day > 31 || mon < 1 || year < 1970 || year > 9999 || hh < 0 || hh > 23 ||
        mm < 0 || mm > 59 || ss < 0 || ss > 60)
        return -1;
    int64_t days = hs_days_from_civil(year, mon, day);
    return ((days * 24 + hh) * 60 + mm) * 60000 + ss * 1000;
}

int64_t hs_conn_retry_after_ms(const char *value, int64_t now_ms)
{
    if (value == NULL)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(value);
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    if (n == 0 || n > 64)
        return -1;
    if (all_digits(value, n)) {
        int64_t s = 0;
        if (n > 9 || hs_str_to_i64(value, n, &s) != HS_OK)
            return HS_CONN_RETRY_AFTER_MAX_MS * 1000; /* absurdly long: treated as too long */
        return s * 1000;
    }
    char tmp[65];
    memcpy(tmp, value, n);
    tmp[n] = '\0';
    int64_t at = parse_http_date(tmp);
    if (at < 0)
        return -1;
    return at > now_ms ? at - now_ms : 0;
}
