/*
 * tests/unit/test_engine_invoices.c - closed-won deal -> exactly one invoice; payments -> deal.
 *
 * Design:     two fake connectors carrying only invoices: the CRM holds deals (closed-won
 *             deals with lines, customer_ref = company id, custom.dealstage), the accounting
 *             side holds invoices, honours idempotency keys on creates (a repeated key returns
 *             the first invoice), numbers them, puts a link in meta "url", and can lose the
 *             answer of a create (the crash between the provider's create and our link), and
 *             can refuse write calls after a number of them (a provider's day limit).
 *             Customer and item links are put in the SQLite store directly. The env clock is
 *             fake, so "overdue" is decided by moving it. Every test asserts on the fakes'
 *             contents (how many invoices exist, what the deal holds) and on the report.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/invoice.h"
#include "engine/engine.h"
#include "hoopsync/connector.h"
#include "hoopsync/model.h"
#include "hoopsync/store.h"
#include "store/sqlite.h"
#include "util/alloc.h"
#include "util/env.h"

#define KEY_A  "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define MAXREC 16

/* ---- the fake connector --------------------------------------------------------------- */

struct fake {
    enum hs_side side;
    struct hs_record *recs[MAXREC];
    char *keys[MAXREC]; /* idempotency key of recs[i] (accounting creates) */
    size_t n;
    int lose_answers; /* creates to make and then fail as a whole (no answer) */
    int creates;      /* records created */
    int updates;      /* records updated */
    int write_calls;  /* write() calls */
    bool day_limit;   /* write() calls are limited: calls_left more, then HS_ERATELIMIT */
    int calls_left;
    bool quiet;    /* changes() announces nothing */
    bool payments; /* the side carries payments too */
    int retries;   /* creates written with hs_write.retry (the intent was left over) */
    /* a retried create is answered with this record, as a connector's lookup that found an
     * invoice alike would (NULL: by its key, as per-record idempotency does) */
    const char *retry_answer;
};

struct hs_connector {
    struct fake *f;
};

static int fk_open(const struct hs_connector_config *cfg, struct hs_connector **out,
                   struct hs_error *err)
{
    (void)cfg;
    (void)out;
    return hs_error_set(err, HS_EUNSUPPORTED, "fake");
}

static void fk_close(struct hs_connector *c)
{
    (void)c;
}

static unsigned fk_kinds(const struct hs_connector *c)
{
    return (1u << HS_KIND_INVOICE) | (c->f->payments ? 1u << HS_KIND_PAYMENT : 0u);
}

static void fk_limits(const struct hs_connector *c, enum hs_kind kind,
                      struct hs_connector_limits *out)
{
    (void)c;
    (void)kind;
    memset(out, 0, sizeof *out);
    out->read_batch = 2;
    out->write_batch = 2;
}

static int find(const struct fake *f, const char *id)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->recs[i]->id, id) == 0)
            return (int)i;
    return -1;
}

static int find_kind(const struct fake *f, enum hs_kind kind, const char *id)
{
    int k = find(f, id);
    return k >= 0 && f->recs[k]->kind == kind ? k : -1;
}

static int fk_changes(struct hs_connector *c, enum hs_kind kind, const char *cursor,
                      struct hs_changes *out, struct hs_error *err)
{
    (void)cursor;
    (void)err;
    struct fake *f = c->f;
    memset(out, 0, sizeof *out);
    out->items = hs_calloc(f->n + 1, sizeof *out->items);
    assert_non_null(out->items);
    for (size_t i = 0; i < f->n && !f->quiet; i++) {
        if (f->recs[i]->kind != kind)
            continue;
        out->items[out->n_items].kind = kind;
        out->items[out->n_items].id = hs_strdup(f->recs[i]->id);
        out->n_items++;
    }
    out->cursor = hs_strdup("end");
    return HS_OK;
}

static int fk_read(struct hs_connector *c, enum hs_kind kind, const char *const *ids, size_t n,
                   struct hs_record **out, struct hs_error *err)
{
    (void)err;
    for (size_t i = 0; i < n; i++) {
        int k = find_kind(c->f, kind, ids[i]);
        out[i] = NULL;
        if (k >= 0)
            assert_int_equal(hs_record_clone(c->f->recs[k], &out[i]), HS_OK);
    }
    return HS_OK;
}

/* Copies the paths w->fields of w->record onto the stored record; no paths: the whole
 * record is replaced (an invoice keeps its number and link, and is open again). */
static void apply_update(struct fake *f, int k, const struct hs_write *w)
{
    if (w->n_fields == 0) {
        struct hs_record *n = NULL;
        assert_int_equal(hs_record_clone(w->record, &n), HS_OK);
        assert_int_equal(hs_record_set_str(&n->invoice.number, f->recs[k]->invoice.number), HS_OK);
        assert_int_equal(hs_fields_copy(&n->meta, &f->recs[k]->meta), HS_OK);
        n->invoice.status = HS_INVOICE_OPEN;
        n->invoice.balance = n->invoice.total;
        hs_record_free(f->recs[k]);
        f->recs[k] = n;
        f->updates++;
        return;
    }
    struct hs_fields have, src;
    hs_fields_init(&have);
    hs_fields_init(&src);
    assert_int_equal(hs_record_to_fields(f->recs[k], &have, NULL), HS_OK);
    assert_int_equal(hs_record_to_fields(w->record, &src, NULL), HS_OK);
    for (size_t i = 0; i < w->n_fields; i++) {
        const char *v = hs_fields_get(&src, w->fields[i]);
        if (v != NULL)
            assert_int_equal(hs_fields_set(&have, w->fields[i], v), HS_OK);
        else
            (void)hs_fields_remove(&have, w->fields[i]);
    }
    struct hs_record *n = NULL;
    struct hs_error err = {0};
    if (hs_record_from_fields(f->recs[k]->kind, &have, &n, &err) != HS_OK)
        fail_msg("fake update: %s", err.msg);
    assert_int_equal(hs_record_set_str(&n->id, f->recs[k]->id), HS_OK);
    assert_int_equal(hs_fields_copy(&n->meta, &f->recs[k]->meta), HS_OK);
    hs_record_free(f->recs[k]);
    f->recs[k] = n;
    hs_fields_release(&have);
    hs_fields_release(&src);
    f->updates++;
}

