/*
 * tests/integration/scenario.h - shared set-up of the engine scenario tests
 *                                (tests/integration/test_scenarios_*.c): a real
 *                                hoopsync-sandbox process, real HTTP, the engine in process.
 *
 * Design:     scn_open starts bin/hoopsync-sandbox (--port 0, fixed seed and sizes, static
 *             token, no rate limits) and reads its port, freezes its clock at SCN_START_MS,
 *             seeds the same world again under that clock (records stamped with it, not with
 *             the wall clock) and reads the accounting tenant (scn_acc.tenant); the SQLite
 *             store lives in a fresh temporary directory. scn_engine_open then opens
 *             the connectors (libcurl transport to the sandbox), the config (customer flow,
 *             plus items with invoicing) and the engine; scn_engine_close undoes that, so a
 *             test can run the engine in a child process (fork after close, the child opens
 *             its own). The engine's clock is a fake one kept equal to the sandbox's frozen
 *             clock: scn_advance moves both.
 *             Records are edited and checked through the providers' own HTTP APIs (never the
 *             sandbox's internals) and through the store. The CRM is HubSpot (scn_crm_*).
 *             Everything accounting-shaped goes through struct scn_acc, a small table of
 *             functions (create and edit a customer, read an invoice, pay it, the provider's
 *             tax codes and rounding policy), so the scenarios run against every accounting
 *             provider of scn_providers: scn_quickbooks (scenario.c), scn_xero (scenario_xero.c),
 *             scn_zoho (scenario_zoho.c, Zoho Books).
 * Invariants: every helper asserts (cmocka) on failure; nothing is skipped silently.
 * Ownership:  struct scn owns the sandbox process, the temporary directory, the store and
 *             the engine stack; scn_close ends the process and removes the directory.
 */
#ifndef HS_TESTS_SCENARIO_H
#define HS_TESTS_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "config/config.h"
#include "core/tax.h"
#include "engine/engine.h"
#include "hoopsync/connector.h"
#include "hoopsync/store.h"
#include "net/http.h"
#include "util/env.h"

#define SCN_START_MS 1795456800000LL /* 2026-11-23T18:00:00Z */
#define SCN_ID_MAX   64

struct scn;

/* A snapshot of one accounting invoice as the provider's API shows it. */
struct scn_invoice {
    bool exists;
    char currency[4];
    int64_t total;   /* minor units of currency */
    int64_t balance; /* minor units */
    char number[32];
    char customer[SCN_ID_MAX];
};

