/*
 * sandbox/xero_query.c - the `where` and `order` subsets of the Xero module, and Xero's
 * date formats.
 *
 * Design:     a hand-written scanner over the where text: terms joined by AND (or &&), each
 *             `Field OP literal` or `Field.Method("x")`. Xero accepts a much larger C#-like
 *             language; what is not in the subset is refused with HS_EINVAL (the module turns
 *             that into Xero's QueryParseException), never silently ignored. Values are read
 *             from the record by dotted path; numbers are compared exactly (scale 6), dates in
 *             Xero's "/Date(ms+0000)/" form or ISO text are compared as instants, strings
 *             without regard to ASCII case (Xero's database collation). Field names are
 *             checked against the spec's schema of the entity (hs_xero_field_known, a table
 *             generated from shared/specs/xero/xero_accounting.yaml): an unknown one is
 *             Xero's "No property or field 'X' exists in type 'Contact'", not an empty answer.
 * Invariants: the parser never reads past the NUL; every failure frees what it built.
 * Not here:   the HTTP side and records (xero.c).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sandbox/qbo.h"
#include "sandbox/xero.h"
#include "util/alloc.h"
#include "util/civil.h"
#include "util/str.h"

/* ---- fields of Xero's schemas ---- */

/* Properties of the spec's schemas (shared/specs/xero/xero_accounting.yaml), generated;
 * "Name>Schema" names a property whose value is that schema (a dotted path goes on there). */
static const char *const f_contact[] = {"ContactID",
                                        "MergedToContactID",
                                        "ContactNumber",
                                        "AccountNumber",
                                        "ContactStatus",
                                        "Name",
                                        "FirstName",
                                        "LastName",
                                        "CompanyNumber",
                                        "EmailAddress",
                                        "ContactPersons",
                                        "BankAccountDetails",
                                        "TaxNumber",
                                        "TaxNumberType",
                                        "AccountsReceivableTaxType",
                                        "AccountsPayableTaxType",
                                        "Addresses",
                                        "Phones",
                                        "IsSupplier",
                                        "IsCustomer",
                                        "SalesDefaultLineAmountType",
                                        "PurchasesDefaultLineAmountType",
                                        "DefaultCurrency",
                                        "XeroNetworkKey",
                                        "SalesDefaultAccountCode",
                                        "PurchasesDefaultAccountCode",
                                        "SalesTrackingCategories",
                                        "PurchasesTrackingCategories",
                                        "TrackingCategoryName",
                                        "TrackingCategoryOption",
                                        "PaymentTerms",
                                        "UpdatedDateUTC",
                                        "ContactGroups",
                                        "Website",
                                        "BrandingTheme",
                                        "BatchPayments",
                                        "Discount",
                                        "Balances",
                                        "Attachments",
                                        "HasAttachments",
                                        "ValidationErrors",
                                        "HasValidationErrors",
                                        "StatusAttributeString",
                                        NULL};
static const char *const f_item[] = {"Code",
                                     "InventoryAssetAccountCode",
                                     "Name",
                                     "IsSold",
                                     "IsPurchased",
                                     "Description",
                                     "PurchaseDescription",
                                     "PurchaseDetails>Purchase",
                                     "SalesDetails>Purchase",
                                     "IsTrackedAsInventory",
                                     "TotalCostPool",
                                     "QuantityOnHand",
                                     "UpdatedDateUTC",
                                     "ItemID",
                                     "StatusAttributeString",
                                     "ValidationErrors",
                                     NULL};
