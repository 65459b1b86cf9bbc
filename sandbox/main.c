/*
 * sandbox/main.c - the hoopsync-sandbox program: emulated provider APIs on one loopback port.
 *
 * Design:     parses the options into struct hs_sbx_options, opens the emulator
 *             (sandbox/sbx.c), serves it with the libmicrohttpd server (net/server.c) and
 *             prints exactly one line, "hoopsync-sandbox listening on http://ADDR:PORT", to
 *             stdout, flushed, so that scripts can read the port when they asked for --port 0.
 *             SIGINT and SIGTERM set a flag; the main thread polls it, then stops the
 *             emulator (cutting injected sleeps short), closes the server (in-flight requests
 *             finish) and closes the emulator, which saves --data.
 *             Exit status: 0 after a clean shutdown, 1 when the sandbox cannot start (port
 *             taken, unreadable --data), 2 for a usage error (unknown option, bad value).
 * Threads:    the server's worker threads and the webhook sender; this thread only waits.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "sandbox/sbx.h"
#include "util/alloc.h"
#include "util/str.h"

#ifndef HS_VERSION
#define HS_VERSION "0.0.0"
#endif

/* GLOBAL: the daemon's signal flag (STYLE.md section 6) */
static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static const char usage[] =
    "Usage: hoopsync-sandbox [OPTIONS]\n"
    "\n"
    "Serves local emulations of provider APIs (HubSpot CRM under /hubspot/, QuickBooks Online\n"
    "under /quickbooks/, Xero under /xero/, Zoho Books under /zohobooks/) and the admin API\n"
    "under /_sandbox/ on one HTTP port. Prints one line,\n"
    "\"hoopsync-sandbox listening on http://127.0.0.1:PORT\", once it is ready.\n"
    "\n"
    "Options:\n"
    "  --port P           TCP port to listen on; 0 picks a free port (default 0)\n"
    "  --bind ADDR        address to bind (default 127.0.0.1)\n"
    "  --seed N           fill every provider with deterministic data generated from seed N;\n"
    "                     without it (and without sizes) the tenants exist but hold no records\n"
    "  --companies N      CRM companies to generate (default 40; implies --seed 1 if no seed)\n"
    "  --contacts N       CRM contacts (default 2 per company)\n"
    "  --products N       products / items (default 20)\n"
    "  --deals N          deals, each with 1-6 line items (default 30)\n"
    "  --customers N      accounting customers that are not in the CRM (default 10)\n"
    "  --data FILE        load state from FILE at start if it exists, save it there on\n"
    "                     shutdown and on POST /_sandbox/save (written atomically)\n"
    "  --faults SPEC      inject faults, e.g. \"5xx=0.05,latency=20,429=0.01,dup=0.1\";\n"
    "                     keys: 5xx, timeout, 429, dup, reorder (rates 0..1), latency,\n"
    "                     timeout_ms, stall (milliseconds), stall_path, burst429,\n"
    "                     retry_after\n"
    "  --token TOKEN      static bearer token accepted by every provider and tenant\n"
    "  --no-rate-limits   switch the providers' rate limits off (benchmarks)\n"
    "  --time-scale N     divide rate-limit windows by N (60: a minute of limits per second)\n"
    "  --threads N        HTTP worker threads (default 2)\n"
    "  --help             show this help and exit\n"
    "  --version          show the version and exit\n"
    "\n"
    "Examples:\n"
    "  hoopsync-sandbox --port 0 --seed 7\n"
    "  hoopsync-sandbox --port 8080 --seed 7 --token dev-token --data sandbox.json\n"
    "  hoopsync-sandbox --port 0 --seed 1 --companies 10000 --deals 10000 --no-rate-limits\n"
    "  hoopsync-sandbox --port 0 --seed 7 --faults \"5xx=0.1,latency=50\"\n"
    "\n"
    "Exit status: 0 after SIGINT/SIGTERM, 1 if the sandbox cannot start, 2 on a usage error.\n"
    "See docs/sandbox.md for the admin API.\n";

static int usage_error(const char *fmt, ...) HS_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hoopsync-sandbox: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'hoopsync-sandbox --help'.\n");
    va_end(ap);
    return 2;
}

static bool parse_uint(const char *s, int64_t min, int64_t max, int64_t *out)
{
    int64_t v = 0;
    if (s == NULL || hs_str_to_i64(s, strlen(s), &v) != HS_OK || v < min || v > max)
        return false;
    *out = v;
    return true;
}

