/*
 * net/server.c - HTTP server on libmicrohttpd, answering through one hs_http_handler_fn.
 *
 * Design:     we bind and listen on the socket ourselves (so port 0 works and the chosen
 *             port is known before MHD starts) and hand it to MHD, which runs a pool of
 *             epoll threads with keep-alive. Each request's body is collected into the
 *             per-connection context up to max_body (larger ones get 413 and are discarded);
 *             on the last call the request is converted to struct hs_http_request (path as
 *             MHD decoded it, query re-encoded from MHD's parsed arguments, headers, peer)
 *             and handed to the handler; its hs_http_response is copied into an MHD
 *             response.
 * States:     open (serving) -> hs_http_server_close (MHD_stop_daemon waits for in-flight
 *             requests, then frees).
 * Threads:    MHD's pool threads call the handler concurrently; the handler must be
 *             thread-safe. The server struct is read-only while serving.
 * Ownership:  the server owns its MHD daemon and listening socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "net/http.h"
#include "util/alloc.h"
#include "util/str.h"

#define DEFAULT_MAX_BODY ((size_t)16 * 1024 * 1024)

struct hs_http_server {
    struct MHD_Daemon *mhd;
    int fd;
    uint16_t port;
    size_t max_body;
    hs_http_handler_fn handler;
    void *ud;
};

struct conn_ctx {
    struct hs_buf body;
    bool too_big;
};

struct collect {
    struct hs_http_request *req;
    struct hs_buf *query;
    int rc;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    struct collect *c = cls;
    if (c->rc == HS_OK)
        c->rc = hs_http_headers_add(&c->req->headers, key, value ? value : "");
    return c->rc == HS_OK ? MHD_YES : MHD_NO;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct collect *c = cls;
    char *k = hs_str_url_encode(key);
    char *v = value ? hs_str_url_encode(value) : NULL;
    if (k == NULL || (value != NULL && v == NULL)) {
        c->rc = HS_ENOMEM;
    } else {
        if (c->query->len > 0 && hs_buf_putc(c->query, '&') != HS_OK)
            c->rc = HS_ENOMEM;
        if (c->rc == HS_OK && hs_buf_puts(c->query, k) != HS_OK)
            c->rc = HS_ENOMEM;
        if (c->rc == HS_OK && v != NULL &&
            (hs_buf_putc(c->query, '=') != HS_OK || hs_buf_puts(c->query, v) != HS_OK))
            c->rc = HS_ENOMEM;
    }
    hs_free(k);
    hs_free(v);
    return c->rc == HS_OK ? MHD_YES : MHD_NO;
}

static enum MHD_Result send_response(struct MHD_Connection *conn,
                                     const struct hs_http_response *resp)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        resp->body.len, resp->body.data ? resp->body.data : (char *)"", MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    for (size_t i = 0; i < resp->headers.n; i++)
        MHD_add_response_header(r, resp->headers.v[i].name, resp->headers.v[i].value);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_simple(struct MHD_Connection *conn, int status, const char *json)
{
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    resp.status = status;
    enum MHD_Result ret = MHD_NO;
    if (hs_buf_puts(&resp.body, json) == HS_OK &&
        hs_http_headers_add(&resp.headers, "Content-Type", "application/json") == HS_OK)
        ret = send_response(conn, &resp);
    hs_http_response_release(&resp);
    return ret;
}

static int fill_request(struct MHD_Connection *conn, const char *url, const char *method,
                        struct conn_ctx *ctx, struct hs_http_request *req)
{
    struct hs_buf query;
    hs_buf_init(&query);
    struct collect c = {req, &query, HS_OK};
    req->method = hs_strdup(method);
    req->path = hs_strdup(url);
    if (req->method == NULL || req->path == NULL)
        c.rc = HS_ENOMEM;
    if (c.rc == HS_OK)
        MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &c);
    if (c.rc == HS_OK)
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &c);
    if (c.rc == HS_OK && query.len > 0) {
        req->query = hs_buf_detach(&query);
        if (req->query == NULL)
            c.rc = HS_ENOMEM;
    }
    hs_buf_release(&query);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (c.rc == HS_OK && ci != NULL && ci->client_addr != NULL) {
        char addr[INET6_ADDRSTRLEN] = "";
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, addr,
                      sizeof addr);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, addr,
                      sizeof addr);
        req->peer = hs_strdup(addr);
        if (req->peer == NULL)
            c.rc = HS_ENOMEM;
    }
    /* move the collected body */
    req->body = ctx->body;
    hs_buf_init(&ctx->body);
    return c.rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct hs_http_server *s = cls;
    struct conn_ctx *ctx = *con_cls;
    if (ctx == NULL) {
        ctx = hs_calloc(1, sizeof *ctx);
        if (ctx == NULL)
            return MHD_NO;
        hs_buf_init(&ctx->body);
        *con_cls = ctx;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!ctx->too_big) {
            if (ctx->body.len + *upload_data_size > s->max_body) {
                ctx->too_big = true;
                hs_buf_release(&ctx->body);
            } else if (hs_buf_append(&ctx->body, upload_data, *upload_data_size) != HS_OK) {
                return MHD_NO;
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (ctx->too_big)
        return send_simple(conn, 413,
                           "{\"status\":\"error\",\"message\":\"request body too large\"}");
    struct hs_http_request req;
    hs_http_request_init(&req);
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    enum MHD_Result ret;
    int rc = fill_request(conn, url, method, ctx, &req);
    if (rc == HS_OK)
        rc = s->handler(s->ud, &req, &resp);
    if (rc == HS_OK)
        ret = send_response(conn, &resp);
    else
        ret = send_simple(conn, 500,
                          "{\"status\":\"error\",\"message\":\"internal error in handler\"}");
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct conn_ctx *ctx = *con_cls;
    if (ctx != NULL) {
        hs_buf_release(&ctx->body);
        hs_free(ctx);
        *con_cls = NULL;
    }
}

static int listen_on(const char *addr, uint16_t port, int *out_fd, uint16_t *out_port,
                     struct hs_error *err)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
        return hs_error_set(err, HS_EINVAL, "cannot listen on '%s': not an IPv4 address", addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return hs_error_set(err, HS_EIO, "cannot create socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(fd, 512) != 0) {
        int e = errno;
        close(fd);
        return hs_error_set(err, HS_EIO, "cannot listen on '%s:%u': %s", addr, (unsigned)port,
                            strerror(e));
    }
    socklen_t len = sizeof sin;
    getsockname(fd, (struct sockaddr *)&sin, &len);
    *out_fd = fd;
    *out_port = ntohs(sin.sin_port);
    return HS_OK;
}

int hs_http_server_open(const struct hs_http_server_config *cfg, hs_http_handler_fn handler,
                        void *ud, struct hs_http_server **out, struct hs_error *err)
{
    *out = NULL;
    struct hs_http_server *s = hs_calloc(1, sizeof *s);
    if (s == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot start server: out of memory");
    s->fd = -1;
    s->handler = handler;
    s->ud = ud;
    s->max_body = cfg->max_body ? cfg->max_body : DEFAULT_MAX_BODY;
    int rc =
        listen_on(cfg->bind_addr ? cfg->bind_addr : "127.0.0.1", cfg->port, &s->fd, &s->port, err);
    if (rc != HS_OK) {
        hs_free(s);
        return rc;
    }
    unsigned threads = cfg->threads ? cfg->threads : 2;
    s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
                              on_request, s, MHD_OPTION_LISTEN_SOCKET, s->fd,
                              MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED,
                              on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_END);
    if (s->mhd == NULL) {
        close(s->fd);
        hs_free(s);
        return hs_error_set(err, HS_EIO, "cannot start HTTP server on port %u",
                            (unsigned)cfg->port);
    }
    *out = s;
    return HS_OK;
}

uint16_t hs_http_server_port(const struct hs_http_server *s)
{
    return s->port;
}

void hs_http_server_close(struct hs_http_server *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->mhd);
    if (s->fd >= 0)
        close(s->fd);
    hs_free(s);
}
