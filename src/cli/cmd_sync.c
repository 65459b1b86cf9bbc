/*
 * cli/cmd_sync.c - `hoopsync sync --once`: one pass of the sync engine; and the workspace
 *                  helper that plan, sync and conflicts resolve share.
 *
 * Design:     hs_cli_ws_open opens what the workspace of hoopsync.yaml names: the store
 *             (master key from the key file or $HOOPSYNC_MASTER_KEY), and, when asked, one
 *             connector per side: ops chosen by the provider, base URL from the config (else
 *             the provider's public API), tenant and settings from the stored connection
 *             (`hoopsync connect` wrote them) with the connection's `settings:` of
 *             hoopsync.yaml merged over them (the file wins per top-level key), tokens through
 *             an OAuth2 token source whose vault is the store (refreshes are persisted before
 *             use), HTTP through libcurl. Then it opens the engine over them, with the
 *             invoicing settings of the `objects: invoices` flow (cli/invoicing.c) and the
 *             connectors' field names as the resolver of `mappings:` (the provider's names,
 *             connectors/common/fields.h). Every failure
 * is printed once, naming what to do ("run 'hoopsync connect crm'"). Progress: on a terminal, long
 * runs redraw one stderr line per stage. Ownership:  struct hs_cli_ws owns everything it opened;
 * hs_cli_ws_close frees it. Not here:   the pass itself (engine/engine.c), OAuth consent
 * (cmd_connect.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "connectors/common/fields.h"
#include "connectors/common/limits.h"
#include "connectors/common/request.h"
#include "connectors/hubspot/hubspot.h"
#include "connectors/quickbooks/quickbooks.h"
#include "engine/engine.h"
#include "hoopsync/store.h"
#include "net/http.h"
#include "net/oauth.h"
#include "net/ratelimit.h"
#include "util/alloc.h"
#include "util/env.h"
#include "util/json.h"
#include "util/str.h"

/* The longest a command waits for a rate-limit window before it stops its pass (the limits'
 * minute windows are waited for; a spent day window is not). */
#define HS_CLI_LIMIT_WAIT_MAX_MS ((int64_t)15 * 60 * 1000)
/* A wait at least this long is shown on a terminal (cli/cmd_sync.c wait_notice). */
#define HS_CLI_NOTICE_WAIT_MS 2000

struct ws_side {
    const char *name; /* "crm" / "accounting" */
    struct hs_cli *cli;
    const struct hs_connector_ops *ops;
    struct hs_connector *conn;
    struct hs_ratelimit *limiter; /* the account's windows (connectors/common/limits.h) */
    struct hs_oauth_source *src;
    struct hs_cli_vault vault;
    struct hs_store_connection stored;
    json_t *settings;
    char *authorize_url;
    char *token_url;
};

struct hs_cli_ws {
    struct hs_env env;
    struct hs_store *store;
    struct hs_http_transport http;
    bool have_http;
    struct ws_side crm;
    struct ws_side acc;
    struct hs_engine *engine;
    struct hs_cli_invoicing *invoicing; /* NULL without an invoices flow; outlives engine */
    struct hs_conn_fields fields;       /* both connectors' field names, for `mappings:` */
    bool tty;
};

static void progress_cb(void *ud, const char *stage, size_t done, size_t total)
{
    struct hs_cli *cli = ud;
    if (total > 0)
        fprintf(cli->err, "\r\033[Khoopsync: %s %zu/%zu", stage, done, total);
    else
        fprintf(cli->err, "\r\033[Khoopsync: %s...", stage);
    fflush(cli->err);
}

/* On a terminal: why the progress line stands still during a long rate-limit wait. */
static void wait_notice(void *ud, const struct hs_ratelimit_block *why, int64_t wait_ms)
{
    const struct ws_side *s = ud;
    char reason[HS_ERRMSG_MAX];
    hs_conn_limit_reason(s->name, why, reason, sizeof reason);
    fprintf(s->cli->err, "\r\033[Khoopsync: waiting %lld s: %s", (long long)(wait_ms + 999) / 1000,
            reason);
    fflush(s->cli->err);
}

