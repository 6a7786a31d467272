/* gbdt.c - the gradient_boosting family: parameters, the boosting loop (gradients, K trees per
 * round from the learner, appended to the model's tree list; validation tracking, early
 * stopping), prediction through the core walker, importances, history, describe. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/comm.h"
#include "astrotrain/rng.h"
#include "models/gbdt_internal.h"

#define HIST_COLS 5
static const char *const hist_names[HIST_COLS] = {"round", "train_logloss", "train_accuracy",
                                                  "valid_logloss", "valid_accuracy"};

at_status at_gbdt_params_check(const at_gbdt_params *p, at_error *err) {
    if (p->n_rounds < 1 || p->n_rounds > 1000000)
        return at_fail(err, AT_ERR_CONFIG, "n_rounds must be between 1 and 1000000, not %lld",
                       (long long)p->n_rounds);
    if (!(p->learning_rate > 0 && p->learning_rate <= 1))
        return at_fail(err, AT_ERR_CONFIG, "learning_rate must be in (0, 1], not %g", p->learning_rate);
    if (p->max_depth < 0 || p->max_depth > 64)
        return at_fail(err, AT_ERR_CONFIG, "max_depth must be between 0 and 64, not %lld",
                       (long long)p->max_depth);
    if (p->max_leaves < 0 || p->max_leaves == 1 || p->max_leaves > (1 << 24))
        return at_fail(err, AT_ERR_CONFIG, "max_leaves must be 0 (no limit) or between 2 and %d, not %lld",
                       1 << 24, (long long)p->max_leaves);
    if (p->max_depth == 0 && p->max_leaves == 0)
        return at_fail(err, AT_ERR_CONFIG,
                       "max_depth = 0 (no limit) needs a max_leaves limit, or trees grow to single rows");
    if (p->grow_policy != AT_GROW_DEPTHWISE && p->grow_policy != AT_GROW_LOSSGUIDE)
        return at_fail(err, AT_ERR_CONFIG, "grow_policy must be depthwise or lossguide");
    if (!(p->lambda >= 0 && p->lambda <= 1e6))
        return at_fail(err, AT_ERR_CONFIG, "lambda must be in [0, 1e6], not %g", p->lambda);
    if (!(p->gamma >= 0 && p->gamma <= 1e12))
        return at_fail(err, AT_ERR_CONFIG, "gamma must be in [0, 1e12], not %g", p->gamma);
    if (!(p->min_child_weight >= 0 && p->min_child_weight <= 1e12))
        return at_fail(err, AT_ERR_CONFIG, "min_child_weight must be in [0, 1e12], not %g",
                       p->min_child_weight);
    if (p->lambda == 0 && p->min_child_weight == 0)
        return at_fail(err, AT_ERR_CONFIG,
                       "lambda = 0 needs min_child_weight > 0 (leaf values divide by the hessian)");
    if (p->max_bin < 2 || p->max_bin > GBDT_MAX_BIN)
        return at_fail(err, AT_ERR_CONFIG, "max_bin must be between 2 and %d, not %lld", GBDT_MAX_BIN,
                       (long long)p->max_bin);
    if (!(p->subsample > 0 && p->subsample <= 1))
        return at_fail(err, AT_ERR_CONFIG, "subsample must be in (0, 1], not %g", p->subsample);
    if (!(p->colsample > 0 && p->colsample <= 1))
        return at_fail(err, AT_ERR_CONFIG, "colsample must be in (0, 1], not %g", p->colsample);
    if (p->early_stopping_rounds < 0 || p->early_stopping_rounds > 1000000)
        return at_fail(err, AT_ERR_CONFIG, "early_stopping_rounds must be between 0 and 1000000, not %lld",
                       (long long)p->early_stopping_rounds);
    return AT_OK;
}

/* ---- model storage ---- */

void gbdt_model_clear(gbdt_model *m) {
    free(m->base);
    free(m->hist_values);
    tree_list_free(&m->trees);
    tree_bins_free(&m->bins);
    tree_fast_free(m->fast);
    at_gbdt_params p = m->p;
    size_t d = m->d, k = m->k, kt = m->kt;
    memset(m, 0, sizeof *m);
    m->p = p;
    m->d = d;
    m->k = k;
    m->kt = kt;
    m->best_round = -1;
    tree_list_init(&m->trees, 1);
    gbdt_history_view(m);
}

