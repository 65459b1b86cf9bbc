/*
 * sandbox/xero.c - Xero Accounting API 2.0 emulator (hs_sbx_xero_ops).
 *
 * Design:     routes live under /xero/: the accounting API at /xero/api.xro/2.0/{Entity}
 *             (Contacts with ContactPersons, Items, Invoices of type ACCREC, Payments,
 *             CreditNotes of type ACCRECCREDIT, TaxRates, Currencies, Accounts, Organisation),
 *             the identity API's /xero/connections, the OAuth2 endpoints
 *             (/xero/identity/connect/authorize and /token, through the shared oauth.c with
 *             Xero's 30-minute access tokens and single-use refresh tokens) and a webhook
 *             intent-to-receive check. Every accounting call goes through begin(): Bearer
 *             auth (401 in Xero's problem shape), the Xero-tenant-id header (403 when missing,
 *             unknown or disconnected), the per-tenant limits (60 a minute, 5,000 a day; and
 *             10,000 a minute for the app) with X-MinLimit-Remaining, X-DayLimit-Remaining and
 *             X-AppMinLimit-Remaining on every answer and Retry-After plus X-Rate-Limit-Problem
 *             on a 429, and Idempotency-Key replay of writes; sbx.c refuses a sixth call in
 *             flight for a tenant (max_concurrent, problem "concurrent"). Writes take arrays of
 * elements; each element is validated and stored on its own, and its failures become
 *             ValidationErrors on that element. With summarizeErrors=false the answer is 200
 *             with every element (StatusAttributeString OK or ERROR); otherwise one failure
 *             rolls the whole request back (an undo log of the records it replaced or added)
 *             and answers 400 with Xero's ValidationException. Records are Xero-shaped jansson
 *             objects whose numbers are exact (marked strings, see qbo.h), so money is never a
 *             double. Invoice arithmetic follows Xero: per line, LineAmount = Quantity x
 *             UnitAmount less DiscountRate, rounded half away from zero to the currency's
 *             decimals; TaxAmount rounded per line (Exclusive: each rate of the tax type on
 *             its own; Inclusive: extracted with the summed rate; NoTax: none).
 * Invariants: a record's UpdatedDateUTC and rec.updated_ms change together; Invoice AmountDue
 *             = Total - AmountPaid - AmountCredited and AmountPaid is the sum of its live
 *             payments; ids are deterministic per tenant (a counter hashed with the tenant id).
 * Threads:    handlers run under the sandbox state lock (sbx.h); the intent check releases
 *             it while it talks to the receiver and touches no module state meanwhile.
 * Ownership:  the module state owns its tenants; tenants own their tables and replays.
 * Not here:   the where/order subset and date parsing (xero_query.c), exact numbers (qbo_json.c),
 *             OAuth (oauth.c), webhook delivery (webhook.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/currency.h"
#include "sandbox/qbo.h"
#include "sandbox/sbx_int.h"
#include "sandbox/xero.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

#define PAGE_SIZE       100
#define PAGE_SIZE_MAX   1000
#define MIN_LIMIT       60
#define DAY_LIMIT       5000
#define APP_MIN_LIMIT   10000
#define IDEM_KEY_MAX    128
#define IDEM_MAX        20000
#define NAME_MAX_CHARS  255
#define CODE_MAX_CHARS  30
#define ITEM_NAME_MAX   50
#define PERSONS_MAX     5
#define DAY_MS          86400000LL
#define API_BASE        "https://api.xero.com/api.xro/2.0/"
#define PROVIDER_NAME   "Hoopsync Sandbox"
#define SEED_TENANT     "Hoopsync Sandbox Ltd"
#define EMPTY_TENANT    "Hoopsync Demo (Empty)"
#define DEFAULT_DUE_DAY 30
#define MAX_RATES       8 /* components of one tax rate */

enum ent {
    E_CONTACT,
    E_ITEM,
    E_INVOICE,
    E_PAYMENT,
    E_CREDITNOTE,
    E_TAXRATE,
    E_CURRENCY,
    E_ACCOUNT,
    N_ENT
};

enum ent_flags {
    F_WRITE = 1 << 0, /* PUT/POST arrays */
    F_PAGED = 1 << 1, /* ?page= */
    F_IMS = 1 << 2,   /* If-Modified-Since */
    F_IDS = 1 << 3,   /* ?IDs= */
};

struct ent_def {
    const char *plural;   /* "Contacts": path segment and wrapper key */
    const char *id_field; /* "ContactID" (TaxRates: TaxType, Currencies: Code) */
    const char *alt;      /* second lookup key for GET /{plural}/{x}: "ContactNumber", or NULL */
    const char *category; /* webhook eventCategory, or NULL when Xero sends none */
    const char *schema;   /* the spec's schema of one record ("Contact"), for where and order */
    unsigned flags;
};

static const struct ent_def defs[N_ENT] = {
    {"Contacts", "ContactID", "ContactNumber", "CONTACT", "Contact",
     F_WRITE | F_PAGED | F_IMS | F_IDS},
    {"Items", "ItemID", "Code", NULL, "Item", F_WRITE | F_IMS},
    {"Invoices", "InvoiceID", "InvoiceNumber", "INVOICE", "Invoice",
     F_WRITE | F_PAGED | F_IMS | F_IDS},
    {"Payments", "PaymentID", NULL, NULL, "Payment", F_WRITE | F_PAGED | F_IMS},
    {"CreditNotes", "CreditNoteID", "CreditNoteNumber", "CREDITNOTE", "CreditNote",
     F_WRITE | F_PAGED | F_IMS},
    {"TaxRates", "TaxType", NULL, NULL, "TaxRate", 0},
    {"Currencies", "Code", NULL, NULL, "Currency", 0},
    {"Accounts", "AccountID", "Code", NULL, "Account", F_IMS},
};

struct rec {
    json_t *obj;
    int64_t updated_ms;
};

struct table {
    int e; /* entity of the records */
    struct rec *v;
    size_t n;
    size_t cap;
    json_t *index; /* lower-case id -> index */
    json_t *keys;  /* "alt:<lower-case alt value>" and, for contacts, "name:<lower-case trimmed
                      name of an ACTIVE contact>" -> index */
};

struct tenant {
    char id[40];
    char conn_id[40];
    char name[128];
    char short_code[8];
    int64_t created_ms;
    bool disconnected;
    uint64_t id_seq;  /* ids made so far */
    int64_t next_inv; /* INV-0001 ... */
    int64_t next_cn;  /* CN-0001 ... */
    struct table t[N_ENT];
    json_t *idem; /* Idempotency-Key -> {"s": status, "b": body} */
};

struct xero {
    struct hs_sbx *sbx;
    struct tenant **tenants;
    size_t n_tenants;
    int64_t wh_seq; /* last webhook event sequence number */
};

/* ---- small helpers ---- */

static int setn(json_t *o, const char *k, json_t *v)
{
    if (v == NULL)
        return HS_ENOMEM;
    return json_object_set_new(o, k, v) == 0 ? HS_OK : HS_ENOMEM;
}

/* Removes the members of o that are null (json_pack's "s?" of a NULL string): Xero leaves
 * absent fields out. Returns o. */
static json_t *drop_nulls(json_t *o)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(o, tmp, k, v)
    {
        if (json_is_null(v))
            json_object_del(o, k);
    }
    return o;
}

