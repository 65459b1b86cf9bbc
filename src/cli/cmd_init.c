/*
 * cli/cmd_init.c - `hoopsync init [DIR]`: create a workspace (config, master key, database).
 *
 * Design:     three steps, each idempotent so that running init again is safe: write the
 *             example hoopsync.yaml unless the file exists (O_EXCL, never overwritten); create
 *             the master key file named by master_key_file with mode 0600 unless
 *             $HOOPSYNC_MASTER_KEY is set or the file exists (a key is never replaced: secrets
 *             sealed with it would be lost); open the store named by `store`, which creates
 *             the database and applies its migrations, then close it. The configuration is
 *             validated (hs_config_load_file) before the key and database are made, so paths
 *             come from the file the user will run with.
 * Not here:   the key file format (store/keyfile.c), schema and migrations (src/store).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "hoopsync/error.h"
#include "hoopsync/store.h"
#include "util/alloc.h"

static const char usage[] =
    "usage: hoopsync init [DIR]\n"
    "\n"
    "Create a hoopsync workspace. With DIR (created if missing) the configuration is\n"
    "DIR/hoopsync.yaml; without it, the file named by the global --config, else\n"
    "$HOOPSYNC_CONFIG, else ./hoopsync.yaml. Then:\n"
    "  1. the configuration is written from the example unless the file exists;\n"
    "  2. the master key file (master_key_file, default hoopsync.key) is created with\n"
    "     mode 0600, unless $HOOPSYNC_MASTER_KEY is set or the file exists;\n"
    "  3. the database (store, default sqlite:hoopsync.db) is created or migrated.\n"
    "Existing files are kept, so running init again is safe.\n"
    "\n"
    "options:\n"
    "  -h, --help  show this help\n";

/* Writes the example configuration to path unless it exists. *created tells which. */
static int write_example(struct hs_cli *cli, const char *path, bool *created)
{
    *created = false;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            return HS_CLI_EXIT_OK;
        return hs_cli_fail(cli, "cannot create '%s': %s", path, strerror(errno));
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        int e = errno;
        close(fd);
        unlink(path);
        return hs_cli_fail(cli, "cannot create '%s': %s", path, strerror(e));
    }
    bool ok = true;
    for (size_t i = 0; ok && i < hs_cli_example_config_lines; i++)
        ok = fputs(hs_cli_example_config[i], f) >= 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(path);
        return hs_cli_fail(cli, "cannot write '%s': %s", path, strerror(e));
    }
    *created = true;
    return HS_CLI_EXIT_OK;
}

static int make_key(struct hs_cli *cli, const struct hs_config *cfg)
{
    const char *env = getenv(HS_STORE_KEY_ENV);
    if (env != NULL && env[0] != '\0') {
        fprintf(cli->out, "master key: from $%s (no key file written)\n", HS_STORE_KEY_ENV);
        return HS_CLI_EXIT_OK;
    }
    struct hs_error err = {0};
    int rc = hs_store_keyfile_create(cfg->master_key_file, &err);
    if (rc == HS_EEXIST) {
        fprintf(cli->out, "kept %s (existing master key)\n", cfg->master_key_file);
        return HS_CLI_EXIT_OK;
    }
    if (rc != HS_OK)
        return hs_cli_fail(cli, "%s", err.msg);
    fprintf(cli->out, "created %s (master key, mode 0600)\n", cfg->master_key_file);
    return HS_CLI_EXIT_OK;
}

static int make_store(struct hs_cli *cli, const struct hs_config *cfg)
{
    bool existed = cfg->store_kind == HS_CONFIG_STORE_SQLITE && access(cfg->store, F_OK) == 0;
    struct hs_store_options opt;
    memset(&opt, 0, sizeof opt);
    opt.key_file = cfg->master_key_file;
    struct hs_store *st = NULL;
    struct hs_error err = {0};
    if (hs_store_open(cfg->store, &opt, &st, &err) != HS_OK)
        return hs_cli_fail(cli, "%s", err.msg);
    int version = hs_store_schema_version(st, &err);
    hs_store_close(st);
    if (version < 0)
        return hs_cli_fail(cli, "%s", err.msg);
    fprintf(cli->out, "%s %s (database, schema version %d)\n", existed ? "kept" : "created",
            cfg->store, version);
    return HS_CLI_EXIT_OK;
}

int hs_cli_cmd_init(int argc, char **argv, struct hs_cli *cli)
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
    if (argc - a.ind > 1)
        return hs_cli_usage_error(cli, usage, "unexpected argument '%s'", argv[a.ind + 1]);

    char *path = NULL;
    if (a.ind < argc) {
        const char *dir = argv[a.ind];
        size_t len = strlen(dir);
        while (len > 1 && dir[len - 1] == '/')
            len--;
        if (len == 0)
            return hs_cli_usage_error(cli, usage, "empty directory name");
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return hs_cli_fail(cli, "cannot create directory '%s': %s", dir, strerror(errno));
        struct stat sb;
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return hs_cli_fail(cli, "cannot use '%s' as the workspace: not a directory", dir);
        path = hs_asprintf("%.*s%shoopsync.yaml", (int)len, dir, dir[len - 1] == '/' ? "" : "/");
    } else {
        path = hs_strdup(cli->config_path);
    }
    if (path == NULL)
        return hs_cli_fail(cli, "out of memory");

    bool created = false;
    int rc = write_example(cli, path, &created);
    struct hs_config *cfg = NULL;
    if (rc == HS_CLI_EXIT_OK) {
        struct hs_error err = {0};
        if (hs_config_load_file(path, &cfg, &err) != HS_OK)
            rc = hs_cli_fail(cli, "%s", err.msg);
        else
            fprintf(cli->out, "%s %s (configuration)\n", created ? "created" : "kept", path);
    }
    if (rc == HS_CLI_EXIT_OK)
        rc = make_key(cli, cfg);
    if (rc == HS_CLI_EXIT_OK)
        rc = make_store(cli, cfg);
    if (rc == HS_CLI_EXIT_OK && created)
        fprintf(cli->out, "next: edit %s, then run 'hoopsync config check %s'\n", path, path);
    hs_config_free(cfg);
    hs_free(path);
    return rc;
}
