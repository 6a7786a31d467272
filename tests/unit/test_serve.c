/* test_serve.c - the prediction service's handlers without sockets: routing and methods, the
 * JSON and CSV row bodies giving exactly at_bundle_predict_rows' probabilities (columns in any
 * order, extra ones ignored, the sentinel row answered with a null class), V2 infer, every bad
 * request's status and message, the limits, the multipart and image-header readers, the
 * reference-counted reload (a version in use survives a reload; a failed reload keeps the old
 * version and counts the failure), concurrent requests during reloads, and the metrics text. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../fuzz/serve_fixture.h"
#include "astrotrain/serve.h"
#include "harness.h"
#include "serve/serve_internal.h"

static at_server *server(size_t max_rows, size_t max_body) {
    at_serve_options o;
    at_serve_options_default(&o);
    if (max_rows) o.max_rows = max_rows;
    if (max_body) o.max_body = max_body;
    at_server *s = NULL;
    at_error err = {0};
    CHECK_OK(at_server_new(&o, &s, &err), &err);
    at_bundle *b = sf_bundle();
    CHECK(b != NULL);
    CHECK_OK(at_server_add_bundle(s, "rf", b, &err), &err);
    CHECK_OK(at_server_seal(s, &err), &err);
    return s;
}

/* status of one request; the body (NUL-terminated copy) in *body when asked */
static int call(at_server *s, const char *method, const char *url, const char *ctype, const char *body, char **out) {
    at_serve_request rq = {.method = method, .url = url, .content_type = ctype, .body = (const uint8_t *)body,
                           .body_len = body ? strlen(body) : 0};
    at_serve_response rs;
    at_serve_handle(s, &rq, &rs);
    if (out) {
        *out = malloc(rs.body_len + 1);
        memcpy(*out, rs.body, rs.body_len);
        (*out)[rs.body_len] = 0;
    }
    at_serve_record(s, &rs, 0.001);
    int st = rs.status;
    at_serve_response_clear(&rs);
    return st;
}

static void test_routes(void) {
    at_server *s = server(0, 0);
    char *b = NULL;
    CHECK(call(s, "GET", "/v2/health/live", NULL, NULL, &b) == 200 && strstr(b, "\"live\":true"));
    free(b);
    CHECK(call(s, "GET", "/v2/health/ready", NULL, NULL, NULL) == 200);
    CHECK(call(s, "GET", "/v2", NULL, NULL, &b) == 200 && strstr(b, "\"models\":[\"rf\"]"));
    free(b);
    CHECK(call(s, "GET", "/v2/models/rf", NULL, NULL, &b) == 200);
    json_t *m = json_loads(b, 0, NULL);
    CHECK(m && strcmp(json_string_value(json_object_get(m, "family")), "random_forest") == 0);
    CHECK(m && json_array_size(json_object_get(m, "features")) == 3 && json_array_size(json_object_get(m, "classes")) == 3);
    CHECK(m && json_real_value(json_object_get(json_object_get(m, "metrics"), "accuracy")) == 0.95);
    json_decref(m), free(b);
    CHECK(call(s, "GET", "/v2/models/rf/ready", NULL, NULL, NULL) == 200);
    CHECK(call(s, "GET", "/", NULL, NULL, &b) == 200 && strstr(b, "<html") && strstr(b, "</html>"));
    free(b);
    CHECK(call(s, "GET", "/openapi.json", NULL, NULL, &b) == 200);
    json_t *o = json_loads(b, 0, NULL);
    CHECK(o && json_object_get(json_object_get(o, "paths"), "/v2/models/{name}/infer"));
    json_decref(o), free(b);
    CHECK(call(s, "HEAD", "/v2/health/live", NULL, NULL, NULL) == 200);
    CHECK(call(s, "POST", "/v2/health/live", NULL, NULL, NULL) == 405);
    CHECK(call(s, "GET", "/v1/models/rf/predict", NULL, NULL, NULL) == 405);
    CHECK(call(s, "GET", "/v2/models/xx", NULL, NULL, &b) == 404 && strstr(b, "unknown model 'xx'"));
    free(b);
    CHECK(call(s, "GET", "/v2/models/rf/nothing", NULL, NULL, NULL) == 404);
    CHECK(call(s, "POST", "/v2/repository/models/rf/unload", NULL, NULL, &b) == 404 && strstr(b, "no such endpoint"));
    free(b);
    CHECK(call(s, "GET", "/nothing", NULL, NULL, NULL) == 404);
    CHECK(call(s, "GET", "/monitor", NULL, NULL, &b) == 404 && strstr(b, "--history"));
    free(b);
    CHECK(call(s, "POST", "/v2/repository/models/rf/load", NULL, NULL, &b) == 400 && strstr(b, "not loaded from a file"));
    free(b);
    at_server_free(s);
}

