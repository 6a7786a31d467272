/* cli_comm.c - the command line's side of MPI: the communicator is created here, once per
 * command, and handed down (at_run_options.comm). MPI is initialised only when the
 * environment says mpirun started the process (at_comm_launched_by_mpirun: OMPI_COMM_WORLD_SIZE,
 * PMIX_RANK or PMI_RANK); otherwise the single-rank communicator costs nothing.
 * Ranks other than 0 print no bar and no results, only their log lines prefixed "[rank N]". */
#include <stdio.h>
#include <stdlib.h>

#include "astrotrain/comm.h"
#include "cli/cli.h"

int cli_comm_open(at_comm **out) {
    at_error err = {0};
    at_status s = at_comm_launched_by_mpirun() ? at_comm_new_mpi(NULL, NULL, out, &err)
                                               : at_comm_new_single(out, &err);
    return s ? cli_fail(&err) : 0;
}

static void rank_update(void *ctx, const char *stage, size_t done, size_t total, const char *detail) {
    (void)ctx, (void)stage, (void)done, (void)total, (void)detail;
}

static void rank_log(void *ctx, const char *line) {
    const cli_rank_progress *r = ctx;
    fprintf(stderr, "[rank %d] %s\n", r->rank, line);
}

at_progress cli_rank_progress_init(cli_rank_progress *r, const at_comm *comm, at_progress inner) {
    r->rank = at_comm_rank(comm);
    r->inner = inner;
    if (at_comm_is_root(comm)) return inner;
    at_progress p = {rank_update, r->quiet ? NULL : rank_log, r, inner.stop};
    return p;
}

int cli_comm_close(at_comm *comm, at_status s, const at_error *err) {
    int code = 0;
    if (s) {
        if (!at_comm_error_agreed(comm)) {
            /* This rank failed where the others cannot know: say so and stop them all. */
            at_error e = *err;
            if (at_comm_size(comm) > 1) at_error_prefix(&e, "rank %d: ", at_comm_rank(comm));
            code = cli_fail(&e);
            fflush(stderr);
            at_comm_abort(comm, code);
        } else if (at_comm_is_root(comm)) {
            code = cli_fail(err);
            fflush(stderr);
        } else {
            code = (int)s; /* rank 0 says it once */
        }
        /* mpi2: no rank leaves (and no non-zero exit makes mpirun end the job) before rank 0 has
         * said the agreed error: one last small collective after its message. */
        if (at_comm_error_agreed(comm) && at_comm_size(comm) > 1) {
            at_error ignored = {0};
            (void)at_comm_agree(comm, AT_OK, &ignored);
        }
    }
    at_comm_free(comm);
    return code;
}

int cli_comm_refuse_ranks(const char *command) {
    if (!at_comm_launched_by_mpirun()) return 0;
    const char *size = getenv("OMPI_COMM_WORLD_SIZE"), *rank = getenv("OMPI_COMM_WORLD_RANK");
    if (!size) size = getenv("PMI_SIZE");
    if (!rank) rank = getenv("PMIX_RANK");
    if (!rank) rank = getenv("PMI_RANK");
    if (!size || atoi(size) <= 1) return 0;
    if (!rank || atoi(rank) == 0)
        fprintf(stderr, "astrotrain: %s does not run across MPI ranks yet: run it without mpirun (or with -np 1)\n",
                command);
    return 2;
}
