/* images.c - what is truly image-specific in a run and in `predict`: loading the image set
 * of [data] path at the size of the [net] section, the network built from [net], the image
 * parts of the common split, the sample and misclassified image grids, and `predict` on
 * image files. Everything else (balancing, split, fit, metrics.json, predictions.csv,
 * split.csv, plots, checkpoints and --resume) is the common run of run.c and step.c: an
 * image set is prepared as a one-column table of image indices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "astrotrain/atomic_file.h"
#include "astrotrain/cnn.h"
#include "astrotrain/images.h"
#include "astrotrain/pipeline.h"
#include "models/bundle_scaling.h"
#include "pipeline/image_fits.h"
#include "pipeline/plots.h"
#include "pipeline/predictions.h"
#include "pipeline/prepared.h"
#include "pipeline/step.h"

#define GRID_PER_CLASS 8
#define GRID_MISCLASSIFIED 64

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Class names of a loaded set: the loader's, Galaxy10's for 10 unnamed classes, or numbers. */
static at_status class_names_of(const at_images *im, char ***out, size_t *k, at_error *err) {
    *k = im->n_classes;
    if (!*k && im->y)
        for (size_t i = 0; i < im->n; i++)
            if (im->y[i] >= 0 && (size_t)im->y[i] + 1 > *k) *k = (size_t)im->y[i] + 1;
    char **names = at_calloc(*k ? *k : 1, sizeof *names, err);
    if (!names) return AT_ERR_MEMORY;
    for (size_t c = 0; c < *k; c++) {
        char buf[32];
        const char *nm = im->class_names && im->class_names[c] ? im->class_names[c]
                         : *k == 10 ? at_galaxy10_classes[c] : (snprintf(buf, sizeof buf, "%zu", c), buf);
        if (!(names[c] = at_strdup(nm, err))) {
            at_strs_free(names, c);
            return AT_ERR_MEMORY;
        }
    }
    *out = names;
    return AT_OK;
}

at_status at_prepare_images(const at_config *c, const at_progress *p, at_prepared *d, at_dataset **all,
                            at_error *err) {
    at_cnn_spec *spec = NULL;
    at_status s = at_cnn_spec_parse(c->net.rec, c->net.n, c->source, &spec, err);
    if (s) return s;
    const at_cnn_params *q = at_cnn_spec_params(spec);
    at_image_load_options lo;
    at_image_load_options_default(&lo);
    lo.width = c->data.width ? (size_t)c->data.width : q->width;
    lo.height = c->data.height ? (size_t)c->data.height : q->height;
    lo.crop = c->data.crop;
    lo.channels = q->channels;
    lo.cache = c->data.cache[0] ? c->data.cache : NULL;
    lo.scaling = c->data.scaling;
    size_t W = q->width;
    at_cnn_spec_free(spec);
    at_progress_log(p, "loading images from %s", c->data.path);
    s = is_dir(c->data.path) ? at_images_load_folder(c->data.path, &lo, &d->images, err)
                             : at_images_load_galaxy10(c->data.path, &lo, &d->images, err);
    if (s) return s;
    const at_images *im = d->images;
    size_t C = im->channels; /* FITS cutouts: their band count, whatever [net] channels says */
    if (!im->y) return at_fail(err, AT_ERR_DATA, "%s: the images have no labels", c->data.path);
    if ((s = class_names_of(im, &d->class_names, &d->k, err))) return s;
    d->rows_read = im->n;
    at_progress_log(p, "read %zu images of %zux%zux%zu, %zu classes", im->n, im->height, im->width, im->channels, d->k);
    if (d->k < 2) return at_fail(err, AT_ERR_DATA, "%s: %zu class(es); need at least 2", c->data.path, d->k);
    if (!(d->label = at_strdup("class", err))) return AT_ERR_MEMORY;
    /* the "features" of the model file: the pixels in HWC order */
    d->n_features = im->height * im->width * im->channels;
    if (!(d->features = at_calloc(d->n_features, sizeof(char *), err))) return AT_ERR_MEMORY;
    for (size_t i = 0; i < d->n_features; i++) {
        char nm[80];
        snprintf(nm, sizeof nm, "y%zu_x%zu_c%zu", i / (W * C), i / C % W, i % C);
        if (!(d->features[i] = at_strdup(nm, err))) return AT_ERR_MEMORY;
    }
    const char *fname[1] = {"image"};
    if ((s = at_dataset_new(im->n, 1, 1, fname, (const char *const *)d->class_names, d->k, all, err))) return s;
    for (size_t i = 0; i < im->n; i++) {
        (*all)->X[i] = (double)i;
        (*all)->y[i] = im->y[i];
        (*all)->row[i] = (int64_t)i;
        if (im->y[i] < 0 || (size_t)im->y[i] >= d->k)
            return at_fail(err, AT_ERR_DATA, "%s: image %zu has label %d, outside 0..%zu", c->data.path, i, im->y[i],
                           d->k - 1);
    }
    return AT_OK;
}

