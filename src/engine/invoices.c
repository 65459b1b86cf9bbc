/*
 * engine/invoices.c - the invoice and payment step of a pass: closed-won deal -> exactly one
 *                     accounting invoice, and the invoice's payment status back to the deal.
 *
 * Design:     runs inside a pass after the generic flows (so a company or product synced in
 *             the same pass is already linked) and before the pass completes its dirty
 *             entries, on what the pass already batch-read from the dirty set: the CRM's
 *             invoices (closed-won deals; the change feed of the CRM connector only announces
 *             deals in its won stages, and hs_engine_invoicing.won_stages filters on
 *             custom.dealstage as well), the accounting side's invoices (a payment touches its
 *             invoice) and payments (for the last payment date). Deals that wait (an open
 *             error item of the flow) are read again every pass. Everything is batched:
 *               1. deals: a won, unlinked deal whose company is linked gets an invoice built
 *                  with hs_invoice_build (tax map, terms, today by the env clock at the
 *                  company's UTC offset); all creates go out through eng_write in batches of
 *                  the provider's limit, each with hs_engine_idem_key(flow, accounting, deal
 *                  id), the intents stored first in one transaction. A rerun, a repeated event
 *                  or a crash between the create and our link sends the same key, which the
 *                  provider answers with the invoice it already made: never a second one. Per
 *                  answer, one transaction: link, the deal's fingerprint (CRM base), intent
 *                  removal, mirror, audit row.
 *                  A deal whose company is not linked yet waits (an error item saying why).
 *               2. a linked deal whose lines, currency or customer changed since its invoice
 *                  was made (fingerprint in the link's CRM base): invoice_updates never, or an
 *                  invoice that is not eligible (unpaid: nothing paid and not void;
 *                  draft_only: a draft) -> a conflict item; otherwise the invoice is rebuilt
 *                  from the deal and updated (batched), with a new fingerprint.
 *               3. payment status: for every invoice touched this pass (created, updated, read
 *                  from the feed, named by a payment) and, once per day of the env clock,
 *                  every linked invoice (overdue comes with time, not with a change), the
 *                  status is derived with hs_invoice_payment_status_derive (void, paid,
 *                  partially paid, unpaid, overdue) from the invoice (from this pass, else the
 *                  mirror, else one batch read). Number, URL, status, amount paid, balance and
 *                  last payment date are compared with the deal when the pass read it, else
 *                  with what we last wrote (the link's accounting base); only differing fields
 *                  are written, in batches, then the base and an audit row are stored.
 *             A plan runs the same decisions and only reports them (nothing stored, sent or
 *             queued).
 * Invariants: a create is only sent after its intent is stored; a link is stored only with
 *             the provider's answer; a record-level failure is an error item, the rest go on;
 *             a batch that stops part-way (a provider's spent limit) commits what was answered
 *             before the failure, then returns it (the deals not sent keep their intents and
 *             wait); with nothing changed (and the same day) the step writes nothing.
 * Ownership:  records in the pass's groups are borrowed; everything else is owned by struct
 *             inv and freed at the end of the step.
 * Not here:   the invoice arithmetic (core/invoice.c, core/tax.c), provider I/O (connectors).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/invoice.h"
#include "engine/engine.h"
#include "engine/engine_int.h"
#include "util/alloc.h"

#define INVOICE_URL  "invoice_url"
#define META_URL     "url"
#define LAST_PAID    "custom." HS_INVOICE_PROP_LAST_PAID
#define CLOCK_CURSOR "invoice@day" /* cursor object: the day every invoice was last checked */
#define MAX_ITEM_IDS HS_RECORD_MAX_ITEMS
#define MSG_LEN      (HS_ERRMSG_MAX + 160)

/* A deal this step decided something for. */
struct deal_ref {
    const struct hs_record *deal; /* borrowed from a group or from inv.deals_owned */
    struct hs_record **slot;      /* the group's slot holding it (freed after its chunk) */
};

/* An accounting invoice whose payment status is evaluated in this pass. */
struct status {
    char *acc_id;
    const struct hs_record *acc;  /* borrowed (group, create/update answer, owned) or NULL */
    const struct hs_record *deal; /* the deal when this pass read it, else NULL */
    char *deal_id;                /* NULL until the link is known */
    int64_t link_id;
};

/* A create or an update of an invoice on the accounting side. */
struct inv_write {
    const struct hs_record *deal;
    struct hs_record *rec; /* the invoice to send (owned) */
    char key[HS_ENGINE_IDEM_MAX + 1];
    bool retry;          /* creates: the intent was left over (hs_write.retry) */
    int64_t retry_since; /* and stored then (hs_write.retry_since_ms) */
    int64_t link_id;     /* updates */
    char *acc_id;        /* updates */
};

struct inv {
    struct hs_engine *e;
    const struct hs_engine_config *cfg;
    const struct hs_engine_invoicing *iv;
    const char *flow;
    const char *payflow; /* payment status write-back: the payments flow */
    const char *provider;
    bool dry;
    struct hs_date today;
    char today_text[11];
    char **item_ids; /* item ids handed to the builder during one build */
    size_t n_item_ids;
    int item_rc; /* a store failure inside the item callback */
    /* records this step owns (answers of its writes, invoices read): freed per chunk */
    struct hs_record **owned;
    size_t n_owned, cap_owned;
    /* deals read by this step (waiting ones): freed at its end */
    struct hs_record **deals_owned;
    size_t n_deals_owned, cap_deals_owned;
    /* the accounting side's payments of this pass (borrowed) */
    const struct hs_record **payments;
    size_t n_payments;
    /* invoices to evaluate, and acc_id -> index into statuses ("%zu") */
    struct status *statuses;
    size_t n_statuses, cap_statuses;
    struct hs_fields status_index;
    struct hs_fields done; /* invoices a chunk already settled this pass (acc ids) */
    /* in a plan: CRM customers the customers flow would link (-> accounting id) or create
     * (-> ""), from the plan's report, built when first needed */
    struct hs_fields planned;
    bool planned_built;
    int done_rc; /* HS_ENOMEM when done could not be kept */
    /* deal creates and invoice updates waiting for the accounting invoice */
    struct inv_write *creates;
    size_t n_creates, cap_creates;
    struct inv_write *edits;
    size_t n_edits, cap_edits;
};

static int oom(struct hs_error *err)
{
    (void)hs_error_set(err, HS_ENOMEM, "cannot sync invoices: out of memory");
    return HS_ENOMEM;
}

/* Grows *arr (of *cap elements of size sz) to hold n + 1. */
static int grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return HS_OK;
    size_t c = *cap == 0 ? 16 : *cap * 2;
    void *p = hs_reallocarray(*arr, c, sz);
    if (p == NULL)
        return HS_ENOMEM;
    *arr = p;
    *cap = c;
    return HS_OK;
}

/* Takes ownership of r (freed with the step). */
static int own(struct inv *v, struct hs_record *r)
{
    if (r == NULL)
        return HS_OK;
    if (grow((void **)&v->owned, &v->cap_owned, v->n_owned, sizeof(struct hs_record *)) != HS_OK) {
        hs_record_free(r);
        return HS_ENOMEM;
    }
    v->owned[v->n_owned++] = r;
    return HS_OK;
}

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
    if (v->item_ids == NULL) {
        v->item_ids = hs_calloc(MAX_ITEM_IDS, sizeof *v->item_ids);
        if (v->item_ids == NULL) {
            hs_store_link_release(&l);
            v->item_rc = HS_ENOMEM;
            return NULL;
        }
    }
    v->item_ids[v->n_item_ids] = l.acc_id;
    l.acc_id = NULL;
    hs_store_link_release(&l);
    return v->item_ids[v->n_item_ids++];
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

