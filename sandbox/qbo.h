/*
 * sandbox/qbo.h - internals of the QuickBooks Online module of hoopsync-sandbox.
 *
 * Design:     the module (quickbooks.c) keeps every realm's entities as jansson objects in
 *             QuickBooks' own JSON shape, so that reads, full and sparse updates, queries and
 *             persistence all work on one representation. Money must never be a double, but
 *             jansson turns JSON numbers into doubles; so request bodies go through
 *             hs_qbo_json_parse, which rewrites every number token into a "marked" string
 *             (HS_QBO_MARK followed by the number's exact text) before jansson sees it, and
 *             responses go through hs_qbo_json_dump, which turns marked strings back into
 *             bare numbers. Code reads numbers with hs_qbo_num_get (exact, fixed scale) and
 *             writes them with hs_qbo_num. A client can never smuggle a marked string in:
 *             the parser refuses U+0001 anywhere in the input.
 *             qbo_json.c: marked numbers, decimal text, Pacific time, currency exponents.
 *             qbo_query.c: the query language parser (fuzzed: fuzz/fuzz_qbo_query.c).
 *             qbo_store.c: tables (records by Id, Id = index + 1) and name indexes.
 *             qbo_txn.c: invoice totals, tax, payments applied to invoices.
 * Invariants: a table's record with Id k sits at index k - 1; deleted records stay as
 *             tombstones (CDC reports them). A name index maps the folded name of every
 *             live record of a name-list entity to its index.
 * Threads:    none of its own: the sandbox core serializes every handler (sbx.h).
 * Ownership:  records own their json_t; hs_qbo_json_parse returns a new reference.
 * Not here:   HTTP routes and the Fault format (quickbooks.c), the emulator core (sbx.c).
 */
#ifndef HS_SANDBOX_QBO_H
#define HS_SANDBOX_QBO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hoopsync/error.h"
#include "util/buf.h"

/* ---- exact numbers inside jansson trees (qbo_json.c) ---- */

#define HS_QBO_MARK  '\x01'
#define HS_QBO_SCALE 6 /* scale of quantities, unit prices, rates and percentages */

/*
 * Parses a JSON request body (buf,len), not NUL-terminated, turning every number into a
 * marked string that keeps its exact text. HS_EPROTO with "line L column C: why" on bad JSON,
 * HS_EINVAL when the input holds U+0001, HS_ETOOBIG past HS_JSON_MAX_BYTES. *out is a new
 * reference.
 */
HS_MUST_CHECK int hs_qbo_json_parse(const uint8_t *buf, size_t len, json_t **out,
                                    struct hs_error *err);
/* Appends the compact JSON of v to out, marked strings written as bare numbers. */
HS_MUST_CHECK int hs_qbo_json_dump(const json_t *v, struct hs_buf *out);
/* A new marked number worth units / 10^scale, written with exactly `scale` decimals (a scale
 * of 0 writes an integer). NULL on ENOMEM. */
json_t *hs_qbo_num(int64_t units, int scale);
/* A marked number written with the fewest decimals that keep its value (2.500000 -> 2.5). */
json_t *hs_qbo_num_short(int64_t units, int scale);
/*
 * Parses decimal text (s,len) ("-12.5", "3", "1e-2") into units of 10^-scale. HS_ERANGE when
 * the value has more decimals than scale allows or overflows; HS_EINVAL when it is no number.
 */
HS_MUST_CHECK int hs_qbo_dec_parse(const char *s, size_t len, int scale, int64_t *out);
/* Formats units / 10^scale with exactly `scale` decimals into out (at least 32 bytes). */
void hs_qbo_dec_format(int64_t units, int scale, char *out, size_t size);
/* True when v is a marked number (or a jansson integer/real, for trees built in code). */
bool hs_qbo_is_num(const json_t *v);
/* Value of a marked number, a jansson integer, or a numeric string, at `scale`. Errors as
 * hs_qbo_dec_parse; HS_EINVAL when v is none of those. */
HS_MUST_CHECK int hs_qbo_num_get(const json_t *v, int scale, int64_t *out);
/* ISO 4217 minor-unit exponent of code (JPY 0, USD 2, KWD 3); 2 for unknown codes. */
int hs_qbo_currency_decimals(const char *code);
/* 128-bit intermediate for products of two scaled decimals (typedef needed for
 * __extension__, which keeps -Wpedantic quiet). */
__extension__ typedef __int128 hs_qbo_i128;
/* Rounds n / d half away from zero (d > 0); saturates to INT64_MIN/MAX (callers check). */
int64_t hs_qbo_div_round(hs_qbo_i128 n, hs_qbo_i128 d);

/* ---- time in the company's zone, US Pacific with daylight saving (qbo_json.c) ---- */

