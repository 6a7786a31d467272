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
#include "io/ini.h"

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
    /* [model] */
    {"model", "type", K_STR, M_(type), "random_forest", 0, 0, NULL, "*",
     "Model family: random_forest, or cnn (images; the network is in [net] and layer sections)."},
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

static const char *const section_names[] = {"run",    "data",      "clean",   "undersample", "split",
                                            "normalise", "model", "metrics", "plots"};
#define N_SECTIONS (sizeof section_names / sizeof section_names[0])

/* ---- helpers ------------------------------------------------------------------------ */

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

/* The closest candidate within a distance that still looks like a typo, or NULL. */
static const char *nearest(const char *word, const char *const *cands, size_t n) {
    const char *best = NULL;
    size_t bd = 99, limit = strlen(word) / 3 + 1;
    if (limit < 2) limit = 2;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, cands[i]);
        if (d < bd) {
            bd = d;
            best = cands[i];
        }
    }
    return bd <= limit ? best : NULL;
}

static int section_is_model(const char *section) { return strcmp(section, "model") == 0; }

static const key_spec *find_key(const char *section, const char *name) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0) return &keys[i];
    return NULL;
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

static void *field(at_config *c, const key_spec *k) {
    char *base = section_is_model(k->section) ? (char *)&c->model : (char *)c;
    return base + k->offset;
}
static const void *cfield(const at_config *c, const key_spec *k) {
    const char *base = section_is_model(k->section) ? (const char *)&c->model : (const char *)c;
    return base + k->offset;
}

static int choice_index(const char *choices, const char *value) {
    int idx = 0;
    const char *p = choices;
    size_t vl = strlen(value);
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == vl && strncasecmp(p, value, len) == 0) return idx;
        idx++;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

static void choice_name(const char *choices, int index, char *out, size_t cap) {
    const char *p = choices;
    for (int i = 0; i < index && p; i++) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p) p = "?";
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len >= cap) len = cap - 1;
    memcpy(out, p, len);
    out[len] = '\0';
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

static at_status set_value(at_config *c, const key_spec *k, const char *raw, at_error *err) {
    char v[AT_LIST_MAX];
    trim_copy(raw, v, sizeof v);
    void *dst = field(c, k);
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
        int idx = choice_index(k->choices, v);
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
        if (set_value(c, &keys[i], keys[i].def, &e) != AT_OK) abort(); /* a bad table is a build bug */
    }
}

/* ---- loading ------------------------------------------------------------------------ */

typedef struct seen_key {
    const key_spec *k;
    size_t line; /* 0 = --set */
} seen_key;

typedef struct load_state {
    at_config *c;
    seen_key seen[N_KEYS];
    size_t n_seen;
    struct {
        char name[64];
        size_t line;
    } sections[32];
    size_t n_sections;
} load_state;

