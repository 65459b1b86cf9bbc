/*
 * hoopsync/store.h - the storage interface: one handle, one API, any backend.
 *
 * Design:     struct hs_store is an opaque handle over a backend ops table (src/store/
 *             store_int.h). hs_store_open picks the backend from the URI scheme ("sqlite:" or a
 *             plain path today; "postgres://" later) and everything above this header is
 *             backend-neutral: no SQL, no driver types. The generic layer (src/store/store.c)
 *             validates arguments, takes the time from the injected struct hs_env, encrypts
 *             connection secrets (libsodium secretbox, key derived per workspace from the
 *             master key) and keeps the audit hash chain, so every backend stores only opaque
 *             ciphertext and precomputed hashes.
 * Invariants: every operation that changes more than one row runs in one transaction (a
 *             savepoint when the caller already opened one with hs_store_begin), so a failed
 *             operation leaves nothing half-written, even inside a caller's transaction.
 *             Plaintext secrets are never written to the database and never logged.
 * States:     open -> failed when an I/O error leaves the backend unsure of what reached the
 *             disk; a failed handle refuses writes with HS_ESTATE (reads and hs_store_check
 *             still work) until hs_store_close. Reopen to continue.
 * Threads:    a handle belongs to one thread at a time (each worker opens its own); workers
 *             share data through the database, whose locking the backend handles (SQLite: WAL
 *             plus busy timeout).
 * Ownership:  const char * arguments are borrowed for the call. Structs filled by the store own
 *             their strings: release them with the matching _release/_free function.
 * Not here:   the sync logic that decides what to store (src/engine), key file creation UI
 *             (`hoopsync init`, src/cli). docs/modules/store.md describes tables and rules.
 */
#ifndef HOOPSYNC_STORE_H
#define HOOPSYNC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hoopsync/common.h"
#include "hoopsync/error.h"

struct hs_env;
struct hs_store;

/* Length of the master key in bytes, and of its hex form in characters. */
#define HS_STORE_KEY_BYTES 32
#define HS_STORE_KEY_HEX   64
/* Name of the environment variable that may hold the master key as 64 hex characters. */
#define HS_STORE_KEY_ENV "HOOPSYNC_MASTER_KEY"
/* Hex SHA-256 length plus NUL. */
#define HS_STORE_HASH_HEX 65

/* Which side of a sync a connection (or a record) belongs to. */
enum hs_store_side { HS_STORE_CRM = 1, HS_STORE_ACCOUNTING = 2 };

/* "crm" / "accounting"; "?" for anything else. Static string. */
HS_API const char *hs_store_side_name(enum hs_store_side side);

struct hs_store_options {
    /* Clock, randomness (backoff jitter) and log. Copied; env->ud must outlive the store.
     * NULL: hs_env_system(). */
    const struct hs_env *env;
    /* Master key as 64 hex characters. NULL: $HOOPSYNC_MASTER_KEY, then key_file. */
    const char *master_key_hex;
    /* Key file made by hs_store_keyfile_create, used when no hex key is given. NULL: none.
     * Without any key the store opens, but secret operations fail with HS_ECRYPTO. */
    const char *key_file;
    int busy_timeout_ms;         /* wait for a locked database; 0 = 5000 */
    int64_t job_backoff_base_ms; /* first retry delay of a failed job; 0 = 1000 */
    int64_t job_backoff_max_ms;  /* cap of the exponential backoff; 0 = 3600000 */
    int job_max_attempts;        /* a job failing this many times becomes dead; 0 = 10 */
};

/* ---- lifecycle -------------------------------------------------------------------------- */

