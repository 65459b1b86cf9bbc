/*
 * tests/unit/test_store_tables.c - the store's operations on each table (SQLite backend):
 * schema and migrations, connections, links and base snapshots, mirror, cursors, dirty set
 * (coalescing, leases under a fake clock), jobs (backoff, dead jobs, lost leases), audit chain
 * (verify, then tamper with raw SQL) and nested transactions.
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
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "hoopsync/store.h"
#include "util/alloc.h"
#include "util/env.h"

#define KEY_A "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

struct fixture {
    char dir[64];
    char path[128];
    int64_t now;
    uint64_t rnd;
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
    return ((struct fixture *)ud)->rnd;
}

static void rm_dir(const char *dir)
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
    rmdir(dir);
}

static void reopen(struct fixture *f)
{
    hs_store_close(f->s);
    f->s = NULL;
    struct hs_error err = {0};
    int rc = hs_store_open(f->path, &f->opt, &f->s, &err);
    if (rc != HS_OK)
        fail_msg("open: %s", err.msg);
}

static int setup(void **state)
{
    unsetenv(HS_STORE_KEY_ENV);
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/hs-store-XXXXXX");
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
    rm_dir(f->dir);
    free(f);
    return 0;
}

/* Runs one SQL statement on the file directly; returns the sqlite rc. */
static int raw_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void add_conns(struct fixture *f)
{
    assert_int_equal(
        hs_store_connection_put(f->s, "hub", HS_STORE_CRM, "hubspot", "123", NULL, NULL), HS_OK);
    assert_int_equal(hs_store_connection_put(f->s, "qbo", HS_STORE_ACCOUNTING, "quickbooks", "9130",
                                             "{\"minorversion\":75}", NULL),
                     HS_OK);
}

/* ---- schema ----------------------------------------------------------------------------- */

static void test_store_migrations_apply_once_and_reopen_is_idempotent(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    int v = hs_store_schema_version(f->s, &err);
    assert_true(v >= 2);
    assert_int_equal(hs_store_check(f->s, &err), HS_OK);
    reopen(f);
    reopen(f);
    assert_int_equal(hs_store_schema_version(f->s, &err), v);
    hs_store_close(f->s);
    f->s = NULL;
    /* each migration recorded exactly once, in order */
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM schema_version"), v);
    assert_int_equal(raw_int(f->path, "SELECT COUNT(DISTINCT version) FROM schema_version"), v);
    assert_int_equal(raw_int(f->path, "SELECT MIN(version) FROM schema_version"), 1);
    reopen(f);
    assert_int_equal(hs_store_check(f->s, &err), HS_OK);
}

