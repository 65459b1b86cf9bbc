/*
 * core/normalize.c - folding, legal-form removal and the other matching keys.
 *
 * Design:     hs_normalize_fold decodes UTF-8 one code point at a time and writes each one's
 *             folded form into a buffer sized once (no output can exceed 5 bytes per input
 *             byte), so folding costs one allocation. The Latin tables below were generated
 *             from Unicode's decompositions (NFKD, ASCII part, lower-cased) and completed by
 *             hand for letters without a decomposition (ß, æ, ø, ł, đ, þ, ŋ, ...); " " marks a
 *             symbol (× ÷) that separates words, NULL a letter kept as it is.
 *             Names are then cut into words; legal forms are removed by whole words from the
 *             end (several times: "Acme Holdings Co., Ltd." loses "co ltd"), then from the
 *             start for forms written first, after splitting CJK forms glued to a name.
 * Invariants: folded text holds no upper-case ASCII, no leading, trailing or double space;
 *             a name key never loses its last word.
 * Not here:   scoring (core/match.c), validity rules (core/validate.c).
 */
#include "core/normalize.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

/* ---- fold tables (generated from UnicodeData NFKD, see the design note) ---------------- */

/* clang-format off */
static const char *const fold_latin[400] = {
    /* U+00C0 */ "a", "a", "a", "a", "a", "a", "ae", "c",
    /* U+00C8 */ "e", "e", "e", "e", "i", "i", "i", "i",
    /* U+00D0 */ "d", "n", "o", "o", "o", "o", "o", " ",
    /* U+00D8 */ "o", "u", "u", "u", "u", "y", "th", "ss",
    /* U+00E0 */ "a", "a", "a", "a", "a", "a", "ae", "c",
    /* U+00E8 */ "e", "e", "e", "e", "i", "i", "i", "i",
    /* U+00F0 */ "d", "n", "o", "o", "o", "o", "o", " ",
    /* U+00F8 */ "o", "u", "u", "u", "u", "y", "th", "y",
    /* U+0100 */ "a", "a", "a", "a", "a", "a", "c", "c",
    /* U+0108 */ "c", "c", "c", "c", "c", "c", "d", "d",
    /* U+0110 */ "d", "d", "e", "e", "e", "e", "e", "e",
    /* U+0118 */ "e", "e", "e", "e", "g", "g", "g", "g",
    /* U+0120 */ "g", "g", "g", "g", "h", "h", "h", "h",
    /* U+0128 */ "i", "i", "i", "i", "i", "i", "i", "i",
    /* U+0130 */ "i", "i", "ij", "ij", "j", "j", "k", "k",
    /* U+0138 */ "k", "l", "l", "l", "l", "l", "l", "l",
    /* U+0140 */ "l", "l", "l", "n", "n", "n", "n", "n",
    /* U+0148 */ "n", "n", "n", "n", "o", "o", "o", "o",
    /* U+0150 */ "o", "o", "oe", "oe", "r", "r", "r", "r",
    /* U+0158 */ "r", "r", "s", "s", "s", "s", "s", "s",
    /* U+0160 */ "s", "s", "t", "t", "t", "t", "t", "t",
    /* U+0168 */ "u", "u", "u", "u", "u", "u", "u", "u",
    /* U+0170 */ "u", "u", "u", "u", "w", "w", "y", "y",
    /* U+0178 */ "y", "z", "z", "z", "z", "z", "z", "s",
    /* U+0180 */ "b", "b", "b", "b", NULL, NULL, "o", "c",
    /* U+0188 */ "c", "d", "d", "d", "d", "d", "e", "e",
    /* U+0190 */ "e", "f", "f", "g", "g", "hv", "i", "i",
    /* U+0198 */ "k", "k", "l", "l", "m", "n", "n", "o",
    /* U+01A0 */ "o", "o", "oi", "oi", "p", "p", "r", NULL,
    /* U+01A8 */ NULL, "s", NULL, "t", "t", "t", "t", "u",
    /* U+01B0 */ "u", "u", "v", "y", "y", "z", "z", "z",
    /* U+01B8 */ NULL, NULL, "z", NULL, NULL, NULL, NULL, "w",
    /* U+01C0 */ NULL, NULL, NULL, NULL, "dz", "dz", "dz", "lj",
    /* U+01C8 */ "lj", "lj", "nj", "nj", "nj", "a", "a", "i",
    /* U+01D0 */ "i", "o", "o", "u", "u", "u", "u", "u",
    /* U+01D8 */ "u", "u", "u", "u", "u", "e", "a", "a",
    /* U+01E0 */ "a", "a", "ae", "ae", "g", "g", "g", "g",
    /* U+01E8 */ "k", "k", "o", "o", "o", "o", "z", "z",
    /* U+01F0 */ "j", "dz", "dz", "dz", "g", "g", NULL, "w",
    /* U+01F8 */ "n", "n", "a", "a", "ae", "ae", "o", "o",
    /* U+0200 */ "a", "a", "a", "a", "e", "e", "e", "e",
    /* U+0208 */ "i", "i", "i", "i", "o", "o", "o", "o",
    /* U+0210 */ "r", "r", "r", "r", "u", "u", "u", "u",
    /* U+0218 */ "s", "s", "t", "t", "y", "y", "h", "h",
    /* U+0220 */ "n", "d", "ou", "ou", "z", "z", "a", "a",
    /* U+0228 */ "e", "e", "o", "o", "o", "o", "o", "o",
    /* U+0230 */ "o", "o", "y", "y", "l", "n", "t", "j",
    /* U+0238 */ "db", "qp", "a", "c", "c", "l", "t", "s",
    /* U+0240 */ "z", NULL, NULL, "b", "u", "v", "e", "e",
    /* U+0248 */ "j", "j", "q", "q", "r", "r", "y", "y",
};
static const char *const fold_latin_ext[256] = {
    /* U+1E00 */ "a", "a", "b", "b", "b", "b", "b", "b",
    /* U+1E08 */ "c", "c", "d", "d", "d", "d", "d", "d",
    /* U+1E10 */ "d", "d", "d", "d", "e", "e", "e", "e",
    /* U+1E18 */ "e", "e", "e", "e", "e", "e", "f", "f",
    /* U+1E20 */ "g", "g", "h", "h", "h", "h", "h", "h",
    /* U+1E28 */ "h", "h", "h", "h", "i", "i", "i", "i",
    /* U+1E30 */ "k", "k", "k", "k", "k", "k", "l", "l",
    /* U+1E38 */ "l", "l", "l", "l", "l", "l", "m", "m",
    /* U+1E40 */ "m", "m", "m", "m", "n", "n", "n", "n",
    /* U+1E48 */ "n", "n", "n", "n", "o", "o", "o", "o",
    /* U+1E50 */ "o", "o", "o", "o", "p", "p", "p", "p",
    /* U+1E58 */ "r", "r", "r", "r", "r", "r", "r", "r",
    /* U+1E60 */ "s", "s", "s", "s", "s", "s", "s", "s",
    /* U+1E68 */ "s", "s", "t", "t", "t", "t", "t", "t",
    /* U+1E70 */ "t", "t", "u", "u", "u", "u", "u", "u",
    /* U+1E78 */ "u", "u", "u", "u", "v", "v", "v", "v",
    /* U+1E80 */ "w", "w", "w", "w", "w", "w", "w", "w",
    /* U+1E88 */ "w", "w", "x", "x", "x", "x", "y", "y",
    /* U+1E90 */ "z", "z", "z", "z", "z", "z", "h", "t",
    /* U+1E98 */ "w", "y", "a", "s", "s", "s", "ss", "d",
    /* U+1EA0 */ "a", "a", "a", "a", "a", "a", "a", "a",
    /* U+1EA8 */ "a", "a", "a", "a", "a", "a", "a", "a",
    /* U+1EB0 */ "a", "a", "a", "a", "a", "a", "a", "a",
    /* U+1EB8 */ "e", "e", "e", "e", "e", "e", "e", "e",
    /* U+1EC0 */ "e", "e", "e", "e", "e", "e", "e", "e",
    /* U+1EC8 */ "i", "i", "i", "i", "o", "o", "o", "o",
    /* U+1ED0 */ "o", "o", "o", "o", "o", "o", "o", "o",
    /* U+1ED8 */ "o", "o", "o", "o", "o", "o", "o", "o",
    /* U+1EE0 */ "o", "o", "o", "o", "u", "u", "u", "u",
    /* U+1EE8 */ "u", "u", "u", "u", "u", "u", "u", "u",
    /* U+1EF0 */ "u", "u", "y", "y", "y", "y", "y", "y",
    /* U+1EF8 */ "y", "y", "ll", "ll", "v", "v", "y", "y",
};
/* clang-format on */

