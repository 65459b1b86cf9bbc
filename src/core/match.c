/*
 * core/match.c - the matching index and the link / review / create decision.
 *
 * Design:     each indexed record becomes a struct entry holding only its keys (names with
 *             their trigram sets, email, domains, tax id, city, postcode, country, phone),
 *             and its position is filed in six multimaps (open addressing, string key ->
 *             array of entry positions): by id, by back reference, by tax id body, by email,
 *             by name key (sorted words and squashed form) and by word. A query is turned into
 *             the same struct, then the rules of core/match.h run in order. For names, the
 *             candidates are every entry with an equal key plus the HS_MATCH_SCORED entries
 *             sharing the most rarity-weighted words (weight 1e6 / document frequency,
 *             accumulated in scratch arrays owned by the index, chosen by quickselect), so a
 *             query costs a few hash lookups and a few dozen trigram merges.
 *             hs_match_index_add first builds the entry, then reserves room for it in every
 *             array and map, and only then files it: nothing can fail after the first change,
 *             so a failed add leaves the index as it was (at most some empty map slots).
 *             Scores (millionths): equal name keys 0.97 with the same legal form, 0.92 when
 *             one side has none, 0.85 when they differ; otherwise 0.9 x the trigram Dice
 *             coefficient (-0.05 for different legal forms). Same city or postcode, email or
 *             web domain (not free mail), phone: +0.03 each, at most +0.06; a different city
 *             -0.08, a different country -0.10. Different countries, legal forms or numbers
 *             in the names cap the score just below the link threshold: such a pair is at
 *             best a review item. Different tax ids of one country cap it below the review
 *             threshold: two valid registrations are two legal entities, so CREATE. Candidates are
 * ranked on the unclamped score: an exact name in the same city (1.03, reported as 1.00) is clearly
 * ahead of the same name without its legal form (0.98). Invariants: entry positions are stable
 * (entries are only appended); every map value is a valid position; taken entries are never linked.
 * Threads:    see core/match.h (one thread per index).
 * Not here:   building keys (core/normalize.c), loading records and recording links (engine).
 */
#include "core/match.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/normalize.h"
#include "util/alloc.h"

#define MAX_NAMES     2
#define MAX_KEY_LIST  256 /* equal-key candidates scored per lookup */
#define NAME_SHOWN    60  /* bytes of a name quoted in a reason */
#define BONUS_EACH    30000u
#define BONUS_MAX     60000u
#define MALUS_CITY    80000u
#define MALUS_COUNTRY 100000u
#define MALUS_LEGAL   50000u

/* ---- multimap: string -> positions ------------------------------------------------------ */

struct slot {
    char *key; /* NULL: empty slot */
    uint64_t hash;
    uint32_t *v;
    uint32_t n;
    uint32_t cap;
};

struct mmap {
    struct slot *slots;
    size_t cap; /* power of two or 0 */
    size_t used;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

static struct slot *mm_find(const struct mmap *m, const char *key, size_t n)
{
    if (m->cap == 0 || key == NULL)
        return NULL;
    uint64_t h = hash_bytes(key, n);
    for (size_t i = (size_t)h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct slot *s = &m->slots[i];
        if (s->key == NULL)
            return NULL;
        if (s->hash == h && strncmp(s->key, key, n) == 0 && s->key[n] == '\0')
            return s;
    }
}

static void mm_release(struct mmap *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        hs_free(m->slots[i].key);
        hs_free(m->slots[i].v);
    }
    hs_free(m->slots);
    memset(m, 0, sizeof *m);
}

static int mm_grow(struct mmap *m)
{
    size_t cap = m->cap == 0 ? 64 : m->cap * 2;
    struct slot *s = hs_calloc(cap, sizeof *s);
    if (s == NULL)
        return HS_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        const struct slot *o = &m->slots[i];
        if (o->key == NULL)
            continue;
        size_t j = (size_t)o->hash & (cap - 1);
        while (s[j].key != NULL)
            j = (j + 1) & (cap - 1);
        s[j] = *o;
    }
    hs_free(m->slots);
    m->slots = s;
    m->cap = cap;
    return HS_OK;
}

