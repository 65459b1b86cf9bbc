/*
 * connectors/quickbooks/quickbooks_int.h - shared inside the QuickBooks connector only.
 *
 * Design:     three files, one direction each: quickbooks_parse.c turns QuickBooks JSON bytes
 *             into canonical records, change lists and per-write results and canonical
 *             records into QuickBooks entity bodies (no I/O, fuzzed through
 *             fuzz/fuzz_quickbooks_parse.c); quickbooks_client.c builds URLs and sends
 *             requests through connectors/common/request.h; quickbooks.c is the ops table
 *             (paging, cursors, batching policy). Prefix hs_quickbooks_ (the sandbox owns
 *             hs_qbo_, and both are linked into tests).
 *             Every number QuickBooks sends is read from its exact text (util/jsonnum.h);
 *             every amount we send is written as a bare JSON number with exact text.
 * Ownership:  records and strings produced here belong to the caller; pages are released
 *             with hs_quickbooks_page_release.
 */
#ifndef HS_CONNECTORS_QUICKBOOKS_INT_H
#define HS_CONNECTORS_QUICKBOOKS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hoopsync/connector.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"
#include "util/buf.h"

/* Defaults of the settings object (hoopsync.yaml connection settings). */
#define HS_QUICKBOOKS_MINORVERSION 75
#define HS_QUICKBOOKS_BATCH_MAX    30
#define HS_QUICKBOOKS_READ_MAX     1000 /* query maxresults cap, and the CDC answer cap */
#define HS_QUICKBOOKS_CDC_DAYS     30
/* Largest answer body we parse (a 1,000-invoice page is a few MB). */
#define HS_QUICKBOOKS_MAX_BODY ((size_t)64 * 1024 * 1024)

/* What the parse and build functions need to know about the connection. */
struct hs_quickbooks_opts {
    char home_currency[4];      /* item prices, invoices without CurrencyRef ("USD") */
    const char *income_account; /* IncomeAccountRef for new items (settings), may be NULL */
    const char *item_type;      /* "Service" (default) or "NonInventory" */
    const char *txn_tax_code;   /* TxnTaxDetail.TxnTaxCodeRef for invoices, may be NULL */
    const char *app_url;        /* invoice link base ("https://app.qbo.intuit.com") */
};

/* The QuickBooks entity name of a kind ("Customer", "Item", "Invoice", "Payment"), or NULL. */
const char *hs_quickbooks_entity(enum hs_kind kind);

/*
 * Parses a QuickBooks time "2026-11-23T10:00:00-08:00" (fraction and "Z" allowed) from
 * (s, len) into ms since the epoch. HS_OK or HS_EINVAL.
 */
HS_MUST_CHECK int hs_quickbooks_time_parse(const char *s, size_t len, int64_t *out_ms);

/* ---- answers ------------------------------------------------------------------------------ */

/* One object of a query or CDC answer. */
struct hs_quickbooks_obj {
    char *id;
    int64_t updated_at;    /* MetaData.LastUpdatedTime in ms, 0 unknown */
    char *updated_text;    /* MetaData.LastUpdatedTime as sent, NULL unknown */
    bool deleted;          /* CDC stub with "status":"Deleted" */
    struct hs_record *rec; /* full record when asked for and not deleted, else NULL */
};

struct hs_quickbooks_page {
    struct hs_quickbooks_obj *items;
    size_t n_items;
    char *time; /* the answer's "time" (QuickBooks' clock), NULL when absent */
};

void hs_quickbooks_page_release(struct hs_quickbooks_page *p);

/*
 * Parses a query answer {"QueryResponse":{"<Entity>":[...],...},"time":...} (cdc false) or a
 * CDC answer {"CDCResponse":[{"QueryResponse":[{"<Entity>":[...]}]}],"time":...} (cdc true)
 * for the entity of kind into out (replacing its contents). With records true each live
 * object is also turned into a canonical record. HS_OK; HS_EPROTO (not JSON, wrong shape, an
 * object without Id, an unreadable record, with the object's Id in the message); HS_ETOOBIG;
 * HS_ENOMEM. out is empty on failure.
 */