static const char *const f_invoice[] = {"Type",
                                        "Contact>Contact",
                                        "LineItems",
                                        "Date",
                                        "DueDate",
                                        "LineAmountTypes",
                                        "InvoiceNumber",
                                        "Reference",
                                        "BrandingThemeID",
                                        "Url",
                                        "CurrencyCode",
                                        "CurrencyRate",
                                        "Status",
                                        "SentToContact",
                                        "ExpectedPaymentDate",
                                        "PlannedPaymentDate",
                                        "CISDeduction",
                                        "CISRate",
                                        "SubTotal",
                                        "TotalTax",
                                        "Total",
                                        "TotalDiscount",
                                        "InvoiceID",
                                        "RepeatingInvoiceID",
                                        "HasAttachments",
                                        "IsDiscounted",
                                        "Payments",
                                        "Prepayments",
                                        "Overpayments",
                                        "AmountDue",
                                        "AmountPaid",
                                        "FullyPaidOnDate",
                                        "AmountCredited",
                                        "UpdatedDateUTC",
                                        "UpdatedDateUTCString",
                                        "CreditNotes",
                                        "Attachments",
                                        "HasErrors",
                                        "StatusAttributeString",
                                        "ValidationErrors",
                                        "Warnings",
                                        "InvoiceAddresses",
                                        NULL};
static const char *const f_payment[] = {"Invoice>Invoice",
                                        "CreditNote>CreditNote",
                                        "Prepayment",
                                        "Overpayment",
                                        "InvoiceNumber",
                                        "CreditNoteNumber",
                                        "BatchPayment",
                                        "Account>Account",
                                        "Code",
                                        "Date",
                                        "CurrencyRate",
                                        "Amount",
                                        "BankAmount",
                                        "Reference",
                                        "IsReconciled",
                                        "Status",
                                        "PaymentType",
                                        "UpdatedDateUTC",
                                        "UpdatedDateUTCString",
                                        "PaymentID",
                                        "BatchPaymentID",
                                        "BankAccountNumber",
                                        "Particulars",
                                        "Details",
                                        "HasAccount",
                                        "HasValidationErrors",
                                        "StatusAttributeString",
                                        "ValidationErrors",
                                        "Warnings",
                                        NULL};
static const char *const f_creditnote[] = {"Type",
                                           "Contact>Contact",
                                           "Date",
                                           "DueDate",
                                           "Status",
                                           "LineAmountTypes",
                                           "LineItems",
                                           "SubTotal",
                                           "TotalTax",
                                           "Total",
                                           "CISDeduction",
                                           "CISRate",
                                           "UpdatedDateUTC",
                                           "UpdatedDateUTCString",
                                           "CurrencyCode",
                                           "FullyPaidOnDate",
                                           "CreditNoteID",
                                           "CreditNoteNumber",
                                           "Reference",
                                           "SentToContact",
                                           "CurrencyRate",
                                           "RemainingCredit",
                                           "Allocations",
                                           "AppliedAmount",
                                           "Payments",
                                           "BrandingThemeID",
                                           "StatusAttributeString",
                                           "HasAttachments",
                                           "HasErrors",
                                           "ValidationErrors",
                                           "Warnings",
                                           "InvoiceAddresses",
                                           NULL};
static const char *const f_taxrate[] = {"Name",
                                        "TaxType",
                                        "TaxComponents",
                                        "Status",
                                        "ReportTaxType",
                                        "CanApplyToAssets",
                                        "CanApplyToEquity",
                                        "CanApplyToExpenses",
                                        "CanApplyToLiabilities",
                                        "CanApplyToRevenue",
                                        "DisplayTaxRate",
                                        "EffectiveRate",
                                        NULL};
static const char *const f_currency[] = {"Code", "Description", NULL};
static const char *const f_account[] = {"Code",
                                        "Name",
                                        "AccountID",
                                        "Type",
                                        "BankAccountNumber",
                                        "Status",
                                        "Description",
                                        "BankAccountType",
                                        "CurrencyCode",
                                        "TaxType",
                                        "EnablePaymentsToAccount",
                                        "ShowInExpenseClaims",
                                        "Class",
                                        "SystemAccount",
                                        "ReportingCode",
                                        "ReportingCodeName",
                                        "HasAttachments",
                                        "UpdatedDateUTC",
                                        "AddToWatchlist",
                                        "ValidationErrors",
                                        NULL};
static const char *const f_purchase[] = {"UnitPrice", "AccountCode", "COGSAccountCode", "TaxType",
                                         NULL};