void gbdt_history_view(gbdt_model *m) {
    m->history.n_rows = m->hist_values ? m->hist_rows : 0;
    m->history.n_cols = HIST_COLS;
    m->history.names = hist_names;
    m->history.values = m->hist_values;
}

/* ---- fit ---- */

/* Trees of one round are independent: up to `threads` of them grow at once, one thread each,
 * each in its own grower with its own row and feature draws (ng growers). */
typedef struct fit_buf {
    uint8_t *codes;
    double *score_tr, *score_va;
    gbdt_gh *gh;
    size_t ng;
    uint32_t *rows;  /* ng * n */
    int32_t *feats;  /* ng * d */
    gbdt_grower **growers;
    tree *trees;     /* ng: the trees just grown */
    at_status *st;   /* ng */
    at_error *errs;  /* ng */
} fit_buf;

static void fit_buf_free(fit_buf *b) {
    free(b->codes);
    free(b->score_tr);
    free(b->score_va);
    free(b->gh);
    free(b->rows);
    free(b->feats);
    for (size_t i = 0; b->growers && i < b->ng; i++) gbdt_grower_free(b->growers[i]);
    free(b->growers);
    for (size_t i = 0; b->trees && i < b->ng; i++) tree_free(&b->trees[i]);
    free(b->trees);
    free(b->st);
    free(b->errs);
}

/* Grows tree (r, c) of the round in grower j: draws its rows and features from the tree's
 * own stream, so the draw does not depend on which grower or thread does the work. */
static at_status grow_one(gbdt_model *m, fit_buf *b, size_t j, size_t r, size_t c, size_t n,
                          size_t nf, const at_fit_input *in, int threads, at_error *err) {
    const size_t d = m->d, kt = m->kt;
    at_rng rng;
    at_rng_init(&rng, in->seed, (uint64_t)(r * kt + c));
    uint32_t *rowbuf = b->rows + j * n;
    int32_t *feats = b->feats + j * d;
    size_t nr;
    gbdt_sample_rows(&rng, m->p.subsample, n, rowbuf, &nr);
    gbdt_sample_features(&rng, d, nf, feats);
    return gbdt_grow_tree(b->growers[j], b->gh + c * n, nr < n ? rowbuf : NULL, nr, feats, nf, threads,
                          b->score_tr + c, kt, &b->trees[j], err);
}

/* All trees of round r, appended to the model in class order. */
static at_status grow_round(gbdt_model *m, fit_buf *b, size_t r, size_t n, size_t nf,
                            const at_fit_input *in, int threads, at_error *err) {
    at_status s;
    for (size_t c0 = 0; c0 < m->kt; c0 += b->ng) {
        size_t cnt = m->kt - c0 < b->ng ? m->kt - c0 : b->ng;
        if (cnt == 1) {
            /* A tree alone gets every thread. */
            if ((s = grow_one(m, b, 0, r, c0, n, nf, in, threads, err))) return s;
        } else {
            fit_buf *bc = b;
#pragma omp parallel for schedule(static, 1) num_threads((int)cnt)
            for (size_t j = 0; j < cnt; j++)
                bc->st[j] = grow_one(m, bc, j, r, c0 + j, n, nf, in, 1, &bc->errs[j]);
            for (size_t j = 0; j < cnt; j++)
                if (b->st[j]) {
                    if (err) *err = b->errs[j];
                    return b->st[j];
                }
        }
        for (size_t j = 0; j < cnt; j++)
            if ((s = tree_list_append(&m->trees, &b->trees[j], err))) return s;
    }
    return AT_OK;
}


/* Log class priors: the best constant model. An absent class gets half a row. Counts of
 * every rank (dd). */