/* Error item (not in a plan) + action for a deal that cannot be invoiced or updated now. */
static int deal_error(struct inv *v, const char *deal_id, const char *other_id, const char *msg,
                      struct hs_error *err)
{
    int rc = eng_action(v->e, HS_ENGINE_ERROR, v->flow, HS_KIND_INVOICE, HS_SIDE_CRM, deal_id,
                        other_id, NULL, msg, err);
    if (rc != HS_OK || v->dry)
        return rc;
    struct hs_store_item it = {.kind = HS_STORE_ITEM_ERROR,
                               .flow = (char *)v->flow,
                               .object = (char *)"invoice",
                               .side = HS_STORE_CRM,
                               .remote_id = (char *)deal_id,
                               .other_id = (char *)other_id,
                               .field = (char *)"",
                               .message = (char *)msg};
    return hs_store_item_raise(v->cfg->store, &it, NULL, err);
}

static int settle(struct inv *v, const char *deal_id, struct hs_error *err)
{
    if (v->dry)
        return HS_OK;
    int rc = hs_store_item_settle(v->cfg->store, HS_STORE_ITEM_ERROR, v->flow, "invoice",
                                  HS_STORE_CRM, deal_id, NULL, "the deal synced", err);
    return rc < 0 ? rc : HS_OK;
}

/* The link of object whose side-s record is id: other side's id (owned) and link id; *out
 * NULL when not linked. */
static int linked(struct inv *v, const char *object, enum hs_store_side s, const char *id,
                  char **out, int64_t *link_id, struct hs_error *err)
{
    *out = NULL;
    struct hs_store_link l;
    memset(&l, 0, sizeof l);
    int rc = hs_store_link_find(v->cfg->store, v->cfg->crm.conn_id, v->cfg->accounting.conn_id,
                                object, s, id, &l, err);
    if (rc == HS_ENOTFOUND) {
        hs_error_clear(err);
        return HS_OK;
    }
    if (rc != HS_OK)
        return rc;
    if (s == HS_STORE_CRM) {
        *out = l.acc_id;
        l.acc_id = NULL;
    } else {
        *out = l.crm_id;
        l.crm_id = NULL;
    }
    if (link_id != NULL)
        *link_id = l.id;
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
        rc = oom(err);
    }
    hs_fields_release(&all);
    hs_fields_release(&src);
    return rc;
}

/* ---- building an invoice from a deal ---------------------------------------------------- */

/*
 * In a plan, the customer the deal's company would have once the customers flow ran (a plan
 * creates and links nothing, a sync does that before invoicing): the accounting id it would
 * be linked to, or a stand-in when it would be created. *out NULL when the plan does neither.
 */
static int planned_customer(struct inv *v, const char *company, char **out, struct hs_error *err)
{
    *out = NULL;
    if (!v->planned_built) {
        const struct hs_engine_report *r = eng_report(v->e);
        for (size_t i = 0; r != NULL && i < r->n_actions; i++) {
            const struct hs_engine_action *a = &r->actions[i];
            if (a->object != HS_KIND_CUSTOMER || a->source_side != HS_SIDE_CRM ||
                (a->kind != HS_ENGINE_LINK && a->kind != HS_ENGINE_CREATE))
                continue;
            const char *to = a->kind == HS_ENGINE_LINK && a->target_id != NULL ? a->target_id : "";
            if (hs_fields_set(&v->planned, a->source_id, to) != HS_OK)
                return oom(err);
        }
        v->planned_built = true;
    }
    const char *to = hs_fields_get(&v->planned, company);
    if (to == NULL)
        return HS_OK;
    *out = hs_strdup(to[0] != '\0' ? to : "(the customer this sync creates)");
    return *out != NULL ? HS_OK : oom(err);
}

/*
 * Builds the invoice of deal into *out. *out NULL with HS_OK when the deal cannot be invoiced
 * now (an error item was raised: the company is not linked, the builder refused the deal).
 */
