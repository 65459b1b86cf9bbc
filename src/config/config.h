/*
 * config/config.h - hoopsync.yaml parsed into a typed struct hs_config.
 *
 * Design:     the file is read with libyaml's event API into a small node tree (config/tree.c,
 *             which caps size and nesting and rejects aliases), then walked against one table of
 *             known keys per mapping node (config/config.c). Every error names the file, line
 *             and column and says what was expected:
 *               hoopsync.yaml:12:5: unknown key 'directon' in flow 'customers' (expected one
 *               of: name, objects, direction, ...)
 *             The result is a plain value struct that callers read directly; every optional
 *             key has its documented default filled in (docs/config.md), and relative paths
 *             (store, master_key_file) are resolved against the config file's directory.
 * Invariants: a struct hs_config returned by hs_config_parse is fully valid: enums are in
 *             range, required keys are set, a config with flows has both connections, flow
 *             names are unique, review <= link threshold, secrets are never inline; an
 *             `invoicing:` block sits only on an invoices flow, an invoices flow's direction
 *             is crm_to_accounting, payment_terms names one of its terms, tax labels are
 *             unique and every tax code fits hs_tax_map_add.
 * Ownership:  hs_config_parse/hs_config_load_file return a struct the caller frees with
 *             hs_config_free; every string and array inside it belongs to that struct.
 * Not here:   what the keys mean to the engine (src/engine), reading the secret env vars
 *             (the connect command), checking mapped field names against a provider (connectors).
 */
#ifndef HS_CONFIG_CONFIG_H
#define HS_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/tax.h"
#include "hoopsync/common.h"
#include "hoopsync/error.h"

/* Limits on what the parser accepts (documented in docs/config.md). */
#define HS_CONFIG_MAX_BYTES ((size_t)1024 * 1024) /* whole document */
#define HS_CONFIG_MAX_DEPTH 32                    /* nested mappings/lists */
#define HS_CONFIG_MAX_NODES 50000                 /* scalars + mappings + lists */
#define HS_CONFIG_VERSION   1                     /* the only `version:` understood today */

/* Thresholds are fractions 0..1 kept in millionths, so no floating point is involved. */
#define HS_CONFIG_THRESHOLD_ONE 1000000u

enum hs_config_provider {
    HS_CONFIG_PROVIDER_NONE = 0,
    HS_CONFIG_PROVIDER_HUBSPOT,
    HS_CONFIG_PROVIDER_HIGHLEVEL,
    HS_CONFIG_PROVIDER_QUICKBOOKS,
    HS_CONFIG_PROVIDER_XERO,
    HS_CONFIG_PROVIDER_ZOHOBOOKS,
};

enum hs_config_store_kind {
    HS_CONFIG_STORE_SQLITE = 0, /* store is a file path */
    HS_CONFIG_STORE_POSTGRES,   /* store is a libpq URI (postgres://...) */
};

enum hs_config_object {
    HS_CONFIG_OBJECT_CUSTOMERS = 0,
    HS_CONFIG_OBJECT_ITEMS,
    HS_CONFIG_OBJECT_INVOICES,
    HS_CONFIG_OBJECT_PAYMENTS,
};

enum hs_config_direction {
    HS_CONFIG_DIRECTION_BOTH = 0,
    HS_CONFIG_DIRECTION_CRM_TO_ACCOUNTING,
    HS_CONFIG_DIRECTION_ACCOUNTING_TO_CRM,
};

enum hs_config_transform {
    HS_CONFIG_TRANSFORM_NONE = 0, /* copy the value as is */
    HS_CONFIG_TRANSFORM_TRIM,
    HS_CONFIG_TRANSFORM_UPPER,
    HS_CONFIG_TRANSFORM_LOWER,
    HS_CONFIG_TRANSFORM_MAP,     /* value table in map/n_map */
    HS_CONFIG_TRANSFORM_CONCAT,  /* further source fields in args, joined with one space */
    HS_CONFIG_TRANSFORM_DEFAULT, /* args[0] when the source is empty */
};

