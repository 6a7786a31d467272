/* galaxy10.c - Galaxy10-layout HDF5 files: reading them in chunks (with crop, area-average
 * resize and a cache of the resized set) and writing them (the cache and the synthetic
 * generator use the same writer, so a cache is itself a Galaxy10-layout file).
 *
 * Layout (as published for Galaxy10 DECaLS): `images` (N,H,W,3) integer (uint8), `ans` (N)
 * integer labels 0-9, optional `ra`, `dec`, `redshift`, `pxscale` (N) numbers. The real file
 * is 2.5 GB, so images are read 64 at a time through hyperslabs and resized at once; the
 * whole file is never in memory, let alone as float.
 *
 * The cache records what it was made from (source real path, size and mtime in ns) and how
 * (width, height, crop, channels, max_images) as root attributes; a load with the same
 * source and settings reads it instead of the source, anything else rebuilds it. */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/h5check.h"
#include "data/images_internal.h"

#define CHUNK_IMAGES 64
#define CACHE_VERSION 1
#define MAX_IMAGES ((hsize_t)1 << 31)

static const char *const extra_names[4] = {"ra", "dec", "redshift", "pxscale"};

static const char missing_help[] =
    "Galaxy10 DECaLS (Galaxy10_DECals.h5, 2.5 GB) can be downloaded from "
    "https://astronn.readthedocs.io/en/latest/galaxy10.html; or run on synthetic data made with "
    "`astrotrain synth galaxy10 --out data/galaxy10_synth.h5 --n 2000 --size 64`";

static hid_t new_fapl(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* HDF5 prints its error stack by default */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(fapl, 0, 1); /* we never modify in place; flock fails on some cluster file systems */
#endif
    return fapl;
}

static hid_t open_ro(const char *path) {
    hid_t fapl = new_fapl();
    if (fapl < 0) return -1;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    return f;
}

/* ---- reading ------------------------------------------------------------------------------ */

/* Opens a rank-1 dataset of n numbers (integer or float class). */
static at_status open_column(hid_t file, const char *path, const char *name, hsize_t n, int integer_only,
                             hid_t *out, at_error *err) {
    *out = -1;
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) return at_fail(err, AT_ERR_DATA, "%s: cannot open dataset '%s'", path, name);
    if (!at_h5_chunks_plausible(d)) {
        H5Dclose(d);
        return at_fail(err, AT_ERR_DATA, "%s: dataset '%s' declares implausible chunks (corrupt file?)", path, name);
    }
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    int rank = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    hsize_t dims[1] = {0};
    if (rank == 1) H5Sget_simple_extent_dims(s, dims, NULL);
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    at_status st = AT_OK;
    if (!(cls == H5T_INTEGER || (!integer_only && cls == H5T_FLOAT)))
        st = at_fail(err, AT_ERR_DATA, "%s: dataset '%s' must hold %s", path, name,
                     integer_only ? "integers" : "numbers");
    else if (rank != 1)
        st = at_fail(err, AT_ERR_DATA, "%s: dataset '%s' has rank %d, expected 1 (N)", path, name, rank);
    else if (dims[0] != n)
        st = at_fail(err, AT_ERR_DATA, "%s: dataset '%s' has %llu entries but 'images' has %llu", path, name,
                     (unsigned long long)dims[0], (unsigned long long)n);
    if (st) {
        H5Dclose(d);
        return st;
    }
    *out = d;
    return AT_OK;
}

/* The first n entries of a column. */
static at_status read_column(hid_t d, hid_t memtype, size_t n, void *buf, const char *path, const char *name,
                             at_error *err) {
    if (n == 0) return AT_OK;
    hid_t fs = H5Dget_space(d);
    hsize_t start[1] = {0}, count[1] = {n};
    hid_t ms = H5Screate_simple(1, count, NULL);
    herr_t r = -1;
    if (fs >= 0 && ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0)
        r = H5Dread(d, memtype, ms, fs, H5P_DEFAULT, buf);
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    if (r < 0) return at_fail(err, AT_ERR_DATA, "%s: cannot read dataset '%s' (file truncated or corrupt?)", path, name);
    return AT_OK;
}

