/*
 * sandbox/qbo_store.c - entity tables and name indexes of the QuickBooks module.
 *
 * Design:     QuickBooks Ids are decimal strings the module assigns in sequence per entity
 *             type, so a table is a growable array whose index is Id - 1: a read by Id is a
 *             number parse and an array access, no hashing. Names (Customer.DisplayName,
 *             Item.Name) must be unique, case-insensitively, among live records; a small
 *             open-addressing hash map with tombstones from folded name to index keeps that
 *             check O(1) for 10,000s of customers.
 * Invariants: names.used <= cap / 2 after every insert (the map grows before that).
 * Ownership:  the table owns each record's json_t and the map owns its keys.
 */
#include <string.h>

#include "sandbox/qbo.h"
#include "util/alloc.h"
#include "util/str.h"

/* Its address marks a deleted slot (a constant, never written through TOMB). */
static const char tombstone_key = 0;
#define TOMB ((char *)&tombstone_key)

void hs_qbo_table_init(struct hs_qbo_table *t)
{
    memset(t, 0, sizeof *t);
}

void hs_qbo_names_release(struct hs_qbo_names *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] != NULL && m->keys[i] != TOMB)
            hs_free(m->keys[i]);
    hs_free(m->keys);
    hs_free(m->vals);
    memset(m, 0, sizeof *m);
}

void hs_qbo_table_release(struct hs_qbo_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        json_decref(t->v[i].obj);
    hs_free(t->v);
    hs_qbo_names_release(&t->names);
    memset(t, 0, sizeof *t);
}

int hs_qbo_table_add(struct hs_qbo_table *t, json_t *obj, int64_t now_ms, size_t *out_index)
{
    if (obj == NULL)
        return HS_ENOMEM;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct hs_qbo_rec *v = hs_reallocarray(t->v, cap, sizeof *v);
        if (v == NULL) {
            json_decref(obj);
            return HS_ENOMEM;
        }
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n].obj = obj;
    t->v[t->n].updated_ms = now_ms;
    t->v[t->n].deleted = false;
    *out_index = t->n++;
    return HS_OK;
}

struct hs_qbo_rec *hs_qbo_table_get(struct hs_qbo_table *t, const char *id)
{
    int64_t n;
    if (id == NULL || hs_str_to_i64(id, strlen(id), &n) != HS_OK)
        return NULL;
    if (n < 1 || (uint64_t)n > t->n)
        return NULL;
    return &t->v[n - 1];
}

char *hs_qbo_name_fold(const char *name)
{
    char *t = hs_str_trim(name);
    if (t == NULL)
        return NULL;
    for (char *p = t; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return t;
}

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Slot of key (folded) or SIZE_MAX. */
static size_t slot_find(const struct hs_qbo_names *m, const char *key)
{
    if (m->cap == 0)
        return SIZE_MAX;
    size_t mask = m->cap - 1;
    for (size_t i = hash(key) & mask, k = 0; k < m->cap; i = (i + 1) & mask, k++) {
        if (m->keys[i] == NULL)
            return SIZE_MAX;
        if (m->keys[i] != TOMB && strcmp(m->keys[i], key) == 0)
            return i;
    }
    return SIZE_MAX;
}

long hs_qbo_names_find(const struct hs_qbo_names *m, const char *name)
{
    char *key = hs_qbo_name_fold(name);
    if (key == NULL)
        return -1;
    size_t i = slot_find(m, key);
    hs_free(key);
    return i == SIZE_MAX ? -1 : (long)m->vals[i];
}

/* Inserts key (owned on success) into a map with room; no duplicate check. */
static void slot_insert(struct hs_qbo_names *m, char *key, uint32_t val)
{
    size_t mask = m->cap - 1;
    size_t i = hash(key) & mask;
    while (m->keys[i] != NULL && m->keys[i] != TOMB)
        i = (i + 1) & mask;
    if (m->keys[i] == NULL)
        m->used++;
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
}

static int grow(struct hs_qbo_names *m)
{
    size_t cap = m->cap ? m->cap : 64;
    while (cap < (m->n + 1) * 4)
        cap *= 2;
    char **keys = hs_calloc(cap, sizeof *keys);
    uint32_t *vals = hs_calloc(cap, sizeof *vals);
    if (keys == NULL || vals == NULL) {
        hs_free(keys);
        hs_free(vals);
        return HS_ENOMEM;
    }
    struct hs_qbo_names old = *m;
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    m->n = 0;
    m->used = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i] != NULL && old.keys[i] != TOMB)
            slot_insert(m, old.keys[i], old.vals[i]);
    hs_free(old.keys);
    hs_free(old.vals);
    return HS_OK;
}

int hs_qbo_names_put(struct hs_qbo_names *m, const char *name, uint32_t index)
{
    char *key = hs_qbo_name_fold(name);
    if (key == NULL)
        return HS_ENOMEM;
    size_t i = slot_find(m, key);
    if (i != SIZE_MAX) {
        m->vals[i] = index;
        hs_free(key);
        return HS_OK;
    }
    if ((m->used + 1) * 2 > m->cap && grow(m) != HS_OK) {
        hs_free(key);
        return HS_ENOMEM;
    }
    slot_insert(m, key, index);
    return HS_OK;
}

void hs_qbo_names_del(struct hs_qbo_names *m, const char *name)
{
    char *key = hs_qbo_name_fold(name);
    if (key == NULL)
        return;
    size_t i = slot_find(m, key);
    hs_free(key);
    if (i == SIZE_MAX)
        return;
    hs_free(m->keys[i]);
    m->keys[i] = TOMB;
    m->n--;
}