static at_status unknown_section(const char *section, at_error *err) {
    const char *near = nearest(section, section_names, N_SECTIONS);
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
    const char *near = nearest(key, cands, n);
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

static at_status on_section(void *user, const char *section, size_t line, at_error *err) {
    load_state *ls = user;
    if (at_cnn_is_net_section(section)) return net_record(ls->c, section, "", "", line, ls->c->net.n_sections++, err);
    if (!known_section(section)) return unknown_section(section, err);
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
    if (!known_section(section)) return unknown_section(section, err);
    const key_spec *k = find_key(section, key);
    if (!k) return unknown_key(section, key, err);
    for (size_t i = 0; i < ls->n_seen; i++)
        if (ls->seen[i].k == k) {
            if (line && ls->seen[i].line)
                return at_fail(err, AT_ERR_CONFIG, "key '%s' in [%s] is set twice (first at line %zu)", key,
                               section, ls->seen[i].line);
            ls->seen[i].line = line;
            return set_value(ls->c, k, value, err);
        }
    ls->seen[ls->n_seen].k = k;
    ls->seen[ls->n_seen++].line = line;
    return set_value(ls->c, k, value, err);
}

static at_status on_entry(void *user, const char *section, const char *key, const char *value,
                          size_t line, at_error *err) {
    return record_key(user, section, key, value, line, err);
}

/* Checks that need several keys: the model type, keys of another family, split fractions. */
static at_status validate(load_state *ls, at_error *err) {
    at_config *c = ls->c;
    char where[AT_PATH_MAX + 32];
    const char *const *types;
    size_t nt = at_model_types(&types);
    size_t type_line = 0;
    for (size_t i = 0; i < ls->n_seen; i++)
        if (strcmp(ls->seen[i].k->name, "type") == 0 && section_is_model(ls->seen[i].k->section))
            type_line = ls->seen[i].line;
    if (!at_model_ops_find(c->model.type)) {
        snprintf(where, sizeof where, type_line ? "%s:%zu: " : "%s: ", c->source[0] ? c->source : "--set",
                 type_line);
        const char *near = nearest(c->model.type, types, nt);
        char list[512] = "";
        for (size_t i = 0; i < nt; i++) {
            strcat(list, i ? ", " : "");
            strncat(list, types[i], sizeof list - strlen(list) - 3);
        }
        if (near)
            return at_fail(err, AT_ERR_CONFIG, "%sunknown model type '%s' (did you mean '%s'?)", where,
                           c->model.type, near);
        return at_fail(err, AT_ERR_CONFIG, "%sunknown model type '%s' (types are: %s)", where, c->model.type,
                       list);
    }
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
    for (size_t i = 0; i < ls->n_seen; i++) {
        const key_spec *k = ls->seen[i].k;
        if (section_is_model(k->section) && !key_applies(k, c->model.type)) {
            if (ls->seen[i].line)
                snprintf(where, sizeof where, "%s:%zu: ", c->source, ls->seen[i].line);
            else
                snprintf(where, sizeof where, "--set model.%s: ", k->name);
            return at_fail(err, AT_ERR_CONFIG, "%skey '%s' does not apply to model type '%s' (it is for: %s)",
                           where, k->name, c->model.type, k->models);
        }
    }
    snprintf(where, sizeof where, "%s: ", c->source[0] ? c->source : "config");
    double sum = c->split.train + c->split.validation + c->split.test;
    if (fabs(sum - 1.0) > 1e-9)
        return at_fail(err, AT_ERR_CONFIG, "%s[split] train + validation + test = %g, must be 1", where, sum);
    if (c->split.train <= 0 || c->split.test <= 0)
        return at_fail(err, AT_ERR_CONFIG, "%s[split] train and test must be > 0", where);
    if (c->undersample.strategy == AT_UNDERSAMPLE_PER_CLASS && c->undersample.per_class < 1)
        return at_fail(err, AT_ERR_CONFIG, "%s[undersample] strategy = per_class needs per_class >= 1", where);
    size_t mf;
    if (!at_forest_max_features(c->model.forest.max_features, 1u << 20, &mf))
        return at_fail(err, AT_ERR_CONFIG,
                       "%s[model] max_features = '%s': expected sqrt, log2, all, a fraction or a count", where,
                       c->model.forest.max_features);
    if (strcmp(c->data.delimiter, "tab") == 0) strcpy(c->data.delimiter, "\t");
    if (strlen(c->data.delimiter) != 1)
        return at_fail(err, AT_ERR_CONFIG, "%s[data] delimiter must be one character", where);
    char **items = NULL;
    size_t n = 0;
    at_status st = at_split_list(c->data.features, &items, &n, err);
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

at_status at_config_load(const char *path, const char *const *overrides, size_t n_overrides,
                         at_config *c, at_error *err) {
    at_config_defaults(c);
    load_state *ls = at_calloc(1, sizeof *ls, err);
    if (!ls) return AT_ERR_MEMORY;
    ls->c = c;
    at_status st = AT_OK;
    if (path) {
        if (strlen(path) >= sizeof c->source) {
            free(ls);
            return at_fail(err, AT_ERR_USAGE, "config path too long");
        }
        strcpy(c->source, path);
        at_ini_callbacks cb = {on_section, on_entry, ls};
        st = at_ini_parse(path, &cb, err);
    }
    for (size_t i = 0; !st && i < n_overrides; i++) st = apply_override(ls, overrides[i], err);
    if (!st) st = validate(ls, err);
    if (!st && !c->run.name[0]) {
        /* Default run name: the config file's name without folder and extension. */
        const char *base = path ? strrchr(path, '/') : NULL;
        base = base ? base + 1 : (path ? path : "run");
        snprintf(c->run.name, sizeof c->run.name, "%s", base);
        char *dot = strrchr(c->run.name, '.');
        if (dot && dot != c->run.name) *dot = '\0';
    }
    free(ls);
    return st;
}

at_status at_config_set(at_config *c, const char *section, const char *key, const char *value,
                        at_error *err) {
    if (!known_section(section)) return unknown_section(section, err);
    const key_spec *k = find_key(section, key);
    if (!k) return unknown_key(section, key, err);
    return set_value(c, k, value, err);
}

/* ---- printing ----------------------------------------------------------------------- */

typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !b) return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) return;
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void format_value(const at_config *c, const key_spec *k, char *out, size_t cap) {
    const void *src = cfield(c, k);
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
    case K_CHOICE: choice_name(k->choices, *(const int *)src, out, cap); break;
    case K_STR:
        if (strcmp(k->name, "delimiter") == 0 && strcmp((const char *)src, "\t") == 0)
            snprintf(out, cap, "tab");
        else
            snprintf(out, cap, "%s", (const char *)src);
        break;
    }
}

