/* pipeline.h - a whole experiment from a configuration, and the saved bundle that lets
 * `predict` apply the same preprocessing and model to new catalogues.
 *
 * at_run_experiment: load -> clean -> undersample -> split -> normalise -> fit ->
 * evaluate -> write <output_dir>/<name>/ {config.ini, metrics.json, model.h5,
 * predictions.csv, split.csv, plots/, log.txt}. Every file is written under a temporary name
 * and renamed when complete. */
#ifndef ASTROTRAIN_PIPELINE_H
#define ASTROTRAIN_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "config_load.h"
#include "csv.h"
#include "metrics.h"
#include "model.h"
#include "pca.h"
#include "preprocess.h"
#include "progress.h"
#include "status.h"

/* Everything a model file holds: the model and the preprocessing fitted with it.
 * Raw rows of the d input features go: cleaning -> scaler -> optional PCA stage -> model
 * (which then sees pca->k features). */
typedef struct at_bundle {
    at_model *model;
    size_t d, k;
    char **feature_names; /* d input columns */
    char **class_names;   /* k */
    char *label;          /* label column of the training data */
    int use_sentinel;
    double sentinel;
    int missing;          /* at_missing_policy */
    at_scaler *scaler;    /* may be NULL (no scaling) */
    at_pca *pca;          /* PCA stage in front of the model, or NULL */
    char *config_text;    /* effective configuration (INI) */
    char *metrics_json;   /* metrics of the training run */
} at_bundle;

at_status at_bundle_save(const at_bundle *b, const char *path, at_error *err);
at_status at_bundle_load(const char *path, at_bundle **out, at_error *err);
/* The same inside an open store, under its current prefix (ensembles nest bundles). */
at_status at_bundle_write(const at_bundle *b, at_store *st, at_error *err);
at_status at_bundle_read(at_store *st, at_bundle **out, at_error *err);
void at_bundle_free(at_bundle *b);

/* Scales X (n rows of the d input features) in place, then applies the PCA stage when
 * there is one: *Xm is X itself, or a new array (caller frees) of n * pca->k values. */
at_status at_bundle_prepare(const at_bundle *b, double *X, size_t n, double **Xm, at_error *err);
/* Class probabilities (n * k) for raw rows of the input features. X is scaled in place. */
at_status at_bundle_predict(const at_bundle *b, double *X, size_t n, double *P, int threads, at_error *err);

typedef struct at_run_summary {
    char run_dir[AT_PATH_MAX + 160];
    char model_type[64];
    size_t k;
    char **class_names;
    int classifier; /* 0 for transforms (pca): no metrics */
    int has_valid;
    at_metrics valid, test;
    double fit_seconds, predict_seconds;
    size_t rows_read, rows_dropped, rows_after_undersampling, n_train, n_valid, n_test;
    size_t plots_written, plots_rendered;
    char plot_warning[256]; /* gnuplot missing or failing: the run still succeeds */
} at_run_summary;

typedef struct at_run_options {
    int force;   /* overwrite an existing run directory */
    int threads; /* resolved thread count (>= 1) */
    const char *resume_dir; /* image runs: continue the run in this directory from its checkpoint */
} at_run_options;

at_status at_run_experiment(const at_config *c, const at_run_options *opt, const at_progress *prog,
                            at_run_summary *out, at_error *err);
void at_run_summary_free(at_run_summary *s);

/* An image experiment ([model] type = cnn; src/pipeline/run_images.c): load images (Galaxy10
 * HDF5 or class folders) -> undersample -> split -> train the network of [net] with a
 * checkpoint.h5 every epoch -> evaluate -> the same run directory as tabular runs, plus
 * sample and misclassified image grids. Interrupted: AT_ERR_INTERRUPTED naming --resume. */
at_status at_run_image_experiment(const at_config *c, const at_run_options *opt, const at_progress *prog,
                                  at_run_summary *out, at_error *err);

typedef struct at_predict_options {
    size_t chunk_rows; /* rows per chunk (memory stays flat); 0 = 65536 */
    int threads;
    int comments;      /* input has '#' comment lines */
    char delimiter;    /* 0 = ',' */
} at_predict_options;

typedef struct at_predict_report {
    size_t rows_read;     /* data rows in the input */
    size_t rows_written;  /* rows with a prediction */
    size_t rows_skipped;  /* dropped by the model's cleaning rules */
    int has_label;        /* the input had the label column: accuracy is computed */
    size_t correct;
} at_predict_report;

/* Streams input (CSV, plain or gzip) through the bundle's cleaning, scaling and model, in
 * chunks, into output: row,[true,]predicted,p_<class>... */
at_status at_predict_csv(const at_bundle *b, const char *input, const char *output,
                         const at_predict_options *opt, const at_progress *prog,
                         at_predict_report *rep, at_error *err);
/* The same stream through the preprocessing and the PCA (a pca model, or the PCA stage):
 * row,[true,]PC1..PCk. */
at_status at_transform_csv(const at_bundle *b, const char *input, const char *output,
                           const at_predict_options *opt, const at_progress *prog,
                           at_predict_report *rep, at_error *err);

/* A CNN bundle on images: one Galaxy10-layout HDF5 file, one folder of class subfolders
 * (labelled when the subfolders are the model's classes), or PNG/JPEG files. Writes
 * row,[true,]predicted,p_<class>... with row = image index (files: in the order given). */
at_status at_predict_images(const at_bundle *b, const char *const *inputs, size_t n_inputs, const char *output,
                            const at_predict_options *opt, const at_progress *prog, at_predict_report *rep,
                            at_error *err);

/* A study: one shared data file and a list of step files (experiments/sdss17/study.ini),
 * every step on the same split, models reused by the ensemble step, and a report.
 *
 *   [experiment]
 *   name = sdss17_study            ; results in <output_dir>/<name>/
 *   output_dir = runs
 *   data = data.ini                ; [run] [data] [clean] [undersample] [split] [normalise]
 *   steps = pca.ini, gmm.ini, ...  ; each adds [model] (and optionally [pca]); paths relative
 *                                  ; to the study file; a step's name is its file's stem
 *   reference_confident = GALAXY=0.867, QSO=0.903, STAR=0.996   ; the study's figures
 */
typedef struct at_study_options {
    int force;
    int threads;
    const char *const *overrides; /* --set, applied to every step */
    size_t n_overrides;
} at_study_options;

typedef struct at_study_summary {
    char dir[AT_PATH_MAX + 160];
    size_t n_steps;
    double seconds;
} at_study_summary;

at_status at_run_study(const char *study_path, const at_study_options *opt, const at_progress *prog,
                       at_study_summary *out, at_error *err);

#endif
