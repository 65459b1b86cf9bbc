/*
 * sandbox/hubspot_objects.c - HubSpot CRM v3 object endpoints: CRUD, list, batch, search.
 *
 * Design:     every write goes through the same three steps: hs_hub_validate (property names,
 *             read-only properties, value types, normalization; failures are HubSpot's 400
 *             "Property values were not valid: [...]" VALIDATION_ERROR), hs_hub_check_unique
 *             (hasUniqueValue properties; 409 CONFLICT "... already exists. Existing ID: n"),
 *             then hs_hub_create / hs_hub_update, which emit the webhook events. Batch calls
 *             validate every input first and refuse the whole batch with 400 when any input is
 *             malformed (as HubSpot does), then run the inputs in order; per-input failures
 *             (missing ids, unique conflicts) give 207 with errors[] and numErrors. Search
 *             scans the type's records (the only O(n) endpoint), filters, sorts with one
 *             precomputed key per match, and pages by offset, refusing to page past the
 *             10,000-result cap.
 * Threads:    state lock held (handlers run under it).
 * Ownership:  records belong to the stores; JSON built here is handed to the response.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/hubspot.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

/* ---- errors ---- */

void hs_hub_err_set(struct hs_hub_err *e, int status, const char *category, const char *fmt, ...)
{
    e->status = status;
    e->category = category;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

void hs_hub_err_release(struct hs_hub_err *e)
{
    json_decref(e->context);
    json_decref(e->errors);
    e->context = NULL;
    e->errors = NULL;
    e->status = 0;
}

int hs_hub_err_reply(struct hs_hubspot *st, struct hs_http_response *resp, struct hs_hub_err *e)
{
    json_t *extra = json_object();
    if (extra != NULL && e->context != NULL)
        json_object_set(extra, "context", e->context);
    if (extra != NULL && e->errors != NULL)
        json_object_set(extra, "errors", e->errors);
    int rc = hs_hub_error(st, resp, e->status, e->category, extra, "%s", e->msg);
    hs_hub_err_release(e);
    return rc;
}

json_t *hs_hub_err_std(struct hs_hub_err *e)
{
    json_t *ctx = e->context ? json_incref(e->context) : json_object();
    json_t *errs = e->errors ? json_incref(e->errors) : json_array();
    json_t *o = json_pack("{s:s,s:s,s:s,s:o*,s:o*,s:{}}", "status", "error", "category",
                          e->category, "message", e->msg, "context", ctx, "errors", errs, "links");
    hs_hub_err_release(e);
    return o;
}

static int bad_type(struct hs_hubspot *st, struct hs_http_response *resp, const char *name)
{
    return hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                        "Unable to infer object type from: %s", name ? name : "");
}

static int not_found(struct hs_hubspot *st, struct hs_http_response *resp, const char *id)
{
    json_t *extra = json_pack("{s:{s:[s]}}", "context", "id", id ? id : "");
    return hs_hub_error(st, resp, 404, "OBJECT_NOT_FOUND", extra,
                        "Object not found.  objectId are usually numeric.");
}

/* ---- validation ---- */

/* Text of a JSON property value as HubSpot accepts it (strings, numbers, booleans). */
static int value_text(const json_t *v, char *buf, size_t len, const char **out)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        *out = json_string_value(v);
        return HS_OK;
    case JSON_INTEGER:
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        *out = buf;
        return HS_OK;
    case JSON_REAL:
        snprintf(buf, len, "%.17g", json_real_value(v));
        *out = buf;
        return HS_OK;
    case JSON_TRUE:
    case JSON_FALSE:
        *out = json_is_true(v) ? "true" : "false";
        return HS_OK;
    case JSON_NULL:
        *out = NULL;
        return HS_OK;
    default:
        return HS_EINVAL;
    }
}

static int add_invalid(json_t *list, const char *name, const char *code, const char *msg,
                       int64_t portal)
{
    json_t *o =
        json_pack("{s:b,s:s,s:s,s:s,s:s,s:I}", "isValid", 0, "message", msg, "error", code, "name",
                  name, "localizedErrorMessage", msg, "portalId", (json_int_t)portal);
    return json_array_append_new(list, o) == 0 ? HS_OK : HS_ENOMEM;
}

int hs_hub_validate(struct hs_hubspot *st, enum hs_hub_type t, const json_t *props,
                    json_t **out_norm, struct hs_hub_err *e)
{
    *out_norm = NULL;
    if (props != NULL && !json_is_object(props) && !json_is_null(props)) {
        hs_hub_err_set(e, 400, "VALIDATION_ERROR",
                       "Invalid input JSON: 'properties' must be an object of strings");
        return HS_EINVAL;
    }
    struct hs_hub_store *s = &st->stores[t];
    json_t *norm = json_object();
    json_t *invalid = json_array();
    if (norm == NULL || invalid == NULL)
        goto oom;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)props, key, v)
    {
        char msg[512], num[64];
        const char *code = NULL;
        const struct hs_hub_prop *p = hs_hub_prop_get(s, key);
        const char *text = NULL;
        if (p == NULL) {
            snprintf(msg, sizeof msg, "Property \"%.200s\" does not exist", key);
            if (add_invalid(invalid, key, "PROPERTY_DOESNT_EXIST", msg, st->portal_id) != HS_OK)
                goto oom;
            continue;
        }
        if (p->read_only) {
            snprintf(msg, sizeof msg,
                     "\"%.200s\" is a read only property; its value cannot be set.", key);
            if (add_invalid(invalid, key, "READ_ONLY_VALUE", msg, st->portal_id) != HS_OK)
                goto oom;
            continue;
        }
        if (value_text(v, num, sizeof num, &text) != HS_OK) {
            snprintf(msg, sizeof msg, "Property \"%.200s\" must be a string", key);
            if (add_invalid(invalid, key, "INVALID_STRING", msg, st->portal_id) != HS_OK)
                goto oom;
            continue;
        }
        char *normalized = NULL;
        int rc = hs_hub_normalize(p, text, &normalized, &code, msg, sizeof msg);
        if (rc == HS_ENOMEM)
            goto oom;
        if (rc != HS_OK) {
            if (add_invalid(invalid, key, code, msg, st->portal_id) != HS_OK)
                goto oom;
            continue;
        }
        json_t *nv = normalized ? json_string(normalized) : json_null();
        hs_free(normalized);
        if (json_object_set_new(norm, key, nv) != 0)
            goto oom;
    }
    if (json_array_size(invalid) > 0) {
        char *dump = json_dumps(invalid, JSON_COMPACT);
        if (dump == NULL)
            goto oom;
        hs_hub_err_set(e, 400, "VALIDATION_ERROR", "Property values were not valid: %s", dump);
        hs_free(dump);
        json_decref(invalid);
        json_decref(norm);
        return HS_EINVAL;
    }
    json_decref(invalid);
    *out_norm = norm;
    return HS_OK;
