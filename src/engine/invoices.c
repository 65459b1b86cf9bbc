/*
 * engine/invoices.c - the invoice and payment step of a pass: closed-won deal -> exactly one
 *                     accounting invoice, and the invoice's payment status back to the deal.
 *
 * Design:     runs after the generic flows of a pass (so a company or product synced in the
 *             same pass is already linked). It lists the CRM side's invoices (closed-won deals;
 *             the CRM connector's feed only announces deals in its closed-won stages, and
 *             hs_engine_invoicing.won_stages filters on custom.dealstage as well) and for each:
 *               - unlinked: the deal's company must be linked to an accounting customer, else
 *                 the deal waits (error item whose message says why; retried every pass);
 *                 products map to items through item links or the default item; the invoice
 *                 is built with hs_invoice_build (tax map, terms, today by the env clock at
 *                 the company's UTC offset) and created with hs_engine_idem_key(flow,
 *                 accounting, deal id), recorded as an intent first. A rerun, a repeated
 *                 event or a crash between the create and our link sends the same key, which
 *                 the provider answers with the invoice it already made: never a second one.
 *                 Then link deal <-> invoice and remove the intent in one transaction.
 *               - linked (or just created): the accounting invoice is read, its status derived
 *                 with hs_invoice_payment_status_derive (void, paid, partially paid, unpaid,
 *                 overdue by the env clock) and number, invoice URL (meta "url"), status,
 *                 amount paid and balance are written to the deal, only the fields that differ
 *                 from what the deal holds, so a second pass writes nothing.
 *             Deal edits after invoicing: the link's CRM base holds a fingerprint of what the
 *             invoice was built from (customer, currency, lines); when it changes the invoice
 *             is left alone and a conflict item says so (invoice_updates never, the default;
 *             draft_only and unpaid are not implemented yet and behave as never).
 * Invariants: a create is only sent after its intent is stored; a link is stored only with
 *             the provider's answer; a record-level failure is an error item, the rest go on.
 * Not here:   the invoice arithmetic (core/invoice.c, core/tax.c), provider I/O (connectors).
 */
#include <stdio.h>
#include <string.h>

#include "core/hash.h"
#include "core/invoice.h"
#include "engine/engine.h"
#include "engine/engine_int.h"
#include "util/alloc.h"

#define MAX_PAGES    100000
#define DEFAULT_FLOW "invoices"
#define INVOICE_URL  "invoice_url"
#define META_URL     "url"
#define MAX_ITEM_IDS HS_RECORD_MAX_ITEMS
#define MSG_LEN      (HS_ERRMSG_MAX + 160)

struct inv {
    struct hs_engine *e;
    const struct hs_engine_config *cfg;
    const struct hs_engine_invoicing *iv;
    const char *flow;
    const char *provider;
    struct hs_date today;
    char **item_ids; /* item ids handed to the builder during one build */
    size_t n_item_ids;
    int item_rc; /* a store failure inside the item callback */
};

static void item_ids_clear(struct inv *v)
{
    for (size_t i = 0; i < v->n_item_ids; i++)
        hs_free(v->item_ids[i]);
    v->n_item_ids = 0;
}

/* hs_invoice_item_fn: the accounting item linked to a CRM product, from the store's links. */
static const char *item_for(void *ud, const char *product_id)
{
    struct inv *v = ud;
    if (product_id == NULL || v->n_item_ids >= MAX_ITEM_IDS)
        return NULL;
    struct hs_store_link l;
    memset(&l, 0, sizeof l);
    int rc = hs_store_link_find(v->cfg->store, v->cfg->crm.conn_id, v->cfg->accounting.conn_id,
                                "item", HS_STORE_CRM, product_id, &l, NULL);
    if (rc != HS_OK) {
        if (rc != HS_ENOTFOUND)
            v->item_rc = rc;
        return NULL;
    }
    char *id = l.acc_id;
    l.acc_id = NULL;
    hs_store_link_release(&l);
    char **n = hs_reallocarray(v->item_ids, v->n_item_ids + 1, sizeof *n);
    if (n == NULL) {
        hs_free(id);
        v->item_rc = HS_ENOMEM;
        return NULL;
    }
    v->item_ids = n;
    v->item_ids[v->n_item_ids++] = id;
    return id;
}

