/*
 * tests/unit/test_engine_ahead.c - the CRM is read ahead while the accounting side waits.
 *
 * Design:     two fake connectors: the CRM holds companies (customers) and closed-won deals
 *             (invoices), the accounting side receives customer and invoice creates. Each
 *             call of the accounting fake takes a call from the accounting connection's rate
 *             limiter, as real connectors do through connectors/common/request.c, and the
 *             CRM fake takes one from the CRM's when it has one. The env clock is fake:
 *             sleeping moves it. Every call is appended to one event log ("R invoice",
 *             "W customer", ...), so the tests assert the order in which the engine read and
 *             wrote: with an accounting window that makes its customer writes wait, the deals
 *             the invoice step needs are read during that wait (before the last customer
 *             write); without a limiter, or when the CRM's own limiter would make the read
 *             late, they are read in their turn. Either way every deal gets one invoice.
 *             With x->page set the CRM's change feed comes in pages ("C invoice"), which the
 *             pass fetches as it goes, ahead too.
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
#include "net/ratelimit.h"
#include "store/sqlite.h"
#include "util/alloc.h"
#include "util/env.h"

#define KEY_A     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define MAXREC    32
#define MAXEV     128
#define N_COMPANY 6

/* ---- the fakes and the event log --------------------------------------------------------- */

struct fx;

struct fake {
    enum hs_side side;
    struct fx *x;
    struct hs_ratelimit *rl; /* taken once per call when set */
    struct hs_record *recs[MAXREC];
    size_t n;
};

struct hs_connector {
    struct fake *f;
};

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
    char ev[MAXEV][24];
    int64_t at[MAXEV]; /* the fake clock at each event */
    size_t n_ev;
    int64_t read_ms; /* how long a CRM read takes (moves the fake clock) */
    size_t page;     /* ids per changes() page (0: all in one) */
};

static void log_event(struct fx *x, char op, enum hs_kind kind)
{
    assert_true(x->n_ev < MAXEV);
    x->at[x->n_ev] = x->now;
    snprintf(x->ev[x->n_ev++], sizeof x->ev[0], "%c %s", op, hs_kind_name(kind));
}

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
    (void)c;
    return (1u << HS_KIND_CUSTOMER) | (1u << HS_KIND_INVOICE);
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

static void take(struct fake *f)
{
    if (f->rl != NULL)
        (void)hs_ratelimit_acquire(f->rl, "all");
}

static int fk_changes(struct hs_connector *c, enum hs_kind kind, const char *cursor,
                      struct hs_changes *out, struct hs_error *err)
{
    (void)err;
    struct fake *f = c->f;
    memset(out, 0, sizeof *out);
    out->items = hs_calloc(f->n + 1, sizeof *out->items);
    assert_non_null(out->items);
    log_event(f->x, f->side == HS_SIDE_CRM ? 'C' : 'c', kind); /* C: the CRM's feed */
    /* the cursor counts the ids of kind already announced; a page holds x->page of them */
    size_t from = cursor != NULL ? (size_t)strtoul(cursor, NULL, 10) : 0, seen = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (f->recs[i]->kind != kind || seen++ < from)
            continue;
        if (f->x->page > 0 && out->n_items == f->x->page) {
            out->more = true;
            break;
        }
        out->items[out->n_items].kind = kind;
        out->items[out->n_items].id = hs_strdup(f->recs[i]->id);
        out->n_items++;
    }
    char next[24];
    snprintf(next, sizeof next, "%zu", from + out->n_items);
    out->cursor = hs_strdup(next);
    return HS_OK;
}

static int fk_read(struct hs_connector *c, enum hs_kind kind, const char *const *ids, size_t n,
                   struct hs_record **out, struct hs_error *err)
{
    (void)err;
    struct fake *f = c->f;
    take(f);
    log_event(f->x, 'R', kind);
    if (f->side == HS_SIDE_CRM)
        f->x->now += f->x->read_ms;
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
        for (size_t k = 0; k < f->n; k++)
            if (f->recs[k]->kind == kind && strcmp(f->recs[k]->id, ids[i]) == 0)
                assert_int_equal(hs_record_clone(f->recs[k], &out[i]), HS_OK);
    }
    return HS_OK;
}

