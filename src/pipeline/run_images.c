/* run_images.c - an image experiment end to end (the CNN's counterpart of run.c), and
 * `predict` on images.
 *
 * The class balancing and stratified split are the tabular ones, run on a one-column
 * table of image indices, so both kinds of experiment split the same way. The run
 * directory holds what every run writes (config.ini, metrics.json with the same keys,
 * predictions.csv, split.csv, model.h5, plots/, log.txt) plus checkpoint.h5 (for --resume) and two
 * image grids: sample images per class and misclassified test images, each with a
 * captions file. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include "astrotrain/atomic_file.h"
#include "astrotrain/cnn.h"
#include "astrotrain/images.h"
#include "astrotrain/json.h"
#include "astrotrain/pipeline.h"
#include "pipeline/internal.h"

#define GRID_PER_CLASS 8
#define GRID_MISCLASSIFIED 64

typedef struct img_run {
    at_images *all, *train, *valid, *test;
    at_dataset *index, *balanced, *ds_train, *ds_valid, *ds_test;
    char **class_names;
    size_t k;
    at_cnn_spec *spec;
    at_model *model; /* owns the network */
    float *class_weight;
    double *P_valid, *P_test;
    size_t *counts_before, *counts_after;
    char **pixel_names;
    size_t n_pixel_names;
    char *config_text;
    at_json json;
} img_run;

