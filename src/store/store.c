/*
 * store/store.c - the backend-neutral half of the store: open, keys, transactions, policy.
 *
 * Design:     hs_store_open maps the URI scheme to a backend ops table (BACKENDS, a table, not
 *             an if chain), resolves options (env, busy timeout, job backoff), loads the master
 *             key (option > $HOOPSYNC_MASTER_KEY > key file), opens the backend and then, in
 *             one transaction, creates the workspace id on first use and checks or records a
 *             sealed "key check" value, so a wrong master key fails at open with HS_ECRYPTO
 *             instead of later, secret by secret. The master key never outlives open: only the
 *             per-workspace key derived from it stays in the handle, wiped at close.
 *             Each public operation validates its arguments, reads the clock once from the env,
 *             and calls the backend; operations that touch several rows run between tx_begin
 *             and tx_end, which nest inside a caller's hs_store_begin as savepoints.
 * Invariants: a public write returns an error and changes nothing when any step fails;
 *             plaintext secrets exist only in caller memory and in buffers wiped before free;
 *             messages never contain secret values.
 * States:     see hoopsync/store.h (ok -> failed on an uncertain I/O error).
 * Threads:    one handle per thread; nothing here is shared.
 * Ownership:  see hoopsync/store.h.
 * Not here:   SQL (sqlite.c), audit chain (audit.c), key files (keyfile.c), sealing (secret.c).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/sqlite.h"
#include "store/store_int.h"
#include "util/alloc.h"
#include "util/json.h"

static const struct {
    const char *scheme;
    const struct hs_store_ops *ops;
} BACKENDS[] = {
    {"sqlite", &hs_store_sqlite_ops},
};

static const char KEY_CHECK[] = "hoopsync key check v1";
#define WORKSPACE_ID_BYTES 16

const char *hs_store_side_name(enum hs_store_side side)
{
    switch (side) {
    case HS_STORE_CRM:
        return "crm";
    case HS_STORE_ACCOUNTING:
        return "accounting";
    default:
        return "?";
    }
}

/* ---- helpers ---------------------------------------------------------------------------- */

int64_t hs_store_now(const struct hs_store *store)
{
    return hs_env_now_ms(&store->cfg.env);
}

int hs_store_writable(struct hs_store *store, struct hs_error *err)
{
    if (store->ops->failed(store->impl))
        return hs_error_set(err, HS_ESTATE,
                            "store '%s' refuses writes after an I/O error left it unsure what "
                            "reached the disk: close and reopen it",
                            store->name);
    return HS_OK;
}

static int tx_begin(struct hs_store *s, struct hs_error *err)
{
    int rc = hs_store_writable(s, err);
    if (rc != HS_OK)
        return rc;
    return s->ops->begin(s->impl, err);
}

/* Ends a transaction opened by tx_begin: commit when rc >= 0, else roll back and return rc. */
static int tx_end(struct hs_store *s, int rc, struct hs_error *err)
{
    if (rc < 0) {
        s->ops->rollback(s->impl, NULL);
        return rc;
    }
    int c = s->ops->commit(s->impl, err);
    return c < 0 ? c : rc;
}

static int need(const char *v, const char *what, struct hs_error *err)
{
    if (v == NULL || v[0] == '\0')
        return hs_error_set(err, HS_EINVAL, "missing %s", what);
    return HS_OK;
}

static int need_side(enum hs_store_side side, struct hs_error *err)
{
    if (side != HS_STORE_CRM && side != HS_STORE_ACCOUNTING)
        return hs_error_set(err, HS_EINVAL, "invalid side %d: expected crm or accounting",
                            (int)side);
    return HS_OK;
}

/* Checks that json is well-formed JSON (an object when want_object), without allocating or
 * building it (util/json.h hs_json_check): every stored document passes here. */
static int need_json(const char *json, bool want_object, const char *what, struct hs_error *err)
{
    size_t len = strlen(json);
    if (len > HS_JSON_MAX_BYTES)
        return hs_error_set(err, HS_ETOOBIG, "%s of %zu bytes exceeds the limit of %zu", what, len,
                            HS_JSON_MAX_BYTES);
    struct hs_json_where w;
    int rc = hs_json_check((const uint8_t *)json, len, HS_JSON_MAX_DEPTH, want_object, &w);
    if (rc == HS_ETOOBIG)
        return hs_error_set(err, HS_EINVAL, "invalid %s: nested deeper than %d levels", what,
                            HS_JSON_MAX_DEPTH);
    if (rc != HS_OK)
        return hs_error_set(err, HS_EINVAL, "invalid %s: line %d column %zu: %s", what, w.line,
                            w.column, w.why);
    return HS_OK;
}

/* Clears an expected HS_ENOTFOUND so err does not carry a stale message on success. */
static void forget(struct hs_error *err)
{
    hs_error_clear(err);
}

/* ---- open and close --------------------------------------------------------------------- */

static bool is_scheme_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

