/*
 * connectors/zohobooks/zohobooks.c - the Zoho Books API v3 as a connector (the ops table).
 *
 * Design:     contacts (customers), items, invoices and customer payments of one
 *             organization (cfg->tenant, sent as organization_id on every call).
 *             changes(): a scan of GET /<entity>?sort_column=last_modified_time&sort_order=D,
 *             200 a page, from the newest record down to the cursor's second (invoices also
 *             filter last_modified_time=<since>, which Zoho has for invoices and credit notes
 *             only; contacts, items and payments ignore it, so they are scanned by the sort
 *             alone). The scan stops at the first record older than that second or at the
 *             last page; the next scan starts at the newest second met, and the cursor carries
 *             the versions (id and last_modified_time) already reported at that second, so
 *             a change is never lost at equal times and an unchanged record is not reported
 *             twice (zohobooks_int.h hs_zoho_conn_cursor_step). A record that changes during
 *             a scan moves to the top of the sort, which the next scan reads. Residue: a record
 *             written twice in the same second, with our scan reading between the two,
 *             keeps its first version until it changes again (Zoho's times have seconds).
 *             read(): one GET /<entity>/{id} each (Zoho's lists leave out contact persons and
 *             line items); a 404 is a record gone (NULL).
 *             write(): Zoho has no batch endpoint, so one record per call (write_batch 1). A
 *             create with an idem_key is an upsert (PUT /<entity> with
 *             X-Unique-Identifier-Key = the setting unique_field, X-Unique-Identifier-Value =
 *             the idem_key, X-Upsert: true): a create whose answer was lost lands on the same
 *             record when sent again. Payments have no upsert: POST. Updates PUT
 *             /<entity>/{id} with the changed fields (a customer's person goes first, on its
 *             own: PUT /contacts/contactpersons/{id}, so the contact's other persons stay;
 *             write_person); an update of fields Zoho does not carry
 *             sends nothing and its result is the record read back, never an echo. A refused
 *             record (Zoho's {"code","message"}) gets its own status and Zoho's message; the
 *             call fails only for what is not the record's fault (token, limits after
 *             retries, 5xx). New invoices are drafts in Zoho: unless the setting invoice_status
 *             is "draft", or the record is a draft, they are marked sent (POST
 *             /invoices/{id}/status/sent; the result is the created invoice, open, not read
 *             again). An invoice whose currency is not its contact's is refused before the
 *             call (Zoho bills a contact only in its own currency; check_invoice_currency).
 *             webhook(): Zoho Books signs nothing; the workflow rule sends a shared secret in a
 *             custom header (X-Zoho-Webhook-Token), compared in constant time.
 *             Settings (JSON object, all optional): base_currency ("USD"), unique_field
 *             ("cf_hoopsync_id"), invoice_status ("sent" or "draft"), payment_mode (none:
 *             Zoho's default), app_url ("https://books.zoho.com"), max_concurrency (5),
 *             rate_limits (replaces the windows: 100 a minute and 10,000 a day per
 *             organization; connectors/common/limits.h).
 * Threads:    a handle is used by one thread at a time; the limiter is shared (thread-safe).
 * Ownership:  the handle copies the settings it keeps; cfg pointers are borrowed.
 * Not here:   JSON (zohobooks_parse.c), HTTP (zohobooks_client.c, connectors/common).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "connectors/common/limits.h"
#include "connectors/common/settings.h"
#include "connectors/zohobooks/zohobooks.h"
#include "connectors/zohobooks/zohobooks_int.h"
#include "core/currency.h"
#include "core/validate.h"
#include "util/alloc.h"
#include "util/jsonnum.h"
#include "util/str.h"

#define MAX_CONCURRENCY_DEFAULT 5

/* ---- open / close --------------------------------------------------------------------- */