static int sets(json_t *o, const char *k, const char *s)
{
    return setn(o, k, json_string(s != NULL ? s : ""));
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static char *lower_dup(const char *s)
{
    return hs_str_lower(s != NULL ? s : "");
}

static void msdate(int64_t ms, char *out, size_t size)
{
    hs_xero_msdate_format(ms, out, size);
}

static int set_msdate(json_t *o, const char *k, int64_t ms)
{
    char b[48];
    msdate(ms, b, sizeof b);
    return sets(o, k, b);
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

/* A version-4-shaped GUID from two 64-bit values. */
static void guid_from(uint64_t a, uint64_t b, char *out, size_t size)
{
    snprintf(out, size, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)((a >> 16) & 0xffff), (unsigned)(0x4000 | (a & 0x0fff)),
             (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
             (unsigned long long)(b & 0xffffffffffffULL));
}

/* Next id of tenant tn (deterministic: its id and a counter). */
static void new_id(struct tenant *tn, char out[40])
{
    uint64_t h = str_hash(tn->id);
    tn->id_seq++;
    guid_from(mix64(h ^ tn->id_seq), mix64(h + 2 * tn->id_seq + 1), out, 40);
}

/* Copies s into buf (truncating) and returns buf. */
static const char *copy_into(char *buf, size_t size, const char *s)
{
    snprintf(buf, size, "%s", s);
    return buf;
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Trimmed copy; caller frees. */
static char *trim_dup(const char *s)
{
    if (s == NULL)
        return hs_strdup("");
    while (is_ws(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_ws(s[n - 1]))
        n--;
    return hs_strndup(s, n);
}

static int currency_dec(const char *code)
{
    return hs_qbo_currency_decimals(code != NULL ? code : "USD");
}

/* Value of an exact number at scale, or 0 when absent or not a number. */
static int64_t num_or0(const json_t *v, int scale)
{
    int64_t out = 0;
    if (v == NULL || hs_qbo_num_get(v, scale, &out) != HS_OK)
        return 0;
    return out;
}

static int64_t pow10i(int n)
{
    int64_t p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

/* ---- tables ---- */

static void table_release(struct table *t)
{
    for (size_t i = 0; i < t->n; i++)
        json_decref(t->v[i].obj);
    hs_free(t->v);
    json_decref(t->index);
    json_decref(t->keys);
    int e = t->e;
    memset(t, 0, sizeof *t);
    t->e = e;
}

/* The secondary keys of obj in table t (at most 2), written to keys; returns the count. */
static size_t sec_keys(const struct table *t, const json_t *obj, char keys[2][320])
{
    size_t n = 0;
    const char *alt = defs[t->e].alt;
    const char *v = alt != NULL ? jstr(obj, alt) : NULL;
    if (v != NULL && v[0] != '\0') {
        char *l = lower_dup(v);
        if (l != NULL)
            snprintf(keys[n++], 320, "alt:%s", l);
        hs_free(l);
    }
    if (t->e == E_CONTACT && hs_str_eq(jstr(obj, "ContactStatus"), "ACTIVE")) {
        char *tr = trim_dup(jstr(obj, "Name"));
        char *l = tr != NULL ? lower_dup(tr) : NULL;
        if (l != NULL && l[0] != '\0')
            snprintf(keys[n++], 320, "name:%s", l);
        hs_free(l);
        hs_free(tr);
    }
    return n;
}

/* Adds (or removes, when it still points at i) the secondary keys of obj at index i. */
static int sec_index(struct table *t, const json_t *obj, size_t i, bool add)
{
    char keys[2][320];
    size_t n = sec_keys(t, obj, keys);
    if (n > 0 && t->keys == NULL && add && (t->keys = json_object()) == NULL)
        return HS_ENOMEM;
    for (size_t k = 0; k < n; k++) {
        if (add) {
            if (json_object_set_new(t->keys, keys[k], json_integer((json_int_t)i)) != 0)
                return HS_ENOMEM;
        } else if (t->keys != NULL &&
                   json_integer_value(json_object_get(t->keys, keys[k])) == (json_int_t)i) {
            json_object_del(t->keys, keys[k]);
        }
    }
    return HS_OK;
}

/* Record of the secondary key "<kind>:<lower-case value>", or NULL. */
static struct rec *sec_get(struct table *t, const char *kind, const char *value)
{
    if (value == NULL || t->keys == NULL)
        return NULL;
    char *l = lower_dup(value);
    if (l == NULL)
        return NULL;
    char key[320];
    snprintf(key, sizeof key, "%s:%s", kind, l);
    hs_free(l);
    json_t *v = json_object_get(t->keys, key);
    if (!json_is_integer(v))
        return NULL;
    json_int_t i = json_integer_value(v);
    return i >= 0 && (size_t)i < t->n ? &t->v[i] : NULL;
}

static int table_index(struct table *t, const char *id, size_t i)
{
    char *k = lower_dup(id);
    if (k == NULL)
        return HS_ENOMEM;
    if (t->index == NULL)
        t->index = json_object();
    int rc = t->index != NULL && json_object_set_new(t->index, k, json_integer((json_int_t)i)) == 0
                 ? HS_OK
                 : HS_ENOMEM;
    hs_free(k);
    return rc;
}

/* Appends obj (stolen, also on failure) keyed by its id field. */
static int table_add(struct table *t, const char *id_field, json_t *obj, int64_t ms,
                     size_t *out_index)
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
    int rc = table_index(t, jstr(obj, id_field), t->n);
    if (rc == HS_OK)
        rc = sec_index(t, obj, t->n, true);
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

static struct rec *table_get(struct table *t, const char *id)
{
    if (id == NULL || t->index == NULL)
        return NULL;
    char *k = lower_dup(id);
    if (k == NULL)
        return NULL;
    json_t *v = json_object_get(t->index, k);
    hs_free(k);
    if (!json_is_integer(v))
        return NULL;
    json_int_t i = json_integer_value(v);
    return i >= 0 && (size_t)i < t->n ? &t->v[i] : NULL;
}

/* Record whose field `field` equals value (ASCII case ignored), or NULL; through the index
 * for the table's alternative key. */
static struct rec *table_find(struct table *t, const char *field, const char *value)
{
    if (value == NULL)
        return NULL;
    if (defs[t->e].alt != NULL && strcmp(field, defs[t->e].alt) == 0)
        return sec_get(t, "alt", value);
    for (size_t i = 0; i < t->n; i++) {
        const char *s = jstr(t->v[i].obj, field);
        if (s != NULL && hs_str_ieq(s, value))
            return &t->v[i];
    }
    return NULL;
}

/* ---- tenants ---- */

static void tenant_free(struct tenant *tn)
{
    if (tn == NULL)
        return;
    for (int e = 0; e < N_ENT; e++)
        table_release(&tn->t[e]);
    json_decref(tn->idem);
    hs_free(tn);
}

static struct tenant *tenant_new(const char *name, int64_t now_ms)
{
    struct tenant *tn = hs_calloc(1, sizeof *tn);
    if (tn == NULL)
        return NULL;
    tn->idem = json_object();
    if (tn->idem == NULL) {
        hs_free(tn);
        return NULL;
    }
    for (int e = 0; e < N_ENT; e++)
        tn->t[e].e = e;
    snprintf(tn->name, sizeof tn->name, "%s", name);
    tn->created_ms = now_ms;
    tn->next_inv = 1;
    tn->next_cn = 1;
    return tn;
}

static void tenants_clear(struct xero *x)
{
    for (size_t i = 0; i < x->n_tenants; i++)
        tenant_free(x->tenants[i]);
    hs_free(x->tenants);
    x->tenants = NULL;
    x->n_tenants = 0;
}

static int tenants_add(struct xero *x, struct tenant *tn)
{
    struct tenant **v = hs_reallocarray(x->tenants, x->n_tenants + 1, sizeof(struct tenant *));
    if (v == NULL)
        return HS_ENOMEM;
    x->tenants = v;
    x->tenants[x->n_tenants++] = tn;
    return HS_OK;
}

static struct tenant *tenant_find(struct xero *x, const char *id)
{
    for (size_t i = 0; id != NULL && i < x->n_tenants; i++)
        if (hs_str_ieq(x->tenants[i]->id, id))
            return x->tenants[i];
    return NULL;
}

/* ---- one request's operation context, with its undo log ---- */

struct undo {
    int e;
    size_t index;
    json_t *old; /* NULL: the record was added */
    int64_t old_ms;
};

struct op {
    struct xero *x;
    struct tenant *tn;
    int64_t now_ms;
    int unitdp;     /* 2, or 4 with ?unitdp=4 */
    json_t *errors; /* ValidationErrors of the element being written */
    json_t *events; /* webhook events, emitted when the request commits */
    struct undo *undo;
    size_t n_undo;
    size_t cap_undo;
};

static int op_log(struct op *o, int e, size_t index, json_t *old, int64_t old_ms)
{
    if (o->n_undo == o->cap_undo) {
        size_t cap = o->cap_undo ? o->cap_undo * 2 : 16;
        struct undo *v = hs_reallocarray(o->undo, cap, sizeof *v);
        if (v == NULL)
            return HS_ENOMEM;
        o->undo = v;
        o->cap_undo = cap;
    }
    o->undo[o->n_undo++] = (struct undo){e, index, old, old_ms};
    return HS_OK;
}

/* Undoes every change of the request, newest first. */
static void op_rollback(struct op *o)
{
    while (o->n_undo > 0) {
        struct undo *u = &o->undo[--o->n_undo];
        struct table *t = &o->tn->t[u->e];
        sec_index(t, t->v[u->index].obj, u->index, false);
        if (u->old == NULL) { /* added: it is the last record */
            struct rec *r = &t->v[u->index];
            char *k = lower_dup(jstr(r->obj, defs[u->e].id_field));
            if (k != NULL && t->index != NULL)
                json_object_del(t->index, k);
            hs_free(k);
            json_decref(r->obj);
            t->n = u->index;
        } else {
            json_decref(t->v[u->index].obj);
            t->v[u->index].obj = u->old;
            t->v[u->index].updated_ms = u->old_ms;
            (void)sec_index(t, u->old, u->index, true); /* its keys were there: no growth */
        }
    }
    json_array_clear(o->events);
}

static void op_release(struct op *o)
{
    for (size_t i = 0; i < o->n_undo; i++)
        json_decref(o->undo[i].old);
    hs_free(o->undo);
    o->undo = NULL;
    o->n_undo = o->cap_undo = 0;
    json_decref(o->errors);
    json_decref(o->events);
    o->errors = o->events = NULL;
}

static int event(struct op *o, int e, const char *id, const char *type)
{
    if (defs[e].category == NULL || o->events == NULL ||
        !hs_sbx_listening(o->x->sbx, &hs_sbx_xero_ops))
        return HS_OK; /* nobody would receive it (hs_sbx_emit drops it) */
    char when[40];
    hs_sbx_iso8601(o->now_ms, when, sizeof when);
    size_t n = strlen(when);
    if (n > 0 && when[n - 1] == 'Z')
        when[n - 1] = '\0';
    char url[256];
    snprintf(url, sizeof url, "%s%s/%s", API_BASE, defs[e].plural, id);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "resourceUrl", url, "resourceId",
                           id, "eventDateUtc", when, "eventType", type, "eventCategory",
                           defs[e].category, "tenantId", o->tn->id, "tenantType", "ORGANISATION");
    if (ev == NULL || json_array_append_new(o->events, ev) != 0)
        return HS_ENOMEM;
    return HS_OK;
}

/* Stores obj (stolen) as a new record of e, stamped now. */
static int store_add(struct op *o, int e, json_t *obj, size_t *out_index)
{
    if (obj == NULL)
        return HS_ENOMEM;
    int rc = set_msdate(obj, "UpdatedDateUTC", o->now_ms);
    if (rc != HS_OK) {
        json_decref(obj);
        return rc;
    }
    size_t i;
    rc = table_add(&o->tn->t[e], defs[e].id_field, obj, o->now_ms, &i);
    if (rc == HS_OK)
        rc = op_log(o, e, i, NULL, 0);
    if (rc == HS_OK)
        rc = event(o, e, jstr(obj, defs[e].id_field), "CREATE");
    if (rc == HS_OK && out_index != NULL)
        *out_index = i;
    return rc;
}

/* Replaces record r of e by obj (stolen), stamped now. */
static int store_replace(struct op *o, int e, struct rec *r, json_t *obj)
{
    if (obj == NULL)
        return HS_ENOMEM;
    int rc = set_msdate(obj, "UpdatedDateUTC", o->now_ms);
    if (rc == HS_OK)
        rc = op_log(o, e, (size_t)(r - o->tn->t[e].v), r->obj, r->updated_ms);
    if (rc != HS_OK) {
        json_decref(obj);
        return rc;
    }
    size_t i = (size_t)(r - o->tn->t[e].v);
    sec_index(&o->tn->t[e], r->obj, i, false);
    r->obj = obj;
    r->updated_ms = o->now_ms;
    rc = sec_index(&o->tn->t[e], obj, i, true);
    if (rc == HS_OK)
        rc = event(o, e, jstr(obj, defs[e].id_field), "UPDATE");
    return rc;
}

/* Adds a ValidationError to the element being written and returns HS_EINVAL. */
static int verr(struct op *o, const char *fmt, ...) HS_PRINTF(2, 3);
static int verr(struct op *o, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:s}", "Message", msg);
    if (e == NULL || json_array_append_new(o->errors, e) != 0)
        return HS_ENOMEM;
    return HS_EINVAL;
}

/* Exact number at key (absent: *present false). HS_EINVAL (with a ValidationError) when it is
 * no number or has more than `scale` decimals. */
static int num_field(struct op *o, const json_t *obj, const char *key, int scale, int64_t *out,
                     bool *present)
{
    const json_t *v = json_object_get(obj, key);
    *present = v != NULL && !json_is_null(v);
    if (!*present)
        return HS_OK;
    int rc = hs_qbo_num_get(v, scale, out);
    if (rc == HS_ERANGE)
        return verr(o, "%s has more than %d decimal places", key, scale);
    if (rc != HS_OK)
        return verr(o, "%s must be a number", key);
    return HS_OK;
}

/* Copies the writable fields (every key but the read-only ones) of src into dst. */
static int merge(json_t *dst, const json_t *src, const char *const *readonly)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)src, k, v)
    {
        bool ro = false;
        for (size_t i = 0; readonly[i] != NULL; i++)
            if (strcmp(readonly[i], k) == 0)
                ro = true;
        if (ro)
            continue;
        if (setn(dst, k, json_deep_copy(v)) != HS_OK)
            return HS_ENOMEM;
    }
    return HS_OK;
}

/* A date field: "YYYY-MM-DD[Thh:mm:ss]" or "/Date(ms)/" -> days since epoch. */
static bool date_days(const char *s, int64_t *out_days)
{
    int64_t ms;
    if (s == NULL || !hs_xero_time_parse(s, &ms))
        return false;
    *out_days = ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
    return true;
}

static int set_date(json_t *o, const char *key, int64_t days)
{
    char b[48], iso[24];
    msdate(days * DAY_MS, b, sizeof b);
    hs_qbo_days_format(days, iso, sizeof iso);
    char *ks = hs_asprintf("%sString", key);
    char *v = hs_asprintf("%sT00:00:00", iso);
    int rc = ks != NULL && v != NULL ? sets(o, key, b) : HS_ENOMEM;
    if (rc == HS_OK)
        rc = sets(o, ks, v);
    hs_free(ks);
    hs_free(v);
    return rc;
}

static bool valid_email(const char *s)
{
    const char *at = s != NULL ? strchr(s, '@') : NULL;
    return at != NULL && at != s && strchr(at + 1, '.') != NULL && strchr(s, ' ') == NULL &&
           at[1] != '.' && s[strlen(s) - 1] != '.';
}

/* ---- contacts ---- */

static const char *const contact_ro[] = {"ContactID",        "UpdatedDateUTC",
                                         "HasAttachments",   "HasValidationErrors",
                                         "ValidationErrors", "StatusAttributeString",
                                         "Balances",         "Website",
                                         "Discount",         "IsSupplier",
                                         "IsCustomer",       NULL};

static int check_persons(struct op *o, const json_t *persons)
{
    if (persons == NULL || json_is_null(persons))
        return HS_OK;
    if (!json_is_array(persons))
        return verr(o, "ContactPersons must be an array");
    if (json_array_size(persons) > PERSONS_MAX)
        return verr(o, "A contact can have at most %d contact persons", PERSONS_MAX);
    size_t i;
    json_t *p;
    json_array_foreach(persons, i, p)
    {
        if (!json_is_object(p))
            return verr(o, "ContactPersons[%zu] must be an object", i);
        const char *email = jstr(p, "EmailAddress");
        if (email != NULL && email[0] != '\0' && !valid_email(email))
            return verr(o, "Email address must be valid.");
        json_t *inc = json_object_get(p, "IncludeInEmails");
        if (inc == NULL && json_object_set_new(p, "IncludeInEmails", json_false()) != 0)
            return HS_ENOMEM;
    }
    return HS_OK;
}

/* True when another active contact (not self) has that (trimmed) name. */
static bool name_taken(struct op *o, const char *name, const struct rec *self)
{
    const struct rec *r = sec_get(&o->tn->t[E_CONTACT], "name", name);
    return r != NULL && r != self;
}

static int prepare_contact(struct op *o, const json_t *in, struct rec *old, json_t **out)
{
    json_t *c = old != NULL ? json_deep_copy(old->obj) : json_object();
    if (c == NULL || merge(c, in, contact_ro) != HS_OK) {
        json_decref(c);
        return HS_ENOMEM;
    }
    int rc = HS_OK;
    char *name = trim_dup(jstr(c, "Name"));
    const char *status = jstr(c, "ContactStatus");
    if (name == NULL)
        rc = HS_ENOMEM;
    else if (name[0] == '\0')
        rc = verr(o, "The contact name must be specified.");
    else if (utf8_len(name) > NAME_MAX_CHARS)
        rc = verr(o, "The contact name must not be longer than %d characters.", NAME_MAX_CHARS);
    else if (status != NULL && strcmp(status, "ACTIVE") != 0 && strcmp(status, "ARCHIVED") != 0 &&
             strcmp(status, "GDPRREQUEST") != 0)
        rc = verr(o, "ContactStatus must be ACTIVE, ARCHIVED or GDPRREQUEST");
    else if ((status == NULL || strcmp(status, "ACTIVE") == 0) && name_taken(o, name, old))
        rc = verr(o,
                  "The contact name %s is already assigned to another contact. The contact name "
                  "must be unique across all active contacts.",
                  name);
    const char *email = jstr(c, "EmailAddress");
    if (rc == HS_OK && email != NULL && email[0] != '\0' && !valid_email(email))
        rc = verr(o, "Email address must be valid.");
    if (rc == HS_OK)
        rc = check_persons(o, json_object_get(c, "ContactPersons"));
    const char *cur = jstr(c, "DefaultCurrency");
    if (rc == HS_OK && cur != NULL && cur[0] != '\0' &&
        table_get(&o->tn->t[E_CURRENCY], cur) == NULL)
        rc = verr(o, "The currency %s is not set up for this organisation.", cur);
    if (rc == HS_OK)
        rc = sets(c, "Name", name);
    if (rc == HS_OK && old == NULL) {
        char id[40];
        new_id(o->tn, id);
        rc = sets(c, "ContactID", id);
        if (rc == HS_OK && status == NULL)
            rc = sets(c, "ContactStatus", "ACTIVE");
        static const char *const arrays[] = {"Addresses", "Phones", "ContactGroups",
                                             "ContactPersons"};
        for (size_t i = 0; rc == HS_OK && i < 4; i++)
            if (json_object_get(c, arrays[i]) == NULL)
                rc = setn(c, arrays[i], json_array());
        if (rc == HS_OK)
            rc = setn(c, "IsSupplier", json_false());
        if (rc == HS_OK)
            rc = setn(c, "IsCustomer", json_false());
        if (rc == HS_OK)
            rc = setn(c, "HasAttachments", json_false());
    }
    if (rc == HS_OK)
        rc = setn(c, "HasValidationErrors", json_false());
    hs_free(name);
    if (rc != HS_OK) {
        json_decref(c);
        return rc;
    }
    *out = c;
    return HS_OK;
}

/* ---- items ---- */

static const char *const item_ro[] = {"ItemID",
                                      "UpdatedDateUTC",
                                      "ValidationErrors",
                                      "StatusAttributeString",
                                      "TotalCostPool",
                                      "QuantityOnHand",
                                      NULL};

static int check_details(struct op *o, json_t *d, const char *what)
{
    if (d == NULL || json_is_null(d))
        return HS_OK;
    if (!json_is_object(d))
        return verr(o, "%s must be an object", what);
    int64_t price;
    bool has;
    int rc = num_field(o, d, "UnitPrice", HS_QBO_SCALE, &price, &has);
    if (rc != HS_OK)
        return rc;
    if (has) { /* 2 decimals (4 with unitdp=4), rounded half away from zero */
        int64_t units = hs_qbo_div_round((hs_qbo_i128)price, pow10i(HS_QBO_SCALE - o->unitdp));
        int dp = o->unitdp;
        if (dp == 4 && units % 100 == 0) {
            units /= 100;
            dp = 2;
        }
        if (setn(d, "UnitPrice", hs_qbo_num(units, dp)) != HS_OK)
            return HS_ENOMEM;
    }
    const char *acct = jstr(d, "AccountCode");
    if (acct != NULL && acct[0] != '\0' && table_find(&o->tn->t[E_ACCOUNT], "Code", acct) == NULL)
        return verr(o, "Account code '%s' is not a valid code for this document.", acct);
    const char *tax = jstr(d, "TaxType");
    if (tax != NULL && tax[0] != '\0' && table_get(&o->tn->t[E_TAXRATE], tax) == NULL)
        return verr(o,
                    "The TaxType code '%s' does not exist or cannot be used for this type of "
                    "transaction.",
                    tax);
    return HS_OK;
}

