/* images_folder.c - labelled image sets from a folder with one subfolder per class, and
 * unlabelled sets from a list of files. Class names are the subfolder names, sorted; files
 * are taken in sorted name order so that a set loads the same everywhere. A file is an
 * image when its first bytes say PNG or JPEG; other files are skipped unless their name
 * claims .png/.jpg/.jpeg (then it is an error, since the user meant it as an image).
 * FITS cutouts (images_fits.c) load the same way; a set is all FITS with one band count (1 to
 * AT_IMG_MAX_BANDS; with fixed_bands exactly `channels`), or all PNG/JPEG (1 or 3 channels). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/images_internal.h"

typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

static void strlist_free(strlist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static at_status strlist_push(strlist *l, char *s, at_error *err) {
    if (!s) return AT_ERR_MEMORY;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            free(s);
            return at_fail(err, AT_ERR_MEMORY, "out of memory listing files");
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return AT_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *a, const char *b, at_error *err) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = at_malloc(n, 1, err);
    if (s) snprintf(s, n, "%s/%s", a, b);
    return s;
}

/* Non-hidden entries of dir that are folders (want_dirs) or regular files, sorted. */
static at_status list_dir(const char *dir, int want_dirs, strlist *out, at_error *err) {
    DIR *d = opendir(dir);
    if (!d) return at_fail(err, AT_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    at_status st = AT_OK;
    struct dirent *e;
    while (!st && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *full = join(dir, e->d_name, err);
        if (!full) {
            st = AT_ERR_MEMORY;
            break;
        }
        struct stat sb;
        int ok = stat(full, &sb) == 0 && (want_dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode));
        free(full);
        if (ok) st = strlist_push(out, at_strdup(e->d_name, err), err);
    }
    closedir(d);
    if (st) return st;
    if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return AT_OK;
}

static int has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
                   !strcasecmp(dot, ".fits") || !strcasecmp(dot, ".fit") || !strcasecmp(dot, ".fts"));
}

/* 1 = image, 0 = not an image (skip), error status otherwise. */
static at_status is_image(const char *path, int *yes, at_error *err) {
    uint8_t head[16];
    FILE *f = fopen(path, "rb");
    if (!f) return at_fail(err, AT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    *yes = at_img_sniff(head, n) != AT_IMG_UNKNOWN || at_img_is_fits(path, head, n);
    if (!*yes && has_image_ext(path))
        return at_fail(err, AT_ERR_DATA, "%s: named like an image but is neither PNG, JPEG nor FITS", path);
    return AT_OK;
}

/* Decodes paths[0..n) into one set of common size; labels may be NULL. */
/* One file: FITS (scaled) or PNG/JPEG; *fits says which. */
static at_status decode_any(const char *path, int scaling, at_img_raw *raw, int *fits, at_error *err) {
    uint8_t head[16];
    size_t n = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        n = fread(head, 1, sizeof head, f);
        fclose(f);
    }
    *fits = f && at_img_is_fits(path, head, n);
    return *fits ? at_img_fits_decode_file(path, scaling, raw, err) : at_img_decode_file(path, raw, err);
}

static at_status load_list(char *const *paths, const int32_t *labels, size_t n, const at_image_load_options *opt,
                           at_images **out, at_error *err) {
    *out = NULL;
    size_t dc = opt->channels;
    int first_fits = 0;
    at_images *im = NULL;
    at_resampler *rs = NULL;
    size_t rs_h = 0, rs_w = 0, rs_c = 0, first_h = 0, first_w = 0;
    at_img_raw raw = {0};
    at_status st = AT_OK;
    for (size_t i = 0; i < n && !st; i++) {
        int fits = 0;
        if ((st = decode_any(paths[i], opt->scaling, &raw, &fits, err))) break;
        if (i == 0) {
            first_h = raw.h;
            first_w = raw.w;
            first_fits = fits;
            if (fits && !opt->fixed_bands) dc = raw.c; /* the cutouts' band count is the set's channel count */
        }
        if (i > 0 && fits != first_fits) {
            st = at_fail(err, AT_ERR_DATA, "%s: %s, but %s is %s; a set is all FITS or all PNG/JPEG", paths[i],
                         fits ? "a FITS cutout" : "a PNG/JPEG image", paths[0], first_fits ? "FITS" : "PNG/JPEG");
            break;
        } else if (fits && opt->fixed_bands && raw.c != dc) {
            st = at_fail(err, AT_ERR_DATA, "%s: FITS cutout has %zu band(s) but the model takes %zu", paths[i], raw.c,
                         dc);
            break;
        } else if (!fits && dc != 1 && dc != 3) {
            st = at_fail(err, AT_ERR_DATA, "%s: a PNG/JPEG image has 1 or 3 channels, not the %zu asked for (more "
                         "channels come only from FITS cutouts with that many bands)", paths[i], dc);
            break;
        } else if (i > 0 && fits && raw.c != dc) {
            st = at_fail(err, AT_ERR_DATA, "%s: FITS cutout has %zu band(s) but %s has %zu; all cutouts need the same",
                         paths[i], raw.c, paths[0], dc);
            break;
        } else if (i > 0 && opt->width == 0 && (raw.h != first_h || raw.w != first_w)) {
            st = at_fail(err, AT_ERR_DATA,
                         "%s: image is %zux%zu but %s is %zux%zu; set width and height to resize them all",
                         paths[i], raw.w, raw.h, paths[0], first_w, first_h);
            break;
        }
        if (!rs || raw.h != rs_h || raw.w != rs_w || raw.c != rs_c) {
            at_resampler_free(rs);
            rs = NULL;
            if ((st = at_resampler_new(raw.h, raw.w, raw.c, opt->crop, opt->height, opt->width, dc, &rs, err)))
                break;
            rs_h = raw.h;
            rs_w = raw.w;
            rs_c = raw.c;
        }
        if (!im) {
            size_t dh, dw;
            at_resampler_size(rs, &dh, &dw);
            if ((st = at_images_new(n, dh, dw, dc, labels != NULL, &im, err))) break;
            if (!(im->sources = at_calloc(n, sizeof *im->sources, err))) {
                st = AT_ERR_MEMORY;
                break;
            }
        }
        at_resampler_run(rs, raw.px, im->pixels + i * im->height * im->width * dc);
        if (labels) im->y[i] = labels[i];
        if (!(im->sources[i] = at_strdup(paths[i], err))) st = AT_ERR_MEMORY;
        free(raw.px);
        raw.px = NULL;
    }
    free(raw.px);
    at_resampler_free(rs);
    if (st) {
        at_images_free(im);
        return st;
    }
    *out = im;
    return AT_OK;
}

