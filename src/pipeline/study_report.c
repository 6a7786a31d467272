/* study_report.c - report.md and a self-contained report.html (figures embedded as
 * data URIs) for a finished study, and the study-level figures: class balance, model
 * comparison, and one reliability (calibration) diagram per model. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "astrotrain/atomic_file.h"
#include "core/strbuf.h"
#include "astrotrain/ensemble.h"
#include "astrotrain/gmm.h"
#include "astrotrain/plot.h"
#include "pipeline/study.h"

/* ---- a document written as markdown and HTML at once ------------------------------------ */

typedef struct doc {
    at_strbuf md, html;
    const char *dir; /* the study folder: image paths are relative to it */
} doc;

static void doc_heading(doc *d, int level, const char *text) {
    for (int i = 0; i < level; i++) at_strbuf_put(&d->md, "#", 1);
    at_strbuf_printf(&d->md, " %s\n\n", text);
    at_strbuf_printf(&d->html, "<h%d>", level);
    at_strbuf_put_html(&d->html, text);
    at_strbuf_printf(&d->html, "</h%d>\n", level);
}

static void doc_para(doc *d, const char *text) {
    at_strbuf_printf(&d->md, "%s\n\n", text);
    at_strbuf_put(&d->html, "<p>", 3);
    at_strbuf_put_html(&d->html, text);
    at_strbuf_put(&d->html, "</p>\n", 5);
}

/* cells: rows * cols, row 0 is the header. */
static void doc_table(doc *d, char (*cells)[96], size_t rows, size_t cols) {
    at_strbuf_put(&d->html, "<table>\n", 8);
    for (size_t r = 0; r < rows; r++) {
        at_strbuf_put(&d->md, "|", 1);
        at_strbuf_put(&d->html, "<tr>", 4);
        for (size_t c = 0; c < cols; c++) {
            at_strbuf_printf(&d->md, " %s |", cells[r * cols + c]);
            at_strbuf_put(&d->html, r ? "<td>" : "<th>", 4);
            at_strbuf_put_html(&d->html, cells[r * cols + c]);
            at_strbuf_put(&d->html, r ? "</td>" : "</th>", 5);
        }
        at_strbuf_put(&d->md, "\n", 1);
        at_strbuf_put(&d->html, "</tr>\n", 6);
        if (r == 0) {
            at_strbuf_put(&d->md, "|", 1);
            for (size_t c = 0; c < cols; c++) at_strbuf_put(&d->md, "---|", 4);
            at_strbuf_put(&d->md, "\n", 1);
        }
    }
    at_strbuf_put(&d->md, "\n", 1);
    at_strbuf_put(&d->html, "</table>\n", 9);
}

static void base64(at_strbuf *b, const unsigned char *p, size_t n) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char out[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        out[0] = tbl[v >> 18 & 63];
        out[1] = tbl[v >> 12 & 63];
        out[2] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        out[3] = i + 2 < n ? tbl[v & 63] : '=';
        at_strbuf_put(b, out, 4);
    }
}

/* rel: path of the PNG relative to the study folder. */
static void doc_image(doc *d, const char *rel, const char *caption) {
    char path[AT_PATH_MAX + 400];
    snprintf(path, sizeof path, "%s/%s", d->dir, rel);
    at_strbuf_printf(&d->md, "![%s](%s)\n\n", caption, rel);
    FILE *f = fopen(path, "rb");
    at_strbuf_put(&d->html, "<figure>", 8);
    if (f) {
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        unsigned char *data = n > 0 ? malloc((size_t)n) : NULL;
        if (data && fread(data, 1, (size_t)n, f) == (size_t)n) {
            at_strbuf_put(&d->html, "<img alt=\"", 10);
            at_strbuf_put_html(&d->html, caption);
            at_strbuf_put(&d->html, "\" src=\"data:image/png;base64,", 29);
            base64(&d->html, data, (size_t)n);
            at_strbuf_put(&d->html, "\">", 2);
        }
        free(data);
        fclose(f);
    } else {
        at_strbuf_put(&d->html, "<p class=\"missing\">(figure not rendered: install gnuplot and run <code>gnuplot ", 80);
        at_strbuf_put_html(&d->html, rel);
        at_strbuf_put(&d->html, "</code> with .gp)</p>", 21);
    }
    at_strbuf_put(&d->html, "<figcaption>", 12);
    at_strbuf_put_html(&d->html, caption);
    at_strbuf_put(&d->html, "</figcaption></figure>\n", 23);
}

