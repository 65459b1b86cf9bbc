/*
 * tests/unit/test_core_money.c - currency table, money parse/format/arithmetic, allocation.
 *
 * Design:     example tables for the documented behaviour (every rounding mode, every syntax
 *             error, int64 limits), then fixed-seed randomized properties: parse(format(x))
 *             == x for every currency, and allocation sums to the total with every part
 *             within one minor unit of its exact share (checked in 128-bit arithmetic).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>

#include "core/currency.h"
#include "core/money.h"
#include "hoopsync/error.h"
#include "util/env.h"

__extension__ typedef __int128 i128;

static const enum hs_round all_modes[HS_ROUND_COUNT] = {
    HS_ROUND_HALF_UP, HS_ROUND_HALF_EVEN, HS_ROUND_DOWN,
    HS_ROUND_UP,      HS_ROUND_FLOOR,     HS_ROUND_CEILING,
};

static int parse_str(const char *s, const char *cur, enum hs_round mode, struct hs_money *out,
                     struct hs_error *err)
{
    return hs_money_parse(s, strlen(s), cur, mode, out, err);
}

/* ---- currency table ---- */

static void test_core_money_table_is_sorted_unique_and_sane(void **state)
{
    (void)state;
    const size_t n = hs_currency_count();
    assert_true(n >= 150);
    assert_null(hs_currency_at(n));
    for (size_t i = 0; i < n; i++) {
        const struct hs_currency *c = hs_currency_at(i);
        assert_non_null(c);
        assert_int_equal(strlen(c->code), 3);
        for (size_t k = 0; k < 3; k++)
            assert_true(c->code[k] >= 'A' && c->code[k] <= 'Z');
        assert_true(c->exponent <= 4);
        assert_true(c->numeric > 0 && c->numeric < 1000);
        assert_non_null(c->name);
        assert_true(strlen(c->name) > 0);
        assert_ptr_equal(hs_currency_find(c->code), c);
        if (i > 0)
            assert_true(strcmp(hs_currency_at(i - 1)->code, c->code) < 0);
        for (size_t j = 0; j < i; j++) {
            const struct hs_currency *d = hs_currency_at(j);
            if (d->numeric == c->numeric) {
                /* the one documented exception: the Caribbean guilder replacing ANG */
                assert_string_equal(d->code, "ANG");
                assert_string_equal(c->code, "XCG");
            }
        }
    }
}

static void test_core_money_table_exponents_and_numbers(void **state)
{
    (void)state;
    static const struct {
        const char *code;
        unsigned exponent;
        unsigned numeric;
    } want[] = {
        {"JPY", 0, 392}, {"KRW", 0, 410}, {"VND", 0, 704}, {"CLP", 0, 152}, {"ISK", 0, 352},
        {"UGX", 0, 800}, {"XAF", 0, 950}, {"XOF", 0, 952}, {"XPF", 0, 953}, {"BHD", 3, 48},
        {"IQD", 3, 368}, {"JOD", 3, 400}, {"KWD", 3, 414}, {"LYD", 3, 434}, {"OMR", 3, 512},
        {"TND", 3, 788}, {"CLF", 4, 990}, {"UYW", 4, 927}, {"USD", 2, 840}, {"EUR", 2, 978},
        {"GBP", 2, 826}, {"CHF", 2, 756}, {"AED", 2, 784}, {"ZWL", 2, 932},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct hs_currency *c = hs_currency_find(want[i].code);
        assert_non_null(c);
        assert_string_equal(c->code, want[i].code);
        assert_int_equal(c->exponent, want[i].exponent);
        assert_int_equal(c->numeric, want[i].numeric);
    }
    assert_string_equal(hs_currency_find("USD")->name, "US Dollar");
}

