/* study.c - `astrotrain experiment`: the reference study end to end. One shared data
 * file prepared once (the same split for every step), one run directory per step under
 * the study's folder, the ensemble step built from the steps before it, then a report. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "astrotrain/comm.h"
#include "io/ini.h"
#include "pipeline/study.h"

static at_status set_str(char *dst, size_t cap, const char *v, const char *key, at_error *err) {
    if (strlen(v) >= cap) return at_fail(err, AT_ERR_CONFIG, "[experiment] %s: value too long", key);
    memcpy(dst, v, strlen(v) + 1);
    return AT_OK;
}

static at_status on_section(void *user, const char *section, size_t line, at_error *err) {
    (void)user, (void)line;
    if (strcmp(section, "experiment") != 0)
        return at_fail(err, AT_ERR_CONFIG,
                       "unknown section [%s]: a study file has one [experiment] section (the data and the "
                       "models live in the files it names)", section);
    return AT_OK;
}

static at_status on_entry(void *user, const char *section, const char *key, const char *value, size_t line,
                          at_error *err) {
    (void)line;
    study *s = user;
    if (strcmp(section, "experiment") != 0) return at_fail(err, AT_ERR_CONFIG, "key '%s' outside [experiment]", key);
    if (strcmp(key, "name") == 0) return set_str(s->name, sizeof s->name, value, key, err);
    if (strcmp(key, "title") == 0) return set_str(s->title, sizeof s->title, value, key, err);
    if (strcmp(key, "output_dir") == 0) return set_str(s->output_dir, sizeof s->output_dir, value, key, err);
    if (strcmp(key, "data") == 0) return set_str(s->data, sizeof s->data, value, key, err);
    if (strcmp(key, "steps") == 0) return set_str(s->steps_text, sizeof s->steps_text, value, key, err);
    if (strcmp(key, "reference_confident") == 0) return set_str(s->reference_text, sizeof s->reference_text, value, key, err);
    return at_fail(err, AT_ERR_CONFIG,
                   "unknown key '%s' in [experiment] (keys are: name, title, output_dir, data, steps, "
                   "reference_confident)", key);
}

/* A path named in the study file is relative to the study file's folder. */
static void relative_to(const char *study_path, const char *name, char *out, size_t cap) {
    const char *slash = strrchr(study_path, '/');
    size_t dir = name[0] == '/' || !slash ? 0 : (size_t)(slash - study_path) + 1;
    size_t len = strlen(name);
    if (dir + len >= cap) dir = 0; /* too long to join: the name alone, which then fails to open */
    if (len >= cap) len = cap - 1;
    memcpy(out, study_path, dir);
    memcpy(out + dir, name, len);
    out[dir + len] = '\0';
}

