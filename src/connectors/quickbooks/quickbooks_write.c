/*
 * connectors/quickbooks/quickbooks_write.c - write(): creates and updates of one kind, as
 *                                            batches or one by one.
 *
 * Design:     1. Every write's entity body is built (hs_quickbooks_build). A record that
 *                cannot be sent fails on its own; an update that touches nothing QuickBooks
 *                stores succeeds without a request.
 *             2. Creates marked retry (an earlier attempt may have reached QuickBooks) are
 *                looked up before anything is sent: customers by DisplayName and items by
 *                Name (QuickBooks keeps both unique, so such a create could not succeed a
 *                second time anyway), invoices by the marker line "hoopsync:<idem key>" that
 *                our creates put in PrivateNote (hs_quickbooks_has_marker), among the
 *                invoices of their customers. A record found is the write's answer and is not
 *                sent again. requestid alone cannot make such a retry safe: QuickBooks replays
 *                only an identical request, and a retry goes out in whatever batch, or alone,
 *                the later pass makes.
 *             3. The rest go out. QuickBooks allows 40 batch requests but 500 requests a
 *                minute per realm, so while the realm's limiter would hold a batch longer
 *                than a single request (the batch allowance is spent), the next record goes
 *                alone: POST <entity>?requestid=<id> (an update sparse as in a batch). The
 *                choice is made again before every call; what is left when a batch can go
 *                as soon as a single one goes in one batch: POST batch?requestid=<id>, each
 *                item "bId" = its index. Without a limiter (rate limits off) everything goes
 *                in batches, the fewest calls.
 *             requestids: hs_quickbooks_request_id over what the request carries; a single
 *             request's id starts "h1-" instead of "hs-", so it never equals the id of a
 *             batch of that one record.
 * Invariants: a write's status, msg and result are set for every write when HS_OK is
 *             returned. A failed call (no answer, spent limits, authorization) returns its
 *             error; the outcomes of that call's writes are then unknown to the caller (the
 *             engine keeps their intents, and the lookup of step 2 heals them).
 * Not here:   JSON (quickbooks_parse.c), HTTP (quickbooks_client.c).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "connectors/quickbooks/quickbooks_int.h"
#include "net/ratelimit.h"
#include "util/jsonnum.h"
#include "util/alloc.h"

/* Invoices read per lookup page (QuickBooks' maximum). */
#define LOOKUP_PAGE 1000

/* ---- step 2: lookups for retried creates ---------------------------------------------------- */

/* Appends 'value' as a QuickBooks query string literal (\' and \\ escaped). */
static int put_literal(struct hs_buf *q, const char *value)
{
    int rc = hs_buf_append(q, "'", 1);
    for (const char *p = value; rc == HS_OK && *p != '\0'; p++) {
        if (*p == '\'' || *p == '\\')
            rc = hs_buf_append(q, "\\", 1);
        if (rc == HS_OK)
            rc = hs_buf_append(q, p, 1);
    }
    return rc == HS_OK ? hs_buf_append(q, "'", 1) : rc;
}

static bool is_retry(const struct hs_write *w, json_t *const *ents, size_t i)
{
    return ents[i] != NULL && w[i].op == HS_WRITE_CREATE && w[i].retry;
}

/* The value a retried create is looked up by: DisplayName, Name or CustomerRef.value. */
static const char *lookup_value(enum hs_kind kind, const json_t *ent)
{
    if (kind == HS_KIND_CUSTOMER)
        return json_string_value(json_object_get(ent, "DisplayName"));
    if (kind == HS_KIND_ITEM)
        return json_string_value(json_object_get(ent, "Name"));
    return json_string_value(json_object_get(json_object_get(ent, "CustomerRef"), "value"));
}

/* Is obj (one object of the answer) what retried write i made? */
static bool made_by(enum hs_kind kind, const json_t *obj, const struct hs_write *w,
                    const json_t *ent)
{
    const char *want = lookup_value(kind, ent);
    const char *have = lookup_value(kind, obj);
    if (want == NULL || have == NULL)
        return false;
    if (kind != HS_KIND_INVOICE) /* QuickBooks compares names without case */
        return strcasecmp(want, have) == 0;
    return strcmp(want, have) == 0 &&
           hs_quickbooks_has_marker(json_string_value(json_object_get(obj, "PrivateNote")),
                                    w->idem_key);
}