static const struct {
    const char *name;
    const char *const *fields;
} schemas[] = {
    {"Contact", f_contact},       {"Item", f_item},
    {"Invoice", f_invoice},       {"Payment", f_payment},
    {"CreditNote", f_creditnote}, {"TaxRate", f_taxrate},
    {"Currency", f_currency},     {"Account", f_account},
    {"Purchase", f_purchase},
};

static const char *const *schema_fields(const char *type)
{
    for (size_t i = 0; type != NULL && i < sizeof schemas / sizeof schemas[0]; i++)
        if (strcmp(schemas[i].name, type) == 0)
            return schemas[i].fields;
    return NULL;
}

bool hs_xero_field_known(const char *type, const char *path, char *msg, size_t len)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path != NULL ? path : "");
    const char *const *fields = schema_fields(type);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok != NULL && fields != NULL;
         tok = strtok_r(NULL, ".", &save)) {
        const char *next = NULL;
        bool found = false;
        for (size_t i = 0; !found && fields[i] != NULL; i++) {
            const char *gt = strchr(fields[i], '>');
            size_t n = gt != NULL ? (size_t)(gt - fields[i]) : strlen(fields[i]);
            /* field names are case-insensitive, as where and order read them (node_at) */
            if (strlen(tok) == n && strncasecmp(fields[i], tok, n) == 0) {
                found = true;
                next = gt != NULL ? gt + 1 : NULL;
            }
        }
        if (!found) {
            if (msg != NULL && len > 0)
                snprintf(msg, len, "No property or field '%.64s' exists in type '%s'", tok, type);
            return false;
        }
        type = next;
        fields = schema_fields(next); /* NULL: a plain value or a schema we do not check */
    }
    return true;
}

/* ---- dates ---- */

static bool valid_ymd(int64_t y, int64_t m, int64_t d)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= mdays[m - 1];
}

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

bool hs_xero_msdate_parse(const char *s, int64_t *out_ms)
{
    if (s == NULL || strncmp(s, "/Date(", 6) != 0)
        return false;
    const char *p = s + 6;
    bool neg = *p == '-';
    if (neg)
        p++;
    int64_t v = 0;
    int n = 0;
    while (*p >= '0' && *p <= '9' && n < 16) {
        v = v * 10 + (*p++ - '0');
        n++;
    }
    if (n == 0)
        return false;
    if (*p == '+' || *p == '-') { /* offset: informational, the number is UTC ms */
        p++;
        int64_t off;
        if (!digits(p, 4, &off))
            return false;
        p += 4;
    }
    if (strcmp(p, ")/") != 0)
        return false;
    *out_ms = neg ? -v : v;
    return true;
}

void hs_xero_msdate_format(int64_t ms, char *out, size_t size)
{
    snprintf(out, size, "/Date(%lld+0000)/", (long long)ms);
}

