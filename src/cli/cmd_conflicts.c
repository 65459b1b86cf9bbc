/*
 * cli/cmd_conflicts.c - `hoopsync conflicts list|show|resolve` (the conflicts queue) and
 *                       `hoopsync reviews list|show|resolve` (grey-zone matches).
 *
 * Design:     both queues are store items of one shape; one implementation serves both,
 *             told apart by struct queue (noun, item kind, usage). list and show read the
 *             store only. conflicts resolve opens both connectors, settles the conflict
 *             through hs_engine_resolve (the chosen value becomes the field's new truth) and
 *             runs one pass so the value reaches the other side at once. reviews resolve
 *             stores the person's decision (the records are one: link; or two: each side
 *             gets its own), marks both records changed and runs one pass, which acts on it.
 *             Either prints what the pass did to the item's records, then the pass's counts.
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

static const char conflicts_usage[] =
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

static const char reviews_usage[] =
    "usage: hoopsync reviews list [--all] [--json]\n"
    "   or: hoopsync reviews show ID [--json]\n"
    "   or: hoopsync reviews resolve ID --link|--separate\n"
    "\n"
    "A review is a possible match the sync would not guess: a CRM record and an accounting\n"
    "record alike enough to be the same customer or item, not enough to link them (the\n"
    "flow's matching thresholds). Neither is linked nor created until someone decides:\n"
    "--link makes them one record (linked, then merged as the flow's authority says);\n"
    "--separate says they are different (each side then gets its own copy, as the flow's\n"
    "direction allows). resolve stores the decision and runs one sync pass to apply it.\n"
    "\n"
    "options:\n"
    "  --all       list resolved reviews too\n"
    "  --json      print JSON\n"
    "  --link      the two records are the same: link them\n"
    "  --separate  the two records are different: keep them apart\n"
    "  -h, --help  show this help\n";

struct queue {
    const char *noun;   /* "conflict" / "review" */
    const char *plural; /* the command */
    enum hs_store_item_kind kind;
    const char *usage;
};

static const struct queue conflicts_q = {"conflict", "conflicts", HS_STORE_ITEM_CONFLICT,
                                         conflicts_usage};
static const struct queue reviews_q = {"review", "reviews", HS_STORE_ITEM_REVIEW, reviews_usage};

enum { OPT_ALL = 1, OPT_JSON, OPT_TAKE, OPT_LINK, OPT_SEPARATE };

struct list_ctx {
    const struct queue *q;
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
    if (c->q->kind == HS_STORE_ITEM_REVIEW)
        fprintf(c->cli->out, "%-6lld %-9s %-12s %-16s %-24s %s\n", (long long)it->id,
                hs_store_item_state_name(it->state), it->flow, it->remote_id,
                it->other_id != NULL ? it->other_id : "-", it->message);
    else
        fprintf(c->cli->out, "%-6lld %-9s %-12s %-16s %-24s %s\n", (long long)it->id,
                hs_store_item_state_name(it->state), it->flow, it->field, it->remote_id,
                it->message);
    return 0;
}

static int list_items(struct hs_cli *cli, struct hs_store *st, const struct queue *q, bool all,
                      bool json)
{
    struct list_ctx c = {.q = q, .cli = cli, .json = json, .arr = json ? json_array() : NULL};
    if (json && c.arr == NULL)
        return hs_cli_fail(cli, "out of memory");
    if (!json && q->kind == HS_STORE_ITEM_REVIEW)
        fprintf(cli->out, "%-6s %-9s %-12s %-16s %-24s %s\n", "ID", "STATE", "FLOW", "CRM RECORD",
                "ACCOUNTING RECORD", "MESSAGE");
    else if (!json)
        fprintf(cli->out, "%-6s %-9s %-12s %-16s %-24s %s\n", "ID", "STATE", "FLOW", "FIELD",
                "RECORD", "MESSAGE");
    struct hs_error err = {0};
    int rc =
        hs_store_item_each(st, q->kind, NULL, all ? -1 : HS_STORE_ITEM_OPEN, list_cb, &c, &err);
    if (rc == HS_OK && json) {
        rc = json_dumpf(c.arr, cli->out, JSON_COMPACT) == 0 ? HS_OK : HS_ENOMEM;
        fputc('\n', cli->out);
    }
    json_decref(c.arr);
    if (rc != HS_OK)
        return hs_cli_fail(cli, "cannot list %s: %s", q->plural,
                           err.msg[0] != '\0' ? err.msg : hs_strerror(rc));
    if (!json && c.n == 0)
        fprintf(cli->out, "no %s%s\n", all ? "" : "open ", q->plural);
    return HS_CLI_EXIT_OK;
}

