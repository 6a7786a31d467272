/* plots_unsupervised.c - figures of the exploratory families: the PCA scree plot and
 * 3-D scatter, and the Gaussian mixture's log-likelihood curve, BIC curve and clusters
 * with their 2-sigma ellipses in the plane of the first two principal components. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/ensemble.h"
#include "astrotrain/gmm.h"
#include "astrotrain/pca.h"
#include "astrotrain/plot.h"
#include "pipeline/plots.h"

#define MAX_POINTS 3000

static void add_name(const char **names, size_t *count, size_t cap, const char *name) {
    if (*count < cap) names[(*count)++] = name;
}

/* Every step-th row, so the figure stays readable and the choice is deterministic. */
static size_t stride_for(size_t n) { return n > MAX_POINTS ? (n + MAX_POINTS - 1) / MAX_POINTS : 1; }

static at_status pca_plots(const char *dir, const at_pca *pca, const at_dataset *train, const char *const *classes,
                           const char **names, size_t *count, size_t cap, at_error *err) {
    size_t d = pca->d;
    double *x = malloc(d * sizeof *x), *y = malloc(2 * d * sizeof *y);
    if (!x || !y) {
        free(x), free(y);
        return at_fail(err, AT_ERR_MEMORY, "out of memory (plots)");
    }
    double cum = 0;
    for (size_t c = 0; c < d; c++) {
        double ratio = pca->total_variance > 0 ? pca->eigenvalues[c] / pca->total_variance : 0;
        cum += ratio;
        x[c] = (double)(c + 1);
        y[c * 2] = ratio;
        y[c * 2 + 1] = cum;
    }
    const char *series[2] = {"explained variance ratio", "cumulative"};
    at_status s = at_plot_lines(dir, "scree", "PCA scree plot (training part)", "component", "fraction of variance", x,
                                d, series, 2, y, 0, err);
    free(x), free(y);
    if (s) return s;
    add_name(names, count, cap, "scree");
    size_t dim = pca->k >= 3 ? 3 : pca->k;
    if (dim < 2) return AT_OK;
    size_t step = stride_for(train->n), m = (train->n + step - 1) / step;
    double *Z = malloc(train->n * pca->k * sizeof *Z), *pts = malloc(m * dim * sizeof *pts);
    int *group = malloc(m * sizeof *group);
    if (!Z || !pts || !group) {
        free(Z), free(pts), free(group);
        return at_fail(err, AT_ERR_MEMORY, "out of memory (plots)");
    }
    s = at_pca_transform(pca, train->X, train->n, Z, err);
    size_t j = 0;
    for (size_t i = 0; !s && i < train->n; i += step, j++) {
        for (size_t c = 0; c < dim; c++) pts[j * dim + c] = Z[i * pca->k + c];
        group[j] = train->y[i];
    }
    const char *axes[3] = {"PC1", "PC2", "PC3"};
    double views[4] = {60, 30, 80, 120};
    char title[128];
    snprintf(title, sizeof title, "First %zu principal components, training part (%zu points)", dim, j);
    if (!s) s = at_plot_scatter(dir, "pca_scatter", title, axes, dim, pts, j, group, classes, train->n_classes, views,
                                dim == 3 ? 2 : 1, err);
    if (!s) add_name(names, count, cap, "pca_scatter");
    free(Z), free(pts), free(group);
    return s;
}

/* 2-sigma ellipse of a 2x2 covariance [a b; b c] around (mx, my), as `n` points. */
static void ellipse(double mx, double my, double a, double b, double c, double *out, size_t n) {
    double tr = a + c, det = a * c - b * b, disc = sqrt(fmax(tr * tr / 4 - det, 0));
    double l1 = tr / 2 + disc, l2 = fmax(tr / 2 - disc, 0);
    double ex = fabs(b) > 1e-300 ? l1 - c : 1, ey = fabs(b) > 1e-300 ? b : 0;
    if (fabs(b) <= 1e-300 && c > a) ex = 0, ey = 1;
    double norm = hypot(ex, ey);
    ex /= norm, ey /= norm;
    for (size_t i = 0; i < n; i++) {
        double t = 2 * M_PI * (double)i / (double)(n - 1);
        double u = 2 * sqrt(l1) * cos(t), v = 2 * sqrt(l2) * sin(t);
        out[i * 2] = mx + u * ex - v * ey;
        out[i * 2 + 1] = my + u * ey + v * ex;
    }
}

