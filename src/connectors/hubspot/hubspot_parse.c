/*
 * connectors/hubspot/hubspot_parse.c - HubSpot JSON <-> canonical records, no I/O.
 *
 * Design:     answers are parsed in two steps. First the envelope (batch, search and list
 *             answers, associations v4, webhook event arrays) becomes plain structs
 *             (hubspot_int.h) whose property maps hold only strings: HubSpot sends every
 *             property as a string, an integer is kept as its exact text, and any other JSON
 *             type (a real would have gone through a double) is dropped rather than guessed.
 *             Then a record is built through the field view: each mapping of the settings
 *             turns one property into one canonical field string (money parsed exactly with
 *             hs_money_parse in the record's currency, decimals with hs_decimal_parse, dates
 *             cut to YYYY-MM-DD, two-letter countries upper-cased), and hs_record_from_fields
 *             builds the typed record, so a record from here always validates. A property
 *             value that does not convert is left out (the field is absent), never guessed.
 *             Writing goes the other way through hs_record_to_fields and the same mappings.
 * Invariants: nothing here allocates without hs_malloc (jansson is routed through it by the
 *             caller's hs_alloc_setup_json) and nothing assumes NUL-terminated input.
 * Ownership:  see hubspot_int.h; records returned belong to the caller.
 * Not here:   HTTP (hubspot_client.c), the connector ops (hubspot.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "connectors/hubspot/hubspot_int.h"
#include "core/currency.h"
#include "core/decimal.h"
#include "core/money.h"
#include "util/alloc.h"
#include "util/civil.h"
#include "util/json.h"
#include "util/str.h"

static const char *const obj_names[HS_HUBSPOT_N_OBJ] = {"companies", "contacts", "deals",
                                                        "line_items", "products"};

const char *hs_hubspot_obj_name(enum hs_hubspot_obj o)
{
    return (unsigned)o < HS_HUBSPOT_N_OBJ ? obj_names[o] : "companies";
}

const char *hs_hubspot_obj_lastmod(enum hs_hubspot_obj o)
{
    return o == HS_HUBSPOT_CONTACTS ? "lastmodifieddate" : "hs_lastmodifieddate";
}

int hs_hubspot_id_cmp(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    int c = strcmp(a, b);
    return (c > 0) - (c < 0);
}

/* ---- settings ------------------------------------------------------------------------------ */

struct map_def {
    enum hs_kind kind;
    enum hs_hubspot_src src;
    const char *field;
    const char *prop;
    enum hs_hubspot_conv conv;
    bool read_only;
};

#define CUST HS_KIND_CUSTOMER
#define ITEM HS_KIND_ITEM
#define INV  HS_KIND_INVOICE
#define MAIN HS_HUBSPOT_SRC_MAIN
#define CONT HS_HUBSPOT_SRC_CONTACT
#define LINE HS_HUBSPOT_SRC_LINE

/* The default mapping; "external_refs.@" is the accounting reference (accounting_ref_key). */
static const struct map_def map_defaults[] = {
    {CUST, MAIN, "display_name", "name", HS_HUBSPOT_STR, false},
    {CUST, MAIN, "company_name", "name", HS_HUBSPOT_STR, false},
    {CUST, MAIN, "website", "website", HS_HUBSPOT_STR, false},
    {CUST, MAIN, "phone", "phone", HS_HUBSPOT_STR, false},
    {CUST, MAIN, "billing_address.line1", "address", HS_HUBSPOT_STR, false},
    {CUST, MAIN, "billing_address.line2", "address2", HS_HUBSPOT_STR, false},
    {CUST, MAIN, "billing_address.city", "city", HS_HUBSPOT_STR, false},
    {CUST, MAIN, "billing_address.region", "state", HS_HUBSPOT_STR, false},
    {CUST, MAIN, "billing_address.postcode", "zip", HS_HUBSPOT_STR, false},
    {CUST, MAIN, "billing_address.country", "country", HS_HUBSPOT_COUNTRY, false},
    {CUST, MAIN, "notes", "description", HS_HUBSPOT_STR, false},
    {CUST, MAIN, "external_refs.@", "hoopsync_customer_id", HS_HUBSPOT_STR, false},
    {CUST, CONT, "email", "email", HS_HUBSPOT_STR, false},
    /* the phone is the primary contact's (phone, else mobilephone), else the company's: a
       contact map replaces the company's value when it has one, and the later one wins */
    {CUST, CONT, "phone", "mobilephone", HS_HUBSPOT_STR, true},
    {CUST, CONT, "phone", "phone", HS_HUBSPOT_STR, false},
    {CUST, CONT, "given_name", "firstname", HS_HUBSPOT_STR, false},
    {CUST, CONT, "family_name", "lastname", HS_HUBSPOT_STR, false},
    {ITEM, MAIN, "name", "name", HS_HUBSPOT_STR, false},
    {ITEM, MAIN, "sku", "hs_sku", HS_HUBSPOT_STR, false},
    {ITEM, MAIN, "description", "description", HS_HUBSPOT_STR, false},
    {ITEM, MAIN, "unit_price", "price", HS_HUBSPOT_MONEY, false},
    {INV, MAIN, "number", "hoopsync_invoice_number", HS_HUBSPOT_STR, false},
    {INV, MAIN, "status", "hoopsync_payment_status", HS_HUBSPOT_STATUS, false},
    {INV, MAIN, "amount_paid", "hoopsync_amount_paid", HS_HUBSPOT_MONEY, false},
    {INV, MAIN, "balance", "hoopsync_amount_due", HS_HUBSPOT_MONEY, false},
    {INV, MAIN, "external_refs.invoice_url", "hoopsync_invoice_url", HS_HUBSPOT_STR, false},
    {INV, MAIN, "custom.hoopsync_last_payment_date", "hoopsync_last_payment_date", HS_HUBSPOT_DATE,
     false},
    {INV, MAIN, "memo", "dealname", HS_HUBSPOT_STR, true},
    {INV, MAIN, "currency", "deal_currency_code", HS_HUBSPOT_CURRENCY, true},
    {INV, MAIN, "issue_date", "closedate", HS_HUBSPOT_DATE, true},
    {INV, MAIN, "total", "amount", HS_HUBSPOT_MONEY, true},
    {INV, MAIN, "custom.dealstage", "dealstage", HS_HUBSPOT_STR, true},
    {INV, MAIN, "custom.pipeline", "pipeline", HS_HUBSPOT_STR, true},
    {INV, LINE, "item_ref", "hs_product_id", HS_HUBSPOT_STR, true},
    {INV, LINE, "description", "name", HS_HUBSPOT_STR, true},
    {INV, LINE, "quantity", "quantity", HS_HUBSPOT_DECIMAL, true},
    {INV, LINE, "unit_price", "price", HS_HUBSPOT_MONEY, true},
    {INV, LINE, "discount_percent", "hs_discount_percentage", HS_HUBSPOT_DECIMAL, true},
    {INV, LINE, "amount", "amount", HS_HUBSPOT_MONEY, true},
};

