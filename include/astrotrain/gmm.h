/* gmm.h - Gaussian mixture fitted by expectation-maximisation, usable as a classifier.
 *
 * EM in double with log-sum-exp; covariance full, diagonal or spherical; initialised by
 * seeded k-means++ and Lloyd iterations, restarted n_init times. After fitting, the
 * clusters are matched to the classes of the training part (Hungarian algorithm when
 * there are as many clusters as classes, the majority class of each cluster when there are
 * more), so predict_proba gives per-class probabilities like any other family. */
#ifndef ASTROTRAIN_GMM_H
#define ASTROTRAIN_GMM_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "progress.h"
#include "status.h"

typedef enum at_covariance_type {
    AT_COV_FULL = 0,     /* one d x d matrix per component */
    AT_COV_DIAG = 1,     /* one variance per component and feature */
    AT_COV_SPHERICAL = 2 /* one variance per component */
} at_covariance_type;

typedef struct at_gmm_params {
    /* "3", or a range "2..8": the model family fits each k and keeps the lowest BIC.
     * at_gmm_fit takes k explicitly and ignores this. */
    char components[32];
    int covariance_type; /* at_covariance_type; full */
    int64_t max_iter;    /* 100 EM iterations at most */
    double tol;          /* 1e-3: stop when the mean log-likelihood per sample moves less */
    double reg_covar;    /* 1e-6 added to every variance (keeps covariances invertible) */
    int64_t n_init;      /* 1: restarts, the best final log-likelihood is kept */
    int64_t kmeans_iter; /* 100: Lloyd iterations after k-means++ (stops when stable) */
} at_gmm_params;

void at_gmm_params_default(at_gmm_params *p);
/* Parses "3" or "2..8" into [k_min, k_max] (1 <= k_min <= k_max <= 1000); 0 when invalid. */
int at_gmm_components(const char *spec, size_t *k_min, size_t *k_max);

typedef struct at_gmm {
    size_t k, d;
    at_covariance_type covariance_type;
    double *weights;     /* k, summing to 1 */
    double *means;       /* k * d */
    double *covariances; /* full: k * d * d; diag: k * d; spherical: k (reg_covar included) */
    /* Derived from covariances (at fit and load): full: L^-1 for the lower Cholesky factor L
     * of each covariance (k * d * d), so the Mahalanobis distance is |L^-1 (x - mu)|^2;
     * diag/spherical: unused. log_det: k log-determinants. */
    double *prec_chol;
    double *log_det;
    size_t n_samples;           /* training rows */
    size_t n_iter;              /* EM iterations of the kept run */
    int converged;              /* 1 when tol was reached before max_iter */
    double mean_log_likelihood; /* per training row, with the final parameters */
    double bic, aic;
    double *history;            /* n_iter rows of (iteration, mean log-likelihood) */
    size_t n_classes;           /* 0 until at_gmm_match_labels */
    int32_t *cluster_class;     /* k: the class each cluster stands for (-1: none); NULL before */
} at_gmm;

/* Fits k components to X (n x d, finite, n >= k). threads <= 0 means 1; the result does
 * not depend on it. AT_ERR_DATA for a covariance that stays singular (with a hint to raise
 * reg_covar), AT_ERR_INTERRUPTED when progress->stop is set. */
at_status at_gmm_fit(const at_gmm_params *p, size_t k, const double *X, size_t n, size_t d,
                     uint64_t seed, int threads, const at_progress *progress, at_gmm **out,
                     at_error *err);

/* Fits every k in [k_min, k_max]; bic (and aic, may be NULL) get k_max - k_min + 1 values.
 * When best is not NULL it receives the model with the lowest BIC (caller frees). */
at_status at_gmm_select(const at_gmm_params *p, size_t k_min, size_t k_max, const double *X,
                        size_t n, size_t d, uint64_t seed, int threads,
                        const at_progress *progress, double *bic, double *aic, at_gmm **best,
                        at_error *err);

/* R: n * k responsibilities (rows sum to 1); log_lik: n per-row log-likelihoods (may be
 * NULL; R may be NULL too). */
at_status at_gmm_responsibilities(const at_gmm *g, const double *X, size_t n, double *R,
                                  double *log_lik, int threads, at_error *err);
/* cluster[i] = the most responsible component of row i. */
at_status at_gmm_predict(const at_gmm *g, const double *X, size_t n, int32_t *cluster,
                         int threads, at_error *err);

/* Maps clusters to classes by agreement with y (n labels in [0, n_classes), -1 ignored):
 * the Hungarian assignment when k <= n_classes (each class at most one cluster), each
 * cluster's majority class when k > n_classes. */
at_status at_gmm_match_labels(at_gmm *g, const double *X, const int32_t *y, size_t n,
                              size_t n_classes, int threads, at_error *err);
/* P: n * g->n_classes; a class's probability is the sum of the responsibilities of the
 * clusters mapped to it. Needs at_gmm_match_labels (or k == n_classes, identity map). */
at_status at_gmm_predict_proba(const at_gmm *g, const double *X, size_t n, double *P,
                               int threads, at_error *err);

/* Component c's covariance as a full d x d matrix, whatever the covariance type. */
void at_gmm_covariance(const at_gmm *g, size_t c, double *out);
/* Free parameters (means, covariances, weights), as used by BIC and AIC. */
size_t at_gmm_n_parameters(size_t k, size_t d, at_covariance_type type);

at_status at_gmm_save(const at_gmm *g, at_store *st, const char *prefix, at_error *err);
at_status at_gmm_load(at_store *st, const char *prefix, size_t d, at_gmm **out, at_error *err);
void at_gmm_free(at_gmm *g);

/* The model family (`type = gmm`). */
extern const at_model_ops at_gmm_ops;
at_status at_gmm_new(const at_gmm_params *p, size_t n_features, size_t n_classes, at_model **out,
                     at_error *err);
/* The fitted mixture of a gmm model; NULL when m is another family or not yet fitted. */
const at_gmm *at_gmm_of(const at_model *m);
/* When the model was fitted with a range of components: the k range and BIC/AIC per k
 * (count values each). Returns 0 when there was no selection. */
int at_gmm_selection(const at_model *m, size_t *k_min, size_t *count, const double **bic,
                     const double **aic);

#endif
