/*
 * sandbox/webhook.c - webhook subscriptions and the delivery thread.
 *
 * Design:     /_sandbox/webhooks registers (provider, url, secret); only loopback URLs are
 *             accepted, so the sandbox can never be turned into a request cannon. Modules call
 *             hs_sbx_emit (lock held) and each event is deep-copied into the FIFO of every
 *             subscription of that provider. One sender thread picks a subscription with
 *             pending events (round robin), takes up to BATCH_MAX events (HubSpot sends arrays
 *             of up to 100; a module may ask for fewer through its hs_sbx_mod.wh_batch_max,
 *             Zoho for one), lets the module build the request (mod->webhook_request: body,
 *             headers, signature) under the lock, then POSTs it with the libcurl transport
 *             outside the lock. A delivery is a success on 2xx; otherwise it is retried up to
 *             MAX_ATTEMPTS times with backoff 100 ms, 400 ms, 1.6 s, then given up (counted as
 *             failed). One slow receiver delays the others: fine for a test emulator.
 *             Faults: dup delivers the same request twice; reorder shuffles a batch, and holds
 *             a lone event back for up to HOLD_MS so that a later one overtakes it.
 * Invariants: the sender never keeps a pointer to a subscription across an unlock (it looks
 *             the subscription up again by id), so DELETE /_sandbox/webhooks is always safe.
 * Threads:    the sender thread takes the state lock to dequeue and to update stats, and waits
 *             on wh->cv (with the state lock) for new events; hs_sbx_webhook_drain waits on the
 *             same condition for progress.
 * Ownership:  wh owns subscriptions and their queued events (JSON copies).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "sandbox/sbx_int.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

#define BATCH_MAX    100
#define QUEUE_MAX    100000
#define MAX_ATTEMPTS 4
#define HOLD_MS      200
#define SEND_TIMEOUT 5000
#define MAX_SUBS     64

struct sub {
    uint64_t id;
    struct hs_sbx_mod *mod;
    char *url;
    char *secret;
    json_t *queue;      /* array of pending events */
    int64_t hold_until; /* real ms: a held-back lone event waits until then */
    bool held;          /* the queue's first event was held back (reorder fault) */
    uint64_t delivered;
    uint64_t failed;
};

