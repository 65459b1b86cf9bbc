/*
 * cli/cmd_demo.c - `hoopsync demo`: a tour of the sandbox with seeded data, no set-up needed.
 *
 * Design:     starts hoopsync-sandbox in this process (real HTTP server on a free loopback
 *             port, seeded world, rate limits on, a random static token), then talks to it
 *             only through the providers' own APIs with the libcurl transport, exactly as a
 *             connector will: the tenants, what each side holds (HubSpot companies, contacts
 *             and deals by stage; QuickBooks customers and items), the customers that exist
 *             on both sides under other spellings (what matching must link), and the API
 *             calls that cost, from /_sandbox/stats. --keep leaves the sandbox running for
 *             curl until Ctrl-C. The sync engine (issue 3) extends this demo with plan, sync
 *             and a report of what was linked, created, invoiced and paid.
 *             This is the one command that uses sandbox/ directly: the demo's point is to
 *             run without any account.
 * Ownership:  everything is created and freed inside hs_cli_cmd_demo.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "cli/cli.h"
#include "net/http.h"
#include "sandbox/sbx.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

static const char usage[] =
    "usage: hoopsync demo [--seed N] [--companies N] [--deals N] [--keep]\n"
    "\n"
    "Start the provider sandbox with realistic seeded data and show, through the providers'\n"
    "own APIs, what a sync starts from: the HubSpot portal and QuickBooks realm, companies,\n"
    "contacts and deals by stage, customers and items, and the customers that exist on both\n"
    "sides under other spellings. Needs no account and no configuration.\n"
    "\n"
    "options:\n"
    "  --seed N       seed of the generated data (default 7)\n"
    "  --companies N  CRM companies to generate (default 40)\n"
    "  --deals N      deals to generate (default 30)\n"
    "  --keep         keep the sandbox running after the tour (Ctrl-C stops it)\n"
    "  -h, --help     show this help\n";

enum { OPT_SEED = 1, OPT_COMPANIES, OPT_DEALS, OPT_KEEP };

/* GLOBAL: set by the SIGINT/SIGTERM handler while --keep waits */
static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

struct demo {
    struct hs_cli *cli;
    struct hs_http_transport http;
    char base[64];
    char auth[96];
    struct hs_error err;
};

/* GET/POST base+path; returns the parsed JSON body of a 2xx answer or NULL (error printed). */
static json_t *call(struct demo *d, const char *method, const char *path, const char *body)
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
    if (rc == HS_OK && body != NULL) {
        rc = hs_buf_puts(&req.body, body);
        if (rc == HS_OK)
            rc = hs_http_headers_add(&req.headers, "Content-Type", "application/json");
    }
    if (rc == HS_OK)
        rc = hs_http_send(&d->http, &req, &resp, &d->err);
    if (rc != HS_OK)
        hs_cli_fail(d->cli, "%s %s: %s", method, path, d->err.msg[0] ? d->err.msg : "failed");
    else if (resp.status < 200 || resp.status > 299)
        hs_cli_fail(d->cli, "%s %s answered %d: %.300s", method, path, resp.status,
                    resp.body.data ? resp.body.data : "");
    else if (hs_http_response_parse_json(&resp, &out, &d->err) != HS_OK)
        hs_cli_fail(d->cli, "%s %s: %s", method, path, d->err.msg);
    hs_free(url);
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    return out;
}