static int parse_id(struct hs_cli *cli, const struct queue *q, const char *s, int64_t *out)
{
    int64_t v = 0;
    if (hs_str_to_i64(s, strlen(s), &v) != HS_OK || v <= 0)
        return hs_cli_usage_error(cli, q->usage, "invalid %s id '%s'", q->noun, s);
    *out = v;
    return HS_CLI_EXIT_OK;
}

/* Spaces after "<object>:" so the values line up with the other labels (12 columns). */
static int label_pad(const char *object)
{
    int n = (int)strlen(object);
    return n < 12 ? 12 - n : 1;
}

static int show(struct hs_cli *cli, struct hs_store *st, const struct queue *q, int64_t id,
                bool json)
{
    struct hs_store_item it = {0};
    struct hs_error err = {0};
    if (hs_store_item_get(st, id, &it, &err) != HS_OK || it.kind != q->kind) {
        hs_store_item_release(&it);
        return hs_cli_fail(cli, "no %s %lld ('hoopsync %s list --all' lists them)", q->noun,
                           (long long)id, q->plural);
    }
    int rc = HS_CLI_EXIT_OK;
    if (json) {
        json_t *o = item_json(&it);
        if (o == NULL || json_dumpf(o, cli->out, JSON_COMPACT) != 0)
            rc = hs_cli_fail(cli, "out of memory");
        else
            fputc('\n', cli->out);
        json_decref(o);
    } else if (q->kind == HS_STORE_ITEM_REVIEW) {
        fprintf(cli->out,
                "review %lld (%s)\n  flow:        %s\n  %s:%*scrm '%s' <-> accounting '%s'\n"
                "  seen:        %lld time(s)\n  message:     %s\n",
                (long long)it.id, hs_store_item_state_name(it.state), it.flow, it.object,
                label_pad(it.object), "", it.remote_id, it.other_id != NULL ? it.other_id : "-",
                (long long)it.count, it.message);
        if (it.resolution != NULL)
            fprintf(cli->out, "  resolution:  %s\n", it.resolution);
    } else {
        json_t *d = json_loads(it.detail != NULL ? it.detail : "{}", 0, NULL);
        const char *cv = d != NULL ? json_string_value(json_object_get(d, "crm")) : NULL;
        const char *av = d != NULL ? json_string_value(json_object_get(d, "accounting")) : NULL;
        const char *af =
            d != NULL ? json_string_value(json_object_get(d, "accounting_field")) : NULL;
        fprintf(cli->out,
                "conflict %lld (%s)\n  flow:        %s\n  %s:%*scrm '%s' <-> accounting '%s'\n"
                "  field:       %s (crm) / %s (accounting)\n  crm value:   %s\n"
                "  acc. value:  %s\n  seen:        %lld time(s)\n  message:     %s\n",
                (long long)it.id, hs_store_item_state_name(it.state), it.flow, it.object,
                label_pad(it.object), "", it.remote_id, it.other_id != NULL ? it.other_id : "-",
                it.field, af != NULL ? af : it.field, cv != NULL ? cv : "(empty)",
                av != NULL ? av : "(empty)", (long long)it.count, it.message);
        if (it.resolution != NULL)
            fprintf(cli->out, "  resolution:  %s\n", it.resolution);
        json_decref(d);
    }
    hs_store_item_release(&it);
    return rc;
}

