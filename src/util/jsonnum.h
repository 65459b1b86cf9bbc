/*
 * util/jsonnum.h - JSON with exact numbers: parse, read and write numbers as their text.
 *
 * Design:     jansson stores every JSON real as a double, which must never carry money. So
 *             hs_json_parse_exact runs a one-pass tokenizer over the input first: it tracks
 *             whether it is inside a string and rewrites every number token outside strings
 *             into a MARKED string, the byte HS_JSONNUM_MARK (0x01) followed by the number's
 *             exact text ("1234.50" stays "1234.50", "1e3" stays "1e3"), then hands the result
 *             to jansson. Readers get the text back with hs_json_num_text (marked numbers and,
 *             for lenient providers, plain strings) and convert it with the exact decimal
 *             parsers of core (hs_json_money, hs_json_decimal) or hs_str_to_i64 (hs_json_i64).
 *             The writer side is the same mark in reverse: hs_json_number_text makes a marked
 *             string from number text, and hs_json_dump_exact dumps a tree with jansson and then
 *             removes the quotes (and the mark, which jansson escapes as the six bytes \u0001)
 *             of every marked string in a second pass that tracks string boundaries, so
 *             {"TotalAmt":"\u00011234.50"} goes out as {"TotalAmt":1234.50}.
 *             A mark is chosen over "every number becomes a plain string" so that a tree parsed
 *             with hs_json_parse_exact dumps back with numbers as numbers, and so that a
 *             provider's string "12" and number 12 stay distinguishable (hs_json_is_number).
 * Invariants: a marked string always holds text that matches the JSON number grammar; input
 *             strings that begin with U+0001 are refused (they would read as numbers), so a
 *             marked string in a parsed tree always came from a number token.
 *             Parsing never assumes NUL termination, caps the input at HS_JSON_MAX_BYTES, one
 *             number at HS_JSONNUM_MAX_NUMBER bytes and nesting at HS_JSONNUM_MAX_DEPTH.
 * Ownership:  *out of hs_json_parse_exact and the json_t * returned by the constructors are new
 *             references (json_decref). Returned const char * point into the tree.
 * Not here:   plain jansson helpers (util/json.h), money and decimal arithmetic (core/money.h,
 *             core/decimal.h; the two inline helpers at the end of this header call into
 *             core and so need hs_core at link time, everything else is in hs_util).
 */
#ifndef HS_UTIL_JSONNUM_H
#define HS_UTIL_JSONNUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "hoopsync/common.h"
#include "hoopsync/error.h"
#include "util/buf.h"

/* First byte of a string that holds a number's exact text. */
#define HS_JSONNUM_MARK '\x01'
/* Longest number token accepted (bytes); no money or quantity comes close. */
#define HS_JSONNUM_MAX_NUMBER 256
/* Deepest nesting of [ and { accepted. */
#define HS_JSONNUM_MAX_DEPTH 64

/*
 * Parses (buf, len) (no NUL needed) like hs_json_parse, keeping every number as a marked
 * string with its exact text. `what` names the input in messages ("QuickBooks answer").
 * Returns HS_OK (*out a new reference); HS_EPROTO with line, column and jansson's reason for bad
 * JSON (positions are those of the original input); HS_EPROTO for a string starting with U+0001;
 * HS_ETOOBIG for input over HS_JSON_MAX_BYTES, a number over HS_JSONNUM_MAX_NUMBER bytes or
 * nesting over HS_JSONNUM_MAX_DEPTH; HS_ENOMEM. *out is NULL on failure.
 */
HS_API HS_MUST_CHECK int hs_json_parse_exact(const uint8_t *buf, size_t len, const char *what,
                                             json_t **out, struct hs_error *err);

/* True when (s, len) is exactly one JSON number token ("-0.5", "12", "1E+3"; not "01", ".5"). */
HS_API bool hs_json_number_valid(const char *s, size_t len);

