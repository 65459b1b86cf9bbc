/*
 * bench/backfill.c - a first sync (backfill) of 10,000 companies and 10,000 closed-won deals
 *                    through hoopsync-sandbox, against the batch minimum and the rate limits.
 *
 * Design:     the sandbox runs as a child process (bin/hoopsync-sandbox --port 0 --token,
 *             with --no-rate-limits or --time-scale N), seeded through POST /_sandbox/seed:
 *             N companies with one contact each, an empty QuickBooks side (customers 0,
 *             overlap_pct 0), 20 products, N deals all at "closedwon" with `lines` line items
 *             each. The engine runs in this process over real HTTP (libcurl, keep-alive), with
 *             a temporary SQLite store, the HubSpot and QuickBooks connectors (static token)
 *             and invoicing on: customers both ways, products -> items, closed-won deals ->
 *             invoices. Passes run until every company and deal is linked (at most 5).
 *             Measured: wall time of the passes, records per second, calls per provider and
 *             endpoint (a counting transport between the connectors and libcurl, cross-checked
 *             with the sandbox's /_sandbox/stats), failed requests (any answer >= 400,
 *             429 included, or no answer), engine errors, and peak RSS of this process
 *             (getrusage; the sandbox is another process). Each mode runs in a forked child
 *             so that its peak RSS is its own.
 *             Minimum: the calls the providers' batch sizes allow for the engine's three steps
 *             (enumerate changes, batch-read, batch-write): HubSpot search pages of 200
 *             (API-FACTS: limit <= 200), batch read/update 100, association batch read 100;
 *             QuickBooks query 1000 rows, batch 30 operations (customers and new items may
 *             share batches; invoices need their customers first), one change-feed query per
 *             synced kind on the empty side.
 *             Rate limits on: the sandbox divides its windows by the scale, and the connectors
 *             get the published windows divided by the same scale (rounded up: never looser
 *             than the sandbox) through their "rate_limits" setting; the engine is only handed
 *             limits. The bound is the shortest time the limits allow for the minimum calls:
 *             per provider, full windows before the last one; QuickBooks may replace batch
 *             calls by single creates where that is faster (40 batches and 500 calls a minute:
 *             1,660 records a minute at best); both providers in parallel (the larger of the
 *             two). A target missed is printed MISSED with the figure; the exit status is
 *             non-zero only when the run itself fails (a failed request, an engine error,
 *             records left unsynced).
 *             Usage: backfill [--limits off|on] [--scale N] [--companies N] [--deals N]
 *             [--lines N] [--sandbox PATH]; default both modes, 10,000/10,000, scale 60.
 * Not here:   the engine (src/engine), the sandbox (sandbox/), raw sandbox throughput
 *             (bench/sandbox.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "config/config.h"
#include "connectors/common/limits.h"
#include "connectors/hubspot/hubspot.h"
#include "connectors/quickbooks/quickbooks.h"
#include "core/invoice.h"
#include "engine/engine.h"
#include "hoopsync/store.h"
#include "net/http.h"
#include "net/ratelimit.h"
#include "sandbox/sbx.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/env.h"

#define TOKEN      "bench"
#define SEED       7
#define PRODUCTS   20
#define MAX_PASSES 5
#define MASTER_KEY "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* Targets of the issue. */
#define TARGET_CALL_RATIO  1.05
#define TARGET_WALL_OFF_S  10.0
#define TARGET_RSS_MB      100.0
#define TARGET_BOUND_RATIO 1.05

/* Published limits (docs/sandbox.md, API-FACTS.md section 1). */
#define HUB_ALL_LIMIT     100
#define HUB_ALL_WINDOW    10000
#define HUB_SEARCH_LIMIT  5
#define HUB_SEARCH_WINDOW 1000
#define QBO_MIN_LIMIT     500
#define QBO_MIN_WINDOW    60000
#define QBO_SEC_LIMIT     10
#define QBO_SEC_WINDOW    1000
#define QBO_BATCH_LIMIT   40
#define QBO_BATCH_WINDOW  60000
/* Batch sizes. */
#define HUB_SEARCH_PAGE 200
#define HUB_BATCH       100
#define QBO_BATCH       30
#define QBO_QUERY_ROWS  1000

