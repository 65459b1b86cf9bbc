/*
 * cli/cmd_connect.c - `hoopsync connect crm|accounting`: OAuth2 consent, tokens into the store.
 *
 * Design:     the authorization-code flow of net/oauth.h, driven from the terminal:
 *               1. read the connection from hoopsync.yaml (provider, base_url, client_id,
 *                  client_secret_env, redirect_uri, scopes) and open the store first, so a
 *                  missing master key fails before the user is sent to a browser;
 *               2. start the loopback listener on redirect_uri's port (port 0: a free one),
 *                  print the consent URL on stdout (instructions on stderr) and wait;
 *               3. exchange the code (libcurl), then in ONE store transaction record the
 *                  connection (kind, provider, tenant: QuickBooks realmId from the redirect,
 *                  HubSpot hub_id from the token answer, Xero's tenantId from GET
 *                  /connections with the new access token: the organisation named by
 *                  connections.<name>.tenant_id when set, else the first one; Zoho Books'
 *                  organization_id from GET /books/v3/organizations the same way, the
 *                  default organization first), the client
 *                  secret and the tokens, all encrypted by the store;
 *               4. run the connector's one-time setup() (HubSpot: the hoopsync properties)
 *                  with a token source over the store (connector_ops_for below is the one
 *                  place that knows which providers have a connector).
 *             The token source's vault is the workspace store (cli/vault.c).
 * Ownership:  everything is local to hs_cli_cmd_connect and freed before it returns.
 * Not here:   the protocol (net/oauth.c), the store (src/store), provider set-up
 *             (connectors/<p>/).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "config/config.h"
#include "connectors/hubspot/hubspot.h"
#include "connectors/quickbooks/quickbooks.h"
#include "hoopsync/connector.h"
#include "hoopsync/error.h"
#include "hoopsync/store.h"
#include "net/http.h"
#include "net/oauth.h"
#include "util/alloc.h"
#include "util/env.h"
#include "util/json.h"
#include "util/str.h"

static const char usage[] =
    "usage: hoopsync connect [--timeout SECONDS] [--url-only] [--no-setup] [--json] "
    "crm|accounting\n"
    "\n"
    "Authorize hoopsync on the CRM or accounting account named in hoopsync.yaml (OAuth2\n"
    "authorization code flow). Prints the consent URL to open in a browser, receives the\n"
    "provider's redirect on the loopback redirect_uri, exchanges the code and stores the\n"
    "connection with its tokens, encrypted with the master key. Then runs the connector's\n"
    "one-time set-up (HubSpot: the hoopsync custom properties).\n"
    "\n"
    "options:\n"
    "  --timeout SECONDS  how long to wait for the consent (default 300)\n"
    "  --url-only         print only the consent URL on stdout, nothing on stderr until done\n"
    "  --no-setup         do not run the connector's set-up after connecting\n"
    "  --json             print the result as JSON\n"
    "  -h, --help         show this help\n";

enum { OPT_TIMEOUT = 1, OPT_URL_ONLY, OPT_NO_SETUP, OPT_JSON };

/* Runs ops->setup with a token source over the store. HS_OK when there is nothing to do. */
static int run_connector_setup(const char *provider, const char *name, const char *base_url,
                               const char *tenant, const struct hs_oauth_client *client,
                               struct hs_store *store, struct hs_error *err)
{
    const struct hs_connector_ops *ops = hs_cli_connector_for(provider);
    if (ops == NULL || ops->setup == NULL)
        return HS_OK;
    struct hs_cli_vault v = {store, name};
    struct hs_oauth_source *src = NULL;
    int rc = hs_oauth_source_new(client, &hs_cli_vault_ops, &v, 0, &src, err);
    if (rc != HS_OK)
        return rc;
    struct hs_connector_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.name = name;
    cfg.base_url = base_url;
    cfg.tenant = tenant;
    cfg.http = client->http;
    cfg.env = client->env;
    cfg.token = hs_oauth_source_token;
    cfg.token_ud = src;
    struct hs_connector *c = NULL;
    rc = ops->open(&cfg, &c, err);
    if (rc == HS_OK) {
        rc = ops->setup(c, err);
        ops->close(c);
    }
    hs_oauth_source_free(src);
    return rc;
}

