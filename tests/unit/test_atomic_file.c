/* test_atomic_file.c - whole-or-nothing writes: the file appears complete or not at all, and
 * failures (missing folder, full disk) are AT_ERR_IO naming the path and leave no temp file. */
#include "astrotrain/atomic_file.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static char dir[64];

static int entries(const char *text) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, text)) n++;
    if (d) closedir(d);
    return n;
}

static char *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    char *b = malloc(1 << 16);
    *n = fread(b, 1, 1 << 16, f);
    fclose(f);
    return b;
}

static void test_one_shot(void) {
    at_error err = {0};
    char p[256];
    snprintf(p, sizeof p, "%s/a.txt", dir);
    CHECK_OK(at_write_file_atomic(p, "hello\n", 6, &err), &err);
    size_t n = 0;
    char *b = slurp(p, &n);
    CHECK(b && n == 6 && memcmp(b, "hello\n", 6) == 0);
    free(b);
    /* Replacing keeps only the new content; empty files are fine. */
    CHECK_OK(at_write_file_atomic(p, "", 0, &err), &err);
    b = slurp(p, &n);
    CHECK(b && n == 0);
    free(b);
    CHECK(entries(".tmp.") == 0);
    CHECK_FAIL(at_write_file_atomic("/nonexistent-astrotrain/a.txt", "x", 1, &err), AT_ERR_IO, &err,
               "/nonexistent-astrotrain/a.txt: cannot write: No such file or directory");
}

static void test_stream(void) {
    at_error err = {0};
    char p[256];
    snprintf(p, sizeof p, "%s/s.csv", dir);
    at_afile *f = at_afile_open(p, &err);
    CHECK(f != NULL);
    if (!f) return;
    for (int i = 0; i < 1000; i++) fprintf(at_afile_stream(f), "%d,%d\n", i, i * i);
    /* Nothing under the real name until the commit. */
    CHECK(access(p, F_OK) != 0);
    CHECK(entries("s.csv.tmp.") == 1);
    CHECK_OK(at_afile_commit(f, &err), &err);
    size_t n = 0;
    char *b = slurp(p, &n);
    CHECK(b && n > 5000 && memcmp(b, "0,0\n1,1\n2,4\n", 12) == 0);
    free(b);
    CHECK(entries(".tmp.") == 0);

    /* Abort: the old file stays as it was, the temp file goes. */
    f = at_afile_open(p, &err);
    if (!f) return;
    fputs("half a fi", at_afile_stream(f));
    at_afile_abort(f);
    b = slurp(p, &n);
    CHECK(b && memcmp(b, "0,0\n", 4) == 0);
    free(b);
    CHECK(entries(".tmp.") == 0);

    CHECK(at_afile_open("/nonexistent-astrotrain/s.csv", &err) == NULL);
    CHECK(err.code == AT_ERR_IO && strstr(err.msg, "No such file or directory"));
    CHECK(at_afile_stream(NULL) == NULL);
    at_afile_abort(NULL);
}

/* A full disk, made with a file-size limit in a child: the write fails, nothing is left. */
static void test_full_disk(void) {
    char p[256];
    snprintf(p, sizeof p, "%s/big.bin", dir);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {10000, 10000};
        setrlimit(RLIMIT_FSIZE, &rl);
        at_error err = {0};
        size_t n = 100000;
        char *data = calloc(n, 1);
        at_status s1 = at_write_file_atomic(p, data, n, &err);
        int ok1 = s1 == AT_ERR_IO && strstr(err.msg, p) && strstr(err.msg, "File too large");
        if (!ok1) fprintf(stderr, "  one-shot: %d %s\n", s1, err.msg);
        at_afile *f = at_afile_open(p, &err);
        int ok2 = 0;
        if (f) {
            for (int i = 0; i < 20000; i++) fputs("0123456789", at_afile_stream(f));
            at_status s2 = at_afile_commit(f, &err);
            ok2 = s2 == AT_ERR_IO && strstr(err.msg, p) != NULL;
            if (!ok2) fprintf(stderr, "  stream: %d %s\n", s2, err.msg);
        }
        free(data);
        _exit(ok1 && ok2 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(access(p, F_OK) != 0);
    CHECK(entries("big.bin") == 0);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/at_afile_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_one_shot);
    RUN(test_stream);
    RUN(test_full_disk);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return harness_done();
}
