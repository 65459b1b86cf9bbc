/*
 * util/buf.c - growable byte buffer.
 *
 * Invariants: len < cap whenever cap > 0, and data[len] == '\0'.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hoopsync/error.h"
#include "util/alloc.h"
#include "util/buf.h"

void hs_buf_init(struct hs_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void hs_buf_release(struct hs_buf *b)
{
    HS_FREE(b->data);
    b->len = 0;
    b->cap = 0;
}

void hs_buf_reset(struct hs_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

int hs_buf_reserve(struct hs_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return HS_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return HS_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = hs_realloc(b->data, cap);
    if (p == NULL)
        return HS_ENOMEM;
    b->data = p;
    b->cap = cap;
    b->data[b->len] = '\0';
    return HS_OK;
}

int hs_buf_append(struct hs_buf *b, const void *p, size_t n)
{
    int rc = hs_buf_reserve(b, n);
    if (rc != HS_OK)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return HS_OK;
}

int hs_buf_puts(struct hs_buf *b, const char *s)
{
    return hs_buf_append(b, s, strlen(s));
}

int hs_buf_putc(struct hs_buf *b, char c)
{
    return hs_buf_append(b, &c, 1);
}

int hs_buf_printf(struct hs_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return HS_EINVAL;
    int rc = hs_buf_reserve(b, (size_t)n);
    if (rc != HS_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return HS_OK;
}

char *hs_buf_detach(struct hs_buf *b)
{
    if (b->data == NULL && hs_buf_reserve(b, 0) != HS_OK)
        return NULL;
    char *p = b->data;
    hs_buf_init(b);
    return p;
}
