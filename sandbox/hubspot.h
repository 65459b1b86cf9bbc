/*
 * sandbox/hubspot.h - internal interface between the files of the HubSpot CRM v3 emulator.
 *
 * Design:     one struct hs_hubspot per sandbox holds one portal (tenant) with five object
 *             stores (companies, contacts, deals, line_items, products). A store keeps its
 *             records in an array sorted by id (ids only grow, so appends keep the order and
 *             list paging is a binary search) plus an open-addressing hash map id -> record,
 *             so reads and writes never scan. Property values live in a jansson object per
 *             record (all strings, as HubSpot sends them); createdate, the last-modified
 *             property and hs_object_id are computed from the record's fields when read.
 *             Each store also has its property definitions (built-in plus custom ones created
 *             through the properties API) and, for every hasUniqueValue property, an index
 *             value -> id. Associations are kept on both records of a pair, each side with
 *             its own HubSpot association type id (deal->company 5, company->deal 6, ...).
 *             hubspot_store.c owns the data structures, hubspot_objects.c the object
 *             endpoints, hubspot_meta.c properties, pipelines and associations v4, and
 *             hubspot.c the module table, auth, rate limits, OAuth, webhooks, seeding and
 *             persistence.
 * Invariants: store->recs is sorted by id; every record in recs is in map and vice versa;
 *             an association a->b of type t exists iff b->a of type inverse(t) exists; a
 *             unique index maps exactly the live records' values of that property.
 * Threads:    every function here runs under the sandbox state lock (sbx.h).
 * Ownership:  the struct hs_hubspot owns every record, definition and index.
 * Not here:   the HTTP server, router and emulator core (net/, sandbox/sbx.c).
 */
#ifndef HS_SANDBOX_HUBSPOT_H
#define HS_SANDBOX_HUBSPOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hoopsync/error.h"
#include "net/http.h"
#include "net/router.h"
#include "sandbox/sbx.h"

#define HS_HUB_PORTAL_ID     21430001
#define HS_HUB_APP_ID        1894321
#define HS_HUB_USER_ID       7654321
#define HS_HUB_MAX_BATCH     100
#define HS_HUB_MAX_LIST      100
#define HS_HUB_MAX_SEARCH    200
#define HS_HUB_SEARCH_CAP    10000
#define HS_HUB_ACCESS_TTL_S  1800
#define HS_HUB_BURST_LIMIT   100
#define HS_HUB_BURST_MS      10000
#define HS_HUB_SEARCH_LIMIT  5
#define HS_HUB_DAILY_LIMIT   250000
#define HS_HUB_MAX_PROPS     1000
#define HS_HUB_MAX_VALUE_LEN 65536

enum hs_hub_type {
    HS_HUB_COMPANIES = 0,
    HS_HUB_CONTACTS,
    HS_HUB_DEALS,
    HS_HUB_LINE_ITEMS,
    HS_HUB_PRODUCTS,
    HS_HUB_N_TYPES
};

/* Static description of one object type. */
struct hs_hub_type_info {
    const char *name;            /* "companies": path segment */
    const char *singular;        /* "company" */
    const char *type_id;         /* "0-2" */
    const char *upper;           /* "COMPANY" (error messages) */
    const char *lastmod;         /* "hs_lastmodifieddate", "lastmodifieddate" for contacts */
    const char *webhook;         /* webhook subscription prefix ("company") or NULL */
    const char *group;           /* default property group */
    const char *const *defaults; /* properties returned when none are requested */
};

extern const struct hs_hub_type_info hs_hub_types[HS_HUB_N_TYPES];

/* Property value kinds that change validation, comparison and formatting. */
enum hs_hub_kind {
    HS_HUB_STRING = 0,
    HS_HUB_NUMBER,
    HS_HUB_DATETIME,
    HS_HUB_DATE,
    HS_HUB_BOOL,
    HS_HUB_ENUM,
};

struct hs_hub_prop {
    char *name;
    char *label;
    char *type;       /* HubSpot type: string, number, datetime, date, bool, enumeration */
    char *field_type; /* text, number, date, select, booleancheckbox, ... */
    char *group;
    char *description;
    enum hs_hub_kind kind;
    bool unique;
    bool read_only;
    bool hubspot_defined;
    bool computed; /* createdate / last-modified / hs_object_id: not stored in props */
    int32_t display_order;
    int64_t created_ms;
    int64_t updated_ms;
    json_t *options; /* array of {label,value,displayOrder,hidden} (never NULL) */
    json_t *index;   /* unique only: value -> integer id */
};