void hs_hubspot_settings_release(struct hs_hubspot_settings *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; s->won_stages != NULL && i < s->n_won_stages; i++)
        hs_free(s->won_stages[i]);
    hs_free(s->won_stages);
    for (size_t i = 0; i < s->n_maps; i++) {
        hs_free(s->maps[i].field);
        hs_free(s->maps[i].prop);
    }
    hs_free(s->maps);
    hs_free(s->pipeline);
    hs_free(s->webhook_url);
    memset(s, 0, sizeof *s);
}

static int add_map(struct hs_hubspot_settings *s, enum hs_kind kind, enum hs_hubspot_src src,
                   const char *field, const char *prop, enum hs_hubspot_conv conv, bool ro)
{
    struct hs_hubspot_map *m = hs_reallocarray(s->maps, s->n_maps + 1, sizeof *m);
    if (m == NULL)
        return HS_ENOMEM;
    s->maps = m;
    struct hs_hubspot_map *x = &m[s->n_maps];
    x->kind = kind;
    x->src = src;
    x->conv = conv;
    x->read_only = ro;
    x->field = hs_strdup(field);
    x->prop = hs_strdup(prop);
    if (x->field == NULL || x->prop == NULL) {
        hs_free(x->field);
        hs_free(x->prop);
        return HS_ENOMEM;
    }
    s->n_maps++;
    return HS_OK;
}

static bool valid_prop_name(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 100)
        return false;
    for (; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

/* Checks that field is a text field of kind (line: of an invoice line). */
static int check_text_field(enum hs_kind kind, bool line, const char *field, struct hs_error *err)
{
    struct hs_fields f;
    hs_fields_init(&f);
    char name[HS_FIELD_NAME_MAX + 16];
    snprintf(name, sizeof name, "%s%s", line ? "lines[0]." : "", field);
    int rc = hs_fields_set(&f, name, "x");
    struct hs_record *r = NULL;
    if (rc == HS_OK)
        rc = hs_record_from_fields(kind, &f, &r, NULL);
    hs_record_free(r);
    hs_fields_release(&f);
    if (rc == HS_ENOMEM)
        return rc;
    if (rc != HS_OK)
        return hs_error_set(
            err, HS_EINVAL,
            "invalid HubSpot settings: 'properties': field '%s' is not a text field "
            "of %s%s",
            field, line ? "an invoice line of " : "", hs_kind_name(kind));
    return HS_OK;
}

static int apply_overrides(struct hs_hubspot_settings *s, const json_t *props, struct hs_error *err)
{
    static const struct {
        const char *key;
        enum hs_kind kind;
        enum hs_hubspot_src src;
    } groups[] = {{"customer", CUST, MAIN},
                  {"item", ITEM, MAIN},
                  {"invoice", INV, MAIN},
                  {"line", INV, LINE}};
    if (props == NULL)
        return HS_OK;
    if (!json_is_object(props))
        return hs_error_set(err, HS_EINVAL,
                            "invalid HubSpot settings: 'properties' must be an object");
    const char *gkey;
    json_t *gv;
    json_object_foreach((json_t *)(uintptr_t)props, gkey, gv)
    {
        size_t g = 0;
        while (g < sizeof groups / sizeof groups[0] && strcmp(groups[g].key, gkey) != 0)
            g++;
        if (g == sizeof groups / sizeof groups[0] || !json_is_object(gv))
            return hs_error_set(err, HS_EINVAL,
                                "invalid HubSpot settings: 'properties.%s': expected an object "
                                "under customer, item, invoice or line",
                                gkey);
        const char *field;
        json_t *pv;
        json_object_foreach(gv, field, pv)
        {
            const char *prop = json_string_value(pv);
            if (prop == NULL || (prop[0] != '\0' && !valid_prop_name(prop)))
                return hs_error_set(err, HS_EINVAL,
                                    "invalid HubSpot settings: 'properties.%s.%s': expected a "
                                    "HubSpot property name or \"\"",
                                    gkey, field);
            /* a field read from the company and the contact both (phone) names the company's
               property: its contact maps are turned off */
            bool on_main = false;
            for (size_t i = 0; i < s->n_maps; i++)
                on_main |= s->maps[i].kind == groups[g].kind &&
                           s->maps[i].src == HS_HUBSPOT_SRC_MAIN && groups[g].src != LINE &&
                           strcmp(s->maps[i].field, field) == 0;
            bool found = false;
            for (size_t i = 0; i < s->n_maps; i++) {
                struct hs_hubspot_map *m = &s->maps[i];
                bool is_line = m->src == HS_HUBSPOT_SRC_LINE;
                if (m->kind != groups[g].kind || is_line != (groups[g].src == LINE) ||
                    strcmp(m->field, field) != 0)
                    continue;
                found = true;
                char *copy = hs_strdup(on_main && m->src == HS_HUBSPOT_SRC_CONTACT ? "" : prop);
                if (copy == NULL)
                    return HS_ENOMEM;
                hs_free(m->prop);
                m->prop = copy; /* "" disables the mapping */
            }
            if (found || prop[0] == '\0')
                continue;
            int rc = check_text_field(groups[g].kind, groups[g].src == LINE, field, err);
            if (rc == HS_OK)
                rc = add_map(s, groups[g].kind, groups[g].src, field, prop, HS_HUBSPOT_STR, false);
            if (rc != HS_OK)
                return rc;
        }
    }
    return HS_OK;
}

static int apply_custom(struct hs_hubspot_settings *s, const json_t *custom, struct hs_error *err)
{
    static const struct {
        const char *key;
        enum hs_kind kind;
    } groups[] = {{"customer", CUST}, {"item", ITEM}, {"invoice", INV}};
    if (custom == NULL)
        return HS_OK;
    if (!json_is_object(custom))
        return hs_error_set(err, HS_EINVAL,
                            "invalid HubSpot settings: 'custom_properties' must be an object");
    const char *gkey;
    json_t *gv;
    json_object_foreach((json_t *)(uintptr_t)custom, gkey, gv)
    {
        size_t g = 0;
        while (g < sizeof groups / sizeof groups[0] && strcmp(groups[g].key, gkey) != 0)
            g++;
        if (g == sizeof groups / sizeof groups[0] || !json_is_array(gv))
            return hs_error_set(err, HS_EINVAL,
                                "invalid HubSpot settings: 'custom_properties.%s': expected an "
                                "array under customer, item or invoice",
                                gkey);
        size_t i;
        json_t *pv;
        json_array_foreach(gv, i, pv)
        {
            const char *prop = json_string_value(pv);
            if (prop == NULL || !valid_prop_name(prop))
                return hs_error_set(err, HS_EINVAL,
                                    "invalid HubSpot settings: 'custom_properties.%s[%zu]': "
                                    "expected a HubSpot property name",
                                    gkey, i);
            char field[160];
            snprintf(field, sizeof field, "custom.%s", prop);
            int rc =
                add_map(s, groups[g].kind, HS_HUBSPOT_SRC_MAIN, field, prop, HS_HUBSPOT_STR, false);
            if (rc != HS_OK)
                return rc;
        }
    }
    return HS_OK;
}

static int opt_string(const json_t *obj, const char *key, const char **out, struct hs_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return HS_OK;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return hs_error_set(err, HS_EINVAL,
                            "invalid HubSpot settings: '%s' must be a non-empty string", key);
    *out = json_string_value(v);
    return HS_OK;
}

int hs_hubspot_settings_parse(const json_t *settings, struct hs_hubspot_settings *out,
                              struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = HS_OK;
    if (settings != NULL && !json_is_object(settings))
        return hs_error_set(err, HS_EINVAL, "invalid HubSpot settings: expected an object");
    const char *currency = NULL, *pipeline = NULL, *hook = NULL, *refkey = NULL;
    if ((rc = opt_string(settings, "currency", &currency, err)) != HS_OK ||
        (rc = opt_string(settings, "pipeline", &pipeline, err)) != HS_OK ||
        (rc = opt_string(settings, "webhook_url", &hook, err)) != HS_OK ||
        (rc = opt_string(settings, "accounting_ref_key", &refkey, err)) != HS_OK)
        return rc;
    if (currency == NULL)
        currency = "USD";
    if (strlen(currency) != 3 || hs_currency_find(currency) == NULL)
        return hs_error_set(err, HS_EINVAL,
                            "invalid HubSpot settings: 'currency': unknown currency '%s'",
                            currency);
    memcpy(out->currency, currency, 4);
    if (refkey == NULL)
        refkey = "accounting";
    if (strlen(refkey) > 64)
        return hs_error_set(err, HS_EINVAL,
                            "invalid HubSpot settings: 'accounting_ref_key' is too long");
    json_t *stages = json_object_get(settings, "closed_won_stages");
    if (stages != NULL &&
        (!json_is_array(stages) || json_array_size(stages) == 0 || json_array_size(stages) > 16))
        return hs_error_set(err, HS_EINVAL,
                            "invalid HubSpot settings: 'closed_won_stages' must be an array of 1 "
                            "to 16 stage ids");
    size_t n_stages = stages ? json_array_size(stages) : 1;
    out->won_stages = hs_calloc(n_stages, sizeof *out->won_stages);
    if (out->won_stages == NULL)
        goto oom;
    for (size_t i = 0; i < n_stages; i++) {
        const char *st = stages ? json_string_value(json_array_get(stages, i)) : "closedwon";
        if (st == NULL || st[0] == '\0' || strlen(st) > 100) {
            rc = hs_error_set(err, HS_EINVAL,
                              "invalid HubSpot settings: 'closed_won_stages[%zu]' must be a "
                              "stage id",
                              i);
            goto fail;
        }
        out->won_stages[i] = hs_strdup(st);
        if (out->won_stages[i] == NULL)
            goto oom;
        out->n_won_stages++;
    }
    if (pipeline != NULL && (out->pipeline = hs_strdup(pipeline)) == NULL)
        goto oom;
    if (hook != NULL && (out->webhook_url = hs_strdup(hook)) == NULL)
        goto oom;
    for (size_t i = 0; i < sizeof map_defaults / sizeof map_defaults[0]; i++) {
        const struct map_def *d = &map_defaults[i];
        char field[96];
        if (strcmp(d->field, "external_refs.@") == 0)
            snprintf(field, sizeof field, "external_refs.%s", refkey);
        else
            snprintf(field, sizeof field, "%s", d->field);
        rc = add_map(out, d->kind, d->src, field, d->prop, d->conv, d->read_only);
        if (rc != HS_OK)
            goto fail;
    }
    rc = apply_overrides(out, json_object_get(settings, "properties"), err);
    if (rc == HS_OK)
        rc = apply_custom(out, json_object_get(settings, "custom_properties"), err);
    if (rc != HS_OK)
        goto fail;
    return HS_OK;
oom:
    rc = hs_error_set(err, HS_ENOMEM, "cannot read HubSpot settings: out of memory");
fail:
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "cannot read HubSpot settings: out of memory");
    hs_hubspot_settings_release(out);
    return rc;
}

