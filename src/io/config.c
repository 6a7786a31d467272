/* config.c - the configuration's own key table ([run], [data], ... and [model] type) and
 * everything driven by it: defaults, type and range checks with file:line, "did you mean",
 * --set overrides, the effective-config printout and the markdown reference.
 *
 * It knows no model family: a model section ([model], [member.NAME]) keeps its lines raw
 * (c->model_lines) for the family's key table (resolved by at_config_load, a layer up),
 * and the sections the caller names raw (the network's) go to c->net likewise. */
#include "astrotrain/config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "astrotrain/csv.h"
#include "astrotrain/device.h"
#include "astrotrain/preprocess.h"
#include "core/strbuf.h"
#include "core/words.h"
#include "io/ini.h"

#define C_(f) AT_KEY_FIELD(at_config, f)

static const at_key keys[] = {
    /* [run] */
    {"run", "name", AT_KEY_STR, C_(run.name), "", 0, 0, NULL,
     "Run name: results go to <output_dir>/<name>/. Empty: the config file's name without .ini."},
    {"run", "output_dir", AT_KEY_STR, C_(run.output_dir), "runs", 0, 0, NULL,
     "Folder that holds run directories."},
    {"run", "seed", AT_KEY_INT, C_(run.seed), "42", 0, AT_KEY_BIG, NULL,
     "Seed of every random stream (undersampling, split, model)."},
    {"run", "threads", AT_KEY_INT, C_(run.threads), "0", 0, 1024, NULL,
     "Threads for OpenMP and OpenBLAS; 0 = all cores. --threads overrides."},
    {"run", "memory_limit_mb", AT_KEY_INT, C_(run.memory_limit_mb), "0", 0, AT_KEY_BIG, NULL,
     "Training refuses (exit 7) a data set and model whose estimated memory exceeds this many MB, "
     "and stops loading a table that outgrows it; 0 = the memory available now (MemAvailable)."},
    {"run", "device", AT_KEY_STR, C_(run.device), "cpu", 0, 0, NULL,
     "Where the networks (cnn) train: cpu, cuda (the first GPU), cuda:N, or auto (the GPU when astrotrain "
     "was built with make CUDA=1 and one is present, else the CPU). --device overrides."},
    {"run", "distribute", AT_KEY_CHOICE, C_(run.distribute), "trees", 0, 0, "trees|rows",
     "random_forest: trees = every rank holds the training part and grows some of the trees (the "
     "plain forest, bit for bit); rows = every rank keeps only its rows, histograms summed across "
     "ranks (its own forest, the same for any number of ranks, one process included). See README, MPI."},
    /* [data] */
    {"data", "path", AT_KEY_STR, C_(data.path), "data/sdss17/star_classification.csv.gz", 0, 0, NULL,
     "CSV catalogue, plain or gzip (detected by content), or a FITS binary table (see hdu). Relative "
     "to the working directory."},
    {"data", "features", AT_KEY_STR, C_(data.features), "u,g,r,i,z,redshift", 0, 0, NULL,
     "Comma-separated feature column names, in model order."},
    {"data", "label", AT_KEY_STR, C_(data.label), "class", 0, 0, NULL, "Label (class) column name."},
    {"data", "missing", AT_KEY_CHOICE, C_(data.missing), "drop", 0, 0, "drop|error|keep",
     "Empty, NaN or Inf feature cells: drop the row (counted), stop with an error, or keep as NaN."},
    {"data", "comments", AT_KEY_BOOL, C_(data.comments), "false", 0, 0, NULL,
     "Skip lines starting with '#'."},
    {"data", "delimiter", AT_KEY_STR, C_(data.delimiter), ",", 0, 0, NULL,
     "Field separator (one character; 'tab' for a tab)."},
    /* [data] FITS catalogues (issue 14) */
    {"data", "hdu", AT_KEY_STR, C_(data.hdu), "", 0, 0, NULL,
     "FITS catalogue (path = x.fits, .fit, .fts, or a file starting with SIMPLE): the binary table's "
     "EXTNAME or HDU number (0 = primary, as astropy counts); empty = the first binary table. "
     "Feature columns must be scalar numbers (TNULL and NaN count as missing)."},
    {"data", "width", AT_KEY_INT, C_(data.width), "0", 0, 4096, NULL,
     "Images (cnn): width after resizing; 0 = [net] width."},
    {"data", "height", AT_KEY_INT, C_(data.height), "0", 0, 4096, NULL,
     "Images (cnn): height after resizing; 0 = [net] height."},
    {"data", "crop", AT_KEY_REAL, C_(data.crop), "1", 0.01, 1, NULL,
     "Images (cnn): centre crop fraction applied before resizing (1 = none)."},
    {"data", "cache", AT_KEY_STR, C_(data.cache), "", 0, 0, NULL,
     "Images (cnn): HDF5 cache of the resized set, reused when it matches; empty = none."},
    /* [data] FITS image cutouts (issue 14) */
    {"data", "scaling", AT_KEY_CHOICE, C_(data.scaling), "asinh", 0, 0, "asinh|linear|zscale",
     "FITS cutouts (cnn): per-band scaling to [0,1] (each of the 1 to 64 bands on its own statistics) "
     "before 8-bit quantisation (round(255 v)); NaN "
     "pixels first become the band's median. linear = (x - min) / (max - min); asinh = "
     "asinh((x - med) / s) min-max normalised, s = 1.4826 MAD (else (max - min) / 10); zscale = "
     "IRAF zscale limits, simplified (every pixel, no sampling; least-squares line through the sorted "
     "values refitted up to 5 times without points beyond 2.5 rms; slope / 0.25; med -/+ slope n/2 "
     "within [min, max]), then clipped. Kept in the model file; predict applies it (README: FITS "
     "image cutouts)."},
    /* [clean] */
    {"clean", "sentinel_filter", AT_KEY_BOOL, C_(clean.use_sentinel), "true", 0, 0, NULL,
     "Drop rows where any feature equals the sentinel (unphysical magnitudes)."},
    {"clean", "sentinel", AT_KEY_REAL, C_(clean.sentinel), "-9999", -INFINITY, INFINITY, NULL,
     "The sentinel value that marks a missing measurement."},
    /* [undersample] */
    {"undersample", "strategy", AT_KEY_CHOICE, C_(undersample.strategy), "minority", 0, 0,
     "none|minority|per_class",
     "Random undersampling: every class down to the minority count, to per_class rows, or none."},
    {"undersample", "per_class", AT_KEY_INT, C_(undersample.per_class), "0", 0, AT_KEY_BIG, NULL,
     "Rows per class for strategy = per_class (classes already smaller are kept whole)."},
    /* [split] */
    {"split", "train", AT_KEY_REAL, C_(split.train), "0.70", 0, 1, NULL,
     "Fraction of rows for training (stratified by class)."},
    {"split", "validation", AT_KEY_REAL, C_(split.validation), "0.15", 0, 1, NULL,
     "Fraction for validation (early stopping, ensemble weights); may be 0."},
    {"split", "test", AT_KEY_REAL, C_(split.test), "0.15", 0, 1, NULL,
     "Fraction for the final test. The three must sum to 1."},
    /* [normalise] */
    {"normalise", "method", AT_KEY_CHOICE, C_(normalise.method), "standard", 0, 0, "none|standard|minmax", "Feature scaling fitted on the training part: standard (mean/std), minmax, or none."},
    /* [pca] */
    {"pca", "components", AT_KEY_INT, C_(pca_stage.components), "0", 0, 100000, NULL,
     "PCA stage in front of the model: project the scaled features on this many principal "
     "components (fitted on the training part); 0 = off."},
    {"pca", "whiten", AT_KEY_BOOL, C_(pca_stage.whiten), "false", 0, 0, NULL,
     "Scale the PCA stage's components to unit variance."},
    /* [model] */
    {"model", "type", AT_KEY_STR, AT_KEY_FIELD(at_model_config, type), "random_forest", 0, 0, NULL,
     "Model family: random_forest, gradient_boosting, mlp, gmm (Gaussian mixture matched to classes), pca (projection, no classes), ensemble (weighted blend of members), cnn (images; the network is in [net] and layer sections)."},
    /* [metrics] */
    {"metrics", "confident_threshold", AT_KEY_REAL, C_(metrics.confident_threshold), "0.9", 0, 1, NULL,
     "Probability above which a correct prediction counts as confident (confident_fraction)."},
    /* [plots] */
    {"plots", "enabled", AT_KEY_BOOL, C_(plots.enabled), "true", 0, 0, NULL,
     "Write gnuplot scripts and data for every figure."},
    {"plots", "render", AT_KEY_BOOL, C_(plots.render), "true", 0, 0, NULL,
     "Also render the PNGs when gnuplot is on the PATH."},
};
#define N_KEYS (sizeof keys / sizeof keys[0])