/* ---- the study-level figures -------------------------------------------------------------- */

static const char *class_name(const study *s, size_t c) { return s->data_base->class_names[c]; }

/* A classifier on the study's shared split (a step on its own data is reported apart). */
static int on_split(const study_step *st) { return st->r.classifier && !st->own_data; }

static at_status reliability(const char *plot_dir, const study_step *st, const at_dataset *test, size_t k,
                             char *name, size_t cap, at_error *err) {
    enum { BINS = 10 };
    double x[BINS], y[BINS * 2], conf[BINS] = {0};
    size_t count[BINS] = {0}, right[BINS] = {0};
    for (size_t i = 0; i < test->n; i++) {
        const double *p = st->r.P_test + i * k;
        size_t q = at_argmax(p, k);
        int b = (int)(p[q] * BINS);
        if (b >= BINS) b = BINS - 1;
        if (b < 0) b = 0;
        count[b]++;
        conf[b] += p[q];
        right[b] += (int32_t)q == test->y[i];
    }
    for (int b = 0; b < BINS; b++) {
        x[b] = count[b] ? conf[b] / (double)count[b] : (b + 0.5) / BINS;
        y[b * 2] = count[b] ? (double)right[b] / (double)count[b] : NAN;
        y[b * 2 + 1] = x[b];
    }
    const char *series[2] = {"observed accuracy", "perfect calibration"};
    char title[160];
    snprintf(title, sizeof title, "Reliability diagram: %s (test part, 10 bins of the winning probability)", st->name);
    snprintf(name, cap, "reliability_%s", st->name);
    return at_plot_lines(plot_dir, name, title, "mean predicted probability of the winning class", "fraction correct", x,
                         BINS, series, 2, y, 0, err);
}

static at_status study_figures(study *s, const char *plot_dir, const char **names, size_t *n, char (*owned)[96],
                               at_error *err) {
    const at_prepared *d = s->data_base;
    size_t k = d->k;
    double *v = malloc(2 * k * sizeof *v);
    if (!v) return at_fail(err, AT_ERR_MEMORY, "out of memory (report)");
    for (size_t c = 0; c < k; c++) v[c * 2] = (double)d->counts_before[c], v[c * 2 + 1] = (double)d->counts_after[c];
    const char *series[2] = {"before undersampling", "after undersampling"};
    at_status st = at_plot_bars(plot_dir, "class_balance", "Rows per class before and after undersampling", "class",
                                "rows", (const char *const *)d->class_names, k, series, 2, v, err);
    free(v);
    if (st) return st;
    names[(*n)++] = "class_balance";
    const char *cats[AT_STUDY_MAX_STEPS];
    double vals[AT_STUDY_MAX_STEPS * 2];
    size_t nc = 0;
    for (size_t i = 0; i < s->n_steps; i++) {
        const study_step *step = &s->steps[i];
        if (!on_split(step)) continue;
        cats[nc] = step->name;
        vals[nc * 2] = step->r.test.accuracy;
        vals[nc * 2 + 1] = step->r.test.macro_f1;
        nc++;
        if ((st = reliability(plot_dir, step, d->test, k, owned[*n], 96, err))) return st;
        names[*n] = owned[*n];
        (*n)++;
    }
    const char *ser[2] = {"accuracy", "macro-F1"};
    if (nc && (st = at_plot_bars(plot_dir, "comparison", "Every model on the test part", "model", "score", cats, nc, ser,
                                 2, vals, err)))
        return st;
    if (nc) names[(*n)++] = "comparison";
    /* per-class F1 of every classifier side by side (plots_class_scores.c) */
    const at_metrics *ms[AT_STUDY_MAX_STEPS];
    size_t nm = 0;
    for (size_t i = 0; i < s->n_steps; i++)
        if (on_split(&s->steps[i]) && s->steps[i].r.test.per_class) ms[nm++] = &s->steps[i].r.test;
    if (nm == nc && nm &&
        (st = at_class_f1_plot(plot_dir, cats, ms, nm, (const char *const *)d->class_names, k, err)))
        return st;
    if (nm == nc && nm) names[(*n)++] = "class_f1";
    return AT_OK;
}

