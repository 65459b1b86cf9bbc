/*
 * connectors/quickbooks/quickbooks_client.c - requests to the QuickBooks Online v3 API.
 *
 * Design:     one function sends every call: it builds
 *             "<base_url>/v3/company/<realm>/<rel>" plus minorversion (from the settings,
 *             default 75; QuickBooks serves every call at its newest version otherwise),
 *             adds Accept: application/json and the body, and hands the request to
 *             hs_conn_request (connectors/common/request.h), which takes a call from the
 *             realm's rate limiter in the given scope ("batch" for /batch, "all" otherwise),
 *             adds the bearer token, refreshes it once on 401 and backs off on 429/5xx. A 429
 *             without Retry-After waits 60 s, as Intuit documents.
 *             Non-2xx answers are mapped by hs_conn_check; QuickBooks' Fault code is handed
 *             back too, because the callers need it (5010 stale, 6240 duplicate, CDC window).
 * Threads:    a handle is used by one thread at a time (connector.h).
 * Not here:   JSON (quickbooks_parse.c), paging and batching policy (quickbooks.c).
 */
#include <string.h>

#include "connectors/common/request.h"
#include "connectors/quickbooks/quickbooks_int.h"
#include "util/alloc.h"

#define WAIT_429_MS ((int64_t)60 * 1000)

int hs_quickbooks_client_call(struct hs_connector *c, const char *method, const char *scope,
                              const char *rel, const char *content_type, const char *body,
                              size_t body_len, struct hs_buf *out, char *out_fault_code,
                              struct hs_error *err)
{
    if (out_fault_code != NULL)
        out_fault_code[0] = '\0';
    char *path = hs_asprintf("v3/company/%s/%s%cminorversion=%ld", c->cfg.tenant, rel,
                             strchr(rel, '?') != NULL ? '&' : '?', c->minorversion);
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
    if (rc == HS_OK && content_type != NULL)
        rc = hs_http_headers_set(&req.headers, "Content-Type", content_type);
    if (rc == HS_OK && body != NULL)
        rc = hs_buf_append(&req.body, body, body_len);
    if (rc != HS_OK) {
        rc = hs_error_set(err, HS_ENOMEM, "%s: out of memory", c->cfg.name);
        goto done;
    }
    struct hs_conn_request_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.wait_429_ms = WAIT_429_MS;
    rc = hs_conn_request_ex(&c->cfg, scope, &req, &opts, &resp, err);
    if (rc != HS_OK)
        goto done;
    rc = hs_conn_check(&c->cfg, &req, &resp, err);
    if (rc != HS_OK && out_fault_code != NULL) {
        char text[8];
        hs_quickbooks_parse_fault((const uint8_t *)resp.body.data, resp.body.len, out_fault_code,
                                  16, text, sizeof text);
    }
    if (resp.body.len > 0 && hs_buf_append(out, resp.body.data, resp.body.len) != HS_OK) {
        rc = hs_error_set(err, HS_ENOMEM, "%s: out of memory", c->cfg.name);
        goto done;
    }
done:
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    return rc;
}

int hs_quickbooks_query(struct hs_connector *c, const char *text, struct hs_buf *body,
                        struct hs_error *err)
{
    return hs_quickbooks_client_call(c, "POST", "all", "query", "application/text", text,
                                     strlen(text), body, NULL, err);
}
