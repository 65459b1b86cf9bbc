/*
 * connectors/zohobooks/zohobooks.h - the Zoho Books connector's one export.
 *
 * Design:     hs_connector_zohobooks_ops implements hoopsync/connector.h for the Zoho Books
 *             API v3 (contacts as customers, items, invoices, customer payments of one
 *             organization). Open it with cfg->tenant = the organization_id (from GET
 *             /organizations), cfg->base_url = the token answer's api_domain
 *             ("https://www.zohoapis.com", or the sandbox's "http://127.0.0.1:PORT/zohobooks")
 *             and cfg->settings = the connection's settings object;
 *             docs/modules/connector-zohobooks.md describes the settings, cursors, writes,
 *             idempotency and error mapping.
 */
#ifndef HS_CONNECTORS_ZOHOBOOKS_H
#define HS_CONNECTORS_ZOHOBOOKS_H

#include "hoopsync/common.h"
#include "hoopsync/connector.h"

HS_API extern const struct hs_connector_ops hs_connector_zohobooks_ops;

#endif
