/*
 * tests/unit/test_engine_pass.c - the sync engine against two in-memory fake connectors (one
 * CRM, one accounting) and a SQLite store in a temp dir, under a fake clock.
 *
 * The fake connector keeps records per kind with a modification sequence: changes() pages
 * through ids modified after the cursor (two per page, so paging is exercised); read() clones;
 * write() applies the listed fields of updates (refusing a stale SyncToken with HS_ECONFLICT),
 * honours idempotency keys on creates (a repeated key returns the first record), can refuse
 * batches above a size (HS_ETOOBIG) and can "lose" its answer after doing the work (a crash
 * between the provider's create and our link), and can stand for a provider's day limit (after
 * a number of write() calls the limiter refuses the next with HS_ERATELIMIT, sending nothing).
 * Every call is counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/validate.h"
#include "engine/engine.h"
#include "hoopsync/connector.h"
#include "hoopsync/model.h"
#include "hoopsync/store.h"
#include "store/sqlite.h"
#include "util/alloc.h"
#include "util/env.h"
#include "testutil/failalloc.h"

#define KEY_A  "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define MAXREC 64
#define MAXKEY 64

/* ---- the fake connector --------------------------------------------------------------- */

struct fake {
    enum hs_side side;
    const char *prefix; /* id prefix of created records */
    struct hs_record *recs[MAXREC];
    int64_t seq_of[MAXREC];
    size_t n;
    int64_t seq;
    int64_t *now;
    char *keys[MAXKEY]; /* idempotency key -> record index */
    size_t key_rec[MAXKEY];
    size_t n_keys;
    size_t read_batch, write_batch;
    size_t toobig_above;     /* 0 = never */
    bool lose_answer;        /* do the writes, then fail the call as a whole */
    const char *conflict_id; /* first update of this id: concurrent edit + HS_ECONFLICT */
    const char *refuse_name; /* creates of a customer of this name get a record error */
    bool no_website;         /* the provider cannot store customer.website ... */
    bool echo;               /* ... and answers writes with an echo of the request */
    bool day_limit;          /* write() calls are limited: calls_left more, then HS_ERATELIMIT */
    int calls_left;
    struct hs_store *inject; /* on changes() call inject_at, 3 other marks arrive there */
    int inject_at;
    const int *watch;   /* another fake's n_changes ... */
    int watch_at_write; /* ... when this one was first written (-1: not yet) */
    /* counters */
    int n_changes, n_read, n_write, n_write_records, n_created, n_updated, n_toobig;
};

struct hs_connector {
    struct fake *f;
};

static int fk_open(const struct hs_connector_config *cfg, struct hs_connector **out,
                   struct hs_error *err)
{
    (void)cfg;
    (void)err;
    *out = NULL;
    return HS_EUNSUPPORTED;
}

static void fk_close(struct hs_connector *c)
{
    (void)c;
}

static unsigned fk_kinds(const struct hs_connector *c)
{
    (void)c;
    return (1u << HS_KIND_CUSTOMER) | (1u << HS_KIND_ITEM);
}

static void fk_limits(const struct hs_connector *c, enum hs_kind kind,
                      struct hs_connector_limits *out)
{
    (void)kind;
    memset(out, 0, sizeof *out);
    out->read_batch = c->f->read_batch;
    out->write_batch = c->f->write_batch;
    out->max_concurrency = 1;
}

static int find(struct fake *f, const char *id)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->recs[i]->id, id) == 0)
            return (int)i;
    return -1;
}

/* Bumps the record's sequence, time and SyncToken. HS_ENOMEM under failalloc. */
static int touch(struct fake *f, size_t i)
{
    f->seq_of[i] = ++f->seq;
    f->recs[i]->updated_at = *f->now;
    const char *tok = hs_fields_get(&f->recs[i]->meta, "SyncToken");
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", tok != NULL ? strtol(tok, NULL, 10) + 1 : 0L);
    return hs_fields_set(&f->recs[i]->meta, "SyncToken", buf);
}

static int fk_changes(struct hs_connector *c, enum hs_kind kind, const char *cursor,
                      struct hs_changes *out, struct hs_error *err)
{
    struct fake *f = c->f;
    f->n_changes++;
    for (int i = 0; f->inject != NULL && f->n_changes == f->inject_at && i < 3; i++) {
        char id[16]; /* a webhook's marks, meanwhile: products of the CRM */
        snprintf(id, sizeof id, "w%d", i);
        assert_int_equal(hs_store_dirty_mark(f->inject, "crm", "item", HS_STORE_CRM, id, NULL),
                         HS_OK);
    }
    memset(out, 0, sizeof *out);
    int64_t from = cursor != NULL ? strtoll(cursor, NULL, 10) : 0;
    out->items = hs_calloc(2, sizeof *out->items);
    if (out->items == NULL)
        return hs_error_set(err, HS_ENOMEM, "fake: out of memory");
    int64_t last = f->seq;
    for (int64_t s = from + 1; s <= f->seq; s++) {
        for (size_t i = 0; i < f->n; i++) {
            if (f->seq_of[i] != s || f->recs[i]->kind != kind)
                continue;
            if (out->n_items == 2) {
                out->more = true;
                break;
            }
            out->items[out->n_items].id = hs_strdup(f->recs[i]->id);
            out->items[out->n_items].updated_at = f->recs[i]->updated_at;
            out->n_items++;
            if (out->items[out->n_items - 1].id == NULL) {
                hs_changes_release(out);
                return hs_error_set(err, HS_ENOMEM, "fake: out of memory");
            }
            last = s;
        }
        if (out->more)
            break;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)last);
    out->cursor = hs_strdup(buf);
    if (out->cursor == NULL) {
        hs_changes_release(out);
        return hs_error_set(err, HS_ENOMEM, "fake: out of memory");
    }
    return HS_OK;
}

static int fk_read(struct hs_connector *c, enum hs_kind kind, const char *const *ids, size_t n,
                   struct hs_record **out, struct hs_error *err)
{
    (void)kind;
    struct fake *f = c->f;
    assert_true(n <= f->read_batch);
    f->n_read++;
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    for (size_t i = 0; i < n; i++) {
        int k = find(f, ids[i]);
        if (k >= 0 && hs_record_clone(f->recs[k], &out[i]) != HS_OK) {
            for (size_t j = 0; j < i; j++) {
                hs_record_free(out[j]);
                out[j] = NULL;
            }
            return hs_error_set(err, HS_ENOMEM, "fake: out of memory");
        }
    }
    return HS_OK;
}

/* Applies the listed fields of w to record k. */
static int apply(struct fake *f, size_t k, const struct hs_write *w)
{
    struct hs_fields cur, in;
    hs_fields_init(&cur);
    hs_fields_init(&in);
    struct hs_record *r = NULL;
    int rc = hs_record_to_fields(f->recs[k], &cur, NULL);
    if (rc == HS_OK)
        rc = hs_record_to_fields(w->record, &in, NULL);
    for (size_t i = 0; i < w->n_fields && rc == HS_OK; i++) {
        if (f->no_website && strcmp(w->fields[i], "website") == 0)
            continue;
        const char *v = hs_fields_get(&in, w->fields[i]);
        if (v != NULL)
            rc = hs_fields_set(&cur, w->fields[i], v);
        else
            hs_fields_remove(&cur, w->fields[i]);
    }
    if (rc == HS_OK)
        rc = hs_record_from_fields(f->recs[k]->kind, &cur, &r, NULL);
    if (rc == HS_OK)
        rc = hs_fields_copy(&r->meta, &f->recs[k]->meta);
    if (rc == HS_OK) {
        r->id = f->recs[k]->id;
        f->recs[k]->id = NULL;
        hs_record_free(f->recs[k]);
        f->recs[k] = r;
        r = NULL;
        rc = touch(f, k);
    }
    hs_record_free(r);
    hs_fields_release(&cur);
    hs_fields_release(&in);
    return rc;
}

static size_t add_record(struct fake *f, struct hs_record *r)
{
    assert_true(f->n < MAXREC);
    f->recs[f->n] = r;
    failalloc_hold(true); /* the provider's own bookkeeping: never the engine's failure */
    assert_int_equal(touch(f, f->n), HS_OK);
    failalloc_hold(false);
    return f->n++;
}

static int fk_write(struct hs_connector *c, enum hs_kind kind, struct hs_write *w, size_t n,
                    struct hs_error *err)
{
    (void)kind;
    struct fake *f = c->f;
    assert_true(n <= f->write_batch);
    if (f->day_limit && f->calls_left == 0) /* the limiter refuses: nothing is sent */
        return hs_error_set(err, HS_ERATELIMIT, "the day's calls are spent: work resumes tomorrow");
    if (f->day_limit)
        f->calls_left--;
    if (f->watch != NULL && f->watch_at_write < 0)
        f->watch_at_write = *f->watch;
    f->n_write++;
    if (f->toobig_above > 0 && n > f->toobig_above) {
        f->n_toobig++;
        return hs_error_set(err, HS_ETOOBIG, "batch of %zu is too big", n);
    }
    int rc = HS_OK;
    for (size_t i = 0; i < n && rc == HS_OK; i++) {
        f->n_write_records++;
        w[i].status = HS_OK;
        w[i].result = NULL;
        if (w[i].op == HS_WRITE_UPDATE) {
            int k = find(f, w[i].record->id);
            assert_true(k >= 0);
            if (f->conflict_id != NULL && strcmp(f->conflict_id, w[i].record->id) == 0) {
                f->conflict_id = NULL;
                hs_free(f->recs[k]->customer.phone);
                f->recs[k]->customer.phone = hs_strdup("+1 555 0199");
                assert_int_equal(touch(f, (size_t)k), HS_OK);
            }
            const char *want = hs_fields_get(&w[i].record->meta, "SyncToken");
            const char *have = hs_fields_get(&f->recs[k]->meta, "SyncToken");
            if (want == NULL || have == NULL || strcmp(want, have) != 0) {
                w[i].status = HS_ECONFLICT;
                snprintf(w[i].msg, sizeof w[i].msg, "stale object");
                continue;
            }
            rc = apply(f, (size_t)k, &w[i]);
            if (rc == HS_OK) {
                f->n_updated++;
                rc = hs_record_clone(f->recs[k], &w[i].result);
            }
        } else {
            assert_non_null(w[i].idem_key);
            if (f->refuse_name != NULL && w[i].record->kind == HS_KIND_CUSTOMER &&
                w[i].record->customer.display_name != NULL &&
                strcmp(w[i].record->customer.display_name, f->refuse_name) == 0) {
                w[i].status = HS_EINVAL;
                snprintf(w[i].msg, sizeof w[i].msg, "Object Not Found: the account is inactive");
                continue;
            }
            size_t k = SIZE_MAX;
            for (size_t j = 0; j < f->n_keys; j++)
                if (strcmp(f->keys[j], w[i].idem_key) == 0)
                    k = f->key_rec[j];
            if (k == SIZE_MAX) {
                struct hs_record *r = NULL;
                char *key = hs_strdup(w[i].idem_key);
                char id[32];
                snprintf(id, sizeof id, "%s%zu", f->prefix, f->n + 1);
                char *rid = hs_strdup(id);
                rc = key != NULL && rid != NULL ? hs_record_clone(w[i].record, &r) : HS_ENOMEM;
                if (rc != HS_OK) {
                    hs_free(key);
                    hs_free(rid);
                    break;
                }
                hs_free(r->id);
                r->id = rid;
                hs_fields_release(&r->meta);
                if (f->no_website && r->kind == HS_KIND_CUSTOMER) {
                    hs_free(r->customer.website);
                    r->customer.website = NULL;
                }
                k = add_record(f, r);
                assert_true(f->n_keys < MAXKEY);
                f->keys[f->n_keys] = key;
                f->key_rec[f->n_keys++] = k;
                f->n_created++;
            }
            rc = hs_record_clone(f->recs[k], &w[i].result);
        }
        if (rc == HS_OK && f->echo) {
            /* answer with the request, as some APIs do: id, time and version are real */
            struct hs_record *e = NULL;
            rc = hs_record_clone(w[i].record, &e);
            if (rc == HS_OK)
                rc = hs_record_set_str(&e->id, w[i].result->id);
            if (rc == HS_OK)
                rc = hs_fields_copy(&e->meta, &w[i].result->meta);
            if (rc == HS_OK) {
                e->updated_at = w[i].result->updated_at;
                hs_record_free(w[i].result);
                w[i].result = e;
            } else {
                hs_record_free(e);
            }
        }
    }
    if (rc != HS_OK || f->lose_answer) {
        f->lose_answer = false;
        for (size_t i = 0; i < n; i++) {
            hs_record_free(w[i].result);
            w[i].result = NULL;
        }
        if (rc != HS_OK)
            return hs_error_set(err, HS_ENOMEM, "fake: out of memory");
        return hs_error_set(err, HS_ETIMEOUT, "connection reset after the request was sent");
    }
    return HS_OK;
}

