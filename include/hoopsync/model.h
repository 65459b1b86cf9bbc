/*
 * hoopsync/model.h - canonical record types and their generic field view.
 *
 * Design:     a record is a tagged struct: struct hs_record carries what every kind shares
 *             (kind, provider id, updated_at, the custom / external_refs / meta maps) and an
 *             anonymous union with one plain typed struct per kind (customer, contact_person,
 *             item, invoice, payment, credit_note). Connectors fill the typed structs directly
 *             (rec->invoice.total = ...); the sync engine never looks at them. It works on the
 *             FIELD VIEW: a sorted list of (field path -> canonical string) pairs, e.g.
 *             "billing_address.city" = "Lyon", "lines[2].quantity" = "1.5",
 *             "total" = "USD 1234.50", "custom.hs_region" = "EMEA". The engine merges and maps
 *             fields by name on that list and turns the result back into a record with
 *             hs_record_from_fields. Both directions, JSON and validation are driven by one
 *             descriptor table per kind (src/core/record.c), so a new field is one table row.
 *             Typed structs keep connectors type-safe; a string view keeps the merge generic.
 *             Public structs (not opaque handles, unlike STYLE 4.7) because connectors fill
 *             them field by field; the helpers below keep allocation in one place.
 * Invariants: absent values: char * NULL; struct hs_money with currency[0] == '\0'; decimal
 *             with has_<field> false; struct hs_date all zero; enum 0 (..._UNSET); hs_tri
 *             HS_TRI_UNSET; currency / country "". Absent values have no field entry.
 *             "" is a present, empty string. For every record r that hs_record_validate
 *             accepts, from_fields(to_fields(r)) has the same field view, and for every field
 *             list f that from_fields accepts, to_fields(from_fields(f)) == f: from_fields
 *             accepts only canonical values (it would re-format them identically).
 *             Canonical values: strings as is (valid UTF-8), booleans "true"/"false", money
 *             "<CUR> <amount>" with the currency's exponent ("USD 1234.50", "JPY 100"),
 *             decimals as hs_decimal_format prints them ("1.5", "-2"), dates "YYYY-MM-DD",
 *             enums by name ("partially_paid"), currency "USD", country "FR".
 *             The field view holds no id, updated_at or meta: those are provider bookkeeping,
 *             which is also why the stable hash (core/hash.h) ignores them.
 * Ownership:  a record owns all its strings, arrays and maps; hs_record_free releases them.
 *             Strings put into a record must come from hs_malloc (use hs_record_set_str);
 *             arrays are best grown with hs_record_add_line / hs_record_add_applied.
 * Threads:    plain data; a record may move between threads but is not locked.
 *             struct hs_fields owns copies of its names and values.
 * Not here:   money and decimal arithmetic (core/money.h, core/decimal.h), the stable hash
 *             (core/hash.h), mapping between providers and merge rules (engine/core mapping).
 *             docs/modules/model.md lists every field of every kind.
 */
#ifndef HOOPSYNC_MODEL_H
#define HOOPSYNC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hoopsync/common.h"
#include "hoopsync/error.h"
#include "core/decimal.h"
#include "core/money.h"

/* ---- limits ----------------------------------------------------------------------------- */

/* Longest field path, map key + prefix included (bytes, without NUL). */
#define HS_FIELD_NAME_MAX 256
/* Longest string value accepted by from_fields / from_json (bytes). */
#define HS_FIELD_VALUE_MAX ((size_t)1024 * 1024)
/* Most elements of one array (invoice lines, payment applications). */
#define HS_RECORD_MAX_ITEMS 10000
/* Most entries of one map (custom, external_refs, meta). */
#define HS_RECORD_MAX_MAP 4096
/* Largest JSON blob hs_record_from_json reads, and its deepest nesting of [ and {. */
#define HS_RECORD_JSON_MAX_BYTES ((size_t)16 * 1024 * 1024)
#define HS_RECORD_JSON_MAX_DEPTH 8
/* Version written to (and required in) the "v" member of the JSON form. */
#define HS_RECORD_JSON_VERSION 1

/* ---- the field view: a sorted string -> string map ---------------------------------------- */

struct hs_field {
    char *name;
    char *value;
};

/*
 * A list of (name, value) pairs sorted by name (byte order, strcmp), names unique. Used as the
 * field view of a record and as the type of its custom / external_refs / meta maps.
 * Caller-allocated value type: hs_fields_init, then hs_fields_release. Zero-filled is valid
 * and empty.
 */
