/*
 * sandbox/hubspot_meta.c - HubSpot properties, property groups, deal pipelines and
 * associations v4.
 *
 * Design:     properties and groups are per object type (hubspot.h stores). Creating a
 *             property checks what HubSpot checks: required fields, a known type/fieldType
 *             pair, an existing group (409 OBJECT_ALREADY_EXISTS on a duplicate name), and a
 *             hasUniqueValue flag that makes the property usable as an upsert idProperty.
 *             The deal pipeline is the fixed "default" pipeline built from hs_sbx_deal_stages.
 *             Associations v4 read and write the per-record association lists; "default"
 *             associations use the unlabeled type (279/280, 341/342) and, for a contact or
 *             deal without a primary company yet, also add the primary type (1/2, 5/6), as
 *             HubSpot does.
 * Threads:    state lock held.
 * Ownership:  JSON built here is handed to the response.
 */
#include <stdio.h>
#include <string.h>

#include "sandbox/hubspot.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

#define PIPELINE_CREATED_MS 1577836800000LL /* 2020-01-01: the portal's pipeline setup */

static int type_param(struct hs_hubspot *st, const struct hs_route_match *m, const char *name,
                      struct hs_http_response *resp, enum hs_hub_type *out)
{
    const char *v = hs_route_param(m, name);
    int t = hs_hub_type_parse(v);
    if (t < 0) {
        hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                     "Unable to infer object type from: %s", v ? v : "");
        return HS_EINVAL;
    }
    *out = (enum hs_hub_type)t;
    return HS_OK;
}

/* ---- properties ---- */

