/*
 * cli/cmd_demo.c - `hoopsync demo`: the whole product on seeded sandbox data, no set-up needed.
 *
 * Design:     HubSpot against one accounting provider (--accounting: quickbooks, xero or
 *             zohobooks; everything provider-shaped is one row of demo_acc.c, looked up here,
 *             never an if-chain). Starts hoopsync-sandbox in this process (real HTTP server on
 *             a free loopback port, seeded world, rate limits on: as published, or with the
 *             windows compressed by the row's time scale, which the connection's rate_limits
 *             then match and the report states) and writes a workspace into a new temporary
 *             directory: hoopsync.yaml (customers both ways with authority rules, products
 *             -> items, closed-won deals -> invoices with an `invoicing:` block, payments
 *             back) pointing base_url at the sandbox, and a master key. Then, in order:
 *               connect  both connections by the real OAuth2 consent: `hoopsync connect
 *                        --url-only` runs on a thread of this process exactly as on the
 *                        command line; this thread follows the consent URL it prints (the
 *                        sandbox's consent redirects to connect's loopback callback);
 *               1 plan   hs_engine_plan through the workspace of `hoopsync sync`
 *                        (hs_cli_ws_open): counts by action and a few reasons;
 *               2 sync   hs_engine_run_once: linked, created each side, reviews, invoices
 *                        created (their totals read back from the accounting system, and
 *                        the invoices it lists counted), errors;
 *               3 edits  as users would make them, through the providers' own APIs (a static
 *                        sandbox token, not hoopsync's): a HubSpot phone (where hoopsync
 *                        reads it: the company's primary contact, else the company) and an
 *                        accounting field (the row's one_way: the website, or Xero's billing
 *                        city) on one linked pair (a change each way), the phone of another
 *                        pair on both sides (a conflict the rule `phone: accounting`
 *                        settles), a partial payment of one invoice in the accounting system;
 *               4 sync   again: what moved, the settled conflict (both phones read back), the
 *                        deal's new status;
 *               5 report linked / created / updated / invoiced / paid / settled, API calls
 *                        hoopsync made per provider (differences of /_sandbox/stats around
 *                        its own steps, so the demo's edits are not counted) and wall time.
 *             No sync logic lives here: everything hoopsync does goes through the engine
 *             opened by hs_cli_ws_open, as `hoopsync sync --once` does. --json prints one
 *             object instead of the sections (tests read it). The temporary directory is
 *             removed at the end unless --keep-dir (or --keep) is given.
 *             This is the one command that uses sandbox/ directly: the demo's point is to
 *             run without any account.
 * Threads:    one helper thread per connection while `connect` waits for its consent; it
 *             shares nothing with the main thread but the pipe it prints the URL into.
 * Ownership:  everything is created and freed inside hs_cli_cmd_demo.
 * Not here:   the sync itself (engine/), the workspace (cli/cmd_sync.c), OAuth (cmd_connect.c),
 *             the accounting providers' user-side calls (cli/demo_acc.c).
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "cli/cli.h"
#include "cli/demo_int.h"
#include "config/config.h"
#include "core/money.h"
#include "engine/engine.h"
#include "hoopsync/store.h"
#include "net/http.h"
#include "sandbox/sbx.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/jsonnum.h"
#include "util/str.h"

static const char usage[] =
    "usage: hoopsync demo [--accounting NAME] [--seed N] [--companies N] [--deals N] [--keep]\n"
    "                     [--keep-dir] [--json]\n"
    "\n"
    "Show the whole product on seeded data, with no account and no configuration: start the\n"
    "provider sandbox (HubSpot and the accounting provider) on a free loopback port, write\n"
    "a workspace (hoopsync.yaml and a master key) in a temporary directory, connect both\n"
    "sides by OAuth, then run plan and sync, edit records on both sides through the\n"
    "providers' own APIs (a change each way, a conflict that an authority rule settles, a\n"
    "partial payment) and sync again. Ends with a report: linked, created, updated,\n"
    "invoiced, paid, conflicts settled, API calls per provider and how rate limits ran.\n"
    "\n"
    "options:\n"
    "  --accounting NAME\n"
    "                 the accounting side: quickbooks (default), xero or zohobooks. Xero's\n"
    "                 and Zoho Books' rate-limit windows are compressed 60x, in the sandbox\n"
    "                 and in the connection's rate_limits alike (the report says so)\n"
    "  --seed N       seed of the generated data (default 7)\n"
    "  --companies N  CRM companies to generate, 1 to 2000 (default 40)\n"
    "  --deals N      deals to generate, 1 to 2000 (default 30)\n"
    "  --keep         keep the sandbox running and the workspace after the report (Ctrl-C\n"
    "                 stops it)\n"
    "  --keep-dir     keep the workspace directory and print its path\n"
    "  --json         print the results as one JSON object instead of the sections\n"
    "  -h, --help     show this help\n";

enum { OPT_SEED = 1, OPT_COMPANIES, OPT_DEALS, OPT_KEEP, OPT_KEEP_DIR, OPT_JSON, OPT_ACCOUNTING };

#define MAX_SIZE       2000
#define CLIENT_ID      "hoopsync-demo"
#define SECRET_ENV     "HOOPSYNC_DEMO_SECRET"
#define CONNECT_WAIT_S "20"
#define MAX_RETRIES    5

/* GLOBAL: set by the SIGINT/SIGTERM handler while --keep waits */
static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* ---- output helpers ------------------------------------------------------------------------ */

static void say(struct hs_cli_demo *d, const char *fmt, ...) HS_PRINTF(2, 3);
static void say(struct hs_cli_demo *d, const char *fmt, ...)
{
    if (d->json)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(d->cli->out, fmt, ap);
    va_end(ap);
}

/* One redrawn stderr line on a terminal; NULL clears it. */
static void progress(struct hs_cli_demo *d, const char *what)
{
    if (!d->tty)
        return;
    if (what == NULL)
        fputs("\r\033[K", d->cli->err);
    else
        fprintf(d->cli->err, "\r\033[Khoopsync demo: %s...", what);
    fflush(d->cli->err);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void money_text(const struct hs_money *m, char *buf, size_t cap)
{
    char amt[HS_MONEY_FMT_MAX];
    if (hs_money_format(m, amt, sizeof amt) < 0)
        snprintf(amt, sizeof amt, "?");
    snprintf(buf, cap, "%s %s", m->currency, amt);
}

static int totals_add(struct hs_cli_demo_totals *t, const struct hs_money *m)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->sum[i].currency, m->currency) == 0)
            return hs_money_add(&t->sum[i], m, &t->sum[i], NULL);
    if (t->n == HS_CLI_DEMO_MAX_CURRENCIES)
        return HS_ERANGE;
    t->sum[t->n++] = *m;
    return HS_OK;
}

/* "USD 1234.50, EUR 99.00" */
static void totals_text(const struct hs_cli_demo_totals *t, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t i = 0; i < t->n; i++) {
        char one[HS_MONEY_FMT_MAX + 8];
        money_text(&t->sum[i], one, sizeof one);
        size_t l = strlen(buf);
        snprintf(buf + l, cap - l, "%s%s", i > 0 ? ", " : "", one);
    }
}

static json_t *totals_json(const struct hs_cli_demo_totals *t)
{
    json_t *o = json_object();
    for (size_t i = 0; o != NULL && i < t->n; i++) {
        char amt[HS_MONEY_FMT_MAX];
        if (hs_money_format(&t->sum[i], amt, sizeof amt) >= 0)
            json_object_set_new(o, t->sum[i].currency, json_string(amt));
    }
    return o;
}

/* ---- talking to the sandbox as a user (static token), outside hoopsync -------------------- */

json_t *hs_cli_demo_call(struct hs_cli_demo *d, const char *method, const char *path,
                         const char *hdr_name, const char *hdr_value, const char *body, bool exact)
{
    struct hs_http_request req;
    struct hs_http_response resp;
    hs_http_request_init(&req);
    hs_http_response_init(&resp);
    json_t *out = NULL;
    char *url = hs_asprintf("%s%s", d->base, path);
    int rc = url ? hs_http_request_set(&req, method, url) : HS_ENOMEM;
    if (rc == HS_OK)
        rc = hs_http_headers_add(&req.headers, "Authorization", d->auth);
    if (rc == HS_OK)
        rc = hs_http_headers_add(&req.headers, "Accept", "application/json");
    if (rc == HS_OK && hdr_name != NULL)
        rc = hs_http_headers_add(&req.headers, hdr_name, hdr_value);
    if (rc == HS_OK && body != NULL) {
        rc = hs_buf_puts(&req.body, body);
        if (rc == HS_OK)
            rc = hs_http_headers_add(&req.headers, "Content-Type", "application/json");
    }
    /* the providers' rate limits apply to the demo too: wait as their 429 answers say */
    for (int attempt = 0; rc == HS_OK; attempt++) {
        rc = hs_http_send(&d->http, &req, &resp, &d->err);
        if (rc != HS_OK || resp.status != 429 || attempt == MAX_RETRIES)
            break;
        const char *ra = hs_http_headers_get(&resp.headers, "Retry-After");
        int64_t wait_s = 1;
        if (ra == NULL || hs_str_to_i64(ra, strlen(ra), &wait_s) != HS_OK || wait_s < 1 ||
            wait_s > 10)
            wait_s = 1;
        hs_http_response_release(&resp);
        hs_http_response_init(&resp);
        struct timespec ts = {.tv_sec = (time_t)wait_s, .tv_nsec = 0};
        nanosleep(&ts, NULL);
    }
    if (rc != HS_OK)
        hs_cli_fail(d->cli, "cannot call the sandbox '%s %s': %s", method, path,
                    d->err.msg[0] ? d->err.msg : "failed");
    else if (resp.status < 200 || resp.status > 299)
        hs_cli_fail(d->cli, "cannot call the sandbox '%s %s': answered %d: %.300s", method, path,
                    resp.status, resp.body.data ? resp.body.data : "");
    else if ((exact ? hs_json_parse_exact((const uint8_t *)resp.body.data, resp.body.len,
                                          "sandbox answer", &out, &d->err)
                    : hs_http_response_parse_json(&resp, &out, &d->err)) != HS_OK)
        hs_cli_fail(d->cli, "cannot call the sandbox '%s %s': %s", method, path, d->err.msg);
    hs_free(url);
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    return out;
}

