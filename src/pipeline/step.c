/* step.c - one model on prepared data (a table or an image set): fit, evaluate, and write
 * its run directory (config.ini, metrics.json, model.h5, predictions.csv, split.csv, plots/,
 * log.txt; checkpoint.h5 for families that checkpoint), the same for every family. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "astrotrain/atomic_file.h"
#include "astrotrain/comm.h"
#include "astrotrain/json.h"
#include "pipeline/plots.h"
#include "pipeline/predictions.h"
#include "pipeline/run_dir.h"
#include "pipeline/step.h"

/* ---- results ---------------------------------------------------------------------------- */

void at_step_result_free(at_step_result *r) {
    if (!r) return;
    at_metrics_free(&r->valid);
    at_metrics_free(&r->test);
    free(r->P_valid);
    free(r->P_test);
    at_bundle_free(r->bundle);
    memset(r, 0, sizeof *r);
}

static void json_counts(at_json *j, const char *key, const size_t *counts, char *const *names, size_t k) {
    at_json_key(j, key);
    at_json_begin_object(j);
    for (size_t c = 0; c < k; c++) at_json_kv_int(j, names[c], (int64_t)counts[c]);
    at_json_end_object(j);
}

static void json_history(at_json *j, const at_history *h) {
    at_json_key(j, "history");
    at_json_begin_object(j);
    for (size_t c = 0; c < h->n_cols; c++) {
        at_json_key(j, h->names[c]);
        at_json_begin_array(j);
        for (size_t r = 0; r < h->n_rows; r++) at_json_number(j, h->values[r * h->n_cols + c]);
        at_json_end_array(j);
    }
    at_json_end_object(j);
}

/* "distributed": how the run was spread over MPI ranks and what the communication cost
 * (rank 0's counters: payload bytes it sent into collectives, their number and time). */
static void json_distributed(at_json *j, const at_prepared *d, double fit_seconds) {
    int P = at_comm_size(d->comm);
    at_comm_stats st = at_comm_get_stats(d->comm);
    at_json_key(j, "distributed");
    at_json_begin_object(j);
    at_json_kv_int(j, "ranks", P);
    at_json_kv_int(j, "threads_per_rank", omp_get_max_threads());
    at_json_key(j, "train_rows_per_rank");
    at_json_begin_array(j);
    for (int r = 0; r < P; r++) at_json_number(j, d->train_per_rank ? (double)d->train_per_rank[r] : 0);
    at_json_end_array(j);
    at_json_kv_int(j, "bytes_communicated", (int64_t)st.bytes);
    at_json_kv_int(j, "collectives", (int64_t)st.calls);
    at_json_kv_number(j, "seconds_communicating", st.seconds);
    at_json_kv_number(j, "fit_seconds", fit_seconds);
    at_json_end_object(j);
}

