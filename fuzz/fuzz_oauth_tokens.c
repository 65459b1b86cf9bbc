/*
 * fuzz/fuzz_oauth_tokens.c - libFuzzer target for OAuth2 token answers and consent callbacks
 * (net/oauth.c: hs_oauth_tokens_parse, hs_oauth_callback_parse).
 *
 * Design:     the input is parsed as a token endpoint answer with three provider profiles
 *             (HubSpot reads hub_id, QuickBooks none, Zoho Books api_domain), then as a
 *             redirect query string (QuickBooks' realmId, Zoho's accounts-server, whose value
 *             then goes through the data-center check, as does the api_domain). On
 *             success the invariants of the header must hold (printable bounded tokens,
 *             expiry after now); on failure the output is empty and there is a message.
 *             A broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/oauth.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static void tokens(const char *provider, const uint8_t *data, size_t size)
{
    struct hs_oauth_tokens t;
    struct hs_error err = {0};
    int rc = hs_oauth_tokens_parse(hs_oauth_profile_find(provider), data, size, 1000, &t, &err);
    if (rc == HS_OK) {
        size_t n = strlen(t.access_token);
        check(n > 0 && n <= HS_OAUTH_MAX_TOKEN);
        check(t.expires_at == 0 || t.expires_at >= 1000);
        check(t.refresh_token == NULL || strlen(t.refresh_token) <= HS_OAUTH_MAX_TOKEN);
        const struct hs_oauth_profile *p = hs_oauth_profile_find(provider);
        check(t.api_domain == NULL || (p->api_domain_field != NULL && strlen(t.api_domain) <= 200));
        (void)hs_oauth_api_domain_ok(p, NULL, t.api_domain);
    } else {
        check(rc < 0 && t.access_token == NULL && err.msg[0] != '\0');
    }
    hs_oauth_tokens_release(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hs_alloc_setup_json();
    tokens("hubspot", data, size);
    tokens("quickbooks", data, size);
    tokens("zohobooks", data, size);
    static const char *const cb_providers[] = {"quickbooks", "zohobooks"};
    for (size_t i = 0; i < 2; i++) {
        const struct hs_oauth_profile *p = hs_oauth_profile_find(cb_providers[i]);
        struct hs_oauth_callback cb;
        struct hs_error err = {0};
        int rc =
            hs_oauth_callback_parse(p, "accounting", (const char *)data, size, "S1", &cb, &err);
        if (rc == HS_OK) {
            check(cb.code != NULL && cb.code[0] != '\0');
            char *tok = NULL;
            if (cb.dc != NULL &&
                hs_oauth_dc_token_url(p, NULL, "accounting", cb.dc, &tok, &err) == HS_OK)
                check(tok != NULL && strncmp(tok, "https://accounts.zoho", 21) == 0);
            else
                check(tok == NULL);
            hs_free(tok);
        } else {
            check(cb.code == NULL && err.msg[0] != '\0');
        }
        hs_oauth_callback_release(&cb);
    }
    return 0;
}