static int fk_write(struct hs_connector *c, enum hs_kind kind, struct hs_write *w, size_t n,
                    struct hs_error *err)
{
    (void)err;
    struct fake *f = c->f;
    take(f);
    log_event(f->x, 'W', kind);
    for (size_t i = 0; i < n; i++) {
        w[i].status = HS_OK;
        if (f->side == HS_SIDE_CRM) { /* the invoice's number and status back to the deal */
            assert_int_equal(w[i].op, HS_WRITE_UPDATE);
            assert_int_equal(hs_record_clone(w[i].record, &w[i].result), HS_OK);
            continue;
        }
        assert_int_equal(w[i].op, HS_WRITE_CREATE);
        assert_true(f->n < MAXREC);
        struct hs_record *r = NULL;
        assert_int_equal(hs_record_clone(w[i].record, &r), HS_OK);
        char id[32];
        snprintf(id, sizeof id, "A%zu", f->n + 1);
        assert_int_equal(hs_record_set_str(&r->id, id), HS_OK);
        if (kind == HS_KIND_INVOICE) {
            assert_int_equal(hs_record_set_str(&r->invoice.number, id), HS_OK);
            r->invoice.status = HS_INVOICE_OPEN;
            r->invoice.balance = r->invoice.total;
        }
        f->recs[f->n++] = r;
        assert_int_equal(hs_record_clone(r, &w[i].result), HS_OK);
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

static void put_company(struct fake *f, const char *id, const char *name)
{
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_CUSTOMER, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->id, id), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.display_name, name), HS_OK);
    f->recs[f->n++] = r;
}

/* A closed-won deal of company: one line, 2 x 50.00 of product P1. */
static void put_deal(struct fake *f, const char *id, const char *company)
{
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_INVOICE, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->id, id), HS_OK);
    assert_int_equal(hs_record_set_str(&r->invoice.customer_ref, company), HS_OK);
    memcpy(r->invoice.currency, "USD", 4);
    assert_int_equal(hs_fields_set(&r->custom, "dealstage", "closedwon"), HS_OK);
    struct hs_error err = {0};
    struct hs_invoice_line *l = NULL;
    assert_int_equal(hs_record_add_line(r, &l), HS_OK);
    assert_int_equal(hs_record_set_str(&l->item_ref, "P1"), HS_OK);
    assert_int_equal(hs_decimal_from_int(2, &l->quantity, &err), HS_OK);
    l->has_quantity = true;
    assert_int_equal(hs_money_from_minor(5000, "USD", &l->unit_price, &err), HS_OK);
    f->recs[f->n++] = r;
}

/* ---- fixture ---------------------------------------------------------------------------- */

static int64_t fake_now(void *ud)
{
    return ((struct fx *)ud)->now;
}

static void fake_sleep(void *ud, int64_t ms)
{
    ((struct fx *)ud)->now += ms;
}

static uint64_t fake_rand(void *ud)
{
    (void)ud;
    return 4;
}

static const char YAML[] = "version: 1\n"
                           "store: sqlite:hoopsync.db\n"
                           "connections:\n"
                           "  crm: {provider: hubspot}\n"
                           "  accounting: {provider: quickbooks}\n"
                           "flows:\n"
                           "  - name: customers\n"
                           "    objects: customers\n"
                           "    direction: crm_to_accounting\n";

