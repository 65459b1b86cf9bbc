/*
 * store/store_int.h - the backend ops table and helpers shared inside src/store.
 *
 * Design:     a backend is one const struct hs_store_ops (sqlite.c: hs_store_sqlite_ops; a
 *             postgres backend later). Its functions are primitive and policy-free: they store
 *             and fetch rows. Policy lives once, in store.c and audit.c: argument checks, the
 *             clock (every op receives `now`), encryption (backends see only sealed blobs),
 *             audit hashes, and which calls form one transaction.
 * Invariants: begin/commit/rollback nest (an inner begin is a savepoint); a backend op that
 *             fails has changed nothing visible to the caller's transaction except where its
 *             caller wrapped several ops, which store.c always does inside begin/rollback.
 *             A backend sets its failed flag when an I/O error leaves it unsure what reached
 *             the disk; store.c then refuses writes.
 * Ownership:  strings and arrays a backend returns belong to the caller (hs_free and the
 *             public _release functions).
 */
#ifndef HS_STORE_STORE_INT_H
#define HS_STORE_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hoopsync/store.h"
#include "util/env.h"

/* Which encrypted field of a connection a sealed blob belongs to. */
enum hs_store_secret_field {
    HS_STORE_SECRET_ACCESS = 0,
    HS_STORE_SECRET_REFRESH = 1,
    HS_STORE_SECRET_CLIENT = 2,
};

/* Options after defaults were filled in (env never NULL). */
struct hs_store_cfg {
    struct hs_env env;
    int busy_timeout_ms;
    int64_t job_backoff_base_ms;
    int64_t job_backoff_max_ms;
    int job_max_attempts;
};

struct hs_store_ops {
    const char *name; /* URI scheme: "sqlite" */

    int (*open)(const char *location, const struct hs_store_cfg *cfg, void **out,
                struct hs_error *err);
    void (*close)(void *b);
    bool (*failed)(void *b);
    int (*check)(void *b, struct hs_error *err);
    int (*schema_version)(void *b, struct hs_error *err);
    int (*begin)(void *b, struct hs_error *err);
    int (*commit)(void *b, struct hs_error *err);
    int (*rollback)(void *b, struct hs_error *err);

    /* Small key/value table for store-wide facts (workspace id, key check). ENOTFOUND. */
    int (*meta_get)(void *b, const char *key, uint8_t **out, size_t *out_len, struct hs_error *err);
    int (*meta_put)(void *b, const char *key, const uint8_t *val, size_t len, struct hs_error *err);

    /* Insert, or update tenant_id/settings/updated_at of an existing id. */
    int (*conn_put)(void *b, const struct hs_store_connection *c, int64_t now,
                    struct hs_error *err);
    int (*conn_get)(void *b, const char *id, struct hs_store_connection *out, struct hs_error *err);
    int (*conn_list)(void *b, struct hs_store_connection **out, size_t *out_n,
                     struct hs_error *err);
    int (*conn_delete)(void *b, const char *id, struct hs_error *err);
    /* blob NULL clears the field. ENOTFOUND for an unknown connection. */
    int (*conn_secret_put)(void *b, const char *id, enum hs_store_secret_field field,
                           const uint8_t *blob, size_t len, int64_t now, struct hs_error *err);
    /* All three sealed fields (indexed by enum hs_store_secret_field; NULL when unset) and the
     * expiry, read in one statement so a concurrent refresh is never seen half-done. */
    int (*conn_secrets_get)(void *b, const char *id, uint8_t *out[3], size_t out_len[3],
                            int64_t *out_expires_at, struct hs_error *err);
    int (*conn_expiry_put)(void *b, const char *id, int64_t expires_at, int64_t now,
                           struct hs_error *err);

