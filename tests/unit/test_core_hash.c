/*
 * tests/unit/test_core_hash.c - stable record hash: known answer, order independence, and
 * sensitivity to every single canonical field.
 *
 * Design:     each kind has a table of (field, value, other value) rows covering every field
 *             path the model knows (lines and applications twice, both maps); the sensitivity
 *             test changes or removes one row at a time and requires a hash different from the
 *             base and from every other variant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h> /* after the four above */
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "hoopsync/model.h"
#include "testutil/failalloc.h"
#include "util/alloc.h"

#define OK(x) assert_int_equal((x), HS_OK)

struct row {
    const char *name;
    const char *v0;
    const char *v1;
};

#define ADDRESS(p)                                                                                 \
    {p ".line1", "1 rue de la Paix", "2 rue de la Paix"}, {p ".line2", "Bât B", "Bât C"},          \
        {p ".line3", "", "3e"}, {p ".city", "Lyon", "Lyön"}, {p ".region", "Rhône", "Rhone"},      \
        {p ".postcode", "69002", "69003"},                                                         \
    {                                                                                              \
        p ".country", "FR", "BE"                                                                   \
    }

static const struct row customer_rows[] = {
    {"display_name", "Acme, Inc.", "ACME Inc"},
    {"company_name", "Acme Incorporated", "Acme Incorporated."},
    {"given_name", "Jérôme", "Jerome"},
    {"family_name", "Dupré", "Dupre"},
    {"email", "j@acme.example", "J@acme.example"},
    {"phone", "+33 4 12 34 56 78", "+33412345678"},
    {"website", "https://acme.example", "https://acme.example/"},
    ADDRESS("billing_address"),
    ADDRESS("shipping_address"),
    {"tax_id", "FR123", "FR124"},
    {"currency", "EUR", "USD"},
    {"payment_terms", "Net 30", "Net 31"},
    {"notes", "株式会社", "株式会社 "},
    {"active", "true", "false"},
    {"custom.hs_region", "EMEA", "APAC"},
    {"custom.tier", "gold", "silver"},
    {"external_refs.hubspot", "42", "43"},
};

static const struct row contact_rows[] = {
    {"customer_ref", "c-1", "c-2"},
    {"name", "Zoë Ng", "Zoe Ng"},
    {"given_name", "Zoë", "Zoe"},
    {"family_name", "Ng", "NG"},
    {"email", "z@x.example", "z@y.example"},
    {"phone", "1", "2"},
    {"role", "CFO", "CEO"},
    {"primary", "false", "true"},
    {"custom.x", "1", "2"},
};

static const struct row item_rows[] = {
    {"name", "Widget", "Gadget"},
    {"sku", "W-1", "W-2"},
    {"description", "A widget", "A widget."},
    {"unit_price", "USD 10.00", "USD 10.01"},
    {"income_account_ref", "4000", "4001"},
    {"taxable", "true", "false"},
    {"active", "false", "true"},
    {"external_refs.quickbooks", "7", "8"},
};

#define LINE(p)                                                                                    \
    {p ".item_ref", "item-1", "item-2"}, {p ".description", "Day rate", "Day rate "},              \
        {p ".quantity", "1.5", "1.500001"}, {p ".unit_price", "USD 120.50", "EUR 120.50"},         \
        {p ".discount_percent", "10", "-10"}, {p ".tax_code", "TAX", "NON"},                       \
        {p ".amount", "USD 180.75", "USD 180.76"},                                                 \
    {                                                                                              \
        p ".tax_amount", "USD 18.08", "USD 0.00"                                                   \
    }

static const struct row invoice_rows[] = {
    {"number", "INV-1", "INV-2"},
    {"customer_ref", "c-1", "c-2"},
    {"currency", "USD", "JPY"},
    {"issue_date", "2024-02-29", "2024-03-01"},
    {"due_date", "2024-03-31", "2025-03-31"},
    {"status", "open", "partially_paid"},
    {"tax_mode", "exclusive", "inclusive"},
    LINE("lines[0]"),
    LINE("lines[1]"),
    {"subtotal", "USD 361.50", "USD 361.51"},
    {"tax", "USD 36.16", "USD 36.15"},
    {"total", "USD 397.66", "USD -397.66"},
    {"amount_paid", "USD 0.00", "USD 0.01"},
    {"balance", "USD 397.66", "KWD 397.660"},
    {"memo", "Thanks", "thanks"},
    {"custom.po", "PO-9", "PO-8"},
};

