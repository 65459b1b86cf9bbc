/*
 * store/sqlite.c - SQLite backend for struct hs_store_ops (the default, embedded store).
 *
 * Design:     one sqlite3 connection per handle. A new file is created with mode 0600, then
 *             opened in WAL mode (readers never block the writer), synchronous=FULL (a
 *             committed sync survives power loss), temp_store=MEMORY (the sub-journals of
 *             nested transactions, one per savepoint, stay in memory instead of costing a
 *             write per touched page), foreign keys on (deleting a connection cascades to its
 *             links, mirror, cursors and dirty marks) and a busy timeout. Every
 *             statement is prepared once and cached (SQLITE_PREPARE_PERSISTENT), except the
 *             _each iterations, which prepare their own so that their callbacks may call back
 *             into the store. Schema changes are numbered migrations (MIGRATIONS below,
 *             version N = MIGRATIONS[N-1]); at open each pending one runs in its own BEGIN
 *             IMMEDIATE transaction that first re-reads schema_version, so two processes
 *             opening the same file at once apply each migration exactly once.
 *             Transactions nest: depth 0 -> BEGIN IMMEDIATE (take the write lock up front, so a
 *             transaction never fails half-way on a lock upgrade), deeper -> SAVEPOINT.
 *             Claims use UPDATE ... RETURNING so selecting and leasing is one statement.
 * Invariants: every cached statement is reset and unbound before its op returns, so no read
 *             transaction outlives a call. depth counts open begin calls; when SQLite rolled
 *             the whole transaction back by itself after an error (autocommit is on again),
 *             rollback just pops a level and commit reports HS_ESTATE.
 * States:     ok -> failed (sq_fail on SQLITE_IOERR/FULL/CORRUPT/NOTADB/CANTOPEN, or a failed
 *             COMMIT/ROLLBACK): the handle keeps serving reads; store.c refuses writes.
 * Threads:    one handle per thread (SQLITE_OPEN_NOMUTEX); workers share the database file.
 * Ownership:  rows returned to store.c are copied into hs_malloc'd strings it owns.
 * Not here:   encryption, hashing and clock (store.c, audit.c, secret.c).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/sqlite.h"
#include "util/alloc.h"

enum sq_id {
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_SAVEPOINT,
    Q_RELEASE,
    Q_ROLLBACK_TO,
    Q_VERSION,
    Q_VERSION_PUT,
    Q_META_GET,
    Q_META_PUT,
    Q_CONN_PUT,
    Q_CONN_GET,
    Q_CONN_LIST,
    Q_CONN_DELETE,
    Q_SECRET_ACCESS,
    Q_SECRET_REFRESH,
    Q_SECRET_CLIENT,
    Q_SECRETS_GET,
    Q_EXPIRY_PUT,
    Q_LINK_INSERT,
    Q_LINK_GET,
    Q_LINK_FIND_CRM,
    Q_LINK_FIND_ACC,
    Q_LINK_DELETE,
    Q_BASE_PUT,
    Q_BASE_GET,
    Q_MIRROR_PUT,
    Q_MIRROR_GET,
    Q_MIRROR_DELETE,
    Q_CURSOR_GET,
    Q_CURSOR_PUT,
    Q_DIRTY_MARK,
    Q_DIRTY_CLAIM,
    Q_DIRTY_DONE,
    Q_DIRTY_UNLEASE,
    Q_DIRTY_COUNT,
    Q_JOB_INSERT,
    Q_JOB_CLAIM,
    Q_JOB_GET,
    Q_JOB_DELETE,
    Q_JOB_RESCHEDULE,
    Q_AUDIT_LAST,
    Q_AUDIT_INSERT,
    Q_ITEM_RAISE,
    Q_ITEM_GET,
    Q_ITEM_STATE,
    Q_ITEM_SETTLE,
    Q_INTENT_PUT,
    Q_INTENT_GET,
    Q_INTENT_DELETE,
    Q_INTENT_COUNT,
    Q_INTENT_EACH,
    Q_COUNT
};

#define CONN_COLS                                                                                  \
    "id, kind, provider, tenant_id, settings, token_expires_at, access_token IS NOT NULL, "        \
    "refresh_token IS NOT NULL, client_secret IS NOT NULL, created_at, updated_at"
#define LINK_COLS "id, crm_conn, acc_conn, object, crm_id, acc_id, created_at, updated_at"
#define JOB_COLS                                                                                   \
    "id, kind, payload, lease_owner, lease_expires_at, attempts, next_run, last_error, state"
#define LINK_EACH_SQL                                                                              \
    "SELECT " LINK_COLS " FROM links WHERE crm_conn = ?1 AND acc_conn = ?2 AND object = ?3 "       \
    "ORDER BY id"
#define MIRROR_EACH_SQL                                                                            \
    "SELECT remote_id, data, hash, remote_updated_at, seen_at FROM mirror "                        \
    "WHERE conn = ?1 AND object = ?2 ORDER BY remote_id"
#define ITEM_COLS                                                                                  \
    "id, kind, state, flow, object, side, remote_id, other_id, field, message, detail, "           \
    "resolution, count, created_at, updated_at"
#define ITEM_FILTER                                                                                \
    " WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR flow = ?2) AND (?3 IS NULL OR state = "   \
    "?3)"
#define ITEM_EACH_SQL  "SELECT " ITEM_COLS " FROM items" ITEM_FILTER " ORDER BY id"
#define ITEM_COUNT_SQL "SELECT COUNT(*) FROM items" ITEM_FILTER
#define AUDIT_EACH_SQL                                                                             \
    "SELECT id, ts, actor, action, object, detail, prev_hash, hash FROM audit WHERE id > ?1 "      \
    "ORDER BY id"

static const char *const SQL[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SAVEPOINT] = "SAVEPOINT hs",
    [Q_RELEASE] = "RELEASE hs",
    [Q_ROLLBACK_TO] = "ROLLBACK TO hs",
    [Q_VERSION] = "SELECT COALESCE(MAX(version), 0) FROM schema_version",
    [Q_VERSION_PUT] = "INSERT INTO schema_version(version, applied_at) VALUES (?1, ?2)",
    [Q_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [Q_META_PUT] = "INSERT INTO meta(key, value) VALUES (?1, ?2) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [Q_CONN_PUT] = "INSERT INTO connections(id, kind, provider, tenant_id, settings, created_at, "
                   "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT(id) DO UPDATE "
                   "SET tenant_id = excluded.tenant_id, settings = excluded.settings, "
                   "updated_at = excluded.updated_at",
    [Q_CONN_GET] = "SELECT " CONN_COLS " FROM connections WHERE id = ?1",
    [Q_CONN_LIST] = "SELECT " CONN_COLS " FROM connections ORDER BY id",
    [Q_CONN_DELETE] = "DELETE FROM connections WHERE id = ?1",
    [Q_SECRET_ACCESS] = "UPDATE connections SET access_token = ?2, updated_at = ?3 WHERE id = ?1",
    [Q_SECRET_REFRESH] = "UPDATE connections SET refresh_token = ?2, updated_at = ?3 "
                         "WHERE id = ?1",
    [Q_SECRET_CLIENT] = "UPDATE connections SET client_secret = ?2, updated_at = ?3 WHERE id = ?1",
    [Q_SECRETS_GET] = "SELECT access_token, refresh_token, client_secret, token_expires_at "
                      "FROM connections WHERE id = ?1",
    [Q_EXPIRY_PUT] = "UPDATE connections SET token_expires_at = ?2, updated_at = ?3 WHERE id = ?1",
    [Q_LINK_INSERT] = "INSERT INTO links(crm_conn, acc_conn, object, crm_id, acc_id, created_at, "
                      "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    [Q_LINK_GET] = "SELECT " LINK_COLS " FROM links WHERE id = ?1",
    [Q_LINK_FIND_CRM] = "SELECT " LINK_COLS " FROM links WHERE crm_conn = ?1 AND acc_conn = ?2 "
                        "AND object = ?3 AND crm_id = ?4",
    [Q_LINK_FIND_ACC] = "SELECT " LINK_COLS " FROM links WHERE crm_conn = ?1 AND acc_conn = ?2 "
                        "AND object = ?3 AND acc_id = ?4",
    [Q_LINK_DELETE] = "DELETE FROM links WHERE id = ?1",
    [Q_BASE_PUT] = "INSERT INTO base_snapshots(link_id, side, data, hash, updated_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(link_id, side) DO UPDATE SET "
                   "data = excluded.data, hash = excluded.hash, updated_at = excluded.updated_at",
    [Q_BASE_GET] = "SELECT data, hash, updated_at FROM base_snapshots "
                   "WHERE link_id = ?1 AND side = ?2",
    [Q_MIRROR_PUT] = "INSERT INTO mirror(conn, object, remote_id, data, hash, remote_updated_at, "
                     "seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                     "ON CONFLICT(conn, object, remote_id) DO UPDATE SET data = excluded.data, "
                     "hash = excluded.hash, remote_updated_at = excluded.remote_updated_at, "
                     "seen_at = excluded.seen_at",
    [Q_MIRROR_GET] = "SELECT data, hash, remote_updated_at, seen_at FROM mirror "
                     "WHERE conn = ?1 AND object = ?2 AND remote_id = ?3",
    [Q_MIRROR_DELETE] = "DELETE FROM mirror WHERE conn = ?1 AND object = ?2 AND remote_id = ?3",
    [Q_CURSOR_GET] = "SELECT value FROM cursors WHERE conn = ?1 AND object = ?2",
    [Q_CURSOR_PUT] = "INSERT INTO cursors(conn, object, value, updated_at) VALUES (?1, ?2, ?3, ?4) "
                     "ON CONFLICT(conn, object) DO UPDATE SET value = excluded.value, "
                     "updated_at = excluded.updated_at",
    [Q_DIRTY_MARK] = "INSERT INTO dirty(conn, object, side, remote_id, first_marked_at, "
                     "marked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) "
                     "ON CONFLICT(conn, object, side, remote_id) DO UPDATE SET gen = gen + 1, "
                     "marked_at = excluded.marked_at",
    [Q_DIRTY_CLAIM] = "UPDATE dirty SET lease_owner = ?1, lease_expires_at = ?2 WHERE id IN "
                      "(SELECT id FROM dirty WHERE lease_expires_at <= ?3 "
                      "AND (?4 IS NULL OR conn = ?4) ORDER BY first_marked_at, id LIMIT ?5) "
                      "RETURNING id, conn, object, side, remote_id, gen, marked_at",
    [Q_DIRTY_DONE] = "DELETE FROM dirty WHERE id = ?1 AND gen = ?2 AND lease_owner = ?3",
    [Q_DIRTY_UNLEASE] = "UPDATE dirty SET lease_owner = NULL, lease_expires_at = 0 "
                        "WHERE id = ?1 AND lease_owner = ?2",
    [Q_DIRTY_COUNT] = "SELECT COUNT(*) FROM dirty WHERE (?1 IS NULL OR object = ?1) AND "
                      "(?2 IS NULL OR side = ?2)",
    [Q_JOB_INSERT] = "INSERT INTO jobs(kind, payload, next_run, created_at, updated_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?4)",
    [Q_JOB_CLAIM] = "UPDATE jobs SET lease_owner = ?1, lease_expires_at = ?2, "
                    "attempts = attempts + 1, updated_at = ?3 WHERE id IN (SELECT id FROM jobs "
                    "WHERE state = 'queued' AND next_run <= ?3 AND lease_expires_at <= ?3 "
                    "ORDER BY next_run, id LIMIT ?4) RETURNING " JOB_COLS,
    [Q_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
    [Q_JOB_DELETE] = "DELETE FROM jobs WHERE id = ?1",
    [Q_JOB_RESCHEDULE] = "UPDATE jobs SET lease_owner = NULL, lease_expires_at = 0, "
                         "next_run = ?2, last_error = ?3, state = ?4, updated_at = ?5 "
                         "WHERE id = ?1",
    [Q_AUDIT_LAST] = "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
    [Q_AUDIT_INSERT] = "INSERT INTO audit(id, ts, actor, action, object, detail, prev_hash, hash) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_ITEM_RAISE] = "INSERT INTO items(kind, flow, object, side, remote_id, other_id, field, "
                     "message, detail, created_at, updated_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) "
                     "ON CONFLICT(kind, flow, object, side, remote_id, field) DO UPDATE SET "
                     "other_id = excluded.other_id, message = excluded.message, "
                     "detail = excluded.detail, state = 'open', resolution = NULL, "
                     "count = count + 1, updated_at = excluded.updated_at RETURNING id",
    [Q_ITEM_GET] = "SELECT " ITEM_COLS " FROM items WHERE id = ?1",
    [Q_ITEM_STATE] = "UPDATE items SET state = ?2, resolution = ?3, updated_at = ?4 WHERE id = ?1",
    [Q_ITEM_SETTLE] = "UPDATE items SET state = 'resolved', resolution = ?7, updated_at = ?8 "
                      "WHERE kind = ?1 AND flow = ?2 AND object = ?3 AND side = ?4 "
                      "AND remote_id = ?5 AND (?6 IS NULL OR field = ?6) AND state <> 'resolved'",
    [Q_INTENT_PUT] = "INSERT INTO intents(key, object, side, source_id, created_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(key) DO NOTHING",
    [Q_INTENT_GET] = "SELECT created_at FROM intents WHERE key = ?1",
    [Q_INTENT_DELETE] = "DELETE FROM intents WHERE key = ?1",
    [Q_INTENT_COUNT] = "SELECT COUNT(*) FROM intents",
    [Q_INTENT_EACH] = "SELECT key, source_id FROM intents WHERE object = ?1 AND side = ?2 "
                      "ORDER BY created_at, key",
};

/* Migration N is MIGRATIONS[N - 1]. Append only: never edit a released migration. */
static const char *const MIGRATIONS[] = {
    /* 1: the tables */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE connections("
    " id TEXT PRIMARY KEY,"
    " kind TEXT NOT NULL CHECK (kind IN ('crm', 'accounting')),"
    " provider TEXT NOT NULL,"
    " tenant_id TEXT NOT NULL DEFAULT '',"
    " settings TEXT NOT NULL DEFAULT '{}',"
    " access_token BLOB, refresh_token BLOB, client_secret BLOB,"
    " token_expires_at INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE links("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " crm_conn TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,"
    " acc_conn TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,"
    " object TEXT NOT NULL, crm_id TEXT NOT NULL, acc_id TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " UNIQUE (crm_conn, acc_conn, object, crm_id),"
    " UNIQUE (crm_conn, acc_conn, object, acc_id));"
    "CREATE INDEX links_acc_conn ON links(acc_conn);"
    "CREATE TABLE base_snapshots("
    " link_id INTEGER NOT NULL REFERENCES links(id) ON DELETE CASCADE,"
    " side TEXT NOT NULL CHECK (side IN ('crm', 'accounting')),"
    " data TEXT NOT NULL, hash TEXT NOT NULL, updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (link_id, side)) WITHOUT ROWID;"
    "CREATE TABLE mirror("
    " conn TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,"
    " object TEXT NOT NULL, remote_id TEXT NOT NULL,"
    " data TEXT NOT NULL, hash TEXT NOT NULL,"
    " remote_updated_at INTEGER NOT NULL, seen_at INTEGER NOT NULL,"
    " PRIMARY KEY (conn, object, remote_id)) WITHOUT ROWID;"
    "CREATE TABLE cursors("
    " conn TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,"
    " object TEXT NOT NULL, value TEXT NOT NULL, updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (conn, object)) WITHOUT ROWID;"
    "CREATE TABLE dirty("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " conn TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,"
    " object TEXT NOT NULL,"
    " side TEXT NOT NULL CHECK (side IN ('crm', 'accounting')),"
    " remote_id TEXT NOT NULL,"
    " gen INTEGER NOT NULL DEFAULT 1,"
    " first_marked_at INTEGER NOT NULL, marked_at INTEGER NOT NULL,"
    " lease_owner TEXT, lease_expires_at INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (conn, object, side, remote_id));"
    "CREATE TABLE jobs("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " kind TEXT NOT NULL, payload TEXT NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'dead')),"
    " lease_owner TEXT, lease_expires_at INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_run INTEGER NOT NULL, last_error TEXT,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE audit("
    " id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL, detail TEXT NOT NULL,"
    " prev_hash TEXT NOT NULL, hash TEXT NOT NULL);",
    /* 2: claim indexes; audit rows can be neither changed nor removed through SQL */
    "CREATE INDEX dirty_claim ON dirty(lease_expires_at, first_marked_at);"
    "CREATE INDEX dirty_conn ON dirty(conn);"
    "CREATE INDEX jobs_due ON jobs(state, next_run);"
    "CREATE INDEX mirror_hash ON mirror(conn, object, hash);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;",
    /* 3: the engine's queues (conflicts, errors, review items) and create intents */
    "CREATE TABLE items("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " kind TEXT NOT NULL CHECK (kind IN ('conflict', 'error', 'review')),"
    " state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved', 'retry')),"
    " flow TEXT NOT NULL, object TEXT NOT NULL,"
    " side TEXT NOT NULL CHECK (side IN ('crm', 'accounting')),"
    " remote_id TEXT NOT NULL, other_id TEXT, field TEXT NOT NULL DEFAULT '',"
    " message TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '{}', resolution TEXT,"
    " count INTEGER NOT NULL DEFAULT 1,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " UNIQUE (kind, flow, object, side, remote_id, field));"
    "CREATE INDEX items_state ON items(state, kind, flow);"
    "CREATE TABLE intents("
    " key TEXT PRIMARY KEY, object TEXT NOT NULL,"
    " side TEXT NOT NULL CHECK (side IN ('crm', 'accounting')),"
    " source_id TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;",
    /* 4: the mirror as a rowid table. WITHOUT ROWID keeps a row inline only up to about a
     * quarter of a page, so every invoice (about 1.2 KB of JSON) took a 4 KB overflow page:
     * 32 MB of 66 MB was empty space, read and written with each entry. */
    "CREATE TABLE mirror_rows("
    " id INTEGER PRIMARY KEY,"
    " conn TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,"
    " object TEXT NOT NULL, remote_id TEXT NOT NULL,"
    " data TEXT NOT NULL, hash TEXT NOT NULL,"
    " remote_updated_at INTEGER NOT NULL, seen_at INTEGER NOT NULL,"
    " UNIQUE (conn, object, remote_id));"
    "INSERT INTO mirror_rows(conn, object, remote_id, data, hash, remote_updated_at, seen_at)"
    " SELECT conn, object, remote_id, data, hash, remote_updated_at, seen_at FROM mirror"
    " ORDER BY conn, object, remote_id;"
    "DROP TABLE mirror;"
    "ALTER TABLE mirror_rows RENAME TO mirror;"
    "CREATE INDEX mirror_hash ON mirror(conn, object, hash);",
};