static int build(struct inv *v, const struct hs_record *deal, struct hs_record **out,
                 struct hs_error *err)
{
    *out = NULL;
    char msg[MSG_LEN];
    const char *company = deal->invoice.customer_ref;
    char *cust = NULL;
    int rc = HS_OK;
    if (company != NULL)
        rc = linked(v, "customer", HS_STORE_CRM, company, &cust, NULL, err);
    if (rc == HS_OK && cust == NULL && company != NULL && v->dry)
        rc = planned_customer(v, company, &cust, err);
    if (rc != HS_OK)
        return rc;
    if (cust == NULL) {
        snprintf(msg, sizeof msg,
                 "deal '%s' waits: its company '%s' is not linked to a %s customer yet",
                 deal_label(deal), company != NULL ? company : "(none)", v->provider);
        return deal_error(v, deal->id, NULL, msg, err);
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
        return oom(err);
    if (rc != HS_OK)
        return deal_error(v, deal->id, NULL, berr.msg, err);
    /* the deal's page in the CRM, for a provider that links a document to its source (Xero's
     * Url), which also finds the invoice of a create retried after a crash */
    const char *src_url = hs_fields_get(&deal->meta, "url");
    if (src_url != NULL && hs_fields_set(&inv->meta, "source_url", src_url) != HS_OK) {
        hs_record_free(inv);
        return oom(err);
    }
    *out = inv;
    return HS_OK;
}

/* "USD 130.00" (or "?" for an amount without a known currency). */
static void money_text(const struct hs_money *m, char *out, size_t len)
{
    char num[HS_MONEY_FMT_MAX];
    if (m->currency[0] == '\0' || hs_money_format(m, num, sizeof num) < 0)
        snprintf(out, len, "?");
    else
        snprintf(out, len, "%s %s", m->currency, num);
}

/* ---- statuses to evaluate --------------------------------------------------------------- */

/* The status entry of acc_id (added when new). */
static int status_of(struct inv *v, const char *acc_id, struct status **out, struct hs_error *err)
{
    *out = NULL;
    const char *at = hs_fields_get(&v->status_index, acc_id);
    if (at != NULL) {
        *out = &v->statuses[strtoull(at, NULL, 10)];
        return HS_OK;
    }
    if (grow((void **)&v->statuses, &v->cap_statuses, v->n_statuses, sizeof *v->statuses) != HS_OK)
        return oom(err);
    char idx[24];
    snprintf(idx, sizeof idx, "%zu", v->n_statuses);
    struct status *s = &v->statuses[v->n_statuses];
    memset(s, 0, sizeof *s);
    s->acc_id = hs_strdup(acc_id);
    if (s->acc_id == NULL || hs_fields_set(&v->status_index, acc_id, idx) != HS_OK) {
        hs_free(s->acc_id);
        return oom(err);
    }
    v->n_statuses++;
    *out = s;
    return HS_OK;
}

/* Adds what is known of an invoice to evaluate: its record, its deal (read this pass), link. */
static int status_add(struct inv *v, const char *acc_id, const struct hs_record *acc,
                      const struct hs_record *deal, int64_t link_id, struct hs_error *err)
{
    if (hs_fields_get(&v->done, acc_id) != NULL)
        return HS_OK; /* a chunk of this pass settled it with the freshest record */
    struct status *s = NULL;
    int rc = status_of(v, acc_id, &s, err);
    if (rc != HS_OK)
        return rc;
    if (acc != NULL)
        s->acc = acc;
    if (deal != NULL) {
        s->deal = deal;
        if (s->deal_id == NULL && (s->deal_id = hs_strdup(deal->id)) == NULL)
            return oom(err);
    }
    if (link_id != 0)
        s->link_id = link_id;
    return HS_OK;
}

/* ---- 1. deals ---------------------------------------------------------------------------- */

struct waiting {
    struct hs_fields *seen;
    char **ids;
    size_t n, cap;
    int rc;
};

static int waiting_add(struct waiting *w, const char *deal_id)
{
    if (hs_fields_get(w->seen, deal_id) != NULL)
        return 0;
    if (hs_fields_set(w->seen, deal_id, "") != HS_OK ||
        grow((void **)&w->ids, &w->cap, w->n, sizeof *w->ids) != HS_OK ||
        (w->ids[w->n] = hs_strdup(deal_id)) == NULL) {
        w->rc = HS_ENOMEM;
        return 1;
    }
    w->n++;
    return 0;
}

/* hs_store_item_fn: deals with an open error item of the flow */
static int waiting_cb(void *ud, const struct hs_store_item *it)
{
    if (it->side != HS_STORE_CRM || strcmp(it->object, "invoice") != 0)
        return 0;
    return waiting_add(ud, it->remote_id);
}

/* hs_store_intent_fn: deals whose invoice create may have been cut off by a crash */
static int intent_cb(void *ud, const char *key, const char *source_id)
{
    (void)key;
    return waiting_add(ud, source_id);
}

/* The deals of this step: those the pass read, plus those waiting (open error items) and
 * those with a pending create intent (a crash, even SIGKILL, between the provider's create
 * and our link: their dirty entries may still be leased by the dead process), read in
 * batches. Pointers into deals[] are borrowed. */
static int gather_deals(struct inv *v, struct eng_group *gd, struct deal_ref **out, size_t *n_out,
                        struct hs_error *err)
{
    *out = NULL;
    *n_out = 0;
    struct hs_fields seen;
    hs_fields_init(&seen);
    struct deal_ref *deals = NULL;
    size_t n = 0, cap = 0;
    int rc = HS_OK;
    for (size_t i = 0; gd != NULL && i < gd->n && rc == HS_OK; i++) {
        if (gd->recs[i] == NULL || gd->recs[i]->id == NULL)
            continue;
        if (hs_fields_set(&seen, gd->recs[i]->id, "") != HS_OK ||
            grow((void **)&deals, &cap, n, sizeof *deals) != HS_OK) {
            rc = oom(err);
        } else {
            deals[n].deal = gd->recs[i];
            deals[n++].slot = &gd->recs[i];
        }
    }
    struct waiting w = {.seen = &seen};
    if (rc == HS_OK) {
        rc = hs_store_item_each(v->cfg->store, HS_STORE_ITEM_ERROR, v->flow, HS_STORE_ITEM_OPEN,
                                waiting_cb, &w, err);
        if (rc == HS_OK)
            rc = hs_store_intent_each(v->cfg->store, "invoice", HS_STORE_ACCOUNTING, intent_cb, &w,
                                      err);
        if (rc == 1 || w.rc != HS_OK)
            rc = oom(err);
    }
    struct hs_record **recs = NULL;
    if (rc == HS_OK && w.n > 0) {
        recs = hs_calloc(w.n, sizeof(struct hs_record *));
        if (recs == NULL)
            rc = oom(err);
        if (rc == HS_OK)
            rc = eng_read(v->e, HS_SIDE_CRM, HS_KIND_INVOICE, w.ids, w.n, recs, err);
        for (size_t i = 0; recs != NULL && i < w.n; i++) {
            if (rc == HS_OK && recs[i] != NULL) {
                const struct hs_record *r = recs[i];
                if (grow((void **)&v->deals_owned, &v->cap_deals_owned, v->n_deals_owned,
                         sizeof(struct hs_record *)) != HS_OK ||
                    grow((void **)&deals, &cap, n, sizeof *deals) != HS_OK) {
                    rc = oom(err);
                    hs_record_free(recs[i]);
                } else {
                    v->deals_owned[v->n_deals_owned++] = recs[i];
                    deals[n].deal = r;
                    deals[n++].slot = NULL;
                }
                recs[i] = NULL;
            } else if (rc == HS_OK && recs[i] == NULL) {
                /* the deal is gone: its waiting item has nothing left to wait for */
                rc = settle(v, w.ids[i], err);
            }
            hs_record_free(recs[i]);
        }
    }
    hs_free(recs);
    for (size_t i = 0; i < w.n; i++)
        hs_free(w.ids[i]);
    hs_free(w.ids);
    hs_fields_release(&seen);
    if (rc != HS_OK) {
        hs_free(deals);
        return rc;
    }
    *out = deals;
    *n_out = n;
    return HS_OK;
}

/*
 * A linked deal: unchanged since its invoice -> its status is evaluated; changed -> held for
 * the invoice_updates decision once the invoice is at hand (edits).
 */
static int deal_linked(struct inv *v, const struct hs_record *deal, const char *acc_id,
                       int64_t link_id, struct hs_error *err)
{
    char now[HS_HASH_HEX];
    int rc = source_hash(deal, now, err);
    if (rc != HS_OK)
        return rc;
    struct hs_store_doc doc;
    memset(&doc, 0, sizeof doc);
    rc = hs_store_base_get(v->cfg->store, link_id, HS_STORE_CRM, &doc, err);
    bool same = true;
    if (rc == HS_ENOTFOUND) {
        hs_error_clear(err); /* a link without a fingerprint gets one */
        rc = v->dry ? HS_OK
                    : hs_store_base_put(v->cfg->store, link_id, HS_STORE_CRM, "{}", now, err);
    } else if (rc == HS_OK) {
        same = doc.hash != NULL && strcmp(doc.hash, now) == 0;
        hs_store_doc_release(&doc);
    }
    if (rc == HS_OK)
        rc = status_add(v, acc_id, NULL, deal, link_id, err);
    if (rc != HS_OK || same)
        return rc;
    if (grow((void **)&v->edits, &v->cap_edits, v->n_edits, sizeof *v->edits) != HS_OK)
        return oom(err);
    struct inv_write *w = &v->edits[v->n_edits];
    memset(w, 0, sizeof *w);
    w->deal = deal;
    w->link_id = link_id;
    if ((w->acc_id = hs_strdup(acc_id)) == NULL)
        return oom(err);
    v->n_edits++;
    return HS_OK;
}

/* Is the won deal in the flow's filter (besides dealstage)? why says which clause refused it. */
static int in_filter(struct inv *v, const struct hs_record *deal, bool *in, char *why, size_t len,
                     struct hs_error *err)
{
    const struct hs_record *recs[3] = {NULL, NULL, NULL};
    recs[HS_SIDE_CRM] = deal;
    int rc = eng_filter_check(eng_invoice_filter(v->e), recs, HS_SIDE_CRM, false, in, why, len);
    return rc != HS_OK ? oom(err) : HS_OK;
}

/*
 * A won deal outside the filter: not invoiced; one already invoiced keeps its invoice and its
 * payment status (the invoice exists and is still paid or not), but deal edits no longer
 * reach it. Reported as skipped, and anything it waited for is settled.
 */
static int outside_filter(struct inv *v, const struct hs_record *deal, const char *acc_id,
                          int64_t link_id, const char *why, struct hs_error *err)
{
    char msg[MSG_LEN + 512];
    if (acc_id != NULL)
        snprintf(msg, sizeof msg,
                 "deal '%.200s' is no longer synced to its invoice: it left the filter (%s); the "
                 "invoice stays and its payment status is still written back",
                 deal_label(deal), why);
    else
        snprintf(msg, sizeof msg, "deal '%.200s' skipped: outside the filter (%s)",
                 deal_label(deal), why);
    int rc = eng_action(v->e, HS_ENGINE_SKIPPED, v->flow, HS_KIND_INVOICE, HS_SIDE_CRM, deal->id,
                        acc_id, NULL, msg, err);
    if (rc == HS_OK)
        rc = settle(v, deal->id, err);
    if (rc == HS_OK && acc_id != NULL)
        rc = status_add(v, acc_id, NULL, deal, link_id, err);
    return rc;
}

static int classify(struct inv *v, const struct deal_ref *deals, size_t n, struct hs_error *err)
{
    int rc = HS_OK;
    for (size_t i = 0; i < n && rc == HS_OK; i++) {
        const struct hs_record *deal = deals[i].deal;
        if (!stage_won(v, deal)) {
            rc = settle(v, deal->id, err); /* nothing to invoice: nothing waits */
            continue;
        }
        bool in = true;
        char why[384];
        rc = in_filter(v, deal, &in, why, sizeof why, err);
        char *acc_id = NULL;
        int64_t link_id = 0;
        if (rc == HS_OK)
            rc = linked(v, "invoice", HS_STORE_CRM, deal->id, &acc_id, &link_id, err);
        if (rc == HS_OK && !in) {
            rc = outside_filter(v, deal, acc_id, link_id, why, err);
        } else if (rc == HS_OK && acc_id != NULL) {
            rc = deal_linked(v, deal, acc_id, link_id, err);
        } else if (rc == HS_OK) {
            struct hs_record *rec = NULL;
            rc = build(v, deal, &rec, err);
            if (rc == HS_OK && rec != NULL) {
                if (grow((void **)&v->creates, &v->cap_creates, v->n_creates, sizeof *v->creates) !=
                    HS_OK) {
                    hs_record_free(rec);
                    rc = oom(err);
                } else {
                    struct inv_write *w = &v->creates[v->n_creates++];
                    memset(w, 0, sizeof *w);
                    w->deal = deal;
                    w->rec = rec;
                    hs_engine_idem_key(v->flow, HS_SIDE_ACCOUNTING, deal->id, w->key);
                }
            }
        }
        hs_free(acc_id);
        eng_progress(v->e, "invoices", i + 1, n);
    }
    return rc;
}

/* ---- 2. creates -------------------------------------------------------------------------- */

/* A batch of writes that eng_write stopped part-way: its failure, kept while the answered
 * writes are committed. */
struct stop {
    int rc;
    struct hs_error err;
};

/* Keeps eng_write's result rc (err) in *s and returns HS_OK: the writes it answered are
 * committed (those it did not send have status ENG_UNSENT), then resume() returns rc. */
static int stopped(struct stop *s, int rc, struct hs_error *err)
{
    s->rc = rc;
    if (rc != HS_OK && err != NULL)
        s->err = *err;
    return HS_OK;
}

/* After the commits (rc): their failure if any, else the kept failure of the writes. */
static int resume(const struct stop *s, int rc, struct hs_error *err)
{
    if (rc != HS_OK || s->rc == HS_OK)
        return rc;
    if (err != NULL)
        *err = s->err;
    return s->rc;
}

/* Ends the transaction a batch's commits nest in: commit when all went well, else roll back
 * (the provider's side is healed by intents and re-merges on the next pass). */
static int end_outer(struct inv *v, bool outer, int rc, struct hs_error *err)
{
    if (!outer)
        return rc;
    if (rc == HS_OK)
        return hs_store_commit(v->cfg->store, err);
    (void)hs_store_rollback(v->cfg->store, NULL);
    return rc;
}

static int store_intents(struct inv *v, struct hs_error *err)
{
    struct hs_store *st = v->cfg->store;
    int rc = hs_store_begin(st, err);
    for (size_t i = 0; i < v->n_creates && rc == HS_OK; i++) {
        int r = hs_store_intent_put(st, v->creates[i].key, "invoice", HS_STORE_ACCOUNTING,
                                    v->creates[i].deal->id, err);
        v->creates[i].retry = r == 0;
        rc = r < 0 ? r : HS_OK;
        if (v->creates[i].retry)
            rc = hs_store_intent_get(st, v->creates[i].key, &v->creates[i].retry_since, err);
    }
    if (rc == HS_OK)
        return hs_store_commit(st, err);
    (void)hs_store_rollback(st, NULL);
    return rc;
}

/* Audit paths of a created or updated invoice: what a finance user checks. */
static const char *const audit_paths[] = {"number", "customer_ref", "currency",
                                          "total",  "due_date",     "tax"};

/* Link, fingerprint, intent removal, mirror and audit of one created invoice. */
static int commit_create(struct inv *v, const struct inv_write *c, const struct hs_record *ans,
                         int64_t *link_id, struct hs_error *err)
{
    struct hs_store *st = v->cfg->store;
    char fp[HS_HASH_HEX];
    struct hs_fields view;
    hs_fields_init(&view);
    int rc = source_hash(c->deal, fp, err);
    if (rc == HS_OK && hs_record_to_fields(ans, &view, NULL) != HS_OK)
        rc = oom(err);
    if (rc == HS_OK)
        rc = hs_store_begin(st, err);
    if (rc != HS_OK) {
        hs_fields_release(&view);
        return rc;
    }
    rc = hs_store_link_create(st, v->cfg->crm.conn_id, v->cfg->accounting.conn_id, "invoice",
                              c->deal->id, ans->id, link_id, err);
    if (rc == HS_OK)
        rc = hs_store_base_put(st, *link_id, HS_STORE_CRM, "{}", fp, err);
    if (rc == HS_OK)
        rc = hs_store_intent_delete(st, c->key, err);
    if (rc == HS_OK)
        rc = eng_mirror_put(v->e, HS_SIDE_ACCOUNTING, ans, ans->id, err);
    if (rc == HS_OK)
        rc = eng_audit(v->e, v->flow, HS_KIND_INVOICE, "create", HS_SIDE_ACCOUNTING, ans->id,
                       c->deal->id, NULL, audit_paths, sizeof audit_paths / sizeof *audit_paths,
                       &view, err);
    hs_fields_release(&view);
    if (rc == HS_OK)
        return hs_store_commit(st, err);
    (void)hs_store_rollback(st, NULL);
    return rc;
}

static int send_creates(struct inv *v, struct hs_error *err)
{
    if (v->n_creates == 0)
        return HS_OK;
    char msg[MSG_LEN], total[HS_MONEY_FMT_MAX + 8];
    if (v->dry) {
        for (size_t i = 0; i < v->n_creates; i++) {
            const struct inv_write *c = &v->creates[i];
            money_text(&c->rec->invoice.total, total, sizeof total);
            snprintf(msg, sizeof msg, "deal '%s' is closed won: an invoice of %s would be created",
                     deal_label(c->deal), total);
            int rc = eng_action(v->e, HS_ENGINE_CREATE, v->flow, HS_KIND_INVOICE, HS_SIDE_CRM,
                                c->deal->id, NULL, NULL, msg, err);
            if (rc != HS_OK)
                return rc;
        }
        return HS_OK;
    }
    int rc = store_intents(v, err);
    if (rc != HS_OK)
        return rc;
    struct hs_write *w = hs_calloc(v->n_creates, sizeof *w);
    if (w == NULL)
        return oom(err);
    for (size_t i = 0; i < v->n_creates; i++) {
        w[i].op = HS_WRITE_CREATE;
        w[i].record = v->creates[i].rec;
        w[i].idem_key = v->creates[i].key;
        w[i].retry = v->creates[i].retry;
        w[i].retry_since_ms = v->creates[i].retry_since;
    }
    struct stop stop = {0};
    rc = stopped(&stop, eng_write(v->e, HS_SIDE_ACCOUNTING, HS_KIND_INVOICE, w, v->n_creates, err),
                 err);
    /* each answer's transaction nests in one for all: one sync to disk */
    bool outer = rc == HS_OK;
    if (outer)
        rc = hs_store_begin(v->cfg->store, err);
    for (size_t i = 0; i < v->n_creates && rc == HS_OK; i++) {
        const struct inv_write *c = &v->creates[i];
        if (w[i].status == ENG_UNSENT)
            continue; /* not sent: its intent stays, the deal stays pending */
        struct hs_record *ans = w[i].result;
        w[i].result = NULL;
        if (w[i].status != HS_OK || ans == NULL || ans->id == NULL) {
            snprintf(msg, sizeof msg, "deal '%s': %s refused the invoice: %s", deal_label(c->deal),
                     v->provider, w[i].status != HS_OK ? w[i].msg : "no id in its answer");
            hs_record_free(ans);
            rc = deal_error(v, c->deal->id, NULL, msg, err);
            continue;
        }
        if (own(v, ans) != HS_OK) {
            rc = oom(err);
            break;
        }
        int64_t link_id = 0;
        rc = commit_create(v, c, ans, &link_id, err);
        if (rc == HS_EEXIST) {
            /* the provider answered with an invoice another deal is linked to (a retried
             * create whose lookup found one alike, or a link made meanwhile): a person
             * decides; the intent stays, nothing is linked twice */
            char why[HS_ERRMSG_MAX];
            snprintf(why, sizeof why, "%s", err != NULL ? err->msg : "already linked");
            hs_error_clear(err);
            snprintf(msg, sizeof msg,
                     "deal '%.60s': %.24s answered with invoice %.40s, but %.150s; check in "
                     "%.24s whether this deal was invoiced%s",
                     deal_label(c->deal), v->provider,
                     ans->invoice.number != NULL ? ans->invoice.number : ans->id, why, v->provider,
                     c->retry ? " (an earlier attempt was cut off)" : "");
            rc = deal_error(v, c->deal->id, ans->id, msg, err);
            continue;
        }
        if (rc == HS_OK) {
            money_text(&ans->invoice.total, total, sizeof total);
            snprintf(msg, sizeof msg, "deal '%s' is closed won: invoice %s of %s created",
                     deal_label(c->deal),
                     ans->invoice.number != NULL ? ans->invoice.number : ans->id, total);
            rc = eng_action(v->e, HS_ENGINE_CREATE, v->flow, HS_KIND_INVOICE, HS_SIDE_CRM,
                            c->deal->id, ans->id, NULL, msg, err);
        }
        if (rc == HS_OK)
            rc = settle(v, c->deal->id, err);
        if (rc == HS_OK)
            rc = status_add(v, ans->id, ans, c->deal, link_id, err);
    }
    rc = resume(&stop, end_outer(v, outer, rc, err), err);
    for (size_t i = 0; i < v->n_creates; i++)
        hs_record_free(w[i].result);
    hs_free(w);
    return rc;
}

/* ---- 3. invoices at hand ----------------------------------------------------------------- */

static int load_mirror(struct inv *v, const char *acc_id, struct hs_record **out,
                       struct hs_error *err)
{
    *out = NULL;
    struct hs_store_doc doc;
    memset(&doc, 0, sizeof doc);
    int rc = hs_store_mirror_get(v->cfg->store, v->cfg->accounting.conn_id, "invoice", acc_id, &doc,
                                 err);
    if (rc == HS_ENOTFOUND) {
        hs_error_clear(err);
        return HS_OK;
    }
    if (rc != HS_OK)
        return rc;
    struct hs_record *r = NULL;
    if (hs_record_from_json((const uint8_t *)doc.json, strlen(doc.json), &r, NULL) != HS_OK)
        r = NULL; /* unreadable: read it again from the provider */
    hs_store_doc_release(&doc);
    *out = r;
    return HS_OK;
}

/* Every status without its invoice gets it from the mirror, else from one batch read. */
static int fill_invoices(struct inv *v, struct hs_error *err)
{
    char **ids = NULL;
    size_t *at = NULL, n = 0;
    int rc = HS_OK;
    if (v->n_statuses > 0) {
        ids = hs_calloc(v->n_statuses, sizeof *ids);
        at = hs_calloc(v->n_statuses, sizeof *at);
        if (ids == NULL || at == NULL)
            rc = oom(err);
    }
    for (size_t i = 0; i < v->n_statuses && rc == HS_OK; i++) {
        struct status *s = &v->statuses[i];
        if (s->acc != NULL)
            continue;
        struct hs_record *r = NULL;
        rc = load_mirror(v, s->acc_id, &r, err);
        if (rc == HS_OK && r != NULL) {
            if (own(v, r) != HS_OK)
                rc = oom(err);
            else
                s->acc = r;
        } else if (rc == HS_OK) {
            ids[n] = s->acc_id;
            at[n++] = i;
        }
    }
    struct hs_record **recs = NULL;
    if (rc == HS_OK && n > 0) {
        recs = hs_calloc(n, sizeof(struct hs_record *));
        if (recs == NULL)
            rc = oom(err);
        if (rc == HS_OK)
            rc = eng_read(v->e, HS_SIDE_ACCOUNTING, HS_KIND_INVOICE, ids, n, recs, err);
        for (size_t i = 0; recs != NULL && i < n; i++) {
            if (rc == HS_OK && recs[i] != NULL && !v->dry)
                rc = eng_mirror_put(v->e, HS_SIDE_ACCOUNTING, recs[i], recs[i]->id, err);
            if (rc == HS_OK && recs[i] != NULL) {
                if (own(v, recs[i]) != HS_OK) /* own() frees it on failure */
                    rc = oom(err);
                else
                    v->statuses[at[i]].acc = recs[i];
            } else {
                hs_record_free(recs[i]);
            }
            recs[i] = NULL;
        }
    }
    hs_free(recs);
    hs_free(ids);
    hs_free(at);
    return rc;
}

/* The link of every status whose deal is not known yet; invoices we did not make are dropped
 * (acc_id NULL). */
static int fill_links(struct inv *v, struct hs_error *err)
{
    for (size_t i = 0; i < v->n_statuses; i++) {
        struct status *s = &v->statuses[i];
        if (s->deal_id != NULL && s->link_id != 0)
            continue;
        char *deal_id = NULL;
        int64_t link_id = 0;
        int rc = linked(v, "invoice", HS_STORE_ACCOUNTING, s->acc_id, &deal_id, &link_id, err);
        if (rc != HS_OK)
            return rc;
        if (deal_id == NULL) {
            s->link_id = -1; /* not ours */
            continue;
        }
        hs_free(s->deal_id);
        s->deal_id = deal_id;
        s->link_id = link_id;
    }
    return HS_OK;
}

/* ---- 2b. deal edits after invoicing ------------------------------------------------------ */

static bool edit_allowed(const struct inv *v, const struct hs_record *acc, const char **why)
{
    switch (v->iv->updates) {
    case HS_ENGINE_INVOICE_UPDATES_DRAFT_ONLY:
        *why = "it is no longer a draft (invoice_updates: draft_only)";
        return acc->invoice.status == HS_INVOICE_DRAFT;
    case HS_ENGINE_INVOICE_UPDATES_UNPAID: {
        *why = "a payment was recorded against it (invoice_updates: unpaid)";
        if (acc->invoice.status == HS_INVOICE_VOID) {
            *why = "it is void (invoice_updates: unpaid)";
            return false;
        }
        const struct hs_money *p = &acc->invoice.amount_paid;
        bool paid = p->currency[0] != '\0' && p->minor != 0;
        if (acc->invoice.balance.currency[0] != '\0' && acc->invoice.total.currency[0] != '\0' &&
            acc->invoice.balance.minor != acc->invoice.total.minor)
            paid = true;
        return !paid && acc->invoice.status != HS_INVOICE_PAID &&
               acc->invoice.status != HS_INVOICE_PARTIALLY_PAID;
    }
    case HS_ENGINE_INVOICE_UPDATES_NEVER:
    default:
        *why = "invoices are not updated (invoice_updates: never)";
        return false;
    }
}

static int edit_conflict(struct inv *v, const struct inv_write *ed, const char *why,
                         struct hs_error *err)
{
    char msg[MSG_LEN];
    snprintf(msg, sizeof msg,
             "deal '%s' changed after its invoice was created in %s; the invoice was left alone "
             "because %s: change the invoice in %s or settle this conflict",
             deal_label(ed->deal), v->provider, why, v->provider);
    int rc = eng_action(v->e, HS_ENGINE_CONFLICT, v->flow, HS_KIND_INVOICE, HS_SIDE_CRM,
                        ed->deal->id, ed->acc_id, "lines", msg, err);
    if (rc != HS_OK || v->dry)
        return rc;
    struct hs_store_item it = {.kind = HS_STORE_ITEM_CONFLICT,
                               .flow = (char *)v->flow,
                               .object = (char *)"invoice",
                               .side = HS_STORE_CRM,
                               .remote_id = ed->deal->id,
                               .other_id = ed->acc_id,
                               .field = (char *)"lines",
                               .message = msg};
    return hs_store_item_raise(v->cfg->store, &it, NULL, err);
}

static int commit_edit(struct inv *v, const struct inv_write *ed, const struct hs_record *ans,
                       const struct hs_record *before, struct hs_error *err)
{
    struct hs_store *st = v->cfg->store;
    char fp[HS_HASH_HEX];
    struct hs_fields view, old;
    hs_fields_init(&view);
    hs_fields_init(&old);
    int rc = source_hash(ed->deal, fp, err);
    if (rc == HS_OK && (hs_record_to_fields(ans, &view, NULL) != HS_OK ||
                        (before != NULL && hs_record_to_fields(before, &old, NULL) != HS_OK)))
        rc = oom(err);
    if (rc == HS_OK)
        rc = hs_store_begin(st, err);
    if (rc == HS_OK) {
        rc = hs_store_base_put(st, ed->link_id, HS_STORE_CRM, "{}", fp, err);
        if (rc == HS_OK)
            rc = eng_mirror_put(v->e, HS_SIDE_ACCOUNTING, ans, ans->id, err);
        if (rc == HS_OK)
            rc = eng_audit(v->e, v->flow, HS_KIND_INVOICE, "update", HS_SIDE_ACCOUNTING, ans->id,
                           ed->deal->id, &old, audit_paths,
                           sizeof audit_paths / sizeof *audit_paths, &view, err);
        if (rc == HS_OK)
            rc = hs_store_commit(st, err);
        else
            (void)hs_store_rollback(st, NULL);
    }
    hs_fields_release(&view);
    hs_fields_release(&old);
    return rc;
}

/* Edited deals: rebuild and update the invoice where invoice_updates allows, else conflict. */
static int send_edits(struct inv *v, struct hs_error *err)
{
    size_t n = 0;
    int rc = HS_OK;
    struct hs_write *w = v->n_edits > 0 ? hs_calloc(v->n_edits, sizeof *w) : NULL;
    struct inv_write **which =
        v->n_edits > 0 ? hs_calloc(v->n_edits, sizeof(struct inv_write *)) : NULL;
    if (v->n_edits > 0 && (w == NULL || which == NULL))
        rc = oom(err);
    for (size_t i = 0; i < v->n_edits && rc == HS_OK; i++) {
        struct inv_write *ed = &v->edits[i];
        struct status *s = NULL;
        rc = status_of(v, ed->acc_id, &s, err);
        if (rc != HS_OK)
            break;
        const char *why = NULL;
        if (s->acc == NULL) {
            char msg[MSG_LEN];
            snprintf(msg, sizeof msg, "deal '%s': its invoice '%s' no longer exists in %s",
                     deal_label(ed->deal), ed->acc_id, v->provider);
            rc = deal_error(v, ed->deal->id, ed->acc_id, msg, err);
            continue;
        }
        if (!edit_allowed(v, s->acc, &why)) {
            rc = edit_conflict(v, ed, why, err);
            continue;
        }
        rc = build(v, ed->deal, &ed->rec, err);
        if (rc != HS_OK || ed->rec == NULL)
            continue;
        if (hs_record_set_str(&ed->rec->id, ed->acc_id) != HS_OK)
            rc = oom(err);
        for (size_t m = 0; m < s->acc->meta.n_items && rc == HS_OK; m++)
            if (hs_fields_set(&ed->rec->meta, s->acc->meta.items[m].name,
                              s->acc->meta.items[m].value) != HS_OK)
                rc = oom(err);
        if (rc != HS_OK)
            break;
        if (v->dry) {
            char msg[MSG_LEN];
            snprintf(msg, sizeof msg, "deal '%s' changed: its invoice %s would be updated",
                     deal_label(ed->deal), ed->acc_id);
            rc = eng_action(v->e, HS_ENGINE_UPDATE, v->flow, HS_KIND_INVOICE, HS_SIDE_CRM,
                            ed->deal->id, ed->acc_id, "lines", msg, err);
            continue;
        }
        w[n].op = HS_WRITE_UPDATE;
        w[n].record = ed->rec;
        which[n++] = ed;
    }
    struct stop stop = {0};
    if (rc == HS_OK && n > 0)
        rc = stopped(&stop, eng_write(v->e, HS_SIDE_ACCOUNTING, HS_KIND_INVOICE, w, n, err), err);
    for (size_t i = 0; i < n && rc == HS_OK; i++) {
        struct inv_write *ed = which[i];
        char msg[MSG_LEN];
        if (w[i].status == ENG_UNSENT)
            continue; /* not sent: the deal stays pending */
        struct hs_record *ans = w[i].result;
        w[i].result = NULL;
        if (w[i].status != HS_OK || ans == NULL || ans->id == NULL) {
            snprintf(msg, sizeof msg, "deal '%s': %s refused the update of invoice %s: %s",
                     deal_label(ed->deal), v->provider, ed->acc_id,
                     w[i].status != HS_OK ? w[i].msg : "no id in its answer");
            hs_record_free(ans);
            rc = deal_error(v, ed->deal->id, ed->acc_id, msg, err);
            continue;
        }
        if (own(v, ans) != HS_OK) {
            rc = oom(err);
            break;
        }
        struct status *s = NULL;
        rc = status_of(v, ed->acc_id, &s, err);
        if (rc == HS_OK)
            rc = commit_edit(v, ed, ans, s->acc, err);
        if (rc == HS_OK) {
            s->acc = ans;
            snprintf(msg, sizeof msg, "deal '%s' changed: invoice %s updated from it",
                     deal_label(ed->deal),
                     ans->invoice.number != NULL ? ans->invoice.number : ans->id);
            rc = eng_action(v->e, HS_ENGINE_UPDATE, v->flow, HS_KIND_INVOICE, HS_SIDE_CRM,
                            ed->deal->id, ans->id, "lines", msg, err);
        }
        if (rc == HS_OK)
            rc = settle(v, ed->deal->id, err);
    }
    rc = resume(&stop, rc, err);
    for (size_t i = 0; i < n; i++)
        hs_record_free(w[i].result);
    hs_free(w);
    hs_free(which);
    return rc;
}

/* ---- 4. payment status -> deal ------------------------------------------------------------ */

/* Once per day of the env clock: every linked invoice is evaluated (overdue by time). */
struct clock_scan {
    struct inv *v;
    int rc;
    struct hs_error *err;
};

static int clock_cb(void *ud, const struct hs_store_link *l)
{
    struct clock_scan *c = ud;
    if (hs_fields_get(&c->v->done, l->acc_id) != NULL)
        return 0;
    struct status *s = NULL;
    c->rc = status_of(c->v, l->acc_id, &s, c->err);
    if (c->rc != HS_OK)
        return 1;
    if (s->deal_id == NULL && (s->deal_id = hs_strdup(l->crm_id)) == NULL) {
        c->rc = oom(c->err);
        return 1;
    }
    s->link_id = l->id;
    return 0;
}

static int clock_scan(struct inv *v, bool *due, struct hs_error *err)
{
    *due = false;
    char *day = NULL;
    int rc =
        hs_store_cursor_get(v->cfg->store, v->cfg->accounting.conn_id, CLOCK_CURSOR, &day, err);
    if (rc == HS_ENOTFOUND) {
        hs_error_clear(err);
        rc = HS_OK;
    }
    if (rc != HS_OK)
        return rc;
    bool same = day != NULL && strcmp(day, v->today_text) == 0;
    hs_free(day);
    if (same)
        return HS_OK;
    *due = true;
    struct clock_scan c = {.v = v, .err = err};
    rc = hs_store_link_each(v->cfg->store, v->cfg->crm.conn_id, v->cfg->accounting.conn_id,
                            "invoice", clock_cb, &c, err);
    if (c.rc != HS_OK)
        return c.rc;
    return rc;
}

/* The fields to write to the deal for one invoice into want (the status, amounts, number, URL
 * and the last payment date: the later of what we wrote before and this pass's payments). */
static int wanted(struct inv *v, const struct hs_record *acc, const struct hs_fields *before,
                  struct hs_fields *want, char *msg, size_t msg_len, struct hs_error *err)
{
    struct hs_invoice_payment_status st;
    struct hs_error derr;
    hs_error_clear(&derr);
    int rc = hs_invoice_payment_status_derive(acc, (const struct hs_record *const *)v->payments,
                                              v->n_payments, v->today, &st, &derr);
    if (rc == HS_ENOMEM)
        return oom(err);
    if (rc != HS_OK) {
        snprintf(msg, msg_len, "the payment status of invoice '%s' is unknown: %s",
                 acc->id != NULL ? acc->id : "?", derr.msg);
        return HS_EINVAL; /* record-level: the caller raises an error item */
    }
    struct hs_record *r = NULL;
    rc = hs_record_new(HS_KIND_INVOICE, &r);
    if (rc == HS_OK) {
        r->invoice.status = st.status;
        r->invoice.amount_paid = st.amount_paid;
        r->invoice.balance = st.amount_due;
        rc = hs_record_set_str(&r->invoice.number, acc->invoice.number);
    }
    const char *url = hs_fields_get(&acc->meta, META_URL);
    if (rc == HS_OK && url != NULL)
        rc = hs_fields_set(&r->external_refs, INVOICE_URL, url);
    if (rc == HS_OK)
        rc = hs_record_to_fields(r, want, NULL);
    hs_record_free(r);
    char date[11] = "";
    if (st.last_payment_date.year != 0)
        hs_date_format(st.last_payment_date, date);
    const char *had = before != NULL ? hs_fields_get(before, LAST_PAID) : NULL;
    if (had != NULL && strlen(had) == 10 && (date[0] == '\0' || strcmp(had, date) > 0))
        snprintf(date, sizeof date, "%s", had); /* ISO dates compare as text */
    if (rc == HS_OK && date[0] != '\0')
        rc = hs_fields_set(want, LAST_PAID, date);
    return rc == HS_OK ? HS_OK : oom(err);
}

struct backwrite {
    struct status *s;
    struct hs_record *rec;
    const char **paths;
    size_t n_paths;
    struct hs_fields want;
    struct hs_fields before;
    char fields[512];
};

static void backwrite_release(struct backwrite *b)
{
    hs_record_free(b->rec);
    hs_free(b->paths);
    hs_fields_release(&b->want);
    hs_fields_release(&b->before);
}

static int load_written(struct inv *v, int64_t link_id, struct hs_fields *out, struct hs_error *err)
{
    struct hs_store_doc doc;
    memset(&doc, 0, sizeof doc);
    int rc = hs_store_base_get(v->cfg->store, link_id, HS_STORE_ACCOUNTING, &doc, err);
    if (rc == HS_ENOTFOUND) {
        hs_error_clear(err);
        return HS_OK;
    }
    if (rc != HS_OK)
        return rc;
    struct hs_fields meta;
    hs_fields_init(&meta);
    rc = eng_fields_from_json(doc.json, out, &meta, err);
    hs_fields_release(&meta);
    hs_store_doc_release(&doc);
    return rc;
}

/* Decides the write-back of one status into b (b->n_paths 0: nothing to write). */
static int decide(struct inv *v, struct status *s, struct backwrite *b, struct hs_error *err)
{
    b->s = s;
    int rc = load_written(v, s->link_id, &b->before, err);
    if (rc != HS_OK)
        return rc;
    /* what the deal holds: the deal itself when this pass read it, else what we wrote */
    struct hs_fields have;
    hs_fields_init(&have);
    if (s->deal != NULL && hs_record_to_fields(s->deal, &have, NULL) != HS_OK) {
        hs_fields_release(&have);
        return oom(err);
    }
    const struct hs_fields *cmp = s->deal != NULL ? &have : &b->before;
    char msg[MSG_LEN], why[HS_ERRMSG_MAX + 64];
    rc = wanted(v, s->acc, &b->before, &b->want, why, sizeof why, err);
    if (rc == HS_EINVAL) {
        hs_fields_release(&have);
        snprintf(msg, sizeof msg, "deal '%s': %s", s->deal_id, why);
        return deal_error(v, s->deal_id, s->acc_id, msg, err);
    }
    if (rc == HS_OK) {
        b->paths = hs_calloc(hs_fields_count(&b->want) + 1, sizeof *b->paths);
        if (b->paths == NULL)
            rc = oom(err);
    }
    size_t pos = 0;
    const char *name, *value;
    while (rc == HS_OK && hs_fields_iter(&b->want, &pos, &name, &value)) {
        const char *cur = hs_fields_get(cmp, name);
        if (cur == NULL || strcmp(cur, value) != 0) {
            b->paths[b->n_paths++] = name;
            size_t l = strlen(b->fields);
            snprintf(b->fields + l, sizeof b->fields - l, "%s%s", l > 0 ? "," : "", name);
        }
    }
    if (rc == HS_OK && s->deal != NULL && b->n_paths > 0) {
        /* the audit's "before" is what the deal held */
        hs_fields_release(&b->before);
        pos = 0;
        while (rc == HS_OK && hs_fields_iter(&have, &pos, &name, &value))
            if (hs_fields_get(&b->want, name) != NULL &&
                hs_fields_set(&b->before, name, value) != HS_OK)
                rc = oom(err);
    }
    hs_fields_release(&have);
    if (rc != HS_OK || b->n_paths == 0)
        return rc;
    rc = hs_record_from_fields(HS_KIND_INVOICE, &b->want, &b->rec, NULL);
    if (rc == HS_OK && hs_record_set_str(&b->rec->id, s->deal_id) != HS_OK)
        rc = HS_ENOMEM;
    return rc == HS_OK ? HS_OK : oom(err);
}

static int commit_backwrite(struct inv *v, const struct backwrite *b, struct hs_error *err)
{
    char *json = NULL;
    if (eng_fields_to_json(&b->want, NULL, NULL, &json) != HS_OK)
        return oom(err);
    struct hs_store *st = v->cfg->store;
    int rc = hs_store_begin(st, err);
    if (rc == HS_OK)
        rc = hs_store_base_put(st, b->s->link_id, HS_STORE_ACCOUNTING, json, NULL, err);
    if (rc == HS_OK)
        rc = eng_audit(v->e, v->payflow, HS_KIND_INVOICE, "update", HS_SIDE_CRM, b->s->deal_id,
                       b->s->acc_id, &b->before, b->paths, b->n_paths, &b->want, err);
    hs_free(json);
    if (rc == HS_OK)
        return hs_store_commit(st, err);
    (void)hs_store_rollback(st, NULL);
    return rc;
}

static int write_statuses(struct inv *v, struct hs_error *err)
{
    if (v->iv->no_payments || v->n_statuses == 0)
        return HS_OK;
    struct backwrite *bw = hs_calloc(v->n_statuses, sizeof *bw);
    struct hs_write *w = hs_calloc(v->n_statuses, sizeof *w);
    size_t n = 0;
    int rc = bw != NULL && w != NULL ? HS_OK : oom(err);
    for (size_t i = 0; i < v->n_statuses && rc == HS_OK; i++) {
        struct status *s = &v->statuses[i];
        if (s->link_id <= 0 || s->deal_id == NULL)
            continue; /* not an invoice we made */
        if (s->acc == NULL) {
            char msg[MSG_LEN];
            snprintf(msg, sizeof msg, "deal '%s': its invoice '%s' no longer exists in %s",
                     s->deal_id, s->acc_id, v->provider);
            rc = deal_error(v, s->deal_id, s->acc_id, msg, err);
            continue;
        }
        struct backwrite *b = &bw[n];
        hs_fields_init(&b->want);
        hs_fields_init(&b->before);
        rc = decide(v, s, b, err);
        if (rc != HS_OK || b->n_paths == 0) {
            backwrite_release(b);
            memset(b, 0, sizeof *b);
            continue;
        }
        w[n].op = HS_WRITE_UPDATE;
        w[n].record = b->rec;
        w[n].fields = b->paths;
        w[n].n_fields = b->n_paths;
        n++;
    }
    struct stop stop = {0};
    if (rc == HS_OK && n > 0)
        rc = stopped(&stop, eng_write(v->e, HS_SIDE_CRM, HS_KIND_INVOICE, w, n, err), err);
    bool outer = rc == HS_OK && n > 0 && !v->dry;
    if (outer)
        rc = hs_store_begin(v->cfg->store, err);
    for (size_t i = 0; i < n && rc == HS_OK; i++) {
        const struct backwrite *b = &bw[i];
        const struct status *s = b->s;
        char msg[MSG_LEN];
        if (!v->dry && w[i].status == ENG_UNSENT)
            continue; /* not sent: written back by a later pass */
        if (!v->dry && w[i].status != HS_OK) {
            snprintf(msg, sizeof msg, "deal '%s': invoice status was not written back: %s",
                     s->deal_id, w[i].msg);
            rc = deal_error(v, s->deal_id, s->acc_id, msg, err);
            continue;
        }
        if (!v->dry)
            rc = commit_backwrite(v, b, err);
        if (rc == HS_OK)
            rc = settle(v, s->deal_id, err);
        const char *st = hs_fields_get(&b->want, "status");
        snprintf(msg, sizeof msg, "invoice %s is %s%s",
                 s->acc->invoice.number != NULL ? s->acc->invoice.number : s->acc_id,
                 st != NULL ? st : "?", v->dry ? ": the deal would be updated" : "");
        if (rc == HS_OK)
            rc = eng_action(v->e, HS_ENGINE_UPDATE, v->payflow, HS_KIND_INVOICE, HS_SIDE_ACCOUNTING,
                            s->acc_id, s->deal_id, b->fields, msg, err);
    }
    rc = resume(&stop, end_outer(v, outer, rc, err), err);
    for (size_t i = 0; i < n; i++) {
        hs_record_free(w[i].result);
        backwrite_release(&bw[i]);
    }
    hs_free(w);
    hs_free(bw);
    return rc;
}

/* ---- the step ----------------------------------------------------------------------------- */

static struct eng_group *group_of(struct eng_group *g, size_t n, enum hs_kind kind,
                                  enum hs_side side)
{
    for (size_t i = 0; i < n; i++)
        if (g[i].kind == kind && g[i].side == side)
            return &g[i];
    return NULL;
}

/* Forgets what one chunk decided (records, statuses, writes), keeping the arrays. */
static void chunk_reset(struct inv *v)
{
    for (size_t i = 0; i < v->n_owned; i++)
        hs_record_free(v->owned[i]);
    v->n_owned = 0;
    for (size_t i = 0; i < v->n_statuses; i++)
        if (hs_fields_set(&v->done, v->statuses[i].acc_id, "") != HS_OK)
            v->done_rc = HS_ENOMEM;
    for (size_t i = 0; i < v->n_statuses; i++) {
        hs_free(v->statuses[i].acc_id);
        hs_free(v->statuses[i].deal_id);
    }
    v->n_statuses = 0;
    hs_fields_release(&v->status_index);
    for (size_t i = 0; i < v->n_creates; i++)
        hs_record_free(v->creates[i].rec);
    v->n_creates = 0;
    for (size_t i = 0; i < v->n_edits; i++) {
        hs_record_free(v->edits[i].rec);
        hs_free(v->edits[i].acc_id);
    }
    v->n_edits = 0;
    item_ids_clear(v);
}

static void inv_release(struct inv *v)
{
    chunk_reset(v);
    hs_free(v->owned);
    hs_free(v->statuses);
    hs_free(v->creates);
    hs_free(v->edits);
    hs_free(v->item_ids);
    hs_free(v->payments);
    hs_fields_release(&v->done);
    hs_fields_release(&v->planned);
    for (size_t i = 0; i < v->n_deals_owned; i++)
        hs_record_free(v->deals_owned[i]);
    hs_free(v->deals_owned);
}

/* The accounting side's payments of the pass (borrowed), for last payment dates. */
static int feed_payments(struct inv *v, const struct eng_group *gp, struct hs_error *err)
{
    if (gp == NULL || gp->n == 0)
        return HS_OK;
    v->payments = hs_calloc(gp->n, sizeof(const struct hs_record *));
    if (v->payments == NULL)
        return oom(err);
    for (size_t i = 0; i < gp->n; i++)
        if (gp->recs[i] != NULL)
            v->payments[v->n_payments++] = gp->recs[i];
    return HS_OK;
}

/* Invoices read by the pass, and those the pass's payments were applied to. */
static int feed_statuses(struct inv *v, const struct eng_group *gi, const struct eng_group *gp,
                         struct hs_error *err)
{
    int rc = HS_OK;
    for (size_t i = 0; gi != NULL && i < gi->n && rc == HS_OK; i++)
        if (gi->recs[i] != NULL && gi->recs[i]->id != NULL)
            rc = status_add(v, gi->recs[i]->id, gi->recs[i], NULL, 0, err);
    for (size_t i = 0; gp != NULL && i < gp->n && rc == HS_OK; i++) {
        const struct hs_record *p = gp->recs[i];
        for (size_t a = 0; p != NULL && a < p->payment.n_applied && rc == HS_OK; a++)
            if (p->payment.applied[a].invoice_ref != NULL)
                rc = status_add(v, p->payment.applied[a].invoice_ref, NULL, NULL, 0, err);
    }
    return rc;
}

/* Steps 1-4 for deals[0..n) (one chunk), then what they decided is forgotten and the deals
 * the pass read are freed. */
static int run_chunk(struct inv *v, struct deal_ref *deals, size_t n, struct hs_error *err)
{
    int rc = classify(v, deals, n, err);
    if (rc == HS_OK)
        rc = send_creates(v, err);
    if (rc == HS_OK)
        rc = fill_invoices(v, err);
    if (rc == HS_OK)
        rc = send_edits(v, err);
    if (rc == HS_OK)
        rc = fill_links(v, err);
    if (rc == HS_OK)
        rc = write_statuses(v, err);
    chunk_reset(v);
    if (rc == HS_OK && v->done_rc != HS_OK)
        rc = oom(err);
    for (size_t i = 0; i < n; i++) {
        if (deals[i].slot != NULL) {
            hs_record_free(*deals[i].slot);
            *deals[i].slot = NULL;
        }
    }
    return rc;
}

int eng_invoices_run(struct hs_engine *e, struct eng_group *groups, size_t n_groups,
                     struct hs_error *err)
{
    struct inv v;
    memset(&v, 0, sizeof v);
    v.e = e;
    v.cfg = eng_config(e);
    v.iv = v.cfg->invoicing;
    v.dry = eng_dry(e);
    v.flow = v.iv->flow != NULL ? v.iv->flow : ENG_INVOICE_FLOW;
    v.payflow = v.iv->payments_flow != NULL ? v.iv->payments_flow : v.flow;
    v.provider = v.iv->provider != NULL ? v.iv->provider : "the accounting system";
    hs_fields_init(&v.status_index);
    hs_fields_init(&v.done);
    hs_fields_init(&v.planned);
    const struct hs_engine_side *crm = &v.cfg->crm, *acc = &v.cfg->accounting;
    unsigned want = 1u << HS_KIND_INVOICE;
    if ((crm->ops->kinds(crm->conn) & want) == 0 || (acc->ops->kinds(acc->conn) & want) == 0)
        return HS_OK;
    int rc =
        hs_invoice_date_from_ms(hs_env_now_ms(eng_env(e)), v.iv->utc_offset_minutes, &v.today, err);
    if (rc != HS_OK)
        return rc;
    hs_date_format(v.today, v.today_text);

