/*
 * tests/unit/test_sbx_hubspot.c - the HubSpot module of the sandbox, through hs_sbx_handle.
 *
 * Design:     each case opens a sandbox with only the HubSpot module, a small seeded world,
 *             the static token "T" and a fake clock (struct hs_env), then sends requests
 *             in-process with hs_sbx_handle and checks statuses, HubSpot's JSON shapes, error
 *             bodies and headers. Rate limits are on only in the cases that test them.
 *             Webhook signatures are recomputed here with libsodium.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sandbox/hubspot.h"
#include "sandbox/sbx.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

#define START_MS 1735689600000LL /* 2025-01-01T00:00:00Z */

struct fx {
    struct hs_sbx *sbx;
    int64_t now;
    struct hs_env env;
};

static int64_t fake_now(void *ud)
{
    return *(const int64_t *)ud;
}

static uint64_t fake_rand(void *ud)
{
    (void)ud;
    return 0x1234567;
}

static const struct hs_sbx_module_ops *const only_hubspot[] = {&hs_sbx_hubspot_ops};

static int open_fx(void **state, bool limits)
{
    hs_alloc_setup_json();
    struct fx *f = hs_calloc(1, sizeof *f);
    assert_non_null(f);
    f->now = START_MS;
    f->env.now_ms = fake_now;
    f->env.rand64 = fake_rand;
    f->env.ud = &f->now;
    f->env.min_level = HS_LOG_ERROR;
    struct hs_sbx_options opt = {0};
    opt.seed = 7;
    opt.seeded = true;
    opt.sizes.companies = 30;
    opt.sizes.contacts = 40;
    opt.sizes.products = 10;
    opt.sizes.deals = 20;
    opt.static_token = "T";
    opt.no_rate_limits = !limits;
    opt.start_ms = START_MS;
    opt.env = &f->env;
    opt.modules = only_hubspot;
    opt.n_modules = 1;
    struct hs_error err = {0};
    int rc = hs_sbx_open(&opt, &f->sbx, &err);
    if (rc != HS_OK)
        fail_msg("hs_sbx_open: %s", err.msg);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return open_fx(state, false);
}

static int setup_limits(void **state)
{
    return open_fx(state, true);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    hs_sbx_close(f->sbx);
    hs_free(f);
    return 0;
}

/* Sends method target (path?query) with body and bearer token (NULL: none). Fills resp (the
 * caller releases it) and returns the parsed JSON body, or NULL when the body is empty. */
static json_t *call_r(struct fx *f, const char *method, const char *target, const char *body,
                      const char *token, struct hs_http_response *resp)
{
    struct hs_http_request req;
    hs_http_request_init(&req);
    req.method = hs_strdup(method);
    const char *q = strchr(target, '?');
    req.path = q ? hs_strndup(target, (size_t)(q - target)) : hs_strdup(target);
    req.query = q ? hs_strdup(q + 1) : NULL;
    assert_non_null(req.method);
    assert_non_null(req.path);
    if (token != NULL) {
        char auth[256];
        snprintf(auth, sizeof auth, "Bearer %s", token);
        assert_int_equal(hs_http_headers_add(&req.headers, "Authorization", auth), HS_OK);
    }
    if (body != NULL) {
        assert_int_equal(hs_buf_puts(&req.body, body), HS_OK);
        const char *ct = body[0] == '{' || body[0] == '[' ? "application/json"
                                                          : "application/x-www-form-urlencoded";
        assert_int_equal(hs_http_headers_add(&req.headers, "Content-Type", ct), HS_OK);
    }
    hs_http_response_init(resp);
    assert_int_equal(hs_sbx_handle(f->sbx, &req, resp), HS_OK);
    hs_http_request_release(&req);
    if (resp->body.len == 0)
        return NULL;
    json_t *v = NULL;
    struct hs_error err = {0};
    if (hs_json_parse((const uint8_t *)resp->body.data, resp->body.len, "response", &v, &err) !=
        HS_OK)
        return NULL;
    return v;
}

static json_t *call(struct fx *f, const char *method, const char *target, const char *body,
                    int *status)
{
    struct hs_http_response resp;
    json_t *v = call_r(f, method, target, body, "T", &resp);
    *status = resp.status;
    hs_http_response_release(&resp);
    return v;
}

static void assert_error(json_t *v, const char *category)
{
    assert_non_null(v);
    assert_string_equal(hs_json_str(v, "status"), "error");
    assert_string_equal(hs_json_str(v, "category"), category);
    assert_non_null(hs_json_str(v, "message"));
    const char *cid = hs_json_str(v, "correlationId");
    assert_non_null(cid);
    assert_int_equal(strlen(cid), 36); /* a UUID, as the spec's format: uuid wants */
    assert_int_equal(cid[8], '-');
    assert_int_equal(cid[14], '4');
}

static const char *prop(const json_t *rec, const char *name)
{
    return hs_json_str(json_object_get(rec, "properties"), name);
}

/* Creates a company named name; returns its id (caller frees). */
static char *create_company(struct fx *f, const char *name)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"properties\":{\"name\":\"%s\",\"domain\":\"x.example\"},"
             "\"associations\":[]}",
             name);
    int st;
    json_t *v = call(f, "POST", "/hubspot/crm/v3/objects/companies", body, &st);
    assert_int_equal(st, 201);
    char *id = hs_strdup(hs_json_str(v, "id"));
    assert_non_null(id);
    json_decref(v);
    return id;
}

/* ---- auth ---- */

static void test_sbx_hubspot_requires_bearer_token(void **state)
{
    struct fx *f = *state;
    struct hs_http_response resp;
    json_t *v = call_r(f, "GET", "/hubspot/crm/v3/objects/companies", NULL, NULL, &resp);
    assert_int_equal(resp.status, 401);
    assert_error(v, "INVALID_AUTHENTICATION");
    assert_non_null(strstr(hs_json_str(v, "message"), "Authentication credentials not found"));
    json_decref(v);
    hs_http_response_release(&resp);
    v = call_r(f, "GET", "/hubspot/crm/v3/objects/companies", NULL, "wrong", &resp);
    assert_int_equal(resp.status, 401);
    json_decref(v);
    hs_http_response_release(&resp);
}

/* ---- CRUD ---- */

