/* model_file.c - the HDF5 store behind model files and checkpoints.
 *
 * Layout conventions (what h5dump or h5py show):
 *   - root attributes: "format" = "astrotrain-model" (string), "format_version" = 1 (int32),
 *     "astrotrain_version" = the writing program's version (string);
 *   - everything else is a dataset at a slash path ("model/trees/feature"); groups exist only
 *     to hold datasets and are created on demand;
 *   - numbers are 1-D datasets of little-endian f64, f32, i32, i64 or u8 (2-D, rows x cols,
 *     row-major, for the _2d forms); scalars are 1-element datasets;
 *   - strings are 1-D datasets of fixed-length, NUL-terminated UTF-8 strings (size = longest
 *     + 1); a single string is a 1-element such dataset. Variable-length strings (h5py's
 *     default) are accepted on read;
 *   - datasets over 64 KiB are chunked, shuffled, deflated (level 4) and checksummed.
 * Files use the HDF5 1.8 object format (superblock v2, checksummed metadata), so any HDF5
 * from 1.8 on reads them and most bit flips in the metadata are detected on open.
 *
 * Reads never trust the file: type class, rank and element count are checked (count bounded
 * by the file size times 1000 and by 2^31) before anything is allocated. */
#include "astrotrain/model_file.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/h5check.h"

#ifndef AT_VERSION
#define AT_VERSION "dev"
#endif

#define BIG_DATASET (64u * 1024u)        /* bytes: chunk + compress above this */
#define CHUNK_BYTES (256u * 1024u)       /* target chunk size */
#define MAX_ELEMS ((uint64_t)1 << 31)    /* no dataset may claim more elements */
#define COMPRESSION_BOUND 1000u          /* no dataset may claim more than 1000x the file */
#define MAX_STR_SIZE (1u << 20)          /* one fixed-length string element: 1 MiB */

struct at_store {
    hid_t file;
    hid_t loc;  /* where names resolve: the file, or the group set by at_store_set_prefix */
    int writing;
    char *path; /* the real name */
    char *tmp;  /* writer: "<path>.tmp.<pid>" */
};

enum kind { K_FLOAT, K_INT, K_STR, K_ANY };

/* ---- helpers ---------------------------------------------------------------------------- */

static void quiet_hdf5(void) {
    /* HDF5 prints its error stack by default; library code never prints. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static hid_t new_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    /* Closing the file closes everything in it, so a forgotten handle cannot keep it open. */
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
    /* We never modify a file in place (writes go to a temp file that is renamed), so HDF5's
     * flock() buys nothing and fails on some cluster file systems (NFS, Lustre). */
    H5Pset_file_locking(fapl, 0, 1);
#endif
    return fapl;
}

/* errno after a failed HDF5 call is only meaningful when it is a storage error. */
static int storage_errno(int e) {
    return e == ENOSPC || e == EIO || e == EFBIG || e == EDQUOT || e == EROFS || e == EACCES ||
           e == EPERM || e == ENOENT || e == ENOTDIR;
}

static at_status write_err(const at_store *st, const char *name, at_error *err) {
    int e = errno;
    if (storage_errno(e))
        return at_fail(err, AT_ERR_IO, "%s: cannot write '%s': %s", st->path, name, strerror(e));
    return at_fail(err, AT_ERR_IO, "%s: cannot write '%s' (HDF5 error)", st->path, name);
}

static at_status read_err(const at_store *st, const char *name, at_error *err) {
    return at_fail(err, AT_ERR_MODEL, "%s: cannot read '%s' (corrupt file)", st->path, name);
}

static int valid_name(const char *name) {
    if (!name || !*name || name[0] == '/') return 0;
    size_t n = strlen(name);
    if (name[n - 1] == '/' || strstr(name, "//")) return 0;
    return 1;
}

int at_store_has(at_store *st, const char *name) {
    if (!st || !valid_name(name)) return 0;
    size_t n = strlen(name);
    char *buf = malloc(n + 1);
    if (!buf) return 0;
    memcpy(buf, name, n + 1);
    int found = 1;
    /* H5Lexists fails (rather than saying no) when an intermediate group is missing. */
    for (size_t i = 0; i <= n && found; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        if (H5Lexists(st->loc, buf, H5P_DEFAULT) <= 0) found = 0;
        buf[i] = c;
    }
    if (found && H5Oexists_by_name(st->loc, name, H5P_DEFAULT) <= 0) found = 0;
    free(buf);
    return found;
}

