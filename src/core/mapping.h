/*
 * core/mapping.h - field mapping of one flow and record kind: which CRM field feeds which
 * accounting field, and through which value transform.
 *
 * Design:     a compiled mapping (struct hs_mapping, opaque) is built once per flow and kind
 *             from the flow of hoopsync.yaml (struct hs_config_flow, read as plain data: core
 *             calls no hs_config_* function, so it gains no link dependency). It holds the
 *             explicit rules of `mappings:` and, implicitly, the default mapping: identity on
 *             every canonical field path (same path on both sides) except the side-specific
 *             ones (hs_mapping_path_side_specific: external_refs.*, custom.*, *_ref, tax_code)
 *             and except paths an explicit rule already uses on that side. So `mappings:`
 *             refines the default rather than replacing it; custom fields and references are
 *             synced only through explicit rules (references are translated by the engine
 *             through links). Identity pairs are not stored: hs_mapping_list enumerates them
 *             from the field views at hand, so lines[i].* of any length need no table.
 *             Field names in the config may be provider names ("DisplayName") when the caller
 *             passes a resolver that knows them, or canonical paths ("display_name",
 *             "custom.hs_region"); either way every rule ends up on canonical paths of the
 *             kind (docs/modules/model.md), checked when compiling.
 *             Transforms (one per rule, as the config gives them) and their directions:
 *               none              identity both ways
 *               trim/upper/lower  applied toward the flow's target side (accounting for both
 *                                 and crm_to_accounting, crm for accounting_to_crm); the
 *                                 other way is identity (they have no exact inverse)
 *               default           args[0] when the source value is absent or "", toward the
 *                                 flow's target side; identity the other way
 *               map               the table reads crm value -> accounting value; toward crm
 *                                 it is inverted, which needs a one-to-one table (else the
 *                                 rule cannot go accounting -> crm: a compile error in flows
 *                                 that need that way)
 *               concat            crm field + args (crm fields) joined with one space,
 *                                 skipping absent and empty parts; crm -> accounting only (a
 *                                 compile error in accounting_to_crm flows; a one-way field in
 *                                 two-way flows)
 *             Each field therefore carries to_accounting / to_crm: whether a value may flow
 *             that way (flow direction AND transform). core/merge.c consumes all of this.
 * Invariants: a compiled mapping's rules name valid paths of its kind, no canonical path is the
 *             endpoint of two rules on the same side, every rule can flow at least one way,
 *             rules are sorted by (crm path, accounting path).
 * Ownership:  hs_mapping_compile copies what it keeps from the flow; hs_mapping_free frees it.
 *             Strings in struct hs_mapping_field are borrowed (see hs_mapping_list).
 * Threads:    a compiled mapping is immutable: any number of threads may read it.
 * Not here:   the three-way merge and authority (core/merge.h), record filters and reference
 *             translation (src/engine), provider property names (connectors, via the resolver).
 */
#ifndef HS_CORE_MAPPING_H
#define HS_CORE_MAPPING_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "hoopsync/common.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"

/* The two sides of a link (same values as enum hs_side in hoopsync/connector.h). */
enum hs_mapping_side { HS_MAPPING_CRM = 1, HS_MAPPING_ACCOUNTING = 2 };

/* "crm" or "accounting"; "?" otherwise. */
HS_API const char *hs_mapping_side_name(enum hs_mapping_side side);

/*
 * Translates a field name as written in hoopsync.yaml on one side (a provider property name
 * such as "DisplayName" or "hs_payment_terms") into a canonical field path of kind
 * ("display_name", "custom.hs_payment_terms"). Returns a string that stays valid while the
 * mapping is compiled (it is copied), or NULL when the name is not a provider name it knows;
 * the name is then taken as a canonical path.
 */
typedef const char *(*hs_mapping_resolve_fn)(void *ud, enum hs_mapping_side side, enum hs_kind kind,
                                             const char *name);

struct hs_mapping;

/*
 * One field pair as the merge sees it. crm/accounting are canonical paths; the labels are
 * the names as written in the config (the paths themselves for identity fields), for messages.
 */
struct hs_mapping_field {
    const char *crm;
    const char *accounting;
    const char *crm_label;
    const char *acc_label;
    enum hs_config_transform transform;
    bool to_accounting;                 /* a value may flow crm -> accounting here */
    bool to_crm;                        /* a value may flow accounting -> crm here */
    enum hs_config_authority authority; /* per-field authority or the flow's default */
    bool identity;                      /* from the default mapping, not a `mappings:` rule */
    const void *rule;                   /* private: the compiled rule (NULL for identity) */
};

/* A list of fields from hs_mapping_list: caller-allocated, _init / _release. */
struct hs_mapping_list {
    struct hs_mapping_field *items;
    size_t n_items;
};

