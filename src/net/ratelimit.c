/*
 * net/ratelimit.c - client-side rate limiter (net/ratelimit.h): sliding logs and buckets.
 *
 * Design:     each window is exact where it is cheap: a sliding log, a ring of the last
 *             `limit` call times, for limits up to SLIDING_MAX. A call at time t occupies
 *             its window during [t, t + window_ms); a new call fits when fewer than `limit`
 *             calls of the log are still inside, else it waits until the oldest one leaves.
 *             Larger limits ("250000 a day") would make the log big, so they use a token
 *             bucket holding `limit` calls that refills continuously at limit/window_ms
 *             (kept in integer units of 1/window_ms of a call, so no floating point).
 *             A call in scope S counts in every window of S and every window of "all"; a
 *             call in "all" counts only in "all" windows. hs_ratelimit_pause() sets a
 *             not-before time per scope ("all" holds back every scope).
 *             acquire() computes the wait under the lock; when it is zero it records the
 *             call in every window at once (so two windows never disagree), otherwise it
 *             unlocks, sleeps through the env and tries again: another thread may have taken
 *             the slot meanwhile, and the loop then simply waits again. With an idle
 *             function set, the first wait of a call runs it instead of sleeping (once per
 *             call, never nested), then the wait is computed again.
 * Invariants: for a sliding log, n <= limit and the ring holds times in call order; for a
 *             bucket, 0 <= units <= limit * window_ms. No window ever records a call that
 *             another applicable window refused.
 * Threads:    one mutex guards everything; sleeping and the idle function run with it
 *             released.
 * Ownership:  the limiter owns its windows and scope names; env is borrowed.
 */
#include <pthread.h>
#include <string.h>

#include "net/ratelimit.h"
#include "util/alloc.h"
#include "util/str.h"

#define SLIDING_MAX 100000
#define MAX_WINDOWS 64
#define MAX_SCOPE   64
#define SCOPE_ALL   "all"

struct window {
    char *scope;
    int64_t limit;
    int64_t window_ms;
    /* sliding log */
    int64_t *ring; /* NULL for a bucket */
    int64_t head;  /* index of the oldest entry */
    int64_t n;
    /* token bucket */
    int64_t units; /* in 1/window_ms of a call */
    int64_t last_ms;
};

struct pause {
    char *scope;
    int64_t until_ms;
};

struct hs_ratelimit {
    const struct hs_env *env;
    pthread_mutex_t mu;
    struct window *w;
    size_t n_w;
    struct pause *p;
    size_t n_p;
    int64_t calls;
    int64_t waited_ms;
    int64_t max_wait_ms; /* 0: none */
    bool blocked;        /* take() refused a call: last_block says why */
    struct hs_ratelimit_block last_block;
    hs_ratelimit_idle_fn idle; /* other work for a wait (NULL: none) */
    void *idle_ud;
    int64_t idle_min_ms;
    bool in_idle;                  /* idle is running: a wait inside it sleeps */
    hs_ratelimit_notice_fn notice; /* told of long waits (NULL: none) */
    void *notice_ud;
    int64_t notice_min_ms;
};

int hs_ratelimit_new(const struct hs_env *env, struct hs_ratelimit **out)
{
    if (out == NULL)
        return HS_EINVAL;
    *out = NULL;
    if (env == NULL)
        return HS_EINVAL;
    struct hs_ratelimit *rl = hs_calloc(1, sizeof *rl);
    if (rl == NULL)
        return HS_ENOMEM;
    if (pthread_mutex_init(&rl->mu, NULL) != 0) {
        hs_free(rl);
        return HS_ENOMEM;
    }
    rl->env = env;
    *out = rl;
    return HS_OK;
}

void hs_ratelimit_free(struct hs_ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (size_t i = 0; i < rl->n_w; i++) {
        hs_free(rl->w[i].scope);
        hs_free(rl->w[i].ring);
    }
    hs_free(rl->w);
    for (size_t i = 0; i < rl->n_p; i++)
        hs_free(rl->p[i].scope);
    hs_free(rl->p);
    pthread_mutex_destroy(&rl->mu);
    hs_free(rl);
}

static const char *norm_scope(const char *scope)
{
    return scope != NULL && scope[0] != '\0' ? scope : SCOPE_ALL;
}

