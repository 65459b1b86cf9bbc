/*
 * tests/integration/test_scenarios_crash.c - a real process killed with SIGKILL between the
 * provider's create and our link, then a new pass: exactly one record, linked.
 *
 * Design:     the sandbox runs as its own process (scenario.c). The parent closes its engine
 *             stack, sets the sandbox fault "stall=MS,stall_path=P" with P the accounting
 *             provider's create path of the record's kind (scn_acc.create_path; QuickBooks:
 *             the realm's /batch; Xero: /Contacts or /Invoices, whose reads are then held too,
 *             so the row's shorter scn_acc.stall_ms; Zoho: /books/v3/contacts or .../invoices,
 *             likewise), so the provider commits the create and then holds the answer, and forks
 *             a child that opens its own engine stack on the same SQLite store and runs one
 *             pass. The parent polls the provider's API until the record exists (or, where the
 *             stall holds those reads too, scn_acc.create_held: Zoho), SIGKILLs the
 *             child (which is still waiting for the answer, so our link was never stored),
 *             clears the fault, checks that the store holds the create's intent and no link,
 *             and runs a pass itself. Cases: an invoice of a closed-won deal (then the deal's
 *             write-back), and a customer created from a new CRM company.
 *             The child's dirty-set lease survives it: the recovery pass runs after the lease
 *             time (a worker restarted later), or at once for the customer (the record then
 *             comes back through the other side's change feed). The fake clock makes both exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scenario.h"

#define STALL_MS    20000
#define WAIT_MS     15000
#define LEASE_MS    300000 /* the engine's default dirty-set lease */
#define CHILD_CLEAN 0
#define CHILD_ERROR 3

static int setup_invoicing(void **state)
{
    struct scn_options o = {.invoicing = true};
    *state = scn_open(&o);
    scn_engine_open(*state);
    return 0;
}

static int setup_customers(void **state)
{
    struct scn_options o = {.authority = "crm"};
    *state = scn_open(&o);
    scn_engine_open(*state);
    return 0;
}

static int teardown(void **state)
{
    scn_close(*state);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&d, &d) != 0 && errno == EINTR)
        ;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Forks a child that runs one engine pass over the store and exits (if it gets that far). */
static pid_t start_child_pass(struct scn *s)
{
    assert_null(s->e); /* the parent's stack is closed: nothing of it crosses the fork */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        scn_engine_open(s);
        struct hs_engine_report r;
        hs_engine_report_init(&r);
        struct hs_error err;
        hs_error_clear(&err);
        int rc = hs_engine_run_once(s->e, &r, &err);
        _exit(rc == HS_OK ? CHILD_CLEAN : CHILD_ERROR);
    }
    return pid;
}

/* Waits until done(s, ud) holds (polling the provider's API), then SIGKILLs the child. */
static void kill_when(struct scn *s, pid_t child, bool (*done)(struct scn *s, void *ud), void *ud)
{
    int64_t t0 = mono_ms();
    bool ok = false;
    while (!ok && mono_ms() - t0 < WAIT_MS) {
        scn_reconnect(s); /* never through the worker the stall holds */
        ok = done(s, ud);
        if (!ok)
            sleep_ms(20);
    }
    int st = 0;
    if (waitpid(child, &st, WNOHANG) == 0) {
        assert_int_equal(kill(child, SIGKILL), 0);
        while (waitpid(child, &st, 0) < 0 && errno == EINTR)
            ;
    }
    if (!ok)
        fail_msg("the provider never showed the create (child status %d)", st);
    /* killed while waiting for the provider's answer, not finished on its own */
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    print_message("child killed %lld ms after the fork, the create committed and unanswered\n",
                  (long long)(mono_ms() - t0));
}

static void stall_batches(struct scn *s, enum hs_kind kind)
{
    char path[96], spec[160];
    s->acc->create_path(s, kind, path, sizeof path);
    snprintf(spec, sizeof spec, "stall=%d,stall_path=%s",
             s->acc->stall_ms > 0 ? s->acc->stall_ms : STALL_MS, path);
    /* the request counters start again: scn_acc.create_held reads them */
    assert_int_equal(scn_http(s, "DELETE", "/_sandbox/stats", NULL, NULL), 200);
    scn_faults(s, spec);
}

static int intents(struct scn *s)
{
    int n = hs_store_intent_count(s->store, NULL);
    assert_true(n >= 0);
    return n;
}

struct inv_wait {
    const char *customer;
};

static bool invoice_made(struct scn *s, void *ud)
{
    const struct inv_wait *w = ud;
    if (s->acc->create_held != NULL)
        return s->acc->create_held(s, HS_KIND_INVOICE);
    return s->acc->invoices_of(s, w->customer) > 0;
}

