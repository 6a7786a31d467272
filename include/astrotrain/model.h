/* model.h - the interface every model family implements.
 *
 * The pipeline, the ensemble, `predict` and `info` only see at_model: a table of
 * operations (fit, predict_proba, save, load, free, and optional extras) and the
 * family's private state. A family registers itself in src/models/registry.c. */
#ifndef ASTROTRAIN_MODEL_H
#define ASTROTRAIN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "images.h"
#include "json.h"
#include "model_file.h"
#include "progress.h"
#include "status.h"

/* What fit() gets: the training part (already cleaned, balanced and scaled), the
 * validation part for early stopping (may be NULL), threads and the seed.
 *
 * The data are a table or an image set, never both: a table family (AT_CAP_TABLES) reads
 * train/valid; an image family (AT_CAP_IMAGES) reads train_images/valid_images (labels in
 * their y) and finds train/valid NULL. The split, undersampling and class weights are the
 * pipeline's, the same for both kinds. Fields after `progress` are optional (zero = none),
 * so {train, valid, threads, seed, progress} initialisers keep working. */
typedef struct at_fit_input {
    const at_dataset *train;
    const at_dataset *valid; /* NULL when the split has no validation part */
    int threads;
    uint64_t seed;
    const at_progress *progress; /* may be NULL */
    const at_images *train_images; /* an image set instead of a table */
    const at_images *valid_images; /* NULL or empty when there is no validation part */
    const double *class_weight;    /* n_classes loss weights, or NULL (families with their own
                                    * class_weight parameter, the tree families, use theirs) */
    const char *checkpoint;        /* AT_CAP_CHECKPOINT families: written during fit; NULL = none */
    int resume;                    /* continue from checkpoint */
    /* Distributed training (AT_CAP_DISTRIBUTED families): train holds this rank's rows only,
     * valid is whole on every rank; NULL or one rank = a plain fit. */
    struct at_comm *comm;
    const char *device; /* networks: "cpu" (or NULL), "cuda", "cuda:N", "auto" ([run] device; issue 17) */
    /* random_forest, [run] distribute = rows: the data-parallel variant (forest_rows.c), in one
     * process too; 0 = the plain forest (by trees across ranks). */
    int distribute_rows;
} at_fit_input;

/* A per-round or per-epoch table (learning curves): n_rows rows of n_cols values.
 * Column 0 is the round/epoch number. Owned by the model. */
typedef struct at_history {
    size_t n_rows, n_cols;
    const char *const *names;
    const double *values; /* n_rows * n_cols, row-major */
} at_history;

typedef struct at_model_ops {
    const char *type; /* "random_forest", ... : the [model] type and the file's model_type */
    at_status (*fit)(void *impl, const at_fit_input *in, at_error *err);
    /* P: n * n_classes probabilities, rows summing to 1. Must not modify impl. */
    at_status (*predict_proba)(const void *impl, const double *X, size_t n, double *P, int threads,
                               at_error *err);
    /* Family arrays go under the "model/" group. */
    at_status (*save)(const void *impl, at_store *st, at_error *err);
    at_status (*load)(void *impl, at_store *st, at_error *err);
    void (*free)(void *impl);
    /* Optional (NULL when the family has none). */
    at_status (*importances)(const void *impl, double *out); /* n_features, sum 1 */
    const at_history *(*history)(const void *impl);
    void (*describe)(const void *impl, at_json *j); /* family figures into metrics.json "model_info" */
    /* Bytes that fitting n_train rows of d features (k classes, threads threads) needs at its
     * peak, the fitted model included; a fair upper estimate, checked against [run]
     * memory_limit_mb before the data are loaded. params: the family's own params struct.
     * NULL: the family needs little beyond the data. */
    size_t (*memory_estimate)(const void *params, size_t n_train, size_t d, size_t k, int threads);
    /* Image families (AT_CAP_IMAGES): P (im->n * n_classes) for decoded images of the
     * model's input size. Must not modify impl. NULL for table families. */
    at_status (*predict_images)(const void *impl, const at_images *im, double *P, int threads, at_error *err);
} at_model_ops;

typedef struct at_model {
    const at_model_ops *ops;
    void *impl;
    size_t n_features;
    size_t n_classes;
} at_model;

/* A new, unfitted model of the family named type, from that family's params struct
 * (at_forest_params, ...; see params.h), checked against the family's key table. */
at_status at_model_create(const char *type, const void *params, size_t n_features, size_t n_classes,
                          at_model **out, at_error *err);
at_status at_model_fit(at_model *m, const at_fit_input *in, at_error *err);
at_status at_model_predict_proba(const at_model *m, const double *X, size_t n, double *P,
                                 int threads, at_error *err);
/* Image models: P (im->n * n_classes); AT_ERR_USAGE for a family without AT_CAP_IMAGES. */
at_status at_model_predict_images(const at_model *m, const at_images *im, double *P, int threads, at_error *err);
/* Writes meta/model_type, meta/n_features, meta/n_classes and the family's arrays. */
at_status at_model_save(const at_model *m, at_store *st, at_error *err);
/* Reads the type from the store and dispatches to the family. */
at_status at_model_load(at_store *st, at_model **out, at_error *err);
void at_model_free(at_model *m);

/* A bare model (no preprocessing) as a whole file, written atomically, and read back;
 * whole runs save an at_bundle instead (bundle.h). */
at_status at_model_save_file(const at_model *m, const char *path, at_error *err);
at_status at_model_load_file(const char *path, at_model **out, at_error *err);

/* The registry: a family's ops by type name (NULL if unknown), and the list of names
 * (each family once, in the registry's order). */
const at_model_ops *at_model_ops_find(const char *type);
size_t at_model_types(const char *const **names);

/* What a family can do, so callers ask instead of comparing type names. */
typedef enum at_model_cap {
    AT_CAP_TABLES = 1u << 0,             /* fits and predicts rows of a table */
    AT_CAP_IMAGES = 1u << 1,             /* fits and predicts image sets (predict_images) */
    AT_CAP_UNSUPERVISED = 1u << 2,       /* fits without labels (gmm, pca) */
    AT_CAP_TRANSFORM = 1u << 3,          /* gives coordinates, not class probabilities (pca) */
    AT_CAP_BUILT_FROM_MEMBERS = 1u << 4, /* assembled from trained models, not from [model] (ensemble) */
    AT_CAP_BUILT_FROM_NET = 1u << 5,     /* built from [net] and layer sections, not from [model] (cnn) */
    AT_CAP_HISTORY = 1u << 6,            /* has a per-epoch/round learning history */
    AT_CAP_CHECKPOINT = 1u << 7,         /* checkpoints while fitting and can resume (--resume) */
    AT_CAP_DISTRIBUTED = 1u << 8         /* fits across MPI ranks, each holding some rows (at_fit_input.comm) */
} at_model_cap;

/* The capability flags (at_model_cap bits) of a family by type name (0 if unknown), and
 * whether a family / a model has every flag of caps. */
unsigned at_model_type_caps(const char *type);
int at_model_type_has(const char *type, unsigned caps);
int at_model_has(const at_model *m, unsigned caps);
/* Whether the family is a transform (pca): coordinates, no class probabilities to evaluate. */
int at_model_type_is_transform(const char *type);

#endif
