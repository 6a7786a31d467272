/* mlp.c - the MLP family: parameters, construction, the training loop (mini-batches,
 * optimisers, schedules, early stopping), prediction and the at_model_ops table.
 *
 * The network runs on the engine (src/models/nn: dense, dropout and softmax layers, the one
 * optimiser and schedule); this file is the family's glue.
 *
 * Threads: each mini-batch is cut into S shards (S = threads, fewer for tiny batches);
 * every shard runs its forward and backward pass on one thread (at 256 x 64 the GEMMs are
 * too small for BLAS threads to pay; the caller sets BLAS to one thread). After one barrier every
 * thread sums the shards' gradients in shard order and applies the same update to its
 * own copy of the parameters. The work is defined by S, not by the threads that happen
 * to run it, so a given seed and thread count always give the same weights. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/config.h"
#include "astrotrain/forest.h" /* at_class_weight */
#include "models/mlp_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax(void) { _mm_pause(); }
#else
static inline void cpu_relax(void) {}
#endif

#define MLP_MAX_SHARDS 64
#define MLP_MIN_SHARD_ROWS 16
#define MLP_BARRIER_SPIN 2000
/* Random streams: the initial weights use 0x1000 + layer (mlp_net.c). */
#define MLP_STREAM_SHUFFLE 0x2000000ULL
#define MLP_STREAM_DROPOUT 0x4000000000ULL

const char *const mlp_history_names[6] = {"epoch",      "train_loss",     "train_accuracy",
                                          "valid_loss", "valid_accuracy", "learning_rate"};

static const char *const activation_names[] = {"relu", "leaky_relu", "tanh", "sigmoid"};

const char *at_mlp_activation_name(int activation) {
    return activation >= 0 && activation < 4 ? activation_names[activation] : "?";
}

void at_mlp_params_default(at_mlp_params *p) {
    memset(p, 0, sizeof *p);
    strcpy(p->hidden, "64,64");
    p->activation = AT_MLP_RELU;
    p->optimizer = AT_MLP_ADAM;
    p->learning_rate = 1e-3;
    p->batch_size = 256;
    p->epochs = 50;
    p->momentum = 0.9;
    p->nesterov = 0;
    p->beta1 = 0.9;
    p->beta2 = 0.999;
    p->weight_decay = 0.0;
    p->dropout = 0.0;
    p->init = AT_MLP_INIT_AUTO;
    p->schedule = AT_MLP_SCHEDULE_CONSTANT;
    p->step_size = 10;
    p->gamma = 0.1;
    p->warmup = 0;
    p->patience = 0;
    p->class_weight = AT_CLASS_WEIGHT_NONE;
}

at_status at_mlp_parse_hidden(const char *text, size_t sizes[AT_MLP_MAX_HIDDEN], size_t *n,
                              at_error *err) {
    *n = 0;
    const char *s = text;
    while (isspace((unsigned char)*s)) s++;
    if (*s == '\0') return AT_OK; /* no hidden layer: multinomial logistic regression */
    for (;;) {
        while (isspace((unsigned char)*s)) s++;
        if (!isdigit((unsigned char)*s))
            return at_fail(err, AT_ERR_CONFIG,
                           "hidden = '%s': expected a comma-separated list of layer widths "
                           "such as '64, 64'",
                           text);
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || v < 1 || v > 65536)
            return at_fail(err, AT_ERR_CONFIG, "hidden = '%s': a layer width must be 1 to 65536",
                           text);
        if (*n == AT_MLP_MAX_HIDDEN)
            return at_fail(err, AT_ERR_CONFIG, "hidden = '%s': at most %d hidden layers", text,
                           AT_MLP_MAX_HIDDEN);
        sizes[(*n)++] = (size_t)v;
        s = end;
        while (isspace((unsigned char)*s)) s++;
        if (*s == '\0') return AT_OK;
        if (*s != ',')
            return at_fail(err, AT_ERR_CONFIG,
                           "hidden = '%s': expected a comma-separated list of layer widths "
                           "such as '64, 64'",
                           text);
        s++;
    }
}

