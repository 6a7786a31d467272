/* fuzz_monitor.c - what `astrotrain monitor` reads from outside: history.jsonl (the first
 * byte clear) and a labels file for labels later (the first byte set). The history parser
 * must accept or reject with a message, and an accepted history holds only objects with a
 * unique string "batch"; an accepted labels file gives keys sorted without repeats and
 * classes in range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/monitor.h"
#include "fuzz_util.h"

static const char *const mon_classes_[] = {"GALAXY", "QSO", "STAR"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    at_error err = {0};
    if (!(data[0] & 1)) {
        json_t *recs = NULL;
        at_status s = at_history_parse((const char *)data + 1, size - 1, "history.jsonl", &recs, &err);
        if (s == AT_OK) {
            if (!json_is_array(recs)) abort();
            size_t i;
            json_t *r;
            json_array_foreach(recs, i, r) {
                const char *b = json_string_value(json_object_get(r, "batch"));
                if (!json_is_object(r) || !b) abort();
                if (at_history_find(recs, b) != r) abort(); /* unique */
            }
            json_decref(recs);
        } else if (!err.msg[0] || recs) {
            abort();
        }
        return 0;
    }
    const char *path = fuzz_write(data + 1, size - 1);
    double *keys = NULL;
    int32_t *cls = NULL;
    size_t n = 0;
    at_status s = at_monitor_read_labels(path, (data[0] & 2) ? "row" : "objid", "class", mon_classes_, 3, &keys, &cls,
                                         &n, &err);
    if (s == AT_OK) {
        for (size_t i = 0; i < n; i++) {
            if (cls[i] < 0 || cls[i] > 2) abort();
            if (i && !(keys[i - 1] < keys[i])) abort();
        }
    } else if (!err.msg[0] || keys || cls) {
        abort();
    }
    free(keys);
    free(cls);
    return 0;
}
