/*
 * tests/unit/test_core_validate.c - email syntax, country table, tax-id check digits and
 *                                   provider limits.
 *
 * Design:     for every tax-id algorithm, published valid numbers (tax offices' and VIES
 *             examples) must pass, and the same numbers with one digit changed must fail with
 *             the check-digit message; wrong lengths must fail with the format message that
 *             names the country. Emails: a table of valid and invalid addresses with the reason
 *             each gives. Customers: every problem is collected with its field path, limits
 *             come from the QuickBooks table, uniqueness goes through the callback, and the
 *             OOM loop proves no leak on any failed allocation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>

#include "core/country.h"
#include "core/validate.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"

static void test_core_validate_country_table(void **state)
{
    (void)state;
    size_t n = hs_country_count();
    assert_int_equal(n, 250); /* 249 ISO codes + XK */
    for (size_t i = 0; i < n; i++) {
        const struct hs_country *c = hs_country_at(i);
        assert_non_null(c);
        assert_true(c->code[0] >= 'A' && c->code[0] <= 'Z' && c->code[1] >= 'A' &&
                    c->code[1] <= 'Z' && c->code[2] == '\0');
        if (i > 0)
            assert_true(strcmp(hs_country_at(i - 1)->code, c->code) < 0);
        assert_ptr_equal(hs_country_find(c->code), c);
    }
    assert_null(hs_country_at(n));
    size_t eu = 0;
    for (size_t i = 0; i < n; i++)
        eu += hs_country_at(i)->eu;
    assert_int_equal(eu, 27);
    assert_string_equal(hs_country_name("DE"), "Germany");
    assert_string_equal(hs_country_name("GB"), "United Kingdom");
    assert_string_equal(hs_country_name("QQ"), "QQ");
    assert_string_equal(hs_country_name(NULL), "");
    assert_null(hs_country_find("de"));
    assert_null(hs_country_find("UK"));
    assert_null(hs_country_find("DEU"));
    assert_null(hs_country_find(NULL));
}