/*
 * Compiles the mapping of flow for records of kind. flow NULL gives the default mapping:
 * identity, direction both, not enforced, authority manual. resolve may be NULL (names must
 * then be canonical paths); ud is passed to it. Checks every name (of mappings, concat args
 * and authority keys), the map tables against the flow's direction, and duplicate endpoints.
 * *out is NULL on failure. Returns HS_OK; HS_EINVAL with a message naming the flow, the
 * config line and the field ("cannot compile mapping of flow 'customers': line 12:9: unknown
 * crm field 'nme' of customer"); HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_mapping_compile(const struct hs_config_flow *flow, enum hs_kind kind,
                                            hs_mapping_resolve_fn resolve, void *ud,
                                            struct hs_mapping **out, struct hs_error *err);
/*
 * As hs_mapping_compile, with errors about an entry placed the way the config parser places
 * its own (file is the config's name, as in struct hs_config.path):
 * "hoopsync.yaml:41:9: cannot compile mapping of flow 'customers': unknown crm field 'phnoe'
 * of customer ...". `hoopsync config check`, plan and sync therefore report a bad field name
 * alike.
 */
HS_API HS_MUST_CHECK int hs_mapping_compile_file(const struct hs_config_flow *flow,
                                                 enum hs_kind kind, const char *file,
                                                 hs_mapping_resolve_fn resolve, void *ud,
                                                 struct hs_mapping **out, struct hs_error *err);
/* Frees m; NULL does nothing. */
HS_API void hs_mapping_free(struct hs_mapping *m);

HS_API enum hs_kind hs_mapping_kind(const struct hs_mapping *m);
HS_API enum hs_config_direction hs_mapping_direction(const struct hs_mapping *m);
HS_API bool hs_mapping_enforce(const struct hs_mapping *m);
/* The flow's name, or "default" for the default mapping. Borrowed from m. */
HS_API const char *hs_mapping_flow_name(const struct hs_mapping *m);

/* The record kind a flow's `objects` carries (customers -> HS_KIND_CUSTOMER, ...). */
HS_API enum hs_kind hs_mapping_kind_of(enum hs_config_object objects);

/* True when path is a field path of kind (as hs_record_from_fields accepts it). */
HS_API bool hs_mapping_path_valid(enum hs_kind kind, const char *path);
/* The same, telling a failed allocation apart: 1 (a path of kind), 0 (not), HS_ENOMEM. */
HS_API HS_MUST_CHECK int hs_mapping_path_check(enum hs_kind kind, const char *path);
/* True for paths the default mapping leaves out: external_refs.*, custom.*, any segment
 * ending in "_ref" (provider ids) and tax_code (tax mapping). */
HS_API bool hs_mapping_path_side_specific(const char *path);

HS_API void hs_mapping_list_init(struct hs_mapping_list *l);
HS_API void hs_mapping_list_release(struct hs_mapping_list *l);
/*
 * Lists the field pairs of m for the given field views (NULL entries allowed): every rule,
 * plus one identity pair per path found in any view that is not side-specific and not used by
 * a rule on either side. Sorted by (crm, accounting). Strings are borrowed from m and from
 * the views: valid until m is freed or a view changes. HS_OK or HS_ENOMEM (out empty).
 */
HS_API HS_MUST_CHECK int hs_mapping_list(const struct hs_mapping *m,
                                         const struct hs_fields *const *views, size_t n_views,
                                         struct hs_mapping_list *out);

/*
 * The value of field f on side in that side's own representation, from view (may be NULL:
 * absent): the plain value, or for the CRM side of a concat rule the joined sources. *out is a
 * new string (caller hs_free()s) or NULL when absent. HS_OK or HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_mapping_side_value(const struct hs_mapping_field *f,
                                               enum hs_mapping_side side,
                                               const struct hs_fields *view, char **out);

/*
 * Converts value (a side value of the other side, NULL = absent) into side to's
 * representation through f's transform. *out is a new string or NULL (absent). HS_OK;
 * HS_EUNSUPPORTED (no transform that way: concat toward crm, a map table that is not
 * one-to-one); HS_ENOTFOUND (the map table has no entry for value: "value 'Net 90' of crm
 * 'custom.terms' is not in the map table"); HS_ENOMEM. Ignores the flow's direction: callers
 * check f->to_accounting / f->to_crm.
 */
HS_API HS_MUST_CHECK int hs_mapping_convert(const struct hs_mapping_field *f,
                                            enum hs_mapping_side to, const char *value, char **out,
                                            struct hs_error *err);

/*
 * Maps a whole record (for creating it on the other side): for every field of m that may
 * flow toward side to, converts the value of src into out (replacing its contents). A value
 * that cannot be converted (map table miss) is left out and recorded in out_skipped (source
 * path -> message) when out_skipped is not NULL; with out_skipped NULL it fails the call with
 * that code. HS_OK, HS_ENOTFOUND / HS_EUNSUPPORTED (see above), HS_ENOMEM (out emptied).
 */
HS_API HS_MUST_CHECK int hs_mapping_apply(const struct hs_mapping *m, enum hs_mapping_side to,
                                          const struct hs_fields *src, struct hs_fields *out,
                                          struct hs_fields *out_skipped, struct hs_error *err);

#endif