static int fk_write(struct hs_connector *c, enum hs_kind kind, struct hs_write *w, size_t n,
                    struct hs_error *err)
{
    (void)kind;
    struct fake *f = c->f;
    assert_true(n <= 2);                    /* the limit the fake announces */
    if (f->day_limit && f->calls_left == 0) /* a provider's day limit: nothing is sent */
        return hs_error_set(err, HS_ERATELIMIT, "the day's calls are spent: work resumes tomorrow");
    if (f->day_limit)
        f->calls_left--;
    f->write_calls++;
    for (size_t i = 0; i < n; i++) {
        w[i].status = HS_OK;
        w[i].result = NULL;
        if (w[i].op == HS_WRITE_UPDATE) {
            int k = find(f, w[i].record->id);
            assert_true(k >= 0);
            apply_update(f, k, &w[i]);
            assert_int_equal(hs_record_clone(f->recs[k], &w[i].result), HS_OK);
            continue;
        }
        assert_int_equal(f->side, HS_SIDE_ACCOUNTING);
        assert_non_null(w[i].idem_key);
        f->retries += w[i].retry;
        if (w[i].retry && f->retry_answer != NULL) {
            int r = find(f, f->retry_answer);
            assert_true(r >= 0);
            assert_int_equal(hs_record_clone(f->recs[r], &w[i].result), HS_OK);
            continue;
        }
        int k = -1;
        for (size_t j = 0; j < f->n; j++)
            if (strcmp(f->keys[j], w[i].idem_key) == 0)
                k = (int)j;
        if (k < 0) {
            assert_true(f->n < MAXREC);
            struct hs_record *r = NULL;
            assert_int_equal(hs_record_clone(w[i].record, &r), HS_OK);
            char buf[64];
            snprintf(buf, sizeof buf, "inv%zu", f->n + 1);
            assert_int_equal(hs_record_set_str(&r->id, buf), HS_OK);
            snprintf(buf, sizeof buf, "%zu", 1001 + f->n);
            assert_int_equal(hs_record_set_str(&r->invoice.number, buf), HS_OK);
            snprintf(buf, sizeof buf, "https://acc.example/invoice?txnId=inv%zu", f->n + 1);
            assert_int_equal(hs_fields_set(&r->meta, "url", buf), HS_OK);
            r->invoice.status = HS_INVOICE_OPEN;
            r->invoice.balance = r->invoice.total;
            k = (int)f->n;
            f->recs[f->n] = r;
            f->keys[f->n] = hs_strdup(w[i].idem_key);
            f->n++;
            f->creates++;
        }
        if (f->lose_answers > 0) {
            f->lose_answers--;
            return hs_error_set(err, HS_EIO, "fake: connection lost after the create");
        }
        assert_int_equal(hs_record_clone(f->recs[k], &w[i].result), HS_OK);
    }
    return HS_OK;
}

static const struct hs_connector_ops FAKE_CRM = {
    .provider = "fakecrm",
    .side = HS_SIDE_CRM,
    .open = fk_open,
    .close = fk_close,
    .kinds = fk_kinds,
    .limits = fk_limits,
    .changes = fk_changes,
    .read = fk_read,
    .write = fk_write,
};

static const struct hs_connector_ops FAKE_ACC = {
    .provider = "fakeacc",
    .side = HS_SIDE_ACCOUNTING,
    .open = fk_open,
    .close = fk_close,
    .kinds = fk_kinds,
    .limits = fk_limits,
    .changes = fk_changes,
    .read = fk_read,
    .write = fk_write,
};

static void fake_release(struct fake *f)
{
    for (size_t i = 0; i < f->n; i++) {
        hs_record_free(f->recs[i]);
        hs_free(f->keys[i]);
    }
    f->n = 0;
}

static struct hs_money usd(int64_t cents)
{
    struct hs_money m;
    struct hs_error err = {0};
    assert_int_equal(hs_money_from_minor(cents, "USD", &m, &err), HS_OK);
    return m;
}

/* A closed-won deal of company with two lines: 2 x 50.00 (P1) and 1 x 30.00 (P2). */
static void put_deal(struct fake *f, const char *id, const char *company, const char *stage)
{
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_INVOICE, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->id, id), HS_OK);
    assert_int_equal(hs_record_set_str(&r->invoice.memo, "Big Order"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->invoice.customer_ref, company), HS_OK);
    memcpy(r->invoice.currency, "USD", 4);
    assert_int_equal(hs_fields_set(&r->custom, "dealstage", stage), HS_OK);
    struct hs_error err = {0};
    struct hs_invoice_line *l = NULL;
    assert_int_equal(hs_record_add_line(r, &l), HS_OK);
    assert_int_equal(hs_record_set_str(&l->item_ref, "P1"), HS_OK);
    assert_int_equal(hs_decimal_from_int(2, &l->quantity, &err), HS_OK);
    l->has_quantity = true;
    l->unit_price = usd(5000);
    assert_int_equal(hs_record_add_line(r, &l), HS_OK);
    assert_int_equal(hs_record_set_str(&l->item_ref, "P2"), HS_OK);
    assert_int_equal(hs_decimal_from_int(1, &l->quantity, &err), HS_OK);
    l->has_quantity = true;
    l->unit_price = usd(3000);
    f->recs[f->n++] = r;
}

/* ---- fixture ---------------------------------------------------------------------------- */

struct fx {
    char dir[64];
    char path[128];
    int64_t now;
    struct hs_env env;
    struct hs_store *s;
    struct hs_config *cfg;
    struct fake crm, acc;
    struct hs_connector ccrm, cacc;
    struct hs_invoice_term terms[1];
    const char *stages[1];
    struct hs_engine_invoicing iv;
    struct hs_engine *e;
    size_t slice; /* hs_engine_config.slice (0: default) */
};

static int64_t fake_now(void *ud)
{
    return *(int64_t *)ud;
}

static uint64_t fake_rand(void *ud)
{
    (void)ud;
    return 4;
}

#define YAML_HEAD                                                                                  \
    "version: 1\n"                                                                                 \
    "store: sqlite:hoopsync.db\n"                                                                  \
    "connections:\n"                                                                               \
    "  crm: {provider: hubspot}\n"                                                                 \
    "  accounting: {provider: quickbooks}\n"                                                       \
    "flows:\n"
#define YAML_INVOICES YAML_HEAD "  - name: invoices\n    objects: invoices\n"

static const char YAML[] = YAML_HEAD "  - name: invoices\n"
                                     "    objects: invoices\n"
                                     "    direction: crm_to_accounting\n";

