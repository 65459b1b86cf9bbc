/*
 * fuzz/fuzz_jsonnum.c - libFuzzer target for the exact-number JSON parser (util/jsonnum.c).
 *
 * Design:     parses the input as (ptr, len) without a NUL; on success dumps it back with
 *             hs_json_dump_exact and parses that again: the second tree must dump to the same
 *             bytes (numbers keep their exact text), and every number must read back as valid
 *             JSON number text. Failures must carry a message. A broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/jsonnum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

/* Every marked number in v holds valid number text. */
static void check_numbers(const json_t *v, int depth)
{
    check(depth <= HS_JSONNUM_MAX_DEPTH + 1);
    if (hs_json_is_number(v)) {
        const char *t = hs_json_num_text(v);
        check(t != NULL && hs_json_number_valid(t, strlen(t)));
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            check_numbers(json_array_get(v, i), depth + 1);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            check_numbers(m, depth + 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hs_alloc_setup_json();
    json_t *v = NULL;
    struct hs_error err;
    hs_error_clear(&err);
    int rc = hs_json_parse_exact(data, size, "input", &v, &err);
    if (rc != HS_OK) {
        check(v == NULL && rc < 0 && err.code == rc && err.msg[0] != '\0');
        return 0;
    }
    check_numbers(v, 0);
    struct hs_buf a;
    struct hs_buf b;
    hs_buf_init(&a);
    hs_buf_init(&b);
    check(hs_json_dump_exact(v, &a) == HS_OK);
    json_t *w = NULL;
    check(hs_json_parse_exact((const uint8_t *)a.data, a.len, "dump", &w, NULL) == HS_OK);
    check(hs_json_dump_exact(w, &b) == HS_OK);
    check(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    json_decref(w);
    json_decref(v);
    hs_buf_release(&a);
    hs_buf_release(&b);
    return 0;
}