static void test_store_open_uses_wal(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* customer data: owner-only, the WAL too */
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_store_open_refuses_newer_schema(void **state)
{
    struct fixture *f = *state;
    hs_store_close(f->s);
    f->s = NULL;
    assert_int_equal(raw_sql(f->path, "INSERT INTO schema_version VALUES (999, 0)"), SQLITE_OK);
    struct hs_error err = {0};
    struct hs_store *s = (struct hs_store *)&err; /* must be reset to NULL */
    assert_int_equal(hs_store_open(f->path, &f->opt, &s, &err), HS_EUNSUPPORTED);
    assert_null(s);
    assert_non_null(strstr(err.msg, "schema version 999 is newer"));
}

static void test_store_open_reports_clear_errors(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    struct hs_store *s = NULL;
    assert_int_equal(hs_store_open("/nonexistent-dir/x.db", &f->opt, &s, &err), HS_EIO);
    assert_null(s);
    assert_string_equal(err.msg,
                        "cannot open store '/nonexistent-dir/x.db': unable to open database file");

    char junk[160];
    snprintf(junk, sizeof junk, "%s/junk.db", f->dir);
    FILE *fp = fopen(junk, "w");
    fputs("this is not a database, it is a text file long enough to have a header......", fp);
    fclose(fp);
    assert_int_equal(hs_store_open(junk, &f->opt, &s, &err), HS_EIO);
    assert_non_null(strstr(err.msg, "file is not a database"));
    assert_non_null(strstr(err.msg, "junk.db"));

    assert_int_equal(hs_store_open("postgres://u:s3cret@db/x", &f->opt, &s, &err), HS_EUNSUPPORTED);
    assert_null(strstr(err.msg, "s3cret"));
    assert_non_null(strstr(err.msg, "'postgres'"));

    char uri[200];
    snprintf(uri, sizeof uri, "sqlite://%s", f->path);
    assert_int_equal(hs_store_open(uri, &f->opt, &s, &err), HS_OK);
    hs_store_close(s);
    assert_int_equal(hs_store_open("", &f->opt, &s, &err), HS_EINVAL);
}

/* ---- connections ------------------------------------------------------------------------ */

static void test_store_connections_put_get_list_update(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    add_conns(f);
    struct hs_store_connection c;
    assert_int_equal(hs_store_connection_get(f->s, "qbo", &c, &err), HS_OK);
    assert_string_equal(c.id, "qbo");
    assert_int_equal(c.kind, HS_STORE_ACCOUNTING);
    assert_string_equal(c.provider, "quickbooks");
    assert_string_equal(c.tenant_id, "9130");
    assert_string_equal(c.settings, "{\"minorversion\":75}");
    assert_false(c.has_access_token);
    assert_true(c.created_at == f->now);
    hs_store_connection_release(&c);

    f->now += 5000;
    assert_int_equal(
        hs_store_connection_put(f->s, "qbo", HS_STORE_ACCOUNTING, "quickbooks", "9131", "{}", &err),
        HS_OK);
    assert_int_equal(hs_store_connection_get(f->s, "qbo", &c, &err), HS_OK);
    assert_string_equal(c.tenant_id, "9131");
    assert_true(c.updated_at == f->now && c.created_at == f->now - 5000);
    hs_store_connection_release(&c);

    assert_int_equal(
        hs_store_connection_put(f->s, "qbo", HS_STORE_CRM, "quickbooks", "", "{}", &err),
        HS_ECONFLICT);
    assert_non_null(strstr(err.msg, "cannot change"));
    assert_int_equal(hs_store_connection_put(f->s, "x", HS_STORE_CRM, "hubspot", "", "[1,", &err),
                     HS_EINVAL);
    assert_non_null(strstr(err.msg, "invalid connection settings"));
    assert_int_equal(hs_store_connection_put(f->s, "x", HS_STORE_CRM, "hubspot", "", "[1]", &err),
                     HS_EINVAL);
    assert_int_equal(hs_store_connection_get(f->s, "nope", &c, &err), HS_ENOTFOUND);
    assert_string_equal(err.msg, "no connection 'nope'");

    struct hs_store_connection *all = NULL;
    size_t n = 0;
    assert_int_equal(hs_store_connection_list(f->s, &all, &n, &err), HS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(all[0].id, "hub");
    assert_string_equal(all[1].id, "qbo");
    hs_store_connections_free(all, n);
}

static void test_store_connection_delete_cascades(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    add_conns(f);
    int64_t link = 0;
    assert_int_equal(hs_store_link_create(f->s, "hub", "qbo", "customer", "c1", "q1", &link, &err),
                     HS_OK);
    assert_int_equal(hs_store_base_put(f->s, link, HS_STORE_CRM, "{}", NULL, &err), HS_OK);
    assert_int_equal(hs_store_mirror_put(f->s, "qbo", "customer", "q1", "{}", NULL, 1, &err),
                     HS_OK);
    assert_int_equal(hs_store_cursor_set(f->s, "qbo", "customer", "2024", &err), HS_OK);
    assert_int_equal(hs_store_dirty_mark(f->s, "qbo", "customer", HS_STORE_ACCOUNTING, "q1", &err),
                     HS_OK);
    assert_int_equal(hs_store_connection_delete(f->s, "qbo", &err), HS_OK);
    assert_int_equal(hs_store_connection_delete(f->s, "qbo", &err), HS_ENOTFOUND);
    struct hs_store_link l;
    assert_int_equal(hs_store_link_get(f->s, link, &l, &err), HS_ENOTFOUND);
    struct hs_store_doc d;
    assert_int_equal(hs_store_base_get(f->s, link, HS_STORE_CRM, &d, &err), HS_ENOTFOUND);
    assert_int_equal(hs_store_mirror_get(f->s, "qbo", "customer", "q1", &d, &err), HS_ENOTFOUND);
    char *cur = NULL;
    assert_int_equal(hs_store_cursor_get(f->s, "qbo", "customer", &cur, &err), HS_ENOTFOUND);
    assert_int_equal(hs_store_dirty_count(f->s, &err), 0);
    assert_int_equal(hs_store_check(f->s, &err), HS_OK);
}

/* ---- links and base snapshots ----------------------------------------------------------- */

static int count_links(void *ud, const struct hs_store_link *l)
{
    int *n = ud;
    (*n)++;
    return strcmp(l->crm_id, "stop") == 0 ? 42 : 0;
}

static void test_store_links_unique_on_each_side(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    add_conns(f);
    int64_t id = 0;
    assert_int_equal(hs_store_link_create(f->s, "hub", "qbo", "customer", "c1", "q1", &id, &err),
                     HS_OK);
    assert_true(id > 0);
    struct hs_store_link l;
    assert_int_equal(
        hs_store_link_find(f->s, "hub", "qbo", "customer", HS_STORE_ACCOUNTING, "q1", &l, &err),
        HS_OK);
    assert_true(l.id == id);
    assert_string_equal(l.crm_id, "c1");
    hs_store_link_release(&l);
    assert_int_equal(
        hs_store_link_find(f->s, "hub", "qbo", "customer", HS_STORE_CRM, "c1", &l, &err), HS_OK);
    assert_string_equal(l.acc_id, "q1");
    hs_store_link_release(&l);

    assert_int_equal(hs_store_link_create(f->s, "hub", "qbo", "customer", "c1", "q2", NULL, &err),
                     HS_EEXIST);
    assert_non_null(strstr(err.msg, "crm customer 'c1' is already linked"));
    assert_int_equal(hs_store_link_create(f->s, "hub", "qbo", "customer", "c2", "q1", NULL, &err),
                     HS_EEXIST);
    assert_non_null(strstr(err.msg, "accounting customer 'q1' is already linked"));
    /* the same ids for another object kind are fine */
    assert_int_equal(hs_store_link_create(f->s, "hub", "qbo", "item", "c1", "q1", NULL, &err),
                     HS_OK);
    /* connection kinds are checked */
    assert_int_equal(hs_store_link_create(f->s, "qbo", "hub", "customer", "c9", "q9", NULL, &err),
                     HS_EINVAL);
    assert_non_null(
        strstr(err.msg, "connection 'qbo' is on the accounting side, not the crm side"));
    assert_int_equal(hs_store_link_create(f->s, "hub", "nope", "customer", "c9", "q9", NULL, &err),
                     HS_ENOTFOUND);

    assert_int_equal(hs_store_link_create(f->s, "hub", "qbo", "customer", "stop", "q3", NULL, &err),
                     HS_OK);
    int n = 0;
    assert_int_equal(hs_store_link_each(f->s, "hub", "qbo", "customer", count_links, &n, &err), 42);
    assert_int_equal(n, 2);

    assert_int_equal(hs_store_link_delete(f->s, id, &err), HS_OK);
    assert_int_equal(hs_store_link_delete(f->s, id, &err), HS_ENOTFOUND);
    assert_int_equal(hs_store_link_create(f->s, "hub", "qbo", "customer", "c1", "q2", NULL, &err),
                     HS_OK);
}

static void test_store_base_snapshots_are_kept_per_side(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    add_conns(f);
    int64_t id = 0;
    assert_int_equal(hs_store_link_create(f->s, "hub", "qbo", "customer", "c1", "q1", &id, &err),
                     HS_OK);
    assert_int_equal(
        hs_store_base_put(f->s, id, HS_STORE_CRM, "{\"name\":\"Acme, Inc.\"}", "h-crm", &err),
        HS_OK);
    assert_int_equal(
        hs_store_base_put(f->s, id, HS_STORE_ACCOUNTING, "{\"name\":\"ACME Inc\"}", NULL, &err),
        HS_OK);
    struct hs_store_doc d;
    assert_int_equal(hs_store_base_get(f->s, id, HS_STORE_CRM, &d, &err), HS_OK);
    assert_string_equal(d.json, "{\"name\":\"Acme, Inc.\"}");
    assert_string_equal(d.hash, "h-crm");
    hs_store_doc_release(&d);
    assert_int_equal(hs_store_base_get(f->s, id, HS_STORE_ACCOUNTING, &d, &err), HS_OK);
    assert_string_equal(d.json, "{\"name\":\"ACME Inc\"}");
    /* default hash: SHA-256 of the JSON bytes */
    assert_int_equal(strlen(d.hash), 64);
    hs_store_doc_release(&d);
    assert_int_equal(hs_store_base_put(f->s, id, HS_STORE_CRM, "{\"name\":\"Acme\"}", NULL, &err),
                     HS_OK);
    assert_int_equal(hs_store_base_get(f->s, id, HS_STORE_CRM, &d, &err), HS_OK);
    assert_string_equal(d.json, "{\"name\":\"Acme\"}");
    hs_store_doc_release(&d);
    assert_int_equal(hs_store_base_put(f->s, 999, HS_STORE_CRM, "{}", NULL, &err), HS_ENOTFOUND);
    assert_int_equal(hs_store_base_put(f->s, id, HS_STORE_CRM, "{bad", NULL, &err), HS_EINVAL);
    assert_int_equal(hs_store_link_delete(f->s, id, &err), HS_OK);
    assert_int_equal(hs_store_base_get(f->s, id, HS_STORE_ACCOUNTING, &d, &err), HS_ENOTFOUND);
}

/* ---- mirror and cursors ----------------------------------------------------------------- */

struct seen {
    char ids[8][16];
    int n;
};

static int collect(void *ud, const char *remote_id, const struct hs_store_doc *doc)
{
    struct seen *s = ud;
    assert_non_null(doc->json);
    snprintf(s->ids[s->n++], sizeof s->ids[0], "%s", remote_id);
    return 0;
}

static void test_store_mirror_upserts_and_iterates(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    add_conns(f);
    assert_int_equal(
        hs_store_mirror_put(f->s, "qbo", "customer", "2", "{\"n\":2}", "h2", 100, &err), HS_OK);
    assert_int_equal(hs_store_mirror_put(f->s, "qbo", "customer", "1", "{\"n\":1}", NULL, 50, &err),
                     HS_OK);
    f->now += 60000;
    assert_int_equal(
        hs_store_mirror_put(f->s, "qbo", "customer", "2", "{\"n\":22}", "h22", 200, &err), HS_OK);
    struct hs_store_doc d;
    assert_int_equal(hs_store_mirror_get(f->s, "qbo", "customer", "2", &d, &err), HS_OK);
    assert_string_equal(d.json, "{\"n\":22}");
    assert_string_equal(d.hash, "h22");
    assert_true(d.remote_updated_at == 200);
    assert_true(d.updated_at == f->now);
    hs_store_doc_release(&d);
    struct seen s = {0};
    assert_int_equal(hs_store_mirror_each(f->s, "qbo", "customer", collect, &s, &err), HS_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[0], "1");
    assert_string_equal(s.ids[1], "2");
    assert_int_equal(hs_store_mirror_delete(f->s, "qbo", "customer", "1", &err), HS_OK);
    assert_int_equal(hs_store_mirror_delete(f->s, "qbo", "customer", "1", &err), HS_ENOTFOUND);
    assert_int_equal(hs_store_mirror_put(f->s, "ghost", "customer", "1", "{}", NULL, 0, &err),
                     HS_ENOTFOUND);
    assert_non_null(strstr(err.msg, "FOREIGN KEY"));
}

/* Migration 4 moves a version-3 mirror (WITHOUT ROWID) into a rowid table: every entry kept,
 * large entries inline rather than on an overflow page each, the FK and hash index as before. */
static void test_store_migration_4_keeps_the_mirror(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    add_conns(f);
    char big[1400];
    memset(big, 'x', sizeof big - 8);
    memcpy(big, "{\"d\":\"", 6);
    memcpy(big + sizeof big - 8, "\"}", 3);
    assert_int_equal(hs_store_mirror_put(f->s, "qbo", "invoice", "7", big, "h7", 70, &err), HS_OK);
    assert_int_equal(hs_store_mirror_put(f->s, "hub", "company", "8", "{}", "h8", 80, &err), HS_OK);
    hs_store_close(f->s);
    f->s = NULL;
    /* back to the version-3 shape, entries included */
    assert_int_equal(
        raw_sql(f->path,
                "CREATE TABLE old_mirror(conn TEXT NOT NULL REFERENCES connections(id) ON DELETE "
                "CASCADE, object TEXT NOT NULL, remote_id TEXT NOT NULL, data TEXT NOT NULL, "
                "hash TEXT NOT NULL, remote_updated_at INTEGER NOT NULL, seen_at INTEGER NOT NULL, "
                "PRIMARY KEY (conn, object, remote_id)) WITHOUT ROWID;"
                "INSERT INTO old_mirror SELECT conn, object, remote_id, data, hash, "
                "remote_updated_at, seen_at FROM mirror; DROP TABLE mirror;"
                "ALTER TABLE old_mirror RENAME TO mirror;"
                "CREATE INDEX mirror_hash ON mirror(conn, object, hash);"
                "DELETE FROM schema_version WHERE version >= 4;"),
        SQLITE_OK);
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'mirror' "
                                      "AND sql LIKE '%WITHOUT ROWID%'"),
                     1);
    reopen(f);
    assert_true(hs_store_schema_version(f->s, &err) >= 4);
    assert_int_equal(hs_store_check(f->s, &err), HS_OK);
    struct hs_store_doc d;
    assert_int_equal(hs_store_mirror_get(f->s, "qbo", "invoice", "7", &d, &err), HS_OK);
    assert_string_equal(d.json, big);
    assert_string_equal(d.hash, "h7");
    assert_true(d.remote_updated_at == 70);
    hs_store_doc_release(&d);
    assert_int_equal(hs_store_mirror_get(f->s, "hub", "company", "8", &d, &err), HS_OK);
    hs_store_doc_release(&d);
    /* still one entry per key, still tied to its connection */
    assert_int_equal(hs_store_mirror_put(f->s, "qbo", "invoice", "7", "{}", "h9", 90, &err), HS_OK);
    assert_int_equal(hs_store_mirror_put(f->s, "ghost", "invoice", "1", "{}", NULL, 0, &err),
                     HS_ENOTFOUND);
    hs_store_close(f->s);
    f->s = NULL;
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM mirror"), 2);
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'mirror' "
                                      "AND sql LIKE '%WITHOUT ROWID%'"),
                     0);
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM sqlite_schema WHERE name = "
                                      "'mirror_hash'"),
                     1);
    /* the 1.4 KB entry sits in its table page, not on an overflow page */
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM dbstat WHERE name = 'mirror' AND "
                                      "pagetype = 'overflow'"),
                     0);
    reopen(f);
}

