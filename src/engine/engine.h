/*
 * engine/engine.h - the sync engine: change detection, one pass over the dirty set, and the
 *                   dry run (plan) that shows what a pass would do.
 *
 * Design:     an engine is opened over what the caller already opened: the parsed config
 *             (flows), the store, and one connector per side (ops table + handle). It never
 *             learns which provider it talks to; everything provider-shaped stays behind
 *             struct hs_connector_ops. A pass (hs_engine_run_once) is:
 *               1. detect: per (side, kind of a flow) read changes() from the stored cursor,
 *                  page by page; each page's dirty marks and the new cursor are stored in ONE
 *                  transaction, so a crash never loses a change (no cursor = backfill);
 *                  the CRM's feeds only one slice deep: the rest is paged as the pass goes
 *                  (engine/feed.c), so the first writes need not wait for the whole feed;
 *               2. claim the dirty set in batches (leases), group by (kind, side), batch-read
 *                  the records (limits().read_batch per call; the CRM's slice by slice),
 *                  refresh the mirror; CRM records still to come are read ahead while the
 *                  accounting side's rate limiter makes the generic flows' writes wait (so the
 *                  two providers' waits overlap), as long as the CRM's own limiter would not
 *                  make that write late;
 *               3. linked records: batch-read the other side, three-way merge against the
 *                  per-side base (core/merge.h) -> planned writes, conflicts, drift;
 *                  unlinked: match against an index of the other side's mirror, built once
 *                  per pass -> link (then merge as a first sync), review item or create;
 *                  a flow's `filter:` (engine/filter.c) comes first: a record outside it is
 *                  neither matched nor created, a linked one is not merged (its link stays),
 *                  and it is reported as skipped; several flows of one kind split records by
 *                  filter (the first that takes a record syncs it);
 *               4. validate every record before writing; a failing one becomes an error item
 *                  a finance user can read, the rest of the batch proceeds;
 *               5. write in batches of limits().write_batch; creates carry an idempotency key
 *                  derived from (flow, target side, source id), recorded as an intent before
 *                  the call; HS_ETOOBIG halves the batch, HS_ECONFLICT (stale SyncToken)
 *                  re-reads, re-merges and retries once;
 *               6. per pair, once all its writes succeeded: bases of both sides (from the
 *                  providers' answers), mirror, link, audit rows with field-level before and
 *                  after and the intent's removal, in one transaction; then the dirty entries
 *                  are completed (a record marked again meanwhile stays dirty).
 *               7. with cfg->invoicing set, on the invoices (both sides) and payments
 *                  (accounting) the pass read, before its dirty entries are completed:
 *                  closed-won deals become invoices (one per deal, idempotent, batched),
 *                  deal edits follow invoice_updates, and payment status is written back to
 *                  the deals, batched (engine/invoices.c).
 *             The plan (hs_engine_plan) runs steps 1-4 read-only: changes are taken from the
 *             stored cursor without storing anything, nothing is claimed, linked, queued or
 *             written; every would-be action is reported with its reason.
 *             Every action of a pass or plan is reported in struct hs_engine_report (the
 *             CLI prints it, tests assert on it).
 * Invariants: a pass that finds nothing changed writes nothing to a provider; a create is
 *             only sent with an intent stored first; bases are stored only for pairs whose
 *             writes all succeeded (a failed write is retried whole on the next pass);
 *             a provider call that fails part-way (a spent limit) stops the pass only after
 *             what the calls before it answered is committed.
 * Threads:    an engine (and its store and connector handles) is used by one thread at a
 *             time; several engines on one database share work through dirty-set leases.
 * Ownership:  the config, store, connectors and env are borrowed for the engine's life.
 *             Reports are caller-allocated (_init/_release) and own their strings.
 * Not here:   mapping, merge, matching, validation rules (src/core), provider I/O
 *             (src/connectors), the CLI (src/cli/cmd_plan.c, cmd_sync.c, ...).
 *             docs/modules/engine.md describes the pass in detail.
 */
#ifndef HS_ENGINE_ENGINE_H
#define HS_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/invoice.h"
#include "core/mapping.h"
#include "hoopsync/common.h"
#include "hoopsync/connector.h"
#include "hoopsync/error.h"
#include "hoopsync/store.h"
#include "util/env.h"

/* Longest idempotency key the engine builds (bytes, without NUL). */
#define HS_ENGINE_IDEM_MAX 40

/* One connected side as the caller opened it. */
struct hs_ratelimit;
struct hs_engine_side {
    const struct hs_connector_ops *ops;
    struct hs_connector *conn;
    const char *conn_id; /* id of the connection in the store ("crm", "accounting") */
    /* The connection's rate limiter (net/ratelimit.h), or NULL. The engine reads the CRM
     * records a later step needs while the accounting side's limiter waits, and asks the
     * CRM's whether such a read would wait. Borrowed. */
    struct hs_ratelimit *limiter;
};

