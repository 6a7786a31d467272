/* chunk_pipe.h - (private) an in-order, three-stage pipeline over chunks for the catalogue
 * stream (predict.c): a reader thread fills chunk k+1 while the calling thread works on chunk
 * k (the model's OpenMP threads run there) and a writer thread writes chunk k-1. A bounded
 * ring of slots (memory stays flat whatever the input size); every stage takes the chunks in
 * input order, so the output is byte-for-byte the sequential one's. */
#ifndef ASTROTRAIN_PIPELINE_CHUNK_PIPE_H
#define ASTROTRAIN_PIPELINE_CHUNK_PIPE_H

#include <stddef.h>

#include "astrotrain/status.h"

typedef struct chunk_pipe_stages {
    /* Fills slot with the next chunk, or sets *eof (the slot then holds nothing to work on). */
    at_status (*read)(void *ctx, void *slot, int *eof, at_error *err);
    at_status (*work)(void *ctx, void *slot, at_error *err);
    at_status (*write)(void *ctx, void *slot, at_error *err);
    /* Optional (NULL: none): once every chunk is written without a failure, on the thread that
     * wrote them (errno and stdio errors of the writes are that thread's: commit the output here). */
    at_status (*finish)(void *ctx, at_error *err);
} chunk_pipe_stages;

/* Runs read -> work -> write over every chunk until read says eof or a stage fails (the first
 * failure is returned, its error in err; the other stages stop at their next chunk).
 * n_slots >= 3 runs the three stages on three threads; fewer runs them one after another on
 * the calling thread, one slot. ctx is shared: a stage may only touch its own state and
 * the slot it is given. */
at_status chunk_pipe_run(void *ctx, void *const *slots, size_t n_slots, const chunk_pipe_stages *st, at_error *err);

#endif