static void test_sbx_hubspot_crud_roundtrip(void **state)
{
    struct fx *f = *state;
    int st;
    json_t *v = call(f, "POST", "/hubspot/crm/v3/objects/companies",
                     "{\"properties\":{\"name\":\"Ümlaut GmbH\",\"domain\":\"umlaut.de\","
                     "\"city\":\"Köln\",\"numberofemployees\":\"12\"},\"associations\":[]}",
                     &st);
    assert_int_equal(st, 201);
    const char *id = hs_json_str(v, "id");
    assert_non_null(id);
    char idbuf[32];
    snprintf(idbuf, sizeof idbuf, "%s", id);
    assert_string_equal(prop(v, "name"), "Ümlaut GmbH");
    assert_string_equal(prop(v, "city"), "Köln");
    assert_string_equal(prop(v, "hs_object_id"), idbuf);
    assert_string_equal(prop(v, "createdate"), "2025-01-01T00:00:00.000Z");
    assert_string_equal(hs_json_str(v, "createdAt"), "2025-01-01T00:00:00.000Z");
    assert_true(json_is_false(json_object_get(v, "archived")));
    json_decref(v);

    char path[128];
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/companies/%s?properties=city,name", idbuf);
    v = call(f, "GET", path, NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(prop(v, "city"), "Köln");
    assert_null(prop(v, "domain")); /* only what was asked for */
    json_decref(v);

    /* defaults when no properties are asked for */
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/companies/%s", idbuf);
    v = call(f, "GET", path, NULL, &st);
    assert_string_equal(prop(v, "domain"), "umlaut.de");
    assert_non_null(prop(v, "hs_lastmodifieddate"));
    assert_null(prop(v, "city"));
    json_decref(v);

    f->now += 60000;
    v = call(f, "PATCH", path, "{\"properties\":{\"city\":\"Bonn\"}}", &st);
    assert_int_equal(st, 200);
    assert_string_equal(prop(v, "city"), "Bonn");
    assert_string_equal(hs_json_str(v, "updatedAt"), "2025-01-01T00:01:00.000Z");
    assert_string_equal(prop(v, "hs_lastmodifieddate"), "2025-01-01T00:01:00.000Z");
    json_decref(v);

    v = call(f, "DELETE", path, NULL, &st);
    assert_int_equal(st, 204);
    assert_null(v);
    v = call(f, "GET", path, NULL, &st);
    assert_int_equal(st, 404);
    assert_error(v, "OBJECT_NOT_FOUND");
    json_decref(v);
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/companies/%s?archived=true", idbuf);
    v = call(f, "GET", path, NULL, &st);
    assert_int_equal(st, 200);
    assert_true(json_is_true(json_object_get(v, "archived")));
    assert_non_null(hs_json_str(v, "archivedAt"));
    json_decref(v);
}

static void test_sbx_hubspot_escapes_values_in_answers(void **state)
{
    struct fx *f = *state;
    int st;
    json_t *v = call(f, "POST", "/hubspot/crm/v3/objects/companies",
                     "{\"properties\":{\"name\":\"Q\\\"uote \\\\ back\\nline\\ttab\\u0001ctl "
                     "\u00e9\"},\"associations\":[]}",
                     &st);
    assert_int_equal(st, 201);
    assert_non_null(v); /* the answer parsed: it is valid JSON */
    assert_string_equal(prop(v, "name"), "Q\"uote \\ back\nline\ttab\001ctl \u00e9");
    json_decref(v);
}

static void test_sbx_hubspot_rejects_bad_properties(void **state)
{
    struct fx *f = *state;
    int st;
    json_t *v = call(f, "POST", "/hubspot/crm/v3/objects/companies",
                     "{\"properties\":{\"name\":\"A\",\"nope\":\"x\"},\"associations\":[]}", &st);
    assert_int_equal(st, 400);
    assert_error(v, "VALIDATION_ERROR");
    assert_non_null(strstr(hs_json_str(v, "message"), "Property values were not valid"));
    assert_non_null(strstr(hs_json_str(v, "message"), "PROPERTY_DOESNT_EXIST"));
    assert_non_null(strstr(hs_json_str(v, "message"), "nope"));
    json_decref(v);

    v = call(f, "POST", "/hubspot/crm/v3/objects/deals",
             "{\"properties\":{\"dealname\":\"D\",\"amount\":\"ten\"},\"associations\":[]}", &st);
    assert_int_equal(st, 400);
    assert_non_null(strstr(hs_json_str(v, "message"), "INVALID_DECIMAL"));
    json_decref(v);

    v = call(f, "POST", "/hubspot/crm/v3/objects/deals",
             "{\"properties\":{\"dealstage\":\"nowhere\"},\"associations\":[]}", &st);
    assert_int_equal(st, 400);
    assert_non_null(strstr(hs_json_str(v, "message"), "INVALID_OPTION"));
    json_decref(v);

    v = call(f, "POST", "/hubspot/crm/v3/objects/companies",
             "{\"properties\":{\"hs_object_id\":\"5\"},\"associations\":[]}", &st);
    assert_int_equal(st, 400);
    assert_non_null(strstr(hs_json_str(v, "message"), "READ_ONLY_VALUE"));
    json_decref(v);

    v = call(f, "GET", "/hubspot/crm/v3/objects/widgets", NULL, &st);
    assert_int_equal(st, 400);
    assert_non_null(strstr(hs_json_str(v, "message"), "Unable to infer object type from: widgets"));
    json_decref(v);

    v = call(f, "POST", "/hubspot/crm/v3/objects/companies", "{not json", &st);
    assert_int_equal(st, 400);
    assert_error(v, "VALIDATION_ERROR");
    json_decref(v);
}

static void test_sbx_hubspot_datetime_is_normalized(void **state)
{
    struct fx *f = *state;
    int st;
    /* closedate as epoch ms comes back as ISO-8601 */
    json_t *v = call(f, "POST", "/hubspot/crm/v3/objects/deals",
                     "{\"properties\":{\"dealname\":\"D\",\"closedate\":\"1735776000000\","
                     "\"amount\":\"1234.50\",\"dealstage\":\"closedwon\",\"pipeline\":\"default\"},"
                     "\"associations\":[]}",
                     &st);
    assert_int_equal(st, 201);
    assert_string_equal(prop(v, "closedate"), "2025-01-02T00:00:00.000Z");
    assert_string_equal(prop(v, "amount"), "1234.50");
    json_decref(v);
}

/* ---- list ---- */

static void test_sbx_hubspot_list_pages_through_everything(void **state)
{
    struct fx *f = *state;
    char path[160] = "/hubspot/crm/v3/objects/contacts?limit=7";
    size_t seen = 0;
    long long last = 0;
    for (int page = 0; page < 100; page++) {
        int st;
        json_t *v = call(f, "GET", path, NULL, &st);
        assert_int_equal(st, 200);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(v, "results"), i, r)
        {
            long long id = strtoll(hs_json_str(r, "id"), NULL, 10);
            assert_true(id > last); /* ascending, no repeats */
            last = id;
            seen++;
        }
        const char *after =
            hs_json_str(json_object_get(json_object_get(v, "paging"), "next"), "after");
        if (after == NULL) {
            json_decref(v);
            break;
        }
        assert_true(json_array_size(json_object_get(v, "results")) == 7);
        assert_non_null(hs_json_str(json_object_get(json_object_get(v, "paging"), "next"), "link"));
        snprintf(path, sizeof path, "/hubspot/crm/v3/objects/contacts?limit=7&after=%s", after);
        json_decref(v);
    }
    assert_int_equal(seen, 40);

    int st;
    json_t *v = call(f, "GET", "/hubspot/crm/v3/objects/contacts?limit=101", NULL, &st);
    assert_int_equal(st, 400);
    json_decref(v);
}

/* ---- batch ---- */