/* A call without an extra header (HubSpot, the sandbox's admin API). */
static json_t *call(struct hs_cli_demo *d, const char *method, const char *path, const char *body,
                    bool exact)
{
    return hs_cli_demo_call(d, method, path, NULL, NULL, body, exact);
}

/* Pages through a HubSpot object list; counts records and, when prop is set, tallies it. */
static long hubspot_count(struct hs_cli_demo *d, const char *type, const char *prop, json_t *tally)
{
    long n = 0;
    char after[64] = "";
    for (;;) {
        char path[256];
        snprintf(path, sizeof path, "/hubspot/crm/v3/objects/%s?limit=100%s%s%s%s", type,
                 prop ? "&properties=" : "", prop ? prop : "", after[0] ? "&after=" : "", after);
        json_t *page = call(d, "GET", path, NULL, false);
        if (page == NULL)
            return -1;
        size_t i;
        json_t *rec;
        json_array_foreach(json_object_get(page, "results"), i, rec)
        {
            n++;
            const char *v = prop ? hs_json_str(json_object_get(rec, "properties"), prop) : NULL;
            if (v != NULL)
                json_object_set_new(
                    tally, v, json_integer(json_integer_value(json_object_get(tally, v)) + 1));
        }
        const char *next =
            hs_json_str(json_object_get(json_object_get(page, "paging"), "next"), "after");
        if (next == NULL) {
            json_decref(page);
            return n;
        }
        snprintf(after, sizeof after, "%s", next);
        json_decref(page);
    }
}

/* The stats key of provider i: [0] HubSpot, [1 + k] the k-th accounting row. */
static const char *provider_key(size_t i)
{
    return i == 0 ? "hubspot" : hs_cli_demo_accs[i - 1]->name;
}

/* Provider request totals from /_sandbox/stats (admin calls are not counted there). */
static int stats(struct hs_cli_demo *d, int64_t out[HS_CLI_DEMO_N_PROVIDERS])
{
    json_t *s = call(d, "GET", "/_sandbox/stats", NULL, false);
    if (s == NULL)
        return HS_EIO;
    json_t *p = json_object_get(s, "providers");
    for (size_t i = 0; i < HS_CLI_DEMO_N_PROVIDERS; i++)
        out[i] = json_integer_value(json_object_get(json_object_get(p, provider_key(i)), "total"));
    json_decref(s);
    return HS_OK;
}

/* Brackets a step of hoopsync: calls between begin and end are hoopsync's. */
static int step_begin(struct hs_cli_demo *d)
{
    return stats(d, d->mark);
}

/* Adds the step's calls to the totals and, when out is not NULL, gives them. */
static int step_end(struct hs_cli_demo *d, int64_t out[HS_CLI_DEMO_N_PROVIDERS])
{
    int64_t now[HS_CLI_DEMO_N_PROVIDERS];
    if (stats(d, now) != HS_OK)
        return HS_EIO;
    for (size_t i = 0; i < HS_CLI_DEMO_N_PROVIDERS; i++) {
        d->calls[i] += now[i] - d->mark[i];
        if (out != NULL)
            out[i] = now[i] - d->mark[i];
    }
    return HS_OK;
}

/* The calls of the accounting provider of this run. */
static int64_t acc_calls(const struct hs_cli_demo *d, const int64_t c[HS_CLI_DEMO_N_PROVIDERS])
{
    for (size_t i = 0; i < HS_CLI_DEMO_N_ACC; i++)
        if (hs_cli_demo_accs[i] == d->acc)
            return c[1 + i];
    return 0;
}

/* {"hubspot": n, "quickbooks": n, "xero": n, "zohobooks": n}: the providers not used show 0. */
static json_t *calls_json(const int64_t c[HS_CLI_DEMO_N_PROVIDERS])
{
    json_t *o = json_object();
    for (size_t i = 0; o != NULL && i < HS_CLI_DEMO_N_PROVIDERS; i++)
        json_object_set_new(o, provider_key(i), json_integer((json_int_t)c[i]));
    return o;
}

/* ---- the workspace -------------------------------------------------------------------------- */

static int write_workspace(struct hs_cli_demo *d)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(d->dir, sizeof d->dir, "%s/hoopsync-demo-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(d->dir) == NULL) {
        d->dir[0] = '\0';
        return hs_cli_fail(d->cli, "cannot create the demo workspace: mkdtemp failed");
    }
    snprintf(d->yaml, sizeof d->yaml, "%s/hoopsync.yaml", d->dir);
    FILE *f = fopen(d->yaml, "w");
    if (f == NULL)
        return hs_cli_fail(d->cli, "cannot write '%s': cannot open it", d->yaml);
    const struct hs_cli_demo_acc *acc = d->acc;
    fprintf(f,
            "# hoopsync.yaml written by `hoopsync demo`: HubSpot and %s in the sandbox.\n"
            "version: 1\n"
            "store: sqlite:hoopsync.db\n"
            "master_key_file: hoopsync.key\n"
            "connections:\n"
            "  crm:\n"
            "    provider: hubspot\n"
            "    client_id: " CLIENT_ID "\n"
            "    client_secret_env: " SECRET_ENV "\n"
            "    redirect_uri: http://127.0.0.1:0/oauth/callback\n"
            "    base_url: %s/hubspot\n"
            "    settings:\n"
            "      closed_won_stages: [closedwon]\n"
            "  accounting:\n"
            "    provider: %s\n"
            "    client_id: " CLIENT_ID "\n"
            "    client_secret_env: " SECRET_ENV "\n"
            "    redirect_uri: http://127.0.0.1:0/oauth/callback\n"
            "    scopes: %s\n"
            "    base_url: %s/%s\n"
            "    tenant_id: \"%s\" # the seeded organisation (a grant may cover several)\n",
            acc->label, d->base, acc->name, acc->scopes, d->base, acc->name, d->tenant);
    if (acc->settings[0] != '\0' || acc->time_scale > 1)
        fprintf(f, "    settings:\n%s", acc->settings);
    if (acc->time_scale > 1) {
        /* the sandbox runs this provider's windows time_scale times faster: the connection
         * paces itself on the same windows, so it neither waits a real minute nor gets 429s */
        fprintf(f,
                "      rate_limits: # %s's published windows, compressed %ux as the sandbox "
                "runs them\n",
                acc->label, (unsigned)acc->time_scale);
        for (size_t i = 0; i < sizeof acc->windows / sizeof acc->windows[0]; i++)
            fprintf(f, "        - {scope: %s, requests: %ld, window_ms: %ld}\n",
                    acc->windows[i].scope, acc->windows[i].requests,
                    acc->windows[i].window_ms / (long)acc->time_scale);
    }
    fprintf(f,
            "flows:\n"
            "  - name: customers\n"
            "    objects: customers\n"
            "    direction: both\n"
            "    authority:\n"
            "      default: crm        # the CRM wins a field both sides changed...\n"
            "      phone: accounting   # ...except the phone: the bookkeeper's number wins\n"
            "  - name: products\n"
            "    objects: items\n"
            "    direction: crm_to_accounting\n"
            "  - name: invoices\n"
            "    objects: invoices\n"
            "    direction: crm_to_accounting\n"
            "    filter:\n"
            "      dealstage: closedwon\n"
            "    invoicing:\n"
            "      default_item: \"%s\"\n"
            "      payment_terms: Net 30\n"
            "      terms: {\"Net 30\": 30, \"Net 60\": 60, \"Due on receipt\": 0}\n"
            "%s"
            "      default_currency: USD\n"
            "  - name: payments\n"
            "    objects: payments\n"
            "    direction: accounting_to_crm\n",
            d->default_item, acc->tax_yaml);
    if (fclose(f) != 0)
        return hs_cli_fail(d->cli, "cannot write '%s': write failed", d->yaml);
    char key[320];
    snprintf(key, sizeof key, "%s/hoopsync.key", d->dir);
    if (hs_store_keyfile_create(key, &d->err) != HS_OK)
        return hs_cli_fail(d->cli, "%s", d->err.msg);
    return HS_CLI_EXIT_OK;
}

