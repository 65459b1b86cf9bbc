/*
 * cli/cmd_config.c - `hoopsync config check`: validate the configuration file.
 *
 * Design:     `config` groups subcommands that work on hoopsync.yaml, in a small table like
 *             main.c's (one row and one function per subcommand). check parses the file with
 *             hs_config_load_file, which names file:line:column in every error, then compiles
 *             the mappings of every customers and items flow as plan and sync will, with the
 *             field names the configured connectors describe (describe_fields needs no
 *             connection; the file's settings apply, e.g. HubSpot custom_properties), so a
 *             misspelt field fails here with the same file:line:column message. It touches
 *             nothing else: no store, no network, no secrets.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "connectors/common/fields.h"
#include "core/mapping.h"
#include "engine/engine.h"
#include "hoopsync/connector.h"
#include "hoopsync/error.h"
#include "util/json.h"

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
    "./hoopsync.yaml) without contacting any provider, including the field names of\n"
    "every flow's mappings (as the configured connectors name them). Prints\n"
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

/* Loads the field names of connection cc (its connector's describe_fields with the file's
 * settings) as side of f. HS_OK when hoopsync has no connector for the provider (nothing to
 * ask); else as hs_conn_fields_load, the message naming the connection's place in the file. */
static int load_side(const struct hs_config *cfg, const struct hs_config_connection *cc,
                     const char *name, enum hs_side side, struct hs_conn_fields *f,
                     struct hs_error *err)
{
    const struct hs_connector_ops *ops =
        hs_cli_connector_for(hs_config_provider_name(cc->provider));
    if (ops == NULL)
        return HS_OK;
    json_t *settings = NULL;
    struct hs_error e = {0};
    int rc = HS_OK;
    if (cc->settings != NULL)
        rc = hs_json_parse((const uint8_t *)cc->settings, strlen(cc->settings), "settings",
                           &settings, &e);
    if (rc == HS_OK)
        rc = hs_conn_fields_load(f, side, ops, settings, &e);
    json_decref(settings);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "%s:%u:%u: connection '%s': %s", cfg->path, cc->pos.line,
                            cc->pos.col, name, e.msg);
    return HS_OK;
}

/*
 * Compiles the mapping of every customers and items flow (the flows whose `mappings:` the
 * engine applies; the parser refuses them elsewhere) and the filter of those and of the
 * invoices flow, with the configured connectors' field names, as hs_engine_open does. A provider
 * hoopsync has no connector for yet is skipped (plan says it cannot be synced). HS_OK or the first
 * error, placed as "FILE:LINE:COL: ...".
 */
static int check_mappings(const struct hs_config *cfg, struct hs_error *err)
{
    if (cfg->n_flows == 0 ||
        hs_cli_connector_for(hs_config_provider_name(cfg->crm.provider)) == NULL ||
        hs_cli_connector_for(hs_config_provider_name(cfg->accounting.provider)) == NULL)
        return HS_OK;
    struct hs_conn_fields f;
    hs_conn_fields_init(&f);
    int rc = load_side(cfg, &cfg->crm, "crm", HS_SIDE_CRM, &f, err);
    if (rc == HS_OK)
        rc = load_side(cfg, &cfg->accounting, "accounting", HS_SIDE_ACCOUNTING, &f, err);
    for (size_t i = 0; rc == HS_OK && i < cfg->n_flows; i++) {
        const struct hs_config_flow *flow = &cfg->flows[i];
        bool generic =
            flow->objects == HS_CONFIG_OBJECT_CUSTOMERS || flow->objects == HS_CONFIG_OBJECT_ITEMS;
        if (!generic && flow->objects != HS_CONFIG_OBJECT_INVOICES)
            continue;
        struct hs_mapping *m = NULL;
        if (generic)
            rc = hs_mapping_compile_file(flow, hs_mapping_kind_of(flow->objects), cfg->path,
                                         hs_conn_fields_resolve, &f, &m, err);
        if (rc == HS_OK &&
            (rc = hs_engine_check_filter(flow, m, hs_conn_fields_resolve, &f, err)) == HS_EINVAL)
            hs_error_prefix(err, "%s:%u:%u", cfg->path, flow->pos.line, flow->pos.col);
        hs_mapping_free(m);
    }
    hs_conn_fields_release(&f);
    return rc;
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
    if (rc == HS_OK) {
        rc = check_mappings(cfg, &err);
        if (rc != HS_OK)
            hs_config_free(cfg);
    }
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
