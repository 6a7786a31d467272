/* ensemble_build.c - gathers an ensemble's members: trains its [member.NAME] sections on
 * the run's split (each into <run>/members/NAME/), loads saved model files, or takes the
 * trained steps of a study; then assembles the unfitted ensemble. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "astrotrain/ensemble.h"
#include "pipeline/run_dir.h"
#include "pipeline/step.h"

at_status at_build_ensemble(const at_config *c, const at_prepared *d, const char *run_dir, const at_run_options *opt,
                            const at_progress *p, at_member_lookup lookup, void *ctx, at_model **out, at_error *err) {
    *out = NULL;
    if (d->pca)
        return at_fail(err, AT_ERR_CONFIG,
                       "%s: an ensemble run cannot have a [pca] stage (give it to the members that need it)", c->source);
    const at_ensemble_params *ep = (const at_ensemble_params *)(const void *)c->model.params;
    char **items = NULL;
    size_t n_items = 0;
    at_status s = at_split_list(ep->members, &items, &n_items, err);
    if (s) return at_error_prefix(err, "%s: [model] members: ", c->source);
    size_t cap = c->n_members + n_items;
    at_bundle **bundles = at_calloc(cap ? cap : 1, sizeof *bundles, err);
    const char **names = at_calloc(cap ? cap : 1, sizeof *names, err);
    at_config *mc = at_malloc(1, sizeof *mc, err);
    size_t n = 0;
    if (!bundles || !names || !mc) s = AT_ERR_MEMORY;
    if (!s && cap == 0)
        s = at_fail(err, AT_ERR_CONFIG, "%s: an ensemble needs members: [member.NAME] sections or [model] members = ...",
                    c->source);
    for (size_t i = 0; !s && i < c->n_members; i++) {
        /* A member section is a whole model section trained on the same split. */
        *mc = *c;
        mc->model = c->members[i].model;
        mc->n_members = 0;
        snprintf(mc->run.name, sizeof mc->run.name, "%s", c->members[i].name);
        char dir[AT_PATH_MAX + 400];
        snprintf(dir, sizeof dir, "%s/members/%s", run_dir, c->members[i].name);
        at_progress_log(p, "ensemble member %s (%s)", c->members[i].name, mc->model.type);
        at_step_result r;
        s = at_run_step(mc, d, NULL, dir, opt, p, &r, err);
        if (!s && !r.classifier)
            s = at_fail(err, AT_ERR_CONFIG, "[member.%s]: a %s model has no class probabilities to blend",
                        c->members[i].name, r.type);
        if (!s) {
            bundles[n] = r.bundle;
            r.bundle = NULL;
            names[n++] = c->members[i].name;
        } else {
            at_error_prefix(err, "[member.%s]: ", c->members[i].name);
        }
        at_step_result_free(&r);
    }
    for (size_t i = 0; !s && i < n_items; i++) {
        at_bundle *b = NULL;
        if (lookup && (s = lookup(ctx, items[i], &b, err))) break;
        struct stat sb;
        if (!b && stat(items[i], &sb) == 0) s = at_bundle_load(items[i], &b, err);
        else if (!b)
            s = at_fail(err, AT_ERR_CONFIG, "%s: ensemble member '%s' is neither a model file nor a trained run%s",
                        c->source, items[i], lookup ? " of this study" : "");
        if (!s && at_model_has(b->model, AT_CAP_TRANSFORM)) {
            at_bundle_free(b);
            s = at_fail(err, AT_ERR_CONFIG, "ensemble member '%s' is a %s model: no class probabilities", items[i],
                      b->model->ops->type);
        }
        if (!s) {
            /* Keep the file's base name as the member's name ("runs/rf/model.h5" -> "rf"). */
            const char *name = items[i];
            const char *slash = strrchr(name, '/');
            if (slash && strcmp(slash + 1, "model.h5") == 0) {
                const char *start = slash;
                while (start > name && start[-1] != '/') start--;
                size_t len = (size_t)(slash - start);
                memmove(items[i], start, len);
                items[i][len] = '\0';
            }
            bundles[n] = b;
            names[n++] = items[i];
            at_progress_log(p, "ensemble member %s (%s, loaded)", items[i], b->model->ops->type);
        }
    }
    if (!s)
        s = at_ensemble_new(ep, bundles, names, n, d->scaler, (const char *const *)d->features,
                            d->n_features, (const char *const *)d->class_names, d->k, out, err);
    else
        for (size_t i = 0; i < n; i++) at_bundle_free(bundles[i]);
    free(bundles);
    free(names);
    free(mc);
    if (items) at_strs_free(items, n_items);
    return s;
}

at_status at_build_model(const at_config *c, const at_prepared *d, const char *run_dir, const at_run_options *opt,
                         const at_progress *p, at_member_lookup lookup, void *ctx, at_model **out, at_error *err) {
    *out = NULL;
    if (at_model_type_has(c->model.type, AT_CAP_BUILT_FROM_MEMBERS))
        return at_build_ensemble(c, d, run_dir, opt, p, lookup, ctx, out, err);
    if (at_model_type_has(c->model.type, AT_CAP_BUILT_FROM_NET)) return at_build_net(c, d, out, err);
    return AT_OK; /* at_run_step creates it from [model] */
}