static const char *deal_label(const struct hs_record *deal)
{
    if (deal->invoice.memo != NULL && deal->invoice.memo[0] != '\0')
        return deal->invoice.memo;
    return deal->id != NULL ? deal->id : "?";
}

static bool stage_won(const struct inv *v, const struct hs_record *deal)
{
    if (v->iv->n_won_stages == 0)
        return true;
    const char *stage = hs_fields_get(&deal->custom, "dealstage");
    if (stage == NULL)
        return false;
    for (size_t i = 0; i < v->iv->n_won_stages; i++)
        if (v->iv->won_stages[i] != NULL && strcmp(v->iv->won_stages[i], stage) == 0)
            return true;
    return false;
}

/* Error item + action for a deal that cannot be invoiced now. */
static int deal_error(struct inv *v, const struct hs_record *deal, const char *other_id,
                      const char *msg, struct hs_error *err)
{
    int rc = eng_action(v->e, HS_ENGINE_ERROR, v->flow, HS_KIND_INVOICE, HS_SIDE_CRM, deal->id,
                        other_id, NULL, msg, err);
    if (rc != HS_OK)
        return rc;
    struct hs_store_item it = {.kind = HS_STORE_ITEM_ERROR,
                               .flow = (char *)v->flow,
                               .object = (char *)"invoice",
                               .side = HS_STORE_CRM,
                               .remote_id = deal->id,
                               .other_id = (char *)other_id,
                               .field = (char *)"",
                               .message = (char *)msg};
    return hs_store_item_raise(v->cfg->store, &it, NULL, err);
}

static int settle(struct inv *v, const struct hs_record *deal, struct hs_error *err)
{
    int rc = hs_store_item_settle(v->cfg->store, HS_STORE_ITEM_ERROR, v->flow, "invoice",
                                  HS_STORE_CRM, deal->id, NULL, "the deal synced", err);
    return rc < 0 ? rc : HS_OK;
}

/* Accounting id of the CRM record crm_id of object, or NULL (HS_ENOTFOUND) into *out. */
static int linked(struct inv *v, const char *object, const char *crm_id, char **out,
                  int64_t *link_id, struct hs_error *err)
{
    *out = NULL;
    struct hs_store_link l;
    memset(&l, 0, sizeof l);
    int rc = hs_store_link_find(v->cfg->store, v->cfg->crm.conn_id, v->cfg->accounting.conn_id,
                                object, HS_STORE_CRM, crm_id, &l, err);
    if (rc == HS_ENOTFOUND) {
        hs_error_clear(err);
        return HS_OK;
    }
    if (rc != HS_OK)
        return rc;
    *out = l.acc_id;
    if (link_id != NULL)
        *link_id = l.id;
    l.acc_id = NULL;
    hs_store_link_release(&l);
    return HS_OK;
}

/*
 * Fingerprint of what the invoice was built from: the deal's customer, currency and lines
 * (hex SHA-256 of that part of its field view). Stored as the CRM base of the invoice link.
 */
static int source_hash(const struct hs_record *deal, char out[HS_HASH_HEX], struct hs_error *err)
{
    struct hs_fields all, src;
    hs_fields_init(&all);
    hs_fields_init(&src);
    int rc = hs_record_to_fields(deal, &all, NULL);
    size_t pos = 0;
    const char *name, *value;
    while (rc == HS_OK && hs_fields_iter(&all, &pos, &name, &value)) {
        if (strncmp(name, "lines[", 6) == 0 || strcmp(name, "customer_ref") == 0 ||
            strcmp(name, "currency") == 0)
            rc = hs_fields_set(&src, name, value);
    }
    if (rc == HS_OK) {
        uint8_t d[HS_HASH_BYTES];
        hs_hash_fields(HS_KIND_INVOICE, &src, d);
        hs_hash_hex(d, out);
    } else {
        rc = hs_error_set(err, HS_ENOMEM, "cannot sync invoices: out of memory");
    }
    hs_fields_release(&all);
    hs_fields_release(&src);
    return rc;
}

/*
 * A deal edited after its invoice was made: with invoice_updates never (and, until they are
 * implemented, draft_only and unpaid) the invoice is left alone and a conflict item says so.
 * Links made without a fingerprint get one now.
 */
