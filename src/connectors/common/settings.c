/*
 * connectors/common/settings.c - one connection setting as an integer or a string
 *                                (connectors/common/settings.h).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "connectors/common/settings.h"
#include "util/alloc.h"
#include "util/str.h"

int hs_conn_setting_int(const void *settings, const char *label, const char *key, long def, long lo,
                        long hi, long *out, struct hs_error *err)
{
    const json_t *v = json_object_get((const json_t *)settings, key);
    *out = def;
    if (v == NULL || json_is_null(v))
        return HS_OK;
    int64_t n = 0;
    if (json_is_integer(v))
        n = (int64_t)json_integer_value(v);
    else if (!json_is_string(v) ||
             hs_str_to_i64(json_string_value(v), json_string_length(v), &n) != HS_OK)
        n = (int64_t)lo - 1;
    if (n < lo || n > hi)
        return hs_error_set(err, HS_EINVAL,
                            "invalid %s setting '%s': expected an integer from %ld to %ld", label,
                            key, lo, hi);
    *out = (long)n;
    return HS_OK;
}

int hs_conn_setting_str(const void *settings, const char *label, const char *key, const char *def,
                        char **out, struct hs_error *err)
{
    const json_t *v = json_object_get((const json_t *)settings, key);
    char buf[32];
    const char *text = def;
    *out = NULL;
    if (json_is_string(v)) {
        text = json_string_value(v);
    } else if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        text = buf;
    } else if (v != NULL && !json_is_null(v)) {
        return hs_error_set(err, HS_EINVAL, "invalid %s setting '%s': expected a string", label,
                            key);
    }
    if (text == NULL)
        return HS_OK;
    *out = hs_strdup(text);
    return *out != NULL ? HS_OK : hs_error_set(err, HS_ENOMEM, "out of memory");
}
