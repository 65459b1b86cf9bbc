/*
 * connectors/xero/xero_int.h - shared inside the Xero connector only.
 *
 * Design:     three files, one direction each: xero_parse.c turns Xero Accounting API 2.0
 *             JSON bytes into canonical records, change lists and per-element write results,
 *             and canonical records into Xero elements (no I/O, fuzzed through
 *             fuzz/fuzz_xero_parse.c); xero_client.c builds URLs and sends requests through
 *             connectors/common/request.h; xero.c is the ops table (paging, cursors,
 *             batching policy). Prefix hs_xero_conn_ / hs_xero_ (the sandbox owns
 *             hs_xero_where_*, hs_xero_order_*, hs_xero_time_parse and hs_xero_msdate_*, and
 *             both are linked into tests, so nothing here reuses those names).
 *             Every number Xero sends is read from its exact text (util/jsonnum.h); every
 *             amount we send is a bare JSON number with exact text.
 * Ownership:  records and strings produced here belong to the caller; pages are released
 *             with hs_xero_conn_page_release.
 */
#ifndef HS_CONNECTORS_XERO_INT_H
#define HS_CONNECTORS_XERO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hoopsync/connector.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"
#include "util/buf.h"

#define HS_XERO_PAGE_SIZE 100 /* records per page of a paged list (Xero's default) */
#define HS_XERO_READ_MAX  50  /* ids per IDs= filter (the query string breaks near 52) */
#define HS_XERO_BATCH_MAX 50  /* elements per PUT/POST (no documented maximum; see docs) */
/* Largest answer body we parse. */
#define HS_XERO_MAX_BODY ((size_t)64 * 1024 * 1024)
/* Most objects one parsed list may hold (Items lists are not paged). */
#define HS_XERO_MAX_OBJS 100000

/* One item's id and code: invoice lines name items by code, the canonical model by id. */
struct hs_xero_item_ref {
    char *id;
    char *code;
};

/* What the parse and build functions need to know about the connection. */
struct hs_xero_opts {
    char base_currency[4];       /* item prices, documents without CurrencyCode ("USD") */
    const char *sales_account;   /* AccountCode of lines without an item, new items ("200") */
    const char *payment_account; /* Account.Code of payments we write ("090") */
    const char *invoice_status;  /* Status of invoices we create ("AUTHORISED") */
    const char *app_url;         /* invoice link base ("https://go.xero.com") */
    const struct hs_xero_item_ref *items; /* id <-> code map (may be NULL) */
    size_t n_items;
};

/* The Xero collection of a kind ("Contacts", "Items", "Invoices", "Payments"), or NULL. */
const char *hs_xero_conn_entity(enum hs_kind kind);

/*
 * Parses Xero's "/Date(1795456800000+0000)/" (offset optional, informational) or an ISO time
 * "2026-11-23T10:00:00[.fff][Z]" (UTC) from (s, len) into ms since the epoch. HS_OK or
 * HS_EINVAL.
 */
HS_MUST_CHECK int hs_xero_conn_time_parse(const char *s, size_t len, int64_t *out_ms);

/* Formats ms (floored to the second) as "2026-11-23T10:00:00" into out (24 bytes). */
void hs_xero_conn_time_format(int64_t ms, char out[24]);

/* ---- answers ------------------------------------------------------------------------------ */

struct hs_xero_obj {
    char *id;
    int64_t updated_at;    /* UpdatedDateUTC in ms, 0 unknown */
    bool deleted;          /* Status DELETED (invoices, payments) */
    struct hs_record *rec; /* full record when asked for and not deleted, else NULL */
};

struct hs_xero_page {
    struct hs_xero_obj *items;
    size_t n_items;
};

void hs_xero_conn_page_release(struct hs_xero_page *p);

/*
 * Parses a list answer {"Id":..,"<Entity>":[...],"pagination":{..}} for the collection of
 * kind into out (replacing its contents). Invoices of another Type than ACCREC and payments
 * of another PaymentType than ACCRECPAYMENT are skipped. With records true each live object is
 * also turned into a canonical record. HS_OK; HS_EPROTO (not JSON, wrong shape, an object
 * without its id, an unreadable record, naming the object); HS_ETOOBIG; HS_ENOMEM. out is
 * empty on failure.
 */
HS_MUST_CHECK int hs_xero_conn_parse_list(const uint8_t *buf, size_t len, enum hs_kind kind,
                                          bool records, const struct hs_xero_opts *o,
                                          struct hs_xero_page *out, struct hs_error *err);

