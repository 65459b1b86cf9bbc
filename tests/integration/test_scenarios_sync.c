/*
 * tests/integration/test_scenarios_sync.c - customer sync scenarios, engine in process against
 * a hoopsync-sandbox process over real HTTP (set-up in scenario.c).
 *
 * Checks: the backfill links the seed's name variants instead of duplicating them and a
 * second and third pass with nothing changed write nothing; a record created on either side
 * is created on the other and later updates follow both ways; edits of different fields of
 * one linked record on both sides between two passes both survive; an edit of the same field
 * on both sides follows the flow's authority (crm, accounting) or, with manual, queues exactly
 * one conflict and writes nothing; an invalid email becomes one error item that says what is
 * wrong while the rest of the pass syncs; edits of a company's primary contact (email, phone)
 * reach the accounting customer though the company itself is untouched, also for a customer
 * made on the accounting side, and a phone edited there goes back to the contact; every
 * such pass is followed by one that writes nothing; a filter on the companies' sales region
 * (a HubSpot property of the customer's own) decides which companies become customers, and a
 * company that leaves the region is no longer synced until it comes back; where the accounting
 * side has contact persons (Xero, Zoho Books), the billing person of a linked customer is never
 * renamed into the CRM contact, a person the accounts team adds survives the CRM's changes, and the
 * person of a customer hoopsync created follows the CRM contact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/validate.h"
#include "scenario.h"
#include "util/json.h"

static int setup_crm(void **state)
{
    struct scn_options o = {.authority = "crm"};
    *state = scn_open(&o);
    scn_engine_open(*state);
    return 0;
}

static int setup_accounting(void **state)
{
    struct scn_options o = {.authority = "accounting"};
    *state = scn_open(&o);
    scn_engine_open(*state);
    return 0;
}

static int setup_manual(void **state)
{
    struct scn_options o = {.authority = "manual"};
    *state = scn_open(&o);
    scn_engine_open(*state);
    return 0;
}

static int setup_region(void **state)
{
    struct scn_options o = {
        .authority = "crm",
        .filter = "{custom.sales_region: [EMEA, APAC]}",
        .crm_custom = "sales_region",
    };
    *state = scn_open(&o);
    scn_engine_open(*state);
    return 0;
}

static int teardown(void **state)
{
    scn_close(*state);
    return 0;
}

struct pairs {
    struct scn *s;
    json_t *before; /* accounting id -> display name before the backfill */
    size_t n;
    size_t variants; /* linked pairs whose names differed before the backfill */
};

static int pairs_cb(void *ud, const struct hs_store_link *l)
{
    struct pairs *p = ud;
    char crm[256];
    scn_crm_get(p->s, "companies", l->crm_id, "name", crm, sizeof crm);
    const char *acc = json_string_value(json_object_get(p->before, l->acc_id));
    p->n++;
    p->variants += acc != NULL && strcmp(crm, acc) != 0;
    return 0;
}

static size_t crm_companies(struct scn *s)
{
    json_t *j = NULL;
    assert_int_equal(scn_http(s, "GET", "/hubspot/crm/v3/objects/companies?limit=100", NULL, &j),
                     200);
    size_t n = json_array_size(json_object_get(j, "results"));
    assert_null(json_object_get(json_object_get(j, "paging"), "next"));
    json_decref(j);
    return n;
}

static size_t acc_customers(struct scn *s)
{
    json_t *all = s->acc->customers(s);
    size_t n = json_object_size(all);
    json_decref(all);
    return n;
}

static void test_scenarios_backfill_links_name_variants_then_is_quiet(void **state)
{
    struct scn *s = *state;
    size_t crm0 = crm_companies(s), acc0 = acc_customers(s);
    json_t *before = s->acc->customers(s);
    struct hs_engine_report r;
    scn_pass(s, &r);
    size_t linked = scn_count(&r, HS_ENGINE_LINK, HS_KIND_CUSTOMER);
    size_t reviews = scn_count(&r, HS_ENGINE_REVIEW, HS_KIND_CUSTOMER);
    size_t created = scn_count(&r, HS_ENGINE_CREATE, HS_KIND_CUSTOMER);
    print_message("backfill: %zu CRM companies, %zu accounting customers: %zu linked, %zu "
                  "created, %zu review\n",
                  crm0, acc0, linked, created, reviews);
    assert_int_equal(r.n_errors, 0);
    hs_engine_report_release(&r);
    /* every record ends up paired or waiting for a person: a link is made once per pair */
    assert_int_equal(crm0 + acc0, 2 * linked + created + 2 * reviews);
    /* the seed's overlap (overlap_pct 50) is matched, not created */
    assert_int_equal(linked + reviews, crm0 / 2);
    /* the seed puts half of the CRM companies in QuickBooks under another spelling: they link
     * (or wait for review), they are not created a second time */
    size_t crm1 = crm_companies(s), acc1 = acc_customers(s);
    assert_int_equal(crm1 + acc1, crm0 + acc0 + created);
    struct pairs p = {.s = s, .before = before};
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(
        hs_store_link_each(s->store, "crm", "accounting", "customer", pairs_cb, &p, &err), 0);
    print_message("after: %zu companies, %zu customers, %zu links, %zu under a variant name\n",
                  crm1, acc1, p.n, p.variants);
    json_decref(before);
    assert_int_equal(p.n, linked + created);
    assert_true(p.variants >= crm0 / 4); /* overlap 50%, one spelling in five is exact */
    assert_true(linked >= p.variants);
    scn_quiet_pass(s);
    scn_quiet_pass(s);
}

