/*
 * fuzz/fuzz_jsonbuild.c - libFuzzer target for hs_json_build (util/json.c), the one-pass JSON
 *                         parser in front of jansson, against the checked path it stands in for.
 *
 * Design:     differential: for plain options with and without any_top, whatever
 *             hs_json_build accepts must also pass hs_json_check and json_loadb
 *             (JSON_REJECT_DUPLICATES, JSON_DECODE_ANY with any_top), and both trees must
 *             dump to the same bytes (member order, integer or real, string bytes). It may
 *             refuse more than that path (its callers then run the path), never less. With
 *             the marks option (exact numbers), an accepted tree must dump and parse again to
 *             the same bytes through hs_json_parse_exact. A broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/json.h"
#include "util/jsonnum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
}

static void plain(const uint8_t *data, size_t size, bool any_top)
{
    const struct hs_json_build_opts o = {HS_JSON_MAX_DEPTH, any_top, false, 0};
    json_t *got = hs_json_build(data, size, &o);
    if (got == NULL)
        return;
    check(hs_json_check(data, size, HS_JSON_MAX_DEPTH, false, NULL) == HS_OK);
    size_t flags = JSON_REJECT_DUPLICATES | (any_top ? JSON_DECODE_ANY : 0);
    json_t *want = json_loadb((const char *)data, size, flags, NULL);
    check(want != NULL);
    char *a = dump(got);
    char *b = dump(want);
    check(a != NULL && b != NULL && strcmp(a, b) == 0);
    free(a);
    free(b);
    json_decref(got);
    json_decref(want);
}

static void exact(const uint8_t *data, size_t size)
{
    const struct hs_json_build_opts o = {HS_JSONNUM_MAX_DEPTH, true, true, HS_JSONNUM_MAX_NUMBER};
    json_t *got = hs_json_build(data, size, &o);
    if (got == NULL)
        return;
    struct hs_buf a;
    struct hs_buf b;
    hs_buf_init(&a);
    hs_buf_init(&b);
    check(hs_json_dump_exact(got, &a) == HS_OK);
    json_t *again = NULL;
    check(hs_json_parse_exact((const uint8_t *)a.data, a.len, "dump", &again, NULL) == HS_OK);
    check(hs_json_dump_exact(again, &b) == HS_OK);
    check(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    hs_buf_release(&a);
    hs_buf_release(&b);
    json_decref(got);
    json_decref(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hs_alloc_setup_json();
    plain(data, size, false);
    plain(data, size, true);
    exact(data, size);
    return 0;
}
