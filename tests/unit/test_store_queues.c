/*
 * tests/unit/test_store_queues.c - migration 3 of the store: conflict/error/review items
 * (raise, coalesce, reopen, filters, settle, state changes), create intents and run records,
 * with a fake clock; plus atomicity with the caller's transaction and the failed state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hoopsync/store.h"
#include "store/sqlite.h"
#include "util/alloc.h"
#include "util/env.h"

#define KEY_A "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

struct fixture {
    char dir[64];
    char path[128];
    int64_t now;
    struct hs_env env;
    struct hs_store_options opt;
    struct hs_store *s;
};

static int64_t fake_now(void *ud)
{
    return ((struct fixture *)ud)->now;
}

static uint64_t fake_rand(void *ud)
{
    (void)ud;
    return 7;
}

static void reopen(struct fixture *f)
{
    hs_store_close(f->s);
    f->s = NULL;
    struct hs_error err = {0};
    if (hs_store_open(f->path, &f->opt, &f->s, &err) != HS_OK)
        fail_msg("open: %s", err.msg);
}

static int setup(void **state)
{
    unsetenv(HS_STORE_KEY_ENV);
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/hs-queues-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/hoopsync.db", f->dir);
    f->now = 1700000000000;
    f->env = (struct hs_env){.now_ms = fake_now, .rand64 = fake_rand, .ud = f};
    f->opt = (struct hs_store_options){.env = &f->env, .master_key_hex = KEY_A};
    reopen(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    hs_store_close(f->s);
    char p[256];
    static const char *const files[] = {"hoopsync.db", "hoopsync.db-wal", "hoopsync.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", f->dir, files[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static struct hs_store_item conflict(const char *remote_id, const char *field, const char *msg)
{
    return (struct hs_store_item){.kind = HS_STORE_ITEM_CONFLICT,
                                  .flow = (char *)"customers",
                                  .object = (char *)"customer",
                                  .side = HS_STORE_CRM,
                                  .remote_id = (char *)remote_id,
                                  .other_id = (char *)"qb-1",
                                  .field = (char *)field,
                                  .message = (char *)msg,
                                  .detail = (char *)"{\"crm\":\"a\",\"accounting\":\"b\"}"};
}

static void test_store_queues_schema_is_version_3(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    assert_true(hs_store_schema_version(f->s, &err) >= 3);
    assert_int_equal(hs_store_item_count(f->s, 0, NULL, -1, &err), 0);
    assert_int_equal(hs_store_intent_count(f->s, &err), 0);
}

static void test_store_queues_raise_coalesces_and_reopens(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    int64_t id1 = 0, id2 = 0, id3 = 0;
    struct hs_store_item in = conflict("c1", "email", "both sides changed 'email'");
    assert_int_equal(hs_store_item_raise(f->s, &in, &id1, &err), HS_OK);
    f->now += 1000;
    in.message = (char *)"both sides changed 'email' again";
    assert_int_equal(hs_store_item_raise(f->s, &in, &id2, &err), HS_OK);
    assert_int_equal(id1, id2);
    /* another field of the same record is another item */
    struct hs_store_item other = conflict("c1", "phone", "both sides changed 'phone'");
    assert_int_equal(hs_store_item_raise(f->s, &other, &id3, &err), HS_OK);
    assert_true(id3 != id1);

    struct hs_store_item got;
    assert_int_equal(hs_store_item_get(f->s, id1, &got, &err), HS_OK);
    assert_int_equal(got.kind, HS_STORE_ITEM_CONFLICT);
    assert_int_equal(got.state, HS_STORE_ITEM_OPEN);
    assert_int_equal(got.count, 2);
    assert_string_equal(got.message, "both sides changed 'email' again");
    assert_string_equal(got.field, "email");
    assert_string_equal(got.other_id, "qb-1");
    assert_int_equal(got.side, HS_STORE_CRM);
    assert_int_equal(got.created_at, 1700000000000);
    assert_int_equal(got.updated_at, 1700000001000);
    assert_null(got.resolution);
    hs_store_item_release(&got);

    /* resolve, then raise again: reopened with the resolution cleared */
    assert_int_equal(hs_store_item_set_state(f->s, id1, HS_STORE_ITEM_RESOLVED, "take crm", &err),
                     HS_OK);
    assert_int_equal(hs_store_item_get(f->s, id1, &got, &err), HS_OK);
    assert_int_equal(got.state, HS_STORE_ITEM_RESOLVED);
    assert_string_equal(got.resolution, "take crm");
    hs_store_item_release(&got);
    assert_int_equal(
        hs_store_item_count(f->s, HS_STORE_ITEM_CONFLICT, NULL, HS_STORE_ITEM_OPEN, &err), 1);
    assert_int_equal(hs_store_item_raise(f->s, &in, &id2, &err), HS_OK);
    assert_int_equal(id2, id1);
    assert_int_equal(hs_store_item_get(f->s, id1, &got, &err), HS_OK);
    assert_int_equal(got.state, HS_STORE_ITEM_OPEN);
    assert_null(got.resolution);
    assert_int_equal(got.count, 3);
    hs_store_item_release(&got);
    assert_int_equal(hs_store_item_get(f->s, 999, &got, &err), HS_ENOTFOUND);
    assert_int_equal(hs_store_item_set_state(f->s, 999, HS_STORE_ITEM_RETRY, NULL, &err),
                     HS_ENOTFOUND);
}