/* Reads a Galaxy10-layout file whose images have src_c channels (3 for Galaxy10 itself, the
 * cached channel count for a cache) into a new set resized by opt. */
static at_status read_g10(const char *path, size_t src_c, const at_image_load_options *opt, at_images **out,
                          at_error *err) {
    *out = NULL;
    hid_t file = open_ro(path);
    if (file < 0)
        return at_fail(err, AT_ERR_DATA, "%s: not a readable HDF5 file (truncated, corrupt or another format)", path);
    at_status st = AT_OK;
    hid_t dimg = -1, dans = -1, dex[4] = {-1, -1, -1, -1}, fs = -1, ms = -1, dapl = -1;
    at_images *im = NULL;
    at_resampler *rs = NULL;
    uint8_t *buf = NULL;
    int64_t *lab = NULL;

    if (H5Lexists(file, "images", H5P_DEFAULT) <= 0) {
        st = at_fail(err, AT_ERR_DATA,
                     "%s: no dataset 'images' (expected the Galaxy10 layout: images (N,H,W,3) uint8, ans (N) labels 0-9)",
                     path);
        goto done;
    }
    /* A bigger chunk cache than HDF5's 1 MiB default: a compressed chunk holding several
     * images is then decompressed once, not once per hyperslab. */
    dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dapl >= 0) H5Pset_chunk_cache(dapl, 521, (size_t)64 << 20, 1.0);
    dimg = H5Dopen2(file, "images", dapl >= 0 ? dapl : H5P_DEFAULT);
    if (dimg < 0) {
        st = at_fail(err, AT_ERR_DATA, "%s: cannot open dataset 'images'", path);
        goto done;
    }
    if (!at_h5_chunks_plausible(dimg)) {
        st = at_fail(err, AT_ERR_DATA, "%s: dataset 'images' declares implausible chunks (corrupt file?)", path);
        goto done;
    }
    hid_t t = H5Dget_type(dimg);
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    if (t >= 0) H5Tclose(t);
    fs = H5Dget_space(dimg);
    int rank = fs >= 0 ? H5Sget_simple_extent_ndims(fs) : -1;
    hsize_t dims[4] = {0, 0, 0, 0};
    if (rank == 4) H5Sget_simple_extent_dims(fs, dims, NULL);
    if (cls != H5T_INTEGER) {
        st = at_fail(err, AT_ERR_DATA, "%s: dataset 'images' must hold integers (uint8 pixels)", path);
        goto done;
    }
    if (rank != 4 || dims[3] != src_c) {
        char shape[96] = "";
        if (rank == 4)
            snprintf(shape, sizeof shape, " (%llu,%llu,%llu,%llu)", (unsigned long long)dims[0],
                     (unsigned long long)dims[1], (unsigned long long)dims[2], (unsigned long long)dims[3]);
        st = at_fail(err, AT_ERR_DATA, "%s: dataset 'images' has rank %d%s, expected (N,H,W,%zu)", path, rank, shape,
                     src_c);
        goto done;
    }
    if (dims[1] == 0 || dims[2] == 0 || dims[1] > AT_IMG_MAX_SIDE || dims[2] > AT_IMG_MAX_SIDE) {
        st = at_fail(err, AT_ERR_DATA, "%s: dataset 'images' has images of %llux%llu pixels (1 to %u per side accepted)",
                     path, (unsigned long long)dims[2], (unsigned long long)dims[1], AT_IMG_MAX_SIDE);
        goto done;
    }
    if (dims[0] == 0 || dims[0] > MAX_IMAGES) {
        st = at_fail(err, AT_ERR_DATA, "%s: dataset 'images' has %llu images", path, (unsigned long long)dims[0]);
        goto done;
    }
    hsize_t N = dims[0];
    size_t H = (size_t)dims[1], W = (size_t)dims[2];
    if (H5Lexists(file, "ans", H5P_DEFAULT) <= 0) {
        st = at_fail(err, AT_ERR_DATA, "%s: no dataset 'ans' (the labels 0-9)", path);
        goto done;
    }
    if ((st = open_column(file, path, "ans", N, 1, &dans, err))) goto done;
    for (int k = 0; k < 4; k++)
        if (H5Lexists(file, extra_names[k], H5P_DEFAULT) > 0 &&
            (st = open_column(file, path, extra_names[k], N, 0, &dex[k], err)))
            goto done;

    size_t n = (size_t)N;
    if (opt->max_images && n > opt->max_images) n = opt->max_images;
    if ((st = at_resampler_new(H, W, src_c, opt->crop, opt->height, opt->width, opt->channels, &rs, err))) goto done;
    size_t dh, dw;
    at_resampler_size(rs, &dh, &dw);
    if ((st = at_images_new(n, dh, dw, opt->channels, 1, &im, err))) goto done;

    /* Labels first: a bad label fails before the long read. */
    if (!(lab = at_malloc(n, sizeof *lab, err))) {
        st = AT_ERR_MEMORY;
        goto done;
    }
    if ((st = read_column(dans, H5T_NATIVE_INT64, n, lab, path, "ans", err))) goto done;
    for (size_t i = 0; i < n; i++) {
        if (lab[i] < 0 || lab[i] > 9) {
            st = at_fail(err, AT_ERR_DATA, "%s: dataset 'ans' entry %zu is %lld, expected a label 0-9", path, i,
                         (long long)lab[i]);
            goto done;
        }
        im->y[i] = (int32_t)lab[i];
    }
    double **cols[4] = {&im->ra, &im->dec, &im->redshift, &im->pxscale};
    for (int k = 0; k < 4; k++) {
        if (dex[k] < 0) continue;
        if (!(*cols[k] = at_malloc(n, sizeof(double), err))) {
            st = AT_ERR_MEMORY;
            goto done;
        }
        if ((st = read_column(dex[k], H5T_NATIVE_DOUBLE, n, *cols[k], path, extra_names[k], err))) goto done;
    }

    /* Images, CHUNK_IMAGES at a time. */
    size_t per_src = H * W * src_c, per_dst = dh * dw * opt->channels;
    size_t chunk = n < CHUNK_IMAGES ? n : CHUNK_IMAGES;
    if (!(buf = at_malloc(chunk, per_src, err))) {
        st = AT_ERR_MEMORY;
        goto done;
    }
    hsize_t mdims[4] = {chunk, H, W, src_c};
    ms = H5Screate_simple(4, mdims, NULL);
    for (size_t i0 = 0; i0 < n; i0 += chunk) {
        size_t m = n - i0 < chunk ? n - i0 : chunk;
        hsize_t start[4] = {i0, 0, 0, 0}, count[4] = {m, H, W, src_c}, mstart[4] = {0, 0, 0, 0};
        if (ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Sselect_hyperslab(ms, H5S_SELECT_SET, mstart, NULL, count, NULL) < 0 ||
            H5Dread(dimg, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, buf) < 0) {
            st = at_fail(err, AT_ERR_DATA, "%s: cannot read images %zu-%zu of dataset 'images' (file truncated or corrupt?)",
                         path, i0, i0 + m - 1);
            goto done;
        }
        for (size_t j = 0; j < m; j++) at_resampler_run(rs, buf + j * per_src, im->pixels + (i0 + j) * per_dst);
    }
    im->n_classes = 10;
    if (!(im->class_names = at_calloc(10, sizeof *im->class_names, err))) {
        st = AT_ERR_MEMORY;
        goto done;
    }
    for (int k = 0; k < 10; k++)
        if (!(im->class_names[k] = at_strdup(at_galaxy10_classes[k], err))) {
            st = AT_ERR_MEMORY;
            goto done;
        }