/*
 * Invoices (closed-won deal -> one accounting invoice) and payments (status back to the deal),
 * as the CLI builds them from the `invoicing:` block of hoopsync.yaml's invoices flow.
 */
enum hs_engine_invoice_updates {
    HS_ENGINE_INVOICE_UPDATES_NEVER = 0, /* default: deal edits after invoicing are conflicts */
    HS_ENGINE_INVOICE_UPDATES_DRAFT_ONLY = 1,
    HS_ENGINE_INVOICE_UPDATES_UNPAID = 2,
};

struct hs_engine_invoicing {
    const char *flow;              /* name for keys, items and audit; NULL: "invoices" */
    const char *const *won_stages; /* custom.dealstage values; n 0: the CRM feed decides */
    size_t n_won_stages;
    const char *default_item_id;      /* for lines whose product has no item link; may be NULL */
    const struct hs_tax_map *tax_map; /* may be NULL */
    const char *untaxed_code;         /* may be NULL */
    struct hs_tax_policy policy;
    const struct hs_invoice_term *terms;
    size_t n_terms;
    const char *payment_terms;    /* NULL: due on the issue date */
    const char *default_currency; /* may be NULL */
    const char *provider;         /* accounting name for messages; NULL: "the accounting system" */
    int32_t utc_offset_minutes;   /* the company's zone, for today's date */
    enum hs_engine_invoice_updates updates;
    bool no_payments; /* true: payment status is not written back to deals */
    /* The flow the payment status write-back is reported, audited and recorded under (the
     * `objects: payments` flow); NULL: flow. */
    const char *payments_flow;
};

/* Progress callback for long runs (the CLI draws a line on a terminal). */
typedef void (*hs_engine_progress_fn)(void *ud, const char *stage, size_t done, size_t total);

struct hs_engine_config {
    const struct hs_config *config; /* flows and sync batch sizes (borrowed) */
    struct hs_store *store;
    struct hs_engine_side crm;
    struct hs_engine_side accounting;
    const struct hs_env *env; /* NULL: the system env */
    const char *owner;        /* lease owner name; NULL: "engine" */
    int64_t lease_ms;         /* dirty-set lease; 0: 300000 */
    size_t claim_batch;       /* dirty entries per claim; 0: 1000 */
    /* Records of a group decided, written and committed at once (memory is bounded by it);
     * 0: 1200. A multiple of the providers' batch sizes costs no extra calls. */
    size_t slice;
    /* Translates provider field names of the config into canonical paths (may be NULL). */
    hs_mapping_resolve_fn resolve;
    void *resolve_ud;
    hs_engine_progress_fn progress; /* may be NULL */
    /* NULL: invoices and payments are not synced (see struct hs_engine_invoicing). */
    const struct hs_engine_invoicing *invoicing;
    void *progress_ud;
};

/* Resolutions of a review item (a grey-zone match): the two records are one (link them) or
 * two (each side gets its own). hoopsync reviews resolve stores them; the next pass acts. */
#define HS_ENGINE_REVIEW_LINK     "link"
#define HS_ENGINE_REVIEW_SEPARATE "separate"

enum hs_engine_action_kind {
    HS_ENGINE_CREATE = 1,   /* a record is created on target side from source_id */
    HS_ENGINE_UPDATE = 2,   /* fields of target_id are written */
    HS_ENGINE_LINK = 3,     /* source_id and target_id are the same record */
    HS_ENGINE_REVIEW = 4,   /* a grey-zone match is queued for a person */
    HS_ENGINE_CONFLICT = 5, /* a field changed on both sides; held for a person */
    HS_ENGINE_SETTLED = 6,  /* a field changed on both sides; authority picked the winner */
    HS_ENGINE_DRIFT = 7,    /* one-way flow: the receiving side changed; reported, held */
    HS_ENGINE_ERROR = 8,    /* the record cannot be written; queued as an error item */
    HS_ENGINE_SKIPPED = 9,  /* outside the flow's `filter:`: not created, linked or updated */
};

/* "create", "update", "link", "review", "conflict", "settled", "drift", "error", "skipped". */
HS_API const char *hs_engine_action_name(enum hs_engine_action_kind k);

struct hs_engine_action {
    enum hs_engine_action_kind kind;
    char *flow;
    enum hs_kind object;
    enum hs_side source_side; /* side of source_id */
    char *source_id;
    char *target_id; /* NULL for creates before they happen */
    char *fields;    /* comma-separated field paths written / in conflict; NULL when none */
    char *reason;    /* one line a finance user can read */
};