static int prepare_item(struct op *o, const json_t *in, struct rec *old, json_t **out)
{
    json_t *it = old != NULL ? json_deep_copy(old->obj) : json_object();
    if (it == NULL || merge(it, in, item_ro) != HS_OK) {
        json_decref(it);
        return HS_ENOMEM;
    }
    int rc = HS_OK;
    char *code = trim_dup(jstr(it, "Code"));
    const char *name = jstr(it, "Name");
    if (code == NULL) {
        rc = HS_ENOMEM;
    } else if (code[0] == '\0') {
        rc = verr(o, "Item code must be specified.");
    } else if (utf8_len(code) > CODE_MAX_CHARS) {
        rc = verr(o, "The Code must not be more than %d characters long.", CODE_MAX_CHARS);
    } else if (name != NULL && utf8_len(name) > ITEM_NAME_MAX) {
        rc = verr(o, "The Name must not be more than %d characters long.", ITEM_NAME_MAX);
    } else {
        struct rec *same = table_find(&o->tn->t[E_ITEM], "Code", code);
        if (same != NULL && same != old)
            rc = verr(o, "Item code '%s' already exists.", code);
    }
    if (rc == HS_OK)
        rc = check_details(o, json_object_get(it, "SalesDetails"), "SalesDetails");
    if (rc == HS_OK)
        rc = check_details(o, json_object_get(it, "PurchaseDetails"), "PurchaseDetails");
    if (rc == HS_OK)
        rc = sets(it, "Code", code);
    if (rc == HS_OK && old == NULL) {
        char id[40];
        new_id(o->tn, id);
        rc = sets(it, "ItemID", id);
        if (rc == HS_OK && json_object_get(it, "IsSold") == NULL)
            rc = setn(it, "IsSold", json_true());
        if (rc == HS_OK && json_object_get(it, "IsPurchased") == NULL)
            rc = setn(it, "IsPurchased", json_false());
        if (rc == HS_OK)
            rc = setn(it, "IsTrackedAsInventory", json_false());
    }
    hs_free(code);
    if (rc != HS_OK) {
        json_decref(it);
        return rc;
    }
    *out = it;
    return HS_OK;
}

/* ---- invoices and credit notes ---- */

/* Rates (scale 6 percentages) of a tax type; false when unknown. */
static bool tax_rates(struct op *o, const char *type, int64_t *rates, size_t *n)
{
    *n = 0;
    struct rec *r = table_get(&o->tn->t[E_TAXRATE], type);
    if (r == NULL)
        return false;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(r->obj, "TaxComponents"), i, c)
    {
        int64_t v;
        if (*n < MAX_RATES && hs_qbo_num_get(json_object_get(c, "Rate"), HS_QBO_SCALE, &v) == HS_OK)
            rates[(*n)++] = v;
    }
    return true;
}

/* Resolves the Contact of a transaction: ContactID, or an active contact by Name, or a new
 * contact with that Name (Xero creates it). Writes {"ContactID","Name"} to doc. */
static int resolve_contact(struct op *o, json_t *doc, struct rec **out)
{
    *out = NULL;
    const json_t *c = json_object_get(doc, "Contact");
    const char *id = jstr(c, "ContactID");
    const char *name = jstr(c, "Name");
    struct rec *r = NULL;
    if (id != NULL && id[0] != '\0') {
        r = table_get(&o->tn->t[E_CONTACT], id);
        if (r == NULL)
            return verr(o, "The contact with ContactID %s does not exist.", id);
    } else if (name != NULL && name[0] != '\0') {
        char *tr = trim_dup(name);
        if (tr == NULL)
            return HS_ENOMEM;
        r = sec_get(&o->tn->t[E_CONTACT], "name", tr);
        hs_free(tr);
        if (r == NULL) {
            json_t *in = json_pack("{s:s}", "Name", name);
            json_t *nc = NULL;
            int rc = in != NULL ? prepare_contact(o, in, NULL, &nc) : HS_ENOMEM;
            json_decref(in);
            size_t idx;
            if (rc == HS_OK)
                rc = store_add(o, E_CONTACT, nc, &idx);
            if (rc != HS_OK)
                return rc;
            r = &o->tn->t[E_CONTACT].v[idx];
        }
    } else {
        return verr(o, "A Contact must be specified for this type of transaction");
    }
    *out = r;
    return setn(doc, "Contact",
                json_pack("{s:s, s:s, s:s?}", "ContactID", jstr(r->obj, "ContactID"), "Name",
                          jstr(r->obj, "Name"), "ContactStatus", jstr(r->obj, "ContactStatus")));
}

struct totals {
    int64_t sub, tax, total; /* minor units */
    bool discounted;
};

/* Computes one line in place. */
static int compute_line(struct op *o, json_t *line, size_t k, const char *lat, int dec,
                        bool authorised, struct totals *tot)
{
    if (!json_is_object(line))
        return verr(o, "LineItems[%zu] must be an object", k);
    int64_t qty = 1000000, unit = 0, disc = 0, given = 0;
    bool has_qty, has_unit, has_disc, has_given;
    int rc = num_field(o, line, "Quantity", HS_QBO_SCALE, &qty, &has_qty);
    if (rc == HS_OK)
        rc = num_field(o, line, "UnitAmount", HS_QBO_SCALE, &unit, &has_unit);
    if (rc == HS_OK)
        rc = num_field(o, line, "DiscountRate", HS_QBO_SCALE, &disc, &has_disc);
    if (rc == HS_OK)
        rc = num_field(o, line, "LineAmount", HS_QBO_SCALE, &given, &has_given);
    if (rc != HS_OK)
        return rc;
    if (!has_qty)
        qty = 1000000;
    const char *code = jstr(line, "ItemCode");
    struct rec *item = NULL;
    if (code != NULL && code[0] != '\0') {
        item = table_find(&o->tn->t[E_ITEM], "Code", code);
        if (item == NULL)
            return verr(o, "Item code '%s' is not valid", code);
    }
    const json_t *sales = item != NULL ? json_object_get(item->obj, "SalesDetails") : NULL;
    if (!has_unit && sales != NULL &&
        hs_qbo_num_get(json_object_get(sales, "UnitPrice"), HS_QBO_SCALE, &unit) == HS_OK)
        has_unit = true;
    const char *desc = jstr(line, "Description");
    if ((desc == NULL || desc[0] == '\0') && item != NULL) {
        const char *d = jstr(item->obj, "Description");
        if (setn(line, "Description", json_string(d != NULL ? d : jstr(item->obj, "Name"))) !=
            HS_OK)
            return HS_ENOMEM;
        desc = jstr(line, "Description");
    }
    if (desc == NULL || desc[0] == '\0')
        return verr(o, "Description must be specified.");
    if (has_disc && (disc < 0 || disc > 100000000))
        return verr(o, "DiscountRate must be between 0 and 100");
    /* UnitAmount keeps 2 decimals (4 with unitdp=4), rounded half away from zero */
    int64_t step = pow10i(HS_QBO_SCALE - o->unitdp);
    unit = hs_qbo_div_round((hs_qbo_i128)unit, step) * step;
    const char *acct = jstr(line, "AccountCode");
    if ((acct == NULL || acct[0] == '\0') && sales != NULL)
        acct = jstr(sales, "AccountCode");
    struct rec *account = NULL;
    if (acct != NULL && acct[0] != '\0') {
        account = table_find(&o->tn->t[E_ACCOUNT], "Code", acct);
        if (account == NULL)
            return verr(o, "Account code '%s' is not a valid code for this document.", acct);
        if (setn(line, "AccountCode", json_string(acct)) != HS_OK)
            return HS_ENOMEM;
    } else if (authorised) {
        return verr(o, "Account code must be specified.");
    }
    const char *tt = jstr(line, "TaxType");
    if ((tt == NULL || tt[0] == '\0') && sales != NULL)
        tt = jstr(sales, "TaxType");
    if ((tt == NULL || tt[0] == '\0') && account != NULL)
        tt = jstr(account->obj, "TaxType");
    if (tt == NULL || tt[0] == '\0' || strcmp(lat, "NoTax") == 0)
        tt = strcmp(lat, "NoTax") == 0 ? "NONE" : (tt != NULL && tt[0] ? tt : "NONE");
    int64_t rates[MAX_RATES];
    size_t n_rates;
    if (!tax_rates(o, tt, rates, &n_rates))
        return verr(o,
                    "The TaxType code '%s' does not exist or cannot be used for this type of "
                    "transaction.",
                    tt);
    if (setn(line, "TaxType", json_string(tt)) != HS_OK)
        return HS_ENOMEM;
    /* line = qty * unit * (100 - disc) / 100, in minor units */
    hs_qbo_i128 num = (hs_qbo_i128)qty * unit * (100000000 - (has_disc ? disc : 0));
    hs_qbo_i128 den = (hs_qbo_i128)1000000 * 1000000 * 100000000 / pow10i(dec);
    int64_t amount = hs_qbo_div_round(num, den);
    if (amount == INT64_MAX || amount == INT64_MIN)
        return verr(o, "The line amount is too large.");
    if (has_given) {
        int64_t g = hs_qbo_div_round((hs_qbo_i128)given, pow10i(HS_QBO_SCALE - dec));
        if (g * pow10i(HS_QBO_SCALE - dec) != given || g != amount) {
            char a[40], b[40];
            hs_qbo_dec_format(given, HS_QBO_SCALE, a, sizeof a);
            hs_qbo_dec_format(amount, dec, b, sizeof b);
            return verr(o, "The line total %s does not match the expected line total %s.", a, b);
        }
    }
    int64_t tax = 0;
    int64_t sum_rate = 0;
    for (size_t i = 0; i < n_rates; i++)
        sum_rate += rates[i];
    if (strcmp(lat, "Exclusive") == 0) {
        for (size_t i = 0; i < n_rates; i++)
            tax += hs_qbo_div_round((hs_qbo_i128)amount * rates[i], (hs_qbo_i128)100000000);
    } else if (strcmp(lat, "Inclusive") == 0 && sum_rate > 0) {
        tax = hs_qbo_div_round((hs_qbo_i128)amount * sum_rate, (hs_qbo_i128)100000000 + sum_rate);
    }
    if (strcmp(lat, "Inclusive") == 0) {
        tot->sub += amount - tax;
        tot->total += amount;
    } else {
        tot->sub += amount;
        tot->total += amount + tax;
    }
    tot->tax += tax;
    if (has_disc && disc > 0)
        tot->discounted = true;
    int qdec = qty % 100 == 0 ? 4 : 6;
    int udec = unit % 10000 == 0 ? 2 : 4;
    rc = setn(line, "Quantity", hs_qbo_num(qty / pow10i(HS_QBO_SCALE - qdec), qdec));
    if (rc == HS_OK)
        rc = setn(line, "UnitAmount", hs_qbo_num(unit / pow10i(HS_QBO_SCALE - udec), udec));
    if (rc == HS_OK)
        rc = setn(line, "LineAmount", hs_qbo_num(amount, dec));
    if (rc == HS_OK)
        rc = setn(line, "TaxAmount", hs_qbo_num(tax, dec));
    if (rc == HS_OK && has_disc)
        rc = setn(line, "DiscountRate", hs_qbo_num_short(disc, HS_QBO_SCALE));
    if (rc == HS_OK && json_object_get(line, "Tracking") == NULL)
        rc = setn(line, "Tracking", json_array());
    if (rc == HS_OK && jstr(line, "LineItemID") == NULL) {
        char id[40];
        new_id(o->tn, id);
        rc = sets(line, "LineItemID", id);
    }
    return rc;
}

static const char *const doc_ro[] = {"SubTotal",
                                     "TotalTax",
                                     "Total",
                                     "AmountDue",
                                     "AmountPaid",
                                     "AmountCredited",
                                     "FullyPaidOnDate",
                                     "UpdatedDateUTC",
                                     "Payments",
                                     "CreditNotes",
                                     "Prepayments",
                                     "Overpayments",
                                     "HasAttachments",
                                     "IsDiscounted",
                                     "HasErrors",
                                     "ValidationErrors",
                                     "StatusAttributeString",
                                     "Warnings",
                                     "RemainingCredit",
                                     "Allocations",
                                     "AppliedAmount",
                                     "InvoiceID",
                                     "CreditNoteID",
                                     "DateString",
                                     "DueDateString",
                                     "TotalDiscount",
                                     "UpdatedDateUTCString",
                                     NULL};

