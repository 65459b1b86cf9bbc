/*
 * hoopsync/common.h - macros shared by every public header of libhoopsync.
 *
 * Design:     HS_API marks exported symbols (the library is built with -fvisibility=hidden);
 *             HS_MUST_CHECK marks fallible functions whose result must be used.
 */
#ifndef HOOPSYNC_COMMON_H
#define HOOPSYNC_COMMON_H

#if defined(__GNUC__) || defined(__clang__)
#define HS_API          __attribute__((visibility("default")))
#define HS_MUST_CHECK   __attribute__((warn_unused_result))
#define HS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define HS_API
#define HS_MUST_CHECK
#define HS_PRINTF(a, b)
#endif

#endif