static void img_run_free(img_run *r) {
    at_images_free(r->all), at_images_free(r->train), at_images_free(r->valid), at_images_free(r->test);
    at_dataset_free(r->index), at_dataset_free(r->balanced);
    at_dataset_free(r->ds_train), at_dataset_free(r->ds_valid), at_dataset_free(r->ds_test);
    if (r->class_names) at_strs_free(r->class_names, r->k);
    at_cnn_spec_free(r->spec);
    at_model_free(r->model);
    free(r->class_weight), free(r->P_valid), free(r->P_test), free(r->counts_before), free(r->counts_after);
    if (r->pixel_names) at_strs_free(r->pixel_names, r->n_pixel_names);
    free(r->config_text);
    at_json_free(&r->json);
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static at_status load_images(const char *path, const at_cnn_params *q, const at_config *c, at_images **out,
                             at_error *err) {
    at_image_load_options lo;
    at_image_load_options_default(&lo);
    lo.width = c && c->data.width ? (size_t)c->data.width : q->width;
    lo.height = c && c->data.height ? (size_t)c->data.height : q->height;
    lo.crop = c ? c->data.crop : 1.0;
    lo.channels = q->channels;
    lo.cache = c && c->data.cache[0] ? c->data.cache : NULL;
    if (is_dir(path)) return at_images_load_folder(path, &lo, out, err);
    return at_images_load_galaxy10(path, &lo, out, err);
}

/* Class names of a loaded set: the loader's, Galaxy10's for 10 unnamed classes, or numbers. */
static at_status class_names_of(const at_images *im, char ***out, size_t *k, at_error *err) {
    *k = im->n_classes;
    if (!*k && im->y)
        for (size_t i = 0; i < im->n; i++)
            if (im->y[i] >= 0 && (size_t)im->y[i] + 1 > *k) *k = (size_t)im->y[i] + 1;
    char **names = at_calloc(*k ? *k : 1, sizeof *names, err);
    if (!names) return AT_ERR_MEMORY;
    for (size_t c = 0; c < *k; c++) {
        char buf[32];
        const char *nm = im->class_names && im->class_names[c] ? im->class_names[c]
                         : *k == 10 ? at_galaxy10_classes[c] : (snprintf(buf, sizeof buf, "%zu", c), buf);
        if (!(names[c] = at_strdup(nm, err))) {
            at_strs_free(names, c);
            return AT_ERR_MEMORY;
        }
    }
    *out = names;
    return AT_OK;
}

static at_status subset_of(const at_images *all, const at_dataset *part, at_images **out, at_error *err) {
    size_t *idx = at_malloc(part->n ? part->n : 1, sizeof *idx, err);
    if (!idx) return AT_ERR_MEMORY;
    for (size_t i = 0; i < part->n; i++) idx[i] = (size_t)part->X[i];
    at_status s = at_images_subset(all, idx, part->n, out, err);
    free(idx);
    return s;
}

static at_status prepare(const at_config *c, img_run *r, at_run_summary *out, const at_progress *p, at_error *err) {
    const at_cnn_params *q = at_cnn_spec_params(r->spec);
    at_progress_log(p, "loading images from %s", c->data.path);
    at_status s = load_images(c->data.path, q, c, &r->all, err);
    if (s) return s;
    if (!r->all->y) return at_fail(err, AT_ERR_DATA, "%s: the images have no labels", c->data.path);
    if ((s = class_names_of(r->all, &r->class_names, &r->k, err))) return s;
    out->rows_read = r->all->n;
    at_progress_log(p, "read %zu images of %zux%zux%zu, %zu classes", r->all->n, r->all->height, r->all->width,
                    r->all->channels, r->k);
    if (r->k < 2) return at_fail(err, AT_ERR_DATA, "%s: %zu class(es); need at least 2", c->data.path, r->k);
    const char *fname[1] = {"image"};
    if ((s = at_dataset_new(r->all->n, 1, 1, fname, (const char *const *)r->class_names, r->k, &r->index, err)))
        return s;
    for (size_t i = 0; i < r->all->n; i++) {
        r->index->X[i] = (double)i;
        r->index->y[i] = r->all->y[i];
        r->index->row[i] = (int64_t)i;
        if (r->all->y[i] < 0 || (size_t)r->all->y[i] >= r->k)
            return at_fail(err, AT_ERR_DATA, "%s: image %zu has label %d, outside 0..%zu", c->data.path, i,
                           r->all->y[i], r->k - 1);
    }
    r->counts_before = at_calloc(r->k, sizeof(size_t), err);
    r->counts_after = at_calloc(r->k, sizeof(size_t), err);
    if (!r->counts_before || !r->counts_after) return AT_ERR_MEMORY;
    at_dataset_class_counts(r->index, r->counts_before);
    if ((s = at_undersample(r->index, (at_undersample_strategy)c->undersample.strategy,
                            (size_t)c->undersample.per_class, (uint64_t)c->run.seed, &r->balanced, err)))
        return s;
    at_dataset_class_counts(r->balanced, r->counts_after);
    out->rows_after_undersampling = r->balanced->n;
    if ((s = at_split_stratified(r->balanced, c->split.train, c->split.validation, c->split.test,
                                 (uint64_t)c->run.seed, &r->ds_train, &r->ds_valid, &r->ds_test, err)))
        return s;
    out->n_train = r->ds_train->n, out->n_valid = r->ds_valid->n, out->n_test = r->ds_test->n;
    if (!out->n_train || !out->n_test)
        return at_fail(err, AT_ERR_DATA, "%s: too few images to split (%zu train, %zu test)", c->data.path,
                       out->n_train, out->n_test);
    at_progress_log(p, "undersampling (%s): %zu images; split: %zu train, %zu validation, %zu test",
                    c->undersample.strategy == AT_UNDERSAMPLE_NONE ? "none" : "on", r->balanced->n, out->n_train,
                    out->n_valid, out->n_test);
    if ((s = subset_of(r->all, r->ds_train, &r->train, err)) || (s = subset_of(r->all, r->ds_valid, &r->valid, err)) ||
        (s = subset_of(r->all, r->ds_test, &r->test, err)))
        return s;
    if (((const at_cnn_model_params *)(const void *)c->model.params)->class_weight == AT_CLASS_WEIGHT_BALANCED) {
        size_t *cnt = at_calloc(r->k, sizeof *cnt, err);
        r->class_weight = at_malloc(r->k, sizeof(float), err);
        if (!cnt || !r->class_weight) {
            free(cnt);
            return AT_ERR_MEMORY;
        }
        at_dataset_class_counts(r->ds_train, cnt);
        for (size_t j = 0; j < r->k; j++)
            r->class_weight[j] = cnt[j] ? (float)((double)r->ds_train->n / ((double)r->k * (double)cnt[j])) : 0.0f;
        free(cnt);
    }
    return AT_OK;
}

static void json_counts(at_json *j, const char *key, const size_t *counts, char *const *names, size_t k) {
    at_json_key(j, key);
    at_json_begin_object(j);
    for (size_t c = 0; c < k; c++) at_json_kv_int(j, names[c], (int64_t)counts[c]);
    at_json_end_object(j);
}

static void build_metrics_json(const at_config *c, const img_run *r, const at_run_summary *out, at_json *j) {
    char *const *names = r->class_names;
    size_t k = r->k;
    const at_cnn_params *q = at_cnn_spec_params(r->spec);
    at_json_begin_object(j);
    at_json_kv_string(j, "model", c->model.type);
    at_json_kv_int(j, "seed", c->run.seed);
    at_json_kv_string(j, "name", c->run.name);
    at_json_kv_string(j, "astrotrain_version", AT_VERSION);
    at_json_key(j, "input");
    at_json_begin_object(j);
    at_json_kv_int(j, "width", (int64_t)q->width);
    at_json_kv_int(j, "height", (int64_t)q->height);
    at_json_kv_int(j, "channels", (int64_t)q->channels);
    at_json_end_object(j);
    at_json_key(j, "data");
    at_json_begin_object(j);
    at_json_kv_string(j, "path", c->data.path);
    at_json_kv_int(j, "rows_read", (int64_t)out->rows_read);
    at_json_kv_int(j, "rows_dropped", 0);
    at_json_kv_int(j, "rows_after_undersampling", (int64_t)out->rows_after_undersampling);
    at_json_kv_int(j, "train", (int64_t)out->n_train);
    at_json_kv_int(j, "validation", (int64_t)out->n_valid);
    at_json_kv_int(j, "test", (int64_t)out->n_test);
    json_counts(j, "class_counts_before", r->counts_before, names, k);
    json_counts(j, "class_counts_after", r->counts_after, names, k);
    at_json_end_object(j);
    at_json_key(j, "timing");
    at_json_begin_object(j);
    at_json_kv_number(j, "fit_seconds", out->fit_seconds);
    at_json_kv_number(j, "predict_seconds", out->predict_seconds);
    at_json_kv_number(j, "train_images_per_second",
                      out->fit_seconds > 0 ? (double)(out->n_train * at_cnn_history(at_cnn_model_net(r->model))->n_rows) /
                                                 out->fit_seconds : 0);
    at_json_kv_number(j, "predict_images_per_second",
                      out->predict_seconds > 0 ? (double)out->n_test / out->predict_seconds : 0);
    at_json_end_object(j);
    at_json_key(j, "validation");
    if (out->has_valid) at_metrics_json(&out->valid, (const char *const *)names, j);
    else at_json_null(j);
    at_json_key(j, "test");
    at_metrics_json(&out->test, (const char *const *)names, j);
    const at_model_ops *ops = r->model->ops;
    at_json_key(j, "model_info");
    at_json_begin_object(j);
    ops->describe(r->model->impl, j);
    at_json_kv_string(j, "tta", q->tta ? "d4" : "none");
    at_json_end_object(j);
    const at_history *h = ops->history(r->model->impl);
    if (h && h->n_rows) {
        at_json_key(j, "history");
        at_json_begin_object(j);
        for (size_t col = 0; col < h->n_cols; col++) {
            at_json_key(j, h->names[col]);
            at_json_begin_array(j);
            for (size_t row = 0; row < h->n_rows; row++) at_json_number(j, h->values[row * h->n_cols + col]);
            at_json_end_array(j);
        }
        at_json_end_object(j);
    }
    at_json_end_object(j);
}

/* Sample images per class and misclassified test images, as PNG grids with captions. A
 * failure here is a warning: the run's results are already safe. */
static void image_grids(const char *plots, img_run *r, at_run_summary *out) {
    at_error e = {0};
    char path[AT_PATH_MAX + 400];
    size_t *idx = malloc((r->k * GRID_PER_CLASS + GRID_MISCLASSIFIED) * sizeof *idx);
    if (!idx) return;
    size_t m = 0;
    at_afile *cap;
    snprintf(path, sizeof path, "%s/samples.txt", plots);
    if ((cap = at_afile_open(path, &e))) {
        FILE *f = at_afile_stream(cap);
        fprintf(f, "# samples.png: up to %d images per class, one class per row of tiles (image index)\n",
                GRID_PER_CLASS);
        for (size_t cl = 0; cl < r->k; cl++) {
            fprintf(f, "%s:", r->class_names[cl]);
            size_t got = 0;
            for (size_t i = 0; i < r->all->n && got < GRID_PER_CLASS; i++)
                if ((size_t)r->all->y[i] == cl) idx[m++] = i, got++, fprintf(f, " %zu", i);
            fputc('\n', f);
        }
        at_afile_commit(cap, &e);
    }
    snprintf(path, sizeof path, "%s/samples.png", plots);
    if (m && at_png_grid(path, r->all, idx, m, GRID_PER_CLASS, 2, &e) && !out->plot_warning[0])
        snprintf(out->plot_warning, sizeof out->plot_warning, "samples.png: %.200s", e.msg);
    m = 0;
    snprintf(path, sizeof path, "%s/misclassified.txt", plots);
    if ((cap = at_afile_open(path, &e))) {
        FILE *f = at_afile_stream(cap);
        fprintf(f, "tile,row,true,predicted,p_predicted\n");
        for (size_t i = 0; i < r->test->n && m < GRID_MISCLASSIFIED; i++) {
            size_t pr = at_argmax(r->P_test + i * r->k, r->k);
            if ((int32_t)pr == r->test->y[i]) continue;
            fprintf(f, "%zu,%lld,%s,%s,%.4f\n", m, (long long)r->ds_test->row[i], r->class_names[r->test->y[i]],
                    r->class_names[pr], r->P_test[i * r->k + pr]);
            idx[m++] = i;
        }
        at_afile_commit(cap, &e);
    }
    snprintf(path, sizeof path, "%s/misclassified.png", plots);
    if (m && at_png_grid(path, r->test, idx, m, 8, 2, &e) && !out->plot_warning[0])
        snprintf(out->plot_warning, sizeof out->plot_warning, "misclassified.png: %.200s", e.msg);
    free(idx);
}

static at_status run_dir_of(const at_config *c, const at_run_options *opt, char *dir, size_t cap, at_error *err) {
    if (opt->resume_dir) {
        if (!is_dir(opt->resume_dir)) return at_fail(err, AT_ERR_IO, "%s: no such run directory", opt->resume_dir);
        snprintf(dir, cap, "%s", opt->resume_dir);
        at_remove_stale_temps(dir); /* left by a run killed mid-write */
        return AT_OK;
    }
    if (strchr(c->run.name, '/') || !strcmp(c->run.name, "..") || !strcmp(c->run.name, "."))
        return at_fail(err, AT_ERR_CONFIG, "[run] name '%s' must be a plain folder name", c->run.name);
    int n = snprintf(dir, cap, "%s/%s", c->run.output_dir, c->run.name);
    if (n < 0 || (size_t)n >= cap) return at_fail(err, AT_ERR_CONFIG, "run directory path too long");
    if (is_dir(dir) && !opt->force)
        return at_fail(err, AT_ERR_USAGE, "run directory %s already exists (use --force to overwrite it, or --resume %s)",
                       dir, dir);
    at_status s = at_mkdirs(dir, err);
    if (s) return s;
    at_remove_stale_temps(dir);
    /* A fresh log for a new or forced run; --resume appends to the old one. */
    char log[AT_PATH_MAX + 200];
    snprintf(log, sizeof log, "%s/log.txt", dir);
    if (unlink(log) != 0 && errno != ENOENT) return at_fail(err, AT_ERR_IO, "%s: %s", log, strerror(errno));
    return AT_OK;
}

at_status at_run_image_experiment(const at_config *c, const at_run_options *opt, const at_progress *prog,
                                  at_run_summary *out, at_error *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->model_type, sizeof out->model_type, "%s", c->model.type);
    at_status s = run_dir_of(c, opt, out->run_dir, sizeof out->run_dir, err);
    if (s) return s;
    char path[AT_PATH_MAX + 400], plots[AT_PATH_MAX + 300], ckpt[AT_PATH_MAX + 300];
    snprintf(plots, sizeof plots, "%s/plots", out->run_dir);
    if ((s = at_mkdirs(plots, err))) return s;
    snprintf(path, sizeof path, "%s/log.txt", out->run_dir);
    at_remove_stale_temps(plots);
    at_log_tee tee;
    if ((s = at_log_tee_open(&tee, path, prog, err))) return s;
    const at_progress *pp = &tee.progress;
    img_run r;
    memset(&r, 0, sizeof r);
    at_json_init(&r.json);
    at_cnn *net = NULL;
    at_progress_log(pp, "astrotrain %s: %s %s (model cnn, seed %lld, %d thread(s))", AT_VERSION,
                    opt->resume_dir ? "resuming run" : "run", out->run_dir, (long long)c->run.seed, opt->threads);
    if ((s = at_cnn_spec_parse(c->net.rec, c->net.n, c->source, &r.spec, err))) goto done;
    if ((s = prepare(c, &r, out, pp, err))) goto done;
    if ((s = at_cnn_new(r.spec, r.k, (uint64_t)c->run.seed, &net, err))) goto done;
    at_cnn_fit_standardisation(net, r.train);
    at_cnn_log_layers(net, pp);
    if (!(r.config_text = at_config_format(c))) {
        s = at_fail(err, AT_ERR_MEMORY, "out of memory");
        goto done;
    }
    if (!opt->resume_dir && (s = at_write_text_file(out->run_dir, "config.ini", r.config_text, err))) goto done;
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", out->run_dir);
    at_cnn_train_options to = {opt->threads, (uint64_t)c->run.seed, r.class_weight, ckpt, opt->resume_dir != NULL, pp};
    double t0 = omp_get_wtime();
    s = at_cnn_train(net, r.train, r.valid, &to, err);
    out->fit_seconds = omp_get_wtime() - t0;
    if (s == AT_ERR_INTERRUPTED && err) {
        char why[AT_ERROR_MAX];
        memcpy(why, err->msg, sizeof why);
        why[sizeof why - 200] = '\0';
        at_fail(err, AT_ERR_INTERRUPTED, "%s; continue with `astrotrain --resume %s`", why, out->run_dir);
        goto done;
    }
    if (s) goto done;
    if ((s = at_cnn_model_wrap(net, &r.model, err))) {
        net = NULL;
        goto done;
    }
    at_cnn *trained = net;
    net = NULL; /* owned by r.model now */
    const at_cnn_params *q = at_cnn_params_of(trained);
    size_t k = r.k;
    r.P_valid = at_malloc((r.valid->n ? r.valid->n : 1) * k, sizeof(double), err);
    r.P_test = at_malloc(r.test->n * k, sizeof(double), err);
    if (!r.P_valid || !r.P_test) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    if ((s = at_cnn_predict_images(trained, r.valid, q->tta, r.P_valid, opt->threads, err))) goto done;
    t0 = omp_get_wtime();
    if ((s = at_cnn_predict_images(trained, r.test, q->tta, r.P_test, opt->threads, err))) goto done;
    out->predict_seconds = omp_get_wtime() - t0;
    double thr = c->metrics.confident_threshold;
    out->has_valid = r.valid->n > 0;
    out->classifier = 1;
    if (out->has_valid && (s = at_metrics_compute(r.valid->y, r.P_valid, r.valid->n, k, thr, &out->valid, err)))
        goto done;
    if ((s = at_metrics_compute(r.test->y, r.P_test, r.test->n, k, thr, &out->test, err))) goto done;
    at_progress_log(pp, "trained %.1f s (best epoch %zu); test accuracy %.4f, macro-F1 %.4f%s", out->fit_seconds,
                    at_cnn_best_epoch(trained), out->test.accuracy, out->test.macro_f1, q->tta ? " (D4 TTA)" : "");
    out->k = k;
    if (!(out->class_names = at_calloc(k, sizeof(char *), err))) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    for (size_t i = 0; i < k; i++)
        if (!(out->class_names[i] = at_strdup(r.class_names[i], err))) {
            s = AT_ERR_MEMORY;
            goto done;
        }
    build_metrics_json(c, &r, out, &r.json);
    if (r.json.failed) {
        s = at_fail(err, AT_ERR_MEMORY, "out of memory writing results");
        goto done;
    }
    /* model.h5 in the bundle layout; the "features" are the pixels in HWC order */
    r.n_pixel_names = r.model->n_features;
    if (!(r.pixel_names = at_calloc(r.n_pixel_names, sizeof(char *), err))) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    for (size_t i = 0; i < r.n_pixel_names; i++) {
        char nm[80];
        snprintf(nm, sizeof nm, "y%zu_x%zu_c%zu", i / (q->width * q->channels), i / q->channels % q->width,
                 i % q->channels);
        if (!(r.pixel_names[i] = at_strdup(nm, err))) {
            s = AT_ERR_MEMORY;
            goto done;
        }
    }
    at_bundle b = {.model = r.model, .d = r.n_pixel_names, .k = k, .feature_names = r.pixel_names,
                   .class_names = r.class_names, .label = "class", .config_text = r.config_text,
                   .metrics_json = r.json.buf};
    snprintf(path, sizeof path, "%s/model.h5", out->run_dir);
    if ((s = at_bundle_save(&b, path, err))) goto done;
    if ((s = at_write_text_file(out->run_dir, "metrics.json", r.json.buf, err))) goto done;
    if (opt->resume_dir && (s = at_write_text_file(out->run_dir, "config.ini", r.config_text, err))) goto done;
    snprintf(path, sizeof path, "%s/predictions.csv", out->run_dir);
    if ((s = at_write_predictions_file(path, r.ds_test, r.P_test, (const char *const *)r.class_names, k, 1, err))) goto done;
    snprintf(path, sizeof path, "%s/split.csv", out->run_dir);
    if ((s = at_write_split_file(path, r.ds_train, r.ds_valid, r.ds_test, err))) goto done;
    if (c->plots.enabled) {
        at_run_figures f = {.class_names = (const char *const *)out->class_names, .k = k,
                            .counts_before = r.counts_before, .counts_after = r.counts_after, .test = &out->test,
                            .y_test = r.test->y, .P_test = r.P_test, .n_test = r.test->n, .model = r.model};
        if ((s = at_run_plots(plots, &f, c->plots.render, &out->plots_written, &out->plots_rendered,
                              out->plot_warning, sizeof out->plot_warning, err)))
            goto done;
        image_grids(plots, &r, out);
        at_progress_log(pp, "plots: %zu scripts, %zu rendered, image grids samples.png and misclassified.png%s%s",
                        out->plots_written, out->plots_rendered, out->plot_warning[0] ? "; " : "",
                        out->plot_warning);
    }
    at_progress_log(pp, "done: %s", out->run_dir);
done:
    if (s && err) at_progress_log(pp, "error: %s", err->msg);
    at_cnn_free(net);
    at_log_tee_close(&tee);
    img_run_free(&r);
    return s;
}

