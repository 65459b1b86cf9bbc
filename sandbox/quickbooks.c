/*
 * sandbox/quickbooks.c - QuickBooks Online Accounting API v3 emulator
 * (hs_sbx_quickbooks_ops).
 *
 * Design:     routes live under /quickbooks/v3/company/{realmId}/...: entity
 * create, read, full and sparse update with SyncToken, delete/void of Invoice
 * and Payment, the query language (qbo_query.c), cdc, batch, plus the OAuth2
 * endpoints and a small settings endpoint. Every API call goes through begin():
 * Bearer auth for the realm (401 in Intuit's lower-case "fault" shape), the
 * per-realm throttles (10/s and 500/min, batch 40/min, answered with the 429
 * ThrottleExceeded Fault), the minorversion check, and ?requestid= replay (the
 * first answer to a requestid is stored per realm and returned again, so a
 * retried create creates nothing). Entity writes are one function,
 * write_entity(), shared by the single endpoints and batch; a batch passes a
 * visibility horizon (each table's size when the batch started) so that items
 * cannot see records that earlier items created, as in QuickBooks. Records are
 * kept in QuickBooks' JSON shape (qbo.h explains numbers). Webhook events
 * (hs_sbx_emit) are raised for every create/update/delete/void and turned into
 * Intuit's eventNotifications payload, signed with intuit-signature.
 * Invariants: SyncToken is the decimal count of updates;
 * MetaData.LastUpdatedTime and hs_qbo_rec.updated_ms change together;
 * Customer.Balance is the sum of its open invoice balances. Threads: handlers
 * run under the sandbox state lock (sbx.h); no locking here. Ownership:  the
 * module state owns its realms; realms own their tables and replays. Not here:
 * invoice and payment arithmetic (qbo_txn.c), the query parser (qbo_query.c),
 *             number text and time (qbo_json.c), tables (qbo_store.c), the core
 * (sbx.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/currency.h"
#include "sandbox/qbo.h"
#include "sandbox/sbx.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

#define LATEST_MINOR      75
#define BATCH_MAX_DEFAULT 30
#define BATCH_MAX_LIMIT   1000
#define REPLAY_MAX        20000
#define CDC_MAX           1000
#define CDC_WINDOW_MS     (30LL * 86400000LL)
#define NAME_MAX_CHARS    500
#define DOCNUMBER_MAX     21
#define DEFAULT_REALM     "9130350000000001"

struct qbo {
    struct hs_sbx *sbx;
    struct hs_qbo_realm **realms;
    size_t n_realms;
    unsigned batch_max;
};

/* ---- entity definitions ---- */

enum ent_flags {
    F_CREATE = 1 << 0,    /* POST without Id creates */
    F_UPDATE = 1 << 1,    /* POST with Id updates */
    F_TXN = 1 << 2,       /* delete and void allowed */
    F_NAMELIST = 1 << 3,  /* queries default to Active = true; deactivate instead of delete */
    F_SINGLETON = 1 << 4, /* CompanyInfo, Preferences */
    F_NOID = 1 << 5,      /* ExchangeRate: no Id on the wire */
};

struct ent_def {
    const char *name; /* "Customer" */
    const char *path; /* "customer" */
    unsigned flags;
    const char *name_field; /* unique name, or NULL */
    const char *const *fields;
    const char *const *filters;
};

static const char *const customer_fields[] = {"Title",
                                              "GivenName",
                                              "MiddleName",
                                              "FamilyName",
                                              "Suffix",
                                              "FullyQualifiedName",
                                              "CompanyName",
                                              "DisplayName",
                                              "PrintOnCheckName",
                                              "Active",
                                              "PrimaryPhone",
                                              "AlternatePhone",
                                              "Mobile",
                                              "Fax",
                                              "PrimaryEmailAddr",
                                              "WebAddr",
                                              "DefaultTaxCodeRef",
                                              "Taxable",
                                              "BillAddr",
                                              "ShipAddr",
                                              "Notes",
                                              "Job",
                                              "BillWithParent",
                                              "ParentRef",
                                              "Level",
                                              "SalesTermRef",
                                              "PaymentMethodRef",
                                              "Balance",
                                              "BalanceWithJobs",
                                              "CurrencyRef",
                                              "PreferredDeliveryMethod",
                                              "ResaleNum",
                                              "AcctNum",
                                              "PrimaryTaxIdentifier",
                                              NULL};
static const char *const item_fields[] = {"Name",
                                          "Sku",
                                          "Description",
                                          "Active",
                                          "SubItem",
                                          "ParentRef",
                                          "Level",
                                          "FullyQualifiedName",
                                          "Taxable",
                                          "SalesTaxIncluded",
                                          "UnitPrice",
                                          "Type",
                                          "IncomeAccountRef",
                                          "PurchaseDesc",
                                          "PurchaseCost",
                                          "ExpenseAccountRef",
                                          "AssetAccountRef",
                                          "TrackQtyOnHand",
                                          "QtyOnHand",
                                          "InvStartDate",
                                          "SalesTaxCodeRef",
                                          NULL};
static const char *const invoice_fields[] = {"DocNumber",
                                             "TxnDate",
                                             "CurrencyRef",
                                             "ExchangeRate",
                                             "PrivateNote",
                                             "LinkedTxn",
                                             "Line",
                                             "TxnTaxDetail",
                                             "CustomerRef",
                                             "CustomerMemo",
                                             "BillAddr",
                                             "ShipAddr",
                                             "SalesTermRef",
                                             "DueDate",
                                             "GlobalTaxCalculation",
                                             "TotalAmt",
                                             "HomeTotalAmt",
                                             "ApplyTaxAfterDiscount",
                                             "PrintStatus",
                                             "EmailStatus",
                                             "BillEmail",
                                             "Balance",
                                             "HomeBalance",
                                             "Deposit",
                                             "AllowOnlinePayment",
                                             "AllowOnlineCreditCardPayment",
                                             "AllowOnlineACHPayment",
                                             "AutoDocNumber",
                                             "ClassRef",
                                             "DepartmentRef",
                                             NULL};
static const char *const payment_fields[] = {
    "TxnDate",      "CurrencyRef",         "ExchangeRate",     "PrivateNote",   "Line",
    "CustomerRef",  "DepositToAccountRef", "PaymentMethodRef", "PaymentRefNum", "TotalAmt",
    "UnappliedAmt", "ProcessPayment",      "ARAccountRef",     "LinkedTxn",     NULL};
static const char *const taxcode_fields[] = {
    "Name",    "Description", "Active",           "Hidden",
    "Taxable", "TaxGroup",    "SalesTaxRateList", "PurchaseTaxRateList",
    NULL};
static const char *const taxrate_fields[] = {"Name",        "Description", "Active",
                                             "RateValue",   "AgencyRef",   "SpecialTaxType",
                                             "DisplayType", NULL};
static const char *const term_fields[] = {"Name",
                                          "Active",
                                          "Type",
                                          "DiscountPercent",
                                          "DueDays",
                                          "DiscountDays",
                                          "DayOfMonthDue",
                                          "DueNextMonthDays",
                                          "DiscountDayOfMonth",
                                          NULL};
static const char *const account_fields[] = {
    "Name",           "SubAccount",         "ParentRef",
    "Description",    "FullyQualifiedName", "Active",
    "Classification", "AccountType",        "AccountSubType",
    "AcctNum",        "CurrentBalance",     "CurrentBalanceWithSubAccounts",
    "CurrencyRef",    "TaxCodeRef",         NULL};
static const char *const companyinfo_fields[] = {"CompanyName",
                                                 "LegalName",
                                                 "CompanyAddr",
                                                 "CustomerCommunicationAddr",
                                                 "LegalAddr",
                                                 "CompanyEmailAddr",
                                                 "CustomerCommunicationEmailAddr",
                                                 "CompanyURL",
                                                 "PrimaryPhone",
                                                 "CompanyStartDate",
                                                 "FiscalYearStartMonth",
                                                 "Country",
                                                 "Email",
                                                 "WebAddr",
                                                 "SupportedLanguages",
                                                 "DefaultTimeZone",
                                                 "NameValue",
                                                 NULL};
static const char *const preferences_fields[] = {"AccountingInfoPrefs",
                                                 "ProductAndServicesPrefs",
                                                 "SalesFormsPrefs",
                                                 "EmailMessagesPrefs",
                                                 "VendorAndPurchasesPrefs",
                                                 "TimeTrackingPrefs",
                                                 "TaxPrefs",
                                                 "CurrencyPrefs",
                                                 "ReportPrefs",
                                                 "OtherPrefs",
                                                 NULL};
static const char *const exchangerate_fields[] = {"SourceCurrencyCode", "TargetCurrencyCode",
                                                  "Rate", "AsOfDate", NULL};

static const char *const customer_filters[] = {"DisplayName", "CompanyName",      "GivenName",
                                               "FamilyName",  "PrimaryEmailAddr", "Active",
                                               "Balance",     "CurrencyRef",      NULL};
static const char *const item_filters[] = {"Name", "Sku", "Active", "Type", NULL};
static const char *const invoice_filters[] = {"DocNumber", "CustomerRef", "TxnDate", "DueDate",
                                              "TotalAmt",  "Balance",     NULL};
static const char *const payment_filters[] = {"CustomerRef", "TxnDate", "TotalAmt", NULL};
static const char *const named_filters[] = {"Name", "Active", NULL};
static const char *const account_filters[] = {"Name", "Active", "AccountType", "Classification",
                                              NULL};
static const char *const exchangerate_filters[] = {"SourceCurrencyCode", "AsOfDate", NULL};
static const char *const no_filters[] = {NULL};

/* Indexed by enum hs_qbo_ent. */
static const struct ent_def defs[HS_QBO_N_ENT] = {
    {"Customer", "customer", F_CREATE | F_UPDATE | F_NAMELIST, "DisplayName", customer_fields,
     customer_filters},
    {"Item", "item", F_CREATE | F_UPDATE | F_NAMELIST, "Name", item_fields, item_filters},
    {"Invoice", "invoice", F_CREATE | F_UPDATE | F_TXN, NULL, invoice_fields, invoice_filters},
    {"Payment", "payment", F_CREATE | F_UPDATE | F_TXN, NULL, payment_fields, payment_filters},
    {"TaxCode", "taxcode", F_NAMELIST, NULL, taxcode_fields, named_filters},
    {"TaxRate", "taxrate", F_NAMELIST, NULL, taxrate_fields, named_filters},
    {"Term", "term", F_CREATE | F_UPDATE | F_NAMELIST, NULL, term_fields, named_filters},
    {"Account", "account", F_CREATE | F_UPDATE | F_NAMELIST, NULL, account_fields, account_filters},
    {"CompanyInfo", "companyinfo", F_UPDATE | F_SINGLETON, NULL, companyinfo_fields, no_filters},
    {"Preferences", "preferences", F_UPDATE | F_SINGLETON, NULL, preferences_fields, no_filters},
    {"ExchangeRate", "exchangerate", F_UPDATE | F_NOID, NULL, exchangerate_fields,
     exchangerate_filters},
};

static int ent_by_name(const char *s, bool by_path)
{
    for (int e = 0; e < HS_QBO_N_ENT; e++)
        if (s != NULL && hs_str_ieq(s, by_path ? defs[e].path : defs[e].name))
            return e;
    return -1;
}

static bool in_list(const char *const *list, const char *s)
{
    for (; *list != NULL; list++)
        if (hs_str_ieq(*list, s))
            return true;
    return false;
}

/* The English name of an ISO 4217 currency (QuickBooks puts it in CurrencyRef.name). */
static const char *currency_name(const char *code)
{
    const struct hs_currency *cur = hs_currency_find(code);
    return cur ? cur->name : NULL;
}

/* ---- small JSON helpers ---- */

static const char *ref_value(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, key), "value"));
}

static json_t *ref_new(const char *value, const char *name)
{
    return name != NULL ? json_pack("{s:s, s:s}", "value", value, "name", name)
                        : json_pack("{s:s}", "value", value);
}

static int set_new(json_t *obj, const char *key, json_t *v)
{
    return json_object_set_new(obj, key, v) == 0 ? HS_OK : HS_ENOMEM;
}

static int set_str(json_t *obj, const char *key, const char *s)
{
    return set_new(obj, key, json_string(s));
}

/* ---- faults ---- */

int hs_qbo_fail(struct hs_qbo_ctx *c, const char *code, const char *element, const char *message,
                const char *detail_fmt, ...)
{
    struct hs_qbo_fault *f = c->fault;
    if (f == NULL)
        return HS_EINVAL;
    f->status = 400;
    snprintf(f->type, sizeof f->type, "ValidationFault");
    snprintf(f->code, sizeof f->code, "%s", code);
    snprintf(f->message, sizeof f->message, "%s", message);
    snprintf(f->element, sizeof f->element, "%s", element != NULL ? element : "");
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(f->detail, sizeof f->detail, detail_fmt, ap);
    va_end(ap);
    return HS_EINVAL;
}

int hs_qbo_fail_not_found(struct hs_qbo_ctx *c, const char *element)
{
    return hs_qbo_fail(c, "610", element, "Object Not Found",
                       "Object Not Found : Something you're trying to use has been made "
                       "inactive. Check the fields with accounts, customers, items, vendors or "
                       "employees.");
}

int hs_qbo_fail_required(struct hs_qbo_ctx *c, const char *element)
{
    return hs_qbo_fail(c, "2020", element,
                       "Required param missing, need to supply the required value for the API",
                       "Required parameter %s is missing in the request", element);
}

int hs_qbo_fail_business(struct hs_qbo_ctx *c, const char *element, const char *why)
{
    return hs_qbo_fail(c, "6000", element,
                       "A business validation error has occurred while processing your request",
                       "Business Validation Error: %s", why);
}

static int fail_stale(struct hs_qbo_ctx *c)
{
    return hs_qbo_fail(c, "5010", "SyncToken", "Stale Object Error",
                       "Stale Object Error : You and root were working on this at the same "
                       "time. "
                       "root finished before you did, so your work was not saved.");
}

static int fail_unsupported(struct hs_qbo_ctx *c, const char *what)
{
    return hs_qbo_fail(c, "500", NULL, "Unsupported Operation", "Operation %s is not supported.",
                       what);
}

