/*
 * connectors/common/settings.h - reading one connection setting, the same way for every
 *                                connector.
 *
 * Design:     settings are the connection's JSON object (hoopsync.yaml `settings:` merged over
 *             the stored ones). A missing or null key gives the default; a value of the wrong
 *             kind refuses the open with "invalid <Provider> setting '<key>': expected ...".
 * Ownership:  strings come back as hs_malloc'd copies the caller frees.
 */
#ifndef HS_CONNECTORS_COMMON_SETTINGS_H
#define HS_CONNECTORS_COMMON_SETTINGS_H

#include "hoopsync/common.h"
#include "hoopsync/error.h"

/* settings[key] (settings is a const json_t * object or NULL) as an integer from lo to hi: a
 * JSON integer or a string of digits; def when absent. label names the provider in errors. */
HS_API HS_MUST_CHECK int hs_conn_setting_int(const void *settings, const char *label,
                                             const char *key, long def, long lo, long hi, long *out,
                                             struct hs_error *err);
/* settings[key] as a string copy (a JSON string, or an integer as its digits); a copy of def
 * when absent (*out NULL when def is NULL too). */
HS_API HS_MUST_CHECK int hs_conn_setting_str(const void *settings, const char *label,
                                             const char *key, const char *def, char **out,
                                             struct hs_error *err);

#endif
