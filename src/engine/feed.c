/*
 * engine/feed.c - a CRM change feed paged while the pass runs (engine_int.h, eng_feed_*).
 *
 * Design:     a first backfill's CRM feed is many pages (HubSpot: 200 ids a search, 5
 *             searches a second). Paging it whole before the first write left the accounting
 *             side's limiter idle for as long; its window then started late and the run ended
 *             as much later. A pass therefore reads, up front, only the pages of one slice
 *             (detect) and pages the rest as it goes: at a slice's turn when the group has
 *             fewer ids than the slice needs (eng_feed_fill), and ahead, while the accounting
 *             limiter waits (eng_feed_fetch, eng_feed_read_ahead, from the engine's idle
 *             function). A page read ahead is held in memory, not stored (the accounting
 *             connector is inside its call then); it is stored at the next fill, as detect
 *             stores one: its ids marked dirty and the cursor moved in one transaction. The
 *             marked ids are then claimed like the pass's own, and only those the claim
 *             returns join the group (an id another worker holds is left to it; an entry of
 *             anything else claimed meanwhile is given back for the next pass). So a crash
 *             or a failed pass loses nothing: what was stored is in the dirty set, what was
 *             not is read again from the stored cursor.
 * Invariants: ids join the group once (seen); fetched ids not stored yet are pending, and
 *             their records are read (ahead) only once every id of the group is read, so the
 *             group's read records stay a prefix (eng_group.n_read) when they join it.
 * Threads:    the pass's thread only.
 * Ownership:  the feed owns its pending ids and records and its claims; ids and records that
 *             join the group move to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/alloc.h"

#define MAX_PAGES 1000000 /* pages per pass, against a broken feed (as detect) */

struct eng_feed {
    struct hs_engine *e;
    struct eng_group *g;
    char *cursor; /* after the last page fetched (stored at the next fill) */
    bool more;    /* the provider may have more pages */
    bool stored;  /* every page fetched is stored */
    size_t pages; /* fetched by this feed */
    /* every id of the pages fetched and not stored (marked dirty at the fill) */
    char **marks;
    size_t n_marks, cap_marks;
    /* the new ones among them, in page order, and their records read ahead */
    char **ids;
    struct hs_record **recs;
    size_t n, cap, cap_recs, n_read;
    struct hs_fields seen; /* ids in the group or pending */
    struct hs_store_dirty *claimed;
    size_t n_claimed;
};

static int oom(struct hs_error *err)
{
    return hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
}

static const struct hs_engine_side *crm(const struct eng_feed *f)
{
    return &eng_config(f->e)->crm;
}

/* Records that id is the group's i-th (seen: where each id of the group is, "" when pending). */
static int seen_at(struct eng_feed *f, const char *id, size_t i)
{
    char at[24];
    snprintf(at, sizeof at, "%zu", i);
    return hs_fields_set(&f->seen, id, at);
}

/* True when id is in the group and its record still to be read: a read then sees the change
 * a page announces again, so no new mark is needed (one already read gets one: the change
 * may be newer than what was read, and the next pass takes it). */
static bool unread_member(const struct eng_feed *f, const char *id)
{
    const char *at = hs_fields_get(&f->seen, id);
    return at != NULL && at[0] != '\0' && strtoull(at, NULL, 10) >= f->g->n_read;
}

int eng_feed_new(struct hs_engine *e, struct eng_group *g, const char *cursor, bool more,
                 struct eng_feed **out, struct hs_error *err)
{
    *out = NULL;
    struct eng_feed *f = hs_calloc(1, sizeof *f);
    if (f == NULL)
        return oom(err);
    f->e = e;
    f->g = g;
    f->more = more;
    f->stored = true;
    hs_fields_init(&f->seen);
    if (cursor != NULL && (f->cursor = hs_strdup(cursor)) == NULL) {
        eng_feed_free(f);
        return oom(err);
    }
    for (size_t i = 0; i < g->n; i++) {
        if (seen_at(f, g->ids[i], i) != HS_OK) {
            eng_feed_free(f);
            return oom(err);
        }
    }
    *out = f;
    return HS_OK;
}

static void pending_clear(struct eng_feed *f)
{
    for (size_t i = 0; i < f->n_marks; i++)
        hs_free(f->marks[i]);
    f->n_marks = 0;
    for (size_t i = 0; i < f->n; i++) {
        hs_free(f->ids[i]);
        if (f->recs != NULL)
            hs_record_free(f->recs[i]);
    }
    f->n = 0;
    f->n_read = 0;
}

void eng_feed_free(struct eng_feed *f)
{
    if (f == NULL)
        return;
    pending_clear(f);
    hs_free(f->marks);
    hs_free(f->ids);
    hs_free(f->recs);
    hs_free(f->cursor);
    hs_fields_release(&f->seen);
    hs_store_dirty_free(f->claimed, f->n_claimed);
    hs_free(f);
}