/* The expected probabilities of rows 0..n-1 of the fixture, straight from the bundle. */
static void expected(const at_server *s, size_t n, double *P) {
    double X[SF_D * 8];
    for (size_t i = 0; i < n; i++) sf_row(i, X + i * SF_D);
    at_error err = {0};
    const at_bundle *b = s->slots[0]->cur->b;
    CHECK_OK(at_bundle_predict_rows(b, SF_FEATURES, SF_D, X, n, P, 1, &err), &err);
}

static void check_answer(const char *body, const double *P, size_t n) {
    json_t *j = json_loads(body, 0, NULL);
    json_t *pr = json_object_get(j, "predictions");
    CHECK(j && json_array_size(pr) == n);
    for (size_t i = 0; i < n && j; i++) {
        json_t *row = json_array_get(pr, i), *p = json_object_get(row, "probabilities");
        size_t best = 0;
        for (size_t c = 0; c < SF_K; c++) {
            CHECK(json_number_value(json_object_get(p, SF_CLASSES[c])) == P[i * SF_K + c]);
            if (P[i * SF_K + c] > P[i * SF_K + best]) best = c;
        }
        CHECK(strcmp(json_string_value(json_object_get(row, "class")), SF_CLASSES[best]) == 0);
    }
    json_decref(j);
}

