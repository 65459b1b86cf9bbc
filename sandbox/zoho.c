/*
 * sandbox/zoho.c - Zoho Books API v3 emulator (hs_sbx_zoho_ops).
 *
 * Design:     routes live under /zohobooks/: the Books API at /zohobooks/books/v3/ (contacts
 *             with contact_persons, which a list sent with the contact replaces and
 *             /contacts/contactpersons[/{id}] changes one by one, items, invoices,
 *             customerpayments, creditnotes,
 *             settings/taxes, settings/currencies, organizations) and Zoho Accounts' OAuth2
 *             endpoints at /zohobooks/accounts/oauth/v2/auth and /token (the shared oauth.c with
 *             Zoho's one-hour access tokens and refresh tokens that never rotate; the token
 *             answer carries `api_domain`, the base URL of the API for the data center that
 *             issued it, and the authorization redirect carries `location` and
 *             `accounts-server`, as Zoho's do). Every API call goes through begin(): the token
 *             (`Zoho-oauthtoken <t>` or `Bearer <t>`; 401 with code 57 otherwise), the required
 *             `organization_id` query parameter (400 with code 6042 when missing, 6041 when the
 *             user has no such organization) and the per-organization limits (100 calls a
 *             minute; a daily limit, 10,000 unless set through POST /zohobooks/_sandbox/limits),
 *             refused with 429 and Zoho's code/message body, no Retry-After. Every answer is
 *             Zoho's envelope {"code": 0, "message": "success", ...}; errors keep the shape
 *             with Zoho's codes. Lists page with page/per_page (at most 200) and answer a
 *             page_context; invoices and credit notes take the last_modified_time filter, and
 *             contacts and items sort_column=last_modified_time. Writes take one record per
 *             call; contacts, items and invoices can also be written through a unique custom
 *             field (PUT /{entity} with X-Unique-Identifier-Key and -Value, creating with
 *             X-Upsert: true), which is Zoho's only idempotency mechanism. Invoice arithmetic
 *             follows Zoho: line item_total = rate x quantity less the discount, rounded to the
 *             currency's decimals; tax through core/tax.h's Zoho policy (item-level rounding,
 *             is_inclusive_tax the inclusive mode). Customer payments apply to invoices
 *             (balance, status partially_paid / paid). Webhooks are Zoho's workflow webhooks:
 *             one POST per record change, the record as {"<entity>": {...}}, authenticated by a
 *             custom header carrying the subscription's secret (Zoho Books signs nothing).
 * Invariants: every record's last_modified_time and rec.updated_ms change together; invoice
 *             balance = total - payment_made - credits_applied, and payment_made is the sum of
 *             the payments applied to it; ids are numeric strings, deterministic per
 *             organization; a write is validated completely before anything is stored, so a
 *             refused call changes nothing.
 * Threads:    handlers run under the sandbox state lock (sbx.h).
 * Ownership:  the module state owns its organizations; organizations own their tables.
 * Not here:   exact numbers (qbo_json.c), tax arithmetic (core/tax.c), OAuth (oauth.c),
 *             webhook delivery (webhook.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/currency.h"
#include "core/tax.h"
#include "sandbox/qbo.h"
#include "sandbox/sbx_int.h"
#include "sandbox/zoho.h"
#include "util/alloc.h"
#include "util/civil.h"
#include "util/json.h"
#include "util/str.h"

#define PER_PAGE_MAX      200
#define MIN_LIMIT         100
#define DAY_LIMIT_DEFAULT 10000
#define DAY_MS            86400000LL
#define NAME_MAX_CHARS    200
#define PERSONS_MAX       50
#define LINES_MAX         200
#define SEED_ORG          "Hoopsync Sandbox Ltd"
#define EMPTY_ORG         "Hoopsync Demo (Empty)"
#define BASE_CURRENCY     "USD"
#define DEFAULT_DUE_DAYS  30
#define CF_UNIQUE         "cf_hoopsync_id" /* the custom field set to refuse duplicates */
#define CF_PLAIN          "cf_source"      /* a custom field that accepts duplicates */

enum ent { E_CONTACT, E_ITEM, E_INVOICE, E_PAYMENT, E_CREDITNOTE, E_TAX, E_CURRENCY, N_ENT };

enum ent_flags {
    F_WRITE = 1 << 0,  /* POST /{entity}, PUT /{entity}/{id} */
    F_LMT = 1 << 1,    /* ?last_modified_time= */
    F_UPSERT = 1 << 2, /* PUT /{entity} with X-Unique-Identifier-Key */
    F_SETTING = 1 << 3 /* under /settings/ */
};

struct ent_def {
    const char *path;     /* "contacts": path segment and list key */
    const char *one;      /* "contact": key of one record */
    const char *id_field; /* "contact_id" */
    const char *unique;   /* field whose value is unique (folded), or NULL */
    const char *label;    /* "Contact" in messages */
    const char *added;    /* message of a create */
    const char *saved;    /* message of an update */
    unsigned flags;
};

static const struct ent_def defs[N_ENT] = {
    {"contacts", "contact", "contact_id", "contact_name", "Contact", "The contact has been added.",
     "Contact information has been saved.", F_WRITE | F_UPSERT},
    {"items", "item", "item_id", "name", "Item", "The item has been added.",
     "The item details have been updated.", F_WRITE | F_UPSERT},
    {"invoices", "invoice", "invoice_id", "invoice_number", "Invoice",
     "The invoice has been created.", "Invoice information has been updated.",
     F_WRITE | F_LMT | F_UPSERT},
    {"customerpayments", "payment", "payment_id", NULL, "Payment", "The payment has been created.",
     "The payment has been updated.", F_WRITE},
    {"creditnotes", "creditnote", "creditnote_id", "creditnote_number", "Credit note",
     "The credit note has been created.", "Credit note information has been updated.",
     F_WRITE | F_LMT | F_UPSERT},
    {"taxes", "tax", "tax_id", NULL, "Tax", NULL, NULL, F_SETTING},
    {"currencies", "currency", "currency_id", "currency_code", "Currency", NULL, NULL, F_SETTING},
};

struct rec {
    json_t *obj;
    int64_t updated_ms;
};

struct table {
    struct rec *v;
    size_t n;
    size_t cap;
    json_t *index; /* id -> index */
    json_t *keys;  /* "u:<folded unique value>" and "cf:<api name>:<value>" -> index */
};

struct org {
    char id[24];
    char name[128];
    int64_t created_ms;
    uint64_t id_base; /* ids are id_base + id_seq */
    uint64_t id_seq;
    int64_t next_inv; /* INV-000001 ... */
    int64_t next_cn;  /* CN-00001 ... */
    int64_t next_pay; /* payment_number 1, 2, ... */
    struct table t[N_ENT];
};

struct zoho {
    struct hs_sbx *sbx;
    struct org **orgs;
    size_t n_orgs;
    int64_t day_limit; /* calls a day per organization */
    int64_t min_limit; /* calls a minute per organization */
    /* authorization codes consented with access_type=offline: only their exchange answers a
     * refresh token (Zoho's default, online, gives an access token alone) */
    char **offline_codes;
    size_t n_offline;
};

/* ---- small helpers ---- */

static int setn(json_t *o, const char *k, json_t *v)
{
    if (v == NULL)
        return HS_ENOMEM;
    return json_object_set_new(o, k, v) == 0 ? HS_OK : HS_ENOMEM;
}

static int sets(json_t *o, const char *k, const char *s)
{
    return setn(o, k, json_string(s != NULL ? s : ""));
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool blank(const char *s)
{
    return s == NULL || s[0] == '\0';
}

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; s != NULL && *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; s != NULL && *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static int64_t pow10i(int n)
{
    int64_t p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

/* Value of an exact number at scale, or 0 when absent or not a number. */
static int64_t num0(const json_t *v, int scale)
{
    int64_t out = 0;
    if (v == NULL || hs_qbo_num_get(v, scale, &out) != HS_OK)
        return 0;
    return out;
}

/* "8.25%" for a scale-6 percentage (the spec's string form of items' and credit notes'
 * tax_percentage). */
static json_t *pct_text(const json_t *num)
{
    char b[48];
    hs_qbo_dec_format(num0(num, HS_QBO_SCALE), HS_QBO_SCALE, b, sizeof b);
    size_t n = strlen(b);
    while (n > 0 && b[n - 1] == '0')
        n--;
    if (n > 0 && b[n - 1] == '.')
        n--;
    snprintf(b + n, sizeof b - n, "%%");
    return json_string(b);
}

static int currency_dec(const char *code)
{
    return hs_qbo_currency_decimals(code != NULL ? code : BASE_CURRENCY);
}

/* Next id of organization g: a 15-digit numeric string, as Zoho's ids are. */
static void new_id(struct org *g, char out[24])
{
    g->id_seq++;
    snprintf(out, 24, "%llu", (unsigned long long)g->id_base + g->id_seq);
}

/* Folded form of a unique value: trimmed, ASCII lower case. Caller frees. */
static char *fold(const char *s)
{
    return hs_qbo_name_fold(s != NULL ? s : "");
}

/* ---- time ---- */

static bool digits(const char *s, int n, int64_t *out)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool hs_zoho_time_parse(const char *s, int64_t *out_ms)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (s == NULL)
        return false;
    size_t len = strlen(s);
    int64_t y, mo, d, h = 0, mi = 0, se = 0;
    if (len < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return false;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return false;
    const char *p = s + 10;
    int64_t off_min = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        if (strlen(p) < 9 || !digits(p + 1, 2, &h) || p[3] != ':' || !digits(p + 4, 2, &mi) ||
            p[6] != ':' || !digits(p + 7, 2, &se) || h > 23 || mi > 59 || se > 59)
            return false;
        p += 9;
        if (*p == '\0' || strcmp(p, "Z") == 0 || strcmp(p, "-UTC") == 0 || strcmp(p, "+UTC") == 0) {
            off_min = 0;
        } else if (*p == '+' || *p == '-') {
            int64_t oh, om;
            const char *q = p + 1;
            if (!digits(q, 2, &oh))
                return false;
            q += 2;
            if (*q == ':')
                q++;
            if (!digits(q, 2, &om) || q[2] != '\0' || oh > 23 || om > 59)
                return false;
            off_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        } else {
            return false;
        }
    } else if (*p != '\0') {
        return false;
    }
    int64_t days = hs_days_from_civil(y, mo, d);
    *out_ms = ((days * 24 + h) * 60 + mi) * 60000 + se * 1000 - off_min * 60000;
    return true;
}

void hs_zoho_time_format(int64_t ms, char *out, size_t size)
{
    char iso[40];
    hs_sbx_iso8601(ms, iso, sizeof iso); /* 2026-11-23T18:00:00.000Z */
    snprintf(out, size, "%.19s+0000", iso);
}

static int set_time(json_t *o, const char *k, int64_t ms)
{
    char b[40];
    hs_zoho_time_format(ms, b, sizeof b);
    return sets(o, k, b);
}

static void date_of(int64_t ms, char *out, size_t size)
{
    int64_t days = ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
    hs_qbo_days_format(days, out, size);
}

/* "YYYY-MM-DD" -> days since the epoch. */
static bool date_days(const char *s, int64_t *out)
{
    return s != NULL && strlen(s) == 10 && hs_qbo_date_parse(s, 10, out) == HS_OK;
}

/* ---- tables ---- */

static void table_release(struct table *t)
{
    for (size_t i = 0; i < t->n; i++)
        json_decref(t->v[i].obj);
    hs_free(t->v);
    json_decref(t->index);
    json_decref(t->keys);
    memset(t, 0, sizeof *t);
}

/* Calls fn for each secondary key of obj in table e. */
static int each_key(int e, const json_t *obj, int (*fn)(void *ud, const char *key), void *ud)
{
    int rc = HS_OK;
    const char *u = defs[e].unique != NULL ? jstr(obj, defs[e].unique) : NULL;
    if (!blank(u)) {
        char *f = fold(u);
        char *k = f != NULL ? hs_asprintf("u:%s", f) : NULL;
        rc = k != NULL ? fn(ud, k) : HS_ENOMEM;
        hs_free(k);
        hs_free(f);
    }
    size_t i;
    json_t *cf;
    json_array_foreach(json_object_get(obj, "custom_fields"), i, cf)
    {
        const char *api = jstr(cf, "api_name");
        const char *val = jstr(cf, "value");
        if (rc != HS_OK || api == NULL || strcmp(api, CF_UNIQUE) != 0 || blank(val))
            continue;
        char *k = hs_asprintf("cf:%s:%s", api, val);
        rc = k != NULL ? fn(ud, k) : HS_ENOMEM;
        hs_free(k);
    }
    return rc;
}

struct key_op {
    struct table *t;
    size_t i;
};

static int key_add(void *ud, const char *key)
{
    struct key_op *k = ud;
    if (k->t->keys == NULL && (k->t->keys = json_object()) == NULL)
        return HS_ENOMEM;
    return json_object_set_new(k->t->keys, key, json_integer((json_int_t)k->i)) == 0 ? HS_OK
                                                                                     : HS_ENOMEM;
}

static int key_del(void *ud, const char *key)
{
    struct key_op *k = ud;
    if (k->t->keys != NULL &&
        json_integer_value(json_object_get(k->t->keys, key)) == (json_int_t)k->i)
        json_object_del(k->t->keys, key);
    return HS_OK;
}

static struct rec *by_key(struct table *t, const char *key)
{
    json_t *v = t->keys != NULL ? json_object_get(t->keys, key) : NULL;
    if (!json_is_integer(v))
        return NULL;
    json_int_t i = json_integer_value(v);
    return i >= 0 && (size_t)i < t->n ? &t->v[i] : NULL;
}

/* Record of table e whose unique field has that value (folded), or NULL. */
static struct rec *by_unique(struct org *g, int e, const char *value)
{
    char *f = fold(value);
    char *k = f != NULL ? hs_asprintf("u:%s", f) : NULL;
    struct rec *r = k != NULL ? by_key(&g->t[e], k) : NULL;
    hs_free(k);
    hs_free(f);
    return r;
}

static struct rec *by_cf(struct org *g, int e, const char *api, const char *value)
{
    char *k = hs_asprintf("cf:%s:%s", api, value != NULL ? value : "");
    struct rec *r = k != NULL ? by_key(&g->t[e], k) : NULL;
    hs_free(k);
    return r;
}

/* Appends obj (stolen, also on failure) to table e. */
static int table_add(struct table *t, int e, json_t *obj, int64_t ms, size_t *out_index)
{
    if (obj == NULL)
        return HS_ENOMEM;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        struct rec *v = hs_reallocarray(t->v, cap, sizeof *v);
        if (v == NULL) {
            json_decref(obj);
            return HS_ENOMEM;
        }
        t->v = v;
        t->cap = cap;
    }
    if (t->index == NULL && (t->index = json_object()) == NULL) {
        json_decref(obj);
        return HS_ENOMEM;
    }
    const char *id = jstr(obj, defs[e].id_field);
    struct key_op k = {t, t->n};
    int rc = id != NULL && json_object_set_new(t->index, id, json_integer((json_int_t)t->n)) == 0
                 ? HS_OK
                 : HS_ENOMEM;
    if (rc == HS_OK)
        rc = each_key(e, obj, key_add, &k);
    if (rc != HS_OK) {
        json_decref(obj);
        return rc;
    }
    t->v[t->n].obj = obj;
    t->v[t->n].updated_ms = ms;
    if (out_index != NULL)
        *out_index = t->n;
    t->n++;
    return HS_OK;
}

/* Replaces the object of record r of table e by obj (stolen). */
static int table_replace(struct table *t, int e, struct rec *r, json_t *obj, int64_t ms)
{
    if (obj == NULL)
        return HS_ENOMEM;
    struct key_op k = {t, (size_t)(r - t->v)};
    (void)each_key(e, r->obj, key_del, &k);
    json_decref(r->obj);
    r->obj = obj;
    r->updated_ms = ms;
    return each_key(e, obj, key_add, &k);
}