static void build_metrics_json(const at_config *c, const at_prepared *d, const at_model *m, const at_step_result *r,
                               at_json *j) {
    char *const *names = d->class_names;
    at_json_begin_object(j);
    at_json_kv_string(j, "model", m->ops->type);
    at_json_kv_int(j, "seed", c->run.seed);
    at_json_kv_string(j, "name", r->name);
    at_json_kv_string(j, "astrotrain_version", AT_VERSION);
    const at_images *im = d->images;
    if (im) { /* image sets: the input size instead of thousands of pixel names */
        at_json_key(j, "input");
        at_json_begin_object(j);
        at_json_kv_int(j, "width", (int64_t)im->width);
        at_json_kv_int(j, "height", (int64_t)im->height);
        at_json_kv_int(j, "channels", (int64_t)im->channels);
        at_json_end_object(j);
    } else {
        at_json_key(j, "features");
        at_json_begin_array(j);
        for (size_t i = 0; i < d->n_features; i++) at_json_string(j, d->features[i]);
        at_json_end_array(j);
    }
    at_json_key(j, "data");
    at_json_begin_object(j);
    at_json_kv_string(j, "path", c->data.path);
    at_json_kv_int(j, "rows_read", (int64_t)d->rows_read);
    at_json_kv_int(j, "rows_dropped", (int64_t)d->rows_dropped);
    at_json_kv_int(j, "rows_dropped_missing", (int64_t)d->rows_missing);
    at_json_kv_int(j, "rows_dropped_unphysical", (int64_t)d->rows_unphysical);
    at_json_kv_int(j, "rows_after_undersampling", (int64_t)d->rows_after_undersampling);
    at_json_kv_int(j, "train", (int64_t)(d->train_rows_global ? d->train_global : d->train->n));
    at_json_kv_int(j, "validation", (int64_t)d->valid->n);
    at_json_kv_int(j, "test", (int64_t)d->test->n);
    json_counts(j, "class_counts_before", d->counts_before, names, d->k);
    json_counts(j, "class_counts_after", d->counts_after, names, d->k);
    if (d->pca) at_json_kv_int(j, "pca_components", (int64_t)d->pca->k);
    at_json_end_object(j);
    at_json_key(j, "timing");
    at_json_begin_object(j);
    at_json_kv_number(j, "fit_seconds", r->fit_seconds);
    at_json_kv_number(j, "predict_seconds", r->predict_seconds);
    const at_history *h = m->ops->history ? m->ops->history(m->impl) : NULL;
    if (im) {
        size_t epochs = h ? h->n_rows : 1;
        at_json_kv_number(j, "train_images_per_second",
                          r->fit_seconds > 0 ? (double)(d->train->n * epochs) / r->fit_seconds : 0);
        at_json_kv_number(j, "predict_images_per_second",
                          r->predict_seconds > 0 ? (double)d->test->n / r->predict_seconds : 0);
    }
    at_json_end_object(j);
    at_json_key(j, "validation");
    if (r->classifier && r->has_valid) at_metrics_json(&r->valid, (const char *const *)names, j);
    else at_json_null(j);
    at_json_key(j, "test");
    if (r->classifier) at_metrics_json(&r->test, (const char *const *)names, j);
    else at_json_null(j);
    const at_model_ops *ops = m->ops;
    if (ops->importances) {
        double *imp = malloc(m->n_features * sizeof *imp);
        if (imp && ops->importances(m->impl, imp) == AT_OK) {
            at_json_key(j, "feature_importances");
            at_json_begin_object(j);
            for (size_t f = 0; f < m->n_features; f++) at_json_kv_number(j, d->train->feature_names[f], imp[f]);
            at_json_end_object(j);
        }
        free(imp);
    }
    if (ops->describe) {
        at_json_key(j, "model_info");
        at_json_begin_object(j);
        ops->describe(m->impl, j);
        at_json_end_object(j);
    }
    if (h && h->n_rows) json_history(j, h);
    if (d->comm) json_distributed(j, d, r->fit_seconds);
    at_json_end_object(j);
}