#define N_MIGRATIONS ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))
/* Largest claim batch, whatever the caller asks. */
#define CLAIM_MAX 10000

struct sq {
    sqlite3 *db;
    char *path;
    const struct hs_store_cfg *cfg;
    sqlite3_stmt *cache[Q_COUNT];
    int depth;      /* open begin calls */
    bool failed;    /* an I/O error left us unsure what reached the disk */
    int fail_after; /* test hook: steps left before an injected SQLITE_IOERR; -1 = off */
    char why[200];  /* text of the last SQLite error, taken before the statement is reset */
};

/* ---- error translation ------------------------------------------------------------------ */

static void note(struct sq *q, int rc)
{
    const char *msg = sqlite3_errmsg(q->db);
    if (msg == NULL || strcmp(msg, "not an error") == 0)
        msg = sqlite3_errstr(rc);
    snprintf(q->why, sizeof q->why, "%s", msg);
}

static bool is_io(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
        return true;
    default:
        return false;
    }
}

static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return HS_ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return HS_ETIMEOUT;
    case SQLITE_TOOBIG:
        return HS_ETOOBIG;
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return HS_EEXIST;
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            return HS_ENOTFOUND;
        return HS_EINVAL;
    default:
        return HS_EIO;
    }
}

/* Translates SQLite error rc (its text already in q->why) into err: "<what>: <why>". */
static int sq_fail(struct sq *q, int rc, struct hs_error *err, const char *fmt, ...)
    HS_PRINTF(4, 5);
