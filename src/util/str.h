/*
 * util/str.h - small string helpers: bounded compare, trim, percent-encoding, numbers.
 *
 * Design:     everything takes explicit lengths where input comes from outside; nothing
 *             assumes NUL termination of (ptr, len) arguments.
 * Ownership:  functions returning char * return hs_malloc'd memory the caller frees.
 */
#ifndef HS_UTIL_STR_H
#define HS_UTIL_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hoopsync/common.h"

/* Length of the valid UTF-8 sequence at s (at most len bytes, len > 0), or 0 when it is not
 * one. Strict: no overlong forms, no surrogates, nothing above U+10FFFF. */
HS_API size_t hs_utf8_len(const unsigned char *s, size_t len);
HS_API bool hs_str_eq(const char *a, const char *b);  /* NULL-safe equality */
HS_API bool hs_str_ieq(const char *a, const char *b); /* ASCII case-insensitive */
HS_API bool hs_str_starts(const char *s, const char *prefix);
HS_API bool hs_str_ends(const char *s, const char *suffix);
/* ASCII lower-case copy; NULL on ENOMEM. */
HS_API char *hs_str_lower(const char *s);
/* Copy of s with leading/trailing ASCII white space removed; NULL on ENOMEM. */
HS_API char *hs_str_trim(const char *s);
/* Percent-decodes (ptr,len) ('+' as space when form is true); NULL on ENOMEM or bad escape. */
HS_API char *hs_str_url_decode(const char *s, size_t len, bool form);
/* Percent-encodes everything but unreserved characters; NULL on ENOMEM. */
HS_API char *hs_str_url_encode(const char *s);
/* Strict base-10 int64 parse of the whole (ptr,len); HS_OK, HS_EINVAL or HS_ERANGE. */
HS_API HS_MUST_CHECK int hs_str_to_i64(const char *s, size_t len, int64_t *out);
/*
 * Finds key in an application/x-www-form-urlencoded string (query or body) and returns its
 * decoded value (caller frees), or NULL when absent. *out_err is set to HS_ENOMEM/HS_EINVAL on
 * failure (may be NULL).
 */
HS_API char *hs_str_form_get(const char *form, const char *key, int *out_err);

/* What hs_str_loopback_uri accepts, for messages ("expected " HS_LOOPBACK_URI_FORMS). */
#define HS_LOOPBACK_URI_FORMS "http://127.0.0.1:PORT/path or http://localhost:PORT/path"

/*
 * The rule for an OAuth redirect_uri that `hoopsync connect` can listen on: "http://", host
 * 127.0.0.1 or localhost, an explicit port 0..65535 (0: any free one), an optional path
 * without query or fragment. On success fills the parts whose out pointer is not NULL:
 * *out_host and *out_path (default "/") are new strings the caller frees, *out_port the port.
 * HS_OK, HS_EINVAL (any other URI), HS_ENOMEM. The config parser (redirect_uri) and the
 * consent listener (net/oauth.c) both apply it, so they accept and refuse the same URIs.
 */
HS_API HS_MUST_CHECK int hs_str_loopback_uri(const char *uri, char **out_host, int64_t *out_port,
                                             char **out_path);

#endif