static int pick_backend(const char *uri, const struct hs_store_ops **ops, const char **location,
                        struct hs_error *err)
{
    const char *colon = strchr(uri, ':');
    size_t n = colon != NULL ? (size_t)(colon - uri) : 0;
    bool scheme = n >= 2 && uri[0] >= 'a' && uri[0] <= 'z';
    for (size_t i = 0; scheme && i < n; i++)
        scheme = is_scheme_char(uri[i]);
    if (!scheme) {
        *ops = BACKENDS[0].ops;
        *location = uri;
        return HS_OK;
    }
    for (size_t i = 0; i < sizeof BACKENDS / sizeof BACKENDS[0]; i++) {
        if (strlen(BACKENDS[i].scheme) == n && strncmp(uri, BACKENDS[i].scheme, n) == 0) {
            const char *loc = colon + 1;
            if (strncmp(loc, "//", 2) == 0)
                loc += 2;
            if (loc[0] == '\0') {
                hs_error_set(err, HS_EINVAL, "cannot open store '%s': no path after '%.*s:'", uri,
                             (int)n, uri);
                return HS_EINVAL;
            }
            *ops = BACKENDS[i].ops;
            *location = loc;
            return HS_OK;
        }
    }
    /* Do not echo the rest of the URI: it may hold a password. */
    hs_error_set(err, HS_EUNSUPPORTED,
                 "cannot open store: no '%.*s' backend in this build (known: sqlite)", (int)n, uri);
    return HS_EUNSUPPORTED;
}

static void fill_cfg(struct hs_store_cfg *cfg, const struct hs_store_options *opt)
{
    static const struct hs_store_options none = {0};
    if (opt == NULL)
        opt = &none;
    if (opt->env != NULL)
        cfg->env = *opt->env;
    else
        hs_env_system(&cfg->env, HS_LOG_WARN);
    cfg->busy_timeout_ms = opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 5000;
    cfg->job_backoff_base_ms = opt->job_backoff_base_ms > 0 ? opt->job_backoff_base_ms : 1000;
    cfg->job_backoff_max_ms = opt->job_backoff_max_ms > 0 ? opt->job_backoff_max_ms : 3600000;
    if (cfg->job_backoff_max_ms < cfg->job_backoff_base_ms)
        cfg->job_backoff_max_ms = cfg->job_backoff_base_ms;
    cfg->job_max_attempts = opt->job_max_attempts > 0 ? opt->job_max_attempts : 10;
}

/* Loads the master key: option, then environment, then key file. *found false: no key. */
static int load_master(const struct hs_store_options *opt, uint8_t key[HS_STORE_KEY_BYTES],
                       bool *found, struct hs_error *err)
{
    *found = false;
    if (opt != NULL && opt->master_key_hex != NULL) {
        int rc =
            hs_store_keyfile_from_hex(opt->master_key_hex, "the master_key_hex option", key, err);
        *found = rc == HS_OK;
        return rc;
    }
    const char *env = getenv(HS_STORE_KEY_ENV);
    if (env != NULL && env[0] != '\0') {
        int rc = hs_store_keyfile_from_hex(env, "$" HS_STORE_KEY_ENV, key, err);
        *found = rc == HS_OK;
        return rc;
    }
    if (opt != NULL && opt->key_file != NULL) {
        int rc = hs_store_keyfile_load(opt->key_file, key, err);
        *found = rc == HS_OK;
        return rc;
    }
    return HS_OK;
}

/* First open: create the workspace id. With a key: derive the data key and check or record the
 * sealed key-check value. One transaction. */
static int setup_workspace(struct hs_store *s, const uint8_t *master, struct hs_error *err)
{
    int rc = s->ops->begin(s->impl, err);
    if (rc != HS_OK)
        return rc;
    uint8_t *ws = NULL, *check = NULL, *sealed = NULL;
    size_t ws_len = 0, check_len = 0, sealed_len = 0;
    char *plain = NULL;
    rc = s->ops->meta_get(s->impl, "workspace_id", &ws, &ws_len, err);
    if (rc == HS_ENOTFOUND) {
        forget(err);
        ws_len = WORKSPACE_ID_BYTES;
        ws = hs_malloc(ws_len);
        if (ws == NULL) {
            rc = hs_error_set(err, HS_ENOMEM, "out of memory");
            goto done;
        }
        randombytes_buf(ws, ws_len);
        rc = s->ops->meta_put(s->impl, "workspace_id", ws, ws_len, err);
    }
    if (rc != HS_OK || master == NULL)
        goto done;
    rc = hs_store_secret_derive(master, ws, ws_len, s->key);
    if (rc != HS_OK) {
        hs_error_set(err, rc, "cannot derive the workspace key");
        goto done;
    }
    rc = s->ops->meta_get(s->impl, "key_check", &check, &check_len, err);
    if (rc == HS_OK) {
        size_t n = 0;
        rc = hs_store_secret_open(s->key, check, check_len, &plain, &n, NULL);
        if (rc == HS_ENOMEM) {
            hs_error_set(err, rc, "out of memory");
        } else if (rc != HS_OK || n != sizeof KEY_CHECK - 1 || memcmp(plain, KEY_CHECK, n) != 0) {
            rc = hs_error_set(err, HS_ECRYPTO,
                              "the master key is not the one this store's secrets are sealed "
                              "with (check $%s or the key file)",
                              HS_STORE_KEY_ENV);
        }
    } else if (rc == HS_ENOTFOUND) {
        forget(err);
        rc = hs_store_secret_seal(s->key, (const uint8_t *)KEY_CHECK, sizeof KEY_CHECK - 1, &sealed,
                                  &sealed_len, err);
        if (rc == HS_OK)
            rc = s->ops->meta_put(s->impl, "key_check", sealed, sealed_len, err);
    }
    if (rc == HS_OK)
        s->has_key = true;
done:
    hs_free(ws);
    hs_free(check);
    hs_free(sealed);
    hs_store_secret_free(plain);
    return tx_end(s, rc, err);
}

