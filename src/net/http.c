/*
 * net/http.c - HTTP message helpers shared by client, server and in-process transport.
 *
 * Design:     headers are a small array searched linearly (requests carry a dozen at most);
 *             names keep their case, lookups ignore it, as HTTP requires.
 * Ownership:  every string in a request/response is owned by it and freed by _release.
 */
#include <string.h>

#include "net/http.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

int hs_http_headers_add(struct hs_http_headers *h, const char *name, const char *value)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        struct hs_http_header *v = hs_reallocarray(h->v, cap, sizeof *v);
        if (v == NULL)
            return HS_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    char *n = hs_strdup(name);
    char *val = hs_strdup(value);
    if (n == NULL || val == NULL) {
        hs_free(n);
        hs_free(val);
        return HS_ENOMEM;
    }
    h->v[h->n].name = n;
    h->v[h->n].value = val;
    h->n++;
    return HS_OK;
}

int hs_http_headers_set(struct hs_http_headers *h, const char *name, const char *value)
{
    size_t j = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (hs_str_ieq(h->v[i].name, name)) {
            hs_free(h->v[i].name);
            hs_free(h->v[i].value);
        } else {
            h->v[j++] = h->v[i];
        }
    }
    h->n = j;
    return hs_http_headers_add(h, name, value);
}

const char *hs_http_headers_get(const struct hs_http_headers *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (hs_str_ieq(h->v[i].name, name))
            return h->v[i].value;
    return NULL;
}

void hs_http_headers_release(struct hs_http_headers *h)
{
    for (size_t i = 0; i < h->n; i++) {
        hs_free(h->v[i].name);
        hs_free(h->v[i].value);
    }
    HS_FREE(h->v);
    h->n = 0;
    h->cap = 0;
}

void hs_http_request_init(struct hs_http_request *r)
{
    memset(r, 0, sizeof *r);
    hs_buf_init(&r->body);
}

void hs_http_request_release(struct hs_http_request *r)
{
    HS_FREE(r->method);
    HS_FREE(r->url);
    HS_FREE(r->path);
    HS_FREE(r->query);
    HS_FREE(r->peer);
    hs_http_headers_release(&r->headers);
    hs_buf_release(&r->body);
}

int hs_http_request_set(struct hs_http_request *r, const char *method, const char *url)
{
    char *m = hs_strdup(method);
    char *u = hs_strdup(url);
    if (m == NULL || u == NULL) {
        hs_free(m);
        hs_free(u);
        return HS_ENOMEM;
    }
    hs_free(r->method);
    hs_free(r->url);
    r->method = m;
    r->url = u;
    return HS_OK;
}

int hs_http_request_json(struct hs_http_request *r, const json_t *v)
{
    hs_buf_reset(&r->body);
    int rc = hs_json_dump(v, &r->body);
    if (rc != HS_OK)
        return rc;
    return hs_http_headers_set(&r->headers, "Content-Type", "application/json");
}

char *hs_http_request_query(const struct hs_http_request *r, const char *key)
{
    return hs_str_form_get(r->query, key, NULL);
}

void hs_http_response_init(struct hs_http_response *r)
{
    memset(r, 0, sizeof *r);
    r->status = 200;
    hs_buf_init(&r->body);
}

void hs_http_response_release(struct hs_http_response *r)
{
    hs_http_headers_release(&r->headers);
    hs_buf_release(&r->body);
}

int hs_http_response_json(struct hs_http_response *r, int status, const json_t *v)
{
    r->status = status;
    hs_buf_reset(&r->body);
    int rc = hs_json_dump(v, &r->body);
    if (rc != HS_OK)
        return rc;
    return hs_http_headers_set(&r->headers, "Content-Type", "application/json;charset=utf-8");
}

int hs_http_response_json_take(struct hs_http_response *r, int status, json_t *v)
{
    if (v == NULL)
        return HS_ENOMEM;
    int rc = hs_http_response_json(r, status, v);
    json_decref(v);
    return rc;
}

int hs_http_response_text(struct hs_http_response *r, int status, const char *content_type,
                          const char *text)
{
    r->status = status;
    hs_buf_reset(&r->body);
    int rc = hs_buf_puts(&r->body, text);
    if (rc != HS_OK)
        return rc;
    return hs_http_headers_set(&r->headers, "Content-Type", content_type);
}

int hs_http_response_parse_json(const struct hs_http_response *r, json_t **out,
                                struct hs_error *err)
{
    return hs_json_parse((const uint8_t *)r->body.data, r->body.len, "response body", out, err);
}

int hs_http_send(const struct hs_http_transport *t, const struct hs_http_request *req,
                 struct hs_http_response *out, struct hs_error *err)
{
    return t->ops->send(t->self, req, out, err);
}

void hs_http_transport_close(struct hs_http_transport *t)
{
    if (t != NULL && t->ops != NULL && t->ops->close != NULL)
        t->ops->close(t->self);
    if (t != NULL) {
        t->ops = NULL;
        t->self = NULL;
    }
}

int hs_http_split_url(const char *url, char **out_path, char **out_query)
{
    *out_path = NULL;
    *out_query = NULL;
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : url;
    if (p == NULL)
        p = "/";
    const char *q = strchr(p, '?');
    const char *frag = strchr(p, '#');
    size_t plen = q ? (size_t)(q - p) : (frag ? (size_t)(frag - p) : strlen(p));
    char *path = hs_str_url_decode(p, plen, false);
    if (path == NULL)
        return HS_EINVAL;
    if (q != NULL) {
        size_t qlen = frag && frag > q ? (size_t)(frag - q - 1) : strlen(q + 1);
        *out_query = hs_strndup(q + 1, qlen);
        if (*out_query == NULL) {
            hs_free(path);
            return HS_ENOMEM;
        }
    }
    *out_path = path;
    return HS_OK;
}
