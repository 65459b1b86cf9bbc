/*
 * connectors/xero/xero.c - the Xero Accounting API 2.0 as a connector (the ops table).
 *
 * Design:     contacts (customers), items, ACCREC invoices and payments of one organisation
 *             (cfg->tenant, sent as Xero-tenant-id).
 *             changes(): GET /<Entity>?page=N&order=UpdatedDateUTC ASC with If-Modified-Since
 *             (the cursor's second minus one, so an inclusive or exclusive reading of the
 *             header by Xero loses nothing; contacts add includeArchived=true). A full page
 *             (100) moves the window to its newest second, or, when the whole page shares the
 *             window's second, pages through that second; a short page ends the feed and the
 *             next window starts at the newest second seen (xero_int.h
 *             hs_xero_conn_cursor_next). Records of that second are listed again by the next
 *             call: the cursor carries the versions (id and UpdatedDateUTC) it already
 *             reported there (up to 256), and only those are left out, so a change is never
 *             lost at equal timestamps and an unchanged record is not reported twice (beyond
 *             256 versions in one second they are repeated, not lost). The one residue: a
 *             record written twice within the same millisecond, with our read landing
 *             between the two writes, would keep its first version (Xero stamps
 *             UpdatedDateUTC in milliseconds; the next change of the record reports it).
 *             Items are not paged by Xero: one call returns every item changed. Invoices and
 *             payments with status DELETED are changes with deleted = true.
 *             read(): contacts and invoices by IDs= (50 ids a call); items from one GET
 *             /Items; payments one GET /Payments/{id} each (no IDs filter there).
 *             Every call that reads or writes items or invoices adds unitdp=4: without it
 *             Xero rounds unit amounts to 2 decimals, which changes the line totals of KWD (3
 *             decimals) and of unit prices such as 3.3333.
 *             write(): one POST /<Entity>?summarizeErrors=false per call (payments: PUT, the
 *             only write of /Payments that takes summarizeErrors; they are never updated)
 *             with up to batch_max elements (creates without id, updates with it, only the
 *             changed elements), and an Idempotency-Key derived from the writes (idem_keys of
 *             creates, bodies of updates), so a retried batch is answered by Xero's stored
 *             answer instead of creating twice. Each element's answer (in order) gives its
 *             result or its ValidationErrors. Invoice lines name items by code: the item
 *             id <-> code map is read once per handle (GET /Items), again after items are
 *             written, and when a write names an item it does not hold.
 *             webhook(): x-xero-signature = base64(HMAC-SHA256(webhook key, raw body)),
 *             compared in constant time before the body is parsed.
 *             Settings (JSON object, all optional): base_currency ("USD"), sales_account
 *             ("200"), payment_account ("090"), invoice_status ("AUTHORISED", "SUBMITTED" or
 *             "DRAFT"), app_url ("https://go.xero.com"), batch_max (50), max_concurrency (5),
 *             rate_limits (replaces the published windows: 60 a minute and 5,000 a day per
 *             tenant; connectors/common/limits.h).
 * Threads:    a handle is used by one thread at a time; the limiter is shared (thread-safe).
 * Ownership:  the handle copies the settings it keeps; cfg pointers are borrowed.
 * Not here:   JSON (xero_parse.c), HTTP (xero_client.c, connectors/common).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "connectors/common/limits.h"
#include "connectors/common/settings.h"
#include "connectors/xero/xero.h"
#include "connectors/xero/xero_int.h"
#include "core/currency.h"
#include "core/validate.h"
#include "util/alloc.h"
#include "util/jsonnum.h"
#include "util/str.h"

#define MAX_CONCURRENCY_DEFAULT 5

/* ---- open / close --------------------------------------------------------------------- */

static void xero_close(struct hs_connector *c)
{
    if (c == NULL)
        return;
    hs_free(c->sales_account);
    hs_free(c->payment_account);
    hs_free(c->invoice_status);
    hs_free(c->app_url);
    hs_xero_conn_item_refs_free(c->items, c->n_items);
    hs_free(c);
}

