/* status.c - filling at_error records and checked allocation. */
#include "astrotrain/status.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

at_status at_fail(at_error *err, at_status code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

at_status at_error_prefix(at_error *err, const char *fmt, ...) {
    if (!err) return AT_ERR_INTERNAL;
    char head[AT_ERROR_MAX], old[AT_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Head first, then as much of the old message as fits. */
    size_t hl = strnlen(head, sizeof head - 1);
    memcpy(err->msg, head, hl);
    size_t room = sizeof err->msg - 1 - hl;
    size_t ol = strnlen(old, room);
    memcpy(err->msg + hl, old, ol);
    err->msg[hl + ol] = '\0';
    return err->code;
}

void at_error_clear(at_error *err) {
    if (err) {
        err->code = AT_OK;
        err->msg[0] = '\0';
    }
}

const char *at_status_name(at_status code) {
    switch (code) {
    case AT_OK: return "ok";
    case AT_ERR_USAGE: return "usage error";
    case AT_ERR_CONFIG: return "config error";
    case AT_ERR_DATA: return "data error";
    case AT_ERR_IO: return "i/o error";
    case AT_ERR_MODEL: return "model file error";
    case AT_ERR_MEMORY: return "out of memory";
    case AT_ERR_INTERRUPTED: return "interrupted";
    case AT_ERR_INTERNAL: return "internal error";
    }
    return "unknown error";
}

void *at_malloc(size_t n, size_t size, at_error *err) {
    if (size && n > SIZE_MAX / size) {
        at_fail(err, AT_ERR_MEMORY, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    size_t bytes = n * size;
    void *p = malloc(bytes ? bytes : 1);
    if (!p) at_fail(err, AT_ERR_MEMORY, "out of memory allocating %zu bytes", bytes);
    return p;
}

void *at_calloc(size_t n, size_t size, at_error *err) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) at_fail(err, AT_ERR_MEMORY, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

char *at_strdup(const char *s, at_error *err) {
    size_t n = strlen(s) + 1;
    char *p = at_malloc(n, 1, err);
    if (p) memcpy(p, s, n);
    return p;
}
