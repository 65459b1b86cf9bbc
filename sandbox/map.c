/*
 * sandbox/map.c - string-keyed hash map used by the sandbox core (rate limits, OAuth, seed).
 *
 * Design:     separate chaining with FNV-1a hashes and a power-of-two bucket array that
 *             doubles when the load factor passes 1, so get/put/take are O(1) on average.
 *             Keys are copied into the entry (flexible array member): one allocation per
 *             entry. Values are opaque; the map frees them with free_val when they are
 *             replaced, deleted or cleared.
 * Invariants: nb is 0 or a power of two; n counts the entries in all chains.
 * Threads:    none; callers hold the state lock.
 * Ownership:  the map owns keys and, after a successful put, values.
 */
#include <string.h>

#include "sandbox/sbx_int.h"
#include "util/alloc.h"

static uint64_t hash_key(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

void hs_sbx_map_init(struct hs_sbx_map *m, void (*free_val)(void *))
{
    memset(m, 0, sizeof *m);
    m->free_val = free_val;
}

void hs_sbx_map_clear(struct hs_sbx_map *m)
{
    for (size_t i = 0; i < m->nb; i++) {
        struct hs_sbx_map_ent *e = m->b[i];
        while (e != NULL) {
            struct hs_sbx_map_ent *next = e->next;
            if (m->free_val != NULL)
                m->free_val(e->val);
            hs_free(e);
            e = next;
        }
        m->b[i] = NULL;
    }
    m->n = 0;
}

void hs_sbx_map_release(struct hs_sbx_map *m)
{
    hs_sbx_map_clear(m);
    HS_FREE(m->b);
    m->nb = 0;
}

static struct hs_sbx_map_ent **find(const struct hs_sbx_map *m, const char *key, uint64_t h)
{
    if (m->nb == 0)
        return NULL;
    struct hs_sbx_map_ent **pp = &m->b[h & (m->nb - 1)];
    while (*pp != NULL) {
        if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
            return pp;
        pp = &(*pp)->next;
    }
    return pp;
}

void *hs_sbx_map_get(const struct hs_sbx_map *m, const char *key)
{
    struct hs_sbx_map_ent **pp = find(m, key, hash_key(key));
    return (pp != NULL && *pp != NULL) ? (*pp)->val : NULL;
}

static int grow(struct hs_sbx_map *m)
{
    size_t nb = m->nb ? m->nb * 2 : 16;
    struct hs_sbx_map_ent **b = hs_calloc(nb, sizeof(struct hs_sbx_map_ent *));
    if (b == NULL)
        return HS_ENOMEM;
    for (size_t i = 0; i < m->nb; i++) {
        struct hs_sbx_map_ent *e = m->b[i];
        while (e != NULL) {
            struct hs_sbx_map_ent *next = e->next;
            size_t j = e->hash & (nb - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    hs_free(m->b);
    m->b = b;
    m->nb = nb;
    return HS_OK;
}

int hs_sbx_map_put(struct hs_sbx_map *m, const char *key, void *val)
{
    uint64_t h = hash_key(key);
    struct hs_sbx_map_ent **pp = find(m, key, h);
    if (pp != NULL && *pp != NULL) {
        if (m->free_val != NULL && (*pp)->val != val)
            m->free_val((*pp)->val);
        (*pp)->val = val;
        return HS_OK;
    }
    if (m->n >= m->nb && grow(m) != HS_OK) {
        if (m->nb == 0)
            return HS_ENOMEM;
        /* keep going with the current buckets: longer chains, still correct */
    }
    size_t klen = strlen(key);
    struct hs_sbx_map_ent *e = hs_malloc(sizeof *e + klen + 1);
    if (e == NULL)
        return HS_ENOMEM;
    memcpy(e->key, key, klen + 1);
    e->hash = h;
    e->val = val;
    size_t j = h & (m->nb - 1);
    e->next = m->b[j];
    m->b[j] = e;
    m->n++;
    return HS_OK;
}

void *hs_sbx_map_take(struct hs_sbx_map *m, const char *key)
{
    struct hs_sbx_map_ent **pp = find(m, key, hash_key(key));
    if (pp == NULL || *pp == NULL)
        return NULL;
    struct hs_sbx_map_ent *e = *pp;
    void *val = e->val;
    *pp = e->next;
    hs_free(e);
    m->n--;
    return val;
}

void hs_sbx_map_each(struct hs_sbx_map *m, bool (*fn)(void *ud, const char *key, void *val),
                     void *ud)
{
    for (size_t i = 0; i < m->nb; i++) {
        struct hs_sbx_map_ent **pp = &m->b[i];
        while (*pp != NULL) {
            struct hs_sbx_map_ent *e = *pp;
            if (fn(ud, e->key, e->val)) {
                *pp = e->next;
                if (m->free_val != NULL)
                    m->free_val(e->val);
                hs_free(e);
                m->n--;
            } else {
                pp = &e->next;
            }
        }
    }
}