struct hs_fields {
    struct hs_field *items;
    size_t n_items;
    size_t cap;
};

HS_API void hs_fields_init(struct hs_fields *f);
/* Frees every name and value and the array; f is empty (and reusable) afterwards. */
HS_API void hs_fields_release(struct hs_fields *f);
HS_API size_t hs_fields_count(const struct hs_fields *f);
/* Value of name, or NULL when absent. Borrowed until the next change of f. */
HS_API const char *hs_fields_get(const struct hs_fields *f, const char *name);
/*
 * Sets name to value (both copied), replacing any previous value. HS_OK, HS_EINVAL (NULL name
 * or value), HS_ENOMEM (f unchanged).
 */
HS_API HS_MUST_CHECK int hs_fields_set(struct hs_fields *f, const char *name, const char *value);
/* Removes name. Returns 1 when it was present, 0 when absent. */
HS_API int hs_fields_remove(struct hs_fields *f, const char *name);
/*
 * Iterates in name order: start with *pos = 0; each call that returns true sets *out_name and
 * *out_value (borrowed) and advances *pos. Do not change f while iterating.
 */
HS_API bool hs_fields_iter(const struct hs_fields *f, size_t *pos, const char **out_name,
                           const char **out_value);
/* True when both hold the same names with the same values. */
HS_API bool hs_fields_equal(const struct hs_fields *a, const struct hs_fields *b);
/* Replaces dst's contents by a copy of src. HS_OK or HS_ENOMEM (dst unchanged). */
HS_API HS_MUST_CHECK int hs_fields_copy(struct hs_fields *dst, const struct hs_fields *src);

/* ---- small value types -------------------------------------------------------------------- */

enum hs_kind {
    HS_KIND_NONE = 0,
    HS_KIND_CUSTOMER = 1,
    HS_KIND_CONTACT_PERSON = 2,
    HS_KIND_ITEM = 3,
    HS_KIND_INVOICE = 4,
    HS_KIND_PAYMENT = 5,
    HS_KIND_CREDIT_NOTE = 6,
};
#define HS_KIND_MAX HS_KIND_CREDIT_NOTE

/* "customer", "contact_person", "item", "invoice", "payment", "credit_note"; NULL otherwise. */
HS_API const char *hs_kind_name(enum hs_kind kind);
/* Parses a kind name (exact, lower case). HS_OK or HS_EINVAL ("unknown record kind 'x'"). */
HS_API HS_MUST_CHECK int hs_kind_parse(const char *name, enum hs_kind *out, struct hs_error *err);

/* Optional boolean: unset, false or true. */
enum hs_tri { HS_TRI_UNSET = 0, HS_TRI_FALSE = 1, HS_TRI_TRUE = 2 };

static inline enum hs_tri hs_tri_of(bool b)
{
    return b ? HS_TRI_TRUE : HS_TRI_FALSE;
}

/* Calendar date (proleptic Gregorian, years 1..9999); all zero = absent. */
struct hs_date {
    int16_t year;
    int8_t month;
    int8_t day;
};

/* True when d is set and a real calendar day (leap years included). */
HS_API bool hs_date_valid(struct hs_date d);
/*
 * Parses exactly "YYYY-MM-DD" from (s, len) (no NUL needed). HS_OK or HS_EINVAL
 * ("invalid date '2024-02-30': no such day").
 */
HS_API HS_MUST_CHECK int hs_date_parse(const char *s, size_t len, struct hs_date *out,
                                       struct hs_error *err);
/* Writes "YYYY-MM-DD" and a NUL into out (11 bytes). d must be valid. */
HS_API void hs_date_format(struct hs_date d, char out[11]);

/* ---- kinds ------------------------------------------------------------------------------ */

/* A postal address; field paths "<address>.line1" ... "<address>.country". */
struct hs_address {
    char *line1;
    char *line2;
    char *line3;
    char *city;
    char *region; /* state, province, county */
    char *postcode;
    char country[3]; /* ISO 3166-1 alpha-2, upper case; "" = absent */
};

/* CRM company or contact <-> accounting customer. */
struct hs_customer {
    char *display_name;
    char *company_name; /* legal name */
    char *given_name;
    char *family_name;
    char *email;
    char *phone;
    char *website;
    struct hs_address billing_address;
    struct hs_address shipping_address;
    char *tax_id;
    char currency[4]; /* ISO 4217; "" = absent */
    char *payment_terms;
    char *notes;
    enum hs_tri active;
};

