/*
 * tests/unit/test_conn_fields_zohobooks.c - the Zoho Books field names (describe_fields).
 *
 * Design:     see conn_fields.h: every name the connector describes is proved against its
 *             parser over a full fixture, names resolve on their own side, canonical names keep
 *             working, and an unknown name is refused with a message naming it.
 */
#include "conn_fields.h"
#include "connectors/zohobooks/zohobooks.h"
#include "connectors/zohobooks/zohobooks_int.h"

static int parse_zoho(enum hs_kind kind, const json_t *obj, struct hs_record **out,
                      struct hs_error *err)
{
    struct hs_zoho_opts o;
    memset(&o, 0, sizeof o);
    memcpy(o.base_currency, "USD", 4);
    return hs_zoho_conn_parse_record(kind, obj, &o, out, err);
}

/* ---- Zoho Books -------------------------------------------------------------------------- */

static const char zoho_contact[] =
    "{\"contact_id\":\"460000000026049\",\"contact_name\":\"Acme Ltd\",\"first_name\":\"Ada\","
    "\"last_name\":\"Lovelace\",\"email\":\"ada@acme.test\",\"phone\":\"+1 555 0100\","
    "\"website\":\"https://acme.test\",\"tax_reg_no\":\"DE123\",\"billing_address\":{"
    "\"address\":\"1 Main St\",\"street2\":\"Suite 2\",\"city\":\"Springfield\",\"state\":"
    "\"CA\",\"zip\":\"90210\",\"country\":\"US\"},\"shipping_address\":{\"address\":"
    "\"9 Dock Rd\",\"street2\":\"Gate 4\",\"city\":\"Oakland\",\"state\":\"NV\",\"zip\":"
    "\"94607\",\"country\":\"CA\"},\"currency_code\":\"EUR\",\"status\":\"active\"}";

static const char zoho_item[] =
    "{\"item_id\":\"460000000026050\",\"name\":\"Widget\",\"sku\":\"W-1\",\"description\":"
    "\"A widget\",\"rate\":12.5,\"tax_id\":\"460000000026051\",\"status\":\"active\"}";

static void test_conn_fields_zohobooks_names_are_what_the_parser_reads(void **state)
{
    (void)state;
    check_rows_against_parser(&hs_connector_zohobooks_ops, parse_zoho, HS_KIND_CUSTOMER,
                              zoho_contact);
    check_rows_against_parser(&hs_connector_zohobooks_ops, parse_zoho, HS_KIND_ITEM, zoho_item);
}

static void test_conn_fields_zohobooks_resolves_and_refuses(void **state)
{
    (void)state;
    const struct hs_connector_ops *hub = &hs_connector_hubspot_ops;
    const struct hs_connector_ops *zoho = &hs_connector_zohobooks_ops;
    struct hs_mapping *m = NULL;
    assert_int_equal(compile_rule(hub, zoho, "name", "contact_name", HS_KIND_CUSTOMER, &m, NULL),
                     HS_OK);
    expect_pair(m, "display_name", "display_name");
    assert_int_equal(compile_rule(hub, zoho, "price", "rate", HS_KIND_ITEM, &m, NULL), HS_OK);
    expect_pair(m, "unit_price", "unit_price");
    expect_unknown(hub, zoho, "name", "customer_name",
                   "hoopsync.yaml:41:9: cannot compile mapping of flow 'customers': unknown "
                   "accounting field 'customer_name' of customer" UNKNOWN_TAIL);
}

int main(void)
{
    hs_alloc_setup_json();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conn_fields_zohobooks_names_are_what_the_parser_reads),
        cmocka_unit_test(test_conn_fields_zohobooks_resolves_and_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