/* "2026-11-23T10:00:00-08:00" into out (at least 32 bytes). */
void hs_qbo_time_format(int64_t ms, char *out, size_t size);
/* "2026-11-23T10:00:00.123-08:00" (the "time" field of every answer). */
void hs_qbo_time_format_ms(int64_t ms, char *out, size_t size);
/* "2026-11-23": the company-local date of ms. */
void hs_qbo_date_format(int64_t ms, char *out, size_t size);
/* Days since 1970-01-01 of a "YYYY-MM-DD" date (s,len). HS_EINVAL when malformed. */
HS_MUST_CHECK int hs_qbo_date_parse(const char *s, size_t len, int64_t *out_days);
/* "YYYY-MM-DD" for days since 1970-01-01. */
void hs_qbo_days_format(int64_t days, char *out, size_t size);
/*
 * Parses an ISO 8601 date-time (s,len): "YYYY-MM-DD[Thh:mm[:ss[.fff]]][Z|+hh:mm|-hhmm]".
 * Without an offset the time (or the date's midnight) is company-local. HS_EINVAL when
 * malformed.
 */
HS_MUST_CHECK int hs_qbo_time_parse(const char *s, size_t len, int64_t *out_ms);

/* ---- the query language (qbo_query.c) ---- */

#define HS_QBO_QUERY_MAX_LEN     65536 /* bytes of query text */
#define HS_QBO_QUERY_MAX_CONDS   32
#define HS_QBO_QUERY_MAX_IN      1000
#define HS_QBO_QUERY_MAX_RESULTS 1000

enum hs_qbo_op { HS_QBO_EQ, HS_QBO_LT, HS_QBO_GT, HS_QBO_LE, HS_QBO_GE, HS_QBO_IN, HS_QBO_LIKE };

struct hs_qbo_value {
    char *text;  /* unquoted, unescaped */
    bool quoted; /* was a 'string' (else a number or true/false) */
};

struct hs_qbo_cond {
    char *field; /* as written: "Metadata.LastUpdatedTime" */
    enum hs_qbo_op op;
    struct hs_qbo_value *values; /* one, or the list of IN (...) */
    size_t n_values;
};

struct hs_qbo_query {
    char *entity; /* as written: "Customer", "invoice" */
    bool count;   /* select count(*) */
    struct hs_qbo_cond *conds;
    size_t n_conds;
    char *orderby; /* NULL when absent */
    bool desc;
    int64_t start; /* startposition, 1-based (default 1) */
    int64_t max;   /* maxresults (default 100, capped at HS_QBO_QUERY_MAX_RESULTS) */
};

/*
 * Parses `select * | count(*) from E [where C [and C]...] [orderby F [asc|desc][, ...]]
 * [startposition N] [maxresults N]` from (buf,len) (not NUL-terminated; keywords are
 * case-insensitive). HS_EINVAL with "what, at column N" on syntax errors, HS_ETOOBIG past
 * HS_QBO_QUERY_MAX_LEN, HS_ENOMEM. *out is NULL on failure; free with hs_qbo_query_free.
 */
HS_MUST_CHECK int hs_qbo_query_parse(const char *buf, size_t len, struct hs_qbo_query **out,
                                     struct hs_error *err);
void hs_qbo_query_free(struct hs_qbo_query *q);

/* ---- records and tables (qbo_store.c) ---- */

struct hs_qbo_rec {
    json_t *obj;        /* QuickBooks JSON of the entity (NULL never) */
    int64_t updated_ms; /* last change, for CDC */
    bool deleted;       /* tombstone */
};

/* Open-addressing map from folded names to record indexes. */
struct hs_qbo_names {
    char **keys;
    uint32_t *vals;
    size_t cap;  /* power of two, or 0 */
    size_t n;    /* live keys */
    size_t used; /* live keys + tombstones */
};

struct hs_qbo_table {
    struct hs_qbo_rec *v;
    size_t n;
    size_t cap;
    struct hs_qbo_names names;
};

void hs_qbo_table_init(struct hs_qbo_table *t);
void hs_qbo_table_release(struct hs_qbo_table *t);
/* Appends a record owning obj (reference stolen, also on failure); *out_index its index. */
HS_MUST_CHECK int hs_qbo_table_add(struct hs_qbo_table *t, json_t *obj, int64_t now_ms,
                                   size_t *out_index);
/* Record for Id text (s), or NULL (not a number, out of range). Tombstones are returned. */
struct hs_qbo_rec *hs_qbo_table_get(struct hs_qbo_table *t, const char *id);

/* Folds a name for uniqueness: trimmed, ASCII lower case. Caller frees; NULL on ENOMEM. */
char *hs_qbo_name_fold(const char *name);
/* Index of the record with that name (folded inside), or -1. */
long hs_qbo_names_find(const struct hs_qbo_names *m, const char *name);
HS_MUST_CHECK int hs_qbo_names_put(struct hs_qbo_names *m, const char *name, uint32_t index);
void hs_qbo_names_del(struct hs_qbo_names *m, const char *name);
void hs_qbo_names_release(struct hs_qbo_names *m);

/* ---- realms and operation context (quickbooks.c, qbo_txn.c) ---- */

