/* config.c - the one table of configuration keys, and everything driven by it:
 * defaults, type and range checks with file:line, "did you mean", --set overrides,
 * the effective-config printout and the markdown reference (docs/config.md).
 *
 * Keys of [model] are stored relative to at_model_config so the same rows serve
 * [model] and, later, ensemble [member.NAME] sections. A [model] row lists the families
 * it applies to; setting a key of another family is an error. */
#include "astrotrain/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "astrotrain/cnn.h"
#include "astrotrain/csv.h"
#include "astrotrain/model.h"
#include "astrotrain/preprocess.h"
#include "core/strbuf.h"
#include "io/ini.h"
#include "io/words.h"

typedef enum key_type { K_INT, K_REAL, K_BOOL, K_STR, K_CHOICE } key_type;

typedef struct key_spec {
    const char *section;
    const char *name;
    key_type type;
    size_t offset; /* in at_config, or in at_model_config for section "model" */
    size_t size;
    const char *def;
    double min, max;     /* K_INT, K_REAL */
    const char *choices; /* K_CHOICE: "a|b|c", stored as the index */
    const char *models;  /* section "model": families it applies to ("*" = all) */
    const char *doc;
} key_spec;

#define C_(f) offsetof(at_config, f), sizeof(((at_config *)0)->f)
#define M_(f) offsetof(at_model_config, f), sizeof(((at_model_config *)0)->f)
#define RF "random_forest"
#define RF_CNN "random_forest,cnn"
#define MLP "mlp"
#define GB "gradient_boosting"
#define PCA "pca"
#define GMM "gmm"
#define BIG 9.2e18