static struct rec *table_get(struct table *t, const char *id)
{
    json_t *v = id != NULL && t->index != NULL ? json_object_get(t->index, id) : NULL;
    if (!json_is_integer(v))
        return NULL;
    json_int_t i = json_integer_value(v);
    return i >= 0 && (size_t)i < t->n ? &t->v[i] : NULL;
}

/* ---- organizations ---- */

static void org_free(struct org *g)
{
    if (g == NULL)
        return;
    for (int e = 0; e < N_ENT; e++)
        table_release(&g->t[e]);
    hs_free(g);
}

static struct org *org_new(const char *name, int64_t now_ms, uint64_t h)
{
    struct org *g = hs_calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    snprintf(g->name, sizeof g->name, "%s", name);
    snprintf(g->id, sizeof g->id, "%llu", (unsigned long long)(700000000ULL + h % 99999999ULL));
    g->created_ms = now_ms;
    g->id_base = 460000000000000ULL + (h % 90ULL) * 1000000000ULL;
    g->next_inv = 1;
    g->next_cn = 1;
    g->next_pay = 1;
    return g;
}

static void orgs_clear(struct zoho *z)
{
    for (size_t i = 0; i < z->n_orgs; i++)
        org_free(z->orgs[i]);
    hs_free(z->orgs);
    z->orgs = NULL;
    z->n_orgs = 0;
}

static int orgs_add(struct zoho *z, struct org *g)
{
    struct org **v = hs_reallocarray(z->orgs, z->n_orgs + 1, sizeof(struct org *));
    if (v == NULL)
        return HS_ENOMEM;
    z->orgs = v;
    z->orgs[z->n_orgs++] = g;
    return HS_OK;
}

static struct org *org_find(struct zoho *z, const char *id)
{
    for (size_t i = 0; id != NULL && i < z->n_orgs; i++)
        if (strcmp(z->orgs[i]->id, id) == 0)
            return z->orgs[i];
    return NULL;
}

/* ---- one write's context ---- */

struct op {
    struct zoho *z;
    struct org *g;
    int64_t now_ms;
    int status;     /* HTTP status of a refusal */
    int code;       /* Zoho's error code of a refusal */
    char msg[512];  /* its message */
    json_t *events; /* webhook events, emitted when the call succeeds */
};

/* Records a refusal and returns HS_EINVAL. */
static int fail(struct op *o, int status, int code, const char *fmt, ...) HS_PRINTF(4, 5);
static int fail(struct op *o, int status, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->msg, sizeof o->msg, fmt, ap);
    va_end(ap);
    o->status = status;
    o->code = code;
    return HS_EINVAL;
}

static int invalid(struct op *o, const char *field)
{
    return fail(o, 400, 2, "Invalid value passed for %s", field);
}

static int event(struct op *o, int e, const json_t *obj, const char *type)
{
    if (o->events == NULL || !hs_sbx_listening(o->z->sbx, &hs_sbx_zoho_ops))
        return HS_OK; /* nobody would receive it (hs_sbx_emit drops it) */
    json_t *ev = json_pack("{s:s, s:s, s:s, s:O}", "entity", defs[e].one, "type", type,
                           "organization_id", o->g->id, "record", obj);
    if (ev == NULL || json_array_append_new(o->events, ev) != 0)
        return HS_ENOMEM;
    return HS_OK;
}

/* Stores obj (stolen) as a new record of e, stamped now. */
static int store_add(struct op *o, int e, json_t *obj, size_t *out_index)
{
    if (obj == NULL)
        return HS_ENOMEM;
    int rc = set_time(obj, "created_time", o->now_ms);
    if (rc == HS_OK)
        rc = set_time(obj, "last_modified_time", o->now_ms);
    if (rc != HS_OK) {
        json_decref(obj);
        return rc;
    }
    size_t i;
    rc = table_add(&o->g->t[e], e, obj, o->now_ms, &i);
    if (rc == HS_OK)
        rc = event(o, e, obj, "created");
    if (rc == HS_OK && out_index != NULL)
        *out_index = i;
    return rc;
}

static int store_replace(struct op *o, int e, struct rec *r, json_t *obj)
{
    if (obj == NULL)
        return HS_ENOMEM;
    int rc = set_time(obj, "last_modified_time", o->now_ms);
    if (rc != HS_OK) {
        json_decref(obj);
        return rc;
    }
    rc = table_replace(&o->g->t[e], e, r, obj, o->now_ms);
    if (rc == HS_OK)
        rc = event(o, e, obj, "updated");
    return rc;
}

/* Exact number at key into units of 10^-scale (absent: *present false). */
static int num_field(struct op *o, const json_t *obj, const char *key, int scale, int64_t *out,
                     bool *present)
{
    const json_t *v = json_object_get(obj, key);
    *present = v != NULL && !json_is_null(v);
    if (!*present)
        return HS_OK;
    if (json_is_string(v) && !hs_qbo_is_num(v))
        return invalid(o, key);
    int rc = hs_qbo_num_get(v, scale, out);
    if (rc == HS_ERANGE)
        return fail(o, 400, 2, "Invalid value passed for %s: more than %d decimal places", key,
                    scale);
    if (rc != HS_OK)
        return invalid(o, key);
    return HS_OK;
}

/* A string field: absent/null -> *out NULL; a non-string is refused. */
static int str_field(struct op *o, const json_t *obj, const char *key, const char **out)
{
    const json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return HS_OK;
    if (!json_is_string(v) || hs_qbo_is_num(v))
        return invalid(o, key);
    *out = json_string_value(v);
    return HS_OK;
}

/* Copies src's members into dst, except the names in skip. */
static int merge(json_t *dst, const json_t *src, const char *const *skip)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)src, k, v)
    {
        bool ro = false;
        for (size_t i = 0; skip[i] != NULL; i++)
            if (strcmp(skip[i], k) == 0)
                ro = true;
        if (!ro && setn(dst, k, json_deep_copy(v)) != HS_OK)
            return HS_ENOMEM;
    }
    return HS_OK;
}

static bool valid_email(const char *s)
{
    const char *at = s != NULL ? strchr(s, '@') : NULL;
    return at != NULL && at != s && strchr(at + 1, '.') != NULL && strchr(s, ' ') == NULL &&
           at[1] != '.' && s[strlen(s) - 1] != '.';
}

/* ---- custom fields ---- */

static const struct {
    const char *api_name;
    const char *label;
    bool unique;
} cfdefs[] = {
    {CF_UNIQUE, "Hoopsync ID", true},
    {CF_PLAIN, "Source", false},
};
#define N_CF (sizeof cfdefs / sizeof cfdefs[0])

static void cf_id(const struct org *g, int e, size_t k, char out[24])
{
    snprintf(out, 24, "%llu",
             (unsigned long long)(g->id_base + 990000000ULL + (uint64_t)e * 10 + k));
}

/* Index of the custom field named by api_name, customfield_id or label, or -1. */
static long cf_find(const struct org *g, int e, const json_t *in)
{
    const char *api = jstr(in, "api_name");
    const char *id = jstr(in, "customfield_id");
    const char *label = jstr(in, "label");
    for (size_t k = 0; k < N_CF; k++) {
        char cid[24];
        cf_id(g, e, k, cid);
        if ((api != NULL && strcmp(api, cfdefs[k].api_name) == 0) ||
            (id != NULL && strcmp(id, cid) == 0) ||
            (api == NULL && id == NULL && label != NULL && hs_str_ieq(label, cfdefs[k].label)))
            return (long)k;
    }
    return -1;
}

/*
 * Sets rec's custom_fields from the input's (merged into the ones it had): every field named
 * by api_name, customfield_id or label; an empty value clears it; a unique field's value may
 * not be another record's.
 */
static int custom_fields(struct op *o, int e, json_t *rec, const json_t *in, const struct rec *self)
{
    const json_t *list = json_object_get(in, "custom_fields");
    if (list == NULL || json_is_null(list))
        return HS_OK;
    if (!json_is_array(list))
        return invalid(o, "custom_fields");
    const char *vals[N_CF] = {NULL};
    size_t i;
    json_t *cf;
    json_array_foreach(json_object_get(rec, "custom_fields"), i, cf)
    {
        long k = cf_find(o->g, e, cf);
        if (k >= 0)
            vals[k] = jstr(cf, "value");
    }
    json_array_foreach(list, i, cf)
    {
        long k = json_is_object(cf) ? cf_find(o->g, e, cf) : -1;
        if (k < 0)
            return invalid(o, "custom_fields");
        const json_t *v = json_object_get(cf, "value");
        if (v != NULL && !json_is_null(v) && (!json_is_string(v) || hs_qbo_is_num(v)))
            return fail(o, 400, 2, "Invalid value passed for %s", cfdefs[k].label);
        vals[k] = json_string_value(v);
        if (cfdefs[k].unique && !blank(vals[k])) {
            struct rec *other = by_cf(o->g, e, cfdefs[k].api_name, vals[k]);
            if (other != NULL && other != self)
                return fail(o, 400, 3080,
                            "The value \"%s\" for the custom field \"%s\" already exists. Please "
                            "enter a unique value.",
                            vals[k], cfdefs[k].label);
        }
    }
    json_t *out = json_array();
    for (size_t k = 0; out != NULL && k < N_CF; k++) {
        if (blank(vals[k]))
            continue;
        char cid[24];
        cf_id(o->g, e, k, cid);
        json_t *c =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "customfield_id", cid, "api_name",
                      cfdefs[k].api_name, "label", cfdefs[k].label, "data_type", "string", "value",
                      vals[k], "index", (json_int_t)k + 1, "show_on_pdf", "false");
        if (c == NULL || json_array_append_new(out, c) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return setn(rec, "custom_fields", out);
}

/* ---- contacts ---- */

static const char *const contact_skip[] = {"contact_id",
                                           "created_time",
                                           "last_modified_time",
                                           "outstanding_receivable_amount",
                                           "unused_credits_receivable_amount",
                                           "custom_fields",
                                           "contact_persons",
                                           "currency_code",
                                           NULL};

/* The currency record named by currency_id (or currency_code), or NULL. */
static struct rec *currency_of(struct op *o, const char *id, const char *code)
{
    if (!blank(id))
        return table_get(&o->g->t[E_CURRENCY], id);
    if (!blank(code))
        return by_unique(o->g, E_CURRENCY, code);
    return NULL;
}

static int contact_persons(struct op *o, json_t *c, const json_t *in, const struct rec *old)
{
    const json_t *list = json_object_get(in, "contact_persons");
    if (list == NULL || json_is_null(list))
        return HS_OK;
    if (!json_is_array(list))
        return invalid(o, "contact_persons");
    if (json_array_size(list) > PERSONS_MAX)
        return fail(o, 400, 2, "A contact can have at most %d contact persons", PERSONS_MAX);
    const json_t *had = old != NULL ? json_object_get(old->obj, "contact_persons") : NULL;
    json_t *out = json_array();
    if (out == NULL)
        return HS_ENOMEM;
    bool primary = false;
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        if (!json_is_object(p)) {
            json_decref(out);
            return invalid(o, "contact_persons");
        }
        const char *pid = jstr(p, "contact_person_id");
        json_t *base = NULL;
        if (!blank(pid)) {
            size_t k;
            json_t *h;
            json_array_foreach(had, k, h)
            {
                if (hs_str_eq(jstr(h, "contact_person_id"), pid))
                    base = h;
            }
            if (base == NULL) {
                json_decref(out);
                return invalid(o, "contact_person_id");
            }
        }
        json_t *np = base != NULL ? json_deep_copy(base) : json_object();
        static const char *const skip[] = {"contact_person_id", NULL};
        if (np == NULL || merge(np, p, skip) != HS_OK || json_array_append_new(out, np) != 0) {
            json_decref(out);
            return HS_ENOMEM;
        }
        const char *email = jstr(np, "email");
        if (!blank(email) && !valid_email(email)) {
            json_decref(out);
            return fail(o, 400, 2, "Invalid value passed for email");
        }
        if (base == NULL) {
            char id[24];
            new_id(o->g, id);
            if (sets(np, "contact_person_id", id) != HS_OK) {
                json_decref(out);
                return HS_ENOMEM;
            }
        }
        if (json_is_true(json_object_get(np, "is_primary_contact"))) {
            if (primary)
                (void)setn(np, "is_primary_contact", json_false());
            primary = true;
        }
    }
    /* one person is the primary contact: the first one unless another is marked */
    json_array_foreach(out, i, p)
    {
        if (json_object_get(p, "is_primary_contact") == NULL || (!primary && i == 0))
            if (setn(p, "is_primary_contact", json_boolean(!primary && i == 0)) != HS_OK) {
                json_decref(out);
                return HS_ENOMEM;
            }
    }
    json_array_foreach(out, i, p)
    {
        if (json_is_true(json_object_get(p, "is_primary_contact"))) {
            static const char *const mirror[] = {"first_name", "last_name", "email", "phone",
                                                 "mobile"};
            for (size_t k = 0; k < 5; k++)
                if (jstr(p, mirror[k]) != NULL && sets(c, mirror[k], jstr(p, mirror[k])) != HS_OK) {
                    json_decref(out);
                    return HS_ENOMEM;
                }
        }
    }
    return setn(c, "contact_persons", out);
}

static int prepare_contact(struct op *o, const json_t *in, struct rec *old, json_t **out)
{
    json_t *c = old != NULL ? json_deep_copy(old->obj) : json_object();
    if (c == NULL || merge(c, in, contact_skip) != HS_OK) {
        json_decref(c);
        return HS_ENOMEM;
    }
    const char *name = NULL, *type = NULL, *email = NULL, *cur_id = NULL, *cur_code = NULL;
    int rc = str_field(o, c, "contact_name", &name);
    if (rc == HS_OK)
        rc = str_field(o, c, "contact_type", &type);
    if (rc == HS_OK)
        rc = str_field(o, c, "email", &email);
    if (rc == HS_OK)
        rc = str_field(o, in, "currency_id", &cur_id);
    if (rc == HS_OK)
        rc = str_field(o, in, "currency_code", &cur_code);
    char *trimmed = NULL;
    if (rc == HS_OK) {
        trimmed = fold(name); /* only to test emptiness and length */
        if (trimmed == NULL)
            rc = HS_ENOMEM;
    }
    struct rec *same = NULL;
    if (rc == HS_OK && trimmed[0] == '\0')
        rc = fail(o, 400, 4, "Please enter the contact name.");
    else if (rc == HS_OK && utf8_len(name) > NAME_MAX_CHARS)
        rc = fail(o, 400, 2, "Contact name cannot be longer than %d characters.", NAME_MAX_CHARS);
    else if (rc == HS_OK && (same = by_unique(o->g, E_CONTACT, name)) != NULL && same != old)
        rc = fail(o, 400, 3062,
                  "The contact \"%s\" already exists. Please specify a different name.", name);
    else if (rc == HS_OK && type != NULL && strcmp(type, "customer") != 0 &&
             strcmp(type, "vendor") != 0)
        rc = invalid(o, "contact_type");
    else if (rc == HS_OK && !blank(email) && !valid_email(email))
        rc = invalid(o, "email");
    hs_free(trimmed);
    struct rec *cur = NULL;
    if (rc == HS_OK && (!blank(cur_id) || !blank(cur_code))) {
        cur = currency_of(o, cur_id, cur_code);
        if (cur == NULL)
            rc = invalid(o, blank(cur_id) ? "currency_code" : "currency_id");
    } else if (rc == HS_OK && old == NULL) {
        cur = currency_of(o, NULL, BASE_CURRENCY);
    }
    if (rc == HS_OK && cur != NULL) {
        rc = sets(c, "currency_id", jstr(cur->obj, "currency_id"));
        if (rc == HS_OK)
            rc = sets(c, "currency_code", jstr(cur->obj, "currency_code"));
    }
    if (rc == HS_OK)
        rc = contact_persons(o, c, in, old);
    if (rc == HS_OK)
        rc = custom_fields(o, E_CONTACT, c, in, old);
    if (rc == HS_OK && old == NULL) {
        char id[24];
        new_id(o->g, id);
        rc = sets(c, "contact_id", id);
        if (rc == HS_OK && type == NULL)
            rc = sets(c, "contact_type", "customer");
        if (rc == HS_OK && jstr(c, "status") == NULL)
            rc = sets(c, "status", "active");
        if (rc == HS_OK && json_object_get(c, "contact_persons") == NULL)
            rc = setn(c, "contact_persons", json_array());
        if (rc == HS_OK && json_object_get(c, "custom_fields") == NULL)
            rc = setn(c, "custom_fields", json_array());
        int dec = currency_dec(jstr(c, "currency_code"));
        if (rc == HS_OK)
            rc = setn(c, "outstanding_receivable_amount", hs_qbo_num(0, dec));
        if (rc == HS_OK)
            rc = setn(c, "unused_credits_receivable_amount", hs_qbo_num(0, dec));
    }
    if (rc == HS_OK && jstr(c, "company_name") == NULL)
        rc = sets(c, "company_name", jstr(c, "contact_name"));
    if (rc != HS_OK) {
        json_decref(c);
        return rc;
    }
    *out = c;
    return HS_OK;
}

