/*
 * cli/cmd_config.c - `hoopsync config check`: validate the configuration file.
 *
 * Design:     `config` groups subcommands that work on hoopsync.yaml, in a small table like
 *             main.c's (one row and one function per subcommand). check parses the file with
 *             hs_config_load_file, which names file:line:column in every error, and touches
 *             nothing else: no store, no network, no secrets.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "hoopsync/error.h"

static const char usage[] = "usage: hoopsync config SUBCOMMAND [ARGS]\n"
                            "\n"
                            "Work with the configuration file (see docs/config.md).\n"
                            "\n"
                            "subcommands:\n"
                            "  check   validate the configuration file\n"
                            "\n"
                            "options:\n"
                            "  -h, --help  show this help\n";

static const char check_usage[] =
    "usage: hoopsync config check [--json] [FILE]\n"
    "\n"
    "Read and validate FILE (default: the global --config, else $HOOPSYNC_CONFIG, else\n"
    "./hoopsync.yaml) without contacting any provider. Prints\n"
    "\"ok: FILE (N connections, M flows)\", or the first problem on stderr as\n"
    "\"hoopsync: FILE:LINE:COLUMN: message\" and exits 1.\n"
    "\n"
    "options:\n"
    "  --json      print one JSON object instead: {\"ok\": true, \"file\": F, \"connections\": N,\n"
    "              \"flows\": M} or {\"ok\": false, \"file\": F, \"error\": MESSAGE}\n"
    "  -h, --help  show this help\n";

enum { OPT_JSON = 1 };

static int print_json(struct hs_cli *cli, json_t *o)
{
    if (o == NULL || json_dumpf(o, cli->out, JSON_COMPACT) != 0) {
        json_decref(o);
        return hs_cli_fail(cli, "cannot print the result: out of memory");
    }
    json_decref(o);
    fputc('\n', cli->out);
    return HS_CLI_EXIT_OK;
}

static int config_check(int argc, char **argv, struct hs_cli *cli)
{
    static const struct hs_cli_opt opts[] = {
        {"json", 0, false, OPT_JSON},
        {NULL, 0, false, 0},
    };
    struct hs_cli_args a;
    hs_cli_args_init(&a, argc, argv, check_usage);
    bool json = false;
    for (;;) {
        int id = hs_cli_next_opt(cli, &a, opts);
        if (id == 0)
            break;
        if (id < 0)
            return HS_CLI_EXIT_USAGE;
        if (id == HS_CLI_OPT_HELP)
            return hs_cli_help(cli, check_usage);
        if (id == OPT_JSON)
            json = true;
    }
    if (argc - a.ind > 1)
        return hs_cli_usage_error(cli, check_usage, "unexpected argument '%s'", argv[a.ind + 1]);
    const char *path = a.ind < argc ? argv[a.ind] : cli->config_path;

    struct hs_config *cfg = NULL;
    struct hs_error err = {0};
    int rc = hs_config_load_file(path, &cfg, &err);
    if (rc != HS_OK) {
        if (json) {
            print_json(cli, json_pack("{s:b, s:s, s:s}", "ok", 0, "file", path, "error", err.msg));
            return HS_CLI_EXIT_FAIL;
        }
        return hs_cli_fail(cli, "%s", err.msg);
    }
    size_t n_conn = hs_config_n_connections(cfg);
    size_t n_flows = cfg->n_flows;
    hs_config_free(cfg);
    if (json)
        return print_json(cli,
                          json_pack("{s:b, s:s, s:I, s:I}", "ok", 1, "file", path, "connections",
                                    (json_int_t)n_conn, "flows", (json_int_t)n_flows));
    fprintf(cli->out, "ok: %s (%zu connection%s, %zu flow%s)\n", path, n_conn,
            n_conn == 1 ? "" : "s", n_flows, n_flows == 1 ? "" : "s");
    return HS_CLI_EXIT_OK;
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv, struct hs_cli *cli);
} subcommands[] = {
    {"check", config_check},
};

int hs_cli_cmd_config(int argc, char **argv, struct hs_cli *cli)
{
    struct hs_cli_args a;
    hs_cli_args_init(&a, argc, argv, usage);
    for (;;) {
        int id = hs_cli_next_opt(cli, &a, NULL);
        if (id == 0)
            break;
        if (id < 0)
            return HS_CLI_EXIT_USAGE;
        if (id == HS_CLI_OPT_HELP)
            return hs_cli_help(cli, usage);
    }
    if (a.ind >= argc)
        return hs_cli_usage_error(cli, usage, "missing subcommand (expected: check)");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
        if (strcmp(argv[a.ind], subcommands[i].name) == 0)
            return subcommands[i].fn(argc - a.ind, argv + a.ind, cli);
    }
    return hs_cli_usage_error(cli, usage, "unknown subcommand 'config %s' (expected: check)",
                              argv[a.ind]);
}
