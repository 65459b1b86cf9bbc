/*
 * cli/providers.c - the one table from provider name to connector.
 *
 * Design:     only the CLI picks concrete backends (STYLE section 1); every command that
 *             needs a connector looks it up here by the provider name of hoopsync.yaml, so a
 *             new provider is one row.
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
} providers[] = {
    {"hubspot", &hs_connector_hubspot_ops},
    {"quickbooks", &hs_connector_quickbooks_ops},
    {"xero", &hs_connector_xero_ops},
    {"zohobooks", &hs_connector_zohobooks_ops},
};

const struct hs_connector_ops *hs_cli_connector_for(const char *provider)
{
    for (size_t i = 0; provider != NULL && i < sizeof providers / sizeof providers[0]; i++)
        if (strcmp(providers[i].name, provider) == 0)
            return providers[i].ops;
    return NULL;
}
