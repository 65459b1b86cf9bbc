/*
 * tests/unit/test_core_decimal.c - fixed-point decimals: parse, format, arithmetic, rounding.
 *
 * Design:     examples for each documented behaviour, then fixed-seed randomized properties
 *             checked against ref_div(), a reference rounding written independently of
 *             core/decimal.c (floor division plus a choice between the two neighbours) in
 *             128-bit arithmetic: mul, div and to_minor on random operands, and the text
 *             parser at every scale 0..18 on random digit strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>

#include "core/decimal.h"
#include "hoopsync/error.h"
#include "util/env.h"

__extension__ typedef __int128 i128;

static const enum hs_round all_modes[HS_ROUND_COUNT] = {
    HS_ROUND_HALF_UP, HS_ROUND_HALF_EVEN, HS_ROUND_DOWN,
    HS_ROUND_UP,      HS_ROUND_FLOOR,     HS_ROUND_CEILING,
};

/* Reference: num / den rounded with mode (den != 0), by picking floor or floor + 1. */
static i128 ref_div(i128 num, i128 den, enum hs_round mode)
{
    if (den < 0) {
        num = -num;
        den = -den;
    }
    i128 lo = num / den;
    i128 r = num % den;
    if (r < 0) {
        lo -= 1;
        r += den;
    }
    if (r == 0)
        return lo;
    const i128 hi = lo + 1;
    const bool positive = num > 0;
    const i128 twice = 2 * r;
    switch (mode) {
    case HS_ROUND_FLOOR:
        return lo;
    case HS_ROUND_CEILING:
        return hi;
    case HS_ROUND_DOWN:
        return positive ? lo : hi;
    case HS_ROUND_UP:
        return positive ? hi : lo;
    case HS_ROUND_HALF_UP:
        if (twice != den)
            return twice < den ? lo : hi;
        return positive ? hi : lo;
    case HS_ROUND_HALF_EVEN:
        if (twice != den)
            return twice < den ? lo : hi;
        return (lo % 2 == 0) ? lo : hi;
    }
    fail_msg("bad mode");
    return 0;
}

static bool fits64(i128 v)
{
    return v >= INT64_MIN && v <= INT64_MAX;
}

static int64_t rand_i64(struct hs_rng *rng)
{
    const uint64_t r = hs_rng_next(rng) >> hs_rng_below(rng, 64);
    return (hs_rng_next(rng) & 1) ? (int64_t)r : -(int64_t)(r >> 1);
}

static struct hs_decimal dec(const char *s)
{
    struct hs_decimal d = {0};
    struct hs_error err = {0};
    if (hs_decimal_parse_exact(s, strlen(s), &d, &err) != HS_OK)
        fail_msg("%s", err.msg);
    return d;
}

static void assert_dec_str(struct hs_decimal d, const char *want)
{
    char buf[HS_DECIMAL_FMT_MAX];
    assert_int_equal(hs_decimal_format(d, buf, sizeof buf), (int)strlen(want));
    assert_string_equal(buf, want);
}

static void test_core_decimal_parse_format_examples(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        enum hs_round mode;
        int64_t v;
        const char *out;
    } ex[] = {
        {"1.5", HS_ROUND_HALF_UP, 1500000, "1.5"},
        {"2", HS_ROUND_HALF_UP, 2000000, "2"},
        {"2.000000", HS_ROUND_HALF_UP, 2000000, "2"},
        {"-0.000001", HS_ROUND_HALF_UP, -1, "-0.000001"},
        {"0.0000005", HS_ROUND_HALF_UP, 1, "0.000001"},
        {"0.0000005", HS_ROUND_HALF_EVEN, 0, "0"},
        {"0.0000015", HS_ROUND_HALF_EVEN, 2, "0.000002"},
        {"-0.0000005", HS_ROUND_HALF_UP, -1, "-0.000001"},
        {"-0.0000004", HS_ROUND_HALF_UP, 0, "0"},
        {"123.4560000", HS_ROUND_HALF_UP, 123456000, "123.456"},
        {".25", HS_ROUND_HALF_UP, 250000, "0.25"},
        {"+19", HS_ROUND_HALF_UP, 19000000, "19"},
        {"9223372036854.775807", HS_ROUND_HALF_UP, INT64_MAX, "9223372036854.775807"},
        {"-9223372036854.775808", HS_ROUND_HALF_UP, INT64_MIN, "-9223372036854.775808"},
        {"9223372036854.7758074", HS_ROUND_HALF_UP, INT64_MAX, "9223372036854.775807"},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        struct hs_decimal d = {0};
        struct hs_error err = {0};
        if (hs_decimal_parse(ex[i].in, strlen(ex[i].in), ex[i].mode, &d, &err) != HS_OK)
            fail_msg("'%s': %s", ex[i].in, err.msg);
        assert_true(d.v == ex[i].v);
        assert_dec_str(d, ex[i].out);
    }
}