/* A person at a customer. */
struct hs_contact_person {
    char *customer_ref; /* provider id of the customer this person belongs to */
    char *name;
    char *given_name;
    char *family_name;
    char *email;
    char *phone;
    char *role;
    enum hs_tri primary;
};

/* A product or service. */
struct hs_item {
    char *name;
    char *sku;
    char *description;
    struct hs_money unit_price;
    char *income_account_ref;
    enum hs_tri taxable;
    enum hs_tri active;
};

enum hs_invoice_status {
    HS_INVOICE_STATUS_UNSET = 0,
    HS_INVOICE_DRAFT = 1,
    HS_INVOICE_OPEN = 2,
    HS_INVOICE_PAID = 3,
    HS_INVOICE_PARTIALLY_PAID = 4,
    HS_INVOICE_OVERDUE = 5,
    HS_INVOICE_VOID = 6,
};

enum hs_credit_status {
    HS_CREDIT_STATUS_UNSET = 0,
    HS_CREDIT_DRAFT = 1,
    HS_CREDIT_OPEN = 2,    /* credit left to apply */
    HS_CREDIT_APPLIED = 3, /* fully used */
    HS_CREDIT_VOID = 4,
};

/* How line amounts relate to tax: "exclusive", "inclusive", "none". */
enum hs_tax_mode {
    HS_TAX_MODE_UNSET = 0,
    HS_TAX_EXCLUSIVE = 1,
    HS_TAX_INCLUSIVE = 2,
    HS_TAX_NONE = 3,
};

/* One line of an invoice or credit note; field paths "lines[<i>].<field>". */
struct hs_invoice_line {
    char *item_ref;
    char *description;
    struct hs_decimal quantity;
    bool has_quantity;
    struct hs_money unit_price;
    struct hs_decimal discount_percent; /* 10% = 10 */
    bool has_discount_percent;
    char *tax_code;
    struct hs_money amount; /* line amount as the tax mode defines it */
    struct hs_money tax_amount;
};

struct hs_invoice {
    char *number;
    char *customer_ref;
    char currency[4];
    struct hs_date issue_date;
    struct hs_date due_date;
    enum hs_invoice_status status;
    enum hs_tax_mode tax_mode;
    struct hs_invoice_line *lines; /* hs_record_add_line */
    size_t n_lines;
    struct hs_money subtotal;
    struct hs_money tax;
    struct hs_money total;
    struct hs_money amount_paid;
    struct hs_money balance;
    char *memo;
};

/* A payment's application to one invoice; field paths "applied[<i>].<field>". */
struct hs_payment_applied {
    char *invoice_ref;
    struct hs_money amount;
};

struct hs_payment {
    char *customer_ref;
    struct hs_date date;
    struct hs_money amount;
    char currency[4];
    char *method;                       /* "card", "bank_transfer", ... as the provider names it */
    char *reference;                    /* cheque number, transaction id */
    struct hs_payment_applied *applied; /* hs_record_add_applied */
    size_t n_applied;
    char *memo;
};

struct hs_credit_note {
    char *number;
    char *customer_ref;
    char *invoice_ref; /* invoice it was raised against, if any */
    char currency[4];
    struct hs_date issue_date;
    enum hs_credit_status status;
    enum hs_tax_mode tax_mode;
    struct hs_invoice_line *lines; /* hs_record_add_line */
    size_t n_lines;
    struct hs_money subtotal;
    struct hs_money tax;
    struct hs_money total;
    struct hs_money balance; /* credit not yet applied */
    char *memo;
};

/* ---- the record ------------------------------------------------------------------------- */

struct hs_record {
    enum hs_kind kind;       /* fixed at hs_record_new */
    char *id;                /* provider id; NULL before creation */
    int64_t updated_at;      /* provider's last modification, ms since the epoch; 0 unknown */
    struct hs_fields custom; /* provider custom fields by key; field paths "custom.<key>" */
    struct hs_fields external_refs; /* ids in other systems ("hubspot" -> "123");
                                       field paths "external_refs.<key>" */
    struct hs_fields meta;          /* provider bookkeeping (QuickBooks SyncToken, etags): kept in
                                       JSON, never in the field view nor the hash */
    union {
        struct hs_customer customer;
        struct hs_contact_person contact_person;
        struct hs_item item;
        struct hs_invoice invoice;
        struct hs_payment payment;
        struct hs_credit_note credit_note;
    };
};

