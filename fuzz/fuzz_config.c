/*
 * fuzz/fuzz_config.c - libFuzzer target for the hoopsync.yaml parser (hs_config_parse).
 *
 * Design:     feeds the raw bytes to the (buf, len) parser, which must never read past len,
 *             crash, leak or take long, whatever the input: syntax errors, aliases, deep
 *             nesting, huge mappings and wrong types all end in an error message. On success
 *             it touches every string of the result so that ASan sees any dangling pointer.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"

static size_t touch(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hs_config *cfg = NULL;
    struct hs_error err = {0};
    if (hs_config_parse(data, size, "fuzz.yaml", &cfg, &err) != HS_OK)
        return 0;
    size_t n = touch(cfg->store) + touch(cfg->master_key_file) + touch(cfg->crm.base_url);
    for (size_t i = 0; i < cfg->n_flows; i++) {
        const struct hs_config_flow *f = &cfg->flows[i];
        n += touch(f->name);
        for (size_t j = 0; j < f->n_mappings; j++) {
            n += touch(f->mappings[j].crm) + touch(f->mappings[j].accounting);
            for (size_t k = 0; k < f->mappings[j].n_args; k++)
                n += touch(f->mappings[j].args[k]);
            for (size_t k = 0; k < f->mappings[j].n_map; k++)
                n += touch(f->mappings[j].map[k].from) + touch(f->mappings[j].map[k].to);
        }
        for (size_t j = 0; j < f->n_filters; j++)
            for (size_t k = 0; k < f->filters[j].n_values; k++)
                n += touch(f->filters[j].values[k]);
        for (size_t j = 0; j < f->n_authority; j++)
            n += touch(f->authority[j].field);
        const struct hs_config_invoicing *iv = &f->invoicing;
        n += touch(iv->default_item) + touch(iv->payment_terms) + touch(iv->untaxed_code) +
             touch(iv->default_currency);
        for (size_t j = 0; j < iv->n_terms; j++)
            n += touch(iv->terms[j].name);
        for (size_t j = 0; j < iv->n_taxes; j++)
            n += touch(iv->taxes[j].label) + touch(iv->taxes[j].code.code);
    }
    n += touch(cfg->crm.settings) + touch(cfg->accounting.settings);
    hs_config_free(cfg);
    return n == SIZE_MAX ? 1 : 0;
}