struct hs_sbx_wh {
    struct hs_sbx *sbx;
    pthread_t thread;
    bool started;
    bool quit;
    pthread_cond_t cv;
    struct sub *subs[MAX_SUBS];
    size_t n_subs;
    uint64_t next_id;
    size_t next_pick;
    size_t inflight;
    uint64_t n_events;
    uint64_t n_dropped;
    uint64_t n_attempts;
    uint64_t n_delivered;
    uint64_t n_failed;
    uint64_t n_duplicated;
    uint64_t n_reordered;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timespec mono_deadline(int64_t ms)
{
    int64_t t = mono_ms() + ms;
    struct timespec ts;
    ts.tv_sec = (time_t)(t / 1000);
    ts.tv_nsec = (long)(t % 1000) * 1000000L;
    return ts;
}

static void sub_free(struct sub *s)
{
    if (s == NULL)
        return;
    hs_free(s->url);
    hs_free(s->secret);
    json_decref(s->queue);
    hs_free(s);
}

/* ---- URL check ---- */

static bool is_loopback_v4(const char *h, size_t n)
{
    int parts = 0;
    size_t i = 0;
    int first = -1;
    while (i < n) {
        size_t start = i;
        int v = 0;
        while (i < n && h[i] >= '0' && h[i] <= '9' && i - start < 3) {
            v = v * 10 + (h[i] - '0');
            i++;
        }
        if (i == start || v > 255)
            return false;
        if (parts == 0)
            first = v;
        parts++;
        if (i < n) {
            if (h[i] != '.')
                return false;
            i++;
            if (i == n)
                return false;
        }
    }
    return parts == 4 && first == 127;
}

bool hs_sbx_wh_url_ok(const char *url)
{
    if (url == NULL)
        return false;
    const char *p;
    if (strncmp(url, "http://", 7) == 0)
        p = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        p = url + 8;
    else
        return false;
    for (const char *c = url; *c != '\0'; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return false;
    size_t alen = strcspn(p, "/?#");
    if (memchr(p, '@', alen) != NULL)
        return false;
    const char *host = p;
    size_t hlen;
    const char *port;
    if (alen > 0 && p[0] == '[') {
        const char *close = memchr(p, ']', alen);
        if (close == NULL)
            return false;
        hlen = (size_t)(close - p) + 1;
        port = close + 1;
    } else {
        const char *colon = memchr(p, ':', alen);
        hlen = colon ? (size_t)(colon - p) : alen;
        port = p + hlen;
    }
    size_t plen = (size_t)(p + alen - port);
    if (plen > 0) {
        int64_t v = 0;
        if (port[0] != ':' || plen < 2 || hs_str_to_i64(port + 1, plen - 1, &v) != HS_OK || v < 1 ||
            v > 65535)
            return false;
    }
    if (hlen == 9 && strncmp(host, "localhost", 9) == 0)
        return true;
    if (hlen == 5 && strncmp(host, "[::1]", 5) == 0)
        return true;
    return is_loopback_v4(host, hlen);
}

/* ---- subscriptions (lock held) ---- */

int hs_sbx_wh_subscribe(struct hs_sbx *sbx, const char *provider, const char *url,
                        const char *secret, json_t **out, struct hs_error *err)
{
    struct hs_sbx_wh *wh = sbx->wh;
    *out = NULL;
    struct hs_sbx_mod *mod = provider ? hs_sbx_find_mod(sbx, provider) : NULL;
    if (mod == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot subscribe: unknown provider '%s'",
                            provider ? provider : "");
    if (!hs_sbx_wh_url_ok(url))
        return hs_error_set(err, HS_EINVAL,
                            "cannot subscribe '%s': url must be http(s) to a loopback host "
                            "(127.0.0.0/8, localhost or [::1])",
                            url ? url : "");
    if (wh->n_subs == MAX_SUBS)
        return hs_error_set(err, HS_ETOOBIG, "cannot subscribe '%s': at most %d subscriptions", url,
                            MAX_SUBS);
    struct sub *s = hs_calloc(1, sizeof *s);
    if (s == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot subscribe: out of memory");
    s->mod = mod;
    s->url = hs_strdup(url);
    s->secret = hs_strdup(secret ? secret : "");
    s->queue = json_array();
    if (s->url == NULL || s->secret == NULL || s->queue == NULL) {
        sub_free(s);
        return hs_error_set(err, HS_ENOMEM, "cannot subscribe: out of memory");
    }
    s->id = ++wh->next_id;
    *out = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)s->id, "provider", mod->ops->name,
                     "url", s->url, "secret", s->secret);
    if (*out == NULL) {
        sub_free(s);
        return hs_error_set(err, HS_ENOMEM, "cannot subscribe: out of memory");
    }
    wh->subs[wh->n_subs++] = s;
    return HS_OK;
}

json_t *hs_sbx_wh_list(struct hs_sbx *sbx)
{
    struct hs_sbx_wh *wh = sbx->wh;
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < wh->n_subs; i++) {
        const struct sub *s = wh->subs[i];
        if (json_array_append_new(
                arr, json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I}", "id", (json_int_t)s->id,
                               "provider", s->mod->ops->name, "url", s->url, "secret", s->secret,
                               "pending", (json_int_t)json_array_size(s->queue), "delivered",
                               (json_int_t)s->delivered, "failed", (json_int_t)s->failed)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr ? json_pack("{s:o}", "subscriptions", arr) : NULL;
}

void hs_sbx_wh_clear(struct hs_sbx *sbx)
{
    struct hs_sbx_wh *wh = sbx->wh;
    if (wh == NULL)
        return;
    for (size_t i = 0; i < wh->n_subs; i++)
        sub_free(wh->subs[i]);
    wh->n_subs = 0;
    pthread_cond_broadcast(&wh->cv);
}

json_t *hs_sbx_wh_stats(struct hs_sbx *sbx)
{
    struct hs_sbx_wh *wh = sbx->wh;
    if (wh == NULL)
        return json_object();
    size_t pending = 0;
    for (size_t i = 0; i < wh->n_subs; i++)
        pending += json_array_size(wh->subs[i]->queue);
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "events", (json_int_t)wh->n_events,
                     "pending", (json_int_t)pending, "attempts", (json_int_t)wh->n_attempts,
                     "delivered", (json_int_t)wh->n_delivered, "failed", (json_int_t)wh->n_failed,
                     "duplicated", (json_int_t)wh->n_duplicated, "reordered",
                     (json_int_t)wh->n_reordered, "dropped", (json_int_t)wh->n_dropped);
}

