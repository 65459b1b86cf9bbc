/*
 * connectors/hubspot/hubspot.h - the HubSpot CRM connector's ops table.
 *
 * Design:     HubSpot CRM v3 as the CRM side of hoopsync (hoopsync/connector.h): companies
 *             are customers (with their primary contact's email and names), products are
 *             items, and deals in a closed-won stage with their line items are invoices, whose
 *             hoopsync_* deal properties carry the accounting side's number, URL, status and
 *             amounts. Settings, mapping, call counts and limitations:
 *             docs/modules/connector-hubspot.md.
 * Threads:    one handle per thread (connector.h).
 */
#ifndef HS_CONNECTORS_HUBSPOT_H
#define HS_CONNECTORS_HUBSPOT_H

#include "hoopsync/connector.h"

extern const struct hs_connector_ops hs_connector_hubspot_ops;

#endif
