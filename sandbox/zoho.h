/*
 * sandbox/zoho.h - internals of the Zoho Books API v3 module of hoopsync-sandbox.
 *
 * Design:     the module (zoho.c) keeps every organization's records as jansson objects in
 *             Zoho's own JSON shape, numbers held exactly as the QuickBooks module holds them
 *             (marked strings, see sandbox/qbo.h). The one parser of outside input that is
 *             Zoho's own is the timestamp of the `last_modified_time` list filter, declared
 *             here so that it can be tested and fuzzed on its own (fuzz/fuzz_zoho_time.c).
 * Invariants: timestamps are written the way Zoho writes them: "2026-11-23T18:00:00+0000"
 *             (no colon in the offset; the sandbox's organizations live in UTC).
 * Threads:    none of its own: the sandbox core serializes every handler (sbx.h).
 * Not here:   HTTP routes, records, invoices and payments (zoho.c).
 */
#ifndef HS_SANDBOX_ZOHO_H
#define HS_SANDBOX_ZOHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parses a `last_modified_time` value into ms since the epoch: "YYYY-MM-DDTHH:MM:SS" followed
 * by an offset "+hhmm", "-hhmm", "+hh:mm", "-hh:mm", "Z" or "-UTC" (Zoho's documented
 * placeholder), or nothing (UTC); a bare "YYYY-MM-DD" is that day's midnight, UTC. Fields are
 * range-checked (month 1-12, day within the month, 23:59:59, offsets below 24 h). False when
 * malformed; *out_ms is written only on success.
 */
bool hs_zoho_time_parse(const char *s, int64_t *out_ms);
/* "2026-11-23T18:00:00+0000" for ms (UTC) into out (at least 32 bytes). */
void hs_zoho_time_format(int64_t ms, char *out, size_t size);

#endif