#define LATIN_LO     0x00C0u
#define LATIN_HI     0x024Fu
#define LATIN_EXT_LO 0x1E00u
#define LATIN_EXT_HI 0x1EFFu
#define BAD_CP       0xFFFFFFFFu

/* ---- UTF-8 ------------------------------------------------------------------------------ */

/* Decodes one code point at s (n > 0 bytes left); returns the bytes used (1 for an invalid
 * sequence, with *cp = BAD_CP). Rejects overlong forms, surrogates and values past U+10FFFF. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    uint32_t v;
    uint32_t min;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1Fu;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0Fu;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07u;
        min = 0x10000;
    } else {
        *cp = BAD_CP;
        return 1;
    }
    if (n <= need) {
        *cp = BAD_CP;
        return 1;
    }
    for (size_t i = 1; i <= need; i++) {
        if ((s[i] & 0xC0u) != 0x80u) {
            *cp = BAD_CP;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFFu || (v >= 0xD800u && v <= 0xDFFFu)) {
        *cp = BAD_CP;
        return 1;
    }
    *cp = v;
    return need + 1;
}

static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0u | (cp >> 6));
        out[1] = (char)(0x80u | (cp & 0x3Fu));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0u | (cp >> 12));
        out[1] = (char)(0x80u | ((cp >> 6) & 0x3Fu));
        out[2] = (char)(0x80u | (cp & 0x3Fu));
        return 3;
    }
    out[0] = (char)(0xF0u | (cp >> 18));
    out[1] = (char)(0x80u | ((cp >> 12) & 0x3Fu));
    out[2] = (char)(0x80u | ((cp >> 6) & 0x3Fu));
    out[3] = (char)(0x80u | (cp & 0x3Fu));
    return 4;
}

/* ---- folding ---------------------------------------------------------------------------- */

/* What one code point becomes. */
enum fold_kind {
    F_SEP,  /* separates words */
    F_DROP, /* vanishes, joining its neighbours (apostrophes, combining marks) */
    F_DOT,  /* '.': joins single letters, else separates */
    F_AND,  /* '&': the word "and" */
    F_STR,  /* the ASCII string str */
    F_CP,   /* the code point cp */
};

struct fold {
    enum fold_kind kind;
    const char *str;
    uint32_t cp;
};

static struct fold fold_ascii(uint32_t c)
{
    struct fold f = {F_SEP, NULL, c};
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        f.kind = F_CP;
    } else if (c >= 'A' && c <= 'Z') {
        f.kind = F_CP;
        f.cp = c - 'A' + 'a';
    } else if (c == '\'' || c == '`') {
        f.kind = F_DROP;
    } else if (c == '.') {
        f.kind = F_DOT;
    } else if (c == '&') {
        f.kind = F_AND;
    }
    return f;
}

static uint32_t fold_greek(uint32_t c)
{
    switch (c) {
    case 0x386:
    case 0x3AC:
        return 0x3B1; /* alpha */
    case 0x388:
    case 0x3AD:
        return 0x3B5; /* epsilon */
    case 0x389:
    case 0x3AE:
        return 0x3B7; /* eta */
    case 0x38A:
    case 0x3AA:
    case 0x3AF:
    case 0x3CA:
    case 0x390:
        return 0x3B9; /* iota */
    case 0x38C:
    case 0x3CC:
        return 0x3BF; /* omicron */
    case 0x38E:
    case 0x3AB:
    case 0x3CD:
    case 0x3CB:
    case 0x3B0:
        return 0x3C5; /* upsilon */
    case 0x38F:
    case 0x3CE:
        return 0x3C9; /* omega */
    case 0x3C2:
        return 0x3C3; /* final sigma */
    default:
        break;
    }
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2)
        return c + 0x20;
    return c;
}