/* Allocates an empty record of kind (every value absent). HS_OK, HS_EINVAL, HS_ENOMEM. */
HS_API HS_MUST_CHECK int hs_record_new(enum hs_kind kind, struct hs_record **out);
/* Frees r and everything it owns. NULL does nothing. */
HS_API void hs_record_free(struct hs_record *r);
/* Deep copy of r into a new record (*out NULL on failure). HS_OK or HS_ENOMEM. */
HS_API HS_MUST_CHECK int hs_record_clone(const struct hs_record *r, struct hs_record **out);
/*
 * Replaces the string at *slot (freeing the old one) by a copy of value; NULL value clears it.
 * For filling records: hs_record_set_str(&rec->customer.email, "a@b.c"). HS_OK or HS_ENOMEM
 * (*slot unchanged).
 */
HS_API HS_MUST_CHECK int hs_record_set_str(char **slot, const char *value);
/*
 * Appends an empty line to an invoice or credit note and points *out at it (valid until the
 * next add). HS_OK, HS_EINVAL (other kind), HS_ETOOBIG (HS_RECORD_MAX_ITEMS), HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_record_add_line(struct hs_record *r, struct hs_invoice_line **out);
/* Same for a payment's applications. */
HS_API HS_MUST_CHECK int hs_record_add_applied(struct hs_record *r,
                                               struct hs_payment_applied **out);

/*
 * Checks that every present value is canonical-ready: strings valid UTF-8 of at most
 * HS_FIELD_VALUE_MAX bytes, currencies in the ISO 4217 table, money currencies known, countries
 * two upper-case letters, dates real, enums in range, map keys non-empty. HS_OK or HS_EINVAL
 * with the field path in the message ("field 'lines[3].amount': unknown currency 'usd'").
 */
HS_API HS_MUST_CHECK int hs_record_validate(const struct hs_record *r, struct hs_error *err);

/*
 * Builds the field view of r into out (replacing its contents): one entry per present value,
 * sorted by name. id, updated_at and meta are not included. HS_OK, HS_EINVAL (r does not
 * validate, out emptied), HS_ENOMEM (out emptied).
 */
HS_API HS_MUST_CHECK int hs_record_to_fields(const struct hs_record *r, struct hs_fields *out,
                                             struct hs_error *err);
/*
 * Builds a new record of kind from a field view (id NULL, updated_at 0, meta empty). Every
 * name must be a field of kind and every value canonical. Array elements are created up to
 * the highest index named. *out NULL on failure. HS_OK; HS_EINVAL ("field 'lines[0].qty':
 * unknown field of invoice", "field 'total': 'USD 1.5' is not canonical, expected
 * 'USD 1.50'"); HS_ETOOBIG (index beyond HS_RECORD_MAX_ITEMS, name or value too long);
 * HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_record_from_fields(enum hs_kind kind, const struct hs_fields *f,
                                               struct hs_record **out, struct hs_error *err);

/*
 * Serializes r as compact JSON into a new NUL-terminated string (*out, caller hs_free()s).
 * Shape: {"v":1,"kind":"invoice","id":"42","updated_at":1700000000000,"meta":{...},
 * "custom":{...},"external_refs":{...}, <fields of the kind>}, nested like the typed structs
 * ("billing_address":{...}, "lines":[{...}], empty elements as {}), keys sorted. Omitted: absent
 * values, a NULL id, updated_at 0, empty maps and arrays. Money, decimals, dates and enums are
 * strings in their canonical form, booleans true/false; never a JSON real. HS_OK, HS_EINVAL
 * (r does not validate), HS_ENOMEM. *out NULL on failure.
 */
HS_API HS_MUST_CHECK int hs_record_to_json(const struct hs_record *r, char **out,
                                           struct hs_error *err);
/*
 * Parses the JSON form back (a stored blob: outside bytes, no NUL needed). Round trip is
 * exact: to_json(from_json(to_json(r))) == to_json(r). Strict: unknown members, wrong types,
 * money as a JSON number, non-canonical values are errors naming the field path
 * ("cannot read record JSON: field 'total': expected a string like 'USD 12.50', got a
 * number"). The result passes hs_record_validate. *out NULL on failure. HS_OK; HS_EPROTO (not
 * JSON with line and column, top level not an object, wrong member type, unknown member);
 * HS_EINVAL (unknown kind, bad value); HS_EUNSUPPORTED (other "v"); HS_ETOOBIG (over
 * HS_RECORD_JSON_MAX_BYTES, nesting deeper than HS_RECORD_JSON_MAX_DEPTH, too many items or
 * map entries); HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_record_from_json(const uint8_t *buf, size_t len, struct hs_record **out,
                                             struct hs_error *err);

#endif