oom:
    json_decref(invalid);
    json_decref(norm);
    return HS_ENOMEM;
}

int hs_hub_check_unique(struct hs_hubspot *st, enum hs_hub_type t, const json_t *norm,
                        const struct hs_hub_record *self, struct hs_hub_err *e)
{
    struct hs_hub_store *s = &st->stores[t];
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)norm, key, v)
    {
        const struct hs_hub_prop *p = hs_hub_prop_get(s, key);
        if (p == NULL || p->index == NULL || !json_is_string(v))
            continue;
        json_t *owner = json_object_get(p->index, json_string_value(v));
        if (owner == NULL || (self != NULL && json_integer_value(owner) == self->id))
            continue;
        /* "Contact already exists. Existing ID: 123" */
        const char *sing = hs_hub_types[t].singular;
        hs_hub_err_set(e, 409, "CONFLICT", "%c%s already exists. Existing ID: %lld",
                       sing[0] - ('a' - 'A'), sing + 1, (long long)json_integer_value(owner));
        e->context = json_pack("{s:[s],s:[s]}", "propertyName", key, "value", json_string_value(v));
        return HS_EEXIST;
    }
    return HS_OK;
}

int hs_hub_check_assocs(struct hs_hubspot *st, enum hs_hub_type t, const json_t *assocs,
                        struct hs_hub_err *e)
{
    if (assocs == NULL || json_is_null(assocs))
        return HS_OK;
    if (!json_is_array(assocs)) {
        hs_hub_err_set(e, 400, "VALIDATION_ERROR",
                       "Invalid input JSON: 'associations' must be an array");
        return HS_EINVAL;
    }
    size_t i;
    json_t *a;
    json_array_foreach(assocs, i, a)
    {
        const char *to_id = hs_json_str(json_object_get(a, "to"), "id");
        json_t *types = json_object_get(a, "types");
        if (to_id == NULL || !json_is_array(types) || json_array_size(types) == 0) {
            hs_hub_err_set(e, 400, "VALIDATION_ERROR",
                           "Invalid input JSON: associations[%zu] needs 'to.id' and 'types'", i);
            return HS_EINVAL;
        }
        size_t k;
        json_t *ty;
        json_array_foreach(types, k, ty)
        {
            json_t *tid = json_object_get(ty, "associationTypeId");
            int to = json_is_integer(tid) ? hs_hub_assoc_target(t, (int32_t)json_integer_value(tid))
                                          : -1;
            if (to < 0) {
                hs_hub_err_set(e, 400, "VALIDATION_ERROR",
                               "%lld is not a valid association type id from %s",
                               json_is_integer(tid) ? (long long)json_integer_value(tid) : -1LL,
                               hs_hub_types[t].name);
                return HS_EINVAL;
            }
            const struct hs_hub_record *r = hs_hub_find_str(&st->stores[to], to_id, NULL);
            if (r == NULL || r->archived) {
                hs_hub_err_set(e, 400, "VALIDATION_ERROR",
                               "One or more associations are invalid: %s %.40s does not exist",
                               hs_hub_types[to].singular, to_id);
                e->context = json_pack("{s:[s]}", "ids", to_id);
                return HS_EINVAL;
            }
        }
    }
    return HS_OK;
}

static int apply_assocs(struct hs_hubspot *st, enum hs_hub_type t, struct hs_hub_record *r,
                        const json_t *assocs)
{
    size_t i;
    json_t *a;
    json_array_foreach(assocs, i, a)
    {
        const char *to_id = hs_json_str(json_object_get(a, "to"), "id");
        size_t k;
        json_t *ty;
        json_array_foreach(json_object_get(a, "types"), k, ty)
        {
            int32_t tid = (int32_t)json_integer_value(json_object_get(ty, "associationTypeId"));
            int to = hs_hub_assoc_target(t, tid);
            struct hs_hub_record *other = hs_hub_find_str(&st->stores[to], to_id, NULL);
            if (to < 0 || other == NULL)
                continue;
            int rc = hs_hub_assoc_add(st, t, r, (enum hs_hub_type)to, other, tid);
            if (rc != HS_OK)
                return rc;
        }
    }
    return HS_OK;
}

static int apply_props(struct hs_hubspot *st, enum hs_hub_type t, struct hs_hub_record *r,
                       const json_t *norm, bool emit, bool *changed)
{
    struct hs_hub_store *s = &st->stores[t];
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)norm, key, v)
    {
        const struct hs_hub_prop *p = hs_hub_prop_get(s, key);
        if (p == NULL)
            continue;
        const char *nv = json_string_value(v); /* NULL for null: clear */
        if (p->computed) {                     /* createdate */
            int64_t ms;
            if (nv != NULL && hs_hub_parse_time(nv, &ms) == HS_OK && ms != r->created_ms) {
                r->created_ms = ms;
                *changed = true;
            }
            continue;
        }
        const char *old = hs_json_str(r->props, key);
        if (hs_str_eq(old, nv))
            continue;
        int rc = hs_hub_record_set(s, r, p, nv);
        if (rc != HS_OK)
            return rc;
        *changed = true;
        if (emit)
            hs_hub_emit(st, t, r, "propertyChange", key, nv ? nv : "");
    }
    return HS_OK;
}

int hs_hub_create(struct hs_hubspot *st, enum hs_hub_type t, const json_t *norm,
                  const json_t *assocs, struct hs_hub_record **out)
{
    struct hs_hub_record *r = NULL;
    int rc = hs_hub_record_new(&st->stores[t], hs_hub_new_id(st), hs_hub_now(st), &r);
    if (rc != HS_OK)
        return rc;
    bool changed = false;
    rc = apply_props(st, t, r, norm, false, &changed);
    if (rc == HS_OK && assocs != NULL)
        rc = apply_assocs(st, t, r, assocs);
    /* on ENOMEM the record stays, partially written: the emulator answers 500 like a real
       server that failed mid-way */
    if (rc == HS_OK)
        hs_hub_emit(st, t, r, "creation", NULL, NULL);
    *out = r;
    return rc;
}

int hs_hub_update(struct hs_hubspot *st, enum hs_hub_type t, struct hs_hub_record *r,
                  const json_t *norm)
{
    bool changed = false;
    int rc = apply_props(st, t, r, norm, true, &changed);
    if (changed)
        r->updated_ms = hs_hub_now(st);
    return rc;
}

