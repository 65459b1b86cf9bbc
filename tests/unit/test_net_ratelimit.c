/*
 * tests/unit/test_net_ratelimit.c - client-side rate limiter: exact waits on a fake clock,
 * scopes, pauses, token buckets, allocation failures and concurrent callers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "net/ratelimit.h"
#include "testutil/failalloc.h"
#include "util/env.h"

/* Fake clock: sleep advances it. Thread-safe for the concurrency test. */
struct fake {
    pthread_mutex_t mu;
    int64_t now;
    int64_t slept;
    int64_t n_sleeps;
};

static int64_t fake_now(void *ud)
{
    struct fake *f = ud;
    pthread_mutex_lock(&f->mu);
    int64_t n = f->now;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static void fake_sleep(void *ud, int64_t ms)
{
    struct fake *f = ud;
    pthread_mutex_lock(&f->mu);
    f->now += ms;
    f->slept += ms;
    f->n_sleeps++;
    pthread_mutex_unlock(&f->mu);
}

static uint64_t fake_rand(void *ud)
{
    (void)ud;
    return 4;
}

static void fake_env(struct fake *f, struct hs_env *env, int64_t start)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->now = start;
    memset(env, 0, sizeof *env);
    env->now_ms = fake_now;
    env->sleep_ms = fake_sleep;
    env->rand64 = fake_rand;
    env->ud = f;
    env->min_level = HS_LOG_ERROR;
}

static void test_ratelimit_sliding_window_waits_exactly(void **state)
{
    (void)state;
    struct fake f;
    struct hs_env env;
    fake_env(&f, &env, 1000000);
    struct hs_ratelimit *rl = NULL;
    assert_int_equal(hs_ratelimit_new(&env, &rl), HS_OK);
    assert_int_equal(hs_ratelimit_add(rl, "all", 3, 1000), HS_OK);

    assert_int_equal(hs_ratelimit_acquire(rl, "all"), 0); /* t=0 */
    f.now += 200;
    assert_int_equal(hs_ratelimit_acquire(rl, NULL), 0); /* t=200 */
    f.now += 200;
    assert_int_equal(hs_ratelimit_acquire(rl, "all"), 0); /* t=400 */
    assert_int_equal(hs_ratelimit_wait_ms(rl, "all"), 600);
    /* The 4th call waits until the first one leaves the window: t=1000. */
    assert_int_equal(hs_ratelimit_acquire(rl, "all"), 600);
    assert_int_equal(f.now, 1000000 + 1000);
    /* The 5th waits for the call at t=200. */
    assert_int_equal(hs_ratelimit_acquire(rl, "all"), 200);
    assert_int_equal(f.now, 1000000 + 1200);
    /* wait_ms does not record a call. */
    assert_int_equal(hs_ratelimit_wait_ms(rl, "all"), 200);
    assert_int_equal(hs_ratelimit_wait_ms(rl, "all"), 200);
    /* calls in the window at 400, 1000, 1200 (now): room for one more once the one at 400
     * leaves (t=1400), for two once the one at 1000 does (t=2000), for three at t=2200;
     * more than the limit counts as the limit */
    assert_int_equal(hs_ratelimit_wait_n_ms(rl, "all", 1), 200);
    assert_int_equal(hs_ratelimit_wait_n_ms(rl, "all", 2), 800);
    assert_int_equal(hs_ratelimit_wait_n_ms(rl, "all", 3), 1000);
    assert_int_equal(hs_ratelimit_wait_n_ms(rl, "all", 9), 1000);
    assert_int_equal(hs_ratelimit_wait_n_ms(NULL, "all", 9), 0);
    f.now += 5000;
    assert_int_equal(hs_ratelimit_wait_ms(rl, "all"), 0);
    assert_int_equal(hs_ratelimit_wait_n_ms(rl, "all", 3), 0);

    int64_t calls = 0;
    int64_t waited = 0;
    hs_ratelimit_stats(rl, &calls, &waited);
    assert_int_equal(calls, 5);
    assert_int_equal(waited, 800);
    assert_int_equal(f.slept, 800);
    hs_ratelimit_free(rl);
    pthread_mutex_destroy(&f.mu);
}