static void test_core_validate_email(void **state)
{
    (void)state;
    static const char *const good[] = {
        "billing@acme.com",   "first.last+tag@sub.acme.co.uk",
        "o'brien@acme.ie",    "\"john doe\"@acme.com",
        "x@xn--mller-kva.de", "jörg@müller.de",
        "a_b-c@a-b.io",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct hs_error err;
        if (hs_validate_email(good[i], &err) != HS_OK)
            fail_msg("'%s' refused: %s", good[i], err.msg);
    }
    static const char *const bad[][2] = {
        {"bob@@acme", "more than one '@'"},
        {"bob.acme.com", "no '@'"},
        {"@acme.com", "nothing before the '@'"},
        {"bob@", "nothing after the '@'"},
        {"bob@acme", "has no dot"},
        {".bob@acme.com", "starts with a dot"},
        {"bob.@acme.com", "ends with a dot"},
        {"bo..b@acme.com", "two dots in a row"},
        {"bob smith@acme.com", "a space"},
        {"bob,smith@acme.com", "the character ','"},
        {"bob@acme..com", "two dots in a row"},
        {"bob@-acme.com", "hyphen"},
        {"bob@acme.c", "top-level domain"},
        {"bob@acme.123", "top-level domain"},
        {"bob@[10.0.0.1]", "brackets"},
        {"bob@acme_corp.com", "the character '_'"},
        {" bob@acme.com", "starts or ends with a space"},
        {"", "empty"},
        {"\xFF@acme.com", "UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hs_error err;
        if (hs_validate_email(bad[i][0], &err) != HS_EINVAL)
            fail_msg("'%s' accepted", bad[i][0]);
        if (strstr(err.msg, bad[i][1]) == NULL)
            fail_msg("'%s': message '%s' lacks '%s'", bad[i][0], err.msg, bad[i][1]);
    }
    char longlocal[80];
    memset(longlocal, 'a', 65);
    memcpy(longlocal + 65, "@acme.com", 10);
    struct hs_error err;
    assert_int_equal(hs_validate_email(longlocal, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "at most 64"));
    assert_int_equal(hs_validate_email(NULL, &err), HS_EINVAL);
}

struct tax_case {
    const char *id;
    const char *country; /* used when id has no prefix */
};

/* Valid numbers published by the tax offices or used as VIES examples. */
static const struct tax_case valid_ids[] = {
    {"ATU13585627", NULL},
    {"BE0428759497", NULL},
    {"BE 428 759 497", "BE"},
    {"DE136695976", NULL},
    {"DK13585628", NULL},
    {"EE100931558", NULL},
    {"EL094014201", NULL},
    {"ESA28015865", NULL},
    {"ESX5277343Q", NULL},
    {"ES54362315K", NULL},
    {"FI01120389", NULL},
    {"FR40303265045", NULL},
    {"FRK7399859412", NULL},
    {"HR33392005961", NULL},
    {"HU12892312", NULL},
    {"IE6388047V", NULL},
    {"IE3628739UA", NULL},
    {"IE8Z49289F", NULL},
    {"IT00743110157", NULL},
    {"LU26375245", NULL},
    {"NL004495445B01", NULL},
    {"NL000099998B57", NULL},
    {"PL5260250995", NULL},
    {"PT501964843", NULL},
    {"SE556703748501", NULL},
    {"SI50223054", NULL},
    {"SK2022749619", NULL},
    {"GB980780684", NULL},
    {"GB 100 0000 34", NULL}, /* the 9755 variant */
    {"GB980780684001", NULL},
    {"GBGD001", NULL},
    {"GBHA599", NULL},
    {"XI980780684", NULL},
    {"51 824 753 556", "AU"},
    {"53004085616", "AU"},
    {"12-3456789", "US"},
    {"123456782", "CA"},
    {"123456782RT0001", "CA"},
    {"CHE-116.281.710 MWST", NULL},
    {"11.222.333/0001-81", "BR"},
    {"529.982.247-25", "BR"},
    {"7000012050002", "JP"},
    {"CY10259033P", NULL},
    {"CZ25123891", NULL},
    {"BG175074752", NULL},    /* legal entity */
    {"BG 131 272 009", NULL}, /* legal entity, second weights */
    {"BG8032056031", NULL},   /* citizen (EGN, born 1880) */
    {"BG7111042925", NULL},   /* foreigner */
    {"BG7153849522", NULL},   /* other */
    {"CY-00632993 F", NULL},
    {"25123891", "CZ"},
    {"CZ 640903926", NULL},   /* individual without a birth number */
    {"CZ 710319/2745", NULL}, /* birth number */
    {"CZ6956220612", NULL},   /* a woman's birth number (month + 50) */
    {"CZ991231123", NULL},    /* 9 digits, born 1899: no check digit */
    {"LT119511515", NULL},
    {"LT 100001919017", NULL},  /* 12 digits */
    {"LT100004801610", NULL},   /* second weights */
    {"LV 4000 3521 600", NULL}, /* legal entity */
    {"LV161175-19997", NULL},   /* personal code */
    {"LV32000000000", NULL},    /* personal code since 2017: no date */
    {"MT 1167-9112", NULL},
    {"MT17025737", NULL}, /* remainder 0: check 37 */
    {"RO18547290", NULL},
    {"RO 241 30 20", NULL}, /* 7 digits */
    {"ABN 51 824 753 556", "AU"},
    {"  abn: 53004085616", "AU"},
    {"EIN 12-3456789", "US"},
    {"Ein. 12-3456789", "US"},
    {"anything at all", "KW"},
    {"12345", NULL},
};

static void test_core_validate_tax_ids_valid(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof valid_ids / sizeof valid_ids[0]; i++) {
        struct hs_error err;
        int rc = hs_validate_tax_id(valid_ids[i].id, valid_ids[i].country, &err);
        if (rc != HS_OK)
            fail_msg("'%s' (%s) refused: %s", valid_ids[i].id,
                     valid_ids[i].country ? valid_ids[i].country : "-", err.msg);
    }
}