static void test_scenarios_both_directions_create_then_update(void **state)
{
    struct scn *s = *state;
    struct hs_engine_report r;
    scn_pass(s, &r);
    hs_engine_report_release(&r);

    char company[SCN_ID_MAX], customer[SCN_ID_MAX], other[SCN_ID_MAX];
    scn_crm_create(s, "companies",
                   "{\"name\":\"Nordlicht Maschinenbau GmbH\",\"country\":\"Germany\","
                   "\"city\":\"Bremen\"}",
                   NULL, company);
    s->acc->create_customer(s, "Southern Cross Freight Pty Ltd", "USD", NULL, customer);
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(scn_count(&r, HS_ENGINE_CREATE, HS_KIND_CUSTOMER), 2);
    hs_engine_report_release(&r);

    /* CRM -> accounting */
    char acc_id[SCN_ID_MAX];
    assert_true(scn_linked(s, "customer", company, acc_id));
    assert_int_equal(s->acc->customers_named(s, "Nordlicht Maschinenbau GmbH", other), 1);
    assert_string_equal(other, acc_id);
    /* accounting -> CRM */
    char crm_id[SCN_ID_MAX];
    assert_true(scn_linked_acc(s, "customer", customer, crm_id));
    assert_int_equal(scn_crm_find(s, "companies", "name", "Southern Cross Freight Pty Ltd", other),
                     1);
    assert_string_equal(other, crm_id);
    scn_quiet_pass(s);

    /* updates, each way */
    scn_advance(s, 60000);
    char val[96];
    snprintf(val, sizeof val, "%s%s%s", s->acc->edit_before, "nordlicht", s->acc->edit_after);
    scn_crm_set(s, "companies", company, s->acc->edit_prop, val);
    s->acc->edit_customer(s, customer, "phone", "+61 2 5550 1234");
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(scn_count(&r, HS_ENGINE_UPDATE, HS_KIND_CUSTOMER), 2);
    hs_engine_report_release(&r);
    char v[256];
    s->acc->customer_field(s, acc_id, s->acc->edit_field, v, sizeof v);
    assert_string_equal(v, val);
    scn_crm_get(s, "companies", crm_id, "phone", v, sizeof v);
    assert_non_null(strstr(v, "5550"));
    scn_quiet_pass(s);
}

/* One linked pair. */
struct first {
    char crm[SCN_ID_MAX];
    char acc[SCN_ID_MAX];
};

/* Backfill, then a company made on the CRM side and synced: its pair in f (both sides hold
 * the same values, whatever the authority). */
static void backfill_pair(struct scn *s, struct first *f)
{
    struct hs_engine_report r;
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    hs_engine_report_release(&r);
    scn_crm_create(s, "companies",
                   "{\"name\":\"Pairwise Testing Instruments Inc\",\"country\":\"US\","
                   "\"phone\":\"+1 212 555 0100\"}",
                   NULL, f->crm);
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    hs_engine_report_release(&r);
    assert_true(scn_linked(s, "customer", f->crm, f->acc));
    scn_quiet_pass(s);
    scn_advance(s, 60000);
}

static void test_scenarios_edits_of_different_fields_on_both_sides_both_survive(void **state)
{
    struct scn *s = *state;
    struct first f;
    backfill_pair(s, &f);
    char val[96];
    snprintf(val, sizeof val, "%s%s%s", s->acc->edit_before, "both-survive", s->acc->edit_after);
    scn_crm_set(s, "companies", f.crm, s->acc->edit_prop, val);
    s->acc->edit_customer(s, f.acc, "phone", "+1 415 555 0199");
    struct hs_engine_report r;
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(r.n_conflicts, 0);
    assert_int_equal(scn_count(&r, HS_ENGINE_UPDATE, HS_KIND_CUSTOMER), 2);
    hs_engine_report_release(&r);
    char v[256];
    s->acc->customer_field(s, f.acc, s->acc->edit_field, v, sizeof v);
    assert_string_equal(v, val);
    s->acc->customer_field(s, f.acc, "phone", v, sizeof v);
    assert_non_null(strstr(v, "555"));
    assert_non_null(strstr(v, "0199"));
    scn_crm_get(s, "companies", f.crm, "phone", v, sizeof v);
    assert_non_null(strstr(v, "0199"));
    scn_crm_get(s, "companies", f.crm, s->acc->edit_prop, v, sizeof v);
    assert_string_equal(v, val);
    scn_quiet_pass(s);
}

/* Both sides set the phone differently; returns the report's settled/conflict counts. */
static void same_field_edit(struct scn *s, struct first *f, struct hs_engine_report *r)
{
    backfill_pair(s, f);
    scn_crm_set(s, "companies", f->crm, "phone", "+1 212 555 0111");
    s->acc->edit_customer(s, f->acc, "phone", "+1 212 555 0222");
    scn_pass(s, r);
    assert_int_equal(r->n_errors, 0);
}