static int check_edit(struct inv *v, const struct hs_record *deal, int64_t link_id,
                      const char *acc_id, struct hs_error *err)
{
    char now[HS_HASH_HEX];
    int rc = source_hash(deal, now, err);
    if (rc != HS_OK)
        return rc;
    struct hs_store_doc doc;
    memset(&doc, 0, sizeof doc);
    rc = hs_store_base_get(v->cfg->store, link_id, HS_STORE_CRM, &doc, err);
    if (rc == HS_ENOTFOUND) {
        hs_error_clear(err);
        return hs_store_base_put(v->cfg->store, link_id, HS_STORE_CRM, "{}", now, err);
    }
    if (rc != HS_OK)
        return rc;
    bool same = doc.hash != NULL && strcmp(doc.hash, now) == 0;
    hs_store_doc_release(&doc);
    if (same)
        return HS_OK;
    char msg[MSG_LEN];
    snprintf(msg, sizeof msg,
             "deal '%s' changed after its invoice was created in %s; invoices are not updated "
             "(invoice_updates: never): change the invoice in %s or settle this conflict",
             deal_label(deal), v->provider, v->provider);
    rc = eng_action(v->e, HS_ENGINE_CONFLICT, v->flow, HS_KIND_INVOICE, HS_SIDE_CRM, deal->id,
                    acc_id, "lines", msg, err);
    if (rc != HS_OK)
        return rc;
    struct hs_store_item it = {.kind = HS_STORE_ITEM_CONFLICT,
                               .flow = (char *)v->flow,
                               .object = (char *)"invoice",
                               .side = HS_STORE_CRM,
                               .remote_id = deal->id,
                               .other_id = (char *)acc_id,
                               .field = (char *)"lines",
                               .message = msg};
    return hs_store_item_raise(v->cfg->store, &it, NULL, err);
}

/* ---- payment status -> deal ------------------------------------------------------------- */

static int set_ref(struct hs_record *r, const char *url)
{
    if (url == NULL)
        return HS_OK;
    return hs_fields_set(&r->external_refs, INVOICE_URL, url);
}

/*
 * Writes number, url, status, amount paid and balance of acc (the accounting invoice) to the
 * deal, only the fields that differ. Record-level failures become error items.
 */
static int write_back(struct inv *v, const struct hs_record *deal, const struct hs_record *acc,
                      struct hs_error *err)
{
    struct hs_invoice_payment_status st;
    struct hs_error derr;
    hs_error_clear(&derr);
    char msg[MSG_LEN];
    int rc = hs_invoice_payment_status_derive(acc, NULL, 0, v->today, &st, &derr);
    if (rc != HS_OK) {
        if (rc == HS_ENOMEM)
            return hs_error_set(err, rc, "cannot sync invoices: out of memory");
        snprintf(msg, sizeof msg, "deal '%s': the payment status of invoice '%s' is unknown: %s",
                 deal_label(deal), acc->id != NULL ? acc->id : "?", derr.msg);
        return deal_error(v, deal, acc->id, msg, err);
    }
    struct hs_record *want = NULL;
    struct hs_fields wf, have;
    hs_fields_init(&wf);
    hs_fields_init(&have);
    const char **paths = NULL;
    size_t n_paths = 0;
    rc = hs_record_new(HS_KIND_INVOICE, &want);
    if (rc == HS_OK) {
        want->invoice.status = st.status;
        want->invoice.amount_paid = st.amount_paid;
        want->invoice.balance = st.amount_due;
        rc = hs_record_set_str(&want->invoice.number, acc->invoice.number);
    }
    if (rc == HS_OK)
        rc = set_ref(want, hs_fields_get(&acc->meta, META_URL));
    if (rc == HS_OK)
        rc = hs_record_to_fields(want, &wf, NULL);
    if (rc == HS_OK)
        rc = hs_record_to_fields(deal, &have, NULL);
    if (rc == HS_OK) {
        paths = hs_calloc(hs_fields_count(&wf) + 1, sizeof *paths);
        if (paths == NULL)
            rc = HS_ENOMEM;
    }
    size_t pos = 0;
    const char *name, *value;
    while (rc == HS_OK && hs_fields_iter(&wf, &pos, &name, &value)) {
        const char *cur = hs_fields_get(&have, name);
        if (cur == NULL || strcmp(cur, value) != 0)
            paths[n_paths++] = name;
    }
    if (rc != HS_OK) {
        rc = hs_error_set(err, HS_ENOMEM, "cannot sync invoices: out of memory");
        goto done;
    }
    if (n_paths == 0)
        goto done;
    rc = hs_record_set_str(&want->id, deal->id);
    if (rc != HS_OK) {
        rc = hs_error_set(err, HS_ENOMEM, "cannot sync invoices: out of memory");
        goto done;
    }
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_UPDATE;
    w.record = want;
    w.fields = paths;
    w.n_fields = n_paths;
    rc = v->cfg->crm.ops->write(v->cfg->crm.conn, HS_KIND_INVOICE, &w, 1, err);
    eng_count(v->e, 0, 0, 0, 1);
    if (rc != HS_OK)
        goto done;
    char fields[512];
    fields[0] = '\0';
    for (size_t i = 0; i < n_paths; i++) {
        size_t l = strlen(fields);
        snprintf(fields + l, sizeof fields - l, "%s%s", i > 0 ? "," : "", paths[i]);
    }
    if (w.status != HS_OK) {
        snprintf(msg, sizeof msg, "deal '%s': invoice status was not written back: %s",
                 deal_label(deal), w.msg);
        rc = deal_error(v, deal, acc->id, msg, err);
    } else {
        eng_count(v->e, 0, 1, 0, 0);
        snprintf(msg, sizeof msg, "invoice %s is %s",
                 acc->invoice.number != NULL ? acc->invoice.number : acc->id,
                 hs_invoice_payment_status_name(st.status));
        rc = eng_action(v->e, HS_ENGINE_UPDATE, v->flow, HS_KIND_INVOICE, HS_SIDE_ACCOUNTING,
                        acc->id, deal->id, fields, msg, err);
    }
    hs_record_free(w.result);
done:
    hs_free(paths);
    hs_fields_release(&wf);
    hs_fields_release(&have);
    hs_record_free(want);
    return rc;
}

