/* test_model_file.c - the HDF5 store: round trips of every type, atomic commit, and reading
 * missing, foreign, too-new, truncated and bit-flipped files without crashing. */
#include "astrotrain/model_file.h"

#include <dirent.h>
#include <hdf5.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* HDF5 1.10.8 leaks one 424-byte buffer each time it rejects an object header whose checksum
 * is wrong (reproducible with H5Dopen2 alone on such a file); test_bit_flips makes it do so on
 * purpose. Leaks allocated by HDF5 itself are therefore not reported; ours still are. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5_serial.so\n"; }

static char dir[64];

static void path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Number of entries in dir whose name contains text. */
static int count_entries(const char *text) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, text)) n++;
    if (d) closedir(d);
    return n;
}

static unsigned char *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

static void spit(const char *p, const void *b, size_t n) {
    FILE *f = fopen(p, "wb");
    if (n) fwrite(b, 1, n, f);
    fclose(f);
}

static const char *const names[] = {"Galaxy", "QSO", "", "naïve Ω star"};

/* A small store with one of everything; big adds a 100k-element array (compressed). */
static at_status write_sample(const char *path, int big, at_error *err) {
    at_store *st;
    at_status s = at_store_create(path, &st, err);
    if (s) return s;
    double f64[5] = {0.5, -1.25, 1e300, 3.0, -0.0};
    float f32[3] = {1.5f, -2.25f, 3e30f};
    int32_t i32[4] = {1, -2, 2147483647, -2147483647 - 1};
    int64_t i64[3] = {INT64_MAX, -5, 1LL << 40};
    uint8_t u8[4] = {0, 1, 128, 255};
    double m[6] = {1, 2, 3, 4, 5, 6};
    float mf[6] = {-1, -2, -3, -4, -5, -6};
    if ((s = at_store_put_f64(st, "model/a/f64", f64, 5, err)) ||
        (s = at_store_put_f32(st, "model/a/f32", f32, 3, err)) ||
        (s = at_store_put_i32(st, "model/b/c/i32", i32, 4, err)) ||
        (s = at_store_put_i64(st, "model/b/i64", i64, 3, err)) ||
        (s = at_store_put_u8(st, "u8", u8, 4, err)) ||
        (s = at_store_put_str(st, "meta/type", "random forest", err)) ||
        (s = at_store_put_str(st, "meta/empty", "", err)) ||
        (s = at_store_put_strs(st, "meta/classes", names, 4, err)) ||
        (s = at_store_put_f64_2d(st, "model/m64", m, 2, 3, err)) ||
        (s = at_store_put_f32_2d(st, "model/m32", mf, 3, 2, err)) ||
        (s = at_store_put_int(st, "meta/n_trees", 300, err)) ||
        (s = at_store_put_real(st, "meta/lr", 0.125, err)) ||
        (s = at_store_put_f64(st, "model/none", NULL, 0, err))) {
        at_store_close(st);
        return s;
    }
    if (big) {
        size_t n = 100000;
        double *v = malloc(n * sizeof *v);
        for (size_t i = 0; i < n; i++) v[i] = (double)(i % 1000) * 0.5;
        s = at_store_put_f64(st, "model/big", v, n, err);
        free(v);
        if (s) {
            at_store_close(st);
            return s;
        }
    }
    return at_store_commit(st, err);
}