static void test_predict_same_as_bundle(void) {
    at_server *s = server(0, 0);
    double P[8 * SF_K], x[SF_D];
    expected(s, 5, P);
    char json[2000] = "{\"rows\":[", csv[2000] = "ra,redshift,g_r,u_g\n";
    for (size_t i = 0; i < 5; i++) {
        sf_row(i, x);
        size_t l = strlen(json);
        snprintf(json + l, sizeof json - l, "%s{\"redshift\":%.17g,\"extra\":\"x\",\"g_r\":%.17g,\"u_g\":%.17g}",
                 i ? "," : "", x[2], x[1], x[0]);
        l = strlen(csv);
        snprintf(csv + l, sizeof csv - l, "%zu,%.17g,%.17g,%.17g\r\n", i, x[2], x[1], x[0]);
    }
    strcat(json, "]}");
    char *b = NULL;
    CHECK(call(s, "POST", "/v1/models/rf/predict", "application/json; charset=utf-8", json, &b) == 200);
    check_answer(b, P, 5);
    free(b);
    CHECK(call(s, "POST", "/v1/models/rf/predict", "Text/CSV", csv, &b) == 200);
    check_answer(b, P, 5);
    free(b);
    /* a row with the sentinel: null class, the other row as usual */
    sf_row(0, x);
    char two[400];
    snprintf(two, sizeof two, "{\"rows\":[{\"u_g\":-9999,\"g_r\":1,\"redshift\":1},{\"u_g\":%.17g,\"g_r\":%.17g,\"redshift\":%.17g}]}",
             x[0], x[1], x[2]);
    CHECK(call(s, "POST", "/v1/models/rf/predict", "application/json", two, &b) == 200);
    json_t *j = json_loads(b, 0, NULL);
    CHECK(json_is_null(json_object_get(json_array_get(json_object_get(j, "predictions"), 0), "class")));
    CHECK(json_number_value(json_object_get(json_object_get(json_array_get(json_object_get(j, "predictions"), 1),
                                                            "probabilities"), "GALAXY")) == P[0]);
    json_decref(j), free(b);
    /* null is a missing value: the model's cleaning (missing = drop) rejects the row */
    CHECK(call(s, "POST", "/v1/models/rf/predict", "application/json",
               "{\"rows\":[{\"u_g\":null,\"g_r\":1,\"redshift\":1}]}", &b) == 200);
    CHECK(strstr(b, "\"class\":null") != NULL);
    free(b);
    /* the same through the jansson reader (a nested extra key makes the fast reader decline) */
    CHECK(call(s, "POST", "/v1/models/rf/predict", "application/json",
               "{\"rows\":[{\"u_g\":null,\"g_r\":1,\"redshift\":1,\"meta\":{\"id\":7}}]}", &b) == 200);
    CHECK(strstr(b, "\"class\":null") != NULL);
    free(b);
    /* V2 infer: features in model order, nested data */
    char inf[600];
    snprintf(inf, sizeof inf, "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,3],\"datatype\":\"FP64\",\"data\":[[%.17g,%.17g,%.17g]]}]}",
             x[0], x[1], x[2]);
    CHECK(call(s, "POST", "/v2/models/rf/infer", "application/json", inf, &b) == 200);
    j = json_loads(b, 0, NULL);
    json_t *out0 = json_array_get(json_object_get(j, "outputs"), 0);
    for (size_t c = 0; c < SF_K; c++) CHECK(json_number_value(json_array_get(json_object_get(out0, "data"), c)) == P[c]);
    json_decref(j), free(b);
    at_server_free(s);
}