/* Changes one digit (the last one) so that the check must fail. */
static void test_core_validate_tax_ids_one_digit_off(void **state)
{
    (void)state;
    static const struct tax_case off[] = {
        {"ATU13585626", NULL},   {"BE0428759498", NULL},   {"DE136695977", NULL},
        {"DK13585629", NULL},    {"EE100931559", NULL},    {"EL094014202", NULL},
        {"ESA28015866", NULL},   {"ESX5277343R", NULL},    {"ES54362315L", NULL},
        {"FI01120388", NULL},    {"FR41303265045", NULL},  {"HR33392005962", NULL},
        {"HU12892313", NULL},    {"IE6388047W", NULL},     {"IT00743110158", NULL},
        {"LU26375246", NULL},    {"NL004495446B01", NULL}, {"PL5260250996", NULL},
        {"PT501964844", NULL},   {"SE556703748601", NULL}, {"SI50223055", NULL},
        {"SK2022749618", NULL},  {"GB980780685", NULL},    {"51 824 753 557", "AU"},
        {"123456783", "CA"},     {"CHE116281711", NULL},   {"11222333000182", "BR"},
        {"7000012050003", "JP"}, {"BG175074753", NULL},    {"BG131272008", NULL},
        {"BG8032056032", NULL},  {"BG7111042924", NULL},   {"BG7153849523", NULL},
        {"CY10259033Q", NULL},   {"CY00632993G", NULL},    {"CZ25123892", NULL},
        {"CZ640903927", NULL},   {"CZ7103192746", NULL},   {"CZ6956220613", NULL},
        {"LT119511516", NULL},   {"LT100001919018", NULL}, {"LT100004801611", NULL},
        {"LV40003521601", NULL}, {"MT11679113", NULL},     {"MT17025738", NULL},
        {"RO18547291", NULL},    {"RO573769", NULL},       {"ABN 51 824 753 557", "AU"},
    };
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
        struct hs_error err;
        int rc = hs_validate_tax_id(off[i].id, off[i].country, &err);
        if (rc != HS_EINVAL)
            fail_msg("'%s' accepted", off[i].id);
        if (strstr(err.msg, "check digits do not match") == NULL)
            fail_msg("'%s': message '%s' is not about check digits", off[i].id, err.msg);
    }
}

