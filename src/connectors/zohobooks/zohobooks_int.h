/*
 * connectors/zohobooks/zohobooks_int.h - shared inside the Zoho Books connector only.
 *
 * Design:     three files, one direction each: zohobooks_parse.c turns Zoho Books API v3 JSON
 *             bytes into canonical records, change lists and per-record write results, and
 *             canonical records into Zoho bodies (no I/O, fuzzed through
 *             fuzz/fuzz_zohobooks_parse.c); zohobooks_client.c builds URLs and sends requests
 *             through connectors/common/request.h; zohobooks.c is the ops table (paging,
 *             cursors, one write per call). Prefix hs_zoho_conn_ (the sandbox owns
 *             hs_zoho_time_*, and both are linked into tests).
 *             Every number Zoho sends is read from its exact text (util/jsonnum.h); every
 *             amount we send is a bare JSON number with exact text.
 * Ownership:  records and strings produced here belong to the caller; pages are released
 *             with hs_zoho_conn_page_release.
 */
#ifndef HS_CONNECTORS_ZOHOBOOKS_INT_H
#define HS_CONNECTORS_ZOHOBOOKS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hoopsync/connector.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"
#include "util/buf.h"

#define HS_ZOHO_PAGE_SIZE 200 /* records per page (Zoho's maximum per_page) */
#define HS_ZOHO_READ_MAX  10  /* ids per read() call: one GET /{entity}/{id} each */
/* Largest answer body we parse. */
#define HS_ZOHO_MAX_BODY ((size_t)64 * 1024 * 1024)
/* Most objects one parsed list may hold. */
#define HS_ZOHO_MAX_OBJS 100000

/* What the parse and build functions need to know about the connection. */
struct hs_zoho_opts {
    char base_currency[4];    /* item prices, documents without currency_code ("USD") */
    const char *app_url;      /* invoice link base ("https://books.zoho.com") */
    const char *unique_field; /* api_name of the upsert key field ("cf_hoopsync_id") */
    const char *payment_mode; /* payment_mode of payments we write (NULL: Zoho's default) */
    const char *organization; /* organization_id, for links */
};

/* The Zoho collection of a kind ("contacts", "items", "invoices", "customerpayments"). */
const char *hs_zoho_conn_entity(enum hs_kind kind);
/* The record's key in one-record answers ("contact", "item", "invoice", "payment"). */
const char *hs_zoho_conn_single(enum hs_kind kind);

/*
 * Parses Zoho's "2026-11-23T18:00:00+0000" (also "+05:30", "Z", no offset = UTC) from (s, len)
 * into ms since the epoch. HS_OK or HS_EINVAL.
 */
HS_MUST_CHECK int hs_zoho_conn_time_parse(const char *s, size_t len, int64_t *out_ms);

/* Formats ms (floored to the second) as "2026-11-23T18:00:00+0000" into out (32 bytes). */
void hs_zoho_conn_time_format(int64_t ms, char out[32]);

/* ---- answers ------------------------------------------------------------------------------ */

struct hs_zoho_obj {
    char *id;
    int64_t updated_at;    /* last_modified_time in ms, 0 unknown */
    struct hs_record *rec; /* full record when asked for, else NULL */
};

struct hs_zoho_page {
    struct hs_zoho_obj *items;
    size_t n_items;
    bool has_more; /* page_context.has_more_page */
};

void hs_zoho_conn_page_release(struct hs_zoho_page *p);

/*
 * Parses a list answer {"code":0,"<entity>":[...],"page_context":{..}} for kind into out
 * (replacing its contents). Contacts of another contact_type than customer are skipped (they
 * still count for paging: see n_raw). With records true each object is also turned into a
 * canonical record. HS_OK; HS_EPROTO (not JSON, wrong shape, an object without its id, an
 * unreadable record); HS_ETOOBIG; HS_ENOMEM. out is empty on failure.
 */
HS_MUST_CHECK int hs_zoho_conn_parse_list(const uint8_t *buf, size_t len, enum hs_kind kind,
                                          bool records, const struct hs_zoho_opts *o,
                                          struct hs_zoho_page *out, struct hs_error *err);

/* describe_fields (hoopsync/connector.h): the Zoho Books names of the customer and item
 * fields this parser reads (settings unused). HS_OK or HS_ENOMEM. */
HS_MUST_CHECK int hs_zoho_conn_describe_fields(const void *settings, enum hs_kind kind,
                                               struct hs_field_names *out, struct hs_error *err);