static at_status parse_study(const char *path, study *s, at_error *err) {
    snprintf(s->path, sizeof s->path, "%s", path);
    snprintf(s->output_dir, sizeof s->output_dir, "runs");
    at_ini_callbacks cb = {on_section, on_entry, s};
    at_status st = at_ini_parse(path, &cb, err);
    if (st) return st;
    if (!s->data[0]) return at_fail(err, AT_ERR_CONFIG, "%s: [experiment] needs data = FILE.ini", path);
    if (!s->steps_text[0]) return at_fail(err, AT_ERR_CONFIG, "%s: [experiment] needs steps = a.ini, b.ini, ...", path);
    if (!s->name[0]) {
        const char *base = strrchr(path, '/');
        snprintf(s->name, sizeof s->name, "%s", base ? base + 1 : path);
        char *dot = strrchr(s->name, '.');
        if (dot && dot != s->name) *dot = '\0';
    }
    if (!s->title[0]) snprintf(s->title, sizeof s->title, "%s", s->name);
    char **items = NULL;
    size_t n = 0;
    if ((st = at_split_list(s->steps_text, &items, &n, err))) return at_error_prefix(err, "%s: steps: ", path);
    if (n > AT_STUDY_MAX_STEPS) st = at_fail(err, AT_ERR_CONFIG, "%s: at most %d steps", path, AT_STUDY_MAX_STEPS);
    for (size_t i = 0; !st && i < n; i++) {
        study_step *step = &s->steps[s->n_steps++];
        relative_to(path, items[i], step->file, sizeof step->file);
        const char *base = strrchr(items[i], '/');
        snprintf(step->name, sizeof step->name, "%s", base ? base + 1 : items[i]);
        char *dot = strrchr(step->name, '.');
        if (dot && dot != step->name) *dot = '\0';
        for (size_t j = 0; j + 1 < s->n_steps; j++)
            if (strcmp(s->steps[j].name, step->name) == 0)
                st = at_fail(err, AT_ERR_CONFIG, "%s: two steps are named '%s'", path, step->name);
    }
    if (items) at_strs_free(items, n);
    if (st) return st;
    if (s->reference_text[0]) {
        if ((st = at_split_list(s->reference_text, &items, &n, err)))
            return at_error_prefix(err, "%s: reference_confident: ", path);
        for (size_t i = 0; !st && i < n && s->n_ref < AT_STUDY_MAX_CLASSES; i++) {
            char *eq = strchr(items[i], '=');
            char *end = NULL;
            double v = eq ? strtod(eq + 1, &end) : 0;
            if (!eq || end == eq + 1 || *end || v < 0 || v > 1 || eq - items[i] >= 64) {
                st = at_fail(err, AT_ERR_CONFIG, "%s: reference_confident: expected CLASS=fraction, got '%s'", path,
                             items[i]);
                break;
            }
            *eq = '\0';
            snprintf(s->ref_class[s->n_ref], sizeof s->ref_class[0], "%s", items[i]);
            s->ref_value[s->n_ref++] = v;
        }
        if (items) at_strs_free(items, n);
    }
    return st;
}

/* The ensemble step finds earlier steps by name: a fresh copy of their bundle. */
static at_status lookup_step(void *ctx, const char *name, at_bundle **out, at_error *err) {
    study *s = ctx;
    *out = NULL;
    for (size_t i = 0; i < s->n_steps; i++)
        if (strcmp(s->steps[i].name, name) == 0) {
            if (!s->steps[i].r.bundle)
                return at_fail(err, AT_ERR_CONFIG, "ensemble member '%s': that step has not run yet (list it earlier in steps)",
                               name);
            char path[AT_PATH_MAX + 200];
            snprintf(path, sizeof path, "%s/model.h5", s->steps[i].r.dir);
            return at_bundle_load(path, out, err);
        }
    return AT_OK;
}

static at_status run_steps(study *s, const at_study_options *opt, const at_progress *p, at_error *err) {
    at_run_options ro = {.force = 1, .threads = opt->threads, .comm = opt->comm};
    at_config *c = at_malloc(1, sizeof *c, err);
    if (!c) return AT_ERR_MEMORY;
    char data_path[AT_PATH_MAX];
    relative_to(s->path, s->data, data_path, sizeof data_path);
    at_status st = AT_OK;
    for (size_t i = 0; !st && i < s->n_steps; i++) {
        study_step *step = &s->steps[i];
        const char *layers[2] = {data_path, step->file};
        if ((st = at_config_load_layers(layers, 2, opt->overrides, opt->n_overrides, c, err))) break;
        snprintf(c->run.name, sizeof c->run.name, "%s", step->name);
        char dir[AT_PATH_MAX + 300];
        snprintf(dir, sizeof dir, "%s/%s", s->dir, step->name);
        at_progress_log(p, "step %zu/%zu: %s (%s)", i + 1, s->n_steps, step->name, c->model.type);
        at_prepared *own = NULL; /* study_steps.c: a step on other data, an init from an earlier step */
        if ((st = at_study_resolve_init(s, i, c, err)) || (st = at_study_step_data(s, step, c, p, &own, err))) {
            at_error_prefix(err, "step '%s': ", step->name);
            break;
        }
        const at_prepared *d = own ? own : s->data_base;
        at_prepared *with_pca = NULL;
        if (c->pca_stage.components > 0 && at_comm_size(opt->comm) > 1) {
            st = at_fail(err, AT_ERR_CONFIG, "%s: a step's [pca] stage does not run across MPI ranks yet (run the study "
                         "without mpirun, or put [pca] in a plain run)", step->file);
            break;
        }
        if (c->pca_stage.components > 0) {
            if ((st = at_prepared_with_pca(d, c->pca_stage.components, c->pca_stage.whiten, p, &with_pca, err))) {
                at_prepared_free(own);
                break;
            }
            d = with_pca;
            step->pca_stage = with_pca->pca->k;
        }
        at_model *model = NULL;
        st = at_build_model(c, d, dir, &ro, p, lookup_step, s, &model, err);
        if (!st) st = at_run_step(c, d, model, dir, &ro, p, &step->r, err);
        if (st) at_error_prefix(err, "step '%s': ", step->name);
        at_prepared_free(with_pca);
        at_prepared_free(own);
    }
    free(c);
    return st;
}

