/* bundle.h - a fitted model with the preprocessing fitted with it (the model file), as a
 * library object below the pipeline: load it once, then predict from memory on blocks of
 * rows (named columns, raw values) or on decoded images.
 *
 * Raw rows of the d input features go: cleaning -> scaler -> optional PCA stage -> model
 * (which then sees pca->k features).
 *
 * Threads: a loaded bundle is never modified by the predict functions; every scratch
 * buffer is allocated per call. Any number of threads may call at_bundle_predict_rows /
 * at_bundle_predict_images on one bundle at once (each with its own output and error). */
#ifndef ASTROTRAIN_BUNDLE_H
#define ASTROTRAIN_BUNDLE_H

#include <stddef.h>

#include "images.h"
#include "model.h"
#include "model_file.h"
#include "pca.h"
#include "preprocess.h"
#include "reference.h"
#include "status.h"

typedef struct at_bundle {
    at_model *model;
    size_t d, k;
    char **feature_names; /* d input columns (image models: pixel names y<i>_x<j>_c<c>) */
    char **class_names;   /* k */
    char *label;          /* label column of the training data */
    int use_sentinel;
    double sentinel;
    int missing;          /* at_missing_policy */
    at_scaler *scaler;    /* may be NULL (no scaling) */
    at_pca *pca;          /* PCA stage in front of the model, or NULL */
    char *config_text;    /* effective configuration (INI) */
    char *metrics_json;   /* metrics of the training run */
    /* monitor: the training reference (reference.h), or NULL (older files, image models) */
    at_reference *reference;
} at_bundle;

/* issue 17: image models (cnn) predict on device ("cuda", "cuda:N", "auto"; "cpu" or NULL:
 * the CPU) from now on; other families ignore it (bundle_device.c). */
at_status at_bundle_use_device(at_bundle *b, const char *device, at_error *err);

/* A whole model file, written atomically, and read back. */
at_status at_bundle_save(const at_bundle *b, const char *path, at_error *err);
at_status at_bundle_load(const char *path, at_bundle **out, at_error *err);
/* The same inside an open store, under its current prefix (ensembles nest bundles). */
at_status at_bundle_write(const at_bundle *b, at_store *st, at_error *err);
at_status at_bundle_read(at_store *st, at_bundle **out, at_error *err);
void at_bundle_free(at_bundle *b);

/* Whether a row of the d input features (in the bundle's order) passes the bundle's
 * cleaning: no value equal to the sentinel (when the filter is on) and, unless the missing
 * policy keeps them, no NaN/inf. */
int at_bundle_row_ok(const at_bundle *b, const double *x);

/* Class probabilities P (n * k) for n raw rows X (n * n_columns, row-major) whose columns
 * are named by columns[n_columns], in any order; columns the bundle does not use are
 * ignored; a feature of the bundle missing from columns is AT_ERR_DATA naming it.
 * Each row gets the bundle's own cleaning first: a row that fails it (see at_bundle_row_ok)
 * gets NaN in all its k probabilities and the others are predicted as usual (callers that
 * count or skip such rows test isnan(P[i * k])). X is not modified. Transform-only models
 * (pca) have no probabilities: AT_ERR_USAGE. */
at_status at_bundle_predict_rows(const at_bundle *b, const char *const *columns, size_t n_columns, const double *X,
                                 size_t n, double *P, int threads, at_error *err);

/* Class probabilities P (im->n * k) for decoded images of the model's input size (image
 * models only: at_model_has(b->model, AT_CAP_IMAGES); AT_ERR_USAGE otherwise). */
at_status at_bundle_predict_images(const at_bundle *b, const at_images *im, double *P, int threads, at_error *err);

/* Low level, for rows already in the bundle's feature order and already cleaned: scales X
 * (n rows of the d input features) in place, then applies the PCA stage when there is one:
 * *Xm is X itself, or a new array (caller frees) of n * pca->k values. */
at_status at_bundle_prepare(const at_bundle *b, double *X, size_t n, double **Xm, at_error *err);
/* Class probabilities (n * k) for such rows. X is scaled in place. */
at_status at_bundle_predict(const at_bundle *b, double *X, size_t n, double *P, int threads, at_error *err);

#endif