static void test_scenarios_same_field_conflict_crm_authority_wins(void **state)
{
    struct scn *s = *state;
    struct first f;
    struct hs_engine_report r;
    same_field_edit(s, &f, &r);
    assert_int_equal(scn_count(&r, HS_ENGINE_SETTLED, HS_KIND_CUSTOMER), 1);
    assert_int_equal(scn_count(&r, HS_ENGINE_CONFLICT, HS_KIND_NONE), 0);
    hs_engine_report_release(&r);
    char v[256];
    s->acc->customer_field(s, f.acc, "phone", v, sizeof v);
    assert_non_null(strstr(v, "0111"));
    scn_crm_get(s, "companies", f.crm, "phone", v, sizeof v);
    assert_non_null(strstr(v, "0111"));
    assert_int_equal(scn_items(s, HS_STORE_ITEM_CONFLICT, f.crm, NULL, 0), 0);
    assert_int_equal(scn_items(s, HS_STORE_ITEM_CONFLICT, f.acc, NULL, 0), 0);
    scn_quiet_pass(s);
}

static void test_scenarios_same_field_conflict_accounting_authority_wins(void **state)
{
    struct scn *s = *state;
    struct first f;
    struct hs_engine_report r;
    same_field_edit(s, &f, &r);
    assert_int_equal(scn_count(&r, HS_ENGINE_SETTLED, HS_KIND_CUSTOMER), 1);
    assert_int_equal(scn_count(&r, HS_ENGINE_CONFLICT, HS_KIND_NONE), 0);
    hs_engine_report_release(&r);
    char v[256];
    scn_crm_get(s, "companies", f.crm, "phone", v, sizeof v);
    assert_non_null(strstr(v, "0222"));
    s->acc->customer_field(s, f.acc, "phone", v, sizeof v);
    assert_non_null(strstr(v, "0222"));
    assert_int_equal(scn_items(s, HS_STORE_ITEM_CONFLICT, f.crm, NULL, 0), 0);
    assert_int_equal(scn_items(s, HS_STORE_ITEM_CONFLICT, f.acc, NULL, 0), 0);
    scn_quiet_pass(s);
}

static void test_scenarios_same_field_conflict_manual_queues_one(void **state)
{
    struct scn *s = *state;
    struct first f;
    struct hs_engine_report r;
    same_field_edit(s, &f, &r);
    assert_int_equal(scn_count(&r, HS_ENGINE_CONFLICT, HS_KIND_CUSTOMER), 1);
    assert_int_equal(scn_count(&r, HS_ENGINE_SETTLED, HS_KIND_NONE), 0);
    hs_engine_report_release(&r);
    /* held for a person: neither side is overwritten */
    char v[256];
    scn_crm_get(s, "companies", f.crm, "phone", v, sizeof v);
    assert_non_null(strstr(v, "0111"));
    s->acc->customer_field(s, f.acc, "phone", v, sizeof v);
    assert_non_null(strstr(v, "0222"));
    char msg[512];
    int n_crm = scn_items(s, HS_STORE_ITEM_CONFLICT, f.crm, msg, sizeof msg);
    int n_acc = scn_items(s, HS_STORE_ITEM_CONFLICT, f.acc, n_crm == 0 ? msg : NULL, sizeof msg);
    assert_int_equal(n_crm + n_acc, 1);
    print_message("conflict: %s\n", msg);
    assert_non_null(strstr(msg, "phone"));
    /* a pass later: still one conflict for the pair, nothing written */
    int all = scn_items(s, HS_STORE_ITEM_CONFLICT, NULL, NULL, 0);
    scn_quiet_pass(s);
    assert_int_equal(scn_items(s, HS_STORE_ITEM_CONFLICT, f.crm, NULL, 0) +
                         scn_items(s, HS_STORE_ITEM_CONFLICT, f.acc, NULL, 0),
                     1);
    assert_int_equal(scn_items(s, HS_STORE_ITEM_CONFLICT, NULL, NULL, 0), all);
}

/* The association making company the contact's primary company (HubSpot type 1). */
static void primary_of(const char *company, char *out, size_t len)
{
    snprintf(out, len,
             "[{\"to\":{\"id\":\"%s\"},\"types\":[{\"associationCategory\":\"HUBSPOT_DEFINED\","
             "\"associationTypeId\":1}]}]",
             company);
}

static void assert_acc_has(struct scn *s, const char *acc, const char *field, const char *part)
{
    char v[256];
    s->acc->customer_field(s, acc, field, v, sizeof v);
    if (strstr(v, part) == NULL)
        fail_msg("%s customer %s: %s is '%s', expected it to hold '%s'", s->acc->label, acc, field,
                 v, part);
}

/* A customer's email and phone are its primary contact's in HubSpot. Editing that contact
 * does not touch the company's hs_lastmodifieddate, yet the next pass brings both to the
 * accounting customer, and the pass after writes nothing. A phone edited in the accounting
 * system goes back to the contact (the company keeps its own number), and again nothing
 * flaps. */
