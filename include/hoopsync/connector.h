/*
 * hoopsync/connector.h - the connector interface: one provider account as the engine sees it.
 *
 * Design:     a connector is a const table of function pointers (struct hs_connector_ops,
 *             one per provider: hs_connector_hubspot_ops, hs_connector_quickbooks_ops, ...)
 *             plus an opaque handle it opens from a struct hs_connector_config. The engine
 *             only ever calls through the table: it asks for the ids changed since a cursor,
 *             reads records in batches, writes records in batches with per-record results,
 *             and learns the provider's batch sizes and rate limits from limits(). It never
 *             builds a URL or parses provider JSON. Adding a provider is one folder
 *             (src/connectors/<p>/: <p>_parse.c for bytes <-> canonical records, no I/O and
 *             fuzzed; <p>_client.c for requests through src/net) and one ops table.
 *             Records cross this boundary in the canonical model (hoopsync/model.h). The CRM
 *             side maps companies to customers, products to items and closed deals with
 *             their line items to invoices (the deal is the CRM side of an invoice link); the
 *             hoopsync_* write-back properties of a deal are the invoice's status, amounts
 *             and external_refs.
 *             Everything that waits on the world is handed in: the HTTP transport (libcurl or
 *             in-process), the env (clock, rng, log), the rate limiter and the token source.
 * Threads:    a connector handle is used by one thread at a time (each worker opens its own).
 * Ownership:  records returned by read/write belong to the caller (hs_record_free); the
 *             config's pointers are borrowed for the life of the handle.
 * Not here:   OAuth2 flows and token refresh (net/oauth.h), rate limiting (net/ratelimit.h),
 *             matching and merging (core/), batching policy across runs (engine/).
 */
#ifndef HOOPSYNC_CONNECTOR_H
#define HOOPSYNC_CONNECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hoopsync/common.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"
#include "net/http.h"
#include "util/env.h"

enum hs_side { HS_SIDE_CRM = 1, HS_SIDE_ACCOUNTING = 2 };

struct hs_ratelimit; /* net/ratelimit.h */

/*
 * Returns a valid access token for the connection (refreshing it first when it is about to
 * expire) into *out (caller hs_free()s). `force` asks for a refresh even if the current token
 * looks valid (after a 401). HS_EAUTH with a message naming the connection and the command
 * that fixes it when the grant is revoked or expired.
 */
typedef int (*hs_token_fn)(void *ud, bool force, char **out, struct hs_error *err);

struct hs_connector_config {
    const char *name;     /* connection name for messages ("crm", "accounting") */
    const char *base_url; /* e.g. "https://api.hubapi.com" or "http://127.0.0.1:PORT/hubspot" */
    const char *tenant;   /* HubSpot portal id, QuickBooks realm id, Xero tenant id, ... */
    const struct hs_http_transport *http;
    const struct hs_env *env;
    struct hs_ratelimit *limiter; /* may be NULL: no client-side limiting */
    hs_token_fn token;
    void *token_ud;
    /* Provider-specific settings (JSON object from hoopsync.yaml, borrowed; may be NULL):
     * e.g. QuickBooks {"income_account":"79","minorversion":75,"batch_max":30}. */
    const void *settings; /* const json_t * */
};

/* One rate-limit window the provider publishes ("100 requests per 10 s per account"). */
struct hs_rate_window {
    const char *scope; /* "all", "search", "batch", "day" */
    int64_t limit;
    int64_t window_ms;
};

struct hs_connector_limits {
    size_t read_batch;  /* most ids per batch read */
    size_t write_batch; /* most records per batch write */
    size_t max_concurrency;
    struct hs_rate_window windows[4];
    size_t n_windows;
};

/* One id that changed since the cursor. */
struct hs_change {
    enum hs_kind kind; /* the record's kind (a webhook delivery mixes kinds) */
    char *id;
    int64_t updated_at; /* ms since the epoch, 0 unknown */
    bool deleted;
};

