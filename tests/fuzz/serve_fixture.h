/* serve_fixture.h - a tiny served model for the handler tests and the serve fuzz target: a
 * 5-tree random forest on three features (u_g, g_r, redshift) and three classes, with a
 * standard scaler and the sentinel filter, built in memory (no file). */
#ifndef ASTROTRAIN_SERVE_FIXTURE_H
#define ASTROTRAIN_SERVE_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "astrotrain/bundle.h"
#include "astrotrain/params.h"

#define SF_N 120
#define SF_D 3
#define SF_K 3
static const char *const SF_FEATURES[SF_D] = {"u_g", "g_r", "redshift"};
static const char *const SF_CLASSES[SF_K] = {"GALAXY", "QSO", "STAR"};

static void sf_row(size_t i, double *x) {
    int c = (int)(i % SF_K);
    double t = (double)((i * 37) % 101) / 101.0, u = (double)((i * 53) % 89) / 89.0;
    x[0] = 1.0 + 0.8 * c + 0.6 * t;
    x[1] = 0.3 * c - 0.5 * u + 0.2 * t;
    x[2] = 0.1 + 1.5 * (c == 1) + 0.3 * u;
}

/* NULL on failure. */
static at_bundle *sf_bundle(void) {
    at_error err = {0};
    at_bundle *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->d = SF_D, b->k = SF_K;
    b->feature_names = calloc(SF_D, sizeof(char *));
    b->class_names = calloc(SF_K, sizeof(char *));
    for (size_t i = 0; i < SF_D; i++) b->feature_names[i] = strdup(SF_FEATURES[i]);
    for (size_t i = 0; i < SF_K; i++) b->class_names[i] = strdup(SF_CLASSES[i]);
    b->label = strdup("class");
    b->use_sentinel = 1, b->sentinel = -9999;
    b->config_text = strdup("");
    b->metrics_json = strdup("{\"test\": {\"n\": 40, \"accuracy\": 0.95}}");
    at_dataset *ds = NULL;
    _Alignas(max_align_t) unsigned char params[AT_PARAMS_MAX];
    if (at_dataset_new(SF_N, SF_D, 1, SF_FEATURES, SF_CLASSES, SF_K, &ds, &err)) goto fail;
    for (size_t i = 0; i < SF_N; i++) sf_row(i, ds->X + i * SF_D), ds->y[i] = (int32_t)(i % SF_K);
    if (at_scaler_fit(AT_SCALER_STANDARD, ds, &b->scaler, &err)) goto fail;
    at_scaler_apply(b->scaler, ds->X, SF_N);
    if (at_model_params_default("random_forest", params, &err)) goto fail;
    ((at_forest_params *)(void *)params)->n_trees = 5;
    if (at_model_create("random_forest", params, SF_D, SF_K, &b->model, &err)) goto fail;
    at_fit_input in = {.train = ds, .threads = 1, .seed = 7};
    if (at_model_fit(b->model, &in, &err)) goto fail;
    at_dataset_free(ds);
    return b;
fail:
    at_dataset_free(ds);
    at_bundle_free(b);
    return NULL;
}

#endif
