/*
 * core/record.c - canonical records: lifecycle, validation, field view and JSON form.
 *
 * Design:     each kind is described once, by a table of field descriptors (name, type,
 *             offset in the typed struct; nested tables for addresses and lines). Every
 *             operation is one generic walk over such a table: free, deep copy, validate,
 *             to_fields (path + canonical text per present value), from_fields (resolve a
 *             path, parse the text strictly), to_json and from_json. So the field view, the
 *             JSON form, the hash and the typed structs cannot drift apart, and adding a field
 *             is adding a row. Parsing is strict on purpose: a value is accepted only in the
 *             exact text to_fields would print, so to_fields(from_fields(f)) == f and stored
 *             JSON round-trips byte for byte.
 *             from_json reads stored blobs (outside bytes): it caps the size, pre-scans the
 *             nesting depth before jansson sees the bytes, caps array and map sizes, and
 *             rejects unknown members and wrong JSON types with the field path in the message.
 * Invariants: a record from hs_record_new, hs_record_from_fields or hs_record_from_json passes
 *             hs_record_validate (the last two validate before returning). Array pointers are
 *             NULL iff their count is 0 for records built here.
 * Ownership:  records own every string, array and map they point to (hs_record_free).
 * Not here:   the sorted map and dates (model.c), hashing (hash.c), money and decimal text
 *             (money.c, decimal.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hoopsync/model.h"
#include "core/currency.h"
#include "core/decimal.h"
#include "core/money.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"
#include "util/buf.h"

_Static_assert(sizeof(enum hs_tri) == sizeof(int), "enums are int-sized");
_Static_assert(sizeof(enum hs_invoice_status) == sizeof(int), "enums are int-sized");
_Static_assert(sizeof(enum hs_credit_status) == sizeof(int), "enums are int-sized");
_Static_assert(sizeof(enum hs_tax_mode) == sizeof(int), "enums are int-sized");

/* ---- descriptor tables ---------------------------------------------------------------------- */

enum ftype { F_STR, F_TRI, F_MONEY, F_DEC, F_DATE, F_ENUM, F_CUR, F_COUNTRY, F_STRUCT, F_ARRAY };

struct fdesc {
    const char *name;
    enum ftype type;
    size_t off;               /* offset of the value in the containing struct */
    size_t aux;               /* F_DEC: offset of its has_ flag; F_ARRAY: offset of the count */
    const struct ftable *sub; /* F_STRUCT, F_ARRAY: the element's table */
    const char *const *names; /* F_ENUM: names by value; [0] (unset) is NULL */
    int n_names;
};

struct ftable {
    const char *what; /* for messages: "invoice", "invoice line" */
    const struct fdesc *fields;
    size_t n_fields;
    size_t size; /* sizeof the struct (array elements) */
};

/* clang-format off */
#define NELEM(a)             (sizeof(a) / sizeof((a)[0]))
#define ROW(T, f, t)         {#f, t, offsetof(T, f), 0, NULL, NULL, 0}
#define STR(T, f)            ROW(T, f, F_STR)
#define DEC(T, f)            {#f, F_DEC, offsetof(T, f), offsetof(T, has_##f), NULL, NULL, 0}
#define ENUM(T, f, n)        {#f, F_ENUM, offsetof(T, f), 0, NULL, n, (int)NELEM(n)}
#define SUB(T, f, tab)       {#f, F_STRUCT, offsetof(T, f), 0, &(tab), NULL, 0}
#define ARR(T, f, n, tab)    {#f, F_ARRAY, offsetof(T, f), offsetof(T, n), &(tab), NULL, 0}
#define TABLE(what, T, rows) {what, rows, NELEM(rows), sizeof(T)}
/* clang-format on */

static const char *const invoice_status_names[] = {
    NULL, "draft", "open", "paid", "partially_paid", "overdue", "void",
};
static const char *const credit_status_names[] = {NULL, "draft", "open", "applied", "void"};
static const char *const tax_mode_names[] = {NULL, "exclusive", "inclusive", "none"};

static const struct fdesc address_rows[] = {
    STR(struct hs_address, line1),
    STR(struct hs_address, line2),
    STR(struct hs_address, line3),
    STR(struct hs_address, city),
    STR(struct hs_address, region),
    STR(struct hs_address, postcode),
    ROW(struct hs_address, country, F_COUNTRY),
};
static const struct ftable address_table = TABLE("address", struct hs_address, address_rows);

static const struct fdesc customer_rows[] = {
    STR(struct hs_customer, display_name),
    STR(struct hs_customer, company_name),
    STR(struct hs_customer, given_name),
    STR(struct hs_customer, family_name),
    STR(struct hs_customer, email),
    STR(struct hs_customer, phone),
    STR(struct hs_customer, website),
    SUB(struct hs_customer, billing_address, address_table),
    SUB(struct hs_customer, shipping_address, address_table),
    STR(struct hs_customer, tax_id),
    ROW(struct hs_customer, currency, F_CUR),
    STR(struct hs_customer, payment_terms),
    STR(struct hs_customer, notes),
    ROW(struct hs_customer, active, F_TRI),
};

static const struct fdesc contact_rows[] = {
    STR(struct hs_contact_person, customer_ref), STR(struct hs_contact_person, name),
    STR(struct hs_contact_person, given_name),   STR(struct hs_contact_person, family_name),
    STR(struct hs_contact_person, email),        STR(struct hs_contact_person, phone),
    STR(struct hs_contact_person, role),         ROW(struct hs_contact_person, primary, F_TRI),
};

static const struct fdesc item_rows[] = {
    STR(struct hs_item, name),
    STR(struct hs_item, sku),
    STR(struct hs_item, description),
    ROW(struct hs_item, unit_price, F_MONEY),
    STR(struct hs_item, income_account_ref),
    ROW(struct hs_item, taxable, F_TRI),
    ROW(struct hs_item, active, F_TRI),
};

static const struct fdesc line_rows[] = {
    STR(struct hs_invoice_line, item_ref),         STR(struct hs_invoice_line, description),
    DEC(struct hs_invoice_line, quantity),         ROW(struct hs_invoice_line, unit_price, F_MONEY),
    DEC(struct hs_invoice_line, discount_percent), STR(struct hs_invoice_line, tax_code),
    ROW(struct hs_invoice_line, amount, F_MONEY),  ROW(struct hs_invoice_line, tax_amount, F_MONEY),
};
static const struct ftable line_table = TABLE("invoice line", struct hs_invoice_line, line_rows);

static const struct fdesc invoice_rows[] = {
    STR(struct hs_invoice, number),
    STR(struct hs_invoice, customer_ref),
    ROW(struct hs_invoice, currency, F_CUR),
    ROW(struct hs_invoice, issue_date, F_DATE),
    ROW(struct hs_invoice, due_date, F_DATE),
    ENUM(struct hs_invoice, status, invoice_status_names),
    ENUM(struct hs_invoice, tax_mode, tax_mode_names),
    ARR(struct hs_invoice, lines, n_lines, line_table),
    ROW(struct hs_invoice, subtotal, F_MONEY),
    ROW(struct hs_invoice, tax, F_MONEY),
    ROW(struct hs_invoice, total, F_MONEY),
    ROW(struct hs_invoice, amount_paid, F_MONEY),
    ROW(struct hs_invoice, balance, F_MONEY),
    STR(struct hs_invoice, memo),
};

