/*
 * testutil/failalloc.c - allocation failure injection for tests (single-threaded use).
 */
#include <stdlib.h>

#include "testutil/failalloc.h"
#include "util/alloc.h"

/* GLOBAL: test-only counters for the armed allocator */
static int g_left = -1;
static bool g_tripped = false;
static int g_held = 0; /* failalloc_hold depth: allocations pass, uncounted */

static void *fa_malloc(size_t n)
{
    if (g_held > 0)
        return malloc(n); /* lint-allow: malloc test allocator */
    if (g_left == 0) {
        g_tripped = true;
        return NULL;
    }
    if (g_left > 0)
        g_left--;
    return malloc(n); /* lint-allow: malloc test allocator */
}

static void *fa_realloc(void *p, size_t n)
{
    if (g_held > 0)
        return realloc(p, n); /* lint-allow: realloc test allocator */
    if (g_left == 0) {
        g_tripped = true;
        return NULL;
    }
    if (g_left > 0)
        g_left--;
    return realloc(p, n); /* lint-allow: realloc test allocator */
}

static void fa_free(void *p)
{
    free(p); /* lint-allow: free test allocator */
}

void failalloc_arm(int n)
{
    static const struct hs_alloc_hooks hooks = {fa_malloc, fa_realloc, fa_free};
    g_left = n;
    g_tripped = false;
    hs_alloc_set_hooks(&hooks);
}

void failalloc_disarm(void)
{
    g_left = -1;
    hs_alloc_set_hooks(NULL);
}

bool failalloc_tripped(void)
{
    return g_tripped;
}

void failalloc_hold(bool on)
{
    g_held += on ? 1 : -1;
}