/* Opens the engine on the fixture's config (closing any open one). HS_OK or the error. */
static int try_open(struct fx *x, struct hs_error *err)
{
    hs_engine_close(x->e);
    x->e = NULL;
    struct hs_engine_config ec = {
        .config = x->cfg,
        .store = x->s,
        .crm = {.ops = &FAKE_CRM, .conn = &x->ccrm, .conn_id = "crm"},
        .accounting = {.ops = &FAKE_ACC, .conn = &x->cacc, .conn_id = "accounting"},
        .env = &x->env,
        .lease_ms = 60000,
        .invoicing = &x->iv,
        .slice = x->slice,
    };
    return hs_engine_open(&ec, &x->e, err);
}

static void open_engine(struct fx *x)
{
    struct hs_error err = {0};
    if (try_open(x, &err) != HS_OK)
        fail_msg("engine: %s", err.msg);
}

static void put_link(struct fx *x, const char *object, const char *crm_id, const char *acc_id)
{
    struct hs_error err = {0};
    if (hs_store_link_create(x->s, "crm", "accounting", object, crm_id, acc_id, NULL, &err) !=
        HS_OK)
        fail_msg("link: %s", err.msg);
}

static int setup(void **state)
{
    unsetenv(HS_STORE_KEY_ENV);
    struct fx *x = calloc(1, sizeof *x);
    snprintf(x->dir, sizeof x->dir, "/tmp/hs-einv-XXXXXX");
    if (mkdtemp(x->dir) == NULL)
        return -1;
    snprintf(x->path, sizeof x->path, "%s/hoopsync.db", x->dir);
    x->now = 1700000000000; /* 2023-11-14 22:13:20 UTC */
    x->env = (struct hs_env){.now_ms = fake_now, .rand64 = fake_rand, .ud = &x->now};
    struct hs_store_options opt = {.env = &x->env, .master_key_hex = KEY_A};
    struct hs_error err = {0};
    if (hs_store_open(x->path, &opt, &x->s, &err) != HS_OK)
        fail_msg("store: %s", err.msg);
    assert_int_equal(hs_store_connection_put(x->s, "crm", HS_STORE_CRM, "fakecrm", "", NULL, &err),
                     HS_OK);
    assert_int_equal(
        hs_store_connection_put(x->s, "accounting", HS_STORE_ACCOUNTING, "fakeacc", "", NULL, &err),
        HS_OK);
    if (hs_config_parse((const uint8_t *)YAML, strlen(YAML), "/tmp/hoopsync.yaml", &x->cfg, &err) !=
        HS_OK)
        fail_msg("config: %s", err.msg);
    x->crm.side = HS_SIDE_CRM;
    x->acc.side = HS_SIDE_ACCOUNTING;
    x->ccrm.f = &x->crm;
    x->cacc.f = &x->acc;
    x->terms[0] = (struct hs_invoice_term){.name = "Net 30", .due_days = 30};
    x->stages[0] = "closedwon";
    x->iv = (struct hs_engine_invoicing){.won_stages = x->stages,
                                         .n_won_stages = 1,
                                         .policy = hs_tax_policy_quickbooks(HS_TAX_NONE),
                                         .terms = x->terms,
                                         .n_terms = 1,
                                         .payment_terms = "Net 30",
                                         .provider = "QuickBooks"};
    open_engine(x);
    put_link(x, "item", "P1", "I1");
    put_link(x, "item", "P2", "I2");
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    hs_engine_close(x->e);
    hs_config_free(x->cfg);
    hs_store_close(x->s);
    fake_release(&x->crm);
    fake_release(&x->acc);
    char p[256];
    static const char *const files[] = {"hoopsync.db", "hoopsync.db-wal", "hoopsync.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", x->dir, files[i]);
        unlink(p);
    }
    rmdir(x->dir);
    free(x);
    return 0;
}

static void run(struct fx *x, struct hs_engine_report *rep)
{
    struct hs_error err = {0};
    hs_engine_report_init(rep);
    x->now += 1000;
    if (hs_engine_run_once(x->e, rep, &err) != HS_OK)
        fail_msg("run: %s", err.msg);
}

/* The first action of kind k in the report (of record id when not NULL), or NULL. */
static const struct hs_engine_action *action_of(const struct hs_engine_report *r,
                                                enum hs_engine_action_kind k, const char *id)
{
    for (size_t i = 0; i < r->n_actions; i++)
        if (r->actions[i].kind == k && (id == NULL || strcmp(r->actions[i].source_id, id) == 0))
            return &r->actions[i];
    return NULL;
}

static const struct hs_engine_action *action(const struct hs_engine_report *r,
                                             enum hs_engine_action_kind k)
{
    return action_of(r, k, NULL);
}

/* Field view value of the deal (into buf, "" when absent). */
static const char *deal_field(struct fx *x, const char *id, const char *path, char *buf, size_t len)
{
    int k = find(&x->crm, id);
    assert_true(k >= 0);
    struct hs_fields f;
    hs_fields_init(&f);
    assert_int_equal(hs_record_to_fields(x->crm.recs[k], &f, NULL), HS_OK);
    const char *v = hs_fields_get(&f, path);
    snprintf(buf, len, "%s", v != NULL ? v : "");
    hs_fields_release(&f);
    return buf;
}

