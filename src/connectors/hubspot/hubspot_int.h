/*
 * connectors/hubspot/hubspot_int.h - interface between the files of the HubSpot connector.
 *
 * Design:     hubspot_parse.c turns HubSpot bytes into plain structures and canonical records
 *             and back (no I/O, fuzzed by fuzz/fuzz_hubspot_parse.c); hubspot_client.c sends
 *             requests through connectors/common/request.h and hands the answers to the parser;
 *             hubspot.c is the ops table (hs_connector_hubspot_ops) that strings them together.
 *             One mapping list (struct hs_hubspot_map, built from a default table plus the
 *             connection's settings) drives both directions: for every canonical field path
 *             of a kind it names the HubSpot property, the value conversion and whether
 *             hoopsync may write it. Records are built through the field view
 *             (hs_record_from_fields), so whatever the parser produces is canonical.
 * Ownership:  every struct here owns its strings and JSON references; the _release functions
 *             free them and leave the struct empty.
 * Not here:   retries, token refresh and rate limiting (connectors/common/request.c).
 */
#ifndef HS_CONNECTORS_HUBSPOT_INT_H
#define HS_CONNECTORS_HUBSPOT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hoopsync/common.h"
#include "hoopsync/connector.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"

/* HubSpot object types the connector touches. */
enum hs_hubspot_obj {
    HS_HUBSPOT_COMPANIES = 0,
    HS_HUBSPOT_CONTACTS,
    HS_HUBSPOT_DEALS,
    HS_HUBSPOT_LINE_ITEMS,
    HS_HUBSPOT_PRODUCTS,
    HS_HUBSPOT_N_OBJ
};

/* Path segment ("companies") and last-modified property of an object type. */
const char *hs_hubspot_obj_name(enum hs_hubspot_obj o);
const char *hs_hubspot_obj_lastmod(enum hs_hubspot_obj o);

/* Association type ids (HubSpot-defined). */
#define HS_HUBSPOT_ASSOC_COMPANY_CONTACT_PRIMARY 2
#define HS_HUBSPOT_ASSOC_DEAL_COMPANY_PRIMARY    5
#define HS_HUBSPOT_ASSOC_CONTACT_COMPANY_PRIMARY 1

/* Caps on what the parser accepts from one answer. */
#define HS_HUBSPOT_MAX_BODY    ((size_t)32 * 1024 * 1024)
#define HS_HUBSPOT_MAX_RESULTS 10000
#define HS_HUBSPOT_MAX_ID      64
#define HS_HUBSPOT_MAX_EVENTS  1000
/* Webhook timestamps older (or further in the future) than this are refused. */
#define HS_HUBSPOT_WEBHOOK_MAX_AGE_MS ((int64_t)5 * 60 * 1000)

/* ---- settings and the field <-> property mapping ------------------------------------- */

enum hs_hubspot_conv {
    HS_HUBSPOT_STR = 0, /* string as is ("" = absent) */
    HS_HUBSPOT_MONEY,   /* decimal string in the record's (or line's) currency */
    HS_HUBSPOT_DECIMAL, /* decimal string */
    HS_HUBSPOT_DATE,    /* date or datetime property <-> YYYY-MM-DD (UTC) */
    HS_HUBSPOT_COUNTRY, /* two letters <-> ISO 3166-1 alpha-2 (other text is left out) */
    HS_HUBSPOT_CURRENCY,
    HS_HUBSPOT_STATUS, /* hoopsync_payment_status <-> enum hs_invoice_status */
};

enum hs_hubspot_src {
    HS_HUBSPOT_SRC_MAIN = 0, /* the object itself (company, product, deal) */
    HS_HUBSPOT_SRC_CONTACT,  /* a customer's primary contact */
    HS_HUBSPOT_SRC_LINE,     /* an invoice line's line item: field is relative ("quantity") */
};

struct hs_hubspot_map {
    enum hs_kind kind;
    enum hs_hubspot_src src;
    char *field; /* canonical field path ("billing_address.city", "custom.industry") */
    char *prop;  /* HubSpot property name */
    enum hs_hubspot_conv conv;
    bool read_only; /* never written by hoopsync */
};