/* Makes sure key has a slot with room for one more value. The map stays valid on failure. */
static int mm_reserve(struct mmap *m, const char *key, size_t n)
{
    struct slot *s = mm_find(m, key, n);
    if (s == NULL) {
        if ((m->used + 1) * 10 > m->cap * 7 && mm_grow(m) != HS_OK)
            return HS_ENOMEM;
        char *k = hs_strndup(key, n);
        if (k == NULL)
            return HS_ENOMEM;
        uint64_t h = hash_bytes(key, n);
        size_t i = (size_t)h & (m->cap - 1);
        while (m->slots[i].key != NULL)
            i = (i + 1) & (m->cap - 1);
        s = &m->slots[i];
        memset(s, 0, sizeof *s);
        s->key = k;
        s->hash = h;
        m->used++;
    }
    if (s->n == s->cap) {
        uint32_t cap = s->cap == 0 ? 1 : s->cap * 2;
        uint32_t *v = hs_reallocarray(s->v, cap, sizeof *v);
        if (v == NULL)
            return HS_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    return HS_OK;
}

/* Files pos under key; mm_reserve must have succeeded for it. */
static void mm_push(struct mmap *m, const char *key, size_t n, uint32_t pos)
{
    struct slot *s = mm_find(m, key, n);
    HS_ASSERT(s != NULL && s->n < s->cap);
    if (s != NULL && s->n < s->cap)
        s->v[s->n++] = pos;
}

/* ---- entries ---------------------------------------------------------------------------- */

struct ename {
    struct hs_name_key k;
    uint32_t *grams; /* sorted trigram hashes of k.key */
    size_t n_grams;
    char *digits; /* the words made of digits, in key order, or NULL */
};

struct entry {
    char *id;
    char *display; /* the name as written, for reasons */
    struct ename names[MAX_NAMES];
    size_t n_names;
    char *email;
    char *email_domain;
    char *web_domain;
    char *tax_key;  /* normalized tax id as written ("DE123456789") */
    char *tax_body; /* without country prefix ("123456789") */
    char tax_country[3];
    char *city;
    char *postcode;
    char country[3];
    char *phone;
    char *ref; /* query: external_refs[ref_key]; index: external_refs[back_ref_key] */
    bool taken;
};

struct hs_match_index {
    char *ref_key;
    char *back_ref_key;
    struct entry *e;
    size_t n;
    size_t cap;
    uint32_t *acc;     /* per entry: accumulated word weight of the current query */
    uint32_t *touched; /* entries with acc != 0 */
    struct mmap by_id, by_ref, by_tax, by_email, by_name, by_word;
};

static void entry_release(struct entry *e)
{
    hs_free(e->id);
    hs_free(e->display);
    for (size_t i = 0; i < e->n_names; i++) {
        hs_normalize_name_release(&e->names[i].k);
        hs_free(e->names[i].grams);
        hs_free(e->names[i].digits);
    }
    hs_free(e->email);
    hs_free(e->email_domain);
    hs_free(e->web_domain);
    hs_free(e->tax_key);
    hs_free(e->tax_body);
    hs_free(e->city);
    hs_free(e->postcode);
    hs_free(e->phone);
    hs_free(e->ref);
    memset(e, 0, sizeof *e);
}

static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    /* input is folded text: valid UTF-8 by construction */
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
    uint32_t v = s[0] & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if (s[i] == '\0') {
            *cp = v;
            return i;
        }
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    *cp = v;
    return n;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Trigram hashes of " <key> " over code points, sorted. */
static int make_grams(struct ename *n)
{
    const char *key = n->k.key;
    size_t ncp = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++)
        ncp += (*p & 0xC0u) != 0x80u;
    n->n_grams = 0;
    if (ncp == 0)
        return HS_OK;
    uint32_t *cps = hs_malloc((ncp + 2) * sizeof *cps);
    n->grams = hs_malloc(ncp * sizeof *n->grams);
    if (cps == NULL || n->grams == NULL) {
        hs_free(cps);
        HS_FREE(n->grams);
        return HS_ENOMEM;
    }
    size_t k = 0;
    cps[k++] = ' ';
    for (const unsigned char *p = (const unsigned char *)key; *p != '\0' && k <= ncp;) {
        uint32_t cp;
        p += utf8_decode(p, &cp);
        cps[k++] = cp;
    }
    cps[k++] = ' ';
    for (size_t i = 0; i + 2 < k; i++) {
        uint64_t h = ((uint64_t)cps[i] * 0x9E3779B97F4A7C15ull) ^
                     ((uint64_t)cps[i + 1] * 0xC2B2AE3D27D4EB4Full) ^
                     ((uint64_t)cps[i + 2] * 0x165667B19E3779F9ull);
        n->grams[n->n_grams++] = (uint32_t)(h >> 32);
    }
    hs_free(cps);
    if (n->n_grams > 1)
        qsort(n->grams, n->n_grams, sizeof *n->grams, u32_cmp);
    return HS_OK;
}

/* Digit-only words of the key, space separated, or NULL. */
static int make_digits(struct ename *n)
{
    const char *key = n->k.key;
    size_t len = strlen(key);
    char *d = hs_malloc(len + 1);
    if (d == NULL)
        return HS_ENOMEM;
    size_t o = 0;
    for (const char *p = key; *p != '\0';) {
        size_t wl = strcspn(p, " ");
        bool digits = wl > 0;
        for (size_t i = 0; i < wl; i++)
            digits = digits && p[i] >= '0' && p[i] <= '9';
        if (digits) {
            if (o > 0)
                d[o++] = ' ';
            memcpy(d + o, p, wl);
            o += wl;
        }
        p += wl;
        if (*p == ' ')
            p++;
    }
    d[o] = '\0';
    if (o == 0)
        HS_FREE(d);
    n->digits = d;
    return HS_OK;
}

static int add_name(struct entry *e, const char *s)
{
    if (s == NULL || e->n_names >= MAX_NAMES)
        return HS_OK;
    struct ename *n = &e->names[e->n_names];
    memset(n, 0, sizeof *n);
    if (hs_normalize_name(s, strlen(s), &n->k) != HS_OK)
        return HS_ENOMEM;
    if (n->k.key[0] == '\0' || (e->n_names > 0 && strcmp(e->names[0].k.key, n->k.key) == 0 &&
                                e->names[0].k.legal_form == n->k.legal_form)) {
        hs_normalize_name_release(&n->k); /* empty or the same as the first */
        return HS_OK;
    }
    e->n_names++;
    if (make_grams(n) != HS_OK || make_digits(n) != HS_OK)
        return HS_ENOMEM;
    return HS_OK;
}

static int dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL)
        return HS_OK;
    *out = hs_strdup(s);
    return *out == NULL ? HS_ENOMEM : HS_OK;
}