static const char *const section_names[] = {"run",       "data", "clean", "undersample", "split",
                                            "normalise", "pca",  "model", "metrics",     "plots"};
#define N_SECTIONS (sizeof section_names / sizeof section_names[0])

/* ---- helpers ------------------------------------------------------------------------ */

static int section_is_model(const char *section) { return strcmp(section, "model") == 0; }

static const at_key *find_key(const char *section, const char *name) {
    return at_key_find(keys, N_KEYS, section, name);
}

/* The struct a key of the configuration's table lives in: at_config, or for [model] type
 * the model section (member < 0: [model]). */
static void *base_of(at_config *c, const at_key *k, int member) {
    if (!section_is_model(k->section)) return c;
    return member >= 0 ? (void *)&c->members[member].model : (void *)&c->model;
}

static void trim_copy(const char *in, char *out, size_t cap) {
    while (isspace((unsigned char)*in)) in++;
    size_t n = strlen(in);
    while (n && isspace((unsigned char)in[n - 1])) n--;
    if (n >= cap) n = cap - 1;
    memcpy(out, in, n);
    out[n] = '\0';
}

void at_config_defaults(at_config *c) {
    memset(c, 0, sizeof *c);
    at_error e;
    for (size_t i = 0; i < N_KEYS; i++) /* [model] type lives in c->model */
        if (!keys[i].def || at_key_set(&keys[i], base_of(c, &keys[i], -1), keys[i].def, &e)) abort(); /* a bad table is a build bug */
}

