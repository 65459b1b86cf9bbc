/*
 * bench/backfill.c - a first sync (backfill) of 10,000 companies and 10,000 closed-won deals
 *                    from HubSpot to QuickBooks, Xero or Zoho Books through hoopsync-sandbox,
 *                    against the batch minimum and the rate limits.
 *
 * Design:     the sandbox runs as a child process (bin/hoopsync-sandbox --port 0 --token,
 *             with --no-rate-limits or --time-scale N), seeded through POST /_sandbox/seed:
 *             N companies with one contact each, an empty accounting side (customers 0,
 *             overlap_pct 0), 20 products, N deals all at "closedwon" with `lines` line items
 *             each. The engine runs in this process over real HTTP (libcurl, keep-alive), with
 *             a temporary SQLite store, the HubSpot connector, the accounting connector of
 *             --accounting (static token) and invoicing on: customers both ways, products ->
 *             items, closed-won deals -> invoices. Passes run until every company and deal is
 *             linked (at most 5).
 *             The accounting side is table-driven (struct acct, one per provider): connector,
 *             tenant key in /_sandbox/tenants, settings, tax policy, published windows, default
 *             time compression, and the rows of the batch minimum.
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
 *             share batches; invoices need their customers first); Xero limits().write_batch
 *             elements per POST; Zoho Books one record per call (no batch endpoint); one
 *             change feed per synced kind on the empty side.
 *             Rate limits on: the sandbox divides its windows by the scale, and the connectors
 *             get the published windows divided by the same scale (rounded up: never looser
 *             than the sandbox) through their "rate_limits" setting; the engine is only handed
 *             limits. The bound is the shortest time the limits allow for the minimum calls:
 *             per provider, fixed windows from its first call, each call as early as all of
 *             its windows together allow (so full windows before the last one, and the last
 *             minute's calls paced by a per-second window; whole days waited on a day window
 *             are reported); QuickBooks may replace batch calls by single creates
 *             where that is faster (40 batches and 500 calls a minute: 1,660 records a minute
 *             at best); both providers in parallel (the larger of the two). A target missed
 *             is printed MISSED with the figure; the exit status is non-zero only when the
 *             run itself fails (a failed request, an engine error, records left unsynced).
 *             Usage: backfill [--accounting quickbooks|xero|zohobooks|all] [--limits off|on]
 *             [--scale N] [--companies N] [--deals N] [--lines N] [--sandbox PATH]; default
 *             QuickBooks, both modes, 10,000/10,000, the provider's scale.
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
#include "connectors/xero/xero.h"
#include "connectors/zohobooks/zohobooks.h"
#include "core/invoice.h"
#include "core/tax.h"
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

/* Published limits of HubSpot (docs/sandbox.md, API-FACTS.md section 1); the accounting
 * providers' are in their struct acct below. */
#define HUB_ALL_LIMIT     100
#define HUB_ALL_WINDOW    10000
#define HUB_SEARCH_LIMIT  5
#define HUB_SEARCH_WINDOW 1000
#define DAY_MS            86400000L
/* Batch sizes. */
#define HUB_SEARCH_PAGE 200
#define HUB_BATCH       100
#define QBO_BATCH       30
#define QBO_QUERY_ROWS  1000
#define ZOHO_PAGE       200

struct opts {
    int limits;     /* -1 both, 0 off, 1 on */
    int accounting; /* index in ACCTS, -1 all */
    long scale;     /* 0: the provider's default */
    long companies;
    long deals;
    long lines;
    bool mixed_currency;  /* deals in their company's currency (default: all in USD) */
    char store_dir[1024]; /* where the temporary store goes (default $TMPDIR or /tmp) */
    char trace[1024];     /* --trace: one line per call to this file, or "" */
    long slice;           /* --slice: hs_engine_config.slice (0: the engine's default) */
    bool fewest;          /* --fewest-calls: QuickBooks batches only (single_requests never) */
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
    FILE *trace;    /* --trace: "start_ms duration_ms status provider endpoint" per call */
    double t0;      /* the trace's time origin: the start of the passes */
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

/* A path segment that is an id: digits (HubSpot, QuickBooks, Zoho) or a GUID (Xero). */
static bool is_id(const char *s, size_t n)
{
    if (all_digits(s, n))
        return true;
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
                   (s[i] >= 'A' && s[i] <= 'F');
        if (dash ? s[i] != '-' : !hex)
            return false;
    }
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

/* "POST /crm/v3/objects/companies/batch/read", "POST /query Customer", "POST /batch",
 * "POST /api.xro/2.0/Contacts", "GET /books/v3/items/{id}": the request's provider (first path
 * segment) and endpoint, ids, the query string and QuickBooks' realm left out. */
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
        if (is_id(rest + i + 1, j - i - 1))
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
    if (c->trace != NULL)
        fprintf(c->trace, "%.1f %.1f %d %s %s\n", (t0 - c->t0) * 1000.0, dt * 1000.0,
                rc == HS_OK ? out->status : -rc, provider, endpoint);
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
    c->t0 = now_s();
}

