/* train.c - the training loop: shuffled mini-batches, augmentation prepared by a
 * background thread while the current batch trains, the optimiser step, validation after
 * every epoch, the best epoch kept, early stopping, and checkpoints that let an
 * interrupted run finish with exactly the model an uninterrupted one would have.
 *
 * Every random draw comes from streams named by (epoch seed, batch): the epoch seed is
 * drawn from one master generator whose state is in the checkpoint, so a batch is the
 * same whether it is prepared before or after a resume, and whichever thread prepares it.
 *
 * On a GPU (opt->device, issue 17) the net's parameters, gradients, statistics and the
 * optimiser's moments live on the device while it trains; the host copies are refreshed
 * before a checkpoint or a best-epoch copy, and at the end. The batch slots are page-locked
 * host memory there; the background thread fills the next while the GPU runs the current. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/atomic_file.h"
#include "models/cnn/cnn_internal.h"
#include "models/nn/device.h"

typedef struct batch_slot {
    float *x;
    int32_t *y;
    size_t m;
} batch_slot;

/* What the preparing thread needs; read-only while it runs. */
typedef struct prep_job {
    const at_cnn *net;
    const at_images *im;
    const size_t *perm;
    size_t b, B;
    uint64_t epoch_seed;
    uint8_t *scratch; /* (B + 1) images */
    batch_slot *slot;
} prep_job;

static void prepare_batch(const prep_job *j) {
    const at_cnn_params *q = &j->net->spec->p;
    size_t h = q->height, w = q->width, c = q->channels, isz = h * w * c;
    size_t i0 = j->b * j->B, m = j->im->n - i0 < j->B ? j->im->n - i0 : j->B;
    at_rng r;
    at_rng_init(&r, j->epoch_seed, 1 + j->b);
    uint8_t *tmp = j->scratch + j->B * isz;
    for (size_t i = 0; i < m; i++) {
        size_t src = j->perm[i0 + i];
        uint8_t *img = j->scratch + i * isz;
        memcpy(img, j->im->pixels + src * isz, isz);
        j->slot->y[i] = j->im->y[src];
        if (q->augment_d4) {
            int e = (int)at_rng_below(&r, 8);
            if (e) at_image_d4(img, tmp, h, w, c, e);
        }
        if (q->shift) {
            int span = 2 * (int)q->shift + 1;
            int dx = (int)at_rng_below(&r, (uint64_t)span) - (int)q->shift;
            int dy = (int)at_rng_below(&r, (uint64_t)span) - (int)q->shift;
            if (dx || dy) at_image_shift(img, tmp, h, w, c, dx, dy);
        }
        if (q->brightness > 0) at_image_brightness(img, h, w, c, 1.0 + q->brightness * (2 * at_rng_uniform(&r) - 1));
    }
    cnn_standardise(j->net, j->scratch, m, j->slot->x);
    j->slot->m = m;
}

static void *prep_thread(void *arg) {
    prepare_batch(arg);
    return NULL;
}

/* Everything that moves during training (and is in the checkpoint). */
typedef struct train_state {
    nn_optim opt;
    at_rng master;
    uint64_t epoch_seed;
    size_t epoch, batch; /* next batch to train */
    double loss_sum, weight_sum;
    size_t correct, seen;
    float *best_params, *best_stats;
    double best_acc, best_loss;
    size_t best_epoch, bad_epochs;
    int stopped_early;
} train_state;

/* The optimiser's moments in host memory: o->m/v themselves on the CPU, else copies into
 * hm/hv (np floats each, freed by the caller). */
static at_status moments_host(const at_cnn *net, const nn_optim *o, float **hm, float **hv, const float **m,
                              const float **v, at_error *err) {
    *hm = *hv = NULL, *m = o->m, *v = o->v;
    if (!net->nn.be->on_device) return AT_OK;
    *hm = at_malloc(net->nn.np ? net->nn.np : 1, sizeof(float), err);
    *hv = at_malloc(net->nn.np ? net->nn.np : 1, sizeof(float), err);
    if (!*hm || !*hv) return AT_ERR_MEMORY;
    nn_optim_get(o, &net->nn, *hm, *hv);
    *m = *hm, *v = *hv;
    return AT_OK;
}