int hs_store_open(const char *uri, const struct hs_store_options *opt, struct hs_store **out,
                  struct hs_error *err)
{
    if (out == NULL)
        return hs_error_set(err, HS_EINVAL, "cannot open store: no output handle");
    *out = NULL;
    if (uri == NULL || uri[0] == '\0')
        return hs_error_set(err, HS_EINVAL, "cannot open store: no location given");
    if (sodium_init() < 0)
        return hs_error_set(err, HS_ECRYPTO, "cannot open store '%s': libsodium failed to start",
                            uri);
    const struct hs_store_ops *ops = NULL;
    const char *location = NULL;
    int rc = pick_backend(uri, &ops, &location, err);
    if (rc != HS_OK)
        return rc;

    uint8_t master[HS_STORE_KEY_BYTES];
    bool have_master = false;
    struct hs_store *s = hs_calloc(1, sizeof *s);
    if (s == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot open store '%s': out of memory", location);
    s->ops = ops;
    s->name = hs_strdup(location);
    if (s->name == NULL) {
        rc = hs_error_set(err, HS_ENOMEM, "cannot open store '%s': out of memory", location);
        goto fail;
    }
    fill_cfg(&s->cfg, opt);
    rc = load_master(opt, master, &have_master, err);
    if (rc != HS_OK) {
        hs_error_prefix(err, "cannot open store '%s'", s->name);
        goto fail;
    }
    rc = ops->open(location, &s->cfg, &s->impl, err);
    if (rc != HS_OK)
        goto fail;
    rc = setup_workspace(s, have_master ? master : NULL, err);
    if (rc != HS_OK) {
        hs_error_prefix(err, "cannot open store '%s'", s->name);
        goto fail;
    }
    sodium_memzero(master, sizeof master);
    *out = s;
    return HS_OK;
fail:
    sodium_memzero(master, sizeof master);
    hs_store_close(s);
    return rc;
}

void hs_store_close(struct hs_store *store)
{
    if (store == NULL)
        return;
    if (store->impl != NULL)
        store->ops->close(store->impl);
    sodium_memzero(store->key, sizeof store->key);
    hs_free(store->name);
    hs_free(store);
}

int hs_store_check(struct hs_store *store, struct hs_error *err)
{
    return store->ops->check(store->impl, err);
}

int hs_store_schema_version(struct hs_store *store, struct hs_error *err)
{
    return store->ops->schema_version(store->impl, err);
}

bool hs_store_failed(const struct hs_store *store)
{
    return store->ops->failed(store->impl);
}

bool hs_store_has_key(const struct hs_store *store)
{
    return store->has_key;
}

int hs_store_begin(struct hs_store *store, struct hs_error *err)
{
    return tx_begin(store, err);
}

int hs_store_commit(struct hs_store *store, struct hs_error *err)
{
    /* A commit is a write: after an uncertain I/O error inside the transaction, undo instead. */
    if (store->ops->failed(store->impl)) {
        store->ops->rollback(store->impl, NULL);
        return hs_error_set(err, HS_ESTATE,
                            "cannot commit in store '%s': an I/O error inside the transaction "
                            "put the store in its failed state; the transaction was rolled back",
                            store->name);
    }
    return store->ops->commit(store->impl, err);
}

int hs_store_rollback(struct hs_store *store, struct hs_error *err)
{
    return store->ops->rollback(store->impl, err);
}

/* ---- connections ------------------------------------------------------------------------ */

void hs_store_connection_release(struct hs_store_connection *c)
{
    if (c == NULL)
        return;
    HS_FREE(c->id);
    HS_FREE(c->provider);
    HS_FREE(c->tenant_id);
    HS_FREE(c->settings);
}

void hs_store_connections_free(struct hs_store_connection *arr, size_t n)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        hs_store_connection_release(&arr[i]);
    hs_free(arr);
}

int hs_store_connection_put(struct hs_store *store, const char *id, enum hs_store_side kind,
                            const char *provider, const char *tenant_id, const char *settings,
                            struct hs_error *err)
{
    int rc = need(id, "connection id", err);
    if (rc == HS_OK)
        rc = need(provider, "provider", err);
    if (rc == HS_OK)
        rc = need_side(kind, err);
    if (settings == NULL)
        settings = "{}";
    if (rc == HS_OK)
        rc = need_json(settings, true, "connection settings", err);
    if (rc != HS_OK)
        return hs_error_prefix(err, "cannot save connection '%s'", id != NULL ? id : "");
    rc = tx_begin(store, err);
    if (rc != HS_OK)
        return rc;
    struct hs_store_connection cur;
    rc = store->ops->conn_get(store->impl, id, &cur, err);
    if (rc == HS_OK) {
        if (cur.kind != kind || strcmp(cur.provider, provider) != 0)
            rc = hs_error_set(err, HS_ECONFLICT,
                              "cannot save connection '%s': it is the %s connection to '%s'; "
                              "its kind and provider cannot change to %s '%s'",
                              id, hs_store_side_name(cur.kind), cur.provider,
                              hs_store_side_name(kind), provider);
        hs_store_connection_release(&cur);
    } else if (rc == HS_ENOTFOUND) {
        forget(err);
        rc = HS_OK;
    }
    if (rc == HS_OK) {
        struct hs_store_connection c = {
            .id = (char *)id,
            .kind = kind,
            .provider = (char *)provider,
            .tenant_id = (char *)(tenant_id != NULL ? tenant_id : ""),
            .settings = (char *)settings,
        };
        rc = store->ops->conn_put(store->impl, &c, hs_store_now(store), err);
    }
    return tx_end(store, rc, err);
}

