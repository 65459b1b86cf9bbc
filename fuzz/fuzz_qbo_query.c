/*
 * fuzz/fuzz_qbo_query.c - libFuzzer target for the QuickBooks query parser of the sandbox.
 *
 * Design:     feeds arbitrary bytes to hs_qbo_query_parse (which takes (buf,len) and never
 *             assumes NUL termination) and frees whatever it returns; any crash, overread or
 *             leak is a finding. Normal builds replay fuzz/corpus/qbo_query/ as a test.
 */
#include <stddef.h>
#include <stdint.h>

#include "sandbox/qbo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hs_qbo_query *q = NULL;
    struct hs_error err;
    if (hs_qbo_query_parse((const char *)data, size, &q, &err) == HS_OK)
        hs_qbo_query_free(q);
    return 0;
}