static int sq_fail(struct sq *q, int rc, struct hs_error *err, const char *fmt, ...)
{
    if (is_io(rc))
        q->failed = true;
    char what[HS_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return hs_error_set(err, map_rc(rc), "%s: %s", what, q->why);
}

static int oom(struct hs_error *err, const char *what, const char *subject)
{
    return hs_error_set(err, HS_ENOMEM, "cannot %s '%s': out of memory", what, subject);
}

/* ---- statements ------------------------------------------------------------------------- */

static int prep(struct sq *q, enum sq_id id, sqlite3_stmt **out)
{
    if (q->cache[id] == NULL) {
        int rc =
            sqlite3_prepare_v3(q->db, SQL[id], -1, SQLITE_PREPARE_PERSISTENT, &q->cache[id], NULL);
        if (rc != SQLITE_OK) {
            note(q, rc);
            q->cache[id] = NULL;
            return rc;
        }
    }
    *out = q->cache[id];
    return SQLITE_OK;
}

/* Binds parameters 1.. from fmt: 't' const char * (NULL binds NULL), 'i' int64_t,
 * 'b' const void * + size_t (NULL binds NULL). Values are bound SQLITE_STATIC. */
static int bind_va(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    int rc = SQLITE_OK;
    for (int i = 0; fmt[i] != '\0' && rc == SQLITE_OK; i++) {
        if (fmt[i] == 't') {
            const char *s = va_arg(ap, const char *);
            rc = s != NULL ? sqlite3_bind_text(st, i + 1, s, -1, SQLITE_STATIC)
                           : sqlite3_bind_null(st, i + 1);
        } else if (fmt[i] == 'i') {
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        } else if (fmt[i] == 'b') {
            const void *p = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            rc = p != NULL ? sqlite3_bind_blob64(st, i + 1, p, n, SQLITE_STATIC)
                           : sqlite3_bind_null(st, i + 1);
        } else {
            rc = SQLITE_MISUSE;
        }
    }
    return rc;
}

static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* sqlite3_step with the test fault hook; records the error text on failure. */
static int step(struct sq *q, sqlite3_stmt *st, bool inject)
{
    if (inject && q->fail_after >= 0) {
        if (q->fail_after == 0) {
            q->fail_after = -1;
            snprintf(q->why, sizeof q->why, "disk I/O error (injected fault)");
            return SQLITE_IOERR;
        }
        q->fail_after--;
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        note(q, rc);
    return rc;
}

/* Prepares (cached) and binds; on failure nothing is left bound. */
static int query(struct sq *q, enum sq_id id, sqlite3_stmt **out, const char *fmt, ...)
{
    int rc = prep(q, id, out);
    if (rc != SQLITE_OK)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    rc = bind_va(*out, fmt, ap);
    va_end(ap);
    if (rc != SQLITE_OK) {
        note(q, rc);
        done(*out);
    }
    return rc;
}

/* Runs a statement that returns no rows we need; SQLITE_OK or the error. */
static int exec_q(struct sq *q, enum sq_id id, bool inject, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(q, id, &st);
    if (rc != SQLITE_OK)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    rc = bind_va(st, fmt, ap);
    va_end(ap);
    if (rc == SQLITE_OK) {
        rc = step(q, st, inject);
        if (rc == SQLITE_DONE || rc == SQLITE_ROW)
            rc = SQLITE_OK;
    } else {
        note(q, rc);
    }
    done(st);
    return rc;
}

/* Copies text column i into *out (NULL for SQL NULL). HS_ENOMEM when the copy fails. */
static int col_str(sqlite3_stmt *st, int i, char **out)
{
    *out = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return HS_OK;
    const unsigned char *t = sqlite3_column_text(st, i);
    if (t == NULL)
        return HS_ENOMEM;
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    char *s = hs_malloc(n + 1);
    if (s == NULL)
        return HS_ENOMEM;
    memcpy(s, t, n);
    s[n] = '\0';
    *out = s;
    return HS_OK;
}

static int col_blob(sqlite3_stmt *st, int i, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return HS_OK;
    const void *p = sqlite3_column_blob(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    uint8_t *b = hs_malloc(n);
    if (b == NULL || (p == NULL && n > 0)) {
        hs_free(b);
        return HS_ENOMEM;
    }
    if (n > 0)
        memcpy(b, p, n);
    *out = b;
    *out_len = n;
    return HS_OK;
}

static enum hs_store_side col_side(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t != NULL && strcmp((const char *)t, "crm") == 0 ? HS_STORE_CRM : HS_STORE_ACCOUNTING;
}

/* ---- open, close, migrations ------------------------------------------------------------ */

static void sq_close(void *b)
{
    struct sq *q = b;
    if (q == NULL)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(q->cache[i]);
    /* Closing rolls back a transaction still open. */
    sqlite3_close_v2(q->db);
    hs_free(q->path);
    hs_free(q);
}

static int exec_sql(struct sq *q, const char *sql)
{
    int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        note(q, rc);
    return rc;
}

static int sq_begin(void *b, struct hs_error *err);
static int sq_commit(void *b, struct hs_error *err);
static int sq_rollback(void *b, struct hs_error *err);

static int read_version(struct sq *q, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_VERSION, &st, "");
    if (rc != SQLITE_OK)
        return rc;
    rc = step(q, st, false);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    done(st);
    return rc;
}

/* Applies pending migrations, one transaction each, re-reading the version under the lock. */
static int migrate(struct sq *q, struct hs_error *err)
{
    for (;;) {
        int rc = sq_begin(q, err);
        if (rc != HS_OK)
            return hs_error_prefix(err, "cannot open store '%s'", q->path);
        int src = exec_sql(q, "CREATE TABLE IF NOT EXISTS schema_version("
                              "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
        int version = 0;
        if (src == SQLITE_OK)
            src = read_version(q, &version);
        if (src != SQLITE_OK) {
            rc = sq_fail(q, src, err, "cannot open store '%s': cannot read its schema version",
                         q->path);
            sq_rollback(q, NULL);
            return rc;
        }
        if (version > N_MIGRATIONS) {
            sq_rollback(q, NULL);
            return hs_error_set(err, HS_EUNSUPPORTED,
                                "cannot open store '%s': its schema version %d is newer than "
                                "this build of hoopsync supports (%d)",
                                q->path, version, N_MIGRATIONS);
        }
        if (version == N_MIGRATIONS)
            return sq_commit(q, err);
        src = exec_sql(q, MIGRATIONS[version]);
        if (src == SQLITE_OK)
            src = exec_q(q, Q_VERSION_PUT, false, "ii", (int64_t)version + 1,
                         hs_env_now_ms(&q->cfg->env));
        if (src != SQLITE_OK) {
            rc = sq_fail(q, src, err, "cannot open store '%s': migration %d failed", q->path,
                         version + 1);
            sq_rollback(q, NULL);
            return rc;
        }
        rc = sq_commit(q, err);
        if (rc != HS_OK)
            return rc;
        hs_env_log(&q->cfg->env, HS_LOG_INFO, "store '%s': applied schema migration %d", q->path,
                   version + 1);
    }
}

static int pragma(struct sq *q, const char *sql, const char *want, struct hs_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && want != NULL) {
            const char *got = (const char *)sqlite3_column_text(st, 0);
            if (got == NULL || (strcmp(got, want) != 0 && strcmp(got, "memory") != 0)) {
                int r = hs_error_set(err, HS_EIO, "cannot open store '%s': '%s' answered '%s'",
                                     q->path, sql, got != NULL ? got : "");
                sqlite3_finalize(st);
                return r;
            }
        }
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        note(q, rc);
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot open store '%s'", q->path);
    return HS_OK;
}

/* Creates a missing database file with mode 0600 (it holds customer data; SQLite's default is
 * 0644, and it gives the -wal and -shm files the database's mode). Failures are left for
 * sqlite3_open_v2 to report. */
static void precreate(const char *path)
{
    if (path[0] == '\0' || strcmp(path, ":memory:") == 0)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
}

static int sq_open(const char *location, const struct hs_store_cfg *cfg, void **out,
                   struct hs_error *err)
{
    *out = NULL;
    struct sq *q = hs_calloc(1, sizeof *q);
    if (q == NULL)
        return oom(err, "open store", location);
    q->fail_after = -1;
    q->cfg = cfg;
    q->path = hs_strdup(location);
    if (q->path == NULL) {
        sq_close(q);
        return oom(err, "open store", location);
    }
    precreate(location);
    int rc = sqlite3_open_v2(
        location, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        const char *why = q->db != NULL ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc);
        int r = hs_error_set(err, rc == SQLITE_NOMEM ? HS_ENOMEM : HS_EIO,
                             "cannot open store '%s': %s", location, why);
        sq_close(q);
        return r;
    }
    sqlite3_extended_result_codes(q->db, 1);
    sqlite3_busy_timeout(q->db, cfg->busy_timeout_ms);
    int r = pragma(q, "PRAGMA foreign_keys = ON", NULL, err);
    if (r == HS_OK)
        r = pragma(q, "PRAGMA journal_mode = WAL", "wal", err);
    if (r == HS_OK)
        r = pragma(q, "PRAGMA synchronous = FULL", NULL, err);
    if (r == HS_OK)
        r = pragma(q, "PRAGMA temp_store = MEMORY", NULL, err);
    if (r == HS_OK)
        r = migrate(q, err);
    if (r != HS_OK) {
        sq_close(q);
        return r;
    }
    *out = q;
    return HS_OK;
}

static bool sq_failed(void *b)
{
    return ((struct sq *)b)->failed;
}

static int sq_check(void *b, struct hs_error *err)
{
    struct sq *q = b;
    static const char *const checks[] = {"PRAGMA integrity_check", "PRAGMA foreign_key_check"};
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(q->db, checks[i], -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        int r = HS_OK;
        if (rc == SQLITE_ROW && i == 0) {
            const char *got = (const char *)sqlite3_column_text(st, 0);
            if (got == NULL || strcmp(got, "ok") != 0)
                r = hs_error_set(err, HS_EIO, "store '%s' failed its integrity check: %s", q->path,
                                 got != NULL ? got : "?");
        } else if (rc == SQLITE_ROW) {
            const char *table = (const char *)sqlite3_column_text(st, 0);
            const char *parent = (const char *)sqlite3_column_text(st, 2);
            r = hs_error_set(err, HS_EIO,
                             "store '%s' failed its foreign key check: a row of '%s' (rowid "
                             "%lld) refers to a missing row of '%s'",
                             q->path, table != NULL ? table : "?",
                             (long long)sqlite3_column_int64(st, 1), parent != NULL ? parent : "?");
        } else if (rc != SQLITE_DONE) {
            note(q, rc);
            r = sq_fail(q, rc, err, "cannot check store '%s'", q->path);
        }
        sqlite3_finalize(st);
        if (r != HS_OK)
            return r;
    }
    return HS_OK;
}

static int sq_schema_version(void *b, struct hs_error *err)
{
    struct sq *q = b;
    int v = 0;
    int rc = read_version(q, &v);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot read the schema version of store '%s'", q->path);
    return v;
}

/* ---- transactions ----------------------------------------------------------------------- */

static int sq_begin(void *b, struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, q->depth == 0 ? Q_BEGIN : Q_SAVEPOINT, true, "");
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot begin a transaction in store '%s'", q->path);
    q->depth++;
    return HS_OK;
}