static int build_entry(const struct hs_record *rec, const char *ref_key, struct entry *e)
{
    const struct hs_customer *c = &rec->customer;
    memset(e, 0, sizeof *e);
    char *person = NULL;
    int rc = dup_opt(rec->id, &e->id);
    if (rc != HS_OK)
        goto fail;
    const char *display = c->display_name != NULL ? c->display_name : c->company_name;
    if (display == NULL && (c->given_name != NULL || c->family_name != NULL)) {
        person = hs_asprintf("%s%s%s", c->given_name != NULL ? c->given_name : "",
                             c->given_name != NULL && c->family_name != NULL ? " " : "",
                             c->family_name != NULL ? c->family_name : "");
        if (person == NULL)
            goto fail;
        display = person;
    }
    rc = dup_opt(display != NULL ? display : "", &e->display);
    if (rc == HS_OK)
        rc = add_name(e, display);
    if (rc == HS_OK && c->company_name != NULL && display != c->company_name)
        rc = add_name(e, c->company_name);
    if (rc != HS_OK)
        goto fail;
    if (c->email != NULL) {
        rc = hs_normalize_email(c->email, strlen(c->email), &e->email);
        if (rc == HS_OK && e->email != NULL)
            rc = hs_normalize_domain(e->email, strlen(e->email), &e->email_domain);
        if (rc != HS_OK)
            goto fail;
    }
    if (c->website != NULL) {
        rc = hs_normalize_domain(c->website, strlen(c->website), &e->web_domain);
        if (rc != HS_OK)
            goto fail;
    }
    const struct hs_address *a = &c->billing_address;
    if (a->city == NULL && a->postcode == NULL && a->country[0] == '\0')
        a = &c->shipping_address;
    memcpy(e->country, a->country, sizeof e->country);
    if (a->city != NULL) {
        rc = hs_normalize_fold(a->city, strlen(a->city), &e->city);
        if (rc != HS_OK)
            goto fail;
        if (e->city[0] == '\0')
            HS_FREE(e->city);
    }
    if (a->postcode != NULL) {
        rc = hs_normalize_postcode(a->postcode, strlen(a->postcode), &e->postcode);
        if (rc != HS_OK)
            goto fail;
    }
    if (c->tax_id != NULL) {
        rc = hs_normalize_tax_id(c->tax_id, strlen(c->tax_id), &e->tax_key);
        if (rc != HS_OK)
            goto fail;
        if (e->tax_key != NULL) {
            const char *body = NULL;
            size_t n = hs_normalize_tax_id_split(e->tax_key, e->country, e->tax_country, &body);
            e->tax_body = n > 0 ? hs_strndup(body, n) : NULL;
            if (n > 0 && e->tax_body == NULL)
                goto fail;
        }
    }
    if (c->phone != NULL) {
        rc = hs_normalize_phone(c->phone, strlen(c->phone), &e->phone);
        if (rc != HS_OK)
            goto fail;
    }
    if (ref_key != NULL) {
        rc = dup_opt(hs_fields_get(&rec->external_refs, ref_key), &e->ref);
        if (rc != HS_OK)
            goto fail;
    }
    hs_free(person);
    return HS_OK;
fail:
    hs_free(person);
    entry_release(e);
    return HS_ENOMEM;
}

/* ---- index lifecycle -------------------------------------------------------------------- */