static void test_round_trip(void) {
    at_error err = {0};
    char p[256];
    path_of(p, sizeof p, "rt.h5");
    CHECK_OK(write_sample(p, 1, &err), &err);
    CHECK(file_exists(p));
    CHECK(count_entries(".tmp.") == 0);
    struct stat sb;
    stat(p, &sb);
    CHECK(sb.st_size < 200000); /* 800 KB of repetitive doubles compress */

    at_store *st;
    CHECK_OK(at_store_open(p, &st, &err), &err);
    if (!st) return;
    CHECK(strcmp(at_store_path(st), p) == 0);
    CHECK(at_store_has(st, "model"));
    CHECK(at_store_has(st, "model/b/c"));
    CHECK(at_store_has(st, "model/b/c/i32"));
    CHECK(!at_store_has(st, "model/x"));
    CHECK(!at_store_has(st, "nope/deeper/still"));
    CHECK(!at_store_has(st, "model/a/f64/below"));
    CHECK(!at_store_has(st, ""));

    double *d;
    size_t n;
    CHECK_OK(at_store_get_f64(st, "model/a/f64", &d, &n, &err), &err);
    CHECK(n == 5 && d[0] == 0.5 && d[1] == -1.25 && d[2] == 1e300 && d[3] == 3.0);
    free(d);
    float *f;
    CHECK_OK(at_store_get_f32(st, "model/a/f32", &f, &n, &err), &err);
    CHECK(n == 3 && f[0] == 1.5f && f[1] == -2.25f && f[2] == 3e30f);
    free(f);
    int32_t *i32;
    CHECK_OK(at_store_get_i32(st, "model/b/c/i32", &i32, &n, &err), &err);
    CHECK(n == 4 && i32[0] == 1 && i32[1] == -2 && i32[2] == 2147483647 && i32[3] == -2147483647 - 1);
    free(i32);
    int64_t *i64;
    CHECK_OK(at_store_get_i64(st, "model/b/i64", &i64, &n, &err), &err);
    CHECK(n == 3 && i64[0] == INT64_MAX && i64[1] == -5 && i64[2] == 1LL << 40);
    free(i64);
    uint8_t *u8;
    CHECK_OK(at_store_get_u8(st, "u8", &u8, &n, &err), &err);
    CHECK(n == 4 && u8[0] == 0 && u8[2] == 128 && u8[3] == 255);
    free(u8);
    /* Integers widen on read. */
    CHECK_OK(at_store_get_i64(st, "model/b/c/i32", &i64, &n, &err), &err);
    CHECK(n == 4 && i64[3] == -2147483647LL - 1);
    free(i64);

    char *s;
    CHECK_OK(at_store_get_str(st, "meta/type", &s, &err), &err);
    CHECK(s && strcmp(s, "random forest") == 0);
    free(s);
    CHECK_OK(at_store_get_str(st, "meta/empty", &s, &err), &err);
    CHECK(s && strcmp(s, "") == 0);
    free(s);
    char **ss;
    CHECK_OK(at_store_get_strs(st, "meta/classes", &ss, &n, &err), &err);
    CHECK(n == 4);
    for (size_t i = 0; i < n && i < 4; i++) CHECK(strcmp(ss[i], names[i]) == 0);
    at_strs_free(ss, n);
    /* A list of strings is not one string. */
    CHECK_FAIL(at_store_get_str(st, "meta/classes", &s, &err), AT_ERR_MODEL, &err, "expected 1");

    size_t rank, dims[2];
    CHECK_OK(at_store_shape(st, "model/m64", &rank, dims, &err), &err);
    CHECK(rank == 2 && dims[0] == 2 && dims[1] == 3);
    CHECK_OK(at_store_shape(st, "model/m32", &rank, dims, &err), &err);
    CHECK(rank == 2 && dims[0] == 3 && dims[1] == 2);
    CHECK_OK(at_store_shape(st, "meta/classes", &rank, dims, &err), &err);
    CHECK(rank == 1 && dims[0] == 4);
    double m[6];
    CHECK_OK(at_store_read_f64(st, "model/m64", m, 6, &err), &err);
    CHECK(m[0] == 1 && m[2] == 3 && m[3] == 4 && m[5] == 6);
    float mf[6];
    CHECK_OK(at_store_read_f32(st, "model/m32", mf, 6, &err), &err);
    CHECK(mf[0] == -1 && mf[5] == -6);
    CHECK_FAIL(at_store_read_f64(st, "model/m64", m, 5, &err), AT_ERR_MODEL, &err, "has 6 elements");
    int32_t i3[4];
    CHECK_OK(at_store_read_i32(st, "model/b/c/i32", i3, 4, &err), &err);
    CHECK(i3[1] == -2);

    int64_t iv;
    double rv;
    CHECK_OK(at_store_get_int(st, "meta/n_trees", &iv, &err), &err);
    CHECK(iv == 300);
    CHECK_OK(at_store_get_real(st, "meta/lr", &rv, &err), &err);
    CHECK(rv == 0.125);
    CHECK_OK(at_store_get_f64(st, "model/none", &d, &n, &err), &err);
    CHECK(n == 0);
    free(d);
    CHECK_OK(at_store_get_f64(st, "model/big", &d, &n, &err), &err);
    CHECK(n == 100000 && d[0] == 0 && d[99999] == 999 * 0.5 && d[1234] == 234 * 0.5);
    free(d);
    at_store_close(st);
}