struct opts {
    int limits; /* -1 both, 0 off, 1 on */
    long scale;
    long companies;
    long deals;
    long lines;
    bool mixed_currency;  /* deals in their company's currency (default: all in USD) */
    char store_dir[1024]; /* where the temporary store goes (default $TMPDIR or /tmp) */
    char sandbox[4096];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- counting transport ------------------------------------------------------------------ */

struct count {
    char provider[16];
    char endpoint[128];
    long calls;
    long failed;
    long ops;       /* QuickBooks batch: operations sent */
    double seconds; /* waiting for answers */
};

struct counting {
    struct hs_http_transport inner;
    struct count rows[128];
    size_t n_rows;
    long failed;
    long status_429;
    double seconds; /* waiting for answers, all providers */
};

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Appends printf output to out[*len..size) (truncating quietly). */
static void append(char *out, size_t size, size_t *len, const char *fmt, ...) HS_PRINTF(4, 5);
static void append(char *out, size_t size, size_t *len, const char *fmt, ...)
{
    if (*len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

/* "POST /crm/v3/objects/companies/batch/read", "POST /query Customer", "POST /batch": the
 * request's provider and endpoint, ids and the realm left out. */
static void classify(const struct hs_http_request *req, char *provider, size_t psize,
                     char *endpoint, size_t esize)
{
    const char *url = req->url != NULL ? req->url : "";
    const char *p = strstr(url, "://");
    p = p != NULL ? strchr(p + 3, '/') : url;
    if (p == NULL || *p != '/')
        p = "/";
    const char *q = strchr(p, '?');
    size_t len = q != NULL ? (size_t)(q - p) : strlen(p);
    const char *seg = p + 1;
    const char *slash = len > 1 ? memchr(seg, '/', len - 1) : NULL;
    size_t plen = slash != NULL ? (size_t)(slash - seg) : (len > 0 ? len - 1 : 0);
    snprintf(provider, psize, "%.*s", (int)plen, seg);
    const char *rest = slash != NULL ? slash : p + len;
    size_t rlen = (size_t)(p + len - rest);
    bool qbo = strcmp(provider, "quickbooks") == 0;
    if (qbo && rlen > 12 && strncmp(rest, "/v3/company/", 12) == 0) { /* drop the realm */
        const char *after = memchr(rest + 12, '/', rlen - 12);
        rlen = after != NULL ? (size_t)(rest + rlen - after) : 0;
        rest = after != NULL ? after : rest;
    }
    size_t n = 0;
    endpoint[0] = '\0';
    append(endpoint, esize, &n, "%s ", req->method != NULL ? req->method : "?");
    for (size_t i = 0; i < rlen;) {
        size_t j = i + 1;
        while (j < rlen && rest[j] != '/')
            j++;
        if (all_digits(rest + i + 1, j - i - 1))
            append(endpoint, esize, &n, "/{id}");
        else
            append(endpoint, esize, &n, "%.*s", (int)(j - i), rest + i);
        i = j;
    }
    if (qbo && req->body.len > 0 && strstr(endpoint, "/query") != NULL) {
        char text[256];
        snprintf(text, sizeof text, "%.*s", (int)(req->body.len < 255 ? req->body.len : 255),
                 req->body.data);
        const char *from = strstr(text, " from ");
        char ent[32] = "";
        if (from != NULL && sscanf(from + 6, "%31[A-Za-z]", ent) == 1)
            append(endpoint, esize, &n, " %s", ent);
    }
}

static long count_ops(const struct hs_http_request *req)
{
    long n = 0;
    const char *s = req->body.data;
    size_t len = req->body.len;
    for (size_t i = 0; s != NULL && i + 5 <= len; i++)
        n += memcmp(s + i, "\"bId\"", 5) == 0;
    return n;
}

static int counting_send(void *self, const struct hs_http_request *req,
                         struct hs_http_response *out, struct hs_error *err)
{
    struct counting *c = self;
    double t0 = now_s();
    int rc = hs_http_send(&c->inner, req, out, err);
    double dt = now_s() - t0;
    c->seconds += dt;
    char provider[16], endpoint[128];
    classify(req, provider, sizeof provider, endpoint, sizeof endpoint);
    struct count *row = NULL;
    for (size_t i = 0; i < c->n_rows && row == NULL; i++)
        if (strcmp(c->rows[i].provider, provider) == 0 &&
            strcmp(c->rows[i].endpoint, endpoint) == 0)
            row = &c->rows[i];
    if (row == NULL && c->n_rows < sizeof c->rows / sizeof c->rows[0]) {
        row = &c->rows[c->n_rows++];
        memset(row, 0, sizeof *row);
        snprintf(row->provider, sizeof row->provider, "%s", provider);
        snprintf(row->endpoint, sizeof row->endpoint, "%s", endpoint);
    }
    bool failed = rc != HS_OK || out->status >= 400;
    c->failed += failed;
    if (failed && c->failed <= 3) /* the first few, to see which limit or rule said no */
        fprintf(stderr, "backfill: %s %s: %s %d: %.*s\n", provider, endpoint,
                rc != HS_OK ? "no answer" : "HTTP", rc != HS_OK ? rc : out->status,
                (int)(rc == HS_OK && out->body.len < 300 ? out->body.len : 300),
                rc == HS_OK && out->body.data != NULL ? out->body.data : "");
    c->status_429 += rc == HS_OK && out->status == 429;
    if (row != NULL) {
        row->calls++;
        row->failed += failed;
        row->seconds += dt;
        if (strcmp(endpoint, "POST /batch") == 0)
            row->ops += count_ops(req);
    }
    return rc;
}

static void counting_close(void *self)
{
    (void)self;
}

static const struct hs_http_ops counting_ops = {counting_send, counting_close};

static void counting_reset(struct counting *c)
{
    c->n_rows = 0;
    c->failed = 0;
    c->status_429 = 0;
    c->seconds = 0;
}

/* ---- sandbox child and admin calls ------------------------------------------------------- */

struct sandbox {
    pid_t pid;
    FILE *out;
    char base[64];
    struct hs_http_transport http;
};

static int sandbox_start(const struct opts *o, bool limits, struct sandbox *sb)
{
    memset(sb, 0, sizeof *sb);
    int fds[2];
    if (pipe(fds) != 0)
        return HS_EIO;
    char scale[24];
    snprintf(scale, sizeof scale, "%ld", o->scale);
    char *argv[12];
    size_t n = 0;
    argv[n++] = (char *)o->sandbox;
    argv[n++] = (char *)"--port";
    argv[n++] = (char *)"0";
    argv[n++] = (char *)"--token";
    argv[n++] = (char *)TOKEN;
    argv[n++] = (char *)"--threads";
    argv[n++] = (char *)"2";
    if (limits) {
        argv[n++] = (char *)"--time-scale";
        argv[n++] = scale;
    } else {
        argv[n++] = (char *)"--no-rate-limits";
    }
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return HS_EIO;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(o->sandbox, argv);
        _exit(127);
    }
    close(fds[1]);
    sb->pid = pid;
    sb->out = fdopen(fds[0], "r");
    char line[256];
    if (sb->out == NULL || fgets(line, sizeof line, sb->out) == NULL)
        return HS_EIO;
    const char *url = strstr(line, "http://");
    if (url == NULL)
        return HS_EIO;
    snprintf(sb->base, sizeof sb->base, "%.*s", (int)strcspn(url, "\r\n"), url);
    return hs_http_curl_open(NULL, &sb->http, NULL);
}

static void sandbox_stop(struct sandbox *sb)
{
    if (sb->http.ops != NULL)
        hs_http_transport_close(&sb->http);
    if (sb->pid > 0) {
        kill(sb->pid, SIGTERM);
        waitpid(sb->pid, NULL, 0);
    }
    if (sb->out != NULL)
        fclose(sb->out);
    memset(sb, 0, sizeof *sb);
}

/* CPU seconds (user + system) the sandbox process used so far, -1 if unknown. */
static double sandbox_cpu_s(const struct sandbox *sb)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)sb->pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command may hold spaces */
    unsigned long ut = 0, st = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* An admin call; *out gets the JSON answer (may be NULL). Returns the HTTP status or < 0. */
static int admin(struct sandbox *sb, const char *method, const char *path, const char *body,
                 json_t **out)
{
    struct hs_http_request req;
    struct hs_http_response resp;
    hs_http_request_init(&req);
    hs_http_response_init(&resp);
    char url[256];
    snprintf(url, sizeof url, "%s%s", sb->base, path);
    int rc = hs_http_request_set(&req, method, url);
    if (rc == HS_OK && body != NULL) {
        rc = hs_buf_puts(&req.body, body);
        if (rc == HS_OK)
            rc = hs_http_headers_add(&req.headers, "Content-Type", "application/json");
    }
    req.timeout_ms = 600000;
    struct hs_error err = {0};
    if (rc == HS_OK)
        rc = hs_http_send(&sb->http, &req, &resp, &err);
    if (rc == HS_OK) {
        rc = resp.status;
        if (out != NULL)
            *out = json_loadb(resp.body.data != NULL ? resp.body.data : "", resp.body.len, 0, NULL);
    }
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    return rc;
}

/* ---- minimum and bound ------------------------------------------------------------------- */

struct world_counts {
    long companies, contacts, deals, lines, products, products_in_qbo;
};

struct min_row {
    const char *provider;
    const char *endpoint;
    long calls;
    bool search; /* HubSpot search scope */
    bool batch;  /* QuickBooks batch scope */
    const char *what;
};

static long cdiv(long a, long b)
{
    return a <= 0 ? 0 : (a + b - 1) / b;
}

static size_t minimum(const struct world_counts *w, struct min_row *r)
{
    size_t n = 0;
    long new_items = w->products - w->products_in_qbo;
#define ROW(p, e, c, s, b, what) r[n++] = (struct min_row){p, e, c, s, b, what}
    ROW("hubspot", "POST /crm/v3/objects/companies/search", cdiv(w->companies, HUB_SEARCH_PAGE),
        true, false, "company change feed, 200 a page");
    ROW("hubspot", "POST /crm/v3/objects/products/search", cdiv(w->products, HUB_SEARCH_PAGE), true,
        false, "product change feed");
    ROW("hubspot", "POST /crm/v3/objects/deals/search", cdiv(w->deals, HUB_SEARCH_PAGE), true,
        false, "closed-won deal change feed");
    ROW("hubspot", "POST /crm/v3/objects/companies/batch/read", cdiv(w->companies, HUB_BATCH),
        false, false, "companies, 100 a call");
    ROW("hubspot", "POST /crm/v4/associations/companies/contacts/batch/read",
        cdiv(w->companies, HUB_BATCH), false, false, "company -> contact ids");
    ROW("hubspot", "POST /crm/v3/objects/contacts/batch/read", cdiv(w->contacts, HUB_BATCH), false,
        false, "contacts (email, names)");
    ROW("hubspot", "POST /crm/v3/objects/products/batch/read", cdiv(w->products, HUB_BATCH), false,
        false, "products");
    ROW("hubspot", "POST /crm/v3/objects/deals/batch/read", cdiv(w->deals, HUB_BATCH), false, false,
        "deals");
    ROW("hubspot", "POST /crm/v4/associations/deals/companies/batch/read",
        cdiv(w->deals, HUB_BATCH), false, false, "deal -> company");
    ROW("hubspot", "POST /crm/v4/associations/deals/line_items/batch/read",
        cdiv(w->deals, HUB_BATCH), false, false, "deal -> line item ids");
    ROW("hubspot", "POST /crm/v3/objects/line_items/batch/read",
        cdiv(w->deals * w->lines, HUB_BATCH), false, false, "line items");
    ROW("hubspot", "POST /crm/v3/objects/deals/batch/update", cdiv(w->deals, HUB_BATCH), false,
        false, "invoice number and status back to deals");
    ROW("quickbooks", "POST /query Customer", 1, false, false, "customer change feed (empty)");
    ROW("quickbooks", "POST /query Item", 2 * cdiv(w->products_in_qbo, QBO_QUERY_ROWS), false,
        false, "item change feed, then read by id");
    ROW("quickbooks", "POST /query Invoice", 1, false, false, "invoice change feed (empty)");
    ROW("quickbooks", "POST /query Payment", 1, false, false, "payment change feed (empty)");
    ROW("quickbooks", "POST /batch",
        cdiv(w->companies + new_items, QBO_BATCH) + cdiv(w->deals, QBO_BATCH), false, true,
        "customer + item creates, then invoice creates, 30 a batch");
#undef ROW
    return n;
}

/* Shortest time (ms) for n calls under `limit` per fixed window: full windows before the last. */
static double window_time(long n, long limit, double window_ms)
{
    return n <= 0 ? 0 : (double)(cdiv(n, limit) - 1) * window_ms;
}

struct bound {
    double hub_ms, qbo_ms, ms; /* uncompressed */
    double qbo_batch_only_ms;  /* QuickBooks when every create goes in a batch */
    long qbo_batches, qbo_singles;
};

static void compute_bound(const struct world_counts *w, const struct min_row *r, size_t n,
                          struct bound *b)
{
    long hub = 0, hub_search = 0, qbo_other = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(r[i].provider, "hubspot") == 0) {
            hub += r[i].calls;
            hub_search += r[i].search ? r[i].calls : 0;
        } else if (!r[i].batch) {
            qbo_other += r[i].calls;
        }
    }
    double a = window_time(hub, HUB_ALL_LIMIT, HUB_ALL_WINDOW);
    double s = window_time(hub_search, HUB_SEARCH_LIMIT, HUB_SEARCH_WINDOW);
    b->hub_ms = a > s ? a : s;
    /* QuickBooks: records to create; choose how many go in batches, the rest one by one */
    long recs = w->companies + (w->products - w->products_in_qbo) + w->deals;
    b->qbo_ms = -1;
    b->qbo_batches = 0;
    b->qbo_batch_only_ms = 0;
    b->qbo_singles = 0;
    for (long nb = 0; nb <= cdiv(recs, QBO_BATCH); nb++) {
        long singles = recs - nb * QBO_BATCH > 0 ? recs - nb * QBO_BATCH : 0;
        long total = nb + singles + qbo_other;
        double t = window_time(nb, QBO_BATCH_LIMIT, QBO_BATCH_WINDOW);
        double t2 = window_time(total, QBO_MIN_LIMIT, QBO_MIN_WINDOW);
        double t3 = window_time(total, QBO_SEC_LIMIT, QBO_SEC_WINDOW);
        t = t > t2 ? t : t2;
        t = t > t3 ? t : t3;
        if (nb == cdiv(recs, QBO_BATCH))
            b->qbo_batch_only_ms = t;
        if (b->qbo_ms < 0 || t < b->qbo_ms) {
            b->qbo_ms = t;
            b->qbo_batches = nb;
            b->qbo_singles = singles;
        }
    }
    b->ms = b->hub_ms > b->qbo_ms ? b->hub_ms : b->qbo_ms;
}