static int xero_open(const struct hs_connector_config *cfg, struct hs_connector **out,
                     struct hs_error *err)
{
    *out = NULL;
    if (cfg == NULL || cfg->base_url == NULL || cfg->tenant == NULL || cfg->tenant[0] == '\0' ||
        cfg->http == NULL || cfg->env == NULL)
        return hs_error_set(err, HS_EINVAL,
                            "cannot open Xero connection: base URL, tenant id, HTTP transport "
                            "and env are required");
    size_t tl = strlen(cfg->tenant);
    for (const char *p = cfg->tenant; *p != '\0'; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F') ||
              *p == '-') ||
            tl > 64)
            return hs_error_set(err, HS_EINVAL,
                                "cannot open Xero connection: tenant id '%.40s' is not a Xero "
                                "tenant id (a GUID from GET /connections)",
                                cfg->tenant);
    const json_t *s = cfg->settings;
    if (s != NULL && !json_is_object(s))
        return hs_error_set(err, HS_EINVAL, "invalid Xero settings: expected an object");
    struct hs_connector *c = hs_calloc(1, sizeof *c);
    if (c == NULL)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    c->cfg = *cfg;
    if (c->cfg.name == NULL)
        c->cfg.name = "accounting";
    long bm, mc;
    char *base = NULL;
    int rc = hs_conn_setting_int(s, "Xero", "batch_max", HS_XERO_BATCH_MAX, 1, 1000, &bm, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_int(s, "Xero", "max_concurrency", MAX_CONCURRENCY_DEFAULT, 1, 100, &mc,
                                 err);
    if (rc == HS_OK)
        rc = hs_conn_rate_limits_parse(s, c->windows, &c->n_windows, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_str(s, "Xero", "sales_account", "200", &c->sales_account, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_str(s, "Xero", "payment_account", "090", &c->payment_account, err);
    if (rc == HS_OK)
        rc =
            hs_conn_setting_str(s, "Xero", "invoice_status", "AUTHORISED", &c->invoice_status, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_str(s, "Xero", "app_url", "https://go.xero.com", &c->app_url, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_str(s, "Xero", "base_currency", "USD", &base, err);
    if (rc == HS_OK && (base == NULL || c->sales_account == NULL || c->payment_account == NULL ||
                        c->invoice_status == NULL || c->app_url == NULL)) {
        (void)hs_error_set(err, HS_ENOMEM, "cannot open Xero connection: out of memory");
        rc = HS_ENOMEM;
    }
    if (rc == HS_OK && (strlen(base) != 3 || hs_currency_find(base) == NULL)) {
        (void)hs_error_set(err, HS_EINVAL,
                           "invalid Xero setting 'base_currency': '%.8s' is not an ISO 4217 code",
                           base);
        rc = HS_EINVAL;
    }
    if (rc == HS_OK && strcmp(c->invoice_status, "AUTHORISED") != 0 &&
        strcmp(c->invoice_status, "DRAFT") != 0 && strcmp(c->invoice_status, "SUBMITTED") != 0) {
        (void)hs_error_set(err, HS_EINVAL,
                           "invalid Xero setting 'invoice_status': expected AUTHORISED, "
                           "SUBMITTED or DRAFT");
        rc = HS_EINVAL;
    }
    if (rc == HS_OK && base != NULL) {
        memcpy(c->opts.base_currency, base, 4);
        c->batch_max = (size_t)bm;
        c->max_concurrency = (size_t)mc;
        c->opts.sales_account = c->sales_account;
        c->opts.payment_account = c->payment_account;
        c->opts.invoice_status = c->invoice_status;
        c->opts.app_url = c->app_url;
    }
    hs_free(base);
    if (rc != HS_OK) {
        xero_close(c);
        return rc;
    }
    *out = c;
    return HS_OK;
}

static unsigned xero_kinds(const struct hs_connector *c)
{
    (void)c;
    return (1u << HS_KIND_CUSTOMER) | (1u << HS_KIND_ITEM) | (1u << HS_KIND_INVOICE) |
           (1u << HS_KIND_PAYMENT);
}

static void xero_limits(const struct hs_connector *c, enum hs_kind kind,
                        struct hs_connector_limits *out)
{
    memset(out, 0, sizeof *out);
    out->read_batch = kind == HS_KIND_PAYMENT ? 10 : HS_XERO_READ_MAX;
    out->write_batch = c->batch_max;
    out->max_concurrency = c->max_concurrency;
    out->windows[0] = (struct hs_rate_window){"all", 60, 60000};
    out->windows[1] = (struct hs_rate_window){"day", 5000, 86400000};
    out->n_windows = 2;
    hs_conn_rate_limits_apply(out, c->windows, c->n_windows);
}

static int unsupported(enum hs_kind kind, struct hs_error *err)
{
    return hs_error_set(err, HS_EINVAL, "Xero does not carry %s records",
                        hs_kind_name(kind) != NULL ? hs_kind_name(kind) : "these");
}

/* ---- item map ------------------------------------------------------------------------- */

static int load_items(struct hs_connector *c, struct hs_error *err)
{
    struct hs_buf body;
    hs_buf_init(&body);
    int rc = hs_xero_conn_call(c, "GET", "Items", 0, NULL, NULL, 0, &body, err);
    struct hs_xero_item_ref *v = NULL;
    size_t n = 0;
    if (rc == HS_OK)
        rc = hs_xero_conn_parse_item_refs((const uint8_t *)body.data, body.len, &v, &n, err);
    hs_buf_release(&body);
    if (rc != HS_OK)
        return rc;
    hs_xero_conn_item_refs_free(c->items, c->n_items);
    c->items = v;
    c->n_items = n;
    c->items_loaded = true;
    c->opts.items = c->items;
    c->opts.n_items = c->n_items;
    return HS_OK;
}

static bool item_known(const struct hs_connector *c, const char *id)
{
    for (size_t i = 0; i < c->n_items; i++)
        if (hs_str_ieq(c->items[i].id, id))
            return true;
    return false;
}

/* Loads the map when an invoice write names an item it does not hold. */
static int items_for_writes(struct hs_connector *c, const struct hs_write *writes, size_t n,
                            struct hs_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct hs_record *r = writes[i].record;
        for (size_t k = 0; r != NULL && r->kind == HS_KIND_INVOICE && k < r->invoice.n_lines; k++)
            if (r->invoice.lines[k].item_ref != NULL &&
                !item_known(c, r->invoice.lines[k].item_ref))
                return load_items(c, err);
    }
    return HS_OK;
}

/* ---- changes -------------------------------------------------------------------------- */

static int xero_changes(struct hs_connector *c, enum hs_kind kind, const char *cursor,
                        struct hs_changes *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    const char *entity = hs_xero_conn_entity(kind);
    if (entity == NULL)
        return unsupported(kind, err);
    /* two cursors of 2 KB each: on the heap */
    struct hs_xero_cursor *cur = hs_calloc(2, sizeof *cur);
    if (cur == NULL)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    struct hs_xero_cursor *next = &cur[1];
    cur->page = 1;
    if (cursor != NULL) {
        int rc = hs_xero_conn_cursor_parse(cursor, strlen(cursor), cur, err);
        if (rc != HS_OK) {
            hs_free(cur);
            return rc;
        }
    }
    bool paged = kind != HS_KIND_ITEM;
    char rel[160];
    if (paged)
        snprintf(rel, sizeof rel, "%s?page=%lld&order=UpdatedDateUTC%%20ASC%s", entity,
                 (long long)cur->page, kind == HS_KIND_CUSTOMER ? "&includeArchived=true" : "");
    else
        snprintf(rel, sizeof rel, "%s?order=UpdatedDateUTC%%20ASC", entity);
    struct hs_buf body;
    hs_buf_init(&body);
    struct hs_xero_page page;
    memset(&page, 0, sizeof page);
    int64_t since = cur->since_ms > 1000 ? cur->since_ms - 1000 : cur->since_ms;
    int rc = hs_xero_conn_call(c, "GET", rel, since, NULL, NULL, 0, &body, err);
    if (rc == HS_OK)
        rc = hs_xero_conn_parse_list((const uint8_t *)body.data, body.len, kind, false, &c->opts,
                                     &page, err);
    int64_t newest = 0;
    if (rc == HS_OK && page.n_items > 0) {
        out->items = hs_calloc(page.n_items, sizeof *out->items);
        if (out->items == NULL)
            rc = HS_ENOMEM;
    }
    for (size_t i = 0; rc == HS_OK && i < page.n_items; i++) {
        const struct hs_xero_obj *o = &page.items[i];
        if (o->updated_at > newest)
            newest = o->updated_at;
        if (hs_xero_conn_cursor_seen(cur, hs_xero_conn_version_hash(o->id, o->updated_at)))
            continue; /* this version was reported by the call before */
        struct hs_change *ch = &out->items[out->n_items];
        ch->kind = kind;
        ch->id = hs_strdup(o->id);
        if (ch->id == NULL) {
            rc = HS_ENOMEM;
            break;
        }
        ch->updated_at = o->updated_at;
        ch->deleted = o->deleted;
        out->n_items++;
    }
    if (rc == HS_OK) {
        /* the page count is that of Xero's answer, before skipping other document types */
        json_t *root = NULL;
        size_t n_raw = page.n_items;
        if (hs_json_parse_exact((const uint8_t *)body.data, body.len, "Xero answer", &root, NULL) ==
            HS_OK)
            n_raw = json_array_size(json_object_get(root, entity));
        json_decref(root);
        hs_xero_conn_cursor_next(cur, newest, paged && n_raw >= HS_XERO_PAGE_SIZE, next,
                                 &out->more);
        /* remember the versions the next window lists again (from one second early) */
        bool fits = true;
        if (next->since_ms == cur->since_ms)
            for (size_t i = 0; fits && i < cur->n_seen; i++)
                fits = hs_xero_conn_cursor_add_seen(next, cur->seen[i]);
        for (size_t i = 0; fits && i < page.n_items; i++)
            if (page.items[i].updated_at >= next->since_ms - 1000)
                fits = hs_xero_conn_cursor_add_seen(
                    next, hs_xero_conn_version_hash(page.items[i].id, page.items[i].updated_at));
        if (!fits)
            next->n_seen = 0; /* too many in one second: they may come again */
        out->cursor = hs_xero_conn_cursor_format(next);
        if (out->cursor == NULL)
            rc = HS_ENOMEM;
    }
    hs_xero_conn_page_release(&page);
    hs_buf_release(&body);
    hs_free(cur);
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "out of memory");
    if (rc != HS_OK)
        hs_changes_release(out);
    return rc;
}

/* ---- read ----------------------------------------------------------------------------- */

static bool safe_id(const char *id)
{
    if (id == NULL || *id == '\0' || strlen(id) > 64)
        return false;
    for (const char *p = id; *p != '\0'; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              *p == '-'))
            return false;
    return true;
}

/* Moves the records of page whose id is ids[i] into out[i]. */
static int pick(struct hs_xero_page *page, const char *const *ids, size_t n, struct hs_record **out)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; out[i] == NULL && k < page->n_items; k++)
            if (page->items[k].rec != NULL && hs_str_ieq(page->items[k].id, ids[i])) {
                int rc = hs_record_clone(page->items[k].rec, &out[i]);
                if (rc != HS_OK)
                    return rc;
            }
    return HS_OK;
}