static void test_read_errors(void) {
    at_error err = {0};
    char p[256];
    path_of(p, sizeof p, "re.h5");
    CHECK_OK(write_sample(p, 0, &err), &err);
    at_store *st;
    CHECK_OK(at_store_open(p, &st, &err), &err);
    if (!st) return;
    double *d = NULL;
    size_t n;
    CHECK_FAIL(at_store_get_f64(st, "model/trees/feature", &d, &n, &err), AT_ERR_MODEL, &err,
               "missing 'model/trees/feature' (corrupt or foreign file)");
    CHECK(strstr(err.msg, p) == err.msg);
    CHECK(d == NULL);
    CHECK_FAIL(at_store_get_f64(st, "meta/classes", &d, &n, &err), AT_ERR_MODEL, &err,
               "holds strings, expected floating-point");
    CHECK_FAIL(at_store_get_f64(st, "model/b/i64", &d, &n, &err), AT_ERR_MODEL, &err,
               "holds integers");
    int32_t *i32 = NULL;
    CHECK_FAIL(at_store_get_i32(st, "model/a/f64", &i32, &n, &err), AT_ERR_MODEL, &err,
               "holds floating-point numbers, expected integers");
    /* INT64_MAX does not fit an int32: an error, not a silently clipped value. */
    CHECK_FAIL(at_store_get_i32(st, "model/b/i64", &i32, &n, &err), AT_ERR_MODEL, &err,
               "cannot read 'model/b/i64'");
    CHECK(i32 == NULL);
    char *s = NULL;
    CHECK_FAIL(at_store_get_str(st, "model/a/f64", &s, &err), AT_ERR_MODEL, &err, "expected strings");
    CHECK_FAIL(at_store_get_str(st, "model/a", &s, &err), AT_ERR_MODEL, &err, "is a group");
    int64_t iv;
    CHECK_FAIL(at_store_get_int(st, "model/a/f64", &iv, &err), AT_ERR_MODEL, &err, "expected integers");
    CHECK_FAIL(at_store_get_int(st, "model/b/i64", &iv, &err), AT_ERR_MODEL, &err, "has 3 elements");
    /* Writing to a reader is a bug, reported as such. */
    CHECK_FAIL(at_store_put_int(st, "x", 1, &err), AT_ERR_INTERNAL, &err, "not open for writing");
    at_store_close(st);
}

static void test_write_rules(void) {
    at_error err = {0};
    char p[256];
    path_of(p, sizeof p, "uncommitted.h5");
    at_store *st;
    CHECK_OK(at_store_create(p, &st, &err), &err);
    if (!st) return;
    CHECK(count_entries("uncommitted.h5.tmp.") == 1);
    CHECK_OK(at_store_put_int(st, "a/b", 7, &err), &err);
    CHECK_FAIL(at_store_put_int(st, "a/b", 8, &err), AT_ERR_INTERNAL, &err, "written twice");
    CHECK_FAIL(at_store_put_int(st, "/abs", 8, &err), AT_ERR_INTERNAL, &err, "invalid dataset name");
    CHECK_FAIL(at_store_put_f64_2d(st, "m", NULL, 0, 0, &err), AT_ERR_INTERNAL, &err, "cols > 0");
    /* The writer can read back what it wrote. */
    int64_t v = 0;
    CHECK_OK(at_store_get_int(st, "a/b", &v, &err), &err);
    CHECK(v == 7);
    at_store_close(st);
    CHECK(!file_exists(p));
    CHECK(count_entries("uncommitted") == 0);

    /* A folder that does not exist: an i/o error naming the path and the reason. */
    CHECK_FAIL(at_store_create("/nonexistent-astrotrain/m.h5", &st, &err), AT_ERR_IO, &err,
               "/nonexistent-astrotrain/m.h5: cannot write: No such file or directory");
    CHECK(st == NULL);

    /* Committing replaces an older file of the same name. */
    path_of(p, sizeof p, "replace.h5");
    spit(p, "old", 3);
    CHECK_OK(write_sample(p, 0, &err), &err);
    at_store *rd;
    CHECK_OK(at_store_open(p, &rd, &err), &err);
    at_store_close(rd);
    CHECK(count_entries(".tmp.") == 0);
}

