/* pca.h - principal component analysis (eigendecomposition of the covariance matrix).
 *
 * Not a classifier: as a model family (`type = pca`) it fits, saves, loads and describes
 * itself, while predict_proba is an error; `astrotrain transform` and the scree and 3-D
 * plots reach the fitted at_pca through at_pca_of(). */
#ifndef ASTROTRAIN_PCA_H
#define ASTROTRAIN_PCA_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "model.h"
#include "status.h"

typedef struct at_pca_params {
    int64_t n_components;    /* 3; 0 = all; more than d is clipped to d */
    double variance_to_keep; /* 0 = unused; in (0, 1]: the smallest k whose ratios reach it
                              * (then n_components is ignored) */
    int whiten;              /* 0; 1: scale each component score to unit variance */
} at_pca_params;

void at_pca_params_default(at_pca_params *p);

/* A fitted PCA. Components are unit vectors sorted by decreasing variance; the entry of
 * largest magnitude in each is positive (a stable sign). Variances use the n-1
 * denominator, as scikit-learn does. */
typedef struct at_pca {
    size_t d, k;                      /* input features, kept components */
    int whiten;
    size_t n_samples;
    double *mean;                     /* d */
    double *components;               /* k * d, row c = component c */
    double *explained_variance;       /* k */
    double *explained_variance_ratio; /* k: variance / total variance */
    double *eigenvalues;              /* d, every eigenvalue, decreasing (scree plots) */
    double total_variance;
} at_pca;

/* Fits on ds->X (n >= 2 finite rows). AT_ERR_CONFIG for bad parameters, AT_ERR_DATA for
 * too few rows or non-finite values. */
at_status at_pca_fit(const at_pca_params *p, const at_dataset *ds, at_pca **out, at_error *err);
/* The same over the rows of every rank of comm (MPI, comm.h): the mean and covariance sums are
 * summed across ranks, every rank gets the same components. comm NULL: at_pca_fit. */
struct at_comm;
at_status at_pca_fit_comm(const at_pca_params *p, const at_dataset *ds, struct at_comm *comm, at_pca **out,
                          at_error *err);
/* The same on a bare row-major matrix. */
at_status at_pca_fit_matrix(const at_pca_params *p, const double *X, size_t n, size_t d,
                            at_pca **out, at_error *err);

/* out[i * k + c] = score of row i on component c (divided by sqrt(variance) when
 * whitened). X has pca->d columns. */
at_status at_pca_transform(const at_pca *pca, const double *X, size_t n, double *out,
                           at_error *err);

/* Writes / reads the arrays under prefix ("model/"). Loading checks every shape. */
at_status at_pca_save(const at_pca *pca, at_store *st, const char *prefix, at_error *err);
at_status at_pca_load(at_store *st, const char *prefix, size_t d, at_pca **out, at_error *err);

void at_pca_free(at_pca *pca);
/* A deep copy (bundles own their preprocessing). */
at_status at_pca_copy(const at_pca *src, at_pca **out, at_error *err);

/* The model family. */
extern const at_model_ops at_pca_ops;
at_status at_pca_new(const at_pca_params *p, size_t n_features, size_t n_classes, at_model **out,
                     at_error *err);
/* The fitted PCA of a pca model; NULL when m is another family or not yet fitted. */
const at_pca *at_pca_of(const at_model *m);

#endif