static const struct hs_connector_ops FAKE_CRM = {
    .provider = "fakecrm",
    .side = HS_SIDE_CRM,
    .open = fk_open,
    .close = fk_close,
    .kinds = fk_kinds,
    .limits = fk_limits,
    .changes = fk_changes,
    .read = fk_read,
    .write = fk_write,
};

/* The accounting fake announces QuickBooks' customer limits (unique display names, no ':'). */
static const struct hs_validate_limit *fk_field_limits(const struct hs_connector *c,
                                                       enum hs_kind kind, size_t *n_out)
{
    (void)c;
    *n_out = 0;
    return kind == HS_KIND_CUSTOMER ? hs_validate_quickbooks_customer_limits(n_out) : NULL;
}

static const struct hs_connector_ops FAKE_ACC = {
    .provider = "fakeacc",
    .label = "FakeBooks",
    .field_limits = fk_field_limits,
    .side = HS_SIDE_ACCOUNTING,
    .open = fk_open,
    .close = fk_close,
    .kinds = fk_kinds,
    .limits = fk_limits,
    .changes = fk_changes,
    .read = fk_read,
    .write = fk_write,
};

static void fake_release(struct fake *f)
{
    for (size_t i = 0; i < f->n; i++)
        hs_record_free(f->recs[i]);
    for (size_t i = 0; i < f->n_keys; i++)
        hs_free(f->keys[i]);
}

static struct hs_record *customer(const char *id, const char *name, const char *email)
{
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_CUSTOMER, &r), HS_OK);
    r->id = hs_strdup(id);
    r->customer.display_name = hs_strdup(name);
    if (email != NULL)
        r->customer.email = hs_strdup(email);
    return r;
}

static void put_customer(struct fake *f, const char *id, const char *name, const char *email)
{
    add_record(f, customer(id, name, email));
}

/* n customers "c0".. named "Company A".., without email. */
static void put_companies(struct fake *f, int n)
{
    for (int i = 0; i < n; i++) {
        char id[16], name[32];
        snprintf(id, sizeof id, "c%d", i);
        snprintf(name, sizeof name, "Company %c", 'A' + i);
        put_customer(f, id, name, NULL);
    }
}

static struct hs_record *rec(struct fake *f, const char *id)
{
    int k = find(f, id);
    assert_true(k >= 0);
    return f->recs[k];
}

/* Changes a string field of a fake record as a user of that system would. */
static void edit(struct fake *f, const char *id, char **(*slot)(struct hs_record *),
                 const char *value)
{
    int k = find(f, id);
    assert_true(k >= 0);
    char **s = slot(f->recs[k]);
    hs_free(*s);
    *s = value != NULL ? hs_strdup(value) : NULL;
    assert_int_equal(touch(f, (size_t)k), HS_OK);
}

static char **slot_email(struct hs_record *r)
{
    return &r->customer.email;
}

static char **slot_phone(struct hs_record *r)
{
    return &r->customer.phone;
}

static char **slot_name(struct hs_record *r)
{
    return &r->customer.display_name;
}

/* ---- fixture ---------------------------------------------------------------------------- */

struct fx {
    char dir[64];
    char path[128];
    int64_t now;
    struct hs_env env;
    struct hs_store *s;
    struct hs_config *cfg;
    struct fake crm, acc;
    struct hs_connector ccrm, cacc;
    struct hs_engine *e;
    size_t slice;                  /* hs_engine_config.slice (0: default) */
    size_t claim_batch;            /* hs_engine_config.claim_batch (0: default) */
    hs_mapping_resolve_fn resolve; /* hs_engine_config.resolve (NULL: none) */
};

static int64_t fake_now(void *ud)
{
    return *(int64_t *)ud;
}

static uint64_t fake_rand(void *ud)
{
    (void)ud;
    return 4;
}

/* A macro, not a variable: a format that is a literal is checked (-Wformat=2 at -O0). */
#define YAML_TMPL                                                                                  \
    "version: 1\n"                                                                                 \
    "store: sqlite:hoopsync.db\n"                                                                  \
    "connections:\n"                                                                               \
    "  crm: {provider: hubspot}\n"                                                                 \
    "  accounting: {provider: quickbooks}\n"                                                       \
    "flows:\n"                                                                                     \
    "  - name: customers\n"                                                                        \
    "    objects: customers\n"                                                                     \
    "    direction: %s\n"                                                                          \
    "    authority:\n"                                                                             \
    "      default: %s\n"

static void open_store(struct fx *x)
{
    struct hs_store_options opt = {.env = &x->env, .master_key_hex = KEY_A};
    struct hs_error err = {0};
    if (hs_store_open(x->path, &opt, &x->s, &err) != HS_OK)
        fail_msg("store: %s", err.msg);
}

static void open_engine(struct fx *x)
{
    struct hs_engine_config ec = {
        .config = x->cfg,
        .store = x->s,
        .crm = {.ops = &FAKE_CRM, .conn = &x->ccrm, .conn_id = "crm"},
        .accounting = {.ops = &FAKE_ACC, .conn = &x->cacc, .conn_id = "accounting"},
        .env = &x->env,
        .lease_ms = 60000,
        .slice = x->slice,
        .claim_batch = x->claim_batch,
        .resolve = x->resolve,
    };
    struct hs_error err = {0};
    if (hs_engine_open(&ec, &x->e, &err) != HS_OK)
        fail_msg("engine: %s", err.msg);
}

static void configure(struct fx *x, const char *direction, const char *authority)
{
    hs_engine_close(x->e);
    x->e = NULL;
    hs_config_free(x->cfg);
    x->cfg = NULL;
    char yaml[1024];
    snprintf(yaml, sizeof yaml, YAML_TMPL, direction, authority);
    struct hs_error err = {0};
    if (hs_config_parse((const uint8_t *)yaml, strlen(yaml), "/tmp/hoopsync.yaml", &x->cfg, &err) !=
        HS_OK)
        fail_msg("config: %s", err.msg);
    open_engine(x);
}

static int setup(void **state)
{
    unsetenv(HS_STORE_KEY_ENV);
    struct fx *x = calloc(1, sizeof *x);
    snprintf(x->dir, sizeof x->dir, "/tmp/hs-engine-XXXXXX");
    if (mkdtemp(x->dir) == NULL)
        return -1;
    snprintf(x->path, sizeof x->path, "%s/hoopsync.db", x->dir);
    x->now = 1700000000000;
    x->env = (struct hs_env){.now_ms = fake_now, .rand64 = fake_rand, .ud = &x->now};
    open_store(x);
    struct hs_error err = {0};
    assert_int_equal(hs_store_connection_put(x->s, "crm", HS_STORE_CRM, "fakecrm", "", NULL, &err),
                     HS_OK);
    assert_int_equal(
        hs_store_connection_put(x->s, "accounting", HS_STORE_ACCOUNTING, "fakeacc", "", NULL, &err),
        HS_OK);
    x->crm = (struct fake){
        .side = HS_SIDE_CRM, .prefix = "co", .now = &x->now, .read_batch = 3, .write_batch = 4};
    x->acc = (struct fake){.side = HS_SIDE_ACCOUNTING,
                           .prefix = "qb",
                           .now = &x->now,
                           .read_batch = 3,
                           .write_batch = 4};
    x->ccrm.f = &x->crm;
    x->cacc.f = &x->acc;
    configure(x, "both", "crm");
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    hs_engine_close(x->e);
    hs_config_free(x->cfg);
    hs_store_close(x->s);
    fake_release(&x->crm);
    fake_release(&x->acc);
    char p[256];
    static const char *const files[] = {"hoopsync.db", "hoopsync.db-wal", "hoopsync.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", x->dir, files[i]);
        unlink(p);
    }
    rmdir(x->dir);
    free(x);
    return 0;
}

static void run(struct fx *x, struct hs_engine_report *rep)
{
    struct hs_error err = {0};
    hs_engine_report_init(rep);
    x->now += 1000;
    if (hs_engine_run_once(x->e, rep, &err) != HS_OK)
        fail_msg("run: %s", err.msg);
}

static int count_actions(const struct hs_engine_report *r, enum hs_engine_action_kind k)
{
    int n = 0;
    for (size_t i = 0; i < r->n_actions; i++)
        if (r->actions[i].kind == k)
            n++;
    return n;
}

static int n_links(struct fx *x)
{
    /* count links by walking the crm side's ids */
    int n = 0;
    for (size_t i = 0; i < x->crm.n; i++) {
        struct hs_store_link l;
        if (hs_store_link_find(x->s, "crm", "accounting", "customer", HS_STORE_CRM,
                               x->crm.recs[i]->id, &l, NULL) == HS_OK) {
            n++;
            hs_store_link_release(&l);
        }
    }
    return n;
}

static const char *linked_acc(struct fx *x, const char *crm_id, char *buf, size_t len)
{
    struct hs_store_link l;
    if (hs_store_link_find(x->s, "crm", "accounting", "customer", HS_STORE_CRM, crm_id, &l, NULL) !=
        HS_OK)
        return NULL;
    snprintf(buf, len, "%s", l.acc_id);
    hs_store_link_release(&l);
    return buf;
}

/* A standard world: 3 CRM companies, 2 accounting customers, one of them the same as a CRM
 * company under a name variant. */
