/* ui.c - progress on stderr: a bar with an ETA on a terminal, plain lines otherwise. */
#include <cblas.h>
#include <errno.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

void cli_ui_init(cli_ui *ui, int quiet) {
    memset(ui, 0, sizeof *ui);
    ui->quiet = quiet;
    ui->tty = isatty(STDERR_FILENO);
}

static void clear_bar(cli_ui *ui) {
    if (ui->bar_shown) {
        fputs("\r\033[K", stderr);
        ui->bar_shown = 0;
    }
}

static void on_log(void *ctx, const char *line) {
    cli_ui *ui = ctx;
    if (ui->quiet) return;
    clear_bar(ui);
    fprintf(stderr, "%s\n", line);
}

static void on_update(void *ctx, const char *stage, size_t done, size_t total, const char *detail) {
    cli_ui *ui = ctx;
    if (ui->quiet) return;
    double now = omp_get_wtime();
    if (strncmp(ui->stage, stage, sizeof ui->stage - 1) != 0) {
        snprintf(ui->stage, sizeof ui->stage, "%s", stage);
        ui->start = now;
        ui->last_decile = (size_t)-1;
        ui->last_draw = 0;
    }
    if (ui->tty) {
        if (now - ui->last_draw < 0.1 && done < total) return;
        ui->last_draw = now;
        char bar[31];
        size_t fill = total ? (done * 30) / total : 0;
        for (size_t i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        double el = now - ui->start;
        if (total && done > 0) {
            double eta = el * (double)(total - done) / (double)done;
            fprintf(stderr, "\r\033[K%s [%s] %zu/%zu  %.1fs  ETA %.1fs%s%s", stage, bar, done, total, el, eta,
                    detail ? "  " : "", detail ? detail : "");
        } else {
            fprintf(stderr, "\r\033[K%s %zu  %.1fs%s%s", stage, done, el, detail ? "  " : "", detail ? detail : "");
        }
        ui->bar_shown = 1;
        if (total && done >= total) clear_bar(ui);
    } else if (total) {
        /* Plain lines at every tenth, for logs and pipes. */
        size_t decile = done * 10 / total;
        if (decile != ui->last_decile) {
            ui->last_decile = decile;
            fprintf(stderr, "%s: %zu/%zu (%.1fs)%s%s\n", stage, done, total, now - ui->start, detail ? "  " : "",
                    detail ? detail : "");
        }
    }
}

at_progress cli_ui_progress(cli_ui *ui, volatile int *stop) {
    at_progress p = {on_update, on_log, ui, stop};
    return p;
}

void cli_ui_finish(cli_ui *ui) { clear_bar(ui); }

int cli_fail(const at_error *err) {
    fprintf(stderr, "astrotrain: %s\n", err->msg[0] ? err->msg : at_status_name(err->code));
    return err->code ? (int)err->code : (int)AT_ERR_INTERNAL;
}

int cli_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("astrotrain: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see astrotrain --help)\n", stderr);
    va_end(ap);
    return AT_ERR_USAGE;
}

int cli_parse_int(const char *text, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || *end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Set once per command: the models parallelise with OpenMP (threads) and call BLAS from
 * inside their own threads (network shards, convolution groups), so BLAS runs on one
 * thread; no model changes either count. */
void cli_set_threads(int threads) {
    omp_set_num_threads(threads);
    openblas_set_num_threads(1);
}

int cli_common_init(cli_common *o, int argc) {
    memset(o, 0, sizeof *o);
    o->threads = -1;
    o->sets = calloc((size_t)argc + 1, sizeof *o->sets);
    return o->sets ? 0 : 7;
}

void cli_common_free(cli_common *o) {
    free(o->sets);
    o->sets = NULL;
}

int cli_common_option(cli_common *o, int argc, char **argv, int *i, int *rc) {
    const char *a = argv[*i];
    if (strcmp(a, "--set") == 0 && *i + 1 < argc) {
        o->sets[o->n_sets++] = argv[++*i];
    } else if (strcmp(a, "--threads") == 0 && *i + 1 < argc) {
        if (cli_parse_int(argv[++*i], 0, 1024, &o->threads)) {
            *rc = cli_usage("--threads: '%s' is not a number from 0 to 1024", argv[*i]);
            return -1;
        }
    } else if (strcmp(a, "--force") == 0) {
        o->force = 1;
    } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
        o->quiet = 1;
    } else {
        return 0;
    }
    return 1;
}

void cli_stream_init(cli_stream *o) { *o = (cli_stream){.threads = 0, .chunk = 65536}; }

int cli_stream_option(cli_stream *o, int argc, char **argv, int *i, int *rc) {
    const char *a = argv[*i];
    if (strcmp(a, "--threads") == 0 && *i + 1 < argc) {
        if (cli_parse_int(argv[++*i], 0, 1024, &o->threads)) {
            *rc = cli_usage("--threads: '%s' is not a number from 0 to 1024", argv[*i]);
            return -1;
        }
    } else if (strcmp(a, "--chunk-rows") == 0 && *i + 1 < argc) {
        if (cli_parse_int(argv[++*i], 1, 100000000, &o->chunk)) {
            *rc = cli_usage("--chunk-rows: '%s' is not a number from 1 to 100000000", argv[*i]);
            return -1;
        }
    } else if (strcmp(a, "--hdu") == 0 && *i + 1 < argc) {
        o->hdu = argv[++*i];
    } else if (strcmp(a, "--comments") == 0) {
        o->comments = 1;
    } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
        o->quiet = 1;
    } else {
        return 0;
    }
    return 1;
}
