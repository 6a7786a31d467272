/* memory.h - (private) the memory limit of a training run ([run] memory_limit_mb or
 * MemAvailable), checked before loading, while loading and before fitting (memory.c). */
#ifndef ASTROTRAIN_PIPELINE_MEMORY_H
#define ASTROTRAIN_PIPELINE_MEMORY_H

#include <stddef.h>

#include "astrotrain/config.h"
#include "astrotrain/status.h"

/* limit in bytes (0 = unknown: no checks); table_bytes bounds the loaded table
 * (at_load_options.max_table_bytes). */
typedef struct at_memory_plan {
    double limit;
    int configured;     /* from [run] memory_limit_mb, not from MemAvailable */
    size_t table_bytes;
} at_memory_plan;

at_status at_memory_limit(const at_config *c, at_memory_plan *plan);
/* Before loading: the table the file would make, estimated from its size. */
at_status at_memory_check_input(const at_memory_plan *plan, const char *path, size_t d, at_error *err);
/* After loading: the table's copies and the model family's own estimate. */
at_status at_memory_check_fit(const at_memory_plan *plan, const at_model_config *mc, size_t n_rows, size_t n_train,
                              size_t d, size_t k, int threads, at_error *err);
/* "needs more than N MB (...), the limit is M MB" for a load stopped by the table bound. */
at_status at_memory_refuse_load(const at_memory_plan *plan, const char *path, at_error *err);

#endif