static void test_scenarios_primary_contact_edits_reach_the_customer(void **state)
{
    struct scn *s = *state;
    struct hs_engine_report r;
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    hs_engine_report_release(&r);

    char company[SCN_ID_MAX], contact[SCN_ID_MAX], acc[SCN_ID_MAX], assoc[256], v[256];
    scn_crm_create(s, "companies",
                   "{\"name\":\"Kestrel Contact Logistics Inc\",\"country\":\"US\","
                   "\"phone\":\"+1 212 555 0170\"}",
                   NULL, company);
    primary_of(company, assoc, sizeof assoc);
    scn_crm_create(s, "contacts",
                   "{\"email\":\"ap@kestrel-contact.example\",\"firstname\":\"Ada\","
                   "\"lastname\":\"Kestrel\",\"phone\":\"+1 212 555 0171\"}",
                   assoc, contact);
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(scn_count(&r, HS_ENGINE_CREATE, HS_KIND_CUSTOMER), 1);
    hs_engine_report_release(&r);
    assert_true(scn_linked(s, "customer", company, acc));
    assert_acc_has(s, acc, "email", "ap@kestrel-contact.example");
    assert_acc_has(s, acc, "phone", "0171"); /* the contact's, not the company's 0170 */
    scn_quiet_pass(s);

    /* the contact is edited in HubSpot: its company's last-modified date stays */
    scn_advance(s, 60000);
    char company_date[64], date_after[64];
    scn_crm_get(s, "companies", company, "hs_lastmodifieddate", company_date, sizeof company_date);
    scn_crm_set(s, "contacts", contact, "email", "payables@kestrel-contact.example");
    scn_crm_set(s, "contacts", contact, "phone", "+1 212 555 0188");
    scn_crm_get(s, "companies", company, "hs_lastmodifieddate", date_after, sizeof date_after);
    assert_string_equal(company_date, date_after);
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(r.n_conflicts, 0);
    assert_int_equal(scn_count(&r, HS_ENGINE_UPDATE, HS_KIND_CUSTOMER), 1);
    hs_engine_report_release(&r);
    assert_acc_has(s, acc, "email", "payables@kestrel-contact.example");
    assert_acc_has(s, acc, "phone", "0188");
    scn_quiet_pass(s);

    /* the other way: the phone goes to the contact, the company keeps its number */
    scn_advance(s, 60000);
    s->acc->edit_customer(s, acc, "phone", "+1 212 555 0199");
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(scn_count(&r, HS_ENGINE_UPDATE, HS_KIND_CUSTOMER), 1);
    hs_engine_report_release(&r);
    scn_crm_get(s, "contacts", contact, "phone", v, sizeof v);
    assert_non_null(strstr(v, "0199"));
    scn_crm_get(s, "companies", company, "phone", v, sizeof v);
    assert_string_equal(v, "+1 212 555 0170");
    scn_quiet_pass(s);
}

/* A customer made in the accounting system gets a HubSpot company and, through its email, a
 * primary contact; a later edit of that contact still reaches the accounting system (the
 * contact's edit time counts as the customer's, so it is not taken for the echo of our own
 * write): its phone always, its email where the customer is one person (QuickBooks). Where
 * the accounting side keeps persons (Xero, Zoho Books), a person hoopsync did not create is
 * the accounts team's: its email stays. */
static void test_scenarios_contact_of_an_accounting_customer_follows(void **state)
{
    struct scn *s = *state;
    struct hs_engine_report r;
    scn_pass(s, &r);
    hs_engine_report_release(&r);
    char acc[SCN_ID_MAX], company[SCN_ID_MAX], contact[SCN_ID_MAX];
    s->acc->create_customer(s, "Osprey Ledger Supplies Ltd", "USD", "books@osprey-ledger.example",
                            acc);
    if (s->acc->add_person != NULL) /* as the accounts team keeps it: a person with the email */
        s->acc->add_person(s, acc, "Bea", "Books", "books@osprey-ledger.example");
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(scn_count(&r, HS_ENGINE_CREATE, HS_KIND_CUSTOMER), 1);
    hs_engine_report_release(&r);
    assert_true(scn_linked_acc(s, "customer", acc, company));
    assert_int_equal(scn_crm_find(s, "contacts", "email", "books@osprey-ledger.example", contact),
                     1);
    scn_quiet_pass(s);

    scn_advance(s, 60000);
    scn_crm_set(s, "contacts", contact, "email", "ledger@osprey-ledger.example");
    scn_crm_set(s, "contacts", contact, "phone", "+44 20 7946 0321");
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(scn_count(&r, HS_ENGINE_UPDATE, HS_KIND_CUSTOMER), 1);
    hs_engine_report_release(&r);
    bool persons = s->acc->persons != NULL;
    assert_acc_has(s, acc, "email",
                   persons ? "books@osprey-ledger.example" : "ledger@osprey-ledger.example");
    assert_acc_has(s, acc, "phone", "0321");
    scn_quiet_pass(s);
}

