/* alerts.c - a batch record's verdict: the labelled figures (accuracy with its Wilson
 * interval, macro-F1, per-class recall, confusion) and the alert rules with their reasons
 * (thresholds in monitor.h, documented in the README). */
#include <math.h>
#include <stdio.h>

#include "astrotrain/drift.h"
#include "astrotrain/monitor.h"

static double num(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

void at_monitor_set_labels(json_t *rec, const double *confusion, size_t k, const char *source) {
    json_t *classes = json_object_get(rec, "classes");
    json_t *lab = json_object(), *recall = json_object(), *conf = json_array();
    double n = 0, correct = 0, f1sum = 0;
    size_t present = 0;
    for (size_t c = 0; c < k; c++) {
        double tp = confusion[c * k + c], row = 0, col = 0;
        json_t *r = json_array();
        for (size_t j = 0; j < k; j++) {
            row += confusion[c * k + j], col += confusion[j * k + c];
            json_array_append_new(r, json_integer((json_int_t)confusion[c * k + j]));
        }
        json_array_append_new(conf, r);
        n += row, correct += tp;
        const char *name = json_string_value(json_array_get(classes, c));
        json_object_set_new(recall, name ? name : "?", row > 0 ? json_real(tp / row) : json_null());
        /* macro-F1 over the classes present in the labels or the predictions (as scikit-learn) */
        if (row > 0 || col > 0) {
            double p = col > 0 ? tp / col : 0, r2 = row > 0 ? tp / row : 0;
            f1sum += p + r2 > 0 ? 2 * p * r2 / (p + r2) : 0;
            present++;
        }
    }
    double lo, hi;
    at_wilson((size_t)correct, (size_t)n, 1.959963984540054, &lo, &hi);
    json_object_set_new(lab, "source", json_string(source));
    json_object_set_new(lab, "n", json_integer((json_int_t)n));
    json_object_set_new(lab, "correct", json_integer((json_int_t)correct));
    json_object_set_new(lab, "accuracy", n > 0 ? json_real(correct / n) : json_null());
    json_object_set_new(lab, "accuracy_lo", json_real(lo));
    json_object_set_new(lab, "accuracy_hi", json_real(hi));
    json_object_set_new(lab, "macro_f1", present ? json_real(f1sum / (double)present) : json_null());
    json_object_set_new(lab, "recall", recall);
    json_object_set_new(lab, "confusion", conf);
    json_object_set_new(rec, "labels", lab);
}

static void add(json_t *alerts, const char *level, const char *kind, const char *name, const char *reason) {
    json_t *a = json_object();
    json_object_set_new(a, "level", json_string(level));
    json_object_set_new(a, "kind", json_string(kind));
    json_object_set_new(a, "name", json_string(name));
    json_object_set_new(a, "reason", json_string(reason));
    json_array_append_new(alerts, a);
}

void at_monitor_alerts(json_t *rec) {
    json_t *alerts = json_array();
    char why[256];
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(rec, "features"), i, f) {
        double fpsi = num(f, "psi");
        const char *name = json_string_value(json_object_get(f, "name"));
        if (!name) name = "?";
        double ks = num(f, "ks"), ksp = num(f, "ks_p_bonferroni");
        if (fpsi > AT_MON_PSI_ALERT) {
            snprintf(why, sizeof why, "feature %s: PSI %.3f > %.2f", name, fpsi, AT_MON_PSI_ALERT);
            add(alerts, "alert", "feature", name, why);
        } else if (ksp < AT_MON_KS_P && ks >= AT_MON_KS_D) {
            snprintf(why, sizeof why, "feature %s: KS D %.3f >= %.2f with p %.3g < %.2f (Bonferroni; PSI %.3f)", name,
                     ks, AT_MON_KS_D, ksp, AT_MON_KS_P, fpsi);
            add(alerts, "alert", "feature", name, why);
        } else if (fpsi > AT_MON_PSI_WATCH) {
            snprintf(why, sizeof why, "feature %s: PSI %.3f in (%.2f, %.2f]", name, fpsi, AT_MON_PSI_WATCH,
                     AT_MON_PSI_ALERT);
            add(alerts, "watch", "feature", name, why);
        }
    }
    json_t *mix = json_object_get(rec, "class_mix");
    if (mix) {
        double psi = num(mix, "psi"), p = num(mix, "chi2_p");
        if (psi > AT_MON_PSI_ALERT) {
            snprintf(why, sizeof why, "class mix: PSI %.3f > %.2f (chi-square p = %.3g)", psi, AT_MON_PSI_ALERT, p);
            add(alerts, "alert", "class_mix", "class_mix", why);
        } else if (p < AT_MON_CHI2_P && psi > AT_MON_PSI_WATCH) {
            snprintf(why, sizeof why, "class mix: chi-square p = %.3g < %g with PSI %.3f > %.2f", p, AT_MON_CHI2_P, psi,
                     AT_MON_PSI_WATCH);
            add(alerts, "alert", "class_mix", "class_mix", why);
        } else if (psi > AT_MON_PSI_WATCH || p < AT_MON_CHI2_P) {
            snprintf(why, sizeof why, "class mix: PSI %.3f, chi-square p = %.3g", psi, p);
            add(alerts, "watch", "class_mix", "class_mix", why);
        }
    }
    json_t *lab = json_object_get(rec, "labels");
    double ref_acc = num(json_object_get(rec, "reference"), "test_accuracy");
    if (json_is_object(lab) && !isnan(ref_acc)) {
        double acc = num(lab, "accuracy"), lo = num(lab, "accuracy_lo"), hi = num(lab, "accuracy_hi");
        if (hi < ref_acc) {
            snprintf(why, sizeof why, "accuracy %.4f [%.4f, %.4f] below the training test accuracy %.4f", acc, lo, hi,
                     ref_acc);
            add(alerts, "alert", "accuracy", "accuracy", why);
        }
    }
    const char *status = "ok";
    json_array_foreach(alerts, i, f) {
        const char *lv = json_string_value(json_object_get(f, "level"));
        if (lv && lv[0] == 'a') status = "alert";
        else if (status[0] == 'o') status = "watch";
    }
    json_object_set_new(rec, "alerts", alerts);
    json_object_set_new(rec, "status", json_string(status));
}