    int (*link_insert)(void *b, const char *crm_conn, const char *acc_conn, const char *object,
                       const char *crm_id, const char *acc_id, int64_t now, int64_t *out_id,
                       struct hs_error *err);
    int (*link_get)(void *b, int64_t id, struct hs_store_link *out, struct hs_error *err);
    int (*link_find)(void *b, const char *crm_conn, const char *acc_conn, const char *object,
                     enum hs_store_side side, const char *remote_id, struct hs_store_link *out,
                     struct hs_error *err);
    int (*link_delete)(void *b, int64_t id, struct hs_error *err);
    int (*link_each)(void *b, const char *crm_conn, const char *acc_conn, const char *object,
                     hs_store_link_fn cb, void *ud, struct hs_error *err);
    int (*base_put)(void *b, int64_t link_id, enum hs_store_side side, const char *json,
                    const char *hash, int64_t now, struct hs_error *err);
    int (*base_get)(void *b, int64_t link_id, enum hs_store_side side, struct hs_store_doc *out,
                    struct hs_error *err);

    int (*mirror_put)(void *b, const char *conn, const char *object, const char *remote_id,
                      const char *json, const char *hash, int64_t remote_updated_at, int64_t now,
                      struct hs_error *err);
    int (*mirror_get)(void *b, const char *conn, const char *object, const char *remote_id,
                      struct hs_store_doc *out, struct hs_error *err);
    int (*mirror_delete)(void *b, const char *conn, const char *object, const char *remote_id,
                         struct hs_error *err);
    int (*mirror_each)(void *b, const char *conn, const char *object, hs_store_mirror_fn cb,
                       void *ud, struct hs_error *err);
    int (*cursor_get)(void *b, const char *conn, const char *object, char **out,
                      struct hs_error *err);
    int (*cursor_put)(void *b, const char *conn, const char *object, const char *value, int64_t now,
                      struct hs_error *err);

    int (*dirty_mark)(void *b, const char *conn, const char *object, enum hs_store_side side,
                      const char *remote_id, int64_t now, struct hs_error *err);
    int (*dirty_claim)(void *b, const char *owner, const char *conn, int64_t lease_until,
                       int64_t now, size_t max, struct hs_store_dirty **out, size_t *out_n,
                       struct hs_error *err);
    /* complete: delete if (id, gen, owner) still match (returns 1), else clear the lease when
     * owner still holds it (returns 0). release: clear the lease (1 if owner held it). */
    int (*dirty_finish)(void *b, const char *owner, const struct hs_store_dirty *item,
                        bool complete, struct hs_error *err);
    int (*dirty_count)(void *b, const char *object, const char *side, struct hs_error *err);

    int (*job_insert)(void *b, const char *kind, const char *payload, int64_t run_at, int64_t now,
                      int64_t *out_id, struct hs_error *err);
    int (*job_claim)(void *b, const char *owner, int64_t lease_until, int64_t now, size_t max,
                     struct hs_store_job **out, size_t *out_n, struct hs_error *err);
    int (*job_get)(void *b, int64_t id, struct hs_store_job *out, struct hs_error *err);
    int (*job_delete)(void *b, int64_t id, struct hs_error *err);
    /* Clears the lease, sets next_run, last_error and state. */
    int (*job_reschedule)(void *b, int64_t id, int64_t next_run, const char *last_error,
                          enum hs_store_job_state state, int64_t now, struct hs_error *err);

    /* Last row's id and hash; ENOTFOUND when the trail is empty. */
    int (*audit_last)(void *b, int64_t *out_id, char out_hash[HS_STORE_HASH_HEX],
                      struct hs_error *err);
    /* Inserts row with its given id (EEXIST if taken). */
    int (*audit_insert)(void *b, const struct hs_store_audit_row *row, struct hs_error *err);
    int (*audit_each)(void *b, int64_t after_id, hs_store_audit_fn cb, void *ud,
                      struct hs_error *err);