static void test_scenarios_invalid_email_is_one_clear_error_rest_syncs(void **state)
{
    struct scn *s = *state;
    struct hs_engine_report r;
    scn_pass(s, &r);
    hs_engine_report_release(&r);
    char bad[SCN_ID_MAX], good[SCN_ID_MAX], company[SCN_ID_MAX];
    s->acc->create_customer(s, "Broken Mailbox Trading LLC", "USD", "billing@@broken.example", bad);
    s->acc->create_customer(s, "Working Mailbox Trading LLC", "USD", "billing@working.example",
                            good);
    scn_crm_create(s, "companies", "{\"name\":\"Sunrise Bakery Supplies Inc\",\"country\":\"US\"}",
                   NULL, company);
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 1);
    assert_int_equal(scn_count(&r, HS_ENGINE_ERROR, HS_KIND_CUSTOMER), 1);
    assert_int_equal(scn_count(&r, HS_ENGINE_CREATE, HS_KIND_CUSTOMER), 2);
    hs_engine_report_release(&r);
    char msg[512];
    assert_int_equal(scn_items(s, HS_STORE_ITEM_ERROR, NULL, msg, sizeof msg), 1);
    assert_int_equal(scn_items(s, HS_STORE_ITEM_ERROR, bad, msg, sizeof msg), 1);
    print_message("error item: %s\n", msg);
    assert_non_null(strstr(msg, "billing@@broken.example"));
    assert_true(strstr(msg, "email") != NULL || strstr(msg, "Email") != NULL);
    /* the rest synced */
    assert_false(scn_linked_acc(s, "customer", bad, NULL));
    assert_int_equal(scn_crm_find(s, "companies", "name", "Broken Mailbox Trading LLC", NULL), 0);
    assert_true(scn_linked_acc(s, "customer", good, NULL));
    assert_int_equal(scn_crm_find(s, "companies", "name", "Working Mailbox Trading LLC", NULL), 1);
    assert_true(scn_linked(s, "customer", company, NULL));
    /* the broken record is not retried into a second item on a quiet pass */
    scn_pass(s, &r);
    assert_int_equal(r.n_writes, 0);
    hs_engine_report_release(&r);
    assert_int_equal(scn_items(s, HS_STORE_ITEM_ERROR, NULL, NULL, 0), 1);
}

/* The skipped actions of r whose source is id. */
static size_t skipped_of(const struct hs_engine_report *r, const char *id, const char **reason)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_actions; i++) {
        if (r->actions[i].kind == HS_ENGINE_SKIPPED && strcmp(r->actions[i].source_id, id) == 0) {
            n++;
            *reason = r->actions[i].reason;
        }
    }
    return n;
}

static void test_scenarios_region_filter_decides_which_companies_become_customers(void **state)
{
    struct scn *s = *state;
    size_t crm0 = crm_companies(s), acc0 = acc_customers(s);
    /* the backfill: no seeded company has a sales region, and an accounting customer has none
     * either (it is a CRM property): nothing is linked or created, everything is reported */
    struct hs_engine_report r;
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(r.n_created + r.n_linked + r.n_updated + r.n_reviews, 0);
    assert_int_equal(r.n_skipped, crm0 + acc0);
    assert_int_equal(scn_count(&r, HS_ENGINE_SKIPPED, HS_KIND_CUSTOMER), crm0 + acc0);
    hs_engine_report_release(&r);
    assert_int_equal(acc_customers(s), acc0);
    assert_int_equal(crm_companies(s), crm0);

    char emea[SCN_ID_MAX], apac[SCN_ID_MAX], amer[SCN_ID_MAX], id[SCN_ID_MAX];
    scn_crm_create(s, "companies",
                   "{\"name\":\"Nordlicht Maschinenbau GmbH\",\"country\":\"Germany\","
                   "\"sales_region\":\"EMEA\"}",
                   NULL, emea);
    scn_crm_create(s, "companies",
                   "{\"name\":\"Harbour Lights Trading Pte Ltd\",\"country\":\"Singapore\","
                   "\"sales_region\":\"apac\"}",
                   NULL, apac);
    scn_crm_create(s, "companies",
                   "{\"name\":\"Prairie Grain Cooperative\",\"country\":\"US\","
                   "\"sales_region\":\"AMER\"}",
                   NULL, amer);
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(scn_count(&r, HS_ENGINE_CREATE, HS_KIND_CUSTOMER), 2);
    assert_int_equal(r.n_skipped, 1);
    const char *why = NULL;
    assert_int_equal(skipped_of(&r, amer, &why), 1);
    print_message("skipped: %s\n", why);
    assert_non_null(strstr(why, "'custom.sales_region' is 'AMER', not one of {EMEA, APAC}"));
    hs_engine_report_release(&r);
    char acc_emea[SCN_ID_MAX];
    assert_true(scn_linked(s, "customer", emea, acc_emea));
    assert_true(scn_linked(s, "customer", apac, NULL));
    assert_false(scn_linked(s, "customer", amer, NULL));
    assert_int_equal(s->acc->customers_named(s, "Nordlicht Maschinenbau GmbH", id), 1);
    assert_int_equal(s->acc->customers_named(s, "Harbour Lights Trading Pte Ltd", id), 1);
    assert_int_equal(s->acc->customers_named(s, "Prairie Grain Cooperative", id), 0);
    assert_int_equal(acc_customers(s), acc0 + 2);
    scn_quiet_pass(s);

    /* Nordlicht moves to the Americas team and is edited: not synced any more, still linked */
    scn_advance(s, 60000);
    char val[96], v[256];
    snprintf(val, sizeof val, "%s%s%s", s->acc->edit_before, "nordlicht", s->acc->edit_after);
    s->acc->customer_field(s, acc_emea, s->acc->edit_field, v, sizeof v);
    assert_string_not_equal(v, val);
    scn_crm_set(s, "companies", emea, "sales_region", "AMER");
    scn_crm_set(s, "companies", emea, s->acc->edit_prop, val);
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(r.n_writes, 0);
    assert_int_equal(skipped_of(&r, emea, &why), 1);
    print_message("left: %s\n", why);
    assert_non_null(strstr(why, "is no longer synced: it left the filter"));
    hs_engine_report_release(&r);
    char still[SCN_ID_MAX];
    assert_true(scn_linked(s, "customer", emea, still));
    assert_string_equal(still, acc_emea);
    char v2[256];
    s->acc->customer_field(s, acc_emea, s->acc->edit_field, v2, sizeof v2);
    assert_string_equal(v2, v);
    assert_int_equal(acc_customers(s), acc0 + 2);

    /* back in EMEA: the edit made meanwhile reaches the customer */
    scn_advance(s, 60000);
    scn_crm_set(s, "companies", emea, "sales_region", "EMEA");
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(r.n_skipped, 0);
    assert_int_equal(scn_count(&r, HS_ENGINE_UPDATE, HS_KIND_CUSTOMER), 1);
    hs_engine_report_release(&r);
    s->acc->customer_field(s, acc_emea, s->acc->edit_field, v, sizeof v);
    assert_string_equal(v, val);
    scn_quiet_pass(s);
}

