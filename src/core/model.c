/*
 * core/model.c - the sorted string map behind the field view, record kinds and dates.
 *
 * Design:     struct hs_fields is a plain array of (name, value) pairs kept sorted by name in
 *             byte order, looked up by binary search. Records have tens of fields and invoices
 *             a few thousand at most, so an array beats a hash table: it is already in the
 *             canonical order the hash and the JSON form need, and iteration is trivial. Bulk
 *             builders (record.c) append unsorted and sort once; single sets insert in place.
 *             Dates are plain (year, month, day) triples with a strict "YYYY-MM-DD" syntax.
 * Invariants: items[0..n_items) sorted strictly ascending by strcmp(name); every name and value
 *             owned by the map; n_items <= cap; items NULL iff cap == 0.
 * Ownership:  names and values are hs_malloc'd copies freed by hs_fields_release.
 * Not here:   the record types and their field paths (record.c), hashing (hash.c).
 */
#include <string.h>

#include "hoopsync/model.h"
#include "util/alloc.h"

/* ---- struct hs_fields ----------------------------------------------------------------------- */

void hs_fields_init(struct hs_fields *f)
{
    f->items = NULL;
    f->n_items = 0;
    f->cap = 0;
}

void hs_fields_release(struct hs_fields *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n_items; i++) {
        hs_free(f->items[i].name);
        hs_free(f->items[i].value);
    }
    hs_free(f->items);
    hs_fields_init(f);
}

size_t hs_fields_count(const struct hs_fields *f)
{
    return f->n_items;
}

