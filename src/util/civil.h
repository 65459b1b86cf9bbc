/*
 * util/civil.h - proleptic Gregorian dates <-> days since 1970-01-01 (H. Hinnant's
 *                days_from_civil / civil_from_days), the one copy every parser and the
 *                sandbox use.
 *
 * Design:     pure integer arithmetic, valid for every int64 day count whose year fits in
 *             int64; no time zones, no validation (callers check ranges and month lengths).
 */
#ifndef HS_UTIL_CIVIL_H
#define HS_UTIL_CIVIL_H

#include <stdint.h>

#include "hoopsync/common.h"

/* Days since 1970-01-01 of y-m-d (m 1-12, d 1-31). */
HS_API int64_t hs_days_from_civil(int64_t y, int64_t m, int64_t d);
/* The date of day z since 1970-01-01. */
HS_API void hs_civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d);

#endif
