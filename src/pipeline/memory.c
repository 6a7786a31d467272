/* memory.c - whether a training run fits in memory: the limit ([run] memory_limit_mb, or
 * what the machine has available now), an estimate from the input file before anything is
 * read, and one from the loaded table and the model family once the sizes are known.
 *
 * The pipeline holds the table about twice at its peak (the whole table and its undersampled
 * copy, then that copy and its train/validation/test parts), plus what the model needs. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "astrotrain/model.h"
#include "pipeline/memory.h"

#define MB (1024.0 * 1024.0)
#define TABLE_COPIES 2.0

/* MemAvailable from /proc/meminfo, in bytes; 0 when it cannot be read. */
static double mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    double kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024.0;
}

at_status at_memory_limit(const at_config *c, at_memory_plan *plan) {
    memset(plan, 0, sizeof *plan);
    if (c->run.memory_limit_mb > 0) {
        plan->limit = (double)c->run.memory_limit_mb * MB;
        plan->configured = 1;
    } else {
        plan->limit = mem_available();
    }
    /* The loader stops once the table alone would leave no room for its copies. */
    if (plan->limit > 0) {
        double t = plan->limit / TABLE_COPIES;
        plan->table_bytes = t >= (double)SIZE_MAX ? SIZE_MAX : (size_t)t;
    }
    return AT_OK;
}

static at_status refuse(const at_memory_plan *plan, const char *what, double need, at_error *err) {
    return at_fail(err, AT_ERR_MEMORY, "%s needs about %.0f MB, the limit is %.0f MB (%s)", what, need / MB + 0.5,
                   plan->limit / MB, plan->configured ? "[run] memory_limit_mb" : "memory available now; set [run] memory_limit_mb to change it");
}

/* The uncompressed size of path and its mean line length (from the first 256 KiB). For gzip
 * the trailer holds the size mod 2^32 only, so the compressed size is a floor: an estimate
 * that is too low is caught by the loader's bound instead. */
static int input_shape(const char *path, double *bytes, double *line_len) {
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return 0;
    *bytes = (double)sb.st_size;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char magic[2] = {0, 0}, trailer[4];
    int gz = fread(magic, 1, 2, f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (gz && sb.st_size >= 18 && fseek(f, -4, SEEK_END) == 0 && fread(trailer, 1, 4, f) == 4) {
        double isize = (double)((uint32_t)trailer[0] | (uint32_t)trailer[1] << 8 | (uint32_t)trailer[2] << 16 |
                                (uint32_t)trailer[3] << 24);
        if (isize > *bytes) *bytes = isize;
    }
    fclose(f);
    gzFile g = gzopen(path, "rb");
    if (!g) return 0;
    static const unsigned block = 256u * 1024u;
    char buf[4096];
    unsigned total = 0, lines = 0;
    int got;
    while (total < block && (got = gzread(g, buf, sizeof buf)) > 0) {
        total += (unsigned)got;
        for (int i = 0; i < got; i++) lines += buf[i] == '\n';
    }
    gzclose(g);
    *line_len = lines ? (double)total / lines : (double)total + 1;
    return total > 0;
}

static double row_bytes(size_t d) { return (double)d * sizeof(double) + sizeof(int64_t) + sizeof(int32_t); }

at_status at_memory_check_input(const at_memory_plan *plan, const char *path, size_t d, at_error *err) {
    double bytes, line_len;
    if (plan->limit <= 0 || !input_shape(path, &bytes, &line_len)) return AT_OK; /* the loader will tell */
    double rows = bytes / line_len;
    double need = TABLE_COPIES * rows * row_bytes(d);
    if (need <= plan->limit) return AT_OK;
    char what[AT_PATH_MAX + 64];
    snprintf(what, sizeof what, "%s (about %.0f rows)", path, rows);
    return refuse(plan, what, need, err);
}

at_status at_memory_check_fit(const at_memory_plan *plan, const at_model_config *mc, size_t n_rows, size_t n_train,
                              size_t d, size_t k, int threads, at_error *err) {
    if (plan->limit <= 0) return AT_OK;
    const at_model_ops *ops = at_model_ops_find(mc->type);
    double model = ops && ops->memory_estimate ? (double)ops->memory_estimate(mc->params, n_train, d, k, threads) : 0;
    double need = TABLE_COPIES * (double)n_rows * row_bytes(d) + model;
    if (need <= plan->limit) return AT_OK;
    char what[256];
    snprintf(what, sizeof what, "training %s on %zu rows x %zu features (model about %.0f MB)", mc->type, n_train, d,
             model / MB + 0.5);
    return refuse(plan, what, need, err);
}

at_status at_memory_refuse_load(const at_memory_plan *plan, const char *path, at_error *err) {
    char inner[AT_ERROR_MAX];
    snprintf(inner, sizeof inner, "%s", err ? err->msg : "");
    return at_fail(err, AT_ERR_MEMORY, "%s needs more than %.0f MB (%s), the limit is %.0f MB (%s)", path,
                   plan->limit / MB, inner, plan->limit / MB,
                   plan->configured ? "[run] memory_limit_mb" : "memory available now; set [run] memory_limit_mb to change it");
}