static const key_spec keys[] = {
    /* [run] */
    {"run", "name", K_STR, C_(run.name), "", 0, 0, NULL, NULL,
     "Run name: results go to <output_dir>/<name>/. Empty: the config file's name without .ini."},
    {"run", "output_dir", K_STR, C_(run.output_dir), "runs", 0, 0, NULL, NULL,
     "Folder that holds run directories."},
    {"run", "seed", K_INT, C_(run.seed), "42", 0, BIG, NULL, NULL,
     "Seed of every random stream (undersampling, split, model)."},
    {"run", "threads", K_INT, C_(run.threads), "0", 0, 1024, NULL, NULL,
     "Threads for OpenMP and OpenBLAS; 0 = all cores. --threads overrides."},
    {"run", "memory_limit_mb", K_INT, C_(run.memory_limit_mb), "0", 0, BIG, NULL, NULL,
     "Training refuses (exit 7) a data set and model whose estimated memory exceeds this many MB, "
     "and stops loading a table that outgrows it; 0 = the memory available now (MemAvailable)."},
    /* [data] */
    {"data", "path", K_STR, C_(data.path), "data/sdss17/star_classification.csv.gz", 0, 0, NULL, NULL,
     "CSV catalogue, plain or gzip (detected by content). Relative to the working directory."},
    {"data", "features", K_STR, C_(data.features), "u,g,r,i,z,redshift", 0, 0, NULL, NULL,
     "Comma-separated feature column names, in model order."},
    {"data", "label", K_STR, C_(data.label), "class", 0, 0, NULL, NULL, "Label (class) column name."},
    {"data", "missing", K_CHOICE, C_(data.missing), "drop", 0, 0, "drop|error|keep", NULL,
     "Empty, NaN or Inf feature cells: drop the row (counted), stop with an error, or keep as NaN."},
    {"data", "comments", K_BOOL, C_(data.comments), "false", 0, 0, NULL, NULL,
     "Skip lines starting with '#'."},
    {"data", "delimiter", K_STR, C_(data.delimiter), ",", 0, 0, NULL, NULL,
     "Field separator (one character; 'tab' for a tab)."},
    {"data", "width", K_INT, C_(data.width), "0", 0, 4096, NULL, NULL,
     "Images (cnn): width after resizing; 0 = [net] width."},
    {"data", "height", K_INT, C_(data.height), "0", 0, 4096, NULL, NULL,
     "Images (cnn): height after resizing; 0 = [net] height."},
    {"data", "crop", K_REAL, C_(data.crop), "1", 0.01, 1, NULL, NULL,
     "Images (cnn): centre crop fraction applied before resizing (1 = none)."},
    {"data", "cache", K_STR, C_(data.cache), "", 0, 0, NULL, NULL,
     "Images (cnn): HDF5 cache of the resized set, reused when it matches; empty = none."},
    /* [clean] */
    {"clean", "sentinel_filter", K_BOOL, C_(clean.use_sentinel), "true", 0, 0, NULL, NULL,
     "Drop rows where any feature equals the sentinel (unphysical magnitudes)."},
    {"clean", "sentinel", K_REAL, C_(clean.sentinel), "-9999", -INFINITY, INFINITY, NULL, NULL,
     "The sentinel value that marks a missing measurement."},
    /* [undersample] */
    {"undersample", "strategy", K_CHOICE, C_(undersample.strategy), "minority", 0, 0,
     "none|minority|per_class", NULL,
     "Random undersampling: every class down to the minority count, to per_class rows, or none."},
    {"undersample", "per_class", K_INT, C_(undersample.per_class), "0", 0, BIG, NULL, NULL,
     "Rows per class for strategy = per_class (classes already smaller are kept whole)."},
    /* [split] */
    {"split", "train", K_REAL, C_(split.train), "0.70", 0, 1, NULL, NULL,
     "Fraction of rows for training (stratified by class)."},
    {"split", "validation", K_REAL, C_(split.validation), "0.15", 0, 1, NULL, NULL,
     "Fraction for validation (early stopping, ensemble weights); may be 0."},
    {"split", "test", K_REAL, C_(split.test), "0.15", 0, 1, NULL, NULL,
     "Fraction for the final test. The three must sum to 1."},
    /* [normalise] */
    {"normalise", "method", K_CHOICE, C_(normalise.method), "standard", 0, 0, "none|standard|minmax",
     NULL, "Feature scaling fitted on the training part: standard (mean/std), minmax, or none."},
    /* [pca] */
    {"pca", "components", K_INT, C_(pca_stage.components), "0", 0, 100000, NULL, NULL,
     "PCA stage in front of the model: project the scaled features on this many principal "
     "components (fitted on the training part); 0 = off."},
    {"pca", "whiten", K_BOOL, C_(pca_stage.whiten), "false", 0, 0, NULL, NULL,
     "Scale the PCA stage's components to unit variance."},
    /* [model] */
    {"model", "type", K_STR, M_(type), "random_forest", 0, 0, NULL, "*",
     "Model family: random_forest, gradient_boosting, mlp, gmm (Gaussian mixture matched to classes), pca (projection, no classes), ensemble (weighted blend of members), cnn (images; the network is in [net] and layer sections)."},
    {"model", "n_trees", K_INT, M_(forest.n_trees), "100", 1, 100000, NULL, RF, "Number of trees."},
    {"model", "criterion", K_CHOICE, M_(forest.criterion), "gini", 0, 0, "gini|entropy", RF,
     "Split quality measure."},
    {"model", "max_features", K_STR, M_(forest.max_features), "sqrt", 0, 0, NULL, RF,
     "Features tried per split: sqrt, log2, all, a fraction (0.5) or a count (3)."},
    {"model", "max_depth", K_INT, M_(forest.max_depth), "0", 0, 1000, NULL, RF,
     "Maximum tree depth; 0 = grow until leaves are pure or too small."},
    {"model", "min_samples_split", K_INT, M_(forest.min_samples_split), "2", 2, BIG, NULL, RF,
     "Smallest node (in-bag rows) that may be split."},
    {"model", "min_samples_leaf", K_INT, M_(forest.min_samples_leaf), "1", 1, BIG, NULL, RF,
     "Smallest number of in-bag rows in a leaf."},
    {"model", "class_weight", K_CHOICE, M_(forest.class_weight), "none", 0, 0, "none|balanced", RF_CNN,
     "balanced weighs classes by n / (k * count) on the training part."},
    {"model", "bootstrap", K_BOOL, M_(forest.bootstrap), "true", 0, 0, NULL, RF,
     "Draw each tree's rows with replacement (false: every tree sees all rows)."},
    {"model", "max_bins", K_INT, M_(forest.max_bins), "256", 2, 256, NULL, RF,
     "Quantile bins per feature for the split search (speed; 256 is near-exact)."},
    {"model", "oob_score", K_BOOL, M_(forest.oob_score), "true", 0, 0, NULL, RF,
     "Compute the out-of-bag accuracy (needs bootstrap)."},
    /* mlp */
    {"model", "class_weight", K_CHOICE, M_(mlp.class_weight), "none", 0, 0, "none|balanced", MLP,
     "balanced weighs each row's loss by n / (k * count) of its class on the training part."},
    {"model", "hidden", K_STR, M_(mlp.hidden), "64,64", 0, 0, NULL, MLP,
     "Hidden layer widths, comma-separated: up to 16 layers of 1 to 65536 units (empty: softmax regression)."},
    {"model", "activation", K_CHOICE, M_(mlp.activation), "relu", 0, 0, "relu|leaky_relu|tanh|sigmoid", MLP,
     "Hidden-layer activation (leaky_relu has slope 0.01 below zero)."},
    {"model", "optimizer", K_CHOICE, M_(mlp.optimizer), "adam", 0, 0, "adam|sgd", MLP,
     "Adam, or mini-batch SGD with momentum."},
    {"model", "learning_rate", K_REAL, M_(mlp.learning_rate), "0.001", 1e-9, 10, NULL, MLP,
     "Step size (the peak value when warmup or a schedule is used)."},
    {"model", "batch_size", K_INT, M_(mlp.batch_size), "256", 1, 1048576, NULL, MLP,
     "Rows per mini-batch; the rows are reshuffled every epoch."},
    {"model", "epochs", K_INT, M_(mlp.epochs), "50", 1, 1000000, NULL, MLP,
     "Passes over the training part (at most, with patience)."},
    {"model", "momentum", K_REAL, M_(mlp.momentum), "0.9", 0, 0.999, NULL, MLP, "SGD momentum (optimizer = sgd)."},
    {"model", "nesterov", K_BOOL, M_(mlp.nesterov), "false", 0, 0, NULL, MLP,
     "Nesterov momentum (optimizer = sgd)."},
    {"model", "beta1", K_REAL, M_(mlp.beta1), "0.9", 0, 0.999999, NULL, MLP,
     "Adam: decay rate of the gradient's running mean."},
    {"model", "beta2", K_REAL, M_(mlp.beta2), "0.999", 0, 0.999999, NULL, MLP,
     "Adam: decay rate of the squared gradient's running mean."},
    {"model", "weight_decay", K_REAL, M_(mlp.weight_decay), "0", 0, 1, NULL, MLP,
     "L2 penalty on the weights (not the biases), added to the gradient."},
    {"model", "dropout", K_REAL, M_(mlp.dropout), "0", 0, 0.95, NULL, MLP,
     "Fraction of hidden units dropped while training (inverted dropout; none at prediction)."},
    {"model", "init", K_CHOICE, M_(mlp.init), "auto", 0, 0, "auto|he|xavier", MLP,
     "Initial weights: he (normal) or xavier (uniform); auto = he for relu/leaky_relu, xavier otherwise."},
    {"model", "schedule", K_CHOICE, M_(mlp.schedule), "constant", 0, 0, "constant|step|cosine", MLP,
     "Learning rate after warm-up: constant, step (times gamma every step_size epochs) or cosine (decays to 0)."},
    {"model", "step_size", K_INT, M_(mlp.step_size), "10", 1, 1000000, NULL, MLP,
     "Epochs between learning-rate drops (schedule = step)."},
    {"model", "gamma", K_REAL, M_(mlp.gamma), "0.1", 1e-6, 1, NULL, MLP,
     "Factor applied at each learning-rate drop (schedule = step)."},
    {"model", "warmup", K_INT, M_(mlp.warmup), "0", 0, 1000000, NULL, MLP,
     "Epochs of linear learning-rate warm-up, ramped at every step: lr * min(1, (step + 1) / (warmup * "
     "steps_per_epoch)); the schedule then runs on fractional epochs (step / steps_per_epoch), as the cnn's. "
     "Must be less than epochs."},
    {"model", "patience", K_INT, M_(mlp.patience), "0", 0, 1000000, NULL, MLP,
     "Early stopping: stop after this many epochs without a lower validation loss and keep the best "
     "epoch's weights; 0 = off."},
    {"model", "n_rounds", K_INT, M_(gbdt.n_rounds), "300", 1, 1000000, NULL, GB,
     "Boosting rounds: one tree per class each (one tree for two classes)."},
    {"model", "learning_rate", K_REAL, M_(gbdt.learning_rate), "0.1", 1e-6, 1, NULL, GB,
     "Shrinkage of every leaf value (XGBoost's eta)."},
    {"model", "max_depth", K_INT, M_(gbdt.max_depth), "6", 0, 64, NULL, GB,
     "Maximum tree depth; 0 = no limit (then max_leaves must be set)."},
    {"model", "max_leaves", K_INT, M_(gbdt.max_leaves), "0", 0, 16777216, NULL, GB,
     "Maximum leaves per tree (at least 2); 0 = no limit."},
    {"model", "grow_policy", K_CHOICE, M_(gbdt.grow_policy), "depthwise", 0, 0, "depthwise|lossguide", GB,
     "Grow level by level, or best leaf first (lossguide, usually with max_leaves)."},
    {"model", "lambda", K_REAL, M_(gbdt.lambda), "1", 0, 1e6, NULL, GB,
     "L2 penalty on leaf values: leaf = -G / (H + lambda) * learning_rate."},
    {"model", "gamma", K_REAL, M_(gbdt.gamma), "0", 0, 1e12, NULL, GB,
     "Minimum gain for a split, on XGBoost's scale (its min_split_loss)."},
    {"model", "min_child_weight", K_REAL, M_(gbdt.min_child_weight), "1", 0, 1e12, NULL, GB,
     "Minimum hessian sum in each child of a split."},
    {"model", "max_bin", K_INT, M_(gbdt.max_bin), "255", 2, 255, NULL, GB,
     "Quantile bins per feature, fitted on the training part (one more code marks missing values)."},
    {"model", "subsample", K_REAL, M_(gbdt.subsample), "1", 1e-6, 1, NULL, GB,
     "Fraction of training rows drawn (seeded) for each tree."},
    {"model", "colsample", K_REAL, M_(gbdt.colsample), "1", 1e-6, 1, NULL, GB,
     "Fraction of features drawn (seeded) for each tree."},
    {"model", "early_stopping_rounds", K_INT, M_(gbdt.early_stopping_rounds), "0", 0, 1000000, NULL, GB,
     "Stop when validation log-loss has not improved for this many rounds, keep the best; 0 = off."},
    {"model", "n_components", K_INT, M_(pca.n_components), "3", 0, 100000, NULL, PCA,
     "Principal components kept; 0 = all; more than the features is clipped."},
    {"model", "variance_to_keep", K_REAL, M_(pca.variance_to_keep), "0", 0, 1, NULL, PCA,
     "When > 0: keep the fewest components whose explained-variance ratios reach this fraction (n_components is then ignored)."},
    {"model", "whiten", K_BOOL, M_(pca.whiten), "false", 0, 0, NULL, PCA,
     "Scale each component's scores to unit variance."},
    {"model", "components", K_STR, M_(gmm.components), "3", 0, 0, NULL, GMM,
     "Mixture components: a count (3), or a range (2..8) to fit each and keep the lowest BIC."},
    {"model", "covariance_type", K_CHOICE, M_(gmm.covariance_type), "full", 0, 0, "full|diag|spherical", GMM,
     "Covariance per component: a full matrix, a diagonal, or one variance."},
    {"model", "max_iter", K_INT, M_(gmm.max_iter), "100", 1, 100000, NULL, GMM,
     "Most EM iterations per initialisation."},
    {"model", "tol", K_REAL, M_(gmm.tol), "1e-3", 0, INFINITY, NULL, GMM,
     "EM stops when the mean log-likelihood per row changes by less than this."},
    {"model", "reg_covar", K_REAL, M_(gmm.reg_covar), "1e-6", 0, INFINITY, NULL, GMM,
     "Added to every variance so covariances stay invertible (constant or duplicated features)."},
    {"model", "n_init", K_INT, M_(gmm.n_init), "1", 1, 1000, NULL, GMM,
     "Initialisations (k-means++ then Lloyd, each seeded); the best final log-likelihood is kept."},
    {"model", "kmeans_iter", K_INT, M_(gmm.kmeans_iter), "100", 0, 100000, NULL, GMM,
     "Most Lloyd (k-means) iterations after k-means++, stopping early when assignments settle."},
    {"model", "members", K_STR, M_(ensemble.members), "", 0, 0, NULL, "ensemble",
     "Members besides the [member.NAME] sections: saved model files (runs/rf/model.h5), or in a study the "
     "names of earlier steps; comma-separated."},
    {"model", "n_trials", K_INT, M_(ensemble.n_trials), "1000", 0, 10000000, NULL, "ensemble",
     "Random weight vectors drawn uniformly from the simplex (each member alone is always tried too)."},
    {"model", "objective", K_CHOICE, M_(ensemble.objective), "accuracy", 0, 0, "accuracy|log_loss", "ensemble",
     "Validation score the weight search maximises (accuracy) or minimises (log_loss)."},
    /* [metrics] */
    {"metrics", "confident_threshold", K_REAL, C_(metrics.confident_threshold), "0.9", 0, 1, NULL, NULL,
     "Probability above which a correct prediction counts as confident (confident_fraction)."},
    /* [plots] */
    {"plots", "enabled", K_BOOL, C_(plots.enabled), "true", 0, 0, NULL, NULL,
     "Write gnuplot scripts and data for every figure."},
    {"plots", "render", K_BOOL, C_(plots.render), "true", 0, 0, NULL, NULL,
     "Also render the PNGs when gnuplot is on the PATH."},
};
#define N_KEYS (sizeof keys / sizeof keys[0])

