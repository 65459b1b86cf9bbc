/*
 * connectors/hubspot/hubspot.c - hs_connector_hubspot_ops: HubSpot CRM as hoopsync sees it.
 *
 * Design:     the ops turn engine calls into the fewest HubSpot batch calls:
 *               changes  one search per call: filter (modified > ts) OR (modified == ts AND
 *                        id > last id), sorted ascending by the last-modified property, 200 a
 *                        page, always from offset 0. The cursor "v1:<ts>:<id>" is the last
 *                        result, so every page starts a new window and HubSpot's 10,000-result
 *                        cap on paging is never reached. Customers also follow their contacts
 *                        (a contact edit leaves the company's date alone): after the
 *                        companies' pages, the contacts' pages the same way, each mapped to
 *                        its companies by one contacts->companies association read; cursor
 *                        "v2:..." holds both positions (hubspot_int.h). The contacts' position
 *                        is first taken with one search (the newest contact), in the run that
 *                        reads every company anyway, so a backfill lists no contact.
 *               read     customers: companies batch/read, company->contacts association
 *                        batch/read, contacts batch/read (3 calls per 100); items: products
 *                        batch/read (1); invoices: deals batch/read, deal->company and
 *                        deal->line_items association reads, line_items batch/read per 100
 *                        line items (3 + ceil(lines/100)).
 *               write    creates: batch/upsert on the unique hoopsync_id property with the
 *                        write's idem_key as value, so a repeated create updates instead of
 *                        duplicating; updates: batch/update. Results and 207 errors are matched
 *                        to writes by objectWriteTraceId (the write's index), then by id. A 400
 *                        that refuses a whole batch for one bad input is bisected so that only
 *                        the bad record fails. Customers' contact fields (email, names, phone)
 *                        then go to the primary contact: association read, contacts
 *                        batch/update or (no contact yet) batch/upsert by email plus a default
 *                        association. The phone, read from the contact else the company, is
 *                        written to the contact when there is one, else to the company
 *                        (route_dual), so a read after the write returns it.
 *               setup    property group "hoopsync" and the hoopsync_* properties; 409 = exists.
 *               webhook  X-HubSpot-Signature-v3 check before parsing, then the event list.
 *               limits   batches of 100; the published windows (100 per 10 s, 5 searches
 *                        per s) unless the setting "rate_limits" replaces them
 *                        (connectors/common/limits.h).
 *             Deals are never created or re-priced here: only their hoopsync_* write-back
 *             properties are written (other invoice fields are read-only on this side).
 * Threads:    a handle is used by one thread at a time (connector.h).
 * Ownership:  the handle borrows everything in its config; records returned are the
 *             caller's.
 * Not here:   JSON <-> records (hubspot_parse.c), HTTP and retries (hubspot_client.c,
 *             connectors/common/request.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/common/limits.h"
#include "connectors/hubspot/hubspot.h"
#include "connectors/hubspot/hubspot_int.h"
#include "util/alloc.h"
#include "util/env.h"
#include "util/json.h"
#include "util/str.h"

#define READ_BATCH   100
#define WRITE_BATCH  100
#define SEARCH_LIMIT 200
#define ID_PROPERTY  "hoopsync_id"

struct hs_connector {
    struct hs_connector_config cfg;
    struct hs_hubspot_settings set;
    struct hs_rate_window windows[HS_CONN_MAX_WINDOWS]; /* setting "rate_limits" (n 0: none) */
    size_t n_windows;
};

static const char *conn_name(const struct hs_connector *c)
{
    return c->cfg.name ? c->cfg.name : "hubspot";
}

static int obj_of(enum hs_kind kind, enum hs_hubspot_obj *out)
{
    switch (kind) {
    case HS_KIND_CUSTOMER:
        *out = HS_HUBSPOT_COMPANIES;
        return HS_OK;
    case HS_KIND_ITEM:
        *out = HS_HUBSPOT_PRODUCTS;
        return HS_OK;
    case HS_KIND_INVOICE:
        *out = HS_HUBSPOT_DEALS;
        return HS_OK;
    default:
        return HS_EUNSUPPORTED;
    }
}

static int unsupported(const struct hs_connector *c, enum hs_kind kind, struct hs_error *err)
{
    const char *k = hs_kind_name(kind);
    return hs_error_set(err, HS_EUNSUPPORTED, "%s: HubSpot carries no %s records", conn_name(c),
                        k ? k : "such");
}

/* ---- open / close / kinds / limits --------------------------------------------------------- */