static at_status check_params(const at_mlp_params *p, at_error *err) {
#define BAD(...) return at_fail(err, AT_ERR_CONFIG, __VA_ARGS__)
    if (p->activation < 0 || p->activation > AT_MLP_SIGMOID) BAD("mlp: unknown activation");
    if (p->optimizer < 0 || p->optimizer > AT_MLP_SGD) BAD("mlp: unknown optimizer");
    if (!(p->learning_rate > 0.0 && p->learning_rate <= 10.0))
        BAD("learning_rate = %g: must be in (0, 10]", p->learning_rate);
    if (p->batch_size < 1 || p->batch_size > (1 << 20))
        BAD("batch_size = %lld: must be 1 to 1048576", (long long)p->batch_size);
    if (p->epochs < 1 || p->epochs > 1000000)
        BAD("epochs = %lld: must be 1 to 1000000", (long long)p->epochs);
    if (!(p->momentum >= 0.0 && p->momentum < 1.0)) BAD("momentum = %g: must be in [0, 1)", p->momentum);
    if (!(p->beta1 >= 0.0 && p->beta1 < 1.0)) BAD("beta1 = %g: must be in [0, 1)", p->beta1);
    if (!(p->beta2 >= 0.0 && p->beta2 < 1.0)) BAD("beta2 = %g: must be in [0, 1)", p->beta2);
    if (!(p->weight_decay >= 0.0 && p->weight_decay <= 1.0))
        BAD("weight_decay = %g: must be in [0, 1]", p->weight_decay);
    if (!(p->dropout >= 0.0 && p->dropout <= 0.95))
        BAD("dropout = %g: must be in [0, 0.95]", p->dropout);
    if (p->init < 0 || p->init > AT_MLP_INIT_XAVIER) BAD("mlp: unknown init");
    if (p->schedule < 0 || p->schedule > AT_MLP_SCHEDULE_COSINE) BAD("mlp: unknown schedule");
    if (p->step_size < 1) BAD("step_size = %lld: must be at least 1", (long long)p->step_size);
    if (!(p->gamma > 0.0 && p->gamma <= 1.0)) BAD("gamma = %g: must be in (0, 1]", p->gamma);
    if (p->warmup < 0 || p->warmup >= p->epochs)
        BAD("warmup = %lld: must be 0 to epochs - 1 (%lld)", (long long)p->warmup,
            (long long)p->epochs - 1);
    if (p->patience < 0) BAD("patience = %lld: must be 0 (off) or more", (long long)p->patience);
    if (p->class_weight != AT_CLASS_WEIGHT_NONE && p->class_weight != AT_CLASS_WEIGHT_BALANCED)
        BAD("mlp: unknown class_weight");
    return AT_OK;
#undef BAD
}

at_status at_mlp_new(const at_mlp_params *p, size_t n_features, size_t n_classes, at_model **out,
                     at_error *err) {
    *out = NULL;
    at_status s;
    size_t hidden[AT_MLP_MAX_HIDDEN], nh = 0;
    if ((s = check_params(p, err)) || (s = at_mlp_parse_hidden(p->hidden, hidden, &nh, err)))
        return s;
    if (n_classes < 2) return at_fail(err, AT_ERR_DATA, "mlp: needs at least two classes");
    mlp_model *mm = at_calloc(1, sizeof *mm, err);
    if (!mm) return AT_ERR_MEMORY;
    mm->p = *p;
    mm->net.n_layers = nh + 1;
    mm->net.sizes[0] = n_features;
    for (size_t i = 0; i < nh; i++) mm->net.sizes[i + 1] = hidden[i];
    mm->net.sizes[nh + 1] = n_classes;
    mm->net.activation = p->activation;
    if (!mlp_net_layout(&mm->net)) {
        free(mm);
        return at_fail(err, AT_ERR_CONFIG, "mlp: the network is too large");
    }
    mlp_engine_build(&mm->net, p->dropout, NULL, NULL, &mm->eng);
    at_model *m = at_calloc(1, sizeof *m, err);
    if (!m) {
        free(mm);
        return AT_ERR_MEMORY;
    }
    m->ops = &at_mlp_ops;
    m->impl = mm;
    m->n_features = n_features;
    m->n_classes = n_classes;
    *out = m;
    return AT_OK;
}