/*
 * Opens (creating if needed) the store at uri: "sqlite:/path/x.db", "sqlite:///path/x.db" or a
 * plain path (SQLite). Applies pending schema migrations in order, each in its own
 * transaction, creates the workspace id on first open, and checks the master key against the
 * one the store was first used with. opt may be NULL (all defaults). *out is NULL on failure.
 * Returns HS_OK; HS_EINVAL (bad uri), HS_EUNSUPPORTED (unknown scheme, or a schema newer than
 * this build), HS_EIO (cannot open, not a database), HS_ECRYPTO (malformed or wrong master
 * key, unreadable key file), HS_ETIMEOUT (locked), HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_store_open(const char *uri, const struct hs_store_options *opt,
                                       struct hs_store **out, struct hs_error *err);
/* Rolls back any open transaction, wipes the key and frees everything. NULL does nothing. */
HS_API void hs_store_close(struct hs_store *store);
/* Integrity check (backend structure, foreign keys). HS_OK or HS_EIO with the first problem. */
HS_API HS_MUST_CHECK int hs_store_check(struct hs_store *store, struct hs_error *err);
/* Schema version applied (>= 1), or a negative HS_E* code. */
HS_API HS_MUST_CHECK int hs_store_schema_version(struct hs_store *store, struct hs_error *err);
/* True once an I/O error put the handle in the failed state (writes refused). */
HS_API bool hs_store_failed(const struct hs_store *store);
/* Whether a master key is loaded (secret operations possible). */
HS_API bool hs_store_has_key(const struct hs_store *store);

/*
 * Transactions for callers that combine operations (e.g. base snapshot + mirror + audit after
 * a write). They nest: an inner begin is a savepoint. Every begin must be matched by exactly
 * one commit or rollback. A commit that fails leaves the transaction rolled back.
 * begin returns HS_ESTATE on a failed handle; all return HS_EIO/HS_ETIMEOUT from the backend.
 */
HS_API HS_MUST_CHECK int hs_store_begin(struct hs_store *store, struct hs_error *err);
HS_API HS_MUST_CHECK int hs_store_commit(struct hs_store *store, struct hs_error *err);
HS_API int hs_store_rollback(struct hs_store *store, struct hs_error *err);

/* ---- master key ------------------------------------------------------------------------- */

/*
 * Creates path with mode 0600 holding 32 random bytes. Refuses to overwrite an existing file
 * (HS_EEXIST); HS_EIO on any other failure (a partial file is removed).
 */
HS_API HS_MUST_CHECK int hs_store_keyfile_create(const char *path, struct hs_error *err);
/*
 * Reads a key file into out. Refuses (HS_ECRYPTO) a file that group or others may read, a
 * symlink, or one that does not hold exactly 32 bytes; HS_EIO when it cannot be read.
 */
HS_API HS_MUST_CHECK int hs_store_keyfile_load(const char *path, uint8_t out[HS_STORE_KEY_BYTES],
                                               struct hs_error *err);

/* ---- connections ------------------------------------------------------------------------ */

/* A connection as stored, secrets excluded (has_* say which are set). */
struct hs_store_connection {
    char *id;
    enum hs_store_side kind;
    char *provider;           /* "hubspot", "quickbooks", ... (opaque to the store) */
    char *tenant_id;          /* portal id, realm id, ...; "" when unknown */
    char *settings;           /* JSON object text */
    int64_t token_expires_at; /* ms since epoch; 0 = unknown */
    bool has_access_token;
    bool has_refresh_token;
    bool has_client_secret;
    int64_t created_at;
    int64_t updated_at;
};

/* Frees the strings of c (not c itself). */
HS_API void hs_store_connection_release(struct hs_store_connection *c);
/* Releases each of arr[0..n) and frees arr. NULL does nothing. */
HS_API void hs_store_connections_free(struct hs_store_connection *arr, size_t n);

/*
 * Creates connection id, or updates tenant_id and settings of an existing one. settings must
 * be a JSON object (NULL = "{}"), tenant_id may be NULL (""). Changing the kind or provider of
 * an existing connection is refused with HS_ECONFLICT (its links and mirror depend on them).
 */
HS_API HS_MUST_CHECK int hs_store_connection_put(struct hs_store *store, const char *id,
                                                 enum hs_store_side kind, const char *provider,
                                                 const char *tenant_id, const char *settings,
                                                 struct hs_error *err);
/* Fills *out (caller releases). HS_ENOTFOUND when absent. */
HS_API HS_MUST_CHECK int hs_store_connection_get(struct hs_store *store, const char *id,
                                                 struct hs_store_connection *out,
                                                 struct hs_error *err);
/* All connections ordered by id; *out owned by the caller (hs_store_connections_free). */
HS_API HS_MUST_CHECK int hs_store_connection_list(struct hs_store *store,
                                                  struct hs_store_connection **out, size_t *out_n,
                                                  struct hs_error *err);