static int hub_open(const struct hs_connector_config *cfg, struct hs_connector **out,
                    struct hs_error *err)
{
    *out = NULL;
    if (cfg == NULL || cfg->base_url == NULL || cfg->http == NULL || cfg->env == NULL)
        return hs_error_set(err, HS_EINVAL,
                            "cannot open HubSpot connector: base_url, http and env are required");
    struct hs_connector *c = hs_calloc(1, sizeof *c);
    if (c == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot open HubSpot connector: out of memory");
    c->cfg = *cfg;
    int rc = hs_conn_rate_limits_parse(cfg->settings, c->windows, &c->n_windows, err);
    if (rc == HS_OK)
        rc = hs_hubspot_settings_parse(cfg->settings, &c->set, err);
    if (rc != HS_OK) {
        hs_free(c);
        return hs_error_prefix(err, "%s", cfg->name ? cfg->name : "hubspot");
    }
    *out = c;
    return HS_OK;
}

static void hub_close(struct hs_connector *c)
{
    if (c == NULL)
        return;
    hs_hubspot_settings_release(&c->set);
    hs_free(c);
}

static unsigned hub_kinds(const struct hs_connector *c)
{
    (void)c;
    return (1u << HS_KIND_CUSTOMER) | (1u << HS_KIND_ITEM) | (1u << HS_KIND_INVOICE);
}

static void hub_limits(const struct hs_connector *c, enum hs_kind kind,
                       struct hs_connector_limits *out)
{
    (void)kind;
    memset(out, 0, sizeof *out);
    out->read_batch = READ_BATCH;
    out->write_batch = WRITE_BATCH;
    out->max_concurrency = 4;
    out->windows[0] = (struct hs_rate_window){"all", 100, 10000};
    out->windows[1] = (struct hs_rate_window){"search", 5, 1000};
    out->n_windows = 2;
    hs_conn_rate_limits_apply(out, c->windows, c->n_windows);
}

/* ---- answers ------------------------------------------------------------------------------ */

static const struct hs_hubspot_obj_rec *find_obj(const struct hs_hubspot_page *p, const char *id)
{
    for (size_t i = 0; p != NULL && i < p->n_objs; i++)
        if (strcmp(p->objs[i].id, id) == 0)
            return &p->objs[i];
    return NULL;
}

/* The found objects' ids (borrowed from page) in *out (caller hs_free()s the array). */
static int found_ids(const struct hs_hubspot_page *p, const char ***out)
{
    *out = NULL;
    if (p->n_objs == 0)
        return HS_OK;
    *out = hs_calloc(p->n_objs, sizeof **out);
    if (*out == NULL)
        return HS_ENOMEM;
    for (size_t i = 0; i < p->n_objs; i++)
        (*out)[i] = p->objs[i].id;
    return HS_OK;
}

/* ---- changes -------------------------------------------------------------------------------- */

static json_t *filter(const char *prop, const char *op, const char *value)
{
    return json_pack("{s:s,s:s,s:s}", "propertyName", prop, "operator", op, "value", value);
}

/* Appends the kind's extra filters (invoices: won stage, pipeline) to group. */
static int add_extra_filters(const struct hs_connector *c, enum hs_kind kind, json_t *group)
{
    if (kind != HS_KIND_INVOICE)
        return HS_OK;
    json_t *values = json_array();
    for (size_t i = 0; values != NULL && i < c->set.n_won_stages; i++)
        if (json_array_append_new(values, json_string(c->set.won_stages[i])) != 0) {
            json_decref(values);
            values = NULL;
        }
    json_t *f = values ? json_pack("{s:s,s:s,s:o}", "propertyName", "dealstage", "operator", "IN",
                                   "values", values)
                       : NULL;
    if (json_array_append_new(group, f) != 0)
        return HS_ENOMEM;
    if (c->set.pipeline != NULL &&
        json_array_append_new(group, filter("pipeline", "EQ", c->set.pipeline)) != 0)
        return HS_ENOMEM;
    return HS_OK;
}

static json_t *search_body(const struct hs_connector *c, enum hs_kind kind, enum hs_hubspot_obj obj,
                           int64_t ts, int64_t id)
{
    const char *lastmod = hs_hubspot_obj_lastmod(obj);
    char tsb[24], idb[24];
    snprintf(tsb, sizeof tsb, "%lld", (long long)ts);
    snprintf(idb, sizeof idb, "%lld", (long long)id);
    json_t *g1 = json_pack("[o]", filter(lastmod, "GT", tsb));
    json_t *g2 = json_pack("[o,o]", filter(lastmod, "EQ", tsb), filter("hs_object_id", "GT", idb));
    if (g1 == NULL || g2 == NULL || add_extra_filters(c, kind, g1) != HS_OK ||
        add_extra_filters(c, kind, g2) != HS_OK) {
        json_decref(g1);
        json_decref(g2);
        return NULL;
    }
    return json_pack("{s:[{s:o},{s:o}],s:[{s:s,s:s}],s:[s],s:i,s:s}", "filterGroups", "filters", g1,
                     "filters", g2, "sorts", "propertyName", lastmod, "direction", "ASCENDING",
                     "properties", lastmod, "limit", SEARCH_LIMIT, "after", "0");
}

/* Appends the change (kind, id, at) to out unless id is there already (then keeps the later
 * time). out->items has room for one more. */
static int add_change(struct hs_changes *out, enum hs_kind kind, const char *id, int64_t at)
{
    for (size_t i = 0; i < out->n_items; i++)
        if (strcmp(out->items[i].id, id) == 0) {
            if (at > out->items[i].updated_at)
                out->items[i].updated_at = at;
            return HS_OK;
        }
    struct hs_change *ch = &out->items[out->n_items];
    ch->kind = kind;
    ch->updated_at = at;
    ch->id = hs_strdup(id);
    if (ch->id == NULL)
        return HS_ENOMEM;
    out->n_items++;
    return HS_OK;
}

/* Moves (ts, id) to o when o comes later in (modified, id) order: never backwards. */
static void advance(int64_t *ts, int64_t *id, const struct hs_hubspot_obj_rec *o)
{
    int64_t oid = 0;
    if (hs_str_to_i64(o->id, strlen(o->id), &oid) != HS_OK)
        oid = 0;
    if (o->updated_ms > *ts || (o->updated_ms == *ts && oid > *id)) {
        *ts = o->updated_ms;
        *id = oid;
    }
}

/*
 * Where the contacts feed starts: after the most recently modified contact, read with one
 * search (descending, limit 1) when the customers' feed has no contacts position yet (its
 * first run, or a cursor of before this feed). That run reads every company it announces
 * after this search, so the contact edits it would otherwise list are in those reads; only
 * later edits cost calls. HubSpot's own clock, so our clock's skew does not matter. The id
 * INT64_MAX skips the contacts that share that millisecond: all of them were modified before
 * the search.
 */
static int contacts_start(struct hs_connector *c, struct hs_hubspot_cursor *cur,
                          struct hs_error *err)
{
    const char *lastmod = hs_hubspot_obj_lastmod(HS_HUBSPOT_CONTACTS);
    json_t *body = json_pack("{s:[],s:[{s:s,s:s}],s:[s],s:i,s:s}", "filterGroups", "sorts",
                             "propertyName", lastmod, "direction", "DESCENDING", "properties",
                             lastmod, "limit", 1, "after", "0");
    if (body == NULL)
        return hs_error_set(err, HS_ENOMEM, "%s: cannot build HubSpot search: out of memory",
                            conn_name(c));
    struct hs_hubspot_page page;
    int rc = hs_hubspot_client_search(&c->cfg, HS_HUBSPOT_CONTACTS, body, &page, err);
    json_decref(body);
    if (rc != HS_OK)
        return rc;
    cur->has_contacts = true;
    cur->contact_ms = page.n_objs > 0 ? page.objs[0].updated_ms : 0;
    cur->contact_id = page.n_objs > 0 ? INT64_MAX : 0;
    cur->phase = HS_HUBSPOT_PHASE_FIRST;
    hs_hubspot_page_release(&page);
    return HS_OK;
}

/* One page of the contacts search: the companies of the contacts modified since the contacts
 * position (all their associated companies: a contact may be the primary contact of a company
 * other than its own primary one). */
/* One search page of obj (for kind's properties) after (ms, id) into *page. */
static int search_page(struct hs_connector *c, enum hs_kind kind, enum hs_hubspot_obj obj,
                       int64_t ms, int64_t id, struct hs_hubspot_page *page, struct hs_error *err)
{
    memset(page, 0, sizeof *page);
    json_t *body = search_body(c, kind, obj, ms, id);
    if (body == NULL)
        return hs_error_set(err, HS_ENOMEM, "%s: cannot build HubSpot search: out of memory",
                            conn_name(c));
    int rc = hs_hubspot_client_search(&c->cfg, obj, body, page, err);
    json_decref(body);
    return rc;
}

static int contacts_page(struct hs_connector *c, struct hs_hubspot_cursor *cur,
                         struct hs_changes *out, bool *more, struct hs_error *err)
{
    struct hs_hubspot_assocs assocs;
    memset(&assocs, 0, sizeof assocs);
    const char **found = NULL;
    struct hs_hubspot_page page;
    int rc = search_page(c, HS_KIND_CUSTOMER, HS_HUBSPOT_CONTACTS, cur->contact_ms, cur->contact_id,
                         &page, err);
    if (rc != HS_OK)
        return rc;
    if (page.n_objs > 0) {
        if (found_ids(&page, &found) != HS_OK)
            goto oom;
        rc = hs_hubspot_client_assoc_read(&c->cfg, HS_HUBSPOT_CONTACTS, HS_HUBSPOT_COMPANIES, found,
                                          page.n_objs, HS_HUBSPOT_ASSOC_CONTACT_COMPANY_PRIMARY,
                                          &assocs, err);
        if (rc != HS_OK)
            goto done;
    }
    if (assocs.n_items > 0) {
        out->items = hs_calloc(assocs.n_items, sizeof *out->items);
        if (out->items == NULL)
            goto oom;
    }
    for (size_t i = 0; i < assocs.n_items; i++) {
        const struct hs_hubspot_obj_rec *ct = find_obj(&page, assocs.items[i].from);
        if (add_change(out, HS_KIND_CUSTOMER, assocs.items[i].to, ct ? ct->updated_ms : 0) != HS_OK)
            goto oom;
    }
    for (size_t i = 0; i < page.n_objs; i++)
        advance(&cur->contact_ms, &cur->contact_id, &page.objs[i]);
    *more = page.after != NULL && page.n_objs > 0;
    goto done;
oom:
    rc = hs_error_set(err, HS_ENOMEM, "%s: cannot list HubSpot contact changes: out of memory",
                      conn_name(c));
done:
    hs_free(found);
    hs_hubspot_assocs_release(&assocs);
    hs_hubspot_page_release(&page);
    return rc;
}

/* One page of the object's own search from (cur->ms, cur->id). */
static int main_page(struct hs_connector *c, enum hs_kind kind, enum hs_hubspot_obj obj,
                     struct hs_hubspot_cursor *cur, struct hs_changes *out, bool *more,
                     struct hs_error *err)
{
    struct hs_hubspot_page page;
    int rc = search_page(c, kind, obj, cur->ms, cur->id, &page, err);
    if (rc != HS_OK)
        return rc;
    if (page.n_objs > 0) {
        out->items = hs_calloc(page.n_objs, sizeof *out->items);
        if (out->items == NULL)
            rc = HS_ENOMEM;
    }
    for (size_t i = 0; i < page.n_objs && rc == HS_OK; i++) {
        const struct hs_hubspot_obj_rec *o = &page.objs[i];
        struct hs_change *ch = &out->items[out->n_items];
        ch->kind = kind;
        ch->id = hs_strdup(o->id);
        if (ch->id == NULL) {
            rc = HS_ENOMEM;
            break;
        }
        out->n_items++;
        ch->updated_at = o->updated_ms;
        advance(&cur->ms, &cur->id, o);
    }
    *more = page.after != NULL && page.n_objs > 0;
    hs_hubspot_page_release(&page);
    if (rc != HS_OK)
        return hs_error_set(err, HS_ENOMEM, "%s: cannot list HubSpot changes: out of memory",
                            conn_name(c));
    return HS_OK;
}

/*
 * One call, one search. Customers follow two searches in turn (hubspot_int.h, struct
 * hs_hubspot_cursor): the companies' pages, then (more = true) the contacts' pages, then the
 * feed ends and the next run starts with the companies again. The run that takes the contacts
 * position (its first call, one search) ends after the companies instead.
 */
static int hub_changes(struct hs_connector *c, enum hs_kind kind, const char *cursor,
                       struct hs_changes *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    enum hs_hubspot_obj obj;
    if (obj_of(kind, &obj) != HS_OK)
        return unsupported(c, kind, err);
    struct hs_hubspot_cursor cur;
    memset(&cur, 0, sizeof cur);
    cur.phase = HS_HUBSPOT_PHASE_MAIN;
    if (cursor != NULL) {
        int rc = hs_hubspot_cursor_parse(cursor, strlen(cursor), &cur, err);
        if (rc == HS_OK && cur.has_contacts && kind != HS_KIND_CUSTOMER)
            rc = hs_error_set(err, HS_EINVAL,
                              "invalid HubSpot cursor '%.64s': only customers "
                              "follow contacts",
                              cursor);
        if (rc != HS_OK)
            return hs_error_prefix(err, "%s", conn_name(c));
    }
    bool more = false;
    int rc;
    if (kind == HS_KIND_CUSTOMER && !cur.has_contacts) {
        rc = contacts_start(c, &cur, err);
        more = true;
    } else if (cur.phase == HS_HUBSPOT_PHASE_CONTACTS) {
        rc = contacts_page(c, &cur, out, &more, err);
        if (rc == HS_OK && !more)
            cur.phase = HS_HUBSPOT_PHASE_MAIN;
    } else {
        rc = main_page(c, kind, obj, &cur, out, &more, err);
        if (rc == HS_OK && !more && kind == HS_KIND_CUSTOMER) {
            more = cur.phase == HS_HUBSPOT_PHASE_MAIN; /* the contacts next, but not in the
                                                          run that took their position */
            cur.phase = more ? HS_HUBSPOT_PHASE_CONTACTS : HS_HUBSPOT_PHASE_MAIN;
        }
    }
    if (rc == HS_OK) {
        out->cursor = hs_hubspot_cursor_format(&cur);
        if (out->cursor == NULL)
            rc = hs_error_set(err, HS_ENOMEM, "%s: cannot list HubSpot changes: out of memory",
                              conn_name(c));
    }
    if (rc != HS_OK)
        hs_changes_release(out);
    out->more = rc == HS_OK && more;
    return rc;
}

/* ---- read ----------------------------------------------------------------------------------- */

static int read_simple(struct hs_connector *c, enum hs_kind kind, enum hs_hubspot_obj obj,
                       const char *const *ids, size_t n, struct hs_hubspot_page *page,
                       struct hs_error *err)
{
    json_t *props = hs_hubspot_props_for(&c->set, kind, HS_HUBSPOT_SRC_MAIN);
    if (props == NULL) {
        memset(page, 0, sizeof *page);
        return hs_error_set(err, HS_ENOMEM, "%s: cannot read from HubSpot: out of memory",
                            conn_name(c));
    }
    int rc = hs_hubspot_client_batch_read(&c->cfg, obj, ids, n, props, page, err);
    json_decref(props);
    return rc;
}

static int read_customers(struct hs_connector *c, const char *const *ids, size_t n,
                          struct hs_record **out, struct hs_error *err)
{
    struct hs_hubspot_page page, cpage;
    struct hs_hubspot_assocs assocs;
    memset(&cpage, 0, sizeof cpage);
    memset(&assocs, 0, sizeof assocs);
    const char **found = NULL;
    const char **cids = NULL;
    size_t n_cids = 0;
    json_t *cprops = NULL;
    int rc = read_simple(c, HS_KIND_CUSTOMER, HS_HUBSPOT_COMPANIES, ids, n, &page, err);
    if (rc != HS_OK)
        return rc;
    if (page.n_objs > 0) {
        if (found_ids(&page, &found) != HS_OK)
            goto oom;
        rc = hs_hubspot_client_assoc_read(&c->cfg, HS_HUBSPOT_COMPANIES, HS_HUBSPOT_CONTACTS, found,
                                          page.n_objs, HS_HUBSPOT_ASSOC_COMPANY_CONTACT_PRIMARY,
                                          &assocs, err);
        if (rc != HS_OK)
            goto done;
        cids = hs_calloc(page.n_objs, sizeof *cids);
        if (cids == NULL)
            goto oom;
        for (size_t i = 0; i < page.n_objs; i++) {
            const char *pick = hs_hubspot_assocs_pick(&assocs, page.objs[i].id);
            bool dup = false;
            for (size_t k = 0; pick != NULL && k < n_cids && !dup; k++)
                dup = strcmp(cids[k], pick) == 0;
            if (pick != NULL && !dup)
                cids[n_cids++] = pick;
        }
    }
    if (n_cids > 0) {
        cprops = hs_hubspot_props_for(&c->set, HS_KIND_CUSTOMER, HS_HUBSPOT_SRC_CONTACT);
        if (cprops == NULL)
            goto oom;
        rc = hs_hubspot_client_batch_read(&c->cfg, HS_HUBSPOT_CONTACTS, cids, n_cids, cprops,
                                          &cpage, err);
        if (rc != HS_OK)
            goto done;
    }
    for (size_t i = 0; i < n && rc == HS_OK; i++) {
        const struct hs_hubspot_obj_rec *co = find_obj(&page, ids[i]);
        if (co == NULL)
            continue;
        const char *pick = hs_hubspot_assocs_pick(&assocs, co->id);
        const struct hs_hubspot_obj_rec *ct = pick ? find_obj(&cpage, pick) : NULL;
        rc = hs_hubspot_to_customer(&c->set, co, ct, &out[i], err);
    }
    goto done;
oom:
    rc = hs_error_set(err, HS_ENOMEM, "%s: cannot read HubSpot companies: out of memory",
                      conn_name(c));
done:
    json_decref(cprops);
    hs_free(found);
    hs_free(cids);
    hs_hubspot_assocs_release(&assocs);
    hs_hubspot_page_release(&page);
    hs_hubspot_page_release(&cpage);
    return rc;
}

static int read_items(struct hs_connector *c, const char *const *ids, size_t n,
                      struct hs_record **out, struct hs_error *err)
{
    struct hs_hubspot_page page;
    int rc = read_simple(c, HS_KIND_ITEM, HS_HUBSPOT_PRODUCTS, ids, n, &page, err);
    for (size_t i = 0; i < n && rc == HS_OK; i++) {
        const struct hs_hubspot_obj_rec *o = find_obj(&page, ids[i]);
        if (o != NULL)
            rc = hs_hubspot_to_item(&c->set, o, &out[i], err);
    }
    hs_hubspot_page_release(&page);
    return rc;
}

/* meta "url" of a deal: its page in HubSpot, when the portal (the tenant) is known. */
static int deal_url(const struct hs_connector *c, struct hs_record *deal)
{
    const char *portal = c->cfg.tenant;
    if (portal == NULL || *portal == '\0' || strlen(portal) > 20 || deal->id == NULL)
        return HS_OK;
    for (const char *p = portal; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return HS_OK;
    char url[160];
    snprintf(url, sizeof url, "https://app.hubspot.com/contacts/%s/record/0-3/%s", portal,
             deal->id);
    return hs_fields_set(&deal->meta, "url", url);
}

static int read_invoices(struct hs_connector *c, const char *const *ids, size_t n,
                         struct hs_record **out, struct hs_error *err)
{
    struct hs_hubspot_page page;
    struct hs_hubspot_assocs a_co, a_li;
    memset(&a_co, 0, sizeof a_co);
    memset(&a_li, 0, sizeof a_li);
    struct hs_hubspot_page *lpages = NULL;
    size_t n_lpages = 0;
    const char **found = NULL;
    const char **lids = NULL;
    const struct hs_hubspot_obj_rec **lines = NULL;
    json_t *lprops = NULL;
    int rc = read_simple(c, HS_KIND_INVOICE, HS_HUBSPOT_DEALS, ids, n, &page, err);
    if (rc != HS_OK)
        return rc;
    if (page.n_objs > 0) {
        if (found_ids(&page, &found) != HS_OK)
            goto oom;
        rc = hs_hubspot_client_assoc_read(&c->cfg, HS_HUBSPOT_DEALS, HS_HUBSPOT_COMPANIES, found,
                                          page.n_objs, HS_HUBSPOT_ASSOC_DEAL_COMPANY_PRIMARY, &a_co,
                                          err);
        if (rc == HS_OK)
            rc = hs_hubspot_client_assoc_read(&c->cfg, HS_HUBSPOT_DEALS, HS_HUBSPOT_LINE_ITEMS,
                                              found, page.n_objs, 0, &a_li, err);
        if (rc != HS_OK)
            goto done;
    }
    if (a_li.n_items > 0) {
        lids = hs_calloc(a_li.n_items, sizeof *lids);
        lines = hs_calloc(a_li.n_items,
                          sizeof *lines); /* NOLINT(bugprone-sizeof-expression): pointers */
        n_lpages = (a_li.n_items + READ_BATCH - 1) / READ_BATCH;
        lpages = hs_calloc(n_lpages, sizeof *lpages);
        lprops = hs_hubspot_props_for(&c->set, HS_KIND_INVOICE, HS_HUBSPOT_SRC_LINE);
        if (lids == NULL || lines == NULL || lpages == NULL || lprops == NULL)
            goto oom;
        for (size_t i = 0; i < a_li.n_items; i++)
            lids[i] = a_li.items[i].to;
        for (size_t p = 0; p < n_lpages && rc == HS_OK; p++) {
            size_t from = p * READ_BATCH;
            size_t cnt = a_li.n_items - from < READ_BATCH ? a_li.n_items - from : READ_BATCH;
            rc = hs_hubspot_client_batch_read(&c->cfg, HS_HUBSPOT_LINE_ITEMS, lids + from, cnt,
                                              lprops, &lpages[p], err);
        }
        if (rc != HS_OK)
            goto done;
    }
    for (size_t i = 0; i < n && rc == HS_OK; i++) {
        const struct hs_hubspot_obj_rec *deal = find_obj(&page, ids[i]);
        if (deal == NULL)
            continue;
        size_t n_lines = 0;
        for (size_t k = 0; k < a_li.n_items; k++) {
            if (strcmp(a_li.items[k].from, deal->id) != 0)
                continue;
            const struct hs_hubspot_obj_rec *li = NULL;
            for (size_t p = 0; p < n_lpages && li == NULL; p++)
                li = find_obj(&lpages[p], a_li.items[k].to);
            if (li != NULL)
                lines[n_lines++] = li;
        }
        rc = hs_hubspot_to_invoice(&c->set, deal, hs_hubspot_assocs_pick(&a_co, deal->id), lines,
                                   n_lines, &out[i], err);
        if (rc == HS_OK && out[i] != NULL)
            rc = deal_url(c, out[i]);
    }
    goto done;
oom:
    rc = hs_error_set(err, HS_ENOMEM, "%s: cannot read HubSpot deals: out of memory", conn_name(c));
done:
    json_decref(lprops);
    for (size_t p = 0; p < n_lpages && lpages != NULL; p++)
        hs_hubspot_page_release(&lpages[p]);
    hs_free(lpages);
    hs_free(lids);
    hs_free(lines);
    hs_free(found);
    hs_hubspot_assocs_release(&a_co);
    hs_hubspot_assocs_release(&a_li);
    hs_hubspot_page_release(&page);
    return rc;
}

static int hub_read(struct hs_connector *c, enum hs_kind kind, const char *const *ids, size_t n,
                    struct hs_record **out, struct hs_error *err)
{
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    enum hs_hubspot_obj obj;
    if (obj_of(kind, &obj) != HS_OK)
        return unsupported(c, kind, err);
    if (n > READ_BATCH)
        return hs_error_set(err, HS_ETOOBIG,
                            "%s: cannot read %zu HubSpot records at once (at "
                            "most %d)",
                            conn_name(c), n, READ_BATCH);
    if (n == 0)
        return HS_OK;
    for (size_t i = 0; i < n; i++)
        if (ids[i] == NULL || ids[i][0] == '\0' || strlen(ids[i]) > HS_HUBSPOT_MAX_ID)
            return hs_error_set(err, HS_EINVAL, "%s: cannot read HubSpot record: bad id",
                                conn_name(c));
    int rc;
    if (kind == HS_KIND_CUSTOMER)
        rc = read_customers(c, ids, n, out, err);
    else if (kind == HS_KIND_ITEM)
        rc = read_items(c, ids, n, out, err);
    else
        rc = read_invoices(c, ids, n, out, err);
    if (rc != HS_OK)
        for (size_t i = 0; i < n; i++) {
            hs_record_free(out[i]);
            out[i] = NULL;
        }
    return rc;
}

/* ---- write ---------------------------------------------------------------------------------- */

/* Per-call state of one write() */
struct wstate {
    struct hs_connector *c;
    enum hs_hubspot_obj obj;
    struct hs_write *w;
    size_t n;
    json_t **props;   /* per write: main properties (NULL = not sent) */
    json_t **contact; /* per write: contact properties */
    bool *done;       /* per write: status final */
    bool *pre;        /* per write: its company's contacts are in assocs (read before) */
    struct hs_hubspot_assocs assocs; /* companies->contacts of the updates with contact fields */
};

static void set_status(struct wstate *s, size_t i, int code, const char *msg)
{
    s->w[i].status = code;
    snprintf(s->w[i].msg, sizeof s->w[i].msg, "%s", msg);
    s->done[i] = true;
}

static bool nonempty_object(const json_t *o)
{
    return o != NULL && json_object_size(o) > 0;
}

/*
 * The write's result is what HubSpot stored, taken from its answer: a property HubSpot cannot
 * hold (or changed) must not look stored, or the engine's base would drift from what the next
 * read returns. Customers: the company from the answer plus the contact-side fields as sent
 * to the primary contact (the company answer has none). Items: the product from the answer.
 * Deal write-backs: the written record (a deal is rebuilt only with its lines, on read).
 */
static int result_of(struct wstate *s, size_t i, const struct hs_hubspot_obj_rec *o,
                     struct hs_record **out)
{
    const struct hs_hubspot_settings *set = &s->c->set;
    struct hs_error e;
    switch (s->w[i].record->kind) {
    case HS_KIND_CUSTOMER: {
        struct hs_hubspot_obj_rec contact = {NULL, s->contact[i], 0, NULL};
        return hs_hubspot_to_customer(set, o, nonempty_object(s->contact[i]) ? &contact : NULL, out,
                                      &e);
    }
    case HS_KIND_ITEM:
        return hs_hubspot_to_item(set, o, out, &e);
    default:
        return hs_record_clone(s->w[i].record, out);
    }
}

static int set_result(struct wstate *s, size_t i, const struct hs_hubspot_obj_rec *o)
{
    struct hs_record *r = NULL;
    int rc = result_of(s, i, o, &r);
    if (rc == HS_ENOMEM)
        return rc;
    if (rc != HS_OK) {
        /* the answer does not convert: keep what was written, HubSpot accepted it */
        rc = hs_record_clone(s->w[i].record, &r);
        if (rc != HS_OK)
            return rc;
    }
    if (hs_record_set_str(&r->id, o->id) != HS_OK) {
        hs_record_free(r);
        return HS_ENOMEM;
    }
    if (o->updated_ms != 0)
        r->updated_at = o->updated_ms;
    hs_record_free(s->w[i].result);
    s->w[i].result = r;
    s->w[i].status = HS_OK;
    s->w[i].msg[0] = '\0';
    s->done[i] = true;
    return HS_OK;
}

/* The group index of a write named by a trace id or id value; -1 when none. */
static long match_value(const struct wstate *s, const size_t *idx, size_t k, bool upsert,
                        const char *v, bool is_trace)
{
    for (size_t j = 0; v != NULL && j < k; j++) {
        size_t i = idx[j];
        if (is_trace) {
            char t[24];
            snprintf(t, sizeof t, "%zu", i);
            if (strcmp(t, v) == 0)
                return (long)j;
        } else if (upsert ? hs_str_eq(s->w[i].idem_key, v) : hs_str_eq(s->w[i].record->id, v)) {
            return (long)j;
        }
    }
    return -1;
}

static long match_error(const struct wstate *s, const size_t *idx, size_t k, bool upsert,
                        const struct hs_hubspot_batch_err *e)
{
    static const char *const keys[] = {"objectWriteTraceId", "ids", "id", "value"};
    for (size_t q = 0; q < sizeof keys / sizeof keys[0]; q++) {
        const json_t *vals = json_object_get(e->context, keys[q]);
        size_t m;
        json_t *v;
        json_array_foreach(vals, m, v)
        {
            long j = match_value(s, idx, k, upsert, json_string_value(v), q == 0);
            if (j >= 0 && !s->done[idx[j]])
                return j;
        }
    }
    return -1;
}

static int send_group(struct wstate *s, const char *op, const size_t *idx, size_t k,
                      struct hs_error *err)
{
    if (k == 0)
        return HS_OK;
    bool upsert = strcmp(op, "upsert") == 0;
    json_t *inputs = json_array();
    if (inputs == NULL)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    for (size_t j = 0; j < k; j++) {
        size_t i = idx[j];
        char trace[24];
        snprintf(trace, sizeof trace, "%zu", i);
        json_t *in =
            json_pack("{s:s,s:O,s:s}", "id", upsert ? s->w[i].idem_key : s->w[i].record->id,
                      "properties", s->props[i], "objectWriteTraceId", trace);
        if (in != NULL && upsert &&
            json_object_set_new(in, "idProperty", json_string(ID_PROPERTY)) != 0) {
            json_decref(in);
            in = NULL;
        }
        if (json_array_append_new(inputs, in) != 0) {
            json_decref(inputs);
            return hs_error_set(err, HS_ENOMEM, "out of memory");
        }
    }
    struct hs_hubspot_page page;
    struct hs_error e2 = {0};
    int rc = hs_hubspot_client_batch_write(&s->c->cfg, s->obj, op, inputs, &page, &e2);
    json_decref(inputs);
    if (rc == HS_EINVAL) {
        /* HubSpot refused the whole batch for one input: find it by halving */
        if (k == 1) {
            set_status(s, idx[0], HS_EINVAL, e2.msg);
            return HS_OK;
        }
        rc = send_group(s, op, idx, k / 2, err);
        if (rc == HS_OK)
            rc = send_group(s, op, idx + k / 2, k - k / 2, err);
        return rc;
    }
    if (rc != HS_OK) {
        if (err != NULL)
            *err = e2;
        return rc;
    }
    for (size_t r = 0; r < page.n_objs && rc == HS_OK; r++) {
        const struct hs_hubspot_obj_rec *o = &page.objs[r];
        long j = match_value(s, idx, k, false, o->trace, true);
        if (j < 0)
            j = match_value(s, idx, k, upsert, upsert ? hs_json_str(o->props, ID_PROPERTY) : o->id,
                            false);
        if (j >= 0)
            rc = set_result(s, idx[j], o);
    }
    bool *used = page.n_errs ? hs_calloc(page.n_errs, sizeof *used) : NULL;
    if (rc == HS_OK && page.n_errs > 0 && used == NULL)
        rc = HS_ENOMEM;
    for (size_t q = 0; q < page.n_errs && rc == HS_OK; q++) {
        long j = match_error(s, idx, k, upsert, &page.errs[q]);
        if (j >= 0) {
            set_status(s, idx[j], page.errs[q].code, page.errs[q].message);
            used[q] = true;
        }
    }
    /* what is left: unmatched errors in order, then "no answer" */
    size_t q = 0;
    for (size_t j = 0; j < k && rc == HS_OK; j++) {
        size_t i = idx[j];
        if (s->done[i])
            continue;
        while (q < page.n_errs && used[q])
            q++;
        if (q < page.n_errs) {
            set_status(s, i, page.errs[q].code, page.errs[q].message);
            used[q] = true;
        } else {
            set_status(s, i, HS_EPROTO, "HubSpot's answer has no result for this record");
        }
    }
    hs_free(used);
    hs_hubspot_page_release(&page);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "%s: cannot record HubSpot write results: out of memory",
                            conn_name(s->c));
    return HS_OK;
}

/* Whether field has a writable contact mapping whose property is in contact. */
static bool on_contact(const struct hs_hubspot_settings *set, const char *field,
                       const json_t *contact)
{
    for (size_t i = 0; i < set->n_maps; i++) {
        const struct hs_hubspot_map *m = &set->maps[i];
        if (m->kind == HS_KIND_CUSTOMER && m->src == HS_HUBSPOT_SRC_CONTACT && !m->read_only &&
            m->prop[0] != '\0' && strcmp(m->field, field) == 0 &&
            json_object_get(contact, m->prop) != NULL)
            return true;
    }
    return false;
}

/*
 * A customer field that both the company and its contact map (the default phone: a read takes
 * the primary contact's, else the company's) is written where a read takes it from. Updates
 * of customers with contact properties read their companies' contacts first (the association
 * read write_contacts needs anyway): a company with a primary contact keeps its own property,
 * the value goes to the contact only. A company without one (and every create) gets it, and so
 * does a contact the write makes by email, which becomes the primary one: a read then finds
 * the value written either way, and the next pass sees nothing to do.
 */
static int route_dual(struct wstate *s, const size_t *updates, size_t n_updates,
                      struct hs_error *err)
{
    const char **cos = hs_calloc(n_updates ? n_updates : 1, sizeof *cos);
    size_t k = 0;
    if (cos == NULL)
        return hs_error_set(err, HS_ENOMEM, "%s: cannot write to HubSpot: out of memory",
                            conn_name(s->c));
    for (size_t j = 0; j < n_updates; j++)
        if (nonempty_object(s->contact[updates[j]]))
            cos[k++] = s->w[updates[j]].record->id;
    int rc = HS_OK;
    if (k > 0)
        rc = hs_hubspot_client_assoc_read(&s->c->cfg, HS_HUBSPOT_COMPANIES, HS_HUBSPOT_CONTACTS,
                                          cos, k, HS_HUBSPOT_ASSOC_COMPANY_CONTACT_PRIMARY,
                                          &s->assocs, err);
    hs_free(cos);
    for (size_t j = 0; j < n_updates && k > 0 && rc == HS_OK; j++) {
        size_t i = updates[j];
        if (!nonempty_object(s->contact[i]))
            continue;
        s->pre[i] = true;
        if (hs_hubspot_assocs_pick(&s->assocs, s->w[i].record->id) == NULL)
            continue;
        for (size_t m = 0; m < s->c->set.n_maps; m++) {
            const struct hs_hubspot_map *mp = &s->c->set.maps[m];
            if (mp->kind == HS_KIND_CUSTOMER && mp->src == HS_HUBSPOT_SRC_MAIN &&
                mp->prop[0] != '\0' && on_contact(&s->c->set, mp->field, s->contact[i]))
                json_object_del(s->props[i], mp->prop);
        }
    }
    return rc;
}

/* Contact fields of customers that were written: to each company's primary contact. */
static int write_contacts(struct wstate *s, struct hs_error *err)
{
    size_t n_todo = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->w[i].status == HS_OK && s->w[i].result != NULL && nonempty_object(s->contact[i]))
            n_todo++;
    if (n_todo == 0)
        return HS_OK;
    int rc = HS_OK;
    const char **cos = hs_calloc(n_todo, sizeof *cos);
    size_t *which = hs_calloc(n_todo, sizeof *which);
    json_t *upd = json_array();
    json_t *ups = json_array();
    json_t *links = json_array();
    struct hs_hubspot_assocs assocs;
    memset(&assocs, 0, sizeof assocs);
    struct hs_hubspot_page p1, p2;
    memset(&p1, 0, sizeof p1);
    memset(&p2, 0, sizeof p2);
    if (cos == NULL || which == NULL || upd == NULL || ups == NULL || links == NULL)
        goto oom;
    size_t k = 0, n_read = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->w[i].status == HS_OK && s->w[i].result != NULL && nonempty_object(s->contact[i])) {
            which[k++] = i;
            /* updates' contacts were read before (route_dual); creates' now: a repeated
               upsert may have made one */
            if (!s->pre[i])
                cos[n_read++] = s->w[i].result->id;
        }
    if (n_read > 0) {
        rc = hs_hubspot_client_assoc_read(&s->c->cfg, HS_HUBSPOT_COMPANIES, HS_HUBSPOT_CONTACTS,
                                          cos, n_read, HS_HUBSPOT_ASSOC_COMPANY_CONTACT_PRIMARY,
                                          &assocs, err);
        if (rc != HS_OK)
            goto done;
    }
    for (size_t j = 0; j < k; j++) {
        size_t i = which[j];
        const char *pick =
            hs_hubspot_assocs_pick(s->pre[i] ? &s->assocs : &assocs, s->w[i].result->id);
        char trace[24];
        snprintf(trace, sizeof trace, "%zu", i);
        if (pick != NULL) {
            json_t *in = json_pack("{s:s,s:O,s:s}", "id", pick, "properties", s->contact[i],
                                   "objectWriteTraceId", trace);
            if (json_array_append_new(upd, in) != 0)
                goto oom;
            continue;
        }
        const char *email = hs_json_str(s->contact[i], "email");
        if (email == NULL || email[0] == '\0')
            continue; /* no contact and no email to create one by: nothing to write to */
        json_t *props = json_deep_copy(s->contact[i]);
        if (props == NULL)
            goto oom;
        json_object_del(props, "email");
        json_t *in = json_pack("{s:s,s:s,s:o,s:s}", "idProperty", "email", "id", email,
                               "properties", props, "objectWriteTraceId", trace);
        if (json_array_append_new(ups, in) != 0)
            goto oom;
    }
    if (json_array_size(upd) > 0) {
        rc =
            hs_hubspot_client_batch_write(&s->c->cfg, HS_HUBSPOT_CONTACTS, "update", upd, &p1, err);
        if (rc != HS_OK)
            goto done;
    }
    if (json_array_size(ups) > 0) {
        rc =
            hs_hubspot_client_batch_write(&s->c->cfg, HS_HUBSPOT_CONTACTS, "upsert", ups, &p2, err);
        if (rc != HS_OK)
            goto done;
        for (size_t r = 0; r < p2.n_objs; r++) {
            long i = p2.objs[r].trace ? strtol(p2.objs[r].trace, NULL, 10) : -1;
            if (i < 0 || (size_t)i >= s->n || s->w[i].result == NULL)
                continue;
            json_t *l = json_pack("{s:{s:s},s:{s:s}}", "from", "id", p2.objs[r].id, "to", "id",
                                  s->w[i].result->id);
            if (json_array_append_new(links, l) != 0)
                goto oom;
        }
    }
    /* contact failures fail their customer write: the engine retries it as a whole */
    struct hs_hubspot_page *pages[2] = {&p1, &p2};
    for (int p = 0; p < 2; p++)
        for (size_t q = 0; q < pages[p]->n_errs; q++) {
            const struct hs_hubspot_batch_err *e = &pages[p]->errs[q];
            const json_t *t = json_array_get(json_object_get(e->context, "objectWriteTraceId"), 0);
            long i = json_is_string(t) ? strtol(json_string_value(t), NULL, 10) : -1;
            if (i < 0 || (size_t)i >= s->n)
                i = k == 1 ? (long)which[0] : -1;
            if (i >= 0) {
                s->w[i].status = e->code;
                snprintf(s->w[i].msg, sizeof s->w[i].msg,
                         "company saved, its primary contact not: %s", e->message);
                hs_record_free(s->w[i].result);
                s->w[i].result = NULL;
            }
        }
    /* the customer changed when its contact did: its time is the later of the two answers',
       as a read takes the later of the two objects' */
    for (int p = 0; p < 2; p++)
        for (size_t r = 0; r < pages[p]->n_objs; r++) {
            const struct hs_hubspot_obj_rec *o = &pages[p]->objs[r];
            long i = o->trace ? strtol(o->trace, NULL, 10) : -1;
            if (i >= 0 && (size_t)i < s->n && s->w[i].result != NULL &&
                o->updated_ms > s->w[i].result->updated_at)
                s->w[i].result->updated_at = o->updated_ms;
        }
    if (json_array_size(links) > 0) {
        json_t *body = json_pack("{s:O}", "inputs", links);
        struct hs_http_response resp;
        hs_http_response_init(&resp);
        rc = body ? hs_hubspot_client_call(&s->c->cfg, "POST",
                                           "/crm/v4/associations/contacts/companies/batch/"
                                           "associate/default",
                                           body, false, &resp, err)
                  : HS_ENOMEM;
        hs_http_response_release(&resp);
        json_decref(body);
        if (rc == HS_ENOMEM)
            goto oom;
    }
    goto done;