/* Invoice (credit == false) or credit note. */
static int prepare_doc(struct op *o, bool credit, const json_t *in, struct rec *old, json_t **out)
{
    const char *type_want = credit ? "ACCRECCREDIT" : "ACCREC";
    const char *id_field = credit ? "CreditNoteID" : "InvoiceID";
    const char *num_field_name = credit ? "CreditNoteNumber" : "InvoiceNumber";
    int ent = credit ? E_CREDITNOTE : E_INVOICE;
    const char *old_status = old != NULL ? jstr(old->obj, "Status") : NULL;
    if (old != NULL && old_status == NULL)
        old_status = "DRAFT";
    if (old_status != NULL &&
        (strcmp(old_status, "PAID") == 0 || strcmp(old_status, "VOIDED") == 0 ||
         strcmp(old_status, "DELETED") == 0))
        return verr(o, "This document cannot be edited as it has a status of %s.", old_status);
    json_t *d = old != NULL ? json_deep_copy(old->obj) : json_object();
    if (d == NULL || merge(d, in, doc_ro) != HS_OK) {
        json_decref(d);
        return HS_ENOMEM;
    }
    int rc = HS_OK;
    /* copies: setting these fields frees the strings they were read from */
    char type_b[24], status_b[24], lat_b[24];
    const char *type = jstr(d, "Type");
    const char *status = jstr(d, "Status");
    const char *lat = jstr(d, "LineAmountTypes");
    if (type != NULL)
        type = copy_into(type_b, sizeof type_b, type);
    if (status != NULL)
        status = copy_into(status_b, sizeof status_b, status);
    if (lat != NULL)
        lat = copy_into(lat_b, sizeof lat_b, lat);
    struct rec *contact = NULL;
    int64_t paid = 0;
    bool has_paid = false;
    if (old != NULL &&
        hs_qbo_num_get(json_object_get(old->obj, "AmountPaid"), HS_QBO_SCALE, &paid) == HS_OK)
        has_paid = paid != 0;
    if (type == NULL)
        rc = verr(o, "The document Type must be specified (%s)", type_want);
    else if (strcmp(type, type_want) != 0)
        rc = verr(o, "Type must be %s: the sandbox supports only sales %s", type_want,
                  credit ? "credit notes" : "invoices");
    else if (lat != NULL && strcmp(lat, "Exclusive") != 0 && strcmp(lat, "Inclusive") != 0 &&
             strcmp(lat, "NoTax") != 0)
        rc = verr(o, "LineAmountTypes must be Exclusive, Inclusive or NoTax");
    if (rc == HS_OK && status == NULL)
        status = "DRAFT";
    if (rc == HS_OK) {
        bool ok;
        if (old == NULL)
            ok = strcmp(status, "DRAFT") == 0 || strcmp(status, "SUBMITTED") == 0 ||
                 strcmp(status, "AUTHORISED") == 0;
        else if (strcmp(status, old_status) == 0)
            ok = true;
        else if (strcmp(status, "DELETED") == 0)
            ok = strcmp(old_status, "DRAFT") == 0 || strcmp(old_status, "SUBMITTED") == 0;
        else if (strcmp(status, "VOIDED") == 0)
            ok = strcmp(old_status, "AUTHORISED") == 0 && !has_paid;
        else if (strcmp(status, "AUTHORISED") == 0 || strcmp(status, "SUBMITTED") == 0)
            ok = strcmp(old_status, "DRAFT") == 0 || strcmp(old_status, "SUBMITTED") == 0;
        else
            ok = false;
        if (!ok)
            rc = old == NULL
                     ? verr(o, "Status %s cannot be set on a new document", status)
                     : verr(o, "The status cannot change from %s to %s", old_status, status);
    }
    if (rc == HS_OK && lat == NULL)
        lat = "Exclusive";
    if (rc == HS_OK)
        rc = sets(d, "Status", status);
    if (rc == HS_OK)
        rc = sets(d, "LineAmountTypes", lat);
    if (rc == HS_OK)
        rc = resolve_contact(o, d, &contact);
    /* currency */
    const char *cur = rc == HS_OK ? jstr(d, "CurrencyCode") : NULL;
    const char *base = "USD";
    if (rc == HS_OK && (cur == NULL || cur[0] == '\0')) {
        const char *dc = contact != NULL ? jstr(contact->obj, "DefaultCurrency") : NULL;
        cur = dc != NULL && dc[0] != '\0' ? dc : base;
    }
    char cur_buf[8] = "";
    if (cur != NULL)
        snprintf(cur_buf, sizeof cur_buf, "%s", cur);
    if (rc == HS_OK && table_get(&o->tn->t[E_CURRENCY], cur_buf) == NULL)
        rc = verr(o, "The currency %s is not set up for this organisation.", cur_buf);
    if (rc == HS_OK)
        rc = sets(d, "CurrencyCode", cur_buf);
    if (rc == HS_OK) {
        int64_t rate;
        bool has;
        rc = num_field(o, d, "CurrencyRate", HS_QBO_SCALE, &rate, &has);
        if (rc == HS_OK && (!has || strcmp(cur_buf, base) == 0)) {
            int64_t per = hs_sbx_fx_per_usd_micro(cur_buf);
            rate = strcmp(cur_buf, base) == 0 || per <= 0 ? 1000000 : per;
        } else if (rc == HS_OK && rate <= 0) {
            rc = verr(o, "CurrencyRate must be positive");
        }
        if (rc == HS_OK)
            rc = setn(d, "CurrencyRate", hs_qbo_num_short(rate, HS_QBO_SCALE));
    }
    /* dates */
    int64_t today = o->now_ms / DAY_MS, date = today, due = 0;
    const char *ds = jstr(d, "Date");
    if (rc == HS_OK && ds != NULL && !date_days(ds, &date))
        rc = verr(o, "Date '%s' is not a valid date", ds);
    const char *dues = jstr(d, "DueDate");
    bool has_due = dues != NULL && dues[0] != '\0';
    if (rc == HS_OK && has_due && !date_days(dues, &due))
        rc = verr(o, "DueDate '%s' is not a valid date", dues);
    if (rc == HS_OK && !has_due)
        due = date + DEFAULT_DUE_DAY;
    if (rc == HS_OK && due < date)
        rc = verr(o, "The Due Date cannot be before the Date.");
    if (rc == HS_OK)
        rc = set_date(d, "Date", date);
    if (rc == HS_OK && !credit)
        rc = set_date(d, "DueDate", due);
    if (rc == HS_OK && credit)
        json_object_del(d, "DueDate");
    /* lines */
    json_t *lines = json_object_get(d, "LineItems");
    if (rc == HS_OK && lines == NULL) {
        rc = setn(d, "LineItems", json_array());
        lines = json_object_get(d, "LineItems");
    }
    if (rc == HS_OK && !json_is_array(lines))
        rc = verr(o, "LineItems must be an array");
    bool authorised = status != NULL && strcmp(status, "AUTHORISED") == 0;
    if (rc == HS_OK && authorised && json_array_size(lines) == 0)
        rc = verr(o, "At least one line item must be specified to approve a document.");
    int dec = currency_dec(cur_buf);
    struct totals tot = {0, 0, 0, false};
    size_t k;
    json_t *line;
    json_array_foreach(lines, k, line)
    {
        if (rc != HS_OK)
            break;
        rc = compute_line(o, line, k, lat, dec, authorised, &tot);
    }
    /* number */
    const char *num = rc == HS_OK ? jstr(d, num_field_name) : NULL;
    if (rc == HS_OK && (num == NULL || num[0] == '\0')) {
        char b[32];
        int64_t *next = credit ? &o->tn->next_cn : &o->tn->next_inv;
        do {
            snprintf(b, sizeof b, "%s-%04lld", credit ? "CN" : "INV", (long long)(*next)++);
        } while (table_find(&o->tn->t[ent], num_field_name, b) != NULL);
        rc = sets(d, num_field_name, b);
    } else if (rc == HS_OK) {
        struct rec *same = table_find(&o->tn->t[ent], num_field_name, num);
        if (same != NULL && same != old)
            rc = verr(o, "%s must be unique.", credit ? "Credit Note #" : "Invoice #");
    }
    /* totals */
    int64_t credited = 0;
    if (old != NULL)
        credited = num_or0(json_object_get(old->obj, "AmountCredited"), dec);
    if (rc == HS_OK)
        rc = setn(d, "SubTotal", hs_qbo_num(tot.sub, dec));
    if (rc == HS_OK)
        rc = setn(d, "TotalTax", hs_qbo_num(tot.tax, dec));
    if (rc == HS_OK)
        rc = setn(d, "Total", hs_qbo_num(tot.total, dec));
    if (rc == HS_OK)
        rc = setn(d, "IsDiscounted", json_boolean(tot.discounted));
    if (rc == HS_OK && !credit) {
        int64_t paid_minor = 0;
        if (old != NULL)
            paid_minor = num_or0(json_object_get(old->obj, "AmountPaid"), dec);
        int64_t due_amt = tot.total - paid_minor - credited;
        if (due_amt < 0)
            rc = verr(o, "The document total cannot be less than the amount already paid.");
        if (rc == HS_OK)
            rc = setn(d, "AmountDue", hs_qbo_num(strcmp(status, "VOIDED") == 0 ? 0 : due_amt, dec));
        if (rc == HS_OK)
            rc = setn(d, "AmountPaid", hs_qbo_num(paid_minor, dec));
        if (rc == HS_OK)
            rc = setn(d, "AmountCredited", hs_qbo_num(credited, dec));
    }
    if (rc == HS_OK && credit)
        rc = setn(d, "RemainingCredit",
                  hs_qbo_num(strcmp(status, "VOIDED") == 0 ? 0 : tot.total, dec));
    if (rc == HS_OK && old == NULL) {
        char id[40];
        new_id(o->tn, id);
        rc = sets(d, id_field, id);
        static const char *const arrays[] = {"Payments", "CreditNotes", "Prepayments",
                                             "Overpayments", "Allocations"};
        for (size_t i = credit ? 0 : 0; rc == HS_OK && i < 5; i++) {
            if (credit && (i == 1 || i == 2 || i == 3))
                continue;
            if (!credit && i == 4)
                continue;
            rc = setn(d, arrays[i], json_array());
        }
        if (rc == HS_OK)
            rc = setn(d, "HasAttachments", json_false());
        if (rc == HS_OK && json_object_get(d, "SentToContact") == NULL)
            rc = setn(d, "SentToContact", json_false());
    }
    if (rc == HS_OK)
        rc = setn(d, "HasErrors", json_false());
    if (rc != HS_OK) {
        json_decref(d);
        return rc;
    }
    *out = d;
    return HS_OK;
}

/* ---- payments ---- */

/* Applies (sign +1) or reverts (sign -1) amount (minor units) of payment pay to its invoice. */
static int apply_payment(struct op *o, const json_t *pay, int64_t amount, int sign)
{
    const char *inv_id = jstr(json_object_get(pay, "Invoice"), "InvoiceID");
    struct rec *r = table_get(&o->tn->t[E_INVOICE], inv_id);
    if (r == NULL)
        return HS_OK;
    json_t *inv = json_deep_copy(r->obj);
    if (inv == NULL)
        return HS_ENOMEM;
    int dec = currency_dec(jstr(inv, "CurrencyCode"));
    int64_t paid = 0, due = 0;
    paid = num_or0(json_object_get(inv, "AmountPaid"), dec);
    due = num_or0(json_object_get(inv, "AmountDue"), dec);
    paid += sign * amount;
    due -= sign * amount;
    int rc = setn(inv, "AmountPaid", hs_qbo_num(paid, dec));
    if (rc == HS_OK)
        rc = setn(inv, "AmountDue", hs_qbo_num(due, dec));
    json_t *list = json_object_get(inv, "Payments");
    const char *pid = jstr(pay, "PaymentID");
    if (rc == HS_OK && sign > 0) {
        if (!json_is_array(list)) {
            rc = setn(inv, "Payments", json_array());
            list = json_object_get(inv, "Payments");
        }
        json_t *p =
            json_pack("{s:s, s:O?, s:o, s:s?, s:O?}", "PaymentID", pid, "Date",
                      json_object_get(pay, "Date"), "Amount", hs_qbo_num(amount, dec), "Reference",
                      jstr(pay, "Reference"), "CurrencyRate", json_object_get(pay, "CurrencyRate"));
        if (rc == HS_OK && (p == NULL || json_array_append_new(list, drop_nulls(p)) != 0))
            rc = HS_ENOMEM;
    } else if (rc == HS_OK) {
        for (size_t i = 0; i < json_array_size(list); i++)
            if (hs_str_eq(jstr(json_array_get(list, i), "PaymentID"), pid)) {
                json_array_remove(list, i);
                break;
            }
    }
    if (rc == HS_OK && due == 0 && paid > 0) {
        rc = sets(inv, "Status", "PAID");
        if (rc == HS_OK)
            rc = setn(inv, "FullyPaidOnDate", json_deep_copy(json_object_get(pay, "Date")));
    } else if (rc == HS_OK && hs_str_eq(jstr(inv, "Status"), "PAID")) {
        rc = sets(inv, "Status", "AUTHORISED");
        json_object_del(inv, "FullyPaidOnDate");
    }
    if (rc != HS_OK) {
        json_decref(inv);
        return rc;
    }
    return store_replace(o, E_INVOICE, r, inv);
}