static const struct row payment_rows[] = {
    {"customer_ref", "c-1", "c-2"},
    {"date", "2024-01-01", "2024-01-02"},
    {"amount", "EUR 100.00", "EUR 100.10"},
    {"currency", "EUR", "GBP"},
    {"method", "card", "bank_transfer"},
    {"reference", "TX-1", "TX-2"},
    {"applied[0].invoice_ref", "inv-1", "inv-2"},
    {"applied[0].amount", "EUR 60.00", "EUR 40.00"},
    {"applied[1].invoice_ref", "inv-2", "inv-1"},
    {"applied[1].amount", "EUR 40.00", "EUR 60.00"},
    {"memo", "m", "n"},
};

static const struct row credit_rows[] = {
    {"number", "CN-1", "CN-2"},
    {"customer_ref", "c-1", "c-2"},
    {"invoice_ref", "inv-1", "inv-2"},
    {"currency", "USD", "CAD"},
    {"issue_date", "2024-05-01", "2024-05-02"},
    {"status", "open", "applied"},
    {"tax_mode", "none", "exclusive"},
    LINE("lines[0]"),
    {"subtotal", "USD 1.00", "USD 2.00"},
    {"tax", "USD 0.10", "USD 0.20"},
    {"total", "USD 1.10", "USD 2.20"},
    {"balance", "USD 1.10", "USD 0.00"},
    {"memo", "r", "R"},
};

static const struct {
    enum hs_kind kind;
    const struct row *rows;
    size_t n;
} kinds[] = {
#define K(k, r)                                                                                    \
    {                                                                                              \
        k, r, sizeof r / sizeof r[0]                                                               \
    }
    K(HS_KIND_CUSTOMER, customer_rows), K(HS_KIND_CONTACT_PERSON, contact_rows),
    K(HS_KIND_ITEM, item_rows),         K(HS_KIND_INVOICE, invoice_rows),
    K(HS_KIND_PAYMENT, payment_rows),   K(HS_KIND_CREDIT_NOTE, credit_rows),
#undef K
};

/* Fields of rows with v0, except row skip (SIZE_MAX: none); row change gets v1. */
static void build(const struct row *rows, size_t n, size_t skip, size_t change, struct hs_fields *f)
{
    hs_fields_release(f);
    for (size_t i = 0; i < n; i++) {
        if (i != skip)
            OK(hs_fields_set(f, rows[i].name, i == change ? rows[i].v1 : rows[i].v0));
    }
}

/* Hash through a real record: from_fields, then hs_record_hash. */
static void hash_of(enum hs_kind kind, const struct hs_fields *f, uint8_t out[HS_HASH_BYTES])
{
    struct hs_record *r = NULL;
    struct hs_error err;
    if (hs_record_from_fields(kind, f, &r, &err) != HS_OK)
        fail_msg("from_fields: %s", err.msg);
    OK(hs_record_hash(r, out, NULL));
    uint8_t direct[HS_HASH_BYTES];
    hs_hash_fields(kind, f, direct);
    assert_memory_equal(out, direct, HS_HASH_BYTES);
    hs_record_free(r);
}

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, HS_HASH_BYTES);
}

static void test_hash_known_answer(void **state)
{
    (void)state;
    struct hs_record *r = NULL;
    OK(hs_record_new(HS_KIND_CUSTOMER, &r));
    OK(hs_record_set_str(&r->customer.email, "a@b.c"));
    OK(hs_record_set_str(&r->customer.display_name, "Acme"));
    char hex[HS_HASH_HEX];
    OK(hs_record_hash_hex(r, hex, NULL));
    /* SHA-256("hoopsync-record-v1\0" || be32(8) "customer" || be32(12) "display_name" ||
     * be32(4) "Acme" || be32(5) "email" || be32(5) "a@b.c"), computed independently */
    assert_string_equal(hex, "9210ef53b8ed7c71df29acf984c6a52c1e392ed4fb9977ebc9ce15e815ec6ffd");
    hs_record_free(r);

    OK(hs_record_new(HS_KIND_ITEM, &r));
    OK(hs_record_hash_hex(r, hex, NULL));
    assert_string_equal(hex, "a79c3a9f1217a3356a1b8836dcd3ceb76b990577ad6e558103ff1fef781a4806");
    hs_record_free(r);
}