/* What the pass did to the item's records (crm_id / acc_id), then the pass's counts. */
static void print_outcome(struct hs_cli *cli, const struct hs_engine_report *r, const char *crm_id,
                          const char *acc_id)
{
    for (size_t i = 0; i < r->n_actions; i++) {
        const struct hs_engine_action *a = &r->actions[i];
        bool mine =
            (crm_id != NULL && (hs_str_eq(a->source_id, crm_id) ||
                                (a->target_id != NULL && hs_str_eq(a->target_id, crm_id)))) ||
            (acc_id != NULL && (hs_str_eq(a->source_id, acc_id) ||
                                (a->target_id != NULL && hs_str_eq(a->target_id, acc_id))));
        if (mine)
            fprintf(cli->out, "  %-9s %s%s%s%s\n", hs_engine_action_name(a->kind), a->reason,
                    a->fields != NULL ? " [" : "", a->fields != NULL ? a->fields : "",
                    a->fields != NULL ? "]" : "");
    }
    fprintf(cli->out,
            "sync: %zu created, %zu updated, %zu linked, %zu conflicts, %zu errors, %zu reviews "
            "(%zu changes seen)\n",
            r->n_created, r->n_updated, r->n_linked, r->n_conflicts, r->n_errors, r->n_reviews,
            r->n_changes_seen);
}

/* Stores a person's decision on review item id and marks both records changed. */
static int decide_review(struct hs_store *st, int64_t id, const char *decision,
                         struct hs_store_item *it, struct hs_error *err)
{
    int rc = hs_store_item_get(st, id, it, err);
    if (rc == HS_ENOTFOUND || (rc == HS_OK && it->kind != HS_STORE_ITEM_REVIEW))
        return hs_error_set(err, HS_ENOTFOUND,
                            "no review %lld ('hoopsync reviews list --all' lists them)",
                            (long long)id);
    if (rc != HS_OK)
        return rc;
    if (it->state == HS_STORE_ITEM_RESOLVED)
        return hs_error_set(err, HS_EINVAL, "review %lld is already resolved (%s)", (long long)id,
                            it->resolution != NULL ? it->resolution : "?");
    if (it->other_id == NULL || it->side != HS_STORE_CRM)
        return hs_error_set(err, HS_EINVAL, "review %lld names no pair of records", (long long)id);
    rc = hs_store_begin(st, err);
    if (rc == HS_OK)
        rc = hs_store_item_set_state(st, id, HS_STORE_ITEM_RESOLVED, decision, err);
    if (rc == HS_OK)
        rc = hs_store_dirty_mark(st, "crm", it->object, HS_STORE_CRM, it->remote_id, err);
    if (rc == HS_OK)
        rc = hs_store_dirty_mark(st, "accounting", it->object, HS_STORE_ACCOUNTING, it->other_id,
                                 err);
    if (rc == HS_OK)
        return hs_store_commit(st, err);
    (void)hs_store_rollback(st, NULL);
    return rc;
}

static int resolve(struct hs_cli *cli, const struct queue *q, int64_t id, const char *take)
{
    struct hs_cli_ws *ws = NULL;
    int rc = hs_cli_ws_open(cli, true, &ws);
    if (rc != HS_CLI_EXIT_OK)
        return rc;
    struct hs_engine_report r;
    hs_engine_report_init(&r);
    struct hs_error err = {0};
    struct hs_store_item it = {0};
    int erc;
    if (q->kind == HS_STORE_ITEM_REVIEW) {
        erc = decide_review(hs_cli_ws_store(ws), id, take, &it, &err);
    } else {
        erc = hs_store_item_get(hs_cli_ws_store(ws), id, &it, &err);
        if (erc == HS_OK)
            erc = hs_engine_resolve(hs_cli_ws_engine(ws), id, take, &r, &err);
    }
    if (erc == HS_OK)
        erc = hs_engine_run_once(hs_cli_ws_engine(ws), &r, &err);
    hs_cli_ws_progress_done(ws, cli);
    if (erc != HS_OK) {
        rc = hs_cli_fail(cli, "cannot resolve %s %lld: %s", q->noun, (long long)id, err.msg);
    } else {
        if (q->kind == HS_STORE_ITEM_REVIEW)
            fprintf(cli->out, "resolved review %lld: %s\n", (long long)id,
                    hs_str_eq(take, HS_ENGINE_REVIEW_LINK) ? "the same record, linked"
                                                           : "different records, kept apart");
        else
            fprintf(cli->out, "resolved conflict %lld: take %s\n", (long long)id, take);
        bool crm_side = it.side == HS_STORE_CRM;
        print_outcome(cli, &r, crm_side ? it.remote_id : it.other_id,
                      crm_side ? it.other_id : it.remote_id);
    }
    hs_store_item_release(&it);
    hs_engine_report_release(&r);
    hs_cli_ws_close(ws);
    return rc;
}