static const char *const section_names[] = {"run",       "data", "clean", "undersample", "split",
                                            "normalise", "pca",  "model", "metrics",     "plots"};
#define N_SECTIONS (sizeof section_names / sizeof section_names[0])

/* ---- helpers ------------------------------------------------------------------------ */

static int section_is_model(const char *section) { return strcmp(section, "model") == 0; }

static int key_applies(const key_spec *k, const char *type);

/* Families may share a key name (max_depth) with their own defaults and ranges: the row that
 * applies to the model type set so far wins, else the first (the type check reports it). */
static const key_spec *find_key(const char *section, const char *name, const char *type) {
    const key_spec *first = NULL;
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0) {
            if (!first) first = &keys[i];
            if (type && key_applies(&keys[i], type)) return &keys[i];
        }
    return first;
}

static int key_applies(const key_spec *k, const char *type) {
    if (!k->models || strcmp(k->models, "*") == 0) return 1;
    size_t n = strlen(type);
    for (const char *p = k->models; (p = strstr(p, type)) != NULL; p += n) {
        int starts = p == k->models || p[-1] == ',';
        int ends = p[n] == '\0' || p[n] == ',';
        if (starts && ends) return 1;
    }
    return 0;
}

/* member < 0: [model]; otherwise the [member.NAME] section of that index. */
static void *field(at_config *c, const key_spec *k, int member) {
    char *base = !section_is_model(k->section) ? (char *)c
                 : member >= 0                 ? (char *)&c->members[member].model
                                               : (char *)&c->model;
    return base + k->offset;
}
static const void *cfield(const at_config *c, const key_spec *k, int member) {
    const char *base = !section_is_model(k->section) ? (const char *)c
                       : member >= 0                 ? (const char *)&c->members[member].model
                                                     : (const char *)&c->model;
    return base + k->offset;
}

