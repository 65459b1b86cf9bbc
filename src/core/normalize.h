/*
 * core/normalize.h - matching keys: folded names without legal forms, emails, domains,
 *                    phone numbers, tax ids and postcodes.
 *
 * Design:     every function turns one outside string into the form two systems
 *             agree on, so that "Acme, Inc." and "ACME Inc", "Łódź Logistics Sp. z o.o."
 *             and "Logistics Łódź" or "株式会社山田製作所" and "山田製作所" produce the
 *             same key. Folding is table-driven and needs no external library: Latin
 *             letters lose their accents (é -> e, ß -> ss, Ł -> l, ø -> o, æ -> ae,
 *             þ -> th; U+00C0-U+024F and U+1E00-U+1EFF), Greek and Cyrillic are
 *             lower-cased, fullwidth ASCII becomes ASCII, combining marks are dropped,
 *             apostrophes vanish ("O'Brien" -> "obrien"), a dot between single letters
 *             joins them ("S.A." -> "sa", "o.o." -> "oo"), '&' becomes the word "and",
 *             and any other punctuation or space separates words. Other scripts (CJK,
 *             Arabic, ...) are kept as they are.
 *             A company name then loses its legal form: a table of about 215 forms from
 *             many countries (Inc, LLC, Ltd, Pty Ltd, GmbH & Co. KG, Sp. z o.o., S.p.A.,
 *             KK, 株式会社, W.L.L., Oy, AB, ApS, ...), each with a canonical spelling,
 *             matched on whole words at the end (or the start, for forms written first
 *             such as "PT" or "株式会社", which may also be glued to the name). The
 *             remaining words, sorted, are the name key: word order does not matter.
 *             Inputs are (s, len) and never need a NUL; only the first HS_NORMALIZE_MAX_INPUT
 *             bytes are read (a key does not need more), invalid UTF-8 counts as a space.
 * Ownership:  char ** results are hs_malloc'd and owned by the caller (hs_free); struct
 *             hs_name_key is caller storage released with hs_normalize_name_release.
 * Threads:    no state; any thread may call in.
 * Not here:   deciding matches (core/match.h), judging validity (core/validate.h).
 */
#ifndef HS_CORE_NORMALIZE_H
#define HS_CORE_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "hoopsync/common.h"
#include "hoopsync/model.h"

/* Bytes of input read by every function here; the rest is ignored. */
#define HS_NORMALIZE_MAX_INPUT 2048

/*
 * Folds (s, len) as described above into *out: lower-case words separated by single spaces,
 * no leading or trailing space ("" when nothing is left). HS_OK or HS_ENOMEM (*out NULL).
 */
HS_API HS_MUST_CHECK int hs_normalize_fold(const char *s, size_t len, char **out);

/* A company (or person) name prepared for matching. */
struct hs_name_key {
    char *folded;           /* hs_normalize_fold of the whole name */
    char *key;              /* words without legal form (nor a leading "the"), sorted */
    char *squashed;         /* the same words in their order, without spaces ("alsabahtrading") */
    const char *legal_form; /* canonical legal form ("inc", "gmbh", "sp z oo", "株式会社"),
                               static storage; NULL when the name has none */
    size_t n_words;         /* words in key */
};

/*
 * Builds the name key of (s, len) into out (which needs no initialization and is overwritten).
 * A legal form is removed only while a word remains, so "AG" alone keeps its key "ag".
 * Examples: "Acme, Inc." and "ACME Inc" -> key "acme", legal form "inc";
 * "Logistics Łódź Sp. z o.o." -> key "logistics lodz", legal form "sp z oo";
 * "株式会社山田製作所" -> key "山田製作所", legal form "株式会社".
 * HS_OK or HS_ENOMEM (out zeroed).
 */
HS_API HS_MUST_CHECK int hs_normalize_name(const char *s, size_t len, struct hs_name_key *out);
/* Frees the strings of k and zeroes it. NULL does nothing. */
HS_API void hs_normalize_name_release(struct hs_name_key *k);

/*
 * Email key: trimmed, a "mailto:" prefix and surrounding <> removed, ASCII lower-cased
 * (local part too: providers treat it case-insensitively). Tags ("+x") and dots are kept.
 * *out NULL when the input has no '@' with text on both sides. HS_OK or HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_normalize_email(const char *s, size_t len, char **out);

/*
 * Domain of an email address ("billing@Acme.com" -> "acme.com") or of a website
 * ("https://www.acme.com/about" -> "acme.com"): scheme, user, port, path and a leading
 * "www." removed, lower-cased. *out NULL when nothing usable is left. HS_OK or HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_normalize_domain(const char *s, size_t len, char **out);

/* True for domains of free mail services (gmail.com, outlook.com, web.de, qq.com, ...), which
 * say nothing about a company. domain must already be normalized. */
HS_API bool hs_normalize_is_free_mail(const char *domain);

/*
 * Phone key: digits only, "+" kept in front when the number is international ("+" or "00"),
 * an extension ("ext", "x", "#", ";") cut off. "+49 (0)89 1234-567" -> "+49891234567"
 * ("(0)" trunk prefix dropped). *out NULL with fewer than 4 digits. HS_OK or HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_normalize_phone(const char *s, size_t len, char **out);

/*
 * Tax id key: upper-case letters and digits only ("de 123.456-789" -> "DE123456789").
 * *out NULL when empty. HS_OK or HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_normalize_tax_id(const char *s, size_t len, char **out);

/*
 * Splits a tax id key into its country and body for comparison: a leading VAT prefix (an EU
 * member's code, EL for Greece, XI and GB for the United Kingdom, CHE for Switzerland) gives
 * the country (EL -> GR, XI -> GB); otherwise country (may be NULL or "") is used. The body is
 * what follows, reduced to the registration number where a suffix only names a program
 * (Canada "123456789RT0001" -> "123456789", Switzerland "CHE123456789MWST" -> "123456789").
 * out_country receives the country ("" when unknown); *out_body points into key.
 * Returns the body length.
 */
HS_API size_t hs_normalize_tax_id_split(const char *key, const char *country, char out_country[3],
                                        const char **out_body);

/* Postcode key: upper-case letters and digits only ("sw1a 1aa" -> "SW1A1AA"); *out NULL when
 * empty. HS_OK or HS_ENOMEM. */
HS_API HS_MUST_CHECK int hs_normalize_postcode(const char *s, size_t len, char **out);

/*
 * Address key "<country>|<postcode key>|<folded city>" ("FR|69001|lyon"); *out NULL when the
 * address has neither postcode nor city. HS_OK or HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_normalize_address_key(const struct hs_address *a, char **out);

#endif