static void test_ratelimit_scope_counts_in_all_but_not_back(void **state)
{
    (void)state;
    struct fake f;
    struct hs_env env;
    fake_env(&f, &env, 0);
    struct hs_ratelimit *rl = NULL;
    assert_int_equal(hs_ratelimit_new(&env, &rl), HS_OK);
    assert_int_equal(hs_ratelimit_add(rl, "all", 4, 10000), HS_OK);
    assert_int_equal(hs_ratelimit_add(rl, "search", 2, 1000), HS_OK);

    assert_int_equal(hs_ratelimit_acquire(rl, "search"), 0);
    assert_int_equal(hs_ratelimit_acquire(rl, "search"), 0);
    /* search is full for 1 s; other scopes are not held back by it */
    assert_int_equal(hs_ratelimit_wait_ms(rl, "search"), 1000);
    assert_int_equal(hs_ratelimit_wait_ms(rl, "batch"), 0);
    /* a call whose scope is unknown waits as the tightest one would */
    assert_int_equal(hs_ratelimit_wait_n_ms(rl, "all", 1), 0);
    assert_int_equal(hs_ratelimit_wait_any_ms(rl, 1), 1000);
    assert_int_equal(hs_ratelimit_wait_any_ms(NULL, 1), 0);
    assert_int_equal(hs_ratelimit_acquire(rl, "batch"), 0);
    assert_int_equal(hs_ratelimit_acquire(rl, "all"), 0);
    /* "all" is now full (2 search + 1 batch + 1 all) for 10 s: everything waits */
    assert_int_equal(hs_ratelimit_wait_ms(rl, "batch"), 10000);
    assert_int_equal(hs_ratelimit_wait_ms(rl, "search"), 10000);
    assert_int_equal(hs_ratelimit_acquire(rl, "search"), 10000);
    assert_int_equal(f.now, 10000);
    hs_ratelimit_free(rl);
    pthread_mutex_destroy(&f.mu);
}

static void test_ratelimit_pause_holds_scope_and_all_holds_everything(void **state)
{
    (void)state;
    struct fake f;
    struct hs_env env;
    fake_env(&f, &env, 50);
    struct hs_ratelimit *rl = NULL;
    assert_int_equal(hs_ratelimit_new(&env, &rl), HS_OK);
    /* no windows at all: only pauses */
    hs_ratelimit_pause(rl, "batch", 1500);
    assert_int_equal(hs_ratelimit_wait_ms(rl, "batch"), 1500);
    assert_int_equal(hs_ratelimit_wait_ms(rl, "search"), 0);
    /* a shorter pause never shortens a longer one */
    hs_ratelimit_pause(rl, "batch", 100);
    assert_int_equal(hs_ratelimit_wait_ms(rl, "batch"), 1500);
    assert_int_equal(hs_ratelimit_acquire(rl, "batch"), 1500);
    assert_int_equal(f.now, 1550);
    hs_ratelimit_pause(rl, "all", 3000);
    assert_int_equal(hs_ratelimit_acquire(rl, "search"), 3000);
    assert_int_equal(hs_ratelimit_acquire(rl, "search"), 0);
    hs_ratelimit_pause(rl, "x", 0); /* no-op */
    hs_ratelimit_pause(NULL, "x", 10);
    assert_int_equal(hs_ratelimit_acquire(NULL, "x"), 0);
    hs_ratelimit_free(rl);
    pthread_mutex_destroy(&f.mu);
}

static void test_ratelimit_large_limit_uses_bucket(void **state)
{
    (void)state;
    struct fake f;
    struct hs_env env;
    fake_env(&f, &env, 0);
    struct hs_ratelimit *rl = NULL;
    assert_int_equal(hs_ratelimit_new(&env, &rl), HS_OK);
    /* 250000 a day: a bucket; it starts full */
    assert_int_equal(hs_ratelimit_add(rl, "day", 250000, 86400000), HS_OK);
    for (int i = 0; i < 250000; i++)
        assert_int_equal(hs_ratelimit_acquire(rl, "day"), 0);
    /* one call refills every 86400000/250000 = 345.6 ms: wait rounds up */
    assert_int_equal(hs_ratelimit_wait_ms(rl, "day"), 346);
    assert_int_equal(hs_ratelimit_wait_ms(rl, "other"), 0);
    assert_int_equal(hs_ratelimit_acquire(rl, "day"), 346);
    f.now += 86400000;
    assert_int_equal(hs_ratelimit_wait_ms(rl, "day"), 0);
    hs_ratelimit_free(rl);
    pthread_mutex_destroy(&f.mu);
}