static int read_list(struct hs_connector *c, enum hs_kind kind, const char *rel,
                     const char *const *ids, size_t n, struct hs_record **out, struct hs_error *err)
{
    struct hs_buf body;
    hs_buf_init(&body);
    struct hs_xero_page page;
    memset(&page, 0, sizeof page);
    int rc = hs_xero_conn_call(c, "GET", rel, 0, NULL, NULL, 0, &body, err);
    if (rc == HS_ENOTFOUND && kind == HS_KIND_PAYMENT) {
        hs_buf_release(&body);
        hs_error_clear(err);
        return HS_OK; /* a payment gone: NULL */
    }
    if (rc == HS_OK)
        rc = hs_xero_conn_parse_list((const uint8_t *)body.data, body.len, kind, true, &c->opts,
                                     &page, err);
    if (rc == HS_OK)
        rc = pick(&page, ids, n, out);
    hs_xero_conn_page_release(&page);
    hs_buf_release(&body);
    return rc;
}

static int xero_read(struct hs_connector *c, enum hs_kind kind, const char *const *ids, size_t n,
                     struct hs_record **out, struct hs_error *err)
{
    const char *entity = hs_xero_conn_entity(kind);
    if (entity == NULL)
        return unsupported(kind, err);
    size_t max = kind == HS_KIND_PAYMENT ? 10 : HS_XERO_READ_MAX;
    if (n > max)
        return hs_error_set(err, HS_ETOOBIG, "cannot read %zu Xero records at once: at most %zu", n,
                            max);
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    for (size_t i = 0; i < n; i++)
        if (!safe_id(ids[i]))
            return hs_error_set(err, HS_EINVAL, "invalid Xero id '%.40s'",
                                ids[i] != NULL ? ids[i] : "(null)");
    if (n == 0)
        return HS_OK;
    int rc = HS_OK;
    if (kind == HS_KIND_INVOICE && !c->items_loaded)
        rc = load_items(c, err);
    if (rc == HS_OK && (kind == HS_KIND_CUSTOMER || kind == HS_KIND_INVOICE)) {
        struct hs_buf q;
        hs_buf_init(&q);
        /* page=1 so invoices come with their lines; at most 50 ids fit one page */
        rc = hs_buf_printf(&q, "%s?page=1%s&IDs=", entity,
                           kind == HS_KIND_INVOICE ? "&unitdp=4" : "");
        for (size_t i = 0; rc == HS_OK && i < n; i++)
            rc = hs_buf_printf(&q, "%s%s", i > 0 ? "," : "", ids[i]);
        if (rc == HS_OK && kind == HS_KIND_CUSTOMER)
            rc = hs_buf_puts(&q, "&includeArchived=true");
        if (rc == HS_OK)
            rc = read_list(c, kind, q.data, ids, n, out, err);
        else
            rc = hs_error_set(err, HS_ENOMEM, "out of memory");
        hs_buf_release(&q);
    } else if (rc == HS_OK && kind == HS_KIND_ITEM) {
        rc = read_list(c, kind, "Items?unitdp=4", ids, n, out, err);
    } else {
        for (size_t i = 0; rc == HS_OK && i < n; i++) {
            char rel[96];
            snprintf(rel, sizeof rel, "Payments/%s", ids[i]);
            rc = read_list(c, kind, rel, &ids[i], 1, &out[i], err);
        }
    }
    if (rc != HS_OK) {
        for (size_t i = 0; i < n; i++) {
            hs_record_free(out[i]);
            out[i] = NULL;
        }
        if (rc == HS_ENOMEM)
            hs_error_set(err, HS_ENOMEM, "out of memory");
    }
    return rc;
}

