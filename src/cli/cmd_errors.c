/*
 * cli/cmd_errors.c - `hoopsync errors list|retry`: records that could not be synced.
 *
 * Design:     an error item is raised by the engine for one record (validation failure,
 *             provider refusal) while the rest of its batch proceeds; it is settled by itself
 *             when the record later syncs. retry marks the record dirty again (one item, or
 *             every open one) so the next `hoopsync sync --once` processes it; it touches no
 *             provider.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "hoopsync/store.h"
#include "util/str.h"

static const char usage[] = "usage: hoopsync errors list [--all] [--json]\n"
                            "   or: hoopsync errors retry [ID]\n"
                            "\n"
                            "list shows the records that could not be synced and why, in words "
                            "a finance team\n"
                            "can act on (fix the record in its system, then retry). retry queues "
                            "one error (ID)\n"
                            "or all open errors for the next sync pass.\n"
                            "\n"
                            "options:\n"
                            "  --all       list settled errors too\n"
                            "  --json      print JSON\n"
                            "  -h, --help  show this help\n";

enum { OPT_ALL = 1, OPT_JSON };

struct list_ctx {
    struct hs_cli *cli;
    bool json;
    json_t *arr;
    int n;
};

static int list_cb(void *ud, const struct hs_store_item *it)
{
    struct list_ctx *c = ud;
    c->n++;
    if (c->json) {
        json_t *o = json_pack(
            "{s:I,s:s,s:s,s:s,s:s,s:s,s:s?,s:s,s:s?,s:I,s:I}", "id", (json_int_t)it->id, "state",
            hs_store_item_state_name(it->state), "flow", it->flow, "object", it->object, "side",
            hs_store_side_name(it->side), "record", it->remote_id, "other_id", it->other_id,
            "message", it->message, "resolution", it->resolution, "count", (json_int_t)it->count,
            "updated_at", (json_int_t)it->updated_at);
        return o == NULL || json_array_append_new(c->arr, o) != 0 ? HS_ENOMEM : 0;
    }
    fprintf(c->cli->out, "%-6lld %-9s %-12s %-11s %-16s %s\n", (long long)it->id,
            hs_store_item_state_name(it->state), it->flow, hs_store_side_name(it->side),
            it->remote_id, it->message);
    return 0;
}

static int list(struct hs_cli *cli, struct hs_store *st, bool all, bool json)
{
    struct list_ctx c = {.cli = cli, .json = json, .arr = json ? json_array() : NULL};
    if (json && c.arr == NULL)
        return hs_cli_fail(cli, "out of memory");
    if (!json)
        fprintf(cli->out, "%-6s %-9s %-12s %-11s %-16s %s\n", "ID", "STATE", "FLOW", "SIDE",
                "RECORD", "MESSAGE");
    struct hs_error err = {0};
    int rc = hs_store_item_each(st, HS_STORE_ITEM_ERROR, NULL, all ? -1 : HS_STORE_ITEM_OPEN,
                                list_cb, &c, &err);
    if (rc == HS_OK && json) {
        rc = json_dumpf(c.arr, cli->out, JSON_COMPACT) == 0 ? HS_OK : HS_ENOMEM;
        fputc('\n', cli->out);
    }
    json_decref(c.arr);
    if (rc != HS_OK)
        return hs_cli_fail(cli, "cannot list errors: %s",
                           err.msg[0] != '\0' ? err.msg : hs_strerror(rc));
    if (!json && c.n == 0)
        fprintf(cli->out, "no %serrors\n", all ? "" : "open ");
    return HS_CLI_EXIT_OK;
}

int hs_cli_cmd_errors(int argc, char **argv, struct hs_cli *cli)
{
    static const struct hs_cli_opt opts[] = {
        {"all", 0, false, OPT_ALL},
        {"json", 0, false, OPT_JSON},
        {NULL, 0, false, 0},
    };
    struct hs_cli_args a;
    hs_cli_args_init(&a, argc, argv, usage);
    bool all = false, json = false;
    const char *sub = NULL, *ids = NULL;
    for (;;) {
        int id = hs_cli_next_opt(cli, &a, opts);
        if (id < 0)
            return HS_CLI_EXIT_USAGE;
        if (id == HS_CLI_OPT_HELP)
            return hs_cli_help(cli, usage);
        if (id == OPT_ALL)
            all = true;
        else if (id == OPT_JSON)
            json = true;
        if (id != 0)
            continue;
        const char *op = hs_cli_shift_operand(&a);
        if (op == NULL)
            break;
        if (sub == NULL)
            sub = op;
        else if (ids == NULL)
            ids = op;
        else
            return hs_cli_usage_error(cli, usage, "unexpected argument '%s'", op);
    }
    if (sub == NULL)
        return hs_cli_usage_error(cli, usage, "missing subcommand (list or retry)");
    bool is_list = strcmp(sub, "list") == 0;
    if (!is_list && strcmp(sub, "retry") != 0)
        return hs_cli_usage_error(cli, usage, "unknown subcommand '%s' (list or retry)", sub);
    if (is_list && ids != NULL)
        return hs_cli_usage_error(cli, usage, "unexpected argument '%s'", ids);
    int64_t id = 0;
    if (ids != NULL && (hs_str_to_i64(ids, strlen(ids), &id) != HS_OK || id <= 0))
        return hs_cli_usage_error(cli, usage, "invalid error id '%s'", ids);
    struct hs_cli_ws *ws = NULL;
    int rc = hs_cli_ws_open(cli, false, &ws);
    if (rc != HS_CLI_EXIT_OK)
        return rc;
    if (is_list) {
        rc = list(cli, hs_cli_ws_store(ws), all, json);
    } else {
        struct hs_error err = {0};
        int n = hs_engine_retry(hs_cli_ws_store(ws), id, "crm", "accounting", &err);
        if (n < 0)
            rc = hs_cli_fail(cli, "cannot retry: %s", err.msg);
        else
            fprintf(cli->out, "queued %d record%s for the next sync\n", n, n == 1 ? "" : "s");
    }
    hs_cli_ws_close(ws);
    return rc;
}