/* Deletes a connection and everything that refers to it (links, snapshots, mirror, cursors,
 * dirty marks), in one transaction. HS_ENOTFOUND when absent. */
HS_API HS_MUST_CHECK int hs_store_connection_delete(struct hs_store *store, const char *id,
                                                    struct hs_error *err);

/* Decrypted secrets of one connection. NULL strings are unset. */
struct hs_store_secrets {
    char *access_token;
    char *refresh_token;
    char *client_secret;
    int64_t expires_at;
};

/* Wipes and frees the strings of s. */
HS_API void hs_store_secrets_release(struct hs_store_secrets *s);

/*
 * Stores the result of a token exchange or refresh atomically: access token, refresh token
 * (NULL keeps the stored one, for providers that do not rotate it) and expiry, all or none.
 * Each value is encrypted with a fresh random nonce. HS_ECRYPTO without a master key,
 * HS_ENOTFOUND for an unknown connection.
 */
HS_API HS_MUST_CHECK int hs_store_tokens_set(struct hs_store *store, const char *conn_id,
                                             const char *access_token, const char *refresh_token,
                                             int64_t expires_at, struct hs_error *err);
/* Stores (secret != NULL) or clears (NULL) the OAuth client secret of a connection. */
HS_API HS_MUST_CHECK int hs_store_client_secret_set(struct hs_store *store, const char *conn_id,
                                                    const char *secret, struct hs_error *err);
/*
 * Decrypts the secrets of a connection into *out (caller calls hs_store_secrets_release).
 * HS_ECRYPTO when there is no key, or a value does not decrypt (wrong key, altered bytes);
 * HS_ENOTFOUND for an unknown connection. *out is all-NULL on failure.
 */
HS_API HS_MUST_CHECK int hs_store_secrets_get(struct hs_store *store, const char *conn_id,
                                              struct hs_store_secrets *out, struct hs_error *err);

/* ---- links and base snapshots ----------------------------------------------------------- */

/* A CRM record linked to an accounting record, for one connection pair and object kind. */
struct hs_store_link {
    int64_t id;
    char *crm_conn;
    char *acc_conn;
    char *object; /* "customer", "invoice", ... (opaque to the store) */
    char *crm_id;
    char *acc_id;
    int64_t created_at;
    int64_t updated_at;
};

HS_API void hs_store_link_release(struct hs_store_link *l);
/* Called per link; a non-zero return stops the iteration and is returned. Borrowed row. */
typedef int (*hs_store_link_fn)(void *ud, const struct hs_store_link *link);

/*
 * Links crm_id (on crm_conn, a CRM connection) with acc_id (on acc_conn, an accounting
 * connection). A record is linked at most once per pair and object on each side: HS_EEXIST
 * names the side already linked. HS_ENOTFOUND / HS_EINVAL when a connection is missing or of
 * the wrong kind. *out_id (may be NULL) receives the new link id.
 */
HS_API HS_MUST_CHECK int hs_store_link_create(struct hs_store *store, const char *crm_conn,
                                              const char *acc_conn, const char *object,
                                              const char *crm_id, const char *acc_id,
                                              int64_t *out_id, struct hs_error *err);
/* Looks a link up by its id. HS_ENOTFOUND when absent. */
HS_API HS_MUST_CHECK int hs_store_link_get(struct hs_store *store, int64_t id,
                                           struct hs_store_link *out, struct hs_error *err);
/* Looks a link up by one side's record id. HS_ENOTFOUND when that record is not linked. */
HS_API HS_MUST_CHECK int hs_store_link_find(struct hs_store *store, const char *crm_conn,
                                            const char *acc_conn, const char *object,
                                            enum hs_store_side side, const char *remote_id,
                                            struct hs_store_link *out, struct hs_error *err);
/* Removes a link and its base snapshots (one transaction). HS_ENOTFOUND when absent. */
HS_API HS_MUST_CHECK int hs_store_link_delete(struct hs_store *store, int64_t id,
                                              struct hs_error *err);
/* Calls cb for each link of the pair and object, ordered by id. */
HS_API HS_MUST_CHECK int hs_store_link_each(struct hs_store *store, const char *crm_conn,
                                            const char *acc_conn, const char *object,
                                            hs_store_link_fn cb, void *ud, struct hs_error *err);

