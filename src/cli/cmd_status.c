/*
 * cli/cmd_status.c - `hoopsync status`: per flow, when it last ran, how many records are in
 *                    sync (linked), what is pending and how many errors and conflicts wait.
 *
 * Design:     reads only the store (no provider call): run records written by the engine
 *             after each pass, links per object, the dirty set and the open queue items.
 *             Pending, per flow, counts the dirty entries of what the flow reads: its object
 *             on both sides (customers, items), the deals (invoices) or the accounting
 *             side's invoices, whose payments come back to the deals (payments); the total
 *             is the whole dirty set. A payments flow's records in sync are the linked
 *             invoices whose status it keeps on the deals. A connection paused
 *             by its provider's limits (cli/pause.c) gets a line saying why and when work
 *             resumes.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "config/config.h"
#include "core/mapping.h"
#include "hoopsync/store.h"
#include "util/alloc.h"
#include "util/env.h"
#include "util/json.h"

static const char usage[] = "usage: hoopsync status [--json]\n"
                            "\n"
                            "Show, for every flow of hoopsync.yaml: when it last ran, how many "
                            "records are\n"
                            "linked and in sync, how many changes are pending, and how many "
                            "errors, conflicts\n"
                            "and review items wait for a person; and, when a provider's limit "
                            "paused the\n"
                            "sync, when work resumes. Reads the workspace only.\n"
                            "\n"
                            "options:\n"
                            "  --json      print the status as JSON\n"
                            "  -h, --help  show this help\n";

enum { OPT_JSON = 1 };

static int count_link(void *ud, const struct hs_store_link *l)
{
    (void)l;
    (*(int64_t *)ud)++;
    return 0;
}

/* What a flow reads: the object of its links and dirty entries, and the side (0: both). */
static const char *flow_object(const struct hs_config_flow *f, int *side)
{
    *side = 0;
    if (f->objects == HS_CONFIG_OBJECT_INVOICES)
        *side = HS_STORE_CRM;
    if (f->objects == HS_CONFIG_OBJECT_PAYMENTS) {
        *side = HS_STORE_ACCOUNTING;
        return hs_kind_name(HS_KIND_INVOICE);
    }
    const char *object = hs_kind_name(hs_mapping_kind_of(f->objects));
    return object != NULL ? object : "";
}