/* {"Error":[{...}],"type":...} of a fault (new reference). */
static json_t *fault_body(const struct hs_qbo_fault *f)
{
    json_t *e =
        json_pack("{s:s, s:s, s:s}", "Message", f->message, "Detail", f->detail, "code", f->code);
    if (e != NULL && f->element[0] != '\0' &&
        json_object_set_new(e, "element", json_string(f->element)) != 0) {
        json_decref(e);
        return NULL;
    }
    if (e == NULL)
        return NULL;
    return json_pack("{s:[o], s:s}", "Error", e, "type", f->type);
}

/* ---- realms ---- */

static void realm_free(struct hs_qbo_realm *r)
{
    if (r == NULL)
        return;
    for (int e = 0; e < HS_QBO_N_ENT; e++)
        hs_qbo_table_release(&r->t[e]);
    for (size_t i = 0; i < r->n_replays; i++) {
        hs_free(r->replays[i].key);
        hs_free(r->replays[i].body);
    }
    hs_free(r->replays);
    hs_qbo_names_release(&r->replay_index);
    hs_free(r);
}

static struct hs_qbo_realm *realm_new(const char *id)
{
    struct hs_qbo_realm *r = hs_calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    snprintf(r->id, sizeof r->id, "%s", id);
    for (int e = 0; e < HS_QBO_N_ENT; e++)
        hs_qbo_table_init(&r->t[e]);
    r->next_docnum = 1001;
    return r;
}

static void realms_clear(struct qbo *q)
{
    for (size_t i = 0; i < q->n_realms; i++)
        realm_free(q->realms[i]);
    hs_free(q->realms);
    q->realms = NULL;
    q->n_realms = 0;
}

static int realms_add(struct qbo *q, struct hs_qbo_realm *r)
{
    struct hs_qbo_realm **v =
        hs_reallocarray(q->realms, q->n_realms + 1, sizeof(struct hs_qbo_realm *));
    if (v == NULL) {
        realm_free(r);
        return HS_ENOMEM;
    }
    q->realms = v;
    q->realms[q->n_realms++] = r;
    return HS_OK;
}

static struct hs_qbo_realm *realm_find(struct qbo *q, const char *id)
{
    for (size_t i = 0; i < q->n_realms; i++)
        if (id != NULL && strcmp(q->realms[i]->id, id) == 0)
            return q->realms[i];
    return NULL;
}

static void ctx_prefs(struct hs_qbo_ctx *c)
{
    snprintf(c->home, sizeof c->home, "USD");
    c->multicurrency = false;
    struct hs_qbo_table *t = &c->realm->t[HS_QBO_PREFERENCES];
    if (t->n == 0)
        return;
    json_t *cp = json_object_get(t->v[0].obj, "CurrencyPrefs");
    c->multicurrency = json_is_true(json_object_get(cp, "MultiCurrencyEnabled"));
    const char *home = ref_value(cp, "HomeCurrency");
    if (home != NULL && strlen(home) == 3)
        snprintf(c->home, sizeof c->home, "%s", home);
}

/* ---- shared record operations (declared in qbo.h) ---- */

struct hs_qbo_rec *hs_qbo_lookup(struct hs_qbo_ctx *c, enum hs_qbo_ent e, const char *id)
{
    struct hs_qbo_table *t = &c->realm->t[e];
    struct hs_qbo_rec *rec = NULL;
    if (id == NULL)
        return NULL;
    if (e == HS_QBO_TAXCODE && (id[0] < '0' || id[0] > '9')) {
        /* US pseudo codes "TAX" and "NON" are real records with non-numeric Ids */
        for (size_t i = 0; i < t->n && rec == NULL; i++)
            if (hs_str_eq(json_string_value(json_object_get(t->v[i].obj, "Id")), id))
                rec = &t->v[i];
    } else {
        rec = hs_qbo_table_get(t, id);
    }
    if (rec == NULL || rec->deleted)
        return NULL;
    if (c->horizon != NULL && (size_t)(rec - t->v) >= c->horizon[e])
        return NULL;
    return rec;
}

static int meta_set(json_t *obj, int64_t created_ms, int64_t updated_ms)
{
    char ct[40], ut[40];
    hs_qbo_time_format(created_ms, ct, sizeof ct);
    hs_qbo_time_format(updated_ms, ut, sizeof ut);
    return set_new(obj, "MetaData",
                   json_pack("{s:s, s:s}", "CreateTime", ct, "LastUpdatedTime", ut));
}

int hs_qbo_touch(struct hs_qbo_ctx *c, struct hs_qbo_rec *rec)
{
    const char *st = json_string_value(json_object_get(rec->obj, "SyncToken"));
    int64_t n = 0;
    if (st == NULL || hs_str_to_i64(st, strlen(st), &n) != HS_OK)
        n = 0;
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)n + 1);
    int rc = set_str(rec->obj, "SyncToken", buf);
    json_t *md = json_object_get(rec->obj, "MetaData");
    char ut[40];
    hs_qbo_time_format(c->now_ms, ut, sizeof ut);
    if (rc == HS_OK && json_is_object(md))
        rc = set_str(md, "LastUpdatedTime", ut);
    else if (rc == HS_OK)
        rc = meta_set(rec->obj, c->now_ms, c->now_ms);
    rec->updated_ms = c->now_ms;
    return rc;
}

int hs_qbo_customer_balance_add(struct hs_qbo_ctx *c, const char *customer_id, int64_t delta)
{
    struct hs_qbo_rec *cust = hs_qbo_table_get(&c->realm->t[HS_QBO_CUSTOMER], customer_id);
    if (cust == NULL || delta == 0)
        return HS_OK;
    const char *cur = ref_value(cust->obj, "CurrencyRef");
    int dec = hs_qbo_currency_decimals(cur != NULL ? cur : c->home);
    int64_t bal = 0;
    if (hs_qbo_num_get(json_object_get(cust->obj, "Balance"), dec, &bal) != HS_OK)
        bal = 0;
    bal += delta;
    int rc = set_new(cust->obj, "Balance", hs_qbo_num(bal, dec));
    if (rc == HS_OK)
        rc = set_new(cust->obj, "BalanceWithJobs", hs_qbo_num(bal, dec));
    return rc;
}

void hs_qbo_changed(struct hs_qbo_ctx *c, enum hs_qbo_ent e, const char *id, const char *operation)
{
    if (c->sbx == NULL || id == NULL || !hs_sbx_listening(c->sbx, &hs_sbx_quickbooks_ops))
        return;
    char ts[40];
    hs_qbo_time_format(c->now_ms, ts, sizeof ts);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s}", "realmId", c->realm->id, "name",
                           defs[e].name, "id", id, "operation", operation, "lastUpdated", ts);
    if (ev == NULL)
        return; /* out of memory: the event is lost, like a dropped delivery */
    hs_sbx_emit(c->sbx, &hs_sbx_quickbooks_ops, ev);
    json_decref(ev);
}

/* ---- entity validation ---- */

static const char *const server_fields[] = {"Id",     "SyncToken", "MetaData", "domain",
                                            "sparse", "status",    NULL};

static int check_fields(struct hs_qbo_ctx *c, enum hs_qbo_ent e, const json_t *body)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        if (in_list(server_fields, key) || in_list(defs[e].fields, key) ||
            strcmp(key, "CustomField") == 0)
            continue;
        return hs_qbo_fail(c, "2010", key, "Request has invalid or unsupported property",
                           "Property Name:Unrecognized field \"%s\" (class "
                           "com.intuit.schema.finance.v3.%s), not marked as ignorable specified "
                           "is unsupported or invalid",
                           key, defs[e].name);
    }
    return HS_OK;
}

/* Number of UTF-8 code points of s. */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Checks a name-list name: required, length, forbidden characters. Sets the
 * trimmed value. */
static int check_name(struct hs_qbo_ctx *c, json_t *obj, const char *field)
{
    const char *name = json_string_value(json_object_get(obj, field));
    if (name == NULL)
        return hs_qbo_fail_required(c, field);
    if (strpbrk(name, ":\t\n\r") != NULL)
        return hs_qbo_fail(c, "6000", field,
                           "A business validation error has occurred while processing your "
                           "request",
                           "Business Validation Error: Invalid character in %s. A name cannot "
                           "contain a colon (:), tab or newline.",
                           field);
    char *t = hs_str_trim(name);
    if (t == NULL)
        return HS_ENOMEM;
    size_t n = utf8_len(t);
    if (n == 0 || n > NAME_MAX_CHARS) {
        hs_free(t);
        if (n == 0)
            return hs_qbo_fail_required(c, field);
        return hs_qbo_fail(c, "2050", field,
                           "String length is either shorter or longer than supported by "
                           "specification",
                           "String length specified does not match the supported length. Min:1 "
                           "Max:%d supplied length:%zu",
                           NAME_MAX_CHARS, n);
    }
    int rc = set_new(obj, field, json_string(t));
    hs_free(t);
    return rc;
}

static int check_unique(struct hs_qbo_ctx *c, enum hs_qbo_ent e, const json_t *obj, long self)
{
    const char *field = defs[e].name_field;
    const char *name = json_string_value(json_object_get(obj, field));
    long idx = hs_qbo_names_find(&c->realm->t[e].names, name);
    if (idx < 0 || idx == self)
        return HS_OK;
    if (e == HS_QBO_CUSTOMER)
        return hs_qbo_fail(c, "6240", field, "Duplicate Name Exists Error",
                           "The name supplied already exists. : Another customer, vendor or "
                           "employee is already using this name. Please use a different name.");
    return hs_qbo_fail(c, "6240", field, "Duplicate Name Exists Error",
                       "The name supplied already exists. : Another product or service is "
                       "already using this name. Please provide a different name.");
}

/* Checks that ref field points to a live record of entity e (when present). */
static int check_ref(struct hs_qbo_ctx *c, const json_t *obj, const char *field, enum hs_qbo_ent e)
{
    json_t *r = json_object_get(obj, field);
    if (r == NULL)
        return HS_OK;
    const char *v = json_string_value(json_object_get(r, "value"));
    if (v == NULL)
        return hs_qbo_fail_required(c, field);
    if (hs_qbo_lookup(c, e, v) == NULL)
        return hs_qbo_fail_not_found(c, field);
    return HS_OK;
}

static int check_num(struct hs_qbo_ctx *c, const json_t *obj, const char *field, int scale)
{
    json_t *v = json_object_get(obj, field);
    int64_t n;
    if (v == NULL || json_is_null(v))
        return HS_OK;
    int rc = hs_qbo_num_get(v, scale, &n);
    if (rc == HS_OK)
        return HS_OK;
    return hs_qbo_fail(c, "2010", field, "Request has invalid or unsupported property",
                       "Property Name:%s specified is unsupported or invalid", field);
}

static int default_bool(json_t *obj, const char *key, bool v)
{
    json_t *cur = json_object_get(obj, key);
    if (json_is_boolean(cur))
        return HS_OK;
    return set_new(obj, key, json_boolean(v));
}

static int prepare_customer(struct hs_qbo_ctx *c, json_t *obj, struct hs_qbo_rec *old, long self)
{
    if (json_object_get(obj, "DisplayName") == NULL) {
        /* QuickBooks composes the display name from the person's name parts */
        static const char *const parts[] = {"Title", "GivenName", "MiddleName", "FamilyName",
                                            "Suffix"};
        char name[600] = "";
        for (size_t i = 0; i < 5; i++) {
            const char *p = json_string_value(json_object_get(obj, parts[i]));
            size_t used = strlen(name);
            if (p != NULL && *p != '\0' && used + strlen(p) + 2 < sizeof name)
                snprintf(name + used, sizeof name - used, "%s%s", used > 0 ? " " : "", p);
        }
        if (name[0] == '\0')
            return hs_qbo_fail(c, "6080", "DisplayName", "No Name Provided",
                               "Title, GivenName, MiddleName, FamilyName, DisplayName, Suffix - "
                               "one of these must be non-empty");
        if (set_str(obj, "DisplayName", name) != HS_OK)
            return HS_ENOMEM;
    }
    int rc = check_name(c, obj, "DisplayName");
    if (rc != HS_OK)
        return rc;
    const json_t *email = json_object_get(obj, "PrimaryEmailAddr");
    if (email != NULL &&
        (!json_is_object(email) || (json_object_get(email, "Address") != NULL &&
                                    !json_is_string(json_object_get(email, "Address")))))
        return hs_qbo_fail(c, "2010", "PrimaryEmailAddr",
                           "Request has invalid or unsupported property",
                           "Property Name:PrimaryEmailAddr specified is unsupported or invalid");
    const char *cur = ref_value(obj, "CurrencyRef");
    const char *old_cur = old != NULL ? ref_value(old->obj, "CurrencyRef") : NULL;
    if (cur == NULL)
        cur = old_cur != NULL ? old_cur : c->home;
    if (strlen(cur) != 3)
        return hs_qbo_fail(c, "2010", "CurrencyRef", "Request has invalid or unsupported property",
                           "Invalid currency code: %s", cur);
    if (strcmp(cur, c->home) != 0 && !c->multicurrency)
        return hs_qbo_fail_business(c, "CurrencyRef",
                                    "Multicurrency is not enabled for this company");
    if (old_cur != NULL && strcmp(cur, old_cur) != 0)
        return hs_qbo_fail_business(c, "CurrencyRef",
                                    "You can't change the currency of a customer");
    char curbuf[4];
    snprintf(curbuf, sizeof curbuf, "%s", cur);
    rc = set_new(obj, "CurrencyRef", ref_new(curbuf, currency_name(curbuf)));
    if (rc == HS_OK)
        rc = check_ref(c, obj, "SalesTermRef", HS_QBO_TERM);
    if (rc != HS_OK)
        return rc;
    bool active = !json_is_false(json_object_get(obj, "Active"));
    if (!active && (old == NULL || !json_is_false(json_object_get(old->obj, "Active")))) {
        /* QuickBooks renames a customer it makes inactive, freeing the name */
        const char *dn = json_string_value(json_object_get(obj, "DisplayName"));
        if (!hs_str_ends(dn, " (deleted)")) {
            char *renamed = hs_asprintf("%s (deleted)", dn);
            for (int k = 2; renamed != NULL && k < 1000; k++) {
                long idx = hs_qbo_names_find(&c->realm->t[HS_QBO_CUSTOMER].names, renamed);
                if (idx < 0 || idx == self)
                    break;
                hs_free(renamed);
                renamed = hs_asprintf("%s (deleted-%d)", dn, k);
            }
            if (renamed == NULL)
                return HS_ENOMEM;
            rc = set_str(obj, "DisplayName", renamed);
            hs_free(renamed);
            if (rc != HS_OK)
                return rc;
        }
    }
    rc = check_unique(c, HS_QBO_CUSTOMER, obj, self);
    if (rc != HS_OK)
        return rc;
    const char *dn = json_string_value(json_object_get(obj, "DisplayName"));
    rc = set_str(obj, "FullyQualifiedName", dn);
    if (rc == HS_OK && json_object_get(obj, "PrintOnCheckName") == NULL)
        rc = set_str(obj, "PrintOnCheckName", dn);
    if (rc == HS_OK)
        rc = default_bool(obj, "Active", true);
    if (rc == HS_OK)
        rc = default_bool(obj, "Taxable", true);
    if (rc == HS_OK)
        rc = default_bool(obj, "Job", false);
    if (rc == HS_OK)
        rc = default_bool(obj, "BillWithParent", false);
    /* Balance is computed from invoices, never taken from the request */
    int dec = hs_qbo_currency_decimals(curbuf);
    int64_t bal = 0;
    if (old != NULL && hs_qbo_num_get(json_object_get(old->obj, "Balance"), dec, &bal) != HS_OK)
        bal = 0;
    if (rc == HS_OK)
        rc = set_new(obj, "Balance", hs_qbo_num(bal, dec));
    if (rc == HS_OK)
        rc = set_new(obj, "BalanceWithJobs", hs_qbo_num(bal, dec));
    if (rc == HS_OK && json_object_get(obj, "PreferredDeliveryMethod") == NULL)
        rc = set_str(obj, "PreferredDeliveryMethod", "Print");
    return rc;
}