static const struct fdesc applied_rows[] = {
    STR(struct hs_payment_applied, invoice_ref),
    ROW(struct hs_payment_applied, amount, F_MONEY),
};
static const struct ftable applied_table =
    TABLE("payment application", struct hs_payment_applied, applied_rows);

static const struct fdesc payment_rows[] = {
    STR(struct hs_payment, customer_ref),
    ROW(struct hs_payment, date, F_DATE),
    ROW(struct hs_payment, amount, F_MONEY),
    ROW(struct hs_payment, currency, F_CUR),
    STR(struct hs_payment, method),
    STR(struct hs_payment, reference),
    ARR(struct hs_payment, applied, n_applied, applied_table),
    STR(struct hs_payment, memo),
};

static const struct fdesc credit_rows[] = {
    STR(struct hs_credit_note, number),
    STR(struct hs_credit_note, customer_ref),
    STR(struct hs_credit_note, invoice_ref),
    ROW(struct hs_credit_note, currency, F_CUR),
    ROW(struct hs_credit_note, issue_date, F_DATE),
    ENUM(struct hs_credit_note, status, credit_status_names),
    ENUM(struct hs_credit_note, tax_mode, tax_mode_names),
    ARR(struct hs_credit_note, lines, n_lines, line_table),
    ROW(struct hs_credit_note, subtotal, F_MONEY),
    ROW(struct hs_credit_note, tax, F_MONEY),
    ROW(struct hs_credit_note, total, F_MONEY),
    ROW(struct hs_credit_note, balance, F_MONEY),
    STR(struct hs_credit_note, memo),
};

static const struct ftable kind_tables[] = {
    [HS_KIND_CUSTOMER] = TABLE("customer", struct hs_customer, customer_rows),
    [HS_KIND_CONTACT_PERSON] = TABLE("contact_person", struct hs_contact_person, contact_rows),
    [HS_KIND_ITEM] = TABLE("item", struct hs_item, item_rows),
    [HS_KIND_INVOICE] = TABLE("invoice", struct hs_invoice, invoice_rows),
    [HS_KIND_PAYMENT] = TABLE("payment", struct hs_payment, payment_rows),
    [HS_KIND_CREDIT_NOTE] = TABLE("credit_note", struct hs_credit_note, credit_rows),
};

/* Names of the record-level maps in the field view and in JSON. */
#define CUSTOM_PREFIX "custom."
#define EXTREF_PREFIX "external_refs."

static const struct ftable *kind_table(enum hs_kind kind)
{
    if (kind <= HS_KIND_NONE || kind > HS_KIND_MAX)
        return NULL;
    return &kind_tables[kind];
}

static void *at(void *base, size_t off)
{
    return (char *)base + off;
}

static const void *cat(const void *base, size_t off)
{
    return (const char *)base + off;
}

static void *kind_base(struct hs_record *r)
{
    return at(r, offsetof(struct hs_record, customer));
}

static const void *kind_cbase(const struct hs_record *r)
{
    return cat(r, offsetof(struct hs_record, customer));
}

static int get_int(const void *p)
{
    int v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void set_int(void *p, int v)
{
    memcpy(p, &v, sizeof v);
}

static size_t get_count(const void *base, const struct fdesc *d)
{
    size_t n;
    memcpy(&n, cat(base, d->aux), sizeof n);
    return n;
}

static void *get_items(const void *base, const struct fdesc *d)
{
    void *p;
    memcpy(&p, cat(base, d->off), sizeof p);
    return p;
}

static void set_array(void *base, const struct fdesc *d, void *items, size_t n)
{
    memcpy(at(base, d->off), &items, sizeof items);
    memcpy(at(base, d->aux), &n, sizeof n);
}

/* ---- small validators ----------------------------------------------------------------------- */

static bool utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        size_t n = hs_utf8_len(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

static bool upper_alpha(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 'A' || s[i] > 'Z')
            return false;
    }
    return true;
}

/* Shown prefix length of a value in messages. */
static int shown(size_t len)
{
    return len > 64 ? 64 : (int)len;
}

/* Checks a string value (or map key / value): size cap and UTF-8. why gets the reason. */
static int check_text(const char *s, size_t len, const char **why)
{
    if (len > HS_FIELD_VALUE_MAX) {
        *why = "longer than the limit of 1048576 bytes";
        return HS_ETOOBIG;
    }
    if (!utf8_valid(s, len)) {
        *why = "not valid UTF-8";
        return HS_EINVAL;
    }
    return HS_OK;
}

/* ---- canonical text of one scalar value ----------------------------------------------------- */

#define TEXT_MAX 48 /* "USD " + HS_MONEY_FMT_MAX and every other scalar form */

/*
 * Canonical text of the scalar field d of base: 1 and *out set (borrowed from base or tmp)
 * when present, 0 when absent, HS_EINVAL with *why when the value has no canonical form.
 */
static int scalar_text(const struct fdesc *d, const void *base, char tmp[TEXT_MAX],
                       const char **out, const char **why)
{
    const void *p = cat(base, d->off);
    switch (d->type) {
    case F_STR: {
        const char *s;
        memcpy(&s, p, sizeof s);
        if (s == NULL)
            return 0;
        *out = s;
        return 1;
    }
    case F_TRI: {
        int v = get_int(p);
        if (v == HS_TRI_UNSET)
            return 0;
        if (v != HS_TRI_TRUE && v != HS_TRI_FALSE) {
            *why = "boolean out of range";
            return HS_EINVAL;
        }
        *out = v == HS_TRI_TRUE ? "true" : "false";
        return 1;
    }
    case F_MONEY: {
        const struct hs_money *m = p;
        if (m->currency[0] == '\0')
            return 0;
        if (memchr(m->currency, '\0', sizeof m->currency) == NULL ||
            hs_currency_find(m->currency) == NULL) {
            *why = "unknown currency";
            return HS_EINVAL;
        }
        memcpy(tmp, m->currency, 3);
        tmp[3] = ' ';
        if (hs_money_format(m, tmp + 4, TEXT_MAX - 4) < 0) {
            *why = "amount cannot be formatted";
            return HS_EINVAL;
        }
        *out = tmp;
        return 1;
    }
    case F_DEC: {
        bool has;
        memcpy(&has, cat(base, d->aux), sizeof has);
        if (!has)
            return 0;
        struct hs_decimal v;
        memcpy(&v, p, sizeof v);
        if (hs_decimal_format(v, tmp, TEXT_MAX) < 0) {
            *why = "decimal cannot be formatted";
            return HS_EINVAL;
        }
        *out = tmp;
        return 1;
    }
    case F_DATE: {
        struct hs_date v;
        memcpy(&v, p, sizeof v);
        if (v.year == 0 && v.month == 0 && v.day == 0)
            return 0;
        if (!hs_date_valid(v)) {
            *why = "not a calendar date";
            return HS_EINVAL;
        }
        hs_date_format(v, tmp);
        *out = tmp;
        return 1;
    }
    case F_ENUM: {
        int v = get_int(p);
        if (v == 0)
            return 0;
        if (v < 0 || v >= d->n_names) {
            *why = "value out of range";
            return HS_EINVAL;
        }
        *out = d->names[v];
        return 1;
    }
    case F_CUR: {
        const char *c = p;
        if (c[0] == '\0')
            return 0;
        if (memchr(c, '\0', 4) == NULL || hs_currency_find(c) == NULL) {
            *why = "unknown currency";
            return HS_EINVAL;
        }
        *out = c;
        return 1;
    }
    case F_COUNTRY: {
        const char *c = p;
        if (c[0] == '\0')
            return 0;
        if (c[2] != '\0' || !upper_alpha(c, 2)) {
            *why = "not an ISO 3166 alpha-2 code";
            return HS_EINVAL;
        }
        *out = c;
        return 1;
    }
    case F_STRUCT:
    case F_ARRAY:
        break;
    }
    *why = "not a scalar";
    return HS_EINVAL;
}

