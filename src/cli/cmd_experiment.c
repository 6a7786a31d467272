/* cmd_experiment.c - `astrotrain experiment STUDY.ini`: a whole study and its report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/comm.h"
#include "astrotrain/config.h"
#include "astrotrain/pipeline.h"
#include "cli/cli.h"

static void help(void) {
    puts("usage: astrotrain experiment STUDY.ini [--set SECTION.KEY=V]... [--threads N] [--force] [--quiet]\n"
         "\n"
         "Runs a study: the [experiment] section names a shared data file and a list of step files;\n"
         "the data are prepared once (one split for every step), each step trains and evaluates one\n"
         "model into <output_dir>/<name>/<step>/, an ensemble step reuses the steps before it, and\n"
         "report.md and a self-contained report.html gather every figure and table.\n"
         "--set applies to every step (e.g. --set data.path=other.csv.gz).\n"
         "A step whose [data] path differs from the data file's (pretraining on other images)\n"
         "prepares its own split and is reported apart; [net] init = step:NAME starts a network\n"
         "from the model of the earlier step NAME (experiments/stargalaxy_finetune/study.ini).");
}

int cmd_experiment(int argc, char **argv, volatile int *stop) {
    const char *study = NULL;
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
        } else if (a[0] != '-' && !study) {
            study = a;
        } else {
            cli_common_free(&o);
            return cli_usage("experiment: unknown or incomplete option '%s'", a);
        }
    }
    if (!study) {
        cli_common_free(&o);
        return cli_usage("experiment needs a study file (experiments/sdss17/study.ini)");
    }
    int nthreads = at_threads_or_cores(o.threads < 0 ? 0 : o.threads);
    /* Under mpirun every step trains across the ranks; rank 0 writes and prints. */
    at_comm *comm = NULL;
    int rc = cli_comm_open(&comm);
    if (rc) {
        cli_common_free(&o);
        return rc;
    }
    cli_set_threads(nthreads);
    cli_ui ui;
    cli_ui_init(&ui, o.quiet || !at_comm_is_root(comm));
    cli_rank_progress rp = {.quiet = o.quiet};
    at_progress prog = cli_rank_progress_init(&rp, comm, cli_ui_progress(&ui, stop));
    at_study_options opt = {o.force, nthreads, o.sets, o.n_sets, comm};
    at_study_summary sum;
    at_error err = {0};
    at_status s = at_run_study(study, &opt, &prog, &sum, &err);
    cli_ui_finish(&ui);
    cli_common_free(&o);
    int root = at_comm_is_root(comm);
    if ((rc = cli_comm_close(comm, s, &err)) || !root) return rc;
    printf("study %s: %zu steps in %.1f s\nreport: %s/report.html (and report.md)\n", sum.dir, sum.n_steps, sum.seconds,
           sum.dir);
    return 0;
}