static void test_bad_requests(void) {
    at_server *s = server(2, 400);
    static const struct {
        const char *method, *url, *ctype, *body;
        int status;
        const char *text;
    } cases[] = {
        {"POST", "/v1/models/rf/predict", "application/json", "{\"rows\": [", 400, "malformed JSON"},
        {"POST", "/v1/models/rf/predict", "application/json", "[1,2]", 400, "\"rows\" array"},
        {"POST", "/v1/models/rf/predict", "application/json", "{\"rows\":[1]}", 400, "rows[0] is not an object"},
        {"POST", "/v1/models/rf/predict", "application/json", "{\"rows\":[{\"u_g\":1,\"g_r\":2}]}", 422, "no feature 'redshift'"},
        {"POST", "/v1/models/rf/predict", "application/json", "{\"rows\":[{\"u_g\":1,\"g_r\":\"2\",\"redshift\":1}]}", 422,
         "'g_r' is not a number"},
        {"POST", "/v1/models/rf/predict", "application/json", "{\"rows\":[{},{},{}]}", 413, "limit of 2 rows"},
        {"POST", "/v1/models/rf/predict", "text/csv", "u_g,g_r,redshift\n1,2,3\n1,2,3\n1,2,3\n", 413, "limit of 2 rows"},
        {"POST", "/v1/models/rf/predict", "text/csv", "u_g,g_r\n1,2\n", 422, "no column 'redshift'"},
        {"POST", "/v1/models/rf/predict", "text/csv", "u_g,g_r,redshift\n1,2\n", 400, "line 2 has 2 fields"},
        {"POST", "/v1/models/rf/predict", "text/csv", "u_g,g_r,redshift\n1,abc,3\n", 422, "'abc' is not a number"},
        {"POST", "/v1/models/rf/predict", "text/csv", "", 400, "empty"},
        {"POST", "/v1/models/rf/predict", "text/plain", "x", 415, "application/json or text/csv"},
        {"POST", "/v1/models/rf/predict", NULL, "x", 415, "(no content type)"},
        {"POST", "/v1/models/rf/predict", "image/png", "x", 415, "takes rows"},
        {"POST", "/v1/models/nope/predict", "application/json", "{}", 404, "unknown model 'nope'"},
        {"POST", "/v2/models/rf/infer", "application/json", "{\"inputs\":[]}", 400, "one input"},
        {"POST", "/v2/models/rf/infer", "application/json",
         "{\"inputs\":[{\"shape\":[1,2],\"data\":[1,2]}]}", 422, "shape must be [n, 3]"},
        {"POST", "/v2/models/rf/infer", "application/json",
         "{\"inputs\":[{\"shape\":[1,3],\"data\":[1,2,\"x\"]}]}", 422, "not a number"},
        {"POST", "/v2/models/rf/infer", "application/json",
         "{\"inputs\":[{\"shape\":[1,3],\"data\":[1,2,3,4]}]}", 422, "more values"},
        {"POST", "/v2/models/rf/infer", "text/csv", "a", 415, "infer takes application/json"},
        {"GET", "/v1/models/rf/example", NULL, NULL, 404, "no examples"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *b = NULL;
        int st = call(s, cases[i].method, cases[i].url, cases[i].ctype, cases[i].body, &b);
        json_t *j = json_loads(b, 0, NULL);
        const char *msg = json_string_value(json_object_get(j, "error"));
        int good = st == cases[i].status && msg && strstr(msg, cases[i].text) &&
                   strchr(b, '\n') == b + strlen(b) - 1;
        if (!good) fprintf(stderr, "  case %zu: %d %s\n", i, st, b);
        CHECK(good);
        json_decref(j), free(b);
    }
    /* the body limit comes before anything else */
    char big[500];
    memset(big, ' ', sizeof big - 1), big[sizeof big - 1] = 0;
    CHECK(call(s, "POST", "/v1/models/rf/predict", "application/json", big, NULL) == 413);
    at_server_free(s);
}

static void test_readers(void) {
    const char *ct = "multipart/form-data; boundary=----XyZ";
    const char *body = "------XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n"
                       "------XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n"
                       "Content-Type: image/png\r\n\r\nPAYLOAD\r\n--not the end\r\n------XyZ--\r\n";
    const uint8_t *part = NULL;
    size_t n = 0;
    CHECK(at_serve_multipart_file(ct, (const uint8_t *)body, strlen(body), &part, &n) == 1);
    CHECK(n == 22 && part && memcmp(part, "PAYLOAD\r\n--not the end", 22) == 0);
    CHECK(at_serve_multipart_file("multipart/form-data", (const uint8_t *)body, strlen(body), &part, &n) == 0);
    const char *nofile = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b--\r\n";
    CHECK(at_serve_multipart_file("multipart/form-data; boundary=b", (const uint8_t *)nofile, strlen(nofile), &part, &n) == 0);
    /* PNG IHDR and a JPEG SOF0 after an APP0 segment */
    uint8_t png[24] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                       0, 0, 0x01, 0x2c, 0, 0, 0, 0xc8};
    size_t w = 0, h = 0;
    CHECK(at_serve_image_size(png, sizeof png, &w, &h) == 1 && w == 300 && h == 200);
    uint8_t jpg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0xff, 0xc0, 0, 11, 8, 0x02, 0x00, 0x01, 0x80, 3, 0, 0, 0};
    CHECK(at_serve_image_size(jpg, sizeof jpg, &w, &h) == 2 && w == 384 && h == 512);
    CHECK(at_serve_image_size((const uint8_t *)"GIF89a", 6, &w, &h) == 0);
}

typedef struct hammer {
    at_server *s;
    int failures, done;
} hammer;

static void *hammer_run(void *arg) {
    hammer *h = arg;
    for (int i = 0; i < 300; i++) {
        char *b = NULL;
        int st = call(h->s, "POST", "/v1/models/rf/predict", "application/json",
                      "{\"rows\":[{\"u_g\":1.5,\"g_r\":0.1,\"redshift\":0.2}]}", &b);
        if (st != 200 || !strstr(b, "\"class\":\"")) h->failures++;
        free(b);
    }
    h->done = 1;
    return NULL;
}