static void seed(struct fx *x)
{
    put_customer(&x->crm, "c1", "Acme, Inc.", "billing@acme.com");
    put_customer(&x->crm, "c2", "Globex GmbH", "ap@globex.de");
    put_customer(&x->crm, "c3", "Initech", "accounts@initech.com");
    put_customer(&x->acc, "q1", "ACME Inc", "billing@acme.com");
    put_customer(&x->acc, "q2", "Umbrella Corp", "finance@umbrella.com");
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_engine_backfill_links_creates_and_marks_once(void **state)
{
    struct fx *x = *state;
    seed(x);
    struct hs_engine_report r;
    run(x, &r);
    /* every change seen once: 3 + 2 */
    assert_int_equal(r.n_changes_seen, 5);
    assert_int_equal(count_actions(&r, HS_ENGINE_LINK), 1);
    assert_int_equal(count_actions(&r, HS_ENGINE_CREATE), 3); /* c2, c3 -> acc; q2 -> crm */
    assert_int_equal(x->acc.n_created, 2);
    assert_int_equal(x->crm.n_created, 1);
    assert_int_equal(n_links(x), 4);
    char buf[64];
    assert_string_equal(linked_acc(x, "c1", buf, sizeof buf), "q1");
    /* the dirty set is empty, no intent is left, nothing is queued */
    struct hs_error err = {0};
    assert_int_equal(hs_store_dirty_count(x->s, &err), 0);
    assert_int_equal(hs_store_intent_count(x->s, &err), 0);
    assert_int_equal(hs_store_item_count(x->s, 0, NULL, -1, &err), 0);
    /* creates were audited with field-level after values */
    hs_engine_report_release(&r);

    /* batches respected: reads of at most 3 ids (asserted in the fake), writes of at most 4 */
    assert_true(x->acc.n_write >= 1);
}

/* A create the provider refuses is reported as the error it is, not also as created; the
 * others of its batch are created and counted. */
static void test_engine_refused_create_is_not_counted_as_created(void **state)
{
    struct fx *x = *state;
    seed(x);
    x->acc.refuse_name = "Globex GmbH";
    struct hs_engine_report r;
    run(x, &r);
    assert_int_equal(x->acc.n_created, 1); /* c3 */
    assert_int_equal(r.n_created, 2);      /* c3 -> acc, q2 -> crm */
    assert_int_equal(count_actions(&r, HS_ENGINE_CREATE), 2);
    assert_int_equal(r.n_errors, 1);
    for (size_t i = 0; i < r.n_actions; i++) {
        if (strcmp(r.actions[i].source_id, "c2") != 0)
            continue;
        assert_int_equal(r.actions[i].kind, HS_ENGINE_ERROR);
        assert_non_null(strstr(r.actions[i].reason, "Object Not Found"));
    }
    hs_engine_report_release(&r);
    char buf[64];
    assert_null(linked_acc(x, "c2", buf, sizeof buf));
    struct hs_error err = {0};
    assert_int_equal(hs_store_item_count(x->s, HS_STORE_ITEM_ERROR, NULL, -1, &err), 1);
}

/* Slices of one record decide, write and commit the same as one slice of everything. */
static void test_engine_slices_give_the_same_result(void **state)
{
    struct fx *x = *state;
    hs_engine_close(x->e);
    x->e = NULL;
    x->slice = 1;
    open_engine(x);
    seed(x);
    struct hs_engine_report r;
    run(x, &r);
    assert_int_equal(r.n_changes_seen, 5);
    assert_int_equal(count_actions(&r, HS_ENGINE_LINK), 1);
    assert_int_equal(count_actions(&r, HS_ENGINE_CREATE), 3);
    assert_int_equal(x->acc.n_created, 2);
    assert_int_equal(x->crm.n_created, 1);
    assert_int_equal(n_links(x), 4);
    char buf[64];
    assert_string_equal(linked_acc(x, "c1", buf, sizeof buf), "q1");
    struct hs_error err = {0};
    assert_int_equal(hs_store_dirty_count(x->s, &err), 0);
    assert_int_equal(hs_store_intent_count(x->s, &err), 0);
    hs_engine_report_release(&r);
    run(x, &r);
    assert_int_equal(r.n_writes, 0);
    hs_engine_report_release(&r);
}

static void test_engine_second_run_with_nothing_changed_writes_nothing(void **state)
{
    struct fx *x = *state;
    seed(x);
    struct hs_engine_report r;
    run(x, &r);
    hs_engine_report_release(&r);
    /* the echo of our own writes comes back through the change feeds: a no-op */
    int wc = x->crm.n_write, wa = x->acc.n_write;
    run(x, &r);
    assert_int_equal(x->crm.n_write, wc);
    assert_int_equal(x->acc.n_write, wa);
    assert_int_equal(r.n_writes, 0);
    assert_int_equal(r.n_actions, 0);
    hs_engine_report_release(&r);
    /* and a third run sees no change at all: no reads either */
    int rc0 = x->crm.n_read, ra0 = x->acc.n_read;
    run(x, &r);
    assert_int_equal(r.n_changes_seen, 0);
    assert_int_equal(x->crm.n_read, rc0);
    assert_int_equal(x->acc.n_read, ra0);
    assert_int_equal(x->crm.n_write, wc);
    assert_int_equal(x->acc.n_write, wa);
    hs_engine_report_release(&r);
}

static void test_engine_updates_flow_both_ways_and_concurrent_fields_survive(void **state)
{
    struct fx *x = *state;
    seed(x);
    struct hs_engine_report r;
    run(x, &r);
    hs_engine_report_release(&r);
    run(x, &r);
    hs_engine_report_release(&r);
    /* CRM changes the email of c1, accounting changes the phone of q1 at the same time */
    edit(&x->crm, "c1", slot_email, "ar@acme.com");
    edit(&x->acc, "q1", slot_phone, "+1 555 0100");
    run(x, &r);
    assert_int_equal(count_actions(&r, HS_ENGINE_UPDATE), 2);
    assert_string_equal(rec(&x->acc, "q1")->customer.email, "ar@acme.com");
    assert_string_equal(rec(&x->crm, "c1")->customer.phone, "+1 555 0100");
    /* the names were settled by authority crm when the pair was linked, then left alone */
    assert_string_equal(rec(&x->crm, "c1")->customer.display_name, "Acme, Inc.");
    assert_string_equal(rec(&x->acc, "q1")->customer.display_name, "Acme, Inc.");
    hs_engine_report_release(&r);
    /* audit has field-level before/after */
    int wc = x->crm.n_write, wa = x->acc.n_write;
    run(x, &r);
    assert_int_equal(x->crm.n_write + x->acc.n_write, wc + wa);
    hs_engine_report_release(&r);
}

static void test_engine_same_field_conflict_follows_authority(void **state)
{
    struct fx *x = *state;
    seed(x);
    struct hs_engine_report r;
    run(x, &r);
    hs_engine_report_release(&r);
    edit(&x->crm, "c1", slot_email, "crm@acme.com");
    edit(&x->acc, "q1", slot_email, "acc@acme.com");
    run(x, &r); /* authority crm */
    assert_int_equal(count_actions(&r, HS_ENGINE_SETTLED), 1);
    assert_int_equal(count_actions(&r, HS_ENGINE_CONFLICT), 0);
    assert_string_equal(rec(&x->acc, "q1")->customer.email, "crm@acme.com");
    assert_string_equal(rec(&x->crm, "c1")->customer.email, "crm@acme.com");
    hs_engine_report_release(&r);
}

static void test_engine_manual_authority_queues_one_conflict(void **state)
{
    struct fx *x = *state;
    configure(x, "both", "manual");
    seed(x);
    struct hs_engine_report r;
    run(x, &r);
    /* linking 'Acme, Inc.' with 'ACME Inc': the names differ and nobody has authority */
    assert_int_equal(count_actions(&r, HS_ENGINE_CONFLICT), 1);
    hs_engine_report_release(&r);
    struct hs_error err = {0};
    assert_int_equal(
        hs_store_item_count(x->s, HS_STORE_ITEM_CONFLICT, "customers", HS_STORE_ITEM_OPEN, &err),
        1);
    edit(&x->crm, "c1", slot_email, "crm@acme.com");
    edit(&x->acc, "q1", slot_email, "acc@acme.com");
    edit(&x->acc, "q1", slot_phone, "+1 555 0111"); /* a different field still syncs */
    run(x, &r);
    /* the held name and the new email conflict; each field is one item */
    assert_int_equal(count_actions(&r, HS_ENGINE_CONFLICT), 2);
    assert_string_equal(rec(&x->acc, "q1")->customer.email, "acc@acme.com");
    assert_string_equal(rec(&x->crm, "c1")->customer.email, "crm@acme.com");
    assert_string_equal(rec(&x->crm, "c1")->customer.phone, "+1 555 0111");
    hs_engine_report_release(&r);
    assert_int_equal(
        hs_store_item_count(x->s, HS_STORE_ITEM_CONFLICT, "customers", HS_STORE_ITEM_OPEN, &err),
        2);
    /* the same conflicts seen again do not add items; the held fields are not written */
    edit(&x->crm, "c1", slot_name, "Acme Incorporated");
    run(x, &r);
    hs_engine_report_release(&r);
    assert_int_equal(
        hs_store_item_count(x->s, HS_STORE_ITEM_CONFLICT, "customers", HS_STORE_ITEM_OPEN, &err),
        2);
    assert_string_equal(rec(&x->acc, "q1")->customer.display_name, "ACME Inc");
    assert_string_equal(rec(&x->acc, "q1")->customer.email, "acc@acme.com");
}

static void test_engine_validation_error_isolates_one_record(void **state)
{
    struct fx *x = *state;
    put_customer(&x->crm, "c1", "Good One", "ok@good.com");
    put_customer(&x->crm, "c2", "Bad Email", "not-an-email@");
    put_customer(&x->crm, "c3", "Good Two", "ok@two.com");
    struct hs_engine_report r;
    run(x, &r);
    assert_int_equal(count_actions(&r, HS_ENGINE_ERROR), 1);
    assert_int_equal(x->acc.n_created, 2);
    const struct hs_engine_action *a = NULL;
    for (size_t i = 0; i < r.n_actions; i++)
        if (r.actions[i].kind == HS_ENGINE_ERROR)
            a = &r.actions[i];
    assert_non_null(a);
    assert_string_equal(a->source_id, "c2");
    assert_non_null(strstr(a->reason, "'not-an-email@' is not a valid email address"));
    assert_non_null(strstr(a->reason, "'Bad Email'"));
    hs_engine_report_release(&r);
    struct hs_error err = {0};
    assert_int_equal(hs_store_item_count(x->s, HS_STORE_ITEM_ERROR, NULL, HS_STORE_ITEM_OPEN, &err),
                     1);
    /* fixed in the CRM: the next pass creates it and settles the error item */
    edit(&x->crm, "c2", slot_email, "fixed@bad.com");
    run(x, &r);
    hs_engine_report_release(&r);
    assert_int_equal(x->acc.n_created, 3);
    assert_int_equal(hs_store_item_count(x->s, HS_STORE_ITEM_ERROR, NULL, HS_STORE_ITEM_OPEN, &err),
                     0);
}

static const struct hs_engine_action *error_for(const struct hs_engine_report *r, const char *id)
{
    for (size_t i = 0; i < r->n_actions; i++)
        if (r->actions[i].kind == HS_ENGINE_ERROR && strcmp(r->actions[i].source_id, id) == 0)
            return &r->actions[i];
    return NULL;
}

static void test_engine_provider_field_limits_are_checked_before_writing(void **state)
{
    struct fx *x = *state;
    seed(x);
    struct hs_engine_report r;
    run(x, &r);
    hs_engine_report_release(&r);
    int created = x->acc.n_created;
    /* two new companies of one pass under one name (case and blanks aside), and a ':' */
    put_customer(&x->crm, "c4", "Hooli", "a@hooli.com");
    put_customer(&x->crm, "c5", " HOOLI ", "b@hooli.xyz");
    put_customer(&x->crm, "c6", "Pied: Piper", "c@pied.com");
    run(x, &r);
    assert_int_equal(x->acc.n_created, created + 1);
    const struct hs_engine_action *a = error_for(&r, "c5");
    assert_non_null(a);
    assert_non_null(strstr(a->reason, "is already used by another customer in FakeBooks"));
    a = error_for(&r, "c6");
    assert_non_null(a);
    assert_non_null(strstr(a->reason, "FakeBooks does not accept"));
    assert_null(error_for(&r, "c4"));
    hs_engine_report_release(&r);
    /* a rename onto a name another customer holds is refused before the call; the record's
     * own name (another case) is not "taken" */
    int writes = x->acc.n_write;
    edit(&x->crm, "c3", slot_name, "umbrella corp");
    run(x, &r);
    a = error_for(&r, "c3");
    assert_non_null(a);
    assert_non_null(strstr(a->reason, "'umbrella corp' is already used"));
    assert_int_equal(x->acc.n_write, writes);
    hs_engine_report_release(&r);
    edit(&x->crm, "c3", slot_name, "INITECH");
    run(x, &r);
    assert_null(error_for(&r, "c3"));
    char buf[64];
    assert_string_equal(rec(&x->acc, linked_acc(x, "c3", buf, sizeof buf))->customer.display_name,
                        "INITECH");
    hs_engine_report_release(&r);
}

static void test_engine_retry_marks_error_records_dirty(void **state)
{
    struct fx *x = *state;
    put_customer(&x->crm, "c2", "Bad Email", "nope@");
    struct hs_engine_report r;
    run(x, &r);
    hs_engine_report_release(&r);
    struct hs_error err = {0};
    assert_int_equal(hs_engine_retry(x->s, 0, "crm", "accounting", &err), 1);
    assert_int_equal(hs_store_dirty_count(x->s, &err), 1);
    assert_int_equal(
        hs_store_item_count(x->s, HS_STORE_ITEM_ERROR, NULL, HS_STORE_ITEM_RETRY, &err), 1);
    run(x, &r); /* still invalid: the item is open again */
    assert_int_equal(count_actions(&r, HS_ENGINE_ERROR), 1);
    hs_engine_report_release(&r);
    assert_int_equal(hs_store_item_count(x->s, HS_STORE_ITEM_ERROR, NULL, HS_STORE_ITEM_OPEN, &err),
                     1);
}

static void test_engine_too_big_batches_are_halved(void **state)
{
    struct fx *x = *state;
    put_companies(&x->crm, 7);
    x->acc.toobig_above = 1; /* the provider accepts one record per request only */
    struct hs_engine_report r;
    run(x, &r);
    assert_int_equal(x->acc.n_created, 7);
    assert_true(x->acc.n_toobig >= 1);
    assert_int_equal(count_actions(&r, HS_ENGINE_ERROR), 0);
    assert_int_equal(n_links(x), 7);
    hs_engine_report_release(&r);
}

static void test_engine_stale_sync_token_is_re_read_and_re_merged(void **state)
{
    struct fx *x = *state;
    seed(x);
    struct hs_engine_report r;
    run(x, &r);
    hs_engine_report_release(&r);
    edit(&x->crm, "c1", slot_email, "new@acme.com");
    x->acc.conflict_id = "q1"; /* someone edits q1's phone just before our write */
    run(x, &r);
    assert_int_equal(count_actions(&r, HS_ENGINE_ERROR), 0);
    assert_string_equal(rec(&x->acc, "q1")->customer.email, "new@acme.com");
    /* the concurrent phone edit survived and travelled to the CRM */
    assert_string_equal(rec(&x->acc, "q1")->customer.phone, "+1 555 0199");
    assert_string_equal(rec(&x->crm, "c1")->customer.phone, "+1 555 0199");
    hs_engine_report_release(&r);
}

static void test_engine_crash_between_create_and_link_heals_without_duplicate(void **state)
{
    struct fx *x = *state;
    put_customer(&x->crm, "c1", "Solo Ltd", "hi@solo.com");
    x->acc.lose_answer = true; /* the provider creates, then our process loses the answer */
    struct hs_engine_report r;
    hs_engine_report_init(&r);
    struct hs_error err = {0};
    assert_int_equal(hs_engine_run_once(x->e, &r, &err), HS_ETIMEOUT);
    hs_engine_report_release(&r);
    assert_int_equal(x->acc.n_created, 1);
    assert_int_equal(n_links(x), 0);
    assert_int_equal(hs_store_intent_count(x->s, &err), 1);
    /* the next pass re-sends the same key: the provider answers with the same record */
    run(x, &r);
    hs_engine_report_release(&r);
    assert_int_equal(x->acc.n_created, 1);
    assert_int_equal(x->acc.n, 1);
    assert_int_equal(n_links(x), 1);
    assert_int_equal(hs_store_intent_count(x->s, &err), 0);
    /* the created record coming back through the change feed changes nothing */
    int w = x->crm.n_write + x->acc.n_write;
    run(x, &r);
    assert_int_equal(x->crm.n_write + x->acc.n_write, w);
    assert_int_equal(x->crm.n, 1);
    hs_engine_report_release(&r);
}

static void test_engine_crash_before_link_commit_heals(void **state)
{
    struct fx *x = *state;
    put_customer(&x->crm, "c1", "Solo Ltd", "hi@solo.com");
    /* run detection first so the next statements are the pass's own */
    struct hs_error err = {0};
    struct hs_engine_report r;
    hs_engine_report_init(&r);
    assert_int_equal(hs_engine_detect(x->e, &r, &err), HS_OK);
    hs_engine_report_release(&r);
    /* find a step count that fails after the provider create but before the link commit */
    bool healed_case = false;
    for (int n = 0; n < 60 && !healed_case; n++) {
        assert_int_equal(hs_store_sqlite_fail_after(x->s, n), HS_OK);
        int created_before = x->acc.n_created;
        hs_engine_report_init(&r);
        int rc = hs_engine_run_once(x->e, &r, &err);
        hs_engine_report_release(&r);
        assert_int_equal(hs_store_sqlite_fail_after(x->s, -1), HS_OK);
        bool created = x->acc.n_created > created_before;
        /* reopen everything as a restarted process would */
        hs_engine_close(x->e);
        x->e = NULL;
        hs_store_close(x->s);
        x->s = NULL;
        open_store(x);
        open_engine(x);
        x->now += 120000; /* leases expire */
        if (rc != HS_OK && created && n_links(x) == 0)
            healed_case = true;
        if (rc == HS_OK)
            break;
    }
    assert_true(healed_case);
    run(x, &r);
    hs_engine_report_release(&r);
    assert_int_equal(x->acc.n, 1);
    assert_int_equal(n_links(x), 1);
    assert_int_equal(hs_store_intent_count(x->s, &err), 0);
}

static void test_engine_cursor_and_marks_are_atomic(void **state)
{
    struct fx *x = *state;
    seed(x);
    struct hs_error err = {0};
    /* fail every statement position of detection in turn: afterwards either the page's marks
     * and its cursor are both stored, or neither */
    for (int n = 0; n < 40; n++) {
        assert_int_equal(hs_store_sqlite_fail_after(x->s, n), HS_OK);
        struct hs_engine_report r;
        hs_engine_report_init(&r);
        int rc = hs_engine_detect(x->e, &r, &err);
        hs_engine_report_release(&r);
        assert_int_equal(hs_store_sqlite_fail_after(x->s, -1), HS_OK);
        hs_engine_close(x->e);
        x->e = NULL;
        hs_store_close(x->s);
        x->s = NULL;
        open_store(x);
        open_engine(x);
        char *cur = NULL;
        int dirty = hs_store_dirty_count(x->s, &err);
        int crc = hs_store_cursor_get(x->s, "crm", "customer", &cur, &err);
        int64_t c = crc == HS_OK ? strtoll(cur, NULL, 10) : 0;
        hs_free(cur);
        char *acur = NULL;
        int arc = hs_store_cursor_get(x->s, "accounting", "customer", &acur, &err);
        int64_t a = arc == HS_OK ? strtoll(acur, NULL, 10) : 0;
        hs_free(acur);
        /* every id up to each cursor is marked: crm ids have seq 1..3, acc 1..2 */
        assert_int_equal(dirty, (int)(c + a));
        /* start over for the next n */
        assert_int_equal(hs_store_begin(x->s, &err), HS_OK);
        struct hs_store_dirty *items = NULL;
        size_t ni = 0;
        assert_int_equal(hs_store_dirty_claim(x->s, "t", NULL, 1000, 100, &items, &ni, &err),
                         HS_OK);
        assert_true(hs_store_dirty_complete(x->s, "t", items, ni, &err) >= 0);
        hs_store_dirty_free(items, ni);
        assert_int_equal(hs_store_cursor_set(x->s, "crm", "customer", "0", &err), HS_OK);
        assert_int_equal(hs_store_cursor_set(x->s, "accounting", "customer", "0", &err), HS_OK);
        assert_int_equal(hs_store_commit(x->s, &err), HS_OK);
        if (rc == HS_OK)
            break;
    }
}

static void test_engine_plan_touches_nothing(void **state)
{
    struct fx *x = *state;
    seed(x);
    struct hs_engine_report r;
    hs_engine_report_init(&r);
    struct hs_error err = {0};
    assert_int_equal(hs_engine_plan(x->e, &r, &err), HS_OK);
    assert_int_equal(count_actions(&r, HS_ENGINE_LINK), 1);
    assert_int_equal(count_actions(&r, HS_ENGINE_CREATE), 3);
    for (size_t i = 0; i < r.n_actions; i++)
        assert_true(r.actions[i].reason[0] != '\0');
    hs_engine_report_release(&r);
    assert_int_equal(x->acc.n_write + x->crm.n_write, 0);
    assert_int_equal(hs_store_dirty_count(x->s, &err), 0);
    char *cur = NULL;
    assert_int_equal(hs_store_cursor_get(x->s, "crm", "customer", &cur, &err), HS_ENOTFOUND);
    assert_int_equal(n_links(x), 0);
    /* plan again gives the same answer; then a real run does what the plan said */
    hs_engine_report_init(&r);
    assert_int_equal(hs_engine_plan(x->e, &r, &err), HS_OK);
    assert_int_equal(count_actions(&r, HS_ENGINE_CREATE), 3);
    hs_engine_report_release(&r);
    run(x, &r);
    assert_int_equal(count_actions(&r, HS_ENGINE_CREATE), 3);
    assert_int_equal(count_actions(&r, HS_ENGINE_LINK), 1);
    hs_engine_report_release(&r);
    /* after the run, a plan of an edit shows exactly one update */
    edit(&x->crm, "c3", slot_email, "new@initech.com");
    hs_engine_report_init(&r);
    assert_int_equal(hs_engine_plan(x->e, &r, &err), HS_OK);
    assert_int_equal(count_actions(&r, HS_ENGINE_UPDATE), 1);
    assert_int_equal(r.n_actions, 1);
    assert_non_null(strstr(r.actions[0].fields, "email"));
    hs_engine_report_release(&r);
}

static void test_engine_one_way_flow_reports_drift(void **state)
{
    struct fx *x = *state;
    configure(x, "crm_to_accounting", "crm");
    seed(x);
    struct hs_engine_report r;
    run(x, &r);
    /* q2 exists only in accounting: a one-way flow does not copy it to the CRM */
    assert_int_equal(x->crm.n_created, 0);
    assert_int_equal(x->acc.n_created, 2);
    hs_engine_report_release(&r);
    edit(&x->acc, "q1", slot_phone, "+1 555 0177");
    run(x, &r);
    assert_int_equal(count_actions(&r, HS_ENGINE_DRIFT), 1);
    assert_null(rec(&x->crm, "c1")->customer.phone);
    hs_engine_report_release(&r);
}

struct first_item {
    int64_t id;
    char field[64];
};

static int first_conflict_cb(void *ud, const struct hs_store_item *it)
{
    struct first_item *f = ud;
    if (strcmp(it->field, f->field) == 0)
        f->id = it->id;
    return 0;
}

static int64_t conflict_id(struct fx *x, const char *field)
{
    struct first_item f = {0};
    snprintf(f.field, sizeof f.field, "%s", field);
    assert_int_equal(hs_store_item_each(x->s, HS_STORE_ITEM_CONFLICT, NULL, HS_STORE_ITEM_OPEN,
                                        first_conflict_cb, &f, NULL),
                     HS_OK);
    return f.id;
}

static void test_engine_resolve_conflict_takes_a_side_or_a_value(void **state)
{
    struct fx *x = *state;
    configure(x, "both", "manual");
    put_customer(&x->crm, "c1", "Acme", "a@acme.com");
    put_customer(&x->acc, "q1", "Acme", "a@acme.com");
    struct hs_engine_report r;
    run(x, &r);
    hs_engine_report_release(&r);
    edit(&x->crm, "c1", slot_email, "crm@acme.com");
    edit(&x->acc, "q1", slot_email, "acc@acme.com");
    run(x, &r);
    assert_int_equal(count_actions(&r, HS_ENGINE_CONFLICT), 1);
    hs_engine_report_release(&r);
    int64_t id = conflict_id(x, "email");
    assert_true(id > 0);
    struct hs_error err = {0};
    hs_engine_report_init(&r);
    assert_int_equal(hs_engine_resolve(x->e, id, "accounting", &r, &err), HS_OK);
    hs_engine_report_release(&r);
    /* resolving twice is refused */
    hs_engine_report_init(&r);
    assert_int_equal(hs_engine_resolve(x->e, id, "crm", &r, &err), HS_EINVAL);
    hs_engine_report_release(&r);
    run(x, &r);
    assert_int_equal(count_actions(&r, HS_ENGINE_CONFLICT), 0);
    hs_engine_report_release(&r);
    assert_string_equal(rec(&x->crm, "c1")->customer.email, "acc@acme.com");
    assert_string_equal(rec(&x->acc, "q1")->customer.email, "acc@acme.com");
    struct hs_store_item it = {0};
    assert_int_equal(hs_store_item_get(x->s, id, &it, &err), HS_OK);
    assert_int_equal(it.state, HS_STORE_ITEM_RESOLVED);
    assert_string_equal(it.resolution, "take accounting");
    hs_store_item_release(&it);

    /* a new conflict settled with a literal value: both sides end with it */
    edit(&x->crm, "c1", slot_email, "one@acme.com");
    edit(&x->acc, "q1", slot_email, "two@acme.com");
    run(x, &r);
    hs_engine_report_release(&r);
    id = conflict_id(x, "email");
    assert_true(id > 0);
    hs_engine_report_init(&r);
    assert_int_equal(hs_engine_resolve(x->e, id, "not an email", &r, &err), HS_EINVAL);
    assert_non_null(strstr(err.msg, "not a valid email address"));
    assert_int_equal(hs_engine_resolve(x->e, id, "three@acme.com", &r, &err), HS_OK);
    hs_engine_report_release(&r);
    run(x, &r);
    hs_engine_report_release(&r);
    assert_string_equal(rec(&x->crm, "c1")->customer.email, "three@acme.com");
    assert_string_equal(rec(&x->acc, "q1")->customer.email, "three@acme.com");
    /* and it stays quiet */
    int w = x->crm.n_write + x->acc.n_write;
    run(x, &r);
    assert_int_equal(r.n_actions, 0);
    hs_engine_report_release(&r);
    assert_int_equal(x->crm.n_write + x->acc.n_write, w);
}

static void test_engine_provider_echo_of_unstorable_field_does_not_flap(void **state)
{
    struct fx *x = *state;
    x->acc.no_website = true;
    x->acc.echo = true;
    put_customer(&x->crm, "c1", "Web Co", "hi@web.co");
    rec(&x->crm, "c1")->customer.website = hs_strdup("https://web.co");
    struct hs_engine_report r;
    run(x, &r);
    assert_int_equal(x->acc.n_created, 1);
    hs_engine_report_release(&r);
    assert_null(x->acc.recs[0]->customer.website);
    /* the echo claimed the website was stored; the real record comes back without it: that is
     * the provider's doing, not a user's, so nothing is removed from the CRM */
    run(x, &r);
    assert_int_equal(r.n_writes, 0);
    hs_engine_report_release(&r);
    assert_string_equal(rec(&x->crm, "c1")->customer.website, "https://web.co");
    /* a real edit on the accounting side after that still travels */
    x->now += 5000;
    edit(&x->acc, x->acc.recs[0]->id, slot_phone, "+1 555 0123");
    run(x, &r);
    assert_int_equal(count_actions(&r, HS_ENGINE_UPDATE), 1);
    hs_engine_report_release(&r);
    assert_string_equal(rec(&x->crm, "c1")->customer.phone, "+1 555 0123");
    assert_string_equal(rec(&x->crm, "c1")->customer.website, "https://web.co");
    run(x, &r);
    assert_int_equal(r.n_writes, 0);
    hs_engine_report_release(&r);
}

/* ---- filters ------------------------------------------------------------------------------ */

#define YAML_HEAD                                                                                  \
    "version: 1\n"                                                                                 \
    "store: sqlite:hoopsync.db\n"                                                                  \
    "connections:\n"                                                                               \
    "  crm: {provider: hubspot}\n"                                                                 \
    "  accounting: {provider: quickbooks}\n"                                                       \
    "flows:\n"

/* Parses YAML_HEAD + flows into *out; HS_OK or the parser's error (in err). */
static int parse_flows(const char *flows, struct hs_config **out, struct hs_error *err)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml, YAML_HEAD "%s", flows);
    return hs_config_parse((const uint8_t *)yaml, strlen(yaml), "/tmp/hoopsync.yaml", out, err);
}