static void test_core_validate_tax_id_messages(void **state)
{
    (void)state;
    struct hs_error err;
    assert_int_equal(hs_validate_tax_id("DE123", NULL, &err), HS_EINVAL);
    assert_string_equal(err.msg, "VAT number 'DE123' for Germany should have 9 digits after DE");
    assert_int_equal(hs_validate_tax_id("123", "DE", &err), HS_EINVAL);
    assert_string_equal(err.msg, "VAT number '123' for Germany should have 9 digits after DE");
    assert_int_equal(hs_validate_tax_id("AT13585627", NULL, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "for Austria should have U followed by 8 digits after AT"));
    assert_int_equal(hs_validate_tax_id("ABN 1234", "AU", &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "ABN 'ABN 1234' for Australia should have 11 digits"));
    assert_int_equal(hs_validate_tax_id("DE136695977", "FR", &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "VAT number 'DE136695977' for Germany is not valid"));
    /* an EIN prefix the IRS has not assigned is a warning, not an error */
    hs_error_clear(&err);
    assert_int_equal(hs_validate_tax_id("07-1234567", "US", &err), 1);
    assert_int_equal(err.code, HS_OK);
    assert_non_null(strstr(err.msg, "EIN '07-1234567' for United States starts with 07"));
    assert_int_equal(hs_validate_tax_id("12-345678", "US", &err), HS_EINVAL);
    /* a part of the number that cannot be, at the right length, is named */
    assert_int_equal(hs_validate_tax_id("CZ95123891", NULL, &err), HS_EINVAL);
    assert_string_equal(err.msg, "VAT number 'CZ95123891' for Czechia is not valid: an 8-digit "
                                 "number after CZ cannot start with 9");
    assert_int_equal(hs_validate_tax_id("CZ590312123", NULL, &err), HS_EINVAL);
    assert_string_equal(err.msg, "VAT number 'CZ590312123' for Czechia is not valid: 9-digit "
                                 "numbers after CZ belong to people born before 1954");
    assert_int_equal(hs_validate_tax_id("CZ7113192745", NULL, &err), HS_EINVAL);
    assert_string_equal(err.msg, "VAT number 'CZ7113192745' for Czechia is not valid: a 10-digit "
                                 "number after CZ should start with a birth date (YYMMDD)");
    assert_int_equal(hs_validate_tax_id("CY12259033P", NULL, &err), HS_EINVAL);
    assert_string_equal(err.msg, "VAT number 'CY12259033P' for Cyprus is not valid: no number "
                                 "after CY starts with 12");
    assert_int_equal(hs_validate_tax_id("CY102590331", NULL, &err), HS_EINVAL);
    assert_string_equal(err.msg,
                        "VAT number 'CY102590331' for Cyprus should have 8 digits and a letter "
                        "after CY");
    assert_int_equal(hs_validate_tax_id("LT100001509922", NULL, &err), HS_EINVAL);
    assert_string_equal(err.msg, "VAT number 'LT100001509922' for Lithuania is not valid: the "
                                 "last but one digit of a number after LT should be 1");
    assert_int_equal(hs_validate_tax_id("LV16137519997", NULL, &err), HS_EINVAL);
    assert_string_equal(err.msg, "VAT number 'LV16137519997' for Latvia is not valid: a personal "
                                 "code after LV should be a birth date (DDMMYY), a century digit "
                                 "(0, 1 or 2) and 4 more digits");
    /* 29 February: 1900 was no leap year, 2000 was */
    assert_int_equal(hs_validate_tax_id("LV29020019997", NULL, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "should be a birth date (DDMMYY)"));
    assert_int_equal(hs_validate_tax_id("LV29020029997", NULL, &err), HS_OK);
    assert_int_equal(hs_validate_tax_id("MT01679112", NULL, &err), HS_EINVAL);
    assert_string_equal(err.msg,
                        "VAT number 'MT01679112' for Malta is not valid: no number after MT starts "
                        "with 0");
    assert_int_equal(hs_validate_tax_id("RO018547290", NULL, &err), HS_EINVAL);
    assert_string_equal(err.msg,
                        "VAT number 'RO018547290' for Romania is not valid: no number after RO "
                        "starts with 0");
    assert_int_equal(hs_validate_tax_id("BG17507475", NULL, &err), HS_EINVAL);
    assert_string_equal(err.msg,
                        "VAT number 'BG17507475' for Bulgaria should have 9 or 10 digits after BG");
    /* a label before an ABN or EIN is dropped; anything else around the number is not */
    assert_int_equal(hs_validate_tax_id("ABN 51 824 753 557", "AU", &err), HS_EINVAL);
    assert_string_equal(err.msg, "ABN 'ABN 51 824 753 557' for Australia is not valid: its check "
                                 "digits do not match, which usually means a typing error");
    assert_int_equal(hs_validate_tax_id("EIN 12-345678", "US", &err), HS_EINVAL);
    assert_string_equal(err.msg,
                        "EIN 'EIN 12-345678' for United States should have 9 digits (12-3456789)");
    hs_error_clear(&err);
    assert_int_equal(hs_validate_tax_id("EIN 07-1234567", "US", &err), 1);
    assert_non_null(strstr(err.msg, "EIN 'EIN 07-1234567' for United States starts with 07"));
    static const struct tax_case garbage[] = {
        {"ABN51824753556", "AU"},       {"ABNX 51 824 753 556", "AU"},
        {"XABN 51 824 753 556", "AU"},  {"ABN ABN 51824753556", "AU"},
        {"ABN 51 824 753 556 X", "AU"}, {"ABN:", "AU"},
        {"EIN EIN 12-3456789", "US"},   {"EINS 12-3456789", "US"},
        {"ABN 12-3456789", "US"},       {"EIN 51 824 753 556", "AU"},
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        if (hs_validate_tax_id(garbage[i].id, garbage[i].country, &err) != HS_EINVAL)
            fail_msg("'%s' (%s) accepted", garbage[i].id, garbage[i].country);
        if (strstr(err.msg, "should have") == NULL)
            fail_msg("'%s': message '%s' is not about the format", garbage[i].id, err.msg);
    }
    assert_int_equal(hs_validate_tax_id("DE", NULL, &err), HS_OK); /* not a prefix + number */
    assert_int_equal(hs_validate_tax_id(NULL, NULL, &err), HS_EINVAL);
    char longid[64];
    memset(longid, '1', 50);
    longid[50] = '\0';
    assert_int_equal(hs_validate_tax_id(longid, "DE", &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "too long"));
}