HS_MUST_CHECK int hs_quickbooks_parse_list(const uint8_t *buf, size_t len, enum hs_kind kind,
                                           bool cdc, bool records,
                                           const struct hs_quickbooks_opts *o,
                                           struct hs_quickbooks_page *out, struct hs_error *err);

/*
 * One QuickBooks entity object (already parsed with hs_json_parse_exact) -> a new canonical
 * record of kind (id, updated_at, meta "sync_token" set; invoices also meta "url"). Values
 * QuickBooks allows but the canonical model cannot hold (a country that is not an ISO code, a
 * currency outside ISO 4217) are left out. HS_OK, HS_EPROTO (message names the field),
 * HS_ENOMEM. *out NULL on failure.
 */
HS_MUST_CHECK int hs_quickbooks_parse_record(enum hs_kind kind, const json_t *obj,
                                             const struct hs_quickbooks_opts *o,
                                             struct hs_record **out, struct hs_error *err);

/*
 * A batch answer {"BatchItemResponse":[{"bId":"<i>","<Entity>":{...}} | {"bId":"<i>",
 * "Fault":{...}}]} for writes[0..n) sent with bId = decimal index: fills every write's status,
 * msg and result. Fault codes: 5010 -> HS_ECONFLICT, 6240 -> HS_EEXIST, 610 -> HS_ENOTFOUND,
 * others -> HS_EINVAL; msg is QuickBooks' Detail (else Message). A write without an answer
 * gets HS_EPROTO. Returns HS_OK when the answer was readable (each write has a status), else
 * HS_EPROTO / HS_ENOMEM (statuses then untouched).
 */
HS_MUST_CHECK int hs_quickbooks_parse_batch(const uint8_t *buf, size_t len, enum hs_kind kind,
                                            const struct hs_quickbooks_opts *o,
                                            struct hs_write *writes, size_t n,
                                            struct hs_error *err);

/*
 * A single create's or update's answer ({"<Entity>":{...},"time":...}, or a Fault) into w:
 * status (HS_OK, or the Fault's code mapped as for a batch item), msg and result. HS_OK when
 * the answer was readable, else HS_EPROTO / HS_ENOMEM (w untouched).
 */
HS_MUST_CHECK int hs_quickbooks_parse_single(const uint8_t *buf, size_t len, enum hs_kind kind,
                                             const struct hs_quickbooks_opts *o, struct hs_write *w,
                                             struct hs_error *err);

/*
 * Invoices we create carry their create's idempotency key as the last line of PrivateNote,
 * "hoopsync:<key>" (after the memo, if any), so that a create retried after a crash can find
 * the invoice its first attempt made. Parsing strips that line from the memo. True when note
 * ends with the marker of key.
 */
bool hs_quickbooks_has_marker(const char *note, const char *key);

/*
 * A Fault answer's first error: code and text (Detail, else Message), into the caller's
 * buffers (NUL-terminated, truncated). Returns true when body is a Fault.
 */
bool hs_quickbooks_parse_fault(const uint8_t *buf, size_t len, char *code, size_t code_cap,
                               char *text, size_t text_cap);

/*
 * A webhook payload {"eventNotifications":[{"realmId":..,"dataChangeEvent":{"entities":
 * [{"name":"Customer","id":"1","operation":"Update","lastUpdated":".."}]}}]} -> changes of
 * the kinds we carry in realm (others skipped), each with its kind and plain id; operation
 * Delete sets deleted.
 * HS_OK, HS_EPROTO, HS_ETOOBIG, HS_ENOMEM; out is empty on failure.
 */
HS_MUST_CHECK int hs_quickbooks_parse_webhook(const uint8_t *buf, size_t len, const char *realm,
                                              struct hs_changes *out, struct hs_error *err);

/* ---- cursors ------------------------------------------------------------------------------ */

/*
 * The changes() cursor: "cdc|<time>" (next call: CDC since <time>, QuickBooks' own clock), or
 * "scan|<time>|<pos>" (a query re-scan of objects with LastUpdatedTime >= <time>, "" = all,
 * ordered by LastUpdatedTime, resuming at startposition <pos>).
 */
struct hs_quickbooks_cursor {
    bool scan;
    char since[48]; /* QuickBooks time text, "" = from the beginning (scan only) */
    int64_t pos;    /* scan: 1-based startposition */
};