struct hs_changes {
    struct hs_change *items;
    size_t n_items;
    char *cursor; /* cursor to pass next time (owned) */
    bool more;    /* more changes are waiting: call again with cursor */
};
HS_API void hs_changes_release(struct hs_changes *c);
/* Appends one change (a copy of id) to c. HS_OK or HS_ENOMEM (c unchanged). */
HS_API HS_MUST_CHECK int hs_changes_add(struct hs_changes *c, enum hs_kind kind, const char *id,
                                        int64_t updated_at, bool deleted);

/*
 * One field as the provider names it and the canonical path the connector reads it into
 * ("DisplayName" -> "display_name", "PrimaryEmailAddr.Address" -> "email", HubSpot "name" ->
 * "display_name"): the answer of describe_fields, which lets hoopsync.yaml's `mappings:` use
 * the provider's names.
 */
struct hs_field_name {
    char *name;
    char *path;
};

/* The field names of one kind (caller-allocated: _init / _release; owns its strings). */
struct hs_field_names {
    struct hs_field_name *items;
    size_t n_items;
};
HS_API void hs_field_names_init(struct hs_field_names *f);
HS_API void hs_field_names_release(struct hs_field_names *f);
/* Appends copies of name and path. HS_OK or HS_ENOMEM (f unchanged). */
HS_API HS_MUST_CHECK int hs_field_names_add(struct hs_field_names *f, const char *name,
                                            const char *path);
/* The canonical path of the provider field name (exact spelling), or NULL. A name that fills
 * several fields (HubSpot `name`: display_name and company_name) gives its first one. The
 * string is borrowed from f. */
HS_API const char *hs_field_names_find(const struct hs_field_names *f, const char *name);

/*
 * Record meta (struct hs_record.meta) is the connector's own bookkeeping (SyncToken, url, a
 * person id), except these keys, which a connector sets on a record it read to tell the
 * engine how to sync that record (values: comma-separated canonical paths, each covering the
 * paths under it; core/merge.h struct hs_merge_input):
 *   HS_META_READ_ONLY  paths this record does not take from the other side (the provider
 *                      cannot, or the connector may not, write them): nothing is written
 *                      there and a change on the other side is not reported as a write; this
 *                      record's own changes still flow to the other side.
 *   HS_META_UNSYNCED   paths left out of the sync for this record, both ways (a person the
 *                      connector does not own, such as a billing contact someone else keeps).
 * Fields a provider never takes for any record are declared once instead, as read_only limits
 * (field_limits below, core/validate.h), which also keeps them out of creates.
 */
#define HS_META_READ_ONLY "hs.read_only"
#define HS_META_UNSYNCED  "hs.unsynced"

enum hs_write_op { HS_WRITE_CREATE = 1, HS_WRITE_UPDATE = 2 };

/* One record to write, and its result. */
struct hs_write {
    enum hs_write_op op;
    const struct hs_record *record; /* borrowed; for updates record->id is the target */
    /* Update: only these field paths change (NULL = every field of the record). */
    const char *const *fields;
    size_t n_fields;
    /* Create: idempotency key, stable across retries of the same logical create
     * (QuickBooks requestid, Xero Idempotency-Key, HubSpot hoopsync_id upsert value). */
    const char *idem_key;
    /* Create: an earlier attempt with this idem_key may have reached the provider (its intent
     * was left over by a pass that stopped or crashed). A connector whose idempotency is per
     * request rather than per record (QuickBooks requestid, Xero Idempotency-Key) cannot
     * rely on it when the retry goes out in another batch or shape, so it looks the record
     * up first and answers with what it finds instead of creating it twice. */
    bool retry;
    /* With retry: when (env clock, ms) that intent was first stored. Nothing the first
     * attempt made can be older. */
    int64_t retry_since_ms;
    /* results, filled by write() */
    int status;               /* HS_OK, or the HS_E* code of this record's failure */
    char msg[HS_ERRMSG_MAX];  /* what the provider said, for a finance user */
    struct hs_record *result; /* the record as the provider stored it (owned by the caller) */
};