oom:
    rc = hs_error_set(err, HS_ENOMEM, "%s: cannot write HubSpot contacts: out of memory",
                      conn_name(s->c));
done:
    hs_free(cos);
    hs_free(which);
    json_decref(upd);
    json_decref(ups);
    json_decref(links);
    hs_hubspot_assocs_release(&assocs);
    hs_hubspot_page_release(&p1);
    hs_hubspot_page_release(&p2);
    return rc;
}

static int hub_write(struct hs_connector *c, enum hs_kind kind, struct hs_write *writes, size_t n,
                     struct hs_error *err)
{
    enum hs_hubspot_obj obj;
    if (obj_of(kind, &obj) != HS_OK)
        return unsupported(c, kind, err);
    if (n > WRITE_BATCH)
        return hs_error_set(err, HS_ETOOBIG,
                            "%s: cannot write %zu HubSpot records at once (at "
                            "most %d)",
                            conn_name(c), n, WRITE_BATCH);
    if (n == 0)
        return HS_OK;
    struct wstate s;
    memset(&s, 0, sizeof s);
    s.c = c;
    s.obj = obj;
    s.w = writes;
    s.n = n;
    size_t *creates = NULL, *updates = NULL;
    size_t n_creates = 0, n_updates = 0;
    int rc = HS_OK;
    s.props = hs_calloc(n, sizeof *s.props);     /* NOLINT(bugprone-sizeof-expression) */
    s.contact = hs_calloc(n, sizeof *s.contact); /* NOLINT(bugprone-sizeof-expression) */
    s.done = hs_calloc(n, sizeof *s.done);
    s.pre = hs_calloc(n, sizeof *s.pre);
    creates = hs_calloc(n, sizeof *creates);
    updates = hs_calloc(n, sizeof *updates);
    if (s.props == NULL || s.contact == NULL || s.done == NULL || s.pre == NULL ||
        creates == NULL || updates == NULL) {
        rc = hs_error_set(err, HS_ENOMEM, "%s: cannot write to HubSpot: out of memory",
                          conn_name(c));
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        struct hs_write *w = &writes[i];
        hs_record_free(w->result);
        w->result = NULL;
        w->status = HS_EPROTO;
        w->msg[0] = '\0';
        if (w->record == NULL || w->record->kind != kind) {
            set_status(&s, i, HS_EINVAL, "record is missing or of another kind");
            continue;
        }
        if (w->op == HS_WRITE_CREATE && kind == HS_KIND_INVOICE) {
            set_status(&s, i, HS_EUNSUPPORTED,
                       "hoopsync does not create HubSpot deals; invoices are written back to "
                       "existing deals");
            continue;
        }
        if (w->op == HS_WRITE_CREATE &&
            (w->idem_key == NULL || w->idem_key[0] == '\0' || strlen(w->idem_key) > 200)) {
            set_status(&s, i, HS_EINVAL, "a HubSpot create needs an idempotency key");
            continue;
        }
        if (w->op == HS_WRITE_UPDATE && (w->record->id == NULL || w->record->id[0] == '\0')) {
            set_status(&s, i, HS_EINVAL, "an update needs the HubSpot id");
            continue;
        }
        if (w->op != HS_WRITE_CREATE && w->op != HS_WRITE_UPDATE) {
            set_status(&s, i, HS_EINVAL, "unknown write operation");
            continue;
        }
        struct hs_error e2 = {0};
        rc = hs_hubspot_props_of(&c->set, w->record, w->fields, w->fields ? w->n_fields : 0,
                                 &s.props[i], &s.contact[i], &e2);
        if (rc == HS_ENOMEM) {
            if (err != NULL)
                *err = e2;
            goto done;
        }
        if (rc != HS_OK) {
            set_status(&s, i, rc, e2.msg);
            continue;
        }
        if (w->op == HS_WRITE_CREATE)
            creates[n_creates++] = i;
        else
            updates[n_updates++] = i;
    }
    rc = kind == HS_KIND_CUSTOMER ? route_dual(&s, updates, n_updates, err) : HS_OK;
    if (rc == HS_OK)
        rc = send_group(&s, "upsert", creates, n_creates, err);
    if (rc == HS_OK)
        rc = send_group(&s, "update", updates, n_updates, err);
    if (rc == HS_OK && kind == HS_KIND_CUSTOMER)
        rc = write_contacts(&s, err);
done:
    for (size_t i = 0; i < n; i++) {
        if (s.props != NULL)
            json_decref(s.props[i]);
        if (s.contact != NULL)
            json_decref(s.contact[i]);
    }
    hs_free(s.props);
    hs_free(s.contact);
    hs_free(s.done);
    hs_free(s.pre);
    hs_hubspot_assocs_release(&s.assocs);
    hs_free(creates);
    hs_free(updates);
    if (rc != HS_OK)
        for (size_t i = 0; i < n; i++) {
            hs_record_free(writes[i].result);
            writes[i].result = NULL;
        }
    return rc;
}

