/*
 * tests/unit/test_core_normalize.c - folding, name keys and the other matching keys.
 *
 * Design:     tables of (input, expected key) for the folding rules (accents, ß, ł, ø, æ,
 *             fullwidth, Greek, Cyrillic, combining marks, apostrophes, dots between single
 *             letters, '&'), the legal forms of many countries (including CJK forms glued to
 *             the name), the seed's name variants, emails, domains, phones, tax ids; then
 *             robustness: random bytes (invalid UTF-8, no NUL) never crash and keep the
 *             folded-text invariants, and every failed allocation is reported as HS_ENOMEM
 *             without a leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>

#include "core/normalize.h"
#include "hoopsync/error.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/env.h"

static char *fold(const char *s)
{
    char *out = NULL;
    assert_int_equal(hs_normalize_fold(s, strlen(s), &out), HS_OK);
    assert_non_null(out);
    return out;
}

static void check_fold(const char *in, const char *want)
{
    char *got = fold(in);
    if (strcmp(got, want) != 0)
        fail_msg("fold('%s') = '%s', want '%s'", in, got, want);
    hs_free(got);
}

static void test_core_normalize_fold_table(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"Café Crème", "cafe creme"},
        {"Straße", "strasse"},
        {"Łódź", "lodz"},
        {"Ørsted", "orsted"},
        {"Æble Œuvre", "aeble oeuvre"},
        {"Þór", "thor"},
        {"Đorđević", "dordevic"},
        {"İstanbul ıspanak", "istanbul ispanak"},
        {"Ñandú", "nandu"},
        {"Şişli Çay", "sisli cay"},
        {"Nguyễn Thị Phương", "nguyen thi phuong"},
        {"ŠKODA Žilina", "skoda zilina"},
        {"Ĳssel", "ijssel"},
        {"e\xCC\x81"
         "cole",
         "ecole"},                              /* combining acute accent */
        {"Ｆｕｌｌ　Ｗｉｄｔｈ", "full width"}, /* fullwidth letters and ideographic space */
        {"ΑΘΗΝΑ Ελλάς", "αθηνα ελλασ"},
        {"ООО Ёлка", "ооо елка"},
        {"O'Brien’s", "obriens"},
        {"S.A.", "sa"},
        {"Sp. z o.o.", "sp z oo"},
        {"Pty.Ltd.", "pty ltd"},
        {"J. Smith", "j smith"},
        {"Smith & Sons", "smith and sons"},
        {"Al-Sabah", "al sabah"},
        {"  lots\t of   space ", "lots of space"},
        {"A/S", "a s"},
        {"株式会社山田製作所", "株式会社山田製作所"},
        {"㈱山田", "株 山田"},
        {"", ""},
        {"...", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_fold(cases[i][0], cases[i][1]);
}

static void test_core_normalize_fold_reads_only_len_bytes(void **state)
{
    (void)state;
    const char buf[] = {'A', 'c', 'm', 'e', 'X', 'Y'}; /* no NUL */
    char *out = NULL;
    assert_int_equal(hs_normalize_fold(buf, 4, &out), HS_OK);
    assert_string_equal(out, "acme");
    hs_free(out);
    /* a multi-byte character cut by len counts as a separator */
    const char *s = "ab\xC3\xA9";
    assert_int_equal(hs_normalize_fold(s, 3, &out), HS_OK);
    assert_string_equal(out, "ab");
    hs_free(out);
}

struct name_case {
    const char *name;
    const char *key;
    const char *legal;
};

