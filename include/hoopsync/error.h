/*
 * hoopsync/error.h - error codes and the caller-owned error buffer.
 *
 * Design:     every fallible function returns int: 0 (or a count >= 0) on success, a negative
 *             HS_E* code on failure, and, when the caller passes a struct hs_error, a message
 *             that says what failed and why ("cannot open store 'x.db': database is locked").
 * Invariants: codes are append-only; a released number is never renumbered or reused.
 *             docs/errors.md lists them all.
 */
#ifndef HOOPSYNC_ERROR_H
#define HOOPSYNC_ERROR_H

#include "hoopsync/common.h"

enum hs_err {
    HS_OK = 0,
    HS_ENOMEM = -1,        /* out of memory */
    HS_EINVAL = -2,        /* invalid argument or input */
    HS_EIO = -3,           /* I/O error (file, socket, database) */
    HS_EPROTO = -4,        /* peer broke the protocol (bad JSON, unexpected shape) */
    HS_ENOTFOUND = -5,     /* no such object */
    HS_EEXIST = -6,        /* object already exists */
    HS_ERANGE = -7,        /* value out of range (overflow) */
    HS_ECONFLICT = -8,     /* concurrent modification (stale version) */
    HS_EAUTH = -9,         /* authentication or authorization failed */
    HS_ERATELIMIT = -10,   /* provider rate limit hit */
    HS_ETIMEOUT = -11,     /* operation timed out */
    HS_ECRYPTO = -12,      /* encryption, decryption or key error */
    HS_ESTATE = -13,       /* object is in a failed state or wrong state for the call */
    HS_EUNSUPPORTED = -14, /* operation not supported */
    HS_ETOOBIG = -15,      /* input exceeds a size limit */
};

#define HS_ERRMSG_MAX 256

struct hs_error {
    int code;
    char msg[HS_ERRMSG_MAX];
};

/* Returns a static description of code; never NULL. */
HS_API const char *hs_strerror(int code);

/*
 * Records code and a printf-style message in err (which may be NULL) and returns code, so that
 * callers can write `return hs_error_set(err, HS_EINVAL, "bad '%s'", s);`.
 */
HS_API int hs_error_set(struct hs_error *err, int code, const char *fmt, ...) HS_PRINTF(3, 4);

/* Resets err (may be NULL) to HS_OK with an empty message. */
HS_API void hs_error_clear(struct hs_error *err);

/* Prefixes err->msg with "<prefix>: " (err may be NULL). Returns err->code or HS_OK. */
HS_API int hs_error_prefix(struct hs_error *err, const char *fmt, ...) HS_PRINTF(2, 3);

#endif