/*
 * One Zoho record object -> a new canonical record of kind (id, updated_at set; invoices also
 * meta "url", customers meta "contact_person_id" of the primary person). HS_OK, HS_EPROTO
 * (message names the field), HS_ENOMEM. *out NULL on failure.
 */
HS_MUST_CHECK int hs_zoho_conn_parse_record(enum hs_kind kind, const json_t *obj,
                                            const struct hs_zoho_opts *o, struct hs_record **out,
                                            struct hs_error *err);

/*
 * A one-record answer {"code":0,"message":..,"<single>":{..}} -> a new record in *out.
 * HS_OK, HS_EPROTO, HS_ETOOBIG, HS_ENOMEM.
 */
HS_MUST_CHECK int hs_zoho_conn_parse_one(const uint8_t *buf, size_t len, enum hs_kind kind,
                                         const struct hs_zoho_opts *o, struct hs_record **out,
                                         struct hs_error *err);

/*
 * An error answer {"code":N,"message":"..."}: Zoho's code into *out_code (-1 when absent) and
 * its message, for a finance user, into text (NUL-terminated, truncated). Returns true when
 * the body was Zoho's envelope.
 */
bool hs_zoho_conn_parse_error(const uint8_t *buf, size_t len, int *out_code, char *text,
                              size_t text_cap);

/*
 * The per-record status of a refused write from the HTTP status and Zoho's code: duplicate
 * name, number or unique key (3062, 1001, 3080) HS_EEXIST; unknown record (1002, 404)
 * HS_ENOTFOUND; 401/57 HS_EAUTH; 429 (44, 45) HS_ERATELIMIT; other 4xx HS_EINVAL; 5xx HS_EIO.
 */
int hs_zoho_conn_write_status(int http_status, int zoho_code);

/*
 * A webhook body {"<entity>": {...record...}} (contact, invoice, payment, item; creditnote
 * and others are skipped) -> one change. HS_OK, HS_EPROTO, HS_ETOOBIG, HS_ENOMEM; out empty
 * on failure.
 */
HS_MUST_CHECK int hs_zoho_conn_parse_webhook(const uint8_t *buf, size_t len, struct hs_changes *out,
                                             struct hs_error *err);

/* ---- cursors ------------------------------------------------------------------------------ */

/* Most record versions a cursor remembers as already reported, per list (see below). */
#define HS_ZOHO_SEEN_MAX 128

/*
 * The changes() cursor "z1|<since>|<page>|<top>|<old>|<new>": a scan of the list sorted by
 * last_modified_time descending (invoices also filtered by last_modified_time >= since), from
 * the newest record down to <since> (ms, second-aligned; 0 = everything), now at page <page>.
 * <top> is the newest time the scan met (its page 1). <old> lists the versions
 * (hs_zoho_conn_version_hash of id and time, 16 hex digits, comma-separated, may be empty)
 * reported at <since> by the scan before, which this scan lists again and leaves out; <new>
 * those of this scan at <top>, which become <old> when the scan ends and <top> becomes
 * <since>. A change during a scan moves its record to the top, which the next scan reads:
 * nothing is lost at equal times, at worst a record is reported twice.
 */
struct hs_zoho_cursor {
    int64_t since_ms;
    int64_t page;
    int64_t top_ms;
    uint64_t old_seen[HS_ZOHO_SEEN_MAX];
    size_t n_old;
    uint64_t new_seen[HS_ZOHO_SEEN_MAX];
    size_t n_new;
};

/* A record version's hash: FNV-1a 64 of "<id>@<updated_ms>". */
uint64_t hs_zoho_conn_version_hash(const char *id, int64_t updated_ms);

/* Parses a stored cursor (outside bytes, no NUL needed). HS_OK or HS_EINVAL with a message. */
HS_MUST_CHECK int hs_zoho_conn_cursor_parse(const char *s, size_t len, struct hs_zoho_cursor *out,
                                            struct hs_error *err);
/* Formats a cursor into a new string (caller hs_free()s); NULL on ENOMEM. */
char *hs_zoho_conn_cursor_format(const struct hs_zoho_cursor *c);

/*
 * One page of a scan: given the cursor used and the page's objects (sorted newest first) and
 * whether more pages follow, fills out_idx (n_out set) with the indexes in page of the changes
 * to report and *next with the following cursor; *out_more says whether the scan goes on.
 * Pure, so the tie rules are unit-tested. out_idx must hold page->n_items entries.
 */
void hs_zoho_conn_cursor_step(const struct hs_zoho_cursor *cur, const struct hs_zoho_page *page,
                              size_t *out_idx, size_t *n_out, struct hs_zoho_cursor *next,
                              bool *out_more);

