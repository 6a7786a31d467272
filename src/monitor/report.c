/* report.c - DIR/report.html from DIR/history.jsonl alone: over the batches, accuracy with
 * its Wilson interval, the predicted class mix, PSI per feature as a heatmap, the mean
 * winning probability and the alerts; for the latest batch each feature's bin shares
 * against the training reference. Figures are gnuplot scripts in DIR/plots/ (the
 * project's plot helpers), rendered when gnuplot is there and inlined as base64 PNG, so
 * the one HTML file is self-contained. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "astrotrain/atomic_file.h"
#include "astrotrain/monitor.h"
#include "astrotrain/plot.h"
#include "core/strbuf.h"

static double num(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Appends dir/NAME.png as an inline image, when it exists. */
static void inline_png(at_strbuf *b, const char *dir, const char *name, const char *alt) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.png", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        at_strbuf_printf(b, "<p class=\"note\">%s: not rendered (no gnuplot, or --no-render); script plots/%s.gp</p>\n",
                         alt, name);
        return;
    }
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    at_strbuf_printf(b, "<figure><img alt=\"%s\" src=\"data:image/png;base64,", alt);
    unsigned char in[3 * 1024];
    char out[4 * 1024];
    size_t n;
    while ((n = fread(in, 1, sizeof in, f)) > 0) {
        size_t o = 0;
        for (size_t i = 0; i < n; i += 3) {
            unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                         (i + 2 < n ? in[i + 2] : 0);
            out[o++] = tbl[v >> 18 & 63];
            out[o++] = tbl[v >> 12 & 63];
            out[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
            out[o++] = i + 2 < n ? tbl[v & 63] : '=';
        }
        at_strbuf_put(b, out, o);
    }
    fclose(f);
    at_strbuf_printf(b, "\"><figcaption>%s</figcaption></figure>\n", alt);
}

static void fmt_num(at_strbuf *b, double v, const char *f) {
    if (isnan(v)) at_strbuf_put(b, "&ndash;", 7);
    else at_strbuf_printf(b, f, v);
}