int hs_store_connection_get(struct hs_store *store, const char *id, struct hs_store_connection *out,
                            struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = need(id, "connection id", err);
    if (rc != HS_OK)
        return rc;
    return store->ops->conn_get(store->impl, id, out, err);
}

int hs_store_connection_list(struct hs_store *store, struct hs_store_connection **out,
                             size_t *out_n, struct hs_error *err)
{
    return store->ops->conn_list(store->impl, out, out_n, err);
}

int hs_store_connection_delete(struct hs_store *store, const char *id, struct hs_error *err)
{
    int rc = need(id, "connection id", err);
    if (rc != HS_OK)
        return rc;
    /* One statement; the backend cascades to dependent rows inside it. */
    rc = tx_begin(store, err);
    if (rc != HS_OK)
        return rc;
    rc = store->ops->conn_delete(store->impl, id, err);
    return tx_end(store, rc, err);
}

/* ---- secrets ---------------------------------------------------------------------------- */

void hs_store_secrets_release(struct hs_store_secrets *s)
{
    if (s == NULL)
        return;
    hs_store_secret_free(s->access_token);
    hs_store_secret_free(s->refresh_token);
    hs_store_secret_free(s->client_secret);
    s->access_token = NULL;
    s->refresh_token = NULL;
    s->client_secret = NULL;
    s->expires_at = 0;
}

static int need_key(struct hs_store *store, const char *conn_id, struct hs_error *err)
{
    if (!store->has_key)
        return hs_error_set(err, HS_ECRYPTO,
                            "cannot handle secrets of connection '%s': no master key (set $%s or "
                            "create a key file with 'hoopsync init')",
                            conn_id, HS_STORE_KEY_ENV);
    return HS_OK;
}

static int seal_str(struct hs_store *store, const char *plain, uint8_t **out, size_t *out_len,
                    struct hs_error *err)
{
    return hs_store_secret_seal(store->key, (const uint8_t *)plain, strlen(plain), out, out_len,
                                err);
}

int hs_store_tokens_set(struct hs_store *store, const char *conn_id, const char *access_token,
                        const char *refresh_token, int64_t expires_at, struct hs_error *err)
{
    int rc = need(conn_id, "connection id", err);
    if (rc == HS_OK)
        rc = need(access_token, "access token", err);
    if (rc == HS_OK && refresh_token != NULL && refresh_token[0] == '\0')
        rc = hs_error_set(err, HS_EINVAL, "empty refresh token");
    if (rc != HS_OK)
        return hs_error_prefix(err, "cannot store tokens of connection '%s'",
                               conn_id != NULL ? conn_id : "");
    rc = need_key(store, conn_id, err);
    if (rc != HS_OK)
        return rc;
    uint8_t *a = NULL, *r = NULL;
    size_t a_len = 0, r_len = 0;
    rc = seal_str(store, access_token, &a, &a_len, err);
    if (rc == HS_OK && refresh_token != NULL)
        rc = seal_str(store, refresh_token, &r, &r_len, err);
    if (rc != HS_OK) {
        hs_free(a);
        hs_free(r);
        return hs_error_prefix(err, "cannot store tokens of connection '%s'", conn_id);
    }
    int64_t now = hs_store_now(store);
    rc = tx_begin(store, err);
    if (rc == HS_OK) {
        rc = store->ops->conn_secret_put(store->impl, conn_id, HS_STORE_SECRET_ACCESS, a, a_len,
                                         now, err);
        if (rc == HS_OK && r != NULL)
            rc = store->ops->conn_secret_put(store->impl, conn_id, HS_STORE_SECRET_REFRESH, r,
                                             r_len, now, err);
        if (rc == HS_OK)
            rc = store->ops->conn_expiry_put(store->impl, conn_id, expires_at, now, err);
        rc = tx_end(store, rc, err);
    }
    hs_free(a);
    hs_free(r);
    return rc;
}

int hs_store_client_secret_set(struct hs_store *store, const char *conn_id, const char *secret,
                               struct hs_error *err)
{
    int rc = need(conn_id, "connection id", err);
    if (rc != HS_OK)
        return rc;
    uint8_t *blob = NULL;
    size_t len = 0;
    if (secret != NULL) {
        rc = need_key(store, conn_id, err);
        if (rc == HS_OK)
            rc = seal_str(store, secret, &blob, &len, err);
        if (rc != HS_OK)
            return rc;
    }
    rc = hs_store_writable(store, err);
    if (rc == HS_OK)
        rc = store->ops->conn_secret_put(store->impl, conn_id, HS_STORE_SECRET_CLIENT, blob, len,
                                         hs_store_now(store), err);
    hs_free(blob);
    return rc;
}

