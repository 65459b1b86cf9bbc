/*
 * tests/unit/test_net_http.c - router, server (libmicrohttpd), curl client and in-process
 * transport, over real loopback HTTP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "net/http.h"
#include "net/router.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/str.h"

static int echo_route(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                      struct hs_http_response *resp)
{
    (void)ud;
    const char *type = hs_route_param(m, "type");
    const char *id = hs_route_param(m, "id");
    const char *rest = hs_route_param(m, "rest");
    char *limit = hs_http_request_query(req, "limit");
    json_t *body =
        json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:i, s:s?}", "method", req->method, "type", type,
                  "id", id, "rest", rest, "limit", limit, "body_len", (json_int_t)req->body.len,
                  "x_test", hs_http_headers_get(&req->headers, "X-Test"));
    hs_free(limit);
    int rc = hs_http_response_json_take(resp, 200, body);
    if (rc == HS_OK)
        rc = hs_http_headers_add(&resp->headers, "X-RateLimit-Remaining", "99");
    return rc;
}

static struct hs_router *make_router(void)
{
    struct hs_router *r = NULL;
    assert_int_equal(hs_router_new(&r), HS_OK);
    assert_int_equal(hs_router_add(r, "GET", "/crm/v3/objects/{type}/{id}", echo_route, NULL),
                     HS_OK);
    assert_int_equal(
        hs_router_add(r, "POST", "/crm/v3/objects/{type}/batch/create", echo_route, NULL), HS_OK);
    assert_int_equal(hs_router_add(r, "*", "/files/{rest*}", echo_route, NULL), HS_OK);
    return r;
}

static void send_ok(const struct hs_http_transport *t, const char *method, const char *url,
                    const char *body, struct hs_http_response *resp)
{
    struct hs_http_request req;
    hs_http_request_init(&req);
    assert_int_equal(hs_http_request_set(&req, method, url), HS_OK);
    assert_int_equal(hs_http_headers_add(&req.headers, "X-Test", "yes"), HS_OK);
    if (body != NULL)
        assert_int_equal(hs_buf_puts(&req.body, body), HS_OK);
    struct hs_error err;
    hs_error_clear(&err);
    int rc = hs_http_send(t, &req, resp, &err);
    if (rc != HS_OK)
        fail_msg("send failed: %s", err.msg);
    hs_http_request_release(&req);
}

static json_t *body_json(const struct hs_http_response *resp)
{
    json_t *v = NULL;
    assert_int_equal(hs_http_response_parse_json(resp, &v, NULL), HS_OK);
    return v;
}

static void check_transport(const struct hs_http_transport *t, const char *base)
{
    char url[256];
    struct hs_http_response resp;
    hs_http_response_init(&resp);

    snprintf(url, sizeof url, "%s/crm/v3/objects/companies/42?limit=10&x=a%%20b", base);
    send_ok(t, "GET", url, NULL, &resp);
    assert_int_equal(resp.status, 200);
    json_t *v = body_json(&resp);
    assert_string_equal(json_string_value(json_object_get(v, "type")), "companies");
    assert_string_equal(json_string_value(json_object_get(v, "id")), "42");
    assert_string_equal(json_string_value(json_object_get(v, "limit")), "10");
    assert_string_equal(json_string_value(json_object_get(v, "x_test")), "yes");
    assert_string_equal(hs_http_headers_get(&resp.headers, "x-ratelimit-remaining"), "99");
    json_decref(v);

    snprintf(url, sizeof url, "%s/crm/v3/objects/deals/batch/create", base);
    send_ok(t, "POST", url, "{\"inputs\":[]}", &resp);
    assert_int_equal(resp.status, 200);
    v = body_json(&resp);
    assert_int_equal(json_integer_value(json_object_get(v, "body_len")), 13);
    assert_string_equal(json_string_value(json_object_get(v, "method")), "POST");
    json_decref(v);

    snprintf(url, sizeof url, "%s/files/a/b/c.txt", base);
    send_ok(t, "DELETE", url, NULL, &resp);
    v = body_json(&resp);
    assert_string_equal(json_string_value(json_object_get(v, "rest")), "a/b/c.txt");
    json_decref(v);

    snprintf(url, sizeof url, "%s/nope", base);
    send_ok(t, "GET", url, NULL, &resp);
    assert_int_equal(resp.status, 404);

    snprintf(url, sizeof url, "%s/crm/v3/objects/companies/42", base);
    send_ok(t, "PUT", url, "{}", &resp);
    assert_int_equal(resp.status, 405);
    hs_http_response_release(&resp);
}

static void test_net_http_server_and_curl_client_round_trip(void **state)
{
    (void)state;
    struct hs_router *r = make_router();
    struct hs_http_server *srv = NULL;
    struct hs_http_server_config cfg = {.bind_addr = "127.0.0.1", .port = 0, .max_body = 1024};
    struct hs_error err;
    assert_int_equal(hs_http_server_open(&cfg, hs_router_handle, r, &srv, &err), HS_OK);
    assert_true(hs_http_server_port(srv) > 0);
    struct hs_http_transport t;
    assert_int_equal(hs_http_curl_open(NULL, &t, &err), HS_OK);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)hs_http_server_port(srv));
    check_transport(&t, base);

    /* a body over max_body is refused with 413 */
    char big[2048];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    char url[128];
    snprintf(url, sizeof url, "%s/crm/v3/objects/deals/batch/create", base);
    send_ok(&t, "POST", url, big, &resp);
    assert_int_equal(resp.status, 413);
    hs_http_response_release(&resp);

    hs_http_transport_close(&t);
    hs_http_server_close(srv);
    hs_router_free(r);
}

