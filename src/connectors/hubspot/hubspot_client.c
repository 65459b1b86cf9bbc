/*
 * connectors/hubspot/hubspot_client.c - HubSpot CRM v3/v4 requests.
 *
 * Design:     every call builds "<base_url><path>", a compact JSON body, and goes through
 *             hs_conn_request_ex (connectors/common/request.h): limiter scope "search" for
 *             searches (HubSpot's 5 per second) and "all" for the rest, one forced token
 *             refresh on 401, backoff on 429/5xx. HubSpot sends no Retry-After, so a 429
 *             waits the window it names: 10 s for TEN_SECONDLY_ROLLING, 1 s for searches.
 *             Answers with 2xx or 207 (partial batch success) are handed to the parser;
 *             HubSpot's "too many inputs" 400 becomes HS_ETOOBIG so the engine halves the
 *             batch; every other status is mapped by hs_conn_check with HubSpot's message.
 * Threads:    reentrant; shares only what cfg shares (limiter, token source).
 * Ownership:  bodies are borrowed; pages and association lists are the caller's.
 * Not here:   what the JSON means (hubspot_parse.c), which calls to make (hubspot.c).
 */
#include <stdio.h>
#include <string.h>

#include "connectors/common/request.h"
#include "connectors/hubspot/hubspot_int.h"
#include "util/alloc.h"
#include "util/str.h"

/* HubSpot refuses an oversized batch with 400 VALIDATION_ERROR "... the limit is 100" and an
 * INVALID_SIZE error detail. */
static bool too_big(const struct hs_http_response *resp)
{
    if (resp->status != 400 || resp->body.data == NULL)
        return false;
    /* bounded search in the body (not NUL-terminated) */
    static const char *const needles[] = {"INVALID_SIZE", "the limit is", "size must be between"};
    for (size_t n = 0; n < sizeof needles / sizeof needles[0]; n++) {
        size_t nl = strlen(needles[n]);
        for (size_t i = 0; i + nl <= resp->body.len && i < 4096; i++)
            if (memcmp(resp->body.data + i, needles[n], nl) == 0)
                return true;
    }
    return false;
}

int hs_hubspot_client_call(const struct hs_connector_config *cfg, const char *method,
                           const char *path, const json_t *body, bool ok_409,
                           struct hs_http_response *resp, struct hs_error *err)
{
    bool search = hs_str_ends(path, "/search");
    struct hs_http_request req;
    hs_http_request_init(&req);
    char *url = hs_conn_url(cfg, path);
    int rc = url ? hs_http_request_set(&req, method, url) : HS_ENOMEM;
    if (rc == HS_OK && body != NULL)
        rc = hs_http_request_json(&req, body);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&req.headers, "Accept", "application/json");
    hs_free(url);
    if (rc != HS_OK) {
        hs_http_request_release(&req);
        return hs_error_set(err, rc, "%s: cannot build HubSpot request %s %s: out of memory",
                            cfg->name ? cfg->name : "hubspot", method, path);
    }
    struct hs_conn_request_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.wait_429_ms = search ? 1000 : 10000;
    rc = hs_conn_request_ex(cfg, search ? "search" : "all", &req, &opts, resp, err);
    if (rc == HS_OK) {
        int st = resp->status;
        if ((st >= 200 && st < 300) || (ok_409 && st == 409)) {
            rc = HS_OK;
        } else if (too_big(resp)) {
            rc = hs_error_set(err, HS_ETOOBIG, "%s: %s %s: HubSpot refused the batch size",
                              cfg->name ? cfg->name : "hubspot", method, path);
        } else {
            rc = hs_conn_check(cfg, &req, resp, err);
            if (rc == HS_OK) /* a 1xx/3xx that check let pass: not an answer we can use */
                rc = hs_error_set(err, HS_EPROTO, "%s: %s %s: unexpected HTTP %d",
                                  cfg->name ? cfg->name : "hubspot", method, path, st);
        }
    }
    hs_http_request_release(&req);
    return rc;
}