/* Undoes the current level without fault injection; marks the handle failed if it cannot. */
static int undo_level(struct sq *q)
{
    int rc = SQLITE_OK;
    if (q->depth > 1) {
        rc = exec_q(q, Q_ROLLBACK_TO, false, "");
        if (rc == SQLITE_OK)
            rc = exec_q(q, Q_RELEASE, false, "");
    } else {
        rc = exec_q(q, Q_ROLLBACK, false, "");
    }
    if (rc != SQLITE_OK) {
        q->failed = true;
        /* Last resort: end the whole transaction so nothing stays half-applied. */
        if (!sqlite3_get_autocommit(q->db))
            sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        q->depth = 1;
    }
    q->depth--;
    return rc;
}

static int sq_commit(void *b, struct hs_error *err)
{
    struct sq *q = b;
    if (q->depth == 0)
        return hs_error_set(err, HS_ESTATE, "cannot commit in store '%s': no transaction is open",
                            q->path);
    if (sqlite3_get_autocommit(q->db)) {
        q->depth--;
        return hs_error_set(err, HS_ESTATE,
                            "cannot commit in store '%s': the transaction was already rolled "
                            "back after an earlier error",
                            q->path);
    }
    int rc = exec_q(q, q->depth > 1 ? Q_RELEASE : Q_COMMIT, true, "");
    if (rc == SQLITE_OK) {
        q->depth--;
        return HS_OK;
    }
    int r = sq_fail(q, rc, err, "cannot commit a transaction in store '%s'", q->path);
    if (q->depth == 1)
        q->failed = true; /* unsure whether the commit reached the disk */
    if (!sqlite3_get_autocommit(q->db))
        undo_level(q);
    else
        q->depth--;
    return r;
}

static int sq_rollback(void *b, struct hs_error *err)
{
    struct sq *q = b;
    if (q->depth == 0)
        return hs_error_set(err, HS_ESTATE,
                            "cannot roll back in store '%s': no transaction is open", q->path);
    if (sqlite3_get_autocommit(q->db)) {
        q->depth--; /* SQLite already rolled everything back */
        return HS_OK;
    }
    int rc = undo_level(q);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot roll back a transaction in store '%s'", q->path);
    return HS_OK;
}

/* ---- meta ------------------------------------------------------------------------------- */

static int sq_meta_get(void *b, const char *key, uint8_t **out, size_t *out_len,
                       struct hs_error *err)
{
    struct sq *q = b;
    *out = NULL;
    *out_len = 0;
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_META_GET, &st, "t", key);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot read '%s' of store '%s'", key, q->path);
    rc = step(q, st, true);
    int r = HS_OK;
    if (rc == SQLITE_ROW) {
        if (col_blob(st, 0, out, out_len) != HS_OK)
            r = oom(err, "read store fact", key);
    } else if (rc == SQLITE_DONE) {
        r = hs_error_set(err, HS_ENOTFOUND, "store '%s' has no '%s'", q->path, key);
    } else {
        r = sq_fail(q, rc, err, "cannot read '%s' of store '%s'", key, q->path);
    }
    done(st);
    return r;
}

static int sq_meta_put(void *b, const char *key, const uint8_t *val, size_t len,
                       struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_META_PUT, true, "tb", key, (const void *)val, len);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot save '%s' of store '%s'", key, q->path);
    return HS_OK;
}

/* ---- connections ------------------------------------------------------------------------ */

static int read_conn(sqlite3_stmt *st, struct hs_store_connection *c)
{
    memset(c, 0, sizeof *c);
    if (col_str(st, 0, &c->id) != HS_OK || col_str(st, 2, &c->provider) != HS_OK ||
        col_str(st, 3, &c->tenant_id) != HS_OK || col_str(st, 4, &c->settings) != HS_OK) {
        hs_store_connection_release(c);
        return HS_ENOMEM;
    }
    c->kind = col_side(st, 1);
    c->token_expires_at = sqlite3_column_int64(st, 5);
    c->has_access_token = sqlite3_column_int(st, 6) != 0;
    c->has_refresh_token = sqlite3_column_int(st, 7) != 0;
    c->has_client_secret = sqlite3_column_int(st, 8) != 0;
    c->created_at = sqlite3_column_int64(st, 9);
    c->updated_at = sqlite3_column_int64(st, 10);
    return HS_OK;
}

static int sq_conn_put(void *b, const struct hs_store_connection *c, int64_t now,
                       struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_CONN_PUT, true, "ttttti", c->id, hs_store_side_name(c->kind), c->provider,
                    c->tenant_id, c->settings, now);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot save connection '%s'", c->id);
    return HS_OK;
}

static int sq_conn_get(void *b, const char *id, struct hs_store_connection *out,
                       struct hs_error *err)
{
    struct sq *q = b;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_CONN_GET, &st, "t", id);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot read connection '%s'", id);
    rc = step(q, st, true);
    int r = HS_OK;
    if (rc == SQLITE_ROW) {
        if (read_conn(st, out) != HS_OK)
            r = oom(err, "read connection", id);
    } else if (rc == SQLITE_DONE) {
        r = hs_error_set(err, HS_ENOTFOUND, "no connection '%s'", id);
    } else {
        r = sq_fail(q, rc, err, "cannot read connection '%s'", id);
    }
    done(st);
    return r;
}

static int sq_conn_list(void *b, struct hs_store_connection **out, size_t *out_n,
                        struct hs_error *err)
{
    struct sq *q = b;
    *out = NULL;
    *out_n = 0;
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_CONN_LIST, &st, "");
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot list connections of store '%s'", q->path);
    struct hs_store_connection *arr = NULL;
    size_t n = 0, cap = 0;
    int r = HS_OK;
    while ((rc = step(q, st, true)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap == 0 ? 8 : cap * 2;
            struct hs_store_connection *na = hs_reallocarray(arr, ncap, sizeof *arr);
            if (na == NULL) {
                r = oom(err, "list connections of store", q->path);
                break;
            }
            arr = na;
            cap = ncap;
        }
        if (read_conn(st, &arr[n]) != HS_OK) {
            r = oom(err, "list connections of store", q->path);
            break;
        }
        n++;
    }
    if (r == HS_OK && rc != SQLITE_DONE)
        r = sq_fail(q, rc, err, "cannot list connections of store '%s'", q->path);
    done(st);
    if (r != HS_OK) {
        hs_store_connections_free(arr, n);
        return r;
    }
    *out = arr;
    *out_n = n;
    return HS_OK;
}