static void test_core_decimal_parse_errors(void **state)
{
    (void)state;
    struct hs_decimal d = {.v = 5};
    struct hs_error err = {0};
    assert_int_equal(hs_decimal_parse("9223372036854.775808", 20, HS_ROUND_HALF_UP, &d, &err),
                     HS_ERANGE);
    assert_string_equal(err.msg, "cannot parse decimal '9223372036854.775808': out of range");
    assert_int_equal(hs_decimal_parse("9223372036854.7758075", 21, HS_ROUND_HALF_UP, &d, &err),
                     HS_ERANGE);
    assert_int_equal(hs_decimal_parse("9223372036854.7758075", 21, HS_ROUND_DOWN, &d, &err), HS_OK);
    assert_true(d.v == INT64_MAX);
    d.v = 5;
    assert_int_equal(hs_decimal_parse_exact("1.0000001", 9, &d, &err), HS_EINVAL);
    assert_string_equal(err.msg, "cannot parse decimal '1.0000001': has more than 6 decimals");
    assert_int_equal(hs_decimal_parse("1.5e3", 5, HS_ROUND_HALF_UP, &d, &err), HS_EINVAL);
    assert_string_equal(err.msg,
                        "cannot parse decimal '1.5e3': exponent notation is not supported");
    assert_int_equal(hs_decimal_parse("1,5", 3, HS_ROUND_HALF_UP, &d, &err), HS_EINVAL);
    assert_int_equal(hs_decimal_parse("", 0, HS_ROUND_HALF_UP, &d, &err), HS_EINVAL);
    assert_int_equal(hs_decimal_parse("1", 1, (enum hs_round)HS_ROUND_COUNT, &d, &err), HS_EINVAL);
    assert_true(d.v == 5);
    assert_int_equal(hs_decimal_parse_exact("1.5000000000", 12, &d, &err), HS_OK);
    assert_true(d.v == 1500000);
    int64_t v = 0;
    assert_int_equal(
        hs_decimal_parse_scaled("1", 1, 19, HS_ROUND_HALF_UP, false, "x", NULL, &v, &err),
        HS_EINVAL);
    assert_non_null(strstr(err.msg, "scale 19"));
}

