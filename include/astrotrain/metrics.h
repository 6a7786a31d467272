/* metrics.h - classification figures: accuracy, macro-F1, log-loss, confusion matrix,
 * per-class precision/recall/F1/support and the confident fraction. */
#ifndef ASTROTRAIN_METRICS_H
#define ASTROTRAIN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "status.h"

typedef struct at_class_metrics {
    double precision, recall, f1;
    size_t support;
    /* Among rows correctly classified as this class, the fraction whose probability for
     * it exceeds the threshold (the reference study's pre-production figure); NaN if none. */
    double confident_fraction;
} at_class_metrics;

typedef struct at_metrics {
    size_t n, k;
    double accuracy, macro_f1, log_loss;
    size_t *confusion;            /* k * k, row = true class, column = predicted */
    at_class_metrics *per_class;  /* k */
    double threshold;
} at_metrics;

/* y: n true labels; P: n * k probabilities. Predicted class = argmax (first on ties).
 * log_loss clips probabilities to [1e-15, 1]. */
at_status at_metrics_compute(const int32_t *y, const double *P, size_t n, size_t k,
                             double confident_threshold, at_metrics *m, at_error *err);
void at_metrics_free(at_metrics *m);

/* argmax of a probability row (first on ties). */
size_t at_argmax(const double *p, size_t k);

/* {"accuracy":..,"macro_f1":..,"log_loss":..,"classes":[..],"confusion":[[..]],"per_class":{..}} */
void at_metrics_json(const at_metrics *m, const char *const *class_names, at_json *j);

#endif