int hs_store_secrets_get(struct hs_store *store, const char *conn_id, struct hs_store_secrets *out,
                         struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = need(conn_id, "connection id", err);
    if (rc == HS_OK)
        rc = need_key(store, conn_id, err);
    if (rc != HS_OK)
        return rc;
    uint8_t *blob[3] = {NULL, NULL, NULL};
    size_t len[3] = {0, 0, 0};
    int64_t expires_at = 0;
    rc = store->ops->conn_secrets_get(store->impl, conn_id, blob, len, &expires_at, err);
    if (rc != HS_OK)
        return rc;
    static const char *const names[3] = {"access token", "refresh token", "client secret"};
    char **dst[3] = {&out->access_token, &out->refresh_token, &out->client_secret};
    for (int i = 0; i < 3 && rc == HS_OK; i++) {
        if (blob[i] == NULL)
            continue;
        rc = hs_store_secret_open(store->key, blob[i], len[i], dst[i], NULL, err);
        if (rc != HS_OK)
            hs_error_prefix(err, "cannot read the %s of connection '%s'", names[i], conn_id);
    }
    for (int i = 0; i < 3; i++)
        hs_free(blob[i]);
    if (rc != HS_OK) {
        hs_store_secrets_release(out);
        return rc;
    }
    out->expires_at = expires_at;
    return HS_OK;
}

/* ---- links and base snapshots ----------------------------------------------------------- */

void hs_store_link_release(struct hs_store_link *l)
{
    if (l == NULL)
        return;
    HS_FREE(l->crm_conn);
    HS_FREE(l->acc_conn);
    HS_FREE(l->object);
    HS_FREE(l->crm_id);
    HS_FREE(l->acc_id);
}

static int need_conn_kind(struct hs_store *store, const char *id, enum hs_store_side kind,
                          struct hs_error *err)
{
    struct hs_store_connection c;
    int rc = store->ops->conn_get(store->impl, id, &c, err);
    if (rc != HS_OK)
        return rc;
    if (c.kind != kind)
        rc = hs_error_set(err, HS_EINVAL, "connection '%s' is on the %s side, not the %s side", id,
                          hs_store_side_name(c.kind), hs_store_side_name(kind));
    hs_store_connection_release(&c);
    return rc;
}

/* HS_EEXIST naming the existing link when remote_id on side is already linked. */
static int need_unlinked(struct hs_store *store, const char *crm_conn, const char *acc_conn,
                         const char *object, enum hs_store_side side, const char *remote_id,
                         struct hs_error *err)
{
    struct hs_store_link l;
    int rc =
        store->ops->link_find(store->impl, crm_conn, acc_conn, object, side, remote_id, &l, err);
    if (rc == HS_ENOTFOUND) {
        forget(err);
        return HS_OK;
    }
    if (rc != HS_OK)
        return rc;
    rc = hs_error_set(err, HS_EEXIST, "%s %s '%s' is already linked to %s '%s' (link %lld)",
                      hs_store_side_name(side), object, remote_id,
                      side == HS_STORE_CRM ? "accounting record" : "crm record",
                      side == HS_STORE_CRM ? l.acc_id : l.crm_id, (long long)l.id);
    hs_store_link_release(&l);
    return rc;
}

int hs_store_link_create(struct hs_store *store, const char *crm_conn, const char *acc_conn,
                         const char *object, const char *crm_id, const char *acc_id,
                         int64_t *out_id, struct hs_error *err)
{
    int rc = need(crm_conn, "crm connection", err);
    if (rc == HS_OK)
        rc = need(acc_conn, "accounting connection", err);
    if (rc == HS_OK)
        rc = need(object, "object kind", err);
    if (rc == HS_OK)
        rc = need(crm_id, "crm record id", err);
    if (rc == HS_OK)
        rc = need(acc_id, "accounting record id", err);
    if (rc != HS_OK)
        return hs_error_prefix(err, "cannot create link");
    rc = tx_begin(store, err);
    if (rc != HS_OK)
        return rc;
    rc = need_conn_kind(store, crm_conn, HS_STORE_CRM, err);
    if (rc == HS_OK)
        rc = need_conn_kind(store, acc_conn, HS_STORE_ACCOUNTING, err);
    if (rc == HS_OK)
        rc = need_unlinked(store, crm_conn, acc_conn, object, HS_STORE_CRM, crm_id, err);
    if (rc == HS_OK)
        rc = need_unlinked(store, crm_conn, acc_conn, object, HS_STORE_ACCOUNTING, acc_id, err);
    if (rc != HS_OK)
        hs_error_prefix(err, "cannot link %s '%s' to '%s'", object, crm_id, acc_id);
    int64_t id = 0;
    if (rc == HS_OK)
        rc = store->ops->link_insert(store->impl, crm_conn, acc_conn, object, crm_id, acc_id,
                                     hs_store_now(store), &id, err);
    rc = tx_end(store, rc, err);
    if (rc == HS_OK && out_id != NULL)
        *out_id = id;
    return rc;
}

int hs_store_link_get(struct hs_store *store, int64_t id, struct hs_store_link *out,
                      struct hs_error *err)
{
    return store->ops->link_get(store->impl, id, out, err);
}

int hs_store_link_find(struct hs_store *store, const char *crm_conn, const char *acc_conn,
                       const char *object, enum hs_store_side side, const char *remote_id,
                       struct hs_store_link *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = need(crm_conn, "crm connection", err);
    if (rc == HS_OK)
        rc = need(acc_conn, "accounting connection", err);
    if (rc == HS_OK)
        rc = need(object, "object kind", err);
    if (rc == HS_OK)
        rc = need(remote_id, "record id", err);
    if (rc == HS_OK)
        rc = need_side(side, err);
    if (rc != HS_OK)
        return rc;
    return store->ops->link_find(store->impl, crm_conn, acc_conn, object, side, remote_id, out,
                                 err);
}

