/*
 * util/env.h - the world as code sees it: clock, randomness and logging, injected.
 *
 * Design:     library code never reads the system clock, rand() or stderr directly; it calls
 *             through a struct hs_env its caller hands in. hs_env_system() gives the real one;
 *             tests build their own with a fake clock and a seeded RNG (hs_rng below).
 * Threads:    the system env is thread-safe; a test env is owned by its test.
 */
#ifndef HS_UTIL_ENV_H
#define HS_UTIL_ENV_H

#include <stdarg.h>
#include <stdint.h>

#include "hoopsync/common.h"

enum hs_log_level { HS_LOG_DEBUG = 0, HS_LOG_INFO = 1, HS_LOG_WARN = 2, HS_LOG_ERROR = 3 };

typedef void (*hs_log_fn)(void *ud, enum hs_log_level level, const char *msg);
/* Milliseconds since the Unix epoch (wall clock, may be moved by tests). */
typedef int64_t (*hs_now_ms_fn)(void *ud);
/* 64 random bits. */
typedef uint64_t (*hs_rand_fn)(void *ud);
/* Waits ms milliseconds (a test env advances its fake clock instead). */
typedef void (*hs_sleep_ms_fn)(void *ud, int64_t ms);

struct hs_env {
    hs_now_ms_fn now_ms;
    hs_rand_fn rand64;
    hs_log_fn log;
    void *ud;
    enum hs_log_level min_level;
    hs_sleep_ms_fn sleep_ms; /* NULL: hs_env_sleep_ms uses the real clock */
};

/* The real clock, a CSPRNG-seeded xorshift, and logging to stderr at min_level. */
HS_API void hs_env_system(struct hs_env *out, enum hs_log_level min_level);
HS_API int64_t hs_env_now_ms(const struct hs_env *env);
HS_API uint64_t hs_env_rand(const struct hs_env *env);
/* Sleeps through env->sleep_ms, or for real when it is NULL. ms <= 0 returns at once. */
HS_API void hs_env_sleep_ms(const struct hs_env *env, int64_t ms);
HS_API void hs_env_log(const struct hs_env *env, enum hs_log_level level, const char *fmt, ...)
    HS_PRINTF(3, 4);

/* Deterministic RNG (splitmix64) for seeded data and simulation. */
struct hs_rng {
    uint64_t state;
};
HS_API void hs_rng_seed(struct hs_rng *r, uint64_t seed);
HS_API uint64_t hs_rng_next(struct hs_rng *r);
/* Uniform integer in [0, n) (n > 0). */
HS_API uint64_t hs_rng_below(struct hs_rng *r, uint64_t n);

#endif
