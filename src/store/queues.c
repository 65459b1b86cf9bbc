/*
 * store/queues.c - the generic layer of the engine's queues: conflicts, errors and review
 *                  items, create intents and run records (schema migration 3).
 *
 * Design:     like store.c, this file holds the policy (argument checks, the clock, the
 *             writable check) and the backend ops hold the SQL. An item is keyed by what it is
 *             about (kind, flow, object, side, remote_id, field), so the engine can raise the
 *             same problem on every pass without growing the queue: a repeat reopens and
 *             counts. Intents are the crash journal of creates: a row per idempotency key,
 *             written before the provider call and removed in the transaction that links the
 *             result. Run records are small JSON summaries kept in the meta table under
 *             "run:<flow>", which needs no schema of its own.
 * Invariants: every function here is one backend statement, hence atomic on its own; callers
 *             combine them in hs_store_begin/commit.
 * Ownership:  strings in struct hs_store_item are hs_malloc'd and freed by
 *             hs_store_item_release; hs_store_run_get returns a string the caller frees.
 * Not here:   what the engine puts into the queues (src/engine), the SQL (store/sqlite.c).
 */
#include <string.h>

#include "hoopsync/store.h"
#include "store/store_int.h"
#include "util/alloc.h"

#define RUN_KEY_PREFIX "run:"
#define RUN_JSON_MAX   ((size_t)64 * 1024)

const char *hs_store_item_kind_name(enum hs_store_item_kind kind)
{
    switch (kind) {
    case HS_STORE_ITEM_CONFLICT:
        return "conflict";
    case HS_STORE_ITEM_ERROR:
        return "error";
    case HS_STORE_ITEM_REVIEW:
        return "review";
    default:
        return "?";
    }
}

const char *hs_store_item_state_name(enum hs_store_item_state state)
{
    switch (state) {
    case HS_STORE_ITEM_OPEN:
        return "open";
    case HS_STORE_ITEM_RESOLVED:
        return "resolved";
    case HS_STORE_ITEM_RETRY:
        return "retry";
    default:
        return "?";
    }
}

void hs_store_item_release(struct hs_store_item *it)
{
    if (it == NULL)
        return;
    HS_FREE(it->flow);
    HS_FREE(it->object);
    HS_FREE(it->remote_id);
    HS_FREE(it->other_id);
    HS_FREE(it->field);
    HS_FREE(it->message);
    HS_FREE(it->detail);
    HS_FREE(it->resolution);
}

static bool kind_ok(enum hs_store_item_kind kind)
{
    return kind == HS_STORE_ITEM_CONFLICT || kind == HS_STORE_ITEM_ERROR ||
           kind == HS_STORE_ITEM_REVIEW;
}

static bool state_ok(int state)
{
    return state == HS_STORE_ITEM_OPEN || state == HS_STORE_ITEM_RESOLVED ||
           state == HS_STORE_ITEM_RETRY;
}

static bool side_ok(enum hs_store_side side)
{
    return side == HS_STORE_CRM || side == HS_STORE_ACCOUNTING;
}

static bool present(const char *s)
{
    return s != NULL && s[0] != '\0';
}

