/* test_monitor_parse.c - the one-line messages of the monitor's outside-file parsers
 * (history.jsonl records, labels files); tests/unit/test_fuzz_corpus.c replays the fuzz
 * corpus of the same parsers (tests/fuzz/corpus/monitor/). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "astrotrain/monitor.h"
#include "../fuzz/fuzz_util.h"

static const char *const mon_classes_[] = {"GALAXY", "QSO", "STAR"};

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
    RUN(test_history_messages);
    RUN(test_labels_messages);
    return harness_done();
}