/* Training data converted once to float32, with sample weights from the class weights. */
typedef struct mlp_data {
    size_t n;
    float *X;   /* n x d */
    int32_t *y; /* n */
    float *sw;  /* n */
} mlp_data;

static void data_free(mlp_data *dd) {
    free(dd->X);
    free(dd->y);
    free(dd->sw);
}

/* Copies the labelled rows (0 <= y < k) of ds; unlabelled rows are skipped. */
static at_status data_make(const at_dataset *ds, size_t k, const double *cw, mlp_data *dd,
                           at_error *err) {
    memset(dd, 0, sizeof *dd);
    size_t d = ds->d, n = 0;
    for (size_t i = 0; i < ds->n; i++) n += ds->y[i] >= 0 && (size_t)ds->y[i] < k;
    if (n == 0) return AT_OK;
    if (!(dd->X = at_malloc(n, d * sizeof(float), err)) || !(dd->y = at_malloc(n, sizeof(int32_t), err)) ||
        !(dd->sw = at_malloc(n, sizeof(float), err))) {
        data_free(dd);
        return AT_ERR_MEMORY;
    }
    size_t j = 0;
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->y[i] < 0 || (size_t)ds->y[i] >= k) continue;
        for (size_t c = 0; c < d; c++) {
            double v = ds->X[i * d + c];
            if (!isfinite(v)) {
                data_free(dd);
                return at_fail(err, AT_ERR_DATA, "mlp: feature %zu of row %zu is not finite", c, i);
            }
            dd->X[j * d + c] = (float)v;
        }
        dd->y[j] = ds->y[i];
        dd->sw[j] = (float)cw[ds->y[i]];
        j++;
    }
    dd->n = n;
    return AT_OK;
}

/* Shard s of S takes rows [n*s/S, n*(s+1)/S) of a batch of n. */
static size_t shard_lo(size_t n, size_t s, size_t S) { return n * s / S; }

typedef struct shard_acc {
    double loss, wsum, vloss, vwsum;
    size_t correct, vcorrect;
    char pad[64]; /* keep shards' accumulators on separate cache lines */
} shard_acc;

/* A barrier for the per-batch synchronisation. OpenMP's own spins for a long time before
 * sleeping; on a machine shared with other work a spinning thread holds the core that the
 * thread it waits for needs, and a run slows down tenfold. This one spins briefly (a
 * balanced batch arrives within microseconds), then yields the core. */
typedef struct mlp_barrier {
    atomic_uint count, gen;
    unsigned n;
} mlp_barrier;

static void barrier_wait(mlp_barrier *b) {
    unsigned g = atomic_load(&b->gen);
    if (atomic_fetch_add(&b->count, 1) == b->n - 1) {
        atomic_store(&b->count, 0);
        atomic_fetch_add(&b->gen, 1);
        return;
    }
    for (unsigned i = 0; atomic_load(&b->gen) == g; i++) {
        if (i < MLP_BARRIER_SPIN)
            cpu_relax();
        else
            sched_yield();
    }
}

/* Per-thread copies: the parameters and the optimiser state, with a replica of the engine
 * network over them. Every thread applies the same update to its own copy, so the copies
 * stay bit-identical and a mini-batch needs a single barrier (after the gradients), not a
 * second one after a shared update. */
typedef struct mlp_replica {
    nn_net net;    /* the model's layers over params (grads set per shard) */
    float *params;
    float *gsum;   /* the shards' gradients summed */
    nn_optim opt;
} mlp_replica;