static int setup(void **state)
{
    unsetenv(HS_STORE_KEY_ENV);
    struct fx *x = calloc(1, sizeof *x);
    snprintf(x->dir, sizeof x->dir, "/tmp/hs-ahead-XXXXXX");
    if (mkdtemp(x->dir) == NULL)
        return -1;
    snprintf(x->path, sizeof x->path, "%s/hoopsync.db", x->dir);
    x->now = 1700000000000;
    x->env =
        (struct hs_env){.now_ms = fake_now, .rand64 = fake_rand, .sleep_ms = fake_sleep, .ud = x};
    struct hs_store_options opt = {.env = &x->env, .master_key_hex = KEY_A};
    struct hs_error err = {0};
    if (hs_store_open(x->path, &opt, &x->s, &err) != HS_OK)
        fail_msg("store: %s", err.msg);
    assert_int_equal(hs_store_connection_put(x->s, "crm", HS_STORE_CRM, "fakecrm", "", NULL, &err),
                     HS_OK);
    assert_int_equal(
        hs_store_connection_put(x->s, "accounting", HS_STORE_ACCOUNTING, "fakeacc", "", NULL, &err),
        HS_OK);
    assert_int_equal(
        hs_store_link_create(x->s, "crm", "accounting", "item", "P1", "I1", NULL, &err), HS_OK);
    if (hs_config_parse((const uint8_t *)YAML, strlen(YAML), "/tmp/hoopsync.yaml", &x->cfg, &err) !=
        HS_OK)
        fail_msg("config: %s", err.msg);
    x->crm = (struct fake){.side = HS_SIDE_CRM, .x = x};
    x->acc = (struct fake){.side = HS_SIDE_ACCOUNTING, .x = x};
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
    for (int i = 1; i <= N_COMPANY; i++) {
        char id[16], name[32];
        snprintf(id, sizeof id, "C%d", i);
        snprintf(name, sizeof name, "Company %d", i);
        put_company(&x->crm, id, name);
        char deal[16];
        snprintf(deal, sizeof deal, "D%d", i);
        put_deal(&x->crm, deal, id);
    }
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    hs_engine_close(x->e);
    hs_config_free(x->cfg);
    hs_store_close(x->s);
    struct fake *fs[] = {&x->crm, &x->acc};
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < fs[k]->n; i++)
            hs_record_free(fs[k]->recs[i]);
    hs_ratelimit_free(x->crm.rl);
    hs_ratelimit_free(x->acc.rl);
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

static struct hs_ratelimit *limiter(struct fx *x, int64_t limit, int64_t window_ms)
{
    struct hs_ratelimit *rl = NULL;
    assert_int_equal(hs_ratelimit_new(&x->env, &rl), HS_OK);
    assert_int_equal(hs_ratelimit_add(rl, "all", limit, window_ms), HS_OK);
    return rl;
}

/* Opens the engine with the fakes' limiters handed in, runs one pass, checks that every
 * company and deal was created exactly once on the accounting side. */
static void run_pass(struct fx *x)
{
    struct hs_engine_config ec = {
        .config = x->cfg,
        .store = x->s,
        .crm = {.ops = &FAKE_CRM, .conn = &x->ccrm, .conn_id = "crm", .limiter = x->crm.rl},
        .accounting = {.ops = &FAKE_ACC,
                       .conn = &x->cacc,
                       .conn_id = "accounting",
                       .limiter = x->acc.rl},
        .env = &x->env,
        .lease_ms = 60000,
        .invoicing = &x->iv,
    };
    struct hs_error err = {0};
    if (hs_engine_open(&ec, &x->e, &err) != HS_OK)
        fail_msg("engine: %s", err.msg);
    struct hs_engine_report rep;
    hs_engine_report_init(&rep);
    if (hs_engine_run_once(x->e, &rep, &err) != HS_OK)
        fail_msg("run: %s", err.msg);
    assert_int_equal(rep.n_created, 2 * N_COMPANY);
    hs_engine_report_release(&rep);
    size_t customers = 0, invoices = 0;
    for (size_t i = 0; i < x->acc.n; i++) {
        customers += x->acc.recs[i]->kind == HS_KIND_CUSTOMER;
        invoices += x->acc.recs[i]->kind == HS_KIND_INVOICE;
    }
    assert_int_equal(customers, N_COMPANY);
    assert_int_equal(invoices, N_COMPANY);
}

static size_t first_event(const struct fx *x, const char *ev)
{
    for (size_t i = 0; i < x->n_ev; i++)
        if (strcmp(x->ev[i], ev) == 0)
            return i;
    fail_msg("no event '%s'", ev);
    return 0;
}

/* The first event ev after index from. */
static size_t next_event(const struct fx *x, size_t from, const char *ev)
{
    for (size_t i = from + 1; i < x->n_ev; i++)
        if (strcmp(x->ev[i], ev) == 0)
            return i;
    fail_msg("no event '%s' after %zu", ev, from);
    return 0;
}