static int sq_conn_delete(void *b, const char *id, struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_CONN_DELETE, true, "t", id);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot delete connection '%s'", id);
    if (sqlite3_changes(q->db) == 0)
        return hs_error_set(err, HS_ENOTFOUND, "cannot delete connection '%s': no such connection",
                            id);
    return HS_OK;
}

static int sq_conn_secret_put(void *b, const char *id, enum hs_store_secret_field field,
                              const uint8_t *blob, size_t len, int64_t now, struct hs_error *err)
{
    struct sq *q = b;
    enum sq_id sid = field == HS_STORE_SECRET_ACCESS    ? Q_SECRET_ACCESS
                     : field == HS_STORE_SECRET_REFRESH ? Q_SECRET_REFRESH
                                                        : Q_SECRET_CLIENT;
    int rc = exec_q(q, sid, true, "tbi", id, (const void *)blob, len, now);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot save a secret of connection '%s'", id);
    if (sqlite3_changes(q->db) == 0)
        return hs_error_set(err, HS_ENOTFOUND, "no connection '%s'", id);
    return HS_OK;
}

static int sq_conn_secrets_get(void *b, const char *id, uint8_t *out[3], size_t out_len[3],
                               int64_t *out_expires_at, struct hs_error *err)
{
    struct sq *q = b;
    for (int i = 0; i < 3; i++) {
        out[i] = NULL;
        out_len[i] = 0;
    }
    *out_expires_at = 0;
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_SECRETS_GET, &st, "t", id);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot read secrets of connection '%s'", id);
    rc = step(q, st, true);
    int r = HS_OK;
    if (rc == SQLITE_ROW) {
        for (int i = 0; i < 3 && r == HS_OK; i++)
            if (col_blob(st, i, &out[i], &out_len[i]) != HS_OK)
                r = oom(err, "read secrets of connection", id);
        *out_expires_at = sqlite3_column_int64(st, 3);
    } else if (rc == SQLITE_DONE) {
        r = hs_error_set(err, HS_ENOTFOUND, "no connection '%s'", id);
    } else {
        r = sq_fail(q, rc, err, "cannot read secrets of connection '%s'", id);
    }
    done(st);
    if (r != HS_OK) {
        for (int i = 0; i < 3; i++)
            HS_FREE(out[i]);
    }
    return r;
}

static int sq_conn_expiry_put(void *b, const char *id, int64_t expires_at, int64_t now,
                              struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_EXPIRY_PUT, true, "tii", id, expires_at, now);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot save the token expiry of connection '%s'", id);
    if (sqlite3_changes(q->db) == 0)
        return hs_error_set(err, HS_ENOTFOUND, "no connection '%s'", id);
    return HS_OK;
}

/* ---- links and base snapshots ----------------------------------------------------------- */

static int read_link(sqlite3_stmt *st, struct hs_store_link *l)
{
    memset(l, 0, sizeof *l);
    l->id = sqlite3_column_int64(st, 0);
    if (col_str(st, 1, &l->crm_conn) != HS_OK || col_str(st, 2, &l->acc_conn) != HS_OK ||
        col_str(st, 3, &l->object) != HS_OK || col_str(st, 4, &l->crm_id) != HS_OK ||
        col_str(st, 5, &l->acc_id) != HS_OK) {
        hs_store_link_release(l);
        return HS_ENOMEM;
    }
    l->created_at = sqlite3_column_int64(st, 6);
    l->updated_at = sqlite3_column_int64(st, 7);
    return HS_OK;
}

static int sq_link_insert(void *b, const char *crm_conn, const char *acc_conn, const char *object,
                          const char *crm_id, const char *acc_id, int64_t now, int64_t *out_id,
                          struct hs_error *err)
{
    struct sq *q = b;
    int rc =
        exec_q(q, Q_LINK_INSERT, true, "ttttti", crm_conn, acc_conn, object, crm_id, acc_id, now);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot link %s '%s' to '%s'", object, crm_id, acc_id);
    *out_id = sqlite3_last_insert_rowid(q->db);
    return HS_OK;
}

/* Runs a link query expected to return at most one row. */
static int one_link(struct sq *q, sqlite3_stmt *st, struct hs_store_link *out, const char *what,
                    struct hs_error *err)
{
    int rc = step(q, st, true);
    int r = HS_OK;
    if (rc == SQLITE_ROW) {
        if (read_link(st, out) != HS_OK)
            r = oom(err, "read link", what);
    } else if (rc == SQLITE_DONE) {
        r = hs_error_set(err, HS_ENOTFOUND, "no link for '%s'", what);
    } else {
        r = sq_fail(q, rc, err, "cannot read link '%s'", what);
    }
    done(st);
    return r;
}

static int sq_link_get(void *b, int64_t id, struct hs_store_link *out, struct hs_error *err)
{
    struct sq *q = b;
    memset(out, 0, sizeof *out);
    char what[32];
    snprintf(what, sizeof what, "%lld", (long long)id);
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_LINK_GET, &st, "i", id);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot read link %lld", (long long)id);
    return one_link(q, st, out, what, err);
}

static int sq_link_find(void *b, const char *crm_conn, const char *acc_conn, const char *object,
                        enum hs_store_side side, const char *remote_id, struct hs_store_link *out,
                        struct hs_error *err)
{
    struct sq *q = b;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    int rc = query(q, side == HS_STORE_CRM ? Q_LINK_FIND_CRM : Q_LINK_FIND_ACC, &st, "tttt",
                   crm_conn, acc_conn, object, remote_id);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot look up the link of %s '%s'", object, remote_id);
    return one_link(q, st, out, remote_id, err);
}

static int sq_link_delete(void *b, int64_t id, struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_LINK_DELETE, true, "i", id);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot delete link %lld", (long long)id);
    if (sqlite3_changes(q->db) == 0)
        return hs_error_set(err, HS_ENOTFOUND, "cannot delete link %lld: no such link",
                            (long long)id);
    return HS_OK;
}

/* Prepares an uncached statement for an iteration whose callback may re-enter the store. */
static int prep_fresh(struct sq *q, const char *sql, sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v2(q->db, sql, -1, out, NULL);
    if (rc != SQLITE_OK)
        note(q, rc);
    return rc;
}

static int sq_link_each(void *b, const char *crm_conn, const char *acc_conn, const char *object,
                        hs_store_link_fn cb, void *ud, struct hs_error *err)
{
    struct sq *q = b;
    sqlite3_stmt *st = NULL;
    int rc = prep_fresh(q, LINK_EACH_SQL, &st);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, crm_conn, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, acc_conn, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, object, -1, SQLITE_STATIC);
    }
    int r = HS_OK;
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = step(q, st, true);
        if (rc != SQLITE_ROW)
            break;
        struct hs_store_link l;
        if (read_link(st, &l) != HS_OK) {
            r = oom(err, "list links of", object);
            break;
        }
        r = cb(ud, &l);
        hs_store_link_release(&l);
        if (r != 0)
            break;
    }
    if (r == HS_OK && rc != SQLITE_DONE)
        r = sq_fail(q, rc, err, "cannot list links of %s", object);
    sqlite3_finalize(st);
    return r;
}

static int sq_base_put(void *b, int64_t link_id, enum hs_store_side side, const char *json,
                       const char *hash, int64_t now, struct hs_error *err)
{
    struct sq *q = b;
    int rc =
        exec_q(q, Q_BASE_PUT, true, "ittti", link_id, hs_store_side_name(side), json, hash, now);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot save the %s base snapshot of link %lld",
                       hs_store_side_name(side), (long long)link_id);
    return HS_OK;
}

static int sq_base_get(void *b, int64_t link_id, enum hs_store_side side, struct hs_store_doc *out,
                       struct hs_error *err)
{
    struct sq *q = b;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_BASE_GET, &st, "it", link_id, hs_store_side_name(side));
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot read the base snapshot of link %lld",
                       (long long)link_id);
    rc = step(q, st, true);
    int r = HS_OK;
    if (rc == SQLITE_ROW) {
        if (col_str(st, 0, &out->json) != HS_OK || col_str(st, 1, &out->hash) != HS_OK) {
            hs_store_doc_release(out);
            r = hs_error_set(err, HS_ENOMEM,
                             "cannot read the base snapshot of link %lld: out "
                             "of memory",
                             (long long)link_id);
        }
        out->updated_at = sqlite3_column_int64(st, 2);
    } else if (rc == SQLITE_DONE) {
        r = hs_error_set(err, HS_ENOTFOUND, "link %lld has no %s base snapshot", (long long)link_id,
                         hs_store_side_name(side));
    } else {
        r = sq_fail(q, rc, err, "cannot read the base snapshot of link %lld", (long long)link_id);
    }
    done(st);
    return r;
}

/* ---- mirror and cursors ----------------------------------------------------------------- */

