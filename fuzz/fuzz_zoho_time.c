/*
 * fuzz/fuzz_zoho_time.c - libFuzzer target for the sandbox's Zoho `last_modified_time` parser.
 *
 * Design:     the parser takes a NUL-terminated query parameter, so the bytes are copied into a
 *             terminated buffer (stopping at an embedded NUL, as a decoded URL parameter would);
 *             a parsed instant is formatted back and parsed again, which must give the same
 *             instant at whole seconds (the format has no sub-second part). Any crash,
 *             overread or mismatch is a finding. Normal builds replay fuzz/corpus/zoho_time/ as
 *             a test.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/zoho.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = hs_strndup((const char *)data, size);
    if (text == NULL)
        return 0;
    int64_t ms = 0;
    if (hs_zoho_time_parse(text, &ms)) {
        char out[40];
        int64_t again = 0;
        hs_zoho_time_format(ms, out, sizeof out);
        /* years past 9999 do not fit the format; everything else must round-trip */
        if (ms >= 0 && ms < 253402300800000LL && (!hs_zoho_time_parse(out, &again) || again != ms))
            abort();
    }
    hs_free(text);
    return 0;
}