/* ---- items ---- */

static const char *const item_skip[] = {
    "item_id", "created_time", "last_modified_time", "custom_fields", "tax_name", "tax_percentage",
    NULL};

static int prepare_item(struct op *o, const json_t *in, struct rec *old, json_t **out)
{
    json_t *it = old != NULL ? json_deep_copy(old->obj) : json_object();
    if (it == NULL || merge(it, in, item_skip) != HS_OK) {
        json_decref(it);
        return HS_ENOMEM;
    }
    const char *name = NULL, *tax_id = NULL;
    int64_t rate = 0;
    bool has_rate = false;
    int rc = str_field(o, it, "name", &name);
    if (rc == HS_OK)
        rc = str_field(o, it, "tax_id", &tax_id);
    if (rc == HS_OK)
        rc = num_field(o, it, "rate", HS_QBO_SCALE, &rate, &has_rate);
    struct rec *same = NULL;
    if (rc == HS_OK && blank(name))
        rc = fail(o, 400, 4, "Please enter the item name.");
    else if (rc == HS_OK && utf8_len(name) > NAME_MAX_CHARS)
        rc = fail(o, 400, 2, "Item name cannot be longer than %d characters.", NAME_MAX_CHARS);
    else if (rc == HS_OK && (same = by_unique(o->g, E_ITEM, name)) != NULL && same != old)
        rc = fail(o, 400, 1001, "The item \"%s\" already exists.", name);
    else if (rc == HS_OK && !has_rate)
        rc = fail(o, 400, 4, "Please enter the rate of the item.");
    else if (rc == HS_OK && rate < 0)
        rc = invalid(o, "rate");
    if (rc == HS_OK && !blank(tax_id)) {
        struct rec *tax = table_get(&o->g->t[E_TAX], tax_id);
        if (tax == NULL)
            rc = invalid(o, "tax_id");
        else if ((rc = sets(it, "tax_name", jstr(tax->obj, "tax_name"))) == HS_OK)
            rc = setn(it, "tax_percentage", pct_text(json_object_get(tax->obj, "tax_percentage")));
    }
    if (rc == HS_OK) /* the organization's price precision: 2 decimals, half up */
        rc = setn(it, "rate",
                  hs_qbo_num(hs_qbo_div_round((hs_qbo_i128)rate, pow10i(HS_QBO_SCALE - 2)), 2));
    if (rc == HS_OK)
        rc = custom_fields(o, E_ITEM, it, in, old);
    if (rc == HS_OK && old == NULL) {
        char id[24];
        new_id(o->g, id);
        rc = sets(it, "item_id", id);
        if (rc == HS_OK && jstr(it, "status") == NULL)
            rc = sets(it, "status", "active");
        if (rc == HS_OK && jstr(it, "product_type") == NULL)
            rc = sets(it, "product_type", "service");
        if (rc == HS_OK && jstr(it, "item_type") == NULL)
            rc = sets(it, "item_type", "sales");
        if (rc == HS_OK && json_object_get(it, "custom_fields") == NULL)
            rc = setn(it, "custom_fields", json_array());
    }
    if (rc != HS_OK) {
        json_decref(it);
        return rc;
    }
    *out = it;
    return HS_OK;
}

/* ---- invoices and credit notes ---- */

static const char *const doc_skip[] = {
    "invoice_id",    "creditnote_id", "created_time",      "last_modified_time",
    "custom_fields", "line_items",    "sub_total",         "tax_total",
    "total",         "balance",       "payment_made",      "credits_applied",
    "taxes",         "customer_name", "currency_id",       "currency_code",
    "status",        "exchange_rate", "last_payment_date", NULL};

/* One computed line: what core/tax.h needs, kept beside the JSON line. */
struct line_calc {
    struct hs_tax_code code;
    struct rec *tax; /* NULL: untaxed */
};

static int compute_line(struct op *o, json_t *line, size_t k, int dec, struct line_calc *lc,
                        struct hs_tax_line *tl)
{
    if (!json_is_object(line))
        return invalid(o, "line_items");
    const char *item_id = NULL, *tax_id = NULL;
    int64_t qty = 1000000, rate = 0;
    bool has_qty, has_rate;
    int rc = str_field(o, line, "item_id", &item_id);
    if (rc == HS_OK)
        rc = str_field(o, line, "tax_id", &tax_id);
    if (rc == HS_OK)
        rc = num_field(o, line, "quantity", HS_QBO_SCALE, &qty, &has_qty);
    if (rc == HS_OK)
        rc = num_field(o, line, "rate", HS_QBO_SCALE, &rate, &has_rate);
    if (rc != HS_OK)
        return rc;
    if (!has_qty)
        qty = 1000000;
    struct rec *item = NULL;
    if (!blank(item_id)) {
        item = table_get(&o->g->t[E_ITEM], item_id);
        if (item == NULL)
            return invalid(o, "item_id");
        if (!has_rate &&
            hs_qbo_num_get(json_object_get(item->obj, "rate"), HS_QBO_SCALE, &rate) == HS_OK)
            has_rate = true;
        if (jstr(line, "name") == NULL && sets(line, "name", jstr(item->obj, "name")) != HS_OK)
            return HS_ENOMEM;
        if (jstr(line, "description") == NULL && jstr(item->obj, "description") != NULL &&
            sets(line, "description", jstr(item->obj, "description")) != HS_OK)
            return HS_ENOMEM;
        if (json_object_get(line, "tax_id") == NULL)
            tax_id = jstr(item->obj, "tax_id");
    }
    if (blank(jstr(line, "name")) && blank(jstr(line, "description")))
        return fail(o, 400, 4, "Please enter the item name or description of line %zu.", k + 1);
    if (!has_rate)
        return fail(o, 400, 4, "Please enter the rate of line %zu.", k + 1);
    if (qty < 0 || rate < 0)
        return invalid(o, qty < 0 ? "quantity" : "rate");
    /* discount: "12.5%" of the line, or a flat amount */
    const json_t *dv = json_object_get(line, "discount");
    int64_t pct = 0, flat = 0;
    if (json_is_string(dv) && !hs_qbo_is_num(dv)) {
        const char *s = json_string_value(dv);
        size_t n = strlen(s);
        if (n < 2 || s[n - 1] != '%' || hs_qbo_dec_parse(s, n - 1, HS_QBO_SCALE, &pct) != HS_OK ||
            pct < 0 || pct > 100000000)
            return invalid(o, "discount");
    } else if (dv != NULL && !json_is_null(dv)) {
        bool has;
        rc = num_field(o, line, "discount", dec, &flat, &has);
        if (rc != HS_OK)
            return rc;
        if (flat < 0)
            return invalid(o, "discount");
    }
    /* item_total = quantity x rate less the discount, half up to the currency's decimals */
    hs_qbo_i128 num = (hs_qbo_i128)qty * rate * (100000000 - pct);
    hs_qbo_i128 den = (hs_qbo_i128)1000000 * 1000000 * 100000000 / pow10i(dec);
    int64_t amount = hs_qbo_div_round(num, den);
    if (amount == INT64_MAX || amount == INT64_MIN)
        return fail(o, 400, 2, "The amount of line %zu is too large.", k + 1);
    if (flat > amount)
        return fail(o, 400, 2, "The discount of line %zu exceeds its amount.", k + 1);
    amount -= flat;
    memset(lc, 0, sizeof *lc);
    if (!blank(tax_id)) {
        lc->tax = table_get(&o->g->t[E_TAX], tax_id);
        if (lc->tax == NULL)
            return invalid(o, "tax_id");
        int64_t p = 0;
        if (hs_qbo_num_get(json_object_get(lc->tax->obj, "tax_percentage"), HS_QBO_SCALE, &p) !=
            HS_OK)
            return invalid(o, "tax_id");
        snprintf(lc->code.code, sizeof lc->code.code, "%s", tax_id);
        snprintf(lc->code.components[0].rate_ref, sizeof lc->code.components[0].rate_ref, "%s",
                 tax_id);
        lc->code.components[0].percent.v = p;
        lc->code.n_components = 1;
    }
    memset(tl, 0, sizeof *tl);
    tl->amount = amount;
    tl->code = lc->tax != NULL ? &lc->code : NULL;
    int udec = rate % 10000 == 0 ? 2 : 6;
    rc = setn(line, "rate", hs_qbo_num_short(rate, HS_QBO_SCALE));
    if (udec == 2 && rc == HS_OK)
        rc = setn(line, "rate", hs_qbo_num(rate / 10000, 2));
    if (rc == HS_OK)
        rc = setn(line, "quantity", hs_qbo_num_short(qty, HS_QBO_SCALE));
    if (rc == HS_OK && item_id == NULL && item == NULL)
        rc = sets(line, "item_id", "");
    if (rc == HS_OK)
        rc = setn(line, "item_order", json_integer((json_int_t)k + 1));
    if (rc == HS_OK && jstr(line, "line_item_id") == NULL) {
        char id[24];
        new_id(o->g, id);
        rc = sets(line, "line_item_id", id);
    }
    if (rc == HS_OK)
        rc = sets(line, "tax_id", lc->tax != NULL ? tax_id : "");
    if (rc == HS_OK)
        rc = sets(line, "tax_name", lc->tax != NULL ? jstr(lc->tax->obj, "tax_name") : "");
    if (rc == HS_OK)
        rc = sets(line, "tax_type", "tax");
    if (rc == HS_OK)
        rc = setn(line, "tax_percentage",
                  lc->tax != NULL ? json_deep_copy(json_object_get(lc->tax->obj, "tax_percentage"))
                                  : json_integer(0));
    return rc;
}

/* Computes the lines and totals of doc (in place) under Zoho's policy. */
static int compute_doc(struct op *o, json_t *doc, const json_t *lines_in, int dec, bool credit,
                       int64_t *out_total)
{
    size_t n = json_array_size(lines_in);
    if (!json_is_array(lines_in) || n == 0)
        return fail(o, 400, 4, "Please add at least one line item.");
    if (n > LINES_MAX)
        return fail(o, 400, 2, "A transaction can have at most %d line items.", LINES_MAX);
    struct line_calc *lc = hs_calloc(n, sizeof *lc);
    struct hs_tax_line *tl = hs_calloc(n, sizeof *tl);
    json_t *lines = json_deep_copy(lines_in);
    int rc = lc != NULL && tl != NULL && lines != NULL ? HS_OK : HS_ENOMEM;
    for (size_t k = 0; rc == HS_OK && k < n; k++)
        rc = compute_line(o, json_array_get(lines, k), k, dec, &lc[k], &tl[k]);
    bool incl = json_is_true(json_object_get(doc, "is_inclusive_tax"));
    struct hs_tax_policy pol = hs_tax_policy_zoho(incl ? HS_TAX_INCLUSIVE : HS_TAX_EXCLUSIVE);
    struct hs_tax_totals tot;
    memset(&tot, 0, sizeof tot);
    struct hs_error err;
    hs_error_clear(&err);
    if (rc == HS_OK) {
        rc = hs_tax_compute(&pol, tl, n, &tot, &err);
        if (rc == HS_ETOOBIG || rc == HS_ERANGE || rc == HS_EINVAL)
            rc = fail(o, 400, 2, "The amounts of this transaction cannot be computed: %s", err.msg);
    }
    for (size_t k = 0; rc == HS_OK && k < n; k++) {
        json_t *line = json_array_get(lines, k);
        rc = setn(line, "item_total", hs_qbo_num(tl[k].amount, dec));
        if (rc == HS_OK)
            rc = setn(line, "line_item_taxes",
                      lc[k].tax != NULL ? json_pack("[{s:s, s:s, s:o}]", "tax_id", lc[k].code.code,
                                                    "tax_name", jstr(lc[k].tax->obj, "tax_name"),
                                                    "tax_amount", hs_qbo_num(tl[k].tax, dec))
                                        : json_array());
    }
    json_t *taxes = rc == HS_OK ? json_array() : NULL;
    for (size_t r = 0; rc == HS_OK && r < tot.n_rates; r++) {
        struct rec *tax = table_get(&o->g->t[E_TAX], tot.rates[r].rate_ref);
        json_t *t = json_pack("{s:s, s:s, s:o}", "tax_id", tot.rates[r].rate_ref, "tax_name",
                              tax != NULL ? jstr(tax->obj, "tax_name") : "", "tax_amount",
                              hs_qbo_num(tot.rates[r].tax, dec));
        if (taxes == NULL || t == NULL || json_array_append_new(taxes, t) != 0)
            rc = HS_ENOMEM;
    }
    /* tax-inclusive documents show the sub-total inclusive of tax, as Zoho's do */
    int64_t sub = incl ? tot.total : tot.subtotal;
    if (rc == HS_OK)
        rc = setn(doc, "line_items", json_incref(lines));
    if (rc == HS_OK)
        rc = setn(doc, "taxes", json_incref(taxes));
    if (rc == HS_OK)
        rc = setn(doc, "sub_total", hs_qbo_num(sub, dec));
    if (rc == HS_OK)
        rc = setn(doc, "tax_total", hs_qbo_num(tot.tax, dec));
    if (rc == HS_OK)
        rc = setn(doc, "total", hs_qbo_num(tot.total, dec));
    if (rc == HS_OK)
        *out_total = tot.total;
    /* credit notes' lines carry tax_percentage as text ("20%"), as their spec has it */
    for (size_t k = 0; rc == HS_OK && credit && k < n; k++) {
        json_t *line = json_array_get(lines, k);
        rc = setn(line, "tax_percentage", pct_text(json_object_get(line, "tax_percentage")));
    }
    json_decref(taxes);
    json_decref(lines);
    hs_free(lc);
    hs_free(tl);
    return rc;
}

/* True when the invoice has payments applied. */
static bool has_payments(const json_t *doc)
{
    int64_t v = 0;
    return hs_qbo_num_get(json_object_get(doc, "payment_made"), HS_QBO_SCALE, &v) == HS_OK && v > 0;
}