static int prepare_payment(struct op *o, const json_t *in, struct rec *old, json_t **out)
{
    if (old != NULL) {
        /* the only change Xero allows: {"Status":"DELETED"} */
        const char *st = jstr(in, "Status");
        if (!hs_str_eq(st, "DELETED"))
            return verr(o, "A payment can only be deleted (Status DELETED), not otherwise "
                           "changed.");
        if (hs_str_eq(jstr(old->obj, "Status"), "DELETED"))
            return verr(o, "This payment has already been deleted.");
        json_t *p = json_deep_copy(old->obj);
        if (p == NULL)
            return HS_ENOMEM;
        int dec = currency_dec(jstr(json_object_get(p, "Invoice"), "CurrencyCode"));
        int64_t amount = 0;
        amount = num_or0(json_object_get(p, "Amount"), dec);
        int rc = sets(p, "Status", "DELETED");
        if (rc == HS_OK)
            rc = apply_payment(o, p, amount, -1);
        if (rc != HS_OK) {
            json_decref(p);
            return rc;
        }
        *out = p;
        return HS_OK;
    }
    const json_t *ij = json_object_get(in, "Invoice");
    const char *inv_id = jstr(ij, "InvoiceID");
    const char *inv_num = jstr(ij, "InvoiceNumber");
    if (inv_num == NULL)
        inv_num = jstr(in, "InvoiceNumber");
    struct rec *inv = NULL;
    if (inv_id != NULL && inv_id[0] != '\0')
        inv = table_get(&o->tn->t[E_INVOICE], inv_id);
    else if (inv_num != NULL && inv_num[0] != '\0')
        inv = table_find(&o->tn->t[E_INVOICE], "InvoiceNumber", inv_num);
    else
        return verr(o, "You must specify either an Invoice, Credit Note, Prepayment or "
                       "Overpayment to apply the payment to.");
    if (inv == NULL)
        return verr(o, "Invoice could not be found");
    if (!hs_str_eq(jstr(inv->obj, "Status"), "AUTHORISED"))
        return verr(o, "Payment can only be made against Authorised documents");
    const json_t *aj = json_object_get(in, "Account");
    const char *acct_id = jstr(aj, "AccountID");
    const char *acct_code = jstr(aj, "Code");
    if (acct_code == NULL)
        acct_code = jstr(in, "Code");
    struct rec *acct = NULL;
    if (acct_id != NULL && acct_id[0] != '\0')
        acct = table_get(&o->tn->t[E_ACCOUNT], acct_id);
    else if (acct_code != NULL && acct_code[0] != '\0')
        acct = table_find(&o->tn->t[E_ACCOUNT], "Code", acct_code);
    else
        return verr(o, "You must specify an Account to make the payment from or to.");
    if (acct == NULL)
        return verr(o, "Account could not be found");
    if (!hs_str_eq(jstr(acct->obj, "Type"), "BANK") &&
        !json_is_true(json_object_get(acct->obj, "EnablePaymentsToAccount")))
        return verr(o,
                    "Payments cannot be made to account %s: it is not a bank account and does "
                    "not allow payments",
                    jstr(acct->obj, "Code"));
    const char *cur = jstr(inv->obj, "CurrencyCode");
    int dec = currency_dec(cur);
    int64_t amount, due = 0;
    bool has;
    int rc = num_field(o, in, "Amount", dec, &amount, &has);
    if (rc != HS_OK)
        return rc;
    if (!has || amount <= 0)
        return verr(o, "Payment amount must be greater than zero");
    due = num_or0(json_object_get(inv->obj, "AmountDue"), dec);
    if (amount > due)
        return verr(o, "Payment amount exceeds the amount outstanding on this document");
    int64_t date = o->now_ms / DAY_MS;
    const char *ds = jstr(in, "Date");
    if (ds != NULL && !date_days(ds, &date))
        return verr(o, "Date '%s' is not a valid date", ds);
    char id[40];
    new_id(o->tn, id);
    json_t *p = json_pack(
        "{s:s, s:{s:s, s:s?, s:s, s:O?, s:s}, s:{s:s, s:s?}, s:o, s:O?, s:s?, s:b, s:s, s:s, "
        "s:b, s:b}",
        "PaymentID", id, "Invoice", "InvoiceID", jstr(inv->obj, "InvoiceID"), "InvoiceNumber",
        jstr(inv->obj, "InvoiceNumber"), "Type", "ACCREC", "Contact",
        json_object_get(inv->obj, "Contact"), "CurrencyCode", cur, "Account", "AccountID",
        jstr(acct->obj, "AccountID"), "Code", jstr(acct->obj, "Code"), "Amount",
        hs_qbo_num(amount, dec), "CurrencyRate", json_object_get(inv->obj, "CurrencyRate"),
        "Reference", jstr(in, "Reference"), "IsReconciled", 0, "Status", "AUTHORISED",
        "PaymentType", "ACCRECPAYMENT", "HasAccount", 1, "HasValidationErrors", 0);
    if (p == NULL)
        return HS_ENOMEM;
    drop_nulls(p);
    drop_nulls(json_object_get(p, "Invoice"));
    rc = set_date(p, "Date", date);
    if (rc == HS_OK)
        json_object_del(p, "DateString");
    if (rc == HS_OK)
        rc = setn(p, "BankAmount", hs_qbo_num(amount, dec));
    if (rc == HS_OK)
        rc = apply_payment(o, p, amount, +1);
    if (rc != HS_OK) {
        json_decref(p);
        return rc;
    }
    *out = p;
    return HS_OK;
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
        return prepare_doc(o, false, in, old, out);
    case E_CREDITNOTE:
        return prepare_doc(o, true, in, old, out);
    case E_PAYMENT:
        return prepare_payment(o, in, old, out);
    default:
        return verr(o, "%s cannot be written in the sandbox", defs[e].plural);
    }
}

/*
 * Writes one element: creates it (no id), or updates the record with that id (POST only;
 * path_id overrides). *out is the answer's element: the stored record, or the input with
 * its ValidationErrors. Returns HS_OK, HS_EINVAL (validation) or HS_ENOMEM.
 */
static int write_one(struct op *o, int e, const json_t *in, bool put, const char *path_id,
                     json_t **out)
{
    *out = NULL;
    json_array_clear(o->errors);
    size_t mark = o->n_undo;
    size_t ev_mark = json_array_size(o->events);
    int rc;
    struct rec *old = NULL;
    if (!json_is_object(in)) {
        rc = verr(o, "Each element of %s must be an object", defs[e].plural);
    } else {
        const char *id = path_id != NULL ? path_id : jstr(in, defs[e].id_field);
        if (id != NULL && id[0] != '\0') {
            old = table_get(&o->tn->t[e], id);
            if (old == NULL && defs[e].alt != NULL && path_id != NULL)
                old = table_find(&o->tn->t[e], defs[e].alt, id);
            if (old == NULL)
                rc = verr(o, "No %s was found with the ID %s", defs[e].plural, id);
            else if (put)
                rc =
                    verr(o, "PUT only creates records: update %s %s with POST", defs[e].plural, id);
            else
                rc = HS_OK;
        } else {
            rc = HS_OK;
        }
        json_t *obj = NULL;
        if (rc == HS_OK)
            rc = prepare(o, e, in, old, &obj);
        if (rc == HS_OK)
            rc = old != NULL ? store_replace(o, e, old, obj) : store_add(o, e, obj, NULL);
        if (rc == HS_OK) {
            struct rec *r = old != NULL ? old : &o->tn->t[e].v[o->tn->t[e].n - 1];
            /* a shallow copy: stored records are never changed in place (every write
             * replaces the record with a new object), so sharing their members is safe */
            *out = json_copy(r->obj);
            if (*out == NULL || sets(*out, "StatusAttributeString", "OK") != HS_OK)
                rc = HS_ENOMEM;
        }
    }
    if (rc == HS_EINVAL) {
        /* undo what this element did before it failed (a contact made for an invoice) */
        while (o->n_undo > mark) {
            struct op tmp = *o;
            tmp.undo = o->undo + mark;
            tmp.n_undo = o->n_undo - mark;
            tmp.events = NULL;
            op_rollback(&tmp);
            o->n_undo = mark;
        }
        while (json_array_size(o->events) > ev_mark)
            json_array_remove(o->events, json_array_size(o->events) - 1);
        *out = json_is_object(in) ? json_deep_copy(in) : json_object();
        if (*out == NULL || setn(*out, "ValidationErrors", json_deep_copy(o->errors)) != HS_OK ||
            sets(*out, "StatusAttributeString", "ERROR") != HS_OK)
            return HS_ENOMEM;
        if (e == E_CONTACT || e == E_PAYMENT)
            (void)setn(*out, "HasValidationErrors", json_true());
        if (e == E_INVOICE || e == E_CREDITNOTE)
            (void)setn(*out, "HasErrors", json_true());
    }
    return rc;
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
        rc = hs_http_headers_set(&resp->headers, "Content-Type", "application/json; charset=utf-8");
    return rc;
}

/* Xero's problem answer: {"Type":null,"Title":..,"Status":..,"Detail":..,"Instance":..}. */
static int reply_problem(struct xero *x, struct hs_http_response *resp, int status,
                         const char *title, const char *detail)
{
    char inst[40];
    uint64_t h = mix64((uint64_t)hs_sbx_now_ms(x->sbx) ^ str_hash(detail));
    guid_from(h, mix64(h), inst, sizeof inst);
    return reply_json(resp, status,
                      json_pack("{s:n, s:s, s:i, s:s, s:s, s:{}}", "Type", "Title", title, "Status",
                                status, "Detail", detail, "Instance", inst, "Extensions"));
}

static int reply_exception(struct hs_http_response *resp, int status, int number, const char *type,
                           const char *message, json_t *elements)
{
    json_t *b =
        json_pack("{s:i, s:s, s:s}", "ErrorNumber", number, "Type", type, "Message", message);
    if (b != NULL && elements != NULL && json_object_set(b, "Elements", elements) != 0) {
        json_decref(b);
        b = NULL;
    }
    return reply_json(resp, status, b);
}

static int reply_not_found(struct hs_http_response *resp)
{
    return hs_http_response_text(resp, 404, "text/plain; charset=utf-8",
                                 "The resource you're looking for cannot be found");
}

static int xero_unauthorized(void *state, struct hs_http_response *resp, const char *why)
{
    (void)why;
    int rc = reply_problem(state, resp, 401, "Unauthorized", "AuthenticationUnsuccessful");
    if (rc == HS_OK)
        rc = hs_http_headers_set(&resp->headers, "WWW-Authenticate",
                                 "Bearer error=\"invalid_token\"");
    return rc;
}

static int throttled(struct xero *x, struct hs_http_response *resp, int retry_after_s,
                     const char *problem)
{
    int rc = reply_problem(x, resp, 429, "Too Many Requests",
                           "The API rate limit for your organisation/application pairing has "
                           "been exceeded");
    char ra[24];
    snprintf(ra, sizeof ra, "%d", retry_after_s > 0 ? retry_after_s : 1);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&resp->headers, "Retry-After", ra);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&resp->headers, "X-Rate-Limit-Problem", problem);
    return rc;
}

static int xero_throttled(void *state, struct hs_http_response *resp, int retry_after_s)
{
    return throttled(state, resp, retry_after_s, "minute");
}

/* More than 5 calls in flight for one tenant (sbx.c counts them): 429, problem "concurrent". */
static int xero_concurrent(void *state, struct hs_http_response *resp)
{
    return throttled(state, resp, 1, "concurrent");
}

struct call {
    struct op op;
    int64_t min_left, day_left, app_left;
    char *idem; /* Idempotency-Key of a write, or NULL */
};

static int limit_headers(const struct call *c, struct hs_http_response *resp)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)c->min_left);
    int rc = hs_http_headers_set(&resp->headers, "X-MinLimit-Remaining", b);
    snprintf(b, sizeof b, "%lld", (long long)c->day_left);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&resp->headers, "X-DayLimit-Remaining", b);
    snprintf(b, sizeof b, "%lld", (long long)c->app_left);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&resp->headers, "X-AppMinLimit-Remaining", b);
    return rc;
}

/*
 * Start of every accounting call: auth, tenant, limits, Idempotency-Key replay. Returns 1 when
 * resp holds the answer already, 0 to go on, < 0 on failure.
 */
static int begin(struct xero *x, const struct hs_http_request *req, struct hs_http_response *resp,
                 bool write, struct call *c)
{
    memset(c, 0, sizeof *c);
    const char *auth = hs_http_headers_get(&req->headers, "Authorization");
    if (!hs_sbx_auth_ok(x->sbx, &hs_sbx_xero_ops, auth, NULL)) {
        int rc = xero_unauthorized(x, resp, NULL);
        return rc == HS_OK ? 1 : rc;
    }
    const char *tid = hs_http_headers_get(&req->headers, "Xero-tenant-id");
    struct tenant *tn = tenant_find(x, tid);
    if (tn == NULL || tn->disconnected) {
        int rc = reply_problem(x, resp, 403, "Forbidden", "AuthorizationUnsuccessful");
        return rc == HS_OK ? 1 : rc;
    }
    c->min_left = MIN_LIMIT;
    c->day_left = DAY_LIMIT;
    c->app_left = APP_MIN_LIMIT;
    if (hs_sbx_rate_limits_on(x->sbx)) {
        char key[96];
        int64_t retry = 0;
        const char *problem = NULL;
        /* the minute first: a call refused for the minute does not use up the day */
        snprintf(key, sizeof key, "xero:%s:min", tn->id);
        if (!hs_sbx_rate_take(x->sbx, key, MIN_LIMIT, 60000, &c->min_left, &retry))
            problem = "minute";
        snprintf(key, sizeof key, "xero:%s:day", tn->id);
        if (problem == NULL &&
            !hs_sbx_rate_take(x->sbx, key, DAY_LIMIT, DAY_MS, &c->day_left, &retry))
            problem = "day";
        if (problem == NULL &&
            !hs_sbx_rate_take(x->sbx, "xero:app:min", APP_MIN_LIMIT, 60000, &c->app_left, &retry))
            problem = "appminute";
        if (problem != NULL) {
            /* a refused call takes nothing from the windows after the one that refused it:
             * their headers say what they really have left, not their full allowance */
            if (strcmp(problem, "minute") == 0)
                c->day_left = hs_sbx_rate_left(x->sbx, key, DAY_LIMIT, DAY_MS);
            if (strcmp(problem, "appminute") != 0)
                c->app_left = hs_sbx_rate_left(x->sbx, "xero:app:min", APP_MIN_LIMIT, 60000);
            int rc = throttled(x, resp, (int)((retry + 999) / 1000), problem);
            if (rc == HS_OK)
                rc = limit_headers(c, resp);
            return rc == HS_OK ? 1 : rc;
        }
    }
    c->op.x = x;
    c->op.tn = tn;
    c->op.now_ms = hs_sbx_now_ms(x->sbx);
    c->op.unitdp = 2;
    char *udp = hs_http_request_query(req, "unitdp");
    if (udp != NULL && strcmp(udp, "4") == 0)
        c->op.unitdp = 4;
    hs_free(udp);
    c->op.errors = json_array();
    c->op.events = json_array();
    if (c->op.errors == NULL || c->op.events == NULL) {
        op_release(&c->op);
        return HS_ENOMEM;
    }
    const char *key = hs_http_headers_get(&req->headers, "Idempotency-Key");
    if (write && key != NULL) {
        int rc;
        if (strlen(key) > IDEM_KEY_MAX || key[0] == '\0') {
            rc = reply_exception(resp, 400, 10, "ValidationException",
                                 "The Idempotency-Key header must be 1 to 128 characters", NULL);
        } else {
            const json_t *hit = json_object_get(tn->idem, key);
            if (hit == NULL) {
                c->idem = hs_strdup(key);
                if (c->idem == NULL) {
                    op_release(&c->op);
                    return HS_ENOMEM;
                }
                return 0;
            }
            rc = hs_http_response_text(resp, (int)json_integer_value(json_object_get(hit, "s")),
                                       "application/json; charset=utf-8", jstr(hit, "b"));
        }
        if (rc == HS_OK)
            rc = limit_headers(c, resp);
        op_release(&c->op);
        return rc == HS_OK ? 1 : rc;
    }
    return 0;
}

/* Finishes a call: limit headers, the Idempotency-Key's stored answer, release. */
static int finish(struct call *c, struct hs_http_response *resp, int rc)
{
    if (rc == HS_OK)
        rc = limit_headers(c, resp);
    struct tenant *tn = c->op.tn;
    if (rc == HS_OK && c->idem != NULL && resp->status < 500 && resp->status != 429) {
        /* the last IDEM_MAX keys are kept: the oldest goes (jansson keeps insertion order) */
        while (json_object_size(tn->idem) >= IDEM_MAX) {
            void *oldest = json_object_iter(tn->idem);
            char *k = oldest != NULL ? hs_strdup(json_object_iter_key(oldest)) : NULL;
            int drc = k != NULL ? json_object_del(tn->idem, k) : -1;
            hs_free(k);
            if (drc != 0)
                break;
        }
        char *body = hs_strndup(resp->body.data != NULL ? resp->body.data : "", resp->body.len);
        json_t *v = body != NULL ? json_pack("{s:i, s:s}", "s", resp->status, "b", body) : NULL;
        hs_free(body);
        if (v == NULL || json_object_set_new(tn->idem, c->idem, v) != 0)
            rc = HS_ENOMEM;
    }
    HS_FREE(c->idem);
    op_release(&c->op);
    return rc;
}