/* ---- writing ---------------------------------------------------------------------------- */

static at_status put_string_attr(hid_t obj, const char *attr, const char *value) {
    hid_t t = H5Tcopy(H5T_C_S1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = -1;
    herr_t rc = -1;
    if (t >= 0 && sp >= 0 && H5Tset_size(t, strlen(value) + 1) >= 0 &&
        H5Tset_strpad(t, H5T_STR_NULLTERM) >= 0 && H5Tset_cset(t, H5T_CSET_UTF8) >= 0) {
        a = H5Acreate2(obj, attr, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0) rc = H5Awrite(a, t, value);
    }
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    return rc < 0 ? AT_ERR_IO : AT_OK;
}

static at_status put_int_attr(hid_t obj, const char *attr, int32_t value) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = sp >= 0 ? H5Acreate2(obj, attr, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
    herr_t rc = a >= 0 ? H5Awrite(a, H5T_NATIVE_INT32, &value) : -1;
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    return rc < 0 ? AT_ERR_IO : AT_OK;
}

static at_status store_alloc(const char *path, int writing, at_store **out, at_error *err) {
    at_store *st = at_calloc(1, sizeof *st, err);
    if (!st) return AT_ERR_MEMORY;
    st->file = -1;
    st->loc = -1;
    st->writing = writing;
    st->path = at_strdup(path, err);
    if (!st->path) {
        free(st);
        return AT_ERR_MEMORY;
    }
    if (writing) {
        size_t n = strlen(path) + 32;
        st->tmp = at_malloc(n, 1, err);
        if (!st->tmp) {
            free(st->path);
            free(st);
            return AT_ERR_MEMORY;
        }
        snprintf(st->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    }
    *out = st;
    return AT_OK;
}

static void store_free(at_store *st) {
    free(st->path);
    free(st->tmp);
    free(st);
}

at_status at_store_create(const char *path, at_store **out, at_error *err) {
    *out = NULL;
    if (!path || !*path) return at_fail(err, AT_ERR_IO, "empty model file path");
    quiet_hdf5();
    at_store *st;
    at_status s = store_alloc(path, 1, &st, err);
    if (s) return s;
    /* Create the temp file ourselves first: HDF5 loses errno, and "Permission denied" or
     * "No such file or directory" is what the user needs to see. */
    int fd = open(st->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        s = at_fail(err, AT_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        store_free(st);
        return s;
    }
    close(fd);
    hid_t fapl = new_fapl();
    errno = 0;
    st->file = fapl >= 0 ? H5Fcreate(st->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : -1;
    if (fapl >= 0) H5Pclose(fapl);
    st->loc = st->file;
    if (st->file < 0 || put_string_attr(st->file, "format", AT_MODEL_FORMAT) ||
        put_int_attr(st->file, "format_version", AT_MODEL_FORMAT_VERSION) ||
        put_string_attr(st->file, "astrotrain_version", AT_VERSION)) {
        s = write_err(st, "/", err);
        at_store_close(st);
        return s;
    }
    *out = st;
    return AT_OK;
}

at_status at_store_commit(at_store *st, at_error *err) {
    if (!st || !st->writing || st->file < 0)
        return at_fail(err, AT_ERR_INTERNAL, "at_store_commit: not a store being written");
    errno = 0;
    if (st->loc >= 0 && st->loc != st->file) H5Gclose(st->loc);
    st->loc = -1;
    herr_t rc = H5Fclose(st->file);
    st->file = -1;
    at_status s = AT_OK;
    if (rc < 0) {
        s = storage_errno(errno) ? at_fail(err, AT_ERR_IO, "%s: cannot write: %s", st->path, strerror(errno))
                  : at_fail(err, AT_ERR_IO, "%s: cannot write (HDF5 error on close)", st->path);
    } else {
        /* H5Fclose does not fsync: without it a crash after rename can leave an empty file. */
        int fd = open(st->tmp, O_RDONLY);
        if (fd < 0 || fsync(fd) != 0)
            s = at_fail(err, AT_ERR_IO, "%s: cannot write: %s", st->path, strerror(errno));
        if (fd >= 0) close(fd);
        if (!s && rename(st->tmp, st->path) != 0)
            s = at_fail(err, AT_ERR_IO, "%s: cannot write: %s", st->path, strerror(errno));
    }
    if (s) {
        unlink(st->tmp);
    } else {
        free(st->tmp);
        st->tmp = NULL; /* committed: nothing left to discard */
    }
    at_store_close(st);
    return s;
}

void at_store_close(at_store *st) {
    if (!st) return;
    if (st->loc >= 0 && st->loc != st->file) H5Gclose(st->loc);
    if (st->file >= 0) H5Fclose(st->file);
    if (st->writing && st->tmp) unlink(st->tmp);
    store_free(st);
}

const char *at_store_path(const at_store *st) { return st ? st->path : ""; }

at_status at_store_set_prefix(at_store *st, const char *prefix, at_error *err) {
    if (!st || st->file < 0) return at_fail(err, AT_ERR_INTERNAL, "store: not open");
    if (st->loc >= 0 && st->loc != st->file) H5Gclose(st->loc);
    st->loc = st->file;
    if (!prefix || !*prefix) return AT_OK;
    if (!valid_name(prefix)) return at_fail(err, AT_ERR_INTERNAL, "store: invalid prefix '%s'", prefix);
    hid_t g = -1;
    if (at_store_has(st, prefix)) {
        g = H5Gopen2(st->file, prefix, H5P_DEFAULT);
    } else if (st->writing) {
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        if (lcpl >= 0) H5Pset_create_intermediate_group(lcpl, 1);
        g = lcpl >= 0 ? H5Gcreate2(st->file, prefix, lcpl, H5P_DEFAULT, H5P_DEFAULT) : -1;
        if (lcpl >= 0) H5Pclose(lcpl);
    } else {
        return at_fail(err, AT_ERR_MODEL, "%s: missing '%s' (corrupt or foreign file)", st->path, prefix);
    }
    if (g < 0)
        return st->writing ? write_err(st, prefix, err) : read_err(st, prefix, err);
    st->loc = g;
    return AT_OK;
}

/* Chunked + shuffled + deflated + checksummed above BIG_DATASET bytes. */
static hid_t dataset_plist(int rank, const hsize_t *dims, size_t elem) {
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0) return dcpl;
    uint64_t count = 1;
    for (int i = 0; i < rank; i++) count *= dims[i];
    if (count * elem <= BIG_DATASET) return dcpl;
    hsize_t chunk[2];
    if (rank == 1) {
        chunk[0] = CHUNK_BYTES / elem;
        if (chunk[0] > dims[0]) chunk[0] = dims[0];
    } else {
        chunk[1] = dims[1] < CHUNK_BYTES / elem ? dims[1] : CHUNK_BYTES / elem;
        chunk[0] = CHUNK_BYTES / (elem * chunk[1]);
        if (chunk[0] < 1) chunk[0] = 1;
        if (chunk[0] > dims[0]) chunk[0] = dims[0];
    }
    if (H5Pset_chunk(dcpl, rank, chunk) < 0) return dcpl;
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
        if (elem > 1) H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, 4);
    }
    /* Last, so a corrupt chunk is caught before it reaches the decompressor. */
    H5Pset_fletcher32(dcpl);
    return dcpl;
}

static at_status put_data(at_store *st, const char *name, hid_t ftype, hid_t mtype, const void *v,
                          int rank, const hsize_t *dims, size_t elem, at_error *err) {
    if (!st || !st->writing || st->file < 0)
        return at_fail(err, AT_ERR_INTERNAL, "store: '%s' written to a store not open for writing",
                       name ? name : "");
    if (!valid_name(name))
        return at_fail(err, AT_ERR_INTERNAL, "store: invalid dataset name '%s'", name ? name : "");
    if (at_store_has(st, name))
        return at_fail(err, AT_ERR_INTERNAL, "store: '%s' written twice", name);
    uint64_t count = 1;
    for (int i = 0; i < rank; i++) count *= dims[i];
    if (count && !v) return at_fail(err, AT_ERR_INTERNAL, "store: '%s': no data", name);
    errno = 0;
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t dcpl = dataset_plist(rank, dims, elem);
    hid_t ds = -1;
    herr_t rc = -1;
    if (sp >= 0 && lcpl >= 0 && dcpl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0 &&
        H5Pset_char_encoding(lcpl, H5T_CSET_UTF8) >= 0) {
        ds = H5Dcreate2(st->loc, name, ftype, sp, lcpl, dcpl, H5P_DEFAULT);
        if (ds >= 0) rc = count ? H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) : 0;
    }
    if (ds >= 0) H5Dclose(ds);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (sp >= 0) H5Sclose(sp);
    return rc < 0 ? write_err(st, name, err) : AT_OK;
}