int hs_store_link_delete(struct hs_store *store, int64_t id, struct hs_error *err)
{
    int rc = tx_begin(store, err);
    if (rc != HS_OK)
        return rc;
    rc = store->ops->link_delete(store->impl, id, err);
    return tx_end(store, rc, err);
}

int hs_store_link_each(struct hs_store *store, const char *crm_conn, const char *acc_conn,
                       const char *object, hs_store_link_fn cb, void *ud, struct hs_error *err)
{
    int rc = need(crm_conn, "crm connection", err);
    if (rc == HS_OK)
        rc = need(acc_conn, "accounting connection", err);
    if (rc == HS_OK)
        rc = need(object, "object kind", err);
    if (rc == HS_OK && cb == NULL)
        rc = hs_error_set(err, HS_EINVAL, "missing callback");
    if (rc != HS_OK)
        return rc;
    return store->ops->link_each(store->impl, crm_conn, acc_conn, object, cb, ud, err);
}

void hs_store_doc_release(struct hs_store_doc *d)
{
    if (d == NULL)
        return;
    HS_FREE(d->json);
    HS_FREE(d->hash);
}

/* hash, or the hex SHA-256 of json in buf when hash is NULL. */
static const char *doc_hash(const char *json, const char *hash, char buf[HS_STORE_HASH_HEX])
{
    if (hash != NULL)
        return hash;
    hs_store_secret_sha256_hex((const uint8_t *)json, strlen(json), buf);
    return buf;
}

int hs_store_base_put(struct hs_store *store, int64_t link_id, enum hs_store_side side,
                      const char *json, const char *hash, struct hs_error *err)
{
    if (json == NULL) {
        hs_error_set(err, HS_EINVAL, "cannot save the base snapshot of link %lld: missing JSON",
                     (long long)link_id);
        return HS_EINVAL;
    }
    int rc = need_side(side, err);
    if (rc == HS_OK)
        rc = need_json(json, false, "base snapshot", err);
    if (rc == HS_OK && hash != NULL && hash[0] == '\0')
        rc = hs_error_set(err, HS_EINVAL, "empty hash");
    if (rc != HS_OK)
        return hs_error_prefix(err, "cannot save the base snapshot of link %lld",
                               (long long)link_id);
    rc = hs_store_writable(store, err);
    if (rc != HS_OK)
        return rc;
    char buf[HS_STORE_HASH_HEX];
    return store->ops->base_put(store->impl, link_id, side, json, doc_hash(json, hash, buf),
                                hs_store_now(store), err);
}

int hs_store_base_get(struct hs_store *store, int64_t link_id, enum hs_store_side side,
                      struct hs_store_doc *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = need_side(side, err);
    if (rc != HS_OK)
        return rc;
    return store->ops->base_get(store->impl, link_id, side, out, err);
}

/* ---- mirror and cursors ----------------------------------------------------------------- */

/* conn and object are required; remote_id too when want_id. */
static int need_key3(const char *conn, const char *object, const char *remote_id, bool want_id,
                     struct hs_error *err)
{
    int rc = need(conn, "connection id", err);
    if (rc == HS_OK)
        rc = need(object, "object kind", err);
    if (rc == HS_OK && want_id)
        rc = need(remote_id, "record id", err);
    return rc;
}

int hs_store_mirror_put(struct hs_store *store, const char *conn, const char *object,
                        const char *remote_id, const char *json, const char *hash,
                        int64_t remote_updated_at, struct hs_error *err)
{
    if (json == NULL) {
        hs_error_set(err, HS_EINVAL, "cannot save mirror entry: missing JSON");
        return HS_EINVAL;
    }
    int rc = need_key3(conn, object, remote_id, true, err);
    if (rc == HS_OK)
        rc = need_json(json, false, "mirror record", err);
    if (rc == HS_OK && hash != NULL && hash[0] == '\0')
        rc = hs_error_set(err, HS_EINVAL, "empty hash");
    if (rc != HS_OK)
        return hs_error_prefix(err, "cannot save mirror entry");
    rc = hs_store_writable(store, err);
    if (rc != HS_OK)
        return rc;
    char buf[HS_STORE_HASH_HEX];
    return store->ops->mirror_put(store->impl, conn, object, remote_id, json,
                                  doc_hash(json, hash, buf), remote_updated_at, hs_store_now(store),
                                  err);
}

int hs_store_mirror_get(struct hs_store *store, const char *conn, const char *object,
                        const char *remote_id, struct hs_store_doc *out, struct hs_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = need_key3(conn, object, remote_id, true, err);
    if (rc != HS_OK)
        return rc;
    return store->ops->mirror_get(store->impl, conn, object, remote_id, out, err);
}

int hs_store_mirror_delete(struct hs_store *store, const char *conn, const char *object,
                           const char *remote_id, struct hs_error *err)
{
    int rc = need_key3(conn, object, remote_id, true, err);
    if (rc == HS_OK)
        rc = hs_store_writable(store, err);
    if (rc != HS_OK)
        return rc;
    return store->ops->mirror_delete(store->impl, conn, object, remote_id, err);
}