done:
    for (int k = 0; k < 4; k++)
        if (dex[k] >= 0) H5Dclose(dex[k]);
    if (dans >= 0) H5Dclose(dans);
    if (dimg >= 0) H5Dclose(dimg);
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    if (dapl >= 0) H5Pclose(dapl);
    H5Fclose(file);
    at_resampler_free(rs);
    free(buf);
    free(lab);
    if (st) {
        at_images_free(im);
        return st;
    }
    *out = im;
    return AT_OK;
}

/* ---- the cache ---------------------------------------------------------------------------- */

typedef struct provenance {
    char source[PATH_MAX];
    int64_t size, mtime_ns;
} provenance;

static void provenance_of(const char *path, const struct stat *sb, provenance *p) {
    if (!realpath(path, p->source)) snprintf(p->source, sizeof p->source, "%s", path);
    p->size = (int64_t)sb->st_size;
    p->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

static int attr_i64(hid_t f, const char *name, int64_t *v) {
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) return 0;
    int ok = H5Aread(a, H5T_NATIVE_INT64, v) >= 0;
    H5Aclose(a);
    return ok;
}

static int attr_f64(hid_t f, const char *name, double *v) {
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) return 0;
    int ok = H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0;
    H5Aclose(a);
    return ok;
}

static int attr_str_equals(hid_t f, const char *name, const char *want) {
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) return 0;
    int ok = 0;
    hid_t t = H5Aget_type(a);
    if (t >= 0 && H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t)) {
        size_t sz = H5Tget_size(t);
        if (sz == strlen(want) + 1) {
            char *buf = malloc(sz);
            hid_t mt = H5Tcopy(H5T_C_S1);
            if (buf && mt >= 0 && H5Tset_size(mt, sz) >= 0 && H5Aread(a, mt, buf) >= 0)
                ok = memcmp(buf, want, sz) == 0;
            if (mt >= 0) H5Tclose(mt);
            free(buf);
        }
    }
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return ok;
}