static void test_core_money_table_find_rejects_bad_codes(void **state)
{
    (void)state;
    const char *bad[] = {"usd", "Usd", "US", "USDX", "", "ZZZ", "AAA", "XAU", "XXX", "U$D", "HRK"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(hs_currency_find(bad[i]));
    assert_null(hs_currency_find(NULL));
    /* first and last entries are found (binary search bounds) */
    assert_non_null(hs_currency_find(hs_currency_at(0)->code));
    assert_non_null(hs_currency_find(hs_currency_at(hs_currency_count() - 1)->code));
}

/* ---- parse and format ---- */

static void test_core_money_parse_format_examples(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *cur;
        enum hs_round mode;
        int64_t minor;
        const char *out;
    } ex[] = {
        {"1234.50", "USD", HS_ROUND_HALF_UP, 123450, "1234.50"},
        {"1234.5", "USD", HS_ROUND_HALF_UP, 123450, "1234.50"},
        {"-0.005", "USD", HS_ROUND_HALF_UP, -1, "-0.01"},
        {"-0.005", "USD", HS_ROUND_HALF_EVEN, 0, "0.00"},
        {"-0.004", "USD", HS_ROUND_HALF_UP, 0, "0.00"},
        {"-0", "USD", HS_ROUND_HALF_UP, 0, "0.00"},
        {"-0.00", "EUR", HS_ROUND_HALF_UP, 0, "0.00"},
        {"+3", "USD", HS_ROUND_HALF_UP, 300, "3.00"},
        {".5", "USD", HS_ROUND_HALF_UP, 50, "0.50"},
        {"5.", "USD", HS_ROUND_HALF_UP, 500, "5.00"},
        {"007.10", "USD", HS_ROUND_HALF_UP, 710, "7.10"},
        {"-0.05", "USD", HS_ROUND_HALF_UP, -5, "-0.05"},
        {"100", "JPY", HS_ROUND_HALF_UP, 100, "100"},
        {"12.5", "JPY", HS_ROUND_HALF_EVEN, 12, "12"},
        {"12.5", "JPY", HS_ROUND_HALF_UP, 13, "13"},
        {"1.234", "KWD", HS_ROUND_HALF_UP, 1234, "1.234"},
        {"0.1", "BHD", HS_ROUND_HALF_UP, 100, "0.100"},
        {"0.0001", "CLF", HS_ROUND_HALF_UP, 1, "0.0001"},
        {"0.00000000000000000000000001", "USD", HS_ROUND_CEILING, 1, "0.01"},
        {"0.00000000000000000000000001", "USD", HS_ROUND_HALF_UP, 0, "0.00"},
        {"9223372036854775807", "JPY", HS_ROUND_HALF_UP, INT64_MAX, "9223372036854775807"},
        {"-9223372036854775808", "JPY", HS_ROUND_HALF_UP, INT64_MIN, "-9223372036854775808"},
        {"92233720368547758.07", "USD", HS_ROUND_HALF_UP, INT64_MAX, "92233720368547758.07"},
        {"-92233720368547758.08", "USD", HS_ROUND_HALF_UP, INT64_MIN, "-92233720368547758.08"},
        {"92233720368547758.074", "USD", HS_ROUND_HALF_UP, INT64_MAX, "92233720368547758.07"},
        {"92233720368547758.075", "USD", HS_ROUND_DOWN, INT64_MAX, "92233720368547758.07"},
        {"-922337203685477.5808", "CLF", HS_ROUND_HALF_UP, INT64_MIN, "-922337203685477.5808"},
        {"000000000000000000000000000001", "USD", HS_ROUND_HALF_UP, 100, "1.00"},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        struct hs_money m = {0};
        struct hs_error err = {0};
        assert_int_equal(parse_str(ex[i].in, ex[i].cur, ex[i].mode, &m, &err), HS_OK);
        assert_true(m.minor == ex[i].minor);
        assert_string_equal(m.currency, ex[i].cur);
        char buf[HS_MONEY_FMT_MAX];
        const int n = hs_money_format(&m, buf, sizeof buf);
        assert_int_equal(n, (int)strlen(ex[i].out));
        assert_string_equal(buf, ex[i].out);
    }
}

static void test_core_money_parse_reads_only_len_bytes(void **state)
{
    (void)state;
    struct hs_money m = {0};
    assert_int_equal(hs_money_parse("12.345", 4, "USD", HS_ROUND_HALF_UP, &m, NULL), HS_OK);
    assert_true(m.minor == 1230);
    const char no_nul[3] = {'4', '.', '2'};
    assert_int_equal(hs_money_parse_exact(no_nul, sizeof no_nul, "EUR", &m, NULL), HS_OK);
    assert_true(m.minor == 420);
    struct hs_error err = {0};
    assert_int_equal(hs_money_parse("1\0", 2, "USD", HS_ROUND_HALF_UP, &m, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "unexpected byte 0x00 at offset 1"));
}