/* ---- field paths ---------------------------------------------------------------------------- */

struct path {
    char buf[HS_FIELD_NAME_MAX + 1];
    size_t len;
};

/* Appends ".name" (or "name" at the start), cut at the buffer's end as snprintf would: it
 * runs for every field of every record walked, so no format parsing. */
static void path_push(struct path *p, const char *name)
{
    size_t left = sizeof p->buf - p->len - 1; /* room before the NUL */
    char *o = p->buf + p->len;
    if (p->len > 0 && left > 0) {
        *o++ = '.';
        left--;
    }
    size_t n = strlen(name);
    if (n > left)
        n = left;
    memcpy(o, name, n);
    o[n] = '\0';
    p->len = (size_t)(o + n - p->buf);
}

static void path_index(struct path *p, size_t i)
{
    int n = snprintf(p->buf + p->len, sizeof p->buf - p->len, "[%zu]", i);
    if (n > 0)
        p->len += (size_t)n < sizeof p->buf - p->len ? (size_t)n : sizeof p->buf - p->len - 1;
}

static void path_pop(struct path *p, size_t len)
{
    p->len = len;
    p->buf[len] = '\0';
}

/* ---- free and copy -------------------------------------------------------------------------- */

static void free_table(const struct ftable *t, void *base)
{
    for (size_t i = 0; i < t->n_fields; i++) {
        const struct fdesc *d = &t->fields[i];
        if (d->type == F_STR) {
            char *s;
            memcpy(&s, at(base, d->off), sizeof s);
            hs_free(s);
        } else if (d->type == F_STRUCT) {
            free_table(d->sub, at(base, d->off));
        } else if (d->type == F_ARRAY) {
            char *items = get_items(base, d);
            size_t n = get_count(base, d);
            for (size_t k = 0; items != NULL && k < n; k++)
                free_table(d->sub, items + k * d->sub->size);
            hs_free(items);
            set_array(base, d, NULL, 0);
        }
    }
}

static size_t scalar_size(const struct fdesc *d)
{
    switch (d->type) {
    case F_MONEY:
        return sizeof(struct hs_money);
    case F_DEC:
        return sizeof(struct hs_decimal);
    case F_DATE:
        return sizeof(struct hs_date);
    case F_CUR:
        return 4;
    case F_COUNTRY:
        return 3;
    default:
        return sizeof(int);
    }
}