/* 1 when the cache at path was made from p with these options. Any doubt is a miss. */
static int cache_matches(const char *path, const provenance *p, const at_image_load_options *opt) {
    hid_t f = open_ro(path);
    if (f < 0) return 0;
    int64_t version = 0, size = -1, mtime = -1, w = -1, h = -1, c = -1, maxn = -1;
    double crop = -1;
    int ok = attr_i64(f, "astrotrain_cache_version", &version) && version == CACHE_VERSION &&
             attr_str_equals(f, "source", p->source) && attr_i64(f, "source_size", &size) && size == p->size &&
             attr_i64(f, "source_mtime_ns", &mtime) && mtime == p->mtime_ns && attr_i64(f, "width", &w) &&
             w == (int64_t)opt->width && attr_i64(f, "height", &h) && h == (int64_t)opt->height &&
             attr_i64(f, "channels", &c) && c == (int64_t)opt->channels && attr_f64(f, "crop", &crop) &&
             crop == opt->crop && attr_i64(f, "max_images", &maxn) && maxn == (int64_t)opt->max_images;
    H5Fclose(f);
    return ok;
}

static at_status write_cache(const char *path, const provenance *p, const at_image_load_options *opt,
                             const at_images *im, at_error *err) {
    at_g10_writer *g;
    at_status st = at_g10_writer_open(path, im->n, im->height, im->width, im->channels, im->ra || im->dec ||
                                      im->redshift || im->pxscale, &g, err);
    if (st) return st;
    if ((st = at_g10_writer_put(g, 0, im->n, im->pixels, im->y, im->ra, im->dec, im->redshift, im->pxscale, err)) ||
        (st = at_g10_writer_attr_i64(g, "astrotrain_cache_version", CACHE_VERSION, err)) ||
        (st = at_g10_writer_attr_str(g, "source", p->source, err)) ||
        (st = at_g10_writer_attr_i64(g, "source_size", p->size, err)) ||
        (st = at_g10_writer_attr_i64(g, "source_mtime_ns", p->mtime_ns, err)) ||
        (st = at_g10_writer_attr_i64(g, "width", (int64_t)opt->width, err)) ||
        (st = at_g10_writer_attr_i64(g, "height", (int64_t)opt->height, err)) ||
        (st = at_g10_writer_attr_i64(g, "channels", (int64_t)opt->channels, err)) ||
        (st = at_g10_writer_attr_f64(g, "crop", opt->crop, err)) ||
        (st = at_g10_writer_attr_i64(g, "max_images", (int64_t)opt->max_images, err))) {
        at_g10_writer_abort(g);
        return st;
    }
    return at_g10_writer_commit(g, err);
}

