/*
 * util/json.h - jansson helpers: bounded parsing with clear errors, dumping into hs_buf.
 *
 * Design:     outside JSON is parsed with hs_json_parse, which never assumes NUL termination,
 *             caps the size, and reports "line L column C: <jansson text>" on failure.
 * Ownership:  *out of hs_json_parse is a new reference the caller json_decref()s.
 */
#ifndef HS_UTIL_JSON_H
#define HS_UTIL_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hoopsync/common.h"
#include "hoopsync/error.h"
#include "util/buf.h"

#define HS_JSON_MAX_BYTES ((size_t)64 * 1024 * 1024)

/* Parses (buf,len) into *out. HS_EPROTO with position and reason on bad JSON, HS_ETOOBIG when
 * len exceeds HS_JSON_MAX_BYTES. `what` names the input in the message ("request body"). */
HS_API HS_MUST_CHECK int hs_json_parse(const uint8_t *buf, size_t len, const char *what,
                                       json_t **out, struct hs_error *err);
/* Appends the compact encoding of v to b. */
HS_API HS_MUST_CHECK int hs_json_dump(const json_t *v, struct hs_buf *b);
/* obj[key] as a string, or NULL when missing or not a string. */
HS_API const char *hs_json_str(const json_t *obj, const char *key);

#endif