static struct hs_record *customer(void)
{
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_CUSTOMER, &r), HS_OK);
    assert_int_equal(hs_record_set_str(&r->id, "42"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.display_name, "Müller GmbH"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.email, "buchhaltung@mueller.de"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.tax_id, "DE136695976"), HS_OK);
    memcpy(r->customer.billing_address.country, "DE", 3);
    return r;
}

static bool taken_names(void *ud, const struct hs_record *rec, const char *field, const char *value)
{
    int *calls = ud;
    (*calls)++;
    assert_string_equal(field, "display_name");
    assert_string_equal(rec->id, "42");
    return strcmp(value, "Taken Name") == 0;
}

static void test_core_validate_customer_collects_every_problem(void **state)
{
    (void)state;
    size_t n_limits = 0;
    const struct hs_validate_limit *limits = hs_validate_quickbooks_customer_limits(&n_limits);
    assert_true(n_limits > 5);
    int calls = 0;
    struct hs_validate_rules rules = {"QuickBooks", limits, n_limits, taken_names, &calls};
    struct hs_validate_issues issues;
    hs_validate_issues_init(&issues);
    struct hs_record *r = customer();
    assert_int_equal(hs_validate_customer(r, &rules, &issues), 0);
    assert_int_equal(issues.n_items, 0);
    assert_int_equal(calls, 1);

    assert_int_equal(hs_record_set_str(&r->customer.email, "bob@@acme"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.tax_id, "DE123"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.display_name, "Acme: EMEA"), HS_OK);
    memcpy(r->customer.shipping_address.country, "QQ", 3);
    char long_notes[2100];
    memset(long_notes, 'x', 2050);
    long_notes[2050] = '\0';
    assert_int_equal(hs_record_set_str(&r->customer.notes, long_notes), HS_OK);
    int rc = hs_validate_customer(r, &rules, &issues);
    assert_int_equal(rc, 5);
    assert_int_equal(issues.n_errors, 5);
    assert_string_equal(issues.items[0].field, "email");
    assert_string_equal(issues.items[0].message,
                        "Email 'bob@@acme' is not a valid email address: it contains more than "
                        "one '@'");
    assert_string_equal(issues.items[1].field, "shipping_address.country");
    assert_string_equal(issues.items[1].message,
                        "Shipping country 'QQ' is not an ISO 3166 country code");
    assert_string_equal(issues.items[2].field, "tax_id");
    assert_string_equal(issues.items[2].message,
                        "VAT number 'DE123' for Germany should have 9 digits after DE");
    assert_string_equal(issues.items[3].field, "display_name");
    assert_string_equal(issues.items[3].message,
                        "Display name 'Acme: EMEA' contains a colon (:), which QuickBooks does "
                        "not accept in this field");
    assert_string_equal(issues.items[4].field, "notes");
    assert_non_null(strstr(issues.items[4].message,
                           "is 2050 characters long; QuickBooks accepts at most 2000"));
    hs_validate_issues_release(&issues);

    /* required, unique, length in characters (not bytes), warnings do not count */
    assert_int_equal(hs_record_set_str(&r->customer.email, NULL), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.notes, NULL), HS_OK);
    memset(r->customer.shipping_address.country, 0, 3);
    assert_int_equal(hs_record_set_str(&r->customer.tax_id, "07-1234567"), HS_OK);
    memcpy(r->customer.billing_address.country, "US", 3);
    assert_int_equal(hs_record_set_str(&r->customer.display_name, "Taken Name"), HS_OK);
    rc = hs_validate_customer(r, &rules, &issues);
    assert_int_equal(rc, 1);
    assert_int_equal(issues.n_items, 2);
    assert_int_equal(issues.items[0].severity, HS_VALIDATE_WARNING);
    assert_string_equal(issues.items[1].message,
                        "Display name 'Taken Name' is already used by another customer in "
                        "QuickBooks, which requires it to be unique");
    hs_validate_issues_release(&issues);
    assert_int_equal(hs_record_set_str(&r->customer.display_name, "   "), HS_OK);
    rc = hs_validate_customer(r, &rules, &issues);
    assert_int_equal(rc, 1);
    assert_string_equal(issues.items[1].message, "Display name is required by QuickBooks");
    hs_validate_issues_release(&issues);
    char umlauts[1200];
    for (size_t i = 0; i < 500; i++)
        memcpy(umlauts + 2 * i, "\xC3\xBC", 2); /* ü */
    umlauts[1000] = '\0';
    assert_int_equal(hs_record_set_str(&r->customer.display_name, umlauts), HS_OK);
    rc = hs_validate_customer(r, &rules, &issues);
    assert_int_equal(rc, 0); /* 500 characters, 1000 bytes */
    hs_validate_issues_release(&issues);
    /* without rules only the built-in checks run; other kinds are refused */
    assert_int_equal(hs_validate_customer(r, NULL, &issues), 0);
    struct hs_record *item = NULL;
    assert_int_equal(hs_record_new(HS_KIND_ITEM, &item), HS_OK);
    assert_int_equal(hs_validate_customer(item, NULL, &issues), HS_EINVAL);
    hs_record_free(item);
    hs_validate_issues_release(&issues);
    hs_record_free(r);
}