static void trim_copy(const char *in, char *out, size_t cap) {
    while (isspace((unsigned char)*in)) in++;
    size_t n = strlen(in);
    while (n && isspace((unsigned char)in[n - 1])) n--;
    if (n >= cap) n = cap - 1;
    memcpy(out, in, n);
    out[n] = '\0';
}

static int parse_bool(const char *v, int *out) {
    static const char *const t[] = {"true", "yes", "on", "1"}, *const f[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, t[i]) == 0) return *out = 1, 1;
        if (strcasecmp(v, f[i]) == 0) return *out = 0, 1;
    }
    return 0;
}

static at_status set_value(at_config *c, const key_spec *k, int member, const char *raw, at_error *err) {
    char v[AT_LIST_MAX];
    trim_copy(raw, v, sizeof v);
    void *dst = field(c, k, member);
    switch (k->type) {
    case K_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (!v[0] || *end || errno == ERANGE)
            return at_fail(err, AT_ERR_CONFIG, "[%s] %s: '%s' is not an integer", k->section, k->name, v);
        if ((double)x < k->min || (double)x > k->max)
            return at_fail(err, AT_ERR_CONFIG, "[%s] %s = %lld is out of range [%.0f, %.0f]", k->section,
                           k->name, x, k->min, k->max);
        *(int64_t *)dst = x;
        return AT_OK;
    }
    case K_REAL: {
        char *end;
        double x = strtod(v, &end);
        if (!v[0] || *end || !isfinite(x))
            return at_fail(err, AT_ERR_CONFIG, "[%s] %s: '%s' is not a finite number", k->section, k->name, v);
        if (x < k->min || x > k->max)
            return at_fail(err, AT_ERR_CONFIG, "[%s] %s = %g is out of range [%g, %g]", k->section, k->name,
                           x, k->min, k->max);
        *(double *)dst = x;
        return AT_OK;
    }
    case K_BOOL:
        if (!parse_bool(v, (int *)dst))
            return at_fail(err, AT_ERR_CONFIG, "[%s] %s: '%s' is not a boolean (true/false)", k->section,
                           k->name, v);
        return AT_OK;
    case K_CHOICE: {
        int idx = at_choice_index(k->choices, v);
        if (idx < 0) {
            char list[256];
            snprintf(list, sizeof list, "%s", k->choices);
            for (char *p = list; *p; p++)
                if (*p == '|') *p = '/';
            return at_fail(err, AT_ERR_CONFIG, "[%s] %s: '%s' is not one of %s", k->section, k->name, v, list);
        }
        *(int *)dst = idx;
        return AT_OK;
    }
    case K_STR:
        if (strlen(v) >= k->size)
            return at_fail(err, AT_ERR_CONFIG, "[%s] %s: value too long (%zu characters; at most %zu)",
                           k->section, k->name, strlen(v), k->size - 1);
        memcpy(dst, v, strlen(v) + 1);
        return AT_OK;
    }
    return at_fail(err, AT_ERR_INTERNAL, "bad key type");
}

void at_config_defaults(at_config *c) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_KEYS; i++) {
        at_error e;
        if (set_value(c, &keys[i], -1, keys[i].def, &e) != AT_OK) abort(); /* a bad table is a build bug */
    }
}

/* A new [member.NAME] section starts from the [model] defaults. */
static void member_defaults(at_config *c, int member) {
    for (size_t i = 0; i < N_KEYS; i++) {
        at_error e;
        if (section_is_model(keys[i].section) && set_value(c, &keys[i], member, keys[i].def, &e) != AT_OK) abort();
    }
}

static int is_member_section(const char *s) { return strncmp(s, "member.", 7) == 0; }

static int find_member(const at_config *c, const char *section) {
    for (size_t i = 0; i < c->n_members; i++)
        if (strcmp(c->members[i].name, section + 7) == 0) return (int)i;
    return -1;
}

/* ---- loading ------------------------------------------------------------------------ */

typedef struct seen_key {
    const key_spec *k;
    int member;  /* -1 outside [member.NAME] sections */
    size_t line; /* 0 = --set */
} seen_key;

/* A key of a model section, applied once the section's type is known (families may share
 * key names with different meanings and defaults, e.g. max_depth). */
typedef struct pending_key {
    int member;
    char key[64];
    char *value;
    const char *file; /* where it was set (the caller's path string) */
    size_t line;      /* 0 = --set */
} pending_key;

typedef struct load_state {
    at_config *c;
    const char *file; /* the file being parsed */
    seen_key seen[N_KEYS * (AT_MAX_MEMBERS + 1)];
    size_t n_seen;
    pending_key *pending;
    size_t n_pending, cap_pending;
    struct {
        char name[64];
        size_t line;
    } sections[32];
    size_t n_sections;
} load_state;

static at_status unknown_section(const char *section, at_error *err) {
    const char *near = at_nearest_word(section, section_names, N_SECTIONS);
    if (near)
        return at_fail(err, AT_ERR_CONFIG, "unknown section [%s] (did you mean [%s]?)", section, near);
    char list[256] = "";
    for (size_t i = 0; i < N_SECTIONS; i++) {
        strcat(list, i ? ", " : "");
        strcat(list, section_names[i]);
    }
    return at_fail(err, AT_ERR_CONFIG, "unknown section [%s] (sections are: %s)", section, list);
}

static at_status unknown_key(const char *section, const char *key, at_error *err) {
    const char *cands[N_KEYS];
    size_t n = 0;
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].section, section) == 0) cands[n++] = keys[i].name;
    const char *near = at_nearest_word(key, cands, n);
    if (near) return at_fail(err, AT_ERR_CONFIG, "unknown key '%s' in [%s] (did you mean '%s'?)", key, section, near);
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].name, key) == 0)
            return at_fail(err, AT_ERR_CONFIG, "unknown key '%s' in [%s] (it belongs in [%s])", key, section,
                           keys[i].section);
    return at_fail(err, AT_ERR_CONFIG, "unknown key '%s' in [%s]", key, section);
}