static at_status init_base(gbdt_model *m, const at_dataset *tr, gbdt_dist *dd, at_error *err) {
    int64_t counts[m->k];
    memset(counts, 0, sizeof counts);
    for (size_t i = 0; i < tr->n; i++) counts[tr->y[i]]++;
    at_status s = at_comm_sum_i64(dd->comm, counts, m->k, err);
    if (s) return s;
    double logp[m->k];
    for (size_t c = 0; c < m->k; c++)
        logp[c] = log((counts[c] ? (double)counts[c] : 0.5) / (double)dd->n_global);
    if (m->kt == 1) m->base[0] = logp[1] - logp[0];
    else
        for (size_t c = 0; c < m->k; c++) m->base[c] = logp[c];
    return AT_OK;
}

static at_status check_labels(const at_dataset *ds, size_t k, const char *part, at_error *err) {
    if (!ds->y) return at_fail(err, AT_ERR_DATA, "gradient boosting: the %s part has no labels", part);
    for (size_t i = 0; i < ds->n; i++)
        if (ds->y[i] < 0 || (size_t)ds->y[i] >= k)
            return at_fail(err, AT_ERR_DATA, "gradient boosting: %s row %zu has an unknown class", part, i);
    return AT_OK;
}

static at_status gbdt_fit(void *impl, const at_fit_input *in, at_error *err) {
    gbdt_model *m = impl;
    const at_dataset *tr = in->train, *va = in->valid;
    at_status s;
    if ((s = at_gbdt_params_check(&m->p, err))) return s;
    if (va && va->n == 0) va = NULL;
    if (va && va->d != m->d)
        return at_fail(err, AT_ERR_INTERNAL, "fit: validation data do not match the model's features");
    if ((s = check_labels(tr, m->k, "training", err))) return s;
    if (va && (s = check_labels(va, m->k, "validation", err))) return s;
    gbdt_model_clear(m);

    const size_t n = tr->n, d = m->d, kt = m->kt, nv = va ? va->n : 0;
    const int threads = in->threads > 0 ? in->threads : 1;
    const size_t R = (size_t)m->p.n_rounds;
    fit_buf b = {0};
    /* Across MPI ranks (gbdt_dist.c): histograms summed through the reduce seam, one tree of a
     * round at a time (only the calling thread talks to MPI). */
    gbdt_dist dd = {.comm = in->comm, .n_global = n};
    const int dist = at_comm_size(in->comm) > 1;
    double *Xall = NULL;
    if (dist) {
        int64_t ng = (int64_t)n;
        if ((s = at_comm_sum_i64(in->comm, &ng, 1, err))) return s;
        dd.n_global = (uint64_t)ng;
        if (m->p.subsample < 1)
            return at_fail(err, AT_ERR_CONFIG, "[model] subsample < 1 does not train across MPI ranks yet");
    }
    const int q = gbdt_quant_bits(dd.n_global);
    m->base = at_malloc(kt, sizeof *m->base, err);
    m->hist_values = at_malloc(R * HIST_COLS, sizeof *m->hist_values, err);
    b.codes = at_malloc(n, d, err);
    b.score_tr = at_malloc(n, kt * sizeof(double), err);
    b.score_va = at_malloc(nv ? nv : 1, kt * sizeof(double), err);
    b.gh = at_malloc(n, kt * sizeof(gbdt_gh), err);
    b.ng = dist ? 1 : kt < (size_t)threads ? kt : (size_t)threads;
    b.rows = at_malloc(b.ng * n, sizeof *b.rows, err);
    b.feats = at_malloc(b.ng * d, sizeof *b.feats, err);
    b.growers = at_calloc(b.ng, sizeof *b.growers, err);
    b.trees = at_calloc(b.ng, sizeof *b.trees, err);
    b.st = at_calloc(b.ng, sizeof *b.st, err);
    b.errs = at_calloc(b.ng, sizeof *b.errs, err);
    if (!m->base || !m->hist_values || !b.codes || !b.score_tr || !b.score_va || !b.gh || !b.rows ||
        !b.feats || !b.growers || !b.trees || !b.st || !b.errs) {
        s = AT_ERR_MEMORY;
        goto fail;
    }
    if (dist) {
        size_t nall = 0;
        if ((s = gbdt_dist_gather_X(&dd, tr, &Xall, &nall, err))) goto fail;
        s = tree_bins_fit(Xall, nall, d, (int)m->p.max_bin, TREE_CUTS_GREEDY, 1, threads, &m->bins, err);
        free(Xall);
        Xall = NULL;
    } else {
        s = tree_bins_fit(tr->X, n, d, (int)m->p.max_bin, TREE_CUTS_GREEDY, 1, threads, &m->bins, err);
    }
    if (s) goto fail;
    tree_bins_encode(&m->bins, tr->X, n, b.codes, threads);
    /* One process: no histogram reduce. */
    gbdt_grow_params gp = {m->p.lambda, m->p.gamma, m->p.min_child_weight, m->p.learning_rate,
                           (int)m->p.max_depth, (int)m->p.max_leaves,
                           m->p.grow_policy == AT_GROW_LOSSGUIDE, {NULL, NULL}};
    if (dist) gp.reduce = (tree_reduce){gbdt_dist_sum, &dd};
    for (size_t j = 0; j < b.ng; j++)
        if ((s = gbdt_grower_new(b.codes, n, &m->bins, &gp, &b.growers[j], err))) goto fail;

    if ((s = init_base(m, tr, &dd, err))) goto fail;
    for (size_t i = 0; i < n; i++) memcpy(b.score_tr + i * kt, m->base, kt * sizeof(double));
    for (size_t i = 0; i < nv; i++) memcpy(b.score_va + i * kt, m->base, kt * sizeof(double));
    double tr_loss, tr_acc, va_loss = NAN, va_acc = NAN, best_loss = INFINITY;
    gbdt_loss_pass(b.score_tr, n, kt, tr->y, b.gh, threads, &tr_loss, &tr_acc);
    gbdt_quantize(b.gh, n * kt, q);

    const size_t nf = m->p.colsample >= 1 ? d
                      : (size_t)fmax(1.0, floor(m->p.colsample * (double)d + 0.5));
    int64_t best = -1;
    for (size_t r = 0; r < R; r++) {
        /* Across ranks the stop is agreed, so every rank leaves at the same round. */
        double stop_now = at_progress_stopped(in->progress);
        if (dist && (s = at_comm_max_f64(in->comm, &stop_now, 1, err))) goto fail;
        if (stop_now > 0) {
            s = at_fail(err, AT_ERR_INTERRUPTED, "gradient boosting interrupted at round %zu", r);
            goto fail;
        }
        s = grow_round(m, &b, r, n, nf, in, threads, err);
        if (!s && dd.st) {
            s = dd.st;
            if (err) *err = dd.err;
        }
        if (s) goto fail;
        if (va) {
            tree_predict_add(&m->trees, r * kt, (r + 1) * kt, kt, va->X, nv, d, b.score_va, kt, threads);
            gbdt_loss_pass(b.score_va, nv, kt, va->y, NULL, threads, &va_loss, &va_acc);
        }
        /* Metrics of this round, and the gradients of the next from the same pass. */
        gbdt_loss_pass(b.score_tr, n, kt, tr->y, b.gh, threads, &tr_loss, &tr_acc);
        gbdt_quantize(b.gh, n * kt, q);
        if (dist && (s = gbdt_dist_loss(&dd, n, &tr_loss, &tr_acc, err))) goto fail;
        double *h = m->hist_values + r * HIST_COLS;
        h[0] = (double)(r + 1);
        h[1] = tr_loss;
        h[2] = tr_acc;
        h[3] = va_loss;
        h[4] = va_acc;
        m->hist_rows = r + 1;
        m->rounds_run = (int64_t)r + 1;

        char detail[128];
        if (va) snprintf(detail, sizeof detail, "valid_logloss %.4f valid_accuracy %.4f", va_loss, va_acc);
        else snprintf(detail, sizeof detail, "train_logloss %.4f train_accuracy %.4f", tr_loss, tr_acc);
        at_progress_update(in->progress, "fit gradient_boosting", r + 1, R, detail);

        if (va && m->p.early_stopping_rounds > 0) {
            if (va_loss < best_loss) {
                best_loss = va_loss;
                best = (int64_t)r;
            } else if ((int64_t)r - best >= m->p.early_stopping_rounds) {
                break;
            }
        } else {
            best = (int64_t)r;
        }
    }
    /* Keep the best round: later trees go. */
    m->best_round = best;
    tree_list_truncate(&m->trees, (size_t)(best + 1) * kt);
    tree_fast_free(m->fast);
    if ((s = tree_fast_build(&m->trees, m->d, kt, &m->fast, err))) goto fail;
    m->fitted = 1;
    gbdt_history_view(m);
    fit_buf_free(&b);
    return AT_OK;
fail:
    fit_buf_free(&b);
    gbdt_model_clear(m);
    return s;
}