static json_t *prop_json(const struct hs_hub_prop *p)
{
    char created[32], updated[32];
    hs_hub_iso(p->created_ms, created);
    hs_hub_iso(p->updated_ms, updated);
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:i,s:b,s:b,s:b,s:b,s:b,s:b,s:s,s:s,s:{s:b,s:b,s:b}}", "name",
        p->name, "label", p->label, "type", p->type, "fieldType", p->field_type, "groupName",
        p->group, "description", p->description, "options", p->options, "displayOrder",
        (int)p->display_order, "calculated", 0, "externalOptions", 0, "hasUniqueValue",
        p->unique ? 1 : 0, "hidden", 0, "hubspotDefined", p->hubspot_defined ? 1 : 0, "formField",
        p->hubspot_defined ? 1 : 0, "createdAt", created, "updatedAt", updated,
        "modificationMetadata", "archivable", p->hubspot_defined ? 0 : 1, "readOnlyDefinition",
        p->hubspot_defined ? 1 : 0, "readOnlyValue", p->read_only ? 1 : 0);
    if (o != NULL && !p->hubspot_defined &&
        json_object_set_new(o, "createdUserId", json_string("7654321")) != 0) {
        json_decref(o);
        return NULL;
    }
    if (o != NULL && json_object_set_new(o, "archived", json_false()) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int hs_hub_props_list(struct hs_hubspot *st, const struct hs_http_request *req,
                      const struct hs_route_match *m, struct hs_http_response *resp)
{
    (void)req;
    enum hs_hub_type t;
    if (type_param(st, m, "type", resp, &t) != HS_OK)
        return HS_OK;
    const struct hs_hub_store *s = &st->stores[t];
    json_t *results = json_array();
    json_t *out = json_pack("{s:o}", "results", results);
    if (out == NULL)
        return hs_hub_fail(st, resp, HS_ENOMEM);
    for (size_t i = 0; i < s->n_props; i++)
        if (json_array_append_new(results, prop_json(&s->props[i])) != 0) {
            json_decref(out);
            return hs_hub_fail(st, resp, HS_ENOMEM);
        }
    return hs_http_response_json_take(resp, 200, out);
}

int hs_hub_props_get(struct hs_hubspot *st, const struct hs_http_request *req,
                     const struct hs_route_match *m, struct hs_http_response *resp)
{
    (void)req;
    enum hs_hub_type t;
    if (type_param(st, m, "type", resp, &t) != HS_OK)
        return HS_OK;
    const char *name = hs_route_param(m, "name");
    const struct hs_hub_prop *p = hs_hub_prop_get(&st->stores[t], name);
    if (p == NULL)
        return hs_hub_error(st, resp, 404, "OBJECT_NOT_FOUND", NULL,
                            "Unable to find property '%.200s' for object type %s", name,
                            hs_hub_types[t].type_id);
    json_t *o = prop_json(p);
    return o ? hs_http_response_json_take(resp, 200, o) : hs_hub_fail(st, resp, HS_ENOMEM);
}

static bool group_exists(const struct hs_hub_store *s, const char *name)
{
    size_t i;
    json_t *g;
    json_array_foreach(s->groups, i, g)
    {
        if (hs_str_eq(hs_json_str(g, "name"), name))
            return true;
    }
    return false;
}

static bool valid_name(const char *n)
{
    if (n == NULL || n[0] == '\0' || strlen(n) > 100 || !(n[0] >= 'a' && n[0] <= 'z'))
        return false;
    for (const char *p = n; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

static bool field_fits(const char *type, const char *field)
{
    static const char *const pairs[][2] = {{"string", "text"},
                                           {"string", "textarea"},
                                           {"string", "phonenumber"},
                                           {"string", "html"},
                                           {"string", "file"},
                                           {"number", "number"},
                                           {"number", "calculation_equation"},
                                           {"date", "date"},
                                           {"datetime", "date"},
                                           {"bool", "booleancheckbox"},
                                           {"enumeration", "booleancheckbox"},
                                           {"enumeration", "checkbox"},
                                           {"enumeration", "radio"},
                                           {"enumeration", "select"},
                                           {"phone_number", "phonenumber"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (hs_str_eq(pairs[i][0], type) && hs_str_eq(pairs[i][1], field))
            return true;
    return false;
}

int hs_hub_props_create(struct hs_hubspot *st, const struct hs_http_request *req,
                        const struct hs_route_match *m, struct hs_http_response *resp)
{
    enum hs_hub_type t;
    json_t *body = NULL;
    if (type_param(st, m, "type", resp, &t) != HS_OK || hs_hub_body(st, req, resp, &body) != HS_OK)
        return HS_OK;
    struct hs_hub_store *s = &st->stores[t];
    const char *name = hs_json_str(body, "name");
    const char *label = hs_json_str(body, "label");
    const char *type = hs_json_str(body, "type");
    const char *field = hs_json_str(body, "fieldType");
    const char *group = hs_json_str(body, "groupName");
    json_t *options = json_object_get(body, "options");
    int rc;
    if (name == NULL || label == NULL || type == NULL || field == NULL || group == NULL) {
        rc = hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                          "Invalid input JSON: name, label, type, fieldType and groupName are "
                          "required");
    } else if (!valid_name(name)) {
        rc = hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                          "Property name '%.200s' is not valid: use lower-case letters, digits "
                          "and underscores, starting with a letter",
                          name);
    } else if (!field_fits(type, field)) {
        rc = hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                          "Property type '%.40s' does not accept fieldType '%.40s'", type, field);
    } else if (options != NULL && !json_is_array(options)) {
        rc = hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                          "Invalid input JSON: 'options' must be an array");
    } else if (hs_hub_prop_get(s, name) != NULL) {
        rc = hs_hub_error(st, resp, 409, "OBJECT_ALREADY_EXISTS", NULL,
                          "Property named '%.200s' already exists.", name);
    } else if (!group_exists(s, group)) {
        rc = hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                          "Property group '%.200s' does not exist for object type %s", group,
                          hs_hub_types[t].type_id);
    } else if (s->n_props >= HS_HUB_MAX_PROPS) {
        rc = hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                          "Too many properties for object type %s", hs_hub_types[t].type_id);
    } else {
        struct hs_hub_prop def = {0};
        def.name = (char *)(uintptr_t)name;
        def.label = (char *)(uintptr_t)label;
        def.type = (char *)(uintptr_t)type;
        def.field_type = (char *)(uintptr_t)field;
        def.group = (char *)(uintptr_t)group;
        def.description = (char *)(uintptr_t)hs_json_str(body, "description");
        def.unique = json_is_true(json_object_get(body, "hasUniqueValue"));
        json_t *dorder = json_object_get(body, "displayOrder");
        def.display_order = json_is_integer(dorder) ? (int32_t)json_integer_value(dorder) : -1;
        def.created_ms = hs_hub_now(st);
        def.updated_ms = def.created_ms;
        def.options = options;
        rc = hs_hub_prop_add(s, &def);
        json_t *o = rc == HS_OK ? prop_json(&s->props[s->n_props - 1]) : NULL;
        char *loc = hs_asprintf("/hubspot/crm/v3/properties/%s/%s", hs_hub_types[t].name, name);
        if (o == NULL || loc == NULL || hs_http_headers_set(&resp->headers, "Location", loc) != 0) {
            json_decref(o);
            hs_free(loc);
            json_decref(body);
            return hs_hub_fail(st, resp, HS_ENOMEM);
        }
        hs_free(loc);
        rc = hs_http_response_json_take(resp, 201, o);
    }
    json_decref(body);
    return rc;
}