static int n_open_errors(struct fx *x)
{
    struct hs_error err = {0};
    int n = hs_store_item_count(x->s, HS_STORE_ITEM_ERROR, NULL, HS_STORE_ITEM_OPEN, &err);
    assert_true(n >= 0);
    return n;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_closed_deal_yields_one_invoice_and_write_back(void **state)
{
    struct fx *x = *state;
    put_link(x, "customer", "C1", "Q1");
    put_deal(&x->crm, "D1", "C1", "closedwon");
    put_deal(&x->crm, "D2", "C1", "appointmentscheduled");
    struct hs_engine_report rep;
    run(x, &rep);
    assert_int_equal(x->acc.n, 1);
    assert_int_equal(rep.n_created, 1);
    const struct hs_record *inv = x->acc.recs[0];
    assert_string_equal(inv->invoice.customer_ref, "Q1");
    assert_int_equal(inv->invoice.total.minor, 13000);
    assert_string_equal(inv->invoice.lines[0].item_ref, "I1");
    assert_string_equal(inv->invoice.lines[1].item_ref, "I2");
    char buf[256];
    /* due date: issue date 2023-11-14 + Net 30 */
    char due[11];
    hs_date_format(inv->invoice.due_date, due);
    assert_string_equal(due, "2023-12-14");
    assert_string_equal(deal_field(x, "D1", "number", buf, sizeof buf), "1001");
    assert_string_equal(deal_field(x, "D1", "external_refs.invoice_url", buf, sizeof buf),
                        "https://acc.example/invoice?txnId=inv1");
    assert_string_equal(deal_field(x, "D1", "status", buf, sizeof buf), "open");
    assert_string_equal(deal_field(x, "D1", "balance", buf, sizeof buf), "USD 130.00");
    assert_string_equal(deal_field(x, "D1", "amount_paid", buf, sizeof buf), "USD 0.00");
    assert_string_equal(deal_field(x, "D2", "number", buf, sizeof buf), "");
    hs_engine_report_release(&rep);

    /* second pass and a repeated event: nothing new, nothing written */
    int updates = x->crm.updates;
    run(x, &rep);
    assert_int_equal(x->acc.n, 1);
    assert_int_equal(x->acc.creates, 1);
    assert_int_equal(x->crm.updates, updates);
    assert_int_equal(rep.n_created, 0);
    assert_int_equal(rep.n_updated, 0);
    hs_engine_report_release(&rep);
    run(x, &rep);
    assert_int_equal(x->acc.creates, 1);
    hs_engine_report_release(&rep);
}

/* A closed-won deal whose invoice create is made by the provider but its answer is lost: the
 * pass fails as a whole with the intent left behind. */
static void create_with_lost_answer(struct fx *x)
{
    put_link(x, "customer", "C1", "Q1");
    put_deal(&x->crm, "D1", "C1", "closedwon");
    x->acc.lose_answers = 1;
    struct hs_engine_report rep;
    struct hs_error err = {0};
    hs_engine_report_init(&rep);
    assert_int_equal(hs_engine_run_once(x->e, &rep, &err), HS_EIO);
    hs_engine_report_release(&rep);
    assert_int_equal(x->acc.n, 1); /* the provider made it, we never heard */
    assert_int_equal(hs_store_intent_count(x->s, &err), 1);
}

static void test_crash_between_create_and_link_makes_no_second_invoice(void **state)
{
    struct fx *x = *state;
    create_with_lost_answer(x);
    struct hs_engine_report rep;
    struct hs_error err = {0};

    /* a new process: engine reopened, the pass runs again with the same key, marked as a
     * retry (a connector whose key is per request looks the invoice up first) */
    open_engine(x);
    run(x, &rep);
    assert_int_equal(x->acc.retries, 1);
    assert_int_equal(x->acc.n, 1);
    assert_int_equal(x->acc.creates, 1);
    assert_int_equal(rep.n_created, 1);
    assert_int_equal(hs_store_intent_count(x->s, &err), 0);
    char buf[64];
    assert_string_equal(deal_field(x, "D1", "number", buf, sizeof buf), "1001");
    hs_engine_report_release(&rep);
}

/* A retried create answered with an invoice that another deal is linked to: an error item
 * a person resolves, never a second link, and the pass goes on. */
static void test_retry_answered_with_another_deals_invoice_waits_for_a_person(void **state)
{
    struct fx *x = *state;
    create_with_lost_answer(x); /* D1: inv1 made, never linked */
    struct hs_engine_report rep;
    struct hs_error err = {0};
    open_engine(x);
    run(x, &rep); /* D1 retried, found by its key, linked */
    hs_engine_report_release(&rep);
    assert_int_equal(hs_store_intent_count(x->s, &err), 0);
    /* D2 of the same company: its answer lost too, then its retry "finds" D1's invoice */
    put_deal(&x->crm, "D2", "C1", "closedwon");
    x->acc.lose_answers = 1;
    hs_engine_report_init(&rep);
    assert_int_equal(hs_engine_run_once(x->e, &rep, &err), HS_EIO);
    hs_engine_report_release(&rep);
    open_engine(x);
    x->acc.retry_answer = "inv1";
    run(x, &rep);
    assert_int_equal(rep.n_errors, 1);
    const struct hs_engine_action *a = action(&rep, HS_ENGINE_ERROR);
    assert_non_null(a);
    assert_non_null(strstr(a->reason, "already linked to crm record 'D1'"));
    assert_non_null(strstr(a->reason, "an earlier attempt was cut off"));
    hs_engine_report_release(&rep);
    assert_int_equal(n_open_errors(x), 1);
    assert_int_equal(hs_store_intent_count(x->s, &err), 1); /* D2's create stays pending */
    char buf[64];
    assert_string_equal(deal_field(x, "D2", "number", buf, sizeof buf), "");
    assert_string_equal(deal_field(x, "D1", "number", buf, sizeof buf), "1001");
}

static void test_deal_waits_for_its_company(void **state)
{
    struct fx *x = *state;
    put_deal(&x->crm, "D1", "C9", "closedwon");
    struct hs_engine_report rep;
    run(x, &rep);
    assert_int_equal(x->acc.n, 0);
    const struct hs_engine_action *a = action(&rep, HS_ENGINE_ERROR);
    assert_non_null(a);
    assert_non_null(strstr(a->reason, "waits: its company 'C9' is not linked"));
    assert_int_equal(n_open_errors(x), 1);
    hs_engine_report_release(&rep);

    put_link(x, "customer", "C9", "Q9");
    run(x, &rep);
    assert_int_equal(x->acc.n, 1);
    assert_string_equal(x->acc.recs[0]->invoice.customer_ref, "Q9");
    assert_int_equal(n_open_errors(x), 0);
    hs_engine_report_release(&rep);
}

static void test_unmapped_product_is_a_clear_error(void **state)
{
    struct fx *x = *state;
    put_link(x, "customer", "C1", "Q1");
    put_deal(&x->crm, "D1", "C1", "closedwon");
    assert_int_equal(hs_record_set_str(&x->crm.recs[0]->invoice.lines[1].item_ref, "P7"), HS_OK);
    struct hs_engine_report rep;
    run(x, &rep);
    assert_int_equal(x->acc.n, 0);
    const struct hs_engine_action *a = action(&rep, HS_ENGINE_ERROR);
    assert_non_null(a);
    assert_non_null(strstr(a->reason, "Big Order"));
    hs_engine_report_release(&rep);

    /* a default item fixes it */
    x->iv.default_item_id = "I0";
    run(x, &rep);
    assert_int_equal(x->acc.n, 1);
    assert_string_equal(x->acc.recs[0]->invoice.lines[1].item_ref, "I0");
    hs_engine_report_release(&rep);
}

/* Sets the accounting invoice's paid amount (cents) and balance. */
static void pay(struct fx *x, int64_t paid)
{
    struct hs_record *inv = x->acc.recs[0];
    inv->invoice.amount_paid = usd(paid);
    inv->invoice.balance = usd(inv->invoice.total.minor - paid);
    inv->invoice.status =
        paid == inv->invoice.total.minor ? HS_INVOICE_PAID : HS_INVOICE_PARTIALLY_PAID;
}

static void test_payments_partial_paid_overdue_void(void **state)
{
    struct fx *x = *state;
    put_link(x, "customer", "C1", "Q1");
    put_deal(&x->crm, "D1", "C1", "closedwon");
    struct hs_engine_report rep;
    char buf[64];
    run(x, &rep);
    hs_engine_report_release(&rep);

    pay(x, 4000);
    run(x, &rep);
    assert_string_equal(deal_field(x, "D1", "status", buf, sizeof buf), "partially_paid");
    assert_string_equal(deal_field(x, "D1", "amount_paid", buf, sizeof buf), "USD 40.00");
    assert_string_equal(deal_field(x, "D1", "balance", buf, sizeof buf), "USD 90.00");
    const struct hs_engine_action *a = action(&rep, HS_ENGINE_UPDATE);
    assert_non_null(a);
    assert_string_equal(a->target_id, "D1");
    hs_engine_report_release(&rep);
    int updates = x->crm.updates;
    run(x, &rep);
    assert_int_equal(x->crm.updates, updates);
    hs_engine_report_release(&rep);

    /* 31 days later the due date (issue + 30) has passed */
    x->now += (int64_t)31 * 24 * 3600 * 1000;
    run(x, &rep);
    assert_string_equal(deal_field(x, "D1", "status", buf, sizeof buf), "overdue");
    hs_engine_report_release(&rep);

    pay(x, 13000);
    run(x, &rep);
    assert_string_equal(deal_field(x, "D1", "status", buf, sizeof buf), "paid");
    assert_string_equal(deal_field(x, "D1", "balance", buf, sizeof buf), "USD 0.00");
    hs_engine_report_release(&rep);

    x->acc.recs[0]->invoice.status = HS_INVOICE_VOID;
    run(x, &rep);
    assert_string_equal(deal_field(x, "D1", "status", buf, sizeof buf), "void");
    assert_int_equal(x->acc.creates, 1);
    hs_engine_report_release(&rep);
}

static void test_deal_edit_after_invoicing_raises_one_conflict(void **state)
{
    struct fx *x = *state;
    put_link(x, "customer", "C1", "Q1");
    put_deal(&x->crm, "D1", "C1", "closedwon");
    struct hs_engine_report rep;
    run(x, &rep);
    hs_engine_report_release(&rep);
    assert_int_equal(x->acc.n, 1);
    struct hs_error err = {0};
    assert_int_equal(hs_decimal_from_int(5, &x->crm.recs[0]->invoice.lines[0].quantity, &err),
                     HS_OK);
    run(x, &rep);
    const struct hs_engine_action *a = action(&rep, HS_ENGINE_CONFLICT);
    assert_non_null(a);
    assert_string_equal(a->source_id, "D1");
    assert_non_null(strstr(a->reason, "changed after its invoice was created"));
    hs_engine_report_release(&rep);
    run(x, &rep);
    hs_engine_report_release(&rep);
    assert_int_equal(x->acc.n, 1);
    assert_int_equal(x->acc.recs[0]->invoice.total.minor, 13000);
    int n = hs_store_item_count(x->s, HS_STORE_ITEM_CONFLICT, NULL, HS_STORE_ITEM_OPEN, &err);
    assert_int_equal(n, 1);
}

/* ---- batching, audit, plan, recovery, payments, updates ----------------------------------- */

struct audit_count {
    int creates;     /* "create" rows on accounting invoices */
    int updates;     /* "update" rows on CRM deals */
    bool has_due;    /* a create row holds the due date */
    bool has_status; /* an update row holds the status before and after */
};

static int audit_cb(void *ud, const struct hs_store_audit_row *row)
{
    struct audit_count *c = ud;
    if (strcmp(row->action, "create") == 0 &&
        strncmp(row->object, "invoice:accounting:", 19) == 0) {
        c->creates++;
        c->has_due = c->has_due || strstr(row->detail, "\"due_date\"") != NULL;
    }
    if (strcmp(row->action, "update") == 0 && strncmp(row->object, "invoice:crm:", 12) == 0) {
        c->updates++;
        c->has_status = c->has_status || strstr(row->detail, "\"field\":\"status\"") != NULL;
    }
    return 0;
}

static void test_creates_and_write_backs_are_batched_and_audited(void **state)
{
    struct fx *x = *state;
    put_link(x, "customer", "C1", "Q1");
    static const char *const ids[] = {"D1", "D2", "D3", "D4", "D5"};
    for (size_t i = 0; i < 5; i++)
        put_deal(&x->crm, ids[i], "C1", "closedwon");
    struct hs_engine_report rep;
    run(x, &rep);
    assert_int_equal(x->acc.creates, 5);
    /* 5 creates at 2 per call, 5 write-backs at 2 per call */
    assert_int_equal(x->acc.write_calls, 3);
    assert_int_equal(x->crm.write_calls, 3);
    assert_int_equal(rep.n_created, 5);
    hs_engine_report_release(&rep);
    struct audit_count c;
    memset(&c, 0, sizeof c);
    struct hs_error err = {0};
    assert_int_equal(hs_store_audit_each(x->s, 0, audit_cb, &c, &err), HS_OK);
    assert_int_equal(c.creates, 5);
    assert_int_equal(c.updates, 5);
    assert_true(c.has_due);
    assert_true(c.has_status);
    struct hs_store_audit_report ar;
    assert_int_equal(hs_store_audit_verify(x->s, &ar, &err), HS_OK);
    assert_int_equal(ar.bad_id, 0);

    /* nothing changed: no write at all */
    int acc_calls = x->acc.write_calls, crm_calls = x->crm.write_calls;
    run(x, &rep);
    assert_int_equal(x->acc.write_calls, acc_calls);
    assert_int_equal(x->crm.write_calls, crm_calls);
    assert_int_equal(rep.n_writes, 0);
    hs_engine_report_release(&rep);
}

static void test_plan_shows_invoice_creates_and_changes_nothing(void **state)
{
    struct fx *x = *state;
    put_link(x, "customer", "C1", "Q1");
    put_deal(&x->crm, "D1", "C1", "closedwon");
    put_deal(&x->crm, "D2", "C7", "closedwon");
    struct hs_engine_report rep;
    hs_engine_report_init(&rep);
    struct hs_error err = {0};
    if (hs_engine_plan(x->e, &rep, &err) != HS_OK)
        fail_msg("plan: %s", err.msg);
    const struct hs_engine_action *a = action(&rep, HS_ENGINE_CREATE);
    assert_non_null(a);
    assert_string_equal(a->source_id, "D1");
    if (strstr(a->reason, "130.00") == NULL || strstr(a->reason, "would be created") == NULL)
        fail_msg("reason: %s", a->reason);
    a = action(&rep, HS_ENGINE_ERROR);
    assert_non_null(a);
    assert_string_equal(a->source_id, "D2");
    hs_engine_report_release(&rep);
    assert_int_equal(x->acc.n, 0);
    assert_int_equal(x->acc.write_calls + x->crm.write_calls, 0);
    assert_int_equal(hs_store_intent_count(x->s, &err), 0);
    assert_int_equal(n_open_errors(x), 0);
}

/* A pending intent is enough to finish the create: after a SIGKILL the dead process's dirty
 * entries stay leased, so the deal is not announced again. */
static void test_pending_intent_is_finished_without_a_change(void **state)
{
    struct fx *x = *state;
    create_with_lost_answer(x);
    struct hs_engine_report rep;
    struct hs_error err = {0};
    assert_int_equal(x->acc.creates, 1);
    x->crm.quiet = true;
    x->acc.quiet = true;
    open_engine(x);
    run(x, &rep);
    assert_int_equal(x->acc.creates, 1);
    assert_int_equal(hs_store_intent_count(x->s, &err), 0);
    char buf[64];
    assert_string_equal(deal_field(x, "D1", "number", buf, sizeof buf), "1001");
    hs_engine_report_release(&rep);
}

static void put_payment(struct fake *f, const char *id, const char *inv, int64_t cents,
                        const char *date)
{
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_PAYMENT, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->id, id), HS_OK);
    r->payment.amount = usd(cents);
    memcpy(r->payment.currency, "USD", 4);
    struct hs_error err = {0};
    assert_int_equal(hs_date_parse(date, strlen(date), &r->payment.date, &err), HS_OK);
    struct hs_payment_applied *a = NULL;
    assert_int_equal(hs_record_add_applied(r, &a), HS_OK);
    assert_int_equal(hs_record_set_str(&a->invoice_ref, inv), HS_OK);
    a->amount = usd(cents);
    f->recs[f->n++] = r;
}