/* ---- the accounting side's contact persons -------------------------------------------------- */

/* The primary person of a persons list (scn_acc.persons), or NULL. */
static const json_t *primary_person(const json_t *persons)
{
    size_t i;
    const json_t *p;
    json_array_foreach(persons, i, p)
    {
        if (json_is_true(json_object_get(p, "primary")))
            return p;
    }
    return NULL;
}

static const json_t *person_with(const json_t *persons, const char *email)
{
    size_t i;
    const json_t *p;
    json_array_foreach(persons, i, p)
    {
        if (strcmp(hs_json_str(p, "email"), email) == 0)
            return p;
    }
    return NULL;
}

/* The HubSpot contact associated with company (its first), into out; false when none. */
static bool crm_contact_of(struct scn *s, const char *company, char out[SCN_ID_MAX])
{
    char path[160];
    snprintf(path, sizeof path, "/hubspot/crm/v4/objects/companies/%s/associations/contacts",
             company);
    json_t *j = NULL;
    assert_int_equal(scn_http(s, "GET", path, NULL, &j), 200);
    json_t *first = json_array_get(json_object_get(j, "results"), 0);
    json_int_t id = json_integer_value(json_object_get(first, "toObjectId"));
    const char *ids = hs_json_str(first, "toObjectId");
    bool found = first != NULL;
    if (ids != NULL)
        snprintf(out, SCN_ID_MAX, "%s", ids);
    else
        snprintf(out, SCN_ID_MAX, "%lld", (long long)id);
    json_decref(j);
    return found;
}

struct seeded_pair {
    struct scn *s;
    const json_t *before; /* accounting id -> persons before the backfill */
    char crm[SCN_ID_MAX];
    char acc[SCN_ID_MAX];
    char contact[SCN_ID_MAX];
};

static int seeded_pair_cb(void *ud, const struct hs_store_link *l)
{
    struct seeded_pair *p = ud;
    const json_t *had = json_object_get(p->before, l->acc_id);
    if (p->crm[0] != '\0' || primary_person(had) == NULL ||
        !crm_contact_of(p->s, l->crm_id, p->contact))
        return 0;
    snprintf(p->crm, sizeof p->crm, "%s", l->crm_id);
    snprintf(p->acc, sizeof p->acc, "%s", l->acc_id);
    return 0;
}

/* Two persons are the same person with the same names and email. */
static void assert_same_person(const json_t *a, const json_t *b)
{
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(hs_json_str(a, "first"), hs_json_str(b, "first"));
    assert_string_equal(hs_json_str(a, "last"), hs_json_str(b, "last"));
    assert_string_equal(hs_json_str(a, "email"), hs_json_str(b, "email"));
}

/*
 * A customer that was already in accounting, linked by the backfill to a CRM company whose
 * contact is someone else: its billing person is not renamed into the CRM contact (nor the
 * CRM contact into it), a person the accounts team adds survives the CRM company's and its
 * contact's changes, and nothing ping-pongs.
 */
