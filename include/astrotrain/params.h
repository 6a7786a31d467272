/* params.h - the parameters of a model family as a configuration section gives them.
 *
 * Each family owns a key table beside its code (src/models/<family>_params.c): the one place
 * of every default, range and doc line of its [model] keys. The configuration (io) keeps a
 * model section's "key = value" lines raw; at_model_params_parse resolves them against the
 * family's table into the family's own params struct, which the caller keeps in an opaque
 * buffer of AT_PARAMS_MAX bytes (at_model_config.params) and hands to at_model_create. */
#ifndef ASTROTRAIN_PARAMS_H
#define ASTROTRAIN_PARAMS_H

#include <stddef.h>

#include "forest.h" /* at_class_weight */
#include "keys.h"
#include "status.h"

/* The CNN's [model] keys (its network is in [net] and the layer sections). */
typedef struct at_cnn_model_params {
    int class_weight; /* at_class_weight (forest.h): none or balanced */
} at_cnn_model_params;

/* One raw "key = value" of a model section; where prefixes its errors ("file:12: ",
 * "--set model.n_trees=0: "). */
typedef struct at_param_line {
    const char *key;
    const char *value;
    const char *where;
} at_param_line;

/* The family's key table, or NULL when type names no family. */
const at_key_table *at_model_params_table(const char *type);

/* Whether the family has a class_weight key and it is set to balanced in params (the pipeline
 * then computes inverse-frequency weights for the families that take them in at_fit_input). */
int at_model_params_balanced(const char *type, const void *params);

/* AT_ERR_CONFIG "unknown model type 'x' (did you mean 'y'?)" or "(types are: ...)". */
at_status at_model_type_check(const char *type, at_error *err);

/* Whether any family has a [model] key of this name ("type" included). */
int at_model_params_known(const char *key);
/* The family key (or "type") closest to key when close enough to be a typo, else NULL. */
const char *at_model_params_nearest(const char *key);

/* The family's defaults into params (AT_PARAMS_MAX bytes, zeroed first). */
at_status at_model_params_default(const char *type, void *params, at_error *err);

/* Defaults, then lines in order. A key of another family is "key 'k' does not apply to model
 * type 't' (it is for: f1,f2)"; value errors are "[model] k: ..."; each prefixed with its
 * line's where. */
at_status at_model_params_parse(const char *type, const at_param_line *lines, size_t n, void *params,
                                at_error *err);

/* Ranges of every key, then the family's checks across keys ("warmup = 5 must be less than
 * epochs = 3"); unprefixed, the caller names the section. */
at_status at_model_params_check(const char *type, const void *params, at_error *err);

/* Markdown rows of every family's keys, each doc followed by " (family)". Caller frees. */
char *at_model_params_doc(void);

#endif