/* ---- one mode ---------------------------------------------------------------------------- */

static const char YAML[] = "version: 1\n"
                           "store: sqlite:backfill.db\n"
                           "connections:\n"
                           "  crm: {provider: hubspot}\n"
                           "  accounting: {provider: quickbooks}\n"
                           "flows:\n"
                           "  - name: customers\n"
                           "    objects: customers\n"
                           "    direction: both\n"
                           "    authority:\n"
                           "      default: crm\n"
                           "  - name: items\n"
                           "    objects: items\n"
                           "    direction: crm_to_accounting\n";

static int token_fn(void *ud, bool force, char **out, struct hs_error *err)
{
    (void)ud;
    (void)force;
    (void)err;
    *out = hs_strdup(TOKEN);
    return *out != NULL ? HS_OK : HS_ENOMEM;
}

static int count_link(void *ud, const struct hs_store_link *l)
{
    (void)l;
    (*(long *)ud)++;
    return 0;
}

static long links(struct hs_store *st, const char *object)
{
    long n = 0;
    struct hs_error err = {0};
    if (hs_store_link_each(st, "crm", "accounting", object, count_link, &n, &err) < 0)
        return -1;
    return n;
}

/* "rate_limits" of a connector: the published windows divided by scale, rounded up. */
static json_t *windows_json(bool hubspot, long scale)
{
#define W(scope, lim, ms)                                                                          \
    json_pack("{s:s,s:I,s:I}", "scope", scope, "requests", (json_int_t)(lim), "window_ms",         \
              (json_int_t)cdiv(ms, scale))
    if (hubspot)
        return json_pack("[o,o]", W("all", HUB_ALL_LIMIT, HUB_ALL_WINDOW),
                         W("search", HUB_SEARCH_LIMIT, HUB_SEARCH_WINDOW));
    return json_pack("[o,o,o]", W("all", QBO_MIN_LIMIT, QBO_MIN_WINDOW),
                     W("all", QBO_SEC_LIMIT, QBO_SEC_WINDOW),
                     W("batch", QBO_BATCH_LIMIT, QBO_BATCH_WINDOW));
#undef W
}