static int sq_mirror_put(void *b, const char *conn, const char *object, const char *remote_id,
                         const char *json, const char *hash, int64_t remote_updated_at, int64_t now,
                         struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_MIRROR_PUT, true, "tttttii", conn, object, remote_id, json, hash,
                    remote_updated_at, now);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot save mirror entry %s '%s' of connection '%s'", object,
                       remote_id, conn);
    return HS_OK;
}

static int read_doc(sqlite3_stmt *st, int first, struct hs_store_doc *d)
{
    memset(d, 0, sizeof *d);
    if (col_str(st, first, &d->json) != HS_OK || col_str(st, first + 1, &d->hash) != HS_OK) {
        hs_store_doc_release(d);
        return HS_ENOMEM;
    }
    d->remote_updated_at = sqlite3_column_int64(st, first + 2);
    d->updated_at = sqlite3_column_int64(st, first + 3);
    return HS_OK;
}

static int sq_mirror_get(void *b, const char *conn, const char *object, const char *remote_id,
                         struct hs_store_doc *out, struct hs_error *err)
{
    struct sq *q = b;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_MIRROR_GET, &st, "ttt", conn, object, remote_id);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot read mirror entry %s '%s'", object, remote_id);
    rc = step(q, st, true);
    int r = HS_OK;
    if (rc == SQLITE_ROW) {
        if (read_doc(st, 0, out) != HS_OK)
            r = oom(err, "read mirror entry", remote_id);
    } else if (rc == SQLITE_DONE) {
        r = hs_error_set(err, HS_ENOTFOUND, "no mirror entry %s '%s' for connection '%s'", object,
                         remote_id, conn);
    } else {
        r = sq_fail(q, rc, err, "cannot read mirror entry %s '%s'", object, remote_id);
    }
    done(st);
    return r;
}

static int sq_mirror_delete(void *b, const char *conn, const char *object, const char *remote_id,
                            struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_MIRROR_DELETE, true, "ttt", conn, object, remote_id);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot delete mirror entry %s '%s'", object, remote_id);
    if (sqlite3_changes(q->db) == 0)
        return hs_error_set(err, HS_ENOTFOUND, "no mirror entry %s '%s' for connection '%s'",
                            object, remote_id, conn);
    return HS_OK;
}

static int sq_mirror_each(void *b, const char *conn, const char *object, hs_store_mirror_fn cb,
                          void *ud, struct hs_error *err)
{
    struct sq *q = b;
    sqlite3_stmt *st = NULL;
    int rc = prep_fresh(q, MIRROR_EACH_SQL, &st);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, conn, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, object, -1, SQLITE_STATIC);
    }
    int r = HS_OK;
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = step(q, st, true);
        if (rc != SQLITE_ROW)
            break;
        struct hs_store_doc d;
        char *remote_id = NULL;
        if (col_str(st, 0, &remote_id) != HS_OK || remote_id == NULL ||
            read_doc(st, 1, &d) != HS_OK) {
            hs_free(remote_id);
            r = oom(err, "list mirror entries of", object);
            break;
        }
        r = cb(ud, remote_id, &d);
        hs_store_doc_release(&d);
        hs_free(remote_id);
        if (r != 0)
            break;
    }
    if (r == HS_OK && rc != SQLITE_DONE)
        r = sq_fail(q, rc, err, "cannot list mirror entries of %s for connection '%s'", object,
                    conn);
    sqlite3_finalize(st);
    return r;
}

static int sq_cursor_get(void *b, const char *conn, const char *object, char **out,
                         struct hs_error *err)
{
    struct sq *q = b;
    *out = NULL;
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_CURSOR_GET, &st, "tt", conn, object);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot read the %s cursor of connection '%s'", object, conn);
    rc = step(q, st, true);
    int r = HS_OK;
    if (rc == SQLITE_ROW) {
        if (col_str(st, 0, out) != HS_OK || *out == NULL)
            r = oom(err, "read cursor of", object);
    } else if (rc == SQLITE_DONE) {
        r = hs_error_set(err, HS_ENOTFOUND, "connection '%s' has no %s cursor yet", conn, object);
    } else {
        r = sq_fail(q, rc, err, "cannot read the %s cursor of connection '%s'", object, conn);
    }
    done(st);
    return r;
}

static int sq_cursor_put(void *b, const char *conn, const char *object, const char *value,
                         int64_t now, struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_CURSOR_PUT, true, "ttti", conn, object, value, now);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot save the %s cursor of connection '%s'", object, conn);
    return HS_OK;
}

/* ---- dirty set -------------------------------------------------------------------------- */

static int sq_dirty_mark(void *b, const char *conn, const char *object, enum hs_store_side side,
                         const char *remote_id, int64_t now, struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_DIRTY_MARK, true, "tttti", conn, object, hs_store_side_name(side),
                    remote_id, now);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot mark %s '%s' of connection '%s' dirty", object,
                       remote_id, conn);
    return HS_OK;
}

static int cmp_dirty(const void *a, const void *b)
{
    int64_t x = ((const struct hs_store_dirty *)a)->id;
    int64_t y = ((const struct hs_store_dirty *)b)->id;
    return (x > y) - (x < y);
}

static int sq_dirty_claim(void *b, const char *owner, const char *conn, int64_t lease_until,
                          int64_t now, size_t max, struct hs_store_dirty **out, size_t *out_n,
                          struct hs_error *err)
{
    struct sq *q = b;
    *out = NULL;
    *out_n = 0;
    if (max > CLAIM_MAX)
        max = CLAIM_MAX;
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_DIRTY_CLAIM, &st, "tiiti", owner, lease_until, now, conn, (int64_t)max);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot claim dirty records for '%s'", owner);
    struct hs_store_dirty *arr = NULL;
    size_t n = 0, cap = 0;
    int r = HS_OK;
    while ((rc = step(q, st, true)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            struct hs_store_dirty *na = hs_reallocarray(arr, ncap, sizeof *arr);
            if (na == NULL) {
                r = oom(err, "claim dirty records for", owner);
                break;
            }
            arr = na;
            cap = ncap;
        }
        struct hs_store_dirty *d = &arr[n];
        memset(d, 0, sizeof *d);
        d->id = sqlite3_column_int64(st, 0);
        d->side = col_side(st, 3);
        d->gen = sqlite3_column_int64(st, 5);
        d->marked_at = sqlite3_column_int64(st, 6);
        n++;
        if (col_str(st, 1, &d->conn) != HS_OK || col_str(st, 2, &d->object) != HS_OK ||
            col_str(st, 4, &d->remote_id) != HS_OK) {
            r = oom(err, "claim dirty records for", owner);
            break;
        }
    }
    if (r == HS_OK && rc != SQLITE_DONE)
        r = sq_fail(q, rc, err, "cannot claim dirty records for '%s'", owner);
    done(st);
    if (r != HS_OK) {
        hs_store_dirty_free(arr, n);
        return r;
    }
    if (n > 1)
        qsort(arr, n, sizeof *arr, cmp_dirty);
    *out = arr;
    *out_n = n;
    return HS_OK;
}

static int sq_dirty_finish(void *b, const char *owner, const struct hs_store_dirty *item,
                           bool complete, struct hs_error *err)
{
    struct sq *q = b;
    int rc = SQLITE_OK;
    if (complete) {
        rc = exec_q(q, Q_DIRTY_DONE, true, "iit", item->id, item->gen, owner);
        if (rc == SQLITE_OK && sqlite3_changes(q->db) == 1)
            return 1;
    }
    if (rc == SQLITE_OK) {
        rc = exec_q(q, Q_DIRTY_UNLEASE, true, "it", item->id, owner);
        if (rc == SQLITE_OK)
            return complete ? 0 : sqlite3_changes(q->db) > 0;
    }
    return sq_fail(q, rc, err, "cannot finish dirty record %s '%s' for '%s'", item->object,
                   item->remote_id, owner);
}

static int sq_dirty_count(void *b, const char *object, const char *side, struct hs_error *err)
{
    struct sq *q = b;
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_DIRTY_COUNT, &st, "tt", object, side);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot count dirty records of store '%s'", q->path);
    rc = step(q, st, true);
    int r;
    if (rc == SQLITE_ROW)
        r = sqlite3_column_int(st, 0);
    else
        r = sq_fail(q, rc, err, "cannot count dirty records of store '%s'", q->path);
    done(st);
    return r;
}

/* ---- jobs ------------------------------------------------------------------------------- */

static int read_job(sqlite3_stmt *st, struct hs_store_job *j)
{
    memset(j, 0, sizeof *j);
    j->id = sqlite3_column_int64(st, 0);
    j->lease_expires_at = sqlite3_column_int64(st, 4);
    j->attempts = sqlite3_column_int(st, 5);
    j->next_run = sqlite3_column_int64(st, 6);
    const unsigned char *state = sqlite3_column_text(st, 8);
    j->state = state != NULL && strcmp((const char *)state, "dead") == 0 ? HS_STORE_JOB_DEAD
                                                                         : HS_STORE_JOB_QUEUED;
    if (col_str(st, 1, &j->kind) != HS_OK || col_str(st, 2, &j->payload) != HS_OK ||
        col_str(st, 3, &j->lease_owner) != HS_OK || col_str(st, 7, &j->last_error) != HS_OK) {
        hs_store_job_release(j);
        return HS_ENOMEM;
    }
    return HS_OK;
}

