/*
 * cli/cmd_version.c - `hoopsync version`: print the version.
 */
#include <jansson.h>
#include <stdio.h>

#include "cli/cli.h"

static const char usage[] = "usage: hoopsync version [--json]\n"
                            "\n"
                            "Print the version of hoopsync.\n"
                            "\n"
                            "options:\n"
                            "  --json      print {\"name\": \"hoopsync\", \"version\": \"X.Y.Z\"}\n"
                            "  -h, --help  show this help\n";

enum { OPT_JSON = 1 };

int hs_cli_cmd_version(int argc, char **argv, struct hs_cli *cli)
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
    if (!json) {
        fprintf(cli->out, "hoopsync %s\n", HS_VERSION);
        return HS_CLI_EXIT_OK;
    }
    json_t *o = json_pack("{s:s, s:s}", "name", "hoopsync", "version", HS_VERSION);
    if (o == NULL || json_dumpf(o, cli->out, JSON_COMPACT) != 0) {
        json_decref(o);
        return hs_cli_fail(cli, "cannot print the version: out of memory");
    }
    json_decref(o);
    fputc('\n', cli->out);
    return HS_CLI_EXIT_OK;
}
