/* run.c - `astrotrain --config`: one experiment (a table or an image set, any family),
 * one run directory; `--resume` continues a run that left a checkpoint. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "astrotrain/atomic_file.h"
#include "astrotrain/comm.h"
#include "pipeline/run_dir.h"
#include "pipeline/step.h"

void at_run_summary_free(at_run_summary *s) {
    if (!s) return;
    at_metrics_free(&s->valid);
    at_metrics_free(&s->test);
    if (s->class_names) at_strs_free(s->class_names, s->k);
    memset(s, 0, sizeof *s);
}

at_status at_run_experiment(const at_config *c, const at_run_options *opt, const at_progress *prog,
                            at_run_summary *out, at_error *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->model_type, sizeof out->model_type, "%s", c->model.type);
    unsigned caps = at_model_type_caps(c->model.type);
    if (opt->resume_dir && !(caps & AT_CAP_CHECKPOINT))
        return at_fail(err, AT_ERR_USAGE, "--resume: a %s model keeps no checkpoint to continue from", c->model.type);
    /* MPI: rank 0 makes the run directory and its log; every rank learns its name. */
    at_comm *comm = opt->comm;
    const int root = at_comm_is_root(comm), distributed = at_comm_size(comm) > 1;
    at_status s = root ? at_run_dir_make(c, opt->force, opt->resume_dir, (caps & AT_CAP_CHECKPOINT) != 0, out->run_dir,
                                         sizeof out->run_dir, err)
                       : AT_OK;
    if (distributed && !(s = at_comm_agree(comm, s, err)))
        s = at_comm_bcast(comm, out->run_dir, sizeof out->run_dir, 0, err);
    if (s) return s;
    char path[AT_PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/log.txt", out->run_dir);
    at_log_tee tee;
    memset(&tee, 0, sizeof tee);
    s = root ? at_log_tee_open(&tee, path, prog, err) : AT_OK;
    if (distributed) s = at_comm_agree(comm, s, err);
    if (s) {
        at_log_tee_close(&tee);
        return s;
    }
    if (!root) tee.progress = *prog;
    at_progress_log(&tee.progress, "astrotrain %s: %s %s (model %s, seed %lld, %d thread(s))", AT_VERSION,
                    opt->resume_dir ? "resuming run" : "run", out->run_dir, c->model.type, (long long)c->run.seed,
                    opt->threads);
    at_prepared *d = NULL;
    s = at_prepare_data_comm(c, comm, &tee.progress, &d, err);
    if (!s) s = at_stop_point(&tee.progress, "preparing the data", err);
    if (distributed) s = at_comm_agree(comm, s, err);
    if (s == AT_ERR_INTERRUPTED) at_interrupted_message(err, out->run_dir);
    if (s) at_progress_log(&tee.progress, "error: %s", err->msg);
    if (root) at_log_tee_close(&tee);
    if (s) return s;
    at_step_result r;
    memset(&r, 0, sizeof r);
    at_model *model = NULL;
    s = at_build_model(c, d, out->run_dir, opt, prog, NULL, NULL, &model, err);
    if (!s) s = at_run_step(c, d, model, out->run_dir, opt, prog, &r, err);
    if (!s) {
        out->images = d->images != NULL;
        out->k = d->k;
        out->class_names = at_calloc(d->k, sizeof(char *), err);
        if (!out->class_names) s = AT_ERR_MEMORY;
        for (size_t i = 0; !s && i < d->k; i++)
            if (!(out->class_names[i] = at_strdup(d->class_names[i], err))) s = AT_ERR_MEMORY;
        out->rows_read = d->rows_read;
        out->rows_dropped = d->rows_dropped;
        out->rows_after_undersampling = d->rows_after_undersampling;
        out->n_train = d->train->n;
        out->n_valid = d->valid->n;
        out->n_test = d->test->n;
        out->fit_seconds = r.fit_seconds;
        out->predict_seconds = r.predict_seconds;
        out->has_valid = r.has_valid;
        out->classifier = r.classifier;
        out->valid = r.valid;
        out->test = r.test;
        memset(&r.valid, 0, sizeof r.valid);
        memset(&r.test, 0, sizeof r.test);
        out->plots_written = r.plots_written;
        out->plots_rendered = r.plots_rendered;
        memcpy(out->plot_warning, r.plot_warning, sizeof out->plot_warning);
    }
    at_step_result_free(&r);
    at_prepared_free(d);
    return s;
}