static void test_core_decimal_format_capacity_and_scales(void **state)
{
    (void)state;
    char buf[HS_DECIMAL_FMT_MAX];
    memset(buf, 'x', sizeof buf);
    assert_int_equal(hs_decimal_format(dec("1.5"), buf, 3), HS_ERANGE);
    assert_string_equal(buf, "");
    assert_int_equal(hs_decimal_format(dec("1.5"), buf, 4), 3);
    assert_int_equal(hs_decimal_format_scaled(15, 1, false, buf, sizeof buf), 3);
    assert_string_equal(buf, "1.5");
    assert_int_equal(hs_decimal_format_scaled(1500000, 6, false, buf, sizeof buf), 8);
    assert_string_equal(buf, "1.500000");
    assert_int_equal(hs_decimal_format_scaled(-7, 0, false, buf, sizeof buf), 2);
    assert_string_equal(buf, "-7");
    assert_int_equal(hs_decimal_format_scaled(INT64_MIN, 18, false, buf, sizeof buf), 21);
    assert_string_equal(buf, "-9.223372036854775808");
    assert_int_equal(hs_decimal_format_scaled(INT64_MIN, 0, true, buf, sizeof buf), 20);
    assert_string_equal(buf, "-9223372036854775808");
    assert_int_equal(hs_decimal_format_scaled(1, 18, true, buf, sizeof buf), 20);
    assert_string_equal(buf, "0.000000000000000001");
    assert_int_equal(hs_decimal_format_scaled(1, 19, true, buf, sizeof buf), HS_EINVAL);
    assert_string_equal(hs_decimal_round_name(HS_ROUND_HALF_EVEN), "half_even");
    assert_string_equal(hs_decimal_round_name((enum hs_round)99), "invalid");
}

static void test_core_decimal_int_conversions(void **state)
{
    (void)state;
    struct hs_decimal d;
    struct hs_error err = {0};
    assert_int_equal(hs_decimal_from_int(9223372036854, &d, &err), HS_OK);
    assert_dec_str(d, "9223372036854");
    assert_int_equal(hs_decimal_from_int(-9223372036854, &d, &err), HS_OK);
    assert_int_equal(hs_decimal_from_int(9223372036855, &d, &err), HS_ERANGE);
    assert_non_null(strstr(err.msg, "'9223372036855'"));
    assert_int_equal(hs_decimal_from_int(-9223372036855, &d, &err), HS_ERANGE);
    static const struct {
        const char *in;
        int64_t want[HS_ROUND_COUNT]; /* half_up, half_even, down, up, floor, ceiling */
    } ex[] = {
        {"2.5", {3, 2, 2, 3, 2, 3}},
        {"3.5", {4, 4, 3, 4, 3, 4}},
        {"2.500001", {3, 3, 2, 3, 2, 3}},
        {"2.499999", {2, 2, 2, 3, 2, 3}},
        {"-2.5", {-3, -2, -2, -3, -3, -2}},
        {"-3.5", {-4, -4, -3, -4, -4, -3}},
        {"-2.500001", {-3, -3, -2, -3, -3, -2}},
        {"-0.5", {-1, 0, 0, -1, -1, 0}},
        {"7", {7, 7, 7, 7, 7, 7}},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        for (int k = 0; k < HS_ROUND_COUNT; k++) {
            int64_t v = 0;
            assert_int_equal(hs_decimal_to_int(dec(ex[i].in), all_modes[k], &v, NULL), HS_OK);
            if (v != ex[i].want[k])
                fail_msg("'%s' %s: got %lld, want %lld", ex[i].in,
                         hs_decimal_round_name(all_modes[k]), (long long)v,
                         (long long)ex[i].want[k]);
        }
    }
    int64_t v = 0;
    assert_int_equal(hs_decimal_to_int(dec("1"), (enum hs_round) - 3, &v, &err), HS_EINVAL);
    struct hs_decimal lo = {.v = INT64_MIN};
    assert_int_equal(hs_decimal_to_int(lo, HS_ROUND_FLOOR, &v, NULL), HS_OK);
    assert_true(v == -9223372036855);
}