static uint32_t fold_cyrillic(uint32_t c)
{
    if (c == 0x401 || c == 0x451)
        return 0x435; /* yo -> ye, as Russian writers often do */
    if (c >= 0x400 && c <= 0x40F)
        return c + 0x50;
    if (c >= 0x410 && c <= 0x42F)
        return c + 0x20;
    if (((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x4FF)) &&
        c % 2 == 0)
        return c + 1;
    if (c >= 0x4C1 && c <= 0x4CE && c % 2 == 1)
        return c + 1;
    return c;
}

static struct fold fold_cp(uint32_t c)
{
    struct fold f = {F_CP, NULL, c};
    if (c == BAD_CP) {
        f.kind = F_SEP;
    } else if (c < 0x80) {
        f = fold_ascii(c);
    } else if (c < LATIN_LO) {
        if (c == 0xB4)
            f.kind = F_DROP; /* acute accent used as an apostrophe */
        else if (c == 0xAA || c == 0xBA)
            f.cp = c == 0xAA ? 'a' : 'o';
        else
            f.kind = F_SEP;
    } else if (c <= LATIN_HI) {
        const char *s = fold_latin[c - LATIN_LO];
        if (s != NULL) {
            f.kind = s[0] == ' ' ? F_SEP : F_STR;
            f.str = s;
        }
    } else if (c >= 0x2B0 && c <= 0x36F) {
        f.kind = F_DROP; /* modifier letters (ʼ ʻ) and combining marks */
    } else if (c >= 0x370 && c <= 0x3FF) {
        if (c == 0x37E || c == 0x387)
            f.kind = F_SEP;
        else
            f.cp = fold_greek(c);
    } else if (c >= 0x400 && c <= 0x4FF) {
        f.cp = fold_cyrillic(c);
    } else if (c >= LATIN_EXT_LO && c <= LATIN_EXT_HI) {
        f.kind = F_STR;
        f.str = fold_latin_ext[c - LATIN_EXT_LO];
    } else if ((c >= 0x200B && c <= 0x200D) || c == 0x2060 || c == 0xFEFF ||
               (c >= 0xFE00 && c <= 0xFE0F)) {
        f.kind = F_DROP; /* zero-width characters, variation selectors */
    } else if (c == 0x2018 || c == 0x2019 || c == 0x201B || c == 0x2032) {
        f.kind = F_DROP; /* typographic apostrophes */
    } else if (c >= 0x2000 && c <= 0x206F) {
        f.kind = F_SEP;
    } else if (c >= 0x3000 && c <= 0x303F) {
        if (c < 0x3005 || c > 0x3007) /* 々 〆 〇 are letters */
            f.kind = F_SEP;
    } else if (c == 0x30FB || (c >= 0xFF5F && c <= 0xFF65)) {
        f.kind = F_SEP; /* katakana middle dot, halfwidth punctuation */
    } else if (c == 0x3231) {
        f.kind = F_STR; /* ㈱: "(株)" */
        f.str = "\xE6\xA0\xAA";
    } else if (c == 0x3232) {
        f.kind = F_STR; /* ㈲: "(有)" */
        f.str = "\xE6\x9C\x89";
    } else if (c == 0x337F) {
        f.kind = F_STR; /* ㍿: 株式会社 */
        f.str = "\xE6\xA0\xAA\xE5\xBC\x8F\xE4\xBC\x9A\xE7\xA4\xBE";
    } else if (c >= 0xFF01 && c <= 0xFF5E) {
        f = fold_ascii(c - 0xFEE0);
    }
    return f;
}

/* True when the code point at s starts a word (is not a separator nor a dot). */
static bool starts_word(const unsigned char *s, size_t n)
{
    while (n > 0) {
        uint32_t cp;
        size_t used = utf8_next(s, n, &cp);
        struct fold f = fold_cp(cp);
        if (f.kind != F_DROP)
            return f.kind == F_CP || f.kind == F_STR;
        s += used;
        n -= used;
    }
    return false;
}

struct out {
    char *p;
    size_t len;
    bool sep;   /* a separator is pending */
    size_t run; /* code points written since the last separator or joining dot */
};

static void put_bytes(struct out *o, const char *s, size_t n)
{
    if (o->sep && o->len > 0)
        o->p[o->len++] = ' ';
    o->sep = false;
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

int hs_normalize_fold(const char *s, size_t len, char **out)
{
    *out = NULL;
    if (s == NULL)
        len = 0;
    if (len > HS_NORMALIZE_MAX_INPUT)
        len = HS_NORMALIZE_MAX_INPUT;
    /* worst case per input byte: '&' -> " and" (4), ㍿ (3 bytes) -> " 株式会社" (13) */
    struct out o = {hs_malloc(len * 5 + 1), 0, false, 0};
    if (o.p == NULL)
        return HS_ENOMEM;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t used = utf8_next(u + i, len - i, &cp);
        i += used;
        struct fold f = fold_cp(cp);
        switch (f.kind) {
        case F_SEP:
            o.sep = true;
            o.run = 0;
            break;
        case F_DROP:
            break;
        case F_DOT:
            if (o.run == 1 && starts_word(u + i, len - i)) {
                o.run = 0; /* "S.A." -> "sa" */
            } else {
                o.sep = true;
                o.run = 0;
            }
            break;
        case F_AND:
            o.sep = true;
            put_bytes(&o, "and", 3);
            o.sep = true;
            o.run = 0;
            break;
        case F_STR:
            if (cp == 0x3231 || cp == 0x3232 || cp == 0x337F) {
                o.sep = true; /* an enclosed legal form is a word of its own */
                put_bytes(&o, f.str, strlen(f.str));
                o.sep = true;
                o.run = 0;
            } else {
                put_bytes(&o, f.str, strlen(f.str));
                o.run++;
            }
            break;
        case F_CP: {
            char tmp[4];
            size_t n = utf8_put(tmp, f.cp);
            put_bytes(&o, tmp, n);
            o.run++;
            break;
        }
        }
    }
    o.p[o.len] = '\0';
    *out = o.p;
    return HS_OK;
}