/* Removes the workspace directory and the files in it (it has no subdirectories). */
static void remove_workspace(struct hs_cli_demo *d)
{
    if (d->dir[0] == '\0')
        return;
    DIR *dir = opendir(d->dir);
    if (dir != NULL) {
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[600];
            snprintf(p, sizeof p, "%s/%s", d->dir, e->d_name);
            (void)unlink(p);
        }
        closedir(dir);
    }
    (void)rmdir(d->dir);
}

/* ---- connecting: `hoopsync connect --url-only NAME` on a thread, consent followed here ---- */

struct connect_job {
    struct hs_cli cli; /* out: the pipe's write end */
    char name[16];
    int rc;
};

static void *connect_main(void *ud)
{
    struct connect_job *j = ud;
    char a0[] = "connect", a1[] = "--url-only", a2[] = "--timeout", a3[] = CONNECT_WAIT_S;
    char *argv[] = {a0, a1, a2, a3, j->name, NULL};
    j->rc = hs_cli_cmd_connect(5, argv, &j->cli);
    fclose(j->cli.out); /* the reader sees EOF */
    j->cli.out = NULL;
    return NULL;
}

/* GET url without credentials, as a browser would; *out_location gets a redirect's target. */
static int browse(struct hs_cli_demo *d, const char *url, int *out_status, char **out_location)
{
    struct hs_http_request req;
    struct hs_http_response resp;
    hs_http_request_init(&req);
    hs_http_response_init(&resp);
    *out_location = NULL;
    int rc = hs_http_request_set(&req, "GET", url);
    if (rc == HS_OK)
        rc = hs_http_send(&d->http, &req, &resp, &d->err);
    if (rc == HS_OK) {
        *out_status = resp.status;
        const char *loc = hs_http_headers_get(&resp.headers, "Location");
        if (loc != NULL && (*out_location = hs_strdup(loc)) == NULL)
            rc = HS_ENOMEM;
    }
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    return rc;
}

/* The consent: the sandbox's authorize page redirects to connect's loopback callback. */
static int consent(struct hs_cli_demo *d, const char *url)
{
    int status = 0;
    char *loc = NULL;
    int rc = browse(d, url, &status, &loc);
    if (rc == HS_OK && (status < 300 || status > 399 || loc == NULL)) {
        hs_free(loc);
        return hs_cli_fail(d->cli,
                           "cannot give the consent: the sandbox answered %d, not a "
                           "redirect",
                           status);
    }
    if (rc == HS_OK) {
        char *next = NULL;
        rc = browse(d, loc, &status, &next);
        hs_free(next);
        if (rc == HS_OK && status != 200) {
            hs_free(loc);
            return hs_cli_fail(d->cli, "cannot give the consent: the callback answered %d", status);
        }
    }
    hs_free(loc);
    if (rc != HS_OK)
        return hs_cli_fail(d->cli, "cannot give the consent: %s", d->err.msg);
    return HS_CLI_EXIT_OK;
}

static int connect_side(struct hs_cli_demo *d, const char *name, char *said, size_t said_cap)
{
    int fds[2];
    if (pipe(fds) != 0)
        return hs_cli_fail(d->cli, "cannot connect '%s': pipe failed", name);
    FILE *rd = fdopen(fds[0], "r");
    FILE *wr = fdopen(fds[1], "w");
    if (rd == NULL || wr == NULL) {
        if (rd != NULL)
            fclose(rd);
        else
            close(fds[0]);
        if (wr != NULL)
            fclose(wr);
        else
            close(fds[1]);
        return hs_cli_fail(d->cli, "cannot connect '%s': fdopen failed", name);
    }
    struct connect_job job;
    memset(&job, 0, sizeof job);
    job.cli = d->wcli;
    job.cli.config = NULL;
    job.cli.out = wr;
    snprintf(job.name, sizeof job.name, "%s", name);
    pthread_t th;
    if (pthread_create(&th, NULL, connect_main, &job) != 0) {
        fclose(rd);
        fclose(wr);
        return hs_cli_fail(d->cli, "cannot connect '%s': cannot start a thread", name);
    }
    char line[4096];
    int rc = HS_CLI_EXIT_OK;
    if (fgets(line, sizeof line, rd) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        rc = consent(d, line);
    }
    /* after a failed consent connect gives up at its --timeout */
    pthread_join(th, NULL);
    said[0] = '\0';
    if (fgets(line, sizeof line, rd) != NULL && said_cap > 0) {
        size_t n = strcspn(line, "\r\n");
        if (n >= said_cap)
            n = said_cap - 1; /* a long line is cut: it is only shown */
        memcpy(said, line, n);
        said[n] = '\0';
    }
    fclose(rd);
    hs_config_free(job.cli.config);
    if (rc == HS_CLI_EXIT_OK && job.rc != HS_CLI_EXIT_OK)
        rc = hs_cli_fail(d->cli, "cannot connect '%s' to the sandbox (see above)", name);
    return rc;
}

/* ---- engine reports ---------------------------------------------------------------------------
 */

static void tally_add(struct hs_cli_demo_tally *t, const struct hs_engine_report *r)
{
    for (size_t i = 0; i < r->n_actions; i++) {
        const struct hs_engine_action *a = &r->actions[i];
        bool inv = a->object == HS_KIND_INVOICE;
        bool from_crm = a->source_side == HS_SIDE_CRM;
        switch (a->kind) {
        case HS_ENGINE_LINK:
            if (a->object == HS_KIND_ITEM)
                t->linked_items++;
            else
                t->linked++;
            break;
        case HS_ENGINE_CREATE:
            if (inv)
                t->invoiced++;
            else if (a->object == HS_KIND_ITEM)
                t->items++;
            else if (from_crm)
                t->created_acc++;
            else
                t->created_crm++;
            break;
        case HS_ENGINE_UPDATE:
            if (inv)
                t->status_back++;
            else if (from_crm)
                t->updated_acc++;
            else
                t->updated_crm++;
            break;
        case HS_ENGINE_SETTLED:
            t->settled++;
            break;
        case HS_ENGINE_CONFLICT:
            t->conflicts++;
            break;
        case HS_ENGINE_REVIEW:
            t->reviews++;
            break;
        case HS_ENGINE_ERROR:
            t->errors++;
            break;
        default:
            break;
        }
    }
}

static void tally_merge(struct hs_cli_demo_tally *into, const struct hs_cli_demo_tally *t)
{
    into->linked += t->linked;
    into->linked_items += t->linked_items;
    into->created_acc += t->created_acc;
    into->created_crm += t->created_crm;
    into->items += t->items;
    into->updated_acc += t->updated_acc;
    into->updated_crm += t->updated_crm;
    into->invoiced += t->invoiced;
    into->status_back += t->status_back;
    into->settled += t->settled;
    into->conflicts += t->conflicts;
    into->reviews += t->reviews;
    into->errors += t->errors;
}

static json_t *tally_json(const struct hs_cli_demo_tally *t)
{
    return json_pack("{s:I,s:I,s:{s:I,s:I,s:I},s:{s:I,s:I},s:I,s:I,s:I,s:I,s:I,s:I}", "linked",
                     (json_int_t)t->linked, "linked_items", (json_int_t)t->linked_items, "created",
                     "accounting_customers", (json_int_t)t->created_acc, "crm_customers",
                     (json_int_t)t->created_crm, "accounting_items", (json_int_t)t->items,
                     "updated", "accounting", (json_int_t)t->updated_acc, "crm",
                     (json_int_t)t->updated_crm, "invoiced", (json_int_t)t->invoiced,
                     "status_written_back", (json_int_t)t->status_back, "settled",
                     (json_int_t)t->settled, "conflicts", (json_int_t)t->conflicts, "reviews",
                     (json_int_t)t->reviews, "errors", (json_int_t)t->errors);
}

static const char *side_label(const struct hs_cli_demo *d, enum hs_side s)
{
    return s == HS_SIDE_CRM ? "HubSpot" : d->acc->label;
}

static void print_action(struct hs_cli_demo *d, const struct hs_engine_action *a)
{
    say(d, "     %-8s %-9s %s %s%s%s: %s%s%s%s\n", hs_engine_action_name(a->kind),
        hs_kind_name(a->object), side_label(d, a->source_side), a->source_id,
        a->target_id != NULL ? " -> " : "", a->target_id != NULL ? a->target_id : "", a->reason,
        a->fields != NULL ? " [" : "", a->fields != NULL ? a->fields : "",
        a->fields != NULL ? "]" : "");
}