/* describe_fields (hoopsync/connector.h): the Xero names of the customer and item fields this
 * parser reads (settings unused). HS_OK or HS_ENOMEM. */
HS_MUST_CHECK int hs_xero_conn_describe_fields(const void *settings, enum hs_kind kind,
                                               struct hs_field_names *out, struct hs_error *err);

/*
 * One Xero element (parsed with hs_json_parse_exact) -> a new canonical record of kind (id,
 * updated_at set; invoices also meta "url"). Values the canonical model cannot hold (a
 * country that is not recognisable, an unknown currency) are left out. HS_OK, HS_EPROTO
 * (message names the field), HS_ENOMEM. *out NULL on failure.
 */
HS_MUST_CHECK int hs_xero_conn_parse_record(enum hs_kind kind, const json_t *obj,
                                            const struct hs_xero_opts *o, struct hs_record **out,
                                            struct hs_error *err);

/*
 * The answer to a PUT/POST sent with summarizeErrors=false, whose elements answer
 * writes[i] for the i-th sent (sent[i] true) in order: fills every sent write's status, msg
 * and result. "StatusAttributeString":"ERROR" (or ValidationErrors) -> HS_EINVAL with
 * Xero's messages joined by "; " (a contact name, item code or invoice number already in
 * use: HS_EEXIST; "No ... was found": HS_ENOTFOUND); a sent write
 * without an answer gets HS_EPROTO. Returns HS_OK when the answer was readable, else
 * HS_EPROTO / HS_ENOMEM (statuses then untouched).
 */
HS_MUST_CHECK int hs_xero_conn_parse_write(const uint8_t *buf, size_t len, enum hs_kind kind,
                                           const struct hs_xero_opts *o, const bool *sent,
                                           struct hs_write *writes, size_t n, struct hs_error *err);

/*
 * A list of items' ids and codes from a GET /Items answer into *out (n in *n_out); release
 * with hs_xero_conn_item_refs_free. HS_OK, HS_EPROTO, HS_ETOOBIG, HS_ENOMEM.
 */
HS_MUST_CHECK int hs_xero_conn_parse_item_refs(const uint8_t *buf, size_t len,
                                               struct hs_xero_item_ref **out, size_t *n_out,
                                               struct hs_error *err);
void hs_xero_conn_item_refs_free(struct hs_xero_item_ref *v, size_t n);

/*
 * An error answer's text for a finance user: Xero's ValidationErrors messages of the first
 * Elements, else "Message", else "Detail" (problem+json), into text (NUL-terminated,
 * truncated). Returns true when one was found.
 */
bool hs_xero_conn_parse_error(const uint8_t *buf, size_t len, char *text, size_t text_cap);

/*
 * A webhook payload {"events":[{"resourceId","eventCategory","eventType","eventDateUtc",
 * "tenantId",..}],..} -> changes: CONTACT -> customer, INVOICE -> invoice; other categories
 * and other tenants than tenant (NULL: any) are skipped. An empty "events" (intent to
 * receive) gives no changes. HS_OK, HS_EPROTO, HS_ETOOBIG, HS_ENOMEM; out empty on failure.
 */
HS_MUST_CHECK int hs_xero_conn_parse_webhook(const uint8_t *buf, size_t len, const char *tenant,
                                             struct hs_changes *out, struct hs_error *err);

/* ---- cursors ------------------------------------------------------------------------------ */

/* Most record versions a cursor remembers as already reported (see below). */
#define HS_XERO_SEEN_MAX 256

/*
 * The changes() cursor "x1|<since_ms>|<page>[|<h>,<h>,...]": list records with
 * If-Modified-Since <since_ms> (0 = none: everything) ordered by UpdatedDateUTC, at page
 * <page> (1-based). The optional list holds the versions (hs_xero_conn_version_hash of id and
 * UpdatedDateUTC, 16 lower-case hex digits each) already reported at the window's edge, so the
 * records of the newest second, which the next window lists again, are not reported twice
 * unless they changed. Losing the list (too many versions in one second) only repeats them.
 */
struct hs_xero_cursor {
    int64_t since_ms;
    int64_t page;
    uint64_t seen[HS_XERO_SEEN_MAX];
    size_t n_seen;
};

/* A record version's hash: FNV-1a 64 of "<id>@<updated_ms>". */
uint64_t hs_xero_conn_version_hash(const char *id, int64_t updated_ms);

/* True when c's list holds h. */
bool hs_xero_conn_cursor_seen(const struct hs_xero_cursor *c, uint64_t h);

/* Adds h to c's list (once); false when the list is full. */
bool hs_xero_conn_cursor_add_seen(struct hs_xero_cursor *c, uint64_t h);