at_status at_images_load_galaxy10(const char *path, const at_image_load_options *opt_in, at_images **out,
                                  at_error *err) {
    *out = NULL;
    at_image_load_options opt;
    if (opt_in)
        opt = *opt_in;
    else
        at_image_load_options_default(&opt);
    at_status st = at_img_check_options(path, &opt, err);
    if (st) return st;
    if (opt.channels != 1 && opt.channels != 3) /* more come only from FITS cutouts */
        return at_fail(err, AT_ERR_DATA, "%s: Galaxy10 images have 3 channels (or 1 as grey), not the %zu asked for", path,
                       opt.channels);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT) return at_fail(err, AT_ERR_IO, "%s: no such file. %s", path, missing_help);
        return at_fail(err, AT_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (!S_ISREG(sb.st_mode)) return at_fail(err, AT_ERR_IO, "%s: not a regular file", path);
    provenance p;
    provenance_of(path, &sb, &p);
    if (opt.cache && *opt.cache && cache_matches(opt.cache, &p, &opt)) {
        /* The cache holds the resized set: read it as it is. */
        at_image_load_options as_is = opt;
        as_is.width = as_is.height = 0;
        as_is.crop = 1.0;
        as_is.max_images = 0;
        if (read_g10(opt.cache, opt.channels, &as_is, out, err) == AT_OK) return AT_OK;
        /* An unreadable cache is rebuilt below. */
    }
    if ((st = read_g10(path, 3, &opt, out, err))) return st;
    if (opt.cache && *opt.cache && (st = write_cache(opt.cache, &p, &opt, *out, err))) {
        at_error_prefix(err, "writing the image cache: ");
        at_images_free(*out);
        *out = NULL;
        return st;
    }
    return AT_OK;
}

/* ---- writing ------------------------------------------------------------------------------ */

struct at_g10_writer {
    hid_t file, dimg, dans, dex[4];
    size_t n, h, w, c;
    char *path, *tmp;
};

void at_g10_writer_abort(at_g10_writer *g) {
    if (!g) return;
    for (int k = 0; k < 4; k++)
        if (g->dex[k] >= 0) H5Dclose(g->dex[k]);
    if (g->dans >= 0) H5Dclose(g->dans);
    if (g->dimg >= 0) H5Dclose(g->dimg);
    if (g->file >= 0) H5Fclose(g->file);
    if (g->tmp) unlink(g->tmp);
    free(g->path);
    free(g->tmp);
    free(g);
}

