/*
 * connectors/common/limits.c - the "rate_limits" connection setting (see limits.h).
 *
 * Design:     validates the whole list before touching out, so a bad setting leaves the
 *             published windows in place and the connector refuses to open.
 * Ownership:  scopes point at the static names below.
 */
#include <string.h>

#include <jansson.h>

#include "connectors/common/limits.h"

static const char *const scopes[] = {"all", "search", "batch", "day"};

static int bad(struct hs_error *err, size_t i, const char *field, const char *why)
{
    return hs_error_set(err, HS_EINVAL, "invalid setting 'rate_limits[%zu].%s': %s", i, field, why);
}

/* A positive integer member of w (JSON integer) into *out. */
static int positive(const json_t *w, size_t i, const char *field, int64_t *out,
                    struct hs_error *err)
{
    const json_t *v = json_object_get(w, field);
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return bad(err, i, field, "a positive integer is expected");
    *out = (int64_t)json_integer_value(v);
    return HS_OK;
}

int hs_conn_rate_limits_parse(const void *settings, struct hs_rate_window out[HS_CONN_MAX_WINDOWS],
                              size_t *n_out, struct hs_error *err)
{
    *n_out = 0;
    const json_t *list = json_is_object((const json_t *)settings)
                             ? json_object_get((const json_t *)settings, "rate_limits")
                             : NULL;
    if (list == NULL || json_is_null(list))
        return HS_OK;
    size_t n = json_array_size(list);
    if (!json_is_array(list) || n == 0 || n > HS_CONN_MAX_WINDOWS)
        return hs_error_set(err, HS_EINVAL,
                            "invalid setting 'rate_limits': an array of 1 to %d windows is "
                            "expected",
                            HS_CONN_MAX_WINDOWS);
    struct hs_rate_window tmp[HS_CONN_MAX_WINDOWS];
    for (size_t i = 0; i < n; i++) {
        const json_t *w = json_array_get(list, i);
        if (!json_is_object(w))
            return hs_error_set(err, HS_EINVAL,
                                "invalid setting 'rate_limits[%zu]': an object is expected", i);
        const json_t *s = json_object_get(w, "scope");
        const char *scope = NULL;
        if (s == NULL) {
            scope = scopes[0];
        } else {
            for (size_t k = 0; json_is_string(s) && k < sizeof scopes / sizeof scopes[0]; k++)
                if (strcmp(json_string_value(s), scopes[k]) == 0)
                    scope = scopes[k];
            if (scope == NULL)
                return bad(err, i, "scope", "expected \"all\", \"search\", \"batch\" or \"day\"");
        }
        tmp[i].scope = scope;
        int rc = positive(w, i, "requests", &tmp[i].limit, err);
        if (rc == HS_OK)
            rc = positive(w, i, "window_ms", &tmp[i].window_ms, err);
        if (rc != HS_OK)
            return rc;
    }
    memcpy(out, tmp, n * sizeof *tmp);
    *n_out = n;
    return HS_OK;
}

void hs_conn_rate_limits_apply(struct hs_connector_limits *lim,
                               const struct hs_rate_window *windows, size_t n)
{
    if (n == 0 || n > HS_CONN_MAX_WINDOWS)
        return;
    memset(lim->windows, 0, sizeof lim->windows);
    memcpy(lim->windows, windows, n * sizeof *windows);
    lim->n_windows = n;
}

int64_t hs_conn_limiter_window_ms(int64_t window_ms)
{
    int64_t m = window_ms / 100 + 15;
    return window_ms + (m < 1000 ? m : 1000);
}

int hs_conn_open_limited(const struct hs_connector_ops *ops, struct hs_connector_config *cfg,
                         struct hs_ratelimit **out_rl, struct hs_connector **out,
                         struct hs_error *err)
{
    *out_rl = NULL;
    *out = NULL;
    cfg->limiter = NULL;
    struct hs_connector *probe = NULL;
    int rc = ops->open(cfg, &probe, err);
    if (rc != HS_OK)
        return rc;
    struct hs_connector_limits lim;
    memset(&lim, 0, sizeof lim);
    ops->limits(probe, HS_KIND_CUSTOMER, &lim); /* the windows are the account's, any kind */
    ops->close(probe);
    struct hs_ratelimit *rl = NULL;
    rc = hs_ratelimit_new(cfg->env, &rl);
    for (size_t i = 0; rc == HS_OK && i < lim.n_windows; i++)
        rc = hs_ratelimit_add(rl, lim.windows[i].scope, lim.windows[i].limit,
                              hs_conn_limiter_window_ms(lim.windows[i].window_ms));
    if (rc != HS_OK) {
        hs_ratelimit_free(rl);
        return hs_error_set(err, rc, "cannot build the rate limiter of '%s': %s",
                            cfg->name != NULL ? cfg->name : ops->provider, hs_strerror(rc));
    }
    cfg->limiter = rl;
    rc = ops->open(cfg, out, err);
    if (rc != HS_OK) {
        cfg->limiter = NULL;
        hs_ratelimit_free(rl);
        return rc;
    }
    *out_rl = rl;
    return HS_OK;
}
