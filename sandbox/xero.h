/*
 * sandbox/xero.h - internals of the Xero Accounting API module of hoopsync-sandbox.
 *
 * Design:     the module (xero.c) keeps every tenant's records as jansson objects in Xero's
 *             own JSON shape, numbers held exactly as the QuickBooks module holds them (marked
 *             strings, see sandbox/qbo.h: hs_qbo_json_parse / hs_qbo_json_dump / hs_qbo_num).
 *             xero_query.c parses the subset of Xero's `where` and `order` query parameters
 *             that the sandbox supports and evaluates them against such objects, so it can be
 *             tested (and fuzzed) on its own.
 * Invariants: a parsed filter owns all its strings; evaluation never modifies the object.
 * Threads:    none of its own: the sandbox core serializes every handler (sbx.h).
 * Ownership:  hs_xero_where_parse / hs_xero_order_parse return objects freed by their _free.
 * Not here:   HTTP routes, records, invoices and payments (xero.c).
 */
#ifndef HS_SANDBOX_XERO_H
#define HS_SANDBOX_XERO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hoopsync/error.h"

#define HS_XERO_WHERE_MAX_LEN   4096 /* bytes of where text */
#define HS_XERO_WHERE_MAX_TERMS 16   /* terms joined by AND */
#define HS_XERO_ORDER_MAX_KEYS  4

enum hs_xero_op {
    HS_XERO_EQ,         /* == (or =) */
    HS_XERO_NE,         /* != */
    HS_XERO_LT,         /* < */
    HS_XERO_LE,         /* <= */
    HS_XERO_GT,         /* > */
    HS_XERO_GE,         /* >= */
    HS_XERO_CONTAINS,   /* Field.Contains("x") */
    HS_XERO_STARTSWITH, /* Field.StartsWith("x") */
    HS_XERO_ENDSWITH,   /* Field.EndsWith("x") */
};

enum hs_xero_lit {
    HS_XERO_LIT_STRING, /* "text" or guid("...") */
    HS_XERO_LIT_NUMBER, /* 12.5 (text kept in str) */
    HS_XERO_LIT_BOOL,   /* true / false */
    HS_XERO_LIT_NULL,   /* null */
    HS_XERO_LIT_TIME,   /* DateTime(2026,11,23[,h,m,s]): ms since epoch, UTC */
};

struct hs_xero_term {
    char *field; /* "Contact.ContactID" */
    enum hs_xero_op op;
    enum hs_xero_lit lit;
    char *str;       /* string or number text (NULL for bool, null and time) */
    bool b;          /* bool literal */
    int64_t time_ms; /* time literal */
};

struct hs_xero_where {
    struct hs_xero_term *terms;
    size_t n_terms;
};

/*
 * Parses `term [AND|&& term]...` where a term is `Field OP literal`, `Field.Contains("x")`,
 * `Field.StartsWith("x")` or `Field.EndsWith("x")`; OP is == = != < <= > >=; a literal is
 * "text", guid("..."), Guid("..."), a number, true, false, null or DateTime(Y,M,D[,h,m,s]).
 * Field names are dotted paths of letters, digits and underscores. HS_EINVAL with
 * "what, at column N", HS_ETOOBIG past HS_XERO_WHERE_MAX_LEN or HS_XERO_WHERE_MAX_TERMS,
 * HS_ENOMEM. *out is NULL on failure.
 */
HS_MUST_CHECK int hs_xero_where_parse(const char *text, struct hs_xero_where **out,
                                      struct hs_error *err);
void hs_xero_where_free(struct hs_xero_where *w);
/* True when obj satisfies every term. Strings compare without regard to ASCII case; a field
 * that is absent only equals null (and differs from everything else). */
bool hs_xero_where_match(const struct hs_xero_where *w, const json_t *obj);

struct hs_xero_order {
    char *fields[HS_XERO_ORDER_MAX_KEYS];
    bool desc[HS_XERO_ORDER_MAX_KEYS];
    size_t n;
};

/* Parses "Field [ASC|DESC][, Field [ASC|DESC]]...". HS_EINVAL on syntax errors. */
HS_MUST_CHECK int hs_xero_order_parse(const char *text, struct hs_xero_order **out,
                                      struct hs_error *err);
void hs_xero_order_free(struct hs_xero_order *o);
/* <0, 0, >0 as a sorts before, equal to or after b under o. */
int hs_xero_order_cmp(const struct hs_xero_order *o, const json_t *a, const json_t *b);

/*
 * Whether path (a where or order field: "Name", "Contact.ContactID") names a property of Xero's
 * schema type ("Contact", "Item", "Invoice", "Payment", "CreditNote", "TaxRate", "Currency",
 * "Account", as the spec defines them); a dotted path goes on through properties that are
 * themselves one of those (Invoice.Contact, Payment.Invoice, Item.SalesDetails). Names are
 * compared without regard to ASCII case. True also for a type or a nested value it does not
 * know. False with Xero's message ("No property or field 'Foo' exists in type 'Contact'") in
 * msg (may be NULL).
 */
bool hs_xero_field_known(const char *type, const char *path, char *msg, size_t len);

/* Value of a Xero "/Date(1573755038314+0000)/" string in ms; false when s is not one. */
bool hs_xero_msdate_parse(const char *s, int64_t *out_ms);
/* "/Date(ms+0000)/" into out (at least 40 bytes). */
void hs_xero_msdate_format(int64_t ms, char *out, size_t size);
/*
 * Parses an If-Modified-Since value: "2026-11-23T10:00:00[.fff][Z]" (UTC), "2026-11-23", or
 * the HTTP date "Mon, 23 Nov 2026 10:00:00 GMT". False when malformed.
 */
bool hs_xero_time_parse(const char *s, int64_t *out_ms);

#endif
