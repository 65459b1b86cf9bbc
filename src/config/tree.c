/*
 * config/tree.c - libyaml events -> the small node tree of config_int.h.
 *
 * Design:     the event API (not yaml_parser_load) is used so that we see aliases and can
 *             refuse them (an alias bomb expands exponentially when a tree is walked), and so
 *             that depth and node count are capped while parsing, before anything large is
 *             built. An explicit stack of open containers replaces recursion. Every node is
 *             attached to its parent before it is pushed, so freeing the root frees all of a
 *             partly built tree on any error. libyaml's own syntax messages are kept
 *             ("invalid YAML: <problem> (<context> at line L)") with libyaml's mark.
 * Invariants: see config_int.h.
 * Ownership:  the tree is hs_malloc'd; libyaml's internal memory uses libyaml's allocator and
 *             is released by yaml_parser_delete/yaml_event_delete on every path.
 * Not here:   what the keys mean (config/config.c).
 */
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "config/config.h"
#include "config/config_int.h"
#include "util/alloc.h"

struct builder {
    const uint8_t *buf;
    size_t len;
    const char *name;
    struct hs_error *err;
    struct hs_config_node *root;
    struct hs_config_node *stack[HS_CONFIG_MAX_DEPTH];
    size_t depth;
    size_t n_nodes;
    size_t n_docs;
};

static uint32_t clamp_u32(size_t v)
{
    return v > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)v;
}

static int fail_at(struct builder *b, yaml_mark_t mark, int code, const char *msg)
{
    hs_error_set(b->err, code, "%s:%u:%u: %s", b->name, clamp_u32(mark.line) + 1,
                 clamp_u32(mark.column) + 1, msg);
    return code; /* not hs_error_set's result, so analyzers see a failure code */
}

static int nomem(struct builder *b)
{
    hs_error_set(b->err, HS_ENOMEM, "cannot load config '%s': out of memory", b->name);
    return HS_ENOMEM;
}

/* Line and column (1-based) of byte offset off, for reader errors that carry only an offset. */
static void offset_to_mark(const uint8_t *buf, size_t len, size_t off, yaml_mark_t *out)
{
    size_t line = 0;
    size_t col = 0;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            line++;
            col = 0;
        } else {
            col++;
        }
    }
    out->index = off;
    out->line = line;
    out->column = col;
}

static int syntax_error(struct builder *b, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return nomem(b);
    char msg[HS_ERRMSG_MAX];
    const char *problem = p->problem != NULL ? p->problem : "malformed document";
    if (p->error == YAML_READER_ERROR) {
        yaml_mark_t mark;
        offset_to_mark(b->buf, b->len, p->problem_offset, &mark);
        if (p->problem_value != -1)
            snprintf(msg, sizeof msg, "invalid YAML: %s (byte 0x%02x)", problem,
                     (unsigned)p->problem_value & 0xffu);
        else
            snprintf(msg, sizeof msg, "invalid YAML: %s", problem);
        return fail_at(b, mark, HS_EINVAL, msg);
    }
    if (p->context != NULL)
        snprintf(msg, sizeof msg, "invalid YAML: %s (%s at line %u)", problem, p->context,
                 clamp_u32(p->context_mark.line) + 1);
    else
        snprintf(msg, sizeof msg, "invalid YAML: %s", problem);
    return fail_at(b, p->problem_mark, HS_EINVAL, msg);
}