/* Prints up to max actions of kind (and of object unless HS_KIND_UNSET... any: obj < 0). */
static size_t print_some(struct hs_cli_demo *d, const struct hs_engine_report *r,
                         enum hs_engine_action_kind kind, int object, int side, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_actions && n < max; i++) {
        const struct hs_engine_action *a = &r->actions[i];
        if (a->kind != kind || (object >= 0 && (int)a->object != object) ||
            (side >= 0 && (int)a->source_side != side))
            continue;
        print_action(d, a);
        n++;
    }
    return n;
}

static json_t *actions_json(const struct hs_engine_report *r,
                            bool (*keep)(const struct hs_engine_action *))
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < r->n_actions; i++) {
        const struct hs_engine_action *a = &r->actions[i];
        if (keep != NULL && !keep(a))
            continue;
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s?,s:s}", "action",
                                             hs_engine_action_name(a->kind), "object",
                                             hs_kind_name(a->object), "source_side",
                                             a->source_side == HS_SIDE_CRM ? "crm" : "accounting",
                                             "source_id", a->source_id, "target_id", a->target_id,
                                             "fields", a->fields, "reason", a->reason));
    }
    return arr;
}

/* ---- step 1: plan ------------------------------------------------------------------------------
 */

static int step_plan(struct hs_cli_demo *d)
{
    say(d, "\n1. plan: what a first sync would do (nothing is written)\n");
    progress(d, "planning");
    struct hs_engine_report r;
    hs_engine_report_init(&r);
    int64_t t0 = now_ms();
    int rc = step_begin(d);
    if (rc == HS_OK)
        rc = hs_engine_plan(hs_cli_ws_engine(d->ws), &r, &d->err);
    hs_cli_ws_progress_done(d->ws, &d->wcli);
    progress(d, NULL);
    if (rc != HS_OK) {
        hs_engine_report_release(&r);
        return hs_cli_fail(d->cli, "cannot plan: %s", d->err.msg[0] ? d->err.msg : "failed");
    }
    int64_t c[HS_CLI_DEMO_N_PROVIDERS] = {0};
    (void)step_end(d, c);
    size_t by_kind[HS_ENGINE_ERROR + 1];
    memset(by_kind, 0, sizeof by_kind);
    for (size_t i = 0; i < r.n_actions; i++)
        if (r.actions[i].kind >= 1 && r.actions[i].kind <= HS_ENGINE_ERROR)
            by_kind[r.actions[i].kind]++;
    json_t *counts = json_object();
    say(d, "   %zu actions:", r.n_actions);
    bool first = true;
    for (int k = 1; k <= HS_ENGINE_ERROR; k++) {
        if (by_kind[k] == 0)
            continue;
        const char *name = hs_engine_action_name((enum hs_engine_action_kind)k);
        say(d, "%s %zu %s", first ? "" : ",", by_kind[k], name);
        json_object_set_new(counts, name, json_integer((json_int_t)by_kind[k]));
        first = false;
    }
    say(d, "%s (read %zu records; %lld ms; API calls: HubSpot %lld, %s %lld)\n",
        first ? " none" : "", r.n_records_read, (long long)(now_ms() - t0), (long long)c[0],
        d->acc->label, (long long)acc_calls(d, c));
    say(d, "   some reasons:\n");
    print_some(d, &r, HS_ENGINE_LINK, HS_KIND_CUSTOMER, -1, 2);
    print_some(d, &r, HS_ENGINE_CREATE, HS_KIND_CUSTOMER, HS_SIDE_CRM, 1);
    print_some(d, &r, HS_ENGINE_CREATE, HS_KIND_CUSTOMER, HS_SIDE_ACCOUNTING, 1);
    print_some(d, &r, HS_ENGINE_CREATE, HS_KIND_ITEM, -1, 1);
    print_some(d, &r, HS_ENGINE_REVIEW, -1, -1, 1);
    if (print_some(d, &r, HS_ENGINE_ERROR, -1, -1, 2) > 0)
        say(d, "     (a plan links nothing, so deals wait here; the sync links their companies "
               "first)\n");
    json_object_set_new(d->out, "plan",
                        json_pack("{s:o,s:I,s:o}", "counts", counts, "actions",
                                  (json_int_t)r.n_actions, "api_calls", calls_json(c)));
    hs_engine_report_release(&r);
    return HS_CLI_EXIT_OK;
}

/* ---- step 2 and 4: sync ------------------------------------------------------------------------
 */

static int run_pass(struct hs_cli_demo *d, struct hs_engine_report *r,
                    int64_t calls[HS_CLI_DEMO_N_PROVIDERS], int64_t *ms)
{
    progress(d, "syncing");
    int64_t t0 = now_ms();
    int rc = step_begin(d);
    if (rc == HS_OK)
        rc = hs_engine_run_once(hs_cli_ws_engine(d->ws), r, &d->err);
    hs_cli_ws_progress_done(d->ws, &d->wcli);
    progress(d, NULL);
    if (rc != HS_OK)
        return hs_cli_fail(d->cli, "cannot sync: %s", d->err.msg[0] ? d->err.msg : "failed");
    *ms = now_ms() - t0;
    if (step_end(d, calls) != HS_OK)
        return HS_CLI_EXIT_FAIL;
    return HS_CLI_EXIT_OK;
}

static bool is_invoice_create(const struct hs_engine_action *a)
{
    return a->kind == HS_ENGINE_CREATE && a->object == HS_KIND_INVOICE;
}

static bool is_error(const struct hs_engine_action *a)
{
    return a->kind == HS_ENGINE_ERROR;
}

static bool is_not_link(const struct hs_engine_action *a)
{
    return a->kind != HS_ENGINE_LINK;
}

/*
 * Adds the totals of the invoices a pass created (as the accounting system holds them) to
 * the demo's invoiced totals; first / last (len each): the first and last invoice numbers.
 */
static int add_invoiced(struct hs_cli_demo *d, const struct hs_engine_report *r, char *first,
                        char *last, size_t len)
{
    for (size_t i = 0; i < r->n_actions; i++) {
        const struct hs_engine_action *a = &r->actions[i];
        if (!is_invoice_create(a) || a->target_id == NULL)
            continue;
        struct hs_cli_demo_invoice inv;
        if (d->acc->invoice_read(d, a->target_id, &inv) != HS_CLI_EXIT_OK ||
            totals_add(&d->invoiced, &inv.total) != HS_OK)
            return HS_CLI_EXIT_FAIL;
        if (first[0] == '\0')
            snprintf(first, len, "%s", inv.number);
        snprintf(last, len, "%s", inv.number);
    }
    return HS_CLI_EXIT_OK;
}

static int step_sync(struct hs_cli_demo *d)
{
    say(d, "\n2. sync: one pass of the engine\n");
    struct hs_engine_report r;
    hs_engine_report_init(&r);
    int64_t c[HS_CLI_DEMO_N_PROVIDERS] = {0}, ms = 0;
    int rc = run_pass(d, &r, c, &ms);
    if (rc != HS_CLI_EXIT_OK) {
        hs_engine_report_release(&r);
        return rc;
    }
    struct hs_cli_demo_tally t;
    memset(&t, 0, sizeof t);
    tally_add(&t, &r);
    tally_merge(&d->all, &t);
    d->first = t;
    say(d, "   linked %zu customers and %zu products that exist on both sides (no duplicates)\n",
        t.linked, t.linked_items);
    say(d, "   created %zu customers and %zu %s in %s, %zu customers in HubSpot\n", t.created_acc,
        t.items, t.items == 1 ? "item" : "items", d->acc->label, t.created_crm);
    if (t.settled > 0)
        say(d,
            "   settled %zu fields that differed between linked records (authority: crm, "
            "phone: accounting)\n",
            t.settled);
    if (t.reviews > 0) {
        say(d, "   %zu uncertain matches wait for a person (`hoopsync reviews list`):\n",
            t.reviews);
        print_some(d, &r, HS_ENGINE_REVIEW, -1, -1, 2);
    }
    /* invoices: their numbers and totals as the accounting system holds them */
    char first[64] = "", last[64] = "";
    if (add_invoiced(d, &r, first, last, sizeof first) != HS_CLI_EXIT_OK) {
        hs_engine_report_release(&r);
        return HS_CLI_EXIT_FAIL;
    }
    char sums[512];
    totals_text(&d->invoiced, sums, sizeof sums);
    if (t.invoiced > 0)
        say(d, "   invoiced %zu closed-won deals: %s invoices %s..%s, totals %s\n", t.invoiced,
            d->acc->label, first, last, sums);
    else
        say(d, "   invoiced no deal\n");
    /* what the accounting system itself lists now: the seeded world had no invoice */
    long held = 0;
    if (d->acc->count(d, HS_CLI_DEMO_INVOICES, &held, NULL, 0) != HS_CLI_EXIT_OK) {
        hs_engine_report_release(&r);
        return HS_CLI_EXIT_FAIL;
    }
    say(d, "   %s lists %ld %s now\n", d->acc->label, held, held == 1 ? "invoice" : "invoices");
    say(d, "   %zu deals got their invoice number and payment status back\n", t.status_back);
    say(d, "   %zu errors%s\n", t.errors, t.errors > 0 ? ":" : "");
    print_some(d, &r, HS_ENGINE_ERROR, -1, -1, 3);
    say(d, "   (%lld ms; API calls: HubSpot %lld, %s %lld)\n", (long long)ms, (long long)c[0],
        d->acc->label, (long long)acc_calls(d, c));
    json_t *j = tally_json(&t);
    json_object_set_new(j, "invoices", actions_json(&r, is_invoice_create));
    json_object_set_new(j, "errors_list", actions_json(&r, is_error));
    json_object_set_new(j, "invoice_totals", totals_json(&d->invoiced));
    json_object_set_new(j, "accounting_invoices", json_integer((json_int_t)held));
    json_object_set_new(j, "api_calls", calls_json(c));
    json_object_set_new(d->out, "sync", j);
    hs_engine_report_release(&r);
    return HS_CLI_EXIT_OK;
}