bool eng_feed_pages_left(const struct eng_feed *f)
{
    return f != NULL && f->more;
}

bool eng_feed_unread(const struct eng_feed *f)
{
    return f != NULL && f->n_read < f->n;
}

/* Appends a copy of s to (*arr)[*n], growing it. */
static int push(char ***arr, size_t *n, size_t *cap, const char *s)
{
    if (*n == *cap) {
        size_t c = *cap == 0 ? 256 : *cap * 2;
        char **a = hs_reallocarray(*arr, c, sizeof *a);
        if (a == NULL)
            return HS_ENOMEM;
        *arr = a;
        *cap = c;
    }
    if (((*arr)[*n] = hs_strdup(s)) == NULL)
        return HS_ENOMEM;
    (*n)++;
    return HS_OK;
}

int eng_feed_fetch(struct eng_feed *f, struct hs_error *err)
{
    if (!f->more)
        return HS_OK;
    f->pages++;
    const struct hs_engine_side *sd = crm(f);
    struct hs_changes ch;
    memset(&ch, 0, sizeof ch);
    int rc = sd->ops->changes(sd->conn, f->g->kind, f->cursor, &ch, err);
    if (rc != HS_OK) {
        hs_changes_release(&ch);
        hs_error_prefix(err, "cannot read the %s changes of crm", hs_kind_name(f->g->kind));
        return rc;
    }
    eng_changes_seen(f->e, ch.n_items);
    for (size_t i = 0; i < ch.n_items && rc == HS_OK; i++) {
        const char *id = ch.items[i].id;
        if (!unread_member(f, id))
            rc = push(&f->marks, &f->n_marks, &f->cap_marks, id);
        if (rc == HS_OK && hs_fields_get(&f->seen, id) == NULL) {
            rc = push(&f->ids, &f->n, &f->cap, id);
            if (rc == HS_OK && f->cap_recs < f->cap) {
                struct hs_record **r = hs_reallocarray(f->recs, f->cap, sizeof(struct hs_record *));
                if (r == NULL) {
                    hs_free(f->ids[--f->n]);
                    rc = HS_ENOMEM;
                } else {
                    memset(r + f->cap_recs, 0, (f->cap - f->cap_recs) * sizeof(struct hs_record *));
                    f->recs = r;
                    f->cap_recs = f->cap;
                }
            }
            if (rc == HS_OK)
                rc = hs_fields_set(&f->seen, id, "");
        }
    }
    /* the same stop rule as detect: no cursor, or one that did not move over an empty page */
    f->more = ch.more && ch.cursor != NULL && f->pages < MAX_PAGES &&
              (f->cursor == NULL || strcmp(f->cursor, ch.cursor) != 0 || ch.n_items > 0);
    if (ch.cursor != NULL) {
        hs_free(f->cursor);
        f->cursor = ch.cursor;
        ch.cursor = NULL;
    }
    f->stored = false;
    hs_changes_release(&ch);
    return rc != HS_OK ? oom(err) : HS_OK;
}

int eng_feed_read_ahead(struct eng_feed *f, struct hs_error *err)
{
    if (f->n_read >= f->n || f->g->n_read < f->g->n)
        return HS_OK; /* the group's own records first: they stay a prefix */
    return eng_read_next(f->e, HS_SIDE_CRM, f->g->kind, f->ids, f->recs, f->n, &f->n_read, err);
}

/* Marks the pending pages' ids dirty and stores the cursor, one transaction. */
static int store_marks(struct eng_feed *f, struct hs_error *err)
{
    return eng_store_marks(f->e, HS_SIDE_CRM, f->g->kind, (const char *const *)f->marks, f->n_marks,
                           f->cursor, err);
}

/* Grows the group's arrays (ids and records, both of g->cap) to hold `more` more. */
static int group_reserve(struct eng_group *g, size_t more)
{
    if (g->n + more <= g->cap && g->recs != NULL)
        return HS_OK;
    size_t cap = g->cap == 0 ? 64 : g->cap;
    while (cap < g->n + more)
        cap *= 2;
    char **ids = hs_reallocarray(g->ids, cap, sizeof *ids);
    if (ids == NULL)
        return HS_ENOMEM;
    g->ids = ids;
    struct hs_record **r = hs_reallocarray(g->recs, cap, sizeof(struct hs_record *));
    if (r == NULL)
        return HS_ENOMEM;
    size_t had = g->recs != NULL ? g->cap : 0;
    memset(r + had, 0, (cap - had) * sizeof(struct hs_record *));
    g->recs = r;
    g->cap = cap;
    return HS_OK;
}

/* Claims what store_marks marked: the pending ids the claim returns join the group, in page
 * order; any other entry claimed is given back once the claiming is done (given back at
 * once, the next claim would return it again). */