static char *batch_body(int n, const char *prefix)
{
    struct hs_buf b;
    hs_buf_init(&b);
    assert_int_equal(hs_buf_puts(&b, "{\"inputs\":["), HS_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(hs_buf_printf(&b,
                                       "%s{\"properties\":{\"name\":\"%s %d\"},"
                                       "\"associations\":[]}",
                                       i ? "," : "", prefix, i),
                         HS_OK);
    assert_int_equal(hs_buf_puts(&b, "]}"), HS_OK);
    return hs_buf_detach(&b);
}

static void test_sbx_hubspot_batch_limits_and_partial_failure(void **state)
{
    struct fx *f = *state;
    int st;
    char *body = batch_body(101, "Too many");
    json_t *v = call(f, "POST", "/hubspot/crm/v3/objects/companies/batch/create", body, &st);
    hs_free(body);
    assert_int_equal(st, 400);
    assert_error(v, "VALIDATION_ERROR");
    json_decref(v);

    body = batch_body(3, "Batch");
    v = call(f, "POST", "/hubspot/crm/v3/objects/companies/batch/create", body, &st);
    hs_free(body);
    assert_int_equal(st, 201);
    assert_string_equal(hs_json_str(v, "status"), "COMPLETE");
    assert_non_null(hs_json_str(v, "startedAt"));
    assert_non_null(hs_json_str(v, "completedAt"));
    json_t *results = json_object_get(v, "results");
    assert_int_equal(json_array_size(results), 3);
    char ids[3][24];
    for (size_t i = 0; i < 3; i++)
        snprintf(ids[i], sizeof ids[i], "%s", hs_json_str(json_array_get(results, i), "id"));
    assert_string_equal(prop(json_array_get(results, 2), "name"), "Batch 2");
    json_decref(v);

    char req[512];
    snprintf(req, sizeof req,
             "{\"inputs\":[{\"id\":\"%s\"},{\"id\":\"999999999\"},{\"id\":\"%s\"}],"
             "\"properties\":[\"name\"],\"propertiesWithHistory\":[]}",
             ids[0], ids[2]);
    v = call(f, "POST", "/hubspot/crm/v3/objects/companies/batch/read", req, &st);
    assert_int_equal(st, 207);
    assert_int_equal(json_integer_value(json_object_get(v, "numErrors")), 1);
    assert_int_equal(json_array_size(json_object_get(v, "results")), 2);
    json_t *e = json_array_get(json_object_get(v, "errors"), 0);
    assert_string_equal(hs_json_str(e, "category"), "OBJECT_NOT_FOUND");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(json_object_get(e, "context"), "ids"), 0)),
        "999999999");
    assert_non_null(json_object_get(e, "links"));
    json_decref(v);

    snprintf(req, sizeof req,
             "{\"inputs\":[{\"id\":\"%s\",\"properties\":{\"city\":\"Porto\"}},"
             "{\"id\":\"999999999\",\"properties\":{\"city\":\"Nowhere\"}}]}",
             ids[1]);
    v = call(f, "POST", "/hubspot/crm/v3/objects/companies/batch/update", req, &st);
    assert_int_equal(st, 207);
    assert_string_equal(prop(json_array_get(json_object_get(v, "results"), 0), "city"), "Porto");
    json_decref(v);

    /* one bad property refuses the whole batch */
    v = call(f, "POST", "/hubspot/crm/v3/objects/companies/batch/update",
             "{\"inputs\":[{\"id\":\"1\",\"properties\":{\"bogus\":\"x\"}}]}", &st);
    assert_int_equal(st, 400);
    json_decref(v);

    snprintf(req, sizeof req, "{\"inputs\":[{\"id\":\"%s\"},{\"id\":\"%s\"}]}", ids[0], ids[1]);
    v = call(f, "POST", "/hubspot/crm/v3/objects/companies/batch/archive", req, &st);
    assert_int_equal(st, 204);
    assert_null(v);
    char path[96];
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/companies/%s", ids[0]);
    v = call(f, "GET", path, NULL, &st);
    assert_int_equal(st, 404);
    json_decref(v);
}

/* ---- properties and upsert ---- */

static void make_external_id(struct fx *f)
{
    int st;
    json_t *v = call(f, "POST", "/hubspot/crm/v3/properties/companies",
                     "{\"name\":\"hoopsync_id\",\"label\":\"Hoopsync ID\",\"type\":\"string\","
                     "\"fieldType\":\"text\",\"groupName\":\"hoopsync\",\"hasUniqueValue\":true}",
                     &st);
    assert_int_equal(st, 400); /* the group does not exist yet */
    json_decref(v);
    v = call(f, "POST", "/hubspot/crm/v3/properties/companies/groups",
             "{\"name\":\"hoopsync\",\"label\":\"Hoopsync\"}", &st);
    assert_int_equal(st, 201);
    json_decref(v);
    v = call(f, "POST", "/hubspot/crm/v3/properties/companies/groups",
             "{\"name\":\"hoopsync\",\"label\":\"Hoopsync\"}", &st);
    assert_int_equal(st, 409);
    json_decref(v);
    v = call(f, "POST", "/hubspot/crm/v3/properties/companies",
             "{\"name\":\"hoopsync_id\",\"label\":\"Hoopsync ID\",\"type\":\"string\","
             "\"fieldType\":\"text\",\"groupName\":\"hoopsync\",\"hasUniqueValue\":true}",
             &st);
    assert_int_equal(st, 201);
    assert_true(json_is_true(json_object_get(v, "hasUniqueValue")));
    assert_string_equal(hs_json_str(v, "groupName"), "hoopsync");
    json_decref(v);
}

static void test_sbx_hubspot_properties_api(void **state)
{
    struct fx *f = *state;
    make_external_id(f);
    int st;
    json_t *v = call(f, "POST", "/hubspot/crm/v3/properties/companies",
                     "{\"name\":\"hoopsync_id\",\"label\":\"Again\",\"type\":\"string\","
                     "\"fieldType\":\"text\",\"groupName\":\"hoopsync\"}",
                     &st);
    assert_int_equal(st, 409);
    assert_error(v, "OBJECT_ALREADY_EXISTS");
    json_decref(v);
    v = call(f, "GET", "/hubspot/crm/v3/properties/companies/hoopsync_id", NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(hs_json_str(v, "label"), "Hoopsync ID");
    json_decref(v);
    v = call(f, "GET", "/hubspot/crm/v3/properties/companies/missing_prop", NULL, &st);
    assert_int_equal(st, 404);
    json_decref(v);
    v = call(f, "GET", "/hubspot/crm/v3/properties/deals", NULL, &st);
    assert_int_equal(st, 200);
    bool found = false;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(v, "results"), i, p)
    {
        if (hs_str_eq(hs_json_str(p, "name"), "dealstage")) {
            found = true;
            assert_int_equal(json_array_size(json_object_get(p, "options")), hs_sbx_n_deal_stages);
        }
    }
    assert_true(found);
    json_decref(v);
    v = call(f, "GET", "/hubspot/crm/v3/properties/companies/groups", NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(v, "results")), 2);
    json_decref(v);
}

