/*
 * fuzz/fuzz_sbx_request.c - libFuzzer target: arbitrary HTTP requests through hs_sbx_handle.
 *
 * Design:     the input is split at '\n' into method, path, query (empty line = none), then
 *             "Name: value" header lines up to an empty line; the rest is the body. The request
 *             goes through the whole sandbox (admin API, OAuth, every provider module) of one
 *             seeded instance created on the first call and kept for the process (opening one
 *             per input would dominate the run time). hs_sbx_stop is called at once, so
 *             injected latency and timeouts never sleep. Requests that would do I/O or heavy
 *             work outside request parsing are skipped: webhook subscriptions (the sender
 *             would open sockets), save (no --data anyway) and seed/reset (world generation
 *             of up to 200,000 companies per input).
 * Ownership:  every request and response is released per input; the instance is reachable
 *             from the static pointer, so leak checkers do not report it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sandbox/sbx.h"
#include "util/alloc.h"
#include "util/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct hs_sbx *instance(void)
{
    static struct hs_sbx *sbx = NULL; /* GLOBAL: one sandbox per fuzzing process */
    if (sbx == NULL) {
        hs_alloc_setup_json();
        struct hs_sbx_options opt;
        memset(&opt, 0, sizeof opt);
        opt.seed = 7;
        opt.seeded = true;
        opt.sizes.companies = 8;
        opt.sizes.products = 5;
        opt.sizes.deals = 10;
        opt.sizes.customers = 3;
        opt.static_token = "fuzz";
        if (hs_sbx_open(&opt, &sbx, NULL) != HS_OK)
            return NULL;
        hs_sbx_stop(sbx);
    }
    return sbx;
}

/* Next '\n'-terminated piece of [*p, end), as a new string; the whole rest if no '\n'. */
static char *next_line(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    const uint8_t *stop = nl ? nl : end;
    char *s = hs_strndup((const char *)*p, (size_t)(stop - *p));
    *p = nl ? nl + 1 : end;
    return s;
}

static bool skipped(const char *path)
{
    static const char *const skip[] = {"/_sandbox/webhooks", "/_sandbox/save", "/_sandbox/seed",
                                       "/_sandbox/reset"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (hs_str_starts(path, skip[i]))
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hs_sbx *sbx = instance();
    if (sbx == NULL || size > 1 << 20)
        return 0;
    const uint8_t *p = data;
    const uint8_t *end = data + size;
    struct hs_http_request req;
    hs_http_request_init(&req);
    req.method = next_line(&p, end);
    req.path = next_line(&p, end);
    char *query = next_line(&p, end);
    if (query != NULL && query[0] != '\0')
        req.query = query;
    else
        hs_free(query);
    req.peer = hs_strdup("127.0.0.1");
    bool ok = req.method && req.path && req.peer;
    while (ok && p < end) {
        char *line = next_line(&p, end);
        if (line == NULL || line[0] == '\0') {
            hs_free(line);
            break;
        }
        char *colon = strchr(line, ':');
        if (colon != NULL) {
            *colon = '\0';
            const char *v = colon + 1;
            while (*v == ' ')
                v++;
            ok = hs_http_headers_add(&req.headers, line, v) == HS_OK;
        }
        hs_free(line);
    }
    if (ok && p < end)
        ok = hs_buf_append(&req.body, p, (size_t)(end - p)) == HS_OK;
    if (ok && !skipped(req.path)) {
        struct hs_http_response resp;
        hs_http_response_init(&resp);
        (void)hs_sbx_handle(sbx, &req, &resp);
        hs_http_response_release(&resp);
    }
    hs_http_request_release(&req);
    return 0;
}