/* ---- legal forms ------------------------------------------------------------------------ */

enum { L_END = 1, L_START = 2, L_GLUED = 4 };

struct legal_form {
    const char *words;     /* folded words, single spaces */
    const char *canonical; /* what hs_name_key.legal_form reports */
    unsigned flags;
};

/* clang-format off */
static const struct legal_form legal_forms[] = {
    /* English-speaking countries */
    {"inc", "inc", L_END}, {"incorporated", "inc", L_END},
    {"corp", "corp", L_END}, {"corporation", "corp", L_END},
    {"co", "co", L_END}, {"company", "co", L_END}, {"and co", "co", L_END},
    {"and company", "co", L_END}, {"cie", "co", L_END}, {"and cie", "co", L_END},
    {"llc", "llc", L_END}, {"limited liability company", "llc", L_END}, {"l l c", "llc", L_END},
    {"ltd", "ltd", L_END}, {"limited", "ltd", L_END}, {"ltd co", "co ltd", L_END},
    {"co ltd", "co ltd", L_END}, {"co limited", "co ltd", L_END},
    {"company limited", "co ltd", L_END}, {"plc", "plc", L_END},
    {"public limited company", "plc", L_END}, {"llp", "llp", L_END},
    {"limited liability partnership", "llp", L_END}, {"lp", "lp", L_END},
    {"limited partnership", "lp", L_END}, {"lllp", "lllp", L_END}, {"pllc", "pllc", L_END},
    {"pc", "pc", L_END}, {"ulc", "ulc", L_END}, {"pty ltd", "pty ltd", L_END},
    {"pty limited", "pty ltd", L_END}, {"proprietary limited", "pty ltd", L_END},
    {"pty", "pty ltd", L_END}, {"nl", "nl", L_END}, {"pte ltd", "pte ltd", L_END},
    {"pte limited", "pte ltd", L_END}, {"private limited", "pvt ltd", L_END},
    {"pvt ltd", "pvt ltd", L_END}, {"private ltd", "pvt ltd", L_END},
    {"pvt limited", "pvt ltd", L_END}, {"cc", "cc", L_END}, {"npc", "npc", L_END},
    {"ltee", "ltee", L_END}, {"inc ltee", "inc", L_END}, {"ltd ltee", "ltd", L_END},
    {"public co ltd", "pcl", L_END}, {"public company limited", "pcl", L_END},
    {"pcl", "pcl", L_END},
    /* German-speaking countries */
    {"gmbh", "gmbh", L_END}, {"mbh", "gmbh", L_END}, {"gesmbh", "gmbh", L_END},
    {"gesellschaft mit beschrankter haftung", "gmbh", L_END},
    {"ag", "ag", L_END}, {"aktiengesellschaft", "ag", L_END},
    {"kg", "kg", L_END}, {"kommanditgesellschaft", "kg", L_END},
    {"gmbh and co kg", "gmbh co kg", L_END}, {"gmbh co kg", "gmbh co kg", L_END},
    {"gmbh and co", "gmbh co kg", L_END}, {"gmbh and cie kg", "gmbh co kg", L_END},
    {"ag and co kg", "ag co kg", L_END}, {"ag co kg", "ag co kg", L_END},
    {"kgaa", "kgaa", L_END}, {"ohg", "ohg", L_END}, {"ug", "ug", L_END},
    {"ug haftungsbeschrankt", "ug", L_END}, {"gbr", "gbr", L_END}, {"ev", "ev", L_END},
    {"eg", "eg", L_END}, {"ek", "ek", L_END}, {"se", "se", L_END},
    /* French-, Italian-, Spanish-, Portuguese-speaking countries */
    {"sa", "sa", L_END}, {"sas", "sas", L_END}, {"sasu", "sasu", L_END},
    {"sarl", "sarl", L_END}, {"eurl", "eurl", L_END}, {"sci", "sci", L_END},
    {"snc", "snc", L_END}, {"sca", "sca", L_END}, {"scop", "scop", L_END},
    {"selarl", "selarl", L_END}, {"gie", "gie", L_END}, {"sprl", "sprl", L_END},
    {"srl", "srl", L_END}, {"srls", "srls", L_END}, {"spa", "spa", L_END},
    {"sapa", "sapa", L_END}, {"scrl", "scrl", L_END}, {"asbl", "asbl", L_END},
    {"sl", "sl", L_END}, {"slu", "slu", L_END}, {"sll", "sll", L_END},
    {"sa de cv", "sa de cv", L_END}, {"sab de cv", "sab de cv", L_END},
    {"s de rl", "s de rl", L_END},
    {"s de rl de cv", "s de rl de cv", L_END}, {"sapi de cv", "sapi de cv", L_END},
    {"sac", "sac", L_END}, {"saa", "saa", L_END}, {"saic", "saic", L_END},
    {"ltda", "ltda", L_END}, {"eireli", "eireli", L_END}, {"lda", "lda", L_END},
    {"unipessoal lda", "lda", L_END}, {"sgps", "sgps", L_END},
    /* Benelux */
    {"bv", "bv", L_END}, {"nv", "nv", L_END}, {"vof", "vof", L_END},
    {"cv", "cv", L_END | L_START}, {"bvba", "bvba", L_END}, {"cvba", "cvba", L_END},
    {"vzw", "vzw", L_END},
    /* Central and Eastern Europe */
    {"sp z oo", "sp z oo", L_END}, {"spzoo", "sp z oo", L_END},
    {"spolka z oo", "sp z oo", L_END},
    {"spolka z ograniczona odpowiedzialnoscia", "sp z oo", L_END},
    {"sp k", "spk", L_END}, {"spk", "spk", L_END}, {"sp j", "spj", L_END},
    {"spj", "spj", L_END}, {"ska", "ska", L_END}, {"sp p", "spp", L_END},
    {"spolka akcyjna", "sa", L_END}, {"sro", "sro", L_END}, {"spol s ro", "sro", L_END},
    {"spol sro", "sro", L_END}, {"as", "as", L_END}, {"vos", "vos", L_END},
    {"kft", "kft", L_END}, {"zrt", "zrt", L_END}, {"nyrt", "nyrt", L_END},
    {"bt", "bt", L_END}, {"kkt", "kkt", L_END}, {"doo", "doo", L_END},
    {"dd", "dd", L_END}, {"ood", "ood", L_END}, {"eood", "eood", L_END},
    {"ead", "ead", L_END}, {"ou", "ou", L_END}, {"uab", "uab", L_END | L_START},
    {"sia", "sia", L_START}, {"ooo", "ooo", L_START | L_END},
    {"\xD0\xBE\xD0\xBE\xD0\xBE", "ooo", L_START | L_END},         /* ООО */
    {"\xD0\xB7\xD0\xB0\xD0\xBE", "zao", L_START | L_END},         /* ЗАО */
    {"\xD0\xBE\xD0\xB0\xD0\xBE", "oao", L_START | L_END},         /* ОАО */
    {"\xD0\xBF\xD0\xB0\xD0\xBE", "pao", L_START | L_END},         /* ПАО */
    {"\xD0\xB0\xD0\xBE", "ao", L_START},                          /* АО */
    {"ltd sti", "ltd sti", L_END}, {"limited sirketi", "ltd sti", L_END},
    {"anonim sirketi", "as", L_END},
    /* Nordic countries */
    {"ab", "ab", L_END | L_START}, {"ab publ", "ab", L_END}, {"oy", "oy", L_END},
    {"oyj", "oyj", L_END}, {"ky", "ky", L_END}, {"asa", "asa", L_END},
    {"aps", "aps", L_END}, {"a s", "as", L_END}, {"i s", "is", L_END},
    {"is", "is", L_END}, {"hf", "hf", L_END},
    {"ehf", "ehf", L_END}, {"hb", "hb", L_END}, {"kb", "kb", L_END},
    /* Gulf states */
    {"wll", "wll", L_END}, {"kscc", "kscc", L_END}, {"ksc", "ksc", L_END},
    {"kscp", "kscp", L_END}, {"ksca", "ksca", L_END}, {"spc", "spc", L_END},
    {"bsc", "bsc", L_END}, {"bscc", "bscc", L_END}, {"saoc", "saoc", L_END},
    {"saog", "saog", L_END}, {"fze", "fze", L_END}, {"fzco", "fzco", L_END},
    {"fz llc", "fz llc", L_END}, {"fzc", "fzc", L_END}, {"fzllc", "fz llc", L_END},
    {"pjsc", "pjsc", L_END}, {"psc", "psc", L_END}, {"qsc", "qsc", L_END},
    {"qpsc", "qpsc", L_END}, {"est", "est", L_END}, {"llc spc", "llc", L_END},
    /* Asia */
    {"kk", "\xE6\xA0\xAA\xE5\xBC\x8F\xE4\xBC\x9A\xE7\xA4\xBE", L_END},
    {"kabushiki kaisha", "\xE6\xA0\xAA\xE5\xBC\x8F\xE4\xBC\x9A\xE7\xA4\xBE", L_END},
    {"kabushikigaisha", "\xE6\xA0\xAA\xE5\xBC\x8F\xE4\xBC\x9A\xE7\xA4\xBE", L_END},
    {"\xE6\xA0\xAA\xE5\xBC\x8F\xE4\xBC\x9A\xE7\xA4\xBE",                   /* 株式会社 */
     "\xE6\xA0\xAA\xE5\xBC\x8F\xE4\xBC\x9A\xE7\xA4\xBE", L_END | L_START | L_GLUED},
    {"\xE6\xA0\xAA", "\xE6\xA0\xAA\xE5\xBC\x8F\xE4\xBC\x9A\xE7\xA4\xBE",   /* (株) */
     L_END | L_START},
    {"\xE6\x9C\x89\xE9\x99\x90\xE4\xBC\x9A\xE7\xA4\xBE",                   /* 有限会社 */
     "\xE6\x9C\x89\xE9\x99\x90\xE4\xBC\x9A\xE7\xA4\xBE", L_END | L_START | L_GLUED},
    {"\xE6\x9C\x89", "\xE6\x9C\x89\xE9\x99\x90\xE4\xBC\x9A\xE7\xA4\xBE",   /* (有) */
     L_END | L_START},
    {"yk", "\xE6\x9C\x89\xE9\x99\x90\xE4\xBC\x9A\xE7\xA4\xBE", L_END},
    {"yugen kaisha", "\xE6\x9C\x89\xE9\x99\x90\xE4\xBC\x9A\xE7\xA4\xBE", L_END},
    {"\xE5\x90\x88\xE5\x90\x8C\xE4\xBC\x9A\xE7\xA4\xBE",                   /* 合同会社 */
     "\xE5\x90\x88\xE5\x90\x8C\xE4\xBC\x9A\xE7\xA4\xBE", L_END | L_START | L_GLUED},
    {"gk", "\xE5\x90\x88\xE5\x90\x8C\xE4\xBC\x9A\xE7\xA4\xBE", L_END},
    {"godo kaisha", "\xE5\x90\x88\xE5\x90\x8C\xE4\xBC\x9A\xE7\xA4\xBE", L_END},
    {"\xE5\x90\x88\xE8\xB3\x87\xE4\xBC\x9A\xE7\xA4\xBE",                   /* 合資会社 */
     "\xE5\x90\x88\xE8\xB3\x87\xE4\xBC\x9A\xE7\xA4\xBE", L_END | L_START | L_GLUED},
    {"\xE5\x90\x88\xE5\x90\x8D\xE4\xBC\x9A\xE7\xA4\xBE",                   /* 合名会社 */
     "\xE5\x90\x88\xE5\x90\x8D\xE4\xBC\x9A\xE7\xA4\xBE", L_END | L_START | L_GLUED},
    {"\xE8\x82\xA1\xE4\xBB\xBD\xE6\x9C\x89\xE9\x99\x90\xE5\x85\xAC\xE5\x8F\xB8", /* 股份有限公司 */
     "\xE8\x82\xA1\xE4\xBB\xBD\xE6\x9C\x89\xE9\x99\x90\xE5\x85\xAC\xE5\x8F\xB8", L_END | L_GLUED},
    {"\xE6\x9C\x89\xE9\x99\x90\xE8\xB4\xA3\xE4\xBB\xBB\xE5\x85\xAC\xE5\x8F\xB8", /* 有限责任公司 */
     "\xE6\x9C\x89\xE9\x99\x90\xE5\x85\xAC\xE5\x8F\xB8", L_END | L_GLUED},
    {"\xE6\x9C\x89\xE9\x99\x90\xE8\xB2\xAC\xE4\xBB\xBB\xE5\x85\xAC\xE5\x8F\xB8", /* 有限責任公司 */
     "\xE6\x9C\x89\xE9\x99\x90\xE5\x85\xAC\xE5\x8F\xB8", L_END | L_GLUED},
    {"\xE6\x9C\x89\xE9\x99\x90\xE5\x85\xAC\xE5\x8F\xB8",                   /* 有限公司 */
     "\xE6\x9C\x89\xE9\x99\x90\xE5\x85\xAC\xE5\x8F\xB8", L_END | L_GLUED},
    {"\xE5\x85\xAC\xE5\x8F\xB8", "\xE5\x85\xAC\xE5\x8F\xB8", L_END | L_GLUED}, /* 公司 */
    {"\xEC\xA3\xBC\xEC\x8B\x9D\xED\x9A\x8C\xEC\x82\xAC",                   /* 주식회사 */
     "\xEC\xA3\xBC\xEC\x8B\x9D\xED\x9A\x8C\xEC\x82\xAC", L_END | L_START | L_GLUED},
    {"\xEC\xA3\xBC", "\xEC\xA3\xBC\xEC\x8B\x9D\xED\x9A\x8C\xEC\x82\xAC",   /* (주) */
     L_END | L_START},
    {"\xEC\x9C\xA0\xED\x95\x9C\xED\x9A\x8C\xEC\x82\xAC",                   /* 유한회사 */
     "\xEC\x9C\xA0\xED\x95\x9C\xED\x9A\x8C\xEC\x82\xAC", L_END | L_START | L_GLUED},
    {"pt", "pt", L_START}, {"tbk", "tbk", L_END}, {"pt tbk", "tbk", L_END},
    {"sdn bhd", "sdn bhd", L_END}, {"sendirian berhad", "sdn bhd", L_END},
    {"bhd", "bhd", L_END}, {"berhad", "bhd", L_END}, {"jsc", "jsc", L_END},
};
/* clang-format on */