static size_t last_event(const struct fx *x, const char *ev)
{
    size_t at = x->n_ev;
    for (size_t i = 0; i < x->n_ev; i++)
        if (strcmp(x->ev[i], ev) == 0)
            at = i;
    if (at == x->n_ev)
        fail_msg("no event '%s'", ev);
    return at;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_deals_are_read_while_the_accounting_window_waits(void **state)
{
    struct fx *x = *state;
    /* one accounting call a second: the 3 customer writes (2 a call) wait twice */
    x->acc.rl = limiter(x, 1, 1000);
    run_pass(x);
    size_t first_deal_read = first_event(x, "R invoice");
    size_t last_customer_write = last_event(x, "W customer");
    assert_true(first_deal_read < last_customer_write);
    /* all three deal reads (2 a call) fit in the first wait: between the first two writes */
    assert_true(last_event(x, "R invoice") < last_customer_write);
    assert_true(first_event(x, "W customer") < first_deal_read);
}

static void test_without_a_limiter_deals_are_read_in_their_turn(void **state)
{
    struct fx *x = *state;
    run_pass(x);
    assert_true(first_event(x, "R invoice") > last_event(x, "W customer"));
}

static void test_a_crm_read_that_would_wait_is_not_made_early(void **state)
{
    struct fx *x = *state;
    x->acc.rl = limiter(x, 1, 1000);
    /* the CRM allows 3 calls a minute and the 3 company reads spend them: a read ahead
     * would wait for the CRM longer than the accounting call waits */
    x->crm.rl = limiter(x, 3, 60000);
    run_pass(x);
    assert_true(first_event(x, "R invoice") > last_event(x, "W customer"));
}

static void test_reads_ahead_stop_before_they_would_make_the_write_late(void **state)
{
    struct fx *x = *state;
    x->acc.rl = limiter(x, 1, 1000);
    x->read_ms = 400; /* two reads fit in a wait of 1000 ms, a third would end at 1200 */
    run_pass(x);
    size_t w1 = first_event(x, "W customer");
    size_t w2 = next_event(x, w1, "W customer");
    /* between the first two customer writes: exactly two reads ahead, and the second write
     * goes out when the window opens, not a read later */
    size_t reads = 0;
    for (size_t i = w1 + 1; i < w2; i++)
        reads += x->ev[i][0] == 'R';
    assert_int_equal(reads, 2);
    assert_int_equal(x->at[w2] - x->at[w1], 1000);
}

/* A read ahead that waits for the CRM's own limiter is not taken to be that long: the wait
 * is the CRM's, the read itself is quick, so the next read still fits. */
static void test_a_read_that_waited_for_the_crm_is_not_counted_that_long(void **state)
{
    struct fx *x = *state;
    x->acc.rl = limiter(x, 1, 1000);
    /* the CRM's last company read is at 800 ms, as the first customer write: the wait until
     * 1800 ms has room for deal reads at 1200 and 1600 ms, each waiting 400 ms for the CRM */
    x->crm.rl = limiter(x, 1, 400);
    run_pass(x);
    size_t w1 = first_event(x, "W customer");
    size_t w2 = next_event(x, w1, "W customer");
    size_t deals = 0;
    for (size_t i = w1 + 1; i < w2; i++)
        deals += strcmp(x->ev[i], "R invoice") == 0;
    assert_int_equal(deals, 2);
    assert_int_equal(x->at[w2] - x->at[w1], 1000);
}

/* The deals' change feed, paged, is fetched while the accounting window waits too: its pages
 * come between the customer writes, not all before the first write. */
static void test_feed_pages_are_fetched_while_the_accounting_window_waits(void **state)
{
    struct fx *x = *state;
    x->acc.rl = limiter(x, 1, 1000);
    x->page = 2;
    run_pass(x);
    size_t w1 = first_event(x, "W customer");
    size_t c1 = first_event(x, "C invoice");
    assert_true(w1 < c1);
    assert_true(c1 < last_event(x, "W customer"));
    /* the whole feed, 3 pages of 2 deals, each fetched once */
    size_t pages = 0;
    for (size_t i = 0; i < x->n_ev; i++)
        pages += strcmp(x->ev[i], "C invoice") == 0;
    assert_int_equal(pages, 3);
}

/* Without a limiter nothing is fetched ahead: the deals' feed is paged in the invoice
 * step's turn, after the customers are written. */
static void test_without_a_limiter_feed_pages_come_in_their_turn(void **state)
{
    struct fx *x = *state;
    x->page = 2;
    run_pass(x);
    assert_true(first_event(x, "C invoice") > last_event(x, "W customer"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_feed_pages_are_fetched_while_the_accounting_window_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_a_limiter_feed_pages_come_in_their_turn, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deals_are_read_while_the_accounting_window_waits,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_a_limiter_deals_are_read_in_their_turn, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_crm_read_that_would_wait_is_not_made_early, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reads_ahead_stop_before_they_would_make_the_write_late,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_read_that_waited_for_the_crm_is_not_counted_that_long, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