static bool digits_only(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* An api_name as Zoho makes them: "cf_" then letters, digits and '_'. */
static bool field_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 4 || n > 64 || strncmp(s, "cf_", 3) != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

static void zoho_close(struct hs_connector *c)
{
    if (c == NULL)
        return;
    hs_free(c->app_url);
    hs_free(c->unique_field);
    hs_free(c->payment_mode);
    json_decref(c->currencies);
    hs_free(c);
}

static int zoho_open(const struct hs_connector_config *cfg, struct hs_connector **out,
                     struct hs_error *err)
{
    *out = NULL;
    if (cfg == NULL || cfg->base_url == NULL || cfg->tenant == NULL || cfg->http == NULL ||
        cfg->env == NULL)
        return hs_error_set(err, HS_EINVAL,
                            "cannot open Zoho Books connection: base URL, organization id, "
                            "HTTP transport and env are required");
    if (!digits_only(cfg->tenant, 32))
        return hs_error_set(err, HS_EINVAL,
                            "cannot open Zoho Books connection: organization id '%.40s' is not "
                            "a Zoho organization_id (digits, from GET /organizations)",
                            cfg->tenant);
    const json_t *s = cfg->settings;
    if (s != NULL && !json_is_object(s))
        return hs_error_set(err, HS_EINVAL, "invalid Zoho Books settings: expected an object");
    struct hs_connector *c = hs_calloc(1, sizeof *c);
    if (c == NULL)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    c->cfg = *cfg;
    if (c->cfg.name == NULL)
        c->cfg.name = "accounting";
    long mc = 0;
    char *base = NULL;
    char *status = NULL;
    int rc = hs_conn_setting_int(s, "Zoho Books", "max_concurrency", MAX_CONCURRENCY_DEFAULT, 1,
                                 100, &mc, err);
    if (rc == HS_OK)
        rc = hs_conn_rate_limits_parse(s, c->windows, &c->n_windows, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_str(s, "Zoho Books", "app_url", "https://books.zoho.com", &c->app_url,
                                 err);
    if (rc == HS_OK)
        rc = hs_conn_setting_str(s, "Zoho Books", "unique_field", "cf_hoopsync_id",
                                 &c->unique_field, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_str(s, "Zoho Books", "payment_mode", NULL, &c->payment_mode, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_str(s, "Zoho Books", "invoice_status", "sent", &status, err);
    if (rc == HS_OK)
        rc = hs_conn_setting_str(s, "Zoho Books", "base_currency", "USD", &base, err);
    if (rc == HS_OK && (base == NULL || strlen(base) != 3 || hs_currency_find(base) == NULL))
        rc = hs_error_set(err, HS_EINVAL,
                          "invalid Zoho Books setting 'base_currency': '%.8s' is not an ISO 4217 "
                          "code",
                          base != NULL ? base : "");
    if (rc == HS_OK && (c->unique_field == NULL || !field_name_ok(c->unique_field)))
        rc = hs_error_set(err, HS_EINVAL,
                          "invalid Zoho Books setting 'unique_field': '%.40s' is not a custom "
                          "field's api_name (cf_...)",
                          c->unique_field != NULL ? c->unique_field : "");
    if (rc == HS_OK &&
        (status == NULL || (strcmp(status, "sent") != 0 && strcmp(status, "draft") != 0)))
        rc = hs_error_set(err, HS_EINVAL,
                          "invalid Zoho Books setting 'invoice_status': expected sent or draft");
    if (rc == HS_OK && base != NULL && status != NULL) {
        memcpy(c->opts.base_currency, base, 4);
        c->max_concurrency = (size_t)mc;
        c->mark_sent = strcmp(status, "sent") == 0;
        c->opts.app_url = c->app_url;
        c->opts.unique_field = c->unique_field;
        c->opts.payment_mode = c->payment_mode;
        c->opts.organization = c->cfg.tenant;
    }
    hs_free(base);
    hs_free(status);
    if (rc != HS_OK) {
        zoho_close(c);
        return rc;
    }
    *out = c;
    return HS_OK;
}

static unsigned zoho_kinds(const struct hs_connector *c)
{
    (void)c;
    return (1u << HS_KIND_CUSTOMER) | (1u << HS_KIND_ITEM) | (1u << HS_KIND_INVOICE) |
           (1u << HS_KIND_PAYMENT);
}

static void zoho_limits(const struct hs_connector *c, enum hs_kind kind,
                        struct hs_connector_limits *out)
{
    (void)kind;
    memset(out, 0, sizeof *out);
    out->read_batch = HS_ZOHO_READ_MAX;
    out->write_batch = 1; /* no batch endpoint */
    out->max_concurrency = c->max_concurrency;
    out->windows[0] = (struct hs_rate_window){"all", 100, 60000};
    out->windows[1] = (struct hs_rate_window){"day", 10000, 86400000};
    out->n_windows = 2;
    hs_conn_rate_limits_apply(out, c->windows, c->n_windows);
}

static int unsupported(enum hs_kind kind, struct hs_error *err)
{
    return hs_error_set(err, HS_EINVAL, "Zoho Books does not carry %s records",
                        hs_kind_name(kind) != NULL ? hs_kind_name(kind) : "these");
}

/* ---- changes -------------------------------------------------------------------------- */

static int zoho_changes(struct hs_connector *c, enum hs_kind kind, const char *cursor,
                        struct hs_changes *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    const char *entity = hs_zoho_conn_entity(kind);
    if (entity == NULL)
        return unsupported(kind, err);
    /* two cursors of 2 KB each: on the heap */
    struct hs_zoho_cursor *cur = hs_calloc(2, sizeof *cur);
    if (cur == NULL)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    struct hs_zoho_cursor *next = &cur[1];
    cur->page = 1;
    if (cursor != NULL) {
        int rc = hs_zoho_conn_cursor_parse(cursor, strlen(cursor), cur, err);
        if (rc != HS_OK) {
            hs_free(cur);
            return rc;
        }
    }
    char rel[192];
    int n = snprintf(rel, sizeof rel,
                     "%s?page=%lld&per_page=%d&sort_column=last_modified_time&sort_order=D", entity,
                     (long long)cur->page, HS_ZOHO_PAGE_SIZE);
    if (kind == HS_KIND_INVOICE && cur->since_ms > 0 && n > 0 && (size_t)n < sizeof rel) {
        char t[32];
        hs_zoho_conn_time_format(cur->since_ms, t);
        t[19] = '\0'; /* "+0000" goes URL-encoded */
        snprintf(rel + n, sizeof rel - (size_t)n, "&last_modified_time=%s%%2B0000", t);
    }
    struct hs_buf body;
    hs_buf_init(&body);
    struct hs_zoho_page page;
    memset(&page, 0, sizeof page);
    size_t *picked = NULL;
    size_t n_picked = 0;
    int rc = hs_zoho_conn_call(c, "GET", rel, &body, err);
    if (rc == HS_OK)
        rc = hs_zoho_conn_parse_list((const uint8_t *)body.data, body.len, kind, false, &c->opts,
                                     &page, err);
    if (rc == HS_OK && page.n_items > 0) {
        picked = hs_calloc(page.n_items, sizeof *picked);
        out->items = hs_calloc(page.n_items, sizeof *out->items);
        if (picked == NULL || out->items == NULL)
            rc = HS_ENOMEM;
    }
    if (rc == HS_OK)
        hs_zoho_conn_cursor_step(cur, &page, picked, &n_picked, next, &out->more);
    for (size_t i = 0; rc == HS_OK && picked != NULL && out->items != NULL && i < n_picked; i++) {
        const struct hs_zoho_obj *o = &page.items[picked[i]];
        struct hs_change *ch = &out->items[out->n_items];
        ch->kind = kind;
        ch->id = hs_strdup(o->id);
        if (ch->id == NULL) {
            rc = HS_ENOMEM;
            break;
        }
        ch->updated_at = o->updated_at;
        out->n_items++;
    }
    if (rc == HS_OK && (out->cursor = hs_zoho_conn_cursor_format(next)) == NULL)
        rc = HS_ENOMEM;
    hs_free(picked);
    hs_zoho_conn_page_release(&page);
    hs_buf_release(&body);
    hs_free(cur);
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "out of memory");
    if (rc != HS_OK)
        hs_changes_release(out);
    return rc;
}

/* ---- read ----------------------------------------------------------------------------- */

/* Remembers the currency of a contact the handle read or wrote (for invoice creates). Out of
 * memory only costs a later read. */
static void remember_currency(struct hs_connector *c, const struct hs_record *r)
{
    if (r == NULL || r->kind != HS_KIND_CUSTOMER || r->id == NULL ||
        r->customer.currency[0] == '\0')
        return;
    if (c->currencies == NULL)
        c->currencies = json_object();
    if (c->currencies != NULL)
        (void)json_object_set_new(c->currencies, r->id, json_string(r->customer.currency));
}

static int read_one(struct hs_connector *c, enum hs_kind kind, const char *id,
                    struct hs_record **out, struct hs_error *err);

/*
 * Zoho Books bills a contact only in the contact's own currency (an invoice takes it whatever
 * it asks for). Before an invoice is created, its currency is checked against the contact's
 * (remembered, else read: one GET per contact the handle has not seen); a mismatch refuses the
 * record with a sentence saying why, instead of booking the amounts in the wrong currency.
 * HS_OK with w->status set on a refusal; the read's error otherwise.
 */
static int check_invoice_currency(struct hs_connector *c, struct hs_write *w, struct hs_error *err)
{
    const struct hs_invoice *inv = &w->record->invoice;
    const char *cust = inv->customer_ref;
    if (w->op != HS_WRITE_CREATE || inv->currency[0] == '\0' || cust == NULL ||
        !digits_only(cust, 32))
        return HS_OK;
    const char *have = json_string_value(json_object_get(c->currencies, cust));
    if (have == NULL) {
        struct hs_record *contact = NULL;
        int rc = read_one(c, HS_KIND_CUSTOMER, cust, &contact, err);
        hs_record_free(contact); /* read_one remembered its currency */
        if (rc != HS_OK)
            return rc;
        have = json_string_value(json_object_get(c->currencies, cust));
    }
    if (have != NULL && strcmp(have, inv->currency) != 0) {
        w->status = HS_EINVAL;
        snprintf(w->msg, sizeof w->msg,
                 "cannot invoice Zoho Books contact '%s' in %s: Zoho Books bills a contact only in "
                 "its own currency, %s (use a %s contact for this customer, or invoice in %s)",
                 cust, inv->currency, have, inv->currency, have);
    }
    return HS_OK;
}

static int read_one(struct hs_connector *c, enum hs_kind kind, const char *id,
                    struct hs_record **out, struct hs_error *err)
{
    char rel[128];
    snprintf(rel, sizeof rel, "%s/%s", hs_zoho_conn_entity(kind), id);
    struct hs_buf body;
    hs_buf_init(&body);
    int rc = hs_zoho_conn_call(c, "GET", rel, &body, err);
    if (rc == HS_ENOTFOUND) {
        hs_error_clear(err);
        rc = HS_OK; /* gone: NULL */
    } else if (rc == HS_OK) {
        rc = hs_zoho_conn_parse_one((const uint8_t *)body.data, body.len, kind, &c->opts, out, err);
        if (rc == HS_OK)
            remember_currency(c, *out);
    }
    hs_buf_release(&body);
    return rc;
}

static int zoho_read(struct hs_connector *c, enum hs_kind kind, const char *const *ids, size_t n,
                     struct hs_record **out, struct hs_error *err)
{
    if (hs_zoho_conn_entity(kind) == NULL)
        return unsupported(kind, err);
    if (n > HS_ZOHO_READ_MAX)
        return hs_error_set(err, HS_ETOOBIG,
                            "cannot read %zu Zoho Books records at once: at most %d", n,
                            HS_ZOHO_READ_MAX);
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    for (size_t i = 0; i < n; i++)
        if (ids[i] == NULL || !digits_only(ids[i], 32))
            return hs_error_set(err, HS_EINVAL, "invalid Zoho Books id '%.40s'",
                                ids[i] != NULL ? ids[i] : "(null)");
    int rc = HS_OK;
    for (size_t i = 0; rc == HS_OK && i < n; i++)
        rc = read_one(c, kind, ids[i], &out[i], err);
    if (rc != HS_OK)
        for (size_t i = 0; i < n; i++) {
            hs_record_free(out[i]);
            out[i] = NULL;
        }
    return rc;
}

/* ---- write ---------------------------------------------------------------------------- */

/* True when a refused answer is the record's fault (its own status), not the call's. */
static bool record_fault(int status)
{
    return status >= 400 && status < 500 && status != 401 && status != 403 && status != 429;
}

/* A new invoice that should not stay a draft: mark it sent. The mark changes only the status
 * (Zoho answers with a message, not the invoice), so the result is the created invoice, open;
 * no read back: Zoho's day limit is counted in calls. */
static int mark_sent(struct hs_connector *c, struct hs_write *w, struct hs_error *err)
{
    const struct hs_record *res = w->result;
    if (!c->mark_sent || w->record->invoice.status == HS_INVOICE_DRAFT || res == NULL ||
        res->invoice.status != HS_INVOICE_DRAFT || res->id == NULL)
        return HS_OK;
    char rel[128];
    snprintf(rel, sizeof rel, "invoices/%s/status/sent", res->id);
    struct hs_buf body;
    hs_buf_init(&body);
    int rc = hs_zoho_conn_call(c, "POST", rel, &body, err);
    hs_buf_release(&body);
    if (rc == HS_OK)
        w->result->invoice.status = HS_INVOICE_OPEN;
    return rc;
}

/*
 * The person part of a customer update (hs_zoho_conn_build_person): PUT
 * /contacts/contactpersons/{id} for the contact's person, or POST /contacts/contactpersons
 * when it has none; only that person changes. *sent says whether a call went out. A refusal
 * is the record's status (w->status, Zoho's message); HS_OK otherwise, or the call's error.
 */
static int write_person(struct hs_connector *c, struct hs_write *w, bool *sent,
                        struct hs_error *err)
{
    *sent = false;
    json_t *p = NULL;
    const char *pid = NULL;
    int rc = hs_zoho_conn_build_person(w, &p, &pid, err);
    if (rc != HS_OK || p == NULL)
        return rc;
    if (pid != NULL && !digits_only(pid, 32)) {
        json_decref(p);
        return hs_error_set(err, HS_EPROTO, "invalid Zoho Books contact person id '%.40s'", pid);
    }
    char rel[128];
    snprintf(rel, sizeof rel, "contacts/contactpersons%s%s", pid != NULL ? "/" : "",
             pid != NULL ? pid : "");
    struct hs_buf body;
    struct hs_buf answer;
    hs_buf_init(&body);
    hs_buf_init(&answer);
    rc = hs_json_dump_exact(p, &body);
    json_decref(p);
    int status = 0;
    struct hs_error cerr;
    hs_error_clear(&cerr);
    if (rc == HS_OK)
        rc = hs_zoho_conn_send(c, pid != NULL ? "PUT" : "POST", rel, NULL, body.data, body.len,
                               &status, &answer, &cerr);
    if (rc == HS_OK && status >= 200 && status <= 299) {
        *sent = true;
    } else if (rc == HS_OK && record_fault(status)) {
        int code = -1;
        char text[HS_ERRMSG_MAX];
        if (!hs_zoho_conn_parse_error((const uint8_t *)answer.data, answer.len, &code, text,
                                      sizeof text))
            snprintf(text, sizeof text, "Zoho Books refused the contact person (HTTP %d)", status);
        w->status = hs_zoho_conn_write_status(status, code);
        snprintf(w->msg, sizeof w->msg, "%s", text);
    } else if (rc == HS_OK) {
        rc = cerr.code != HS_OK ? cerr.code : hs_zoho_conn_write_status(status, -1);
        if (err != NULL)
            *err = cerr;
    } else if (err != NULL && rc != HS_ENOMEM) {
        *err = cerr;
    }
    hs_buf_release(&body);
    hs_buf_release(&answer);
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "out of memory");
    return rc;
}

static int write_one(struct hs_connector *c, enum hs_kind kind, struct hs_write *w,
                     struct hs_error *err)
{
    w->status = HS_OK;
    w->msg[0] = '\0';
    hs_record_free(w->result);
    w->result = NULL;
    json_t *el = NULL;
    struct hs_error berr;
    hs_error_clear(&berr);
    if (kind == HS_KIND_INVOICE) {
        int crc = check_invoice_currency(c, w, err);
        if (crc != HS_OK || w->status != HS_OK)
            return crc;
    }
    int rc = hs_zoho_conn_build(kind, w, &c->opts, &el, &berr);
    if (rc == HS_ENOMEM)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    if (rc != HS_OK) {
        w->status = rc;
        snprintf(w->msg, sizeof w->msg, "%s", berr.msg);
        return HS_OK;
    }
    if (kind == HS_KIND_CUSTOMER && w->op != HS_WRITE_CREATE) {
        /* the person first, on its own (the contact's other persons stay); then the contact's
         * own fields, whose answer is the result, or else the contact read back */
        bool sent = false;
        rc = write_person(c, w, &sent, err);
        if (rc != HS_OK || w->status != HS_OK) {
            json_decref(el);
            return rc;
        }
    }
    if (el == NULL && (w->op == HS_WRITE_CREATE || w->record->id == NULL))
        return hs_record_clone(w->record, &w->result);
    if (el == NULL) {
        /* nothing Zoho stores changes (fields it does not carry): the result is the record as
         * Zoho holds it, read (connector.h), never an echo of what was asked, or the fields
         * Zoho dropped would enter the base and come back as "removed" on the next read */
        char id[72];
        snprintf(id, sizeof id, "%s", w->record->id);
        rc = read_one(c, kind, id, &w->result, err);
        if (rc == HS_OK && w->result == NULL) {
            w->status = HS_ENOTFOUND;
            snprintf(w->msg, sizeof w->msg, "Zoho Books record '%s' does not exist", id);
        }
        return rc;
    }
    struct hs_buf body;
    struct hs_buf answer;
    hs_buf_init(&body);
    hs_buf_init(&answer);
    rc = hs_json_dump_exact(el, &body);
    json_decref(el);
    const char *entity = hs_zoho_conn_entity(kind);
    char rel[128];
    const char *method = "POST";
    struct hs_zoho_upsert up = {c->unique_field, w->idem_key};
    const struct hs_zoho_upsert *upsert = NULL;
    if (w->op != HS_WRITE_CREATE) {
        method = "PUT";
        snprintf(rel, sizeof rel, "%s/%s", entity, w->record->id);
    } else {
        snprintf(rel, sizeof rel, "%s", entity);
        if (kind != HS_KIND_PAYMENT && w->idem_key != NULL && w->idem_key[0] != '\0') {
            method = "PUT";
            upsert = &up;
        }
    }
    int status = 0;
    struct hs_error cerr;
    hs_error_clear(&cerr);
    if (rc == HS_OK)
        rc =
            hs_zoho_conn_send(c, method, rel, upsert, body.data, body.len, &status, &answer, &cerr);
    if (rc != HS_OK) {
        if (err != NULL && rc != HS_ENOMEM)
            *err = cerr;
    } else if (status >= 200 && status <= 299) {
        struct hs_error perr;
        hs_error_clear(&perr);
        int prc = hs_zoho_conn_parse_one((const uint8_t *)answer.data, answer.len, kind, &c->opts,
                                         &w->result, &perr);
        if (prc == HS_ENOMEM) {
            rc = HS_ENOMEM;
        } else if (prc != HS_OK) {
            w->status = prc;
            snprintf(w->msg, sizeof w->msg, "%s", perr.msg);
        } else if (kind == HS_KIND_INVOICE && w->op == HS_WRITE_CREATE) {
            rc = mark_sent(c, w, err);
        } else {
            remember_currency(c, w->result);
        }
    } else if (record_fault(status)) {
        int code = -1;
        char text[HS_ERRMSG_MAX];
        if (!hs_zoho_conn_parse_error((const uint8_t *)answer.data, answer.len, &code, text,
                                      sizeof text))
            snprintf(text, sizeof text, "Zoho Books refused the record (HTTP %d)", status);
        w->status = hs_zoho_conn_write_status(status, code);
        snprintf(w->msg, sizeof w->msg, "%s", text);
    } else {
        rc = cerr.code != HS_OK ? cerr.code : hs_zoho_conn_write_status(status, -1);
        if (err != NULL)
            *err = cerr;
    }
    hs_buf_release(&body);
    hs_buf_release(&answer);
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "out of memory");
    return rc;
}

static int zoho_write(struct hs_connector *c, enum hs_kind kind, struct hs_write *writes, size_t n,
                      struct hs_error *err)
{
    if (hs_zoho_conn_entity(kind) == NULL)
        return unsupported(kind, err);
    for (size_t i = 0; i < n; i++)
        if (writes[i].op != HS_WRITE_CREATE &&
            (writes[i].record == NULL || writes[i].record->id == NULL ||
             !digits_only(writes[i].record->id, 32)))
            return hs_error_set(err, HS_EINVAL, "invalid Zoho Books id '%.40s'",
                                writes[i].record != NULL && writes[i].record->id != NULL
                                    ? writes[i].record->id
                                    : "(null)");
    int rc = HS_OK;
    for (size_t i = 0; rc == HS_OK && i < n; i++)
        rc = write_one(c, kind, &writes[i], err);
    return rc;
}

/* ---- webhook -------------------------------------------------------------------------- */

static int zoho_webhook(struct hs_connector *c, const struct hs_http_request *req,
                        const char *secret, struct hs_changes *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    const char *tok = hs_http_headers_get(&req->headers, "x-zoho-webhook-token");
    if (secret == NULL || *secret == '\0')
        return hs_error_set(err, HS_EAUTH, "Zoho Books webhook: no webhook token configured");
    if (tok == NULL)
        return hs_error_set(err, HS_EAUTH, "Zoho Books webhook: missing X-Zoho-Webhook-Token");
    /* equal-length digests, so the comparison's time says nothing about the token */
    unsigned char want[crypto_hash_sha256_BYTES];
    unsigned char got[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(want, (const unsigned char *)secret, strlen(secret));
    crypto_hash_sha256(got, (const unsigned char *)tok, strlen(tok));
    int diff = sodium_memcmp(got, want, sizeof want);
    sodium_memzero(want, sizeof want);
    if (diff != 0)
        return hs_error_set(err, HS_EAUTH, "Zoho Books webhook: token does not match");
    const char *org = hs_http_headers_get(&req->headers, "x-zoho-organization-id");
    if (org != NULL && strcmp(org, c->cfg.tenant) != 0)
        return HS_OK; /* another organization's change: nothing for this connection */
    return hs_zoho_conn_parse_webhook((const uint8_t *)req->body.data, req->body.len, out, err);
}

/* contact_name 200 characters, required, unique ignoring case; item name required
 * (docs/sandbox-zoho.md). */
static const struct hs_validate_limit customer_limits[] = {
    {"display_name", "Contact name", 200, NULL, true, true, false},
};
static const struct hs_validate_limit item_limits[] = {
    {"name", "Item name", 100, NULL, true, true, false},
};

static const struct hs_validate_limit *zoho_field_limits(const struct hs_connector *c,
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

const struct hs_connector_ops hs_connector_zohobooks_ops = {
    .provider = "zohobooks",
    .label = "Zoho Books",
    .side = HS_SIDE_ACCOUNTING,
    .open = zoho_open,
    .close = zoho_close,
    .kinds = zoho_kinds,
    .limits = zoho_limits,
    .changes = zoho_changes,
    .read = zoho_read,
    .write = zoho_write,
    .webhook = zoho_webhook,
    .setup = NULL,
    .field_limits = zoho_field_limits,
    .describe_fields = hs_zoho_conn_describe_fields,
};