/* A full disk (here: a file-size limit) fails cleanly with an i/o error and leaves no file. */
static void test_write_failure(void) {
    char p[256];
    path_of(p, sizeof p, "full.h5");
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {64 * 1024, 64 * 1024};
        setrlimit(RLIMIT_FSIZE, &rl);
        at_error err = {0};
        at_store *st;
        at_status s = at_store_create(p, &st, &err);
        size_t n = 1 << 20;
        double *v = malloc(n * sizeof *v);
        uint64_t x = 88172645463325252ULL;
        for (size_t i = 0; i < n; i++) { /* xorshift: incompressible */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v[i] = (double)x;
        }
        if (!s) s = at_store_put_f64(st, "big", v, n, &err);
        if (!s) s = at_store_commit(st, &err);
        else at_store_close(st);
        free(v);
        int ok = s == AT_ERR_IO && strstr(err.msg, p) && strstr(err.msg, "File too large");
        if (!ok) fprintf(stderr, "  write failure gave %d: %s\n", s, err.msg);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(!file_exists(p));
    CHECK(count_entries("full.h5") == 0);
}

/* An HDF5 file made with the raw API: optionally a format attribute and version. */
static void make_raw(const char *p, const char *format, int version) {
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sp = H5Screate(H5S_SCALAR);
    if (format) {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, strlen(format) + 1);
        hid_t a = H5Acreate2(f, "format", t, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, t, format);
        H5Aclose(a);
        H5Tclose(t);
    }
    if (version) {
        hid_t a = H5Acreate2(f, "format_version", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_INT, &version);
        H5Aclose(a);
    }
    hsize_t dims[1] = {3};
    hid_t ds_sp = H5Screate_simple(1, dims, NULL);
    hid_t ds = H5Dcreate2(f, "data", H5T_IEEE_F64LE, ds_sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    double v[3] = {1, 2, 3};
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds);
    H5Sclose(ds_sp);
    H5Sclose(sp);
    H5Fclose(f);
}

static void test_open_errors(void) {
    at_error err = {0};
    char p[256];
    at_store *st = NULL;
    path_of(p, sizeof p, "missing.h5");
    CHECK_FAIL(at_store_open(p, &st, &err), AT_ERR_IO, &err, "missing.h5: No such file or directory");
    CHECK(st == NULL);
    CHECK_FAIL(at_store_open(dir, &st, &err), AT_ERR_IO, &err, "Is a directory");

    path_of(p, sizeof p, "text.h5");
    spit(p, "sepal_length,class\n5.1,setosa\n", 30);
    CHECK_FAIL(at_store_open(p, &st, &err), AT_ERR_MODEL, &err, "not an HDF5 file (not an astrotrain model)");
    path_of(p, sizeof p, "empty.h5");
    spit(p, "", 0);
    CHECK_FAIL(at_store_open(p, &st, &err), AT_ERR_MODEL, &err, "not an HDF5 file");

    path_of(p, sizeof p, "foreign.h5");
    make_raw(p, NULL, 0);
    CHECK_FAIL(at_store_open(p, &st, &err), AT_ERR_MODEL, &err,
               "not an astrotrain model file (format attribute missing)");
    make_raw(p, "keras-model", 1);
    CHECK_FAIL(at_store_open(p, &st, &err), AT_ERR_MODEL, &err, "not an astrotrain model file");
    make_raw(p, AT_MODEL_FORMAT, 0);
    CHECK_FAIL(at_store_open(p, &st, &err), AT_ERR_MODEL, &err, "format_version attribute missing");

    path_of(p, sizeof p, "newer.h5");
    make_raw(p, AT_MODEL_FORMAT, 2);
    CHECK_FAIL(at_store_open(p, &st, &err), AT_ERR_MODEL, &err,
               "model format version 2 is newer than this astrotrain supports (1); upgrade astrotrain");
    CHECK(st == NULL);
    /* A file made by plain HDF5 (old object format) with the right attributes opens. */
    path_of(p, sizeof p, "plain.h5");
    make_raw(p, AT_MODEL_FORMAT, 1);
    CHECK_OK(at_store_open(p, &st, &err), &err);
    double v[3] = {0};
    if (st) CHECK_OK(at_store_read_f64(st, "data", v, 3, &err), &err);
    CHECK(v[2] == 3);
    at_store_close(st);
}