/* ---- sandbox child and admin calls ------------------------------------------------------- */

struct sandbox {
    pid_t pid;
    FILE *out;
    char base[64];
    struct hs_http_transport http;
};

static int sandbox_start(const struct opts *o, bool limits, long time_scale, struct sandbox *sb)
{
    memset(sb, 0, sizeof *sb);
    int fds[2];
    if (pipe(fds) != 0)
        return HS_EIO;
    char scale[24];
    snprintf(scale, sizeof scale, "%ld", time_scale);
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
    long companies, contacts, deals, lines, products, products_in_acct;
};

struct min_row {
    const char *provider;
    const char *endpoint;
    long calls;
    bool search; /* HubSpot search scope */
    bool write;  /* an accounting write (scope "batch" for QuickBooks) */
    const char *what;
};

static long cdiv(long a, long b)
{
    return a <= 0 ? 0 : (a + b - 1) / b;
}

#define ROW(p, e, c, s, b, what)                                                                   \
    r[n++] = (struct min_row)                                                                      \
    {                                                                                              \
        p, e, c, s, b, what                                                                        \
    }

static size_t min_hubspot(const struct world_counts *w, struct min_row *r)
{
    size_t n = 0;
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
    return n;
}

static size_t min_quickbooks(const struct world_counts *w, long write_batch, struct min_row *r)
{
    (void)write_batch; /* /batch carries 30 operations of any kind */
    size_t n = 0;
    long new_items = w->products - w->products_in_acct;
    ROW("quickbooks", "POST /query Customer", 1, false, false, "customer change feed (empty)");
    ROW("quickbooks", "POST /query Item", 2 * cdiv(w->products_in_acct, QBO_QUERY_ROWS), false,
        false, "item change feed, then read by id");
    ROW("quickbooks", "POST /query Invoice", 1, false, false, "invoice change feed (empty)");
    ROW("quickbooks", "POST /query Payment", 1, false, false, "payment change feed (empty)");
    ROW("quickbooks", "POST /batch",
        cdiv(w->companies + new_items, QBO_BATCH) + cdiv(w->deals, QBO_BATCH), false, true,
        "customer + item creates, then invoice creates, 30 a batch");
    return n;
}

static size_t min_xero(const struct world_counts *w, long write_batch, struct min_row *r)
{
    size_t n = 0;
    long new_items = w->products - w->products_in_acct;
    ROW("xero", "GET /api.xro/2.0/Contacts", 1, false, false, "contact change feed (empty)");
    ROW("xero", "GET /api.xro/2.0/Items", 2, false, false,
        "item change feed (not paged), then read (no IDs filter)");
    ROW("xero", "GET /api.xro/2.0/Invoices", 1, false, false, "invoice change feed (empty)");
    ROW("xero", "GET /api.xro/2.0/Payments", 1, false, false, "payment change feed (empty)");
    ROW("xero", "POST /api.xro/2.0/Contacts", cdiv(w->companies, write_batch), false, true,
        "contact creates, limits().write_batch a POST");
    ROW("xero", "POST /api.xro/2.0/Items", cdiv(new_items, write_batch), false, true,
        "item creates");
    ROW("xero", "POST /api.xro/2.0/Invoices", cdiv(w->deals, write_batch), false, true,
        "invoice creates");
    return n;
}

static size_t min_zohobooks(const struct world_counts *w, long write_batch, struct min_row *r)
{
    (void)write_batch; /* 1: Zoho Books has no batch endpoint */
    size_t n = 0;
    long new_items = w->products - w->products_in_acct;
    ROW("zohobooks", "GET /books/v3/contacts", 1, false, false, "contact scan (empty)");
    ROW("zohobooks", "GET /books/v3/items", cdiv(w->products_in_acct, ZOHO_PAGE), false, false,
        "item scan, 200 a page");
    ROW("zohobooks", "GET /books/v3/items/{id}", w->products_in_acct, false, false,
        "items read one by one (lists leave fields out)");
    ROW("zohobooks", "GET /books/v3/invoices", 1, false, false, "invoice scan (empty)");
    ROW("zohobooks", "GET /books/v3/customerpayments", 1, false, false, "payment scan (empty)");
    ROW("zohobooks", "PUT /books/v3/contacts", w->companies, false, true,
        "contact upserts, one a call");
    ROW("zohobooks", "PUT /books/v3/items", new_items, false, true, "item upserts");
    ROW("zohobooks", "PUT /books/v3/invoices", w->deals, false, true, "invoice upserts");
    /* a sent invoice (the setting invoice_status, "sent" by default) is a second call in Zoho:
     * the API creates drafts and has no way to create one already sent without emailing it */
    ROW("zohobooks", "POST /books/v3/invoices/{id}/status/sent", w->deals, false, true,
        "invoices marked sent, one a call");
    return n;
}

