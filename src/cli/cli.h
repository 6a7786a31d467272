/* cli.h - (private) what the subcommands of the astrotrain binary share. */
#ifndef ASTROTRAIN_CLI_H
#define ASTROTRAIN_CLI_H

#include <signal.h>
#include <stdio.h>

#include "astrotrain/progress.h"
#include "astrotrain/status.h"

typedef struct cli_ui {
    int quiet;
    int tty;          /* stderr is a terminal: draw a bar */
    double start;     /* of the current stage */
    double last_draw;
    char stage[96];
    size_t last_decile;
    int bar_shown;
} cli_ui;

/* A progress sink drawing on stderr; stop points at the signal flag. */
void cli_ui_init(cli_ui *ui, int quiet);
at_progress cli_ui_progress(cli_ui *ui, volatile int *stop);
void cli_ui_finish(cli_ui *ui);

/* Prints "astrotrain: <message>" and returns the exit code for the status. */
int cli_fail(const at_error *err);
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Options shared by the commands that train (--set, --threads, --force, --quiet). */
typedef struct cli_common {
    const char **sets; /* room for argc entries */
    size_t n_sets;
    long threads;      /* -1 when not given */
    int force, quiet;
} cli_common;

int cli_common_init(cli_common *o, int argc); /* 0, or 7 when out of memory */
void cli_common_free(cli_common *o);
/* Takes argv[*i] (and its value) when it is a common option: 1 taken, 0 not one of them,
 * -1 a bad value (the usage error is printed; return *rc). */
int cli_common_option(cli_common *o, int argc, char **argv, int *i, int *rc);

/* Options shared by the commands that stream a table through a model (predict, transform,
 * monitor): --threads, --chunk-rows, --comments, --hdu, --quiet. */
typedef struct cli_stream {
    long threads, chunk; /* 0 (all cores) and 65536 by default */
    int comments, quiet;
    const char *hdu;
} cli_stream;

void cli_stream_init(cli_stream *o);
/* As cli_common_option, for those options. */
int cli_stream_option(cli_stream *o, int argc, char **argv, int *i, int *rc);

/* Parses "--threads N" style integers; 0 on success. */
int cli_parse_int(const char *text, long lo, long hi, long *out);

/* Sets OpenMP and OpenBLAS thread counts for the whole process. */
void cli_set_threads(int threads);

int cmd_train(int argc, char **argv, volatile int *stop);
int cmd_predict(int argc, char **argv, volatile int *stop);
int cmd_transform(int argc, char **argv, volatile int *stop);
int cmd_experiment(int argc, char **argv, volatile int *stop);
int cmd_info(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_synth(int argc, char **argv);
/* serve: the prediction service (issue 12) */
int cmd_serve(int argc, char **argv, volatile int *stop);
int cmd_monitor(int argc, char **argv, volatile int *stop); /* cmd_monitor.c */

/* ---- MPI (cli_comm.c, issue 15) ---- */
struct at_comm;
/* The communicator: MPI when mpirun started us, else one rank. 0, or the exit code. */
int cli_comm_open(struct at_comm **out);
/* Ranks other than 0 log "[rank N] line" and draw nothing (quiet: not even that). */
typedef struct cli_rank_progress {
    int rank, quiet;
    at_progress inner;
} cli_rank_progress;
at_progress cli_rank_progress_init(cli_rank_progress *r, const struct at_comm *comm, at_progress inner);
/* Ends the command: the exit code for s (rank 0 prints an agreed error once; an error the
 * other ranks never heard of aborts them all), then MPI_Finalize. */
int cli_comm_close(struct at_comm *comm, at_status s, const at_error *err);
/* Commands that do not run across ranks yet: under mpirun with more than one rank, rank 0 says
 * so and every rank returns 2 (without starting MPI); 0 otherwise. */
int cli_comm_refuse_ranks(const char *command);

#endif
