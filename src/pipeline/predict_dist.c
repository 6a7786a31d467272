/* predict_dist.c - `astrotrain predict` and `transform` across MPI ranks: each rank streams its
 * share of the input through the bundle into a part file, and rank 0 joins the parts, in rank
 * order (= input order), into the one output file (or, with --output-parts, leaves one file
 * per rank: OUT.part0000, OUT.part0001, ...).
 * Shares: a plain CSV is cut into byte ranges aligned to line starts (as training reads it);
 * each rank first counts the records of its range so that row numbers are those of the whole
 * file (one extra pass over the rank's bytes, no number parsing). A gzip file cannot be cut:
 * every rank decompresses it to count the records, then decompresses and parses up to the end
 * of its share again (P times the decompression; use plain CSV for large catalogues).
 * The output folder must be visible to every rank (one machine, or a shared file system). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "astrotrain/atomic_file.h"
#include "astrotrain/comm.h"
#include "astrotrain/csv.h"
#include "pipeline/catalogue_out.h"
#include "pipeline/predict_shard.h"

/* Records of the input in [begin, end) (end 0: all). */
static at_status count_records(const char *path, const at_predict_options *opt, int64_t begin, int64_t end,
                               int64_t *n, at_error *err) {
    at_csv_options co;
    at_csv_options_default(&co);
    co.allow_comments = opt->comments;
    if (opt->delimiter) co.delimiter = opt->delimiter;
    co.range_begin = begin;
    co.range_end = end;
    at_csv_reader *r = NULL;
    at_status s = at_csv_open(path, &co, &r, err);
    *n = 0;
    for (int eof = 0; !s && !eof;) {
        char **f;
        size_t nf;
        s = at_csv_next(r, &f, &nf, &eof, err);
        if (!s && !eof) (*n)++;
    }
    at_csv_close(r);
    return s;
}

static void part_path(char *buf, size_t cap, const char *output, int rank, int parts) {
    snprintf(buf, cap, parts ? "%s.part%04d" : "%s.tmp.part%04d", output, rank);
}

/* Rank 0: the parts, in order, into output (atomically); the parts are removed. */
static at_status join_parts(const char *output, int P, at_error *err) {
    at_afile *af = at_afile_open(output, err);
    if (!af) return err ? err->code : AT_ERR_IO;
    FILE *out = at_afile_stream(af);
    char path[4096 + 32], buf[1 << 16];
    at_status s = AT_OK;
    for (int r = 0; r < P && !s; r++) {
        part_path(path, sizeof path, output, r, 0);
        FILE *in = fopen(path, "rb");
        if (!in) {
            s = at_fail(err, AT_ERR_IO, "%s: cannot open the part of rank %d", path, r);
            break;
        }
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, in)) > 0)
            if (fwrite(buf, 1, got, out) != got) break;
        if (ferror(in) || ferror(out)) s = at_fail(err, AT_ERR_IO, "%s: cannot join the parts", output);
        fclose(in);
    }
    if (s) {
        at_afile_abort(af);
        return s;
    }
    return at_afile_commit(af, err);
}

at_status at_predict_csv_comm(const at_bundle *b, const char *input, const char *output,
                              const at_predict_options *opt, struct at_comm *comm, int output_parts, int transform,
                              const at_progress *prog, at_predict_report *rep, at_error *err) {
    int P = at_comm_size(comm), r = at_comm_rank(comm);
    memset(rep, 0, sizeof *rep);
    if (P <= 1 && !output_parts)
        return at_predict_stream_shard(b, input, output, opt, prog, rep, transform, NULL, err);
    if (cat_out_is_fits(output))
        return at_fail(err, AT_ERR_USAGE, "%s: FITS output is written by one process; under mpirun or with "
                                          "--output-parts write CSV", output);
    stream_shard sh = {0, 0, 0, INT64_MAX, 0, r == 0 || output_parts, 0, 0, 0};
    int64_t mine = 0, total = 0;
    int fits = 0;
    at_status s = at_fits_table_rows(input, opt->hdu, &fits, &total, err);
    if (s || fits) {
        /* A FITS table: rank r reads rows [N r / P, N (r + 1) / P) with CFITSIO. */
        sh.fits = 1;
        sh.fits_begin = sh.keep_from = total * r / P;
        sh.fits_end = sh.keep_to = total * (r + 1) / P;
        mine = sh.keep_to - sh.keep_from;
    } else if (at_file_is_gzip(input)) {
        s = count_records(input, opt, 0, 0, &total, err);
        sh.keep_from = total * r / P;
        sh.keep_to = total * (r + 1) / P;
        mine = sh.keep_to - sh.keep_from;
    } else {
        struct stat st;
        if (stat(input, &st) != 0) {
            s = at_fail(err, AT_ERR_IO, "%s: cannot open", input);
        } else {
            int64_t size = (int64_t)st.st_size;
            sh.range_begin = size / P * r + (size % P) * r / P;
            sh.range_end = r == P - 1 ? INT64_MAX : size / P * (r + 1) + (size % P) * (r + 1) / P;
            if (sh.range_end <= sh.range_begin) sh.range_end = sh.range_begin + 1;
            s = count_records(input, opt, sh.range_begin, sh.range_end, &mine, err);
        }
    }
    if ((s = at_comm_agree(comm, s, err))) return s;
    uint64_t before = 0;
    if (!sh.range_end) {
        /* gzip: the shares are known from the total */
    } else if ((s = at_comm_exscan_u64(comm, (uint64_t)mine, &before, err))) {
        return s;
    }
    sh.row_offset = (int64_t)before;
    char part[4096 + 32];
    part_path(part, sizeof part, output, r, output_parts);
    at_predict_report my = {0};
    s = at_predict_stream_shard(b, input, part, opt, prog, &my, transform, &sh, err);
    if ((s = at_comm_agree(comm, s, err))) {
        remove(part);
        return s;
    }
    int64_t sums[3] = {mine, (int64_t)my.rows_written, (int64_t)my.correct};
    if ((s = at_comm_sum_i64(comm, sums, 3, err))) return s;
    rep->rows_read = (size_t)sums[0];
    rep->rows_written = (size_t)sums[1];
    rep->rows_skipped = (size_t)(sums[0] - sums[1]);
    rep->correct = (size_t)sums[2];
    rep->has_label = my.has_label;
    if (!output_parts) {
        if (r == 0) s = join_parts(output, P, err);
        s = at_comm_agree(comm, s, err);
        remove(part);
    }
    return s;
}