char *at_config_format(const at_config *c) {
    strbuf b = {0};
    sb_printf(&b, "; effective configuration (every default filled in)\n");
    for (size_t s = 0; s < N_SECTIONS; s++) {
        sb_printf(&b, "\n[%s]\n", section_names[s]);
        for (size_t i = 0; i < N_KEYS; i++) {
            const key_spec *k = &keys[i];
            if (strcmp(k->section, section_names[s]) != 0) continue;
            if (section_is_model(k->section) && !key_applies(k, c->model.type)) continue;
            char v[AT_LIST_MAX];
            format_value(c, k, v, sizeof v);
            sb_printf(&b, "%s = %s\n", k->name, v);
        }
    }
    /* The network as written (the CNN's model file keeps it with every default filled in). */
    for (size_t sec = 0; sec < c->net.n_sections; sec++)
        for (size_t i = 0; i < c->net.n; i++) {
            const at_net_record *r = &c->net.rec[i];
            if (r->index != sec) continue;
            if (!r->key[0]) sb_printf(&b, "\n[%s]\n", r->section);
            else sb_printf(&b, "%s = %s\n", r->key, r->value);
        }
    return b.s;
}

char *at_config_doc(void) {
    strbuf b = {0};
    sb_printf(&b, "# Configuration reference\n\n"
                  "Generated by `astrotrain config --doc` from the key table in src/io/config.c; "
                  "every key, its default and what it does. Any key can be overridden on the command "
                  "line with `--set section.key=value`.\n");
    for (size_t s = 0; s < N_SECTIONS; s++) {
        sb_printf(&b, "\n## [%s]\n\n| key | type | default | allowed | description |\n|---|---|---|---|---|\n",
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
            sb_printf(&b, "| `%s` | %s | `%s` | %s | %s%s |\n", k->name, type, k->def[0] ? k->def : "\"\"",
                      allowed, k->doc, models);
        }
    }
    char *net = at_cnn_doc();
    if (net) sb_printf(&b, "%s", net);
    free(net);
    return b.s;
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
