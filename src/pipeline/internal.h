/* internal.h - (private) pieces shared by the experiment runner and `predict`. */
#ifndef ASTROTRAIN_PIPELINE_INTERNAL_H
#define ASTROTRAIN_PIPELINE_INTERNAL_H

#include <stdio.h>

#include "astrotrain/config.h"
#include "astrotrain/dataset.h"
#include "astrotrain/metrics.h"
#include "astrotrain/model.h"
#include "astrotrain/pipeline.h"
#include "astrotrain/status.h"

/* The data of an experiment, prepared once and shared by every step that uses the same
 * [data]/[clean]/[undersample]/[split]/[normalise]/[pca] sections. */
typedef struct at_prepared {
    at_dataset *train, *valid, *test; /* scaled, and projected when the PCA stage is on */
    at_scaler *scaler;                /* NULL when [normalise] method = none */
    at_pca *pca;                      /* the PCA stage, or NULL */
    char **features;                  /* input columns */
    size_t n_features;
    size_t k;
    char **class_names;
    size_t *counts_before, *counts_after;
    size_t rows_read, rows_dropped, rows_missing, rows_unphysical, rows_after_undersampling;
} at_prepared;

at_status at_prepare_data(const at_config *c, const at_progress *p, at_prepared **out, at_error *err);
void at_prepared_free(at_prepared *d);
/* A copy of prepared data (same split, same scaling) with a PCA stage fitted on its
 * training part: study steps with their own [pca] section share the split this way. */
at_status at_prepared_with_pca(const at_prepared *base, int64_t components, int whiten, const at_progress *p,
                               at_prepared **out, at_error *err);

/* One model trained and evaluated on prepared data, its results in a run directory. */
typedef struct at_step_result {
    char dir[AT_PATH_MAX + 160];
    char type[64];
    char name[128];
    int classifier;                   /* 0 for pca (no probabilities) */
    int has_valid;
    at_metrics valid, test;
    double fit_seconds, predict_seconds;
    double *P_valid, *P_test;         /* n * k, classifiers only */
    at_bundle *bundle;                /* the trained model and its preprocessing */
    size_t plots_written, plots_rendered;
    char plot_warning[256];
} at_step_result;

/* Trains c->model (or `model`, already created, e.g. an ensemble; taken over) on d and
 * writes dir/{config.ini, metrics.json, model.h5, predictions.csv, plots/, log.txt}. */
at_status at_run_step(const at_config *c, const at_prepared *d, at_model *model, const char *dir,
                      const at_run_options *opt, const at_progress *p, at_step_result *out, at_error *err);
void at_step_result_free(at_step_result *r);

/* Finds a trained model by name (a study's earlier step): *out stays NULL when unknown. */
typedef at_status (*at_member_lookup)(void *ctx, const char *name, at_bundle **out, at_error *err);

/* The unfitted ensemble of c->model: [member.NAME] sections trained on d into
 * run_dir/members/NAME/, plus the `members` list (lookup first, then model files). */
at_status at_build_ensemble(const at_config *c, const at_prepared *d, const char *run_dir, const at_run_options *opt,
                            const at_progress *p, at_member_lookup lookup, void *ctx, at_model **out, at_error *err);

/* A progress sink that also appends log lines to a file. While open, the log lives under
 * "<path>.tmp.<pid>" (moved there if it exists) and close renames it back, so log.txt, like
 * every file of a run directory, is only ever seen complete. */
typedef struct at_log_tee {
    const at_progress *user;
    FILE *log;
    at_progress progress; /* hand this one down */
    char path[AT_PATH_MAX + 320], tmp[AT_PATH_MAX + 360];
} at_log_tee;
at_status at_log_tee_open(at_log_tee *t, const char *path, const at_progress *user, at_error *err);
void at_log_tee_close(at_log_tee *t);

/* predictions.csv: "row,true,predicted,p_<class>..." (the true column only with labels).
 * The same writer serves the run and `predict`, so their outputs compare textually. */
