/*
 * engine/engine_int.h - helpers shared inside src/engine: the matching index over the mirror,
 *                       flow filters, and the internals invoices.c and feed.c share.
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

#include "config/config.h"
#include "core/mapping.h"
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

/* ---- a generic flow's `filter:` (engine/filter.c) ---- */

struct eng_filter;
/*
 * Compiles the `filter:` of flow cf (records of kind, its compiled mapping map or NULL when it
 * has none, the caller's resolver, may be NULL): *out is NULL when the flow has none. Kind
 * invoice is the invoices flow's filter on the deal: `dealstage` (the won stages) is left out
 * and a field of the accounting side is refused. HS_OK; HS_EINVAL (a field that
 * is neither a name of the flow's mappings, nor one the resolver knows, nor a path of kind:
 * the message names the flow and the field); HS_ENOMEM.
 */
int eng_filter_new(const struct hs_config_flow *cf, enum hs_kind kind, const struct hs_mapping *map,
                   hs_mapping_resolve_fn resolve, void *ud, struct eng_filter **out,
                   struct hs_error *err);
void eng_filter_free(struct eng_filter *f);
/* Sides (bit 1 << side) whose records the check of a linked pair reads. 0 for NULL. */
unsigned eng_filter_pair_sides(const struct eng_filter *f);
/*
 * Does the record pass? recs[side] are the records at hand (NULL where absent); pair: a linked
 * (or being linked) pair, else the unlinked record recs[self]. *out_pass; when it fails and why
 * is not NULL, why says which clause and why ("'custom.region' is 'AMER', not one of {EMEA,
 * APAC}"). f NULL passes everything. HS_OK or HS_ENOMEM.
 */
int eng_filter_check(const struct eng_filter *f, const struct hs_record *const recs[3],
                     enum hs_side self, bool pair, bool *out_pass, char *why, size_t len);
/* True when value equals want after trimming both, ASCII letters without case; a NULL or
 * blank value equals nothing. */
bool eng_filter_value_matches(const char *value, const char *want);

/* ---- engine internals shared with invoices.c ---- */

/* Flow name of the invoice step when hs_engine_invoicing.flow is NULL. */
#define ENG_INVOICE_FLOW "invoices"

const struct hs_engine_config *eng_config(const struct hs_engine *e);
/* The invoices flow's filter on deals besides its won stages (NULL: every won deal). */
const struct eng_filter *eng_invoice_filter(const struct hs_engine *e);
const struct hs_env *eng_env(const struct hs_engine *e);
/* Appends an action to the pass's report. HS_OK or HS_ENOMEM (err set). */
int eng_action(struct hs_engine *e, enum hs_engine_action_kind kind, const char *flow,
               enum hs_kind object, enum hs_side source_side, const char *source_id,
               const char *target_id, const char *fields, const char *reason, struct hs_error *err);
/* The report of the running pass or plan (the actions so far). */
const struct hs_engine_report *eng_report(const struct hs_engine *e);
/* True while the engine runs a plan: nothing may be stored or written. */
bool eng_dry(const struct hs_engine *e);
/* Reports progress (stage, done of total) to the caller's callback, if any. */
void eng_progress(struct hs_engine *e, const char *stage, size_t done, size_t total);
/* Ids per read() call for kind on side s (the connector's limit, capped by sync.read_batch). */
size_t eng_read_batch(struct hs_engine *e, enum hs_side s, enum hs_kind kind);

/*
 * Base snapshots as JSON (engine.c's format): f as {"path":"value",...} plus, with written and
 * answer, the "@written"/"@updated_at"/"@version" marks; and back (marks into meta).
 */
int eng_fields_to_json(const struct hs_fields *f, const char *written,
                       const struct hs_record *answer, char **out);
int eng_fields_from_json(const char *json, struct hs_fields *out, struct hs_fields *meta,
                         struct hs_error *err);

/* Records of one kind on one side read in this pass (by the pass, from the dirty set). */
struct eng_group {
    enum hs_kind kind;
    enum hs_side side;
    char **ids;
    struct hs_record **recs; /* NULL where the record is gone */
    size_t n, cap;
    size_t n_read;         /* recs[0..n_read) are read (some ahead, while a limiter waited) */
    size_t n_mirrored;     /* recs[0..n_mirrored) refreshed the mirror */
    struct eng_feed *feed; /* the CRM change feed still feeding it, or NULL */
};

/*
 * Batch-reads ids[0..n) of kind from side s into out[0..n) (NULL where gone), read_batch ids
 * per call, counting calls and records. HS_OK or the connector's error (prefixed).
 */
int eng_read(struct hs_engine *e, enum hs_side s, enum hs_kind kind, char *const *ids, size_t n,
             struct hs_record **out, struct hs_error *err);
/* w[i].status of a record eng_write did not send (a call failed before it, or its own batch
 * failed as a whole): nothing is known of it, it stays pending. Positive, so never HS_OK nor an
 * HS_E* code. */
