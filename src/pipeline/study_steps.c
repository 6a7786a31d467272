/* study_steps.c - what lets a study chain image steps: a step on other data (pretraining
 * on synthetic Galaxy10 before fine-tuning on the real cutouts) prepares its own data, and
 * `[net] init = step:NAME` starts a network from the model an earlier step wrote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/study.h"

at_status at_study_step_data(const study *s, study_step *step, const at_config *c, const at_progress *p,
                             at_prepared **own, at_error *err) {
    *own = NULL;
    step->own_data = strcmp(c->data.path, s->base_config.data.path) != 0;
    if (!step->own_data) return AT_OK;
    snprintf(step->data_path, sizeof step->data_path, "%s", c->data.path);
    at_progress_log(p, "step %s: its own data %s (not the study's %s)", step->name, c->data.path,
                    s->base_config.data.path);
    at_status st = at_prepare_data(c, p, own, err);
    if (st) return st;
    step->own_k = (*own)->k;
    step->own_train = (*own)->train->n;
    step->own_valid = (*own)->valid->n;
    step->own_test = (*own)->test->n;
    return AT_OK;
}

at_status at_study_resolve_init(const study *s, size_t i, at_config *c, at_error *err) {
    static const char prefix[] = "step:";
    for (size_t r = 0; r < c->net.n; r++) {
        at_net_record *rec = &c->net.rec[r];
        if (strcmp(rec->section, "net") != 0 || strcmp(rec->key, "init") != 0) continue;
        if (strncmp(rec->value, prefix, sizeof prefix - 1) != 0) continue;
        const char *name = rec->value + sizeof prefix - 1;
        size_t j = 0;
        while (j < i && strcmp(s->steps[j].name, name) != 0) j++;
        if (j == i)
            return at_fail(err, AT_ERR_CONFIG, "%s:%u: [net] init = %s: no earlier step is named '%s' (list it before "
                           "step '%s' in steps)", s->steps[i].file, (unsigned)rec->line, rec->value, name,
                           s->steps[i].name);
        char path[AT_PATH_MAX + 200];
        int n = snprintf(path, sizeof path, "%s/model.h5", s->steps[j].r.dir);
        if (n < 0 || (size_t)n >= sizeof rec->value)
            return at_fail(err, AT_ERR_CONFIG, "%s:%u: [net] init = %s: the model file %s is longer than %zu characters "
                           "(choose a shorter output_dir or study name)", s->steps[i].file, (unsigned)rec->line,
                           rec->value, path, sizeof rec->value - 1);
        memcpy(rec->value, path, (size_t)n + 1);
    }
    return AT_OK;
}

at_status at_study_image_base(study *s, const char *data_path, const at_study_options *opt, at_error *err) {
    at_config *c = at_malloc(1, sizeof *c, err);
    if (!c) return AT_ERR_MEMORY;
    at_status st = AT_OK;
    for (size_t i = 0; i < s->n_steps; i++) {
        const char *layers[2] = {data_path, s->steps[i].file};
        if ((st = at_config_load_layers(layers, 2, opt->overrides, opt->n_overrides, c, err))) {
            at_error_prefix(err, "step '%s': ", s->steps[i].name);
            break;
        }
        if (strcmp(c->data.path, s->base_config.data.path) != 0) continue; /* a step on its own data */
        if (at_model_type_has(c->model.type, AT_CAP_IMAGES)) s->base_config = *c;
        break;
    }
    free(c);
    return st;
}