int hs_hubspot_describe_fields(const void *settings, enum hs_kind kind, struct hs_field_names *out,
                               struct hs_error *err)
{
    struct hs_hubspot_settings s;
    int rc = hs_hubspot_settings_parse(settings, &s, err);
    if (rc != HS_OK)
        return rc;
    /* the maps are what hs_hubspot_to_customer / _to_item read: the names cannot drift */
    for (size_t i = 0; rc == HS_OK && i < s.n_maps; i++) {
        const struct hs_hubspot_map *m = &s.maps[i];
        if (m->kind == kind && m->src != HS_HUBSPOT_SRC_LINE && m->prop[0] != '\0')
            rc = hs_field_names_add(out, m->prop, m->field);
    }
    hs_hubspot_settings_release(&s);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot describe HubSpot fields: out of memory");
    return HS_OK;
}

json_t *hs_hubspot_props_for(const struct hs_hubspot_settings *s, enum hs_kind kind,
                             enum hs_hubspot_src src)
{
    json_t *a = json_array();
    json_t *seen = json_object();
    if (a == NULL || seen == NULL)
        goto fail;
    const char *lastmod =
        src == HS_HUBSPOT_SRC_CONTACT ? "lastmodifieddate" : "hs_lastmodifieddate";
    if (json_array_append_new(a, json_string(lastmod)) != 0 ||
        json_object_set_new(seen, lastmod, json_true()) != 0)
        goto fail;
    if (kind == HS_KIND_INVOICE && src == HS_HUBSPOT_SRC_LINE &&
        (json_array_append_new(a, json_string("hs_line_item_currency_code")) != 0))
        goto fail;
    for (size_t i = 0; i < s->n_maps; i++) {
        const struct hs_hubspot_map *m = &s->maps[i];
        if (m->kind != kind || m->src != src || m->prop[0] == '\0' ||
            json_object_get(seen, m->prop) != NULL)
            continue;
        if (json_array_append_new(a, json_string(m->prop)) != 0 ||
            json_object_set_new(seen, m->prop, json_true()) != 0)
            goto fail;
    }
    json_decref(seen);
    return a;
fail:
    json_decref(seen);
    json_decref(a);
    return NULL;
}

/* ---- time ------------------------------------------------------------------------------- */

