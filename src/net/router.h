/*
 * net/router.h - method + path-pattern router with named parameters.
 *
 * Design:     patterns are '/'-separated segments; a segment "{name}" matches any one
 *             non-empty segment and captures it; a final "{name*}" captures the rest. Routes
 *             are tried in the order added; the first match wins. No match gives 404, a path
 *             match with another method gives 405 (both with a JSON body unless a fallback
 *             handler is set). The router itself is an hs_http_handler_fn (hs_router_handle).
 * Threads:    add every route before serving; matching is read-only and thread-safe.
 */
#ifndef HS_NET_ROUTER_H
#define HS_NET_ROUTER_H

#include "net/http.h"

#define HS_ROUTE_MAX_PARAMS 8

struct hs_route_match {
    size_t n_params;
    const char *names[HS_ROUTE_MAX_PARAMS];
    char *values[HS_ROUTE_MAX_PARAMS];
};

/* Captured parameter `name`, or NULL. Borrowed for the duration of the handler call. */
HS_API const char *hs_route_param(const struct hs_route_match *m, const char *name);

typedef int (*hs_route_fn)(void *ud, const struct hs_http_request *req,
                           const struct hs_route_match *m, struct hs_http_response *resp);

struct hs_router;

HS_API HS_MUST_CHECK int hs_router_new(struct hs_router **out);
HS_API void hs_router_free(struct hs_router *r);
/* method "*" matches any method. pattern is copied. ud is borrowed (owned by the caller). */
HS_API HS_MUST_CHECK int hs_router_add(struct hs_router *r, const char *method, const char *pattern,
                                       hs_route_fn fn, void *ud);
/* Called for unmatched requests instead of the built-in 404/405 JSON answers. */
HS_API void hs_router_set_fallback(struct hs_router *r, hs_http_handler_fn fn, void *ud);
/* hs_http_handler_fn: dispatches req (ud is the struct hs_router *). */
HS_API int hs_router_handle(void *ud, const struct hs_http_request *req,
                            struct hs_http_response *resp);

#endif