static at_status gmm_plots(const char *dir, const at_model *m, const at_gmm *g, const at_dataset *train,
                           const char **names, size_t *count, size_t cap, at_error *err) {
    at_status s = AT_OK;
    if (g->n_iter > 0) {
        double *x = malloc(g->n_iter * sizeof *x), *y = malloc(g->n_iter * sizeof *y);
        if (!x || !y) s = at_fail(err, AT_ERR_MEMORY, "out of memory (plots)");
        for (size_t i = 0; !s && i < g->n_iter; i++) x[i] = g->history[i * 2], y[i] = g->history[i * 2 + 1];
        const char *series[1] = {"mean log-likelihood per row"};
        if (!s) s = at_plot_lines(dir, "log_likelihood", "Gaussian mixture: EM log-likelihood", "iteration",
                                  "mean log-likelihood", x, g->n_iter, series, 1, y, 0, err);
        if (!s) add_name(names, count, cap, "log_likelihood");
        free(x), free(y);
        if (s) return s;
    }
    size_t k_min = 0, nsel = 0;
    const double *bic = NULL, *aic = NULL;
    if (at_gmm_selection(m, &k_min, &nsel, &bic, &aic) && nsel > 1) {
        double *x = malloc(nsel * sizeof *x), *y = malloc(2 * nsel * sizeof *y);
        if (!x || !y) s = at_fail(err, AT_ERR_MEMORY, "out of memory (plots)");
        for (size_t i = 0; !s && i < nsel; i++) x[i] = (double)(k_min + i), y[i * 2] = bic[i], y[i * 2 + 1] = aic[i];
        const char *series[2] = {"BIC", "AIC"};
        if (!s) s = at_plot_lines(dir, "bic", "Gaussian mixture: model selection", "components", "criterion (lower is better)",
                                  x, nsel, series, 2, y, 0, err);
        if (!s) add_name(names, count, cap, "bic");
        free(x), free(y);
        if (s) return s;
    }
    /* Clusters and ellipses in the plane of the first two principal components. */
    size_t d = g->d;
    if (d < 2) return AT_OK;
    at_pca_params pp;
    at_pca_params_default(&pp);
    pp.n_components = 2;
    at_pca *pca = NULL;
    if ((s = at_pca_fit(&pp, train, &pca, err))) return s;
    size_t step = stride_for(train->n), m_pts = (train->n + step - 1) / step, n_ell = 200;
    size_t total = m_pts + g->k * n_ell;
    double *Z = malloc(train->n * 2 * sizeof *Z), *pts = malloc(total * 2 * sizeof *pts);
    int32_t *cl = malloc(train->n * sizeof *cl);
    int *group = malloc(total * sizeof *group);
    double *cov = malloc(d * d * sizeof *cov), *tmp = malloc(2 * d * sizeof *tmp);
    char **gnames = calloc(2 * g->k, sizeof *gnames);
    if (!Z || !pts || !cl || !group || !cov || !tmp || !gnames) s = at_fail(err, AT_ERR_MEMORY, "out of memory (plots)");
    if (!s) s = at_pca_transform(pca, train->X, train->n, Z, err);
    if (!s) s = at_gmm_predict(g, train->X, train->n, cl, 1, err);
    size_t j = 0;
    for (size_t i = 0; !s && i < train->n; i += step, j++) {
        pts[j * 2] = Z[i * 2];
        pts[j * 2 + 1] = Z[i * 2 + 1];
        group[j] = cl[i];
    }
    for (size_t c = 0; !s && c < g->k; c++) {
        /* Project mean and covariance: V (mu - mean), V S V^T with V the 2 x d components. */
        const double *V = pca->components, *mu = g->means + c * d;
        double mx = 0, my = 0;
        for (size_t f = 0; f < d; f++) mx += V[f] * (mu[f] - pca->mean[f]), my += V[d + f] * (mu[f] - pca->mean[f]);
        at_gmm_covariance(g, c, cov);
        for (size_t r = 0; r < 2; r++)
            for (size_t f = 0; f < d; f++) {
                double acc = 0;
                for (size_t h = 0; h < d; h++) acc += V[r * d + h] * cov[h * d + f];
                tmp[r * d + f] = acc;
            }
        double a = 0, b = 0, cc = 0;
        for (size_t f = 0; f < d; f++) a += tmp[f] * V[f], b += tmp[f] * V[d + f], cc += tmp[d + f] * V[d + f];
        ellipse(mx, my, a, b, cc, pts + j * 2, n_ell);
        for (size_t i = 0; i < n_ell; i++) group[j + i] = (int)(g->k + c);
        j += n_ell;
    }
    for (size_t c = 0; !s && c < g->k; c++) {
        char buf[96];
        const char *cls = g->cluster_class && g->cluster_class[c] >= 0 && train->class_names
                              ? train->class_names[g->cluster_class[c]]
                              : "?";
        snprintf(buf, sizeof buf, "cluster %zu (%s)", c + 1, cls);
        gnames[c] = strdup(buf);
        snprintf(buf, sizeof buf, "2-sigma ellipse %zu", c + 1);
        gnames[g->k + c] = strdup(buf);
        if (!gnames[c] || !gnames[g->k + c]) s = at_fail(err, AT_ERR_MEMORY, "out of memory (plots)");
    }
    const char *axes[2] = {"PC1", "PC2"};
    double views[2] = {0, 0};
    if (!s) s = at_plot_scatter(dir, "clusters", "Gaussian mixture clusters in the plane of the first two principal components",
                                axes, 2, pts, j, group, (const char *const *)gnames, 2 * g->k, views, 1, err);
    if (!s) add_name(names, count, cap, "clusters");
    if (gnames)
        for (size_t c = 0; c < 2 * g->k; c++) free(gnames[c]);
    free(gnames), free(Z), free(pts), free(cl), free(group), free(cov), free(tmp);
    at_pca_free(pca);
    return s;
}