/* Reads the accounting invoice acc_id and writes its status to the deal. */
static int payment(struct inv *v, const struct hs_record *deal, const char *acc_id,
                   struct hs_error *err)
{
    struct hs_record *acc = NULL;
    const char *ids[1] = {acc_id};
    int rc =
        v->cfg->accounting.ops->read(v->cfg->accounting.conn, HS_KIND_INVOICE, ids, 1, &acc, err);
    eng_count(v->e, acc != NULL ? 1 : 0, 0, 1, 0);
    if (rc != HS_OK)
        return rc;
    if (acc == NULL) {
        char msg[MSG_LEN];
        snprintf(msg, sizeof msg, "deal '%s': its invoice '%s' no longer exists in %s",
                 deal_label(deal), acc_id, v->provider);
        return deal_error(v, deal, acc_id, msg, err);
    }
    rc = write_back(v, deal, acc, err);
    hs_record_free(acc);
    return rc;
}

/* ---- deal -> invoice ---------------------------------------------------------------------- */

static int create_invoice(struct inv *v, const struct hs_record *deal, struct hs_error *err)
{
    char msg[MSG_LEN];
    const char *company = deal->invoice.customer_ref;
    char *cust = NULL;
    int rc = HS_OK;
    if (company != NULL)
        rc = linked(v, "customer", company, &cust, NULL, err);
    if (rc != HS_OK)
        return rc;
    if (cust == NULL) {
        snprintf(msg, sizeof msg,
                 "deal '%s' waits: its company '%s' is not linked to a %s customer yet",
                 deal_label(deal), company != NULL ? company : "(none)", v->provider);
        return deal_error(v, deal, NULL, msg, err);
    }
    const struct hs_engine_invoicing *iv = v->iv;
    struct hs_invoice_build_opts o = {.provider = v->provider,
                                      .customer_id = cust,
                                      .item_for = item_for,
                                      .item_ud = v,
                                      .default_item_id = iv->default_item_id,
                                      .tax_map = iv->tax_map,
                                      .untaxed_code = iv->untaxed_code,
                                      .policy = iv->policy,
                                      .terms = iv->terms,
                                      .n_terms = iv->n_terms,
                                      .payment_terms = iv->payment_terms,
                                      .issue_date = v->today,
                                      .default_currency = iv->default_currency};
    struct hs_record *inv = NULL;
    struct hs_error berr;
    hs_error_clear(&berr);
    v->item_rc = HS_OK;
    rc = hs_invoice_build(deal, &o, &inv, &berr);
    item_ids_clear(v);
    hs_free(cust);
    if (v->item_rc != HS_OK) {
        hs_record_free(inv);
        return hs_error_set(err, v->item_rc, "cannot sync invoices: item links unreadable");
    }
    if (rc == HS_ENOMEM)
        return hs_error_set(err, rc, "cannot sync invoices: out of memory");
    if (rc != HS_OK)
        return deal_error(v, deal, NULL, berr.msg, err);

    /* a discounted line goes out as quantity and amount only: the provider derives the unit
     * price (docs/modules/invoice.md; a rounded discounted price x quantity may miss the
     * amount by a cent) and QuickBooks has no per-line discount field */
    for (size_t i = 0; i < inv->invoice.n_lines; i++) {
        struct hs_invoice_line *ln = &inv->invoice.lines[i];
        if (ln->has_discount_percent && ln->item_ref != NULL && ln->amount.currency[0] != '\0') {
            ln->has_discount_percent = false;
            memset(&ln->discount_percent, 0, sizeof ln->discount_percent);
            memset(&ln->unit_price, 0, sizeof ln->unit_price);
        }
    }
    char key[HS_ENGINE_IDEM_MAX + 1];
    hs_engine_idem_key(v->flow, HS_SIDE_ACCOUNTING, deal->id, key);
    rc = hs_store_intent_put(v->cfg->store, key, "invoice", HS_STORE_ACCOUNTING, deal->id, err);
    if (rc < 0) {
        hs_record_free(inv);
        return rc;
    }
    struct hs_write w;
    memset(&w, 0, sizeof w);
    w.op = HS_WRITE_CREATE;
    w.record = inv;
    w.idem_key = key;
    rc = v->cfg->accounting.ops->write(v->cfg->accounting.conn, HS_KIND_INVOICE, &w, 1, err);
    eng_count(v->e, 0, 0, 0, 1);
    hs_record_free(inv);
    if (rc != HS_OK) {
        hs_record_free(w.result);
        return rc;
    }
    if (w.status != HS_OK || w.result == NULL || w.result->id == NULL) {
        snprintf(msg, sizeof msg, "deal '%s': %s refused the invoice: %s", deal_label(deal),
                 v->provider, w.status != HS_OK ? w.msg : "no id in its answer");
        hs_record_free(w.result);
        return deal_error(v, deal, NULL, msg, err);
    }
    eng_count(v->e, 0, 1, 0, 0);
    struct hs_store *st = v->cfg->store;
    char fp[HS_HASH_HEX];
    int64_t link_id = 0;
    rc = source_hash(deal, fp, err);
    if (rc == HS_OK)
        rc = hs_store_begin(st, err);
    if (rc == HS_OK)
        rc = hs_store_link_create(st, v->cfg->crm.conn_id, v->cfg->accounting.conn_id, "invoice",
                                  deal->id, w.result->id, &link_id, err);
    if (rc == HS_OK)
        rc = hs_store_base_put(st, link_id, HS_STORE_CRM, "{}", fp, err);
    if (rc == HS_OK)
        rc = hs_store_intent_delete(st, key, err);
    if (rc == HS_OK)
        rc = hs_store_commit(st, err);
    else
        (void)hs_store_rollback(st, NULL);
    if (rc == HS_OK) {
        snprintf(msg, sizeof msg, "deal '%s' is closed won: invoice %s created", deal_label(deal),
                 w.result->invoice.number != NULL ? w.result->invoice.number : w.result->id);
        rc = eng_action(v->e, HS_ENGINE_CREATE, v->flow, HS_KIND_INVOICE, HS_SIDE_CRM, deal->id,
                        w.result->id, NULL, msg, err);
    }
    if (rc == HS_OK)
        rc = settle(v, deal, err);
    if (rc == HS_OK)
        rc = write_back(v, deal, w.result, err);
    hs_record_free(w.result);
    return rc;
}