static hid_t make_dataset(hid_t file, const char *name, hid_t type, int rank, const hsize_t *dims,
                          const hsize_t *chunk, int deflate) {
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (s < 0 || dcpl < 0) {
        if (s >= 0) H5Sclose(s);
        if (dcpl >= 0) H5Pclose(dcpl);
        return -1;
    }
    H5Pset_chunk(dcpl, rank, chunk);
    H5Pset_obj_track_times(dcpl, 0); /* no timestamps: the same data give the same bytes */
    if (deflate) H5Pset_deflate(dcpl, 1); /* level 1: noisy pixels gain little from more effort */
    hid_t d = H5Dcreate2(file, name, type, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Sclose(s);
    H5Pclose(dcpl);
    return d;
}

at_status at_g10_writer_open(const char *path, size_t n, size_t h, size_t w, size_t c, int extras,
                             at_g10_writer **out, at_error *err) {
    *out = NULL;
    if (n == 0 || h == 0 || w == 0 || (c != 1 && c != 3))
        return at_fail(err, AT_ERR_INTERNAL, "%s: cannot write %zu images of %zux%zux%zu", path, n, h, w, c);
    at_g10_writer *g = at_calloc(1, sizeof *g, err);
    if (!g) return AT_ERR_MEMORY;
    g->file = g->dimg = g->dans = -1;
    for (int k = 0; k < 4; k++) g->dex[k] = -1;
    g->n = n;
    g->h = h;
    g->w = w;
    g->c = c;
    size_t tl = strlen(path) + 32;
    g->path = at_strdup(path, err);
    g->tmp = at_malloc(tl, 1, err);
    if (!g->path || !g->tmp) {
        at_g10_writer_abort(g);
        return AT_ERR_MEMORY;
    }
    snprintf(g->tmp, tl, "%s.tmp.%ld", path, (long)getpid());
    hid_t fapl = new_fapl(), fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fcpl >= 0) H5Pset_obj_track_times(fcpl, 0); /* nor on the root group */
    g->file = fapl >= 0 ? H5Fcreate(g->tmp, H5F_ACC_TRUNC, fcpl >= 0 ? fcpl : H5P_DEFAULT, fapl) : -1;
    if (fapl >= 0) H5Pclose(fapl);
    if (fcpl >= 0) H5Pclose(fcpl);
    if (g->file < 0) {
        int e = errno;
        free(g->tmp); /* nothing was created: nothing to remove */
        g->tmp = NULL;
        at_g10_writer_abort(g);
        return at_fail(err, AT_ERR_IO, "%s: cannot create: %s", path, e ? strerror(e) : "HDF5 error");
    }
    /* About 1 MiB of images per chunk, so a reader's hyperslab touches few chunks. */
    size_t per = h * w * c;
    hsize_t k = per >= ((size_t)1 << 20) ? 1 : ((size_t)1 << 20) / per;
    if (k > n) k = n;
    hsize_t dims[4] = {n, h, w, c}, chunk[4] = {k, h, w, c};
    hsize_t d1[1] = {n}, c1[1] = {n < 65536 ? n : 65536};
    g->dimg = make_dataset(g->file, "images", H5T_STD_U8LE, 4, dims, chunk, 1);
    g->dans = make_dataset(g->file, "ans", H5T_STD_U8LE, 1, d1, c1, 0);
    int bad = g->dimg < 0 || g->dans < 0;
    for (int e = 0; extras && e < 4 && !bad; e++)
        bad = (g->dex[e] = make_dataset(g->file, extra_names[e], H5T_IEEE_F64LE, 1, d1, c1, 0)) < 0;
    if (bad) {
        at_g10_writer_abort(g);
        return at_fail(err, AT_ERR_IO, "%s: cannot create the Galaxy10 datasets", path);
    }
    *out = g;
    return AT_OK;
}

static int write_rows(hid_t d, hid_t memtype, int rank, size_t first, size_t m, const hsize_t *rest,
                      const void *buf) {
    hsize_t start[4] = {first, 0, 0, 0}, count[4] = {m, 0, 0, 0};
    for (int i = 1; i < rank; i++) count[i] = rest[i - 1];
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(rank, count, NULL);
    int ok = fs >= 0 && ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
             H5Dwrite(d, memtype, ms, fs, H5P_DEFAULT, buf) >= 0;
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    return ok;
}