static void side_close(struct ws_side *s)
{
    if (s->conn != NULL)
        s->ops->close(s->conn);
    hs_ratelimit_free(s->limiter);
    hs_oauth_source_free(s->src);
    hs_store_connection_release(&s->stored);
    json_decref(s->settings);
    hs_free(s->authorize_url);
    hs_free(s->token_url);
}

void hs_cli_ws_close(struct hs_cli_ws *ws)
{
    if (ws == NULL)
        return;
    hs_engine_close(ws->engine);
    hs_cli_invoicing_free(ws->invoicing);
    side_close(&ws->crm);
    side_close(&ws->acc);
    hs_conn_fields_release(&ws->fields);
    if (ws->have_http)
        hs_http_transport_close(&ws->http);
    hs_store_close(ws->store);
    hs_free(ws);
}

struct hs_store *hs_cli_ws_store(struct hs_cli_ws *ws)
{
    return ws->store;
}

struct hs_engine *hs_cli_ws_engine(struct hs_cli_ws *ws)
{
    return ws->engine;
}

const struct hs_env *hs_cli_ws_env(struct hs_cli_ws *ws)
{
    return &ws->env;
}

static int side_open(struct hs_cli *cli, struct hs_cli_ws *ws, struct ws_side *s,
                     const struct hs_config_connection *cc, const char *name)
{
    struct hs_error err = {0};
    s->name = name;
    s->cli = cli;
    if (!cc->present)
        return hs_cli_fail(cli, "connection '%s' is not configured in '%s'", name,
                           cli->config_path);
    s->ops = hs_cli_connector_for(hs_config_provider_name(cc->provider));
    if (s->ops == NULL)
        return hs_cli_fail(cli, "connection '%s': provider '%s' cannot be synced yet", name,
                           hs_config_provider_name(cc->provider));
    if (hs_store_connection_get(ws->store, name, &s->stored, &err) != HS_OK)
        return hs_cli_fail(cli, "connection '%s' is not connected: run 'hoopsync connect %s'", name,
                           name);
    if (!s->stored.has_access_token)
        return hs_cli_fail(cli, "connection '%s' has no tokens: run 'hoopsync connect %s'", name,
                           name);
    json_t *settings = NULL;
    if (s->stored.settings != NULL &&
        hs_json_parse((const uint8_t *)s->stored.settings, strlen(s->stored.settings),
                      "connection settings", &settings, &err) == HS_OK) {
        if (json_is_object(settings))
            s->settings = settings;
        else
            json_decref(settings);
    }
    if (cc->settings != NULL) {
        json_t *file = NULL;
        if (hs_json_parse((const uint8_t *)cc->settings, strlen(cc->settings),
                          "settings of hoopsync.yaml", &file, &err) != HS_OK)
            return hs_cli_fail(cli, "connection '%s': %s", name, err.msg);
        if (s->settings == NULL) {
            s->settings = file;
        } else {
            int jr = json_object_update(s->settings, file); /* the file wins per key */
            json_decref(file);
            if (jr != 0)
                return hs_cli_fail(cli, "connection '%s': cannot merge settings: out of memory",
                                   name);
        }
    }
    const char *base = cc->base_url != NULL
                           ? cc->base_url
                           : hs_cli_provider_base(hs_config_provider_name(cc->provider));
    const struct hs_oauth_profile *profile =
        hs_oauth_profile_find(hs_config_provider_name(cc->provider));
    if (profile == NULL ||
        hs_oauth_endpoints(profile, cc->base_url, &s->authorize_url, &s->token_url, &err) != HS_OK)
        return hs_cli_fail(cli, "connection '%s': %s", name,
                           err.msg[0] != '\0' ? err.msg : "no OAuth2 profile");
    /* an account of another data center (Zoho): its accounts server refreshes the tokens and
     * its API domain serves the calls, as 'hoopsync connect' stored them (checked again) */
    const json_t *oauth = json_object_get(s->settings, "oauth");
    const char *dc = json_string_value(json_object_get(oauth, "accounts_server"));
    const char *api = json_string_value(json_object_get(oauth, "api_domain"));
    if (dc != NULL) {
        char *dc_token = NULL;
        if (hs_oauth_dc_token_url(profile, cc->base_url, name, dc, &dc_token, &err) != HS_OK)
            return hs_cli_fail(cli, "%s; run 'hoopsync connect %s' again", err.msg, name);
        hs_free(s->token_url);
        s->token_url = dc_token;
    }
    if (api != NULL) {
        if (!hs_oauth_api_domain_ok(profile, cc->base_url, api))
            return hs_cli_fail(cli,
                               "connection '%s': the stored API domain '%.80s' is not one of "
                               "the provider's data centers; run 'hoopsync connect %s' again",
                               name, api, name);
        base = api;
    }
    const char *secret = cc->client_secret_env != NULL ? getenv(cc->client_secret_env) : NULL;
    struct hs_oauth_client client = {
        .profile = profile,
        .name = name,
        .client_id = cc->client_id != NULL ? cc->client_id : "",
        .client_secret = secret != NULL ? secret : "",
        .redirect_uri = cc->redirect_uri != NULL ? cc->redirect_uri : "",
        .authorize_url = s->authorize_url,
        .token_url = s->token_url,
        .http = &ws->http,
        .env = &ws->env,
    };
    s->vault = (struct hs_cli_vault){ws->store, name};
    if (hs_oauth_source_new(&client, &hs_cli_vault_ops, &s->vault, 0, &s->src, &err) != HS_OK)
        return hs_cli_fail(cli, "%s", err.msg);
    const char *tenant = s->stored.tenant_id != NULL && s->stored.tenant_id[0] != '\0'
                             ? s->stored.tenant_id
                             : cc->tenant_id;
    struct hs_connector_config kc = {
        .name = name,
        .base_url = base,
        .tenant = tenant,
        .http = &ws->http,
        .env = &ws->env,
        .token = hs_oauth_source_token,
        .token_ud = s->src,
        .settings = s->settings,
    };
    /* every request of the account goes through one limiter of the provider's windows */
    if (hs_conn_open_limited(s->ops, &kc, &s->limiter, &s->conn, &err) != HS_OK)
        return hs_cli_fail(cli, "connection '%s': %s", name, err.msg);
    /* a wait longer than this (a day window spent) stops the pass instead of sleeping; a
     * pause stored by an earlier pass holds until it ends (cli/pause.c) */
    hs_ratelimit_set_max_wait(s->limiter, HS_CLI_LIMIT_WAIT_MAX_MS);
    if (ws->tty)
        hs_ratelimit_set_notice(s->limiter, wait_notice, s, HS_CLI_NOTICE_WAIT_MS);
    struct hs_cli_pause pause;
    if (hs_cli_pause_get(ws->store, name, &pause)) {
        int64_t left = pause.until_ms - hs_env_now_ms(&ws->env);
        if (left > 0)
            hs_ratelimit_pause(s->limiter, pause.scope, left);
    }
    return HS_CLI_EXIT_OK;
}