static void fmt_time(int64_t ms, char *out, size_t len)
{
    if (ms <= 0) {
        snprintf(out, len, "never");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, len, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
        snprintf(out, len, "%lld", (long long)ms);
}

int hs_cli_cmd_status(int argc, char **argv, struct hs_cli *cli)
{
    static const struct hs_cli_opt opts[] = {
        {"json", 0, false, OPT_JSON},
        {NULL, 0, false, 0},
    };
    struct hs_cli_args a;
    hs_cli_args_init(&a, argc, argv, usage);
    bool json = false;
    for (;;) {
        int id = hs_cli_next_opt(cli, &a, opts);
        if (id == 0)
            break;
        if (id < 0)
            return HS_CLI_EXIT_USAGE;
        if (id == HS_CLI_OPT_HELP)
            return hs_cli_help(cli, usage);
        if (id == OPT_JSON)
            json = true;
    }
    if (a.ind < argc)
        return hs_cli_usage_error(cli, usage, "unexpected argument '%s'", argv[a.ind]);
    struct hs_cli_ws *ws = NULL;
    int rc = hs_cli_ws_open(cli, false, &ws);
    if (rc != HS_CLI_EXIT_OK)
        return rc;
    struct hs_store *st = hs_cli_ws_store(ws);
    const struct hs_config *cfg = cli->config; /* loaded by hs_cli_ws_open */
    struct hs_error err = {0};
    int pending = hs_store_dirty_count(st, &err);
    json_t *flows = json_array();
    bool ok = pending >= 0 && flows != NULL;
    if (!json && ok)
        fprintf(cli->out, "%-14s %-10s %-21s %8s %8s %7s %9s %7s\n", "FLOW", "OBJECTS", "LAST RUN",
                "IN SYNC", "PENDING", "ERRORS", "CONFLICTS", "REVIEW");
    for (size_t i = 0; ok && i < cfg->n_flows; i++) {
        const struct hs_config_flow *f = &cfg->flows[i];
        int side = 0;
        const char *object = flow_object(f, &side);
        int64_t links = 0;
        if (hs_store_link_each(st, "crm", "accounting", object, count_link, &links, &err) !=
            HS_OK) {
            ok = false;
            break;
        }
        int waiting = hs_store_dirty_count_of(st, object, side, &err);
        int errors =
            hs_store_item_count(st, HS_STORE_ITEM_ERROR, f->name, HS_STORE_ITEM_OPEN, &err);
        int conflicts =
            hs_store_item_count(st, HS_STORE_ITEM_CONFLICT, f->name, HS_STORE_ITEM_OPEN, &err);
        int reviews =
            hs_store_item_count(st, HS_STORE_ITEM_REVIEW, f->name, HS_STORE_ITEM_OPEN, &err);
        if (errors < 0 || conflicts < 0 || reviews < 0 || waiting < 0) {
            ok = false;
            break;
        }
        int64_t last = 0;
        char *run = NULL;
        if (hs_store_run_get(st, f->name, &run, NULL) == HS_OK) {
            json_t *o = NULL;
            if (hs_json_parse((const uint8_t *)run, strlen(run), "run record", &o, NULL) == HS_OK) {
                json_t *v = json_object_get(o, "finished_at");
                if (json_is_integer(v))
                    last = (int64_t)json_integer_value(v);
                json_decref(o);
            }
            hs_free(run);
        }
        char when[32];
        fmt_time(last, when, sizeof when);
        if (json) {
            ok = json_array_append_new(
                     flows,
                     json_pack("{s:s,s:s,s:s,s:s?,s:I,s:I,s:I,s:I,s:I}", "flow", f->name, "objects",
                               hs_config_object_name(f->objects), "direction",
                               hs_config_direction_name(f->direction), "last_run",
                               last > 0 ? when : NULL, "in_sync", (json_int_t)links, "pending",
                               (json_int_t)waiting, "errors", (json_int_t)errors, "conflicts",
                               (json_int_t)conflicts, "review", (json_int_t)reviews)) == 0;
        } else {
            fprintf(cli->out, "%-14s %-10s %-21s %8lld %8d %7d %9d %7d\n", f->name,
                    hs_config_object_name(f->objects), when, (long long)links, waiting, errors,
                    conflicts, reviews);
        }
    }
    json_t *paused = ok ? json_array() : NULL;
    ok = ok && paused != NULL;
    static const char *const conns[] = {"crm", "accounting"};
    int64_t now = hs_env_now_ms(hs_cli_ws_env(ws));
    for (size_t i = 0; ok && i < 2; i++) {
        struct hs_cli_pause p;
        if (!hs_cli_pause_get(st, conns[i], &p) || p.until_ms <= now)
            continue;
        char when[32];
        fmt_time(p.until_ms, when, sizeof when);
        int64_t left_min = (p.until_ms - now + 59999) / 60000;
        if (json)
            ok =
                json_array_append_new(
                    paused, json_pack("{s:s,s:s,s:I,s:s}", "connection", conns[i], "until", when,
                                      "until_ms", (json_int_t)p.until_ms, "reason", p.reason)) == 0;
        else
            fprintf(cli->out,
                    "paused: %s\n        %s resumes at %s (in %lldh %02lldm); the %d pending "
                    "changes wait, nothing is dropped\n",
                    p.reason, conns[i], when, (long long)(left_min / 60),
                    (long long)(left_min % 60), pending);
    }
    if (ok && json) {
        json_t *o = json_pack("{s:O,s:I,s:O}", "flows", flows, "pending", (json_int_t)pending,
                              "paused", paused);
        ok = o != NULL && json_dumpf(o, cli->out, JSON_COMPACT) == 0;
        json_decref(o);
        if (ok)
            fputc('\n', cli->out);
    }
    json_decref(flows);
    json_decref(paused);
    rc = ok ? HS_CLI_EXIT_OK
            : hs_cli_fail(cli, "cannot read status: %s",
                          err.msg[0] != '\0' ? err.msg : "out of memory");
    hs_cli_ws_close(ws);
    return rc;
}
