/*
 * cli/demo_int.h - what cmd_demo.c and demo_acc.c share: the demo's state, its user-side
 *                  calls to the sandbox, and the table of accounting providers it can run.
 *
 * Design:     `hoopsync demo` runs HubSpot against one accounting provider of the sandbox.
 *             Everything accounting-shaped (the connection's YAML, the tenant, the edits a
 *             user makes through the provider's own API, reading a customer's field or an
 *             invoice, recording a payment, counting records, the stats key, how its rate
 *             limits are run) is one row of struct hs_cli_demo_acc in demo_acc.c, so
 *             cmd_demo.c has no provider if-chains: it looks the row up by --accounting and
 *             calls through it.
 * Ownership:  the rows are const statics; struct hs_cli_demo lives on hs_cli_cmd_demo's stack.
 * Not here:   the steps of the demo (cmd_demo.c).
 */
#ifndef HS_CLI_DEMO_INT_H
#define HS_CLI_DEMO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/money.h"
#include "net/http.h"

#define HS_CLI_DEMO_MAX_CURRENCIES 16
#define HS_CLI_DEMO_N_ACC          3 /* accounting providers in the table */

/* Counts of engine actions over one or more passes. */
struct hs_cli_demo_tally {
    size_t linked;       /* customers */
    size_t linked_items; /* products and items */
    size_t created_acc;  /* customers created in accounting */
    size_t created_crm;  /* customers created in the CRM */
    size_t items;        /* items created in accounting */
    size_t updated_acc;  /* records updated in accounting */
    size_t updated_crm;  /* records updated in the CRM (not deal status write-backs) */
    size_t invoiced;
    size_t status_back; /* deals that got their invoice's number or status */
    size_t settled;
    size_t conflicts;
    size_t reviews;
    size_t errors;
};

/* Invoice totals per currency. */
struct hs_cli_demo_totals {
    struct hs_money sum[HS_CLI_DEMO_MAX_CURRENCIES];
    size_t n;
};

/* API calls per provider: [0] HubSpot, [1 + i] the i-th row of the accounting table. */
#define HS_CLI_DEMO_N_PROVIDERS (1 + HS_CLI_DEMO_N_ACC)

struct hs_cli_demo_acc;

struct hs_cli_demo {
    struct hs_cli *cli; /* the user's: out and err */
    struct hs_cli wcli; /* the workspace's: config_path is the demo's hoopsync.yaml */
    const struct hs_cli_demo_acc *acc; /* the accounting provider of this run */
    bool json;                         /* print one JSON object at the end, no sections */
    bool tty;                          /* stderr is a terminal: draw progress */
    json_t *out;                       /* the --json result */
    struct hs_http_transport http;
    char base[64];
    char auth[96];
    char tenant[64];       /* the accounting tenant: realm, organisation or organization id */
    char default_item[64]; /* the accounting item for deal lines without a linked product */
    long long portal;
    char dir[256];
    char yaml[320];
    struct hs_cli_ws *ws;
    int64_t calls[HS_CLI_DEMO_N_PROVIDERS]; /* API calls hoopsync made */
    int64_t mark[HS_CLI_DEMO_N_PROVIDERS];  /* stats totals when the current step began */
    struct hs_cli_demo_tally all;
    struct hs_cli_demo_tally first; /* the first sync */
    struct hs_cli_demo_tally again; /* the sync after the edits */
    struct hs_cli_demo_totals invoiced;
    struct hs_error err;
};

/*
 * method base+path as a user of the provider (the sandbox's static token), with one extra
 * header when hdr_name is not NULL; returns the 2xx answer's JSON (exact: numbers kept as
 * text, for amounts) or NULL after printing why. Waits out 429 answers (Retry-After, else
 * 1 s), a few times.
 */
json_t *hs_cli_demo_call(struct hs_cli_demo *d, const char *method, const char *path,
                         const char *hdr_name, const char *hdr_value, const char *body, bool exact);

/* What the demo counts in an accounting system. */
enum hs_cli_demo_what { HS_CLI_DEMO_CUSTOMERS, HS_CLI_DEMO_ITEMS, HS_CLI_DEMO_INVOICES };

/* The customer fields the demo reads and edits. */
enum hs_cli_demo_field {
    HS_CLI_DEMO_NAME,
    HS_CLI_DEMO_PHONE,
    HS_CLI_DEMO_WEBSITE,
    HS_CLI_DEMO_CITY
};

/* An invoice as the accounting system holds it. */
struct hs_cli_demo_invoice {
    char number[64];
    char customer[64]; /* the customer's id */
    struct hs_money total;
};

/* One of the rate-limit windows a provider publishes. */
struct hs_cli_demo_window {
    const char *scope; /* the connector's scope (connectors/common/limits.h) */
    long requests;
    long window_ms;
};

/*
 * One accounting provider of the demo. Every function prints why it failed (hs_cli_fail)
 * and returns HS_CLI_EXIT_OK or HS_CLI_EXIT_FAIL.
 */
struct hs_cli_demo_acc {
    const char *name;        /* --accounting, `provider:`, the sandbox module: its route
                                prefix and its key in /_sandbox/tenants and /_sandbox/stats */
    const char *label;       /* "QuickBooks" */
    const char *tenant_key;  /* its tenant's id in /_sandbox/tenants: "realmId" */
    const char *tenant_word; /* "realm" */
    /* The field of the one-way accounting edit (the other one, the phone, is a conflict). */
    enum hs_cli_demo_field one_way;
    const char *scopes;   /* the connection's scopes, a YAML flow list */
    const char *settings; /* the connection's settings, YAML lines indented 6, or "" */
    const char *tax_yaml; /* the invoicing block's tax lines, indented 6 */
    /* The sandbox's time scale for this provider: 1 runs its published windows; N > 1
     * divides every window by N, and the connection is handed the same windows (its
     * `rate_limits` setting, from windows[]), so neither side waits a real minute. */
    uint32_t time_scale;
    struct hs_cli_demo_window windows[2]; /* the published minute [0] and day [1] windows */
    /* Counts customers, items or invoices; for items also the first item's id (the
     * invoicing block's default_item) into first (cap bytes). */
    int (*count)(struct hs_cli_demo *d, enum hs_cli_demo_what what, long *out_n, char *first,
                 size_t cap);
    /* Reads one field of customer id ("" when it has none). */
    int (*customer_get)(struct hs_cli_demo *d, const char *id, enum hs_cli_demo_field f, char *out,
                        size_t cap);
    /* Sets one field of customer id as a user would: the phone and one_way. */
    int (*customer_set)(struct hs_cli_demo *d, const char *id, enum hs_cli_demo_field f,
                        const char *value);
    /* Reads invoice id: its number, customer and total. */
    int (*invoice_read)(struct hs_cli_demo *d, const char *id, struct hs_cli_demo_invoice *out);
    /* Records a payment of amount against invoice id (inv: what invoice_read gave). */
    int (*invoice_pay)(struct hs_cli_demo *d, const char *id, const struct hs_cli_demo_invoice *inv,
                       const struct hs_money *amount);
};

/* The table, in the order of --help; HS_CLI_DEMO_N_ACC rows. */
extern const struct hs_cli_demo_acc *const hs_cli_demo_accs[HS_CLI_DEMO_N_ACC];

#endif
