/* cmd_predict.c - `astrotrain predict`: apply a saved model to a catalogue. */
#include <stdio.h>
#include <string.h>

#include "astrotrain/comm.h"
#include "astrotrain/pipeline.h"
#include "cli/cli.h"

static void help(void) {
    puts("usage: astrotrain predict --model MODEL.h5 --input FILE.csv[.gz]|FILE.fits --output OUT.csv|OUT.fits [options]\n"
         "       astrotrain predict --model CNN.h5 --input IMAGES --output OUT.csv [options]\n"
         "\n"
         "Applies the model's cleaning, scaling and classifier to every row of FILE (columns in any\n"
         "order, extra columns ignored) in chunks, so catalogues of any size fit in memory. FILE is a\n"
         "CSV (plain or gzip) or a FITS binary table. Writes one row per input row, in order:\n"
         "row,[KEPT...,][true,]predicted,p_<class>...,status (true only when the label column is\n"
         "present); a row the model's cleaning rejects has empty prediction fields and a status\n"
         "saying why (missing u, sentinel g, not a number r, infinite z), the others status ok.\n"
         "OUT.fits (.fit, .fts) writes a FITS binary table with the same columns.\n"
         "For a cnn model, IMAGES is a Galaxy10-layout HDF5 file, a folder with one subfolder per\n"
         "class, or PNG/JPEG files (repeat --input); row is the image index.\n"
         "\n"
         "options:\n"
         "  --threads N       threads (0 = all cores, the default)\n"
         "  --chunk-rows N    rows per chunk (default 65536)\n"
         "  --comments        skip lines starting with '#'\n"
         "  --keep COL,...    copy these input columns (objid, ra, dec) after row\n"
         "  --skip-invalid    leave rejected rows out and write no status column (the old layout)\n"
         "  --hdu NAME|N      FITS input: the binary table's EXTNAME or HDU number (0 = primary);\n"
         "                    default: the first binary table\n"
         "  --output-parts    under mpirun: one file per rank, OUT.part0000, OUT.part0001, ...\n"
         "                    (default: rank 0 joins the parts into OUT, in input order)\n"
         "  --quiet           no progress output\n");
}

