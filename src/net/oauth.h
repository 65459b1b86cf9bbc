/*
 * net/oauth.h - OAuth2 authorization-code flow, token refresh and the token source.
 *
 * Design:     the pieces of RFC 6749 (+ RFC 7636 PKCE) hoopsync needs, each usable alone:
 *               1. a provider profile (endpoints, how the client authenticates, where the
 *                  tenant id arrives): hs_oauth_profile_find("hubspot"|"quickbooks");
 *               2. the consent URL with a random state (and a PKCE S256 challenge when the
 *                  profile supports it): hs_oauth_consent_build;
 *               3. the loopback listener that receives the redirect and checks the state:
 *                  hs_oauth_listen_open / _wait / _close (waits through the env clock);
 *               4. the token endpoint: code exchange and refresh (form POST), whose answer
 *                  hs_oauth_tokens_parse reads (bounded, fuzzed);
 *               5. the token source: an hs_token_fn (hoopsync/connector.h) over a small
 *                  vault interface (load / save-atomically) so that net/ does not depend on
 *                  the store; the store-backed vault is a few lines over hs_store_secrets_get
 *                  and hs_store_tokens_set (see docs/modules/oauth.md and cli/cmd_connect.c).
 *             Errors a user can fix name the connection and the command: a revoked or
 *             expired grant is always "connection 'accounting' (quickbooks): the grant was
 *             revoked or expired; run 'hoopsync connect accounting'" with HS_EAUTH.
 *             Endpoints: the profile carries the public URLs; a base_url beginning with
 *             "http://" (the sandbox, never a real provider) gets the sandbox layout:
 *             base_url + "/oauth/authorize" etc. (hs_oauth_endpoints).
 *             State and PKCE verifier come from libsodium's CSPRNG, not from the env's rng:
 *             they must be unguessable, and tests never need to predict them.
 * Threads:    the token source is thread-safe: one mutex per source (= per connection)
 *             serialises refreshes, so concurrent callers wait for one refresh and share its
 *             result. Everything else is reentrant.
 * Ownership:  structs named *_release own their strings; borrowed const char * parameters
 *             are copied when kept.
 * Not here:   sending provider API calls with the token (connectors/common/request.h), where
 *             tokens are stored (hoopsync/store.h), the `hoopsync connect` UI (cli/).
 */
#ifndef HS_NET_OAUTH_H
#define HS_NET_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hoopsync/common.h"
#include "hoopsync/error.h"
#include "net/http.h"
#include "util/env.h"

/* Largest token endpoint answer read, and longest token accepted. */
#define HS_OAUTH_MAX_ANSWER (64 * 1024)
#define HS_OAUTH_MAX_TOKEN  4096
/* Refresh this long before the access token expires. */
#define HS_OAUTH_REFRESH_MARGIN_MS ((int64_t)5 * 60 * 1000)

/* How one provider does OAuth2. Static data; never freed. */
struct hs_oauth_profile {
    const char *provider;       /* "hubspot", "quickbooks" */
    const char *authorize_url;  /* public consent page */
    const char *token_url;      /* public token endpoint */
    const char *sbx_authorize;  /* path under an http:// base_url (the sandbox) */
    const char *sbx_token;      /* same, token endpoint */
    const char *default_scopes; /* space-separated, used when the config lists none */
    bool basic_auth;            /* client id/secret by HTTP Basic (else in the form body) */
    bool pkce;                  /* send an S256 code_challenge */
    const char *tenant_param;   /* redirect query parameter with the tenant ("realmId") */
    const char *tenant_field;   /* token answer field with the tenant ("hub_id") */
    const char *auth_params;    /* more consent URL parameters ("access_type=offline"), or NULL */
    /* Data centers (Zoho): the redirect names the account's accounts server in dc_param
     * ("accounts-server"), which then issues and refreshes the tokens; the token answer names
     * where the account's APIs live in api_domain_field ("api_domain"). Only the servers and
     * domains listed (NULL-terminated) are accepted from a provider; against the sandbox (an
     * http:// base_url) only ones on the base_url's own origin. NULL: no data centers. */
    const char *dc_param;
    const char *const *dc_servers;
    const char *api_domain_field;
    const char *const *api_domains;
};

/* The profile of provider, or NULL when hoopsync has none. */
HS_API const struct hs_oauth_profile *hs_oauth_profile_find(const char *provider);

/*
 * Resolves the consent and token URLs for a connection: the profile's public ones when
 * base_url is NULL or https://, else base_url + the sandbox paths. Both outputs are new
 * strings (caller hs_free()s), NULL on failure. HS_EINVAL, HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_oauth_endpoints(const struct hs_oauth_profile *p, const char *base_url,
                                            char **out_authorize, char **out_token,
                                            struct hs_error *err);

/* One OAuth2 client as configured for one connection. Every pointer is borrowed. */
struct hs_oauth_client {
    const struct hs_oauth_profile *profile;
    const char *name; /* connection name for messages: "crm", "accounting" */
    const char *client_id;
    const char *client_secret;
    const char *redirect_uri;
    const char *authorize_url; /* from hs_oauth_endpoints */
    const char *token_url;
    const struct hs_http_transport *http;
    const struct hs_env *env;
};