static void test_last_payment_date_comes_from_payments(void **state)
{
    struct fx *x = *state;
    x->acc.payments = true;
    open_engine(x);
    put_link(x, "customer", "C1", "Q1");
    put_deal(&x->crm, "D1", "C1", "closedwon");
    struct hs_engine_report rep;
    char buf[64];
    run(x, &rep);
    hs_engine_report_release(&rep);
    assert_string_equal(deal_field(x, "D1", "custom.hoopsync_last_payment_date", buf, sizeof buf),
                        "");
    pay(x, 4000);
    put_payment(&x->acc, "PAY1", x->acc.recs[0]->id, 4000, "2023-11-20");
    run(x, &rep);
    assert_string_equal(deal_field(x, "D1", "status", buf, sizeof buf), "partially_paid");
    assert_string_equal(deal_field(x, "D1", "custom.hoopsync_last_payment_date", buf, sizeof buf),
                        "2023-11-20");
    hs_engine_report_release(&rep);
    /* a later payment moves it; the earlier one alone (announced again) does not move it back */
    pay(x, 13000);
    put_payment(&x->acc, "PAY2", x->acc.recs[0]->id, 9000, "2023-12-01");
    run(x, &rep);
    assert_string_equal(deal_field(x, "D1", "status", buf, sizeof buf), "paid");
    assert_string_equal(deal_field(x, "D1", "custom.hoopsync_last_payment_date", buf, sizeof buf),
                        "2023-12-01");
    hs_engine_report_release(&rep);
    hs_record_free(x->acc.recs[--x->acc.n]); /* PAY2 gone from the feed */
    run(x, &rep);
    assert_string_equal(deal_field(x, "D1", "custom.hoopsync_last_payment_date", buf, sizeof buf),
                        "2023-12-01");
    hs_engine_report_release(&rep);
}