/* ---- helpers for answers ---- */

static unsigned assoc_mask(const json_t *names)
{
    unsigned mask = 0;
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        int t = hs_hub_type_parse(json_string_value(n));
        if (t >= 0)
            mask |= 1u << t;
    }
    return mask;
}

static bool query_bool(const struct hs_http_request *req, const char *key)
{
    char *v = hs_http_request_query(req, key);
    bool b = v != NULL && hs_str_ieq(v, "true");
    hs_free(v);
    return b;
}

static int reply_record(struct hs_hubspot *st, struct hs_http_response *resp, int status,
                        enum hs_hub_type t, const struct hs_hub_record *r,
                        const struct hs_hub_out *o)
{
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = hs_hub_record_write(&b, t, r, o);
    if (rc == HS_OK)
        rc = hs_hub_reply_buf(resp, status, &b);
    hs_buf_release(&b);
    return rc == HS_OK ? HS_OK : hs_hub_fail(st, resp, rc);
}

static int type_of(struct hs_hubspot *st, const struct hs_route_match *m,
                   struct hs_http_response *resp, enum hs_hub_type *out)
{
    const char *name = hs_route_param(m, "type");
    int t = hs_hub_type_parse(name);
    if (t < 0) {
        bad_type(st, resp, name);
        return HS_EINVAL;
    }
    *out = (enum hs_hub_type)t;
    return HS_OK;
}

/* ---- single-object endpoints ---- */

int hs_hub_obj_create(struct hs_hubspot *st, const struct hs_http_request *req,
                      const struct hs_route_match *m, struct hs_http_response *resp)
{
    enum hs_hub_type t;
    json_t *body = NULL;
    json_t *norm = NULL;
    if (type_of(st, m, resp, &t) != HS_OK || hs_hub_body(st, req, resp, &body) != HS_OK)
        return HS_OK;
    struct hs_hub_err e = {0};
    int rc = hs_hub_validate(st, t, json_object_get(body, "properties"), &norm, &e);
    if (rc == HS_OK)
        rc = hs_hub_check_unique(st, t, norm, NULL, &e);
    if (rc == HS_OK)
        rc = hs_hub_check_assocs(st, t, json_object_get(body, "associations"), &e);
    if (rc == HS_ENOMEM)
        goto oom;
    if (rc != HS_OK) {
        rc = hs_hub_err_reply(st, resp, &e);
        goto done;
    }
    struct hs_hub_record *r = NULL;
    rc = hs_hub_create(st, t, norm, json_object_get(body, "associations"), &r);
    if (rc != HS_OK)
        goto oom;
    struct hs_hub_out out = {NULL, norm, 0, -1, NULL};
    rc = reply_record(st, resp, 201, t, r, &out);
done:
    json_decref(norm);
    json_decref(body);
    return rc;
oom:
    json_decref(norm);
    json_decref(body);
    return hs_hub_fail(st, resp, HS_ENOMEM);
}

int hs_hub_obj_read(struct hs_hubspot *st, const struct hs_http_request *req,
                    const struct hs_route_match *m, struct hs_http_response *resp)
{
    enum hs_hub_type t;
    if (type_of(st, m, resp, &t) != HS_OK)
        return HS_OK;
    const char *id = hs_route_param(m, "id");
    char *idprop = hs_http_request_query(req, "idProperty");
    struct hs_hub_record *r = hs_hub_find_str(&st->stores[t], id, idprop);
    hs_free(idprop);
    bool archived = query_bool(req, "archived");
    if (r == NULL || r->archived != archived)
        return not_found(st, resp, id);
    json_t *props = hs_hub_query_list(req, "properties");
    json_t *assocs = hs_hub_query_list(req, "associations");
    int rc = HS_ENOMEM;
    if (props != NULL && assocs != NULL) {
        struct hs_hub_out out = {props, NULL, assoc_mask(assocs), -1, NULL};
        rc = reply_record(st, resp, 200, t, r, &out);
    } else {
        rc = hs_hub_fail(st, resp, HS_ENOMEM);
    }
    json_decref(props);
    json_decref(assocs);
    return rc;
}

int hs_hub_obj_update(struct hs_hubspot *st, const struct hs_http_request *req,
                      const struct hs_route_match *m, struct hs_http_response *resp)
{
    enum hs_hub_type t;
    if (type_of(st, m, resp, &t) != HS_OK)
        return HS_OK;
    const char *id = hs_route_param(m, "id");
    char *idprop = hs_http_request_query(req, "idProperty");
    struct hs_hub_record *r = hs_hub_find_str(&st->stores[t], id, idprop);
    hs_free(idprop);
    if (r == NULL || r->archived)
        return not_found(st, resp, id);
    json_t *body = NULL;
    json_t *norm = NULL;
    if (hs_hub_body(st, req, resp, &body) != HS_OK)
        return HS_OK;
    struct hs_hub_err e = {0};
    int rc = hs_hub_validate(st, t, json_object_get(body, "properties"), &norm, &e);
    if (rc == HS_OK)
        rc = hs_hub_check_unique(st, t, norm, r, &e);
    if (rc == HS_ENOMEM)
        goto oom;
    if (rc != HS_OK) {
        rc = hs_hub_err_reply(st, resp, &e);
        goto done;
    }
    if (hs_hub_update(st, t, r, norm) != HS_OK)
        goto oom;
    struct hs_hub_out out = {NULL, norm, 0, -1, NULL};
    rc = reply_record(st, resp, 200, t, r, &out);
done:
    json_decref(norm);
    json_decref(body);
    return rc;
oom:
    json_decref(norm);
    json_decref(body);
    return hs_hub_fail(st, resp, HS_ENOMEM);
}

static void archive_one(struct hs_hubspot *st, enum hs_hub_type t, struct hs_hub_record *r)
{
    if (r == NULL || r->archived)
        return;
    hs_hub_record_archive(st, t, r, hs_hub_now(st));
    hs_hub_emit(st, t, r, "deletion", NULL, NULL);
}

int hs_hub_obj_archive(struct hs_hubspot *st, const struct hs_http_request *req,
                       const struct hs_route_match *m, struct hs_http_response *resp)
{
    (void)req;
    enum hs_hub_type t;
    if (type_of(st, m, resp, &t) != HS_OK)
        return HS_OK;
    archive_one(st, t, hs_hub_find_str(&st->stores[t], hs_route_param(m, "id"), NULL));
    resp->status = 204;
    return HS_OK;
}

/* ---- list ---- */