/* predict and transform share options and the streaming loop. */
static int predict_or_transform(int argc, char **argv, volatile int *stop, int transform) {
    const char *model = NULL, *input = NULL, *output = NULL;
    const char *inputs[256];
    size_t n_inputs = 0;
    cli_stream so;
    cli_stream_init(&so);
    int skip_invalid = 0, output_parts = 0, taken, rc = 0;
    const char *keep_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            if (transform)
                puts("usage: astrotrain transform --model MODEL.h5 --input FILE.csv[.gz] --output OUT.csv [options]\n"
                     "\n"
                     "Applies the model's cleaning and scaling, then its PCA (a pca model, or the PCA stage of any\n"
                     "model), to every row of FILE in chunks; writes row,[true,]PC1..PCk.\n"
                     "\n"
                     "options: --threads N, --chunk-rows N, --comments, --keep COL,..., --skip-invalid, --hdu NAME|N,\n"
                     "--quiet (as for predict; FITS in and out too, and the same status column)");
            else
                help();
            return 0;
        } else if (strcmp(a, "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(a, "--input") == 0 && i + 1 < argc) {
            input = argv[++i];
            if (n_inputs == sizeof inputs / sizeof inputs[0]) return cli_usage("predict: at most 256 --input files");
            inputs[n_inputs++] = input;
        } else if (strcmp(a, "--output") == 0 && i + 1 < argc) {
            output = argv[++i];
        } else if (strcmp(a, "--keep") == 0 && i + 1 < argc) {
            keep_arg = argv[++i];
        } else if (strcmp(a, "--skip-invalid") == 0) {
            skip_invalid = 1;
        } else if (strcmp(a, "--output-parts") == 0) {
            output_parts = 1;
        } else if ((taken = cli_stream_option(&so, argc, argv, &i, &rc))) {
            if (taken < 0) return rc;
        } else {
            return cli_usage("%s: unknown or incomplete option '%s'", transform ? "transform" : "predict", a);
        }
    }
    if (!model || !input || !output) return cli_usage("%s needs --model, --input and --output", transform ? "transform" : "predict");
    at_error err = {0};
    at_bundle *b = NULL;
    if (at_bundle_load(model, &b, &err)) return cli_fail(&err);
    int nthreads = at_threads_or_cores(so.threads);
    cli_set_threads(nthreads);
    at_comm *comm = NULL;
    rc = cli_comm_open(&comm);
    if (rc) {
        at_bundle_free(b);
        return rc;
    }
    int root = at_comm_is_root(comm);
    cli_ui ui;
    cli_ui_init(&ui, so.quiet || !root);
    cli_rank_progress rp = {.quiet = so.quiet};
    at_progress prog = cli_rank_progress_init(&rp, comm, cli_ui_progress(&ui, stop));
    /* --keep a,b,c: names split at commas (spaces around them ignored). */
    char keep_buf[4096];
    const char *keep[64];
    size_t n_keep = 0;
    if (keep_arg) {
        if (strlen(keep_arg) >= sizeof keep_buf) {
            cli_ui_finish(&ui);
            at_bundle_free(b);
            cli_comm_close(comm, AT_OK, &err);
            return cli_usage("--keep: the column list is too long");
        }
        strcpy(keep_buf, keep_arg);
        for (char *tok = strtok(keep_buf, ","); tok; tok = strtok(NULL, ",")) {
            while (*tok == ' ') tok++;
            size_t len = strlen(tok);
            while (len && tok[len - 1] == ' ') tok[--len] = '\0';
            if (!len) continue;
            if (n_keep == sizeof keep / sizeof keep[0]) {
                cli_ui_finish(&ui);
                at_bundle_free(b);
                cli_comm_close(comm, AT_OK, &err);
                return cli_usage("--keep: at most 64 columns");
            }
            keep[n_keep++] = tok;
        }
    }
    at_predict_options opt = {.chunk_rows = (size_t)so.chunk,
                              .threads = nthreads,
                              .comments = so.comments,
                              .skip_invalid = skip_invalid,
                              .keep = keep,
                              .n_keep = n_keep,
                              .hdu = so.hdu};
    at_predict_report rep;
    int images = at_model_has(b->model, AT_CAP_IMAGES);
    if (images && (at_comm_size(comm) > 1 || output_parts)) {
        cli_ui_finish(&ui);
        at_bundle_free(b);
        cli_comm_close(comm, AT_OK, &err);
        return cli_usage("predict: image models predict on one rank (no mpirun, no --output-parts)");
    }
    if (!images && n_inputs > 1) {
        cli_ui_finish(&ui);
        at_bundle_free(b);
        cli_comm_close(comm, AT_OK, &err);
        return cli_usage("%s: one --input catalogue for a tabular model", transform ? "transform" : "predict");
    }
    if (images && transform) {
        cli_ui_finish(&ui);
        at_bundle_free(b);
        cli_comm_close(comm, AT_OK, &err);
        return cli_usage("transform: an image model (cnn) classifies images; use predict");
    }
    at_status s = images ? at_predict_images(b, inputs, n_inputs, output, &opt, &prog, &rep, &err)
                         : at_predict_csv_comm(b, input, output, &opt, comm, output_parts, transform, &prog, &rep, &err);
    cli_ui_finish(&ui);
    at_bundle_free(b);
    if ((rc = cli_comm_close(comm, s, &err))) return rc;
    if (!so.quiet && root) {
        fprintf(stderr, "%s %zu of %zu %s (%zu skipped by the model's cleaning rules%s) -> %s\n",
                transform ? "transformed" : "predicted", rep.rows_written, rep.rows_read, images ? "images" : "rows",
                rep.rows_skipped, skip_invalid || images ? "" : ", see the status column", output);
        if (!transform && rep.has_label && rep.rows_written)
            fprintf(stderr, "accuracy against the %s: %.4f\n", images ? "labels" : "label column",
                    (double)rep.correct / (double)rep.rows_written);
    }
    return 0;
}

int cmd_predict(int argc, char **argv, volatile int *stop) { return predict_or_transform(argc, argv, stop, 0); }
int cmd_transform(int argc, char **argv, volatile int *stop) { return predict_or_transform(argc, argv, stop, 1); }
