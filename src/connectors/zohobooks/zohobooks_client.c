/*
 * connectors/zohobooks/zohobooks_client.c - requests to the Zoho Books API v3.
 *
 * Design:     one function sends every call: it builds "<base_url>/books/v3/<rel>" with
 *             organization_id=<cfg->tenant> (every call but GET /organizations needs it), adds
 *             Accept: application/json, the upsert headers when asked and the body, and hands
 *             the request to hs_conn_request_ex (connectors/common/request.h), which takes a
 *             call from the organization's rate limiter in scope "day" (every Zoho call counts
 *             against the day window and, as every scope does, the "all" minute window), adds
 *             the bearer token (Zoho takes "Bearer" as well as "Zoho-oauthtoken"), refreshes
 *             it once on 401 and backs off on 429/5xx. Zoho sends no Retry-After with its 429
 *             (codes 44 day, 45 minute): after a 45 we wait the "all" window (60 s, or its
 *             length in the rate_limits setting), the time the minute window takes to open
 *             again; a 44 pauses the "day" scope for a whole day window (request.h: the
 *             limiter then waits or, in `sync --once`, the pass stops saying when it resumes). The
 * caller gets the final status and body so that a write can turn a refused record into that
 * record's status instead of failing the call. Threads:    a handle is used by one thread at a time
 * (connector.h). Not here:   JSON (zohobooks_parse.c), paging and write policy (zohobooks.c).
 */
#include <stdio.h>
#include <string.h>

#include "connectors/common/request.h"
#include "connectors/zohobooks/zohobooks_int.h"
#include "util/alloc.h"

#define WAIT_429_MS ((int64_t)60 * 1000)

#define WAIT_DAY_MS ((int64_t)24 * 60 * 60 * 1000)

/* The length of the connection's window of scope (the rate_limits setting), else dflt. */
static int64_t window_ms(const struct hs_connector *c, const char *scope, int64_t dflt)
{
    for (size_t i = 0; i < c->n_windows; i++)
        if (strcmp(c->windows[i].scope, scope) == 0 && c->windows[i].window_ms > 0)
            return c->windows[i].window_ms;
    return dflt;
}

/* A 429 with code 44 is the day's limit: the "day" scope waits a whole day window (Zoho says
 * neither when its day ends nor how long to wait); code 45, the minute's, waits wait_429_ms. */
static int64_t wait_429(void *ud, const struct hs_http_response *resp, const char **scope)
{
    const struct hs_connector *c = ud;
    int code = -1;
    char text[8];
    if (!hs_zoho_conn_parse_error((const uint8_t *)resp->body.data, resp->body.len, &code, text,
                                  sizeof text) ||
        code != 44)
        return -1;
    *scope = "day";
    return window_ms(c, "day", WAIT_DAY_MS);
}

int hs_zoho_conn_send(struct hs_connector *c, const char *method, const char *rel,
                      const struct hs_zoho_upsert *upsert, const char *body, size_t body_len,
                      int *out_status, struct hs_buf *out, struct hs_error *err)
{
    *out_status = 0;
    char *path = hs_asprintf("books/v3/%s%sorganization_id=%s", rel,
                             strchr(rel, '?') != NULL ? "&" : "?", c->cfg.tenant);
    char *url = path != NULL ? hs_conn_url(&c->cfg, path) : NULL;
    hs_free(path);
    struct hs_http_request req;
    struct hs_http_response resp;
    hs_http_request_init(&req);
    hs_http_response_init(&resp);
    int rc = url != NULL ? hs_http_request_set(&req, method, url) : HS_ENOMEM;
    hs_free(url);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&req.headers, "Accept", "application/json");
    if (rc == HS_OK && upsert != NULL)
        rc = hs_http_headers_set(&req.headers, "X-Unique-Identifier-Key", upsert->key);
    if (rc == HS_OK && upsert != NULL)
        rc = hs_http_headers_set(&req.headers, "X-Unique-Identifier-Value", upsert->value);
    if (rc == HS_OK && upsert != NULL)
        rc = hs_http_headers_set(&req.headers, "X-Upsert", "true");
    if (rc == HS_OK && body != NULL)
        rc = hs_http_headers_set(&req.headers, "Content-Type", "application/json");
    if (rc == HS_OK && body != NULL)
        rc = hs_buf_append(&req.body, body, body_len);
    if (rc != HS_OK) {
        rc = hs_error_set(err, HS_ENOMEM, "%s: out of memory", c->cfg.name);
        goto done;
    }
    struct hs_conn_request_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.wait_429_ms = window_ms(c, "all", WAIT_429_MS);
    opts.wait_429 = wait_429;
    opts.wait_429_ud = c;
    rc = hs_conn_request_ex(&c->cfg, "day", &req, &opts, &resp, err);
    if (rc != HS_OK)
        goto done;
    *out_status = resp.status;
    if (resp.body.len > 0 && hs_buf_append(out, resp.body.data, resp.body.len) != HS_OK)
        rc = hs_error_set(err, HS_ENOMEM, "%s: out of memory", c->cfg.name);
    if (rc == HS_OK && (resp.status < 200 || resp.status > 299)) {
        /* the mapped code and message, for callers that fail the call */
        int crc = hs_conn_check(&c->cfg, &req, &resp, err);
        char text[HS_ERRMSG_MAX];
        int code = -1;
        if (crc != HS_EAUTH && hs_zoho_conn_parse_error((const uint8_t *)resp.body.data,
                                                        resp.body.len, &code, text, sizeof text))
            hs_error_set(err, crc, "%s: Zoho Books %s %s: HTTP %d: %s", c->cfg.name, method, rel,
                         resp.status, text);
    }
done:
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    return rc;
}

int hs_zoho_conn_call(struct hs_connector *c, const char *method, const char *rel,
                      struct hs_buf *out, struct hs_error *err)
{
    int status = 0;
    struct hs_buf body;
    hs_buf_init(&body);
    int rc = hs_zoho_conn_send(c, method, rel, NULL, NULL, 0, &status, &body, err);
    if (rc == HS_OK && (status < 200 || status > 299)) {
        int code = -1;
        char text[8];
        (void)hs_zoho_conn_parse_error((const uint8_t *)body.data, body.len, &code, text,
                                       sizeof text);
        rc = hs_zoho_conn_write_status(status, code);
        if (err != NULL)
            err->code = rc;
    }
    if (rc == HS_OK && body.len > 0 && hs_buf_append(out, body.data, body.len) != HS_OK)
        rc = hs_error_set(err, HS_ENOMEM, "%s: out of memory", c->cfg.name);
    hs_buf_release(&body);
    return rc;
}