/* Where a provider lists the tenants a new grant covers, and how to pick one. */
struct tenant_list {
    const char *path;        /* under the base URL */
    const char *auth_scheme; /* "Bearer", "Zoho-oauthtoken" */
    const char *what;        /* "Xero connections", in messages */
    const char *array_key;   /* the list's key in the answer; NULL: the answer is the list */
    const char *id_key;
    const char *type_key; /* with type_value: only entries of that type count; may be NULL */
    const char *type_value;
    const char *default_key; /* an entry marked so is taken before the first; may be NULL */
    const char *label;       /* "Xero", in messages */
    const char *unit;        /* what a tenant is called there: "organisation" */
    const char *hint;        /* appended when the configured tenant is not covered */
};

/* Xero: GET <base>/connections, the first ORGANISATION. */
static const struct tenant_list xero_list = {
    "connections",
    "Bearer",
    "Xero connections",
    NULL,
    "tenantId",
    "tenantType",
    "ORGANISATION",
    NULL,
    "Xero",
    "organisation",
    " (connect that organisation when Xero asks)",
};

/* Zoho Books: GET <base>/books/v3/organizations, the default organization, else the first. */
static const struct tenant_list zoho_list = {
    "books/v3/organizations",
    "Zoho-oauthtoken",
    "Zoho Books organizations",
    "organizations",
    "organization_id",
    NULL,
    NULL,
    "is_default_org",
    "Zoho Books",
    "organization",
    "",
};

/*
 * The tenant the grant covers, from the provider's list (tl) read with the new access token.
 * wanted (the configured tenant_id, may be NULL) must be among them; without it the default
 * (tl->default_key) is taken, else the first, and *out_n says how many there were. *out
 * (caller frees) is NULL on failure.
 */
static int learn_tenant(const struct tenant_list *tl, const struct hs_http_transport *http,
                        const char *base, const char *token, const char *wanted, char **out,
                        size_t *out_n, struct hs_error *err)
{
    *out = NULL;
    *out_n = 0;
    char *url = hs_asprintf("%s%s%s", base,
                            base[0] != '\0' && base[strlen(base) - 1] == '/' ? "" : "/", tl->path);
    char *auth = hs_asprintf("%s %s", tl->auth_scheme, token);
    struct hs_http_request req;
    struct hs_http_response resp;
    hs_http_request_init(&req);
    hs_http_response_init(&resp);
    int rc = url != NULL && auth != NULL ? hs_http_request_set(&req, "GET", url) : HS_ENOMEM;
    if (rc == HS_OK)
        rc = hs_http_headers_set(&req.headers, "Authorization", auth);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&req.headers, "Accept", "application/json");
    if (rc == HS_OK)
        rc = hs_http_send(http, &req, &resp, err);
    json_t *root = NULL;
    if (rc == HS_OK && resp.status != 200)
        rc = hs_error_set(err, HS_EPROTO, "cannot list %s '%s': HTTP %d", tl->what, url,
                          resp.status);
    if (rc == HS_OK)
        rc = hs_json_parse((const uint8_t *)(resp.body.data != NULL ? resp.body.data : ""),
                           resp.body.len, tl->what, &root, err);
    const json_t *arr = tl->array_key != NULL ? json_object_get(root, tl->array_key) : root;
    if (rc == HS_OK && !json_is_array(arr))
        rc = hs_error_set(err, HS_EPROTO, "cannot list %s: no list in the answer", tl->what);
    const char *pick = NULL;
    bool pick_default = false;
    size_t i;
    const json_t *o;
    json_array_foreach(rc == HS_OK ? arr : NULL, i, o)
    {
        const char *id = json_string_value(json_object_get(o, tl->id_key));
        const char *type =
            tl->type_key != NULL ? json_string_value(json_object_get(o, tl->type_key)) : NULL;
        if (id == NULL || (type != NULL && strcmp(type, tl->type_value) != 0))
            continue;
        (*out_n)++;
        bool dflt = tl->default_key != NULL && json_is_true(json_object_get(o, tl->default_key));
        if (wanted != NULL ? hs_str_ieq(id, wanted) : pick == NULL || (dflt && !pick_default)) {
            pick = id;
            pick_default = dflt;
        }
    }
    if (rc == HS_OK && pick == NULL && wanted != NULL)
        rc = hs_error_set(err, HS_ENOTFOUND, "the %s grant does not cover %s '%s'%s", tl->label,
                          tl->unit, wanted, tl->hint);
    else if (rc == HS_OK && pick == NULL)
        rc = hs_error_set(err, HS_ENOTFOUND, "the %s grant covers no %s", tl->label, tl->unit);
    if (rc == HS_OK && (*out = hs_strdup(pick)) == NULL)
        rc = hs_error_set(err, HS_ENOMEM, "out of memory");
    json_decref(root);
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    hs_free(url);
    hs_free(auth);
    return rc;
}