/* ---- webhook -------------------------------------------------------------------------------- */

/* The URL HubSpot signed: settings.webhook_url, else the request's own URL, else rebuilt. */
static char *signed_uri(const struct hs_connector *c, const struct hs_http_request *req)
{
    if (c->set.webhook_url != NULL)
        return hs_strdup(c->set.webhook_url);
    if (req->url != NULL)
        return hs_strdup(req->url);
    const char *host = hs_http_headers_get(&req->headers, "Host");
    const char *proto = hs_http_headers_get(&req->headers, "X-Forwarded-Proto");
    if (proto == NULL)
        proto = hs_str_starts(host, "127.") || hs_str_starts(host, "localhost") ? "http" : "https";
    return hs_asprintf("%s://%s%s%s%s", proto, host ? host : "", req->path ? req->path : "/",
                       req->query ? "?" : "", req->query ? req->query : "");
}

static int hub_webhook(struct hs_connector *c, const struct hs_http_request *req,
                       const char *secret, struct hs_changes *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    char *uri = signed_uri(c, req);
    if (uri == NULL)
        return hs_error_set(err, HS_ENOMEM, "%s: cannot verify webhook: out of memory",
                            conn_name(c));
    int rc = hs_hubspot_verify_signature(
        secret, req->method ? req->method : "POST", uri, (const uint8_t *)req->body.data,
        req->body.len, hs_http_headers_get(&req->headers, "X-HubSpot-Request-Timestamp"),
        hs_http_headers_get(&req->headers, "X-HubSpot-Signature-v3"), hs_env_now_ms(c->cfg.env),
        err);
    hs_free(uri);
    if (rc == HS_OK)
        rc = hs_hubspot_parse_events((const uint8_t *)req->body.data, req->body.len, out, err);
    if (rc != HS_OK)
        hs_error_prefix(err, "%s", conn_name(c));
    return rc;
}

