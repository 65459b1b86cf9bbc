/*
 * util/error.c - hs_strerror and the struct hs_error helpers.
 *
 * Design:     messages are formatted straight into the caller's fixed buffer; truncation is
 *             acceptable (the code still says what happened), allocation is never needed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hoopsync/error.h"

const char *hs_strerror(int code)
{
    switch (code) {
    case HS_OK:
        return "success";
    case HS_ENOMEM:
        return "out of memory";
    case HS_EINVAL:
        return "invalid argument";
    case HS_EIO:
        return "input/output error";
    case HS_EPROTO:
        return "protocol error";
    case HS_ENOTFOUND:
        return "not found";
    case HS_EEXIST:
        return "already exists";
    case HS_ERANGE:
        return "value out of range";
    case HS_ECONFLICT:
        return "conflicting concurrent change";
    case HS_EAUTH:
        return "authentication failed";
    case HS_ERATELIMIT:
        return "rate limit exceeded";
    case HS_ETIMEOUT:
        return "timed out";
    case HS_ECRYPTO:
        return "cryptographic error";
    case HS_ESTATE:
        return "invalid state";
    case HS_EUNSUPPORTED:
        return "not supported";
    case HS_ETOOBIG:
        return "too large";
    default:
        return "unknown error";
    }
}

int hs_error_set(struct hs_error *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void hs_error_clear(struct hs_error *err)
{
    if (err == NULL)
        return;
    err->code = HS_OK;
    err->msg[0] = '\0';
}

int hs_error_prefix(struct hs_error *err, const char *fmt, ...)
{
    if (err == NULL)
        return HS_OK;
    char prefix[HS_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strlen(prefix);
    size_t mlen = strnlen(err->msg, sizeof err->msg - 1);
    if (plen + 2 >= sizeof err->msg)
        plen = sizeof err->msg - 3;
    size_t keep = sizeof err->msg - 1 - plen - 2;
    if (mlen > keep)
        mlen = keep;
    memmove(err->msg + plen + 2, err->msg, mlen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen] = ':';
    err->msg[plen + 1] = ' ';
    err->msg[plen + 2 + mlen] = '\0';
    return err->code;
}
