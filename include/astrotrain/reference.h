/* reference.h - the training reference a model file carries for monitoring: a summary of
 * the model's own training rows (raw values, before scaling) and of its test outcome, so
 * `astrotrain monitor` needs nothing but the model file to compare a new batch with it.
 *
 * Per input feature: up to AT_REF_BINS quantile bins (inner edges at the deciles of the
 * training values, ties merged; bin i holds (edge[i-1], edge[i]]) with the training counts,
 * the training minimum and maximum, and a fixed-size sample of the training values
 * (AT_REF_SAMPLE rows drawn with the run's seed, sorted per feature) for an exact
 * two-sample Kolmogorov-Smirnov statistic. Then the class mix (true classes of the training
 * part; predicted classes on the test part), the histogram of the winning probability on
 * the test part (AT_REF_PBINS equal bins on [0, 1]), and the test accuracy with its n.
 *
 * In the model file it is the optional group /reference (older files have none). */
#ifndef ASTROTRAIN_REFERENCE_H
#define ASTROTRAIN_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "model_file.h"
#include "status.h"

#define AT_REF_BINS 10
#define AT_REF_SAMPLE 2000
#define AT_REF_PBINS 20

typedef struct at_reference {
    size_t d, k;
    size_t n_train;       /* training rows summarised */
    uint64_t seed;        /* the run's seed (sample draw) */
    double *edges;        /* d * (AT_REF_BINS - 1) inner edges, ascending; NaN pads unused */
    double *counts;       /* d * AT_REF_BINS training counts per bin (0 past the used bins) */
    double *lo, *hi;      /* d: training minimum and maximum (finite values) */
    double *missing;      /* d: training rows with a NaN/inf value */
    size_t n_sample;      /* sample rows (<= AT_REF_SAMPLE) */
    double *sample;       /* d * n_sample: feature j's sample sorted ascending, NaNs last */
    double *class_train;  /* k: true classes of the training part */
    double *class_pred;   /* k: predicted classes on the test part (all 0 when unknown) */
    double winprob[AT_REF_PBINS]; /* test part: winning probability histogram */
    double test_accuracy; /* NaN when unknown */
    size_t test_n;
} at_reference;

/* Summarises the raw training rows of train (X n * d, y may be NULL) with seed. */
at_status at_reference_build(const at_dataset *train, uint64_t seed, at_reference **out, at_error *err);
/* Adds the test outcome: n rows with true labels y and probabilities P (n * k). */
void at_reference_set_test(at_reference *r, const int32_t *y, const double *P, size_t n);
at_status at_reference_copy(const at_reference *r, at_reference **out, at_error *err);
void at_reference_free(at_reference *r);

/* Number of bins feature j uses (1..AT_REF_BINS). */
size_t at_reference_bins(const at_reference *r, size_t j);
/* The bin of value x for feature j (x finite): the count of inner edges below x. */
size_t at_reference_bin_of(const at_reference *r, size_t j, double x);

/* The /reference group of a model file, under the store's current prefix. Reading checks
 * every size against d and k (AT_ERR_MODEL naming the dataset on a mismatch). */
at_status at_reference_write(const at_reference *r, at_store *st, at_error *err);
at_status at_reference_read(at_store *st, size_t d, size_t k, at_reference **out, at_error *err);

#endif