/* ---- write ---------------------------------------------------------------------------- */

static bool address_path(const char *f)
{
    return f != NULL &&
           (strncmp(f, "billing_address", 15) == 0 || strncmp(f, "shipping_address", 16) == 0);
}

/*
 * Xero replaces a contact's whole address when one line of it is sent, and the engine sends
 * only the lines that changed: for those updates the contact is read first (one call) and
 * merged[i] is the record as Xero holds it with the update's fields applied, so the address
 * goes out whole. merged[i] is NULL for every other write.
 */
static int merge_addresses(struct hs_connector *c, const struct hs_write *writes, size_t n,
                           struct hs_record ***out, struct hs_error *err)
{
    *out = NULL;
    const char **ids = hs_calloc(n, sizeof(const char *));
    size_t *at = hs_calloc(n, sizeof(size_t));
    struct hs_record **cur = hs_calloc(n, sizeof(struct hs_record *));
    struct hs_record **merged = hs_calloc(n, sizeof(struct hs_record *));
    int rc = ids != NULL && at != NULL && cur != NULL && merged != NULL ? HS_OK : HS_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; rc == HS_OK && i < n; i++) {
        const struct hs_write *w = &writes[i];
        if (w->op != HS_WRITE_UPDATE || w->fields == NULL || w->record == NULL ||
            w->record->id == NULL)
            continue;
        bool addr = false;
        for (size_t f = 0; f < w->n_fields && !addr; f++)
            addr = address_path(w->fields[f]);
        if (addr) {
            ids[m] = w->record->id;
            at[m++] = i;
        }
    }
    if (rc == HS_OK && m > 0)
        rc = xero_read(c, HS_KIND_CUSTOMER, ids, m, cur, err);
    for (size_t k = 0; rc == HS_OK && k < m; k++) {
        const struct hs_write *w = &writes[at[k]];
        if (cur[k] == NULL)
            continue; /* gone: the update itself will say so */
        struct hs_fields have, want;
        hs_fields_init(&have);
        hs_fields_init(&want);
        rc = hs_record_to_fields(cur[k], &have, NULL);
        if (rc == HS_OK)
            rc = hs_record_to_fields(w->record, &want, NULL);
        for (size_t f = 0; rc == HS_OK && f < w->n_fields; f++) {
            const char *v = hs_fields_get(&want, w->fields[f]);
            if (v != NULL)
                rc = hs_fields_set(&have, w->fields[f], v);
            else
                (void)hs_fields_remove(&have, w->fields[f]);
        }
        struct hs_record *r = NULL;
        if (rc == HS_OK)
            rc = hs_record_from_fields(HS_KIND_CUSTOMER, &have, &r, err);
        if (rc == HS_OK && (hs_record_set_str(&r->id, w->record->id) != HS_OK ||
                            hs_fields_copy(&r->meta, &w->record->meta) != HS_OK))
            rc = HS_ENOMEM;
        if (rc == HS_OK)
            merged[at[k]] = r;
        else
            hs_record_free(r);
        hs_fields_release(&have);
        hs_fields_release(&want);
    }
    for (size_t k = 0; cur != NULL && k < m; k++)
        hs_record_free(cur[k]);
    hs_free(cur);
    hs_free(at);
    hs_free(ids);
    if (rc != HS_OK) {
        for (size_t i = 0; merged != NULL && i < n; i++)
            hs_record_free(merged[i]);
        hs_free(merged);
        return rc == HS_ENOMEM ? hs_error_set(err, HS_ENOMEM, "out of memory") : rc;
    }
    *out = merged;
    return HS_OK;
}