static void test_store_cursors_round_trip(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    add_conns(f);
    char *v = NULL;
    assert_int_equal(hs_store_cursor_get(f->s, "hub", "company", &v, &err), HS_ENOTFOUND);
    assert_null(v);
    assert_int_equal(hs_store_cursor_set(f->s, "hub", "company", "t=1700;after=abc", &err), HS_OK);
    assert_int_equal(hs_store_cursor_set(f->s, "hub", "company", "t=1800;after=def", &err), HS_OK);
    assert_int_equal(hs_store_cursor_get(f->s, "hub", "company", &v, &err), HS_OK);
    assert_string_equal(v, "t=1800;after=def");
    hs_free(v);
    assert_int_equal(hs_store_cursor_get(f->s, "hub", "contact", &v, &err), HS_ENOTFOUND);
}

/* ---- dirty set -------------------------------------------------------------------------- */

static void test_store_dirty_coalesces_and_leases_expire(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    add_conns(f);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(hs_store_dirty_mark(f->s, "hub", "company", HS_STORE_CRM, "c1", &err),
                         HS_OK);
        f->now += 10;
    }
    assert_int_equal(hs_store_dirty_mark(f->s, "qbo", "customer", HS_STORE_ACCOUNTING, "q1", &err),
                     HS_OK);
    assert_int_equal(hs_store_dirty_count(f->s, &err), 2);
    /* counted per object and side */
    assert_int_equal(hs_store_dirty_count_of(f->s, "company", 0, &err), 1);
    assert_int_equal(hs_store_dirty_count_of(f->s, "company", HS_STORE_ACCOUNTING, &err), 0);
    assert_int_equal(hs_store_dirty_count_of(f->s, "customer", HS_STORE_ACCOUNTING, &err), 1);
    assert_int_equal(hs_store_dirty_count_of(f->s, NULL, HS_STORE_CRM, &err), 1);
    assert_int_equal(hs_store_dirty_count_of(f->s, "item", 0, &err), 0);

    struct hs_store_dirty *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    assert_int_equal(hs_store_dirty_claim(f->s, "w1", "hub", 30000, 10, &a, &na, &err), HS_OK);
    assert_int_equal(na, 1);
    assert_string_equal(a[0].remote_id, "c1");
    assert_true(a[0].gen == 3);
    assert_int_equal(a[0].side, HS_STORE_CRM);
    /* leased: nobody else gets it */
    assert_int_equal(hs_store_dirty_claim(f->s, "w2", "hub", 30000, 10, &b, &nb, &err), HS_OK);
    assert_int_equal(nb, 0);
    assert_null(b);
    /* after the lease expires, w2 takes it over */
    f->now += 30001;
    assert_int_equal(hs_store_dirty_claim(f->s, "w2", "hub", 30000, 10, &b, &nb, &err), HS_OK);
    assert_int_equal(nb, 1);
    /* w1 lost its lease: its completion removes nothing */
    assert_int_equal(hs_store_dirty_complete(f->s, "w1", a, na, &err), 0);
    assert_int_equal(hs_store_dirty_count(f->s, &err), 2);
    assert_int_equal(hs_store_dirty_complete(f->s, "w2", b, nb, &err), 1);
    assert_int_equal(hs_store_dirty_count(f->s, &err), 1);
    hs_store_dirty_free(a, na);
    hs_store_dirty_free(b, nb);
}