static at_status put_1d(at_store *st, const char *name, hid_t ftype, hid_t mtype, const void *v,
                        size_t n, size_t elem, at_error *err) {
    hsize_t dims[1] = {n};
    return put_data(st, name, ftype, mtype, v, 1, dims, elem, err);
}

static at_status put_2d(at_store *st, const char *name, hid_t ftype, hid_t mtype, const void *v,
                        size_t rows, size_t cols, size_t elem, at_error *err) {
    if (cols == 0)
        return at_fail(err, AT_ERR_INTERNAL, "store: '%s': a 2-D dataset needs cols > 0",
                       name ? name : "");
    hsize_t dims[2] = {rows, cols};
    return put_data(st, name, ftype, mtype, v, 2, dims, elem, err);
}

at_status at_store_put_f64(at_store *st, const char *name, const double *v, size_t n,
                           at_error *err) {
    return put_1d(st, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v, n, sizeof *v, err);
}
at_status at_store_put_f64_2d(at_store *st, const char *name, const double *v, size_t rows,
                              size_t cols, at_error *err) {
    return put_2d(st, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v, rows, cols, sizeof *v, err);
}
at_status at_store_put_f32(at_store *st, const char *name, const float *v, size_t n,
                           at_error *err) {
    return put_1d(st, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v, n, sizeof *v, err);
}
at_status at_store_put_f32_2d(at_store *st, const char *name, const float *v, size_t rows,
                              size_t cols, at_error *err) {
    return put_2d(st, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v, rows, cols, sizeof *v, err);
}
at_status at_store_put_i32(at_store *st, const char *name, const int32_t *v, size_t n,
                           at_error *err) {
    return put_1d(st, name, H5T_STD_I32LE, H5T_NATIVE_INT32, v, n, sizeof *v, err);
}
at_status at_store_put_i64(at_store *st, const char *name, const int64_t *v, size_t n,
                           at_error *err) {
    return put_1d(st, name, H5T_STD_I64LE, H5T_NATIVE_INT64, v, n, sizeof *v, err);
}
at_status at_store_put_u8(at_store *st, const char *name, const uint8_t *v, size_t n,
                          at_error *err) {
    return put_1d(st, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, v, n, sizeof *v, err);
}
at_status at_store_put_int(at_store *st, const char *name, int64_t v, at_error *err) {
    return at_store_put_i64(st, name, &v, 1, err);
}
at_status at_store_put_real(at_store *st, const char *name, double v, at_error *err) {
    return at_store_put_f64(st, name, &v, 1, err);
}

