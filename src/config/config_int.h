/*
 * config/config_int.h - the YAML node tree shared by config/tree.c and config/config.c.
 *
 * Design:     libyaml's events are turned into this minimal tree (scalars, mappings, lists,
 *             each with its 1-based position) so that the schema walk in config.c can look at
 *             a whole mapping (duplicates, required keys, the flow's name for messages) before
 *             judging its keys. Mappings keep keys and values interleaved in `items`.
 * Invariants: depth <= HS_CONFIG_MAX_DEPTH, node count <= HS_CONFIG_MAX_NODES, no aliases, mapping
 *             keys are scalars, scalar values contain no NUL byte and are NUL-terminated.
 * Ownership:  hs_config_tree_build returns a root freed with hs_config_tree_free.
 */
#ifndef HS_CONFIG_CONFIG_INT_H
#define HS_CONFIG_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hoopsync/common.h"
#include "hoopsync/error.h"

enum hs_config_node_kind {
    HS_CONFIG_NODE_SCALAR = 0,
    HS_CONFIG_NODE_MAP,
    HS_CONFIG_NODE_SEQ,
};

struct hs_config_node {
    enum hs_config_node_kind kind;
    uint32_t line; /* 1-based */
    uint32_t col;  /* 1-based */
    /* scalar */
    char *value;
    size_t len;
    bool plain; /* unquoted scalar: may be null (~, null, empty), a bool or a number */
    /* map (key, value, key, value, ...) or seq */
    struct hs_config_node **items;
    size_t n_items;
    size_t cap_items;
};

/*
 * Builds the tree of the single YAML document in (buf, len). `name` prefixes messages. An
 * empty document gives *out == NULL and HS_OK. Errors: HS_EINVAL (YAML syntax, alias, second
 * document, non-scalar key, NUL in a scalar), HS_ETOOBIG (depth, node count), HS_ENOMEM.
 */
HS_MUST_CHECK int hs_config_tree_build(const uint8_t *buf, size_t len, const char *name,
                                       struct hs_config_node **out, struct hs_error *err);

/* Frees n and its children; NULL does nothing. */
void hs_config_tree_free(struct hs_config_node *n);

#endif
