/* predict_shard.h - (private) one rank's share of a streamed prediction under MPI: predict.c
 * streams it, predict_dist.c decides the shares and joins the parts. */
#ifndef ASTROTRAIN_PIPELINE_PREDICT_SHARD_H
#define ASTROTRAIN_PIPELINE_PREDICT_SHARD_H

#include <stdint.h>

#include "astrotrain/pipeline.h"

/* The input's byte range (range_end 0: all of it), the records [keep_from, keep_to) of those
 * the reader returns (numbered from 0 in the range), and the number added to each kept row
 * (the records before the range), so rows keep their numbers in the whole file. */
typedef struct stream_shard {
    int64_t range_begin, range_end;
    int64_t keep_from, keep_to;
    int64_t row_offset;
    int header; /* write the header line */
    /* A FITS table (mpi2): read only its rows [fits_begin, fits_end) with CFITSIO; its row
     * numbers are the table's (keep_from/keep_to are those rows, row_offset 0). */
    int fits;
    int64_t fits_begin, fits_end;
} stream_shard;

/* predict (transform = 0) or transform one share into output (NULL sh: everything). */
at_status at_predict_stream_shard(const at_bundle *b, const char *input, const char *output,
                                  const at_predict_options *opt, const at_progress *prog, at_predict_report *rep,
                                  int transform, const stream_shard *sh, at_error *err);

#endif