static void test_core_money_parse_errors_have_clear_messages(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *cur;
        int rc;
        const char *msg;
    } ex[] = {
        {"", "USD", HS_EINVAL, "cannot parse amount '': empty"},
        {"1e2", "USD", HS_EINVAL, "cannot parse amount '1e2': exponent notation is not supported"},
        {"1E-2", "USD", HS_EINVAL, "exponent notation is not supported"},
        {" 1", "USD", HS_EINVAL, "cannot parse amount ' 1': leading or trailing white space"},
        {"1 ", "USD", HS_EINVAL, "leading or trailing white space"},
        {"1\n", "USD", HS_EINVAL, "leading or trailing white space"},
        {"1,234.00", "USD", HS_EINVAL, "',' is not accepted"},
        {"12,50", "EUR", HS_EINVAL, "decimal comma"},
        {"1 234", "USD", HS_EINVAL, "digit grouping is not supported"},
        {"1_000", "USD", HS_EINVAL, "digit grouping is not supported"},
        {"1'000", "CHF", HS_EINVAL, "digit grouping is not supported"},
        {"1.2.3", "USD", HS_EINVAL, "more than one decimal point"},
        {"-", "USD", HS_EINVAL, "cannot parse amount '-': no digits"},
        {".", "USD", HS_EINVAL, "no digits"},
        {"+.", "USD", HS_EINVAL, "no digits"},
        {"+-1", "USD", HS_EINVAL, "misplaced sign at offset 1"},
        {"1-", "USD", HS_EINVAL, "misplaced sign at offset 1"},
        {"abc", "USD", HS_EINVAL, "unexpected character 'a' at offset 0"},
        {"$5", "USD", HS_EINVAL, "unexpected character '$' at offset 0"},
        {"NaN", "USD", HS_EINVAL, "unexpected character 'N' at offset 0"},
        {"1\x01", "USD", HS_EINVAL, "unexpected byte 0x01 at offset 1"},
        {"5\xc3\xa9", "USD", HS_EINVAL,
         "cannot parse amount '5?"
         "?': unexpected byte 0xc3"},
        {"1", "usd", HS_EINVAL, "unknown currency 'usd': not an ISO 4217 code"},
        {"1", "XAU", HS_EINVAL, "unknown currency 'XAU'"},
        {"1", "DOLLARS", HS_EINVAL, "unknown currency 'DOLLAR...'"},
        {"9223372036854775808", "JPY", HS_ERANGE,
         "cannot parse amount '9223372036854775808': out of range for JPY"},
        {"-9223372036854775809", "JPY", HS_ERANGE, "out of range for JPY"},
        {"92233720368547758.08", "USD", HS_ERANGE, "out of range for USD"},
        {"92233720368547758.075", "USD", HS_ERANGE, "out of range for USD"}, /* rounds up */
        {"99999999999999999999999", "USD", HS_ERANGE, "out of range"},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        struct hs_money m = {.minor = 77, .currency = "GBP"};
        struct hs_error err = {0};
        assert_int_equal(parse_str(ex[i].in, ex[i].cur, HS_ROUND_HALF_UP, &m, &err), ex[i].rc);
        assert_int_equal(err.code, ex[i].rc);
        if (strstr(err.msg, ex[i].msg) == NULL)
            fail_msg("input '%s': message '%s' lacks '%s'", ex[i].in, err.msg, ex[i].msg);
        assert_true(m.minor == 77); /* untouched on failure */
        assert_string_equal(m.currency, "GBP");
    }
}

static void test_core_money_parse_caps_length_and_checks_mode(void **state)
{
    (void)state;
    char big[HS_DECIMAL_PARSE_MAX + 1];
    memset(big, '0', sizeof big);
    struct hs_money m;
    struct hs_error err = {0};
    assert_int_equal(hs_money_parse(big, sizeof big, "USD", HS_ROUND_HALF_UP, &m, &err),
                     HS_ETOOBIG);
    assert_non_null(strstr(err.msg, "longer than 128 bytes"));
    assert_non_null(strstr(err.msg, "..."));
    assert_int_equal(hs_money_parse(big, HS_DECIMAL_PARSE_MAX, "USD", HS_ROUND_HALF_UP, &m, &err),
                     HS_OK);
    assert_true(m.minor == 0);
    assert_int_equal(hs_money_parse("1", 1, "USD", (enum hs_round)6, &m, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "invalid rounding mode 6"));
    assert_int_equal(hs_money_parse("1", 1, "USD", (enum hs_round) - 1, &m, &err), HS_EINVAL);
    assert_int_equal(hs_money_parse(NULL, 0, "USD", HS_ROUND_HALF_UP, &m, NULL), HS_EINVAL);
    assert_int_equal(hs_money_parse("1", 1, NULL, HS_ROUND_HALF_UP, &m, &err), HS_EINVAL);
    assert_string_equal(err.msg, "no currency given");
}