/* Replaces the config by YAML_HEAD + flows and reopens the engine. */
static void configure_flows(struct fx *x, const char *flows)
{
    hs_engine_close(x->e);
    x->e = NULL;
    hs_config_free(x->cfg);
    x->cfg = NULL;
    struct hs_error err = {0};
    if (parse_flows(flows, &x->cfg, &err) != HS_OK)
        fail_msg("config: %s", err.msg);
    open_engine(x);
}

/* Sets (value NULL: removes) custom field key of a fake record, as a user of that system. */
static void set_custom(struct fake *f, const char *id, const char *key, const char *value)
{
    int k = find(f, id);
    assert_true(k >= 0);
    if (value != NULL)
        assert_int_equal(hs_fields_set(&f->recs[k]->custom, key, value), HS_OK);
    else
        hs_fields_remove(&f->recs[k]->custom, key);
    assert_int_equal(touch(f, (size_t)k), HS_OK);
}

static void put_customer_in(struct fake *f, const char *id, const char *name, const char *email,
                            const char *key, const char *region)
{
    struct hs_record *r = customer(id, name, email);
    if (region != NULL)
        assert_int_equal(hs_fields_set(&r->custom, key, region), HS_OK);
    add_record(f, r);
}

/* The action of kind k whose source is id (NULL when none). */
static const struct hs_engine_action *action_for(const struct hs_engine_report *r,
                                                 enum hs_engine_action_kind k, const char *id)
{
    for (size_t i = 0; i < r->n_actions; i++)
        if (r->actions[i].kind == k && strcmp(r->actions[i].source_id, id) == 0)
            return &r->actions[i];
    return NULL;
}

