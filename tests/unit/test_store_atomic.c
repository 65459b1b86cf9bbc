/*
 * tests/unit/test_store_atomic.c - a crash between statements of one operation leaves nothing
 * half-written, and allocation failures are reported and leak nothing.
 *
 * For each multi-row operation, and for every n, the test rebuilds the same baseline store,
 * makes the n-th SQL step fail with an injected I/O error (hs_store_sqlite_fail_after), runs the
 * operation, then reopens the file and compares everything stored with the state before and
 * the state after a clean run: it must equal one of them exactly. The loop ends at the first n
 * the operation survives (n is past its last statement). After each failure the handle must be
 * in the failed state (writes refused) and the reopened store must pass hs_store_check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "hoopsync/store.h"
#include "store/sqlite.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/env.h"

#define KEY_A "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

struct fixture {
    char dir[64];
    char path[128];
    int64_t now;
    struct hs_env env;
    struct hs_store_options opt;
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

static void rm_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

static int setup(void **state)
{
    unsetenv(HS_STORE_KEY_ENV);
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/hs-store-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/hoopsync.db", f->dir);
    f->env = (struct hs_env){.now_ms = fake_now, .rand64 = fake_rand, .ud = f};
    f->opt = (struct hs_store_options){.env = &f->env, .master_key_hex = KEY_A};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rm_files(f->dir);
    rmdir(f->dir);
    free(f);
    return 0;
}

static struct hs_store *open_store(struct fixture *f)
{
    struct hs_store *s = NULL;
    struct hs_error err = {0};
    if (hs_store_open(f->path, &f->opt, &s, &err) != HS_OK)
        fail_msg("open: %s", err.msg);
    return s;
}

/* Every row of every table except meta (random workspace id), blobs masked, plus the
 * decrypted secrets of 'qbo' (sealed bytes differ between runs: random nonces). */
static char *snapshot(struct fixture *f)
{
    static const char *const tables[] = {"connections", "links",   "base_snapshots",
                                         "mirror",      "cursors", "dirty",
                                         "jobs",        "audit",   "schema_version"};
    struct hs_buf b;
    hs_buf_init(&b);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY 1, 2", tables[t]);
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(hs_buf_printf(&b, "[%s]\n", tables[t]), HS_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                int type = sqlite3_column_type(st, c);
                const char *v = type == SQLITE_NULL   ? "NULL"
                                : type == SQLITE_BLOB ? "<blob>"
                                                      : (const char *)sqlite3_column_text(st, c);
                assert_int_equal(hs_buf_printf(&b, "%s|", v), HS_OK);
            }
            assert_int_equal(hs_buf_putc(&b, '\n'), HS_OK);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    struct hs_store *s = open_store(f);
    struct hs_store_secrets sec;
    assert_int_equal(hs_store_secrets_get(s, "qbo", &sec, NULL), HS_OK);
    assert_int_equal(
        hs_buf_printf(&b, "secrets %s %s %lld\n", sec.access_token ? sec.access_token : "-",
                      sec.refresh_token ? sec.refresh_token : "-", (long long)sec.expires_at),
        HS_OK);
    hs_store_secrets_release(&sec);
    assert_int_equal(hs_store_check(s, NULL), HS_OK);
    hs_store_close(s);
    return hs_buf_detach(&b);
}

/* The same starting point for every run: two connections, a link, tokens, dirty marks
 * claimed by w1, a leased job, two audit rows. */
