/*
 * sandbox/faults.c - fault injection settings and the fixed-window rate limiter.
 *
 * Design:     a fault spec is "key=value,..." with rates as decimals in [0, 1] kept as parts
 *             per million (exact, no floating point, so a spec prints back as it was given)
 *             and durations in milliseconds:
 *               5xx=R       answer 503 {"message":"injected fault"} instead of the handler
 *               timeout=R   hold the request timeout_ms (default 30000), then answer 504
 *               429=R       start a burst of burst429 (default 1) provider-shaped 429 answers
 *               latency=MS  add MS before every provider request
 *               dup=R       deliver a webhook batch twice
 *               reorder=R   shuffle a webhook batch / hold it back behind later events
 *               stall=MS    run the handler (the change is committed), then hold its
 *                           answer MS before sending it: a client can die between a
 *                           provider's commit and reading the answer (crash tests)
 *               stall_path=S  stall only requests whose path contains S (default: all)
 *               timeout_ms=MS, burst429=N, retry_after=S  tune the above
 *             The rate limiter keeps one fixed window per key in a hash map: the window starts
 *             at the first call and lasts window_ms / time_scale of emulated time, so moving
 *             the clock through /_sandbox/clock opens a new window. The map is capped; when
 *             full, expired windows are dropped (and, if none expired, all of them).
 * Threads:    callers hold the state lock.
 * Not here:   applying faults to requests (sbx.c) and webhooks (webhook.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/sbx_int.h"
#include "util/alloc.h"
#include "util/str.h"

#define MAX_SPEC       1024
#define MAX_RATE_KEYS  65536
#define MAX_LATENCY_MS 600000

struct window {
    int64_t start;
    int64_t len;
    int64_t count;
};

/* Parses "0.25", "1", ".5", "0" (at most 6 decimals) into parts per million. */
static bool parse_rate(const char *s, size_t n, uint32_t *out)
{
    uint64_t whole = 0;
    uint64_t frac = 0;
    size_t i = 0;
    size_t digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        whole = whole * 10 + (uint64_t)(s[i] - '0');
        if (whole > 1)
            return false;
        i++;
        digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        size_t fd = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (fd == 6)
                return false;
            frac = frac * 10 + (uint64_t)(s[i] - '0');
            fd++;
            i++;
            digits++;
        }
        for (; fd < 6; fd++)
            frac *= 10;
    }
    if (i != n || digits == 0)
        return false;
    uint64_t ppm = whole * HS_SBX_PPM + frac;
    if (ppm > HS_SBX_PPM)
        return false;
    *out = (uint32_t)ppm;
    return true;
}

static bool parse_count(const char *s, size_t n, int64_t max, int64_t *out)
{
    int64_t v = 0;
    if (hs_str_to_i64(s, n, &v) != HS_OK || v < 0 || v > max)
        return false;
    *out = v;
    return true;
}

int hs_sbx_faults_parse(const char *spec, struct hs_sbx_faults *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    out->timeout_ms = 30000;
    out->burst_429 = 1;
    out->retry_after_s = 1;
    if (spec == NULL)
        return HS_OK;
    size_t len = strlen(spec);
    if (len > MAX_SPEC)
        return hs_error_set(err, HS_EINVAL, "invalid fault spec: longer than %d bytes", MAX_SPEC);
    const char *p = spec;
    const char *end = spec + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;
        while (p < item_end && (*p == ' ' || *p == '\t'))
            p++;
        const char *ie = item_end;
        while (ie > p && (ie[-1] == ' ' || ie[-1] == '\t'))
            ie--;
        size_t n = (size_t)(ie - p);
        if (n == 0) {
            if (comma == NULL)
                break;
            p = comma + 1;
            continue;
        }
        const char *eq = memchr(p, '=', n);
        if (eq == NULL)
            return hs_error_set(err, HS_EINVAL, "invalid fault '%.*s': expected key=value", (int)n,
                                p);
        size_t klen = (size_t)(eq - p);
        const char *v = eq + 1;
        size_t vlen = n - klen - 1;
        uint32_t *rate = NULL;
        int64_t *ms = NULL;
        int64_t num = 0;
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(p, k, klen) == 0)
        if (KEY("5xx"))
            rate = &out->p5xx;
        else if (KEY("timeout"))
            rate = &out->ptimeout;
        else if (KEY("429"))
            rate = &out->p429;
        else if (KEY("dup"))
            rate = &out->pdup;
        else if (KEY("reorder"))
            rate = &out->preorder;
        else if (KEY("latency"))
            ms = &out->latency_ms;
        else if (KEY("timeout_ms"))
            ms = &out->timeout_ms;
        else if (KEY("stall"))
            ms = &out->stall_ms;
        else if (KEY("stall_path")) {
            if (vlen == 0 || vlen >= sizeof out->stall_path || memchr(v, '=', vlen) != NULL)
                return hs_error_set(err, HS_EINVAL,
                                    "invalid fault 'stall_path': '%.*s' must be 1 to %zu bytes "
                                    "without '=' or ','",
                                    (int)vlen, v, sizeof out->stall_path - 1);
            memcpy(out->stall_path, v, vlen);
            out->stall_path[vlen] = '\0';
        } else if (KEY("burst429") || KEY("retry_after")) {
            if (!parse_count(v, vlen, 3600, &num) || num < 1)
                return hs_error_set(err, HS_EINVAL,
                                    "invalid fault '%.*s': '%.*s' must be an integer from 1 to "
                                    "3600",
                                    (int)klen, p, (int)vlen, v);
            if (KEY("burst429"))
                out->burst_429 = (uint32_t)num;
            else
                out->retry_after_s = (uint32_t)num;
        } else {
            return hs_error_set(err, HS_EINVAL,
                                "invalid fault '%.*s': unknown key (expected 5xx, timeout, 429, "
                                "latency, dup, reorder, stall, stall_path, timeout_ms, burst429 "
                                "or retry_after)",
                                (int)klen, p);
        }