static int known_section(const char *s) {
    for (size_t i = 0; i < N_SECTIONS; i++)
        if (strcmp(section_names[i], s) == 0) return 1;
    return 0;
}

/* [net] and layer sections are collected raw, in order, for the CNN's parser. */
static at_status net_record(at_config *c, const char *section, const char *key, const char *value, size_t line,
                            size_t index, at_error *err) {
    if (c->net.n >= AT_NET_RECORDS_MAX)
        return at_fail(err, AT_ERR_CONFIG, "too many network lines (at most %d)", AT_NET_RECORDS_MAX);
    at_net_record *r = &c->net.rec[c->net.n];
    char v[AT_LIST_MAX];
    trim_copy(value, v, sizeof v);
    if (strlen(section) >= sizeof r->section || strlen(key) >= sizeof r->key || strlen(v) >= sizeof r->value)
        return at_fail(err, AT_ERR_CONFIG, "[%s] %s: name or value too long", section, key);
    memset(r, 0, sizeof *r);
    strcpy(r->section, section);
    strcpy(r->key, key);
    strcpy(r->value, v);
    r->line = (uint32_t)line;
    r->index = (uint32_t)index;
    c->net.n++;
    return AT_OK;
}

static at_status add_member(at_config *c, const char *section, at_error *err) {
    const char *name = section + 7;
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof c->members[0].name)
        return at_fail(err, AT_ERR_CONFIG, "[%s]: a member needs a short name ([member.rf])", section);
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
            return at_fail(err, AT_ERR_CONFIG, "[%s]: member names use letters, digits, '_' and '-'", section);
    if (c->n_members >= AT_MAX_MEMBERS)
        return at_fail(err, AT_ERR_CONFIG, "[%s]: at most %d ensemble members", section, AT_MAX_MEMBERS);
    int m = (int)c->n_members++;
    memcpy(c->members[m].name, name, n + 1);
    member_defaults(c, m);
    return AT_OK;
}

static at_status on_section(void *user, const char *section, size_t line, at_error *err) {
    load_state *ls = user;
    if (at_cnn_is_net_section(section)) return net_record(ls->c, section, "", "", line, ls->c->net.n_sections++, err);
    if (is_member_section(section)) {
        /* A member may be declared again by a later file of a layered load (it adds keys). */
        if (find_member(ls->c, section) < 0) {
            at_status st = add_member(ls->c, section, err);
            if (st) return st;
        }
    } else if (!known_section(section)) {
        return unknown_section(section, err);
    }
    for (size_t i = 0; i < ls->n_sections; i++)
        if (strcmp(ls->sections[i].name, section) == 0)
            return at_fail(err, AT_ERR_CONFIG, "section [%s] appears twice (first at line %zu)", section,
                           ls->sections[i].line);
    if (ls->n_sections < 32) {
        snprintf(ls->sections[ls->n_sections].name, sizeof ls->sections[0].name, "%s", section);
        ls->sections[ls->n_sections++].line = line;
    }
    return AT_OK;
}

static int any_model_key(const char *name) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (section_is_model(keys[i].section) && strcmp(keys[i].name, name) == 0) return 1;
    return 0;
}

static at_status defer_model_key(load_state *ls, int member, const char *section, const char *key, const char *value,
                                 size_t line, at_error *err) {
    if (!any_model_key(key)) {
        at_status st = unknown_key("model", key, err);
        if (member >= 0) at_error_prefix(err, "[%s]: ", section);
        return st;
    }
    if (strlen(key) >= sizeof ls->pending[0].key) return at_fail(err, AT_ERR_CONFIG, "key name too long");
    for (size_t i = 0; i < ls->n_pending; i++) {
        pending_key *pk = &ls->pending[i];
        if (pk->member == member && strcmp(pk->key, key) == 0) {
            if (line && pk->line)
                return at_fail(err, AT_ERR_CONFIG, "key '%s' in [%s] is set twice (first at line %zu)", key, section,
                               pk->line);
            char *v = at_strdup(value, err);
            if (!v) return AT_ERR_MEMORY;
            free(pk->value);
            pk->value = v;
            pk->line = line;
            pk->file = ls->file;
            return AT_OK;
        }
    }
    if (ls->n_pending == ls->cap_pending) {
        size_t cap = ls->cap_pending ? 2 * ls->cap_pending : 32;
        pending_key *p = realloc(ls->pending, cap * sizeof *p);
        if (!p) return at_fail(err, AT_ERR_MEMORY, "out of memory");
        ls->pending = p;
        ls->cap_pending = cap;
    }
    pending_key *pk = &ls->pending[ls->n_pending];
    pk->value = at_strdup(value, err);
    if (!pk->value) return AT_ERR_MEMORY;
    pk->member = member;
    memcpy(pk->key, key, strlen(key) + 1);
    pk->line = line;
    pk->file = ls->file;
    ls->n_pending++;
    return AT_OK;
}