struct hs_hubspot_settings {
    char currency[4];  /* default currency of amounts without one (default "USD") */
    char **won_stages; /* deal stages that make a deal an invoice (default "closedwon") */
    size_t n_won_stages;
    char *pipeline;    /* only deals of this pipeline (NULL: any) */
    char *webhook_url; /* public URL of the webhook endpoint, for signatures (NULL: from Host) */
    struct hs_hubspot_map *maps;
    size_t n_maps;
};

/*
 * Reads the connection settings (a JSON object or NULL) into out, applying the defaults of
 * docs/modules/connector-hubspot.md. HS_OK, HS_EINVAL (wrong member type, unknown field in
 * "properties", bad currency; message names the member), HS_ENOMEM. out is released on
 * failure.
 */
HS_MUST_CHECK int hs_hubspot_settings_parse(const json_t *settings, struct hs_hubspot_settings *out,
                                            struct hs_error *err);
void hs_hubspot_settings_release(struct hs_hubspot_settings *s);
/* The properties to ask for when reading objects of kind from src (new JSON array; NULL on
 * ENOMEM); includes the object's last-modified property. */
json_t *hs_hubspot_props_for(const struct hs_hubspot_settings *s, enum hs_kind kind,
                             enum hs_hubspot_src src);

/*
 * describe_fields (hoopsync/connector.h): the HubSpot properties that the maps of settings (a
 * const json_t * object or NULL, parsed as hs_hubspot_settings_parse does) read into canonical
 * fields of kind, in map order: the object's and its primary contact's. Line item properties
 * are left out (they fill invoice lines, which `mappings:` cannot name). HS_OK, HS_EINVAL (bad
 * settings), HS_ENOMEM.
 */
HS_MUST_CHECK int hs_hubspot_describe_fields(const void *settings, enum hs_kind kind,
                                             struct hs_field_names *out, struct hs_error *err);

/* ---- answers ----------------------------------------------------------------------------- */

/* One CRM object of an answer. */
struct hs_hubspot_obj_rec {
    char *id;
    json_t *props;      /* object of property name -> string (integers kept as text) */
    int64_t updated_ms; /* updatedAt (or the last-modified property), 0 unknown */
    char *trace;        /* objectWriteTraceId echoed, or NULL */
};

/* One StandardError of a batch answer. */
struct hs_hubspot_batch_err {
    int code;        /* HS_ENOTFOUND, HS_EEXIST, HS_EINVAL or HS_EPROTO, from the category */
    char *message;   /* provider text */
    json_t *context; /* the error's context object (new reference, may be NULL) */
};

/* A batch, search or list answer. */
struct hs_hubspot_page {
    struct hs_hubspot_obj_rec *objs;
    size_t n_objs;
    struct hs_hubspot_batch_err *errs;
    size_t n_errs;
    char *after;   /* paging.next.after, or NULL on the last page */
    int64_t total; /* search "total", -1 when absent */
};

/*
 * Parses a HubSpot object answer ({"results":[...],"errors":[...],"paging":...,"total":n};
 * outside bytes, no NUL needed). Records without an id are an error. HS_OK; HS_EPROTO (not
 * JSON, wrong shape: message says where); HS_ETOOBIG (over HS_HUBSPOT_MAX_BODY or
 * HS_HUBSPOT_MAX_RESULTS); HS_ENOMEM. out is empty on failure.
 */
HS_MUST_CHECK int hs_hubspot_parse_page(const uint8_t *buf, size_t len, struct hs_hubspot_page *out,
                                        struct hs_error *err);
void hs_hubspot_page_release(struct hs_hubspot_page *p);

/* One association of an associations v4 batch read answer. */
struct hs_hubspot_assoc {
    char *from;
    char *to;
    bool primary; /* one of its types is the pair's primary type (given to the parser) */
};

struct hs_hubspot_assocs {
    struct hs_hubspot_assoc *items;
    size_t n_items;
};

/*
 * Parses an associations v4 batch/read answer; primary_type marks the associations that carry
 * that type id (0: none). Missing objects (its errors[]) are simply absent. Same codes as
 * hs_hubspot_parse_page.
 */