static void test_store_dirty_mark_during_lease_is_not_lost(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    add_conns(f);
    assert_int_equal(hs_store_dirty_mark(f->s, "hub", "company", HS_STORE_CRM, "c1", &err), HS_OK);
    struct hs_store_dirty *a = NULL;
    size_t na = 0;
    assert_int_equal(hs_store_dirty_claim(f->s, "w1", NULL, 30000, 10, &a, &na, &err), HS_OK);
    assert_int_equal(na, 1);
    /* the record changes again while w1 works on it */
    assert_int_equal(hs_store_dirty_mark(f->s, "hub", "company", HS_STORE_CRM, "c1", &err), HS_OK);
    assert_int_equal(hs_store_dirty_complete(f->s, "w1", a, na, &err), 0);
    hs_store_dirty_free(a, na);
    /* it stays, unleased, for the next claim */
    assert_int_equal(hs_store_dirty_claim(f->s, "w1", NULL, 30000, 10, &a, &na, &err), HS_OK);
    assert_int_equal(na, 1);
    assert_true(a[0].gen == 2);
    assert_int_equal(hs_store_dirty_release(f->s, "w1", a, na, &err), 1);
    hs_store_dirty_free(a, na);
    assert_int_equal(hs_store_dirty_claim(f->s, "w2", NULL, 30000, 10, &a, &na, &err), HS_OK);
    assert_int_equal(na, 1);
    assert_int_equal(hs_store_dirty_complete(f->s, "w2", a, na, &err), 1);
    hs_store_dirty_free(a, na);
    assert_int_equal(hs_store_dirty_count(f->s, &err), 0);
}