static int one_deal(struct inv *v, const struct hs_record *deal, struct hs_error *err)
{
    if (deal == NULL || deal->id == NULL || !stage_won(v, deal))
        return HS_OK;
    char *acc_id = NULL;
    int64_t link_id = 0;
    int rc = linked(v, "invoice", deal->id, &acc_id, &link_id, err);
    if (rc != HS_OK)
        return rc;
    if (acc_id == NULL)
        return create_invoice(v, deal, err);
    rc = check_edit(v, deal, link_id, acc_id, err);
    if (rc == HS_OK)
        rc = payment(v, deal, acc_id, err);
    hs_free(acc_id);
    return rc;
}

/* Reads the deals ids[0..n) in batches and handles each. */
static int deals(struct inv *v, char **ids, size_t n, struct hs_error *err)
{
    struct hs_connector_limits lim;
    memset(&lim, 0, sizeof lim);
    v->cfg->crm.ops->limits(v->cfg->crm.conn, HS_KIND_INVOICE, &lim);
    size_t b = lim.read_batch > 0 ? lim.read_batch : 1;
    int rc = HS_OK;
    for (size_t at = 0; at < n && rc == HS_OK; at += b) {
        size_t k = n - at < b ? n - at : b;
        struct hs_record **recs = hs_calloc(k, sizeof(struct hs_record *));
        if (recs == NULL)
            return hs_error_set(err, HS_ENOMEM, "cannot sync invoices: out of memory");
        rc = v->cfg->crm.ops->read(v->cfg->crm.conn, HS_KIND_INVOICE, (const char *const *)ids + at,
                                   k, recs, err);
        eng_count(v->e, 0, 0, 1, 0);
        for (size_t i = 0; i < k; i++) {
            if (rc == HS_OK && recs[i] != NULL) {
                eng_count(v->e, 1, 0, 0, 0);
                rc = one_deal(v, recs[i], err);
            }
            hs_record_free(recs[i]);
        }
        hs_free(recs);
    }
    return rc;
}