static void test_ratelimit_rejects_bad_windows(void **state)
{
    (void)state;
    struct fake f;
    struct hs_env env;
    fake_env(&f, &env, 0);
    struct hs_ratelimit *rl = NULL;
    assert_int_equal(hs_ratelimit_new(NULL, &rl), HS_EINVAL);
    assert_null(rl);
    assert_int_equal(hs_ratelimit_new(&env, &rl), HS_OK);
    assert_int_equal(hs_ratelimit_add(rl, "all", 0, 1000), HS_EINVAL);
    assert_int_equal(hs_ratelimit_add(rl, "all", 10, 0), HS_EINVAL);
    assert_int_equal(hs_ratelimit_add(rl, "all", INT64_MAX, 1000), HS_EINVAL);
    assert_int_equal(hs_ratelimit_add(NULL, "all", 1, 1000), HS_EINVAL);
    hs_ratelimit_free(rl);
    hs_ratelimit_free(NULL);
    pthread_mutex_destroy(&f.mu);
}

static void test_ratelimit_survives_every_failed_allocation(void **state)
{
    (void)state;
    struct fake f;
    struct hs_env env;
    fake_env(&f, &env, 0);
    for (int n = 0;; n++) {
        struct hs_ratelimit *rl = NULL;
        failalloc_arm(n);
        int rc = hs_ratelimit_new(&env, &rl);
        if (rc == HS_OK)
            rc = hs_ratelimit_add(rl, "all", 2, 1000);
        if (rc == HS_OK)
            rc = hs_ratelimit_add(rl, "search", 1, 1000);
        if (rc == HS_OK)
            hs_ratelimit_pause(rl, "batch", 10);
        bool tripped = failalloc_tripped();
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_int_equal(hs_ratelimit_acquire(rl, "search"), 0);
            assert_int_equal(hs_ratelimit_wait_ms(rl, "search"), 1000);
        } else {
            assert_int_equal(rc, HS_ENOMEM);
        }
        hs_ratelimit_free(rl);
        if (!tripped)
            break;
    }
    pthread_mutex_destroy(&f.mu);
}

struct worker {
    struct hs_ratelimit *rl;
    int n;
};

static void *worker_main(void *ud)
{
    struct worker *w = ud;
    for (int i = 0; i < w->n; i++)
        (void)hs_ratelimit_acquire(w->rl, (i % 2) ? "search" : "all");
    return NULL;
}

static void test_ratelimit_concurrent_callers_share_the_windows(void **state)
{
    (void)state;
    struct fake f;
    struct hs_env env;
    fake_env(&f, &env, 0);
    struct hs_ratelimit *rl = NULL;
    assert_int_equal(hs_ratelimit_new(&env, &rl), HS_OK);
    assert_int_equal(hs_ratelimit_add(rl, "all", 10, 1000), HS_OK);
    enum { THREADS = 4, PER = 50 };
    pthread_t th[THREADS];
    struct worker w = {rl, PER};
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    int64_t calls = 0;
    hs_ratelimit_stats(rl, &calls, NULL);
    assert_int_equal(calls, THREADS * PER);
    /* 200 calls at 10 a second need at least 19 s of (fake) time */
    assert_true(f.now >= 19000);
    hs_ratelimit_free(rl);
    pthread_mutex_destroy(&f.mu);
}