static int prepare_item(struct hs_qbo_ctx *c, json_t *obj, long self)
{
    int rc = check_name(c, obj, "Name");
    if (rc == HS_OK)
        rc = check_unique(c, HS_QBO_ITEM, obj, self);
    if (rc != HS_OK)
        return rc;
    const char *type = json_string_value(json_object_get(obj, "Type"));
    if (type == NULL)
        type = "Service";
    if (strcmp(type, "Service") != 0 && strcmp(type, "NonInventory") != 0 &&
        strcmp(type, "Inventory") != 0 && strcmp(type, "Category") != 0)
        return hs_qbo_fail(c, "2010", "Type", "Request has invalid or unsupported property",
                           "Property Name:Type specified is unsupported or invalid: %s", type);
    char tbuf[16];
    snprintf(tbuf, sizeof tbuf, "%s", type);
    if (strcmp(tbuf, "Category") != 0 && json_object_get(obj, "IncomeAccountRef") == NULL)
        return hs_qbo_fail_required(c, "IncomeAccountRef");
    rc = check_ref(c, obj, "IncomeAccountRef", HS_QBO_ACCOUNT);
    if (rc == HS_OK)
        rc = check_num(c, obj, "UnitPrice", HS_QBO_SCALE);
    if (rc == HS_OK)
        rc = check_num(c, obj, "PurchaseCost", HS_QBO_SCALE);
    if (rc == HS_OK)
        rc = check_num(c, obj, "QtyOnHand", HS_QBO_SCALE);
    if (rc != HS_OK)
        return rc;
    const char *name = json_string_value(json_object_get(obj, "Name"));
    rc = set_str(obj, "FullyQualifiedName", name);
    if (rc == HS_OK)
        rc = set_str(obj, "Type", tbuf);
    if (rc == HS_OK)
        rc = default_bool(obj, "Active", true);
    if (rc == HS_OK)
        rc = default_bool(obj, "Taxable", false);
    if (rc == HS_OK)
        rc = default_bool(obj, "TrackQtyOnHand", false);
    if (rc == HS_OK && json_object_get(obj, "UnitPrice") == NULL)
        rc = set_new(obj, "UnitPrice", hs_qbo_num(0, 0));
    return rc;
}

static int prepare_term(struct hs_qbo_ctx *c, json_t *obj)
{
    int rc = check_name(c, obj, "Name");
    if (rc == HS_OK)
        rc = check_num(c, obj, "DueDays", 0);
    if (rc == HS_OK)
        rc = check_num(c, obj, "DiscountPercent", HS_QBO_SCALE);
    if (rc == HS_OK && json_object_get(obj, "Type") == NULL)
        rc = set_str(obj, "Type", "STANDARD");
    if (rc == HS_OK)
        rc = default_bool(obj, "Active", true);
    return rc;
}