static int is_member_section(const char *s) { return strncmp(s, "member.", 7) == 0; }

static int find_member(const at_config *c, const char *section) {
    for (size_t i = 0; i < c->n_members; i++)
        if (strcmp(c->members[i].name, section + 7) == 0) return (int)i;
    return -1;
}

const char *at_config_section_of(const char *key) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].name, key) == 0) return keys[i].section;
    return NULL;
}

/* ---- loading ------------------------------------------------------------------------ */

typedef struct seen_key {
    const at_key *k;
    size_t line; /* 0 = --set */
} seen_key;

typedef struct load_state {
    at_config *c;
    int (*raw_section)(const char *section);
    uint32_t file; /* index of the file being parsed in c->model_lines.files */
    int in_file;   /* parsing a file (not --set) */
    seen_key seen[N_KEYS];
    size_t n_seen;
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
    const char *near = at_keys_nearest(keys, N_KEYS, section, key);
    if (near) return at_fail(err, AT_ERR_CONFIG, "unknown key '%s' in [%s] (did you mean '%s'?)", key, section, near);
    const char *home = at_config_section_of(key);
    if (home)
        return at_fail(err, AT_ERR_CONFIG, "unknown key '%s' in [%s] (it belongs in [%s])", key, section, home);
    return at_fail(err, AT_ERR_CONFIG, "unknown key '%s' in [%s]", key, section);
}

static int known_section(const char *s) {
    for (size_t i = 0; i < N_SECTIONS; i++)
        if (strcmp(section_names[i], s) == 0) return 1;
    return 0;
}

/* Raw network sections are collected in order, for the network's own parser. */
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
    at_model_config *mc = &c->members[m].model;
    memset(mc, 0, sizeof *mc);
    snprintf(mc->type, sizeof mc->type, "random_forest");
    return AT_OK;
}

