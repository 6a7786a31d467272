/* images_fits.c - FITS image cutouts for the image loaders: the first image HDU of a file
 * (2-D, or 3-D with NAXIS3 = bands), read through CFITSIO as doubles (BLANK and NaN -> NaN),
 * each band scaled to [0, 1] by the [data] scaling (asinh, linear, zscale; README "FITS
 * cutouts"), then quantised to the uint8 HWC layout every image model reads. Rows keep the
 * file's order (astropy's data[..., 0, :] is image row 0); nothing is flipped. */
#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/images_internal.h"

#define ZSCALE_CONTRAST 0.25
#define ZSCALE_KREJ 2.5
#define ZSCALE_ITER 5
/* Largest cutout read (values, all bands): 16 Mi doubles = 128 MiB of work space. */
#define AT_FITS_MAX_VALUES (1u << 24)

int at_img_is_fits(const char *path, const uint8_t *head, size_t n) {
    if (n >= 9 && memcmp(head, "SIMPLE  =", 9) == 0) return 1;
    if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
        size_t L = strlen(path);
        static const char *const ext[] = {".fits.gz", ".fit.gz", ".fts.gz"};
        for (size_t i = 0; i < 3; i++) {
            size_t e = strlen(ext[i]);
            if (L >= e && strcasecmp(path + L - e, ext[i]) == 0) return 1;
        }
    }
    return 0;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of sorted s[0..n) (mean of the two middle values when n is even; numpy's). */
static double median_sorted(const double *s, size_t n) {
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/* (v - lo) / (hi - lo) clipped to [0, 1]; a NaN (values near the double range make inf / inf)
 * becomes 0, so the uint8 conversion always gets a number in range. */
static void minmax_to_unit(double *v, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) {
        double t = hi > lo ? (v[i] - lo) / (hi - lo) : 0.0;
        v[i] = !(t >= 0.0) ? 0.0 : t > 1.0 ? 1.0 : t;
    }
}

void at_img_scale_band(double *v, size_t n, int scaling) {
    if (n == 0) return;
    double *s = malloc(n * sizeof *s);
    if (!s) { /* no memory for statistics: a flat band */
        for (size_t i = 0; i < n; i++) v[i] = 0.0;
        return;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) s[m++] = v[i];
    if (m == 0) {
        for (size_t i = 0; i < n; i++) v[i] = 0.0;
        free(s);
        return;
    }
    qsort(s, m, sizeof *s, cmp_dbl);
    double med = median_sorted(s, m), lo = s[0], hi = s[m - 1];
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) v[i] = med;
    if (scaling == AT_SCALING_LINEAR) {
        minmax_to_unit(v, n, lo, hi);
    } else if (scaling == AT_SCALING_ZSCALE) {
        /* IRAF zscale without sampling or pixel growing: a least-squares line through the
         * sorted values (index centred on the middle), refitted up to 5 times without the
         * points more than 2.5 rms from it (stopping when none go, or when fewer than half
         * would stay: then the limits are min and max); slope / contrast 0.25 around the
         * median, med -/+ slope n/2, within [min, max] */
        double xc = 0.5 * (double)(m - 1), slope = 0.0;
        unsigned char *keep = malloc(m);
        size_t nk = m;
        int full_range = keep == NULL;
        if (keep) memset(keep, 1, m);
        for (int it = 0; keep && it < ZSCALE_ITER; it++) {
            double sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0;
            for (size_t i = 0; i < m; i++)
                if (keep[i]) sx += (double)i - xc, sy += s[i];
            double mx = sx / (double)nk, my = sy / (double)nk;
            for (size_t i = 0; i < m; i++)
                if (keep[i]) {
                    double x = (double)i - xc - mx;
                    sxx += x * x;
                    sxy += x * (s[i] - my);
                }
            slope = sxx > 0.0 ? sxy / sxx : 0.0;
            double ss = 0.0;
            for (size_t i = 0; i < m; i++)
                if (keep[i]) {
                    double r = s[i] - (my + slope * ((double)i - xc - mx));
                    ss += r * r;
                }
            double lim = ZSCALE_KREJ * sqrt(ss / (double)nk);
            size_t left = 0;
            for (size_t i = 0; i < m; i++)
                if (keep[i] && fabs(s[i] - (my + slope * ((double)i - xc - mx))) <= lim) left++;
            if (left == nk) break;
            if (left < (m + 1) / 2) {
                full_range = 1;
                break;
            }
            for (size_t i = 0; i < m; i++)
                if (keep[i] && !(fabs(s[i] - (my + slope * ((double)i - xc - mx))) <= lim)) keep[i] = 0;
            nk = left;
        }
        free(keep);
        slope /= ZSCALE_CONTRAST;
        double z1 = med - slope * 0.5 * (double)m, z2 = med + slope * 0.5 * (double)m;
        if (full_range || z1 < lo) z1 = lo;
        if (full_range || z2 > hi) z2 = hi;
        minmax_to_unit(v, n, z1, z2);
    } else { /* asinh */
        for (size_t i = 0; i < m; i++) s[i] = fabs(s[i] - med);
        qsort(s, m, sizeof *s, cmp_dbl);
        double soft = 1.4826 * median_sorted(s, m);
        if (!(soft > 0.0)) soft = (hi - lo) / 10.0;
        if (!(soft > 0.0)) {
            for (size_t i = 0; i < n; i++) v[i] = 0.0;
        } else {
            for (size_t i = 0; i < n; i++) v[i] = asinh((v[i] - med) / soft);
            minmax_to_unit(v, n, asinh((lo - med) / soft), asinh((hi - med) / soft));
        }
    }
    free(s);
}

