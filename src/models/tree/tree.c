/* tree.c - the fitted-tree layout: one tree as a learner builds it, the list of trees a model
 * owns, and the conversion to and from the flat arrays of the model files (with every index
 * checked, so a corrupt file is AT_ERR_MODEL and never a walk out of bounds). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/tree/tree.h"

void tree_init(tree *t, size_t width) {
    memset(t, 0, sizeof *t);
    t->width = width;
}

void tree_free(tree *t) {
    free(t->nodes);
    free(t->value);
    free(t->gain);
    tree_init(t, t->width);
}

at_status tree_reserve(tree *t, size_t n, at_error *err) {
    if (n <= t->cap) return AT_OK;
    size_t cap = t->cap ? t->cap * 2 : 256;
    while (cap < n) cap *= 2;
    if (cap > (size_t)INT32_MAX) return at_fail(err, AT_ERR_MEMORY, "a tree of %zu nodes is too large", n);
    tree_node *nd = realloc(t->nodes, cap * sizeof *nd);
    if (nd) t->nodes = nd;
    double *v = realloc(t->value, cap * t->width * sizeof *v);
    if (v) t->value = v;
    double *g = realloc(t->gain, cap * sizeof *g);
    if (g) t->gain = g;
    if (!nd || !v || !g) return at_fail(err, AT_ERR_MEMORY, "out of memory growing a tree (%zu nodes)", cap);
    t->cap = cap;
    return AT_OK;
}

void tree_set_leaf(tree *t, int32_t i) {
    t->nodes[i] = (tree_node){0.0, i, i, 0, 0};
    t->gain[i] = 0;
}

void tree_set_split(tree *t, int32_t i, int32_t feature, double thr, int dl, int32_t l, int32_t r,
                    double gain) {
    t->nodes[i] = (tree_node){thr, l, r, feature, dl != 0};
    t->gain[i] = gain;
}

/* ---- the list of a model's trees ---- */

void tree_list_init(tree_list *L, size_t width) {
    memset(L, 0, sizeof *L);
    L->width = width;
}

void tree_list_free(tree_list *L) {
    free(L->off);
    free(L->depth);
    free(L->nodes);
    free(L->value);
    free(L->gain);
    tree_list_init(L, L->width);
}

/* Room for `trees` more trees with `nodes` more nodes. */
static at_status list_reserve(tree_list *L, size_t trees, size_t nodes, at_error *err) {
    if (L->n_trees + trees + 1 > L->cap_trees) {
        size_t c = L->cap_trees ? L->cap_trees * 2 : 64;
        while (c < L->n_trees + trees + 1) c *= 2;
        int64_t *o = realloc(L->off, c * sizeof *o);
        if (o) L->off = o;
        int32_t *dp = realloc(L->depth, c * sizeof *dp);
        if (dp) L->depth = dp;
        if (!o || !dp) return at_fail(err, AT_ERR_MEMORY, "out of memory for %zu trees", c);
        if (L->n_trees == 0) L->off[0] = 0;
        L->cap_trees = c;
    }
    if (L->n_nodes + nodes > L->cap_nodes) {
        size_t c = L->cap_nodes ? L->cap_nodes * 2 : 1024;
        while (c < L->n_nodes + nodes) c *= 2;
        tree_node *nd = realloc(L->nodes, c * sizeof *nd);
        if (nd) L->nodes = nd;
        double *v = realloc(L->value, c * L->width * sizeof *v);
        if (v) L->value = v;
        double *g = realloc(L->gain, c * sizeof *g);
        if (g) L->gain = g;
        if (!nd || !v || !g) return at_fail(err, AT_ERR_MEMORY, "out of memory for %zu tree nodes", c);
        L->cap_nodes = c;
    }
    return AT_OK;
}

at_status tree_list_append(tree_list *L, const tree *t, at_error *err) {
    at_status s = list_reserve(L, 1, t->n_nodes, err);
    if (s) return s;
    size_t o = L->n_nodes, w = L->width;
    memcpy(L->nodes + o, t->nodes, t->n_nodes * sizeof *t->nodes);
    memcpy(L->value + o * w, t->value, t->n_nodes * w * sizeof *t->value);
    memcpy(L->gain + o, t->gain, t->n_nodes * sizeof *t->gain);
    L->depth[L->n_trees] = t->depth;
    L->n_nodes += t->n_nodes;
    L->off[++L->n_trees] = (int64_t)L->n_nodes;
    return AT_OK;
}

