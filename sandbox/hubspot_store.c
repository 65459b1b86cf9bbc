/*
 * sandbox/hubspot_store.c - records, property definitions and associations of the HubSpot
 * emulator.
 *
 * Design:     per object type a store (hubspot.h): an id-sorted array of records for list
 *             paging, an open-addressing hash map id -> record (linear probing, load <= 1/2,
 *             never shrinks: archived records stay readable with archived=true, as in
 *             HubSpot), the property definitions with a name index, and per unique property
 *             a value -> id index (a jansson object, which is a hash table). The built-in
 *             properties are the ones a sync needs, named and typed as HubSpot names them.
 *             Values are validated and normalized here: numbers stay decimal strings (never
 *             doubles), datetimes are stored as ISO-8601 UTC with milliseconds whatever the
 *             caller sent (epoch ms or ISO), as HubSpot answers them.
 * Invariants: see hubspot.h.
 * Threads:    state lock held by the caller.
 * Ownership:  stores own records; records own their props object and association array.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sandbox/hubspot.h"
#include "util/alloc.h"
#include "util/civil.h"
#include "util/json.h"
#include "util/str.h"

static const char *const company_defaults[] = {"createdate",   "domain", "hs_lastmodifieddate",
                                               "hs_object_id", "name",   NULL};
static const char *const contact_defaults[] = {
    "createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname", NULL};
static const char *const deal_defaults[] = {"amount",       "closedate", "createdate",
                                            "dealname",     "dealstage", "hs_lastmodifieddate",
                                            "hs_object_id", "pipeline",  NULL};
static const char *const line_item_defaults[] = {
    "amount",       "createdate",    "hs_lastmodifieddate",
    "hs_object_id", "hs_product_id", "name",
    "price",        "quantity",      NULL};
static const char *const product_defaults[] = {
    "createdate", "description", "hs_lastmodifieddate", "hs_object_id", "name", "price", NULL};

const struct hs_hub_type_info hs_hub_types[HS_HUB_N_TYPES] = {
    {"companies", "company", "0-2", "COMPANY", "hs_lastmodifieddate", "company",
     "companyinformation", company_defaults},
    {"contacts", "contact", "0-1", "CONTACT", "lastmodifieddate", "contact", "contactinformation",
     contact_defaults},
    {"deals", "deal", "0-3", "DEAL", "hs_lastmodifieddate", "deal", "dealinformation",
     deal_defaults},
    {"line_items", "line_item", "0-8", "LINE_ITEM", "hs_lastmodifieddate", NULL,
     "lineiteminformation", line_item_defaults},
    {"products", "product", "0-7", "PRODUCT", "hs_lastmodifieddate", NULL, "productinformation",
     product_defaults},
};

/* Built-in property definitions: {name, label, type, fieldType, unique}. */
struct builtin {
    const char *name;
    const char *label;
    const char *type;
    const char *field;
    bool unique;
};

static const struct builtin company_props[] = {
    {"name", "Company name", "string", "text", false},
    {"domain", "Company Domain Name", "string", "text", false},
    {"website", "Website URL", "string", "text", false},
    {"phone", "Phone Number", "string", "phonenumber", false},
    {"address", "Street Address", "string", "text", false},
    {"address2", "Street Address 2", "string", "text", false},
    {"city", "City", "string", "text", false},
    {"state", "State/Region", "string", "text", false},
    {"zip", "Postal Code", "string", "text", false},
    {"country", "Country/Region", "string", "text", false},
    {"industry", "Industry", "string", "text", false},
    {"description", "Description", "string", "textarea", false},
    {"numberofemployees", "Number of Employees", "number", "number", false},
    {"annualrevenue", "Annual Revenue", "number", "number", false},
    {NULL, NULL, NULL, NULL, false},
};
static const struct builtin contact_props[] = {
    {"email", "Email", "string", "text", true},
    {"firstname", "First Name", "string", "text", false},
    {"lastname", "Last Name", "string", "text", false},
    {"phone", "Phone Number", "string", "phonenumber", false},
    {"mobilephone", "Mobile Phone Number", "string", "phonenumber", false},
    {"company", "Company Name", "string", "text", false},
    {"jobtitle", "Job Title", "string", "text", false},
    {"address", "Street Address", "string", "text", false},
    {"city", "City", "string", "text", false},
    {"state", "State/Region", "string", "text", false},
    {"zip", "Postal Code", "string", "text", false},
    {"country", "Country/Region", "string", "text", false},
    {"website", "Website URL", "string", "text", false},
    {NULL, NULL, NULL, NULL, false},
};
static const struct builtin deal_props[] = {
    {"dealname", "Deal Name", "string", "text", false},
    {"amount", "Amount", "number", "number", false},
    {"dealstage", "Deal Stage", "enumeration", "radio", false},
    {"pipeline", "Pipeline", "enumeration", "select", false},
    {"closedate", "Close Date", "datetime", "date", false},
    {"deal_currency_code", "Currency", "string", "text", false},
    {"description", "Deal Description", "string", "textarea", false},
    {"hs_priority", "Priority", "string", "text", false},
    {"dealtype", "Deal Type", "string", "text", false},
    {NULL, NULL, NULL, NULL, false},
};
static const struct builtin line_item_props[] = {
    {"name", "Name", "string", "text", false},
    {"hs_product_id", "Product ID", "number", "number", false},
    {"quantity", "Quantity", "number", "number", false},
    {"price", "Unit price", "number", "number", false},
    {"amount", "Net price", "number", "number", false},
    {"discount", "Unit discount", "number", "number", false},
    {"hs_discount_percentage", "Discount Percentage", "number", "number", false},
    {"hs_line_item_currency_code", "Currency", "string", "text", false},
    {"hs_sku", "SKU", "string", "text", false},
    {"description", "Description", "string", "textarea", false},
    {"hs_tax_rate", "Tax rate", "number", "number", false},
    {NULL, NULL, NULL, NULL, false},
};
static const struct builtin product_props[] = {
    {"name", "Name", "string", "text", false},
    {"hs_sku", "SKU", "string", "text", false},
    {"price", "Unit price", "number", "number", false},
    {"description", "Description", "string", "textarea", false},
    {"hs_cost_of_goods_sold", "Unit cost", "number", "number", false},
    {"hs_recurring_billing_period", "Term", "string", "text", false},
    {NULL, NULL, NULL, NULL, false},
};