/* ---- prediction ---- */

static at_status gbdt_predict_proba(const void *impl, const double *X, size_t n, double *P,
                                    int threads, at_error *err) {
    const gbdt_model *m = impl;
    if (!m->fitted) return at_fail(err, AT_ERR_INTERNAL, "gradient boosting: predict before fit");
    const size_t kt = m->kt, k = m->k;
    double *score = at_malloc(n, kt * sizeof(double), err);
    if (!score) return AT_ERR_MEMORY;
    for (size_t i = 0; i < n; i++) memcpy(score + i * kt, m->base, kt * sizeof(double));
    if (m->fast) tree_fast_predict_add(m->fast, X, n, score, kt, threads);
    else tree_predict_add(&m->trees, 0, m->trees.n_trees, kt, X, n, m->d, score, kt, threads);
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : 1)
    for (size_t i = 0; i < n; i++) {
        double *p = P + i * k;
        if (kt == 1) {
            double s = score[i];
            double p1 = s >= 0 ? 1.0 / (1.0 + exp(-s)) : exp(s) / (1.0 + exp(s));
            p[0] = 1.0 - p1;
            p[1] = p1;
        } else {
            /* gbdt_softmax_grad's probabilities, the same operations in the same order, without
             * its log-loss (two logs a row that prediction throws away) */
            const double *sc = score + i * kt;
            double mx = sc[0], sum = 0;
            for (size_t c = 1; c < kt; c++) mx = sc[c] > mx ? sc[c] : mx;
            for (size_t c = 0; c < kt; c++) {
                p[c] = exp(sc[c] - mx);
                sum += p[c];
            }
            double inv = 1.0 / sum;
            for (size_t c = 0; c < kt; c++) p[c] *= inv;
        }
    }
    free(score);
    return AT_OK;
}

