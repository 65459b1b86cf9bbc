/*
 * net/client.c - the libcurl transport (struct hs_http_ops).
 *
 * Design:     one CURL easy handle per transport, reused for every request so that
 *             connections stay alive (keep-alive, one TCP/TLS handshake per host). TLS
 *             verification is on unless the caller explicitly asks otherwise. Response
 *             headers are collected into the response (rate-limit headers matter to
 *             callers); the status line and blank line are skipped. curl errors are
 *             translated with the error buffer text kept in the message.
 * Threads:    a transport is used by one thread at a time (each worker opens its own).
 *             curl_global_init is called once by main().
 * Ownership:  the transport owns its CURL handle; hs_http_transport_close frees it.
 */
#include <string.h>

#include <curl/curl.h>

#include "net/http.h"
#include "util/alloc.h"

struct curl_tp {
    CURL *curl;
    long connect_timeout_ms;
    long timeout_ms;
    bool insecure;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct hs_http_response *r = ud;
    return hs_buf_append(&r->body, p, size * n) == HS_OK ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct hs_http_response *r = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* a new response (redirect or 100-continue): forget earlier headers */
        hs_http_headers_release(&r->headers);
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (colon == NULL)
        return len;
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1;
    const char *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    char *name = hs_strndup(p, nlen);
    char *value = hs_strndup(v, (size_t)(end - v));
    int rc = (name && value) ? hs_http_headers_add(&r->headers, name, value) : HS_ENOMEM;
    hs_free(name);
    hs_free(value);
    return rc == HS_OK ? len : 0;
}

static int curl_send(void *self, const struct hs_http_request *req, struct hs_http_response *out,
                     struct hs_error *err)
{
    struct curl_tp *t = self;
    CURL *c = t->curl;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    int rc = HS_OK;

    curl_easy_reset(c);
    out->status = 0;
    hs_http_headers_release(&out->headers);
    hs_buf_reset(&out->body);
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, t->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : t->timeout_ms);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (t->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    const char *method = req->method ? req->method : "GET";
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body.data ? req->body.data : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body.len);
    }
    for (size_t i = 0; i < req->headers.n && rc == HS_OK; i++) {
        char *line = hs_asprintf("%s: %s", req->headers.v[i].name, req->headers.v[i].value);
        struct curl_slist *nl = line ? curl_slist_append(hdrs, line) : NULL;
        hs_free(line);
        if (nl == NULL)
            rc = hs_error_set(err, HS_ENOMEM, "cannot send request: out of memory");
        else
            hdrs = nl;
    }
    /* no "Expect: 100-continue" round trip on large bodies */
    struct curl_slist *nl = rc == HS_OK ? curl_slist_append(hdrs, "Expect:") : NULL;
    if (rc == HS_OK && nl == NULL)
        rc = hs_error_set(err, HS_ENOMEM, "cannot send request: out of memory");
    else if (nl != NULL)
        hdrs = nl;
    if (rc == HS_OK) {
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        CURLcode cc = curl_easy_perform(c);
        if (cc == CURLE_OK) {
            long status = 0;
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
            out->status = (int)status;
        } else {
            int code = cc == CURLE_OPERATION_TIMEDOUT ? HS_ETIMEOUT
                       : cc == CURLE_OUT_OF_MEMORY    ? HS_ENOMEM
                                                      : HS_EIO;
            rc = hs_error_set(err, code, "%s %s failed: %s", method, req->url,
                              errbuf[0] ? errbuf : curl_easy_strerror(cc));
        }
    }
    curl_slist_free_all(hdrs);
    return rc;
}

static void curl_close(void *self)
{
    struct curl_tp *t = self;
    if (t == NULL)
        return;
    curl_easy_cleanup(t->curl);
    hs_free(t);
}

static const struct hs_http_ops curl_ops = {curl_send, curl_close};

int hs_http_curl_open(const struct hs_http_curl_options *opt, struct hs_http_transport *out,
                      struct hs_error *err)
{
    out->ops = NULL;
    out->self = NULL;
    struct curl_tp *t = hs_calloc(1, sizeof *t);
    if (t == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot open HTTP client: out of memory");
    t->curl = curl_easy_init();
    if (t->curl == NULL) {
        hs_free(t);
        return hs_error_set(err, HS_ENOMEM, "cannot open HTTP client: curl_easy_init failed");
    }
    t->connect_timeout_ms = opt && opt->connect_timeout_ms ? opt->connect_timeout_ms : 10000;
    t->timeout_ms = opt && opt->timeout_ms ? opt->timeout_ms : 120000;
    t->insecure = opt ? opt->insecure : false;
    out->ops = &curl_ops;
    out->self = t;
    return HS_OK;
}
