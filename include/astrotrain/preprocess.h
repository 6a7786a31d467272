/* preprocess.h - the tabular pipeline stages: clean, undersample, split, normalise. */
#ifndef ASTROTRAIN_PREPROCESS_H
#define ASTROTRAIN_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "status.h"

/* Drops, in place, rows where any feature equals the sentinel (e.g. -9999) or, unless
 * keep_nan, is not finite. *dropped gets the count. */
at_status at_clean_rows(at_dataset *ds, int use_sentinel, double sentinel, int keep_nan,
                        size_t *dropped, at_error *err);

/* Undersampling: NONE keeps everything; MINORITY draws every class down to the smallest
 * class count; PER_CLASS draws every class down to per_class rows (classes already
 * smaller are kept whole). Rows are kept in their original order. Seeded. */
typedef enum at_undersample_strategy {
    AT_UNDERSAMPLE_NONE = 0,
    AT_UNDERSAMPLE_MINORITY = 1,
    AT_UNDERSAMPLE_PER_CLASS = 2
} at_undersample_strategy;

at_status at_undersample(const at_dataset *ds, at_undersample_strategy strategy, size_t per_class,
                         uint64_t seed, at_dataset **out, at_error *err);

/* Stratified split into train / validation / test. Fractions must be in [0,1] and sum to
 * 1 (within 1e-9); validation may be 0. Every class is shuffled with its own stream and
 * cut at round(n_c * f); rows then keep their original relative order. */
at_status at_split_stratified(const at_dataset *ds, double f_train, double f_valid, double f_test,
                              uint64_t seed, at_dataset **train, at_dataset **valid,
                              at_dataset **test, at_error *err);

typedef enum at_scaler_kind {
    AT_SCALER_NONE = 0,
    AT_SCALER_STANDARD = 1, /* (x - mean) / std, population std; std 0 -> 1 */
    AT_SCALER_MINMAX = 2    /* (x - min) / (max - min); range 0 -> 1 */
} at_scaler_kind;

/* x' = (x - shift[j]) / scale[j]; NaN stays NaN and is ignored when fitting. */
typedef struct at_scaler {
    at_scaler_kind kind;
    size_t d;
    double *shift;
    double *scale;
} at_scaler;

at_status at_scaler_fit(at_scaler_kind kind, const at_dataset *train, at_scaler **out,
                        at_error *err);
/* A scaler from stored arrays (model files). */
at_status at_scaler_new(at_scaler_kind kind, size_t d, const double *shift, const double *scale,
                        at_scaler **out, at_error *err);
void at_scaler_apply(const at_scaler *s, double *X, size_t n);
void at_scaler_free(at_scaler *s);

struct at_comm;

/* ---- the same on labels only (distributed runs: every rank runs them on the gathered labels
 * of all ranks, so every rank finds the single process's rows) ---- */
/* keep (n entries of room): the positions kept, ascending; *m of them. */
at_status at_undersample_labels(const int32_t *y, size_t n, size_t k, at_undersample_strategy strategy,
                                size_t per_class, uint64_t seed, size_t *keep, size_t *m, at_error *err);
/* parts[p] (n entries of room each): the positions of train, validation, test, ascending. */
at_status at_split_labels(const int32_t *y, size_t n, size_t k, double f_train, double f_valid, double f_test,
                          uint64_t seed, size_t *parts[3], size_t counts[3], at_error *err);
/* The scaler of the training rows of every rank (comm NULL: this process's), with sums that
 * are exact (fixed point, 2^-62 of the largest magnitude), so the result does not depend on
 * how rows are spread over ranks or in which order they are added (scale_global.c). */
at_status at_scaler_fit_global(at_scaler_kind kind, const at_dataset *train, struct at_comm *comm, at_scaler **out,
                               at_error *err);

#endif