static at_status fits_img_fail(at_error *err, const char *path, const char *what, int status) {
    char msg[FLEN_STATUS] = "";
    fits_get_errstatus(status, msg);
    fits_clear_errmsg();
    return at_fail(err, AT_ERR_DATA, "%s: %s (CFITSIO: %s)", path, what, msg);
}

/* The cutout of an open mem file (closed here); path names it in messages. A side over
 * max_side sets *too_large (when given) and fails before any pixel is read. real_size: the
 * bytes that are really there (the mem file reports whole, zero-padded 2880-byte blocks). */
static at_status decode_open(fitsfile *fp, const char *path, int scaling, size_t max_side, LONGLONG real_size,
                             at_img_raw *out, int *too_large, at_error *err) {
    int st = 0;
    at_status s = AT_OK;
    int nhdu = 0, type = 0, naxis = 0, bitpix = 0;
    long ax[3] = {0, 0, 0};
    double *buf = NULL;
    fits_get_num_hdus(fp, &nhdu, &st);
    int found = 0;
    for (int h = 1; h <= nhdu && !st && !found; h++) {
        if (fits_movabs_hdu(fp, h, &type, &st)) break;
        if (type != IMAGE_HDU) continue;
        if (fits_get_img_param(fp, 3, &bitpix, &naxis, ax, &st)) break;
        if (naxis > 0) found = h;
    }
    if (st) {
        s = fits_img_fail(err, path, "cannot read the image header", st);
        goto done;
    }
    if (!found) {
        s = at_fail(err, AT_ERR_DATA, "%s: no image HDU with data (a FITS table is not a cutout)", path);
        goto done;
    }
    if (naxis < 2 || naxis > 3) {
        s = at_fail(err, AT_ERR_DATA, "%s: HDU %d is a %d-D image; a cutout is 2-D or 3-D (NAXIS3 = bands)", path,
                    found - 1, naxis);
        goto done;
    }
    long bands = naxis == 3 ? ax[2] : 1;
    if (ax[0] < 1 || ax[1] < 1 || (size_t)ax[0] > max_side || (size_t)ax[1] > max_side) {
        if (too_large && ax[0] >= 1 && ax[1] >= 1) *too_large = 1;
        s = at_fail(err, AT_ERR_DATA, "%s: image of %ldx%ld pixels (1 to %zu per side)", path, ax[0], ax[1], max_side);
        goto done;
    }
    if (bands < 1 || bands > AT_IMG_MAX_BANDS) {
        s = at_fail(err, AT_ERR_DATA, "%s: %ld bands (NAXIS3); cutouts have 1 to %d bands", path, bands,
                    AT_IMG_MAX_BANDS);
        goto done;
    }
    size_t w = (size_t)ax[0], h = (size_t)ax[1], c = (size_t)bands, npix = w * h;
    if (npix * c > AT_FITS_MAX_VALUES) {
        if (too_large) *too_large = 1;
        s = at_fail(err, AT_ERR_DATA, "%s: cutout of %zux%zux%zu values is too large (at most %u)", path, w, h, c,
                    AT_FITS_MAX_VALUES);
        goto done;
    }
    if (!(buf = at_malloc(npix * c, sizeof *buf, err)) || !(out->px = at_malloc(npix * c, 1, err))) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    /* a truncated file: say so before CFITSIO converts bytes it could not read */
    LONGLONG hstart = 0, dstart = 0, dend = 0;
    fits_get_hduaddrll(fp, &hstart, &dstart, &dend, &st);
    LONGLONG need = dstart + (LONGLONG)(npix * c) * (bitpix < 0 ? -bitpix : bitpix) / 8;
    LONGLONG have = real_size;
    if (st || need > have) {
        s = st ? fits_img_fail(err, path, "cannot read the image header", st)
               : at_fail(err, AT_ERR_DATA, "%s: cannot read the pixels (truncated file: the header needs %lld bytes, "
                         "the file has %lld)", path, (long long)need, (long long)have);
        goto done;
    }
    long first[3] = {1, 1, 1};
    double nan = NAN;
    int anynul = 0;
    if (fits_read_pix(fp, TDOUBLE, first, (LONGLONG)(npix * c), &nan, buf, &anynul, &st)) {
        s = fits_img_fail(err, path, "cannot read the pixels (truncated file?)", st);
        goto done;
    }
    for (size_t b = 0; b < c; b++) {
        double *band = buf + b * npix;
        at_img_scale_band(band, npix, scaling);
        for (size_t i = 0; i < npix; i++) out->px[i * c + b] = (uint8_t)floor(band[i] * 255.0 + 0.5);
    }
    out->h = h, out->w = w, out->c = c;
done:
    free(buf);
    if (s) {
        free(out->px);
        out->px = NULL;
    }
    int st2 = 0;
    fits_close_file(fp, &st2);
    fits_clear_errmsg();
    return s;
}

