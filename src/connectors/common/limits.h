/*
 * connectors/common/limits.h - the "rate_limits" connection setting shared by connectors.
 *
 * Design:     a connector's limits() returns the provider's published rate-limit windows;
 *             the setting "rate_limits" replaces them all, e.g.
 *               "rate_limits": [{"scope":"all","requests":500,"window_ms":60000},
 *                               {"scope":"batch","requests":40,"window_ms":60000}]
 *             "scope" is one of "all" (default), "search", "batch", "day" (the scopes the
 *             connectors take from the limiter); "requests" and "window_ms" are positive
 *             integers. It exists for accounts whose provider tier publishes other limits
 *             and for benchmarks that compress time: the bench hands the sandbox
 *             --time-scale N and the connectors the published windows divided by N, so the
 *             engine only ever sees limits, never a time factor.
 * Ownership:  parsed windows point at static scope strings (nothing to free).
 * Not here:   applying windows (net/ratelimit.h: whoever builds the account's limiter from
 *             limits()), the connectors' published defaults (connectors/<p>/<p>.c).
 */
#ifndef HS_CONNECTORS_COMMON_LIMITS_H
#define HS_CONNECTORS_COMMON_LIMITS_H

#include <stddef.h>

#include "hoopsync/common.h"
#include "hoopsync/connector.h"
#include "hoopsync/error.h"

/* Most windows a setting may list (struct hs_connector_limits holds 4). */
#define HS_CONN_MAX_WINDOWS 4

/*
 * Reads settings["rate_limits"] (settings is a const json_t * object or NULL) into
 * out[0..*n_out). Absent or null: *n_out = 0 (keep the published windows), HS_OK. HS_EINVAL
 * with "invalid setting 'rate_limits[i].field': why" for anything else that is not 1 to
 * HS_CONN_MAX_WINDOWS windows as above.
 */
HS_API HS_MUST_CHECK int hs_conn_rate_limits_parse(const void *settings,
                                                   struct hs_rate_window out[HS_CONN_MAX_WINDOWS],
                                                   size_t *n_out, struct hs_error *err);

/* Replaces lim's windows by windows[0..n) when n > 0 (limits() of a connector). */
HS_API void hs_conn_rate_limits_apply(struct hs_connector_limits *lim,
                                      const struct hs_rate_window *windows, size_t n);

#endif