static at_status subset_of(const at_images *all, const at_dataset *part, at_images **out, at_error *err) {
    size_t *idx = at_malloc(part->n ? part->n : 1, sizeof *idx, err);
    if (!idx) return AT_ERR_MEMORY;
    for (size_t i = 0; i < part->n; i++) idx[i] = (size_t)part->X[i];
    at_status s = at_images_subset(all, idx, part->n, out, err);
    free(idx);
    return s;
}

at_status at_prepared_split_images(at_prepared *d, at_error *err) {
    at_status s;
    if ((s = subset_of(d->images, d->train, &d->images_train, err)) ||
        (s = subset_of(d->images, d->valid, &d->images_valid, err)) ||
        (s = subset_of(d->images, d->test, &d->images_test, err)))
        return s;
    return AT_OK;
}

at_status at_build_net(const at_config *c, const at_prepared *d, at_model **out, at_error *err) {
    *out = NULL;
    at_cnn_spec *spec = NULL;
    at_cnn *net = NULL;
    at_net_record *rec = NULL;
    size_t nrec = 0;
    at_status s = d->images ? at_net_records_with_channels(c, d->images->channels, &rec, &nrec, err) : AT_OK;
    if (!s) s = rec ? at_cnn_spec_parse(rec, nrec, c->source, &spec, err)
                    : at_cnn_spec_parse(c->net.rec, c->net.n, c->source, &spec, err);
    free(rec);
    if (!s) s = at_cnn_new(spec, d->k, (uint64_t)c->run.seed, &net, err);
    at_cnn_spec_free(spec);
    if (!s) s = at_cnn_model_wrap(net, out, err); /* owns net, also on failure */
    return s;
}

void at_image_grids(const char *plots, const at_images *all, const at_images *test, const int64_t *rows,
                    const double *P_test, const char *const *class_names, size_t k, char *warning,
                    size_t warning_cap) {
    at_error e = {0};
    char path[AT_PATH_MAX + 400];
    size_t *idx = malloc((k * GRID_PER_CLASS + GRID_MISCLASSIFIED) * sizeof *idx);
    if (!idx) return;
    size_t m = 0;
    at_afile *cap;
    snprintf(path, sizeof path, "%s/samples.txt", plots);
    if ((cap = at_afile_open(path, &e))) {
        FILE *f = at_afile_stream(cap);
        fprintf(f, "# samples.png: up to %d images per class, one class per row of tiles (image index)\n",
                GRID_PER_CLASS);
        for (size_t cl = 0; cl < k; cl++) {
            fprintf(f, "%s:", class_names[cl]);
            size_t got = 0;
            for (size_t i = 0; i < all->n && got < GRID_PER_CLASS; i++)
                if ((size_t)all->y[i] == cl) idx[m++] = i, got++, fprintf(f, " %zu", i);
            fputc('\n', f);
        }
        at_afile_commit(cap, &e);
    }
    snprintf(path, sizeof path, "%s/samples.png", plots);
    if (m && at_png_grid(path, all, idx, m, GRID_PER_CLASS, 2, &e) && !warning[0])
        snprintf(warning, warning_cap, "samples.png: %.200s", e.msg);
    m = 0;
    snprintf(path, sizeof path, "%s/misclassified.txt", plots);
    if ((cap = at_afile_open(path, &e))) {
        FILE *f = at_afile_stream(cap);
        fprintf(f, "tile,row,true,predicted,p_predicted\n");
        for (size_t i = 0; i < test->n && m < GRID_MISCLASSIFIED; i++) {
            size_t pr = at_argmax(P_test + i * k, k);
            if ((int32_t)pr == test->y[i]) continue;
            fprintf(f, "%zu,%lld,%s,%s,%.4f\n", m, (long long)rows[i], class_names[test->y[i]], class_names[pr],
                    P_test[i * k + pr]);
            idx[m++] = i;
        }
        at_afile_commit(cap, &e);
    }
    snprintf(path, sizeof path, "%s/misclassified.png", plots);
    if (m && at_png_grid(path, test, idx, m, 8, 2, &e) && !warning[0])
        snprintf(warning, warning_cap, "misclassified.png: %.200s", e.msg);
    free(idx);
}

