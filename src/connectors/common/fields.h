/*
 * connectors/common/fields.h - provider field names -> canonical paths for hoopsync.yaml:
 *                              what each connector's describe_fields answers, for both sides.
 *
 * Design:     a struct hs_conn_fields holds the names of both connections, asked once per
 *             kind from each connector's describe_fields (hoopsync/connector.h) with that
 *             connection's settings. hs_conn_fields_resolve is the hs_mapping_resolve_fn that
 *             core/mapping.c calls for every field name of `mappings:` and `authority:`: the
 *             name is looked up among the names of the connector of that side, so "DisplayName"
 *             only means display_name on a QuickBooks accounting side, HubSpot's "name" only on
 *             the crm side. A name no connector knows is NULL, and the mapping then takes it as
 *             a canonical path (which keeps canonical names working). Used by every command
 *             that compiles mappings: plan, sync, demo (cli/cmd_sync.c) and config check.
 * Ownership:  the struct owns the names it loaded; _release frees them.
 * Threads:    read-only once loaded: any number of threads may resolve through it.
 * Not here:   the names themselves (each connector's <p>_parse.c, next to its parser).
 */
#ifndef HS_CONNECTORS_COMMON_FIELDS_H
#define HS_CONNECTORS_COMMON_FIELDS_H

#include "core/mapping.h"
#include "hoopsync/common.h"
#include "hoopsync/connector.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"

struct hs_conn_fields {
    struct hs_field_names names[2][HS_KIND_MAX + 1]; /* [crm, accounting][kind] */
};

HS_API void hs_conn_fields_init(struct hs_conn_fields *f);
HS_API void hs_conn_fields_release(struct hs_conn_fields *f);

/*
 * Asks ops (the connector of side) for its field names of every kind, with the connection's
 * settings (a const json_t * object or NULL), replacing what f held for that side. A connector
 * without describe_fields gives no names. HS_OK; HS_EINVAL (the connector refuses the
 * settings; message from the connector); HS_ENOMEM. On failure that side has no names.
 */
HS_API HS_MUST_CHECK int hs_conn_fields_load(struct hs_conn_fields *f, enum hs_side side,
                                             const struct hs_connector_ops *ops,
                                             const void *settings, struct hs_error *err);

/* One row of a connector's static table of field names (next to its parser). */
struct hs_conn_field_row {
    enum hs_kind kind;
    const char *name; /* the provider's name, dotted into nested objects */
    const char *path; /* the canonical path the parser fills from it */
};

/* describe_fields from a static table: appends the rows of kind to out. HS_OK or HS_ENOMEM
 * ("cannot describe <provider> fields: out of memory"). */
HS_API HS_MUST_CHECK int hs_conn_fields_add_rows(struct hs_field_names *out,
                                                 const struct hs_conn_field_row *rows, size_t n,
                                                 enum hs_kind kind, const char *provider,
                                                 struct hs_error *err);

/* hs_mapping_resolve_fn over ud (a struct hs_conn_fields *): the canonical path of name on
 * side for kind, or NULL when that side's connector has no field of that name. */
HS_API const char *hs_conn_fields_resolve(void *ud, enum hs_mapping_side side, enum hs_kind kind,
                                          const char *name);

#endif
