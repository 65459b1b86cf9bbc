/*
 * engine/engine.c - the sync engine: open, change detection, the pass and the plan.
 *
 * Design:     see engine/engine.h for the steps of a pass. This file keeps them in one place
 *             so the order of side effects is visible: intents before provider creates; bases,
 *             links, mirror, audit and intent removal in one transaction per pair after its
 *             writes; dirty entries completed last. The same code runs the plan with `dry`
 *             set: every store write and provider write is skipped and reported instead.
 *             A pass claims the whole dirty set, reads every changed record of both sides
 *             (refreshing the mirror) and only then decides, so matching sees both sides'
 *             latest state, also on the first backfill. Decisions run group by group (one
 *             kind, one side; CRM first): decide, write, commit, so a link made by one group
 *             is seen by the next (a record we created comes back through the other side's
 *             change feed already linked and merges as a no-op).
 *             Bases are stored as a flat JSON object of the side's field view
 *             ({"display_name":"Acme",...}) plus "@written"/"@updated_at"/"@version" after a
 *             write (see fields_to_json); the mirror holds the record JSON (model.h).
 * Invariants: a pair's bases are stored only when all of its writes succeeded; an error item
 *             raised for a record is settled when that record later syncs cleanly. A write
 *             call that fails part-way through a slice (a provider's day limit spent:
 *             HS_ERATELIMIT) stops the pass only after the records the calls before it
 *             answered are committed as on success; the records not sent (ENG_UNSENT) store
 *             nothing, keep their intents and stay pending, so no day resends what an earlier
 *             one got answered.
 * Threads:    one thread per engine (see engine.h).
 * Ownership:  records read from connectors are owned by the group that read them and freed
 *             when the group is done; reports own their strings.
 * Not here:   merge and mapping rules (core/merge.c, core/mapping.c), matching keys
 *             (engine/index.c), which records a flow's filter takes (engine/filter.c; this
 *             file decides what a refused record means: filter_pass), provider I/O
 *             (connectors).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/hash.h"
#include "core/merge.h"
#include "core/validate.h"
#include "engine/engine.h"
#include "engine/engine_int.h"
#include "net/ratelimit.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/json.h"

#define DEFAULT_LEASE_MS    300000
#define DEFAULT_CLAIM_BATCH 1000
#define MAX_PAGES           1000000 /* change-feed pages per detect, against a broken feed */
#define MAX_LIMITS          64      /* provider field limits per kind */
/* Default of hs_engine_config.slice: a multiple of the batch sizes (QuickBooks 30, Xero 50,
 * HubSpot 100), so slicing costs no extra calls; and small, for the rate-limited backfill:
 * a slice's CRM reads (HubSpot: 6 search pages, 12 batch reads of 3 calls) fit well inside
 * HubSpot's burst of 100 calls, so the first writes need not wait for its window, and the
 * engine's work between two slices' writes (commit, mirror, matching: about 0.1 ms a record)
 * stays short enough for the accounting side's window to absorb. 3000 measured 1.06x of the
 * bound with QuickBooks and Xero, 1200 1.03-1.04x (bench/backfill). */
#define DEFAULT_SLICE 1200

struct flow_rt {
    const struct hs_config_flow *cf;
    enum hs_kind kind;
    struct hs_mapping *map;
    struct eng_filter *filter; /* NULL: the flow takes every record (engine/filter.c) */
    unsigned filter_sides;     /* eng_filter_pair_sides(filter) */
    bool first_of_kind;        /* no earlier flow syncs kind */
    bool last_of_kind;         /* no later flow syncs kind: it reports what no flow takes */
};

struct hs_engine {
    struct hs_engine_config cfg;
    struct hs_env env;
    char *owner;
    struct flow_rt *flows;
    size_t n_flows;
    struct eng_filter *invoice_filter; /* the invoices flow's filter besides dealstage */
    bool dry;
    struct hs_engine_report *rep;
    struct hs_engine_report scratch; /* used when the caller passes no report */
    /* plan mode: changed ids per side and kind, collected without storing */
    struct hs_fields planned[3][HS_KIND_MAX + 1];
    /* per pass, per side: customer names in use (folded -> id; "" for creates of this pass),
     * loaded from the mirror when a unique field is first checked */
    struct hs_fields taken[3];
    bool taken_loaded[3];
};

/* ---- small helpers ---------------------------------------------------------------------- */

static enum hs_side other_side(enum hs_side s)
{
    return s == HS_SIDE_CRM ? HS_SIDE_ACCOUNTING : HS_SIDE_CRM;
}

static const char *side_name(enum hs_side s)
{
    return s == HS_SIDE_CRM ? "crm" : "accounting";
}

static const struct hs_engine_side *side_of(const struct hs_engine *e, enum hs_side s)
{
    return s == HS_SIDE_CRM ? &e->cfg.crm : &e->cfg.accounting;
}

static bool flow_allows(const struct flow_rt *fl, enum hs_side from)
{
    enum hs_config_direction d = fl->cf->direction;
    if (d == HS_CONFIG_DIRECTION_BOTH)
        return true;
    return from == HS_SIDE_CRM ? d == HS_CONFIG_DIRECTION_CRM_TO_ACCOUNTING
                               : d == HS_CONFIG_DIRECTION_ACCOUNTING_TO_CRM;
}

static size_t read_batch(struct hs_engine *e, enum hs_side s, enum hs_kind kind)
{
    struct hs_connector_limits lim = {0};
    const struct hs_engine_side *sd = side_of(e, s);
    sd->ops->limits(sd->conn, kind, &lim);
    size_t n = lim.read_batch;
    if (e->cfg.config != NULL && e->cfg.config->sync.read_batch > 0 &&
        (n == 0 || e->cfg.config->sync.read_batch < n))
        n = e->cfg.config->sync.read_batch;
    return n == 0 ? 1 : n;
}

static size_t write_batch(struct hs_engine *e, enum hs_side s, enum hs_kind kind)
{
    struct hs_connector_limits lim = {0};
    const struct hs_engine_side *sd = side_of(e, s);
    sd->ops->limits(sd->conn, kind, &lim);
    size_t n = lim.write_batch;
    if (e->cfg.config != NULL && e->cfg.config->sync.write_batch > 0 &&
        (n == 0 || e->cfg.config->sync.write_batch < n))
        n = e->cfg.config->sync.write_batch;
    return n == 0 ? 1 : n;
}

static void progress(struct hs_engine *e, const char *stage, size_t done, size_t total)
{
    if (e->cfg.progress != NULL)
        e->cfg.progress(e->cfg.progress_ud, stage, done, total);
}

/* ---- report ----------------------------------------------------------------------------- */

const char *hs_engine_action_name(enum hs_engine_action_kind k)
{
    switch (k) {
    case HS_ENGINE_CREATE:
        return "create";
    case HS_ENGINE_UPDATE:
        return "update";
    case HS_ENGINE_LINK:
        return "link";
    case HS_ENGINE_REVIEW:
        return "review";
    case HS_ENGINE_CONFLICT:
        return "conflict";
    case HS_ENGINE_SETTLED:
        return "settled";
    case HS_ENGINE_DRIFT:
        return "drift";
    case HS_ENGINE_ERROR:
        return "error";
    case HS_ENGINE_SKIPPED:
        return "skipped";
    default:
        return "?";
    }
}

void hs_engine_report_init(struct hs_engine_report *r)
{
    memset(r, 0, sizeof *r);
}

void hs_engine_report_release(struct hs_engine_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_actions; i++) {
        struct hs_engine_action *a = &r->actions[i];
        hs_free(a->flow);
        hs_free(a->source_id);
        hs_free(a->target_id);
        hs_free(a->fields);
        hs_free(a->reason);
    }
    hs_free(r->actions);
    memset(r, 0, sizeof *r);
}

static int add_action(struct hs_engine *e, enum hs_engine_action_kind kind, const char *flow,
                      enum hs_kind object, enum hs_side source_side, const char *source_id,
                      const char *target_id, const char *fields, const char *reason)
{
    struct hs_engine_report *r = e->rep;
    if (r->n_actions == r->cap) {
        size_t cap = r->cap == 0 ? 16 : r->cap * 2;
        struct hs_engine_action *n = hs_reallocarray(r->actions, cap, sizeof *n);
        if (n == NULL)
            return HS_ENOMEM;
        r->actions = n;
        r->cap = cap;
    }
    struct hs_engine_action a = {.kind = kind, .object = object, .source_side = source_side};
    a.flow = hs_strdup(flow);
    a.source_id = hs_strdup(source_id != NULL ? source_id : "");
    a.target_id = target_id != NULL ? hs_strdup(target_id) : NULL;
    a.fields = fields != NULL ? hs_strdup(fields) : NULL;
    a.reason = hs_strdup(reason != NULL ? reason : "");
    if (a.flow == NULL || a.source_id == NULL || a.reason == NULL ||
        (target_id != NULL && a.target_id == NULL) || (fields != NULL && a.fields == NULL)) {
        hs_free(a.flow);
        hs_free(a.source_id);
        hs_free(a.target_id);
        hs_free(a.fields);
        hs_free(a.reason);
        return HS_ENOMEM;
    }
    r->actions[r->n_actions++] = a;
    switch (kind) {
    case HS_ENGINE_CREATE:
        r->n_created++;
        break;
    case HS_ENGINE_UPDATE:
        r->n_updated++;
        break;
    case HS_ENGINE_LINK:
        r->n_linked++;
        break;
    case HS_ENGINE_CONFLICT:
        r->n_conflicts++;
        break;
    case HS_ENGINE_ERROR:
        r->n_errors++;
        break;
    case HS_ENGINE_REVIEW:
        r->n_reviews++;
        break;
    case HS_ENGINE_SKIPPED:
        r->n_skipped++;
        break;
    default:
        break;
    }
    return HS_OK;
}

const struct hs_engine_config *eng_config(const struct hs_engine *e)
{
    return &e->cfg;
}

const struct eng_filter *eng_invoice_filter(const struct hs_engine *e)
{
    return e->invoice_filter;
}

const struct hs_env *eng_env(const struct hs_engine *e)
{
    return &e->env;
}

int eng_action(struct hs_engine *e, enum hs_engine_action_kind kind, const char *flow,
               enum hs_kind object, enum hs_side source_side, const char *source_id,
               const char *target_id, const char *fields, const char *reason, struct hs_error *err)
{
    int rc = add_action(e, kind, flow, object, source_side, source_id, target_id, fields, reason);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot sync: out of memory");
    return HS_OK;
}

const struct hs_engine_report *eng_report(const struct hs_engine *e)
{
    return e->rep;
}

bool eng_dry(const struct hs_engine *e)
{
    return e->dry;
}

void eng_progress(struct hs_engine *e, const char *stage, size_t done, size_t total)
{
    progress(e, stage, done, total);
}

size_t eng_read_batch(struct hs_engine *e, enum hs_side s, enum hs_kind kind)
{
    return read_batch(e, s, kind);
}

const char *eng_owner(const struct hs_engine *e)
{
    return e->owner;
}

void eng_changes_seen(struct hs_engine *e, size_t n)
{
    e->rep->n_changes_seen += n;
}

void eng_count(struct hs_engine *e, size_t reads, size_t writes, size_t calls_read,
               size_t calls_write)
{
    e->rep->n_records_read += reads;
    e->rep->n_writes += writes;
    e->rep->n_calls_read += calls_read;
    e->rep->n_calls_write += calls_write;
}

/* ---- idempotency keys ------------------------------------------------------------------- */

void hs_engine_idem_key(const char *flow, enum hs_side to, const char *source_id,
                        char out[HS_ENGINE_IDEM_MAX + 1])
{
    /* hs_fields needs allocation; hash the three strings directly through a fixed view */
    struct hs_field items[3] = {
        {.name = (char *)"flow", .value = (char *)(flow != NULL ? flow : "")},
        {.name = (char *)"source", .value = (char *)(source_id != NULL ? source_id : "")},
        {.name = (char *)"to", .value = (char *)side_name(to)},
    };
    struct hs_fields f = {.items = items, .n_items = 3, .cap = 3};
    uint8_t d[HS_HASH_BYTES];
    hs_hash_fields(HS_KIND_NONE, &f, d);
    char hex[HS_HASH_HEX];
    hs_hash_hex(d, hex);
    snprintf(out, HS_ENGINE_IDEM_MAX + 1, "hs1-%.32s", hex);
}

/* ---- JSON of field views (bases) --------------------------------------------------------- */

/* The provider bookkeeping of a record (SyncToken, etag) as one line per key; caller frees. */
static char *meta_text(const struct hs_fields *meta)
{
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = hs_buf_puts(&b, "");
    for (size_t i = 0; i < meta->n_items && rc == HS_OK; i++)
        rc = hs_buf_printf(&b, "%s=%s\n", meta->items[i].name, meta->items[i].value);
    if (rc != HS_OK) {
        hs_buf_release(&b);
        return NULL;
    }
    return hs_buf_detach(&b);
}

/*
 * A base is stored as {"<path>":"<value>",...} plus, for a side we just wrote, "@written" (the
 * paths written, one per line, or "*" for a whole new record), "@updated_at" and "@version"
 * (the provider's modification time and bookkeeping, e.g. SyncToken, after our write). On the
 * next pass, a record whose updated_at and version are still those has not been touched by
 * anybody since: its current values of the written
 * paths are what the provider really stored (some providers answer a write with an echo of
 * the request), so they become the base of those paths before merging.
 */
int eng_fields_to_json(const struct hs_fields *f, const char *written,
                       const struct hs_record *answer, char **out)
{
    *out = NULL;
    json_t *o = json_object();
    if (o == NULL)
        return HS_ENOMEM;
    if (written != NULL && answer != NULL && answer->updated_at != 0) {
        char ts[32];
        snprintf(ts, sizeof ts, "%lld", (long long)answer->updated_at);
        char *version = meta_text(&answer->meta);
        int bad = version == NULL ||
                  json_object_set_new(o, "@written", json_string(written)) != 0 ||
                  json_object_set_new(o, "@updated_at", json_string(ts)) != 0 ||
                  json_object_set_new(o, "@version", json_string(version)) != 0;
        hs_free(version);
        if (bad) {
            json_decref(o);
            return HS_ENOMEM;
        }
    }
    for (size_t i = 0; i < f->n_items; i++) {
        if (json_object_set_new(o, f->items[i].name, json_string(f->items[i].value)) != 0) {
            json_decref(o);
            return HS_ENOMEM;
        }
    }
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = hs_json_dump(o, &b);
    json_decref(o);
    if (rc != HS_OK) {
        hs_buf_release(&b);
        return rc;
    }
    *out = hs_buf_detach(&b);
    return *out != NULL ? HS_OK : HS_ENOMEM;
}

int eng_fields_from_json(const char *json, struct hs_fields *out, struct hs_fields *meta,
                         struct hs_error *err)
{
    hs_fields_release(out);
    hs_fields_release(meta);
    json_t *o = NULL;
    int rc = hs_json_parse((const uint8_t *)json, strlen(json), "base snapshot", &o, err);
    if (rc != HS_OK)
        return rc;
    if (!json_is_object(o)) {
        json_decref(o);
        return hs_error_set(err, HS_EPROTO, "cannot read base snapshot: not a JSON object");
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (!json_is_string(v))
            continue;
        rc = hs_fields_set(k[0] == '@' ? meta : out, k, json_string_value(v));
        if (rc != HS_OK)
            break;
    }
    json_decref(o);
    if (rc != HS_OK) {
        hs_fields_release(out);
        hs_fields_release(meta);
        return hs_error_set(err, rc, "cannot read base snapshot: out of memory");
    }
    return HS_OK;
}

/* ---- open / close ------------------------------------------------------------------------ */

static int check_side(const struct hs_engine_side *s, enum hs_side want, struct hs_error *err)
{
    if (s->ops == NULL || s->conn == NULL || s->conn_id == NULL || s->conn_id[0] == '\0')
        return hs_error_set(err, HS_EINVAL,
                            "cannot start sync engine: the %s connection is not "
                            "open",
                            side_name(want));
    if (s->ops->side != want)
        return hs_error_set(err, HS_EINVAL,
                            "cannot start sync engine: connector '%s' is not a %s connector",
                            s->ops->provider != NULL ? s->ops->provider : "?", side_name(want));
    return HS_OK;
}