static int claim_pending(struct eng_feed *f, struct hs_error *err)
{
    const struct hs_engine_config *cfg = eng_config(f->e);
    const struct hs_engine_side *sd = crm(f);
    const char *object = hs_kind_name(f->g->kind);
    const char *owner = eng_owner(f->e);
    struct hs_fields pend, mine; /* pending ids; those claimed now */
    hs_fields_init(&pend);
    hs_fields_init(&mine);
    struct hs_store_dirty *others = NULL; /* claimed, not ours */
    size_t n_others = 0;
    int rc = HS_OK;
    for (size_t i = 0; i < f->n && rc == HS_OK; i++)
        rc = hs_fields_set(&pend, f->ids[i], "") != HS_OK ? oom(err) : HS_OK;
    while (rc == HS_OK) {
        struct hs_store_dirty *items = NULL;
        size_t n = 0;
        rc = hs_store_dirty_claim(cfg->store, owner, sd->conn_id, cfg->lease_ms, cfg->claim_batch,
                                  &items, &n, err);
        if (rc != HS_OK || n == 0)
            break;
        struct hs_store_dirty *all =
            hs_reallocarray(f->claimed, f->n_claimed + n, sizeof *f->claimed);
        if (all != NULL)
            f->claimed = all;
        struct hs_store_dirty *oth = hs_reallocarray(others, n_others + n, sizeof *others);
        if (oth != NULL)
            others = oth;
        if (all == NULL || oth == NULL) {
            int r = hs_store_dirty_release(cfg->store, owner, items, n, NULL);
            (void)r;
            hs_store_dirty_free(items, n);
            rc = oom(err);
            break;
        }
        /* ours stay claimed (completed or given back with the pass); every entry moves */
        for (size_t i = 0; i < n; i++) {
            struct hs_store_dirty *d = &items[i];
            bool ours = rc == HS_OK && d->side == HS_STORE_CRM && strcmp(d->object, object) == 0 &&
                        hs_fields_get(&pend, d->remote_id) != NULL;
            if (ours && hs_fields_set(&mine, d->remote_id, "") != HS_OK) {
                rc = oom(err);
                ours = false;
            }
            if (ours)
                f->claimed[f->n_claimed++] = *d;
            else
                others[n_others++] = *d;
        }
        hs_free(items); /* the strings moved */
        if (n < cfg->claim_batch)
            break;
    }
    if (n_others > 0) {
        int r = hs_store_dirty_release(cfg->store, owner, others, n_others, NULL);
        (void)r;
    }
    hs_store_dirty_free(others, n_others);
    if (rc == HS_OK && group_reserve(f->g, f->n) != HS_OK)
        rc = oom(err);
    if (rc == HS_OK) {
        /* read records join only right after the group's own read ones (the invariant) */
        bool prefix = f->g->n_read == f->g->n;
        size_t read = 0;
        for (size_t i = 0; i < f->n; i++) {
            if (hs_fields_get(&mine, f->ids[i]) == NULL)
                continue; /* another worker holds it */
            bool was_read = i < f->n_read && prefix;
            if (seen_at(f, f->ids[i], f->g->n) != HS_OK) {
                rc = oom(err);
                break;
            }
            f->g->ids[f->g->n] = f->ids[i];
            f->ids[i] = NULL;
            f->g->recs[f->g->n] = was_read ? f->recs[i] : NULL;
            if (was_read)
                f->recs[i] = NULL;
            f->g->n++;
            read += was_read;
        }
        if (prefix)
            f->g->n_read += read;
    }
    hs_fields_release(&pend);
    hs_fields_release(&mine);
    return rc;
}

int eng_feed_fill(struct eng_feed *f, size_t want, struct hs_error *err)
{
    if (f == NULL)
        return HS_OK;
    for (;;) {
        if (!f->stored) {
            int rc = store_marks(f, err);
            if (rc == HS_OK && f->n > 0)
                rc = claim_pending(f, err);
            pending_clear(f);
            if (rc != HS_OK)
                return rc;
            f->stored = true;
        }
        if (f->g->n >= want || !f->more)
            return HS_OK;
        eng_progress(f->e, "detect", 0, 0);
        /* a slice's worth of pages, then one transaction and one claim for them all */
        while (f->more && f->g->n + f->n < want) {
            int rc = eng_feed_fetch(f, err);
            if (rc != HS_OK)
                return rc;
        }
    }
}

int eng_feed_finish(struct eng_feed *f, bool ok, struct hs_error *err)
{
    if (f == NULL || f->n_claimed == 0)
        return HS_OK;
    struct hs_store *st = eng_config(f->e)->store;
    int r;
    if (ok) {
        r = hs_store_dirty_complete(st, eng_owner(f->e), f->claimed, f->n_claimed, err);
    } else {
        r = hs_store_failed(st)
                ? 0
                : hs_store_dirty_release(st, eng_owner(f->e), f->claimed, f->n_claimed, NULL);
    }
    hs_store_dirty_free(f->claimed, f->n_claimed);
    f->claimed = NULL;
    f->n_claimed = 0;
    return r < 0 ? r : HS_OK;
}