static void test_store_dirty_claims_oldest_first_in_batches(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    add_conns(f);
    char id[16];
    for (int i = 0; i < 25; i++) {
        snprintf(id, sizeof id, "c%02d", i);
        assert_int_equal(hs_store_dirty_mark(f->s, "hub", "company", HS_STORE_CRM, id, &err),
                         HS_OK);
        f->now++;
    }
    struct hs_store_dirty *a = NULL;
    size_t na = 0;
    assert_int_equal(hs_store_dirty_claim(f->s, "w1", NULL, 1000, 10, &a, &na, &err), HS_OK);
    assert_int_equal(na, 10);
    assert_string_equal(a[0].remote_id, "c00");
    assert_string_equal(a[9].remote_id, "c09");
    hs_store_dirty_free(a, na);
    assert_int_equal(hs_store_dirty_claim(f->s, "w2", NULL, 1000, 100, &a, &na, &err), HS_OK);
    assert_int_equal(na, 15);
    assert_string_equal(a[0].remote_id, "c10");
    hs_store_dirty_free(a, na);
    assert_int_equal(hs_store_dirty_claim(f->s, "w2", NULL, 0, 100, &a, &na, &err), HS_EINVAL);
}

/* ---- jobs ------------------------------------------------------------------------------- */

static void test_store_jobs_back_off_then_die(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    f->opt.job_backoff_base_ms = 1000;
    f->opt.job_backoff_max_ms = 3000;
    f->opt.job_max_attempts = 4;
    reopen(f);
    int64_t id = 0;
    assert_int_equal(
        hs_store_job_enqueue(f->s, "backfill", "{\"conn\":\"hub\"}", f->now, &id, &err), HS_OK);
    struct hs_store_job *j = NULL;
    size_t n = 0;
    int64_t expect[] = {1000, 2000, 3000}; /* capped at 3000 */
    for (int attempt = 1; attempt <= 3; attempt++) {
        assert_int_equal(hs_store_job_claim(f->s, "w1", 60000, 5, &j, &n, &err), HS_OK);
        assert_int_equal(n, 1);
        assert_int_equal(j[0].attempts, attempt);
        assert_string_equal(j[0].payload, "{\"conn\":\"hub\"}");
        hs_store_jobs_free(j, n);
        assert_int_equal(hs_store_job_fail(f->s, id, "w1", "HTTP 503 from provider", &err), HS_OK);
        struct hs_store_job g;
        assert_int_equal(hs_store_job_get(f->s, id, &g, &err), HS_OK);
        assert_true(g.next_run == f->now + expect[attempt - 1]);
        assert_null(g.lease_owner);
        assert_string_equal(g.last_error, "HTTP 503 from provider");
        assert_int_equal(g.state, HS_STORE_JOB_QUEUED);
        hs_store_job_release(&g);
        /* not due yet */
        f->now += expect[attempt - 1] - 1;
        assert_int_equal(hs_store_job_claim(f->s, "w1", 60000, 5, &j, &n, &err), HS_OK);
        assert_int_equal(n, 0);
        f->now += 1;
    }
    assert_int_equal(hs_store_job_claim(f->s, "w1", 60000, 5, &j, &n, &err), HS_OK);
    assert_int_equal(n, 1);
    hs_store_jobs_free(j, n);
    assert_int_equal(hs_store_job_fail(f->s, id, "w1", "still failing", &err), HS_OK);
    struct hs_store_job g;
    assert_int_equal(hs_store_job_get(f->s, id, &g, &err), HS_OK);
    assert_int_equal(g.state, HS_STORE_JOB_DEAD);
    assert_int_equal(g.attempts, 4);
    hs_store_job_release(&g);
    f->now += 86400000;
    assert_int_equal(hs_store_job_claim(f->s, "w1", 60000, 5, &j, &n, &err), HS_OK);
    assert_int_equal(n, 0);
}

