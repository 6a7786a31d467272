/* comm.c - the communicator's dispatcher and its single-rank implementation (no MPI: sums
 * and broadcasts are no-ops, a gather is a copy), plus the counters of bytes and seconds spent
 * communicating and the agreement on errors every distributed phase ends with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/comm_impl.h"

struct at_comm {
    int rank, size;
    const at_comm_ops *ops; /* NULL: one rank */
    void *impl;
    at_comm_stats stats;
    int agreed; /* the last failing agreement reached every rank */
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int at_comm_launched_by_mpirun(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return 1;
    }
    return 0;
}

at_status at_comm_new_single(at_comm **out, at_error *err) {
    *out = at_calloc(1, sizeof **out, err);
    if (!*out) return AT_ERR_MEMORY;
    (*out)->size = 1;
    return AT_OK;
}

at_status at_comm_wrap(const at_comm_ops *ops, void *impl, int rank, int size, at_comm **out, at_error *err) {
    *out = at_calloc(1, sizeof **out, err);
    if (!*out) {
        ops->free(impl);
        return AT_ERR_MEMORY;
    }
    (*out)->ops = ops;
    (*out)->impl = impl;
    (*out)->rank = rank;
    (*out)->size = size;
    return AT_OK;
}

void at_comm_free(at_comm *c) {
    if (!c) return;
    if (c->ops) c->ops->free(c->impl);
    free(c);
}

int at_comm_rank(const at_comm *c) { return c ? c->rank : 0; }
int at_comm_size(const at_comm *c) { return c ? c->size : 1; }
int at_comm_is_root(const at_comm *c) { return !c || c->rank == 0; }

at_comm_stats at_comm_get_stats(const at_comm *c) {
    at_comm_stats z = {0, 0, 0.0};
    return c ? c->stats : z;
}

static at_status failed(at_error *err, const char *what) {
    return at_fail(err, AT_ERR_INTERNAL, "MPI %s failed (another rank stopped?)", what);
}

static at_status reduce(at_comm *c, void *buf, size_t n, int is_double, int op, at_error *err) {
    if (!c || !c->ops || n == 0) return AT_OK;
    double t0 = now();
    int rc = c->ops->sum(c->impl, buf, n, is_double, op);
    c->stats.seconds += now() - t0;
    c->stats.bytes += 8 * (uint64_t)n;
    c->stats.calls++;
    return rc ? failed(err, "allreduce") : AT_OK;
}

at_status at_comm_sum_f64(at_comm *c, double *buf, size_t n, at_error *err) { return reduce(c, buf, n, 1, 0, err); }
at_status at_comm_sum_i64(at_comm *c, int64_t *buf, size_t n, at_error *err) { return reduce(c, buf, n, 0, 0, err); }
at_status at_comm_max_f64(at_comm *c, double *buf, size_t n, at_error *err) { return reduce(c, buf, n, 1, 1, err); }
at_status at_comm_min_f64(at_comm *c, double *buf, size_t n, at_error *err) { return reduce(c, buf, n, 1, 2, err); }

at_status at_comm_bcast(at_comm *c, void *buf, size_t bytes, int root, at_error *err) {
    if (!c || !c->ops || bytes == 0) return AT_OK;
    double t0 = now();
    int rc = c->ops->bcast(c->impl, buf, bytes, root);
    c->stats.seconds += now() - t0;
    c->stats.bytes += bytes;
    c->stats.calls++;
    return rc ? failed(err, "broadcast") : AT_OK;
}

at_status at_comm_allgatherv(at_comm *c, const void *send, size_t bytes, void **out, size_t *counts,
                             at_error *err) {
    *out = NULL;
    int P = at_comm_size(c);
    if (!c || !c->ops) {
        void *r = at_malloc(bytes ? bytes : 1, 1, err);
        if (!r) return AT_ERR_MEMORY;
        if (bytes) memcpy(r, send, bytes);
        if (counts) counts[0] = bytes;
        *out = r;
        return AT_OK;
    }
    uint64_t *all = at_malloc((size_t)P, sizeof *all, err);
    if (!all) return AT_ERR_MEMORY;
    double t0 = now();
    if (c->ops->allgather_sizes(c->impl, bytes, all)) {
        free(all);
        return failed(err, "allgather");
    }
    uint64_t total = 0;
    for (int r = 0; r < P; r++) total += all[r];
    void *recv = at_malloc(total ? total : 1, 1, err);
    /* Every rank must enter the second collective even when its allocation failed: the
     * failure is reported after it, and the caller's agreement stops everyone. */
    void *dst = recv;
    int rc = dst ? c->ops->allgatherv(c->impl, send, bytes, dst, all) : 1;
    c->stats.seconds += now() - t0;
    c->stats.bytes += bytes + 8;
    c->stats.calls += 2;
    if (counts)
        for (int r = 0; r < P; r++) counts[r] = (size_t)all[r];
    free(all);
    if (!recv) return AT_ERR_MEMORY;
    if (rc) {
        free(recv);
        return failed(err, "allgatherv");
    }
    *out = recv;
    return AT_OK;
}

at_status at_comm_exscan_u64(at_comm *c, uint64_t v, uint64_t *out, at_error *err) {
    *out = 0;
    if (!c || !c->ops) return AT_OK;
    double t0 = now();
    int rc = c->ops->exscan(c->impl, v, out);
    c->stats.seconds += now() - t0;
    c->stats.bytes += 8;
    c->stats.calls++;
    if (c->rank == 0) *out = 0;
    return rc ? failed(err, "exscan") : AT_OK;
}

at_status at_comm_agree(at_comm *c, at_status s, at_error *err) {
    if (!c || !c->ops) {
        if (c) c->agreed = s != AT_OK;
        return s;
    }
    /* The lowest failing rank wins: min over (failed ? rank : size). */
    double who = s ? (double)c->rank : (double)c->size;
    at_error local = {0};
    if (reduce(c, &who, 1, 1, 2, &local)) return local.code;
    if ((int)who == c->size) return AT_OK;
    int root = (int)who;
    at_error msg = {0};
    if (c->rank == root && err) msg = *err;
    msg.code = s;
    if (at_comm_bcast(c, &msg, sizeof msg, root, &local)) return local.code;
    msg.msg[sizeof msg.msg - 1] = '\0';
    if (err) {
        *err = msg;
        /* An error already agreed on (passed on through later phases) keeps its one prefix. */
        if (strncmp(err->msg, "rank ", 5) != 0) at_error_prefix(err, "rank %d: ", root);
    }
    c->agreed = 1;
    return msg.code ? msg.code : AT_ERR_INTERNAL;
}

int at_comm_error_agreed(const at_comm *c) { return !c || !c->ops || c->agreed; }

void at_comm_abort(at_comm *c, int code) {
    if (c && c->ops) c->ops->abort(c->impl, code);
}