/* Opens p and reads everything the sample holds; returns the number of errors. Must never
 * crash, whatever the bytes (the sanitizer build makes sure of that). */
static int read_everything(const char *p) {
    at_error err = {0};
    at_store *st;
    if (at_store_open(p, &st, &err)) return 1;
    int errors = 0;
    static const char *const nums[] = {"model/a/f64", "model/a/f32", "model/m64", "model/m32",
                                       "meta/lr", "model/none"};
    static const char *const ints[] = {"model/b/c/i32", "model/b/i64", "u8", "meta/n_trees"};
    static const char *const strs[] = {"meta/type", "meta/empty", "meta/classes"};
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        double *d;
        size_t n, rank, dims[2];
        if (at_store_get_f64(st, nums[i], &d, &n, &err)) errors++;
        else free(d);
        if (at_store_shape(st, nums[i], &rank, dims, &err)) errors++;
    }
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        int64_t *v;
        size_t n;
        if (at_store_get_i64(st, ints[i], &v, &n, &err)) errors++;
        else free(v);
    }
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        char **s;
        size_t n;
        if (at_store_get_strs(st, strs[i], &s, &n, &err)) errors++;
        else at_strs_free(s, n);
    }
    at_store_close(st);
    return errors;
}

static void test_truncated(void) {
    at_error err = {0};
    char p[256], q[256];
    path_of(p, sizeof p, "whole.h5");
    path_of(q, sizeof q, "cut.h5");
    CHECK_OK(write_sample(p, 0, &err), &err);
    CHECK(read_everything(p) == 0);
    size_t n;
    unsigned char *b = slurp(p, &n);
    if (!b) return;
    size_t cuts[] = {0, 4, 8, 48, 100, 512, n / 4, n / 2, 3 * n / 4, n - 100, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        spit(q, b, cuts[i]);
        int e = read_everything(q);
        if (e == 0) fprintf(stderr, "  cut at %zu of %zu read without error\n", cuts[i], n);
        CHECK(e > 0);
    }
    free(b);
}

static void test_bit_flips(void) {
    at_error err = {0};
    char p[256], q[256];
    path_of(p, sizeof p, "clean.h5");
    path_of(q, sizeof q, "flipped.h5");
    CHECK_OK(write_sample(p, 0, &err), &err);
    size_t n;
    unsigned char *b = slurp(p, &n);
    if (!b) return;
    unsigned char *c = malloc(n);
    int detected = 0, tries = 0;
    /* Flip bytes across the whole file, the superblock and object headers included. */
    for (size_t pos = 0; pos < n; pos += (pos < 256 ? 7 : 37)) {
        memcpy(c, b, n);
        c[pos] ^= (unsigned char)(0x5a ^ (pos & 0xff));
        if (c[pos] == b[pos]) c[pos] ^= 0x80;
        spit(q, c, n);
        detected += read_everything(q) > 0;
        tries++;
    }
    fprintf(stderr, "  bit flips: %d of %d detected\n", detected, tries);
    CHECK(tries > 50);
    /* measured 163 of 218: flips in padding or unused space cannot be seen; a reader that
     * stopped checking would detect only the few HDF5 itself trips over */
    CHECK(detected * 2 >= tries);
    free(c);
    free(b);
}

static void test_h5dump(void) {
    if (system("command -v h5dump >/dev/null 2>&1") != 0) SKIP("h5dump not on PATH");
    at_error err = {0};
    char p[256], cmd[1024];
    path_of(p, sizeof p, "dump.h5");
    CHECK_OK(write_sample(p, 1, &err), &err);
    snprintf(cmd, sizeof cmd, "h5dump -H '%s' >/dev/null 2>&1", p);
    CHECK(system(cmd) == 0);
    /* The strings come out as text, the format attribute included. */
    snprintf(cmd, sizeof cmd,
             "h5dump -a format -d meta/classes '%s' 2>&1 | grep -q 'astrotrain-model' && "
             "h5dump -d meta/classes '%s' 2>&1 | grep -q 'QSO'", p, p);
    CHECK(system(cmd) == 0);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/at_store_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_round_trip);
    RUN(test_read_errors);
    RUN(test_write_rules);
    RUN(test_write_failure);
    RUN(test_open_errors);
    RUN(test_truncated);
    RUN(test_bit_flips);
    RUN(test_h5dump);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return harness_done();
}