int hs_store_mirror_each(struct hs_store *store, const char *conn, const char *object,
                         hs_store_mirror_fn cb, void *ud, struct hs_error *err)
{
    int rc = need_key3(conn, object, NULL, false, err);
    if (rc == HS_OK && cb == NULL)
        rc = hs_error_set(err, HS_EINVAL, "missing callback");
    if (rc != HS_OK)
        return rc;
    return store->ops->mirror_each(store->impl, conn, object, cb, ud, err);
}

int hs_store_cursor_get(struct hs_store *store, const char *conn, const char *object, char **out,
                        struct hs_error *err)
{
    *out = NULL;
    int rc = need_key3(conn, object, NULL, false, err);
    if (rc != HS_OK)
        return rc;
    return store->ops->cursor_get(store->impl, conn, object, out, err);
}

int hs_store_cursor_set(struct hs_store *store, const char *conn, const char *object,
                        const char *value, struct hs_error *err)
{
    int rc = need_key3(conn, object, NULL, false, err);
    if (rc == HS_OK && value == NULL)
        rc = hs_error_set(err, HS_EINVAL, "missing cursor value");
    if (rc == HS_OK)
        rc = hs_store_writable(store, err);
    if (rc != HS_OK)
        return rc;
    return store->ops->cursor_put(store->impl, conn, object, value, hs_store_now(store), err);
}

/* ---- dirty set -------------------------------------------------------------------------- */

void hs_store_dirty_free(struct hs_store_dirty *arr, size_t n)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        hs_free(arr[i].conn);
        hs_free(arr[i].object);
        hs_free(arr[i].remote_id);
    }
    hs_free(arr);
}

int hs_store_dirty_mark(struct hs_store *store, const char *conn, const char *object,
                        enum hs_store_side side, const char *remote_id, struct hs_error *err)
{
    int rc = need_key3(conn, object, remote_id, true, err);
    if (rc == HS_OK)
        rc = need_side(side, err);
    if (rc == HS_OK)
        rc = hs_store_writable(store, err);
    if (rc != HS_OK)
        return rc;
    return store->ops->dirty_mark(store->impl, conn, object, side, remote_id, hs_store_now(store),
                                  err);
}

/* now + ms, saturating instead of overflowing. */
static int64_t add_ms(int64_t now, int64_t ms)
{
    return ms > INT64_MAX - now ? INT64_MAX : now + ms;
}

int hs_store_dirty_claim(struct hs_store *store, const char *owner, const char *conn,
                         int64_t lease_ms, size_t max, struct hs_store_dirty **out, size_t *out_n,
                         struct hs_error *err)
{
    *out = NULL;
    *out_n = 0;
    int rc = need(owner, "lease owner", err);
    if (rc == HS_OK && lease_ms <= 0)
        rc =
            hs_error_set(err, HS_EINVAL, "lease of %lld ms: must be positive", (long long)lease_ms);
    if (rc != HS_OK)
        return hs_error_prefix(err, "cannot claim dirty records");
    if (max == 0)
        return HS_OK;
    rc = tx_begin(store, err);
    if (rc != HS_OK)
        return rc;
    int64_t now = hs_store_now(store);
    rc = store->ops->dirty_claim(store->impl, owner, conn, add_ms(now, lease_ms), now, max, out,
                                 out_n, err);
    rc = tx_end(store, rc, err);
    if (rc != HS_OK) {
        hs_store_dirty_free(*out, *out_n);
        *out = NULL;
        *out_n = 0;
    }
    return rc;
}

static int dirty_finish_all(struct hs_store *store, const char *owner,
                            const struct hs_store_dirty *items, size_t n, bool complete,
                            struct hs_error *err)
{
    int rc = need(owner, "lease owner", err);
    if (rc == HS_OK && items == NULL && n > 0)
        rc = hs_error_set(err, HS_EINVAL, "missing items");
    if (rc != HS_OK || n == 0)
        return rc;
    rc = tx_begin(store, err);
    if (rc != HS_OK)
        return rc;
    int count = 0;
    for (size_t i = 0; i < n && rc >= 0; i++) {
        rc = store->ops->dirty_finish(store->impl, owner, &items[i], complete, err);
        if (rc > 0)
            count++;
    }
    rc = tx_end(store, rc < 0 ? rc : HS_OK, err);
    return rc < 0 ? rc : count;
}

int hs_store_dirty_complete(struct hs_store *store, const char *owner,
                            const struct hs_store_dirty *items, size_t n, struct hs_error *err)
{
    return dirty_finish_all(store, owner, items, n, true, err);
}

int hs_store_dirty_release(struct hs_store *store, const char *owner,
                           const struct hs_store_dirty *items, size_t n, struct hs_error *err)
{
    return dirty_finish_all(store, owner, items, n, false, err);
}

int hs_store_dirty_count(struct hs_store *store, struct hs_error *err)
{
    return store->ops->dirty_count(store->impl, NULL, NULL, err);
}

int hs_store_dirty_count_of(struct hs_store *store, const char *object, int side,
                            struct hs_error *err)
{
    const char *s = side == HS_STORE_CRM || side == HS_STORE_ACCOUNTING
                        ? hs_store_side_name((enum hs_store_side)side)
                        : NULL;
    return store->ops->dirty_count(store->impl, object, s, err);
}

/* ---- jobs ------------------------------------------------------------------------------- */

void hs_store_job_release(struct hs_store_job *j)
{
    if (j == NULL)
        return;
    HS_FREE(j->kind);
    HS_FREE(j->payload);
    HS_FREE(j->lease_owner);
    HS_FREE(j->last_error);
}