static int prepare_doc(struct op *o, int e, const json_t *in, struct rec *old, json_t **out)
{
    bool credit = e == E_CREDITNOTE;
    json_t *d = old != NULL ? json_deep_copy(old->obj) : json_object();
    if (d == NULL || merge(d, in, doc_skip) != HS_OK) {
        json_decref(d);
        return HS_ENOMEM;
    }
    const char *cust_id = NULL, *number = NULL, *date = NULL, *due = NULL;
    int rc = str_field(o, d, "customer_id", &cust_id);
    const char *num_key = credit ? "creditnote_number" : "invoice_number";
    if (rc == HS_OK)
        rc = str_field(o, d, num_key, &number);
    bool auto_num = blank(number);
    if (rc == HS_OK)
        rc = str_field(o, d, "date", &date);
    if (rc == HS_OK && !credit)
        rc = str_field(o, d, "due_date", &due);
    const json_t *incl = json_object_get(d, "is_inclusive_tax");
    if (rc == HS_OK && incl != NULL && !json_is_boolean(incl))
        rc = invalid(o, "is_inclusive_tax");
    struct rec *cust = NULL;
    if (rc == HS_OK && blank(cust_id))
        rc = fail(o, 400, 4, "Please select a customer.");
    else if (rc == HS_OK && (cust = table_get(&o->g->t[E_CONTACT], cust_id)) == NULL)
        rc = invalid(o, "customer_id");
    int64_t days = 0, due_days = 0;
    if (rc == HS_OK && date != NULL && !date_days(date, &days))
        rc = invalid(o, "date");
    if (rc == HS_OK && due != NULL && !date_days(due, &due_days))
        rc = invalid(o, "due_date");
    struct rec *same = NULL;
    if (rc == HS_OK && !auto_num && (same = by_unique(o->g, e, number)) != NULL && same != old)
        rc = fail(o, 400, 1001, "%s number %s has already been created.", defs[e].label, number);
    if (rc != HS_OK || cust == NULL) {
        json_decref(d);
        return rc != HS_OK ? rc : HS_EINVAL;
    }
    if (old != NULL && !hs_str_eq(jstr(old->obj, "customer_id"), jstr(cust->obj, "contact_id")) &&
        has_payments(old->obj)) {
        json_decref(d);
        return fail(o, 400, 2, "The customer of an invoice with payments cannot be changed.");
    }
    const char *cur = jstr(cust->obj, "currency_code");
    int dec = currency_dec(cur);
    struct rec *currency = currency_of(o, jstr(cust->obj, "currency_id"), cur);
    int64_t total = 0;
    const json_t *lines_in = json_object_get(in, "line_items");
    if (lines_in == NULL && old != NULL)
        lines_in = json_object_get(old->obj, "line_items");
    rc = compute_doc(o, d, lines_in, dec, credit, &total);
    int64_t paid = 0, credited = 0;
    if (rc == HS_OK && old != NULL) {
        paid = num0(json_object_get(old->obj, credit ? "credits_used" : "payment_made"), dec);
        if (!credit)
            credited = num0(json_object_get(old->obj, "credits_applied"), dec);
    }
    if (rc == HS_OK && total < paid + credited)
        rc = fail(o, 400, 2, "The total cannot be less than the amount already paid or credited.");
    if (rc == HS_OK)
        rc = sets(d, "customer_id", jstr(cust->obj, "contact_id"));
    if (rc == HS_OK)
        rc = sets(d, "customer_name", jstr(cust->obj, "contact_name"));
    if (rc == HS_OK)
        rc = sets(d, "currency_code", cur);
    if (rc == HS_OK)
        rc = sets(d, "currency_id", currency != NULL ? jstr(currency->obj, "currency_id") : "");
    if (rc == HS_OK && json_object_get(in, "exchange_rate") != NULL) {
        int64_t x;
        bool has;
        rc = num_field(o, in, "exchange_rate", HS_QBO_SCALE, &x, &has);
        if (rc == HS_OK && has && x <= 0)
            rc = invalid(o, "exchange_rate");
        if (rc == HS_OK && has)
            rc = setn(d, "exchange_rate", hs_qbo_num_short(x, HS_QBO_SCALE));
    } else if (rc == HS_OK && json_object_get(d, "exchange_rate") == NULL) {
        rc = setn(d, "exchange_rate",
                  currency != NULL ? json_deep_copy(json_object_get(currency->obj, "exchange_rate"))
                                   : hs_qbo_num(1, 0));
    }
    if (rc == HS_OK && incl == NULL)
        rc = setn(d, "is_inclusive_tax", json_false());
    if (rc == HS_OK && date == NULL) {
        char b[16];
        date_of(o->now_ms, b, sizeof b);
        rc = sets(d, "date", b);
        (void)date_days(b, &days);
    }
    if (rc == HS_OK && !credit && due == NULL && old == NULL) {
        char b[16];
        hs_qbo_days_format(days + DEFAULT_DUE_DAYS, b, sizeof b);
        rc = sets(d, "due_date", b);
    }
    if (rc == HS_OK && auto_num) {
        char b[32];
        if (credit)
            snprintf(b, sizeof b, "CN-%05lld", (long long)o->g->next_cn);
        else
            snprintf(b, sizeof b, "INV-%06lld", (long long)o->g->next_inv);
        rc = sets(d, num_key, b);
    }
    int64_t balance = total - paid - credited;
    if (rc == HS_OK)
        rc = setn(d, "balance", hs_qbo_num(balance, dec));
    if (rc == HS_OK && !credit) {
        rc = setn(d, "payment_made", hs_qbo_num(paid, dec));
        if (rc == HS_OK)
            rc = setn(d, "credits_applied", hs_qbo_num(credited, dec));
    }
    if (rc == HS_OK && credit && old == NULL)
        rc = setn(d, "credits_used", hs_qbo_num(0, dec));
    if (rc == HS_OK)
        rc = custom_fields(o, e, d, in, old);
    const char *status = jstr(d, "status");
    if (rc == HS_OK && old == NULL)
        rc = sets(d, "status", credit ? "open" : "draft");
    else if (rc == HS_OK && !credit && status != NULL && strcmp(status, "void") != 0 &&
             paid + credited > 0)
        rc = sets(d, "status", balance == 0 ? "paid" : "partially_paid");
    if (rc == HS_OK && old == NULL) {
        char id[24];
        new_id(o->g, id);
        rc = sets(d, defs[e].id_field, id);
        if (rc == HS_OK && json_object_get(d, "custom_fields") == NULL)
            rc = setn(d, "custom_fields", json_array());
        if (rc == HS_OK && auto_num) {
            if (credit)
                o->g->next_cn++;
            else
                o->g->next_inv++;
        }
    }
    if (rc != HS_OK) {
        json_decref(d);
        return rc;
    }
    *out = d;
    return HS_OK;
}

/* ---- customer payments ---- */

struct application {
    struct rec *inv;
    int64_t amount;
};

/*
 * Records a customer payment: validated completely (customer, amount, every invoice of that
 * customer with amount_applied up to its balance, their sum up to the amount) before the
 * invoices' payment_made, balance and status change.
 */
static int create_payment(struct op *o, const json_t *in, json_t **out)
{
    const char *cust_id = NULL, *date = NULL, *mode = NULL;
    int rc = str_field(o, in, "customer_id", &cust_id);
    if (rc == HS_OK)
        rc = str_field(o, in, "date", &date);
    if (rc == HS_OK)
        rc = str_field(o, in, "payment_mode", &mode);
    if (rc != HS_OK)
        return rc;
    struct rec *cust = blank(cust_id) ? NULL : table_get(&o->g->t[E_CONTACT], cust_id);
    if (blank(cust_id))
        return fail(o, 400, 4, "Please select a customer.");
    if (cust == NULL)
        return invalid(o, "customer_id");
    const char *cur = jstr(cust->obj, "currency_code");
    int dec = currency_dec(cur);
    int64_t amount = 0, days = 0;
    bool has;
    rc = num_field(o, in, "amount", dec, &amount, &has);
    if (rc != HS_OK)
        return rc;
    if (!has || amount <= 0)
        return fail(o, 400, 4, "Please enter a valid payment amount.");
    if (date != NULL && !date_days(date, &days))
        return invalid(o, "date");
    const json_t *apps = json_object_get(in, "invoices");
    json_t *single = NULL; /* the spec's top-level invoice_id and amount_applied */
    if (apps == NULL && jstr(in, "invoice_id") != NULL) {
        single = json_pack("[{s:O, s:O?}]", "invoice_id", json_object_get(in, "invoice_id"),
                           "amount_applied", json_object_get(in, "amount_applied"));
        if (single == NULL)
            return HS_ENOMEM;
        apps = single;
    }
    if (apps != NULL && !json_is_array(apps))
        return invalid(o, "invoices");
    size_t n = json_array_size(apps);
    struct application *ap = hs_calloc(n ? n : 1, sizeof *ap);
    if (ap == NULL) {
        json_decref(single);
        return HS_ENOMEM;
    }
    int64_t applied = 0;
    for (size_t k = 0; rc == HS_OK && k < n; k++) {
        const json_t *a = json_array_get(apps, k);
        const char *inv_id = jstr(a, "invoice_id");
        bool h2;
        ap[k].inv = inv_id != NULL ? table_get(&o->g->t[E_INVOICE], inv_id) : NULL;
        if (ap[k].inv == NULL) {
            rc = invalid(o, "invoice_id");
            break;
        }
        rc = num_field(o, a, "amount_applied", dec, &ap[k].amount, &h2);
        if (rc != HS_OK)
            break;
        int64_t bal = 0;
        bal = num0(json_object_get(ap[k].inv->obj, "balance"), dec);
        for (size_t j = 0; j < k; j++)
            if (ap[j].inv == ap[k].inv)
                bal -= ap[j].amount;
        const char *st = jstr(ap[k].inv->obj, "status");
        if (!hs_str_eq(jstr(ap[k].inv->obj, "customer_id"), jstr(cust->obj, "contact_id")))
            rc = fail(o, 400, 2, "Invoice %s does not belong to this customer.",
                      jstr(ap[k].inv->obj, "invoice_number"));
        else if (hs_str_eq(st, "void"))
            rc = fail(o, 400, 2, "Payments cannot be recorded for the void invoice %s.",
                      jstr(ap[k].inv->obj, "invoice_number"));
        else if (!h2 || ap[k].amount <= 0)
            rc = invalid(o, "amount_applied");
        else if (ap[k].amount > bal)
            rc = fail(o, 400, 2, "The amount applied to invoice %s is more than its balance due.",
                      jstr(ap[k].inv->obj, "invoice_number"));
        applied += ap[k].amount;
    }
    if (rc == HS_OK && applied > amount)
        rc = fail(o, 400, 2, "The amount applied to invoices is more than the payment amount.");
    char when[16];
    if (date == NULL) {
        date_of(o->now_ms, when, sizeof when);
        date = when;
    }
    json_t *inv_out = rc == HS_OK ? json_array() : NULL;
    /* apply: each invoice's payment_made, balance and status */
    for (size_t k = 0; rc == HS_OK && k < n && ap[k].inv != NULL; k++) {
        json_t *inv = json_deep_copy(ap[k].inv->obj);
        int64_t made = 0, bal = 0, total = 0;
        made = num0(json_object_get(inv, "payment_made"), dec);
        bal = num0(json_object_get(inv, "balance"), dec);
        total = num0(json_object_get(inv, "total"), dec);
        made += ap[k].amount;
        bal -= ap[k].amount;
        rc = inv != NULL ? setn(inv, "payment_made", hs_qbo_num(made, dec)) : HS_ENOMEM;
        if (rc == HS_OK)
            rc = setn(inv, "balance", hs_qbo_num(bal, dec));
        if (rc == HS_OK)
            rc = sets(inv, "status", bal == 0 ? "paid" : "partially_paid");
        if (rc == HS_OK)
            rc = sets(inv, "last_payment_date", date);
        json_t *row =
            rc == HS_OK
                ? json_pack("{s:s, s:s, s:o, s:o, s:o, s:s}", "invoice_id", jstr(inv, "invoice_id"),
                            "invoice_number", jstr(inv, "invoice_number"), "amount_applied",
                            hs_qbo_num(ap[k].amount, dec), "total", hs_qbo_num(total, dec),
                            "balance_amount", hs_qbo_num(bal, dec), "date", jstr(inv, "date"))
                : NULL;
        if (rc == HS_OK && (row == NULL || json_array_append_new(inv_out, row) != 0))
            rc = HS_ENOMEM;
        if (rc == HS_OK)
            rc = store_replace(o, E_INVOICE, ap[k].inv, inv);
        else
            json_decref(inv);
    }
    hs_free(ap);
    json_decref(single);
    if (rc != HS_OK) {
        json_decref(inv_out);
        return rc;
    }
    char id[24];
    new_id(o->g, id);
    struct rec *currency = currency_of(o, jstr(cust->obj, "currency_id"), cur);
    json_t *p = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:o, s:o}", "payment_id", id,
        "payment_number", "", "customer_id", jstr(cust->obj, "contact_id"), "customer_name",
        jstr(cust->obj, "contact_name"), "payment_mode", mode != NULL ? mode : "cash", "date", date,
        "amount", hs_qbo_num(amount, dec), "unused_amount", hs_qbo_num(amount - applied, dec),
        "invoices", inv_out, "currency_code", cur, "currency_id",
        currency != NULL ? jstr(currency->obj, "currency_id") : "", "reference_number",
        jstr(in, "reference_number") != NULL ? jstr(in, "reference_number") : "", "exchange_rate",
        currency != NULL ? json_deep_copy(json_object_get(currency->obj, "exchange_rate"))
                         : hs_qbo_num(1, 0),
        "custom_fields", json_array());
    if (p == NULL)
        return HS_ENOMEM;
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)o->g->next_pay++);
    rc = sets(p, "payment_number", num);
    if (rc == HS_OK && jstr(in, "description") != NULL)
        rc = sets(p, "description", jstr(in, "description"));
    if (rc != HS_OK) {
        json_decref(p);
        return rc;
    }
    *out = p;
    return HS_OK;
}

/* ---- credit notes applied to invoices ---- */

/*
 * Applies credit note r to invoices ({"invoices":[{"invoice_id","amount_applied"}]} or the
 * spec's top-level invoice_id and amount_applied): every invoice the customer's, not void, each
 * amount at most its balance, their sum at most the credit note's balance; then each invoice's
 * credits_applied rises and balance falls (status partially_paid / paid), and the credit note's
 * balance falls (status closed at 0).
 */