static at_status on_section(void *user, const char *section, size_t line, at_error *err) {
    load_state *ls = user;
    if (ls->raw_section && ls->raw_section(section))
        return net_record(ls->c, section, "", "", line, ls->c->net.n_sections++, err);
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

static at_status keep_text(at_config *c, const char *value, uint32_t *off, at_error *err) {
    char v[AT_LIST_MAX];
    trim_copy(value, v, sizeof v);
    size_t n = strlen(v) + 1;
    if (c->model_lines.used + n > sizeof c->model_lines.text)
        return at_fail(err, AT_ERR_CONFIG, "model sections too long (at most %d characters of values)",
                       AT_MODEL_TEXT_MAX);
    memcpy(c->model_lines.text + c->model_lines.used, v, n);
    *off = (uint32_t)c->model_lines.used;
    c->model_lines.used += n;
    return AT_OK;
}

/* A line of a model section, kept raw for the family's table; "type" also names the family. */
static at_status model_line(load_state *ls, int member, const char *section, const char *key, const char *value,
                            size_t line, at_error *err) {
    at_config *c = ls->c;
    if (strlen(key) >= sizeof c->model_lines.line[0].key)
        return at_fail(err, AT_ERR_CONFIG, "key name too long");
    if (strcmp(key, "type") == 0) {
        at_model_config *mc = member >= 0 ? &c->members[member].model : &c->model;
        at_status st = at_key_set(find_key("model", "type"), mc, value, err);
        if (st) return st;
        mc->table = NULL;
    }
    at_model_line *ml = NULL;
    for (size_t i = 0; i < c->model_lines.n; i++)
        if (c->model_lines.line[i].member == member && strcmp(c->model_lines.line[i].key, key) == 0)
            ml = &c->model_lines.line[i];
    if (ml && line && ml->line && ls->in_file && ml->file == ls->file)
        return at_fail(err, AT_ERR_CONFIG, "key '%s' in [%s] is set twice (first at line %u)", key, section,
                       ml->line);
    if (!ml) {
        if (c->model_lines.n >= AT_MODEL_LINES_MAX)
            return at_fail(err, AT_ERR_CONFIG, "too many model keys (at most %d)", AT_MODEL_LINES_MAX);
        ml = &c->model_lines.line[c->model_lines.n++];
        memset(ml, 0, sizeof *ml);
        ml->member = member;
        memcpy(ml->key, key, strlen(key) + 1);
    }
    ml->line = (uint32_t)line;
    ml->file = ls->file;
    return keep_text(c, value, &ml->value, err);
}

static at_status record_key(load_state *ls, const char *section, const char *key, const char *value,
                            size_t line, at_error *err) {
    if (!section[0]) return at_fail(err, AT_ERR_CONFIG, "key '%s' before any [section]", key);
    at_config *c = ls->c;
    if (ls->raw_section && ls->raw_section(section)) {
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
    if (is_member_section(section)) {
        int member = find_member(c, section);
        if (member < 0) return at_fail(err, AT_ERR_CONFIG, "no section [%s] in the configuration", section);
        return model_line(ls, member, section, key, value, line, err);
    }
    if (!known_section(section)) return unknown_section(section, err);
    if (section_is_model(section)) return model_line(ls, -1, section, key, value, line, err);
    const at_key *k = find_key(section, key);
    if (!k) return unknown_key(section, key, err);
    for (size_t i = 0; i < ls->n_seen; i++)
        if (ls->seen[i].k == k) {
            if (line && ls->seen[i].line)
                return at_fail(err, AT_ERR_CONFIG, "key '%s' in [%s] is set twice (first at line %zu)", key,
                               section, ls->seen[i].line);
            ls->seen[i].line = line;
            return at_key_set(k, c, value, err);
        }
    ls->seen[ls->n_seen].k = k;
    ls->seen[ls->n_seen++].line = line;
    return at_key_set(k, c, value, err);
}

static at_status on_entry(void *user, const char *section, const char *key, const char *value,
                          size_t line, at_error *err) {
    return record_key(user, section, key, value, line, err);
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

at_status at_config_read(const char *const *paths, size_t n_paths, const char *const *overrides, size_t n_overrides,
                         int (*raw_section)(const char *section), at_config *c, at_error *err) {
    at_config_defaults(c);
    if (n_paths > AT_MAX_LAYERS) return at_fail(err, AT_ERR_USAGE, "at most %d configuration files", AT_MAX_LAYERS);
    load_state *ls = at_calloc(1, sizeof *ls, err);
    if (!ls) return AT_ERR_MEMORY;
    ls->c = c;
    ls->raw_section = raw_section;
    at_status st = AT_OK;
    for (size_t f = 0; !st && f < n_paths; f++) {
        if (strlen(paths[f]) >= sizeof c->source) {
            st = at_fail(err, AT_ERR_USAGE, "config path too long");
            break;
        }
        strcpy(c->source, paths[f]);
        strcpy(c->model_lines.files[f], paths[f]);
        c->model_lines.n_files = f + 1;
        ls->file = (uint32_t)f;
        ls->in_file = 1;
        /* A later file may set again what an earlier one set: only repeats within one file
         * are mistakes. */
        ls->n_sections = 0;
        for (size_t i = 0; i < ls->n_seen; i++) ls->seen[i].line = 0;
        at_ini_callbacks cb = {on_section, on_entry, ls};
        st = at_ini_parse(paths[f], &cb, err);
    }
    ls->in_file = 0;
    for (size_t i = 0; !st && i < n_overrides; i++) st = apply_override(ls, overrides[i], err);
    if (!st && !c->run.name[0]) {
        /* Default run name: the (last) config file's name without folder and extension. */
        const char *path = n_paths ? paths[n_paths - 1] : NULL;
        const char *base = path ? strrchr(path, '/') : NULL;
        base = base ? base + 1 : (path ? path : "run");
        snprintf(c->run.name, sizeof c->run.name, "%s", base);
        char *dot = strrchr(c->run.name, '.');
        if (dot && dot != c->run.name) *dot = '\0';
    }
    free(ls);
    return st;
}

void at_config_line_where(const at_config *c, size_t i, char *out, size_t cap) {
    const at_model_line *ml = &c->model_lines.line[i];
    if (ml->line) {
        const char *file = ml->file < c->model_lines.n_files ? c->model_lines.files[ml->file] : c->source;
        snprintf(out, cap, "%s:%u: ", file, ml->line);
    } else if (ml->member >= 0) {
        snprintf(out, cap, "--set member.%s.%s=%s: ", c->members[ml->member].name, ml->key,
                 at_config_line_value(c, i));
    } else {
        snprintf(out, cap, "--set model.%s=%s: ", ml->key, at_config_line_value(c, i));
    }
}

const char *at_config_line_value(const at_config *c, size_t i) {
    return c->model_lines.text + c->model_lines.line[i].value;
}

/* Checks that need several keys of the configuration's own sections. */
at_status at_config_check(at_config *c, int transform, at_error *err) {
    char where[AT_PATH_MAX + 32];
    snprintf(where, sizeof where, "%s: ", c->source[0] ? c->source : "config");
    double sum = c->split.train + c->split.validation + c->split.test;
    if (fabs(sum - 1.0) > 1e-9)
        return at_fail(err, AT_ERR_CONFIG, "%s[split] train + validation + test = %g, must be 1", where, sum);
    /* A transform (pca) is not evaluated, so it may fit on everything. */
    if (c->split.train <= 0 || (c->split.test <= 0 && !transform))
        return at_fail(err, AT_ERR_CONFIG, "%s[split] train and test must be > 0", where);
    if (c->undersample.strategy == AT_UNDERSAMPLE_PER_CLASS && c->undersample.per_class < 1)
        return at_fail(err, AT_ERR_CONFIG, "%s[undersample] strategy = per_class needs per_class >= 1", where);
    { /* issue 17: a GPU asked of a binary built without CUDA fails here, before any data are read */
        at_device_kind dk;
        int di;
        if (at_device_parse(c->run.device, &dk, &di, err)) return at_error_prefix(err, "%s[run] ", where);
        if (dk == AT_DEVICE_CUDA && !at_device_has_cuda())
            return at_fail(err, AT_ERR_CONFIG,
                           "%s[run] device = %s: this astrotrain was built without CUDA: rebuild with make CUDA=1",
                           where, c->run.device);
    }
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

at_status at_config_set(at_config *c, const char *section, const char *key, const char *value,
                        at_error *err) {
    if (!known_section(section)) return unknown_section(section, err);
    if (section_is_model(section) && strcmp(key, "type") != 0) {
        const at_key_table *t = c->model.table;
        const at_key *k = t ? at_key_find(t->keys, t->n_keys, NULL, key) : NULL;
        if (!k)
            return at_fail(err, AT_ERR_CONFIG, "key '%s' does not apply to model type '%s'", key, c->model.type);
        return at_key_set(k, c->model.params, value, err);
    }
    const at_key *k = find_key(section, key);
    if (!k) return unknown_key(section, key, err);
    if (section_is_model(section)) c->model.table = NULL; /* a new type: its params are resolved anew */
    return at_key_set(k, base_of(c, k, -1), value, err);
}

/* ---- printing ----------------------------------------------------------------------- */

static void format_model(at_strbuf *b, const at_model_config *mc) {
    at_strbuf_printf(b, "type = %s\n", mc->type);
    const at_key_table *t = mc->table;
    for (size_t i = 0; t && i < t->n_keys; i++) {
        char v[AT_LIST_MAX];
        at_key_format(&t->keys[i], mc->params, v, sizeof v);
        at_strbuf_printf(b, "%s = %s\n", t->keys[i].name, v);
    }
}

char *at_config_format(const at_config *c) {
    at_strbuf b = {0};
    at_strbuf_printf(&b, "; effective configuration (every default filled in)\n");
    for (size_t s = 0; s < N_SECTIONS; s++) {
        at_strbuf_printf(&b, "\n[%s]\n", section_names[s]);
        if (section_is_model(section_names[s])) {
            format_model(&b, &c->model);
            continue;
        }
        for (size_t i = 0; i < N_KEYS; i++) {
            const at_key *k = &keys[i];
            if (strcmp(k->section, section_names[s]) != 0) continue;
            char v[AT_LIST_MAX];
            at_key_format(k, c, v, sizeof v);
            if (strcmp(k->name, "delimiter") == 0 && strcmp(v, "\t") == 0) snprintf(v, sizeof v, "tab");
            at_strbuf_printf(&b, "%s = %s\n", k->name, v);
        }
    }
    for (size_t m = 0; m < c->n_members; m++) {
        at_strbuf_printf(&b, "\n[member.%s]\n", c->members[m].name);
        format_model(&b, &c->members[m].model);
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

char *at_config_doc(const char *model_rows, const char *tail) {
    at_strbuf b = {0};
    at_strbuf_printf(&b, "# Configuration reference\n\n"
                  "Generated by `astrotrain config --doc` from the key tables (`src/io/config.c`, each "
                  "model family's `src/models/FAMILY_params.c`, the network's `src/models/cnn/spec.c`); every key, its default and what it does. Any key "
                  "can be overridden on the command line with `--set section.key=value`.\n");
    for (size_t s = 0; s < N_SECTIONS; s++) {
        at_strbuf_printf(&b, "\n## [%s]\n\n| key | type | default | allowed | description |\n|---|---|---|---|---|\n",
                  section_names[s]);
        char *rows = at_keys_doc_rows(keys, N_KEYS, section_names[s], NULL);
        if (!rows) b.failed = 1;
        else at_strbuf_printf(&b, "%s", rows);
        free(rows);
        if (section_is_model(section_names[s]) && model_rows) at_strbuf_printf(&b, "%s", model_rows);
    }
    if (tail) at_strbuf_printf(&b, "%s", tail);
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

int at_threads_or_cores(int64_t threads) {
    if (threads > 0) return (int)threads;
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
}

int at_config_threads(const at_config *c) { return at_threads_or_cores(c->run.threads); }
