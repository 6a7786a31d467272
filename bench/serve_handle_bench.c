/* serve_handle_bench.c - where a 1000-row predict request's time goes, without HTTP: loads a
 * model into a server, then times at_serve_handle on a JSON {"rows": [...]} body and on a
 * text/csv body of the same rows, beside at_bundle_predict_rows alone on those rows (the
 * model's share). Single thread, timed in thread CPU time. Used by bench/serve.sh; usage:
 *   serve_handle_bench MODEL.h5 [ROWS (1000)] [SECONDS (2)] [same]
 * ("same": every row the one SDSS17 row bench/serve.sh sends, as its wrk load does) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "astrotrain/serve.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: steadier on a shared machine */
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double per_call(at_server *s, const char *ct, const char *body, double secs, size_t *bytes_out) {
    at_serve_request rq = {.method = "POST", .url = "/v1/models/m/predict", .content_type = ct,
                           .body = (const uint8_t *)body, .body_len = strlen(body)};
    size_t n = 0;
    double t0 = now(), t;
    do {
        at_serve_response rs;
        at_serve_handle(s, &rq, &rs);
        if (rs.status != 200) {
            fprintf(stderr, "status %d: %.*s\n", rs.status, (int)rs.body_len, rs.body);
            exit(1);
        }
        *bytes_out = rs.body_len;
        at_serve_response_clear(&rs);
        n++;
    } while ((t = now()) - t0 < secs);
    return (t - t0) / (double)n;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: serve_handle_bench MODEL.h5 [ROWS] [SECONDS]\n");
        return 2;
    }
    size_t rows = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
    double secs = argc > 3 ? atof(argv[3]) : 2;
    int same = argc > 4 && strcmp(argv[4], "same") == 0;
    at_serve_options o;
    at_serve_options_default(&o);
    at_server *s = NULL;
    at_error e = {0};
    if (at_server_new(&o, &s, &e) || at_server_add_model(s, "m", argv[1], &e) || at_server_seal(s, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    /* SDSS17-like rows, a little different each so the trees do not walk one path */
    static const char *names[] = {"u", "g", "r", "i", "z", "redshift"};
    static const double base[] = {23.87882, 22.2753, 20.39501, 19.16573, 18.79371, 0.6347936};
    size_t cap = rows * 200 + 64;
    char *js = malloc(cap), *csv = malloc(cap);
    double *X = malloc(rows * 6 * sizeof *X), *P = malloc(rows * 16 * sizeof *P);
    size_t a = (size_t)sprintf(js, "{\"rows\":["), c = (size_t)sprintf(csv, "u,g,r,i,z,redshift\n");
    for (size_t i = 0; i < rows; i++) {
        a += (size_t)sprintf(js + a, "%s{", i ? "," : "");
        for (int j = 0; j < 6; j++) {
            double x = same ? base[j] : base[j] + (j == 5 ? 0.003 : 0.05) * (double)((i * 7 + (size_t)j * 13) % 41) - (j == 5 ? 0.06 : 1.0);
            X[i * 6 + (size_t)j] = x;
            a += (size_t)sprintf(js + a, "%s\"%s\":%.7g", j ? "," : "", names[j], x);
            c += (size_t)sprintf(csv + c, "%s%.7g", j ? "," : "", x);
            X[i * 6 + (size_t)j] = strtod(strrchr(js, ':') + 1, NULL);
        }
        a += (size_t)sprintf(js + a, "}");
        c += (size_t)sprintf(csv + c, "\n");
    }
    sprintf(js + a, "]}");
    size_t out_js = 0, out_csv = 0;
    double tj = per_call(s, "application/json", js, secs, &out_js);
    double tc = per_call(s, "text/csv", csv, secs, &out_csv);
    /* the model alone: the bundle on the same rows */
    at_bundle *b = NULL;
    if (at_bundle_load(argv[1], &b, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    size_t n = 0;
    double t0 = now(), t;
    do {
        if (at_bundle_predict_rows(b, (const char *const *)names, 6, X, rows, P, 1, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        n++;
    } while ((t = now()) - t0 < secs);
    double tm = (t - t0) / (double)n;
    printf("  one thread, %zu %s rows/request: JSON %.3f ms (%.0f rows/s, %zu B in, %zu B out); CSV %.3f ms (%.0f rows/s); "
           "the model alone %.3f ms (%.0f rows/s)\n",
           rows, same ? "identical" : "different", 1e3 * tj, (double)rows / tj, strlen(js), out_js, 1e3 * tc, (double)rows / tc, 1e3 * tm,
           (double)rows / tm);
    at_bundle_free(b);
    at_server_free(s);
    free(js), free(csv), free(X), free(P);
    return 0;
}