struct collect {
    int n;
    int64_t ids[8];
};

static int collect_cb(void *ud, const struct hs_store_item *it)
{
    struct collect *c = ud;
    if (c->n < 8)
        c->ids[c->n] = it->id;
    c->n++;
    return 0;
}

static int stop_cb(void *ud, const struct hs_store_item *it)
{
    (void)it;
    (*(int *)ud)++;
    return 42;
}

static void test_store_queues_filters_and_settle(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    struct hs_store_item a = conflict("c1", "email", "conflict on email");
    struct hs_store_item e = {.kind = HS_STORE_ITEM_ERROR,
                              .flow = (char *)"customers",
                              .object = (char *)"customer",
                              .side = HS_STORE_CRM,
                              .remote_id = (char *)"c2",
                              .message = (char *)"the email 'x@' is not a valid address"};
    struct hs_store_item r = {.kind = HS_STORE_ITEM_REVIEW,
                              .flow = (char *)"items",
                              .object = (char *)"item",
                              .side = HS_STORE_ACCOUNTING,
                              .remote_id = (char *)"i9",
                              .other_id = (char *)"p3",
                              .message = (char *)"possible match"};
    int64_t ida = 0, ide = 0, idr = 0;
    assert_int_equal(hs_store_item_raise(f->s, &a, &ida, &err), HS_OK);
    assert_int_equal(hs_store_item_raise(f->s, &e, &ide, &err), HS_OK);
    assert_int_equal(hs_store_item_raise(f->s, &r, &idr, &err), HS_OK);

    struct collect c = {0};
    assert_int_equal(hs_store_item_each(f->s, 0, NULL, -1, collect_cb, &c, &err), HS_OK);
    assert_int_equal(c.n, 3);
    assert_true(c.ids[0] < c.ids[1] && c.ids[1] < c.ids[2]);
    c = (struct collect){0};
    assert_int_equal(hs_store_item_each(f->s, HS_STORE_ITEM_ERROR, NULL, -1, collect_cb, &c, &err),
                     HS_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.ids[0], ide);
    assert_int_equal(hs_store_item_count(f->s, 0, "customers", -1, &err), 2);
    assert_int_equal(hs_store_item_count(f->s, 0, "items", HS_STORE_ITEM_OPEN, &err), 1);
    int calls = 0;
    assert_int_equal(hs_store_item_each(f->s, 0, NULL, -1, stop_cb, &calls, &err), 42);
    assert_int_equal(calls, 1);

    /* settle: the error of c2 went away */
    assert_int_equal(hs_store_item_settle(f->s, HS_STORE_ITEM_ERROR, "customers", "customer",
                                          HS_STORE_CRM, "c2", NULL, "record now valid", &err),
                     1);
    assert_int_equal(hs_store_item_settle(f->s, HS_STORE_ITEM_ERROR, "customers", "customer",
                                          HS_STORE_CRM, "c2", NULL, "again", &err),
                     0);
    assert_int_equal(hs_store_item_count(f->s, HS_STORE_ITEM_ERROR, NULL, HS_STORE_ITEM_OPEN, &err),
                     0);
    /* settle of one field only */
    struct hs_store_item a2 = conflict("c1", "phone", "conflict on phone");
    assert_int_equal(hs_store_item_raise(f->s, &a2, NULL, &err), HS_OK);
    assert_int_equal(hs_store_item_settle(f->s, HS_STORE_ITEM_CONFLICT, "customers", "customer",
                                          HS_STORE_CRM, "c1", "phone", "gone", &err),
                     1);
    assert_int_equal(
        hs_store_item_count(f->s, HS_STORE_ITEM_CONFLICT, NULL, HS_STORE_ITEM_OPEN, &err), 1);

    /* bad arguments */
    struct hs_store_item bad = e;
    bad.message = (char *)"";
    assert_int_equal(hs_store_item_raise(f->s, &bad, NULL, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "required"));
    bad = e;
    bad.side = 0;
    assert_int_equal(hs_store_item_raise(f->s, &bad, NULL, &err), HS_EINVAL);
    assert_int_equal(hs_store_item_count(f->s, 9, NULL, -1, &err), HS_EINVAL);
    assert_int_equal(hs_store_item_count(f->s, 0, NULL, 7, &err), HS_EINVAL);
    assert_string_equal(hs_store_item_kind_name(HS_STORE_ITEM_REVIEW), "review");
    assert_string_equal(hs_store_item_state_name(HS_STORE_ITEM_RETRY), "retry");
}