static int query_int(const struct hs_http_request *req, const char *key, int64_t dflt, int64_t *out)
{
    char *v = hs_http_request_query(req, key);
    if (v == NULL) {
        *out = dflt;
        return HS_OK;
    }
    int rc = hs_str_to_i64(v, strlen(v), out);
    hs_free(v);
    return rc == HS_OK ? HS_OK : HS_EINVAL;
}

int hs_hub_obj_list(struct hs_hubspot *st, const struct hs_http_request *req,
                    const struct hs_route_match *m, struct hs_http_response *resp)
{
    enum hs_hub_type t;
    if (type_of(st, m, resp, &t) != HS_OK)
        return HS_OK;
    int64_t limit, after;
    if (query_int(req, "limit", 10, &limit) != HS_OK || limit < 1 || limit > HS_HUB_MAX_LIST)
        return hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                            "limit must be a number between 1 and %d", HS_HUB_MAX_LIST);
    if (query_int(req, "after", 0, &after) != HS_OK || after < 0)
        return hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                            "after must be a paging cursor returned by a previous call");
    bool archived = query_bool(req, "archived");
    const struct hs_hub_store *s = &st->stores[t];
    size_t lo = 0, hi = s->n; /* first index with id >= after */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->recs[mid]->id < after)
            lo = mid + 1;
        else
            hi = mid;
    }
    json_t *props = hs_hub_query_list(req, "properties");
    json_t *assocs = hs_hub_query_list(req, "associations");
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = props != NULL && assocs != NULL ? hs_buf_puts(&b, "{\"results\":[") : HS_ENOMEM;
    struct hs_hub_out out = {props, NULL, assoc_mask(assocs), -1, NULL};
    size_t i = lo;
    int64_t n = 0;
    for (; rc == HS_OK && i < s->n && n < limit; i++) {
        if (s->recs[i]->archived != archived)
            continue;
        if (n++ > 0)
            rc = hs_buf_putc(&b, ',');
        if (rc == HS_OK)
            rc = hs_hub_record_write(&b, t, s->recs[i], &out);
    }
    while (i < s->n && s->recs[i]->archived != archived)
        i++;
    if (rc == HS_OK)
        rc = hs_buf_putc(&b, ']');
    if (rc == HS_OK && i < s->n)
        rc = hs_buf_printf(&b,
                           ",\"paging\":{\"next\":{\"after\":\"%lld\",\"link\":\"/hubspot/crm/v3/"
                           "objects/%s?limit=%lld&after=%lld\"}}",
                           (long long)s->recs[i]->id, hs_hub_types[t].name, (long long)limit,
                           (long long)s->recs[i]->id);
    if (rc == HS_OK)
        rc = hs_buf_putc(&b, '}');
    if (rc == HS_OK)
        rc = hs_hub_reply_buf(resp, 200, &b);
    hs_buf_release(&b);
    json_decref(props);
    json_decref(assocs);
    return rc == HS_OK ? HS_OK : hs_hub_fail(st, resp, rc);
}

/* ---- batch ---- */

static int batch_read(struct hs_hubspot *st, enum hs_hub_type t, const json_t *body,
                      const struct hs_http_request *req, struct hs_http_response *resp,
                      int64_t started)
{
    const json_t *inputs = json_object_get(body, "inputs");
    const char *idprop = hs_json_str(body, "idProperty");
    json_t *props = json_object_get(body, "properties");
    bool archived = query_bool(req, "archived");
    struct hs_buf results;
    hs_buf_init(&results);
    struct hs_hub_out out = {props, NULL, 0, -1, NULL};
    size_t n_results = 0;
    json_t *missing = json_array();
    if (missing == NULL)
        goto oom;
    size_t i;
    json_t *in;
    json_array_foreach(inputs, i, in)
    {
        const char *id = hs_json_str(in, "id");
        struct hs_hub_record *r = hs_hub_find_str(&st->stores[t], id, idprop);
        if (r == NULL || r->archived != archived) {
            if (json_array_append_new(missing, json_string(id ? id : "")) != 0)
                goto oom;
            continue;
        }
        if ((n_results++ > 0 && hs_buf_putc(&results, ',') != HS_OK) ||
            hs_hub_record_write(&results, t, r, &out) != HS_OK)
            goto oom;
    }
    json_t *errors = NULL;
    if (json_array_size(missing) > 0) {
        struct hs_hub_err e = {0};
        hs_hub_err_set(&e, 404, "OBJECT_NOT_FOUND",
                       "Could not get some %s objects, they may be deleted or not exist. Check "
                       "that ids are valid.",
                       hs_hub_types[t].upper);
        e.context = json_pack("{s:O}", "ids", missing);
        errors = json_pack("[o]", hs_hub_err_std(&e));
        if (errors == NULL)
            goto oom;
    }
    json_decref(missing);
    int rc = hs_hub_batch_reply_text(st, resp, 200, started, &results, errors);
    hs_buf_release(&results);
    return rc;
oom:
    hs_buf_release(&results);
    json_decref(missing);
    return hs_hub_fail(st, resp, HS_ENOMEM);
}

/* Validates the properties of every input; 400 for the whole batch on the first failure. */
static int validate_all(struct hs_hubspot *st, enum hs_hub_type t, const json_t *inputs,
                        bool need_id, json_t *norms, struct hs_hub_err *e)
{
    size_t i;
    json_t *in;
    json_array_foreach(inputs, i, in)
    {
        json_t *norm = NULL;
        if (!json_is_object(in) || (need_id && hs_json_str(in, "id") == NULL)) {
            hs_hub_err_set(e, 400, "VALIDATION_ERROR", "Invalid input JSON: inputs[%zu] %s", i,
                           need_id ? "needs an 'id' string" : "must be an object");
            return HS_EINVAL;
        }
        int rc = hs_hub_validate(st, t, json_object_get(in, "properties"), &norm, e);
        if (rc == HS_OK && !need_id)
            rc = hs_hub_check_assocs(st, t, json_object_get(in, "associations"), e);
        if (rc != HS_OK) {
            json_decref(norm);
            return rc;
        }
        if (json_array_append_new(norms, norm) != 0)
            return HS_ENOMEM;
    }
    return HS_OK;
}

static int push_error(json_t *errors, struct hs_hub_err *e)
{
    json_t *o = hs_hub_err_std(e);
    return json_array_append_new(errors, o) == 0 ? HS_OK : HS_ENOMEM;
}

enum batch_op { OP_CREATE, OP_UPDATE, OP_UPSERT };