/* Results of the updates write() did not send (status OK, nothing Xero stores changed). */
static int read_unsent(struct hs_connector *c, enum hs_kind kind, struct hs_write *writes, size_t n,
                       const bool *sent, struct hs_error *err)
{
    const char **ids = hs_calloc(n, sizeof(const char *));
    size_t *at = hs_calloc(n, sizeof(size_t));
    struct hs_record **recs = hs_calloc(n, sizeof(struct hs_record *));
    int rc = ids != NULL && at != NULL && recs != NULL ? HS_OK : HS_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; rc == HS_OK && i < n; i++) {
        const struct hs_write *w = &writes[i];
        if (!sent[i] && w->status == HS_OK && w->result == NULL && w->op == HS_WRITE_UPDATE &&
            w->record != NULL && w->record->id != NULL) {
            ids[m] = w->record->id;
            at[m++] = i;
        }
    }
    if (rc == HS_OK && m > 0)
        rc = xero_read(c, kind, ids, m, recs, err);
    for (size_t k = 0; rc == HS_OK && k < m; k++) {
        struct hs_write *w = &writes[at[k]];
        if (recs[k] == NULL) {
            w->status = HS_ENOTFOUND;
            snprintf(w->msg, sizeof w->msg, "Xero no longer has this record");
        }
        w->result = recs[k];
        recs[k] = NULL;
    }
    for (size_t k = 0; recs != NULL && k < m; k++)
        hs_record_free(recs[k]);
    hs_free(recs);
    hs_free(at);
    hs_free(ids);
    return rc;
}