#define N_LEGAL_FORMS (sizeof legal_forms / sizeof legal_forms[0])

struct word {
    const char *p;
    size_t n;
};

static bool word_is(struct word w, const char *s, size_t n)
{
    return w.n == n && memcmp(w.p, s, n) == 0;
}

/* Number of words of lf when they equal words [at, at + count) of w; 0 otherwise. */
static size_t form_matches(const struct legal_form *lf, const struct word *w, size_t at,
                           size_t avail)
{
    const char *s = lf->words;
    size_t k = 0;
    while (*s != '\0') {
        const char *e = strchr(s, ' ');
        size_t n = e != NULL ? (size_t)(e - s) : strlen(s);
        if (k >= avail || !word_is(w[at + k], s, n))
            return 0;
        k++;
        s += n;
        if (*s == ' ')
            s++;
    }
    return k;
}

static size_t form_words(const struct legal_form *lf)
{
    size_t k = 1;
    for (const char *s = lf->words; *s != '\0'; s++)
        k += *s == ' ';
    return k;
}

/* Longest legal form with flag matching the last (end) or first words of w[0..n), leaving at
 * least one word; returns its word count and sets *out. */
static size_t find_form(const struct word *w, size_t n, unsigned flag,
                        const struct legal_form **out)
{
    size_t best = 0;
    if (n < 2)
        return 0; /* the last word always stays */
    for (size_t i = 0; i < N_LEGAL_FORMS; i++) {
        const struct legal_form *lf = &legal_forms[i];
        if ((lf->flags & flag) == 0)
            continue;
        /* quick reject on the word that must sit at the name's edge */
        const struct word edge = flag == L_END ? w[n - 1] : w[0];
        const char *fw = lf->words;
        size_t fl;
        if (flag == L_END) {
            const char *sp = strrchr(fw, ' ');
            fw = sp != NULL ? sp + 1 : fw;
            fl = strlen(fw);
        } else {
            fl = strcspn(fw, " ");
        }
        if (!word_is(edge, fw, fl))
            continue;
        size_t k = form_words(lf);
        if (k >= n || k <= best)
            continue;
        size_t at = flag == L_END ? n - k : 0;
        if (form_matches(lf, w, at, k) == k) {
            best = k;
            *out = lf;
        }
    }
    return best;
}