static const struct builtin *const builtins[HS_HUB_N_TYPES] = {
    company_props, contact_props, deal_props, line_item_props, product_props};

/* ---- time and numbers ---- */

void hs_hub_iso(int64_t ms, char out[32])
{
    int64_t secs = ms / 1000;
    int64_t rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs -= 1;
    }
    int64_t days = secs / 86400;
    int64_t sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days -= 1;
    }
    int64_t y, m64, d64;
    hs_civil_from_days(days, &y, &m64, &d64);
    const unsigned m = (unsigned)m64;
    const unsigned d = (unsigned)d64;
    if (y < 0 || y > 9999) { /* outside what the fast path below can write */
        snprintf(out, 32, "%s", y < 0 ? "0000-01-01T00:00:00.000Z" : "9999-12-31T23:59:59.999Z");
        return;
    }
    /* written by hand: this runs for every record of every answer */
    unsigned v[7] = {
        (unsigned)y,  m, d, (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60),
        (unsigned)rem};
    static const char layout[] = "YYYY-MM-DDThh:mm:ss.fffZ";
    static const unsigned char field[] = {0, 0, 0, 0, 9, 1, 1, 9, 2, 2, 9, 3,
                                          3, 9, 4, 4, 9, 5, 5, 9, 6, 6, 6, 9};
    for (int i = (int)sizeof layout - 2; i >= 0; i--) {
        if (field[i] == 9) {
            out[i] = layout[i];
        } else {
            out[i] = (char)('0' + v[field[i]] % 10);
            v[field[i]] /= 10;
        }
    }
    out[sizeof layout - 1] = '\0';
}

static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

int hs_hub_parse_time(const char *s, int64_t *out_ms)
{
    size_t len = strlen(s);
    if (len == 0 || len > 40)
        return HS_EINVAL;
    bool all_digits = true;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (i == 0 && s[i] == '-')))
            all_digits = false;
    if (all_digits)
        return hs_str_to_i64(s, len, out_ms) == HS_OK ? HS_OK : HS_EINVAL;
    unsigned y, mo, d, h = 0, mi = 0, se = 0, frac = 0;
    if (len < 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
        !digits(s + 8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
        return HS_EINVAL;
    size_t i = 10;
    int64_t offset_s = 0;
    if (i < len) {
        if ((s[i] != 'T' && s[i] != ' ') || len < i + 9 || s[i + 3] != ':' || s[i + 6] != ':' ||
            !digits(s + i + 1, 2, &h) || !digits(s + i + 4, 2, &mi) || !digits(s + i + 7, 2, &se) ||
            h > 23 || mi > 59 || se > 60)
            return HS_EINVAL;
        i += 9;
        if (i < len && s[i] == '.') {
            i++;
            unsigned scale = 100;
            size_t nd = 0;
            while (i < len && s[i] >= '0' && s[i] <= '9') {
                if (nd < 3)
                    frac += (unsigned)(s[i] - '0') * scale;
                scale /= 10;
                nd++;
                i++;
            }
            if (nd == 0)
                return HS_EINVAL;
        }
        if (i < len && s[i] == 'Z') {
            i++;
        } else if (i < len && (s[i] == '+' || s[i] == '-')) {
            unsigned oh, om;
            if (len < i + 6 || s[i + 3] != ':' || !digits(s + i + 1, 2, &oh) ||
                !digits(s + i + 4, 2, &om))
                return HS_EINVAL;
            offset_s = (int64_t)(oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
            i += 6;
        }
        if (i != len)
            return HS_EINVAL;
    }
    int64_t days = hs_days_from_civil(y, mo, d);
    *out_ms = ((days * 86400 + h * 3600 + mi * 60 + se) - offset_s) * 1000 + frac;
    return HS_OK;
}

int hs_hub_parse_decimal(const char *s, int64_t *out_micro)
{
    size_t len = strlen(s);
    size_t i = 0;
    bool neg = false;
    if (len == 0 || len > 40)
        return HS_EINVAL;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
    }
    int64_t ip = 0;
    int64_t fp = 0;
    size_t nint = 0, nfrac = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, nint++) {
        if (ip > (INT64_MAX / 1000000 - 9) / 10)
            return HS_ERANGE;
        ip = ip * 10 + (s[i] - '0');
    }
    if (i < len && s[i] == '.') {
        i++;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, nfrac++)
            if (nfrac < 6)
                fp = fp * 10 + (s[i] - '0');
    }
    if (i != len || nint + nfrac == 0)
        return HS_EINVAL;
    for (size_t k = nfrac; k < 6; k++)
        fp *= 10;
    *out_micro = (ip * 1000000 + fp) * (neg ? -1 : 1);
    return HS_OK;
}

