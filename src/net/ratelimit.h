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
 *             A limiter may be given a longest wait (hs_ratelimit_set_max_wait): a call that
 *             would wait longer (a day window spent, a provider's long pause) is refused at
 *             once by hs_ratelimit_take, which says which window or pause blocks it and when
 *             it opens; the refusal is remembered (hs_ratelimit_blocked) so that a caller
 *             (`hoopsync sync --once`) can stop its pass, keep the rest pending and say when
 *             work resumes, instead of sleeping for hours.
 *             A limiter may be given other work for its waits (hs_ratelimit_set_idle): the
 *             engine reads the CRM while the accounting provider's window is spent, so the
 *             waits of the two providers overlap instead of adding up.
 * Threads:    thread-safe (one mutex); workers of one account share one limiter.
 */
#ifndef HS_NET_RATELIMIT_H
#define HS_NET_RATELIMIT_H

#include <stdbool.h>
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
/* What refused a call: the window (limit calls per window_ms, in scope) or the provider's pause
 * (limit 0) that opens again at resume_at_ms (env clock). */
struct hs_ratelimit_block {
    char scope[16];
    int64_t limit;
    int64_t window_ms;
    int64_t resume_at_ms;
};
/* The longest wait hs_ratelimit_take accepts (0, the default: no bound); acquire always
 * waits. */
HS_API void hs_ratelimit_set_max_wait(struct hs_ratelimit *rl, int64_t max_wait_ms);
/* As hs_ratelimit_acquire, but when the wait would exceed the longest wait, records nothing,
 * remembers and fills *out (may be NULL) and returns HS_ERATELIMIT. HS_OK once the call is
 * taken (after waiting at most the longest wait). */
HS_API int hs_ratelimit_take(struct hs_ratelimit *rl, const char *scope,
                             struct hs_ratelimit_block *out);
/* The latest refusal of take (true and *out filled), false when none happened. */
HS_API bool hs_ratelimit_blocked(struct hs_ratelimit *rl, struct hs_ratelimit_block *out);
/* Pauses scope (and, for "all", everything) until now + ms. */
HS_API void hs_ratelimit_pause(struct hs_ratelimit *rl, const char *scope, int64_t ms);
/* Milliseconds until scope could next be acquired without waiting (0 = now). */
HS_API int64_t hs_ratelimit_wait_ms(struct hs_ratelimit *rl, const char *scope);
/* Milliseconds until n calls in scope could be acquired one after the other without waiting
 * (0 = now), if nothing else takes one meanwhile; n above a window's limit counts as that
 * limit. Provider pauses count as for one call. */
HS_API int64_t hs_ratelimit_wait_n_ms(struct hs_ratelimit *rl, const char *scope, int64_t n);
/* As hs_ratelimit_wait_n_ms for the scope that would wait longest: the wait of n calls whose
 * scope the caller does not know (a connector picks it). */
HS_API int64_t hs_ratelimit_wait_any_ms(struct hs_ratelimit *rl, int64_t n);
/*
 * Other work while a call waits: fn(ud, until_ms) runs before the limiter sleeps for a wait of
 * at least min_ms, on the waiting thread with no lock held, and should return by until_ms
 * (env clock); the limiter then sleeps only what is left. The engine reads the other
 * provider there. fn must not take a call from this limiter (a call it makes that waits here
 * sleeps without calling fn again). NULL fn: none (the default).
 */
typedef void (*hs_ratelimit_idle_fn)(void *ud, int64_t until_ms);
HS_API void hs_ratelimit_set_idle(struct hs_ratelimit *rl, hs_ratelimit_idle_fn fn, void *ud,
                                  int64_t min_ms);
/*
 * Tells of long waits: fn(ud, why, wait_ms) runs before a call waits at least min_ms (once per
 * call, with no lock held; why names the window that holds it), e.g. to show a person why
 * the work stands still. NULL fn: none (the default).
 */
typedef void (*hs_ratelimit_notice_fn)(void *ud, const struct hs_ratelimit_block *why,
                                       int64_t wait_ms);
HS_API void hs_ratelimit_set_notice(struct hs_ratelimit *rl, hs_ratelimit_notice_fn fn, void *ud,
                                    int64_t min_ms);
/* Total calls acquired and milliseconds waited, for reports. */
HS_API void hs_ratelimit_stats(struct hs_ratelimit *rl, int64_t *out_calls, int64_t *out_waited_ms);

#endif