int hs_cli_ws_open(struct hs_cli *cli, bool connectors, struct hs_cli_ws **out)
{
    *out = NULL;
    struct hs_error err = {0};
    if (cli->config == NULL && hs_config_load_file(cli->config_path, &cli->config, &err) != HS_OK)
        return hs_cli_fail(cli, "%s", err.msg);
    const struct hs_config *cfg = cli->config;
    struct hs_cli_ws *ws = hs_calloc(1, sizeof *ws);
    if (ws == NULL)
        return hs_cli_fail(cli, "out of memory");
    hs_env_system(&ws->env, HS_LOG_WARN);
    hs_conn_fields_init(&ws->fields);
    ws->tty = isatty(fileno(cli->err)) != 0;
    struct hs_store_options sopt = {.env = &ws->env, .key_file = cfg->master_key_file};
    if (hs_store_open(cfg->store, &sopt, &ws->store, &err) != HS_OK) {
        hs_cli_ws_close(ws);
        return hs_cli_fail(cli, "%s", err.msg);
    }
    if (connectors) {
        int rc = HS_CLI_EXIT_OK;
        if (hs_http_curl_open(NULL, &ws->http, &err) != HS_OK)
            rc = hs_cli_fail(cli, "%s", err.msg);
        else
            ws->have_http = true;
        if (rc == HS_CLI_EXIT_OK)
            rc = side_open(cli, ws, &ws->crm, &cfg->crm, "crm");
        if (rc == HS_CLI_EXIT_OK)
            rc = side_open(cli, ws, &ws->acc, &cfg->accounting, "accounting");
        /* provider field names of `mappings:` (DisplayName, HubSpot name) resolve through
         * the connector of their side, with the settings the connection runs with */
        if (rc == HS_CLI_EXIT_OK && hs_conn_fields_load(&ws->fields, HS_SIDE_CRM, ws->crm.ops,
                                                        ws->crm.settings, &err) != HS_OK)
            rc = hs_cli_fail(cli, "connection 'crm': %s", err.msg);
        if (rc == HS_CLI_EXIT_OK &&
            hs_conn_fields_load(&ws->fields, HS_SIDE_ACCOUNTING, ws->acc.ops, ws->acc.settings,
                                &err) != HS_OK)
            rc = hs_cli_fail(cli, "connection 'accounting': %s", err.msg);
        if (rc == HS_CLI_EXIT_OK && hs_cli_invoicing_new(cfg, &ws->invoicing, &err) != HS_OK)
            rc = hs_cli_fail(cli, "%s", err.msg);
        if (rc == HS_CLI_EXIT_OK) {
            struct hs_engine_config ec = {
                .config = cfg,
                .store = ws->store,
                .crm = {.ops = ws->crm.ops,
                        .conn = ws->crm.conn,
                        .conn_id = "crm",
                        .limiter = ws->crm.limiter},
                .accounting = {.ops = ws->acc.ops,
                               .conn = ws->acc.conn,
                               .conn_id = "accounting",
                               .limiter = ws->acc.limiter},
                .env = &ws->env,
                .progress = ws->tty ? progress_cb : NULL,
                .progress_ud = cli,
                .invoicing = hs_cli_invoicing_engine(ws->invoicing),
                .resolve = hs_conn_fields_resolve,
                .resolve_ud = &ws->fields,
            };
            if (hs_engine_open(&ec, &ws->engine, &err) != HS_OK)
                rc = hs_cli_fail(cli, "%s", err.msg);
        }
        if (rc != HS_CLI_EXIT_OK) {
            hs_cli_ws_close(ws);
            return rc;
        }
    }
    *out = ws;
    return HS_CLI_EXIT_OK;
}

