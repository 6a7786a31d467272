/* prepare.c - the data half of an experiment: load, clean, undersample, split, scale
 * and (optionally) project with PCA, once, for every step that shares the same data. An
 * image set (images.c) takes the same balancing, split and class weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/comm.h"
#include "astrotrain/csv.h"
#include "astrotrain/params.h"
#include "pipeline/memory.h"
#include "pipeline/prepared.h"

void at_prepared_free(at_prepared *d) {
    if (!d) return;
    at_dataset_free(d->train);
    at_dataset_free(d->valid);
    at_dataset_free(d->test);
    at_scaler_free(d->scaler);
    at_pca_free(d->pca);
    if (d->features) at_strs_free(d->features, d->n_features);
    if (d->class_names) at_strs_free(d->class_names, d->k);
    free(d->label);
    free(d->class_weight);
    at_images_free(d->images);
    at_images_free(d->images_train);
    at_images_free(d->images_valid);
    at_images_free(d->images_test);
    free(d->train_rows_global);
    free(d->train_per_rank);
    free(d->counts_before);
    free(d->counts_after);
    at_reference_free(d->reference);
    free(d);
}

/* Replaces a part's features by their PCA projection, renaming them PC1..PCk (prepared.h:
 * prepare_dist.c's [pca] stage uses it too). */
at_status at_prepared_project(const at_pca *pca, at_dataset **part, at_error *err) {
    at_dataset *src = *part, *dst = NULL;
    char **names = at_calloc(pca->k, sizeof *names, err);
    if (!names) return AT_ERR_MEMORY;
    at_status s = AT_OK;
    for (size_t c = 0; c < pca->k && !s; c++) {
        char buf[32];
        snprintf(buf, sizeof buf, "PC%zu", c + 1);
        if (!(names[c] = at_strdup(buf, err))) s = AT_ERR_MEMORY;
    }
    if (!s) s = at_dataset_new(src->n, pca->k, src->y != NULL, (const char *const *)names,
                               (const char *const *)src->class_names, src->n_classes, &dst, err);
    if (!s) s = at_pca_transform(pca, src->X, src->n, dst->X, err);
    if (!s) {
        memcpy(dst->row, src->row, src->n * sizeof *dst->row);
        if (src->y) memcpy(dst->y, src->y, src->n * sizeof *dst->y);
        at_dataset_free(src);
        *part = dst;
        dst = NULL;
    }
    at_dataset_free(dst);
    at_strs_free(names, pca->k);
    return s;
}

static at_status copy_part(const at_dataset *src, at_dataset **out, at_error *err) {
    size_t *idx = at_malloc(src->n + 1, sizeof *idx, err);
    if (!idx) return AT_ERR_MEMORY;
    for (size_t i = 0; i < src->n; i++) idx[i] = i;
    at_status s = at_dataset_subset(src, idx, src->n, out, err);
    free(idx);
    return s;
}

static char **copy_names(char *const *names, size_t n, at_error *err) {
    char **out = at_calloc(n ? n : 1, sizeof *out, err);
    for (size_t i = 0; out && i < n; i++)
        if (!(out[i] = at_strdup(names[i], err))) {
            at_strs_free(out, i);
            return NULL;
        }
    return out;
}

at_status at_prepared_with_pca(const at_prepared *base, int64_t components, int whiten, const at_progress *p,
                               at_prepared **out, at_error *err) {
    *out = NULL;
    if (base->pca) return at_fail(err, AT_ERR_CONFIG, "the shared data already have a PCA stage");
    at_prepared *d = at_calloc(1, sizeof *d, err);
    if (!d) return AT_ERR_MEMORY;
    at_status s = AT_OK;
    d->n_features = base->n_features;
    d->k = base->k;
    d->rows_read = base->rows_read;
    d->rows_dropped = base->rows_dropped;
    d->rows_missing = base->rows_missing;
    d->rows_unphysical = base->rows_unphysical;
    d->rows_after_undersampling = base->rows_after_undersampling;
    if (!(d->label = at_strdup(base->label, err)) ||
        !(d->features = copy_names(base->features, base->n_features, err)) ||
        !(d->class_names = copy_names(base->class_names, base->k, err)) ||
        !(d->counts_before = at_malloc(base->k, sizeof(size_t), err)) ||
        !(d->counts_after = at_malloc(base->k, sizeof(size_t), err)))
        s = AT_ERR_MEMORY;
    if (!d->features) d->n_features = 0;
    if (!d->class_names) d->k = 0;
    if (!s) {
        memcpy(d->counts_before, base->counts_before, base->k * sizeof(size_t));
        memcpy(d->counts_after, base->counts_after, base->k * sizeof(size_t));
    }
    if (!s && base->scaler)
        s = at_scaler_new(base->scaler->kind, base->scaler->d, base->scaler->shift, base->scaler->scale, &d->scaler, err);
    if (!s && base->reference) s = at_reference_copy(base->reference, &d->reference, err);
    if (!s) s = copy_part(base->train, &d->train, err);
    if (!s) s = copy_part(base->valid, &d->valid, err);
    if (!s) s = copy_part(base->test, &d->test, err);
    if (!s) {
        at_pca_params pp;
        at_pca_params_default(&pp);
        pp.n_components = components;
        pp.whiten = whiten;
        s = at_pca_fit(&pp, d->train, &d->pca, err);
    }
    if (!s && !(s = at_prepared_project(d->pca, &d->train, err)) && !(s = at_prepared_project(d->pca, &d->valid, err)))
        s = at_prepared_project(d->pca, &d->test, err);
    if (s) {
        at_prepared_free(d);
        return s;
    }
    at_progress_log(p, "PCA stage: %zu features -> %zu components", d->n_features, d->pca->k);
    *out = d;
    return AT_OK;
}