static const char *account_class(const char *type)
{
    static const struct {
        const char *type;
        const char *cls;
    } map[] = {{"Bank", "Asset"},
               {"Accounts Receivable", "Asset"},
               {"Other Current Asset", "Asset"},
               {"Fixed Asset", "Asset"},
               {"Other Asset", "Asset"},
               {"Accounts Payable", "Liability"},
               {"Credit Card", "Liability"},
               {"Other Current Liability", "Liability"},
               {"Long Term Liability", "Liability"},
               {"Equity", "Equity"},
               {"Income", "Revenue"},
               {"Other Income", "Revenue"},
               {"Cost of Goods Sold", "Expense"},
               {"Expense", "Expense"},
               {"Other Expense", "Expense"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (type != NULL && strcmp(map[i].type, type) == 0)
            return map[i].cls;
    return NULL;
}

static int prepare_account(struct hs_qbo_ctx *c, json_t *obj)
{
    int rc = check_name(c, obj, "Name");
    if (rc != HS_OK)
        return rc;
    const char *type = json_string_value(json_object_get(obj, "AccountType"));
    if (type == NULL)
        return hs_qbo_fail(c, "6010", "AccountType",
                           "Invalid Account.AccountType && Account.SubType",
                           "Either an Account.AccountType or an Account.AccountSubType must be "
                           "specified");
    const char *cls = account_class(type);
    if (cls == NULL)
        return hs_qbo_fail(c, "2010", "AccountType", "Request has invalid or unsupported property",
                           "Property Name:AccountType specified is unsupported or invalid: %s",
                           type);
    rc = set_str(obj, "Classification", cls);
    if (rc == HS_OK)
        rc = set_str(obj, "FullyQualifiedName", json_string_value(json_object_get(obj, "Name")));
    if (rc == HS_OK)
        rc = default_bool(obj, "Active", true);
    if (rc == HS_OK)
        rc = default_bool(obj, "SubAccount", false);
    if (rc == HS_OK && json_object_get(obj, "CurrentBalance") == NULL)
        rc = set_new(obj, "CurrentBalance", hs_qbo_num(0, 0));
    if (rc == HS_OK && json_object_get(obj, "CurrencyRef") == NULL)
        rc = set_new(obj, "CurrencyRef", ref_new(c->home, currency_name(c->home)));
    return rc;
}

static int prepare_invoice(struct hs_qbo_ctx *c, json_t *obj, struct hs_qbo_rec *old)
{
    int64_t paid = old != NULL ? hs_qbo_invoice_paid(old->obj) : 0;
    if (old != NULL && paid > 0) {
        const char *a = ref_value(obj, "CustomerRef");
        const char *b = ref_value(old->obj, "CustomerRef");
        if (a != NULL && b != NULL && strcmp(a, b) != 0)
            return hs_qbo_fail_business(c, "CustomerRef",
                                        "You can't change the customer of an invoice that has "
                                        "payments applied");
    }
    /* payments stay linked through full updates */
    if (old != NULL) {
        json_t *links = json_array();
        size_t i;
        json_t *lt;
        if (links == NULL)
            return HS_ENOMEM;
        json_array_foreach(json_object_get(old->obj, "LinkedTxn"), i, lt)
        {
            if (json_array_append(links, lt) != 0) {
                json_decref(links);
                return HS_ENOMEM;
            }
        }
        if (set_new(obj, "LinkedTxn", links) != HS_OK)
            return HS_ENOMEM;
    } else {
        json_object_del(obj, "LinkedTxn");
        if (set_new(obj, "LinkedTxn", json_array()) != HS_OK)
            return HS_ENOMEM;
    }
    const char *doc = json_string_value(json_object_get(obj, "DocNumber"));
    if (doc != NULL && utf8_len(doc) > DOCNUMBER_MAX)
        return hs_qbo_fail(c, "2050", "DocNumber",
                           "String length is either shorter or longer than supported by "
                           "specification",
                           "String length specified does not match the supported length. Min:0 "
                           "Max:%d supplied length:%zu",
                           DOCNUMBER_MAX, utf8_len(doc));
    int rc = hs_qbo_invoice_compute(c, obj, paid);
    if (rc != HS_OK)
        return rc;
    if (doc == NULL && old == NULL) {
        char buf[24];
        snprintf(buf, sizeof buf, "%lld", (long long)c->realm->next_docnum++);
        rc = set_str(obj, "DocNumber", buf);
    } else if (doc == NULL) {
        rc = set_new(obj, "DocNumber", json_deep_copy(json_object_get(old->obj, "DocNumber")));
    }
    json_object_del(obj, "AutoDocNumber");
    if (rc == HS_OK && json_object_get(obj, "PrintStatus") == NULL)
        rc = set_str(obj, "PrintStatus", "NotSet");
    if (rc == HS_OK && json_object_get(obj, "EmailStatus") == NULL)
        rc = set_str(obj, "EmailStatus", "NotSet");
    if (rc == HS_OK)
        rc = default_bool(obj, "ApplyTaxAfterDiscount", false);
    return rc;
}

static int prepare_exchangerate(struct hs_qbo_ctx *c, json_t *obj)
{
    int64_t rate;
    json_t *v = json_object_get(obj, "Rate");
    if (v == NULL)
        return hs_qbo_fail_required(c, "Rate");
    if (hs_qbo_num_get(v, HS_QBO_SCALE, &rate) != HS_OK || rate <= 0)
        return hs_qbo_fail(c, "2010", "Rate", "Request has invalid or unsupported property",
                           "Property Name:Rate specified is unsupported or invalid");
    return set_new(obj, "Rate", hs_qbo_num_short(rate, HS_QBO_SCALE));
}

static int prepare_preferences(struct hs_qbo_ctx *c, json_t *obj)
{
    json_t *cp = json_object_get(obj, "CurrencyPrefs");
    if (cp == NULL)
        return HS_OK;
    const char *home = ref_value(cp, "HomeCurrency");
    if (home != NULL && strcmp(home, c->home) != 0) {
        if (c->realm->t[HS_QBO_INVOICE].n > 0 || c->realm->t[HS_QBO_PAYMENT].n > 0)
            return hs_qbo_fail_business(c, "CurrencyPrefs.HomeCurrency",
                                        "You can't change the home currency once transactions "
                                        "exist");
        if (strlen(home) != 3)
            return hs_qbo_fail(c, "2010", "CurrencyPrefs.HomeCurrency",
                               "Request has invalid or unsupported property",
                               "Invalid currency code: %s", home);
    }
    return HS_OK;
}

/* Entity-specific checks and computed fields for a candidate object (obj, owned
 * by caller). */
static int prepare(struct hs_qbo_ctx *c, enum hs_qbo_ent e, json_t *obj, struct hs_qbo_rec *old,
                   long self)
{
    switch (e) {
    case HS_QBO_CUSTOMER:
        return prepare_customer(c, obj, old, self);
    case HS_QBO_ITEM:
        return prepare_item(c, obj, self);
    case HS_QBO_INVOICE:
        return prepare_invoice(c, obj, old);
    case HS_QBO_PAYMENT:
        return hs_qbo_payment_check(
            c, obj, old != NULL ? json_string_value(json_object_get(old->obj, "Id")) : NULL);
    case HS_QBO_TERM:
        return prepare_term(c, obj);
    case HS_QBO_ACCOUNT:
        return prepare_account(c, obj);
    case HS_QBO_EXCHANGERATE:
        return prepare_exchangerate(c, obj);
    case HS_QBO_PREFERENCES:
        return prepare_preferences(c, obj);
    default:
        return HS_OK;
    }
}

/* ---- writes ---- */

/* {"<Entity>": obj} (obj borrowed). */
static json_t *wrap(enum hs_qbo_ent e, json_t *obj)
{
    return json_pack("{s:O}", defs[e].name, obj);
}

static json_t *deleted_stub(enum hs_qbo_ent e, const struct hs_qbo_rec *rec, bool with_meta)
{
    json_t *o = json_pack("{s:O?, s:s, s:s}", "Id", json_object_get(rec->obj, "Id"), "status",
                          "Deleted", "domain", "QBO");
    if (o != NULL && with_meta) {
        char ut[40];
        hs_qbo_time_format(rec->updated_ms, ut, sizeof ut);
        if (json_object_set_new(o, "MetaData", json_pack("{s:s}", "LastUpdatedTime", ut)) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    (void)e;
    return o;
}

static void strip_server_fields(json_t *obj)
{
    for (size_t i = 0; server_fields[i] != NULL; i++)
        json_object_del(obj, server_fields[i]);
}

/* Stamps a new record (Id unless the entity has none, SyncToken 0, MetaData, domain) and adds
 * it to its table and name index. Takes obj (NULL: HS_ENOMEM). Shared by creates and seeding. */
static int add_record(struct hs_qbo_ctx *c, enum hs_qbo_ent e, json_t *obj, const char *id)
{
    if (obj == NULL)
        return HS_ENOMEM;
    struct hs_qbo_table *t = &c->realm->t[e];
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%zu", t->n + 1);
    int rc = HS_OK;
    if (!(defs[e].flags & F_NOID))
        rc = set_str(obj, "Id", id != NULL ? id : idbuf);
    if (rc == HS_OK)
        rc = set_str(obj, "SyncToken", "0");
    if (rc == HS_OK)
        rc = meta_set(obj, c->now_ms, c->now_ms);
    if (rc == HS_OK)
        rc = set_str(obj, "domain", "QBO");
    if (rc == HS_OK)
        rc = set_new(obj, "sparse", json_false());
    if (rc != HS_OK) {
        json_decref(obj);
        return rc;
    }
    size_t index;
    rc = hs_qbo_table_add(t, obj, c->now_ms, &index);
    if (rc == HS_OK && defs[e].name_field != NULL)
        rc =
            hs_qbo_names_put(&t->names, json_string_value(json_object_get(obj, defs[e].name_field)),
                             (uint32_t)index);
    return rc;
}

static int do_create(struct hs_qbo_ctx *c, enum hs_qbo_ent e, const json_t *body, json_t **out)
{
    if (!(defs[e].flags & F_CREATE))
        return fail_unsupported(c, "Create");
    struct hs_qbo_table *t = &c->realm->t[e];
    json_t *obj = json_deep_copy(body);
    if (obj == NULL)
        return HS_ENOMEM;
    strip_server_fields(obj);
    int rc = prepare(c, e, obj, NULL, -1);
    if (rc != HS_OK) {
        json_decref(obj);
        return rc;
    }
    char id[24];
    snprintf(id, sizeof id, "%zu", t->n + 1);
    rc = add_record(c, e, obj, id);
    if (rc != HS_OK)
        return rc;
    if (e == HS_QBO_INVOICE) {
        const char *cur = ref_value(obj, "CurrencyRef");
        int64_t bal = 0;
        if (hs_qbo_num_get(json_object_get(obj, "Balance"), hs_qbo_currency_decimals(cur), &bal) ==
            HS_OK)
            rc = hs_qbo_customer_balance_add(c, ref_value(obj, "CustomerRef"), bal);
    } else if (e == HS_QBO_PAYMENT) {
        rc = hs_qbo_payment_apply(c, obj, id, +1);
    }
    if (rc != HS_OK)
        return rc;
    hs_qbo_changed(c, e, id, "Create");
    *out = wrap(e, obj);
    return *out != NULL ? HS_OK : HS_ENOMEM;
}

static int check_token(struct hs_qbo_ctx *c, const json_t *body, const struct hs_qbo_rec *rec)
{
    const json_t *st = json_object_get(body, "SyncToken");
    if (st == NULL)
        return hs_qbo_fail_required(c, "SyncToken");
    const char *given = json_string_value(st);
    char buf[32];
    if (given == NULL && hs_qbo_is_num(st)) {
        int64_t n = 0;
        if (hs_qbo_num_get(st, 0, &n) == HS_OK) {
            snprintf(buf, sizeof buf, "%lld", (long long)n);
            given = buf;
        }
    }
    if (!hs_str_eq(given, json_string_value(json_object_get(rec->obj, "SyncToken"))))
        return fail_stale(c);
    return HS_OK;
}

/* The record an update/delete/void names by Id; singletons and ExchangeRate
 * special. */
static struct hs_qbo_rec *target(struct hs_qbo_ctx *c, enum hs_qbo_ent e, const json_t *body)
{
    struct hs_qbo_table *t = &c->realm->t[e];
    if (e == HS_QBO_EXCHANGERATE) {
        const char *src = json_string_value(json_object_get(body, "SourceCurrencyCode"));
        for (size_t i = 0; src != NULL && i < t->n; i++)
            if (hs_str_eq(json_string_value(json_object_get(t->v[i].obj, "SourceCurrencyCode")),
                          src))
                return &t->v[i];
        return NULL;
    }
    const char *id = json_string_value(json_object_get(body, "Id"));
    if (e == HS_QBO_COMPANYINFO && id != NULL && strcmp(id, c->realm->id) == 0)
        id = "1";
    return hs_qbo_lookup(c, e, id);
}

static int do_update(struct hs_qbo_ctx *c, enum hs_qbo_ent e, const json_t *body, json_t **out)
{
    if (!(defs[e].flags & F_UPDATE))
        return fail_unsupported(c, "Update");
    if (!(defs[e].flags & F_NOID) && json_object_get(body, "Id") == NULL)
        return hs_qbo_fail_required(c, "Id");
    struct hs_qbo_rec *rec = target(c, e, body);
    if (rec == NULL)
        return hs_qbo_fail_not_found(c, "Id");
    int rc = check_token(c, body, rec);
    if (rc != HS_OK)
        return rc;
    struct hs_qbo_table *t = &c->realm->t[e];
    long self = (long)(rec - t->v);
    bool sparse = json_is_true(json_object_get(body, "sparse"));
    json_t *obj;
    if (sparse) {
        obj = json_deep_copy(rec->obj);
        json_t *patch = json_deep_copy(body);
        if (obj == NULL || patch == NULL) {
            json_decref(obj);
            json_decref(patch);
            return HS_ENOMEM;
        }
        strip_server_fields(patch);
        strip_server_fields(obj);
        rc = json_object_update(obj, patch) == 0 ? HS_OK : HS_ENOMEM;
        json_decref(patch);
    } else {
        obj = json_deep_copy(body);
        if (obj == NULL)
            return HS_ENOMEM;
        strip_server_fields(obj);
        if (e == HS_QBO_EXCHANGERATE || e == HS_QBO_PREFERENCES || e == HS_QBO_COMPANYINFO) {
            /* these keep what a full update leaves out (QuickBooks merges
             * preferences) */
            json_t *base = json_deep_copy(rec->obj);
            if (base == NULL || json_object_update(base, obj) != 0) {
                json_decref(base);
                json_decref(obj);
                return HS_ENOMEM;
            }
            json_decref(obj);
            obj = base;
            strip_server_fields(obj);
        }
        rc = HS_OK;
    }
    if (rc == HS_OK)
        rc = prepare(c, e, obj, rec, self);
    /* keep the server fields of the stored record */
    for (size_t i = 0; rc == HS_OK && server_fields[i] != NULL; i++) {
        json_t *v = json_object_get(rec->obj, server_fields[i]);
        if (v != NULL && json_object_set_new(obj, server_fields[i], json_deep_copy(v)) != 0)
            rc = HS_ENOMEM;
    }
    if (rc != HS_OK) {
        json_decref(obj);
        return rc;
    }
    const char *id = json_string_value(json_object_get(obj, "Id"));
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%s", id != NULL ? id : "");
    /* side effects on customers and invoices, old then new */
    if (e == HS_QBO_INVOICE) {
        int dec = hs_qbo_currency_decimals(ref_value(obj, "CurrencyRef"));
        int64_t ob = 0, nb = 0;
        if (hs_qbo_num_get(json_object_get(rec->obj, "Balance"), dec, &ob) != HS_OK)
            ob = 0;
        if (hs_qbo_num_get(json_object_get(obj, "Balance"), dec, &nb) != HS_OK)
            nb = 0;
        rc = hs_qbo_customer_balance_add(c, ref_value(rec->obj, "CustomerRef"), -ob);
        if (rc == HS_OK)
            rc = hs_qbo_customer_balance_add(c, ref_value(obj, "CustomerRef"), nb);
    } else if (e == HS_QBO_PAYMENT) {
        rc = hs_qbo_payment_apply(c, rec->obj, idbuf, -1);
        if (rc == HS_OK)
            rc = hs_qbo_payment_apply(c, obj, idbuf, +1);
    }
    if (rc != HS_OK) {
        json_decref(obj);
        return rc;
    }
    if (defs[e].name_field != NULL) {
        const char *oldn = json_string_value(json_object_get(rec->obj, defs[e].name_field));
        const char *newn = json_string_value(json_object_get(obj, defs[e].name_field));
        if (!hs_str_eq(oldn, newn)) {
            hs_qbo_names_del(&t->names, oldn);
            rc = hs_qbo_names_put(&t->names, newn, (uint32_t)self);
        }
    }
    json_decref(rec->obj);
    rec->obj = obj;
    if (rc == HS_OK)
        rc = hs_qbo_touch(c, rec);
    if (rc != HS_OK)
        return rc;
    hs_qbo_changed(c, e, idbuf, "Update");
    *out = wrap(e, rec->obj);
    return *out != NULL ? HS_OK : HS_ENOMEM;
}

/* Zeroes every amount of a voided transaction. */
static int zero_amounts(json_t *obj, int dec)
{
    size_t i;
    json_t *line;
    int rc = HS_OK;
    json_array_foreach(json_object_get(obj, "Line"), i, line)
    {
        if (json_object_get(line, "Amount") != NULL)
            rc = set_new(line, "Amount", hs_qbo_num(0, dec));
        json_t *d = json_object_get(line, "SalesItemLineDetail");
        if (rc == HS_OK && json_object_get(d, "TaxInclusiveAmt") != NULL)
            rc = set_new(d, "TaxInclusiveAmt", hs_qbo_num(0, dec));
        if (rc != HS_OK)
            return rc;
    }
    static const char *const keys[] = {"TotalAmt", "Balance", "HomeTotalAmt", "HomeBalance",
                                       "UnappliedAmt"};
    for (size_t k = 0; k < 5 && rc == HS_OK; k++)
        if (json_object_get(obj, keys[k]) != NULL)
            rc = set_new(obj, keys[k], hs_qbo_num(0, dec));
    json_t *ttd = json_object_get(obj, "TxnTaxDetail");
    if (rc == HS_OK && json_is_object(ttd)) {
        json_object_del(ttd, "TaxLine");
        rc = set_new(ttd, "TotalTax", hs_qbo_num(0, dec));
    }
    if (rc == HS_OK)
        rc = set_str(obj, "PrivateNote", "Voided");
    return rc;
}

static int do_delete_void(struct hs_qbo_ctx *c, enum hs_qbo_ent e, const json_t *body, bool is_void,
                          json_t **out)
{
    if (!(defs[e].flags & F_TXN))
        return fail_unsupported(c, is_void ? "Void" : "Delete");
    if (json_object_get(body, "Id") == NULL)
        return hs_qbo_fail_required(c, "Id");
    struct hs_qbo_rec *rec = target(c, e, body);
    if (rec == NULL)
        return hs_qbo_fail_not_found(c, "Id");
    int rc = check_token(c, body, rec);
    if (rc != HS_OK)
        return rc;
    char id[24];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(rec->obj, "Id")));
    int dec = hs_qbo_currency_decimals(ref_value(rec->obj, "CurrencyRef"));
    if (e == HS_QBO_INVOICE) {
        if (hs_qbo_invoice_paid(rec->obj) > 0)
            return hs_qbo_fail_business(c, "Id",
                                        "This invoice has payments applied to it. Delete or void "
                                        "the payments first.");
        int64_t bal = 0;
        if (hs_qbo_num_get(json_object_get(rec->obj, "Balance"), dec, &bal) != HS_OK)
            bal = 0;
        rc = hs_qbo_customer_balance_add(c, ref_value(rec->obj, "CustomerRef"), -bal);
    } else {
        rc = hs_qbo_payment_apply(c, rec->obj, id, -1);
    }
    if (rc != HS_OK)
        return rc;
    if (is_void) {
        rc = zero_amounts(rec->obj, dec);
        if (rc == HS_OK)
            rc = hs_qbo_touch(c, rec);
        if (rc != HS_OK)
            return rc;
        hs_qbo_changed(c, e, id, "Void");
        *out = wrap(e, rec->obj);
    } else {
        rec->deleted = true;
        rec->updated_ms = c->now_ms;
        hs_qbo_changed(c, e, id, "Delete");
        json_t *stub = deleted_stub(e, rec, false);
        *out = stub != NULL ? json_pack("{s:o}", defs[e].name, stub) : NULL;
    }
    return *out != NULL ? HS_OK : HS_ENOMEM;
}

/*
 * One entity write: operation NULL/"create"/"update" (by presence of Id),
 * "delete", "void". HS_OK with *out = {"<Entity>": {...}}; HS_EINVAL with
 * c->fault set; HS_ENOMEM.
 */
static int write_entity(struct hs_qbo_ctx *c, enum hs_qbo_ent e, const char *operation,
                        const json_t *body, json_t **out)
{
    *out = NULL;
    if (!json_is_object(body))
        return hs_qbo_fail(c, "2010", defs[e].name, "Request has invalid or unsupported property",
                           "Property Name:%s must be a JSON object", defs[e].name);
    if (operation != NULL && strcmp(operation, "delete") == 0)
        return do_delete_void(c, e, body, false, out);
    if (operation != NULL && strcmp(operation, "void") == 0)
        return do_delete_void(c, e, body, true, out);
    if (operation != NULL && strcmp(operation, "create") != 0 && strcmp(operation, "update") != 0)
        return fail_unsupported(c, operation);
    int rc = check_fields(c, e, body);
    if (rc != HS_OK)
        return rc;
    bool update = json_object_get(body, "Id") != NULL || (defs[e].flags & F_NOID) ||
                  (defs[e].flags & F_SINGLETON) ||
                  (operation != NULL && strcmp(operation, "update") == 0);
    if (operation != NULL && strcmp(operation, "create") == 0 &&
        json_object_get(body, "Id") != NULL)
        update = true;
    return update ? do_update(c, e, body, out) : do_create(c, e, body, out);
}

/* ---- queries ---- */

static bool prefix_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int ca = (unsigned char)a[i], cb = (unsigned char)b[i];
        if (ca >= 'A' && ca <= 'Z')
            ca += 32;
        if (cb >= 'A' && cb <= 'Z')
            cb += 32;
        if (ca != cb)
            return false;
    }
    return true;
}

/* Value node of a field path ("MetaData.LastUpdatedTime", "CustomerRef"); NULL
 * when absent. */
static const json_t *field_node(const json_t *obj, const char *path)
{
    const json_t *cur = obj;
    const char *p = path;
    while (cur != NULL && *p != '\0') {
        const char *dot = strchr(p, '.');
        size_t n = dot != NULL ? (size_t)(dot - p) : strlen(p);
        const char *key;
        json_t *v;
        const json_t *next = NULL;
        json_object_foreach((json_t *)cur, key, v)
        {
            if (strlen(key) == n && prefix_ieq(key, p, n)) {
                next = v;
                break;
            }
        }
        cur = next;
        p += n;
        if (*p == '.')
            p++;
    }
    if (json_is_object(cur) && json_object_get(cur, "value") != NULL)
        cur = json_object_get(cur, "value");
    if (json_is_object(cur) && json_object_get(cur, "Address") != NULL)
        cur = json_object_get(cur, "Address");
    return cur;
}

static int ascii_casecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = (unsigned char)*a, cb = (unsigned char)*b;
        if (ca >= 'A' && ca <= 'Z')
            ca += 32;
        if (cb >= 'A' && cb <= 'Z')
            cb += 32;
        if (ca != cb || ca == 0)
            return ca - cb;
    }
}