int hs_hub_groups_list(struct hs_hubspot *st, const struct hs_http_request *req,
                       const struct hs_route_match *m, struct hs_http_response *resp)
{
    (void)req;
    enum hs_hub_type t;
    if (type_param(st, m, "type", resp, &t) != HS_OK)
        return HS_OK;
    json_t *o = json_pack("{s:O}", "results", st->stores[t].groups);
    return o ? hs_http_response_json_take(resp, 200, o) : hs_hub_fail(st, resp, HS_ENOMEM);
}

int hs_hub_groups_get(struct hs_hubspot *st, const struct hs_http_request *req,
                      const struct hs_route_match *m, struct hs_http_response *resp)
{
    (void)req;
    enum hs_hub_type t;
    if (type_param(st, m, "type", resp, &t) != HS_OK)
        return HS_OK;
    const char *name = hs_route_param(m, "group");
    size_t i;
    json_t *g;
    json_array_foreach(st->stores[t].groups, i, g)
    {
        if (hs_str_eq(hs_json_str(g, "name"), name))
            return hs_http_response_json(resp, 200, g);
    }
    return hs_hub_error(st, resp, 404, "OBJECT_NOT_FOUND", NULL,
                        "Unable to find property group '%.200s' for object type %s", name,
                        hs_hub_types[t].type_id);
}

int hs_hub_groups_create(struct hs_hubspot *st, const struct hs_http_request *req,
                         const struct hs_route_match *m, struct hs_http_response *resp)
{
    enum hs_hub_type t;
    json_t *body = NULL;
    if (type_param(st, m, "type", resp, &t) != HS_OK || hs_hub_body(st, req, resp, &body) != HS_OK)
        return HS_OK;
    struct hs_hub_store *s = &st->stores[t];
    const char *name = hs_json_str(body, "name");
    const char *label = hs_json_str(body, "label");
    json_t *dorder = json_object_get(body, "displayOrder");
    int rc;
    if (name == NULL || label == NULL) {
        rc = hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                          "Invalid input JSON: name and label are required");
    } else if (!valid_name(name)) {
        rc = hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                          "Property group name '%.200s' is not valid", name);
    } else if (group_exists(s, name)) {
        rc = hs_hub_error(st, resp, 409, "OBJECT_ALREADY_EXISTS", NULL,
                          "Property group named '%.200s' already exists.", name);
    } else {
        json_t *g = json_pack("{s:s,s:s,s:i,s:b}", "name", name, "label", label, "displayOrder",
                              json_is_integer(dorder) ? (int)json_integer_value(dorder) : -1,
                              "archived", 0);
        if (g == NULL || json_array_append(s->groups, g) != 0) {
            json_decref(g);
            json_decref(body);
            return hs_hub_fail(st, resp, HS_ENOMEM);
        }
        rc = hs_http_response_json_take(resp, 201, g);
    }
    json_decref(body);
    return rc;
}

/* ---- pipelines ---- */

static json_t *stage_json(size_t i)
{
    char at[32];
    hs_hub_iso(PIPELINE_CREATED_MS, at);
    const char *id = hs_sbx_deal_stages[i];
    bool closed = hs_str_eq(id, "closedwon") || hs_str_eq(id, "closedlost");
    return json_pack("{s:s,s:s,s:i,s:{s:s,s:s},s:s,s:s,s:b,s:s}", "id", id, "label",
                     hs_hub_stage_label(id), "displayOrder", (int)i, "metadata", "isClosed",
                     closed ? "true" : "false", "probability", hs_hub_stage_probability(id),
                     "createdAt", at, "updatedAt", at, "archived", 0, "writePermissions",
                     "CRM_PERMISSIONS_ENFORCEMENT");
}

