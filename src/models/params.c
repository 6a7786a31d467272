/* params.c - a model section's raw "key = value" lines resolved against its family's key
 * table (params.h): defaults, values, "did you mean" over every family's keys, keys of
 * another family, checks across keys, and the [model] rows of docs/config.md. */
#include "astrotrain/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/words.h"
#include "models/params.h"
#include "models/registry.h"

void at_params_fill_defaults(const at_key_table *t, void *p) {
    at_error e;
    if (at_keys_defaults(t->keys, t->n_keys, NULL, p, &e)) abort(); /* a bad table is a build bug */
}

const at_key_table *at_model_params_table(const char *type) {
    const at_model_family *f = at_model_family_find(type);
    return f ? f->params : NULL;
}

int at_model_params_balanced(const char *type, const void *params) {
    const at_key_table *t = at_model_params_table(type);
    const at_key *k = t ? at_key_find(t->keys, t->n_keys, "model", "class_weight") : NULL;
    if (!k || k->size != sizeof(int)) return 0;
    int v;
    memcpy(&v, (const unsigned char *)params + k->offset, sizeof v);
    return v == AT_CLASS_WEIGHT_BALANCED;
}

at_status at_model_type_check(const char *type, at_error *err) {
    if (at_model_family_find(type)) return AT_OK;
    const char *const *types;
    size_t nt = at_model_types(&types);
    const char *near = at_nearest_word(type, types, nt);
    if (near) return at_fail(err, AT_ERR_CONFIG, "unknown model type '%s' (did you mean '%s'?)", type, near);
    char list[512] = "";
    for (size_t i = 0; i < nt; i++) {
        strcat(list, i ? ", " : "");
        strncat(list, types[i], sizeof list - strlen(list) - 3);
    }
    return at_fail(err, AT_ERR_CONFIG, "unknown model type '%s' (types are: %s)", type, list);
}

int at_model_params_known(const char *key) {
    if (strcmp(key, "type") == 0) return 1;
    const at_model_family *f;
    size_t nf = at_model_families(&f);
    for (size_t i = 0; i < nf; i++)
        if (at_key_find(f[i].params->keys, f[i].params->n_keys, NULL, key)) return 1;
    return 0;
}

const char *at_model_params_nearest(const char *key) {
    const char *best = "type";
    size_t bd = at_edit_distance(key, best);
    const at_model_family *f;
    size_t nf = at_model_families(&f);
    for (size_t i = 0; i < nf; i++)
        for (size_t j = 0; j < f[i].params->n_keys; j++) {
            size_t d = at_edit_distance(key, f[i].params->keys[j].name);
            if (d < bd) bd = d, best = f[i].params->keys[j].name;
        }
    return at_nearest_word(key, &best, 1);
}

at_status at_model_params_default(const char *type, void *params, at_error *err) {
    const at_key_table *t = at_model_params_table(type);
    if (!t) return at_model_type_check(type, err);
    memset(params, 0, AT_PARAMS_MAX);
    return at_keys_defaults(t->keys, t->n_keys, NULL, params, err);
}

at_status at_model_params_parse(const char *type, const at_param_line *lines, size_t n, void *params,
                                at_error *err) {
    at_status st = at_model_params_default(type, params, err);
    if (st) return st;
    const at_key_table *t = at_model_params_table(type);
    for (size_t i = 0; i < n; i++) {
        const at_key *k = at_key_find(t->keys, t->n_keys, NULL, lines[i].key);
        if (!k) {
            char fams[256] = "";
            const at_model_family *f;
            size_t nf = at_model_families(&f);
            for (size_t j = 0; j < nf; j++)
                if (at_key_find(f[j].params->keys, f[j].params->n_keys, NULL, lines[i].key)) {
                    if (fams[0]) strncat(fams, ",", sizeof fams - strlen(fams) - 1);
                    strncat(fams, f[j].type, sizeof fams - strlen(fams) - 1);
                }
            if (!fams[0])
                return at_fail(err, AT_ERR_CONFIG, "%sunknown key '%s' in [model]", lines[i].where, lines[i].key);
            return at_fail(err, AT_ERR_CONFIG, "%skey '%s' does not apply to model type '%s' (it is for: %s)",
                           lines[i].where, lines[i].key, type, fams);
        }
        if ((st = at_key_set(k, params, lines[i].value, err))) return at_error_prefix(err, "%s", lines[i].where);
    }
    return AT_OK;
}

at_status at_model_params_check(const char *type, const void *params, at_error *err) {
    const at_key_table *t = at_model_params_table(type);
    if (!t) return at_model_type_check(type, err);
    at_status st = at_keys_check(t->keys, t->n_keys, NULL, params, err);
    if (!st && t->check) st = t->check(params, err);
    return st;
}

char *at_model_params_doc(void) {
    at_strbuf b = {0};
    at_strbuf_put(&b, "", 0);
    const at_model_family *f;
    size_t nf = at_model_families(&f);
    for (size_t i = 0; i < nf; i++) {
        char suffix[96];
        snprintf(suffix, sizeof suffix, " (%s)", f[i].type);
        char *rows = at_keys_doc_rows(f[i].params->keys, f[i].params->n_keys, NULL, suffix);
        if (!rows) b.failed = 1;
        else at_strbuf_printf(&b, "%s", rows);
        free(rows);
    }
    return at_strbuf_take(&b);
}
