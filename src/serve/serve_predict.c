/* serve_predict.c - the prediction endpoints: POST /v1/models/{name}/predict (JSON rows by
 * column name, text/csv with a header, a raw PNG/JPEG or a multipart upload), POST
 * /v2/models/{name}/infer (the KServe V2 tensor form) and GET /v1/models/{name}/example (a
 * labelled example image, predicted). Bodies are decoded here into the bundle's feature
 * order, predicted with at_bundle_predict_rows / _images (the same cleaning, scaling and
 * model as `predict`), and answered as JSON; every bad body is a 4xx naming what is wrong. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "astrotrain/csv.h"
#include "astrotrain/metrics.h"
#include "astrotrain/pca.h"
#include "core/numfmt17.h"
#include "serve/serve_internal.h"

/* ---- answers ---------------------------------------------------------------------------- */

static void put_num(at_strbuf *b, double x) {
    char t[AT_FMT_G17_MAX];
    at_strbuf_put(b, t, at_fmt_g17(t, x)); /* printf's "%.17g", exactly */
}

static void count(at_served *v, at_model_slot *sl, const double *P, size_t n, at_serve_response *rs) {
    size_t k = v->n_out;
    for (size_t i = 0; i < n && !v->transform; i++)
        if (!isnan(P[i * k])) atomic_fetch_add_explicit(&v->per_class[at_argmax(P + i * k, k)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sl->rows, n, memory_order_relaxed);
    rs->rows = n;
}

/* {"class": "...", "probabilities": {...}} (or the PCA coordinates) of one row. */
static void put_row(at_strbuf *b, const at_served *v, const double *p) {
    size_t k = v->n_out;
    if (isnan(p[0])) {
        at_strbuf_printf(b, "{\"class\":null,\"%s\":null,\"error\":\"the row fails the model's cleaning "
                            "(sentinel value or missing feature)\"}",
                         v->transform ? "components" : "probabilities");
        return;
    }
    if (!v->transform) {
        at_strbuf_put(b, "{\"class\":", 9);
        const char *c = v->out_json[at_argmax(p, k)];
        at_strbuf_put(b, c, strlen(c));
        at_strbuf_put(b, ",\"probabilities\":{", 18);
    } else {
        at_strbuf_put(b, "{\"components\":{", 15);
    }
    for (size_t c = 0; c < k; c++) {
        if (c) at_strbuf_put(b, ",", 1);
        at_strbuf_put(b, v->out_json[c], strlen(v->out_json[c]));
        at_strbuf_put(b, ":", 1);
        put_num(b, p[c]);
    }
    at_strbuf_put(b, "}}", 2);
}

static void answer_rows(const char *name, const at_served *v, const double *P, size_t n, at_serve_response *rs) {
    at_strbuf b = {0};
    at_strbuf_put(&b, "{\"model\":", 9);
    json_t *js = json_string(name);
    char *nm = json_dumps(js, JSON_ENCODE_ANY);
    json_decref(js);
    if (nm) at_strbuf_put(&b, nm, strlen(nm));
    free(nm);
    at_strbuf_put(&b, ",\"predictions\":[", 16);
    for (size_t i = 0; i < n; i++) {
        if (i) at_strbuf_put(&b, ",", 1);
        put_row(&b, v, P + i * v->n_out);
    }
    at_strbuf_put(&b, "]}\n", 3);
    at_serve_json(rs, 200, &b);
}

/* Probabilities (or coordinates) P (n * n_out) of n rows X (n * d, the bundle's order). */
static at_status predict_table(const at_served *v, double *X, size_t n, double *P, at_error *err) {
    const at_bundle *b = v->b;
    if (!v->transform)
        return at_bundle_predict_rows(b, (const char *const *)b->feature_names, b->d, X, n, P, 1, err);
    /* a PCA model: the bundle's cleaning and preprocessing, then the projection */
    size_t k = v->n_out, m = 0;
    double *ok = at_malloc(n * b->d + 1, sizeof *ok, err);
    if (!ok) return AT_ERR_MEMORY;
    for (size_t i = 0; i < n; i++)
        if (at_bundle_row_ok(b, X + i * b->d)) memcpy(ok + m++ * b->d, X + i * b->d, b->d * sizeof *X);
    double *Xm = NULL, *Z = at_malloc(m * k + 1, sizeof *Z, err);
    at_status st = Z ? at_bundle_prepare(b, ok, m, &Xm, err) : AT_ERR_MEMORY;
    const at_pca *mp = at_pca_of(b->model);
    if (!st) {
        if (mp) st = at_pca_transform(mp, Xm, m, Z, err);
        else memcpy(Z, Xm, m * k * sizeof *Z);
    }
    for (size_t i = 0, j = 0; !st && i < n; i++) {
        if (at_bundle_row_ok(b, X + i * b->d)) memcpy(P + i * k, Z + j++ * k, k * sizeof *P);
        else
            for (size_t c = 0; c < k; c++) P[i * k + c] = NAN;
    }
    if (Xm != ok) free(Xm);
    free(ok), free(Z);
    return st;
}

/* ---- bodies ----------------------------------------------------------------------------- */

typedef struct parsed {
    double *X;
    size_t n;
    int status; /* 0 ok, else the 4xx */
    char msg[600];
} parsed;

static int fail(parsed *p, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(parsed *p, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
    p->status = status;
    free(p->X);
    p->X = NULL;
    return status;
}

/* {"rows": [{"u": 1.0, ...}, ...]}: columns by name, any order, extra keys ignored; null is
 * a missing value (the model's cleaning decides). */
static int parse_json_rows(const at_server *s, const at_served *v, const uint8_t *body, size_t len, parsed *p) {
    json_error_t je;
    json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) return fail(p, 400, "malformed JSON at line %d, column %d: %s", je.line, je.column, je.text);
    json_t *rows = json_is_object(root) ? json_object_get(root, "rows") : NULL;
    if (!rows || !json_is_array(rows)) {
        json_decref(root);
        return fail(p, 400, "the JSON body needs a \"rows\" array of objects");
    }
    size_t n = json_array_size(rows), d = v->b->d;
    if (n > s->opt.max_rows) {
        json_decref(root);
        return fail(p, 413, "%zu rows is over the limit of %zu rows per request", n, s->opt.max_rows);
    }
    if (!(p->X = malloc((n * d + 1) * sizeof *p->X))) {
        json_decref(root);
        return fail(p, 500, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(rows, i);
        if (!json_is_object(r)) {
            json_decref(root);
            return fail(p, 400, "rows[%zu] is not an object of feature values", i);
        }
        for (size_t j = 0; j < d; j++) {
            const char *f = v->b->feature_names[j];
            json_t *x = json_object_get(r, f);
            if (!x) {
                fail(p, 422, "rows[%zu] has no feature '%s'", i, f);
                json_decref(root);
                return p->status;
            }
            if (json_is_null(x)) p->X[i * d + j] = NAN;
            else if (json_is_number(x)) p->X[i * d + j] = json_number_value(x);
            else {
                fail(p, 422, "rows[%zu]: feature '%s' is not a number", i, f);
                json_decref(root);
                return p->status;
            }
        }
    }
    json_decref(root);
    p->n = n;
    return 0;
}

/* text/csv with a header line: columns by name, any order, extra columns ignored. */
static int parse_csv_rows(const at_server *s, const at_served *v, const uint8_t *body, size_t len, parsed *p) {
    size_t d = v->b->d;
    char *t = malloc(len + 1);
    long *col = calloc(d ? d : 1, sizeof *col);
    char **field = NULL;
    if (!t || !col) {
        free(t), free(col);
        return fail(p, 500, "out of memory");
    }
    memcpy(t, body, len);
    t[len] = 0;
    if (memchr(t, 0, len)) {
        free(t), free(col);
        return fail(p, 400, "the CSV body contains a NUL byte");
    }
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += t[i] == '\n';
    size_t ncol = 0, cap = 0, n = 0, line = 0;
    int rc = 0;
    char *save = NULL;
    for (char *ln = strtok_r(t, "\n", &save); ln && !rc; ln = strtok_r(NULL, "\n", &save)) {
        line++;
        size_t l = strlen(ln);
        if (l && ln[l - 1] == '\r') ln[--l] = 0;
        if (!l) continue;
        /* split in place at commas */
        size_t nf = 0;
        for (char *c = ln;; nf++) {
            if (nf >= cap) {
                cap = cap ? 2 * cap : 64;
                char **g = realloc(field, cap * sizeof *g);
                if (!g) {
                    rc = fail(p, 500, "out of memory");
                    break;
                }
                field = g;
            }
            field[nf] = c;
            char *comma = strchr(c, ',');
            if (!comma) {
                nf++;
                break;
            }
            *comma = 0;
            c = comma + 1;
        }
        if (rc) break;
        if (!ncol) { /* the header */
            ncol = nf;
            for (size_t j = 0; j < d; j++) {
                col[j] = -1;
                for (size_t f = 0; f < nf; f++) {
                    char *h = field[f];
                    size_t hl = strlen(h);
                    if (hl >= 2 && h[0] == '"' && h[hl - 1] == '"') h[hl - 1] = 0, h++;
                    if (strcmp(h, v->b->feature_names[j]) == 0) col[j] = (long)f;
                }
                if (col[j] < 0) {
                    rc = fail(p, 422, "the CSV header has no column '%s'", v->b->feature_names[j]);
                    break;
                }
            }
            if (!rc && !(p->X = malloc((lines * d + 1) * sizeof *p->X))) rc = fail(p, 500, "out of memory");
            continue;
        }
        if (nf != ncol) {
            rc = fail(p, 400, "CSV line %zu has %zu fields, the header %zu", line, nf, ncol);
            break;
        }
        if (n >= s->opt.max_rows) {
            rc = fail(p, 413, "over the limit of %zu rows per request", s->opt.max_rows);
            break;
        }
        for (size_t j = 0; j < d && !rc; j++) {
            int special = 0;
            double x;
            if (!at_parse_number(field[col[j]], &x, &special))
                rc = fail(p, 422, "CSV line %zu, column '%s': '%.40s' is not a number", line, v->b->feature_names[j],
                          field[col[j]]);
            else p->X[n * d + j] = special == 1 ? NAN : x;
        }
        n++;
    }
    if (!rc && !ncol) rc = fail(p, 400, "the CSV body is empty: it needs a header line and rows");
    free(t), free(col), free(field);
    p->n = n;
    return rc;
}

static const char *media(const char *ct, char *buf, size_t cap) {
    if (!ct) return "";
    size_t i = 0;
    while (ct[i] == ' ') ct++;
    for (; ct[i] && ct[i] != ';' && ct[i] != ' ' && i + 1 < cap; i++)
        buf[i] = (char)(ct[i] >= 'A' && ct[i] <= 'Z' ? ct[i] + 32 : ct[i]);
    buf[i] = 0;
    return buf;
}

static void predict_image_body(at_server *s, at_served *v, at_model_slot *sl, const uint8_t *body, size_t len,
                               at_serve_response *rs) {
    at_images *im = NULL;
    at_error e = {0};
    int hs = 400;
    double *P = NULL;
    if (at_images_new(1, v->h, v->w, v->c, 0, &im, &e)) {
        at_serve_error(rs, 500, "%s", e.msg);
        return;
    }
    if (at_serve_decode_image(v, body, len, s->opt.max_image_side, im->pixels, &e, &hs)) {
        at_serve_error(rs, hs, "%s", e.msg);
    } else if (!(P = malloc(v->n_out * sizeof *P)) || at_bundle_predict_images(v->b, im, P, 1, &e)) {
        at_serve_error(rs, 500, "%s", P ? e.msg : "out of memory");
    } else {
        count(v, sl, P, 1, rs);
        answer_rows(sl->name, v, P, 1, rs);
    }
    free(P);
    at_images_free(im);
}

void at_serve_predict(at_server *s, at_served *v, const at_serve_request *rq, at_serve_response *rs) {
    at_model_slot *sl = s->slots[rs->model];
    char mt[80];
    const char *ct = media(rq->content_type, mt, sizeof mt);
    const uint8_t *body = rq->body ? rq->body : (const uint8_t *)"";
    size_t len = rq->body_len;
    int is_image = strcmp(ct, "image/png") == 0 || strcmp(ct, "image/jpeg") == 0 ||
                   strcmp(ct, "application/octet-stream") == 0 ||
                   strcmp(ct, "application/fits") == 0 || strcmp(ct, "image/fits") == 0; /* serve_fits.c */
    if (strcmp(ct, "multipart/form-data") == 0) {
        if (!at_serve_multipart_file(rq->content_type, body, len, &body, &len)) {
            at_serve_error(rs, 400, "the multipart body has no file part");
            return;
        }
        is_image = 1;
    }
    if (v->image) {
        if (!is_image) {
            at_serve_error(rs, 415, "model '%s' classifies images: send image/png, image/jpeg, application/fits or a multipart upload, "
                                    "not '%s'", sl->name, ct[0] ? ct : "(no content type)");
            return;
        }
        predict_image_body(s, v, sl, body, len, rs);
        return;
    }
    parsed p = {0};
    if (strcmp(ct, "application/json") == 0) {
        /* the plain rows through the fast reader; anything else through jansson */
        if (!at_serve_rows_json_fast((const char *const *)v->b->feature_names, v->b->d, s->opt.max_rows, body, len,
                                     &p.X, &p.n))
            parse_json_rows(s, v, body, len, &p);
    }
    else if (strcmp(ct, "text/csv") == 0) parse_csv_rows(s, v, body, len, &p);
    else {
        at_serve_error(rs, 415, "model '%s' takes rows: send application/json or text/csv, not '%s'", sl->name,
                       ct[0] ? ct : "(no content type)");
        return;
    }
    if (p.status) {
        at_serve_error(rs, p.status, "%s", p.msg);
        return;
    }
    double *P = malloc((p.n * v->n_out + 1) * sizeof *P);
    at_error e = {0};
    if (!P || predict_table(v, p.X, p.n, P, &e)) {
        at_serve_error(rs, 500, "%s", P ? e.msg : "out of memory");
    } else {
        count(v, sl, P, p.n, rs);
        answer_rows(sl->name, v, P, p.n, rs);
    }
    free(P), free(p.X);
}

/* ---- V2 infer ----------------------------------------------------------------------------- */

/* Flattens nested arrays of numbers into X[*at..]; -1 on a non-number, -2 on too many. */
static int flatten(json_t *a, double *X, size_t cap, size_t *at) {
    if (json_is_array(a)) {
        for (size_t i = 0; i < json_array_size(a); i++) {
            int r = flatten(json_array_get(a, i), X, cap, at);
            if (r) return r;
        }
        return 0;
    }
    if (!json_is_number(a)) return -1;
    if (*at >= cap) return -2;
    X[(*at)++] = json_number_value(a);
    return 0;
}

void at_serve_infer(at_server *s, at_served *v, const at_serve_request *rq, at_serve_response *rs) {
    at_model_slot *sl = s->slots[rs->model];
    char mt[80];
    const char *ct = media(rq->content_type, mt, sizeof mt);
    if (ct[0] && strcmp(ct, "application/json") != 0) {
        at_serve_error(rs, 415, "infer takes application/json, not '%s'", ct);
        return;
    }
    json_error_t je;
    json_t *root = json_loadb((const char *)(rq->body ? rq->body : (const uint8_t *)""), rq->body_len,
                              JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        at_serve_error(rs, 400, "malformed JSON at line %d, column %d: %s", je.line, je.column, je.text);
        return;
    }
    json_t *ins = json_object_get(root, "inputs"), *in0 = json_array_get(ins, 0);
    json_t *shape = json_object_get(in0, "shape"), *data = json_object_get(in0, "data");
    size_t per = v->image ? v->h * v->w * v->c : v->b->d;
    size_t rank = v->image ? 4 : 2;
    if (!json_is_array(ins) || json_array_size(ins) != 1 || !json_is_object(in0) || !json_is_array(shape) ||
        !data) {
        json_decref(root);
        at_serve_error(rs, 400, "infer needs {\"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}]} (one input)");
        return;
    }
    json_int_t n0 = json_integer_value(json_array_get(shape, 0));
    int shape_ok = json_array_size(shape) == rank && json_is_integer(json_array_get(shape, 0)) && n0 >= 0;
    size_t prod = 1;
    for (size_t i = 1; shape_ok && i < rank; i++) {
        json_t *x = json_array_get(shape, i);
        shape_ok = json_is_integer(x) && json_integer_value(x) >= 0;
        if (shape_ok) prod *= (size_t)json_integer_value(x);
    }
    if (!shape_ok || prod != per) {
        json_decref(root);
        if (v->image) at_serve_error(rs, 422, "shape must be [n, %zu, %zu, %zu] for model '%s'", v->h, v->w, v->c, sl->name);
        else at_serve_error(rs, 422, "shape must be [n, %zu] (the features in model order) for model '%s'", per, sl->name);
        return;
    }
    size_t n = (size_t)n0;
    if (n > s->opt.max_rows) {
        json_decref(root);
        at_serve_error(rs, 413, "%zu rows is over the limit of %zu rows per request", n, s->opt.max_rows);
        return;
    }
    double *X = malloc((n * per + 1) * sizeof *X), *P = malloc((n * v->n_out + 1) * sizeof *P);
    size_t got = 0;
    int fr = X && P ? flatten(data, X, n * per, &got) : 0;
    json_decref(root);
    at_error e = {0};
    at_images *im = NULL;
    if (!X || !P) at_serve_error(rs, 500, "out of memory");
    else if (fr == -1) at_serve_error(rs, 422, "\"data\" holds something that is not a number");
    else if (fr == -2 || got != n * per)
        at_serve_error(rs, 422, "\"data\" has %s values than the shape's %zu", fr == -2 ? "more" : "fewer", n * per);
    else if (v->image) {
        int bad = 0;
        if (!at_images_new(n, v->h, v->w, v->c, 0, &im, &e))
            for (size_t i = 0; i < n * per && !bad; i++) {
                bad = !(X[i] >= 0 && X[i] <= 255);
                im->pixels[i] = bad ? 0 : (uint8_t)X[i];
            }
        if (!im) at_serve_error(rs, 500, "%s", e.msg);
        else if (bad) at_serve_error(rs, 422, "image data must be UINT8 values 0-255");
        else if (at_bundle_predict_images(v->b, im, P, 1, &e)) at_serve_error(rs, 500, "%s", e.msg);
        else fr = 1;
    } else if (predict_table(v, X, n, P, &e)) at_serve_error(rs, 500, "%s", e.msg);
    else fr = 1;
    if (fr == 1) {
        count(v, sl, P, n, rs);
        size_t k = v->n_out;
        at_strbuf b = {0};
        json_t *js = json_string(sl->name);
        char *nm = json_dumps(js, JSON_ENCODE_ANY);
        json_decref(js);
        at_strbuf_printf(&b, "{\"model_name\":%s,\"model_version\":\"1\",\"outputs\":[{\"name\":\"%s\",\"datatype\":"
                             "\"FP64\",\"shape\":[%zu,%zu],\"data\":[",
                         nm ? nm : "\"\"", v->transform ? "components" : "probabilities", n, k);
        free(nm);
        for (size_t i = 0; i < n * k; i++) {
            if (i) at_strbuf_put(&b, ",", 1);
            if (isnan(P[i])) at_strbuf_put(&b, "null", 4);
            else put_num(&b, P[i]);
        }
        at_strbuf_put(&b, "]}", 2);
        if (!v->transform) {
            at_strbuf_printf(&b, ",{\"name\":\"class\",\"datatype\":\"BYTES\",\"shape\":[%zu],\"data\":[", n);
            for (size_t i = 0; i < n; i++) {
                const char *c = isnan(P[i * k]) ? "null" : v->out_json[at_argmax(P + i * k, k)];
                if (i) at_strbuf_put(&b, ",", 1);
                at_strbuf_put(&b, c, strlen(c));
            }
            at_strbuf_put(&b, "]}", 2);
        }
        at_strbuf_put(&b, "]}\n", 3);
        at_serve_json(rs, 200, &b);
    }
    at_images_free(im);
    free(X), free(P);
}

/* ---- examples ------------------------------------------------------------------------------ */

void at_serve_example(at_server *s, at_served *v, const at_serve_request *rq, at_serve_response *rs) {
    at_model_slot *sl = s->slots[rs->model];
    if (!v->examples) {
        at_serve_error(rs, 404, "model '%s' has no examples: start the server with --examples FILE.h5|DIR%s", sl->name,
                       v->image ? "" : " (image models only)");
        return;
    }
    const at_images *ex = v->examples;
    size_t i;
    const char *q = rq->query ? strstr(rq->query, "index=") : NULL;
    if (q) {
        char *end = NULL;
        unsigned long long x = strtoull(q + 6, &end, 10);
        if (end == q + 6 || x >= ex->n) {
            at_serve_error(rs, 422, "index must be 0..%zu", ex->n - 1);
            return;
        }
        i = (size_t)x;
    } else { /* a fixed, well-mixed walk through the set */
        uint64_t t = atomic_fetch_add(&s->example_counter, 1) + 1;
        t *= 0x9E3779B97F4A7C15ull;
        i = (size_t)((t ^ (t >> 29)) % ex->n);
    }
    size_t per = v->h * v->w * v->c, k = v->n_out;
    at_images *one = NULL;
    at_error e = {0};
    double *P = malloc(k * sizeof *P);
    if (!P || at_images_new(1, v->h, v->w, v->c, 0, &one, &e)) {
        free(P);
        at_serve_error(rs, 500, "out of memory");
        return;
    }
    memcpy(one->pixels, ex->pixels + i * per, per);
    if (at_bundle_predict_images(v->b, one, P, 1, &e)) {
        at_serve_error(rs, 500, "%s", e.msg);
    } else {
        int32_t y = ex->y[i];
        const char *truth = ex->class_names && y >= 0 && (size_t)y < ex->n_classes ? ex->class_names[y]
                            : y >= 0 && (size_t)y < v->b->k                       ? v->b->class_names[y]
                                                                                  : "";
        json_t *tj = json_string(truth);
        char *tt = tj ? json_dumps(tj, JSON_ENCODE_ANY) : NULL;
        json_decref(tj);
        at_strbuf b = {0};
        at_strbuf_printf(&b, "{\"index\":%zu,\"n\":%zu,\"true\":%s,\"height\":%zu,\"width\":%zu,\"channels\":%zu,",
                         i, ex->n, tt ? tt : "\"\"", v->h, v->w, v->c);
        free(tt);
        at_strbuf_put(&b, "\"prediction\":", 13);
        put_row(&b, v, P);
        at_strbuf_put(&b, ",\"pixels\":[", 11);
        for (size_t j = 0; j < per; j++) at_strbuf_printf(&b, j ? ",%u" : "%u", (unsigned)ex->pixels[i * per + j]);
        at_strbuf_put(&b, "]}\n", 3);
        count(v, sl, P, 1, rs);
        at_serve_json(rs, 200, &b);
    }
    free(P);
    at_images_free(one);
}
