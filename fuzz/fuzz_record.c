/*
 * fuzz/fuzz_record.c - libFuzzer target for hs_record_from_json (stored record blobs).
 *
 * Design:     parses the input; when it is accepted, checks the promises the model makes about
 *             accepted records: to_json succeeds and re-parses to the same JSON, the field view
 *             round-trips through hs_record_from_fields unchanged, and the hash is the same for
 *             the record and its round-tripped copy. A broken promise aborts (a finding).
 *             Frees everything; no globals, no I/O.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "hoopsync/model.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hs_record *r = NULL;
    if (hs_record_from_json(data, size, &r, NULL) != HS_OK) {
        check(r == NULL);
        return 0;
    }
    char *json = NULL;
    check(hs_record_to_json(r, &json, NULL) == HS_OK);
    struct hs_record *again = NULL;
    check(hs_record_from_json((const uint8_t *)json, strlen(json), &again, NULL) == HS_OK);
    char *json2 = NULL;
    check(hs_record_to_json(again, &json2, NULL) == HS_OK);
    check(strcmp(json, json2) == 0);

    struct hs_fields f;
    struct hs_fields g;
    hs_fields_init(&f);
    hs_fields_init(&g);
    check(hs_record_to_fields(r, &f, NULL) == HS_OK);
    struct hs_record *back = NULL;
    check(hs_record_from_fields(r->kind, &f, &back, NULL) == HS_OK);
    check(hs_record_to_fields(back, &g, NULL) == HS_OK);
    check(hs_fields_equal(&f, &g));
    uint8_t h1[HS_HASH_BYTES];
    uint8_t h2[HS_HASH_BYTES];
    check(hs_record_hash(r, h1, NULL) == HS_OK);
    check(hs_record_hash(back, h2, NULL) == HS_OK);
    check(memcmp(h1, h2, sizeof h1) == 0);

    hs_fields_release(&f);
    hs_fields_release(&g);
    hs_record_free(back);
    hs_free(json);
    hs_free(json2);
    hs_record_free(again);
    hs_record_free(r);
    return 0;
}