/* Matches one answer page against the retried writes still open; a match becomes the write's
 * answer and its body is dropped. Returns the objects on the page (-1: unreadable, in err;
 * -2: out of memory). */
static long match_page(struct hs_connector *c, enum hs_kind kind, const struct hs_buf *body,
                       struct hs_write *w, json_t **ents, size_t n, struct hs_error *err)
{
    json_t *root = NULL;
    if (hs_json_parse_exact((const uint8_t *)body->data, body->len, "QuickBooks query answer",
                            &root, err) != HS_OK)
        return -1;
    const json_t *arr =
        json_object_get(json_object_get(root, "QueryResponse"), hs_quickbooks_entity(kind));
    long count = json_is_array(arr) ? (long)json_array_size(arr) : 0;
    size_t k;
    const json_t *obj;
    json_array_foreach(arr, k, obj)
    {
        for (size_t i = 0; i < n; i++) {
            if (!is_retry(w, ents, i) || !made_by(kind, obj, &w[i], ents[i]))
                continue;
            struct hs_record *rec = NULL;
            struct hs_error perr;
            hs_error_clear(&perr);
            int prc = hs_quickbooks_parse_record(kind, obj, &c->opts, &rec, &perr);
            if (prc == HS_ENOMEM) {
                json_decref(root);
                return -2;
            }
            w[i].status = prc;
            snprintf(w[i].msg, sizeof w[i].msg, "%s", prc == HS_OK ? "" : perr.msg);
            w[i].result = rec;
            json_decref(ents[i]);
            ents[i] = NULL;
            break;
        }
    }
    json_decref(root);
    return count;
}

/* Step 2. HS_OK, or the failed query's error. */
static int find_retried(struct hs_connector *c, enum hs_kind kind, struct hs_write *w,
                        json_t **ents, size_t n, struct hs_error *err)
{
    if (kind != HS_KIND_CUSTOMER && kind != HS_KIND_ITEM && kind != HS_KIND_INVOICE)
        return HS_OK;
    struct hs_buf q;
    hs_buf_init(&q);
    const char *field = kind == HS_KIND_CUSTOMER ? "DisplayName"
                        : kind == HS_KIND_ITEM   ? "Name"
                                                 : "CustomerRef";
    int rc = hs_buf_printf(&q, "select * from %s where %s in (", hs_quickbooks_entity(kind), field);
    size_t n_retry = 0;
    for (size_t i = 0; rc == HS_OK && i < n; i++) {
        const char *v = is_retry(w, ents, i) ? lookup_value(kind, ents[i]) : NULL;
        if (v == NULL)
            continue;
        rc = n_retry++ > 0 ? hs_buf_append(&q, ", ", 2) : HS_OK;
        if (rc == HS_OK)
            rc = put_literal(&q, v);
    }
    if (rc == HS_OK && n_retry > 0)
        rc =
            hs_buf_printf(&q, ")%s", kind != HS_KIND_INVOICE ? " and Active in (true, false)" : "");
    if (rc != HS_OK) {
        hs_buf_release(&q);
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    }
    size_t base_len = q.len;
    struct hs_buf body;
    hs_buf_init(&body);
    /* names are unique: one page holds every match; a customer's invoices may take more */
    for (long start = 1; rc == HS_OK && n_retry > 0; start += LOOKUP_PAGE) {
        q.len = base_len;
        body.len = 0;
        rc = hs_buf_printf(&q, " startposition %ld maxresults %d", start, LOOKUP_PAGE);
        if (rc != HS_OK) {
            rc = hs_error_set(err, HS_ENOMEM, "out of memory");
            break;
        }
        rc = hs_quickbooks_query(c, q.data, &body, err);
        long got = rc == HS_OK ? match_page(c, kind, &body, w, ents, n, err) : 0;
        if (got == -2)
            rc = hs_error_set(err, HS_ENOMEM, "out of memory");
        else if (got < 0)
            rc = HS_EPROTO;
        n_retry = 0;
        for (size_t i = 0; i < n; i++)
            n_retry += is_retry(w, ents, i);
        if (got < LOOKUP_PAGE)
            break;
    }
    if (rc != HS_OK)
        hs_error_prefix(err, "cannot look up %s records a stopped sync may have created",
                        hs_quickbooks_entity(kind));
    hs_buf_release(&body);
    hs_buf_release(&q);
    return rc;
}