static void test_core_validate_survives_every_failed_allocation(void **state)
{
    (void)state;
    size_t n_limits = 0;
    const struct hs_validate_limit *limits = hs_validate_quickbooks_customer_limits(&n_limits);
    struct hs_validate_rules rules = {"QuickBooks", limits, n_limits, NULL, NULL};
    struct hs_record *r = customer();
    assert_int_equal(hs_record_set_str(&r->customer.email, "bob@@acme"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.tax_id, "DE123"), HS_OK);
    assert_int_equal(hs_record_set_str(&r->customer.display_name, "a:b"), HS_OK);
    for (int n = 0;; n++) {
        struct hs_validate_issues issues;
        hs_validate_issues_init(&issues);
        failalloc_arm(n);
        int rc = hs_validate_customer(r, &rules, &issues);
        failalloc_disarm();
        if (rc >= 0) {
            assert_int_equal(rc, 3);
            hs_validate_issues_release(&issues);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_int_equal(issues.n_errors, issues.n_items);
        hs_validate_issues_release(&issues);
    }
    hs_record_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_validate_country_table),
        cmocka_unit_test(test_core_validate_email),
        cmocka_unit_test(test_core_validate_tax_ids_valid),
        cmocka_unit_test(test_core_validate_tax_ids_one_digit_off),
        cmocka_unit_test(test_core_validate_tax_id_messages),
        cmocka_unit_test(test_core_validate_customer_collects_every_problem),
        cmocka_unit_test(test_core_validate_survives_every_failed_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