int hs_ratelimit_add(struct hs_ratelimit *rl, const char *scope, int64_t limit, int64_t window_ms)
{
    if (rl == NULL || limit <= 0 || window_ms <= 0 || limit > INT64_MAX / window_ms)
        return HS_EINVAL;
    scope = norm_scope(scope);
    if (strlen(scope) > MAX_SCOPE)
        return HS_EINVAL;
    struct window nw;
    memset(&nw, 0, sizeof nw);
    nw.scope = hs_strdup(scope);
    nw.limit = limit;
    nw.window_ms = window_ms;
    if (nw.scope == NULL)
        return HS_ENOMEM;
    if (limit <= SLIDING_MAX) {
        nw.ring = hs_calloc((size_t)limit, sizeof *nw.ring);
        if (nw.ring == NULL) {
            hs_free(nw.scope);
            return HS_ENOMEM;
        }
    } else {
        nw.units = limit * window_ms; /* starts full */
        nw.last_ms = hs_env_now_ms(rl->env);
    }
    pthread_mutex_lock(&rl->mu);
    int rc = HS_OK;
    if (rl->n_w >= MAX_WINDOWS) {
        rc = HS_ETOOBIG;
    } else {
        struct window *v = hs_reallocarray(rl->w, rl->n_w + 1, sizeof *v);
        if (v == NULL) {
            rc = HS_ENOMEM;
        } else {
            rl->w = v;
            rl->w[rl->n_w++] = nw;
        }
    }
    pthread_mutex_unlock(&rl->mu);
    if (rc != HS_OK) {
        hs_free(nw.scope);
        hs_free(nw.ring);
    }
    return rc;
}

static bool applies(const struct window *w, const char *scope)
{
    return strcmp(w->scope, SCOPE_ALL) == 0 || strcmp(w->scope, scope) == 0;
}

static void bucket_refill(struct window *w, int64_t now)
{
    if (now <= w->last_ms)
        return;
    const int64_t cap = w->limit * w->window_ms;
    int64_t dt = now - w->last_ms;
    w->last_ms = now;
    /* dt * limit may overflow for huge gaps: a full window refills the bucket anyway */
    if (dt >= w->window_ms || w->units + dt * w->limit >= cap)
        w->units = cap;
    else
        w->units += dt * w->limit;
}

/* Milliseconds until w admits n more calls at once at now (0 = now; n above the limit counts
 * as the limit). Drops expired log entries. */
static int64_t window_wait(struct window *w, int64_t now, int64_t n)
{
    n = n < 1 ? 1 : n > w->limit ? w->limit : n;
    if (w->ring == NULL) {
        bucket_refill(w, now);
        if (w->units >= n * w->window_ms)
            return 0;
        int64_t missing = n * w->window_ms - w->units;
        return (missing + w->limit - 1) / w->limit;
    }
    while (w->n > 0 && w->ring[w->head] + w->window_ms <= now) {
        w->head = (w->head + 1) % w->limit;
        w->n--;
    }
    if (w->n + n <= w->limit)
        return 0;
    /* the (w->n + n - limit)-th oldest entry has to expire */
    return w->ring[(w->head + w->n + n - w->limit - 1) % w->limit] + w->window_ms - now;
}

static void window_record(struct window *w, int64_t now)
{
    if (w->ring == NULL) {
        w->units -= w->window_ms;
        return;
    }
    w->ring[(w->head + w->n) % w->limit] = now;
    w->n++;
}

static void block_set(struct hs_ratelimit_block *b, const char *scope, int64_t limit,
                      int64_t window_ms, int64_t resume_at_ms)
{
    if (b == NULL)
        return;
    size_t n = strlen(scope);
    if (n >= sizeof b->scope)
        n = sizeof b->scope - 1;
    memcpy(b->scope, scope, n);
    b->scope[n] = '\0';
    b->limit = limit;
    b->window_ms = window_ms;
    b->resume_at_ms = resume_at_ms;
}