at_status at_store_put_strs(at_store *st, const char *name, const char *const *s, size_t n,
                            at_error *err) {
    size_t width = 1;
    for (size_t i = 0; i < n; i++) {
        if (!s[i]) return at_fail(err, AT_ERR_INTERNAL, "store: '%s': string %zu is NULL", name, i);
        size_t len = strlen(s[i]);
        if (len + 1 > width) width = len + 1;
    }
    if (width > MAX_STR_SIZE)
        return at_fail(err, AT_ERR_INTERNAL, "store: '%s': string longer than %u bytes", name,
                       MAX_STR_SIZE);
    /* Pack into one fixed-width buffer (zero padded) as HDF5 wants. */
    char *buf = at_calloc(n ? n : 1, width, err);
    if (!buf) return AT_ERR_MEMORY;
    for (size_t i = 0; i < n; i++) memcpy(buf + i * width, s[i], strlen(s[i]));
    hid_t t = H5Tcopy(H5T_C_S1);
    at_status rc;
    if (t < 0 || H5Tset_size(t, width) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
        H5Tset_cset(t, H5T_CSET_UTF8) < 0)
        rc = write_err(st, name, err);
    else
        rc = put_1d(st, name, t, t, buf, n, width, err);
    if (t >= 0) H5Tclose(t);
    free(buf);
    return rc;
}

at_status at_store_put_str(at_store *st, const char *name, const char *s, at_error *err) {
    return at_store_put_strs(st, name, &s, 1, err);
}

/* ---- opening ---------------------------------------------------------------------------- */