/* ---- predict on images ------------------------------------------------------------------- */

at_status at_predict_images(const at_bundle *b, const char *const *inputs, size_t n_inputs, const char *output,
                            const at_predict_options *opt, const at_progress *prog, at_predict_report *rep,
                            at_error *err) {
    memset(rep, 0, sizeof *rep);
    const at_cnn *net = at_cnn_model_net(b->model);
    if (!at_model_has(b->model, AT_CAP_IMAGES) || !net)
        return at_fail(err, AT_ERR_MODEL, "a %s model does not classify images", b->model->ops->type);
    if (!n_inputs) return at_fail(err, AT_ERR_USAGE, "predict: no input images");
    const at_cnn_params *q = at_cnn_params_of(net);
    size_t k = b->k;
    at_images *im = NULL;
    at_status s;
    at_image_load_options lo;
    at_image_load_options_default(&lo);
    lo.width = q->width, lo.height = q->height, lo.channels = q->channels;
    lo.fixed_bands = 1; /* FITS cutouts: exactly the model's input channels */
    if ((s = at_bundle_image_scaling(b, &lo.scaling, err))) return s;
    int folder = n_inputs == 1 && is_dir(inputs[0]);
    int h5 = 0;
    if (n_inputs == 1 && !folder) {
        FILE *f = fopen(inputs[0], "rb");
        unsigned char sig[8] = {0};
        if (f) {
            h5 = fread(sig, 1, 8, f) == 8 && memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
            fclose(f);
        }
    }
    at_progress_log(prog, "loading %s%s", inputs[0], n_inputs > 1 ? " ..." : "");
    if (folder) s = at_images_load_folder(inputs[0], &lo, &im, err);
    else if (h5) s = at_images_load_galaxy10(inputs[0], &lo, &im, err);
    else s = at_images_load_files(inputs, n_inputs, &lo, &im, err);
    if (s) return s;
    /* labels: folder names must be the model's classes; Galaxy10 labels are indices */
    int32_t *y = NULL;
    if (im->y) {
        y = at_malloc(im->n ? im->n : 1, sizeof *y, err);
        if (!y) {
            at_images_free(im);
            return AT_ERR_MEMORY;
        }
        for (size_t i = 0; i < im->n && !s; i++) {
            int32_t v = im->y[i];
            if (im->class_names && v >= 0 && (size_t)v < im->n_classes) {
                const char *nm = im->class_names[v];
                v = -1;
                for (size_t c = 0; c < k; c++)
                    if (strcmp(b->class_names[c], nm) == 0) v = (int32_t)c;
                if (v < 0)
                    s = at_fail(err, AT_ERR_DATA, "%s: class folder '%s' is not a class of the model", inputs[0], nm);
            } else if (v < 0 || (size_t)v >= k) {
                s = at_fail(err, AT_ERR_DATA, "%s: image %zu has label %d, outside the model's 0..%zu", inputs[0], i,
                            v, k - 1);
            }
            y[i] = v;
        }
    }
    double *P = s ? NULL : at_malloc((im->n ? im->n : 1) * k, sizeof *P, err);
    at_dataset *ds = NULL;
    const char *fname[1] = {"image"};
    if (!s && !P) s = AT_ERR_MEMORY;
    if (!s) s = at_bundle_predict_images(b, im, P, opt->threads, err);
    if (!s) s = at_dataset_new(im->n, 1, y != NULL, fname, (const char *const *)b->class_names, k, &ds, err);
    if (!s) {
        for (size_t i = 0; i < im->n; i++) {
            ds->row[i] = (int64_t)i;
            if (y) ds->y[i] = y[i];
            if (y && (int32_t)at_argmax(P + i * k, k) == y[i]) rep->correct++;
        }
        rep->rows_read = rep->rows_written = im->n;
        rep->has_label = y != NULL;
        s = at_write_predictions_file(output, ds, P, (const char *const *)b->class_names, k, y != NULL, err);
    }
    at_dataset_free(ds);
    free(P), free(y);
    at_images_free(im);
    return s;
}