static at_status record_key(load_state *ls, const char *section, const char *key, const char *value,
                            size_t line, at_error *err) {
    if (!section[0]) return at_fail(err, AT_ERR_CONFIG, "key '%s' before any [section]", key);
    if (at_cnn_is_net_section(section)) {
        at_config *c = ls->c;
        if (line) return net_record(c, section, key, value, line, c->net.n_sections - 1, err);
        /* --set: only [net] keys (layers repeat, so "conv.filters" would be ambiguous) */
        if (strcmp(section, "net") != 0)
            return at_fail(err, AT_ERR_CONFIG, "layer keys cannot be set with --set; edit the [%s] section", section);
        for (size_t i = 0; i < c->net.n; i++)
            if (strcmp(c->net.rec[i].section, "net") == 0 && strcmp(c->net.rec[i].key, key) == 0) {
                char v[AT_LIST_MAX];
                trim_copy(value, v, sizeof v);
                if (strlen(v) >= sizeof c->net.rec[i].value) return at_fail(err, AT_ERR_CONFIG, "value too long");
                strcpy(c->net.rec[i].value, v);
                return AT_OK;
            }
        for (size_t i = 0; i < c->net.n; i++)
            if (strcmp(c->net.rec[i].section, "net") == 0)
                return net_record(c, section, key, value, 0, c->net.rec[i].index, err);
        return at_fail(err, AT_ERR_CONFIG, "there is no [net] section to set '%s' in", key);
    }
    int member = -1;
    const char *table_section = section;
    if (is_member_section(section)) {
        member = find_member(ls->c, section);
        if (member < 0) return at_fail(err, AT_ERR_CONFIG, "no section [%s] in the configuration", section);
        table_section = "model";
    } else if (!known_section(section)) {
        return unknown_section(section, err);
    }
    if (section_is_model(table_section) && strcmp(key, "type") != 0)
        return defer_model_key(ls, member, section, key, value, line, err);
    const key_spec *k = find_key(table_section, key, NULL);
    if (!k) return unknown_key(table_section, key, err);
    for (size_t i = 0; i < ls->n_seen; i++)
        if (ls->seen[i].k == k && ls->seen[i].member == member) {
            if (line && ls->seen[i].line)
                return at_fail(err, AT_ERR_CONFIG, "key '%s' in [%s] is set twice (first at line %zu)", key,
                               section, ls->seen[i].line);
            ls->seen[i].line = line;
            return set_value(ls->c, k, member, value, err);
        }
    ls->seen[ls->n_seen].k = k;
    ls->seen[ls->n_seen].member = member;
    ls->seen[ls->n_seen++].line = line;
    return set_value(ls->c, k, member, value, err);
}

/* Applies the deferred keys of one model section now that its type is known. */
static at_status apply_model_keys(load_state *ls, int member, const char *section, const char *type, at_error *err) {
    const at_config *c = ls->c;
    for (size_t i = 0; i < ls->n_pending; i++) {
        const pending_key *pk = &ls->pending[i];
        if (pk->member != member) continue;
        char where[AT_PATH_MAX + 160];
        if (pk->line) snprintf(where, sizeof where, "%s:%zu: ", pk->file ? pk->file : c->source, pk->line);
        else snprintf(where, sizeof where, "--set %s.%s=%s: ", section, pk->key, pk->value);
        const key_spec *k = find_key("model", pk->key, type);
        if (!k || !key_applies(k, type)) {
            char fams[256] = "";
            for (size_t j = 0; j < N_KEYS; j++)
                if (section_is_model(keys[j].section) && strcmp(keys[j].name, pk->key) == 0) {
                    if (fams[0]) strncat(fams, ",", sizeof fams - strlen(fams) - 1);
                    strncat(fams, keys[j].models, sizeof fams - strlen(fams) - 1);
                }
            return at_fail(err, AT_ERR_CONFIG, "%skey '%s' does not apply to model type '%s' (it is for: %s)", where,
                           pk->key, type, fams);
        }
        at_status st = set_value(ls->c, k, member, pk->value, err);
        if (st) return at_error_prefix(err, "%s", where);
    }
    return AT_OK;
}

static at_status on_entry(void *user, const char *section, const char *key, const char *value,
                          size_t line, at_error *err) {
    return record_key(user, section, key, value, line, err);
}

/* One model section ([model] or [member.NAME], member < 0 for [model]): a known type,
 * only keys of that family, and the checks that need the family. */
static at_status validate_model(load_state *ls, const at_model_config *mc, int member, const char *section,
                                at_error *err) {
    const at_config *c = ls->c;
    char where[AT_PATH_MAX + 96];
    const char *const *types;
    size_t nt = at_model_types(&types);
    size_t type_line = 0;
    for (size_t i = 0; i < ls->n_seen; i++)
        if (ls->seen[i].member == member && strcmp(ls->seen[i].k->name, "type") == 0 &&
            section_is_model(ls->seen[i].k->section))
            type_line = ls->seen[i].line;
    if (!at_model_ops_find(mc->type)) {
        snprintf(where, sizeof where, type_line ? "%s:%zu: " : "%s: ", c->source[0] ? c->source : "--set",
                 type_line);
        const char *near = at_nearest_word(mc->type, types, nt);
        char list[512] = "";
        for (size_t i = 0; i < nt; i++) {
            strcat(list, i ? ", " : "");
            strncat(list, types[i], sizeof list - strlen(list) - 3);
        }
        if (near)
            return at_fail(err, AT_ERR_CONFIG, "%s[%s] unknown model type '%s' (did you mean '%s'?)", where, section,
                           mc->type, near);
        return at_fail(err, AT_ERR_CONFIG, "%s[%s] unknown model type '%s' (types are: %s)", where, section, mc->type,
                       list);
    }
    if (member >= 0 && strcmp(mc->type, "ensemble") == 0)
        return at_fail(err, AT_ERR_CONFIG, "%s: [%s] an ensemble cannot be a member of an ensemble",
                       c->source[0] ? c->source : "config", section);
    at_status ast = apply_model_keys(ls, member, section, mc->type, err);
    if (ast) return ast;
    snprintf(where, sizeof where, "%s: ", c->source[0] ? c->source : "config");
    size_t mf;
    if (!at_forest_max_features(mc->forest.max_features, 1u << 20, &mf))
        return at_fail(err, AT_ERR_CONFIG,
                       "%s[%s] max_features = '%s': expected sqrt, log2, all, a fraction or a count", where, section,
                       mc->forest.max_features);
    if (strcmp(mc->type, "mlp") == 0) {
        size_t hidden[AT_MLP_MAX_HIDDEN], nh;
        if (at_mlp_parse_hidden(mc->mlp.hidden, hidden, &nh, err))
            return at_error_prefix(err, "%s[%s] ", where, section);
        if (mc->mlp.warmup >= mc->mlp.epochs)
            return at_fail(err, AT_ERR_CONFIG, "%s[%s] warmup = %lld must be less than epochs = %lld", where, section,
                           (long long)mc->mlp.warmup, (long long)mc->mlp.epochs);
    }
    size_t k_lo, k_hi;
    if (!at_gmm_components(mc->gmm.components, &k_lo, &k_hi))
        return at_fail(err, AT_ERR_CONFIG,
                       "%s[%s] components = '%s': expected a count (3) or a range (2..8) within 1..1000", where,
                       section, mc->gmm.components);
    return AT_OK;
}

