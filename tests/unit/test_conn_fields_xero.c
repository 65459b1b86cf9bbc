/*
 * tests/unit/test_conn_fields_xero.c - the Xero field names (describe_fields).
 *
 * Design:     see conn_fields.h: every name the connector describes is proved against its
 *             parser over a full fixture, names resolve on their own side, canonical names keep
 *             working, and an unknown name is refused with a message naming it.
 */
#include "conn_fields.h"
#include "connectors/xero/xero.h"
#include "connectors/xero/xero_int.h"

static int parse_xero(enum hs_kind kind, const json_t *obj, struct hs_record **out,
                      struct hs_error *err)
{
    struct hs_xero_opts o;
    memset(&o, 0, sizeof o);
    memcpy(o.base_currency, "USD", 4);
    return hs_xero_conn_parse_record(kind, obj, &o, out, err);
}

/* ---- Xero -------------------------------------------------------------------------------- */

static const char xero_contact[] =
    "{\"ContactID\":\"6d6b4d2e-0000-4000-8000-000000000001\",\"Name\":\"Acme Ltd\","
    "\"FirstName\":\"Ada\",\"LastName\":\"Lovelace\",\"EmailAddress\":\"ada@acme.test\","
    "\"Website\":\"https://acme.test\",\"TaxNumber\":\"GST-1\",\"Phones\":[{\"PhoneType\":"
    "\"MOBILE\",\"PhoneNumber\":\"999\"},{\"PhoneType\":\"DEFAULT\",\"PhoneCountryCode\":\"64\","
    "\"PhoneAreaCode\":\"9\",\"PhoneNumber\":\"555 0100\"}],\"Addresses\":[{\"AddressType\":"
    "\"POBOX\",\"AddressLine1\":\"PO Box 1\",\"AddressLine2\":\"Ponsonby\",\"AddressLine3\":"
    "\"Level 2\",\"City\":\"Auckland\",\"Region\":\"AKL\",\"PostalCode\":\"1011\",\"Country\":"
    "\"NZ\"},{\"AddressType\":\"STREET\",\"AddressLine1\":\"9 Quay St\",\"AddressLine2\":"
    "\"Wharf 4\",\"AddressLine3\":\"Shed 1\",\"City\":\"Wellington\",\"Region\":\"WGN\","
    "\"PostalCode\":\"6011\",\"Country\":\"AU\"}],\"DefaultCurrency\":\"NZD\",\"ContactStatus\":"
    "\"ACTIVE\"}";

static const char xero_item[] =
    "{\"ItemID\":\"6d6b4d2e-0000-4000-8000-000000000002\",\"Code\":\"W-1\",\"Name\":\"Widget\","
    "\"Description\":\"A widget\",\"IsSold\":true,\"SalesDetails\":{\"UnitPrice\":12.5,"
    "\"AccountCode\":\"200\",\"TaxType\":\"OUTPUT2\"}}";

static void test_conn_fields_xero_names_are_what_the_parser_reads(void **state)
{
    (void)state;
    check_rows_against_parser(&hs_connector_xero_ops, parse_xero, HS_KIND_CUSTOMER, xero_contact);
    check_rows_against_parser(&hs_connector_xero_ops, parse_xero, HS_KIND_ITEM, xero_item);
}

static void test_conn_fields_xero_resolves_and_refuses(void **state)
{
    (void)state;
    const struct hs_connector_ops *hub = &hs_connector_hubspot_ops;
    const struct hs_connector_ops *xero = &hs_connector_xero_ops;
    struct hs_mapping *m = NULL;
    assert_int_equal(compile_rule(hub, xero, "name", "Name", HS_KIND_CUSTOMER, &m, NULL), HS_OK);
    expect_pair(m, "display_name", "display_name");
    assert_int_equal(
        compile_rule(hub, xero, "city", "Addresses.POBOX.City", HS_KIND_CUSTOMER, &m, NULL), HS_OK);
    expect_pair(m, "billing_address.city", "billing_address.city");
    assert_int_equal(compile_rule(hub, xero, "hs_sku", "Code", HS_KIND_ITEM, &m, NULL), HS_OK);
    expect_pair(m, "sku", "sku");
    expect_unknown(hub, xero, "email", "Email",
                   "hoopsync.yaml:41:9: cannot compile mapping of flow 'customers': unknown "
                   "accounting field 'Email' of customer" UNKNOWN_TAIL);
}

int main(void)
{
    hs_alloc_setup_json();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conn_fields_xero_names_are_what_the_parser_reads),
        cmocka_unit_test(test_conn_fields_xero_resolves_and_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