/* Index of name, or the insertion point with *found false. */
static size_t find(const struct hs_fields *f, const char *name, bool *found)
{
    size_t lo = 0;
    size_t hi = f->n_items;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->items[mid].name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

const char *hs_fields_get(const struct hs_fields *f, const char *name)
{
    if (f == NULL || name == NULL)
        return NULL;
    bool found;
    size_t i = find(f, name, &found);
    return found ? f->items[i].value : NULL;
}

int hs_fields_set(struct hs_fields *f, const char *name, const char *value)
{
    if (f == NULL || name == NULL || value == NULL)
        return HS_EINVAL;
    bool found;
    size_t i = find(f, name, &found);
    char *v = hs_strdup(value);
    if (v == NULL)
        return HS_ENOMEM;
    if (found) {
        hs_free(f->items[i].value);
        f->items[i].value = v;
        return HS_OK;
    }
    char *n = hs_strdup(name);
    if (n == NULL) {
        hs_free(v);
        return HS_ENOMEM;
    }
    if (f->n_items == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        struct hs_field *items = hs_reallocarray(f->items, cap, sizeof *items);
        if (items == NULL) {
            hs_free(n);
            hs_free(v);
            return HS_ENOMEM;
        }
        f->items = items;
        f->cap = cap;
    }
    memmove(&f->items[i + 1], &f->items[i], (f->n_items - i) * sizeof *f->items);
    f->items[i].name = n;
    f->items[i].value = v;
    f->n_items++;
    return HS_OK;
}

int hs_fields_remove(struct hs_fields *f, const char *name)
{
    if (f == NULL || name == NULL)
        return 0;
    bool found;
    size_t i = find(f, name, &found);
    if (!found)
        return 0;
    hs_free(f->items[i].name);
    hs_free(f->items[i].value);
    memmove(&f->items[i], &f->items[i + 1], (f->n_items - i - 1) * sizeof *f->items);
    f->n_items--;
    return 1;
}

bool hs_fields_iter(const struct hs_fields *f, size_t *pos, const char **out_name,
                    const char **out_value)
{
    if (f == NULL || *pos >= f->n_items)
        return false;
    *out_name = f->items[*pos].name;
    *out_value = f->items[*pos].value;
    (*pos)++;
    return true;
}

bool hs_fields_equal(const struct hs_fields *a, const struct hs_fields *b)
{
    if (a->n_items != b->n_items)
        return false;
    for (size_t i = 0; i < a->n_items; i++) {
        if (strcmp(a->items[i].name, b->items[i].name) != 0 ||
            strcmp(a->items[i].value, b->items[i].value) != 0)
            return false;
    }
    return true;
}

int hs_fields_copy(struct hs_fields *dst, const struct hs_fields *src)
{
    struct hs_fields tmp;
    hs_fields_init(&tmp);
    if (src->n_items > 0) {
        tmp.items = hs_calloc(src->n_items, sizeof *tmp.items);
        if (tmp.items == NULL)
            return HS_ENOMEM;
        tmp.cap = src->n_items;
    }
    for (size_t i = 0; i < src->n_items; i++) {
        char *n = hs_strdup(src->items[i].name);
        char *v = hs_strdup(src->items[i].value);
        if (n == NULL || v == NULL) {
            hs_free(n);
            hs_free(v);
            hs_fields_release(&tmp);
            return HS_ENOMEM;
        }
        tmp.items[i].name = n;
        tmp.items[i].value = v;
        tmp.n_items++;
    }
    hs_fields_release(dst);
    *dst = tmp;
    return HS_OK;
}

/* ---- kinds ---------------------------------------------------------------------------------- */

static const char *const kind_names[] = {
    [HS_KIND_CUSTOMER] = "customer", [HS_KIND_CONTACT_PERSON] = "contact_person",
    [HS_KIND_ITEM] = "item",         [HS_KIND_INVOICE] = "invoice",
    [HS_KIND_PAYMENT] = "payment",   [HS_KIND_CREDIT_NOTE] = "credit_note",
};

const char *hs_kind_name(enum hs_kind kind)
{
    if (kind <= HS_KIND_NONE || kind > HS_KIND_MAX)
        return NULL;
    return kind_names[kind];
}

int hs_kind_parse(const char *name, enum hs_kind *out, struct hs_error *err)
{
    for (int k = HS_KIND_CUSTOMER; k <= HS_KIND_MAX; k++) {
        if (name != NULL && strcmp(name, kind_names[k]) == 0) {
            *out = (enum hs_kind)k;
            return HS_OK;
        }
    }
    return hs_error_set(err, HS_EINVAL, "unknown record kind '%.64s'", name ? name : "(null)");
}

/* ---- dates ---------------------------------------------------------------------------------- */

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return days[month - 1];
}

bool hs_date_valid(struct hs_date d)
{
    if (d.year < 1 || d.year > 9999 || d.month < 1 || d.month > 12 || d.day < 1)
        return false;
    return d.day <= days_in_month(d.year, d.month);
}

static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int hs_date_parse(const char *s, size_t len, struct hs_date *out, struct hs_error *err)
{
    int shown = len > 32 ? 32 : (int)len;
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return hs_error_set(err, HS_EINVAL, "invalid date '%.*s': expected YYYY-MM-DD", shown, s);
    int y = digits(s, 4);
    int m = digits(s + 5, 2);
    int d = digits(s + 8, 2);
    if (y < 0 || m < 0 || d < 0)
        return hs_error_set(err, HS_EINVAL, "invalid date '%.*s': expected YYYY-MM-DD", shown, s);
    struct hs_date v = {(int16_t)y, (int8_t)m, (int8_t)d};
    if (!hs_date_valid(v))
        return hs_error_set(err, HS_EINVAL, "invalid date '%.*s': no such day", shown, s);
    *out = v;
    return HS_OK;
}

static void put_digits(char *out, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void hs_date_format(struct hs_date d, char out[11])
{
    put_digits(out, (unsigned)d.year, 4);
    out[4] = '-';
    put_digits(out + 5, (unsigned)d.month, 2);
    out[7] = '-';
    put_digits(out + 8, (unsigned)d.day, 2);
    out[10] = '\0';
}
