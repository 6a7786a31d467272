/* test_monitor_fuzz_corpus.c - replays every kept input of tests/fuzz/corpus/monitor/
 * (history.jsonl and labels files) through the monitor fuzz target in the ordinary build
 * and under the sanitizers, and checks what the parsers say about the seeds. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

#define LLVMFuzzerTestOneInput fuzz_monitor_one
#include "../fuzz/fuzz_monitor.c"
#undef LLVMFuzzerTestOneInput

static size_t replay(const char *name) {
    char dir[512];
    const char *root = getenv("AT_ROOT");
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", root && *root ? root : ".", name);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        struct stat sb;
        if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
            fclose(f);
            continue;
        }
        size_t len = (size_t)sb.st_size;
        uint8_t *buf = malloc(len ? len : 1);
        CHECK(buf && fread(buf, 1, len, f) == len);
        fclose(f);
        fprintf(stderr, "  %s\n", path);
        fuzz_monitor_one(buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void test_monitor_corpus(void) { CHECK(replay("monitor") >= 9); }

static void test_history_messages(void) {
    at_error err = {0};
    json_t *r = NULL;
    const char *dup = "{\"batch\":\"a\"}\n\n{\"batch\":\"a\"}\n";
    CHECK_FAIL(at_history_parse(dup, strlen(dup), "h.jsonl", &r, &err), AT_ERR_DATA, &err, "h.jsonl:3: batch 'a' recorded twice");
    const char *half = "{\"batch\":\"a\"}\n{\"batch\":\"b\",\"rows\":{\"re";
    CHECK_FAIL(at_history_parse(half, strlen(half), "h.jsonl", &r, &err), AT_ERR_DATA, &err, "h.jsonl:2: not a JSON record");
    const char *arr = "[1]\n";
    CHECK_FAIL(at_history_parse(arr, strlen(arr), "h.jsonl", &r, &err), AT_ERR_DATA, &err, "h.jsonl:1: a record must be");
    const char *good = "{\"batch\":\"a\"}\r\n  \n{\"batch\":\"b\"}";
    CHECK_OK(at_history_parse(good, strlen(good), "h.jsonl", &r, &err), &err);
    CHECK(json_array_size(r) == 2 && at_history_find(r, "b") == json_array_get(r, 1) && !at_history_find(r, "c"));
    json_decref(r);
}

static void test_labels_messages(void) {
    at_error err = {0};
    double *k = NULL;
    int32_t *c = NULL;
    size_t n = 0;
    const char *p = fuzz_write("objid,class\n3,STAR\n1.5,QSO\n3,STAR\n", 34);
    CHECK_OK(at_monitor_read_labels(p, "objid", "class", mon_classes_, 3, &k, &c, &n, &err), &err);
    CHECK(n == 2 && k[0] == 1.5 && c[0] == 1 && k[1] == 3 && c[1] == 2);
    free(k), free(c);
    p = fuzz_write("objid,class\n3,STAR\n3,QSO\n", 25);
    CHECK_FAIL(at_monitor_read_labels(p, "objid", "class", mon_classes_, 3, &k, &c, &n, &err), AT_ERR_DATA, &err,
               ":3: key 3 already has another label (line 2)");
    p = fuzz_write("objid,class\nx,STAR\n", 19);
    CHECK_FAIL(at_monitor_read_labels(p, "objid", "class", mon_classes_, 3, &k, &c, &n, &err), AT_ERR_DATA, &err,
               ":2: key 'x' in column 'objid' is not a number");
    p = fuzz_write("id,class\n1,STAR\n", 16);
    CHECK_FAIL(at_monitor_read_labels(p, "objid", "class", mon_classes_, 3, &k, &c, &n, &err), AT_ERR_DATA, &err,
               "no column 'objid'");
}

int main(void) {
    RUN(test_monitor_corpus);
    RUN(test_history_messages);
    RUN(test_labels_messages);
    return harness_done();
}