/* ---- retried invoice creates ------------------------------------------------------------ */

/* Clocks of ours and Xero's may differ this much (If-Modified-Since of a lookup). */
#define RETRY_SKEW_MS ((int64_t)10 * 60 * 1000)

/* Could inv be the invoice a stopped pass made for w: the same source document (Url) when the
 * write names one, else the same contact, currency, lines and total, not void and nothing
 * paid yet. */
static bool made_for(const struct hs_record *inv, const struct hs_write *w)
{
    if (w->record == NULL)
        return false;
    const char *src = hs_fields_get(&w->record->meta, "source_url");
    if (src != NULL) {
        const char *have = hs_fields_get(&inv->meta, "source_url");
        return have != NULL && strcmp(have, src) == 0;
    }
    const struct hs_invoice *a = &inv->invoice;
    const struct hs_invoice *b = &w->record->invoice;
    if (a->customer_ref == NULL || b->customer_ref == NULL ||
        !hs_str_ieq(a->customer_ref, b->customer_ref) || a->status == HS_INVOICE_VOID ||
        a->amount_paid.minor != 0 || a->n_lines != b->n_lines)
        return false;
    if (b->currency[0] != '\0' && strcmp(a->currency, b->currency) != 0)
        return false;
    return b->total.currency[0] == '\0' || a->total.minor == b->total.minor;
}

/*
 * Xero's Idempotency-Key is per request, and a create retried after a crash goes out in
 * whatever batch the later pass makes, so the key no longer matches. Before such a create
 * (hs_write.retry), the invoices of its contact changed since its intent was stored are read
 * (GET Invoices?ContactIDs=..., If-Modified-Since) and one made for it (made_for) becomes its
 * answer: found[i] is set and nothing is sent for it. Contacts need no lookup: Xero refuses a
 * second contact of one name, and the engine links the one made through its change feed.
 */
static int find_retried(struct hs_connector *c, struct hs_write *writes, size_t n, bool *found,
                        struct hs_error *err)
{
    struct hs_buf ids;
    hs_buf_init(&ids);
    int64_t since = 0;
    size_t open = 0;
    int rc = HS_OK;
    for (size_t i = 0; rc == HS_OK && i < n; i++) {
        const struct hs_write *w = &writes[i];
        const char *cid = w->record != NULL ? w->record->invoice.customer_ref : NULL;
        if (w->op != HS_WRITE_CREATE || !w->retry || !safe_id(cid))
            continue;
        open++;
        int64_t t = w->retry_since_ms - RETRY_SKEW_MS;
        since = since == 0 || t < since ? t : since;
        if (strstr(ids.data != NULL ? ids.data : "", cid) == NULL)
            rc = hs_buf_printf(&ids, "%s%s", ids.len > 0 ? "," : "", cid);
    }
    struct hs_buf body;
    hs_buf_init(&body);
    for (int page = 1; rc == HS_OK && open > 0; page++) {
        char rel[64];
        snprintf(rel, sizeof rel, "Invoices?page=%d&unitdp=4&ContactIDs=", page);
        struct hs_buf q;
        hs_buf_init(&q);
        rc = hs_buf_printf(&q, "%s%s", rel, ids.data);
        body.len = 0;
        if (rc == HS_OK)
            rc = hs_xero_conn_call(c, "GET", q.data, since > 0 ? since : 1, NULL, NULL, 0, &body,
                                   err);
        hs_buf_release(&q);
        struct hs_xero_page pg;
        memset(&pg, 0, sizeof pg);
        if (rc == HS_OK)
            rc = hs_xero_conn_parse_list((const uint8_t *)body.data, body.len, HS_KIND_INVOICE,
                                         true, &c->opts, &pg, err);
        for (size_t k = 0; rc == HS_OK && k < pg.n_items; k++) {
            for (size_t i = 0; pg.items[k].rec != NULL && i < n; i++) {
                struct hs_write *w = &writes[i];
                if (found[i] || w->op != HS_WRITE_CREATE || !w->retry ||
                    !made_for(pg.items[k].rec, w))
                    continue;
                hs_record_free(w->result);
                w->result = pg.items[k].rec; /* claimed: no other write takes it */
                pg.items[k].rec = NULL;
                w->status = HS_OK;
                w->msg[0] = '\0';
                found[i] = true;
                open--;
                break;
            }
        }
        size_t got = pg.n_items;
        hs_xero_conn_page_release(&pg);
        if (got < HS_XERO_PAGE_SIZE)
            break;
    }
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "out of memory");
    else if (rc != HS_OK)
        hs_error_prefix(err, "cannot look up invoices a stopped sync may have created");
    hs_buf_release(&body);
    hs_buf_release(&ids);
    return rc;
}

