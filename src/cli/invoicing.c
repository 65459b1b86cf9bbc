/*
 * cli/invoicing.c - the engine's invoicing settings (struct hs_engine_invoicing) built from the
 *                   `objects: invoices` flow of hoopsync.yaml; shared by sync, plan and demo.
 *
 * Design:     config/config.c has already checked every value (payment_terms among terms,
 *             tax codes within the tax map's limits, unique labels), so this file only
 *             translates: won stages are the flow's `dealstage` filter values, terms and the
 *             tax map are built from the `invoicing:` block (defaults when it is absent), the
 *             tax policy is the accounting provider's preset with the block's tax_mode, and
 *             payment status goes back to deals only when a `objects: payments` flow exists.
 *             A config without an invoices flow gives NULL: the engine then skips invoices.
 * Ownership:  hs_cli_invoicing_new returns a handle that owns the engine struct, the terms
 *             array and the tax map; strings (flow name, stages, ids, term names) are borrowed
 *             from the struct hs_config, which must outlive the handle. Free with
 *             hs_cli_invoicing_free after the engine that uses it is closed.
 * Not here:   parsing and checking the block (config/config.c); invoicing itself
 *             (engine/invoices.c, core/invoice.c).
 */
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "core/invoice.h"
#include "core/tax.h"
#include "engine/engine.h"
#include "util/alloc.h"
#include "util/str.h"

struct hs_cli_invoicing {
    struct hs_engine_invoicing engine;
    struct hs_invoice_term *terms;
    struct hs_tax_map *tax_map;
};

static enum hs_tax_mode tax_mode_of(enum hs_config_tax_mode m)
{
    switch (m) {
    case HS_CONFIG_TAX_INCLUSIVE:
        return HS_TAX_INCLUSIVE;
    case HS_CONFIG_TAX_NONE:
        return HS_TAX_NONE;
    case HS_CONFIG_TAX_EXCLUSIVE:
    default:
        return HS_TAX_EXCLUSIVE;
    }
}

static enum hs_engine_invoice_updates updates_of(enum hs_config_invoice_updates u)
{
    switch (u) {
    case HS_CONFIG_UPDATES_DRAFT_ONLY:
        return HS_ENGINE_INVOICE_UPDATES_DRAFT_ONLY;
    case HS_CONFIG_UPDATES_UNPAID:
        return HS_ENGINE_INVOICE_UPDATES_UNPAID;
    case HS_CONFIG_UPDATES_NEVER:
    default:
        return HS_ENGINE_INVOICE_UPDATES_NEVER;
    }
}

/* The accounting provider's rounding preset and its display name. */
static void policy_of(enum hs_config_provider p, enum hs_tax_mode mode, struct hs_tax_policy *out,
                      const char **out_name)
{
    switch (p) {
    case HS_CONFIG_PROVIDER_XERO:
        *out = hs_tax_policy_xero(mode);
        *out_name = "Xero";
        break;
    case HS_CONFIG_PROVIDER_ZOHOBOOKS:
        *out = hs_tax_policy_zoho(mode);
        *out_name = "Zoho Books";
        break;
    case HS_CONFIG_PROVIDER_QUICKBOOKS:
    default:
        *out = hs_tax_policy_quickbooks(mode);
        *out_name = "QuickBooks";
        break;
    }
}

void hs_cli_invoicing_free(struct hs_cli_invoicing *iv)
{
    if (iv == NULL)
        return;
    hs_tax_map_free(iv->tax_map);
    hs_free(iv->terms);
    hs_free(iv);
}

const struct hs_engine_invoicing *hs_cli_invoicing_engine(const struct hs_cli_invoicing *iv)
{
    return iv != NULL ? &iv->engine : NULL;
}

int hs_cli_invoicing_new(const struct hs_config *cfg, struct hs_cli_invoicing **out,
                         struct hs_error *err)
{
    *out = NULL;
    const struct hs_config_flow *flow = NULL;
    const struct hs_config_flow *payments = NULL;
    for (size_t i = 0; i < cfg->n_flows; i++) {
        if (cfg->flows[i].objects == HS_CONFIG_OBJECT_INVOICES && flow == NULL)
            flow = &cfg->flows[i];
        if (cfg->flows[i].objects == HS_CONFIG_OBJECT_PAYMENTS && payments == NULL)
            payments = &cfg->flows[i];
    }
    if (flow == NULL)
        return HS_OK;
    const struct hs_config_invoicing *ci = &flow->invoicing;
    struct hs_cli_invoicing *iv = hs_calloc(1, sizeof *iv);
    if (iv == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot set up invoicing: out of memory");
    if (hs_tax_map_new(&iv->tax_map) != HS_OK ||
        (ci->n_terms > 0 && (iv->terms = hs_calloc(ci->n_terms, sizeof *iv->terms)) == NULL)) {
        hs_cli_invoicing_free(iv);
        return hs_error_set(err, HS_ENOMEM, "cannot set up invoicing: out of memory");
    }
    for (size_t i = 0; i < ci->n_taxes; i++) {
        int rc = hs_tax_map_add(iv->tax_map, ci->taxes[i].label, &ci->taxes[i].code, err);
        if (rc != HS_OK) {
            hs_cli_invoicing_free(iv);
            return rc;
        }
    }
    for (size_t i = 0; i < ci->n_terms; i++) {
        iv->terms[i].name = ci->terms[i].name;
        iv->terms[i].due_days = ci->terms[i].due_days;
    }
    struct hs_engine_invoicing *e = &iv->engine;
    e->flow = flow->name;
    for (size_t i = 0; i < flow->n_filters; i++) {
        if (hs_str_eq(flow->filters[i].field, "dealstage")) {
            e->won_stages = (const char *const *)flow->filters[i].values;
            e->n_won_stages = flow->filters[i].n_values;
        }
    }
    e->default_item_id = ci->default_item;
    e->tax_map = iv->tax_map;
    e->untaxed_code = ci->untaxed_code;
    policy_of(cfg->accounting.provider, tax_mode_of(ci->tax_mode), &e->policy, &e->provider);
    e->terms = iv->terms;
    e->n_terms = ci->n_terms;
    e->payment_terms = ci->payment_terms;
    e->default_currency = ci->default_currency;
    e->utc_offset_minutes = ci->utc_offset_minutes;
    e->updates = updates_of(ci->updates);
    e->no_payments = payments == NULL;
    e->payments_flow = payments != NULL ? payments->name : NULL;
    *out = iv;
    return HS_OK;
}
