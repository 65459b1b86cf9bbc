/*
 * util/json.c - jansson helpers.
 */
#include <string.h>

#include "util/json.h"

int hs_json_parse(const uint8_t *buf, size_t len, const char *what, json_t **out,
                  struct hs_error *err)
{
    *out = NULL;
    if (len > HS_JSON_MAX_BYTES)
        return hs_error_set(err, HS_ETOOBIG, "cannot parse %s: %zu bytes exceeds the limit of %zu",
                            what, len, HS_JSON_MAX_BYTES);
    if (len == 0)
        return hs_error_set(err, HS_EPROTO, "cannot parse %s: empty body, expected JSON", what);
    json_error_t jerr;
    json_t *v = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL)
        return hs_error_set(err, HS_EPROTO, "cannot parse %s: line %d column %d: %s", what,
                            jerr.line, jerr.column, jerr.text);
    *out = v;
    return HS_OK;
}

static int dump_cb(const char *p, size_t n, void *ud)
{
    return hs_buf_append(ud, p, n) == HS_OK ? 0 : -1;
}

int hs_json_dump(const json_t *v, struct hs_buf *b)
{
    if (json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_REAL_PRECISION(17)) != 0)
        return HS_ENOMEM;
    return HS_OK;
}

const char *hs_json_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}
