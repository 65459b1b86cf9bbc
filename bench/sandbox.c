/*
 * bench/sandbox.c - throughput of hoopsync-sandbox over loopback HTTP with keep-alive.
 *
 * Design:     starts the emulator in-process behind the real libmicrohttpd server (rate limits
 *             off, static token), then drives it from client threads, each with its own
 *             keep-alive libcurl transport: (1) single-record GETs of a HubSpot company for a
 *             fixed time, (2) HubSpot batch/create with 100 companies per call. Prints
 *             requests/s and records/s with the targets of issue 2 (10,000 GETs/s and 50,000
 *             records/s on the 2-core machine). Client and server share the machine's cores,
 *             so the figures are a lower bound for the server alone.
 *             Options: --seconds N (per phase, default 3), --clients N (default 2),
 *             --threads N (server threads, default 2).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "net/http.h"
#include "sandbox/sbx.h"
#include "util/alloc.h"

struct phase {
    const char *base;
    const char *company_id;
    double seconds;
    bool batch;
    long requests;
    long records;
    long failures;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *batch_body(long seq)
{
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = hs_buf_puts(&b, "{\"inputs\":[");
    for (int i = 0; i < 100 && rc == HS_OK; i++)
        rc = hs_buf_printf(&b,
                           "%s{\"properties\":{\"name\":\"Bench Company %ld-%d\",\"domain\":"
                           "\"bench-%ld-%d.example\",\"city\":\"Lisbon\"},\"associations\":[]}",
                           i ? "," : "", seq, i, seq, i);
    if (rc == HS_OK)
        rc = hs_buf_puts(&b, "]}");
    if (rc != HS_OK) {
        hs_buf_release(&b);
        return NULL;
    }
    return hs_buf_detach(&b);
}

static void *client(void *arg)
{
    struct phase *p = arg;
    struct hs_http_transport t;
    if (hs_http_curl_open(NULL, &t, NULL) != HS_OK)
        return NULL;
    struct hs_http_request req;
    hs_http_request_init(&req);
    struct hs_http_response resp;
    hs_http_response_init(&resp);
    char url[256];
    if (p->batch)
        snprintf(url, sizeof url, "%s/hubspot/crm/v3/objects/companies/batch/create", p->base);
    else
        snprintf(url, sizeof url, "%s/hubspot/crm/v3/objects/companies/%s", p->base, p->company_id);
    if (hs_http_request_set(&req, p->batch ? "POST" : "GET", url) != HS_OK ||
        hs_http_headers_add(&req.headers, "Authorization", "Bearer bench") != HS_OK ||
        hs_http_headers_add(&req.headers, "Content-Type", "application/json") != HS_OK)
        return NULL;
    double end = now_s() + p->seconds;
    long seq = (long)(uintptr_t)p * 7;
    while (now_s() < end) {
        if (p->batch) {
            char *body = batch_body(seq++);
            hs_buf_reset(&req.body);
            if (body == NULL || hs_buf_puts(&req.body, body) != HS_OK) {
                hs_free(body);
                break;
            }
            hs_free(body);
        }
        int rc = hs_http_send(&t, &req, &resp, NULL);
        p->requests++;
        if (rc != HS_OK || resp.status >= 300) {
            p->failures++;
        } else {
            p->records += p->batch ? 100 : 1;
        }
    }
    hs_http_response_release(&resp);
    hs_http_request_release(&req);
    hs_http_transport_close(&t);
    return NULL;
}

static void run_phase(const char *name, const char *base, const char *id, bool batch, int clients,
                      double seconds, const char *unit, double target)
{
    struct phase ph[16];
    pthread_t th[16];
    double t0 = now_s();
    for (int i = 0; i < clients; i++) {
        ph[i] = (struct phase){base, id, seconds, batch, 0, 0, 0};
        pthread_create(&th[i], NULL, client, &ph[i]);
    }
    long reqs = 0;
    long recs = 0;
    long fails = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        reqs += ph[i].requests;
        recs += ph[i].records;
        fails += ph[i].failures;
    }
    double el = now_s() - t0;
    double rate = (batch ? (double)recs : (double)reqs) / el;
    printf("%-34s %10.0f %s  (%ld requests, %ld failed, %.1f s, target >= %.0f: %s)\n", name, rate,
           unit, reqs, fails, el, target, rate >= target && fails == 0 ? "met" : "MISSED");
}

int main(int argc, char **argv)
{
    double seconds = 3;
    int clients = 2;
    unsigned threads = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
            clients = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = (unsigned)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: sandbox [--seconds N] [--clients N (1-16)] [--threads N]\n");
            return 2;
        }
    }
    if (clients < 1 || clients > 16 || seconds <= 0) {
        fprintf(stderr, "sandbox: --clients must be 1-16 and --seconds positive\n");
        return 2;
    }
    hs_alloc_setup_json();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct hs_error err;
    hs_error_clear(&err);
    struct hs_sbx_options opt = {0};
    opt.seed = 7;
    opt.seeded = true;
    opt.sizes.companies = 1000;
    opt.static_token = "bench";
    opt.no_rate_limits = true;
    opt.time_scale = 1;
    struct hs_sbx *sbx = NULL;
    if (hs_sbx_open(&opt, &sbx, &err) != HS_OK) {
        fprintf(stderr, "sandbox: %s\n", err.msg);
        return 1;
    }
    struct hs_http_server_config cfg = {.bind_addr = "127.0.0.1", .threads = threads};
    struct hs_http_server *srv = NULL;
    if (hs_http_server_open(&cfg, hs_sbx_handle, sbx, &srv, &err) != HS_OK) {
        fprintf(stderr, "sandbox: %s\n", err.msg);
        hs_sbx_close(sbx);
        return 1;
    }
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)hs_http_server_port(srv));

    /* find one company id to GET */
    struct hs_http_transport t;
    struct hs_http_request req;
    struct hs_http_response resp;
    char url[160];
    char id[64] = "";
    hs_http_request_init(&req);
    hs_http_response_init(&resp);
    snprintf(url, sizeof url, "%s/hubspot/crm/v3/objects/companies?limit=1", base);
    if (hs_http_curl_open(NULL, &t, &err) == HS_OK &&
        hs_http_request_set(&req, "GET", url) == HS_OK &&
        hs_http_headers_add(&req.headers, "Authorization", "Bearer bench") == HS_OK &&
        hs_http_send(&t, &req, &resp, &err) == HS_OK && resp.status == 200) {
        json_t *v = NULL;
        if (hs_http_response_parse_json(&resp, &v, &err) == HS_OK) {
            json_t *first = json_array_get(json_object_get(v, "results"), 0);
            const char *s = json_string_value(json_object_get(first, "id"));
            if (s != NULL)
                snprintf(id, sizeof id, "%s", s);
            json_decref(v);
        }
    }
    hs_http_transport_close(&t);
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    if (id[0] == '\0') {
        fprintf(stderr, "sandbox: could not list seeded companies (status %d) %s\n", resp.status,
                err.msg);
        hs_http_server_close(srv);
        hs_sbx_close(sbx);
        return 1;
    }

    printf("hoopsync-sandbox benchmark: loopback, keep-alive, %d client threads, %u server "
           "threads, %.0f s per phase, rate limits off\n",
           clients, threads, seconds);
    run_phase("HubSpot GET company by id", base, id, false, clients, seconds, "requests/s", 10000);
    run_phase("HubSpot batch/create (100/call)", base, id, true, clients, seconds, "records/s",
              50000);
    hs_http_server_close(srv);
    hs_sbx_close(sbx);
    curl_global_cleanup();
    return 0;
}