static int batch_write(struct hs_hubspot *st, enum hs_hub_type t, const json_t *body,
                       enum batch_op op, struct hs_http_response *resp, int64_t started)
{
    const json_t *inputs = json_object_get(body, "inputs");
    json_t *norms = json_array();
    struct hs_buf results;
    hs_buf_init(&results);
    size_t n_results = 0;
    json_t *errors = json_array();
    json_t *missing = json_array();
    struct hs_hub_err e = {0};
    if (norms == NULL || errors == NULL || missing == NULL ||
        hs_buf_reserve(&results, json_array_size(inputs) * 320) != HS_OK)
        goto oom;
    if (op == OP_UPSERT) {
        size_t i;
        json_t *in;
        json_array_foreach(inputs, i, in)
        {
            const char *ip = hs_json_str(in, "idProperty");
            const struct hs_hub_prop *p = ip ? hs_hub_prop_get(&st->stores[t], ip) : NULL;
            if (p == NULL || p->index == NULL) {
                hs_hub_err_set(&e, 400, "VALIDATION_ERROR",
                               "Upsert needs 'idProperty' naming a unique value property of %s "
                               "(inputs[%zu] has '%.100s')",
                               hs_hub_types[t].name, i, ip ? ip : "");
                goto reply_err;
            }
        }
    }
    int rc = validate_all(st, t, inputs, op != OP_CREATE, norms, &e);
    if (rc == HS_ENOMEM)
        goto oom;
    if (rc != HS_OK)
        goto reply_err;
    size_t i;
    json_t *in;
    json_array_foreach(inputs, i, in)
    {
        json_t *norm = json_array_get(norms, i);
        const char *id = hs_json_str(in, "id");
        const char *idprop = hs_json_str(in, "idProperty");
        struct hs_hub_record *r = NULL;
        bool created = false;
        if (op != OP_CREATE) {
            r = hs_hub_find_str(&st->stores[t], id, idprop);
            if (r != NULL && r->archived)
                r = NULL;
            if (r == NULL && op == OP_UPDATE) {
                if (json_array_append_new(missing, json_string(id)) != 0)
                    goto oom;
                continue;
            }
            if (r == NULL && json_object_set_new(norm, idprop, json_string(id)) != 0)
                goto oom;
        }
        rc = hs_hub_check_unique(st, t, norm, r, &e);
        if (rc != HS_OK) {
            if (e.status == 0 || push_error(errors, &e) != HS_OK)
                goto oom;
            continue;
        }
        if (r == NULL) {
            rc = hs_hub_create(st, t, norm,
                               op == OP_CREATE ? json_object_get(in, "associations") : NULL, &r);
            created = true;
        } else {
            rc = hs_hub_update(st, t, r, norm);
        }
        if (rc != HS_OK)
            goto oom;
        struct hs_hub_out out = {NULL, norm, 0, op == OP_UPSERT ? (created ? 1 : 0) : -1,
                                 hs_json_str(in, "objectWriteTraceId")};
        if ((n_results++ > 0 && hs_buf_putc(&results, ',') != HS_OK) ||
            hs_hub_record_write(&results, t, r, &out) != HS_OK)
            goto oom;
    }
    if (json_array_size(missing) > 0) {
        hs_hub_err_set(&e, 404, "OBJECT_NOT_FOUND",
                       "Could not get some %s objects, they may be deleted or not exist. Check "
                       "that ids are valid.",
                       hs_hub_types[t].upper);
        e.context = json_pack("{s:O}", "ids", missing);
        if (push_error(errors, &e) != HS_OK)
            goto oom;
    }
    json_decref(norms);
    json_decref(missing);
    rc = hs_hub_batch_reply_text(st, resp, op == OP_CREATE ? 201 : 200, started, &results, errors);
    hs_buf_release(&results);
    return rc;
reply_err:
    json_decref(norms);
    hs_buf_release(&results);
    json_decref(errors);
    json_decref(missing);
    return hs_hub_err_reply(st, resp, &e);
oom:
    hs_hub_err_release(&e);
    json_decref(norms);
    hs_buf_release(&results);
    json_decref(errors);
    json_decref(missing);
    return hs_hub_fail(st, resp, HS_ENOMEM);
}

int hs_hub_obj_batch(struct hs_hubspot *st, const struct hs_http_request *req,
                     const struct hs_route_match *m, struct hs_http_response *resp)
{
    enum hs_hub_type t;
    json_t *body = NULL;
    if (type_of(st, m, resp, &t) != HS_OK)
        return HS_OK;
    const char *op = hs_route_param(m, "op");
    if (!hs_str_eq(op, "read") && !hs_str_eq(op, "create") && !hs_str_eq(op, "update") &&
        !hs_str_eq(op, "upsert") && !hs_str_eq(op, "archive"))
        return hs_hub_error(st, resp, 404, "OBJECT_NOT_FOUND", NULL,
                            "No batch operation named '%s'", op ? op : "");
    if (hs_hub_body(st, req, resp, &body) != HS_OK)
        return HS_OK;
    int64_t started = hs_hub_now(st);
    json_t *inputs = json_object_get(body, "inputs");
    int rc;
    if (!json_is_array(inputs)) {
        rc = hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL,
                          "Invalid input JSON: 'inputs' must be an array");
    } else if (json_array_size(inputs) > HS_HUB_MAX_BATCH) {
        json_t *extra = json_pack("{s:[{s:s,s:s,s:s}],s:{s:[s]}}", "errors", "message",
                                  "size must be between 0 and 100", "in", "inputs", "code",
                                  "INVALID_SIZE", "context", "maxInputs", "100");
        rc = hs_hub_error(st, resp, 400, "VALIDATION_ERROR", extra,
                          "Batch input contains %zu inputs, the limit is %d",
                          json_array_size(inputs), HS_HUB_MAX_BATCH);
    } else if (hs_str_eq(op, "read")) {
        rc = batch_read(st, t, body, req, resp, started);
    } else if (hs_str_eq(op, "archive")) {
        size_t i;
        json_t *in;
        json_array_foreach(inputs, i, in)
        {
            archive_one(st, t, hs_hub_find_str(&st->stores[t], hs_json_str(in, "id"), NULL));
        }
        resp->status = 204;
        rc = HS_OK;
    } else {
        enum batch_op bop = hs_str_eq(op, "create")   ? OP_CREATE
                            : hs_str_eq(op, "update") ? OP_UPDATE
                                                      : OP_UPSERT;
        rc = batch_write(st, t, body, bop, resp, started);
    }
    json_decref(body);
    return rc;
}

/* ---- search ---- */

enum filter_op {
    F_EQ,
    F_NEQ,
    F_LT,
    F_LTE,
    F_GT,
    F_GTE,
    F_BETWEEN,
    F_IN,
    F_NOT_IN,
    F_HAS,
    F_NOT_HAS,
    F_CONTAINS,
    F_NOT_CONTAINS
};