static void test_sbx_hubspot_upsert_and_unique_values(void **state)
{
    struct fx *f = *state;
    make_external_id(f);
    int st;
    json_t *v = call(f, "POST", "/hubspot/crm/v3/objects/companies/batch/upsert",
                     "{\"inputs\":[{\"id\":\"ext-1\",\"idProperty\":\"hoopsync_id\","
                     "\"properties\":{\"name\":\"Ext One\"}}]}",
                     &st);
    assert_int_equal(st, 200);
    json_t *r = json_array_get(json_object_get(v, "results"), 0);
    assert_true(json_is_true(json_object_get(r, "new")));
    assert_string_equal(prop(r, "hoopsync_id"), "ext-1");
    char id[24];
    snprintf(id, sizeof id, "%s", hs_json_str(r, "id"));
    json_decref(v);

    v = call(f, "POST", "/hubspot/crm/v3/objects/companies/batch/upsert",
             "{\"inputs\":[{\"id\":\"ext-1\",\"idProperty\":\"hoopsync_id\","
             "\"properties\":{\"name\":\"Ext One Renamed\"}}]}",
             &st);
    assert_int_equal(st, 200);
    r = json_array_get(json_object_get(v, "results"), 0);
    assert_true(json_is_false(json_object_get(r, "new")));
    assert_string_equal(hs_json_str(r, "id"), id);
    assert_string_equal(prop(r, "name"), "Ext One Renamed");
    json_decref(v);

    /* read by the unique property */
    v = call(f, "GET", "/hubspot/crm/v3/objects/companies/ext-1?idProperty=hoopsync_id", NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(hs_json_str(v, "id"), id);
    json_decref(v);

    /* a second record with the same value conflicts */
    v = call(f, "POST", "/hubspot/crm/v3/objects/companies",
             "{\"properties\":{\"name\":\"Dup\",\"hoopsync_id\":\"ext-1\"},\"associations\":[]}",
             &st);
    assert_int_equal(st, 409);
    assert_error(v, "CONFLICT");
    assert_non_null(strstr(hs_json_str(v, "message"), id));
    json_decref(v);

    v = call(f, "POST", "/hubspot/crm/v3/objects/companies/batch/create",
             "{\"inputs\":[{\"properties\":{\"name\":\"New\",\"hoopsync_id\":\"ext-2\"},"
             "\"associations\":[]},{\"properties\":{\"name\":\"Dup\",\"hoopsync_id\":\"ext-1\"},"
             "\"associations\":[]}]}",
             &st);
    assert_int_equal(st, 207);
    assert_int_equal(json_integer_value(json_object_get(v, "numErrors")), 1);
    assert_int_equal(json_array_size(json_object_get(v, "results")), 1);
    json_decref(v);

    /* upsert by a property that is not unique */
    v = call(f, "POST", "/hubspot/crm/v3/objects/companies/batch/upsert",
             "{\"inputs\":[{\"id\":\"x\",\"idProperty\":\"name\",\"properties\":{}}]}", &st);
    assert_int_equal(st, 400);
    json_decref(v);

    /* archiving frees the unique value */
    char path[96];
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/companies/%s", id);
    v = call(f, "DELETE", path, NULL, &st);
    assert_int_equal(st, 204);
    v = call(f, "POST", "/hubspot/crm/v3/objects/companies",
             "{\"properties\":{\"name\":\"Reuse\",\"hoopsync_id\":\"ext-1\"},\"associations\":[]}",
             &st);
    assert_int_equal(st, 201);
    json_decref(v);

    /* contacts' email is unique as in HubSpot */
    v = call(f, "POST", "/hubspot/crm/v3/objects/contacts",
             "{\"properties\":{\"email\":\"jo@x.example\"},\"associations\":[]}", &st);
    assert_int_equal(st, 201);
    json_decref(v);
    v = call(f, "POST", "/hubspot/crm/v3/objects/contacts",
             "{\"properties\":{\"email\":\"jo@x.example\"},\"associations\":[]}", &st);
    assert_int_equal(st, 409);
    assert_non_null(strstr(hs_json_str(v, "message"), "Contact already exists. Existing ID:"));
    json_decref(v);
}

/* ---- search ---- */

static json_t *search(struct fx *f, const char *type, const char *body, int *st)
{
    char path[96];
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/%s/search", type);
    return call(f, "POST", path, body, st);
}

static void test_sbx_hubspot_search_filters_sorts_pages(void **state)
{
    struct fx *f = *state;
    char *a = create_company(f, "Zeta Search Co");
    char *b = create_company(f, "Alpha Search Co");
    int st;
    json_t *v = search(f, "companies",
                       "{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"name\",\"operator\":"
                       "\"EQ\",\"value\":\"zeta search co\"}]}],\"sorts\":[],\"properties\":["
                       "\"name\"],\"limit\":10,\"after\":\"0\"}",
                       &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "total")), 1);
    assert_string_equal(hs_json_str(json_array_get(json_object_get(v, "results"), 0), "id"), a);
    json_decref(v);

    /* two groups are ORed; CONTAINS_TOKEN matches a word; sort descending by name */
    v = search(f, "companies",
               "{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"name\",\"operator\":"
               "\"CONTAINS_TOKEN\",\"value\":\"zeta\"}]},{\"filters\":[{\"propertyName\":\"name\","
               "\"operator\":\"IN\",\"values\":[\"alpha search co\"]}]}],\"sorts\":[{"
               "\"propertyName\":\"name\",\"direction\":\"DESCENDING\"}],\"properties\":[\"name\"],"
               "\"limit\":10,\"after\":\"0\"}",
               &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "total")), 2);
    assert_string_equal(prop(json_array_get(json_object_get(v, "results"), 0), "name"),
                        "Zeta Search Co");
    assert_string_equal(prop(json_array_get(json_object_get(v, "results"), 1), "name"),
                        "Alpha Search Co");
    json_decref(v);

    /* modified after a time: epoch ms and ISO both work; only the two new ones qualify */
    f->now += 1000;
    char body[512];
    snprintf(body, sizeof body,
             "{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"hs_lastmodifieddate\","
             "\"operator\":\"GTE\",\"value\":\"%lld\"}]}],\"sorts\":[\"hs_lastmodifieddate\"],"
             "\"properties\":[],\"limit\":1,\"after\":\"0\"}",
             START_MS);
    v = search(f, "companies", body, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "total")), 2);
    assert_int_equal(json_array_size(json_object_get(v, "results")), 1);
    assert_string_equal(hs_json_str(json_object_get(json_object_get(v, "paging"), "next"), "after"),
                        "1");
    json_decref(v);
    v = search(f, "companies",
               "{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"hs_lastmodifieddate\","
               "\"operator\":\"GT\",\"value\":\"2024-12-31T23:59:59Z\"}]}],\"sorts\":[],"
               "\"properties\":[],\"limit\":10,\"after\":\"1\"}",
               &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(v, "results")), 1);
    assert_null(json_object_get(v, "paging"));
    json_decref(v);

    /* contacts filter on lastmodifieddate; every seeded contact is older than START_MS */
    snprintf(body, sizeof body,
             "{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"lastmodifieddate\","
             "\"operator\":\"LT\",\"value\":\"%lld\"}]}],\"sorts\":[],\"properties\":[],"
             "\"limit\":200,\"after\":\"0\"}",
             START_MS);
    v = search(f, "contacts", body, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "total")), 40);
    json_decref(v);

    v = search(f, "companies",
               "{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"city\",\"operator\":"
               "\"NOT_HAS_PROPERTY\"}]}],\"sorts\":[],\"properties\":[],\"limit\":10,\"after\":"
               "\"0\"}",
               &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "total")), 2);
    json_decref(v);

    /* limits: 200 per page, the 10,000-result cap, at most 6 groups */
    v = search(f, "companies",
               "{\"filterGroups\":[],\"sorts\":[],\"properties\":[],\"limit\":201,\"after\":\"0\"}",
               &st);
    assert_int_equal(st, 400);
    json_decref(v);
    v = search(f, "companies",
               "{\"filterGroups\":[],\"sorts\":[],\"properties\":[],\"limit\":100,"
               "\"after\":\"9950\"}",
               &st);
    assert_int_equal(st, 400);
    assert_error(v, "VALIDATION_ERROR");
    assert_non_null(strstr(hs_json_str(v, "message"), "10000"));
    json_decref(v);
    v = search(f, "companies",
               "{\"filterGroups\":[{\"filters\":[]},{\"filters\":[]},{\"filters\":[]},{"
               "\"filters\":[]},{\"filters\":[]},{\"filters\":[]},{\"filters\":[]}],\"sorts\":[],"
               "\"properties\":[],\"limit\":1,\"after\":\"0\"}",
               &st);
    assert_int_equal(st, 400);
    json_decref(v);
    hs_free(a);
    hs_free(b);
}

