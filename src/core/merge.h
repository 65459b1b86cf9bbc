/*
 * core/merge.h - three-way merge of one linked pair against its per-side base snapshot.
 *
 * Design:     DESIGN.md section 3, per mapped field (core/mapping.h lists the pairs). Each side
 *             is compared with ITS OWN base, in its own representation (the base of a side is
 *             what that side held right after the last sync, as the provider answered our
 *             write), so a provider that trims or reformats a value never looks like a change,
 *             and our own write echoing back equals the base: nothing to do. Only when a value
 *             must cross sides is it converted through the field's transform.
 *               crm vs base | acc vs base | result
 *               same        | same        | nothing (counted in n_unchanged, not listed)
 *               changed     | same        | write to accounting (if the field may flow that way)
 *               same        | changed     | write to crm (if allowed)
 *               changed     | changed, equal after mapping | advance base only
 *               changed     | changed, different | two-way field: authority decides (crm,
 *                             accounting, newest; manual holds that field only); one-way
 *                             field: the flow's source side wins
 *             "Equal after mapping": convert(crm) == acc or convert(acc) == crm. A change that
 *             already equals the other side after mapping also just advances the base.
 *             One-way (by flow direction or because the transform has no inverse): a change on
 *             the receiving side alone is drift: reported and held (its base is kept, so it is
 *             reported again until someone acts) unless the flow says enforce, in which case the
 *             source's value is written back over it.
 *             newest: the side with the larger updated_at wins; a tie, or an unknown (0)
 *             timestamp on either side, never guesses: the field is queued like manual.
 *             First sync of a newly linked pair (either base NULL): values equal after mapping
 *             -> base; only one side has a value -> copied to the other (if allowed; a
 *             receiving side's value is never cleared on first sync); both present and
 *             different -> as a both-changed conflict above (authority, or source side wins in
 *             one-way flows). A held field gets no base entry, so it stays a conflict.
 *             Both absent on first sync: nothing, unless a `default` transform fills the
 *             target. Map-table misses become HS_MERGE_ERROR entries (that field is held, the
 *             others proceed). Concat pairs are merged last and read the crm side as this pass
 *             leaves it agreed (the new crm base), so a source written or held in the same
 *             pass neither leaks into the joined value nor makes it flap on the next pass.
 * Invariants: the result lists changes sorted by (crm path, accounting path); each path appears
 *             at most once per patch; a patch never writes a held (conflict, drift, error) field;
 *             merging again with the new bases and the sides as written gives no writes
 *             (tested as a property).
 * Ownership:  struct hs_merge_result is caller-allocated (_init/_release) and owns everything
 *             in it; inputs are borrowed for the call.
 * Threads:    no shared state; the mapping is read only.
 * Not here:   deciding which records are linked (matching), validation and the writes
 *             themselves, storing bases and queuing conflicts (src/engine).
 *             docs/modules/merge.md has worked examples.
 */
#ifndef HS_CORE_MERGE_H
#define HS_CORE_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mapping.h"
#include "hoopsync/common.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"

enum hs_merge_action {
    HS_MERGE_NOTHING = 0,          /* never listed; counted in n_unchanged */
    HS_MERGE_WRITE_ACCOUNTING = 1, /* one side changed: write it to the accounting side */
    HS_MERGE_WRITE_CRM = 2,        /* ... to the crm side */
    HS_MERGE_ADVANCE_BASE = 3,     /* the sides agree after mapping: only the base moves */
    HS_MERGE_SETTLED = 4,          /* both changed differently; authority picked winner */
    HS_MERGE_CONFLICT = 5,         /* both changed differently; held for a person */
    HS_MERGE_DRIFT = 6,            /* one-way: the receiving side changed; reported, held */
    HS_MERGE_ERROR = 7,            /* the value cannot be converted (map table miss); held */
};

/* "nothing", "write_accounting", "write_crm", "advance_base", "settled", "conflict", "drift",
 * "error"; "?" otherwise. */
HS_API const char *hs_merge_action_name(enum hs_merge_action a);

/* One field's outcome. Values are NULL when absent. */
struct hs_merge_change {
    enum hs_merge_action action;
    char *crm_field;             /* canonical path on the crm side */
    char *acc_field;             /* canonical path on the accounting side */
    char *crm_value;             /* crm's current value (a concat source: the joined value) */
    char *acc_value;             /* accounting's current value */
    enum hs_mapping_side target; /* side written (WRITE_*, SETTLED, enforced drift) or
                                    drifted (DRIFT); 0 otherwise */
    enum hs_mapping_side winner; /* SETTLED: the side whose value won; 0 otherwise */
    char *value;  /* written value in target's representation (NULL with a write = clear) */
    char *reason; /* one line for plan and audit ("crm changed 'email' from 'a@x' to 'b@x';
                     accounting unchanged") */
};

