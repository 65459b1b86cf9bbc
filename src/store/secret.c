/*
 * store/secret.c - encryption of connection secrets and the hashes the store uses.
 *
 * Design:     secrets are sealed with libsodium's crypto_secretbox_easy (XSalsa20-Poly1305)
 *             under a per-workspace key, with a fresh random nonce per value, so two equal
 *             tokens never produce equal bytes and a copied database is useless without the
 *             master key. The per-workspace key is BLAKE2b-256 keyed with the master key over
 *             a fixed context string and the workspace id (random, stored in the database), so
 *             one master key can serve several workspaces without sharing a data key.
 *             Sealed layout: version byte 0x01 || nonce (24) || MAC (16) || ciphertext.
 * Invariants: plaintext buffers handed out are NUL-terminated and wiped before they are freed
 *             (hs_store_secret_free); nothing here logs.
 * Ownership:  sealed and opened buffers belong to the caller.
 */
#include <string.h>

#include <sodium.h>

#include "store/store_int.h"
#include "util/alloc.h"

#define HEADER_LEN (1 + crypto_secretbox_NONCEBYTES)
/* Secrets are tokens and client secrets: a few KB at most. */
#define SECRET_MAX ((size_t)64 * 1024)

static const char KDF_CONTEXT[] = "hoopsync store secret key v1";

int hs_store_secret_derive(const uint8_t master[HS_STORE_KEY_BYTES], const uint8_t *workspace,
                           size_t workspace_len, uint8_t out[HS_STORE_KEY_BYTES])
{
    crypto_generichash_state st;
    if (crypto_generichash_init(&st, master, HS_STORE_KEY_BYTES, HS_STORE_KEY_BYTES) != 0)
        return HS_ECRYPTO;
    crypto_generichash_update(&st, (const uint8_t *)KDF_CONTEXT, sizeof KDF_CONTEXT);
    crypto_generichash_update(&st, workspace, workspace_len);
    int rc = crypto_generichash_final(&st, out, HS_STORE_KEY_BYTES);
    sodium_memzero(&st, sizeof st);
    return rc == 0 ? HS_OK : HS_ECRYPTO;
}

int hs_store_secret_seal(const uint8_t key[HS_STORE_KEY_BYTES], const uint8_t *plain, size_t len,
                         uint8_t **out, size_t *out_len, struct hs_error *err)
{
    *out = NULL;
    *out_len = 0;
    if (len > SECRET_MAX)
        return hs_error_set(err, HS_ETOOBIG,
                            "cannot encrypt secret: %zu bytes exceed the %zu limit", len,
                            SECRET_MAX);
    size_t n = HEADER_LEN + crypto_secretbox_MACBYTES + len;
    uint8_t *blob = hs_malloc(n);
    if (blob == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot encrypt secret: out of memory");
    blob[0] = HS_STORE_SECRET_VERSION;
    randombytes_buf(blob + 1, crypto_secretbox_NONCEBYTES);
    if (crypto_secretbox_easy(blob + HEADER_LEN, plain, len, blob + 1, key) != 0) {
        hs_free(blob);
        return hs_error_set(err, HS_ECRYPTO, "cannot encrypt secret: crypto_secretbox failed");
    }
    *out = blob;
    *out_len = n;
    return HS_OK;
}

int hs_store_secret_open(const uint8_t key[HS_STORE_KEY_BYTES], const uint8_t *blob, size_t len,
                         char **out, size_t *out_len, struct hs_error *err)
{
    *out = NULL;
    if (out_len != NULL)
        *out_len = 0;
    if (len < HEADER_LEN + crypto_secretbox_MACBYTES || blob[0] != HS_STORE_SECRET_VERSION)
        return hs_error_set(err, HS_ECRYPTO, "stored value is not a sealed secret (%zu bytes)",
                            len);
    size_t n = len - HEADER_LEN - crypto_secretbox_MACBYTES;
    char *plain = hs_malloc(n + 1);
    if (plain == NULL)
        return hs_error_set(err, HS_ENOMEM, "cannot decrypt secret: out of memory");
    if (crypto_secretbox_open_easy((uint8_t *)plain, blob + HEADER_LEN, len - HEADER_LEN, blob + 1,
                                   key) != 0) {
        hs_free(plain);
        return hs_error_set(err, HS_ECRYPTO,
                            "stored value does not decrypt: wrong master key or altered bytes");
    }
    plain[n] = '\0';
    *out = plain;
    if (out_len != NULL)
        *out_len = n;
    return HS_OK;
}

void hs_store_secret_free(char *s)
{
    if (s == NULL)
        return;
    sodium_memzero(s, strlen(s));
    hs_free(s);
}

void hs_store_secret_sha256_hex(const uint8_t *buf, size_t len, char out[HS_STORE_HASH_HEX])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, buf, len);
    sodium_bin2hex(out, HS_STORE_HASH_HEX, h, sizeof h);
}
