/* cmd_experiment.c - `astrotrain experiment STUDY.ini`: a whole study and its report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
         "--set applies to every step (e.g. --set data.path=other.csv.gz).");
}

int cmd_experiment(int argc, char **argv, volatile int *stop) {
    const char *study = NULL;
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t n_sets = 0;
    long threads = 0;
    int force = 0, quiet = 0;
    if (!sets) return 7;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            free(sets);
            return 0;
        } else if (strcmp(a, "--set") == 0 && i + 1 < argc) {
            sets[n_sets++] = argv[++i];
        } else if (strcmp(a, "--threads") == 0 && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 0, 1024, &threads)) {
                free(sets);
                return cli_usage("--threads: '%s' is not a number from 0 to 1024", argv[i]);
            }
        } else if (strcmp(a, "--force") == 0) {
            force = 1;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            quiet = 1;
        } else if (a[0] != '-' && !study) {
            study = a;
        } else {
            free(sets);
            return cli_usage("experiment: unknown or incomplete option '%s'", a);
        }
    }
    if (!study) {
        free(sets);
        return cli_usage("experiment needs a study file (experiments/sdss17/study.ini)");
    }
    at_config tmp;
    tmp.run.threads = threads;
    int nthreads = at_config_threads(&tmp);
    cli_set_threads(nthreads);
    cli_ui ui;
    cli_ui_init(&ui, quiet);
    at_progress prog = cli_ui_progress(&ui, stop);
    at_study_options opt = {force, nthreads, sets, n_sets};
    at_study_summary sum;
    at_error err = {0};
    at_status s = at_run_study(study, &opt, &prog, &sum, &err);
    cli_ui_finish(&ui);
    free(sets);
    if (s) return cli_fail(&err);
    printf("study %s: %zu steps in %.1f s\nreport: %s/report.html (and report.md)\n", sum.dir, sum.n_steps, sum.seconds,
           sum.dir);
    return 0;
}