static void test_scenarios_accounting_persons_survive_crm_changes(void **state)
{
    struct scn *s = *state;
    scn_skip_unless(s, s->acc->add_person != NULL, "the provider's customers have one person");
    json_t *before = json_object();
    json_t *seeded = s->acc->customers(s);
    const char *id;
    json_t *name;
    json_object_foreach(seeded, id, name)
    {
        json_object_set_new(before, id, s->acc->persons(s, id));
    }
    json_decref(seeded);
    struct hs_engine_report r;
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    hs_engine_report_release(&r);
    struct seeded_pair p = {.s = s, .before = before};
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(
        hs_store_link_each(s->store, "crm", "accounting", "customer", seeded_pair_cb, &p, &err), 0);
    assert_true(p.crm[0] != '\0');
    const json_t *had = json_object_get(before, p.acc);
    char crm_first[128], crm_email[160];
    scn_crm_get(s, "contacts", p.contact, "firstname", crm_first, sizeof crm_first);
    scn_crm_get(s, "contacts", p.contact, "email", crm_email, sizeof crm_email);
    print_message("pair: crm %s (contact %s %s), accounting %s (billing %s %s)\n", p.crm, crm_first,
                  crm_email, p.acc, hs_json_str(primary_person(had), "first"),
                  hs_json_str(primary_person(had), "email"));
    assert_string_not_equal(crm_email, hs_json_str(primary_person(had), "email"));
    /* the backfill left the billing person as it was, and the CRM contact too */
    json_t *now = s->acc->persons(s, p.acc);
    assert_same_person(primary_person(now), primary_person(had));
    assert_int_equal(json_array_size(now), json_array_size(had));
    json_decref(now);
    char v[160];
    scn_crm_get(s, "contacts", p.contact, "email", v, sizeof v);
    assert_string_equal(v, crm_email);
    scn_quiet_pass(s);

    /* the accounts team adds a bookkeeper; the CRM company and its contact change */
    scn_advance(s, 60000);
    s->acc->add_person(s, p.acc, "Betty", "Books", "betty.books@ledger-team.example");
    char val[96];
    snprintf(val, sizeof val, "%s%s%s", s->acc->edit_before, "persons-kept", s->acc->edit_after);
    scn_crm_set(s, "companies", p.crm, s->acc->edit_prop, val);
    scn_crm_set(s, "contacts", p.contact, "firstname", "Renamed");
    scn_crm_set(s, "contacts", p.contact, "email", "renamed.contact@crm-side.example");
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(r.n_conflicts, 0);
    hs_engine_report_release(&r);
    /* the company's change landed; the persons are as the accounts team left them */
    s->acc->customer_field(s, p.acc, s->acc->edit_field, v, sizeof v);
    assert_string_equal(v, val);
    now = s->acc->persons(s, p.acc);
    assert_same_person(primary_person(now), primary_person(had));
    const json_t *betty = person_with(now, "betty.books@ledger-team.example");
    assert_non_null(betty);
    assert_string_equal(hs_json_str(betty, "first"), "Betty");
    assert_null(person_with(now, "renamed.contact@crm-side.example"));
    assert_int_equal(json_array_size(now), json_array_size(had) + 1);
    json_decref(now);
    /* and the CRM contact kept its own */
    scn_crm_get(s, "contacts", p.contact, "firstname", v, sizeof v);
    assert_string_equal(v, "Renamed");
    scn_quiet_pass(s);
    json_decref(before);
}

/*
 * A customer hoopsync created: its person is the CRM contact and follows it, while a person
 * the accounts team adds there is kept.
 */
static void test_scenarios_created_customer_person_follows_crm_others_stay(void **state)
{
    struct scn *s = *state;
    bool persons = s->acc->add_person != NULL; /* else the customer is one person (QuickBooks) */
    struct hs_engine_report r;
    scn_pass(s, &r);
    hs_engine_report_release(&r);
    char company[SCN_ID_MAX], contact[SCN_ID_MAX], acc[SCN_ID_MAX];
    scn_crm_create(s, "companies",
                   "{\"name\":\"Kept Persons Trading Co\",\"country\":\"US\","
                   "\"city\":\"Denver\"}",
                   NULL, company);
    char assoc[256];
    snprintf(assoc, sizeof assoc,
             "[{\"to\":{\"id\":\"%s\"},\"types\":[{\"associationCategory\":"
             "\"HUBSPOT_DEFINED\",\"associationTypeId\":279}]}]",
             company);
    scn_crm_create(s, "contacts",
                   "{\"firstname\":\"Ada\",\"lastname\":\"Lovelace\",\"email\":"
                   "\"ada@kept-persons.example\"}",
                   assoc, contact);
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    hs_engine_report_release(&r);
    assert_true(scn_linked(s, "customer", company, acc));
    if (!persons) {
        /* one person: the customer's own email follows the CRM contact */
        assert_acc_has(s, acc, "email", "ada@kept-persons.example");
        scn_quiet_pass(s);
        scn_advance(s, 60000);
        scn_crm_set(s, "contacts", contact, "email", "ada.king@kept-persons.example");
        scn_pass(s, &r);
        assert_int_equal(r.n_errors, 0);
        assert_int_equal(r.n_conflicts, 0);
        hs_engine_report_release(&r);
        assert_acc_has(s, acc, "email", "ada.king@kept-persons.example");
        scn_quiet_pass(s);
        return;
    }
    json_t *now = s->acc->persons(s, acc);
    const json_t *ours = primary_person(now);
    assert_non_null(ours);
    assert_string_equal(hs_json_str(ours, "email"), "ada@kept-persons.example");
    assert_string_equal(hs_json_str(ours, "first"), "Ada");
    json_decref(now);
    scn_quiet_pass(s);

    scn_advance(s, 60000);
    s->acc->add_person(s, acc, "Betty", "Books", "betty.books@kept-persons.example");
    scn_crm_set(s, "contacts", contact, "lastname", "King");
    scn_crm_set(s, "contacts", contact, "email", "ada.king@kept-persons.example");
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(r.n_conflicts, 0);
    hs_engine_report_release(&r);
    now = s->acc->persons(s, acc);
    ours = primary_person(now);
    assert_string_equal(hs_json_str(ours, "email"), "ada.king@kept-persons.example");
    assert_string_equal(hs_json_str(ours, "last"), "King");
    assert_string_equal(hs_json_str(ours, "first"), "Ada");
    const json_t *betty = person_with(now, "betty.books@kept-persons.example");
    assert_non_null(betty);
    assert_string_equal(hs_json_str(betty, "first"), "Betty");
    assert_string_equal(hs_json_str(betty, "last"), "Books");
    json_decref(now);
    scn_quiet_pass(s);
}