/* ---- consent ---------------------------------------------------------------------------- */

struct hs_oauth_consent {
    char *url;      /* open this in a browser */
    char *state;    /* 32 random bytes, base64url */
    char *verifier; /* PKCE code_verifier, NULL when the profile has no PKCE */
};

/*
 * Builds the consent URL: authorize_url?response_type=code&client_id&redirect_uri&scope
 * (scopes joined by spaces; n_scopes 0 = the profile's defaults)&state[&code_challenge
 * &code_challenge_method=S256][&the profile's auth_params]. out is filled (caller releases)
 * or zeroed on failure.
 * HS_EINVAL (missing client_id, redirect_uri or authorize_url), HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_oauth_consent_build(const struct hs_oauth_client *c,
                                                const char *const *scopes, size_t n_scopes,
                                                struct hs_oauth_consent *out, struct hs_error *err);
HS_API void hs_oauth_consent_release(struct hs_oauth_consent *c);

/* What the redirect brought back. */
struct hs_oauth_callback {
    char *code;
    char *state;
    char *tenant; /* profile->tenant_param's value (QuickBooks realmId), or NULL */
    char *dc;     /* profile->dc_param's value (Zoho's accounts server), or NULL; not checked */
};
HS_API void hs_oauth_callback_release(struct hs_oauth_callback *cb);

/*
 * The token endpoint of a data center's accounts server (hs_oauth_callback.dc): server +
 * "/oauth/v2/token" when server is one of the profile's dc_servers (or, with an http://
 * base_url, on the base_url's origin). New string in *out_token (caller frees). HS_EAUTH when
 * the server is not one hoopsync trusts (the code and the client secret would go to it),
 * naming it; HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_oauth_dc_token_url(const struct hs_oauth_profile *p,
                                               const char *base_url, const char *name,
                                               const char *server, char **out_token,
                                               struct hs_error *err);
/*
 * Whether api_domain (hs_oauth_tokens.api_domain) is one of the profile's api_domains (or,
 * with an http:// base_url, on the base_url's origin): only then are the account's requests
 * and its token sent there.
 */
HS_API bool hs_oauth_api_domain_ok(const struct hs_oauth_profile *p, const char *base_url,
                                   const char *api_domain);

/*
 * Parses the redirect's query string (query, len; no NUL needed; at most 8 KiB) and checks
 * its state against expected_state in constant time. On HS_OK out has code (and tenant when
 * the profile names one). HS_EAUTH when the provider reported an error (access_denied: "the
 * consent was refused") or the state does not match; HS_EINVAL when code is missing;
 * HS_ETOOBIG; HS_ENOMEM. `name` is the connection name for messages.
 */
HS_API HS_MUST_CHECK int hs_oauth_callback_parse(const struct hs_oauth_profile *p, const char *name,
                                                 const char *query, size_t len,
                                                 const char *expected_state,
                                                 struct hs_oauth_callback *out,
                                                 struct hs_error *err);

/* ---- loopback listener ------------------------------------------------------------------ */

struct hs_oauth_listener;

/*
 * Starts an HTTP server for redirect_uri, which must be http://127.0.0.1:PORT/path or
 * http://localhost:PORT/path. PORT 0 binds a free port; hs_oauth_listener_redirect_uri()
 * then gives the real URI to put in the consent URL (the sandbox accepts any redirect; real
 * providers need the registered, fixed port). Requests to other paths get 404. The listener
 * answers the browser with a short page and remembers the first callback whose state
 * matches (others get 400 and are ignored). env is borrowed (for waiting).
 */
HS_API HS_MUST_CHECK int hs_oauth_listen_open(const struct hs_oauth_profile *p, const char *name,
                                              const char *redirect_uri, const char *expected_state,
                                              const struct hs_env *env,
                                              struct hs_oauth_listener **out, struct hs_error *err);
/*
 * Sets the state callbacks must carry (copied), for callers that need the bound port (the
 * redirect URI) before they can build the consent and its state. An empty expected_state at
 * open matches nothing. HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_oauth_listen_expect(struct hs_oauth_listener *l, const char *state,
                                                struct hs_error *err);
/* The redirect URI with the bound port. Borrowed until close. */
HS_API const char *hs_oauth_listener_redirect_uri(const struct hs_oauth_listener *l);
/*
 * Waits (polling through the env's sleep, step 50 ms) up to timeout_ms for the callback.
 * Returns what hs_oauth_callback_parse returned for it (HS_OK with *out filled), or
 * HS_ETIMEOUT. Call once.
 */
HS_API HS_MUST_CHECK int hs_oauth_listen_wait(struct hs_oauth_listener *l, int64_t timeout_ms,
                                              struct hs_oauth_callback *out, struct hs_error *err);