void at_predictions_header(FILE *f, const char *const *class_names, size_t k, int with_true);
void at_predictions_rows(FILE *f, const at_dataset *ds, const double *P, const char *const *class_names,
                         size_t k, int with_true);

/* predictions.csv-format file at path, written atomically. */
at_status at_write_predictions_file(const char *path, const at_dataset *ds, const double *P,
                                    const char *const *class_names, size_t k, int with_true, at_error *err);
/* split.csv at path, written atomically: "row,part", one line per row of the three parts
 * (part = train, validation or test; row = the data row index of the input file, as in
 * predictions.csv), sorted by row, so anyone can recompute the run's figures. */
at_status at_write_split_file(const char *path, const at_dataset *train, const at_dataset *valid,
                              const at_dataset *test, at_error *err);
/* dir/name holding text, written atomically. */
at_status at_write_text_file(const char *dir, const char *name, const char *text, at_error *err);

/* mkdir -p; AT_ERR_IO naming the path on failure. */
at_status at_mkdirs(const char *path, at_error *err);

/* Figures of a finished run, written into plot_dir. Returns how many were written and
 * rendered; a gnuplot failure is reported in warning, not as an error. */
typedef struct at_run_figures {
    const char *const *class_names;
    size_t k;
    const size_t *counts_before, *counts_after; /* k each */
    const at_metrics *test;
    const int32_t *y_test;
    const double *P_test;
    size_t n_test;
    const at_model *model;
    const char *const *feature_names; /* the model's features (PC1.. behind a PCA stage) */
    size_t d;
    const at_dataset *train;          /* for the unsupervised figures */
} at_run_figures;

at_status at_run_plots(const char *plot_dir, const at_run_figures *f, int render, size_t *written,
                       size_t *rendered, char *warning, size_t warning_cap, at_error *err);

/* Figures of unsupervised families: PCA scree and 3-D scatter, GMM log-likelihood, BIC and
 * cluster ellipses. Names of the written figures are appended to names (cap entries). */
at_status at_unsupervised_plots(const char *plot_dir, const at_model *m, const at_dataset *train,
                                const char *const *class_names, const char **names, size_t *count,
                                size_t cap, at_error *err);
/* Renders the named figures when asked and gnuplot is there; failures become a warning. */
void at_render_plots(const char *plot_dir, const char *const *names, size_t count, int render, size_t *rendered,
                     char *warning, size_t warning_cap);

/* A stop asked by SIGINT/SIGTERM, seen at a safe point between stages: AT_ERR_INTERRUPTED
 * ("stopped after <after>"), else AT_OK. */
at_status at_stop_point(const at_progress *p, const char *after, at_error *err);
/* Rewrites an AT_ERR_INTERRUPTED message to say that no results were written and where the
 * log of the run directory dir is. */
void at_interrupted_message(at_error *err, const char *dir);

/* Memory limit of a training run (memory.c). limit in bytes (0 = unknown: no checks);
 * table_bytes bounds the loaded table (at_load_options.max_table_bytes). */
typedef struct at_memory_plan {
    double limit;
    int configured;     /* from [run] memory_limit_mb, not from MemAvailable */
    size_t table_bytes;
} at_memory_plan;

at_status at_memory_limit(const at_config *c, at_memory_plan *plan);
/* Before loading: the table the file would make, estimated from its size. */
at_status at_memory_check_input(const at_memory_plan *plan, const char *path, size_t d, at_error *err);
/* After loading: the table's copies and the model family's own estimate. */
at_status at_memory_check_fit(const at_memory_plan *plan, const at_model_config *mc, size_t n_rows, size_t n_train,
                              size_t d, size_t k, int threads, at_error *err);
/* "needs more than N MB (...), the limit is M MB" for a load stopped by the table bound. */
at_status at_memory_refuse_load(const at_memory_plan *plan, const char *path, at_error *err);

#endif