/* ---- the report --------------------------------------------------------------------------- */

static void fmt(char *out, const char *f, double v) {
    if (isnan(v)) snprintf(out, 96, "n/a");
    else snprintf(out, 96, f, v);
}

static void step_figures(doc *d, const study_step *step) {
    static const char *const figs[][2] = {
        {"scree", "PCA scree plot"},
        {"pca_scatter", "First three principal components (rotate it: gnuplot -p pca_scatter.gp)"},
        {"pca_scatter_2", "The same from another angle"},
        {"clusters", "Gaussian mixture clusters and 2-sigma ellipses in the PC1-PC2 plane"},
        {"log_likelihood", "EM log-likelihood per iteration"},
        {"bic", "BIC and AIC against the number of components"},
        {"confusion", "Confusion matrix (test)"},
        {"confusion_normalised", "Confusion matrix, row-normalised (test)"},
        {"class_scores", "Per-class precision, recall and F1 (test)"},
        {"feature_importances", "Feature importances"},
        {"learning_curve", "Learning curve (loss)"},
        {"learning_curve_accuracy", "Learning curve (accuracy)"},
        {"winning_probability", "Probability of the predicted class, correct and wrong"},
        {"ensemble_trials", "Ensemble weight search"},
    };
    for (size_t f = 0; f < sizeof figs / sizeof figs[0]; f++) {
        char rel[AT_PATH_MAX], path[AT_PATH_MAX * 2];
        snprintf(rel, sizeof rel, "%s/plots/%s.png", step->name, figs[f][0]);
        snprintf(path, sizeof path, "%s/%s/plots/%s.gp", d->dir, step->name, figs[f][0]);
        if (strcmp(figs[f][0], "pca_scatter_2") == 0)
            snprintf(path, sizeof path, "%s/%s/plots/pca_scatter.gp", d->dir, step->name);
        FILE *probe = fopen(path, "r");
        if (!probe) continue;
        fclose(probe);
        if (strcmp(figs[f][0], "pca_scatter_2") == 0) {
            snprintf(path, sizeof path, "%s/%s", d->dir, rel);
            if (!(probe = fopen(path, "rb"))) continue;
            fclose(probe);
        }
        char caption[256];
        snprintf(caption, sizeof caption, "%s: %s", step->name, figs[f][1]);
        doc_image(d, rel, caption);
    }
}