static bool iso_parse(const char *s, int64_t *out_ms)
{
    int64_t y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    if (strlen(s) < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || !valid_ymd(y, mo, d))
        return false;
    const char *p = s + 10;
    if (*p == 'T' || *p == ' ') {
        if (!digits(p + 1, 2, &h) || p[3] != ':' || !digits(p + 4, 2, &mi))
            return false;
        p += 6;
        if (*p == ':') {
            if (!digits(p + 1, 2, &sec))
                return false;
            p += 3;
            if (*p == '.') {
                p++;
                int n = 0;
                while (*p >= '0' && *p <= '9') {
                    if (n < 3)
                        frac = frac * 10 + (*p - '0');
                    n++;
                    p++;
                }
                if (n == 0)
                    return false;
                for (; n < 3; n++)
                    frac *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return false;
    }
    if (*p == 'Z')
        p++;
    if (*p != '\0')
        return false;
    *out_ms = ((hs_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + sec * 1000 + frac;
    return true;
}

static bool http_date_parse(const char *s, int64_t *out_ms)
{
    /* "Mon, 23 Nov 2026 10:00:00 GMT" */
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const char *p = strchr(s, ',');
    if (p == NULL)
        return false;
    p++;
    while (*p == ' ')
        p++;
    int64_t d, y, h, mi, sec, mo = 0;
    if (!digits(p, 2, &d) || p[2] != ' ')
        return false;
    p += 3;
    for (int i = 0; i < 12; i++)
        if (strncmp(p, months[i], 3) == 0)
            mo = i + 1;
    if (mo == 0 || p[3] != ' ' || !digits(p + 4, 4, &y) || p[8] != ' ')
        return false;
    p += 9;
    if (!digits(p, 2, &h) || p[2] != ':' || !digits(p + 3, 2, &mi) || p[5] != ':' ||
        !digits(p + 6, 2, &sec) || strcmp(p + 8, " GMT") != 0 || !valid_ymd(y, mo, d) || h > 23 ||
        mi > 59 || sec > 60)
        return false;
    *out_ms = ((hs_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + sec * 1000;
    return true;
}

bool hs_xero_time_parse(const char *s, int64_t *out_ms)
{
    if (s == NULL)
        return false;
    return iso_parse(s, out_ms) || http_date_parse(s, out_ms) || hs_xero_msdate_parse(s, out_ms);
}

/* ---- where ---- */

struct scan {
    const char *s;
    size_t i;
    struct hs_error *err;
};

static void skip_ws(struct scan *sc)
{
    while (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' || sc->s[sc->i] == '\n' ||
           sc->s[sc->i] == '\r')
        sc->i++;
}

static int fail(struct scan *sc, const char *what)
{
    return hs_error_set(sc->err, HS_EINVAL, "%s, at column %zu", what, sc->i + 1);
}

static bool is_ident(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Reads an identifier (no dots) into a new string: HS_EINVAL (no message) when there is
 * none, HS_ENOMEM. */
static int ident(struct scan *sc, char **out)
{
    *out = NULL;
    size_t start = sc->i;
    while (is_ident(sc->s[sc->i]))
        sc->i++;
    if (sc->i == start)
        return HS_EINVAL;
    *out = hs_strndup(sc->s + start, sc->i - start);
    return *out != NULL ? HS_OK : HS_ENOMEM;
}

static bool word_ieq(const char *a, const char *b)
{
    return a != NULL && hs_str_ieq(a, b);
}

/* "text" with \" and \\ escapes. */
static int quoted(struct scan *sc, char **out)
{
    if (sc->s[sc->i] != '"')
        return fail(sc, "expected a quoted string");
    sc->i++;
    struct hs_buf b;
    hs_buf_init(&b);
    int rc = HS_OK;
    for (;;) {
        char c = sc->s[sc->i];
        if (c == '\0') {
            rc = fail(sc, "unterminated string");
            break;
        }
        sc->i++;
        if (c == '"')
            break;
        if (c == '\\' && (sc->s[sc->i] == '"' || sc->s[sc->i] == '\\'))
            c = sc->s[sc->i++];
        rc = hs_buf_append(&b, &c, 1);
        if (rc != HS_OK)
            break;
    }
    if (rc == HS_OK) {
        *out = hs_strndup(b.data != NULL ? b.data : "", b.len);
        if (*out == NULL)
            rc = HS_ENOMEM;
    }
    hs_buf_release(&b);
    return rc;
}

static int datetime_lit(struct scan *sc, struct hs_xero_term *t)
{
    int64_t v[6] = {0, 0, 0, 0, 0, 0};
    int n = 0;
    skip_ws(sc);
    if (sc->s[sc->i] != '(')
        return fail(sc, "expected '(' after DateTime");
    sc->i++;
    for (;;) {
        skip_ws(sc);
        int64_t x = 0;
        int nd = 0;
        while (sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9' && nd < 5) {
            x = x * 10 + (sc->s[sc->i++] - '0');
            nd++;
        }
        if (nd == 0 || n == 6)
            return fail(sc, "expected DateTime(year, month, day[, hour, minute, second])");
        v[n++] = x;
        skip_ws(sc);
        if (sc->s[sc->i] == ',') {
            sc->i++;
            continue;
        }
        if (sc->s[sc->i] == ')') {
            sc->i++;
            break;
        }
        return fail(sc, "expected ',' or ')' in DateTime");
    }
    if (n < 3 || !valid_ymd(v[0], v[1], v[2]) || v[3] > 23 || v[4] > 59 || v[5] > 59)
        return fail(sc, "invalid DateTime");
    t->lit = HS_XERO_LIT_TIME;
    t->time_ms =
        ((hs_days_from_civil(v[0], v[1], v[2]) * 24 + v[3]) * 60 + v[4]) * 60000 + v[5] * 1000;
    return HS_OK;
}

static int literal(struct scan *sc, struct hs_xero_term *t)
{
    skip_ws(sc);
    char c = sc->s[sc->i];
    if (c == '"') {
        t->lit = HS_XERO_LIT_STRING;
        return quoted(sc, &t->str);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        size_t start = sc->i;
        if (c == '-')
            sc->i++;
        while ((sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9') || sc->s[sc->i] == '.')
            sc->i++;
        int64_t probe;
        if (hs_qbo_dec_parse(sc->s + start, sc->i - start, HS_QBO_SCALE, &probe) != HS_OK)
            return fail(sc, "invalid number");
        t->lit = HS_XERO_LIT_NUMBER;
        t->str = hs_strndup(sc->s + start, sc->i - start);
        return t->str != NULL ? HS_OK : HS_ENOMEM;
    }
    char *w = NULL;
    int rc = ident(sc, &w);
    if (rc == HS_ENOMEM)
        return rc;
    if (rc != HS_OK)
        return fail(sc, "expected a value");
    if (word_ieq(w, "true") || word_ieq(w, "false")) {
        t->lit = HS_XERO_LIT_BOOL;
        t->b = word_ieq(w, "true");
    } else if (word_ieq(w, "null")) {
        t->lit = HS_XERO_LIT_NULL;
    } else if (word_ieq(w, "guid")) {
        skip_ws(sc);
        if (sc->s[sc->i] != '(') {
            rc = fail(sc, "expected '(' after Guid");
        } else {
            sc->i++;
            skip_ws(sc);
            t->lit = HS_XERO_LIT_STRING;
            rc = quoted(sc, &t->str);
            skip_ws(sc);
            if (rc == HS_OK && sc->s[sc->i++] != ')')
                rc = fail(sc, "expected ')' after the Guid value");
        }
    } else if (word_ieq(w, "DateTime")) {
        rc = datetime_lit(sc, t);
    } else {
        rc = fail(sc, "unknown value");
    }
    hs_free(w);
    return rc;
}

static int term(struct scan *sc, struct hs_xero_term *t)
{
    skip_ws(sc);
    struct hs_buf path;
    hs_buf_init(&path);
    int rc = HS_OK;
    enum hs_xero_op method = HS_XERO_EQ;
    bool has_method = false;
    for (;;) {
        char *id = NULL;
        rc = ident(sc, &id);
        if (rc != HS_OK) {
            if (rc != HS_ENOMEM)
                rc = fail(sc, "expected a field name");
            break;
        }
        if (sc->s[sc->i] == '(') {
            /* Field.Method( */
            if (word_ieq(id, "Contains"))
                method = HS_XERO_CONTAINS;
            else if (word_ieq(id, "StartsWith"))
                method = HS_XERO_STARTSWITH;
            else if (word_ieq(id, "EndsWith"))
                method = HS_XERO_ENDSWITH;
            else
                rc = fail(sc, "unsupported method (Contains, StartsWith and EndsWith are)");
            hs_free(id);
            if (rc == HS_OK && path.len == 0)
                rc = fail(sc, "a method needs a field");
            has_method = true;
            break;
        }
        if (path.len > 0)
            rc = hs_buf_append(&path, ".", 1);
        if (rc == HS_OK)
            rc = hs_buf_puts(&path, id);
        hs_free(id);
        if (rc != HS_OK || sc->s[sc->i] != '.')
            break;
        sc->i++;
    }
    if (rc == HS_OK) {
        t->field = hs_strndup(path.data, path.len);
        if (t->field == NULL)
            rc = HS_ENOMEM;
    }
    hs_buf_release(&path);
    if (rc != HS_OK)
        return rc;
    if (has_method) {
        sc->i++; /* ( */
        skip_ws(sc);
        t->op = method;
        t->lit = HS_XERO_LIT_STRING;
        rc = quoted(sc, &t->str);
        skip_ws(sc);
        if (rc == HS_OK && sc->s[sc->i] != ')')
            return fail(sc, "expected ')'");
        sc->i++;
        return rc;
    }
    skip_ws(sc);
    const char *p = sc->s + sc->i;
    if (p[0] == '=' && p[1] == '=') {
        t->op = HS_XERO_EQ;
        sc->i += 2;
    } else if (p[0] == '!' && p[1] == '=') {
        t->op = HS_XERO_NE;
        sc->i += 2;
    } else if (p[0] == '<' && p[1] == '=') {
        t->op = HS_XERO_LE;
        sc->i += 2;
    } else if (p[0] == '>' && p[1] == '=') {
        t->op = HS_XERO_GE;
        sc->i += 2;
    } else if (p[0] == '=') {
        t->op = HS_XERO_EQ;
        sc->i += 1;
    } else if (p[0] == '<') {
        t->op = HS_XERO_LT;
        sc->i += 1;
    } else if (p[0] == '>') {
        t->op = HS_XERO_GT;
        sc->i += 1;
    } else {
        return fail(sc, "expected an operator (== != < <= > >=)");
    }
    return literal(sc, t);
}

void hs_xero_where_free(struct hs_xero_where *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; w->terms != NULL && i < w->n_terms; i++) {
        hs_free(w->terms[i].field);
        hs_free(w->terms[i].str);
    }
    hs_free(w->terms);
    hs_free(w);
}

int hs_xero_where_parse(const char *text, struct hs_xero_where **out, struct hs_error *err)
{
    *out = NULL;
    if (text == NULL)
        return hs_error_set(err, HS_EINVAL, "empty where");
    if (strlen(text) > HS_XERO_WHERE_MAX_LEN)
        return hs_error_set(err, HS_ETOOBIG, "where is longer than %d bytes",
                            HS_XERO_WHERE_MAX_LEN);
    struct hs_xero_where *w = hs_calloc(1, sizeof *w);
    if (w != NULL)
        w->terms = hs_calloc(HS_XERO_WHERE_MAX_TERMS, sizeof *w->terms);
    if (w == NULL || w->terms == NULL) {
        hs_xero_where_free(w);
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    }
    struct scan sc = {text, 0, err};
    int rc = HS_OK;
    for (;;) {
        if (w->n_terms == HS_XERO_WHERE_MAX_TERMS) {
            rc = hs_error_set(err, HS_ETOOBIG, "more than %d terms", HS_XERO_WHERE_MAX_TERMS);
            break;
        }
        rc = term(&sc, &w->terms[w->n_terms++]);
        if (rc != HS_OK)
            break;
        skip_ws(&sc);
        if (sc.s[sc.i] == '\0')
            break;
        if (sc.s[sc.i] == '&' && sc.s[sc.i + 1] == '&') {
            sc.i += 2;
            continue;
        }
        size_t at = sc.i;
        char *w2 = NULL;
        if (ident(&sc, &w2) == HS_ENOMEM) {
            rc = HS_ENOMEM;
            break;
        }
        bool and = word_ieq(w2, "AND");
        bool or = word_ieq(w2, "OR");
        hs_free(w2);
        if (and)
            continue;
        sc.i = at;
        rc = fail(&sc, or ? "OR is not supported by the sandbox (AND is)" : "expected AND");
        break;
    }
    if (rc == HS_ENOMEM)
        hs_error_set(err, HS_ENOMEM, "out of memory");
    if (rc != HS_OK) {
        hs_xero_where_free(w);
        return rc;
    }
    *out = w;
    return HS_OK;
}

/* Node at dotted path, or NULL. */
static const json_t *node_at(const json_t *obj, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *cur = obj;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok != NULL && cur != NULL;
         tok = strtok_r(NULL, ".", &save)) {
        const json_t *next = json_object_get(cur, tok);
        if (next == NULL && json_is_object(cur)) { /* field names are case-insensitive */
            const char *k;
            json_t *v;
            json_object_foreach((json_t *)cur, k, v)
            {
                if (hs_str_ieq(k, tok)) {
                    next = v;
                    break;
                }
            }
        }
        cur = next;
    }
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

static bool ifind(const char *hay, const char *needle, enum hs_xero_op op)
{
    size_t n = strlen(hay), m = strlen(needle);
    if (m > n)
        return false;
    for (size_t i = 0; i + m <= n; i++) {
        if (op == HS_XERO_STARTSWITH && i > 0)
            return false;
        if (op == HS_XERO_ENDSWITH && i + m != n)
            continue;
        size_t k = 0;
        while (k < m) {
            int a = (unsigned char)hay[i + k], b = (unsigned char)needle[k];
            if (a >= 'A' && a <= 'Z')
                a += 32;
            if (b >= 'A' && b <= 'Z')
                b += 32;
            if (a != b)
                break;
            k++;
        }
        if (k == m)
            return true;
    }
    return false;
}

static bool op_holds(enum hs_xero_op op, int c)
{
    switch (op) {
    case HS_XERO_EQ:
        return c == 0;
    case HS_XERO_NE:
        return c != 0;
    case HS_XERO_LT:
        return c < 0;
    case HS_XERO_LE:
        return c <= 0;
    case HS_XERO_GT:
        return c > 0;
    case HS_XERO_GE:
        return c >= 0;
    default:
        return false;
    }
}

static bool node_time(const json_t *n, int64_t *out)
{
    const char *s = json_string_value(n);
    return s != NULL && hs_xero_time_parse(s, out);
}

static bool term_match(const struct hs_xero_term *t, const json_t *obj)
{
    const json_t *n = node_at(obj, t->field);
    bool absent = n == NULL || json_is_null(n);
    if (t->lit == HS_XERO_LIT_NULL)
        return t->op == HS_XERO_EQ ? absent : t->op == HS_XERO_NE ? !absent : false;
    if (absent)
        return t->op == HS_XERO_NE;
    int c;
    switch (t->lit) {
    case HS_XERO_LIT_BOOL:
        if (!json_is_boolean(n))
            return false;
        c = json_is_true(n) == t->b ? 0 : 1;
        return t->op == HS_XERO_EQ ? c == 0 : t->op == HS_XERO_NE ? c != 0 : false;
    case HS_XERO_LIT_TIME: {
        int64_t ms;
        if (!node_time(n, &ms))
            return false;
        c = ms < t->time_ms ? -1 : ms > t->time_ms;
        return op_holds(t->op, c);
    }
    case HS_XERO_LIT_NUMBER: {
        int64_t a, b;
        if (hs_qbo_is_num(n) && hs_qbo_num_get(n, HS_QBO_SCALE, &a) == HS_OK &&
            hs_qbo_dec_parse(t->str, strlen(t->str), HS_QBO_SCALE, &b) == HS_OK) {
            c = a < b ? -1 : a > b;
            return op_holds(t->op, c);
        }
        const char *s = json_string_value(n);
        return s != NULL && op_holds(t->op, ascii_casecmp(s, t->str));
    }
    case HS_XERO_LIT_STRING: {
        const char *s = json_string_value(n);
        if (s == NULL && hs_qbo_is_num(n)) {
            int64_t a, b;
            if (hs_qbo_num_get(n, HS_QBO_SCALE, &a) != HS_OK ||
                hs_qbo_dec_parse(t->str, strlen(t->str), HS_QBO_SCALE, &b) != HS_OK)
                return false;
            return op_holds(t->op, a < b ? -1 : a > b);
        }
        if (s == NULL)
            return false;
        if (t->op == HS_XERO_CONTAINS || t->op == HS_XERO_STARTSWITH || t->op == HS_XERO_ENDSWITH)
            return ifind(s, t->str, t->op);
        return op_holds(t->op, ascii_casecmp(s, t->str));
    }
    default:
        return false;
    }
}

bool hs_xero_where_match(const struct hs_xero_where *w, const json_t *obj)
{
    if (w == NULL)
        return true;
    for (size_t i = 0; i < w->n_terms; i++)
        if (!term_match(&w->terms[i], obj))
            return false;
    return true;
}

/* ---- order ---- */

void hs_xero_order_free(struct hs_xero_order *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->n; i++)
        hs_free(o->fields[i]);
    hs_free(o);
}

int hs_xero_order_parse(const char *text, struct hs_xero_order **out, struct hs_error *err)
{
    *out = NULL;
    if (text == NULL || strlen(text) > HS_XERO_WHERE_MAX_LEN)
        return hs_error_set(err, HS_EINVAL, "invalid order");
    struct hs_xero_order *o = hs_calloc(1, sizeof *o);
    if (o == NULL)
        return hs_error_set(err, HS_ENOMEM, "out of memory");
    struct scan sc = {text, 0, err};
    int rc = HS_OK;
    for (;;) {
        skip_ws(&sc);
        if (o->n == HS_XERO_ORDER_MAX_KEYS) {
            rc = fail(&sc, "too many order keys");
            break;
        }
        size_t start = sc.i;
        while (is_ident(sc.s[sc.i]) || sc.s[sc.i] == '.')
            sc.i++;
        if (sc.i == start) {
            rc = fail(&sc, "expected a field name");
            break;
        }
        o->fields[o->n] = hs_strndup(sc.s + start, sc.i - start);
        if (o->fields[o->n] == NULL) {
            rc = hs_error_set(err, HS_ENOMEM, "out of memory");
            break;
        }
        o->n++;
        skip_ws(&sc);
        size_t at = sc.i;
        char *dir = NULL;
        if (ident(&sc, &dir) == HS_ENOMEM) {
            rc = hs_error_set(err, HS_ENOMEM, "out of memory");
            break;
        }
        if (word_ieq(dir, "DESC"))
            o->desc[o->n - 1] = true;
        else if (dir != NULL && !word_ieq(dir, "ASC"))
            sc.i = at;
        bool bad = dir != NULL && sc.i == at;
        hs_free(dir);
        if (bad) {
            rc = fail(&sc, "expected ASC, DESC or ','");
            break;
        }
        skip_ws(&sc);
        if (sc.s[sc.i] == '\0')
            break;
        if (sc.s[sc.i] != ',') {
            rc = fail(&sc, "expected ','");
            break;
        }
        sc.i++;
    }
    if (rc != HS_OK) {
        hs_xero_order_free(o);
        return rc;
    }
    *out = o;
    return HS_OK;
}

static int node_cmp(const json_t *a, const json_t *b)
{
    bool na = a == NULL || json_is_null(a), nb = b == NULL || json_is_null(b);
    if (na || nb)
        return na == nb ? 0 : na ? -1 : 1;
    int64_t x, y;
    if (hs_qbo_is_num(a) && hs_qbo_is_num(b) && hs_qbo_num_get(a, HS_QBO_SCALE, &x) == HS_OK &&
        hs_qbo_num_get(b, HS_QBO_SCALE, &y) == HS_OK)
        return x < y ? -1 : x > y;
    if (node_time(a, &x) && node_time(b, &y))
        return x < y ? -1 : x > y;
    if (json_is_boolean(a) && json_is_boolean(b))
        return (int)json_is_true(a) - (int)json_is_true(b);
    const char *sa = json_string_value(a), *sb = json_string_value(b);
    if (sa != NULL && sb != NULL)
        return ascii_casecmp(sa, sb);
    return 0;
}

int hs_xero_order_cmp(const struct hs_xero_order *o, const json_t *a, const json_t *b)
{
    for (size_t i = 0; o != NULL && i < o->n; i++) {
        int c = node_cmp(node_at(a, o->fields[i]), node_at(b, o->fields[i]));
        if (c != 0)
            return o->desc[i] ? -c : c;
    }
    return 0;
}
