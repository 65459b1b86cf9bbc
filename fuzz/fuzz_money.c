/*
 * fuzz/fuzz_money.c - libFuzzer target for the money and decimal text parsers.
 *
 * Design:     byte 0 picks the currency (index into the ISO table), byte 1 the rounding mode,
 *             the rest is the text, passed as (ptr, len) without a NUL so that ASan catches
 *             any read past the end. Every successful parse must format and re-parse exactly
 *             to the same value; the exact parser must agree or refuse with HS_EINVAL; floor
 *             and ceiling must bracket every mode within one unit; failures must carry a
 *             message. A broken invariant aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/currency.h"
#include "core/decimal.h"
#include "core/money.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

/* v parsed at scale with mode: floor <= v <= ceiling, ceiling - floor <= 1. */
static void check_bracket(const char *s, size_t len, unsigned scale, int64_t v)
{
    int64_t lo = 0;
    int64_t hi = 0;
    const int rlo =
        hs_decimal_parse_scaled(s, len, scale, HS_ROUND_FLOOR, false, "x", NULL, &lo, NULL);
    const int rhi =
        hs_decimal_parse_scaled(s, len, scale, HS_ROUND_CEILING, false, "x", NULL, &hi, NULL);
    if (rlo == HS_OK && rhi == HS_OK)
        check(lo <= v && v <= hi && (hi == lo || hi - 1 == lo));
}

static void fuzz_money(const char *s, size_t len, const char *code, enum hs_round mode)
{
    struct hs_money m;
    struct hs_error err = {0};
    const int rc = hs_money_parse(s, len, code, mode, &m, &err);
    if (rc != HS_OK) {
        check(rc < 0 && err.code == rc && err.msg[0] != '\0');
        return;
    }
    char buf[HS_MONEY_FMT_MAX];
    const int n = hs_money_format(&m, buf, sizeof buf);
    check(n > 0 && (size_t)n == strlen(buf));
    struct hs_money back;
    check(hs_money_parse_exact(buf, (size_t)n, code, &back, NULL) == HS_OK);
    check(back.minor == m.minor && strcmp(back.currency, code) == 0);
    struct hs_money exact;
    const int rce = hs_money_parse_exact(s, len, code, &exact, NULL);
    check(rce == HS_EINVAL || (rce == HS_OK && exact.minor == m.minor));
    check_bracket(s, len, hs_currency_find(code)->exponent, m.minor);
}

static void fuzz_decimal(const char *s, size_t len, enum hs_round mode)
{
    struct hs_decimal d;
    struct hs_error err = {0};
    const int rc = hs_decimal_parse(s, len, mode, &d, &err);
    if (rc != HS_OK) {
        check(rc < 0 && err.code == rc && err.msg[0] != '\0');
        return;
    }
    char buf[HS_DECIMAL_FMT_MAX];
    const int n = hs_decimal_format(d, buf, sizeof buf);
    check(n > 0 && (size_t)n == strlen(buf));
    struct hs_decimal back;
    check(hs_decimal_parse_exact(buf, (size_t)n, &back, NULL) == HS_OK && back.v == d.v);
    check_bracket(s, len, HS_DECIMAL_SCALE, d.v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const struct hs_currency *cur = hs_currency_at(data[0] % hs_currency_count());
    const enum hs_round mode = (enum hs_round)(data[1] % HS_ROUND_COUNT);
    const size_t len = size - 2;
    /* a private copy without a terminating NUL, so over-reads are caught */
    char *s = malloc(len > 0 ? len : 1); /* lint-allow: malloc fuzz driver */
    if (s == NULL)
        return 0;
    if (len > 0)
        memcpy(s, data + 2, len);
    fuzz_money(s, len, cur->code, mode);
    fuzz_decimal(s, len, mode);
    free(s); /* lint-allow: free fuzz driver */
    return 0;
}
