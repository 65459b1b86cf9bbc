/*
 * util/str.c - small string helpers.
 */
#include <errno.h>
#include <string.h>

#include "hoopsync/error.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/str.h"

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool hs_str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

bool hs_str_ieq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    while (*a != '\0' && lower((unsigned char)*a) == lower((unsigned char)*b)) {
        a++;
        b++;
    }
    return lower((unsigned char)*a) == lower((unsigned char)*b);
}

bool hs_str_starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool hs_str_ends(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

char *hs_str_lower(const char *s)
{
    char *d = hs_strdup(s);
    if (d == NULL)
        return NULL;
    for (char *p = d; *p != '\0'; p++)
        *p = (char)lower((unsigned char)*p);
    return d;
}

char *hs_str_trim(const char *s)
{
    while (is_space((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space((unsigned char)s[n - 1]))
        n--;
    return hs_strndup(s, n);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

char *hs_str_url_decode(const char *s, size_t len, bool form)
{
    char *d = hs_malloc(len + 1);
    if (d == NULL)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len) {
                hs_free(d);
                return NULL;
            }
            int h = hexval((unsigned char)s[i + 1]);
            int l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0) {
                hs_free(d);
                return NULL;
            }
            d[j++] = (char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && form) {
            d[j++] = ' ';
        } else {
            d[j++] = c;
        }
    }
    d[j] = '\0';
    return d;
}

char *hs_str_url_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    struct hs_buf b;
    hs_buf_init(&b);
    if (hs_buf_reserve(&b, strlen(s)) != HS_OK)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        int rc;
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            rc = hs_buf_putc(&b, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = hs_buf_append(&b, e, 3);
        }
        if (rc != HS_OK) {
            hs_buf_release(&b);
            return NULL;
        }
    }
    return hs_buf_detach(&b);
}

int hs_str_to_i64(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (len == 0)
        return HS_EINVAL;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == len)
        return HS_EINVAL;
    uint64_t v = 0;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return HS_EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (lim - d) / 10)
            return HS_ERANGE;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return HS_OK;
}

char *hs_str_form_get(const char *form, const char *key, int *out_err)
{
    if (out_err != NULL)
        *out_err = HS_OK;
    if (form == NULL)
        return NULL;
    size_t klen = strlen(key);
    const char *p = form;
    while (*p != '\0') {
        const char *end = strchr(p, '&');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t nlen = eq ? (size_t)(eq - p) : n;
        char *name = hs_str_url_decode(p, nlen, true);
        if (name == NULL) {
            if (out_err != NULL)
                *out_err = HS_EINVAL;
            return NULL;
        }
        bool match = strlen(name) == klen && memcmp(name, key, klen) == 0;
        hs_free(name);
        if (match) {
            const char *v = eq ? eq + 1 : p + n;
            size_t vlen = eq ? n - nlen - 1 : 0;
            char *val = hs_str_url_decode(v, vlen, true);
            if (val == NULL && out_err != NULL)
                *out_err = HS_EINVAL;
            return val;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return NULL;
}

size_t hs_utf8_len(const unsigned char *s, size_t len)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned min;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 1;
        min = 0x80;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 2;
        min = 0x800;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3;
        min = 0x10000;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len <= n)
        return 0;
    for (size_t k = 1; k <= n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n + 1;
}

int hs_str_loopback_uri(const char *uri, char **out_host, int64_t *out_port, char **out_path)
{
    if (out_host != NULL)
        *out_host = NULL;
    if (out_path != NULL)
        *out_path = NULL;
    if (uri == NULL || !hs_str_starts(uri, "http://"))
        return HS_EINVAL;
    const char *h = uri + 7;
    const char *colon = strchr(h, ':');
    const char *slash = strchr(h, '/');
    if (colon == NULL || (slash != NULL && slash < colon))
        return HS_EINVAL;
    const char *pe = slash != NULL ? slash : h + strlen(h);
    int64_t port = 0;
    if (hs_str_to_i64(colon + 1, (size_t)(pe - colon - 1), &port) != HS_OK || port < 0 ||
        port > 65535)
        return HS_EINVAL;
    size_t hl = (size_t)(colon - h);
    if (!((hl == 9 && strncmp(h, "127.0.0.1", 9) == 0) ||
          (hl == 9 && strncmp(h, "localhost", 9) == 0)))
        return HS_EINVAL;
    const char *path = slash != NULL ? slash : "/";
    if (strchr(path, '?') != NULL || strchr(path, '#') != NULL)
        return HS_EINVAL;
    char *host = out_host != NULL ? hs_strndup(h, hl) : NULL;
    char *p = out_path != NULL ? hs_strdup(path) : NULL;
    if ((out_host != NULL && host == NULL) || (out_path != NULL && p == NULL)) {
        hs_free(host);
        hs_free(p);
        return HS_ENOMEM;
    }
    if (out_host != NULL)
        *out_host = host;
    if (out_path != NULL)
        *out_path = p;
    if (out_port != NULL)
        *out_port = port;
    return HS_OK;
}