static void test_invoice_updates_unpaid_updates_until_paid(void **state)
{
    struct fx *x = *state;
    x->iv.updates = HS_ENGINE_INVOICE_UPDATES_UNPAID;
    put_link(x, "customer", "C1", "Q1");
    put_deal(&x->crm, "D1", "C1", "closedwon");
    struct hs_engine_report rep;
    run(x, &rep);
    hs_engine_report_release(&rep);
    struct hs_error err = {0};
    /* quantity 2 -> 5 on an unpaid invoice: the invoice follows (5 x 50.00 + 30.00) */
    assert_int_equal(hs_decimal_from_int(5, &x->crm.recs[0]->invoice.lines[0].quantity, &err),
                     HS_OK);
    run(x, &rep);
    assert_int_equal(x->acc.n, 1);
    assert_int_equal(x->acc.recs[0]->invoice.total.minor, 28000);
    assert_null(action(&rep, HS_ENGINE_CONFLICT));
    char buf[64];
    assert_string_equal(deal_field(x, "D1", "balance", buf, sizeof buf), "USD 280.00");
    hs_engine_report_release(&rep);
    run(x, &rep);
    assert_int_equal(rep.n_writes, 0);
    hs_engine_report_release(&rep);
    /* once something is paid, an edit is a conflict and the invoice stays */
    pay(x, 1000);
    assert_int_equal(hs_decimal_from_int(7, &x->crm.recs[0]->invoice.lines[0].quantity, &err),
                     HS_OK);
    run(x, &rep);
    const struct hs_engine_action *a = action(&rep, HS_ENGINE_CONFLICT);
    assert_non_null(a);
    assert_non_null(strstr(a->reason, "invoice_updates: unpaid"));
    assert_int_equal(x->acc.recs[0]->invoice.total.minor, 28000);
    hs_engine_report_release(&rep);
}