/* ---- step 3: edits through the providers' own APIs ---------------------------------------------
 */

struct two_links {
    char crm[2][64];
    char acc[2][64];
    size_t n;
};

static int two_links_cb(void *ud, const struct hs_store_link *l)
{
    struct two_links *t = ud;
    snprintf(t->crm[t->n], sizeof t->crm[0], "%s", l->crm_id);
    snprintf(t->acc[t->n], sizeof t->acc[0], "%s", l->acc_id);
    t->n++;
    return t->n == 2 ? 1 : 0;
}

/* A HubSpot object's property as HubSpot holds it ("" when it has none). */
static int hubspot_get(struct hs_cli_demo *d, const char *type, const char *id, const char *prop,
                       char *out, size_t cap)
{
    char path[200];
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/%s/%s?properties=%s", type, id, prop);
    json_t *v = call(d, "GET", path, NULL, false);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    const char *s = hs_json_str(json_object_get(v, "properties"), prop);
    snprintf(out, cap, "%s", s != NULL ? s : "");
    json_decref(v);
    return HS_CLI_EXIT_OK;
}

/*
 * Where HubSpot keeps the phone hoopsync syncs for a company: its primary contact (the lowest
 * id among the contacts whose primary company it is, else its lowest-id contact), else the
 * company itself (docs/modules/connector-hubspot.md). type gets "contacts" or "companies".
 */
static int phone_holder(struct hs_cli_demo *d, const char *company, char *type, size_t tcap,
                        char *id, size_t icap)
{
    char path[160];
    snprintf(path, sizeof path, "/hubspot/crm/v4/objects/companies/%s/associations/contacts",
             company);
    json_t *v = call(d, "GET", path, NULL, false);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    long long best = -1;
    bool best_primary = false;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(v, "results"), i, r)
    {
        json_t *to = json_object_get(r, "toObjectId");
        long long cid = json_is_integer(to)  ? (long long)json_integer_value(to)
                        : json_is_string(to) ? strtoll(json_string_value(to), NULL, 10)
                                             : -1;
        bool primary = false;
        size_t k;
        json_t *t;
        json_array_foreach(json_object_get(r, "associationTypes"), k, t)
        {
            primary |= json_integer_value(json_object_get(t, "typeId")) == 2;
        }
        if (cid > 0 &&
            (best < 0 || (primary && !best_primary) || (primary == best_primary && cid < best))) {
            best = cid;
            best_primary = primary;
        }
    }
    json_decref(v);
    if (best > 0) {
        snprintf(type, tcap, "contacts");
        snprintf(id, icap, "%lld", best);
    } else {
        snprintf(type, tcap, "companies");
        snprintf(id, icap, "%s", company);
    }
    return HS_CLI_EXIT_OK;
}

/* A company's phone, set as a user would (PATCH) where hoopsync reads it (phone_holder); *name
 * gets the company's name, *holder says where it went ("its primary contact" or ""). */
static int hubspot_set_phone(struct hs_cli_demo *d, const char *company, const char *value,
                             char *name, size_t cap, const char **holder)
{
    char type[16], id[64], path[160];
    int rc = hubspot_get(d, "companies", company, "name", name, cap);
    if (rc == HS_CLI_EXIT_OK && name[0] == '\0')
        snprintf(name, cap, "%s", company);
    if (rc == HS_CLI_EXIT_OK)
        rc = phone_holder(d, company, type, sizeof type, id, sizeof id);
    if (rc != HS_CLI_EXIT_OK)
        return rc;
    *holder = strcmp(type, "contacts") == 0 ? " on its primary contact" : "";
    snprintf(path, sizeof path, "/hubspot/crm/v3/objects/%s/%s", type, id);
    json_t *body = json_pack("{s:{s:s}}", "properties", "phone", value);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL)
        return hs_cli_fail(d->cli, "out of memory");
    json_t *v = call(d, "PATCH", path, text, false);
    hs_free(text);
    if (v == NULL)
        return HS_CLI_EXIT_FAIL;
    json_decref(v);
    return HS_CLI_EXIT_OK;
}

/* A company's phone as HubSpot holds it where hoopsync reads it ("" when it has none). */
static int hubspot_get_phone(struct hs_cli_demo *d, const char *company, char *out, size_t cap)
{
    char type[16], id[64];
    int rc = phone_holder(d, company, type, sizeof type, id, sizeof id);
    return rc == HS_CLI_EXIT_OK ? hubspot_get(d, type, id, "phone", out, cap) : rc;
}

/* An accounting customer's field, set as a user would; *name gets the customer's name. */
static int acc_set(struct hs_cli_demo *d, const char *id, enum hs_cli_demo_field f,
                   const char *value, char *name, size_t cap)
{
    int rc = d->acc->customer_get(d, id, HS_CLI_DEMO_NAME, name, cap);
    if (rc == HS_CLI_EXIT_OK && name[0] == '\0')
        snprintf(name, cap, "%s", id);
    return rc == HS_CLI_EXIT_OK ? d->acc->customer_set(d, id, f, value) : rc;
}

struct payment {
    char deal[64];
    char deal_name[160];
    char invoice_id[64];
    char number[64];
    struct hs_money total;
    struct hs_money paid;
    bool done;
};

struct first_invoice {
    char crm[64];
    char acc[64];
};

static int first_invoice_cb(void *ud, const struct hs_store_link *l)
{
    struct first_invoice *f = ud;
    snprintf(f->crm, sizeof f->crm, "%s", l->crm_id);
    snprintf(f->acc, sizeof f->acc, "%s", l->acc_id);
    return 1;
}

/* The deal's name and the properties hoopsync writes back to it. */
static json_t *read_deal(struct hs_cli_demo *d, const char *id)
{
    char path[256];
    snprintf(path, sizeof path,
             "/hubspot/crm/v3/objects/deals/%s?properties=dealname,hoopsync_invoice_number,"
             "hoopsync_payment_status,hoopsync_amount_paid,hoopsync_amount_due",
             id);
    json_t *v = call(d, "GET", path, NULL, false);
    if (v == NULL)
        return NULL;
    json_t *p = json_incref(json_object_get(v, "properties"));
    json_decref(v);
    return p;
}

/* A partial payment (half) of the first invoice hoopsync created, in the accounting system. */
static int pay_part(struct hs_cli_demo *d, struct payment *p)
{
    struct first_invoice f;
    memset(&f, 0, sizeof f);
    struct hs_store *st = hs_cli_ws_store(d->ws);
    if (hs_store_link_each(st, "crm", "accounting", "invoice", first_invoice_cb, &f, &d->err) < 0)
        return hs_cli_fail(d->cli, "%s", d->err.msg);
    if (f.acc[0] == '\0') {
        say(d, "   (no invoice was created, so no payment to record)\n");
        return HS_CLI_EXIT_OK;
    }
    struct hs_cli_demo_invoice inv;
    if (d->acc->invoice_read(d, f.acc, &inv) != HS_CLI_EXIT_OK)
        return HS_CLI_EXIT_FAIL;
    snprintf(p->number, sizeof p->number, "%s", inv.number);
    p->total = inv.total;
    p->paid = p->total;
    p->paid.minor = p->total.minor / 2;
    if (p->paid.minor <= 0) {
        say(d, "   (invoice %s is too small to pay in part)\n", p->number);
        return HS_CLI_EXIT_OK;
    }
    snprintf(p->deal, sizeof p->deal, "%s", f.crm);
    snprintf(p->invoice_id, sizeof p->invoice_id, "%s", f.acc);
    json_t *deal = read_deal(d, f.crm);
    const char *dn = deal != NULL ? hs_json_str(deal, "dealname") : NULL;
    snprintf(p->deal_name, sizeof p->deal_name, "%s", dn != NULL ? dn : f.crm);
    json_decref(deal);
    if (d->acc->invoice_pay(d, f.acc, &inv, &p->paid) != HS_CLI_EXIT_OK)
        return HS_CLI_EXIT_FAIL;
    p->done = true;
    char tot[HS_MONEY_FMT_MAX + 8], paid[HS_MONEY_FMT_MAX + 8], who[32];
    money_text(&p->total, tot, sizeof tot);
    money_text(&p->paid, paid, sizeof paid);
    snprintf(who, sizeof who, "%s:", d->acc->label);
    say(d, "   %-12sa payment of %s is recorded against invoice %s (%s) of deal '%s'\n", who, paid,
        p->number, tot, p->deal_name);
    return HS_CLI_EXIT_OK;
}