static void data_section(doc *d, const study *s) {
    const at_prepared *p = s->data_base;
    char line[2048];
    doc_heading(d, 2, "Data");
    snprintf(line, sizeof line,
             "%.400s: %zu rows read, %zu dropped (%zu with missing values, %zu unphysical), %zu after undersampling; "
             "stratified split %zu train / %zu validation / %zu test, the same for every step. Features: ",
             s->base_config.data.path, p->rows_read, p->rows_dropped, p->rows_missing, p->rows_unphysical,
             p->rows_after_undersampling, p->comm ? p->train_global : p->train->n, p->valid->n, p->test->n);
    if (p->images)
        snprintf(line, sizeof line,
                 "%.400s: %zu images of %zux%zux%zu, %zu after undersampling; stratified split %zu train / %zu "
                 "validation / %zu test, the same for every step on these data.",
                 s->base_config.data.path, p->images->n, p->images->width, p->images->height, p->images->channels,
                 p->rows_after_undersampling, p->train->n, p->valid->n, p->test->n);
    for (size_t j = 0; !p->images && j < p->n_features; j++) {
        strncat(line, p->features[j], sizeof line - strlen(line) - 3);
        if (j + 1 < p->n_features) strncat(line, ", ", sizeof line - strlen(line) - 1);
    }
    doc_para(d, line);
    size_t k = p->k;
    char (*cells)[96] = calloc((k + 1) * 3, 96);
    if (cells) {
        snprintf(cells[0], 96, "class");
        snprintf(cells[1], 96, "rows before undersampling");
        snprintf(cells[2], 96, "rows after");
        for (size_t c = 0; c < k; c++) {
            snprintf(cells[(c + 1) * 3], 96, "%s", p->class_names[c]);
            snprintf(cells[(c + 1) * 3 + 1], 96, "%zu", p->counts_before[c]);
            snprintf(cells[(c + 1) * 3 + 2], 96, "%zu", p->counts_after[c]);
        }
        doc_table(d, cells, k + 1, 3);
        free(cells);
    }
    doc_image(d, "plots/class_balance.png", "Rows per class before and after undersampling");
}

static void exploration_section(doc *d, const study *s) {
    for (size_t i = 0; i < s->n_steps; i++) {
        const study_step *step = &s->steps[i];
        const at_pca *pca = step->r.bundle ? at_pca_of(step->r.bundle->model) : NULL;
        if (!pca) continue;
        char line[512];
        snprintf(line, sizeof line, "Principal components (%s)", step->name);
        doc_heading(d, 2, line);
        int n = snprintf(line, sizeof line, "Step %s: explained variance ratios", step->name);
        double cum = 0;
        for (size_t c = 0; c < pca->k && n > 0 && (size_t)n < sizeof line; c++) {
            cum += pca->explained_variance_ratio[c];
            n += snprintf(line + n, sizeof line - (size_t)n, "%s PC%zu %.4f", c ? "," : "", c + 1,
                          pca->explained_variance_ratio[c]);
        }
        if (n > 0 && (size_t)n < sizeof line)
            snprintf(line + n, sizeof line - (size_t)n, " (%.1f%% of the variance in %zu components).", 100 * cum, pca->k);
        doc_para(d, line);
        doc_para(d, "The 3-D scatter is interactive on a desktop: gnuplot -p pca/plots/pca_scatter.gp, then rotate it "
                    "with the mouse.");
        step_figures(d, step);
    }
    for (size_t i = 0; i < s->n_steps; i++) {
        const study_step *step = &s->steps[i];
        const at_gmm *g = step->r.bundle ? at_gmm_of(step->r.bundle->model) : NULL;
        if (!g) continue;
        char line[512];
        snprintf(line, sizeof line, "Gaussian mixture (%s)", step->name);
        doc_heading(d, 2, line);
        snprintf(line, sizeof line,
                 "Step %s: %zu components (%s covariance)%s, fitted without labels and matched to the classes by "
                 "the best permutation (Hungarian algorithm on the training part): test accuracy %.4f, macro-F1 %.4f; "
                 "BIC %.1f.",
                 step->name, g->k,
                 g->covariance_type == AT_COV_FULL ? "full" : g->covariance_type == AT_COV_DIAG ? "diagonal" : "spherical",
                 step->pca_stage ? " on the first principal components" : " on the standardised features",
                 step->r.test.accuracy, step->r.test.macro_f1, g->bic);
        doc_para(d, line);
        step_figures(d, step);
    }
}

/* Per-class precision / recall / F1 of every classifier, one row per step: the table beside
 * plots/class_f1 (from scratch and fine-tuned side by side). */