static const char *const FLOW_REGION = "  - name: customers\n"
                                       "    objects: customers\n"
                                       "    authority: {default: crm}\n"
                                       "    filter: {custom.region: [emea, APAC]}\n";

/* A field path (here a custom field) is read on the record at hand: values trimmed and without
 * case; a record with another value or none is neither created, nor linked, nor updated; an
 * unlinked accounting record is judged by its own value. The plan says the same as the pass. */
static void test_engine_filter_syncs_only_records_in_it(void **state)
{
    struct fx *x = *state;
    configure_flows(x, FLOW_REGION);
    put_customer_in(&x->crm, "c1", "Acme, Inc.", "billing@acme.com", "region", " EMEA ");
    put_customer_in(&x->crm, "c2", "Globex GmbH", "ap@globex.de", "region", "AMER");
    put_customer_in(&x->crm, "c3", "Initech", "accounts@initech.com", NULL, NULL);
    put_customer_in(&x->acc, "q1", "ACME Inc", "billing@acme.com", NULL, NULL);
    put_customer_in(&x->acc, "q2", "Umbrella Corp", "finance@umbrella.com", NULL, NULL);
    put_customer_in(&x->acc, "q3", "Hooli", "ar@hooli.com", "region", "apac");
    /* the plan first: what the pass will do, nothing done */
    struct hs_engine_report r;
    hs_engine_report_init(&r);
    struct hs_error err = {0};
    assert_int_equal(hs_engine_plan(x->e, &r, &err), HS_OK);
    assert_int_equal(r.n_skipped, 3);
    assert_int_equal(count_actions(&r, HS_ENGINE_SKIPPED), 3);
    assert_int_equal(count_actions(&r, HS_ENGINE_LINK), 1);
    assert_int_equal(count_actions(&r, HS_ENGINE_CREATE), 1);
    const struct hs_engine_action *a = action_for(&r, HS_ENGINE_SKIPPED, "c2");
    assert_non_null(a);
    assert_string_equal(a->flow, "customers");
    assert_string_equal(a->reason, "customer 'Globex GmbH' (crm) skipped: outside the filter "
                                   "('custom.region' is 'AMER', not one of {emea, APAC})");
    a = action_for(&r, HS_ENGINE_SKIPPED, "c3");
    assert_non_null(a);
    assert_non_null(strstr(a->reason, "'custom.region' is empty, not one of {emea, APAC}"));
    a = action_for(&r, HS_ENGINE_SKIPPED, "q2");
    assert_non_null(a);
    assert_int_equal(a->source_side, HS_SIDE_ACCOUNTING);
    assert_null(action_for(&r, HS_ENGINE_SKIPPED, "c1"));
    assert_null(action_for(&r, HS_ENGINE_SKIPPED, "q3"));
    hs_engine_report_release(&r);
    assert_int_equal(x->crm.n_write + x->acc.n_write, 0);
    assert_int_equal(n_links(x), 0);

    run(x, &r);
    assert_int_equal(r.n_skipped, 3);
    assert_int_equal(count_actions(&r, HS_ENGINE_LINK), 1);
    assert_int_equal(x->acc.n_created, 0); /* c2 and c3 are not customers */
    assert_int_equal(x->crm.n_created, 1); /* q3 became a company, q2 did not */
    assert_int_equal(r.n_errors, 0);
    hs_engine_report_release(&r);
    char buf[64];
    assert_string_equal(linked_acc(x, "c1", buf, sizeof buf), "q1");
    assert_null(linked_acc(x, "c2", buf, sizeof buf));
    assert_null(linked_acc(x, "c3", buf, sizeof buf));
    assert_int_equal(n_links(x), 2);
    /* skipping is no error: nothing is queued */
    assert_int_equal(hs_store_item_count(x->s, 0, NULL, -1, &err), 0);
    assert_int_equal(hs_store_dirty_count(x->s, &err), 0);
    /* the company made from q3 has no region (custom fields are not copied), but its pair is
     * in the filter through q3: its echo is a quiet no-op, not a record leaving the filter */
    run(x, &r);
    assert_int_equal(r.n_actions, 0);
    assert_int_equal(r.n_writes, 0);
    hs_engine_report_release(&r);
    /* an edit of a record outside the filter still creates nothing */
    edit(&x->crm, "c2", slot_phone, "+49 421 555 0100");
    run(x, &r);
    assert_int_equal(r.n_skipped, 1);
    assert_non_null(action_for(&r, HS_ENGINE_SKIPPED, "c2"));
    assert_int_equal(x->acc.n_created, 0);
    hs_engine_report_release(&r);
    /* once in the filter, it is synced like any record */
    set_custom(&x->crm, "c2", "region", "Apac");
    run(x, &r);
    assert_int_equal(r.n_skipped, 0);
    assert_int_equal(x->acc.n_created, 1);
    assert_non_null(linked_acc(x, "c2", buf, sizeof buf));
    hs_engine_report_release(&r);
}