int eng_invoices_run(struct hs_engine *e, struct hs_error *err)
{
    struct inv v;
    memset(&v, 0, sizeof v);
    v.e = e;
    v.cfg = eng_config(e);
    v.iv = v.cfg->invoicing;
    v.flow = v.iv->flow != NULL ? v.iv->flow : DEFAULT_FLOW;
    v.provider = v.iv->provider != NULL ? v.iv->provider : "the accounting system";
    const struct hs_engine_side *crm = &v.cfg->crm, *acc = &v.cfg->accounting;
    unsigned want = 1u << HS_KIND_INVOICE;
    if ((crm->ops->kinds(crm->conn) & want) == 0 || (acc->ops->kinds(acc->conn) & want) == 0)
        return HS_OK;
    int rc =
        hs_invoice_date_from_ms(hs_env_now_ms(eng_env(e)), v.iv->utc_offset_minutes, &v.today, err);
    if (rc != HS_OK)
        return rc;
    /* every closed-won deal, from the beginning of the feed */
    char **ids = NULL;
    size_t n = 0;
    char *cursor = NULL;
    for (size_t page = 0; page < MAX_PAGES && rc == HS_OK; page++) {
        struct hs_changes ch;
        memset(&ch, 0, sizeof ch);
        rc = crm->ops->changes(crm->conn, HS_KIND_INVOICE, cursor, &ch, err);
        eng_count(e, 0, 0, 1, 0);
        if (rc != HS_OK) {
            hs_changes_release(&ch);
            break;
        }
        for (size_t i = 0; i < ch.n_items && rc == HS_OK; i++) {
            /* kind 0: a feed of one kind that does not repeat it per change */
            enum hs_kind k = ch.items[i].kind;
            if (ch.items[i].deleted || ch.items[i].id == NULL ||
                (k != HS_KIND_INVOICE && k != HS_KIND_NONE))
                continue;
            bool dup = false;
            for (size_t j = 0; j < n && !dup; j++)
                dup = strcmp(ids[j], ch.items[i].id) == 0;
            if (dup)
                continue;
            char **nn = hs_reallocarray(ids, n + 1, sizeof *nn);
            char *id = hs_strdup(ch.items[i].id);
            if (nn != NULL)
                ids = nn;
            if (nn == NULL || id == NULL) {
                hs_free(id);
                rc = hs_error_set(err, HS_ENOMEM, "cannot sync invoices: out of memory");
                break;
            }
            ids[n++] = id;
        }
        bool more =
            ch.more && ch.cursor != NULL && (cursor == NULL || strcmp(cursor, ch.cursor) != 0);
        hs_free(cursor);
        cursor = ch.cursor;
        ch.cursor = NULL;
        hs_changes_release(&ch);
        if (!more)
            break;
    }
    hs_free(cursor);
    if (rc == HS_OK)
        rc = deals(&v, ids, n, err);
    for (size_t i = 0; i < n; i++)
        hs_free(ids[i]);
    hs_free(ids);
    hs_free(v.item_ids);
    return rc;
}