/* Existing settings of conn (or {}) with "oauth" replaced. Caller frees. */
static char *merged_settings(struct hs_store *store, const char *conn, json_t *oauth)
{
    struct hs_store_connection old;
    json_t *obj = NULL;
    if (hs_store_connection_get(store, conn, &old, NULL) == HS_OK) {
        if (old.settings != NULL &&
            hs_json_parse((const uint8_t *)old.settings, strlen(old.settings), "stored settings",
                          &obj, NULL) != HS_OK)
            obj = NULL; /* unreadable settings are replaced */
        hs_store_connection_release(&old);
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        obj = json_object();
    }
    char *out = NULL;
    if (obj != NULL && json_object_set(obj, "oauth", oauth) == 0)
        out = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(obj);
    return out;
}

static int save_connection(struct hs_store *store, const char *name, enum hs_store_side kind,
                           const char *provider, const char *tenant, const char *client_id,
                           const char *secret, const struct hs_oauth_tokens *t,
                           const char *accounts_server, struct hs_error *err)
{
    /* a data center's accounts server and API domain (Zoho), checked before they get here */
    json_t *oauth = json_pack("{s:s, s:I, s:s?, s:s?}", "client_id", client_id,
                              "refresh_expires_at", (json_int_t)t->refresh_expires_at,
                              "accounts_server", accounts_server, "api_domain", t->api_domain);
    char *settings = oauth != NULL ? merged_settings(store, name, oauth) : NULL;
    json_decref(oauth);
    if (settings == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot store connection '%s': out of memory", name);
    int rc = hs_store_begin(store, err);
    if (rc == HS_OK) {
        rc = hs_store_connection_put(store, name, kind, provider, tenant, settings, err);
        if (rc == HS_OK)
            rc = hs_store_client_secret_set(store, name, secret, err);
        if (rc == HS_OK)
            rc = hs_store_tokens_set(store, name, t->access_token, t->refresh_token, t->expires_at,
                                     err);
        if (rc == HS_OK)
            rc = hs_store_commit(store, err);
        else
            (void)hs_store_rollback(store, NULL);
    }
    hs_free(settings); /* json_dumps allocates through hs_malloc (hs_alloc_setup_json) */
    return rc;
}

struct run {
    const char *name;
    bool url_only;
    bool no_setup;
    bool json;
    int64_t timeout_s;
};

static int connect_run(struct hs_cli *cli, const struct run *r)
{
    struct hs_error cerr = {0};
    if (hs_config_load_file(cli->config_path, &cli->config, &cerr) != HS_OK)
        return hs_cli_fail(cli, "%s", cerr.msg);
    const struct hs_config *cfg = cli->config;
    const bool crm = strcmp(r->name, "crm") == 0;
    const struct hs_config_connection *conn = crm ? &cfg->crm : &cfg->accounting;
    if (!conn->present)
        return hs_cli_fail(cli, "connection '%s' is not configured in '%s' (connections.%s)",
                           r->name, cli->config_path, r->name);
    const char *provider = hs_config_provider_name(conn->provider);
    const struct hs_oauth_profile *profile = hs_oauth_profile_find(provider);
    if (profile == NULL)
        return hs_cli_fail(cli, "connection '%s': provider '%s' cannot be connected yet", r->name,
                           provider);
    if (conn->client_id == NULL)
        return hs_cli_fail(cli, "connection '%s': set connections.%s.client_id in '%s'", r->name,
                           r->name, cli->config_path);
    if (conn->redirect_uri == NULL)
        return hs_cli_fail(cli, "connection '%s': set connections.%s.redirect_uri in '%s'", r->name,
                           r->name, cli->config_path);
    const char *secret = conn->client_secret_env != NULL ? getenv(conn->client_secret_env) : NULL;
    if (secret == NULL || secret[0] == '\0')
        return hs_cli_fail(cli,
                           "connection '%s': the client secret is not set; export the variable "
                           "named by connections.%s.client_secret_env (%s)",
                           r->name, r->name,
                           conn->client_secret_env ? conn->client_secret_env : "not set");

    struct hs_env env;
    hs_env_system(&env, HS_LOG_WARN);
    struct hs_error err = {0};
    struct hs_store *store = NULL;
    struct hs_oauth_listener *listener = NULL;
    struct hs_http_transport http = {0};
    struct hs_oauth_consent consent = {0};
    struct hs_oauth_callback cb = {0};
    struct hs_oauth_tokens tokens = {0};
    char *authorize = NULL;
    char *token_url = NULL;
    char *dc_token_url = NULL;
    char *learned_tenant = NULL;
    int exit_code = HS_CLI_EXIT_FAIL;

    struct hs_store_options sopt;
    memset(&sopt, 0, sizeof sopt);
    sopt.key_file = cfg->master_key_file;
    if (hs_store_open(cfg->store, &sopt, &store, &err) != HS_OK) {
        hs_cli_fail(cli, "%s", err.msg);
        goto done;
    }
    if (!hs_store_has_key(store)) {
        hs_cli_fail(cli, "cannot store tokens: no master key (run 'hoopsync init' or set $%s)",
                    HS_STORE_KEY_ENV);
        goto done;
    }
    if (hs_oauth_endpoints(profile, conn->base_url, &authorize, &token_url, &err) != HS_OK ||
        hs_oauth_listen_open(profile, r->name, conn->redirect_uri, "", &env, &listener, &err) !=
            HS_OK) {
        hs_cli_fail(cli, "%s", err.msg);
        goto done;
    }
    if (hs_http_curl_open(NULL, &http, &err) != HS_OK) {
        hs_cli_fail(cli, "%s", err.msg);
        goto done;
    }
    struct hs_oauth_client client;
    memset(&client, 0, sizeof client);
    client.profile = profile;
    client.name = r->name;
    client.client_id = conn->client_id;
    client.client_secret = secret;
    client.redirect_uri = hs_oauth_listener_redirect_uri(listener);
    client.authorize_url = authorize;
    client.token_url = token_url;
    client.http = &http;
    client.env = &env;
    if (hs_oauth_consent_build(&client, (const char *const *)conn->scopes, conn->n_scopes, &consent,
                               &err) != HS_OK) {
        hs_cli_fail(cli, "%s", err.msg);
        goto done;
    }
    if (hs_oauth_listen_expect(listener, consent.state, &err) != HS_OK) {
        hs_cli_fail(cli, "%s", err.msg);
        goto done;
    }
    if (!r->url_only)
        fprintf(cli->err,
                "hoopsync: open this URL in a browser to authorize hoopsync on %s "
                "(connection '%s'); waiting up to %lld s on %s\n",
                provider, r->name, (long long)r->timeout_s, client.redirect_uri);
    fprintf(cli->out, "%s\n", consent.url);
    fflush(cli->out);
    if (hs_oauth_listen_wait(listener, r->timeout_s * 1000, &cb, &err) != HS_OK) {
        hs_cli_fail(cli, "%s", err.msg);
        goto done;
    }
    /* an account of another data center: its own accounts server issues the tokens */
    if (cb.dc != NULL) {
        if (hs_oauth_dc_token_url(profile, conn->base_url, r->name, cb.dc, &dc_token_url, &err) !=
            HS_OK) {
            hs_cli_fail(cli, "%s", err.msg);
            goto done;
        }
        client.token_url = dc_token_url;
    }
    /* the listener stays open until the end: client.redirect_uri is its string */
    if (hs_oauth_exchange(&client, cb.code, consent.verifier, &tokens, &err) != HS_OK) {
        hs_cli_fail(cli, "%s", err.msg);
        goto done;
    }
    if (tokens.api_domain != NULL &&
        !hs_oauth_api_domain_ok(profile, conn->base_url, tokens.api_domain)) {
        char shown[96];
        snprintf(shown, sizeof shown, "%.80s", tokens.api_domain);
        hs_cli_fail(cli,
                    "connection '%s' (%s): the token answer named the API domain '%s', which is "
                    "not one of %s's data centers; nothing was stored",
                    r->name, provider, shown, provider);
        goto done;
    }
    /* where the account's API lives: its data center's domain, else the configured base */
    const char *api_base = tokens.api_domain != NULL ? tokens.api_domain
                           : conn->base_url != NULL  ? conn->base_url
                                                     : hs_cli_provider_base(provider);
    const char *tenant = cb.tenant != NULL       ? cb.tenant
                         : tokens.tenant != NULL ? tokens.tenant
                                                 : conn->tenant_id;
    /* Xero and Zoho Books: the tenant comes from the provider's list, not the redirect */
    const struct tenant_list *tl = hs_str_eq(provider, "xero")        ? &xero_list
                                   : hs_str_eq(provider, "zohobooks") ? &zoho_list
                                                                      : NULL;
    if (tl != NULL) {
        size_t n_orgs = 0;
        if (learn_tenant(tl, &http, api_base, tokens.access_token, conn->tenant_id, &learned_tenant,
                         &n_orgs, &err) != HS_OK) {
            hs_cli_fail(cli, "connection '%s': %s", r->name, err.msg);
            goto done;
        }
        tenant = learned_tenant;
        if (n_orgs > 1 && conn->tenant_id == NULL && !r->json)
            fprintf(cli->err,
                    "hoopsync: the grant covers %zu %s %ss; using %s. Set "
                    "connections.%s.tenant_id to choose another\n",
                    n_orgs, tl->label, tl->unit, tenant, r->name);
    }
    if (save_connection(store, r->name, crm ? HS_STORE_CRM : HS_STORE_ACCOUNTING, provider, tenant,
                        conn->client_id, secret, &tokens, dc_token_url != NULL ? cb.dc : NULL,
                        &err) != HS_OK) {
        hs_cli_fail(cli, "cannot store connection '%s': %s", r->name, err.msg);
        goto done;
    }
    bool setup_done = false;
    if (!r->no_setup) {
        if (run_connector_setup(provider, r->name, api_base, tenant, &client, store, &err) !=
            HS_OK) {
            hs_cli_fail(cli,
                        "connected '%s', but its set-up failed: %s; run 'hoopsync connect %s' "
                        "again",
                        r->name, err.msg, r->name);
            goto done;
        }
        setup_done = hs_cli_connector_for(provider) != NULL;
    }
    if (r->json) {
        json_t *j = json_pack("{s:s, s:s, s:s?, s:I, s:b}", "connection", r->name, "provider",
                              provider, "tenant", tenant, "expires_at",
                              (json_int_t)tokens.expires_at, "setup", setup_done);
        char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (s == NULL) {
            hs_cli_fail(cli, "out of memory");
            goto done;
        }
        fprintf(cli->out, "%s\n", s);
        hs_free(s);
    } else {
        fprintf(cli->out, "connected '%s' (%s%s%s); tokens stored encrypted in %s%s\n", r->name,
                provider, tenant != NULL && tenant[0] ? ", tenant " : "", tenant ? tenant : "",
                cfg->store, setup_done ? "; set-up done" : "");
    }
    exit_code = HS_CLI_EXIT_OK;
done:
    hs_oauth_tokens_release(&tokens);
    hs_oauth_callback_release(&cb);
    hs_oauth_consent_release(&consent);
    hs_oauth_listen_close(listener);
    if (http.ops != NULL)
        hs_http_transport_close(&http);
    hs_free(authorize);
    hs_free(token_url);
    hs_free(dc_token_url);
    hs_free(learned_tenant);
    hs_store_close(store);
    return exit_code;
}

int hs_cli_cmd_connect(int argc, char **argv, struct hs_cli *cli)
{
    static const struct hs_cli_opt opts[] = {
        {"timeout", 0, true, OPT_TIMEOUT},
        {"url-only", 0, false, OPT_URL_ONLY},
        {"no-setup", 0, false, OPT_NO_SETUP},
        {"json", 0, false, OPT_JSON},
        {NULL, 0, false, 0},
    };
    struct run r;
    memset(&r, 0, sizeof r);
    r.timeout_s = 300;
    struct hs_cli_args a;
    hs_cli_args_init(&a, argc, argv, usage);
    const char *name = NULL;
    for (;;) {
        int id = hs_cli_next_opt(cli, &a, opts);
        if (id == 0) {
            /* options may follow the connection name: parse on after it */
            const char *op = hs_cli_shift_operand(&a);
            if (op == NULL)
                break;
            if (name != NULL)
                return hs_cli_usage_error(cli, usage, "unexpected argument '%s'", op);
            name = op;
            continue;
        }
        if (id < 0)
            return HS_CLI_EXIT_USAGE;
        if (id == HS_CLI_OPT_HELP)
            return hs_cli_help(cli, usage);
        if (id == OPT_TIMEOUT) {
            int64_t v = 0;
            if (hs_str_to_i64(a.arg, strlen(a.arg), &v) != HS_OK || v < 1 || v > 86400)
                return hs_cli_usage_error(cli, usage,
                                          "option '--timeout' needs seconds from 1 to 86400");
            r.timeout_s = v;
        } else if (id == OPT_URL_ONLY) {
            r.url_only = true;
        } else if (id == OPT_NO_SETUP) {
            r.no_setup = true;
        } else if (id == OPT_JSON) {
            r.json = true;
        }
    }
    if (name == NULL)
        return hs_cli_usage_error(cli, usage, "missing connection: crm or accounting");
    r.name = name;
    if (strcmp(r.name, "crm") != 0 && strcmp(r.name, "accounting") != 0)
        return hs_cli_usage_error(cli, usage, "unknown connection '%s': use crm or accounting",
                                  r.name);
    return connect_run(cli, &r);
}