struct hs_hub_assoc {
    int64_t to_id;
    int32_t type_id;
    uint8_t to_type;
};

struct hs_hub_record {
    int64_t id;
    int64_t created_ms;
    int64_t updated_ms;
    int64_t archived_ms;
    bool archived;
    json_t *props; /* stored property values, all strings */
    struct hs_hub_assoc *assocs;
    size_t n_assocs;
    size_t cap_assocs;
};

struct hs_hub_idmap {
    int64_t *keys; /* 0 = empty slot (ids are > 0) */
    struct hs_hub_record **vals;
    size_t cap; /* power of two */
    size_t n;
};

struct hs_hub_store {
    struct hs_hub_record **recs; /* sorted by id */
    size_t n;
    size_t cap;
    struct hs_hub_idmap map;
    struct hs_hub_prop *props;
    size_t n_props;
    size_t cap_props;
    json_t *prop_idx; /* name -> integer index into props */
    json_t *groups;   /* array of {name,label,displayOrder,archived} */
};

struct hs_hub_route;

struct hs_hubspot {
    struct hs_sbx *sbx;
    int64_t portal_id;
    char portal_str[24];
    int64_t next_id;
    int64_t next_event_id;
    struct hs_hub_store stores[HS_HUB_N_TYPES];
    json_t *tokens;    /* access token -> expiry ms (issued through our token endpoints) */
    struct hs_rng rng; /* correlation ids (own stream: never shifts other modules' data) */
    struct hs_hub_route *routes;
    size_t n_routes;
};

/* ---- hubspot_store.c ---- */
HS_MUST_CHECK int hs_hub_store_init(struct hs_hub_store *s, enum hs_hub_type t, int64_t now_ms);
void hs_hub_store_release(struct hs_hub_store *s);
/* Type by path segment: plural, singular or type id ("companies", "company", "0-2"); -1. */
int hs_hub_type_parse(const char *s);
struct hs_hub_record *hs_hub_find(const struct hs_hub_store *s, int64_t id);
/* Finds by id string (idprop NULL or "hs_object_id") or by a unique property's value. */
struct hs_hub_record *hs_hub_find_str(const struct hs_hub_store *s, const char *id,
                                      const char *idprop);
const struct hs_hub_prop *hs_hub_prop_get(const struct hs_hub_store *s, const char *name);
/* Adds a definition (copied strings; options borrowed and increfed, may be NULL). */
HS_MUST_CHECK int hs_hub_prop_add(struct hs_hub_store *s, const struct hs_hub_prop *def);
enum hs_hub_kind hs_hub_kind_of(const char *type);
/* New empty record with the given id (created/updated = now) appended to s. */
HS_MUST_CHECK int hs_hub_record_new(struct hs_hub_store *s, int64_t id, int64_t now_ms,
                                    struct hs_hub_record **out);
/* Inserts a fully built record (load): keeps recs sorted. Takes rec on success. */
HS_MUST_CHECK int hs_hub_record_insert(struct hs_hub_store *s, struct hs_hub_record *rec);
void hs_hub_record_free(struct hs_hub_record *r);
/* Sets (value != NULL and != "") or clears one stored property value, keeping the unique
 * index current. The value must already be valid and normalized. */
HS_MUST_CHECK int hs_hub_record_set(struct hs_hub_store *s, struct hs_hub_record *r,
                                    const struct hs_hub_prop *p, const char *value);
/* Marks archived and drops its unique-index entries and associations (both sides). */
void hs_hub_record_archive(struct hs_hubspot *st, enum hs_hub_type t, struct hs_hub_record *r,
                           int64_t now_ms);
/* Value of property name on r (stored or computed), or NULL. tmp holds computed ones. */
const char *hs_hub_value(enum hs_hub_type t, const struct hs_hub_record *r, const char *name,
                         char tmp[64]);

/* Association type ids: to-type for (from, type_id), inverse id, and the default type. */
int hs_hub_assoc_target(enum hs_hub_type from, int32_t type_id);
int32_t hs_hub_assoc_inverse(int32_t type_id);
int32_t hs_hub_assoc_default(enum hs_hub_type from, enum hs_hub_type to);
int32_t hs_hub_assoc_primary(enum hs_hub_type from, enum hs_hub_type to); /* 0 = none */
const char *hs_hub_assoc_name(int32_t type_id);                           /* "deal_to_company" */
const char *hs_hub_assoc_label(int32_t type_id);                          /* "Primary" or NULL */
/* Adds a->b with type_id and b->a with the inverse (idempotent). */
HS_MUST_CHECK int hs_hub_assoc_add(struct hs_hubspot *st, enum hs_hub_type ta,
                                   struct hs_hub_record *a, enum hs_hub_type tb,
                                   struct hs_hub_record *b, int32_t type_id);