static void baseline(struct fixture *f)
{
    rm_files(f->dir);
    f->now = 1700000000000;
    struct hs_store *s = open_store(f);
    struct hs_error err = {0};
    assert_int_equal(hs_store_connection_put(s, "hub", HS_STORE_CRM, "hubspot", "1", NULL, &err),
                     HS_OK);
    assert_int_equal(
        hs_store_connection_put(s, "qbo", HS_STORE_ACCOUNTING, "quickbooks", "2", NULL, &err),
        HS_OK);
    int64_t link = 0;
    assert_int_equal(hs_store_link_create(s, "hub", "qbo", "customer", "c1", "q1", &link, &err),
                     HS_OK);
    assert_int_equal(hs_store_base_put(s, link, HS_STORE_CRM, "{\"v\":0}", NULL, &err), HS_OK);
    assert_int_equal(hs_store_tokens_set(s, "qbo", "access-0", "refresh-0", 1000, &err), HS_OK);
    assert_int_equal(hs_store_mirror_put(s, "hub", "company", "c9", "{}", NULL, 0, &err), HS_OK);
    assert_int_equal(hs_store_cursor_set(s, "hub", "company", "cur-0", &err), HS_OK);
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "c%d", i);
        assert_int_equal(hs_store_dirty_mark(s, "hub", "company", HS_STORE_CRM, id, &err), HS_OK);
    }
    assert_int_equal(hs_store_dirty_mark(s, "qbo", "customer", HS_STORE_ACCOUNTING, "q7", &err),
                     HS_OK);
    struct hs_store_dirty *d = NULL;
    size_t nd = 0;
    assert_int_equal(hs_store_dirty_claim(s, "w1", "hub", 60000, 10, &d, &nd, &err), HS_OK);
    assert_int_equal(nd, 3);
    hs_store_dirty_free(d, nd);
    int64_t job = 0;
    assert_int_equal(hs_store_job_enqueue(s, "push", "{}", f->now, &job, &err), HS_OK);
    assert_int_equal(hs_store_job_enqueue(s, "pull", "{}", f->now, &job, &err), HS_OK);
    struct hs_store_job *j = NULL;
    size_t nj = 0;
    assert_int_equal(hs_store_job_claim(s, "w1", 60000, 1, &j, &nj, &err), HS_OK);
    hs_store_jobs_free(j, nj);
    assert_int_equal(hs_store_audit_append(s, "cli", "connect", "qbo", NULL, NULL, &err), HS_OK);
    assert_int_equal(hs_store_audit_append(s, "cli", "connect", "hub", NULL, NULL, &err), HS_OK);
    hs_store_close(s);
    f->now += 1000;
}

typedef int (*op_fn)(struct hs_store *s);

static int op_token_refresh(struct hs_store *s)
{
    return hs_store_tokens_set(s, "qbo", "access-1", "refresh-1", 2000, NULL);
}

/* After a write: both base snapshots, the mirror and an audit row, in the caller's
 * transaction. */
static int op_after_write(struct hs_store *s)
{
    int rc = hs_store_begin(s, NULL);
    if (rc != HS_OK)
        return rc;
    rc = hs_store_base_put(s, 1, HS_STORE_CRM, "{\"v\":1}", NULL, NULL);
    if (rc == HS_OK)
        rc = hs_store_base_put(s, 1, HS_STORE_ACCOUNTING, "{\"v\":\"1\"}", NULL, NULL);
    if (rc == HS_OK)
        rc = hs_store_mirror_put(s, "qbo", "customer", "q1", "{\"v\":\"1\"}", NULL, 5, NULL);
    if (rc == HS_OK)
        rc = hs_store_cursor_set(s, "hub", "company", "cur-1", NULL);
    if (rc == HS_OK)
        rc = hs_store_audit_append(s, "engine", "update", "customer:q1", "{\"f\":\"v\"}", NULL,
                                   NULL);
    if (rc != HS_OK) {
        hs_store_rollback(s, NULL);
        return rc;
    }
    return hs_store_commit(s, NULL);
}

static int op_dirty_complete(struct hs_store *s)
{
    /* the baseline's claim by w1, rebuilt from the stored rows */
    struct hs_store_dirty items[3];
    char ids[3][8];
    char conn[] = "hub", object[] = "company";
    for (int i = 0; i < 3; i++) {
        snprintf(ids[i], sizeof ids[i], "c%d", i);
        items[i] = (struct hs_store_dirty){.id = i + 1,
                                           .conn = conn,
                                           .object = object,
                                           .side = HS_STORE_CRM,
                                           .remote_id = ids[i],
                                           .gen = 1};
    }
    int rc = hs_store_dirty_complete(s, "w1", items, 3, NULL);
    return rc < 0 ? rc : (rc == 3 ? HS_OK : HS_EIO);
}

