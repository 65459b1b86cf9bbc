/*
 * cli/pause.c - a connection paused by its provider's limits: stored, restored, shown.
 *
 * Design:     when a pass stops because a connection's limiter refused a call it would have
 *             had to wait for longer than the CLI's longest wait (a day window spent, a
 *             provider's long 429; net/ratelimit.h), `sync --once` stores the pause as the
 *             run record "connection:<name>" (flow names cannot contain ':'): until when, the
 *             limiter scope, and the sentence that says why. The next command that opens the
 *             connectors hands the pause back to the limiter (hs_ratelimit_pause), so it does
 *             not spend a call to learn it again, and `hoopsync status` shows it. A pass that
 *             completes clears it. Nothing of the pass is lost: what it did not reach stays in
 *             the dirty set.
 * Not here:   the limiter (net/ratelimit.c), the refusal's message (connectors/common/request.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "hoopsync/store.h"
#include "util/alloc.h"
#include "util/json.h"

static void key_of(const char *conn, char *out, size_t cap)
{
    snprintf(out, cap, "connection:%s", conn);
}

int hs_cli_pause_get(struct hs_store *st, const char *conn, struct hs_cli_pause *out)
{
    memset(out, 0, sizeof *out);
    char key[96];
    key_of(conn, key, sizeof key);
    char *run = NULL;
    if (hs_store_run_get(st, key, &run, NULL) != HS_OK)
        return 0;
    json_t *o = NULL;
    int found = 0;
    if (hs_json_parse((const uint8_t *)run, strlen(run), "pause record", &o, NULL) == HS_OK) {
        json_t *until = json_object_get(o, "until");
        const char *scope = hs_json_str(o, "scope");
        const char *reason = hs_json_str(o, "reason");
        if (json_is_integer(until) && json_integer_value(until) > 0) {
            out->until_ms = (int64_t)json_integer_value(until);
            snprintf(out->scope, sizeof out->scope, "%s", scope != NULL ? scope : "all");
            snprintf(out->reason, sizeof out->reason, "%s", reason != NULL ? reason : "");
            found = 1;
        }
        json_decref(o);
    }
    hs_free(run);
    return found;
}

int hs_cli_pause_put(struct hs_store *st, const char *conn, int64_t until_ms, const char *scope,
                     const char *reason, struct hs_error *err)
{
    char key[96];
    key_of(conn, key, sizeof key);
    json_t *o = json_pack("{s:I,s:s,s:s}", "until", (json_int_t)until_ms, "scope",
                          scope != NULL ? scope : "all", "reason", reason != NULL ? reason : "");
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot store the pause of '%s': out of memory", conn);
    int rc = hs_store_run_put(st, key, text, err);
    hs_free(text); /* json_dumps allocates through hs_malloc (hs_alloc_setup_json) */
    return rc;
}

int hs_cli_pause_clear(struct hs_store *st, const char *conn, struct hs_error *err)
{
    struct hs_cli_pause p;
    if (!hs_cli_pause_get(st, conn, &p))
        return HS_OK; /* nothing to clear: no write */
    return hs_cli_pause_put(st, conn, 0, NULL, NULL, err);
}