static int apply_credits(struct op *o, struct rec *r, const json_t *in)
{
    const json_t *cn = r->obj;
    const char *cur = jstr(cn, "currency_code");
    int dec = currency_dec(cur);
    if (!hs_str_eq(jstr(cn, "status"), "open"))
        return fail(o, 400, 2, "Credits can be applied only from an open credit note.");
    const json_t *apps = json_object_get(in, "invoices");
    json_t *single = NULL;
    if (apps == NULL && jstr(in, "invoice_id") != NULL) {
        single = json_pack("[{s:O, s:O?}]", "invoice_id", json_object_get(in, "invoice_id"),
                           "amount_applied", json_object_get(in, "amount_applied"));
        if (single == NULL)
            return HS_ENOMEM;
        apps = single;
    }
    size_t n = json_array_size(apps);
    if (!json_is_array(apps) || n == 0) {
        json_decref(single);
        return fail(o, 400, 4, "Please select the invoices to apply the credits to.");
    }
    struct application *ap = hs_calloc(n, sizeof *ap);
    if (ap == NULL) {
        json_decref(single);
        return HS_ENOMEM;
    }
    int rc = HS_OK;
    int64_t applied = 0, cn_bal = num0(json_object_get(cn, "balance"), dec);
    for (size_t k = 0; rc == HS_OK && k < n; k++) {
        const json_t *a = json_array_get(apps, k);
        const char *inv_id = jstr(a, "invoice_id");
        bool has;
        ap[k].inv = inv_id != NULL ? table_get(&o->g->t[E_INVOICE], inv_id) : NULL;
        if (ap[k].inv == NULL) {
            rc = invalid(o, "invoice_id");
            break;
        }
        rc = num_field(o, a, "amount_applied", dec, &ap[k].amount, &has);
        if (rc != HS_OK)
            break;
        int64_t bal = num0(json_object_get(ap[k].inv->obj, "balance"), dec);
        for (size_t j = 0; j < k; j++)
            if (ap[j].inv == ap[k].inv)
                bal -= ap[j].amount;
        if (!hs_str_eq(jstr(ap[k].inv->obj, "customer_id"), jstr(cn, "customer_id")) ||
            !hs_str_eq(jstr(ap[k].inv->obj, "currency_code"), cur))
            rc = fail(o, 400, 2, "Invoice %s does not belong to the credit note's customer.",
                      jstr(ap[k].inv->obj, "invoice_number"));
        else if (hs_str_eq(jstr(ap[k].inv->obj, "status"), "void"))
            rc = fail(o, 400, 2, "Credits cannot be applied to the void invoice %s.",
                      jstr(ap[k].inv->obj, "invoice_number"));
        else if (!has || ap[k].amount <= 0)
            rc = invalid(o, "amount_applied");
        else if (ap[k].amount > bal)
            rc = fail(o, 400, 2, "The amount applied to invoice %s is more than its balance due.",
                      jstr(ap[k].inv->obj, "invoice_number"));
        applied += ap[k].amount;
    }
    if (rc == HS_OK && applied > cn_bal)
        rc = fail(o, 400, 2, "The amount applied is more than the credit note's balance.");
    for (size_t k = 0; rc == HS_OK && k < n && ap[k].inv != NULL; k++) {
        json_t *inv = json_deep_copy(ap[k].inv->obj);
        int64_t credited = num0(json_object_get(inv, "credits_applied"), dec) + ap[k].amount;
        int64_t bal = num0(json_object_get(inv, "balance"), dec) - ap[k].amount;
        rc = inv != NULL ? setn(inv, "credits_applied", hs_qbo_num(credited, dec)) : HS_ENOMEM;
        if (rc == HS_OK)
            rc = setn(inv, "balance", hs_qbo_num(bal, dec));
        if (rc == HS_OK)
            rc = sets(inv, "status", bal == 0 ? "paid" : "partially_paid");
        rc = rc == HS_OK ? store_replace(o, E_INVOICE, ap[k].inv, inv) : (json_decref(inv), rc);
    }
    hs_free(ap);
    json_decref(single);
    if (rc != HS_OK)
        return rc;
    json_t *c = json_deep_copy(cn);
    int64_t used = num0(json_object_get(cn, "credits_used"), dec) + applied;
    rc = c != NULL ? setn(c, "balance", hs_qbo_num(cn_bal - applied, dec)) : HS_ENOMEM;
    if (rc == HS_OK)
        rc = setn(c, "credits_used", hs_qbo_num(used, dec));
    if (rc == HS_OK && cn_bal == applied)
        rc = sets(c, "status", "closed");
    return rc == HS_OK ? store_replace(o, E_CREDITNOTE, r, c) : (json_decref(c), rc);
}

/* ---- HTTP plumbing ---- */

static int reply_json(struct hs_http_response *resp, int status, json_t *obj)
{
    if (obj == NULL)
        return HS_ENOMEM;
    resp->status = status;
    hs_buf_reset(&resp->body);
    int rc = hs_qbo_json_dump(obj, &resp->body);
    json_decref(obj);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&resp->headers, "Content-Type", "application/json;charset=UTF-8");
    return rc;
}

/* Zoho's envelope {"code": code, "message": msg} with status. */
static int reply_code(struct hs_http_response *resp, int status, int code, const char *msg)
{
    return reply_json(resp, status, json_pack("{s:i, s:s}", "code", code, "message", msg));
}

/* {"code": 0, "message": msg, key: value} (value stolen). */
static int reply_ok(struct hs_http_response *resp, int status, const char *msg, const char *key,
                    json_t *value)
{
    json_t *b = json_pack("{s:i, s:s}", "code", 0, "message", msg);
    if (b == NULL || value == NULL || json_object_set_new(b, key, value) != 0) {
        if (b == NULL)
            json_decref(value);
        json_decref(b);
        return HS_ENOMEM;
    }
    return reply_json(resp, status, b);
}

static int zoho_unauthorized(void *state, struct hs_http_response *resp, const char *why)
{
    (void)state;
    (void)why;
    return reply_code(resp, 401, 57, "You are not authorized to perform this operation");
}

static int throttled(struct hs_http_response *resp, bool day)
{
    return reply_code(resp, 429, day ? 44 : 45,
                      day ? "You have reached the maximum number of API calls allowed for your "
                            "organization today."
                          : "You have made too many requests continuously. Please try again "
                            "after some time.");
}

static int zoho_throttled(void *state, struct hs_http_response *resp, int retry_after_s)
{
    (void)state;
    (void)retry_after_s; /* Zoho sends no Retry-After */
    return throttled(resp, false);
}

struct call {
    struct op op;
    int64_t day_left;
    bool limited;
};

/* Zoho's daily-limit headers. */
static int limit_headers(struct zoho *z, const struct call *c, struct hs_http_response *resp)
{
    if (!c->limited)
        return HS_OK;
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)z->day_limit);
    int rc = hs_http_headers_set(&resp->headers, "X-Rate-Limit-Limit", b);
    snprintf(b, sizeof b, "%lld", (long long)(c->day_left > 0 ? c->day_left : 0));
    if (rc == HS_OK)
        rc = hs_http_headers_set(&resp->headers, "X-Rate-Limit-Remaining", b);
    return rc;
}

/* The access token of "Zoho-oauthtoken <t>" or "Bearer <t>", as a Bearer header value. */
static bool token_ok(struct zoho *z, const struct hs_http_request *req)
{
    const char *h = hs_http_headers_get(&req->headers, "Authorization");
    static const char zt[] = "Zoho-oauthtoken ";
    if (h != NULL && strncasecmp(h, zt, sizeof zt - 1) == 0) {
        char *b = hs_asprintf("Bearer %s", h + sizeof zt - 1);
        bool ok = b != NULL && hs_sbx_auth_ok(z->sbx, &hs_sbx_zoho_ops, b, NULL);
        hs_free(b);
        return ok;
    }
    return hs_sbx_auth_ok(z->sbx, &hs_sbx_zoho_ops, h, NULL);
}

/*
 * Start of every API call: token, organization_id, limits. Returns 1 when resp holds the answer
 * already, 0 to go on, < 0 on failure.
 */
static int begin(struct zoho *z, const struct hs_http_request *req, struct hs_http_response *resp,
                 struct call *c)
{
    memset(c, 0, sizeof *c);
    if (!token_ok(z, req)) {
        int rc = zoho_unauthorized(z, resp, NULL);
        return rc == HS_OK ? 1 : rc;
    }
    char *oid = hs_http_request_query(req, "organization_id");
    struct org *g = org_find(z, oid);
    int rc = HS_OK;
    if (blank(oid)) {
        rc = reply_code(resp, 400, 6042,
                        "This user belongs to multiple organizations, hence the parameter "
                        "organization_id is required for associating this user to a specific "
                        "organization.");
    } else if (g == NULL) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "This user is not associated with the CompanyID/CompanyName:%.64s.", oid);
        rc = reply_code(resp, 400, 6041, msg);
    }
    hs_free(oid);
    if (rc != HS_OK || g == NULL)
        return rc == HS_OK ? 1 : rc;
    c->day_left = z->day_limit;
    if (hs_sbx_rate_limits_on(z->sbx)) {
        c->limited = true;
        char key[96];
        int64_t retry = 0, min_left = 0;
        /* the minute first: a call refused for the minute does not use up the day */
        snprintf(key, sizeof key, "zoho:%s:min", g->id);
        bool ok = hs_sbx_rate_take(z->sbx, key, z->min_limit, 60000, &min_left, &retry);
        bool day = false;
        snprintf(key, sizeof key, "zoho:%s:day", g->id);
        if (ok) {
            ok = hs_sbx_rate_take(z->sbx, key, z->day_limit, DAY_MS, &c->day_left, &retry);
            day = !ok;
            if (day)
                c->day_left = 0;
        } else {
            /* refused for the minute: the day is untouched, and says what it has left */
            c->day_left = hs_sbx_rate_left(z->sbx, key, z->day_limit, DAY_MS);
        }
        if (!ok) {
            rc = throttled(resp, day);
            if (rc == HS_OK)
                rc = limit_headers(z, c, resp);
            return rc == HS_OK ? 1 : rc;
        }
    }
    c->op.z = z;
    c->op.g = g;
    c->op.now_ms = hs_sbx_now_ms(z->sbx);
    c->op.events = json_array();
    return c->op.events != NULL ? 0 : HS_ENOMEM;
}

static int finish(struct zoho *z, struct call *c, struct hs_http_response *resp, int rc)
{
    if (rc == HS_OK)
        rc = limit_headers(z, c, resp);
    json_decref(c->op.events);
    c->op.events = NULL;
    return rc;
}

/* Emits the call's webhook events (after it succeeded). */
static void emit_events(struct zoho *z, struct call *c)
{
    size_t k;
    json_t *ev;
    json_array_foreach(c->op.events, k, ev)
    {
        hs_sbx_emit(z->sbx, &hs_sbx_zoho_ops, ev);
    }
}

static int ent_by_path(const char *s, bool setting)
{
    for (int e = 0; s != NULL && e < N_ENT; e++)
        if (strcmp(defs[e].path, s) == 0 && ((defs[e].flags & F_SETTING) != 0) == setting)
            return e;
    return -1;
}

static int not_found(struct hs_http_response *resp, int e)
{
    char msg[96];
    snprintf(msg, sizeof msg, "%s does not exist.", e >= 0 ? defs[e].label : "The resource");
    return reply_code(resp, 404, e >= 0 ? 1002 : 5, e >= 0 ? msg : "Invalid URL Passed");
}

/* ---- reads ---- */

struct sort_ctx {
    const struct rec *v;
    int key; /* 0: creation order, 1: last_modified_time, 2: the unique name field */
    int e;
    bool desc;
};

static int cmp_rec(const struct sort_ctx *sc, size_t a, size_t b)
{
    int r = 0;
    if (sc->key == 1)
        r = sc->v[a].updated_ms < sc->v[b].updated_ms ? -1
                                                      : sc->v[a].updated_ms > sc->v[b].updated_ms;
    else if (sc->key == 2)
        r = strcasecmp(
            jstr(sc->v[a].obj, defs[sc->e].unique) ? jstr(sc->v[a].obj, defs[sc->e].unique) : "",
            jstr(sc->v[b].obj, defs[sc->e].unique) ? jstr(sc->v[b].obj, defs[sc->e].unique) : "");
    if (r == 0)
        r = a < b ? -1 : a > b;
    return sc->desc ? -r : r;
}

static void sort_idx(size_t *idx, size_t n, const struct sort_ctx *sc)
{
    size_t *tmp = hs_calloc(n ? n : 1, sizeof *tmp);
    if (tmp == NULL)
        return; /* leave the creation order */
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi)
                tmp[k++] = cmp_rec(sc, idx[b], idx[a]) < 0 ? idx[b++] : idx[a++];
            while (a < mid)
                tmp[k++] = idx[a++];
            while (b < hi)
                tmp[k++] = idx[b++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
    hs_free(tmp);
}

static bool parse_pos(const char *s, int64_t *out)
{
    return s != NULL && hs_str_to_i64(s, strlen(s), out) == HS_OK && *out >= 1;
}

/* Members left out of list answers, as Zoho's lists leave them out. */
static bool list_skips(int e, const char *key)
{
    if (e == E_CONTACT)
        return strcmp(key, "contact_persons") == 0 || strcmp(key, "custom_fields") == 0;
    if (e == E_INVOICE || e == E_CREDITNOTE)
        return strcmp(key, "line_items") == 0 || strcmp(key, "taxes") == 0;
    return false;
}

static int list(struct zoho *z, struct call *c, int e, const struct hs_http_request *req,
                struct hs_http_response *resp)
{
    (void)z;
    struct table *t = &c->op.g->t[e];
    char *page_s = hs_http_request_query(req, "page");
    char *per_s = hs_http_request_query(req, "per_page");
    char *lmt = (defs[e].flags & F_LMT) ? hs_http_request_query(req, "last_modified_time") : NULL;
    char *sort = hs_http_request_query(req, "sort_column");
    char *order = hs_http_request_query(req, "sort_order");
    char *cust = e == E_INVOICE || e == E_CREDITNOTE || e == E_PAYMENT
                     ? hs_http_request_query(req, "customer_id")
                     : NULL;
    char *status =
        e == E_INVOICE || e == E_CREDITNOTE ? hs_http_request_query(req, "status") : NULL;
    int64_t page = 1, per = PER_PAGE_MAX, since = 0;
    size_t *idx = NULL;
    json_t *arr = NULL;
    int rc = HS_OK;
    struct sort_ctx sc = {t->v, 0, e, false};
    if (page_s != NULL && !parse_pos(page_s, &page)) {
        rc = reply_code(resp, 400, 2, "Invalid value passed for page");
        goto done;
    }
    if (per_s != NULL && (!parse_pos(per_s, &per) || per > PER_PAGE_MAX)) {
        rc = reply_code(resp, 400, 2, "Invalid value passed for per_page");
        goto done;
    }
    if (lmt != NULL && !hs_zoho_time_parse(lmt, &since)) {
        rc = reply_code(resp, 400, 2, "Invalid value passed for last_modified_time");
        goto done;
    }
    if (sort != NULL && sort[0] != '\0') {
        if (strcmp(sort, "last_modified_time") == 0)
            sc.key = 1;
        else if (strcmp(sort, "created_time") == 0)
            sc.key = 0;
        else if (defs[e].unique != NULL && strcmp(sort, defs[e].unique) == 0)
            sc.key = 2;
        else {
            rc = reply_code(resp, 400, 2, "Invalid value passed for sort_column");
            goto done;
        }
    }
    if (order != NULL && strcmp(order, "D") != 0 && strcmp(order, "A") != 0) {
        rc = reply_code(resp, 400, 2, "Invalid value passed for sort_order");
        goto done;
    }
    sc.desc = order != NULL && strcmp(order, "D") == 0;
    idx = hs_calloc(t->n ? t->n : 1, sizeof *idx);
    if (idx == NULL) {
        rc = HS_ENOMEM;
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        const json_t *o = t->v[i].obj;
        if (lmt != NULL && t->v[i].updated_ms < since)
            continue;
        if (cust != NULL && !hs_str_eq(jstr(o, "customer_id"), cust))
            continue;
        if (status != NULL && !hs_str_eq(jstr(o, "status"), status))
            continue;
        idx[n++] = i;
    }
    if (sc.key != 0 || sc.desc)
        sort_idx(idx, n, &sc);
    size_t from = (size_t)((page - 1) * per);
    if (from > n)
        from = n;
    size_t to = from + (size_t)per < n ? from + (size_t)per : n;
    arr = json_array();
    for (size_t k = from; arr != NULL && k < to; k++) {
        json_t *item = json_object();
        const char *key;
        json_t *v;
        json_object_foreach(t->v[idx[k]].obj, key, v)
        {
            if (item != NULL && !list_skips(e, key) && json_object_set(item, key, v) != 0)
                HS_FREE(item);
        }
        if (item == NULL || json_array_append_new(arr, item) != 0) {
            rc = HS_ENOMEM;
            goto done;
        }
    }
    json_t *b = json_pack("{s:i, s:s}", "code", 0, "message", "success");
    json_t *pc = json_pack("{s:I, s:I, s:b, s:s, s:s, s:s}", "page", (json_int_t)page, "per_page",
                           (json_int_t)per, "has_more_page", to < n, "report_name", defs[e].label,
                           "sort_column",
                           sc.key == 1   ? "last_modified_time"
                           : sc.key == 2 ? defs[e].unique
                                         : "created_time",
                           "sort_order", sc.desc ? "D" : "A");
    if (b == NULL || pc == NULL || arr == NULL || json_object_set_new(b, defs[e].path, arr) != 0) {
        json_decref(b);
        json_decref(pc);
        rc = HS_ENOMEM;
        goto done;
    }
    arr = NULL;
    if (json_object_set_new(b, "page_context", pc) != 0) {
        json_decref(b);
        rc = HS_ENOMEM;
        goto done;
    }
    rc = reply_json(resp, 200, b);
done:
    json_decref(arr);
    hs_free(idx);
    hs_free(page_s);
    hs_free(per_s);
    hs_free(lmt);
    hs_free(sort);
    hs_free(order);
    hs_free(cust);
    hs_free(status);
    return rc;
}