/* ---- extras ---- */

static at_status gbdt_importances(const void *impl, double *out) {
    const gbdt_model *m = impl;
    for (size_t f = 0; f < m->d; f++) out[f] = 0;
    if (!m->fitted) return AT_ERR_INTERNAL;
    const tree_list *L = &m->trees;
    double total = 0;
    for (size_t t = 0; t < L->n_trees; t++)
        for (int64_t i = 0; i < L->off[t + 1] - L->off[t]; i++) {
            size_t a = (size_t)(L->off[t] + i);
            if (tree_node_is_leaf(&L->nodes[a], (int32_t)i)) continue;
            out[L->nodes[a].feature] += L->gain[a];
            total += L->gain[a];
        }
    for (size_t f = 0; f < m->d; f++) out[f] = total > 0 ? out[f] / total : 1.0 / (double)m->d;
    return AT_OK;
}

static const at_history *gbdt_history(const void *impl) {
    const gbdt_model *m = impl;
    return &m->history;
}

static void gbdt_describe(const void *impl, at_json *j) {
    const gbdt_model *m = impl;
    const tree_list *L = &m->trees;
    size_t leaves = 0;
    int32_t maxd = 0;
    for (size_t t = 0; t < L->n_trees; t++) {
        for (int64_t i = 0; i < L->off[t + 1] - L->off[t]; i++)
            leaves += (size_t)tree_node_is_leaf(&L->nodes[L->off[t] + i], (int32_t)i);
        maxd = L->depth[t] > maxd ? L->depth[t] : maxd;
    }
    at_json_kv_string(j, "objective", m->kt == 1 ? "logistic" : "softmax");
    at_json_kv_int(j, "best_round", m->best_round >= 0 ? m->best_round + 1 : 0);
    at_json_kv_int(j, "rounds_run", m->rounds_run);
    at_json_kv_int(j, "trees_per_round", (int64_t)m->kt);
    at_json_kv_int(j, "n_trees", (int64_t)L->n_trees);
    at_json_kv_int(j, "n_leaves", (int64_t)leaves);
    at_json_kv_number(j, "mean_leaves_per_tree", L->n_trees ? (double)leaves / (double)L->n_trees : 0);
    at_json_kv_int(j, "max_depth_reached", maxd);
    if (m->best_round >= 0 && (size_t)m->best_round < m->hist_rows) {
        const double *h = m->hist_values + (size_t)m->best_round * HIST_COLS;
        at_json_kv_number(j, "best_train_logloss", h[1]);
        at_json_kv_number(j, "best_valid_logloss", h[3]);
    }
}

