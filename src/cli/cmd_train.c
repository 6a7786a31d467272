/* cmd_train.c - `astrotrain --config FILE.ini`: run an experiment and print its results. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/comm.h"
#include "astrotrain/config.h"
#include "astrotrain/pipeline.h"
#include "cli/cli.h"

static void help(void) {
    puts("usage: astrotrain [train] --config FILE.ini [options]\n"
         "\n"
         "Runs the experiment described by FILE.ini: load, clean, undersample, split, normalise,\n"
         "fit, evaluate; writes <output_dir>/<name>/ with config.ini, metrics.json, model.h5,\n"
         "predictions.csv, plots/ and log.txt, then prints a results table.\n"
         "\n"
         "options:\n"
         "  --config FILE        the experiment (see docs/config.md for every key)\n"
         "  --resume RUN_DIR     continue an interrupted run that keeps a checkpoint (cnn);\n"
         "                       the configuration is RUN_DIR/config.ini unless --config is given\n"
         "  --set SECTION.KEY=V  override one key (repeatable), e.g. --set model.n_trees=300\n"
         "  --threads N          threads (0 = all cores); overrides [run] threads\n"
         "  --device D           cpu, cuda, cuda:N or auto: where a network trains; overrides [run] device\n"
         "  --force              overwrite an existing run directory\n"
         "  --quiet              no progress output\n");
}

static void print_table(const char *part, const at_metrics *m, char *const *names) {
    int w = 12; /* the longest class name sets the first column */
    for (size_t c = 0; c < m->k; c++)
        if ((int)strlen(names[c]) > w) w = (int)strlen(names[c]);
    printf("\n%s (%zu rows)\n", part, m->n);
    printf("  %-*s %9s %9s %9s %9s %10s\n", w, "class", "precision", "recall", "f1", "support", "confident");
    for (size_t c = 0; c < m->k; c++) {
        const at_class_metrics *pc = &m->per_class[c];
        printf("  %-*s %9.4f %9.4f %9.4f %9zu %10.4f\n", w, names[c], pc->precision, pc->recall, pc->f1, pc->support,
               pc->confident_fraction);
    }
    printf("  accuracy %.4f   macro-F1 %.4f   log-loss %.4f\n", m->accuracy, m->macro_f1, m->log_loss);
}

int cmd_train(int argc, char **argv, volatile int *stop) {
    const char *config = NULL, *resume = NULL;
    char devset[64];
    cli_common o;
    if (cli_common_init(&o, argc)) return 7;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = 0, taken = cli_common_option(&o, argc, argv, &i, &rc);
        if (taken < 0) {
            cli_common_free(&o);
            return rc;
        } else if (taken) {
            continue;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            cli_common_free(&o);
            return 0;
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(a, "--device") == 0 && i + 1 < argc) { /* issue 17: as --set run.device=D */
            snprintf(devset, sizeof devset, "run.device=%.50s", argv[++i]);
            o.sets[o.n_sets++] = devset;
        } else if (strcmp(a, "--resume") == 0 && i + 1 < argc) {
            resume = argv[++i];
        } else {
            cli_common_free(&o);
            return cli_usage("unknown or incomplete option '%s'", a);
        }
    }
    char resume_config[4096];
    if (!config && resume) {
        snprintf(resume_config, sizeof resume_config, "%s/config.ini", resume);
        config = resume_config;
    }
    if (!config) {
        cli_common_free(&o);
        return cli_usage("--config FILE.ini is required");
    }
    at_config *c = calloc(1, sizeof *c);
    at_error err = {0};
    if (!c) {
        cli_common_free(&o);
        return 7;
    }
    at_status s = at_config_load(config, o.sets, o.n_sets, c, &err);
    cli_common_free(&o);
    if (s) {
        free(c);
        return cli_fail(&err);
    }
    if (o.threads >= 0) c->run.threads = o.threads;
    if (resume && !at_model_type_has(c->model.type, AT_CAP_CHECKPOINT)) {
        free(c);
        return cli_usage("--resume continues runs that keep a checkpoint (cnn) only");
    }
    at_run_options opt = {.force = o.force, .threads = at_config_threads(c), .resume_dir = resume};
    at_comm *comm = NULL;
    int rc = cli_comm_open(&comm);
    if (rc) {
        free(c);
        return rc;
    }
    opt.comm = comm;
    cli_set_threads(opt.threads);
    cli_ui ui;
    cli_ui_init(&ui, o.quiet || !at_comm_is_root(comm));
    cli_rank_progress rp = {.quiet = o.quiet};
    at_progress prog = cli_rank_progress_init(&rp, comm, cli_ui_progress(&ui, stop));
    at_run_summary sum;
    s = at_run_experiment(c, &opt, &prog, &sum, &err);
    cli_ui_finish(&ui);
    free(c);
    int root = at_comm_is_root(comm);
    if ((rc = cli_comm_close(comm, s, &err)) || !root) {
        at_run_summary_free(&sum);
        return rc;
    }
    printf("run %s: model %s, %zu %s read, %zu dropped, %zu after undersampling (%zu/%zu/%zu)\n", sum.run_dir,
           sum.model_type, sum.rows_read, sum.images ? "images" : "rows", sum.rows_dropped, sum.rows_after_undersampling, sum.n_train, sum.n_valid,
           sum.n_test);
    printf("fit %.3f s, predict (test) %.3f s\n", sum.fit_seconds, sum.predict_seconds);
    if (sum.classifier) {
        if (sum.has_valid) print_table("validation", &sum.valid, sum.class_names);
        print_table("test", &sum.test, sum.class_names);
    } else {
        printf("(a transform: see metrics.json model_info and plots/; `astrotrain transform` applies it)\n");
    }
    if (sum.plot_warning[0]) fprintf(stderr, "astrotrain: warning: %s\n", sum.plot_warning);
    at_run_summary_free(&sum);
    return 0;
}