struct cli {
    struct hs_sbx_options opt;
    struct hs_http_server_config srv;
    bool seed_given;
    bool sizes_given;
};

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct cli *c)
{
    static const struct {
        const char *name;
        int64_t min;
        int64_t max;
    } nums[] = {
        {"--port", 0, 65535},        {"--seed", 0, INT64_MAX},    {"--companies", 1, 1000000},
        {"--contacts", 1, 1000000},  {"--products", 1, 1000000},  {"--deals", 1, 1000000},
        {"--customers", 1, 1000000}, {"--time-scale", 1, 100000}, {"--threads", 1, 256},
    };
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        char name[64];
        const char *value = NULL;
        char *eq = strchr(arg, '=');
        if (strncmp(arg, "--", 2) == 0 && eq != NULL && (size_t)(eq - arg) < sizeof name) {
            memcpy(name, arg, (size_t)(eq - arg));
            name[eq - arg] = '\0';
            value = eq + 1;
        } else if (strlen(arg) < sizeof name) {
            memcpy(name, arg, strlen(arg) + 1);
        } else {
            return usage_error("unknown option '%s'", arg);
        }
        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(name, "--version") == 0) {
            printf("hoopsync-sandbox %s\n", HS_VERSION);
            return 0;
        }
        if (strcmp(name, "--no-rate-limits") == 0) {
            if (value != NULL)
                return usage_error("option '%s' takes no value", name);
            c->opt.no_rate_limits = true;
            continue;
        }
        bool known = false;
        static const char *const strs[] = {"--bind", "--data", "--faults", "--token"};
        for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++)
            known = known || strcmp(name, strs[k]) == 0;
        for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++)
            known = known || strcmp(name, nums[k].name) == 0;
        if (!known)
            return usage_error("unknown option '%s'", name);
        if (value == NULL) {
            if (i + 1 >= argc)
                return usage_error("option '%s' needs a value", name);
            value = argv[++i];
        }
        if (strcmp(name, "--bind") == 0) {
            c->srv.bind_addr = value;
        } else if (strcmp(name, "--data") == 0) {
            if (value[0] == '\0')
                return usage_error("option '%s' needs a file name", name);
            c->opt.data_file = value;
        } else if (strcmp(name, "--faults") == 0) {
            c->opt.faults = value;
        } else if (strcmp(name, "--token") == 0) {
            if (value[0] == '\0')
                return usage_error("option '%s' needs a non-empty token", name);
            c->opt.static_token = value;
        } else {
            for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
                if (strcmp(name, nums[k].name) != 0)
                    continue;
                int64_t v = 0;
                if (!parse_uint(value, nums[k].min, nums[k].max, &v)) {
                    char range[64];
                    snprintf(range, sizeof range, "%lld to %lld", (long long)nums[k].min,
                             (long long)nums[k].max);
                    fprintf(stderr,
                            "hoopsync-sandbox: invalid value '%s' for option '%s': an integer "
                            "from %s is expected\nTry 'hoopsync-sandbox --help'.\n",
                            value, name, range);
                    return 2;
                }
                if (strcmp(name, "--port") == 0)
                    c->srv.port = (uint16_t)v;
                else if (strcmp(name, "--seed") == 0) {
                    c->opt.seed = (uint64_t)v;
                    c->seed_given = true;
                } else if (strcmp(name, "--companies") == 0) {
                    c->opt.sizes.companies = (unsigned)v;
                    c->sizes_given = true;
                } else if (strcmp(name, "--contacts") == 0) {
                    c->opt.sizes.contacts = (unsigned)v;
                    c->sizes_given = true;
                } else if (strcmp(name, "--products") == 0) {
                    c->opt.sizes.products = (unsigned)v;
                    c->sizes_given = true;
                } else if (strcmp(name, "--deals") == 0) {
                    c->opt.sizes.deals = (unsigned)v;
                    c->sizes_given = true;
                } else if (strcmp(name, "--customers") == 0) {
                    c->opt.sizes.customers = (unsigned)v;
                    c->sizes_given = true;
                } else if (strcmp(name, "--time-scale") == 0)
                    c->opt.time_scale = (uint32_t)v;
                else if (strcmp(name, "--threads") == 0)
                    c->srv.threads = (unsigned)v;
            }
        }
    }
    c->opt.seeded = c->seed_given || c->sizes_given;
    if (c->opt.seeded && !c->seed_given)
        c->opt.seed = 1;
    return -1;
}

int main(int argc, char **argv)
{
    struct cli c;
    memset(&c, 0, sizeof c);
    c.srv.bind_addr = "127.0.0.1";
    int status = parse_args(argc, argv, &c);
    if (status >= 0)
        return status;

    hs_alloc_setup_json();
    curl_global_init(CURL_GLOBAL_DEFAULT); /* GLOBAL: once, before any thread (STYLE.md 6) */

    struct hs_error err;
    hs_error_clear(&err);
    struct hs_sbx *sbx = NULL;
    int rc = hs_sbx_open(&c.opt, &sbx, &err);
    if (rc != HS_OK) {
        fprintf(stderr, "hoopsync-sandbox: %s\n", err.msg);
        curl_global_cleanup();
        return rc == HS_EINVAL ? 2 : 1;
    }
    struct hs_http_server *srv = NULL;
    rc = hs_http_server_open(&c.srv, hs_sbx_handle, sbx, &srv, &err);
    if (rc != HS_OK) {
        fprintf(stderr, "hoopsync-sandbox: %s\n", err.msg);
        hs_sbx_close(sbx);
        curl_global_cleanup();
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char *host = c.srv.bind_addr;
    bool v6 = strchr(host, ':') != NULL;
    printf("hoopsync-sandbox listening on http://%s%s%s:%u\n", v6 ? "[" : "", host, v6 ? "]" : "",
           (unsigned)hs_http_server_port(srv));
    fflush(stdout);

    while (!g_stop) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }

    hs_sbx_stop(sbx);
    hs_http_server_close(srv);
    hs_sbx_close(sbx);
    curl_global_cleanup();
    return 0;
}