enum hs_config_authority {
    HS_CONFIG_AUTHORITY_MANUAL = 0, /* queue the conflict for a person (the default) */
    HS_CONFIG_AUTHORITY_CRM,
    HS_CONFIG_AUTHORITY_ACCOUNTING,
    HS_CONFIG_AUTHORITY_NEWEST,
};

/* 1-based position of a node in the file, for messages produced after parsing. */
struct hs_config_pos {
    uint32_t line;
    uint32_t col;
};

struct hs_config_connection {
    bool present; /* false when the key is absent from `connections` */
    struct hs_config_pos pos;
    enum hs_config_provider provider;
    char *base_url;          /* NULL: the provider's public API; else http(s)://... */
    char *client_id;         /* NULL when not set */
    char *client_secret_env; /* name of the environment variable holding the secret, or NULL */
    char *redirect_uri;      /* NULL when not set; else http(s)://... */
    char **scopes;
    size_t n_scopes;
    char *tenant_id; /* portal id, realm id, Xero tenant id, Zoho organization id; or NULL */
    /* `settings:` as compact JSON object text ("{\"currency\":\"USD\"}"), or NULL when absent.
     * Kept as text so this struct stays a plain value (no jansson in this header); the CLI
     * parses it and merges it over the settings stored by `hoopsync connect` (the file wins
     * per top-level key). Quoted YAML scalars are JSON strings; plain ones are null (~, null,
     * empty), true/false, integers (-?[0-9]+ fitting int64) or else strings: "1.5" stays the
     * string "1.5", never a floating-point number. */
    char *settings;
};

/* `field: value` or `field: [v1, v2]` (any of the values matches). Values are non-blank; the
 * engine compares them trimmed and without ASCII case (engine/filter.c); the invoices flow's
 * `dealstage` values are its won stages (src/cli/invoicing.c). */
struct hs_config_filter {
    char *field;
    char **values;
    size_t n_values;
};

struct hs_config_pair {
    char *from;
    char *to;
};

struct hs_config_mapping {
    struct hs_config_pos pos;
    char *crm;
    char *accounting;
    enum hs_config_transform transform;
    char **args; /* concat: further fields; default: exactly one value; else none */
    size_t n_args;
    struct hs_config_pair *map; /* map: value table, at least one pair; else none */
    size_t n_map;
};

struct hs_config_field_authority {
    char *field;
    enum hs_config_authority authority;
    struct hs_config_pos pos; /* of the field name */
};

/* `tax_mode:` of an invoicing block (the accounting provider's rounding applies). */
enum hs_config_tax_mode {
    HS_CONFIG_TAX_EXCLUSIVE = 0, /* the default: line amounts are net, tax is added */
    HS_CONFIG_TAX_INCLUSIVE,     /* line amounts include tax */
    HS_CONFIG_TAX_NONE,          /* no tax at all */
};

/* `updates:` of an invoicing block: which invoices a later deal edit may change. */
enum hs_config_invoice_updates {
    HS_CONFIG_UPDATES_NEVER = 0, /* the default: deal edits after invoicing are conflicts */
    HS_CONFIG_UPDATES_DRAFT_ONLY,
    HS_CONFIG_UPDATES_UNPAID,
};

/* One entry of `terms:` (name -> days until due). */
struct hs_config_term {
    char *name;       /* non-empty; unique among terms, compared without case */
    int32_t due_days; /* 0..3650 */
};

/* One entry of `taxes:`: a CRM tax label and the accounting tax code it stands for. */
struct hs_config_tax {
    struct hs_config_pos pos;
    char *label;             /* unique among taxes, compared without case and surrounding blanks */
    struct hs_tax_code code; /* checked against hs_tax_map_add's limits: ready to add as is */
};

/* The `invoicing:` block of an `objects: invoices` flow. */
struct hs_config_invoicing {
    bool present; /* false when the flow has no `invoicing:` (every field is then its default) */
    struct hs_config_pos pos;
    char *default_item;  /* accounting item id for lines without an item link, or NULL */
    char *payment_terms; /* a name among terms (as written there), or NULL */
    struct hs_config_term *terms;
    size_t n_terms;
    enum hs_config_tax_mode tax_mode; /* default exclusive */
    struct hs_config_tax *taxes;
    size_t n_taxes;
    char *untaxed_code;                     /* or NULL */
    char *default_currency;                 /* a known ISO 4217 code, or NULL */
    int32_t utc_offset_minutes;             /* -720..840; default 0 */
    enum hs_config_invoice_updates updates; /* default never */
};

