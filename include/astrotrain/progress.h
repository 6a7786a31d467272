/* progress.h - how long work reports progress without printing: the library calls
 * back, the CLI draws a bar (terminal) or plain lines (log). */
#ifndef ASTROTRAIN_PROGRESS_H
#define ASTROTRAIN_PROGRESS_H

#include <stddef.h>

typedef struct at_progress {
    /* stage: "fit random_forest"; done/total in units of the stage (trees, epochs);
     * detail: the figures that matter now ("val_loss 0.123"), may be NULL. */
    void (*update)(void *ctx, const char *stage, size_t done, size_t total, const char *detail);
    /* A finished line for the log (stage summaries). */
    void (*log)(void *ctx, const char *line);
    void *ctx;
    /* Set asynchronously (signal handler) to ask long work to stop at a safe point. */
    volatile int *stop;
} at_progress;

/* Null-safe helpers. at_progress_log formats like printf. */
void at_progress_update(const at_progress *p, const char *stage, size_t done, size_t total,
                        const char *detail);
void at_progress_log(const at_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int at_progress_stopped(const at_progress *p);

#endif