static bool digits(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int hs_hubspot_parse_time(const char *s, size_t len, int64_t *out_ms)
{
    int64_t v;
    if (s == NULL || len == 0 || len > 40)
        return HS_EINVAL;
    if (len >= 1 && len <= 15 && digits(s, len, &v)) { /* epoch milliseconds */
        *out_ms = v;
        return HS_OK;
    }
    int64_t y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
    if (len < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return HS_EINVAL;
    struct hs_date date = {(int16_t)y, (int8_t)mo, (int8_t)d};
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || !hs_date_valid(date))
        return HS_EINVAL;
    size_t i = 10;
    int64_t offset_min = 0;
    if (i < len) {
        if (s[i] != 'T' || len < 19 || !digits(s + 11, 2, &h) || s[13] != ':' ||
            !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec) || h > 23 ||
            mi > 59 || sec > 60)
            return HS_EINVAL;
        i = 19;
        if (i < len && s[i] == '.') {
            size_t k = ++i;
            int64_t frac = 0, scale = 0;
            while (i < len && s[i] >= '0' && s[i] <= '9') {
                if (scale < 3) {
                    frac = frac * 10 + (s[i] - '0');
                    scale++;
                }
                i++;
            }
            if (i == k)
                return HS_EINVAL;
            while (scale++ < 3)
                frac *= 10;
            ms = frac;
        }
        if (i == len)
            return HS_EINVAL; /* a time needs a zone */
        if (s[i] == 'Z' && i + 1 == len) {
            i++;
        } else if ((s[i] == '+' || s[i] == '-') && i + 6 == len && s[i + 3] == ':') {
            int64_t oh, om;
            if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
                return HS_EINVAL;
            offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        } else {
            return HS_EINVAL;
        }
    }
    int64_t days = hs_days_from_civil(y, mo, d);
    *out_ms = ((days * 24 + h) * 60 + mi - offset_min) * 60000 + sec * 1000 + ms;
    return HS_OK;
}

/* ---- cursors ------------------------------------------------------------------------------ */

static const char *const phase_names[] = {"first", "companies", "contacts"};

/* One cursor number: 1..19 digits, no sign, at most INT64_MAX. */
static bool cursor_num(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 19 || s[0] < '0' || s[0] > '9')
        return false;
    return hs_str_to_i64(s, n, out) == HS_OK;
}

int hs_hubspot_cursor_parse(const char *s, size_t len, struct hs_hubspot_cursor *out,
                            struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    const char *part[5];
    size_t plen[5];
    size_t n = 0;
    if (len < 7 || len > 128 || (memcmp(s, "v1:", 3) != 0 && memcmp(s, "v2:", 3) != 0))
        goto bad;
    bool v2 = s[1] == '2';
    const char *p = s + 3;
    const char *end = s + len;
    while (n < 5) {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        part[n] = p;
        plen[n] = colon ? (size_t)(colon - p) : (size_t)(end - p);
        n++;
        if (colon == NULL)
            break;
        p = colon + 1;
    }
    if (n != (v2 ? 5u : 2u) || part[n - 1] + plen[n - 1] != end)
        goto bad;
    if (!cursor_num(part[0], plen[0], &out->ms) || !cursor_num(part[1], plen[1], &out->id))
        goto bad;
    out->phase = HS_HUBSPOT_PHASE_MAIN;
    if (!v2)
        return HS_OK;
    if (!cursor_num(part[2], plen[2], &out->contact_ms) ||
        !cursor_num(part[3], plen[3], &out->contact_id))
        goto bad;
    size_t k = 0;
    while (k < sizeof phase_names / sizeof phase_names[0] &&
           (strlen(phase_names[k]) != plen[4] || memcmp(phase_names[k], part[4], plen[4]) != 0))
        k++;
    if (k == sizeof phase_names / sizeof phase_names[0])
        goto bad;
    out->has_contacts = true;
    out->phase = (enum hs_hubspot_phase)k;
    return HS_OK;
bad:
    memset(out, 0, sizeof *out);
    return hs_error_set(err, HS_EINVAL,
                        "invalid HubSpot cursor '%.*s': expected 'v1:<modified ms>:<id>' or "
                        "'v2:<modified ms>:<id>:<contact ms>:<contact id>:<phase>'",
                        (int)(len > 64 ? 64 : len), s);
}

char *hs_hubspot_cursor_format(const struct hs_hubspot_cursor *c)
{
    if (!c->has_contacts)
        return hs_asprintf("v1:%lld:%lld", (long long)c->ms, (long long)c->id);
    unsigned ph = (unsigned)c->phase < 3 ? (unsigned)c->phase : 1;
    return hs_asprintf("v2:%lld:%lld:%lld:%lld:%s", (long long)c->ms, (long long)c->id,
                       (long long)c->contact_ms, (long long)c->contact_id, phase_names[ph]);
}

/* ---- answers ------------------------------------------------------------------------------ */

void hs_hubspot_page_release(struct hs_hubspot_page *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_objs; i++) {
        hs_free(p->objs[i].id);
        hs_free(p->objs[i].trace);
        json_decref(p->objs[i].props);
    }
    hs_free(p->objs);
    for (size_t i = 0; i < p->n_errs; i++) {
        hs_free(p->errs[i].message);
        json_decref(p->errs[i].context);
    }
    hs_free(p->errs);
    hs_free(p->after);
    memset(p, 0, sizeof *p);
    p->total = -1;
}

/* An id as text: a non-empty string of at most HS_HUBSPOT_MAX_ID bytes without NUL, or an
 * integer. HS_OK, HS_EINVAL (not an id), HS_ENOMEM. */
static int id_dup(const json_t *v, char **out)
{
    *out = NULL;
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        if (n == 0 || n > HS_HUBSPOT_MAX_ID || strlen(json_string_value(v)) != n)
            return HS_EINVAL;
        *out = hs_strdup(json_string_value(v));
    } else if (json_is_integer(v)) {
        *out = hs_asprintf("%lld", (long long)json_integer_value(v));
    } else {
        return HS_EINVAL;
    }
    return *out ? HS_OK : HS_ENOMEM;
}

