/*
 * connectors/quickbooks/quickbooks.c - QuickBooks Online v3 as a connector (the ops table).
 *
 * Design:     customers, items, invoices and payments of one realm (cfg->tenant).
 *             changes(): the cursor (quickbooks_int.h) is QuickBooks' own clock: each call is
 *             one request. In CDC mode, GET cdc?entities=<E>&changedSince=<cursor>; an answer
 *             below the 1,000-object cap ends the page and the next cursor is the answer's
 *             "time"; a full answer narrows the window by moving changedSince to the newest
 *             LastUpdatedTime it holds (more = true), and when all 1,000 share one instant
 *             switches to a query scan. A cursor more than 30 days old (by the env clock, or
 *             QuickBooks' "older than fixed days" fault) falls back to a query re-scan: select
 *             * from <E> where MetaData.LastUpdatedTime >= '<since>' orderby
 *             MetaData.LastUpdatedTime startposition N maxresults 1000 (name lists add "Active
 *             in (true, false)" so inactive records are seen), paged as keyset plus offset
 *             within ties; a short page returns to CDC at the answer's time. No cursor scans
 *             everything the same way. Deleted objects (CDC "status":"Deleted") are changes
 *             with deleted = true.
 *             read(): one POST query "select * from <E> where Id in (...) maxresults 1000".
 *             write(): quickbooks_write.c (batches of at most batch_max items, default 30,
 *             single requests while the realm's batch allowance is spent, and a lookup
 *             before re-sending a create a stopped pass may have made).
 *             webhook(): intuit-signature = base64(HMAC-SHA256(verifier token, raw body)),
 *             compared in constant time before the body is parsed.
 *             Settings (JSON object, all optional): minorversion (75), batch_max (30),
 *             income_account, item_type ("Service"), txn_tax_code, home_currency ("USD"),
 *             app_url ("https://app.qbo.intuit.com"), max_concurrency (10),
 *             single_requests ("when_faster"; "never": batches only, the fewest calls),
 *             rate_limits
 *             (replaces the published windows of limits(): 500 a minute and 10 a second per
 *             realm, 40 batch requests a minute; connectors/common/limits.h).
 * Threads:    a handle is used by one thread at a time; the limiter is shared (thread-safe).
 * Ownership:  the handle copies the settings it keeps; cfg pointers are borrowed.
 * Not here:   JSON (quickbooks_parse.c), HTTP (quickbooks_client.c, connectors/common).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "connectors/common/limits.h"
#include "connectors/common/settings.h"
#include "connectors/quickbooks/quickbooks.h"
#include "connectors/quickbooks/quickbooks_int.h"
#include "core/currency.h"
#include "core/validate.h"
#include "util/alloc.h"
#include "util/jsonnum.h"
#include "util/str.h"

#define CDC_WINDOW_MS           ((int64_t)HS_QUICKBOOKS_CDC_DAYS * 86400 * 1000)
#define MAX_CONCURRENCY_DEFAULT 10

/* ---- open / close --------------------------------------------------------------------- */

static void qb_close(struct hs_connector *c)
{
    if (c == NULL)
        return;
    hs_free(c->income_account);
    hs_free(c->item_type);
    hs_free(c->txn_tax_code);
    hs_free(c->app_url);
    hs_free(c);
}