/* The accounting provider behind the scenarios (one row per provider). */
struct scn_acc {
    const char *name;  /* connection provider name ("quickbooks") */
    const char *label; /* for messages ("QuickBooks") */
    const struct hs_connector_ops *ops;
    /* Connector settings (new JSON reference) for s. */
    json_t *(*settings)(struct scn *s);
    /* The tenant the scenarios use (QuickBooks realm, Xero organisation, Zoho organization), read
     * by scn_open from the sandbox into s->tenant. */
    void (*tenant)(struct scn *s, char *out, size_t len);
    /* Creates a customer (email may be NULL) and returns its id. */
    void (*create_customer)(struct scn *s, const char *name, const char *currency,
                            const char *email, char out[SCN_ID_MAX]);
    /* Sets one canonical customer field ("phone", "website", "display_name") as a user does. */
    void (*edit_customer)(struct scn *s, const char *id, const char *field, const char *value);
    /* The value of that field as the provider holds it ("" when unset). */
    void (*customer_field)(struct scn *s, const char *id, const char *field, char *out, size_t len);
    /* Every customer: a new JSON object of id -> display name. */
    json_t *(*customers)(struct scn *s);
    /* Substring of the request path of the connector's creates of kind (HS_KIND_CUSTOMER or
     * HS_KIND_INVOICE), for the sandbox's stall; the row's own calls never contain it, unless
     * the row has create_held (Zoho: every path of the entity is the create's). */
    void (*create_path)(struct scn *s, enum hs_kind kind, char *out, size_t len);
    /* How long the stall holds each request on that path, in ms (0: 20 s). A provider whose
     * reads share the path with its creates (Xero, Zoho) holds every read of the list too, so it
     * needs a short one: long enough to kill the process while the create is unanswered. */
    int stall_ms;
    /* Optional: true once the sandbox holds the answer of a create of kind (the stall's path
     * was hit and the create committed), for a provider whose every read of that kind shares
     * the create path and is held too, so that the record cannot be polled while the stall is
     * on (Zoho: GET /contacts is PUT /contacts' path). NULL: the crash scenarios poll the
     * records (customers_named, invoices_of). The sandbox's counters are reset with the stall. */
    bool (*create_held)(struct scn *s, enum hs_kind kind);
    /* Every customer, item, invoice and payment with its version (QuickBooks: SyncToken, Xero:
     * UpdatedDateUTC, Zoho: last_modified_time; any update moves it): a new JSON object of
     * "<Entity>/<id>" -> version. */
    json_t *(*versions)(struct scn *s);
    /* Ids of the customers whose display name is name; returns how many. */
    size_t (*customers_named)(struct scn *s, const char *name, char out[SCN_ID_MAX]);
    void (*invoice)(struct scn *s, const char *id, struct scn_invoice *out);
    /* Number of invoices of customer id. */
    size_t (*invoices_of)(struct scn *s, const char *customer);
    /* Records a payment of amount minor units against invoice id. */
    void (*pay)(struct scn *s, const char *invoice_id, int64_t amount);
    /* The provider's tax codes, added to m under their names. */
    void (*tax_codes)(struct scn *s, struct hs_tax_map *m);
    struct hs_tax_policy (*policy)(enum hs_tax_mode mode);
    /* Optional (NULL: the provider's customers have one person, QuickBooks): adds a person to
     * customer id as a user of the provider does, keeping the others. */
    void (*add_person)(struct scn *s, const char *id, const char *first, const char *last,
                       const char *email);
    /* With add_person: every person of customer id as the provider's API shows them, a new
     * JSON array of {"first","last","email","primary":true|false} (absent names as ""). */
    json_t *(*persons)(struct scn *s, const char *id);
    /* A company field the scenarios edit in the CRM and read back from the provider: the
     * HubSpot property, the canonical field (customer_field) and what goes before and after a
     * word to make its value (QuickBooks: website "https://<word>.example"; Xero's Website is
     * read-only through its API, so there the billing city "<word> Harbour"). */
    const char *edit_prop;
    const char *edit_field;
    const char *edit_before;
    const char *edit_after;
};

extern const struct scn_acc scn_quickbooks;
extern const struct scn_acc scn_xero; /* scenario_xero.c */
extern const struct scn_acc scn_zoho; /* scenario_zoho.c */
/* Every accounting provider the scenarios run against (NULL-terminated). */
extern const struct scn_acc *const scn_providers[];
/* The provider of the group running now: scn_open's default when opt->acc is NULL. */
extern const struct scn_acc *scn_current;

/*
 * Runs tests[0..n) once per provider of scn_providers (HubSpot x QuickBooks, ...), each run a
 * cmocka group named "<suite>: HubSpot x <provider>" with scn_group_setup/teardown. Returns
 * the number of failed tests over all runs.
 */
int scn_run_all(const char *suite, const struct CMUnitTest *tests, size_t n);
/* Skips the running test, printing why, when a scenario cannot apply to s's provider. */
void scn_skip_unless(const struct scn *s, bool applies, const char *why);

struct scn_options {
    const struct scn_acc *acc; /* NULL: scn_current (the provider of the running group) */
    const char *authority;     /* authority.default of the customer flow; NULL: "crm" */
    bool invoicing;            /* with the items flow and hs_engine_invoicing */
    enum hs_tax_mode tax_mode; /* with invoicing; 0: none */
    bool tax_from_lines;       /* HubSpot line hs_tax_rate -> tax code (needs invoicing) */
    const char *filter;        /* `filter:` of the customer flow (a YAML mapping), or NULL */
    /* A HubSpot company property read as custom.<crm_custom> (HubSpot custom_properties), or
     * NULL; scn_engine_open creates it in the sandbox when it does not exist yet. */
    const char *crm_custom;
};

struct scn {
    struct scn_options opt;
    const struct scn_acc *acc;
    char dir[64];
    char db[128];
    pid_t sbx_pid;
    char base[64];   /* http://127.0.0.1:PORT */
    char tenant[64]; /* the accounting tenant (scn_acc.tenant) */
    int64_t now;
    struct hs_env env;
    struct hs_http_transport api; /* the test's own calls */
    /* engine stack (scn_engine_open); connectors borrow the URLs and tenant */
    char crm_url[128];
    char acc_url[128];
    char acc_tenant[64];
    struct hs_http_transport http;
    json_t *crm_settings;
    json_t *acc_settings;
    struct hs_connector *crm;
    struct hs_connector *accc;
    struct hs_store *store;
    struct hs_config *cfg;
    struct hs_engine *e;
    struct hs_tax_map *tax_map;
    struct hs_invoice_term terms[1];
    const char *stages[1];
    struct hs_engine_invoicing iv;
};