/* Properties as strings only: integers as their text, null and other types left out. */
static json_t *string_props(const json_t *props)
{
    json_t *out = json_object();
    if (out == NULL)
        return NULL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)props, k, v)
    {
        json_t *s = NULL;
        if (json_is_string(v)) {
            if (strlen(json_string_value(v)) != json_string_length(v))
                continue; /* an embedded NUL: not a value we can carry */
            s = json_incref(v);
        } else if (json_is_integer(v)) {
            char buf[32];
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
            s = json_string(buf);
            if (s == NULL)
                goto fail;
        } else {
            continue;
        }
        if (json_object_set_new(out, k, s) != 0)
            goto fail;
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

static int err_code_of(const char *category)
{
    if (hs_str_eq(category, "OBJECT_NOT_FOUND"))
        return HS_ENOTFOUND;
    if (hs_str_eq(category, "CONFLICT") || hs_str_eq(category, "OBJECT_ALREADY_EXISTS"))
        return HS_EEXIST;
    if (hs_str_eq(category, "VALIDATION_ERROR"))
        return HS_EINVAL;
    return HS_EPROTO;
}

#define JSON_MAX_DEPTH 32

static int parse_json(const uint8_t *buf, size_t len, const char *what, json_t **out,
                      struct hs_error *err)
{
    *out = NULL;
    if (len > HS_HUBSPOT_MAX_BODY)
        return hs_error_set(err, HS_ETOOBIG, "cannot read HubSpot %s: %zu bytes, the limit is %zu",
                            what, len, HS_HUBSPOT_MAX_BODY);
    static const struct hs_json_build_opts fast = {JSON_MAX_DEPTH, false, false, 0};
    *out = hs_json_build(buf, len, &fast);
    if (*out != NULL)
        return HS_OK;
    /* refused: checked first (util/json.h), so a jansson failure is content or memory */
    int syn = hs_json_check(buf, len, JSON_MAX_DEPTH, false, NULL);
    if (syn == HS_ETOOBIG)
        return hs_error_set(err, HS_ETOOBIG, "cannot read HubSpot %s: nested deeper than %d levels",
                            what, JSON_MAX_DEPTH);
    if (syn != HS_OK)
        return hs_error_set(err, HS_EPROTO, "cannot read HubSpot %s: not valid JSON", what);
    json_error_t jerr;
    memset(&jerr, 0, sizeof jerr); /* a load cut short by memory sets no error code */
    *out = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (*out != NULL)
        return HS_OK;
    char name[64];
    snprintf(name, sizeof name, "HubSpot %s", what);
    return hs_json_load_error(&jerr, name, err);
}

int hs_hubspot_parse_page(const uint8_t *buf, size_t len, struct hs_hubspot_page *out,
                          struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    out->total = -1;
    json_t *root = NULL;
    int rc = parse_json(buf, len, "answer", &root, err);
    if (rc != HS_OK)
        return rc;
    const char *why = NULL;
    json_t *results = json_object_get(root, "results");
    json_t *errors = json_object_get(root, "errors");
    if (!json_is_object(root)) {
        why = "expected an object";
        goto bad;
    }
    if (results != NULL && !json_is_array(results)) {
        why = "'results' is not an array";
        goto bad;
    }
    if (errors != NULL && !json_is_array(errors)) {
        why = "'errors' is not an array";
        goto bad;
    }
    if (json_array_size(results) > HS_HUBSPOT_MAX_RESULTS ||
        json_array_size(errors) > HS_HUBSPOT_MAX_RESULTS) {
        json_decref(root);
        return hs_error_set(err, HS_ETOOBIG,
                            "cannot read HubSpot answer: more than %d results or errors",
                            HS_HUBSPOT_MAX_RESULTS);
    }
    json_t *total = json_object_get(root, "total");
    if (json_is_integer(total))
        out->total = json_integer_value(total);
    const char *after =
        hs_json_str(json_object_get(json_object_get(root, "paging"), "next"), "after");
    if (after != NULL && (out->after = hs_strndup(after, 64)) == NULL)
        goto oom;
    if (json_array_size(results) > 0) {
        out->objs = hs_calloc(json_array_size(results), sizeof *out->objs);
        if (out->objs == NULL)
            goto oom;
    }
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r)
    {
        json_t *props = json_object_get(r, "properties");
        if (!json_is_object(r) || (props != NULL && !json_is_object(props))) {
            why = "a result is not an object with 'properties'";
            goto bad;
        }
        struct hs_hubspot_obj_rec *o = &out->objs[out->n_objs];
        int idrc = id_dup(json_object_get(r, "id"), &o->id);
        if (idrc == HS_ENOMEM)
            goto oom;
        if (idrc != HS_OK) {
            why = "a result has no valid 'id'";
            goto bad;
        }
        out->n_objs++;
        o->props = string_props(props);
        if (o->props == NULL)
            goto oom;
        const char *trace = hs_json_str(r, "objectWriteTraceId");
        if (trace != NULL && (o->trace = hs_strndup(trace, 128)) == NULL)
            goto oom;
        const char *upd = hs_json_str(r, "updatedAt");
        const char *lm = hs_json_str(o->props, "hs_lastmodifieddate");
        if (lm == NULL)
            lm = hs_json_str(o->props, "lastmodifieddate");
        int64_t ms = 0;
        if ((lm != NULL && hs_hubspot_parse_time(lm, strlen(lm), &ms) == HS_OK) ||
            (upd != NULL && hs_hubspot_parse_time(upd, strlen(upd), &ms) == HS_OK))
            o->updated_ms = ms;
    }
    if (json_array_size(errors) > 0) {
        out->errs = hs_calloc(json_array_size(errors), sizeof *out->errs);
        if (out->errs == NULL)
            goto oom;
    }
    json_array_foreach(errors, i, r)
    {
        if (!json_is_object(r)) {
            why = "an error is not an object";
            goto bad;
        }
        struct hs_hubspot_batch_err *e = &out->errs[out->n_errs++];
        e->code = err_code_of(hs_json_str(r, "category"));
        const char *msg = hs_json_str(r, "message");
        e->message = hs_strndup(msg ? msg : "(no message)", 400);
        if (e->message == NULL)
            goto oom;
        json_t *ctx = json_object_get(r, "context");
        if (json_is_object(ctx))
            e->context = json_incref(ctx);
    }
    json_decref(root);
    return HS_OK;
bad:
    json_decref(root);
    hs_hubspot_page_release(out);
    return hs_error_set(err, HS_EPROTO, "cannot read HubSpot answer: %s", why);
oom:
    json_decref(root);
    hs_hubspot_page_release(out);
    return hs_error_set(err, HS_ENOMEM, "cannot read HubSpot answer: out of memory");
}

/* ---- associations ------------------------------------------------------------------------- */

void hs_hubspot_assocs_release(struct hs_hubspot_assocs *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n_items; i++) {
        hs_free(a->items[i].from);
        hs_free(a->items[i].to);
    }
    hs_free(a->items);
    memset(a, 0, sizeof *a);
}

int hs_hubspot_parse_assocs(const uint8_t *buf, size_t len, int32_t primary_type,
                            struct hs_hubspot_assocs *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = NULL;
    int rc = parse_json(buf, len, "associations answer", &root, err);
    if (rc != HS_OK)
        return rc;
    const char *why = NULL;
    json_t *results = json_object_get(root, "results");
    if (!json_is_object(root) || (results != NULL && !json_is_array(results))) {
        why = "expected an object with a 'results' array";
        goto bad;
    }
    size_t cap = 0;
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r)
    {
        json_t *to = json_object_get(r, "to");
        const json_t *from_id = json_object_get(json_object_get(r, "from"), "id");
        if (!json_is_array(to) || from_id == NULL) {
            why = "a result needs 'from.id' and a 'to' array";
            goto bad;
        }
        size_t k;
        json_t *t;
        json_array_foreach(to, k, t)
        {
            if (out->n_items >= (size_t)HS_HUBSPOT_MAX_RESULTS * 10) {
                json_decref(root);
                hs_hubspot_assocs_release(out);
                return hs_error_set(err, HS_ETOOBIG,
                                    "cannot read HubSpot associations answer: too many "
                                    "associations");
            }
            if (out->n_items == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                struct hs_hubspot_assoc *n = hs_reallocarray(out->items, ncap, sizeof *n);
                if (n == NULL)
                    goto oom;
                out->items = n;
                cap = ncap;
            }
            struct hs_hubspot_assoc *a = &out->items[out->n_items];
            memset(a, 0, sizeof *a);
            int rf = id_dup(from_id, &a->from);
            int rt = rf == HS_OK ? id_dup(json_object_get(t, "toObjectId"), &a->to) : rf;
            if (rf != HS_OK || rt != HS_OK) {
                hs_free(a->from);
                hs_free(a->to);
                a->from = a->to = NULL;
                if (rf == HS_ENOMEM || rt == HS_ENOMEM)
                    goto oom;
                why = "an association has no valid 'from.id' or 'toObjectId'";
                goto bad;
            }
            out->n_items++;
            size_t j;
            json_t *ty;
            json_array_foreach(json_object_get(t, "associationTypes"), j, ty)
            {
                json_t *tid = json_object_get(ty, "typeId");
                if (primary_type != 0 && json_is_integer(tid) &&
                    json_integer_value(tid) == primary_type)
                    a->primary = true;
            }
        }
    }
    json_decref(root);
    return HS_OK;