void hs_sbx_wh_stats_reset(struct hs_sbx *sbx)
{
    struct hs_sbx_wh *wh = sbx->wh;
    if (wh == NULL)
        return;
    wh->n_events = wh->n_dropped = wh->n_attempts = wh->n_delivered = 0;
    wh->n_failed = wh->n_duplicated = wh->n_reordered = 0;
}

json_t *hs_sbx_wh_save(struct hs_sbx *sbx)
{
    struct hs_sbx_wh *wh = sbx->wh;
    json_t *arr = json_array();
    for (size_t i = 0; wh != NULL && arr != NULL && i < wh->n_subs; i++) {
        const struct sub *s = wh->subs[i];
        if (json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "provider", s->mod->ops->name,
                                                 "url", s->url, "secret", s->secret)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

int hs_sbx_wh_load(struct hs_sbx *sbx, const json_t *saved, struct hs_error *err)
{
    hs_sbx_wh_clear(sbx);
    size_t i;
    const json_t *v;
    json_array_foreach(saved, i, v)
    {
        json_t *info = NULL;
        int rc = hs_sbx_wh_subscribe(sbx, hs_json_str(v, "provider"), hs_json_str(v, "url"),
                                     hs_json_str(v, "secret"), &info, err);
        json_decref(info);
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}

bool hs_sbx_listening(const struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod)
{
    const struct hs_sbx_wh *wh = sbx != NULL ? sbx->wh : NULL;
    for (size_t i = 0; wh != NULL && i < wh->n_subs; i++)
        if (wh->subs[i]->mod->ops == mod)
            return true;
    return false;
}

void hs_sbx_emit(struct hs_sbx *sbx, const struct hs_sbx_module_ops *mod, const json_t *event)
{
    struct hs_sbx_wh *wh = sbx->wh;
    if (wh == NULL || event == NULL)
        return;
    bool any = false;
    for (size_t i = 0; i < wh->n_subs; i++) {
        struct sub *s = wh->subs[i];
        if (s->mod->ops != mod)
            continue;
        wh->n_events++;
        if (json_array_size(s->queue) >= QUEUE_MAX) {
            wh->n_dropped++;
            continue;
        }
        json_t *copy = json_deep_copy(event);
        if (copy == NULL || json_array_append_new(s->queue, copy) != 0) {
            wh->n_dropped++;
            continue;
        }
        any = true;
    }
    if (any)
        pthread_cond_broadcast(&wh->cv);
}

/* ---- the sender ---- */

static struct sub *find_sub(struct hs_sbx_wh *wh, uint64_t id)
{
    for (size_t i = 0; i < wh->n_subs; i++)
        if (wh->subs[i]->id == id)
            return wh->subs[i];
    return NULL;
}

/* Lock held: a subscription ready to send, or NULL; *out_wait_ms says when to look again. */
static struct sub *pick(struct hs_sbx_wh *wh, int64_t *out_wait_ms)
{
    int64_t now = mono_ms();
    *out_wait_ms = -1;
    for (size_t k = 0; k < wh->n_subs; k++) {
        size_t i = (wh->next_pick + k) % wh->n_subs;
        struct sub *s = wh->subs[i];
        size_t n = json_array_size(s->queue);
        if (n == 0)
            continue;
        if (s->held && n == 1 && now < s->hold_until) {
            int64_t w = s->hold_until - now;
            if (*out_wait_ms < 0 || w < *out_wait_ms)
                *out_wait_ms = w;
            continue;
        }
        wh->next_pick = i + 1;
        return s;
    }
    return NULL;
}

static int default_request(const json_t *events, const char *url, struct hs_http_request *out)
{
    int rc = hs_http_request_set(out, "POST", url);
    if (rc == HS_OK)
        rc = hs_http_request_json(out, events);
    return rc;
}

/* Lock held: takes a batch from s and builds its request. *out_copies is 1 or 2 (dup). */
static int prepare(struct hs_sbx_wh *wh, struct sub *s, struct hs_http_request *req,
                   int *out_copies)
{
    struct hs_sbx *sbx = wh->sbx;
    size_t n = json_array_size(s->queue);
    size_t max = s->mod->wh_batch_max > 0 && s->mod->wh_batch_max < BATCH_MAX ? s->mod->wh_batch_max
                                                                              : BATCH_MAX;
    size_t take = n < max ? n : max;
    bool reorder = hs_sbx_faults_roll(&sbx->fault_rng, sbx->faults.preorder);
    if (reorder && take == 1 && !s->held) {
        /* hold the lone event back: a later one may overtake it */
        s->held = true;
        s->hold_until = mono_ms() + HOLD_MS;
        wh->n_reordered++;
        return HS_EINVAL; /* nothing to send now */
    }
    json_t *batch = json_array();
    if (batch == NULL)
        return HS_ENOMEM;
    for (size_t i = 0; i < take; i++)
        json_array_append(batch, json_array_get(s->queue, i));
    if (s->held && take > 1) { /* the held event goes behind the newer ones */
        json_t *first = json_incref(json_array_get(batch, 0));
        json_array_remove(batch, 0);
        json_array_append_new(batch, first);
    } else if (reorder && take > 1) {
        for (size_t i = take - 1; i > 0; i--) {
            size_t j = (size_t)hs_rng_below(&sbx->fault_rng, i + 1);
            json_t *a = json_incref(json_array_get(batch, i));
            json_t *b = json_incref(json_array_get(batch, j));
            json_array_set_new(batch, i, b);
            json_array_set_new(batch, j, a);
        }
        wh->n_reordered++;
    }
    s->held = false;
    for (size_t i = 0; i < take; i++)
        json_array_remove(s->queue, 0);
    *out_copies = hs_sbx_faults_roll(&sbx->fault_rng, sbx->faults.pdup) ? 2 : 1;
    if (*out_copies == 2)
        wh->n_duplicated++;
    int rc;
    if (s->mod->ops->webhook_request != NULL)
        rc = s->mod->ops->webhook_request(s->mod->state, batch, s->secret, s->url, req);
    else
        rc = default_request(batch, s->url, req);
    if (rc == HS_OK && req->url == NULL)
        rc = hs_http_request_set(req, req->method ? req->method : "POST", s->url);
    json_decref(batch);
    return rc;
}

static bool send_once(struct hs_sbx_wh *wh, struct hs_http_transport *t,
                      const struct hs_http_request *req)
{
    struct hs_sbx *sbx = wh->sbx;
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        if (attempt > 0) {
            int64_t backoff = 100;
            for (int k = 1; k < attempt; k++)
                backoff *= 4;
            hs_sbx_sleep(sbx, backoff);
        }
        pthread_mutex_lock(&sbx->lock);
        bool quit = wh->quit;
        wh->n_attempts++;
        pthread_mutex_unlock(&sbx->lock);
        if (quit)
            return false;
        struct hs_http_response resp;
        hs_http_response_init(&resp);
        struct hs_error e;
        hs_error_clear(&e);
        int rc = hs_http_send(t, req, &resp, &e);
        int status = resp.status;
        hs_http_response_release(&resp);
        if (rc == HS_OK && status >= 200 && status < 300)
            return true;
        hs_env_log(&sbx->env, HS_LOG_DEBUG, "webhook delivery to '%s' failed: %s", req->url,
                   rc == HS_OK ? "non-2xx answer" : e.msg);
    }
    return false;
}

static void *sender_main(void *arg)
{
    struct hs_sbx_wh *wh = arg;
    struct hs_sbx *sbx = wh->sbx;
    struct hs_http_transport t = {NULL, NULL};
    pthread_mutex_lock(&sbx->lock);
    while (!wh->quit) {
        int64_t wait_ms = -1;
        struct sub *s = pick(wh, &wait_ms);
        if (s == NULL) {
            if (wait_ms < 0) {
                pthread_cond_wait(&wh->cv, &sbx->lock);
            } else {
                struct timespec dl = mono_deadline(wait_ms);
                pthread_cond_timedwait(&wh->cv, &sbx->lock, &dl);
            }
            continue;
        }
        struct hs_http_request req;
        hs_http_request_init(&req);
        int copies = 1;
        uint64_t id = s->id;
        int rc = prepare(wh, s, &req, &copies);
        if (rc == HS_EINVAL) { /* held back */
            hs_http_request_release(&req);
            continue;
        }
        wh->inflight++;
        pthread_mutex_unlock(&sbx->lock);
        bool ok = false;
        if (rc == HS_OK && t.ops == NULL) {
            struct hs_http_curl_options co = {2000, SEND_TIMEOUT, false};
            rc = hs_http_curl_open(&co, &t, NULL);
            if (rc != HS_OK)
                t.ops = NULL;
        }
        int sent = 0;
        for (int c = 0; rc == HS_OK && c < copies; c++)
            if (send_once(wh, &t, &req))
                sent++;
        ok = rc == HS_OK && sent > 0;
        hs_http_request_release(&req);
        pthread_mutex_lock(&sbx->lock);
        wh->inflight--;
        struct sub *again = find_sub(wh, id);
        if (ok) {
            wh->n_delivered += (uint64_t)sent;
            if (again != NULL)
                again->delivered += (uint64_t)sent;
        } else {
            wh->n_failed++;
            if (again != NULL)
                again->failed++;
        }
        pthread_cond_broadcast(&wh->cv);
    }
    pthread_mutex_unlock(&sbx->lock);
    if (t.ops != NULL)
        hs_http_transport_close(&t);
    return NULL;
}

int hs_sbx_wh_open(struct hs_sbx *sbx, struct hs_sbx_wh **out, struct hs_error *err)
{
    *out = NULL;
    struct hs_sbx_wh *wh = hs_calloc(1, sizeof *wh);
    if (wh == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot start webhook sender: out of memory");
    wh->sbx = sbx;
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (rc == 0) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        rc = pthread_cond_init(&wh->cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (rc != 0) {
        hs_free(wh);
        return hs_error_set(err, HS_EIO, "cannot start webhook sender: cannot create condition");
    }
    if (pthread_create(&wh->thread, NULL, sender_main, wh) != 0) {
        pthread_cond_destroy(&wh->cv);
        hs_free(wh);
        return hs_error_set(err, HS_EIO, "cannot start webhook sender: cannot create thread");
    }
    wh->started = true;
    *out = wh;
    return HS_OK;
}

void hs_sbx_wh_close(struct hs_sbx_wh *wh)
{
    if (wh == NULL)
        return;
    struct hs_sbx *sbx = wh->sbx;
    pthread_mutex_lock(&sbx->lock);
    wh->quit = true;
    pthread_cond_broadcast(&wh->cv);
    pthread_mutex_unlock(&sbx->lock);
    if (wh->started)
        pthread_join(wh->thread, NULL);
    for (size_t i = 0; i < wh->n_subs; i++)
        sub_free(wh->subs[i]);
    pthread_cond_destroy(&wh->cv);
    hs_free(wh);
}

int hs_sbx_webhook_drain(struct hs_sbx *sbx, int64_t timeout_ms)
{
    struct hs_sbx_wh *wh = sbx->wh;
    struct timespec dl = mono_deadline(timeout_ms);
    int rc = HS_OK;
    bool timed_out = false;
    pthread_mutex_lock(&sbx->lock);
    for (;;) {
        size_t pending = wh->inflight;
        for (size_t i = 0; i < wh->n_subs; i++)
            pending += json_array_size(wh->subs[i]->queue);
        if (pending == 0)
            break;
        if (timed_out) {
            rc = HS_ETIMEOUT;
            break;
        }
        if (pthread_cond_timedwait(&wh->cv, &sbx->lock, &dl) == ETIMEDOUT)
            timed_out = true;
    }
    pthread_mutex_unlock(&sbx->lock);
    return rc;
}