static void test_core_money_parse_exact_refuses_to_round(void **state)
{
    (void)state;
    struct hs_money m = {0};
    struct hs_error err = {0};
    assert_int_equal(hs_money_parse_exact("1.234", 5, "USD", &m, &err), HS_EINVAL);
    assert_string_equal(err.msg, "cannot parse amount '1.234': has more than 2 decimals for USD");
    assert_int_equal(hs_money_parse_exact("1.5", 3, "JPY", &m, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "has more than 0 decimals for JPY"));
    assert_int_equal(hs_money_parse_exact("-0.00001", 8, "KWD", &m, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "has more than 3 decimals for KWD"));
    assert_int_equal(hs_money_parse_exact("1.2300", 6, "USD", &m, &err), HS_OK);
    assert_true(m.minor == 123);
    assert_int_equal(hs_money_parse_exact("1.234", 5, "KWD", &m, &err), HS_OK);
    assert_true(m.minor == 1234);
    assert_int_equal(hs_money_parse_exact("7.0000000000000000000000", 24, "JPY", &m, &err), HS_OK);
    assert_true(m.minor == 7);
}

/* Every mode on ties, just-above-ties and below-ties, both signs (JPY: exponent 0). */
static void test_core_money_parse_every_rounding_mode(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t want[HS_ROUND_COUNT]; /* half_up, half_even, down, up, floor, ceiling */
    } ex[] = {
        {"2.5", {3, 2, 2, 3, 2, 3}},         {"3.5", {4, 4, 3, 4, 3, 4}},
        {"2.51", {3, 3, 2, 3, 2, 3}},        {"2.500000000000000000001", {3, 3, 2, 3, 2, 3}},
        {"2.49", {2, 2, 2, 3, 2, 3}},        {"2.4999999999999999999", {2, 2, 2, 3, 2, 3}},
        {"-2.5", {-3, -2, -2, -3, -3, -2}},  {"-3.5", {-4, -4, -3, -4, -4, -3}},
        {"-2.51", {-3, -3, -2, -3, -3, -2}}, {"-2.49", {-2, -2, -2, -3, -3, -2}},
        {"0.5", {1, 0, 0, 1, 0, 1}},         {"-0.5", {-1, 0, 0, -1, -1, 0}},
        {"2", {2, 2, 2, 2, 2, 2}},           {"-2.000", {-2, -2, -2, -2, -2, -2}},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        for (int k = 0; k < HS_ROUND_COUNT; k++) {
            struct hs_money m = {0};
            assert_int_equal(parse_str(ex[i].in, "JPY", all_modes[k], &m, NULL), HS_OK);
            if (m.minor != ex[i].want[k])
                fail_msg("'%s' %s: got %lld, want %lld", ex[i].in,
                         hs_decimal_round_name(all_modes[k]), (long long)m.minor,
                         (long long)ex[i].want[k]);
        }
    }
    /* the same at exponent 2: .5 and .51 of a cent */
    struct hs_money m = {0};
    assert_int_equal(parse_str("0.125", "USD", HS_ROUND_HALF_EVEN, &m, NULL), HS_OK);
    assert_true(m.minor == 12);
    assert_int_equal(parse_str("0.135", "USD", HS_ROUND_HALF_EVEN, &m, NULL), HS_OK);
    assert_true(m.minor == 14);
    assert_int_equal(parse_str("0.1251", "USD", HS_ROUND_HALF_EVEN, &m, NULL), HS_OK);
    assert_true(m.minor == 13);
    assert_int_equal(parse_str("-0.125", "USD", HS_ROUND_HALF_UP, &m, NULL), HS_OK);
    assert_true(m.minor == -13);
}

