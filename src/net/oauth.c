/*
 * net/oauth.c - OAuth2 authorization code flow, token endpoint and token source.
 *
 * Design:     see net/oauth.h for the pieces. The token endpoint is called with a form POST
 *             (client authentication by HTTP Basic or in the body, per profile) and its
 *             answer is read with hs_oauth_tokens_parse, which trusts nothing: sizes are
 *             capped, tokens must be printable ASCII, lifetimes integers within ten years.
 *             The token source keeps the current tokens in memory behind one mutex and goes
 *             back to its vault whenever the in-memory copy is not good enough, because the
 *             vault (the store) is the truth shared with other processes: a token another
 *             process refreshed is used instead of refreshing again (with rotation, our
 *             refresh would fail: its refresh token was consumed).
 *             Crash safety: the new tokens are saved (atomically, by the vault) before the
 *             caller sees the access token, so the only window that can strand a rotating
 *             connection is between the provider's answer and that save; it is as short as
 *             we can make it (no other work in between).
 * States:     listener: waiting -> answered (first callback with the right state) -> taken
 *             (hs_oauth_listen_wait). Source: clean, or save-pending after a failed save
 *             (hs_oauth_source_token retries the save first).
 * Threads:    source: one mutex, held across refresh and save so concurrent callers wait and
 *             then share the result. Listener: the HTTP server's threads record the callback
 *             under the listener's mutex; the waiting thread polls it.
 * Ownership:  see net/oauth.h.
 * Not here:   the store-backed vault (cli/cmd_connect.c, engine), provider API calls
 *             (connectors/common/request.c).
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "net/oauth.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/str.h"

#define MAX_QUERY        8192
#define MAX_LIFETIME_S   ((int64_t)10 * 366 * 24 * 3600)
#define MAX_TENANT       128
#define TOKEN_ATTEMPTS   3
#define TOKEN_BACKOFF_MS 500
#define WAIT_STEP_MS     50

/* ---- profiles --------------------------------------------------------------------------- */

/* Zoho's data centers: US, EU, IN, AU, JP, CA, SA, UK, CN. */
static const char *const zoho_accounts[] = {
    "https://accounts.zoho.com",    "https://accounts.zoho.eu",
    "https://accounts.zoho.in",     "https://accounts.zoho.com.au",
    "https://accounts.zoho.jp",     "https://accounts.zohocloud.ca",
    "https://accounts.zoho.sa",     "https://accounts.zoho.uk",
    "https://accounts.zoho.com.cn", NULL};
static const char *const zoho_apis[] = {
    "https://www.zohoapis.com",    "https://www.zohoapis.eu",
    "https://www.zohoapis.in",     "https://www.zohoapis.com.au",
    "https://www.zohoapis.jp",     "https://www.zohoapis.ca",
    "https://www.zohoapis.sa",     "https://www.zohoapis.uk",
    "https://www.zohoapis.com.cn", NULL};

static const struct hs_oauth_profile profiles[] = {
    {
        .provider = "hubspot",
        .authorize_url = "https://app.hubspot.com/oauth/authorize",
        .token_url = "https://api.hubapi.com/oauth/v1/token",
        .sbx_authorize = "/oauth/authorize",
        .sbx_token = "/oauth/v1/token",
        .default_scopes = "oauth crm.objects.companies.read crm.objects.companies.write "
                          "crm.objects.contacts.read crm.objects.contacts.write "
                          "crm.objects.deals.read crm.objects.deals.write "
                          "crm.schemas.companies.write crm.schemas.deals.write e-commerce",
        .basic_auth = false,
        .pkce = false,
        .tenant_param = NULL,
        .tenant_field = "hub_id",
    },
    {
        .provider = "quickbooks",
        .authorize_url = "https://appcenter.intuit.com/connect/oauth2",
        .token_url = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
        .sbx_authorize = "/oauth2/authorize",
        .sbx_token = "/oauth2/v1/tokens/bearer",
        .default_scopes = "com.intuit.quickbooks.accounting",
        .basic_auth = true,
        .pkce = false,
        .tenant_param = "realmId",
        .tenant_field = NULL,
    },
    {
        /* the tenant comes from GET /connections after the exchange (cli/cmd_connect.c) */
        .provider = "xero",
        .authorize_url = "https://login.xero.com/identity/connect/authorize",
        .token_url = "https://identity.xero.com/connect/token",
        .sbx_authorize = "/identity/connect/authorize",
        .sbx_token = "/identity/connect/token",
        .default_scopes = "openid profile email offline_access accounting.transactions "
                          "accounting.contacts accounting.settings.read",
        .basic_auth = true,
        .pkce = false,
        .tenant_param = NULL,
        .tenant_field = NULL,
    },
    {
        /* Zoho Books: the organization comes from GET /organizations after the exchange
         * (cli/cmd_connect.c); the US data center's accounts server by default */
        .provider = "zohobooks",
        .authorize_url = "https://accounts.zoho.com/oauth/v2/auth",
        .token_url = "https://accounts.zoho.com/oauth/v2/token",
        .sbx_authorize = "/accounts/oauth/v2/auth",
        .sbx_token = "/accounts/oauth/v2/token",
        .default_scopes = "ZohoBooks.fullaccess.all",
        .basic_auth = false,
        .pkce = false,
        .tenant_param = NULL,
        .tenant_field = NULL,
        /* Zoho answers a refresh token only to an offline consent, and to a repeated consent
         * only when it is asked again (prompt=consent) */
        .auth_params = "access_type=offline&prompt=consent",
        /* an account outside the US data center is redirected with its own accounts server,
         * and its APIs live elsewhere too (Zoho's Multi DC pages) */
        .dc_param = "accounts-server",
        .dc_servers = zoho_accounts,
        .api_domain_field = "api_domain",
        .api_domains = zoho_apis,
    },
};

const struct hs_oauth_profile *hs_oauth_profile_find(const char *provider)
{
    for (size_t i = 0; provider != NULL && i < sizeof profiles / sizeof profiles[0]; i++)
        if (strcmp(profiles[i].provider, provider) == 0)
            return &profiles[i];
    return NULL;
}