static void test_core_decimal_add_sub_overflow(void **state)
{
    (void)state;
    struct hs_decimal r;
    struct hs_error err = {0};
    const struct hs_decimal max = {.v = INT64_MAX};
    const struct hs_decimal min = {.v = INT64_MIN};
    const struct hs_decimal tiny = {.v = 1};
    assert_int_equal(hs_decimal_add(dec("1.25"), dec("-3.5"), &r, &err), HS_OK);
    assert_dec_str(r, "-2.25");
    assert_int_equal(hs_decimal_sub(dec("1.25"), dec("-3.5"), &r, &err), HS_OK);
    assert_dec_str(r, "4.75");
    assert_int_equal(hs_decimal_add(max, tiny, &r, &err), HS_ERANGE);
    assert_string_equal(err.msg,
                        "cannot add decimals '9223372036854.775807' and '0.000001': result out "
                        "of range");
    assert_int_equal(hs_decimal_sub(min, tiny, &r, &err), HS_ERANGE);
    assert_int_equal(hs_decimal_sub(tiny, min, &r, &err), HS_ERANGE);
    assert_int_equal(hs_decimal_add(min, max, &r, &err), HS_OK);
    assert_true(r.v == -1);
    assert_int_equal(hs_decimal_cmp(min, max), -1);
    assert_int_equal(hs_decimal_cmp(max, min), 1);
    assert_int_equal(hs_decimal_cmp(tiny, tiny), 0);
}

static void test_core_decimal_mul_div_examples(void **state)
{
    (void)state;
    struct hs_decimal r;
    struct hs_error err = {0};
    assert_int_equal(hs_decimal_mul(dec("1.5"), dec("1.5"), HS_ROUND_HALF_UP, &r, NULL), HS_OK);
    assert_dec_str(r, "2.25");
    assert_int_equal(hs_decimal_mul(dec("0.000001"), dec("0.5"), HS_ROUND_HALF_UP, &r, NULL),
                     HS_OK);
    assert_dec_str(r, "0.000001");
    assert_int_equal(hs_decimal_mul(dec("0.000001"), dec("0.5"), HS_ROUND_HALF_EVEN, &r, NULL),
                     HS_OK);
    assert_dec_str(r, "0");
    assert_int_equal(hs_decimal_mul(dec("-0.000001"), dec("0.5"), HS_ROUND_FLOOR, &r, NULL), HS_OK);
    assert_dec_str(r, "-0.000001");
    assert_int_equal(hs_decimal_mul(dec("-0.000001"), dec("0.5"), HS_ROUND_CEILING, &r, NULL),
                     HS_OK);
    assert_dec_str(r, "0");
    assert_int_equal(hs_decimal_mul(dec("3"), dec("0.333333"), HS_ROUND_HALF_UP, &r, NULL), HS_OK);
    assert_dec_str(r, "0.999999");
    assert_int_equal(hs_decimal_mul(dec("9223372036854"), dec("2"), HS_ROUND_HALF_UP, &r, &err),
                     HS_ERANGE);
    assert_non_null(strstr(err.msg, "cannot multiply decimals '9223372036854' and '2'"));
    assert_int_equal(hs_decimal_mul(dec("1"), dec("1"), (enum hs_round)7, &r, &err), HS_EINVAL);

    assert_int_equal(hs_decimal_div(dec("1"), dec("3"), HS_ROUND_HALF_UP, &r, NULL), HS_OK);
    assert_dec_str(r, "0.333333");
    assert_int_equal(hs_decimal_div(dec("2"), dec("3"), HS_ROUND_HALF_UP, &r, NULL), HS_OK);
    assert_dec_str(r, "0.666667");
    assert_int_equal(hs_decimal_div(dec("2"), dec("3"), HS_ROUND_DOWN, &r, NULL), HS_OK);
    assert_dec_str(r, "0.666666");
    assert_int_equal(hs_decimal_div(dec("-2"), dec("3"), HS_ROUND_FLOOR, &r, NULL), HS_OK);
    assert_dec_str(r, "-0.666667");
    assert_int_equal(hs_decimal_div(dec("1"), dec("-8"), HS_ROUND_HALF_EVEN, &r, NULL), HS_OK);
    assert_dec_str(r, "-0.125");
    assert_int_equal(hs_decimal_div(dec("0.000001"), dec("-2"), HS_ROUND_HALF_EVEN, &r, NULL),
                     HS_OK);
    assert_dec_str(r, "0");
    r.v = 42;
    assert_int_equal(hs_decimal_div(dec("1"), dec("0"), HS_ROUND_HALF_UP, &r, &err), HS_EINVAL);
    assert_string_equal(err.msg, "cannot divide decimals '1' and '0': division by zero");
    assert_true(r.v == 42);
    assert_int_equal(
        hs_decimal_div(dec("9223372036854"), dec("0.000001"), HS_ROUND_HALF_UP, &r, &err),
        HS_ERANGE);
}