#define PHONE_ONE_WAY "+1 415 555 0142"
#define PHONE_CRM     "+44 20 7946 0001"
#define PHONE_ACC     "+44 20 7946 0999"

/* The one-way accounting edit of each field the table may name (demo_int.h). */
static const struct {
    const char *name;
    const char *value;
} one_way_edits[] = {
    [HS_CLI_DEMO_NAME] = {"name", "Acme Billing Ltd"},
    [HS_CLI_DEMO_PHONE] = {"phone", "+1 212 555 0100"},
    [HS_CLI_DEMO_WEBSITE] = {"website", "https://billing.example.com"},
    [HS_CLI_DEMO_CITY] = {"billing city", "Springfield"},
};

static int step_edits(struct hs_cli_demo *d, struct payment *pay, struct two_links *pairs)
{
    say(d, "\n3. edits made meanwhile by people, through the providers' own APIs\n");
    char what[96], who[32];
    snprintf(what, sizeof what, "editing records in HubSpot and %s", d->acc->label);
    snprintf(who, sizeof who, "%s:", d->acc->label);
    progress(d, what);
    struct hs_store *st = hs_cli_ws_store(d->ws);
    if (hs_store_link_each(st, "crm", "accounting", "customer", two_links_cb, pairs, &d->err) < 0)
        return hs_cli_fail(d->cli, "%s", d->err.msg);
    json_t *edits = json_array();
    json_object_set_new(d->out, "edits", edits);
    char hub_name[160], acc_name[160];
    int rc = HS_CLI_EXIT_OK;
    if (pairs->n >= 1) {
        /* (a) a change each way on one linked pair */
        const char *holder = "";
        rc = hubspot_set_phone(d, pairs->crm[0], PHONE_ONE_WAY, hub_name, sizeof hub_name, &holder);
        if (rc == HS_CLI_EXIT_OK)
            rc = acc_set(d, pairs->acc[0], d->acc->one_way, one_way_edits[d->acc->one_way].value,
                         acc_name, sizeof acc_name);
        if (rc != HS_CLI_EXIT_OK)
            return rc;
        say(d, "   %-12scompany '%s' (%s) gets the phone " PHONE_ONE_WAY "%s\n",
            "HubSpot:", hub_name, pairs->crm[0], holder);
        say(d, "   %-12sthe same customer, '%s' (%s), gets the %s %s\n", who, acc_name,
            pairs->acc[0], one_way_edits[d->acc->one_way].name,
            one_way_edits[d->acc->one_way].value);
        json_array_append_new(edits, json_pack("{s:s,s:s,s:s}", "crm_company", pairs->crm[0],
                                               "phone", PHONE_ONE_WAY, "kind", "one_way"));
        json_array_append_new(edits,
                              json_pack("{s:s,s:s,s:s,s:s}", "accounting_customer", pairs->acc[0],
                                        "field", one_way_edits[d->acc->one_way].name, "value",
                                        one_way_edits[d->acc->one_way].value, "kind", "one_way"));
    }
    if (pairs->n >= 2) {
        /* (b) the same field on both sides: a conflict for the authority rule */
        const char *holder = "";
        rc = hubspot_set_phone(d, pairs->crm[1], PHONE_CRM, hub_name, sizeof hub_name, &holder);
        if (rc == HS_CLI_EXIT_OK)
            rc = acc_set(d, pairs->acc[1], HS_CLI_DEMO_PHONE, PHONE_ACC, acc_name, sizeof acc_name);
        if (rc != HS_CLI_EXIT_OK)
            return rc;
        say(d, "   %-12s'%s' gets the phone " PHONE_CRM " in HubSpot%s and " PHONE_ACC " in %s\n",
            "both:", hub_name, holder, d->acc->label);
        json_array_append_new(edits, json_pack("{s:s,s:s,s:s,s:s,s:s}", "crm_company",
                                               pairs->crm[1], "accounting_customer", pairs->acc[1],
                                               "crm_phone", PHONE_CRM, "accounting_phone",
                                               PHONE_ACC, "kind", "conflict"));
    }
    /* (c) a partial payment in the accounting system */
    rc = pay_part(d, pay);
    progress(d, NULL);
    if (rc == HS_CLI_EXIT_OK && pay->done) {
        char amt[HS_MONEY_FMT_MAX];
        if (hs_money_format(&pay->paid, amt, sizeof amt) >= 0)
            json_array_append_new(edits, json_pack("{s:s,s:s,s:s,s:s,s:s}", "kind", "payment",
                                                   "invoice", pay->invoice_id, "deal", pay->deal,
                                                   "currency", pay->paid.currency, "amount", amt));
    }
    return rc;
}

/* ---- step 4: sync again -------------------------------------------------------------------------
 */

/* The conflict's phone as each side holds it after the sync: one number, the accounting's. */
static json_t *read_conflict(struct hs_cli_demo *d, const struct two_links *pairs)
{
    char crm[64], acc[64];
    if (hubspot_get_phone(d, pairs->crm[1], crm, sizeof crm) != HS_CLI_EXIT_OK ||
        d->acc->customer_get(d, pairs->acc[1], HS_CLI_DEMO_PHONE, acc, sizeof acc) !=
            HS_CLI_EXIT_OK)
        return NULL;
    say(d, "   the phone of the conflict now reads %s in HubSpot and %s in %s\n", crm, acc,
        d->acc->label);
    return json_pack("{s:s,s:s}", "crm_phone", crm, "accounting_phone", acc);
}

static int step_resync(struct hs_cli_demo *d, const struct payment *pay,
                       const struct two_links *pairs)
{
    say(d, "\n4. sync again: the edits move, the conflict is settled, the payment comes back\n");
    struct hs_engine_report r;
    hs_engine_report_init(&r);
    int64_t c[HS_CLI_DEMO_N_PROVIDERS] = {0}, ms = 0;
    int rc = run_pass(d, &r, c, &ms);
    if (rc != HS_CLI_EXIT_OK) {
        hs_engine_report_release(&r);
        return rc;
    }
    struct hs_cli_demo_tally t;
    memset(&t, 0, sizeof t);
    tally_add(&t, &r);
    tally_merge(&d->all, &t);
    d->again = t;
    /* deals that closed meanwhile were invoiced by this pass: their totals count too */
    char first[64] = "", last[64] = "";
    if (add_invoiced(d, &r, first, last, sizeof first) != HS_CLI_EXIT_OK) {
        hs_engine_report_release(&r);
        return HS_CLI_EXIT_FAIL;
    }
    size_t shown = 0;
    for (size_t i = 0; i < r.n_actions; i++) {
        const struct hs_engine_action *a = &r.actions[i];
        if (a->kind == HS_ENGINE_UPDATE && a->object != HS_KIND_INVOICE) {
            say(d, "   updated %s %s %s from %s: %s [%s]\n",
                side_label(d, a->source_side == HS_SIDE_CRM ? HS_SIDE_ACCOUNTING : HS_SIDE_CRM),
                hs_kind_name(a->object), a->target_id != NULL ? a->target_id : "?",
                side_label(d, a->source_side), a->reason, a->fields != NULL ? a->fields : "");
            shown++;
        } else if (a->kind == HS_ENGINE_SETTLED || a->kind == HS_ENGINE_CONFLICT ||
                   a->kind == HS_ENGINE_ERROR || a->kind == HS_ENGINE_CREATE) {
            say(d, "   %s %s %s%s%s: %s%s%s%s\n", hs_engine_action_name(a->kind),
                hs_kind_name(a->object), a->source_id, a->target_id != NULL ? " <-> " : "",
                a->target_id != NULL ? a->target_id : "", a->reason, a->fields ? " [" : "",
                a->fields ? a->fields : "", a->fields ? "]" : "");
            shown++;
        }
    }
    json_t *deal = NULL;
    if (pay->done) {
        for (size_t i = 0; i < r.n_actions; i++) {
            const struct hs_engine_action *a = &r.actions[i];
            if (a->kind == HS_ENGINE_UPDATE && a->object == HS_KIND_INVOICE &&
                hs_str_eq(a->target_id, pay->deal)) {
                say(d, "   deal '%s': %s\n", pay->deal_name, a->reason);
                shown++;
            }
        }
        deal = read_deal(d, pay->deal);
        if (deal == NULL) {
            hs_engine_report_release(&r);
            return HS_CLI_EXIT_FAIL;
        }
        const char *st = hs_json_str(deal, "hoopsync_payment_status");
        const char *paid = hs_json_str(deal, "hoopsync_amount_paid");
        const char *due = hs_json_str(deal, "hoopsync_amount_due");
        say(d, "   HubSpot now shows deal '%s' as %s (paid %s, due %s)\n", pay->deal_name,
            st != NULL ? st : "(no status)", paid != NULL ? paid : "-", due != NULL ? due : "-");
    }
    if (shown == 0)
        say(d, "   nothing moved\n");
    json_t *conflict = NULL;
    if (pairs->n >= 2 && (conflict = read_conflict(d, pairs)) == NULL) {
        json_decref(deal);
        hs_engine_report_release(&r);
        return HS_CLI_EXIT_FAIL;
    }
    say(d, "   (%lld ms; API calls: HubSpot %lld, %s %lld)\n", (long long)ms, (long long)c[0],
        d->acc->label, (long long)acc_calls(d, c));
    json_t *j = tally_json(&t);
    json_object_set_new(j, "actions", actions_json(&r, is_not_link));
    json_object_set_new(j, "deal", deal != NULL ? deal : json_null());
    json_object_set_new(j, "conflict", conflict != NULL ? conflict : json_null());
    json_object_set_new(j, "api_calls", calls_json(c));
    json_object_set_new(d->out, "resync", j);
    hs_engine_report_release(&r);
    return HS_CLI_EXIT_OK;
}