/* Validation score of every weight vector tried, against each member's weight. */
static at_status ensemble_plots(const char *dir, const at_ensemble_result *r, const char **names, size_t *count,
                                size_t cap, at_error *err) {
    size_t m = r->n_members, t = r->n_trials, best = 0;
    for (size_t i = 1; i < t; i++)
        if (r->trial_scores[i] == r->blend_score) {
            best = i;
            break;
        }
    if (r->trial_scores[0] == r->blend_score) best = 0;
    size_t n = m * t + m;
    double *pts = malloc(n * 2 * sizeof *pts);
    int *group = malloc(n * sizeof *group);
    char **gn = calloc(2 * m, sizeof *gn);
    at_status s = (!pts || !group || !gn) ? at_fail(err, AT_ERR_MEMORY, "out of memory (plots)") : AT_OK;
    size_t j = 0;
    for (size_t mem = 0; !s && mem < m; mem++)
        for (size_t i = 0; i < t; i++, j++) {
            pts[j * 2] = r->trial_weights[i * m + mem];
            pts[j * 2 + 1] = r->trial_scores[i];
            group[j] = (int)mem;
        }
    for (size_t mem = 0; !s && mem < m; mem++, j++) {
        pts[j * 2] = r->weights[mem];
        pts[j * 2 + 1] = r->blend_score;
        group[j] = (int)(m + mem);
    }
    for (size_t mem = 0; !s && mem < m; mem++) {
        char buf[96];
        snprintf(buf, sizeof buf, "weight of %s", r->names[mem]);
        gn[mem] = strdup(buf);
        snprintf(buf, sizeof buf, "best: %s = %.3f", r->names[mem], r->weights[mem]);
        gn[m + mem] = strdup(buf);
        if (!gn[mem] || !gn[m + mem]) s = at_fail(err, AT_ERR_MEMORY, "out of memory (plots)");
    }
    const char *axes[2] = {"member weight", r->objective == AT_ENSEMBLE_ACCURACY ? "validation accuracy" : "validation log-loss"};
    double views[2] = {0, 0};
    if (!s) s = at_plot_scatter(dir, "ensemble_trials", "Ensemble weight search: every trial's validation score", axes, 2,
                                pts, j, group, (const char *const *)gn, 2 * m, views, 1, err);
    if (!s) add_name(names, count, cap, "ensemble_trials");
    if (gn)
        for (size_t i = 0; i < 2 * m; i++) free(gn[i]);
    free(gn), free(pts), free(group);
    (void)best;
    return s;
}

at_status at_unsupervised_plots(const char *plot_dir, const at_model *m, const at_dataset *train,
                                const char *const *class_names, const char **names, size_t *count,
                                size_t cap, at_error *err) {
    const at_pca *pca = at_pca_of(m);
    if (pca) return pca_plots(plot_dir, pca, train, class_names, names, count, cap, err);
    const at_gmm *g = at_gmm_of(m);
    if (g) return gmm_plots(plot_dir, m, g, train, names, count, cap, err);
    const at_ensemble_result *r = at_ensemble_result_of(m);
    if (r) return ensemble_plots(plot_dir, r, names, count, cap, err);
    return AT_OK;
}