static at_status save_checkpoint(const at_cnn *net, const train_state *t, const char *path, at_error *err) {
    nn_net_download((nn_net *)&net->nn); /* a GPU's parameters into the host copy that is saved */
    float *hm = NULL, *hv = NULL;
    const float *om, *ov;
    at_status s = moments_host(net, &t->opt, &hm, &hv, &om, &ov, err);
    if (s) {
        free(hm), free(hv);
        return s;
    }
    at_store *st = NULL;
    s = at_store_create(path, &st, err);
    if (s) {
        free(hm), free(hv);
        return s;
    }
    int64_t rng[4], ints[6] = {(int64_t)t->epoch, (int64_t)t->batch, (int64_t)t->opt.t, (int64_t)t->correct,
                               (int64_t)t->seen, (int64_t)t->bad_epochs};
    for (int i = 0; i < 4; i++) memcpy(&rng[i], &t->master.s[i], sizeof rng[i]);
    int64_t es;
    memcpy(&es, &t->epoch_seed, sizeof es);
    double reals[4] = {t->loss_sum, t->weight_sum, t->best_acc, t->best_loss};
    if (!(s = at_cnn_save(net, st, "net/", err)) && !(s = at_store_put_f32(st, "train/m", om, net->nn.np, err)) &&
        !(s = at_store_put_f32(st, "train/v", ov, net->nn.np, err)) &&
        !(s = at_store_put_i64(st, "train/counters", ints, 6, err)) &&
        !(s = at_store_put_i64(st, "train/rng", rng, 4, err)) && !(s = at_store_put_int(st, "train/epoch_seed", es, err)) &&
        !(s = at_store_put_f64(st, "train/sums", reals, 4, err)) &&
        !(s = at_store_put_int(st, "train/best_epoch", (int64_t)t->best_epoch, err)) &&
        !(s = at_store_put_f32(st, "train/best_params", t->best_params, net->nn.np, err)))
        s = at_store_put_f32(st, "train/best_stats", t->best_stats, net->nn.ns ? net->nn.ns : 1, err);
    free(hm), free(hv);
    if (s) {
        at_store_close(st);
        return s;
    }
    return at_store_commit(st, err);
}

static at_status load_checkpoint(at_cnn *net, train_state *t, const char *path, at_error *err) {
    at_store *st = NULL;
    at_status s = at_store_open(path, &st, err);
    if (s) return s;
    at_cnn *saved = NULL;
    int64_t rng[4], ints[6], es = 0, be = 0;
    double reals[4];
    float *hm = NULL, *hv = NULL;
    const float *om, *ov;
    if ((s = moments_host(net, &t->opt, &hm, &hv, &om, &ov, err))) goto done;
    if ((s = at_cnn_load(st, "net/", &saved, err))) goto done;
    /* the layers must match; [net] (epochs, learning rate, ...) may change between runs */
    const char *la = strstr(saved->spec->text, "\n["), *lb = strstr(net->spec->text, "\n[");
    if (saved->nn.np != net->nn.np || saved->nn.ns != net->nn.ns || !la || !lb || strcmp(la, lb) != 0) {
        s = at_fail(err, AT_ERR_MODEL, "%s: the checkpoint is of another network (was the configuration changed?)",
                    path);
        goto done;
    }
    memcpy(net->nn.params, saved->nn.params, net->nn.np * sizeof(float));
    memcpy(net->nn.stats, saved->nn.stats, net->nn.ns * sizeof(float));
    memcpy(net->mean, saved->mean, sizeof net->mean);
    memcpy(net->stdev, saved->stdev, sizeof net->stdev);
    free(net->hist);
    net->hist = saved->hist, net->hist_rows = saved->hist_rows, net->hist_cap = saved->hist_cap;
    saved->hist = NULL;
    if ((s = at_store_read_f32(st, "train/m", (float *)om, net->nn.np, err)) ||
        (s = at_store_read_f32(st, "train/v", (float *)ov, net->nn.np, err)))
        goto done;
    if (hm) nn_optim_set(&t->opt, &net->nn, hm, hv);
    nn_net_upload(&net->nn); /* the checkpoint's parameters onto a GPU */
    size_t cnt = 0;
    int64_t *p = NULL;
    if ((s = at_store_get_i64(st, "train/counters", &p, &cnt, err))) goto done;
    if (cnt != 6) {
        free(p);
        s = at_fail(err, AT_ERR_MODEL, "%s: bad train/counters", path);
        goto done;
    }
    memcpy(ints, p, sizeof ints);
    free(p);
    if ((s = at_store_get_i64(st, "train/rng", &p, &cnt, err))) goto done;
    if (cnt != 4) {
        free(p);
        s = at_fail(err, AT_ERR_MODEL, "%s: bad train/rng", path);
        goto done;
    }
    memcpy(rng, p, sizeof rng);
    free(p);
    if ((s = at_store_get_int(st, "train/epoch_seed", &es, err)) ||
        (s = at_store_read_f64(st, "train/sums", reals, 4, err)) ||
        (s = at_store_get_int(st, "train/best_epoch", &be, err)) ||
        (s = at_store_read_f32(st, "train/best_params", t->best_params, net->nn.np, err)) ||
        (s = at_store_read_f32(st, "train/best_stats", t->best_stats, net->nn.ns ? net->nn.ns : 1, err)))
        goto done;
    if (ints[0] < 0 || ints[1] < 0 || ints[2] < 0 || ints[3] < 0 || ints[4] < 0 || ints[5] < 0) {
        s = at_fail(err, AT_ERR_MODEL, "%s: negative counters (corrupt checkpoint)", path);
        goto done;
    }
    t->epoch = (size_t)ints[0], t->batch = (size_t)ints[1], t->opt.t = ints[2];
    t->correct = (size_t)ints[3], t->seen = (size_t)ints[4], t->bad_epochs = (size_t)ints[5];
    for (int i = 0; i < 4; i++) memcpy(&t->master.s[i], &rng[i], sizeof rng[i]);
    memcpy(&t->epoch_seed, &es, sizeof es);
    t->loss_sum = reals[0], t->weight_sum = reals[1], t->best_acc = reals[2], t->best_loss = reals[3];
    t->best_epoch = (size_t)be;
done:
    free(hm), free(hv);
    at_cnn_free(saved);
    at_store_close(st);
    return s;
}