static int op_dirty_claim(struct hs_store *s)
{
    struct hs_store_dirty *d = NULL;
    size_t n = 0;
    int rc = hs_store_dirty_claim(s, "w2", NULL, 60000, 10, &d, &n, NULL);
    hs_store_dirty_free(d, n);
    return rc;
}

static int op_job_fail(struct hs_store *s)
{
    return hs_store_job_fail(s, 1, "w1", "timeout", NULL);
}

static int op_job_claim(struct hs_store *s)
{
    struct hs_store_job *j = NULL;
    size_t n = 0;
    int rc = hs_store_job_claim(s, "w2", 60000, 10, &j, &n, NULL);
    hs_store_jobs_free(j, n);
    return rc;
}

static int op_audit_append(struct hs_store *s)
{
    return hs_store_audit_append(s, "engine", "link", "customer:c1", "{}", NULL, NULL);
}

static int op_link_delete(struct hs_store *s)
{
    return hs_store_link_delete(s, 1, NULL);
}

static int op_connection_delete(struct hs_store *s)
{
    return hs_store_connection_delete(s, "hub", NULL);
}

static void all_or_nothing(struct fixture *f, op_fn op)
{
    baseline(f);
    char *before = snapshot(f);
    struct hs_store *s = open_store(f);
    assert_int_equal(op(s), HS_OK);
    hs_store_close(s);
    char *after = snapshot(f);
    assert_string_not_equal(before, after);

    int failures = 0;
    for (int n = 0; n < 1000; n++) {
        baseline(f);
        s = open_store(f);
        assert_int_equal(hs_store_sqlite_fail_after(s, n), HS_OK);
        int rc = op(s);
        if (rc != HS_OK) {
            failures++;
            assert_int_equal(rc, HS_EIO);
            /* the handle no longer vouches for itself: writes refused */
            assert_true(hs_store_failed(s));
            struct hs_error err = {0};
            assert_int_equal(hs_store_cursor_set(s, "hub", "company", "x", &err), HS_ESTATE);
            assert_non_null(strstr(err.msg, "refuses writes"));
            assert_int_equal(hs_store_check(s, NULL), HS_OK);
        }
        hs_store_close(s);
        char *now = snapshot(f);
        if (rc == HS_OK) {
            assert_string_equal(now, after);
            hs_free(now);
            break;
        }
        assert_string_equal(now, before);
        hs_free(now);
    }
    assert_true(failures >= 1);
    hs_free(before);
    hs_free(after);
}

static void test_store_token_refresh_is_atomic(void **state)
{
    all_or_nothing(*state, op_token_refresh);
}

static void test_store_after_write_transaction_is_atomic(void **state)
{
    all_or_nothing(*state, op_after_write);
}

static void test_store_dirty_complete_is_atomic(void **state)
{
    all_or_nothing(*state, op_dirty_complete);
}

static void test_store_dirty_claim_is_atomic(void **state)
{
    all_or_nothing(*state, op_dirty_claim);
}

static void test_store_job_fail_is_atomic(void **state)
{
    all_or_nothing(*state, op_job_fail);
}

static void test_store_job_claim_is_atomic(void **state)
{
    all_or_nothing(*state, op_job_claim);
}

static void test_store_audit_append_is_atomic(void **state)
{
    all_or_nothing(*state, op_audit_append);
}

static void test_store_link_delete_is_atomic(void **state)
{
    all_or_nothing(*state, op_link_delete);
}

static void test_store_connection_delete_is_atomic(void **state)
{
    all_or_nothing(*state, op_connection_delete);
}

static void test_store_commit_after_io_error_rolls_back(void **state)
{
    struct fixture *f = *state;
    baseline(f);
    char *before = snapshot(f);
    struct hs_store *s = open_store(f);
    struct hs_error err = {0};
    assert_int_equal(hs_store_begin(s, &err), HS_OK);
    assert_int_equal(hs_store_mirror_put(s, "hub", "company", "c10", "{}", NULL, 0, &err), HS_OK);
    assert_int_equal(hs_store_sqlite_fail_after(s, 0), HS_OK);
    assert_int_equal(hs_store_cursor_set(s, "hub", "company", "cur-9", &err), HS_EIO);
    assert_non_null(strstr(err.msg, "disk I/O error (injected fault)"));
    assert_int_equal(hs_store_commit(s, &err), HS_ESTATE);
    assert_non_null(strstr(err.msg, "rolled back"));
    assert_int_equal(hs_store_begin(s, &err), HS_ESTATE);
    hs_store_close(s);
    char *after = snapshot(f);
    assert_string_equal(before, after);
    hs_free(before);
    hs_free(after);
}

