/*
 * util/alloc.c - allocator hooks and the hs_ allocation functions.
 *
 * Design:     one static hook table, set once before any other call (tests set it between
 *             cases, single-threaded). Everything in hoopsync allocates through here.
 * Threads:    the hook table is read-only after start-up; the functions are thread-safe as long
 *             as the hooks are.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/alloc.h"

static void *default_malloc(size_t n)
{
    return malloc(n); /* lint-allow: malloc the one real allocator */
}

static void *default_realloc(void *p, size_t n)
{
    return realloc(p, n); /* lint-allow: realloc the one real allocator */
}

static void default_free(void *p)
{
    free(p); /* lint-allow: free the one real allocator */
}

/* GLOBAL: allocator hooks, set once before any other call (tests swap them between cases) */
static struct hs_alloc_hooks g_hooks = {default_malloc, default_realloc, default_free};

void hs_alloc_set_hooks(const struct hs_alloc_hooks *hooks)
{
    if (hooks == NULL) {
        g_hooks.malloc_fn = default_malloc;
        g_hooks.realloc_fn = default_realloc;
        g_hooks.free_fn = default_free;
    } else {
        g_hooks = *hooks;
    }
}

void *hs_malloc(size_t n)
{
    return g_hooks.malloc_fn(n == 0 ? 1 : n);
}

void *hs_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    size_t n = count * size;
    void *p = hs_malloc(n);
    if (p != NULL)
        memset(p, 0, n == 0 ? 1 : n);
    return p;
}

void *hs_realloc(void *p, size_t n)
{
    return g_hooks.realloc_fn(p, n == 0 ? 1 : n);
}

void *hs_reallocarray(void *p, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    return hs_realloc(p, count * size);
}

void hs_free(void *p)
{
    if (p != NULL)
        g_hooks.free_fn(p);
}

char *hs_strndup(const char *s, size_t n)
{
    size_t len = 0;
    while (len < n && s[len] != '\0')
        len++;
    char *d = hs_malloc(len + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *hs_strdup(const char *s)
{
    return hs_strndup(s, strlen(s));
}

char *hs_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = hs_malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void *json_malloc(size_t n)
{
    return hs_malloc(n);
}

static void json_free(void *p)
{
    hs_free(p);
}

void hs_alloc_setup_json(void)
{
    json_set_alloc_funcs(json_malloc, json_free);
}