static void test_store_queues_intents(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    assert_int_equal(hs_store_intent_put(f->s, "k1", "customer", HS_STORE_ACCOUNTING, "c1", &err),
                     1);
    f->now += 5;
    assert_int_equal(hs_store_intent_put(f->s, "k1", "customer", HS_STORE_ACCOUNTING, "c1", &err),
                     0);
    int64_t at = 0;
    assert_int_equal(hs_store_intent_get(f->s, "k1", &at, &err), HS_OK);
    assert_int_equal(at, 1700000000000);
    assert_int_equal(hs_store_intent_get(f->s, "k2", NULL, &err), HS_ENOTFOUND);
    assert_int_equal(hs_store_intent_count(f->s, &err), 1);
    /* survives a reopen */
    reopen(f);
    assert_int_equal(hs_store_intent_get(f->s, "k1", NULL, &err), HS_OK);
    assert_int_equal(hs_store_intent_delete(f->s, "k1", &err), HS_OK);
    assert_int_equal(hs_store_intent_delete(f->s, "k1", &err), HS_OK);
    assert_int_equal(hs_store_intent_count(f->s, &err), 0);
    assert_int_equal(hs_store_intent_put(f->s, "", "customer", HS_STORE_CRM, "c1", &err),
                     HS_EINVAL);
}

struct intent_seen {
    char keys[4][16];
    char sources[4][16];
    size_t n;
};

static int intent_cb(void *ud, const char *key, const char *source_id)
{
    struct intent_seen *s = ud;
    if (s->n >= 4)
        return 1;
    snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
    snprintf(s->sources[s->n], sizeof s->sources[0], "%s", source_id);
    s->n++;
    return 0;
}

