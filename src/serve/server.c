/* server.c - the prediction service's state: its options, the named model slots, loading a
 * model file into a version (bundle + what the handlers need precomputed: input geometry,
 * JSON-ready class names, the metadata answer, the example images), and the atomic reload
 * that swaps versions under a short lock with reference counting. */
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "astrotrain/images.h"
#include "astrotrain/model_file.h"
#include "astrotrain/pca.h"
#include "models/bundle_scaling.h"
#include "serve/serve_internal.h"

void at_serve_options_default(at_serve_options *o) {
    memset(o, 0, sizeof *o);
    o->max_body = (size_t)16 << 20;
    o->max_rows = 100000;
    o->max_image_side = 4096;
}

static double now_unix(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

at_status at_server_new(const at_serve_options *o, at_server **out, at_error *err) {
    *out = NULL;
    at_server *s = at_calloc(1, sizeof *s, err);
    if (!s) return AT_ERR_MEMORY;
    s->opt = *o;
    if ((o->examples && !(s->examples = at_strdup(o->examples, err))) ||
        (o->history && !(s->history = at_strdup(o->history, err)))) {
        at_server_free(s);
        return AT_ERR_MEMORY;
    }
    s->opt.examples = s->examples, s->opt.history = s->history;
    atomic_init(&s->example_counter, 0);
    s->started = now_unix();
    *out = s;
    return AT_OK;
}

static void served_free(at_served *v) {
    if (!v) return;
    if (v->out_json)
        for (size_t i = 0; i < v->n_out; i++) free(v->out_json[i]);
    free(v->out_json);
    free(v->meta);
    free((void *)v->per_class);
    at_images_free(v->examples);
    at_bundle_free(v->b);
    free(v);
}

void at_served_release(at_served *v) {
    if (v && atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) == 1) served_free(v);
}

at_served *at_slot_acquire(at_model_slot *sl) {
    pthread_mutex_lock(&sl->mu);
    at_served *v = sl->cur;
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&sl->mu);
    return v;
}

void at_server_free(at_server *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_slots; i++) {
        at_model_slot *sl = s->slots[i];
        at_served_release(sl->cur);
        pthread_mutex_destroy(&sl->mu);
        free(sl->name), free(sl->path), free(sl);
    }
    free(s->slots);
    free((void *)s->requests);
    free(s->examples), free(s->history);
    free(s);
}

size_t at_server_n_models(const at_server *s) { return s->n_slots; }
const char *at_server_model_name(const at_server *s, size_t i) { return i < s->n_slots ? s->slots[i]->name : NULL; }

