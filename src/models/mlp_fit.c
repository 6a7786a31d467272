/* mlp_fit.c - the MLP's training loop on the engine: mini-batches cut into shards, one
 * replica of the parameters and optimiser state per thread, class weights, validation,
 * learning curves and early stopping restoring the best epoch's weights.
 *
 * Threads: each mini-batch is cut into S shards (S = threads, fewer for tiny batches);
 * every shard runs its forward and backward pass on one thread (at 256 x 64 the GEMMs are
 * too small for BLAS threads to pay; the caller sets BLAS to one thread). After one
 * barrier every thread sums the shards' gradients in shard order and applies the same
 * update to its own copy of the parameters. The work is defined by S, not by the threads
 * that happen to run it, so a given seed and thread count always give the same weights. */
#include <math.h>
#include <omp.h>

#include "astrotrain/comm.h"
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/forest.h" /* at_class_weight */
#include "models/mlp_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax(void) { _mm_pause(); }
#else
static inline void cpu_relax(void) {}
#endif

#define MLP_MIN_SHARD_ROWS 16
#define MLP_BARRIER_SPIN 2000
/* Random streams: the initial weights use 0x1000 + layer (mlp_net.c). */
#define MLP_STREAM_SHUFFLE 0x2000000ULL
#define MLP_STREAM_DROPOUT 0x4000000000ULL

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

/* Class weights of the labelled rows: balanced gives class c the weight n / (k * n_c),
 * none gives 1. NULL when out of memory. */
static double *class_weights(const at_dataset *tr, size_t k, int mode, at_comm *comm, at_error *err) {
    double *cw = at_malloc(k, sizeof(double), err);
    int64_t *counts = at_calloc(k + 1, sizeof(int64_t), err);
    if (!cw || !counts) {
        free(cw), free(counts);
        return NULL;
    }
    for (size_t i = 0; i < tr->n; i++)
        if (tr->y[i] >= 0 && (size_t)tr->y[i] < k) counts[tr->y[i]]++, counts[k]++;
    /* Across MPI ranks: the counts of every rank's rows. */
    if (at_comm_sum_i64(comm, counts, k + 1, err)) {
        free(cw), free(counts);
        return NULL;
    }
    size_t n_lab = (size_t)counts[k];
    for (size_t c = 0; c < k; c++)
        cw[c] = mode == AT_CLASS_WEIGHT_BALANCED && counts[c] ? (double)n_lab / ((double)k * (double)counts[c])
                                                              : 1.0;
    free(counts);
    return cw;
}

at_status mlp_fit(void *impl, const at_fit_input *in, at_error *err) {
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

    /* Across MPI ranks (data-parallel SGD): every rank takes its share of each global batch,
     * and one allreduce per step sums the gradients (weighted by each share's sample weight)
     * with the stop flag; every rank then applies the same update. */
    at_comm *comm = in->comm;
    const int dist = at_comm_size(comm) > 1;
    double *gdist = NULL;
    size_t n_global = tr->n;
    double *cw = class_weights(tr, k, p->class_weight, comm, err);
    if (!cw) {
        st = err && err->code ? err->code : AT_ERR_MEMORY;
        goto done;
    }

    if ((st = data_make(tr, k, cw, &dt, err))) goto done;
    if (dist) {
        int64_t ng = (int64_t)dt.n;
        if ((st = at_comm_sum_i64(comm, &ng, 1, err))) goto done;
        n_global = (size_t)ng;
    }
    if (dist ? n_global == 0 : dt.n == 0) {
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
    size_t B = (size_t)p->batch_size < n_global ? (size_t)p->batch_size : n_global;
    size_t nb = (n_global + B - 1) / B; /* batches per epoch: the same on every rank */
    if (dist) B = (dt.n + nb - 1) / nb; /* this rank's share of a batch */
    if (B == 0) B = 1;
    size_t S = in->threads > 0 ? (size_t)in->threads : 1;
    if (S > MLP_MAX_SHARDS) S = MLP_MAX_SHARDS;
    if (S > B / MLP_MIN_SHARD_ROWS) S = B / MLP_MIN_SHARD_ROWS > 0 ? B / MLP_MIN_SHARD_ROWS : 1;
    size_t shard_rows = (B + S - 1) / S;
    if (shard_rows < 256) shard_rows = 256; /* validation goes in chunks of this size too */
    size_t P = net->n_params;
    size_t epochs = (size_t)p->epochs;

    /* The model's engine network, with this fit's dropout. */
    mlp_engine_build(net, p->dropout, NULL, NULL, &m->eng);
    for (size_t s = 0; s < S; s++) {
        if ((st = mlp_shard_alloc(&sh[s], &m->eng.net, shard_rows, d, 1, err))) goto done;
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
        !(perm = at_malloc(dt.n + 1, sizeof(size_t), err)) ||
        (dist && !(gdist = at_malloc(P + 2, sizeof(double), err)))) {
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
                if (dist) start = dt.n * b / nb, rows = dt.n * (b + 1) / nb - start;
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
                if (dist) {
                    /* Thread 0 (MPI is SERIALIZED: one thread at a time) sums the ranks' gradients, each weighted by
                     * its share's sample weight, with the stop flags; all threads read the sum
                     * after a second barrier. */
                    if (tid == 0) {
                        for (size_t i = 0; i < P; i++) gdist[i] = (double)my->gsum[i] * wsum;
                        gdist[P] = wsum;
                        gdist[P + 1] = stop_flag[b & 1];
                        if (at_comm_sum_f64(comm, gdist, P + 2, NULL)) gdist[P + 1] = -1; /* MPI failed */
                        stop_flag[b & 1] = gdist[P + 1] != 0;
                    }
                    barrier_wait(&bar);
                    double wg = gdist[P] > 0 ? gdist[P] : 1.0;
                    for (size_t i = 0; i < P; i++) my->gsum[i] = (float)(gdist[i] / wg);
                    barrier_wait(&bar); /* gdist is refilled by the next step */
                }
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
                    if (dist) { /* training figures of every rank (validation is whole on each) */
                        double t[3] = {loss, wsum, (double)correct};
                        if (at_comm_sum_f64(comm, t, 3, NULL)) t[0] = NAN;
                        loss = t[0], wsum = t[1], correct = (size_t)t[2];
                    }
                    double *h = hist + rows_done * 6;
                    h[0] = (double)(e + 1);
                    h[1] = wsum > 0 ? loss / wsum : NAN;
                    h[2] = (double)correct / (double)n_global;
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

    mlp_adopt(m, rep[0].params, hist, rows_done, best_epoch, (int64_t)rows_done);
    rep[0].params = NULL;
    hist = NULL;
    m->eng.net.params = m->params;
    m->stopped_early = halt == 1;

done:
    if (!m->params) m->eng.net.params = NULL;
    for (size_t s = 0; s < MLP_MAX_SHARDS; s++) {
        mlp_shard_free(&sh[s]);
        free(grads[0][s]);
        free(grads[1][s]);
        free(rep[s].params);
        free(rep[s].gsum);
        nn_optim_free(&rep[s].opt);
    }
    data_free(&dt);
    data_free(&dv);
    free(cw);
    free(best);
    free(hist);
    free(perm);
    free(gdist);
    return st;
}