#define ENG_UNSENT 1

/*
 * Writes w[0..n) to side t in batches of the write limit (capped by sync.write_batch); a
 * batch refused as too large (HS_ETOOBIG) is halved and retried. Per-record outcomes are in
 * w[i].status / msg / result. Nothing is sent in a plan (statuses untouched). HS_OK, or the
 * first whole-call failure (HS_ERATELIMIT when a provider's limit is spent): the calls made
 * before it keep their outcomes (status HS_OK or the record's own HS_E*, result), every record
 * of the failed call and after it has status ENG_UNSENT and no result. A caller commits the
 * answered records as on success, then returns the failure.
 */
int eng_write(struct hs_engine *e, enum hs_side t, enum hs_kind kind, struct hs_write *w, size_t n,
              struct hs_error *err);
/* Upserts r (id) into side s's mirror; records that do not serialize are skipped. */
int eng_mirror_put(struct hs_engine *e, enum hs_side s, const struct hs_record *r, const char *id,
                   struct hs_error *err);
/*
 * Appends an audit row for a write of action ("create", "update") of record id (kind) on side
 * t from source_id in flow: per path of paths, the field's value before (may be NULL) and
 * after.
 */
int eng_audit(struct hs_engine *e, const char *flow, enum hs_kind kind, const char *action,
              enum hs_side t, const char *id, const char *source_id, const struct hs_fields *before,
              const char *const *paths, size_t n_paths, const struct hs_fields *after,
              struct hs_error *err);

/* Reads the next read_batch records of ids[*n_read..n) into recs (NULL where gone) and
 * advances *n_read; on failure the batch's slots stay NULL. */
int eng_read_next(struct hs_engine *e, enum hs_side s, enum hs_kind kind, char *const *ids,
                  struct hs_record **recs, size_t n, size_t *n_read, struct hs_error *err);
/* Marks ids[0..n) of kind on side s dirty and stores the feed's cursor (unless NULL), in one
 * transaction. */
int eng_store_marks(struct hs_engine *e, enum hs_side s, enum hs_kind kind, const char *const *ids,
                    size_t n, const char *cursor, struct hs_error *err);
/* The owner the engine claims dirty entries as. */
const char *eng_owner(const struct hs_engine *e);
/* Adds n to the pass's report of ids the change feeds announced. */
void eng_changes_seen(struct hs_engine *e, size_t n);

/* ---- a CRM change feed paged while the pass runs (engine/feed.c) ---- */

struct eng_feed;
/*
 * A feed of g's kind on the CRM side that continues from cursor (NULL: the beginning; more:
 * the provider may have more pages) into group g, which must not move while the feed lives;
 * ids g holds are not added again. HS_OK or HS_ENOMEM.
 */
int eng_feed_new(struct hs_engine *e, struct eng_group *g, const char *cursor, bool more,
                 struct eng_feed **out, struct hs_error *err);
/* Frees the feed and what it holds (its claims are not given back: eng_feed_finish). */
void eng_feed_free(struct eng_feed *f);
/* True while the provider may have more pages (f may be NULL). */
bool eng_feed_pages_left(const struct eng_feed *f);
/* True when fetched ids wait for their records (f may be NULL). */
bool eng_feed_unread(const struct eng_feed *f);
/* Fetches the next page into memory (one changes() call; nothing stored). */
int eng_feed_fetch(struct eng_feed *f, struct hs_error *err);
/* Reads the records of the next read_batch fetched ids, once the group's own are all read. */
int eng_feed_read_ahead(struct eng_feed *f, struct hs_error *err);
/*
 * Stores what was fetched (dirty marks and cursor, one transaction), claims it and adds the
 * ids claimed to the group, then fetches and stores more pages until the group holds `want`
 * ids or the feed ends. HS_OK or the connector's / store's error.
 */
int eng_feed_fill(struct eng_feed *f, size_t want, struct hs_error *err);
/* Completes (ok) or gives back the entries the feed claimed. f may be NULL. */
int eng_feed_finish(struct eng_feed *f, bool ok, struct hs_error *err);

/* Counts records read / written and connector calls in the pass's report. */
void eng_count(struct hs_engine *e, size_t reads, size_t writes, size_t calls_read,
               size_t calls_write);

/*
 * The invoice and payment step of a pass (engine/invoices.c): runs after the generic flows,
 * so companies and products synced in the same pass are already linked, and before the dirty
 * entries are completed. groups[0..n_groups) are the records the pass read (the step uses the
 * invoice groups of both sides and the accounting payments, and frees the CRM deals as it is
 * done with them). In a plan it only reports.
 * HS_OK unless the store or a whole provider call failed.
 */
int eng_invoices_run(struct hs_engine *e, struct eng_group *groups, size_t n_groups,
                     struct hs_error *err);

#endif