/* One shard's workspace: the engine's buffers and the gathered rows. */
typedef struct mlp_shard {
    nn_work *w;
    float *x;   /* rows x d */
    int32_t *y; /* rows */
    float *sw;  /* rows: sample weights */
} mlp_shard;

static void shard_free(mlp_shard *s) {
    nn_work_free(s->w);
    free(s->x), free(s->y), free(s->sw);
    memset(s, 0, sizeof *s);
}

static at_status shard_alloc(mlp_shard *s, const nn_net *net, size_t rows, size_t d, int training,
                             at_error *err) {
    memset(s, 0, sizeof *s);
    at_status st = nn_work_new(net, rows, 1, training, &s->w, err);
    if (st) return st;
    if (!(s->x = at_calloc(rows, d * sizeof(float), err)) || !(s->y = at_malloc(rows, sizeof(int32_t), err)) ||
        !(s->sw = at_malloc(rows, sizeof(float), err))) {
        shard_free(s);
        return AT_ERR_MEMORY;
    }
    return AT_OK;
}

static at_status mlp_fit(void *impl, const at_fit_input *in, at_error *err) {
    mlp_model *m = impl;
    const at_mlp_params *p = &m->p;
    mlp_net *net = &m->net;
    const at_dataset *tr = in->train;
    size_t d = net->sizes[0], k = net->sizes[net->n_layers];
    if (!tr->y) return at_fail(err, AT_ERR_DATA, "mlp: the training data have no labels");

    at_status st = AT_OK;
    mlp_data dt = {0}, dv = {0};
    mlp_shard sh[MLP_MAX_SHARDS];
    mlp_replica rep[MLP_MAX_SHARDS];
    memset(sh, 0, sizeof sh);
    memset(rep, 0, sizeof rep);
    float *grads[2][MLP_MAX_SHARDS] = {{0}};
    shard_acc acc[MLP_MAX_SHARDS];
    float *best = NULL;
    double *hist = NULL;
    size_t *perm = NULL;

    /* Class weights: balanced gives class c the weight n / (k * n_c). */
    double *cw = at_malloc(k, sizeof(double), err);
    size_t *counts = at_calloc(k, sizeof(size_t), err);
    if (!cw || !counts) {
        st = AT_ERR_MEMORY;
        goto done;
    }
    size_t n_lab = 0;
    for (size_t i = 0; i < tr->n; i++)
        if (tr->y[i] >= 0 && (size_t)tr->y[i] < k) counts[tr->y[i]]++, n_lab++;
    for (size_t c = 0; c < k; c++)
        cw[c] = p->class_weight == AT_CLASS_WEIGHT_BALANCED && counts[c]
                    ? (double)n_lab / ((double)k * (double)counts[c])
                    : 1.0;

    if ((st = data_make(tr, k, cw, &dt, err))) goto done;
    if (dt.n == 0) {
        st = at_fail(err, AT_ERR_DATA, "mlp: no labelled training rows");
        goto done;
    }
    if (in->valid && in->valid->n > 0 && in->valid->y) {
        if (in->valid->d != d) {
            st = at_fail(err, AT_ERR_INTERNAL, "mlp: validation data do not match the features");
            goto done;
        }
        if ((st = data_make(in->valid, k, cw, &dv, err))) goto done;
    }
    int has_valid = dv.n > 0;
    int early = has_valid && p->patience > 0;

    /* S shards per batch: one per thread, fewer when the batch is too small to share. */
    size_t B = (size_t)p->batch_size < dt.n ? (size_t)p->batch_size : dt.n;
    size_t S = in->threads > 0 ? (size_t)in->threads : 1;
    if (S > MLP_MAX_SHARDS) S = MLP_MAX_SHARDS;
    if (S > B / MLP_MIN_SHARD_ROWS) S = B / MLP_MIN_SHARD_ROWS > 0 ? B / MLP_MIN_SHARD_ROWS : 1;
    size_t shard_rows = (B + S - 1) / S;
    if (shard_rows < 256) shard_rows = 256; /* validation goes in chunks of this size too */
    size_t nb = (dt.n + B - 1) / B;
    size_t P = net->n_params;
    size_t epochs = (size_t)p->epochs;

    /* The model's engine network, with this fit's dropout. */
    mlp_engine_build(net, p->dropout, NULL, NULL, &m->eng);
    for (size_t s = 0; s < S; s++) {
        if ((st = shard_alloc(&sh[s], &m->eng.net, shard_rows, d, 1, err))) goto done;
        if (!(grads[0][s] = at_malloc(P, sizeof(float), err)) || !(grads[1][s] = at_malloc(P, sizeof(float), err)) ||
            !(rep[s].params = at_malloc(P, sizeof(float), err)) ||
            !(rep[s].gsum = at_malloc(P, sizeof(float), err))) {
            st = AT_ERR_MEMORY;
            goto done;
        }
        rep[s].net = m->eng.net;
        rep[s].net.params = rep[s].params;
        if ((st = nn_optim_init(&rep[s].net, &rep[s].opt, err))) goto done;
    }
    if ((early && !(best = at_malloc(P, sizeof(float), err))) ||
        !(hist = at_malloc(epochs, 6 * sizeof(double), err)) ||
        !(perm = at_malloc(dt.n, sizeof(size_t), err))) {
        st = AT_ERR_MEMORY;
        goto done;
    }
    mlp_init_params(net, p->init, in->seed, rep[0].params);
    for (size_t s = 1; s < S; s++) memcpy(rep[s].params, rep[0].params, P * sizeof(float));

    const nn_opt_conf oc = mlp_opt_conf(p);
    const nn_schedule sched = mlp_schedule(p);
    int64_t best_epoch = 0;
    size_t rows_done = 0, since_best = 0;
    double best_loss = INFINITY, lr = p->learning_rate;
    int halt = 0;                    /* 1 early stop, 2 interrupted, 3 diverged */
    int stop_flag[2] = {0, 0};       /* by batch parity: see the barrier below */
    mlp_barrier bar = {.n = 0};

#pragma omp parallel num_threads((int)S)
    {
        size_t tid = (size_t)omp_get_thread_num(), nthr = (size_t)omp_get_num_threads();
#pragma omp single
        bar.n = (unsigned)nthr;
        mlp_replica *my = &rep[tid];
        int stopped = 0;
        double my_lr = p->learning_rate;
        for (size_t e = 0; e < epochs && !halt; e++) {
#pragma omp single
            {
                at_rng r;
                at_rng_init(&r, in->seed, MLP_STREAM_SHUFFLE + e);
                for (size_t i = 0; i < dt.n; i++) perm[i] = i;
                at_rng_shuffle(&r, perm, dt.n);
                memset(acc, 0, sizeof acc);
            }
            for (size_t b = 0; b < nb; b++) {
                size_t start = b * B, rows = dt.n - start < B ? dt.n - start : B;
                float *const *g = grads[b & 1];
                double wsum = 0.0;
                for (size_t i = 0; i < rows; i++) wsum += dt.sw[perm[start + i]];
                for (size_t s = tid; s < S; s += nthr) {
                    mlp_shard *w = &sh[s];
                    size_t lo = shard_lo(rows, s, S), r = shard_lo(rows, s + 1, S) - lo;
                    if (r == 0 || !(wsum > 0.0)) {
                        memset(g[s], 0, P * sizeof(float));
                        continue;
                    }
                    for (size_t i = 0; i < r; i++) {
                        size_t src = perm[start + lo + i];
                        memcpy(w->x + i * d, dt.X + src * d, d * sizeof(float));
                        w->y[i] = dt.y[src];
                        w->sw[i] = dt.sw[src];
                    }
                    nn_net sn = my->net; /* this thread's parameters, this shard's gradient */
                    sn.grads = g[s];
                    w->w->dropout_seed = in->seed ^ (MLP_STREAM_DROPOUT + ((uint64_t)e * nb + b) * S + s) *
                                                        0x9E3779B97F4A7C15ULL;
                    nn_forward(&sn, w->w, w->x, r);
                    size_t c = 0;
                    acc[s].loss += nn_xent(&sn, w->w, w->y, w->sw, NULL, r, wsum, &c);
                    acc[s].correct += c;
                    for (size_t i = 0; i < r; i++) acc[s].wsum += w->sw[i];
                    nn_backward(&sn, w->w, w->x, r);
                }
                /* The stop request is sampled once per batch by thread 0 into the slot of
                 * this batch's parity: written before this barrier, read after it, and not
                 * written again until every thread has passed the next barrier. The
                 * gradients alternate between two buffers for the same reason. */
                if (tid == 0) stop_flag[b & 1] = at_progress_stopped(in->progress);
                barrier_wait(&bar);
                my_lr = nn_learning_rate(&sched, (int64_t)(e * nb + b), nb);
                mlp_sum_grads(my->gsum, g, S, P);
                nn_optim_step(&my->net, &oc, &my->opt, my->gsum, my_lr);
                if (stop_flag[b & 1]) {
                    stopped = 1;
                    break;
                }
            }
            /* Validation loss and accuracy, sharded like training (no dropout). */
            if (has_valid && !stopped)
                for (size_t s = tid; s < S; s += nthr) {
                    mlp_shard *w = &sh[s];
                    size_t lo = shard_lo(dv.n, s, S), hi = shard_lo(dv.n, s + 1, S);
                    w->w->training = 0;
                    for (size_t a = lo; a < hi; a += shard_rows) {
                        size_t r = hi - a < shard_rows ? hi - a : shard_rows;
                        nn_forward(&my->net, w->w, dv.X + a * d, r);
                        size_t c = 0;
                        acc[s].vloss += nn_xent(&my->net, w->w, dv.y + a, dv.sw + a, NULL, r, 0.0, &c);
                        acc[s].vcorrect += c;
                        for (size_t i = 0; i < r; i++) acc[s].vwsum += dv.sw[a + i];
                    }
                    w->w->training = 1;
                }
#pragma omp barrier
#pragma omp single
            {
                lr = my_lr;
                if (stopped) {
                    halt = 2;
                } else {
                    double loss = 0, wsum = 0, vloss = 0, vwsum = 0;
                    size_t correct = 0, vcorrect = 0;
                    for (size_t s = 0; s < S; s++) {
                        loss += acc[s].loss;
                        wsum += acc[s].wsum;
                        correct += acc[s].correct;
                        vloss += acc[s].vloss;
                        vwsum += acc[s].vwsum;
                        vcorrect += acc[s].vcorrect;
                    }
                    double *h = hist + rows_done * 6;
                    h[0] = (double)(e + 1);
                    h[1] = wsum > 0 ? loss / wsum : NAN;
                    h[2] = (double)correct / (double)dt.n;
                    h[3] = has_valid && vwsum > 0 ? vloss / vwsum : NAN;
                    h[4] = has_valid ? (double)vcorrect / (double)dv.n : NAN;
                    h[5] = lr;
                    rows_done++;
                    char detail[160];
                    if (has_valid)
                        snprintf(detail, sizeof detail, "loss %.4f val_loss %.4f val_acc %.4f", h[1],
                                 h[3], h[4]);
                    else
                        snprintf(detail, sizeof detail, "loss %.4f acc %.4f", h[1], h[2]);
                    at_progress_update(in->progress, "fit mlp", e + 1, epochs, detail);
                    if (!isfinite(h[1]) || (has_valid && !isfinite(h[3]))) {
                        halt = 3;
                    } else if (early) {
                        if (h[3] < best_loss) {
                            best_loss = h[3];
                            best_epoch = (int64_t)e + 1;
                            since_best = 0;
                            memcpy(best, rep[0].params, P * sizeof(float));
                        } else if (++since_best >= (size_t)p->patience) {
                            halt = 1;
                        }
                    } else {
                        best_epoch = (int64_t)e + 1;
                    }
                }
            }
        }
    }

    if (halt == 2) {
        st = at_fail(err, AT_ERR_INTERRUPTED, "mlp: training interrupted after %zu epochs",
                     rows_done);
        goto done;
    }
    if (halt == 3) {
        st = at_fail(err, AT_ERR_CONFIG,
                     "mlp: training diverged (loss not finite at epoch %zu); lower learning_rate",
                     rows_done);
        goto done;
    }
    if (early && best_epoch > 0) memcpy(rep[0].params, best, P * sizeof(float));

    free(m->params);
    free(m->hist_values);
    m->params = rep[0].params;
    rep[0].params = NULL;
    m->eng.net.params = m->params;
    m->hist_values = hist;
    hist = NULL;
    m->hist.n_rows = rows_done;
    m->hist.n_cols = 6;
    m->hist.names = mlp_history_names;
    m->hist.values = m->hist_values;
    m->best_epoch = best_epoch;
    m->epochs_run = (int64_t)rows_done;
    m->stopped_early = halt == 1;

done:
    if (!m->params) m->eng.net.params = NULL;
    for (size_t s = 0; s < MLP_MAX_SHARDS; s++) {
        shard_free(&sh[s]);
        free(grads[0][s]);
        free(grads[1][s]);
        free(rep[s].params);
        free(rep[s].gsum);
        nn_optim_free(&rep[s].opt);
    }
    data_free(&dt);
    data_free(&dv);
    free(cw);
    free(counts);
    free(best);
    free(hist);
    free(perm);
    return st;
}

