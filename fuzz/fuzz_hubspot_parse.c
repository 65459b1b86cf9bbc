/*
 * fuzz/fuzz_hubspot_parse.c - libFuzzer target for the HubSpot connector's parsers.
 *
 * Design:     feeds the same bytes to every parser of outside HubSpot input: the object answer
 *             (batch, search, list), then each parsed object converted to a customer, an item
 *             and an invoice (the other objects as its line items) with the default settings,
 *             and each record checked to validate and to turn back into HubSpot properties;
 *             the associations answer; the webhook event array; the time and cursor parsers.
 *             A record that does not validate aborts (a finding). Frees everything; no
 *             globals, no I/O.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/hubspot/hubspot_int.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

static void check_record(const struct hs_hubspot_settings *s, struct hs_record *r)
{
    if (r == NULL)
        return;
    check(hs_record_validate(r, NULL) == HS_OK);
    json_t *props = NULL, *contact = NULL;
    int rc = hs_hubspot_props_of(s, r, NULL, 0, &props, &contact, NULL);
    check(rc == HS_OK || rc == HS_EINVAL);
    json_decref(props);
    json_decref(contact);
    hs_record_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hs_alloc_setup_json();
    struct hs_hubspot_settings s;
    if (hs_hubspot_settings_parse(NULL, &s, NULL) != HS_OK)
        return 0;
    struct hs_hubspot_page p;
    if (hs_hubspot_parse_page(data, size, &p, NULL) == HS_OK) {
        const struct hs_hubspot_obj_rec **lines = NULL;
        if (p.n_objs > 1)
            lines = calloc(p.n_objs, sizeof *lines);
        size_t n_lines = 0;
        for (size_t i = 1; lines != NULL && i < p.n_objs; i++)
            lines[n_lines++] = &p.objs[i];
        for (size_t i = 0; i < p.n_objs; i++) {
            struct hs_record *r = NULL;
            if (hs_hubspot_to_customer(&s, &p.objs[i], i + 1 < p.n_objs ? &p.objs[i + 1] : NULL, &r,
                                       NULL) == HS_OK)
                check_record(&s, r);
            r = NULL;
            if (hs_hubspot_to_item(&s, &p.objs[i], &r, NULL) == HS_OK)
                check_record(&s, r);
            r = NULL;
            if (hs_hubspot_to_invoice(&s, &p.objs[i], "1", i == 0 ? lines : NULL,
                                      i == 0 ? n_lines : 0, &r, NULL) == HS_OK)
                check_record(&s, r);
        }
        free(lines);
        hs_hubspot_page_release(&p);
    }
    struct hs_hubspot_assocs a;
    if (hs_hubspot_parse_assocs(data, size, 5, &a, NULL) == HS_OK) {
        for (size_t i = 0; i < a.n_items; i++)
            check(hs_hubspot_assocs_pick(&a, a.items[i].from) != NULL);
        hs_hubspot_assocs_release(&a);
    }
    struct hs_changes ch;
    if (hs_hubspot_parse_events(data, size, &ch, NULL) == HS_OK) {
        for (size_t i = 0; i < ch.n_items; i++)
            check(ch.items[i].id != NULL && ch.items[i].id[0] != '\0' &&
                  (ch.items[i].kind == HS_KIND_CUSTOMER || ch.items[i].kind == HS_KIND_ITEM ||
                   ch.items[i].kind == HS_KIND_INVOICE));
        hs_changes_release(&ch);
    }
    int64_t ms;
    if (hs_hubspot_parse_time((const char *)data, size, &ms) == HS_OK)
        check(size > 0);
    struct hs_hubspot_cursor cur;
    if (hs_hubspot_cursor_parse((const char *)data, size, &cur, NULL) == HS_OK) {
        check(cur.ms >= 0 && cur.id >= 0 && cur.contact_ms >= 0 && cur.contact_id >= 0);
        char *text = hs_hubspot_cursor_format(&cur); /* formats back to what it parsed */
        struct hs_hubspot_cursor again;
        if (text != NULL) {
            check(hs_hubspot_cursor_parse(text, strlen(text), &again, NULL) == HS_OK &&
                  again.ms == cur.ms && again.id == cur.id &&
                  again.has_contacts == cur.has_contacts && again.contact_ms == cur.contact_ms &&
                  again.contact_id == cur.contact_id && again.phase == cur.phase);
            hs_free(text);
        }
    }
    hs_hubspot_settings_release(&s);
    return 0;
}