    /* Queues (migration 3). item_raise: upsert on (kind, flow, object, side, remote_id,
     * field), reopening and counting a repeat. item_settle returns how many it resolved.
     * kind 0 / flow NULL / state < 0 match anything in item_each and item_count. */
    int (*item_raise)(void *b, const struct hs_store_item *in, int64_t now, int64_t *out_id,
                      struct hs_error *err);
    int (*item_get)(void *b, int64_t id, struct hs_store_item *out, struct hs_error *err);
    int (*item_each)(void *b, enum hs_store_item_kind kind, const char *flow, int state,
                     hs_store_item_fn cb, void *ud, struct hs_error *err);
    int (*item_count)(void *b, enum hs_store_item_kind kind, const char *flow, int state,
                      struct hs_error *err);
    int (*item_set_state)(void *b, int64_t id, enum hs_store_item_state state,
                          const char *resolution, int64_t now, struct hs_error *err);
    int (*item_settle)(void *b, enum hs_store_item_kind kind, const char *flow, const char *object,
                       enum hs_store_side side, const char *remote_id, const char *field,
                       const char *resolution, int64_t now, struct hs_error *err);
    /* intent_put returns 1 when inserted, 0 when the key existed. */
    int (*intent_put)(void *b, const char *key, const char *object, enum hs_store_side side,
                      const char *source_id, int64_t now, struct hs_error *err);
    int (*intent_get)(void *b, const char *key, int64_t *out_created_at, struct hs_error *err);
    int (*intent_delete)(void *b, const char *key, struct hs_error *err);
    int (*intent_count)(void *b, struct hs_error *err);
    int (*intent_each)(void *b, const char *object, enum hs_store_side side, hs_store_intent_fn cb,
                       void *ud, struct hs_error *err);
};

/* The handle behind the public API. */
struct hs_store {
    const struct hs_store_ops *ops;
    void *impl;
    char *name; /* the uri as given, for messages */
    struct hs_store_cfg cfg;
    bool has_key;
    uint8_t key[HS_STORE_KEY_BYTES]; /* per-workspace key derived from the master key */
};

/* store/secret.c: sealed value = 0x01 || nonce (24) || secretbox(MAC 16 || plaintext). */
#define HS_STORE_SECRET_VERSION 0x01

/* Derives the per-workspace key: BLAKE2b-256 keyed with the master key over a fixed context
 * and the workspace id. */
int hs_store_secret_derive(const uint8_t master[HS_STORE_KEY_BYTES], const uint8_t *workspace,
                           size_t workspace_len, uint8_t out[HS_STORE_KEY_BYTES]);
/* Encrypts (plain,len) with a fresh random nonce into a new buffer (*out, caller frees). */
int hs_store_secret_seal(const uint8_t key[HS_STORE_KEY_BYTES], const uint8_t *plain, size_t len,
                         uint8_t **out, size_t *out_len, struct hs_error *err);
/* Decrypts a sealed value into a new NUL-terminated buffer (*out, caller wipes and frees with
 * hs_store_secret_free). HS_ECRYPTO when the value is malformed or does not authenticate. */
int hs_store_secret_open(const uint8_t key[HS_STORE_KEY_BYTES], const uint8_t *blob, size_t len,
                         char **out, size_t *out_len, struct hs_error *err);
/* Wipes a NUL-terminated secret and frees it. NULL does nothing. */
void hs_store_secret_free(char *s);
/* Hex SHA-256 of (buf,len) into out (HS_STORE_HASH_HEX bytes). */
void hs_store_secret_sha256_hex(const uint8_t *buf, size_t len, char out[HS_STORE_HASH_HEX]);

/* store/keyfile.c: parses exactly 64 hex characters into out; `what` names the source. */
int hs_store_keyfile_from_hex(const char *hex, const char *what, uint8_t out[HS_STORE_KEY_BYTES],
                              struct hs_error *err);

/* store/store.c: for audit.c. */
int hs_store_writable(struct hs_store *store, struct hs_error *err);
int64_t hs_store_now(const struct hs_store *store);

#endif