/* ---- setup ---------------------------------------------------------------------------------- */

struct prop_def {
    enum hs_hubspot_obj obj;
    const char *name;
    const char *label;
    const char *type;
    const char *field_type;
    bool unique;
    bool options; /* the payment status options */
};

static const struct prop_def prop_defs[] = {
    {HS_HUBSPOT_DEALS, "hoopsync_invoice_number", "Invoice number", "string", "text", false, false},
    {HS_HUBSPOT_DEALS, "hoopsync_invoice_url", "Invoice URL", "string", "text", false, false},
    {HS_HUBSPOT_DEALS, "hoopsync_payment_status", "Payment status", "enumeration", "select", false,
     true},
    {HS_HUBSPOT_DEALS, "hoopsync_amount_paid", "Amount paid", "number", "number", false, false},
    {HS_HUBSPOT_DEALS, "hoopsync_amount_due", "Amount due", "number", "number", false, false},
    {HS_HUBSPOT_DEALS, "hoopsync_last_payment_date", "Last payment date", "date", "date", false,
     false},
    {HS_HUBSPOT_COMPANIES, "hoopsync_customer_id", "Accounting customer id", "string", "text",
     false, false},
    {HS_HUBSPOT_COMPANIES, ID_PROPERTY, "hoopsync id", "string", "text", true, false},
    {HS_HUBSPOT_PRODUCTS, ID_PROPERTY, "hoopsync id", "string", "text", true, false},
};