static void test_hash_ignores_order_id_updated_at_and_meta(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        struct hs_fields fwd;
        struct hs_fields rev;
        hs_fields_init(&fwd);
        hs_fields_init(&rev);
        build(kinds[k].rows, kinds[k].n, SIZE_MAX, SIZE_MAX, &fwd);
        for (size_t i = kinds[k].n; i-- > 0;)
            OK(hs_fields_set(&rev, kinds[k].rows[i].name, kinds[k].rows[i].v0));
        uint8_t a[HS_HASH_BYTES];
        uint8_t b[HS_HASH_BYTES];
        hash_of(kinds[k].kind, &fwd, a);
        hash_of(kinds[k].kind, &rev, b);
        assert_memory_equal(a, b, HS_HASH_BYTES);

        /* provider bookkeeping and a JSON round trip change nothing */
        struct hs_record *r = NULL;
        OK(hs_record_from_fields(kinds[k].kind, &rev, &r, NULL));
        OK(hs_record_set_str(&r->id, "provider-id-1"));
        r->updated_at = 1714000000000;
        OK(hs_fields_set(&r->meta, "sync_token", "12"));
        OK(hs_record_hash(r, b, NULL));
        assert_memory_equal(a, b, HS_HASH_BYTES);
        char *json = NULL;
        OK(hs_record_to_json(r, &json, NULL));
        struct hs_record *back = NULL;
        OK(hs_record_from_json((const uint8_t *)json, strlen(json), &back, NULL));
        OK(hs_fields_set(&back->meta, "sync_token", "13"));
        back->updated_at++;
        OK(hs_record_hash(back, b, NULL));
        assert_memory_equal(a, b, HS_HASH_BYTES);
        hs_free(json);
        hs_record_free(back);
        hs_record_free(r);
        hs_fields_release(&fwd);
        hs_fields_release(&rev);
    }

    /* custom entries added in different orders through the typed API */
    struct hs_record *x = NULL;
    struct hs_record *y = NULL;
    OK(hs_record_new(HS_KIND_CUSTOMER, &x));
    OK(hs_record_new(HS_KIND_CUSTOMER, &y));
    const char *keys[] = {"zeta", "alpha", "mu", "beta"};
    for (size_t i = 0; i < 4; i++) {
        OK(hs_fields_set(&x->custom, keys[i], "v"));
        OK(hs_fields_set(&y->custom, keys[3 - i], "v"));
    }
    uint8_t hx[HS_HASH_BYTES];
    uint8_t hy[HS_HASH_BYTES];
    OK(hs_record_hash(x, hx, NULL));
    OK(hs_record_hash(y, hy, NULL));
    assert_memory_equal(hx, hy, HS_HASH_BYTES);
    OK(hs_fields_set(&y->custom, "beta", "w"));
    OK(hs_record_hash(y, hy, NULL));
    assert_memory_not_equal(hx, hy, HS_HASH_BYTES);
    hs_record_free(x);
    hs_record_free(y);
}

static void test_hash_changes_on_every_single_field_change(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const struct row *rows = kinds[k].rows;
        size_t n = kinds[k].n;
        uint8_t(*h)[HS_HASH_BYTES] = hs_calloc(2 * n + 1, HS_HASH_BYTES);
        assert_non_null(h);
        struct hs_fields f;
        hs_fields_init(&f);
        build(rows, n, SIZE_MAX, SIZE_MAX, &f);
        assert_int_equal(hs_fields_count(&f), n); /* rows name distinct fields */
        hash_of(kinds[k].kind, &f, h[0]);
        for (size_t i = 0; i < n; i++) {
            assert_string_not_equal(rows[i].v0, rows[i].v1);
            build(rows, n, SIZE_MAX, i, &f); /* one value changed */
            hash_of(kinds[k].kind, &f, h[1 + 2 * i]);
            build(rows, n, i, SIZE_MAX, &f); /* one value removed */
            hash_of(kinds[k].kind, &f, h[2 + 2 * i]);
            if (memcmp(h[0], h[1 + 2 * i], HS_HASH_BYTES) == 0 ||
                memcmp(h[0], h[2 + 2 * i], HS_HASH_BYTES) == 0)
                fail_msg("%s: changing '%s' leaves the hash unchanged", hs_kind_name(kinds[k].kind),
                         rows[i].name);
        }
        qsort(h, 2 * n + 1, HS_HASH_BYTES, cmp_hash);
        for (size_t i = 1; i < 2 * n + 1; i++)
            assert_memory_not_equal(h[i - 1], h[i], HS_HASH_BYTES);
        hs_fields_release(&f);
        hs_free(h);
    }
}