static int xero_write(struct hs_connector *c, enum hs_kind kind, struct hs_write *writes, size_t n,
                      struct hs_error *err)
{
    const char *entity = hs_xero_conn_entity(kind);
    if (entity == NULL)
        return unsupported(kind, err);
    if (n > c->batch_max)
        return hs_error_set(err, HS_ETOOBIG,
                            "cannot write %zu Xero records in one batch: at most %zu", n,
                            c->batch_max);
    if (n == 0)
        return HS_OK;
    int rc = kind == HS_KIND_INVOICE ? items_for_writes(c, writes, n, err) : HS_OK;
    bool *found = hs_calloc(n, sizeof *found);
    if (found == NULL)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    if (rc == HS_OK && kind == HS_KIND_INVOICE)
        rc = find_retried(c, writes, n, found, err);
    struct hs_record **merged = NULL;
    if (rc == HS_OK && kind == HS_KIND_CUSTOMER)
        rc = merge_addresses(c, writes, n, &merged, err);
    if (rc != HS_OK) {
        hs_free(found);
        return rc;
    }
    json_t *items = json_array();
    bool *sent = hs_calloc(n, sizeof *sent);
    char **dumps = hs_calloc(n, sizeof *dumps);
    struct hs_buf body;
    struct hs_buf answer;
    hs_buf_init(&body);
    hs_buf_init(&answer);
    rc = items != NULL && sent != NULL && dumps != NULL ? HS_OK : HS_ENOMEM;
    size_t n_sent = 0;
    for (size_t i = 0; rc == HS_OK && i < n; i++) {
        struct hs_write *w = &writes[i];
        if (found[i])
            continue; /* a stopped pass made it (find_retried) */
        w->status = HS_OK;
        w->msg[0] = '\0';
        hs_record_free(w->result);
        w->result = NULL;
        json_t *el = NULL;
        struct hs_error berr;
        hs_error_clear(&berr);
        struct hs_write as_sent = *w;
        if (merged != NULL && merged[i] != NULL)
            as_sent.record = merged[i]; /* the whole address, see merge_addresses */
        int brc = hs_xero_conn_build(kind, &as_sent, &c->opts, &el, &berr);
        if (brc == HS_ENOMEM) {
            rc = HS_ENOMEM;
            break;
        }
        if (brc != HS_OK) {
            w->status = brc;
            snprintf(w->msg, sizeof w->msg, "%s", berr.msg);
            continue;
        }
        if (el == NULL) /* nothing Xero stores changes: the result is read below */
            continue;
        struct hs_buf one;
        hs_buf_init(&one);
        if (hs_json_dump_exact(el, &one) != HS_OK || (dumps[i] = hs_buf_detach(&one)) == NULL ||
            json_array_append_new(items, el) != 0) {
            hs_buf_release(&one);
            rc = HS_ENOMEM;
            break;
        }
        sent[i] = true;
        n_sent++;
    }
    if (rc == HS_OK && n_sent > 0) {
        json_t *root = json_pack("{s:O}", entity, items);
        rc = root != NULL ? hs_json_dump_exact(root, &body) : HS_ENOMEM;
        json_decref(root);
        char key[36];
        hs_xero_conn_idem_key(c->cfg.tenant, kind, writes, (const char *const *)dumps, n, key);
        char rel[64];
        /* unitdp only where the spec has it; payments are created with PUT, the only write
         * of /Payments that takes summarizeErrors */
        bool unitdp = kind == HS_KIND_ITEM || kind == HS_KIND_INVOICE;
        snprintf(rel, sizeof rel, "%s?summarizeErrors=false%s", entity, unitdp ? "&unitdp=4" : "");
        if (rc == HS_OK)
            rc = hs_xero_conn_call(c, kind == HS_KIND_PAYMENT ? "PUT" : "POST", rel, 0, key,
                                   body.data, body.len, &answer, err);
        if (rc == HS_OK)
            rc = hs_xero_conn_parse_write((const uint8_t *)answer.data, answer.len, kind, &c->opts,
                                          sent, writes, n, err);
        /* new or renamed items: the id <-> code map is read again when next needed */
        if (kind == HS_KIND_ITEM)
            c->items_loaded = false;
    }
    /* updates that change nothing Xero stores (fields it does not carry) send nothing; their
     * result is the record as Xero holds it (connector.h), read in one call, never an echo of
     * what was asked */
    if (rc == HS_OK)
        rc = read_unsent(c, kind, writes, n, sent, err);
    json_decref(items);
    for (size_t i = 0; merged != NULL && i < n; i++)
        hs_record_free(merged[i]);
    hs_free(merged);
    for (size_t i = 0; dumps != NULL && i < n; i++)
        hs_free(dumps[i]);
    hs_free(dumps);
    hs_free(sent);
    hs_free(found);
    hs_buf_release(&body);
    hs_buf_release(&answer);
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "out of memory");
    return rc;
}