/* Splits a CJK legal form glued to the first or last word into a word of its own. w has room
 * for two more words. */
static size_t split_glued(struct word *w, size_t n)
{
    bool end_done = false;
    bool start_done = false;
    for (size_t i = 0; i < N_LEGAL_FORMS && n > 0; i++) {
        const struct legal_form *lf = &legal_forms[i];
        if ((lf->flags & L_GLUED) == 0)
            continue;
        size_t fl = strlen(lf->words);
        struct word *last = &w[n - 1];
        if (!end_done && (lf->flags & L_END) != 0 && last->n > fl &&
            memcmp(last->p + last->n - fl, lf->words, fl) == 0) {
            w[n].p = last->p + last->n - fl;
            w[n].n = fl;
            last->n -= fl;
            n++;
            end_done = true;
            continue;
        }
        struct word *first = &w[0];
        if (!start_done && (lf->flags & L_START) != 0 && first->n > fl &&
            memcmp(first->p, lf->words, fl) == 0) {
            memmove(w + 1, w, n * sizeof *w);
            w[0].p = w[1].p;
            w[0].n = fl;
            w[1].p += fl;
            w[1].n -= fl;
            n++;
            start_done = true;
        }
    }
    return n;
}

static int word_cmp(const void *a, const void *b)
{
    const struct word *x = a;
    const struct word *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, n);
    if (c != 0)
        return c;
    return (x->n > y->n) - (x->n < y->n);
}