/* Validation loss (unweighted mean cross-entropy) and accuracy. */
static at_status evaluate(const at_cnn *net, const at_images *im, int threads, double *loss, double *acc,
                          at_error *err) {
    size_t n = im->n, k = net->nn.k;
    double *P = at_malloc(n * k, sizeof *P, err);
    if (!P) return AT_ERR_MEMORY;
    at_status s = at_cnn_predict_images(net, im, 0, P, threads, err);
    if (!s) {
        double l = 0;
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) {
            const double *p = P + i * k;
            size_t best = 0;
            for (size_t c = 1; c < k; c++)
                if (p[c] > p[best]) best = c;
            ok += (int32_t)best == im->y[i];
            double py = p[im->y[i]];
            l -= log(py > 1e-15 ? py : 1e-15);
        }
        *loss = l / (double)n;
        *acc = (double)ok / (double)n;
    }
    free(P);
    return s;
}

static at_status check_images(const at_cnn *net, const at_images *im, const char *what, at_error *err) {
    const at_cnn_params *q = &net->spec->p;
    if (!im->y) return at_fail(err, AT_ERR_DATA, "%s images have no labels", what);
    if (im->height != q->height || im->width != q->width || im->channels != q->channels)
        return at_fail(err, AT_ERR_DATA, "%s images are %zux%zux%zu but [net] expects %zux%zux%zu", what, im->height,
                       im->width, im->channels, q->height, q->width, q->channels);
    for (size_t i = 0; i < im->n; i++)
        if (im->y[i] < 0 || (size_t)im->y[i] >= net->nn.k)
            return at_fail(err, AT_ERR_DATA, "%s image %zu has label %d, outside 0..%zu", what, i, im->y[i],
                           net->nn.k - 1);
    return AT_OK;
}