void hs_cli_ws_progress_done(struct hs_cli_ws *ws, struct hs_cli *cli)
{
    if (ws->tty)
        fputs("\r\033[K", cli->err);
}

/* ---- printing a report (shared with plan) ----------------------------------------------- */

int hs_cli_print_report(struct hs_cli *cli, const struct hs_engine_report *r, bool json,
                        const char *title)
{
    if (json) {
        json_t *arr = json_array();
        json_t *o =
            arr != NULL
                ? json_pack("{s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}}", "actions", arr,
                            "counts", "changes_seen", (json_int_t)r->n_changes_seen, "records_read",
                            (json_int_t)r->n_records_read, "writes", (json_int_t)r->n_writes,
                            "created", (json_int_t)r->n_created, "updated",
                            (json_int_t)r->n_updated, "linked", (json_int_t)r->n_linked,
                            "conflicts", (json_int_t)r->n_conflicts, "errors",
                            (json_int_t)r->n_errors, "reviews", (json_int_t)r->n_reviews, "skipped",
                            (json_int_t)r->n_skipped)
                : NULL;
        bool ok = o != NULL;
        for (size_t i = 0; ok && i < r->n_actions; i++) {
            const struct hs_engine_action *a = &r->actions[i];
            ok = json_array_append_new(
                     arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?,s:s?,s:s}", "action",
                                    hs_engine_action_name(a->kind), "flow", a->flow, "object",
                                    hs_kind_name(a->object), "source_side",
                                    a->source_side == HS_SIDE_CRM ? "crm" : "accounting",
                                    "source_id", a->source_id, "target_id", a->target_id, "fields",
                                    a->fields, "reason", a->reason)) == 0;
        }
        if (!ok || json_dumpf(o, cli->out, JSON_COMPACT) != 0) {
            json_decref(o);
            return hs_cli_fail(cli, "cannot print the report: out of memory");
        }
        json_decref(o);
        fputc('\n', cli->out);
        return HS_CLI_EXIT_OK;
    }
    if (r->n_actions == 0) {
        fprintf(cli->out, "%s: nothing to do (%zu changes seen)\n", title, r->n_changes_seen);
        return HS_CLI_EXIT_OK;
    }
    fprintf(cli->out, "%-9s %-12s %-9s %-22s %-22s %s\n", "ACTION", "FLOW", "OBJECT", "SOURCE",
            "TARGET", "REASON");
    for (size_t i = 0; i < r->n_actions; i++) {
        const struct hs_engine_action *a = &r->actions[i];
        char src[64];
        snprintf(src, sizeof src, "%s:%s", a->source_side == HS_SIDE_CRM ? "crm" : "acc",
                 a->source_id);
        fprintf(cli->out, "%-9s %-12s %-9s %-22s %-22s %s%s%s%s\n", hs_engine_action_name(a->kind),
                a->flow, hs_kind_name(a->object), src, a->target_id != NULL ? a->target_id : "-",
                a->reason, a->fields != NULL ? " [" : "", a->fields != NULL ? a->fields : "",
                a->fields != NULL ? "]" : "");
    }
    /* "skipped" (records outside the flows' filters) only when there are some */
    char skipped[48] = "";
    if (r->n_skipped > 0)
        snprintf(skipped, sizeof skipped, ", %zu skipped by filter", r->n_skipped);
    fprintf(cli->out,
            "%s: %zu created, %zu updated, %zu linked, %zu conflicts, %zu errors, %zu reviews%s "
            "(%zu changes seen)\n",
            title, r->n_created, r->n_updated, r->n_linked, r->n_conflicts, r->n_errors,
            r->n_reviews, skipped, r->n_changes_seen);
    return HS_CLI_EXIT_OK;
}