/* Checks that need several keys: model sections, split fractions, the feature list. */
static at_status validate(load_state *ls, at_error *err) {
    at_config *c = ls->c;
    int is_cnn = strcmp(c->model.type, "cnn") == 0;
    if (is_cnn || c->net.n) {
        const char *src = c->source[0] ? c->source : "config";
        if (!is_cnn)
            return at_fail(err, AT_ERR_CONFIG, "%s:%u: [%s] describes a network: set [model] type = cnn", src,
                           c->net.rec[0].line, c->net.rec[0].section);
        at_cnn_spec *spec = NULL;
        at_status st = at_cnn_spec_parse(c->net.rec, c->net.n, src, &spec, err);
        at_cnn_spec_free(spec);
        if (st) return st;
    }
    char where[AT_PATH_MAX + 32];
    at_status st = validate_model(ls, &c->model, -1, "model", err);
    for (size_t m = 0; !st && m < c->n_members; m++) {
        char section[96];
        snprintf(section, sizeof section, "member.%s", c->members[m].name);
        st = validate_model(ls, &c->members[m].model, (int)m, section, err);
    }
    if (st) return st;
    snprintf(where, sizeof where, "%s: ", c->source[0] ? c->source : "config");
    double sum = c->split.train + c->split.validation + c->split.test;
    if (fabs(sum - 1.0) > 1e-9)
        return at_fail(err, AT_ERR_CONFIG, "%s[split] train + validation + test = %g, must be 1", where, sum);
    /* A transform (pca) is not evaluated, so it may fit on everything. */
    int transform = at_model_type_is_transform(c->model.type);
    if (c->split.train <= 0 || (c->split.test <= 0 && !transform))
        return at_fail(err, AT_ERR_CONFIG, "%s[split] train and test must be > 0", where);
    if (c->undersample.strategy == AT_UNDERSAMPLE_PER_CLASS && c->undersample.per_class < 1)
        return at_fail(err, AT_ERR_CONFIG, "%s[undersample] strategy = per_class needs per_class >= 1", where);
    if (strcmp(c->data.delimiter, "tab") == 0) strcpy(c->data.delimiter, "\t");
    if (strlen(c->data.delimiter) != 1)
        return at_fail(err, AT_ERR_CONFIG, "%s[data] delimiter must be one character", where);
    char **items = NULL;
    size_t n = 0;
    st = at_split_list(c->data.features, &items, &n, err);
    if (st) return at_error_prefix(err, "%s[data] features: ", where);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(items[i], items[j]) == 0) {
                at_fail(err, AT_ERR_CONFIG, "%s[data] features: '%s' is listed twice", where, items[i]);
                for (size_t q = 0; q < n; q++) free(items[q]);
                free(items);
                return AT_ERR_CONFIG;
            }
    for (size_t q = 0; q < n; q++) free(items[q]);
    free(items);
    if (n == 0) return at_fail(err, AT_ERR_CONFIG, "%s[data] features: no feature columns", where);
    return AT_OK;
}

static at_status apply_override(load_state *ls, const char *text, at_error *err) {
    const char *eq = strchr(text, '=');
    const char *dot = eq ? memchr(text, '.', (size_t)(eq - text)) : NULL;
    if (!eq || !dot)
        return at_fail(err, AT_ERR_USAGE, "--set %s: expected section.key=value", text);
    /* The key follows the last dot before '=' (sections like member.rf may hold dots). */
    for (const char *p = dot; p < eq; p++)
        if (*p == '.') dot = p;
    char section[128], key[128];
    size_t sl = (size_t)(dot - text), kl = (size_t)(eq - dot - 1);
    if (sl >= sizeof section || kl >= sizeof key)
        return at_fail(err, AT_ERR_USAGE, "--set %s: name too long", text);
    memcpy(section, text, sl);
    section[sl] = '\0';
    memcpy(key, dot + 1, kl);
    key[kl] = '\0';
    char s2[128], k2[128];
    trim_copy(section, s2, sizeof s2);
    trim_copy(key, k2, sizeof k2);
    at_status st = record_key(ls, s2, k2, eq + 1, 0, err);
    if (st) return at_error_prefix(err, "--set %s: ", text);
    return AT_OK;
}

at_status at_config_load_layers(const char *const *paths, size_t n_paths, const char *const *overrides,
                                size_t n_overrides, at_config *c, at_error *err) {
    at_config_defaults(c);
    load_state *ls = at_calloc(1, sizeof *ls, err);
    if (!ls) return AT_ERR_MEMORY;
    ls->c = c;
    at_status st = AT_OK;
    for (size_t f = 0; !st && f < n_paths; f++) {
        if (strlen(paths[f]) >= sizeof c->source) {
            st = at_fail(err, AT_ERR_USAGE, "config path too long");
            break;
        }
        strcpy(c->source, paths[f]);
        ls->file = paths[f];
        /* A later file may set again what an earlier one set: only repeats within one file
         * are mistakes. */
        ls->n_sections = 0;
        for (size_t i = 0; i < ls->n_seen; i++) ls->seen[i].line = 0;
        for (size_t i = 0; i < ls->n_pending; i++) ls->pending[i].line = 0;
        at_ini_callbacks cb = {on_section, on_entry, ls};
        st = at_ini_parse(paths[f], &cb, err);
    }
    ls->file = NULL;
    for (size_t i = 0; !st && i < n_overrides; i++) st = apply_override(ls, overrides[i], err);
    if (!st) st = validate(ls, err);
    if (!st && !c->run.name[0]) {
        /* Default run name: the (last) config file's name without folder and extension. */
        const char *path = n_paths ? paths[n_paths - 1] : NULL;
        const char *base = path ? strrchr(path, '/') : NULL;
        base = base ? base + 1 : (path ? path : "run");
        snprintf(c->run.name, sizeof c->run.name, "%s", base);
        char *dot = strrchr(c->run.name, '.');
        if (dot && dot != c->run.name) *dot = '\0';
    }
    for (size_t i = 0; i < ls->n_pending; i++) free(ls->pending[i].value);
    free(ls->pending);
    free(ls);
    return st;
}

at_status at_config_load(const char *path, const char *const *overrides, size_t n_overrides,
                         at_config *c, at_error *err) {
    return at_config_load_layers(path ? &path : NULL, path ? 1 : 0, overrides, n_overrides, c, err);
}

at_status at_config_set(at_config *c, const char *section, const char *key, const char *value,
                        at_error *err) {
    if (!known_section(section)) return unknown_section(section, err);
    const key_spec *k = find_key(section, key, c->model.type);
    if (!k) return unknown_key(section, key, err);
    if (section_is_model(section) && !key_applies(k, c->model.type))
        return at_fail(err, AT_ERR_CONFIG, "key '%s' does not apply to model type '%s'", key, c->model.type);
    return set_value(c, k, -1, value, err);
}