/* A table of c->data: loaded within the memory limit, cleaned; class names and label into d. */
static at_status load_table(const at_config *c, const at_progress *p, at_prepared *d, at_dataset **out,
                            at_error *err) {
    at_dataset *all = NULL;
    at_status s = at_split_list(c->data.features, &d->features, &d->n_features, err);
    if (s) return s;
    at_load_options lo;
    at_load_options_default(&lo);
    lo.features = (const char *const *)d->features;
    lo.n_features = d->n_features;
    lo.label = c->data.label;
    lo.missing = (at_missing_policy)c->data.missing;
    lo.csv.allow_comments = c->data.comments;
    lo.csv.delimiter = c->data.delimiter[0];
    lo.hdu = c->data.hdu[0] ? c->data.hdu : NULL;
    at_load_report rep = {0};
    /* Refuse early what cannot fit: from the file's size before reading, by bounding the
     * table while reading, and from the real sizes and the model's estimate after. */
    at_memory_plan mem;
    at_memory_limit(c, &mem);
    if ((s = at_memory_check_input(&mem, c->data.path, d->n_features, err))) return s;
    lo.max_table_bytes = mem.table_bytes;
    at_progress_log(p, "loading %s", c->data.path);
    if ((s = at_dataset_load_csv(c->data.path, &lo, &all, &rep, err))) {
        if (s == AT_ERR_MEMORY && mem.table_bytes) s = at_memory_refuse_load(&mem, c->data.path, err);
        return s;
    }
    *out = all;
    if ((s = at_memory_check_fit(&mem, &c->model, all->n, (size_t)((double)all->n * c->split.train) + 1, all->d,
                                 all->n_classes, at_config_threads(c), err)))
        return s;
    d->rows_read = rep.rows_read;
    if ((s = at_clean_rows(all, c->clean.use_sentinel, c->clean.sentinel, c->data.missing == AT_MISSING_KEEP,
                           &d->rows_unphysical, err)))
        return s;
    d->rows_missing = rep.rows_missing;
    d->rows_dropped = rep.rows_missing + d->rows_unphysical;
    at_progress_log(p, "read %zu rows; dropped %zu (%zu with missing values, %zu unphysical)", rep.rows_read,
                    d->rows_dropped, rep.rows_missing, d->rows_unphysical);
    if (all->n_classes < 2)
        return at_fail(err, AT_ERR_DATA, "%s: column '%s' has %zu class(es) after cleaning; need at least 2",
                       c->data.path, c->data.label, all->n_classes);
    d->k = all->n_classes;
    if (!(d->label = at_strdup(c->data.label, err))) return AT_ERR_MEMORY;
    if (!(d->class_names = copy_names(all->class_names, d->k, err))) {
        d->k = 0;
        return AT_ERR_MEMORY;
    }
    return AT_OK;
}

/* Weights n_train / (k * count) per class of the training part ([model] class_weight =
 * balanced); a class absent from it weighs 0. */
static at_status balanced_weights(at_prepared *d, at_error *err) {
    size_t *cnt = at_calloc(d->k, sizeof *cnt, err);
    d->class_weight = at_malloc(d->k, sizeof(double), err);
    if (!cnt || !d->class_weight) {
        free(cnt);
        return AT_ERR_MEMORY;
    }
    at_dataset_class_counts(d->train, cnt);
    for (size_t j = 0; j < d->k; j++)
        d->class_weight[j] = cnt[j] ? (double)d->train->n / ((double)d->k * (double)cnt[j]) : 0.0;
    free(cnt);
    return AT_OK;
}

/* The scaler and the [pca] stage fitted on the training part (exact sums, summed across the
 * ranks of comm: the same scaler and, within rounding, the same components on any number of
 * ranks) and applied to the three parts. */