static int ent_by_plural(const char *s)
{
    for (int e = 0; s != NULL && e < N_ENT; e++)
        if (hs_str_ieq(defs[e].plural, s))
            return e;
    return -1;
}

static json_t *envelope(struct xero *x, int64_t now_ms)
{
    char id[40], when[48];
    uint64_t h = mix64((uint64_t)now_ms ^ (uint64_t)x->wh_seq ^ 0x5eed);
    guid_from(h, mix64(h + 1), id, sizeof id);
    msdate(now_ms, when, sizeof when);
    /* DateTimeUTC carries no offset in Xero's answers */
    char *plus = strchr(when, '+');
    if (plus != NULL)
        snprintf(plus, sizeof when - (size_t)(plus - when), ")/");
    return json_pack("{s:s, s:s, s:s, s:s}", "Id", id, "Status", "OK", "ProviderName",
                     PROVIDER_NAME, "DateTimeUTC", when);
}

/* ---- reads ---- */

struct sort_ctx {
    const struct hs_xero_order *order;
    const struct rec *v;
};

static void sort_idx(size_t *idx, size_t n, const struct sort_ctx *sc)
{
    /* insertion sort into a merge: stable, O(n log n) via bottom-up merge */
    size_t *tmp = hs_calloc(n ? n : 1, sizeof *tmp);
    if (tmp == NULL)
        return; /* leave the creation order */
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi)
                tmp[k++] = hs_xero_order_cmp(sc->order, sc->v[idx[b]].obj, sc->v[idx[a]].obj) < 0
                               ? idx[b++]
                               : idx[a++];
            while (a < mid)
                tmp[k++] = idx[a++];
            while (b < hi)
                tmp[k++] = idx[b++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
    hs_free(tmp);
}

/* True when the comma-separated list (case ignored) holds s. */
static bool list_has(const char *list, const char *s)
{
    if (s == NULL)
        return false;
    size_t n = strlen(s);
    for (const char *p = list; p != NULL && *p;) {
        while (*p == ' ' || *p == '"')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        size_t l2 = len;
        while (l2 > 0 && (p[l2 - 1] == ' ' || p[l2 - 1] == '"'))
            l2--;
        if (l2 == n) {
            size_t k = 0;
            while (k < n && ((p[k] | 32) == (s[k] | 32)))
                k++;
            if (k == n)
                return true;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return false;
}

static int bad_query(struct hs_http_response *resp, const char *what, const char *why)
{
    char msg[600];
    snprintf(msg, sizeof msg, "%s: %s", what, why);
    return reply_exception(resp, 400, 16, "QueryParseException", msg, NULL);
}

static int list(struct xero *x, struct call *c, int e, const struct hs_http_request *req,
                struct hs_http_response *resp)
{
    struct table *t = &c->op.tn->t[e];
    struct hs_error err;
    hs_error_clear(&err);
    char *where = hs_http_request_query(req, "where");
    char *order = hs_http_request_query(req, "order");
    char *ids = hs_http_request_query(req, "IDs");
    char *page_s = hs_http_request_query(req, "page");
    char *psize_s = hs_http_request_query(req, "pageSize");
    char *archived = hs_http_request_query(req, "includeArchived");
    char *statuses = e == E_INVOICE ? hs_http_request_query(req, "Statuses") : NULL;
    char *contact_ids = e == E_INVOICE ? hs_http_request_query(req, "ContactIDs") : NULL;
    char *numbers = e == E_INVOICE ? hs_http_request_query(req, "InvoiceNumbers") : NULL;
    const char *ims = hs_http_headers_get(&req->headers, "If-Modified-Since");
    struct hs_xero_where *w = NULL;
    struct hs_xero_order *ord = NULL;
    size_t *idx = NULL;
    json_t *arr = NULL, *body = NULL;
    int rc = HS_OK;
    int64_t since = 0, page = 0, psize = PAGE_SIZE;
    bool answered = false;
    if (where != NULL && where[0] != '\0' && (rc = hs_xero_where_parse(where, &w, &err)) != HS_OK) {
        rc = rc == HS_ENOMEM ? rc : bad_query(resp, "where", err.msg);
        answered = true;
    } else if (order != NULL && order[0] != '\0' &&
               (rc = hs_xero_order_parse(order, &ord, &err)) != HS_OK) {
        rc = rc == HS_ENOMEM ? rc : bad_query(resp, "order", err.msg);
        answered = true;
    } else if (ims != NULL && (defs[e].flags & F_IMS) && !hs_xero_time_parse(ims, &since)) {
        rc = reply_exception(resp, 400, 10, "ValidationException",
                             "The If-Modified-Since header is not a valid date", NULL);
        answered = true;
    } else if (page_s != NULL && (defs[e].flags & F_PAGED) &&
               (hs_str_to_i64(page_s, strlen(page_s), &page) != HS_OK || page < 1)) {
        rc = bad_query(resp, "page", "must be a whole number of 1 or more");
        answered = true;
    } else if (psize_s != NULL && (defs[e].flags & F_PAGED) &&
               (hs_str_to_i64(psize_s, strlen(psize_s), &psize) != HS_OK || psize < 1 ||
                psize > PAGE_SIZE_MAX)) {
        rc = bad_query(resp, "pageSize", "must be a whole number from 1 to 1000");
        answered = true;
    }
    if (rc != HS_OK || answered)
        goto done;
    /* a field the entity does not have is Xero's QueryParseException, not an empty answer */
    char why[160];
    for (size_t k = 0; w != NULL && k < w->n_terms && !answered; k++)
        if (!hs_xero_field_known(defs[e].schema, w->terms[k].field, why, sizeof why)) {
            rc = bad_query(resp, "where", why);
            answered = true;
        }
    for (size_t k = 0; ord != NULL && k < ord->n && !answered; k++)
        if (!hs_xero_field_known(defs[e].schema, ord->fields[k], why, sizeof why)) {
            rc = bad_query(resp, "order", why);
            answered = true;
        }
    if (rc != HS_OK || answered)
        goto done;
    if (!(defs[e].flags & F_PAGED))
        page = 0;
    idx = hs_calloc(t->n ? t->n : 1, sizeof *idx);
    if (idx == NULL) {
        rc = HS_ENOMEM;
        goto done;
    }
    size_t n = 0;
    bool incl_arch = archived != NULL && hs_str_ieq(archived, "true");
    for (size_t i = 0; i < t->n; i++) {
        const json_t *o = t->v[i].obj;
        if ((defs[e].flags & F_IMS) && ims != NULL && t->v[i].updated_ms < since)
            continue;
        if (e == E_CONTACT && !incl_arch && hs_str_eq(jstr(o, "ContactStatus"), "ARCHIVED"))
            continue;
        if (ids != NULL && ids[0] != '\0' && (defs[e].flags & F_IDS) &&
            !list_has(ids, jstr(o, defs[e].id_field)))
            continue;
        if (statuses != NULL && !list_has(statuses, jstr(o, "Status")))
            continue;
        if (contact_ids != NULL &&
            !list_has(contact_ids, jstr(json_object_get(o, "Contact"), "ContactID")))
            continue;
        if (numbers != NULL && !list_has(numbers, jstr(o, "InvoiceNumber")))
            continue;
        if (!hs_xero_where_match(w, o))
            continue;
        idx[n++] = i;
    }
    if (ord != NULL) {
        struct sort_ctx sc = {ord, t->v};
        sort_idx(idx, n, &sc);
    }
    size_t from = 0, to = n;
    if (page > 0) {
        from = (size_t)((page - 1) * psize);
        if (from > n)
            from = n;
        to = from + (size_t)psize < n ? from + (size_t)psize : n;
    }
    arr = json_array();
    /* without paging, Xero lists invoices and credit notes without their line items */
    bool summary = page == 0 && (e == E_INVOICE || e == E_CREDITNOTE);
    for (size_t k = from; arr != NULL && k < to; k++) {
        json_t *item = summary ? json_copy(t->v[idx[k]].obj) : json_incref(t->v[idx[k]].obj);
        if (item != NULL && summary)
            json_object_del(item, "LineItems");
        if (item == NULL || json_array_append_new(arr, item) != 0) {
            rc = HS_ENOMEM;
            goto done;
        }
    }
    body = envelope(x, c->op.now_ms);
    if (arr == NULL || body == NULL) {
        rc = HS_ENOMEM;
        goto done;
    }
    if (page > 0) {
        json_int_t pages = (json_int_t)((n + (size_t)psize - 1) / (size_t)psize);
        rc = setn(body, "pagination",
                  json_pack("{s:I, s:I, s:I, s:I}", "page", (json_int_t)page, "pageSize",
                            (json_int_t)psize, "pageCount", pages, "itemCount", (json_int_t)n));
    }
    if (rc == HS_OK) {
        rc = setn(body, defs[e].plural, arr);
        arr = NULL;
    }
    if (rc == HS_OK) {
        rc = reply_json(resp, 200, body);
        body = NULL;
    }
done:
    json_decref(arr);
    json_decref(body);
    hs_free(idx);
    hs_xero_where_free(w);
    hs_xero_order_free(ord);
    hs_free(where);
    hs_free(order);
    hs_free(ids);
    hs_free(page_s);
    hs_free(psize_s);
    hs_free(archived);
    hs_free(statuses);
    hs_free(contact_ids);
    hs_free(numbers);
    return rc;
}

static json_t *organisation(const struct tenant *tn)
{
    char created[48];
    msdate(tn->created_ms, created, sizeof created);
    return json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:b, s:s, s:i, s:i, s:s, s:s, "
                     "s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[], s:[], s:[], "
                     "s:{s:{s:i, s:s}}}",
                     "OrganisationID", tn->id, "Name", tn->name, "LegalName", tn->name, "PaysTax",
                     1, "Version", "GLOBAL", "OrganisationType", "COMPANY", "BaseCurrency", "USD",
                     "CountryCode", "US", "IsDemoCompany", 0, "OrganisationStatus", "ACTIVE",
                     "FinancialYearEndDay", 31, "FinancialYearEndMonth", 12, "SalesTaxBasis",
                     "ACCRUALS", "SalesTaxPeriod", "QUARTERLY1", "DefaultSalesTax", "Tax Exclusive",
                     "DefaultPurchasesTax", "Tax Exclusive", "CreatedDateUTC", created, "Timezone",
                     "UTC", "OrganisationEntityType", "COMPANY", "ShortCode", tn->short_code,
                     "Class", "STANDARD", "Edition", "BUSINESS", "Addresses", "Phones",
                     "ExternalLinks", "PaymentTerms", "Sales", "Day", DEFAULT_DUE_DAY, "Type",
                     "DAYSAFTERBILLDATE");
}

static int h_list(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                  struct hs_http_response *resp)
{
    struct xero *x = ud;
    struct call c;
    int rc = begin(x, req, resp, false, &c);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    const char *name = hs_route_param(m, "entity");
    int e = ent_by_plural(name);
    if (hs_str_ieq(name, "Organisation")) {
        json_t *body = envelope(x, c.op.now_ms);
        json_t *org = organisation(c.op.tn);
        rc = body != NULL && org != NULL ? setn(body, "Organisations", json_pack("[o]", org))
                                         : HS_ENOMEM;
        if (rc != HS_OK)
            json_decref(org);
        rc = rc == HS_OK ? reply_json(resp, 200, body) : (json_decref(body), rc);
    } else if (e < 0) {
        rc = reply_not_found(resp);
    } else {
        rc = list(x, &c, e, req, resp);
    }
    return finish(&c, resp, rc);
}

static int h_get(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                 struct hs_http_response *resp)
{
    struct xero *x = ud;
    struct call c;
    int rc = begin(x, req, resp, false, &c);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    int e = ent_by_plural(hs_route_param(m, "entity"));
    const char *id = hs_route_param(m, "id");
    struct rec *r = NULL;
    if (e >= 0) {
        r = table_get(&c.op.tn->t[e], id);
        if (r == NULL && defs[e].alt != NULL)
            r = table_find(&c.op.tn->t[e], defs[e].alt, id);
    }
    if (r == NULL) {
        rc = reply_not_found(resp);
    } else {
        json_t *body = envelope(x, c.op.now_ms);
        rc = body != NULL ? setn(body, defs[e].plural, json_pack("[O]", r->obj)) : HS_ENOMEM;
        rc = rc == HS_OK ? reply_json(resp, 200, body) : (json_decref(body), rc);
    }
    return finish(&c, resp, rc);
}

/* ---- writes over HTTP ---- */

static bool query_false(const struct hs_http_request *req, const char *key)
{
    char *v = hs_http_request_query(req, key);
    bool f = v != NULL && hs_str_ieq(v, "false");
    hs_free(v);
    return f;
}

static int write_request(struct xero *x, const struct hs_http_request *req,
                         const struct hs_route_match *m, struct hs_http_response *resp, bool put)
{
    struct call c;
    int rc = begin(x, req, resp, true, &c);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    int e = ent_by_plural(hs_route_param(m, "entity"));
    const char *path_id = hs_route_param(m, "id");
    json_t *body = NULL, *elements = NULL, *out = NULL;
    if (e < 0 || !(defs[e].flags & F_WRITE)) {
        rc = e < 0 ? reply_not_found(resp)
                   : reply_exception(resp, 400, 10, "ValidationException",
                                     "This endpoint is read-only in the sandbox", NULL);
        return finish(&c, resp, rc);
    }
    struct hs_error err;
    hs_error_clear(&err);
    rc = hs_qbo_json_parse((const uint8_t *)(req->body.data != NULL ? req->body.data : ""),
                           req->body.len, &body, &err);
    if (rc == HS_ENOMEM)
        return finish(&c, resp, rc);
    if (rc != HS_OK || !json_is_object(body)) {
        json_decref(body);
        rc = reply_exception(resp, 400, 14, "PostDataInvalidException",
                             "The request body is not valid JSON for this endpoint", NULL);
        return finish(&c, resp, rc);
    }
    const json_t *list_in = json_object_get(body, defs[e].plural);
    if (list_in == NULL && path_id != NULL)
        list_in = body; /* POST /Contacts/{id} with the bare element */
    if (json_is_object(list_in))
        elements = json_pack("[O]", list_in);
    else if (json_is_array(list_in))
        elements = json_incref((json_t *)list_in);
    if (elements == NULL) {
        json_decref(body);
        rc = reply_exception(resp, 400, 14, "PostDataInvalidException",
                             "The request body must hold an array of elements", NULL);
        return finish(&c, resp, rc);
    }
    if (path_id != NULL && json_array_size(elements) != 1) {
        json_decref(body);
        json_decref(elements);
        rc = reply_exception(resp, 400, 10, "ValidationException",
                             "A request to one record's URL must hold exactly one element", NULL);
        return finish(&c, resp, rc);
    }
    bool summarize = !query_false(req, "summarizeErrors");
    out = json_array();
    size_t failed = 0;
    size_t i;
    json_t *el;
    json_array_foreach(elements, i, el)
    {
        json_t *one = NULL;
        rc = write_one(&c.op, e, el, put, path_id, &one);
        if (rc == HS_EINVAL) {
            failed++;
            rc = HS_OK;
        }
        if (rc != HS_OK || out == NULL || one == NULL || json_array_append_new(out, one) != 0) {
            if (rc == HS_OK)
                json_decref(one);
            rc = HS_ENOMEM;
            break;
        }
    }
    if (rc == HS_OK && summarize && failed > 0) {
        op_rollback(&c.op);
        /* Xero lists the failing elements only */
        json_t *bad = json_array();
        for (size_t k = 0; bad != NULL && k < json_array_size(out); k++) {
            json_t *o = json_array_get(out, k);
            if (hs_str_eq(jstr(o, "StatusAttributeString"), "ERROR"))
                json_array_append(bad, o);
        }
        rc = bad != NULL ? reply_exception(resp, 400, 10, "ValidationException",
                                           "A validation exception occurred", bad)
                         : HS_ENOMEM;
        json_decref(bad);
    } else if (rc == HS_OK) {
        json_t *env = envelope(x, c.op.now_ms);
        rc = env != NULL ? setn(env, defs[e].plural, json_incref(out)) : HS_ENOMEM;
        rc = rc == HS_OK ? reply_json(resp, 200, env) : (json_decref(env), rc);
        if (rc == HS_OK) {
            size_t k;
            json_t *ev;
            json_array_foreach(c.op.events, k, ev)
            {
                hs_sbx_emit(x->sbx, &hs_sbx_xero_ops, ev);
            }
        }
    } else {
        op_rollback(&c.op);
    }
    json_decref(out);
    json_decref(elements);
    json_decref(body);
    return finish(&c, resp, rc);
}

static int h_put(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                 struct hs_http_response *resp)
{
    return write_request(ud, req, m, resp, true);
}

static int h_post(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                  struct hs_http_response *resp)
{
    return write_request(ud, req, m, resp, false);
}

/* ---- identity: connections and OAuth ---- */

static int h_connections(void *ud, const struct hs_http_request *req,
                         const struct hs_route_match *m, struct hs_http_response *resp)
{
    struct xero *x = ud;
    (void)m;
    if (!hs_sbx_auth_ok(x->sbx, &hs_sbx_xero_ops,
                        hs_http_headers_get(&req->headers, "Authorization"), NULL))
        return xero_unauthorized(x, resp, NULL);
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < x->n_tenants; i++) {
        const struct tenant *tn = x->tenants[i];
        if (tn->disconnected)
            continue;
        char when[40];
        /* xero-identity.yaml types these as date-time, which needs a zone: UTC, "Z" */
        hs_sbx_iso8601(tn->created_ms, when, sizeof when);
        char auth_event[40];
        guid_from(mix64(str_hash(tn->id) ^ 0xa0e7), mix64(str_hash(tn->name)), auth_event,
                  sizeof auth_event);
        json_t *c =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", tn->conn_id, "authEventId",
                      auth_event, "tenantId", tn->id, "tenantType", "ORGANISATION", "tenantName",
                      tn->name, "createdDateUtc", when, "updatedDateUtc", when);
        if (c == NULL || json_array_append_new(arr, c) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return reply_json(resp, 200, arr);
}

static int h_disconnect(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                        struct hs_http_response *resp)
{
    struct xero *x = ud;
    if (!hs_sbx_auth_ok(x->sbx, &hs_sbx_xero_ops,
                        hs_http_headers_get(&req->headers, "Authorization"), NULL))
        return xero_unauthorized(x, resp, NULL);
    const char *id = hs_route_param(m, "id");
    for (size_t i = 0; i < x->n_tenants; i++)
        if (hs_str_ieq(x->tenants[i]->conn_id, id) && !x->tenants[i]->disconnected) {
            x->tenants[i]->disconnected = true;
            resp->status = 204;
            hs_buf_reset(&resp->body);
            return HS_OK;
        }
    return reply_not_found(resp);
}

static int h_authorize(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                       struct hs_http_response *resp)
{
    struct xero *x = ud;
    (void)m;
    int rc = hs_sbx_oauth_authorize(x->sbx, &hs_sbx_xero_ops, NULL, req, resp);
    const char *loc = hs_http_headers_get(&resp->headers, "Location");
    if (rc == HS_OK && resp->status == 302 && loc != NULL && strstr(loc, "code=") != NULL)
        for (size_t i = 0; i < x->n_tenants; i++)
            x->tenants[i]->disconnected = false; /* consenting (re)connects every tenant */
    return rc;
}

static int h_token(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                   struct hs_http_response *resp)
{
    struct xero *x = ud;
    (void)m;
    static const struct hs_sbx_oauth_profile profile = {
        .access_ttl_s = 1800,
        .refresh_ttl_s = 60LL * 86400,
        .rotate_refresh = true,
    };
    int rc = hs_sbx_oauth_token(x->sbx, &hs_sbx_xero_ops, &profile, req, resp);
    if (rc != HS_OK || resp->status != 200)
        return rc;
    /* Xero adds the granted scope */
    json_t *b = json_loadb(resp->body.data, resp->body.len, 0, NULL);
    if (b == NULL)
        return HS_OK;
    char *scope = hs_http_request_query(req, "scope");
    rc = sets(b, "scope",
              scope != NULL ? scope
                            : "offline_access accounting.transactions "
                              "accounting.contacts accounting.settings");
    hs_free(scope);
    if (rc == HS_OK) {
        hs_buf_reset(&resp->body);
        rc = hs_json_dump(b, &resp->body);
    }
    json_decref(b);
    return rc;
}

/* ---- webhooks ---- */

static void sign(const char *key, const char *data, size_t len, char *out, size_t size)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    const char *k = key != NULL ? key : "";
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)k, strlen(k));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)data, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(out, size, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
}