/* ---- step 5: the report -------------------------------------------------------------------------
 */

/* How this run treats the accounting provider's rate limits, said plainly. */
static void limits_text(const struct hs_cli_demo_acc *acc, char *buf, size_t cap)
{
    if (acc->time_scale <= 1) {
        snprintf(buf, cap, "%s: rate limits as published (not compressed)", acc->label);
        return;
    }
    snprintf(buf, cap,
             "%s: %ld calls a minute and %ld a day, compressed %ux (the sandbox runs these "
             "windows %ux faster and the connection's rate_limits are the same compressed "
             "windows)",
             acc->label, acc->windows[0].requests, acc->windows[1].requests,
             (unsigned)acc->time_scale, (unsigned)acc->time_scale);
}

static json_t *limits_json(const struct hs_cli_demo_acc *acc)
{
    char text[256];
    limits_text(acc, text, sizeof text);
    return json_pack("{s:I,s:b,s:s}", "time_scale", (json_int_t)acc->time_scale, "compressed",
                     acc->time_scale > 1, "said", text);
}

static void step_report(struct hs_cli_demo *d, const struct payment *pay, int64_t wall_ms)
{
    const struct hs_cli_demo_tally *t = &d->all;
    char sums[512];
    totals_text(&d->invoiced, sums, sizeof sums);
    say(d, "\n5. report\n");
    say(d, "   linked      %zu customers, %zu products\n", t->linked, t->linked_items);
    say(d, "   created     %zu customers and %zu %s in %s, %zu customers in HubSpot\n",
        t->created_acc, t->items, t->items == 1 ? "item" : "items", d->acc->label, t->created_crm);
    say(d, "   updated     %zu in %s, %zu in HubSpot\n", t->updated_acc, d->acc->label,
        t->updated_crm);
    say(d, "   invoiced    %zu deals (%s)\n", t->invoiced, t->invoiced > 0 ? sums : "nothing");
    if (pay->done) {
        char paid[HS_MONEY_FMT_MAX + 8], tot[HS_MONEY_FMT_MAX + 8];
        money_text(&pay->paid, paid, sizeof paid);
        money_text(&pay->total, tot, sizeof tot);
        say(d, "   paid        1 invoice in part: %s of %s (invoice %s)\n", paid, tot, pay->number);
    } else {
        say(d, "   paid        nothing\n");
    }
    say(d,
        "   settled     %zu conflicts by the authority rules (%zu when linking, %zu after the "
        "edits), %zu held for a person\n",
        t->settled, d->first.settled, d->again.settled, t->conflicts);
    say(d, "   reviews     %zu uncertain matches\n", t->reviews);
    say(d, "   errors      %zu open after the last sync%s\n", d->again.errors,
        d->again.errors > 0 ? " (listed above; `hoopsync errors list` in a workspace)" : "");
    say(d, "   API calls   HubSpot %lld, %s %lld (hoopsync's own, from /_sandbox/stats)\n",
        (long long)d->calls[0], d->acc->label, (long long)acc_calls(d, d->calls));
    char lim[256];
    limits_text(d->acc, lim, sizeof lim);
    say(d, "   limits      %s\n", lim);
    say(d, "   wall time   %lld.%01lld s\n", (long long)(wall_ms / 1000),
        (long long)(wall_ms % 1000 / 100));
    json_t *j = tally_json(t);
    json_object_set_new(j, "invoice_totals", totals_json(&d->invoiced));
    json_object_set_new(j, "api_calls", calls_json(d->calls));
    json_object_set_new(j, "rate_limits", limits_json(d->acc));
    json_object_set_new(j, "wall_ms", json_integer((json_int_t)wall_ms));
    json_object_set_new(j, "errors", json_integer((json_int_t)d->again.errors)); /* open ones */
    if (pay->done) {
        char paid[HS_MONEY_FMT_MAX], tot[HS_MONEY_FMT_MAX];
        if (hs_money_format(&pay->paid, paid, sizeof paid) >= 0 &&
            hs_money_format(&pay->total, tot, sizeof tot) >= 0)
            json_object_set_new(j, "paid",
                                json_pack("{s:s,s:s,s:s,s:s}", "invoice", pay->invoice_id,
                                          "currency", pay->paid.currency, "amount", paid, "total",
                                          tot));
    }
    json_object_set_new(d->out, "report", j);
}

/* ---- the whole run ------------------------------------------------------------------------------
 */

static int sandbox_header(struct hs_cli_demo *d)
{
    json_t *tenants = call(d, "GET", "/_sandbox/tenants", NULL, false);
    if (tenants == NULL)
        return HS_CLI_EXIT_FAIL;
    d->portal = (long long)json_integer_value(
        json_object_get(json_object_get(tenants, "hubspot"), "portalId"));
    const char *tenant = hs_json_str(json_object_get(tenants, d->acc->name), d->acc->tenant_key);
    snprintf(d->tenant, sizeof d->tenant, "%s", tenant != NULL ? tenant : "");
    json_decref(tenants);
    json_t *stages = json_object();
    long companies = hubspot_count(d, "companies", NULL, NULL);
    long deals = stages != NULL ? hubspot_count(d, "deals", "dealstage", stages) : -1;
    long products = hubspot_count(d, "products", NULL, NULL);
    long customers = -1, items = -1;
    if (companies < 0 || deals < 0 || products < 0 ||
        d->acc->count(d, HS_CLI_DEMO_CUSTOMERS, &customers, NULL, 0) != HS_CLI_EXIT_OK ||
        d->acc->count(d, HS_CLI_DEMO_ITEMS, &items, d->default_item, sizeof d->default_item) !=
            HS_CLI_EXIT_OK) {
        json_decref(stages);
        return HS_CLI_EXIT_FAIL;
    }
    long won = (long)json_integer_value(json_object_get(stages, "closedwon"));
    say(d,
        "sandbox:   HubSpot portal %lld: %ld companies, %ld products, %ld deals (%ld closed "
        "won)\n",
        d->portal, companies, products, deals, won);
    say(d, "           %s %s %s: %ld customers, %ld items\n", d->acc->label, d->acc->tenant_word,
        d->tenant, customers, items);
    char lim[256];
    limits_text(d->acc, lim, sizeof lim);
    say(d, "limits:    %s\n", lim);
    json_t *acc = json_pack("{s:s,s:s,s:I,s:I}", "provider", d->acc->name, "tenant", d->tenant,
                            "customers", (json_int_t)customers, "items", (json_int_t)items);
    json_object_set_new(d->out, "sandbox",
                        json_pack("{s:s,s:I,s:s,s:{s:I,s:I,s:I,s:I,s:o},s:O,s:o,s:o}", "base",
                                  d->base, "portal", (json_int_t)d->portal, "tenant", d->tenant,
                                  "hubspot", "companies", (json_int_t)companies, "products",
                                  (json_int_t)products, "deals", (json_int_t)deals, "closed_won",
                                  (json_int_t)won, "deals_by_stage", stages, d->acc->name, acc,
                                  "accounting", acc, "rate_limits", limits_json(d->acc)));
    return HS_CLI_EXIT_OK;
}

