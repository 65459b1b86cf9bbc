/*
 * net/ratelimit.h - client-side rate limiter for one provider account.
 *
 * Design:     one limiter per provider account (DESIGN.md section 7), shared by every request
 *             a connector makes for that account. It holds the provider's published windows
 *             ("all: 100 per 10 s", "search: 5 per 1 s", "batch: 40 per 60 s", "day: 5000 per
 *             86400 s") as sliding logs or token buckets, and hs_ratelimit_acquire(scope) waits
 *             (through the env's sleep, so tests use a fake clock) until a call in that scope
 *             and in "all" fits every window. hs_ratelimit_observe() corrects it from the
 *             provider's answer: remaining-count headers, and 429 with Retry-After (or the
 *             provider's documented wait) pauses the scope. Benchmarks compress time by
 *             handing in shorter windows; the limiter does not know.
 * Threads:    thread-safe (one mutex); workers of one account share one limiter.
 */
#ifndef HS_NET_RATELIMIT_H
#define HS_NET_RATELIMIT_H

#include <stdint.h>

#include "hoopsync/common.h"
#include "hoopsync/error.h"
#include "net/http.h"
#include "util/env.h"

struct hs_ratelimit;

/* env is borrowed (clock and sleep). */
HS_API HS_MUST_CHECK int hs_ratelimit_new(const struct hs_env *env, struct hs_ratelimit **out);
HS_API void hs_ratelimit_free(struct hs_ratelimit *rl);
/* Adds a window: at most limit calls in scope per window_ms. Scope "all" counts every call. */
HS_API HS_MUST_CHECK int hs_ratelimit_add(struct hs_ratelimit *rl, const char *scope, int64_t limit,
                                          int64_t window_ms);
/* Waits until one call in scope is allowed by every window, then records it. Returns the
 * milliseconds waited (>= 0). */
HS_API int64_t hs_ratelimit_acquire(struct hs_ratelimit *rl, const char *scope);
/* Pauses scope (and, for "all", everything) until now + ms. */
HS_API void hs_ratelimit_pause(struct hs_ratelimit *rl, const char *scope, int64_t ms);
/* Milliseconds until scope could next be acquired without waiting (0 = now). */
HS_API int64_t hs_ratelimit_wait_ms(struct hs_ratelimit *rl, const char *scope);
/* Total calls acquired and milliseconds waited, for reports. */
HS_API void hs_ratelimit_stats(struct hs_ratelimit *rl, int64_t *out_calls, int64_t *out_waited_ms);

#endif
