/* forest_dist.c - the random forest across MPI ranks, by trees: every rank gathers the whole
 * training part (in global row order, so its bins and bootstrap draws are the single
 * process's), grows a contiguous block of the trees with each tree's own random stream, and
 * the blocks are then exchanged so that every rank holds every tree (nodes, values, gains,
 * importances and the in-bag map of the out-of-bag estimate). The forest is therefore the
 * single process's, bit for bit, for any number of ranks. The cost: every rank holds the
 * training part (n x d doubles) and one allgather of the trees (about 24 + 8(k + 1) bytes a
 * node plus n/8 bytes a tree). */
#include <stdlib.h>
#include <string.h>

#include "astrotrain/comm.h"
#include "models/forest_impl.h"

at_status forest_dist_gather_train(at_comm *comm, const at_dataset *local, at_dataset **all, at_error *err) {
    *all = NULL;
    size_t d = local->d;
    void *X = NULL, *y = NULL, *row = NULL;
    int64_t n = (int64_t)local->n;
    at_status s = at_comm_sum_i64(comm, &n, 1, err);
    if (!s) s = at_comm_allgatherv(comm, local->X, local->n * d * sizeof(double), &X, NULL, err);
    if (!s) s = at_comm_allgatherv(comm, local->y, local->n * sizeof(int32_t), &y, NULL, err);
    if (!s) s = at_comm_allgatherv(comm, local->row, local->n * sizeof(int64_t), &row, NULL, err);
    if (!s)
        s = at_dataset_new((size_t)n, d, 1, (const char *const *)local->feature_names,
                           (const char *const *)local->class_names, local->n_classes, all, err);
    if (!s) {
        memcpy((*all)->X, X, (size_t)n * d * sizeof(double));
        memcpy((*all)->y, y, (size_t)n * sizeof(int32_t));
        memcpy((*all)->row, row, (size_t)n * sizeof(int64_t));
    }
    free(X), free(y), free(row);
    return s;
}

void forest_dist_block(const at_comm *comm, size_t nt, size_t *t0, size_t *t1) {
    size_t P = (size_t)at_comm_size(comm), r = (size_t)at_comm_rank(comm);
    *t0 = nt * r / P;
    *t1 = nt * (r + 1) / P;
}

/* Bytes of one tree in the exchange: n_nodes and depth, nodes, values, gains, importances, bag. */
static size_t tree_bytes(size_t nodes, size_t n, size_t d, size_t k) {
    size_t bag = ((n + 7) / 8 + 7) / 8 * 8;
    return 16 + nodes * (sizeof(tree_node) + (k + 1) * sizeof(double)) + d * sizeof(double) + bag;
}

at_status forest_dist_exchange(at_comm *comm, forest_grown *trees, size_t nt, size_t n, size_t d, size_t k,
                               at_error *err) {
    size_t t0, t1, bag = (n + 7) / 8, total = 0;
    forest_dist_block(comm, nt, &t0, &t1);
    for (size_t t = t0; t < t1; t++) total += tree_bytes(trees[t].t.n_nodes, n, d, k);
    char *buf = at_malloc(total + 1, 1, err), *p = buf;
    if (!buf) return AT_ERR_MEMORY;
    for (size_t t = t0; t < t1; t++) {
        const tree *tr = &trees[t].t;
        int64_t hd[2] = {(int64_t)tr->n_nodes, tr->depth};
        memcpy(p, hd, 16), p += 16;
        memcpy(p, tr->nodes, tr->n_nodes * sizeof(tree_node)), p += tr->n_nodes * sizeof(tree_node);
        memcpy(p, tr->value, tr->n_nodes * k * sizeof(double)), p += tr->n_nodes * k * sizeof(double);
        memcpy(p, tr->gain, tr->n_nodes * sizeof(double)), p += tr->n_nodes * sizeof(double);
        memcpy(p, trees[t].imp, d * sizeof(double)), p += d * sizeof(double);
        size_t padded = (bag + 7) / 8 * 8;
        memset(p, 0, padded);
        memcpy(p, trees[t].inbag, bag), p += padded;
    }
    void *all = NULL;
    at_status s = at_comm_allgatherv(comm, buf, total, &all, NULL, err);
    free(buf);
    if (s) return s;
    /* Blocks arrive in rank order, so trees in tree order: skip ours, adopt the others. */
    const char *q = all;
    for (size_t t = 0; t < nt && !s; t++) {
        int64_t hd[2];
        memcpy(hd, q, 16);
        size_t nodes = (size_t)hd[0];
        if (t >= t0 && t < t1) {
            q += tree_bytes(nodes, n, d, k);
            continue;
        }
        forest_grown *g = &trees[t];
        tree_init(&g->t, k);
        g->imp = malloc(d * sizeof(double) + 1);
        g->inbag = malloc(bag + 1);
        if (!g->imp || !g->inbag || (s = tree_reserve(&g->t, nodes, err))) {
            s = at_fail(err, AT_ERR_MEMORY, "random forest: out of memory for the trees of other ranks");
            break;
        }
        q += 16;
        memcpy(g->t.nodes, q, nodes * sizeof(tree_node)), q += nodes * sizeof(tree_node);
        memcpy(g->t.value, q, nodes * k * sizeof(double)), q += nodes * k * sizeof(double);
        memcpy(g->t.gain, q, nodes * sizeof(double)), q += nodes * sizeof(double);
        memcpy(g->imp, q, d * sizeof(double)), q += d * sizeof(double);
        memcpy(g->inbag, q, bag), q += (bag + 7) / 8 * 8;
        g->t.n_nodes = nodes;
        g->t.depth = (int32_t)hd[1];
    }
    free(all);
    return s;
}