/* Removes every association between a and b (both sides). */
void hs_hub_assoc_remove_pair(struct hs_hubspot *st, enum hs_hub_type ta, struct hs_hub_record *a,
                              enum hs_hub_type tb, struct hs_hub_record *b);
bool hs_hub_assoc_has(const struct hs_hub_record *a, enum hs_hub_type tb, int64_t b_id,
                      int32_t type_id);

/* Label and probability ("0.2") of a default-pipeline deal stage id. */
const char *hs_hub_stage_label(const char *id);
const char *hs_hub_stage_probability(const char *id);

/* ---- value helpers (hubspot_store.c) ---- */
void hs_hub_iso(int64_t ms, char out[32]);
/* Parses epoch ms digits, "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM)". */
HS_MUST_CHECK int hs_hub_parse_time(const char *s, int64_t *out_ms);
/* Parses a decimal string into micro-units. */
HS_MUST_CHECK int hs_hub_parse_decimal(const char *s, int64_t *out_micro);
/* Validates and normalizes a value for p: writes the stored form into *out (hs_malloc'd, or
 * NULL to clear). On invalid input returns HS_EINVAL with the HubSpot error code name in
 * *out_code and a message in msg. */
HS_MUST_CHECK int hs_hub_normalize(const struct hs_hub_prop *p, const char *value, char **out,
                                   const char **out_code, char *msg, size_t msg_len);
/* What to write of a record (SimplePublicObject and friends). */
struct hs_hub_out {
    const json_t *props; /* names asked for (array); NULL or empty: the type's defaults */
    const json_t *extra; /* with the defaults: also these keys (the names just written) */
    unsigned assoc_mask; /* bit per enum hs_hub_type: add "associations" of those types */
    int is_new;          /* -1: no "new" member; 0/1: upsert's "new" */
    const char *trace;   /* objectWriteTraceId to echo, or NULL */
};
/* Appends r as HubSpot JSON to b. */
HS_MUST_CHECK int hs_hub_record_write(struct hs_buf *b, enum hs_hub_type t,
                                      const struct hs_hub_record *r, const struct hs_hub_out *o);
/* Appends s as a JSON string literal. */
HS_MUST_CHECK int hs_hub_json_str(struct hs_buf *b, const char *s);
/* Makes b (JSON text) the answer's body with status; b is emptied. */
HS_MUST_CHECK int hs_hub_reply_buf(struct hs_http_response *resp, int status, struct hs_buf *b);

/* ---- hubspot.c helpers shared with the endpoint files ---- */
int64_t hs_hub_now(struct hs_hubspot *st);
int64_t hs_hub_new_id(struct hs_hubspot *st);
void hs_hub_uuid(struct hs_hubspot *st, char out[37]);
/* Writes HubSpot's error body {"status":"error","message",...,"correlationId","category"}
 * merged with extra (stolen, may be NULL). Returns HS_OK or HS_ENOMEM. */
int hs_hub_error(struct hs_hubspot *st, struct hs_http_response *resp, int status,
                 const char *category, json_t *extra, const char *fmt, ...) HS_PRINTF(6, 7);
/* Answers 500-free ENOMEM: returns rc after trying to write a generic error. */
int hs_hub_fail(struct hs_hubspot *st, struct hs_http_response *resp, int rc);
/* Parses the JSON request body; on failure writes HubSpot's 400 and returns HS_EINVAL. */
int hs_hub_body(struct hs_hubspot *st, const struct hs_http_request *req,
                struct hs_http_response *resp, json_t **out);
/* Every value of query parameter key (repeated and/or comma separated): new array or NULL on
 * ENOMEM; empty array when absent. */
json_t *hs_hub_query_list(const struct hs_http_request *req, const char *key);
/* Emits webhook events for a change of r: kind "creation", "deletion" or "propertyChange"
 * (then prop/value name the change). No-op for types without webhooks. */
void hs_hub_emit(struct hs_hubspot *st, enum hs_hub_type t, const struct hs_hub_record *r,
                 const char *kind, const char *prop, const char *value);
/* Writes a batch response envelope: results (stolen), errors (stolen, may be NULL/empty). */
int hs_hub_batch_reply_text(struct hs_hubspot *st, struct hs_http_response *resp, int ok_status,
                            int64_t started_ms, struct hs_buf *results, json_t *errors);
int hs_hub_batch_reply(struct hs_hubspot *st, struct hs_http_response *resp, int ok_status,
                       int64_t started_ms, json_t *results, json_t *errors);
