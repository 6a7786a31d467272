/* prepare_dist.c - the data half of an experiment across MPI ranks: each rank reads its own
 * byte range of a plain CSV (aligned to line starts by the reader), cleans it, and the ranks
 * then agree on what a single process would have found:
 *   - class names: the union of every rank's, sorted; each rank's labels remapped to it;
 *   - counts (rows read, dropped) summed;
 *   - undersampling and the stratified split run on every rank over the gathered labels of
 *     all rows (4 bytes of label and 8 of row number per row, no features), so the rows kept
 *     and their parts are the single process's, by global position and seed only;
 *   - the scaler from exact global sums (scale_global.c).
 * A gzip file cannot be split: every rank decompresses and parses it whole and keeps its
 * contiguous share of the rows (the cost: P times the decompression, and the whole table in
 * each rank's memory while it loads).
 * After it, each rank holds its share of the training part; the validation and test parts
 * are gathered whole onto every rank (early stopping and evaluation need no more traffic). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "astrotrain/comm.h"
#include "astrotrain/csv.h"
#include "astrotrain/model.h"
#include "astrotrain/params.h"
#include "pipeline/memory.h"
#include "pipeline/prepared.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every rank's class names, united and sorted; ds's labels and names remapped to them. */
static at_status unite_classes(at_comm *comm, at_dataset *ds, at_error *err) {
    size_t bytes = 0;
    for (size_t c = 0; c < ds->n_classes; c++) bytes += strlen(ds->class_names[c]) + 1;
    char *mine = at_malloc(bytes + 1, 1, err);
    if (!mine) return AT_ERR_MEMORY;
    for (size_t c = 0, at = 0; c < ds->n_classes; c++) {
        size_t l = strlen(ds->class_names[c]) + 1;
        memcpy(mine + at, ds->class_names[c], l);
        at += l;
    }
    void *all = NULL;
    size_t total = 0;
    at_status s = at_comm_allgatherv(comm, mine, bytes, &all, NULL, err);
    free(mine);
    if (s) return s;
    /* bytes gathered = sum of every rank's; count the names */
    int64_t tot = (int64_t)bytes;
    if ((s = at_comm_sum_i64(comm, &tot, 1, err))) {
        free(all);
        return s;
    }
    total = (size_t)tot;
    size_t n = 0;
    for (size_t i = 0; i < total; i++) n += ((char *)all)[i] == '\0';
    char **names = at_calloc(n + 1, sizeof *names, err);
    if (!names) {
        free(all);
        return AT_ERR_MEMORY;
    }
    for (size_t i = 0, at = 0; i < n; i++) {
        names[i] = (char *)all + at;
        at += strlen(names[i]) + 1;
    }
    qsort(names, n, sizeof *names, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || strcmp(names[u - 1], names[i]) != 0) names[u++] = names[i];
    int32_t *map = at_malloc(ds->n_classes + 1, sizeof *map, err);
    char **copy = at_calloc(u + 1, sizeof *copy, err);
    s = !map || !copy ? AT_ERR_MEMORY : AT_OK;
    for (size_t i = 0; !s && i < u; i++)
        if (!(copy[i] = at_strdup(names[i], err))) s = AT_ERR_MEMORY;
    for (size_t c = 0; !s && c < ds->n_classes; c++) {
        char **hit = bsearch(&ds->class_names[c], names, u, sizeof *names, cmp_str);
        map[c] = (int32_t)(hit - names);
    }
    if (!s) {
        for (size_t i = 0; i < ds->n; i++)
            if (ds->y[i] >= 0) ds->y[i] = map[ds->y[i]];
        at_strs_free(ds->class_names, ds->n_classes);
        ds->class_names = copy;
        ds->n_classes = u;
        copy = NULL;
    }
    if (copy) at_strs_free(copy, u);
    free(map);
    free(names);
    free(all);
    return s;
}