/* A contact's last-modified property is lastmodifieddate: a PATCH or a batch update moves it
 * (and updatedAt), and the contacts search filters and sorts on it, both ways. This is what
 * the connector's contacts feed relies on. */
static void test_sbx_hubspot_contact_edit_moves_lastmodifieddate(void **state)
{
    struct fx *f = *state;
    int st;
    char a[32], b[32], path[96], body[512];
    json_t *v = call(f, "POST", "/hubspot/crm/v3/objects/contacts",
                     "{\"properties\":{\"email\":\"a@lastmod.example\"},\"associations\":[]}", &st);
    assert_int_equal(st, 201);
    snprintf(a, sizeof a, "%s", hs_json_str(v, "id"));
    json_decref(v);
    v = call(f, "POST", "/hubspot/crm/v3/objects/contacts",
             "{\"properties\":{\"email\":\"b@lastmod.example\"},\"associations\":[]}", &st);
    snprintf(b, sizeof b, "%s", hs_json_str(v, "id"));
    json_decref(v);

    f->now += 60000; /* b first, then a: the search orders by the edit, not by id */
    snprintf(body, sizeof body,
             "{\"inputs\":[{\"id\":\"%s\",\"properties\":{\"phone\":\"+1 212 555 0101\"}}]}", b);
    v = call(f, "POST", "/hubspot/crm/v3/objects/contacts/batch/update", body, &st);
    assert_int_equal(st, 200);
    assert_string_equal(prop(json_array_get(json_object_get(v, "results"), 0), "lastmodifieddate"),
                        "2025-01-01T00:01:00.000Z");
    json_decref(v);
    f->now += 60000;
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/contacts/%s", a);
    v = call(f, "PATCH", path, "{\"properties\":{\"email\":\"a2@lastmod.example\"}}", &st);
    assert_int_equal(st, 200);
    assert_string_equal(hs_json_str(v, "updatedAt"), "2025-01-01T00:02:00.000Z");
    assert_string_equal(prop(v, "lastmodifieddate"), "2025-01-01T00:02:00.000Z");
    json_decref(v);

    /* modified after a time, ascending */
    snprintf(body, sizeof body,
             "{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"lastmodifieddate\","
             "\"operator\":\"GT\",\"value\":\"%lld\"}]}],\"sorts\":[{\"propertyName\":"
             "\"lastmodifieddate\",\"direction\":\"ASCENDING\"}],\"properties\":["
             "\"lastmodifieddate\"],\"limit\":200,\"after\":\"0\"}",
             START_MS + 30000);
    v = search(f, "contacts", body, &st);
    assert_int_equal(st, 200);
    json_t *res = json_object_get(v, "results");
    assert_int_equal(json_array_size(res), 2);
    assert_string_equal(hs_json_str(json_array_get(res, 0), "id"), b);
    assert_string_equal(hs_json_str(json_array_get(res, 1), "id"), a);
    json_decref(v);
    /* the newest contact: no filter, descending, one result */
    v = search(f, "contacts",
               "{\"filterGroups\":[],\"sorts\":[{\"propertyName\":\"lastmodifieddate\","
               "\"direction\":\"DESCENDING\"}],\"properties\":[\"lastmodifieddate\"],\"limit\":1,"
               "\"after\":\"0\"}",
               &st);
    assert_int_equal(st, 200);
    res = json_object_get(v, "results");
    assert_int_equal(json_array_size(res), 1);
    assert_string_equal(hs_json_str(json_array_get(res, 0), "id"), a);
    assert_string_equal(prop(json_array_get(res, 0), "lastmodifieddate"),
                        "2025-01-01T00:02:00.000Z");
    json_decref(v);
}

/* ---- associations ---- */

static bool has_type(const json_t *types, int id)
{
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t)
    {
        if (json_integer_value(json_object_get(t, "typeId")) == id)
            return true;
    }
    return false;
}