/* Stops the server and frees. NULL does nothing. */
HS_API void hs_oauth_listen_close(struct hs_oauth_listener *l);

/* ---- token endpoint --------------------------------------------------------------------- */

struct hs_oauth_tokens {
    char *access_token;
    char *refresh_token;        /* NULL: the provider did not send one (keep the old one) */
    int64_t expires_at;         /* ms since the epoch; 0 unknown */
    int64_t refresh_expires_at; /* ms since the epoch (x_refresh_token_expires_in); 0 unknown */
    char *tenant;               /* profile->tenant_field's value (HubSpot hub_id), or NULL */
    char *api_domain;           /* profile->api_domain_field's value, or NULL; not checked */
};
/* Wipes and frees the strings. */
HS_API void hs_oauth_tokens_release(struct hs_oauth_tokens *t);

/*
 * Parses a successful token answer (buf, len; no NUL needed) received at now_ms. Requires
 * access_token (a string of at most HS_OAUTH_MAX_TOKEN printable characters); token_type,
 * when present, must be "bearer" (any case); expires_in and x_refresh_token_expires_in are
 * integers (or digit strings) of seconds, at most ten years. HS_EPROTO with what was wrong,
 * HS_ETOOBIG above HS_OAUTH_MAX_ANSWER, HS_ENOMEM. out is zeroed on failure.
 */
HS_API HS_MUST_CHECK int hs_oauth_tokens_parse(const struct hs_oauth_profile *p, const uint8_t *buf,
                                               size_t len, int64_t now_ms,
                                               struct hs_oauth_tokens *out, struct hs_error *err);

/*
 * Exchanges an authorization code (verifier: the consent's PKCE verifier or NULL). Retries
 * transport errors and 5xx twice with a short backoff. On success fills out (caller
 * releases). HS_EAUTH for a refused code or client (message names the connection and the
 * fix), HS_EPROTO for an unreadable answer, HS_EIO/HS_ETIMEOUT when the endpoint cannot be
 * reached, HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_oauth_exchange(const struct hs_oauth_client *c, const char *code,
                                           const char *verifier, struct hs_oauth_tokens *out,
                                           struct hs_error *err);
/*
 * Uses refresh_token for a new access token (and, with rotation, a new refresh token). Same
 * codes; a revoked or expired grant (invalid_grant) is HS_EAUTH "connection '<name>'
 * (<provider>): the grant was revoked or expired; run 'hoopsync connect <name>'".
 */
HS_API HS_MUST_CHECK int hs_oauth_refresh(const struct hs_oauth_client *c,
                                          const char *refresh_token, struct hs_oauth_tokens *out,
                                          struct hs_error *err);

/* ---- token source ----------------------------------------------------------------------- */

/*
 * Where a token source keeps the tokens of its connection. save must store access token,
 * refresh token (NULL = keep the stored one) and both expiries all or nothing (the store's
 * hs_store_tokens_set). load fills out (HS_ENOTFOUND when the connection has no tokens).
 * Both are called with the source's lock held, from whichever thread asked for a token, so
 * what ud refers to (e.g. a store handle) must be dedicated to the source.
 */
struct hs_oauth_vault_ops {
    int (*load)(void *ud, struct hs_oauth_tokens *out, struct hs_error *err);
    int (*save)(void *ud, const struct hs_oauth_tokens *t, struct hs_error *err);
};

struct hs_oauth_source;

/*
 * A token source for one connection. client's strings are copied (client->http and env are
 * borrowed and must outlive the source); vault and vault_ud are borrowed. margin_ms <= 0
 * means HS_OAUTH_REFRESH_MARGIN_MS. HS_EINVAL, HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_oauth_source_new(const struct hs_oauth_client *client,
                                             const struct hs_oauth_vault_ops *vault, void *vault_ud,
                                             int64_t margin_ms, struct hs_oauth_source **out,
                                             struct hs_error *err);
HS_API void hs_oauth_source_free(struct hs_oauth_source *s);

/*
 * The hs_token_fn (hoopsync/connector.h) of a source: pass hs_oauth_source_token as
 * cfg.token and the source as cfg.token_ud. Returns the access token (caller hs_free()s)
 * when it is valid for longer than the margin and force is false; otherwise reloads the
 * vault (another process may have refreshed already) and, if still needed, refreshes and
 * saves the new tokens before returning (a rotated refresh token is never only in memory
 * when this returns HS_OK). If saving fails, the new tokens are kept in memory, the error is
 * returned, and the next call retries the save first. A refresh refused with invalid_grant
 * is retried once if the vault meanwhile holds a different refresh token (another process
 * rotated it); otherwise HS_EAUTH naming the connection and 'hoopsync connect <name>'.
 */
HS_API HS_MUST_CHECK int hs_oauth_source_token(void *source, bool force, char **out,
                                               struct hs_error *err);
/* Refreshes done by this source (for reports and tests). */
HS_API int64_t hs_oauth_source_refreshes(struct hs_oauth_source *s);

#endif