static void test_core_decimal_to_minor_examples(void **state)
{
    (void)state;
    int64_t v = 0;
    struct hs_error err = {0};
    assert_int_equal(hs_decimal_to_minor(dec("12.345678"), 2, HS_ROUND_HALF_UP, &v, NULL), HS_OK);
    assert_true(v == 1235);
    assert_int_equal(hs_decimal_to_minor(dec("12.345678"), 0, HS_ROUND_HALF_UP, &v, NULL), HS_OK);
    assert_true(v == 12);
    assert_int_equal(hs_decimal_to_minor(dec("12.345678"), 3, HS_ROUND_HALF_UP, &v, NULL), HS_OK);
    assert_true(v == 12346);
    assert_int_equal(hs_decimal_to_minor(dec("12.345678"), 4, HS_ROUND_DOWN, &v, NULL), HS_OK);
    assert_true(v == 123456);
    assert_int_equal(hs_decimal_to_minor(dec("12.345678"), 8, HS_ROUND_DOWN, &v, NULL), HS_OK);
    assert_true(v == 1234567800);
    assert_int_equal(hs_decimal_to_minor(dec("0.005"), 2, HS_ROUND_HALF_EVEN, &v, NULL), HS_OK);
    assert_true(v == 0);
    assert_int_equal(hs_decimal_to_minor(dec("0.005"), 2, HS_ROUND_HALF_UP, &v, NULL), HS_OK);
    assert_true(v == 1);
    assert_int_equal(hs_decimal_to_minor(dec("-0.005"), 2, HS_ROUND_HALF_UP, &v, NULL), HS_OK);
    assert_true(v == -1);
    assert_int_equal(hs_decimal_to_minor(dec("1"), 19, HS_ROUND_HALF_UP, &v, &err), HS_EINVAL);
    assert_int_equal(hs_decimal_to_minor(dec("1"), 2, (enum hs_round)9, &v, &err), HS_EINVAL);
    assert_int_equal(hs_decimal_to_minor(dec("10"), 18, HS_ROUND_HALF_UP, &v, &err), HS_ERANGE);
    assert_non_null(strstr(err.msg, "cannot convert decimal '10' to minor units of exponent 18"));
}

static void test_core_decimal_muldiv_limits(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(hs_decimal_muldiv(1, 1, 0, HS_ROUND_HALF_UP, &v), HS_EINVAL);
    assert_int_equal(hs_decimal_muldiv(INT64_MIN, -1, 1, HS_ROUND_HALF_UP, &v), HS_ERANGE);
    assert_int_equal(hs_decimal_muldiv(INT64_MIN, 1, -1, HS_ROUND_HALF_UP, &v), HS_ERANGE);
    assert_int_equal(hs_decimal_muldiv(INT64_MIN, 1, 1, HS_ROUND_HALF_UP, &v), HS_OK);
    assert_true(v == INT64_MIN);
    assert_int_equal(hs_decimal_muldiv(INT64_MIN, INT64_MIN, INT64_MIN, HS_ROUND_HALF_UP, &v),
                     HS_OK);
    assert_true(v == INT64_MIN);
    assert_int_equal(hs_decimal_muldiv(INT64_MAX, INT64_MAX, INT64_MIN, HS_ROUND_DOWN, &v), HS_OK);
    assert_true(v == INT64_MIN + 2); /* -(2^63 - 2 + 2^-63) truncated */
    assert_int_equal(hs_decimal_muldiv(INT64_MAX, INT64_MAX, INT64_MIN, HS_ROUND_FLOOR, &v), HS_OK);
    assert_true(v == INT64_MIN + 1);
    assert_int_equal(hs_decimal_muldiv(0, INT64_MIN, 3, HS_ROUND_UP, &v), HS_OK);
    assert_true(v == 0);
}