static void test_hash_encoding_is_unambiguous(void **state)
{
    (void)state;
    /* the same concatenated bytes split differently between name and value */
    struct hs_fields a;
    struct hs_fields b;
    hs_fields_init(&a);
    hs_fields_init(&b);
    OK(hs_fields_set(&a, "custom.a", "bc"));
    OK(hs_fields_set(&b, "custom.ab", "c"));
    uint8_t ha[HS_HASH_BYTES];
    uint8_t hb[HS_HASH_BYTES];
    hs_hash_fields(HS_KIND_CUSTOMER, &a, ha);
    hs_hash_fields(HS_KIND_CUSTOMER, &b, hb);
    assert_memory_not_equal(ha, hb, HS_HASH_BYTES);
    /* one field vs two fields with the same bytes */
    hs_fields_release(&b);
    OK(hs_fields_set(&b, "custom.a", "b"));
    OK(hs_fields_set(&b, "c", ""));
    hs_hash_fields(HS_KIND_CUSTOMER, &b, hb);
    assert_memory_not_equal(ha, hb, HS_HASH_BYTES);
    /* the kind is part of the hash */
    hs_hash_fields(HS_KIND_ITEM, &a, hb);
    assert_memory_not_equal(ha, hb, HS_HASH_BYTES);
    /* empty value differs from absent */
    hs_fields_release(&b);
    OK(hs_fields_set(&b, "custom.a", "bc"));
    OK(hs_fields_set(&b, "custom.z", ""));
    hs_hash_fields(HS_KIND_CUSTOMER, &b, hb);
    assert_memory_not_equal(ha, hb, HS_HASH_BYTES);

    char hex[HS_HASH_HEX];
    uint8_t d[HS_HASH_BYTES];
    for (size_t i = 0; i < HS_HASH_BYTES; i++)
        d[i] = (uint8_t)(i * 8 + 1);
    hs_hash_hex(d, hex);
    assert_string_equal(hex, "0109111921293139414951596169717981899199a1a9b1b9c1c9d1d9e1e9f1f9");
    hs_fields_release(&a);
    hs_fields_release(&b);
}

static void test_hash_rejects_invalid_record_and_survives_oom(void **state)
{
    (void)state;
    struct hs_record *r = NULL;
    OK(hs_record_new(HS_KIND_INVOICE, &r));
    memcpy(r->invoice.currency, "usd", 4);
    uint8_t h[HS_HASH_BYTES];
    memset(h, 0xAA, sizeof h);
    struct hs_error err;
    assert_int_equal(hs_record_hash(r, h, &err), HS_EINVAL);
    assert_string_equal(err.msg, "invalid invoice: field 'currency': unknown currency");
    for (size_t i = 0; i < sizeof h; i++)
        assert_int_equal(h[i], 0xAA);
    memcpy(r->invoice.currency, "USD", 4);
    OK(hs_record_set_str(&r->invoice.number, "INV-1"));
    OK(hs_fields_set(&r->custom, "k", "v"));
    uint8_t want[HS_HASH_BYTES];
    OK(hs_record_hash(r, want, NULL));
    for (int n = 0;; n++) {
        failalloc_arm(n);
        int rc = hs_record_hash(r, h, NULL);
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_memory_equal(h, want, HS_HASH_BYTES);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
    }
    hs_record_free(r);
}

int main(void)
{
    hs_alloc_setup_json();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_known_answer),
        cmocka_unit_test(test_hash_ignores_order_id_updated_at_and_meta),
        cmocka_unit_test(test_hash_changes_on_every_single_field_change),
        cmocka_unit_test(test_hash_encoding_is_unambiguous),
        cmocka_unit_test(test_hash_rejects_invalid_record_and_survives_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
