/* test_metrics.c - the evaluation figures against numbers worked out by hand (written below
 * as literals, never recomputed here with the formula under test): per-class precision,
 * recall, F1 and support, accuracy, macro-F1 (not micro), log-loss with its 1e-15 clip, the
 * confident fraction (correct rows only, strictly above the threshold), the orientation of
 * the confusion matrix (rows = true class, columns = predicted) in the struct and in the
 * JSON text, a class nobody predicts, and argmax ties. */
#include "astrotrain/metrics.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/json.h"
#include "harness.h"

/* The fixture: 3 classes (0 = GALAXY, 1 = QSO, 2 = STAR), 10 rows, threshold 0.9.
 *
 *  row  true   p(GALAXY, QSO, STAR)   predicted  note
 *   0   GAL    0.95  0.03  0.02       GAL        correct, 0.95 > 0.9: confident
 *   1   GAL    0.90  0.05  0.05       GAL        correct, exactly 0.9: NOT confident (strict >)
 *   2   GAL    0.60  0.30  0.10       GAL        correct
 *   3   GAL    0.20  0.70  0.10       QSO        wrong
 *   4   QSO    0.05  0.92  0.03       QSO        correct, confident
 *   5   QSO    0.50  0.50  0.00       GAL        tie: the first index wins -> wrong
 *   6   STAR   0.97  0.02  0.01       GAL        wrong although 0.97 > 0.9: not confident
 *   7   STAR   0.02  0.98  0.00       QSO        wrong although 0.98 > 0.9; p(true) = 0 -> 1e-15
 *   8   QSO    0.10  0.80  0.10       QSO        correct, not confident
 *   9   GAL    0.70  0.20  0.10       GAL        correct
 *
 * Confusion (rows = true, columns = predicted):
 *            GAL QSO STAR
 *   GAL    [  4,  1,  0 ]
 *   QSO    [  1,  2,  0 ]
 *   STAR   [  1,  1,  0 ]       (its transpose would read [[4,1,1],[1,2,1],[0,0,0]])
 *
 *   GALAXY: tp 4, support 5, predicted 6: precision 4/6 = 2/3, recall 4/5, F1 = 8/11
 *   QSO:    tp 2, support 3, predicted 4: precision 1/2, recall 2/3, F1 = 4/7
 *   STAR:   tp 0, support 2, predicted 0: precision 0 (no predictions), recall 0, F1 0
 *   accuracy 6/10 (= micro-F1); macro-F1 = (8/11 + 4/7 + 0) / 3 = 100/231 = 0.43290043...
 *   (support-weighted F1 would be 412/770 = 0.5350...)
 *   confident: GALAXY 1 of 4 correct (row 0) = 0.25; QSO 1 of 2 correct (row 4) = 0.5;
 *              STAR none correct -> NaN.
 *   log-loss = mean of -ln p(true) =
 *     (0.05129329438755058 + 0.10536051565782628 + 0.51082562376599068 + 1.6094379124341003
 *      + 0.08338160893905101 + 0.69314718055994531 + 4.6051701859880914 + 34.538776394910684
 *      + 0.22314355131420976 + 0.35667494393873245) / 10 = 4.2777211211896185 */
static const int32_t Y[10] = {0, 0, 0, 0, 1, 1, 2, 2, 1, 0};
static const double P[10 * 3] = {
    0.95, 0.03, 0.02, /* 0 */
    0.90, 0.05, 0.05, /* 1 */
    0.60, 0.30, 0.10, /* 2 */
    0.20, 0.70, 0.10, /* 3 */
    0.05, 0.92, 0.03, /* 4 */
    0.50, 0.50, 0.00, /* 5 */
    0.97, 0.02, 0.01, /* 6 */
    0.02, 0.98, 0.00, /* 7 */
    0.10, 0.80, 0.10, /* 8 */
    0.70, 0.20, 0.10, /* 9 */
};
static const char *const NAMES[3] = {"GALAXY", "QSO", "STAR"};
#define TOL 1e-12