/* Case-insensitive LIKE with % wildcards. */
static bool like(const char *s, const char *pat)
{
    const char *star_p = NULL, *star_s = NULL;
    while (*s) {
        int cs = (unsigned char)*s, cp = (unsigned char)*pat;
        if (cs >= 'A' && cs <= 'Z')
            cs += 32;
        if (cp >= 'A' && cp <= 'Z')
            cp += 32;
        if (*pat == '%') {
            star_p = ++pat;
            star_s = s;
        } else if (*pat != '\0' && cp == cs) {
            s++;
            pat++;
        } else if (star_p != NULL) {
            pat = star_p;
            s = ++star_s;
        } else {
            return false;
        }
    }
    while (*pat == '%')
        pat++;
    return *pat == '\0';
}

static bool is_time_field(const char *field)
{
    return hs_str_ends(field, "Time") || hs_str_ends(field, "time");
}

static bool is_date_field(const char *field)
{
    return hs_str_ieq(field, "TxnDate") || hs_str_ieq(field, "DueDate") ||
           hs_str_ieq(field, "AsOfDate");
}

/* Compares a record's node with a query value: *out <0, 0, >0; false when
 * incomparable. */
static bool compare(const char *field, const json_t *node, const struct hs_qbo_value *v, int *out)
{
    const char *s = json_string_value(node);
    if (is_time_field(field) && s != NULL) {
        int64_t a, b;
        if (hs_qbo_time_parse(s, strlen(s), &a) != HS_OK ||
            hs_qbo_time_parse(v->text, strlen(v->text), &b) != HS_OK)
            return false;
        *out = (a > b) - (a < b);
        return true;
    }
    if (is_date_field(field) && s != NULL) {
        int64_t a, b;
        if (hs_qbo_date_parse(s, strlen(s), &a) != HS_OK ||
            hs_qbo_date_parse(v->text, strlen(v->text), &b) != HS_OK)
            return false;
        *out = (a > b) - (a < b);
        return true;
    }
    if (json_is_boolean(node)) {
        bool b;
        if (hs_str_ieq(v->text, "true"))
            b = true;
        else if (hs_str_ieq(v->text, "false"))
            b = false;
        else
            return false;
        *out = (int)json_is_true(node) - (int)b;
        return true;
    }
    if (hs_qbo_is_num(node)) {
        int64_t a, b;
        if (hs_qbo_num_get(node, HS_QBO_SCALE, &a) != HS_OK ||
            hs_qbo_dec_parse(v->text, strlen(v->text), HS_QBO_SCALE, &b) != HS_OK)
            return false;
        *out = (a > b) - (a < b);
        return true;
    }
    if (s == NULL)
        return false;
    int64_t a, b;
    if (hs_str_to_i64(s, strlen(s), &a) == HS_OK &&
        hs_str_to_i64(v->text, strlen(v->text), &b) == HS_OK) {
        *out = (a > b) - (a < b);
        return true;
    }
    *out = ascii_casecmp(s, v->text);
    return true;
}

static bool cond_match(const json_t *obj, const struct hs_qbo_cond *cond)
{
    const json_t *node = field_node(obj, cond->field);
    if (node == NULL)
        return false;
    int r;
    switch (cond->op) {
    case HS_QBO_EQ:
        return compare(cond->field, node, &cond->values[0], &r) && r == 0;
    case HS_QBO_LT:
        return compare(cond->field, node, &cond->values[0], &r) && r < 0;
    case HS_QBO_GT:
        return compare(cond->field, node, &cond->values[0], &r) && r > 0;
    case HS_QBO_LE:
        return compare(cond->field, node, &cond->values[0], &r) && r <= 0;
    case HS_QBO_GE:
        return compare(cond->field, node, &cond->values[0], &r) && r >= 0;
    case HS_QBO_IN:
        for (size_t i = 0; i < cond->n_values; i++)
            if (compare(cond->field, node, &cond->values[i], &r) && r == 0)
                return true;
        return false;
    case HS_QBO_LIKE:
        return json_string_value(node) != NULL &&
               like(json_string_value(node), cond->values[0].text);
    }
    return false;
}

static int query_fail(struct hs_qbo_ctx *c, const char *detail)
{
    return hs_qbo_fail(c, "4001", NULL, "Invalid query", "QueryValidationError: %s", detail);
}

struct sort_ctx {
    const struct hs_qbo_table *t;
    const char *field;
    bool desc;
};

static int cmp_nodes(const char *field, const json_t *a, const json_t *b)
{
    if (a == NULL || b == NULL)
        return (a != NULL) - (b != NULL);
    int r = 0;
    char *text = NULL;
    if (json_is_string(b)) {
        const char *s = json_string_value(b);
        text = hs_strdup(s[0] == HS_QBO_MARK ? s + 1 : s);
    } else if (json_is_boolean(b)) {
        text = hs_strdup(json_is_true(b) ? "true" : "false");
    }
    if (text == NULL)
        return 0;
    struct hs_qbo_value v = {.text = text, .quoted = true};
    if (!compare(field, a, &v, &r))
        r = 0;
    hs_free(text);
    return r;
}

static void sort_indexes(size_t *idx, size_t n, const struct sort_ctx *sc)
{
    /* insertion sort into a merge: n can be 10,000s, so use a bottom-up merge
     * sort */
    size_t *tmp = hs_malloc(n * sizeof *tmp + 1);
    if (tmp == NULL)
        return; /* out of memory: leave Id order */
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                int r = cmp_nodes(sc->field, field_node(sc->t->v[idx[i]].obj, sc->field),
                                  field_node(sc->t->v[idx[j]].obj, sc->field));
                if (sc->desc)
                    r = -r;
                tmp[k++] = r <= 0 ? idx[i++] : idx[j++];
            }
            while (i < mid)
                tmp[k++] = idx[i++];
            while (j < hi)
                tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
    hs_free(tmp);
}

/* Runs query text; HS_OK with *out = {"QueryResponse": {...}}; HS_EINVAL with
 * fault. */
static int run_query(struct hs_qbo_ctx *c, const char *text, size_t len, json_t **out)
{
    *out = NULL;
    struct hs_qbo_query *q = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    int rc = hs_qbo_query_parse(text, len, &q, &err);
    if (rc == HS_ENOMEM)
        return rc;
    if (rc != HS_OK)
        return hs_qbo_fail(c, "4000", NULL, "Error parsing query", "QueryParserError: %s", err.msg);
    int e = ent_by_name(q->entity, false);
    if (e < 0) {
        char d[160];
        snprintf(d, sizeof d, "Entity '%.64s' is not supported", q->entity);
        hs_qbo_query_free(q);
        return query_fail(c, d);
    }
    bool active_cond = false;
    for (size_t i = 0; i < q->n_conds; i++) {
        const char *f = q->conds[i].field;
        if (!hs_str_ieq(f, "Id") && !hs_str_ieq(f, "MetaData.CreateTime") &&
            !hs_str_ieq(f, "MetaData.LastUpdatedTime") && !in_list(defs[e].filters, f)) {
            char d[160];
            snprintf(d, sizeof d, "property '%.64s' is not queryable", f);
            hs_qbo_query_free(q);
            return query_fail(c, d);
        }
        if (is_time_field(f))
            for (size_t k = 0; k < q->conds[i].n_values; k++) {
                int64_t ms;
                const char *vt = q->conds[i].values[k].text;
                if (hs_qbo_time_parse(vt, strlen(vt), &ms) != HS_OK) {
                    char d[200];
                    snprintf(d, sizeof d, "value '%.64s' of '%.64s' is not a date-time", vt, f);
                    hs_qbo_query_free(q);
                    return query_fail(c, d);
                }
            }
        if (hs_str_ieq(f, "Active"))
            active_cond = true;
    }
    if (q->orderby != NULL && !hs_str_ieq(q->orderby, "Id") &&
        !hs_str_ieq(q->orderby, "MetaData.CreateTime") &&
        !hs_str_ieq(q->orderby, "MetaData.LastUpdatedTime") &&
        !in_list(defs[e].filters, q->orderby)) {
        char d[160];
        snprintf(d, sizeof d, "property '%.64s' is not sortable", q->orderby);
        hs_qbo_query_free(q);
        return query_fail(c, d);
    }
    struct hs_qbo_table *t = &c->realm->t[e];
    size_t *idx = hs_malloc(t->n * sizeof *idx + 1);
    if (idx == NULL) {
        hs_qbo_query_free(q);
        return HS_ENOMEM;
    }
    size_t n = 0;
    size_t limit = c->horizon != NULL ? c->horizon[e] : t->n;
    for (size_t i = 0; i < t->n && i < limit; i++) {
        const struct hs_qbo_rec *rec = &t->v[i];
        if (rec->deleted)
            continue;
        if ((defs[e].flags & F_NAMELIST) && !active_cond &&
            json_is_false(json_object_get(rec->obj, "Active")))
            continue;
        bool ok = true;
        for (size_t k = 0; k < q->n_conds && ok; k++)
            ok = cond_match(rec->obj, &q->conds[k]);
        if (ok)
            idx[n++] = i;
    }
    json_t *qr = json_object();
    rc = qr != NULL ? HS_OK : HS_ENOMEM;
    if (rc == HS_OK && q->count) {
        rc = set_new(qr, "totalCount", json_integer((json_int_t)n));
    } else if (rc == HS_OK) {
        if (q->orderby != NULL) {
            struct sort_ctx sc = {.t = t, .field = q->orderby, .desc = q->desc};
            sort_indexes(idx, n, &sc);
        }
        size_t start = (size_t)(q->start - 1);
        size_t end = start + (size_t)q->max;
        if (end > n)
            end = n;
        if (start < end) {
            json_t *arr = json_array();
            for (size_t i = start; arr != NULL && i < end; i++)
                if (json_array_append(arr, t->v[idx[i]].obj) != 0) {
                    json_decref(arr);
                    arr = NULL;
                }
            rc = set_new(qr, defs[e].name, arr);
            if (rc == HS_OK)
                rc = set_new(qr, "startPosition", json_integer(q->start));
            if (rc == HS_OK)
                rc = set_new(qr, "maxResults", json_integer((json_int_t)(end - start)));
        }
    }
    hs_free(idx);
    hs_qbo_query_free(q);
    if (rc != HS_OK) {
        json_decref(qr);
        return rc;
    }
    *out = json_pack("{s:o}", "QueryResponse", qr);
    return *out != NULL ? HS_OK : HS_ENOMEM;
}

/* ---- CDC ---- */

struct cdc_item {
    int e;
    size_t i;
    int64_t ms;
};

static int cdc_cmp(const void *a, const void *b)
{
    const struct cdc_item *x = a, *y = b;
    if (x->ms != y->ms)
        return x->ms < y->ms ? -1 : 1;
    if (x->e != y->e)
        return x->e - y->e;
    return (x->i > y->i) - (x->i < y->i);
}

static int run_cdc(struct hs_qbo_ctx *c, const char *entities, const char *since_text, json_t **out)
{
    *out = NULL;
    if (entities == NULL || *entities == '\0')
        return hs_qbo_fail_required(c, "entities");
    if (since_text == NULL || *since_text == '\0')
        return hs_qbo_fail_required(c, "changedSince");
    int64_t since;
    if (hs_qbo_time_parse(since_text, strlen(since_text), &since) != HS_OK)
        return hs_qbo_fail(c, "2010", "changedSince", "Request has invalid or unsupported property",
                           "Property Name:changedSince specified is unsupported or invalid: %s",
                           since_text);
    if (since < c->now_ms - CDC_WINDOW_MS)
        return hs_qbo_fail(c, "2010", "changedSince", "Invalid Request Parameter",
                           "Operation cdc with changedSince date %s which is older than fixed "
                           "days is not supported.",
                           since_text);
    int want[HS_QBO_N_ENT];
    size_t n_want = 0;
    const char *p = entities;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        char name[32];
        if (n == 0 || n >= sizeof name)
            return hs_qbo_fail(c, "2010", "entities", "Request has invalid or unsupported property",
                               "Property Name:entities specified is unsupported or invalid");
        memcpy(name, p, n);
        name[n] = '\0';
        int e = ent_by_name(name, false);
        if (e < 0 || (defs[e].flags & F_SINGLETON))
            return hs_qbo_fail(c, "2010", "entities", "Request has invalid or unsupported property",
                               "Property Name:entities specified is unsupported or invalid: %s",
                               name);
        bool dup = false;
        for (size_t k = 0; k < n_want; k++)
            dup = dup || want[k] == e;
        if (!dup && n_want < HS_QBO_N_ENT)
            want[n_want++] = e;
        p += n;
        if (*p == ',')
            p++;
    }
    size_t total = 0;
    for (size_t k = 0; k < n_want; k++)
        total += c->realm->t[want[k]].n;
    struct cdc_item *items = hs_malloc(total * sizeof *items + 1);
    if (items == NULL)
        return HS_ENOMEM;
    size_t n = 0;
    for (size_t k = 0; k < n_want; k++) {
        struct hs_qbo_table *t = &c->realm->t[want[k]];
        for (size_t i = 0; i < t->n; i++)
            if (t->v[i].updated_ms >= since)
                items[n++] = (struct cdc_item){want[k], i, t->v[i].updated_ms};
    }
    qsort(items, n, sizeof *items, cdc_cmp);
    if (n > CDC_MAX)
        n = CDC_MAX;
    json_t *qrs = json_array();
    int rc = qrs != NULL ? HS_OK : HS_ENOMEM;
    for (size_t k = 0; k < n_want && rc == HS_OK; k++) {
        json_t *arr = json_array();
        json_t *qr = json_object();
        if (arr == NULL || qr == NULL) {
            json_decref(arr);
            json_decref(qr);
            rc = HS_ENOMEM;
            break;
        }
        struct hs_qbo_table *t = &c->realm->t[want[k]];
        for (size_t i = 0; i < n && rc == HS_OK; i++) {
            if (items[i].e != want[k])
                continue;
            const struct hs_qbo_rec *rec = &t->v[items[i].i];
            json_t *o = rec->deleted ? deleted_stub(want[k], rec, true) : json_incref(rec->obj);
            if (o == NULL || json_array_append_new(arr, o) != 0)
                rc = HS_ENOMEM;
        }
        size_t m = json_array_size(arr);
        if (rc == HS_OK && m > 0) {
            rc = set_new(qr, defs[want[k]].name, json_incref(arr));
            if (rc == HS_OK)
                rc = set_new(qr, "startPosition", json_integer(1));
            if (rc == HS_OK)
                rc = set_new(qr, "maxResults", json_integer((json_int_t)m));
            if (rc == HS_OK)
                rc = set_new(qr, "totalCount", json_integer((json_int_t)m));
        }
        json_decref(arr);
        if (rc == HS_OK && json_array_append_new(qrs, qr) != 0)
            rc = HS_ENOMEM;
        else if (rc != HS_OK)
            json_decref(qr);
    }
    hs_free(items);
    if (rc != HS_OK) {
        json_decref(qrs);
        return rc;
    }
    *out = json_pack("{s:[{s:o}]}", "CDCResponse", "QueryResponse", qrs);
    return *out != NULL ? HS_OK : HS_ENOMEM;
}