/* ---- requests we send --------------------------------------------------------------------- */

/*
 * The body for one write: a whole create body, or for an update the fields the changed paths
 * map to (all when w->fields is NULL). *out is a new object (numbers as marked strings: dump
 * with hs_json_dump_exact), or NULL with HS_OK when an update touches nothing Zoho stores.
 * HS_EINVAL with a message a finance user can act on, HS_ENOMEM.
 */
HS_MUST_CHECK int hs_zoho_conn_build(enum hs_kind kind, const struct hs_write *w,
                                     const struct hs_zoho_opts *o, json_t **out,
                                     struct hs_error *err);

/* ---- the contact's person ------------------------------------------------------------------- */

/* Record meta of a customer: the id and first name of the person its canonical given_name,
 * family_name, email and phone come from (the primary contact person). */
#define HS_ZOHO_META_PERSON "contact_person_id"
#define HS_ZOHO_META_FIRST  "contact_person_first_name"
/* The canonical paths of a contact's person that are left out of the sync on a contact we did
 * not create (its meta HS_META_UNSYNCED; its phone syncs, and is HS_META_READ_ONLY only when
 * the contact has no person to hold it). */
#define HS_ZOHO_PERSON_PATHS "given_name,family_name,email"

/*
 * True when contact (a Zoho contact object with its custom_fields, as GET /contacts/{id} and
 * every write answer it) is one we created: its unique field (o->unique_field, which every
 * create sets through the upsert) has a value. Its primary person is then the CRM contact,
 * which we keep in sync; any other contact's persons are the accounts team's.
 */
bool hs_zoho_conn_owned(const json_t *contact, const struct hs_zoho_opts *o);

/*
 * The body of the person update of a customer update w: {"contact_id", "first_name", and the
 * changed ones of last_name, email, phone}, for PUT /contacts/contactpersons/{*out_pid} (the
 * record's meta HS_ZOHO_META_PERSON) or, when the contact has no person yet (*out_pid NULL),
 * POST /contacts/contactpersons. *out NULL (HS_OK) when w changes no person field, or only
 * fields the record's meta leaves out (HS_META_UNSYNCED, HS_META_READ_ONLY: a person we do not
 * own is never written). Only that person is touched: the contact's other persons stay. The
 * first name goes along (the changed one, else the one the person has: meta
 * HS_ZOHO_META_FIRST); a cleared first name is kept (Zoho requires one), and without a first
 * name no new person is made (*out NULL). *out_pid is borrowed from w->record. HS_OK or
 * HS_ENOMEM.
 */
HS_MUST_CHECK int hs_zoho_conn_build_person(const struct hs_write *w, json_t **out,
                                            const char **out_pid, struct hs_error *err);

/* ---- client (zohobooks_client.c) ------------------------------------------------------------ */

struct hs_connector {
    struct hs_connector_config cfg; /* pointers borrowed */
    struct hs_zoho_opts opts;
    char *app_url; /* owned copies of the settings strings */
    char *unique_field;
    char *payment_mode;
    bool mark_sent; /* setting invoice_status "sent" (default) or "draft" */
    size_t max_concurrency;
    struct hs_rate_window windows[4]; /* setting "rate_limits" (n_windows 0: none) */
    size_t n_windows;
    json_t *currencies; /* contact id -> currency code of the contacts this handle has seen */
};

/* Extra headers of one call (NULL: none). */
struct hs_zoho_upsert {
    const char *key;   /* X-Unique-Identifier-Key */
    const char *value; /* X-Unique-Identifier-Value */
};

/*
 * Sends one request to "<base_url>/books/v3/<rel>" (rel may carry a query; organization_id is
 * added) with Accept: application/json, through the common request helper (limiter in scope
 * "day", token, retries; a 429 waits 60 s: Zoho sends no Retry-After). upsert adds the upsert
 * headers and X-Upsert: true. The final answer's HTTP status goes to *out_status and its body
 * to out, whatever the status; the return is HS_OK when an answer came (check *out_status),
 * else the transport or token error.
 */
HS_MUST_CHECK int hs_zoho_conn_send(struct hs_connector *c, const char *method, const char *rel,
                                    const struct hs_zoho_upsert *upsert, const char *body,
                                    size_t body_len, int *out_status, struct hs_buf *out,
                                    struct hs_error *err);

/* hs_zoho_conn_send, and a non-2xx answer becomes the mapped code with Zoho's message. */
HS_MUST_CHECK int hs_zoho_conn_call(struct hs_connector *c, const char *method, const char *rel,
                                    struct hs_buf *out, struct hs_error *err);

#endif