int hs_match_index_new(const struct hs_match_options *opts, struct hs_match_index **out,
                       struct hs_error *err)
{
    *out = NULL;
    struct hs_match_index *idx = hs_calloc(1, sizeof *idx);
    if (idx == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot create match index: out of memory");
    if (opts != NULL && (dup_opt(opts->ref_key, &idx->ref_key) != HS_OK ||
                         dup_opt(opts->back_ref_key, &idx->back_ref_key) != HS_OK)) {
        hs_match_index_free(idx);
        return hs_error_set(err, HS_ENOMEM, "cannot create match index: out of memory");
    }
    *out = idx;
    return HS_OK;
}

void hs_match_index_free(struct hs_match_index *idx)
{
    if (idx == NULL)
        return;
    for (size_t i = 0; i < idx->n; i++)
        entry_release(&idx->e[i]);
    hs_free(idx->e);
    hs_free(idx->acc);
    hs_free(idx->touched);
    mm_release(&idx->by_id);
    mm_release(&idx->by_ref);
    mm_release(&idx->by_tax);
    mm_release(&idx->by_email);
    mm_release(&idx->by_name);
    mm_release(&idx->by_word);
    hs_free(idx->ref_key);
    hs_free(idx->back_ref_key);
    hs_free(idx);
}

size_t hs_match_index_count(const struct hs_match_index *idx)
{
    return idx != NULL ? idx->n : 0;
}

/* Calls fn(m, key, len) for every word of the entry's name keys, each distinct word once. */
typedef int (*word_fn)(struct mmap *m, const char *w, size_t n, uint32_t pos);

static bool word_seen_before(const struct entry *e, size_t name, const char *w, size_t n)
{
    for (size_t i = 0; i <= name; i++) {
        const char *p = e->names[i].k.key;
        while (*p != '\0') {
            size_t wl = strcspn(p, " ");
            if (p == w)
                return false; /* reached the word itself: first occurrence */
            if (wl == n && memcmp(p, w, n) == 0)
                return true;
            p += wl;
            if (*p == ' ')
                p++;
        }
    }
    return false;
}

static int each_word(const struct entry *e, struct mmap *m, word_fn fn, uint32_t pos)
{
    for (size_t i = 0; i < e->n_names; i++) {
        const char *p = e->names[i].k.key;
        while (*p != '\0') {
            size_t wl = strcspn(p, " ");
            if (!word_seen_before(e, i, p, wl)) {
                int rc = fn(m, p, wl, pos);
                if (rc != HS_OK)
                    return rc;
            }
            p += wl;
            if (*p == ' ')
                p++;
        }
    }
    return HS_OK;
}

static int reserve_fn(struct mmap *m, const char *w, size_t n, uint32_t pos)
{
    (void)pos;
    return mm_reserve(m, w, n);
}

static int push_fn(struct mmap *m, const char *w, size_t n, uint32_t pos)
{
    mm_push(m, w, n, pos);
    return HS_OK;
}

/* The distinct name keys of e (key and squashed of each name): up to 4. */
static size_t name_keys(const struct entry *e, const char *out[2 * MAX_NAMES])
{
    size_t n = 0;
    for (size_t i = 0; i < e->n_names; i++) {
        const char *cand[2] = {e->names[i].k.key, e->names[i].k.squashed};
        for (size_t c = 0; c < 2; c++) {
            bool dup = false;
            for (size_t j = 0; j < n; j++)
                dup = dup || strcmp(out[j], cand[c]) == 0;
            if (!dup && cand[c][0] != '\0')
                out[n++] = cand[c];
        }
    }
    return n;
}

static int reserve_entry(struct hs_match_index *idx, const struct entry *e)
{
    if (idx->n == idx->cap) {
        size_t cap = idx->cap == 0 ? 64 : idx->cap * 2;
        if (cap > UINT32_MAX)
            return HS_ENOMEM;
        struct entry *ne = hs_reallocarray(idx->e, cap, sizeof *ne);
        if (ne == NULL)
            return HS_ENOMEM;
        idx->e = ne;
        uint32_t *acc = hs_reallocarray(idx->acc, cap, sizeof *acc);
        if (acc == NULL)
            return HS_ENOMEM;
        idx->acc = acc;
        uint32_t *touched = hs_reallocarray(idx->touched, cap, sizeof *touched);
        if (touched == NULL)
            return HS_ENOMEM;
        idx->touched = touched;
        memset(idx->acc + idx->cap, 0, (cap - idx->cap) * sizeof *acc);
        idx->cap = cap;
    }
    int rc = mm_reserve(&idx->by_id, e->id, strlen(e->id));
    if (rc == HS_OK && e->ref != NULL)
        rc = mm_reserve(&idx->by_ref, e->ref, strlen(e->ref));
    if (rc == HS_OK && e->tax_body != NULL)
        rc = mm_reserve(&idx->by_tax, e->tax_body, strlen(e->tax_body));
    if (rc == HS_OK && e->email != NULL)
        rc = mm_reserve(&idx->by_email, e->email, strlen(e->email));
    const char *keys[2 * MAX_NAMES];
    size_t nk = name_keys(e, keys);
    for (size_t i = 0; i < nk && rc == HS_OK; i++)
        rc = mm_reserve(&idx->by_name, keys[i], strlen(keys[i]));
    if (rc == HS_OK)
        rc = each_word(e, &idx->by_word, reserve_fn, 0);
    return rc;
}

static void file_entry(struct hs_match_index *idx, uint32_t pos)
{
    const struct entry *e = &idx->e[pos];
    mm_push(&idx->by_id, e->id, strlen(e->id), pos);
    if (e->ref != NULL)
        mm_push(&idx->by_ref, e->ref, strlen(e->ref), pos);
    if (e->tax_body != NULL)
        mm_push(&idx->by_tax, e->tax_body, strlen(e->tax_body), pos);
    if (e->email != NULL)
        mm_push(&idx->by_email, e->email, strlen(e->email), pos);
    const char *keys[2 * MAX_NAMES];
    size_t nk = name_keys(e, keys);
    for (size_t i = 0; i < nk; i++)
        mm_push(&idx->by_name, keys[i], strlen(keys[i]), pos);
    (void)each_word(e, &idx->by_word, push_fn, pos);
}

int hs_match_index_add(struct hs_match_index *idx, const struct hs_record *rec,
                       struct hs_error *err)
{
    if (idx == NULL || rec == NULL || rec->kind != HS_KIND_CUSTOMER)
        return hs_error_set(err, HS_EINVAL, "cannot index record: not a customer");
    if (rec->id == NULL || rec->id[0] == '\0')
        return hs_error_set(err, HS_EINVAL, "cannot index customer: it has no id");
    const struct slot *s = mm_find(&idx->by_id, rec->id, strlen(rec->id));
    if (s != NULL && s->n > 0)
        return hs_error_set(err, HS_EEXIST, "cannot index customer '%s': id already indexed",
                            rec->id);
    struct entry e;
    if (build_entry(rec, idx->back_ref_key, &e) != HS_OK || reserve_entry(idx, &e) != HS_OK) {
        entry_release(&e);
        return hs_error_set(err, HS_ENOMEM, "cannot index customer '%s': out of memory", rec->id);
    }
    idx->e[idx->n] = e;
    file_entry(idx, (uint32_t)idx->n);
    idx->n++;
    return HS_OK;
}

static struct entry *find_id(const struct hs_match_index *idx, const char *id)
{
    if (idx == NULL || id == NULL)
        return NULL;
    const struct slot *s = mm_find(&idx->by_id, id, strlen(id));
    return s != NULL && s->n > 0 ? &idx->e[s->v[0]] : NULL;
}

int hs_match_index_take(struct hs_match_index *idx, const char *id)
{
    struct entry *e = find_id(idx, id);
    if (e == NULL)
        return HS_ENOTFOUND;
    e->taken = true;
    return HS_OK;
}

int hs_match_index_release(struct hs_match_index *idx, const char *id)
{
    struct entry *e = find_id(idx, id);
    if (e == NULL)
        return HS_ENOTFOUND;
    e->taken = false;
    return HS_OK;
}

bool hs_match_index_taken(const struct hs_match_index *idx, const char *id)
{
    const struct entry *e = find_id(idx, id);
    return e != NULL && e->taken;
}

/* ---- scoring ---------------------------------------------------------------------------- */

enum ev_flags {
    EV_KEY_EQ = 1 << 0,
    EV_LEGAL_IGNORED = 1 << 1,
    EV_LEGAL_DIFF = 1 << 2,
    EV_ORDER = 1 << 3,
    EV_SPACING = 1 << 4,
    EV_SAME_CITY = 1 << 5,
    EV_SAME_POSTCODE = 1 << 6,
    EV_DIFF_CITY = 1 << 7,
    EV_SAME_DOMAIN = 1 << 8,
    EV_SAME_PHONE = 1 << 9,
    EV_DIFF_TAX = 1 << 10,
    EV_DIFF_COUNTRY = 1 << 11,
    EV_DIFF_NUMBER = 1 << 12,
};

/* Evidence that the two are different customers: at best a review item. */
#define CONTRADICTIONS (EV_DIFF_TAX | EV_DIFF_COUNTRY | EV_DIFF_NUMBER | EV_LEGAL_DIFF)

struct eval {
    uint32_t pos;
    uint32_t score; /* clamped to 0..HS_MATCH_ONE, what thresholds compare */
    int64_t raw;    /* before clamping: ranks candidates that both reach 1.00 */
    uint32_t name_score;
    unsigned flags;
    const char *domain; /* the shared domain when EV_SAME_DOMAIN */
};

static uint32_t dice(const struct ename *a, const struct ename *b)
{
    if (a->n_grams == 0 || b->n_grams == 0)
        return 0;
    size_t i = 0;
    size_t j = 0;
    size_t common = 0;
    while (i < a->n_grams && j < b->n_grams) {
        if (a->grams[i] == b->grams[j]) {
            common++;
            i++;
            j++;
        } else if (a->grams[i] < b->grams[j]) {
            i++;
        } else {
            j++;
        }
    }
    return (uint32_t)((uint64_t)2 * common * HS_MATCH_ONE / (a->n_grams + b->n_grams));
}

static bool both_differ(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) != 0;
}

