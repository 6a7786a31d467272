/* progress.c - null-safe calls into the caller's progress callbacks. */
#include "astrotrain/progress.h"

#include <stdarg.h>
#include <stdio.h>

void at_progress_update(const at_progress *p, const char *stage, size_t done, size_t total,
                        const char *detail) {
    if (p && p->update) p->update(p->ctx, stage, done, total, detail);
}

void at_progress_log(const at_progress *p, const char *fmt, ...) {
    if (!p || !p->log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    p->log(p->ctx, line);
}

int at_progress_stopped(const at_progress *p) { return p && p->stop && *p->stop; }