/* ---- webhook -------------------------------------------------------------------------- */

static int xero_webhook(struct hs_connector *c, const struct hs_http_request *req,
                        const char *secret, struct hs_changes *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    const char *sig = hs_http_headers_get(&req->headers, "x-xero-signature");
    if (secret == NULL || *secret == '\0')
        return hs_error_set(err, HS_EAUTH, "Xero webhook: no webhook key configured");
    if (sig == NULL)
        return hs_error_set(err, HS_EAUTH, "Xero webhook: missing x-xero-signature header");
    unsigned char want[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(
        &st, (const unsigned char *)(req->body.data != NULL ? req->body.data : ""), req->body.len);
    crypto_auth_hmacsha256_final(&st, want);
    unsigned char got[crypto_auth_hmacsha256_BYTES + 8];
    memset(got, 0, sizeof got);
    size_t got_len = 0;
    const char *sig_end = NULL;
    bool ok = sodium_base642bin(got, sizeof got, sig, strlen(sig), " ", &got_len, &sig_end,
                                sodium_base64_VARIANT_ORIGINAL) == 0 &&
              got_len == sizeof want;
    /* compare even when the length is wrong, so timing says nothing about the header */
    int diff = sodium_memcmp(got, want, sizeof want);
    sodium_memzero(want, sizeof want);
    if (!ok || diff != 0)
        return hs_error_set(err, HS_EAUTH, "Xero webhook: signature does not match");
    return hs_xero_conn_parse_webhook((const uint8_t *)req->body.data, req->body.len, c->cfg.tenant,
                                      out, err);
}

/* Contact Name: 255 characters, required, unique among active contacts; Item Code 30, Name 50
 * (the sandbox's and Xero's documented lengths, docs/sandbox-xero.md). */
static const struct hs_validate_limit customer_limits[] = {
    {"display_name", "Contact name", 255, NULL, true, true, false},
    /* "Website address for contact (read only)" (the spec's Contact.Website): Xero ignores it */
    {"website", "Website", 0, NULL, false, false, true},
};
static const struct hs_validate_limit item_limits[] = {
    {"name", "Item name", 50, NULL, false, false, false},
    {"sku", "Item code", 30, NULL, false, true, false},
};

static const struct hs_validate_limit *xero_field_limits(const struct hs_connector *c,
                                                         enum hs_kind kind, size_t *n_out)
{
    (void)c;
    *n_out = 0;
    if (kind == HS_KIND_CUSTOMER) {
        *n_out = sizeof customer_limits / sizeof customer_limits[0];
        return customer_limits;
    }
    if (kind == HS_KIND_ITEM) {
        *n_out = sizeof item_limits / sizeof item_limits[0];
        return item_limits;
    }
    return NULL;
}

const struct hs_connector_ops hs_connector_xero_ops = {
    .provider = "xero",
    .label = "Xero",
    .side = HS_SIDE_ACCOUNTING,
    .open = xero_open,
    .close = xero_close,
    .kinds = xero_kinds,
    .limits = xero_limits,
    .changes = xero_changes,
    .read = xero_read,
    .write = xero_write,
    .webhook = xero_webhook,
    .setup = NULL,
    .field_limits = xero_field_limits,
    .describe_fields = hs_xero_conn_describe_fields,
};