long at_server_find(const at_server *s, const char *name, size_t n) {
    for (size_t i = 0; i < s->n_slots; i++)
        if (strlen(s->slots[i]->name) == n && memcmp(s->slots[i]->name, name, n) == 0) return (long)i;
    return -1;
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The metadata answer (GET /v2/models/{name}), built once per version. */
static char *meta_of(const char *name, const at_served *v, at_error *err) {
    const at_bundle *b = v->b;
    json_t *m = json_object(), *feat = json_array(), *cls = json_array(), *ins = json_object(),
           *outs = json_object(), *shape = json_array(), *oshape = json_array();
    json_object_set_new(m, "name", json_string(name));
    json_object_set_new(m, "versions", json_pack("[s]", "1"));
    json_object_set_new(m, "platform", json_string("astrotrain"));
    json_object_set_new(m, "family", json_string(b->model->ops->type));
    json_object_set_new(m, "format_version", json_integer(AT_MODEL_FORMAT_VERSION));
    json_object_set_new(m, "kind", json_string(v->image ? "image" : v->transform ? "transform" : "table"));
    json_array_append_new(shape, json_integer(-1));
    if (v->image) {
        json_array_append_new(shape, json_integer((json_int_t)v->h));
        json_array_append_new(shape, json_integer((json_int_t)v->w));
        json_array_append_new(shape, json_integer((json_int_t)v->c));
        json_object_set_new(m, "image", json_pack("{s:I,s:I,s:I}", "height", (json_int_t)v->h, "width",
                                                  (json_int_t)v->w, "channels", (json_int_t)v->c));
    } else {
        json_array_append_new(shape, json_integer((json_int_t)b->d));
        for (size_t j = 0; j < b->d; j++) json_array_append_new(feat, json_string(b->feature_names[j]));
    }
    json_object_set_new(m, "features", feat);
    for (size_t c = 0; c < b->k && !v->transform; c++) json_array_append_new(cls, json_string(b->class_names[c]));
    json_object_set_new(m, "classes", cls);
    json_object_set_new(ins, "name", json_string("input"));
    json_object_set_new(ins, "datatype", json_string(v->image ? "UINT8" : "FP64"));
    json_object_set_new(ins, "shape", shape);
    json_object_set_new(m, "inputs", json_pack("[o]", ins));
    json_array_append_new(oshape, json_integer(-1));
    json_array_append_new(oshape, json_integer((json_int_t)v->n_out));
    json_object_set_new(outs, "name", json_string(v->transform ? "components" : "probabilities"));
    json_object_set_new(outs, "datatype", json_string("FP64"));
    json_object_set_new(outs, "shape", oshape);
    json_t *outl = json_pack("[o]", outs);
    if (!v->transform)
        json_array_append_new(outl, json_pack("{s:s,s:s,s:[i]}", "name", "class", "datatype", "BYTES", "shape", -1));
    json_object_set_new(m, "outputs", outl);
    /* the training run's test figures, when the file has them */
    json_t *met = b->metrics_json ? json_loads(b->metrics_json, 0, NULL) : NULL;
    json_t *sum = json_object();
    json_t *t = met ? json_object_get(met, "test") : NULL;
    const char *keys[] = {"n", "accuracy", "macro_f1", "log_loss"};
    for (size_t i = 0; t && i < sizeof keys / sizeof *keys; i++) {
        json_t *x = json_object_get(t, keys[i]);
        if (x && json_is_number(x)) json_object_set(sum, keys[i], x);
    }
    json_object_set_new(m, "metrics", sum);
    json_decref(met);
    json_object_set_new(m, "examples", json_integer(v->examples ? (json_int_t)v->examples->n : 0));
    char *text = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    if (!text) at_fail(err, AT_ERR_MEMORY, "out of memory building the metadata of model '%s'", name);
    return text;
}

/* A version from a loaded bundle (taken over, also on failure). */
static at_status served_new(const at_server *s, const char *name, at_bundle *b, at_served **out, at_error *err) {
    *out = NULL;
    at_served *v = at_calloc(1, sizeof *v, err);
    if (!v) {
        at_bundle_free(b);
        return AT_ERR_MEMORY;
    }
    v->b = b;
    atomic_init(&v->refs, 1);
    at_status sd = at_bundle_use_device(b, s->opt.device, err); /* issue 17: --device */
    if (sd) {
        at_bundle_free(b), free(v);
        return sd;
    }
    v->loaded_at = now_unix();
    at_status st = AT_OK;
    if (at_model_has(b->model, AT_CAP_TRANSFORM)) {
        const at_pca *p = at_pca_of(b->model);
        v->transform = 1;
        v->n_out = p ? p->k : b->k;
    } else {
        v->n_out = b->k;
    }
    if (at_model_has(b->model, AT_CAP_IMAGES)) {
        /* the input geometry from the last pixel's name, y<H-1>_x<W-1>_c<C-1> */
        size_t y = 0, x = 0, c = 0;
        if (!b->d || sscanf(b->feature_names[b->d - 1], "y%zu_x%zu_c%zu", &y, &x, &c) != 3 ||
            (y + 1) * (x + 1) * (c + 1) != b->d) {
            served_free(v);
            return at_fail(err, AT_ERR_MODEL, "model '%s': an image model whose inputs are not y_x_c pixels", name);
        }
        v->image = 1, v->h = y + 1, v->w = x + 1, v->c = c + 1;
    }
    if (!(v->out_json = at_calloc(v->n_out ? v->n_out : 1, sizeof(char *), err)) ||
        !(v->per_class = at_calloc(v->n_out ? v->n_out : 1, sizeof(uint64_t), err))) {
        served_free(v);
        return AT_ERR_MEMORY;
    }
    for (size_t i = 0; i < v->n_out; i++) {
        char pc[32];
        snprintf(pc, sizeof pc, "PC%zu", i + 1);
        json_t *js = json_string(v->transform ? pc : b->class_names[i]);
        v->out_json[i] = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
        json_decref(js);
        if (!v->out_json[i]) {
            served_free(v);
            return at_fail(err, AT_ERR_MODEL, "model '%s': class %zu's name is not valid UTF-8", name, i);
        }
    }
    if (v->image && s->examples) {
        at_image_load_options lo;
        at_image_load_options_default(&lo);
        lo.width = v->w, lo.height = v->h, lo.channels = v->c;
        lo.fixed_bands = 1; /* FITS example cutouts: the model's band count */
        st = at_bundle_image_scaling(b, &lo.scaling, err); /* FITS example cutouts: as trained */
        if (!st) st = is_dir(s->examples) ? at_images_load_folder(s->examples, &lo, &v->examples, err)
                                 : at_images_load_galaxy10(s->examples, &lo, &v->examples, err);
        if (!st && (!v->examples->y || !v->examples->n))
            st = at_fail(err, AT_ERR_DATA, "%s: the examples need labels", s->examples);
        if (st) {
            served_free(v);
            return at_error_prefix(err, "model '%s': examples: ", name);
        }
    }
    if (!(v->meta = meta_of(name, v, err))) {
        served_free(v);
        return AT_ERR_MEMORY;
    }
    *out = v;
    return AT_OK;
}

static at_status add_slot(at_server *s, const char *name, const char *path, at_bundle *b, at_error *err) {
    if (s->sealed) {
        at_bundle_free(b);
        return at_fail(err, AT_ERR_USAGE, "model '%s': the server is already serving", name);
    }
    size_t n = strlen(name);
    int ok = n > 0 && n <= 64;
    for (size_t i = 0; i < n; i++)
        ok = ok && (strchr("_.-", name[i]) || (name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'z') ||
                    (name[i] >= 'A' && name[i] <= 'Z'));
    if (!ok) {
        at_bundle_free(b);
        return at_fail(err, AT_ERR_USAGE, "model name '%s': use 1-64 of A-Z a-z 0-9 _ . -", name);
    }
    if (at_server_find(s, name, n) >= 0) {
        at_bundle_free(b);
        return at_fail(err, AT_ERR_USAGE, "model name '%s' is given twice", name);
    }
    at_served *v = NULL;
    at_status st = served_new(s, name, b, &v, err);
    if (st) return st;
    at_model_slot *sl = at_calloc(1, sizeof *sl, err);
    at_model_slot **grown = sl ? realloc(s->slots, (s->n_slots + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(sl);
        served_free(v);
        return at_fail(err, AT_ERR_MEMORY, "out of memory adding model '%s'", name);
    }
    s->slots = grown;
    if (!(sl->name = at_strdup(name, err)) || (path && !(sl->path = at_strdup(path, err)))) {
        free(sl->name), free(sl);
        served_free(v);
        return AT_ERR_MEMORY;
    }
    pthread_mutex_init(&sl->mu, NULL);
    sl->cur = v;
    atomic_init(&sl->loads, 1);
    s->slots[s->n_slots++] = sl;
    return AT_OK;
}

at_status at_server_add_bundle(at_server *s, const char *name, at_bundle *b, at_error *err) {
    return add_slot(s, name, NULL, b, err);
}

at_status at_server_add_model(at_server *s, const char *name, const char *path, at_error *err) {
    at_bundle *b = NULL;
    at_status st = at_bundle_load(path, &b, err);
    if (st) return at_error_prefix(err, "model '%s': ", name);
    return add_slot(s, name, path, b, err);
}

at_status at_server_seal(at_server *s, at_error *err) {
    if (s->sealed) return AT_OK;
    size_t n = (size_t)AT_R_N * (s->n_slots + 1) * AT_CODES_N;
    if (!(s->requests = at_calloc(n, sizeof(uint64_t), err))) return AT_ERR_MEMORY;
    s->sealed = 1;
    return AT_OK;
}

static at_status reload_one(at_server *s, at_model_slot *sl, at_error *err) {
    if (!sl->path) return at_fail(err, AT_ERR_USAGE, "model '%s' was not loaded from a file", sl->name);
    at_bundle *b = NULL;
    at_served *v = NULL;
    at_status st = at_bundle_load(sl->path, &b, err);
    if (!st) st = served_new(s, sl->name, b, &v, err);
    if (st) {
        at_error_prefix(err, "model '%s' keeps its previous version: ", sl->name);
        atomic_fetch_add(&sl->load_failures, 1);
        pthread_mutex_lock(&sl->mu);
        snprintf(sl->last_error, sizeof sl->last_error, "%s", err->msg);
        pthread_mutex_unlock(&sl->mu);
        return st;
    }
    pthread_mutex_lock(&sl->mu);
    at_served *old = sl->cur;
    sl->cur = v;
    sl->last_error[0] = 0;
    pthread_mutex_unlock(&sl->mu);
    atomic_fetch_add(&sl->loads, 1);
    at_served_release(old); /* freed now, or by the last request still using it */
    return AT_OK;
}

at_status at_server_reload(at_server *s, const char *name, at_error *err) {
    at_status first = AT_OK;
    for (size_t i = 0; i < s->n_slots; i++) {
        if (name && strcmp(name, s->slots[i]->name) != 0) continue;
        at_error e = {0};
        at_status st = reload_one(s, s->slots[i], &e);
        if (st && !first) {
            first = st;
            if (err) *err = e;
        }
        if (name) return st;
    }
    if (name) return at_fail(err, AT_ERR_USAGE, "no model called '%s'", name);
    return first;
}