at_status at_g10_writer_put(at_g10_writer *g, size_t first, size_t m, const uint8_t *px, const int32_t *y,
                            const double *ra, const double *dec, const double *redshift, const double *pxscale,
                            at_error *err) {
    if (m == 0) return AT_OK;
    if (first > g->n || m > g->n - first)
        return at_fail(err, AT_ERR_INTERNAL, "%s: images %zu+%zu beyond %zu", g->path, first, m, g->n);
    uint8_t *lab = at_malloc(m, 1, err);
    if (!lab) return AT_ERR_MEMORY;
    for (size_t i = 0; i < m; i++) lab[i] = (uint8_t)(y ? y[i] : 0);
    hsize_t rest[3] = {g->h, g->w, g->c};
    int ok = write_rows(g->dimg, H5T_NATIVE_UINT8, 4, first, m, rest, px) &&
             write_rows(g->dans, H5T_NATIVE_UINT8, 1, first, m, NULL, lab);
    free(lab);
    const double *ex[4] = {ra, dec, redshift, pxscale};
    for (int k = 0; k < 4 && ok; k++)
        if (g->dex[k] >= 0 && ex[k]) ok = write_rows(g->dex[k], H5T_NATIVE_DOUBLE, 1, first, m, NULL, ex[k]);
    if (!ok) {
        int e = errno;
        return at_fail(err, AT_ERR_IO, "%s: cannot write images %zu-%zu: %s", g->path, first, first + m - 1,
                       e ? strerror(e) : "HDF5 error");
    }
    return AT_OK;
}

static at_status put_attr(at_g10_writer *g, const char *name, hid_t ftype, hid_t mtype, const void *v, at_error *err) {
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = s >= 0 ? H5Acreate2(g->file, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int ok = a >= 0 && H5Awrite(a, mtype, v) >= 0;
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    return ok ? AT_OK : at_fail(err, AT_ERR_IO, "%s: cannot write attribute '%s'", g->path, name);
}

at_status at_g10_writer_attr_str(at_g10_writer *g, const char *name, const char *value, at_error *err) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0 || H5Tset_size(t, strlen(value) + 1) < 0) {
        if (t >= 0) H5Tclose(t);
        return at_fail(err, AT_ERR_IO, "%s: cannot write attribute '%s'", g->path, name);
    }
    at_status st = put_attr(g, name, t, t, value, err);
    H5Tclose(t);
    return st;
}

at_status at_g10_writer_attr_i64(at_g10_writer *g, const char *name, int64_t value, at_error *err) {
    return put_attr(g, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, err);
}

at_status at_g10_writer_attr_f64(at_g10_writer *g, const char *name, double value, at_error *err) {
    return put_attr(g, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, err);
}

at_status at_g10_writer_commit(at_g10_writer *g, at_error *err) {
    int ok = 1;
    for (int k = 0; k < 4; k++)
        if (g->dex[k] >= 0) ok &= H5Dclose(g->dex[k]) >= 0, g->dex[k] = -1;
    ok &= H5Dclose(g->dans) >= 0;
    ok &= H5Dclose(g->dimg) >= 0;
    g->dans = g->dimg = -1;
    errno = 0;
    ok &= H5Fclose(g->file) >= 0;
    g->file = -1;
    int e = errno;
    if (ok) { /* flush to disk before the rename makes the file visible */
        int fd = open(g->tmp, O_RDONLY);
        ok = fd >= 0 && fsync(fd) == 0;
        e = errno;
        if (fd >= 0) close(fd);
    }
    if (ok && rename(g->tmp, g->path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        at_status st = at_fail(err, AT_ERR_IO, "%s: cannot write: %s", g->path, e ? strerror(e) : "HDF5 error");
        at_g10_writer_abort(g);
        return st;
    }
    free(g->path);
    free(g->tmp);
    free(g);
    return AT_OK;
}