static void test_sbx_hubspot_associations_v4(void **state)
{
    struct fx *f = *state;
    char *co = create_company(f, "Assoc Co");
    int st;
    json_t *v = call(f, "POST", "/hubspot/crm/v3/objects/deals",
                     "{\"properties\":{\"dealname\":\"Assoc deal\"},\"associations\":[]}", &st);
    assert_int_equal(st, 201);
    char deal[24];
    snprintf(deal, sizeof deal, "%s", hs_json_str(v, "id"));
    json_decref(v);

    char path[256];
    snprintf(path, sizeof path,
             "/hubspot/crm/v4/objects/deals/%s/associations/default/companies/%s", deal, co);
    v = call(f, "PUT", path, NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(hs_json_str(v, "status"), "COMPLETE");
    json_t *spec =
        json_object_get(json_array_get(json_object_get(v, "results"), 0), "associationSpec");
    assert_int_equal(json_integer_value(json_object_get(spec, "associationTypeId")), 341);
    json_decref(v);

    snprintf(path, sizeof path, "/hubspot/crm/v4/objects/deals/%s/associations/companies", deal);
    v = call(f, "GET", path, NULL, &st);
    assert_int_equal(st, 200);
    json_t *first = json_array_get(json_object_get(v, "results"), 0);
    assert_string_equal(hs_json_str(first, "toObjectId"), co);
    assert_true(has_type(json_object_get(first, "associationTypes"), 341));
    assert_true(has_type(json_object_get(first, "associationTypes"), 5)); /* primary */
    json_decref(v);

    /* the other side sees company -> deal */
    snprintf(path, sizeof path, "/hubspot/crm/v4/objects/companies/%s/associations/deals", co);
    v = call(f, "GET", path, NULL, &st);
    first = json_array_get(json_object_get(v, "results"), 0);
    assert_string_equal(hs_json_str(first, "toObjectId"), deal);
    assert_true(has_type(json_object_get(first, "associationTypes"), 342));
    assert_true(has_type(json_object_get(first, "associationTypes"), 6));
    json_decref(v);

    /* v3 read with associations */
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/deals/%s?associations=companies", deal);
    v = call(f, "GET", path, NULL, &st);
    json_t *res = json_object_get(json_object_get(json_object_get(v, "associations"), "companies"),
                                  "results");
    assert_int_equal(json_array_size(res), 2);
    assert_string_equal(hs_json_str(json_array_get(res, 0), "id"), co);
    json_decref(v);

    /* line item created with its deal association (type 20) */
    char body[512];
    snprintf(body, sizeof body,
             "{\"inputs\":[{\"properties\":{\"name\":\"Widget\",\"quantity\":\"2\",\"price\":"
             "\"9.99\"},\"associations\":[{\"to\":{\"id\":\"%s\"},\"types\":[{"
             "\"associationCategory\":\"HUBSPOT_DEFINED\",\"associationTypeId\":20}]}]}]}",
             deal);
    v = call(f, "POST", "/hubspot/crm/v3/objects/line_items/batch/create", body, &st);
    assert_int_equal(st, 201);
    char li[24];
    snprintf(li, sizeof li, "%s",
             hs_json_str(json_array_get(json_object_get(v, "results"), 0), "id"));
    json_decref(v);

    snprintf(body, sizeof body, "{\"inputs\":[{\"id\":\"%s\"},{\"id\":\"%s\"}]}", deal, co);
    v = call(f, "POST", "/hubspot/crm/v4/associations/deals/line_items/batch/read", body, &st);
    assert_int_equal(st, 207); /* the company id is no deal */
    json_t *r0 = json_array_get(json_object_get(v, "results"), 0);
    assert_string_equal(hs_json_str(json_object_get(r0, "from"), "id"), deal);
    first = json_array_get(json_object_get(r0, "to"), 0);
    assert_string_equal(hs_json_str(first, "toObjectId"), li);
    assert_true(has_type(json_object_get(first, "associationTypes"), 19));
    json_decref(v);

    /* an unknown association type on create is refused */
    snprintf(body, sizeof body,
             "{\"properties\":{\"name\":\"W\"},\"associations\":[{\"to\":{\"id\":\"%s\"},"
             "\"types\":[{\"associationCategory\":\"HUBSPOT_DEFINED\",\"associationTypeId\":"
             "999}]}]}",
             deal);
    v = call(f, "POST", "/hubspot/crm/v3/objects/line_items", body, &st);
    assert_int_equal(st, 400);
    json_decref(v);

    /* batch create with labels, then archive */
    char *co2 = create_company(f, "Assoc Co 2");
    snprintf(body, sizeof body,
             "{\"inputs\":[{\"from\":{\"id\":\"%s\"},\"to\":{\"id\":\"%s\"},\"types\":[{"
             "\"associationCategory\":\"HUBSPOT_DEFINED\",\"associationTypeId\":341}]}]}",
             deal, co2);
    v = call(f, "POST", "/hubspot/crm/v4/associations/deals/companies/batch/create", body, &st);
    assert_int_equal(st, 201);
    r0 = json_array_get(json_object_get(v, "results"), 0);
    assert_string_equal(hs_json_str(r0, "fromObjectTypeId"), "0-3");
    assert_string_equal(hs_json_str(r0, "toObjectTypeId"), "0-2");
    json_decref(v);
    snprintf(body, sizeof body,
             "{\"inputs\":[{\"from\":{\"id\":\"%s\"},\"to\":[{\"id\":\"%s\"}]}]}", deal, co);
    v = call(f, "POST", "/hubspot/crm/v4/associations/deals/companies/batch/archive", body, &st);
    assert_int_equal(st, 204);
    snprintf(path, sizeof path, "/hubspot/crm/v4/objects/deals/%s/associations/companies", deal);
    v = call(f, "GET", path, NULL, &st);
    assert_int_equal(json_array_size(json_object_get(v, "results")), 1);
    assert_string_equal(hs_json_str(json_array_get(json_object_get(v, "results"), 0), "toObjectId"),
                        co2);
    json_decref(v);
    hs_free(co);
    hs_free(co2);
}

static void test_sbx_hubspot_seeded_world(void **state)
{
    struct fx *f = *state;
    int st;
    json_t *v = call(f, "GET",
                     "/hubspot/crm/v3/objects/deals?limit=1&associations=companies,"
                     "line_items,contacts&properties=amount,deal_currency_code,dealstage,"
                     "pipeline,closedate",
                     NULL, &st);
    assert_int_equal(st, 200);
    json_t *d = json_array_get(json_object_get(v, "results"), 0);
    assert_non_null(d);
    assert_string_equal(prop(d, "pipeline"), "default");
    assert_non_null(prop(d, "amount"));
    assert_int_equal(strlen(prop(d, "deal_currency_code")), 3);
    json_t *as = json_object_get(d, "associations");
    assert_non_null(json_object_get(as, "companies"));
    assert_non_null(json_object_get(as, "contacts"));
    json_t *lines = json_object_get(json_object_get(as, "line_items"), "results");
    assert_true(json_array_size(lines) >= 1 && json_array_size(lines) <= 6);
    /* the deal amount is the sum of its line amounts */
    int64_t sum = 0, amount = 0;
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l)
    {
        char path[96];
        snprintf(path, sizeof path, "/hubspot/crm/v3/objects/line_items/%s?properties=amount",
                 hs_json_str(l, "id"));
        json_t *lv = call(f, "GET", path, NULL, &st);
        int64_t micro;
        assert_int_equal(hs_hub_parse_decimal(prop(lv, "amount"), &micro), HS_OK);
        sum += micro;
        json_decref(lv);
    }
    assert_int_equal(hs_hub_parse_decimal(prop(d, "amount"), &amount), HS_OK);
    assert_true(sum == amount);
    json_decref(v);
}

/* ---- pipelines ---- */

static void test_sbx_hubspot_pipelines(void **state)
{
    struct fx *f = *state;
    int st;
    json_t *v = call(f, "GET", "/hubspot/crm/v3/pipelines/deals", NULL, &st);
    assert_int_equal(st, 200);
    json_t *p = json_array_get(json_object_get(v, "results"), 0);
    assert_string_equal(hs_json_str(p, "id"), "default");
    json_t *stages = json_object_get(p, "stages");
    assert_int_equal(json_array_size(stages), hs_sbx_n_deal_stages);
    json_t *s0 = json_array_get(stages, 0);
    assert_string_equal(hs_json_str(s0, "id"), hs_sbx_deal_stages[0]);
    assert_true(json_is_string(json_object_get(json_object_get(s0, "metadata"), "probability")));
    assert_string_equal(hs_json_str(json_object_get(s0, "metadata"), "isClosed"), "false");
    json_decref(v);
    v = call(f, "GET", "/hubspot/crm/v3/pipelines/deals/default/stages", NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(v, "results")), hs_sbx_n_deal_stages);
    json_decref(v);
    v = call(f, "GET", "/hubspot/crm/v3/pipelines/deals/other/stages", NULL, &st);
    assert_int_equal(st, 404);
    json_decref(v);
}

