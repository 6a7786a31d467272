/* ensemble.h - weighted blends of trained models, weights found by random search.
 *
 * Members are complete bundles (a model with its own preprocessing), so a blend can mix
 * models trained in the same run ([member.NAME] sections) with saved model files. The
 * ensemble receives rows as its own run prepared them, undoes that scaling, and hands
 * each member the raw columns it was trained on. The weight search tries every member
 * alone first (so the blend is never worse than its best member on validation), then
 * n_trials points drawn uniformly from the simplex (seeded). */
#ifndef ASTROTRAIN_ENSEMBLE_H
#define ASTROTRAIN_ENSEMBLE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "preprocess.h"

struct at_bundle;

typedef enum at_ensemble_objective { AT_ENSEMBLE_ACCURACY = 0, AT_ENSEMBLE_LOG_LOSS = 1 } at_ensemble_objective;

typedef struct at_ensemble_params {
    char members[1024]; /* saved model files and/or names of trained runs, comma-separated */
    int64_t n_trials;   /* 1000 random weight vectors (besides each member alone) */
    int objective;      /* at_ensemble_objective, scored on the validation part */
} at_ensemble_params;

void at_ensemble_params_default(at_ensemble_params *p);

/* Builds an unfitted ensemble that owns the member bundles (freed with it, also on error).
 * input_scaler: the scaling applied to the rows the ensemble will receive (copied; NULL for
 * none); input_features: the d columns of those rows. Every member must have the same class
 * names in the same order and draw its features from input_features. */
at_status at_ensemble_new(const at_ensemble_params *p, struct at_bundle **members, const char *const *names,
                          size_t n_members, const at_scaler *input_scaler, const char *const *input_features,
                          size_t d, const char *const *class_names, size_t k, at_model **out, at_error *err);

/* Results of the weight search (NULL before fitting or for other families). */
typedef struct at_ensemble_result {
    size_t n_members, n_trials;   /* n_trials counts every scored vector, vertices included */
    const char *const *names;
    const double *weights;        /* n_members: the best vector */
    const double *member_scores;  /* n_members: each member alone, on validation */
    double blend_score;           /* the best vector's score */
    int objective;
    const double *trial_weights;  /* n_trials * n_members */
    const double *trial_scores;   /* n_trials */
} at_ensemble_result;

const at_ensemble_result *at_ensemble_result_of(const at_model *m);

extern const at_model_ops at_ensemble_ops;
/* An empty ensemble for at_model_load. */
at_status at_ensemble_empty(size_t d, size_t k, at_model **out, at_error *err);

#endif