enum hs_hub_kind hs_hub_kind_of(const char *type)
{
    if (hs_str_eq(type, "number"))
        return HS_HUB_NUMBER;
    if (hs_str_eq(type, "datetime"))
        return HS_HUB_DATETIME;
    if (hs_str_eq(type, "date"))
        return HS_HUB_DATE;
    if (hs_str_eq(type, "bool"))
        return HS_HUB_BOOL;
    if (hs_str_eq(type, "enumeration"))
        return HS_HUB_ENUM;
    return HS_HUB_STRING;
}

int hs_hub_normalize(const struct hs_hub_prop *p, const char *value, char **out,
                     const char **out_code, char *msg, size_t msg_len)
{
    *out = NULL;
    if (value == NULL || value[0] == '\0')
        return HS_OK; /* clears the value */
    if (strlen(value) > HS_HUB_MAX_VALUE_LEN) {
        *out_code = "INVALID_STRING";
        snprintf(msg, msg_len, "%s has a value longer than %d characters", p->name,
                 HS_HUB_MAX_VALUE_LEN);
        return HS_EINVAL;
    }
    switch (p->kind) {
    case HS_HUB_NUMBER: {
        int64_t micro;
        if (hs_hub_parse_decimal(value, &micro) != HS_OK) {
            *out_code = "INVALID_DECIMAL";
            snprintf(msg, msg_len, "%.200s was not a valid number.", value);
            return HS_EINVAL;
        }
        break;
    }
    case HS_HUB_DATETIME:
    case HS_HUB_DATE: {
        int64_t ms;
        if (hs_hub_parse_time(value, &ms) != HS_OK) {
            *out_code = "INVALID_DATE";
            snprintf(msg, msg_len,
                     "%.200s was not a valid long or ISO-8601 date-time (property %s).", value,
                     p->name);
            return HS_EINVAL;
        }
        if (p->kind == HS_HUB_DATE && ms % 86400000 != 0) {
            *out_code = "INVALID_DATE";
            snprintf(msg, msg_len, "%.200s is at 00:00:00 UTC only for date property %s.", value,
                     p->name);
            return HS_EINVAL;
        }
        char iso[32];
        hs_hub_iso(ms, iso);
        if (p->kind == HS_HUB_DATE)
            iso[10] = '\0';
        *out = hs_strdup(iso);
        return *out ? HS_OK : HS_ENOMEM;
    }
    case HS_HUB_BOOL:
        if (!hs_str_eq(value, "true") && !hs_str_eq(value, "false")) {
            *out_code = "INVALID_BOOLEAN";
            snprintf(msg, msg_len, "%.200s was not a valid boolean (true or false).", value);
            return HS_EINVAL;
        }
        break;
    case HS_HUB_ENUM: {
        size_t i;
        json_t *o;
        bool found = false;
        json_array_foreach(p->options, i, o)
        {
            if (hs_str_eq(hs_json_str(o, "value"), value))
                found = true;
        }
        if (!found) {
            *out_code = "INVALID_OPTION";
            snprintf(msg, msg_len, "%.200s was not one of the allowed options for %s", value,
                     p->name);
            return HS_EINVAL;
        }
        break;
    }
    case HS_HUB_STRING:
        break;
    }
    *out = hs_strdup(value);
    return *out ? HS_OK : HS_ENOMEM;
}

/* ---- deal stages ---- */

struct stage_info {
    const char *id;
    const char *label;
    const char *probability;
};

static const struct stage_info stage_infos[] = {
    {"appointmentscheduled", "Appointment Scheduled", "0.2"},
    {"qualifiedtobuy", "Qualified To Buy", "0.4"},
    {"presentationscheduled", "Presentation Scheduled", "0.6"},
    {"decisionmakerboughtin", "Decision Maker Bought-In", "0.8"},
    {"contractsent", "Contract Sent", "0.9"},
    {"closedwon", "Closed Won", "1.0"},
    {"closedlost", "Closed Lost", "0.0"},
};

const char *hs_hub_stage_label(const char *id)
{
    for (size_t i = 0; i < sizeof stage_infos / sizeof stage_infos[0]; i++)
        if (hs_str_eq(stage_infos[i].id, id))
            return stage_infos[i].label;
    return id;
}

const char *hs_hub_stage_probability(const char *id)
{
    for (size_t i = 0; i < sizeof stage_infos / sizeof stage_infos[0]; i++)
        if (hs_str_eq(stage_infos[i].id, id))
            return stage_infos[i].probability;
    return "0.5";
}

/* ---- property definitions ---- */

static void prop_release(struct hs_hub_prop *p)
{
    hs_free(p->name);
    hs_free(p->label);
    hs_free(p->type);
    hs_free(p->field_type);
    hs_free(p->group);
    hs_free(p->description);
    json_decref(p->options);
    json_decref(p->index);
}