/* Pages through a HubSpot object list; counts records and, when prop is set, tallies it. */
static long hubspot_count(struct demo *d, const char *type, const char *prop, json_t *tally)
{
    long n = 0;
    char after[64] = "";
    for (;;) {
        char path[256];
        snprintf(path, sizeof path, "/hubspot/crm/v3/objects/%s?limit=100%s%s%s%s", type,
                 prop ? "&properties=" : "", prop ? prop : "", after[0] ? "&after=" : "", after);
        json_t *page = call(d, "GET", path, NULL);
        if (page == NULL)
            return -1;
        json_t *results = json_object_get(page, "results");
        size_t i;
        json_t *rec;
        json_array_foreach(results, i, rec)
        {
            n++;
            if (prop == NULL)
                continue;
            const char *v = hs_json_str(json_object_get(rec, "properties"), prop);
            if (v != NULL) {
                json_int_t c = json_integer_value(json_object_get(tally, v));
                json_object_set_new(tally, v, json_integer(c + 1));
            }
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

static long qbo_count(struct demo *d, const char *realm, const char *entity)
{
    char q[96];
    snprintf(q, sizeof q, "select count(*) from %s", entity);
    char *enc = hs_str_url_encode(q);
    if (enc == NULL)
        return -1;
    char path[256];
    snprintf(path, sizeof path, "/quickbooks/v3/company/%s/query?query=%s&minorversion=75", realm,
             enc);
    hs_free(enc);
    json_t *v = call(d, "GET", path, NULL);
    if (v == NULL)
        return -1;
    long n = (long)json_integer_value(
        json_object_get(json_object_get(v, "QueryResponse"), "totalCount"));
    json_decref(v);
    return n;
}

/* Terminal columns of a UTF-8 string: one per code point, two for East Asian wide ones. */
static size_t display_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        unsigned cp = *p;
        size_t n = cp < 0x80 ? 1 : cp < 0xE0 ? 2 : cp < 0xF0 ? 3 : 4;
        if (n == 3 && p[1] != '\0' && p[2] != '\0')
            cp = ((cp & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
        bool wide = n == 3 && ((cp >= 0x2E80 && cp <= 0xA4CF) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
                               (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFF00 && cp <= 0xFF60));
        w += wide ? 2 : 1;
        for (size_t i = 0; i < n && *p != '\0'; i++)
            p++;
    }
    return w;
}

static int tour(struct demo *d, uint64_t seed, const struct hs_sbx_sizes *sizes)
{
    FILE *o = d->cli->out;
    json_t *tenants = call(d, "GET", "/_sandbox/tenants", NULL);
    if (tenants == NULL)
        return HS_CLI_EXIT_FAIL;
    json_int_t portal =
        json_integer_value(json_object_get(json_object_get(tenants, "hubspot"), "portalId"));
    char realm[64];
    snprintf(realm, sizeof realm, "%s",
             hs_json_str(json_object_get(tenants, "quickbooks"), "realmId")
                 ? hs_json_str(json_object_get(tenants, "quickbooks"), "realmId")
                 : "");
    json_decref(tenants);
    fprintf(o, "tenants:    HubSpot portal %lld, QuickBooks realm %s\n\n", (long long)portal,
            realm);

    json_t *stages = json_object();
    long companies = hubspot_count(d, "companies", NULL, NULL);
    long contacts = hubspot_count(d, "contacts", NULL, NULL);
    long deals = stages ? hubspot_count(d, "deals", "dealstage", stages) : -1;
    long customers = qbo_count(d, realm, "Customer");
    long items = qbo_count(d, realm, "Item");
    if (companies < 0 || contacts < 0 || deals < 0 || customers < 0 || items < 0) {
        json_decref(stages);
        return HS_CLI_EXIT_FAIL;
    }
    fprintf(o, "HubSpot:    %ld companies, %ld contacts, %ld deals\n", companies, contacts, deals);
    fprintf(o, "            deals by stage:");
    for (size_t i = 0; i < hs_sbx_n_deal_stages; i++)
        fprintf(o, " %s %lld%s", hs_sbx_deal_stages[i],
                (long long)json_integer_value(json_object_get(stages, hs_sbx_deal_stages[i])),
                i + 1 < hs_sbx_n_deal_stages ? "," : "\n");
    json_decref(stages);
    fprintf(o, "QuickBooks: %ld customers, %ld items\n\n", customers, items);

    struct hs_sbx_world w;
    if (hs_sbx_world_generate(seed, sizes, &w) == HS_OK) {
        size_t both = 0;
        size_t shown = 0;
        for (size_t i = 0; i < w.n_companies; i++)
            both += w.companies[i].in_crm && w.companies[i].in_accounting;
        fprintf(o,
                "%zu customers exist on both sides; matching must link them, not duplicate "
                "them. Some spellings:\n",
                both);
        for (size_t i = 0; i < w.n_companies && shown < 8; i++) {
            const struct hs_sbx_company *c = &w.companies[i];
            if (!c->in_crm || !c->in_accounting || strcmp(c->name, c->acct_name) == 0)
                continue;
            size_t width = display_width(c->name);
            fprintf(o, "  HubSpot %s%*s QuickBooks %s\n", c->name,
                    width < 34 ? (int)(34 - width) : 0, "", c->acct_name);
            shown++;
        }
        hs_sbx_world_release(&w);
    }

    json_t *stats = call(d, "GET", "/_sandbox/stats", NULL);
    if (stats != NULL) {
        json_t *p = json_object_get(stats, "providers");
        fprintf(
            o, "\nAPI calls this tour used: HubSpot %lld, QuickBooks %lld\n",
            (long long)json_integer_value(json_object_get(json_object_get(p, "hubspot"), "total")),
            (long long)json_integer_value(
                json_object_get(json_object_get(p, "quickbooks"), "total")));
        json_decref(stats);
    }
    fprintf(o, "\nNot built yet: the sync engine (plan, sync, invoices from closed deals, "
               "payments back to deals).\nWhat runs today: the sandbox above, `hoopsync init`, "
               "`hoopsync config check`.\n");
    return HS_CLI_EXIT_OK;
}

int hs_cli_cmd_demo(int argc, char **argv, struct hs_cli *cli)
{
    static const struct hs_cli_opt opts[] = {
        {"seed", 0, true, OPT_SEED},   {"companies", 0, true, OPT_COMPANIES},
        {"deals", 0, true, OPT_DEALS}, {"keep", 0, false, OPT_KEEP},
        {NULL, 0, false, 0},
    };
    struct hs_cli_args a;
    hs_cli_args_init(&a, argc, argv, usage);
    struct hs_sbx_options opt;
    memset(&opt, 0, sizeof opt);
    opt.seed = 7;
    opt.seeded = true;
    opt.time_scale = 1;
    bool keep = false;
    for (;;) {
        int id = hs_cli_next_opt(cli, &a, opts);
        if (id == 0)
            break;
        if (id < 0)
            return HS_CLI_EXIT_USAGE;
        if (id == HS_CLI_OPT_HELP)
            return hs_cli_help(cli, usage);
        if (id == OPT_KEEP) {
            keep = true;
            continue;
        }
        int64_t v = 0;
        if (hs_str_to_i64(a.arg, strlen(a.arg), &v) != HS_OK || v < 0 ||
            (id != OPT_SEED && (v < 1 || v > 100000)))
            return hs_cli_usage_error(cli, usage, "option '--%s' needs a whole number%s, not '%s'",
                                      opts[id - 1].name, id == OPT_SEED ? "" : " from 1 to 100000",
                                      a.arg);
        if (id == OPT_SEED)
            opt.seed = (uint64_t)v;
        else if (id == OPT_COMPANIES)
            opt.sizes.companies = (unsigned)v;
        else
            opt.sizes.deals = (unsigned)v;
    }
    if (a.ind < argc)
        return hs_cli_usage_error(cli, usage, "unexpected argument '%s'", argv[a.ind]);

    if (sodium_init() < 0)
        return hs_cli_fail(cli, "cannot start the demo: libsodium failed to initialise");
    unsigned char rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    char token[40];
    sodium_bin2hex(token, sizeof token, rnd, sizeof rnd);
    opt.static_token = token;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct demo d;
    memset(&d, 0, sizeof d);
    d.cli = cli;
    snprintf(d.auth, sizeof d.auth, "Bearer %s", token);
    struct hs_sbx *sbx = NULL;
    struct hs_http_server *srv = NULL;
    int ret = HS_CLI_EXIT_FAIL;
    if (hs_sbx_open(&opt, &sbx, &d.err) != HS_OK) {
        hs_cli_fail(cli, "cannot start the sandbox: %s", d.err.msg);
        goto done;
    }
    struct hs_http_server_config cfg = {.bind_addr = "127.0.0.1", .port = 0, .threads = 2};
    if (hs_http_server_open(&cfg, hs_sbx_handle, sbx, &srv, &d.err) != HS_OK) {
        hs_cli_fail(cli, "cannot start the sandbox: %s", d.err.msg);
        goto done;
    }
    snprintf(d.base, sizeof d.base, "http://127.0.0.1:%u", (unsigned)hs_http_server_port(srv));
    if (hs_http_curl_open(NULL, &d.http, &d.err) != HS_OK) {
        hs_cli_fail(cli, "cannot open the HTTP client: %s", d.err.msg);
        goto done;
    }
    fprintf(cli->out, "hoopsync demo: sandbox on %s (seed %llu, static token %s)\n", d.base,
            (unsigned long long)opt.seed, token);
    ret = tour(&d, opt.seed, &opt.sizes);
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
    hs_http_transport_close(&d.http);
    if (sbx != NULL)
        hs_sbx_stop(sbx);
    hs_http_server_close(srv);
    hs_sbx_close(sbx);
    curl_global_cleanup();
    return ret;
}
