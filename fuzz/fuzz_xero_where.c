/*
 * fuzz/fuzz_xero_where.c - libFuzzer target for the Xero `where` and `order` parsers of the
 *                          sandbox.
 *
 * Design:     both parsers take a NUL-terminated query parameter, so the bytes are copied into
 *             a terminated buffer (stopping at an embedded NUL, as a decoded URL parameter
 *             would); a parsed where clause is then matched against a small contact so the
 *             evaluator runs too. Any crash, overread or leak is a finding. Normal builds
 *             replay fuzz/corpus/xero_where/ as a test.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sandbox/xero.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = hs_strndup((const char *)data, size);
    if (text == NULL)
        return 0;
    struct hs_error err;
    struct hs_xero_where *w = NULL;
    if (hs_xero_where_parse(text, &w, &err) == HS_OK) {
        json_t *c =
            json_pack("{s:s,s:s,s:I,s:b,s:{s:s}}", "Name", "Acme Ltd", "ContactStatus", "ACTIVE",
                      "Balance", (json_int_t)12, "IsCustomer", 1, "Address", "City", "Berlin");
        if (c != NULL)
            (void)hs_xero_where_match(w, c);
        json_decref(c);
        hs_xero_where_free(w);
    }
    struct hs_xero_order *o = NULL;
    if (hs_xero_order_parse(text, &o, &err) == HS_OK)
        hs_xero_order_free(o);
    hs_free(text);
    return 0;
}