/* Deep copy of src into dst, which is all zero. On HS_ENOMEM dst stays freeable. */
static int copy_table(const struct ftable *t, void *dst, const void *src)
{
    for (size_t i = 0; i < t->n_fields; i++) {
        const struct fdesc *d = &t->fields[i];
        switch (d->type) {
        case F_STR: {
            const char *s;
            memcpy(&s, cat(src, d->off), sizeof s);
            if (s != NULL) {
                char *c = hs_strdup(s);
                if (c == NULL)
                    return HS_ENOMEM;
                memcpy(at(dst, d->off), &c, sizeof c);
            }
            break;
        }
        case F_STRUCT: {
            int rc = copy_table(d->sub, at(dst, d->off), cat(src, d->off));
            if (rc != HS_OK)
                return rc;
            break;
        }
        case F_ARRAY: {
            size_t n = get_count(src, d);
            const char *from = get_items(src, d);
            if (n == 0 || from == NULL)
                break;
            char *items = hs_calloc(n, d->sub->size);
            if (items == NULL)
                return HS_ENOMEM;
            set_array(dst, d, items, n);
            for (size_t k = 0; k < n; k++) {
                int rc = copy_table(d->sub, items + k * d->sub->size, from + k * d->sub->size);
                if (rc != HS_OK)
                    return rc;
            }
            break;
        }
        case F_DEC:
            memcpy(at(dst, d->aux), cat(src, d->aux), sizeof(bool));
            memcpy(at(dst, d->off), cat(src, d->off), scalar_size(d));
            break;
        default:
            memcpy(at(dst, d->off), cat(src, d->off), scalar_size(d));
            break;
        }
    }
    return HS_OK;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int hs_record_new(enum hs_kind kind, struct hs_record **out)
{
    *out = NULL;
    if (kind_table(kind) == NULL)
        return HS_EINVAL;
    struct hs_record *r = hs_calloc(1, sizeof *r);
    if (r == NULL)
        return HS_ENOMEM;
    r->kind = kind;
    hs_fields_init(&r->custom);
    hs_fields_init(&r->external_refs);
    hs_fields_init(&r->meta);
    *out = r;
    return HS_OK;
}

void hs_record_free(struct hs_record *r)
{
    if (r == NULL)
        return;
    const struct ftable *t = kind_table(r->kind);
    if (t != NULL)
        free_table(t, kind_base(r));
    hs_free(r->id);
    hs_fields_release(&r->custom);
    hs_fields_release(&r->external_refs);
    hs_fields_release(&r->meta);
    hs_free(r);
}

int hs_record_clone(const struct hs_record *r, struct hs_record **out)
{
    *out = NULL;
    struct hs_record *c = NULL;
    int rc = hs_record_new(r->kind, &c);
    if (rc != HS_OK)
        return rc;
    c->updated_at = r->updated_at;
    if (r->id != NULL) {
        c->id = hs_strdup(r->id);
        if (c->id == NULL)
            goto fail;
    }
    if (hs_fields_copy(&c->custom, &r->custom) != HS_OK ||
        hs_fields_copy(&c->external_refs, &r->external_refs) != HS_OK ||
        hs_fields_copy(&c->meta, &r->meta) != HS_OK)
        goto fail;
    if (copy_table(kind_table(r->kind), kind_base(c), kind_cbase(r)) != HS_OK)
        goto fail;
    *out = c;
    return HS_OK;
fail:
    hs_record_free(c);
    return HS_ENOMEM;
}

int hs_record_set_str(char **slot, const char *value)
{
    char *c = NULL;
    if (value != NULL) {
        c = hs_strdup(value);
        if (c == NULL)
            return HS_ENOMEM;
    }
    hs_free(*slot);
    *slot = c;
    return HS_OK;
}

/* Grows the array at (*items, *n) by one zeroed element of size bytes. */
static int grow_one(void **items, size_t *n, size_t size, void **out)
{
    if (*n >= HS_RECORD_MAX_ITEMS)
        return HS_ETOOBIG;
    char *p = hs_reallocarray(*items, *n + 1, size);
    if (p == NULL)
        return HS_ENOMEM;
    memset(p + *n * size, 0, size);
    *items = p;
    *out = p + *n * size;
    (*n)++;
    return HS_OK;
}

int hs_record_add_line(struct hs_record *r, struct hs_invoice_line **out)
{
    *out = NULL;
    void *items;
    size_t *n;
    if (r->kind == HS_KIND_INVOICE) {
        items = r->invoice.lines;
        n = &r->invoice.n_lines;
    } else if (r->kind == HS_KIND_CREDIT_NOTE) {
        items = r->credit_note.lines;
        n = &r->credit_note.n_lines;
    } else {
        return HS_EINVAL;
    }
    void *line;
    int rc = grow_one(&items, n, sizeof(struct hs_invoice_line), &line);
    if (rc != HS_OK)
        return rc;
    if (r->kind == HS_KIND_INVOICE)
        r->invoice.lines = items;
    else
        r->credit_note.lines = items;
    *out = line;
    return HS_OK;
}

int hs_record_add_applied(struct hs_record *r, struct hs_payment_applied **out)
{
    *out = NULL;
    if (r->kind != HS_KIND_PAYMENT)
        return HS_EINVAL;
    void *items = r->payment.applied;
    void *a;
    int rc = grow_one(&items, &r->payment.n_applied, sizeof(struct hs_payment_applied), &a);
    if (rc != HS_OK)
        return rc;
    r->payment.applied = items;
    *out = a;
    return HS_OK;
}

/* ---- walking present values (validate, to_fields) ------------------------------------------- */

struct walk {
    struct path path;
    struct hs_error *err;
    struct hs_fields *out; /* to_fields: where entries go (unsorted); NULL to only validate */
};

/* Appends (name, value) copies to f without keeping it sorted (sort_fields restores that). */
static int append_field(struct hs_fields *f, const char *prefix, const char *name,
                        const char *value)
{
    if (f->n_items == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 32;
        struct hs_field *items = hs_reallocarray(f->items, cap, sizeof *items);
        if (items == NULL)
            return HS_ENOMEM;
        f->items = items;
        f->cap = cap;
    }
    char *n = prefix[0] ? hs_asprintf("%s%s", prefix, name) : hs_strdup(name);
    char *v = hs_strdup(value);
    if (n == NULL || v == NULL) {
        hs_free(n);
        hs_free(v);
        return HS_ENOMEM;
    }
    f->items[f->n_items].name = n;
    f->items[f->n_items].value = v;
    f->n_items++;
    return HS_OK;
}

static int cmp_field(const void *a, const void *b)
{
    return strcmp(((const struct hs_field *)a)->name, ((const struct hs_field *)b)->name);
}

static int walk_table(struct walk *w, const struct ftable *t, const void *base)
{
    for (size_t i = 0; i < t->n_fields; i++) {
        const struct fdesc *d = &t->fields[i];
        size_t saved = w->path.len;
        path_push(&w->path, d->name);
        int rc = HS_OK;
        if (d->type == F_STRUCT) {
            rc = walk_table(w, d->sub, cat(base, d->off));
        } else if (d->type == F_ARRAY) {
            size_t n = get_count(base, d);
            const char *items = get_items(base, d);
            if (n > HS_RECORD_MAX_ITEMS)
                return hs_error_set(w->err, HS_ETOOBIG, "field '%s': %zu items, more than %d",
                                    w->path.buf, n, HS_RECORD_MAX_ITEMS);
            if (n > 0 && items == NULL)
                return hs_error_set(w->err, HS_EINVAL, "field '%s': %zu items but no array",
                                    w->path.buf, n);
            size_t len = w->path.len;
            for (size_t k = 0; k < n && rc == HS_OK; k++) {
                path_index(&w->path, k);
                rc = walk_table(w, d->sub, items + k * d->sub->size);
                path_pop(&w->path, len);
            }
        } else {
            char tmp[TEXT_MAX];
            const char *text = NULL;
            const char *why = NULL;
            int present = scalar_text(d, base, tmp, &text, &why);
            if (present < 0)
                return hs_error_set(w->err, present, "field '%s': %s", w->path.buf, why);
            if (present && d->type == F_STR) {
                rc = check_text(text, strlen(text), &why);
                if (rc != HS_OK)
                    return hs_error_set(w->err, rc, "field '%s': %s", w->path.buf, why);
            }
            if (present && w->out != NULL) {
                rc = append_field(w->out, "", w->path.buf, text);
                if (rc != HS_OK)
                    return hs_error_set(w->err, rc, "out of memory");
            }
        }
        if (rc != HS_OK)
            return rc;
        path_pop(&w->path, saved);
    }
    return HS_OK;
}

/* Validates a map (keys non-empty, prefix+key within HS_FIELD_NAME_MAX, UTF-8, count cap) and
 * appends its entries to out (when not NULL). */
static int walk_map(struct walk *w, const struct hs_fields *m, const char *prefix)
{
    const char *label = prefix[0] ? prefix : "meta.";
    if (m->n_items > HS_RECORD_MAX_MAP)
        return hs_error_set(w->err, HS_ETOOBIG, "map '%.*s': %zu entries, more than %d",
                            (int)strlen(label) - 1, label, m->n_items, HS_RECORD_MAX_MAP);
    for (size_t i = 0; i < m->n_items; i++) {
        const char *k = m->items[i].name;
        const char *v = m->items[i].value;
        const char *why = NULL;
        size_t kl = strlen(k);
        if (kl == 0)
            return hs_error_set(w->err, HS_EINVAL, "map '%.*s': empty key", (int)strlen(label) - 1,
                                label);
        if (kl + strlen(label) > HS_FIELD_NAME_MAX)
            return hs_error_set(w->err, HS_ETOOBIG, "field '%s%.32s...': name longer than %d bytes",
                                label, k, HS_FIELD_NAME_MAX);
        int rc = check_text(k, kl, &why);
        if (rc == HS_OK)
            rc = check_text(v, strlen(v), &why);
        if (rc != HS_OK)
            return hs_error_set(w->err, rc, "field '%s%.*s': %s", label, shown(kl), k, why);
        if (w->out != NULL && prefix[0] != '\0') {
            rc = append_field(w->out, prefix, k, v);
            if (rc != HS_OK)
                return hs_error_set(w->err, rc, "out of memory");
        }
    }
    return HS_OK;
}

static int walk_record(struct walk *w, const struct hs_record *r)
{
    const struct ftable *t = kind_table(r->kind);
    if (t == NULL)
        return hs_error_set(w->err, HS_EINVAL, "record kind %d is not valid", (int)r->kind);
    if (r->id != NULL) {
        const char *why = NULL;
        int rc = check_text(r->id, strlen(r->id), &why);
        if (rc != HS_OK)
            return hs_error_set(w->err, rc, "record id: %s", why);
    }
    w->path.len = 0;
    w->path.buf[0] = '\0';
    int rc = walk_table(w, t, kind_cbase(r));
    if (rc == HS_OK)
        rc = walk_map(w, &r->custom, CUSTOM_PREFIX);
    if (rc == HS_OK)
        rc = walk_map(w, &r->external_refs, EXTREF_PREFIX);
    if (rc == HS_OK)
        rc = walk_map(w, &r->meta, "");
    return rc;
}

static const char *kind_label(enum hs_kind kind)
{
    const char *name = hs_kind_name(kind);
    return name ? name : "record";
}

int hs_record_validate(const struct hs_record *r, struct hs_error *err)
{
    struct walk w = {.err = err, .out = NULL};
    int rc = walk_record(&w, r);
    if (rc != HS_OK) {
        hs_error_prefix(err, "invalid %s", kind_label(r->kind));
        return rc;
    }
    return HS_OK;
}

int hs_record_to_fields(const struct hs_record *r, struct hs_fields *out, struct hs_error *err)
{
    hs_fields_release(out);
    struct walk w = {.err = err, .out = out};
    int rc = walk_record(&w, r);
    if (rc != HS_OK) {
        hs_fields_release(out);
        if (rc == HS_ENOMEM)
            return hs_error_set(err, HS_ENOMEM, "cannot build field view: out of memory");
        hs_error_prefix(err, "invalid %s", kind_label(r->kind));
        return rc;
    }
    if (out->n_items > 1)
        qsort(out->items, out->n_items, sizeof *out->items, cmp_field);
    return HS_OK;
}

/* ---- parsing one scalar from canonical text ------------------------------------------------- */

static int not_canonical(struct hs_error *err, const char *path, const char *s, size_t len,
                         const char *want)
{
    return hs_error_set(err, HS_EINVAL, "field '%s': '%.*s' is not canonical, expected '%s'", path,
                        shown(len), s, want);
}

/* Parses the canonical text (s, len) into the scalar field d of base (strict). */
static int parse_scalar(const struct fdesc *d, void *base, const char *s, size_t len,
                        const char *path, struct hs_error *err)
{
    void *p = at(base, d->off);
    char tmp[TEXT_MAX];
    switch (d->type) {
    case F_STR: {
        const char *why = NULL;
        int rc = check_text(s, len, &why);
        if (rc != HS_OK)
            return hs_error_set(err, rc, "field '%s': %s", path, why);
        char *c = hs_strndup(s, len);
        if (c == NULL)
            return hs_error_set(err, HS_ENOMEM, "out of memory");
        char *old;
        memcpy(&old, p, sizeof old);
        hs_free(old);
        memcpy(p, &c, sizeof c);
        return HS_OK;
    }
    case F_TRI:
        if (len == 4 && memcmp(s, "true", 4) == 0)
            set_int(p, HS_TRI_TRUE);
        else if (len == 5 && memcmp(s, "false", 5) == 0)
            set_int(p, HS_TRI_FALSE);
        else
            return hs_error_set(err, HS_EINVAL,
                                "field '%s': expected 'true' or 'false', got '%.*s'", path,
                                shown(len), s);
        return HS_OK;
    case F_MONEY: {
        if (len < 5 || s[3] != ' ' || !upper_alpha(s, 3))
            return hs_error_set(err, HS_EINVAL,
                                "field '%s': expected '<currency> <amount>' like 'USD 12.50', "
                                "got '%.*s'",
                                path, shown(len), s);
        char cur[4] = {s[0], s[1], s[2], '\0'};
        if (hs_currency_find(cur) == NULL)
            return hs_error_set(err, HS_EINVAL, "field '%s': unknown currency '%s'", path, cur);
        struct hs_money m;
        struct hs_error e2;
        hs_error_clear(&e2);
        int rc = hs_money_parse_exact(s + 4, len - 4, cur, &m, &e2);
        if (rc != HS_OK)
            return hs_error_set(err, rc, "field '%s': %s", path, e2.msg);
        memcpy(tmp, cur, 3);
        tmp[3] = ' ';
        int n = hs_money_format(&m, tmp + 4, sizeof tmp - 4);
        if (n < 0)
            return hs_error_set(err, HS_EINVAL, "field '%s': cannot format '%.*s'", path,
                                shown(len), s);
        if ((size_t)n + 4 != len || memcmp(tmp, s, len) != 0)
            return not_canonical(err, path, s, len, tmp);
        memcpy(p, &m, sizeof m);
        return HS_OK;
    }
    case F_DEC: {
        struct hs_decimal v;
        struct hs_error e2;
        hs_error_clear(&e2);
        int rc = hs_decimal_parse_exact(s, len, &v, &e2);
        if (rc != HS_OK)
            return hs_error_set(err, rc, "field '%s': %s", path, e2.msg);
        int n = hs_decimal_format(v, tmp, sizeof tmp);
        if (n < 0)
            return hs_error_set(err, HS_EINVAL, "field '%s': cannot format '%.*s'", path,
                                shown(len), s);
        if ((size_t)n != len || memcmp(tmp, s, len) != 0)
            return not_canonical(err, path, s, len, tmp);
        bool has = true;
        memcpy(p, &v, sizeof v);
        memcpy(at(base, d->aux), &has, sizeof has);
        return HS_OK;
    }
    case F_DATE: {
        struct hs_date v;
        struct hs_error e2;
        hs_error_clear(&e2);
        int rc = hs_date_parse(s, len, &v, &e2);
        if (rc != HS_OK)
            return hs_error_set(err, rc, "field '%s': %s", path, e2.msg);
        memcpy(p, &v, sizeof v);
        return HS_OK;
    }
    case F_ENUM: {
        for (int k = 1; k < d->n_names; k++) {
            if (strlen(d->names[k]) == len && memcmp(d->names[k], s, len) == 0) {
                set_int(p, k);
                return HS_OK;
            }
        }
        char list[128] = "";
        size_t used = 0;
        for (int k = 1; k < d->n_names && used < sizeof list; k++) {
            int n =
                snprintf(list + used, sizeof list - used, "%s%s", k > 1 ? ", " : "", d->names[k]);
            if (n < 0)
                break;
            used += (size_t)n;
        }
        return hs_error_set(err, HS_EINVAL, "field '%s': unknown value '%.*s', expected one of %s",
                            path, shown(len), s, list);
    }
    case F_CUR: {
        if (len != 3 || !upper_alpha(s, 3))
            return hs_error_set(err, HS_EINVAL,
                                "field '%s': expected an ISO 4217 code like 'USD', got '%.*s'",
                                path, shown(len), s);
        char cur[4] = {s[0], s[1], s[2], '\0'};
        if (hs_currency_find(cur) == NULL)
            return hs_error_set(err, HS_EINVAL, "field '%s': unknown currency '%s'", path, cur);
        memcpy(p, cur, 4);
        return HS_OK;
    }
    case F_COUNTRY: {
        if (len != 2 || !upper_alpha(s, 2))
            return hs_error_set(err, HS_EINVAL,
                                "field '%s': expected an ISO 3166 alpha-2 code like 'FR', got "
                                "'%.*s'",
                                path, shown(len), s);
        char c[3] = {s[0], s[1], '\0'};
        memcpy(p, c, 3);
        return HS_OK;
    }
    case F_STRUCT:
    case F_ARRAY:
        break;
    }
    return hs_error_set(err, HS_EINVAL, "field '%s': not a value field", path);
}

/* ---- from_fields ---------------------------------------------------------------------------- */

static const struct fdesc *find_desc(const struct ftable *t, const char *name, size_t len)
{
    for (size_t i = 0; i < t->n_fields; i++) {
        if (strlen(t->fields[i].name) == len && memcmp(t->fields[i].name, name, len) == 0)
            return &t->fields[i];
    }
    return NULL;
}

/*
 * Parses "[<index>]" at *p (canonical decimal, no leading zeros) and advances *p past ']'.
 * Returns the index, -1 on bad syntax, -2 when it is not below HS_RECORD_MAX_ITEMS.
 */
static long parse_index(const char **p)
{
    const char *s = *p;
    if (*s != '[')
        return -1;
    s++;
    long v = 0;
    int nd = 0;
    while (*s >= '0' && *s <= '9') {
        if (nd == 0 && *s == '0' && s[1] != ']')
            return -1;
        if (++nd > 6)
            return -2;
        v = v * 10 + (*s - '0');
        s++;
    }
    if (nd == 0 || *s != ']')
        return -1;
    if (v >= HS_RECORD_MAX_ITEMS)
        return -2;
    *p = s + 1;
    return v;
}

static int unknown_field(struct hs_error *err, const char *path, const struct ftable *t)
{
    return hs_error_set(err, HS_EINVAL, "field '%s': unknown field of %s", path, t->what);
}

/* Resolves the rest of a field path (rest) in table t at base and parses value into it. */
static int set_path(const struct ftable *t, void *base, const char *full, const char *rest,
                    const char *value, struct hs_error *err)
{
    size_t seg = strcspn(rest, ".[");
    const struct fdesc *d = find_desc(t, rest, seg);
    if (d == NULL)
        return unknown_field(err, full, t);
    const char *p = rest + seg;
    if (d->type == F_STRUCT) {
        if (*p != '.')
            return unknown_field(err, full, t);
        return set_path(d->sub, at(base, d->off), full, p + 1, value, err);
    }
    if (d->type == F_ARRAY) {
        long idx = parse_index(&p);
        if (idx == -2)
            return hs_error_set(err, HS_ETOOBIG, "field '%s': index beyond the limit of %d items",
                                full, HS_RECORD_MAX_ITEMS);
        if (idx < 0 || *p != '.')
            return unknown_field(err, full, t);
        size_t n = get_count(base, d);
        char *items = get_items(base, d);
        if ((size_t)idx >= n) {
            char *grown = hs_reallocarray(items, (size_t)idx + 1, d->sub->size);
            if (grown == NULL)
                return hs_error_set(err, HS_ENOMEM, "out of memory");
            memset(grown + n * d->sub->size, 0, ((size_t)idx + 1 - n) * d->sub->size);
            items = grown;
            n = (size_t)idx + 1;
            set_array(base, d, items, n);
        }
        return set_path(d->sub, items + (size_t)idx * d->sub->size, full, p + 1, value, err);
    }
    if (*p != '\0')
        return unknown_field(err, full, t);
    return parse_scalar(d, base, value, strlen(value), full, err);
}

/* Sizes each top-level array once from the highest index named in f, so that building an
 * invoice with thousands of lines does not reallocate per line. */
static int presize_arrays(const struct ftable *t, void *base, const struct hs_fields *f)
{
    for (size_t i = 0; i < t->n_fields; i++) {
        const struct fdesc *d = &t->fields[i];
        if (d->type != F_ARRAY)
            continue;
        size_t nl = strlen(d->name);
        long max = -1;
        for (size_t k = 0; k < f->n_items; k++) {
            const char *name = f->items[k].name;
            if (strncmp(name, d->name, nl) != 0)
                continue;
            const char *p = name + nl;
            long idx = parse_index(&p);
            if (idx > max)
                max = idx;
        }
        if (max < 0)
            continue;
        char *items = hs_calloc((size_t)max + 1, d->sub->size);
        if (items == NULL)
            return HS_ENOMEM;
        set_array(base, d, items, (size_t)max + 1);
    }
    return HS_OK;
}

/* Sets key of a record map from a field named prefix+key. */
static int set_map_entry(struct hs_fields *m, const char *full, const char *key, const char *value,
                         struct hs_error *err)
{
    const char *why = NULL;
    if (*key == '\0')
        return hs_error_set(err, HS_EINVAL, "field '%s': empty key", full);
    int rc = check_text(key, strlen(key), &why);
    if (rc == HS_OK)
        rc = check_text(value, strlen(value), &why);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "field '%.*s': %s", shown(strlen(full)), full, why);
    if (m->n_items >= HS_RECORD_MAX_MAP)
        return hs_error_set(err, HS_ETOOBIG, "field '%.*s': more than %d map entries",
                            shown(strlen(full)), full, HS_RECORD_MAX_MAP);
    if (hs_fields_set(m, key, value) != HS_OK)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    return HS_OK;
}

