/*
 * connectors/common/changes.c - release of struct hs_changes (hoopsync/connector.h).
 *
 * Design:     one function shared by every connector, so a page of changes is freed the same
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
