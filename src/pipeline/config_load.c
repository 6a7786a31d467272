/* config_load.c - loading a configuration: io reads it (model sections raw), each model
 * section is resolved against its family's key table, the network's sections are parsed,
 * then the checks across the configuration's keys run. The one place where the config (io)
 * meets the families (models). */
#include "astrotrain/config_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/cnn.h"
#include "astrotrain/model.h"
#include "astrotrain/params.h"

static const char *source_of(const at_config *c) { return c->source[0] ? c->source : "config"; }

static const char *section_name(const at_config *c, int member, char *buf, size_t cap) {
    if (member < 0) return "model";
    snprintf(buf, cap, "member.%s", c->members[member].name);
    return buf;
}

/* A key no family has: "did you mean" over every family's keys, or the section it belongs in. */
static at_status unknown_model_key(const at_config *c, size_t i, at_error *err) {
    const at_model_line *ml = &c->model_lines.line[i];
    char where[AT_PATH_MAX + AT_LIST_MAX + 160], sec[96], member[128] = "";
    at_config_line_where(c, i, where, sizeof where);
    if (ml->member >= 0) snprintf(member, sizeof member, "[%s]: ", section_name(c, ml->member, sec, sizeof sec));
    const char *near = at_model_params_nearest(ml->key);
    const char *home = at_config_section_of(ml->key);
    if (near)
        return at_fail(err, AT_ERR_CONFIG, "%s%sunknown key '%s' in [model] (did you mean '%s'?)", where, member,
                       ml->key, near);
    if (home)
        return at_fail(err, AT_ERR_CONFIG, "%s%sunknown key '%s' in [model] (it belongs in [%s])", where, member,
                       ml->key, home);
    return at_fail(err, AT_ERR_CONFIG, "%s%sunknown key '%s' in [model]", where, member, ml->key);
}

/* One model section: a known type, only keys of that family, the family's checks. */
static at_status resolve_model(at_config *c, at_model_config *mc, int member, at_error *err) {
    char sec[96];
    const char *section = section_name(c, member, sec, sizeof sec);
    at_status st = at_model_type_check(mc->type, err);
    if (st) {
        for (size_t i = 0; i < c->model_lines.n; i++)
            if (c->model_lines.line[i].member == member && strcmp(c->model_lines.line[i].key, "type") == 0 &&
                c->model_lines.line[i].line) {
                char where[AT_PATH_MAX + AT_LIST_MAX + 160];
                at_config_line_where(c, i, where, sizeof where);
                return at_error_prefix(err, "%s[%s] ", where, section);
            }
        return at_error_prefix(err, "%s: [%s] ", c->source[0] ? c->source : "--set", section);
    }
    if (member >= 0 && at_model_type_has(mc->type, AT_CAP_BUILT_FROM_MEMBERS))
        return at_fail(err, AT_ERR_CONFIG, "%s: [%s] an ensemble cannot be a member of an ensemble", source_of(c),
                       section);
    size_t n = 0;
    at_param_line *lines = calloc(c->model_lines.n + 1, sizeof *lines);
    if (!lines) return at_fail(err, AT_ERR_MEMORY, "out of memory");
    for (size_t i = 0; !st && i < c->model_lines.n; i++) {
        const at_model_line *ml = &c->model_lines.line[i];
        if (ml->member != member || strcmp(ml->key, "type") == 0) continue;
        char where[AT_PATH_MAX + AT_LIST_MAX + 160];
        at_config_line_where(c, i, where, sizeof where);
        lines[n].key = ml->key;
        lines[n].value = at_config_line_value(c, i);
        lines[n].where = at_strdup(where, err);
        if (!lines[n++].where) st = AT_ERR_MEMORY;
    }
    if (!st) st = at_model_params_parse(mc->type, lines, n, mc->params, err);
    for (size_t i = 0; i < n; i++) free((char *)lines[i].where);
    free(lines);
    if (st) return st;
    if ((st = at_model_params_check(mc->type, mc->params, err)))
        return at_error_prefix(err, "%s: [%s] ", source_of(c), section);
    mc->table = at_model_params_table(mc->type);
    return AT_OK;
}

at_status at_config_load_layers(const char *const *paths, size_t n_paths, const char *const *overrides,
                                size_t n_overrides, at_config *c, at_error *err) {
    at_status st = at_config_read(paths, n_paths, overrides, n_overrides, at_cnn_is_net_section, c, err);
    if (st) return st;
    for (size_t i = 0; i < c->model_lines.n; i++)
        if (!at_model_params_known(c->model_lines.line[i].key)) return unknown_model_key(c, i, err);
    int is_cnn = at_model_type_has(c->model.type, AT_CAP_BUILT_FROM_NET);
    if (is_cnn || c->net.n) {
        if (!is_cnn)
            return at_fail(err, AT_ERR_CONFIG, "%s:%u: [%s] describes a network: set [model] type = cnn", source_of(c),
                           c->net.rec[0].line, c->net.rec[0].section);
        at_cnn_spec *spec = NULL;
        st = at_cnn_spec_parse(c->net.rec, c->net.n, source_of(c), &spec, err);
        at_cnn_spec_free(spec);
        if (st) return st;
    }
    st = resolve_model(c, &c->model, -1, err);
    for (size_t m = 0; !st && m < c->n_members; m++) st = resolve_model(c, &c->members[m].model, (int)m, err);
    if (st) return st;
    return at_config_check(c, at_model_type_is_transform(c->model.type), err);
}

at_status at_config_load(const char *path, const char *const *overrides, size_t n_overrides, at_config *c,
                         at_error *err) {
    return at_config_load_layers(path ? &path : NULL, path ? 1 : 0, overrides, n_overrides, c, err);
}

char *at_config_reference(void) {
    char *rows = at_model_params_doc();
    char *net = at_cnn_doc();
    char *doc = rows && net ? at_config_doc(rows, net) : NULL;
    free(rows);
    free(net);
    return doc;
}
