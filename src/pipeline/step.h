/* step.h - (private) one model trained and evaluated on prepared data with its run
 * directory (step.c), and the models a step is built from outside [model]: ensembles from
 * members (ensemble_build.c), networks from [net] (images.c). */
#ifndef ASTROTRAIN_PIPELINE_STEP_H
#define ASTROTRAIN_PIPELINE_STEP_H

#include "astrotrain/bundle.h"
#include "astrotrain/config.h"
#include "astrotrain/metrics.h"
#include "astrotrain/pipeline.h"
#include "pipeline/prepared.h"

typedef struct at_step_result {
    char dir[AT_PATH_MAX + 160];
    char type[64];
    char name[128];
    int classifier;                   /* 0 for transforms (no probabilities) */
    int has_valid;
    at_metrics valid, test;
    double fit_seconds, predict_seconds;
    double *P_valid, *P_test;         /* n * k, classifiers only */
    at_bundle *bundle;                /* the trained model and its preprocessing */
    size_t plots_written, plots_rendered;
    char plot_warning[256];
} at_step_result;

/* Trains c->model (or `model`, already created, e.g. an ensemble; taken over) on d and
 * writes dir/{config.ini, metrics.json, model.h5, predictions.csv, split.csv, plots/,
 * log.txt} (plus checkpoint.h5 for AT_CAP_CHECKPOINT families, resumed with
 * opt->resume_dir). */
at_status at_run_step(const at_config *c, const at_prepared *d, at_model *model, const char *dir,
                      const at_run_options *opt, const at_progress *p, at_step_result *out, at_error *err);
void at_step_result_free(at_step_result *r);

/* Finds a trained model by name (a study's earlier step): *out stays NULL when unknown. */
typedef at_status (*at_member_lookup)(void *ctx, const char *name, at_bundle **out, at_error *err);

/* The unfitted ensemble of c->model: [member.NAME] sections trained on d into
 * run_dir/members/NAME/, plus the `members` list (lookup first, then model files). */
at_status at_build_ensemble(const at_config *c, const at_prepared *d, const char *run_dir, const at_run_options *opt,
                            const at_progress *p, at_member_lookup lookup, void *ctx, at_model **out, at_error *err);

/* The unfitted network of [net] and its layer sections for d's k classes (images.c). */
at_status at_build_net(const at_config *c, const at_prepared *d, at_model **out, at_error *err);

/* The model of c for d, unfitted: from [model], or built from members or from [net] as
 * the family's capability flags say (NULL model: at_run_step creates it from [model]). */
at_status at_build_model(const at_config *c, const at_prepared *d, const char *run_dir, const at_run_options *opt,
                         const at_progress *p, at_member_lookup lookup, void *ctx, at_model **out, at_error *err);

#endif