static void test_argmax_ties(void) {
    const double a[3] = {0.4, 0.4, 0.2}, b[3] = {0.2, 0.4, 0.4}, c[3] = {0.3, 0.3, 0.4};
    const double d[4] = {0.25, 0.25, 0.25, 0.25}, e[3] = {0.1, 0.2, 0.7};
    CHECK(at_argmax(a, 3) == 0);
    CHECK(at_argmax(b, 3) == 1);
    CHECK(at_argmax(c, 3) == 2);
    CHECK(at_argmax(d, 4) == 0);
    CHECK(at_argmax(e, 3) == 2);
    CHECK(at_argmax(e, 1) == 0);
}

static void test_confusion_orientation(void) {
    at_error err = {0};
    at_metrics m;
    CHECK_OK(at_metrics_compute(Y, P, 10, 3, 0.9, &m, &err), &err);
    if (!m.confusion) return;
    static const size_t want[9] = {4, 1, 0, 1, 2, 0, 1, 1, 0};
    for (size_t i = 0; i < 9; i++) {
        if (m.confusion[i] != want[i])
            fprintf(stderr, "  confusion[%zu][%zu] = %zu, expected %zu\n", i / 3, i % 3, m.confusion[i], want[i]);
        CHECK(m.confusion[i] == want[i]);
    }
    CHECK(m.n == 10 && m.k == 3);
    at_metrics_free(&m);
}

static void test_per_class(void) {
    at_error err = {0};
    at_metrics m;
    CHECK_OK(at_metrics_compute(Y, P, 10, 3, 0.9, &m, &err), &err);
    if (!m.per_class) return;
    const at_class_metrics *g = &m.per_class[0], *q = &m.per_class[1], *s = &m.per_class[2];
    CHECK_NEAR(g->precision, 0.66666666666666667, TOL);
    CHECK_NEAR(g->recall, 0.8, TOL);
    CHECK_NEAR(g->f1, 0.72727272727272727, TOL); /* 8/11 */
    CHECK(g->support == 5);
    CHECK_NEAR(q->precision, 0.5, TOL);
    CHECK_NEAR(q->recall, 0.66666666666666667, TOL);
    CHECK_NEAR(q->f1, 0.57142857142857143, TOL); /* 4/7 */
    CHECK(q->support == 3);
    /* nobody predicted STAR: precision 0, not NaN */
    CHECK(s->precision == 0.0);
    CHECK(s->recall == 0.0);
    CHECK(s->f1 == 0.0);
    CHECK(s->support == 2);
    at_metrics_free(&m);
}

static void test_accuracy_macro_f1(void) {
    at_error err = {0};
    at_metrics m;
    CHECK_OK(at_metrics_compute(Y, P, 10, 3, 0.9, &m, &err), &err);
    CHECK_NEAR(m.accuracy, 0.6, TOL);
    CHECK_NEAR(m.macro_f1, 0.43290043290043290, TOL); /* 100/231, not micro (0.6) nor weighted (0.535) */
    CHECK(fabs(m.macro_f1 - m.accuracy) > 0.1);
    at_metrics_free(&m);
}

static void test_log_loss(void) {
    at_error err = {0};
    at_metrics m;
    CHECK_OK(at_metrics_compute(Y, P, 10, 3, 0.9, &m, &err), &err);
    CHECK_NEAR(m.log_loss, 4.2777211211896185, 1e-12);
    at_metrics_free(&m);
    /* One row alone: p(true) = 0 is clipped to 1e-15 -> -ln 1e-15 = 34.538776394910684. */
    const int32_t y1[1] = {2};
    const double p1[3] = {0.02, 0.98, 0.0};
    CHECK_OK(at_metrics_compute(y1, p1, 1, 3, 0.9, &m, &err), &err);
    CHECK_NEAR(m.log_loss, 34.538776394910684, 1e-9);
    at_metrics_free(&m);
    /* A perfect row: p(true) = 1 -> 0. */
    const double p2[3] = {0.0, 0.0, 1.0};
    CHECK_OK(at_metrics_compute(y1, p2, 1, 3, 0.9, &m, &err), &err);
    CHECK(m.log_loss == 0.0);
    CHECK(m.accuracy == 1.0);
    at_metrics_free(&m);
}