static void test_scenarios_sigkill_between_invoice_create_and_link(void **state)
{
    struct scn *s = *state;
    struct hs_engine_report r;
    scn_pass(s, &r);
    hs_engine_report_release(&r);
    char crm[SCN_ID_MAX], acc[SCN_ID_MAX], p0[SCN_ID_MAX];
    scn_crm_create(s, "companies", "{\"name\":\"Killswitch Robotics Inc\",\"country\":\"US\"}",
                   NULL, crm);
    scn_pass(s, &r);
    hs_engine_report_release(&r);
    assert_true(scn_linked(s, "customer", crm, acc));
    scn_crm_product(s, 0, p0);
    const struct scn_line lines[] = {{p0, "2", "410.10", NULL}};
    char deal[SCN_ID_MAX];
    scn_crm_deal(s, crm, "Killswitch arm order", "USD", "closedwon", lines, 1, deal);
    assert_int_equal(s->acc->invoices_of(s, acc), 0);

    scn_engine_close(s);
    stall_batches(s, HS_KIND_INVOICE);
    pid_t child = start_child_pass(s);
    struct inv_wait w = {.customer = acc};
    kill_when(s, child, invoice_made, &w);
    scn_faults(s, "");
    assert_int_equal(s->acc->invoices_of(s, acc), 1);

    /* the kill fell between the provider's create and our link */
    scn_engine_open(s);
    assert_false(scn_linked(s, "invoice", deal, NULL));
    assert_int_equal(intents(s), 1);

    /* meanwhile another deal of the company closes, so the retried create goes out with it:
     * in another batch than the first attempt (a per-request key is no longer the same) */
    const struct scn_line lines2[] = {{p0, "1", "99.00", NULL}};
    char deal2[SCN_ID_MAX];
    scn_crm_deal(s, crm, "Killswitch spare parts", "USD", "closedwon", lines2, 1, deal2);

    /* restarted at once: closed-won deals are listed every pass, whatever the dead worker's
     * leases, so the invoice is healed now (found, not made twice) */
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    hs_engine_report_release(&r);
    assert_int_equal(s->acc->invoices_of(s, acc), 2); /* exactly one per deal */
    char inv_id[SCN_ID_MAX], inv2_id[SCN_ID_MAX];
    assert_true(scn_linked(s, "invoice", deal, inv_id));
    assert_true(scn_linked(s, "invoice", deal2, inv2_id));
    assert_string_not_equal(inv_id, inv2_id);
    assert_int_equal(intents(s), 0);
    struct scn_invoice inv;
    s->acc->invoice(s, inv_id, &inv);
    assert_true(inv.exists);
    assert_string_equal(inv.customer, acc);
    assert_int_equal(inv.total, 2 * 41010);
    char v[64];
    scn_crm_get(s, "deals", deal, "hoopsync_invoice_number", v, sizeof v);
    assert_string_equal(v, inv.number);
    scn_crm_get(s, "deals", deal, "hoopsync_payment_status", v, sizeof v);
    assert_string_equal(v, "unpaid");
    scn_crm_get(s, "deals", deal, "hoopsync_amount_due", v, sizeof v);
    assert_int_equal(scn_minor(v, "USD"), inv.balance);

    scn_advance(s, LEASE_MS); /* the dead worker's leases run out: still nothing to do */
    scn_quiet_pass(s);
    assert_int_equal(s->acc->invoices_of(s, acc), 2);
}

static bool customer_made(struct scn *s, void *ud)
{
    if (s->acc->create_held != NULL)
        return s->acc->create_held(s, HS_KIND_CUSTOMER);
    return s->acc->customers_named(s, ud, NULL) > 0;
}

/*
 * A CRM company whose QuickBooks customer create is killed before its link; the recovery
 * pass runs after the dead worker's lease expired (the company is claimed again: its create
 * is replayed) or at once (the company stays leased; the customer the dead worker made comes
 * in through QuickBooks' change feed and is matched by name). Either way: one customer,
 * linked, and no create left pending.
 */
static void customer_crash(struct scn *s, const char *name, bool after_lease)
{
    struct hs_engine_report r;
    /* the backfill, then a pass that reads back its writes (echoes): Zoho reads them one
     * call each, which the stall below would hold one by one */
    for (int i = 0; i < 2; i++) {
        scn_pass(s, &r);
        hs_engine_report_release(&r);
    }
    char crm[SCN_ID_MAX], props[160];
    snprintf(props, sizeof props, "{\"name\":\"%s\",\"country\":\"Germany\"}", name);
    scn_crm_create(s, "companies", props, NULL, crm);
    assert_int_equal(s->acc->customers_named(s, name, NULL), 0);

    scn_engine_close(s);
    stall_batches(s, HS_KIND_CUSTOMER);
    pid_t child = start_child_pass(s);
    kill_when(s, child, customer_made, (void *)(uintptr_t)name);
    scn_faults(s, "");
    assert_int_equal(s->acc->customers_named(s, name, NULL), 1); /* the create committed */

    scn_engine_open(s);
    assert_false(scn_linked(s, "customer", crm, NULL));
    assert_int_equal(intents(s), 1);

    if (after_lease)
        scn_advance(s, LEASE_MS);
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    hs_engine_report_release(&r);
    char acc[SCN_ID_MAX], linked[SCN_ID_MAX];
    assert_int_equal(s->acc->customers_named(s, name, acc), 1); /* exactly one */
    assert_true(scn_linked(s, "customer", crm, linked));
    assert_string_equal(linked, acc);
    /* the lease has run out by now in both cases */
    scn_advance(s, LEASE_MS);
    scn_quiet_pass(s);
    assert_int_equal(s->acc->customers_named(s, name, NULL), 1);
    assert_int_equal(intents(s), 0); /* nothing left that looks like an interrupted create */
}

static void test_scenarios_sigkill_between_customer_create_and_link(void **state)
{
    customer_crash(*state, "Crash Course Logistics GmbH", true);
}

static void test_scenarios_sigkill_customer_healed_by_match_before_lease_expiry(void **state)
{
    customer_crash(*state, "Early Restart Spedition GmbH", false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scenarios_sigkill_between_invoice_create_and_link,
                                        setup_invoicing, teardown),
        cmocka_unit_test_setup_teardown(test_scenarios_sigkill_between_customer_create_and_link,
                                        setup_customers, teardown),
        cmocka_unit_test_setup_teardown(
            test_scenarios_sigkill_customer_healed_by_match_before_lease_expiry, setup_customers,
            teardown),
    };
    return scn_run_all("crash", tests, sizeof tests / sizeof tests[0]);
}
