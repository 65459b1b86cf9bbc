/*
 * core/country.h - the ISO 3166-1 alpha-2 country table: codes, English names, EU membership.
 *
 * Design:     one sorted, read-only array compiled into the library (no I/O, no allocation),
 *             searched by binary search on the code, like core/currency.h. Names are the short
 *             English names finance users know ("Germany", "United Kingdom"), used in
 *             validation messages ("VAT number 'DE123' for Germany should have 9 digits").
 * Invariants: entries are sorted by code, codes unique, two ASCII upper-case letters; all 249
 *             officially assigned codes are present, plus XK (Kosovo), which is user-assigned
 *             but used by every provider we know.
 * Threads:    the table is immutable; any thread may call in.
 * Ownership:  returned pointers point into the static table and stay valid forever.
 * Not here:   tax-id rules per country (core/validate.c), address formats.
 */
#ifndef HS_CORE_COUNTRY_H
#define HS_CORE_COUNTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "hoopsync/common.h"

struct hs_country {
    char code[3];     /* ISO 3166-1 alpha-2, NUL-terminated ("DE") */
    const char *name; /* short English name, UTF-8 ("Germany", "Côte d'Ivoire") */
    bool eu;          /* member of the European Union (VAT numbers per EU rules) */
};

/*
 * The country with this code, or NULL when code is NULL, unknown or not exactly two
 * upper-case letters (case-sensitive: "de" is NULL). O(log n).
 */
HS_API const struct hs_country *hs_country_find(const char *code);
/* Number of entries in the table. */
HS_API size_t hs_country_count(void);
/* Entry i in code order, or NULL when i >= hs_country_count(). */
HS_API const struct hs_country *hs_country_at(size_t i);
/* Short English name of code, or the code itself when unknown (never NULL; NULL code: ""). */
HS_API const char *hs_country_name(const char *code);

#endif