static json_t *stages_json(void)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < hs_sbx_n_deal_stages; i++)
        if (json_array_append_new(a, stage_json(i)) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *pipeline_json(void)
{
    char at[32];
    hs_hub_iso(PIPELINE_CREATED_MS, at);
    json_t *stages = stages_json();
    return stages ? json_pack("{s:s,s:s,s:i,s:o,s:s,s:s,s:b}", "id", "default", "label",
                              "Sales Pipeline", "displayOrder", 0, "stages", stages, "createdAt",
                              at, "updatedAt", at, "archived", 0)
                  : NULL;
}

int hs_hub_pipelines(struct hs_hubspot *st, const struct hs_http_request *req,
                     const struct hs_route_match *m, struct hs_http_response *resp)
{
    (void)req;
    const char *type = hs_route_param(m, "type");
    const char *pid = hs_route_param(m, "pid");
    const char *sid = hs_route_param(m, "sid");
    const char *what = hs_route_param(m, "what"); /* "stages" or NULL */
    if (hs_hub_type_parse(type) != HS_HUB_DEALS)
        return hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                            "Object type '%.100s' has no pipelines in this portal", type);
    if (pid != NULL && !hs_str_eq(pid, "default"))
        return hs_hub_error(st, resp, 404, "OBJECT_NOT_FOUND", NULL,
                            "Unable to find pipeline %.100s for object type 0-3", pid);
    json_t *o = NULL;
    if (pid == NULL) {
        json_t *p = pipeline_json();
        o = p ? json_pack("{s:[o]}", "results", p) : NULL;
    } else if (what == NULL) {
        o = pipeline_json();
    } else if (sid == NULL) {
        json_t *s = stages_json();
        o = s ? json_pack("{s:o}", "results", s) : NULL;
    } else {
        for (size_t i = 0; i < hs_sbx_n_deal_stages; i++)
            if (hs_str_eq(hs_sbx_deal_stages[i], sid))
                o = stage_json(i);
        if (o == NULL)
            return hs_hub_error(st, resp, 404, "OBJECT_NOT_FOUND", NULL,
                                "Unable to find stage %.100s in pipeline default", sid);
    }
    return o ? hs_http_response_json_take(resp, 200, o) : hs_hub_fail(st, resp, HS_ENOMEM);
}

/* ---- associations v4 ---- */

static json_t *spec_json(int32_t type_id)
{
    return json_pack("{s:s,s:i}", "associationCategory", "HUBSPOT_DEFINED", "associationTypeId",
                     (int)type_id);
}

static json_t *default_result(int64_t from, int64_t to, int32_t type_id)
{
    char f[24], t[24];
    snprintf(f, sizeof f, "%lld", (long long)from);
    snprintf(t, sizeof t, "%lld", (long long)to);
    return json_pack("{s:{s:s},s:{s:s},s:o}", "from", "id", f, "to", "id", t, "associationSpec",
                     spec_json(type_id));
}

static bool has_primary(const struct hs_hub_record *r, enum hs_hub_type from, enum hs_hub_type to)
{
    int32_t p = hs_hub_assoc_primary(from, to);
    for (size_t i = 0; p != 0 && i < r->n_assocs; i++)
        if (r->assocs[i].type_id == p)
            return true;
    return false;
}

/* Adds the default association a->b (and the primary one when a contact or deal has no
 * primary company yet); appends both directions' specs to results when not NULL. */
static int add_default(struct hs_hubspot *st, enum hs_hub_type ta, struct hs_hub_record *a,
                       enum hs_hub_type tb, struct hs_hub_record *b, json_t *results)
{
    int32_t d = hs_hub_assoc_default(ta, tb);
    int rc = hs_hub_assoc_add(st, ta, a, tb, b, d);
    if (rc != HS_OK)
        return rc;
    if (results != NULL &&
        (json_array_append_new(results, default_result(a->id, b->id, d)) != 0 ||
         json_array_append_new(results, default_result(b->id, a->id, hs_hub_assoc_inverse(d))) !=
             0))
        return HS_ENOMEM;
    /* primary company of a contact or deal */
    struct hs_hub_record *child = NULL, *company = NULL;
    enum hs_hub_type tc = ta;
    if (tb == HS_HUB_COMPANIES && (ta == HS_HUB_CONTACTS || ta == HS_HUB_DEALS)) {
        child = a;
        company = b;
        tc = ta;
    } else if (ta == HS_HUB_COMPANIES && (tb == HS_HUB_CONTACTS || tb == HS_HUB_DEALS)) {
        child = b;
        company = a;
        tc = tb;
    }
    if (child != NULL && !has_primary(child, tc, HS_HUB_COMPANIES))
        return hs_hub_assoc_add(st, tc, child, HS_HUB_COMPANIES, company,
                                hs_hub_assoc_primary(tc, HS_HUB_COMPANIES));
    return HS_OK;
}