/* ---- printing ----------------------------------------------------------------------- */

static void format_value(const at_config *c, const key_spec *k, int member, char *out, size_t cap) {
    const void *src = cfield(c, k, member);
    switch (k->type) {
    case K_INT: snprintf(out, cap, "%lld", (long long)*(const int64_t *)src); break;
    case K_REAL: snprintf(out, cap, "%.17g", *(const double *)src);
        /* shortest round-trip text */
        for (int p = 1; p < 17; p++) {
            char t[64];
            snprintf(t, sizeof t, "%.*g", p, *(const double *)src);
            if (strtod(t, NULL) == *(const double *)src) {
                snprintf(out, cap, "%s", t);
                break;
            }
        }
        break;
    case K_BOOL: snprintf(out, cap, "%s", *(const int *)src ? "true" : "false"); break;
    case K_CHOICE: at_choice_name(k->choices, *(const int *)src, out, cap); break;
    case K_STR:
        if (strcmp(k->name, "delimiter") == 0 && strcmp((const char *)src, "\t") == 0)
            snprintf(out, cap, "tab");
        else
            snprintf(out, cap, "%s", (const char *)src);
        break;
    }
}

char *at_config_format(const at_config *c) {
    at_strbuf b = {0};
    at_strbuf_printf(&b, "; effective configuration (every default filled in)\n");
    for (size_t s = 0; s < N_SECTIONS; s++) {
        at_strbuf_printf(&b, "\n[%s]\n", section_names[s]);
        for (size_t i = 0; i < N_KEYS; i++) {
            const key_spec *k = &keys[i];
            if (strcmp(k->section, section_names[s]) != 0) continue;
            if (section_is_model(k->section) && !key_applies(k, c->model.type)) continue;
            char v[AT_LIST_MAX];
            format_value(c, k, -1, v, sizeof v);
            at_strbuf_printf(&b, "%s = %s\n", k->name, v);
        }
    }
    for (size_t m = 0; m < c->n_members; m++) {
        at_strbuf_printf(&b, "\n[member.%s]\n", c->members[m].name);
        for (size_t i = 0; i < N_KEYS; i++) {
            const key_spec *k = &keys[i];
            if (!section_is_model(k->section) || !key_applies(k, c->members[m].model.type)) continue;
            char v[AT_LIST_MAX];
            format_value(c, k, (int)m, v, sizeof v);
            at_strbuf_printf(&b, "%s = %s\n", k->name, v);
        }
    }
    /* The network as written (the CNN's model file keeps it with every default filled in). */
    for (size_t sec = 0; sec < c->net.n_sections; sec++)
        for (size_t i = 0; i < c->net.n; i++) {
            const at_net_record *r = &c->net.rec[i];
            if (r->index != sec) continue;
            if (!r->key[0]) at_strbuf_printf(&b, "\n[%s]\n", r->section);
            else at_strbuf_printf(&b, "%s = %s\n", r->key, r->value);
        }
    return at_strbuf_take(&b);
}

char *at_config_doc(void) {
    at_strbuf b = {0};
    at_strbuf_printf(&b, "# Configuration reference\n\n"
                  "Generated by `astrotrain config --doc` from the key table in src/io/config.c; "
                  "every key, its default and what it does. Any key can be overridden on the command "
                  "line with `--set section.key=value`.\n");
    for (size_t s = 0; s < N_SECTIONS; s++) {
        at_strbuf_printf(&b, "\n## [%s]\n\n| key | type | default | allowed | description |\n|---|---|---|---|---|\n",
                  section_names[s]);
        for (size_t i = 0; i < N_KEYS; i++) {
            const key_spec *k = &keys[i];
            if (strcmp(k->section, section_names[s]) != 0) continue;
            char allowed[256] = "";
            const char *type = "";
            switch (k->type) {
            case K_INT:
                type = "integer";
                if (k->max >= BIG) snprintf(allowed, sizeof allowed, ">= %.0f", k->min);
                else snprintf(allowed, sizeof allowed, "%.0f .. %.0f", k->min, k->max);
                break;
            case K_REAL:
                type = "real";
                if (isfinite(k->min)) snprintf(allowed, sizeof allowed, "%g .. %g", k->min, k->max);
                else snprintf(allowed, sizeof allowed, "any");
                break;
            case K_BOOL: type = "boolean"; snprintf(allowed, sizeof allowed, "true, false"); break;
            case K_CHOICE:
                type = "choice";
                snprintf(allowed, sizeof allowed, "%s", k->choices);
                for (char *p = allowed; *p; p++)
                    if (*p == '|') *p = ',';
                break;
            case K_STR: type = "text"; break;
            }
            char models[128] = "";
            if (section_is_model(k->section) && k->models && strcmp(k->models, "*"))
                snprintf(models, sizeof models, " (%s)", k->models);
            at_strbuf_printf(&b, "| `%s` | %s | `%s` | %s | %s%s |\n", k->name, type, k->def[0] ? k->def : "\"\"",
                      allowed, k->doc, models);
        }
    }
    char *net = at_cnn_doc();
    if (net) at_strbuf_printf(&b, "%s", net);
    free(net);
    return at_strbuf_take(&b);
}

/* ---- misc --------------------------------------------------------------------------- */

at_status at_split_list(const char *text, char ***items, size_t *n, at_error *err) {
    *items = NULL;
    *n = 0;
    size_t cap = 1;
    for (const char *p = text; *p; p++) cap += *p == ',';
    char **out = at_calloc(cap, sizeof *out, err);
    if (!out) return AT_ERR_MEMORY;
    size_t m = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[512];
        if (len >= sizeof item) len = sizeof item - 1;
        memcpy(item, p, len);
        item[len] = '\0';
        char t[512];
        trim_copy(item, t, sizeof t);
        if (t[0]) {
            out[m] = at_strdup(t, err);
            if (!out[m]) {
                for (size_t i = 0; i < m; i++) free(out[i]);
                free(out);
                return AT_ERR_MEMORY;
            }
            m++;
        } else if (comma || m) {
            for (size_t i = 0; i < m; i++) free(out[i]);
            free(out);
            return at_fail(err, AT_ERR_CONFIG, "empty item in list '%s'", text);
        }
        if (!comma) break;
        p = comma + 1;
    }
    *items = out;
    *n = m;
    return AT_OK;
}

int at_config_threads(const at_config *c) {
    if (c->run.threads > 0) return (int)c->run.threads;
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
}
