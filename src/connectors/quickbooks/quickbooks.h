/*
 * connectors/quickbooks/quickbooks.h - the QuickBooks Online connector's one export.
 *
 * Design:     hs_connector_quickbooks_ops implements hoopsync/connector.h for QuickBooks Online
 *             v3 (customers, items, invoices, payments of one realm). Open it with
 *             cfg->tenant = the realm id, cfg->base_url = "https://quickbooks.api.intuit.com"
 *             (or the sandbox's "http://127.0.0.1:PORT/quickbooks") and cfg->settings = the
 *             connection's settings object; docs/modules/connector-quickbooks.md describes
 *             the settings, cursors, batching, idempotency and error mapping.
 */
#ifndef HS_CONNECTORS_QUICKBOOKS_H
#define HS_CONNECTORS_QUICKBOOKS_H

#include "hoopsync/common.h"
#include "hoopsync/connector.h"

HS_API extern const struct hs_connector_ops hs_connector_quickbooks_ops;

#endif