int hs_store_item_raise(struct hs_store *store, const struct hs_store_item *in, int64_t *out_id,
                        struct hs_error *err)
{
    if (store == NULL || in == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot queue item: missing store or item");
    if (!kind_ok(in->kind))
        return hs_error_set(err, HS_EINVAL, "cannot queue item: invalid kind %d", (int)in->kind);
    if (!present(in->flow) || !present(in->object) || !present(in->remote_id) ||
        !present(in->message))
        return hs_error_set(err, HS_EINVAL,
                            "cannot queue %s item: flow, object, record id and message are "
                            "required",
                            hs_store_item_kind_name(in->kind));
    if (!side_ok(in->side))
        return hs_error_set(err, HS_EINVAL, "cannot queue %s item: invalid side %d",
                            hs_store_item_kind_name(in->kind), (int)in->side);
    int rc = hs_store_writable(store, err);
    if (rc != HS_OK)
        return rc;
    int64_t id = 0;
    rc = store->ops->item_raise(store->impl, in, hs_store_now(store), &id, err);
    if (rc == HS_OK && out_id != NULL)
        *out_id = id;
    return rc;
}

int hs_store_item_get(struct hs_store *store, int64_t id, struct hs_store_item *out,
                      struct hs_error *err)
{
    if (store == NULL || out == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot read item: missing store or output");
    return store->ops->item_get(store->impl, id, out, err);
}

static int filter_ok(enum hs_store_item_kind kind, int state, struct hs_error *err)
{
    if (kind != 0 && !kind_ok(kind))
        return hs_error_set(err, HS_EINVAL, "cannot list items: invalid kind %d", (int)kind);
    if (state >= 0 && !state_ok(state))
        return hs_error_set(err, HS_EINVAL, "cannot list items: invalid state %d", state);
    return HS_OK;
}

int hs_store_item_each(struct hs_store *store, enum hs_store_item_kind kind, const char *flow,
                       int state, hs_store_item_fn cb, void *ud, struct hs_error *err)
{
    if (store == NULL || cb == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot list items: missing store or callback");
    int rc = filter_ok(kind, state, err);
    if (rc != HS_OK)
        return rc;
    return store->ops->item_each(store->impl, kind, flow, state, cb, ud, err);
}

int hs_store_item_count(struct hs_store *store, enum hs_store_item_kind kind, const char *flow,
                        int state, struct hs_error *err)
{
    if (store == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot count items: missing store");
    int rc = filter_ok(kind, state, err);
    if (rc != HS_OK)
        return rc;
    return store->ops->item_count(store->impl, kind, flow, state, err);
}

int hs_store_item_set_state(struct hs_store *store, int64_t id, enum hs_store_item_state state,
                            const char *resolution, struct hs_error *err)
{
    if (store == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot update item: missing store");
    if (!state_ok((int)state))
        return hs_error_set(err, HS_EINVAL, "cannot update item %lld: invalid state %d",
                            (long long)id, (int)state);
    int rc = hs_store_writable(store, err);
    if (rc != HS_OK)
        return rc;
    return store->ops->item_set_state(store->impl, id, state, resolution, hs_store_now(store), err);
}

int hs_store_item_settle(struct hs_store *store, enum hs_store_item_kind kind, const char *flow,
                         const char *object, enum hs_store_side side, const char *remote_id,
                         const char *field, const char *resolution, struct hs_error *err)
{
    if (store == NULL || !kind_ok(kind) || !present(flow) || !present(object) ||
        !present(remote_id) || !side_ok(side))
        return hs_error_set(err, HS_EINVAL, "cannot settle items: missing or invalid argument");
    int rc = hs_store_writable(store, err);
    if (rc != HS_OK)
        return rc;
    return store->ops->item_settle(store->impl, kind, flow, object, side, remote_id, field,
                                   resolution, hs_store_now(store), err);
}

int hs_store_intent_put(struct hs_store *store, const char *key, const char *object,
                        enum hs_store_side side, const char *source_id, struct hs_error *err)
{
    if (store == NULL || !present(key) || !present(object) || !present(source_id) || !side_ok(side))
        return hs_error_set(err, HS_EINVAL,
                            "cannot record create intent: missing or invalid argument");
    int rc = hs_store_writable(store, err);
    if (rc != HS_OK)
        return rc;
    return store->ops->intent_put(store->impl, key, object, side, source_id, hs_store_now(store),
                                  err);
}

int hs_store_intent_get(struct hs_store *store, const char *key, int64_t *out_created_at,
                        struct hs_error *err)
{
    if (store == NULL || !present(key))
        return hs_error_set(err, HS_EINVAL, "cannot read create intent: missing key");
    return store->ops->intent_get(store->impl, key, out_created_at, err);
}

int hs_store_intent_delete(struct hs_store *store, const char *key, struct hs_error *err)
{
    if (store == NULL || !present(key))
        return hs_error_set(err, HS_EINVAL, "cannot remove create intent: missing key");
    int rc = hs_store_writable(store, err);
    if (rc != HS_OK)
        return rc;
    return store->ops->intent_delete(store->impl, key, err);
}

int hs_store_intent_each(struct hs_store *store, const char *object, enum hs_store_side side,
                         hs_store_intent_fn cb, void *ud, struct hs_error *err)
{
    if (store == NULL || object == NULL || cb == NULL ||
        (side != HS_STORE_CRM && side != HS_STORE_ACCOUNTING))
        return hs_error_set(err, HS_EINVAL, "cannot list create intents: missing argument");
    return store->ops->intent_each(store->impl, object, side, cb, ud, err);
}

int hs_store_intent_count(struct hs_store *store, struct hs_error *err)
{
    if (store == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot count create intents: missing store");
    return store->ops->intent_count(store->impl, err);
}

static int run_key(const char *flow, char **out, struct hs_error *err)
{
    *out = NULL;
    if (!present(flow))
        return hs_error_set(err, HS_EINVAL, "missing flow name");
    *out = hs_asprintf(RUN_KEY_PREFIX "%s", flow);
    if (*out == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot name run record of flow '%s': out of memory",
                            flow);
    return HS_OK;
}

int hs_store_run_put(struct hs_store *store, const char *flow, const char *json,
                     struct hs_error *err)
{
    if (store == NULL || json == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot save run record: missing store or JSON");
    size_t len = strlen(json);
    if (len > RUN_JSON_MAX)
        return hs_error_set(err, HS_ETOOBIG,
                            "cannot save run record of flow '%s': %zu bytes exceed the limit of "
                            "%zu",
                            flow != NULL ? flow : "", len, RUN_JSON_MAX);
    char *key = NULL;
    int rc = run_key(flow, &key, err);
    if (rc == HS_OK)
        rc = hs_store_writable(store, err);
    if (rc == HS_OK)
        rc = store->ops->meta_put(store->impl, key, (const uint8_t *)json, len, err);
    hs_free(key);
    return rc;
}

int hs_store_run_get(struct hs_store *store, const char *flow, char **out, struct hs_error *err)
{
    if (store == NULL || out == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot read run record: missing store or output");
    *out = NULL;
    char *key = NULL;
    int rc = run_key(flow, &key, err);
    uint8_t *val = NULL;
    size_t len = 0;
    if (rc == HS_OK)
        rc = store->ops->meta_get(store->impl, key, &val, &len, err);
    hs_free(key);
    if (rc != HS_OK)
        return rc;
    char *s = hs_malloc(len + 1);
    if (s == NULL) {
        hs_free(val);
        return hs_error_set(err, HS_ENOMEM, "cannot read run record of flow '%s': out of memory",
                            flow);
    }
    if (len > 0)
        memcpy(s, val, len);
    s[len] = '\0';
    hs_free(val);
    *out = s;
    return HS_OK;
}