/* draft_only: an edited deal updates its invoice while the accounting side holds it as a
 * draft; once it is not one, the edit is a conflict and the invoice stays. */
static void test_invoice_updates_draft_only_updates_drafts_only(void **state)
{
    struct fx *x = *state;
    x->iv.updates = HS_ENGINE_INVOICE_UPDATES_DRAFT_ONLY;
    put_link(x, "customer", "C1", "Q1");
    put_deal(&x->crm, "D1", "C1", "closedwon");
    struct hs_engine_report rep;
    run(x, &rep);
    hs_engine_report_release(&rep);
    assert_int_equal(x->acc.n, 1);
    x->acc.recs[0]->invoice.status = HS_INVOICE_DRAFT;
    struct hs_error err = {0};
    assert_int_equal(hs_decimal_from_int(5, &x->crm.recs[0]->invoice.lines[0].quantity, &err),
                     HS_OK);
    run(x, &rep);
    assert_null(action(&rep, HS_ENGINE_CONFLICT));
    assert_int_equal(x->acc.recs[0]->invoice.total.minor, 28000);
    hs_engine_report_release(&rep);
    /* sent (no longer a draft): the next edit is a conflict naming the setting */
    x->acc.recs[0]->invoice.status = HS_INVOICE_OPEN;
    assert_int_equal(hs_decimal_from_int(7, &x->crm.recs[0]->invoice.lines[0].quantity, &err),
                     HS_OK);
    run(x, &rep);
    const struct hs_engine_action *a = action(&rep, HS_ENGINE_CONFLICT);
    assert_non_null(a);
    assert_non_null(strstr(a->reason, "invoice_updates: draft_only"));
    assert_int_equal(x->acc.recs[0]->invoice.total.minor, 28000);
    hs_engine_report_release(&rep);
}

static bool deal_linked(struct fx *x, const char *deal_id)
{
    struct hs_store_link l;
    if (hs_store_link_find(x->s, "crm", "accounting", "invoice", HS_STORE_CRM, deal_id, &l, NULL) !=
        HS_OK)
        return false;
    hs_store_link_release(&l);
    return true;
}

/* Runs a pass that a side's limiter stops: HS_ERATELIMIT with its message. */
static void run_stopped(struct fx *x)
{
    struct hs_engine_report rep;
    struct hs_error err = {0};
    hs_engine_report_init(&rep);
    x->now += 1000;
    assert_int_equal(hs_engine_run_once(x->e, &rep, &err), HS_ERATELIMIT);
    assert_non_null(strstr(err.msg, "the day's calls are spent"));
    hs_engine_report_release(&rep);
}

/*
 * The accounting side's day limit is spent part-way through a batch of invoice creates: the
 * invoices it answered are linked (fingerprint, intent removed, mirror, audit), the other
 * deals keep their intents and wait; the next pass creates only those. Then the CRM's limit
 * is spent part-way through the write-backs: the ones answered are committed (base, audit),
 * the rest are written by the next pass, none twice.
 */
static void test_day_limit_keeps_created_invoices_and_write_backs(void **state)
{
    struct fx *x = *state;
    put_link(x, "customer", "C1", "Q1");
    static const char *const ids[] = {"D1", "D2", "D3", "D4", "D5"};
    for (size_t i = 0; i < 5; i++)
        put_deal(&x->crm, ids[i], "C1", "closedwon");
    x->acc.day_limit = true;
    x->acc.calls_left = 1; /* one call of 2 creates */
    run_stopped(x);
    assert_int_equal(x->acc.creates, 2);
    int linked = 0;
    for (size_t i = 0; i < 5; i++)
        linked += deal_linked(x, ids[i]) ? 1 : 0;
    assert_int_equal(linked, 2);
    struct hs_error err = {0};
    assert_int_equal(hs_store_intent_count(x->s, &err), 3);
    assert_int_equal(n_open_errors(x), 0);
    struct audit_count c;
    memset(&c, 0, sizeof c);
    assert_int_equal(hs_store_audit_each(x->s, 0, audit_cb, &c, &err), HS_OK);
    assert_int_equal(c.creates, 2);

    /* the accounting side's limit lifted, the CRM's spent after one call of 2 write-backs */
    x->acc.day_limit = false;
    x->crm.day_limit = true;
    x->crm.calls_left = 1;
    run_stopped(x);
    assert_int_equal(x->acc.creates, 5);
    assert_int_equal(x->acc.n, 5);
    assert_int_equal(hs_store_intent_count(x->s, &err), 0);
    for (size_t i = 0; i < 5; i++)
        assert_true(deal_linked(x, ids[i]));
    memset(&c, 0, sizeof c);
    assert_int_equal(hs_store_audit_each(x->s, 0, audit_cb, &c, &err), HS_OK);
    assert_int_equal(c.creates, 5);
    assert_int_equal(c.updates, 2);

    x->crm.day_limit = false;
    struct hs_engine_report rep;
    run(x, &rep);
    hs_engine_report_release(&rep);
    assert_int_equal(x->acc.creates, 5);
    memset(&c, 0, sizeof c);
    assert_int_equal(hs_store_audit_each(x->s, 0, audit_cb, &c, &err), HS_OK);
    assert_int_equal(c.creates, 5);
    assert_int_equal(c.updates, 5);
    char buf[64];
    for (size_t i = 0; i < 5; i++)
        assert_string_not_equal(deal_field(x, ids[i], "number", buf, sizeof buf), "");
    /* nothing left to do */
    int acc_calls = x->acc.write_calls, crm_calls = x->crm.write_calls;
    run(x, &rep);
    assert_int_equal(rep.n_writes, 0);
    assert_int_equal(x->acc.write_calls, acc_calls);
    assert_int_equal(x->crm.write_calls, crm_calls);
    hs_engine_report_release(&rep);
}

/* Deals in chunks of the engine's slice: each chunk is decided and written on its own (a slice
 * of 1 costs a call per deal), a multiple of the batch size (2 here) costs no extra call. */
static void chunked_run(struct fx *x, size_t slice, int calls)
{
    x->slice = slice;
    open_engine(x);
    put_link(x, "customer", "C1", "Q1");
    static const char *const ids[] = {"D1", "D2", "D3", "D4", "D5"};
    for (size_t i = 0; i < 5; i++)
        put_deal(&x->crm, ids[i], "C1", "closedwon");
    struct hs_engine_report rep;
    run(x, &rep);
    assert_int_equal(x->acc.creates, 5);
    assert_int_equal(rep.n_created, 5);
    assert_int_equal(x->acc.write_calls, calls);
    assert_int_equal(x->crm.write_calls, calls);
    char buf[64];
    for (size_t i = 0; i < 5; i++)
        assert_string_not_equal(deal_field(x, ids[i], "number", buf, sizeof buf), "");
    hs_engine_report_release(&rep);
    run(x, &rep);
    assert_int_equal(rep.n_writes, 0);
    assert_int_equal(x->acc.creates, 5);
    hs_engine_report_release(&rep);
}