/* ---- HTTP plumbing ---- */

/* Writes obj (stolen) plus "time" as the JSON answer. */
static int reply(struct qbo *q, struct hs_http_response *resp, int status, json_t *obj)
{
    if (obj == NULL)
        return HS_ENOMEM;
    char ts[48];
    hs_qbo_time_format_ms(hs_sbx_now_ms(q->sbx), ts, sizeof ts);
    if (json_object_set_new(obj, "time", json_string(ts)) != 0) {
        json_decref(obj);
        return HS_ENOMEM;
    }
    resp->status = status;
    hs_buf_reset(&resp->body);
    int rc = hs_qbo_json_dump(obj, &resp->body);
    json_decref(obj);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&resp->headers, "Content-Type", "application/json;charset=UTF-8");
    return rc;
}

static int reply_fault(struct qbo *q, struct hs_http_response *resp, const struct hs_qbo_fault *f)
{
    json_t *body = fault_body(f);
    return reply(q, resp, f->status, body != NULL ? json_pack("{s:o}", "Fault", body) : NULL);
}

static int reply_fault_simple(struct qbo *q, struct hs_http_response *resp, int status,
                              const char *type, const char *code, const char *message,
                              const char *detail)
{
    struct hs_qbo_fault f;
    memset(&f, 0, sizeof f);
    f.status = status;
    snprintf(f.type, sizeof f.type, "%s", type);
    snprintf(f.code, sizeof f.code, "%s", code);
    snprintf(f.message, sizeof f.message, "%s", message);
    snprintf(f.detail, sizeof f.detail, "%s", detail);
    return reply_fault(q, resp, &f);
}

static int qbo_unauthorized(void *state, struct hs_http_response *resp, const char *why)
{
    struct qbo *q = state;
    char detail[300];
    snprintf(detail, sizeof detail, "Token expired: %s", why != NULL ? why : "invalid token");
    json_t *body =
        json_pack("{s:n, s:n, s:{s:[{s:s, s:s, s:s, s:n}], s:s}, s:n, s:n, s:[], s:[], "
                  "s:n, s:n, s:I, "
                  "s:n, s:[]}",
                  "warnings", "intuitObject", "fault", "error", "message",
                  "message=AuthenticationFailed; errorCode=003200; statusCode=401", "detail",
                  detail, "code", "3200", "element", "type", "AUTHENTICATION", "report",
                  "queryResponse", "batchItemResponse", "attachableResponse", "syncErrorResponse",
                  "requestId", "time", (json_int_t)hs_sbx_now_ms(q->sbx), "status", "cdcresponse");
    if (body == NULL)
        return HS_ENOMEM;
    int rc = hs_http_response_json_take(resp, 401, body);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&resp->headers, "WWW-Authenticate",
                                 "Bearer realm=\"Intuit\", error=\"invalid_token\"");
    return rc;
}

static int qbo_throttled(void *state, struct hs_http_response *resp, int retry_after_s)
{
    struct qbo *q = state;
    int rc = reply_fault_simple(q, resp, 429, "SERVICE", "3001",
                                "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                                "The request limit was reached.");
    char ra[16];
    snprintf(ra, sizeof ra, "%d", retry_after_s > 0 ? retry_after_s : 60);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&resp->headers, "Retry-After", ra);
    return rc;
}

struct call {
    struct hs_qbo_ctx ctx;
    struct hs_qbo_fault fault;
    char *requestid;
};

/*
 * Common start of every API call: realm, auth, throttles, minorversion,
 * requestid replay. Returns 1 when resp holds the answer already, 0 to go on, <
 * 0 on failure.
 */
static int begin(struct qbo *q, const struct hs_http_request *req, const struct hs_route_match *m,
                 struct hs_http_response *resp, bool batch, struct call *call)
{
    memset(call, 0, sizeof *call);
    const char *realm_id = hs_route_param(m, "realm");
    const char *auth = hs_http_headers_get(&req->headers, "Authorization");
    if (!hs_sbx_auth_ok(q->sbx, &hs_sbx_quickbooks_ops, auth, realm_id)) {
        int rc = qbo_unauthorized(q, resp,
                                  auth == NULL ? "no Authorization header"
                                               : "token is "
                                                 "not valid");
        return rc == HS_OK ? 1 : rc;
    }
    struct hs_qbo_realm *realm = realm_find(q, realm_id);
    if (realm == NULL) {
        int rc = reply_fault_simple(q, resp, 403, "AuthorizationFault", "3100",
                                    "message=ApplicationAuthorizationFailed; errorCode=003100; "
                                    "statusCode=403",
                                    "The application is not authorized to access this company");
        return rc == HS_OK ? 1 : rc;
    }
    if (hs_sbx_rate_limits_on(q->sbx)) {
        int64_t rem, retry = 0;
        char key[64];
        bool ok;
        if (batch) {
            snprintf(key, sizeof key, "quickbooks:%s:batch", realm->id);
            ok = hs_sbx_rate_take(q->sbx, key, 40, 60000, &rem, &retry);
        } else {
            snprintf(key, sizeof key, "quickbooks:%s:s", realm->id);
            ok = hs_sbx_rate_take(q->sbx, key, 10, 1000, &rem, &retry);
            if (ok) {
                snprintf(key, sizeof key, "quickbooks:%s:m", realm->id);
                ok = hs_sbx_rate_take(q->sbx, key, 500, 60000, &rem, &retry);
            }
        }
        if (!ok) {
            int rc = qbo_throttled(q, resp, (int)((retry + 999) / 1000));
            return rc == HS_OK ? 1 : rc;
        }
    }
    call->ctx.sbx = q->sbx;
    call->ctx.realm = realm;
    call->ctx.now_ms = hs_sbx_now_ms(q->sbx);
    call->ctx.fault = &call->fault;
    ctx_prefs(&call->ctx);
    char *mv = hs_http_request_query(req, "minorversion");
    if (mv != NULL) {
        int64_t n = 0;
        bool ok = hs_str_to_i64(mv, strlen(mv), &n) == HS_OK && n >= 1 && n <= LATEST_MINOR;
        if (!ok) {
            char detail[200];
            snprintf(detail, sizeof detail,
                     "Invalid minorversion '%.32s': minor versions 1 to %d are "
                     "supported (all "
                     "are served as %d)",
                     mv, LATEST_MINOR, LATEST_MINOR);
            hs_free(mv);
            int rc = reply_fault_simple(q, resp, 400, "ValidationFault", "2010",
                                        "Request has invalid or unsupported property", detail);
            return rc == HS_OK ? 1 : rc;
        }
        hs_free(mv);
    }
    if (strcmp(req->method, "POST") == 0) {
        call->requestid = hs_http_request_query(req, "requestid");
        if (call->requestid != NULL) {
            long i = hs_qbo_names_find(&realm->replay_index, call->requestid);
            if (i >= 0 && (size_t)i < realm->n_replays) {
                const struct hs_qbo_replay *r = &realm->replays[i];
                int rc = hs_http_response_text(resp, r->status, "application/json;charset=UTF-8",
                                               r->body);
                HS_FREE(call->requestid);
                return rc == HS_OK ? 1 : rc;
            }
        }
    }
    return 0;
}

/* Remembers the answer of a requestid'd call; frees call's strings. */
static void finish(struct call *call, const struct hs_http_response *resp)
{
    struct hs_qbo_realm *r = call->ctx.realm;
    if (call->requestid != NULL && r != NULL && resp->status < 500) {
        if (r->n_replays >= REPLAY_MAX) {
            /* forget everything at once: requestids are meant for retries within
             * minutes */
            for (size_t i = 0; i < r->n_replays; i++) {
                hs_qbo_names_del(&r->replay_index, r->replays[i].key);
                hs_free(r->replays[i].key);
                hs_free(r->replays[i].body);
            }
            r->n_replays = 0;
        }
        if (r->n_replays == r->cap_replays) {
            size_t cap = r->cap_replays ? r->cap_replays * 2 : 16;
            struct hs_qbo_replay *v = hs_reallocarray(r->replays, cap, sizeof *v);
            if (v == NULL)
                goto out;
            r->replays = v;
            r->cap_replays = cap;
        }
        char *body = hs_strndup(resp->body.data != NULL ? resp->body.data : "", resp->body.len);
        if (body == NULL)
            goto out;
        if (hs_qbo_names_put(&r->replay_index, call->requestid, (uint32_t)r->n_replays) != HS_OK) {
            hs_free(body);
            goto out;
        }
        r->replays[r->n_replays].key = call->requestid;
        r->replays[r->n_replays].status = resp->status;
        r->replays[r->n_replays].body = body;
        r->n_replays++;
        call->requestid = NULL;
    }
out:
    HS_FREE(call->requestid);
}

/* Answers the result of an operation: HS_OK with obj, HS_EINVAL with the fault.
 */
static int answer(struct qbo *q, struct call *call, struct hs_http_response *resp, int rc,
                  json_t *obj)
{
    if (rc == HS_OK)
        rc = reply(q, resp, 200, obj);
    else if (rc == HS_EINVAL)
        rc = reply_fault(q, resp, &call->fault);
    if (rc == HS_OK)
        finish(call, resp);
    else
        HS_FREE(call->requestid);
    return rc;
}

static int parse_body(struct call *call, const struct hs_http_request *req, json_t **out)
{
    struct hs_error err;
    hs_error_clear(&err);
    *out = NULL;
    int rc = hs_qbo_json_parse((const uint8_t *)(req->body.data != NULL ? req->body.data : ""),
                               req->body.len, out, &err);
    if (rc == HS_ENOMEM)
        return rc;
    if (rc != HS_OK)
        return hs_qbo_fail(&call->ctx, "2010", NULL, "Request has invalid or unsupported property",
                           "Request body is not valid JSON: %s", err.msg);
    return HS_OK;
}

static int h_post(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                  struct hs_http_response *resp)
{
    struct qbo *q = ud;
    struct call call;
    int rc = begin(q, req, m, resp, false, &call);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    int e = ent_by_name(hs_route_param(m, "entity"), true);
    json_t *body = NULL;
    json_t *obj = NULL;
    if (e < 0) {
        rc = fail_unsupported(&call.ctx, "Create");
    } else {
        rc = parse_body(&call, req, &body);
        if (rc == HS_OK) {
            char *op = hs_http_request_query(req, "operation");
            rc = write_entity(&call.ctx, (enum hs_qbo_ent)e, op, body, &obj);
            hs_free(op);
        }
    }
    json_decref(body);
    return answer(q, &call, resp, rc, obj);
}

static int h_get(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                 struct hs_http_response *resp)
{
    struct qbo *q = ud;
    struct call call;
    int rc = begin(q, req, m, resp, false, &call);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    const char *path = hs_route_param(m, "entity");
    const char *id = hs_route_param(m, "id");
    int e = ent_by_name(path, true);
    json_t *obj = NULL;
    struct hs_qbo_rec *rec = NULL;
    if (e == HS_QBO_PREFERENCES || e == HS_QBO_COMPANYINFO) {
        struct hs_qbo_table *t = &call.ctx.realm->t[e];
        bool id_ok = id == NULL || strcmp(id, "1") == 0 || strcmp(id, call.ctx.realm->id) == 0;
        rec = t->n > 0 && id_ok ? &t->v[0] : NULL;
    } else if (e == HS_QBO_EXCHANGERATE) {
        char *src = hs_http_request_query(req, "sourcecurrencycode");
        json_t *key = json_pack("{s:s?}", "SourceCurrencyCode", src);
        rec = key != NULL ? target(&call.ctx, HS_QBO_EXCHANGERATE, key) : NULL;
        json_decref(key);
        hs_free(src);
    } else if (e >= 0 && id != NULL) {
        rec = hs_qbo_lookup(&call.ctx, (enum hs_qbo_ent)e, id);
    }
    if (e < 0)
        rc = fail_unsupported(&call.ctx, "Read");
    else if (rec == NULL)
        rc = hs_qbo_fail_not_found(&call.ctx, "Id");
    else
        obj = wrap((enum hs_qbo_ent)e, rec->obj);
    if (rc == HS_OK && obj == NULL)
        rc = HS_ENOMEM;
    return answer(q, &call, resp, rc, obj);
}

static int h_query(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                   struct hs_http_response *resp)
{
    struct qbo *q = ud;
    struct call call;
    int rc = begin(q, req, m, resp, false, &call);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    json_t *obj = NULL;
    char *text = hs_http_request_query(req, "query");
    if (text != NULL)
        rc = run_query(&call.ctx, text, strlen(text), &obj);
    else if (strcmp(req->method, "POST") == 0 && req->body.len > 0)
        rc = run_query(&call.ctx, req->body.data, req->body.len, &obj);
    else
        rc = hs_qbo_fail_required(&call.ctx, "query");
    hs_free(text);
    return answer(q, &call, resp, rc, obj);
}

static int h_cdc(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                 struct hs_http_response *resp)
{
    struct qbo *q = ud;
    struct call call;
    int rc = begin(q, req, m, resp, false, &call);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    char *entities = hs_http_request_query(req, "entities");
    char *since = hs_http_request_query(req, "changedSince");
    if (since == NULL)
        since = hs_http_request_query(req, "changedsince");
    json_t *obj = NULL;
    rc = run_cdc(&call.ctx, entities, since, &obj);
    hs_free(entities);
    hs_free(since);
    return answer(q, &call, resp, rc, obj);
}