/* A stored JSON document with its hash (base snapshot or mirror entry). */
struct hs_store_doc {
    char *json;
    char *hash;
    int64_t remote_updated_at; /* mirror: the provider's last-modified time; base: 0 */
    int64_t updated_at;        /* base: when written; mirror: when last seen (seen_at) */
};

HS_API void hs_store_doc_release(struct hs_store_doc *d);

/*
 * Stores the base snapshot of one side of a link: the canonical JSON that side held right
 * after the last sync (DESIGN.md section 3), replacing the previous one. hash NULL: the store
 * uses the hex SHA-256 of json. HS_ENOTFOUND when the link does not exist.
 */
HS_API HS_MUST_CHECK int hs_store_base_put(struct hs_store *store, int64_t link_id,
                                           enum hs_store_side side, const char *json,
                                           const char *hash, struct hs_error *err);
HS_API HS_MUST_CHECK int hs_store_base_get(struct hs_store *store, int64_t link_id,
                                           enum hs_store_side side, struct hs_store_doc *out,
                                           struct hs_error *err);

/* ---- mirror and cursors ----------------------------------------------------------------- */

/* Called per mirror entry; a non-zero return stops the iteration and is returned. */
typedef int (*hs_store_mirror_fn)(void *ud, const char *remote_id, const struct hs_store_doc *doc);

/*
 * Upserts the last-seen canonical JSON of a remote record (seen_at = now). hash NULL: hex
 * SHA-256 of json. HS_ENOTFOUND for an unknown connection.
 */
HS_API HS_MUST_CHECK int hs_store_mirror_put(struct hs_store *store, const char *conn,
                                             const char *object, const char *remote_id,
                                             const char *json, const char *hash,
                                             int64_t remote_updated_at, struct hs_error *err);
HS_API HS_MUST_CHECK int hs_store_mirror_get(struct hs_store *store, const char *conn,
                                             const char *object, const char *remote_id,
                                             struct hs_store_doc *out, struct hs_error *err);
HS_API HS_MUST_CHECK int hs_store_mirror_delete(struct hs_store *store, const char *conn,
                                                const char *object, const char *remote_id,
                                                struct hs_error *err);
/* Calls cb for every entry of (conn, object) ordered by remote id. */
HS_API HS_MUST_CHECK int hs_store_mirror_each(struct hs_store *store, const char *conn,
                                              const char *object, hs_store_mirror_fn cb, void *ud,
                                              struct hs_error *err);

/* Reads the opaque change cursor of (conn, object) into *out (caller frees with hs_free).
 * HS_ENOTFOUND when none was stored yet. */
HS_API HS_MUST_CHECK int hs_store_cursor_get(struct hs_store *store, const char *conn,
                                             const char *object, char **out, struct hs_error *err);
HS_API HS_MUST_CHECK int hs_store_cursor_set(struct hs_store *store, const char *conn,
                                             const char *object, const char *value,
                                             struct hs_error *err);

/* ---- dirty set -------------------------------------------------------------------------- */

/* One claimed dirty mark. gen counts the marks; complete removes the entry only if no new mark
 * arrived since the claim, so a change made while a worker was busy is never lost. */
struct hs_store_dirty {
    int64_t id;
    char *conn;
    char *object;
    enum hs_store_side side;
    char *remote_id;
    int64_t gen;
    int64_t marked_at;
};

/* Releases each of arr[0..n) and frees arr. NULL does nothing. */
HS_API void hs_store_dirty_free(struct hs_store_dirty *arr, size_t n);

/* Marks a record as changed; repeated marks coalesce into one entry (gen counts them). */
HS_API HS_MUST_CHECK int hs_store_dirty_mark(struct hs_store *store, const char *conn,
                                             const char *object, enum hs_store_side side,
                                             const char *remote_id, struct hs_error *err);
/*
 * Claims up to max entries (oldest mark first) that are not leased or whose lease expired,
 * leasing them to owner until now + lease_ms. conn NULL: any connection. On success *out
 * (caller frees with hs_store_dirty_free, NULL when none) holds *out_n entries.
 */
