/*
 * net/router.c - method + path-pattern router.
 *
 * Design:     each route keeps its pattern pre-split into segments. Matching walks the
 *             request path segment by segment without allocating until a route matches;
 *             then only the captured values are copied (and freed after the handler).
 *             A linear scan over routes is fast enough for the ~100 routes of the sandbox
 *             (measured by bench/sandbox).
 * Invariants: segments never contain '/'; a "{name*}" segment is always the last one.
 * Threads:    routes are added before serving; hs_router_handle only reads.
 */
#include <string.h>

#include "net/router.h"
#include "util/alloc.h"
#include "util/str.h"

#define MAX_SEGS 32

struct seg {
    char *text; /* literal text, or the parameter name */
    bool param; /* "{name}" */
    bool rest;  /* "{name*}": matches the remaining path */
};

struct route {
    char *method;
    char *pattern;
    struct seg segs[MAX_SEGS];
    size_t n_segs;
    hs_route_fn fn;
    void *ud;
};

struct hs_router {
    struct route *routes;
    size_t n_routes;
    size_t cap;
    hs_http_handler_fn fallback;
    void *fallback_ud;
};

const char *hs_route_param(const struct hs_route_match *m, const char *name)
{
    for (size_t i = 0; i < m->n_params; i++)
        if (strcmp(m->names[i], name) == 0)
            return m->values[i];
    return NULL;
}

int hs_router_new(struct hs_router **out)
{
    *out = hs_calloc(1, sizeof **out);
    return *out ? HS_OK : HS_ENOMEM;
}

static void route_release(struct route *r)
{
    hs_free(r->method);
    hs_free(r->pattern);
    for (size_t i = 0; i < r->n_segs; i++)
        hs_free(r->segs[i].text);
}

void hs_router_free(struct hs_router *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_routes; i++)
        route_release(&r->routes[i]);
    hs_free(r->routes);
    hs_free(r);
}

int hs_router_add(struct hs_router *r, const char *method, const char *pattern, hs_route_fn fn,
                  void *ud)
{
    if (pattern[0] != '/')
        return HS_EINVAL;
    if (r->n_routes == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        struct route *v = hs_reallocarray(r->routes, cap, sizeof *v);
        if (v == NULL)
            return HS_ENOMEM;
        r->routes = v;
        r->cap = cap;
    }
    struct route *rt = &r->routes[r->n_routes];
    memset(rt, 0, sizeof *rt);
    rt->fn = fn;
    rt->ud = ud;
    rt->method = hs_strdup(method);
    rt->pattern = hs_strdup(pattern);
    int rc = (rt->method && rt->pattern) ? HS_OK : HS_ENOMEM;
    const char *p = pattern + 1;
    while (rc == HS_OK && *p != '\0') {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (rt->n_segs == MAX_SEGS || n == 0) {
            rc = HS_EINVAL;
            break;
        }
        struct seg *s = &rt->segs[rt->n_segs];
        if (n >= 2 && p[0] == '{' && p[n - 1] == '}') {
            s->param = true;
            s->rest = n >= 3 && p[n - 2] == '*';
            s->text = hs_strndup(p + 1, n - (s->rest ? 3 : 2));
            if (s->rest && e != NULL)
                rc = HS_EINVAL;
        } else {
            s->text = hs_strndup(p, n);
        }
        rt->n_segs++;
        if (s->text == NULL)
            rc = HS_ENOMEM;
        p = e ? e + 1 : p + n;
    }
    if (rc != HS_OK) {
        route_release(rt);
        return rc;
    }
    r->n_routes++;
    return HS_OK;
}

void hs_router_set_fallback(struct hs_router *r, hs_http_handler_fn fn, void *ud)
{
    r->fallback = fn;
    r->fallback_ud = ud;
}

/* Matches path against rt; records capture positions (start, len) in caps. */
static bool route_match(const struct route *rt, const char *path, size_t caps[][2], size_t *n_caps)
{
    const char *p = path;
    if (*p != '/')
        return false;
    p++;
    size_t nc = 0;
    for (size_t i = 0; i < rt->n_segs; i++) {
        const struct seg *s = &rt->segs[i];
        if (s->rest) {
            if (*p == '\0' || nc == HS_ROUTE_MAX_PARAMS)
                return false;
            caps[nc][0] = (size_t)(p - path);
            caps[nc][1] = strlen(p);
            nc++;
            *n_caps = nc;
            return true;
        }
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0)
            return false;
        if (s->param) {
            if (nc == HS_ROUTE_MAX_PARAMS)
                return false;
            caps[nc][0] = (size_t)(p - path);
            caps[nc][1] = n;
            nc++;
        } else if (strlen(s->text) != n || memcmp(s->text, p, n) != 0) {
            return false;
        }
        if (i + 1 < rt->n_segs) {
            if (e == NULL)
                return false;
            p = e + 1;
        } else {
            p += n;
        }
    }
    /* allow one trailing slash */
    if (*p == '/')
        p++;
    *n_caps = nc;
    return *p == '\0';
}

static int not_matched(struct hs_router *r, const struct hs_http_request *req,
                       struct hs_http_response *resp, bool method_mismatch)
{
    if (r->fallback != NULL)
        return r->fallback(r->fallback_ud, req, resp);
    return hs_http_response_json_take(
        resp, method_mismatch ? 405 : 404,
        json_pack("{s:s, s:s, s:s}", "status", "error", "message",
                  method_mismatch ? "method not allowed" : "no route matches this path", "path",
                  req->path ? req->path : ""));
}

int hs_router_handle(void *ud, const struct hs_http_request *req, struct hs_http_response *resp)
{
    struct hs_router *r = ud;
    const char *path = req->path ? req->path : "/";
    bool method_mismatch = false;
    for (size_t i = 0; i < r->n_routes; i++) {
        const struct route *rt = &r->routes[i];
        size_t caps[HS_ROUTE_MAX_PARAMS][2];
        size_t n_caps = 0;
        if (!route_match(rt, path, caps, &n_caps))
            continue;
        if (strcmp(rt->method, "*") != 0 && strcmp(rt->method, req->method) != 0) {
            method_mismatch = true;
            continue;
        }
        struct hs_route_match m;
        memset(&m, 0, sizeof m);
        size_t k = 0;
        int rc = HS_OK;
        for (size_t s = 0; s < rt->n_segs && k < n_caps; s++) {
            if (!rt->segs[s].param)
                continue;
            m.names[k] = rt->segs[s].text;
            m.values[k] = hs_strndup(path + caps[k][0], caps[k][1]);
            if (m.values[k] == NULL)
                rc = HS_ENOMEM;
            k++;
        }
        m.n_params = k;
        if (rc == HS_OK)
            rc = rt->fn(rt->ud, req, &m, resp);
        for (size_t j = 0; j < k; j++)
            hs_free(m.values[j]);
        return rc;
    }
    return not_matched(r, req, resp, method_mismatch);
}