/* Wait for scope at now, under the lock; *why (may be NULL) names the longest wait's cause. */
static int64_t wait_locked(struct hs_ratelimit *rl, const char *scope, int64_t now, int64_t n,
                           struct hs_ratelimit_block *why)
{
    int64_t wait = 0;
    for (size_t i = 0; i < rl->n_p; i++) {
        const struct pause *p = &rl->p[i];
        if (strcmp(p->scope, SCOPE_ALL) == 0 || strcmp(p->scope, scope) == 0) {
            if (p->until_ms - now > wait) {
                wait = p->until_ms - now;
                block_set(why, p->scope, 0, 0, p->until_ms);
            }
        }
    }
    for (size_t i = 0; i < rl->n_w; i++) {
        if (!applies(&rl->w[i], scope))
            continue;
        int64_t ww = window_wait(&rl->w[i], now, n);
        if (ww > wait) {
            wait = ww;
            block_set(why, rl->w[i].scope, rl->w[i].limit, rl->w[i].window_ms, now + ww);
        }
    }
    return wait;
}

void hs_ratelimit_set_max_wait(struct hs_ratelimit *rl, int64_t max_wait_ms)
{
    if (rl == NULL)
        return;
    pthread_mutex_lock(&rl->mu);
    rl->max_wait_ms = max_wait_ms > 0 ? max_wait_ms : 0;
    pthread_mutex_unlock(&rl->mu);
}

bool hs_ratelimit_blocked(struct hs_ratelimit *rl, struct hs_ratelimit_block *out)
{
    if (rl == NULL)
        return false;
    pthread_mutex_lock(&rl->mu);
    bool b = rl->blocked;
    if (b && out != NULL)
        *out = rl->last_block;
    pthread_mutex_unlock(&rl->mu);
    return b;
}

/* acquire and take: waits until the call fits; when bounded, refuses it (HS_ERATELIMIT, *out
 * filled) instead when one wait would be longer than the longest wait. */
static int take(struct hs_ratelimit *rl, const char *scope, bool bounded, int64_t *out_waited,
                struct hs_ratelimit_block *out)
{
    scope = norm_scope(scope);
    int64_t waited = 0;
    bool idled = false, told = false;
    for (;;) {
        pthread_mutex_lock(&rl->mu);
        int64_t now = hs_env_now_ms(rl->env);
        struct hs_ratelimit_block why;
        memset(&why, 0, sizeof why);
        int64_t wait = wait_locked(rl, scope, now, 1, &why);
        if (bounded && rl->max_wait_ms > 0 && wait > rl->max_wait_ms) {
            rl->blocked = true;
            rl->last_block = why;
            rl->waited_ms += waited;
            pthread_mutex_unlock(&rl->mu);
            if (out != NULL)
                *out = why;
            *out_waited = waited;
            return HS_ERATELIMIT;
        }
        if (wait <= 0) {
            for (size_t i = 0; i < rl->n_w; i++)
                if (applies(&rl->w[i], scope))
                    window_record(&rl->w[i], now);
            rl->calls++;
            rl->waited_ms += waited;
            pthread_mutex_unlock(&rl->mu);
            *out_waited = waited;
            return HS_OK;
        }
        if (rl->notice != NULL && !told && wait >= rl->notice_min_ms) {
            told = true;
            hs_ratelimit_notice_fn fn = rl->notice;
            void *ud = rl->notice_ud;
            pthread_mutex_unlock(&rl->mu);
            fn(ud, &why, wait);
            continue; /* the wait is computed again after the notice */
        }
        if (rl->idle != NULL && !rl->in_idle && !idled && wait >= rl->idle_min_ms) {
            idled = true; /* once per call: it returns when its work or the wait runs out */
            hs_ratelimit_idle_fn fn = rl->idle;
            void *ud = rl->idle_ud;
            rl->in_idle = true;
            pthread_mutex_unlock(&rl->mu);
            fn(ud, now + wait);
            pthread_mutex_lock(&rl->mu);
            rl->in_idle = false;
            int64_t spent = hs_env_now_ms(rl->env) - now;
            pthread_mutex_unlock(&rl->mu);
            waited += spent > 0 ? (spent < wait ? spent : wait) : 0;
            continue; /* the wait is computed again: what is left, or none */
        }
        pthread_mutex_unlock(&rl->mu);
        hs_env_sleep_ms(rl->env, wait);
        waited += wait;
    }
}

