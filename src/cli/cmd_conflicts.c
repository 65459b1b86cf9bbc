/*
 * cli/cmd_conflicts.c - `hoopsync conflicts list|show|resolve`: the conflicts queue.
 *
 * Design:     list and show read the store only. resolve opens both connectors, settles the
 *             conflict through hs_engine_resolve (the chosen value becomes the field's new
 *             truth) and runs one pass so the value reaches the other side at once.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "hoopsync/store.h"
#include "util/str.h"

static const char usage[] =
    "usage: hoopsync conflicts list [--all] [--json]\n"
    "   or: hoopsync conflicts show ID [--json]\n"
    "   or: hoopsync conflicts resolve ID --take crm|accounting|VALUE\n"
    "\n"
    "A conflict is a field changed on both sides to different values where the flow's\n"
    "authority is manual (or newest without reliable timestamps). The field is held on both\n"
    "sides until someone picks the value: the CRM's, the accounting system's, or a new one.\n"
    "resolve writes it to both sides with one sync pass.\n"
    "\n"
    "options:\n"
    "  --all          list resolved conflicts too\n"
    "  --json         print JSON\n"
    "  --take CHOICE  crm, accounting, or the value to use\n"
    "  -h, --help     show this help\n";

enum { OPT_ALL = 1, OPT_JSON, OPT_TAKE };

struct list_ctx {
    struct hs_cli *cli;
    bool json;
    json_t *arr;
    int n;
};

static json_t *item_json(const struct hs_store_item *it)
{
    json_t *detail = json_loads(it->detail != NULL ? it->detail : "{}", 0, NULL);
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s?,s:s,s:s,s:o?,s:s?,s:I,s:I,s:I}", "id",
                     (json_int_t)it->id, "kind", hs_store_item_kind_name(it->kind), "state",
                     hs_store_item_state_name(it->state), "flow", it->flow, "object", it->object,
                     "side", hs_store_side_name(it->side), "other_id", it->other_id, "record",
                     it->remote_id, "field", it->field != NULL ? it->field : "", "detail", detail,
                     "resolution", it->resolution, "count", (json_int_t)it->count, "created_at",
                     (json_int_t)it->created_at, "updated_at", (json_int_t)it->updated_at);
}

static int list_cb(void *ud, const struct hs_store_item *it)
{
    struct list_ctx *c = ud;
    c->n++;
    if (c->json) {
        json_t *o = item_json(it);
        return o == NULL || json_array_append_new(c->arr, o) != 0 ? HS_ENOMEM : 0;
    }
    fprintf(c->cli->out, "%-6lld %-9s %-12s %-10s %-24s %s\n", (long long)it->id,
            hs_store_item_state_name(it->state), it->flow, it->field, it->remote_id, it->message);
    return 0;
}

/* Lists items of kind (shared with errors via the same shape). */
static int list_items(struct hs_cli *cli, struct hs_store *st, enum hs_store_item_kind kind,
                      bool all, bool json)
{
    struct list_ctx c = {.cli = cli, .json = json, .arr = json ? json_array() : NULL};
    if (json && c.arr == NULL)
        return hs_cli_fail(cli, "out of memory");
    if (!json)
        fprintf(cli->out, "%-6s %-9s %-12s %-10s %-24s %s\n", "ID", "STATE", "FLOW", "FIELD",
                "RECORD", "MESSAGE");
    struct hs_error err = {0};
    int rc = hs_store_item_each(st, kind, NULL, all ? -1 : HS_STORE_ITEM_OPEN, list_cb, &c, &err);
    if (rc == HS_OK && json) {
        rc = json_dumpf(c.arr, cli->out, JSON_COMPACT) == 0 ? HS_OK : HS_ENOMEM;
        fputc('\n', cli->out);
    }
    json_decref(c.arr);
    if (rc != HS_OK)
        return hs_cli_fail(cli, "cannot list conflicts: %s",
                           err.msg[0] != '\0' ? err.msg : hs_strerror(rc));
    if (!json && c.n == 0)
        fprintf(cli->out, "no %sconflicts\n", all ? "" : "open ");
    return HS_CLI_EXIT_OK;
}

static int parse_id(struct hs_cli *cli, const char *s, int64_t *out)
{
    int64_t v = 0;
    if (hs_str_to_i64(s, strlen(s), &v) != HS_OK || v <= 0)
        return hs_cli_usage_error(cli, usage, "invalid conflict id '%s'", s);
    *out = v;
    return HS_CLI_EXIT_OK;
}