/* The whole file in memory, then the in-memory reader: one code path for files and uploads.
 * (CFITSIO's disk driver reads whole 2880-byte blocks and converted the unread tail of an
 * unpadded last block before reporting the short read; the padded copy has no such tail.) */
at_status at_img_fits_decode_file(const char *path, int scaling, at_img_raw *out, at_error *err) {
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t n;
    at_status s = img_read_file(path, " as a FITS file", AT_ERR_DATA, "FITS", &buf, &n, err);
    if (s != AT_OK) return s;
    s = at_img_fits_decode_mem(path, buf, n, scaling, AT_IMG_MAX_SIDE, out, NULL, err);
    free(buf);
    return s;
}

at_status at_img_fits_decode_mem(const char *name, const uint8_t *buf, size_t n, int scaling, size_t max_side,
                                 at_img_raw *out, int *too_large, at_error *err) {
    memset(out, 0, sizeof *out);
    if (too_large) *too_large = 0;
    if (n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) { /* gzip'd: inflate (bounded), then the plain path */
        uint8_t *plain = NULL;
        size_t pn = 0;
        at_status s = at_gunzip_mem(name, buf, n, (size_t)AT_FITS_MAX_VALUES * 8 + ((size_t)1 << 20), &plain, &pn,
                                    too_large, err);
        if (s) return s;
        if (pn >= 2 && plain[0] == 0x1f && plain[1] == 0x8b) /* no gzip inside gzip */
            s = at_fail(err, AT_ERR_DATA, "%s: not a FITS file (gzip inside gzip)", name);
        else
            s = at_img_fits_decode_mem(name, plain, pn, scaling, max_side, out, too_large, err);
        free(plain);
        return s;
    }
    if (n < 9 || memcmp(buf, "SIMPLE  =", 9) != 0)
        return at_fail(err, AT_ERR_DATA, "%s: not a FITS file (it must start with 'SIMPLE  =')", name);
    if (max_side > AT_IMG_MAX_SIDE) max_side = AT_IMG_MAX_SIDE;
    /* CFITSIO takes a mem file as whole 2880-byte blocks and would read past a shorter
     * buffer: give it a zero-padded copy, and check truncation against the real n */
    size_t padded = (n + 2879) / 2880 * 2880;
    uint8_t *copy = at_malloc(padded, 1, err);
    if (!copy) return AT_ERR_MEMORY;
    memcpy(copy, buf, n);
    memset(copy + n, 0, padded - n);
    fitsfile *fp = NULL;
    int st = 0;
    void *mem = copy;
    size_t size = padded;
    at_status s;
    if (fits_open_memfile(&fp, name, READONLY, &mem, &size, 0, NULL, &st))
        s = fits_img_fail(err, name, "cannot open as a FITS file", st);
    else
        s = decode_open(fp, name, scaling, max_side, (LONGLONG)n, out, too_large, err);
    free(copy);
    return s;
}
