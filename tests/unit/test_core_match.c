/*
 * tests/unit/test_core_match.c - the match index and its link / review / create decisions.
 *
 * Design:     small hand-built indexes for each documented rule: the sandbox seed's name
 *             variants link (case and punctuation, swapped words, missing legal suffix, CJK
 *             legal form, other email domain); similar but different companies do not; tax id
 *             beats email beats name; ambiguity and taken candidates give review items;
 *             contradicting tax ids or countries never auto-link; stored references win. Then
 *             an OOM loop over index building and matching, and a 10,000 x 10,000 randomized
 *             run that checks the decisions and prints (does not assert) the time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/match.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"
#include "util/env.h"

struct cust {
    const char *id;
    const char *name;
    const char *email;
    const char *city;
    const char *postcode;
    const char *country;
    const char *tax_id;
};

static struct hs_record *make(const struct cust *c)
{
    struct hs_record *r = NULL;
    if (hs_record_new(HS_KIND_CUSTOMER, &r) != HS_OK)
        return NULL;
    struct hs_customer *k = &r->customer;
    if (hs_record_set_str(&r->id, c->id) != HS_OK ||
        hs_record_set_str(&k->display_name, c->name) != HS_OK ||
        hs_record_set_str(&k->email, c->email) != HS_OK ||
        hs_record_set_str(&k->billing_address.city, c->city) != HS_OK ||
        hs_record_set_str(&k->billing_address.postcode, c->postcode) != HS_OK ||
        hs_record_set_str(&k->tax_id, c->tax_id) != HS_OK) {
        hs_record_free(r);
        return NULL;
    }
    if (c->country != NULL)
        memcpy(k->billing_address.country, c->country, 3);
    return r;
}

static struct hs_match_index *build(const struct cust *list, size_t n,
                                    const struct hs_match_options *opts)
{
    struct hs_match_index *idx = NULL;
    assert_int_equal(hs_match_index_new(opts, &idx, NULL), HS_OK);
    for (size_t i = 0; i < n; i++) {
        struct hs_record *r = make(&list[i]);
        assert_non_null(r);
        struct hs_error err;
        int rc = hs_match_index_add(idx, r, &err);
        if (rc != HS_OK)
            fail_msg("index '%s': %s", list[i].id, err.msg);
        hs_record_free(r);
    }
    assert_int_equal(hs_match_index_count(idx), n);
    return idx;
}

static struct hs_match_result find(struct hs_match_index *idx, const struct cust *q,
                                   const struct hs_match_thresholds *th)
{
    struct hs_record *r = make(q);
    assert_non_null(r);
    struct hs_match_result res;
    struct hs_error err;
    int rc = hs_match_find(idx, r, th, &res, &err);
    if (rc != HS_OK)
        fail_msg("find '%s': %s", q->name, err.msg);
    hs_record_free(r);
    return res;
}

static void expect(const struct hs_match_result *res, enum hs_match_decision d, const char *id,
                   const char *reason_part)
{
    if (res->decision != d)
        fail_msg("decision %s, want %s (reason: %s)", hs_match_decision_name(res->decision),
                 hs_match_decision_name(d), res->reason);
    if (id != NULL) {
        assert_true(res->n_candidates >= 1);
        if (strcmp(res->candidates[0].id, id) != 0)
            fail_msg("candidate '%s', want '%s' (reason: %s)", res->candidates[0].id, id,
                     res->reason);
    }
    if (reason_part != NULL && strstr(res->reason, reason_part) == NULL)
        fail_msg("reason '%s' lacks '%s'", res->reason, reason_part);
}

/* The accounting side of the seed's classics plus distractors. */
static const struct cust acct[] = {
    {"q1", "ACME Inc", "accounts@acme.com", "Boston", "02110", "US", NULL},
    {"q2", "Müller", "accounts@mueller.de", "München", "80331", "DE", NULL},
    {"q3", "Logistics Łódź Sp. z o.o.", "accounts@lodz-logistics.pl", "Łódź", "90-001", "PL", NULL},
    {"q4", "Tesco Supplies Ltd", "ap.tesco-supplies@billing-mail.com", "London", "EC1A 1BB", "GB",
     NULL},
    {"q5", "山田製作所", "accounts@yamada.co.jp", "東京", "100-0001", "JP", NULL},
    {"q6", "AL-SABAH Trading W.L.L", "accounts@alsabah.com.kw", "Kuwait City", NULL, "KW", NULL},
    {"q7", "Acme Holdings Inc", "ap@acmeholdings.com", "Boston", "02110", "US", NULL},
    {"q8", "Globex Systems Corp.", "ap@globex.com", "Austin", "73301", "US", NULL},
    {"q9", "Initech LLC", "billing@initech.com", "Denver", "80201", "US", NULL},
    {"q10", "Kangaroo Freight Pty Ltd", "accounts@kangaroo.com.au", "Sydney", "2000", "AU", NULL},
};
#define N_ACCT (sizeof acct / sizeof acct[0])