#undef KEY
        if (rate != NULL && !parse_rate(v, vlen, rate))
            return hs_error_set(err, HS_EINVAL,
                                "invalid fault '%.*s': rate '%.*s' must be a decimal from 0 to 1",
                                (int)klen, p, (int)vlen, v);
        if (ms != NULL && !parse_count(v, vlen, MAX_LATENCY_MS, ms))
            return hs_error_set(err, HS_EINVAL,
                                "invalid fault '%.*s': '%.*s' must be milliseconds from 0 to %d",
                                (int)klen, p, (int)vlen, v, MAX_LATENCY_MS);
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return HS_OK;
}

static int put_rate(struct hs_buf *b, const char *key, uint32_t ppm)
{
    if (ppm == 0)
        return HS_OK;
    char frac[8];
    snprintf(frac, sizeof frac, "%06u", (unsigned)(ppm % HS_SBX_PPM));
    size_t n = strlen(frac);
    while (n > 0 && frac[n - 1] == '0')
        frac[--n] = '\0';
    int rc = HS_OK;
    if (b->len > 0)
        rc = hs_buf_putc(b, ',');
    if (rc == HS_OK)
        rc = hs_buf_printf(b, "%s=%u%s%s", key, (unsigned)(ppm / HS_SBX_PPM), n ? "." : "", frac);
    return rc;
}

static int put_num(struct hs_buf *b, const char *key, int64_t v, int64_t dflt)
{
    if (v == dflt)
        return HS_OK;
    int rc = HS_OK;
    if (b->len > 0)
        rc = hs_buf_putc(b, ',');
    if (rc == HS_OK)
        rc = hs_buf_printf(b, "%s=%" PRId64, key, v);
    return rc;
}

char *hs_sbx_faults_format(const struct hs_sbx_faults *f)
{
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = put_rate(&b, "5xx", f->p5xx);
    if (rc == HS_OK)
        rc = put_rate(&b, "timeout", f->ptimeout);
    if (rc == HS_OK)
        rc = put_rate(&b, "429", f->p429);
    if (rc == HS_OK)
        rc = put_num(&b, "latency", f->latency_ms, 0);
    if (rc == HS_OK)
        rc = put_rate(&b, "dup", f->pdup);
    if (rc == HS_OK)
        rc = put_rate(&b, "reorder", f->preorder);
    if (rc == HS_OK)
        rc = put_num(&b, "stall", f->stall_ms, 0);
    if (rc == HS_OK && f->stall_path[0] != '\0')
        rc = hs_buf_printf(&b, "%sstall_path=%s", b.len > 0 ? "," : "", f->stall_path);
    if (rc == HS_OK)
        rc = put_num(&b, "timeout_ms", f->timeout_ms, 30000);
    if (rc == HS_OK)
        rc = put_num(&b, "burst429", f->burst_429, 1);
    if (rc == HS_OK)
        rc = put_num(&b, "retry_after", f->retry_after_s, 1);
    char *s = rc == HS_OK ? hs_buf_detach(&b) : NULL;
    hs_buf_release(&b);
    return s;
}