/* ---- rate limits ---- */

static void test_sbx_hubspot_rate_limits(void **state)
{
    struct fx *f = *state;
    struct hs_http_response resp;
    for (int i = 0; i < 100; i++) {
        json_t *v = call_r(f, "GET", "/hubspot/crm/v3/objects/companies?limit=1", NULL, "T", &resp);
        assert_int_equal(resp.status, 200);
        const char *rem = hs_http_headers_get(&resp.headers, "X-HubSpot-RateLimit-Remaining");
        assert_non_null(rem);
        assert_int_equal(strtol(rem, NULL, 10), 99 - i);
        assert_string_equal(hs_http_headers_get(&resp.headers, "X-HubSpot-RateLimit-Max"), "100");
        assert_string_equal(
            hs_http_headers_get(&resp.headers, "X-HubSpot-RateLimit-Interval-Milliseconds"),
            "10000");
        json_decref(v);
        hs_http_response_release(&resp);
    }
    json_t *v = call_r(f, "GET", "/hubspot/crm/v3/objects/companies?limit=1", NULL, "T", &resp);
    assert_int_equal(resp.status, 429);
    assert_error(v, "RATE_LIMITS");
    assert_string_equal(hs_json_str(v, "errorType"), "RATE_LIMIT");
    assert_string_equal(hs_json_str(v, "policyName"), "TEN_SECONDLY_ROLLING");
    assert_string_equal(hs_json_str(v, "message"),
                        "You have reached your ten_secondly_rolling limit.");
    json_decref(v);
    hs_http_response_release(&resp);

    f->now += 10000;
    v = call_r(f, "GET", "/hubspot/crm/v3/objects/companies?limit=1", NULL, "T", &resp);
    assert_int_equal(resp.status, 200);
    json_decref(v);
    hs_http_response_release(&resp);

    /* search: 5 per second, on its own counter */
    const char *body =
        "{\"filterGroups\":[],\"sorts\":[],\"properties\":[],\"limit\":1,\"after\":\"0\"}";
    for (int i = 0; i < 5; i++) {
        v = call_r(f, "POST", "/hubspot/crm/v3/objects/companies/search", body, "T", &resp);
        assert_int_equal(resp.status, 200);
        json_decref(v);
        hs_http_response_release(&resp);
    }
    v = call_r(f, "POST", "/hubspot/crm/v3/objects/companies/search", body, "T", &resp);
    assert_int_equal(resp.status, 429);
    assert_string_equal(hs_json_str(v, "policyName"), "SECONDLY");
    json_decref(v);
    hs_http_response_release(&resp);
    f->now += 1000;
    v = call_r(f, "POST", "/hubspot/crm/v3/objects/companies/search", body, "T", &resp);
    assert_int_equal(resp.status, 200);
    json_decref(v);
    hs_http_response_release(&resp);
}

/* ---- OAuth ---- */

static char *location_param(const char *loc, const char *key)
{
    const char *q = strchr(loc, '?');
    assert_non_null(q);
    int err = 0;
    return hs_str_form_get(q + 1, key, &err);
}

static void test_sbx_hubspot_oauth_flow(void **state)
{
    struct fx *f = *state;
    struct hs_http_response resp;
    json_t *v = call_r(f, "GET",
                       "/hubspot/oauth/authorize?client_id=cid&redirect_uri=http%3A%2F%2F"
                       "localhost%2Fcb&scope=crm.objects.companies.read&state=xyz",
                       NULL, NULL, &resp);
    json_decref(v);
    assert_int_equal(resp.status, 302);
    const char *loc = hs_http_headers_get(&resp.headers, "Location");
    assert_non_null(loc);
    char *code = location_param(loc, "code");
    char *st = location_param(loc, "state");
    assert_non_null(code);
    assert_string_equal(st, "xyz");
    hs_free(st);
    hs_http_response_release(&resp);

    char body[512];
    snprintf(body, sizeof body,
             "grant_type=authorization_code&client_id=cid&client_secret=sec&redirect_uri=http%%"
             "3A%%2F%%2Flocalhost%%2Fcb&code=%s",
             code);
    hs_free(code);
    v = call_r(f, "POST", "/hubspot/oauth/v1/token", body, NULL, &resp);
    assert_int_equal(resp.status, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "expires_in")), 1800);
    assert_string_equal(hs_json_str(v, "token_use"), "access_token");
    assert_int_equal(json_integer_value(json_object_get(v, "hub_id")), HS_HUB_PORTAL_ID);
    char access[256], refresh[256];
    snprintf(access, sizeof access, "%s", hs_json_str(v, "access_token"));
    snprintf(refresh, sizeof refresh, "%s", hs_json_str(v, "refresh_token"));
    json_decref(v);
    hs_http_response_release(&resp);

    v = call_r(f, "GET", "/hubspot/crm/v3/objects/companies?limit=1", NULL, access, &resp);
    assert_int_equal(resp.status, 200);
    json_decref(v);
    hs_http_response_release(&resp);

    char path[400];
    snprintf(path, sizeof path, "/hubspot/oauth/v1/access-tokens/%s", access);
    v = call_r(f, "GET", path, NULL, NULL, &resp);
    assert_int_equal(resp.status, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "hub_id")), HS_HUB_PORTAL_ID);
    assert_int_equal(json_integer_value(json_object_get(v, "expires_in")), 1800);
    json_decref(v);
    hs_http_response_release(&resp);

    /* 30 minutes later the access token is dead; the refresh token lives on, unrotated */
    f->now += 1801 * 1000LL;
    v = call_r(f, "GET", "/hubspot/crm/v3/objects/companies?limit=1", NULL, access, &resp);
    assert_int_equal(resp.status, 401);
    json_decref(v);
    hs_http_response_release(&resp);
    snprintf(body, sizeof body,
             "grant_type=refresh_token&client_id=cid&client_secret=sec&refresh_token=%s", refresh);
    v = call_r(f, "POST", "/hubspot/oauth/v3/token", body, NULL, &resp);
    assert_int_equal(resp.status, 200);
    assert_string_equal(hs_json_str(v, "refresh_token"), refresh);
    assert_string_not_equal(hs_json_str(v, "access_token"), access);
    json_decref(v);
    hs_http_response_release(&resp);
}

/* ---- webhooks ---- */