#define MLP_PREDICT_ROWS 256

static at_status mlp_predict_proba(const void *impl, const double *X, size_t n, double *P,
                                   int threads, at_error *err) {
    const mlp_model *m = impl;
    const mlp_net *net = &m->net;
    if (!m->params) return at_fail(err, AT_ERR_INTERNAL, "mlp: predict before fit");
    size_t d = net->sizes[0], k = net->sizes[net->n_layers];
    size_t n_chunks = (n + MLP_PREDICT_ROWS - 1) / MLP_PREDICT_ROWS;
    size_t T = threads > 0 ? (size_t)threads : 1;
    if (T > MLP_MAX_SHARDS) T = MLP_MAX_SHARDS;
    if (T > n_chunks) T = n_chunks;
    mlp_shard sh[MLP_MAX_SHARDS];
    memset(sh, 0, sizeof sh);
    at_status st = AT_OK;
    /* A private copy of the net: the model is shared by the callers' threads. */
    nn_net eng = m->eng.net;
    eng.params = m->params;
    for (size_t t = 0; t < T; t++)
        if ((st = shard_alloc(&sh[t], &eng, MLP_PREDICT_ROWS, d, 0, err))) goto done;
#pragma omp parallel for num_threads((int)T) schedule(static)
    for (size_t c = 0; c < n_chunks; c++) {
        mlp_shard *w = &sh[omp_get_thread_num()];
        size_t lo = c * MLP_PREDICT_ROWS, r = n - lo < MLP_PREDICT_ROWS ? n - lo : MLP_PREDICT_ROWS;
        for (size_t i = 0; i < r * d; i++) w->x[i] = (float)X[lo * d + i];
        /* Always a full block: OpenBLAS computes tail rows with other kernels, and a row's
         * probabilities must not depend on where it falls in the input (predict on a file
         * reproduces the run's predictions.csv exactly). */
        for (size_t i = r * d; i < MLP_PREDICT_ROWS * d; i++) w->x[i] = 0.0f;
        nn_forward(&eng, w->w, w->x, MLP_PREDICT_ROWS);
        const float *out = w->w->out[eng.nl - 1];
        for (size_t i = 0; i < r * k; i++) P[lo * k + i] = out[i];
    }
done:
    for (size_t t = 0; t < T; t++) shard_free(&sh[t]);
    return st;
}