/* A longest wait: take() refuses (and remembers why) what acquire() would sleep for. */
static void test_ratelimit_take_refuses_beyond_the_longest_wait(void **state)
{
    (void)state;
    struct fake f;
    struct hs_env env;
    fake_env(&f, &env, 5000);
    struct hs_ratelimit *rl = NULL;
    assert_int_equal(hs_ratelimit_new(&env, &rl), HS_OK);
    assert_int_equal(hs_ratelimit_add(rl, "all", 2, 1000), HS_OK);
    assert_int_equal(hs_ratelimit_add(rl, "day", 3, 86400000), HS_OK);
    hs_ratelimit_set_max_wait(rl, 60000);
    struct hs_ratelimit_block b;
    assert_false(hs_ratelimit_blocked(rl, &b));
    assert_int_equal(hs_ratelimit_take(rl, "day", &b), HS_OK); /* t=5000 */
    assert_int_equal(hs_ratelimit_take(rl, "day", &b), HS_OK);
    /* the minute-like window is waited for (1 s <= 60 s) */
    assert_int_equal(hs_ratelimit_take(rl, "day", &b), HS_OK);
    assert_int_equal(f.now, 6000);
    /* the day window is spent: refused at once, nothing recorded, the day named */
    memset(&b, 0, sizeof b);
    assert_int_equal(hs_ratelimit_take(rl, "day", &b), HS_ERATELIMIT);
    assert_int_equal(f.now, 6000);
    assert_string_equal(b.scope, "day");
    assert_int_equal(b.limit, 3);
    assert_int_equal(b.window_ms, 86400000);
    assert_int_equal(b.resume_at_ms, 5000 + 86400000);
    struct hs_ratelimit_block kept;
    assert_true(hs_ratelimit_blocked(rl, &kept));
    assert_int_equal(kept.resume_at_ms, b.resume_at_ms);
    int64_t calls = 0;
    hs_ratelimit_stats(rl, &calls, NULL);
    assert_int_equal(calls, 3);
    /* other scopes still go */
    assert_int_equal(hs_ratelimit_take(rl, "all", NULL), HS_OK);
    /* acquire ignores the bound: it sleeps until the day opens */
    assert_int_equal(hs_ratelimit_acquire(rl, "day"), 5000 + 86400000 - 6000);
    /* a pause longer than the bound is refused too, naming the paused scope */
    hs_ratelimit_pause(rl, "all", 120000);
    assert_int_equal(hs_ratelimit_take(rl, "search", &b), HS_ERATELIMIT);
    assert_string_equal(b.scope, "all");
    assert_int_equal(b.limit, 0);
    assert_int_equal(b.resume_at_ms, f.now + 120000);
    /* no bound: take waits like acquire */
    hs_ratelimit_set_max_wait(rl, 0);
    int64_t before = f.now;
    assert_int_equal(hs_ratelimit_take(rl, "search", &b), HS_OK);
    assert_int_equal(f.now, before + 120000);
    hs_ratelimit_free(rl);
    assert_int_equal(hs_ratelimit_take(NULL, "all", NULL), HS_OK);
    assert_false(hs_ratelimit_blocked(NULL, NULL));
}

/* An idle function that does `work` ms of other work (and, once, takes a call from the same
 * limiter, which must sleep rather than nest). */
struct idle_rec {
    struct fake *f;
    struct hs_ratelimit *rl;
    int64_t work;
    int64_t until_seen;
    int calls;
    bool nest;
};

static void idle_fn(void *ud, int64_t until_ms)
{
    struct idle_rec *r = ud;
    r->calls++;
    r->until_seen = until_ms;
    if (r->nest) {
        r->nest = false;
        (void)hs_ratelimit_acquire(r->rl, "all"); /* waits by sleeping: no second idle */
    }
    pthread_mutex_lock(&r->f->mu);
    r->f->now += r->work;
    pthread_mutex_unlock(&r->f->mu);
}