/* A resolver that knows the CRM property "sales_region" (custom.sales_region). */
static const char *resolve_sales_region(void *ud, enum hs_mapping_side side, enum hs_kind kind,
                                        const char *name)
{
    (void)ud;
    (void)kind;
    return side == HS_MAPPING_CRM && strcmp(name, "sales_region") == 0 ? "custom.sales_region"
                                                                       : NULL;
}

/* A CRM field (a property the resolver knows): an accounting record is judged by its linked
 * company, and an unlinked one has none, so it is not created in the CRM. A linked company that
 * leaves the filter is no longer synced, whichever side changes; its link stays and nothing is
 * deleted; when it comes back, what changed meanwhile on both sides is merged. */
static void test_engine_filter_linked_record_leaving_is_no_longer_synced(void **state)
{
    struct fx *x = *state;
    x->resolve = resolve_sales_region;
    configure_flows(x, "  - name: customers\n"
                       "    objects: customers\n"
                       "    authority: {default: crm}\n"
                       "    filter: {sales_region: EMEA}\n");
    put_customer_in(&x->crm, "c1", "Acme, Inc.", "billing@acme.com", "sales_region", "EMEA");
    put_customer_in(&x->acc, "q1", "ACME Inc", "billing@acme.com", NULL, NULL);
    /* an accounting custom field of the same key does not count: the filter names a CRM field */
    put_customer_in(&x->acc, "q2", "Umbrella Corp", "finance@umbrella.com", "sales_region", "EMEA");
    struct hs_engine_report r;
    run(x, &r);
    assert_int_equal(count_actions(&r, HS_ENGINE_LINK), 1);
    assert_int_equal(r.n_skipped, 1);
    const struct hs_engine_action *a = action_for(&r, HS_ENGINE_SKIPPED, "q2");
    assert_non_null(a);
    assert_non_null(strstr(a->reason, "'sales_region' is a crm field and this accounting record "
                                      "has no linked crm record (wanted one of {EMEA})"));
    assert_int_equal(x->crm.n_created + x->acc.n_created, 0);
    hs_engine_report_release(&r);
    run(x, &r); /* the echoes of the link */
    hs_engine_report_release(&r);

    /* c1 moves to another region and changes its email */
    set_custom(&x->crm, "c1", "sales_region", "AMER");
    edit(&x->crm, "c1", slot_email, "ar@acme.com");
    hs_engine_report_init(&r);
    struct hs_error err = {0};
    assert_int_equal(hs_engine_plan(x->e, &r, &err), HS_OK);
    assert_int_equal(r.n_skipped, 1);
    assert_int_equal(r.n_updated, 0);
    a = action_for(&r, HS_ENGINE_SKIPPED, "c1");
    assert_non_null(a);
    assert_string_equal(a->target_id, "q1");
    hs_engine_report_release(&r);
    int acc_reads = x->acc.n_read, writes = x->crm.n_write + x->acc.n_write;
    run(x, &r);
    assert_int_equal(r.n_skipped, 1);
    assert_int_equal(r.n_updated, 0);
    a = action_for(&r, HS_ENGINE_SKIPPED, "c1");
    assert_non_null(a);
    assert_string_equal(a->reason, "customer 'Acme, Inc.' (crm) is no longer synced: it left the "
                                   "filter ('sales_region' is 'AMER', not one of {EMEA}); the "
                                   "link stays and nothing is deleted");
    hs_engine_report_release(&r);
    /* the verdict needed the company only: its customer was not even read */
    assert_int_equal(x->acc.n_read, acc_reads);
    assert_int_equal(x->crm.n_write + x->acc.n_write, writes);
    assert_string_equal(rec(&x->acc, "q1")->customer.email, "billing@acme.com");
    char buf[64];
    assert_string_equal(linked_acc(x, "c1", buf, sizeof buf), "q1");
    assert_int_equal(hs_store_item_count(x->s, 0, NULL, -1, &err), 0);
    /* a change on the accounting side of the pair is not synced either */
    edit(&x->acc, "q1", slot_phone, "+1 555 0100");
    run(x, &r);
    assert_int_equal(r.n_skipped, 1);
    assert_non_null(action_for(&r, HS_ENGINE_SKIPPED, "q1"));
    assert_int_equal(x->crm.n_write + x->acc.n_write, writes);
    assert_null(rec(&x->crm, "c1")->customer.phone);
    hs_engine_report_release(&r);
    /* back in the filter: both sides' changes made meanwhile are merged */
    set_custom(&x->crm, "c1", "sales_region", "emea");
    run(x, &r);
    assert_int_equal(r.n_skipped, 0);
    assert_int_equal(count_actions(&r, HS_ENGINE_UPDATE), 2);
    assert_string_equal(rec(&x->acc, "q1")->customer.email, "ar@acme.com");
    assert_string_equal(rec(&x->crm, "c1")->customer.phone, "+1 555 0100");
    hs_engine_report_release(&r);
}

/* Two flows of customers with disjoint filters and different mappings: each record goes to the
 * flow whose filter it is in, a record in neither is reported once (by the last flow, with
 * both filters), and a linked record that moves to the other region is synced by the other
 * flow under its mappings, through the same link. */
static void test_engine_filter_two_flows_split_by_region(void **state)
{
    struct fx *x = *state;
    configure_flows(x, "  - name: emea\n"
                       "    objects: customers\n"
                       "    authority: {default: crm}\n"
                       "    filter: {custom.region: EMEA}\n"
                       "  - name: apac\n"
                       "    objects: customers\n"
                       "    authority: {default: crm}\n"
                       "    filter: {custom.region: APAC}\n"
                       "    mappings:\n"
                       "      - {crm: display_name, accounting: display_name, transform: upper}\n");
    put_customer_in(&x->crm, "c1", "Acme", "billing@acme.com", "region", "EMEA");
    put_customer_in(&x->crm, "c2", "Globex", "ap@globex.com", "region", "APAC");
    put_customer_in(&x->crm, "c3", "Initech", "ar@initech.com", "region", "AMER");
    struct hs_engine_report r;
    run(x, &r);
    assert_int_equal(x->acc.n_created, 2);
    assert_int_equal(r.n_skipped, 1);
    const struct hs_engine_action *a = action_for(&r, HS_ENGINE_CREATE, "c1");
    assert_non_null(a);
    assert_string_equal(a->flow, "emea");
    a = action_for(&r, HS_ENGINE_CREATE, "c2");
    assert_non_null(a);
    assert_string_equal(a->flow, "apac");
    a = action_for(&r, HS_ENGINE_SKIPPED, "c3");
    assert_non_null(a);
    assert_string_equal(a->flow, "apac");
    assert_string_equal(a->reason, "customer 'Initech' (crm) skipped: outside the filters (flow "
                                   "'emea': 'custom.region' is 'AMER', not one of {EMEA}; flow "
                                   "'apac': 'custom.region' is 'AMER', not one of {APAC})");
    hs_engine_report_release(&r);
    char buf[64];
    assert_string_equal(rec(&x->acc, linked_acc(x, "c1", buf, sizeof buf))->customer.display_name,
                        "Acme");
    assert_string_equal(rec(&x->acc, linked_acc(x, "c2", buf, sizeof buf))->customer.display_name,
                        "GLOBEX");
    run(x, &r); /* echoes */
    assert_int_equal(r.n_writes, 0);
    assert_int_equal(r.n_skipped, 0);
    hs_engine_report_release(&r);
    /* c1 moves to APAC and is renamed: the apac flow syncs it, with its mapping */
    set_custom(&x->crm, "c1", "region", "APAC");
    edit(&x->crm, "c1", slot_name, "Acme Two");
    run(x, &r);
    assert_int_equal(r.n_skipped, 0);
    a = action_for(&r, HS_ENGINE_UPDATE, "c1");
    assert_non_null(a);
    assert_string_equal(a->flow, "apac");
    assert_int_equal(x->acc.n_created, 2);
    assert_string_equal(rec(&x->acc, linked_acc(x, "c1", buf, sizeof buf))->customer.display_name,
                        "ACME TWO");
    hs_engine_report_release(&r);
    /* c2 leaves both: reported once, by the last flow */
    set_custom(&x->crm, "c2", "region", "AMER");
    run(x, &r);
    assert_int_equal(r.n_skipped, 1);
    a = action_for(&r, HS_ENGINE_SKIPPED, "c2");
    assert_non_null(a);
    assert_string_equal(a->flow, "apac");
    assert_non_null(strstr(a->reason, "no longer synced"));
    hs_engine_report_release(&r);
}

