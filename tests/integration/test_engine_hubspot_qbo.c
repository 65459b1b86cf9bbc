/*
 * tests/integration/test_engine_hubspot_qbo.c - the sync engine with the real HubSpot and
 * QuickBooks connectors against the sandbox (in-process transport: the same request and
 * response code path as HTTP, no sockets), seeded world, frozen clock, SQLite store.
 *
 * Checks: the backfill links the seeded name variants instead of duplicating them and creates
 * the rest both ways; a second pass with nothing changed makes zero writes; an edit on each
 * side of one linked pair (different fields) reaches the other side and both survive; with
 * invoicing on, seeded closed-won deals become QuickBooks invoices whose TotalAmt equals the
 * deal's computed total to the cent, each deal gets its invoice number, a rerun makes no second
 * invoice, and a QuickBooks payment makes the deal partially_paid, then paid.
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

#include <jansson.h>

#include "config/config.h"
#include "core/invoice.h"
#include "connectors/hubspot/hubspot.h"
#include "connectors/quickbooks/quickbooks.h"
#include "engine/engine.h"
#include "hoopsync/store.h"
#include "net/http.h"
#include "sandbox/sbx.h"
#include "util/alloc.h"
#include "util/buf.h"

#define KEY_A    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define START_MS 1795456800000LL

struct fx {
    char dir[64];
    char path[128];
    int64_t now;
    struct hs_env env;
    struct hs_sbx *sbx;
    struct hs_http_transport http;
    char realm[32];
    json_t *qbo_settings;
    struct hs_connector *crm;
    struct hs_connector *acc;
    struct hs_store *store;
    struct hs_config *cfg;
    struct hs_engine *e;
    struct hs_invoice_term terms[1];
    const char *stages[1];
    struct hs_engine_invoicing iv;
};

static int64_t fx_now(void *ud)
{
    return ((struct fx *)ud)->now;
}

static void fx_sleep(void *ud, int64_t ms)
{
    ((struct fx *)ud)->now += ms;
}

static uint64_t fx_rand(void *ud)
{
    (void)ud;
    return 42;
}

static void fx_log(void *ud, enum hs_log_level level, const char *msg)
{
    (void)ud;
    (void)level;
    (void)msg;
}

static int fx_token(void *ud, bool force, char **out, struct hs_error *err)
{
    (void)ud;
    (void)force;
    (void)err;
    *out = hs_strdup("T");
    return *out != NULL ? HS_OK : HS_ENOMEM;
}

static int sbx_call(struct fx *x, const char *method, const char *path, const char *body,
                    json_t **out)
{
    struct hs_http_request r;
    struct hs_http_response resp;
    hs_http_request_init(&r);
    hs_http_response_init(&resp);
    r.method = hs_strdup(method);
    r.path = hs_strdup(path);
    assert_int_equal(hs_http_headers_add(&r.headers, "Authorization", "Bearer T"), HS_OK);
    if (body != NULL) {
        assert_int_equal(hs_buf_puts(&r.body, body), HS_OK);
        assert_int_equal(hs_http_headers_add(&r.headers, "Content-Type", "application/json"),
                         HS_OK);
    }
    assert_int_equal(hs_sbx_handle(x->sbx, &r, &resp), HS_OK);
    if (out != NULL)
        *out = json_loadb(resp.body.data != NULL ? resp.body.data : "", resp.body.len, 0, NULL);
    int status = resp.status;
    hs_http_request_release(&r);
    hs_http_response_release(&resp);
    return status;
}

static const char YAML[] = "version: 1\n"
                           "store: sqlite:hoopsync.db\n"
                           "connections:\n"
                           "  crm: {provider: hubspot}\n"
                           "  accounting: {provider: quickbooks}\n"
                           "flows:\n"
                           "  - name: customers\n"
                           "    objects: customers\n"
                           "    direction: both\n"
                           "    authority:\n"
                           "      default: crm\n";
/* with invoicing: products -> items too, so deal lines find their items */
static const char YAML_ITEMS[] = "  - name: items\n"
                                 "    objects: items\n"
                                 "    direction: crm_to_accounting\n";