static void test_confident_fraction(void) {
    at_error err = {0};
    at_metrics m;
    CHECK_OK(at_metrics_compute(Y, P, 10, 3, 0.9, &m, &err), &err);
    if (!m.per_class) return;
    CHECK_NEAR(m.per_class[0].confident_fraction, 0.25, TOL); /* 0.9 exactly and the wrong 0.97 excluded */
    CHECK_NEAR(m.per_class[1].confident_fraction, 0.5, TOL);  /* the wrong 0.98 excluded */
    CHECK(isnan(m.per_class[2].confident_fraction));         /* no correct STAR row */
    CHECK(m.threshold == 0.9);
    at_metrics_free(&m);
    /* A lower threshold takes rows 1 (0.90) and 9 (0.70) of GALAXY in, and row 8 (0.80) of QSO:
     * GALAXY 3/4 (row 2 at 0.60 stays out), QSO 2/2. */
    CHECK_OK(at_metrics_compute(Y, P, 10, 3, 0.65, &m, &err), &err);
    if (!m.per_class) return;
    CHECK_NEAR(m.per_class[0].confident_fraction, 0.75, TOL);
    CHECK_NEAR(m.per_class[1].confident_fraction, 1.0, TOL);
    at_metrics_free(&m);
}

static void test_bad_label(void) {
    at_error err = {0};
    at_metrics m;
    const int32_t y[2] = {0, 3};
    const double p[6] = {0.5, 0.3, 0.2, 0.1, 0.1, 0.8};
    CHECK_FAIL(at_metrics_compute(y, p, 2, 3, 0.9, &m, &err), AT_ERR_INTERNAL, &err, "out of range");
    CHECK(m.confusion == NULL && m.per_class == NULL);
}

/* The JSON text without white space (no name or key of the fixture holds any). */
static char *compact(const char *s) {
    char *out = malloc(strlen(s) + 1), *o = out;
    if (!out) return NULL;
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) *o++ = *s;
    *o = '\0';
    return out;
}

/* The number after `key` inside the object that follows `object` (or at the top, when NULL). */
static double number_after(const char *text, const char *object, const char *key) {
    const char *p = object ? strstr(text, object) : text;
    if (!p) return NAN;
    p = strstr(p, key);
    if (!p) return NAN;
    p += strlen(key);
    if (strncmp(p, "null", 4) == 0) return NAN;
    char *end;
    double v = strtod(p, &end);
    return end == p ? -12345.0 : v;
}

static void test_json_text(void) {
    at_error err = {0};
    at_metrics m;
    CHECK_OK(at_metrics_compute(Y, P, 10, 3, 0.9, &m, &err), &err);
    at_json j;
    at_json_init(&j);
    at_metrics_json(&m, NAMES, &j);
    CHECK(!j.failed && j.buf);
    char *t = j.buf ? compact(j.buf) : NULL;
    CHECK(t != NULL);
    if (!t) {
        at_json_free(&j);
        at_metrics_free(&m);
        return;
    }
    /* rows = true class, columns = predicted, in the order of "classes" */
    CHECK(strstr(t, "\"classes\":[\"GALAXY\",\"QSO\",\"STAR\"]") != NULL);
    CHECK(strstr(t, "\"confusion\":[[4,1,0],[1,2,0],[1,1,0]]") != NULL);
    if (!strstr(t, "\"confusion\":[[4,1,0],[1,2,0],[1,1,0]]")) fprintf(stderr, "  json: %s\n", t);
    CHECK(strstr(t, "\"n\":10") != NULL);
    CHECK_NEAR(number_after(t, NULL, "\"accuracy\":"), 0.6, TOL);
    CHECK_NEAR(number_after(t, NULL, "\"macro_f1\":"), 0.43290043290043290, TOL);
    CHECK_NEAR(number_after(t, NULL, "\"log_loss\":"), 4.2777211211896185, 1e-12);
    CHECK_NEAR(number_after(t, NULL, "\"confident_threshold\":"), 0.9, 0);
    CHECK_NEAR(number_after(t, "\"GALAXY\":{", "\"precision\":"), 0.66666666666666667, TOL);
    CHECK_NEAR(number_after(t, "\"GALAXY\":{", "\"recall\":"), 0.8, TOL);
    CHECK_NEAR(number_after(t, "\"GALAXY\":{", "\"f1\":"), 0.72727272727272727, TOL);
    CHECK_NEAR(number_after(t, "\"GALAXY\":{", "\"support\":"), 5, 0);
    CHECK_NEAR(number_after(t, "\"GALAXY\":{", "\"confident_fraction\":"), 0.25, TOL);
    CHECK_NEAR(number_after(t, "\"QSO\":{", "\"precision\":"), 0.5, TOL);
    CHECK_NEAR(number_after(t, "\"QSO\":{", "\"recall\":"), 0.66666666666666667, TOL);
    CHECK_NEAR(number_after(t, "\"QSO\":{", "\"f1\":"), 0.57142857142857143, TOL);
    CHECK_NEAR(number_after(t, "\"QSO\":{", "\"support\":"), 3, 0);
    CHECK_NEAR(number_after(t, "\"QSO\":{", "\"confident_fraction\":"), 0.5, TOL);
    CHECK_NEAR(number_after(t, "\"STAR\":{", "\"precision\":"), 0, 0);
    CHECK_NEAR(number_after(t, "\"STAR\":{", "\"support\":"), 2, 0);
    CHECK(strstr(t, "\"STAR\":{\"precision\":0,\"recall\":0,\"f1\":0,\"support\":2,\"confident_fraction\":null}") != NULL);
    free(t);
    at_json_free(&j);
    at_metrics_free(&m);
}

