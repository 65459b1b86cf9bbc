/*
 * util/json.h - jansson helpers: bounded parsing with clear errors, dumping into hs_buf.
 *
 * Design:     outside JSON is parsed with hs_json_parse, which never assumes NUL termination,
 *             caps the size, and reports "line L column C: <jansson text>" on failure.
 * Ownership:  *out of hs_json_parse is a new reference the caller json_decref()s.
 */
#ifndef HS_UTIL_JSON_H
#define HS_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hoopsync/common.h"
#include "hoopsync/error.h"
#include "util/buf.h"

#define HS_JSON_MAX_BYTES ((size_t)64 * 1024 * 1024)
#define HS_JSON_MAX_DEPTH 64 /* nesting hs_json_parse accepts */

/* Where a syntax check stopped: 1-based line and column (bytes) and why ("" when fine). */
struct hs_json_where {
    int line;
    size_t column;
    const char *why; /* static text */
};

/*
 * Allocation-free syntax check of (buf, len): RFC 8259 minus \u0000 and unpaired surrogates
 * (which jansson rejects), nesting at most max_depth, with object_top an object at the top.
 * HS_OK, HS_EPROTO (out says where and why) or HS_ETOOBIG (nested too deep). out may be NULL.
 */
HS_API HS_MUST_CHECK int hs_json_check(const uint8_t *buf, size_t len, int max_depth,
                                       bool object_top, struct hs_json_where *out);
/*
 * The error of a json_loadb that failed on text hs_json_check accepted: HS_EPROTO with
 * jansson's position and text for what jansson rejects on content (bad UTF-8, NUL, duplicate
 * key, number out of range), else HS_ENOMEM (jansson reports a failed allocation as a syntax
 * error). Returns the code.
 */
HS_API int hs_json_load_error(const json_error_t *jerr, const char *what, struct hs_error *err);

/* Parses (buf,len) into *out after hs_json_check. HS_EPROTO with position and reason on bad
 * JSON, HS_ETOOBIG when len exceeds HS_JSON_MAX_BYTES or nesting HS_JSON_MAX_DEPTH, HS_ENOMEM.
 * `what` names the input in the message ("request body"). */
HS_API HS_MUST_CHECK int hs_json_parse(const uint8_t *buf, size_t len, const char *what,
                                       json_t **out, struct hs_error *err);
/* What hs_json_build accepts beyond strict RFC 8259 objects and arrays. */
struct hs_json_build_opts {
    int max_depth;     /* nesting allowed, as hs_json_check counts it */
    bool any_top;      /* any value at the top (JSON_DECODE_ANY), not only an object or array */
    bool marks;        /* numbers become marked strings (util/jsonnum.h), at most max_number
                        * bytes; a string starting with the escape \u0001 is refused */
    size_t max_number; /* with marks */
};
/*
 * One-pass parse that builds the tree json_loadb(JSON_REJECT_DUPLICATES, plus JSON_DECODE_ANY
 * with any_top) builds from text that hs_json_check and the options accept (the marks
 * option: the tree hs_json_parse_exact's rewrite then json_loadb give). It refuses (NULL)
 * whatever that path would refuse (bad syntax, a duplicate key, an integer beyond json_int_t,
 * a real that overflows, too deep) and may refuse more (out of memory): callers then run
 * that checked path, which reports the error, so its results and messages stay the
 * reference. It skips jansson's byte-at-a-time lexer and the separate syntax check.
 */
HS_API json_t *hs_json_build(const uint8_t *buf, size_t len, const struct hs_json_build_opts *o);
/* Appends the compact encoding of v to b. */
HS_API HS_MUST_CHECK int hs_json_dump(const json_t *v, struct hs_buf *b);
/* json_dump_callback's callback appending to the struct hs_buf *ud (NUL-terminated), in place
 * when it fits (jansson calls it once per token); 0, or -1 when out of memory. */
HS_API int hs_json_dump_cb(const char *p, size_t n, void *ud);
/* obj[key] as a string, or NULL when missing or not a string. */
HS_API const char *hs_json_str(const json_t *obj, const char *key);

#endif
