/*
 * connectors/common/build.c - JSON members and record slots for the connectors' builders and
 *                             parsers (connectors/common/build.h).
 */
#include "connectors/common/build.h"
#include "util/jsonnum.h"

int hs_conn_put(json_t *o, const char *key, json_t *v)
{
    if (v == NULL || json_object_set_new(o, key, v) != 0)
        return HS_ENOMEM;
    return HS_OK;
}

int hs_conn_put_str(json_t *o, const char *key, const char *s)
{
    return s != NULL ? hs_conn_put(o, key, json_string(s)) : HS_OK;
}

int hs_conn_put_date(json_t *o, const char *key, struct hs_date d)
{
    if (!hs_date_valid(d))
        return HS_OK;
    char s[11];
    hs_date_format(d, s);
    return hs_conn_put(o, key, json_string(s));
}

int hs_conn_put_money(json_t *o, const char *key, const struct hs_money *m)
{
    return m->currency[0] != '\0' ? hs_conn_put(o, key, hs_json_money_new(m)) : HS_OK;
}

bool hs_conn_address_empty(const struct hs_address *a)
{
    return a->line1 == NULL && a->line2 == NULL && a->line3 == NULL && a->city == NULL &&
           a->region == NULL && a->postcode == NULL && a->country[0] == '\0';
}

int hs_conn_set_str(char **slot, const char *v)
{
    if (v == NULL)
        return HS_OK;
    return hs_record_set_str(slot, v);
}