/* ---- predict on images ------------------------------------------------------------------- */

at_status at_predict_images(const at_bundle *b, const char *const *inputs, size_t n_inputs, const char *output,
                            const at_predict_options *opt, const at_progress *prog, at_predict_report *rep,
                            at_error *err) {
    memset(rep, 0, sizeof *rep);
    const at_cnn *net = at_cnn_model_net(b->model);
    if (!net) return at_fail(err, AT_ERR_MODEL, "the model is not a cnn");
    if (!n_inputs) return at_fail(err, AT_ERR_USAGE, "predict: no input images");
    const at_cnn_params *q = at_cnn_params_of(net);
    size_t k = b->k;
    at_images *im = NULL;
    at_status s;
    at_image_load_options lo;
    at_image_load_options_default(&lo);
    lo.width = q->width, lo.height = q->height, lo.channels = q->channels;
    int folder = n_inputs == 1 && is_dir(inputs[0]);
    int h5 = 0;
    if (n_inputs == 1 && !folder) {
        FILE *f = fopen(inputs[0], "rb");
        unsigned char sig[8] = {0};
        if (f) {
            h5 = fread(sig, 1, 8, f) == 8 && memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
            fclose(f);
        }
    }
    at_progress_log(prog, "loading %s%s", inputs[0], n_inputs > 1 ? " ..." : "");
    if (folder) s = at_images_load_folder(inputs[0], &lo, &im, err);
    else if (h5) s = at_images_load_galaxy10(inputs[0], &lo, &im, err);
    else s = at_images_load_files(inputs, n_inputs, &lo, &im, err);
    if (s) return s;
    /* labels: folder names must be the model's classes; Galaxy10 labels are indices */
    int32_t *y = NULL;
    if (im->y) {
        y = at_malloc(im->n ? im->n : 1, sizeof *y, err);
        if (!y) {
            at_images_free(im);
            return AT_ERR_MEMORY;
        }
        for (size_t i = 0; i < im->n && !s; i++) {
            int32_t v = im->y[i];
            if (im->class_names && v >= 0 && (size_t)v < im->n_classes) {
                const char *nm = im->class_names[v];
                v = -1;
                for (size_t c = 0; c < k; c++)
                    if (strcmp(b->class_names[c], nm) == 0) v = (int32_t)c;
                if (v < 0)
                    s = at_fail(err, AT_ERR_DATA, "%s: class folder '%s' is not a class of the model", inputs[0], nm);
            } else if (v < 0 || (size_t)v >= k) {
                s = at_fail(err, AT_ERR_DATA, "%s: image %zu has label %d, outside the model's 0..%zu", inputs[0], i,
                            v, k - 1);
            }
            y[i] = v;
        }
    }
    double *P = s ? NULL : at_malloc((im->n ? im->n : 1) * k, sizeof *P, err);
    at_dataset *ds = NULL;
    const char *fname[1] = {"image"};
    if (!s && !P) s = AT_ERR_MEMORY;
    if (!s) s = at_cnn_predict_images(net, im, q->tta, P, opt->threads, err);
    if (!s) s = at_dataset_new(im->n, 1, y != NULL, fname, (const char *const *)b->class_names, k, &ds, err);
    if (!s) {
        for (size_t i = 0; i < im->n; i++) {
            ds->row[i] = (int64_t)i;
            if (y) ds->y[i] = y[i];
            if (y && (int32_t)at_argmax(P + i * k, k) == y[i]) rep->correct++;
        }
        rep->rows_read = rep->rows_written = im->n;
        rep->has_label = y != NULL;
        s = at_write_predictions_file(output, ds, P, (const char *const *)b->class_names, k, y != NULL, err);
    }
    at_dataset_free(ds);
    free(P), free(y);
    at_images_free(im);
    return s;
}