/* mul, div, to_minor and muldiv against ref_div on random operands, every mode. */
static void test_core_decimal_property_arithmetic_matches_reference(void **state)
{
    (void)state;
    struct hs_rng rng;
    hs_rng_seed(&rng, 20240601);
    int in_range = 0;
    for (int iter = 0; iter < 20000; iter++) {
        const struct hs_decimal a = {.v = rand_i64(&rng)};
        const struct hs_decimal b = {.v = rand_i64(&rng)};
        const enum hs_round mode = all_modes[iter % HS_ROUND_COUNT];

        struct hs_decimal r = {0};
        i128 want = ref_div((i128)a.v * b.v, HS_DECIMAL_ONE, mode);
        int rc = hs_decimal_mul(a, b, mode, &r, NULL);
        if (fits64(want)) {
            assert_int_equal(rc, HS_OK);
            if ((i128)r.v != want)
                fail_msg("mul %lld * %lld %s: got %lld, want %lld", (long long)a.v, (long long)b.v,
                         hs_decimal_round_name(mode), (long long)r.v, (long long)want);
            in_range++;
        } else {
            assert_int_equal(rc, HS_ERANGE);
        }

        rc = hs_decimal_div(a, b, mode, &r, NULL);
        if (b.v == 0) {
            assert_int_equal(rc, HS_EINVAL);
        } else {
            want = ref_div((i128)a.v * HS_DECIMAL_ONE, b.v, mode);
            if (fits64(want)) {
                assert_int_equal(rc, HS_OK);
                if ((i128)r.v != want)
                    fail_msg("div %lld / %lld %s: got %lld, want %lld", (long long)a.v,
                             (long long)b.v, hs_decimal_round_name(mode), (long long)r.v,
                             (long long)want);
                in_range++;
            } else {
                assert_int_equal(rc, HS_ERANGE);
            }
        }

        const unsigned exponent = (unsigned)hs_rng_below(&rng, 9);
        i128 p10 = 1;
        for (unsigned k = 0; k < exponent; k++)
            p10 *= 10;
        int64_t minor = 0;
        want = ref_div((i128)a.v * p10, HS_DECIMAL_ONE, mode);
        rc = hs_decimal_to_minor(a, exponent, mode, &minor, NULL);
        if (fits64(want)) {
            assert_int_equal(rc, HS_OK);
            assert_true((i128)minor == want);
        } else {
            assert_int_equal(rc, HS_ERANGE);
        }

        const int64_t c = rand_i64(&rng);
        if (c != 0) {
            want = ref_div((i128)a.v * b.v, c, mode);
            int64_t v = 0;
            rc = hs_decimal_muldiv(a.v, b.v, c, mode, &v);
            if (fits64(want)) {
                assert_int_equal(rc, HS_OK);
                assert_true((i128)v == want);
            } else {
                assert_int_equal(rc, HS_ERANGE);
            }
        }
    }
    assert_true(in_range > 10000); /* the operand mix exercises real results, not just ERANGE */
}