bad:
    json_decref(root);
    hs_hubspot_assocs_release(out);
    return hs_error_set(err, HS_EPROTO, "cannot read HubSpot associations answer: %s", why);
oom:
    json_decref(root);
    hs_hubspot_assocs_release(out);
    return hs_error_set(err, HS_ENOMEM, "cannot read HubSpot associations answer: out of memory");
}

const char *hs_hubspot_assocs_pick(const struct hs_hubspot_assocs *a, const char *from)
{
    const char *best = NULL;
    bool best_primary = false;
    for (size_t i = 0; i < a->n_items; i++) {
        const struct hs_hubspot_assoc *x = &a->items[i];
        if (strcmp(x->from, from) != 0)
            continue;
        if (best == NULL || (x->primary && !best_primary) ||
            (x->primary == best_primary && hs_hubspot_id_cmp(x->to, best) < 0)) {
            best = x->to;
            best_primary = x->primary;
        }
    }
    return best;
}

/* ---- records ------------------------------------------------------------------------------ */

static bool upper_alpha(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
            return false;
    return true;
}

/* Currency code of v ("usd" accepted), or NULL. */
static bool currency_of(const char *v, char out[4])
{
    if (v == NULL || !upper_alpha(v, 3))
        return false;
    for (int i = 0; i < 3; i++)
        out[i] = (char)(v[i] >= 'a' ? v[i] - 32 : v[i]);
    out[3] = '\0';
    return hs_currency_find(out) != NULL;
}