/* cmocka group set-up: curl_global_init once per test program. */
int scn_group_setup(void **state);
int scn_group_teardown(void **state);

/* Starts the sandbox (clock frozen at SCN_START_MS); the store and engine come with
 * scn_engine_open. Returns the fixture (asserts on failure). */
struct scn *scn_open(const struct scn_options *opt);
/* Closes the engine stack if open, stops the sandbox (failing the test unless it shuts down
 * cleanly), removes the directory. */
void scn_close(struct scn *s);
void scn_engine_open(struct scn *s);
void scn_engine_close(struct scn *s);

/* Moves the sandbox clock and the engine clock forward by ms. */
void scn_advance(struct scn *s, int64_t ms);

/* One engine pass (the clock moves 1 s first); asserts HS_OK; r is initialized here. */
void scn_pass(struct scn *s, struct hs_engine_report *r);
/*
 * A pass with nothing to do: asserts that the engine reports no write and no write call, and
 * that no record of either provider changed (HubSpot's last-modified dates and the
 * accounting provider's versions are the same before and after).
 */
void scn_quiet_pass(struct scn *s);
/* Actions of kind k (of object kind obj, or any when obj is HS_KIND_NONE). */
size_t scn_count(const struct hs_engine_report *r, enum hs_engine_action_kind k, enum hs_kind obj);

/* HTTP to the sandbox: status; *out (may be NULL) the answer parsed with exact numbers. */
int scn_http(struct scn *s, const char *method, const char *path, const char *body, json_t **out);
/* scn_http with one more request header (name, value; name NULL: none). */
int scn_http_hdr(struct scn *s, const char *method, const char *path, const char *name,
                 const char *value, const char *body, json_t **out);
/* in percent-encoded into out (len bytes, cut short when it does not fit). */
void scn_url_encode(const char *in, char *out, size_t len);
/* Drops the test's own keep-alive connection and opens a new one: a sandbox worker thread
 * held by an injected stall also holds the connections it serves, and a new connection is
 * always accepted by a free worker. */
void scn_reconnect(struct scn *s);
/* Sets the sandbox's fault spec ("" clears). */
void scn_faults(struct scn *s, const char *spec);

/* ---- HubSpot (the CRM side) ---- */
void scn_crm_create(struct scn *s, const char *type, const char *props_json, const char *assoc,
                    char out[SCN_ID_MAX]);
/* PATCH one property. */
void scn_crm_set(struct scn *s, const char *type, const char *id, const char *prop,
                 const char *value);
/* Value of one property ("" when unset). */
void scn_crm_get(struct scn *s, const char *type, const char *id, const char *prop, char *out,
                 size_t len);
/* Ids of records of type whose property equals value; returns how many (first in out). */
size_t scn_crm_find(struct scn *s, const char *type, const char *prop, const char *value,
                    char out[SCN_ID_MAX]);
/* Id of the n-th product. */
void scn_crm_product(struct scn *s, size_t n, char out[SCN_ID_MAX]);

struct scn_line {
    const char *product; /* HubSpot product id */
    const char *quantity;
    const char *price;    /* unit price, decimal text in the deal's currency */
    const char *tax_rate; /* hs_tax_rate ("20") or NULL */
};
/* A deal of company in currency at stage with lines; returns its id. */
void scn_crm_deal(struct scn *s, const char *company, const char *name, const char *currency,
                  const char *stage, const struct scn_line *lines, size_t n_lines,
                  char out[SCN_ID_MAX]);

/* ---- store ---- */
/* Accounting id linked to CRM record crm_id of object into out; false when not linked. */
bool scn_linked(struct scn *s, const char *object, const char *crm_id, char out[SCN_ID_MAX]);
/* CRM id linked to accounting record acc_id of object; false when not linked. */
bool scn_linked_acc(struct scn *s, const char *object, const char *acc_id, char out[SCN_ID_MAX]);
/* Open items of kind whose remote id is remote_id (any when NULL); message of the last. */
int scn_items(struct scn *s, enum hs_store_item_kind kind, const char *remote_id, char *msg,
              size_t len);

/* Minor units of an amount text in currency (exact). */
int64_t scn_minor(const char *text, const char *currency);

#endif
