/* config.h - the typed experiment configuration and its one table of keys.
 *
 * An INI file is read with libinih (src/io/ini.c adds file:line context and notices
 * section headers); every key is checked against the table in src/io/config.c: type,
 * range, allowed values, and "did you mean" for misspellings. Every default lives in
 * that table, which also generates docs/config.md. */
#ifndef ASTROTRAIN_CONFIG_H
#define ASTROTRAIN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "cnn.h"
#include "ensemble.h"
#include "forest.h"
#include "gbdt.h"
#include "gmm.h"
#include "mlp.h"
#include "pca.h"
#include "status.h"

#define AT_PATH_MAX 1024
#define AT_LIST_MAX 2048
#define AT_MAX_MEMBERS 8

/* One [model] (or [member.NAME]) section: the family and every family's parameters. */
typedef struct at_model_config {
    char type[64];
    at_forest_params forest;
    at_mlp_params mlp;
    at_gbdt_params gbdt;
    at_pca_params pca;
    at_gmm_params gmm;
    at_ensemble_params ensemble;
} at_model_config;

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
} at_config;

/* Defaults for every key. */
void at_config_defaults(at_config *c);

/* Reads path (may be NULL for defaults only), then applies overrides "section.key=value"
 * in order. Errors are AT_ERR_CONFIG with "file:line: ..." or "--set ...: ...". */
at_status at_config_load(const char *path, const char *const *overrides, size_t n_overrides,
                         at_config *c, at_error *err);

/* The same over several files read in order (a study's shared data file, then a step's
 * file): a later file may set a key again; a repeat within one file is an error. */
at_status at_config_load_layers(const char *const *paths, size_t n_paths, const char *const *overrides,
                                size_t n_overrides, at_config *c, at_error *err);

/* Sets one key from text, as --set does ("model.n_trees", "300"). */
at_status at_config_set(at_config *c, const char *section, const char *key, const char *value,
                        at_error *err);

/* The effective configuration as INI text, every default filled in; [model] shows the
 * keys of its family only. Caller frees. */
char *at_config_format(const at_config *c);

/* Markdown reference of every key (docs/config.md). Caller frees. */
char *at_config_doc(void);

/* Splits a comma-separated list into trimmed items (caller frees with at_strs_free). */
at_status at_split_list(const char *text, char ***items, size_t *n, at_error *err);

/* The number of threads to use: c->run.threads, or the number of cores when 0. */
int at_config_threads(const at_config *c);

#endif
