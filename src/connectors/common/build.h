/*
 * connectors/common/build.h - small pieces every connector uses to turn canonical records
 *                             into provider JSON and back.
 *
 * Design:     "put" functions add one member to a JSON object and skip absent values (NULL
 *             strings, invalid dates, money without a currency), so a builder states each
 *             field once; they return HS_OK or HS_ENOMEM. hs_conn_set_str fills a record's
 *             string slot only when the provider gave a value.
 * Not here:   provider field names and shapes (connectors/<p>/<p>_parse.c).
 */
#ifndef HS_CONNECTORS_COMMON_BUILD_H
#define HS_CONNECTORS_COMMON_BUILD_H

#include <stdbool.h>

#include <jansson.h>

#include "hoopsync/common.h"
#include "hoopsync/model.h"

/* o[key] = v (a new reference, stolen; NULL means out of memory). */
HS_API HS_MUST_CHECK int hs_conn_put(json_t *o, const char *key, json_t *v);
/* o[key] = s, unless s is NULL. */
HS_API HS_MUST_CHECK int hs_conn_put_str(json_t *o, const char *key, const char *s);
/* o[key] = "YYYY-MM-DD", unless d is not a valid date. */
HS_API HS_MUST_CHECK int hs_conn_put_date(json_t *o, const char *key, struct hs_date d);
/* o[key] = the exact amount as a JSON number, unless m has no currency. */
HS_API HS_MUST_CHECK int hs_conn_put_money(json_t *o, const char *key, const struct hs_money *m);
/* True when no line of the address is set. */
HS_API bool hs_conn_address_empty(const struct hs_address *a);
/* *slot = copy of v, unless v is NULL (then *slot is left as it is). HS_OK or HS_ENOMEM. */
HS_API HS_MUST_CHECK int hs_conn_set_str(char **slot, const char *v);

#endif