static const char *status_in(const char *v)
{
    static const char *const names[][2] = {
        {"unpaid", "open"},     {"paid", "paid"}, {"partially_paid", "partially_paid"},
        {"overdue", "overdue"}, {"void", "void"}, {"draft", "draft"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (hs_str_eq(v, names[i][0]))
            return names[i][1];
    return NULL;
}

/*
 * Converts one property value to its canonical field text and sets it. A value that does
 * not convert is skipped (HS_OK): HubSpot holds free text, and a bad value must not hide the
 * rest of the record. Only HS_ENOMEM is an error.
 */
static int put_value(struct hs_fields *f, const char *name, enum hs_hubspot_conv conv,
                     const char *v, const char *currency)
{
    if (v == NULL || v[0] == '\0')
        return HS_OK;
    size_t len = strlen(v);
    char buf[HS_MONEY_FMT_MAX + 8];
    const char *text = NULL;
    switch (conv) {
    case HS_HUBSPOT_STR:
        if (len > HS_FIELD_VALUE_MAX)
            return HS_OK;
        text = v;
        break;
    case HS_HUBSPOT_MONEY: {
        struct hs_money m;
        char amt[HS_MONEY_FMT_MAX];
        if (currency == NULL ||
            hs_money_parse(v, len, currency, HS_ROUND_HALF_UP, &m, NULL) != HS_OK ||
            hs_money_format(&m, amt, sizeof amt) < 0)
            return HS_OK;
        snprintf(buf, sizeof buf, "%s %s", currency, amt);
        text = buf;
        break;
    }
    case HS_HUBSPOT_DECIMAL: {
        struct hs_decimal d;
        if (hs_decimal_parse(v, len, HS_ROUND_HALF_UP, &d, NULL) != HS_OK ||
            hs_decimal_format(d, buf, sizeof buf) < 0)
            return HS_OK;
        text = buf;
        break;
    }
    case HS_HUBSPOT_DATE: {
        int64_t ms;
        if (hs_hubspot_parse_time(v, len, &ms) != HS_OK)
            return HS_OK;
        int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
        int64_t y, m, d;
        hs_civil_from_days(days, &y, &m, &d);
        if (y < 1 || y > 9999)
            return HS_OK;
        snprintf(buf, sizeof buf, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
        text = buf;
        break;
    }
    case HS_HUBSPOT_COUNTRY:
        if (!upper_alpha(v, 2))
            return HS_OK;
        buf[0] = (char)(v[0] >= 'a' ? v[0] - 32 : v[0]);
        buf[1] = (char)(v[1] >= 'a' ? v[1] - 32 : v[1]);
        buf[2] = '\0';
        text = buf;
        break;
    case HS_HUBSPOT_CURRENCY:
        if (!currency_of(v, buf))
            return HS_OK;
        text = buf;
        break;
    case HS_HUBSPOT_STATUS:
        text = status_in(v);
        if (text == NULL)
            return HS_OK;
        break;
    }
    return hs_fields_set(f, name, text);
}

static int put_maps(const struct hs_hubspot_settings *s, struct hs_fields *f, enum hs_kind kind,
                    enum hs_hubspot_src src, const json_t *props, const char *prefix,
                    const char *currency)
{
    for (size_t i = 0; i < s->n_maps; i++) {
        const struct hs_hubspot_map *m = &s->maps[i];
        if (m->kind != kind || m->src != src || m->prop[0] == '\0')
            continue;
        char name[HS_FIELD_NAME_MAX + 32];
        snprintf(name, sizeof name, "%s%s", prefix, m->field);
        int rc = put_value(f, name, m->conv, hs_json_str(props, m->prop), currency);
        if (rc != HS_OK)
            return rc;
    }
    return HS_OK;
}

static int finish(enum hs_kind kind, struct hs_fields *f, const struct hs_hubspot_obj_rec *o,
                  struct hs_record **out, struct hs_error *err)
{
    struct hs_error e2 = {0};
    int rc = hs_record_from_fields(kind, f, out, &e2);
    if (rc == HS_OK) {
        (*out)->id = hs_strdup(o->id);
        (*out)->updated_at = o->updated_ms;
        if ((*out)->id == NULL) {
            hs_record_free(*out);
            *out = NULL;
            rc = HS_ENOMEM;
        }
    }
    if (rc == HS_ENOMEM)
        return hs_error_set(err, HS_ENOMEM, "cannot convert HubSpot object %s: out of memory",
                            o->id);
    if (rc != HS_OK)
        return hs_error_set(err, HS_EPROTO, "cannot convert HubSpot object %s: %s", o->id, e2.msg);
    return HS_OK;
}

int hs_hubspot_to_customer(const struct hs_hubspot_settings *s,
                           const struct hs_hubspot_obj_rec *company,
                           const struct hs_hubspot_obj_rec *contact, struct hs_record **out,
                           struct hs_error *err)
{
    *out = NULL;
    struct hs_fields f;
    hs_fields_init(&f);
    int rc = put_maps(s, &f, HS_KIND_CUSTOMER, HS_HUBSPOT_SRC_MAIN, company->props, "", NULL);
    if (rc == HS_OK && contact != NULL)
        rc = put_maps(s, &f, HS_KIND_CUSTOMER, HS_HUBSPOT_SRC_CONTACT, contact->props, "", NULL);
    if (rc == HS_OK)
        rc = finish(HS_KIND_CUSTOMER, &f, company, out, err);
    else
        hs_error_set(err, rc, "cannot convert HubSpot company %s: out of memory", company->id);
    /* the customer changed when either object did: a contact edit leaves the company's date */
    if (rc == HS_OK && *out != NULL && contact != NULL && contact->updated_ms > (*out)->updated_at)
        (*out)->updated_at = contact->updated_ms;
    hs_fields_release(&f);
    return rc;
}

int hs_hubspot_to_item(const struct hs_hubspot_settings *s,
                       const struct hs_hubspot_obj_rec *product, struct hs_record **out,
                       struct hs_error *err)
{
    *out = NULL;
    struct hs_fields f;
    hs_fields_init(&f);
    int rc = put_maps(s, &f, HS_KIND_ITEM, HS_HUBSPOT_SRC_MAIN, product->props, "", s->currency);
    if (rc == HS_OK)
        rc = finish(HS_KIND_ITEM, &f, product, out, err);
    else
        hs_error_set(err, rc, "cannot convert HubSpot product %s: out of memory", product->id);
    hs_fields_release(&f);
    return rc;
}

static int line_cmp(const void *a, const void *b)
{
    const struct hs_hubspot_obj_rec *x = *(const struct hs_hubspot_obj_rec *const *)a;
    const struct hs_hubspot_obj_rec *y = *(const struct hs_hubspot_obj_rec *const *)b;
    return hs_hubspot_id_cmp(x->id, y->id);
}

int hs_hubspot_to_invoice(const struct hs_hubspot_settings *s,
                          const struct hs_hubspot_obj_rec *deal, const char *company_id,
                          const struct hs_hubspot_obj_rec *const *lines, size_t n_lines,
                          struct hs_record **out, struct hs_error *err)
{
    *out = NULL;
    if (n_lines > HS_RECORD_MAX_ITEMS)
        return hs_error_set(err, HS_ETOOBIG, "cannot convert HubSpot deal %s: %zu line items",
                            deal->id, n_lines);
    char cur[4];
    if (!currency_of(hs_json_str(deal->props, "deal_currency_code"), cur))
        memcpy(cur, s->currency, 4);
    const struct hs_hubspot_obj_rec **sorted = NULL;
    struct hs_fields f;
    hs_fields_init(&f);
    int rc = put_maps(s, &f, HS_KIND_INVOICE, HS_HUBSPOT_SRC_MAIN, deal->props, "", cur);
    if (rc == HS_OK && hs_fields_get(&f, "currency") == NULL)
        rc = hs_fields_set(&f, "currency", cur);
    if (rc == HS_OK && company_id != NULL)
        rc = hs_fields_set(&f, "customer_ref", company_id);
    if (rc == HS_OK && n_lines > 0) {
        sorted = hs_calloc(n_lines, sizeof *sorted); /* NOLINT(bugprone-sizeof-expression) */
        if (sorted == NULL)
            rc = HS_ENOMEM;
        else {
            memcpy(sorted, lines,
                   n_lines * sizeof *sorted);      /* NOLINT(bugprone-sizeof-expression) */
            qsort(sorted, n_lines, sizeof *sorted, /* NOLINT(bugprone-sizeof-expression) */
                  line_cmp);
        }
    }
    for (size_t i = 0; rc == HS_OK && i < n_lines; i++) {
        char lcur[4];
        if (!currency_of(hs_json_str(sorted[i]->props, "hs_line_item_currency_code"), lcur))
            memcpy(lcur, cur, 4);
        char prefix[32];
        snprintf(prefix, sizeof prefix, "lines[%zu].", i);
        size_t before = hs_fields_count(&f);
        rc = put_maps(s, &f, HS_KIND_INVOICE, HS_HUBSPOT_SRC_LINE, sorted[i]->props, prefix, lcur);
        /* a line with no mapped value would vanish from the field view and shift the others:
           keep it visible by its description */
        if (rc == HS_OK && hs_fields_count(&f) == before) {
            char name[48];
            snprintf(name, sizeof name, "lines[%zu].description", i);
            rc = hs_fields_set(&f, name, "");
        }
    }
    if (rc == HS_OK)
        rc = finish(HS_KIND_INVOICE, &f, deal, out, err);
    else
        hs_error_set(err, rc, "cannot convert HubSpot deal %s: out of memory", deal->id);
    hs_free(sorted);
    hs_fields_release(&f);
    return rc;
}

/* ---- writing ------------------------------------------------------------------------------ */

static bool named(const char *const *fields, size_t n, const char *field)
{
    for (size_t i = 0; i < n; i++)
        if (fields[i] != NULL && strcmp(fields[i], field) == 0)
            return true;
    return false;
}

/* Canonical field text -> HubSpot property text (into buf or v itself). */
static const char *value_out(enum hs_hubspot_conv conv, const char *v)
{
    switch (conv) {
    case HS_HUBSPOT_MONEY: {
        const char *sp = strchr(v, ' ');
        return sp ? sp + 1 : v;
    }
    case HS_HUBSPOT_STATUS:
        if (strcmp(v, "open") == 0 || strcmp(v, "draft") == 0)
            return "unpaid";
        return v;
    default:
        return v;
    }
}

int hs_hubspot_props_of(const struct hs_hubspot_settings *s, const struct hs_record *rec,
                        const char *const *fields, size_t n_fields, json_t **out_props,
                        json_t **out_contact, struct hs_error *err)
{
    *out_props = NULL;
    *out_contact = NULL;
    struct hs_fields view;
    hs_fields_init(&view);
    json_t *props = json_object();
    json_t *contact = json_object();
    int rc = props && contact ? HS_OK : HS_ENOMEM;
    if (rc == HS_OK)
        rc = hs_record_to_fields(rec, &view, err);
    for (size_t i = 0; rc == HS_OK && i < s->n_maps; i++) {
        const struct hs_hubspot_map *m = &s->maps[i];
        if (m->kind != rec->kind || m->src == HS_HUBSPOT_SRC_LINE || m->read_only ||
            m->prop[0] == '\0')
            continue;
        if (fields != NULL && !named(fields, n_fields, m->field))
            continue;
        json_t *dst = m->src == HS_HUBSPOT_SRC_CONTACT ? contact : props;
        const char *v = hs_fields_get(&view, m->field);
        const char *have = hs_json_str(dst, m->prop);
        if (v == NULL) {
            if (fields == NULL || have != NULL)
                continue; /* a clear never overrides a value */
            v = "";
        } else {
            if (have != NULL && have[0] != '\0')
                continue; /* the first mapped field of a property wins */
            v = value_out(m->conv, v);
            if (strlen(v) > 65536) {
                rc = hs_error_set(err, HS_EINVAL,
                                  "cannot write field '%s' to HubSpot: longer than HubSpot's "
                                  "65536 characters",
                                  m->field);
                break;
            }
        }
        json_t *js = json_string(v);
        if (js == NULL || json_object_set_new(dst, m->prop, js) != 0)
            rc = HS_ENOMEM;
    }
    hs_fields_release(&view);
    if (rc == HS_ENOMEM)
        hs_error_set(err, rc, "cannot build HubSpot properties: out of memory");
    if (rc != HS_OK) {
        json_decref(props);
        json_decref(contact);
        return rc;
    }
    *out_props = props;
    *out_contact = contact;
    return HS_OK;
}

/* ---- webhooks ----------------------------------------------------------------------------- */

int hs_hubspot_verify_signature(const char *secret, const char *method, const char *uri,
                                const uint8_t *body, size_t len, const char *timestamp,
                                const char *signature, int64_t now_ms, struct hs_error *err)
{
    if (secret == NULL || secret[0] == '\0')
        return hs_error_set(err, HS_EAUTH, "cannot verify HubSpot webhook: no secret configured");
    if (signature == NULL || timestamp == NULL)
        return hs_error_set(err, HS_EAUTH,
                            "rejected HubSpot webhook: missing X-HubSpot-Signature-v3 or "
                            "X-HubSpot-Request-Timestamp");
    int64_t ts;
    size_t tlen = strlen(timestamp);
    if (tlen == 0 || tlen > 15 || !digits(timestamp, tlen, &ts))
        return hs_error_set(err, HS_EAUTH,
                            "rejected HubSpot webhook: timestamp '%.20s' is not milliseconds",
                            timestamp);
    int64_t age = now_ms - ts;
    if (age > HS_HUBSPOT_WEBHOOK_MAX_AGE_MS || age < -HS_HUBSPOT_WEBHOOK_MAX_AGE_MS)
        return hs_error_set(err, HS_EAUTH,
                            "rejected HubSpot webhook: timestamp is %lld s away from now (limit "
                            "300 s)",
                            (long long)((age < 0 ? -age : age) / 1000));
    unsigned char got[crypto_auth_hmacsha256_BYTES + 8];
    size_t got_len = 0;
    size_t slen = strlen(signature);
    if (slen > 100 ||
        sodium_base642bin(got, sizeof got, signature, slen, NULL, &got_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got_len != crypto_auth_hmacsha256_BYTES)
        return hs_error_set(err, HS_EAUTH,
                            "rejected HubSpot webhook: X-HubSpot-Signature-v3 is not a base64 "
                            "HMAC-SHA256");
    if (sodium_init() < 0)
        return hs_error_set(err, HS_ECRYPTO, "cannot verify HubSpot webhook: libsodium failed");
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state h;
    crypto_auth_hmacsha256_init(&h, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)method, strlen(method));
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)uri, strlen(uri));
    if (len > 0)
        crypto_auth_hmacsha256_update(&h, body, len);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)timestamp, tlen);
    crypto_auth_hmacsha256_final(&h, mac);
    int same = sodium_memcmp(mac, got, sizeof mac);
    sodium_memzero(&h, sizeof h);
    if (same != 0)
        return hs_error_set(err, HS_EAUTH,
                            "rejected HubSpot webhook: X-HubSpot-Signature-v3 does not match");
    return HS_OK;
}

