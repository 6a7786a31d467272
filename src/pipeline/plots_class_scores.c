/* plots_class_scores.c - per-class precision, recall and F1 as grouped bars: one figure per
 * classification run (class_scores: the three scores of each class, test part), and one per
 * study (class_f1: each class's F1 for every model side by side, e.g. from scratch against
 * fine-tuned). */
#include <stdlib.h>

#include "astrotrain/plot.h"
#include "pipeline/plots.h"

at_status at_class_scores_plot(const char *dir, const at_metrics *m, const char *const *class_names, size_t k,
                               at_error *err) {
    double *v = malloc((k ? k : 1) * 3 * sizeof *v);
    if (!v) return at_fail(err, AT_ERR_MEMORY, "out of memory (plots)");
    for (size_t c = 0; c < k; c++) {
        v[c * 3] = m->per_class[c].precision;
        v[c * 3 + 1] = m->per_class[c].recall;
        v[c * 3 + 2] = m->per_class[c].f1;
    }
    static const char *const series[3] = {"precision", "recall", "F1"};
    at_status s = at_plot_bars(dir, "class_scores", "Per-class precision, recall and F1, test part", "class", "score",
                               class_names, k, series, 3, v, err);
    free(v);
    return s;
}

at_status at_class_f1_plot(const char *dir, const char *const *models, const at_metrics *const *m, size_t nm,
                           const char *const *class_names, size_t k, at_error *err) {
    double *v = malloc((k ? k : 1) * (nm ? nm : 1) * sizeof *v);
    if (!v) return at_fail(err, AT_ERR_MEMORY, "out of memory (plots)");
    for (size_t c = 0; c < k; c++)
        for (size_t j = 0; j < nm; j++) v[c * nm + j] = m[j]->per_class[c].f1;
    at_status s = at_plot_bars(dir, "class_f1", "Per-class F1 of every model, test part", "class", "F1", class_names, k,
                               models, nm, v, err);
    free(v);
    return s;
}