static void test_core_money_format_checks_capacity_and_currency(void **state)
{
    (void)state;
    struct hs_money m = {.minor = 123450, .currency = "USD"};
    char buf[HS_MONEY_FMT_MAX];
    memset(buf, 'x', sizeof buf);
    assert_int_equal(hs_money_format(&m, buf, 7), HS_ERANGE);
    assert_string_equal(buf, "");
    assert_int_equal(hs_money_format(&m, buf, 8), 7);
    assert_string_equal(buf, "1234.50");
    assert_int_equal(hs_money_format(&m, NULL, 0), HS_ERANGE);
    struct hs_money bad = {.minor = 1, .currency = "usd"};
    assert_int_equal(hs_money_format(&bad, buf, sizeof buf), HS_EINVAL);
    struct hs_money lo = {.minor = INT64_MIN, .currency = "CLF"};
    assert_int_equal(hs_money_format(&lo, buf, sizeof buf), 21);
    assert_string_equal(buf, "-922337203685477.5808");
    struct hs_money small = {.minor = -5, .currency = "KWD"};
    assert_int_equal(hs_money_format(&small, buf, sizeof buf), 6);
    assert_string_equal(buf, "-0.005");
}

/* ---- arithmetic ---- */

static void test_core_money_arithmetic_is_checked(void **state)
{
    (void)state;
    struct hs_money a;
    struct hs_money b;
    struct hs_money r;
    struct hs_error err = {0};
    assert_int_equal(hs_money_from_minor(INT64_MAX, "USD", &a, &err), HS_OK);
    assert_int_equal(hs_money_from_minor(1, "USD", &b, &err), HS_OK);
    assert_int_equal(hs_money_add(&a, &b, &r, &err), HS_ERANGE);
    assert_non_null(strstr(err.msg, "out of range"));
    assert_int_equal(hs_money_sub(&a, &b, &r, &err), HS_OK);
    assert_true(r.minor == INT64_MAX - 1);
    assert_int_equal(hs_money_neg(&a, &r, &err), HS_OK);
    assert_true(r.minor == -INT64_MAX);
    assert_int_equal(hs_money_sub(&r, &b, &r, &err), HS_OK); /* out aliases an operand */
    assert_true(r.minor == INT64_MIN);
    assert_string_equal(r.currency, "USD");
    assert_int_equal(hs_money_sub(&r, &b, &r, &err), HS_ERANGE);
    assert_int_equal(hs_money_neg(&r, &r, &err), HS_ERANGE);
    assert_non_null(strstr(err.msg, "cannot negate amount '-92233720368547758.08 USD'"));
    assert_true(r.minor == INT64_MIN);
    assert_int_equal(hs_money_add(&r, &a, &r, &err), HS_OK);
    assert_true(r.minor == -1);

    assert_int_equal(hs_money_from_minor(-3, "EUR", &a, &err), HS_OK);
    assert_int_equal(hs_money_mul_int(&a, 4, &r, &err), HS_OK);
    assert_true(r.minor == -12);
    assert_string_equal(r.currency, "EUR");
    assert_int_equal(hs_money_from_minor(INT64_MIN, "EUR", &a, &err), HS_OK);
    assert_int_equal(hs_money_mul_int(&a, -1, &r, &err), HS_ERANGE);
    assert_int_equal(hs_money_mul_int(&a, 1, &r, &err), HS_OK);
    assert_int_equal(hs_money_from_minor(INT64_MAX / 2 + 1, "EUR", &a, &err), HS_OK);
    assert_int_equal(hs_money_mul_int(&a, 2, &r, &err), HS_ERANGE);
    assert_int_equal(hs_money_mul_int(&a, 0, &r, &err), HS_OK);
    assert_true(r.minor == 0);
}

static void test_core_money_mixed_currencies_are_refused(void **state)
{
    (void)state;
    struct hs_money usd = {.minor = 100, .currency = "USD"};
    struct hs_money eur = {.minor = 100, .currency = "EUR"};
    struct hs_money r = {.minor = 5, .currency = "JPY"};
    struct hs_error err = {0};
    assert_int_equal(hs_money_add(&usd, &eur, &r, &err), HS_EINVAL);
    assert_string_equal(err.msg, "cannot add amounts: currencies 'USD' and 'EUR' differ");
    assert_int_equal(hs_money_sub(&usd, &eur, &r, &err), HS_EINVAL);
    int c = 9;
    assert_int_equal(hs_money_cmp(&usd, &eur, &c, &err), HS_EINVAL);
    assert_int_equal(c, 9);
    assert_true(r.minor == 5);
    assert_int_equal(hs_money_from_minor(1, "EURO", &r, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "unknown currency 'EURO'"));
}

