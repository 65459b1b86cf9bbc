/*
 * cli/main.c - `hoopsync`: global options, the command table and dispatch.
 *
 * Design:     like git.c, one sorted table maps a command name to its function, the setup it
 *             needs (enum hs_cli_flags) and the one-line summary shown by `hoopsync --help`.
 *             main() parses the global options (they come before the command), does the
 *             setup the row asks for, runs the command and returns its exit code. Adding a
 *             command is a row here plus its cmd_<name>.c (see cli/cli.h).
 * Ownership:  main owns struct hs_cli and the configuration loaded into it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "hoopsync/error.h"
#include "util/alloc.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv, struct hs_cli *cli);
    unsigned flags; /* enum hs_cli_flags */
    const char *summary;
};

/* Sorted by name (tests/cli/test_cli_help.sh checks the order of `hoopsync --help`). */
static const struct command commands[] = {
    {"config", hs_cli_cmd_config, 0, "check the configuration file"},
    {"conflicts", hs_cli_cmd_conflicts, 0, "list, show and resolve sync conflicts"},
    {"connect", hs_cli_cmd_connect, 0,
     "authorize hoopsync on a CRM or accounting account (OAuth2)"},
    {"demo", hs_cli_cmd_demo, 0, "run the whole product on the seeded sandbox (no account)"},
    {"errors", hs_cli_cmd_errors, 0, "list records that could not be synced, retry them"},
    {"init", hs_cli_cmd_init, 0, "create a workspace: hoopsync.yaml, master key, database"},
    {"plan", hs_cli_cmd_plan, 0, "show what a sync would do, touching nothing (dry run)"},
    {"reviews", hs_cli_cmd_reviews, 0,
     "list possible matches the sync would not guess; link or separate them"},
    {"status", hs_cli_cmd_status, 0,
     "per flow: last run, records in sync, pending, errors, conflicts"},
    {"sync", hs_cli_cmd_sync, 0, "run one sync pass (--once)"},
    {"version", hs_cli_cmd_version, 0, "print the version"},
};

static const char usage_head[] = "usage: hoopsync [-c FILE] [--help] [--version] COMMAND [ARGS]\n";

static void print_help(struct hs_cli *cli)
{
    FILE *o = cli->out;
    fputs(usage_head, o);
    fputs(
        "\nhoopsync keeps a CRM (HubSpot; HighLevel to come) and an accounting system (QuickBooks "
        "Online,\nXero, Zoho Books) in agreement: customers, items, invoices and payments.\n",
        o);
    fputs("\ncommands:\n", o);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(o, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\noptions:\n"
          "  -c, --config FILE  configuration file (default: $HOOPSYNC_CONFIG, else "
          "./hoopsync.yaml)\n"
          "  -h, --help         show this help\n"
          "  -V, --version      print the version\n"
          "\nexit status:\n"
          "  0  success\n"
          "  1  the operation failed (the reason is printed on stderr)\n"
          "  2  usage error: unknown command or option, bad or missing argument\n"
          "  75 sync paused: a provider's rate limit is spent (see 'hoopsync status')\n"
          "\nRun 'hoopsync COMMAND --help' for the options of a command.\n",
          o);
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

enum { OPT_CONFIG = 1, OPT_VERSION };

int main(int argc, char **argv)
{
    hs_alloc_setup_json();
    struct hs_cli cli;
    memset(&cli, 0, sizeof cli);
    cli.out = stdout;
    cli.err = stderr;
    cli.config_path = "hoopsync.yaml";
    const char *env_config = getenv("HOOPSYNC_CONFIG");
    if (env_config != NULL && env_config[0] != '\0') {
        cli.config_path = env_config;
        cli.config_explicit = true;
    }

    static const struct hs_cli_opt opts[] = {
        {"config", 'c', true, OPT_CONFIG},
        {"version", 'V', false, OPT_VERSION},
        {NULL, 0, false, 0},
    };
    struct hs_cli_args a;
    hs_cli_args_init(&a, argc, argv, usage_head);
    for (;;) {
        int id = hs_cli_next_opt(&cli, &a, opts);
        if (id == 0)
            break;
        if (id < 0)
            return HS_CLI_EXIT_USAGE;
        if (id == HS_CLI_OPT_HELP) {
            print_help(&cli);
            return HS_CLI_EXIT_OK;
        }
        if (id == OPT_VERSION) {
            printf("hoopsync %s\n", HS_VERSION);
            return HS_CLI_EXIT_OK;
        }
        if (id == OPT_CONFIG) {
            if (a.arg[0] == '\0')
                return hs_cli_usage_error(&cli, usage_head, "option '--config' needs a file");
            cli.config_path = a.arg;
            cli.config_explicit = true;
        }
    }
    if (a.ind >= argc)
        return hs_cli_usage_error(&cli, usage_head, "missing command");
    const char *name = argv[a.ind];
    const struct command *cmd = find_command(name);
    if (cmd == NULL)
        return hs_cli_usage_error(&cli, usage_head, "unknown command '%s'", name);

    if (cmd->flags & HS_CLI_NEEDS_CONFIG) {
        struct hs_error err = {0};
        if (hs_config_load_file(cli.config_path, &cli.config, &err) != HS_OK)
            return hs_cli_fail(&cli, "%s", err.msg);
    }
    int rc = cmd->fn(argc - a.ind, argv + a.ind, &cli);
    hs_config_free(cli.config);
    if (fflush(stdout) != 0 && rc == HS_CLI_EXIT_OK)
        return hs_cli_fail(&cli, "cannot write the output");
    return rc;
}