/* Counts the audit rows of an update toward the accounting side that name the website. */
static int audit_website_cb(void *ud, const struct hs_store_audit_row *row)
{
    if (strcmp(row->action, "update") == 0 && strstr(row->object, ":accounting:") != NULL &&
        strstr(row->detail, "\"website\"") != NULL)
        (*(size_t *)ud)++;
    return 0;
}

/* Whether the accounting connector declares field read only (Xero's website). */
static bool acc_read_only(struct scn *s, const char *field)
{
    size_t n = 0;
    const struct hs_validate_limit *lim =
        s->acc->ops->field_limits != NULL ? s->acc->ops->field_limits(s->accc, HS_KIND_CUSTOMER, &n)
                                          : NULL;
    for (size_t i = 0; lim != NULL && i < n; i++)
        if (lim[i].read_only && strcmp(lim[i].field, field) == 0)
            return true;
    return false;
}

/*
 * A field the accounting provider does not take (Xero's Contact.Website, read only in its API):
 * a CRM change of it is neither sent, nor reported or audited as an update toward it, nor tried
 * again on the next pass; the provider's own value still reaches the CRM.
 */
static void test_scenarios_read_only_field_is_not_claimed(void **state)
{
    struct scn *s = *state;
    struct first f;
    backfill_pair(s, &f);
    scn_crm_set(s, "companies", f.crm, "website", "https://read-only.example");
    struct hs_engine_report r;
    if (!acc_read_only(s, "website")) {
        /* a provider that takes the website: it lands, once */
        scn_pass(s, &r);
        assert_int_equal(r.n_errors, 0);
        assert_int_equal(scn_count(&r, HS_ENGINE_UPDATE, HS_KIND_CUSTOMER), 1);
        hs_engine_report_release(&r);
        assert_acc_has(s, f.acc, "website", "read-only.example");
        scn_quiet_pass(s);
        return;
    }
    scn_pass(s, &r);
    assert_int_equal(r.n_errors, 0);
    assert_int_equal(r.n_writes, 0);
    assert_int_equal(r.n_calls_write, 0);
    assert_int_equal(scn_count(&r, HS_ENGINE_UPDATE, HS_KIND_NONE), 0);
    hs_engine_report_release(&r);
    scn_quiet_pass(s);
    /* nor is an update audited for it */
    size_t website_rows = 0;
    struct hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_store_audit_each(s->store, 0, audit_website_cb, &website_rows, &err), 0);
    assert_int_equal(website_rows, 0);
    char v[256];
    s->acc->customer_field(s, f.acc, "website", v, sizeof v);
    assert_string_equal(v, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scenarios_backfill_links_name_variants_then_is_quiet,
                                        setup_crm, teardown),
        cmocka_unit_test_setup_teardown(test_scenarios_both_directions_create_then_update,
                                        setup_crm, teardown),
        cmocka_unit_test_setup_teardown(
            test_scenarios_edits_of_different_fields_on_both_sides_both_survive, setup_crm,
            teardown),
        cmocka_unit_test_setup_teardown(test_scenarios_same_field_conflict_crm_authority_wins,
                                        setup_crm, teardown),
        cmocka_unit_test_setup_teardown(
            test_scenarios_same_field_conflict_accounting_authority_wins, setup_accounting,
            teardown),
        cmocka_unit_test_setup_teardown(test_scenarios_same_field_conflict_manual_queues_one,
                                        setup_manual, teardown),
        cmocka_unit_test_setup_teardown(test_scenarios_invalid_email_is_one_clear_error_rest_syncs,
                                        setup_crm, teardown),
        cmocka_unit_test_setup_teardown(test_scenarios_primary_contact_edits_reach_the_customer,
                                        setup_crm, teardown),
        cmocka_unit_test_setup_teardown(test_scenarios_contact_of_an_accounting_customer_follows,
                                        setup_crm, teardown),
        cmocka_unit_test_setup_teardown(
            test_scenarios_region_filter_decides_which_companies_become_customers, setup_region,
            teardown),
        cmocka_unit_test_setup_teardown(test_scenarios_accounting_persons_survive_crm_changes,
                                        setup_crm, teardown),
        cmocka_unit_test_setup_teardown(
            test_scenarios_created_customer_person_follows_crm_others_stay, setup_crm, teardown),
        cmocka_unit_test_setup_teardown(test_scenarios_read_only_field_is_not_claimed, setup_crm,
                                        teardown),
    };
    return scn_run_all("sync", tests, sizeof tests / sizeof tests[0]);
}
