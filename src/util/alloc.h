/*
 * util/alloc.h - the one allocator every part of hoopsync uses.
 *
 * Design:     hs_malloc/hs_calloc/hs_realloc/hs_free wrap the C allocator behind hooks that
 *             tests replace (tests/testutil/failalloc.c fails the n-th allocation). Jansson is
 *             routed through the same functions by hs_alloc_setup_json().
 * Ownership:  hs_strdup/hs_strndup/hs_asprintf return memory the caller frees with hs_free.
 */
#ifndef HS_UTIL_ALLOC_H
#define HS_UTIL_ALLOC_H

#include <stddef.h>

#include "hoopsync/common.h"

struct hs_alloc_hooks {
    void *(*malloc_fn)(size_t n);
    void *(*realloc_fn)(void *p, size_t n);
    void (*free_fn)(void *p);
};

/* Installs allocator hooks (NULL restores the C allocator). Call before any other hs_ call. */
HS_API void hs_alloc_set_hooks(const struct hs_alloc_hooks *hooks);
/* Routes jansson's allocations through hs_malloc/hs_free. Idempotent. */
HS_API void hs_alloc_setup_json(void);

HS_API void *hs_malloc(size_t n);
HS_API void *hs_calloc(size_t count, size_t size);
HS_API void *hs_realloc(void *p, size_t n);
HS_API void hs_free(void *p);
/* Array reallocation with overflow check: returns NULL (p untouched) if count*size overflows. */
HS_API void *hs_reallocarray(void *p, size_t count, size_t size);
HS_API char *hs_strdup(const char *s);
HS_API char *hs_strndup(const char *s, size_t n);
/* printf into a new string; NULL on allocation failure. */
HS_API char *hs_asprintf(const char *fmt, ...) HS_PRINTF(1, 2);

#define HS_FREE(p)                                                                                 \
    do {                                                                                           \
        hs_free(p);                                                                                \
        (p) = NULL;                                                                                \
    } while (0)

#ifdef HS_DEBUG_ASSERT
#include <stdio.h>
#include <stdlib.h>
#define HS_ASSERT(c)                                                                               \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", /* lint-allow: fprintf bugs only */   \
                    __FILE__, __LINE__, #c);                                                       \
            abort(); /* lint-allow: abort HS_ASSERT marks bugs only */                             \
        }                                                                                          \
    } while (0)
#else
#define HS_ASSERT(c) ((void)0)
#endif

#endif