static const char *prov(const struct hs_oauth_profile *p)
{
    return p != NULL && p->provider != NULL ? p->provider : "oauth";
}

static const char *nm(const char *name)
{
    return name != NULL ? name : "?";
}

int hs_oauth_endpoints(const struct hs_oauth_profile *p, const char *base_url, char **out_authorize,
                       char **out_token, struct hs_error *err)
{
    if (out_authorize != NULL)
        *out_authorize = NULL;
    if (out_token != NULL)
        *out_token = NULL;
    if (p == NULL || out_authorize == NULL || out_token == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot resolve OAuth endpoints: no profile");
    char *a = NULL;
    char *t = NULL;
    if (base_url == NULL || hs_str_starts(base_url, "https://")) {
        a = hs_strdup(p->authorize_url);
        t = hs_strdup(p->token_url);
    } else if (hs_str_starts(base_url, "http://")) {
        size_t n = strlen(base_url);
        while (n > 0 && base_url[n - 1] == '/')
            n--;
        a = hs_asprintf("%.*s%s", (int)n, base_url, p->sbx_authorize);
        t = hs_asprintf("%.*s%s", (int)n, base_url, p->sbx_token);
    } else {
        return hs_error_set(err, HS_EINVAL,
                            "cannot resolve OAuth endpoints of base_url '%s': not http(s)",
                            base_url);
    }
    if (a == NULL || t == NULL) {
        hs_free(a);
        hs_free(t);
        return hs_error_set(err, HS_ENOMEM, "cannot resolve OAuth endpoints: out of memory");
    }
    *out_authorize = a;
    *out_token = t;
    return HS_OK;
}

/* ---- consent ---------------------------------------------------------------------------- */

/* base64url without padding of (bin, n) into a new string. */
static char *b64url(const unsigned char *bin, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = hs_malloc(cap);
    if (out == NULL)
        return NULL;
    sodium_bin2base64(out, cap, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

static char *random_b64url(size_t nbytes)
{
    unsigned char raw[64];
    if (nbytes > sizeof raw || sodium_init() < 0)
        return NULL;
    randombytes_buf(raw, nbytes);
    char *s = b64url(raw, nbytes);
    sodium_memzero(raw, sizeof raw);
    return s;
}

/* Appends "&key=<encoded>" ("?"/"" first as sep says). */
static int add_param(struct hs_buf *b, const char *sep, const char *key, const char *value)
{
    char *enc = hs_str_url_encode(value);
    if (enc == NULL)
        return HS_ENOMEM;
    int rc = hs_buf_printf(b, "%s%s=%s", sep, key, enc);
    hs_free(enc);
    return rc;
}

void hs_oauth_consent_release(struct hs_oauth_consent *c)
{
    if (c == NULL)
        return;
    hs_free(c->url);
    hs_free(c->state);
    hs_free(c->verifier);
    memset(c, 0, sizeof *c);
}

int hs_oauth_consent_build(const struct hs_oauth_client *c, const char *const *scopes,
                           size_t n_scopes, struct hs_oauth_consent *out, struct hs_error *err)
{
    if (out == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot build the consent URL: no output");
    memset(out, 0, sizeof *out);
    if (c == NULL || c->profile == NULL || c->client_id == NULL || c->client_id[0] == '\0' ||
        c->redirect_uri == NULL || c->authorize_url == NULL)
        return hs_error_set(err, HS_EINVAL,
                            "cannot build the consent URL of connection '%s': client_id, "
                            "redirect_uri or the authorize URL is missing",
                            c != NULL ? nm(c->name) : "?");
    struct hs_buf scope;
    struct hs_buf url;
    hs_buf_init(&scope);
    hs_buf_init(&url);
    char *challenge = NULL;
    int rc = HS_OK;
    if (n_scopes == 0 || scopes == NULL) {
        rc = hs_buf_puts(&scope, c->profile->default_scopes ? c->profile->default_scopes : "");
    } else {
        for (size_t i = 0; rc == HS_OK && i < n_scopes; i++)
            rc = hs_buf_printf(&scope, "%s%s", i ? " " : "", scopes[i]);
    }
    if (rc != HS_OK)
        goto fail;
    rc = HS_ENOMEM;
    out->state = random_b64url(32);
    if (out->state == NULL)
        goto fail;
    if (c->profile->pkce) {
        out->verifier = random_b64url(48);
        if (out->verifier == NULL)
            goto fail;
        unsigned char h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, (const unsigned char *)out->verifier, strlen(out->verifier));
        challenge = b64url(h, sizeof h);
        if (challenge == NULL)
            goto fail;
    }
    rc = hs_buf_puts(&url, c->authorize_url);
    const char *sep = strchr(c->authorize_url, '?') != NULL ? "&" : "?";
    if (rc == HS_OK)
        rc = add_param(&url, sep, "response_type", "code");
    if (rc == HS_OK)
        rc = add_param(&url, "&", "client_id", c->client_id);
    if (rc == HS_OK)
        rc = add_param(&url, "&", "redirect_uri", c->redirect_uri);
    if (rc == HS_OK && scope.len > 0)
        rc = add_param(&url, "&", "scope", scope.data);
    if (rc == HS_OK)
        rc = add_param(&url, "&", "state", out->state);
    if (rc == HS_OK && challenge != NULL)
        rc = add_param(&url, "&", "code_challenge", challenge);
    if (rc == HS_OK && challenge != NULL)
        rc = add_param(&url, "&", "code_challenge_method", "S256");
    if (rc == HS_OK && c->profile->auth_params != NULL)
        rc = hs_buf_printf(&url, "&%s", c->profile->auth_params);
    if (rc != HS_OK)
        goto fail;
    out->url = hs_buf_detach(&url);
    if (out->url == NULL) {
        rc = HS_ENOMEM;
        goto fail;
    }
    hs_buf_release(&scope);
    hs_free(challenge);
    return HS_OK;
fail:
    hs_buf_release(&scope);
    hs_buf_release(&url);
    hs_free(challenge);
    hs_oauth_consent_release(out);
    return hs_error_set(err, rc, "cannot build the consent URL of connection '%s': %s", nm(c->name),
                        hs_strerror(rc));
}

/* ---- callback --------------------------------------------------------------------------- */

void hs_oauth_callback_release(struct hs_oauth_callback *cb)
{
    if (cb == NULL)
        return;
    hs_free(cb->code);
    hs_free(cb->state);
    hs_free(cb->tenant);
    hs_free(cb->dc);
    memset(cb, 0, sizeof *cb);
}

static bool state_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return false;
    size_t n = strlen(a);
    if (n != strlen(b) || n == 0)
        return false;
    return sodium_memcmp(a, b, n) == 0;
}

/* Printable copy for messages (at most 80 chars of s). */
static void clip(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (size_t i = 0; s != NULL && s[i] != '\0' && o + 1 < cap && i < 80; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[o++] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
    }
    out[o] = '\0';
}

/* Is url (trailing slashes aside) one of list, or, with an http:// base_url, on its origin? */
static bool dc_trusted(const char *const *list, const char *base_url, const char *url)
{
    if (url == NULL || *url == '\0' || strlen(url) > 200)
        return false;
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f || url[i] == '?' ||
            url[i] == '#' || url[i] == '@' || url[i] == '\\')
            return false;
    if (base_url != NULL && hs_str_starts(base_url, "http://")) {
        /* the sandbox: scheme://host[:port] of base_url, then the end or a '/' */
        const char *host = base_url + 7;
        size_t origin = 7 + strcspn(host, "/");
        return n >= origin && strncmp(url, base_url, origin) == 0 &&
               (n == origin || url[origin] == '/');
    }
    for (size_t i = 0; list != NULL && list[i] != NULL; i++)
        if (strlen(list[i]) == n && strncmp(list[i], url, n) == 0)
            return true;
    return false;
}

int hs_oauth_dc_token_url(const struct hs_oauth_profile *p, const char *base_url, const char *name,
                          const char *server, char **out_token, struct hs_error *err)
{
    *out_token = NULL;
    if (p == NULL || p->dc_param == NULL || !dc_trusted(p->dc_servers, base_url, server)) {
        char shown[96];
        clip(shown, sizeof shown, server != NULL ? server : "(none)");
        return hs_error_set(err, HS_EAUTH,
                            "connection '%s' (%s): the consent named the accounts server '%s', "
                            "which is not one of %s's data centers; nothing was sent to it",
                            nm(name), prov(p), shown, prov(p));
    }
    size_t n = strlen(server);
    while (n > 0 && server[n - 1] == '/')
        n--;
    *out_token = hs_asprintf("%.*s/oauth/v2/token", (int)n, server);
    return *out_token != NULL
               ? HS_OK
               : hs_error_set(err, HS_ENOMEM, "connection '%s': out of memory", nm(name));
}

bool hs_oauth_api_domain_ok(const struct hs_oauth_profile *p, const char *base_url,
                            const char *api_domain)
{
    return p != NULL && p->api_domain_field != NULL &&
           dc_trusted(p->api_domains, base_url, api_domain);
}

/* Like hs_oauth_callback_parse; *state_ok says whether the state matched. */
static int callback_parse(const struct hs_oauth_profile *p, const char *name, const char *query,
                          size_t len, const char *expected, struct hs_oauth_callback *out,
                          bool *state_ok, struct hs_error *err)
{
    *state_ok = false;
    memset(out, 0, sizeof *out);
    if (len > MAX_QUERY)
        return hs_error_set(err, HS_ETOOBIG,
                            "cannot read the consent callback of connection '%s': query longer "
                            "than %d bytes",
                            nm(name), MAX_QUERY);
    char *q = hs_strndup(query != NULL ? query : "", query != NULL ? len : 0);
    char *error = NULL;
    char *desc = NULL;
    int e1 = 0, e2 = 0, e3 = 0, e4 = 0, e5 = 0;
    int rc = HS_ENOMEM;
    if (q == NULL)
        goto fail;
    out->state = hs_str_form_get(q, "state", &e1);
    out->code = hs_str_form_get(q, "code", &e2);
    error = hs_str_form_get(q, "error", &e3);
    desc = hs_str_form_get(q, "error_description", &e4);
    int e6 = 0;
    if (p != NULL && p->tenant_param != NULL)
        out->tenant = hs_str_form_get(q, p->tenant_param, &e5);
    if (p != NULL && p->dc_param != NULL)
        out->dc = hs_str_form_get(q, p->dc_param, &e6);
    if (e1 == HS_ENOMEM || e2 == HS_ENOMEM || e3 == HS_ENOMEM || e4 == HS_ENOMEM ||
        e5 == HS_ENOMEM || e6 == HS_ENOMEM)
        goto fail;
    if (e1 != 0 || e2 != 0 || e3 != 0 || e4 != 0 || e5 != 0 || e6 != 0) {
        rc = hs_error_set(err, HS_EINVAL,
                          "cannot read the consent callback of connection '%s': bad "
                          "percent-encoding",
                          nm(name));
        goto fail_msg;
    }
    if (!state_eq(out->state, expected)) {
        rc = hs_error_set(err, HS_EAUTH,
                          "connection '%s' (%s): the consent callback's state does not match "
                          "the request (a stale or forged redirect); run 'hoopsync connect %s' "
                          "again",
                          nm(name), prov(p), nm(name));
        goto fail_msg;
    }
    *state_ok = true;
    if (error != NULL) {
        char e[96];
        char d[96];
        clip(e, sizeof e, error);
        clip(d, sizeof d, desc != NULL ? desc : "no description");
        rc = hs_error_set(err, HS_EAUTH,
                          "connection '%s' (%s): the consent was refused (%s: %s); run "
                          "'hoopsync connect %s' to try again",
                          nm(name), prov(p), e, d, nm(name));
        goto fail_msg;
    }
    if (out->code == NULL || out->code[0] == '\0' || strlen(out->code) > HS_OAUTH_MAX_TOKEN) {
        rc = hs_error_set(err, HS_EINVAL,
                          "cannot read the consent callback of connection '%s': no valid code",
                          nm(name));
        goto fail_msg;
    }
    if (out->tenant != NULL && (out->tenant[0] == '\0' || strlen(out->tenant) > MAX_TENANT)) {
        rc = hs_error_set(err, HS_EINVAL,
                          "cannot read the consent callback of connection '%s': bad '%s'", nm(name),
                          p != NULL ? p->tenant_param : "tenant");
        goto fail_msg;
    }
    hs_free(q);
    hs_free(error);
    hs_free(desc);
    return HS_OK;
fail:
    hs_error_set(err, rc, "cannot read the consent callback of connection '%s': out of memory",
                 nm(name));
fail_msg:
    hs_free(q);
    hs_free(error);
    hs_free(desc);
    hs_oauth_callback_release(out);
    return rc;
}

int hs_oauth_callback_parse(const struct hs_oauth_profile *p, const char *name, const char *query,
                            size_t len, const char *expected_state, struct hs_oauth_callback *out,
                            struct hs_error *err)
{
    if (out == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot read the consent callback: no output");
    bool ok = false;
    return callback_parse(p, name, query, len, expected_state, out, &ok, err);
}

/* ---- listener --------------------------------------------------------------------------- */

struct hs_oauth_listener {
    const struct hs_oauth_profile *profile;
    const struct hs_env *env;
    char *name;
    char *state;
    char *path; /* redirect path, e.g. "/callback" */
    char *redirect_uri;
    struct hs_http_server *server;
    pthread_mutex_t mu;
    bool answered;
    bool taken;
    int rc;
    struct hs_oauth_callback cb;
    struct hs_error err;
};

static const char page_ok[] = "<!doctype html><title>hoopsync</title><p>hoopsync is connected. "
                              "You can close this window.</p>\n";
static const char page_fail[] = "<!doctype html><title>hoopsync</title><p>hoopsync could not "
                                "connect; see the terminal for why.</p>\n";

static int listen_handler(void *ud, const struct hs_http_request *req,
                          struct hs_http_response *resp)
{
    struct hs_oauth_listener *l = ud;
    if (req->path == NULL || strcmp(req->path, l->path) != 0 || !hs_str_eq(req->method, "GET"))
        return hs_http_response_text(resp, 404, "text/plain; charset=utf-8", "not found\n");
    struct hs_oauth_callback cb;
    struct hs_error e;
    hs_error_clear(&e);
    bool state_ok = false;
    const char *q = req->query != NULL ? req->query : "";
    pthread_mutex_lock(&l->mu);
    char *expected = hs_strdup(l->state);
    pthread_mutex_unlock(&l->mu);
    if (expected == NULL)
        return HS_ENOMEM;
    int rc = callback_parse(l->profile, l->name, q, strlen(q), expected, &cb, &state_ok, &e);
    hs_free(expected);
    if (!state_ok) {
        hs_oauth_callback_release(&cb);
        return hs_http_response_text(resp, 400, "text/plain; charset=utf-8",
                                     "state does not match this consent request\n");
    }
    pthread_mutex_lock(&l->mu);
    bool first = !l->answered;
    if (first) {
        l->answered = true;
        l->rc = rc;
        l->cb = cb;
        l->err = e;
    }
    pthread_mutex_unlock(&l->mu);
    if (!first)
        hs_oauth_callback_release(&cb);
    return hs_http_response_text(resp, rc == HS_OK ? 200 : 400, "text/html; charset=utf-8",
                                 rc == HS_OK ? page_ok : page_fail);
}

int hs_oauth_listen_open(const struct hs_oauth_profile *p, const char *name,
                         const char *redirect_uri, const char *expected_state,
                         const struct hs_env *env, struct hs_oauth_listener **out,
                         struct hs_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || redirect_uri == NULL || expected_state == NULL || env == NULL)
        return hs_error_set(err, HS_EINVAL,
                            "cannot listen for the consent callback: bad arguments");
    char *host = NULL;
    char *path = NULL;
    int64_t port = 0;
    int rc = hs_str_loopback_uri(redirect_uri, &host, &port, &path);
    if (rc == HS_EINVAL)
        return hs_error_set(err, rc,
                            "cannot listen for the consent callback of connection '%s': "
                            "redirect_uri '%s' is not " HS_LOOPBACK_URI_FORMS,
                            nm(name), redirect_uri);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot listen for the consent callback: out of memory");
    struct hs_oauth_listener *l = hs_calloc(1, sizeof *l);
    if (l == NULL || pthread_mutex_init(&l->mu, NULL) != 0) {
        hs_free(l);
        hs_free(host);
        hs_free(path);
        return hs_error_set(err, HS_ENOMEM,
                            "cannot listen for the consent callback: out of memory");
    }
    l->profile = p;
    l->env = env;
    l->path = path;
    l->name = hs_strdup(nm(name));
    l->state = hs_strdup(expected_state);
    if (l->name == NULL || l->state == NULL) {
        rc = hs_error_set(err, HS_ENOMEM, "cannot listen for the consent callback: out of memory");
        goto fail;
    }
    struct hs_http_server_config sc;
    memset(&sc, 0, sizeof sc);
    sc.bind_addr = "127.0.0.1";
    sc.port = (uint16_t)port;
    sc.max_body = 64 * 1024;
    sc.threads = 1;
    rc = hs_http_server_open(&sc, listen_handler, l, &l->server, err);
    if (rc != HS_OK) {
        hs_error_prefix(err, "cannot listen for the consent callback on port %d", (int)port);
        goto fail;
    }
    l->redirect_uri =
        hs_asprintf("http://%s:%u%s", host, (unsigned)hs_http_server_port(l->server), path);
    if (l->redirect_uri == NULL) {
        rc = hs_error_set(err, HS_ENOMEM, "cannot listen for the consent callback: out of memory");
        goto fail;
    }
    hs_free(host);
    *out = l;
    return HS_OK;
fail:
    hs_free(host);
    hs_oauth_listen_close(l);
    return rc;
}

int hs_oauth_listen_expect(struct hs_oauth_listener *l, const char *state, struct hs_error *err)
{
    if (l == NULL || state == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot set the expected state: bad arguments");
    char *copy = hs_strdup(state);
    if (copy == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot set the expected state: out of memory");
    pthread_mutex_lock(&l->mu);
    char *old = l->state;
    l->state = copy;
    pthread_mutex_unlock(&l->mu);
    hs_free(old);
    return HS_OK;
}

const char *hs_oauth_listener_redirect_uri(const struct hs_oauth_listener *l)
{
    return l != NULL ? l->redirect_uri : NULL;
}

int hs_oauth_listen_wait(struct hs_oauth_listener *l, int64_t timeout_ms,
                         struct hs_oauth_callback *out, struct hs_error *err)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (l == NULL || out == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot wait for the consent callback: bad arguments");
    const int64_t deadline = hs_env_now_ms(l->env) + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        pthread_mutex_lock(&l->mu);
        if (l->answered && !l->taken) {
            l->taken = true;
            int rc = l->rc;
            *out = l->cb;
            memset(&l->cb, 0, sizeof l->cb);
            if (rc != HS_OK && err != NULL)
                *err = l->err;
            pthread_mutex_unlock(&l->mu);
            return rc;
        }
        bool taken = l->taken;
        pthread_mutex_unlock(&l->mu);
        if (taken)
            return hs_error_set(err, HS_ESTATE, "the consent callback was already taken");
        if (hs_env_now_ms(l->env) >= deadline)
            return hs_error_set(err, HS_ETIMEOUT,
                                "connection '%s' (%s): no answer from the consent page within "
                                "%lld s; run 'hoopsync connect %s' again",
                                l->name, prov(l->profile), (long long)(timeout_ms / 1000), l->name);
        hs_env_sleep_ms(l->env, WAIT_STEP_MS);
    }
}

void hs_oauth_listen_close(struct hs_oauth_listener *l)
{
    if (l == NULL)
        return;
    hs_http_server_close(l->server);
    hs_oauth_callback_release(&l->cb);
    pthread_mutex_destroy(&l->mu);
    hs_free(l->name);
    hs_free(l->state);
    hs_free(l->path);
    hs_free(l->redirect_uri);
    hs_free(l);
}

/* ---- token answers ---------------------------------------------------------------------- */

static void wipe_free(char *s)
{
    if (s != NULL) {
        sodium_memzero(s, strlen(s));
        hs_free(s);
    }
}

void hs_oauth_tokens_release(struct hs_oauth_tokens *t)
{
    if (t == NULL)
        return;
    wipe_free(t->access_token);
    wipe_free(t->refresh_token);
    hs_free(t->tenant);
    hs_free(t->api_domain);
    memset(t, 0, sizeof *t);
}

static bool printable_token(const char *s, size_t n)
{
    if (n == 0 || n > HS_OAUTH_MAX_TOKEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* Seconds field: integer or digit string, 0..MAX_LIFETIME_S; *out -1 when absent. */
static int read_seconds(const json_t *o, const char *key, int64_t *out, struct hs_error *err)
{
    *out = -1;
    const json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v))
        return HS_OK;
    int64_t s = -1;
    if (json_is_integer(v)) {
        s = (int64_t)json_integer_value(v);
    } else if (json_is_string(v)) {
        if (hs_str_to_i64(json_string_value(v), json_string_length(v), &s) != HS_OK)
            s = -1;
    }
    if (s < 0 || s > MAX_LIFETIME_S)
        return hs_error_set(err, HS_EPROTO,
                            "cannot read the token answer: '%s' is not a number of seconds "
                            "between 0 and ten years",
                            key);
    *out = s;
    return HS_OK;
}

int hs_oauth_tokens_parse(const struct hs_oauth_profile *p, const uint8_t *buf, size_t len,
                          int64_t now_ms, struct hs_oauth_tokens *out, struct hs_error *err)
{
    if (out == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot read the token answer: no output");
    memset(out, 0, sizeof *out);
    if (len > HS_OAUTH_MAX_ANSWER)
        return hs_error_set(err, HS_ETOOBIG, "cannot read the token answer: longer than %d bytes",
                            HS_OAUTH_MAX_ANSWER);
    if (buf == NULL && len > 0)
        return hs_error_set(err, HS_EINVAL, "cannot read the token answer: no buffer");
    json_t *j = NULL;
    int rc = hs_json_parse(buf != NULL ? buf : (const uint8_t *)"", len, "token answer", &j, err);
    if (rc != HS_OK)
        return rc;
    if (!json_is_object(j)) {
        rc = hs_error_set(err, HS_EPROTO, "cannot read the token answer: not a JSON object");
        goto fail;
    }
    const json_t *at = json_object_get(j, "access_token");
    if (!json_is_string(at) || !printable_token(json_string_value(at), json_string_length(at))) {
        rc = hs_error_set(err, HS_EPROTO,
                          "cannot read the token answer: 'access_token' missing or not a "
                          "printable string of at most %d characters",
                          HS_OAUTH_MAX_TOKEN);
        goto fail;
    }
    const json_t *rt = json_object_get(j, "refresh_token");
    if (rt != NULL && !json_is_null(rt) &&
        !(json_is_string(rt) && (json_string_length(rt) == 0 ||
                                 printable_token(json_string_value(rt), json_string_length(rt))))) {
        rc = hs_error_set(err, HS_EPROTO,
                          "cannot read the token answer: 'refresh_token' is not a printable "
                          "string of at most %d characters",
                          HS_OAUTH_MAX_TOKEN);
        goto fail;
    }
    const json_t *tt = json_object_get(j, "token_type");
    if (tt != NULL && !(json_is_string(tt) && hs_str_ieq(json_string_value(tt), "bearer") &&
                        json_string_length(tt) == 6)) {
        rc = hs_error_set(err, HS_EPROTO,
                          "cannot read the token answer: 'token_type' is not 'bearer'");
        goto fail;
    }
    int64_t exp_s = -1;
    int64_t rexp_s = -1;
    rc = read_seconds(j, "expires_in", &exp_s, err);
    if (rc == HS_OK)
        rc = read_seconds(j, "x_refresh_token_expires_in", &rexp_s, err);
    if (rc != HS_OK)
        goto fail;
    if (p != NULL && p->tenant_field != NULL) {
        const json_t *tv = json_object_get(j, p->tenant_field);
        char tmp[32];
        if (json_is_integer(tv) && json_integer_value(tv) >= 0) {
            snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(tv));
            out->tenant = hs_strdup(tmp);
            if (out->tenant == NULL)
                goto nomem;
        } else if (json_is_string(tv) && json_string_length(tv) > 0 &&
                   json_string_length(tv) <= MAX_TENANT &&
                   printable_token(json_string_value(tv), json_string_length(tv))) {
            out->tenant = hs_strdup(json_string_value(tv));
            if (out->tenant == NULL)
                goto nomem;
        } else if (tv != NULL && !json_is_null(tv)) {
            rc = hs_error_set(err, HS_EPROTO, "cannot read the token answer: bad '%s'",
                              p->tenant_field);
            goto fail;
        }
    }
    if (p != NULL && p->api_domain_field != NULL) {
        const json_t *ad = json_object_get(j, p->api_domain_field);
        if (json_is_string(ad) && json_string_length(ad) > 0 && json_string_length(ad) <= 200 &&
            printable_token(json_string_value(ad), json_string_length(ad))) {
            out->api_domain = hs_strdup(json_string_value(ad));
            if (out->api_domain == NULL)
                goto nomem;
        } else if (ad != NULL && !json_is_null(ad)) {
            rc = hs_error_set(err, HS_EPROTO, "cannot read the token answer: bad '%s'",
                              p->api_domain_field);
            goto fail;
        }
    }
    out->access_token = hs_strdup(json_string_value(at));
    if (out->access_token == NULL)
        goto nomem;
    if (json_is_string(rt) && json_string_length(rt) > 0) {
        out->refresh_token = hs_strdup(json_string_value(rt));
        if (out->refresh_token == NULL)
            goto nomem;
    }
    out->expires_at = exp_s >= 0 ? now_ms + exp_s * 1000 : 0;
    out->refresh_expires_at = rexp_s >= 0 ? now_ms + rexp_s * 1000 : 0;
    json_decref(j);
    return HS_OK;
nomem:
    rc = hs_error_set(err, HS_ENOMEM, "cannot read the token answer: out of memory");
fail:
    json_decref(j);
    hs_oauth_tokens_release(out);
    return rc;
}

/* ---- token endpoint --------------------------------------------------------------------- */

enum grant { GRANT_CODE, GRANT_REFRESH };

static int basic_header(struct hs_http_request *req, const char *id, const char *secret)
{
    char *raw = hs_asprintf("%s:%s", id, secret);
    if (raw == NULL)
        return HS_ENOMEM;
    char *b64 = NULL;
    size_t n = strlen(raw);
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    b64 = hs_malloc(cap);
    char *hv = NULL;
    int rc = HS_ENOMEM;
    if (b64 != NULL) {
        sodium_bin2base64(b64, cap, (const unsigned char *)raw, n, sodium_base64_VARIANT_ORIGINAL);
        hv = hs_asprintf("Basic %s", b64);
        if (hv != NULL)
            rc = hs_http_headers_set(&req->headers, "Authorization", hv);
    }
    wipe_free(raw);
    wipe_free(b64);
    wipe_free(hv);
    return rc;
}

/* Error answer -> code and message. */
static int token_error(const struct hs_oauth_client *c, enum grant g,
                       const struct hs_http_response *resp, struct hs_error *err)
{
    char error[96] = "";
    char desc[96] = "";
    json_t *j = NULL;
    if (resp->body.len > 0 && resp->body.len <= HS_OAUTH_MAX_ANSWER &&
        hs_json_parse((const uint8_t *)resp->body.data, resp->body.len, "token error", &j, NULL) ==
            HS_OK &&
        json_is_object(j)) {
        clip(error, sizeof error, hs_json_str(j, "error"));
        const char *d = hs_json_str(j, "error_description");
        if (d == NULL)
            d = hs_json_str(j, "message");
        clip(desc, sizeof desc, d);
    }
    json_decref(j);
    const char *n = nm(c->name);
    const char *pv = prov(c->profile);
    const char *why = desc[0] ? desc : (error[0] ? error : "no reason given");
    if (strcmp(error, "invalid_grant") == 0) {
        if (g == GRANT_REFRESH)
            return hs_error_set(err, HS_EAUTH,
                                "connection '%s' (%s): the grant was revoked or expired; run "
                                "'hoopsync connect %s'",
                                n, pv, n);
        return hs_error_set(err, HS_EAUTH,
                            "connection '%s' (%s): the authorization code was refused (%s); run "
                            "'hoopsync connect %s' again",
                            n, pv, why, n);
    }
    if (strcmp(error, "invalid_client") == 0 || strcmp(error, "unauthorized_client") == 0 ||
        resp->status == 401)
        return hs_error_set(err, HS_EAUTH,
                            "connection '%s' (%s): the token endpoint refused the client (%s); "
                            "check client_id and client_secret_env in hoopsync.yaml",
                            n, pv, why);
    return hs_error_set(err, resp->status >= 500 || resp->status == 429 ? HS_EIO : HS_EPROTO,
                        "connection '%s' (%s): the token endpoint answered HTTP %d (%s)", n, pv,
                        resp->status, why);
}

static int token_call(const struct hs_oauth_client *c, enum grant g, const char *value,
                      const char *verifier, struct hs_oauth_tokens *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    if (c == NULL || c->profile == NULL || c->http == NULL || c->env == NULL ||
        c->token_url == NULL || c->client_id == NULL || value == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot call the token endpoint: bad arguments");
    if (c->client_secret == NULL || c->client_secret[0] == '\0')
        return hs_error_set(err, HS_EAUTH,
                            "connection '%s' (%s): no client secret; set the variable named by "
                            "client_secret_env in hoopsync.yaml",
                            nm(c->name), prov(c->profile));
    struct hs_buf form;
    hs_buf_init(&form);
    struct hs_http_request req;
    struct hs_http_response resp;
    hs_http_request_init(&req);
    hs_http_response_init(&resp);
    int rc;
    if (g == GRANT_CODE) {
        rc = add_param(&form, "", "grant_type", "authorization_code");
        if (rc == HS_OK)
            rc = add_param(&form, "&", "code", value);
        if (rc == HS_OK && c->redirect_uri != NULL)
            rc = add_param(&form, "&", "redirect_uri", c->redirect_uri);
        if (rc == HS_OK && verifier != NULL)
            rc = add_param(&form, "&", "code_verifier", verifier);
    } else {
        rc = add_param(&form, "", "grant_type", "refresh_token");
        if (rc == HS_OK)
            rc = add_param(&form, "&", "refresh_token", value);
    }
    if (rc == HS_OK && !c->profile->basic_auth) {
        rc = add_param(&form, "&", "client_id", c->client_id);
        if (rc == HS_OK)
            rc = add_param(&form, "&", "client_secret", c->client_secret);
        if (rc == HS_OK && g == GRANT_REFRESH && c->redirect_uri != NULL)
            rc = add_param(&form, "&", "redirect_uri", c->redirect_uri);
    }
    if (rc == HS_OK)
        rc = hs_http_request_set(&req, "POST", c->token_url);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&req.headers, "Content-Type", "application/x-www-form-urlencoded");
    if (rc == HS_OK)
        rc = hs_http_headers_set(&req.headers, "Accept", "application/json");
    if (rc == HS_OK && c->profile->basic_auth)
        rc = basic_header(&req, c->client_id, c->client_secret);
    if (rc == HS_OK)
        rc = hs_buf_append(&req.body, form.data != NULL ? form.data : "", form.len);
    if (rc != HS_OK) {
        rc = hs_error_set(err, rc, "cannot call the token endpoint of connection '%s': %s",
                          nm(c->name), hs_strerror(rc));
        goto done;
    }
    for (int attempt = 1;; attempt++) {
        hs_http_response_release(&resp);
        hs_http_response_init(&resp);
        struct hs_error terr;
        hs_error_clear(&terr);
        rc = hs_http_send(c->http, &req, &resp, &terr);
        bool transient = rc == HS_EIO || rc == HS_ETIMEOUT ||
                         (rc == HS_OK && (resp.status >= 500 || resp.status == 429));
        if (!transient || attempt >= TOKEN_ATTEMPTS) {
            if (rc != HS_OK) {
                if (err != NULL)
                    *err = terr;
                hs_error_prefix(err, "connection '%s' (%s): cannot reach the token endpoint",
                                nm(c->name), prov(c->profile));
                goto done;
            }
            break;
        }
        hs_env_sleep_ms(c->env, (int64_t)TOKEN_BACKOFF_MS << (attempt - 1));
    }
    if (resp.status != 200) {
        rc = token_error(c, g, &resp, err);
        goto done;
    }
    rc = hs_oauth_tokens_parse(c->profile, (const uint8_t *)resp.body.data, resp.body.len,
                               hs_env_now_ms(c->env), out, err);
    if (rc != HS_OK)
        hs_error_prefix(err, "connection '%s' (%s)", nm(c->name), prov(c->profile));
done:
    if (form.data != NULL)
        sodium_memzero(form.data, form.len);
    hs_buf_release(&form);
    if (req.body.data != NULL)
        sodium_memzero(req.body.data, req.body.len);
    if (resp.body.data != NULL)
        sodium_memzero(resp.body.data, resp.body.len);
    hs_http_request_release(&req);
    hs_http_response_release(&resp);
    return rc;
}

int hs_oauth_exchange(const struct hs_oauth_client *c, const char *code, const char *verifier,
                      struct hs_oauth_tokens *out, struct hs_error *err)
{
    if (out == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot exchange the code: no output");
    return token_call(c, GRANT_CODE, code, verifier, out, err);
}

int hs_oauth_refresh(const struct hs_oauth_client *c, const char *refresh_token,
                     struct hs_oauth_tokens *out, struct hs_error *err)
{
    if (out == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot refresh the token: no output");
    return token_call(c, GRANT_REFRESH, refresh_token, NULL, out, err);
}

/* ---- token source ----------------------------------------------------------------------- */

struct hs_oauth_source {
    pthread_mutex_t mu;
    const struct hs_oauth_profile *profile;
    char *name;
    char *client_id;
    char *client_secret;
    char *redirect_uri;
    char *authorize_url;
    char *token_url;
    const struct hs_http_transport *http;
    const struct hs_env *env;
    const struct hs_oauth_vault_ops *vault;
    void *vault_ud;
    int64_t margin_ms;
    struct hs_oauth_tokens cur;
    bool have;
    bool pending_save;
    int64_t refreshes;
};

static bool dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL)
        return true;
    *dst = hs_strdup(src);
    return *dst != NULL;
}

int hs_oauth_source_new(const struct hs_oauth_client *client,
                        const struct hs_oauth_vault_ops *vault, void *vault_ud, int64_t margin_ms,
                        struct hs_oauth_source **out, struct hs_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || client == NULL || client->profile == NULL || client->http == NULL ||
        client->env == NULL || vault == NULL || vault->load == NULL || vault->save == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot create the token source: bad arguments");
    struct hs_oauth_source *s = hs_calloc(1, sizeof *s);
    if (s == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot create the token source: out of memory");
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        hs_free(s);
        return hs_error_set(err, HS_ENOMEM, "cannot create the token source: no mutex");
    }
    s->profile = client->profile;
    s->http = client->http;
    s->env = client->env;
    s->vault = vault;
    s->vault_ud = vault_ud;
    s->margin_ms = margin_ms > 0 ? margin_ms : HS_OAUTH_REFRESH_MARGIN_MS;
    if (!dup_opt(&s->name, nm(client->name)) || !dup_opt(&s->client_id, client->client_id) ||
        !dup_opt(&s->client_secret, client->client_secret) ||
        !dup_opt(&s->redirect_uri, client->redirect_uri) ||
        !dup_opt(&s->authorize_url, client->authorize_url) ||
        !dup_opt(&s->token_url, client->token_url)) {
        hs_oauth_source_free(s);
        return hs_error_set(err, HS_ENOMEM, "cannot create the token source: out of memory");
    }
    *out = s;
    return HS_OK;
}

void hs_oauth_source_free(struct hs_oauth_source *s)
{
    if (s == NULL)
        return;
    hs_oauth_tokens_release(&s->cur);
    pthread_mutex_destroy(&s->mu);
    hs_free(s->name);
    hs_free(s->client_id);
    wipe_free(s->client_secret);
    hs_free(s->redirect_uri);
    hs_free(s->authorize_url);
    hs_free(s->token_url);
    hs_free(s);
}

int64_t hs_oauth_source_refreshes(struct hs_oauth_source *s)
{
    if (s == NULL)
        return 0;
    pthread_mutex_lock(&s->mu);
    int64_t n = s->refreshes;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static bool fresh(const struct hs_oauth_source *s, const struct hs_oauth_tokens *t, int64_t now)
{
    return t->access_token != NULL && (t->expires_at == 0 || t->expires_at - s->margin_ms > now);
}

static int not_connected(const struct hs_oauth_source *s, struct hs_error *err)
{
    return hs_error_set(err, HS_EAUTH,
                        "connection '%s' (%s): not connected (no tokens stored); run 'hoopsync "
                        "connect %s'",
                        s->name, prov(s->profile), s->name);
}

/* Loads the vault into *t (zeroed first). */
static int load(struct hs_oauth_source *s, struct hs_oauth_tokens *t, struct hs_error *err)
{
    memset(t, 0, sizeof *t);
    int rc = s->vault->load(s->vault_ud, t, err);
    if (rc != HS_OK)
        hs_oauth_tokens_release(t);
    if (rc == HS_ENOTFOUND)
        return not_connected(s, err);
    return rc;
}

static void take(struct hs_oauth_tokens *dst, struct hs_oauth_tokens *src)
{
    hs_oauth_tokens_release(dst);
    *dst = *src;
    memset(src, 0, sizeof *src);
}

static int give(const struct hs_oauth_source *s, char **out, struct hs_error *err)
{
    *out = hs_strdup(s->cur.access_token);
    if (*out == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot copy the access token: out of memory");
    return HS_OK;
}

static int do_refresh(struct hs_oauth_source *s, const char *refresh_token,
                      struct hs_oauth_tokens *nt, struct hs_error *err)
{
    struct hs_oauth_client c;
    memset(&c, 0, sizeof c);
    c.profile = s->profile;
    c.name = s->name;
    c.client_id = s->client_id;
    c.client_secret = s->client_secret;
    c.redirect_uri = s->redirect_uri;
    c.authorize_url = s->authorize_url;
    c.token_url = s->token_url;
    c.http = s->http;
    c.env = s->env;
    return hs_oauth_refresh(&c, refresh_token, nt, err);
}

static int source_token_locked(struct hs_oauth_source *s, bool force, char **out,
                               struct hs_error *err)
{
    int rc;
    if (s->pending_save) {
        rc = s->vault->save(s->vault_ud, &s->cur, err);
        if (rc != HS_OK) {
            hs_error_prefix(err, "cannot save the refreshed tokens of connection '%s'", s->name);
            return rc;
        }
        s->pending_save = false;
    }
    int64_t now = hs_env_now_ms(s->env);
    if (!s->have) {
        struct hs_oauth_tokens t;
        rc = load(s, &t, err);
        if (rc != HS_OK)
            return rc;
        take(&s->cur, &t);
        s->have = true;
        if (!force && fresh(s, &s->cur, now))
            return give(s, out, err);
    } else if (!force && fresh(s, &s->cur, now)) {
        return give(s, out, err);
    } else {
        /* Another process may have refreshed: the vault is the shared truth. */
        struct hs_oauth_tokens t;
        rc = load(s, &t, err);
        if (rc != HS_OK)
            return rc;
        bool other = !hs_str_eq(t.access_token, s->cur.access_token);
        take(&s->cur, &t);
        if (other && fresh(s, &s->cur, now))
            return give(s, out, err);
    }
    if (s->cur.refresh_token == NULL)
        return hs_error_set(err, HS_EAUTH,
                            "connection '%s' (%s): no refresh token stored; run 'hoopsync "
                            "connect %s'",
                            s->name, prov(s->profile), s->name);
    struct hs_oauth_tokens nt;
    rc = do_refresh(s, s->cur.refresh_token, &nt, err);
    if (rc == HS_EAUTH) {
        /* Refused: unless another process rotated the refresh token meanwhile, the grant is
         * gone. Compare with the vault and retry once with its newer token. */
        struct hs_error e2;
        struct hs_oauth_tokens t;
        if (load(s, &t, &e2) == HS_OK) {
            bool rotated =
                t.refresh_token != NULL && !hs_str_eq(t.refresh_token, s->cur.refresh_token);
            take(&s->cur, &t);
            if (rotated) {
                if (fresh(s, &s->cur, hs_env_now_ms(s->env)))
                    return give(s, out, err);
                rc = do_refresh(s, s->cur.refresh_token, &nt, err);
            }
        }
    }
    if (rc != HS_OK)
        return rc;
    s->refreshes++;
    if (nt.refresh_token == NULL) {
        nt.refresh_token = s->cur.refresh_token; /* not rotated: keep ours */
        s->cur.refresh_token = NULL;
    }
    if (nt.refresh_expires_at == 0)
        nt.refresh_expires_at = s->cur.refresh_expires_at;
    take(&s->cur, &nt);
    rc = s->vault->save(s->vault_ud, &s->cur, err);
    if (rc != HS_OK) {
        s->pending_save = true;
        hs_error_prefix(err, "cannot save the refreshed tokens of connection '%s'", s->name);
        return rc;
    }
    return give(s, out, err);
}

int hs_oauth_source_token(void *source, bool force, char **out, struct hs_error *err)
{
    if (out != NULL)
        *out = NULL;
    struct hs_oauth_source *s = source;
    if (s == NULL || out == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot get a token: no token source");
    pthread_mutex_lock(&s->mu);
    int rc = source_token_locked(s, force, out, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