/* ---- allocation failures ---------------------------------------------------------------- */

static void test_store_open_survives_every_failed_allocation(void **state)
{
    struct fixture *f = *state;
    /* twice: creating a new store, then opening the existing one */
    for (int pass = 0; pass < 2; pass++) {
        int n;
        for (n = 0;; n++) {
            struct hs_store *s = NULL;
            struct hs_error err = {0};
            failalloc_arm(n);
            int rc = hs_store_open(f->path, &f->opt, &s, &err);
            failalloc_disarm();
            if (rc == HS_OK) {
                assert_int_equal(hs_store_check(s, NULL), HS_OK);
                hs_store_close(s);
                break;
            }
            assert_int_equal(rc, HS_ENOMEM);
            assert_null(s);
            assert_non_null(strstr(err.msg, "out of memory"));
        }
        assert_true(n >= 2);
    }
}

static void test_store_operations_survive_every_failed_allocation(void **state)
{
    struct fixture *f = *state;
    /* jansson stays on the C allocator here: it reports its own allocation failures as syntax
     * errors, so JSON validation cannot tell them apart (see docs/modules/store.md) */
    baseline(f);
    struct hs_store *s = open_store(f);
    for (int n = 0;; n++) {
        struct hs_store_secrets sec;
        struct hs_store_connection *all = NULL;
        size_t n_all = 0;
        struct hs_store_dirty *d = NULL;
        size_t nd = 0;
        failalloc_arm(n);
        int rc = hs_store_tokens_set(s, "qbo", "access-2", "refresh-2", 3000, NULL);
        if (rc == HS_OK)
            rc = hs_store_secrets_get(s, "qbo", &sec, NULL);
        if (rc == HS_OK) {
            hs_store_secrets_release(&sec);
            rc = hs_store_connection_list(s, &all, &n_all, NULL);
        }
        if (rc == HS_OK) {
            hs_store_connections_free(all, n_all);
            rc = hs_store_mirror_put(s, "qbo", "customer", "q5", "{\"a\":[1,2,3]}", NULL, 1, NULL);
        }
        if (rc == HS_OK)
            rc = hs_store_dirty_claim(s, "w9", "qbo", 1000, 10, &d, &nd, NULL);
        if (rc == HS_OK) {
            /* a claim that failed earlier must have left nothing leased */
            assert_int_equal(nd, 1);
            assert_int_equal(hs_store_dirty_release(s, "w9", d, nd, NULL), 1);
            hs_store_dirty_free(d, nd);
            rc = hs_store_audit_append(s, "x", "y", "z", "{\"k\":\"v\"}", NULL, NULL);
        }
        failalloc_disarm();
        if (rc == HS_OK)
            break;
        assert_int_equal(rc, HS_ENOMEM);
        assert_false(hs_store_failed(s));
    }
    struct hs_store_audit_report rep;
    assert_int_equal(hs_store_audit_verify(s, &rep, NULL), HS_OK);
    assert_int_equal(hs_store_check(s, NULL), HS_OK);
    hs_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_store_token_refresh_is_atomic),
        T(test_store_after_write_transaction_is_atomic),
        T(test_store_dirty_complete_is_atomic),
        T(test_store_dirty_claim_is_atomic),
        T(test_store_job_fail_is_atomic),
        T(test_store_job_claim_is_atomic),
        T(test_store_audit_append_is_atomic),
        T(test_store_link_delete_is_atomic),
        T(test_store_connection_delete_is_atomic),
        T(test_store_commit_after_io_error_rolls_back),
        T(test_store_open_survives_every_failed_allocation),
        T(test_store_operations_survive_every_failed_allocation),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