HS_API HS_MUST_CHECK int hs_store_dirty_claim(struct hs_store *store, const char *owner,
                                              const char *conn, int64_t lease_ms, size_t max,
                                              struct hs_store_dirty **out, size_t *out_n,
                                              struct hs_error *err);
/*
 * Finishes claimed entries in one transaction: removes each one still leased by owner and not
 * marked again since the claim; an entry marked again loses its lease and stays for the next
 * claim. Entries whose lease was lost are left alone. Returns the number removed (>= 0).
 */
HS_API HS_MUST_CHECK int hs_store_dirty_complete(struct hs_store *store, const char *owner,
                                                 const struct hs_store_dirty *items, size_t n,
                                                 struct hs_error *err);
/* Gives claimed entries back (lease cleared) without removing them. Returns how many. */
HS_API HS_MUST_CHECK int hs_store_dirty_release(struct hs_store *store, const char *owner,
                                                const struct hs_store_dirty *items, size_t n,
                                                struct hs_error *err);
/* Number of entries in the dirty set (>= 0), or a negative code. */
HS_API HS_MUST_CHECK int hs_store_dirty_count(struct hs_store *store, struct hs_error *err);
/* The same, of one object (NULL: any) on one side (an enum hs_store_side; 0: either). */
HS_API HS_MUST_CHECK int hs_store_dirty_count_of(struct hs_store *store, const char *object,
                                                 int side, struct hs_error *err);

/* ---- jobs ------------------------------------------------------------------------------- */

enum hs_store_job_state { HS_STORE_JOB_QUEUED = 0, HS_STORE_JOB_DEAD = 1 };

struct hs_store_job {
    int64_t id;
    char *kind;
    char *payload;     /* JSON text */
    char *lease_owner; /* NULL when not leased */
    int64_t lease_expires_at;
    int attempts; /* claims so far, including the current one */
    int64_t next_run;
    char *last_error; /* NULL when it never failed */
    enum hs_store_job_state state;
};

HS_API void hs_store_job_release(struct hs_store_job *j);
/* Releases each of arr[0..n) and frees arr. NULL does nothing. */
HS_API void hs_store_jobs_free(struct hs_store_job *arr, size_t n);

/* Queues a job to run at run_at (ms; <= now runs at once). payload: JSON (NULL = "{}"). */
HS_API HS_MUST_CHECK int hs_store_job_enqueue(struct hs_store *store, const char *kind,
                                              const char *payload, int64_t run_at, int64_t *out_id,
                                              struct hs_error *err);
/* Claims up to max due jobs (queued, next_run <= now, not leased or lease expired), oldest
 * first, leasing them to owner until now + lease_ms and counting an attempt. */
HS_API HS_MUST_CHECK int hs_store_job_claim(struct hs_store *store, const char *owner,
                                            int64_t lease_ms, size_t max, struct hs_store_job **out,
                                            size_t *out_n, struct hs_error *err);
HS_API HS_MUST_CHECK int hs_store_job_get(struct hs_store *store, int64_t id,
                                          struct hs_store_job *out, struct hs_error *err);
/* Removes a finished job. HS_ECONFLICT when owner no longer holds its lease. */
HS_API HS_MUST_CHECK int hs_store_job_complete(struct hs_store *store, int64_t id,
                                               const char *owner, struct hs_error *err);
/*
 * Records a failure: clears the lease, stores error_text as last_error and schedules the next
 * run after base * 2^(attempts-1) ms (capped, plus up to 10% jitter from env->rand64). After
 * job_max_attempts attempts the job becomes HS_STORE_JOB_DEAD and is never claimed again.
 * HS_ECONFLICT when owner no longer holds the lease.
 */
HS_API HS_MUST_CHECK int hs_store_job_fail(struct hs_store *store, int64_t id, const char *owner,
                                           const char *error_text, struct hs_error *err);

/* ---- audit trail ------------------------------------------------------------------------ */

/* One audit row as stored. Strings borrowed for the duration of a callback. */
struct hs_store_audit_row {
    int64_t id;
    int64_t ts;
    const char *actor;
    const char *action;
    const char *object;
    const char *detail; /* JSON text */
    char prev_hash[HS_STORE_HASH_HEX];
    char hash[HS_STORE_HASH_HEX];
};

typedef int (*hs_store_audit_fn)(void *ud, const struct hs_store_audit_row *row);