enum hs_qbo_ent {
    HS_QBO_CUSTOMER,
    HS_QBO_ITEM,
    HS_QBO_INVOICE,
    HS_QBO_PAYMENT,
    HS_QBO_TAXCODE,
    HS_QBO_TAXRATE,
    HS_QBO_TERM,
    HS_QBO_ACCOUNT,
    HS_QBO_COMPANYINFO,
    HS_QBO_PREFERENCES,
    HS_QBO_EXCHANGERATE,
    HS_QBO_N_ENT
};

/* Replayed answers of requests that carried ?requestid= */
struct hs_qbo_replay {
    char *key;
    int status;
    char *body;
};

#define HS_QBO_REALM_ID_MAX 24

struct hs_qbo_realm {
    char id[HS_QBO_REALM_ID_MAX];
    struct hs_qbo_table t[HS_QBO_N_ENT];
    int64_t next_docnum;              /* next automatic Invoice.DocNumber */
    struct hs_qbo_names replay_index; /* requestid -> index into replays */
    struct hs_qbo_replay *replays;
    size_t n_replays;
    size_t cap_replays;
};

/* One QuickBooks error, as written into a Fault. */
struct hs_qbo_fault {
    int status;    /* HTTP status (400 for validation faults) */
    char type[24]; /* "ValidationFault" */
    char code[8];  /* "6240" */
    char message[160];
    char detail[512];
    char element[96];
};

struct hs_sbx;

/* What an entity operation sees: the realm, the time, and the batch visibility horizon. */
struct hs_qbo_ctx {
    struct hs_sbx *sbx; /* for webhook events; NULL emits none */
    struct hs_qbo_realm *realm;
    int64_t now_ms;
    const size_t *horizon;      /* per entity: records at index >= horizon[e] are invisible
                                   (creates of the same batch); NULL = all visible */
    struct hs_qbo_fault *fault; /* filled when an operation answers HS_EINVAL */
    bool multicurrency;         /* Preferences.CurrencyPrefs.MultiCurrencyEnabled */
    char home[4];               /* home currency */
};

/* Live (not deleted, visible) record of entity e with that Id, or NULL. */
struct hs_qbo_rec *hs_qbo_lookup(struct hs_qbo_ctx *c, enum hs_qbo_ent e, const char *id);
/* Fills c->fault (ValidationFault, 400) and returns HS_EINVAL. element may be NULL. */
int hs_qbo_fail(struct hs_qbo_ctx *c, const char *code, const char *element, const char *message,
                const char *detail_fmt, ...) HS_PRINTF(5, 6);
/* Common faults. */
int hs_qbo_fail_not_found(struct hs_qbo_ctx *c, const char *element);
int hs_qbo_fail_required(struct hs_qbo_ctx *c, const char *element);
int hs_qbo_fail_business(struct hs_qbo_ctx *c, const char *element, const char *why);
/* Bumps SyncToken and MetaData.LastUpdatedTime of a stored record (rec->updated_ms too). */
HS_MUST_CHECK int hs_qbo_touch(struct hs_qbo_ctx *c, struct hs_qbo_rec *rec);
/* Adds delta (minor units of the customer's currency) to Customer.Balance. */
HS_MUST_CHECK int hs_qbo_customer_balance_add(struct hs_qbo_ctx *c, const char *customer_id,
                                              int64_t delta);
/* Webhook event for a change (quickbooks.c). */
void hs_qbo_changed(struct hs_qbo_ctx *c, enum hs_qbo_ent e, const char *id, const char *operation);

/* ---- transactions (qbo_txn.c) ---- */

/*
 * Completes a candidate invoice in place: checks the customer, items, tax codes and terms,
 * rebuilds Line[] (amounts, a SubTotalLineDetail line), computes TxnTaxDetail, TotalAmt,
 * Balance (= TotalAmt - paid), currency, exchange rate, TxnDate, DueDate. HS_EINVAL with
 * c->fault set when QuickBooks would refuse it.
 */
HS_MUST_CHECK int hs_qbo_invoice_compute(struct hs_qbo_ctx *c, json_t *inv, int64_t paid);
/* Sum of payments applied to a stored invoice (TotalAmt - Balance). */
int64_t hs_qbo_invoice_paid(const json_t *inv);

/*
 * Checks a candidate payment (CustomerRef, TotalAmt, Line[].LinkedTxn to invoices) and fills
 * UnappliedAmt. old_id is the Id of the payment being updated (its own applications count as
 * available), or NULL. HS_EINVAL with c->fault set when refused.
 */
HS_MUST_CHECK int hs_qbo_payment_check(struct hs_qbo_ctx *c, json_t *pay, const char *old_id);
/* Applies (sign +1) or reverts (sign -1) the payment's lines to its invoices and customer. */
HS_MUST_CHECK int hs_qbo_payment_apply(struct hs_qbo_ctx *c, const json_t *pay, const char *pay_id,
                                       int sign);

#endif