/* ---- the command ------------------------------------------------------------------------ */

static const char usage[] =
    "usage: hoopsync sync --once [--max-wait SECONDS] [--json]\n"
    "\n"
    "Run one sync pass: read what changed on both sides since the last pass, link,\n"
    "create and update records as the flows of hoopsync.yaml say, queue conflicts and\n"
    "errors, then exit. For continuous sync, run it every few minutes (cron, a systemd\n"
    "timer): each pass takes up where the last one stopped.\n"
    "\n"
    "Rate limits: calls are paced to each provider's published windows. When a window\n"
    "would hold the pass up for longer than --max-wait (a provider's daily limit is\n"
    "spent), the pass stops: what it did is kept, the rest stays pending, and the\n"
    "command says when work resumes (so does 'hoopsync status'); exit status 75.\n"
    "Until then, further passes stop at once without calling that provider.\n"
    "\n"
    "options:\n"
    "  --once              run one pass and exit (required)\n"
    "  --max-wait SECONDS  longest wait for a rate-limit window (default 900)\n"
    "  --json              print what was done as JSON\n"
    "  -h, --help          show this help\n"
    "\n"
    "exit status: 0 done, 1 failed, 2 usage error, 75 paused by a provider's limit\n";

enum { OPT_ONCE = 1, OPT_JSON, OPT_MAX_WAIT };

/*
 * After a failed pass: when a side's limiter refused a call (its limit is spent for longer
 * than we wait), stores the pause, says when work resumes and what stays pending, and
 * returns HS_CLI_EXIT_PAUSED; else HS_CLI_EXIT_OK (the failure is another one).
 */
