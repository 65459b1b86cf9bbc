/*
 * connectors/common/fields.c - struct hs_field_names (hoopsync/connector.h) and the resolver of
 *                              provider field names over both connections (fields.h).
 *
 * Design:     tables are small (tens of names per kind) and asked a few times per config, so a
 *             linear search in the connector's order is enough, and it keeps "the first field
 *             a name fills wins" trivially true.
 * Ownership:  struct hs_field_names owns copies of every name and path.
 */
#include <string.h>

#include "connectors/common/fields.h"
#include "util/alloc.h"

void hs_field_names_init(struct hs_field_names *f)
{
    memset(f, 0, sizeof *f);
}

void hs_field_names_release(struct hs_field_names *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n_items; i++) {
        hs_free(f->items[i].name);
        hs_free(f->items[i].path);
    }
    hs_free(f->items);
    memset(f, 0, sizeof *f);
}

int hs_field_names_add(struct hs_field_names *f, const char *name, const char *path)
{
    char *n = hs_strdup(name);
    char *p = hs_strdup(path);
    struct hs_field_name *v =
        n != NULL && p != NULL ? hs_reallocarray(f->items, f->n_items + 1, sizeof *v) : NULL;
    if (v == NULL) {
        hs_free(n);
        hs_free(p);
        return HS_ENOMEM;
    }
    f->items = v;
    v[f->n_items].name = n;
    v[f->n_items].path = p;
    f->n_items++;
    return HS_OK;
}

const char *hs_field_names_find(const struct hs_field_names *f, const char *name)
{
    for (size_t i = 0; f != NULL && name != NULL && i < f->n_items; i++)
        if (strcmp(f->items[i].name, name) == 0)
            return f->items[i].path;
    return NULL;
}

int hs_conn_fields_add_rows(struct hs_field_names *out, const struct hs_conn_field_row *rows,
                            size_t n, enum hs_kind kind, const char *provider, struct hs_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (rows[i].kind == kind && hs_field_names_add(out, rows[i].name, rows[i].path) != HS_OK)
            return hs_error_set(err, HS_ENOMEM, "cannot describe %s fields: out of memory",
                                provider);
    }
    return HS_OK;
}

void hs_conn_fields_init(struct hs_conn_fields *f)
{
    for (int s = 0; s < 2; s++)
        for (int k = 0; k <= HS_KIND_MAX; k++)
            hs_field_names_init(&f->names[s][k]);
}

void hs_conn_fields_release(struct hs_conn_fields *f)
{
    if (f == NULL)
        return;
    for (int s = 0; s < 2; s++)
        for (int k = 0; k <= HS_KIND_MAX; k++)
            hs_field_names_release(&f->names[s][k]);
}

int hs_conn_fields_load(struct hs_conn_fields *f, enum hs_side side,
                        const struct hs_connector_ops *ops, const void *settings,
                        struct hs_error *err)
{
    if (side != HS_SIDE_CRM && side != HS_SIDE_ACCOUNTING)
        return hs_error_set(err, HS_EINVAL, "cannot describe fields: no such side %d", (int)side);
    struct hs_field_names *names = f->names[side - 1];
    for (int k = 0; k <= HS_KIND_MAX; k++)
        hs_field_names_release(&names[k]);
    if (ops == NULL || ops->describe_fields == NULL)
        return HS_OK;
    for (int k = HS_KIND_NONE + 1; k <= HS_KIND_MAX; k++) {
        int rc = ops->describe_fields(settings, (enum hs_kind)k, &names[k], err);
        if (rc != HS_OK) {
            for (int j = 0; j <= HS_KIND_MAX; j++)
                hs_field_names_release(&names[j]);
            if (rc == HS_ENOMEM)
                hs_error_set(err, rc, "cannot describe fields: out of memory");
            return rc;
        }
    }
    return HS_OK;
}

const char *hs_conn_fields_resolve(void *ud, enum hs_mapping_side side, enum hs_kind kind,
                                   const char *name)
{
    const struct hs_conn_fields *f = ud;
    if (f == NULL || (side != HS_MAPPING_CRM && side != HS_MAPPING_ACCOUNTING) ||
        kind <= HS_KIND_NONE || kind > HS_KIND_MAX)
        return NULL;
    return hs_field_names_find(&f->names[side - 1][kind], name);
}
