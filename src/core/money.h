/*
 * core/money.h - money amounts: int64 minor units plus an ISO 4217 code, exact everywhere.
 *
 * Design:     an amount is an integer count of the currency's minor unit (cents for USD, yen
 *             for JPY, fils for KWD) and the currency code, as a plain value type. Text becomes
 *             minor units with the exact decimal parser of core/decimal.c at the currency's
 *             exponent (core/currency.h), rounding with an explicit enum hs_round, or refusing
 *             to round (the _exact variant). Arithmetic is checked: overflow is HS_ERANGE and
 *             mixing currencies is HS_EINVAL, never a silent wrap or conversion. Products with
 *             quantities and rates (hs_money_mul_decimal) are exact in 128 bits and rounded
 *             once. hs_money_allocate splits a total over lines with the largest-remainder
 *             method so the parts always sum to the total.
 * Invariants: a struct hs_money produced by this module has a currency known to
 *             hs_currency_find(); zero never formats with a sign ("-0.004" USD rounds to 0
 *             and prints "0.00"). No double is used anywhere.
 * Ownership:  nothing is allocated; callers own all buffers and structs.
 * Not here:   the currency table (core/currency.h), decimals and rounding modes
 *             (core/decimal.h), exchange rates and tax rules (later core/engine modules).
 */
#ifndef HS_CORE_MONEY_H
#define HS_CORE_MONEY_H

#include <stddef.h>
#include <stdint.h>

#include "core/currency.h"
#include "core/decimal.h"
#include "hoopsync/common.h"
#include "hoopsync/error.h"

/* Buffer size that always fits hs_money_format output with its NUL. */
#define HS_MONEY_FMT_MAX HS_DECIMAL_FMT_MAX

struct hs_money {
    int64_t minor;    /* amount in minor units of currency */
    char currency[4]; /* ISO 4217 code, NUL-terminated */
};

/*
 * Sets *out to minor units of currency. HS_EINVAL (message in err) when currency is not in the
 * table; *out is untouched then.
 */
HS_API HS_MUST_CHECK int hs_money_from_minor(int64_t minor, const char *currency,
                                             struct hs_money *out, struct hs_error *err);

/*
 * Parses the decimal text (s, len) (not NUL-terminated: "1234.50", "-0.005", "+3", ".5", "5.")
 * as an amount of currency (a NUL-terminated ISO code). Fraction digits beyond the currency's
 * exponent are rounded with mode ("-0.005" USD is -1 with HS_ROUND_HALF_UP, 0 with
 * HS_ROUND_HALF_EVEN). Rejected with HS_EINVAL and a message: exponents ("1e2"), leading or
 * trailing white space, digit grouping (",", "_", "'", inner spaces), a second point, no
 * digits, an invalid mode, an unknown currency. HS_ERANGE when the amount does not fit int64
 * minor units, HS_ETOOBIG when len > HS_DECIMAL_PARSE_MAX. *out is written only on success.
 */
HS_API HS_MUST_CHECK int hs_money_parse(const char *s, size_t len, const char *currency,
                                        enum hs_round mode, struct hs_money *out,
                                        struct hs_error *err);

/*
 * Like hs_money_parse but never rounds: a non-zero digit beyond the exponent is HS_EINVAL
 * ("cannot parse amount '1.234': has more than 2 decimals for USD"). Trailing zeros are exact
 * and accepted ("1.2300" USD is 123).
 */
HS_API HS_MUST_CHECK int hs_money_parse_exact(const char *s, size_t len, const char *currency,
                                              struct hs_money *out, struct hs_error *err);

/*
 * Writes m as plain decimal text with exactly the currency's exponent of fraction digits
 * ("1234.50", "-0.05", "100" for JPY, "1.234" for KWD) and a NUL into buf (cap bytes). No
 * currency code, symbol or grouping is added. Returns the length without the NUL; HS_ERANGE
 * when cap is too small (buf then holds "" if cap > 0; HS_MONEY_FMT_MAX always suffices);
 * HS_EINVAL when m's currency is unknown.
 */
HS_API HS_MUST_CHECK int hs_money_format(const struct hs_money *m, char *buf, size_t cap);

/*
 * Checked arithmetic. HS_EINVAL (message) when a and b have different currencies, HS_ERANGE
 * (message) when the result does not fit; *out is written only on success and may alias an
 * operand.
 */
HS_API HS_MUST_CHECK int hs_money_add(const struct hs_money *a, const struct hs_money *b,
                                      struct hs_money *out, struct hs_error *err);
HS_API HS_MUST_CHECK int hs_money_sub(const struct hs_money *a, const struct hs_money *b,
                                      struct hs_money *out, struct hs_error *err);
/* -a; HS_ERANGE for INT64_MIN minor units. */
HS_API HS_MUST_CHECK int hs_money_neg(const struct hs_money *a, struct hs_money *out,
                                      struct hs_error *err);
/* a * k for an integer k (e.g. a whole quantity); HS_ERANGE on overflow. */
HS_API HS_MUST_CHECK int hs_money_mul_int(const struct hs_money *a, int64_t k, struct hs_money *out,
                                          struct hs_error *err);

/*
 * Compares amounts of one currency: *out is -1, 0 or 1 as a is less than, equal to or greater
 * than b. HS_EINVAL (message) when the currencies differ; amounts of different currencies
 * have no order.
 */
HS_API HS_MUST_CHECK int hs_money_cmp(const struct hs_money *a, const struct hs_money *b, int *out,
                                      struct hs_error *err);

/*
 * m * d rounded once to the currency's minor unit with mode, computed exactly in 128 bits:
 * line amount = unit price * quantity, tax = base * rate (rate as a fraction: 0.19, not 19).
 * HS_ERANGE on overflow, HS_EINVAL for an invalid mode. *out keeps m's currency.
 */
HS_API HS_MUST_CHECK int hs_money_mul_decimal(const struct hs_money *m, struct hs_decimal d,
                                              enum hs_round mode, struct hs_money *out,
                                              struct hs_error *err);

/*
 * Splits total (minor units) over n lines in proportion to weights[0..n-1] and writes the
 * parts to out[0..n-1], so that the parts always sum exactly to total. Largest-remainder
 * method: each line first gets its exact share truncated toward zero, then the units left
 * over go one each to the lines with the largest remainders, ties to the lower index. Every
 * part therefore differs from its exact share total * w[i] / sum(w) by less than one minor
 * unit, a negative total splits like its magnitude with the sign flipped, zero weights get 0,
 * and all-zero weights split equally (earlier lines get the extra units). Allocates nothing;
 * O(n) work times at most 128 passes. out must not overlap weights. Returns HS_OK, or HS_EINVAL
 * when n is 0, a pointer is NULL or a weight is negative (out untouched). No overflow is possible:
 * intermediates are 128-bit and every part lies between 0 and total.
 */
HS_API HS_MUST_CHECK int hs_money_allocate(int64_t total, const int64_t *weights, size_t n,
                                           int64_t *out);

#endif