static void test_sbx_hubspot_webhook_signature_verifies(void **state)
{
    struct fx *f = *state;
    void *mod = NULL;
    assert_int_equal(hs_sbx_hubspot_ops.create(f->sbx, &mod, NULL), HS_OK);
    json_t *events = json_pack("[{s:I,s:s,s:I}]", "eventId", (json_int_t)1, "subscriptionType",
                               "company.creation", "objectId", (json_int_t)1234);
    struct hs_http_request req;
    hs_http_request_init(&req);
    const char *url = "http://127.0.0.1:9999/hooks/hubspot";
    assert_int_equal(hs_sbx_hubspot_ops.webhook_request(mod, events, "s3cret", url, &req), HS_OK);
    assert_string_equal(req.method, "POST");
    const char *ts = hs_http_headers_get(&req.headers, "X-HubSpot-Request-Timestamp");
    const char *sig = hs_http_headers_get(&req.headers, "X-HubSpot-Signature-v3");
    assert_non_null(ts);
    assert_non_null(sig);
    char want_ts[24];
    snprintf(want_ts, sizeof want_ts, "%lld", START_MS);
    assert_string_equal(ts, want_ts);

    /* method + uri + body + timestamp, HMAC-SHA256 with the secret, base64 */
    struct hs_buf msg;
    hs_buf_init(&msg);
    assert_int_equal(hs_buf_printf(&msg, "POST%s%.*s%s", url, (int)req.body.len, req.body.data, ts),
                     HS_OK);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state h;
    crypto_auth_hmacsha256_init(&h, (const unsigned char *)"s3cret", 6);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)msg.data, msg.len);
    crypto_auth_hmacsha256_final(&h, mac);
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    assert_string_equal(sig, b64);
    /* a changed body no longer verifies */
    crypto_auth_hmacsha256_init(&h, (const unsigned char *)"s3cret", 6);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)msg.data, msg.len - 1);
    crypto_auth_hmacsha256_final(&h, mac);
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    assert_string_not_equal(sig, b64);

    json_t *body = NULL;
    assert_int_equal(hs_json_parse((const uint8_t *)req.body.data, req.body.len, "b", &body, NULL),
                     HS_OK);
    assert_true(json_is_array(body));
    assert_true(json_equal(body, events));
    json_decref(body);
    hs_buf_release(&msg);
    hs_http_request_release(&req);
    json_decref(events);
    hs_sbx_hubspot_ops.destroy(mod);
}

/* ---- persistence ---- */

static void test_sbx_hubspot_save_load_roundtrip(void **state)
{
    struct fx *f = *state;
    struct hs_sbx_world w;
    struct hs_sbx_sizes sizes = {.companies = 5, .contacts = 5, .products = 3, .deals = 4};
    assert_int_equal(hs_sbx_world_generate(3, &sizes, &w), HS_OK);
    void *a = NULL, *b = NULL;
    assert_int_equal(hs_sbx_hubspot_ops.create(f->sbx, &a, NULL), HS_OK);
    assert_int_equal(hs_sbx_hubspot_ops.create(f->sbx, &b, NULL), HS_OK);
    assert_int_equal(hs_sbx_hubspot_ops.reset(a, &w, NULL), HS_OK);
    hs_sbx_world_release(&w);

    /* a custom unique property with a value, and an archived record */
    struct hs_hubspot *ha = a;
    struct hs_hub_store *cs = &ha->stores[HS_HUB_COMPANIES];
    struct hs_hub_prop def = {0};
    def.name = (char *)(uintptr_t) "hoopsync_id";
    def.type = (char *)(uintptr_t) "string";
    def.field_type = (char *)(uintptr_t) "text";
    def.group = (char *)(uintptr_t) "companyinformation";
    def.unique = true;
    assert_int_equal(hs_hub_prop_add(cs, &def), HS_OK);
    assert_true(cs->n >= 2);
    assert_int_equal(
        hs_hub_record_set(cs, cs->recs[0], hs_hub_prop_get(cs, "hoopsync_id"), "keep-1"), HS_OK);
    int64_t kept = cs->recs[0]->id;
    hs_hub_record_archive(ha, HS_HUB_COMPANIES, cs->recs[1], START_MS);

    json_t *saved_a = hs_sbx_hubspot_ops.save(a);
    assert_non_null(saved_a);
    assert_int_equal(hs_sbx_hubspot_ops.load(b, saved_a, NULL), HS_OK);
    json_t *saved_b = hs_sbx_hubspot_ops.save(b);
    assert_true(json_equal(saved_a, saved_b));
    struct hs_hubspot *hb = b;
    struct hs_hub_record *r =
        hs_hub_find_str(&hb->stores[HS_HUB_COMPANIES], "keep-1", "hoopsync_id");
    assert_non_null(r);
    assert_true(r->id == kept);
    assert_true(hb->stores[HS_HUB_COMPANIES].recs[1]->archived);
    /* new ids continue after the loaded ones */
    assert_true(hb->next_id == ha->next_id);
    json_decref(saved_a);
    json_decref(saved_b);

    json_t *tenants = hs_sbx_hubspot_ops.tenants(b);
    assert_int_equal(json_integer_value(json_object_get(tenants, "portalId")), HS_HUB_PORTAL_ID);
    json_decref(tenants);
    hs_sbx_hubspot_ops.destroy(a);
    hs_sbx_hubspot_ops.destroy(b);
}

/* ---- out of memory ---- */

static void test_sbx_hubspot_survives_failed_allocations(void **state)
{
    struct fx *f = *state;
    struct hs_sbx_world w;
    struct hs_sbx_sizes sizes = {.companies = 3, .contacts = 3, .products = 2, .deals = 2};
    assert_int_equal(hs_sbx_world_generate(5, &sizes, &w), HS_OK);
    for (int n = 0;; n++) {
        void *mod = NULL;
        failalloc_arm(n);
        int rc = hs_sbx_hubspot_ops.create(f->sbx, &mod, NULL);
        if (rc == HS_OK)
            rc = hs_sbx_hubspot_ops.reset(mod, &w, NULL);
        json_t *saved = rc == HS_OK ? hs_sbx_hubspot_ops.save(mod) : NULL;
        failalloc_disarm();
        json_decref(saved);
        if (mod != NULL)
            hs_sbx_hubspot_ops.destroy(mod);
        if (rc == HS_OK && saved != NULL)
            break;
        assert_true(rc == HS_OK || rc == HS_ENOMEM);
        assert_true(n < 100000);
    }
    hs_sbx_world_release(&w);

    /* requests: every failure is a clean HS_ENOMEM answer or a normal one, never a leak */
    const char *body = "{\"inputs\":[{\"properties\":{\"name\":\"OOM\"},\"associations\":[]}]}";
    for (int n = 0; n < 400; n++) {
        struct hs_http_request req;
        struct hs_http_response resp;
        hs_http_request_init(&req);
        hs_http_response_init(&resp);
        req.method = hs_strdup("POST");
        req.path = hs_strdup("/hubspot/crm/v3/objects/companies/batch/create");
        assert_int_equal(hs_buf_puts(&req.body, body), HS_OK);
        assert_int_equal(hs_http_headers_add(&req.headers, "Authorization", "Bearer T"), HS_OK);
        failalloc_arm(n);
        int rc = hs_sbx_handle(f->sbx, &req, &resp);
        bool tripped = failalloc_tripped();
        failalloc_disarm();
        hs_http_request_release(&req);
        hs_http_response_release(&resp);
        if (!tripped) {
            assert_int_equal(rc, HS_OK);
            break;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_requires_bearer_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_crud_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_escapes_values_in_answers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_rejects_bad_properties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_datetime_is_normalized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_list_pages_through_everything, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_batch_limits_and_partial_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_properties_api, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_upsert_and_unique_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_search_filters_sorts_pages, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_contact_edit_moves_lastmodifieddate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_associations_v4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_seeded_world, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_pipelines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_rate_limits, setup_limits, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_oauth_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_webhook_signature_verifies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_save_load_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbx_hubspot_survives_failed_allocations, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
