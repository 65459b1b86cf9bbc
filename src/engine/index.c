/*
 * engine/index.c - the matching index over one side's mirror (see engine_int.h).
 *
 * Design:     customers are matched by core/match.h (external reference, tax id, email,
 *             then scored names with address and contact evidence; grey zone -> review),
 *             with the flow's thresholds. Other kinds (items) use exact keys kept here: the
 *             upper-cased sku and the folded name (core/normalize.h). Arrays of entry
 *             pointers sorted by key are built on the first query after an add, so a query
 *             is a few binary searches (10,000 x 10,000 stays fast). Rules, first that
 *             decides wins: same sku -> link; same name -> link when exactly one free
 *             candidate has it, review when several; nothing -> create. A candidate already
 *             linked is never linked again: when the only match is taken, the decision is
 *             review (a person sees why).
 * Invariants: sorted views are rebuilt whenever an add happened since the last build.
 * Ownership:  entries own copies of ids and keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/match.h"
#include "core/normalize.h"
#include "engine/engine_int.h"
#include "util/alloc.h"

enum { K_TAX = 0, K_EMAIL = 1, K_NAME = 2, N_KEYS = 3 };

struct entry {
    char *id;
    char *label;
    char *key[N_KEYS]; /* NULL when the record has none */
    bool taken;
};

struct eng_index {
    enum hs_kind kind;
    struct hs_match_index *m; /* customers */
    struct hs_match_thresholds th;
    struct entry *items;
    size_t n_items, cap;
    struct entry **sorted[N_KEYS];
    size_t n_sorted[N_KEYS];
    bool stale;
};

static const char *const KEY_WHAT[N_KEYS] = {"tax id", "email", "name"};