static void test_core_match_seed_variants_link(void **state)
{
    (void)state;
    struct hs_match_index *idx = build(acct, N_ACCT, NULL);
    static const struct {
        struct cust q;
        const char *want;
        const char *reason;
    } cases[] = {
        {{"c1", "Acme, Inc.", "billing@acme.com", "Boston", "02110", "US", NULL},
         "q1",
         "name 'Acme, Inc.' ~ 'ACME Inc'"},
        {{"c2", "Müller GmbH", "info@mueller.de", "München", "80331", "DE", NULL},
         "q2",
         "legal suffix ignored"},
        {{"c3", "Łódź Logistics Sp. z o.o.", "hello@lodz.pl", "Łódź", "90-001", "PL", NULL},
         "q3",
         "word order ignored"},
        {{"c4", "Tesco Supplies Ltd", "accounts@tesco-supplies.co.uk", "London", "EC1A 1BB", "GB",
          NULL},
         "q4",
         "same name 'Tesco Supplies Ltd'"},
        {{"c5", "株式会社山田製作所", "info@yamada.co.jp", "東京", "100-0001", "JP", NULL},
         "q5",
         "legal suffix ignored"},
        {{"c6", "Al-Sabah Trading W.L.L.", "info@alsabah.com.kw", "Kuwait City", NULL, "KW", NULL},
         "q6",
         "same city"},
        {{"c7", "Kangaroo Freight Pty. Ltd.", NULL, NULL, NULL, NULL, NULL}, "q10", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hs_match_result res = find(idx, &cases[i].q, NULL);
        expect(&res, HS_MATCH_LINK, cases[i].want, cases[i].reason);
        assert_int_equal(res.rule, HS_MATCH_RULE_NAME);
        assert_true(res.score >= HS_MATCH_DEFAULT_LINK);
    }
    hs_match_index_free(idx);
}

static void test_core_match_similar_companies_do_not_link(void **state)
{
    (void)state;
    static const struct cust only_holdings[] = {
        {"q7", "Acme Holdings Inc", "ap@acmeholdings.com", "Boston", "02110", "US", NULL},
        {"q8", "Globex Systems 12 Corp", NULL, "Austin", NULL, "US", NULL},
    };
    struct hs_match_index *idx = build(only_holdings, 2, NULL);
    struct cust q = {"c1", "Acme Inc", "billing@acme.com", "Boston", "02110", "US", NULL};
    struct hs_match_result res = find(idx, &q, NULL);
    assert_int_not_equal(res.decision, HS_MATCH_LINK);
    struct cust q2 = {"c2", "Globex Systems 13 Corp", NULL, "Austin", NULL, "US", NULL};
    res = find(idx, &q2, NULL);
    assert_int_not_equal(res.decision, HS_MATCH_LINK);
    assert_non_null(strstr(res.reason, "different numbers"));
    struct cust q3 = {"c3", "Wayne Enterprises", NULL, "Gotham", NULL, "US", NULL};
    res = find(idx, &q3, NULL);
    expect(&res, HS_MATCH_CREATE, NULL, "no similar name among 2 records");
    assert_int_equal(res.n_candidates, 0);
    hs_match_index_free(idx);
}

static void test_core_match_tax_id_beats_email_beats_name(void **state)
{
    (void)state;
    static const struct cust list[] = {
        {"n", "Acme Inc", NULL, "Boston", NULL, "US", NULL},
        {"e", "Initech LLC", "billing@acme.com", "Denver", NULL, "US", NULL},
        {"t", "Globex GmbH", NULL, "Köln", NULL, "DE", "DE 136 695 976"},
    };
    struct hs_match_index *idx = build(list, 3, NULL);
    struct cust q = {"c", "Acme Inc", "Billing@ACME.com", "Boston", NULL, "DE", "136695976"};
    struct hs_match_result res = find(idx, &q, NULL);
    expect(&res, HS_MATCH_LINK, "t", "same tax id '136695976'");
    assert_int_equal(res.rule, HS_MATCH_RULE_TAX_ID);
    assert_int_equal(res.score, HS_MATCH_ONE);
    q.tax_id = NULL;
    res = find(idx, &q, NULL);
    expect(&res, HS_MATCH_LINK, "e", "same email 'billing@acme.com'");
    assert_int_equal(res.rule, HS_MATCH_RULE_EMAIL);
    q.email = NULL;
    q.country = "US";
    res = find(idx, &q, NULL);
    expect(&res, HS_MATCH_LINK, "n", "same name 'Acme Inc'");
    /* a tax id of another country is another registration: no tax-id link */
    struct cust q2 = {"c2", "Someone Else", NULL, NULL, NULL, "AT", "ATU136695976"};
    res = find(idx, &q2, NULL);
    assert_int_not_equal(res.rule, HS_MATCH_RULE_TAX_ID);
    hs_match_index_free(idx);
}

static void test_core_match_ambiguity_goes_to_review(void **state)
{
    (void)state;
    static const struct cust list[] = {
        {"a", "Acme Inc", NULL, "Boston", NULL, "US", NULL},
        {"b", "ACME Incorporated", NULL, "Boston", NULL, "US", NULL},
        {"t1", "Stark Industries", NULL, NULL, NULL, "GB", "GB980780684"},
        {"t2", "Stark Industries (Europe)", NULL, NULL, NULL, "GB", "GB 980 7806 84"},
    };
    struct hs_match_index *idx = build(list, 4, NULL);
    struct cust q = {"c", "Acme, Inc.", NULL, "Boston", NULL, "US", NULL};
    struct hs_match_result res = find(idx, &q, NULL);
    expect(&res, HS_MATCH_REVIEW, NULL, "2 candidates scored 1.00 and 1.00: review");
    assert_int_equal(res.n_candidates, 2);
    struct cust q2 = {"d", "Hooli", NULL, NULL, NULL, "GB", "980780684"};
    res = find(idx, &q2, NULL);
    expect(&res, HS_MATCH_REVIEW, NULL, "2 records share tax id '980780684': review");
    /* the same tax id with one clearly closer name decides */
    struct cust q3 = {"e", "Stark Industries Ltd", NULL, NULL, NULL, "GB", "980780684"};
    res = find(idx, &q3, NULL);
    expect(&res, HS_MATCH_LINK, "t1", "same tax id");
    hs_match_index_free(idx);
}

static void test_core_match_taken_candidates_are_skipped(void **state)
{
    (void)state;
    static const struct cust list[] = {
        {"x1", "ACME Inc", "a@acme.com", "Boston", NULL, "US", "12-3456789"},
        {"x2", "Acme Inc.", NULL, "Boston", NULL, "US", NULL},
    };
    struct hs_match_index *idx = build(list, 2, NULL);
    assert_int_equal(hs_match_index_take(idx, "x1"), HS_OK);
    assert_true(hs_match_index_taken(idx, "x1"));
    assert_false(hs_match_index_taken(idx, "x2"));
    assert_int_equal(hs_match_index_take(idx, "nope"), HS_ENOTFOUND);
    /* the tax id and the email point at x1, which is taken: the name finds x2 */
    struct cust q = {"c", "Acme, Inc.", "a@acme.com", "Boston", NULL, "US", "123456789"};
    struct hs_match_result res = find(idx, &q, NULL);
    expect(&res, HS_MATCH_LINK, "x2", NULL);
    assert_int_equal(res.rule, HS_MATCH_RULE_NAME);
    /* with both taken, the best match is reported for review, not linked twice */
    assert_int_equal(hs_match_index_take(idx, "x2"), HS_OK);
    res = find(idx, &q, NULL);
    expect(&res, HS_MATCH_REVIEW, NULL, "is already linked to another record: review");
    assert_true(res.candidates[0].taken);
    assert_int_equal(hs_match_index_release(idx, "x2"), HS_OK);
    res = find(idx, &q, NULL);
    expect(&res, HS_MATCH_LINK, "x2", NULL);
    assert_int_equal(hs_match_index_release(idx, "nope"), HS_ENOTFOUND);
    hs_match_index_free(idx);
}

static void test_core_match_contradictions_never_link(void **state)
{
    (void)state;
    static const struct cust list[] = {
        {"a", "Acme Inc", NULL, "Boston", NULL, "US", "12-3456789"},
        {"b", "Müller GmbH", NULL, "München", NULL, "DE", NULL},
    };
    struct hs_match_index *idx = build(list, 2, NULL);
    struct cust q = {"c", "Acme Inc", NULL, "Boston", NULL, "US", "98-7654321"};
    struct hs_match_result res = find(idx, &q, NULL);
    expect(&res, HS_MATCH_CREATE, "a", "different tax ids");
    assert_true(res.score < HS_MATCH_DEFAULT_REVIEW);
    struct cust q2 = {"d", "Müller GmbH", NULL, "Wien", NULL, "AT", NULL};
    res = find(idx, &q2, NULL);
    assert_int_not_equal(res.decision, HS_MATCH_LINK);
    assert_non_null(strstr(res.reason, "different countries"));
    hs_match_index_free(idx);
}

static void test_core_match_stored_references_win(void **state)
{
    (void)state;
    static const struct cust list[] = {
        {"7", "Totally Different Name", NULL, NULL, NULL, NULL, NULL},
        {"8", "Acme Inc", NULL, NULL, NULL, NULL, NULL},
        {"9", "Other Name", NULL, NULL, NULL, NULL, NULL},
    };
    struct hs_match_options opts = {"quickbooks", "hubspot"};
    struct hs_match_index *idx = NULL;
    assert_int_equal(hs_match_index_new(&opts, &idx, NULL), HS_OK);
    for (size_t i = 0; i < 3; i++) {
        struct hs_record *r = make(&list[i]);
        assert_non_null(r);
        if (i == 2)
            assert_int_equal(hs_fields_set(&r->external_refs, "hubspot", "crm-42"), HS_OK);
        assert_int_equal(hs_match_index_add(idx, r, NULL), HS_OK);
        hs_record_free(r);
    }
    struct cust c = {"crm-1", "Acme Inc", NULL, NULL, NULL, NULL, NULL};
    struct hs_record *q = make(&c);
    assert_non_null(q);
    assert_int_equal(hs_fields_set(&q->external_refs, "quickbooks", "7"), HS_OK);
    struct hs_match_result res;
    assert_int_equal(hs_match_find(idx, q, NULL, &res, NULL), HS_OK);
    expect(&res, HS_MATCH_LINK, "7", "same stored reference quickbooks '7'");
    assert_int_equal(res.rule, HS_MATCH_RULE_REF);
    hs_record_free(q);
    struct cust c2 = {"crm-42", "Acme Inc", NULL, NULL, NULL, NULL, NULL};
    q = make(&c2);
    assert_non_null(q);
    assert_int_equal(hs_match_find(idx, q, NULL, &res, NULL), HS_OK);
    expect(&res, HS_MATCH_LINK, "9", "same stored reference hubspot 'crm-42'");
    hs_record_free(q);
    hs_match_index_free(idx);
}

static void test_core_match_thresholds_and_errors(void **state)
{
    (void)state;
    struct hs_match_index *idx = build(acct, N_ACCT, NULL);
    struct cust q = {"c2", "Müller GmbH", NULL, "München", NULL, "DE", NULL};
    struct hs_match_result res = find(idx, &q, NULL);
    expect(&res, HS_MATCH_LINK, "q2", NULL);
    uint32_t score = res.score;
    struct hs_match_thresholds strict = {score + 1, 600000, 0};
    res = find(idx, &q, &strict);
    expect(&res, HS_MATCH_REVIEW, "q2", ", review");
    struct hs_match_thresholds bad = {600000, 700000, 0};
    struct hs_record *r = make(&q);
    assert_non_null(r);
    struct hs_error err;
    assert_int_equal(hs_match_find(idx, r, &bad, &res, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "review <= link"));
    /* duplicate ids and other kinds are refused */
    hs_free(r->id);
    r->id = hs_strdup("q1");
    assert_int_equal(hs_match_index_add(idx, r, &err), HS_EEXIST);
    assert_int_equal(hs_match_index_count(idx), N_ACCT);
    HS_FREE(r->id);
    assert_int_equal(hs_match_index_add(idx, r, &err), HS_EINVAL);
    hs_record_free(r);
    struct hs_record *item = NULL;
    assert_int_equal(hs_record_new(HS_KIND_ITEM, &item), HS_OK);
    assert_int_equal(hs_match_find(idx, item, NULL, &res, &err), HS_EINVAL);
    assert_int_equal(hs_match_index_add(idx, item, &err), HS_EINVAL);
    hs_record_free(item);
    assert_string_equal(hs_match_decision_name(HS_MATCH_REVIEW), "review");
    assert_string_equal(hs_match_rule_name(HS_MATCH_RULE_TAX_ID), "tax_id");
    hs_match_index_free(idx);
    hs_match_index_free(NULL);
}

static void test_core_match_survives_every_failed_allocation(void **state)
{
    (void)state;
    struct hs_record *recs[N_ACCT];
    for (size_t i = 0; i < N_ACCT; i++) {
        recs[i] = make(&acct[i]);
        assert_non_null(recs[i]);
    }
    struct cust qc = {"c1",    "Acme, Inc.", "billing@acme.com", "Boston",
                      "02110", "US",         "12-3456789"};
    struct hs_record *q = make(&qc);
    assert_non_null(q);
    struct hs_match_options opts = {"quickbooks", "hubspot"};
    for (int n = 0;; n++) {
        struct hs_match_index *idx = NULL;
        failalloc_arm(n);
        int rc = hs_match_index_new(&opts, &idx, NULL);
        size_t added = 0;
        for (size_t i = 0; rc == HS_OK && i < N_ACCT; i++) {
            rc = hs_match_index_add(idx, recs[i], NULL);
            if (rc == HS_OK)
                added++;
        }
        struct hs_match_result res;
        if (rc == HS_OK)
            rc = hs_match_find(idx, q, NULL, &res, NULL);
        failalloc_disarm();
        if (idx != NULL) {
            /* a failed add leaves the index usable and unchanged */
            assert_int_equal(hs_match_index_count(idx), added);
            struct hs_match_result again;
            if (added > 0)
                assert_int_equal(hs_match_find(idx, recs[0], NULL, &again, NULL), HS_OK);
        }
        if (rc == HS_OK) {
            expect(&res, HS_MATCH_LINK, "q1", NULL);
            hs_match_index_free(idx);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        hs_match_index_free(idx);
    }
    for (size_t i = 0; i < N_ACCT; i++)
        hs_record_free(recs[i]);
    hs_record_free(q);
}

/* ---- 10,000 x 10,000 -------------------------------------------------------------------- */

static const char *const syllables[] = {"ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi",
                                        "be", "do", "fa", "gu", "ho", "ji", "pe", "so"};
static const char *const commons[] = {"Trading", "Systems",  "Logistics", "Foods",
                                      "Labs",    "Partners", "Holdings",  "Industries"};
static const char *const suffixes[] = {"Inc.",       "LLC",     "Ltd", "GmbH", "S.A.",
                                       "Sp. z o.o.", "Pty Ltd", "AB",  "Oy",   "B.V."};
static const char *const cities[] = {"Boston", "Austin", "Lyon", "Köln", "Łódź", "Leeds"};

/* A unique word for i (base 16 over syllables), then a common word and a suffix. */
static void random_name(struct hs_rng *rng, size_t i, char *out, size_t size)
{
    char word[64] = "";
    size_t v = i + 4096;
    size_t o = 0;
    while (v > 0 && o + 3 < sizeof word) {
        const char *s = syllables[v % 16];
        word[o++] = s[0];
        word[o++] = s[1];
        v /= 16;
    }
    word[o] = '\0';
    word[0] = (char)(word[0] - 'a' + 'A');
    /* draw first: the evaluation order of arguments is unspecified */
    const char *common = commons[hs_rng_below(rng, 8)];
    const char *suffix = suffixes[hs_rng_below(rng, 10)];
    snprintf(out, size, "%s %s %s", word, common, suffix);
}

/* The seed's variant spellings: upper case without punctuation, swapped, no suffix. */
static void variant(const char *name, int kind, char *out, size_t size)
{
    char a[40];
    char b[40];
    char c[40];
    if (sscanf(name, "%39s %39s %39[^\n]", a, b, c) != 3)
        fail_msg("bad generated name '%s'", name);
    if (kind == 0) {
        size_t o = 0;
        for (const char *p = name; *p != '\0' && o + 1 < size; p++)
            if (*p != '.')
                out[o++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
        out[o] = '\0';
    } else if (kind == 1) {
        snprintf(out, size, "%s %s %s", b, a, c);
    } else {
        snprintf(out, size, "%s %s", a, b);
    }
}

static void test_core_match_10k_by_10k(void **state)
{
    (void)state;
    enum { N = 10000 };
    struct hs_rng rng;
    hs_rng_seed(&rng, 7);
    struct hs_match_index *idx = NULL;
    assert_int_equal(hs_match_index_new(NULL, &idx, NULL), HS_OK);
    char(*names)[96] = hs_malloc(sizeof *names * N);
    assert_non_null(names);
    struct timespec t0;
    struct timespec t1;
    struct timespec t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < N; i++) {
        random_name(&rng, i, names[i], sizeof names[i]);
        char id[16];
        snprintf(id, sizeof id, "%zu", i);
        struct cust c = {id, names[i], NULL, cities[i % 6], NULL, NULL, NULL};
        struct hs_record *r = make(&c);
        assert_non_null(r);
        assert_int_equal(hs_match_index_add(idx, r, NULL), HS_OK);
        hs_record_free(r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    size_t linked_right = 0;
    size_t linked_wrong = 0;
    size_t created_new = 0;
    size_t reviewed_new = 0;
    size_t n_variants = 0;
    for (size_t i = 0; i < N; i++) {
        char qname[256];
        char id[16];
        snprintf(id, sizeof id, "c%zu", i);
        bool is_variant = i % 2 == 0;
        size_t target = (size_t)hs_rng_below(&rng, N);
        if (is_variant) {
            variant(names[target], (int)(i / 2 % 3), qname, sizeof qname);
            n_variants++;
        } else {
            random_name(&rng, N + i, qname, sizeof qname); /* nobody has this word */
        }
        struct cust c = {id, qname, NULL, cities[target % 6], NULL, NULL, NULL};
        struct hs_match_result res = find(idx, &c, NULL);
        if (res.decision == HS_MATCH_LINK) {
            char want[16];
            snprintf(want, sizeof want, "%zu", target);
            if (is_variant && strcmp(res.candidates[0].id, want) == 0)
                linked_right++;
            else
                linked_wrong++;
        } else if (!is_variant && res.decision == HS_MATCH_CREATE) {
            created_new++;
        } else if (!is_variant) {
            reviewed_new++; /* a near spelling of another name: a person decides */
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t2);
    double build_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double find_s = (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9;
    printf("match 10k x 10k: index built in %.3f s, 10000 queries in %.3f s; %zu/%zu variants "
           "linked, %zu wrong links, %zu/%zu new names created (%zu near spellings reviewed)\n",
           build_s, find_s, linked_right, n_variants, linked_wrong, created_new, N - n_variants,
           reviewed_new);
    assert_int_equal(linked_wrong, 0);
    assert_int_equal(linked_right, n_variants);
    assert_int_equal(created_new + reviewed_new, N - n_variants);
    assert_true(created_new * 100 >= (N - n_variants) * 99);
    hs_free(names);
    hs_match_index_free(idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_match_seed_variants_link),
        cmocka_unit_test(test_core_match_similar_companies_do_not_link),
        cmocka_unit_test(test_core_match_tax_id_beats_email_beats_name),
        cmocka_unit_test(test_core_match_ambiguity_goes_to_review),
        cmocka_unit_test(test_core_match_taken_candidates_are_skipped),
        cmocka_unit_test(test_core_match_contradictions_never_link),
        cmocka_unit_test(test_core_match_stored_references_win),
        cmocka_unit_test(test_core_match_thresholds_and_errors),
        cmocka_unit_test(test_core_match_survives_every_failed_allocation),
        cmocka_unit_test(test_core_match_10k_by_10k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