    struct deal_ref *deals = NULL;
    size_t n_deals = 0;
    bool day_scan = false;
    const struct eng_group *gp = group_of(groups, n_groups, HS_KIND_PAYMENT, HS_SIDE_ACCOUNTING);
    rc = feed_payments(&v, gp, err);
    if (rc == HS_OK)
        rc = gather_deals(&v, group_of(groups, n_groups, HS_KIND_INVOICE, HS_SIDE_CRM), &deals,
                          &n_deals, err);
    /* deals in chunks of the engine's slice: one chunk's records only are held at a time */
    const size_t k = v.cfg->slice > 0 ? v.cfg->slice : n_deals + 1;
    for (size_t at = 0; at < n_deals && rc == HS_OK; at += k)
        rc = run_chunk(&v, deals + at, n_deals - at < k ? n_deals - at : k, err);
    /* the invoices that changed on the accounting side (a payment touches its invoice), those
     * the pass's payments name, and once a day every linked one */
    if (rc == HS_OK)
        rc = feed_statuses(&v, group_of(groups, n_groups, HS_KIND_INVOICE, HS_SIDE_ACCOUNTING), gp,
                           err);
    if (rc == HS_OK && !v.iv->no_payments)
        rc = clock_scan(&v, &day_scan, err);
    if (rc == HS_OK)
        rc = fill_invoices(&v, err);
    if (rc == HS_OK)
        rc = fill_links(&v, err);
    if (rc == HS_OK)
        rc = write_statuses(&v, err);
    if (rc == HS_OK && day_scan && !v.dry)
        rc = hs_store_cursor_set(v.cfg->store, acc->conn_id, CLOCK_CURSOR, v.today_text, err);
    hs_free(deals);
    inv_release(&v);
    return rc;
}