int eng_index_new(enum hs_kind kind, uint32_t link, uint32_t review, struct eng_index **out,
                  struct hs_error *err)
{
    *out = hs_calloc(1, sizeof **out);
    if (*out == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot build matching index: out of memory");
    (*out)->kind = kind;
    (*out)->th.link = link;
    (*out)->th.review = review;
    if (kind == HS_KIND_CUSTOMER) {
        int rc = hs_match_index_new(NULL, &(*out)->m, err);
        if (rc != HS_OK) {
            hs_free(*out);
            *out = NULL;
            return rc;
        }
    }
    return HS_OK;
}

static void entry_release(struct entry *en)
{
    hs_free(en->id);
    hs_free(en->label);
    for (int k = 0; k < N_KEYS; k++)
        hs_free(en->key[k]);
}

void eng_index_free(struct eng_index *idx)
{
    if (idx == NULL)
        return;
    for (size_t i = 0; i < idx->n_items; i++)
        entry_release(&idx->items[i]);
    hs_free(idx->items);
    for (int k = 0; k < N_KEYS; k++)
        hs_free(idx->sorted[k]);
    hs_match_index_free(idx->m);
    hs_free(idx);
}

size_t eng_index_count(const struct eng_index *idx)
{
    return idx->n_items;
}

static int upper_copy(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL || s[0] == '\0')
        return HS_OK;
    char *c = hs_strdup(s);
    if (c == NULL)
        return HS_ENOMEM;
    for (char *p = c; *p != '\0'; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    *out = c;
    return HS_OK;
}

/* Fills the keys of rec into en (label and keys; id is set by the caller). */
static int keys_of(enum hs_kind kind, const struct hs_record *rec, struct entry *en)
{
    memset(en, 0, sizeof *en);
    int rc = HS_OK;
    if (kind == HS_KIND_CUSTOMER) {
        const struct hs_customer *c = &rec->customer;
        const char *name = c->display_name != NULL ? c->display_name : c->company_name;
        if (c->tax_id != NULL)
            rc = hs_normalize_tax_id(c->tax_id, strlen(c->tax_id), &en->key[K_TAX]);
        if (rc == HS_OK && c->email != NULL)
            rc = hs_normalize_email(c->email, strlen(c->email), &en->key[K_EMAIL]);
        if (rc == HS_OK && name != NULL) {
            struct hs_name_key nk;
            rc = hs_normalize_name(name, strlen(name), &nk);
            if (rc == HS_OK && nk.key != NULL && nk.key[0] != '\0') {
                en->key[K_NAME] = nk.key;
                nk.key = NULL;
            }
            if (rc == HS_OK)
                hs_normalize_name_release(&nk);
        }
        if (rc == HS_OK && name != NULL) {
            en->label = hs_strdup(name);
            if (en->label == NULL)
                rc = HS_ENOMEM;
        }
    } else if (kind == HS_KIND_ITEM) {
        const struct hs_item *it = &rec->item;
        rc = upper_copy(it->sku, &en->key[K_TAX]);
        if (rc == HS_OK && it->name != NULL)
            rc = hs_normalize_fold(it->name, strlen(it->name), &en->key[K_NAME]);
        if (rc == HS_OK && it->name != NULL) {
            en->label = hs_strdup(it->name);
            if (en->label == NULL)
                rc = HS_ENOMEM;
        }
    }
    for (int k = 0; k < N_KEYS && rc == HS_OK; k++) {
        if (en->key[k] != NULL && en->key[k][0] == '\0')
            HS_FREE(en->key[k]);
    }
    if (rc != HS_OK)
        entry_release(en);
    return rc;
}

int eng_index_add(struct eng_index *idx, const struct hs_record *rec, struct hs_error *err)
{
    if (rec == NULL || rec->id == NULL || rec->kind != idx->kind)
        return hs_error_set(err, HS_EINVAL, "cannot index record: wrong kind or no id");
    if (idx->m != NULL) {
        int rc = hs_match_index_add(idx->m, rec, err);
        if (rc == HS_EEXIST) { /* the same record twice (pass + mirror): keep the first */
            hs_error_clear(err);
            return HS_OK;
        }
        return rc;
    }
    if (idx->n_items == idx->cap) {
        size_t cap = idx->cap == 0 ? 64 : idx->cap * 2;
        struct entry *n = hs_reallocarray(idx->items, cap, sizeof *n);
        if (n == NULL)
            return hs_error_set(err, HS_ENOMEM, "cannot index record '%s': out of memory", rec->id);
        idx->items = n;
        idx->cap = cap;
    }
    struct entry en;
    int rc = keys_of(idx->kind, rec, &en);
    if (rc == HS_OK) {
        en.id = hs_strdup(rec->id);
        if (en.id == NULL) {
            entry_release(&en);
            rc = HS_ENOMEM;
        }
    }
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot index record '%s': out of memory", rec->id);
    idx->items[idx->n_items++] = en;
    idx->stale = true;
    return HS_OK;
}

void eng_index_take(struct eng_index *idx, const char *id)
{
    if (idx->m != NULL) {
        int rc = hs_match_index_take(idx->m, id);
        (void)rc; /* HS_ENOTFOUND: not indexed, nothing to take */
        return;
    }
    for (size_t i = 0; i < idx->n_items; i++) {
        if (strcmp(idx->items[i].id, id) == 0)
            idx->items[i].taken = true;
    }
}

static int cmp_key(const struct entry *a, const struct entry *b, int k)
{
    int c = strcmp(a->key[k], b->key[k]);
    return c != 0 ? c : strcmp(a->id, b->id);
}

static int cmp_tax(const void *a, const void *b)
{
    return cmp_key(*(struct entry *const *)a, *(struct entry *const *)b, K_TAX);
}

static int cmp_email(const void *a, const void *b)
{
    return cmp_key(*(struct entry *const *)a, *(struct entry *const *)b, K_EMAIL);
}

static int cmp_name(const void *a, const void *b)
{
    return cmp_key(*(struct entry *const *)a, *(struct entry *const *)b, K_NAME);
}

static int build(struct eng_index *idx)
{
    int (*const cmps[N_KEYS])(const void *, const void *) = {cmp_tax, cmp_email, cmp_name};
    for (int k = 0; k < N_KEYS; k++) {
        HS_FREE(idx->sorted[k]);
        idx->n_sorted[k] = 0;
        if (idx->n_items == 0)
            continue;
        idx->sorted[k] = hs_calloc(idx->n_items, sizeof(struct entry *));
        if (idx->sorted[k] == NULL)
            return HS_ENOMEM;
        for (size_t i = 0; i < idx->n_items; i++) {
            if (idx->items[i].key[k] != NULL)
                idx->sorted[k][idx->n_sorted[k]++] = &idx->items[i];
        }
        qsort(idx->sorted[k], idx->n_sorted[k], sizeof(struct entry *), cmps[k]);
    }
    idx->stale = false;
    return HS_OK;
}

/* First position in sorted[k] whose key is >= key. */
static size_t lower(const struct eng_index *idx, int k, const char *key)
{
    size_t lo = 0, hi = idx->n_sorted[k];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(idx->sorted[k][mid]->key[k], key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int eng_index_find(struct eng_index *idx, const struct hs_record *rec, struct eng_match *out,
                   struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    out->decision = ENG_CREATE;
    if (idx->m != NULL) {
        struct hs_match_result mr;
        int rc = hs_match_find(idx->m, rec, &idx->th, &mr, err);
        if (rc != HS_OK)
            return rc;
        out->decision = mr.decision == HS_MATCH_LINK     ? ENG_LINK
                        : mr.decision == HS_MATCH_REVIEW ? ENG_REVIEW
                                                         : ENG_CREATE;
        out->id = mr.n_candidates > 0 ? mr.candidates[0].id : NULL;
        if (out->decision != ENG_CREATE && out->id == NULL)
            out->decision = ENG_CREATE;
        snprintf(out->reason, sizeof out->reason, "%s", mr.reason);
        return HS_OK;
    }
    if (idx->stale && build(idx) != HS_OK)
        return hs_error_set(err, HS_ENOMEM, "cannot match: out of memory");
    struct entry q;
    if (keys_of(idx->kind, rec, &q) != HS_OK)
        return hs_error_set(err, HS_ENOMEM, "cannot match: out of memory");
    const char *label = q.label != NULL ? q.label : "";
    for (int k = 0; k < N_KEYS; k++) {
        if (q.key[k] == NULL)
            continue;
        size_t pos = lower(idx, k, q.key[k]);
        size_t n_free = 0, n_all = 0;
        const struct entry *first_free = NULL, *first = NULL;
        for (size_t i = pos;
             i < idx->n_sorted[k] && strcmp(idx->sorted[k][i]->key[k], q.key[k]) == 0; i++) {
            const struct entry *en = idx->sorted[k][i];
            if (first == NULL)
                first = en;
            n_all++;
            if (!en->taken) {
                if (first_free == NULL)
                    first_free = en;
                n_free++;
            }
        }
        if (n_all == 0)
            continue;
        const char *what = idx->kind == HS_KIND_ITEM && k == K_TAX ? "sku" : KEY_WHAT[k];
        if (n_free == 1 && (k != K_NAME || n_all == 1)) {
            out->decision = ENG_LINK;
            out->id = first_free->id;
            snprintf(out->reason, sizeof out->reason, "same %s '%s' as '%s'", what, q.key[k],
                     first_free->label != NULL ? first_free->label : first_free->id);
        } else if (n_free == 0) {
            out->decision = ENG_REVIEW;
            out->id = first->id;
            snprintf(out->reason, sizeof out->reason,
                     "same %s '%s' as '%s', which is already linked to another record", what,
                     q.key[k], first->label != NULL ? first->label : first->id);
        } else {
            out->decision = ENG_REVIEW;
            out->id = first_free->id;
            snprintf(out->reason, sizeof out->reason, "%zu records share the %s '%s': review",
                     n_all, what, q.key[k]);
        }
        break;
    }
    if (out->decision == ENG_CREATE)
        snprintf(out->reason, sizeof out->reason,
                 "no record with the same tax id, email or name as '%s' on the other side", label);
    entry_release(&q);
    return HS_OK;
}