static void test_core_money_cmp_orders_amounts(void **state)
{
    (void)state;
    struct hs_money a = {.minor = -5, .currency = "USD"};
    struct hs_money b = {.minor = 3, .currency = "USD"};
    int c = 0;
    assert_int_equal(hs_money_cmp(&a, &b, &c, NULL), HS_OK);
    assert_int_equal(c, -1);
    assert_int_equal(hs_money_cmp(&b, &a, &c, NULL), HS_OK);
    assert_int_equal(c, 1);
    assert_int_equal(hs_money_cmp(&a, &a, &c, NULL), HS_OK);
    assert_int_equal(c, 0);
    struct hs_money lo = {.minor = INT64_MIN, .currency = "USD"};
    struct hs_money hi = {.minor = INT64_MAX, .currency = "USD"};
    assert_int_equal(hs_money_cmp(&lo, &hi, &c, NULL), HS_OK);
    assert_int_equal(c, -1);
}

static void test_core_money_mul_decimal_rounds_once(void **state)
{
    (void)state;
    static const struct {
        const char *amount;
        const char *cur;
        const char *factor;
        enum hs_round mode;
        const char *want;
    } ex[] = {
        {"19.99", "USD", "3", HS_ROUND_HALF_UP, "59.97"},
        {"10.00", "USD", "0.19", HS_ROUND_HALF_UP, "1.90"},
        {"0.05", "USD", "0.5", HS_ROUND_HALF_UP, "0.03"},
        {"0.05", "USD", "0.5", HS_ROUND_HALF_EVEN, "0.02"},
        {"0.07", "USD", "0.5", HS_ROUND_HALF_EVEN, "0.04"},
        {"-0.05", "USD", "0.5", HS_ROUND_HALF_UP, "-0.03"},
        {"-0.05", "USD", "0.5", HS_ROUND_FLOOR, "-0.03"},
        {"-0.05", "USD", "0.5", HS_ROUND_CEILING, "-0.02"},
        {"1000", "JPY", "0.08", HS_ROUND_HALF_UP, "80"},
        {"1.234", "KWD", "1.5", HS_ROUND_HALF_UP, "1.851"},
        {"12.34", "EUR", "2.333333", HS_ROUND_HALF_UP, "28.79"},
        {"12.34", "EUR", "-1", HS_ROUND_HALF_UP, "-12.34"},
        {"0.01", "USD", "0.000001", HS_ROUND_UP, "0.01"},
        {"0.01", "USD", "0.000001", HS_ROUND_DOWN, "0.00"},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        struct hs_money m;
        struct hs_decimal d;
        struct hs_money r;
        assert_int_equal(parse_str(ex[i].amount, ex[i].cur, HS_ROUND_HALF_UP, &m, NULL), HS_OK);
        assert_int_equal(hs_decimal_parse_exact(ex[i].factor, strlen(ex[i].factor), &d, NULL),
                         HS_OK);
        assert_int_equal(hs_money_mul_decimal(&m, d, ex[i].mode, &r, NULL), HS_OK);
        char buf[HS_MONEY_FMT_MAX];
        assert_true(hs_money_format(&r, buf, sizeof buf) > 0);
        if (strcmp(buf, ex[i].want) != 0)
            fail_msg("%s %s * %s: got %s, want %s", ex[i].amount, ex[i].cur, ex[i].factor, buf,
                     ex[i].want);
        assert_string_equal(r.currency, ex[i].cur);
    }
    struct hs_money big = {.minor = INT64_MAX, .currency = "USD"};
    struct hs_decimal two = {.v = 2 * HS_DECIMAL_ONE};
    struct hs_money r = {0};
    struct hs_error err = {0};
    assert_int_equal(hs_money_mul_decimal(&big, two, HS_ROUND_HALF_UP, &r, &err), HS_ERANGE);
    assert_non_null(strstr(err.msg, "cannot multiply amount '92233720368547758.07 USD' by '2'"));
    assert_int_equal(hs_money_mul_decimal(&big, two, (enum hs_round)42, &r, &err), HS_EINVAL);
    struct hs_decimal half = {.v = HS_DECIMAL_ONE / 2};
    assert_int_equal(hs_money_mul_decimal(&big, half, HS_ROUND_HALF_UP, &r, &err), HS_OK);
    assert_true(r.minor == INT64_MAX / 2 + 1);
}

/* ---- allocation ---- */

static void check_alloc(int64_t total, const int64_t *w, size_t n, const int64_t *want)
{
    int64_t out[16];
    assert_true(n <= 16);
    assert_int_equal(hs_money_allocate(total, w, n, out), HS_OK);
    for (size_t i = 0; i < n; i++) {
        if (out[i] != want[i])
            fail_msg("total %lld line %zu: got %lld, want %lld", (long long)total, i,
                     (long long)out[i], (long long)want[i]);
    }
}

