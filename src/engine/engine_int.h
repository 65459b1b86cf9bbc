/*
 * engine/engine_int.h - helpers shared inside src/engine: the matching index over the mirror.
 *
 * Design:     the engine asks one question of matching: given an unlinked record of one side,
 *             which record of the other side is it (link), might it be (review) or is there
 *             none (create), and why. eng_index answers it from records loaded from the
 *             store's mirror, never from a provider search. It is a thin seam so that the
 *             engine does not depend on which matcher backs it: core/match.h (rules and
 *             similarity scoring) for customers, exact keys (sku, folded name) for items.
 * Ownership:  the index copies what it keeps; results point into the index.
 */
#ifndef HS_ENGINE_ENGINE_INT_H
#define HS_ENGINE_ENGINE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"

enum eng_decision { ENG_CREATE = 1, ENG_LINK = 2, ENG_REVIEW = 3 };

struct eng_match {
    enum eng_decision decision;
    const char *id; /* LINK / REVIEW: the candidate (borrowed from the index) */
    char reason[320];
};

struct eng_index;

/* link / review: the flow's thresholds in millionths (0: core/match.h defaults). */
int eng_index_new(enum hs_kind kind, uint32_t link, uint32_t review, struct eng_index **out,
                  struct hs_error *err);
void eng_index_free(struct eng_index *idx);
/* Adds a record of the indexed side (rec->id required). HS_OK, HS_EINVAL, HS_ENOMEM. */
int eng_index_add(struct eng_index *idx, const struct hs_record *rec, struct hs_error *err);
/* Marks id as already linked (never proposed for LINK again). Unknown ids are ignored. */
void eng_index_take(struct eng_index *idx, const char *id);
size_t eng_index_count(const struct eng_index *idx);
/* Decides for rec of the query side. HS_OK or HS_ENOMEM. */
int eng_index_find(struct eng_index *idx, const struct hs_record *rec, struct eng_match *out,
                   struct hs_error *err);

/* ---- engine internals shared with invoices.c ---- */

const struct hs_engine_config *eng_config(const struct hs_engine *e);
const struct hs_env *eng_env(const struct hs_engine *e);
/* Appends an action to the pass's report. HS_OK or HS_ENOMEM (err set). */
int eng_action(struct hs_engine *e, enum hs_engine_action_kind kind, const char *flow,
               enum hs_kind object, enum hs_side source_side, const char *source_id,
               const char *target_id, const char *fields, const char *reason, struct hs_error *err);
/* Counts records read / written and connector calls in the pass's report. */
void eng_count(struct hs_engine *e, size_t reads, size_t writes, size_t calls_read,
               size_t calls_write);

/*
 * The invoice and payment step of a pass (engine/invoices.c): runs after the generic flows,
 * so companies and products synced in the same pass are already linked. HS_OK unless the
 * store or a whole provider call failed.
 */
int eng_invoices_run(struct hs_engine *e, struct hs_error *err);

#endif
