/*
 * util/buf.h - growable byte buffer, always NUL-terminated.
 *
 * Design:     caller-allocated value type (init/release). After any failed append the buffer
 *             keeps its previous contents and the call returns HS_ENOMEM.
 * Ownership:  hs_buf_detach hands the bytes to the caller (free with hs_free).
 */
#ifndef HS_UTIL_BUF_H
#define HS_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "hoopsync/common.h"

struct hs_buf {
    char *data; /* NUL-terminated when cap > 0 */
    size_t len;
    size_t cap;
};

HS_API void hs_buf_init(struct hs_buf *b);
HS_API void hs_buf_release(struct hs_buf *b);
HS_API void hs_buf_reset(struct hs_buf *b);
HS_API HS_MUST_CHECK int hs_buf_reserve(struct hs_buf *b, size_t extra);
HS_API HS_MUST_CHECK int hs_buf_append(struct hs_buf *b, const void *p, size_t n);
HS_API HS_MUST_CHECK int hs_buf_puts(struct hs_buf *b, const char *s);
HS_API HS_MUST_CHECK int hs_buf_putc(struct hs_buf *b, char c);
HS_API HS_MUST_CHECK int hs_buf_printf(struct hs_buf *b, const char *fmt, ...) HS_PRINTF(2, 3);
/* Returns the bytes (never NULL on success: "" when empty) and empties b; NULL on ENOMEM. */
HS_API char *hs_buf_detach(struct hs_buf *b);

#endif