static int pair_check(struct hs_hubspot *st, enum hs_hub_type ta, enum hs_hub_type tb,
                      struct hs_http_response *resp)
{
    if (hs_hub_assoc_default(ta, tb) != 0)
        return HS_OK;
    hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                 "Associations from %s to %s are not supported", hs_hub_types[ta].name,
                 hs_hub_types[tb].name);
    return HS_EINVAL;
}

static struct hs_hub_record *live(struct hs_hubspot *st, enum hs_hub_type t, const char *id)
{
    struct hs_hub_record *r = hs_hub_find_str(&st->stores[t], id, NULL);
    return r != NULL && !r->archived ? r : NULL;
}

static int missing(struct hs_hubspot *st, struct hs_http_response *resp, enum hs_hub_type t,
                   const char *id)
{
    json_t *extra = json_pack("{s:{s:[s]}}", "context", "id", id ? id : "");
    return hs_hub_error(st, resp, 404, "OBJECT_NOT_FOUND", extra, "No %s with id %.40s exists",
                        hs_hub_types[t].singular, id ? id : "");
}

int hs_hub_assoc_put_default(struct hs_hubspot *st, const struct hs_http_request *req,
                             const struct hs_route_match *m, struct hs_http_response *resp)
{
    (void)req;
    enum hs_hub_type ta, tb;
    if (type_param(st, m, "from", resp, &ta) != HS_OK ||
        type_param(st, m, "to", resp, &tb) != HS_OK || pair_check(st, ta, tb, resp) != HS_OK)
        return HS_OK;
    struct hs_hub_record *a = live(st, ta, hs_route_param(m, "fromId"));
    struct hs_hub_record *b = live(st, tb, hs_route_param(m, "toId"));
    if (a == NULL)
        return missing(st, resp, ta, hs_route_param(m, "fromId"));
    if (b == NULL)
        return missing(st, resp, tb, hs_route_param(m, "toId"));
    int64_t started = hs_hub_now(st);
    json_t *results = json_array();
    if (results == NULL || add_default(st, ta, a, tb, b, results) != HS_OK) {
        json_decref(results);
        return hs_hub_fail(st, resp, HS_ENOMEM);
    }
    return hs_hub_batch_reply(st, resp, 200, started, results, NULL);
}

static json_t *labels_pair(enum hs_hub_type ta, int64_t a, enum hs_hub_type tb, int64_t b,
                           const struct hs_hub_record *ra)
{
    char fa[24], fb[24];
    snprintf(fa, sizeof fa, "%lld", (long long)a);
    snprintf(fb, sizeof fb, "%lld", (long long)b);
    json_t *labels = json_array();
    for (size_t i = 0; labels != NULL && i < ra->n_assocs; i++) {
        const char *l = hs_hub_assoc_label(ra->assocs[i].type_id);
        if (ra->assocs[i].to_id == b && ra->assocs[i].to_type == tb && l != NULL &&
            json_array_append_new(labels, json_string(l)) != 0) {
            json_decref(labels);
            return NULL;
        }
    }
    return labels ? json_pack("{s:s,s:s,s:s,s:s,s:o}", "fromObjectTypeId", hs_hub_types[ta].type_id,
                              "fromObjectId", fa, "toObjectTypeId", hs_hub_types[tb].type_id,
                              "toObjectId", fb, "labels", labels)
                  : NULL;
}