static void test_core_money_allocate_examples(void **state)
{
    (void)state;
    check_alloc(100, (const int64_t[]){1, 1, 1}, 3, (const int64_t[]){34, 33, 33});
    check_alloc(-100, (const int64_t[]){1, 1, 1}, 3, (const int64_t[]){-34, -33, -33});
    check_alloc(100, (const int64_t[]){0, 0, 0}, 3, (const int64_t[]){34, 33, 33});
    check_alloc(100, (const int64_t[]){1, 0, 1}, 3, (const int64_t[]){50, 0, 50});
    check_alloc(10, (const int64_t[]){3, 3, 3, 1}, 4, (const int64_t[]){3, 3, 3, 1});
    check_alloc(1, (const int64_t[]){1, 1}, 2, (const int64_t[]){1, 0});
    check_alloc(5, (const int64_t[]){1, 2}, 2, (const int64_t[]){2, 3});
    check_alloc(2, (const int64_t[]){1, 1, 1}, 3, (const int64_t[]){1, 1, 0});
    check_alloc(0, (const int64_t[]){5, 7}, 2, (const int64_t[]){0, 0});
    check_alloc(7, (const int64_t[]){0, 9}, 2, (const int64_t[]){0, 7});
    /* 1000.00 over lines of 333.33, 333.33, 333.34 (the classic lost-cent case) */
    check_alloc(100000, (const int64_t[]){33333, 33333, 33334}, 3,
                (const int64_t[]){33333, 33333, 33334});
    /* remainders 0.6 / 0.3 / 0.1 of a unit: the largest remainder wins, not the first */
    check_alloc(10, (const int64_t[]){16, 13, 71}, 3, (const int64_t[]){2, 1, 7});
    check_alloc(INT64_MIN, (const int64_t[]){1}, 1, (const int64_t[]){INT64_MIN});
    check_alloc(INT64_MIN, (const int64_t[]){1, 1}, 2,
                (const int64_t[]){INT64_MIN / 2, INT64_MIN / 2});
    check_alloc(INT64_MAX, (const int64_t[]){INT64_MAX, INT64_MAX}, 2,
                (const int64_t[]){INT64_MAX / 2 + 1, INT64_MAX / 2});
    check_alloc(INT64_MAX, (const int64_t[]){INT64_MAX, 1}, 2, (const int64_t[]){INT64_MAX - 1, 1});
}

static void test_core_money_allocate_rejects_bad_input(void **state)
{
    (void)state;
    int64_t out[3] = {7, 7, 7};
    const int64_t w[3] = {1, -1, 1};
    assert_int_equal(hs_money_allocate(10, w, 0, out), HS_EINVAL);
    assert_int_equal(hs_money_allocate(10, w, 3, out), HS_EINVAL);
    assert_int_equal(hs_money_allocate(10, NULL, 3, out), HS_EINVAL);
    assert_int_equal(hs_money_allocate(10, w, 1, NULL), HS_EINVAL);
    assert_true(out[0] == 7 && out[1] == 7 && out[2] == 7);
}

/* A random int64 whose magnitude is spread over all bit lengths. */
static int64_t rand_i64(struct hs_rng *rng)
{
    const uint64_t r = hs_rng_next(rng) >> hs_rng_below(rng, 64);
    return (hs_rng_next(rng) & 1) ? (int64_t)r : -(int64_t)(r >> 1);
}

