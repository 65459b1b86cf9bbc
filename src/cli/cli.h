/*
 * cli/cli.h - what every `hoopsync` subcommand shares: the context, exit codes, option parsing.
 *
 * Design:     main.c holds a sorted table of { name, hs_cli_cmd_<name>, flags, summary }. A
 *             command is one file cmd_<name>.c defining hs_cli_cmd_<name>(argc, argv, cli)
 *             (argv[0] is the command name) and its usage text. Flags name the setup main()
 *             does before calling it (HS_CLI_NEEDS_CONFIG loads the configuration into
 *             cli->config), so commands never repeat it. Adding a command: its file, one row
 *             in main.c, a prototype below, docs/cli/hoopsync-<name>.md and a test
 *             (tests/cli/test_cli_help.sh checks every command's usage against its doc).
 *             Options are parsed by hs_cli_next_opt: long (--name, --name=value, --name
 *             value) and short (-x, -x value) options before the operands, "--" ends them,
 *             -h/--help is built in.
 *             Output: results on stdout (`--json` where offered is the stable machine form),
 *             diagnostics on stderr prefixed "hoopsync: ".
 * Ownership:  struct hs_cli lives in main(); cli->config belongs to it (freed by main).
 * Not here:   the library (this directory only calls include/hoopsync/ and src/ APIs).
 */
#ifndef HS_CLI_CLI_H
#define HS_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hoopsync/common.h"
#include "hoopsync/error.h"

/* Exit codes, documented in `hoopsync --help` and docs/cli/hoopsync.md. */
enum hs_cli_exit {
    HS_CLI_EXIT_OK = 0,    /* success */
    HS_CLI_EXIT_FAIL = 1,  /* the operation failed */
    HS_CLI_EXIT_USAGE = 2, /* unknown command or option, bad or missing argument */
    /* a provider's limit is spent: the pass stopped, the rest stays pending and resumes
     * later (sysexits' EX_TEMPFAIL) */
    HS_CLI_EXIT_PAUSED = 75,
};

/* Setup a command needs before it runs (the flags column of the command table). */
enum hs_cli_flags {
    HS_CLI_NEEDS_CONFIG = 1 << 0, /* load cli->config_path into cli->config, exit 1 on error */
};

struct hs_config;

struct hs_cli {
    FILE *out;                /* results (stdout) */
    FILE *err;                /* diagnostics (stderr) */
    const char *config_path;  /* -c/--config, else $HOOPSYNC_CONFIG, else "hoopsync.yaml" */
    bool config_explicit;     /* config_path came from -c/--config or $HOOPSYNC_CONFIG */
    struct hs_config *config; /* loaded for HS_CLI_NEEDS_CONFIG commands, else NULL */
};

/* Prints "hoopsync: <message>\n" on cli->err. Returns HS_CLI_EXIT_FAIL. */
int hs_cli_fail(struct hs_cli *cli, const char *fmt, ...) HS_PRINTF(2, 3);

/*
 * Prints "hoopsync: <message>\n" and the first line of usage (the "usage: ..." line) on
 * cli->err, then "Try 'hoopsync ... --help'". Returns HS_CLI_EXIT_USAGE.
 */
int hs_cli_usage_error(struct hs_cli *cli, const char *usage, const char *fmt, ...) HS_PRINTF(3, 4);

/* Prints usage (the full help text) on cli->out. Returns HS_CLI_EXIT_OK. */
int hs_cli_help(struct hs_cli *cli, const char *usage);

/* One option of a command. The table ends with an entry whose name is NULL. */
struct hs_cli_opt {
    const char *name; /* long name without "--" */
    char short_name;  /* 0 if none */
    bool has_arg;
    int id; /* > 0, returned by hs_cli_next_opt */
};

#define HS_CLI_OPT_HELP 1000 /* id returned for -h/--help */

struct hs_cli_args {
    int argc;
    char **argv;
    int ind;           /* next argument to look at; the first operand once options end */
    const char *arg;   /* the value of the option just returned (has_arg options) */
    const char *usage; /* for usage errors */
};

/* Starts parsing argv[1..argc) (argv[0] is the command name). */
void hs_cli_args_init(struct hs_cli_args *a, int argc, char **argv, const char *usage);

/*
 * Returns the id of the next option (HS_CLI_OPT_HELP for -h/--help), 0 when the options end
 * (a->ind is then the first operand), or -1 after printing a usage error (unknown option,
 * missing or unexpected value).
 */
int hs_cli_next_opt(struct hs_cli *cli, struct hs_cli_args *a, const struct hs_cli_opt *opts);

/*
 * After hs_cli_next_opt returned 0 at an operand: returns that operand and restarts option
 * parsing after it, so options may follow operands ("hoopsync conflicts show 3 --json").
 * NULL when no operand is left.
 */
const char *hs_cli_shift_operand(struct hs_cli_args *a);

