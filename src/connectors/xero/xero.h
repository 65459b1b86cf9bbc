/*
 * connectors/xero/xero.h - the Xero connector's one export.
 *
 * Design:     hs_connector_xero_ops implements hoopsync/connector.h for the Xero Accounting
 *             API 2.0 (contacts as customers, items, ACCREC invoices, payments of one
 *             organisation). Open it with cfg->tenant = the Xero-tenant-id (from GET
 *             /connections), cfg->base_url = "https://api.xero.com" (or the sandbox's
 *             "http://127.0.0.1:PORT/xero") and cfg->settings = the connection's settings
 *             object; docs/modules/connector-xero.md describes the settings, cursors,
 *             batching, idempotency and error mapping.
 */
#ifndef HS_CONNECTORS_XERO_H
#define HS_CONNECTORS_XERO_H

#include "hoopsync/common.h"
#include "hoopsync/connector.h"

HS_API extern const struct hs_connector_ops hs_connector_xero_ops;

#endif