static void test_net_http_inproc_transport_matches_server(void **state)
{
    (void)state;
    struct hs_router *r = make_router();
    struct hs_http_transport t;
    assert_int_equal(hs_http_inproc_open(hs_router_handle, r, &t, NULL), HS_OK);
    check_transport(&t, "http://sandbox.invalid");
    hs_http_transport_close(&t);
    hs_router_free(r);
}

static void test_net_http_client_reports_connection_refused(void **state)
{
    (void)state;
    /* bind a port, close it, then connect: refused */
    struct hs_router *r = make_router();
    struct hs_http_server *srv = NULL;
    struct hs_http_server_config cfg = {0};
    assert_int_equal(hs_http_server_open(&cfg, hs_router_handle, r, &srv, NULL), HS_OK);
    unsigned port = hs_http_server_port(srv);
    hs_http_server_close(srv);
    struct hs_http_transport t;
    assert_int_equal(hs_http_curl_open(NULL, &t, NULL), HS_OK);
    struct hs_http_request req;
    hs_http_request_init(&req);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", port);
    assert_int_equal(hs_http_request_set(&req, "GET", url), HS_OK);
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_http_send(&t, &req, &resp, &err), HS_EIO);
    assert_non_null(strstr(err.msg, "GET http://127.0.0.1:"));
    hs_http_response_release(&resp);
    hs_http_request_release(&req);
    hs_http_transport_close(&t);
    hs_router_free(r);
}

static void test_net_router_rejects_bad_patterns_and_survives_oom(void **state)
{
    (void)state;
    struct hs_router *r = NULL;
    assert_int_equal(hs_router_new(&r), HS_OK);
    assert_int_equal(hs_router_add(r, "GET", "no-slash", echo_route, NULL), HS_EINVAL);
    assert_int_equal(hs_router_add(r, "GET", "/a//b", echo_route, NULL), HS_EINVAL);
    assert_int_equal(hs_router_add(r, "GET", "/a/{x*}/b", echo_route, NULL), HS_EINVAL);
    for (int n = 0;; n++) {
        failalloc_arm(n);
        int rc = hs_router_add(r, "GET", "/a/{b}/c/{d}", echo_route, NULL);
        failalloc_disarm();
        if (rc == HS_OK)
            break;
        assert_int_equal(rc, HS_ENOMEM);
    }
    hs_router_free(r);
}

static void test_net_http_split_url(void **state)
{
    (void)state;
    char *path = NULL;
    char *query = NULL;
    assert_int_equal(hs_http_split_url("http://h:1/a%20b/c?x=1&y=2#frag", &path, &query), HS_OK);
    assert_string_equal(path, "/a b/c");
    assert_string_equal(query, "x=1&y=2");
    hs_free(path);
    hs_free(query);
    assert_int_equal(hs_http_split_url("http://h:1", &path, &query), HS_OK);
    assert_string_equal(path, "/");
    assert_null(query);
    hs_free(path);
    assert_int_equal(hs_http_split_url("http://h/%zz", &path, &query), HS_EINVAL);
}

int main(void)
{
    hs_alloc_setup_json();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_http_server_and_curl_client_round_trip),
        cmocka_unit_test(test_net_http_inproc_transport_matches_server),
        cmocka_unit_test(test_net_http_client_reports_connection_refused),
        cmocka_unit_test(test_net_router_rejects_bad_patterns_and_survives_oom),
        cmocka_unit_test(test_net_http_split_url),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
