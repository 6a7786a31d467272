/* json.c - streaming JSON writer used for metrics.json and model descriptions. */
#include "astrotrain/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void at_json_init(at_json *j) { memset(j, 0, sizeof *j); }
void at_json_free(at_json *j) {
    free(j->buf);
    memset(j, 0, sizeof *j);
}

static void put(at_json *j, const char *s, size_t n) {
    if (j->failed) return;
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 256;
        while (cap < j->len + n + 1) cap *= 2;
        char *b = realloc(j->buf, cap);
        if (!b) {
            j->failed = 1;
            return;
        }
        j->buf = b;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}
static void puts_(at_json *j, const char *s) { put(j, s, strlen(s)); }

static void indent(at_json *j) {
    put(j, "\n", 1);
    for (int i = 0; i < j->depth; i++) put(j, "  ", 2);
}

/* Before a value: a comma if needed, and a new line inside containers. `after_key` values
 * follow their key on the same line. */
static int after_key_flag(at_json *j) { return j->depth > 0 && j->need_comma[j->depth] == 2; }
static void before_value(at_json *j) {
    if (after_key_flag(j)) {
        j->need_comma[j->depth] = 1;
        return;
    }
    if (j->depth > 0) {
        if (j->need_comma[j->depth]) put(j, ",", 1);
        indent(j);
        j->need_comma[j->depth] = 1;
    }
}

static void open_(at_json *j, const char *c) {
    before_value(j);
    puts_(j, c);
    if (j->depth < 63) j->depth++;
    j->need_comma[j->depth] = 0;
}
static void close_(at_json *j, const char *c) {
    int had = j->need_comma[j->depth];
    if (j->depth > 0) j->depth--;
    if (had) indent(j);
    puts_(j, c);
}
void at_json_begin_object(at_json *j) { open_(j, "{"); }
void at_json_end_object(at_json *j) { close_(j, "}"); }
void at_json_begin_array(at_json *j) { open_(j, "["); }
void at_json_end_array(at_json *j) { close_(j, "]"); }

static void quoted(at_json *j, const char *s) {
    put(j, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': puts_(j, "\\\""); break;
        case '\\': puts_(j, "\\\\"); break;
        case '\n': puts_(j, "\\n"); break;
        case '\r': puts_(j, "\\r"); break;
        case '\t': puts_(j, "\\t"); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                puts_(j, esc);
            } else {
                put(j, (const char *)p, 1);
            }
        }
    }
    put(j, "\"", 1);
}

void at_json_key(at_json *j, const char *key) {
    before_value(j);
    quoted(j, key);
    puts_(j, ": ");
    j->need_comma[j->depth] = 2;
}
void at_json_string(at_json *j, const char *s) {
    before_value(j);
    quoted(j, s ? s : "");
}
void at_json_number(at_json *j, double v) {
    before_value(j);
    if (!isfinite(v)) {
        puts_(j, "null");
        return;
    }
    char b[40];
    snprintf(b, sizeof b, "%.17g", v);
    /* Prefer the shortest text that reads back to the same double. */
    for (int prec = 6; prec < 17; prec++) {
        char t[40];
        snprintf(t, sizeof t, "%.*g", prec, v);
        if (strtod(t, NULL) == v) {
            memcpy(b, t, sizeof t);
            break;
        }
    }
    puts_(j, b);
}
void at_json_int(at_json *j, int64_t v) {
    before_value(j);
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)v);
    puts_(j, b);
}
void at_json_bool(at_json *j, int v) {
    before_value(j);
    puts_(j, v ? "true" : "false");
}
void at_json_null(at_json *j) {
    before_value(j);
    puts_(j, "null");
}
void at_json_kv_string(at_json *j, const char *key, const char *s) {
    at_json_key(j, key);
    at_json_string(j, s);
}
void at_json_kv_number(at_json *j, const char *key, double v) {
    at_json_key(j, key);
    at_json_number(j, v);
}
void at_json_kv_int(at_json *j, const char *key, int64_t v) {
    at_json_key(j, key);
    at_json_int(j, v);
}