static void test_store_jobs_jitter_comes_from_env(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    int64_t id = 0;
    assert_int_equal(hs_store_job_enqueue(f->s, "k", NULL, 0, &id, &err), HS_OK);
    struct hs_store_job *j = NULL;
    size_t n = 0;
    assert_int_equal(hs_store_job_claim(f->s, "w", 1000, 1, &j, &n, &err), HS_OK);
    hs_store_jobs_free(j, n);
    f->rnd = 12345; /* default base 1000 ms: jitter = 12345 % 101 = 23 */
    assert_int_equal(hs_store_job_fail(f->s, id, "w", NULL, &err), HS_OK);
    struct hs_store_job g;
    assert_int_equal(hs_store_job_get(f->s, id, &g, &err), HS_OK);
    assert_true(g.next_run == f->now + 1000 + 23);
    hs_store_job_release(&g);
}

static void test_store_jobs_lost_lease_cannot_complete(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    int64_t id = 0, later = 0;
    assert_int_equal(hs_store_job_enqueue(f->s, "push", "{}", f->now, &id, &err), HS_OK);
    assert_int_equal(hs_store_job_enqueue(f->s, "later", "{}", f->now + 5000, &later, &err), HS_OK);
    struct hs_store_job *j = NULL;
    size_t n = 0;
    assert_int_equal(hs_store_job_claim(f->s, "w1", 10000, 10, &j, &n, &err), HS_OK);
    assert_int_equal(n, 1);
    assert_true(j[0].id == id);
    hs_store_jobs_free(j, n);
    f->now += 10001;
    assert_int_equal(hs_store_job_claim(f->s, "w2", 10000, 10, &j, &n, &err), HS_OK);
    assert_int_equal(n, 2); /* the expired lease and the now-due job, due order */
    assert_true(j[0].id == id && j[1].id == later);
    assert_int_equal(j[0].attempts, 2);
    hs_store_jobs_free(j, n);
    assert_int_equal(hs_store_job_complete(f->s, id, "w1", &err), HS_ECONFLICT);
    assert_non_null(strstr(err.msg, "leased by 'w2'"));
    assert_int_equal(hs_store_job_fail(f->s, id, "w1", "x", &err), HS_ECONFLICT);
    assert_int_equal(hs_store_job_complete(f->s, id, "w2", &err), HS_OK);
    struct hs_store_job g;
    assert_int_equal(hs_store_job_get(f->s, id, &g, &err), HS_ENOTFOUND);
    assert_int_equal(hs_store_job_complete(f->s, id, "w2", &err), HS_ENOTFOUND);
    assert_int_equal(hs_store_job_enqueue(f->s, "bad", "{", 0, NULL, &err), HS_EINVAL);
}