/* A second, strongly asymmetric case: every true GALAXY predicted QSO, nothing else wrong.
 * Confusion [[0,3],[0,1]]: GALAXY precision 0 (never predicted), recall 0; QSO precision
 * 1/4, recall 1, F1 = 2 * 0.25 / 1.25 = 0.4; macro-F1 0.2, accuracy 0.25. */
static void test_two_class_asymmetric(void) {
    at_error err = {0};
    at_metrics m;
    const int32_t y[4] = {0, 0, 0, 1};
    const double p[8] = {0.1, 0.9, 0.3, 0.7, 0.45, 0.55, 0.2, 0.8};
    CHECK_OK(at_metrics_compute(y, p, 4, 2, 0.9, &m, &err), &err);
    if (!m.confusion) return;
    CHECK(m.confusion[0] == 0 && m.confusion[1] == 3 && m.confusion[2] == 0 && m.confusion[3] == 1);
    CHECK(m.per_class[0].precision == 0.0 && m.per_class[0].recall == 0.0 && m.per_class[0].f1 == 0.0);
    CHECK(m.per_class[0].support == 3 && m.per_class[1].support == 1);
    CHECK_NEAR(m.per_class[1].precision, 0.25, TOL);
    CHECK_NEAR(m.per_class[1].recall, 1.0, TOL);
    CHECK_NEAR(m.per_class[1].f1, 0.4, TOL);
    CHECK_NEAR(m.macro_f1, 0.2, TOL);
    CHECK_NEAR(m.accuracy, 0.25, TOL);
    CHECK(m.per_class[1].confident_fraction == 0.0); /* its one correct row has 0.8 */
    /* log-loss = -(ln 0.1 + ln 0.3 + ln 0.45 + ln 0.8) / 4
     *          = (2.3025850929940455 + 1.2039728043259361 + 0.7985076962177716 + 0.2231435513142097) / 4 */
    CHECK_NEAR(m.log_loss, 1.1320522862129907, 1e-12);
    at_json j;
    at_json_init(&j);
    at_metrics_json(&m, NAMES, &j);
    char *t = j.buf ? compact(j.buf) : NULL;
    CHECK(t && strstr(t, "\"confusion\":[[0,3],[0,1]]"));
    free(t);
    at_json_free(&j);
    at_metrics_free(&m);
}

int main(void) {
    RUN(test_argmax_ties);
    RUN(test_confusion_orientation);
    RUN(test_per_class);
    RUN(test_accuracy_macro_f1);
    RUN(test_log_loss);
    RUN(test_confident_fraction);
    RUN(test_bad_label);
    RUN(test_json_text);
    RUN(test_two_class_asymmetric);
    return harness_done();
}