/* A filter field that no mapping, resolver or field path knows stops the engine from opening. */
static void test_engine_filter_unknown_field_is_refused_at_open(void **state)
{
    struct fx *x = *state;
    hs_engine_close(x->e);
    x->e = NULL;
    hs_config_free(x->cfg);
    x->cfg = NULL;
    struct hs_error err = {0};
    assert_int_equal(parse_flows("  - name: customers\n"
                                 "    objects: customers\n"
                                 "    filter: {regoin: EMEA}\n",
                                 &x->cfg, &err),
                     HS_OK);
    struct hs_engine_config ec = {
        .config = x->cfg,
        .store = x->s,
        .crm = {.ops = &FAKE_CRM, .conn = &x->ccrm, .conn_id = "crm"},
        .accounting = {.ops = &FAKE_ACC, .conn = &x->cacc, .conn_id = "accounting"},
        .env = &x->env,
    };
    assert_int_equal(hs_engine_open(&ec, &x->e, &err), HS_EINVAL);
    assert_null(x->e);
    assert_non_null(strstr(err.msg, "flow 'customers': unknown field 'regoin' in 'filter'"));
    /* and every allocation of compiling a filter may fail */
    hs_config_free(x->cfg);
    x->cfg = NULL;
    assert_int_equal(parse_flows(FLOW_REGION, &x->cfg, &err), HS_OK);
    ec.config = x->cfg;
    for (int n = 0;; n++) {
        failalloc_arm(n);
        int rc = hs_engine_open(&ec, &x->e, &err);
        failalloc_disarm();
        if (rc == HS_OK)
            break;
        if (rc != HS_ENOMEM)
            fail_msg("open with allocation %d failing: %d %s", n, rc, err.msg);
        assert_null(x->e);
    }
}

/* Out of memory anywhere in a pass with a filter: later passes converge to the same result. */
static void test_engine_filter_survives_failed_allocations(void **state)
{
    (void)state;
    bool done = false;
    for (int n = 0; !done && n < 200000; n += 1 + n / 8) {
        void *st = NULL;
        assert_int_equal(setup(&st), 0);
        struct fx *x = st;
        configure_flows(x, FLOW_REGION);
        put_customer_in(&x->crm, "c1", "Acme, Inc.", "billing@acme.com", "region", "EMEA");
        put_customer_in(&x->crm, "c2", "Beta LLC", "ap@beta.com", "region", "AMER");
        put_customer_in(&x->acc, "q1", "ACME Inc", "billing@acme.com", NULL, NULL);
        put_customer_in(&x->acc, "q2", "Umbrella Corp", "finance@umbrella.com", NULL, NULL);
        struct hs_engine_report r;
        hs_engine_report_init(&r);
        struct hs_error err = {0};
        failalloc_arm(n);
        int rc = hs_engine_run_once(x->e, &r, &err);
        failalloc_disarm();
        if (!failalloc_tripped()) {
            assert_int_equal(rc, HS_OK);
            done = true;
        }
        hs_engine_report_release(&r);
        x->now += 120000;
        run(x, &r);
        hs_engine_report_release(&r);
        run(x, &r);
        assert_int_equal(r.n_writes, 0);
        hs_engine_report_release(&r);
        assert_int_equal(x->crm.n, 2);
        assert_int_equal(x->acc.n, 2);
        assert_int_equal(n_links(x), 1);
        assert_int_equal(hs_store_dirty_count(x->s, &err), 0);
        assert_int_equal(hs_store_item_count(x->s, 0, NULL, -1, &err), 0);
        assert_int_equal(teardown(&st), 0);
    }
    assert_true(done);
}

static void test_engine_pass_survives_failed_allocations_and_converges(void **state)
{
    (void)state;
    bool done = false;
    int iterations = 0;
    for (int n = 0; !done && n < 200000; n += 1 + n / 8) {
        void *st = NULL;
        assert_int_equal(setup(&st), 0);
        struct fx *x = st;
        put_customer(&x->crm, "c1", "Acme, Inc.", "billing@acme.com");
        put_customer(&x->crm, "c2", "Beta LLC", "ap@beta.com");
        put_customer(&x->acc, "q1", "ACME Inc", "billing@acme.com");
        struct hs_engine_report r;
        hs_engine_report_init(&r);
        struct hs_error err = {0};
        failalloc_arm(n);
        int rc = hs_engine_run_once(x->e, &r, &err);
        failalloc_disarm();
        bool tripped = failalloc_tripped();
        hs_engine_report_release(&r);
        iterations++;
        if (!tripped) {
            assert_int_equal(rc, HS_OK);
            done = true;
        }
        /* whatever happened, later passes converge: no duplicate, no lost record */
        x->now += 120000;
        run(x, &r);
        hs_engine_report_release(&r);
        run(x, &r);
        assert_int_equal(r.n_writes, 0);
        hs_engine_report_release(&r);
        assert_int_equal(x->crm.n, 2);
        assert_int_equal(x->acc.n, 2);
        assert_int_equal(n_links(x), 2);
        assert_int_equal(hs_store_intent_count(x->s, &err), 0);
        assert_int_equal(hs_store_dirty_count(x->s, &err), 0);
        assert_int_equal(
            hs_store_item_count(x->s, HS_STORE_ITEM_ERROR, NULL, HS_STORE_ITEM_OPEN, &err), 0);
        assert_int_equal(teardown(&st), 0);
    }
    assert_true(done);
    assert_true(iterations > 10);
}

static const char *const YAML_ITEMS = "version: 1\n"
                                      "store: sqlite:hoopsync.db\n"
                                      "connections:\n"
                                      "  crm: {provider: hubspot}\n"
                                      "  accounting: {provider: quickbooks}\n"
                                      "flows:\n"
                                      "  - name: products\n"
                                      "    objects: items\n"
                                      "    direction: crm_to_accounting\n"
                                      "    mappings:\n"
                                      "      - {crm: sku, accounting: sku, transform: upper}\n";

static struct hs_record *item(const char *id, const char *name, const char *sku)
{
    struct hs_record *r = NULL;
    assert_int_equal(hs_record_new(HS_KIND_ITEM, &r), HS_OK);
    r->id = hs_strdup(id);
    r->item.name = hs_strdup(name);
    r->item.sku = hs_strdup(sku);
    return r;
}

static void test_engine_items_flow_one_way_with_transform(void **state)
{
    struct fx *x = *state;
    hs_engine_close(x->e);
    x->e = NULL;
    hs_config_free(x->cfg);
    x->cfg = NULL;
    struct hs_error err = {0};
    if (hs_config_parse((const uint8_t *)YAML_ITEMS, strlen(YAML_ITEMS), "/tmp/hoopsync.yaml",
                        &x->cfg, &err) != HS_OK)
        fail_msg("config: %s", err.msg);
    open_engine(x);
    add_record(&x->crm, item("p1", "Widget", "wid-1"));
    add_record(&x->crm, item("p2", "Gadget", "gad-2"));
    add_record(&x->acc, item("i1", "Widget (old name)", "WID-1")); /* same sku: link */
    add_record(&x->acc, item("i9", "Accounting only", "ACC-9"));   /* one-way: left alone */
    struct hs_engine_report r;
    run(x, &r);
    assert_int_equal(count_actions(&r, HS_ENGINE_LINK), 1);
    assert_int_equal(count_actions(&r, HS_ENGINE_CREATE), 1);
    hs_engine_report_release(&r);
    assert_int_equal(x->crm.n, 2);
    assert_int_equal(x->acc.n, 3);
    /* the created item got the upper-cased sku; the linked one the CRM's name */
    assert_string_equal(x->acc.recs[2]->item.sku, "GAD-2");
    assert_string_equal(rec(&x->acc, "i1")->item.name, "Widget");
    run(x, &r);
    assert_int_equal(r.n_writes, 0);
    hs_engine_report_release(&r);
}

/* ---- a provider's day limit spent part-way ------------------------------------------------ */

static int intent_cb(void *ud, const char *key, const char *source_id)
{
    (void)key;
    (void)source_id;
    (*(int *)ud)++;
    return 0;
}

/* Pending create intents of customers toward side. */
static int intents_of(struct fx *x, enum hs_store_side side)
{
    int n = 0;
    struct hs_error err = {0};
    assert_int_equal(hs_store_intent_each(x->s, "customer", side, intent_cb, &n, &err), HS_OK);
    return n;
}

static int audit_rows_cb(void *ud, const struct hs_store_audit_row *row)
{
    int *n = ud;
    if (strncmp(row->object, "customer:", 9) == 0 &&
        (strcmp(row->action, "create") == 0 || strcmp(row->action, "update") == 0))
        (*n)++;
    return 0;
}

static int audit_writes(struct fx *x)
{
    int n = 0;
    struct hs_error err = {0};
    assert_int_equal(hs_store_audit_each(x->s, 0, audit_rows_cb, &n, &err), HS_OK);
    return n;
}

/* Runs a pass that the accounting side's limiter stops: HS_ERATELIMIT with its message. */
static void run_stopped(struct fx *x, struct hs_engine_report *rep)
{
    struct hs_error err = {0};
    hs_engine_report_init(rep);
    x->now += 1000;
    assert_int_equal(hs_engine_run_once(x->e, rep, &err), HS_ERATELIMIT);
    assert_non_null(strstr(err.msg, "the day's calls are spent"));
}

/*
 * A backfill whose slice needs more calls than the day allows: the creates the provider
 * answered before the limiter refused are linked at once (link, base, mirror, audit, intent
 * removed), the others keep their intents and stay pending; the next day finishes the rest
 * and sends no create twice.
 */