static int run_queue(int argc, char **argv, struct hs_cli *cli, const struct queue *q)
{
    static const struct hs_cli_opt opts[] = {
        {"all", 0, false, OPT_ALL},           {"json", 0, false, OPT_JSON},
        {"take", 0, true, OPT_TAKE},          {"link", 0, false, OPT_LINK},
        {"separate", 0, false, OPT_SEPARATE}, {NULL, 0, false, 0},
    };
    const char *usage = q->usage;
    bool reviews = q->kind == HS_STORE_ITEM_REVIEW;
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
        else if (id == OPT_TAKE && !reviews)
            take = a.arg;
        else if ((id == OPT_LINK || id == OPT_SEPARATE) && reviews) {
            const char *d = id == OPT_LINK ? HS_ENGINE_REVIEW_LINK : HS_ENGINE_REVIEW_SEPARATE;
            if (take != NULL && !hs_str_eq(take, d))
                return hs_cli_usage_error(cli, usage, "--link and --separate exclude each other");
            take = d;
        } else if (id == OPT_TAKE || id == OPT_LINK || id == OPT_SEPARATE) {
            return hs_cli_usage_error(cli, usage, "option '%s' is not one of 'hoopsync %s'",
                                      id == OPT_TAKE   ? "--take"
                                      : id == OPT_LINK ? "--link"
                                                       : "--separate",
                                      q->plural);
        }
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
    const char *choice = reviews ? "--link or --separate" : "--take";
    if (strcmp(sub, "list") == 0) {
        if (ids != NULL || take != NULL)
            return hs_cli_usage_error(cli, usage, "'%s list' takes no id or %s", q->plural, choice);
        int rc = hs_cli_ws_open(cli, false, &ws);
        if (rc == HS_CLI_EXIT_OK)
            rc = list_items(cli, hs_cli_ws_store(ws), q, all, json);
        hs_cli_ws_close(ws);
        return rc;
    }
    if (strcmp(sub, "show") == 0 || strcmp(sub, "resolve") == 0) {
        if (ids == NULL)
            return hs_cli_usage_error(cli, usage, "missing %s id", q->noun);
        int rc = parse_id(cli, q, ids, &id);
        if (rc != HS_CLI_EXIT_OK)
            return rc;
        if (strcmp(sub, "resolve") == 0) {
            if (take == NULL || take[0] == '\0')
                return hs_cli_usage_error(cli, usage, "missing %s",
                                          reviews ? "--link or --separate"
                                                  : "--take crm|accounting|VALUE");
            return resolve(cli, q, id, take);
        }
        if (take != NULL)
            return hs_cli_usage_error(cli, usage, "'%s show' takes no %s", q->plural, choice);
        rc = hs_cli_ws_open(cli, false, &ws);
        if (rc == HS_CLI_EXIT_OK)
            rc = show(cli, hs_cli_ws_store(ws), q, id, json);
        hs_cli_ws_close(ws);
        return rc;
    }
    return hs_cli_usage_error(cli, usage, "unknown subcommand '%s' (list, show or resolve)", sub);
}

int hs_cli_cmd_conflicts(int argc, char **argv, struct hs_cli *cli)
{
    return run_queue(argc, argv, cli, &conflicts_q);
}

int hs_cli_cmd_reviews(int argc, char **argv, struct hs_cli *cli)
{
    return run_queue(argc, argv, cli, &reviews_q);
}