#undef ROW

/* One published rate-limit window (API-FACTS.md section 1). */
struct pub_window {
    const char *scope; /* "all", "batch" or "day": as the connector's limits() names it */
    long limit;
    long window_ms;
};

/* The accounting side of a run: everything that differs between providers. */
struct acct {
    const char *name;    /* --accounting, URL prefix, provider in the store and in the stats */
    const char *display; /* "QuickBooks" */
    const struct hs_connector_ops *ops;
    const char *tenant_key; /* its tenant id in GET /_sandbox/tenants */
    const char *settings;   /* connection settings (JSON), rate_limits added with limits on */
    struct hs_tax_policy (*policy)(enum hs_tax_mode mode);
    long scale;             /* default time compression with limits on */
    const char *limits_url; /* sandbox admin route that sets the day limit, or NULL */
    struct pub_window windows[HS_CONN_MAX_WINDOWS];
    size_t n_windows;
    bool singles; /* the bound may replace batch calls by single creates (QuickBooks) */
    size_t (*minimum)(const struct world_counts *w, long write_batch, struct min_row *r);
};

static const struct acct ACCTS[] = {
    /* 12 minutes of limits; scale 10 makes that 72 s. The limiter's safety margin (1% + 15 ms,
     * hs_conn_limiter_window_ms) is a larger share of a more compressed 10-a-second window: at
     * scale 20 (50 ms) it would bound the run; at scale 10 the second is held 100 -> 116 ms,
     * 10 calls of which still come faster than 500 a minute allows, so the minute binds */
    {"quickbooks",
     "QuickBooks",
     &hs_connector_quickbooks_ops,
     "realmId",
     "{\"income_account\":\"2\",\"minorversion\":75}",
     hs_tax_policy_quickbooks,
     10,
     NULL,
     {{"all", 500, 60000}, {"all", 10, 1000}, {"batch", 40, 60000}},
     3,
     true,
     min_quickbooks},
    /* 60 a minute: 407 calls are 6 minutes; scale 4 makes that 90 s */
    {"xero",
     "Xero",
     &hs_connector_xero_ops,
     "tenantId",
     "{}",
     hs_tax_policy_xero,
     4,
     NULL,
     {{"all", 60, 60000}, {"day", 5000, DAY_MS}},
     2,
     false,
     min_xero},
    /* 20,000+ calls at 10,000 a day are 2 days: scale 960 makes a day 90 s (a minute 62.5 ms) */
    {"zohobooks",
     "Zoho Books",
     &hs_connector_zohobooks_ops,
     "organizationId",
     "{}",
     hs_tax_policy_zoho,
     960,
     "/zohobooks/_sandbox/limits",
     {{"all", 100, 60000}, {"day", 10000, DAY_MS}},
     2,
     false,
     min_zohobooks},
};
#define N_ACCTS (sizeof ACCTS / sizeof ACCTS[0])

/* Shortest time (ms) for n calls under `limit` per fixed window: full windows before the last. */
static double window_time(long n, long limit, double window_ms)
{
    return n <= 0 ? 0 : (double)(cdiv(n, limit) - 1) * window_ms;
}

struct bound {
    double hub_ms, acct_ms, ms;         /* uncompressed */
    double win_ms[HS_CONN_MAX_WINDOWS]; /* the accounting windows' own times */
    double acct_batch_only_ms;          /* QuickBooks when every create goes in a batch */
    long acct_calls, acct_writes;       /* the calls the accounting bound counts */
    long hub_search;                    /* HubSpot searches */
    long batches, singles;              /* QuickBooks: the fastest mix */
    long days;                          /* whole days waited on a day window */
};

/*
 * The time (ms) of the last of `total` calls (`writes` of them count in "batch" windows) when
 * every window holds at once: fixed windows from the first call at 0, each call as early as
 * all its windows allow, batches first while their window has room. One window alone can
 * allow less than all together: QuickBooks' 500 a minute at 10 a second need 50 s of the last
 * minute, which the minute window alone counts as 0.
 */
