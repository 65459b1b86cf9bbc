/*
 * net/inproc.c - the in-process transport: a client request handed straight to a handler.
 *
 * Design:     converts the client-side request (url) into the server-side form the handler
 *             expects (path percent-decoded, raw query, peer "inproc") and calls the handler
 *             synchronously, with no socket. Used for deterministic simulation (engine and
 *             sandbox in one process) and for fast tests.
 * Threads:    as thread-safe as the handler.
 * Ownership:  the transport borrows the handler's ud.
 */
#include <string.h>

#include "net/http.h"
#include "util/alloc.h"

struct inproc {
    hs_http_handler_fn handler;
    void *ud;
};

static int inproc_send(void *self, const struct hs_http_request *req, struct hs_http_response *out,
                       struct hs_error *err)
{
    struct inproc *t = self;
    struct hs_http_request sreq;
    hs_http_request_init(&sreq);
    int rc = hs_http_split_url(req->url, &sreq.path, &sreq.query);
    if (rc != HS_OK) {
        hs_http_request_release(&sreq);
        return hs_error_set(err, rc, "cannot send request to '%s': bad URL", req->url);
    }
    sreq.method = hs_strdup(req->method ? req->method : "GET");
    sreq.peer = hs_strdup("127.0.0.1");
    rc = (sreq.method && sreq.peer) ? HS_OK : HS_ENOMEM;
    for (size_t i = 0; i < req->headers.n && rc == HS_OK; i++)
        rc = hs_http_headers_add(&sreq.headers, req->headers.v[i].name, req->headers.v[i].value);
    if (rc == HS_OK && req->body.len > 0)
        rc = hs_buf_append(&sreq.body, req->body.data, req->body.len);
    if (rc == HS_OK) {
        hs_http_headers_release(&out->headers);
        hs_buf_reset(&out->body);
        out->status = 200;
        rc = t->handler(t->ud, &sreq, out);
        if (rc != HS_OK) {
            out->status = 500;
            rc = HS_OK; /* like a server: a handler failure is a 500 answer */
        }
    } else {
        hs_error_set(err, rc, "cannot send request to '%s': out of memory", req->url);
    }
    hs_http_request_release(&sreq);
    return rc;
}

static void inproc_close(void *self)
{
    hs_free(self);
}

static const struct hs_http_ops inproc_ops = {inproc_send, inproc_close};

int hs_http_inproc_open(hs_http_handler_fn handler, void *ud, struct hs_http_transport *out,
                        struct hs_error *err)
{
    struct inproc *t = hs_calloc(1, sizeof *t);
    if (t == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot open in-process transport: out of memory");
    t->handler = handler;
    t->ud = ud;
    out->ops = &inproc_ops;
    out->self = t;
    return HS_OK;
}
