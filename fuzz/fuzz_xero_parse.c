/*
 * fuzz/fuzz_xero_parse.c - libFuzzer target for the Xero connector's parsers.
 *
 * Design:     byte 0 picks the parser (list answer, write answer, webhook payload, cursor,
 *             error body, item map, time), byte 1 the record kind; the rest is the input,
 *             passed as (ptr, len) without a NUL so ASan catches any read past the end. Every
 *             record that comes out must validate and must build back into a Xero element
 *             (create and update) that dumps and parses again; a cursor that parses must
 *             format back to the same text; failures must carry a message. A broken invariant
 *             aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/xero/xero_int.h"
#include "util/alloc.h"
#include "util/jsonnum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_record(enum hs_kind kind, struct hs_record *r, const struct hs_xero_opts *o)
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
        int rc = hs_xero_conn_build(kind, &w, o, &body, &err);
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
    const int mode = data[0] % 7;
    const enum hs_kind kind = kinds[data[1] % 4];
    const uint8_t *in = data + 2;
    const size_t len = size - 2;
    static const struct hs_xero_item_ref items[] = {{(char *)"it-1", (char *)"SKU-1"}};
    struct hs_xero_opts o;
    memset(&o, 0, sizeof o);
    memcpy(o.base_currency, "USD", 4);
    o.sales_account = "200";
    o.payment_account = "090";
    o.invoice_status = "AUTHORISED";
    o.app_url = "https://go.xero.com";
    o.items = items;
    o.n_items = 1;
    struct hs_error err;
    hs_error_clear(&err);
    if (mode == 0) {
        struct hs_xero_page p;
        int rc = hs_xero_conn_parse_list(in, len, kind, true, &o, &p, &err);
        if (rc != HS_OK) {
            check(err.msg[0] != '\0' && p.n_items == 0);
            return 0;
        }
        for (size_t i = 0; i < p.n_items; i++) {
            check(p.items[i].id != NULL);
            check(!p.items[i].deleted || p.items[i].rec == NULL);
            check_record(kind, p.items[i].rec, &o);
        }
        hs_xero_conn_page_release(&p);
    } else if (mode == 1) {
        struct hs_write w[4];
        memset(w, 0, sizeof w);
        bool sent[4] = {true, false, true, true};
        for (size_t i = 0; i < 4; i++)
            w[i].status = 12345;
        int rc = hs_xero_conn_parse_write(in, len, kind, &o, sent, w, 4, &err);
        if (rc != HS_OK) {
            check(err.msg[0] != '\0');
            for (size_t i = 0; i < 4; i++)
                check(w[i].status == 12345 && w[i].result == NULL);
        } else {
            check(w[1].status == 12345 && w[1].result == NULL);
            for (size_t i = 0; i < 4; i++) {
                if (!sent[i])
                    continue;
                check(w[i].status <= 0);
                check((w[i].status == HS_OK) == (w[i].result != NULL));
                check(w[i].status == HS_OK || w[i].msg[0] != '\0');
                check_record(kind, w[i].result, &o);
                hs_record_free(w[i].result);
            }
        }
    } else if (mode == 2) {
        struct hs_changes ch;
        int rc = hs_xero_conn_parse_webhook(in, len, (data[1] & 4) ? "t-1" : NULL, &ch, &err);
        if (rc != HS_OK) {
            check(err.msg[0] != '\0' && ch.n_items == 0 && ch.items == NULL);
            return 0;
        }
        for (size_t i = 0; i < ch.n_items; i++)
            check(ch.items[i].id != NULL && ch.items[i].id[0] != '\0' &&
                  (ch.items[i].kind == HS_KIND_CUSTOMER || ch.items[i].kind == HS_KIND_INVOICE));
        hs_changes_release(&ch);
    } else if (mode == 3) {
        struct hs_xero_cursor c;
        if (hs_xero_conn_cursor_parse((const char *)in, len, &c, &err) != HS_OK) {
            check(err.msg[0] != '\0');
            return 0;
        }
        char *s = hs_xero_conn_cursor_format(&c);
        check(s != NULL && strlen(s) == len && memcmp(s, in, len) == 0);
        hs_free(s);
        struct hs_xero_cursor next;
        bool more = false;
        hs_xero_conn_cursor_next(&c, (int64_t)(data[1]) * 1000 + c.since_ms, (data[1] & 1) != 0,
                                 &next, &more);
        check(next.since_ms >= c.since_ms && next.page >= 1);
        check(more || next.page == 1);
    } else if (mode == 4) {
        char text[64];
        if (hs_xero_conn_parse_error(in, len, text, sizeof text))
            check(strlen(text) < sizeof text);
        else
            check(text[0] == '\0');
    } else if (mode == 5) {
        struct hs_xero_item_ref *v = NULL;
        size_t n = 0;
        int rc = hs_xero_conn_parse_item_refs(in, len, &v, &n, &err);
        check(rc == HS_OK || (err.msg[0] != '\0' && v == NULL && n == 0));
        for (size_t i = 0; i < n; i++)
            check(v[i].id != NULL && v[i].code != NULL);
        hs_xero_conn_item_refs_free(v, n);
    } else {
        int64_t ms = 0;
        if (hs_xero_conn_time_parse((const char *)in, len, &ms) == HS_OK && ms >= 0 &&
            ms < INT64_C(253402300799000)) {
            char out[24];
            hs_xero_conn_time_format(ms, out);
            int64_t back = 0;
            check(hs_xero_conn_time_parse(out, strlen(out), &back) == HS_OK);
            check(back == ms - ms % 1000);
        }
    }
    return 0;
}