static void test_core_normalize_name_legal_forms(void **state)
{
    (void)state;
    static const struct name_case cases[] = {
        {"Acme, Inc.", "acme", "inc"},
        {"ACME Inc", "acme", "inc"},
        {"Acme Incorporated", "acme", "inc"},
        {"Acme L.L.C.", "acme", "llc"},
        {"Acme LLC", "acme", "llc"},
        {"Acme Limited", "acme", "ltd"},
        {"Tesco PLC", "tesco", "plc"},
        {"Müller GmbH", "muller", "gmbh"},
        {"Müller", "muller", NULL},
        {"Müller Logistik GmbH & Co. KG", "logistik muller", "gmbh co kg"},
        {"Siemens AG", "siemens", "ag"},
        {"Société Générale des Eaux SAS", "des eaux generale societe", "sas"},
        {"Renault S.A.", "renault", "sa"},
        {"Łódź Logistics Sp. z o.o.", "lodz logistics", "sp z oo"},
        {"Logistics Łódź Sp. z o.o.", "lodz logistics", "sp z oo"},
        {"Fiat S.p.A.", "fiat", "spa"},
        {"Barilla S.r.l.", "barilla", "srl"},
        {"Philips N.V.", "philips", "nv"},
        {"Kangaroo Freight Pty Ltd", "freight kangaroo", "pty ltd"},
        {"Kangaroo Freight Pty. Ltd.", "freight kangaroo", "pty ltd"},
        {"Nokia Oyj", "nokia", "oyj"},
        {"Volvo AB", "volvo", "ab"},
        {"AB Volvo", "volvo", "ab"},
        {"Ørsted A/S", "orsted", "as"},
        {"Lego ApS", "lego", "aps"},
        {"Al-Sabah Trading W.L.L.", "al sabah trading", "wll"},
        {"AL-SABAH Trading W.L.L", "al sabah trading", "wll"},
        {"Gulf Bank K.S.C.C.", "bank gulf", "kscc"},
        {"Açaí Alimentos Ltda.", "acai alimentos", "ltda"},
        {"Érable Supplies Ltée", "erable supplies", "ltee"},
        {"Acme Co., Ltd.", "acme", "co ltd"},
        {"Smith & Co.", "smith", "co"},
        {"The Boring Company", "boring", "co"},
        {"Grupo Bimbo S.A.B. de C.V.", "bimbo grupo", "sab de cv"},
        {"PT Maju Jaya Tbk", "jaya maju", "tbk"},
        {"株式会社山田製作所", "山田製作所", "株式会社"},
        {"山田製作所株式会社", "山田製作所", "株式会社"},
        {"山田製作所", "山田製作所", NULL},
        {"㈱山田", "山田", "株式会社"},
        {"(株)山田", "山田", "株式会社"},
        {"华为技术有限公司", "华为技术", "有限公司"},
        {"삼성전자 주식회사", "삼성전자", "주식회사"},
        {"ООО Ромашка", "ромашка", "ooo"},
        {"AG", "ag", NULL}, /* never loses its last word */
        {"Limited", "limited", NULL},
        {"Acme Holdings Inc", "acme holdings", "inc"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hs_name_key k;
        assert_int_equal(hs_normalize_name(cases[i].name, strlen(cases[i].name), &k), HS_OK);
        if (strcmp(k.key, cases[i].key) != 0)
            fail_msg("key('%s') = '%s', want '%s'", cases[i].name, k.key, cases[i].key);
        if (cases[i].legal == NULL
                ? k.legal_form != NULL
                : k.legal_form == NULL || strcmp(k.legal_form, cases[i].legal) != 0)
            fail_msg("legal form of '%s' = '%s', want '%s'", cases[i].name,
                     k.legal_form != NULL ? k.legal_form : "(none)",
                     cases[i].legal != NULL ? cases[i].legal : "(none)");
        hs_normalize_name_release(&k);
    }
}

static void test_core_normalize_name_squashed_keeps_order(void **state)
{
    (void)state;
    struct hs_name_key a;
    struct hs_name_key b;
    assert_int_equal(hs_normalize_name("Al Sabah Trading", 16, &a), HS_OK);
    assert_int_equal(hs_normalize_name("AlSabah Trading", 15, &b), HS_OK);
    assert_string_equal(a.squashed, "alsabahtrading");
    assert_string_equal(a.squashed, b.squashed);
    assert_string_not_equal(a.key, b.key);
    assert_int_equal(a.n_words, 3);
    assert_int_equal(b.n_words, 2);
    hs_normalize_name_release(&a);
    hs_normalize_name_release(&b);
    hs_normalize_name_release(NULL);
}

static void test_core_normalize_email_and_domain(void **state)
{
    (void)state;
    static const char *const emails[][2] = {
        {"  Billing@Acme.COM ", "billing@acme.com"},
        {"mailto:ap@acme.com", "ap@acme.com"},
        {"<Bob+Invoices@Acme.com>", "bob+invoices@acme.com"}, /* tags are kept */
        {"first.last@acme.com", "first.last@acme.com"},       /* dots are kept */
    };
    for (size_t i = 0; i < sizeof emails / sizeof emails[0]; i++) {
        char *out = NULL;
        assert_int_equal(hs_normalize_email(emails[i][0], strlen(emails[i][0]), &out), HS_OK);
        assert_non_null(out);
        assert_string_equal(out, emails[i][1]);
        hs_free(out);
    }
    static const char *const not_emails[] = {"", "acme.com", "@acme.com", "bob@", "   "};
    for (size_t i = 0; i < sizeof not_emails / sizeof not_emails[0]; i++) {
        char *out = (char *)1;
        assert_int_equal(hs_normalize_email(not_emails[i], strlen(not_emails[i]), &out), HS_OK);
        assert_null(out);
    }
    static const char *const domains[][2] = {
        {"billing@Acme.com", "acme.com"},
        {"https://www.Acme.com/about?x=1", "acme.com"},
        {"http://acme.co.uk:8080", "acme.co.uk"},
        {"www.acme.de.", "acme.de"},
        {"acme.io", "acme.io"},
    };
    for (size_t i = 0; i < sizeof domains / sizeof domains[0]; i++) {
        char *out = NULL;
        assert_int_equal(hs_normalize_domain(domains[i][0], strlen(domains[i][0]), &out), HS_OK);
        assert_non_null(out);
        assert_string_equal(out, domains[i][1]);
        hs_free(out);
    }
    char *out = (char *)1;
    assert_int_equal(hs_normalize_domain("localhost", 9, &out), HS_OK);
    assert_null(out);
    assert_true(hs_normalize_is_free_mail("gmail.com"));
    assert_true(hs_normalize_is_free_mail("web.de"));
    assert_false(hs_normalize_is_free_mail("acme.com"));
    assert_false(hs_normalize_is_free_mail(NULL));
}

static void test_core_normalize_phone(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"+49 (0)89 1234-567", "+49891234567"},
        {"0049 89 1234567", "+49891234567"},
        {"(617) 555-0100 ext. 12", "6175550100"},
        {"+1 617 555 0100 x12", "+16175550100"},
        {"089/1234567", "0891234567"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL;
        assert_int_equal(hs_normalize_phone(cases[i][0], strlen(cases[i][0]), &out), HS_OK);
        assert_non_null(out);
        assert_string_equal(out, cases[i][1]);
        hs_free(out);
    }
    char *out = (char *)1;
    assert_int_equal(hs_normalize_phone("n/a", 3, &out), HS_OK);
    assert_null(out);
}