static json_t *organization(const struct org *g, bool is_default)
{
    char created[16];
    date_of(g->created_ms, created, sizeof created);
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:i, s:s, s:s, s:s, s:b, s:s, s:s, s:s, "
                     "s:s, s:i, s:s, s:s}",
                     "organization_id", g->id, "name", g->name, "contact_name", "Sandbox Admin",
                     "email", "admin@sandbox.invalid", "is_default_org", is_default,
                     "language_code", "en", "fiscal_year_start_month", 0, "account_created_date",
                     created, "time_zone", "Etc/UTC", "date_format", "yyyy-MM-dd", "is_org_active",
                     1, "currency_id", "", "currency_code", BASE_CURRENCY, "currency_symbol", "$",
                     "currency_format", "###,##0.00", "price_precision", 2, "version", "global",
                     "plan_name", "PROFESSIONAL");
}

static int org_json_set_currency(struct org *g, json_t *o)
{
    struct rec *cur = by_unique(g, E_CURRENCY, BASE_CURRENCY);
    return cur != NULL ? sets(o, "currency_id", jstr(cur->obj, "currency_id")) : HS_OK;
}

static int h_orgs(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                  struct hs_http_response *resp)
{
    struct zoho *z = ud;
    if (!token_ok(z, req))
        return zoho_unauthorized(z, resp, NULL);
    const char *id = hs_route_param(m, "id");
    if (id != NULL) {
        struct org *g = org_find(z, id);
        if (g == NULL)
            return reply_code(resp, 404, 1002, "Organization does not exist.");
        json_t *o = organization(g, g == z->orgs[0]);
        if (o != NULL && org_json_set_currency(g, o) != HS_OK)
            HS_FREE(o);
        return reply_ok(resp, 200, "success", "organization", o);
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < z->n_orgs; i++) {
        json_t *o = organization(z->orgs[i], i == 0);
        if (o == NULL || org_json_set_currency(z->orgs[i], o) != HS_OK ||
            json_array_append_new(arr, o) != 0) {
            json_decref(o);
            HS_FREE(arr);
        }
    }
    return reply_ok(resp, 200, "success", "organizations", arr);
}

static int h_list(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                  struct hs_http_response *resp)
{
    struct zoho *z = ud;
    struct call c;
    int rc = begin(z, req, resp, &c);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    const char *set = hs_route_param(m, "setting");
    int e = ent_by_path(set != NULL ? set : hs_route_param(m, "entity"), set != NULL);
    rc = e < 0 ? not_found(resp, -1) : list(z, &c, e, req, resp);
    return finish(z, &c, resp, rc);
}

static int h_get(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                 struct hs_http_response *resp)
{
    struct zoho *z = ud;
    struct call c;
    int rc = begin(z, req, resp, &c);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    const char *set = hs_route_param(m, "setting");
    int e = ent_by_path(set != NULL ? set : hs_route_param(m, "entity"), set != NULL);
    struct rec *r = e >= 0 ? table_get(&c.op.g->t[e], hs_route_param(m, "id")) : NULL;
    if (r == NULL)
        rc = not_found(resp, e);
    else
        rc = reply_ok(resp, 200, "success", defs[e].one, json_incref(r->obj));
    return finish(z, &c, resp, rc);
}

static int h_persons(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                     struct hs_http_response *resp)
{
    struct zoho *z = ud;
    struct call c;
    int rc = begin(z, req, resp, &c);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    struct rec *r = table_get(&c.op.g->t[E_CONTACT], hs_route_param(m, "id"));
    if (r == NULL) {
        rc = not_found(resp, E_CONTACT);
    } else {
        json_t *persons = json_deep_copy(json_object_get(r->obj, "contact_persons"));
        size_t n = json_array_size(persons);
        json_t *b = json_pack("{s:i, s:s, s:o, s:{s:i, s:I, s:b, s:s}}", "code", 0, "message",
                              "success", "contact_persons", persons, "page_context", "page", 1,
                              "per_page", (json_int_t)(n > PER_PAGE_MAX ? n : PER_PAGE_MAX),
                              "has_more_page", 0, "report_name", "Contact Persons");
        rc = reply_json(resp, 200, b);
    }
    return finish(z, &c, resp, rc);
}

/* ---- writes ---- */

static int prepare(struct op *o, int e, const json_t *in, struct rec *old, json_t **out)
{
    switch (e) {
    case E_CONTACT:
        return prepare_contact(o, in, old, out);
    case E_ITEM:
        return prepare_item(o, in, old, out);
    case E_INVOICE:
    case E_CREDITNOTE:
        return prepare_doc(o, e, in, old, out);
    case E_PAYMENT:
        if (old != NULL)
            return fail(o, 400, 2, "Payments cannot be edited in the sandbox.");
        return create_payment(o, in, out);
    default:
        return fail(o, 405, 37, "The HTTP method is not allowed for the requested resource");
    }
}

/* Parses the JSON body (a JSONString form field is accepted too, as Zoho accepts it). */
static int parse_body(const struct hs_http_request *req, json_t **out)
{
    struct hs_error err;
    hs_error_clear(&err);
    const char *data = req->body.data != NULL ? req->body.data : "";
    size_t len = req->body.len;
    char *form = NULL;
    if (len > 11 && strncmp(data, "JSONString=", 11) == 0) {
        char *copy = hs_strndup(data, len);
        form = copy != NULL ? hs_str_form_get(copy, "JSONString", NULL) : NULL;
        hs_free(copy);
        if (form != NULL) {
            data = form;
            len = strlen(form);
        }
    }
    int rc = hs_qbo_json_parse((const uint8_t *)data, len, out, &err);
    hs_free(form);
    if (rc == HS_OK && !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        rc = HS_EPROTO;
    }
    return rc;
}

/* ---- contact persons as their own resource (the spec's contact-persons.yml) ---- */

/* The contact holding person pid (and its index there), or NULL. contact_id, when given,
 * must be that contact. */
static struct rec *person_contact(struct org *g, const char *contact_id, const char *pid,
                                  size_t *idx)
{
    struct table *t = &g->t[E_CONTACT];
    for (size_t i = 0; pid != NULL && i < t->n; i++) {
        const json_t *persons = json_object_get(t->v[i].obj, "contact_persons");
        size_t k;
        json_t *p;
        json_array_foreach(persons, k, p)
        {
            if (hs_str_eq(jstr(p, "contact_person_id"), pid) &&
                (blank(contact_id) || hs_str_eq(jstr(t->v[i].obj, "contact_id"), contact_id))) {
                *idx = k;
                return &t->v[i];
            }
        }
    }
    return NULL;
}

