/*
 * connectors/common/changes.c - appending to and releasing struct hs_changes
 *                               (hoopsync/connector.h).
 *
 * Design:     shared by every connector, so a page of changes is built and freed the same
 *             way whichever provider filled it.
 * Ownership:  frees each item's id, the items array and the cursor; not c itself.
 */
#include <string.h>

#include "hoopsync/connector.h"
#include "util/alloc.h"

void hs_changes_release(struct hs_changes *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_items; i++)
        hs_free(c->items[i].id);
    hs_free(c->items);
    hs_free(c->cursor);
    memset(c, 0, sizeof *c);
}

int hs_changes_add(struct hs_changes *c, enum hs_kind kind, const char *id, int64_t updated_at,
                   bool deleted)
{
    char *s = hs_strdup(id);
    struct hs_change *v = s != NULL ? hs_reallocarray(c->items, c->n_items + 1, sizeof *v) : NULL;
    if (v == NULL) {
        hs_free(s);
        return HS_ENOMEM;
    }
    c->items = v;
    memset(&v[c->n_items], 0, sizeof v[0]);
    v[c->n_items].kind = kind;
    v[c->n_items].id = s;
    v[c->n_items].updated_at = updated_at;
    v[c->n_items].deleted = deleted;
    c->n_items++;
    return HS_OK;
}
