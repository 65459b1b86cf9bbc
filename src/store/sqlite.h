/*
 * store/sqlite.h - the SQLite backend's ops table and its test-only fault hook.
 *
 * Design:     only store.c (which maps the "sqlite:" scheme to the table) and tests include
 *             this; everything else goes through hoopsync/store.h.
 */
#ifndef HS_STORE_SQLITE_H
#define HS_STORE_SQLITE_H

#include "hoopsync/store.h"
#include "store/store_int.h"

extern const struct hs_store_ops hs_store_sqlite_ops;

/*
 * Test hook: the n-th (0-based) sqlite3_step from now on this handle fails as if the disk
 * returned an I/O error (SQLITE_IOERR), once; n < 0 disarms. Rollbacks are never failed, so
 * the hook shows what a crash between two statements of one operation leaves behind. Like a
 * real I/O error, the injected one puts the handle in the failed state.
 * HS_EINVAL when store is not a SQLite store.
 */
HS_API HS_MUST_CHECK int hs_store_sqlite_fail_after(struct hs_store *store, int n);

#endif