static double together_time(const struct acct *a, long total, long writes)
{
    int64_t bucket[HS_CONN_MAX_WINDOWS];
    long used[HS_CONN_MAX_WINDOWS];
    for (size_t i = 0; i < a->n_windows; i++) {
        bucket[i] = 0;
        used[i] = 0;
    }
    long batches = writes, singles = total - writes;
    int64_t t = 0, last = 0;
    while (batches + singles > 0) {
        bool room_all = true, room_batch = true;
        for (size_t i = 0; i < a->n_windows; i++) {
            const struct pub_window *pw = &a->windows[i];
            if (t / pw->window_ms != bucket[i]) {
                bucket[i] = t / pw->window_ms;
                used[i] = 0;
            }
            bool full = used[i] >= pw->limit;
            if (strcmp(pw->scope, "batch") == 0)
                room_batch = room_batch && !full;
            else
                room_all = room_all && !full;
        }
        bool batch = batches > 0 && room_all && room_batch;
        if (batch || (singles > 0 && room_all)) {
            for (size_t i = 0; i < a->n_windows; i++)
                if (batch || strcmp(a->windows[i].scope, "batch") != 0)
                    used[i]++;
            batches -= batch;
            singles -= !batch;
            last = t;
            continue;
        }
        int64_t next = INT64_MAX; /* the next boundary of a full window */
        for (size_t i = 0; i < a->n_windows; i++)
            if (used[i] >= a->windows[i].limit && (bucket[i] + 1) * a->windows[i].window_ms < next)
                next = (bucket[i] + 1) * a->windows[i].window_ms;
        t = next;
    }
    return (double)last;
}

/* The accounting provider's time for `total` calls of which `writes` are writes: the slowest
 * window, or all of them together where that is longer. A day window's time is the whole days
 * waited plus what the shorter windows need for the calls of the last day (they start with it: a
 * day is a whole number of minutes). */
static double acct_time(const struct acct *a, long total, long writes, double *win)
{
    double t = 0;
    for (size_t i = 0; i < a->n_windows; i++) {
        const struct pub_window *pw = &a->windows[i];
        long n = strcmp(pw->scope, "batch") == 0 ? writes : total;
        double wt = window_time(n, pw->limit, (double)pw->window_ms);
        if (pw->window_ms >= DAY_MS && n > pw->limit) {
            long last = n - (cdiv(n, pw->limit) - 1) * pw->limit;
            double rest = 0;
            for (size_t k = 0; k < a->n_windows; k++) {
                const struct pub_window *o = &a->windows[k];
                double ot = o->window_ms < DAY_MS && strcmp(o->scope, "batch") != 0
                                ? window_time(last, o->limit, (double)o->window_ms)
                                : 0;
                rest = ot > rest ? ot : rest;
            }
            wt += rest;
        }
        if (win != NULL)
            win[i] = wt;
        t = wt > t ? wt : t;
    }
    double all = together_time(a, total, writes);
    t = all > t ? all : t;
    return t;
}

/* mix: the provider may replace batches by single creates (acct.singles, not --fewest-calls) */
static void compute_bound(const struct acct *a, bool mix, const struct world_counts *w,
                          const struct min_row *r, size_t n, struct bound *b)
{
    memset(b, 0, sizeof *b);
    long hub = 0, hub_search = 0, other = 0, writes = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(r[i].provider, "hubspot") == 0) {
            hub += r[i].calls;
            hub_search += r[i].search ? r[i].calls : 0;
        } else if (r[i].write) {
            writes += r[i].calls;
        } else {
            other += r[i].calls;
        }
    }
    double hs = window_time(hub, HUB_ALL_LIMIT, HUB_ALL_WINDOW);
    double ss = window_time(hub_search, HUB_SEARCH_LIMIT, HUB_SEARCH_WINDOW);
    b->hub_ms = hs > ss ? hs : ss;
    b->hub_search = hub_search;
    b->acct_calls = other + writes;
    b->acct_writes = writes;
    b->acct_ms = acct_time(a, other + writes, writes, b->win_ms);
    b->acct_batch_only_ms = b->acct_ms;
    b->batches = writes;
    if (mix) { /* records to create; how many go in batches, the rest one by one */
        long recs = w->companies + (w->products - w->products_in_acct) + w->deals;
        b->acct_ms = -1;
        for (long nb = 0; nb <= cdiv(recs, QBO_BATCH); nb++) {
            long singles = recs - nb * QBO_BATCH > 0 ? recs - nb * QBO_BATCH : 0;
            double win[HS_CONN_MAX_WINDOWS];
            double t = acct_time(a, nb + singles + other, nb, win);
            if (nb == cdiv(recs, QBO_BATCH))
                b->acct_batch_only_ms = t;
            if (b->acct_ms < 0 || t < b->acct_ms) {
                b->acct_ms = t;
                b->batches = nb;
                b->singles = singles;
                b->acct_calls = nb + singles + other;
                b->acct_writes = nb;
                memcpy(b->win_ms, win, sizeof win);
            }
        }
    }
    for (size_t i = 0; i < a->n_windows; i++) {
        const struct pub_window *pw = &a->windows[i];
        long calls = strcmp(pw->scope, "batch") == 0 ? b->acct_writes : b->acct_calls;
        long days =
            pw->window_ms >= DAY_MS ? (cdiv(calls, pw->limit) - 1) * (pw->window_ms / DAY_MS) : 0;
        b->days = days > b->days ? days : b->days;
    }
    b->ms = b->hub_ms > b->acct_ms ? b->hub_ms : b->acct_ms;
}

/* ---- one mode ---------------------------------------------------------------------------- */

