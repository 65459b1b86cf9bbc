/*
 * cli/cmd_plan.c - `hoopsync plan`: the dry run. Shows every create, update, link, review and
 *                  conflict the next sync would make, with its reason, and changes nothing.
 *
 * Design:     opens the workspace with both connectors and calls hs_engine_plan, which reads
 *             the providers and the store but writes to neither (no cursor, dirty mark, link,
 *             queue item or provider write). Table by default, --json for machines.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "engine/engine.h"

static const char usage[] = "usage: hoopsync plan [--json]\n"
                            "\n"
                            "Show what the next `hoopsync sync --once` would do: every create, "
                            "update, link,\n"
                            "review and conflict, with the reason for each. Nothing is written, "
                            "neither to the\n"
                            "providers nor to the workspace.\n"
                            "\n"
                            "options:\n"
                            "  --json      print the planned actions as JSON\n"
                            "  -h, --help  show this help\n";

enum { OPT_JSON = 1 };

int hs_cli_cmd_plan(int argc, char **argv, struct hs_cli *cli)
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
    int rc = hs_cli_ws_open(cli, true, &ws);
    if (rc != HS_CLI_EXIT_OK)
        return rc;
    struct hs_engine_report r;
    hs_engine_report_init(&r);
    struct hs_error err = {0};
    int erc = hs_engine_plan(hs_cli_ws_engine(ws), &r, &err);
    hs_cli_ws_progress_done(ws, cli);
    if (erc != HS_OK)
        rc = hs_cli_fail(cli, "%s", err.msg);
    else
        rc = hs_cli_print_report(cli, &r, json, "plan");
    hs_engine_report_release(&r);
    hs_cli_ws_close(ws);
    return rc;
}