static void test_engine_day_limit_keeps_what_was_created(void **state)
{
    struct fx *x = *state;
    put_companies(&x->crm, 10);
    x->acc.write_batch = 2;
    x->acc.day_limit = true;
    x->acc.calls_left = 2; /* 2 calls of 2 records: 4 of the 10 creates */
    struct hs_engine_report r;
    run_stopped(x, &r);
    assert_int_equal(x->acc.n_write, 2);
    assert_int_equal(x->acc.n_created, 4);
    assert_int_equal(n_links(x), 4);
    /* every linked record is one the provider made, none of the others exists there */
    int linked = 0;
    for (size_t i = 0; i < x->crm.n; i++) {
        char buf[64];
        const char *acc = linked_acc(x, x->crm.recs[i]->id, buf, sizeof buf);
        if (acc == NULL)
            continue;
        linked++;
        assert_string_equal(rec(&x->acc, acc)->customer.display_name,
                            x->crm.recs[i]->customer.display_name);
    }
    assert_int_equal(linked, 4);
    assert_int_equal(intents_of(x, HS_STORE_ACCOUNTING), 6);
    assert_int_equal(audit_writes(x), 4);
    /* the report says what was done (4 creates), no error item for the records not sent */
    assert_int_equal(r.n_writes, 4);
    assert_int_equal(count_actions(&r, HS_ENGINE_CREATE), 4);
    assert_int_equal(r.n_created, 4);
    assert_int_equal(count_actions(&r, HS_ENGINE_ERROR), 0);
    struct hs_error err = {0};
    assert_int_equal(hs_store_item_count(x->s, 0, NULL, -1, &err), 0);
    assert_true(hs_store_dirty_count(x->s, &err) >= 6);
    hs_engine_report_release(&r);

    /* the next day: 2 more calls, 4 more records, none of the first 4 sent again */
    x->acc.calls_left = 2;
    run_stopped(x, &r);
    hs_engine_report_release(&r);
    assert_int_equal(x->acc.n_created, 8);
    assert_int_equal(x->acc.n_write_records, 8);
    assert_int_equal(n_links(x), 8);
    assert_int_equal(intents_of(x, HS_STORE_ACCOUNTING), 2);

    /* the limit lifted: the rest, each record created once */
    x->acc.day_limit = false;
    run(x, &r);
    hs_engine_report_release(&r);
    assert_int_equal(x->acc.n_created, 10);
    assert_int_equal(x->acc.n, 10);
    assert_int_equal(x->acc.n_write_records, 10);
    assert_int_equal(n_links(x), 10);
    assert_int_equal(hs_store_intent_count(x->s, &err), 0);
    assert_int_equal(hs_store_dirty_count(x->s, &err), 0);
    assert_int_equal(audit_writes(x), 10);
    /* and nothing is left to do */
    int w = x->crm.n_write + x->acc.n_write;
    run(x, &r);
    assert_int_equal(x->crm.n_write + x->acc.n_write, w);
    assert_int_equal(r.n_writes, 0);
    hs_engine_report_release(&r);
}

/*
 * The CRM's change feed is paged as the pass goes: the first slice's writes go out once the
 * pages of that slice are read, not the whole feed; every record is still synced once, and
 * the feed's cursor and the dirty set end as with the feed read whole.
 */
static void test_engine_pages_the_crm_feed_as_it_goes(void **state)
{
    struct fx *x = *state;
    x->slice = 4;
    configure(x, "both", "crm");
    put_companies(&x->crm, 9);
    x->acc.watch = &x->crm.n_changes;
    x->acc.watch_at_write = -1;
    struct hs_engine_report r;
    run(x, &r);
    /* 2 ids a page: the first slice (4) needed 2 pages; the feed has 5 */
    assert_int_equal(x->acc.watch_at_write, 2);
    assert_true(x->crm.n_changes >= 5);
    assert_int_equal(r.n_changes_seen, 9);
    assert_int_equal(x->acc.n_created, 9);
    assert_int_equal(n_links(x), 9);
    hs_engine_report_release(&r);
    struct hs_error err = {0};
    assert_int_equal(hs_store_dirty_count(x->s, &err), 0);
    /* the cursor is at the feed's end: nothing is announced again, nothing written */
    int w = x->crm.n_write + x->acc.n_write;
    run(x, &r);
    assert_int_equal(x->crm.n_write + x->acc.n_write, w);
    assert_int_equal(r.n_writes, 0);
    assert_int_equal(r.n_changes_seen, 9); /* the accounting side's echo of our creates */
    hs_engine_report_release(&r);
}

/*
 * Marks of other records arriving while the feed is paged (a webhook) are claimed with the
 * feed's pages and given back, not taken into the pass, and not claimed over and over: with
 * a claim batch smaller than them, the pass still ends, and the next one takes them.
 */
static void test_engine_paged_feed_gives_back_other_marks(void **state)
{
    struct fx *x = *state;
    x->slice = 4;
    x->claim_batch = 2;
    configure(x, "both", "crm");
    put_companies(&x->crm, 9);
    x->crm.inject = x->s;
    x->crm.inject_at = 3; /* after the first slice's 2 pages */
    struct hs_engine_report r;
    run(x, &r);
    hs_engine_report_release(&r);
    assert_int_equal(x->acc.n_created, 9);
    assert_int_equal(n_links(x), 9);
    struct hs_error err = {0};
    assert_int_equal(hs_store_dirty_count(x->s, &err), 3); /* given back, not dropped */
    run(x, &r); /* no flow carries CRM items here: the next pass completes them */
    hs_engine_report_release(&r);
    assert_int_equal(hs_store_dirty_count(x->s, &err), 0);
    assert_int_equal(x->acc.n_created, 9);
}

/*
 * A pass that stops part-way through a paged feed (the accounting side's day spent in the
 * second slice) loses nothing: the pages stored and claimed go back to the dirty set, those
 * never fetched are read from the stored cursor, and each record is created once.
 */
static void test_engine_paged_feed_stopped_loses_nothing(void **state)
{
    struct fx *x = *state;
    x->slice = 4;
    configure(x, "both", "crm");
    put_companies(&x->crm, 11);
    x->acc.day_limit = true;
    x->acc.calls_left = 1; /* the first slice's 4 creates, then the day is spent */
    struct hs_engine_report r;
    run_stopped(x, &r);
    hs_engine_report_release(&r);
    assert_int_equal(x->acc.n_created, 4);
    assert_int_equal(n_links(x), 4);
    struct hs_error err = {0};
    assert_true(hs_store_dirty_count(x->s, &err) >= 4); /* the second slice's, given back */
    x->acc.day_limit = false;
    run(x, &r);
    hs_engine_report_release(&r);
    assert_int_equal(x->acc.n_created, 11);
    assert_int_equal(x->acc.n_write_records, 11);
    assert_int_equal(n_links(x), 11);
    assert_int_equal(hs_store_dirty_count(x->s, &err), 0);
    assert_int_equal(hs_store_intent_count(x->s, &err), 0);
}

/*
 * Both directions in one slice: updates to the accounting side spent the day part-way. The
 * pairs whose update was answered are committed (bases, mirror, audit); a pair whose write was
 * not sent stores nothing and is merged again by the next pass; the CRM side is not written
 * after the stop (its writes come after the accounting side's in the pass), and nothing is
 * written twice.
 */
static void test_engine_day_limit_keeps_answered_updates(void **state)
{
    struct fx *x = *state;
    for (int i = 0; i < 6; i++) {
        char id[8], name[32], email[32];
        snprintf(id, sizeof id, "c%d", i);
        snprintf(name, sizeof name, "Company %c", 'A' + i);
        snprintf(email, sizeof email, "ap@%c.example", 'a' + i);
        put_customer(&x->crm, id, name, email);
    }
    struct hs_engine_report r;
    run(x, &r);
    hs_engine_report_release(&r);
    assert_int_equal(n_links(x), 6);
    int audits = audit_writes(x);
    int updated0 = x->acc.n_updated;
    for (int i = 0; i < 6; i++) {
        char id[8], email[32];
        snprintf(id, sizeof id, "c%d", i);
        snprintf(email, sizeof email, "billing@%c.example", 'a' + i);
        edit(&x->crm, id, slot_email, email);
    }
    x->acc.write_batch = 1;
    x->acc.day_limit = true;
    x->acc.calls_left = 2;
    run_stopped(x, &r);
    assert_int_equal(r.n_writes, 2);
    assert_int_equal(count_actions(&r, HS_ENGINE_UPDATE), 2);
    assert_int_equal(r.n_updated, 2);
    hs_engine_report_release(&r);
    assert_int_equal(x->acc.n_updated - updated0, 2);
    /* the two answered updates are committed: their audit rows exist */
    assert_int_equal(audit_writes(x), audits + 2);
    x->acc.day_limit = false;
    run(x, &r);
    hs_engine_report_release(&r);
    assert_int_equal(x->acc.n_updated - updated0, 6);
    assert_int_equal(audit_writes(x), audits + 6);
    for (int i = 0; i < 6; i++) {
        char id[8], email[32], buf[64];
        snprintf(id, sizeof id, "c%d", i);
        snprintf(email, sizeof email, "billing@%c.example", 'a' + i);
        assert_string_equal(rec(&x->acc, linked_acc(x, id, buf, sizeof buf))->customer.email,
                            email);
    }
    struct hs_error err = {0};
    assert_int_equal(hs_store_dirty_count(x->s, &err), 0);
    assert_int_equal(hs_store_item_count(x->s, 0, NULL, -1, &err), 0);
    int w = x->crm.n_write + x->acc.n_write;
    run(x, &r);
    assert_int_equal(x->crm.n_write + x->acc.n_write, w);
    hs_engine_report_release(&r);
}

static void test_engine_idem_key_is_stable(void **state)
{
    (void)state;
    char a[HS_ENGINE_IDEM_MAX + 1], b[HS_ENGINE_IDEM_MAX + 1], c[HS_ENGINE_IDEM_MAX + 1];
    hs_engine_idem_key("customers", HS_SIDE_ACCOUNTING, "c1", a);
    hs_engine_idem_key("customers", HS_SIDE_ACCOUNTING, "c1", b);
    hs_engine_idem_key("customers", HS_SIDE_CRM, "c1", c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(strlen(a), 36);
    assert_memory_equal(a, "hs1-", 4);
}

int main(void)
{
    hs_alloc_setup_json();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_engine_backfill_links_creates_and_marks_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_refused_create_is_not_counted_as_created, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_slices_give_the_same_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_second_run_with_nothing_changed_writes_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_engine_updates_flow_both_ways_and_concurrent_fields_survive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_same_field_conflict_follows_authority, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_manual_authority_queues_one_conflict, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_validation_error_isolates_one_record, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_engine_provider_field_limits_are_checked_before_writing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_retry_marks_error_records_dirty, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_too_big_batches_are_halved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_day_limit_keeps_what_was_created, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_day_limit_keeps_answered_updates, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_stale_sync_token_is_re_read_and_re_merged,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_engine_crash_between_create_and_link_heals_without_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_crash_before_link_commit_heals, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_cursor_and_marks_are_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_plan_touches_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_pages_the_crm_feed_as_it_goes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_paged_feed_stopped_loses_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_paged_feed_gives_back_other_marks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_one_way_flow_reports_drift, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_resolve_conflict_takes_a_side_or_a_value, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_provider_echo_of_unstorable_field_does_not_flap,
                                        setup, teardown),
        cmocka_unit_test(test_engine_pass_survives_failed_allocations_and_converges),
        cmocka_unit_test_setup_teardown(test_engine_filter_syncs_only_records_in_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_engine_filter_linked_record_leaving_is_no_longer_synced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_filter_two_flows_split_by_region, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_filter_unknown_field_is_refused_at_open, setup,
                                        teardown),
        cmocka_unit_test(test_engine_filter_survives_failed_allocations),
        cmocka_unit_test_setup_teardown(test_engine_items_flow_one_way_with_transform, setup,
                                        teardown),
        cmocka_unit_test(test_engine_idem_key_is_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