static void test_core_money_allocate_property_sums_and_fair_shares(void **state)
{
    (void)state;
    struct hs_rng rng;
    hs_rng_seed(&rng, 0x5eedULL);
    for (int iter = 0; iter < 20000; iter++) {
        const size_t n = 1 + (size_t)hs_rng_below(&rng, 16);
        int64_t w[16];
        int64_t out[16];
        const int kind = (int)hs_rng_below(&rng, 4);
        for (size_t i = 0; i < n; i++) {
            if (kind == 0)
                w[i] = (int64_t)hs_rng_below(&rng, 4); /* small, many zeros and ties */
            else if (kind == 1)
                w[i] = 0; /* all zero: equal split */
            else
                w[i] = (int64_t)(hs_rng_next(&rng) >> (6 + hs_rng_below(&rng, 58)));
        }
        const int64_t total =
            (iter & 1) ? rand_i64(&rng) : (int64_t)hs_rng_below(&rng, 2001) - 1000;
        assert_int_equal(hs_money_allocate(total, w, n, out), HS_OK);
        i128 wsum = 0;
        for (size_t i = 0; i < n; i++)
            wsum += w[i];
        const bool equal = wsum == 0;
        if (equal)
            wsum = (i128)n;
        i128 sum = 0;
        for (size_t i = 0; i < n; i++) {
            sum += out[i];
            const i128 wi = equal ? 1 : w[i];
            /* |out[i] - total * wi / wsum| < 1  <=>  |out[i] * wsum - total * wi| < wsum */
            i128 diff = (i128)out[i] * wsum - (i128)total * wi;
            if (diff < 0)
                diff = -diff;
            if (!(diff < wsum))
                fail_msg("iter %d line %zu: part %lld too far from its share", iter, i,
                         (long long)out[i]);
            /* parts carry the total's sign */
            assert_true(total >= 0 ? out[i] >= 0 : out[i] <= 0);
        }
        if (sum != (i128)total)
            fail_msg("iter %d: parts sum to %lld, total %lld", iter, (long long)sum,
                     (long long)total);
    }
}

/* ---- round trips ---- */

static void test_core_money_property_parse_format_roundtrip_every_currency(void **state)
{
    (void)state;
    struct hs_rng rng;
    hs_rng_seed(&rng, 4217);
    int checked = 0;
    for (size_t c = 0; c < hs_currency_count(); c++) {
        const struct hs_currency *cur = hs_currency_at(c);
        for (int k = 0; k < 100; k++) {
            int64_t x;
            if (k == 0)
                x = INT64_MIN;
            else if (k == 1)
                x = INT64_MAX;
            else if (k < 5)
                x = k - 3; /* -1, 0, 1 */
            else if (k % 2)
                x = rand_i64(&rng);
            else
                x = (int64_t)hs_rng_below(&rng, 2000001) - 1000000;
            struct hs_money m;
            assert_int_equal(hs_money_from_minor(x, cur->code, &m, NULL), HS_OK);
            char buf[HS_MONEY_FMT_MAX];
            const int n = hs_money_format(&m, buf, sizeof buf);
            assert_true(n > 0);
            assert_int_equal(strlen(buf), (size_t)n);
            /* the exponent shows: exactly cur->exponent digits after the point */
            const char *dot = strchr(buf, '.');
            if (cur->exponent == 0)
                assert_null(dot);
            else
                assert_int_equal(strlen(dot + 1), cur->exponent);
            struct hs_money back;
            struct hs_error err = {0};
            if (hs_money_parse_exact(buf, (size_t)n, cur->code, &back, &err) != HS_OK)
                fail_msg("'%s' %s: %s", buf, cur->code, err.msg);
            assert_true(back.minor == x);
            for (int mode = 0; mode < HS_ROUND_COUNT; mode++) {
                assert_int_equal(
                    hs_money_parse(buf, (size_t)n, cur->code, all_modes[mode], &back, NULL), HS_OK);
                assert_true(back.minor == x);
                assert_string_equal(back.currency, cur->code);
            }
            checked++;
        }
    }
    assert_true(checked >= 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_money_table_is_sorted_unique_and_sane),
        cmocka_unit_test(test_core_money_table_exponents_and_numbers),
        cmocka_unit_test(test_core_money_table_find_rejects_bad_codes),
        cmocka_unit_test(test_core_money_parse_format_examples),
        cmocka_unit_test(test_core_money_parse_reads_only_len_bytes),
        cmocka_unit_test(test_core_money_parse_errors_have_clear_messages),
        cmocka_unit_test(test_core_money_parse_caps_length_and_checks_mode),
        cmocka_unit_test(test_core_money_parse_exact_refuses_to_round),
        cmocka_unit_test(test_core_money_parse_every_rounding_mode),
        cmocka_unit_test(test_core_money_format_checks_capacity_and_currency),
        cmocka_unit_test(test_core_money_arithmetic_is_checked),
        cmocka_unit_test(test_core_money_mixed_currencies_are_refused),
        cmocka_unit_test(test_core_money_cmp_orders_amounts),
        cmocka_unit_test(test_core_money_mul_decimal_rounds_once),
        cmocka_unit_test(test_core_money_allocate_examples),
        cmocka_unit_test(test_core_money_allocate_rejects_bad_input),
        cmocka_unit_test(test_core_money_allocate_property_sums_and_fair_shares),
        cmocka_unit_test(test_core_money_property_parse_format_roundtrip_every_currency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