void hs_ratelimit_set_idle(struct hs_ratelimit *rl, hs_ratelimit_idle_fn fn, void *ud,
                           int64_t min_ms)
{
    if (rl == NULL)
        return;
    pthread_mutex_lock(&rl->mu);
    rl->idle = fn;
    rl->idle_ud = ud;
    rl->idle_min_ms = min_ms > 1 ? min_ms : 1;
    pthread_mutex_unlock(&rl->mu);
}

void hs_ratelimit_set_notice(struct hs_ratelimit *rl, hs_ratelimit_notice_fn fn, void *ud,
                             int64_t min_ms)
{
    if (rl == NULL)
        return;
    pthread_mutex_lock(&rl->mu);
    rl->notice = fn;
    rl->notice_ud = ud;
    rl->notice_min_ms = min_ms > 1 ? min_ms : 1;
    pthread_mutex_unlock(&rl->mu);
}

int64_t hs_ratelimit_acquire(struct hs_ratelimit *rl, const char *scope)
{
    int64_t waited = 0;
    if (rl != NULL)
        (void)take(rl, scope, false, &waited, NULL);
    return waited;
}

int hs_ratelimit_take(struct hs_ratelimit *rl, const char *scope, struct hs_ratelimit_block *out)
{
    int64_t waited = 0;
    return rl != NULL ? take(rl, scope, true, &waited, out) : HS_OK;
}

void hs_ratelimit_pause(struct hs_ratelimit *rl, const char *scope, int64_t ms)
{
    if (rl == NULL || ms <= 0)
        return;
    scope = norm_scope(scope);
    pthread_mutex_lock(&rl->mu);
    int64_t until = hs_env_now_ms(rl->env) + ms;
    for (size_t i = 0; i < rl->n_p; i++) {
        if (strcmp(rl->p[i].scope, scope) == 0) {
            if (until > rl->p[i].until_ms)
                rl->p[i].until_ms = until;
            pthread_mutex_unlock(&rl->mu);
            return;
        }
    }
    /* A new scope; on ENOMEM the pause is lost, which only makes the next call earlier: the
     * provider then answers 429 again and the caller backs off by its own policy. */
    char *name = hs_strdup(scope);
    struct pause *v = name != NULL ? hs_reallocarray(rl->p, rl->n_p + 1, sizeof *v) : NULL;
    if (v == NULL) {
        hs_free(name);
    } else {
        rl->p = v;
        rl->p[rl->n_p].scope = name;
        rl->p[rl->n_p].until_ms = until;
        rl->n_p++;
    }
    pthread_mutex_unlock(&rl->mu);
}

int64_t hs_ratelimit_wait_ms(struct hs_ratelimit *rl, const char *scope)
{
    return hs_ratelimit_wait_n_ms(rl, scope, 1);
}

int64_t hs_ratelimit_wait_n_ms(struct hs_ratelimit *rl, const char *scope, int64_t n)
{
    if (rl == NULL)
        return 0;
    scope = norm_scope(scope);
    pthread_mutex_lock(&rl->mu);
    int64_t wait = wait_locked(rl, scope, hs_env_now_ms(rl->env), n, NULL);
    pthread_mutex_unlock(&rl->mu);
    return wait > 0 ? wait : 0;
}

int64_t hs_ratelimit_wait_any_ms(struct hs_ratelimit *rl, int64_t n)
{
    if (rl == NULL)
        return 0;
    pthread_mutex_lock(&rl->mu);
    int64_t now = hs_env_now_ms(rl->env);
    int64_t wait = wait_locked(rl, SCOPE_ALL, now, n, NULL);
    for (size_t i = 0; i < rl->n_w; i++) {
        int64_t w = wait_locked(rl, rl->w[i].scope, now, n, NULL);
        wait = w > wait ? w : wait;
    }
    pthread_mutex_unlock(&rl->mu);
    return wait > 0 ? wait : 0;
}

void hs_ratelimit_stats(struct hs_ratelimit *rl, int64_t *out_calls, int64_t *out_waited_ms)
{
    int64_t c = 0;
    int64_t w = 0;
    if (rl != NULL) {
        pthread_mutex_lock(&rl->mu);
        c = rl->calls;
        w = rl->waited_ms;
        pthread_mutex_unlock(&rl->mu);
    }
    if (out_calls != NULL)
        *out_calls = c;
    if (out_waited_ms != NULL)
        *out_waited_ms = w;
}