static int qb_open(const struct hs_connector_config *cfg, struct hs_connector **out,
                   struct hs_error *err)
{
    *out = NULL;
    if (cfg == NULL || cfg->base_url == NULL || cfg->tenant == NULL || cfg->tenant[0] == '\0' ||
        cfg->http == NULL || cfg->env == NULL)
        return hs_error_set(err, HS_EINVAL,
                            "cannot open QuickBooks connection: base URL, realm id, HTTP "
                            "transport and env are required");
    for (const char *p = cfg->tenant; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return hs_error_set(err, HS_EINVAL,
                                "cannot open QuickBooks connection: realm id '%.40s' is not a "
                                "number",
                                cfg->tenant);
    const json_t *s = cfg->settings;
    if (s != NULL && !json_is_object(s))
        return hs_error_set(err, HS_EINVAL, "invalid QuickBooks settings: expected an object");
    struct hs_connector *c = hs_calloc(1, sizeof *c);
    if (c == NULL)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    c->cfg = *cfg;
    if (c->cfg.name == NULL)
        c->cfg.name = "accounting";
    long mv, bm, mc;
    char *home = NULL, *singles = NULL;
    int rc = hs_conn_setting_int(s, "QuickBooks", "minorversion", HS_QUICKBOOKS_MINORVERSION, 1,
                                 999, &mv, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_int(s, "QuickBooks", "batch_max", HS_QUICKBOOKS_BATCH_MAX, 1, 1000,
                                 &bm, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_int(s, "QuickBooks", "max_concurrency", MAX_CONCURRENCY_DEFAULT, 1,
                                 100, &mc, err);
    if (rc == HS_OK)
        rc = hs_conn_rate_limits_parse(s, c->windows, &c->n_windows, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_str(s, "QuickBooks", "income_account", NULL, &c->income_account, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_str(s, "QuickBooks", "item_type", "Service", &c->item_type, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_str(s, "QuickBooks", "txn_tax_code", NULL, &c->txn_tax_code, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_str(s, "QuickBooks", "app_url", "https://app.qbo.intuit.com",
                                 &c->app_url, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_str(s, "QuickBooks", "home_currency", "USD", &home, err);
    if (rc == HS_OK && (home == NULL || strlen(home) != 3 || hs_currency_find(home) == NULL))
        rc = hs_error_set(err, HS_EINVAL,
                          "invalid QuickBooks setting 'home_currency': '%.8s' is not an ISO "
                          "4217 code",
                          home != NULL ? home : "");
    if (rc == HS_OK)
        rc = hs_conn_setting_str(s, "QuickBooks", "single_requests", "when_faster", &singles, err);
    if (rc == HS_OK &&
        (singles == NULL || (strcmp(singles, "when_faster") != 0 && strcmp(singles, "never") != 0)))
        rc = singles == NULL ? HS_ENOMEM
                             : hs_error_set(err, HS_EINVAL,
                                            "invalid QuickBooks setting 'single_requests': "
                                            "expected when_faster or never, not '%.20s'",
                                            singles);
    if (rc == HS_OK)
        c->no_singles = strcmp(singles, "never") == 0;
    hs_free(singles);
    if (rc == HS_OK && (c->item_type == NULL || c->app_url == NULL))
        rc = HS_ENOMEM; /* both have defaults */
    if (rc == HS_OK && strcmp(c->item_type, "Service") != 0 &&
        strcmp(c->item_type, "NonInventory") != 0)
        rc = hs_error_set(err, HS_EINVAL,
                          "invalid QuickBooks setting 'item_type': expected Service or "
                          "NonInventory");
    if (rc == HS_OK && home != NULL) {
        memcpy(c->opts.home_currency, home, 4);
        c->minorversion = mv;
        c->batch_max = (size_t)bm;
        c->max_concurrency = (size_t)mc;
        c->opts.income_account = c->income_account;
        c->opts.item_type = c->item_type;
        c->opts.txn_tax_code = c->txn_tax_code;
        c->opts.app_url = c->app_url;
    }
    hs_free(home);
    if (rc != HS_OK) {
        if (rc == HS_ENOMEM)
            hs_error_set(err, HS_ENOMEM, "out of memory");
        qb_close(c);
        return rc;
    }
    *out = c;
    return HS_OK;
}

static unsigned qb_kinds(const struct hs_connector *c)
{
    (void)c;
    return (1u << HS_KIND_CUSTOMER) | (1u << HS_KIND_ITEM) | (1u << HS_KIND_INVOICE) |
           (1u << HS_KIND_PAYMENT);
}

static void qb_limits(const struct hs_connector *c, enum hs_kind kind,
                      struct hs_connector_limits *out)
{
    (void)kind;
    memset(out, 0, sizeof *out);
    out->read_batch = HS_QUICKBOOKS_READ_MAX;
    out->write_batch = c->batch_max;
    out->max_concurrency = c->max_concurrency;
    out->windows[0] = (struct hs_rate_window){"all", 500, 60000};
    out->windows[1] = (struct hs_rate_window){"all", 10, 1000};
    out->windows[2] = (struct hs_rate_window){"batch", 40, 60000};
    out->n_windows = 3;
    hs_conn_rate_limits_apply(out, c->windows, c->n_windows);
}

/* ---- changes -------------------------------------------------------------------------- */

static bool name_list(enum hs_kind kind)
{
    return kind == HS_KIND_CUSTOMER || kind == HS_KIND_ITEM;
}

/* Appends the page's objects as changes. */
static int add_changes(const struct hs_quickbooks_page *p, struct hs_changes *out)
{
    if (p->n_items == 0)
        return HS_OK;
    out->items = hs_calloc(p->n_items, sizeof *out->items);
    if (out->items == NULL)
        return HS_ENOMEM;
    for (size_t i = 0; i < p->n_items; i++) {
        out->items[i].id = hs_strdup(p->items[i].id);
        if (out->items[i].id == NULL)
            return HS_ENOMEM;
        out->items[i].updated_at = p->items[i].updated_at;
        out->items[i].deleted = p->items[i].deleted;
        out->n_items++;
    }
    return HS_OK;
}

static int set_cursor(struct hs_changes *out, const struct hs_quickbooks_cursor *cur)
{
    hs_free(out->cursor);
    out->cursor = hs_quickbooks_cursor_format(cur);
    return out->cursor != NULL ? HS_OK : HS_ENOMEM;
}

/* Copies QuickBooks time text into a cursor's since (it always fits: checked by the parser). */
static void set_since(struct hs_quickbooks_cursor *cur, const char *t)
{
    snprintf(cur->since, sizeof cur->since, "%s", t != NULL ? t : "");
}

static int changes_scan(struct hs_connector *c, enum hs_kind kind, struct hs_quickbooks_cursor *cur,
                        struct hs_changes *out, struct hs_error *err)
{
    const char *entity = hs_quickbooks_entity(kind);
    char *text = hs_asprintf(
        "select * from %s%s%s%s%s%s orderby MetaData.LastUpdatedTime startposition %lld "
        "maxresults %d",
        entity, cur->since[0] != '\0' || name_list(kind) ? " where " : "",
        cur->since[0] != '\0' ? "MetaData.LastUpdatedTime >= '" : "", cur->since,
        cur->since[0] != '\0' ? "'" : "",
        name_list(kind)
            ? (cur->since[0] != '\0' ? " and Active in (true, false)" : "Active in (true, false)")
            : "",
        (long long)cur->pos, HS_QUICKBOOKS_READ_MAX);
    if (text == NULL)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    struct hs_buf body;
    hs_buf_init(&body);
    struct hs_quickbooks_page page;
    memset(&page, 0, sizeof page);
    int rc = hs_quickbooks_query(c, text, &body, err);
    hs_free(text);
    if (rc == HS_OK)
        rc = hs_quickbooks_parse_list((const uint8_t *)body.data, body.len, kind, false, false,
                                      &c->opts, &page, err);
    if (rc == HS_OK)
        rc = add_changes(&page, out);
    if (rc == HS_OK && page.n_items >= HS_QUICKBOOKS_READ_MAX) {
        /* full page: continue after the newest time seen, skipping its ties already read */
        const struct hs_quickbooks_obj *last = &page.items[page.n_items - 1];
        int64_t since_ms = INT64_MIN;
        if (cur->since[0] != '\0' &&
            hs_quickbooks_time_parse(cur->since, strlen(cur->since), &since_ms) != HS_OK)
            since_ms = INT64_MIN;
        if (last->updated_text == NULL || strlen(last->updated_text) >= sizeof cur->since ||
            last->updated_at == since_ms) {
            cur->pos += (int64_t)page.n_items;
        } else {
            int64_t ties = 0;
            for (size_t i = 0; i < page.n_items; i++)
                ties += page.items[i].updated_at == last->updated_at;
            set_since(cur, last->updated_text);
            cur->pos = 1 + ties;
        }
        out->more = true;
        rc = set_cursor(out, cur);
    } else if (rc == HS_OK) {
        if (page.time == NULL || strlen(page.time) >= sizeof cur->since) {
            rc = hs_error_set(err, HS_EPROTO, "QuickBooks query answer has no 'time'");
        } else {
            struct hs_quickbooks_cursor next = {false, "", 0};
            set_since(&next, page.time);
            rc = set_cursor(out, &next);
        }
    }
    hs_quickbooks_page_release(&page);
    hs_buf_release(&body);
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "out of memory");
    return rc;
}

static int changes_cdc(struct hs_connector *c, enum hs_kind kind, struct hs_quickbooks_cursor *cur,
                       struct hs_changes *out, struct hs_error *err)
{
    char *since = hs_str_url_encode(cur->since);
    char *rel = since != NULL ? hs_asprintf("cdc?entities=%s&changedSince=%s",
                                            hs_quickbooks_entity(kind), since)
                              : NULL;
    hs_free(since);
    if (rel == NULL)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    struct hs_buf body;
    hs_buf_init(&body);
    char code[16];
    struct hs_quickbooks_page page;
    memset(&page, 0, sizeof page);
    int rc = hs_quickbooks_client_call(c, "GET", "all", rel, NULL, NULL, 0, &body, code, err);
    hs_free(rel);
    if (rc == HS_EINVAL && strcmp(code, "2010") == 0 && body.data != NULL &&
        strstr(body.data, "older than") != NULL) {
        /* QuickBooks' clock says the window is gone: re-scan with a query */
        hs_buf_release(&body);
        hs_error_clear(err);
        cur->scan = true;
        cur->pos = 1;
        return changes_scan(c, kind, cur, out, err);
    }
    if (rc == HS_OK)
        rc = hs_quickbooks_parse_list((const uint8_t *)body.data, body.len, kind, true, false,
                                      &c->opts, &page, err);
    if (rc == HS_OK)
        rc = add_changes(&page, out);
    if (rc == HS_OK && page.n_items >= HS_QUICKBOOKS_READ_MAX) {
        /* the answer was cut at 1,000: narrow the window to start at the newest object */
        int64_t since_ms = 0;
        if (hs_quickbooks_time_parse(cur->since, strlen(cur->since), &since_ms) != HS_OK)
            since_ms = INT64_MIN;
        const struct hs_quickbooks_obj *newest = NULL;
        const struct hs_quickbooks_obj *oldest = NULL;
        for (size_t i = 0; i < page.n_items; i++) {
            if (page.items[i].updated_text == NULL)
                continue;
            if (newest == NULL || page.items[i].updated_at > newest->updated_at)
                newest = &page.items[i];
            if (oldest == NULL || page.items[i].updated_at < oldest->updated_at)
                oldest = &page.items[i];
        }
        bool fits = newest != NULL && strlen(newest->updated_text) < sizeof cur->since;
        if (fits && newest->updated_at > since_ms && oldest->updated_at < newest->updated_at) {
            set_since(cur, newest->updated_text);
        } else {
            /* 1,000 changes in one instant: CDC cannot page them, a query can */
            if (fits)
                set_since(cur, newest->updated_text);
            cur->scan = true;
            cur->pos = 1;
        }
        out->more = true;
        rc = set_cursor(out, cur);
    } else if (rc == HS_OK) {
        struct hs_quickbooks_cursor next = *cur;
        if (page.time != NULL && strlen(page.time) < sizeof next.since)
            set_since(&next, page.time);
        rc = set_cursor(out, &next);
    }
    hs_quickbooks_page_release(&page);
    hs_buf_release(&body);
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "out of memory");
    return rc;
}

static int qb_changes(struct hs_connector *c, enum hs_kind kind, const char *cursor,
                      struct hs_changes *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    if (hs_quickbooks_entity(kind) == NULL)
        return hs_error_set(err, HS_EINVAL, "QuickBooks does not carry %s records",
                            hs_kind_name(kind) != NULL ? hs_kind_name(kind) : "these");
    struct hs_quickbooks_cursor cur = {true, "", 1};
    if (cursor != NULL) {
        int rc = hs_quickbooks_cursor_parse(cursor, strlen(cursor), &cur, err);
        if (rc != HS_OK)
            return rc;
    }
    if (!cur.scan) {
        int64_t since_ms = 0;
        int64_t now = hs_env_now_ms(c->cfg.env);
        if (hs_quickbooks_time_parse(cur.since, strlen(cur.since), &since_ms) == HS_OK &&
            since_ms < now - CDC_WINDOW_MS) {
            cur.scan = true;
            cur.pos = 1;
        }
    }
    int rc =
        cur.scan ? changes_scan(c, kind, &cur, out, err) : changes_cdc(c, kind, &cur, out, err);
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
              *p == '-' || *p == '_'))
            return false;
    return true;
}

static int qb_read(struct hs_connector *c, enum hs_kind kind, const char *const *ids, size_t n,
                   struct hs_record **out, struct hs_error *err)
{
    const char *entity = hs_quickbooks_entity(kind);
    if (entity == NULL)
        return hs_error_set(err, HS_EINVAL, "QuickBooks does not carry %s records",
                            hs_kind_name(kind) != NULL ? hs_kind_name(kind) : "these");
    if (n > HS_QUICKBOOKS_READ_MAX)
        return hs_error_set(err, HS_ETOOBIG,
                            "cannot read %zu QuickBooks records at once: at most "
                            "%d",
                            n, HS_QUICKBOOKS_READ_MAX);
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    if (n == 0)
        return HS_OK;
    struct hs_buf q;
    hs_buf_init(&q);
    int rc = hs_buf_printf(&q, "select * from %s where Id in (", entity);
    for (size_t i = 0; rc == HS_OK && i < n; i++) {
        if (!safe_id(ids[i])) {
            hs_buf_release(&q);
            return hs_error_set(err, HS_EINVAL, "invalid QuickBooks id '%.40s'",
                                ids[i] != NULL ? ids[i] : "(null)");
        }
        rc = hs_buf_printf(&q, "%s'%s'", i > 0 ? ", " : "", ids[i]);
    }
    if (rc == HS_OK)
        rc = hs_buf_printf(&q, ")%s maxresults %d",
                           name_list(kind) ? " and Active in (true, false)" : "",
                           HS_QUICKBOOKS_READ_MAX);
    if (rc != HS_OK) {
        hs_buf_release(&q);
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    }
    struct hs_buf body;
    hs_buf_init(&body);
    struct hs_quickbooks_page page;
    memset(&page, 0, sizeof page);
    rc = hs_quickbooks_query(c, q.data, &body, err);
    hs_buf_release(&q);
    if (rc == HS_OK)
        rc = hs_quickbooks_parse_list((const uint8_t *)body.data, body.len, kind, false, true,
                                      &c->opts, &page, err);
    for (size_t i = 0; rc == HS_OK && i < n; i++) {
        for (size_t k = 0; k < page.n_items; k++) {
            if (page.items[k].rec == NULL || strcmp(page.items[k].id, ids[i]) != 0)
                continue;
            rc = hs_record_clone(page.items[k].rec, &out[i]);
            break;
        }
    }
    hs_quickbooks_page_release(&page);
    hs_buf_release(&body);
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

/* ---- webhook -------------------------------------------------------------------------- */

static int qb_webhook(struct hs_connector *c, const struct hs_http_request *req, const char *secret,
                      struct hs_changes *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    const char *sig = hs_http_headers_get(&req->headers, "intuit-signature");
    if (secret == NULL || *secret == '\0')
        return hs_error_set(err, HS_EAUTH, "QuickBooks webhook: no verifier token configured");
    if (sig == NULL)
        return hs_error_set(err, HS_EAUTH, "QuickBooks webhook: missing intuit-signature header");
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
        return hs_error_set(err, HS_EAUTH, "QuickBooks webhook: signature does not match");
    return hs_quickbooks_parse_webhook((const uint8_t *)req->body.data, req->body.len,
                                       c->cfg.tenant, out, err);
}

/* DisplayName: 500 characters, no ':', tab or newline, unique among customers (6240). */
static const struct hs_validate_limit *qb_field_limits(const struct hs_connector *c,
                                                       enum hs_kind kind, size_t *n_out)
{
    (void)c;
    *n_out = 0;
    if (kind != HS_KIND_CUSTOMER)
        return NULL;
    return hs_validate_quickbooks_customer_limits(n_out);
}

const struct hs_connector_ops hs_connector_quickbooks_ops = {
    .provider = "quickbooks",
    .label = "QuickBooks",
    .side = HS_SIDE_ACCOUNTING,
    .open = qb_open,
    .close = qb_close,
    .kinds = qb_kinds,
    .limits = qb_limits,
    .changes = qb_changes,
    .read = qb_read,
    .write = hs_quickbooks_write,
    .webhook = qb_webhook,
    .setup = NULL,
    .field_limits = qb_field_limits,
    .describe_fields = hs_quickbooks_describe_fields,
};
