/*
 * cli/providers.c - the one table from provider name to connector.
 *
 * Design:     only the CLI picks concrete backends (STYLE section 1); every command that
 *             needs a connector looks it up here by the provider name of hoopsync.yaml, so a
 *             new provider is one row: its connector and its public API base (used when the
 *             connection names no base_url).
 */
#include <string.h>

#include "cli/cli.h"
#include "connectors/hubspot/hubspot.h"
#include "connectors/quickbooks/quickbooks.h"
#include "connectors/xero/xero.h"
#include "connectors/zohobooks/zohobooks.h"

static const struct {
    const char *name;
    const struct hs_connector_ops *ops;
    const char *base; /* the public API */
} providers[] = {
    {"hubspot", &hs_connector_hubspot_ops, "https://api.hubapi.com"},
    {"quickbooks", &hs_connector_quickbooks_ops, "https://quickbooks.api.intuit.com"},
    {"xero", &hs_connector_xero_ops, "https://api.xero.com"},
    {"zohobooks", &hs_connector_zohobooks_ops, "https://www.zohoapis.com"},
};

static size_t find(const char *provider)
{
    size_t i = 0;
    while (provider != NULL && i < sizeof providers / sizeof providers[0] &&
           strcmp(providers[i].name, provider) != 0)
        i++;
    return provider != NULL ? i : sizeof providers / sizeof providers[0];
}

const struct hs_connector_ops *hs_cli_connector_for(const char *provider)
{
    size_t i = find(provider);
    return i < sizeof providers / sizeof providers[0] ? providers[i].ops : NULL;
}

const char *hs_cli_provider_base(const char *provider)
{
    size_t i = find(provider);
    return i < sizeof providers / sizeof providers[0] ? providers[i].base : NULL;
}