/* Parses a stored cursor (outside bytes, no NUL needed). HS_OK or HS_EINVAL with a message. */
HS_MUST_CHECK int hs_quickbooks_cursor_parse(const char *s, size_t len,
                                             struct hs_quickbooks_cursor *out,
                                             struct hs_error *err);
/* Formats a cursor into a new string (caller hs_free()s); NULL on ENOMEM. */
char *hs_quickbooks_cursor_format(const struct hs_quickbooks_cursor *c);

/* describe_fields (hoopsync/connector.h): the QuickBooks names of the customer and item
 * fields this parser reads (settings unused). HS_OK or HS_ENOMEM. */
HS_MUST_CHECK int hs_quickbooks_describe_fields(const void *settings, enum hs_kind kind,
                                                struct hs_field_names *out, struct hs_error *err);

/* ---- requests we send --------------------------------------------------------------------- */

/*
 * The entity body for one write: a create body, or a sparse update {"Id","SyncToken",
 * "sparse":true, <elements of w->fields>} (all mapped elements when w->fields is NULL).
 * *out is a new object (numbers as marked strings: dump with hs_json_dump_exact), or NULL with
 * HS_OK when an update touches nothing QuickBooks stores (nothing to send). HS_EINVAL with a
 * message a finance user can act on (no SyncToken, a price in another currency, a per-line
 * discount), HS_ENOMEM.
 */
HS_MUST_CHECK int hs_quickbooks_build(enum hs_kind kind, const struct hs_write *w,
                                      const struct hs_quickbooks_opts *o, json_t **out,
                                      struct hs_error *err);

/*
 * The requestid of a batch: "hs-" + 32 hex digits of SHA-256 over the realm, the kind and,
 * per write sent (bodies[i] != NULL: the compact JSON of its entity), its index and, for a
 * create, its idem_key (so a retried create replays even if the record was rebuilt
 * differently), else its body (an update with its Id, SyncToken and values). The same writes
 * retried give the same id, and QuickBooks replays its first answer; any other batch gets a
 * new one. out must hold 36 bytes.
 */
void hs_quickbooks_request_id(const char *realm, enum hs_kind kind, const struct hs_write *writes,
                              const char *const *bodies, size_t n, char out[36]);

/* ---- client (quickbooks_client.c) ----------------------------------------------------------- */

struct hs_connector {
    struct hs_connector_config cfg; /* pointers borrowed */
    struct hs_quickbooks_opts opts;
    char *income_account; /* owned copies of the settings strings */
    char *item_type;
    char *txn_tax_code;
    char *app_url;
    long minorversion;
    size_t batch_max;
    size_t max_concurrency;
    bool no_singles;                  /* setting single_requests "never": every write in a batch */
    struct hs_rate_window windows[4]; /* setting "rate_limits" (n_windows 0: none) */
    size_t n_windows;
};

/* write() (quickbooks_write.c). */
HS_MUST_CHECK int hs_quickbooks_write(struct hs_connector *c, enum hs_kind kind,
                                      struct hs_write *writes, size_t n, struct hs_error *err);

/* One POST query (text is the query) through hs_quickbooks_client_call; the answer in *body. */
HS_MUST_CHECK int hs_quickbooks_query(struct hs_connector *c, const char *text, struct hs_buf *body,
                                      struct hs_error *err);

/*
 * Sends one request to "<base_url>/v3/company/<realm>/<rel>" (rel may carry a query; the
 * minorversion is appended) with Accept: application/json, through the common request helper
 * (rate limiter scope, token, retries), and returns the answer body in *out (caller frees)
 * when the status is 2xx. content_type/body may be NULL (GET). On a non-2xx answer returns
 * the mapped code with QuickBooks' Fault text in err, and, when out_fault_code is not NULL,
 * the Fault code ("5010") in it (16 bytes), and the body in *out too (caller frees).
 */
HS_MUST_CHECK int hs_quickbooks_client_call(struct hs_connector *c, const char *method,
                                            const char *scope, const char *rel,
                                            const char *content_type, const char *body,
                                            size_t body_len, struct hs_buf *out,
                                            char *out_fault_code, struct hs_error *err);

#endif