/*
 * Appends a row (ts = now) chained to the previous one: hash = SHA-256(prev_hash || canonical
 * row bytes, see docs/modules/store.md). detail: JSON (NULL = "{}"); it must not hold secrets.
 * *out_id (may be NULL) receives the row id.
 */
HS_API HS_MUST_CHECK int hs_store_audit_append(struct hs_store *store, const char *actor,
                                               const char *action, const char *object,
                                               const char *detail, int64_t *out_id,
                                               struct hs_error *err);
/* Calls cb for each row with id > after_id, in id order. */
HS_API HS_MUST_CHECK int hs_store_audit_each(struct hs_store *store, int64_t after_id,
                                             hs_store_audit_fn cb, void *ud, struct hs_error *err);

struct hs_store_audit_report {
    int64_t n_rows;                    /* rows checked */
    int64_t bad_id;                    /* first tampered row, 0 when the chain is intact */
    char head_hash[HS_STORE_HASH_HEX]; /* hash of the last row checked ("" when empty) */
};

/*
 * Recomputes the hash chain from the first row. HS_OK when intact; HS_ECRYPTO with
 * out->bad_id = the first row whose contents or link to its predecessor do not match.
 * Removing the newest rows is not detectable from the chain alone: compare head_hash with one
 * recorded elsewhere.
 */
HS_API HS_MUST_CHECK int hs_store_audit_verify(struct hs_store *store,
                                               struct hs_store_audit_report *out,
                                               struct hs_error *err);

/* ---- queues: conflicts, errors, review items (migration 3) ------------------------------ */

enum hs_store_item_kind {
    HS_STORE_ITEM_CONFLICT = 1, /* both sides changed one field differently; authority manual */
    HS_STORE_ITEM_ERROR = 2,    /* a record that cannot be written (validation, provider error) */
    HS_STORE_ITEM_REVIEW = 3,   /* a grey-zone match waiting for a person */
};

enum hs_store_item_state {
    HS_STORE_ITEM_OPEN = 0,     /* waiting for a person or a retry */
    HS_STORE_ITEM_RESOLVED = 1, /* settled: resolution says how */
    HS_STORE_ITEM_RETRY = 2,    /* a person asked for a retry; the next pass picks it up */
};

/* "conflict"/"error"/"review" and "open"/"resolved"/"retry"; "?" otherwise. Static. */
HS_API const char *hs_store_item_kind_name(enum hs_store_item_kind kind);
HS_API const char *hs_store_item_state_name(enum hs_store_item_state state);

/*
 * One queue item. An item is identified by (kind, flow, object, side, remote_id, field): a
 * repeat of the same problem updates the open item (count + 1) instead of adding a row.
 */
struct hs_store_item {
    int64_t id;
    enum hs_store_item_kind kind;
    enum hs_store_item_state state;
    char *flow;              /* flow name from hoopsync.yaml */
    char *object;            /* "customer", ... */
    enum hs_store_side side; /* side of remote_id */
    char *remote_id;         /* the record the item is about */
    char *other_id;          /* linked / candidate record on the other side; NULL when none */
    char *field;             /* field path for conflicts; "" otherwise */
    char *message;           /* for a finance user: what is wrong and why */
    char *detail;            /* JSON object (values of both sides, candidates, reasons) */
    char *resolution;        /* how it was settled; NULL while open */
    int64_t count;           /* times the problem was raised */
    int64_t created_at;
    int64_t updated_at;
};

/* Frees the strings of it (not it itself). */
HS_API void hs_store_item_release(struct hs_store_item *it);
/* Called per item (borrowed); a non-zero return stops the iteration and is returned. */
typedef int (*hs_store_item_fn)(void *ud, const struct hs_store_item *it);

/*
 * Raises an item: inserts it, or when the same (kind, flow, object, side, remote_id, field)
 * exists, replaces its other_id, message and detail, reopens it (state open, resolution
 * cleared) and counts the repeat. In reads kind, flow, object, side, remote_id, other_id
 * (may be NULL), field (NULL = ""), message, detail (NULL = "{}"); other members are ignored.
 * *out_id (may be NULL) receives the item id. HS_EINVAL for a missing or malformed argument.
 */
