/*
 * net/http.h - HTTP messages and the transport interface (hs_http_ops).
 *
 * Design:     one request and one response type serve both sides: the client (libcurl
 *             transport, net/client.c), the server (libmicrohttpd, net/server.c) and the
 *             in-process transport (net/inproc.c) that hands a request straight to a handler
 *             with no socket, so engine and sandbox can run in one process under one clock.
 *             A handler is any hs_http_handler_fn; the router (net/router.h) is one.
 * Ownership:  requests and responses are caller-allocated (init/release) and own every string
 *             and buffer they hold.
 * Not here:   routing (net/router.h), OAuth2 (net/oauth.h), webhook signatures (net/sign.h).
 */
#ifndef HS_NET_HTTP_H
#define HS_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hoopsync/common.h"
#include "hoopsync/error.h"
#include "util/buf.h"

struct hs_http_header {
    char *name;
    char *value;
};

struct hs_http_headers {
    struct hs_http_header *v;
    size_t n;
    size_t cap;
};

HS_API HS_MUST_CHECK int hs_http_headers_add(struct hs_http_headers *h, const char *name,
                                             const char *value);
/* Replaces every header called name (case-insensitive) by one with value. */
HS_API HS_MUST_CHECK int hs_http_headers_set(struct hs_http_headers *h, const char *name,
                                             const char *value);
/* First value of header name (case-insensitive), or NULL. Borrowed. */
HS_API const char *hs_http_headers_get(const struct hs_http_headers *h, const char *name);
HS_API void hs_http_headers_release(struct hs_http_headers *h);

struct hs_http_request {
    char *method; /* "GET", "POST", ... */
    char *url;    /* client side: absolute URL; the server side leaves it NULL */
    char *path;   /* server side: path without the query, percent-decoded */
    char *query;  /* server side: raw query string without '?', NULL when absent */
    char *peer;   /* server side: remote address, e.g. "127.0.0.1" */
    struct hs_http_headers headers;
    struct hs_buf body;
    long timeout_ms; /* client side: whole-request timeout, 0 = transport default */
};

struct hs_http_response {
    int status;
    struct hs_http_headers headers;
    struct hs_buf body;
};

HS_API void hs_http_request_init(struct hs_http_request *r);
HS_API void hs_http_request_release(struct hs_http_request *r);
/* Sets method and url (copied). */
HS_API HS_MUST_CHECK int hs_http_request_set(struct hs_http_request *r, const char *method,
                                             const char *url);
/* Sets body to the compact JSON of v and Content-Type: application/json. */
HS_API HS_MUST_CHECK int hs_http_request_json(struct hs_http_request *r, const json_t *v);
/* Query parameter `key` of a server-side request, decoded; caller frees; NULL if absent. */
HS_API char *hs_http_request_query(const struct hs_http_request *r, const char *key);

HS_API void hs_http_response_init(struct hs_http_response *r);
HS_API void hs_http_response_release(struct hs_http_response *r);
/* Sets status, JSON body (compact) and Content-Type: application/json. Does not steal v. */
HS_API HS_MUST_CHECK int hs_http_response_json(struct hs_http_response *r, int status,
                                               const json_t *v);
/* Same, stealing the reference to v (convenient with json_pack). v may be NULL: HS_ENOMEM. */
HS_API HS_MUST_CHECK int hs_http_response_json_take(struct hs_http_response *r, int status,
                                                    json_t *v);
/* Sets status, a text body and a Content-Type. */
HS_API HS_MUST_CHECK int hs_http_response_text(struct hs_http_response *r, int status,
                                               const char *content_type, const char *text);
/* Parses the response body as JSON (new reference in *out). */
HS_API HS_MUST_CHECK int hs_http_response_parse_json(const struct hs_http_response *r, json_t **out,
                                                     struct hs_error *err);

/*
 * A handler answers one request by filling resp (status defaults to 200 after init). It
 * returns HS_OK, or a negative code when it could not produce any answer (the server then
 * sends 500). Handlers may be called from several threads at once.
 */
typedef int (*hs_http_handler_fn)(void *ud, const struct hs_http_request *req,
                                  struct hs_http_response *resp);

/* A transport sends a client-side request (url set) and fills the response. */
struct hs_http_ops {
    int (*send)(void *self, const struct hs_http_request *req, struct hs_http_response *out,
                struct hs_error *err);
    void (*close)(void *self);
};

struct hs_http_transport {
    const struct hs_http_ops *ops;
    void *self;
};

/* Sends req through t. HS_EIO/HS_ETIMEOUT on transport failure; any HTTP status is HS_OK. */
HS_API HS_MUST_CHECK int hs_http_send(const struct hs_http_transport *t,
                                      const struct hs_http_request *req,
                                      struct hs_http_response *out, struct hs_error *err);
HS_API void hs_http_transport_close(struct hs_http_transport *t);

/* libcurl transport: keep-alive connection reuse, TLS verification on, default timeout. */
struct hs_http_curl_options {
    long connect_timeout_ms; /* 0 = 10 s */
    long timeout_ms;         /* 0 = 120 s */
    bool insecure;           /* skip TLS verification (never by default) */
};
HS_API HS_MUST_CHECK int hs_http_curl_open(const struct hs_http_curl_options *opt,
                                           struct hs_http_transport *out, struct hs_error *err);

/* In-process transport: parses req->url into path/query and calls handler directly. */
HS_API HS_MUST_CHECK int hs_http_inproc_open(hs_http_handler_fn handler, void *ud,
                                             struct hs_http_transport *out, struct hs_error *err);

/* HTTP server on libmicrohttpd. */
struct hs_http_server_config {
    const char *bind_addr; /* default "127.0.0.1" */
    uint16_t port;         /* 0 = pick a free port */
    size_t max_body;       /* default 16 MiB; larger requests get 413 */
    unsigned threads;      /* worker threads, default 2 */
};
struct hs_http_server;
HS_API HS_MUST_CHECK int hs_http_server_open(const struct hs_http_server_config *cfg,
                                             hs_http_handler_fn handler, void *ud,
                                             struct hs_http_server **out, struct hs_error *err);
HS_API uint16_t hs_http_server_port(const struct hs_http_server *s);
/* Stops accepting, finishes in-flight requests, frees. NULL does nothing. */
HS_API void hs_http_server_close(struct hs_http_server *s);

/* Splits an absolute URL's path and query (copies, caller frees; query NULL if none). */
HS_API HS_MUST_CHECK int hs_http_split_url(const char *url, char **out_path, char **out_query);

#endif