/* Reads a root string attribute into buf; 0 on success. */
static int get_string_attr(hid_t file, const char *attr, char *buf, size_t cap) {
    if (H5Aexists(file, attr) <= 0) return -1;
    hid_t a = H5Aopen(file, attr, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    hid_t sp = a >= 0 ? H5Aget_space(a) : -1;
    hid_t mt = -1;
    int rc = -1;
    if (t >= 0 && sp >= 0 && H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t) &&
        H5Sget_simple_extent_npoints(sp) == 1) {
        size_t size = H5Tget_size(t);
        mt = H5Tcopy(t);
        if (size > 0 && size < cap && mt >= 0 && H5Tset_size(mt, size + 1) >= 0 &&
            H5Tset_strpad(mt, H5T_STR_NULLTERM) >= 0 && H5Aread(a, mt, buf) >= 0) {
            buf[size] = '\0';
            rc = 0;
        }
    }
    if (mt >= 0) H5Tclose(mt);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc;
}

static int get_int_attr(hid_t file, const char *attr, int64_t *v) {
    if (H5Aexists(file, attr) <= 0) return -1;
    hid_t a = H5Aopen(file, attr, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    hid_t sp = a >= 0 ? H5Aget_space(a) : -1;
    int rc = -1;
    if (t >= 0 && sp >= 0 && H5Tget_class(t) == H5T_INTEGER &&
        H5Sget_simple_extent_npoints(sp) == 1 && H5Aread(a, H5T_NATIVE_INT64, v) >= 0)
        rc = 0;
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc;
}

at_status at_store_open(const char *path, at_store **out, at_error *err) {
    *out = NULL;
    if (!path || !*path) return at_fail(err, AT_ERR_IO, "empty model file path");
    quiet_hdf5();
    /* Our own checks first, so a missing or foreign file gets a plain message. */
    int fd = open(path, O_RDONLY);
    if (fd < 0) return at_fail(err, AT_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return at_fail(err, AT_ERR_IO, "%s: %s", path, strerror(e));
    }
    close(fd);
    if (S_ISDIR(sb.st_mode)) return at_fail(err, AT_ERR_IO, "%s: %s", path, strerror(EISDIR));
    fd = S_ISREG(sb.st_mode) ? open(path, O_RDONLY) : -1;
    if (fd < 0) return at_fail(err, AT_ERR_IO, "%s: not a regular file", path);
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8];
    ssize_t got = read(fd, head, sizeof head);
    close(fd);
    if (got != (ssize_t)sizeof head || memcmp(head, sig, sizeof sig) != 0)
        return at_fail(err, AT_ERR_MODEL, "%s: not an HDF5 file (not an astrotrain model)", path);

    at_store *st;
    at_status s = store_alloc(path, 0, &st, err);
    if (s) return s;
    hid_t fapl = new_fapl();
    /* The fapl's libver bounds only matter for writing; reading accepts any version. */
    st->file = fapl >= 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : -1;
    st->loc = st->file;
    if (fapl >= 0) H5Pclose(fapl);
    if (st->file < 0) {
        store_free(st);
        return at_fail(err, AT_ERR_MODEL, "%s: cannot open (truncated or corrupt HDF5 file)", path);
    }
    char format[64];
    int64_t version = 0;
    if (get_string_attr(st->file, "format", format, sizeof format) != 0) {
        s = at_fail(err, AT_ERR_MODEL, "%s: not an astrotrain model file (format attribute missing)",
                    path);
    } else if (strcmp(format, AT_MODEL_FORMAT) != 0) {
        s = at_fail(err, AT_ERR_MODEL, "%s: not an astrotrain model file (format is '%s')", path,
                    format);
    } else if (get_int_attr(st->file, "format_version", &version) != 0) {
        s = at_fail(err, AT_ERR_MODEL,
                    "%s: not an astrotrain model file (format_version attribute missing)", path);
    } else if (version > AT_MODEL_FORMAT_VERSION) {
        s = at_fail(err, AT_ERR_MODEL,
                    "%s: model format version %lld is newer than this astrotrain supports (%d); "
                    "upgrade astrotrain",
                    path, (long long)version, AT_MODEL_FORMAT_VERSION);
    } else if (version < 1) {
        s = at_fail(err, AT_ERR_MODEL, "%s: invalid model format version %lld (corrupt file)", path,
                    (long long)version);
    }
    if (s) {
        at_store_close(st);
        return s;
    }
    *out = st;
    return AT_OK;
}

/* ---- reading ---------------------------------------------------------------------------- */

/* An open dataset that passed the checks: its file type, space and element count. */
typedef struct {
    hid_t ds, type, space;
    size_t n;
    int rank;
    hsize_t dims[2];
} opened;

static void opened_close(opened *o) {
    if (o->space >= 0) H5Sclose(o->space);
    if (o->type >= 0) H5Tclose(o->type);
    if (o->ds >= 0) H5Dclose(o->ds);
}

