/*
 * core/match.h - deciding whether an unlinked customer already exists on the other side:
 *                link, review or create, with a reason.
 *
 * Design:     the engine loads the other side's customers from the store's mirror into an
 *             in-memory index (hs_match_index_add per record; never a provider search per
 *             record), then asks hs_match_find for each unlinked record of this side. The
 *             rules run in the order of DESIGN.md section 3, the first that decides wins:
 *               1. stored external reference: the record names an indexed id under
 *                  opts.ref_key, or an indexed record names the record's id under
 *                  opts.back_ref_key;
 *               2. same tax id (country prefix handled: "DE123456789" = "123456789" in DE);
 *               3. same normalized email;
 *               4. name: equal name keys (case, accents, punctuation, word order and legal
 *                  form ignored) or similar ones, scored with the address, email domain,
 *                  website and phone as supporting or contradicting evidence.
 *             Rule 0, an existing link in the store, is the engine's: it never asks then.
 *             Score >= thresholds.link: LINK; >= thresholds.review: REVIEW; else CREATE.
 *             Two candidates within thresholds.margin of each other above the review
 *             threshold make a REVIEW ("2 candidates scored 0.97 and 0.95: review"), never a
 *             guess. Contradictions (different countries, legal forms or numbers in the
 *             name) keep a candidate below the link threshold whatever else agrees; two
 *             different tax ids of one country keep it below the review threshold (two
 *             registrations are two legal entities).
 *             Speed: hash maps by id, reference, tax id, email and name key; similarity is
 *             scored only on candidates found through an inverted word index, weighted by
 *             rarity (a rare word like "acme" finds its few records, "trading" is skipped
 *             when it occurs everywhere), at most HS_MATCH_SCORED of them per query. Names
 *             compare as sorted character-trigram sets (Dice coefficient). 10,000 queries
 *             against 10,000 records take well under a second.
 * Invariants: an id marked taken (hs_match_index_take) is never proposed for LINK; a failed
 *             hs_match_index_add leaves the index as it was (it reserves every allocation
 *             before changing anything).
 * Threads:    an index is used by one thread at a time (hs_match_find uses scratch space in
 *             the index).
 * Ownership:  the index copies what it needs from each record; results borrow ids and names
 *             from the index until it is freed.
 * Not here:   the normalizers (core/normalize.h), validation (core/validate.h), loading the
 *             mirror and recording links and review items (engine).
 */
#ifndef HS_CORE_MATCH_H
#define HS_CORE_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hoopsync/common.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"

/* Scores are fractions 0..1 in millionths, like the config's thresholds. */
#define HS_MATCH_ONE 1000000u
/* Defaults: config.h's match_link and the margin that makes two candidates ambiguous. */
#define HS_MATCH_DEFAULT_LINK   900000u
#define HS_MATCH_DEFAULT_REVIEW 700000u
#define HS_MATCH_DEFAULT_MARGIN 50000u
/* Most candidates a query scores after blocking (equal keys are always scored too). */
#define HS_MATCH_SCORED 48
/* Candidates reported in a result, best first. */
#define HS_MATCH_MAX_CANDIDATES 3
/* Size of the reason buffer (names in it are shortened to fit). */
#define HS_MATCH_REASON_MAX 320

struct hs_match_index;

struct hs_match_options {
    /* external_refs key under which a QUERY record stores the indexed side's id
       ("quickbooks" when matching HubSpot companies against QuickBooks customers); NULL:
       not used */
    const char *ref_key;
    /* external_refs key under which an INDEXED record stores the query side's id
       ("hubspot"); NULL: not used */
    const char *back_ref_key;
};

struct hs_match_thresholds {
    uint32_t link;   /* millionths; 0 = HS_MATCH_DEFAULT_LINK */
    uint32_t review; /* millionths, <= link; 0 = HS_MATCH_DEFAULT_REVIEW */
    uint32_t margin; /* millionths; 0 = HS_MATCH_DEFAULT_MARGIN */
};