static void check_split(const char *raw, const char *country, const char *want_country,
                        const char *want_body)
{
    char *key = NULL;
    assert_int_equal(hs_normalize_tax_id(raw, strlen(raw), &key), HS_OK);
    assert_non_null(key);
    char c[3];
    const char *body = NULL;
    size_t n = hs_normalize_tax_id_split(key, country, c, &body);
    assert_string_equal(c, want_country);
    assert_int_equal(n, strlen(want_body));
    assert_memory_equal(body, want_body, n);
    hs_free(key);
}

static void test_core_normalize_tax_id(void **state)
{
    (void)state;
    char *key = NULL;
    assert_int_equal(hs_normalize_tax_id(" de 136.695-976 ", 16, &key), HS_OK);
    assert_string_equal(key, "DE136695976");
    hs_free(key);
    check_split("DE136695976", NULL, "DE", "136695976");
    check_split("136695976", "DE", "DE", "136695976");
    check_split("EL094014201", "GR", "GR", "094014201");
    check_split("XI980780684", NULL, "GB", "980780684");
    check_split("CHE-116.281.710 MWST", NULL, "CH", "116281710");
    check_split("123456782RT0001", "CA", "CA", "123456782");
    check_split("12-3456789", "US", "US", "123456789");
    check_split("12-3456789", NULL, "", "123456789");
    assert_int_equal(hs_normalize_tax_id(" -. ", 4, &key), HS_OK);
    assert_null(key);
}