static const char *const filter_names[] = {"EQ",
                                           "NEQ",
                                           "LT",
                                           "LTE",
                                           "GT",
                                           "GTE",
                                           "BETWEEN",
                                           "IN",
                                           "NOT_IN",
                                           "HAS_PROPERTY",
                                           "NOT_HAS_PROPERTY",
                                           "CONTAINS_TOKEN",
                                           "NOT_CONTAINS_TOKEN"};

/* A value parsed once as its kind (see num_of). */
struct num_key {
    bool ok;
    int64_t num;
};

struct filter {
    const char *prop;
    enum filter_op op;
    enum hs_hub_kind kind;
    const char *value;
    const char *high;
    const json_t *values;
    struct num_key value_num; /* value and high parsed once as kind */
    struct num_key high_num;
};

#define MAX_GROUPS  6
#define MAX_FILTERS 6
#define MAX_TOTAL   18

/* Text comparison, ASCII case folded: -1, 0, 1. */
static int cmp_text(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = (*a >= 'A' && *a <= 'Z') ? *a + 32 : (unsigned char)*a;
        int cb = (*b >= 'A' && *b <= 'Z') ? *b + 32 : (unsigned char)*b;
        if (ca != cb || ca == 0)
            return (ca > cb) - (ca < cb);
    }
}

/* s parsed as a kind value (decimal micro-units or epoch ms); ok false when s is NULL, not
 * of a numeric kind, or does not parse. */
static struct num_key num_of(enum hs_hub_kind kind, const char *s)
{
    struct num_key k = {false, 0};
    if (s == NULL)
        return k;
    if (kind == HS_HUB_NUMBER)
        k.ok = hs_hub_parse_decimal(s, &k.num) == HS_OK;
    else if (kind == HS_HUB_DATETIME || kind == HS_HUB_DATE)
        k.ok = hs_hub_parse_time(s, &k.num) == HS_OK;
    return k;
}

/* cmp_kind on values already parsed by num_of (each value is parsed once, not per
 * comparison): numbers when both parse, text otherwise. */
static int cmp_pre(const char *a, struct num_key ka, const char *b, struct num_key kb)
{
    if (a == NULL || b == NULL)
        return (a != NULL) - (b != NULL);
    if (ka.ok && kb.ok)
        return (ka.num > kb.num) - (ka.num < kb.num);
    return cmp_text(a, b);
}

/* Compares a and b as kind values: -1, 0, 1. Values that do not parse compare as text. */
static int cmp_kind(enum hs_hub_kind kind, const char *a, const char *b)
{
    return cmp_pre(a, num_of(kind, a), b, num_of(kind, b));
}

static bool is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (unsigned char)c >= 0x80;
}

/* Case-insensitive glob with '*' over the whole of s. */
static bool glob(const char *p, const char *s)
{
    if (*p == '\0')
        return *s == '\0';
    if (*p == '*')
        return glob(p + 1, s) || (*s != '\0' && glob(p, s + 1));
    int cp = (*p >= 'A' && *p <= 'Z') ? *p + 32 : *p;
    int cs = (*s >= 'A' && *s <= 'Z') ? *s + 32 : *s;
    return *s != '\0' && cp == cs && glob(p + 1, s + 1);
}

/* CONTAINS_TOKEN: a glob ("*@example.com") over the whole value, or a whole word of it. */
static bool contains_token(const char *v, const char *token)
{
    if (strchr(token, '*') != NULL)
        return glob(token, v);
    size_t n = strlen(token);
    for (const char *p = v; *p != '\0';) {
        while (*p != '\0' && !is_word(*p))
            p++;
        const char *w = p;
        while (*p != '\0' && is_word(*p))
            p++;
        if ((size_t)(p - w) == n && n > 0) {
            char buf[256];
            if (n < sizeof buf) {
                memcpy(buf, w, n);
                buf[n] = '\0';
                if (cmp_kind(HS_HUB_STRING, buf, token) == 0)
                    return true;
            }
        }
    }
    return false;
}

/* The range of epoch ms that hs_hub_iso writes as is (years 0000 to 9999). */
#define ISO_MIN_MS (-62167219200000LL)
#define ISO_MAX_MS 253402300799999LL

/* True with *ms when name is one of the times a record keeps as a number (createdate, the
 * last-modified property) and kind is a time kind: then num_of(kind, hs_hub_value(...)) is
 * exactly that number (hs_hub_iso's text parses back to it), so searches compare it without
 * writing and re-reading the text, once per record per filter and per sort key. */
static bool stored_time(enum hs_hub_type t, const struct hs_hub_record *r, const char *name,
                        enum hs_hub_kind kind, int64_t *ms)
{
    if (kind != HS_HUB_DATETIME && kind != HS_HUB_DATE)
        return false;
    if (hs_str_eq(name, "createdate"))
        *ms = r->created_ms;
    else if (hs_str_eq(name, hs_hub_types[t].lastmod))
        *ms = r->updated_ms;
    else
        return false;
    return *ms >= ISO_MIN_MS && *ms <= ISO_MAX_MS;
}

/* Applies an ordering operator (EQ, NEQ, LT, LTE, GT, GTE, BETWEEN) to the comparisons of the
 * value with f->value (c) and with f->high (c_high, BETWEEN only). */
static bool order_match(enum filter_op op, int c, int c_high)
{
    switch (op) {
    case F_EQ:
        return c == 0;
    case F_NEQ:
        return c != 0;
    case F_LT:
        return c < 0;
    case F_LTE:
        return c <= 0;
    case F_GT:
        return c > 0;
    case F_GTE:
        return c >= 0;
    case F_BETWEEN:
        return c >= 0 && c_high <= 0;
    default:
        return false;
    }
}