static void class_scores_table(doc *d, const study *s, size_t nc) {
    size_t k = s->data_base->k, cols = 1 + k;
    char (*cells)[96] = calloc((nc + 1) * cols, 96);
    if (!cells) return;
    snprintf(cells[0], 96, "step");
    for (size_t c = 0; c < k; c++) snprintf(cells[1 + c], 96, "%.60s P / R / F1", class_name(s, c));
    size_t r = 1;
    for (size_t i = 0; i < s->n_steps; i++) {
        const study_step *step = &s->steps[i];
        if (!on_split(step) || !step->r.test.per_class) continue;
        char (*row)[96] = cells + r * cols;
        snprintf(row[0], 96, "%s", step->name);
        for (size_t c = 0; c < k; c++) {
            const at_class_metrics *m = &step->r.test.per_class[c];
            snprintf(row[1 + c], 96, "%.4f / %.4f / %.4f", m->precision, m->recall, m->f1);
        }
        r++;
    }
    doc_para(d, "Per-class precision, recall and F1 on the test part.");
    doc_table(d, cells, r, cols);
    free(cells);
}

/* Steps trained on other data (e.g. pretraining on synthetic images) are not comparable
 * with the others: their own line. */
static void own_data_table(doc *d, const study *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->n_steps; i++) n += s->steps[i].own_data;
    if (!n) return;
    char (*cells)[96] = calloc((n + 1) * 6, 96);
    if (!cells) return;
    const char *head[] = {"step", "data", "classes", "train / validation / test", "accuracy", "macro-F1"};
    for (size_t c = 0; c < 6; c++) snprintf(cells[c], 96, "%s", head[c]);
    size_t r = 1;
    for (size_t i = 0; i < s->n_steps; i++) {
        const study_step *step = &s->steps[i];
        if (!step->own_data) continue;
        char (*row)[96] = cells + r++ * 6;
        snprintf(row[0], 96, "%s", step->name);
        snprintf(row[1], 96, "%.95s", step->data_path);
        snprintf(row[2], 96, "%zu", step->own_k);
        snprintf(row[3], 96, "%zu / %zu / %zu", step->own_train, step->own_valid, step->own_test);
        fmt(row[4], "%.4f", step->r.classifier ? step->r.test.accuracy : NAN);
        fmt(row[5], "%.4f", step->r.classifier ? step->r.test.macro_f1 : NAN);
    }
    doc_para(d, "Steps on their own data (their own split; not in the comparisons above), on their own test part:");
    doc_table(d, cells, r, 6);
    free(cells);
}

