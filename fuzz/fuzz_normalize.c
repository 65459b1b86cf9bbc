/*
 * fuzz/fuzz_normalize.c - libFuzzer target for the matching keys and validators.
 *
 * Design:     names, emails, domains, phones and tax ids come from provider records, i.e.
 *             outside input. The bytes go (with their length, no NUL) to every normalizer,
 *             and as a NUL-terminated copy to the validators; the first byte picks a
 *             country for the tax-id check. Everything returned is freed: a leak is a finding.
 */
#include <stdint.h>
#include <string.h>

#include "core/normalize.h"
#include "core/validate.h"
#include "util/alloc.h"

static const char *const countries[] = {"DE", "FR", "GB", "AU", "US", "IT", "ES", "NL",
                                        "BE", "AT", "PL", "PT", "SE", "DK", "FI", "IE",
                                        "LU", "JP", "KW", "CA", "BR", ""};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char *out = NULL;
    if (hs_normalize_fold(s, size, &out) == HS_OK)
        hs_free(out);
    out = NULL;
    struct hs_name_key key;
    memset(&key, 0, sizeof key);
    if (hs_normalize_name(s, size, &key) == HS_OK)
        hs_normalize_name_release(&key);
    if (hs_normalize_email(s, size, &out) == HS_OK)
        hs_free(out);
    out = NULL;
    if (hs_normalize_domain(s, size, &out) == HS_OK)
        hs_free(out);
    out = NULL;
    if (hs_normalize_phone(s, size, &out) == HS_OK)
        hs_free(out);
    char *z = hs_strndup(s, size);
    if (z == NULL)
        return 0;
    struct hs_error err;
    int rc = hs_validate_email(z, &err);
    const char *country =
        countries[size > 0 ? data[0] % (sizeof countries / sizeof countries[0]) : 0];
    rc |= hs_validate_tax_id(z, country, &err);
    hs_free(z);
    (void)rc; /* validity is not a finding; crashes and leaks are */
    return 0;
}