static const char *kind_name(enum kind k) {
    return k == K_FLOAT ? "floating-point numbers" : k == K_INT ? "integers" : "strings";
}

static const char *class_name(H5T_class_t c) {
    switch (c) {
    case H5T_FLOAT: return "floating-point numbers";
    case H5T_INTEGER: return "integers";
    case H5T_STRING: return "strings";
    default: return "of an unsupported type";
    }
}

/* Opens name and checks it holds `kind` with rank <= 2 and a plausible size. */
static at_status open_checked(at_store *st, const char *name, enum kind kind, opened *o,
                              at_error *err) {
    o->ds = o->type = o->space = -1;
    o->n = 0;
    o->rank = 0;
    o->dims[0] = o->dims[1] = 1;
    if (!st || st->file < 0) return at_fail(err, AT_ERR_INTERNAL, "store: not open");
    if (!at_store_has(st, name))
        return at_fail(err, AT_ERR_MODEL, "%s: missing '%s' (corrupt or foreign file)", st->path,
                       name ? name : "");
    /* H5Oopen tells a group from a dataset and, for a dataset, is the dataset's handle; one
     * load of the object header (HDF5 1.10 leaks a little on each corrupt header it loads). */
    hid_t obj = H5Oopen(st->loc, name, H5P_DEFAULT);
    if (obj < 0) return read_err(st, name, err);
    if (H5Iget_type(obj) != H5I_DATASET) {
        H5Oclose(obj);
        return at_fail(err, AT_ERR_MODEL, "%s: '%s' is a group, not a dataset (corrupt or foreign "
                       "file)", st->path, name);
    }
    o->ds = obj;
    o->type = H5Dget_type(o->ds);
    o->space = H5Dget_space(o->ds);
    if (o->type >= 0 && o->space >= 0 && !at_h5_chunks_plausible(o->ds)) {
        opened_close(o);
        return at_fail(err, AT_ERR_MODEL, "%s: '%s' declares implausible chunks (corrupt file)", st->path, name);
    }
    if (o->type < 0 || o->space < 0) {
        opened_close(o);
        return read_err(st, name, err);
    }
    H5T_class_t cls = H5Tget_class(o->type);
    H5T_class_t want = kind == K_FLOAT ? H5T_FLOAT : kind == K_INT ? H5T_INTEGER : H5T_STRING;
    if (kind == K_ANY && cls != H5T_FLOAT && cls != H5T_INTEGER && cls != H5T_STRING) {
        at_fail(err, AT_ERR_MODEL, "%s: '%s' has an unsupported type (corrupt or foreign file)",
                st->path, name);
        opened_close(o);
        return AT_ERR_MODEL;
    }
    if (kind != K_ANY && cls != want) {
        at_fail(err, AT_ERR_MODEL, "%s: '%s' holds %s, expected %s (corrupt or foreign file)",
                st->path, name, class_name(cls), kind_name(kind));
        opened_close(o);
        return AT_ERR_MODEL;
    }
    H5S_class_t scls = H5Sget_simple_extent_type(o->space);
    int rank = H5Sget_simple_extent_ndims(o->space);
    if ((scls != H5S_SIMPLE && scls != H5S_SCALAR) || rank < 0 || rank > 2) {
        at_fail(err, AT_ERR_MODEL, "%s: '%s' has rank %d, expected 1 or 2 (corrupt or foreign file)",
                st->path, name, rank);
        opened_close(o);
        return AT_ERR_MODEL;
    }
    uint64_t count = 1;
    if (rank > 0) {
        if (H5Sget_simple_extent_dims(o->space, o->dims, NULL) < 0) {
            opened_close(o);
            return read_err(st, name, err);
        }
        for (int i = 0; i < rank; i++) {
            if (o->dims[i] > MAX_ELEMS) count = MAX_ELEMS + 1;
            else count *= o->dims[i];
            if (count > MAX_ELEMS) count = MAX_ELEMS + 1;
        }
    }
    size_t elem = H5Tget_size(o->type);
    if (H5Tis_variable_str(o->type) > 0) elem = sizeof(char *);
    hsize_t fsize = 0;
    H5Fget_filesize(st->file, &fsize);
    uint64_t bound = (uint64_t)fsize * COMPRESSION_BOUND;
    if (elem == 0 || elem > MAX_STR_SIZE || count > MAX_ELEMS ||
        (count && elem > bound / count)) {
        at_fail(err, AT_ERR_MODEL, "%s: '%s' claims an implausible size (corrupt file)", st->path,
                name);
        opened_close(o);
        return AT_ERR_MODEL;
    }
    o->rank = rank;
    o->n = (size_t)count;
    return AT_OK;
}