static int call_page(const struct hs_connector_config *cfg, const char *path, const json_t *body,
                     struct hs_hubspot_page *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    out->total = -1;
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    int rc = hs_hubspot_client_call(cfg, "POST", path, body, false, &resp, err);
    if (rc == HS_OK)
        rc = hs_hubspot_parse_page((const uint8_t *)resp.body.data, resp.body.len, out, err);
    hs_http_response_release(&resp);
    return rc;
}

static json_t *id_inputs(const char *const *ids, size_t n)
{
    json_t *inputs = json_array();
    for (size_t i = 0; inputs != NULL && i < n; i++) {
        json_t *o = json_pack("{s:s}", "id", ids[i]);
        if (json_array_append_new(inputs, o) != 0) {
            json_decref(inputs);
            return NULL;
        }
    }
    return inputs;
}

int hs_hubspot_client_batch_read(const struct hs_connector_config *cfg, enum hs_hubspot_obj obj,
                                 const char *const *ids, size_t n, const json_t *props,
                                 struct hs_hubspot_page *out, struct hs_error *err)
{
    json_t *inputs = id_inputs(ids, n);
    json_t *body = inputs ? json_pack("{s:o,s:O}", "inputs", inputs, "properties", props) : NULL;
    char path[96];
    snprintf(path, sizeof path, "/crm/v3/objects/%s/batch/read", hs_hubspot_obj_name(obj));
    if (body == NULL) {
        memset(out, 0, sizeof *out);
        return hs_error_set(err, HS_ENOMEM, "cannot build HubSpot batch read: out of memory");
    }
    int rc = call_page(cfg, path, body, out, err);
    json_decref(body);
    return rc;
}

int hs_hubspot_client_batch_write(const struct hs_connector_config *cfg, enum hs_hubspot_obj obj,
                                  const char *op, const json_t *inputs, struct hs_hubspot_page *out,
                                  struct hs_error *err)
{
    json_t *body = json_pack("{s:O}", "inputs", inputs);
    char path[96];
    snprintf(path, sizeof path, "/crm/v3/objects/%s/batch/%s", hs_hubspot_obj_name(obj), op);
    if (body == NULL) {
        memset(out, 0, sizeof *out);
        return hs_error_set(err, HS_ENOMEM, "cannot build HubSpot batch %s: out of memory", op);
    }
    int rc = call_page(cfg, path, body, out, err);
    json_decref(body);
    return rc;
}

int hs_hubspot_client_search(const struct hs_connector_config *cfg, enum hs_hubspot_obj obj,
                             const json_t *body, struct hs_hubspot_page *out, struct hs_error *err)
{
    char path[96];
    snprintf(path, sizeof path, "/crm/v3/objects/%s/search", hs_hubspot_obj_name(obj));
    return call_page(cfg, path, body, out, err);
}

int hs_hubspot_client_assoc_read(const struct hs_connector_config *cfg, enum hs_hubspot_obj from,
                                 enum hs_hubspot_obj to, const char *const *ids, size_t n,
                                 int32_t primary_type, struct hs_hubspot_assocs *out,
                                 struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *inputs = id_inputs(ids, n);
    json_t *body = inputs ? json_pack("{s:o}", "inputs", inputs) : NULL;
    if (body == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot build HubSpot association read: out of memory");
    char path[128];
    snprintf(path, sizeof path, "/crm/v4/associations/%s/%s/batch/read", hs_hubspot_obj_name(from),
             hs_hubspot_obj_name(to));
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    int rc = hs_hubspot_client_call(cfg, "POST", path, body, false, &resp, err);
    if (rc == HS_OK)
        rc = hs_hubspot_parse_assocs((const uint8_t *)resp.body.data, resp.body.len, primary_type,
                                     out, err);
    hs_http_response_release(&resp);
    json_decref(body);
    return rc;
}