static int sq_job_insert(void *b, const char *kind, const char *payload, int64_t run_at,
                         int64_t now, int64_t *out_id, struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_JOB_INSERT, true, "ttii", kind, payload, run_at, now);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot queue job '%s'", kind);
    *out_id = sqlite3_last_insert_rowid(q->db);
    return HS_OK;
}

static int cmp_job(const void *a, const void *b)
{
    const struct hs_store_job *x = a, *y = b;
    if (x->next_run != y->next_run)
        return x->next_run < y->next_run ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int sq_job_claim(void *b, const char *owner, int64_t lease_until, int64_t now, size_t max,
                        struct hs_store_job **out, size_t *out_n, struct hs_error *err)
{
    struct sq *q = b;
    *out = NULL;
    *out_n = 0;
    if (max > CLAIM_MAX)
        max = CLAIM_MAX;
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_JOB_CLAIM, &st, "tiii", owner, lease_until, now, (int64_t)max);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot claim jobs for '%s'", owner);
    struct hs_store_job *arr = NULL;
    size_t n = 0, cap = 0;
    int r = HS_OK;
    while ((rc = step(q, st, true)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap == 0 ? 8 : cap * 2;
            struct hs_store_job *na = hs_reallocarray(arr, ncap, sizeof *arr);
            if (na == NULL) {
                r = oom(err, "claim jobs for", owner);
                break;
            }
            arr = na;
            cap = ncap;
        }
        if (read_job(st, &arr[n]) != HS_OK) {
            r = oom(err, "claim jobs for", owner);
            break;
        }
        n++;
    }
    if (r == HS_OK && rc != SQLITE_DONE)
        r = sq_fail(q, rc, err, "cannot claim jobs for '%s'", owner);
    done(st);
    if (r != HS_OK) {
        hs_store_jobs_free(arr, n);
        return r;
    }
    if (n > 1)
        qsort(arr, n, sizeof *arr, cmp_job);
    *out = arr;
    *out_n = n;
    return HS_OK;
}

/*
 * Reads the one row of statement `which` with rowid id into out through read_row (a queue
 * row: a job or an item). `what` names the row kind in messages ("job", "item").
 */
static int get_by_id(struct sq *q, enum sq_id which, int64_t id, const char *what,
                     int (*read_row)(sqlite3_stmt *st, void *out), void *out, struct hs_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = query(q, which, &st, "i", id);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot read %s %lld", what, (long long)id);
    rc = step(q, st, true);
    int r = HS_OK;
    if (rc == SQLITE_ROW) {
        if (read_row(st, out) != HS_OK)
            r = hs_error_set(err, HS_ENOMEM, "cannot read %s %lld: out of memory", what,
                             (long long)id);
    } else if (rc == SQLITE_DONE) {
        r = hs_error_set(err, HS_ENOTFOUND, "no %s %lld", what, (long long)id);
    } else {
        r = sq_fail(q, rc, err, "cannot read %s %lld", what, (long long)id);
    }
    done(st);
    return r;
}

static int read_job_row(sqlite3_stmt *st, void *out)
{
    return read_job(st, out);
}

static int sq_job_get(void *b, int64_t id, struct hs_store_job *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    return get_by_id(b, Q_JOB_GET, id, "job", read_job_row, out, err);
}

static int sq_job_delete(void *b, int64_t id, struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_JOB_DELETE, true, "i", id);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot remove job %lld", (long long)id);
    if (sqlite3_changes(q->db) == 0)
        return hs_error_set(err, HS_ENOTFOUND, "no job %lld", (long long)id);
    return HS_OK;
}

static int sq_job_reschedule(void *b, int64_t id, int64_t next_run, const char *last_error,
                             enum hs_store_job_state state, int64_t now, struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_JOB_RESCHEDULE, true, "iitti", id, next_run, last_error,
                    state == HS_STORE_JOB_DEAD ? "dead" : "queued", now);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot reschedule job %lld", (long long)id);
    if (sqlite3_changes(q->db) == 0)
        return hs_error_set(err, HS_ENOTFOUND, "no job %lld", (long long)id);
    return HS_OK;
}

/* ---- audit ------------------------------------------------------------------------------ */

/* Copies a 64-character hex hash; anything else becomes "" (which never verifies). */
static void copy_hash(sqlite3_stmt *st, int i, char out[HS_STORE_HASH_HEX])
{
    const unsigned char *t = sqlite3_column_text(st, i);
    out[0] = '\0';
    if (t != NULL && sqlite3_column_bytes(st, i) == HS_STORE_HASH_HEX - 1)
        memcpy(out, t, HS_STORE_HASH_HEX);
}

static int sq_audit_last(void *b, int64_t *out_id, char out_hash[HS_STORE_HASH_HEX],
                         struct hs_error *err)
{
    struct sq *q = b;
    *out_id = 0;
    out_hash[0] = '\0';
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_AUDIT_LAST, &st, "");
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot read the audit trail of store '%s'", q->path);
    rc = step(q, st, true);
    int r = HS_OK;
    if (rc == SQLITE_ROW) {
        *out_id = sqlite3_column_int64(st, 0);
        copy_hash(st, 1, out_hash);
    } else if (rc == SQLITE_DONE) {
        r = hs_error_set(err, HS_ENOTFOUND, "the audit trail of store '%s' is empty", q->path);
    } else {
        r = sq_fail(q, rc, err, "cannot read the audit trail of store '%s'", q->path);
    }
    done(st);
    return r;
}

static int sq_audit_insert(void *b, const struct hs_store_audit_row *row, struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_AUDIT_INSERT, true, "iitttttt", row->id, row->ts, row->actor, row->action,
                    row->object, row->detail, row->prev_hash, row->hash);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot append audit row %lld", (long long)row->id);
    return HS_OK;
}

static const char *col_text_or_empty(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t != NULL ? (const char *)t : "";
}

static int sq_audit_each(void *b, int64_t after_id, hs_store_audit_fn cb, void *ud,
                         struct hs_error *err)
{
    struct sq *q = b;
    sqlite3_stmt *st = NULL;
    int rc = prep_fresh(q, AUDIT_EACH_SQL, &st);
    if (rc == SQLITE_OK)
        sqlite3_bind_int64(st, 1, after_id);
    int r = HS_OK;
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = step(q, st, true);
        if (rc != SQLITE_ROW)
            break;
        struct hs_store_audit_row row;
        row.id = sqlite3_column_int64(st, 0);
        row.ts = sqlite3_column_int64(st, 1);
        row.actor = col_text_or_empty(st, 2);
        row.action = col_text_or_empty(st, 3);
        row.object = col_text_or_empty(st, 4);
        row.detail = col_text_or_empty(st, 5);
        copy_hash(st, 6, row.prev_hash);
        copy_hash(st, 7, row.hash);
        r = cb(ud, &row);
        if (r != 0)
            break;
    }
    if (r == HS_OK && rc != SQLITE_DONE)
        r = sq_fail(q, rc, err, "cannot read the audit trail of store '%s'", q->path);
    sqlite3_finalize(st);
    return r;
}

/* ---- queues and intents (migration 3) --------------------------------------------------- */

static const char *item_kind_db(enum hs_store_item_kind kind)
{
    return kind == 0 ? NULL : hs_store_item_kind_name(kind);
}

static const char *item_state_db(int state)
{
    return state < 0 ? NULL : hs_store_item_state_name((enum hs_store_item_state)state);
}

static int read_item(sqlite3_stmt *st, struct hs_store_item *it)
{
    memset(it, 0, sizeof *it);
    it->id = sqlite3_column_int64(st, 0);
    const char *k = (const char *)sqlite3_column_text(st, 1);
    const char *s = (const char *)sqlite3_column_text(st, 2);
    it->kind = k == NULL                    ? HS_STORE_ITEM_ERROR
               : strcmp(k, "conflict") == 0 ? HS_STORE_ITEM_CONFLICT
               : strcmp(k, "review") == 0   ? HS_STORE_ITEM_REVIEW
                                            : HS_STORE_ITEM_ERROR;
    it->state = s == NULL                    ? HS_STORE_ITEM_OPEN
                : strcmp(s, "resolved") == 0 ? HS_STORE_ITEM_RESOLVED
                : strcmp(s, "retry") == 0    ? HS_STORE_ITEM_RETRY
                                             : HS_STORE_ITEM_OPEN;
    it->side = col_side(st, 5);
    it->count = sqlite3_column_int64(st, 12);
    it->created_at = sqlite3_column_int64(st, 13);
    it->updated_at = sqlite3_column_int64(st, 14);
    if (col_str(st, 3, &it->flow) != HS_OK || col_str(st, 4, &it->object) != HS_OK ||
        col_str(st, 6, &it->remote_id) != HS_OK || col_str(st, 7, &it->other_id) != HS_OK ||
        col_str(st, 8, &it->field) != HS_OK || col_str(st, 9, &it->message) != HS_OK ||
        col_str(st, 10, &it->detail) != HS_OK || col_str(st, 11, &it->resolution) != HS_OK) {
        hs_store_item_release(it);
        return HS_ENOMEM;
    }
    return HS_OK;
}