static int run(struct hs_cli_demo *d, bool keep_dir)
{
    int64_t t0 = now_ms();
    int rc = sandbox_header(d);
    if (rc != HS_CLI_EXIT_OK)
        return rc;
    rc = write_workspace(d);
    if (rc != HS_CLI_EXIT_OK)
        return rc;
    say(d, "workspace: %s (hoopsync.yaml, hoopsync.key, hoopsync.db)%s\n", d->dir,
        keep_dir ? "" : "; removed at the end (--keep-dir keeps it)");
    json_object_set_new(d->out, "workspace", json_string(d->dir));

    /* connect both sides by OAuth, as `hoopsync connect` does */
    static const char *const sides[] = {"crm", "accounting"};
    if (step_begin(d) != HS_OK)
        return HS_CLI_EXIT_FAIL;
    for (size_t i = 0; i < 2; i++) {
        char said[512], what[96];
        snprintf(what, sizeof what, "connecting %s (OAuth consent)",
                 i == 0 ? "HubSpot" : d->acc->label);
        progress(d, what);
        rc = connect_side(d, sides[i], said, sizeof said);
        progress(d, NULL);
        if (rc != HS_CLI_EXIT_OK)
            return rc;
        said[strcspn(said, ";")] = '\0'; /* "connected 'crm' (hubspot, tenant 21430001)" */
        say(d, "%s%s by OAuth consent; tokens encrypted in hoopsync.db\n",
            i == 0 ? "connect:   " : "           ", said);
    }
    if (step_end(d, NULL) != HS_OK)
        return HS_CLI_EXIT_FAIL;

    /* the workspace of `hoopsync sync`: store, connectors, engine */
    rc = hs_cli_ws_open(&d->wcli, true, &d->ws);
    if (rc != HS_CLI_EXIT_OK || d->ws == NULL)
        return rc != HS_CLI_EXIT_OK ? rc : HS_CLI_EXIT_FAIL;
    rc = step_plan(d);
    if (rc == HS_CLI_EXIT_OK)
        rc = step_sync(d);
    struct payment pay;
    memset(&pay, 0, sizeof pay);
    struct two_links pairs;
    memset(&pairs, 0, sizeof pairs);
    if (rc == HS_CLI_EXIT_OK)
        rc = step_edits(d, &pay, &pairs);
    if (rc == HS_CLI_EXIT_OK)
        rc = step_resync(d, &pay, &pairs);
    if (rc == HS_CLI_EXIT_OK)
        step_report(d, &pay, now_ms() - t0);
    return rc;
}

/* The row of --accounting NAME, or NULL. */
static const struct hs_cli_demo_acc *acc_find(const char *name)
{
    for (size_t i = 0; i < HS_CLI_DEMO_N_ACC; i++)
        if (strcmp(hs_cli_demo_accs[i]->name, name) == 0)
            return hs_cli_demo_accs[i];
    return NULL;
}

static int parse_args(struct hs_cli *cli, int argc, char **argv, struct hs_sbx_options *opt,
                      const struct hs_cli_demo_acc **acc, bool *keep, bool *keep_dir, bool *json)
{
    static const struct hs_cli_opt opts[] = {
        {"seed", 0, true, OPT_SEED},
        {"companies", 0, true, OPT_COMPANIES},
        {"deals", 0, true, OPT_DEALS},
        {"keep", 0, false, OPT_KEEP},
        {"keep-dir", 0, false, OPT_KEEP_DIR},
        {"json", 0, false, OPT_JSON},
        {"accounting", 0, true, OPT_ACCOUNTING},
        {NULL, 0, false, 0},
    };
    struct hs_cli_args a;
    hs_cli_args_init(&a, argc, argv, usage);
    for (;;) {
        int id = hs_cli_next_opt(cli, &a, opts);
        if (id == 0)
            break;
        if (id < 0)
            return HS_CLI_EXIT_USAGE;
        if (id == HS_CLI_OPT_HELP)
            return -1;
        if (id == OPT_KEEP || id == OPT_KEEP_DIR || id == OPT_JSON) {
            *(id == OPT_KEEP ? keep : id == OPT_KEEP_DIR ? keep_dir : json) = true;
            continue;
        }
        if (id == OPT_ACCOUNTING) {
            if ((*acc = acc_find(a.arg)) == NULL)
                return hs_cli_usage_error(cli, usage,
                                          "option '--accounting' needs one of quickbooks, xero, "
                                          "zohobooks, not '%s'",
                                          a.arg);
            continue;
        }
        int64_t v = 0;
        if (hs_str_to_i64(a.arg, strlen(a.arg), &v) != HS_OK || v < 0 ||
            (id != OPT_SEED && (v < 1 || v > MAX_SIZE)))
            return hs_cli_usage_error(cli, usage, "option '--%s' needs a whole number%s, not '%s'",
                                      opts[id - 1].name, id == OPT_SEED ? "" : " from 1 to 2000",
                                      a.arg);
        if (id == OPT_SEED)
            opt->seed = (uint64_t)v;
        else if (id == OPT_COMPANIES)
            opt->sizes.companies = (unsigned)v;
        else
            opt->sizes.deals = (unsigned)v;
    }
    if (a.ind < argc)
        return hs_cli_usage_error(cli, usage, "unexpected argument '%s'", argv[a.ind]);
    return HS_CLI_EXIT_OK;
}

int hs_cli_cmd_demo(int argc, char **argv, struct hs_cli *cli)
{
    struct hs_sbx_options opt;
    memset(&opt, 0, sizeof opt);
    opt.seed = 7;
    opt.seeded = true;
    const struct hs_cli_demo_acc *acc = hs_cli_demo_accs[0]; /* quickbooks */
    bool keep = false, keep_dir = false, json = false;
    int prc = parse_args(cli, argc, argv, &opt, &acc, &keep, &keep_dir, &json);
    if (prc < 0)
        return hs_cli_help(cli, usage);
    if (prc != HS_CLI_EXIT_OK)
        return prc;
    keep_dir = keep_dir || keep;
    /* the provider's windows, compressed when its limits would make the demo wait (never off) */
    opt.time_scale = acc->time_scale;

    if (sodium_init() < 0)
        return hs_cli_fail(cli, "cannot start the demo: libsodium failed to initialise");
    unsigned char rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    char token[40];
    sodium_bin2hex(token, sizeof token, rnd, sizeof rnd);
    opt.static_token = token; /* the demo's own edits, as a user of each provider */
    /* the OAuth client secret of the demo's app (the sandbox accepts any client) */
    if (setenv(SECRET_ENV, "demo-secret", 0) != 0)
        return hs_cli_fail(cli, "cannot start the demo: cannot set $" SECRET_ENV);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct hs_cli_demo d;
    memset(&d, 0, sizeof d);
    d.cli = cli;
    d.acc = acc;
    d.wcli = *cli;
    d.wcli.config = NULL;
    d.wcli.config_explicit = true;
    d.wcli.config_path = d.yaml;
    d.json = json;
    d.tty = !json && isatty(fileno(cli->err)) != 0;
    d.out = json_object();
    snprintf(d.auth, sizeof d.auth, "Bearer %s", token);
    struct hs_sbx *sbx = NULL;
    struct hs_http_server *srv = NULL;
    int ret = HS_CLI_EXIT_FAIL;
    if (d.out == NULL) {
        hs_cli_fail(cli, "out of memory");
        goto done;
    }
    progress(&d, "starting the sandbox");
    if (hs_sbx_open(&opt, &sbx, &d.err) != HS_OK) {
        hs_cli_fail(cli, "cannot start the sandbox: %s", d.err.msg);
        goto done;
    }
    struct hs_http_server_config cfg = {.bind_addr = "127.0.0.1", .port = 0, .threads = 4};
    if (hs_http_server_open(&cfg, hs_sbx_handle, sbx, &srv, &d.err) != HS_OK) {
        hs_cli_fail(cli, "cannot start the sandbox: %s", d.err.msg);
        goto done;
    }
    snprintf(d.base, sizeof d.base, "http://127.0.0.1:%u", (unsigned)hs_http_server_port(srv));
    if (hs_http_curl_open(NULL, &d.http, &d.err) != HS_OK) {
        hs_cli_fail(cli, "cannot open the HTTP client: %s", d.err.msg);
        goto done;
    }
    progress(&d, NULL);
    say(&d, "hoopsync demo: HubSpot x %s, sandbox on %s (seed %llu)\n", acc->label, d.base,
        (unsigned long long)opt.seed);
    ret = run(&d, keep_dir);
    hs_cli_ws_close(d.ws);
    d.ws = NULL;
    if (ret == HS_CLI_EXIT_OK && json) {
        if (json_dumpf(d.out, cli->out, JSON_COMPACT) != 0) {
            ret = hs_cli_fail(cli, "cannot print the result: out of memory");
            goto done;
        }
        fputc('\n', cli->out);
    }
    if (keep_dir && d.dir[0] != '\0' && !json)
        fprintf(cli->out, "\nworkspace kept: %s\n  try: %s=demo-secret hoopsync -c %s status\n",
                d.dir, SECRET_ENV, d.yaml);
    if (ret == HS_CLI_EXIT_OK && keep) {
        fprintf(cli->out,
                "\nThe sandbox keeps running; try:\n  curl -H 'Authorization: Bearer %s' "
                "'%s/hubspot/crm/v3/objects/companies?limit=5'\nCtrl-C stops it.\n",
                token, d.base);
        fflush(cli->out);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        while (!g_stop)
            pause();
    }
done:
    progress(&d, NULL);
    hs_cli_ws_close(d.ws);
    hs_config_free(d.wcli.config);
    if (d.http.ops != NULL)
        hs_http_transport_close(&d.http);
    if (sbx != NULL)
        hs_sbx_stop(sbx);
    hs_http_server_close(srv);
    hs_sbx_close(sbx);
    if (!keep_dir)
        remove_workspace(&d);
    json_decref(d.out);
    curl_global_cleanup();
    return ret;
}