/* Applies AssociationSpec list specs a->b; HS_EINVAL with e set on a bad type id. */
static int add_specs(struct hs_hubspot *st, enum hs_hub_type ta, struct hs_hub_record *a,
                     enum hs_hub_type tb, struct hs_hub_record *b, const json_t *specs,
                     struct hs_hub_err *e)
{
    if (!json_is_array(specs) || json_array_size(specs) == 0) {
        hs_hub_err_set(e, 400, "VALIDATION_ERROR",
                       "Invalid input JSON: expected an array of association specs");
        return HS_EINVAL;
    }
    size_t i;
    json_t *sp;
    json_array_foreach(specs, i, sp)
    {
        json_t *tid = json_object_get(sp, "associationTypeId");
        if (!json_is_integer(tid) ||
            hs_hub_assoc_target(ta, (int32_t)json_integer_value(tid)) != (int)tb) {
            hs_hub_err_set(e, 400, "VALIDATION_ERROR",
                           "%lld is not a valid association type id from %s to %s",
                           json_is_integer(tid) ? (long long)json_integer_value(tid) : -1LL,
                           hs_hub_types[ta].name, hs_hub_types[tb].name);
            return HS_EINVAL;
        }
    }
    json_array_foreach(specs, i, sp)
    {
        int rc =
            hs_hub_assoc_add(st, ta, a, tb, b,
                             (int32_t)json_integer_value(json_object_get(sp, "associationTypeId")));
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}

int hs_hub_assoc_put(struct hs_hubspot *st, const struct hs_http_request *req,
                     const struct hs_route_match *m, struct hs_http_response *resp)
{
    enum hs_hub_type ta, tb;
    json_t *body = NULL;
    if (type_param(st, m, "from", resp, &ta) != HS_OK ||
        type_param(st, m, "to", resp, &tb) != HS_OK || pair_check(st, ta, tb, resp) != HS_OK)
        return HS_OK;
    struct hs_hub_record *a = live(st, ta, hs_route_param(m, "fromId"));
    struct hs_hub_record *b = live(st, tb, hs_route_param(m, "toId"));
    if (a == NULL)
        return missing(st, resp, ta, hs_route_param(m, "fromId"));
    if (b == NULL)
        return missing(st, resp, tb, hs_route_param(m, "toId"));
    if (hs_hub_body(st, req, resp, &body) != HS_OK)
        return HS_OK;
    struct hs_hub_err e = {0};
    int rc = add_specs(st, ta, a, tb, b, body, &e);
    json_decref(body);
    if (rc == HS_EINVAL)
        return hs_hub_err_reply(st, resp, &e);
    json_t *o = rc == HS_OK ? labels_pair(ta, a->id, tb, b->id, a) : NULL;
    return o ? hs_http_response_json_take(resp, 201, o) : hs_hub_fail(st, resp, HS_ENOMEM);
}

int hs_hub_assoc_delete(struct hs_hubspot *st, const struct hs_http_request *req,
                        const struct hs_route_match *m, struct hs_http_response *resp)
{
    (void)req;
    enum hs_hub_type ta, tb;
    if (type_param(st, m, "from", resp, &ta) != HS_OK ||
        type_param(st, m, "to", resp, &tb) != HS_OK)
        return HS_OK;
    struct hs_hub_record *a = live(st, ta, hs_route_param(m, "fromId"));
    struct hs_hub_record *b = live(st, tb, hs_route_param(m, "toId"));
    if (a != NULL && b != NULL)
        hs_hub_assoc_remove_pair(st, ta, a, tb, b);
    resp->status = 204;
    return HS_OK;
}

/* [{toObjectId, associationTypes:[{category,typeId,label?}]}] of r towards tb, grouped by
 * target, starting at target id >= after, at most limit targets; *out_next = next target id
 * or 0. */
static json_t *targets_json(const struct hs_hub_record *r, enum hs_hub_type tb, int64_t after,
                            size_t limit, int64_t *out_next)
{
    *out_next = 0;
    json_t *out = json_array();
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < r->n_assocs; i++) {
        const struct hs_hub_assoc *x = &r->assocs[i];
        if (x->to_type != tb || x->to_id < after)
            continue;
        bool seen = false; /* group every type of the same target under its first entry */
        for (size_t k = 0; k < i && !seen; k++)
            seen = r->assocs[k].to_type == tb && r->assocs[k].to_id == x->to_id;
        if (seen)
            continue;
        if (json_array_size(out) == limit) {
            *out_next = x->to_id;
            break;
        }
        json_t *types = json_array();
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)x->to_id);
        if (json_array_append_new(
                out, json_pack("{s:s,s:o*}", "toObjectId", id, "associationTypes", types)) != 0)
            goto fail;
        for (size_t k = i; k < r->n_assocs; k++) {
            if (r->assocs[k].to_type != tb || r->assocs[k].to_id != x->to_id)
                continue;
            const char *label = hs_hub_assoc_label(r->assocs[k].type_id);
            json_t *ty = json_pack("{s:s,s:i}", "category", "HUBSPOT_DEFINED", "typeId",
                                   (int)r->assocs[k].type_id);
            if (ty != NULL && label != NULL &&
                json_object_set_new(ty, "label", json_string(label)) != 0) {
                json_decref(ty);
                goto fail;
            }
            if (json_array_append_new(types, ty) != 0)
                goto fail;
        }
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