at_status at_prepared_fit_stages(const at_config *c, struct at_comm *comm, const at_progress *p, at_prepared *d,
                                 at_error *err) {
    at_status s;
    if (c->normalise.method != AT_SCALER_NONE) {
        if ((s = at_scaler_fit_global((at_scaler_kind)c->normalise.method, d->train, comm, &d->scaler, err)))
            return s;
        at_scaler_apply(d->scaler, d->train->X, d->train->n);
        at_scaler_apply(d->scaler, d->valid->X, d->valid->n);
        at_scaler_apply(d->scaler, d->test->X, d->test->n);
    }
    if (c->pca_stage.components > 0) {
        at_pca_params pp;
        at_pca_params_default(&pp);
        pp.n_components = c->pca_stage.components;
        pp.whiten = c->pca_stage.whiten;
        if ((s = at_pca_fit_comm(&pp, d->train, comm, &d->pca, err))) return s;
        if ((s = at_prepared_project(d->pca, &d->train, err)) || (s = at_prepared_project(d->pca, &d->valid, err)) ||
            (s = at_prepared_project(d->pca, &d->test, err)))
            return s;
        int P = at_comm_size(comm);
        if (P > 1)
            at_progress_log(p, "PCA stage: %zu features -> %zu components (sums across %d ranks)", d->n_features,
                            d->pca->k, P);
        else
            at_progress_log(p, "PCA stage: %zu features -> %zu components", d->n_features, d->pca->k);
    }
    return AT_OK;
}

at_status at_prepare_data(const at_config *c, const at_progress *p, at_prepared **out, at_error *err) {
    *out = NULL;
    at_prepared *d = at_calloc(1, sizeof *d, err);
    if (!d) return AT_ERR_MEMORY;
    at_dataset *all = NULL, *balanced = NULL;
    int images = at_model_type_has(c->model.type, AT_CAP_IMAGES);
    at_status s = images ? at_prepare_images(c, p, d, &all, err) : load_table(c, p, d, &all, err);
    if (s) goto done;
    d->counts_before = at_calloc(d->k, sizeof(size_t), err);
    d->counts_after = at_calloc(d->k, sizeof(size_t), err);
    if (!d->counts_before || !d->counts_after) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    at_dataset_class_counts(all, d->counts_before);
    if ((s = at_undersample(all, (at_undersample_strategy)c->undersample.strategy, (size_t)c->undersample.per_class,
                            (uint64_t)c->run.seed, &balanced, err)))
        goto done;
    at_dataset_free(all);
    all = NULL;
    at_dataset_class_counts(balanced, d->counts_after);
    d->rows_after_undersampling = balanced->n;
    at_progress_log(p, "undersampling (%s): %zu %s",
                    c->undersample.strategy == AT_UNDERSAMPLE_NONE ? "none"
                    : c->undersample.strategy == AT_UNDERSAMPLE_MINORITY ? "to the minority class"
                                                                          : "per class",
                    balanced->n, images ? "images" : "rows");
    if ((s = at_split_stratified(balanced, c->split.train, c->split.validation, c->split.test,
                                 (uint64_t)c->run.seed, &d->train, &d->valid, &d->test, err)))
        goto done;
    if (images ? !d->train->n || !d->test->n
               : d->train->n < 2 || (d->test->n == 0 && !at_model_type_is_transform(c->model.type))) {
        s = at_fail(err, AT_ERR_DATA, "%s: too few %s to split (%zu train, %zu test)", c->data.path,
                    images ? "images" : "rows", d->train->n, d->test->n);
        goto done;
    }
    at_progress_log(p, "split: %zu train, %zu validation, %zu test", d->train->n, d->valid->n, d->test->n);
    if (at_model_params_balanced(c->model.type, c->model.params) && (s = balanced_weights(d, err))) goto done;
    if (images) {
        s = at_prepared_split_images(d, err);
        goto done;
    }
    /* monitor: summarise the raw training values before they are scaled. */
    if ((s = at_reference_build(d->train, (uint64_t)c->run.seed, &d->reference, err))) goto done;
    s = at_prepared_fit_stages(c, NULL, p, d, err);
done:
    at_dataset_free(all);
    at_dataset_free(balanced);
    if (s) {
        at_prepared_free(d);
        return s;
    }
    *out = d;
    return AT_OK;
}

at_status at_prepare_data_comm(const at_config *c, at_comm *comm, const at_progress *p, at_prepared **out,
                               at_error *err) {
    if (at_comm_size(comm) <= 1) return at_prepare_data(c, p, out, err);
    *out = NULL;
    at_status s = AT_OK;
    if (at_model_type_has(c->model.type, AT_CAP_IMAGES))
        s = at_fail(err, AT_ERR_CONFIG, "[model] type %s: image sets do not train across MPI ranks yet", c->model.type);
    at_prepared *d = s ? NULL : at_calloc(1, sizeof *d, err);
    if (!s && !d) s = AT_ERR_MEMORY;
    if ((s = at_comm_agree(comm, s, err))) {
        at_prepared_free(d);
        return s;
    }
    d->comm = comm;
    if ((s = at_prepare_table_dist(c, comm, p, d, err))) {
        at_prepared_free(d);
        return s;
    }
    *out = d;
    return AT_OK;
}