static bool both_equal(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static bool legal_equal(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Name score of one pair of names, with flags. */
static uint32_t score_names(const struct ename *q, const struct ename *c, unsigned *flags)
{
    bool key_eq = strcmp(q->k.key, c->k.key) == 0;
    bool squash_eq = strcmp(q->k.squashed, c->k.squashed) == 0;
    *flags = 0;
    if (!key_eq && !squash_eq) {
        uint32_t s = (uint32_t)((uint64_t)dice(q, c) * 9 / 10);
        if (q->k.legal_form != NULL && c->k.legal_form != NULL &&
            !legal_equal(q->k.legal_form, c->k.legal_form)) {
            *flags |= EV_LEGAL_DIFF;
            s = s > MALUS_LEGAL ? s - MALUS_LEGAL : 0;
        }
        return s;
    }
    *flags |= EV_KEY_EQ;
    if (key_eq && !squash_eq)
        *flags |= EV_ORDER;
    if (!key_eq)
        *flags |= EV_SPACING;
    if (legal_equal(q->k.legal_form, c->k.legal_form))
        return 970000;
    if (q->k.legal_form == NULL || c->k.legal_form == NULL) {
        *flags |= EV_LEGAL_IGNORED;
        return 920000;
    }
    *flags |= EV_LEGAL_DIFF;
    return 850000;
}

static bool same_phone(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return false;
    if (a[0] == '+')
        a++;
    if (b[0] == '+')
        b++;
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t n = la < lb ? la : lb;
    if (n > 9)
        n = 9;
    return n >= 7 && memcmp(a + la - n, b + lb - n, n) == 0;
}

static bool tax_conflict(const struct entry *q, const struct entry *c)
{
    if (q->tax_body == NULL || c->tax_body == NULL)
        return false;
    if (q->tax_country[0] != '\0' && c->tax_country[0] != '\0' &&
        strcmp(q->tax_country, c->tax_country) != 0)
        return false; /* registrations in two countries do not contradict */
    return strcmp(q->tax_body, c->tax_body) != 0;
}

static const char *shared_domain(const struct entry *q, const struct entry *c)
{
    const char *qd[2] = {q->email_domain, q->web_domain};
    const char *cd[2] = {c->email_domain, c->web_domain};
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 2; j++)
            if (both_equal(qd[i], cd[j]) && !hs_normalize_is_free_mail(qd[i]))
                return qd[i];
    return NULL;
}

static struct eval evaluate(const struct entry *q, const struct entry *c, uint32_t pos,
                            uint32_t link, uint32_t review)
{
    struct eval ev = {pos, 0, 0, 0, 0, NULL};
    for (size_t i = 0; i < q->n_names; i++) {
        for (size_t j = 0; j < c->n_names; j++) {
            unsigned f = 0;
            uint32_t s = score_names(&q->names[i], &c->names[j], &f);
            if (s > ev.name_score || (i == 0 && j == 0)) {
                ev.name_score = s;
                ev.flags = f;
                if (both_differ(q->names[i].digits, c->names[j].digits) ||
                    ((q->names[i].digits == NULL) != (c->names[j].digits == NULL) &&
                     (f & EV_KEY_EQ) == 0 && s > 0))
                    ev.flags |= EV_DIFF_NUMBER;
                else
                    ev.flags &= ~(unsigned)EV_DIFF_NUMBER;
            }
        }
    }
    uint32_t bonus = 0;
    uint32_t malus = 0;
    bool same_city = both_equal(q->city, c->city);
    bool same_pc = both_equal(q->postcode, c->postcode);
    if (same_city || same_pc) {
        bonus += BONUS_EACH;
        ev.flags |= same_city ? EV_SAME_CITY : EV_SAME_POSTCODE;
    } else if (both_differ(q->city, c->city) || both_differ(q->postcode, c->postcode)) {
        malus += MALUS_CITY;
        ev.flags |= EV_DIFF_CITY;
    }
    ev.domain = shared_domain(q, c);
    if (ev.domain != NULL) {
        bonus += BONUS_EACH;
        ev.flags |= EV_SAME_DOMAIN;
    }
    if (same_phone(q->phone, c->phone)) {
        bonus += BONUS_EACH;
        ev.flags |= EV_SAME_PHONE;
    }
    if (bonus > BONUS_MAX)
        bonus = BONUS_MAX;
    if (q->country[0] != '\0' && c->country[0] != '\0' && strcmp(q->country, c->country) != 0) {
        malus += MALUS_COUNTRY;
        ev.flags |= EV_DIFF_COUNTRY;
    }
    if (tax_conflict(q, c))
        ev.flags |= EV_DIFF_TAX;
    ev.raw = (int64_t)ev.name_score + bonus - malus;
    if ((ev.flags & CONTRADICTIONS) != 0 && ev.raw >= (int64_t)link)
        ev.raw = link > 0 ? (int64_t)link - 1 : 0;
    /* two valid, different registrations in one country are two legal entities */
    if ((ev.flags & EV_DIFF_TAX) != 0 && ev.raw >= (int64_t)review)
        ev.raw = review > 0 ? (int64_t)review - 1 : 0;
    int64_t s = ev.raw;
    if (s < 0)
        s = 0;
    if (s > HS_MATCH_ONE)
        s = HS_MATCH_ONE;
    ev.score = (uint32_t)s;
    return ev;
}

static int eval_cmp(const void *a, const void *b)
{
    const struct eval *x = a;
    const struct eval *y = b;
    if (x->raw != y->raw)
        return x->raw < y->raw ? 1 : -1;
    return (x->pos > y->pos) - (x->pos < y->pos); /* stable: earlier entries first */
}

/* ---- reasons ---------------------------------------------------------------------------- */

struct reason {
    char *buf;
    size_t len;
};

static void say(struct reason *r, const char *fmt, ...) HS_PRINTF(2, 3);
static void say(struct reason *r, const char *fmt, ...)
{
    if (r->len + 1 >= HS_MATCH_REASON_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->buf + r->len, HS_MATCH_REASON_MAX - r->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->len += (size_t)n;
    if (r->len >= HS_MATCH_REASON_MAX)
        r->len = HS_MATCH_REASON_MAX - 1;
}

/* Copies s into out (size NAME_SHOWN + 4), cut at a character boundary with "...". */
static const char *shown(const char *s, char out[NAME_SHOWN + 4])
{
    size_t n = strlen(s);
    if (n <= NAME_SHOWN) {
        memcpy(out, s, n + 1);
        return out;
    }
    n = NAME_SHOWN;
    while (n > 0 && ((unsigned char)s[n] & 0xC0u) == 0x80u)
        n--;
    snprintf(out, NAME_SHOWN + 4, "%.*s...", (int)n, s);
    return out;
}

static void say_score(struct reason *r, uint32_t s)
{
    say(r, "%u.%02u", s / HS_MATCH_ONE, (s % HS_MATCH_ONE) / 10000);
}

static void say_name_evidence(struct reason *r, const struct entry *q, const struct entry *c,
                              const struct eval *ev)
{
    char a[NAME_SHOWN + 4];
    char b[NAME_SHOWN + 4];
    shown(q->display, a);
    shown(c->display, b);
    if ((ev->flags & EV_KEY_EQ) != 0 && strcmp(q->display, c->display) == 0) {
        say(r, "same name '%s'", a);
    } else if ((ev->flags & EV_KEY_EQ) != 0) {
        say(r, "name '%s' ~ '%s' (", a, b);
        const char *sep = "";
        if ((ev->flags & EV_LEGAL_IGNORED) != 0) {
            say(r, "%slegal suffix ignored", sep);
            sep = ", ";
        }
        if ((ev->flags & EV_LEGAL_DIFF) != 0) {
            say(r, "%sdifferent legal suffixes", sep);
            sep = ", ";
        }
        if ((ev->flags & EV_ORDER) != 0) {
            say(r, "%sword order ignored", sep);
            sep = ", ";
        }
        if ((ev->flags & EV_SPACING) != 0) {
            say(r, "%sspacing ignored", sep);
            sep = ", ";
        }
        if (*sep == '\0')
            say(r, "case, accents and punctuation ignored");
        say(r, ")");
    } else {
        say(r, "name '%s' ~ '%s' (similarity ", a, b);
        say_score(r, ev->name_score);
        say(r, "%s)", (ev->flags & EV_LEGAL_DIFF) != 0 ? ", different legal suffixes" : "");
    }
    if ((ev->flags & EV_SAME_CITY) != 0)
        say(r, ", same city");
    if ((ev->flags & EV_SAME_POSTCODE) != 0)
        say(r, ", same postcode");
    if ((ev->flags & EV_DIFF_CITY) != 0)
        say(r, ", different city");
    if ((ev->flags & EV_SAME_DOMAIN) != 0)
        say(r, ", same domain '%s'", ev->domain);
    if ((ev->flags & EV_SAME_PHONE) != 0)
        say(r, ", same phone");
    if ((ev->flags & EV_DIFF_COUNTRY) != 0)
        say(r, ", different countries");
    if ((ev->flags & EV_DIFF_TAX) != 0)
        say(r, ", different tax ids");
    if ((ev->flags & EV_DIFF_NUMBER) != 0)
        say(r, ", different numbers in the name");
}

/* ---- the decision ----------------------------------------------------------------------- */

struct query {
    struct hs_match_index *idx;
    const struct entry *q;
    uint32_t link, review, margin;
    struct hs_match_result *out;
    struct reason r;
    struct eval *ev; /* scratch, n_ev used */
    size_t n_ev;
    size_t cap_ev;
};

static void set_candidates(struct query *x, const struct eval *ev, size_t n)
{
    x->out->n_candidates = 0;
    for (size_t i = 0; i < n && i < HS_MATCH_MAX_CANDIDATES; i++) {
        const struct entry *c = &x->idx->e[ev[i].pos];
        struct hs_match_candidate *m = &x->out->candidates[x->out->n_candidates++];
        m->id = c->id;
        m->name = c->display;
        m->score = ev[i].score;
        m->taken = c->taken;
    }
    x->out->score = n > 0 ? ev[0].score : 0;
}

static void decide(struct query *x, enum hs_match_decision d, enum hs_match_rule rule)
{
    x->out->decision = d;
    x->out->rule = rule;
}

static int push_eval(struct query *x, uint32_t pos)
{
    for (size_t i = 0; i < x->n_ev; i++)
        if (x->ev[i].pos == pos)
            return HS_OK;
    if (x->n_ev == x->cap_ev) {
        size_t cap = x->cap_ev == 0 ? 64 : x->cap_ev * 2;
        struct eval *ev = hs_reallocarray(x->ev, cap, sizeof *ev);
        if (ev == NULL)
            return HS_ENOMEM;
        x->ev = ev;
        x->cap_ev = cap;
    }
    x->ev[x->n_ev++] = evaluate(x->q, &x->idx->e[pos], pos, x->link, x->review);
    return HS_OK;
}

/*
 * Rule by exact key (reference, tax id, email): among the untaken entries of list that are not
 * contradicted, one decides; several are told apart by their score, or go to review.
 * Returns 1 when decided, 0 to go on, HS_ENOMEM.
 */
static int decide_exact(struct query *x, const struct slot *s, enum hs_match_rule rule,
                        const char *what, const char *value)
{
    if (s == NULL || s->n == 0)
        return 0;
    x->n_ev = 0;
    for (uint32_t i = 0; i < s->n && i < MAX_KEY_LIST; i++) {
        const struct entry *c = &x->idx->e[s->v[i]];
        if (c->taken)
            continue;
        if (rule == HS_MATCH_RULE_TAX_ID && c->tax_country[0] != '\0' &&
            x->q->tax_country[0] != '\0' && strcmp(c->tax_country, x->q->tax_country) != 0)
            continue;
        if (rule == HS_MATCH_RULE_EMAIL && tax_conflict(x->q, c))
            continue;
        if (push_eval(x, s->v[i]) != HS_OK)
            return HS_ENOMEM;
    }
    if (x->n_ev == 0)
        return 0;
    qsort(x->ev, x->n_ev, sizeof *x->ev, eval_cmp);
    if (x->n_ev == 1 || x->ev[0].raw >= x->ev[1].raw + x->margin) {
        const struct entry *c = &x->idx->e[x->ev[0].pos];
        char b[NAME_SHOWN + 4];
        say(&x->r, "same %s '%s'", what, value);
        if (x->n_ev > 1)
            say(&x->r, " (%zu records; '%s' has the closest name)", x->n_ev, shown(c->display, b));
        decide(x, HS_MATCH_LINK, rule);
        set_candidates(x, x->ev, x->n_ev);
        x->out->score = HS_MATCH_ONE;
        x->out->candidates[0].score = HS_MATCH_ONE;
        return 1;
    }
    say(&x->r, "%zu records share %s '%s': review", x->n_ev, what, value);
    decide(x, HS_MATCH_REVIEW, rule);
    set_candidates(x, x->ev, x->n_ev);
    return 1;
}

/* Picks the top k (by acc) of the touched entries into touched[0..k) (quickselect). */
static void select_top(uint32_t *t, size_t n, size_t k, const uint32_t *acc)
{
    size_t lo = 0;
    size_t hi = n;
    while (hi - lo > 1) {
        uint32_t pivot = acc[t[lo + (hi - lo) / 2]];
        size_t i = lo;
        size_t j = hi;
        size_t p = lo;
        /* three-way partition: > pivot | == pivot | < pivot */
        while (p < j) {
            uint32_t a = acc[t[p]];
            if (a > pivot) {
                uint32_t tmp = t[i];
                t[i++] = t[p];
                t[p++] = tmp;
            } else if (a < pivot) {
                uint32_t tmp = t[--j];
                t[j] = t[p];
                t[p] = tmp;
            } else {
                p++;
            }
        }
        if (k <= i)
            hi = i;
        else if (k <= j)
            return;
        else
            lo = j;
    }
}

static int gather_names(struct query *x)
{
    struct hs_match_index *idx = x->idx;
    const struct entry *q = x->q;
    x->n_ev = 0;
    const char *keys[2 * MAX_NAMES];
    size_t nk = name_keys(q, keys);
    for (size_t i = 0; i < nk; i++) {
        const struct slot *s = mm_find(&idx->by_name, keys[i], strlen(keys[i]));
        for (uint32_t j = 0; s != NULL && j < s->n && j < MAX_KEY_LIST; j++)
            if (push_eval(x, s->v[j]) != HS_OK)
                return HS_ENOMEM;
    }
    /* words: the rarest always counts; common ones only while they stay selective */
    size_t limit = idx->n / 8 > 256 ? idx->n / 8 : 256;
    size_t n_touched = 0;
    const struct slot *rarest = NULL;
    for (size_t i = 0; i < q->n_names; i++) {
        for (const char *p = q->names[i].k.key; *p != '\0';) {
            size_t wl = strcspn(p, " ");
            const struct slot *s = mm_find(&idx->by_word, p, wl);
            if (s != NULL && s->n > 0 && (rarest == NULL || s->n < rarest->n))
                rarest = s;
            if (s != NULL && s->n > 0 && s->n <= limit && !word_seen_before(q, i, p, wl)) {
                uint32_t w = HS_MATCH_ONE / s->n;
                for (uint32_t j = 0; j < s->n; j++) {
                    uint32_t pos = s->v[j];
                    if (idx->acc[pos] == 0)
                        idx->touched[n_touched++] = pos;
                    idx->acc[pos] += w;
                }
            }
            p += wl;
            if (*p == ' ')
                p++;
        }
    }
    if (n_touched == 0 && rarest != NULL) {
        for (uint32_t j = 0; j < rarest->n; j++) {
            idx->touched[n_touched++] = rarest->v[j];
            idx->acc[rarest->v[j]] = 1;
        }
    }
    size_t k = n_touched < HS_MATCH_SCORED ? n_touched : HS_MATCH_SCORED;
    if (n_touched > k)
        select_top(idx->touched, n_touched, k, idx->acc);
    int rc = HS_OK;
    for (size_t i = 0; i < k && rc == HS_OK; i++)
        rc = push_eval(x, idx->touched[i]);
    for (size_t i = 0; i < n_touched; i++)
        idx->acc[idx->touched[i]] = 0;
    return rc;
}

static int decide_names(struct query *x)
{
    if (x->q->n_names == 0) {
        say(&x->r, "no name, tax id or email to match on");
        decide(x, HS_MATCH_CREATE, HS_MATCH_RULE_NONE);
        return HS_OK;
    }
    if (gather_names(x) != HS_OK)
        return HS_ENOMEM;
    if (x->n_ev > 1)
        qsort(x->ev, x->n_ev, sizeof *x->ev, eval_cmp);
    /* taken entries move out of the way, but the best of them is remembered */
    bool any_taken = false;
    struct eval taken = {0, 0, 0, 0, 0, NULL};
    size_t n = 0;
    for (size_t i = 0; i < x->n_ev; i++) {
        if (x->idx->e[x->ev[i].pos].taken) {
            if (!any_taken)
                taken = x->ev[i];
            any_taken = true;
            continue;
        }
        x->ev[n++] = x->ev[i];
    }
    const struct eval *top = n > 0 ? &x->ev[0] : NULL;
    if (top != NULL && top->score >= x->link) {
        if (n > 1 && x->ev[1].score >= x->review && top->raw - x->ev[1].raw < x->margin) {
            size_t close = 1;
            while (close < n && x->ev[close].score >= x->review &&
                   top->raw - x->ev[close].raw < x->margin)
                close++;
            say(&x->r, "%zu candidates scored ", close);
            say_score(&x->r, top->score);
            say(&x->r, " and ");
            say_score(&x->r, x->ev[1].score);
            say(&x->r, ": review");
            decide(x, HS_MATCH_REVIEW, HS_MATCH_RULE_NAME);
        } else {
            say_name_evidence(&x->r, x->q, &x->idx->e[top->pos], top);
            decide(x, HS_MATCH_LINK, HS_MATCH_RULE_NAME);
        }
        set_candidates(x, x->ev, n);
        return HS_OK;
    }
    if (any_taken && taken.score >= x->link) {
        char b[NAME_SHOWN + 4];
        say(&x->r, "best match '%s' (", shown(x->idx->e[taken.pos].display, b));
        say_score(&x->r, taken.score);
        say(&x->r, ") is already linked to another record: review");
        decide(x, HS_MATCH_REVIEW, HS_MATCH_RULE_NAME);
        set_candidates(x, &taken, 1);
        return HS_OK;
    }
    if (top != NULL && top->score >= x->review) {
        say_name_evidence(&x->r, x->q, &x->idx->e[top->pos], top);
        say(&x->r, ": score ");
        say_score(&x->r, top->score);
        say(&x->r, ", review");
        decide(x, HS_MATCH_REVIEW, HS_MATCH_RULE_NAME);
        set_candidates(x, x->ev, n);
        return HS_OK;
    }
    decide(x, HS_MATCH_CREATE, HS_MATCH_RULE_NONE);
    if (top != NULL) {
        say(&x->r, "no close match (best: ");
        say_name_evidence(&x->r, x->q, &x->idx->e[top->pos], top);
        say(&x->r, ", score ");
        say_score(&x->r, top->score);
        say(&x->r, ")");
        set_candidates(x, x->ev, n);
    } else {
        say(&x->r, "no similar name among %zu records", x->idx->n);
    }
    return HS_OK;
}

static int decide_refs(struct query *x, const struct hs_record *rec)
{
    struct hs_match_index *idx = x->idx;
    if (idx->ref_key != NULL && x->q->ref != NULL) {
        const struct slot *s = mm_find(&idx->by_id, x->q->ref, strlen(x->q->ref));
        char what[80];
        snprintf(what, sizeof what, "stored reference %s", idx->ref_key);
        int rc = decide_exact(x, s, HS_MATCH_RULE_REF, what, x->q->ref);
        if (rc != 0)
            return rc;
    }
    if (idx->back_ref_key != NULL && rec->id != NULL) {
        const struct slot *s = mm_find(&idx->by_ref, rec->id, strlen(rec->id));
        char what[80];
        snprintf(what, sizeof what, "stored reference %s", idx->back_ref_key);
        return decide_exact(x, s, HS_MATCH_RULE_REF, what, rec->id);
    }
    return 0;
}

int hs_match_find(struct hs_match_index *idx, const struct hs_record *rec,
                  const struct hs_match_thresholds *th, struct hs_match_result *out,
                  struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    out->decision = HS_MATCH_CREATE;
    if (idx == NULL || rec == NULL || rec->kind != HS_KIND_CUSTOMER)
        return hs_error_set(err, HS_EINVAL, "cannot match record: not a customer");
    struct query x;
    memset(&x, 0, sizeof x);
    x.idx = idx;
    x.out = out;
    x.r.buf = out->reason;
    x.link = th != NULL && th->link != 0 ? th->link : HS_MATCH_DEFAULT_LINK;
    x.review = th != NULL && th->review != 0 ? th->review : HS_MATCH_DEFAULT_REVIEW;
    x.margin = th != NULL && th->margin != 0 ? th->margin : HS_MATCH_DEFAULT_MARGIN;
    if (x.link > HS_MATCH_ONE || x.review > x.link)
        return hs_error_set(err, HS_EINVAL,
                            "cannot match: thresholds link %u and review %u (millionths) must "
                            "satisfy review <= link <= 1000000",
                            x.link, x.review);
    struct entry q;
    if (build_entry(rec, idx->ref_key, &q) != HS_OK) {
        snprintf(out->reason, sizeof out->reason, "out of memory");
        return hs_error_set(err, HS_ENOMEM, "cannot match customer: out of memory");
    }
    x.q = &q;
    int rc = decide_refs(&x, rec);
    if (rc == 0 && q.tax_body != NULL) {
        const struct slot *s = mm_find(&idx->by_tax, q.tax_body, strlen(q.tax_body));
        rc = decide_exact(&x, s, HS_MATCH_RULE_TAX_ID, "tax id", q.tax_key);
    }
    if (rc == 0 && q.email != NULL) {
        const struct slot *s = mm_find(&idx->by_email, q.email, strlen(q.email));
        rc = decide_exact(&x, s, HS_MATCH_RULE_EMAIL, "email", q.email);
    }
    if (rc == 0)
        rc = decide_names(&x);
    hs_free(x.ev);
    entry_release(&q);
    if (rc < 0) {
        memset(out, 0, sizeof *out);
        out->decision = HS_MATCH_CREATE;
        snprintf(out->reason, sizeof out->reason, "out of memory");
        return hs_error_set(err, HS_ENOMEM, "cannot match customer: out of memory");
    }
    return HS_OK;
}

const char *hs_match_decision_name(enum hs_match_decision d)
{
    switch (d) {
    case HS_MATCH_CREATE:
        return "create";
    case HS_MATCH_LINK:
        return "link";
    case HS_MATCH_REVIEW:
        return "review";
    }
    return "?";
}

const char *hs_match_rule_name(enum hs_match_rule r)
{
    switch (r) {
    case HS_MATCH_RULE_NONE:
        return "none";
    case HS_MATCH_RULE_REF:
        return "reference";
    case HS_MATCH_RULE_TAX_ID:
        return "tax_id";
    case HS_MATCH_RULE_EMAIL:
        return "email";
    case HS_MATCH_RULE_NAME:
        return "name";
    }
    return "none";
}
