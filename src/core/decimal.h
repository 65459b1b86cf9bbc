/*
 * core/decimal.h - fixed-point decimals (int64, scale 6) and the rounding modes of core.
 *
 * Design:     a struct hs_decimal holds v = value * 10^6 in an int64, so quantities, unit
 *             prices, exchange and tax rates carry six decimals exactly (range about
 *             +-9.22e12). Every operation that can lose digits (parse, mul, div, conversion to
 *             currency minor units) takes an explicit enum hs_round; intermediates are exact
 *             128-bit integers, and a result outside int64 is HS_ERANGE, never wrapped.
 *             The string parser and formatter work for any scale 0..18 and are shared with
 *             core/money.c (a money amount is the same thing at the currency's exponent).
 *             No doubles anywhere.
 * Invariants: the accepted syntax is [+-]digits[.digits] with at least one digit ("5", "-0.5",
 *             ".5", "5." and "+3" are accepted); exponents, white space, digit grouping and
 *             decimal commas are rejected with a message naming the problem. Input is
 *             (ptr, len), never assumed NUL-terminated, and capped at HS_DECIMAL_PARSE_MAX.
 *             Formatting never yields "-0": a value that is zero prints without a sign.
 * Ownership:  nothing is allocated; all types are plain values.
 * Not here:   money amounts and currencies (core/money.h, core/currency.h).
 */
#ifndef HS_CORE_DECIMAL_H
#define HS_CORE_DECIMAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hoopsync/common.h"
#include "hoopsync/error.h"

/*
 * Rounding modes, applied to the digits a result cannot keep. "Up" and "down" are about the
 * magnitude (as in java.math.RoundingMode), floor and ceiling about the signed value:
 *   HS_ROUND_HALF_UP    to nearest, ties away from zero (2.5 -> 3, -2.5 -> -3): commercial
 *                       rounding, what invoices and most tax authorities use
 *   HS_ROUND_HALF_EVEN  to nearest, ties to the even neighbour (2.5 -> 2, 3.5 -> 4): banker's
 *   HS_ROUND_DOWN       toward zero, i.e. truncate (2.9 -> 2, -2.9 -> -2)
 *   HS_ROUND_UP         away from zero (2.1 -> 3, -2.1 -> -3)
 *   HS_ROUND_FLOOR      toward negative infinity (2.9 -> 2, -2.1 -> -3)
 *   HS_ROUND_CEILING    toward positive infinity (2.1 -> 3, -2.9 -> -2)
 */
enum hs_round {
    HS_ROUND_HALF_UP = 0,
    HS_ROUND_HALF_EVEN = 1,
    HS_ROUND_DOWN = 2,
    HS_ROUND_UP = 3,
    HS_ROUND_FLOOR = 4,
    HS_ROUND_CEILING = 5,
};
#define HS_ROUND_COUNT 6

/* Short lower-case name of mode ("half_up", ...), or "invalid"; never NULL. */
HS_API const char *hs_decimal_round_name(enum hs_round mode);

#define HS_DECIMAL_SCALE 6
#define HS_DECIMAL_ONE   INT64_C(1000000)
/* Longest text hs_decimal_parse* and hs_money_parse* accept, in bytes. */
#define HS_DECIMAL_PARSE_MAX 128
/* Buffer size that always fits a formatted value of any scale 0..18, with its NUL. */
#define HS_DECIMAL_FMT_MAX 32
/* Largest scale the scaled parser and formatter accept (10^18 still fits int64). */
#define HS_DECIMAL_SCALE_MAX 18

struct hs_decimal {
    int64_t v; /* value * 10^HS_DECIMAL_SCALE */
};

/*
 * Parses the decimal text (s, len) (not NUL-terminated) into a decimal; digits beyond the
 * sixth fraction digit are rounded with mode. Returns HS_OK; HS_EINVAL on bad syntax or an
 * invalid mode; HS_ERANGE when the value does not fit; HS_ETOOBIG when len exceeds
 * HS_DECIMAL_PARSE_MAX. *out is written only on success; err (may be NULL) gets the message,
 * e.g. "cannot parse decimal '1e5': exponent notation is not supported".
 */
HS_API HS_MUST_CHECK int hs_decimal_parse(const char *s, size_t len, enum hs_round mode,
                                          struct hs_decimal *out, struct hs_error *err);

/*
 * Like hs_decimal_parse but never rounds: a non-zero digit after the sixth decimal is
 * HS_EINVAL ("... has more than 6 decimals"). Trailing zeros are fine ("1.50000000" is 1.5).
 */