/* Replaces the fixture's config by yaml and reopens the engine on it (HS_OK or the error). */
static int reconfigure(struct fx *x, const char *yaml, struct hs_error *err)
{
    hs_engine_close(x->e);
    x->e = NULL;
    hs_config_free(x->cfg);
    x->cfg = NULL;
    if (hs_config_parse((const uint8_t *)yaml, strlen(yaml), "/tmp/hoopsync.yaml", &x->cfg, err) !=
        HS_OK)
        fail_msg("config: %s", err->msg);
    return try_open(x, err);
}

static void set_region(struct fx *x, const char *deal, const char *region)
{
    int k = find(&x->crm, deal);
    assert_true(k >= 0);
    assert_int_equal(hs_fields_set(&x->crm.recs[k]->custom, "region", region), HS_OK);
}

/* The skipped action of deal id in the report, or NULL. */
static const struct hs_engine_action *skipped(const struct hs_engine_report *r, const char *id)
{
    return action_of(r, HS_ENGINE_SKIPPED, id);
}

static void test_filter_chooses_the_deals_invoiced(void **state)
{
    struct fx *x = *state;
    struct hs_error err = {0};
    if (reconfigure(
            x, YAML_INVOICES "    filter: {dealstage: closedwon, custom.region: [EMEA, APAC]}\n",
            &err) != HS_OK)
        fail_msg("engine: %s", err.msg);
    put_link(x, "customer", "C1", "Q1");
    put_deal(&x->crm, "D1", "C1", "closedwon");
    set_region(x, "D1", "EMEA");
    put_deal(&x->crm, "D2", "C1", "closedwon");
    set_region(x, "D2", "AMER");
    put_deal(&x->crm, "D3", "C1", "closedwon"); /* no region at all */
    struct hs_engine_report rep;
    char buf[64];
    run(x, &rep);
    assert_int_equal(x->acc.n, 1);
    assert_int_equal(rep.n_created, 1);
    assert_string_equal(deal_field(x, "D1", "number", buf, sizeof buf), "1001");
    assert_string_equal(deal_field(x, "D2", "number", buf, sizeof buf), "");
    const struct hs_engine_action *a = skipped(&rep, "D2");
    assert_non_null(a);
    assert_non_null(strstr(a->reason, "skipped: outside the filter"));
    assert_non_null(strstr(a->reason, "'custom.region' is 'AMER', not one of {EMEA, APAC}"));
    a = skipped(&rep, "D3");
    assert_non_null(a);
    assert_non_null(strstr(a->reason, "'custom.region' is empty"));
    assert_int_equal(n_open_errors(x), 0); /* outside the filter is not an error */
    hs_engine_report_release(&rep);

    /* D1 leaves the filter and its lines change: its invoice is not touched and no conflict
     * is raised, but its payment status still reaches the deal */
    set_region(x, "D1", "AMER");
    assert_int_equal(hs_decimal_from_int(5, &x->crm.recs[0]->invoice.lines[0].quantity, &err),
                     HS_OK);
    pay(x, 4000);
    run(x, &rep);
    assert_int_equal(x->acc.n, 1);
    assert_int_equal(x->acc.updates, 0);
    assert_int_equal(x->acc.recs[0]->invoice.total.minor, 13000);
    assert_int_equal(
        hs_store_item_count(x->s, HS_STORE_ITEM_CONFLICT, NULL, HS_STORE_ITEM_OPEN, &err), 0);
    assert_string_equal(deal_field(x, "D1", "status", buf, sizeof buf), "partially_paid");
    a = skipped(&rep, "D1");
    assert_non_null(a);
    assert_non_null(strstr(a->reason, "left the filter"));
    hs_engine_report_release(&rep);

    /* D2 joins the filter (values compare without case): it is invoiced */
    set_region(x, "D2", " apac ");
    run(x, &rep);
    assert_int_equal(x->acc.n, 2);
    assert_int_equal(rep.n_created, 1);
    assert_string_equal(deal_field(x, "D2", "number", buf, sizeof buf), "1002");
    assert_null(skipped(&rep, "D2"));
    hs_engine_report_release(&rep);
}

static void test_filter_on_an_unknown_deal_field_is_refused(void **state)
{
    struct fx *x = *state;
    struct hs_error err = {0};
    assert_int_equal(reconfigure(x, YAML_INVOICES "    filter: {regoin: EMEA}\n", &err), HS_EINVAL);
    assert_null(x->e);
    assert_non_null(strstr(err.msg, "cannot start sync engine: flow 'invoices': unknown field "
                                    "'regoin' in 'filter' (expected a field of the deal"));
    /* dealstage alone is the won stages: nothing else to compile */
    assert_int_equal(
        reconfigure(x, YAML_INVOICES "    filter: {dealstage: [closedwon, signed]}\n", &err),
        HS_OK);
}

static void test_deals_in_chunks_of_one(void **state)
{
    chunked_run(*state, 1, 5);
}

static void test_deals_in_chunks_of_the_batch_size_cost_no_extra_calls(void **state)
{
    chunked_run(*state, 2, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_closed_deal_yields_one_invoice_and_write_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_retry_answered_with_another_deals_invoice_waits_for_a_person, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_between_create_and_link_makes_no_second_invoice,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deal_waits_for_its_company, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmapped_product_is_a_clear_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payments_partial_paid_overdue_void, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deal_edit_after_invoicing_raises_one_conflict, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_creates_and_write_backs_are_batched_and_audited, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_plan_shows_invoice_creates_and_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pending_intent_is_finished_without_a_change, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_last_payment_date_comes_from_payments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_invoice_updates_draft_only_updates_drafts_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_invoice_updates_unpaid_updates_until_paid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deals_in_chunks_of_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filter_chooses_the_deals_invoiced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filter_on_an_unknown_deal_field_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_day_limit_keeps_created_invoices_and_write_backs,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deals_in_chunks_of_the_batch_size_cost_no_extra_calls,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
