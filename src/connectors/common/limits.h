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
 *             hs_conn_open_limited opens a connector with a limiter built from its limits()
 *             (the CLI and the benchmark): one limiter per account, as DESIGN.md section 7
 *             asks. Providers count a call when it arrives in fixed windows, the limiter when
 *             it is sent; so that jitter in transit never pushes a call into the provider's
 *             previous window (a 429), each window is handed to the limiter 1% + 15 ms longer
 *             (at most 1 s longer). The fixed part is for arrival jitter: with 5 ms, and then
 *             10 ms, compressed benchmark runs on a loaded 2-CPU machine still met one 429 in
 *             about 6,000 (QuickBooks' 100 ms second) and 31,000 calls (Zoho's 63 ms minute).
 * Not here:   the limiter itself (net/ratelimit.h), the connectors' published defaults
 *             (connectors/<p>/<p>.c).
 */
#ifndef HS_CONNECTORS_COMMON_LIMITS_H
#define HS_CONNECTORS_COMMON_LIMITS_H

#include <stddef.h>

#include "hoopsync/common.h"
#include "hoopsync/connector.h"
#include "hoopsync/error.h"
#include "net/ratelimit.h"

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

/* The window the limiter enforces for a provider window of window_ms (see above). */
HS_API int64_t hs_conn_limiter_window_ms(int64_t window_ms);

/*
 * Opens a connector of ops with cfg whose requests go through a new limiter holding the
 * windows its limits() announces (cfg->limiter is set to it; cfg must outlive the handle).
 * *out_rl (freed by the caller with hs_ratelimit_free after closing the connector) and *out
 * are NULL on failure. HS_OK, the connector's open errors, HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_conn_open_limited(const struct hs_connector_ops *ops,
                                              struct hs_connector_config *cfg,
                                              struct hs_ratelimit **out_rl,
                                              struct hs_connector **out, struct hs_error *err);

#endif
