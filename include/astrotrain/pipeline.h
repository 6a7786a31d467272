/* pipeline.h - a whole experiment from a configuration, and the saved bundle that lets
 * `predict` apply the same preprocessing and model to new catalogues.
 *
 * at_run_experiment: load -> clean -> undersample -> split -> normalise -> fit ->
 * evaluate -> write <output_dir>/<name>/ {config.ini, metrics.json, model.h5,
 * predictions.csv, split.csv, plots/, log.txt}. Every file is written under a temporary name
 * and renamed when complete. The data are a table, or an image set for families with
 * AT_CAP_IMAGES (Galaxy10 HDF5 or class folders; plus checkpoint.h5 every epoch, and sample
 * and misclassified image grids); an interrupted run of a family with AT_CAP_CHECKPOINT is
 * continued with opt->resume_dir (AT_ERR_INTERRUPTED names --resume). The bundle (bundle.h)
 * is the model file's object. */
#ifndef ASTROTRAIN_PIPELINE_H
#define ASTROTRAIN_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "bundle.h"
#include "config.h"
#include "config_load.h"
#include "csv.h"
#include "metrics.h"
#include "model.h"
#include "pca.h"
#include "preprocess.h"
#include "progress.h"
#include "status.h"

typedef struct at_run_summary {
    char run_dir[AT_PATH_MAX + 160];
    char model_type[64];
    size_t k;
    char **class_names;
    int classifier; /* 0 for transforms (pca): no metrics */
    int images;     /* the data were an image set (rows_* count images) */
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
    const char *resume_dir; /* continue the run in this directory from its checkpoint (AT_CAP_CHECKPOINT families) */
    /* MPI (comm.h): rank 0 writes the run directory, every rank trains on its rows; NULL or one
     * rank = a plain run. */
    struct at_comm *comm;
} at_run_options;

at_status at_run_experiment(const at_config *c, const at_run_options *opt, const at_progress *prog,
                            at_run_summary *out, at_error *err);
void at_run_summary_free(at_run_summary *s);

typedef struct at_predict_options {
    size_t chunk_rows; /* rows per chunk (memory stays flat); 0 = 65536 */
    int threads;
    int comments;      /* input has '#' comment lines */
    char delimiter;    /* 0 = ',' */
    /* Catalogue output (issue 14): by default every input row gives one output row, in
     * order, with a last "status" column ("ok", "missing u", "sentinel g", "not a number r",
     * "infinite z"; skipped rows have empty prediction fields). skip_invalid = 1: the old
     * layout, skipped rows left out and no status column. */
    int skip_invalid;
    const char *const *keep; /* input columns copied after "row" (objid, ra, dec) */
    size_t n_keep;
    const char *hdu;         /* FITS input: table HDU name or number (NULL: the first table) */
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

/* predict (transform = 0) or transform across the ranks of comm (MPI, comm.h): each rank
 * streams its share of the input; rank 0 joins the parts into output in input order, or with
 * output_parts every rank leaves output.part<RANK> (4 digits, each with the header). One rank
 * and no parts: at_predict_csv / at_transform_csv. The report is the whole input's. */
struct at_comm;
at_status at_predict_csv_comm(const at_bundle *b, const char *input, const char *output,
                              const at_predict_options *opt, struct at_comm *comm, int output_parts, int transform,
                              const at_progress *prog, at_predict_report *rep, at_error *err);

/* An image model's bundle (AT_CAP_IMAGES) on images: one Galaxy10-layout HDF5 file, one folder of class subfolders
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
 *
 * A step whose [data] path differs from the data file's prepares its own data and split
 * (pretraining on other images) and is reported apart; `[net] init = step:NAME` starts a
 * network from the model.h5 of the earlier step NAME (experiments/stargalaxy_finetune).
 */
typedef struct at_study_options {
    int force;
    int threads;
    const char *const *overrides; /* --set, applied to every step */
    size_t n_overrides;
    /* MPI (cli_comm.c): every step trains across the ranks; rank 0 writes the study directory,
     * the steps' run directories and the report. NULL = one process. */
    struct at_comm *comm;
} at_study_options;

typedef struct at_study_summary {
    char dir[AT_PATH_MAX + 160];
    size_t n_steps;
    double seconds;
} at_study_summary;

at_status at_run_study(const char *study_path, const at_study_options *opt, const at_progress *prog,
                       at_study_summary *out, at_error *err);

#endif