static void test_core_normalize_address_key(void **state)
{
    (void)state;
    struct hs_address a;
    memset(&a, 0, sizeof a);
    char *out = (char *)1;
    assert_int_equal(hs_normalize_address_key(&a, &out), HS_OK);
    assert_null(out);
    a.city = (char *)"Nîmes";
    a.postcode = (char *)"30 000";
    memcpy(a.country, "FR", 3);
    assert_int_equal(hs_normalize_address_key(&a, &out), HS_OK);
    assert_string_equal(out, "FR|30000|nimes");
    hs_free(out);
    a.postcode = (char *)"sw1a 1aa";
    assert_int_equal(hs_normalize_postcode(a.postcode, strlen(a.postcode), &out), HS_OK);
    assert_string_equal(out, "SW1A1AA");
    hs_free(out);
}

/* Random bytes: no crash, no read past len (ASan), folded invariants hold. */
static void test_core_normalize_random_bytes(void **state)
{
    (void)state;
    struct hs_rng rng;
    hs_rng_seed(&rng, 42);
    static const char alphabet[] = "Aa .&'-\xC3\xA9\xC5\x81\xE6\xA0\xAA\xF0\x9F\x98\x80\xFF\x80";
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = (size_t)hs_rng_below(&rng, 40);
        char *buf = hs_malloc(len > 0 ? len : 1); /* exactly len bytes: ASan sees overreads */
        assert_non_null(buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = iter % 2 ? (char)hs_rng_below(&rng, 256)
                              : alphabet[hs_rng_below(&rng, sizeof alphabet - 1)];
        char *out = NULL;
        assert_int_equal(hs_normalize_fold(buf, len, &out), HS_OK);
        size_t n = strlen(out);
        if (n > 0) {
            assert_true(out[0] != ' ' && out[n - 1] != ' ');
            assert_null(strstr(out, "  "));
        }
        for (size_t i = 0; i < n; i++)
            assert_false(out[i] >= 'A' && out[i] <= 'Z');
        hs_free(out);
        struct hs_name_key k;
        assert_int_equal(hs_normalize_name(buf, len, &k), HS_OK);
        hs_normalize_name_release(&k);
        char *o2 = NULL;
        assert_int_equal(hs_normalize_phone(buf, len, &o2), HS_OK);
        hs_free(o2);
        assert_int_equal(hs_normalize_domain(buf, len, &o2), HS_OK);
        hs_free(o2);
        assert_int_equal(hs_normalize_email(buf, len, &o2), HS_OK);
        hs_free(o2);
        hs_free(buf);
    }
}

static void test_core_normalize_survives_every_failed_allocation(void **state)
{
    (void)state;
    const char *name = "Müller Logistik GmbH & Co. KG";
    for (int n = 0;; n++) {
        struct hs_name_key k;
        failalloc_arm(n);
        int rc = hs_normalize_name(name, strlen(name), &k);
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_string_equal(k.key, "logistik muller");
            hs_normalize_name_release(&k);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_null(k.key);
        assert_null(k.folded);
    }
    for (int n = 0;; n++) {
        char *out = NULL;
        struct hs_address a;
        memset(&a, 0, sizeof a);
        a.city = (char *)"Lyon";
        a.postcode = (char *)"69001";
        failalloc_arm(n);
        int rc = hs_normalize_address_key(&a, &out);
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_string_equal(out, "|69001|lyon");
            hs_free(out);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        assert_null(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_normalize_fold_table),
        cmocka_unit_test(test_core_normalize_fold_reads_only_len_bytes),
        cmocka_unit_test(test_core_normalize_name_legal_forms),
        cmocka_unit_test(test_core_normalize_name_squashed_keeps_order),
        cmocka_unit_test(test_core_normalize_email_and_domain),
        cmocka_unit_test(test_core_normalize_phone),
        cmocka_unit_test(test_core_normalize_tax_id),
        cmocka_unit_test(test_core_normalize_address_key),
        cmocka_unit_test(test_core_normalize_random_bytes),
        cmocka_unit_test(test_core_normalize_survives_every_failed_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