static void test_store_queues_intent_each_filters_and_orders(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    assert_int_equal(hs_store_intent_put(f->s, "k2", "invoice", HS_STORE_ACCOUNTING, "d2", &err),
                     1);
    f->now += 5;
    assert_int_equal(hs_store_intent_put(f->s, "k1", "invoice", HS_STORE_ACCOUNTING, "d1", &err),
                     1);
    assert_int_equal(hs_store_intent_put(f->s, "k3", "customer", HS_STORE_ACCOUNTING, "c1", &err),
                     1);
    assert_int_equal(hs_store_intent_put(f->s, "k4", "invoice", HS_STORE_CRM, "i9", &err), 1);
    struct intent_seen seen;
    memset(&seen, 0, sizeof seen);
    assert_int_equal(
        hs_store_intent_each(f->s, "invoice", HS_STORE_ACCOUNTING, intent_cb, &seen, &err), HS_OK);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.keys[0], "k2"); /* oldest first */
    assert_string_equal(seen.sources[0], "d2");
    assert_string_equal(seen.keys[1], "k1");
    assert_string_equal(seen.sources[1], "d1");
    /* a non-zero return stops the iteration and is returned */
    seen.n = 4;
    assert_int_equal(
        hs_store_intent_each(f->s, "invoice", HS_STORE_ACCOUNTING, intent_cb, &seen, &err), 1);
    assert_int_equal(hs_store_intent_each(f->s, NULL, HS_STORE_CRM, intent_cb, &seen, &err),
                     HS_EINVAL);
}

static void test_store_queues_intent_rolls_back_with_caller_transaction(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    assert_int_equal(hs_store_begin(f->s, &err), HS_OK);
    assert_int_equal(hs_store_intent_put(f->s, "k1", "customer", HS_STORE_CRM, "c1", &err), 1);
    struct hs_store_item e = {.kind = HS_STORE_ITEM_ERROR,
                              .flow = (char *)"customers",
                              .object = (char *)"customer",
                              .side = HS_STORE_CRM,
                              .remote_id = (char *)"c2",
                              .message = (char *)"bad"};
    assert_int_equal(hs_store_item_raise(f->s, &e, NULL, &err), HS_OK);
    assert_int_equal(hs_store_rollback(f->s, &err), HS_OK);
    assert_int_equal(hs_store_intent_count(f->s, &err), 0);
    assert_int_equal(hs_store_item_count(f->s, 0, NULL, -1, &err), 0);
}

static void test_store_queues_failed_store_refuses_writes(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    assert_int_equal(hs_store_sqlite_fail_after(f->s, 0), HS_OK);
    assert_int_equal(hs_store_intent_put(f->s, "k1", "customer", HS_STORE_CRM, "c1", &err), HS_EIO);
    assert_true(hs_store_failed(f->s));
    struct hs_store_item e = {.kind = HS_STORE_ITEM_ERROR,
                              .flow = (char *)"customers",
                              .object = (char *)"customer",
                              .side = HS_STORE_CRM,
                              .remote_id = (char *)"c2",
                              .message = (char *)"bad"};
    assert_int_equal(hs_store_item_raise(f->s, &e, NULL, &err), HS_ESTATE);
    assert_int_equal(hs_store_run_put(f->s, "customers", "{}", &err), HS_ESTATE);
    reopen(f);
    assert_int_equal(hs_store_intent_count(f->s, &err), 0);
}

static void test_store_queues_run_records(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    char *out = NULL;
    assert_int_equal(hs_store_run_get(f->s, "customers", &out, &err), HS_ENOTFOUND);
    assert_null(out);
    assert_int_equal(hs_store_run_put(f->s, "customers", "{\"writes\":3}", &err), HS_OK);
    assert_int_equal(hs_store_run_put(f->s, "customers", "{\"writes\":4}", &err), HS_OK);
    assert_int_equal(hs_store_run_get(f->s, "customers", &out, &err), HS_OK);
    assert_string_equal(out, "{\"writes\":4}");
    hs_free(out);
    assert_int_equal(hs_store_run_put(f->s, "", "{}", &err), HS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_queues_schema_is_version_3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_queues_raise_coalesces_and_reopens, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_queues_filters_and_settle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_queues_intents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_queues_intent_each_filters_and_orders, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_queues_intent_rolls_back_with_caller_transaction,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_queues_failed_store_refuses_writes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_queues_run_records, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