int hs_hub_assoc_list(struct hs_hubspot *st, const struct hs_http_request *req,
                      const struct hs_route_match *m, struct hs_http_response *resp)
{
    enum hs_hub_type ta, tb;
    if (type_param(st, m, "from", resp, &ta) != HS_OK ||
        type_param(st, m, "to", resp, &tb) != HS_OK)
        return HS_OK;
    struct hs_hub_record *a = live(st, ta, hs_route_param(m, "fromId"));
    if (a == NULL)
        return missing(st, resp, ta, hs_route_param(m, "fromId"));
    int64_t limit = 500, after = 0;
    char *lv = hs_http_request_query(req, "limit");
    char *av = hs_http_request_query(req, "after");
    bool bad = (lv != NULL &&
                (hs_str_to_i64(lv, strlen(lv), &limit) != HS_OK || limit < 1 || limit > 500)) ||
               (av != NULL && hs_str_to_i64(av, strlen(av), &after) != HS_OK);
    hs_free(lv);
    hs_free(av);
    if (bad)
        return hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                            "limit must be between 1 and 500 and after a cursor from paging");
    int64_t next = 0;
    json_t *results = targets_json(a, tb, after, (size_t)limit, &next);
    json_t *o = results ? json_pack("{s:o}", "results", results) : NULL;
    if (o != NULL && next != 0) {
        char n[24];
        snprintf(n, sizeof n, "%lld", (long long)next);
        if (json_object_set_new(o, "paging", json_pack("{s:{s:s}}", "next", "after", n)) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o ? hs_http_response_json_take(resp, 200, o) : hs_hub_fail(st, resp, HS_ENOMEM);
}

static int batch_assoc_read(struct hs_hubspot *st, enum hs_hub_type ta, enum hs_hub_type tb,
                            const json_t *inputs, struct hs_http_response *resp, int64_t started)
{
    json_t *results = json_array();
    json_t *errors = json_array();
    if (results == NULL || errors == NULL)
        goto oom;
    size_t i;
    json_t *in;
    json_array_foreach(inputs, i, in)
    {
        const char *id = hs_json_str(in, "id");
        struct hs_hub_record *a = live(st, ta, id);
        int64_t next = 0;
        json_t *to = a ? targets_json(a, tb, 0, 500, &next) : NULL;
        if (a != NULL && to == NULL)
            goto oom;
        if (a == NULL || json_array_size(to) == 0) {
            json_decref(to);
            struct hs_hub_err e = {0};
            hs_hub_err_set(&e, 404, "OBJECT_NOT_FOUND", "No %s is associated with %s %.40s.",
                           hs_hub_types[tb].singular, hs_hub_types[ta].singular, id ? id : "");
            e.context = json_pack("{s:[s]}", "fromObjectId", id ? id : "");
            if (json_array_append_new(errors, hs_hub_err_std(&e)) != 0)
                goto oom;
            continue;
        }
        if (json_array_append_new(results,
                                  json_pack("{s:{s:s},s:o}", "from", "id", id, "to", to)) != 0)
            goto oom;
    }
    return hs_hub_batch_reply(st, resp, 200, started, results, errors);
oom:
    json_decref(results);
    json_decref(errors);
    return hs_hub_fail(st, resp, HS_ENOMEM);
}

int hs_hub_assoc_batch(struct hs_hubspot *st, const struct hs_http_request *req,
                       const struct hs_route_match *m, struct hs_http_response *resp)
{
    enum hs_hub_type ta, tb;
    json_t *body = NULL;
    if (type_param(st, m, "from", resp, &ta) != HS_OK ||
        type_param(st, m, "to", resp, &tb) != HS_OK || pair_check(st, ta, tb, resp) != HS_OK)
        return HS_OK;
    const char *op = hs_route_param(m, "op");
    const char *op2 = hs_route_param(m, "op2"); /* "associate/default" */
    bool is_default = hs_str_eq(op, "associate") && hs_str_eq(op2, "default");
    if (!is_default && (op2 != NULL || (!hs_str_eq(op, "read") && !hs_str_eq(op, "create") &&
                                        !hs_str_eq(op, "archive"))))
        return hs_hub_error(st, resp, 404, "OBJECT_NOT_FOUND", NULL,
                            "No association batch operation named '%s'", op ? op : "");
    if (hs_hub_body(st, req, resp, &body) != HS_OK)
        return HS_OK;
    int64_t started = hs_hub_now(st);
    json_t *inputs = json_object_get(body, "inputs");
    int rc = HS_OK;
    if (!json_is_array(inputs)) {
        rc = hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                          "Invalid input JSON: 'inputs' must be an array");
        goto done;
    }
    if (json_array_size(inputs) > (hs_str_eq(op, "read") ? 1000 : 2000)) {
        rc = hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                          "Batch input contains %zu inputs, the limit is %d",
                          json_array_size(inputs), hs_str_eq(op, "read") ? 1000 : 2000);
        goto done;
    }
    if (hs_str_eq(op, "read")) {
        rc = batch_assoc_read(st, ta, tb, inputs, resp, started);
        goto done;
    }
    json_t *results = json_array();
    json_t *errors = json_array();
    if (results == NULL || errors == NULL) {
        json_decref(results);
        json_decref(errors);
        goto oom;
    }
    size_t i;
    json_t *in;
    json_array_foreach(inputs, i, in)
    {
        const char *fid = hs_json_str(json_object_get(in, "from"), "id");
        struct hs_hub_record *a = live(st, ta, fid);
        if (hs_str_eq(op, "archive")) {
            size_t k;
            json_t *to;
            json_array_foreach(json_object_get(in, "to"), k, to)
            {
                struct hs_hub_record *b = live(st, tb, hs_json_str(to, "id"));
                if (a != NULL && b != NULL)
                    hs_hub_assoc_remove_pair(st, ta, a, tb, b);
            }
            continue;
        }
        const char *tid = hs_json_str(json_object_get(in, "to"), "id");
        struct hs_hub_record *b = live(st, tb, tid);
        struct hs_hub_err e = {0};
        if (a == NULL || b == NULL) {
            hs_hub_err_set(&e, 404, "OBJECT_NOT_FOUND", "No %s with id %.40s exists",
                           a == NULL ? hs_hub_types[ta].singular : hs_hub_types[tb].singular,
                           a == NULL ? (fid ? fid : "") : (tid ? tid : ""));
            e.context =
                json_pack("{s:[s]}", "ids", a == NULL ? (fid ? fid : "") : (tid ? tid : ""));
            if (json_array_append_new(errors, hs_hub_err_std(&e)) != 0)
                goto oom_batch;
            continue;
        }
        int r2 = is_default ? add_default(st, ta, a, tb, b, results)
                            : add_specs(st, ta, a, tb, b, json_object_get(in, "types"), &e);
        if (r2 == HS_EINVAL) {
            if (json_array_append_new(errors, hs_hub_err_std(&e)) != 0)
                goto oom_batch;
            continue;
        }
        if (r2 != HS_OK)
            goto oom_batch;
        if (!is_default &&
            json_array_append_new(results, labels_pair(ta, a->id, tb, b->id, a)) != 0)
            goto oom_batch;
    }
    if (hs_str_eq(op, "archive")) {
        json_decref(results);
        json_decref(errors);
        resp->status = 204;
        goto done;
    }
    rc = hs_hub_batch_reply(st, resp, is_default ? 200 : 201, started, results, errors);
    goto done;
oom_batch:
    json_decref(results);
    json_decref(errors);
oom:
    json_decref(body);
    return hs_hub_fail(st, resp, HS_ENOMEM);
done:
    json_decref(body);
    return rc;
}