at_status at_images_load_folder(const char *dir, const at_image_load_options *opt_in, at_images **out,
                                at_error *err) {
    *out = NULL;
    at_image_load_options opt;
    if (opt_in)
        opt = *opt_in;
    else
        at_image_load_options_default(&opt);
    at_status st = at_img_check_options(dir, &opt, err);
    if (st) return st;
    strlist classes = {0}, files = {0}, paths = {0};
    int32_t *labels = NULL;
    size_t nlab = 0, caplab = 0;
    if ((st = list_dir(dir, 1, &classes, err))) goto done;
    if (classes.n == 0) {
        st = at_fail(err, AT_ERR_DATA, "%s: no class subfolders (expected one folder of PNG/JPEG files per class)", dir);
        goto done;
    }
    if (classes.n > 100000) {
        st = at_fail(err, AT_ERR_DATA, "%s: %zu subfolders is too many classes", dir, classes.n);
        goto done;
    }
    for (size_t k = 0; k < classes.n && !st; k++) {
        char *sub = join(dir, classes.v[k], err);
        if (!sub) {
            st = AT_ERR_MEMORY;
            break;
        }
        strlist_free(&files);
        st = list_dir(sub, 0, &files, err);
        size_t before = paths.n;
        for (size_t i = 0; i < files.n && !st; i++) {
            if (opt.max_images && paths.n >= opt.max_images) break;
            char *p = join(sub, files.v[i], err);
            int yes = 0;
            if (!p) st = AT_ERR_MEMORY;
            else if ((st = is_image(p, &yes, err)) || !yes) free(p);
            else if (!(st = strlist_push(&paths, p, err))) {
                if (nlab == caplab) {
                    caplab = caplab ? 2 * caplab : 256;
                    int32_t *l = realloc(labels, caplab * sizeof *l);
                    if (!l) {
                        st = at_fail(err, AT_ERR_MEMORY, "out of memory listing files");
                        break;
                    }
                    labels = l;
                }
                labels[nlab++] = (int32_t)k;
            }
        }
        if (!st && paths.n == before && !(opt.max_images && paths.n >= opt.max_images))
            st = at_fail(err, AT_ERR_DATA, "%s: class folder has no PNG or JPEG images", sub);
        free(sub);
    }
    if (st) goto done;
    at_images *im;
    if ((st = load_list(paths.v, labels, paths.n, &opt, &im, err))) goto done;
    im->n_classes = classes.n;
    im->class_names = classes.v; /* hand the names over */
    classes.v = NULL;
    classes.n = 0;
    *out = im;
done:
    strlist_free(&classes);
    strlist_free(&files);
    strlist_free(&paths);
    free(labels);
    return st;
}

at_status at_images_load_files(const char *const *paths, size_t n, const at_image_load_options *opt_in,
                               at_images **out, at_error *err) {
    *out = NULL;
    at_image_load_options opt;
    if (opt_in)
        opt = *opt_in;
    else
        at_image_load_options_default(&opt);
    at_status st = at_img_check_options(n ? paths[0] : "images", &opt, err);
    if (st) return st;
    if (n == 0) return at_fail(err, AT_ERR_DATA, "no image files given");
    if (opt.max_images && n > opt.max_images) n = opt.max_images;
    return load_list((char *const *)paths, NULL, n, &opt, out, err);
}