/* What to send to one side. */
struct hs_merge_patch {
    struct hs_fields values; /* paths to set and their new values */
    char **paths; /* every path to write, sorted: those in values plus those to clear; pass
                     as hs_write.fields with a (const char *const *) cast */
    size_t n_paths;
};

struct hs_merge_result {
    struct hs_merge_change *changes; /* sorted by (crm_field, acc_field) */
    size_t n_changes;
    size_t n_unchanged;
    struct hs_merge_patch to_crm;
    struct hs_merge_patch to_accounting;
    /*
     * The base to store for each side AFTER its writes succeeded: the side's current view with
     * held fields kept at their old base and written fields at the value sent. Replace the
     * written paths with the provider's answer (hs_merge_base_apply) before storing.
     */
    struct hs_fields crm_base;
    struct hs_fields acc_base;
    size_t n_conflicts; /* HS_MERGE_CONFLICT entries */
    size_t n_drift;
    size_t n_errors;
};

/*
 * One linked pair. crm and acc are required; a NULL base means first sync (see above).
 *
 * Path lists (each NULL for none) are comma-separated canonical paths, each also covering the
 * paths under it ("billing_address" covers "billing_address.city"), as a side's connector
 * declares them (core/validate.h read_only, and the record meta of hoopsync/connector.h):
 *   *_read_only  paths that side does not take: nothing is ever written there. A change on
 *                the other side that would be written there only advances that side's base
 *                (HS_MERGE_ADVANCE_BASE, "not written: ... does not take it"), so it is
 *                neither reported as a write nor retried; the side's own changes still flow
 *                to the other side.
 *   *_unsynced   paths that side leaves out of the sync for this record (a person the
 *                connector does not own): the pair is skipped whole, both bases follow the
 *                current values, nothing is written or reported either way.
 */
struct hs_merge_input {
    const struct hs_fields *crm;
    const struct hs_fields *crm_base;
    const struct hs_fields *acc;
    const struct hs_fields *acc_base;
    int64_t crm_updated_at; /* record's last change, ms since the epoch; 0 unknown */
    int64_t acc_updated_at;
    const char *crm_read_only;
    const char *acc_read_only;
    const char *crm_unsynced;
    const char *acc_unsynced;
};

HS_API void hs_merge_result_init(struct hs_merge_result *r);
/* Frees everything in r; r is empty (and reusable) afterwards. */
HS_API void hs_merge_result_release(struct hs_merge_result *r);

/*
 * Merges one pair with mapping m (flow direction, enforce and authority come from it) into
 * out (released first). HS_OK; HS_EINVAL (NULL current view); HS_ENOMEM (out empty).
 */
HS_API HS_MUST_CHECK int hs_merge_run(const struct hs_mapping *m, const struct hs_merge_input *in,
                                      struct hs_merge_result *out, struct hs_error *err);

/*
 * A newly created record (unlinked create): maps the whole of src, which lives on the side
 * opposite `to`, through m. Fills out->to_crm or out->to_accounting with the full mapped view
 * (every path but those listed in read_only: the paths `to` does not take, as in struct
 * hs_merge_input; NULL for none), the source side's base (src, minus fields that could not be
 * converted so they are retried), the target's base (the mapped view: after the create, store
 * the provider's whole answer view instead), and one HS_MERGE_ERROR change per field left out.
 * HS_OK, HS_ENOMEM (out empty).
 */
HS_API HS_MUST_CHECK int hs_merge_create(const struct hs_mapping *m, enum hs_mapping_side to,
                                         const struct hs_fields *src, const char *read_only,
                                         struct hs_merge_result *out, struct hs_error *err);

/* True when path is one of list's comma-separated paths or lies under one of them
 * ("billing_address" lists "billing_address.city"; "lines" lists "lines[0].amount"). */
HS_API bool hs_merge_path_listed(const char *list, const char *path);

/*
 * After a successful update: for every path of patch, sets base to the value the provider
 * answered (answer: that side's field view read back from the write result), removing it when
 * the answer has none. Other paths of base are left alone (held fields keep their old base).
 * HS_OK or HS_ENOMEM (base may be partly updated: do not store it).
 */
HS_API HS_MUST_CHECK int hs_merge_base_apply(struct hs_fields *base,
                                             const struct hs_merge_patch *patch,
                                             const struct hs_fields *answer);

/* Number of paths the result writes to both sides. */
HS_API size_t hs_merge_n_writes(const struct hs_merge_result *r);

#endif