int hs_record_from_fields(enum hs_kind kind, const struct hs_fields *f, struct hs_record **out,
                          struct hs_error *err)
{
    *out = NULL;
    const struct ftable *t = kind_table(kind);
    if (t == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot build record: kind %d is not valid", (int)kind);
    struct hs_record *r = NULL;
    int rc = hs_record_new(kind, &r);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot build %s: out of memory", t->what);
    rc = presize_arrays(t, kind_base(r), f);
    if (rc != HS_OK) {
        hs_error_set(err, rc, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < f->n_items; i++) {
        const char *name = f->items[i].name;
        const char *value = f->items[i].value;
        size_t nl = strlen(name);
        if (nl > HS_FIELD_NAME_MAX) {
            rc = hs_error_set(err, HS_ETOOBIG, "field '%.64s...': name longer than %d bytes", name,
                              HS_FIELD_NAME_MAX);
            goto fail;
        }
        if (strncmp(name, CUSTOM_PREFIX, strlen(CUSTOM_PREFIX)) == 0)
            rc = set_map_entry(&r->custom, name, name + strlen(CUSTOM_PREFIX), value, err);
        else if (strncmp(name, EXTREF_PREFIX, strlen(EXTREF_PREFIX)) == 0)
            rc = set_map_entry(&r->external_refs, name, name + strlen(EXTREF_PREFIX), value, err);
        else
            rc = set_path(t, kind_base(r), name, name, value, err);
        if (rc != HS_OK)
            goto fail;
    }
    *out = r;
    return HS_OK;
fail:
    hs_record_free(r);
    if (rc == HS_ENOMEM)
        return hs_error_set(err, HS_ENOMEM, "cannot build %s from fields: out of memory", t->what);
    hs_error_prefix(err, "cannot build %s from fields", t->what);
    return rc;
}

/* ---- to_json -------------------------------------------------------------------------------- */

static int set_new(json_t *obj, const char *key, json_t *v)
{
    if (v == NULL)
        return HS_ENOMEM;
    return json_object_set_new(obj, key, v) == 0 ? HS_OK : HS_ENOMEM;
}

/* Fills obj with the present values of table t at base (base must validate). */
static int table_to_json(const struct ftable *t, const void *base, json_t *obj)
{
    for (size_t i = 0; i < t->n_fields; i++) {
        const struct fdesc *d = &t->fields[i];
        int rc = HS_OK;
        if (d->type == F_STRUCT) {
            json_t *o = json_object();
            if (o == NULL)
                return HS_ENOMEM;
            rc = table_to_json(d->sub, cat(base, d->off), o);
            if (rc != HS_OK || json_object_size(o) == 0)
                json_decref(o);
            else
                rc = set_new(obj, d->name, o);
        } else if (d->type == F_ARRAY) {
            size_t n = get_count(base, d);
            const char *items = get_items(base, d);
            if (n == 0)
                continue;
            json_t *a = json_array();
            if (a == NULL)
                return HS_ENOMEM;
            for (size_t k = 0; k < n && rc == HS_OK; k++) {
                json_t *o = json_object();
                if (o == NULL) {
                    rc = HS_ENOMEM;
                    break;
                }
                rc = table_to_json(d->sub, items + k * d->sub->size, o);
                if (rc != HS_OK) {
                    json_decref(o);
                    break;
                }
                if (json_array_append_new(a, o) != 0)
                    rc = HS_ENOMEM;
            }
            if (rc != HS_OK)
                json_decref(a);
            else
                rc = set_new(obj, d->name, a);
        } else {
            char tmp[TEXT_MAX];
            const char *text = NULL;
            const char *why = NULL;
            int present = scalar_text(d, base, tmp, &text, &why);
            if (present < 0)
                return present;
            if (present == 0)
                continue;
            if (d->type == F_TRI)
                rc = set_new(obj, d->name, json_boolean(get_int(cat(base, d->off)) == HS_TRI_TRUE));
            else
                rc = set_new(obj, d->name, json_string(text));
        }
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}

static int map_to_json(json_t *obj, const char *key, const struct hs_fields *m)
{
    if (m->n_items == 0)
        return HS_OK;
    json_t *o = json_object();
    if (o == NULL)
        return HS_ENOMEM;
    for (size_t i = 0; i < m->n_items; i++) {
        if (set_new(o, m->items[i].name, json_string(m->items[i].value)) != HS_OK) {
            json_decref(o);
            return HS_ENOMEM;
        }
    }
    return set_new(obj, key, o);
}

static int dump_cb(const char *p, size_t n, void *ud)
{
    return hs_buf_append(ud, p, n) == HS_OK ? 0 : -1;
}

int hs_record_to_json(const struct hs_record *r, char **out, struct hs_error *err)
{
    *out = NULL;
    int rc = hs_record_validate(r, err);
    if (rc != HS_OK)
        return rc;
    json_t *root = json_object();
    struct hs_buf b;
    hs_buf_init(&b);
    rc = root ? HS_OK : HS_ENOMEM;
    if (rc == HS_OK)
        rc = set_new(root, "v", json_integer(HS_RECORD_JSON_VERSION));
    if (rc == HS_OK)
        rc = set_new(root, "kind", json_string(hs_kind_name(r->kind)));
    if (rc == HS_OK && r->id != NULL)
        rc = set_new(root, "id", json_string(r->id));
    if (rc == HS_OK && r->updated_at != 0)
        rc = set_new(root, "updated_at", json_integer((json_int_t)r->updated_at));
    if (rc == HS_OK)
        rc = map_to_json(root, "meta", &r->meta);
    if (rc == HS_OK)
        rc = map_to_json(root, "custom", &r->custom);
    if (rc == HS_OK)
        rc = map_to_json(root, "external_refs", &r->external_refs);
    if (rc == HS_OK)
        rc = table_to_json(kind_table(r->kind), kind_cbase(r), root);
    if (rc == HS_OK && json_dump_callback(root, dump_cb, &b, JSON_COMPACT | JSON_SORT_KEYS) != 0)
        rc = HS_ENOMEM;
    json_decref(root);
    if (rc == HS_OK) {
        *out = hs_buf_detach(&b);
        if (*out == NULL)
            rc = HS_ENOMEM;
    }
    hs_buf_release(&b);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot serialize %s: out of memory", hs_kind_name(r->kind));
    return HS_OK;
}

/* ---- from_json ------------------------------------------------------------------------------ */

static const char *jtype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

static const char *expected(const struct fdesc *d)
{
    switch (d->type) {
    case F_STR:
        return "a string";
    case F_TRI:
        return "true or false";
    case F_MONEY:
        return "a string like 'USD 12.50'";
    case F_DEC:
        return "a decimal string like '1.5'";
    case F_DATE:
        return "a date string like '2024-01-31'";
    case F_ENUM:
        return "a string";
    case F_CUR:
        return "a currency code string like 'USD'";
    case F_COUNTRY:
        return "a country code string like 'FR'";
    case F_STRUCT:
        return "an object";
    case F_ARRAY:
        return "an array";
    }
    return "a value";
}

static int wrong_type(struct hs_error *err, const char *path, const struct fdesc *d,
                      const json_t *v)
{
    return hs_error_set(err, HS_EPROTO, "field '%s': expected %s, got %s", path, expected(d),
                        jtype(v));
}

static int object_from_json(const struct ftable *t, void *base, const json_t *obj,
                            struct path *path, struct hs_error *err);

static int value_from_json(const struct fdesc *d, void *base, const json_t *v, struct path *path,
                           struct hs_error *err)
{
    switch (d->type) {
    case F_STRUCT:
        if (!json_is_object(v))
            return wrong_type(err, path->buf, d, v);
        return object_from_json(d->sub, at(base, d->off), v, path, err);
    case F_ARRAY: {
        if (!json_is_array(v))
            return wrong_type(err, path->buf, d, v);
        size_t n = json_array_size(v);
        if (n > HS_RECORD_MAX_ITEMS)
            return hs_error_set(err, HS_ETOOBIG, "field '%s': %zu items, more than %d", path->buf,
                                n, HS_RECORD_MAX_ITEMS);
        if (n == 0)
            return HS_OK;
        char *items = hs_calloc(n, d->sub->size);
        if (items == NULL)
            return hs_error_set(err, HS_ENOMEM, "out of memory");
        set_array(base, d, items, n);
        size_t len = path->len;
        for (size_t k = 0; k < n; k++) {
            const json_t *e = json_array_get(v, k);
            path_index(path, k);
            int rc = json_is_object(e)
                         ? object_from_json(d->sub, items + k * d->sub->size, e, path, err)
                         : hs_error_set(err, HS_EPROTO, "field '%s': expected an object, got %s",
                                        path->buf, jtype(e));
            path_pop(path, len);
            if (rc != HS_OK)
                return rc;
        }
        return HS_OK;
    }
    case F_TRI:
        if (!json_is_boolean(v))
            return wrong_type(err, path->buf, d, v);
        set_int(at(base, d->off), json_is_true(v) ? HS_TRI_TRUE : HS_TRI_FALSE);
        return HS_OK;
    default:
        if (!json_is_string(v))
            return wrong_type(err, path->buf, d, v);
        return parse_scalar(d, base, json_string_value(v), json_string_length(v), path->buf, err);
    }
}

static int object_from_json(const struct ftable *t, void *base, const json_t *obj,
                            struct path *path, struct hs_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        size_t len = path->len;
        path_push(path, key);
        const struct fdesc *d = find_desc(t, key, strlen(key));
        int rc =
            d ? value_from_json(d, base, v, path, err)
              : hs_error_set(err, HS_EPROTO, "field '%s': unknown field of %s", path->buf, t->what);
        path_pop(path, len);
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}

static int map_from_json(struct hs_fields *m, const char *name, const json_t *v,
                         struct hs_error *err)
{
    if (!json_is_object(v))
        return hs_error_set(err, HS_EPROTO, "member '%s': expected an object, got %s", name,
                            jtype(v));
    if (json_object_size(v) > HS_RECORD_MAX_MAP)
        return hs_error_set(err, HS_ETOOBIG, "member '%s': %zu entries, more than %d", name,
                            json_object_size(v), HS_RECORD_MAX_MAP);
    const char *key;
    json_t *e;
    json_object_foreach((json_t *)v, key, e)
    {
        size_t kl = strlen(key);
        if (!json_is_string(e))
            return hs_error_set(err, HS_EPROTO, "member '%s.%.*s': expected a string, got %s", name,
                                shown(kl), key, jtype(e));
        if (kl == 0)
            return hs_error_set(err, HS_EINVAL, "member '%s': empty key", name);
        if (kl + strlen(name) + 1 > HS_FIELD_NAME_MAX)
            return hs_error_set(err, HS_ETOOBIG, "member '%s.%.32s...': key longer than %d bytes",
                                name, key, HS_FIELD_NAME_MAX);
        if (json_string_length(e) > HS_FIELD_VALUE_MAX ||
            strlen(json_string_value(e)) != json_string_length(e))
            return hs_error_set(err, HS_ETOOBIG, "member '%s.%.*s': value too long", name,
                                shown(kl), key);
        if (hs_fields_set(m, key, json_string_value(e)) != HS_OK)
            return hs_error_set(err, HS_ENOMEM, "out of memory");
    }
    return HS_OK;
}

/*
 * Syntax check before jansson sees the text (util/json.h hs_json_check): it caps nesting at
 * HS_RECORD_JSON_MAX_DEPTH before any recursion, and it lets an error from jansson afterwards
 * be read as what it then must be (a failed allocation, reported by jansson's lexer as a
 * syntax error), except duplicate keys and numbers out of range.
 */
static int check_syntax(const uint8_t *buf, size_t len, struct hs_error *err)
{
    struct hs_json_where w;
    int rc = hs_json_check(buf, len, HS_RECORD_JSON_MAX_DEPTH, true, &w);
    if (rc == HS_OK)
        return HS_OK;
    if (rc == HS_ETOOBIG)
        return hs_error_set(err, HS_ETOOBIG,
                            "cannot parse record JSON: nesting deeper than %d levels",
                            HS_RECORD_JSON_MAX_DEPTH);
    return hs_error_set(err, HS_EPROTO, "cannot parse record JSON: line %d column %zu: %s", w.line,
                        w.column, w.why);
}

static int record_from_json(const json_t *root, struct hs_record **out, struct hs_error *err)
{
    if (!json_is_object(root))
        return hs_error_set(err, HS_EPROTO, "expected an object, got %s", jtype(root));
    const json_t *ver = json_object_get(root, "v");
    if (ver == NULL)
        return hs_error_set(err, HS_EPROTO, "member 'v' (format version) is missing");
    if (!json_is_integer(ver))
        return hs_error_set(err, HS_EPROTO, "member 'v': expected an integer, got %s", jtype(ver));
    if (json_integer_value(ver) != HS_RECORD_JSON_VERSION)
        return hs_error_set(err, HS_EUNSUPPORTED, "format version %lld is not supported (%d is)",
                            (long long)json_integer_value(ver), HS_RECORD_JSON_VERSION);
    const json_t *jk = json_object_get(root, "kind");
    if (jk == NULL)
        return hs_error_set(err, HS_EPROTO, "member 'kind' is missing");
    if (!json_is_string(jk))
        return hs_error_set(err, HS_EPROTO, "member 'kind': expected a string, got %s", jtype(jk));
    enum hs_kind kind;
    int rc = hs_kind_parse(json_string_value(jk), &kind, err);
    if (rc != HS_OK)
        return rc;
    const struct ftable *t = kind_table(kind);
    struct hs_record *r = NULL;
    rc = hs_record_new(kind, &r);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "out of memory");
    struct path path = {.len = 0};
    path.buf[0] = '\0';
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)root, key, v)
    {
        if (strcmp(key, "v") == 0 || strcmp(key, "kind") == 0)
            continue;
        if (strcmp(key, "id") == 0) {
            if (json_is_null(v))
                continue;
            if (!json_is_string(v)) {
                rc = hs_error_set(err, HS_EPROTO, "member 'id': expected a string or null, got %s",
                                  jtype(v));
                break;
            }
            if (json_string_length(v) > HS_FIELD_VALUE_MAX ||
                strlen(json_string_value(v)) != json_string_length(v)) {
                rc = hs_error_set(err, HS_ETOOBIG, "member 'id': too long");
                break;
            }
            r->id = hs_strdup(json_string_value(v));
            if (r->id == NULL) {
                rc = hs_error_set(err, HS_ENOMEM, "out of memory");
                break;
            }
        } else if (strcmp(key, "updated_at") == 0) {
            if (!json_is_integer(v)) {
                rc = hs_error_set(err, HS_EPROTO,
                                  "member 'updated_at': expected an integer, got %s", jtype(v));
                break;
            }
            r->updated_at = (int64_t)json_integer_value(v);
        } else if (strcmp(key, "meta") == 0) {
            rc = map_from_json(&r->meta, key, v, err);
        } else if (strcmp(key, "custom") == 0) {
            rc = map_from_json(&r->custom, key, v, err);
        } else if (strcmp(key, "external_refs") == 0) {
            rc = map_from_json(&r->external_refs, key, v, err);
        } else {
            const struct fdesc *d = find_desc(t, key, strlen(key));
            path_pop(&path, 0);
            path_push(&path, key);
            rc = d ? value_from_json(d, kind_base(r), v, &path, err)
                   : hs_error_set(err, HS_EPROTO, "field '%s': unknown field of %s", path.buf,
                                  t->what);
        }
        if (rc != HS_OK)
            break;
    }
    if (rc == HS_OK)
        rc = hs_record_validate(r, err);
    if (rc != HS_OK) {
        hs_record_free(r);
        return rc;
    }
    *out = r;
    return HS_OK;
}

int hs_record_from_json(const uint8_t *buf, size_t len, struct hs_record **out,
                        struct hs_error *err)
{
    *out = NULL;
    if (len > HS_RECORD_JSON_MAX_BYTES)
        return hs_error_set(err, HS_ETOOBIG,
                            "cannot read record JSON: %zu bytes exceeds the limit of %zu", len,
                            HS_RECORD_JSON_MAX_BYTES);
    if (len == 0)
        return hs_error_set(err, HS_EPROTO, "cannot parse record JSON: empty input");
    int rc = check_syntax(buf, len, err);
    if (rc != HS_OK)
        return rc;
    json_error_t jerr;
    memset(&jerr, 0, sizeof jerr);
    json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) /* checked text: a content error or out of memory */
        return hs_json_load_error(&jerr, "record JSON", err);
    rc = record_from_json(root, out, err);
    json_decref(root);
    if (rc == HS_ENOMEM)
        return hs_error_set(err, HS_ENOMEM, "cannot read record JSON: out of memory");
    if (rc != HS_OK)
        hs_error_prefix(err, "cannot read record JSON");
    return rc;
}
