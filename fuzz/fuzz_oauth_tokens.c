/*
 * fuzz/fuzz_oauth_tokens.c - libFuzzer target for OAuth2 token answers and consent callbacks
 * (net/oauth.c: hs_oauth_tokens_parse, hs_oauth_callback_parse).
 *
 * Design:     the input is parsed as a token endpoint answer with both provider profiles
 *             (HubSpot reads hub_id, QuickBooks none), then as a redirect query string. On
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
    struct hs_oauth_callback cb;
    struct hs_error err = {0};
    int rc = hs_oauth_callback_parse(hs_oauth_profile_find("quickbooks"), "accounting",
                                     (const char *)data, size, "S1", &cb, &err);
    if (rc == HS_OK)
        check(cb.code != NULL && cb.code[0] != '\0');
    else
        check(cb.code == NULL && err.msg[0] != '\0');
    hs_oauth_callback_release(&cb);
    return 0;
}