/* This rank's rows of c->data with global row numbers and class names; report summed. */
static at_status load_shard(const at_config *c, at_comm *comm, at_prepared *d, at_dataset **out,
                            at_load_report *rep, at_error *err) {
    *out = NULL;
    at_load_options lo;
    at_load_options_default(&lo);
    lo.features = (const char *const *)d->features;
    lo.n_features = d->n_features;
    lo.label = c->data.label;
    lo.missing = (at_missing_policy)c->data.missing;
    lo.csv.allow_comments = c->data.comments;
    lo.csv.delimiter = c->data.delimiter[0];
    lo.shard = 1;
    lo.hdu = c->data.hdu;
    int P = at_comm_size(comm), r = at_comm_rank(comm);
    int gz = at_file_is_gzip(c->data.path), fits = 0;
    int64_t fits_n = 0;
    struct stat st;
    /* A FITS table (mpi2): rows [N r / P, N (r + 1) / P) of the table on rank r, read with CFITSIO. */
    at_status fs = at_fits_table_rows(c->data.path, c->data.hdu, &fits, &fits_n, err);
    if ((fs = at_comm_agree(comm, fs, err))) return fs;
    if (fits) {
        lo.fits_rows = 1;
        lo.fits_row_begin = fits_n * r / P;
        lo.fits_row_end = fits_n * (r + 1) / P;
        gz = 0;
    } else if (!gz) {
        if (stat(c->data.path, &st) != 0) return at_fail(err, AT_ERR_IO, "%s: cannot open", c->data.path);
        int64_t size = (int64_t)st.st_size;
        lo.csv.range_begin = size / P * r + (size % P) * r / P;
        lo.csv.range_end = r == P - 1 ? INT64_MAX : size / P * (r + 1) + (size % P) * (r + 1) / P;
        if (lo.csv.range_end <= lo.csv.range_begin) lo.csv.range_end = lo.csv.range_begin + 1;
    }
    at_dataset *ds = NULL;
    at_status s = at_dataset_load_csv(c->data.path, &lo, &ds, rep, err);
    /* A bad shard fails on its rank only: agree before the next collective. */
    if ((s = at_comm_agree(comm, s, err))) {
        at_dataset_free(ds);
        return s;
    }
    if (gz) {
        /* Everyone read everything: keep rows [n r / P, n (r + 1) / P); count the file once. */
        size_t a = ds->n * (size_t)r / (size_t)P, b = ds->n * (size_t)(r + 1) / (size_t)P;
        size_t *idx = at_malloc(b - a + 1, sizeof *idx, err);
        at_dataset *part = NULL;
        if (!idx) s = AT_ERR_MEMORY;
        for (size_t i = a; !s && i < b; i++) idx[i - a] = i;
        if (!s) s = at_dataset_subset(ds, idx, b - a, &part, err);
        free(idx);
        at_dataset_free(ds);
        ds = part;
        if (r != 0) memset(rep, 0, sizeof *rep);
    } else if (!fits) { /* a FITS table's row numbers are the table's already */
        uint64_t before = 0;
        if (!s) s = at_comm_exscan_u64(comm, rep->rows_read, &before, err);
        for (size_t i = 0; !s && i < ds->n; i++) ds->row[i] += (int64_t)before;
    }
    if (!s) s = unite_classes(comm, ds, err);
    if (s) {
        at_dataset_free(ds);
        return s;
    }
    *out = ds;
    return AT_OK;
}

/* Rows idx (positions in ds) of a part gathered whole onto every rank, in rank order (which
 * is global row order: shards are contiguous and parts ascending). */
static at_status gather_part(at_comm *comm, const at_dataset *ds, const size_t *idx, size_t m, at_dataset **out,
                             at_error *err) {
    *out = NULL;
    at_dataset *mine = NULL;
    at_status s = at_dataset_subset(ds, idx, m, &mine, err);
    if (s) return s;
    size_t d = ds->d;
    void *X = NULL, *y = NULL, *row = NULL;
    int64_t n = (int64_t)m;
    if (!(s = at_comm_sum_i64(comm, &n, 1, err)) &&
        !(s = at_comm_allgatherv(comm, mine->X, m * d * sizeof(double), &X, NULL, err)) &&
        !(s = at_comm_allgatherv(comm, mine->y, m * sizeof(int32_t), &y, NULL, err)) &&
        !(s = at_comm_allgatherv(comm, mine->row, m * sizeof(int64_t), &row, NULL, err)))
        s = at_dataset_new((size_t)n, d, 1, (const char *const *)ds->feature_names,
                           (const char *const *)ds->class_names, ds->n_classes, out, err);
    if (!s) {
        memcpy((*out)->X, X, (size_t)n * d * sizeof(double));
        memcpy((*out)->y, y, (size_t)n * sizeof(int32_t));
        memcpy((*out)->row, row, (size_t)n * sizeof(int64_t));
    }
    free(X), free(y), free(row);
    at_dataset_free(mine);
    return s;
}