/* Creates a node at mark and attaches it to the open container (or makes it the root). */
static int add_node(struct builder *b, enum hs_config_node_kind kind, yaml_mark_t mark,
                    struct hs_config_node **out)
{
    *out = NULL;
    if (b->n_nodes >= HS_CONFIG_MAX_NODES) {
        char msg[96];
        snprintf(msg, sizeof msg, "document has too many nodes (limit %d)", HS_CONFIG_MAX_NODES);
        return fail_at(b, mark, HS_ETOOBIG, msg);
    }
    struct hs_config_node *parent = b->depth > 0 ? b->stack[b->depth - 1] : NULL;
    if (parent != NULL && parent->kind == HS_CONFIG_NODE_MAP && parent->n_items % 2 == 0 &&
        kind != HS_CONFIG_NODE_SCALAR)
        return fail_at(b, mark, HS_EINVAL, "mapping keys must be plain strings");
    struct hs_config_node *n = hs_calloc(1, sizeof *n);
    if (n == NULL)
        return nomem(b);
    n->kind = kind;
    n->line = clamp_u32(mark.line) + 1;
    n->col = clamp_u32(mark.column) + 1;
    if (parent == NULL) {
        b->root = n;
    } else {
        if (parent->n_items == parent->cap_items) {
            size_t cap = parent->cap_items == 0 ? 8 : parent->cap_items * 2;
            struct hs_config_node **items =
                hs_reallocarray(parent->items, cap, sizeof(struct hs_config_node *));
            if (items == NULL) {
                hs_free(n);
                return nomem(b);
            }
            parent->items = items;
            parent->cap_items = cap;
        }
        parent->items[parent->n_items++] = n;
    }
    b->n_nodes++;
    *out = n;
    return HS_OK;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t vlen = ev->data.scalar.length;
    if (memchr(v, '\0', vlen) != NULL)
        return fail_at(b, ev->start_mark, HS_EINVAL, "value contains a NUL character");
    struct hs_config_node *n;
    int rc = add_node(b, HS_CONFIG_NODE_SCALAR, ev->start_mark, &n);
    if (rc != HS_OK)
        return rc;
    n->value = hs_strndup(v, vlen);
    if (n->value == NULL)
        return nomem(b);
    n->len = vlen;
    n->plain = ev->data.scalar.plain_implicit != 0;
    return HS_OK;
}

static int on_start(struct builder *b, enum hs_config_node_kind kind, yaml_mark_t mark)
{
    if (b->depth >= HS_CONFIG_MAX_DEPTH) {
        char msg[96];
        snprintf(msg, sizeof msg, "nesting is deeper than %d levels", HS_CONFIG_MAX_DEPTH);
        return fail_at(b, mark, HS_ETOOBIG, msg);
    }
    struct hs_config_node *n;
    int rc = add_node(b, kind, mark, &n);
    if (rc != HS_OK)
        return rc;
    b->stack[b->depth++] = n;
    return HS_OK;
}

static int on_event(struct builder *b, const yaml_event_t *ev, bool *done)
{
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        *done = true;
        return HS_OK;
    case YAML_DOCUMENT_START_EVENT:
        if (b->n_docs++ > 0)
            return fail_at(b, ev->start_mark, HS_EINVAL,
                           "more than one YAML document (expected exactly one)");
        return HS_OK;
    case YAML_ALIAS_EVENT:
        return fail_at(b, ev->start_mark, HS_EINVAL,
                       "aliases ('*name') are not supported in the configuration");
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(b, HS_CONFIG_NODE_SEQ, ev->start_mark);
    case YAML_MAPPING_START_EVENT:
        return on_start(b, HS_CONFIG_NODE_MAP, ev->start_mark);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth > 0)
            b->depth--;
        return HS_OK;
    case YAML_NO_EVENT:
    case YAML_STREAM_START_EVENT:
    case YAML_DOCUMENT_END_EVENT:
    default:
        return HS_OK;
    }
}

int hs_config_tree_build(const uint8_t *buf, size_t len, const char *name,
                         struct hs_config_node **out, struct hs_error *err)
{
    *out = NULL;
    struct builder b;
    memset(&b, 0, sizeof b);
    b.buf = buf;
    b.len = len;
    b.name = name;
    b.err = err;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return nomem(&b);
    yaml_parser_set_input_string(&p, len > 0 ? buf : (const uint8_t *)"", len);
    int rc = HS_OK;
    bool done = false;
    while (!done && rc == HS_OK) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = syntax_error(&b, &p);
            break;
        }
        rc = on_event(&b, &ev, &done);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (rc != HS_OK) {
        hs_config_tree_free(b.root);
        return rc;
    }
    *out = b.root;
    return HS_OK;
}

void hs_config_tree_free(struct hs_config_node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n_items; i++)
        hs_config_tree_free(n->items[i]);
    hs_free(n->items);
    hs_free(n->value);
    hs_free(n);
}
