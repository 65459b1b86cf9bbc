/*
 * fuzz/fuzz_zohobooks_parse.c - libFuzzer target for the Zoho Books connector's parsers.
 *
 * Design:     byte 0 picks the parser (list answer, one-record answer, webhook body, cursor
 *             and a scan step over a parsed list, error body, time), byte 1 the record kind;
 *             the rest is the input, passed as (ptr, len) without a NUL so ASan catches any
 *             read past the end. Every record that comes out must validate and must build back
 *             into a Zoho body (create and update) that dumps and parses again; a cursor that
 *             parses must format back to the same text; failures must carry a message. A
 *             broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/zohobooks/zohobooks_int.h"
#include "util/alloc.h"
#include "util/jsonnum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_record(enum hs_kind kind, struct hs_record *r, const struct hs_zoho_opts *o)
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
        int rc = hs_zoho_conn_build(kind, &w, o, &body, &err);
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
    struct hs_zoho_opts o;
    memset(&o, 0, sizeof o);
    memcpy(o.base_currency, "USD", 4);
    o.app_url = "https://books.zoho.com";
    o.unique_field = "cf_hoopsync_id";
    o.organization = "1";
    struct hs_error err;
    hs_error_clear(&err);
    if (mode == 0) {
        struct hs_zoho_page p;
        int rc = hs_zoho_conn_parse_list(in, len, kind, (data[1] & 4) != 0, &o, &p, &err);
        if (rc != HS_OK) {
            check(err.msg[0] != '\0' && p.n_items == 0);
            return 0;
        }
        for (size_t i = 0; i < p.n_items; i++) {
            check(p.items[i].id != NULL);
            check_record(kind, p.items[i].rec, &o);
        }
        hs_zoho_conn_page_release(&p);
    } else if (mode == 1) {
        struct hs_record *r = NULL;
        int rc = hs_zoho_conn_parse_one(in, len, kind, &o, &r, &err);
        check(rc == HS_OK ? r != NULL : (r == NULL && err.msg[0] != '\0'));
        check_record(kind, r, &o);
        hs_record_free(r);
    } else if (mode == 2) {
        struct hs_changes ch;
        int rc = hs_zoho_conn_parse_webhook(in, len, &ch, &err);
        if (rc != HS_OK) {
            check(err.msg[0] != '\0' && ch.n_items == 0 && ch.items == NULL);
            return 0;
        }
        for (size_t i = 0; i < ch.n_items; i++)
            check(ch.items[i].id != NULL && ch.items[i].id[0] != '\0');
        hs_changes_release(&ch);
    } else if (mode == 3) {
        struct hs_zoho_cursor *c = hs_calloc(2, sizeof *c);
        if (c == NULL)
            return 0;
        if (hs_zoho_conn_cursor_parse((const char *)in, len, &c[0], &err) != HS_OK) {
            check(err.msg[0] != '\0');
            hs_free(c);
            return 0;
        }
        char *s = hs_zoho_conn_cursor_format(&c[0]);
        check(s != NULL && strlen(s) == len && memcmp(s, in, len) == 0);
        hs_free(s);
        /* a synthetic page of records around the cursor's second */
        struct hs_zoho_obj objs[8];
        char ids[8][4];
        for (int i = 0; i < 8; i++) {
            ids[i][0] = (char)('a' + i);
            ids[i][1] = '\0';
            objs[i].id = ids[i];
            objs[i].updated_at = c[0].since_ms + (int64_t)(7 - i - (data[1] & 3)) * 1000;
            objs[i].rec = NULL;
        }
        struct hs_zoho_page page = {objs, 8, (data[1] & 8) != 0};
        size_t picked[8];
        size_t n = 0;
        bool more = false;
        hs_zoho_conn_cursor_step(&c[0], &page, picked, &n, &c[1], &more);
        check(n <= 8);
        check(c[1].since_ms >= c[0].since_ms && c[1].page >= 1);
        check(more || c[1].page == 1);
        for (size_t i = 0; i < n; i++)
            check(picked[i] < 8 && objs[picked[i]].updated_at >= c[0].since_ms);
        s = hs_zoho_conn_cursor_format(&c[1]);
        check(s != NULL && hs_zoho_conn_cursor_parse(s, strlen(s), &c[0], NULL) == HS_OK);
        hs_free(s);
        hs_free(c);
    } else if (mode == 4) {
        char text[64];
        int code = 0;
        if (hs_zoho_conn_parse_error(in, len, &code, text, sizeof text))
            check(strlen(text) < sizeof text);
        else
            check(text[0] == '\0');
        check(hs_zoho_conn_write_status(400 + (data[1] & 63), code) < 0);
    } else {
        int64_t ms = 0;
        if (hs_zoho_conn_time_parse((const char *)in, len, &ms) == HS_OK && ms >= 0 &&
            ms < INT64_C(253402300799000)) {
            char out[32];
            hs_zoho_conn_time_format(ms, out);
            int64_t back = 0;
            check(hs_zoho_conn_time_parse(out, strlen(out), &back) == HS_OK);
            check(back == ms - ms % 1000);
        }
    }
    return 0;
}