/* Parses a stored cursor (outside bytes, no NUL needed). HS_OK or HS_EINVAL with a message. */
HS_MUST_CHECK int hs_xero_conn_cursor_parse(const char *s, size_t len, struct hs_xero_cursor *out,
                                            struct hs_error *err);
/* Formats a cursor into a new string (caller hs_free()s); NULL on ENOMEM. */
char *hs_xero_conn_cursor_format(const struct hs_xero_cursor *c);

/*
 * The cursor after a page (without its list, which the caller fills): given the cursor used, the
 * newest UpdatedDateUTC of the page (0 none) and whether the page was full, the next cursor and
 * whether more is waiting. A full page moves the window to the newest second it holds (page 1), or
 * when all of it shares the window's start, to the next page of the same window; a short page ends
 * the feed at the newest second seen. Pure, so the tie rules are unit-tested.
 */
void hs_xero_conn_cursor_next(const struct hs_xero_cursor *cur, int64_t newest_ms, bool full,
                              struct hs_xero_cursor *out, bool *out_more);

/* ---- contacts we own ---------------------------------------------------------------------- */

/* ContactNumber of a contact we create: this prefix and the create's idem_key (at most 50
 * characters, Xero's limit). */
#define HS_XERO_OWN_PREFIX         "hoopsync-"
#define HS_XERO_CONTACT_NUMBER_MAX 50
/* The canonical paths of a contact's person (FirstName, LastName, EmailAddress). */
#define HS_XERO_PERSON_PATHS "given_name,family_name,email"

/*
 * True when contact (a Xero Contact element) is one we created (its ContactNumber carries
 * HS_XERO_OWN_PREFIX): its person is the CRM contact, which we keep in sync. Any other
 * contact's person is the accounts team's billing contact: its records carry meta
 * HS_META_UNSYNCED = HS_XERO_PERSON_PATHS, and updates never write it.
 */
bool hs_xero_conn_owned(const json_t *contact);

/* ---- requests we send --------------------------------------------------------------------- */

/*
 * The element for one write: a whole create element, or for an update the id plus the
 * elements the changed field paths map to (all when w->fields is NULL). *out is a new object
 * (numbers as marked strings: dump with hs_json_dump_exact), or NULL with HS_OK when an
 * update touches nothing Xero stores. HS_EINVAL with a message a finance user can act on (an
 * item without code, a payment without one invoice, a line in another currency), HS_ENOMEM.
 */
HS_MUST_CHECK int hs_xero_conn_build(enum hs_kind kind, const struct hs_write *w,
                                     const struct hs_xero_opts *o, json_t **out,
                                     struct hs_error *err);

/*
 * The Idempotency-Key of a batch: "hs-" + 32 hex digits of SHA-256 over the tenant, the kind
 * and, per element sent (bodies[i] != NULL), its index and, for a create with an idem_key,
 * that key, else its body. The same batch retried gives the same key; out must hold 36 bytes.
 */
void hs_xero_conn_idem_key(const char *tenant, enum hs_kind kind, const struct hs_write *writes,
                           const char *const *bodies, size_t n, char out[36]);

/* ---- client (xero_client.c) ------------------------------------------------------------------ */

struct hs_connector {
    struct hs_connector_config cfg; /* pointers borrowed */
    struct hs_xero_opts opts;
    char *sales_account; /* owned copies of the settings strings */
    char *payment_account;
    char *invoice_status;
    char *app_url;
    size_t batch_max;
    size_t max_concurrency;
    struct hs_rate_window windows[4]; /* setting "rate_limits" (n_windows 0: none) */
    size_t n_windows;
    struct hs_xero_item_ref *items; /* cached id <-> code map (invoices), NULL: not loaded */
    size_t n_items;
    bool items_loaded;
};

/*
 * Sends one request to "<base_url>/api.xro/2.0/<rel>" (rel may carry a query) with Accept:
 * application/json and Xero-tenant-id, through the common request helper (limiter, token,
 * retries; a 429 without Retry-After waits 60 s). since_ms > 0 adds If-Modified-Since;
 * idem_key (may be NULL) adds Idempotency-Key. The answer body is appended to out. A non-2xx
 * answer returns the mapped code with Xero's message in err.
 */
HS_MUST_CHECK int hs_xero_conn_call(struct hs_connector *c, const char *method, const char *rel,
                                    int64_t since_ms, const char *idem_key, const char *body,
                                    size_t body_len, struct hs_buf *out, struct hs_error *err);

#endif
