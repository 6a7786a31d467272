/* run.c - one experiment from a configuration: the tabular pipeline end to end and
 * the run directory it leaves behind. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "astrotrain/atomic_file.h"
#include "astrotrain/csv.h"
#include "astrotrain/json.h"
#include "astrotrain/pipeline.h"
#include "pipeline/internal.h"

/* Progress that also appends every log line to the run's log.txt. */
typedef struct tee {
    const at_progress *user;
    FILE *log;
} tee;

static void tee_log(void *ctx, const char *line) {
    tee *t = ctx;
    if (t->log) {
        time_t now = time(NULL);
        struct tm tm;
        char stamp[32];
        localtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(t->log, "%s  %s\n", stamp, line);
        fflush(t->log);
    }
    at_progress_log(t->user, "%s", line);
}
static void tee_update(void *ctx, const char *stage, size_t done, size_t total, const char *detail) {
    tee *t = ctx;
    at_progress_update(t->user, stage, done, total, detail);
}

void at_run_summary_free(at_run_summary *s) {
    if (!s) return;
    at_metrics_free(&s->valid);
    at_metrics_free(&s->test);
    if (s->class_names) {
        for (size_t c = 0; c < s->k; c++) free(s->class_names[c]);
        free(s->class_names);
    }
    memset(s, 0, sizeof *s);
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

static at_status write_text(const char *dir, const char *name, const char *text, at_error *err) {
    char path[AT_PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return at_write_file_atomic(path, text, strlen(text), err);
}

static at_status write_predictions(const char *dir, const at_dataset *test, const double *P, at_error *err) {
    char path[AT_PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/predictions.csv", dir);
    at_afile *af = at_afile_open(path, err);
    if (!af) return err ? err->code : AT_ERR_IO;
    FILE *f = at_afile_stream(af);
    const char *const *names = (const char *const *)test->class_names;
    at_predictions_header(f, names, test->n_classes, 1);
    at_predictions_rows(f, test, P, names, test->n_classes, 1);
    return at_afile_commit(af, err);
}

/* The run directory: <output_dir>/<name>; an existing one needs force. */
static at_status make_run_dir(const at_config *c, int force, char *dir, size_t cap, at_error *err) {
    if (strchr(c->run.name, '/') || strcmp(c->run.name, "..") == 0 || strcmp(c->run.name, ".") == 0)
        return at_fail(err, AT_ERR_CONFIG, "[run] name '%s' must be a plain folder name", c->run.name);
    int n = snprintf(dir, cap, "%s/%s", c->run.output_dir, c->run.name);
    if (n < 0 || (size_t)n >= cap) return at_fail(err, AT_ERR_CONFIG, "run directory path too long");
    struct stat sb;
    if (stat(dir, &sb) == 0 && !force)
        return at_fail(err, AT_ERR_USAGE, "run directory %s already exists (use --force to overwrite it)", dir);
    at_status s = at_mkdirs(dir, err);
    if (s) return s;
    char plots[AT_PATH_MAX + 300];
    snprintf(plots, sizeof plots, "%s/plots", dir);
    return at_mkdirs(plots, err);
}

typedef struct run_state {
    at_dataset *all, *balanced, *train, *valid, *test;
    at_scaler *scaler;
    at_model *model;
    double *P_valid, *P_test;
    char **features;
    size_t n_features;
    size_t *counts_before, *counts_after;
    char *config_text;
    at_json json;
} run_state;

static void run_state_free(run_state *r) {
    at_dataset_free(r->all);
    at_dataset_free(r->balanced);
    at_dataset_free(r->train);
    at_dataset_free(r->valid);
    at_dataset_free(r->test);
    at_scaler_free(r->scaler);
    at_model_free(r->model);
    free(r->P_valid);
    free(r->P_test);
    for (size_t i = 0; i < r->n_features; i++) free(r->features[i]);
    free(r->features);
    free(r->counts_before);
    free(r->counts_after);
    free(r->config_text);
    at_json_free(&r->json);
}

static at_status load_data(const at_config *c, run_state *r, at_run_summary *out, const at_progress *p,
                           at_error *err) {
    at_status s = at_split_list(c->data.features, &r->features, &r->n_features, err);
    if (s) return s;
    at_load_options lo;
    at_load_options_default(&lo);
    lo.features = (const char *const *)r->features;
    lo.n_features = r->n_features;
    lo.label = c->data.label;
    lo.missing = (at_missing_policy)c->data.missing;
    lo.csv.allow_comments = c->data.comments;
    lo.csv.delimiter = c->data.delimiter[0];
    at_load_report rep = {0};
    at_progress_log(p, "loading %s", c->data.path);
    if ((s = at_dataset_load_csv(c->data.path, &lo, &r->all, &rep, err))) return s;
    out->rows_read = rep.rows_read;
    size_t dropped = 0;
    if ((s = at_clean_rows(r->all, c->clean.use_sentinel, c->clean.sentinel, c->data.missing == AT_MISSING_KEEP,
                           &dropped, err)))
        return s;
    out->rows_dropped = rep.rows_missing + dropped;
    at_progress_log(p, "read %zu rows; dropped %zu (%zu with missing values, %zu unphysical)", rep.rows_read,
                    out->rows_dropped, rep.rows_missing, dropped);
    if (r->all->n_classes < 2)
        return at_fail(err, AT_ERR_DATA, "%s: column '%s' has %zu class(es) after cleaning; need at least 2",
                       c->data.path, c->data.label, r->all->n_classes);
    return AT_OK;
}

static at_status prepare(const at_config *c, run_state *r, at_run_summary *out, const at_progress *p,
                         at_error *err) {
    size_t k = r->all->n_classes;
    r->counts_before = at_calloc(k, sizeof(size_t), err);
    r->counts_after = at_calloc(k, sizeof(size_t), err);
    if (!r->counts_before || !r->counts_after) return AT_ERR_MEMORY;
    at_dataset_class_counts(r->all, r->counts_before);
    at_status s = at_undersample(r->all, (at_undersample_strategy)c->undersample.strategy,
                                 (size_t)c->undersample.per_class, (uint64_t)c->run.seed, &r->balanced, err);
    if (s) return s;
    at_dataset_class_counts(r->balanced, r->counts_after);
    out->rows_after_undersampling = r->balanced->n;
    at_progress_log(p, "undersampling (%s): %zu rows", c->undersample.strategy == AT_UNDERSAMPLE_NONE ? "none" : "on",
                    r->balanced->n);
    if ((s = at_split_stratified(r->balanced, c->split.train, c->split.validation, c->split.test,
                                 (uint64_t)c->run.seed, &r->train, &r->valid, &r->test, err)))
        return s;
    out->n_train = r->train->n;
    out->n_valid = r->valid->n;
    out->n_test = r->test->n;
    if (r->train->n == 0 || r->test->n == 0)
        return at_fail(err, AT_ERR_DATA, "%s: too few rows to split (%zu train, %zu test)", c->data.path,
                       r->train->n, r->test->n);
    at_progress_log(p, "split: %zu train, %zu validation, %zu test", r->train->n, r->valid->n, r->test->n);
    if (c->normalise.method != AT_SCALER_NONE) {
        if ((s = at_scaler_fit((at_scaler_kind)c->normalise.method, r->train, &r->scaler, err))) return s;
        at_scaler_apply(r->scaler, r->train->X, r->train->n);
        at_scaler_apply(r->scaler, r->valid->X, r->valid->n);
        at_scaler_apply(r->scaler, r->test->X, r->test->n);
    }
    return AT_OK;
}

static at_status fit_and_evaluate(const at_config *c, const at_run_options *opt, run_state *r,
                                  at_run_summary *out, const at_progress *p, at_error *err) {
    size_t k = r->all->n_classes;
    at_status s = at_model_create(&c->model, r->train->d, k, &r->model, err);
    if (s) return s;
    at_fit_input in = {r->train, r->valid->n ? r->valid : NULL, opt->threads, (uint64_t)c->run.seed, p};
    at_progress_log(p, "fitting %s on %zu rows x %zu features, %d thread(s)", c->model.type, r->train->n,
                    r->train->d, opt->threads);
    double t0 = omp_get_wtime();
    if ((s = at_model_fit(r->model, &in, err))) return s;
    out->fit_seconds = omp_get_wtime() - t0;
    r->P_test = at_malloc(r->test->n * k, sizeof(double), err);
    r->P_valid = at_malloc((r->valid->n ? r->valid->n : 1) * k, sizeof(double), err);
    if (!r->P_test || !r->P_valid) return AT_ERR_MEMORY;
    if ((s = at_model_predict_proba(r->model, r->valid->X, r->valid->n, r->P_valid, opt->threads, err))) return s;
    t0 = omp_get_wtime();
    if ((s = at_model_predict_proba(r->model, r->test->X, r->test->n, r->P_test, opt->threads, err))) return s;
    out->predict_seconds = omp_get_wtime() - t0;
    double thr = c->metrics.confident_threshold;
    out->has_valid = r->valid->n > 0;
    if (out->has_valid &&
        (s = at_metrics_compute(r->valid->y, r->P_valid, r->valid->n, k, thr, &out->valid, err)))
        return s;
    if ((s = at_metrics_compute(r->test->y, r->P_test, r->test->n, k, thr, &out->test, err))) return s;
    at_progress_log(p, "fit %.3f s, predict %.3f s; test accuracy %.4f, macro-F1 %.4f", out->fit_seconds,
                    out->predict_seconds, out->test.accuracy, out->test.macro_f1);
    return AT_OK;
}

static void build_metrics_json(const at_config *c, const run_state *r, const at_run_summary *out, at_json *j) {
    char *const *names = r->all->class_names;
    size_t k = r->all->n_classes;
    at_json_begin_object(j);
    at_json_kv_string(j, "model", c->model.type);
    at_json_kv_int(j, "seed", c->run.seed);
    at_json_kv_string(j, "name", c->run.name);
    at_json_kv_string(j, "astrotrain_version", AT_VERSION);
    at_json_key(j, "features");
    at_json_begin_array(j);
    for (size_t i = 0; i < r->n_features; i++) at_json_string(j, r->features[i]);
    at_json_end_array(j);
    at_json_key(j, "data");
    at_json_begin_object(j);
    at_json_kv_string(j, "path", c->data.path);
    at_json_kv_int(j, "rows_read", (int64_t)out->rows_read);
    at_json_kv_int(j, "rows_dropped", (int64_t)out->rows_dropped);
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
    at_json_end_object(j);
    at_json_key(j, "validation");
    if (out->has_valid) at_metrics_json(&out->valid, (const char *const *)names, j);
    else at_json_null(j);
    at_json_key(j, "test");
    at_metrics_json(&out->test, (const char *const *)names, j);
    const at_model_ops *ops = r->model->ops;
    if (ops->importances) {
        double *imp = malloc(r->model->n_features * sizeof *imp);
        if (imp && ops->importances(r->model->impl, imp) == AT_OK) {
            at_json_key(j, "feature_importances");
            at_json_begin_object(j);
            for (size_t f = 0; f < r->n_features; f++) at_json_kv_number(j, r->features[f], imp[f]);
            at_json_end_object(j);
        }
        free(imp);
    }
    if (ops->describe) {
        at_json_key(j, "model_info");
        at_json_begin_object(j);
        ops->describe(r->model->impl, j);
        at_json_end_object(j);
    }
    const at_history *h = ops->history ? ops->history(r->model->impl) : NULL;
    if (h && h->n_rows) json_history(j, h);
    at_json_end_object(j);
}

at_status at_run_experiment(const at_config *c, const at_run_options *opt, const at_progress *prog,
                            at_run_summary *out, at_error *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->model_type, sizeof out->model_type, "%s", c->model.type);
    at_status s = make_run_dir(c, opt->force, out->run_dir, sizeof out->run_dir, err);
    if (s) return s;
    char path[AT_PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/log.txt", out->run_dir);
    tee t = {prog, fopen(path, "w")};
    if (!t.log) return at_fail(err, AT_ERR_IO, "%s: %s", path, strerror(errno));
    at_progress p = {tee_update, tee_log, &t, prog ? prog->stop : NULL};
    run_state r;
    memset(&r, 0, sizeof r);
    at_json_init(&r.json);
    at_progress_log(&p, "astrotrain %s: run %s (model %s, seed %lld)", AT_VERSION, out->run_dir, c->model.type,
                    (long long)c->run.seed);
    if ((s = load_data(c, &r, out, &p, err))) goto done;
    if ((s = prepare(c, &r, out, &p, err))) goto done;
    if ((s = fit_and_evaluate(c, opt, &r, out, &p, err))) goto done;
    out->k = r.all->n_classes;
    out->class_names = at_calloc(out->k, sizeof(char *), err);
    if (!out->class_names) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    for (size_t i = 0; i < out->k; i++)
        if (!(out->class_names[i] = at_strdup(r.all->class_names[i], err))) {
            s = AT_ERR_MEMORY;
            goto done;
        }
    build_metrics_json(c, &r, out, &r.json);
    r.config_text = at_config_format(c);
    if (r.json.failed || !r.config_text) {
        s = at_fail(err, AT_ERR_MEMORY, "out of memory writing results");
        goto done;
    }
    at_bundle b = {r.model, r.train->d, out->k, r.features, r.all->class_names, (char *)c->data.label,
                   c->clean.use_sentinel, c->clean.sentinel, c->data.missing, r.scaler, r.config_text, r.json.buf};
    snprintf(path, sizeof path, "%s/model.h5", out->run_dir);
    if ((s = at_bundle_save(&b, path, err))) goto done;
    if ((s = write_text(out->run_dir, "metrics.json", r.json.buf, err))) goto done;
    if ((s = write_text(out->run_dir, "config.ini", r.config_text, err))) goto done;
    if ((s = write_predictions(out->run_dir, r.test, r.P_test, err))) goto done;
    if (c->plots.enabled) {
        snprintf(path, sizeof path, "%s/plots", out->run_dir);
        at_run_figures f = {(const char *const *)out->class_names, out->k, r.counts_before, r.counts_after,
                            &out->test, r.test->y, r.P_test, r.test->n, r.model,
                            (const char *const *)r.features, r.n_features};
        if ((s = at_run_plots(path, &f, c->plots.render, &out->plots_written, &out->plots_rendered,
                              out->plot_warning, sizeof out->plot_warning, err)))
            goto done;
        at_progress_log(&p, "plots: %zu scripts, %zu rendered%s%s", out->plots_written, out->plots_rendered,
                        out->plot_warning[0] ? "; " : "", out->plot_warning);
    }
    at_progress_log(&p, "done: %s", out->run_dir);
done:
    if (s && err) at_progress_log(&p, "error: %s", err->msg);
    fclose(t.log);
    run_state_free(&r);
    return s;
}