json_t *hs_hub_std_error(const char *category, const char *message, json_t *context);

/* ---- endpoint handlers (hubspot_objects.c, hubspot_meta.c) ---- */
typedef int (*hs_hub_fn)(struct hs_hubspot *st, const struct hs_http_request *req,
                         const struct hs_route_match *m, struct hs_http_response *resp);

int hs_hub_obj_list(struct hs_hubspot *st, const struct hs_http_request *req,
                    const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_obj_create(struct hs_hubspot *st, const struct hs_http_request *req,
                      const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_obj_read(struct hs_hubspot *st, const struct hs_http_request *req,
                    const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_obj_update(struct hs_hubspot *st, const struct hs_http_request *req,
                      const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_obj_archive(struct hs_hubspot *st, const struct hs_http_request *req,
                       const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_obj_batch(struct hs_hubspot *st, const struct hs_http_request *req,
                     const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_obj_search(struct hs_hubspot *st, const struct hs_http_request *req,
                      const struct hs_route_match *m, struct hs_http_response *resp);

int hs_hub_props_list(struct hs_hubspot *st, const struct hs_http_request *req,
                      const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_props_get(struct hs_hubspot *st, const struct hs_http_request *req,
                     const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_props_create(struct hs_hubspot *st, const struct hs_http_request *req,
                        const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_groups_list(struct hs_hubspot *st, const struct hs_http_request *req,
                       const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_groups_get(struct hs_hubspot *st, const struct hs_http_request *req,
                      const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_groups_create(struct hs_hubspot *st, const struct hs_http_request *req,
                         const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_pipelines(struct hs_hubspot *st, const struct hs_http_request *req,
                     const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_assoc_put_default(struct hs_hubspot *st, const struct hs_http_request *req,
                             const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_assoc_put(struct hs_hubspot *st, const struct hs_http_request *req,
                     const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_assoc_delete(struct hs_hubspot *st, const struct hs_http_request *req,
                        const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_assoc_list(struct hs_hubspot *st, const struct hs_http_request *req,
                      const struct hs_route_match *m, struct hs_http_response *resp);
int hs_hub_assoc_batch(struct hs_hubspot *st, const struct hs_http_request *req,
                       const struct hs_route_match *m, struct hs_http_response *resp);

/* ---- validation and writes (hubspot_objects.c) ---- */
/* One HubSpot error, built while validating, answered whole (single-object endpoints) or
 * as one StandardError of a 207 batch answer. */
struct hs_hub_err {
    int status; /* 0 = no error */
    const char *category;
    char msg[1024];
    json_t *context; /* owned: {"key":["v",...]} or NULL */
    json_t *errors;  /* owned: ErrorDetail array or NULL */
};
void hs_hub_err_set(struct hs_hub_err *e, int status, const char *category, const char *fmt, ...)
    HS_PRINTF(4, 5);
void hs_hub_err_release(struct hs_hub_err *e);
/* Writes e as the whole answer and releases it. */
int hs_hub_err_reply(struct hs_hubspot *st, struct hs_http_response *resp, struct hs_hub_err *e);
/* e as a StandardError object (new reference or NULL on ENOMEM); releases e. */
json_t *hs_hub_err_std(struct hs_hub_err *e);

/* Validates input properties of type t: *out_norm maps name -> normalized string (or null
 * to clear). HS_EINVAL with e set on invalid input (PROPERTY_DOESNT_EXIST and friends). */
int hs_hub_validate(struct hs_hubspot *st, enum hs_hub_type t, const json_t *props,
                    json_t **out_norm, struct hs_hub_err *e);
/* Checks unique-value constraints of norm against other records than self (may be NULL). */
int hs_hub_check_unique(struct hs_hubspot *st, enum hs_hub_type t, const json_t *norm,
                        const struct hs_hub_record *self, struct hs_hub_err *e);
/* Validates create-input associations ([{to:{id},types:[...]}]) of a record of type t. */
int hs_hub_check_assocs(struct hs_hubspot *st, enum hs_hub_type t, const json_t *assocs,
                        struct hs_hub_err *e);
/* Creates a record of type t with norm (validated) and assocs (checked, may be NULL). */
int hs_hub_create(struct hs_hubspot *st, enum hs_hub_type t, const json_t *norm,
                  const json_t *assocs, struct hs_hub_record **out);
/* Applies norm to r, bumps updatedAt when anything changed, emits propertyChange events. */
int hs_hub_update(struct hs_hubspot *st, enum hs_hub_type t, struct hs_hub_record *r,
                  const json_t *norm);

#endif