/* The configuration; %s is the accounting provider. */
#define YAML                                                                                       \
    "version: 1\n"                                                                                 \
    "store: sqlite:backfill.db\n"                                                                  \
    "connections:\n"                                                                               \
    "  crm: {provider: hubspot}\n"                                                                 \
    "  accounting: {provider: %s}\n"                                                               \
    "flows:\n"                                                                                     \
    "  - name: customers\n"                                                                        \
    "    objects: customers\n"                                                                     \
    "    direction: both\n"                                                                        \
    "    authority:\n"                                                                             \
    "      default: crm\n"                                                                         \
    "  - name: items\n"                                                                            \
    "    objects: items\n"                                                                         \
    "    direction: crm_to_accounting\n"

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
static json_t *window_json(const char *scope, long limit, long window_ms, long scale)
{
    return json_pack("{s:s,s:I,s:I}", "scope", scope, "requests", (json_int_t)limit, "window_ms",
                     (json_int_t)cdiv(window_ms, scale));
}

static json_t *hub_windows_json(long scale)
{
    return json_pack("[o,o]", window_json("all", HUB_ALL_LIMIT, HUB_ALL_WINDOW, scale),
                     window_json("search", HUB_SEARCH_LIMIT, HUB_SEARCH_WINDOW, scale));
}

