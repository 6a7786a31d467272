/* cmd_monitor.c - `astrotrain monitor`: record a batch against the model's training
 * reference, join labels that arrive later, rewrite the report. */
#include <stdio.h>
#include <string.h>

#include "astrotrain/config.h"
#include "astrotrain/monitor.h"
#include "cli/cli.h"

/* Exit code of a recorded batch that raised an alert, with --fail-on-alert. */
#define MONITOR_EXIT_ALERT 10

static void help(void) {
    puts("usage: astrotrain monitor --model MODEL.h5 --history DIR --input BATCH.csv[.gz]|BATCH.fits [options]\n"
         "       astrotrain monitor --history DIR --labels-for BATCH LABELS.csv [--key COL] [--label-column C]\n"
         "       astrotrain monitor --history DIR --report\n"
         "\n"
         "Predicts one batch in chunks, compares it with the training reference stored in the model\n"
         "file (per-feature PSI and KS, class mix, winning probability; accuracy with --labels),\n"
         "appends one record to DIR/history.jsonl, writes DIR/batches/BATCH.csv and rewrites\n"
         "DIR/report.html. --labels-for joins labels that arrived later to a recorded batch by a key\n"
         "column and fills in its accuracy.\n"
         "\n"
         "options:\n"
         "  --batch NAME      batch name (default: the UTC time stamp, e.g. 20261129T223000Z)\n"
         "  --labels          the batch has the label column: score it (accuracy, macro-F1, recall)\n"
         "  --key COL         key column copied into the predictions for --labels-for (default: row,\n"
         "                    the 0-based data row)\n"
         "  --label-column C  label column of the --labels-for file (default: the model's label)\n"
         "  --fail-on-alert   exit 10 when the recorded batch raised an alert\n"
         "  --no-report       do not rewrite report.html\n"
         "  --no-render       write the report without running gnuplot (tables only)\n"
         "  --hdu NAME|N      FITS batch: the binary table's EXTNAME or HDU number (0 = primary)\n"
         "  --threads N, --chunk-rows N, --comments, --quiet   as for predict\n"
         "\n"
         "exit status: 0 recorded (whatever the alerts), 10 recorded with an alert and --fail-on-alert,\n"
         "otherwise the codes of README \"Exit codes\".");
}

static const char *status_of(json_t *rec) {
    const char *s = json_string_value(json_object_get(rec, "status"));
    return s ? s : "ok";
}

static void print_alerts(json_t *rec) {
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(rec, "alerts"), i, a)
        fprintf(stderr, "  %s: %s\n", json_string_value(json_object_get(a, "level")),
                json_string_value(json_object_get(a, "reason")));
}