/*
 * A new marked string that hs_json_dump_exact writes as the bare number text (copied). NULL
 * when text is NULL, not a valid JSON number, or on ENOMEM.
 */
HS_API json_t *hs_json_number_text(const char *text);

/* True when v is a marked string (a number read by hs_json_parse_exact or made above). */
HS_API bool hs_json_is_number(const json_t *v);

/*
 * The exact text of v: a marked number without its mark, or a plain string as it is (some
 * providers quote their numbers). NULL for anything else (NULL, null, object, jansson
 * integer/real: those were not read exactly). Borrowed from v.
 */
HS_API const char *hs_json_num_text(const json_t *v);

/*
 * obj[key] as an int64 ("startPosition": 1). HS_OK; HS_ENOTFOUND (key absent or null, *out
 * untouched, no message); HS_EPROTO ("field 'maxResults': expected an integer, got '1.5'");
 * HS_ERANGE when it does not fit.
 */
HS_API HS_MUST_CHECK int hs_json_i64(const json_t *obj, const char *key, int64_t *out,
                                     struct hs_error *err);

/*
 * Dumps v compactly into b (appending) with every marked string written as a bare number.
 * HS_OK or HS_ENOMEM (b keeps its previous contents).
 */
HS_API HS_MUST_CHECK int hs_json_dump_exact(const json_t *v, struct hs_buf *b);

/* ---- money and decimals (inline: they call core, link hs_core) -------------------------- */

#include "core/decimal.h"
#include "core/money.h"

/*
 * obj[key] as an exact amount of currency ("TotalAmt": 1234.5 USD is 123450 minor units):
 * a marked number or a string, never rounded (more decimals than the currency has is an
 * error). HS_OK; HS_ENOTFOUND when absent or null (no message, *out untouched); HS_EPROTO when
 * it is not a number or a string ("field 'TotalAmt': expected a number"); HS_EINVAL /
 * HS_ERANGE from hs_money_parse_exact with the field named.
 */
static inline HS_MUST_CHECK int hs_json_money(const json_t *obj, const char *key,
                                              const char *currency, struct hs_money *out,
                                              struct hs_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return HS_ENOTFOUND;
    const char *text = hs_json_num_text(v);
    if (text == NULL)
        return hs_error_set(err, HS_EPROTO, "field '%s': expected a number", key);
    int rc = hs_money_parse_exact(text, strlen(text), currency, out, err);
    if (rc != HS_OK)
        hs_error_prefix(err, "field '%s'", key);
    return rc;
}

/* Same for a scale-6 decimal (quantities, rates): hs_decimal_parse_exact. */
static inline HS_MUST_CHECK int hs_json_decimal(const json_t *obj, const char *key,
                                                struct hs_decimal *out, struct hs_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return HS_ENOTFOUND;
    const char *text = hs_json_num_text(v);
    if (text == NULL)
        return hs_error_set(err, HS_EPROTO, "field '%s': expected a number", key);
    int rc = hs_decimal_parse_exact(text, strlen(text), out, err);
    if (rc != HS_OK)
        hs_error_prefix(err, "field '%s'", key);
    return rc;
}

/* A marked number holding m with its currency's exponent ("1234.50", "100", "1.234"); NULL
 * when m's currency is unknown or on ENOMEM. */
static inline json_t *hs_json_money_new(const struct hs_money *m)
{
    char text[HS_MONEY_FMT_MAX];
    if (hs_money_format(m, text, sizeof text) < 0)
        return NULL;
    return hs_json_number_text(text);
}

/* A marked number holding d ("1.5", "2"); NULL on ENOMEM. */
static inline json_t *hs_json_decimal_new(struct hs_decimal d)
{
    char text[HS_DECIMAL_FMT_MAX];
    if (hs_decimal_format(d, text, sizeof text) < 0)
        return NULL;
    return hs_json_number_text(text);
}

#endif