const struct hs_hub_prop *hs_hub_prop_get(const struct hs_hub_store *s, const char *name)
{
    json_t *ix = json_object_get(s->prop_idx, name);
    if (ix == NULL)
        return NULL;
    return &s->props[json_integer_value(ix)];
}

int hs_hub_prop_add(struct hs_hub_store *s, const struct hs_hub_prop *def)
{
    if (s->n_props == s->cap_props) {
        size_t cap = s->cap_props ? s->cap_props * 2 : 64;
        struct hs_hub_prop *v = hs_reallocarray(s->props, cap, sizeof *v);
        if (v == NULL)
            return HS_ENOMEM;
        s->props = v;
        s->cap_props = cap;
    }
    struct hs_hub_prop p = *def;
    p.name = hs_strdup(def->name);
    p.label = hs_strdup(def->label ? def->label : def->name);
    p.type = hs_strdup(def->type);
    p.field_type = hs_strdup(def->field_type);
    p.group = hs_strdup(def->group);
    p.description = hs_strdup(def->description ? def->description : "");
    p.kind = hs_hub_kind_of(def->type);
    p.options = def->options ? json_incref(def->options) : json_array();
    p.index = def->unique ? json_object() : NULL;
    json_t *ix = json_integer((json_int_t)s->n_props);
    if (p.name == NULL || p.label == NULL || p.type == NULL || p.field_type == NULL ||
        p.group == NULL || p.description == NULL || p.options == NULL ||
        (def->unique && p.index == NULL) || ix == NULL ||
        json_object_set_new(s->prop_idx, p.name, ix) != 0) {
        prop_release(&p);
        return HS_ENOMEM;
    }
    s->props[s->n_props++] = p;
    return HS_OK;
}