at_status at_prepare_table_dist(const at_config *c, at_comm *comm, const at_progress *p, at_prepared *d,
                                at_error *err) {
    at_dataset *all = NULL;
    at_load_report rep = {0};
    size_t *keep = NULL, *parts[3] = {NULL, NULL, NULL}, *loc = NULL;
    int32_t *Y = NULL, *Yb = NULL;
    int64_t *ROW = NULL;
    void *gy = NULL, *grow = NULL;
    int P = at_comm_size(comm);
    at_status s = AT_OK;
    s = at_split_list(c->data.features, &d->features, &d->n_features, err);
    if (!s) at_progress_log(p, "loading %s across %d ranks", c->data.path, P);
    if (!s) s = load_shard(c, comm, d, &all, &rep, err);
    size_t unphysical = 0;
    if (!s)
        s = at_clean_rows(all, c->clean.use_sentinel, c->clean.sentinel, c->data.missing == AT_MISSING_KEEP,
                          &unphysical, err);
    s = at_comm_agree(comm, s, err);
    if (s) goto done;
    int64_t cnt[4] = {(int64_t)rep.rows_read, (int64_t)rep.rows_missing, (int64_t)unphysical, (int64_t)all->n};
    if ((s = at_comm_sum_i64(comm, cnt, 4, err))) goto done;
    d->rows_read = (size_t)cnt[0];
    d->rows_missing = (size_t)cnt[1];
    d->rows_unphysical = (size_t)cnt[2];
    d->rows_dropped = d->rows_missing + d->rows_unphysical;
    size_t N = (size_t)cnt[3];
    at_progress_log(p, "read %zu rows; dropped %zu (%zu with missing values, %zu unphysical); this rank %zu",
                    d->rows_read, d->rows_dropped, d->rows_missing, d->rows_unphysical, all->n);
    if (d->rows_read == 0) {
        s = at_fail(err, AT_ERR_DATA, "%s: no data rows", c->data.path);
        goto done;
    }
    if (all->n_classes < 2 || N == 0) {
        s = at_fail(err, AT_ERR_DATA, "%s: column '%s' has %zu class(es) after cleaning; need at least 2",
                    c->data.path, c->data.label, all->n_classes);
        goto done;
    }
    d->k = all->n_classes;
    if (!(d->label = at_strdup(c->data.label, err)) || !(d->class_names = at_calloc(d->k, sizeof(char *), err))) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    for (size_t j = 0; j < d->k; j++)
        if (!(d->class_names[j] = at_strdup(all->class_names[j], err))) {
            s = AT_ERR_MEMORY;
            goto done;
        }
    /* Every rank: labels and row numbers of all cleaned rows, in global order. */
    uint64_t off = 0;
    if ((s = at_comm_exscan_u64(comm, all->n, &off, err)) ||
        (s = at_comm_allgatherv(comm, all->y, all->n * sizeof(int32_t), &gy, NULL, err)) ||
        (s = at_comm_allgatherv(comm, all->row, all->n * sizeof(int64_t), &grow, NULL, err)))
        goto done;
    Y = gy, ROW = grow;
    d->counts_before = at_calloc(d->k, sizeof(size_t), err);
    d->counts_after = at_calloc(d->k, sizeof(size_t), err);
    keep = at_malloc(N + 1, sizeof *keep, err);
    Yb = at_malloc(N + 1, sizeof *Yb, err);
    loc = at_malloc(N + 1, sizeof *loc, err);
    for (int q = 0; q < 3; q++) parts[q] = at_malloc(N + 1, sizeof(size_t), err);
    if (!d->counts_before || !d->counts_after || !keep || !Yb || !loc || !parts[0] || !parts[1] || !parts[2]) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    for (size_t i = 0; i < N; i++) d->counts_before[Y[i]]++;
    size_t m = 0, counts[3];
    if ((s = at_undersample_labels(Y, N, d->k, (at_undersample_strategy)c->undersample.strategy,
                                   (size_t)c->undersample.per_class, (uint64_t)c->run.seed, keep, &m, err)))
        goto done;
    for (size_t j = 0; j < m; j++) d->counts_after[Yb[j] = Y[keep[j]]]++;
    d->rows_after_undersampling = m;
    at_progress_log(p, "undersampling (%s): %zu rows",
                    c->undersample.strategy == AT_UNDERSAMPLE_NONE ? "none"
                    : c->undersample.strategy == AT_UNDERSAMPLE_MINORITY ? "to the minority class"
                                                                          : "per class",
                    m);
    if ((s = at_split_labels(Yb, m, d->k, c->split.train, c->split.validation, c->split.test, (uint64_t)c->run.seed,
                             parts, counts, err)))
        goto done;
    if (counts[0] < 2 || (counts[2] == 0 && !at_model_type_is_transform(c->model.type))) {
        s = at_fail(err, AT_ERR_DATA, "%s: too few rows to split (%zu train, %zu test)", c->data.path, counts[0],
                    counts[2]);
        goto done;
    }
    at_dataset **outs[3] = {&d->train, &d->valid, &d->test};
    for (int q = 0; q < 3 && !s; q++) {
        size_t nl = 0;
        for (size_t i = 0; i < counts[q]; i++) {
            size_t g = keep[parts[q][i]];
            if (g >= off && g < off + all->n) loc[nl++] = g - off;
        }
        if (q == 0) s = at_dataset_subset(all, loc, nl, outs[q], err);
        else s = gather_part(comm, all, loc, nl, outs[q], err);
    }
    if (s) goto done;
    d->train_global = counts[0];
    d->train_rows_global = at_malloc(counts[0] + 1, sizeof(int64_t), err);
    d->train_per_rank = at_calloc((size_t)P, sizeof(uint64_t), err);
    if (!d->train_rows_global || !d->train_per_rank) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    for (size_t i = 0; i < counts[0]; i++) {
        size_t g = keep[parts[0][i]];
        d->train_rows_global[i] = ROW[g];
        /* the rank holding global position g: the first whose end passes g */
    }
    {
        void *per = NULL;
        uint64_t mine = d->train->n;
        if ((s = at_comm_allgatherv(comm, &mine, sizeof mine, &per, NULL, err))) goto done;
        memcpy(d->train_per_rank, per, (size_t)P * sizeof(uint64_t));
        free(per);
    }
    at_progress_log(p, "split: %zu train (%zu on this rank), %zu validation, %zu test", counts[0], d->train->n,
                    counts[1], counts[2]);
    if (at_model_params_balanced(c->model.type, c->model.params)) {
        d->class_weight = at_calloc(d->k, sizeof(double), err);
        size_t *tc = at_calloc(d->k, sizeof *tc, err);
        if (!d->class_weight || !tc) s = AT_ERR_MEMORY;
        for (size_t i = 0; !s && i < counts[0]; i++) tc[Yb[parts[0][i]]]++;
        for (size_t j = 0; !s && j < d->k; j++)
            d->class_weight[j] = tc[j] ? (double)counts[0] / ((double)d->k * (double)tc[j]) : 0.0;
        free(tc);
        if (s) goto done;
    }
    /* The [pca] stage: its mean and cross-product sums summed across ranks (at_pca_fit_comm);
     * validation and test are whole on every rank already. */
    s = at_prepared_fit_stages(c, comm, p, d, err);
done:
    at_dataset_free(all);
    free(keep), free(Yb), free(loc), free(gy), free(grow);
    for (int q = 0; q < 3; q++) free(parts[q]);
    return at_comm_agree(comm, s, err);
}
