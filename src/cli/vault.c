/*
 * cli/vault.c - the workspace store as the OAuth token source's vault.
 *
 * Design:     net/oauth.h keeps token refresh free of any storage; it loads and saves tokens
 *             through struct hs_oauth_vault_ops. Every command that opens a connection
 *             (connect, sync, plan, ...) hands it this one implementation over the store:
 *             load reads the decrypted tokens, save writes access and (rotated) refresh token
 *             and expiry in one store transaction (hs_store_tokens_set), so a crash never
 *             strands a connection.
 * Ownership:  struct hs_cli_vault borrows the store and the connection id.
 */
#include "cli/cli.h"
#include "hoopsync/store.h"
#include "net/oauth.h"

static int vault_load(void *ud, struct hs_oauth_tokens *out, struct hs_error *err)
{
    struct hs_cli_vault *v = ud;
    struct hs_store_secrets s;
    int rc = hs_store_secrets_get(v->store, v->conn, &s, err);
    if (rc != HS_OK)
        return rc;
    if (s.access_token == NULL) {
        hs_store_secrets_release(&s);
        return hs_error_set(err, HS_ENOTFOUND, "connection '%s' has no tokens", v->conn);
    }
    out->access_token = s.access_token;
    out->refresh_token = s.refresh_token;
    out->expires_at = s.expires_at;
    s.access_token = NULL;
    s.refresh_token = NULL;
    hs_store_secrets_release(&s);
    return HS_OK;
}

static int vault_save(void *ud, const struct hs_oauth_tokens *t, struct hs_error *err)
{
    struct hs_cli_vault *v = ud;
    return hs_store_tokens_set(v->store, v->conn, t->access_token, t->refresh_token, t->expires_at,
                               err);
}

const struct hs_oauth_vault_ops hs_cli_vault_ops = {vault_load, vault_save};