HS_API HS_MUST_CHECK int hs_store_item_raise(struct hs_store *store, const struct hs_store_item *in,
                                             int64_t *out_id, struct hs_error *err);
/* Reads item id into *out (release it). HS_ENOTFOUND when absent. */
HS_API HS_MUST_CHECK int hs_store_item_get(struct hs_store *store, int64_t id,
                                           struct hs_store_item *out, struct hs_error *err);
/*
 * Calls cb for each item matching the filters, ordered by id: kind 0 = any, flow NULL = any,
 * state < 0 = any. The callback may call into the store.
 */
HS_API HS_MUST_CHECK int hs_store_item_each(struct hs_store *store, enum hs_store_item_kind kind,
                                            const char *flow, int state, hs_store_item_fn cb,
                                            void *ud, struct hs_error *err);
/* Number of items matching the filters (as hs_store_item_each), or a negative code. */
HS_API HS_MUST_CHECK int hs_store_item_count(struct hs_store *store, enum hs_store_item_kind kind,
                                             const char *flow, int state, struct hs_error *err);
/*
 * Moves item id to state with resolution (NULL clears it). HS_ENOTFOUND when absent.
 */
HS_API HS_MUST_CHECK int hs_store_item_set_state(struct hs_store *store, int64_t id,
                                                 enum hs_store_item_state state,
                                                 const char *resolution, struct hs_error *err);
/*
 * Marks every open item of (kind, flow, object, side, remote_id) resolved with resolution
 * (the problem went away, e.g. the record now validates). field NULL = every field.
 * Returns the number of items resolved (>= 0).
 */
HS_API HS_MUST_CHECK int hs_store_item_settle(struct hs_store *store, enum hs_store_item_kind kind,
                                              const char *flow, const char *object,
                                              enum hs_store_side side, const char *remote_id,
                                              const char *field, const char *resolution,
                                              struct hs_error *err);

/* ---- create intents (idempotency) ------------------------------------------------------- */

/*
 * Records that a create with idempotency key `key` (of object, toward side, for source record
 * source_id on the other side) is about to be sent, before the call, so a crash between the
 * provider's create and our link is visible and healed on the next pass. Returns 1 when the
 * intent is new, 0 when it was already recorded (a previous attempt may have succeeded).
 */
HS_API HS_MUST_CHECK int hs_store_intent_put(struct hs_store *store, const char *key,
                                             const char *object, enum hs_store_side side,
                                             const char *source_id, struct hs_error *err);
/* HS_OK when an intent with key exists (*out_created_at, may be NULL, gets its time),
 * HS_ENOTFOUND when not. */
HS_API HS_MUST_CHECK int hs_store_intent_get(struct hs_store *store, const char *key,
                                             int64_t *out_created_at, struct hs_error *err);
/* Removes the intent once its create is linked. Absent keys are not an error. */
HS_API HS_MUST_CHECK int hs_store_intent_delete(struct hs_store *store, const char *key,
                                                struct hs_error *err);
/* Number of pending intents (>= 0), or a negative code. */
HS_API HS_MUST_CHECK int hs_store_intent_count(struct hs_store *store, struct hs_error *err);
/* Called per pending intent (borrowed strings); a non-zero return stops the iteration. */
typedef int (*hs_store_intent_fn)(void *ud, const char *key, const char *source_id);
/*
 * Calls cb for each pending intent of object toward side, oldest first: the creates a crash
 * may have cut off between the provider's answer and our link. The callback must not call
 * into the store.
 */
HS_API HS_MUST_CHECK int hs_store_intent_each(struct hs_store *store, const char *object,
                                              enum hs_store_side side, hs_store_intent_fn cb,
                                              void *ud, struct hs_error *err);

/* ---- run records (status) --------------------------------------------------------------- */

/* Stores the JSON summary of the last run of flow (replacing the previous one). */
HS_API HS_MUST_CHECK int hs_store_run_put(struct hs_store *store, const char *flow,
                                          const char *json, struct hs_error *err);
/* Reads it into *out (caller hs_free()s). HS_ENOTFOUND when the flow never ran. */
HS_API HS_MUST_CHECK int hs_store_run_get(struct hs_store *store, const char *flow, char **out,
                                          struct hs_error *err);

#endif