static json_t *status_options(void)
{
    static const char *const opts[][2] = {{"paid", "Paid"},
                                          {"partially_paid", "Partially paid"},
                                          {"unpaid", "Unpaid"},
                                          {"overdue", "Overdue"},
                                          {"void", "Void"}};
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < sizeof opts / sizeof opts[0]; i++)
        if (json_array_append_new(a, json_pack("{s:s,s:s,s:i,s:b}", "value", opts[i][0], "label",
                                               opts[i][1], "displayOrder", (int)i, "hidden", 0)) !=
            0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static int post_409_ok(struct hs_connector *c, const char *path, json_t *body, struct hs_error *err)
{
    if (body == NULL)
        return hs_error_set(err, HS_ENOMEM, "%s: cannot set up HubSpot: out of memory",
                            conn_name(c));
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    int rc = hs_hubspot_client_call(&c->cfg, "POST", path, body, true, &resp, err);
    hs_http_response_release(&resp);
    json_decref(body);
    return rc;
}

static int hub_setup(struct hs_connector *c, struct hs_error *err)
{
    static const enum hs_hubspot_obj group_objs[] = {HS_HUBSPOT_COMPANIES, HS_HUBSPOT_DEALS,
                                                     HS_HUBSPOT_PRODUCTS};
    char path[96];
    int rc = HS_OK;
    for (size_t i = 0; rc == HS_OK && i < sizeof group_objs / sizeof group_objs[0]; i++) {
        snprintf(path, sizeof path, "/crm/v3/properties/%s/groups",
                 hs_hubspot_obj_name(group_objs[i]));
        rc = post_409_ok(
            c, path,
            json_pack("{s:s,s:s,s:i}", "name", "hoopsync", "label", "hoopsync", "displayOrder", -1),
            err);
    }
    for (size_t i = 0; rc == HS_OK && i < sizeof prop_defs / sizeof prop_defs[0]; i++) {
        const struct prop_def *d = &prop_defs[i];
        snprintf(path, sizeof path, "/crm/v3/properties/%s", hs_hubspot_obj_name(d->obj));
        json_t *body =
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:s}", "name", d->name, "label", d->label, "type",
                      d->type, "fieldType", d->field_type, "groupName", "hoopsync",
                      "hasUniqueValue", d->unique, "description", "Written by hoopsync");
        if (body != NULL && d->options) {
            json_t *o = status_options();
            if (o == NULL || json_object_set_new(body, "options", o) != 0) {
                json_decref(body);
                body = NULL;
            }
        }
        rc = post_409_ok(c, path, body, err);
    }
    if (rc != HS_OK)
        hs_error_prefix(err, "cannot set up HubSpot properties");
    return rc;
}

const struct hs_connector_ops hs_connector_hubspot_ops = {
    .provider = "hubspot",
    .label = "HubSpot",
    .side = HS_SIDE_CRM,
    .open = hub_open,
    .close = hub_close,
    .kinds = hub_kinds,
    .limits = hub_limits,
    .changes = hub_changes,
    .read = hub_read,
    .write = hub_write,
    .webhook = hub_webhook,
    .setup = hub_setup,
    .describe_fields = hs_hubspot_describe_fields,
};