static at_status train_on(at_cnn *net, const at_images *train, const at_images *valid,
                          const at_cnn_train_options *opt, at_error *err) {
    const at_cnn_params *q = &net->spec->p;
    const at_progress *prog = opt->progress;
    at_status s;
    if ((s = check_images(net, train, "training", err))) return s;
    if (train->n == 0) return at_fail(err, AT_ERR_DATA, "no training images");
    int has_valid = valid && valid->n > 0;
    if (has_valid && (s = check_images(net, valid, "validation", err))) return s;
    if ((q->augment_d4 || q->tta) && q->height != q->width)
        return at_fail(err, AT_ERR_CONFIG, "augment_d4 and tta need square images (the input is %zux%zu)", q->height,
                       q->width);
    int threads = opt->threads > 0 ? opt->threads : 1;
    size_t B = q->batch, n = train->n, isz = q->height * q->width * q->channels;
    size_t steps = (n + B - 1) / B;
    train_state t;
    memset(&t, 0, sizeof t);
    cnn_work *w = NULL;
    batch_slot slots[2] = {{0}, {0}};
    uint8_t *scratch[2] = {NULL, NULL};
    size_t *perm = NULL;
    if ((s = nn_optim_init(&net->nn, &t.opt, err))) return s;
    t.best_params = at_malloc(net->nn.np, sizeof(float), err);
    t.best_stats = at_calloc(net->nn.ns ? net->nn.ns : 1, sizeof(float), err);
    perm = at_malloc(n, sizeof *perm, err);
    for (int i = 0; i < 2; i++) {
        slots[i].x = net->nn.be->host_alloc(net->nn.be, B * isz * sizeof(float)); /* page-locked on a GPU */
        slots[i].y = at_malloc(B, sizeof(int32_t), err);
        scratch[i] = at_malloc((B + 1) * isz, 1, err);
    }
    if (!t.best_params || !t.best_stats || !perm || !slots[0].x || !slots[1].x || !slots[0].y || !slots[1].y ||
        !scratch[0] || !scratch[1]) {
        s = at_fail(err, AT_ERR_MEMORY, "out of memory (training batches of %zu images)", B);
        goto done;
    }
    if ((s = nn_work_new(&net->nn, B, threads, 1, &w, err))) goto done;
    at_rng_init(&t.master, opt->seed, 0xC0FFEE);
    t.best_acc = -1, t.best_loss = INFINITY;
    memcpy(t.best_params, net->nn.params, net->nn.np * sizeof(float));
    memcpy(t.best_stats, net->nn.stats, net->nn.ns * sizeof(float));
    net->hist_rows = 0;
    if (opt->resume) {
        if ((s = load_checkpoint(net, &t, opt->checkpoint, err))) goto done;
        at_progress_log(prog, "resuming from %s at epoch %zu, batch %zu of %zu", opt->checkpoint, t.epoch + 1,
                        t.batch, steps);
    }
    const nn_opt_conf oc = cnn_opt_conf(q);
    for (; t.epoch < q->epochs && !t.stopped_early; t.epoch++) {
        if ((s = cnn_transfer_apply(net, t.epoch, err))) goto done; /* freezing, per-block rates */
        if (t.batch == 0) {
            t.epoch_seed = at_rng_u64(&t.master);
            t.loss_sum = t.weight_sum = 0;
            t.correct = t.seen = 0;
        }
        for (size_t i = 0; i < n; i++) perm[i] = i;
        at_rng pr;
        at_rng_init(&pr, t.epoch_seed, 0);
        at_rng_shuffle(&pr, perm, n);
        prep_job jobs[2];
        for (int i = 0; i < 2; i++)
            jobs[i] = (prep_job){net, train, perm, 0, B, t.epoch_seed, scratch[i], &slots[i]};
        jobs[0].b = t.batch;
        prepare_batch(&jobs[0]);
        int cur = 0;
        char detail[128];
        for (; t.batch < steps; t.batch++) {
            if (at_progress_stopped(prog)) {
                if (opt->checkpoint && (s = save_checkpoint(net, &t, opt->checkpoint, err))) goto done;
                s = at_fail(err, AT_ERR_INTERRUPTED, "interrupted at epoch %zu, batch %zu of %zu%s", t.epoch + 1,
                            t.batch, steps, opt->checkpoint ? "; checkpoint written" : "");
                goto done;
            }
            pthread_t th;
            int threaded = 0;
            if (t.batch + 1 < steps) {
                jobs[1 - cur].b = t.batch + 1;
                threaded = pthread_create(&th, NULL, prep_thread, &jobs[1 - cur]) == 0;
            }
            batch_slot *sl = &slots[cur];
            double lr = cnn_learning_rate(q, t.opt.t, steps);
            w->dropout_seed = t.epoch_seed ^ (0x9E3779B97F4A7C15ull * (t.batch + 1));
            nn_forward(&net->nn, w, sl->x, sl->m);
            double loss = cnn_backward(net, w, sl->x, sl->y, sl->m, opt->class_weight);
            nn_optim_step(&net->nn, &oc, &t.opt, nn_grads(&net->nn), lr);
            if ((s = net->nn.be->status(net->nn.be, err))) goto done; /* a GPU error: one line */
            const float *P = nn_output(&net->nn, w, sl->m);
            double wsum = 0;
            for (size_t i = 0; i < sl->m; i++) {
                const float *p = P + i * net->nn.k;
                size_t best = 0;
                for (size_t c = 1; c < net->nn.k; c++)
                    if (p[c] > p[best]) best = c;
                t.correct += (int32_t)best == sl->y[i];
                wsum += opt->class_weight ? opt->class_weight[sl->y[i]] : 1.0;
            }
            t.loss_sum += loss * wsum, t.weight_sum += wsum, t.seen += sl->m;
            if (t.batch + 1 < steps) {
                if (threaded) pthread_join(th, NULL);
                else prepare_batch(&jobs[1 - cur]);
                cur = 1 - cur;
            }
            snprintf(detail, sizeof detail, "loss %.4f acc %.4f lr %.3g", t.loss_sum / t.weight_sum,
                     (double)t.correct / (double)t.seen, lr);
            char stage[64];
            snprintf(stage, sizeof stage, "epoch %zu/%zu", t.epoch + 1, q->epochs);
            at_progress_update(prog, stage, t.batch + 1, steps, detail);
        }
        t.batch = 0;
        double vl = NAN, va = NAN;
        if (has_valid && (s = evaluate(net, valid, threads, &vl, &va, err))) {
            goto done;
        }
        double row[CNN_HIST_COLS] = {(double)(t.epoch + 1), t.loss_sum / t.weight_sum,
                                     (double)t.correct / (double)t.seen, vl, va,
                                     cnn_learning_rate(q, t.opt.t ? t.opt.t - 1 : 0, steps)};
        if ((s = cnn_history_add(net, row, err))) {
            goto done;
        }
        /* best epoch: higher validation accuracy, ties to lower validation loss; without a
         * validation part, the last epoch */
        int better = !has_valid || va > t.best_acc || (va == t.best_acc && vl < t.best_loss);
        if (better) {
            t.best_acc = has_valid ? va : 0, t.best_loss = has_valid ? vl : 0;
            t.best_epoch = t.epoch + 1;
            t.bad_epochs = 0;
            nn_net_download(&net->nn);
            memcpy(t.best_params, net->nn.params, net->nn.np * sizeof(float));
            memcpy(t.best_stats, net->nn.stats, net->nn.ns * sizeof(float));
        } else {
            t.bad_epochs++;
        }
        at_progress_log(prog, "epoch %zu/%zu: train loss %.4f acc %.4f; validation loss %.4f acc %.4f%s",
                        t.epoch + 1, q->epochs, row[1], row[2], vl, va, better ? " *" : "");
        if (q->patience && t.bad_epochs >= q->patience) {
            at_progress_log(prog, "early stop: no better validation accuracy in %zu epochs (best: epoch %zu)",
                            q->patience, t.best_epoch);
            t.stopped_early = 1;
        }
        if (opt->checkpoint) {
            train_state next = t;
            next.epoch = t.stopped_early ? q->epochs : t.epoch + 1; /* a finished run resumes as finished */
            if ((s = save_checkpoint(net, &next, opt->checkpoint, err))) {
                goto done;
            }
        }
    }
    memcpy(net->nn.params, t.best_params, net->nn.np * sizeof(float));
    memcpy(net->nn.stats, t.best_stats, net->nn.ns * sizeof(float));
    nn_net_upload(&net->nn); /* the device copy follows, so that detaching keeps the best epoch */
    net->best_epoch = t.best_epoch;
    s = AT_OK;
done:
    nn_optim_free(&t.opt);
    free(t.best_params), free(t.best_stats), free(perm);
    for (int i = 0; i < 2; i++)
        net->nn.be->host_free(net->nn.be, slots[i].x), free(slots[i].y), free(scratch[i]);
    nn_work_free(w);
    return s;
}

at_status cnn_train_with(at_cnn *net, const at_nn_backend *be, const at_images *train, const at_images *valid,
                         const at_cnn_train_options *opt, at_error *err) {
    if (be->on_device)
        at_progress_log(opt->progress, "training on %s%s", be->name,
                        net->spec->p.precision == AT_CNN_BF16 ? " (bf16)" : "");
    at_status s = nn_net_attach(&net->nn, be, err);
    if (!s) {
        s = train_on(net, train, valid, opt, err);
        if (!s) s = be->status(be, err);
    }
    nn_net_detach(&net->nn); /* parameters back in host memory; the net is on the CPU again */
    return s;
}

at_status at_cnn_train(at_cnn *net, const at_images *train, const at_images *valid, const at_cnn_train_options *opt,
                       at_error *err) {
    const at_nn_backend *be = NULL;
    at_status s = nn_device_open(opt->device, net->spec->p.precision == AT_CNN_BF16, &be, err);
    if (s) return s;
    s = cnn_train_with(net, be, train, valid, opt, err);
    nn_device_close(be);
    return s;
}