/* Refuses conversions that would silently clip (an i64 too big for an i32, say). */
static H5T_conv_ret_t conv_cb(H5T_conv_except_t what, hid_t s, hid_t d, void *sb, void *db,
                              void *user) {
    (void)s, (void)d, (void)sb, (void)db, (void)user;
    if (what == H5T_CONV_EXCEPT_RANGE_HI || what == H5T_CONV_EXCEPT_RANGE_LOW)
        return H5T_CONV_ABORT;
    return H5T_CONV_UNHANDLED;
}

static at_status read_into(at_store *st, const char *name, opened *o, hid_t mtype, void *buf,
                           at_error *err) {
    if (o->n == 0) return AT_OK;
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    herr_t rc = -1;
    if (dxpl >= 0 && H5Pset_type_conv_cb(dxpl, conv_cb, NULL) >= 0)
        rc = H5Dread(o->ds, mtype, H5S_ALL, H5S_ALL, dxpl, buf);
    if (dxpl >= 0) H5Pclose(dxpl);
    return rc < 0 ? read_err(st, name, err) : AT_OK;
}

static at_status get_num(at_store *st, const char *name, enum kind kind, hid_t mtype, size_t elem,
                         void **out, size_t *n, at_error *err) {
    *out = NULL;
    *n = 0;
    opened o;
    at_status s = open_checked(st, name, kind, &o, err);
    if (s) return s;
    void *buf = at_malloc(o.n ? o.n : 1, elem, err);
    if (!buf) s = AT_ERR_MEMORY;
    else s = read_into(st, name, &o, mtype, buf, err);
    if (s) {
        free(buf);
    } else {
        *out = buf;
        *n = o.n;
    }
    opened_close(&o);
    return s;
}

static at_status read_num(at_store *st, const char *name, enum kind kind, hid_t mtype, void *v,
                          size_t n, at_error *err) {
    opened o;
    at_status s = open_checked(st, name, kind, &o, err);
    if (s) return s;
    if (o.n != n)
        s = at_fail(err, AT_ERR_MODEL, "%s: '%s' has %zu elements, expected %zu (corrupt file)",
                    st->path, name, o.n, n);
    else
        s = read_into(st, name, &o, mtype, v, err);
    opened_close(&o);
    return s;
}

at_status at_store_get_f64(at_store *st, const char *name, double **out, size_t *n, at_error *err) {
    return get_num(st, name, K_FLOAT, H5T_NATIVE_DOUBLE, sizeof **out, (void **)out, n, err);
}
at_status at_store_get_f32(at_store *st, const char *name, float **out, size_t *n, at_error *err) {
    return get_num(st, name, K_FLOAT, H5T_NATIVE_FLOAT, sizeof **out, (void **)out, n, err);
}
at_status at_store_get_i32(at_store *st, const char *name, int32_t **out, size_t *n,
                           at_error *err) {
    return get_num(st, name, K_INT, H5T_NATIVE_INT32, sizeof **out, (void **)out, n, err);
}
at_status at_store_get_i64(at_store *st, const char *name, int64_t **out, size_t *n,
                           at_error *err) {
    return get_num(st, name, K_INT, H5T_NATIVE_INT64, sizeof **out, (void **)out, n, err);
}
at_status at_store_get_u8(at_store *st, const char *name, uint8_t **out, size_t *n,
                          at_error *err) {
    return get_num(st, name, K_INT, H5T_NATIVE_UINT8, sizeof **out, (void **)out, n, err);
}
at_status at_store_read_f64(at_store *st, const char *name, double *v, size_t n, at_error *err) {
    return read_num(st, name, K_FLOAT, H5T_NATIVE_DOUBLE, v, n, err);
}
at_status at_store_read_f32(at_store *st, const char *name, float *v, size_t n, at_error *err) {
    return read_num(st, name, K_FLOAT, H5T_NATIVE_FLOAT, v, n, err);
}
at_status at_store_read_i32(at_store *st, const char *name, int32_t *v, size_t n, at_error *err) {
    return read_num(st, name, K_INT, H5T_NATIVE_INT32, v, n, err);
}
at_status at_store_get_int(at_store *st, const char *name, int64_t *v, at_error *err) {
    return read_num(st, name, K_INT, H5T_NATIVE_INT64, v, 1, err);
}
at_status at_store_get_real(at_store *st, const char *name, double *v, at_error *err) {
    return read_num(st, name, K_FLOAT, H5T_NATIVE_DOUBLE, v, 1, err);
}