static json_t *stage_options(void)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < hs_sbx_n_deal_stages; i++) {
        json_t *o =
            json_pack("{s:s,s:s,s:i,s:b}", "label", hs_hub_stage_label(hs_sbx_deal_stages[i]),
                      "value", hs_sbx_deal_stages[i], "displayOrder", (int)i, "hidden", 0);
        if (json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int add_builtin(struct hs_hub_store *s, enum hs_hub_type t, const char *name,
                       const char *label, const char *type, const char *field, bool unique,
                       int64_t now_ms, json_t *options)
{
    struct hs_hub_prop p = {0};
    p.name = (char *)(uintptr_t)name; /* copied by hs_hub_prop_add */
    p.label = (char *)(uintptr_t)label;
    p.type = (char *)(uintptr_t)type;
    p.field_type = (char *)(uintptr_t)field;
    p.group = (char *)(uintptr_t)hs_hub_types[t].group;
    p.unique = unique;
    p.hubspot_defined = true;
    p.display_order = -1;
    p.created_ms = now_ms;
    p.updated_ms = now_ms;
    p.options = options;
    bool is_lastmod = hs_str_eq(name, hs_hub_types[t].lastmod);
    p.computed = hs_str_eq(name, "createdate") || is_lastmod || hs_str_eq(name, "hs_object_id");
    p.read_only = is_lastmod || hs_str_eq(name, "hs_object_id");
    return hs_hub_prop_add(s, &p);
}

int hs_hub_store_init(struct hs_hub_store *s, enum hs_hub_type t, int64_t now_ms)
{
    memset(s, 0, sizeof *s);
    s->prop_idx = json_object();
    s->groups = json_pack("[{s:s,s:s,s:i,s:b}]", "name", hs_hub_types[t].group, "label",
                          "Information", "displayOrder", 0, "archived", 0);
    if (s->prop_idx == NULL || s->groups == NULL)
        goto fail;
    int rc =
        add_builtin(s, t, "createdate", "Create Date", "datetime", "date", false, now_ms, NULL);
    if (rc == HS_OK)
        rc = add_builtin(s, t, hs_hub_types[t].lastmod, "Last Modified Date", "datetime", "date",
                         false, now_ms, NULL);
    if (rc == HS_OK)
        rc =
            add_builtin(s, t, "hs_object_id", "Record ID", "number", "number", false, now_ms, NULL);
    for (const struct builtin *b = builtins[t]; rc == HS_OK && b->name != NULL; b++) {
        json_t *options = NULL;
        if (hs_str_eq(b->name, "dealstage")) {
            options = stage_options();
            if (options == NULL)
                goto fail;
        } else if (hs_str_eq(b->name, "pipeline")) {
            options = json_pack("[{s:s,s:s,s:i,s:b}]", "label", "Sales Pipeline", "value",
                                "default", "displayOrder", 0, "hidden", 0);
            if (options == NULL)
                goto fail;
        }
        rc = add_builtin(s, t, b->name, b->label, b->type, b->field, b->unique, now_ms, options);
        json_decref(options);
    }
    if (rc != HS_OK)
        goto fail;
    return HS_OK;
fail:
    hs_hub_store_release(s);
    return HS_ENOMEM;
}

void hs_hub_store_release(struct hs_hub_store *s)
{
    for (size_t i = 0; i < s->n; i++)
        hs_hub_record_free(s->recs[i]);
    hs_free(s->recs);
    hs_free(s->map.keys);
    hs_free(s->map.vals);
    for (size_t i = 0; i < s->n_props; i++)
        prop_release(&s->props[i]);
    hs_free(s->props);
    json_decref(s->prop_idx);
    json_decref(s->groups);
    memset(s, 0, sizeof *s);
}

int hs_hub_type_parse(const char *s)
{
    if (s == NULL)
        return -1;
    for (int t = 0; t < HS_HUB_N_TYPES; t++)
        if (hs_str_ieq(s, hs_hub_types[t].name) || hs_str_ieq(s, hs_hub_types[t].singular) ||
            hs_str_eq(s, hs_hub_types[t].type_id))
            return t;
    if (hs_str_ieq(s, "lineitems") || hs_str_ieq(s, "line_item") || hs_str_ieq(s, "lineitem"))
        return HS_HUB_LINE_ITEMS;
    return -1;
}

/* ---- the id map ---- */

static size_t hash64(int64_t k)
{
    uint64_t x = (uint64_t)k;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (size_t)x;
}

static int map_grow(struct hs_hub_idmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 256;
    int64_t *keys = hs_calloc(cap, sizeof *keys);
    struct hs_hub_record **vals =
        hs_calloc(cap, sizeof *vals); /* NOLINT(bugprone-sizeof-expression): an array of pointers */
    if (keys == NULL || vals == NULL) {
        hs_free(keys);
        hs_free(vals);
        return HS_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == 0)
            continue;
        size_t j = hash64(m->keys[i]) & (cap - 1);
        while (keys[j] != 0)
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    hs_free(m->keys);
    hs_free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return HS_OK;
}

static int map_put(struct hs_hub_idmap *m, struct hs_hub_record *r)
{
    if ((m->n + 1) * 2 > m->cap && map_grow(m) != HS_OK)
        return HS_ENOMEM;
    size_t j = hash64(r->id) & (m->cap - 1);
    while (m->keys[j] != 0 && m->keys[j] != r->id)
        j = (j + 1) & (m->cap - 1);
    if (m->keys[j] == 0)
        m->n++;
    m->keys[j] = r->id;
    m->vals[j] = r;
    return HS_OK;
}

struct hs_hub_record *hs_hub_find(const struct hs_hub_store *s, int64_t id)
{
    const struct hs_hub_idmap *m = &s->map;
    if (m->cap == 0 || id <= 0)
        return NULL;
    size_t j = hash64(id) & (m->cap - 1);
    while (m->keys[j] != 0) {
        if (m->keys[j] == id)
            return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

struct hs_hub_record *hs_hub_find_str(const struct hs_hub_store *s, const char *id,
                                      const char *idprop)
{
    if (id == NULL)
        return NULL;
    if (idprop == NULL || idprop[0] == '\0' || hs_str_eq(idprop, "hs_object_id")) {
        int64_t v;
        if (hs_str_to_i64(id, strlen(id), &v) != HS_OK)
            return NULL;
        return hs_hub_find(s, v);
    }
    const struct hs_hub_prop *p = hs_hub_prop_get(s, idprop);
    if (p == NULL || p->index == NULL)
        return NULL;
    json_t *v = json_object_get(p->index, id);
    return v ? hs_hub_find(s, (int64_t)json_integer_value(v)) : NULL;
}

/* ---- records ---- */

void hs_hub_record_free(struct hs_hub_record *r)
{
    if (r == NULL)
        return;
    json_decref(r->props);
    hs_free(r->assocs);
    hs_free(r);
}

static int recs_reserve(struct hs_hub_store *s)
{
    if (s->n < s->cap)
        return HS_OK;
    size_t cap = s->cap ? s->cap * 2 : 256;
    struct hs_hub_record **v = hs_reallocarray(
        s->recs, cap, sizeof *v); /* NOLINT(bugprone-sizeof-expression): an array of pointers */
    if (v == NULL)
        return HS_ENOMEM;
    s->recs = v;
    s->cap = cap;
    return HS_OK;
}

int hs_hub_record_new(struct hs_hub_store *s, int64_t id, int64_t now_ms,
                      struct hs_hub_record **out)
{
    *out = NULL;
    struct hs_hub_record *r = hs_calloc(1, sizeof *r);
    if (r == NULL)
        return HS_ENOMEM;
    r->id = id;
    r->created_ms = now_ms;
    r->updated_ms = now_ms;
    r->props = json_object();
    if (r->props == NULL || recs_reserve(s) != HS_OK || map_put(&s->map, r) != HS_OK) {
        hs_hub_record_free(r);
        return HS_ENOMEM;
    }
    HS_ASSERT(s->n == 0 || s->recs[s->n - 1]->id < id);
    s->recs[s->n++] = r;
    *out = r;
    return HS_OK;
}

int hs_hub_record_insert(struct hs_hub_store *s, struct hs_hub_record *rec)
{
    if (rec->id <= 0 || hs_hub_find(s, rec->id) != NULL)
        return HS_EEXIST;
    if (recs_reserve(s) != HS_OK || map_put(&s->map, rec) != HS_OK)
        return HS_ENOMEM;
    size_t i = s->n;
    while (i > 0 && s->recs[i - 1]->id > rec->id) {
        s->recs[i] = s->recs[i - 1];
        i--;
    }
    s->recs[i] = rec;
    s->n++;
    /* index unique values of the loaded record */
    const char *key;
    json_t *v;
    json_object_foreach(rec->props, key, v)
    {
        const struct hs_hub_prop *p = hs_hub_prop_get(s, key);
        if (p != NULL && p->index != NULL && !rec->archived &&
            json_object_get(p->index, json_string_value(v)) == NULL &&
            json_object_set_new(p->index, json_string_value(v), json_integer(rec->id)) != 0)
            return HS_ENOMEM;
    }
    return HS_OK;
}

int hs_hub_record_set(struct hs_hub_store *s, struct hs_hub_record *r, const struct hs_hub_prop *p,
                      const char *value)
{
    json_t *old = json_object_get(r->props, p->name);
    if (p->index != NULL && old != NULL) {
        json_t *owner = json_object_get(p->index, json_string_value(old));
        if (owner != NULL && json_integer_value(owner) == r->id)
            json_object_del(p->index, json_string_value(old));
    }
    (void)s;
    if (value == NULL || value[0] == '\0') {
        json_object_del(r->props, p->name);
        return HS_OK;
    }
    if (json_object_set_new(r->props, p->name, json_string(value)) != 0)
        return HS_ENOMEM;
    if (p->index != NULL && json_object_get(p->index, value) == NULL &&
        json_object_set_new(p->index, value, json_integer(r->id)) != 0)
        return HS_ENOMEM;
    return HS_OK;
}

const char *hs_hub_value(enum hs_hub_type t, const struct hs_hub_record *r, const char *name,
                         char tmp[64])
{
    if (hs_str_eq(name, "createdate")) {
        hs_hub_iso(r->created_ms, tmp);
        return tmp;
    }
    if (hs_str_eq(name, hs_hub_types[t].lastmod)) {
        hs_hub_iso(r->updated_ms, tmp);
        return tmp;
    }
    if (hs_str_eq(name, "hs_object_id")) {
        snprintf(tmp, 64, "%lld", (long long)r->id);
        return tmp;
    }
    return hs_json_str(r->props, name);
}

/* ---- associations ---- */

struct assoc_def {
    uint8_t from;
    uint8_t to;
    int32_t id;
    int32_t inverse;
    bool is_default;
    bool primary;
    const char *name;
};

static const struct assoc_def assoc_defs[] = {
    {HS_HUB_CONTACTS, HS_HUB_COMPANIES, 1, 2, false, true, "contact_to_company"},
    {HS_HUB_COMPANIES, HS_HUB_CONTACTS, 2, 1, false, true, "company_to_contact"},
    {HS_HUB_CONTACTS, HS_HUB_COMPANIES, 279, 280, true, false, "contact_to_company_unlabeled"},
    {HS_HUB_COMPANIES, HS_HUB_CONTACTS, 280, 279, true, false, "company_to_contact_unlabeled"},
    {HS_HUB_DEALS, HS_HUB_CONTACTS, 3, 4, true, false, "deal_to_contact"},
    {HS_HUB_CONTACTS, HS_HUB_DEALS, 4, 3, true, false, "contact_to_deal"},
    {HS_HUB_DEALS, HS_HUB_COMPANIES, 5, 6, false, true, "deal_to_company"},
    {HS_HUB_COMPANIES, HS_HUB_DEALS, 6, 5, false, true, "company_to_deal"},
    {HS_HUB_DEALS, HS_HUB_COMPANIES, 341, 342, true, false, "deal_to_company_unlabeled"},
    {HS_HUB_COMPANIES, HS_HUB_DEALS, 342, 341, true, false, "company_to_deal_unlabeled"},
    {HS_HUB_DEALS, HS_HUB_LINE_ITEMS, 19, 20, true, false, "deal_to_line_item"},
    {HS_HUB_LINE_ITEMS, HS_HUB_DEALS, 20, 19, true, false, "line_item_to_deal"},
};
#define N_ASSOC_DEFS (sizeof assoc_defs / sizeof assoc_defs[0])

static const struct assoc_def *assoc_def(int32_t id)
{
    for (size_t i = 0; i < N_ASSOC_DEFS; i++)
        if (assoc_defs[i].id == id)
            return &assoc_defs[i];
    return NULL;
}

int hs_hub_assoc_target(enum hs_hub_type from, int32_t type_id)
{
    const struct assoc_def *d = assoc_def(type_id);
    return d != NULL && d->from == from ? d->to : -1;
}

int32_t hs_hub_assoc_inverse(int32_t type_id)
{
    const struct assoc_def *d = assoc_def(type_id);
    return d ? d->inverse : 0;
}

int32_t hs_hub_assoc_default(enum hs_hub_type from, enum hs_hub_type to)
{
    for (size_t i = 0; i < N_ASSOC_DEFS; i++)
        if (assoc_defs[i].from == from && assoc_defs[i].to == to && assoc_defs[i].is_default)
            return assoc_defs[i].id;
    return 0;
}

int32_t hs_hub_assoc_primary(enum hs_hub_type from, enum hs_hub_type to)
{
    for (size_t i = 0; i < N_ASSOC_DEFS; i++)
        if (assoc_defs[i].from == from && assoc_defs[i].to == to && assoc_defs[i].primary)
            return assoc_defs[i].id;
    return 0;
}

const char *hs_hub_assoc_name(int32_t type_id)
{
    const struct assoc_def *d = assoc_def(type_id);
    return d ? d->name : "unknown";
}

const char *hs_hub_assoc_label(int32_t type_id)
{
    const struct assoc_def *d = assoc_def(type_id);
    return d != NULL && d->primary ? "Primary" : NULL;
}

bool hs_hub_assoc_has(const struct hs_hub_record *a, enum hs_hub_type tb, int64_t b_id,
                      int32_t type_id)
{
    for (size_t i = 0; i < a->n_assocs; i++)
        if (a->assocs[i].to_id == b_id && a->assocs[i].to_type == tb &&
            (type_id == 0 || a->assocs[i].type_id == type_id))
            return true;
    return false;
}

static int assoc_push(struct hs_hub_record *r, enum hs_hub_type to, int64_t to_id, int32_t type)
{
    if (hs_hub_assoc_has(r, to, to_id, type))
        return HS_OK;
    if (r->n_assocs == r->cap_assocs) {
        size_t cap = r->cap_assocs ? r->cap_assocs * 2 : 4;
        struct hs_hub_assoc *v = hs_reallocarray(r->assocs, cap, sizeof *v);
        if (v == NULL)
            return HS_ENOMEM;
        r->assocs = v;
        r->cap_assocs = cap;
    }
    r->assocs[r->n_assocs++] = (struct hs_hub_assoc){to_id, type, (uint8_t)to};
    return HS_OK;
}

static void assoc_drop(struct hs_hub_record *r, enum hs_hub_type to, int64_t to_id)
{
    size_t j = 0;
    for (size_t i = 0; i < r->n_assocs; i++)
        if (!(r->assocs[i].to_id == to_id && r->assocs[i].to_type == to))
            r->assocs[j++] = r->assocs[i];
    r->n_assocs = j;
}

int hs_hub_assoc_add(struct hs_hubspot *st, enum hs_hub_type ta, struct hs_hub_record *a,
                     enum hs_hub_type tb, struct hs_hub_record *b, int32_t type_id)
{
    (void)st;
    int32_t inv = hs_hub_assoc_inverse(type_id);
    if (inv == 0 || hs_hub_assoc_target(ta, type_id) != (int)tb)
        return HS_EINVAL;
    int rc = assoc_push(a, tb, b->id, type_id);
    if (rc == HS_OK)
        rc = assoc_push(b, ta, a->id, inv);
    if (rc != HS_OK) { /* keep both sides consistent */
        for (size_t i = 0; i < a->n_assocs; i++)
            if (a->assocs[i].to_id == b->id && a->assocs[i].type_id == type_id) {
                a->assocs[i] = a->assocs[--a->n_assocs];
                break;
            }
    }
    return rc;
}

void hs_hub_assoc_remove_pair(struct hs_hubspot *st, enum hs_hub_type ta, struct hs_hub_record *a,
                              enum hs_hub_type tb, struct hs_hub_record *b)
{
    (void)st;
    assoc_drop(a, tb, b->id);
    assoc_drop(b, ta, a->id);
}

void hs_hub_record_archive(struct hs_hubspot *st, enum hs_hub_type t, struct hs_hub_record *r,
                           int64_t now_ms)
{
    struct hs_hub_store *s = &st->stores[t];
    const char *key;
    json_t *v;
    json_object_foreach(r->props, key, v)
    {
        const struct hs_hub_prop *p = hs_hub_prop_get(s, key);
        if (p == NULL || p->index == NULL)
            continue;
        json_t *owner = json_object_get(p->index, json_string_value(v));
        if (owner != NULL && json_integer_value(owner) == r->id)
            json_object_del(p->index, json_string_value(v));
    }
    while (r->n_assocs > 0) {
        struct hs_hub_assoc a = r->assocs[r->n_assocs - 1];
        struct hs_hub_record *other = hs_hub_find(&st->stores[a.to_type], a.to_id);
        if (other != NULL)
            assoc_drop(other, t, r->id);
        assoc_drop(r, a.to_type, a.to_id);
    }
    r->archived = true;
    r->archived_ms = now_ms;
    r->updated_ms = now_ms;
}

/* ---- JSON output ----
 * Records are written straight into the answer's buffer rather than built as jansson objects
 * and dumped: a 100-record batch answer is the hot path of the benchmark (issue 2 wants 50,000
 * records/s), and building then dumping then freeing a json_t tree per record was most of its
 * cost. */

int hs_hub_json_str(struct hs_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    int rc = hs_buf_putc(b, '"');
    const char *run = s;
    for (const char *p = s; rc == HS_OK && *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = hs_buf_append(b, run, (size_t)(p - run));
        run = p + 1;
        if (rc != HS_OK)
            break;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = hs_buf_append(b, e, 2);
        } else if (c == '\n') {
            rc = hs_buf_append(b, "\\n", 2);
        } else if (c == '\r') {
            rc = hs_buf_append(b, "\\r", 2);
        } else if (c == '\t') {
            rc = hs_buf_append(b, "\\t", 2);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rc = hs_buf_append(b, e, 6);
        }
    }
    if (rc == HS_OK)
        rc = hs_buf_puts(b, run);
    if (rc == HS_OK)
        rc = hs_buf_putc(b, '"');
    return rc;
}

static int write_prop(struct hs_buf *b, bool *first, const char *name, const char *value)
{
    int rc = *first ? HS_OK : hs_buf_putc(b, ',');
    *first = false;
    if (rc == HS_OK)
        rc = hs_hub_json_str(b, name);
    if (rc == HS_OK)
        rc = hs_buf_putc(b, ':');
    if (rc == HS_OK)
        rc = hs_hub_json_str(b, value);
    return rc;
}

static int write_assocs(struct hs_buf *b, const struct hs_hub_record *r, unsigned mask)
{
    bool any_type = false;
    int rc = HS_OK;
    for (int to = 0; rc == HS_OK && to < HS_HUB_N_TYPES; to++) {
        if (!(mask & (1u << to)))
            continue;
        bool first = true;
        for (size_t i = 0; rc == HS_OK && i < r->n_assocs; i++) {
            if (r->assocs[i].to_type != to)
                continue;
            if (first)
                rc = hs_buf_printf(b, "%s\"%s\":{\"results\":[",
                                   any_type ? "," : ",\"associations\":{", hs_hub_types[to].name);
            any_type = true;
            if (rc == HS_OK)
                rc = hs_buf_printf(b, "%s{\"id\":\"%lld\",\"type\":\"%s\"}", first ? "" : ",",
                                   (long long)r->assocs[i].to_id,
                                   hs_hub_assoc_name(r->assocs[i].type_id));
            first = false;
        }
        if (!first && rc == HS_OK)
            rc = hs_buf_puts(b, "]}");
    }
    if (any_type && rc == HS_OK)
        rc = hs_buf_putc(b, '}');
    return rc;
}

/* Writes v in decimal into out (no NUL); returns the length. */
static size_t i64_text(int64_t v, char out[24])
{
    char rev[24];
    size_t n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        rev[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    size_t k = 0;
    if (v < 0)
        out[k++] = '-';
    while (n > 0)
        out[k++] = rev[--n];
    return k;
}

int hs_hub_record_write(struct hs_buf *b, enum hs_hub_type t, const struct hs_hub_record *r,
                        const struct hs_hub_out *o)
{
    char created[32], updated[32], tmp[64];
    hs_hub_iso(r->created_ms, created);
    hs_hub_iso(r->updated_ms, updated);
    /* appended piece by piece, not printf'd: this runs for every record of every answer */
    char id[24];
    int rc = hs_buf_puts(b, "{\"id\":\"");
    if (rc == HS_OK)
        rc = hs_buf_append(b, id, i64_text(r->id, id));
    if (rc == HS_OK)
        rc = hs_buf_puts(b, "\",\"properties\":{");
    bool first = true;
    if (o->props != NULL && json_array_size(o->props) > 0) {
        size_t i;
        json_t *n;
        json_array_foreach(o->props, i, n)
        {
            const char *name = json_string_value(n);
            const char *v = name ? hs_hub_value(t, r, name, tmp) : NULL;
            bool dup = false; /* asked twice: once in the answer */
            for (size_t k = 0; v != NULL && k < i && !dup; k++)
                dup = hs_str_eq(json_string_value(json_array_get(o->props, k)), name);
            if (v != NULL && !dup && rc == HS_OK)
                rc = write_prop(b, &first, name, v);
        }
    } else {
        for (const char *const *d = hs_hub_types[t].defaults; *d != NULL && rc == HS_OK; d++) {
            const char *v = hs_hub_value(t, r, *d, tmp);
            if (v != NULL)
                rc = write_prop(b, &first, *d, v);
        }
        const char *key;
        json_t *x;
        json_object_foreach((json_t *)(uintptr_t)o->extra, key, x)
        {
            bool dup = false;
            for (const char *const *d = hs_hub_types[t].defaults; *d != NULL; d++)
                dup = dup || hs_str_eq(*d, key);
            const char *v = dup ? NULL : hs_hub_value(t, r, key, tmp);
            if (v != NULL && rc == HS_OK)
                rc = write_prop(b, &first, key, v);
        }
    }
    if (rc == HS_OK)
        rc = hs_buf_puts(b, "},\"createdAt\":\"");
    if (rc == HS_OK)
        rc = hs_buf_puts(b, created);
    if (rc == HS_OK)
        rc = hs_buf_puts(b, "\",\"updatedAt\":\"");
    if (rc == HS_OK)
        rc = hs_buf_puts(b, updated);
    if (rc == HS_OK)
        rc = hs_buf_puts(b, r->archived ? "\",\"archived\":true" : "\",\"archived\":false");
    if (rc == HS_OK && r->archived) {
        char at[32];
        hs_hub_iso(r->archived_ms, at);
        rc = hs_buf_printf(b, ",\"archivedAt\":\"%s\"", at);
    }
    if (rc == HS_OK && o->assoc_mask != 0)
        rc = write_assocs(b, r, o->assoc_mask);
    if (rc == HS_OK && o->is_new >= 0)
        rc = hs_buf_printf(b, ",\"new\":%s", o->is_new ? "true" : "false");
    if (rc == HS_OK && o->trace != NULL) {
        rc = hs_buf_puts(b, ",\"objectWriteTraceId\":");
        if (rc == HS_OK)
            rc = hs_hub_json_str(b, o->trace);
    }
    if (rc == HS_OK)
        rc = hs_buf_putc(b, '}');
    return rc;
}

int hs_hub_reply_buf(struct hs_http_response *resp, int status, struct hs_buf *b)
{
    hs_buf_release(&resp->body);
    resp->body = *b;
    hs_buf_init(b);
    resp->status = status;
    return hs_http_headers_set(&resp->headers, "Content-Type", "application/json;charset=utf-8");
}