static json_t *acct_windows_json(const struct acct *a, long scale)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < a->n_windows; i++)
        if (json_array_append_new(arr, window_json(a->windows[i].scope, a->windows[i].limit,
                                                   a->windows[i].window_ms, scale)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    return arr;
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

/* A tenant id of /_sandbox/tenants (a string or an integer) into out. */
static void tenant_id(const json_t *v, char *out, size_t size)
{
    if (json_is_integer(v))
        snprintf(out, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(out, size, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static int run_mode(const struct opts *o, const struct acct *a, bool limits)
{
    int status = 1;
    long scale = o->scale > 0 ? o->scale : a->scale;
    const bool mix = a->singles && !o->fewest;
    struct sandbox sb;
    struct hs_error err = {0};
    struct hs_env env;
    hs_env_system(&env, HS_LOG_ERROR);
    struct counting cnt;
    memset(&cnt, 0, sizeof cnt);
    struct hs_http_transport http = {&counting_ops, &cnt};
    json_t *hub_set = NULL, *acct_set = NULL, *stats = NULL, *j = NULL;
    struct hs_connector *crm = NULL, *acc = NULL;
    struct hs_ratelimit *crm_rl = NULL, *acc_rl = NULL;
    struct hs_store *store = NULL;
    struct hs_config *cfg = NULL;
    struct hs_engine *e = NULL;
    char dir[1100] = "";
    char path[1200] = "";

    if (sandbox_start(o, limits, scale, &sb) != HS_OK) {
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
        wc.products_in_acct += world.products[i].in_accounting;
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
    long per_day = 0; /* the day limit, set in the sandbox where it is a setting */
    for (size_t i = 0; i < a->n_windows; i++)
        if (a->windows[i].window_ms == DAY_MS)
            per_day = a->windows[i].limit;
    if (a->limits_url != NULL && per_day > 0) {
        snprintf(body, sizeof body, "{\"per_day\":%ld}", per_day);
        if (admin(&sb, "POST", a->limits_url, body, NULL) != 200) {
            fprintf(stderr, "backfill: POST %s failed\n", a->limits_url);
            goto out;
        }
    }
    if (admin(&sb, "GET", "/_sandbox/tenants", NULL, &j) != 200 || j == NULL) {
        fprintf(stderr, "backfill: GET /_sandbox/tenants failed\n");
        goto out;
    }
    char portal[64], tenant[64];
    tenant_id(json_object_get(json_object_get(j, "hubspot"), "portalId"), portal, sizeof portal);
    tenant_id(json_object_get(json_object_get(j, a->name), a->tenant_key), tenant, sizeof tenant);
    json_decref(j);
    j = NULL;

    char hub_url[96], acct_url[96];
    snprintf(hub_url, sizeof hub_url, "%s/hubspot", sb.base);
    snprintf(acct_url, sizeof acct_url, "%s/%s", sb.base, a->name);
    hub_set = json_object();
    acct_set = json_loads(a->settings, 0, NULL);
    if (hub_set == NULL || acct_set == NULL)
        goto out;
    if (limits && (json_object_set_new(hub_set, "rate_limits", hub_windows_json(scale)) != 0 ||
                   json_object_set_new(acct_set, "rate_limits", acct_windows_json(a, scale)) != 0))
        goto out;
    if (a->singles && !mix &&
        json_object_set_new(acct_set, "single_requests", json_string("never")) != 0)
        goto out;
    struct hs_connector_config cc = {.name = "crm",
                                     .base_url = hub_url,
                                     .tenant = portal,
                                     .http = &http,
                                     .env = &env,
                                     .token = token_fn,
                                     .settings = hub_set};
    struct hs_connector_config ac = {.name = "accounting",
                                     .base_url = acct_url,
                                     .tenant = tenant,
                                     .http = &http,
                                     .env = &env,
                                     .token = token_fn,
                                     .settings = acct_set};
    if (open_conn(&hs_connector_hubspot_ops, &cc, limits, &crm_rl, &crm, &err) != HS_OK ||
        open_conn(a->ops, &ac, limits, &acc_rl, &acc, &err) != HS_OK)
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
        hs_store_connection_put(store, "accounting", HS_STORE_ACCOUNTING, a->name, tenant, NULL,
                                &err) != HS_OK)
        goto fail;
    char yaml[sizeof YAML + 32];
    snprintf(yaml, sizeof yaml, YAML, a->name);
    if (hs_config_parse((const uint8_t *)yaml, strlen(yaml), "backfill.yaml", &cfg, &err) != HS_OK)
        goto fail;
    struct hs_invoice_term terms[1] = {{.name = "Net 30", .due_days = 30}};
    const char *stages[1] = {"closedwon"};
    struct hs_engine_invoicing iv = {.won_stages = stages,
                                     .n_won_stages = 1,
                                     .policy = a->policy(HS_TAX_NONE),
                                     .terms = terms,
                                     .n_terms = 1,
                                     .payment_terms = "Net 30",
                                     .default_currency = "USD",
                                     .provider = a->display};
    struct hs_engine_config ec = {
        .config = cfg,
        .store = store,
        .crm = {.ops = &hs_connector_hubspot_ops, .conn = crm, .conn_id = "crm", .limiter = crm_rl},
        .accounting = {.ops = a->ops, .conn = acc, .conn_id = "accounting", .limiter = acc_rl},
        .env = &env,
        .invoicing = &iv,
        .slice = (size_t)o->slice,
    };
    if (hs_engine_open(&ec, &e, &err) != HS_OK)
        goto fail;

    /* the measured part */
    counting_reset(&cnt);
    if (o->trace[0] != '\0' && (cnt.trace = fopen(o->trace, "a")) == NULL) {
        fprintf(stderr, "backfill: cannot open the trace '%s': %s\n", o->trace, strerror(errno));
        goto out;
    }
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
    struct hs_connector_limits lim = {0};
    a->ops->limits(acc, HS_KIND_CUSTOMER, &lim);
    struct min_row mins[32];
    size_t n_min = min_hubspot(&wc, mins);
    n_min += a->minimum(&wc, lim.write_batch > 0 ? (long)lim.write_batch : 1, mins + n_min);
    struct bound bd;
    compute_bound(a, mix, &wc, mins, n_min, &bd);
    long recs = o->companies + o->deals;
    printf("\n== backfill HubSpot -> %s, rate limits %s", a->display, limits ? "ON" : "off");
    if (limits)
        printf(" (published limits; time compressed %ldx for both the sandbox's windows and the "
               "engine's limiter: %.1f s of limits per second)",
               scale, (double)scale);
    if (a->singles && !mix)
        printf("; fewest calls: batches only (setting single_requests never)");
    printf("\n   %ld companies (1 contact each, %s side empty), %ld closed-won deals x %ld "
           "lines in %s, %d products (%ld already in %s); %s write_batch %zu; store in %s; "
           "seeding took %.1f s\n",
           o->companies, a->display, o->deals, o->lines,
           o->mixed_currency ? "their company's currency" : "USD", PRODUCTS, wc.products_in_acct,
           a->display, a->display, lim.write_batch, o->store_dir, t_seed);
    printf("\n  %-11s %-56s %7s %7s %6s %6s\n", "provider", "endpoint", "calls", "minimum", "ratio",
           "failed");
    long tot_hub = 0, tot_acct = 0, min_hub = 0, min_acct = 0, acct_writes = 0;
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
        *(hub ? &min_hub : &min_acct) += mins[m].calls;
        *(hub ? &tot_hub : &tot_acct) += actual;
        acct_writes += mins[m].write ? actual : 0;
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
        *(hub ? &tot_hub : &tot_acct) += cnt.rows[i].calls;
        printf("  %-11s %-56s %7ld %7d %6s %6ld  not in the minimum\n", cnt.rows[i].provider,
               cnt.rows[i].endpoint, cnt.rows[i].calls, 0, "-", cnt.rows[i].failed);
    }
    double r_hub = (double)tot_hub / (double)min_hub;
    double r_acct = (double)tot_acct / (double)min_acct;
    double r_all = (double)(tot_hub + tot_acct) / (double)(min_hub + min_acct);
    printf("  %-11s %-56s %7ld %7ld %6.2f\n", "hubspot", "total", tot_hub, min_hub, r_hub);
    printf("  %-11s %-56s %7ld %7ld %6.2f\n", a->name, "total", tot_acct, min_acct, r_acct);
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
    if (limits)
        printf("   (simulated %.0f s = %.2f days at the provider's speed)", wall * (double)scale,
               wall * (double)scale * 1000.0 / (double)DAY_MS);
    printf("\n  records/s             %.0f   (%ld companies + deals)\n", (double)recs / wall, recs);
    double sbx_cpu = sandbox_cpu_s(&sb);
    int64_t rl_calls = 0, rl_hub_ms = 0, rl_acct_ms = 0;
    if (crm_rl != NULL)
        hs_ratelimit_stats(crm_rl, &rl_calls, &rl_hub_ms);
    if (acc_rl != NULL)
        hs_ratelimit_stats(acc_rl, &rl_calls, &rl_acct_ms);
    if (limits)
        printf("  limiter waits         HubSpot %.2f s, %s %.2f s (inside the engine time "
               "below)\n",
               (double)rl_hub_ms / 1000.0, a->display, (double)rl_acct_ms / 1000.0);
    double load[1] = {-1};
    if (getloadavg(load, 1) != 1)
        load[0] = -1;
    printf("  machine load          %.2f (1-minute load average at the end; 2 cores: above 2 the "
           "run shared the CPUs)\n",
           load[0]);
    printf("  time split            %.2f s waiting for provider answers (sandbox CPU %.2f s), "
           "%.2f s in the engine and store (bench process CPU: user %.2f s, sys %.2f s)\n",
           cnt.seconds, sbx_cpu, wall - cnt.seconds,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    printf("  calls                 %ld / minimum %ld = %.2fx   (target <= %.2fx: %s)%s\n",
           tot_hub + tot_acct, min_hub + min_acct, r_all, TARGET_CALL_RATIO,
           met(r_all <= TARGET_CALL_RATIO),
           sbx_total >= 0 && sbx_total != tot_hub + tot_acct ? "  (sandbox counted another total!)"
                                                             : "");
    if (limits && mix && bd.singles > 0)
        printf("                        (with limits on the bound itself mixes in %ld single "
               "creates: its %ld calls are %.2fx the batch minimum, and these calls %.2fx "
               "the bound's)\n",
               bd.singles, min_hub + bd.acct_calls,
               (double)(min_hub + bd.acct_calls) / (double)(min_hub + min_acct),
               (double)(tot_hub + tot_acct) / (double)(min_hub + bd.acct_calls));
    printf("  calls per record      %.4f   (minimum %.4f)\n",
           (double)(tot_hub + tot_acct) / (double)recs,
           (double)(min_hub + min_acct) / (double)recs);
    printf("  peak RSS              %.1f MB", rss_mb);
    if (!limits)
        printf("   (target <= %.0f MB: %s)", TARGET_RSS_MB, met(rss_mb <= TARGET_RSS_MB));
    printf("\n  failed requests       %ld (429: %ld)   engine errors %zu\n", cnt.failed,
           cnt.status_429, errors);
    if (stats != NULL) {
        const json_t *ph = json_object_get(json_object_get(stats, "providers"), "hubspot");
        const json_t *pa = json_object_get(json_object_get(stats, "providers"), a->name);
        printf("  sandbox 4xx/5xx       HubSpot %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
               ", %s %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT "\n",
               json_integer_value(json_object_get(json_object_get(ph, "status"), "4xx")),
               json_integer_value(json_object_get(json_object_get(ph, "status"), "5xx")),
               a->display,
               json_integer_value(json_object_get(json_object_get(pa, "status"), "4xx")),
               json_integer_value(json_object_get(json_object_get(pa, "status"), "5xx")));
    }
    if (limits) {
        double bound_s = bd.ms / 1000.0 / (double)scale;
        printf("  bound                 %.2f s compressed (%.1f s at real speed, %ld whole days "
               "waited): the larger of HubSpot %.1f s and %s %.1f s\n",
               bound_s, bd.ms / 1000.0, bd.days, bd.hub_ms / 1000.0, a->display,
               bd.acct_ms / 1000.0);
        printf("  bound model           fixed windows from the first call, each call as early as "
               "all windows together allow (full windows before the last); HubSpot %ld calls (all "
               "%d/%.0f s), %ld searches (%d/%.0f s); %s %ld "
               "calls",
               min_hub, HUB_ALL_LIMIT, HUB_ALL_WINDOW / 1000.0, bd.hub_search, HUB_SEARCH_LIMIT,
               HUB_SEARCH_WINDOW / 1000.0, a->display, bd.acct_calls);
        if (mix)
            printf(" (%ld batches + %ld single creates)", bd.batches, bd.singles);
        else
            printf(" (%ld writes)", bd.acct_writes);
        for (size_t i = 0; i < a->n_windows; i++)
            printf("; %s %ld/%.0f s alone -> %.1f s", a->windows[i].scope, a->windows[i].limit,
                   (double)a->windows[i].window_ms / 1000.0, bd.win_ms[i] / 1000.0);
        printf("; together -> %.1f s", bd.acct_ms / 1000.0);
        printf("\n  wall / bound          %.3fx   (target <= %.2fx: %s)\n", wall / bound_s,
               TARGET_BOUND_RATIO, met(wall <= TARGET_BOUND_RATIO * bound_s));
        double made = acct_time(a, tot_acct, acct_writes, NULL);
        if (made > 0)
            printf("                        (the %ld %s calls made need %.2f s compressed under "
                   "the same windows, %.0f s at real speed, %ld whole days waited: wall / that "
                   "%.3fx)\n",
                   tot_acct, a->display, made / 1000.0 / (double)scale, made / 1000.0,
                   (long)(made / (double)DAY_MS), wall / (made / 1000.0 / (double)scale));
        if (mix)
            printf("                        (batches only, %s alone would need %.2f s "
                   "compressed, %.2fx the bound)\n",
                   a->display, bd.acct_batch_only_ms / 1000.0 / (double)scale,
                   bd.acct_batch_only_ms / bd.ms);
        printf("  limiter slack         each window held 1%% + 15 ms longer "
               "(hs_conn_limiter_window_ms):");
        for (size_t i = 0; i < a->n_windows; i++) {
            int64_t w = cdiv(a->windows[i].window_ms, scale);
            printf(" %s %" PRId64 " -> %" PRId64 " ms (+%.1f%%)", a->windows[i].scope, w,
                   hs_conn_limiter_window_ms(w),
                   100.0 * (double)(hs_conn_limiter_window_ms(w) - w) / (double)w);
        }
        printf("\n");
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
        a->ops->close(acc);
    hs_ratelimit_free(crm_rl);
    hs_ratelimit_free(acc_rl);
    json_decref(hub_set);
    json_decref(acct_set);
    json_decref(stats);
    json_decref(j);
    if (cnt.inner.ops != NULL)
        hs_http_transport_close(&cnt.inner);
    if (cnt.trace != NULL)
        fclose(cnt.trace);
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
    fprintf(stderr,
            "usage: backfill [--accounting quickbooks|xero|zohobooks|all] [--limits off|on] "
            "[--scale N] [--companies N] [--deals N] [--lines 1-6] [--mixed-currency] "
            "[--store-dir DIR] [--sandbox PATH] [--trace FILE] [--slice N] [--fewest-calls]\n"
            "  default: quickbooks, both modes, 10000 companies, 10000 deals, 3 lines, the "
            "provider's scale (quickbooks 10, xero 4, zohobooks 960)\n"
            "  --trace FILE: one line per call of the passes (start ms, duration ms, status, "
            "provider, endpoint), appended\n"
            "  --slice N: the engine's slice (records held at once; default 1200)\n"
            "  --fewest-calls: QuickBooks sends batches only (setting single_requests never) and "
            "the bound counts batches only\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct opts o = {
        .limits = -1, .accounting = 0, .scale = 0, .companies = 10000, .deals = 10000, .lines = 3};
    int i = 1;
    while (i < argc) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = v != NULL;
        int used = 2; /* the option and its value */
        if (ok && strcmp(a, "--limits") == 0) {
            ok = strcmp(v, "on") == 0 || strcmp(v, "off") == 0;
            o.limits = strcmp(v, "on") == 0;
        } else if (ok && strcmp(a, "--accounting") == 0) {
            o.accounting = -2;
            for (size_t k = 0; k < N_ACCTS; k++)
                if (strcmp(v, ACCTS[k].name) == 0)
                    o.accounting = (int)k;
            if (strcmp(v, "all") == 0)
                o.accounting = -1;
            ok = o.accounting >= -1;
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
        } else if (strcmp(a, "--fewest-calls") == 0) {
            o.fewest = true;
            ok = true;
            used = 1;
        } else if (ok && strcmp(a, "--slice") == 0) {
            ok = parse_long(v, 1, 1000000, &o.slice);
        } else if (ok && strcmp(a, "--trace") == 0) {
            snprintf(o.trace, sizeof o.trace, "%s", v);
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
    if (o.limits >= 0 && o.accounting >= 0) { /* one run: in this process */
        status = run_mode(&o, &ACCTS[o.accounting], o.limits == 1);
        curl_global_cleanup();
        return status;
    }
    size_t first = o.accounting >= 0 ? (size_t)o.accounting : 0;
    size_t last = o.accounting >= 0 ? (size_t)o.accounting + 1 : N_ACCTS;
    for (int run = (int)first * 2; run < (int)last * 2; run++) {
        const struct acct *acct = &ACCTS[run / 2];
        int mode = run % 2;
        if (o.limits >= 0 && mode != o.limits)
            continue;
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork(); /* each mode in its own process: its own peak RSS */
        if (pid < 0) {
            fprintf(stderr, "backfill: fork: %s\n", strerror(errno));
            return 1;
        }
        if (pid == 0) {
            int rc = run_mode(&o, acct, mode == 1);
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