at_status at_store_shape(at_store *st, const char *name, size_t *rank, size_t dims[2],
                         at_error *err) {
    *rank = 0;
    dims[0] = dims[1] = 0;
    opened o;
    at_status s = open_checked(st, name, K_ANY, &o, err);
    if (s) return s;
    if (o.rank == 0) {
        *rank = 1;
        dims[0] = 1;
    } else {
        *rank = (size_t)o.rank;
        dims[0] = (size_t)o.dims[0];
        dims[1] = o.rank == 2 ? (size_t)o.dims[1] : 0;
    }
    opened_close(&o);
    return AT_OK;
}

void at_strs_free(char **s, size_t n) {
    if (!s) return;
    for (size_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

/* Variable-length strings (h5py's default): HDF5 allocates each, we copy and reclaim. */
static at_status get_vlen_strs(at_store *st, const char *name, opened *o, char **res,
                               at_error *err) {
    char **raw = at_calloc(o->n ? o->n : 1, sizeof *raw, err);
    if (!raw) return AT_ERR_MEMORY;
    hid_t mt = H5Tcopy(H5T_C_S1);
    at_status s = AT_OK;
    if (mt < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 ||
        H5Tset_cset(mt, H5Tget_cset(o->type)) < 0)
        s = read_err(st, name, err);
    else
        s = read_into(st, name, o, mt, raw, err);
    for (size_t i = 0; !s && i < o->n; i++) {
        res[i] = at_strdup(raw[i] ? raw[i] : "", err);
        if (!res[i]) s = AT_ERR_MEMORY;
    }
    if (mt >= 0) {
        /* Frees what HDF5 allocated (also after a partial read). */
        H5Dvlen_reclaim(mt, o->space, H5P_DEFAULT, raw);
        H5Tclose(mt);
    }
    free(raw);
    return s;
}

static at_status get_fixed_strs(at_store *st, const char *name, opened *o, char **res,
                                at_error *err) {
    size_t fsize = H5Tget_size(o->type);
    size_t width = fsize + 1; /* room for a NUL even when the file pads without one */
    char *buf = at_calloc(o->n ? o->n : 1, width, err);
    if (!buf) return AT_ERR_MEMORY;
    hid_t mt = H5Tcopy(H5T_C_S1);
    at_status s = AT_OK;
    if (mt < 0 || H5Tset_size(mt, width) < 0 || H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0 ||
        H5Tset_cset(mt, H5Tget_cset(o->type)) < 0)
        s = read_err(st, name, err);
    else
        s = read_into(st, name, o, mt, buf, err);
    for (size_t i = 0; !s && i < o->n; i++) {
        buf[i * width + width - 1] = '\0';
        res[i] = at_strdup(buf + i * width, err);
        if (!res[i]) s = AT_ERR_MEMORY;
    }
    if (mt >= 0) H5Tclose(mt);
    free(buf);
    return s;
}

at_status at_store_get_strs(at_store *st, const char *name, char ***out, size_t *n,
                            at_error *err) {
    *out = NULL;
    *n = 0;
    opened o;
    at_status s = open_checked(st, name, K_STR, &o, err);
    if (s) return s;
    char **res = at_calloc(o.n ? o.n : 1, sizeof *res, err);
    if (!res) s = AT_ERR_MEMORY;
    else if (H5Tis_variable_str(o.type) > 0) s = get_vlen_strs(st, name, &o, res, err);
    else s = get_fixed_strs(st, name, &o, res, err);
    if (s) {
        at_strs_free(res, o.n);
    } else {
        *out = res;
        *n = o.n;
    }
    opened_close(&o);
    return s;
}

at_status at_store_get_str(at_store *st, const char *name, char **out, at_error *err) {
    *out = NULL;
    char **v;
    size_t n;
    at_status s = at_store_get_strs(st, name, &v, &n, err);
    if (s) return s;
    if (n != 1) {
        at_strs_free(v, n);
        return at_fail(err, AT_ERR_MODEL, "%s: '%s' has %zu strings, expected 1 (corrupt file)",
                       st->path, name, n);
    }
    *out = v[0];
    free(v);
    return AT_OK;
}