void tree_list_truncate(tree_list *L, size_t n_trees) {
    if (n_trees >= L->n_trees) return;
    L->n_trees = n_trees;
    L->n_nodes = (size_t)L->off[n_trees];
}

at_status tree_list_from_flat(tree_list *L, size_t d, size_t n_trees, const int64_t *off,
                              const int32_t *feature, const double *thr, const int32_t *left,
                              const int32_t *right, const uint8_t *dl, const double *value,
                              const double *gain, at_error *err) {
    tree_list_free(L);
    if (n_trees == 0 || off[0] != 0)
        return at_fail(err, AT_ERR_MODEL, "tree offsets are empty or do not start at 0");
    for (size_t t = 0; t < n_trees; t++)
        if (off[t + 1] <= off[t] || off[t + 1] - off[t] > INT32_MAX)
            return at_fail(err, AT_ERR_MODEL, "tree offsets are not increasing");
    size_t nn = (size_t)off[n_trees], w = L->width;
    at_status s = list_reserve(L, n_trees, nn, err);
    if (s) return s;
    memcpy(L->off, off, (n_trees + 1) * sizeof *off);
    memcpy(L->value, value, nn * w * sizeof *value);
    for (size_t t = 0; t < n_trees; t++) {
        int64_t o = off[t];
        int32_t cnt = (int32_t)(off[t + 1] - o), maxd = 0;
        tree_node *nd = L->nodes + o;
        /* Children come after their parent, which rules out cycles, so node depths follow in
         * one forward pass; nd[].dl holds them meanwhile. */
        for (int32_t i = 0; i < cnt; i++) nd[i].dl = 0;
        for (int32_t i = 0; i < cnt; i++) {
            size_t a = (size_t)(o + i);
            int32_t f = feature[a], l = left[a], r = right[a], di = nd[i].dl;
            if (f == -1) {
                if (l != -1 || r != -1)
                    return at_fail(err, AT_ERR_MODEL, "tree %zu node %d: a leaf has children", t, i);
                if (di > maxd) maxd = di;
                continue;
            }
            if (f < 0 || (size_t)f >= d)
                return at_fail(err, AT_ERR_MODEL, "tree %zu node %d: feature %d out of range", t, i, f);
            if (l <= i || l >= cnt || r <= i || r >= cnt || l == r)
                return at_fail(err, AT_ERR_MODEL, "tree %zu node %d: child index out of range", t, i);
            if (isnan(thr[a]))
                return at_fail(err, AT_ERR_MODEL, "tree %zu node %d: threshold is NaN", t, i);
            if (nd[l].dl < di + 1) nd[l].dl = di + 1;
            if (nd[r].dl < di + 1) nd[r].dl = di + 1;
        }
        L->depth[t] = maxd;
        for (int32_t i = 0; i < cnt; i++) {
            size_t a = (size_t)(o + i);
            if (feature[a] == -1) nd[i] = (tree_node){0.0, i, i, 0, 0};
            else nd[i] = (tree_node){thr[a], left[a], right[a], feature[a], dl ? dl[a] != 0 : 0};
            L->gain[a] = gain && feature[a] != -1 ? gain[a] : 0.0;
        }
    }
    L->n_trees = n_trees;
    L->n_nodes = nn;
    return AT_OK;
}

void tree_list_to_flat(const tree_list *L, int32_t *feature, double *thr, int32_t *left,
                       int32_t *right, uint8_t *dl) {
    for (size_t t = 0; t < L->n_trees; t++) {
        int64_t o = L->off[t];
        int32_t cnt = (int32_t)(L->off[t + 1] - o);
        for (int32_t i = 0; i < cnt; i++) {
            const tree_node *nd = &L->nodes[o + i];
            size_t a = (size_t)(o + i);
            int leaf = tree_node_is_leaf(nd, i);
            feature[a] = leaf ? -1 : nd->feature;
            thr[a] = leaf ? 0.0 : nd->thr;
            left[a] = leaf ? -1 : nd->left;
            right[a] = leaf ? -1 : nd->right;
            if (dl) dl[a] = leaf ? 0 : (uint8_t)nd->dl;
        }
    }
}