/* One batch item; appends its response to out. */
static int batch_item(struct hs_qbo_ctx *c, const json_t *item, json_t *out)
{
    struct hs_qbo_fault *fault = c->fault;
    memset(fault, 0, sizeof *fault);
    json_t *res = NULL;
    int rc;
    const char *bid = json_string_value(json_object_get(item, "bId"));
    const json_t *query = json_object_get(item, "Query");
    if (!json_is_object(item)) {
        rc = hs_qbo_fail(c, "2010", "BatchItemRequest",
                         "Request has invalid or unsupported property",
                         "Each BatchItemRequest must be a JSON object");
    } else if (query != NULL) {
        const char *text = json_string_value(query);
        rc = text != NULL ? run_query(c, text, strlen(text), &res)
                          : hs_qbo_fail_required(c, "Query");
    } else {
        const char *op = json_string_value(json_object_get(item, "operation"));
        const char *opt = json_string_value(json_object_get(item, "optionsData"));
        int e = -1;
        const json_t *body = NULL;
        for (int k = 0; k < HS_QBO_N_ENT && e < 0; k++) {
            body = json_object_get(item, defs[k].name);
            if (body != NULL)
                e = k;
        }
        if (e < 0) {
            rc = hs_qbo_fail_required(c, "BatchItemRequest entity");
        } else if (op == NULL) {
            rc = hs_qbo_fail_required(c, "operation");
        } else {
            if (strcmp(op, "update") == 0 && opt != NULL && strcmp(opt, "void") == 0)
                op = "void";
            rc = write_entity(c, (enum hs_qbo_ent)e, op, body, &res);
        }
    }
    json_t *r = NULL;
    if (rc == HS_OK) {
        r = res;
        res = NULL;
    } else if (rc == HS_EINVAL) {
        json_t *fb = fault_body(fault);
        r = fb != NULL ? json_pack("{s:o}", "Fault", fb) : NULL;
        rc = r != NULL ? HS_OK : HS_ENOMEM;
    }
    json_decref(res);
    if (rc == HS_OK && bid != NULL && json_object_set_new(r, "bId", json_string(bid)) != 0)
        rc = HS_ENOMEM;
    if (rc == HS_OK && json_array_append_new(out, r) != 0)
        return HS_ENOMEM;
    if (rc != HS_OK)
        json_decref(r);
    return rc;
}

static int h_batch(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                   struct hs_http_response *resp)
{
    struct qbo *q = ud;
    struct call call;
    int rc = begin(q, req, m, resp, true, &call);
    if (rc != 0)
        return rc < 0 ? rc : HS_OK;
    json_t *body = NULL;
    json_t *obj = NULL;
    rc = parse_body(&call, req, &body);
    const json_t *items = json_object_get(body, "BatchItemRequest");
    if (rc == HS_OK && !json_is_array(items))
        rc = hs_qbo_fail_required(&call.ctx, "BatchItemRequest");
    if (rc == HS_OK && json_array_size(items) > q->batch_max)
        rc = hs_qbo_fail(&call.ctx, "2010", "BatchItemRequest",
                         "Request has invalid or unsupported property",
                         "Too many items in the batch request: %zu; at most %u are allowed",
                         json_array_size(items), q->batch_max);
    if (rc == HS_OK) {
        size_t horizon[HS_QBO_N_ENT];
        for (int e = 0; e < HS_QBO_N_ENT; e++)
            horizon[e] = call.ctx.realm->t[e].n;
        struct hs_qbo_fault ifault;
        struct hs_qbo_ctx ictx = call.ctx;
        ictx.horizon = horizon;
        ictx.fault = &ifault;
        json_t *arr = json_array();
        rc = arr != NULL ? HS_OK : HS_ENOMEM;
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item)
        {
            if (rc != HS_OK)
                break;
            rc = batch_item(&ictx, item, arr);
        }
        if (rc == HS_OK)
            obj = json_pack("{s:o}", "BatchItemResponse", arr);
        else
            json_decref(arr);
        if (rc == HS_OK && obj == NULL)
            rc = HS_ENOMEM;
    }
    json_decref(body);
    return answer(q, &call, resp, rc, obj);
}

static const char *first_realm(struct qbo *q)
{
    return q->n_realms > 0 ? q->realms[0]->id : DEFAULT_REALM;
}

static int h_authorize(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                       struct hs_http_response *resp)
{
    struct qbo *q = ud;
    (void)m;
    char *realm = hs_http_request_query(req, "realmId");
    char tenant[24];
    snprintf(tenant, sizeof tenant, "%s",
             realm != NULL && realm_find(q, realm) != NULL ? realm : first_realm(q));
    hs_free(realm);
    int rc = hs_sbx_oauth_authorize(q->sbx, &hs_sbx_quickbooks_ops, tenant, req, resp);
    const char *loc = hs_http_headers_get(&resp->headers, "Location");
    if (rc == HS_OK && resp->status == 302 && loc != NULL && strstr(loc, "code=") != NULL) {
        char *nl = hs_asprintf("%s%srealmId=%s", loc, strchr(loc, '?') != NULL ? "&" : "?", tenant);
        if (nl == NULL)
            return HS_ENOMEM;
        rc = hs_http_headers_set(&resp->headers, "Location", nl);
        hs_free(nl);
    }
    return rc;
}

static int h_token(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                   struct hs_http_response *resp)
{
    struct qbo *q = ud;
    (void)m;
    static const struct hs_sbx_oauth_profile profile = {
        .access_ttl_s = 3600,
        .refresh_ttl_s = 100LL * 86400,
        .rotate_refresh = true,
        .qbo_extras = true,
    };
    return hs_sbx_oauth_token(q->sbx, &hs_sbx_quickbooks_ops, &profile, req, resp);
}

static int settings_error(struct hs_http_response *resp, const char *msg)
{
    return hs_http_response_json_take(resp, 400, json_pack("{s:s}", "message", msg));
}

static int h_settings(void *ud, const struct hs_http_request *req, const struct hs_route_match *m,
                      struct hs_http_response *resp)
{
    struct qbo *q = ud;
    (void)m;
    if (strcmp(req->method, "POST") == 0) {
        json_t *body = NULL;
        struct hs_error err;
        hs_error_clear(&err);
        int rc = hs_json_parse((const uint8_t *)(req->body.data != NULL ? req->body.data : ""),
                               req->body.len, "settings", &body, &err);
        if (rc != HS_OK)
            return settings_error(resp, err.msg);
        json_t *bm = json_object_get(body, "batch_max");
        if (bm != NULL) {
            json_int_t n = json_integer_value(bm);
            if (!json_is_integer(bm) || n < 1 || n > BATCH_MAX_LIMIT) {
                json_decref(body);
                return settings_error(resp, "invalid setting 'batch_max': expected 1 to 1000");
            }
            q->batch_max = (unsigned)n;
        }
        json_decref(body);
    }
    return hs_http_response_json_take(resp, 200,
                                      json_pack("{s:I}", "batch_max", (json_int_t)q->batch_max));
}

/* ---- seeding ---- */

static int seed_base(struct hs_qbo_ctx *c)
{
    int rc = add_record(
        c, HS_QBO_COMPANYINFO,
        json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:{s:s}, s:s, s:s, s:s, "
                  "s:s, s:s}",
                  "CompanyName", "Hoopsync Sandbox Company", "LegalName",
                  "Hoopsync Sandbox Company LLC", "CompanyAddr", "Line1", "2600 Marine Way", "City",
                  "Mountain View", "CountrySubDivisionCode", "CA", "PostalCode", "94043", "Country",
                  "US", "Email", "Address", "books@sandbox.hoopsync.test", "Country", "US",
                  "CompanyStartDate", "2020-01-01", "FiscalYearStartMonth", "January",
                  "SupportedLanguages", "en", "DefaultTimeZone", "America/Los_Angeles"),
        "1");
    if (rc == HS_OK)
        rc = add_record(c, HS_QBO_PREFERENCES,
                        json_pack("{s:{s:b, s:{s:s, s:s}}, s:{s:b}, s:{s:b, s:b}}", "CurrencyPrefs",
                                  "MultiCurrencyEnabled", 1, "HomeCurrency", "value", "USD", "name",
                                  "United States Dollar", "TaxPrefs", "UsingSalesTax", 1,
                                  "SalesFormsPrefs", "CustomTxnNumbers", 0, "AllowDiscount", 1),
                        "1");
    static const struct {
        const char *name, *type, *sub;
    } accounts[] = {
        {"Sales of Product Income", "Income", "SalesOfProductIncome"},
        {"Services", "Income", "ServiceFeeIncome"},
        {"Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"},
        {"Undeposited Funds", "Other Current Asset", "UndepositedFunds"},
        {"Checking", "Bank", "Checking"},
    };
    for (size_t i = 0; rc == HS_OK && i < sizeof accounts / sizeof accounts[0]; i++)
        rc = add_record(
            c, HS_QBO_ACCOUNT,
            json_pack("{s:s, s:b, s:s, s:b, s:s, s:s, s:s, s:o, s:o, s:{s:s, s:s}}", "Name",
                      accounts[i].name, "SubAccount", 0, "FullyQualifiedName", accounts[i].name,
                      "Active", 1, "Classification", account_class(accounts[i].type), "AccountType",
                      accounts[i].type, "AccountSubType", accounts[i].sub, "CurrentBalance",
                      hs_qbo_num(0, 0), "CurrentBalanceWithSubAccounts", hs_qbo_num(0, 0),
                      "CurrencyRef", "value", "USD", "name", "United States Dollar"),
            NULL);
    static const struct {
        const char *name;
        int days;
    } terms[] = {{"Due on receipt", 0}, {"Net 15", 15}, {"Net 30", 30}, {"Net 60", 60}};
    for (size_t i = 0; rc == HS_OK && i < 4; i++)
        rc = add_record(c, HS_QBO_TERM,
                        json_pack("{s:s, s:b, s:s, s:o, s:o}", "Name", terms[i].name, "Active", 1,
                                  "Type", "STANDARD", "DiscountPercent", hs_qbo_num(0, 0),
                                  "DueDays", hs_qbo_num(terms[i].days, 0)),
                        NULL);
    static const struct {
        const char *name;
        int64_t rate; /* scale 6 */
    } rates[] = {{"California State", 7250000},
                 {"Santa Clara County", 1000000},
                 {"VAT 20%", 20000000},
                 {"VAT 5%", 5000000},
                 {"GST 10%", 10000000}};
    for (size_t i = 0; rc == HS_OK && i < 5; i++)
        rc =
            add_record(c, HS_QBO_TAXRATE,
                       json_pack("{s:s, s:s, s:b, s:o, s:{s:s}, s:s, s:s}", "Name", rates[i].name,
                                 "Description", rates[i].name, "Active", 1, "RateValue",
                                 hs_qbo_num_short(rates[i].rate, HS_QBO_SCALE), "AgencyRef",
                                 "value", "1", "SpecialTaxType", "NONE", "DisplayType", "ReadOnly"),
                       NULL);
    /* TAX and NON (US pseudo codes, used on lines), then real codes with rate
     * lists */
    if (rc == HS_OK)
        rc = add_record(c, HS_QBO_TAXCODE,
                        json_pack("{s:s, s:s, s:b, s:b, s:b, s:b}", "Name", "TAX", "Description",
                                  "TAX", "Active", 1, "Hidden", 0, "Taxable", 1, "TaxGroup", 0),
                        "TAX");
    if (rc == HS_OK)
        rc = add_record(c, HS_QBO_TAXCODE,
                        json_pack("{s:s, s:s, s:b, s:b, s:b, s:b}", "Name", "NON", "Description",
                                  "NON", "Active", 1, "Hidden", 0, "Taxable", 0, "TaxGroup", 0),
                        "NON");
    static const struct {
        const char *name;
        int rates[2];
    } codes[] = {{"California", {1, 2}}, {"VAT 20%", {3, 0}}, {"VAT 5%", {4, 0}}, {"GST", {5, 0}}};
    for (size_t i = 0; rc == HS_OK && i < 4; i++) {
        json_t *list = json_array();
        for (int k = 0; list != NULL && k < 2 && codes[i].rates[k] != 0; k++) {
            char rid[8];
            snprintf(rid, sizeof rid, "%d", codes[i].rates[k]);
            json_t *d = json_pack("{s:{s:s, s:s}, s:s, s:I}", "TaxRateRef", "value", rid, "name",
                                  rates[codes[i].rates[k] - 1].name, "TaxTypeApplicable",
                                  "TaxOnAmount", "TaxOrder", (json_int_t)0);
            if (d == NULL || json_array_append_new(list, d) != 0) {
                json_decref(list);
                list = NULL;
            }
        }
        rc = add_record(c, HS_QBO_TAXCODE,
                        list != NULL ? json_pack("{s:s, s:s, s:b, s:b, s:b, s:b, s:{s:o}}", "Name",
                                                 codes[i].name, "Description", codes[i].name,
                                                 "Active", 1, "Hidden", 0, "Taxable", 1, "TaxGroup",
                                                 codes[i].rates[1] != 0, "SalesTaxRateList",
                                                 "TaxRateDetail", list)
                                     : NULL,
                        NULL);
    }
    return rc;
}

static int seed_exchange_rate(struct hs_qbo_ctx *c, const char *code)
{
    int64_t per = hs_sbx_fx_per_usd_micro(code);
    if (per <= 0 || strcmp(code, c->home) == 0)
        return HS_OK;
    struct hs_qbo_table *t = &c->realm->t[HS_QBO_EXCHANGERATE];
    for (size_t i = 0; i < t->n; i++)
        if (hs_str_eq(json_string_value(json_object_get(t->v[i].obj, "SourceCurrencyCode")), code))
            return HS_OK;
    int64_t rate = hs_qbo_div_round((hs_qbo_i128)1000000000000LL, per); /* USD per unit */
    char date[16];
    hs_qbo_date_format(c->now_ms, date, sizeof date);
    return add_record(c, HS_QBO_EXCHANGERATE,
                      json_pack("{s:s, s:s, s:o, s:s}", "SourceCurrencyCode", code,
                                "TargetCurrencyCode", c->home, "Rate",
                                hs_qbo_num_short(rate, HS_QBO_SCALE), "AsOfDate", date),
                      NULL);
}

/* A name not taken yet in table e (appends " 2", " 3", ...). Caller frees. */
static char *unique_name(struct hs_qbo_ctx *c, enum hs_qbo_ent e, const char *name)
{
    char *n = hs_strdup(name);
    for (int k = 2; n != NULL && hs_qbo_names_find(&c->realm->t[e].names, n) >= 0; k++) {
        hs_free(n);
        n = hs_asprintf("%s %d", name, k);
    }
    return n;
}

