/* comm_mpi.c - the communicator on Open MPI (MPI_COMM_WORLD, MPI_Init_thread serialized: one
 * thread of a rank talks to MPI at a time, between the rank's own barriers). Created only
 * when mpirun started the process (at_comm_launched_by_mpirun), so a plain run never calls
 * MPI_Init. */
#include <mpi.h>
#include <stdlib.h>

#include "dist/comm_impl.h"

typedef struct mpi_impl {
    MPI_Comm comm;
    int size;
} mpi_impl;

/* MPI counts are int: long buffers go in slices. */
#define SLICE ((size_t)1 << 28)

static int m_sum(void *impl, void *buf, size_t n, int is_double, int op) {
    mpi_impl *m = impl;
    MPI_Op o = op == 0 ? MPI_SUM : op == 1 ? MPI_MAX : MPI_MIN;
    MPI_Datatype t = is_double ? MPI_DOUBLE : MPI_INT64_T;
    char *p = buf;
    for (size_t at = 0; at < n; at += SLICE) {
        size_t cnt = n - at < SLICE ? n - at : SLICE;
        if (MPI_Allreduce(MPI_IN_PLACE, p + at * 8, (int)cnt, t, o, m->comm) != MPI_SUCCESS) return 1;
    }
    return 0;
}

static int m_bcast(void *impl, void *buf, size_t bytes, int root) {
    mpi_impl *m = impl;
    char *p = buf;
    for (size_t at = 0; at < bytes; at += SLICE) {
        size_t cnt = bytes - at < SLICE ? bytes - at : SLICE;
        if (MPI_Bcast(p + at, (int)cnt, MPI_BYTE, root, m->comm) != MPI_SUCCESS) return 1;
    }
    return 0;
}

static int m_sizes(void *impl, uint64_t mine, uint64_t *all) {
    mpi_impl *m = impl;
    return MPI_Allgather(&mine, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, m->comm) != MPI_SUCCESS;
}

/* Byte counts can pass 2 GiB: gathered through a contiguous type of 8 bytes when they are
 * multiples of 8, else bytes; a total that does not fit in int is refused. */
static int m_gatherv(void *impl, const void *send, size_t bytes, void *recv, const uint64_t *counts) {
    mpi_impl *m = impl;
    int P = m->size, unit = 8;
    for (int r = 0; r < P; r++)
        if (counts[r] % 8) unit = 1;
    int *cnt = malloc((size_t)P * sizeof *cnt), *disp = malloc((size_t)P * sizeof *disp);
    int bad = !cnt || !disp;
    uint64_t off = 0;
    for (int r = 0; r < P && !bad; r++) {
        uint64_t c = counts[r] / (uint64_t)unit, d = off / (uint64_t)unit;
        if (c > 0x7fffffff || d > 0x7fffffff) bad = 1;
        else cnt[r] = (int)c, disp[r] = (int)d;
        off += counts[r];
    }
    /* Every rank knows every count, so all of them agree on `bad` and none is left waiting. */
    int rc = 1;
    if (!bad) {
        MPI_Datatype t = unit == 8 ? MPI_UINT64_T : MPI_BYTE;
        rc = MPI_Allgatherv(send, (int)(bytes / (size_t)unit), t, recv, cnt, disp, t, m->comm) != MPI_SUCCESS;
    }
    free(cnt);
    free(disp);
    return rc;
}

static int m_exscan(void *impl, uint64_t v, uint64_t *out) {
    mpi_impl *m = impl;
    return MPI_Exscan(&v, out, 1, MPI_UINT64_T, MPI_SUM, m->comm) != MPI_SUCCESS;
}

static void m_abort(void *impl, int code) {
    mpi_impl *m = impl;
    MPI_Abort(m->comm, code);
}

static void m_free(void *impl) {
    free(impl);
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
}

static const at_comm_ops mpi_ops = {m_sum, m_bcast, m_sizes, m_gatherv, m_exscan, m_abort, m_free};

at_status at_comm_new_mpi(int *argc, char ***argv, at_comm **out, at_error *err) {
    *out = NULL;
    int provided = 0;
    /* Ranks wait in collectives by yielding the core instead of spinning (unless the user set
     * it): on a machine with more work than cores (shared nodes, oversubscription) spinning
     * ranks starve the rank everyone waits for; measured 11x faster on a loaded 2-core machine,
     * and no slower on idle cores, where sched_yield returns at once. */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return at_fail(err, AT_ERR_INTERNAL, "MPI_Init_thread failed");
    /* Errors come back as codes (the caller agrees on them or aborts), not as an abort inside MPI. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    mpi_impl *m = calloc(1, sizeof *m);
    if (!m) {
        MPI_Finalize();
        return at_fail(err, AT_ERR_MEMORY, "out of memory");
    }
    m->comm = MPI_COMM_WORLD;
    int rank = 0;
    MPI_Comm_rank(m->comm, &rank);
    MPI_Comm_size(m->comm, &m->size);
    return at_comm_wrap(&mpi_ops, m, rank, m->size, out, err);
}