/* The figures; each one failing to render leaves its script (the report says so). */
static at_status figures(const char *pdir, json_t *hist, int render, int labelled, char *warn, size_t wcap,
                         at_error *err) {
    size_t nb = json_array_size(hist);
    json_t *last = json_array_get(hist, nb - 1);
    json_t *classes = json_object_get(last, "classes"), *feats = json_object_get(last, "features");
    size_t k = json_array_size(classes), d = json_array_size(feats);
    char **bnames = calloc(nb + 1, sizeof *bnames);
    const char **cnames = calloc(k + 1, sizeof *cnames), **fnames = calloc(d + 1, sizeof *fnames);
    double *x = calloc(nb + 1, sizeof *x), *acc = calloc(4 * nb + 1, sizeof *acc);
    double *mix = calloc((nb + 1) * (k + 1), sizeof *mix), *psi = calloc(d * nb + 1, sizeof *psi);
    double *win = calloc(nb + 1, sizeof *win);
    at_status s = AT_OK;
    if (!bnames || !cnames || !fnames || !x || !acc || !mix || !psi || !win) s = at_fail(err, AT_ERR_MEMORY, "out of memory");
    for (size_t c = 0; !s && c < k; c++) cnames[c] = json_string_value(json_array_get(classes, c));
    for (size_t j = 0; !s && j < d; j++) fnames[j] = str(json_array_get(feats, j), "name");
    double ref_acc = num(json_object_get(last, "reference"), "test_accuracy");
    /* Category 0 of the class-mix figure is the reference. */
    if (!s && !(bnames[0] = strdup("reference"))) s = at_fail(err, AT_ERR_MEMORY, "out of memory");
    for (size_t c = 0; !s && c < k; c++)
        mix[c] = json_number_value(json_array_get(json_object_get(json_object_get(last, "class_mix"), "reference_shares"), c));
    for (size_t i = 0; !s && i < nb; i++) {
        json_t *r = json_array_get(hist, i), *lab = json_object_get(r, "labels");
        if (!(bnames[i + 1] = strdup(str(r, "batch")))) {
            s = at_fail(err, AT_ERR_MEMORY, "out of memory");
            break;
        }
        x[i] = (double)(i + 1);
        acc[i * 4 + 0] = json_is_object(lab) ? num(lab, "accuracy") : NAN;
        acc[i * 4 + 1] = json_is_object(lab) ? num(lab, "accuracy_lo") : NAN;
        acc[i * 4 + 2] = json_is_object(lab) ? num(lab, "accuracy_hi") : NAN;
        acc[i * 4 + 3] = ref_acc;
        for (size_t c = 0; c < k; c++) mix[(i + 1) * k + c] = json_number_value(json_array_get(json_object_get(r, "predicted_shares"), c));
        for (size_t j = 0; j < d; j++) { /* by name: a batch of another model may differ */
            psi[j * nb + i] = NAN;
            size_t t;
            json_t *f;
            json_array_foreach(json_object_get(r, "features"), t, f) if (strcmp(str(f, "name"), fnames[j]) == 0)
                psi[j * nb + i] = num(f, "psi");
        }
        win[i] = num(r, "mean_winning_probability");
    }
    const char *acc_series[] = {"accuracy", "95% lower", "95% upper", "training test accuracy"};
    const char *win_series[] = {"mean winning probability"};
    const char *psi_series[] = {"reference", "latest batch"};
    /* A PNG of an earlier report must not stand in for a figure not rendered now. */
    for (size_t i = 0; i < 4 + d; i++) {
        char png[4200];
        if (i < 4) snprintf(png, sizeof png, "%s/%s.png", pdir, (const char *[]){"accuracy", "class_mix", "psi", "winning_probability"}[i]);
        else snprintf(png, sizeof png, "%s/feature_%zu.png", pdir, i - 4);
        unlink(png);
    }
    if (!s && labelled) s = at_plot_lines(pdir, "accuracy", "Accuracy per batch (Wilson 95% interval)", "batch", "accuracy", x, nb,
                              acc_series, 4, acc, 0, err);
    if (!s) s = at_plot_bars(pdir, "class_mix", "Predicted class shares (reference: test part)", "batch", "share",
                             (const char *const *)bnames, nb + 1, cnames, k, mix, err);
    if (!s && d) s = at_plot_heatmap(pdir, "psi", "PSI per feature and batch", "batch", "feature", fnames, d,
                                     (const char *const *)bnames + 1, nb, psi, "%.2f", err);
    if (!s) s = at_plot_lines(pdir, "winning_probability", "Mean winning probability per batch", "batch",
                              "probability", x, nb, win_series, 1, win, 0, err);
    for (size_t j = 0; !s && j < d; j++) {
        json_t *f = json_array_get(feats, j), *edges = json_object_get(f, "edges");
        json_t *bins = json_object_get(f, "bins"), *rsh = json_object_get(f, "reference_shares");
        size_t n = json_array_size(bins);
        if (n == 0 || n > 64 || json_array_size(rsh) != n || json_array_size(edges) + 1 != n) continue;
        char labels[64][48];
        const char *lp[64];
        double v[128], tot = 0;
        for (size_t i = 0; i < n; i++) tot += json_number_value(json_array_get(bins, i));
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n) snprintf(labels[i], sizeof labels[i], "<=%.4g", json_number_value(json_array_get(edges, i)));
            else snprintf(labels[i], sizeof labels[i], ">%.4g", n > 1 ? json_number_value(json_array_get(edges, n - 2)) : 0.0);
            lp[i] = labels[i];
            v[i * 2] = json_number_value(json_array_get(rsh, i));
            v[i * 2 + 1] = tot > 0 ? json_number_value(json_array_get(bins, i)) / tot : 0;
        }
        char name[96], title[200];
        snprintf(name, sizeof name, "feature_%zu", j);
        snprintf(title, sizeof title, "%s: bin shares, reference vs batch %s (PSI %.3f)", fnames[j], str(last, "batch"),
                 num(f, "psi"));
        s = at_plot_bars(pdir, name, title, fnames[j], "share", lp, n, psi_series, 2, v, err);
    }
    if (!s && render && at_gnuplot_available()) {
        const char *fixed[] = {"accuracy", "class_mix", "psi", "winning_probability"};
        at_error e2 = {0};
        for (size_t i = 0; i < 4 + d; i++) {
            char name[96];
            if (i < 4) snprintf(name, sizeof name, "%s", fixed[i]);
            else snprintf(name, sizeof name, "feature_%zu", i - 4);
            if ((i == 2 && !d) || (i == 0 && !labelled)) continue;
            if (at_plot_render(pdir, name, &e2) && !warn[0]) snprintf(warn, wcap, "%s", e2.msg);
        }
    }
    if (bnames)
        for (size_t i = 0; i <= nb; i++) free(bnames[i]);
    free(bnames), free(cnames), free(fnames), free(x), free(acc), free(mix), free(psi), free(win);
    return s;
}