/* ---- audit ------------------------------------------------------------------------------ */

static void append_rows(struct fixture *f, int n)
{
    struct hs_error err = {0};
    char detail[64];
    for (int i = 1; i <= n; i++) {
        snprintf(detail, sizeof detail, "{\"field\":\"name\",\"n\":%d}", i);
        int64_t id = 0;
        assert_int_equal(
            hs_store_audit_append(f->s, "engine", "update", "customer:42", detail, &id, &err),
            HS_OK);
        assert_true(id == i);
        f->now += 1000;
    }
}

static int capture_last(void *ud, const struct hs_store_audit_row *row)
{
    memcpy(ud, row->hash, HS_STORE_HASH_HEX);
    return 0;
}

static void test_store_audit_chain_verifies(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    struct hs_store_audit_report rep;
    assert_int_equal(hs_store_audit_verify(f->s, &rep, &err), HS_OK);
    assert_true(rep.n_rows == 0 && rep.bad_id == 0);
    append_rows(f, 5);
    assert_int_equal(hs_store_audit_verify(f->s, &rep, &err), HS_OK);
    assert_true(rep.n_rows == 5 && rep.bad_id == 0);
    char last[HS_STORE_HASH_HEX];
    assert_int_equal(hs_store_audit_each(f->s, 4, capture_last, last, &err), HS_OK);
    assert_string_equal(rep.head_hash, last);
    assert_int_equal(hs_store_audit_append(f->s, "engine", "x", "y", "{oops", NULL, &err),
                     HS_EINVAL);
}

static void test_store_audit_verify_finds_tampered_row(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    append_rows(f, 5);
    hs_store_close(f->s);
    f->s = NULL;
    /* plain SQL cannot change or remove rows ... */
    assert_int_not_equal(raw_sql(f->path, "UPDATE audit SET detail = '{}' WHERE id = 3"),
                         SQLITE_OK);
    assert_int_not_equal(raw_sql(f->path, "DELETE FROM audit WHERE id = 2"), SQLITE_OK);
    /* ... but someone with file access can drop the guard; verify still catches it */
    assert_int_equal(raw_sql(f->path, "DROP TRIGGER audit_no_update;"
                                      "UPDATE audit SET detail = '{\"field\":\"email\",\"n\":3}' "
                                      "WHERE id = 3"),
                     SQLITE_OK);
    reopen(f);
    struct hs_store_audit_report rep;
    assert_int_equal(hs_store_audit_verify(f->s, &rep, &err), HS_ECRYPTO);
    assert_true(rep.bad_id == 3);
    assert_string_equal(err.msg,
                        "audit trail altered at row 3: its contents do not match its hash");
}

