/* config.h - the typed experiment configuration (io layer: it knows no model family).
 *
 * An INI file is read with libinih (src/io/ini.c adds file:line context and notices
 * section headers). The configuration's own sections ([run], [data], ...) are checked
 * against the key table in src/io/config.c: type, range, allowed values, and "did you
 * mean" for misspellings. A model section ([model], [member.NAME]) keeps its type and its
 * other "key = value" lines raw with file:line; the family's own key table resolves them
 * into the family's params (at_config_load, config_load.h). [net] and layer sections are
 * kept raw for the CNN's parser likewise. */
#ifndef ASTROTRAIN_CONFIG_H
#define ASTROTRAIN_CONFIG_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "status.h"

#define AT_PATH_MAX 1024
#define AT_LIST_MAX 2048
#define AT_MAX_MEMBERS 8

#define AT_MAX_LAYERS 4 /* config files read in order by one load */

/* One [model] (or [member.NAME]) section: the family and that family's params struct
 * (at_forest_params, ...), held opaquely; table is the family's key table once resolved
 * (NULL before), so the io layer can print and set the keys without knowing the family. */
typedef struct at_model_config {
    char type[64];
    const at_key_table *table;
    alignas(max_align_t) unsigned char params[AT_PARAMS_MAX];
} at_model_config;

/* One raw "key = value" line of a model section, as read (value in model_lines.text). */
typedef struct at_model_line {
    int32_t member; /* -1 = [model], else the [member.NAME] index */
    uint32_t file;  /* index in model_lines.files */
    uint32_t line;  /* 0 = --set */
    uint32_t value; /* offset of the value text */
    char key[64];
} at_model_line;

#define AT_MODEL_LINES_MAX 256
#define AT_MODEL_TEXT_MAX 16384

/* Room for the [net] and layer records of an image experiment (a 50-layer net uses ~300). */
#define AT_NET_RECORDS_MAX 512

typedef struct at_config {
    char source[AT_PATH_MAX]; /* the INI file, for messages */
    struct {
        char name[128];
        char output_dir[AT_PATH_MAX];
        int64_t seed;
        int64_t threads; /* 0 = all cores */
        int64_t memory_limit_mb; /* 0 = MemAvailable of /proc/meminfo */
        char device[32];         /* cpu, cuda, cuda:N, auto (device.h; issue 17) */
        int distribute; /* MPI forest: 0 trees, 1 rows (at_fit_input.distribute_rows) */
    } run;
    struct {
        char path[AT_PATH_MAX];
        char features[AT_LIST_MAX]; /* comma-separated column names */
        char label[128];
        int missing;        /* at_missing_policy */
        int comments;       /* allow '#' comment lines */
        char delimiter[4];
        /* images ([model] type = cnn) */
        int64_t width, height; /* 0 = [net]'s */
        double crop;
        char cache[AT_PATH_MAX];
        char hdu[128];      /* FITS catalogue: table HDU name or number; "" = the first table */
        int scaling;        /* FITS cutouts: at_img_scaling (images.h) */
    } data;
    struct {
        int use_sentinel;
        double sentinel;
    } clean;
    struct {
        int strategy; /* at_undersample_strategy */
        int64_t per_class;
    } undersample;
    struct {
        double train, validation, test;
    } split;
    struct {
        int method; /* at_scaler_kind */
    } normalise;
    struct {
        int64_t components; /* 0 = no PCA stage */
        int whiten;
    } pca_stage;
    at_model_config model;
    /* [member.NAME] sections: models trained on the same split for an ensemble. */
    size_t n_members;
    struct {
        char name[48];
        at_model_config model;
    } members[AT_MAX_MEMBERS];
    struct {
        double confident_threshold;
    } metrics;
    struct {
        int enabled;
        int render;
    } plots;
    /* [net] and the layer sections, raw and in file order, for the CNN's own parser
     * (at_cnn_spec_parse), which checks them against its key table. */
    struct {
        at_net_record rec[AT_NET_RECORDS_MAX];
        size_t n, n_sections;
    } net;
    /* The model sections' lines, raw and in order (a later one of the same key and section
     * replaces an earlier), for the family's table. */
    struct {
        at_model_line line[AT_MODEL_LINES_MAX];
        size_t n;
        char text[AT_MODEL_TEXT_MAX];
        size_t used;
        char files[AT_MAX_LAYERS][AT_PATH_MAX];
        size_t n_files;
    } model_lines;
} at_config;

/* Defaults of the configuration's own keys; [model] type = random_forest, its params not
 * yet resolved (table NULL). */
void at_config_defaults(at_config *c);

/* Reads the files in order (a study's shared data file, then a step's file: a later file may
 * set a key again, a repeat within one file is an error), then applies overrides
 * "section.key=value". Sections for which raw_section() is true (the network's) are kept
 * raw in c->net, model sections' lines in c->model_lines; nothing across sections is checked
 * yet. Errors are AT_ERR_CONFIG with "file:line: ..." or "--set ...: ...". Most callers want
 * at_config_load (config_load.h), which reads, resolves and checks. */
at_status at_config_read(const char *const *paths, size_t n_paths, const char *const *overrides, size_t n_overrides,
                         int (*raw_section)(const char *section), at_config *c, at_error *err);

/* The checks across the configuration's own keys (split fractions, feature list, ...);
 * transform: the model gives coordinates, so the split needs no test part. */
at_status at_config_check(at_config *c, int transform, at_error *err);

/* Where model line i was set, as an error prefix ("file:12: " or "--set model.k=v: "). */
void at_config_line_where(const at_config *c, size_t i, char *out, size_t cap);
/* The value text of model line i. */
const char *at_config_line_value(const at_config *c, size_t i);
/* The section that has a key of this name ("run", ...), or NULL. */
const char *at_config_section_of(const char *key);

/* Sets one key from text, as --set does ("model.n_trees", "300"); a model key needs the
 * section resolved (its table). */
at_status at_config_set(at_config *c, const char *section, const char *key, const char *value,
                        at_error *err);

/* The effective configuration as INI text, every default filled in; [model] shows the
 * keys of its family only. Caller frees. */
char *at_config_format(const at_config *c);

/* Markdown reference of the configuration's keys, with model_rows (every family's rows,
 * at_model_params_doc) in the [model] table and tail (the network's reference) at the end.
 * Caller frees. */
char *at_config_doc(const char *model_rows, const char *tail);

/* Splits a comma-separated list into trimmed items (caller frees with at_strs_free). */
at_status at_split_list(const char *text, char ***items, size_t *n, at_error *err);

/* The number of threads to use: c->run.threads, or the number of cores when 0. */
int at_config_threads(const at_config *c);
/* threads when > 0, else the number of cores. */
int at_threads_or_cores(int64_t threads);

#endif
