/* metrics.c - classification figures from true labels and predicted probabilities. */
#include "astrotrain/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t at_argmax(const double *p, size_t k) {
    size_t best = 0;
    for (size_t c = 1; c < k; c++)
        if (p[c] > p[best]) best = c;
    return best;
}

at_status at_metrics_compute(const int32_t *y, const double *P, size_t n, size_t k,
                             double confident_threshold, at_metrics *m, at_error *err) {
    memset(m, 0, sizeof *m);
    m->n = n;
    m->k = k;
    m->threshold = confident_threshold;
    m->confusion = at_calloc(k * k, sizeof *m->confusion, err);
    m->per_class = at_calloc(k, sizeof *m->per_class, err);
    size_t *confident = at_calloc(k, sizeof *confident, err);
    if (!m->confusion || !m->per_class || !confident) {
        free(confident);
        at_metrics_free(m);
        return AT_ERR_MEMORY;
    }
    double ll = 0;
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        const double *p = P + i * k;
        size_t t = (size_t)y[i], q = at_argmax(p, k);
        if (y[i] < 0 || t >= k) {
            free(confident);
            at_metrics_free(m);
            return at_fail(err, AT_ERR_INTERNAL, "metrics: label %d out of range", (int)y[i]);
        }
        m->confusion[t * k + q]++;
        double pt = p[t];
        if (!(pt >= 1e-15)) pt = 1e-15;
        if (pt > 1) pt = 1;
        ll -= log(pt);
        if (t == q) {
            correct++;
            if (p[q] > confident_threshold) confident[q]++;
        }
    }
    m->accuracy = n ? (double)correct / (double)n : NAN;
    m->log_loss = n ? ll / (double)n : NAN;
    double f1sum = 0;
    for (size_t c = 0; c < k; c++) {
        size_t tp = m->confusion[c * k + c], row = 0, col = 0;
        for (size_t j = 0; j < k; j++) row += m->confusion[c * k + j], col += m->confusion[j * k + c];
        at_class_metrics *pc = &m->per_class[c];
        pc->support = row;
        pc->precision = col ? (double)tp / (double)col : 0.0;
        pc->recall = row ? (double)tp / (double)row : 0.0;
        pc->f1 = pc->precision + pc->recall > 0 ? 2 * pc->precision * pc->recall / (pc->precision + pc->recall) : 0.0;
        pc->confident_fraction = tp ? (double)confident[c] / (double)tp : NAN;
        f1sum += pc->f1;
    }
    m->macro_f1 = k ? f1sum / (double)k : NAN;
    free(confident);
    return AT_OK;
}

void at_metrics_free(at_metrics *m) {
    free(m->confusion);
    free(m->per_class);
    m->confusion = NULL;
    m->per_class = NULL;
}

void at_metrics_json(const at_metrics *m, const char *const *class_names, at_json *j) {
    at_json_begin_object(j);
    at_json_kv_int(j, "n", (int64_t)m->n);
    at_json_kv_number(j, "accuracy", m->accuracy);
    at_json_kv_number(j, "macro_f1", m->macro_f1);
    at_json_kv_number(j, "log_loss", m->log_loss);
    at_json_key(j, "classes");
    at_json_begin_array(j);
    for (size_t c = 0; c < m->k; c++) at_json_string(j, class_names[c]);
    at_json_end_array(j);
    at_json_key(j, "confusion");
    at_json_begin_array(j);
    for (size_t r = 0; r < m->k; r++) {
        at_json_begin_array(j);
        for (size_t c = 0; c < m->k; c++) at_json_int(j, (int64_t)m->confusion[r * m->k + c]);
        at_json_end_array(j);
    }
    at_json_end_array(j);
    at_json_kv_number(j, "confident_threshold", m->threshold);
    at_json_key(j, "per_class");
    at_json_begin_object(j);
    for (size_t c = 0; c < m->k; c++) {
        const at_class_metrics *pc = &m->per_class[c];
        at_json_key(j, class_names[c]);
        at_json_begin_object(j);
        at_json_kv_number(j, "precision", pc->precision);
        at_json_kv_number(j, "recall", pc->recall);
        at_json_kv_number(j, "f1", pc->f1);
        at_json_kv_int(j, "support", (int64_t)pc->support);
        at_json_kv_number(j, "confident_fraction", pc->confident_fraction);
        at_json_end_object(j);
    }
    at_json_end_object(j);
    at_json_end_object(j);
}