static void test_store_audit_verify_finds_removed_row(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    append_rows(f, 4);
    hs_store_close(f->s);
    f->s = NULL;
    assert_int_equal(raw_sql(f->path, "DROP TRIGGER audit_no_delete;"
                                      "DELETE FROM audit WHERE id = 2"),
                     SQLITE_OK);
    reopen(f);
    struct hs_store_audit_report rep;
    assert_int_equal(hs_store_audit_verify(f->s, &rep, &err), HS_ECRYPTO);
    assert_true(rep.bad_id == 3);
    /* a rewritten hash breaks the next row's link */
    hs_store_close(f->s);
    f->s = NULL;
    assert_int_equal(raw_sql(f->path, "DROP TRIGGER audit_no_update;"
                                      "INSERT INTO audit SELECT 2, ts, actor, action, object, "
                                      "detail, prev_hash, hash FROM audit WHERE id = 1;"
                                      "UPDATE audit SET hash = prev_hash WHERE id = 2;"),
                     SQLITE_OK);
    reopen(f);
    assert_int_equal(hs_store_audit_verify(f->s, &rep, &err), HS_ECRYPTO);
    assert_true(rep.bad_id == 2);
}

/* ---- transactions ----------------------------------------------------------------------- */

static void test_store_transactions_nest(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    add_conns(f);
    assert_int_equal(hs_store_begin(f->s, &err), HS_OK);
    assert_int_equal(hs_store_mirror_put(f->s, "hub", "company", "1", "{}", NULL, 0, &err), HS_OK);
    assert_int_equal(hs_store_begin(f->s, &err), HS_OK);
    assert_int_equal(hs_store_cursor_set(f->s, "hub", "company", "c", &err), HS_OK);
    assert_int_equal(hs_store_rollback(f->s, &err), HS_OK);
    /* an operation that fails inside the caller's transaction changes nothing */
    assert_int_equal(hs_store_link_create(f->s, "hub", "qbo", "customer", "c1", "q1", NULL, &err),
                     HS_OK);
    assert_int_equal(hs_store_link_create(f->s, "hub", "qbo", "customer", "c1", "q2", NULL, &err),
                     HS_EEXIST);
    assert_int_equal(hs_store_commit(f->s, &err), HS_OK);
    struct hs_store_doc d;
    assert_int_equal(hs_store_mirror_get(f->s, "hub", "company", "1", &d, &err), HS_OK);
    hs_store_doc_release(&d);
    char *v = NULL;
    assert_int_equal(hs_store_cursor_get(f->s, "hub", "company", &v, &err), HS_ENOTFOUND);
    struct hs_store_link l;
    assert_int_equal(
        hs_store_link_find(f->s, "hub", "qbo", "customer", HS_STORE_CRM, "c1", &l, &err), HS_OK);
    assert_string_equal(l.acc_id, "q1");
    hs_store_link_release(&l);

    assert_int_equal(hs_store_begin(f->s, &err), HS_OK);
    assert_int_equal(hs_store_mirror_put(f->s, "hub", "company", "2", "{}", NULL, 0, &err), HS_OK);
    assert_int_equal(hs_store_rollback(f->s, &err), HS_OK);
    assert_int_equal(hs_store_mirror_get(f->s, "hub", "company", "2", &d, &err), HS_ENOTFOUND);
    assert_int_equal(hs_store_commit(f->s, &err), HS_ESTATE);
    assert_int_equal(hs_store_rollback(f->s, &err), HS_ESTATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_store_migrations_apply_once_and_reopen_is_idempotent),
        T(test_store_open_uses_wal),
        T(test_store_open_refuses_newer_schema),
        T(test_store_open_reports_clear_errors),
        T(test_store_connections_put_get_list_update),
        T(test_store_connection_delete_cascades),
        T(test_store_links_unique_on_each_side),
        T(test_store_base_snapshots_are_kept_per_side),
        T(test_store_mirror_upserts_and_iterates),
        T(test_store_migration_4_keeps_the_mirror),
        T(test_store_cursors_round_trip),
        T(test_store_dirty_coalesces_and_leases_expire),
        T(test_store_dirty_mark_during_lease_is_not_lost),
        T(test_store_dirty_claims_oldest_first_in_batches),
        T(test_store_jobs_back_off_then_die),
        T(test_store_jobs_jitter_comes_from_env),
        T(test_store_jobs_lost_lease_cannot_complete),
        T(test_store_audit_chain_verifies),
        T(test_store_audit_verify_finds_tampered_row),
        T(test_store_audit_verify_finds_removed_row),
        T(test_store_transactions_nest),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