void hs_store_jobs_free(struct hs_store_job *arr, size_t n)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        hs_store_job_release(&arr[i]);
    hs_free(arr);
}

int hs_store_job_enqueue(struct hs_store *store, const char *kind, const char *payload,
                         int64_t run_at, int64_t *out_id, struct hs_error *err)
{
    int rc = need(kind, "job kind", err);
    if (payload == NULL)
        payload = "{}";
    if (rc == HS_OK)
        rc = need_json(payload, false, "job payload", err);
    if (rc != HS_OK)
        return hs_error_prefix(err, "cannot queue job");
    rc = hs_store_writable(store, err);
    if (rc != HS_OK)
        return rc;
    int64_t id = 0;
    rc = store->ops->job_insert(store->impl, kind, payload, run_at, hs_store_now(store), &id, err);
    if (rc == HS_OK && out_id != NULL)
        *out_id = id;
    return rc;
}

int hs_store_job_claim(struct hs_store *store, const char *owner, int64_t lease_ms, size_t max,
                       struct hs_store_job **out, size_t *out_n, struct hs_error *err)
{
    *out = NULL;
    *out_n = 0;
    int rc = need(owner, "lease owner", err);
    if (rc == HS_OK && lease_ms <= 0)
        rc =
            hs_error_set(err, HS_EINVAL, "lease of %lld ms: must be positive", (long long)lease_ms);
    if (rc != HS_OK)
        return hs_error_prefix(err, "cannot claim jobs");
    if (max == 0)
        return HS_OK;
    rc = tx_begin(store, err);
    if (rc != HS_OK)
        return rc;
    int64_t now = hs_store_now(store);
    rc =
        store->ops->job_claim(store->impl, owner, add_ms(now, lease_ms), now, max, out, out_n, err);
    rc = tx_end(store, rc, err);
    if (rc != HS_OK) {
        hs_store_jobs_free(*out, *out_n);
        *out = NULL;
        *out_n = 0;
    }
    return rc;
}

int hs_store_job_get(struct hs_store *store, int64_t id, struct hs_store_job *out,
                     struct hs_error *err)
{
    return store->ops->job_get(store->impl, id, out, err);
}

/* Reads job id and checks that owner holds its lease. */
static int owned_job(struct hs_store *store, int64_t id, const char *owner,
                     struct hs_store_job *out, struct hs_error *err)
{
    int rc = store->ops->job_get(store->impl, id, out, err);
    if (rc != HS_OK)
        return rc;
    if (out->lease_owner == NULL || strcmp(out->lease_owner, owner) != 0) {
        rc = hs_error_set(err, HS_ECONFLICT, "job %lld is not leased by '%s' (%s%s%s)",
                          (long long)id, owner, out->lease_owner != NULL ? "leased by '" : "",
                          out->lease_owner != NULL ? out->lease_owner : "not leased",
                          out->lease_owner != NULL ? "'" : "");
        hs_store_job_release(out);
    }
    return rc;
}

int hs_store_job_complete(struct hs_store *store, int64_t id, const char *owner,
                          struct hs_error *err)
{
    int rc = need(owner, "lease owner", err);
    if (rc != HS_OK)
        return rc;
    rc = tx_begin(store, err);
    if (rc != HS_OK)
        return rc;
    struct hs_store_job j;
    rc = owned_job(store, id, owner, &j, err);
    if (rc == HS_OK) {
        hs_store_job_release(&j);
        rc = store->ops->job_delete(store->impl, id, err);
    }
    return tx_end(store, rc, err);
}

/* base * 2^(attempts-1), capped at max, plus up to 10% jitter. */
static int64_t backoff_ms(const struct hs_store *store, int attempts)
{
    int64_t delay = store->cfg.job_backoff_base_ms;
    int64_t max = store->cfg.job_backoff_max_ms;
    for (int i = 1; i < attempts && delay < max; i++)
        delay = delay > max / 2 ? max : delay * 2;
    if (delay > max)
        delay = max;
    uint64_t r = hs_env_rand(&store->cfg.env);
    return delay + (int64_t)(r % ((uint64_t)delay / 10 + 1));
}

int hs_store_job_fail(struct hs_store *store, int64_t id, const char *owner, const char *error_text,
                      struct hs_error *err)
{
    int rc = need(owner, "lease owner", err);
    if (rc != HS_OK)
        return rc;
    rc = tx_begin(store, err);
    if (rc != HS_OK)
        return rc;
    struct hs_store_job j;
    rc = owned_job(store, id, owner, &j, err);
    if (rc == HS_OK) {
        int64_t now = hs_store_now(store);
        bool dead = j.attempts >= store->cfg.job_max_attempts;
        int64_t next = dead ? j.next_run : add_ms(now, backoff_ms(store, j.attempts));
        rc = store->ops->job_reschedule(store->impl, id, next, error_text != NULL ? error_text : "",
                                        dead ? HS_STORE_JOB_DEAD : HS_STORE_JOB_QUEUED, now, err);
        if (rc == HS_OK && dead)
            hs_env_log(&store->cfg.env, HS_LOG_WARN, "job %lld (%s) gave up after %d attempts: %s",
                       (long long)id, j.kind, j.attempts, error_text != NULL ? error_text : "");
        hs_store_job_release(&j);
    }
    return tx_end(store, rc, err);
}
