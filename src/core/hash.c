/*
 * core/hash.c - SHA-256 over the canonical encoding of a record's field view.
 *
 * Design:     streams the length-prefixed encoding described in core/hash.h into libsodium's
 *             incremental SHA-256, so no buffer the size of the record is built; the only
 *             allocation is the field view itself.
 * Not here:   building the field view (record.c).
 */
#include <string.h>

#include <sodium.h>

#include "core/hash.h"

#define HASH_TAG "hoopsync-record-v1"

static void put_len(crypto_hash_sha256_state *st, size_t n)
{
    uint8_t b[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    crypto_hash_sha256_update(st, b, sizeof b);
}

static void put_str(crypto_hash_sha256_state *st, const char *s)
{
    size_t n = strlen(s);
    put_len(st, n);
    crypto_hash_sha256_update(st, (const unsigned char *)s, n);
}

void hs_hash_fields(enum hs_kind kind, const struct hs_fields *f, uint8_t out[HS_HASH_BYTES])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)HASH_TAG, sizeof HASH_TAG);
    const char *kn = hs_kind_name(kind);
    put_str(&st, kn ? kn : "");
    for (size_t i = 0; i < f->n_items; i++) {
        put_str(&st, f->items[i].name);
        put_str(&st, f->items[i].value);
    }
    crypto_hash_sha256_final(&st, out);
}

void hs_hash_hex(const uint8_t digest[HS_HASH_BYTES], char out[HS_HASH_HEX])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < HS_HASH_BYTES; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0x0F];
    }
    out[2 * HS_HASH_BYTES] = '\0';
}

int hs_record_hash(const struct hs_record *r, uint8_t out[HS_HASH_BYTES], struct hs_error *err)
{
    struct hs_fields f;
    hs_fields_init(&f);
    int rc = hs_record_to_fields(r, &f, err);
    if (rc != HS_OK)
        return rc;
    hs_hash_fields(r->kind, &f, out);
    hs_fields_release(&f);
    return HS_OK;
}

int hs_record_hash_hex(const struct hs_record *r, char out[HS_HASH_HEX], struct hs_error *err)
{
    uint8_t d[HS_HASH_BYTES];
    int rc = hs_record_hash(r, d, err);
    if (rc != HS_OK)
        return rc;
    hs_hash_hex(d, out);
    return HS_OK;
}