struct hs_config_flow {
    struct hs_config_pos pos;
    char *name; /* unique among flows; [A-Za-z0-9_.-], at most 64 bytes */
    enum hs_config_object objects;
    enum hs_config_direction direction; /* default both */
    bool enforce;                       /* default false */
    struct hs_config_filter *filters;
    size_t n_filters;
    struct hs_config_mapping *mappings;
    size_t n_mappings;
    enum hs_config_authority default_authority; /* authority.default, default manual */
    struct hs_config_field_authority *authority;
    size_t n_authority;
    uint32_t match_link;   /* millionths; default 900000 (0.9) */
    uint32_t match_review; /* millionths; default 600000 (0.6); <= match_link */
    /* Only on an `objects: invoices` flow (whose direction is always crm_to_accounting). */
    struct hs_config_invoicing invoicing;
};

struct hs_config_sync {
    uint32_t interval_s;  /* default 300 */
    uint32_t read_batch;  /* 1..1000; 0 (default): each provider's maximum */
    uint32_t write_batch; /* 1..1000; 0 (default): each provider's maximum */
};

struct hs_config {
    char *path; /* the name the file was parsed under (used in messages) */
    int version;
    enum hs_config_store_kind store_kind;
    char *store;           /* sqlite: resolved file path; postgres: the URI as written */
    char *master_key_file; /* resolved path; default hoopsync.key next to the config */
    struct hs_config_connection crm;
    struct hs_config_connection accounting;
    struct hs_config_flow *flows;
    size_t n_flows;
    struct hs_config_sync sync;
};

/*
 * Parses the YAML document (buf, len) (no NUL terminator needed) into a new *out. `name` is
 * the file name used in messages and the base for relative paths (its directory part; a name
 * without '/' resolves relative to the current directory); NULL means "hoopsync.yaml".
 * Returns HS_OK, HS_EINVAL (syntax or schema error, message "name:line:col: what"),
 * HS_ETOOBIG (a limit above) or HS_ENOMEM. *out is NULL on failure.
 */
HS_API HS_MUST_CHECK int hs_config_parse(const uint8_t *buf, size_t len, const char *name,
                                         struct hs_config **out, struct hs_error *err);

/*
 * Reads the file at path and parses it as hs_config_parse(buf, len, path, ...). Adds
 * HS_ENOTFOUND (no such file) and HS_EIO (cannot read) to the codes above.
 */
HS_API HS_MUST_CHECK int hs_config_load_file(const char *path, struct hs_config **out,
                                             struct hs_error *err);

/* Frees cfg and everything in it; NULL does nothing. */
HS_API void hs_config_free(struct hs_config *cfg);

/* Number of configured connections (0..2). */
HS_API size_t hs_config_n_connections(const struct hs_config *cfg);

/* The flow named name, or NULL. Borrowed from cfg. */
HS_API const struct hs_config_flow *hs_config_flow_find(const struct hs_config *cfg,
                                                        const char *name);

/* Names as written in the file ("hubspot", "crm_to_accounting", ...); never NULL. */
HS_API const char *hs_config_provider_name(enum hs_config_provider p);
HS_API const char *hs_config_object_name(enum hs_config_object o);
HS_API const char *hs_config_direction_name(enum hs_config_direction d);
HS_API const char *hs_config_transform_name(enum hs_config_transform t);
HS_API const char *hs_config_authority_name(enum hs_config_authority a);
HS_API const char *hs_config_tax_mode_name(enum hs_config_tax_mode m);
HS_API const char *hs_config_invoice_updates_name(enum hs_config_invoice_updates u);

/* True for hubspot and highlevel (CRM side) and for quickbooks, xero, zohobooks. */
HS_API bool hs_config_provider_is_crm(enum hs_config_provider p);
HS_API bool hs_config_provider_is_accounting(enum hs_config_provider p);

#endif