#define SIG_LEN                                                                                    \
    sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES, sodium_base64_VARIANT_ORIGINAL)

/* Xero's delivery body: events plus their sequence numbers and some entropy. */
static json_t *delivery_body(const json_t *events, int64_t first, int64_t last)
{
    static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    char entropy[21];
    uint64_t h = mix64((uint64_t)first * 31 + (uint64_t)last);
    for (int i = 0; i < 20; i++) {
        entropy[i] = letters[h % 26];
        h = i % 8 == 7 ? mix64(h) : h / 26;
    }
    entropy[20] = '\0';
    return json_pack("{s:O, s:I, s:I, s:s}", "events", events, "firstEventSequence",
                     (json_int_t)first, "lastEventSequence", (json_int_t)last, "entropy", entropy);
}

static int xero_webhook_request(void *state, const json_t *events, const char *secret,
                                const char *url, struct hs_http_request *out)
{
    struct xero *x = state;
    size_t n = json_array_size(events);
    json_t *body = delivery_body(events, x->wh_seq + 1, x->wh_seq + (int64_t)n);
    if (body == NULL)
        return HS_ENOMEM;
    x->wh_seq += (int64_t)n;
    hs_buf_reset(&out->body);
    int rc = hs_json_dump(body, &out->body);
    json_decref(body);
    if (rc != HS_OK)
        return rc;
    char sig[SIG_LEN];
    sign(secret, out->body.data, out->body.len, sig, sizeof sig);
    rc = hs_http_request_set(out, "POST", url);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&out->headers, "Content-Type", "application/json");
    if (rc == HS_OK)
        rc = hs_http_headers_set(&out->headers, "x-xero-signature", sig);
    return rc;
}

/*
 * Intent to receive: POSTs an empty, correctly signed delivery and a wrongly signed one to
 * url, as Xero does when a webhook is saved, and reports whether the receiver answered 200
 * and 401 with empty bodies. The state lock is released while sending.
 */
static int h_intent(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                    struct hs_http_response *resp)
{
    struct xero *x = ud;
    (void)m;
    json_t *in = json_loadb(req->body.data != NULL ? req->body.data : "{}",
                            req->body.len ? req->body.len : 2, 0, NULL);
    const char *url = jstr(in, "url");
    const char *key = jstr(in, "key");
    if (url == NULL || key == NULL || !hs_sbx_wh_url_ok(url)) {
        json_decref(in);
        return hs_sbx_reply_error(resp, 400,
                                  "intent needs {\"url\": a loopback http(s) URL, \"key\": the "
                                  "webhook key}");
    }
    char *url_c = hs_strdup(url), *key_c = hs_strdup(key);
    json_decref(in);
    json_t *empty = json_array();
    json_t *body = empty != NULL ? delivery_body(empty, 0, 0) : NULL;
    json_decref(empty);
    struct hs_http_request rq[2];
    hs_http_request_init(&rq[0]);
    hs_http_request_init(&rq[1]);
    int rc = url_c != NULL && key_c != NULL && body != NULL ? HS_OK : HS_ENOMEM;
    for (int i = 0; rc == HS_OK && i < 2; i++) {
        rc = hs_http_request_set(&rq[i], "POST", url_c);
        if (rc == HS_OK)
            rc = hs_json_dump(body, &rq[i].body);
        char sig[SIG_LEN];
        sign(i == 0 ? key_c : "not-the-webhook-key", rq[i].body.data, rq[i].body.len, sig,
             sizeof sig);
        if (rc == HS_OK)
            rc = hs_http_headers_set(&rq[i].headers, "Content-Type", "application/json");
        if (rc == HS_OK)
            rc = hs_http_headers_set(&rq[i].headers, "x-xero-signature", sig);
    }
    json_decref(body);
    int got[2] = {0, 0};
    size_t body_len[2] = {0, 0};
    if (rc == HS_OK) {
        hs_sbx_unlock(x->sbx);
        struct hs_http_transport t = {NULL, NULL};
        struct hs_http_curl_options co = {2000, 5000, false};
        if (hs_http_curl_open(&co, &t, NULL) == HS_OK) {
            for (int i = 0; i < 2; i++) {
                struct hs_http_response r;
                hs_http_response_init(&r);
                if (hs_http_send(&t, &rq[i], &r, NULL) == HS_OK) {
                    got[i] = r.status;
                    body_len[i] = r.body.len;
                }
                hs_http_response_release(&r);
            }
            hs_http_transport_close(&t);
        }
        hs_sbx_lock(x->sbx);
    }
    hs_http_request_release(&rq[0]);
    hs_http_request_release(&rq[1]);
    hs_free(url_c);
    hs_free(key_c);
    if (rc != HS_OK)
        return rc;
    bool ok = got[0] == 200 && got[1] == 401 && body_len[0] == 0 && body_len[1] == 0;
    return hs_http_response_json_take(
        resp, 200,
        json_pack("{s:s, s:[{s:s, s:i, s:i, s:b}, {s:s, s:i, s:i, s:b}]}", "status",
                  ok ? "OK" : "FAILED", "checks", "signature", "correct", "expected", 200, "got",
                  got[0], "empty_body", body_len[0] == 0, "signature", "incorrect", "expected", 401,
                  "got", got[1], "empty_body", body_len[1] == 0));
}

/* ---- seed ---- */

struct seed_ctx {
    struct op op;
};

static int seed_add(struct op *o, int e, json_t *obj)
{
    if (obj == NULL)
        return HS_ENOMEM;
    char id[40];
    if (jstr(obj, defs[e].id_field) == NULL) {
        new_id(o->tn, id);
        if (sets(obj, defs[e].id_field, id) != HS_OK) {
            json_decref(obj);
            return HS_ENOMEM;
        }
    }
    if (set_msdate(obj, "UpdatedDateUTC", o->now_ms) != HS_OK) {
        json_decref(obj);
        return HS_ENOMEM;
    }
    return table_add(&o->tn->t[e], defs[e].id_field, obj, o->now_ms, NULL);
}

