/*
 * tests/unit/test_sbx_stall.c - the sandbox's stall fault: the request runs (its change is
 *                               committed) and only its answer is held.
 *
 * Design:     the QuickBooks module in process (no seed, static token). One thread creates a
 *             customer through hs_sbx_handle with "stall=MS,stall_path=/customer" set; the main
 *             thread polls a query (a path the stall does not match, so it is answered at once)
 *             until the customer shows up, and checks that the create has not been answered
 *             yet: the provider committed, the client does not know. Then the answer arrives
 *             with the created record. Also: the spec prints back as given, and malformed
 *             stall keys are refused with a message naming them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sandbox/qbo.h"
#include "sandbox/sbx.h"
#include "util/alloc.h"
#include "util/json.h"

#define STALL_MS 1500

static const struct hs_sbx_module_ops *const only_qbo[] = {&hs_sbx_quickbooks_ops};

struct fix {
    struct hs_sbx *sbx;
    char base[96];
};

struct create {
    struct fix *fx;
    atomic_int answered;
    int status;
    char body[512];
};

static int call(struct hs_sbx *sbx, const char *method, const char *path, const char *query,
                const char *body, char *out, size_t out_len)
{
    struct hs_http_request r;
    struct hs_http_response resp;
    hs_http_request_init(&r);
    hs_http_response_init(&resp);
    r.method = hs_strdup(method);
    r.path = hs_strdup(path);
    r.query = query != NULL ? hs_strdup(query) : NULL;
    if (hs_http_headers_add(&r.headers, "Authorization", "Bearer T") != HS_OK ||
        hs_http_headers_add(&r.headers, "Accept", "application/json") != HS_OK)
        fail_msg("out of memory");
    if (body != NULL) {
        if (hs_buf_puts(&r.body, body) != HS_OK ||
            hs_http_headers_add(&r.headers, "Content-Type", "application/json") != HS_OK)
            fail_msg("out of memory");
    }
    int rc = hs_sbx_handle(sbx, &r, &resp);
    int status = rc == HS_OK ? resp.status : 500;
    if (out != NULL)
        snprintf(out, out_len, "%.*s", (int)resp.body.len,
                 resp.body.data != NULL ? resp.body.data : "");
    hs_http_request_release(&r);
    hs_http_response_release(&resp);
    return status;
}

static int setup(void **state)
{
    hs_alloc_setup_json();
    struct fix *fx = hs_calloc(1, sizeof *fx);
    assert_non_null(fx);
    struct hs_sbx_options opt;
    memset(&opt, 0, sizeof opt);
    opt.static_token = "T";
    opt.no_rate_limits = true;
    opt.modules = only_qbo;
    opt.n_modules = 1;
    struct hs_error err;
    hs_error_clear(&err);
    if (hs_sbx_open(&opt, &fx->sbx, &err) != HS_OK)
        fail_msg("open: %s", err.msg);
    char out[512];
    assert_int_equal(call(fx->sbx, "GET", "/_sandbox/tenants", NULL, NULL, out, sizeof out), 200);
    json_t *j = json_loads(out, 0, NULL);
    const char *realm =
        json_string_value(json_object_get(json_object_get(j, "quickbooks"), "realmId"));
    assert_non_null(realm);
    snprintf(fx->base, sizeof fx->base, "/quickbooks/v3/company/%s", realm);
    json_decref(j);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fix *fx = *state;
    hs_sbx_close(fx->sbx);
    hs_free(fx);
    return 0;
}

static void *create_thread(void *ud)
{
    struct create *c = ud;
    char path[160];
    snprintf(path, sizeof path, "%s/customer", c->fx->base);
    c->status = call(c->fx->sbx, "POST", path, "minorversion=75",
                     "{\"DisplayName\":\"Stalled Create Ltd\"}", c->body, sizeof c->body);
    atomic_store(&c->answered, 1);
    return NULL;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_sbx_stall_commits_then_holds_the_answer(void **state)
{
    struct fix *fx = *state;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_sbx_set_faults(fx->sbx, "stall=1500,stall_path=/customer", &err), HS_OK);
    struct create c;
    memset(&c, 0, sizeof c);
    c.fx = fx;
    atomic_init(&c.answered, 0);
    int64_t t0 = mono_ms();
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, create_thread, &c), 0);

    /* the query path does not contain "/customer": answered at once, and it sees the record */
    char path[160], out[2048];
    snprintf(path, sizeof path, "%s/query", fx->base);
    bool seen = false;
    while (!seen && mono_ms() - t0 < STALL_MS - 300) {
        assert_int_equal(call(fx->sbx, "GET", path,
                              "query=select%20*%20from%20Customer%20where%20DisplayName%20%3D%20%27"
                              "Stalled%20Create%20Ltd%27&minorversion=75",
                              NULL, out, sizeof out),
                         200);
        seen = strstr(out, "\"Stalled Create Ltd\"") != NULL;
        if (!seen) {
            struct timespec d = {0, 5 * 1000000L};
            nanosleep(&d, NULL);
        }
    }
    assert_true(seen);
    assert_int_equal(atomic_load(&c.answered), 0); /* committed, not answered */
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(mono_ms() - t0 >= STALL_MS);
    assert_int_equal(c.status, 200);
    assert_non_null(strstr(c.body, "\"Stalled Create Ltd\""));

    /* no stall once the fault is cleared */
    assert_int_equal(hs_sbx_set_faults(fx->sbx, "", &err), HS_OK);
    int64_t t1 = mono_ms();
    snprintf(path, sizeof path, "%s/customer", fx->base);
    assert_int_equal(call(fx->sbx, "POST", path, "minorversion=75",
                          "{\"DisplayName\":\"Quick Create Ltd\"}", NULL, 0),
                     200);
    assert_true(mono_ms() - t1 < STALL_MS);
}

static void test_sbx_stall_spec_prints_back_and_refuses_bad_values(void **state)
{
    struct fix *fx = *state;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_sbx_set_faults(fx->sbx, "stall_path=/batch, stall=250", &err), HS_OK);
    char out[1024];
    assert_int_equal(call(fx->sbx, "GET", "/_sandbox/faults", NULL, NULL, out, sizeof out), 200);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(hs_json_str(j, "spec"), "stall=250,stall_path=/batch");
    assert_int_equal(json_integer_value(json_object_get(j, "stall_ms")), 250);
    assert_string_equal(hs_json_str(j, "stall_path"), "/batch");
    json_decref(j);
    static const struct {
        const char *spec;
        const char *want;
    } bad[] = {
        {"stall=-5", "invalid fault 'stall': '-5' must be milliseconds"},
        {"stall=1s", "'1s' must be milliseconds"},
        {"stall_path=", "invalid fault 'stall_path'"},
        {"stall_path=a=b", "without '=' or ','"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hs_error_clear(&err);
        assert_int_equal(hs_sbx_set_faults(fx->sbx, bad[i].spec, &err), HS_EINVAL);
        if (strstr(err.msg, bad[i].want) == NULL)
            fail_msg("spec '%s': message '%s' lacks '%s'", bad[i].spec, err.msg, bad[i].want);
    }
    assert_int_equal(hs_sbx_set_faults(fx->sbx, "", &err), HS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sbx_stall_commits_then_holds_the_answer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sbx_stall_spec_prints_back_and_refuses_bad_values,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
