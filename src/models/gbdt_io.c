/* gbdt_io.c - a boosted model in the model file, under "model/": the initial scores, the
 * trees as flat node arrays with per-tree offsets (the tree core's file form), the bin edges
 * and the learning curves. Loading checks every size and index, so a corrupt file is
 * AT_ERR_MODEL, never a crash. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/gbdt_internal.h"

#define HIST_COLS 5

at_status gbdt_save(const void *impl, at_store *st, at_error *err) {
    const gbdt_model *m = impl;
    if (!m->fitted) return at_fail(err, AT_ERR_INTERNAL, "gradient boosting: save before fit");
    const tree_list *L = &m->trees;
    size_t nn = L->n_nodes;
    int32_t *fe = at_malloc(nn, sizeof *fe, err), *le = at_malloc(nn, sizeof *le, err);
    int32_t *ri = at_malloc(nn, sizeof *ri, err);
    double *th = at_malloc(nn, sizeof *th, err);
    uint8_t *dl = at_malloc(nn, 1, err);
    at_status s = AT_OK;
    if (!fe || !le || !ri || !th || !dl) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    tree_list_to_flat(L, fe, th, le, ri, dl);
    if ((s = at_store_put_int(st, "model/trees_per_round", (int64_t)m->kt, err)) ||
        (s = at_store_put_int(st, "model/best_round", m->best_round, err)) ||
        (s = at_store_put_int(st, "model/rounds_run", m->rounds_run, err)) ||
        (s = at_store_put_f64(st, "model/base_score", m->base, m->kt, err)) ||
        (s = at_store_put_i64(st, "model/tree_offsets", L->off, L->n_trees + 1, err)) ||
        (s = at_store_put_i32(st, "model/nodes/feature", fe, nn, err)) ||
        (s = at_store_put_f64(st, "model/nodes/threshold", th, nn, err)) ||
        (s = at_store_put_i32(st, "model/nodes/left", le, nn, err)) ||
        (s = at_store_put_i32(st, "model/nodes/right", ri, nn, err)) ||
        (s = at_store_put_u8(st, "model/nodes/default_left", dl, nn, err)) ||
        (s = at_store_put_f64(st, "model/nodes/value", L->value, nn, err)) ||
        (s = at_store_put_f64(st, "model/nodes/gain", L->gain, nn, err)) ||
        (s = at_store_put_i32(st, "model/bins/n_bins", m->bins.n_bins, m->d, err)) ||
        (s = at_store_put_f64(st, "model/bins/edges", m->bins.edge, (size_t)m->bins.offset[m->d],
                              err)))
        goto done;
    if (m->hist_rows > 0 &&
        (s = at_store_put_f64_2d(st, "model/history", m->hist_values, m->hist_rows, HIST_COLS, err)))
        goto done;
done:
    free(fe);
    free(le);
    free(ri);
    free(th);
    free(dl);
    return s;
}

static at_status bad(at_store *st, at_error *err, const char *what) {
    return at_fail(err, AT_ERR_MODEL, "%s: gradient boosting model: %s", at_store_path(st), what);
}

/* Reads a node array of exactly n entries into the model's (already sized) buffer. */
#define READ_EXACT(getter, name, dst, n, T)                                      \
    do {                                                                         \
        T *v_ = NULL;                                                            \
        size_t c_ = 0;                                                           \
        if ((s = getter(st, name, &v_, &c_, err))) goto fail;                    \
        if (c_ != (n)) {                                                         \
            free(v_);                                                            \
            s = bad(st, err, name " has the wrong length");                      \
            goto fail;                                                           \
        }                                                                        \
        memcpy(dst, v_, (n) * sizeof(T));                                        \
        free(v_);                                                                \
    } while (0)