static int setup(void **state)
{
    hs_alloc_setup_json();
    unsetenv(HS_STORE_KEY_ENV);
    struct fx *x = calloc(1, sizeof *x);
    snprintf(x->dir, sizeof x->dir, "/tmp/hs-engine-it-XXXXXX");
    if (mkdtemp(x->dir) == NULL)
        return -1;
    snprintf(x->path, sizeof x->path, "%s/hoopsync.db", x->dir);
    x->now = START_MS;
    x->env = (struct hs_env){.now_ms = fx_now,
                             .rand64 = fx_rand,
                             .log = fx_log,
                             .sleep_ms = fx_sleep,
                             .ud = x,
                             .min_level = HS_LOG_ERROR};
    struct hs_sbx_options opt = {0};
    opt.seed = 7;
    opt.seeded = true;
    opt.static_token = "T";
    opt.no_rate_limits = true;
    opt.start_ms = START_MS;
    opt.env = &x->env;
    /* HS_TEST_COMPANIES=N: a bigger world, for a quick look at speed (the asserts of the
     * first case assume the default sizes) */
    const char *big = getenv("HS_TEST_COMPANIES");
    if (big != NULL) {
        opt.sizes.companies = (unsigned)strtoul(big, NULL, 10);
        opt.sizes.customers = opt.sizes.companies / 4;
    }
    struct hs_error err = {0};
    if (hs_sbx_open(&opt, &x->sbx, &err) != HS_OK)
        fail_msg("sandbox: %s", err.msg);
    assert_int_equal(sbx_call(x, "POST", "/_sandbox/clock", "{\"freeze\":true}", NULL), 200);
    json_t *ten = NULL;
    assert_int_equal(sbx_call(x, "GET", "/_sandbox/tenants", NULL, &ten), 200);
    snprintf(x->realm, sizeof x->realm, "%s",
             json_string_value(json_object_get(json_object_get(ten, "quickbooks"), "realmId")));
    json_decref(ten);
    assert_int_equal(hs_http_inproc_open(hs_sbx_handle, x->sbx, &x->http, &err), HS_OK);

    struct hs_connector_config cc = {.name = "crm",
                                     .base_url = "http://sandbox.test/hubspot",
                                     .tenant = "21430001",
                                     .http = &x->http,
                                     .env = &x->env,
                                     .token = fx_token};
    if (hs_connector_hubspot_ops.open(&cc, &x->crm, &err) != HS_OK)
        fail_msg("hubspot: %s", err.msg);
    /* what `hoopsync connect crm` does once: the hoopsync properties (hoopsync_id, ...) */
    if (hs_connector_hubspot_ops.setup != NULL &&
        hs_connector_hubspot_ops.setup(x->crm, &err) != HS_OK)
        fail_msg("hubspot setup: %s", err.msg);
    x->qbo_settings = json_pack("{s:s, s:i}", "income_account", "2", "minorversion", 75);
    struct hs_connector_config ac = {.name = "accounting",
                                     .base_url = "http://sandbox.test/quickbooks",
                                     .tenant = x->realm,
                                     .http = &x->http,
                                     .env = &x->env,
                                     .token = fx_token,
                                     .settings = x->qbo_settings};
    if (hs_connector_quickbooks_ops.open(&ac, &x->acc, &err) != HS_OK)
        fail_msg("quickbooks: %s", err.msg);

    struct hs_store_options sopt = {.env = &x->env, .master_key_hex = KEY_A};
    if (hs_store_open(x->path, &sopt, &x->store, &err) != HS_OK)
        fail_msg("store: %s", err.msg);
    assert_int_equal(
        hs_store_connection_put(x->store, "crm", HS_STORE_CRM, "hubspot", "21430001", NULL, &err),
        HS_OK);
    assert_int_equal(hs_store_connection_put(x->store, "accounting", HS_STORE_ACCOUNTING,
                                             "quickbooks", x->realm, NULL, &err),
                     HS_OK);
    bool invoicing = getenv("HS_TEST_INVOICING") != NULL;
    char yaml[sizeof YAML + sizeof YAML_ITEMS];
    snprintf(yaml, sizeof yaml, "%s%s", YAML, invoicing ? YAML_ITEMS : "");
    if (hs_config_parse((const uint8_t *)yaml, strlen(yaml), "/tmp/hoopsync.yaml", &x->cfg, &err) !=
        HS_OK)
        fail_msg("config: %s", err.msg);
    struct hs_engine_config ec = {
        .config = x->cfg,
        .store = x->store,
        .crm = {.ops = &hs_connector_hubspot_ops, .conn = x->crm, .conn_id = "crm"},
        .accounting = {.ops = &hs_connector_quickbooks_ops,
                       .conn = x->acc,
                       .conn_id = "accounting"},
        .env = &x->env,
    };
    /* invoicing only for the invoice case: the other cases count writes of the generic flows */
    if (invoicing) {
        x->terms[0] = (struct hs_invoice_term){.name = "Net 30", .due_days = 30};
        x->stages[0] = "closedwon";
        x->iv = (struct hs_engine_invoicing){.won_stages = x->stages,
                                             .n_won_stages = 1,
                                             .policy = hs_tax_policy_quickbooks(HS_TAX_NONE),
                                             .terms = x->terms,
                                             .n_terms = 1,
                                             .payment_terms = "Net 30",
                                             .default_currency = "USD",
                                             .provider = "QuickBooks"};
        ec.invoicing = &x->iv;
    }
    if (hs_engine_open(&ec, &x->e, &err) != HS_OK)
        fail_msg("engine: %s", err.msg);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    hs_engine_close(x->e);
    hs_config_free(x->cfg);
    hs_store_close(x->store);
    hs_connector_hubspot_ops.close(x->crm);
    hs_connector_quickbooks_ops.close(x->acc);
    json_decref(x->qbo_settings);
    hs_http_transport_close(&x->http);
    hs_sbx_close(x->sbx);
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

static void pass(struct fx *x, struct hs_engine_report *r)
{
    hs_engine_report_init(r);
    struct hs_error err = {0};
    x->now += 1000;
    char body[64];
    snprintf(body, sizeof body, "{\"advance_ms\":1000}");
    assert_int_equal(sbx_call(x, "POST", "/_sandbox/clock", body, NULL), 200);
    int rc = hs_engine_run_once(x->e, r, &err);
    if (rc != HS_OK)
        fail_msg("pass: %s", err.msg);
    for (size_t i = 0; i < r->n_actions; i++)
        if (r->actions[i].kind == HS_ENGINE_ERROR || getenv("HS_TEST_VERBOSE") != NULL)
            print_message("%s %s -> %s [%s]: %s\n", hs_engine_action_name(r->actions[i].kind),
                          r->actions[i].source_id,
                          r->actions[i].target_id != NULL ? r->actions[i].target_id : "-",
                          r->actions[i].fields != NULL ? r->actions[i].fields : "",
                          r->actions[i].reason);
}

static int count(const struct hs_engine_report *r, enum hs_engine_action_kind k)
{
    int n = 0;
    for (size_t i = 0; i < r->n_actions; i++)
        n += r->actions[i].kind == k;
    return n;
}

static void test_engine_hubspot_qbo_backfill_links_variants_then_is_quiet(void **state)
{
    struct fx *x = *state;
    struct hs_engine_report r;
    pass(x, &r);
    int linked = count(&r, HS_ENGINE_LINK);
    int created = count(&r, HS_ENGINE_CREATE);
    int reviews = count(&r, HS_ENGINE_REVIEW);
    print_message("backfill: %d linked, %d created, %d review, %zu errors, %zu writes, "
                  "%zu read calls, %zu write calls\n",
                  linked, created, reviews, r.n_errors, r.n_writes, r.n_calls_read,
                  r.n_calls_write);
    /* 40 CRM companies, 20 of them in QuickBooks under a variant spelling, 10 only there */
    assert_true(linked + reviews >= 20);
    assert_true(linked >= 16);
    /* every record once: a link or a review is a pair (a review is queued once, whichever
     * side found it), a create one record; 40 CRM + 30 QuickBooks records */
    assert_int_equal(2 * (linked + reviews) + created, 70);
    assert_int_equal(r.n_errors, 0);
    hs_engine_report_release(&r);

    /* the echoes of our writes come back: nothing to do */
    pass(x, &r);
    assert_int_equal(r.n_writes, 0);
    assert_int_equal(r.n_calls_write, 0);
    assert_int_equal(count(&r, HS_ENGINE_CREATE), 0);
    hs_engine_report_release(&r);
    pass(x, &r);
    assert_int_equal(r.n_writes, 0);
    hs_engine_report_release(&r);
}

struct first_link {
    char crm[64];
    char acc[64];
};

static int first_link_cb(void *ud, const struct hs_store_link *l)
{
    struct first_link *f = ud;
    snprintf(f->crm, sizeof f->crm, "%s", l->crm_id);
    snprintf(f->acc, sizeof f->acc, "%s", l->acc_id);
    return 1;
}

static struct hs_record *read_one(const struct hs_connector_ops *ops, struct hs_connector *c,
                                  const char *id)
{
    struct hs_record *out = NULL;
    struct hs_error err = {0};
    const char *ids[1] = {id};
    if (ops->read(c, HS_KIND_CUSTOMER, ids, 1, &out, &err) != HS_OK)
        fail_msg("read: %s", err.msg);
    assert_non_null(out);
    return out;
}

/* Sets one field of a record through the provider's API (as a user would). */
static void user_edit(struct fx *x, const struct hs_connector_ops *ops, struct hs_connector *c,
                      const char *id, const char *path, const char *value)
{
    struct hs_record *cur = read_one(ops, c, id);
    struct hs_fields f;
    hs_fields_init(&f);
    assert_int_equal(hs_fields_set(&f, path, value), HS_OK);
    struct hs_record *rec = NULL;
    assert_int_equal(hs_record_from_fields(HS_KIND_CUSTOMER, &f, &rec, NULL), HS_OK);
    rec->id = hs_strdup(id);
    assert_int_equal(hs_fields_copy(&rec->meta, &cur->meta), HS_OK);
    const char *fields[1] = {path};
    struct hs_write w = {.op = HS_WRITE_UPDATE, .record = rec, .fields = fields, .n_fields = 1};
    struct hs_error err = {0};
    if (ops->write(c, HS_KIND_CUSTOMER, &w, 1, &err) != HS_OK || w.status != HS_OK)
        fail_msg("edit: %s %s", err.msg, w.msg);
    hs_record_free(w.result);
    hs_record_free(rec);
    hs_record_free(cur);
    hs_fields_release(&f);
    (void)x;
}

static void test_engine_hubspot_qbo_edits_on_both_sides_both_survive(void **state)
{
    struct fx *x = *state;
    struct hs_engine_report r;
    pass(x, &r);
    hs_engine_report_release(&r);
    pass(x, &r);
    hs_engine_report_release(&r);
    struct first_link l = {0};
    struct hs_error err = {0};
    assert_int_equal(
        hs_store_link_each(x->store, "crm", "accounting", "customer", first_link_cb, &l, &err), 1);
    x->now += 60000;
    assert_int_equal(sbx_call(x, "POST", "/_sandbox/clock", "{\"advance_ms\":60000}", NULL), 200);
    user_edit(x, &hs_connector_hubspot_ops, x->crm, l.crm, "website", "https://example.org");
    user_edit(x, &hs_connector_quickbooks_ops, x->acc, l.acc, "phone", "+1 415 555 0100");
    pass(x, &r);
    print_message("edit pass: %zu writes, %zu actions\n", r.n_writes, r.n_actions);
    assert_int_equal(count(&r, HS_ENGINE_UPDATE), 2);
    assert_int_equal(r.n_errors, 0);
    hs_engine_report_release(&r);
    struct hs_record *a = read_one(&hs_connector_quickbooks_ops, x->acc, l.acc);
    struct hs_record *c = read_one(&hs_connector_hubspot_ops, x->crm, l.crm);
    assert_non_null(a->customer.website);
    assert_non_null(strstr(a->customer.website, "example.org"));
    assert_non_null(c->customer.phone);
    assert_non_null(strstr(c->customer.phone, "555"));
    hs_record_free(a);
    hs_record_free(c);
    pass(x, &r);
    assert_int_equal(r.n_writes, 0);
    hs_engine_report_release(&r);
}

static int invoicing_setup(void **state)
{
    setenv("HS_TEST_INVOICING", "1", 1);
    int rc = setup(state);
    unsetenv("HS_TEST_INVOICING");
    return rc;
}

struct links {
    char crm[64][32];
    char acc[64][32];
    size_t n;
};

static int links_cb(void *ud, const struct hs_store_link *l)
{
    struct links *ls = ud;
    if (ls->n < 64) {
        snprintf(ls->crm[ls->n], sizeof ls->crm[0], "%s", l->crm_id);
        snprintf(ls->acc[ls->n], sizeof ls->acc[0], "%s", l->acc_id);
        ls->n++;
    }
    return 0;
}

static struct hs_record *read_kind(const struct hs_connector_ops *ops, struct hs_connector *c,
                                   enum hs_kind kind, const char *id)
{
    struct hs_record *out = NULL;
    struct hs_error err = {0};
    const char *ids[1] = {id};
    if (ops->read(c, kind, ids, 1, &out, &err) != HS_OK)
        fail_msg("read: %s", err.msg);
    assert_non_null(out);
    return out;
}

static void
test_engine_hubspot_qbo_closed_deals_become_invoices_and_payments_come_back(void **state)
{
    struct fx *x = *state;
    struct hs_engine_report r;
    pass(x, &r);
    size_t created = 0;
    for (size_t i = 0; i < r.n_actions; i++)
        created += r.actions[i].kind == HS_ENGINE_CREATE && r.actions[i].object == HS_KIND_INVOICE;
    print_message("invoices: %zu created, %zu errors\n", created, r.n_errors);
    hs_engine_report_release(&r);
    struct links ls;
    memset(&ls, 0, sizeof ls);
    struct hs_error err = {0};
    assert_int_equal(
        hs_store_link_each(x->store, "crm", "accounting", "invoice", links_cb, &ls, &err), 0);
    assert_true(ls.n > 0);
    assert_int_equal(ls.n, created);

    /* a rerun creates nothing more */
    pass(x, &r);
    for (size_t i = 0; i < r.n_actions; i++)
        assert_false(r.actions[i].kind == HS_ENGINE_CREATE &&
                     r.actions[i].object == HS_KIND_INVOICE);
    hs_engine_report_release(&r);

    for (size_t i = 0; i < ls.n; i++) {
        struct hs_record *deal =
            read_kind(&hs_connector_hubspot_ops, x->crm, HS_KIND_INVOICE, ls.crm[i]);
        struct hs_record *inv =
            read_kind(&hs_connector_quickbooks_ops, x->acc, HS_KIND_INVOICE, ls.acc[i]);
        /* our computation of the deal, with the invoice's own customer and items */
        struct hs_invoice_build_opts o = {.customer_id = inv->invoice.customer_ref,
                                          .default_item_id = "1",
                                          .policy = x->iv.policy,
                                          .terms = x->terms,
                                          .n_terms = 1,
                                          .payment_terms = "Net 30",
                                          .issue_date = inv->invoice.issue_date,
                                          .default_currency = "USD"};
        struct hs_record *want = NULL;
        if (hs_invoice_build(deal, &o, &want, &err) != HS_OK)
            fail_msg("build: %s", err.msg);
        assert_string_equal(inv->invoice.total.currency, want->invoice.total.currency);
        assert_int_equal(inv->invoice.total.minor, want->invoice.total.minor);
        assert_non_null(deal->invoice.number);
        assert_non_null(inv->invoice.number);
        assert_string_equal(deal->invoice.number, inv->invoice.number);
        assert_int_equal(deal->invoice.status, HS_INVOICE_OPEN);
        hs_record_free(want);
        hs_record_free(inv);
        hs_record_free(deal);
    }

    /* a partial payment in QuickBooks, then the rest */
    struct hs_record *inv =
        read_kind(&hs_connector_quickbooks_ops, x->acc, HS_KIND_INVOICE, ls.acc[0]);
    int64_t total = inv->invoice.total.minor;
    assert_true(total > 1);
    int64_t part = total / 2;
    for (int step = 0; step < 2; step++) {
        int64_t amt = step == 0 ? part : total - part;
        char body[512], path[128];
        snprintf(body, sizeof body,
                 "{\"CustomerRef\":{\"value\":\"%s\"},\"TotalAmt\":%lld.%02lld,"
                 "\"Line\":[{\"Amount\":%lld.%02lld,\"LinkedTxn\":[{\"TxnId\":\"%s\","
                 "\"TxnType\":\"Invoice\"}]}]}",
                 inv->invoice.customer_ref, (long long)(amt / 100), (long long)(amt % 100),
                 (long long)(amt / 100), (long long)(amt % 100), ls.acc[0]);
        snprintf(path, sizeof path, "/quickbooks/v3/company/%s/payment", x->realm);
        assert_int_equal(sbx_call(x, "POST", path, body, NULL), 200);
        pass(x, &r);
        hs_engine_report_release(&r);
        struct hs_record *deal =
            read_kind(&hs_connector_hubspot_ops, x->crm, HS_KIND_INVOICE, ls.crm[0]);
        assert_int_equal(deal->invoice.status,
                         step == 0 ? HS_INVOICE_PARTIALLY_PAID : HS_INVOICE_PAID);
        assert_int_equal(deal->invoice.amount_paid.minor, step == 0 ? part : total);
        hs_record_free(deal);
    }
    hs_record_free(inv);
    /* nothing changed: nothing written */
    pass(x, &r);
    assert_int_equal(r.n_writes, 0);
    hs_engine_report_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_engine_hubspot_qbo_backfill_links_variants_then_is_quiet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_hubspot_qbo_edits_on_both_sides_both_survive,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_engine_hubspot_qbo_closed_deals_become_invoices_and_payments_come_back,
            invoicing_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