static int seed_base(struct op *o)
{
    static const struct {
        const char *type, *name;
        const char *comp[2];
        int64_t rate[2]; /* scale 4 */
    } rates[] = {
        {"NONE", "Tax Exempt", {"Tax Exempt", NULL}, {0, 0}},
        {"OUTPUT", "Tax on Sales", {"California State", "Santa Clara County"}, {72500, 10000}},
        {"TAX001", "VAT 20%", {"VAT", NULL}, {200000, 0}},
        {"TAX002", "VAT 5%", {"VAT", NULL}, {50000, 0}},
        {"TAX003", "GST 10%", {"GST", NULL}, {100000, 0}},
    };
    int rc = HS_OK;
    for (size_t i = 0; rc == HS_OK && i < sizeof rates / sizeof rates[0]; i++) {
        json_t *comps = json_array();
        int64_t sum = 0;
        for (int k = 0; comps != NULL && k < 2 && rates[i].comp[k] != NULL; k++) {
            sum += rates[i].rate[k];
            json_t *c =
                json_pack("{s:s, s:o, s:b, s:b}", "Name", rates[i].comp[k], "Rate",
                          hs_qbo_num(rates[i].rate[k], 4), "IsCompound", 0, "IsNonRecoverable", 0);
            if (c == NULL || json_array_append_new(comps, c) != 0) {
                json_decref(comps);
                comps = NULL;
            }
        }
        rc = comps != NULL
                 ? table_add(&o->tn->t[E_TAXRATE], "TaxType",
                             json_pack("{s:s, s:s, s:o, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:o, "
                                       "s:o}",
                                       "Name", rates[i].name, "TaxType", rates[i].type,
                                       "TaxComponents", comps, "Status", "ACTIVE", "ReportTaxType",
                                       sum > 0 ? "OUTPUT" : "NONE", "CanApplyToAssets", 1,
                                       "CanApplyToEquity", 1, "CanApplyToExpenses", 1,
                                       "CanApplyToLiabilities", 1, "CanApplyToRevenue", 1,
                                       "DisplayTaxRate", hs_qbo_num(sum, 4), "EffectiveRate",
                                       hs_qbo_num(sum, 4)),
                             o->now_ms, NULL)
                 : HS_ENOMEM;
    }
    for (size_t i = 0; rc == HS_OK && i < hs_sbx_fx_count(); i++) {
        const char *code = hs_sbx_fx_code(i);
        const struct hs_currency *cur = hs_currency_find(code);
        rc = table_add(
            &o->tn->t[E_CURRENCY], "Code",
            json_pack("{s:s, s:s}", "Code", code, "Description", cur != NULL ? cur->name : code),
            o->now_ms, NULL);
    }
    if (rc == HS_OK && table_get(&o->tn->t[E_CURRENCY], "USD") == NULL)
        rc =
            table_add(&o->tn->t[E_CURRENCY], "Code",
                      json_pack("{s:s, s:s}", "Code", "USD", "Description", "United States Dollar"),
                      o->now_ms, NULL);
    static const struct {
        const char *code, *name, *type, *cls, *tax, *sys;
    } accounts[] = {
        {"090", "Business Bank Account", "BANK", "ASSET", "NONE", NULL},
        {"200", "Sales", "REVENUE", "REVENUE", "OUTPUT", NULL},
        {"260", "Other Revenue", "REVENUE", "REVENUE", "OUTPUT", NULL},
        {"610", "Accounts Receivable", "CURRENT", "ASSET", "NONE", "DEBTORS"},
        {"820", "Sales Tax", "CURRLIAB", "LIABILITY", "NONE", "GST"},
    };
    for (size_t i = 0; rc == HS_OK && i < sizeof accounts / sizeof accounts[0]; i++) {
        json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:s?, s:b}", "Code",
                              accounts[i].code, "Name", accounts[i].name, "Type", accounts[i].type,
                              "Status", "ACTIVE", "Class", accounts[i].cls, "TaxType",
                              accounts[i].tax, "EnablePaymentsToAccount", 0, "ShowInExpenseClaims",
                              0, "SystemAccount", accounts[i].sys, "HasAttachments", 0);
        if (a != NULL && strcmp(accounts[i].type, "BANK") == 0 &&
            (sets(a, "BankAccountNumber", "121-0001-0000001") != HS_OK ||
             sets(a, "BankAccountType", "BANK") != HS_OK ||
             sets(a, "CurrencyCode", "USD") != HS_OK))
            HS_FREE(a);
        rc = seed_add(o, E_ACCOUNT, drop_nulls(a));
    }
    return rc;
}

/* A contact name not taken yet (appends " 2", " 3", ...). Caller frees. */
static char *unique_name(struct op *o, const char *name)
{
    char *n = hs_strdup(name);
    for (int k = 2; n != NULL && name_taken(o, n, NULL); k++) {
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
        const char *cur = co->currency[0] != '\0' ? co->currency : "USD";
        char *name = unique_name(o, co->acct_name);
        if (name == NULL)
            return HS_ENOMEM;
        json_t *c = json_pack(
            "{s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:s}], s:[{s:s, s:s}], s:s, s:s?, s:b, "
            "s:b, s:[], s:[], s:b, s:b}",
            "ContactStatus", "ACTIVE", "Name", name, "EmailAddress", co->acct_email, "Addresses",
            "AddressType", "POBOX", "AddressLine1", co->street, "City", co->city, "PostalCode",
            co->postcode, "Country", co->country, "Phones", "PhoneType", "DEFAULT", "PhoneNumber",
            co->phone, "DefaultCurrency", cur, "TaxNumber", co->tax_id[0] ? co->tax_id : NULL,
            "IsSupplier", 0, "IsCustomer", 1, "ContactPersons", "ContactGroups", "HasAttachments",
            0, "HasValidationErrors", 0);
        hs_free(name);
        drop_nulls(c);
        if (c != NULL && table_get(&o->tn->t[E_CURRENCY], cur) == NULL)
            rc = table_add(&o->tn->t[E_CURRENCY], "Code",
                           json_pack("{s:s, s:s}", "Code", cur, "Description", cur), o->now_ms,
                           NULL);
        if (rc == HS_OK)
            rc = seed_add(o, E_CONTACT, c);
        else
            json_decref(c);
    }
    for (size_t i = 0; rc == HS_OK && i < w->n_products; i++) {
        const struct hs_sbx_product *p = &w->products[i];
        if (!p->in_accounting || p->sku[0] == '\0' ||
            table_find(&o->tn->t[E_ITEM], "Code", p->sku) != NULL)
            continue;
        char name[sizeof p->name];
        size_t chars = 0, k = 0;
        for (; k < sizeof name - 1 && p->name[k] != '\0'; k++) { /* at most 50 characters */
            if (((unsigned char)p->name[k] & 0xC0) != 0x80 && ++chars > ITEM_NAME_MAX)
                break;
            name[k] = p->name[k];
        }
        name[k] = '\0';
        rc = seed_add(o, E_ITEM,
                      json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:{s:o, s:s}}", "Code", p->sku,
                                "Name", name, "Description", p->description, "IsSold", 1,
                                "IsPurchased", 0, "IsTrackedAsInventory", 0, "SalesDetails",
                                "UnitPrice",
                                hs_qbo_num(p->price_minor, hs_qbo_currency_decimals(p->currency)),
                                "AccountCode", "200"));
    }
    return rc;
}

static void tenant_ids(struct tenant *tn, uint64_t h)
{
    guid_from(mix64(h), mix64(h ^ 0x7e7a), tn->id, sizeof tn->id);
    guid_from(mix64(h + 17), mix64(h ^ 0xc011), tn->conn_id, sizeof tn->conn_id);
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint64_t s = mix64(h + 99);
    tn->short_code[0] = '!';
    for (int i = 1; i < 6; i++) {
        tn->short_code[i] = chars[s % 62];
        s /= 62;
    }
    tn->short_code[6] = '\0';
}

/* ---- module ops ---- */

static int xero_create(struct hs_sbx *sbx, void **out_state, struct hs_error *err)
{
    struct xero *x = hs_calloc(1, sizeof *x);
    if (x == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot create xero module: out of memory");
    x->sbx = sbx;
    *out_state = x;
    return HS_OK;
}

static void xero_destroy(void *state)
{
    struct xero *x = state;
    if (x == NULL)
        return;
    tenants_clear(x);
    hs_free(x);
}

static int xero_routes(void *state, struct hs_sbx *sbx)
{
    static const struct hs_sbx_route_def routes[] = {
        {"GET", "/identity/connect/authorize", h_authorize},
        {"POST", "/identity/connect/token", h_token},
        {"GET", "/connections", h_connections},
        {"DELETE", "/connections/{id}", h_disconnect},
        /* the identity spec spells it /Connections */
        {"GET", "/Connections", h_connections},
        {"DELETE", "/Connections/{id}", h_disconnect},
        {"POST", "/_sandbox/intent", h_intent},
        {"GET", "/api.xro/2.0/{entity}", h_list},
        {"GET", "/api.xro/2.0/{entity}/{id}", h_get},
        {"PUT", "/api.xro/2.0/{entity}", h_put},
        {"POST", "/api.xro/2.0/{entity}", h_post},
        {"POST", "/api.xro/2.0/{entity}/{id}", h_post},
    };
    return hs_sbx_routes(sbx, &hs_sbx_xero_ops, routes, sizeof routes / sizeof routes[0], state);
}

static int add_tenant(struct xero *x, const char *name, uint64_t h,
                      const struct hs_sbx_world *world, struct hs_error *err)
{
    struct tenant *tn = tenant_new(name, hs_sbx_now_ms(x->sbx));
    if (tn == NULL || tenants_add(x, tn) != HS_OK) {
        tenant_free(tn);
        return hs_error_set(err, HS_ENOMEM, "cannot reset xero: out of memory");
    }
    tenant_ids(tn, h);
    struct op o;
    memset(&o, 0, sizeof o);
    o.x = x;
    o.tn = tn;
    o.now_ms = tn->created_ms;
    o.unitdp = 2;
    int rc = seed_base(&o);
    if (rc == HS_OK && world != NULL)
        rc = seed_world(&o, world);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot seed xero tenant '%s': %s", name, hs_strerror(rc));
    return HS_OK;
}

static int xero_reset(void *state, const struct hs_sbx_world *world, struct hs_error *err)
{
    struct xero *x = state;
    tenants_clear(x);
    x->wh_seq = 0;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; world != NULL && i < world->n_companies; i++)
        h = mix64(h ^ str_hash(world->companies[i].name));
    int rc = add_tenant(x, SEED_TENANT, h, world, err);
    if (rc == HS_OK)
        rc = add_tenant(x, EMPTY_TENANT, mix64(h ^ 0xe3e3), NULL, err);
    return rc;
}

static json_t *xero_tenants(void *state)
{
    struct xero *x = state;
    json_t *ids = json_array();
    for (size_t i = 0; ids != NULL && i < x->n_tenants; i++)
        if (json_array_append_new(ids, json_string(x->tenants[i]->id)) != 0) {
            json_decref(ids);
            ids = NULL;
        }
    if (ids == NULL)
        return NULL;
    return json_pack("{s:s?, s:o}", "tenantId", x->n_tenants > 0 ? x->tenants[0]->id : NULL,
                     "tenantIds", ids);
}

static json_t *xero_save(void *state)
{
    struct xero *x = state;
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < x->n_tenants; i++) {
        const struct tenant *tn = x->tenants[i];
        json_t *tables = json_object();
        for (int e = 0; tables != NULL && e < N_ENT; e++) {
            json_t *recs = json_array();
            for (size_t k = 0; recs != NULL && k < tn->t[e].n; k++) {
                json_t *r = json_pack("{s:O, s:I}", "o", tn->t[e].v[k].obj, "u",
                                      (json_int_t)tn->t[e].v[k].updated_ms);
                if (r == NULL || json_array_append_new(recs, r) != 0) {
                    json_decref(recs);
                    recs = NULL;
                }
            }
            if (recs == NULL || json_object_set_new(tables, defs[e].plural, recs) != 0) {
                json_decref(tables);
                tables = NULL;
            }
        }
        json_t *tj =
            tables != NULL
                ? json_pack("{s:s, s:s, s:s, s:s, s:I, s:b, s:I, s:I, s:I, s:o, s:O}", "id", tn->id,
                            "conn_id", tn->conn_id, "name", tn->name, "short_code", tn->short_code,
                            "created", (json_int_t)tn->created_ms, "disconnected", tn->disconnected,
                            "id_seq", (json_int_t)tn->id_seq, "next_inv", (json_int_t)tn->next_inv,
                            "next_cn", (json_int_t)tn->next_cn, "tables", tables, "idem", tn->idem)
                : NULL;
        if (tj == NULL || json_array_append_new(arr, tj) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    if (arr == NULL)
        return NULL;
    /* records hold marked numbers: keep them as they are (load restores the same tree) */
    return json_pack("{s:o, s:I}", "tenants", arr, "wh_seq", (json_int_t)x->wh_seq);
}

static int xero_load(void *state, const json_t *saved, struct hs_error *err)
{
    struct xero *x = state;
    const json_t *arr = json_object_get(saved, "tenants");
    if (!json_is_array(arr))
        return hs_error_set(err, HS_EPROTO, "cannot load xero state: no 'tenants' array");
    tenants_clear(x);
    x->wh_seq = json_integer_value(json_object_get(saved, "wh_seq"));
    size_t i;
    json_t *tj;
    json_array_foreach(arr, i, tj)
    {
        const char *id = jstr(tj, "id");
        if (id == NULL || strlen(id) >= sizeof(((struct tenant *)0)->id))
            return hs_error_set(err, HS_EPROTO, "cannot load xero state: tenant %zu has no id", i);
        struct tenant *tn = tenant_new(jstr(tj, "name") ? jstr(tj, "name") : "",
                                       json_integer_value(json_object_get(tj, "created")));
        if (tn == NULL || tenants_add(x, tn) != HS_OK) {
            tenant_free(tn);
            return hs_error_set(err, HS_ENOMEM, "cannot load xero state: out of memory");
        }
        snprintf(tn->id, sizeof tn->id, "%s", id);
        snprintf(tn->conn_id, sizeof tn->conn_id, "%s",
                 jstr(tj, "conn_id") ? jstr(tj, "conn_id") : id);
        snprintf(tn->short_code, sizeof tn->short_code, "%s",
                 jstr(tj, "short_code") ? jstr(tj, "short_code") : "!sbx");
        tn->disconnected = json_is_true(json_object_get(tj, "disconnected"));
        tn->id_seq = (uint64_t)json_integer_value(json_object_get(tj, "id_seq"));
        tn->next_inv = json_integer_value(json_object_get(tj, "next_inv"));
        tn->next_cn = json_integer_value(json_object_get(tj, "next_cn"));
        if (tn->next_inv < 1)
            tn->next_inv = 1;
        if (tn->next_cn < 1)
            tn->next_cn = 1;
        const json_t *idem = json_object_get(tj, "idem");
        if (json_is_object(idem) && json_object_update(tn->idem, (json_t *)idem) != 0)
            return hs_error_set(err, HS_ENOMEM, "cannot load xero state: out of memory");
        const json_t *tables = json_object_get(tj, "tables");
        for (int e = 0; e < N_ENT; e++) {
            size_t k;
            json_t *r;
            json_array_foreach(json_object_get(tables, defs[e].plural), k, r)
            {
                json_t *o = json_object_get(r, "o");
                if (!json_is_object(o) || jstr(o, defs[e].id_field) == NULL)
                    return hs_error_set(err, HS_EPROTO,
                                        "cannot load xero state: record %zu of '%s' is not valid",
                                        k, defs[e].plural);
                int rc = table_add(&tn->t[e], defs[e].id_field, json_incref(o),
                                   json_integer_value(json_object_get(r, "u")), NULL);
                if (rc != HS_OK)
                    return hs_error_set(err, rc, "cannot load xero state: out of memory");
            }
        }
    }
    return HS_OK;
}

const struct hs_sbx_module_ops hs_sbx_xero_ops = {
    .name = "xero",
    .create = xero_create,
    .destroy = xero_destroy,
    .routes = xero_routes,
    .reset = xero_reset,
    .tenants = xero_tenants,
    .save = xero_save,
    .load = xero_load,
    .throttled = xero_throttled,
    .max_concurrent = 5,
    .concurrent_header = "Xero-tenant-id",
    .concurrent = xero_concurrent,
    .unauthorized = xero_unauthorized,
    .webhook_request = xero_webhook_request,
};