static bool filter_match(enum hs_hub_type t, const struct hs_hub_record *r, const struct filter *f)
{
    bool ordering = f->op <= F_BETWEEN;
    int64_t ms;
    if (ordering && f->value_num.ok && (f->op != F_BETWEEN || f->high_num.ok) &&
        stored_time(t, r, f->prop, f->kind, &ms)) {
        /* both sides are numbers: the text of the value would not be looked at */
        const struct num_key vn = {true, ms};
        int c_high = f->op == F_BETWEEN ? cmp_pre("", vn, f->high, f->high_num) : 0;
        return order_match(f->op, cmp_pre("", vn, f->value, f->value_num), c_high);
    }
    char tmp[64];
    const char *v = hs_hub_value(t, r, f->prop, tmp);
    switch (f->op) {
    case F_HAS:
        return v != NULL;
    case F_NOT_HAS:
        return v == NULL;
    case F_NEQ:
        return v == NULL || cmp_pre(v, num_of(f->kind, v), f->value, f->value_num) != 0;
    case F_NOT_IN:
    case F_IN: {
        bool in = false;
        size_t i;
        json_t *x;
        json_array_foreach(f->values, i, x)
        {
            if (v != NULL && json_is_string(x) && cmp_kind(f->kind, v, json_string_value(x)) == 0)
                in = true;
        }
        return f->op == F_IN ? in : !in;
    }
    case F_NOT_CONTAINS:
        return v == NULL || !contains_token(v, f->value);
    case F_CONTAINS:
        return v != NULL && contains_token(v, f->value);
    default:
        break;
    }
    if (v == NULL)
        return false;
    struct num_key vn = num_of(f->kind, v);
    int c_high = f->op == F_BETWEEN ? cmp_pre(v, vn, f->high, f->high_num) : 0;
    return order_match(f->op, cmp_pre(v, vn, f->value, f->value_num), c_high);
}

struct sort_item {
    const struct hs_hub_record *r;
    const char *key; /* stored value, or NULL (then see in_tmp) */
    bool in_tmp;     /* the key is the computed value in tmp (survives qsort moves) */
    char tmp[64];
    struct num_key num; /* the key parsed once as kind */
    bool lazy;          /* a stored time (num): tmp is written only if text is compared */
    int dir;            /* 1 ascending, -1 descending */
};

static const char *sort_key(const struct sort_item *x)
{
    return x->in_tmp ? x->tmp : x->key;
}

static int sort_cmp(const void *pa, const void *pb)
{
    const struct sort_item *a = pa;
    const struct sort_item *b = pb;
    const char *ka = sort_key(a);
    const char *kb = sort_key(b);
    int c;
    if (ka == NULL || kb == NULL) /* records without the property sort last */
        c = (ka == NULL) - (kb == NULL);
    else
        c = cmp_pre(ka, a->num, kb, b->num) * a->dir;
    if (c == 0)
        c = (a->r->id > b->r->id) - (a->r->id < b->r->id);
    return c;
}

static bool query_match(enum hs_hub_type t, const struct hs_hub_record *r, const char *q)
{
    char tmp[64];
    size_t qn = strlen(q);
    for (const char *const *d = hs_hub_types[t].defaults; *d != NULL; d++) {
        const char *v = hs_hub_value(t, r, *d, tmp);
        for (const char *p = v; p != NULL && *p != '\0'; p++) {
            size_t k = 0;
            while (k < qn && p[k] != '\0' &&
                   ((p[k] >= 'A' && p[k] <= 'Z') ? p[k] + 32 : p[k]) ==
                       ((q[k] >= 'A' && q[k] <= 'Z') ? q[k] + 32 : q[k]))
                k++;
            if (k == qn)
                return true;
        }
    }
    return false;
}

static int search_error(struct hs_hubspot *st, struct hs_http_response *resp, const char *msg)
{
    return hs_hub_error(st, resp, 400, "VALIDATION_ERROR", NULL, "%s", msg);
}