static void test_reload(void) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/astrotrain-serve-test-%d.h5", (int)getpid());
    at_error err = {0};
    at_bundle *b = sf_bundle();
    CHECK_OK(at_bundle_save(b, path, &err), &err);
    at_bundle_free(b);
    at_serve_options o;
    at_serve_options_default(&o);
    at_server *s = NULL;
    CHECK_OK(at_server_new(&o, &s, &err), &err);
    CHECK_OK(at_server_add_model(s, "rf", path, &err), &err);
    CHECK(at_server_add_model(s, "bad name!", path, &err) == AT_ERR_USAGE);
    CHECK(at_server_add_model(s, "rf", path, &err) == AT_ERR_USAGE && strstr(err.msg, "twice"));
    CHECK_OK(at_server_seal(s, &err), &err);
    at_served *held = at_slot_acquire(s->slots[0]);
    CHECK_OK(at_server_reload(s, "rf", &err), &err);
    CHECK(s->slots[0]->cur != held);                 /* swapped */
    CHECK(atomic_load(&held->refs) == 1);             /* only our reference keeps it */
    double x[SF_D] = {1.5, 0.1, 0.2}, P[SF_K];
    CHECK_OK(at_bundle_predict_rows(held->b, SF_FEATURES, SF_D, x, 1, P, 1, &err), &err); /* still usable */
    at_served_release(held);
    /* concurrent requests while reloading: none fails */
    hammer hs[4] = {{s, 0, 0}, {s, 0, 0}, {s, 0, 0}, {s, 0, 0}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, hammer_run, &hs[i]);
    for (int r = 0; r < 5; r++) CHECK_OK(at_server_reload(s, NULL, &err), &err);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(hs[i].failures == 0 && hs[i].done);
    }
    /* a broken file: the old version keeps serving and the failure is counted */
    FILE *f = fopen(path, "w");
    fputs("not a model", f), fclose(f);
    at_served *before = s->slots[0]->cur;
    char *body = NULL;
    CHECK(call(s, "POST", "/v2/repository/models/rf/load", NULL, NULL, &body) == 500);
    CHECK(body && strstr(body, "keeps its previous version") && strstr(body, path));
    free(body);
    CHECK(s->slots[0]->cur == before && s->slots[0]->last_error[0]);
    CHECK(call(s, "POST", "/v1/models/rf/predict", "application/json",
               "{\"rows\":[{\"u_g\":1.5,\"g_r\":0.1,\"redshift\":0.2}]}", NULL) == 200);
    CHECK(call(s, "GET", "/metrics", NULL, NULL, &body) == 200);
    CHECK(body && strstr(body, "astrotrain_model_loads_total{model=\"rf\"} 7\n"));
    CHECK(body && strstr(body, "astrotrain_model_load_failures_total{model=\"rf\"} 1\n"));
    CHECK(body && strstr(body, "astrotrain_requests_total{endpoint=\"predict\",model=\"rf\",code=\"200\"} 1201\n"));
    CHECK(body && strstr(body, "astrotrain_requests_total{endpoint=\"load\",model=\"rf\",code=\"500\"} 1\n"));
    CHECK(body && strstr(body, "astrotrain_rows_predicted_total{model=\"rf\"} 1201\n"));
    CHECK(body && strstr(body, "astrotrain_request_duration_seconds_bucket{endpoint=\"predict\",le=\"0.001\"} 1201\n"));
    CHECK(body && strstr(body, "astrotrain_request_duration_seconds_bucket{endpoint=\"predict\",le=\"0.0005\"} 0\n"));
    free(body);
    at_server_free(s);
    unlink(path);
}

int main(void) {
    RUN(test_routes);
    RUN(test_predict_same_as_bundle);
    RUN(test_bad_requests);
    RUN(test_readers);
    RUN(test_reload);
    return harness_done();
}