/* Opens a connector; with limits, through a limiter of its limits() (as the CLI does). */
static int open_conn(const struct hs_connector_ops *ops, struct hs_connector_config *cc,
                     bool limits, struct hs_ratelimit **rl, struct hs_connector **out,
                     struct hs_error *err)
{
    *rl = NULL;
    if (!limits)
        return ops->open(cc, out, err);
    return hs_conn_open_limited(ops, cc, rl, out, err);
}

static const char *met(bool ok)
{
    return ok ? "met" : "MISSED";
}

static void print_sandbox_stats(const json_t *stats)
{
    printf("\n  sandbox /_sandbox/stats (route templates):\n");
    const json_t *providers = json_object_get(stats, "providers");
    const char *name;
    const json_t *p;
    json_object_foreach((json_t *)providers, name, p)
    {
        const json_t *st = json_object_get(p, "status");
        printf("    %-10s total %-6" JSON_INTEGER_FORMAT " 2xx %" JSON_INTEGER_FORMAT
               " 4xx %" JSON_INTEGER_FORMAT " 5xx %" JSON_INTEGER_FORMAT "\n",
               name, json_integer_value(json_object_get(p, "total")),
               json_integer_value(json_object_get(st, "2xx")),
               json_integer_value(json_object_get(st, "4xx")),
               json_integer_value(json_object_get(st, "5xx")));
        const char *ep;
        const json_t *v;
        json_object_foreach((json_t *)json_object_get(p, "endpoints"), ep, v)
        {
            printf("      %-58s %8" JSON_INTEGER_FORMAT "\n", ep, json_integer_value(v));
        }
    }
}