static void models_section(doc *d, const study *s) {
    const at_prepared *p = s->data_base;
    size_t k = p->k, cols = 6 + k, nc = 0;
    for (size_t i = 0; i < s->n_steps; i++) nc += on_split(&s->steps[i]);
    if (!nc) return;
    doc_heading(d, 2, "Models");
    char (*cells)[96] = calloc((nc + 1) * cols, 96);
    if (!cells) return;
    const char *head[] = {"step", "model", "accuracy", "macro-F1", "log-loss", "fit (s)"};
    for (size_t c = 0; c < 6; c++) snprintf(cells[c], 96, "%s", head[c]);
    for (size_t c = 0; c < k; c++) snprintf(cells[6 + c], 96, "recall %s", class_name(s, c));
    size_t r = 1;
    for (size_t i = 0; i < s->n_steps; i++) {
        const study_step *step = &s->steps[i];
        if (!on_split(step)) continue;
        char (*row)[96] = cells + r * cols;
        snprintf(row[0], 96, "%s", step->name);
        snprintf(row[1], 96, "%s%s", step->r.type, step->pca_stage ? " (on PCA)" : "");
        fmt(row[2], "%.4f", step->r.test.accuracy);
        fmt(row[3], "%.4f", step->r.test.macro_f1);
        fmt(row[4], "%.4f", step->r.test.log_loss);
        fmt(row[5], "%.3f", step->r.fit_seconds);
        for (size_t c = 0; c < k; c++) fmt(row[6 + c], "%.4f", step->r.test.per_class[c].recall);
        r++;
    }
    doc_para(d, "Test-part figures of every classifier (the validation part chose early stopping and ensemble weights).");
    doc_table(d, cells, r, cols);
    free(cells);
    class_scores_table(d, s, nc);
    own_data_table(d, s);
    doc_image(d, "plots/comparison.png", "Accuracy and macro-F1 of every model on the test part");
    doc_image(d, "plots/class_f1.png", "Per-class F1 of every model side by side (e.g. from scratch and fine-tuned)");
    for (size_t i = 0; i < s->n_steps; i++) {
        const study_step *step = &s->steps[i];
        const at_ensemble_result *er = step->r.bundle ? at_ensemble_result_of(step->r.bundle->model) : NULL;
        if (!er) continue;
        doc_heading(d, 3, "Ensemble weights");
        char (*ec)[96] = calloc((er->n_members + 2) * 3, 96);
        if (!ec) continue;
        snprintf(ec[0], 96, "member");
        snprintf(ec[1], 96, "weight");
        snprintf(ec[2], 96, "validation %s alone", er->objective == AT_ENSEMBLE_ACCURACY ? "accuracy" : "log-loss");
        for (size_t m = 0; m < er->n_members; m++) {
            snprintf(ec[(m + 1) * 3], 96, "%s", er->names[m]);
            fmt(ec[(m + 1) * 3 + 1], "%.4f", er->weights[m]);
            fmt(ec[(m + 1) * 3 + 2], "%.4f", er->member_scores[m]);
        }
        size_t last = er->n_members + 1;
        snprintf(ec[last * 3], 96, "blend (%s)", step->name);
        snprintf(ec[last * 3 + 1], 96, "1");
        fmt(ec[last * 3 + 2], "%.4f", er->blend_score);
        char line[256];
        snprintf(line, sizeof line,
                 "Step %s: %zu weight vectors scored on the validation part (every member alone, then random points of "
                 "the simplex); test accuracy of the blend %.4f.",
                 step->name, er->n_trials, step->r.test.accuracy);
        doc_para(d, line);
        doc_table(d, ec, last + 1, 3);
        free(ec);
    }
}

static void confidence_section(doc *d, const study *s) {
    const at_prepared *p = s->data_base;
    size_t k = p->k, nc = 0;
    for (size_t i = 0; i < s->n_steps; i++) nc += on_split(&s->steps[i]);
    if (!nc) return;
    doc_heading(d, 2, "Pre-production confidence");
    char line[512];
    snprintf(line, sizeof line,
             "For each class, among test objects correctly classified as it, the fraction whose probability for it "
             "exceeds %.2f.%s",
             s->base_config.metrics.confident_threshold, s->n_ref ? " The last column gives the reference study's figures." : "");
    doc_para(d, line);
    size_t cols = 1 + nc + (s->n_ref ? 1 : 0);
    char (*cells)[96] = calloc((k + 1) * cols, 96);
    if (!cells) return;
    snprintf(cells[0], 96, "class");
    size_t c0 = 1;
    for (size_t i = 0; i < s->n_steps; i++)
        if (on_split(&s->steps[i])) snprintf(cells[c0++], 96, "%s", s->steps[i].name);
    if (s->n_ref) snprintf(cells[c0], 96, "reference study");
    for (size_t c = 0; c < k; c++) {
        char (*row)[96] = cells + (c + 1) * cols;
        snprintf(row[0], 96, "%s", class_name(s, c));
        size_t col = 1;
        for (size_t i = 0; i < s->n_steps; i++)
            if (on_split(&s->steps[i])) fmt(row[col++], "%.3f", s->steps[i].r.test.per_class[c].confident_fraction);
        if (s->n_ref) {
            snprintf(row[col], 96, "n/a");
            for (size_t r = 0; r < s->n_ref; r++)
                if (strcmp(s->ref_class[r], class_name(s, c)) == 0) fmt(row[col], "%.3f", s->ref_value[r]);
        }
    }
    doc_table(d, cells, k + 1, cols);
    free(cells);
    doc_heading(d, 3, "Calibration");
    doc_para(d, "Reliability diagrams: test rows binned by the probability of the predicted class; a calibrated model "
                "lies on the diagonal.");
    for (size_t i = 0; i < s->n_steps; i++) {
        if (!on_split(&s->steps[i])) continue;
        char rel[256], cap[160];
        snprintf(rel, sizeof rel, "plots/reliability_%s.png", s->steps[i].name);
        snprintf(cap, sizeof cap, "Reliability diagram: %s", s->steps[i].name);
        doc_image(d, rel, cap);
    }
}