HS_API HS_MUST_CHECK int hs_decimal_parse_exact(const char *s, size_t len, struct hs_decimal *out,
                                                struct hs_error *err);

/*
 * Writes d as text with trailing fraction zeros trimmed ("1.5", "2", "-0.000001") and a NUL
 * into buf (cap bytes). Returns the length without the NUL, or HS_ERANGE if cap is too small
 * (HS_DECIMAL_FMT_MAX always suffices); buf then holds "" when cap > 0.
 */
HS_API HS_MUST_CHECK int hs_decimal_format(struct hs_decimal d, char *buf, size_t cap);

/* i as a decimal; HS_ERANGE (message in err) when |i| > INT64_MAX / 10^6. */
HS_API HS_MUST_CHECK int hs_decimal_from_int(int64_t i, struct hs_decimal *out,
                                             struct hs_error *err);

/* d rounded to an integer with mode; HS_EINVAL only for an invalid mode. */
HS_API HS_MUST_CHECK int hs_decimal_to_int(struct hs_decimal d, enum hs_round mode, int64_t *out,
                                           struct hs_error *err);

/* a + b and a - b; HS_ERANGE on overflow. out may point at either operand's copy. */
HS_API HS_MUST_CHECK int hs_decimal_add(struct hs_decimal a, struct hs_decimal b,
                                        struct hs_decimal *out, struct hs_error *err);
HS_API HS_MUST_CHECK int hs_decimal_sub(struct hs_decimal a, struct hs_decimal b,
                                        struct hs_decimal *out, struct hs_error *err);

/* a * b rounded to 6 decimals with mode; HS_ERANGE on overflow, HS_EINVAL for a bad mode. */
HS_API HS_MUST_CHECK int hs_decimal_mul(struct hs_decimal a, struct hs_decimal b,
                                        enum hs_round mode, struct hs_decimal *out,
                                        struct hs_error *err);

/* a / b rounded to 6 decimals with mode; HS_EINVAL when b is zero, HS_ERANGE on overflow. */
HS_API HS_MUST_CHECK int hs_decimal_div(struct hs_decimal a, struct hs_decimal b,
                                        enum hs_round mode, struct hs_decimal *out,
                                        struct hs_error *err);

/* <0, 0 or >0 as a is less than, equal to or greater than b. */
HS_API int hs_decimal_cmp(struct hs_decimal a, struct hs_decimal b);

/*
 * d in minor units of a currency with the given exponent (0..18), rounded with mode: for
 * exponent 2, 12.345678 becomes 1235 (half-up). HS_ERANGE on overflow, HS_EINVAL for a bad
 * mode or exponent.
 */
HS_API HS_MUST_CHECK int hs_decimal_to_minor(struct hs_decimal d, unsigned exponent,
                                             enum hs_round mode, int64_t *out,
                                             struct hs_error *err);

/*
 * round(a * b / c) with mode, computed exactly in 128 bits: the primitive behind mul, div,
 * to_minor and hs_money_mul_decimal. HS_EINVAL (no message) when c is zero or mode is invalid,
 * HS_ERANGE (no message) when the result does not fit int64. Callers add the message.
 */
HS_API HS_MUST_CHECK int hs_decimal_muldiv(int64_t a, int64_t b, int64_t c, enum hs_round mode,
                                           int64_t *out);

/*
 * The parser behind hs_decimal_parse* and hs_money_parse*: (s, len) as an integer count of
 * 10^-scale units (scale 0..18). Rounds with mode unless exact, in which case dropped non-zero
 * digits are HS_EINVAL. what names the kind of value in messages ("amount", "decimal") and
 * unit, when not NULL, is appended to range and decimals messages ("for USD").
 */
HS_API HS_MUST_CHECK int hs_decimal_parse_scaled(const char *s, size_t len, unsigned scale,
                                                 enum hs_round mode, bool exact, const char *what,
                                                 const char *unit, int64_t *out,
                                                 struct hs_error *err);

/*
 * v / 10^scale as text into buf (cap bytes, NUL-terminated): with trim false it prints exactly
 * scale fraction digits ("1234.50"; no point when scale is 0), with trim true it drops
 * trailing fraction zeros and a bare point ("1.5", "2"). Returns the length or HS_ERANGE when
 * cap is too small, HS_EINVAL when scale > HS_DECIMAL_SCALE_MAX.
 */
HS_API HS_MUST_CHECK int hs_decimal_format_scaled(int64_t v, unsigned scale, bool trim, char *buf,
                                                  size_t cap);

#endif