enum hs_match_decision {
    HS_MATCH_CREATE = 1, /* nothing matches: create the record on the other side */
    HS_MATCH_LINK = 2,   /* candidates[0] is the same customer: link them */
    HS_MATCH_REVIEW = 3, /* a person decides between candidates[] and creating */
};

/* The rule that decided. */
enum hs_match_rule {
    HS_MATCH_RULE_NONE = 0,
    HS_MATCH_RULE_REF = 1,
    HS_MATCH_RULE_TAX_ID = 2,
    HS_MATCH_RULE_EMAIL = 3,
    HS_MATCH_RULE_NAME = 4,
};

struct hs_match_candidate {
    const char *id;   /* indexed record's id (borrowed from the index) */
    const char *name; /* its display name, or "" (borrowed) */
    uint32_t score;   /* millionths */
    bool taken;       /* already linked to another record (only reported for REVIEW) */
};

struct hs_match_result {
    enum hs_match_decision decision;
    enum hs_match_rule rule;
    uint32_t score; /* of candidates[0]; 0 when there is none */
    struct hs_match_candidate candidates[HS_MATCH_MAX_CANDIDATES];
    size_t n_candidates;
    /* why, for plan, audit and console: "same tax id 'DE123456789'",
       "name 'Acme, Inc.' ~ 'ACME Inc' (legal form ignored), same city" */
    char reason[HS_MATCH_REASON_MAX];
};

/*
 * Creates an empty index. opts may be NULL (no reference rules); its strings are copied.
 * HS_OK or HS_ENOMEM (*out NULL).
 */
HS_API HS_MUST_CHECK int hs_match_index_new(const struct hs_match_options *opts,
                                            struct hs_match_index **out, struct hs_error *err);
/* Frees the index and everything it holds. NULL does nothing. */
HS_API void hs_match_index_free(struct hs_match_index *idx);

/*
 * Adds a customer record of the indexed side (borrowed; what is needed is copied). rec->id
 * must be set and unique in the index. HS_OK; HS_EINVAL (not a customer, no id); HS_EEXIST
 * (id already indexed); HS_ENOMEM (the index is unchanged).
 */
HS_API HS_MUST_CHECK int hs_match_index_add(struct hs_match_index *idx, const struct hs_record *rec,
                                            struct hs_error *err);
/* Number of indexed records. */
HS_API size_t hs_match_index_count(const struct hs_match_index *idx);

/*
 * Marks id as linked to a record already, so that no later query links it again (the engine
 * calls this for every existing link and after each LINK it records). HS_OK or HS_ENOTFOUND.
 */
HS_API HS_MUST_CHECK int hs_match_index_take(struct hs_match_index *idx, const char *id);
/* Clears the mark (the link was undone). HS_OK or HS_ENOTFOUND. */
HS_API HS_MUST_CHECK int hs_match_index_release(struct hs_match_index *idx, const char *id);
/* True when id is indexed and taken. */
HS_API bool hs_match_index_taken(const struct hs_match_index *idx, const char *id);

/*
 * Decides what to do with rec (a customer of the query side, borrowed) against the index;
 * th may be NULL (defaults). Fills *out (ids borrowed from idx). Does not mark anything
 * taken. HS_OK; HS_EINVAL (not a customer, thresholds out of order or above HS_MATCH_ONE);
 * HS_ENOMEM (*out says CREATE with reason "out of memory").
 */
HS_API HS_MUST_CHECK int hs_match_find(struct hs_match_index *idx, const struct hs_record *rec,
                                       const struct hs_match_thresholds *th,
                                       struct hs_match_result *out, struct hs_error *err);

/* "link", "review", "create"; "?" otherwise. */
HS_API const char *hs_match_decision_name(enum hs_match_decision d);
/* "reference", "tax_id", "email", "name", "none". */
HS_API const char *hs_match_rule_name(enum hs_match_rule r);

#endif