static void mlp_free(void *impl) {
    mlp_model *m = impl;
    if (!m) return;
    free(m->params);
    free(m->hist_values);
    free(m);
}

static const at_history *mlp_history(const void *impl) {
    const mlp_model *m = impl;
    return m->hist.n_rows ? &m->hist : NULL;
}

static void mlp_describe(const void *impl, at_json *j) {
    const mlp_model *m = impl;
    at_json_key(j, "layers");
    at_json_begin_array(j);
    for (size_t l = 0; l <= m->net.n_layers; l++) at_json_int(j, (int64_t)m->net.sizes[l]);
    at_json_end_array(j);
    at_json_kv_string(j, "activation", at_mlp_activation_name(m->net.activation));
    at_json_kv_int(j, "n_parameters", (int64_t)m->net.n_params);
    at_json_kv_int(j, "epochs_run", m->epochs_run);
    at_json_kv_int(j, "best_epoch", m->best_epoch);
    at_json_key(j, "stopped_early");
    at_json_bool(j, m->stopped_early);
    if (m->hist.n_rows) {
        const double *h = m->hist.values + (size_t)(m->best_epoch > 0 ? m->best_epoch - 1 : 0) * 6;
        at_json_kv_number(j, "train_loss", h[1]);
        at_json_kv_number(j, "valid_loss", h[3]);
        at_json_kv_number(j, "valid_accuracy", h[4]);
    }
}