static void gbdt_free(void *impl) {
    gbdt_model *m = impl;
    if (!m) return;
    gbdt_model_clear(m);
    free(m);
}

/* Peak memory of a fit, generously: binned data, per-row scores/gradients/hessians, the
 * histograms of one level (or of every open leaf), and the trees themselves. */
static size_t gbdt_memory_estimate(const void *params, size_t n, size_t d, size_t k, int threads) {
    const at_gbdt_params *p = params;
    double trees_per_round = k == 2 ? 1.0 : (double)k;
    double leaves = p->max_leaves > 0 ? (double)p->max_leaves : ldexp(1.0, (int)(p->max_depth < 30 ? p->max_depth : 30));
    if (leaves > (double)n) leaves = (double)n;
    double node_bytes = 48.0;
    double trees = (double)p->n_rounds * trees_per_round * 2.0 * leaves * node_bytes;
    double rows = (double)n * ((double)d + 8.0 * 4.0 * (double)k + 16.0);
    double hist = 2.0 * leaves * (double)d * ((double)p->max_bin + 1.0) * 16.0 * trees_per_round;
    double scratch = (double)(threads > 0 ? threads : 1) * (double)d * 256.0 * 16.0;
    double total = trees + rows + hist + scratch;
    return total >= (double)SIZE_MAX ? SIZE_MAX : (size_t)total;
}

const at_model_ops at_gbdt_ops = {
    .memory_estimate = gbdt_memory_estimate,
    .type = "gradient_boosting",
    .fit = gbdt_fit,
    .predict_proba = gbdt_predict_proba,
    .save = gbdt_save,
    .load = gbdt_load,
    .free = gbdt_free,
    .importances = gbdt_importances,
    .history = gbdt_history,
    .describe = gbdt_describe,
};

at_status at_gbdt_new(const at_gbdt_params *p, size_t n_features, size_t n_classes, at_model **out,
                      at_error *err) {
    *out = NULL;
    at_status s;
    if ((s = at_gbdt_params_check(p, err))) return s;
    if (n_features == 0 || n_features > INT32_MAX)
        return at_fail(err, AT_ERR_CONFIG, "gradient boosting needs 1 to %d features", INT32_MAX);
    if (n_classes < 2)
        return at_fail(err, AT_ERR_DATA, "gradient boosting needs at least two classes, not %zu",
                       n_classes);
    at_model *am = at_calloc(1, sizeof *am, err);
    gbdt_model *m = at_calloc(1, sizeof *m, err);
    if (!am || !m) {
        free(am);
        free(m);
        return AT_ERR_MEMORY;
    }
    m->p = *p;
    m->d = n_features;
    m->k = n_classes;
    m->kt = n_classes == 2 ? 1 : n_classes;
    m->best_round = -1;
    tree_list_init(&m->trees, 1);
    gbdt_history_view(m);
    am->ops = &at_gbdt_ops;
    am->impl = m;
    am->n_features = n_features;
    am->n_classes = n_classes;
    *out = am;
    return AT_OK;
}

int64_t at_gbdt_best_round(const at_model *m) {
    if (!m || m->ops != &at_gbdt_ops) return -1;
    const gbdt_model *g = m->impl;
    return g->fitted ? g->best_round : -1;
}
