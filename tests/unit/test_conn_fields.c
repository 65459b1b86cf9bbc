/*
 * tests/unit/test_conn_fields.c - the HubSpot field names (describe_fields: its property maps,
 * settings included) and the resolver of `mappings:` over both sides (connectors/common/fields.h).
 *
 * Design:     see conn_fields.h: every name the connector describes is proved against its
 *             parser over a full fixture, names resolve on their own side, canonical names keep
 *             working, and an unknown name is refused with a message naming it.
 */
#include "conn_fields.h"
#include "connectors/quickbooks/quickbooks.h"
#include "connectors/xero/xero.h"
#include "testutil/failalloc.h"

/* ---- HubSpot ----------------------------------------------------------------------------- */

static const char *hub_path(const json_t *settings, enum hs_kind kind, const char *name)
{
    static char out[128];
    struct hs_field_names n;
    hs_field_names_init(&n);
    assert_int_equal(hs_connector_hubspot_ops.describe_fields(settings, kind, &n, NULL), HS_OK);
    const char *p = hs_field_names_find(&n, name);
    snprintf(out, sizeof out, "%s", p != NULL ? p : "(none)");
    hs_field_names_release(&n);
    return out;
}

static void test_conn_fields_hubspot_names_follow_its_property_maps(void **state)
{
    (void)state;
    /* the default maps: company, primary contact, product; `name` fills display_name first */
    assert_string_equal(hub_path(NULL, HS_KIND_CUSTOMER, "name"), "display_name");
    assert_string_equal(hub_path(NULL, HS_KIND_CUSTOMER, "email"), "email");
    assert_string_equal(hub_path(NULL, HS_KIND_CUSTOMER, "firstname"), "given_name");
    assert_string_equal(hub_path(NULL, HS_KIND_CUSTOMER, "zip"), "billing_address.postcode");
    assert_string_equal(hub_path(NULL, HS_KIND_ITEM, "hs_sku"), "sku");
    assert_string_equal(hub_path(NULL, HS_KIND_ITEM, "price"), "unit_price");
    assert_string_equal(hub_path(NULL, HS_KIND_INVOICE, "dealname"), "memo");
    /* line item properties fill lines, which mappings cannot name */
    assert_string_equal(hub_path(NULL, HS_KIND_INVOICE, "hs_product_id"), "(none)");
    assert_string_equal(hub_path(NULL, HS_KIND_CUSTOMER, "nmae"), "(none)");

    /* settings: custom properties are named, an override renames, "" drops a property */
    json_t *s = json_pack("{s:{s:[s]}, s:{s:{s:s, s:s}}}", "custom_properties", "customer",
                          "hs_payment_terms", "properties", "customer", "phone", "mobilephone",
                          "website", "");
    assert_non_null(s);
    assert_string_equal(hub_path(s, HS_KIND_CUSTOMER, "hs_payment_terms"),
                        "custom.hs_payment_terms");
    assert_string_equal(hub_path(s, HS_KIND_CUSTOMER, "mobilephone"), "phone");
    assert_string_equal(hub_path(s, HS_KIND_CUSTOMER, "phone"), "(none)");
    assert_string_equal(hub_path(s, HS_KIND_CUSTOMER, "website"), "(none)");
    json_decref(s);

    /* settings the connector refuses are refused here too, as open() would */
    s = json_pack("{s:s}", "currency", "XYZ");
    struct hs_field_names n;
    hs_field_names_init(&n);
    struct hs_error err = {0};
    assert_int_equal(hs_connector_hubspot_ops.describe_fields(s, HS_KIND_CUSTOMER, &n, &err),
                     HS_EINVAL);
    assert_string_equal(err.msg, "invalid HubSpot settings: 'currency': unknown currency 'XYZ'");
    assert_int_equal(n.n_items, 0);
    json_decref(s);
}

static void test_conn_fields_hubspot_refuses_unknown_crm_names(void **state)
{
    (void)state;
    expect_unknown(&hs_connector_hubspot_ops, &hs_connector_quickbooks_ops, "phnoe", "phone",
                   "hoopsync.yaml:41:9: cannot compile mapping of flow 'customers': unknown crm "
                   "field 'phnoe' of customer" UNKNOWN_TAIL);
}

/* ---- the resolver ------------------------------------------------------------------------ */

static void test_conn_fields_resolver_survives_every_failed_allocation(void **state)
{
    (void)state;
    json_t *s = json_pack("{s:{s:[s]}}", "custom_properties", "customer", "hs_payment_terms");
    assert_non_null(s);
    for (int n = 0;; n++) {
        struct hs_conn_fields f;
        hs_conn_fields_init(&f);
        failalloc_arm(n);
        int rc = hs_conn_fields_load(&f, HS_SIDE_CRM, &hs_connector_hubspot_ops, s, NULL);
        if (rc == HS_OK)
            rc = hs_conn_fields_load(&f, HS_SIDE_ACCOUNTING, &hs_connector_xero_ops, NULL, NULL);
        failalloc_disarm();
        if (rc == HS_OK) {
            assert_string_equal(
                hs_conn_fields_resolve(&f, HS_MAPPING_CRM, HS_KIND_CUSTOMER, "hs_payment_terms"),
                "custom.hs_payment_terms");
            assert_string_equal(hs_conn_fields_resolve(&f, HS_MAPPING_ACCOUNTING, HS_KIND_ITEM,
                                                       "SalesDetails.UnitPrice"),
                                "unit_price");
            assert_null(hs_conn_fields_resolve(&f, HS_MAPPING_ACCOUNTING, HS_KIND_CUSTOMER,
                                               "hs_payment_terms"));
            hs_conn_fields_release(&f);
            break;
        }
        assert_int_equal(rc, HS_ENOMEM);
        hs_conn_fields_release(&f);
    }
    json_decref(s);
    /* a connector without describe_fields names nothing; the side is empty, not an error */
    struct hs_connector_ops bare;
    memset(&bare, 0, sizeof bare);
    struct hs_conn_fields f;
    hs_conn_fields_init(&f);
    assert_int_equal(hs_conn_fields_load(&f, HS_SIDE_CRM, &bare, NULL, NULL), HS_OK);
    assert_null(hs_conn_fields_resolve(&f, HS_MAPPING_CRM, HS_KIND_CUSTOMER, "name"));
    hs_conn_fields_release(&f);
}

int main(void)
{
    hs_alloc_setup_json();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conn_fields_hubspot_names_follow_its_property_maps),
        cmocka_unit_test(test_conn_fields_hubspot_refuses_unknown_crm_names),
        cmocka_unit_test(test_conn_fields_resolver_survives_every_failed_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