/* The contact's persons as a contact_persons list that keeps every one of them (by id) */
static json_t *persons_kept(const struct rec *contact)
{
    json_t *out = json_array();
    size_t k;
    json_t *p;
    json_array_foreach(json_object_get(contact->obj, "contact_persons"), k, p)
    {
        json_t *one = json_pack("{s:s}", "contact_person_id", jstr(p, "contact_person_id"));
        if (out == NULL || one == NULL || json_array_append_new(out, one) != 0) {
            json_decref(one);
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* Stores contact with its persons list replaced by list (taken), through the contact rules
 * (validation, one primary person, the contact mirroring it). *out: the stored contact. */
static int persons_store(struct op *o, struct rec *contact, json_t *list, const json_t **out)
{
    json_t *in = list != NULL ? json_pack("{s:o}", "contact_persons", list) : NULL;
    json_t *rec = NULL;
    int rc = in != NULL ? prepare_contact(o, in, contact, &rec) : HS_ENOMEM;
    json_decref(in);
    if (rc == HS_OK)
        rc = store_replace(o, E_CONTACT, contact, rec);
    else
        json_decref(rec);
    if (rc == HS_OK)
        *out = contact->obj;
    return rc;
}

/* {"contact_person": [<person with its contact_id>]}, as the spec answers a create or update */
static int reply_person(struct hs_http_response *resp, int status, const char *msg,
                        const json_t *contact, const char *pid)
{
    size_t k;
    json_t *p;
    json_array_foreach(json_object_get(contact, "contact_persons"), k, p)
    {
        if (!hs_str_eq(jstr(p, "contact_person_id"), pid))
            continue;
        json_t *one = json_deep_copy(p);
        if (one == NULL || sets(one, "contact_id", jstr(contact, "contact_id")) != HS_OK) {
            json_decref(one);
            return HS_ENOMEM;
        }
        return reply_ok(resp, status, msg, "contact_person", json_pack("[o]", one));
    }
    return reply_code(resp, 404, 1002, "Contact person does not exist.");
}

/* The person fields of a request body: every member but the contact's id. */
static json_t *person_body(const json_t *body)
{
    json_t *p = json_deep_copy(body);
    if (p != NULL)
        json_object_del(p, "contact_id");
    return p;
}

/*
 * POST /contacts/contactpersons (create one person of body.contact_id), PUT
 * /contacts/contactpersons/{id} (update that person: only the fields sent), DELETE
 * /contacts/contactpersons/{id}, POST /contacts/contactpersons/{id}/primary. Each touches that
 * one person: the contact's other persons are kept as they are (unlike a contact_persons list
 * sent with the contact, which replaces them).
 */
static int person_request(struct zoho *z, const struct hs_http_request *req,
                          const struct hs_route_match *m, struct hs_http_response *resp,
                          const char *what)
{
    struct call c;
    int rc = begin(z, req, resp, &c);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    const char *pid = hs_route_param(m, "id");
    json_t *body = NULL;
    bool has_body = strcmp(what, "create") == 0 || strcmp(what, "update") == 0;
    if (has_body) {
        rc = parse_body(req, &body);
        if (rc == HS_ENOMEM)
            return finish(z, &c, resp, rc);
        if (rc != HS_OK)
            return finish(z, &c, resp, reply_code(resp, 400, 1038, "JSON is not well formed"));
    }
    const char *cid = jstr(body, "contact_id");
    const char *first = jstr(body, "first_name");
    struct rec *contact = NULL;
    size_t idx = 0;
    if (has_body && blank(cid)) {
        rc = reply_code(resp, 400, 4, "Please select a contact.");
    } else if (has_body && (pid == NULL || json_object_get(body, "first_name") != NULL) &&
               blank(first)) {
        /* a new person needs a first name (both spec files); an update may leave it out
         * (contacts.yml requires nothing, contact-persons.yml lists it as required: the
         * sandbox takes the lenient reading, as Zoho's updates are partial) but not blank it */
        rc = reply_code(resp, 400, 4, "Please enter the first name of the contact person.");
    } else if (pid == NULL) {
        contact = table_get(&c.op.g->t[E_CONTACT], cid);
        if (contact == NULL)
            rc = not_found(resp, E_CONTACT);
    } else if ((contact = person_contact(c.op.g, cid, pid, &idx)) == NULL) {
        rc = reply_code(resp, 404, 1002, "Contact person does not exist.");
    }
    if (rc != HS_OK || contact == NULL) {
        json_decref(body);
        return finish(z, &c, resp, rc);
    }
    json_t *list = persons_kept(contact);
    json_t *one = NULL;
    rc = list != NULL ? HS_OK : HS_ENOMEM;
    if (rc == HS_OK && strcmp(what, "create") == 0) {
        one = person_body(body);
        rc = one != NULL && json_array_append_new(list, one) == 0 ? HS_OK : HS_ENOMEM;
    } else if (rc == HS_OK && strcmp(what, "update") == 0) {
        one = person_body(body);
        rc = one != NULL && sets(one, "contact_person_id", pid) == HS_OK &&
                     json_array_set_new(list, idx, one) == 0
                 ? HS_OK
                 : HS_ENOMEM;
    } else if (rc == HS_OK && strcmp(what, "delete") == 0) {
        rc = json_array_remove(list, idx) == 0 ? HS_OK : HS_ENOMEM;
    }
    /* one primary person: the one marked now, the others unmarked */
    bool mark = strcmp(what, "primary") == 0 ||
                (rc == HS_OK && json_is_true(json_object_get(body, "is_primary_contact")));
    size_t k;
    json_t *p;
    json_array_foreach(mark ? list : NULL, k, p)
    {
        if (rc == HS_OK && strcmp(what, "create") != 0)
            rc = setn(p, "is_primary_contact",
                      json_boolean(hs_str_eq(jstr(p, "contact_person_id"), pid)));
        else if (rc == HS_OK)
            rc = setn(p, "is_primary_contact", json_boolean(k + 1 == json_array_size(list)));
    }
    json_decref(body);
    const json_t *stored = NULL;
    char made[24] = "";
    if (rc == HS_OK) {
        rc = persons_store(&c.op, contact, list, &stored);
        list = NULL;
    } else {
        json_decref(list);
    }
    if (rc == HS_EINVAL)
        return finish(z, &c, resp, reply_code(resp, c.op.status, c.op.code, c.op.msg));
    if (rc == HS_OK && strcmp(what, "create") == 0) {
        const json_t *all = json_object_get(stored, "contact_persons");
        snprintf(made, sizeof made, "%s",
                 jstr(json_array_get(all, json_array_size(all) - 1), "contact_person_id"));
        pid = made;
    }
    if (rc == HS_OK && strcmp(what, "create") == 0)
        rc = reply_person(resp, 201, "The contactperson has been Created", stored, pid);
    else if (rc == HS_OK && strcmp(what, "update") == 0)
        rc = reply_person(resp, 200, "The contactperson details has been updated.", stored, pid);
    else if (rc == HS_OK && strcmp(what, "delete") == 0)
        rc = reply_code(resp, 200, 0, "The contact person has been deleted.");
    else if (rc == HS_OK)
        rc = reply_code(resp, 200, 0,
                        "This contact person has been marked as your primary contact person.");
    if (rc == HS_OK)
        emit_events(z, &c);
    return finish(z, &c, resp, rc);
}

static int h_person_create(void *ud, const struct hs_http_request *req,
                           const struct hs_route_match *m, struct hs_http_response *resp)
{
    return person_request(ud, req, m, resp, "create");
}

static int h_person_update(void *ud, const struct hs_http_request *req,
                           const struct hs_route_match *m, struct hs_http_response *resp)
{
    return person_request(ud, req, m, resp, "update");
}

static int h_person_delete(void *ud, const struct hs_http_request *req,
                           const struct hs_route_match *m, struct hs_http_response *resp)
{
    return person_request(ud, req, m, resp, "delete");
}

static int h_person_primary(void *ud, const struct hs_http_request *req,
                            const struct hs_route_match *m, struct hs_http_response *resp)
{
    return person_request(ud, req, m, resp, "primary");
}

/* GET /contacts/{contact_id}/contactpersons/{id} */
static int h_person_get(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                        struct hs_http_response *resp)
{
    struct zoho *z = ud;
    struct call c;
    int rc = begin(z, req, resp, &c);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    size_t idx = 0;
    const char *cid = hs_route_param(m, "contact");
    struct rec *r = person_contact(c.op.g, cid, hs_route_param(m, "id"), &idx);
    if (r == NULL) {
        rc = reply_code(resp, 404, 1002, "Contact person does not exist.");
    } else {
        json_t *one =
            json_deep_copy(json_array_get(json_object_get(r->obj, "contact_persons"), idx));
        rc = one != NULL ? sets(one, "contact_id", cid) : HS_ENOMEM;
        rc = rc == HS_OK ? reply_ok(resp, 200, "success", "contact_person", one)
                         : (json_decref(one), rc);
    }
    return finish(z, &c, resp, rc);
}

/*
 * One write: POST /{entity} creates, PUT /{entity}/{id} updates, PUT /{entity} with
 * X-Unique-Identifier-Key/-Value updates the record with that unique custom field value (or,
 * with X-Upsert: true, creates it when there is none).
 */
static int write_request(struct zoho *z, const struct hs_http_request *req,
                         const struct hs_route_match *m, struct hs_http_response *resp, bool put)
{
    struct call c;
    int rc = begin(z, req, resp, &c);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    int e = ent_by_path(hs_route_param(m, "entity"), false);
    const char *path_id = hs_route_param(m, "id");
    if (e < 0 || !(defs[e].flags & F_WRITE) ||
        (put && path_id == NULL && !(defs[e].flags & F_UPSERT))) {
        rc = e < 0 ? not_found(resp, -1)
                   : reply_code(resp, 405, 37,
                                "The HTTP method is not allowed for the requested resource");
        return finish(z, &c, resp, rc);
    }
    json_t *body = NULL;
    rc = parse_body(req, &body);
    if (rc == HS_ENOMEM)
        return finish(z, &c, resp, rc);
    if (rc != HS_OK)
        return finish(z, &c, resp, reply_code(resp, 400, 1038, "JSON is not well formed"));
    struct rec *old = NULL;
    bool create = !put;
    if (put && path_id != NULL) {
        old = table_get(&c.op.g->t[e], path_id);
        if (old == NULL) {
            json_decref(body);
            return finish(z, &c, resp, not_found(resp, e));
        }
    } else if (put) {
        const char *key = hs_http_headers_get(&req->headers, "X-Unique-Identifier-Key");
        const char *val = hs_http_headers_get(&req->headers, "X-Unique-Identifier-Value");
        const char *ups = hs_http_headers_get(&req->headers, "X-Upsert");
        long k = -1;
        for (size_t i = 0; key != NULL && i < N_CF; i++)
            if (strcmp(cfdefs[i].api_name, key) == 0)
                k = (long)i;
        if (blank(key) || blank(val)) {
            rc = reply_code(resp, 400, 4,
                            "Please send the X-Unique-Identifier-Key and X-Unique-Identifier-Value "
                            "headers.");
        } else if (k < 0 || !cfdefs[k].unique) {
            rc = reply_code(resp, 400, 2,
                            "Invalid value passed for X-Unique-Identifier-Key: the custom field "
                            "does not exist or accepts duplicate values");
        } else {
            old = by_cf(c.op.g, e, key, val);
            if (old == NULL && ups != NULL && hs_str_ieq(ups, "true"))
                create = true;
            else if (old == NULL)
                rc = not_found(resp, e);
        }
        if (rc != HS_OK || (old == NULL && !create)) {
            json_decref(body);
            return finish(z, &c, resp, rc);
        }
        /* the record carries the identifying value, whatever the body says */
        json_t *cfs = json_object_get(body, "custom_fields");
        json_t *pair = json_pack("{s:s, s:s}", "api_name", key, "value", val);
        if (pair == NULL ||
            (!json_is_array(cfs) &&
             json_object_set_new(body, "custom_fields", cfs = json_array()) != 0) ||
            json_array_append_new(cfs, pair) != 0) {
            json_decref(body);
            return finish(z, &c, resp, HS_ENOMEM);
        }
    }
    json_t *rec = NULL;
    rc = prepare(&c.op, e, body, old, &rec);
    json_decref(body);
    if (rc == HS_EINVAL)
        return finish(z, &c, resp, reply_code(resp, c.op.status, c.op.code, c.op.msg));
    if (rc == HS_OK)
        rc = old != NULL ? store_replace(&c.op, e, old, json_incref(rec))
                         : store_add(&c.op, e, json_incref(rec), NULL);
    if (rc == HS_OK) {
        /* PUT answers 200 also when X-Upsert created the record (the only status Zoho's spec
         * gives the upsert) */
        rc = reply_ok(resp, old != NULL || put ? 200 : 201,
                      old != NULL ? defs[e].saved : defs[e].added, defs[e].one, rec);
        rec = NULL;
        if (rc == HS_OK)
            emit_events(z, &c);
    }
    json_decref(rec);
    return finish(z, &c, resp, rc);
}

static int h_post(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                  struct hs_http_response *resp)
{
    return write_request(ud, req, m, resp, false);
}

static int h_put(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                 struct hs_http_response *resp)
{
    return write_request(ud, req, m, resp, true);
}

/* POST /invoices/{id}/status/{sent|void} */
static int h_status(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                    struct hs_http_response *resp)
{
    struct zoho *z = ud;
    struct call c;
    int rc = begin(z, req, resp, &c);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    const char *st = hs_route_param(m, "status");
    struct rec *r = table_get(&c.op.g->t[E_INVOICE], hs_route_param(m, "id"));
    const char *cur = r != NULL ? jstr(r->obj, "status") : NULL;
    if (r == NULL) {
        rc = not_found(resp, E_INVOICE);
    } else if (strcmp(st, "sent") != 0 && strcmp(st, "void") != 0) {
        rc = not_found(resp, -1);
    } else if (strcmp(st, "void") == 0 && has_payments(r->obj)) {
        rc = reply_code(resp, 400, 2,
                        "Invoices with payments cannot be voided. Delete the payments first.");
    } else if (strcmp(st, "sent") == 0 && !hs_str_eq(cur, "draft")) {
        rc = reply_code(resp, 400, 2, "Only draft invoices can be marked as sent.");
    } else {
        /* a shallow copy: only top-level members change, and stored records are never
         * changed in place (each write stores a new object), so sharing the rest is safe */
        json_t *inv = json_copy(r->obj);
        rc = inv != NULL ? sets(inv, "status", st) : HS_ENOMEM;
        if (rc == HS_OK && strcmp(st, "void") == 0)
            rc = setn(inv, "balance", hs_qbo_num(0, currency_dec(jstr(inv, "currency_code"))));
        rc = rc == HS_OK ? store_replace(&c.op, E_INVOICE, r, inv) : (json_decref(inv), rc);
        if (rc == HS_OK)
            rc = reply_code(resp, 200, 0,
                            strcmp(st, "void") == 0 ? "Invoice status has been changed to Void."
                                                    : "Invoice status has been changed to Sent.");
        if (rc == HS_OK)
            emit_events(z, &c);
    }
    return finish(z, &c, resp, rc);
}

/* POST /creditnotes/{id}/invoices */
static int h_credit_apply(void *ud, const struct hs_http_request *req,
                          const struct hs_route_match *m, struct hs_http_response *resp)
{
    struct zoho *z = ud;
    struct call c;
    int rc = begin(z, req, resp, &c);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    struct rec *r = table_get(&c.op.g->t[E_CREDITNOTE], hs_route_param(m, "id"));
    json_t *body = NULL;
    if (r == NULL)
        return finish(z, &c, resp, not_found(resp, E_CREDITNOTE));
    rc = parse_body(req, &body);
    if (rc == HS_ENOMEM)
        return finish(z, &c, resp, rc);
    if (rc != HS_OK)
        return finish(z, &c, resp, reply_code(resp, 400, 1038, "JSON is not well formed"));
    rc = apply_credits(&c.op, r, body);
    json_decref(body);
    if (rc == HS_EINVAL)
        rc = reply_code(resp, c.op.status, c.op.code, c.op.msg);
    else if (rc == HS_OK) {
        rc = reply_code(resp, 200, 0, "Credits have been applied to the invoice(s).");
        if (rc == HS_OK)
            emit_events(z, &c);
    }
    return finish(z, &c, resp, rc);
}

/* ---- OAuth: Zoho Accounts of the data center ---- */

/* "http://host:port" of this request (the sandbox serves every data center). */
static void base_url(const struct hs_http_request *req, char *out, size_t size)
{
    const char *host = hs_http_headers_get(&req->headers, "Host");
    snprintf(out, size, "http://%s", !blank(host) ? host : "127.0.0.1");
}

/* Data centers: the `dc` parameter of the authorization request and Zoho's location names. */
static const char *dc_location(const char *dc)
{
    static const char *const map[][2] = {{"com", "us"},    {"eu", "eu"}, {"in", "in"},
                                         {"com.au", "au"}, {"jp", "jp"}, {"ca", "ca"},
                                         {"com.cn", "cn"}, {"sa", "sa"}, {"uk", "uk"}};
    for (size_t i = 0; dc != NULL && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i][0], dc) == 0 || strcmp(map[i][1], dc) == 0)
            return map[i][1];
    return dc == NULL ? "us" : NULL;
}

/* A consent with access_type=offline: its code (from the redirect's query) is remembered. */
static int remember_offline(struct zoho *z, const struct hs_http_request *req, const char *where)
{
    char *type = hs_http_request_query(req, "access_type");
    bool offline = type != NULL && strcmp(type, "offline") == 0;
    hs_free(type);
    const char *q = strchr(where, '?');
    char *code = offline && q != NULL ? hs_str_form_get(q + 1, "code", NULL) : NULL;
    if (!offline || code == NULL)
        return HS_OK;
    char **v = hs_reallocarray(z->offline_codes, z->n_offline + 1, sizeof *v);
    if (v == NULL) {
        hs_free(code);
        return HS_ENOMEM;
    }
    z->offline_codes = v;
    z->offline_codes[z->n_offline++] = code;
    return HS_OK;
}

/* True (and forgotten) when code was consented offline. */
static bool take_offline(struct zoho *z, const char *code)
{
    for (size_t i = 0; code != NULL && i < z->n_offline; i++) {
        if (strcmp(z->offline_codes[i], code) == 0) {
            hs_free(z->offline_codes[i]);
            z->offline_codes[i] = z->offline_codes[--z->n_offline];
            return true;
        }
    }
    return false;
}

static int h_authorize(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                       struct hs_http_response *resp)
{
    struct zoho *z = ud;
    (void)m;
    char *dc = hs_http_request_query(req, "dc");
    const char *loc = dc_location(dc);
    hs_free(dc);
    if (loc == NULL)
        return reply_code(resp, 400, 2, "Invalid value passed for dc");
    int rc = hs_sbx_oauth_authorize(z->sbx, &hs_sbx_zoho_ops, NULL, req, resp);
    const char *where = hs_http_headers_get(&resp->headers, "Location");
    if (rc != HS_OK || resp->status != 302 || where == NULL || strstr(where, "code=") == NULL)
        return rc;
    rc = remember_offline(z, req, where);
    if (rc != HS_OK)
        return rc;
    /* Zoho names the data center of the account: location and accounts-server */
    char base[256];
    base_url(req, base, sizeof base);
    struct hs_buf enc;
    hs_buf_init(&enc);
    for (const char *p = base; *p; p++) {
        char b[4] = {*p, 0, 0, 0};
        if (*p == ':' || *p == '/')
            snprintf(b, sizeof b, "%%%02X", (unsigned char)*p);
        if (hs_buf_puts(&enc, b) != HS_OK) {
            hs_buf_release(&enc);
            return HS_ENOMEM;
        }
    }
    char *loc_hdr = hs_asprintf("%s&location=%s&accounts-server=%.*s%%2Fzohobooks%%2Faccounts",
                                where, loc, (int)enc.len, enc.data != NULL ? enc.data : "");
    hs_buf_release(&enc);
    rc = loc_hdr != NULL ? hs_http_headers_set(&resp->headers, "Location", loc_hdr) : HS_ENOMEM;
    hs_free(loc_hdr);
    return rc;
}

static int h_token(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                   struct hs_http_response *resp)
{
    struct zoho *z = ud;
    (void)m;
    static const struct hs_sbx_oauth_profile profile = {
        .access_ttl_s = 3600,
        .refresh_ttl_s = 0,
        .rotate_refresh = false,
    };
    int rc = hs_sbx_oauth_token(z->sbx, &hs_sbx_zoho_ops, &profile, req, resp);
    if (rc != HS_OK || resp->status != 200)
        return rc;
    json_t *b = json_loadb(resp->body.data, resp->body.len, 0, NULL);
    if (b == NULL)
        return HS_OK;
    /* api_domain: where this data center's APIs live; a refresh answers no refresh_token */
    char base[256], *body = hs_strndup(req->body.data != NULL ? req->body.data : "", req->body.len);
    base_url(req, base, sizeof base);
    char *api = hs_asprintf("%s/zohobooks", base);
    char *grant = body != NULL ? hs_str_form_get(body, "grant_type", NULL) : NULL;
    if (grant == NULL && req->query != NULL)
        grant = hs_str_form_get(req->query, "grant_type", NULL);
    rc = api != NULL && body != NULL ? sets(b, "api_domain", api) : HS_ENOMEM;
    if (rc == HS_OK)
        rc = sets(b, "token_type", "Bearer");
    if (rc == HS_OK && grant != NULL && strcmp(grant, "refresh_token") == 0)
        json_object_del(b, "refresh_token");
    if (rc == HS_OK && grant != NULL && strcmp(grant, "authorization_code") == 0) {
        char *code = hs_str_form_get(body, "code", NULL);
        if (code == NULL && req->query != NULL)
            code = hs_str_form_get(req->query, "code", NULL);
        if (!take_offline(z, code)) /* access_type=online (the default): no refresh token */
            json_object_del(b, "refresh_token");
        hs_free(code);
    }
    if (rc == HS_OK) {
        hs_buf_reset(&resp->body);
        rc = hs_json_dump(b, &resp->body);
    }
    hs_free(grant);
    hs_free(api);
    hs_free(body);
    json_decref(b);
    return rc;
}

/* ---- webhooks: one workflow-rule POST per record change ---- */

static int zoho_webhook_request(void *state, const json_t *events, const char *secret,
                                const char *url, struct hs_http_request *out)
{
    (void)state;
    /* Zoho posts one record per request: the module asks the core for batches of one
     * (wh_batch_max, set in zoho_routes) */
    const json_t *ev = json_array_get(events, 0);
    json_t *body = json_object();
    if (body == NULL || ev == NULL ||
        json_object_set(body, jstr(ev, "entity"), json_object_get(ev, "record")) != 0) {
        json_decref(body);
        return ev == NULL ? HS_EINVAL : HS_ENOMEM;
    }
    hs_buf_reset(&out->body);
    int rc = hs_qbo_json_dump(body, &out->body);
    json_decref(body);
    char evname[64];
    snprintf(evname, sizeof evname, "%s.%s", jstr(ev, "entity"), jstr(ev, "type"));
    if (rc == HS_OK)
        rc = hs_http_request_set(out, "POST", url);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&out->headers, "Content-Type", "application/json");
    if (rc == HS_OK)
        rc = hs_http_headers_set(&out->headers, "X-Zoho-Webhook-Token",
                                 secret != NULL ? secret : "");
    if (rc == HS_OK)
        rc = hs_http_headers_set(&out->headers, "X-Zoho-Event", evname);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&out->headers, "X-Zoho-Organization-Id",
                                 jstr(ev, "organization_id"));
    return rc;
}

/* ---- sandbox controls: the limits ---- */