/* ---- step 3: sending ------------------------------------------------------------------------ */

static bool too_many_items(const char *code, const struct hs_buf *body)
{
    if (body->data == NULL)
        return false;
    return strcmp(code, "2010") == 0 &&
           (strstr(body->data, "Too many") != NULL || strstr(body->data, "too many") != NULL ||
            strstr(body->data, "maximum") != NULL);
}

/* Would the next record go sooner alone than in a batch (and may it: single_requests)? */
static bool single_sooner(struct hs_connector *c)
{
    struct hs_ratelimit *rl = c->cfg.limiter;
    return rl != NULL && !c->no_singles &&
           hs_ratelimit_wait_ms(rl, "batch") > hs_ratelimit_wait_ms(rl, "all");
}

/* The compact JSON of an entity body (caller frees), or NULL (out of memory). */
static char *dump(const json_t *ent)
{
    struct hs_buf one;
    hs_buf_init(&one);
    if (hs_json_dump_exact(ent, &one) != HS_OK) {
        hs_buf_release(&one);
        return NULL;
    }
    return hs_buf_detach(&one);
}

/* One record alone. A Fault QuickBooks answers for the record (HTTP 400, 404, 409) is the
 * write's status; any other failure is the call's. */
static int send_single(struct hs_connector *c, enum hs_kind kind, struct hs_write *w,
                       const json_t *ent, struct hs_error *err)
{
    const char *entity = hs_quickbooks_entity(kind);
    char *text = dump(ent);
    if (text == NULL)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    char rid[36];
    hs_quickbooks_request_id(c->cfg.tenant, kind, w, (const char *const *)&text, 1, rid);
    rid[1] = '1'; /* "hs-" -> "h1-" */
    char rel[96];
    size_t k = 0;
    for (; k < 40 && entity[k] != '\0'; k++)
        rel[k] = (char)(entity[k] >= 'A' && entity[k] <= 'Z' ? entity[k] - 'A' + 'a' : entity[k]);
    snprintf(rel + k, sizeof rel - k, "?requestid=%s", rid);
    struct hs_buf answer;
    hs_buf_init(&answer);
    char code[16] = "";
    struct hs_error cerr;
    hs_error_clear(&cerr);
    int rc = hs_quickbooks_client_call(c, "POST", "all", rel, "application/json", text,
                                       strlen(text), &answer, code, &cerr);
    hs_free(text);
    bool refused = code[0] != '\0' && (rc == HS_EINVAL || rc == HS_ENOTFOUND || rc == HS_ECONFLICT);
    if (rc == HS_OK || refused) /* QuickBooks answered for the record */
        rc = hs_quickbooks_parse_single((const uint8_t *)answer.data, answer.len, kind, &c->opts, w,
                                        err);
    else if (err != NULL)
        *err = cerr;
    hs_buf_release(&answer);
    return rc;
}