int hs_hub_obj_search(struct hs_hubspot *st, const struct hs_http_request *req,
                      const struct hs_route_match *m, struct hs_http_response *resp)
{
    enum hs_hub_type t;
    json_t *body = NULL;
    if (type_of(st, m, resp, &t) != HS_OK || hs_hub_body(st, req, resp, &body) != HS_OK)
        return HS_OK;
    struct filter filters[MAX_GROUPS][MAX_FILTERS];
    memset(filters, 0, sizeof filters);
    size_t n_in_group[MAX_GROUPS] = {0};
    size_t n_groups = 0, total_filters = 0;
    struct sort_item *items = NULL;
    json_t *names = NULL;
    int rc = HS_OK;
    char msg[256];
    const struct hs_hub_store *s = &st->stores[t];

    json_t *groups = json_object_get(body, "filterGroups");
    if (groups != NULL && !json_is_array(groups)) {
        rc = search_error(st, resp, "Invalid input JSON: 'filterGroups' must be an array");
        goto done;
    }
    if (json_array_size(groups) > MAX_GROUPS) {
        snprintf(msg, sizeof msg, "Too many filter groups (%zu); the limit is %d",
                 json_array_size(groups), MAX_GROUPS);
        rc = search_error(st, resp, msg);
        goto done;
    }
    size_t gi;
    json_t *g;
    json_array_foreach(groups, gi, g)
    {
        json_t *fl = json_object_get(g, "filters");
        if (!json_is_array(fl) || json_array_size(fl) > MAX_FILTERS) {
            snprintf(msg, sizeof msg,
                     "filterGroups[%zu] needs a 'filters' array of at most %d filters", gi,
                     MAX_FILTERS);
            rc = search_error(st, resp, msg);
            goto done;
        }
        total_filters += json_array_size(fl);
        if (total_filters > MAX_TOTAL) {
            snprintf(msg, sizeof msg, "Too many filters; the limit is %d in total", MAX_TOTAL);
            rc = search_error(st, resp, msg);
            goto done;
        }
        size_t fi;
        json_t *f;
        json_array_foreach(fl, fi, f)
        {
            struct filter *x = &filters[gi][fi];
            const char *op = hs_json_str(f, "operator");
            x->prop = hs_json_str(f, "propertyName");
            x->value = hs_json_str(f, "value");
            x->high = hs_json_str(f, "highValue");
            x->values = json_object_get(f, "values");
            int opi = -1;
            for (size_t k = 0; op != NULL && k < sizeof filter_names / sizeof *filter_names; k++)
                if (strcmp(op, filter_names[k]) == 0)
                    opi = (int)k;
            if (x->prop == NULL || opi < 0) {
                snprintf(msg, sizeof msg,
                         "filterGroups[%zu].filters[%zu] needs 'propertyName' and a known "
                         "'operator'",
                         gi, fi);
                rc = search_error(st, resp, msg);
                goto done;
            }
            x->op = (enum filter_op)opi;
            const struct hs_hub_prop *p = hs_hub_prop_get(s, x->prop);
            x->kind = p ? p->kind : HS_HUB_STRING;
            x->value_num = num_of(x->kind, x->value);
            x->high_num = num_of(x->kind, x->high);
            bool needs_value =
                x->op != F_HAS && x->op != F_NOT_HAS && x->op != F_IN && x->op != F_NOT_IN;
            if ((needs_value && x->value == NULL) || (x->op == F_BETWEEN && x->high == NULL) ||
                ((x->op == F_IN || x->op == F_NOT_IN) && !json_is_array(x->values))) {
                snprintf(msg, sizeof msg, "filterGroups[%zu].filters[%zu]: operator %s needs %s",
                         gi, fi, op,
                         x->op == F_BETWEEN                     ? "'value' and 'highValue'"
                         : (x->op == F_IN || x->op == F_NOT_IN) ? "'values'"
                                                                : "'value'");
                rc = search_error(st, resp, msg);
                goto done;
            }
        }
        n_in_group[gi] = json_array_size(fl);
        n_groups = gi + 1;
    }
    const char *q = hs_json_str(body, "query");
    if (q != NULL && strlen(q) > 3000) {
        rc = search_error(st, resp, "query must be at most 3000 characters");
        goto done;
    }
    json_t *lj = json_object_get(body, "limit");
    int64_t limit = json_is_integer(lj) ? json_integer_value(lj) : 10;
    if (limit < 0 || limit > HS_HUB_MAX_SEARCH) {
        snprintf(msg, sizeof msg, "limit must be between 0 and %d", HS_HUB_MAX_SEARCH);
        rc = search_error(st, resp, msg);
        goto done;
    }
    json_t *aj = json_object_get(body, "after");
    int64_t after = 0;
    if (json_is_string(aj) && json_string_length(aj) > 0 &&
        hs_str_to_i64(json_string_value(aj), json_string_length(aj), &after) != HS_OK)
        after = -1;
    else if (json_is_integer(aj))
        after = json_integer_value(aj);
    if (after < 0) {
        rc = search_error(st, resp, "after must be a paging cursor returned by a previous search");
        goto done;
    }
    if (after + limit > HS_HUB_SEARCH_CAP) {
        snprintf(msg, sizeof msg,
                 "Search results are limited to %d records: after %lld with limit %lld goes "
                 "past them. Narrow the filters (e.g. on %s) instead of paging further",
                 HS_HUB_SEARCH_CAP, (long long)after, (long long)limit, hs_hub_types[t].lastmod);
        rc = search_error(st, resp, msg);
        goto done;
    }
    /* sort: ["prop"], ["-prop"] (spec form) or [{"propertyName","direction"}] (docs form) */
    const char *sort_prop = NULL;
    int dir = 1;
    json_t *sorts = json_object_get(body, "sorts");
    json_t *s0 = json_array_get(sorts, 0);
    if (json_is_string(s0)) {
        sort_prop = json_string_value(s0);
        if (sort_prop[0] == '-') {
            dir = -1;
            sort_prop++;
        }
    } else if (json_is_object(s0)) {
        sort_prop = hs_json_str(s0, "propertyName");
        dir = hs_str_eq(hs_json_str(s0, "direction"), "DESCENDING") ? -1 : 1;
    }
    const struct hs_hub_prop *sp = sort_prop ? hs_hub_prop_get(s, sort_prop) : NULL;

    items = hs_calloc(s->n ? s->n : 1, sizeof *items);
    if (items == NULL)
        goto oom;
    size_t n = 0;
    bool any_text = false; /* a sort key compares as text: lazy keys need theirs */
    for (size_t i = 0; i < s->n; i++) {
        const struct hs_hub_record *r = s->recs[i];
        if (r->archived)
            continue;
        bool ok = n_groups == 0;
        for (size_t gj = 0; gj < n_groups && !ok; gj++) {
            bool all = true;
            for (size_t fj = 0; fj < n_in_group[gj] && all; fj++)
                all = filter_match(t, r, &filters[gj][fj]);
            ok = all;
        }
        if (ok && q != NULL && q[0] != '\0')
            ok = query_match(t, r, q);
        if (!ok)
            continue;
        struct sort_item *it = &items[n++];
        it->r = r;
        it->dir = dir;
        if (sort_prop != NULL) {
            const enum hs_hub_kind kind = sp ? sp->kind : HS_HUB_STRING;
            if (stored_time(t, r, sort_prop, kind, &it->num.num)) {
                it->num.ok = true;
                it->lazy = true;
                it->key = it->tmp;
                it->in_tmp = true;
            } else {
                it->key = hs_hub_value(t, r, sort_prop, it->tmp);
                it->in_tmp = it->key == it->tmp;
                it->num = num_of(kind, it->key);
                any_text = any_text || (it->key != NULL && !it->num.ok);
            }
        }
    }
    for (size_t i = 0; any_text && i < n; i++)
        if (items[i].lazy)
            hs_hub_iso(items[i].num.num, items[i].tmp); /* what hs_hub_value writes */
    if (sort_prop != NULL)
        qsort(items, n, sizeof *items, sort_cmp);
    names = json_array();
    json_t *req_props = json_object_get(body, "properties");
    if (names == NULL)
        goto oom;
    if (json_array_size(req_props) > 0) {
        size_t k;
        json_t *pn;
        json_array_foreach(req_props, k, pn)
        {
            if (json_array_append(names, pn) != 0)
                goto oom;
        }
        const char *always[] = {"createdate", hs_hub_types[t].lastmod, "hs_object_id"};
        for (size_t k2 = 0; k2 < 3; k2++)
            if (json_array_append_new(names, json_string(always[k2])) != 0)
                goto oom;
    }
    struct hs_hub_out ro = {names, NULL, 0, -1, NULL};
    struct hs_buf b;
    hs_buf_init(&b);
    rc = hs_buf_printf(&b, "{\"total\":%zu,\"results\":[", n);
    for (size_t i = (size_t)after; rc == HS_OK && i < n && i < (size_t)(after + limit); i++) {
        if (i > (size_t)after)
            rc = hs_buf_putc(&b, ',');
        if (rc == HS_OK)
            rc = hs_hub_record_write(&b, t, items[i].r, &ro);
    }
    if (rc == HS_OK)
        rc = hs_buf_putc(&b, ']');
    if (rc == HS_OK && (size_t)(after + limit) < n && limit > 0)
        rc = hs_buf_printf(&b, ",\"paging\":{\"next\":{\"after\":\"%lld\"}}",
                           (long long)after + (long long)limit);
    if (rc == HS_OK)
        rc = hs_buf_putc(&b, '}');
    if (rc == HS_OK)
        rc = hs_hub_reply_buf(resp, 200, &b);
    hs_buf_release(&b);
    if (rc != HS_OK)
        goto oom;
done:
    hs_free(items);
    json_decref(names);
    json_decref(body);
    return rc;
oom:
    hs_free(items);
    json_decref(names);
    json_decref(body);
    return hs_hub_fail(st, resp, HS_ENOMEM);
}