json_t *hs_sbx_faults_json(const struct hs_sbx_faults *f)
{
    char *spec = hs_sbx_faults_format(f);
    if (spec == NULL)
        return NULL;
    /* rates as strings of the exact decimal, like the spec; durations as integers */
    json_t *j = json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "spec", spec, "5xx_ppm",
        (json_int_t)f->p5xx, "timeout_ppm", (json_int_t)f->ptimeout, "429_ppm", (json_int_t)f->p429,
        "dup_ppm", (json_int_t)f->pdup, "reorder_ppm", (json_int_t)f->preorder, "latency_ms",
        (json_int_t)f->latency_ms, "timeout_ms", (json_int_t)f->timeout_ms, "burst429",
        (json_int_t)f->burst_429, "retry_after", (json_int_t)f->retry_after_s, "stall_ms",
        (json_int_t)f->stall_ms, "stall_path", f->stall_path);
    hs_free(spec);
    return j;
}

bool hs_sbx_faults_roll(struct hs_rng *rng, uint32_t ppm)
{
    if (ppm == 0)
        return false;
    if (ppm >= HS_SBX_PPM)
        return true;
    return hs_rng_below(rng, HS_SBX_PPM) < ppm;
}

int hs_sbx_set_faults(struct hs_sbx *sbx, const char *spec, struct hs_error *err)
{
    struct hs_sbx_faults f;
    int rc = hs_sbx_faults_parse(spec, &f, err);
    if (rc != HS_OK)
        return rc;
    pthread_mutex_lock(&sbx->lock);
    sbx->faults = f;
    for (size_t i = 0; i < sbx->n_mods; i++)
        sbx->mods[i].burst_left = 0;
    pthread_mutex_unlock(&sbx->lock);
    return HS_OK;
}

/* ---- rate limits ---- */

static bool drop_expired(void *ud, const char *key, void *val)
{
    (void)key;
    const int64_t *now = ud;
    const struct window *w = val;
    return *now >= w->start + w->len || *now < w->start;
}

void hs_sbx_rates_clear(struct hs_sbx *sbx)
{
    hs_sbx_map_clear(&sbx->rates);
}

bool hs_sbx_rate_limits_on(const struct hs_sbx *sbx)
{
    return !sbx->no_rate_limits;
}

bool hs_sbx_rate_take(struct hs_sbx *sbx, const char *key, int64_t limit, int64_t window_ms,
                      int64_t *out_remaining, int64_t *out_retry_ms)
{
    if (out_remaining != NULL)
        *out_remaining = limit > 0 ? limit - 1 : 0;
    if (out_retry_ms != NULL)
        *out_retry_ms = 0;
    if (sbx->no_rate_limits)
        return true;
    int64_t len = window_ms / (int64_t)(sbx->time_scale ? sbx->time_scale : 1);
    if (len < 1)
        len = 1;
    int64_t now = hs_sbx_now_ms(sbx);
    struct window *w = hs_sbx_map_get(&sbx->rates, key);
    if (w == NULL) {
        if (sbx->rates.n >= MAX_RATE_KEYS) {
            hs_sbx_map_each(&sbx->rates, drop_expired, &now);
            if (sbx->rates.n >= MAX_RATE_KEYS)
                hs_sbx_map_clear(&sbx->rates);
        }
        w = hs_calloc(1, sizeof *w);
        if (w == NULL || hs_sbx_map_put(&sbx->rates, key, w) != HS_OK) {
            hs_free(w);
            return true; /* out of memory: fail open, a limiter must not break requests */
        }
        w->start = now;
        w->len = len;
    }
    if (now >= w->start + w->len || now < w->start || w->len != len) {
        w->start = now;
        w->len = len;
        w->count = 0;
    }
    if (w->count >= limit) {
        if (out_remaining != NULL)
            *out_remaining = 0;
        if (out_retry_ms != NULL)
            *out_retry_ms = w->start + w->len - now;
        return false;
    }
    w->count++;
    if (out_remaining != NULL)
        *out_remaining = limit - w->count;
    return true;
}

int64_t hs_sbx_rate_left(struct hs_sbx *sbx, const char *key, int64_t limit, int64_t window_ms)
{
    if (sbx->no_rate_limits)
        return limit;
    int64_t len = window_ms / (int64_t)(sbx->time_scale ? sbx->time_scale : 1);
    if (len < 1)
        len = 1;
    int64_t now = hs_sbx_now_ms(sbx);
    const struct window *w = hs_sbx_map_get(&sbx->rates, key);
    if (w == NULL || now >= w->start + w->len || now < w->start || w->len != len)
        return limit; /* a new window would start with this call */
    return w->count >= limit ? 0 : limit - w->count;
}