static int paused(struct hs_cli *cli, struct hs_cli_ws *ws)
{
    int rc = HS_CLI_EXIT_OK;
    struct ws_side *sides[] = {&ws->crm, &ws->acc};
    for (size_t i = 0; i < 2; i++) {
        struct hs_ratelimit_block b;
        if (!hs_ratelimit_blocked(sides[i]->limiter, &b))
            continue;
        struct hs_error err = {0};
        char reason[HS_ERRMSG_MAX];
        hs_conn_limit_reason(sides[i]->name, &b, reason, sizeof reason);
        if (hs_cli_pause_put(ws->store, sides[i]->name, b.resume_at_ms, b.scope, reason, &err) !=
            HS_OK)
            return hs_cli_fail(cli, "%s", err.msg);
        int pending = hs_store_dirty_count(ws->store, &err);
        char when[40];
        hs_conn_fmt_utc(b.resume_at_ms, when, sizeof when);
        fprintf(cli->err,
                "hoopsync: sync paused: %s\nhoopsync: %d changes stay pending (nothing is lost); "
                "run 'hoopsync sync --once' again after %s ('hoopsync status' shows it)\n",
                reason, pending > 0 ? pending : 0, when);
        rc = HS_CLI_EXIT_PAUSED;
    }
    return rc;
}

int hs_cli_cmd_sync(int argc, char **argv, struct hs_cli *cli)
{
    static const struct hs_cli_opt opts[] = {
        {"once", 0, false, OPT_ONCE},
        {"json", 0, false, OPT_JSON},
        {"max-wait", 0, true, OPT_MAX_WAIT},
        {NULL, 0, false, 0},
    };
    struct hs_cli_args a;
    hs_cli_args_init(&a, argc, argv, usage);
    bool once = false, json = false;
    int64_t max_wait_s = HS_CLI_LIMIT_WAIT_MAX_MS / 1000;
    for (;;) {
        int id = hs_cli_next_opt(cli, &a, opts);
        if (id == 0)
            break;
        if (id < 0)
            return HS_CLI_EXIT_USAGE;
        if (id == HS_CLI_OPT_HELP)
            return hs_cli_help(cli, usage);
        if (id == OPT_ONCE)
            once = true;
        if (id == OPT_JSON)
            json = true;
        if (id == OPT_MAX_WAIT && (hs_str_to_i64(a.arg, strlen(a.arg), &max_wait_s) != HS_OK ||
                                   max_wait_s < 1 || max_wait_s > 86400))
            return hs_cli_usage_error(cli, usage,
                                      "option '--max-wait' needs seconds from 1 to 86400");
    }
    if (a.ind < argc)
        return hs_cli_usage_error(cli, usage, "unexpected argument '%s'", argv[a.ind]);
    if (!once)
        return hs_cli_usage_error(cli, usage,
                                  "missing --once: each run is one pass (for continuous sync, "
                                  "run 'hoopsync sync --once' from cron or a systemd timer)");
    struct hs_cli_ws *ws = NULL;
    int rc = hs_cli_ws_open(cli, true, &ws);
    if (rc != HS_CLI_EXIT_OK || ws == NULL)
        return rc != HS_CLI_EXIT_OK ? rc : HS_CLI_EXIT_FAIL;
    hs_ratelimit_set_max_wait(ws->crm.limiter, max_wait_s * 1000);
    hs_ratelimit_set_max_wait(ws->acc.limiter, max_wait_s * 1000);
    struct hs_engine_report r;
    hs_engine_report_init(&r);
    struct hs_error err = {0};
    int erc = hs_engine_run_once(ws->engine, &r, &err);
    hs_cli_ws_progress_done(ws, cli);
    /* a stopped pass says what it did (if anything) and then why it stopped, never "nothing
     * to do" */
    if (erc == HS_OK || json || r.n_actions > 0)
        rc = hs_cli_print_report(cli, &r, json, erc == HS_OK ? "sync" : "sync (stopped)");
    if (erc != HS_OK) {
        int prc = paused(cli, ws);
        rc = prc != HS_CLI_EXIT_OK ? prc : hs_cli_fail(cli, "%s", err.msg);
    } else {
        struct hs_error cerr = {0};
        if (hs_cli_pause_clear(ws->store, "crm", &cerr) != HS_OK ||
            hs_cli_pause_clear(ws->store, "accounting", &cerr) != HS_OK)
            rc = hs_cli_fail(cli, "%s", cerr.msg);
    }
    hs_engine_report_release(&r);
    hs_cli_ws_close(ws);
    return rc;
}