struct hs_connector;
struct hs_validate_limit; /* core/validate.h */

struct hs_connector_ops {
    const char *provider; /* "hubspot", "quickbooks", ... */
    const char *label;    /* the product's name in messages ("QuickBooks"); NULL: provider */
    enum hs_side side;
    /* Opens a handle; does no I/O. */
    int (*open)(const struct hs_connector_config *cfg, struct hs_connector **out,
                struct hs_error *err);
    void (*close)(struct hs_connector *c);
    /* Kinds this provider carries (bit (1 << kind)). */
    unsigned (*kinds)(const struct hs_connector *c);
    void (*limits)(const struct hs_connector *c, enum hs_kind kind,
                   struct hs_connector_limits *out);
    /*
     * Ids of kind changed since cursor (NULL = from the beginning: every id). Each call
     * returns at most one page; out->more says to call again with out->cursor.
     */
    int (*changes)(struct hs_connector *c, enum hs_kind kind, const char *cursor,
                   struct hs_changes *out, struct hs_error *err);
    /*
     * Reads n records by id (n <= limits.read_batch) into out[0..n) in the same order; a
     * missing (deleted) record leaves NULL. Fails as a whole only when no answer came.
     */
    int (*read)(struct hs_connector *c, enum hs_kind kind, const char *const *ids, size_t n,
                struct hs_record **out, struct hs_error *err);
    /*
     * Writes n records (n <= limits.write_batch) and fills each one's status, msg and result.
     * Returns HS_OK when every record has a result (each may have failed on its own), or a
     * negative code when the batch as a whole failed (nothing known about its records:
     * retry with the same idem_keys). HS_ETOOBIG: the provider refused the batch size
     * (the engine halves it and retries).
     */
    int (*write)(struct hs_connector *c, enum hs_kind kind, struct hs_write *writes, size_t n,
                 struct hs_error *err);
    /*
     * Verifies a webhook delivery's signature in constant time with secret, before anything
     * parses it. On success fills *out with the changes it announces (ids may repeat).
     * HS_EAUTH for a missing or wrong signature or a stale timestamp.
     */
    int (*webhook)(struct hs_connector *c, const struct hs_http_request *req, const char *secret,
                   struct hs_changes *out, struct hs_error *err);
    /* One-time set-up after connect (HubSpot: the hoopsync property group and properties).
     * Idempotent. May be NULL. */
    int (*setup)(struct hs_connector *c, struct hs_error *err);
    /*
     * The limits the provider puts on fields of kind (lengths, forbidden characters, required,
     * unique: core/validate.h), checked by the engine before any write so a record that would
     * be refused becomes an error item first. Static table; NULL (*n_out 0) when none. The
     * op may be NULL. Uniqueness is compared trimmed and without ASCII case.
     */
    const struct hs_validate_limit *(*field_limits)(const struct hs_connector *c, enum hs_kind kind,
                                                    size_t *n_out);
    /*
     * Describe fields: appends to out the provider's own names of the fields of kind this
     * connector reads into canonical fields, each with its canonical path, taken from where
     * its parser reads them (so the two cannot drift apart; the connector's unit tests prove
     * every name against the parser). hoopsync.yaml's `mappings:` and `authority:` may use
     * these names instead of canonical paths (core/mapping.h, through a resolver). Needs no
     * handle and does no I/O, so `hoopsync config check` can ask too: settings is the
     * connection's settings (a const json_t * object, may be NULL) for connectors whose names
     * depend on them (HubSpot `properties`, `custom_properties`). Kinds without names leave
     * out empty. HS_OK; HS_EINVAL (settings the connector refuses, as open() would);
     * HS_ENOMEM. May be NULL: the config must then name canonical paths.
     */
    int (*describe_fields)(const void *settings, enum hs_kind kind, struct hs_field_names *out,
                           struct hs_error *err);
};

#endif