struct hs_engine_report {
    struct hs_engine_action *actions;
    size_t n_actions;
    size_t cap;
    size_t n_changes_seen; /* ids the change feeds announced */
    size_t n_records_read; /* records read from providers */
    size_t n_writes;       /* records written (created + updated) */
    size_t n_created;
    size_t n_updated;
    size_t n_linked;
    size_t n_conflicts;
    size_t n_errors;
    size_t n_reviews;
    size_t n_calls_read;  /* connector read() calls */
    size_t n_calls_write; /* connector write() calls */
    size_t n_skipped;     /* records outside their flows' filters (HS_ENGINE_SKIPPED) */
};

HS_API void hs_engine_report_init(struct hs_engine_report *r);
HS_API void hs_engine_report_release(struct hs_engine_report *r);

struct hs_engine;

/*
 * Opens an engine: checks that both sides are present and of the right side, compiles the
 * mapping of every flow whose object kind both connectors carry (field names through
 * cfg->resolve). Does no I/O. *out NULL on failure. HS_OK; HS_EINVAL (missing
 * store/config/connector, a connector on the wrong side, a mapping that does not compile: the
 * message names the flow, and FILE:LINE:COL when the config has a path, as config check
 * words it); HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_engine_open(const struct hs_engine_config *cfg, struct hs_engine **out,
                                        struct hs_error *err);
/* Frees the engine (not what it borrows). NULL does nothing. */
HS_API void hs_engine_close(struct hs_engine *e);

/*
 * Checks the `filter:` of flow cf as hs_engine_open compiles it: a customers or items flow
 * with its compiled mapping map, an invoices flow (map NULL) on the deal; field names through
 * resolve (may be NULL). Does no I/O. HS_OK (also for a flow without a filter);
 * HS_EINVAL, the message naming the flow and the field ("flow 'x': unknown field ..."); HS_ENOMEM.
 */
HS_API HS_MUST_CHECK int hs_engine_check_filter(const struct hs_config_flow *cf,
                                                const struct hs_mapping *map,
                                                hs_mapping_resolve_fn resolve, void *ud,
                                                struct hs_error *err);

/*
 * Change detection only: reads every change feed from its cursor to the end, marking ids
 * dirty with the cursor in the same transaction per page. Adds to report->n_changes_seen
 * (report may be NULL). HS_OK or the connector's / store's error.
 */
HS_API HS_MUST_CHECK int hs_engine_detect(struct hs_engine *e, struct hs_engine_report *report,
                                          struct hs_error *err);

/*
 * One full pass: detect, then process the dirty set until it is empty (claiming batches).
 * Every action taken is appended to report (may be NULL). A record-level failure becomes an
 * error item and does not fail the pass; HS_OK unless the store or a whole provider call
 * failed (then what the provider answered before that call is committed, and the claimed
 * entries are released for the next pass).
 */
HS_API HS_MUST_CHECK int hs_engine_run_once(struct hs_engine *e, struct hs_engine_report *report,
                                            struct hs_error *err);

/*
 * Dry run: what hs_engine_run_once would do now, without changing the store or a provider:
 * the changes since each stored cursor (every record when there is none) are read, merged,
 * matched and validated; actions go to report. Dirty entries left by an interrupted pass
 * are not included (listing them would need a claim).
 */
HS_API HS_MUST_CHECK int hs_engine_plan(struct hs_engine *e, struct hs_engine_report *report,
                                        struct hs_error *err);

/*
 * Builds the idempotency key of a create of source_id (on the side opposite to) toward side
 * to, in flow: "hs1-" and 32 hex digits of SHA-256 over the three. out needs
 * HS_ENGINE_IDEM_MAX + 1 bytes. Stable across runs and processes.
 */
HS_API void hs_engine_idem_key(const char *flow, enum hs_side to, const char *source_id,
                               char out[HS_ENGINE_IDEM_MAX + 1]);

/*
 * Settles conflict item_id: `take` is "crm", "accounting" or a literal value (written to the
 * CRM record first). The loser's base is set to its current value and the winner's base
 * forgets the field, so the next pass (the record is marked dirty) writes the winner's value
 * across through the flow's mapping. Marks the item resolved and audits it, in one
 * transaction. HS_EINVAL (not an open conflict, a literal that is not valid for the field),
 * HS_ENOTFOUND (no such item, link or record), provider errors.
 */
HS_API HS_MUST_CHECK int hs_engine_resolve(struct hs_engine *e, int64_t item_id, const char *take,
                                           struct hs_engine_report *report, struct hs_error *err);

/*
 * Retry of error items: marks the record of item id (or of every open error item when id is
 * 0) dirty again and moves the item to state retry; the next pass re-processes it. Returns
 * the number of items queued for retry (>= 0).
 */
HS_API HS_MUST_CHECK int hs_engine_retry(struct hs_store *store, int64_t item_id,
                                         const char *crm_conn, const char *acc_conn,
                                         struct hs_error *err);

#endif
