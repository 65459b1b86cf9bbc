/*
 * core/hash.h - stable SHA-256 of a record's canonical fields (echo suppression).
 *
 * Design:     the hash is SHA-256 (libsodium crypto_hash_sha256) over a canonical byte
 *             encoding of the record's field view (hoopsync/model.h), which is already sorted by
 *             name and holds canonical text only. Encoding, all lengths as 4-byte big-endian:
 *                 "hoopsync-record-v1" 0x00
 *                 len(kind) kind
 *                 for each field in name order: len(name) name len(value) value
 *             Length prefixes make the encoding injective: no two different field lists give
 *             the same bytes, whatever characters names and values contain. The field view
 *             leaves out id, updated_at and meta (provider bookkeeping such as SyncToken), so
 *             a record read back after our own write hashes like the record we wrote, while
 *             any change of a canonical field (including custom fields and external refs)
 *             changes the hash. Insertion order of custom entries cannot matter: maps are
 *             sorted.
 * Invariants: the encoding is versioned by its tag; changing it means a new tag, because
 *             stored hashes (mirror, base snapshots) are compared across releases.
 * Ownership:  callers provide every output buffer; nothing returned needs freeing.
 * Not here:   the field view itself (core/record.c), the audit hash chain (src/store).
 */
#ifndef HS_CORE_HASH_H
#define HS_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "hoopsync/common.h"
#include "hoopsync/error.h"
#include "hoopsync/model.h"

#define HS_HASH_BYTES 32
/* Lower-case hex digest plus NUL. */
#define HS_HASH_HEX 65

/* Hash of a field view for kind (as produced by hs_record_to_fields). Cannot fail. */
HS_API void hs_hash_fields(enum hs_kind kind, const struct hs_fields *f,
                           uint8_t out[HS_HASH_BYTES]);
/* Writes the lower-case hex form of a digest and a NUL into out. */
HS_API void hs_hash_hex(const uint8_t digest[HS_HASH_BYTES], char out[HS_HASH_HEX]);

/*
 * Stable hash of r's canonical fields (id, updated_at and meta excluded). HS_OK; HS_EINVAL when
 * r does not validate (message in err); HS_ENOMEM. out is untouched on failure.
 */
HS_API HS_MUST_CHECK int hs_record_hash(const struct hs_record *r, uint8_t out[HS_HASH_BYTES],
                                        struct hs_error *err);
/* Same, as 64 lower-case hex characters and a NUL. */
HS_API HS_MUST_CHECK int hs_record_hash_hex(const struct hs_record *r, char out[HS_HASH_HEX],
                                            struct hs_error *err);

#endif