size_t at_mlp_n_parameters(const at_model *m) { return ((const mlp_model *)m->impl)->net.n_params; }

int64_t at_mlp_best_epoch(const at_model *m) { return ((const mlp_model *)m->impl)->best_epoch; }

void at_mlp_get_parameters(const at_model *m, float *out) {
    const mlp_model *mm = m->impl;
    if (mm->params) memcpy(out, mm->params, mm->net.n_params * sizeof(float));
    else memset(out, 0, mm->net.n_params * sizeof(float));
}

/* Peak memory of a fit: the float copy of the data, per-thread parameter replicas with Adam
 * moments, two gradient buffers per shard, and the activations of one batch per shard. */
static size_t mlp_memory_estimate(const struct at_model_config *mc, size_t n, size_t d, size_t k, int threads) {
    size_t sizes[AT_MLP_MAX_HIDDEN], nh = 0;
    at_error e;
    if (at_mlp_parse_hidden(mc->mlp.hidden, sizes, &nh, &e)) return 0;
    double params = 0, widest = (double)(d > k ? d : k), prev = (double)d;
    for (size_t l = 0; l < nh; l++) {
        params += prev * (double)sizes[l] + (double)sizes[l];
        prev = (double)sizes[l];
        if ((double)sizes[l] > widest) widest = (double)sizes[l];
    }
    params += prev * (double)k + (double)k;
    double shards = threads > 0 ? (double)threads : 1.0;
    double replicas = shards * params * 4.0 * 3.0 + 2.0 * shards * params * 4.0 + params * 4.0;
    double batch = shards * (double)mc->mlp.batch_size * widest * 4.0 * ((double)nh + 6.0);
    double data = (double)n * ((double)d * 4.0 + 16.0);
    double total = replicas + batch + data;
    return total >= (double)SIZE_MAX ? SIZE_MAX : (size_t)total;
}

const at_model_ops at_mlp_ops = {
    .memory_estimate = mlp_memory_estimate,
    .type = "mlp",
    .fit = mlp_fit,
    .predict_proba = mlp_predict_proba,
    .save = mlp_save,
    .load = mlp_load,
    .free = mlp_free,
    .importances = NULL,
    .history = mlp_history,
    .describe = mlp_describe,
};