/* The example hoopsync.yaml (examples/hoopsync.yaml), written by `hoopsync init`. */
extern const char *const hs_cli_example_config[];
extern const size_t hs_cli_example_config_lines;

/* The workspace store as the OAuth token source's vault (cli/vault.c): pass
 * &hs_cli_vault_ops with a struct hs_cli_vault to hs_oauth_source_new. */
struct hs_store;
struct hs_oauth_vault_ops;
struct hs_cli_vault {
    struct hs_store *store; /* borrowed */
    const char *conn;       /* connection id ("crm", "accounting"), borrowed */
};
extern const struct hs_oauth_vault_ops hs_cli_vault_ops;

/* The connector of a provider ("hubspot", "quickbooks", ...), or NULL while hoopsync has none
 * (cli/providers.c). */
struct hs_connector_ops;
const struct hs_connector_ops *hs_cli_connector_for(const char *provider);
/* The provider's public API base ("https://api.hubapi.com"), for a connection without
 * base_url; NULL for an unknown provider. */
const char *hs_cli_provider_base(const char *provider);

/* A connection paused by its provider's limits (cli/pause.c): the run record
 * "connection:<name>" of the store. */
struct hs_cli_pause {
    int64_t until_ms; /* when work resumes */
    char scope[16];   /* the limiter scope that is paused */
    char reason[HS_ERRMSG_MAX];
};
struct hs_store;
/* 1 and *out filled when conn has a stored pause (until_ms > 0, maybe past), else 0. */
int hs_cli_pause_get(struct hs_store *st, const char *conn, struct hs_cli_pause *out);
int hs_cli_pause_put(struct hs_store *st, const char *conn, int64_t until_ms, const char *scope,
                     const char *reason, struct hs_error *err);
/* Clears conn's pause (no write when it has none). */
int hs_cli_pause_clear(struct hs_store *st, const char *conn, struct hs_error *err);

/* Commands (alphabetical, as in the table in main.c). */
int hs_cli_cmd_config(int argc, char **argv, struct hs_cli *cli);
int hs_cli_cmd_conflicts(int argc, char **argv, struct hs_cli *cli);
int hs_cli_cmd_reviews(int argc, char **argv, struct hs_cli *cli);
int hs_cli_cmd_connect(int argc, char **argv, struct hs_cli *cli);
int hs_cli_cmd_demo(int argc, char **argv, struct hs_cli *cli);
int hs_cli_cmd_errors(int argc, char **argv, struct hs_cli *cli);
int hs_cli_cmd_init(int argc, char **argv, struct hs_cli *cli);
int hs_cli_cmd_plan(int argc, char **argv, struct hs_cli *cli);
int hs_cli_cmd_status(int argc, char **argv, struct hs_cli *cli);
int hs_cli_cmd_sync(int argc, char **argv, struct hs_cli *cli);
int hs_cli_cmd_version(int argc, char **argv, struct hs_cli *cli);

/* The engine's invoicing settings from the `objects: invoices` flow of hoopsync.yaml
 * (cli/invoicing.c). hs_cli_invoicing_new sets *out to a new handle, or to NULL (and returns
 * HS_OK) when cfg has no invoices flow; HS_ENOMEM or HS_EINVAL (message in err) otherwise.
 * Strings are borrowed from cfg, which must outlive the handle; free the handle after the
 * engine using it is closed. hs_cli_invoicing_engine(NULL) is NULL, ready for
 * hs_engine_config.invoicing. */
struct hs_cli_invoicing;
struct hs_engine_invoicing;
struct hs_error;
int hs_cli_invoicing_new(const struct hs_config *cfg, struct hs_cli_invoicing **out,
                         struct hs_error *err);
const struct hs_engine_invoicing *hs_cli_invoicing_engine(const struct hs_cli_invoicing *iv);
void hs_cli_invoicing_free(struct hs_cli_invoicing *iv);

/* The workspace of plan, sync, status, conflicts and errors (cli/cmd_sync.c): the store and,
 * when connectors is true, both connectors and the sync engine over them. Prints the reason
 * and returns HS_CLI_EXIT_FAIL when something cannot be opened. */
struct hs_cli_ws;
struct hs_engine;
struct hs_engine_report;
struct hs_store;
int hs_cli_ws_open(struct hs_cli *cli, bool connectors, struct hs_cli_ws **out);
void hs_cli_ws_close(struct hs_cli_ws *ws);
struct hs_store *hs_cli_ws_store(struct hs_cli_ws *ws);
struct hs_engine *hs_cli_ws_engine(struct hs_cli_ws *ws);
/* The workspace's clock. */
struct hs_env;
const struct hs_env *hs_cli_ws_env(struct hs_cli_ws *ws);
/* Clears the progress line (terminal only). */
void hs_cli_ws_progress_done(struct hs_cli_ws *ws, struct hs_cli *cli);
/* Prints an engine report as a table (title: "plan", "sync") or JSON. */
int hs_cli_print_report(struct hs_cli *cli, const struct hs_engine_report *r, bool json,
                        const char *title);

#endif
