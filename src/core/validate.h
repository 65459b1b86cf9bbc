/*
 * core/validate.h - checks a record must pass before hoopsync writes it to a provider, with
 *                   messages a finance user understands.
 *
 * Design:     hs_validate_customer collects EVERY problem of one record into a list of
 *             issues (field path, severity, message) instead of stopping at the first, so an
 *             error item tells the user all they must fix at once: "Email 'bob@@acme' is not
 *             a valid email address: it contains more than one '@'", "VAT number 'DE123' for
 *             Germany should have 9 digits after DE". Errors block the write of that record
 *             (the engine turns them into an error item and the batch goes on); warnings are
 *             reported but do not block (an EIN whose prefix the IRS has not assigned yet).
 *             What is checked:
 *               - email syntax: a practical RFC 5322 subset (dot-atom local part of at most
 *                 64 bytes, or a quoted one; a domain of at least two labels of letters,
 *                 digits and hyphens, or UTF-8; 254 bytes in all);
 *               - country codes against the ISO 3166-1 table (core/country.h);
 *               - tax ids by the scheme of their prefix or the billing country: EU VAT with
 *                 check digits for AT BE DE DK ES FI FR HR IE IT LU NL PL PT SE SI SK (format
 *                 only for the other members), GB VAT (mod 97 and its 9755 variant, branch
 *                 and government forms), AU ABN (mod 89), US EIN (9 digits, IRS prefixes),
 *                 CA business number (Luhn), CH UID (mod 11), BR CNPJ (two mod-11 digits),
 *                 JP corporate number (mod 9); other countries are not judged;
 *               - provider field limits, given by the connector as data (struct
 *                 hs_validate_limit): length in characters, forbidden characters, required,
 *                 unique (asked through a callback, which the engine answers from the mirror).
 * Threads:    no state; any thread may call in (the callback is the caller's business).
 * Ownership:  struct hs_validate_issues is caller storage (init/release); it owns its strings.
 * Not here:   the model's own canonical checks (hs_record_validate in hoopsync/model.h), which
 *             every record passes before it gets here; matching (core/match.h).
 */
#ifndef HS_CORE_VALIDATE_H
#define HS_CORE_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "hoopsync/common.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"

/* ---- issues ----------------------------------------------------------------------------- */

enum hs_validate_severity {
    HS_VALIDATE_ERROR = 1,   /* the record must not be written */
    HS_VALIDATE_WARNING = 2, /* worth telling, not blocking */
};

struct hs_validate_issue {
    enum hs_validate_severity severity;
    char *field;   /* field path ("billing_address.country") */
    char *message; /* a full sentence for a finance user, no final period */
};

struct hs_validate_issues {
    struct hs_validate_issue *items;
    size_t n_items;
    size_t n_errors; /* items with HS_VALIDATE_ERROR */
    size_t cap;
};

/* Makes list empty (zero-filled storage is also a valid empty list). */
HS_API void hs_validate_issues_init(struct hs_validate_issues *list);
/* Frees every issue; list is empty and reusable afterwards. */
HS_API void hs_validate_issues_release(struct hs_validate_issues *list);
/* Appends an issue (field and the formatted message are copied). HS_OK or HS_ENOMEM (list
 * unchanged). */
HS_API HS_MUST_CHECK int hs_validate_issues_add(struct hs_validate_issues *list,
                                                enum hs_validate_severity severity,
                                                const char *field, const char *fmt, ...)
    HS_PRINTF(4, 5);

/* ---- single values ---------------------------------------------------------------------- */

/*
 * Checks an email address. HS_OK, or HS_EINVAL with the reason in err
 * ("email 'bob@@acme' is not valid: it contains more than one '@'").
 */
HS_API HS_MUST_CHECK int hs_validate_email(const char *email, struct hs_error *err);

/*
 * Checks a tax id. country (may be NULL or "") is used when the id has no country prefix.
 * Returns HS_OK (valid or a scheme we do not judge), 1 (accepted with a warning in err->msg,
 * err->code HS_OK), or HS_EINVAL with the reason in err ("VAT number 'DE123' for Germany
 * should have 9 digits after DE", "ABN '51 824 753 557' is not valid: its check digits do
 * not match").
 */
HS_API HS_MUST_CHECK int hs_validate_tax_id(const char *tax_id, const char *country,
                                            struct hs_error *err);

/* ---- records ---------------------------------------------------------------------------- */

/* One provider limit on one field of the canonical field view. */
struct hs_validate_limit {
    const char *field;     /* field path ("display_name") */
    const char *label;     /* name in messages ("Display name"); NULL: derived from field */
    size_t max_chars;      /* most characters (Unicode code points); 0: no limit */
    const char *forbidden; /* ASCII characters not allowed (":\t\n"); NULL: none */
    bool required;         /* must be present and not blank */
    bool unique;           /* must not be taken by another record (rules->is_taken) */
    bool read_only;        /* the provider does not take it through its API (Xero's
                              Contact.Website): the engine never writes it there (creates
                              included) nor counts it as a change toward it; not a validation */
};

/*
 * Answers whether value of field is already used by a record other than rec (the engine
 * looks in the mirror, ignoring rec's own id, with the provider's case rules).
 */
typedef bool (*hs_validate_taken_fn)(void *ud, const struct hs_record *rec, const char *field,
                                     const char *value);

struct hs_validate_rules {
    const char *provider; /* in messages ("QuickBooks"); NULL: "the accounting system" */
    const struct hs_validate_limit *limits;
    size_t n_limits;
    hs_validate_taken_fn is_taken; /* NULL: uniqueness is not checked */
    void *ud;
};

/* The limits QuickBooks Online puts on customers (DisplayName: 500 characters, no ':', tab or
 * newline, unique; CompanyName 100, names 100 / 100, email 100, phone 30, notes 2000, address
 * lines 500, city 255, postcode 30). */
HS_API const struct hs_validate_limit *hs_validate_quickbooks_customer_limits(size_t *n_out);

/*
 * Validates a customer about to be written: email, every country code, the tax id, then each
 * limit of rules (may be NULL: no provider limits). Appends every problem to out. Returns the
 * number of errors found (0: the record may be written), HS_EINVAL (not a customer), or
 * HS_ENOMEM (out keeps what was appended before).
 */
HS_API HS_MUST_CHECK int hs_validate_customer(const struct hs_record *rec,
                                              const struct hs_validate_rules *rules,
                                              struct hs_validate_issues *out);

#endif