static char *join_words(const struct word *w, size_t n, const char *sep)
{
    size_t total = 1;
    size_t sl = strlen(sep);
    for (size_t i = 0; i < n; i++)
        total += w[i].n + sl;
    char *s = hs_malloc(total);
    if (s == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            memcpy(s + o, sep, sl);
            o += sl;
        }
        memcpy(s + o, w[i].p, w[i].n);
        o += w[i].n;
    }
    s[o] = '\0';
    return s;
}

void hs_normalize_name_release(struct hs_name_key *k)
{
    if (k == NULL)
        return;
    hs_free(k->folded);
    hs_free(k->key);
    hs_free(k->squashed);
    memset(k, 0, sizeof *k);
}

int hs_normalize_name(const char *s, size_t len, struct hs_name_key *out)
{
    memset(out, 0, sizeof *out);
    struct word *w = NULL;
    int rc = hs_normalize_fold(s, len, &out->folded);
    if (rc != HS_OK)
        goto fail;
    size_t cap = 3;
    for (const char *p = out->folded; *p != '\0'; p++)
        cap += *p == ' ';
    w = hs_malloc(cap * sizeof *w);
    if (w == NULL)
        goto fail;
    size_t n = 0;
    for (const char *p = out->folded; *p != '\0';) {
        const char *e = strchr(p, ' ');
        size_t wl = e != NULL ? (size_t)(e - p) : strlen(p);
        w[n].p = p;
        w[n].n = wl;
        n++;
        p += wl;
        if (*p == ' ')
            p++;
    }
    n = split_glued(w, n);
    size_t start = 0;
    for (int round = 0; round < 3; round++) {
        const struct legal_form *lf = NULL;
        size_t k = find_form(w + start, n - start, L_END, &lf);
        if (k == 0)
            break;
        if (out->legal_form == NULL)
            out->legal_form = lf->canonical;
        n -= k;
        while (n - start > 1 && word_is(w[n - 1], "and", 3))
            n--;
    }
    {
        const struct legal_form *lf = NULL;
        size_t k = find_form(w + start, n - start, L_START, &lf);
        if (k > 0) {
            if (out->legal_form == NULL)
                out->legal_form = lf->canonical;
            start += k;
        }
    }
    if (n - start > 1 && word_is(w[start], "the", 3))
        start++;
    out->squashed = join_words(w + start, n - start, "");
    if (out->squashed == NULL)
        goto fail;
    qsort(w + start, n - start, sizeof *w, word_cmp);
    out->key = join_words(w + start, n - start, " ");
    if (out->key == NULL)
        goto fail;
    out->n_words = n - start;
    hs_free(w);
    return HS_OK;
fail:
    hs_free(w);
    hs_normalize_name_release(out);
    return HS_ENOMEM;
}

/* ---- emails, domains, phones, tax ids, postcodes ---------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static char upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Trims (s, len) in place; caps it at HS_NORMALIZE_MAX_INPUT. */
static void trim(const char **s, size_t *len)
{
    if (*s == NULL)
        *len = 0;
    if (*len > HS_NORMALIZE_MAX_INPUT)
        *len = HS_NORMALIZE_MAX_INPUT;
    while (*len > 0 && is_space(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_space((*s)[*len - 1]))
        (*len)--;
}

static bool has_prefix_ci(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    if (len < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != prefix[i])
            return false;
    return true;
}

static int copy_lower(const char *s, size_t len, char **out)
{
    char *r = hs_malloc(len + 1);
    if (r == NULL)
        return HS_ENOMEM;
    for (size_t i = 0; i < len; i++)
        r[i] = lower(s[i]);
    r[len] = '\0';
    *out = r;
    return HS_OK;
}

int hs_normalize_email(const char *s, size_t len, char **out)
{
    *out = NULL;
    trim(&s, &len);
    if (has_prefix_ci(s, len, "mailto:")) {
        s += 7;
        len -= 7;
    }
    if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
        s++;
        len -= 2;
    }
    trim(&s, &len);
    const char *at = NULL;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '@')
            at = s + i;
    if (at == NULL || at == s || at == s + len - 1)
        return HS_OK;
    return copy_lower(s, len, out);
}

int hs_normalize_domain(const char *s, size_t len, char **out)
{
    *out = NULL;
    trim(&s, &len);
    const char *at = NULL;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '@')
            at = s + i;
    if (at != NULL) {
        len -= (size_t)(at + 1 - s);
        s = at + 1;
    } else {
        for (size_t i = 0; i + 2 < len; i++) {
            if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
                s += i + 3;
                len -= i + 3;
                break;
            }
        }
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '/' || s[i] == '?' || s[i] == '#' || s[i] == ':' || is_space(s[i])) {
            len = i;
            break;
        }
    }
    if (has_prefix_ci(s, len, "www.")) {
        s += 4;
        len -= 4;
    }
    while (len > 0 && s[len - 1] == '.')
        len--;
    if (len == 0 || memchr(s, '.', len) == NULL)
        return HS_OK;
    return copy_lower(s, len, out);
}