static int run_mode(const struct opts *o, bool limits)
{
    int status = 1;
    struct sandbox sb;
    struct hs_error err = {0};
    struct hs_env env;
    hs_env_system(&env, HS_LOG_ERROR);
    struct counting cnt;
    memset(&cnt, 0, sizeof cnt);
    struct hs_http_transport http = {&counting_ops, &cnt};
    json_t *hub_set = NULL, *qbo_set = NULL, *stats = NULL, *j = NULL;
    struct hs_connector *crm = NULL, *acc = NULL;
    struct hs_ratelimit *crm_rl = NULL, *acc_rl = NULL;
    struct hs_store *store = NULL;
    struct hs_config *cfg = NULL;
    struct hs_engine *e = NULL;
    char dir[1100] = "";
    char path[1200] = "";

    if (sandbox_start(o, limits, &sb) != HS_OK) {
        fprintf(stderr, "backfill: cannot start the sandbox '%s'\n", o->sandbox);
        sandbox_stop(&sb);
        return 1;
    }
    if (hs_http_curl_open(NULL, &cnt.inner, &err) != HS_OK)
        goto out;

    /* the world: also generated here to know which products QuickBooks already has */
    struct hs_sbx_sizes sizes = {0};
    sizes.companies = (unsigned)o->companies;
    sizes.contacts = (unsigned)o->companies;
    sizes.products = PRODUCTS;
    sizes.deals = (unsigned)o->deals;
    sizes.customers = HS_SBX_NONE;
    sizes.overlap_pct = HS_SBX_NONE;
    sizes.won_pct = 100;
    sizes.lines = (unsigned)o->lines;
    sizes.usd_deals = o->mixed_currency ? 0 : 1;
    struct hs_sbx_world world;
    if (hs_sbx_world_generate(SEED, &sizes, &world) != HS_OK) {
        fprintf(stderr, "backfill: cannot generate the world: sizes out of range\n");
        goto out;
    }
    struct world_counts wc = {o->companies, o->companies, o->deals, o->lines, PRODUCTS, 0};
    for (size_t i = 0; i < world.n_products; i++)
        wc.products_in_qbo += world.products[i].in_accounting;
    hs_sbx_world_release(&world);

    char body[256];
    snprintf(body, sizeof body,
             "{\"seed\":%d,\"companies\":%ld,\"contacts\":%ld,\"products\":%d,\"deals\":%ld,"
             "\"customers\":0,\"overlap_pct\":0,\"won_pct\":100,\"lines\":%ld,"
             "\"usd_deals\":%d}",
             SEED, o->companies, o->companies, PRODUCTS, o->deals, o->lines,
             o->mixed_currency ? 0 : 1);
    double t_seed = now_s();
    if (admin(&sb, "POST", "/_sandbox/seed", body, NULL) != 200) {
        fprintf(stderr, "backfill: seeding the sandbox failed\n");
        goto out;
    }
    t_seed = now_s() - t_seed;
    if (admin(&sb, "GET", "/_sandbox/tenants", NULL, &j) != 200 || j == NULL) {
        fprintf(stderr, "backfill: GET /_sandbox/tenants failed\n");
        goto out;
    }
    char portal[32], realm[32];
    const json_t *pid = json_object_get(json_object_get(j, "hubspot"), "portalId");
    if (json_is_integer(pid))
        snprintf(portal, sizeof portal, "%" JSON_INTEGER_FORMAT, json_integer_value(pid));
    else
        snprintf(portal, sizeof portal, "%s", json_string_value(pid) ? json_string_value(pid) : "");
    snprintf(realm, sizeof realm, "%s",
             json_string_value(json_object_get(json_object_get(j, "quickbooks"), "realmId"))
                 ? json_string_value(json_object_get(json_object_get(j, "quickbooks"), "realmId"))
                 : "");
    json_decref(j);
    j = NULL;

    char hub_url[96], qbo_url[96];
    snprintf(hub_url, sizeof hub_url, "%s/hubspot", sb.base);
    snprintf(qbo_url, sizeof qbo_url, "%s/quickbooks", sb.base);
    hub_set = json_object();
    qbo_set = json_pack("{s:s,s:i}", "income_account", "2", "minorversion", 75);
    if (hub_set == NULL || qbo_set == NULL)
        goto out;
    if (limits && (json_object_set_new(hub_set, "rate_limits", windows_json(true, o->scale)) != 0 ||
                   json_object_set_new(qbo_set, "rate_limits", windows_json(false, o->scale)) != 0))
        goto out;
    struct hs_connector_config cc = {.name = "crm",
                                     .base_url = hub_url,
                                     .tenant = portal,
                                     .http = &http,
                                     .env = &env,
                                     .token = token_fn,
                                     .settings = hub_set};
    struct hs_connector_config ac = {.name = "accounting",
                                     .base_url = qbo_url,
                                     .tenant = realm,
                                     .http = &http,
                                     .env = &env,
                                     .token = token_fn,
                                     .settings = qbo_set};
    if (open_conn(&hs_connector_hubspot_ops, &cc, limits, &crm_rl, &crm, &err) != HS_OK ||
        open_conn(&hs_connector_quickbooks_ops, &ac, limits, &acc_rl, &acc, &err) != HS_OK)
        goto fail;
    /* what `hoopsync connect crm` does once, before the backfill (not measured) */
    if (hs_connector_hubspot_ops.setup != NULL &&
        hs_connector_hubspot_ops.setup(crm, &err) != HS_OK)
        goto fail;

    snprintf(dir, sizeof dir, "%s/hs-backfill-XXXXXX", o->store_dir);
    if (mkdtemp(dir) == NULL) {
        dir[0] = '\0';
        goto out;
    }
    snprintf(path, sizeof path, "%s/backfill.db", dir);
    struct hs_store_options sopt = {.env = &env, .master_key_hex = MASTER_KEY};
    if (hs_store_open(path, &sopt, &store, &err) != HS_OK ||
        hs_store_connection_put(store, "crm", HS_STORE_CRM, "hubspot", portal, NULL, &err) !=
            HS_OK ||
        hs_store_connection_put(store, "accounting", HS_STORE_ACCOUNTING, "quickbooks", realm, NULL,
                                &err) != HS_OK)
        goto fail;
    if (hs_config_parse((const uint8_t *)YAML, strlen(YAML), "backfill.yaml", &cfg, &err) != HS_OK)
        goto fail;
    struct hs_invoice_term terms[1] = {{.name = "Net 30", .due_days = 30}};
    const char *stages[1] = {"closedwon"};
    struct hs_engine_invoicing iv = {.won_stages = stages,
                                     .n_won_stages = 1,
                                     .policy = hs_tax_policy_quickbooks(HS_TAX_NONE),
                                     .terms = terms,
                                     .n_terms = 1,
                                     .payment_terms = "Net 30",
                                     .default_currency = "USD",
                                     .provider = "QuickBooks"};
    struct hs_engine_config ec = {
        .config = cfg,
        .store = store,
        .crm = {.ops = &hs_connector_hubspot_ops, .conn = crm, .conn_id = "crm"},
        .accounting = {.ops = &hs_connector_quickbooks_ops, .conn = acc, .conn_id = "accounting"},
        .env = &env,
        .invoicing = &iv,
    };
    if (hs_engine_open(&ec, &e, &err) != HS_OK)
        goto fail;

    /* the measured part */
    counting_reset(&cnt);
    if (admin(&sb, "DELETE", "/_sandbox/stats", NULL, NULL) != 200)
        goto out;
    size_t errors = 0, created = 0, linked = 0, updated = 0;
    int passes = 0, shown = 0;
    long l_cust = 0, l_inv = 0, l_item = 0;
    double t0 = now_s();
    int run_rc = HS_OK;
    while (passes < MAX_PASSES) {
        struct hs_engine_report r;
        hs_engine_report_init(&r);
        run_rc = hs_engine_run_once(e, &r, &err);
        passes++;
        errors += r.n_errors;
        created += r.n_created;
        linked += r.n_linked;
        updated += r.n_updated;
        for (size_t i = 0; i < r.n_actions; i++)
            if (r.actions[i].kind == HS_ENGINE_ERROR && shown++ < 5)
                fprintf(stderr, "backfill: engine error %s %s: %s\n",
                        hs_kind_name(r.actions[i].object), r.actions[i].source_id,
                        r.actions[i].reason);
        hs_engine_report_release(&r);
        l_cust = links(store, "customer");
        l_inv = links(store, "invoice");
        l_item = links(store, "item");
        if (run_rc != HS_OK || (l_cust >= o->companies && l_inv >= o->deals))
            break;
    }
    double wall = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss / 1024.0;
    if (admin(&sb, "GET", "/_sandbox/stats", NULL, &stats) != 200)
        stats = NULL;

    /* ---- report ---- */
    struct min_row mins[32];
    size_t n_min = minimum(&wc, mins);
    struct bound bd;
    compute_bound(&wc, mins, n_min, &bd);
    long recs = o->companies + o->deals;
    printf("\n== backfill, rate limits %s", limits ? "ON" : "off");
    if (limits)
        printf(" (published limits; time compressed %ldx for both the sandbox's windows and the "
               "engine's limiter: %ld s of limits per second)",
               o->scale, o->scale);
    printf(
        "\n   %ld companies (1 contact each, QuickBooks side empty), %ld closed-won deals x %ld "
        "lines in %s, %d products (%ld already in QuickBooks); store in %s; seeding took %.1f s\n",
        o->companies, o->deals, o->lines, o->mixed_currency ? "their company's currency" : "USD",
        PRODUCTS, wc.products_in_qbo, o->store_dir, t_seed);
    printf("\n  %-11s %-56s %7s %7s %6s %6s\n", "provider", "endpoint", "calls", "minimum", "ratio",
           "failed");
    long tot_hub = 0, tot_qbo = 0, min_hub = 0, min_qbo = 0;
    bool used[128] = {false};
    for (size_t m = 0; m < n_min; m++) {
        long actual = 0, failed = 0, ops = 0;
        for (size_t i = 0; i < cnt.n_rows; i++)
            if (strcmp(cnt.rows[i].provider, mins[m].provider) == 0 &&
                strcmp(cnt.rows[i].endpoint, mins[m].endpoint) == 0) {
                actual = cnt.rows[i].calls;
                failed = cnt.rows[i].failed;
                ops = cnt.rows[i].ops;
                used[i] = true;
            }
        bool hub = strcmp(mins[m].provider, "hubspot") == 0;
        *(hub ? &min_hub : &min_qbo) += mins[m].calls;
        *(hub ? &tot_hub : &tot_qbo) += actual;
        char ratio[16] = "-";
        if (mins[m].calls > 0)
            snprintf(ratio, sizeof ratio, "%.2f", (double)actual / (double)mins[m].calls);
        printf("  %-11s %-56s %7ld %7ld %6s %6ld  %s", mins[m].provider, mins[m].endpoint, actual,
               mins[m].calls, ratio, failed, mins[m].what);
        if (ops > 0)
            printf(" [%.1f ops/batch]", (double)ops / (double)actual);
        printf("\n");
    }
    for (size_t i = 0; i < cnt.n_rows; i++) {
        if (used[i])
            continue;
        bool hub = strcmp(cnt.rows[i].provider, "hubspot") == 0;
        *(hub ? &tot_hub : &tot_qbo) += cnt.rows[i].calls;
        printf("  %-11s %-56s %7ld %7d %6s %6ld  not in the minimum\n", cnt.rows[i].provider,
               cnt.rows[i].endpoint, cnt.rows[i].calls, 0, "-", cnt.rows[i].failed);
    }
    double r_hub = (double)tot_hub / (double)min_hub;
    double r_qbo = (double)tot_qbo / (double)min_qbo;
    double r_all = (double)(tot_hub + tot_qbo) / (double)(min_hub + min_qbo);
    printf("  %-11s %-56s %7ld %7ld %6.2f\n", "hubspot", "total", tot_hub, min_hub, r_hub);
    printf("  %-11s %-56s %7ld %7ld %6.2f\n", "quickbooks", "total", tot_qbo, min_qbo, r_qbo);
    if (stats != NULL)
        print_sandbox_stats(stats);
    long sbx_total = stats != NULL ? (long)json_integer_value(json_object_get(stats, "total")) : -1;

    printf(
        "\n  passes                %d (links: %ld customers, %ld invoices, %ld items; %zu created, "
        "%zu linked, %zu updated)\n",
        passes, l_cust, l_inv, l_item, created, linked, updated);
    printf("  wall time             %.2f s", wall);
    if (!limits)
        printf("   (target <= %.0f s: %s)", TARGET_WALL_OFF_S, met(wall <= TARGET_WALL_OFF_S));
    printf("\n  records/s             %.0f   (%ld companies + deals)\n", (double)recs / wall, recs);
    double sbx_cpu = sandbox_cpu_s(&sb);
    int64_t rl_calls = 0, rl_hub_ms = 0, rl_qbo_ms = 0;
    if (crm_rl != NULL)
        hs_ratelimit_stats(crm_rl, &rl_calls, &rl_hub_ms);
    if (acc_rl != NULL)
        hs_ratelimit_stats(acc_rl, &rl_calls, &rl_qbo_ms);
    if (limits)
        printf("  limiter waits         HubSpot %.2f s, QuickBooks %.2f s (inside the engine time "
               "below)\n",
               (double)rl_hub_ms / 1000.0, (double)rl_qbo_ms / 1000.0);
    printf("  time split            %.2f s waiting for provider answers (sandbox CPU %.2f s), "
           "%.2f s in the engine and store (bench process CPU: user %.2f s, sys %.2f s)\n",
           cnt.seconds, sbx_cpu, wall - cnt.seconds,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    printf("  calls                 %ld / minimum %ld = %.2fx   (target <= %.2fx: %s)%s\n",
           tot_hub + tot_qbo, min_hub + min_qbo, r_all, TARGET_CALL_RATIO,
           met(r_all <= TARGET_CALL_RATIO),
           sbx_total >= 0 && sbx_total != tot_hub + tot_qbo ? "  (sandbox counted another total!)"
                                                            : "");
    printf("  calls per record      %.4f   (minimum %.4f)\n",
           (double)(tot_hub + tot_qbo) / (double)recs, (double)(min_hub + min_qbo) / (double)recs);
    printf("  peak RSS              %.1f MB", rss_mb);
    if (!limits)
        printf("   (target <= %.0f MB: %s)", TARGET_RSS_MB, met(rss_mb <= TARGET_RSS_MB));
    printf("\n  failed requests       %ld (429: %ld)   engine errors %zu\n", cnt.failed,
           cnt.status_429, errors);
    if (limits) {
        double bound_s = bd.ms / 1000.0 / (double)o->scale;
        printf("  bound                 %.2f s compressed (%.1f s at real speed): HubSpot %.1f s, "
               "QuickBooks %.1f s with %ld batches + %ld single creates\n",
               bound_s, bd.ms / 1000.0, bd.hub_ms / 1000.0, bd.qbo_ms / 1000.0, bd.qbo_batches,
               bd.qbo_singles);
        printf("  wall / bound          %.2fx   (target <= %.2fx: %s)\n", wall / bound_s,
               TARGET_BOUND_RATIO, met(wall <= TARGET_BOUND_RATIO * bound_s));
        printf("                        (batches only, QuickBooks alone would need %.2f s "
               "compressed, %.2fx the bound)\n",
               bd.qbo_batch_only_ms / 1000.0 / (double)o->scale, bd.qbo_batch_only_ms / bd.ms);
    }
    fflush(stdout);
    if (run_rc != HS_OK) {
        fprintf(stderr, "backfill: pass failed: %s\n", err.msg);
        goto out;
    }
    if (cnt.failed > 0 || errors > 0 || l_cust < o->companies || l_inv < o->deals) {
        fprintf(stderr,
                "backfill: run failed: %ld failed requests, %zu engine errors, %ld/%ld "
                "customers and %ld/%ld invoices linked\n",
                cnt.failed, errors, l_cust, o->companies, l_inv, o->deals);
        goto out;
    }
    status = 0;
    goto out;
fail:
    fprintf(stderr, "backfill: %s\n", err.msg);
out:
    hs_engine_close(e);
    hs_config_free(cfg);
    hs_store_close(store);
    if (crm != NULL)
        hs_connector_hubspot_ops.close(crm);
    if (acc != NULL)
        hs_connector_quickbooks_ops.close(acc);
    hs_ratelimit_free(crm_rl);
    hs_ratelimit_free(acc_rl);
    json_decref(hub_set);
    json_decref(qbo_set);
    json_decref(stats);
    json_decref(j);
    if (cnt.inner.ops != NULL)
        hs_http_transport_close(&cnt.inner);
    sandbox_stop(&sb);
    if (dir[0] != '\0') {
        static const char *const files[] = {"backfill.db", "backfill.db-wal", "backfill.db-shm"};
        for (size_t i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, files[i]);
            unlink(path);
        }
        rmdir(dir);
    }
    return status;
}