int hs_engine_open(const struct hs_engine_config *cfg, struct hs_engine **out, struct hs_error *err)
{
    *out = NULL;
    if (cfg == NULL || cfg->store == NULL || cfg->config == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot start sync engine: missing store or config");
    int rc = check_side(&cfg->crm, HS_SIDE_CRM, err);
    if (rc == HS_OK)
        rc = check_side(&cfg->accounting, HS_SIDE_ACCOUNTING, err);
    if (rc != HS_OK)
        return rc;
    struct hs_engine *e = hs_calloc(1, sizeof *e);
    if (e == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot start sync engine: out of memory");
    e->cfg = *cfg;
    if (cfg->env != NULL)
        e->env = *cfg->env;
    else
        hs_env_system(&e->env, HS_LOG_WARN);
    e->owner = hs_strdup(cfg->owner != NULL ? cfg->owner : "engine");
    if (e->cfg.lease_ms <= 0)
        e->cfg.lease_ms = DEFAULT_LEASE_MS;
    if (e->cfg.claim_batch == 0)
        e->cfg.claim_batch = DEFAULT_CLAIM_BATCH;
    if (e->cfg.slice == 0)
        e->cfg.slice = DEFAULT_SLICE;
    const struct hs_config *c = cfg->config;
    if (e->owner == NULL ||
        (c->n_flows > 0 && (e->flows = hs_calloc(c->n_flows, sizeof *e->flows)) == NULL)) {
        hs_engine_close(e);
        return hs_error_set(err, HS_ENOMEM, "cannot start sync engine: out of memory");
    }
    unsigned kc = cfg->crm.ops->kinds(cfg->crm.conn);
    unsigned ka = cfg->accounting.ops->kinds(cfg->accounting.conn);
    for (size_t i = 0; i < c->n_flows; i++) {
        const struct hs_config_flow *cf = &c->flows[i];
        enum hs_kind kind = hs_mapping_kind_of(cf->objects);
        /* invoices and payments are driven by cfg->invoicing (engine/invoices.c) */
        if (kind != HS_KIND_CUSTOMER && kind != HS_KIND_ITEM) {
            if (kind == HS_KIND_INVOICE && cfg->invoicing != NULL && e->invoice_filter == NULL) {
                rc = eng_filter_new(cf, kind, NULL, cfg->resolve, cfg->resolve_ud,
                                    &e->invoice_filter, err);
                if (rc != HS_OK) {
                    hs_error_prefix(err, "cannot start sync engine");
                    hs_engine_close(e);
                    return rc;
                }
            }
            hs_env_log(&e->env, HS_LOG_INFO,
                       cfg->invoicing != NULL
                           ? "flow '%s': %s are synced by the invoice step"
                           : "flow '%s': %s are not synced: no invoicing settings were given",
                       cf->name, hs_config_object_name(cf->objects));
            continue;
        }
        if (!(kc & (1u << kind)) || !(ka & (1u << kind))) {
            hs_env_log(&e->env, HS_LOG_WARN, "flow '%s': a connector does not carry %s; skipped",
                       cf->name, hs_kind_name(kind));
            continue;
        }
        struct flow_rt *fl = &e->flows[e->n_flows];
        fl->cf = cf;
        fl->kind = kind;
        rc = hs_mapping_compile_file(cf, kind, c->path, cfg->resolve, cfg->resolve_ud, &fl->map,
                                     err);
        e->n_flows++;
        if (rc == HS_OK && (rc = eng_filter_new(cf, kind, fl->map, cfg->resolve, cfg->resolve_ud,
                                                &fl->filter, err)) != HS_OK)
            hs_error_prefix(err, "cannot start sync engine");
        if (rc != HS_OK) {
            hs_engine_close(e);
            return rc;
        }
        fl->filter_sides = eng_filter_pair_sides(fl->filter);
    }
    /* several flows of one kind (per team or region, with filters): a record goes to the
     * first whose filter it passes; the last one reports what none takes */
    for (size_t i = 0; i < e->n_flows; i++) {
        e->flows[i].first_of_kind = e->flows[i].last_of_kind = true;
        for (size_t j = 0; j < e->n_flows; j++) {
            if (j != i && e->flows[j].kind == e->flows[i].kind) {
                if (j < i)
                    e->flows[i].first_of_kind = false;
                else
                    e->flows[i].last_of_kind = false;
            }
        }
    }
    *out = e;
    return HS_OK;
}

static void planned_release(struct hs_engine *e)
{
    for (int s = 0; s < 3; s++)
        for (int k = 0; k <= HS_KIND_MAX; k++)
            hs_fields_release(&e->planned[s][k]);
}

static void taken_release(struct hs_engine *e)
{
    for (int t = 0; t < 3; t++) {
        hs_fields_release(&e->taken[t]);
        e->taken_loaded[t] = false;
    }
}

void hs_engine_close(struct hs_engine *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; e->flows != NULL && i < e->n_flows; i++) {
        hs_mapping_free(e->flows[i].map);
        eng_filter_free(e->flows[i].filter);
    }
    hs_free(e->flows);
    eng_filter_free(e->invoice_filter);
    hs_free(e->owner);
    planned_release(e);
    taken_release(e);
    hs_engine_report_release(&e->scratch);
    hs_free(e);
}

/* ---- change detection ------------------------------------------------------------------- */

/* Kinds (bit mask) side s is read for: the flows' kinds, plus invoices (both sides) and
 * payments (accounting, for the last payment date) when invoicing is on and the side's
 * connector carries them. */
static unsigned kinds_needed(const struct hs_engine *e, enum hs_side s)
{
    unsigned m = 0;
    for (size_t i = 0; i < e->n_flows; i++)
        m |= 1u << e->flows[i].kind;
    const struct hs_engine_invoicing *iv = e->cfg.invoicing;
    if (iv != NULL) {
        unsigned extra = 1u << HS_KIND_INVOICE;
        if (s == HS_SIDE_ACCOUNTING && !iv->no_payments)
            extra |= 1u << HS_KIND_PAYMENT;
        const struct hs_engine_side *sd = side_of(e, s);
        m |= extra & sd->ops->kinds(sd->conn);
    }
    return m;
}

int eng_store_marks(struct hs_engine *e, enum hs_side s, enum hs_kind kind, const char *const *ids,
                    size_t n, const char *cursor, struct hs_error *err)
{
    struct hs_store *st = e->cfg.store;
    const struct hs_engine_side *sd = side_of(e, s);
    const char *object = hs_kind_name(kind);
    int rc = hs_store_begin(st, err);
    if (rc != HS_OK)
        return rc;
    for (size_t i = 0; i < n && rc == HS_OK; i++)
        rc = hs_store_dirty_mark(st, sd->conn_id, object, (enum hs_store_side)s, ids[i], err);
    if (rc == HS_OK && cursor != NULL)
        rc = hs_store_cursor_set(st, sd->conn_id, object, cursor, err);
    if (rc != HS_OK) {
        hs_store_rollback(st, NULL);
        return rc;
    }
    return hs_store_commit(st, err);
}

/* Stores one page: marks + cursor in one transaction. */
static int store_page(struct hs_engine *e, enum hs_side s, enum hs_kind kind,
                      const struct hs_changes *ch, struct hs_error *err)
{
    const char **ids = hs_calloc(ch->n_items > 0 ? ch->n_items : 1, sizeof *ids);
    if (ids == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
    for (size_t i = 0; i < ch->n_items; i++)
        ids[i] = ch->items[i].id;
    int rc = eng_store_marks(e, s, kind, ids, ch->n_items, ch->cursor, err);
    hs_free((void *)ids);
    return rc;
}

/* Reads kind's changes on side s from the stored cursor, page by page (each stored: marks and
 * cursor), until the feed ends or, with out_cursor, once `limit` ids were read: then
 * *out_cursor (owned) and *out_more say where the rest begins. */
static int detect_one(struct hs_engine *e, enum hs_side s, enum hs_kind kind, size_t limit,
                      char **out_cursor, bool *out_more, struct hs_error *err)
{
    const struct hs_engine_side *sd = side_of(e, s);
    const char *object = hs_kind_name(kind);
    char *cursor = NULL;
    int rc = hs_store_cursor_get(e->cfg.store, sd->conn_id, object, &cursor, err);
    if (rc == HS_ENOTFOUND) {
        hs_error_clear(err);
        rc = HS_OK;
    }
    if (rc != HS_OK)
        return rc;
    bool more = true;
    size_t seen = 0;
    for (size_t page = 0; page < MAX_PAGES && (out_cursor == NULL || seen < limit); page++) {
        struct hs_changes ch;
        memset(&ch, 0, sizeof ch);
        rc = sd->ops->changes(sd->conn, kind, cursor, &ch, err);
        if (rc != HS_OK) {
            hs_changes_release(&ch);
            break;
        }
        e->rep->n_changes_seen += ch.n_items;
        seen += ch.n_items;
        if (e->dry) {
            for (size_t i = 0; i < ch.n_items && rc == HS_OK; i++)
                rc = hs_fields_set(&e->planned[s][kind], ch.items[i].id, "");
            if (rc != HS_OK)
                rc = hs_error_set(err, rc, "cannot plan: out of memory");
        } else {
            rc = store_page(e, s, kind, &ch, err);
        }
        more = ch.more && ch.cursor != NULL &&
               (cursor == NULL || strcmp(cursor, ch.cursor) != 0 || ch.n_items > 0);
        if (ch.cursor != NULL) {
            hs_free(cursor);
            cursor = ch.cursor;
            ch.cursor = NULL;
        }
        hs_changes_release(&ch);
        if (rc != HS_OK || !more)
            break;
    }
    if (rc == HS_OK && out_cursor != NULL) {
        *out_cursor = cursor;
        *out_more = more;
        cursor = NULL;
    }
    hs_free(cursor);
    if (rc != HS_OK)
        hs_error_prefix(err, "cannot read the %s changes of %s", object, side_name(s));
    return rc;
}

/* Where a CRM feed that detect read part of goes on (the pass pages the rest, engine/feed.c). */
struct feed_start {
    bool streamed;
    char *cursor;
    bool more;
};

static bool generic_kind(const struct hs_engine *e, enum hs_kind kind);

/*
 * Reads every change feed, or with starts (a pass that stores) the CRM feeds only in part:
 * a generic flow's kind up to one slice of ids, the invoice step's none, so that the first
 * writes need not wait for the whole CRM feed; starts[kind] says where each goes on.
 */
static int detect(struct hs_engine *e, struct feed_start *starts, struct hs_error *err)
{
    for (int s = HS_SIDE_CRM; s <= HS_SIDE_ACCOUNTING; s++) {
        unsigned need = kinds_needed(e, (enum hs_side)s);
        for (int k = 1; k <= HS_KIND_MAX; k++) {
            if (!(need & (1u << k)))
                continue;
            progress(e, "detect", 0, 0);
            bool part = starts != NULL && s == HS_SIDE_CRM;
            size_t limit = generic_kind(e, (enum hs_kind)k) ? e->cfg.slice : 0;
            int rc =
                detect_one(e, (enum hs_side)s, (enum hs_kind)k, limit,
                           part ? &starts[k].cursor : NULL, part ? &starts[k].more : NULL, err);
            if (rc != HS_OK)
                return rc;
            if (part)
                starts[k].streamed = true;
        }
    }
    return HS_OK;
}

int hs_engine_detect(struct hs_engine *e, struct hs_engine_report *report, struct hs_error *err)
{
    e->rep = report != NULL ? report : &e->scratch;
    e->dry = false;
    return detect(e, NULL, err);
}

/* ---- the pass: data --------------------------------------------------------------------- */

struct pair {
    struct hs_record *rec[3]; /* current records by side (owned) */
    int64_t link_id;          /* 0: a link to create with this pass */
    char *link_reason;
    enum hs_side from;
    struct hs_merge_result res;
    struct hs_fields view[3];
    struct hs_fields base[3];
    bool has_base;
    struct hs_record *w[3];   /* records to write (updates) */
    struct hs_record *ans[3]; /* the providers' answers */
    int status[3];            /* write status per side (ENG_UNSENT: not sent) */
    bool skip;                /* an error: nothing is stored for this pair */
    bool store;               /* bases or link to store */
    size_t slot;              /* index of rec[from] in its group (given back when filtered) */
    bool filter_pending;      /* the flow's filter is checked once the other side is read */
};

struct create {
    const struct hs_record *src; /* borrowed from the group */
    enum hs_side to;
    struct hs_merge_result res;
    struct hs_fields src_view;
    struct hs_record *rec;
    char key[HS_ENGINE_IDEM_MAX + 1];
    bool retry;          /* the intent was left over (hs_write.retry) */
    int64_t retry_since; /* and stored then (hs_write.retry_since_ms) */
    struct hs_record *ans;
    int status; /* ENG_UNSENT until the provider answered */
    bool skip;
};

struct pass {
    struct eng_group *groups;
    size_t n_groups;
    struct hs_store_dirty *claimed;
    size_t n_claimed;
    struct eng_index **idx;   /* [flow * 3 + indexed side] */
    struct hs_fields handled; /* "<side>:<kind>:<id>" merged in this pass */
    /* review items: a person's decisions ("link" / "separate") and the pairs already raised
     * in this pass, both keyed "<flow>\x1f<crm id>\x1f<accounting id>" */
    struct hs_fields decided, reviewed;
    bool decided_loaded;
};

static void group_release(struct eng_group *g)
{
    for (size_t i = 0; i < g->n; i++) {
        hs_free(g->ids[i]);
        if (g->recs != NULL)
            hs_record_free(g->recs[i]);
    }
    hs_free(g->ids);
    hs_free(g->recs);
}

static void pass_release(struct hs_engine *e, struct pass *p)
{
    for (size_t i = 0; i < p->n_groups; i++)
        group_release(&p->groups[i]);
    hs_free(p->groups);
    hs_store_dirty_free(p->claimed, p->n_claimed);
    if (p->idx != NULL) {
        for (size_t i = 0; i < e->n_flows * 3; i++)
            eng_index_free(p->idx[i]);
        hs_free(p->idx);
    }
    hs_fields_release(&p->handled);
    hs_fields_release(&p->decided);
    hs_fields_release(&p->reviewed);
    memset(p, 0, sizeof *p);
}

static struct eng_group *group_for(struct pass *p, enum hs_kind kind, enum hs_side side)
{
    for (size_t i = 0; i < p->n_groups; i++)
        if (p->groups[i].kind == kind && p->groups[i].side == side)
            return &p->groups[i];
    struct eng_group *n = hs_reallocarray(p->groups, p->n_groups + 1, sizeof *n);
    if (n == NULL)
        return NULL;
    p->groups = n;
    struct eng_group *g = &p->groups[p->n_groups++];
    memset(g, 0, sizeof *g);
    g->kind = kind;
    g->side = side;
    return g;
}

static int group_add(struct eng_group *g, const char *id)
{
    if (g->n == g->cap) {
        size_t cap = g->cap == 0 ? 64 : g->cap * 2;
        char **n = hs_reallocarray(g->ids, cap, sizeof *n);
        if (n == NULL)
            return HS_ENOMEM;
        g->ids = n;
        g->cap = cap;
    }
    g->ids[g->n] = hs_strdup(id);
    if (g->ids[g->n] == NULL)
        return HS_ENOMEM;
    g->n++;
    return HS_OK;
}

static bool kind_in_flows(const struct hs_engine *e, enum hs_side s, enum hs_kind kind)
{
    return (kinds_needed(e, s) & (1u << kind)) != 0;
}

/* Fills p->groups from the dirty set (claimed) or, in a plan, from the planned ids. */
static int collect(struct hs_engine *e, struct pass *p, struct hs_error *err)
{
    if (e->dry) {
        for (int s = HS_SIDE_CRM; s <= HS_SIDE_ACCOUNTING; s++) {
            for (int k = 1; k <= HS_KIND_MAX; k++) {
                const struct hs_fields *ids = &e->planned[s][k];
                if (ids->n_items == 0)
                    continue;
                struct eng_group *g = group_for(p, (enum hs_kind)k, (enum hs_side)s);
                if (g == NULL)
                    return hs_error_set(err, HS_ENOMEM, "cannot plan: out of memory");
                for (size_t i = 0; i < ids->n_items; i++)
                    if (group_add(g, ids->items[i].name) != HS_OK)
                        return hs_error_set(err, HS_ENOMEM, "cannot plan: out of memory");
            }
        }
        return HS_OK;
    }
    for (;;) {
        struct hs_store_dirty *items = NULL;
        size_t n = 0;
        int rc = hs_store_dirty_claim(e->cfg.store, e->owner, NULL, e->cfg.lease_ms,
                                      e->cfg.claim_batch, &items, &n, err);
        if (rc != HS_OK)
            return rc;
        if (n == 0)
            break;
        struct hs_store_dirty *all =
            hs_reallocarray(p->claimed, p->n_claimed + n, sizeof *p->claimed);
        if (all == NULL) {
            int r = hs_store_dirty_release(e->cfg.store, e->owner, items, n, NULL);
            (void)r;
            hs_store_dirty_free(items, n);
            return hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
        }
        p->claimed = all;
        memcpy(p->claimed + p->n_claimed, items, n * sizeof *items);
        p->n_claimed += n;
        hs_free(items); /* the strings moved into p->claimed */
        for (size_t i = p->n_claimed - n; i < p->n_claimed; i++) {
            const struct hs_store_dirty *d = &p->claimed[i];
            enum hs_kind kind = HS_KIND_NONE;
            enum hs_side s = (enum hs_side)d->side;
            if (hs_kind_parse(d->object, &kind, NULL) != HS_OK || !kind_in_flows(e, s, kind))
                continue; /* no flow for it: completing the entry drops it */
            if (strcmp(d->conn, side_of(e, s)->conn_id) != 0)
                continue;
            struct eng_group *g = group_for(p, kind, s);
            if (g == NULL || group_add(g, d->remote_id) != HS_OK)
                return hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
        }
        if (n < e->cfg.claim_batch)
            break;
    }
    return HS_OK;
}

/* Batch-reads ids[0..n) of kind from side s into out[0..n). */
int eng_read(struct hs_engine *e, enum hs_side s, enum hs_kind kind, char *const *ids, size_t n,
             struct hs_record **out, struct hs_error *err)
{
    const struct hs_engine_side *sd = side_of(e, s);
    size_t batch = read_batch(e, s, kind);
    for (size_t off = 0; off < n; off += batch) {
        size_t m = n - off < batch ? n - off : batch;
        e->rep->n_calls_read++;
        int rc = sd->ops->read(sd->conn, kind, (const char *const *)(ids + off), m, out + off, err);
        if (rc != HS_OK) {
            hs_error_prefix(err, "cannot read %s records from %s", hs_kind_name(kind),
                            side_name(s));
            return rc;
        }
        for (size_t i = off; i < off + m; i++)
            if (out[i] != NULL)
                e->rep->n_records_read++;
        progress(e, "read", off + m, n);
    }
    return HS_OK;
}

/* Mirror refresh of records [from, to) of a group, one transaction. */
static int mirror_range(struct hs_engine *e, const struct eng_group *g, size_t from, size_t to,
                        struct hs_error *err)
{
    if (e->dry || from >= to)
        return HS_OK;
    struct hs_store *st = e->cfg.store;
    const char *conn = side_of(e, g->side)->conn_id;
    const char *object = hs_kind_name(g->kind);
    int rc = hs_store_begin(st, err);
    for (size_t i = from; i < to && rc == HS_OK; i++) {
        if (g->recs[i] == NULL) {
            rc = hs_store_mirror_delete(st, conn, object, g->ids[i], err);
            if (rc == HS_ENOTFOUND) {
                hs_error_clear(err);
                rc = HS_OK;
            }
            continue;
        }
        char *json = NULL;
        if (hs_record_to_json(g->recs[i], &json, NULL) != HS_OK)
            continue; /* an invalid record becomes an error item when it is processed */
        rc = hs_store_mirror_put(st, conn, object, g->ids[i], json, NULL, g->recs[i]->updated_at,
                                 err);
        hs_free(json);
    }
    if (rc != HS_OK) {
        if (rc != HS_ESTATE || hs_store_failed(st))
            hs_store_rollback(st, NULL);
        return rc;
    }
    return hs_store_commit(st, err);
}

/* ---- queue items ------------------------------------------------------------------------- */

static int raise_item(struct hs_engine *e, enum hs_store_item_kind kind, const struct flow_rt *fl,
                      enum hs_side side, const char *remote_id, const char *other_id,
                      const char *field, const char *message, const char *detail,
                      struct hs_error *err)
{
    if (e->dry)
        return HS_OK;
    struct hs_store_item it = {.kind = kind,
                               .flow = fl->cf->name,
                               .object = (char *)hs_kind_name(fl->kind),
                               .side = (enum hs_store_side)side,
                               .remote_id = (char *)remote_id,
                               .other_id = (char *)other_id,
                               .field = (char *)field,
                               .message = (char *)message,
                               .detail = (char *)detail};
    return hs_store_item_raise(e->cfg.store, &it, NULL, err);
}

/* Label of a record for messages: its name, else its id. */
static const char *label_of(const struct hs_record *r)
{
    if (r == NULL)
        return "?";
    const char *l = NULL;
    if (r->kind == HS_KIND_CUSTOMER)
        l = r->customer.display_name != NULL ? r->customer.display_name : r->customer.company_name;
    else if (r->kind == HS_KIND_ITEM)
        l = r->item.name;
    else if (r->kind == HS_KIND_INVOICE)
        l = r->invoice.number;
    if (l == NULL)
        l = r->id;
    return l != NULL ? l : "?";
}

/* A record that cannot be written: error item + action. */
static int record_error(struct hs_engine *e, const struct flow_rt *fl, enum hs_side side,
                        const struct hs_record *src, const char *src_id, const char *other_id,
                        const char *msg, struct hs_error *err)
{
    char text[HS_ERRMSG_MAX + 128];
    snprintf(text, sizeof text, "%s '%s' (%s) was not synced: %s", hs_kind_name(fl->kind),
             label_of(src), side_name(side), msg);
    int rc =
        add_action(e, HS_ENGINE_ERROR, fl->cf->name, fl->kind, side, src_id, other_id, NULL, text);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot sync: out of memory");
    return raise_item(e, HS_STORE_ITEM_ERROR, fl, side, src_id, other_id, "", text, NULL, err);
}

static int settle_errors(struct hs_engine *e, const struct flow_rt *fl, enum hs_side side,
                         const char *id, struct hs_error *err)
{
    if (e->dry)
        return HS_OK;
    int rc = hs_store_item_settle(e->cfg.store, HS_STORE_ITEM_ERROR, fl->cf->name,
                                  hs_kind_name(fl->kind), (enum hs_store_side)side, id, NULL,
                                  "the record synced", err);
    return rc < 0 ? rc : HS_OK;
}

/* ---- validation -------------------------------------------------------------------------- */

/* Name as the providers compare unique names: trimmed, ASCII letters folded. Owned. */
static char *name_fold(const char *v)
{
    while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\n' || v[n - 1] == '\r'))
        n--;
    char *f = hs_strndup(v, n);
    for (char *p = f; p != NULL && *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return f;
}

struct taken_load {
    struct hs_fields *names;
    const char *field;
};

static int taken_cb(void *ud, const char *remote_id, const struct hs_store_doc *doc)
{
    struct taken_load *l = ud;
    struct hs_record *r = NULL;
    if (hs_record_from_json((const uint8_t *)doc->json, strlen(doc->json), &r, NULL) != HS_OK)
        return 0;
    struct hs_fields f;
    hs_fields_init(&f);
    int rc = hs_record_to_fields(r, &f, NULL);
    const char *v = rc == HS_OK ? hs_fields_get(&f, l->field) : NULL;
    char *k = v != NULL ? name_fold(v) : NULL;
    if (v != NULL && k == NULL)
        rc = HS_ENOMEM;
    if (k != NULL && k[0] != '\0')
        rc = hs_fields_set(l->names, k, remote_id);
    hs_free(k);
    hs_fields_release(&f);
    hs_record_free(r);
    return rc == HS_OK ? 0 : 1;
}

struct taken_ctx {
    struct hs_engine *e;
    enum hs_side t;
    const char *self; /* id of the record written; NULL for a create */
    bool failed;      /* out of memory or store failure while loading */
};

/* hs_validate_taken_fn over the names of side t's customers (mirror + this pass's creates). */
static bool is_taken(void *ud, const struct hs_record *rec, const char *field, const char *value)
{
    (void)rec;
    struct taken_ctx *c = ud;
    struct hs_engine *e = c->e;
    struct hs_fields *names = &e->taken[c->t];
    if (!e->taken_loaded[c->t]) {
        struct taken_load l = {.names = names, .field = field};
        if (hs_store_mirror_each(e->cfg.store, side_of(e, c->t)->conn_id,
                                 hs_kind_name(HS_KIND_CUSTOMER), taken_cb, &l, NULL) != HS_OK) {
            c->failed = true;
            return false;
        }
        e->taken_loaded[c->t] = true;
    }
    char *k = name_fold(value);
    if (k == NULL) {
        c->failed = true;
        return false;
    }
    const char *who = hs_fields_get(names, k);
    hs_free(k);
    return who != NULL && (c->self == NULL || strcmp(who, c->self) != 0);
}

/* Reserves the unique values of a record about to be written to side t (creates: "" until
 * the provider names it), so two records of one pass cannot take the same name. */
static int reserve_unique(struct hs_engine *e, enum hs_side t, const struct hs_validate_rules *r,
                          const struct hs_record *rec, const char *self)
{
    if (!e->taken_loaded[t])
        return HS_OK;
    struct hs_fields f;
    hs_fields_init(&f);
    int rc = hs_record_to_fields(rec, &f, NULL);
    for (size_t i = 0; i < r->n_limits && rc == HS_OK; i++) {
        const char *v = r->limits[i].unique ? hs_fields_get(&f, r->limits[i].field) : NULL;
        if (v == NULL)
            continue;
        char *k = name_fold(v);
        rc = k != NULL ? hs_fields_set(&e->taken[t], k, self != NULL ? self : "") : HS_ENOMEM;
        hs_free(k);
    }
    hs_fields_release(&f);
    return rc;
}

/*
 * Checks the values about to be written to side t (a field view of kind; self: the id of the
 * record updated, NULL for a create) and builds the record: the record's own rules, then for
 * customers core/validate.h (email, country, tax id) and the limits the target provider
 * announces (length, forbidden characters, unique names against its mirror). A failure fills
 * msg with a sentence for a finance user.
 */
static int build_checked(struct hs_engine *e, enum hs_side t, enum hs_kind kind,
                         const struct hs_fields *values, const char *self, struct hs_record **out,
                         char *msg, size_t msg_len)
{
    *out = NULL;
    struct hs_error err = {0};
    int rc = hs_record_from_fields(kind, values, out, &err);
    if (rc == HS_ENOMEM)
        return rc;
    if (rc == HS_OK)
        rc = hs_record_validate(*out, &err);
    if (rc != HS_OK) {
        snprintf(msg, msg_len, "%s", err.msg);
        hs_record_free(*out);
        *out = NULL;
        return rc == HS_ENOMEM ? rc : HS_EINVAL;
    }
    if (kind != HS_KIND_CUSTOMER)
        return HS_OK;
    const struct hs_engine_side *sd = side_of(e, t);
    struct taken_ctx tc = {.e = e, .t = t, .self = self};
    struct hs_validate_rules rules = {
        .provider = sd->ops->label != NULL ? sd->ops->label : sd->ops->provider,
        .is_taken = is_taken,
        .ud = &tc,
    };
    struct hs_validate_limit partial[MAX_LIMITS];
    if (sd->ops->field_limits != NULL)
        rules.limits = sd->ops->field_limits(sd->conn, kind, &rules.n_limits);
    if (self != NULL && rules.n_limits > 0) {
        /* an update carries only the fields it changes: "required" holds for the record the
         * provider keeps, not for the patch */
        if (rules.n_limits > MAX_LIMITS)
            rules.n_limits = MAX_LIMITS;
        for (size_t i = 0; i < rules.n_limits; i++) {
            partial[i] = rules.limits[i];
            partial[i].required = false;
        }
        rules.limits = partial;
    }
    /* core/validate.h: email, country, tax id, provider limits; every blocking issue in one
     * message */
    struct hs_validate_issues issues;
    hs_validate_issues_init(&issues);
    rc = hs_validate_customer(*out, &rules, &issues);
    if (tc.failed)
        rc = HS_ENOMEM;
    else if (rc > 0 || (rc == HS_OK && issues.n_errors > 0)) {
        size_t used = 0;
        msg[0] = '\0';
        for (size_t i = 0; i < issues.n_items && used < msg_len; i++) {
            if (issues.items[i].severity != HS_VALIDATE_ERROR)
                continue;
            int n = snprintf(msg + used, msg_len - used, "%s%s", used > 0 ? "; " : "",
                             issues.items[i].message);
            used = n < 0 ? msg_len : used + (size_t)n;
        }
        rc = HS_EINVAL;
    }
    hs_validate_issues_release(&issues);
    if (rc == HS_OK && !e->dry)
        rc = reserve_unique(e, t, &rules, *out, self);
    if (rc != HS_OK) {
        hs_record_free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- matching index ---------------------------------------------------------------------- */

struct index_load {
    struct eng_index *idx;
    struct hs_fields *seen;
    enum hs_store_side side;
    struct hs_error *err;
};

static int index_mirror_cb(void *ud, const char *remote_id, const struct hs_store_doc *doc)
{
    struct index_load *l = ud;
    if (hs_fields_get(l->seen, remote_id) != NULL)
        return 0;
    struct hs_record *r = NULL;
    if (hs_record_from_json((const uint8_t *)doc->json, strlen(doc->json), &r, NULL) != HS_OK)
        return 0; /* an unreadable mirror entry is refreshed on its next change */
    int rc = HS_OK;
    if (r->id == NULL)
        rc = hs_record_set_str(&r->id, remote_id);
    if (rc == HS_OK)
        rc = eng_index_add(l->idx, r, l->err);
    hs_record_free(r);
    return rc;
}

static int index_link_cb(void *ud, const struct hs_store_link *link)
{
    struct index_load *l = ud;
    eng_index_take(l->idx, l->side == HS_STORE_CRM ? link->crm_id : link->acc_id);
    return 0;
}

static int handled_key(char *buf, size_t len, enum hs_side s, enum hs_kind k, const char *id);

/* Takes in idx the records of side t that an earlier flow of the kind took in this pass (a
 * plan stores no link, and one record is linked once whichever flow links it). */
static void take_handled(struct eng_index *idx, const struct pass *p, enum hs_side t,
                         enum hs_kind k)
{
    char prefix[32];
    if (handled_key(prefix, sizeof prefix, t, k, "") != HS_OK)
        return;
    size_t n = strlen(prefix), pos = 0;
    const char *name = NULL, *value = NULL;
    while (hs_fields_iter(&p->handled, &pos, &name, &value))
        if (strncmp(name, prefix, n) == 0)
            eng_index_take(idx, name + n);
}

/* The index of side t's records for flow number fi, built on first use in this pass. */
static int get_index(struct hs_engine *e, struct pass *p, size_t fi, enum hs_side t,
                     struct eng_index **out, struct hs_error *err)
{
    if (p->idx == NULL) {
        p->idx = hs_calloc(e->n_flows * 3, sizeof(struct eng_index *));
        if (p->idx == NULL)
            return hs_error_set(err, HS_ENOMEM, "cannot match: out of memory");
    }
    struct eng_index **slot = &p->idx[fi * 3 + (size_t)t];
    if (*slot != NULL) {
        *out = *slot;
        return HS_OK;
    }
    const struct flow_rt *fl = &e->flows[fi];
    struct eng_index *idx = NULL;
    int rc = eng_index_new(fl->kind, fl->cf->match_link, fl->cf->match_review, &idx, err);
    if (rc != HS_OK)
        return rc;
    struct hs_fields seen;
    hs_fields_init(&seen);
    /* records read in this pass first: they are newer than the mirror in a plan */
    for (size_t gi = 0; gi < p->n_groups && rc == HS_OK; gi++) {
        const struct eng_group *g = &p->groups[gi];
        if (g->kind != fl->kind || g->side != t)
            continue;
        for (size_t i = 0; i < g->n && rc == HS_OK; i++) {
            if (g->recs[i] == NULL || g->recs[i]->id == NULL)
                continue;
            rc = eng_index_add(idx, g->recs[i], err);
            if (rc == HS_OK)
                rc = hs_fields_set(&seen, g->recs[i]->id, "");
        }
    }
    struct index_load l = {.idx = idx, .seen = &seen, .side = (enum hs_store_side)t, .err = err};
    const char *object = hs_kind_name(fl->kind);
    if (rc == HS_OK)
        rc = hs_store_mirror_each(e->cfg.store, side_of(e, t)->conn_id, object, index_mirror_cb, &l,
                                  err);
    if (rc == HS_OK)
        rc = hs_store_link_each(e->cfg.store, e->cfg.crm.conn_id, e->cfg.accounting.conn_id, object,
                                index_link_cb, &l, err);
    if (rc == HS_OK && !fl->first_of_kind)
        take_handled(idx, p, t, fl->kind);
    hs_fields_release(&seen);
    if (rc != HS_OK) {
        eng_index_free(idx);
        return rc;
    }
    *slot = idx;
    *out = idx;
    return HS_OK;
}

/* ---- pairs: merge and planned writes ----------------------------------------------------- */

static void pair_reset(struct pair *pr)
{
    hs_merge_result_release(&pr->res);
    for (int s = 1; s <= 2; s++) {
        hs_fields_release(&pr->view[s]);
        hs_fields_release(&pr->base[s]);
        hs_record_free(pr->w[s]);
        pr->w[s] = NULL;
        hs_record_free(pr->ans[s]);
        pr->ans[s] = NULL;
        pr->status[s] = ENG_UNSENT;
    }
    pr->skip = false;
    pr->store = false;
    pr->has_base = false;
}

static void pair_free(struct pair *pr)
{
    pair_reset(pr);
    for (int s = 1; s <= 2; s++)
        hs_record_free(pr->rec[s]);
    hs_free(pr->link_reason);
}

static const struct hs_merge_patch *patch_to(const struct hs_merge_result *r, enum hs_side t)
{
    return t == HS_SIDE_CRM ? &r->to_crm : &r->to_accounting;
}

static const struct hs_fields *res_base(const struct hs_merge_result *r, enum hs_side s)
{
    return s == HS_SIDE_CRM ? &r->crm_base : &r->acc_base;
}

/* Joins the paths of a patch with sep (caller frees), NULL on allocation failure. */
static char *join_paths_sep(const struct hs_merge_patch *p, const char *sep)
{
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = hs_buf_puts(&b, "");
    for (size_t i = 0; i < p->n_paths && rc == HS_OK; i++) {
        if (i > 0)
            rc = hs_buf_puts(&b, sep);
        if (rc == HS_OK)
            rc = hs_buf_puts(&b, p->paths[i]);
    }
    if (rc != HS_OK) {
        hs_buf_release(&b);
        return NULL;
    }
    return hs_buf_detach(&b);
}

static char *join_paths(const struct hs_merge_patch *p)
{
    return join_paths_sep(p, ", ");
}

/* Joins the reasons of changes written to side t. */
static char *join_reasons(const struct hs_merge_result *r, enum hs_side t)
{
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = hs_buf_puts(&b, "");
    bool first = true;
    for (size_t i = 0; i < r->n_changes && rc == HS_OK; i++) {
        const struct hs_merge_change *c = &r->changes[i];
        bool writes = c->action == HS_MERGE_WRITE_ACCOUNTING || c->action == HS_MERGE_WRITE_CRM ||
                      c->action == HS_MERGE_SETTLED || c->action == HS_MERGE_DRIFT;
        if (!writes || (int)c->target != (int)t || c->reason == NULL)
            continue;
        if (!first)
            rc = hs_buf_puts(&b, "; ");
        first = false;
        if (rc == HS_OK)
            rc = hs_buf_puts(&b, c->reason);
    }
    if (rc != HS_OK) {
        hs_buf_release(&b);
        return NULL;
    }
    return hs_buf_detach(&b);
}

static int load_base(struct hs_engine *e, int64_t link_id, enum hs_side s, struct hs_fields *out,
                     struct hs_fields *meta, bool *found, struct hs_error *err)
{
    *found = false;
    struct hs_store_doc d = {0};
    int rc = hs_store_base_get(e->cfg.store, link_id, (enum hs_store_side)s, &d, err);
    if (rc == HS_ENOTFOUND) {
        hs_error_clear(err);
        return HS_OK;
    }
    if (rc != HS_OK)
        return rc;
    rc = eng_fields_from_json(d.json, out, meta, err);
    hs_store_doc_release(&d);
    if (rc == HS_OK)
        *found = true;
    return rc;
}

/* Applies "@written" of meta (see fields_to_json) when the record is untouched since. */
static int rebase_echo(struct hs_fields *base, const struct hs_fields *meta,
                       const struct hs_fields *view, const struct hs_record *rec)
{
    const char *written = hs_fields_get(meta, "@written");
    const char *ts = hs_fields_get(meta, "@updated_at");
    const char *version = hs_fields_get(meta, "@version");
    if (written == NULL || ts == NULL || version == NULL || rec->updated_at == 0 ||
        strtoll(ts, NULL, 10) != (long long)rec->updated_at)
        return HS_OK;
    char *now = meta_text(&rec->meta);
    if (now == NULL)
        return HS_ENOMEM;
    bool same = strcmp(now, version) == 0;
    hs_free(now);
    if (!same)
        return HS_OK;
    if (strcmp(written, "*") == 0)
        return hs_fields_copy(base, view);
    int rc = HS_OK;
    const char *p = written;
    while (rc == HS_OK && *p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        char path[HS_FIELD_NAME_MAX + 1];
        if (n > 0 && n <= HS_FIELD_NAME_MAX) {
            memcpy(path, p, n);
            path[n] = '\0';
            const char *v = hs_fields_get(view, path);
            if (v != NULL)
                rc = hs_fields_set(base, path, v);
            else
                hs_fields_remove(base, path);
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    return rc;
}

static int report_change(struct hs_engine *e, const struct flow_rt *fl, const struct pair *pr,
                         const struct hs_merge_change *c, bool quiet, struct hs_error *err)
{
    const char *crm_id = pr->rec[HS_SIDE_CRM]->id;
    const char *acc_id = pr->rec[HS_SIDE_ACCOUNTING]->id;
    enum hs_engine_action_kind k;
    switch (c->action) {
    case HS_MERGE_CONFLICT:
        k = HS_ENGINE_CONFLICT;
        break;
    case HS_MERGE_SETTLED:
        k = HS_ENGINE_SETTLED;
        break;
    case HS_MERGE_DRIFT:
        k = HS_ENGINE_DRIFT;
        break;
    case HS_MERGE_ERROR:
        k = HS_ENGINE_ERROR;
        break;
    default:
        return HS_OK;
    }
    if (quiet)
        return HS_OK;
    const char *reason = c->reason != NULL ? c->reason : "";
    int rc =
        add_action(e, k, fl->cf->name, fl->kind, HS_SIDE_CRM, crm_id, acc_id, c->crm_field, reason);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot sync: out of memory");
    if (k != HS_ENGINE_CONFLICT && k != HS_ENGINE_ERROR)
        return HS_OK;
    json_t *d = json_pack("{s:s?,s:s?,s:s?,s:s?}", "crm_field", c->crm_field, "accounting_field",
                          c->acc_field, "crm", c->crm_value, "accounting", c->acc_value);
    char *detail = NULL;
    if (d != NULL) {
        struct hs_buf b;
        hs_buf_init(&b);
        if (hs_json_dump(d, &b) == HS_OK)
            detail = hs_buf_detach(&b);
        else
            hs_buf_release(&b);
        json_decref(d);
    }
    if (detail == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
    rc = raise_item(e, k == HS_ENGINE_CONFLICT ? HS_STORE_ITEM_CONFLICT : HS_STORE_ITEM_ERROR, fl,
                    HS_SIDE_CRM, crm_id, acc_id, c->crm_field, reason, detail, err);
    hs_free(detail);
    return rc;
}

/*
 * The paths side s does not take for records of kind: its connector's read_only limits
 * (core/validate.h), plus those rec's meta names (HS_META_READ_ONLY) when rec is not NULL.
 * *out: a new comma-separated list, or NULL for none. HS_OK or HS_ENOMEM.
 */
static int read_only_paths(const struct hs_engine *e, enum hs_side s, enum hs_kind kind,
                           const struct hs_record *rec, char **out)
{
    *out = NULL;
    const struct hs_engine_side *sd = side_of(e, s);
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = HS_OK;
    size_t n = 0;
    const struct hs_validate_limit *lim =
        sd->ops->field_limits != NULL ? sd->ops->field_limits(sd->conn, kind, &n) : NULL;
    for (size_t i = 0; lim != NULL && i < n && rc == HS_OK; i++)
        if (lim[i].read_only && lim[i].field != NULL)
            rc = hs_buf_printf(&b, "%s%s", b.len > 0 ? "," : "", lim[i].field);
    const char *more = rec != NULL ? hs_fields_get(&rec->meta, HS_META_READ_ONLY) : NULL;
    if (rc == HS_OK && more != NULL && more[0] != '\0')
        rc = hs_buf_printf(&b, "%s%s", b.len > 0 ? "," : "", more);
    if (rc == HS_OK && b.len > 0) {
        *out = hs_buf_detach(&b);
        if (*out == NULL)
            rc = HS_ENOMEM;
    }
    hs_buf_release(&b);
    return rc;
}

/* Merges one pair and builds its writes. quiet: a retry, already reported. */
static int prepare_pair(struct hs_engine *e, const struct flow_rt *fl, struct pair *pr, bool quiet,
                        struct hs_error *err)
{
    pair_reset(pr);
    struct hs_error rerr = {0};
    for (int s = 1; s <= 2; s++) {
        int rc = hs_record_to_fields(pr->rec[s], &pr->view[s], &rerr);
        if (rc == HS_ENOMEM)
            return hs_error_set(err, rc, "cannot sync: out of memory");
        if (rc != HS_OK) {
            pr->skip = true;
            return quiet ? HS_OK
                         : record_error(e, fl, (enum hs_side)s, pr->rec[s], pr->rec[s]->id, NULL,
                                        rerr.msg, err);
        }
    }
    bool found[3] = {false, false, false};
    bool rebased = false;
    if (pr->link_id != 0) {
        for (int s = 1; s <= 2; s++) {
            struct hs_fields meta;
            hs_fields_init(&meta);
            int rc =
                load_base(e, pr->link_id, (enum hs_side)s, &pr->base[s], &meta, &found[s], err);
            if (rc == HS_OK && found[s] && hs_fields_get(&meta, "@written") != NULL) {
                /* stored again below even when nothing else changes, so the correction
                 * survives later edits of the record */
                struct hs_fields before;
                hs_fields_init(&before);
                rc = hs_fields_copy(&before, &pr->base[s]);
                if (rc == HS_OK)
                    rc = rebase_echo(&pr->base[s], &meta, &pr->view[s], pr->rec[s]);
                if (rc == HS_OK && !hs_fields_equal(&before, &pr->base[s]))
                    rebased = true;
                hs_fields_release(&before);
            }
            hs_fields_release(&meta);
            if (rc == HS_ENOMEM)
                return hs_error_set(err, rc, "cannot sync: out of memory");
            if (rc != HS_OK)
                return rc;
        }
    }
    pr->has_base = found[1] && found[2];
    char *ro[3] = {NULL, NULL, NULL};
    int rc = read_only_paths(e, HS_SIDE_CRM, fl->kind, pr->rec[HS_SIDE_CRM], &ro[HS_SIDE_CRM]);
    if (rc == HS_OK)
        rc = read_only_paths(e, HS_SIDE_ACCOUNTING, fl->kind, pr->rec[HS_SIDE_ACCOUNTING],
                             &ro[HS_SIDE_ACCOUNTING]);
    struct hs_merge_input in = {
        .crm = &pr->view[HS_SIDE_CRM],
        .crm_base = pr->has_base ? &pr->base[HS_SIDE_CRM] : NULL,
        .acc = &pr->view[HS_SIDE_ACCOUNTING],
        .acc_base = pr->has_base ? &pr->base[HS_SIDE_ACCOUNTING] : NULL,
        .crm_updated_at = pr->rec[HS_SIDE_CRM]->updated_at,
        .acc_updated_at = pr->rec[HS_SIDE_ACCOUNTING]->updated_at,
        .crm_read_only = ro[HS_SIDE_CRM],
        .acc_read_only = ro[HS_SIDE_ACCOUNTING],
        .crm_unsynced = hs_fields_get(&pr->rec[HS_SIDE_CRM]->meta, HS_META_UNSYNCED),
        .acc_unsynced = hs_fields_get(&pr->rec[HS_SIDE_ACCOUNTING]->meta, HS_META_UNSYNCED),
    };
    if (rc == HS_OK)
        rc = hs_merge_run(fl->map, &in, &pr->res, err);
    else
        hs_error_set(err, rc, "cannot sync: out of memory");
    hs_free(ro[HS_SIDE_CRM]);
    hs_free(ro[HS_SIDE_ACCOUNTING]);
    if (rc != HS_OK)
        return rc;
    for (size_t i = 0; i < pr->res.n_changes && rc == HS_OK; i++)
        rc = report_change(e, fl, pr, &pr->res.changes[i], quiet, err);
    if (rc != HS_OK)
        return rc;
    for (int t = 1; t <= 2 && !pr->skip; t++) {
        const struct hs_merge_patch *pt = patch_to(&pr->res, (enum hs_side)t);
        if (pt->n_paths == 0)
            continue;
        char msg[HS_ERRMSG_MAX];
        rc = build_checked(e, (enum hs_side)t, fl->kind, &pt->values, pr->rec[t]->id, &pr->w[t],
                           msg, sizeof msg);
        if (rc == HS_ENOMEM)
            return hs_error_set(err, rc, "cannot sync: out of memory");
        if (rc != HS_OK) {
            pr->skip = true;
            enum hs_side from = other_side((enum hs_side)t);
            return quiet ? HS_OK
                         : record_error(e, fl, from, pr->rec[from], pr->rec[from]->id,
                                        pr->rec[t]->id, msg, err);
        }
        if (hs_record_set_str(&pr->w[t]->id, pr->rec[t]->id) != HS_OK ||
            hs_fields_copy(&pr->w[t]->meta, &pr->rec[t]->meta) != HS_OK)
            return hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
        pr->store = true;
        if (!quiet) {
            char *fields = join_paths(pt);
            char *why = join_reasons(&pr->res, (enum hs_side)t);
            enum hs_side from = other_side((enum hs_side)t);
            rc = fields != NULL && why != NULL
                     ? add_action(e, HS_ENGINE_UPDATE, fl->cf->name, fl->kind, from,
                                  pr->rec[from]->id, pr->rec[t]->id, fields, why)
                     : HS_ENOMEM;
            hs_free(fields);
            hs_free(why);
            if (rc != HS_OK)
                return hs_error_set(err, rc, "cannot sync: out of memory");
        }
    }
    if (!pr->has_base || pr->link_id == 0 || rebased ||
        !hs_fields_equal(&pr->res.crm_base, &pr->base[HS_SIDE_CRM]) ||
        !hs_fields_equal(&pr->res.acc_base, &pr->base[HS_SIDE_ACCOUNTING]))
        pr->store = true;
    return HS_OK;
}

/* ---- creates ------------------------------------------------------------------------------ */

static void create_free(struct create *c)
{
    hs_merge_result_release(&c->res);
    hs_fields_release(&c->src_view);
    hs_record_free(c->rec);
    hs_record_free(c->ans);
}

static int prepare_create(struct hs_engine *e, const struct flow_rt *fl, struct create *c,
                          const char *why, struct hs_error *err)
{
    enum hs_side from = other_side(c->to);
    struct hs_error rerr = {0};
    c->status = ENG_UNSENT;
    int rc = hs_record_to_fields(c->src, &c->src_view, &rerr);
    if (rc == HS_ENOMEM)
        return hs_error_set(err, rc, "cannot sync: out of memory");
    if (rc != HS_OK) {
        c->skip = true;
        return record_error(e, fl, from, c->src, c->src->id, NULL, rerr.msg, err);
    }
    char *ro = NULL;
    rc = read_only_paths(e, c->to, fl->kind, NULL, &ro);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot sync: out of memory");
    rc = hs_merge_create(fl->map, (enum hs_mapping_side)c->to, &c->src_view, ro, &c->res, err);
    hs_free(ro);
    if (rc != HS_OK)
        return rc;
    for (size_t i = 0; i < c->res.n_changes; i++) {
        const struct hs_merge_change *ch = &c->res.changes[i];
        if (ch->action != HS_MERGE_ERROR)
            continue;
        rc = record_error(e, fl, from, c->src, c->src->id, NULL,
                          ch->reason != NULL ? ch->reason : "a value cannot be mapped", err);
        if (rc != HS_OK)
            return rc;
    }
    char msg[HS_ERRMSG_MAX];
    rc = build_checked(e, c->to, fl->kind, &patch_to(&c->res, c->to)->values, NULL, &c->rec, msg,
                       sizeof msg);
    if (rc == HS_ENOMEM)
        return hs_error_set(err, rc, "cannot sync: out of memory");
    if (rc != HS_OK) {
        c->skip = true;
        return record_error(e, fl, from, c->src, c->src->id, NULL, msg, err);
    }
    hs_engine_idem_key(fl->cf->name, c->to, c->src->id, c->key);
    char reason[512];
    snprintf(reason, sizeof reason, "create %s '%s' in %s: %s", hs_kind_name(fl->kind),
             label_of(c->src), side_name(c->to), why);
    rc = add_action(e, HS_ENGINE_CREATE, fl->cf->name, fl->kind, from, c->src->id, NULL, NULL,
                    reason);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot sync: out of memory");
    return HS_OK;
}

/* ---- writes ------------------------------------------------------------------------------- */

/* Marks a write as not sent: no outcome, no result. */
static void unsent(struct hs_write *w)
{
    w->status = ENG_UNSENT;
    w->msg[0] = '\0';
    hs_record_free(w->result);
    w->result = NULL;
}

/*
 * Sends w[0..n) to side t in batches of the provider's size; HS_ETOOBIG halves the batch (a
 * single record that is still too big fails on its own). A whole-batch failure of another
 * kind (a provider's spent limit: HS_ERATELIMIT) stops and returns it: the batches answered
 * before it keep their outcomes, the failed batch and the rest are ENG_UNSENT (nothing is
 * known about them: the next pass retries them with the same idempotency keys).
 */
int eng_write(struct hs_engine *e, enum hs_side t, enum hs_kind kind, struct hs_write *w, size_t n,
              struct hs_error *err)
{
    if (e->dry || n == 0)
        return HS_OK;
    const struct hs_engine_side *sd = side_of(e, t);
    size_t batch = write_batch(e, t, kind);
    for (size_t i = 0; i < n; i++)
        unsent(&w[i]);
    size_t off = 0;
    while (off < n) {
        size_t m = n - off < batch ? n - off : batch;
        for (size_t i = off; i < off + m; i++)
            w[i].status = HS_OK;
        e->rep->n_calls_write++;
        int rc = sd->ops->write(sd->conn, kind, w + off, m, err);
        if (rc != HS_OK) /* the batch's outcomes are not known (or it is split below) */
            for (size_t i = off; i < off + m; i++)
                unsent(&w[i]);
        if (rc == HS_ETOOBIG && m > 1) {
            hs_error_clear(err);
            batch = m / 2;
            continue;
        }
        if (rc == HS_ETOOBIG) {
            hs_error_clear(err);
            w[off].status = HS_ETOOBIG;
            snprintf(w[off].msg, sizeof w[off].msg, "%s refused the record as too large",
                     side_name(t));
            off++;
            continue;
        }
        if (rc != HS_OK) {
            hs_error_prefix(err, "cannot write %s records to %s", hs_kind_name(kind), side_name(t));
            return rc;
        }
        for (size_t i = off; i < off + m; i++)
            if (w[i].status == HS_OK)
                e->rep->n_writes++;
        off += m;
        progress(e, "write", off, n);
    }
    return HS_OK;
}

/* ---- commits ------------------------------------------------------------------------------ */

static int put_base(struct hs_engine *e, int64_t link_id, enum hs_side s, const struct hs_fields *f,
                    const char *written, const struct hs_record *answer, struct hs_error *err)
{
    char *json = NULL;
    if (eng_fields_to_json(f, written, answer, &json) != HS_OK)
        return hs_error_set(err, HS_ENOMEM, "cannot store base snapshot: out of memory");
    int rc = hs_store_base_put(e->cfg.store, link_id, (enum hs_store_side)s, json, NULL, err);
    hs_free(json);
    return rc;
}

int eng_mirror_put(struct hs_engine *e, enum hs_side s, const struct hs_record *r, const char *id,
                   struct hs_error *err)
{
    char *json = NULL;
    if (hs_record_to_json(r, &json, NULL) != HS_OK)
        return HS_OK; /* refreshed from the change feed instead */
    int rc = hs_store_mirror_put(e->cfg.store, side_of(e, s)->conn_id, hs_kind_name(r->kind), id,
                                 json, NULL, r->updated_at, err);
    hs_free(json);
    return rc;
}

int eng_audit(struct hs_engine *e, const char *flow, enum hs_kind kind, const char *action,
              enum hs_side t, const char *id, const char *source_id, const struct hs_fields *before,
              const char *const *paths, size_t n_paths, const struct hs_fields *after,
              struct hs_error *err)
{
    json_t *changes = json_array();
    json_t *d = changes != NULL ? json_pack("{s:s,s:s,s:s,s:o}", "flow", flow, "side", side_name(t),
                                            "source", source_id, "changes", changes)
                                : NULL;
    bool ok = d != NULL;
    for (size_t i = 0; ok && i < n_paths; i++) {
        const char *path = paths[i];
        const char *b = before != NULL ? hs_fields_get(before, path) : NULL;
        const char *a = after != NULL ? hs_fields_get(after, path) : NULL;
        ok = json_array_append_new(changes, json_pack("{s:s,s:s?,s:s?}", "field", path, "before", b,
                                                      "after", a)) == 0;
    }
    char *detail = NULL;
    if (ok) {
        struct hs_buf b;
        hs_buf_init(&b);
        if (hs_json_dump(d, &b) == HS_OK)
            detail = hs_buf_detach(&b);
        else
            hs_buf_release(&b);
    }
    json_decref(d);
    if (detail == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot write audit row: out of memory");
    char object[256];
    snprintf(object, sizeof object, "%s:%s:%s", hs_kind_name(kind), side_name(t), id);
    int rc = hs_store_audit_append(e->cfg.store, "engine", action, object, detail, NULL, err);
    hs_free(detail);
    return rc;
}

/* Audit row with field-level before/after of a write to side t. */
static int audit_write(struct hs_engine *e, const struct flow_rt *fl, const char *action,
                       enum hs_side t, const char *id, const char *source_id,
                       const struct hs_fields *before, const struct hs_merge_patch *pt,
                       struct hs_error *err)
{
    return eng_audit(e, fl->cf->name, fl->kind, action, t, id, source_id, before,
                     pt != NULL ? (const char *const *)pt->paths : NULL,
                     pt != NULL ? pt->n_paths : 0, pt != NULL ? &pt->values : NULL, err);
}

static int commit_pair(struct hs_engine *e, const struct flow_rt *fl, struct pair *pr,
                       struct hs_error *err)
{
    if (e->dry || pr->skip || !pr->store)
        return HS_OK;
    for (int t = 1; t <= 2; t++)
        if (pr->w[t] != NULL && pr->status[t] != HS_OK)
            return HS_OK; /* retried whole on the next pass */
    struct hs_store *st = e->cfg.store;
    const char *crm_id = pr->rec[HS_SIDE_CRM]->id;
    const char *acc_id = pr->rec[HS_SIDE_ACCOUNTING]->id;
    const char *object = hs_kind_name(fl->kind);
    struct hs_fields base[3];
    hs_fields_init(&base[1]);
    hs_fields_init(&base[2]);
    int rc = hs_store_begin(st, err);
    if (rc != HS_OK)
        return rc;
    bool new_link = pr->link_id == 0;
    if (new_link) {
        rc = hs_store_link_create(st, e->cfg.crm.conn_id, e->cfg.accounting.conn_id, object, crm_id,
                                  acc_id, &pr->link_id, err);
        if (rc == HS_OK) {
            char detail[512];
            snprintf(detail, sizeof detail,
                     "{\"flow\":\"%s\",\"crm\":\"%s\",\"accounting\":\"%s\"}", fl->cf->name, crm_id,
                     acc_id);
            json_t *chk = json_loads(detail, 0, NULL);
            rc = hs_store_audit_append(st, "engine", "link", object, chk != NULL ? detail : "{}",
                                       NULL, err);
            json_decref(chk);
        }
    }
    for (int t = 1; t <= 2 && rc == HS_OK; t++) {
        rc = hs_fields_copy(&base[t], res_base(&pr->res, (enum hs_side)t));
        if (rc != HS_OK || pr->w[t] == NULL)
            continue;
        const struct hs_merge_patch *pt = patch_to(&pr->res, (enum hs_side)t);
        if (pr->ans[t] != NULL) {
            struct hs_fields av;
            hs_fields_init(&av);
            if (hs_record_to_fields(pr->ans[t], &av, NULL) == HS_OK)
                rc = hs_merge_base_apply(&base[t], pt, &av);
            hs_fields_release(&av);
            if (rc == HS_OK)
                rc = eng_mirror_put(e, (enum hs_side)t, pr->ans[t], pr->rec[t]->id, err);
        }
        if (rc == HS_OK)
            rc = audit_write(e, fl, "update", (enum hs_side)t, pr->rec[t]->id,
                             pr->rec[other_side((enum hs_side)t)]->id, &pr->view[t], pt, err);
    }
    for (int t = 1; t <= 2 && rc == HS_OK; t++) {
        char *written = NULL;
        const struct hs_record *answer = NULL;
        if (pr->w[t] != NULL && pr->ans[t] != NULL) {
            written = join_paths_sep(patch_to(&pr->res, (enum hs_side)t), "\n");
            answer = pr->ans[t];
            if (written == NULL)
                rc = hs_error_set(err, HS_ENOMEM, "cannot store sync result: out of memory");
        }
        if (rc == HS_OK)
            rc = put_base(e, pr->link_id, (enum hs_side)t, &base[t], written, answer, err);
        hs_free(written);
    }
    if (rc == HS_OK && new_link) {
        /* a create of either record toward the other side that may have reached the provider
         * is now moot: the record it made is the one just linked (a create killed before its
         * link comes back through the change feed and is matched), or it never happened */
        char key[HS_ENGINE_IDEM_MAX + 1];
        for (int s = HS_SIDE_CRM; s <= HS_SIDE_ACCOUNTING && rc == HS_OK; s++) {
            hs_engine_idem_key(fl->cf->name, other_side((enum hs_side)s), pr->rec[s]->id, key);
            rc = hs_store_intent_delete(st, key, err);
        }
    }
    if (rc == HS_OK)
        rc = settle_errors(e, fl, HS_SIDE_CRM, crm_id, err);
    if (rc == HS_OK)
        rc = settle_errors(e, fl, HS_SIDE_ACCOUNTING, acc_id, err);
    hs_fields_release(&base[1]);
    hs_fields_release(&base[2]);
    if (rc == HS_ENOMEM && err != NULL && err->code != HS_ENOMEM)
        hs_error_set(err, rc, "cannot store sync result: out of memory");
    if (rc != HS_OK) {
        hs_store_rollback(st, NULL);
        if (new_link)
            pr->link_id = 0;
        return rc;
    }
    return hs_store_commit(st, err);
}

static int commit_create(struct hs_engine *e, const struct flow_rt *fl, struct create *c,
                         struct hs_error *err)
{
    if (e->dry || c->skip || c->rec == NULL)
        return HS_OK;
    enum hs_side from = other_side(c->to);
    if (c->status != HS_OK || c->ans == NULL || c->ans->id == NULL)
        return HS_OK;
    struct hs_store *st = e->cfg.store;
    const char *object = hs_kind_name(fl->kind);
    const char *crm_id = c->to == HS_SIDE_CRM ? c->ans->id : c->src->id;
    const char *acc_id = c->to == HS_SIDE_CRM ? c->src->id : c->ans->id;
    struct hs_fields tview;
    hs_fields_init(&tview);
    int rc = hs_record_to_fields(c->ans, &tview, NULL);
    if (rc != HS_OK) /* an answer we cannot read: base = what we sent */
        rc = hs_fields_copy(&tview, &patch_to(&c->res, c->to)->values);
    if (rc != HS_OK) {
        hs_fields_release(&tview);
        return hs_error_set(err, HS_ENOMEM, "cannot store sync result: out of memory");
    }
    int64_t link_id = 0;
    rc = hs_store_begin(st, err);
    if (rc == HS_OK) {
        rc = hs_store_link_create(st, e->cfg.crm.conn_id, e->cfg.accounting.conn_id, object, crm_id,
                                  acc_id, &link_id, err);
        if (rc == HS_OK)
            rc = put_base(e, link_id, from, res_base(&c->res, from), NULL, NULL, err);
        if (rc == HS_OK)
            rc = put_base(e, link_id, c->to, &tview, "*", c->ans, err);
        if (rc == HS_OK)
            rc = eng_mirror_put(e, c->to, c->ans, c->ans->id, err);
        if (rc == HS_OK)
            rc = audit_write(e, fl, "create", c->to, c->ans->id, c->src->id, NULL,
                             patch_to(&c->res, c->to), err);
        if (rc == HS_OK)
            rc = hs_store_intent_delete(st, c->key, err);
        if (rc == HS_OK)
            rc = settle_errors(e, fl, from, c->src->id, err);
        if (rc != HS_OK)
            hs_store_rollback(st, NULL);
        else
            rc = hs_store_commit(st, err);
    }
    hs_fields_release(&tview);
    if (rc == HS_EEXIST) {
        /* linked meanwhile by someone else: report, keep going */
        struct hs_error e2 = {0};
        return record_error(e, fl, from, c->src, c->src->id, c->ans->id,
                            "it was linked to another record while it was being created", &e2);
    }
    return rc;
}

/* ---- one group of one flow ---------------------------------------------------------------- */

struct work {
    struct pair *pairs;
    size_t n_pairs;
    struct create *creates;
    size_t n_creates;
};

static void work_release(struct work *w)
{
    for (size_t i = 0; i < w->n_pairs; i++)
        pair_free(&w->pairs[i]);
    for (size_t i = 0; i < w->n_creates; i++)
        create_free(&w->creates[i]);
    hs_free(w->pairs);
    hs_free(w->creates);
}

static int handled_key(char *buf, size_t len, enum hs_side s, enum hs_kind k, const char *id)
{
    int n = snprintf(buf, len, "%d:%d:%s", (int)s, (int)k, id);
    return n < 0 || (size_t)n >= len ? HS_ETOOBIG : HS_OK;
}

static bool was_handled(struct pass *p, enum hs_side s, enum hs_kind k, const char *id)
{
    char key[512];
    if (handled_key(key, sizeof key, s, k, id) != HS_OK)
        return false;
    return hs_fields_get(&p->handled, key) != NULL;
}

static int set_handled(struct pass *p, enum hs_side s, enum hs_kind k, const char *id)
{
    char key[512];
    if (handled_key(key, sizeof key, s, k, id) != HS_OK)
        return HS_OK;
    return hs_fields_set(&p->handled, key, "");
}

static void unset_handled(struct pass *p, enum hs_side s, enum hs_kind k, const char *id)
{
    char key[512];
    if (handled_key(key, sizeof key, s, k, id) == HS_OK)
        hs_fields_remove(&p->handled, key);
}

/* ---- filters ------------------------------------------------------------------------------ */

/*
 * Is the record (recs[self]; a pair when pair is set, linked before this pass when linked) in
 * flow fi's filter? When it is not and no later flow of its kind may take it, it is reported
 * (HS_ENGINE_SKIPPED, with every filter of its kind that refused it) and marked handled with
 * other_id (its linked record, or NULL), so this flow's other group does not report it again.
 * A record an earlier flow refused and this one takes is simply synced. HS_OK or HS_ENOMEM.
 */
static int filter_pass(struct hs_engine *e, struct pass *p, size_t fi,
                       const struct hs_record *const recs[3], enum hs_side self, bool pair,
                       bool linked, const char *other_id, bool *out_pass, struct hs_error *err)
{
    const struct flow_rt *fl = &e->flows[fi];
    char why[384];
    int rc = eng_filter_check(fl->filter, recs, self, pair, out_pass, why, sizeof why);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot sync: out of memory");
    if (*out_pass || !fl->last_of_kind)
        return HS_OK;
    const struct hs_record *r = recs[self];
    struct hs_buf b;
    hs_buf_init(&b);
    rc = hs_buf_printf(&b, "%s '%s' (%s) ", hs_kind_name(fl->kind), label_of(r), side_name(self));
    const char *filters = fl->first_of_kind ? "filter" : "filters"; /* one flow, or several */
    if (rc == HS_OK)
        rc = hs_buf_printf(
            &b, linked ? "is no longer synced: it left the %s (" : "skipped: outside the %s (",
            filters);
    size_t n_refused = 0;
    for (size_t j = 0; j <= fi && rc == HS_OK; j++) {
        const struct flow_rt *o = &e->flows[j];
        if (o->kind != fl->kind || o->filter == NULL)
            continue;
        bool pass = j != fi; /* this flow's verdict is known: refused */
        char owhy[384];
        if (j != fi)
            rc = eng_filter_check(o->filter, recs, self, pair, &pass, owhy, sizeof owhy);
        if (rc != HS_OK || pass)
            continue;
        if (n_refused++ > 0)
            rc = hs_buf_puts(&b, "; ");
        if (rc == HS_OK && !fl->first_of_kind) /* several flows of the kind: name each */
            rc = hs_buf_printf(&b, "flow '%s': ", o->cf->name);
        if (rc == HS_OK)
            rc = hs_buf_puts(&b, j == fi ? why : owhy);
    }
    if (rc == HS_OK)
        rc = hs_buf_puts(&b, linked ? "); the link stays and nothing is deleted" : ")");
    char *reason = rc == HS_OK ? hs_buf_detach(&b) : NULL;
    if (reason == NULL) {
        hs_buf_release(&b);
        return hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
    }
    rc = add_action(e, HS_ENGINE_SKIPPED, fl->cf->name, fl->kind, self, r->id, other_id, NULL,
                    reason);
    hs_free(reason);
    if (rc == HS_OK)
        rc = set_handled(p, self, fl->kind, r->id);
    if (rc == HS_OK && other_id != NULL)
        rc = set_handled(p, other_side(self), fl->kind, other_id);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot sync: out of memory");
    return HS_OK;
}

/*
 * Sends the writes of every pair and create of w toward side t and hands each outcome back
 * (status, answer; an error item for a record the provider refused). A call that fails
 * part-way (a provider's spent limit) still hands back what the calls before it answered, the
 * rest staying ENG_UNSENT, and returns its failure with *stopped set: the caller commits what
 * was answered, then stops. Any other failure (store, memory) leaves *stopped alone.
 */
static int write_side(struct hs_engine *e, const struct flow_rt *fl, struct work *w, enum hs_side t,
                      bool *stopped, struct hs_error *err)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n_pairs; i++)
        if (!w->pairs[i].skip && w->pairs[i].w[t] != NULL)
            n++;
    for (size_t i = 0; i < w->n_creates; i++)
        if (!w->creates[i].skip && w->creates[i].rec != NULL && w->creates[i].to == t)
            n++;
    if (n == 0 || e->dry)
        return HS_OK;
    struct hs_write *wr = hs_calloc(n, sizeof *wr);
    if (wr == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
    size_t j = 0;
    for (size_t i = 0; i < w->n_pairs; i++) {
        struct pair *pr = &w->pairs[i];
        if (pr->skip || pr->w[t] == NULL)
            continue;
        const struct hs_merge_patch *pt = patch_to(&pr->res, t);
        wr[j++] = (struct hs_write){.op = HS_WRITE_UPDATE,
                                    .record = pr->w[t],
                                    .fields = (const char *const *)pt->paths,
                                    .n_fields = pt->n_paths};
    }
    int rc = HS_OK;
    /* intents first, in one transaction: a crash after the provider's create is healed */
    if (j < n) {
        rc = hs_store_begin(e->cfg.store, err);
        for (size_t i = 0; i < w->n_creates && rc == HS_OK; i++) {
            struct create *c = &w->creates[i];
            if (c->skip || c->rec == NULL || c->to != t)
                continue;
            int r = hs_store_intent_put(e->cfg.store, c->key, hs_kind_name(fl->kind),
                                        (enum hs_store_side)t, c->src->id, err);
            c->retry = r == 0;
            rc = r < 0 ? r : HS_OK;
            if (c->retry)
                rc = hs_store_intent_get(e->cfg.store, c->key, &c->retry_since, err);
        }
        if (rc == HS_OK)
            rc = hs_store_commit(e->cfg.store, err);
        else
            hs_store_rollback(e->cfg.store, NULL);
    }
    for (size_t i = 0; i < w->n_creates; i++) {
        struct create *c = &w->creates[i];
        if (c->skip || c->rec == NULL || c->to != t)
            continue;
        wr[j++] = (struct hs_write){.op = HS_WRITE_CREATE,
                                    .record = c->rec,
                                    .idem_key = c->key,
                                    .retry = c->retry,
                                    .retry_since_ms = c->retry_since};
    }
    int wrc = HS_OK;
    struct hs_error werr = {0};
    if (rc == HS_OK) {
        wrc = eng_write(e, t, fl->kind, wr, n, err);
        if (wrc != HS_OK && err != NULL)
            werr = *err;
    }
    /* hand results back, also those answered before a failed call */
    j = 0;
    for (size_t i = 0; i < w->n_pairs && rc == HS_OK; i++) {
        struct pair *pr = &w->pairs[i];
        if (pr->skip || pr->w[t] == NULL)
            continue;
        pr->status[t] = wr[j].status;
        pr->ans[t] = wr[j].result;
        wr[j].result = NULL;
        if (wr[j].status != HS_OK && wr[j].status != HS_ECONFLICT && wr[j].status != ENG_UNSENT) {
            enum hs_side from = other_side(t);
            rc = record_error(e, fl, from, pr->rec[from], pr->rec[from]->id, pr->rec[t]->id,
                              wr[j].msg[0] != '\0' ? wr[j].msg : hs_strerror(wr[j].status), err);
        }
        j++;
    }
    for (size_t i = 0; i < w->n_creates && rc == HS_OK; i++) {
        struct create *c = &w->creates[i];
        if (c->skip || c->rec == NULL || c->to != t)
            continue;
        c->status = wr[j].status;
        c->ans = wr[j].result;
        wr[j].result = NULL;
        if (c->status == HS_OK && (c->ans == NULL || c->ans->id == NULL))
            c->status = HS_EPROTO;
        if (c->status != HS_OK && c->status != ENG_UNSENT)
            rc = record_error(e, fl, other_side(t), c->src, c->src->id, NULL,
                              wr[j].msg[0] != '\0' ? wr[j].msg : hs_strerror(c->status), err);
        j++;
    }
    for (size_t i = 0; i < n; i++)
        hs_record_free(wr[i].result);
    hs_free(wr);
    if (rc != HS_OK || wrc == HS_OK)
        return rc;
    if (err != NULL)
        *err = werr;
    *stopped = true;
    return wrc;
}

/*
 * Re-reads both records of a pair whose write hit a stale version, re-merges, re-sends. A
 * provider call that fails sets *stopped as write_side does (the pair keeps its conflict or
 * ENG_UNSENT status: nothing of it is committed).
 */
static int retry_conflicts(struct hs_engine *e, const struct flow_rt *fl, struct work *w,
                           bool *stopped, struct hs_error *err)
{
    for (size_t i = 0; i < w->n_pairs; i++) {
        struct pair *pr = &w->pairs[i];
        if (pr->skip || (pr->status[HS_SIDE_CRM] != HS_ECONFLICT &&
                         pr->status[HS_SIDE_ACCOUNTING] != HS_ECONFLICT))
            continue;
        for (int s = 1; s <= 2; s++) {
            struct hs_record *fresh = NULL;
            char *id = pr->rec[s]->id;
            int rc = eng_read(e, (enum hs_side)s, fl->kind, &id, 1, &fresh, err);
            if (rc != HS_OK) {
                *stopped = true;
                return rc;
            }
            if (fresh == NULL) {
                pr->skip = true;
                break;
            }
            hs_record_free(pr->rec[s]);
            pr->rec[s] = fresh;
        }
        if (pr->skip)
            continue;
        int rc = prepare_pair(e, fl, pr, true, err);
        if (rc != HS_OK)
            return rc;
        struct work one = {.pairs = pr, .n_pairs = 1};
        for (int t = 1; t <= 2 && rc == HS_OK; t++)
            rc = write_side(e, fl, &one, (enum hs_side)t, stopped, err);
        if (rc != HS_OK)
            return rc;
        for (int t = 1; t <= 2; t++) {
            if (pr->w[t] != NULL && pr->status[t] == HS_ECONFLICT) {
                enum hs_side from = other_side((enum hs_side)t);
                rc = record_error(e, fl, from, pr->rec[from], pr->rec[from]->id, pr->rec[t]->id,
                                  "the record kept changing while it was being updated", err);
                if (rc != HS_OK)
                    return rc;
            }
        }
    }
    return HS_OK;
}

static int fail_group(struct work *w, char **other_ids, struct hs_error *err)
{
    hs_free(other_ids);
    work_release(w);
    return hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
}

static void action_key(char *buf, size_t len, enum hs_engine_action_kind kind, enum hs_side side,
                       const char *source_id)
{
    snprintf(buf, len, "%d:%d:%s", (int)kind, (int)side, source_id);
}

/*
 * Takes back from the report the actions of the group (from the report's first-th on) that
 * announced what was not done: a create, an update toward a side not written (a stopped pass
 * did not send it, or the provider refused the record: its error action says why), the link
 * of a pair that stored nothing. The report then says what was done. Out of memory: the
 * report stays as it is.
 */
static void withdraw_undone(struct hs_engine *e, const struct work *w, size_t first)
{
    struct hs_fields drop;
    hs_fields_init(&drop);
    char key[512];
    int rc = HS_OK;
    for (size_t i = 0; i < w->n_creates && rc == HS_OK; i++) {
        const struct create *c = &w->creates[i];
        if (c->skip || c->rec == NULL || c->status == HS_OK)
            continue;
        action_key(key, sizeof key, HS_ENGINE_CREATE, other_side(c->to), c->src->id);
        rc = hs_fields_set(&drop, key, "");
    }
    for (size_t i = 0; i < w->n_pairs && rc == HS_OK; i++) {
        const struct pair *pr = &w->pairs[i];
        bool unsent = false;
        for (int t = 1; t <= 2 && !pr->skip && rc == HS_OK; t++) {
            if (pr->w[t] == NULL || pr->status[t] == HS_OK)
                continue;
            enum hs_side from = other_side((enum hs_side)t);
            unsent = true;
            action_key(key, sizeof key, HS_ENGINE_UPDATE, from, pr->rec[from]->id);
            rc = hs_fields_set(&drop, key, "");
        }
        if (unsent && pr->link_id == 0 && rc == HS_OK) {
            action_key(key, sizeof key, HS_ENGINE_LINK, pr->from, pr->rec[pr->from]->id);
            rc = hs_fields_set(&drop, key, "");
        }
    }
    struct hs_engine_report *r = e->rep;
    size_t k = first;
    for (size_t i = first; i < r->n_actions && rc == HS_OK; i++) {
        struct hs_engine_action *a = &r->actions[i];
        action_key(key, sizeof key, a->kind, a->source_side, a->source_id);
        if (hs_fields_get(&drop, key) == NULL) {
            r->actions[k++] = *a;
            continue;
        }
        if (a->kind == HS_ENGINE_CREATE)
            r->n_created--;
        else if (a->kind == HS_ENGINE_UPDATE)
            r->n_updated--;
        else if (a->kind == HS_ENGINE_LINK)
            r->n_linked--;
        hs_free(a->flow);
        hs_free(a->source_id);
        hs_free(a->target_id);
        hs_free(a->fields);
        hs_free(a->reason);
    }
    if (rc == HS_OK)
        r->n_actions = k;
    hs_fields_release(&drop);
}

static int review_key(char *buf, size_t len, const char *flow, const char *crm_id,
                      const char *acc_id)
{
    int n = snprintf(buf, len, "%s\x1f%s\x1f%s", flow, crm_id, acc_id);
    return n > 0 && (size_t)n < len ? HS_OK : HS_EINVAL;
}

static int load_decision(void *ud, const struct hs_store_item *it)
{
    struct pass *p = ud;
    char key[512];
    if (it->other_id == NULL || it->resolution == NULL || it->side != HS_STORE_CRM ||
        (strcmp(it->resolution, HS_ENGINE_REVIEW_LINK) != 0 &&
         strcmp(it->resolution, HS_ENGINE_REVIEW_SEPARATE) != 0) ||
        review_key(key, sizeof key, it->flow, it->remote_id, it->other_id) != HS_OK)
        return 0;
    return hs_fields_set(&p->decided, key, it->resolution) == HS_OK ? 0 : HS_ENOMEM;
}

/*
 * A grey-zone match of r (side s) with candidate cand: what a person decided of the pair
 * (hoopsync reviews resolve), read once a pass. *decision: ENG_LINK, ENG_CREATE (they are
 * different records) or ENG_REVIEW (nobody decided yet).
 */
static int review_decision(struct hs_engine *e, struct pass *p, const struct flow_rt *fl,
                           enum hs_side s, const char *id, const char *cand,
                           enum eng_decision *decision, struct hs_error *err)
{
    *decision = ENG_REVIEW;
    if (!p->decided_loaded) {
        int rc = hs_store_item_each(e->cfg.store, HS_STORE_ITEM_REVIEW, NULL,
                                    HS_STORE_ITEM_RESOLVED, load_decision, p, err);
        if (rc == HS_ENOMEM)
            return hs_error_set(err, rc, "cannot sync: out of memory");
        if (rc != HS_OK)
            return rc;
        p->decided_loaded = true;
    }
    char key[512];
    if (review_key(key, sizeof key, fl->cf->name, s == HS_SIDE_CRM ? id : cand,
                   s == HS_SIDE_CRM ? cand : id) != HS_OK)
        return HS_OK;
    const char *said = hs_fields_get(&p->decided, key);
    if (said != NULL)
        *decision = strcmp(said, HS_ENGINE_REVIEW_LINK) == 0 ? ENG_LINK : ENG_CREATE;
    return HS_OK;
}

/*
 * Reports and queues a grey-zone match once per pair, whichever side's record found it: the
 * item is always the CRM record's, with the accounting record as its candidate.
 */
static int raise_review(struct hs_engine *e, struct pass *p, const struct flow_rt *fl,
                        enum hs_side s, const struct hs_record *r, const struct eng_match *m,
                        struct hs_error *err)
{
    const char *crm_id = s == HS_SIDE_CRM ? r->id : m->id;
    const char *acc_id = s == HS_SIDE_CRM ? m->id : r->id;
    char key[512];
    if (review_key(key, sizeof key, fl->cf->name, crm_id, acc_id) == HS_OK) {
        if (hs_fields_get(&p->reviewed, key) != NULL)
            return HS_OK;
        if (hs_fields_set(&p->reviewed, key, "") != HS_OK)
            return hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
    }
    char msg[512];
    snprintf(msg, sizeof msg, "%s '%s' (%s) may be the same as %s record '%s': %s",
             hs_kind_name(fl->kind), label_of(r), side_name(s), side_name(other_side(s)), m->id,
             m->reason);
    int rc = add_action(e, HS_ENGINE_REVIEW, fl->cf->name, fl->kind, s, r->id, m->id, NULL, msg);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot sync: out of memory");
    return raise_item(e, HS_STORE_ITEM_REVIEW, fl, HS_SIDE_CRM, crm_id, acc_id, "", msg, NULL, err);
}

static int process_group(struct hs_engine *e, struct pass *p, size_t fi, struct eng_group *g,
                         struct hs_error *err)
{
    const struct flow_rt *fl = &e->flows[fi];
    enum hs_side s = g->side, t = other_side(g->side);
    const char *object = hs_kind_name(fl->kind);
    const size_t first_action = e->rep->n_actions;
    struct work w = {0};
    int rc = HS_OK;
    char **other_ids = NULL;
    size_t cap = g->n > 0 ? g->n : 1;
    w.pairs = hs_calloc(cap, sizeof *w.pairs);
    w.creates = hs_calloc(cap, sizeof *w.creates);
    other_ids = hs_calloc(cap, sizeof(char *));
    if (w.pairs == NULL || w.creates == NULL || other_ids == NULL)
        return fail_group(&w, other_ids, err);
    struct create_why {
        char text[320];
    } *why = NULL;
    why = hs_calloc(cap, sizeof *why);
    if (why == NULL)
        return fail_group(&w, other_ids, err);
    for (size_t i = 0; i < g->n && rc == HS_OK; i++) {
        struct hs_record *r = g->recs[i];
        if (r == NULL || r->id == NULL || was_handled(p, s, fl->kind, r->id))
            continue;
        struct hs_store_link link = {0};
        rc = hs_store_link_find(e->cfg.store, e->cfg.crm.conn_id, e->cfg.accounting.conn_id, object,
                                (enum hs_store_side)s, r->id, &link, err);
        if (rc == HS_OK) {
            if (fl->filter != NULL && fl->filter_sides == (1u << s)) {
                /* the verdict reads this record only: a pair it refuses is not read on */
                const struct hs_record *one[3] = {NULL, NULL, NULL};
                one[s] = r;
                bool in = true;
                rc = filter_pass(e, p, fi, one, s, true, true,
                                 s == HS_SIDE_CRM ? link.acc_id : link.crm_id, &in, err);
                if (rc != HS_OK || !in) {
                    hs_store_link_release(&link);
                    continue;
                }
            }
            struct pair *pr = &w.pairs[w.n_pairs];
            pr->link_id = link.id;
            pr->from = s;
            pr->slot = i;
            pr->filter_pending = fl->filter != NULL && fl->filter_sides != (1u << s);
            other_ids[w.n_pairs] = hs_strdup(s == HS_SIDE_CRM ? link.acc_id : link.crm_id);
            hs_store_link_release(&link);
            if (other_ids[w.n_pairs] == NULL) {
                rc = hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
                break;
            }
            pr->rec[s] = r;
            g->recs[i] = NULL;
            w.n_pairs++;
            rc = set_handled(p, s, fl->kind, r->id);
            continue;
        }
        if (rc != HS_ENOTFOUND)
            break;
        hs_error_clear(err);
        rc = HS_OK;
        if (!flow_allows(fl, s))
            continue; /* one-way flow: an unlinked record of the receiving side is not ours */
        if (fl->filter != NULL) {
            /* outside the filter: not matched, linked or created */
            const struct hs_record *one[3] = {NULL, NULL, NULL};
            one[s] = r;
            bool in = true;
            rc = filter_pass(e, p, fi, one, s, false, false, NULL, &in, err);
            if (rc != HS_OK)
                break;
            if (!in)
                continue;
        }
        /* this flow takes it: a later flow of the kind (another filter) leaves it alone */
        if (!fl->last_of_kind && set_handled(p, s, fl->kind, r->id) != HS_OK) {
            rc = hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
            break;
        }
        struct eng_index *idx = NULL;
        rc = get_index(e, p, fi, t, &idx, err);
        struct eng_match m;
        if (rc == HS_OK)
            rc = eng_index_find(idx, r, &m, err);
        if (rc == HS_OK && m.decision == ENG_REVIEW) {
            enum eng_decision d = ENG_REVIEW;
            rc = review_decision(e, p, fl, s, r->id, m.id, &d, err);
            if (d == ENG_LINK)
                snprintf(m.reason, sizeof m.reason,
                         "a person decided they are the same (hoopsync reviews resolve)");
            else if (d == ENG_CREATE)
                snprintf(m.reason, sizeof m.reason,
                         "a person decided it is not %s record '%s' (hoopsync reviews resolve)",
                         side_name(t), m.id);
            m.decision = d;
        }
        if (rc != HS_OK)
            break;
        if (m.decision == ENG_LINK) {
            struct pair *pr = &w.pairs[w.n_pairs];
            pr->from = s;
            pr->slot = i;
            /* a filter that reads the other record decides once it is read (then the link
             * is reported) */
            pr->filter_pending = fl->filter != NULL && fl->filter_sides != (1u << s);
            other_ids[w.n_pairs] = hs_strdup(m.id);
            pr->link_reason = hs_strdup(m.reason);
            if (other_ids[w.n_pairs] == NULL || pr->link_reason == NULL) {
                rc = hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
                break;
            }
            eng_index_take(idx, m.id);
            pr->rec[s] = r;
            g->recs[i] = NULL;
            w.n_pairs++;
            if (!pr->filter_pending)
                rc = add_action(e, HS_ENGINE_LINK, fl->cf->name, fl->kind, s, r->id, m.id, NULL,
                                m.reason);
            if (rc != HS_OK)
                rc = hs_error_set(err, rc, "cannot sync: out of memory");
            if (rc == HS_OK)
                rc = set_handled(p, s, fl->kind, r->id);
        } else if (m.decision == ENG_REVIEW) {
            rc = raise_review(e, p, fl, s, r, &m, err);
        } else {
            struct create *c = &w.creates[w.n_creates];
            c->src = r;
            c->to = t;
            snprintf(why[w.n_creates].text, sizeof why[w.n_creates].text, "%s", m.reason);
            w.n_creates++;
        }
    }
    /* the other side of every pair, batched */
    if (rc == HS_OK && w.n_pairs > 0) {
        struct hs_record **others = hs_calloc(w.n_pairs, sizeof(struct hs_record *));
        if (others == NULL)
            rc = hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
        if (rc == HS_OK)
            rc = eng_read(e, t, fl->kind, other_ids, w.n_pairs, others, err);
        for (size_t i = 0; i < w.n_pairs && others != NULL; i++) {
            struct pair *pr = &w.pairs[i];
            pr->rec[t] = others[i];
            if (rc == HS_OK && others[i] == NULL) {
                pr->skip = true;
                char msg[256];
                snprintf(msg, sizeof msg, "the linked %s record '%s' no longer exists",
                         side_name(t), other_ids[i]);
                rc = record_error(e, fl, s, pr->rec[s], pr->rec[s]->id, other_ids[i], msg, err);
            }
            if (rc == HS_OK && others[i] != NULL && others[i]->id == NULL)
                rc = hs_record_set_str(&others[i]->id, other_ids[i]) == HS_OK
                         ? HS_OK
                         : hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
            bool refused = false;
            if (rc == HS_OK && pr->filter_pending && !pr->skip) {
                bool in = true;
                rc = filter_pass(e, p, fi, (const struct hs_record *const *)pr->rec, s, true,
                                 pr->link_id != 0, other_ids[i], &in, err);
                if (rc == HS_OK && !in) {
                    /* nothing of the pair is written or stored; its record goes back to the
                     * group for a later flow of the kind */
                    refused = true;
                    pr->skip = true;
                    if (!fl->last_of_kind)
                        unset_handled(p, s, fl->kind, pr->rec[s]->id);
                    g->recs[pr->slot] = pr->rec[s];
                    pr->rec[s] = NULL;
                } else if (rc == HS_OK && pr->link_id == 0) {
                    rc = add_action(e, HS_ENGINE_LINK, fl->cf->name, fl->kind, s, pr->rec[s]->id,
                                    other_ids[i], NULL, pr->link_reason);
                    if (rc != HS_OK)
                        rc = hs_error_set(err, rc, "cannot sync: out of memory");
                }
            }
            if (rc == HS_OK && !refused)
                rc = set_handled(p, t, fl->kind, other_ids[i]);
        }
        hs_free(others);
    }
    for (size_t i = 0; i < w.n_pairs && rc == HS_OK; i++)
        if (!w.pairs[i].skip)
            rc = prepare_pair(e, fl, &w.pairs[i], false, err);
    for (size_t i = 0; i < w.n_creates && rc == HS_OK; i++)
        rc = prepare_create(e, fl, &w.creates[i], why[i].text, err);
    bool stopped = false;
    for (int side = 1; side <= 2 && rc == HS_OK; side++)
        rc = write_side(e, fl, &w, (enum hs_side)side, &stopped, err);
    if (rc == HS_OK)
        rc = retry_conflicts(e, fl, &w, &stopped, err);
    /* a provider call failed part-way (a spent limit): what was answered before it is
     * committed as on success, the rest (ENG_UNSENT) is not; then the pass stops with it */
    int stop_rc = HS_OK;
    struct hs_error stop_err = {0};
    if (stopped) {
        stop_rc = rc;
        if (err != NULL)
            stop_err = *err;
        rc = HS_OK;
    }
    /* every pair's and create's transaction nests in one for the group: one sync to disk
     * instead of one per record (a crash before it commits is healed like one before a
     * pair's commit: intents replay, merges find nothing left to write) */
    bool outer = rc == HS_OK && !e->dry;
    if (outer)
        rc = hs_store_begin(e->cfg.store, err);
    for (size_t i = 0; i < w.n_pairs && rc == HS_OK; i++)
        rc = commit_pair(e, fl, &w.pairs[i], err);
    for (size_t i = 0; i < w.n_creates && rc == HS_OK; i++)
        rc = commit_create(e, fl, &w.creates[i], err);
    if (outer && rc == HS_OK)
        rc = hs_store_commit(e->cfg.store, err);
    else if (outer)
        (void)hs_store_rollback(e->cfg.store, NULL);
    if (rc == HS_OK && !e->dry)
        withdraw_undone(e, &w, first_action);
    if (rc == HS_OK && stop_rc != HS_OK) {
        rc = stop_rc;
        if (err != NULL)
            *err = stop_err;
    }
    if (other_ids != NULL)
        for (size_t i = 0; i < g->n; i++)
            hs_free(other_ids[i]);
    hs_free(other_ids);
    hs_free(why);
    /* records moved into pairs are freed there; put nothing back */
    work_release(&w);
    return rc;
}

/* ---- the pass ----------------------------------------------------------------------------- */

static int save_runs(struct hs_engine *e, struct hs_error *err)
{
    if (e->dry)
        return HS_OK;
    int64_t now = hs_env_now_ms(&e->env);
    /* the generic flows, then the invoice step's flow and its payments flow */
    const struct hs_engine_invoicing *iv = e->cfg.invoicing;
    size_t n_names = e->n_flows + (iv != NULL ? 1 : 0) +
                     (iv != NULL && !iv->no_payments && iv->payments_flow != NULL ? 1 : 0);
    for (size_t i = 0; i < n_names; i++) {
        const char *name = i < e->n_flows     ? e->flows[i].cf->name
                           : i > e->n_flows   ? iv->payments_flow
                           : iv->flow != NULL ? iv->flow
                                              : ENG_INVOICE_FLOW;
        size_t n[HS_ENGINE_SKIPPED] = {0};
        for (size_t a = 0; a < e->rep->n_actions; a++) {
            const struct hs_engine_action *ac = &e->rep->actions[a];
            if (strcmp(ac->flow, name) == 0 && ac->kind >= 1 && ac->kind <= HS_ENGINE_SKIPPED)
                n[ac->kind - 1]++;
        }
        json_t *o = json_pack(
            "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "finished_at", (json_int_t)now, "created",
            (json_int_t)n[HS_ENGINE_CREATE - 1], "updated", (json_int_t)n[HS_ENGINE_UPDATE - 1],
            "linked", (json_int_t)n[HS_ENGINE_LINK - 1], "conflicts",
            (json_int_t)n[HS_ENGINE_CONFLICT - 1], "errors", (json_int_t)n[HS_ENGINE_ERROR - 1],
            "reviews", (json_int_t)n[HS_ENGINE_REVIEW - 1], "skipped",
            (json_int_t)n[HS_ENGINE_SKIPPED - 1]);
        if (o == NULL)
            return hs_error_set(err, HS_ENOMEM, "cannot record run: out of memory");
        struct hs_buf b;
        hs_buf_init(&b);
        int rc = hs_json_dump(o, &b);
        json_decref(o);
        char *s = rc == HS_OK ? hs_buf_detach(&b) : NULL;
        if (s == NULL) {
            hs_buf_release(&b);
            return hs_error_set(err, HS_ENOMEM, "cannot record run: out of memory");
        }
        rc = hs_store_run_put(e->cfg.store, name, s, err);
        hs_free(s);
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}

/* True when a generic flow (not the invoice step) syncs kind. */
static bool generic_kind(const struct hs_engine *e, enum hs_kind kind)
{
    for (size_t i = 0; i < e->n_flows; i++)
        if (e->flows[i].kind == kind)
            return true;
    return false;
}

/* Allocates the group's record slots once, one per id slot (g->cap: a feed grows both). */
static bool recs_ready(struct eng_group *g)
{
    if (g->recs == NULL)
        g->recs = hs_calloc(g->cap > 0 ? g->cap : 1, sizeof(struct hs_record *));
    return g->recs != NULL;
}

/* Makes records [0, upto) of a group read (batch-reading those not read ahead) and mirrored
 * (those not mirrored yet, one transaction). */
static int read_upto(struct hs_engine *e, struct eng_group *g, size_t upto, struct hs_error *err)
{
    if (!recs_ready(g))
        return hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
    if (g->n_read < upto) {
        int rc = eng_read(e, g->side, g->kind, g->ids + g->n_read, upto - g->n_read,
                          g->recs + g->n_read, err);
        if (rc != HS_OK)
            return rc;
        g->n_read = upto;
    }
    if (g->n_mirrored < upto) {
        int rc = mirror_range(e, g, g->n_mirrored, upto, err);
        if (rc != HS_OK)
            return rc;
        g->n_mirrored = upto;
    }
    return HS_OK;
}

/* Batch-reads a group's records (those not read ahead) and refreshes the mirror with them. */
static int read_group(struct hs_engine *e, struct eng_group *g, struct hs_error *err)
{
    return read_upto(e, g, g->n, err);
}

/* ---- read-ahead while the accounting side waits ------------------------------------------ */

/* Stop reading ahead this long before the accounting limiter's wait ends. */
#define AHEAD_MARGIN_MS 2

struct ahead {
    struct hs_engine *e;
    struct pass *p;
    int64_t last_ms;    /* how long the last read ahead took, less what it waited for the CRM's
                         * limiter: the next one must fit the wait too */
    int64_t last_calls; /* the CRM calls it made: the next one needs as many */
    int64_t page_ms;    /* the same for the last change-feed page fetched ahead */
    bool stop;          /* a read failed: the group is read again in its turn, which reports it */
};

enum ahead_step { AHEAD_READ, AHEAD_FETCHED, AHEAD_PAGE };

/* One step ahead for group g: the next read_batch records of its ids, else of the ids its feed
 * fetched, else the feed's next page. */
static int ahead_step(struct hs_engine *e, struct eng_group *g, enum ahead_step what,
                      struct hs_error *err)
{
    if (what == AHEAD_FETCHED)
        return eng_feed_read_ahead(g->feed, err);
    if (what == AHEAD_PAGE)
        return eng_feed_fetch(g->feed, err);
    if (!recs_ready(g))
        return HS_ENOMEM;
    return eng_read_next(e, g->side, g->kind, g->ids, g->recs, g->n, &g->n_read, err);
}

int eng_read_next(struct hs_engine *e, enum hs_side s, enum hs_kind kind, char *const *ids,
                  struct hs_record **recs, size_t n, size_t *n_read, struct hs_error *err)
{
    size_t b = read_batch(e, s, kind);
    size_t m = n - *n_read < b ? n - *n_read : b;
    int rc = eng_read(e, s, kind, ids + *n_read, m, recs + *n_read, err);
    if (rc != HS_OK) {
        for (size_t i = *n_read; i < *n_read + m; i++) {
            hs_record_free(recs[i]);
            recs[i] = NULL;
        }
        return rc;
    }
    *n_read += m;
    return HS_OK;
}

/* hs_ratelimit_idle_fn of the accounting limiter during the generic flows: reads the next
 * read_batch records of the CRM groups (then those of the ids their feeds fetched, then the
 * feeds' next pages), the generic flows' slices still to come first, then the invoice step's
 * (deals), as long as neither the wait nor the CRM's own limiter would make the accounting
 * call late (a read is expected to last as long and to make as many CRM calls as the one
 * before: one record read can be several calls, for associations; a page as long as the one
 * before, waiting for the CRM's tightest window). Only the CRM connector is called (the
 * accounting one is inside its call), and nothing is stored: read_upto stores the mirror in
 * the slice's turn, eng_feed_fill the pages. */
static void read_ahead(void *ud, int64_t until_ms)
{
    struct ahead *a = ud;
    struct hs_engine *e = a->e;
    struct hs_ratelimit *crm_rl = e->cfg.crm.limiter;
    for (size_t k = 0; k < 2 * a->p->n_groups && !a->stop; k++) {
        bool generic_round = k < a->p->n_groups;
        struct eng_group *g = &a->p->groups[generic_round ? k : k - a->p->n_groups];
        if (g->side != HS_SIDE_CRM || generic_kind(e, g->kind) != generic_round)
            continue;
        while (!a->stop) {
            enum ahead_step what = AHEAD_READ;
            if (g->n_read >= g->n && eng_feed_unread(g->feed))
                what = AHEAD_FETCHED;
            else if (g->n_read >= g->n && eng_feed_pages_left(g->feed))
                what = AHEAD_PAGE;
            else if (g->n_read >= g->n)
                break;
            int64_t now = hs_env_now_ms(&e->env);
            int64_t crm_wait = what == AHEAD_PAGE
                                   ? hs_ratelimit_wait_any_ms(crm_rl, 1)
                                   : hs_ratelimit_wait_n_ms(crm_rl, "all", a->last_calls);
            int64_t took = what == AHEAD_PAGE ? a->page_ms : a->last_ms;
            if (now + crm_wait + took + AHEAD_MARGIN_MS >= until_ms)
                return;
            int64_t calls0 = 0, waited0 = 0, calls1 = 0, waited1 = 0;
            hs_ratelimit_stats(crm_rl, &calls0, &waited0);
            struct hs_error err;
            hs_error_clear(&err);
            if (ahead_step(e, g, what, &err) != HS_OK) {
                a->stop = true;
                return;
            }
            hs_ratelimit_stats(crm_rl, &calls1, &waited1);
            int64_t spent = hs_env_now_ms(&e->env) - now - (waited1 - waited0);
            if (what == AHEAD_PAGE) {
                a->page_ms = spent;
            } else {
                a->last_ms = spent;
                a->last_calls = calls1 - calls0;
            }
        }
    }
}

/* Feeds for the CRM groups whose change feed detect left part-way (a group made when the pass
 * claimed none of its ids yet). The groups must not move afterwards. */
static int feeds_open(struct hs_engine *e, struct pass *p, struct feed_start *starts,
                      struct hs_error *err)
{
    for (int k = 1; k <= HS_KIND_MAX; k++) {
        if (starts[k].streamed && group_for(p, (enum hs_kind)k, HS_SIDE_CRM) == NULL)
            return hs_error_set(err, HS_ENOMEM, "cannot sync: out of memory");
    }
    for (int k = 1; k <= HS_KIND_MAX; k++) {
        if (!starts[k].streamed)
            continue;
        struct eng_group *g = group_for(p, (enum hs_kind)k, HS_SIDE_CRM);
        int rc = eng_feed_new(e, g, starts[k].cursor, starts[k].more, &g->feed, err);
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}

/* Completes (ok) or gives back what the feeds claimed, and frees them. */
static int feeds_close(struct pass *p, bool ok, struct hs_error *err)
{
    int rc = HS_OK;
    for (size_t i = 0; i < p->n_groups; i++) {
        int r = eng_feed_finish(p->groups[i].feed, ok && rc == HS_OK, err);
        rc = rc == HS_OK ? r : rc;
        eng_feed_free(p->groups[i].feed);
        p->groups[i].feed = NULL;
    }
    return rc;
}

static int run_pass(struct hs_engine *e, struct hs_error *err)
{
    taken_release(e); /* the names in use are re-read from the mirror, once per pass */
    struct pass p;
    memset(&p, 0, sizeof p);
    hs_fields_init(&p.handled);
    hs_fields_init(&p.decided);
    hs_fields_init(&p.reviewed);
    struct feed_start starts[HS_KIND_MAX + 1];
    memset(starts, 0, sizeof starts);
    int rc = detect(e, e->dry ? NULL : starts, err);
    if (rc == HS_OK)
        rc = collect(e, &p, err);
    if (rc == HS_OK && !e->dry)
        rc = feeds_open(e, &p, starts, err);
    for (int k = 0; k <= HS_KIND_MAX; k++)
        hs_free(starts[k].cursor);
    /* the generic flows' records first; the invoice step's (deals, invoices, payments) only
     * once those are processed and freed, so both sets are never held at once */
    /* the accounting side's records of the generic flows now, whole (the CRM records are
     * matched against their index); the CRM's slice by slice below, so that the first writes
     * go out without waiting for all of them (the accounting index is built once all are read:
     * the accounting group of a flow comes after its CRM slices) */
    for (size_t gi = 0; gi < p.n_groups && rc == HS_OK; gi++)
        if (generic_kind(e, p.groups[gi].kind) && p.groups[gi].side != HS_SIDE_CRM)
            rc = read_group(e, &p.groups[gi], err);
    /* while the accounting side's limiter makes its writes wait, the CRM records still to
     * come are read ahead, so the two providers' waits overlap */
    struct ahead ahead = {.e = e, .p = &p};
    struct hs_ratelimit *acc_rl = e->cfg.accounting.limiter;
    if (rc == HS_OK && acc_rl != NULL && e->cfg.invoicing != NULL)
        hs_ratelimit_set_idle(acc_rl, read_ahead, &ahead, AHEAD_MARGIN_MS * 5);
    /* flows in order; the CRM side first, so records we create come back already linked */
    for (size_t fi = 0; fi < e->n_flows && rc == HS_OK; fi++) {
        for (int s = HS_SIDE_CRM; s <= HS_SIDE_ACCOUNTING && rc == HS_OK; s++) {
            for (size_t gi = 0; gi < p.n_groups && rc == HS_OK; gi++) {
                struct eng_group *g = &p.groups[gi];
                if (g->kind != e->flows[fi].kind || g->side != (enum hs_side)s)
                    continue;
                /* in slices, so that the records, merges and writes of one slice only are
                 * held at once (the index of the other side is built once per pass); a CRM
                 * feed still paging gives each slice its ids first */
                const size_t k = e->cfg.slice;
                for (size_t at = 0; rc == HS_OK; at += k) {
                    rc = eng_feed_fill(g->feed, at + k, err);
                    if (rc != HS_OK || at >= g->n)
                        break;
                    struct eng_group slice = *g;
                    slice.n = g->n - at < k ? g->n - at : k;
                    rc = read_upto(e, g, at + slice.n, err);
                    if (rc != HS_OK)
                        break;
                    slice.ids = g->ids + at;
                    slice.recs = g->recs + at;
                    rc = process_group(e, &p, fi, &slice, err);
                }
            }
        }
    }
    if (acc_rl != NULL)
        hs_ratelimit_set_idle(acc_rl, NULL, NULL, 0);
    /* invoices and payments (engine/invoices.c), on their groups read now (the CRM's feeds
     * paged to their end first) */
    for (size_t gi = 0; gi < p.n_groups && rc == HS_OK; gi++) {
        if (!generic_kind(e, p.groups[gi].kind)) {
            rc = eng_feed_fill(p.groups[gi].feed, SIZE_MAX, err);
            if (rc == HS_OK)
                rc = read_group(e, &p.groups[gi], err);
        }
    }
    if (rc == HS_OK && e->cfg.invoicing != NULL)
        rc = eng_invoices_run(e, p.groups, p.n_groups, err);
    if (!e->dry && p.n_claimed > 0) {
        if (rc == HS_OK) {
            int r = hs_store_dirty_complete(e->cfg.store, e->owner, p.claimed, p.n_claimed, err);
            rc = r < 0 ? r : HS_OK;
        } else if (!hs_store_failed(e->cfg.store)) {
            int r = hs_store_dirty_release(e->cfg.store, e->owner, p.claimed, p.n_claimed, NULL);
            (void)r;
        }
    }
    int r = feeds_close(&p, rc == HS_OK, rc == HS_OK ? err : NULL);
    rc = rc == HS_OK ? r : rc;
    if (rc == HS_OK)
        rc = save_runs(e, err);
    pass_release(e, &p);
    return rc;
}

int hs_engine_run_once(struct hs_engine *e, struct hs_engine_report *report, struct hs_error *err)
{
    if (e == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot sync: no engine");
    e->rep = report != NULL ? report : &e->scratch;
    e->dry = false;
    return run_pass(e, err);
}

int hs_engine_plan(struct hs_engine *e, struct hs_engine_report *report, struct hs_error *err)
{
    if (e == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot plan: no engine");
    e->rep = report != NULL ? report : &e->scratch;
    e->dry = true;
    planned_release(e);
    int rc = run_pass(e, err);
    planned_release(e);
    e->dry = false;
    return rc;
}

/* ---- retry and resolve -------------------------------------------------------------------- */

struct retry_ctx {
    struct hs_store *store;
    const char *crm_conn;
    const char *acc_conn;
    int64_t only;
    int n;
    struct hs_error *err;
};

static int retry_cb(void *ud, const struct hs_store_item *it)
{
    struct retry_ctx *r = ud;
    if (r->only != 0 && it->id != r->only)
        return 0;
    const char *conn = it->side == HS_STORE_CRM ? r->crm_conn : r->acc_conn;
    int rc = hs_store_dirty_mark(r->store, conn, it->object, it->side, it->remote_id, r->err);
    if (rc == HS_OK)
        rc = hs_store_item_set_state(r->store, it->id, HS_STORE_ITEM_RETRY, "retry requested",
                                     r->err);
    if (rc != HS_OK)
        return rc;
    r->n++;
    return 0;
}

int hs_engine_retry(struct hs_store *store, int64_t item_id, const char *crm_conn,
                    const char *acc_conn, struct hs_error *err)
{
    if (store == NULL || crm_conn == NULL || acc_conn == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot retry: missing store or connection");
    if (item_id != 0) {
        struct hs_store_item it = {0};
        int rc = hs_store_item_get(store, item_id, &it, err);
        if (rc != HS_OK)
            return rc;
        bool ok = it.kind == HS_STORE_ITEM_ERROR;
        hs_store_item_release(&it);
        if (!ok)
            return hs_error_set(err, HS_EINVAL, "cannot retry item %lld: it is not an error",
                                (long long)item_id);
    }
    struct retry_ctx r = {
        .store = store, .crm_conn = crm_conn, .acc_conn = acc_conn, .only = item_id, .err = err};
    int rc = hs_store_begin(store, err);
    if (rc != HS_OK)
        return rc;
    rc = hs_store_item_each(store, HS_STORE_ITEM_ERROR, NULL, item_id != 0 ? -1 : 0, retry_cb, &r,
                            err);
    if (rc != HS_OK) {
        hs_store_rollback(store, NULL);
        return rc;
    }
    rc = hs_store_commit(store, err);
    return rc != HS_OK ? rc : r.n;
}

/* ---- conflict resolution ------------------------------------------------------------------ */

static const struct flow_rt *flow_named(const struct hs_engine *e, const char *name)
{
    for (size_t i = 0; i < e->n_flows; i++)
        if (strcmp(e->flows[i].cf->name, name) == 0)
            return &e->flows[i];
    return NULL;
}

/* Sets f[path] to the value of path in view (or removes it when view has none). */
static int copy_field(struct hs_fields *f, const char *path, const struct hs_fields *view)
{
    const char *v = hs_fields_get(view, path);
    if (v == NULL) {
        hs_fields_remove(f, path);
        return HS_OK;
    }
    return hs_fields_set(f, path, v);
}

/* Writes a literal value to one field of the CRM record (take VALUE). */
static int write_literal(struct hs_engine *e, const struct flow_rt *fl, struct hs_record **crm,
                         const char *path, const char *value, struct hs_error *err)
{
    if (*crm == NULL || (*crm)->id == NULL)
        return hs_error_set(err, HS_ENOTFOUND, "cannot resolve: the crm record is gone");
    struct hs_fields v;
    hs_fields_init(&v);
    int rc = hs_fields_set(&v, path, value);
    struct hs_record *rec = NULL;
    char msg[HS_ERRMSG_MAX] = "";
    if (rc == HS_OK)
        rc = build_checked(e, HS_SIDE_CRM, fl->kind, &v, (*crm)->id, &rec, msg, sizeof msg);
    hs_fields_release(&v);
    if (rc != HS_OK || rec == NULL)
        return hs_error_set(err, rc == HS_ENOMEM ? HS_ENOMEM : HS_EINVAL,
                            "cannot use '%s' for field '%s': %s", value, path,
                            msg[0] != '\0' ? msg : "out of memory");
    if (hs_record_set_str(&rec->id, (*crm)->id) != HS_OK ||
        hs_fields_copy(&rec->meta, &(*crm)->meta) != HS_OK) {
        hs_record_free(rec);
        return hs_error_set(err, HS_ENOMEM, "cannot resolve: out of memory");
    }
    const char *fields[1] = {path};
    struct hs_write w = {.op = HS_WRITE_UPDATE, .record = rec, .fields = fields, .n_fields = 1};
    rc = eng_write(e, HS_SIDE_CRM, fl->kind, &w, 1, err);
    if (rc == HS_OK && w.status != HS_OK)
        rc = hs_error_set(err, w.status, "cannot write '%s' to the crm: %s", value,
                          w.msg[0] != '\0' ? w.msg : hs_strerror(w.status));
    if (rc == HS_OK && w.result != NULL) {
        if (w.result->id == NULL)
            rc = hs_record_set_str(&w.result->id, (*crm)->id);
        hs_record_free(*crm);
        *crm = w.result;
        w.result = NULL;
    }
    hs_record_free(w.result);
    hs_record_free(rec);
    return rc;
}

int hs_engine_resolve(struct hs_engine *e, int64_t item_id, const char *take,
                      struct hs_engine_report *report, struct hs_error *err)
{
    if (e == NULL || take == NULL || take[0] == '\0')
        return hs_error_set(err, HS_EINVAL, "cannot resolve: missing engine or choice");
    e->rep = report != NULL ? report : &e->scratch;
    e->dry = false;
    struct hs_store *st = e->cfg.store;
    struct hs_store_item it = {0};
    int rc = hs_store_item_get(st, item_id, &it, err);
    if (rc != HS_OK)
        return rc;
    const struct flow_rt *fl = flow_named(e, it.flow);
    struct hs_store_link link = {0};
    bool have_link = false;
    struct hs_record *recs[3] = {NULL, NULL, NULL};
    struct hs_fields base[3], view[3], meta;
    hs_fields_init(&meta);
    for (int s = 0; s < 3; s++) {
        hs_fields_init(&base[s]);
        hs_fields_init(&view[s]);
    }
    json_t *detail = NULL;
    if (it.kind != HS_STORE_ITEM_CONFLICT || it.state == HS_STORE_ITEM_RESOLVED) {
        rc = hs_error_set(err, HS_EINVAL, "item %lld is not an open conflict", (long long)item_id);
        goto done;
    }
    if (fl == NULL) {
        rc = hs_error_set(err, HS_ENOTFOUND,
                          "conflict %lld belongs to flow '%s', which is not "
                          "configured any more",
                          (long long)item_id, it.flow);
        goto done;
    }
    rc = hs_store_link_find(st, e->cfg.crm.conn_id, e->cfg.accounting.conn_id, it.object,
                            HS_STORE_CRM, it.remote_id, &link, err);
    if (rc != HS_OK)
        goto done;
    have_link = true;
    rc = hs_json_parse((const uint8_t *)it.detail, strlen(it.detail), "conflict detail", &detail,
                       err);
    if (rc != HS_OK)
        goto done;
    const char *crm_field = it.field;
    const char *acc_field = hs_json_str(detail, "accounting_field");
    if (acc_field == NULL)
        acc_field = crm_field;
    char *ids[3] = {NULL, link.crm_id, link.acc_id};
    for (int s = 1; s <= 2 && rc == HS_OK; s++) {
        rc = eng_read(e, (enum hs_side)s, fl->kind, &ids[s], 1, &recs[s], err);
        if (rc != HS_OK)
            break;
        if (recs[s] == NULL) {
            rc = hs_error_set(err, HS_ENOTFOUND, "the %s record '%s' no longer exists",
                              side_name((enum hs_side)s), ids[s]);
            break;
        }
        if (recs[s]->id == NULL)
            rc = hs_record_set_str(&recs[s]->id, ids[s]);
        bool found = false;
        if (rc == HS_OK)
            rc = load_base(e, link.id, (enum hs_side)s, &base[s], &meta, &found, err);
    }
    if (rc != HS_OK)
        goto done;
    enum hs_side winner;
    if (strcmp(take, "crm") == 0) {
        winner = HS_SIDE_CRM;
    } else if (strcmp(take, "accounting") == 0) {
        winner = HS_SIDE_ACCOUNTING;
    } else {
        winner = HS_SIDE_CRM;
        rc = write_literal(e, fl, &recs[HS_SIDE_CRM], crm_field, take, err);
        if (rc != HS_OK)
            goto done;
    }
    for (int s = 1; s <= 2 && rc == HS_OK; s++)
        rc = hs_record_to_fields(recs[s], &view[s], err);
    if (rc != HS_OK)
        goto done;
    /* the loser's base takes its current value (unchanged), the winner's base forgets the
     * field (changed): the next pass writes the winner's value across, through the mapping */
    if (winner == HS_SIDE_CRM) {
        rc = copy_field(&base[HS_SIDE_ACCOUNTING], acc_field, &view[HS_SIDE_ACCOUNTING]);
        hs_fields_remove(&base[HS_SIDE_CRM], crm_field);
    } else {
        rc = copy_field(&base[HS_SIDE_CRM], crm_field, &view[HS_SIDE_CRM]);
        hs_fields_remove(&base[HS_SIDE_ACCOUNTING], acc_field);
    }
    if (rc != HS_OK) {
        rc = hs_error_set(err, HS_ENOMEM, "cannot resolve: out of memory");
        goto done;
    }
    rc = hs_store_begin(st, err);
    if (rc != HS_OK)
        goto done;
    for (int s = 1; s <= 2 && rc == HS_OK; s++)
        rc = put_base(e, link.id, (enum hs_side)s, &base[s], NULL, NULL, err);
    char how[HS_ERRMSG_MAX];
    snprintf(how, sizeof how, "take %s", take);
    if (rc == HS_OK)
        rc = hs_store_item_set_state(st, item_id, HS_STORE_ITEM_RESOLVED, how, err);
    if (rc == HS_OK)
        rc = hs_store_dirty_mark(st, e->cfg.crm.conn_id, it.object, HS_STORE_CRM, link.crm_id, err);
    if (rc == HS_OK) {
        json_t *d = json_pack("{s:I,s:s,s:s,s:s}", "item", (json_int_t)item_id, "flow", it.flow,
                              "field", crm_field, "take", take);
        struct hs_buf b;
        hs_buf_init(&b);
        char *s = d != NULL && hs_json_dump(d, &b) == HS_OK ? hs_buf_detach(&b) : NULL;
        if (s == NULL)
            hs_buf_release(&b);
        json_decref(d);
        rc = s != NULL ? hs_store_audit_append(st, "user", "resolve", it.object, s, NULL, err)
                       : hs_error_set(err, HS_ENOMEM, "cannot resolve: out of memory");
        hs_free(s);
    }
    if (rc == HS_OK)
        rc = hs_store_commit(st, err);
    else
        hs_store_rollback(st, NULL);
done:
    hs_fields_release(&meta);
    json_decref(detail);
    for (int s = 0; s < 3; s++) {
        hs_fields_release(&base[s]);
        hs_fields_release(&view[s]);
        hs_record_free(recs[s]);
    }
    if (have_link)
        hs_store_link_release(&link);
    hs_store_item_release(&it);
    return rc;
}