static int seed_world(struct hs_qbo_ctx *c, const struct hs_sbx_world *w)
{
    int rc = HS_OK;
    for (size_t i = 0; rc == HS_OK && i < w->n_companies; i++) {
        const struct hs_sbx_company *co = &w->companies[i];
        if (!co->in_accounting)
            continue;
        const char *cur = co->currency[0] != '\0' ? co->currency : "USD";
        char *name = unique_name(c, HS_QBO_CUSTOMER, co->acct_name);
        if (name == NULL)
            return HS_ENOMEM;
        int dec = hs_qbo_currency_decimals(cur);
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:s, s:b, s:{s:s}, s:{s:s}, s:{s:s, s:s, s:s, s:s}, "
                      "s:{s:s, s:s?}, "
                      "s:b, s:b, s:b, s:o, s:o, s:{s:s, s:s}, s:s}",
                      "DisplayName", name, "CompanyName", co->acct_name, "FullyQualifiedName", name,
                      "PrintOnCheckName", co->acct_name, "Active", 1, "PrimaryEmailAddr", "Address",
                      co->acct_email, "PrimaryPhone", "FreeFormNumber", co->phone, "BillAddr",
                      "Line1", co->street, "City", co->city, "PostalCode", co->postcode, "Country",
                      co->country, "CurrencyRef", "value", cur, "name", currency_name(cur),
                      "Taxable", 1, "Job", 0, "BillWithParent", 0, "Balance", hs_qbo_num(0, dec),
                      "BalanceWithJobs", hs_qbo_num(0, dec), "SalesTermRef", "value", "3", "name",
                      "Net 30", "PreferredDeliveryMethod", "Print");
        hs_free(name);
        rc = add_record(c, HS_QBO_CUSTOMER, o, NULL);
        if (rc == HS_OK)
            rc = seed_exchange_rate(c, cur);
    }
    for (size_t i = 0; rc == HS_OK && i < w->n_products; i++) {
        const struct hs_sbx_product *p = &w->products[i];
        if (!p->in_accounting)
            continue;
        char *name = unique_name(c, HS_QBO_ITEM, p->name);
        if (name == NULL)
            return HS_ENOMEM;
        json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:b, s:o, s:s, s:{s:s, s:s}, s:b}", "Name",
                              name, "Sku", p->sku, "Description", p->description, "Active", 1,
                              "FullyQualifiedName", name, "Taxable", 1, "UnitPrice",
                              hs_qbo_num(p->price_minor, hs_qbo_currency_decimals(p->currency)),
                              "Type", "Service", "IncomeAccountRef", "value", "2", "name",
                              "Services", "TrackQtyOnHand", 0);
        hs_free(name);
        rc = add_record(c, HS_QBO_ITEM, o, NULL);
    }
    return rc;
}

/* Realm id derived from the world (deterministic per seed): "9130" + 12 digits.
 */
static void world_realm_id(const struct hs_sbx_world *w, char *out, size_t size)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < w->n_companies; i++)
        for (const char *s = w->companies[i].name; *s; s++) {
            h ^= (unsigned char)*s;
            h *= 1099511628211ULL;
        }
    snprintf(out, size, "9130%012llu", (unsigned long long)(h % 1000000000000ULL));
}

/* ---- module ops ---- */

static int qbo_create(struct hs_sbx *sbx, void **out_state, struct hs_error *err)
{
    struct qbo *q = hs_calloc(1, sizeof *q);
    if (q == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot create quickbooks module: out of memory");
    q->sbx = sbx;
    q->batch_max = BATCH_MAX_DEFAULT;
    const char *env = getenv("HOOPSYNC_SANDBOX_QBO_BATCH_MAX");
    if (env != NULL && *env != '\0') {
        int64_t n;
        if (hs_str_to_i64(env, strlen(env), &n) != HS_OK || n < 1 || n > BATCH_MAX_LIMIT) {
            hs_free(q);
            return hs_error_set(err, HS_EINVAL,
                                "invalid HOOPSYNC_SANDBOX_QBO_BATCH_MAX '%s': expected 1 to %d",
                                env, BATCH_MAX_LIMIT);
        }
        q->batch_max = (unsigned)n;
    }
    *out_state = q;
    return HS_OK;
}

static void qbo_destroy(void *state)
{
    struct qbo *q = state;
    if (q == NULL)
        return;
    realms_clear(q);
    hs_free(q);
}

static int qbo_routes(void *state, struct hs_sbx *sbx)
{
    static const struct hs_sbx_route_def routes[] = {
        {"GET", "/oauth2/authorize", h_authorize},
        {"POST", "/oauth2/v1/tokens/bearer", h_token},
        {"GET", "/_sandbox/settings", h_settings},
        {"POST", "/_sandbox/settings", h_settings},
        {"GET", "/v3/company/{realm}/query", h_query},
        {"POST", "/v3/company/{realm}/query", h_query},
        {"GET", "/v3/company/{realm}/cdc", h_cdc},
        {"POST", "/v3/company/{realm}/batch", h_batch},
        {"GET", "/v3/company/{realm}/{entity}", h_get},
        {"GET", "/v3/company/{realm}/{entity}/{id}", h_get},
        {"POST", "/v3/company/{realm}/{entity}", h_post},
    };
    return hs_sbx_routes(sbx, &hs_sbx_quickbooks_ops, routes, sizeof routes / sizeof routes[0],
                         state);
}

static int qbo_reset(void *state, const struct hs_sbx_world *world, struct hs_error *err)
{
    struct qbo *q = state;
    realms_clear(q);
    char id[24];
    if (world != NULL)
        world_realm_id(world, id, sizeof id);
    else
        snprintf(id, sizeof id, "%s", DEFAULT_REALM);
    struct hs_qbo_realm *r = realm_new(id);
    if (r == NULL || realms_add(q, r) != HS_OK)
        return hs_error_set(err, HS_ENOMEM, "cannot reset quickbooks: out of memory");
    struct hs_qbo_fault fault;
    struct hs_qbo_ctx c = {
        .sbx = NULL, .realm = r, .now_ms = hs_sbx_now_ms(q->sbx), .fault = &fault};
    snprintf(c.home, sizeof c.home, "USD");
    c.multicurrency = true;
    int rc = seed_base(&c);
    for (size_t i = 0; rc == HS_OK && i < hs_sbx_fx_count(); i++)
        if (world == NULL)
            rc = seed_exchange_rate(&c, hs_sbx_fx_code(i));
    if (rc == HS_OK && world != NULL)
        rc = seed_world(&c, world);
    if (rc != HS_OK)
        return hs_error_set(err, rc, "cannot seed quickbooks realm '%s': %s", id,
                            rc == HS_EINVAL ? fault.detail : hs_strerror(rc));
    return HS_OK;
}

static json_t *qbo_tenants(void *state)
{
    struct qbo *q = state;
    json_t *ids = json_array();
    for (size_t i = 0; ids != NULL && i < q->n_realms; i++)
        if (json_array_append_new(ids, json_string(q->realms[i]->id)) != 0) {
            json_decref(ids);
            ids = NULL;
        }
    if (ids == NULL)
        return NULL;
    return json_pack("{s:s, s:o}", "realmId", first_realm(q), "realmIds", ids);
}

static json_t *qbo_save(void *state)
{
    struct qbo *q = state;
    json_t *realms = json_array();
    for (size_t i = 0; realms != NULL && i < q->n_realms; i++) {
        struct hs_qbo_realm *r = q->realms[i];
        json_t *tables = json_object();
        for (int e = 0; tables != NULL && e < HS_QBO_N_ENT; e++) {
            json_t *arr = json_array();
            for (size_t k = 0; arr != NULL && k < r->t[e].n; k++) {
                const struct hs_qbo_rec *rec = &r->t[e].v[k];
                json_t *o = json_pack("{s:O, s:I, s:b}", "o", rec->obj, "u",
                                      (json_int_t)rec->updated_ms, "d", rec->deleted);
                if (o == NULL || json_array_append_new(arr, o) != 0) {
                    json_decref(arr);
                    arr = NULL;
                }
            }
            if (arr == NULL || json_object_set_new(tables, defs[e].name, arr) != 0) {
                json_decref(tables);
                tables = NULL;
            }
        }
        json_t *rj = tables != NULL ? json_pack("{s:s, s:I, s:o}", "id", r->id, "next_docnum",
                                                (json_int_t)r->next_docnum, "tables", tables)
                                    : NULL;
        if (rj == NULL || json_array_append_new(realms, rj) != 0) {
            json_decref(realms);
            realms = NULL;
        }
    }
    if (realms == NULL)
        return NULL;
    return json_pack("{s:o, s:I}", "realms", realms, "batch_max", (json_int_t)q->batch_max);
}

static int load_realm(struct qbo *q, const json_t *rj, struct hs_error *err)
{
    const char *id = json_string_value(json_object_get(rj, "id"));
    if (id == NULL || strlen(id) >= HS_QBO_REALM_ID_MAX)
        return hs_error_set(err, HS_EPROTO, "cannot load quickbooks state: realm without 'id'");
    struct hs_qbo_realm *r = realm_new(id);
    if (r == NULL || realms_add(q, r) != HS_OK)
        return hs_error_set(err, HS_ENOMEM, "cannot load quickbooks state: out of memory");
    r->next_docnum = json_integer_value(json_object_get(rj, "next_docnum"));
    if (r->next_docnum < 1)
        r->next_docnum = 1001;
    const json_t *tables = json_object_get(rj, "tables");
    for (int e = 0; e < HS_QBO_N_ENT; e++) {
        size_t k;
        json_t *item;
        json_array_foreach(json_object_get(tables, defs[e].name), k, item)
        {
            json_t *o = json_object_get(item, "o");
            if (!json_is_object(o))
                return hs_error_set(err, HS_EPROTO,
                                    "cannot load quickbooks state: record %zu of '%s' is not an "
                                    "object",
                                    k, defs[e].name);
            size_t index;
            int rc = hs_qbo_table_add(&r->t[e], json_incref(o),
                                      json_integer_value(json_object_get(item, "u")), &index);
            if (rc != HS_OK)
                return hs_error_set(err, rc, "cannot load quickbooks state: out of memory");
            r->t[e].v[index].deleted = json_is_true(json_object_get(item, "d"));
            if (defs[e].name_field != NULL && !r->t[e].v[index].deleted) {
                const char *name = json_string_value(json_object_get(o, defs[e].name_field));
                if (name != NULL &&
                    hs_qbo_names_put(&r->t[e].names, name, (uint32_t)index) != HS_OK)
                    return hs_error_set(err, HS_ENOMEM,
                                        "cannot load quickbooks state: out of memory");
            }
        }
    }
    return HS_OK;
}

static int qbo_load(void *state, const json_t *saved, struct hs_error *err)
{
    struct qbo *q = state;
    const json_t *realms = json_object_get(saved, "realms");
    if (!json_is_array(realms))
        return hs_error_set(err, HS_EPROTO, "cannot load quickbooks state: no 'realms' array");
    realms_clear(q);
    size_t i;
    json_t *rj;
    json_array_foreach(realms, i, rj)
    {
        int rc = load_realm(q, rj, err);
        if (rc != HS_OK)
            return rc;
    }
    json_int_t bm = json_integer_value(json_object_get(saved, "batch_max"));
    if (bm >= 1 && bm <= BATCH_MAX_LIMIT)
        q->batch_max = (unsigned)bm;
    return HS_OK;
}

static int qbo_webhook_request(void *state, const json_t *events, const char *secret,
                               const char *url, struct hs_http_request *out)
{
    (void)state;
    json_t *notes = json_array();
    if (notes == NULL)
        return HS_ENOMEM;
    size_t i;
    json_t *ev;
    int rc = HS_OK;
    json_array_foreach(events, i, ev)
    {
        const char *realm = json_string_value(json_object_get(ev, "realmId"));
        if (realm == NULL)
            continue;
        json_t *entities = NULL;
        size_t k;
        json_t *note;
        json_array_foreach(notes, k, note)
        {
            if (hs_str_eq(json_string_value(json_object_get(note, "realmId")), realm))
                entities = json_object_get(json_object_get(note, "dataChangeEvent"), "entities");
        }
        if (entities == NULL) {
            entities = json_array();
            note = json_pack("{s:s, s:{s:o}}", "realmId", realm, "dataChangeEvent", "entities",
                             entities);
            if (note == NULL || json_array_append_new(notes, note) != 0) {
                rc = HS_ENOMEM;
                break;
            }
        }
        json_t *ent =
            json_pack("{s:O?, s:O?, s:O?, s:O?}", "name", json_object_get(ev, "name"), "id",
                      json_object_get(ev, "id"), "operation", json_object_get(ev, "operation"),
                      "lastUpdated", json_object_get(ev, "lastUpdated"));
        if (ent == NULL || json_array_append_new(entities, ent) != 0) {
            rc = HS_ENOMEM;
            break;
        }
    }
    json_t *body = rc == HS_OK ? json_pack("{s:o}", "eventNotifications", notes) : NULL;
    if (rc != HS_OK)
        json_decref(notes);
    if (body == NULL)
        return HS_ENOMEM;
    hs_buf_reset(&out->body);
    rc = hs_json_dump(body, &out->body);
    json_decref(body);
    if (rc != HS_OK)
        return rc;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    const char *key = secret != NULL ? secret : "";
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)out->body.data, out->body.len);
    crypto_auth_hmacsha256_final(&st, mac);
    char b64[sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES,
                                       sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    rc = hs_http_request_set(out, "POST", url);
    if (rc == HS_OK)
        rc = hs_http_headers_set(&out->headers, "Content-Type", "application/json");
    if (rc == HS_OK)
        rc = hs_http_headers_set(&out->headers, "intuit-signature", b64);
    return rc;
}

const struct hs_sbx_module_ops hs_sbx_quickbooks_ops = {
    .name = "quickbooks",
    .create = qbo_create,
    .destroy = qbo_destroy,
    .routes = qbo_routes,
    .reset = qbo_reset,
    .tenants = qbo_tenants,
    .save = qbo_save,
    .load = qbo_load,
    .throttled = qbo_throttled,
    .unauthorized = qbo_unauthorized,
    .webhook_request = qbo_webhook_request,
};