HS_MUST_CHECK int hs_hubspot_parse_assocs(const uint8_t *buf, size_t len, int32_t primary_type,
                                          struct hs_hubspot_assocs *out, struct hs_error *err);
void hs_hubspot_assocs_release(struct hs_hubspot_assocs *a);
/* The associated object chosen for from: the lowest id among the primary ones, else the
 * lowest id of all; NULL when none. Borrowed from a. */
const char *hs_hubspot_assocs_pick(const struct hs_hubspot_assocs *a, const char *from);

/* Numeric order of HubSpot ids (shorter is smaller, then byte order). */
int hs_hubspot_id_cmp(const char *a, const char *b);

/* ---- records ------------------------------------------------------------------------------ */

/* company (+ its primary contact, may be NULL) -> HS_KIND_CUSTOMER */
HS_MUST_CHECK int hs_hubspot_to_customer(const struct hs_hubspot_settings *s,
                                         const struct hs_hubspot_obj_rec *company,
                                         const struct hs_hubspot_obj_rec *contact,
                                         struct hs_record **out, struct hs_error *err);
/* product -> HS_KIND_ITEM */
HS_MUST_CHECK int hs_hubspot_to_item(const struct hs_hubspot_settings *s,
                                     const struct hs_hubspot_obj_rec *product,
                                     struct hs_record **out, struct hs_error *err);
/* deal + its company id (may be NULL) + its line items (any order; sorted by id) ->
 * HS_KIND_INVOICE */
HS_MUST_CHECK int
hs_hubspot_to_invoice(const struct hs_hubspot_settings *s, const struct hs_hubspot_obj_rec *deal,
                      const char *company_id, const struct hs_hubspot_obj_rec *const *lines,
                      size_t n_lines, struct hs_record **out, struct hs_error *err);

/*
 * The HubSpot properties that write rec: only the fields named (NULL: every present mapped
 * field; a named field that is absent clears its property with ""), skipping read-only and
 * unmapped ones. Main-object properties go to *out_props, a customer's contact properties to
 * *out_contact (new objects, possibly empty). A field mapped to both (the default phone) is in
 * both; the caller keeps the one it writes (hubspot.c: the contact's when there is one). HS_OK,
 * HS_EINVAL (a value HubSpot cannot take, message names the field), HS_ENOMEM. Both NULL on
 * failure.
 */
HS_MUST_CHECK int hs_hubspot_props_of(const struct hs_hubspot_settings *s,
                                      const struct hs_record *rec, const char *const *fields,
                                      size_t n_fields, json_t **out_props, json_t **out_contact,
                                      struct hs_error *err);

/* ---- cursors, time, webhooks ------------------------------------------------------------ */

/*
 * Where the customers' change feed stands between two changes() calls. A customer is a company
 * plus its primary contact, and editing a contact does not move its company's
 * hs_lastmodifieddate, so that feed follows two searches: companies, then contacts (whose
 * companies it announces). Each position is the (last modified ms, id) of the last result.
 */
enum hs_hubspot_phase {
    HS_HUBSPOT_PHASE_FIRST = 0, /* contacts position just taken: the companies' end ends the run */
    HS_HUBSPOT_PHASE_MAIN,      /* paging the object's own search (companies) */
    HS_HUBSPOT_PHASE_CONTACTS,  /* paging the contacts search */
};

struct hs_hubspot_cursor {
    int64_t ms;         /* the object's own search: last result's modified time (ms) ... */
    int64_t id;         /* ... and id */
    bool has_contacts;  /* the contacts position below is set (customers only) */
    int64_t contact_ms; /* contacts search: last result's lastmodifieddate (ms) ... */
    int64_t contact_id; /* ... and id (INT64_MAX: nothing at contact_ms is left to announce) */
    enum hs_hubspot_phase phase;
};

/*
 * Parses a stored cursor (outside bytes, no NUL needed): "v1:<ms>:<id>" (the object's own
 * search only; deals, products, and customers before the contacts feed existed) or
 * "v2:<ms>:<id>:<contact ms>:<contact id>:<phase>" with phase first|companies|contacts.
 * Numbers are decimal, 0..INT64_MAX. HS_OK or HS_EINVAL ("invalid HubSpot cursor '...'").
 */