/* ---- main ------------------------------------------------------------------------------- */

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int usage(void)
{
    fprintf(stderr, "usage: backfill [--limits off|on] [--scale N] [--companies N] [--deals N] "
                    "[--lines 1-6] [--mixed-currency] [--store-dir DIR] [--sandbox PATH]\n"
                    "  default: both modes, 10000 companies, 10000 deals, 3 lines, scale 60\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct opts o = {.limits = -1, .scale = 60, .companies = 10000, .deals = 10000, .lines = 3};
    int i = 1;
    while (i < argc) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = v != NULL;
        int used = 2; /* the option and its value */
        if (ok && strcmp(a, "--limits") == 0) {
            ok = strcmp(v, "on") == 0 || strcmp(v, "off") == 0;
            o.limits = strcmp(v, "on") == 0;
        } else if (ok && strcmp(a, "--scale") == 0) {
            ok = parse_long(v, 1, 100000, &o.scale);
        } else if (ok && strcmp(a, "--companies") == 0) {
            ok = parse_long(v, 1, 200000, &o.companies);
        } else if (ok && strcmp(a, "--deals") == 0) {
            ok = parse_long(v, 1, 200000, &o.deals);
        } else if (ok && strcmp(a, "--lines") == 0) {
            ok = parse_long(v, 1, 6, &o.lines);
        } else if (strcmp(a, "--mixed-currency") == 0) {
            o.mixed_currency = true;
            ok = true;
            used = 1;
        } else if (ok && strcmp(a, "--store-dir") == 0) {
            snprintf(o.store_dir, sizeof o.store_dir, "%s", v);
        } else if (ok && strcmp(a, "--sandbox") == 0) {
            snprintf(o.sandbox, sizeof o.sandbox, "%s", v);
        } else {
            return usage();
        }
        if (!ok)
            return usage();
        i += used;
    }
    if (o.store_dir[0] == '\0') {
        const char *t = getenv("TMPDIR");
        snprintf(o.store_dir, sizeof o.store_dir, "%s", t != NULL && t[0] != '\0' ? t : "/tmp");
    }
    if (o.sandbox[0] == '\0') { /* next to this binary: build/bin/hoopsync-sandbox */
        char self[4000];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return usage();
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL)
            *slash = '\0';
        snprintf(o.sandbox, sizeof o.sandbox, "%s/hoopsync-sandbox", self);
    }
    if (access(o.sandbox, X_OK) != 0) {
        fprintf(stderr, "backfill: cannot run the sandbox '%s': %s\n", o.sandbox, strerror(errno));
        return 1;
    }
    hs_alloc_setup_json();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf("hoopsync backfill benchmark (issue targets: calls <= %.2fx the batch minimum; limits "
           "off: wall <= %.0f s and peak RSS <= %.0f MB; limits on: wall <= %.2fx the bound, no "
           "failed request)\n",
           TARGET_CALL_RATIO, TARGET_WALL_OFF_S, TARGET_RSS_MB, TARGET_BOUND_RATIO);
    int status = 0;
    if (o.limits >= 0) { /* one mode: in this process */
        status = run_mode(&o, o.limits == 1);
        curl_global_cleanup();
        return status;
    }
    for (int mode = 0; mode < 2; mode++) {
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork(); /* each mode in its own process: its own peak RSS */
        if (pid < 0) {
            fprintf(stderr, "backfill: fork: %s\n", strerror(errno));
            return 1;
        }
        if (pid == 0) {
            int rc = run_mode(&o, mode == 1);
            fflush(stdout);
            fflush(stderr);
            _exit(rc);
        }
        int ws = 0;
        if (waitpid(pid, &ws, 0) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
            status = 1;
    }
    curl_global_cleanup();
    return status;
}