bool hs_normalize_is_free_mail(const char *domain)
{
    static const char *const free_mail[] = {
        "126.com",        "163.com",        "aim.com",     "aol.com",     "bigpond.com",
        "bluewin.ch",     "btinternet.com", "comcast.net", "free.fr",     "gmail.com",
        "gmx.at",         "gmx.ch",         "gmx.com",     "gmx.de",      "gmx.net",
        "googlemail.com", "hotmail.co.uk",  "hotmail.com", "hotmail.de",  "hotmail.fr",
        "hotmail.it",     "icloud.com",     "interia.pl",  "laposte.net", "libero.it",
        "live.com",       "mac.com",        "mail.com",    "mail.ru",     "me.com",
        "msn.com",        "naver.com",      "o2.pl",       "onet.pl",     "orange.fr",
        "outlook.com",    "outlook.de",     "pm.me",       "proton.me",   "protonmail.com",
        "qq.com",         "rediffmail.com", "seznam.cz",   "sfr.fr",      "sky.com",
        "t-online.de",    "tiscali.it",     "ukr.net",     "verizon.net", "wanadoo.fr",
        "web.de",         "wp.pl",          "yahoo.co.jp", "yahoo.co.uk", "yahoo.com",
        "yahoo.de",       "yahoo.fr",       "yandex.com",  "yandex.ru",   "ymail.com",
        "zoho.com",
    };
    if (domain == NULL)
        return false;
    for (size_t i = 0; i < sizeof free_mail / sizeof free_mail[0]; i++)
        if (strcmp(domain, free_mail[i]) == 0)
            return true;
    return false;
}

int hs_normalize_phone(const char *s, size_t len, char **out)
{
    *out = NULL;
    trim(&s, &len);
    char *r = hs_malloc(len + 2);
    if (r == NULL)
        return HS_ENOMEM;
    size_t o = 0;
    size_t digits = 0;
    bool intl = false;
    size_t i = 0;
    if (len > 0 && s[0] == '+') {
        intl = true;
        i = 1;
    } else if (len > 1 && s[0] == '0' && s[1] == '0') {
        intl = true;
        i = 2;
    }
    if (intl)
        r[o++] = '+';
    for (; i < len; i++) {
        char c = s[i];
        if (c == 'x' || c == 'X' || c == '#' || c == ';' || c == ',' ||
            has_prefix_ci(s + i, len - i, "ext"))
            break;
        if (intl && c == '(' && i + 2 < len && s[i + 1] == '0' && s[i + 2] == ')') {
            i += 2; /* "+49 (0)89": the trunk prefix is not dialled from abroad */
            continue;
        }
        if (c >= '0' && c <= '9') {
            r[o++] = c;
            digits++;
        }
    }
    r[o] = '\0';
    if (digits < 4) {
        hs_free(r);
        return HS_OK;
    }
    *out = r;
    return HS_OK;
}

int hs_normalize_tax_id(const char *s, size_t len, char **out)
{
    *out = NULL;
    trim(&s, &len);
    char *r = hs_malloc(len + 1);
    if (r == NULL)
        return HS_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < len; i++)
        if (is_alnum(s[i]))
            r[o++] = upper(s[i]);
    r[o] = '\0';
    if (o == 0) {
        hs_free(r);
        return HS_OK;
    }
    *out = r;
    return HS_OK;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

size_t hs_normalize_tax_id_split(const char *key, const char *country, char out_country[3],
                                 const char **out_body)
{
    static const char vat_prefixes[] = "AT BE BG CY CZ DE DK EE EL ES FI FR HR HU IE IT LT LU "
                                       "LV MT NL PL PT RO SE SI SK GB XI";
    out_country[0] = '\0';
    *out_body = key != NULL ? key : "";
    if (key == NULL)
        return 0;
    size_t len = strlen(key);
    if (country != NULL && strlen(country) == 2) {
        out_country[0] = country[0];
        out_country[1] = country[1];
        out_country[2] = '\0';
    }
    if (len > 3 && memcmp(key, "CHE", 3) == 0 && key[3] >= '0' && key[3] <= '9') {
        memcpy(out_country, "CH", 3);
        *out_body = key + 3;
        len -= 3;
    } else if (len > 2 && key[0] >= 'A' && key[0] <= 'Z' && key[1] >= 'A' && key[1] <= 'Z') {
        for (const char *p = vat_prefixes; *p != '\0'; p += 3) {
            if (p[0] == key[0] && p[1] == key[1]) {
                out_country[0] = key[0];
                out_country[1] = key[1];
                out_country[2] = '\0';
                if (strcmp(out_country, "EL") == 0)
                    memcpy(out_country, "GR", 3);
                else if (strcmp(out_country, "XI") == 0)
                    memcpy(out_country, "GB", 3);
                *out_body = key + 2;
                len -= 2;
                break;
            }
            if (p[2] == '\0')
                break;
        }
    }
    const char *b = *out_body;
    if (strcmp(out_country, "CA") == 0 && len == 15 && all_digits(b, 9) && all_digits(b + 11, 4))
        return 9; /* business number + program account ("RT0001") */
    if (strcmp(out_country, "CH") == 0 && len > 9 && all_digits(b, 9))
        return 9; /* "MWST", "TVA", "IVA" */
    return len;
}

int hs_normalize_postcode(const char *s, size_t len, char **out)
{
    return hs_normalize_tax_id(s, len, out);
}

int hs_normalize_address_key(const struct hs_address *a, char **out)
{
    *out = NULL;
    char *pc = NULL;
    char *city = NULL;
    int rc = HS_OK;
    if (a->postcode != NULL)
        rc = hs_normalize_postcode(a->postcode, strlen(a->postcode), &pc);
    if (rc == HS_OK && a->city != NULL)
        rc = hs_normalize_fold(a->city, strlen(a->city), &city);
    if (rc == HS_OK && (pc != NULL || (city != NULL && city[0] != '\0'))) {
        *out = hs_asprintf("%s|%s|%s", a->country, pc != NULL ? pc : "", city != NULL ? city : "");
        if (*out == NULL)
            rc = HS_ENOMEM;
    }
    hs_free(pc);
    hs_free(city);
    return rc;
}