int hs_hubspot_parse_events(const uint8_t *buf, size_t len, struct hs_changes *out,
                            struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = NULL;
    int rc = parse_json(buf, len, "webhook delivery", &root, err);
    if (rc != HS_OK)
        return rc;
    if (!json_is_array(root)) {
        json_decref(root);
        return hs_error_set(err, HS_EPROTO,
                            "cannot read HubSpot webhook delivery: expected an array of events");
    }
    if (json_array_size(root) > HS_HUBSPOT_MAX_EVENTS) {
        json_decref(root);
        return hs_error_set(err, HS_ETOOBIG,
                            "cannot read HubSpot webhook delivery: %zu events, the limit is %d",
                            json_array_size(root), HS_HUBSPOT_MAX_EVENTS);
    }
    static const struct {
        const char *prefix;
        const char *kind;
    } types[] = {{"company.", "customer"}, {"deal.", "invoice"}, {"product.", "item"}};
    if (json_array_size(root) > 0) {
        out->items = hs_calloc(json_array_size(root), sizeof *out->items);
        if (out->items == NULL)
            goto oom;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(root, i, ev)
    {
        const char *type = hs_json_str(ev, "subscriptionType");
        json_t *oid = json_object_get(ev, "objectId");
        if (!json_is_object(ev) || type == NULL ||
            (!json_is_integer(oid) && !json_is_string(oid))) {
            json_decref(root);
            hs_changes_release(out);
            return hs_error_set(err, HS_EPROTO,
                                "cannot read HubSpot webhook delivery: event %zu needs "
                                "'subscriptionType' and 'objectId'",
                                i);
        }
        const char *kind = NULL;
        for (size_t k = 0; k < sizeof types / sizeof types[0] && kind == NULL; k++)
            if (hs_str_starts(type, types[k].prefix))
                kind = types[k].kind;
        if (kind == NULL)
            continue; /* contacts and others: not a record kind of ours */
        char *id = NULL;
        int idrc = id_dup(oid, &id);
        if (idrc == HS_ENOMEM)
            goto oom;
        if (idrc != HS_OK)
            continue; /* empty or oversized id: skip the event */
        struct hs_change *c = &out->items[out->n_items];
        enum hs_kind k = HS_KIND_NONE;
        if (hs_kind_parse(kind, &k, NULL) != HS_OK) {
            hs_free(id);
            continue;
        }
        c->kind = k;
        c->id = id;
        out->n_items++;
        c->deleted = hs_str_ends(type, ".deletion");
        json_t *at = json_object_get(ev, "occurredAt");
        c->updated_at = json_is_integer(at) ? json_integer_value(at) : 0;
    }
    json_decref(root);
    return HS_OK;
oom:
    json_decref(root);
    hs_changes_release(out);
    return hs_error_set(err, HS_ENOMEM, "cannot read HubSpot webhook delivery: out of memory");
}
