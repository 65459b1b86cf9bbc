/*
 * cli/cli.c - diagnostics and option parsing shared by every subcommand.
 *
 * Design:     getopt_long is not used: its global state must be reset between subcommands and
 *             it prints its own messages. This parser is small, reentrant and prints our
 *             "hoopsync: " diagnostics followed by the command's usage line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void vprint_diag(struct hs_cli *cli, const char *fmt, va_list ap) HS_PRINTF(2, 0);

static void vprint_diag(struct hs_cli *cli, const char *fmt, va_list ap)
{
    fputs("hoopsync: ", cli->err);
    vfprintf(cli->err, fmt, ap);
    fputc('\n', cli->err);
}

int hs_cli_fail(struct hs_cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint_diag(cli, fmt, ap);
    va_end(ap);
    return HS_CLI_EXIT_FAIL;
}

int hs_cli_usage_error(struct hs_cli *cli, const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint_diag(cli, fmt, ap);
    va_end(ap);
    if (usage != NULL) {
        size_t n = strcspn(usage, "\n");
        fprintf(cli->err, "%.*s\n", (int)n, usage);
        /* "usage: hoopsync config check ..." -> "hoopsync config check" (up to an option) */
        const char *cmd = strncmp(usage, "usage: ", 7) == 0 ? usage + 7 : usage;
        size_t len = 0;
        while (cmd[len] != '\0' && cmd[len] != '\n' && cmd[len] != '[' && cmd[len] != '<' &&
               !(cmd[len] >= 'A' && cmd[len] <= 'Z') && cmd[len] != '-')
            len++;
        while (len > 0 && cmd[len - 1] == ' ')
            len--;
        fprintf(cli->err, "Try '%.*s --help' for more information.\n", (int)len, cmd);
    }
    return HS_CLI_EXIT_USAGE;
}

int hs_cli_help(struct hs_cli *cli, const char *usage)
{
    fputs(usage, cli->out);
    return HS_CLI_EXIT_OK;
}

void hs_cli_args_init(struct hs_cli_args *a, int argc, char **argv, const char *usage)
{
    a->argc = argc;
    a->argv = argv;
    a->ind = 1;
    a->arg = NULL;
    a->usage = usage;
}

static const struct hs_cli_opt help_opt = {"help", 'h', false, HS_CLI_OPT_HELP};

static const struct hs_cli_opt *find_long(const struct hs_cli_opt *opts, const char *name,
                                          size_t len)
{
    if (strlen(help_opt.name) == len && strncmp(help_opt.name, name, len) == 0)
        return &help_opt;
    for (const struct hs_cli_opt *o = opts; o != NULL && o->name != NULL; o++) {
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

static const struct hs_cli_opt *find_short(const struct hs_cli_opt *opts, char c)
{
    if (c == help_opt.short_name)
        return &help_opt;
    for (const struct hs_cli_opt *o = opts; o != NULL && o->name != NULL; o++) {
        if (o->short_name != 0 && o->short_name == c)
            return o;
    }
    return NULL;
}

/* For a global option given after the command: where it goes. "" for any other. */
static const char *global_hint(const char *opt)
{
    if (strcmp(opt, "-c") == 0 || strcmp(opt, "--config") == 0 || strncmp(opt, "--config=", 9) == 0)
        return " (global options go before the command: hoopsync -c FILE COMMAND ...)";
    return "";
}

int hs_cli_next_opt(struct hs_cli *cli, struct hs_cli_args *a, const struct hs_cli_opt *opts)
{
    a->arg = NULL;
    if (a->ind >= a->argc)
        return 0;
    const char *s = a->argv[a->ind];
    if (s[0] != '-' || s[1] == '\0')
        return 0; /* an operand ("-" alone is an operand too) */
    if (strcmp(s, "--") == 0) {
        a->ind++;
        return 0;
    }
    a->ind++;
    const struct hs_cli_opt *o;
    const char *inline_val = NULL;
    if (s[1] == '-') {
        const char *name = s + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        o = find_long(opts, name, len);
        if (o == NULL) {
            hs_cli_usage_error(cli, a->usage, "unknown option '--%.*s'%s", (int)len, name,
                               global_hint(s));
            return -1;
        }
        if (eq != NULL)
            inline_val = eq + 1;
    } else {
        if (s[2] != '\0') {
            hs_cli_usage_error(cli, a->usage, "unknown option '%s' (give short options separately)",
                               s);
            return -1;
        }
        o = find_short(opts, s[1]);
        if (o == NULL) {
            hs_cli_usage_error(cli, a->usage, "unknown option '%s'%s", s, global_hint(s));
            return -1;
        }
    }
    if (!o->has_arg) {
        if (inline_val != NULL) {
            hs_cli_usage_error(cli, a->usage, "option '--%s' takes no value", o->name);
            return -1;
        }
        return o->id;
    }
    if (inline_val != NULL) {
        a->arg = inline_val;
        return o->id;
    }
    if (a->ind >= a->argc) {
        hs_cli_usage_error(cli, a->usage, "option '%s' needs a value", s);
        return -1;
    }
    a->arg = a->argv[a->ind++];
    return o->id;
}

const char *hs_cli_shift_operand(struct hs_cli_args *a)
{
    if (a->ind >= a->argc)
        return NULL;
    const char *op = a->argv[a->ind];
    a->argv += a->ind;
    a->argc -= a->ind;
    a->ind = 1; /* argv[0] is now the operand, like a command name */
    return op;
}