static int h_limits(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                    struct hs_http_response *resp)
{
    struct zoho *z = ud;
    (void)m;
    if (strcmp(req->method, "POST") == 0) {
        json_t *in =
            json_loadb(req->body.data != NULL ? req->body.data : "", req->body.len, 0, NULL);
        const json_t *day = json_object_get(in, "per_day");
        const json_t *min = json_object_get(in, "per_minute");
        bool ok = json_is_object(in) &&
                  (day == NULL || (json_is_integer(day) && json_integer_value(day) > 0)) &&
                  (min == NULL || (json_is_integer(min) && json_integer_value(min) > 0));
        if (ok && day != NULL)
            z->day_limit = json_integer_value(day);
        if (ok && min != NULL)
            z->min_limit = json_integer_value(min);
        json_decref(in);
        if (!ok)
            return hs_sbx_reply_error(resp, 400,
                                      "limits take {\"per_day\": N, \"per_minute\": N} (N >= 1)");
    }
    return hs_http_response_json_take(resp, 200,
                                      json_pack("{s:I, s:I}", "per_day", (json_int_t)z->day_limit,
                                                "per_minute", (json_int_t)z->min_limit));
}

/* ---- seed ---- */

static int seed_add(struct op *o, int e, json_t *obj)
{
    if (obj == NULL)
        return HS_ENOMEM;
    char id[24];
    int rc = HS_OK;
    if (jstr(obj, defs[e].id_field) == NULL) {
        new_id(o->g, id);
        rc = sets(obj, defs[e].id_field, id);
    }
    if (rc == HS_OK && e != E_TAX && e != E_CURRENCY) {
        rc = set_time(obj, "created_time", o->now_ms);
        if (rc == HS_OK)
            rc = set_time(obj, "last_modified_time", o->now_ms);
    }
    if (rc != HS_OK) {
        json_decref(obj);
        return rc;
    }
    return table_add(&o->g->t[e], e, obj, o->now_ms, NULL);
}

static int add_currency(struct op *o, const char *code)
{
    if (by_unique(o->g, E_CURRENCY, code) != NULL)
        return HS_OK;
    const struct hs_currency *cur = hs_currency_find(code);
    int64_t per_usd = hs_sbx_fx_per_usd_micro(code); /* micro-units of code per 1 USD */
    /* exchange_rate: base-currency (USD) value of one unit of code */
    int64_t rate = strcmp(code, BASE_CURRENCY) == 0 || per_usd <= 0
                       ? 1000000
                       : hs_qbo_div_round((hs_qbo_i128)1000000 * 1000000, per_usd);
    int dec = currency_dec(code);
    char fmt[24];
    snprintf(fmt, sizeof fmt, dec == 0 ? "###,##0" : dec == 3 ? "###,##0.000" : "###,##0.00");
    return seed_add(o, E_CURRENCY,
                    json_pack("{s:s, s:s, s:s, s:i, s:s, s:b, s:o}", "currency_code", code,
                              "currency_name", cur != NULL ? cur->name : code, "currency_symbol",
                              code, "price_precision", dec, "currency_format", fmt,
                              "is_base_currency", strcmp(code, BASE_CURRENCY) == 0, "exchange_rate",
                              hs_qbo_num_short(rate, HS_QBO_SCALE)));
}

static int seed_base(struct op *o)
{
    static const struct {
        const char *name;
        int64_t pct; /* scale 6 */
    } taxes[] = {
        {"Sales Tax", 8250000}, {"VAT 20%", 20000000}, {"VAT 5%", 5000000},
        {"GST 10%", 10000000},  {"Tax Exempt", 0},
    };
    int rc = add_currency(o, BASE_CURRENCY);
    for (size_t i = 0; rc == HS_OK && i < hs_sbx_fx_count(); i++)
        rc = add_currency(o, hs_sbx_fx_code(i));
    for (size_t i = 0; rc == HS_OK && i < sizeof taxes / sizeof taxes[0]; i++)
        rc = seed_add(o, E_TAX,
                      json_pack("{s:s, s:o, s:s, s:s, s:b, s:b}", "tax_name", taxes[i].name,
                                "tax_percentage", hs_qbo_num_short(taxes[i].pct, HS_QBO_SCALE),
                                "tax_type", "tax", "tax_specific_type", "", "is_value_added",
                                strncmp(taxes[i].name, "VAT", 3) == 0, "is_default_tax", 0));
    return rc;
}

/* A contact name not taken yet (appends " 2", " 3", ...). Caller frees. */
static char *unique_name(struct op *o, const char *name)
{
    char *n = hs_strdup(name);
    for (int k = 2; n != NULL && by_unique(o->g, E_CONTACT, n) != NULL; k++) {
        hs_free(n);
        n = hs_asprintf("%s %d", name, k);
    }
    return n;
}

static int seed_world(struct op *o, const struct hs_sbx_world *w)
{
    int rc = HS_OK;
    for (size_t i = 0; rc == HS_OK && i < w->n_companies; i++) {
        const struct hs_sbx_company *co = &w->companies[i];
        if (!co->in_accounting)
            continue;
        const char *code = co->currency[0] != '\0' ? co->currency : BASE_CURRENCY;
        rc = add_currency(o, code);
        struct rec *cur = rc == HS_OK ? by_unique(o->g, E_CURRENCY, code) : NULL;
        char *name = unique_name(o, co->acct_name);
        if (name == NULL || cur == NULL) {
            hs_free(name);
            return rc != HS_OK ? rc : HS_ENOMEM;
        }
        char pid[24];
        new_id(o->g, pid);
        int dec = currency_dec(code);
        json_t *c = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, "
            "s:[{s:s, s:s, s:s, s:s, s:s, s:b}], s:[], s:o, s:o, s:s}",
            "contact_name", name, "company_name", name, "contact_type", "customer", "status",
            "active", "email", co->acct_email, "phone", co->phone, "currency_id",
            jstr(cur->obj, "currency_id"), "currency_code", code, "billing_address", "address",
            co->street, "city", co->city, "zip", co->postcode, "country", co->country,
            "contact_persons", "contact_person_id", pid, "first_name", "Accounts", "last_name",
            "Payable", "email", co->acct_email, "phone", co->phone, "is_primary_contact", 1,
            "custom_fields", "outstanding_receivable_amount", hs_qbo_num(0, dec),
            "unused_credits_receivable_amount", hs_qbo_num(0, dec), "tax_reg_no", co->tax_id);
        hs_free(name);
        rc = seed_add(o, E_CONTACT, c);
    }
    for (size_t i = 0; rc == HS_OK && i < w->n_products; i++) {
        const struct hs_sbx_product *p = &w->products[i];
        if (!p->in_accounting || p->sku[0] == '\0' || by_unique(o->g, E_ITEM, p->name) != NULL)
            continue;
        int dec = hs_qbo_currency_decimals(p->currency);
        int64_t cents =
            dec >= 2 ? p->price_minor / pow10i(dec - 2) : p->price_minor * pow10i(2 - dec);
        rc = seed_add(o, E_ITEM,
                      json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:[]}", "name", p->name,
                                "sku", p->sku, "description", p->description, "rate",
                                hs_qbo_num(cents, 2), "status", "active", "product_type", "service",
                                "item_type", "sales", "tax_id", "", "custom_fields"));
    }
    return rc;
}

/* ---- module ops ---- */

static int zoho_create(struct hs_sbx *sbx, void **out_state, struct hs_error *err)
{
    struct zoho *z = hs_calloc(1, sizeof *z);
    if (z == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot create zoho module: out of memory");
    z->sbx = sbx;
    z->day_limit = DAY_LIMIT_DEFAULT;
    z->min_limit = MIN_LIMIT;
    *out_state = z;
    return HS_OK;
}

static void zoho_destroy(void *state)
{
    struct zoho *z = state;
    if (z == NULL)
        return;
    orgs_clear(z);
    for (size_t i = 0; i < z->n_offline; i++)
        hs_free(z->offline_codes[i]);
    hs_free(z->offline_codes);
    hs_free(z);
}

static int zoho_routes(void *state, struct hs_sbx *sbx)
{
    const struct hs_sbx_module_ops *m = &hs_sbx_zoho_ops;
    static const struct hs_sbx_route_def routes[] = {
        {"GET", "/accounts/oauth/v2/auth", h_authorize},
        {"POST", "/accounts/oauth/v2/token", h_token},
        {"GET", "/_sandbox/limits", h_limits},
        {"POST", "/_sandbox/limits", h_limits},
        {"GET", "/books/v3/organizations", h_orgs},
        {"GET", "/books/v3/organizations/{id}", h_orgs},
        {"GET", "/books/v3/settings/{setting}", h_list},
        {"GET", "/books/v3/settings/{setting}/{id}", h_get},
        {"GET", "/books/v3/contacts/{id}/contactpersons", h_persons},
        {"GET", "/books/v3/contacts/{contact}/contactpersons/{id}", h_person_get},
        {"POST", "/books/v3/contacts/contactpersons", h_person_create},
        {"PUT", "/books/v3/contacts/contactpersons/{id}", h_person_update},
        {"DELETE", "/books/v3/contacts/contactpersons/{id}", h_person_delete},
        {"POST", "/books/v3/contacts/contactpersons/{id}/primary", h_person_primary},
        {"POST", "/books/v3/invoices/{id}/status/{status}", h_status},
        {"POST", "/books/v3/creditnotes/{id}/invoices", h_credit_apply},
        {"GET", "/books/v3/{entity}", h_list},
        {"GET", "/books/v3/{entity}/{id}", h_get},
        {"POST", "/books/v3/{entity}", h_post},
        {"PUT", "/books/v3/{entity}", h_put},
        {"PUT", "/books/v3/{entity}/{id}", h_put},
    };
    int rc = hs_sbx_routes(sbx, m, routes, sizeof routes / sizeof routes[0], state);
    struct hs_sbx_mod *me = hs_sbx_find_mod(sbx, m->name);
    if (me != NULL)
        me->wh_batch_max = 1; /* one workflow webhook call per record change */
    return rc;
}

static int add_org(struct zoho *z, const char *name, uint64_t h, const struct hs_sbx_world *world,
                   struct hs_error *err)
{
    struct org *g = org_new(name, hs_sbx_now_ms(z->sbx), h);
    if (g == NULL || orgs_add(z, g) != HS_OK) {
        org_free(g);
        return hs_error_set(err, HS_ENOMEM, "cannot reset zoho: out of memory");
    }
    struct op o;
    memset(&o, 0, sizeof o);
    o.z = z;
    o.g = g;
    o.now_ms = g->created_ms;
    int rc = seed_base(&o);
    if (rc == HS_OK && world != NULL)
        rc = seed_world(&o, world);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot seed zoho organization '%s': %s", name,
                            hs_strerror(rc));
    return HS_OK;
}

static int zoho_reset(void *state, const struct hs_sbx_world *world, struct hs_error *err)
{
    struct zoho *z = state;
    orgs_clear(z);
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; world != NULL && i < world->n_companies; i++)
        h = mix64(h ^ str_hash(world->companies[i].name));
    int rc = add_org(z, SEED_ORG, mix64(h), world, err);
    if (rc == HS_OK)
        rc = add_org(z, EMPTY_ORG, mix64(h ^ 0xe3e3), NULL, err);
    return rc;
}

static json_t *zoho_tenants(void *state)
{
    struct zoho *z = state;
    json_t *ids = json_array();
    for (size_t i = 0; ids != NULL && i < z->n_orgs; i++)
        if (json_array_append_new(ids, json_string(z->orgs[i]->id)) != 0)
            HS_FREE(ids);
    if (ids == NULL)
        return NULL;
    return json_pack("{s:s?, s:o}", "organizationId", z->n_orgs > 0 ? z->orgs[0]->id : NULL,
                     "organizationIds", ids);
}

static json_t *zoho_save(void *state)
{
    struct zoho *z = state;
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < z->n_orgs; i++) {
        const struct org *g = z->orgs[i];
        json_t *tables = json_object();
        for (int e = 0; tables != NULL && e < N_ENT; e++) {
            json_t *recs = json_array();
            for (size_t k = 0; recs != NULL && k < g->t[e].n; k++) {
                json_t *r = json_pack("{s:O, s:I}", "o", g->t[e].v[k].obj, "u",
                                      (json_int_t)g->t[e].v[k].updated_ms);
                if (r == NULL || json_array_append_new(recs, r) != 0)
                    HS_FREE(recs);
            }
            if (recs == NULL || json_object_set_new(tables, defs[e].path, recs) != 0)
                HS_FREE(tables);
        }
        json_t *gj =
            tables != NULL
                ? json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "id", g->id, "name",
                            g->name, "created", (json_int_t)g->created_ms, "id_base",
                            (json_int_t)g->id_base, "id_seq", (json_int_t)g->id_seq, "next_inv",
                            (json_int_t)g->next_inv, "next_cn", (json_int_t)g->next_cn, "next_pay",
                            (json_int_t)g->next_pay, "tables", tables)
                : NULL;
        if (gj == NULL || json_array_append_new(arr, gj) != 0)
            HS_FREE(arr);
    }
    if (arr == NULL)
        return NULL;
    return json_pack("{s:o, s:I, s:I}", "organizations", arr, "per_day", (json_int_t)z->day_limit,
                     "per_minute", (json_int_t)z->min_limit);
}

static int zoho_load(void *state, const json_t *saved, struct hs_error *err)
{
    struct zoho *z = state;
    const json_t *arr = json_object_get(saved, "organizations");
    if (!json_is_array(arr))
        return hs_error_set(err, HS_EPROTO, "cannot load zoho state: no 'organizations' array");
    orgs_clear(z);
    if (json_integer_value(json_object_get(saved, "per_day")) > 0)
        z->day_limit = json_integer_value(json_object_get(saved, "per_day"));
    if (json_integer_value(json_object_get(saved, "per_minute")) > 0)
        z->min_limit = json_integer_value(json_object_get(saved, "per_minute"));
    size_t i;
    json_t *gj;
    json_array_foreach(arr, i, gj)
    {
        const char *id = jstr(gj, "id");
        if (id == NULL || strlen(id) >= sizeof(((struct org *)0)->id))
            return hs_error_set(err, HS_EPROTO,
                                "cannot load zoho state: organization %zu has no id", i);
        struct org *g = org_new(jstr(gj, "name") ? jstr(gj, "name") : "",
                                json_integer_value(json_object_get(gj, "created")), 0);
        if (g == NULL || orgs_add(z, g) != HS_OK) {
            org_free(g);
            return hs_error_set(err, HS_ENOMEM, "cannot load zoho state: out of memory");
        }
        snprintf(g->id, sizeof g->id, "%s", id);
        g->id_base = (uint64_t)json_integer_value(json_object_get(gj, "id_base"));
        g->id_seq = (uint64_t)json_integer_value(json_object_get(gj, "id_seq"));
        g->next_inv = json_integer_value(json_object_get(gj, "next_inv"));
        g->next_cn = json_integer_value(json_object_get(gj, "next_cn"));
        g->next_pay = json_integer_value(json_object_get(gj, "next_pay"));
        const json_t *tables = json_object_get(gj, "tables");
        for (int e = 0; e < N_ENT; e++) {
            size_t k;
            json_t *r;
            json_array_foreach(json_object_get(tables, defs[e].path), k, r)
            {
                json_t *o = json_object_get(r, "o");
                if (!json_is_object(o) || jstr(o, defs[e].id_field) == NULL)
                    return hs_error_set(err, HS_EPROTO,
                                        "cannot load zoho state: record %zu of '%s' is not valid",
                                        k, defs[e].path);
                int rc = table_add(&g->t[e], e, json_incref(o),
                                   json_integer_value(json_object_get(r, "u")), NULL);
                if (rc != HS_OK)
                    return hs_error_set(err, rc, "cannot load zoho state: out of memory");
            }
        }
    }
    return HS_OK;
}

const struct hs_sbx_module_ops hs_sbx_zoho_ops = {
    .name = "zohobooks",
    .create = zoho_create,
    .destroy = zoho_destroy,
    .routes = zoho_routes,
    .reset = zoho_reset,
    .tenants = zoho_tenants,
    .save = zoho_save,
    .load = zoho_load,
    .throttled = zoho_throttled,
    .unauthorized = zoho_unauthorized,
    .webhook_request = zoho_webhook_request,
};