/* The text parser at every scale on random digit strings, against ref_div. */
static void test_core_decimal_property_parse_matches_reference(void **state)
{
    (void)state;
    struct hs_rng rng;
    hs_rng_seed(&rng, 77);
    for (int iter = 0; iter < 20000; iter++) {
        /* N / 10^k with up to 24 digits and k fraction digits, at a random scale; digits plus
         * scale stay <= 36 so that N * 10^scale < 10^36 < 2^120 is exact in the reference */
        const unsigned scale = (unsigned)hs_rng_below(&rng, HS_DECIMAL_SCALE_MAX + 1);
        unsigned n_digits = 1 + (unsigned)hs_rng_below(&rng, 24);
        if (n_digits + scale > 36)
            n_digits = 36 - scale;
        const unsigned k = (unsigned)hs_rng_below(&rng, n_digits + 3);
        char digits[32];
        i128 n = 0;
        for (unsigned i = 0; i < n_digits; i++) {
            const int d = (int)hs_rng_below(&rng, 10);
            digits[i] = (char)('0' + d);
            n = n * 10 + d;
        }
        const bool negative = hs_rng_below(&rng, 2) != 0;
        char text[64];
        size_t len = 0;
        if (negative)
            text[len++] = '-';
        else if (hs_rng_below(&rng, 4) == 0)
            text[len++] = '+';
        if (k >= n_digits) {
            text[len++] = '0';
            text[len++] = '.';
            for (unsigned i = n_digits; i < k; i++)
                text[len++] = '0';
            memcpy(text + len, digits, n_digits);
            len += n_digits;
        } else {
            memcpy(text + len, digits, n_digits - k);
            len += n_digits - k;
            if (k > 0) {
                text[len++] = '.';
                memcpy(text + len, digits + n_digits - k, k);
                len += k;
            }
        }
        if (negative)
            n = -n;
        const enum hs_round mode = all_modes[hs_rng_below(&rng, HS_ROUND_COUNT)];
        /* value * 10^scale = n * 10^scale / 10^k */
        i128 num = n;
        for (unsigned i = 0; i < scale; i++)
            num *= 10;
        i128 den = 1;
        for (unsigned i = 0; i < k; i++)
            den *= 10;
        const i128 want = ref_div(num, den, mode);
        int64_t v = 0;
        struct hs_error err = {0};
        const int rc =
            hs_decimal_parse_scaled(text, len, scale, mode, false, "decimal", NULL, &v, &err);
        if (fits64(want)) {
            if (rc != HS_OK || (i128)v != want)
                fail_msg("'%.*s' scale %u %s: rc %d (%s) value %lld", (int)len, text, scale,
                         hs_decimal_round_name(mode), rc, err.msg, (long long)v);
        } else {
            assert_int_equal(rc, HS_ERANGE);
        }
        /* the exact parser agrees whenever nothing is dropped, and refuses otherwise */
        const bool dropped = (num % den) != 0;
        int64_t e = 0;
        const int rce =
            hs_decimal_parse_scaled(text, len, scale, mode, true, "decimal", NULL, &e, NULL);
        if (dropped)
            assert_int_equal(rce, HS_EINVAL);
        else if (fits64(want))
            assert_true(rce == HS_OK && e == v);
    }
}

static void test_core_decimal_property_format_parse_roundtrip(void **state)
{
    (void)state;
    struct hs_rng rng;
    hs_rng_seed(&rng, 6);
    for (int iter = 0; iter < 20000; iter++) {
        const struct hs_decimal d = {.v = iter < 2 ? (iter ? INT64_MAX : INT64_MIN)
                                                   : rand_i64(&rng)};
        char buf[HS_DECIMAL_FMT_MAX];
        const int n = hs_decimal_format(d, buf, sizeof buf);
        assert_true(n > 0);
        if (strchr(buf, '.') != NULL)
            assert_true(buf[n - 1] != '0'); /* trimmed */
        struct hs_decimal back = {0};
        assert_int_equal(hs_decimal_parse_exact(buf, (size_t)n, &back, NULL), HS_OK);
        assert_true(back.v == d.v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_decimal_parse_format_examples),
        cmocka_unit_test(test_core_decimal_parse_errors),
        cmocka_unit_test(test_core_decimal_format_capacity_and_scales),
        cmocka_unit_test(test_core_decimal_int_conversions),
        cmocka_unit_test(test_core_decimal_add_sub_overflow),
        cmocka_unit_test(test_core_decimal_mul_div_examples),
        cmocka_unit_test(test_core_decimal_to_minor_examples),
        cmocka_unit_test(test_core_decimal_muldiv_limits),
        cmocka_unit_test(test_core_decimal_property_arithmetic_matches_reference),
        cmocka_unit_test(test_core_decimal_property_parse_matches_reference),
        cmocka_unit_test(test_core_decimal_property_format_parse_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
