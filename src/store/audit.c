/*
 * store/audit.c - the append-only audit trail and its SHA-256 hash chain.
 *
 * Design:     each row stores prev_hash (the previous row's hash; 64 zeros for the first row)
 *             and hash = SHA-256(prev_hash bytes || canonical row bytes), where the canonical
 *             bytes are, in order: id and ts as 8-byte big-endian two's complement, then actor,
 *             action, object and detail, each as a 4-byte big-endian length followed by its
 *             UTF-8 bytes. Length prefixes make the encoding unambiguous ("ab"+"c" differs from
 *             "a"+"bc"). The chain is computed here, not in a backend, so every backend stores
 *             the same hashes and `hoopsync audit verify` means the same thing everywhere.
 *             append reads the last row and inserts the next inside one transaction (the
 *             backend's write lock serializes appenders).
 * Invariants: row ids are consecutive from 1; a row's prev_hash equals its predecessor's hash.
 *             verify reports the first row where either fails. Deleting the newest rows cannot
 *             be seen from the chain alone: keep head_hash somewhere else to detect it.
 */
#include <string.h>

#include <sodium.h>

#include "store/store_int.h"
#include "util/json.h"

static const char ZERO_HASH[HS_STORE_HASH_HEX] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static void put_u64(crypto_hash_sha256_state *st, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    crypto_hash_sha256_update(st, b, sizeof b);
}

static void put_str(crypto_hash_sha256_state *st, const char *s)
{
    size_t n = strlen(s);
    uint8_t b[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    crypto_hash_sha256_update(st, b, sizeof b);
    crypto_hash_sha256_update(st, (const uint8_t *)s, n);
}

/* Hash of row chained to prev (32 raw bytes), as hex into out. */
static void row_hash(const uint8_t prev[crypto_hash_sha256_BYTES],
                     const struct hs_store_audit_row *row, char out[HS_STORE_HASH_HEX])
{
    crypto_hash_sha256_state st;
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, prev, crypto_hash_sha256_BYTES);
    put_u64(&st, (uint64_t)row->id);
    put_u64(&st, (uint64_t)row->ts);
    put_str(&st, row->actor);
    put_str(&st, row->action);
    put_str(&st, row->object);
    put_str(&st, row->detail);
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(out, HS_STORE_HASH_HEX, h, sizeof h);
}

/* Decodes a 64-character hex hash; false when malformed. */
static bool unhex(const char *hex, uint8_t out[crypto_hash_sha256_BYTES])
{
    size_t n = 0;
    return strlen(hex) == HS_STORE_HASH_HEX - 1 &&
           sodium_hex2bin(out, crypto_hash_sha256_BYTES, hex, HS_STORE_HASH_HEX - 1, NULL, &n,
                          NULL) == 0 &&
           n == crypto_hash_sha256_BYTES;
}

static int check_json(const char *json, struct hs_error *err)
{
    struct hs_json_where w;
    int rc = hs_json_check((const uint8_t *)json, strlen(json), HS_JSON_MAX_DEPTH, false, &w);
    if (rc == HS_ETOOBIG)
        return hs_error_set(err, HS_EINVAL,
                            "cannot append audit row: detail JSON nested deeper than %d levels",
                            HS_JSON_MAX_DEPTH);
    if (rc != HS_OK)
        return hs_error_set(err, HS_EINVAL,
                            "cannot append audit row: invalid detail JSON: line %d column %zu: %s",
                            w.line, w.column, w.why);
    return HS_OK;
}

int hs_store_audit_append(struct hs_store *store, const char *actor, const char *action,
                          const char *object, const char *detail, int64_t *out_id,
                          struct hs_error *err)
{
    if (actor == NULL || actor[0] == '\0' || action == NULL || action[0] == '\0' || object == NULL)
        return hs_error_set(err, HS_EINVAL,
                            "cannot append audit row: actor, action and object are required");
    if (detail == NULL)
        detail = "{}";
    int rc = check_json(detail, err);
    if (rc == HS_OK)
        rc = hs_store_writable(store, err);
    if (rc == HS_OK)
        rc = store->ops->begin(store->impl, err);
    if (rc != HS_OK)
        return rc;
    struct hs_store_audit_row row = {.ts = hs_store_now(store),
                                     .actor = actor,
                                     .action = action,
                                     .object = object,
                                     .detail = detail};
    int64_t last = 0;
    rc = store->ops->audit_last(store->impl, &last, row.prev_hash, err);
    if (rc == HS_ENOTFOUND) {
        hs_error_clear(err);
        memcpy(row.prev_hash, ZERO_HASH, sizeof ZERO_HASH);
        rc = HS_OK;
    }
    uint8_t prev[crypto_hash_sha256_BYTES];
    if (rc == HS_OK && !unhex(row.prev_hash, prev))
        rc = hs_error_set(err, HS_ECRYPTO,
                          "cannot append audit row: the last row (%lld) has a malformed hash; "
                          "run an audit verify",
                          (long long)last);
    if (rc == HS_OK) {
        row.id = last + 1;
        row_hash(prev, &row, row.hash);
        rc = store->ops->audit_insert(store->impl, &row, err);
    }
    if (rc != HS_OK) {
        store->ops->rollback(store->impl, NULL);
        return rc;
    }
    rc = store->ops->commit(store->impl, err);
    if (rc == HS_OK && out_id != NULL)
        *out_id = row.id;
    return rc;
}

int hs_store_audit_each(struct hs_store *store, int64_t after_id, hs_store_audit_fn cb, void *ud,
                        struct hs_error *err)
{
    if (cb == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot list audit rows: missing callback");
    return store->ops->audit_each(store->impl, after_id, cb, ud, err);
}

struct verify_state {
    struct hs_store_audit_report *rep;
    uint8_t prev[crypto_hash_sha256_BYTES];
    int64_t last_id;
    const char *why;
};

static int verify_row(void *ud, const struct hs_store_audit_row *row)
{
    struct verify_state *v = ud;
    uint8_t stored_prev[crypto_hash_sha256_BYTES];
    uint8_t stored[crypto_hash_sha256_BYTES];
    v->rep->n_rows++;
    if (row->id != v->last_id + 1) {
        v->why = v->last_id == 0 ? "the trail does not start at row 1 (rows were removed)"
                                 : "rows before it were removed";
    } else if (!unhex(row->prev_hash, stored_prev) ||
               sodium_memcmp(stored_prev, v->prev, sizeof stored_prev) != 0) {
        v->why = "its link to the previous row is broken";
    } else {
        char h[HS_STORE_HASH_HEX];
        row_hash(v->prev, row, h);
        if (!unhex(row->hash, stored) || strcmp(h, row->hash) != 0)
            v->why = "its contents do not match its hash";
    }
    if (v->why != NULL) {
        v->rep->bad_id = row->id;
        return 1;
    }
    memcpy(v->prev, stored, sizeof stored);
    memcpy(v->rep->head_hash, row->hash, HS_STORE_HASH_HEX);
    v->last_id = row->id;
    return 0;
}

int hs_store_audit_verify(struct hs_store *store, struct hs_store_audit_report *out,
                          struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    struct verify_state v = {.rep = out};
    int rc = store->ops->audit_each(store->impl, 0, verify_row, &v, err);
    if (rc < 0)
        return rc;
    if (v.why != NULL)
        return hs_error_set(err, HS_ECRYPTO, "audit trail altered at row %lld: %s",
                            (long long)out->bad_id, v.why);
    return HS_OK;
}