static const char *css =
    "body{font-family:sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}"
    "h1{border-bottom:2px solid #2a6;padding-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:1em 0;font-size:.92em}td,th{border:1px solid #bbb;padding:.3em .6em;"
    "text-align:right}th{background:#eef5f0}td:first-child,th:first-child{text-align:left}"
    "figure{margin:1.2em 0}img{max-width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:.9em}"
    ".missing{color:#a33}code{background:#f4f4f4;padding:0 .2em}";

at_status at_study_report(study *s, int render, at_error *err) {
    char plot_dir[AT_PATH_MAX + 200];
    snprintf(plot_dir, sizeof plot_dir, "%s/plots", s->dir);
    const char *names[AT_STUDY_MAX_STEPS + 4];
    char owned[AT_STUDY_MAX_STEPS + 4][96];
    size_t n = 0;
    at_status st = study_figures(s, plot_dir, names, &n, owned, err);
    if (st) return st;
    size_t rendered = 0;
    char warning[256] = "";
    at_render_plots(plot_dir, names, n, render, &rendered, warning, sizeof warning);
    doc d = {{0}, {0}, s->dir};
    at_strbuf_put(&d.html, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", 67);
    at_strbuf_put_html(&d.html, s->title);
    at_strbuf_printf(&d.html, "</title><style>%s</style></head><body>\n", css);
    doc_heading(&d, 1, s->title);
    char line[512], when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    snprintf(line, sizeof line, "astrotrain %s, %s; seed %lld; %zu steps in %.1f s. Every step's run directory "
             "(config.ini, metrics.json, model.h5, predictions.csv, plots/) sits beside this report.",
             AT_VERSION, when, (long long)s->base_config.run.seed, s->n_steps, s->seconds);
    doc_para(&d, line);
    if (warning[0]) doc_para(&d, warning);
    data_section(&d, s);
    exploration_section(&d, s);
    models_section(&d, s);
    confidence_section(&d, s);
    doc_heading(&d, 2, "Every figure of every model");
    for (size_t i = 0; i < s->n_steps; i++) {
        const study_step *step = &s->steps[i];
        if (!step->r.classifier || at_model_has(step->r.bundle->model, AT_CAP_UNSUPERVISED)) continue;
        doc_heading(&d, 3, step->name);
        step_figures(&d, step);
    }
    at_strbuf_put(&d.html, "</body></html>\n", 15);
    if (d.md.failed || d.html.failed) st = at_fail(err, AT_ERR_MEMORY, "out of memory writing the report");
    char path[AT_PATH_MAX + 200];
    if (!st) {
        snprintf(path, sizeof path, "%s/report.md", s->dir);
        st = at_write_file_atomic(path, d.md.s, d.md.len, err);
    }
    if (!st) {
        snprintf(path, sizeof path, "%s/report.html", s->dir);
        st = at_write_file_atomic(path, d.html.s, d.html.len, err);
    }
    free(d.md.s);
    free(d.html.s);
    return st;
}