/* transformed.csv: the PCA model's coordinates of the test part. */
static at_status write_transformed(const char *dir, const at_dataset *test, const at_pca *pca, at_error *err) {
    double *Z = at_malloc(test->n * pca->k + 1, sizeof *Z, err);
    if (!Z) return AT_ERR_MEMORY;
    at_status s = at_pca_transform(pca, test->X, test->n, Z, err);
    if (s) {
        free(Z);
        return s;
    }
    char path[AT_PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/transformed.csv", dir);
    at_afile *af = at_afile_open(path, err);
    if (!af) {
        free(Z);
        return err ? err->code : AT_ERR_IO;
    }
    FILE *f = at_afile_stream(af);
    fputs("row,true", f);
    for (size_t c = 0; c < pca->k; c++) fprintf(f, ",PC%zu", c + 1);
    fputc('\n', f);
    for (size_t i = 0; i < test->n; i++) {
        fprintf(f, "%lld,%s", (long long)test->row[i], test->class_names[test->y[i]]);
        for (size_t c = 0; c < pca->k; c++) fprintf(f, ",%.9g", Z[i * pca->k + c]);
        fputc('\n', f);
    }
    free(Z);
    return at_afile_commit(af, err);
}

/* The bundle owns copies of the prepared data's preprocessing. */
static at_status make_bundle(const at_config *c, const at_prepared *d, at_model *m, at_bundle **out, at_error *err) {
    at_bundle *b = at_calloc(1, sizeof *b, err);
    if (!b) return AT_ERR_MEMORY;
    b->model = m;
    b->d = d->n_features;
    b->k = d->k;
    if (!d->images) { /* an image model cleans nothing */
        b->use_sentinel = c->clean.use_sentinel;
        b->sentinel = c->clean.sentinel;
        b->missing = c->data.missing;
    }
    at_status s = AT_OK;
    b->feature_names = at_calloc(b->d, sizeof(char *), err);
    b->class_names = at_calloc(b->k, sizeof(char *), err);
    b->label = at_strdup(d->label ? d->label : c->data.label, err);
    if (!b->feature_names || !b->class_names || !b->label) s = AT_ERR_MEMORY;
    for (size_t i = 0; !s && i < b->d; i++)
        if (!(b->feature_names[i] = at_strdup(d->features[i], err))) s = AT_ERR_MEMORY;
    for (size_t i = 0; !s && i < b->k; i++)
        if (!(b->class_names[i] = at_strdup(d->class_names[i], err))) s = AT_ERR_MEMORY;
    if (!s && d->scaler)
        s = at_scaler_new(d->scaler->kind, d->scaler->d, d->scaler->shift, d->scaler->scale, &b->scaler, err);
    if (!s && d->pca) s = at_pca_copy(d->pca, &b->pca, err);
    if (!s && d->reference) s = at_reference_copy(d->reference, &b->reference, err);
    if (s) {
        if (!b->feature_names) b->d = 0;
        if (!b->class_names) b->k = 0;
        b->model = NULL; /* the caller still owns the model on failure */
        at_bundle_free(b);
        return s;
    }
    *out = b;
    return AT_OK;
}

/* Class probabilities of one part (table rows or images). */
static at_status predict_part(const at_model *m, const at_prepared *d, const at_dataset *part, const at_images *im,
                              double *P, int threads, at_error *err) {
    if (d->images) return at_model_predict_images(m, im, P, threads, err);
    return at_model_predict_proba(m, part->X, part->n, P, threads, err);
}

at_status at_run_step(const at_config *c, const at_prepared *d, at_model *model, const char *dir,
                      const at_run_options *opt, const at_progress *user, at_step_result *out, at_error *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->dir, sizeof out->dir, "%s", dir);
    snprintf(out->name, sizeof out->name, "%s", c->run.name);
    char path[AT_PATH_MAX + 300], ckpt[AT_PATH_MAX + 300];
    /* MPI: rank 0 writes the run directory; the others train and log through `user` only. */
    at_comm *comm = opt->comm;
    const int root = at_comm_is_root(comm), distributed = at_comm_size(comm) > 1;
    int final_agreement = 0;
    snprintf(path, sizeof path, "%s/plots", dir);
    at_status s = root ? at_mkdirs(path, err) : AT_OK;
    if (distributed) s = at_comm_agree(comm, s, err);
    if (s) {
        at_model_free(model);
        return s;
    }
    if (root) at_remove_stale_temps(path);
    snprintf(path, sizeof path, "%s/log.txt", dir);
    at_log_tee tee;
    memset(&tee, 0, sizeof tee);
    if (root && (s = at_log_tee_open(&tee, path, user, err))) {
        if (distributed) s = at_comm_agree(comm, s, err);
        at_model_free(model);
        return s;
    }
    if (distributed && (s = at_comm_agree(comm, AT_OK, err))) {
        if (root) at_log_tee_close(&tee);
        at_model_free(model);
        return s;
    }
    const at_progress *p = root ? &tee.progress : user;
    at_model *m = model;
    at_json json;
    at_json_init(&json);
    char *config_text = at_config_format(c);
    size_t k = d->k;
    int checkpoints = 0;
    if (!config_text) {
        s = at_fail(err, AT_ERR_MEMORY, "out of memory");
        goto done;
    }
    if (!m) s = at_model_create(c->model.type, c->model.params, d->train->d, k, &m, err);
    if (distributed) s = at_comm_agree(comm, s, err);
    if (s) goto done;
    snprintf(out->type, sizeof out->type, "%s", m->ops->type);
    checkpoints = at_model_has(m, AT_CAP_CHECKPOINT);
    /* A run that can be resumed keeps its configuration from the start (--resume reads it). */
    if (root && checkpoints && !opt->resume_dir) s = at_write_text_file(dir, "config.ini", config_text, err);
    if (distributed) s = at_comm_agree(comm, s, err);
    if (s) goto done;
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", dir);
    at_fit_input in = {.threads = opt->threads, .seed = (uint64_t)c->run.seed, .progress = p,
                       .class_weight = d->class_weight, .checkpoint = checkpoints ? ckpt : NULL,
                       .resume = checkpoints && opt->resume_dir, .comm = comm, .device = c->run.device,
                       .distribute_rows = c->run.distribute == 1};
    if (d->images) {
        in.train_images = d->images_train;
        in.valid_images = d->images_valid;
        at_progress_log(p, "fitting %s on %zu images of %zux%zux%zu, %d thread(s)", m->ops->type, d->train->n,
                        d->images->height, d->images->width, d->images->channels, opt->threads);
    } else {
        in.train = d->train;
        in.valid = d->valid->n ? d->valid : NULL;
        at_progress_log(p, "fitting %s on %zu rows x %zu features, %d thread(s)", m->ops->type, d->train->n,
                        d->train->d, opt->threads);
    }
    double t0 = omp_get_wtime();
    s = at_model_fit(m, &in, err);
    if (distributed) s = at_comm_agree(comm, s, err);
    if (s) goto done;
    out->fit_seconds = omp_get_wtime() - t0;
    s = at_stop_point(p, "fitting", err);
    if (distributed) s = at_comm_agree(comm, s, err);
    if (s) goto done;
    /* Evaluation and writing are rank 0's (valid and test are whole there); the others wait
     * for its verdict at the end. */
    final_agreement = distributed;
    if (!root) {
        /* The other ranks keep the fitted model as a bundle too (an ensemble blends its
         * members on every rank), but evaluate and write nothing. */
        out->classifier = !at_model_has(m, AT_CAP_TRANSFORM);
        if (!(s = make_bundle(c, d, m, &out->bundle, err))) m = NULL;
        goto done;
    }
    out->classifier = !at_model_has(m, AT_CAP_TRANSFORM);
    if (out->classifier) {
        out->P_test = at_malloc(d->test->n * k + 1, sizeof(double), err);
        out->P_valid = at_malloc((d->valid->n ? d->valid->n : 1) * k, sizeof(double), err);
        if (!out->P_test || !out->P_valid) {
            s = AT_ERR_MEMORY;
            goto done;
        }
        if ((s = predict_part(m, d, d->valid, d->images_valid, out->P_valid, opt->threads, err))) goto done;
        t0 = omp_get_wtime();
        if ((s = predict_part(m, d, d->test, d->images_test, out->P_test, opt->threads, err))) goto done;
        out->predict_seconds = omp_get_wtime() - t0;
        double thr = c->metrics.confident_threshold;
        out->has_valid = d->valid->n > 0;
        if (out->has_valid &&
            (s = at_metrics_compute(d->valid->y, out->P_valid, d->valid->n, k, thr, &out->valid, err)))
            goto done;
        if ((s = at_metrics_compute(d->test->y, out->P_test, d->test->n, k, thr, &out->test, err))) goto done;
        at_progress_log(p, "fit %.3f s, predict %.3f s; test accuracy %.4f, macro-F1 %.4f", out->fit_seconds,
                        out->predict_seconds, out->test.accuracy, out->test.macro_f1);
    } else {
        at_progress_log(p, "fit %.3f s (a transform: no class probabilities)", out->fit_seconds);
    }
    /* The last safe point: once writing starts it finishes (each file is atomic anyway). */
    if ((s = at_stop_point(p, "evaluation", err))) goto done;
    build_metrics_json(c, d, m, out, &json);
    if (json.failed) {
        s = at_fail(err, AT_ERR_MEMORY, "out of memory writing results");
        goto done;
    }
    if ((s = make_bundle(c, d, m, &out->bundle, err))) goto done;
    m = NULL; /* owned by the bundle now */
    /* monitor: the reference learns the test outcome (class mix, winning probability, accuracy). */
    if (out->bundle->reference && out->classifier)
        at_reference_set_test(out->bundle->reference, d->test->y, out->P_test, d->test->n);
    out->bundle->config_text = config_text;
    out->bundle->metrics_json = json.buf;
    config_text = NULL;
    json.buf = NULL;
    snprintf(path, sizeof path, "%s/model.h5", dir);
    if ((s = at_bundle_save(out->bundle, path, err))) goto done;
    if ((s = at_write_text_file(dir, "metrics.json", out->bundle->metrics_json, err))) goto done;
    if ((s = at_write_text_file(dir, "config.ini", out->bundle->config_text, err))) goto done;
    snprintf(path, sizeof path, "%s/predictions.csv", dir);
    if (out->classifier)
        s = at_write_predictions_file(path, d->test, out->P_test, (const char *const *)d->class_names, k, 1, err);
    else s = write_transformed(dir, d->test, at_pca_of(out->bundle->model), err);
    if (s) goto done;
    snprintf(path, sizeof path, "%s/split.csv", dir);
    at_dataset all_train = {.n = d->train_global, .row = d->train_rows_global};
    if ((s = at_write_split_file(path, d->train_rows_global ? &all_train : d->train, d->valid, d->test, err))) goto done;
    if (c->plots.enabled) {
        snprintf(path, sizeof path, "%s/plots", dir);
        at_run_figures f = {(const char *const *)d->class_names,
                            k,
                            d->counts_before,
                            d->counts_after,
                            out->classifier ? &out->test : NULL,
                            d->test->y,
                            out->P_test,
                            d->test->n,
                            out->bundle->model,
                            d->images ? NULL : (const char *const *)d->train->feature_names,
                            d->images ? 0 : d->train->d,
                            d->images ? NULL : d->train};
        s = at_run_plots(path, &f, c->plots.render, &out->plots_written, &out->plots_rendered, out->plot_warning,
                         sizeof out->plot_warning, err);
        /* Ctrl-C reaches gnuplot too (same process group): say why rendering stopped. */
        if (s && at_progress_stopped(p)) s = at_stop_point(p, "rendering the plots", err);
        if (s) goto done;
        if (d->images)
            at_image_grids(path, d->images, d->images_test, d->test->row, out->P_test,
                           (const char *const *)d->class_names, k, out->plot_warning, sizeof out->plot_warning);
        at_progress_log(p, "plots: %zu scripts, %zu rendered%s%s%s", out->plots_written, out->plots_rendered,
                        d->images ? ", image grids samples.png and misclassified.png" : "",
                        out->plot_warning[0] ? "; " : "", out->plot_warning);
    }
    at_progress_log(p, "done: %s", dir);
done:
    if (s == AT_ERR_INTERRUPTED) {
        if (checkpoints) at_interrupted_resume_message(err, dir);
        else at_interrupted_message(err, dir);
    }
    if (final_agreement) s = at_comm_agree(comm, s, err);
    if (s && err) at_progress_log(p, "error: %s", err->msg);
    if (root) at_log_tee_close(&tee);
    at_model_free(m);
    free(config_text);
    at_json_free(&json);
    return s;
}