int cmd_monitor(int argc, char **argv, volatile int *stop) {
    at_monitor_options opt = {0};
    const char *labels_for = NULL, *labels_file = NULL, *label_col = NULL;
    cli_stream so;
    cli_stream_init(&so);
    int report_only = 0, fail_on_alert = 0, no_report = 0, render = 1, taken, rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            return 0;
        } else if (strcmp(a, "--model") == 0 && i + 1 < argc) {
            opt.model_path = argv[++i];
        } else if (strcmp(a, "--history") == 0 && i + 1 < argc) {
            opt.history = argv[++i];
        } else if (strcmp(a, "--input") == 0 && i + 1 < argc) {
            opt.input = argv[++i];
        } else if (strcmp(a, "--batch") == 0 && i + 1 < argc) {
            opt.batch = argv[++i];
        } else if (strcmp(a, "--key") == 0 && i + 1 < argc) {
            opt.key = argv[++i];
        } else if (strcmp(a, "--label-column") == 0 && i + 1 < argc) {
            label_col = argv[++i];
        } else if (strcmp(a, "--labels-for") == 0 && i + 2 < argc) {
            labels_for = argv[++i];
            labels_file = argv[++i];
        } else if (strcmp(a, "--labels") == 0) {
            opt.labels = 1;
        } else if (strcmp(a, "--report") == 0) {
            report_only = 1;
        } else if (strcmp(a, "--fail-on-alert") == 0) {
            fail_on_alert = 1;
        } else if (strcmp(a, "--no-report") == 0) {
            no_report = 1;
        } else if (strcmp(a, "--no-render") == 0) {
            render = 0;
        } else if ((taken = cli_stream_option(&so, argc, argv, &i, &rc))) {
            if (taken < 0) return rc;
        } else {
            return cli_usage("monitor: unknown or incomplete option '%s'", a);
        }
    }
    if (!opt.history) return cli_usage("monitor needs --history DIR");
    at_error err = {0};
    if (report_only) {
        if (opt.input || labels_for) return cli_usage("monitor: --report takes only --history");
        if (so.hdu) return cli_usage("monitor: --hdu goes with --input");
        if (at_monitor_report(opt.history, render, &err)) return cli_fail(&err);
        if (!so.quiet) fprintf(stderr, "report: %s/report.html\n", opt.history);
        return 0;
    }
    json_t *rec = NULL;
    if (labels_for) {
        if (opt.input || opt.model_path || so.hdu)
            return cli_usage("monitor: --labels-for takes no --model, --input or --hdu");
        size_t matched = 0;
        if (at_monitor_labels_for(opt.history, labels_for, labels_file, opt.key, label_col, &matched, &err))
            return cli_fail(&err);
        json_t *hist = NULL;
        if (at_history_load(opt.history, &hist, &err)) return cli_fail(&err);
        rec = json_incref(at_history_find(hist, labels_for));
        json_decref(hist);
        if (!so.quiet && rec) {
            json_t *lab = json_object_get(rec, "labels");
            fprintf(stderr, "batch %s: %zu labels joined, accuracy %.4f [%.4f, %.4f]\n", labels_for, matched,
                    json_number_value(json_object_get(lab, "accuracy")),
                    json_number_value(json_object_get(lab, "accuracy_lo")),
                    json_number_value(json_object_get(lab, "accuracy_hi")));
        }
    } else {
        if (!opt.model_path || !opt.input) return cli_usage("monitor needs --model, --history and --input");
        at_bundle *b = NULL;
        if (at_bundle_load(opt.model_path, &b, &err)) return cli_fail(&err);
        int nthreads = at_threads_or_cores(so.threads);
        cli_set_threads(nthreads);
        opt.threads = nthreads;
        opt.chunk_rows = (size_t)so.chunk;
        opt.comments = so.comments;
        opt.hdu = so.hdu;
        cli_ui ui;
        cli_ui_init(&ui, so.quiet);
        at_progress prog = cli_ui_progress(&ui, stop);
        at_status s = at_monitor_batch(b, &opt, &prog, &rec, &err);
        cli_ui_finish(&ui);
        at_bundle_free(b);
        if (!s) s = at_history_append(opt.history, rec, &err);
        if (s) {
            json_decref(rec);
            return cli_fail(&err);
        }
        if (!so.quiet) {
            json_t *rows = json_object_get(rec, "rows");
            fprintf(stderr, "batch %s: %lld rows predicted of %lld read, status %s\n",
                    json_string_value(json_object_get(rec, "batch")),
                    (long long)json_integer_value(json_object_get(rows, "predicted")),
                    (long long)json_integer_value(json_object_get(rows, "read")), status_of(rec));
        }
    }
    if (!so.quiet && rec) print_alerts(rec);
    int alert = rec && strcmp(status_of(rec), "alert") == 0;
    json_decref(rec);
    if (!no_report) {
        if (at_monitor_report(opt.history, render, &err)) return cli_fail(&err);
        if (!so.quiet) fprintf(stderr, "report: %s/report.html\n", opt.history);
    }
    return fail_on_alert && alert ? MONITOR_EXIT_ALERT : 0;
}