/* The writes whose bodies are still in ents, as one batch. */
static int send_batch(struct hs_connector *c, enum hs_kind kind, struct hs_write *writes,
                      json_t **ents, size_t n, struct hs_error *err)
{
    const char *entity = hs_quickbooks_entity(kind);
    json_t *items = json_array();
    char **dumps = hs_calloc(n, sizeof *dumps);
    struct hs_write *tmp = hs_calloc(n, sizeof *tmp);
    struct hs_buf body;
    struct hs_buf answer;
    hs_buf_init(&body);
    hs_buf_init(&answer);
    size_t n_sent = 0;
    int rc = items != NULL && dumps != NULL && tmp != NULL ? HS_OK : HS_ENOMEM;
    for (size_t i = 0; rc == HS_OK && i < n; i++) {
        if (ents[i] == NULL)
            continue;
        char bid[24];
        snprintf(bid, sizeof bid, "%zu", i);
        dumps[i] = dump(ents[i]);
        json_t *it =
            json_pack("{s:s, s:s, s:O}", "bId", bid, "operation",
                      writes[i].op == HS_WRITE_CREATE ? "create" : "update", entity, ents[i]);
        if (dumps[i] == NULL || it == NULL || json_array_append_new(items, it) != 0)
            rc = HS_ENOMEM;
        n_sent++;
    }
    if (rc == HS_OK) {
        json_t *root = json_pack("{s:O}", "BatchItemRequest", items);
        rc = root != NULL ? hs_json_dump_exact(root, &body) : HS_ENOMEM;
        json_decref(root);
    }
    char code[16] = "";
    if (rc == HS_OK) {
        char rid[36];
        hs_quickbooks_request_id(c->cfg.tenant, kind, writes, (const char *const *)dumps, n, rid);
        char rel[64];
        snprintf(rel, sizeof rel, "batch?requestid=%s", rid);
        rc = hs_quickbooks_client_call(c, "POST", "batch", rel, "application/json", body.data,
                                       body.len, &answer, code, err);
    }
    if (rc == HS_EINVAL && too_many_items(code, &answer))
        rc = hs_error_set(err, HS_ETOOBIG, "QuickBooks refused a batch of %zu items as too large",
                          n_sent);
    for (size_t i = 0; rc == HS_OK && i < n; i++) {
        tmp[i] = writes[i];
        tmp[i].result = NULL;
    }
    if (rc == HS_OK)
        rc = hs_quickbooks_parse_batch((const uint8_t *)answer.data, answer.len, kind, &c->opts,
                                       tmp, n, err);
    for (size_t i = 0; rc == HS_OK && i < n; i++) {
        if (ents[i] == NULL) {
            hs_record_free(tmp[i].result);
            continue;
        }
        writes[i].status = tmp[i].status;
        memcpy(writes[i].msg, tmp[i].msg, sizeof writes[i].msg);
        writes[i].result = tmp[i].result;
    }
    json_decref(items);
    for (size_t i = 0; dumps != NULL && i < n; i++)
        hs_free(dumps[i]);
    hs_free(dumps);
    hs_free(tmp);
    hs_buf_release(&body);
    hs_buf_release(&answer);
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "out of memory");
    return rc;
}

/* ---- write ------------------------------------------------------------------------------------
 */

int hs_quickbooks_write(struct hs_connector *c, enum hs_kind kind, struct hs_write *writes,
                        size_t n, struct hs_error *err)
{
    if (hs_quickbooks_entity(kind) == NULL)
        return hs_error_set(err, HS_EINVAL, "QuickBooks does not carry %s records",
                            hs_kind_name(kind) != NULL ? hs_kind_name(kind) : "these");
    if (n > c->batch_max)
        return hs_error_set(err, HS_ETOOBIG,
                            "cannot write %zu QuickBooks records in one batch: at most %zu", n,
                            c->batch_max);
    if (n == 0)
        return HS_OK;
    json_t **ents = hs_calloc(n, sizeof(json_t *));
    if (ents == NULL)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    int rc = HS_OK;
    size_t left = 0;
    for (size_t i = 0; rc == HS_OK && i < n; i++) {
        struct hs_write *w = &writes[i];
        w->status = HS_OK;
        w->msg[0] = '\0';
        hs_record_free(w->result);
        w->result = NULL;
        struct hs_error berr;
        hs_error_clear(&berr);
        int brc = hs_quickbooks_build(kind, w, &c->opts, &ents[i], &berr);
        if (brc == HS_ENOMEM) {
            rc = hs_error_set(err, HS_ENOMEM, "out of memory");
        } else if (brc != HS_OK) {
            w->status = brc;
            snprintf(w->msg, sizeof w->msg, "%s", berr.msg);
        } else if (ents[i] == NULL) { /* nothing to change in QuickBooks */
            if (hs_record_clone(w->record, &w->result) != HS_OK)
                rc = hs_error_set(err, HS_ENOMEM, "out of memory");
        }
    }
    if (rc == HS_OK)
        rc = find_retried(c, kind, writes, ents, n, err);
    for (size_t i = 0; i < n; i++)
        left += ents[i] != NULL;
    for (size_t i = 0; rc == HS_OK && left > 0 && i < n; i++) {
        if (ents[i] == NULL)
            continue;
        if (!single_sooner(c))
            break;
        rc = send_single(c, kind, &writes[i], ents[i], err);
        json_decref(ents[i]);
        ents[i] = NULL;
        left--;
    }
    if (rc == HS_OK && left > 0)
        rc = send_batch(c, kind, writes, ents, n, err);
    for (size_t i = 0; i < n; i++)
        json_decref(ents[i]);
    hs_free(ents);
    return rc;
}
