/*
 * util/env.c - the system environment (real clock, random seed, stderr log) and hs_rng.
 *
 * Design:     hs_env_system is the only place that reads the real clock for library code;
 *             everything else goes through struct hs_env. The RNG is splitmix64: tiny, fast
 *             and good enough for ids, jitter and seeded data (not for secrets: use libsodium).
 * Threads:    the system log writes one line per fprintf call, which stdio keeps whole.
 */
#include <stdio.h>
#include <time.h>

#include "util/env.h"

static int64_t system_now_ms(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t system_rand(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    static _Thread_local struct hs_rng r; /* GLOBAL: per-thread RNG state of the system env */
    if (r.state == 0)
        hs_rng_seed(&r, (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uintptr_t)&r);
    return hs_rng_next(&r);
}

static void system_sleep(void *ud, int64_t ms)
{
    (void)ud;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void system_log(void *ud, enum hs_log_level level, const char *msg)
{
    (void)ud;
    static const char *names[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "hoopsync: %s: %s\n", names[level], msg); /* lint-allow: fprintf the log sink */
}

void hs_env_system(struct hs_env *out, enum hs_log_level min_level)
{
    out->now_ms = system_now_ms;
    out->rand64 = system_rand;
    out->log = system_log;
    out->ud = NULL;
    out->min_level = min_level;
    out->sleep_ms = system_sleep;
}

int64_t hs_env_now_ms(const struct hs_env *env)
{
    return env->now_ms(env->ud);
}

uint64_t hs_env_rand(const struct hs_env *env)
{
    return env->rand64(env->ud);
}

void hs_env_sleep_ms(const struct hs_env *env, int64_t ms)
{
    if (ms <= 0)
        return;
    if (env != NULL && env->sleep_ms != NULL)
        env->sleep_ms(env->ud, ms);
    else
        system_sleep(NULL, ms);
}

void hs_env_log(const struct hs_env *env, enum hs_log_level level, const char *fmt, ...)
{
    if (env == NULL || env->log == NULL || level < env->min_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    env->log(env->ud, level, msg);
}

void hs_rng_seed(struct hs_rng *r, uint64_t seed)
{
    r->state = seed ^ 0x9E3779B97F4A7C15ull;
    if (r->state == 0)
        r->state = 1;
}

uint64_t hs_rng_next(struct hs_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t hs_rng_below(struct hs_rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = hs_rng_next(r);
    } while (x >= limit);
    return x % n;
}