at_status at_run_study(const char *study_path, const at_study_options *opt, const at_progress *prog,
                       at_study_summary *out, at_error *err) {
    memset(out, 0, sizeof *out);
    double t0 = omp_get_wtime();
    study *s = at_calloc(1, sizeof *s, err);
    if (!s) return AT_ERR_MEMORY;
    at_status st = parse_study(study_path, s, err);
    const int root = at_comm_is_root(opt->comm), distributed = at_comm_size(opt->comm) > 1;
    at_prepared *base = NULL;
    at_log_tee tee = {0};
    if (st) goto done;
    /* The shared data: the data file (plus --set) alone decides the split. */
    char data_path[AT_PATH_MAX];
    relative_to(s->path, s->data, data_path, sizeof data_path);
    const char *layers[1] = {data_path};
    if ((st = at_config_load_layers(layers, 1, opt->overrides, opt->n_overrides, &s->base_config, err))) goto done;
    if ((st = at_study_image_base(s, data_path, opt, err))) goto done;
    if (strchr(s->name, '/')) {
        st = at_fail(err, AT_ERR_CONFIG, "%s: name '%s' must be a plain folder name", study_path, s->name);
        goto done;
    }
    snprintf(s->dir, sizeof s->dir, "%s/%s", s->output_dir, s->name);
    /* MPI: rank 0 makes the study directory and its log, then every rank agrees. */
    if (root) {
        struct stat sb;
        char path[AT_PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/plots", s->dir);
        if (stat(s->dir, &sb) == 0 && !opt->force)
            st = at_fail(err, AT_ERR_USAGE, "study directory %s already exists (use --force to overwrite it)", s->dir);
        if (!st) st = at_mkdirs(path, err);
        snprintf(path, sizeof path, "%s/log.txt", s->dir);
        if (!st) unlink(path);
        if (!st) st = at_log_tee_open(&tee, path, prog, err);
    } else {
        tee.progress = *prog;
    }
    if (distributed) st = at_comm_agree(opt->comm, st, err);
    if (st) goto done;
    at_progress_log(&tee.progress, "astrotrain %s: study %s, %zu steps, seed %lld", AT_VERSION, s->dir, s->n_steps,
                    (long long)s->base_config.run.seed);
    if (s->base_config.pca_stage.components > 0) {
        st = at_fail(err, AT_ERR_CONFIG, "%s: the shared data file has a [pca] stage; put it in the steps that need it",
                     data_path);
        goto done;
    }
    if ((st = at_prepare_data_comm(&s->base_config, opt->comm, &tee.progress, &base, err))) goto done;
    s->data_base = base;
    if ((st = run_steps(s, opt, &tee.progress, err))) goto done;
    s->seconds = omp_get_wtime() - t0;
    st = root ? at_study_report(s, s->base_config.plots.render, err) : AT_OK;
    if (distributed) st = at_comm_agree(opt->comm, st, err);
    if (st) goto done;
    at_progress_log(&tee.progress, "report: %s/report.html (%.1f s in all)", s->dir, omp_get_wtime() - t0);
    snprintf(out->dir, sizeof out->dir, "%s", s->dir);
    out->n_steps = s->n_steps;
    out->seconds = omp_get_wtime() - t0;
done:
    if (st && tee.log && err) at_progress_log(&tee.progress, "error: %s", err->msg);
    if (root && tee.log) at_log_tee_close(&tee);
    for (size_t i = 0; i < s->n_steps; i++) at_step_result_free(&s->steps[i].r);
    at_prepared_free(base);
    free(s);
    return st;
}