at_status at_monitor_report(const char *dir, int render, at_error *err) {
    json_t *hist = NULL;
    at_status s = at_history_load(dir, &hist, err);
    if (s) return s;
    size_t nb = json_array_size(hist);
    char pdir[4096], warn[AT_ERROR_MAX + 8] = "";
    snprintf(pdir, sizeof pdir, "%s/plots", dir);
    if (nb && mkdir(pdir, 0755) != 0 && errno != EEXIST) {
        json_decref(hist);
        return at_fail(err, AT_ERR_IO, "%s: cannot create: %s", pdir, strerror(errno));
    }
    if (nb) at_remove_stale_temps(pdir);
    int labelled = 0;
    size_t t0;
    json_t *r0;
    json_array_foreach(hist, t0, r0) labelled |= json_is_object(json_object_get(r0, "labels"));
    if (nb && (s = figures(pdir, hist, render, labelled, warn, sizeof warn, err))) {
        json_decref(hist);
        return s;
    }
    at_strbuf b = {0};
    at_strbuf_printf(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>astrotrain monitor</title>\n"
                         "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
                         "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td.l{text-align:left}"
                         ".alert{background:#f8d0d0}.watch{background:#f8f0c0}.ok{background:#d8f0d8}"
                         "img{max-width:100%%}.note{color:#666}</style></head><body>\n"
                         "<h1>Model monitoring</h1>\n");
    if (!nb) at_strbuf_printf(&b, "<p>No batch recorded yet in history.jsonl.</p>\n");
    json_t *last = nb ? json_array_get(hist, nb - 1) : NULL;
    if (last) {
        json_t *m = json_object_get(last, "model"), *ref = json_object_get(last, "reference");
        at_strbuf_printf(&b, "<p>%zu batch(es). Latest model: <code>", nb);
        at_strbuf_put_html(&b, str(m, "path"));
        at_strbuf_printf(&b, "</code> (%s, ", str(m, "type"));
        at_strbuf_put_html(&b, str(m, "hash"));
        at_strbuf_printf(&b, "); reference: %.0f training rows, test accuracy ", num(ref, "n_train"));
        fmt_num(&b, num(ref, "test_accuracy"), "%.4f");
        at_strbuf_printf(&b, " on %.0f rows.</p>\n", num(ref, "test_n"));
        at_strbuf_printf(&b, "<h2>Batches</h2>\n<table><tr><th>#</th><th>batch</th><th>time</th><th>rows</th>"
                             "<th>skipped</th><th>status</th><th>accuracy [95%%]</th><th>macro-F1</th>"
                             "<th>class-mix PSI</th><th>largest feature PSI</th><th>mean winning p</th></tr>\n");
        size_t i;
        json_t *r;
        json_array_foreach(hist, i, r) {
            json_t *rows = json_object_get(r, "rows"), *sk = json_object_get(rows, "skipped");
            json_t *lab = json_object_get(r, "labels");
            const char *st = str(r, "status");
            at_strbuf_printf(&b, "<tr><td>%zu</td><td class=l>", i + 1);
            at_strbuf_put_html(&b, str(r, "batch"));
            at_strbuf_printf(&b, "</td><td class=l>");
            at_strbuf_put_html(&b, str(r, "time"));
            at_strbuf_printf(&b, "</td><td>%.0f</td><td>%.0f</td><td class=\"l %s\">%s</td><td>", num(rows, "predicted"),
                             num(sk, "missing") + num(sk, "cleaning"),
                             strcmp(st, "alert") == 0 ? "alert" : strcmp(st, "watch") == 0 ? "watch" : "ok",
                             strcmp(st, "alert") == 0 ? "alert" : strcmp(st, "watch") == 0 ? "watch" : "ok");
            if (json_is_object(lab)) {
                fmt_num(&b, num(lab, "accuracy"), "%.4f");
                at_strbuf_printf(&b, " [%.4f, %.4f]</td><td>", num(lab, "accuracy_lo"), num(lab, "accuracy_hi"));
                fmt_num(&b, num(lab, "macro_f1"), "%.4f");
            } else {
                at_strbuf_printf(&b, "no labels</td><td>&ndash;");
            }
            at_strbuf_printf(&b, "</td><td>");
            fmt_num(&b, num(json_object_get(r, "class_mix"), "psi"), "%.3f");
            double best = -1;
            const char *bn = "";
            size_t t;
            json_t *f;
            json_array_foreach(json_object_get(r, "features"), t, f) if (num(f, "psi") > best) {
                best = num(f, "psi");
                bn = str(f, "name");
            }
            at_strbuf_printf(&b, "</td><td>");
            if (best >= 0) {
                at_strbuf_printf(&b, "%.3f (", best);
                at_strbuf_put_html(&b, bn);
                at_strbuf_printf(&b, ")");
            }
            at_strbuf_printf(&b, "</td><td>");
            fmt_num(&b, num(r, "mean_winning_probability"), "%.4f");
            at_strbuf_printf(&b, "</td></tr>\n");
        }
        at_strbuf_printf(&b, "</table>\n<h2>Alerts</h2>\n<table><tr><th>batch</th><th>level</th><th>reason</th></tr>\n");
        size_t n_alerts = 0;
        json_array_foreach(hist, i, r) {
            size_t t;
            json_t *a;
            json_array_foreach(json_object_get(r, "alerts"), t, a) {
                const char *lv = str(a, "level");
                at_strbuf_printf(&b, "<tr><td class=l>");
                at_strbuf_put_html(&b, str(r, "batch"));
                at_strbuf_printf(&b, "</td><td class=\"l %s\">%s</td><td class=l>", lv[0] == 'a' ? "alert" : "watch",
                                 lv[0] == 'a' ? "alert" : "watch");
                at_strbuf_put_html(&b, str(a, "reason"));
                at_strbuf_printf(&b, "</td></tr>\n");
                n_alerts++;
            }
        }
        if (!n_alerts) at_strbuf_printf(&b, "<tr><td class=l colspan=3>none</td></tr>\n");
        at_strbuf_printf(&b, "</table>\n<h2>Over the batches</h2>\n");
        if (warn[0]) {
            at_strbuf_printf(&b, "<p class=note>gnuplot: ");
            at_strbuf_put_html(&b, warn);
            at_strbuf_printf(&b, "</p>\n");
        }
        if (labelled) inline_png(&b, pdir, "accuracy", "Accuracy with its Wilson 95% interval (batches with labels)");
        else at_strbuf_printf(&b, "<p>No batch has labels yet (--labels, or --labels-for when they arrive).</p>\n");
        inline_png(&b, pdir, "class_mix", "Predicted class shares");
        inline_png(&b, pdir, "psi", "PSI per feature and batch (watch above 0.10, alert above 0.25)");
        inline_png(&b, pdir, "winning_probability", "Mean winning probability");
        at_strbuf_printf(&b, "<h2>Latest batch (");
        at_strbuf_put_html(&b, str(last, "batch"));
        at_strbuf_printf(&b, ") against the reference</h2>\n<table><tr><th>feature</th><th>PSI</th><th>KS D</th>"
                             "<th>KS p (Bonferroni)</th><th>missing</th><th>out of range</th></tr>\n");
        size_t t;
        json_t *f;
        json_array_foreach(json_object_get(last, "features"), t, f) {
            at_strbuf_printf(&b, "<tr><td class=l>");
            at_strbuf_put_html(&b, str(f, "name"));
            at_strbuf_printf(&b, "</td><td>");
            fmt_num(&b, num(f, "psi"), "%.4f");
            at_strbuf_printf(&b, "</td><td>");
            fmt_num(&b, num(f, "ks"), "%.4f");
            at_strbuf_printf(&b, "</td><td>");
            fmt_num(&b, num(f, "ks_p_bonferroni"), "%.3g");
            at_strbuf_printf(&b, "</td><td>");
            fmt_num(&b, num(f, "missing_share"), "%.4f");
            at_strbuf_printf(&b, "</td><td>");
            fmt_num(&b, num(f, "out_of_range_share"), "%.4f");
            at_strbuf_printf(&b, "</td></tr>\n");
        }
        at_strbuf_printf(&b, "</table>\n");
        json_array_foreach(json_object_get(last, "features"), t, f) {
            char name[64];
            snprintf(name, sizeof name, "feature_%zu", t);
            inline_png(&b, pdir, name, str(f, "name"));
        }
    }
    at_strbuf_printf(&b, "</body></html>\n");
    json_decref(hist);
    char *html = at_strbuf_take(&b);
    if (!html) return at_fail(err, AT_ERR_MEMORY, "out of memory writing the report");
    char path[4096];
    snprintf(path, sizeof path, "%s/report.html", dir);
    s = at_write_file_atomic(path, html, strlen(html), err);
    free(html);
    return s;
}