at_status gbdt_load(void *impl, at_store *st, at_error *err) {
    gbdt_model *m = impl;
    gbdt_model_clear(m);
    at_status s;
    int64_t kt = 0, best = 0, run = 0;
    int64_t *off = NULL;
    int32_t *fe = NULL, *le = NULL, *ri = NULL;
    double *th = NULL, *val = NULL, *gain = NULL;
    uint8_t *dl = NULL;
    size_t n_off = 0;
    if ((s = at_store_get_int(st, "model/trees_per_round", &kt, err)) ||
        (s = at_store_get_int(st, "model/best_round", &best, err)) ||
        (s = at_store_get_int(st, "model/rounds_run", &run, err)))
        goto fail;
    if (kt != (int64_t)m->kt) {
        s = bad(st, err, "trees per round do not match the number of classes");
        goto fail;
    }
    if ((s = at_store_get_i64(st, "model/tree_offsets", &off, &n_off, err))) goto fail;
    if (n_off < 2 || off[0] != 0) {
        s = bad(st, err, "tree_offsets is empty or does not start at 0");
        goto fail;
    }
    size_t n_trees = n_off - 1;
    for (size_t t = 0; t < n_trees; t++)
        if (off[t + 1] <= off[t] || off[t + 1] > INT32_MAX) {
            s = bad(st, err, "tree_offsets is not increasing");
            goto fail;
        }
    if (n_trees % m->kt != 0 || best < 0 || (size_t)(best + 1) * m->kt != n_trees || run < best + 1) {
        s = bad(st, err, "tree count, best round and rounds run disagree");
        goto fail;
    }
    size_t nn = (size_t)off[n_trees];
    /* The arrays are sized from the offsets only after the file confirms them, below. */
    size_t have = 0, rank = 0, dims[2];
    if ((s = at_store_shape(st, "model/nodes/feature", &rank, dims, err))) goto fail;
    have = dims[0];
    if (rank != 1 || have != nn) {
        s = bad(st, err, "node arrays do not match tree_offsets");
        goto fail;
    }
    fe = at_malloc(nn, sizeof *fe, err);
    le = at_malloc(nn, sizeof *le, err);
    ri = at_malloc(nn, sizeof *ri, err);
    th = at_malloc(nn, sizeof *th, err);
    val = at_malloc(nn, sizeof *val, err);
    gain = at_malloc(nn, sizeof *gain, err);
    dl = at_malloc(nn, 1, err);
    m->base = at_malloc(m->kt, sizeof *m->base, err);
    if (!fe || !le || !ri || !th || !val || !gain || !dl || !m->base) {
        s = AT_ERR_MEMORY;
        goto fail;
    }
    if ((s = at_store_read_f64(st, "model/base_score", m->base, m->kt, err))) goto fail;
    for (size_t c = 0; c < m->kt; c++)
        if (!isfinite(m->base[c])) {
            s = bad(st, err, "base_score is not finite");
            goto fail;
        }
    if ((s = at_store_read_i32(st, "model/nodes/feature", fe, nn, err)) ||
        (s = at_store_read_f64(st, "model/nodes/threshold", th, nn, err)) ||
        (s = at_store_read_i32(st, "model/nodes/left", le, nn, err)) ||
        (s = at_store_read_i32(st, "model/nodes/right", ri, nn, err)) ||
        (s = at_store_read_f64(st, "model/nodes/value", val, nn, err)) ||
        (s = at_store_read_f64(st, "model/nodes/gain", gain, nn, err)))
        goto fail;
    READ_EXACT(at_store_get_u8, "model/nodes/default_left", dl, nn, uint8_t);
    if ((s = tree_list_from_flat(&m->trees, m->d, n_trees, off, fe, th, le, ri, dl, val, gain, err))) {
        at_error_prefix(err, "%s: gradient boosting model: ", at_store_path(st));
        goto fail;
    }
    for (size_t a = 0; a < nn; a++)
        if (fe[a] == -1 && !isfinite(val[a])) {
            s = bad(st, err, "a leaf value is not finite");
            goto fail;
        }

    /* Bin edges: not needed to predict, but part of the model and checked like the rest. */
    m->bins.d = m->d;
    m->bins.n_bins = at_malloc(m->d, sizeof *m->bins.n_bins, err);
    m->bins.offset = at_malloc(m->d + 1, sizeof *m->bins.offset, err);
    if (!m->bins.n_bins || !m->bins.offset) {
        s = AT_ERR_MEMORY;
        goto fail;
    }
    if ((s = at_store_read_i32(st, "model/bins/n_bins", m->bins.n_bins, m->d, err))) goto fail;
    m->bins.offset[0] = 0;
    for (size_t f = 0; f < m->d; f++) {
        if (m->bins.n_bins[f] < 0 || m->bins.n_bins[f] > GBDT_MAX_BIN) {
            s = bad(st, err, "a feature has an invalid bin count");
            goto fail;
        }
        m->bins.offset[f + 1] = m->bins.offset[f] + m->bins.n_bins[f];
    }
    size_t ne = 0;
    if ((s = at_store_get_f64(st, "model/bins/edges", &m->bins.edge, &ne, err))) goto fail;
    if (ne != (size_t)m->bins.offset[m->d]) {
        s = bad(st, err, "bin edges do not match the bin counts");
        goto fail;
    }
    for (size_t e = 0; e < ne; e++)
        if (isnan(m->bins.edge[e])) {
            s = bad(st, err, "a bin edge is NaN");
            goto fail;
        }

    if (at_store_has(st, "model/history")) {
        if ((s = at_store_shape(st, "model/history", &rank, dims, err))) goto fail;
        if (rank != 2 || dims[1] != HIST_COLS || dims[0] > (size_t)run) {
            s = bad(st, err, "history has the wrong shape");
            goto fail;
        }
        size_t nh = 0;
        if ((s = at_store_get_f64(st, "model/history", &m->hist_values, &nh, err))) goto fail;
        if (nh != dims[0] * HIST_COLS) {
            s = bad(st, err, "history has the wrong size");
            goto fail;
        }
        m->hist_rows = dims[0];
    }
    m->best_round = best;
    m->rounds_run = run;
    if ((s = tree_fast_build(&m->trees, m->d, m->kt, &m->fast, err))) goto fail;
    m->fitted = 1;
    gbdt_history_view(m);
    goto done;
fail:
    gbdt_model_clear(m);
done:
    free(off);
    free(fe);
    free(le);
    free(ri);
    free(th);
    free(val);
    free(gain);
    free(dl);
    return s;
}
