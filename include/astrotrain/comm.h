/* comm.h - the communicator every distributed stage takes: which rank this process is, how
 * many there are, and the few collectives the pipeline and the models need (sums, gathers,
 * broadcasts, agreement on an error).
 *
 * Two implementations behind one type: a single rank (no MPI at all, every call a no-op or a
 * copy; what a process started without mpirun gets) and Open MPI (src/dist/comm_mpi.c),
 * created by the CLI only when the environment says mpirun started the process
 * (at_comm_launched_by_mpirun). The communicator is passed down explicitly; there is no
 * global. Every collective must be called by every rank in the same order.
 *
 * Errors: a collective that fails returns AT_ERR_INTERNAL. A phase that can fail on one rank
 * ends with at_comm_agree(), so every rank leaves it with the same status and message. */
#ifndef ASTROTRAIN_COMM_H
#define ASTROTRAIN_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct at_comm at_comm;

/* Traffic counters (metrics.json "distributed"): payload bytes this rank sent into
 * collectives, the number of collectives, and the wall-clock seconds spent inside them. */
typedef struct at_comm_stats {
    uint64_t bytes;
    uint64_t calls;
    double seconds;
} at_comm_stats;

/* 1 when the environment says mpirun (Open MPI: OMPI_COMM_WORLD_SIZE; PMIx launchers:
 * PMIX_RANK; MPICH/Hydra: PMI_RANK) started this process. */
int at_comm_launched_by_mpirun(void);

/* One rank, no MPI. Never fails for want of anything but memory. */
at_status at_comm_new_single(at_comm **out, at_error *err);
/* MPI_Init_thread (serialized: one thread calls at a time) and MPI_COMM_WORLD. at_comm_free
 * finalises. */
at_status at_comm_new_mpi(int *argc, char ***argv, at_comm **out, at_error *err);
void at_comm_free(at_comm *c);

int at_comm_rank(const at_comm *c); /* 0 for NULL */
int at_comm_size(const at_comm *c); /* 1 for NULL */
/* Rank 0 writes files and prints; the others only log. */
int at_comm_is_root(const at_comm *c);
at_comm_stats at_comm_get_stats(const at_comm *c);

/* In place, element by element over all ranks. */
at_status at_comm_sum_f64(at_comm *c, double *buf, size_t n, at_error *err);
at_status at_comm_sum_i64(at_comm *c, int64_t *buf, size_t n, at_error *err);
at_status at_comm_max_f64(at_comm *c, double *buf, size_t n, at_error *err);
at_status at_comm_min_f64(at_comm *c, double *buf, size_t n, at_error *err);
/* Root's bytes into every rank's buf. */
at_status at_comm_bcast(at_comm *c, void *buf, size_t bytes, int root, at_error *err);
/* Every rank's `bytes` bytes, concatenated in rank order, into *out (malloc'd, freed by the
 * caller; at least 1 byte); counts[r] (size entries, may be NULL) = rank r's bytes. */
at_status at_comm_allgatherv(at_comm *c, const void *send, size_t bytes, void **out, size_t *counts,
                             at_error *err);
/* Sum over ranks before this one of v (an exclusive prefix sum; 0 on rank 0). */
at_status at_comm_exscan_u64(at_comm *c, uint64_t v, uint64_t *out, at_error *err);

/* Error agreement: every rank passes its own status; all return the status of the lowest
 * failing rank, and err on every rank then holds that rank's message prefixed "rank N: ".
 * AT_OK everywhere when no rank failed. One small allreduce (and a broadcast on failure). */
at_status at_comm_agree(at_comm *c, at_status s, at_error *err);
/* Whether the last failing at_comm_agree() left every rank with that error, so the ranks can
 * stop together; an error that never went through agreement needs at_comm_abort. */
int at_comm_error_agreed(const at_comm *c);
/* Stops every rank with this exit code (MPI_Abort); returns only for a single rank. */
void at_comm_abort(at_comm *c, int code);

/* Implementation table (comm.c dispatches; comm_mpi.c fills one). */
typedef struct at_comm_ops {
    int (*sum)(void *impl, void *buf, size_t n, int is_double, int op /* 0 sum, 1 max, 2 min */);
    int (*bcast)(void *impl, void *buf, size_t bytes, int root);
    int (*allgather_sizes)(void *impl, uint64_t mine, uint64_t *all);
    int (*allgatherv)(void *impl, const void *send, size_t bytes, void *recv, const uint64_t *counts);
    int (*exscan)(void *impl, uint64_t v, uint64_t *out);
    void (*abort)(void *impl, int code);
    void (*free)(void *impl);
} at_comm_ops;

#endif
