/*
 * core/currency.h - the ISO 4217 currency table: codes, numeric codes, minor-unit exponents.
 *
 * Design:     one sorted, read-only array compiled into the library (no I/O, no allocation),
 *             searched by binary search on the alphabetic code. The exponent is the number
 *             of decimal digits of the minor unit (JPY 0, USD 2, KWD 3, CLF 4); it is what
 *             core/money.c uses to parse, format and round amounts.
 * Invariants: entries are sorted by code and codes are unique; every code is three ASCII
 *             upper-case letters; numeric codes are unique except ANG/XCG (532), which both
 *             stay while the Caribbean guilder replaces the Antillean one, as providers still
 *             send ANG. Codes whose ISO minor unit is "N.A." (XAU, XAG, XPD, XPT, XBA-XBD, XDR,
 *             XSU, XUA, XTS, XXX) are deliberately absent: they are not money in our sense.
 *             Retired codes stay when accounting systems still carry them (SLL, ZWL, CUC).
 * Threads:    the table is immutable; any thread may call in.
 * Ownership:  returned pointers point into the static table and stay valid forever.
 * Not here:   amounts (core/money.h), exchange rates (engine).
 */
#ifndef HS_CORE_CURRENCY_H
#define HS_CORE_CURRENCY_H

#include <stddef.h>
#include <stdint.h>

#include "hoopsync/common.h"

struct hs_currency {
    char code[4];     /* ISO 4217 alphabetic code, NUL-terminated ("USD") */
    uint16_t numeric; /* ISO 4217 numeric code (840) */
    uint8_t exponent; /* digits of the minor unit (2: 1 USD = 100 minor units) */
    const char *name; /* English name ("US Dollar"), ASCII */
};

/*
 * The currency with this code, or NULL when code is NULL, unknown or not exactly three
 * upper-case letters (lookup is case-sensitive: "usd" is NULL). O(log n).
 */
HS_API const struct hs_currency *hs_currency_find(const char *code);

/* Number of currencies in the table (at least 150). */
HS_API size_t hs_currency_count(void);

/* The i-th currency in code order, or NULL when i >= hs_currency_count(). */
HS_API const struct hs_currency *hs_currency_at(size_t i);

#endif
