/*
 * tests/unit/test_conn_fields_quickbooks.c - the QuickBooks field names (describe_fields).
 *
 * Design:     see conn_fields.h: every name the connector describes is proved against its
 *             parser over a full fixture, names resolve on their own side, canonical names keep
 *             working, and an unknown name is refused with a message naming it.
 */
#include "conn_fields.h"
#include "connectors/quickbooks/quickbooks.h"
#include "connectors/quickbooks/quickbooks_int.h"

static int parse_qb(enum hs_kind kind, const json_t *obj, struct hs_record **out,
                    struct hs_error *err)
{
    struct hs_quickbooks_opts o;
    memset(&o, 0, sizeof o);
    memcpy(o.home_currency, "USD", 4);
    return hs_quickbooks_parse_record(kind, obj, &o, out, err);
}

/* ---- QuickBooks -------------------------------------------------------------------------- */

static const char qb_customer[] =
    "{\"Id\":\"7\",\"SyncToken\":\"0\",\"DisplayName\":\"Acme Ltd\",\"CompanyName\":\"Acme\","
    "\"GivenName\":\"Ada\",\"FamilyName\":\"Lovelace\",\"PrimaryEmailAddr\":{\"Address\":"
    "\"ada@acme.test\"},\"PrimaryPhone\":{\"FreeFormNumber\":\"+1 555 0100\"},\"WebAddr\":{"
    "\"URI\":\"https://acme.test\"},\"BillAddr\":{\"Line1\":\"1 Main St\",\"Line2\":\"Suite 2\","
    "\"Line3\":\"Floor 3\",\"City\":\"Springfield\",\"CountrySubDivisionCode\":\"CA\","
    "\"PostalCode\":\"90210\",\"Country\":\"US\"},\"ShipAddr\":{\"Line1\":\"9 Dock Rd\","
    "\"Line2\":\"Gate 4\",\"Line3\":\"Bay 1\",\"City\":\"Oakland\",\"CountrySubDivisionCode\":"
    "\"NV\",\"PostalCode\":\"94607\",\"Country\":\"CA\"},\"PrimaryTaxIdentifier\":\"12-3456789\","
    "\"CurrencyRef\":{\"value\":\"EUR\"},\"SalesTermRef\":{\"value\":\"3\",\"name\":\"Net 30\"},"
    "\"Notes\":\"key account\",\"Active\":true}";

static const char qb_item[] =
    "{\"Id\":\"9\",\"SyncToken\":\"1\",\"Name\":\"Widget\",\"Sku\":\"W-1\",\"Description\":"
    "\"A widget\",\"UnitPrice\":12.5,\"IncomeAccountRef\":{\"value\":\"1\"},\"Taxable\":true,"
    "\"Active\":true,\"Type\":\"Service\"}";

static void test_conn_fields_quickbooks_names_are_what_the_parser_reads(void **state)
{
    (void)state;
    check_rows_against_parser(&hs_connector_quickbooks_ops, parse_qb, HS_KIND_CUSTOMER,
                              qb_customer);
    check_rows_against_parser(&hs_connector_quickbooks_ops, parse_qb, HS_KIND_ITEM, qb_item);
    /* invoices and payments are built by the invoice step, which `mappings:` does not drive */
    struct hs_field_names n;
    hs_field_names_init(&n);
    assert_int_equal(hs_connector_quickbooks_ops.describe_fields(NULL, HS_KIND_INVOICE, &n, NULL),
                     HS_OK);
    assert_int_equal(n.n_items, 0);
}

static void test_conn_fields_quickbooks_resolves_and_refuses(void **state)
{
    (void)state;
    const struct hs_connector_ops *hub = &hs_connector_hubspot_ops;
    const struct hs_connector_ops *qb = &hs_connector_quickbooks_ops;
    struct hs_mapping *m = NULL;
    assert_int_equal(compile_rule(hub, qb, "name", "DisplayName", HS_KIND_CUSTOMER, &m, NULL),
                     HS_OK);
    expect_pair(m, "display_name", "display_name");
    assert_int_equal(
        compile_rule(hub, qb, "email", "PrimaryEmailAddr.Address", HS_KIND_CUSTOMER, &m, NULL),
        HS_OK);
    expect_pair(m, "email", "email");
    assert_int_equal(
        compile_rule(hub, qb, "country", "BillAddr.Country", HS_KIND_CUSTOMER, &m, NULL), HS_OK);
    expect_pair(m, "billing_address.country", "billing_address.country");
    assert_int_equal(compile_rule(hub, qb, "hs_sku", "Sku", HS_KIND_ITEM, &m, NULL), HS_OK);
    expect_pair(m, "sku", "sku");
    assert_int_equal(compile_rule(hub, qb, "price", "UnitPrice", HS_KIND_ITEM, &m, NULL), HS_OK);
    expect_pair(m, "unit_price", "unit_price");
    /* canonical names keep working on either side */
    assert_int_equal(compile_rule(hub, qb, "phone", "phone", HS_KIND_CUSTOMER, &m, NULL), HS_OK);
    expect_pair(m, "phone", "phone");
    /* a misspelt name, and a name of the other side, are refused and named */
    expect_unknown(hub, qb, "phone", "PrimaryPhone.FreeFromNumber",
                   "hoopsync.yaml:41:9: cannot compile mapping of flow 'customers': unknown "
                   "accounting field 'PrimaryPhone.FreeFromNumber' of customer" UNKNOWN_TAIL);
    expect_unknown(hub, qb, "DisplayName", "DisplayName",
                   "hoopsync.yaml:41:9: cannot compile mapping of flow 'customers': unknown crm "
                   "field 'DisplayName' of customer" UNKNOWN_TAIL);
}

int main(void)
{
    hs_alloc_setup_json();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conn_fields_quickbooks_names_are_what_the_parser_reads),
        cmocka_unit_test(test_conn_fields_quickbooks_resolves_and_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