static int sq_item_raise(void *b, const struct hs_store_item *in, int64_t now, int64_t *out_id,
                         struct hs_error *err)
{
    struct sq *q = b;
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_ITEM_RAISE, &st, "ttttttttti", hs_store_item_kind_name(in->kind), in->flow,
                   in->object, hs_store_side_name(in->side), in->remote_id, in->other_id,
                   in->field != NULL ? in->field : "", in->message,
                   in->detail != NULL ? in->detail : "{}", now);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot queue %s item for %s '%s'",
                       hs_store_item_kind_name(in->kind), in->object, in->remote_id);
    rc = step(q, st, true);
    int r = HS_OK;
    if (rc == SQLITE_ROW) {
        *out_id = sqlite3_column_int64(st, 0);
        rc = step(q, st, false);
    }
    if (rc != SQLITE_DONE)
        r = sq_fail(q, rc, err, "cannot queue %s item for %s '%s'",
                    hs_store_item_kind_name(in->kind), in->object, in->remote_id);
    done(st);
    return r;
}

static int read_item_row(sqlite3_stmt *st, void *out)
{
    return read_item(st, out);
}

static int sq_item_get(void *b, int64_t id, struct hs_store_item *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    return get_by_id(b, Q_ITEM_GET, id, "item", read_item_row, out, err);
}

static int bind_item_filter(sqlite3_stmt *st, enum hs_store_item_kind kind, const char *flow,
                            int state)
{
    const char *k = item_kind_db(kind);
    const char *s = item_state_db(state);
    int rc = k != NULL ? sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 1);
    if (rc == SQLITE_OK)
        rc = flow != NULL ? sqlite3_bind_text(st, 2, flow, -1, SQLITE_STATIC)
                          : sqlite3_bind_null(st, 2);
    if (rc == SQLITE_OK)
        rc = s != NULL ? sqlite3_bind_text(st, 3, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 3);
    return rc;
}

static int sq_item_each(void *b, enum hs_store_item_kind kind, const char *flow, int state,
                        hs_store_item_fn cb, void *ud, struct hs_error *err)
{
    struct sq *q = b;
    sqlite3_stmt *st = NULL;
    int rc = prep_fresh(q, ITEM_EACH_SQL, &st);
    if (rc == SQLITE_OK)
        rc = bind_item_filter(st, kind, flow, state);
    int r = HS_OK;
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = step(q, st, true);
        if (rc != SQLITE_ROW)
            break;
        struct hs_store_item it;
        if (read_item(st, &it) != HS_OK) {
            r = hs_error_set(err, HS_ENOMEM, "cannot list queue items: out of memory");
            break;
        }
        r = cb(ud, &it);
        hs_store_item_release(&it);
        if (r != 0)
            break;
    }
    if (r == HS_OK && rc != SQLITE_DONE)
        r = sq_fail(q, rc, err, "cannot list queue items of store '%s'", q->path);
    sqlite3_finalize(st);
    return r;
}

static int sq_item_count(void *b, enum hs_store_item_kind kind, const char *flow, int state,
                         struct hs_error *err)
{
    struct sq *q = b;
    sqlite3_stmt *st = NULL;
    int rc = prep_fresh(q, ITEM_COUNT_SQL, &st);
    if (rc == SQLITE_OK)
        rc = bind_item_filter(st, kind, flow, state);
    if (rc == SQLITE_OK)
        rc = step(q, st, true);
    int r;
    if (rc == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(st, 0);
        r = n > INT32_MAX ? INT32_MAX : (int)n;
    } else {
        if (rc == SQLITE_OK || rc == SQLITE_DONE)
            rc = SQLITE_ERROR;
        r = sq_fail(q, rc, err, "cannot count queue items of store '%s'", q->path);
    }
    sqlite3_finalize(st);
    return r;
}

static int sq_item_set_state(void *b, int64_t id, enum hs_store_item_state state,
                             const char *resolution, int64_t now, struct hs_error *err)
{
    struct sq *q = b;
    int rc =
        exec_q(q, Q_ITEM_STATE, true, "itti", id, hs_store_item_state_name(state), resolution, now);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot update item %lld", (long long)id);
    if (sqlite3_changes(q->db) == 0)
        return hs_error_set(err, HS_ENOTFOUND, "no item %lld", (long long)id);
    return HS_OK;
}

static int sq_item_settle(void *b, enum hs_store_item_kind kind, const char *flow,
                          const char *object, enum hs_store_side side, const char *remote_id,
                          const char *field, const char *resolution, int64_t now,
                          struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_ITEM_SETTLE, true, "ttttttti", hs_store_item_kind_name(kind), flow, object,
                    hs_store_side_name(side), remote_id, field, resolution, now);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot settle %s items of %s '%s'",
                       hs_store_item_kind_name(kind), object, remote_id);
    return sqlite3_changes(q->db);
}

static int sq_intent_put(void *b, const char *key, const char *object, enum hs_store_side side,
                         const char *source_id, int64_t now, struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_INTENT_PUT, true, "tttti", key, object, hs_store_side_name(side),
                    source_id, now);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot record create intent '%s'", key);
    return sqlite3_changes(q->db) > 0 ? 1 : 0;
}

static int sq_intent_get(void *b, const char *key, int64_t *out_created_at, struct hs_error *err)
{
    struct sq *q = b;
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_INTENT_GET, &st, "t", key);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot read create intent '%s'", key);
    rc = step(q, st, true);
    int r = HS_OK;
    if (rc == SQLITE_ROW) {
        if (out_created_at != NULL)
            *out_created_at = sqlite3_column_int64(st, 0);
    } else if (rc == SQLITE_DONE) {
        r = hs_error_set(err, HS_ENOTFOUND, "no create intent '%s'", key);
    } else {
        r = sq_fail(q, rc, err, "cannot read create intent '%s'", key);
    }
    done(st);
    return r;
}

static int sq_intent_delete(void *b, const char *key, struct hs_error *err)
{
    struct sq *q = b;
    int rc = exec_q(q, Q_INTENT_DELETE, true, "t", key);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot remove create intent '%s'", key);
    return HS_OK;
}

static int sq_intent_each(void *b, const char *object, enum hs_store_side side,
                          hs_store_intent_fn cb, void *ud, struct hs_error *err)
{
    struct sq *q = b;
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_INTENT_EACH, &st, "tt", object, hs_store_side_name(side));
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, err, "cannot list create intents of store '%s'", q->path);
    int r = HS_OK;
    while ((rc = step(q, st, true)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        const char *source = (const char *)sqlite3_column_text(st, 1);
        if (key == NULL || source == NULL)
            continue;
        r = cb(ud, key, source);
        if (r != 0)
            break;
    }
    if (r == HS_OK && rc != SQLITE_DONE)
        r = sq_fail(q, rc, err, "cannot list create intents of store '%s'", q->path);
    done(st);
    return r;
}

static int sq_intent_count(void *b, struct hs_error *err)
{
    struct sq *q = b;
    sqlite3_stmt *st = NULL;
    int rc = query(q, Q_INTENT_COUNT, &st, "");
    if (rc == SQLITE_OK)
        rc = step(q, st, true);
    int r;
    if (rc == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(st, 0);
        r = n > INT32_MAX ? INT32_MAX : (int)n;
    } else {
        if (rc == SQLITE_OK || rc == SQLITE_DONE)
            rc = SQLITE_ERROR;
        r = sq_fail(q, rc, err, "cannot count create intents of store '%s'", q->path);
    }
    if (st != NULL)
        done(st);
    return r;
}

/* ---- the table -------------------------------------------------------------------------- */

const struct hs_store_ops hs_store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .failed = sq_failed,
    .check = sq_check,
    .schema_version = sq_schema_version,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .meta_get = sq_meta_get,
    .meta_put = sq_meta_put,
    .conn_put = sq_conn_put,
    .conn_get = sq_conn_get,
    .conn_list = sq_conn_list,
    .conn_delete = sq_conn_delete,
    .conn_secret_put = sq_conn_secret_put,
    .conn_secrets_get = sq_conn_secrets_get,
    .conn_expiry_put = sq_conn_expiry_put,
    .link_insert = sq_link_insert,
    .link_get = sq_link_get,
    .link_find = sq_link_find,
    .link_delete = sq_link_delete,
    .link_each = sq_link_each,
    .base_put = sq_base_put,
    .base_get = sq_base_get,
    .mirror_put = sq_mirror_put,
    .mirror_get = sq_mirror_get,
    .mirror_delete = sq_mirror_delete,
    .mirror_each = sq_mirror_each,
    .cursor_get = sq_cursor_get,
    .cursor_put = sq_cursor_put,
    .dirty_mark = sq_dirty_mark,
    .dirty_claim = sq_dirty_claim,
    .dirty_finish = sq_dirty_finish,
    .dirty_count = sq_dirty_count,
    .job_insert = sq_job_insert,
    .job_claim = sq_job_claim,
    .job_get = sq_job_get,
    .job_delete = sq_job_delete,
    .job_reschedule = sq_job_reschedule,
    .audit_last = sq_audit_last,
    .audit_insert = sq_audit_insert,
    .audit_each = sq_audit_each,
    .item_raise = sq_item_raise,
    .item_get = sq_item_get,
    .item_each = sq_item_each,
    .item_count = sq_item_count,
    .item_set_state = sq_item_set_state,
    .item_settle = sq_item_settle,
    .intent_put = sq_intent_put,
    .intent_get = sq_intent_get,
    .intent_delete = sq_intent_delete,
    .intent_count = sq_intent_count,
    .intent_each = sq_intent_each,
};

int hs_store_sqlite_fail_after(struct hs_store *store, int n)
{
    if (store == NULL || store->ops != &hs_store_sqlite_ops)
        return HS_EINVAL;
    ((struct sq *)store->impl)->fail_after = n < 0 ? -1 : n;
    return HS_OK;
}