HS_MUST_CHECK int hs_hubspot_cursor_parse(const char *s, size_t len, struct hs_hubspot_cursor *out,
                                          struct hs_error *err);
/* The text of c ("v1" without contacts, else "v2"): new string (caller hs_free()s) or NULL on
 * ENOMEM. hs_hubspot_cursor_parse gives c back. */
char *hs_hubspot_cursor_format(const struct hs_hubspot_cursor *c);

/* Epoch milliseconds ("1735689600000"), "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM)"
 * from (s, len). HS_OK or HS_EINVAL. */
HS_MUST_CHECK int hs_hubspot_parse_time(const char *s, size_t len, int64_t *out_ms);

/*
 * Checks X-HubSpot-Signature-v3: base64(HMAC-SHA256(secret, method + uri + body + timestamp))
 * in constant time, and that the timestamp (ms) is within HS_HUBSPOT_WEBHOOK_MAX_AGE_MS of
 * now_ms. HS_OK or HS_EAUTH with the reason (missing header, stale timestamp, mismatch).
 */
HS_MUST_CHECK int hs_hubspot_verify_signature(const char *secret, const char *method,
                                              const char *uri, const uint8_t *body, size_t len,
                                              const char *timestamp, const char *signature,
                                              int64_t now_ms, struct hs_error *err);

/*
 * Parses a webhook delivery (a JSON array of HubSpot v3 events) into changes with kind and
 * objectId: company.* -> customer, deal.* -> invoice, product.* -> item (other subscription
 * types are skipped); *.deletion sets deleted. updated_at = occurredAt.
 * Same codes as hs_hubspot_parse_page; out is empty on failure.
 */
HS_MUST_CHECK int hs_hubspot_parse_events(const uint8_t *buf, size_t len, struct hs_changes *out,
                                          struct hs_error *err);

/* ---- client (hubspot_client.c) ------------------------------------------------------------ */

/*
 * Sends method path (below cfg->base_url) with an optional JSON body through
 * hs_conn_request (scope "search" for searches, else "all"). 2xx and 207 are HS_OK with the
 * answer in resp; ok_409 also accepts 409. Otherwise HS_ETOOBIG for HubSpot's "too many
 * inputs" 400, or hs_conn_check's mapping with HubSpot's message.
 */
HS_MUST_CHECK int hs_hubspot_client_call(const struct hs_connector_config *cfg, const char *method,
                                         const char *path, const json_t *body, bool ok_409,
                                         struct hs_http_response *resp, struct hs_error *err);
/* POST /crm/v3/objects/{obj}/batch/read for ids (n <= 100) with properties. */
HS_MUST_CHECK int hs_hubspot_client_batch_read(const struct hs_connector_config *cfg,
                                               enum hs_hubspot_obj obj, const char *const *ids,
                                               size_t n, const json_t *props,
                                               struct hs_hubspot_page *out, struct hs_error *err);
/* POST /crm/v3/objects/{obj}/batch/{op} with {"inputs": inputs}. */
HS_MUST_CHECK int hs_hubspot_client_batch_write(const struct hs_connector_config *cfg,
                                                enum hs_hubspot_obj obj, const char *op,
                                                const json_t *inputs, struct hs_hubspot_page *out,
                                                struct hs_error *err);
/* POST /crm/v3/objects/{obj}/search with body. */
HS_MUST_CHECK int hs_hubspot_client_search(const struct hs_connector_config *cfg,
                                           enum hs_hubspot_obj obj, const json_t *body,
                                           struct hs_hubspot_page *out, struct hs_error *err);
/* POST /crm/v4/associations/{from}/{to}/batch/read for ids (n <= 1000). */
HS_MUST_CHECK int hs_hubspot_client_assoc_read(const struct hs_connector_config *cfg,
                                               enum hs_hubspot_obj from, enum hs_hubspot_obj to,
                                               const char *const *ids, size_t n,
                                               int32_t primary_type, struct hs_hubspot_assocs *out,
                                               struct hs_error *err);

#endif
