/*
 * fuzz/fuzz_quickbooks_parse.c - libFuzzer target for the QuickBooks connector's parsers.
 *
 * Design:     byte 0 picks the parser (query answer, CDC answer, batch answer, webhook
 *             payload, cursor, Fault), byte 1 the record kind; the rest is the input, passed
 *             as (ptr, len) without a NUL so ASan catches any read past the end. Every record
 *             that comes out must validate and must build back into a QuickBooks body (create
 *             and sparse update) that dumps; a cursor that parses must format back to the same
 *             text; failures must carry a message. A broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/quickbooks/quickbooks_int.h"
#include "util/alloc.h"
#include "util/jsonnum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_record(enum hs_kind kind, struct hs_record *r, const struct hs_quickbooks_opts *o)
{
    if (r == NULL)
        return;
    check(hs_record_validate(r, NULL) == HS_OK);
    check(r->id != NULL);
    for (int op = HS_WRITE_CREATE; op <= HS_WRITE_UPDATE; op++) {
        struct hs_write w;
        memset(&w, 0, sizeof w);
        w.op = (enum hs_write_op)op;
        w.record = r;
        w.idem_key = "k";
        json_t *body = NULL;
        struct hs_error err;
        hs_error_clear(&err);
        int rc = hs_quickbooks_build(kind, &w, o, &body, &err);
        check(rc == HS_OK || (rc < 0 && err.msg[0] != '\0' && body == NULL));
        if (body != NULL) {
            struct hs_buf b;
            hs_buf_init(&b);
            check(hs_json_dump_exact(body, &b) == HS_OK);
            json_t *again = NULL;
            check(hs_json_parse_exact((const uint8_t *)b.data, b.len, "body", &again, NULL) ==
                  HS_OK);
            json_decref(again);
            hs_buf_release(&b);
            json_decref(body);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hs_alloc_setup_json();
    if (size < 2)
        return 0;
    static const enum hs_kind kinds[] = {HS_KIND_CUSTOMER, HS_KIND_ITEM, HS_KIND_INVOICE,
                                         HS_KIND_PAYMENT};
    const int mode = data[0] % 6;
    const enum hs_kind kind = kinds[data[1] % 4];
    const uint8_t *in = data + 2;
    const size_t len = size - 2;
    struct hs_quickbooks_opts o;
    memset(&o, 0, sizeof o);
    memcpy(o.home_currency, "USD", 4);
    o.income_account = "2";
    o.item_type = "Service";
    o.app_url = "https://app.qbo.intuit.com";
    struct hs_error err;
    hs_error_clear(&err);
    if (mode <= 1) {
        struct hs_quickbooks_page p;
        int rc = hs_quickbooks_parse_list(in, len, kind, mode == 1, true, &o, &p, &err);
        if (rc != HS_OK) {
            check(p.n_items == 0 && err.msg[0] != '\0');
            return 0;
        }
        for (size_t i = 0; i < p.n_items; i++) {
            check(p.items[i].id != NULL);
            check(p.items[i].deleted || p.items[i].rec != NULL);
            check_record(kind, p.items[i].rec, &o);
        }
        hs_quickbooks_page_release(&p);
    } else if (mode == 2) {
        struct hs_write w[4];
        memset(w, 0, sizeof w);
        int rc = hs_quickbooks_parse_batch(in, len, kind, &o, w, 4, &err);
        check(rc == HS_OK || err.msg[0] != '\0');
        for (size_t i = 0; i < 4; i++) {
            check(rc != HS_OK || w[i].status <= 0);
            check((w[i].status == HS_OK) == (w[i].result != NULL) || rc != HS_OK);
            check_record(kind, w[i].result, &o);
            hs_record_free(w[i].result);
        }
    } else if (mode == 3) {
        struct hs_changes ch;
        int rc = hs_quickbooks_parse_webhook(in, len, "123", &ch, &err);
        check(rc == HS_OK || (ch.n_items == 0 && err.msg[0] != '\0'));
        hs_changes_release(&ch);
    } else if (mode == 4) {
        struct hs_quickbooks_cursor c;
        if (hs_quickbooks_cursor_parse((const char *)in, len, &c, &err) == HS_OK) {
            char *s = hs_quickbooks_cursor_format(&c);
            check(s != NULL);
            check(strlen(s) == len && memcmp(s, in, len) == 0);
            hs_free(s);
        } else {
            check(err.msg[0] != '\0');
        }
    } else {
        char code[16];
        char text[64];
        (void)hs_quickbooks_parse_fault(in, len, code, sizeof code, text, sizeof text);
        check(strlen(code) < sizeof code && strlen(text) < sizeof text);
    }
    return 0;
}
