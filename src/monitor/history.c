/* history.c - DIR/history.jsonl, one JSON object per line per batch: parse with jansson,
 * append or replace a record by rewriting the whole file atomically under a lock, so a
 * crash or a concurrent monitor never leaves half a line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "astrotrain/atomic_file.h"
#include "astrotrain/monitor.h"

at_status at_history_parse(const char *text, size_t len, const char *path, json_t **records, at_error *err) {
    *records = NULL;
    json_t *arr = json_array();
    if (!arr) return at_fail(err, AT_ERR_MEMORY, "out of memory");
    size_t line = 0, pos = 0;
    at_status s = AT_OK;
    while (pos < len && !s) {
        line++;
        size_t end = pos;
        while (end < len && text[end] != '\n') end++;
        size_t n = end - pos;
        if (n && text[pos + n - 1] == '\r') n--;
        int blank = 1;
        for (size_t i = 0; i < n; i++)
            if (text[pos + i] != ' ' && text[pos + i] != '\t') blank = 0;
        if (!blank) {
            json_error_t je;
            json_t *rec = json_loadb(text + pos, n, JSON_REJECT_DUPLICATES, &je);
            if (!rec) {
                s = at_fail(err, AT_ERR_DATA, "%s:%zu: not a JSON record: %s", path, line, je.text);
            } else if (!json_is_object(rec) || !json_is_string(json_object_get(rec, "batch"))) {
                s = at_fail(err, AT_ERR_DATA, "%s:%zu: a record must be a JSON object with a string \"batch\"", path,
                            line);
                json_decref(rec);
            } else if (at_history_find(arr, json_string_value(json_object_get(rec, "batch")))) {
                s = at_fail(err, AT_ERR_DATA, "%s:%zu: batch '%s' recorded twice", path, line,
                            json_string_value(json_object_get(rec, "batch")));
                json_decref(rec);
            } else if (json_array_append_new(arr, rec)) {
                s = at_fail(err, AT_ERR_MEMORY, "out of memory");
            }
        }
        pos = end + 1;
    }
    if (s) {
        json_decref(arr);
        return s;
    }
    *records = arr;
    return AT_OK;
}

json_t *at_history_find(json_t *records, const char *batch) {
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec) {
        const char *b = json_string_value(json_object_get(rec, "batch"));
        if (b && strcmp(b, batch) == 0) return rec;
    }
    return NULL;
}

/* The whole of path into memory (*text NUL-terminated); a missing file is empty. */
static at_status read_all(const char *path, char **text, size_t *len, at_error *err) {
    *text = NULL, *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) {
            *text = at_calloc(1, 1, err);
            return *text ? AT_OK : AT_ERR_MEMORY;
        }
        return at_fail(err, AT_ERR_IO, "%s: %s", path, strerror(errno));
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = at_malloc(cap, 1, err);
    at_status s = buf ? AT_OK : AT_ERR_MEMORY;
    while (!s) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                s = at_fail(err, AT_ERR_MEMORY, "out of memory reading %s", path);
                break;
            }
            buf = nb, cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) s = at_fail(err, AT_ERR_IO, "%s: cannot read", path);
            break;
        }
    }
    fclose(f);
    if (s) {
        free(buf);
        return s;
    }
    buf[n] = 0;
    *text = buf, *len = n;
    return AT_OK;
}

at_status at_history_load(const char *dir, json_t **records, at_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/history.jsonl", dir);
    char *text = NULL;
    size_t len = 0;
    at_status s = read_all(path, &text, &len, err);
    if (s) return s;
    s = at_history_parse(text, len, path, records, err);
    free(text);
    return s;
}

/* Writes every record, one compact line each, as the new history.jsonl. */
static at_status write_history(const char *dir, json_t *records, at_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/history.jsonl", dir);
    at_afile *af = at_afile_open(path, err);
    if (!af) return err ? err->code : AT_ERR_IO;
    FILE *f = at_afile_stream(af);
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec) {
        if (json_dumpf(rec, f, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) != 0) {
            at_afile_abort(af);
            return at_fail(err, AT_ERR_IO, "%s: cannot write", path);
        }
        fputc('\n', f);
    }
    return at_afile_commit(af, err);
}

/* Runs the change under an exclusive lock on DIR/.history.lock. */
static at_status locked_update(const char *dir, json_t *record, int replace, at_error *err) {
    char lock[4096];
    snprintf(lock, sizeof lock, "%s/.history.lock", dir);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return at_fail(err, AT_ERR_IO, "%s: %s", lock, strerror(errno));
    if (flock(fd, LOCK_EX) != 0) {
        close(fd);
        return at_fail(err, AT_ERR_IO, "%s: cannot lock: %s", lock, strerror(errno));
    }
    json_t *records = NULL;
    at_status s = at_history_load(dir, &records, err);
    const char *batch = json_string_value(json_object_get(record, "batch"));
    if (!s && !batch) s = at_fail(err, AT_ERR_INTERNAL, "a record without a batch name");
    if (!s) {
        json_t *old = at_history_find(records, batch);
        if (replace && !old) s = at_fail(err, AT_ERR_USAGE, "%s/history.jsonl: no batch '%s'", dir, batch);
        else if (!replace && old)
            s = at_fail(err, AT_ERR_USAGE, "%s/history.jsonl: batch '%s' is already recorded (give another --batch name)",
                        dir, batch);
        else if (replace) {
            size_t i;
            json_t *rec;
            json_array_foreach(records, i, rec) if (rec == old) {
                json_array_set(records, i, record);
                break;
            }
        } else if (json_array_append(records, record)) s = at_fail(err, AT_ERR_MEMORY, "out of memory");
    }
    if (!s) s = write_history(dir, records, err);
    json_decref(records);
    flock(fd, LOCK_UN);
    close(fd);
    return s;
}

at_status at_history_append(const char *dir, json_t *record, at_error *err) {
    return locked_update(dir, record, 0, err);
}

at_status at_history_replace(const char *dir, json_t *record, at_error *err) {
    return locked_update(dir, record, 1, err);
}