static int show(struct hs_cli *cli, struct hs_store *st, int64_t id, bool json)
{
    struct hs_store_item it = {0};
    struct hs_error err = {0};
    if (hs_store_item_get(st, id, &it, &err) != HS_OK || it.kind != HS_STORE_ITEM_CONFLICT) {
        hs_store_item_release(&it);
        return hs_cli_fail(cli, "no conflict %lld", (long long)id);
    }
    int rc = HS_CLI_EXIT_OK;
    if (json) {
        json_t *o = item_json(&it);
        if (o == NULL || json_dumpf(o, cli->out, JSON_COMPACT) != 0)
            rc = hs_cli_fail(cli, "out of memory");
        else
            fputc('\n', cli->out);
        json_decref(o);
    } else {
        json_t *d = json_loads(it.detail != NULL ? it.detail : "{}", 0, NULL);
        const char *cv = d != NULL ? json_string_value(json_object_get(d, "crm")) : NULL;
        const char *av = d != NULL ? json_string_value(json_object_get(d, "accounting")) : NULL;
        const char *af =
            d != NULL ? json_string_value(json_object_get(d, "accounting_field")) : NULL;
        fprintf(cli->out,
                "conflict %lld (%s)\n  flow:        %s\n  %s:  crm '%s' <-> accounting '%s'\n"
                "  field:       %s (crm) / %s (accounting)\n  crm value:   %s\n"
                "  acc. value:  %s\n  seen:        %lld time(s)\n  message:     %s\n",
                (long long)it.id, hs_store_item_state_name(it.state), it.flow, it.object,
                it.remote_id, it.other_id != NULL ? it.other_id : "-", it.field,
                af != NULL ? af : it.field, cv != NULL ? cv : "(empty)",
                av != NULL ? av : "(empty)", (long long)it.count, it.message);
        if (it.resolution != NULL)
            fprintf(cli->out, "  resolution:  %s\n", it.resolution);
        json_decref(d);
    }
    hs_store_item_release(&it);
    return rc;
}

static int resolve(struct hs_cli *cli, int64_t id, const char *take)
{
    struct hs_cli_ws *ws = NULL;
    int rc = hs_cli_ws_open(cli, true, &ws);
    if (rc != HS_CLI_EXIT_OK)
        return rc;
    struct hs_engine_report r;
    hs_engine_report_init(&r);
    struct hs_error err = {0};
    int erc = hs_engine_resolve(hs_cli_ws_engine(ws), id, take, &r, &err);
    if (erc == HS_OK)
        erc = hs_engine_run_once(hs_cli_ws_engine(ws), &r, &err);
    hs_cli_ws_progress_done(ws, cli);
    if (erc != HS_OK) {
        rc = hs_cli_fail(cli, "cannot resolve conflict %lld: %s", (long long)id, err.msg);
    } else {
        fprintf(cli->out, "resolved conflict %lld: take %s\n", (long long)id, take);
        rc = hs_cli_print_report(cli, &r, false, "sync");
    }
    hs_engine_report_release(&r);
    hs_cli_ws_close(ws);
    return rc;
}

int hs_cli_cmd_conflicts(int argc, char **argv, struct hs_cli *cli)
{
    static const struct hs_cli_opt opts[] = {
        {"all", 0, false, OPT_ALL},
        {"json", 0, false, OPT_JSON},
        {"take", 0, true, OPT_TAKE},
        {NULL, 0, false, 0},
    };
    struct hs_cli_args a;
    hs_cli_args_init(&a, argc, argv, usage);
    bool all = false, json = false;
    const char *take = NULL;
    /* options may follow the subcommand and its id: parse them in two rounds */
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
        else if (id == OPT_TAKE)
            take = a.arg;
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
        return hs_cli_usage_error(cli, usage, "missing subcommand (list, show or resolve)");
    struct hs_cli_ws *ws = NULL;
    int64_t id = 0;
    if (strcmp(sub, "list") == 0) {
        if (ids != NULL || take != NULL)
            return hs_cli_usage_error(cli, usage, "'conflicts list' takes no id or --take");
        int rc = hs_cli_ws_open(cli, false, &ws);
        if (rc == HS_CLI_EXIT_OK)
            rc = list_items(cli, hs_cli_ws_store(ws), HS_STORE_ITEM_CONFLICT, all, json);
        hs_cli_ws_close(ws);
        return rc;
    }
    if (strcmp(sub, "show") == 0 || strcmp(sub, "resolve") == 0) {
        if (ids == NULL)
            return hs_cli_usage_error(cli, usage, "missing conflict id");
        int rc = parse_id(cli, ids, &id);
        if (rc != HS_CLI_EXIT_OK)
            return rc;
        if (strcmp(sub, "resolve") == 0) {
            if (take == NULL || take[0] == '\0')
                return hs_cli_usage_error(cli, usage, "missing --take crm|accounting|VALUE");
            return resolve(cli, id, take);
        }
        rc = hs_cli_ws_open(cli, false, &ws);
        if (rc == HS_CLI_EXIT_OK)
            rc = show(cli, hs_cli_ws_store(ws), id, json);
        hs_cli_ws_close(ws);
        return rc;
    }
    return hs_cli_usage_error(cli, usage, "unknown subcommand '%s' (list, show or resolve)", sub);
}