static void test_ratelimit_idle_runs_other_work_instead_of_sleeping(void **state)
{
    (void)state;
    struct fake f;
    struct hs_env env;
    fake_env(&f, &env, 500000);
    struct hs_ratelimit *rl = NULL;
    assert_int_equal(hs_ratelimit_new(&env, &rl), HS_OK);
    assert_int_equal(hs_ratelimit_add(rl, "all", 2, 1000), HS_OK);
    struct idle_rec r = {.f = &f, .rl = rl, .work = 300};
    hs_ratelimit_set_idle(rl, idle_fn, &r, 50);

    assert_int_equal(hs_ratelimit_acquire(rl, "all"), 0);
    assert_int_equal(hs_ratelimit_acquire(rl, "all"), 0);
    /* the third call waits 1000 ms: 300 of them are other work, the rest is slept */
    assert_int_equal(hs_ratelimit_acquire(rl, "all"), 1000);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.until_seen, 500000 + 1000);
    assert_int_equal(f.slept, 700);
    assert_int_equal(f.now, 501000);
    /* work longer than the wait: nothing is slept, the call goes at once after it */
    r.work = 1500;
    int64_t slept = f.slept;
    assert_int_equal(hs_ratelimit_acquire(rl, "all"), 0); /* t=501000: the window is full */
    (void)hs_ratelimit_acquire(rl, "all");
    assert_int_equal(r.calls, 2);
    assert_int_equal(f.slept, slept);
    /* a wait shorter than min_ms sleeps without idle */
    assert_int_equal(f.now, 502500);
    assert_int_equal(hs_ratelimit_acquire(rl, "all"), 0); /* calls at 502500 twice */
    f.now += 980;
    r.work = 0;
    assert_int_equal(hs_ratelimit_acquire(rl, "all"), 20);
    assert_int_equal(r.calls, 2);
    /* idle taking a call from this limiter sleeps inside instead of nesting */
    r.nest = true;
    r.work = 0;
    assert_int_equal(hs_ratelimit_acquire(rl, "all"), 0);
    assert_int_equal(hs_ratelimit_acquire(rl, "all"), 1000);
    assert_int_equal(r.calls, 3);
    assert_false(r.nest);
    /* no idle once cleared */
    hs_ratelimit_set_idle(rl, NULL, NULL, 0);
    assert_int_equal(hs_ratelimit_acquire(rl, "all"), 1000); /* the nested call and ours */
    assert_int_equal(r.calls, 3);
    hs_ratelimit_set_idle(NULL, idle_fn, &r, 1);
    hs_ratelimit_free(rl);
    pthread_mutex_destroy(&f.mu);
}

struct notice_rec {
    int calls;
    int64_t wait_ms;
    struct hs_ratelimit_block why;
};

static void notice_fn(void *ud, const struct hs_ratelimit_block *why, int64_t wait_ms)
{
    struct notice_rec *r = ud;
    r->calls++;
    r->wait_ms = wait_ms;
    r->why = *why;
}

/* A wait of at least min_ms is told once, naming the window that holds the call. */
static void test_ratelimit_notice_tells_of_long_waits(void **state)
{
    (void)state;
    struct fake f;
    struct hs_env env;
    fake_env(&f, &env, 500000);
    struct hs_ratelimit *rl = NULL;
    assert_int_equal(hs_ratelimit_new(&env, &rl), HS_OK);
    assert_int_equal(hs_ratelimit_add(rl, "all", 1, 100), HS_OK);
    assert_int_equal(hs_ratelimit_add(rl, "batch", 1, 5000), HS_OK);
    struct notice_rec r = {0};
    hs_ratelimit_set_notice(rl, notice_fn, &r, 1000);
    assert_int_equal(hs_ratelimit_acquire(rl, "batch"), 0);
    assert_int_equal(hs_ratelimit_acquire(rl, "all"), 100); /* short: not told */
    assert_int_equal(r.calls, 0);
    assert_int_equal(hs_ratelimit_acquire(rl, "batch"), 4900);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.wait_ms, 4900);
    assert_string_equal(r.why.scope, "batch");
    assert_int_equal(r.why.limit, 1);
    assert_int_equal(r.why.window_ms, 5000);
    assert_int_equal(f.slept, 5000); /* told, then slept as before */
    hs_ratelimit_set_notice(rl, NULL, NULL, 0);
    assert_int_equal(hs_ratelimit_acquire(rl, "batch"), 5000);
    assert_int_equal(r.calls, 1);
    hs_ratelimit_set_notice(NULL, notice_fn, &r, 1);
    hs_ratelimit_free(rl);
    pthread_mutex_destroy(&f.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit_take_refuses_beyond_the_longest_wait),
        cmocka_unit_test(test_ratelimit_sliding_window_waits_exactly),
        cmocka_unit_test(test_ratelimit_scope_counts_in_all_but_not_back),
        cmocka_unit_test(test_ratelimit_pause_holds_scope_and_all_holds_everything),
        cmocka_unit_test(test_ratelimit_large_limit_uses_bucket),
        cmocka_unit_test(test_ratelimit_rejects_bad_windows),
        cmocka_unit_test(test_ratelimit_survives_every_failed_allocation),
        cmocka_unit_test(test_ratelimit_concurrent_callers_share_the_windows),
        cmocka_unit_test(test_ratelimit_idle_runs_other_work_instead_of_sleeping),
        cmocka_unit_test(test_ratelimit_notice_tells_of_long_waits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
