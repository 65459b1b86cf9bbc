/*
 * connectors/xero/xero_client.c - requests to the Xero Accounting API 2.0.
 *
 * Design:     one function sends every call: it builds "<base_url>/api.xro/2.0/<rel>", adds
 *             Accept: application/json, the Xero-tenant-id header (cfg->tenant: every
 *             accounting call needs it), If-Modified-Since when asked (UTC,
 *             "2026-11-23T10:00:00"), Idempotency-Key on writes and the body, and hands the
 *             request to hs_conn_request_ex (connectors/common/request.h), which takes a call
 *             from the tenant's rate limiter in scope "day" (every Xero call counts against
 *             the day window, and, as every scope does, against the "all" minute window),
 *             adds the bearer token, refreshes it once on 401 and backs off
 *             on 429/5xx. Xero sends Retry-After with its 429; without one we wait 60 s (the
 *             minute window). Non-2xx answers are mapped by hs_conn_check, and the message is
 *             replaced by Xero's own validation text when the body carries one.
 * Threads:    a handle is used by one thread at a time (connector.h).
 * Not here:   JSON (xero_parse.c), paging and batching policy (xero.c).
 */
#include <stdio.h>
#include <string.h>

#include "connectors/common/request.h"
#include "connectors/xero/xero_int.h"
#include "util/alloc.h"

#define WAIT_429_MS ((int64_t)60 * 1000)

int hs_xero_conn_call(struct hs_connector *c, const char *method, const char *rel, int64_t since_ms,
                      const char *idem_key, const char *body, size_t body_len, struct hs_buf *out,
                      struct hs_error *err)
{
    char *path = hs_asprintf("api.xro/2.0/%s", rel);
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
    if (rc == HS_OK)
        rc = hs_http_headers_set(&req.headers, "Xero-tenant-id", c->cfg.tenant);
    if (rc == HS_OK && since_ms > 0) {
        char ims[24];
        hs_xero_conn_time_format(since_ms, ims);
        rc = hs_http_headers_set(&req.headers, "If-Modified-Since", ims);
    }
    if (rc == HS_OK && idem_key != NULL)
        rc = hs_http_headers_set(&req.headers, "Idempotency-Key", idem_key);
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
    opts.wait_429_ms = WAIT_429_MS;
    rc = hs_conn_request_ex(&c->cfg, "day", &req, &opts, &resp, err);
    if (rc != HS_OK)
        goto done;
    rc = hs_conn_check(&c->cfg, &req, &resp, err);
    if (rc != HS_OK && rc != HS_EAUTH && resp.body.len > 0) {
        char text[HS_ERRMSG_MAX];
        if (hs_xero_conn_parse_error((const uint8_t *)resp.body.data, resp.body.len, text,
                                     sizeof text))
            hs_error_set(err, rc, "%s: Xero %s %s: HTTP %d: %s", c->cfg.name, method, rel,
                         resp.status, text);
    }
    if (rc == HS_OK && resp.body.len > 0 &&
        hs_buf_append(out, resp.body.data, resp.body.len) != HS_OK)
        rc = hs_error_set(err, HS_ENOMEM, "%s: out of memory", c->cfg.name);
done:
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    return rc;
}
