/* init.c - starting a network from trained weights ([net] init = PATH): a .safetensors
 * file of PyTorch weights or an astrotrain model/checkpoint, its tensors matched to the
 * network's by name (optionally through the torchvision ResNet name mapping), shapes
 * checked, every tensor listed as loaded, skipped or left random.
 *
 * The network's tensors use PyTorch's names and layouts: for a layer named N, N.weight
 * (conv: [out, in, kh, kw]; dense: [out, in] with the input flattened C, H, W as PyTorch
 * does), N.bias, and for a conv with batch norm N.bn.weight, N.bn.bias, N.bn.running_mean,
 * N.bn.running_var. The engine stores conv weights as (kh, kw, in) x out and dense weights
 * as (h, w, c) x out; import and export convert. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/safetensors.h"
#include "models/cnn/cnn_internal.h"

enum { T_CONV_W, T_DENSE_W, T_VEC, T_MEAN, T_VAR };

/* One tensor of the network. */
typedef struct dst_tensor {
    char name[64];
    size_t li;
    int what;
    size_t rank, shape[4], count;
    float *p; /* where it lives (params or stats) */
} dst_tensor;

/* One tensor of the file, in PyTorch layout. */
typedef struct src_tensor {
    char name[128]; /* after name mapping */
    char orig[128];
    size_t rank, shape[AT_ST_MAX_RANK], count;
    const at_st_tensor *st; /* safetensors: read on use */
    const float *data;      /* astrotrain: exported */
    int used;
} src_tensor;

static size_t list_tensors(const at_cnn *net, dst_tensor *out) {
    size_t n = 0;
    for (size_t li = 0; li < net->nn.nl; li++) {
        const nn_layer *l = &net->nn.L[li];
        char nm[40];
        cnn_layer_name(&l->s, li, nm, sizeof nm);
        float *P = net->nn.params;
        if (l->s.kind == L_CONV) {
            size_t C = l->s.out_c, S = (size_t)l->s.size;
            if (out) out[n] = (dst_tensor){.li = li, .what = T_CONV_W, .rank = 4, .shape = {C, l->s.in_c, S, S},
                                           .count = l->w_n, .p = P + l->w_off};
            if (out) snprintf(out[n].name, sizeof out[n].name, "%s.weight", nm);
            n++;
            static const char *const bnn[] = {"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"};
            for (int q = l->s.bn ? 0 : 4; q < 4; q++, n++) {
                if (!out) continue;
                float *at = q == 0 ? P + l->g_off : q == 1 ? P + l->b_off : net->nn.stats + l->rs_off + (q == 3 ? C : 0);
                out[n] = (dst_tensor){.li = li, .what = q == 2 ? T_MEAN : q == 3 ? T_VAR : T_VEC, .rank = 1, .shape = {C},
                                      .count = C, .p = at};
                snprintf(out[n].name, sizeof out[n].name, "%s.%s", nm, bnn[q]);
            }
            if (!l->s.bn) {
                if (out) {
                    out[n] = (dst_tensor){.li = li, .what = T_VEC, .rank = 1, .shape = {C}, .count = C, .p = P + l->b_off};
                    snprintf(out[n].name, sizeof out[n].name, "%s.bias", nm);
                }
                n++;
            }
        } else if (l->s.kind == L_DENSE) {
            size_t U = l->out_size, D = l->in_size;
            if (out) {
                out[n] = (dst_tensor){.li = li, .what = T_DENSE_W, .rank = 2, .shape = {U, D}, .count = l->w_n,
                                      .p = P + l->w_off};
                snprintf(out[n].name, sizeof out[n].name, "%s.weight", nm);
                out[n + 1] = (dst_tensor){.li = li, .what = T_VEC, .rank = 1, .shape = {U}, .count = U, .p = P + l->b_off};
                snprintf(out[n + 1].name, sizeof out[n + 1].name, "%s.bias", nm);
            }
            n += 2;
        }
    }
    return n;
}

/* PyTorch layout t into the engine's (to = 1) or back (to = 0). */
static void convert(const at_cnn *net, const dst_tensor *d, float *torch, int to) {
    const nn_layer *l = &net->nn.L[d->li];
    if (d->what == T_CONV_W) {
        size_t Co = l->s.out_c, Ci = l->s.in_c, S = (size_t)l->s.size;
        for (size_t co = 0; co < Co; co++)
            for (size_t ci = 0; ci < Ci; ci++)
                for (size_t kh = 0; kh < S; kh++)
                    for (size_t kw = 0; kw < S; kw++) {
                        size_t a = ((kh * S + kw) * Ci + ci) * Co + co, t = ((co * Ci + ci) * S + kh) * S + kw;
                        if (to) d->p[a] = torch[t];
                        else torch[t] = d->p[a];
                    }
    } else if (d->what == T_DENSE_W) {
        size_t U = l->out_size, C = l->s.in_c, HW = l->s.in_h * l->s.in_w, D = l->in_size;
        for (size_t u = 0; u < U; u++)
            for (size_t c = 0; c < C; c++)
                for (size_t p = 0; p < HW; p++) {
                    size_t a = (p * C + c) * U + u, t = u * D + c * HW + p;
                    if (to) d->p[a] = torch[t];
                    else torch[t] = d->p[a];
                }
    } else {
        if (to) memcpy(d->p, torch, d->count * sizeof *torch);
        else memcpy(torch, d->p, d->count * sizeof *torch);
    }
}

/* torchvision ResNet names to the layer names of configs/resnet*.ini: bnK -> convK.bn,
 * downsample.0 -> downsample, downsample.1 -> downsample.bn. Returns 0 for tensors that have
 * no counterpart (num_batches_tracked). */
int cnn_map_torchvision_name(const char *in, char *out, size_t cap) {
    size_t len = strlen(in);
    static const char nbt[] = "num_batches_tracked";
    if (len >= sizeof nbt - 1 && strcmp(in + len - (sizeof nbt - 1), nbt) == 0) return 0;
    size_t o = 0;
    const char *p = in;
    out[0] = '\0';
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t sl = dot ? (size_t)(dot - p) : strlen(p);
        char seg[64];
        if (sl >= sizeof seg) sl = sizeof seg - 1;
        memcpy(seg, p, sl);
        seg[sl] = '\0';
        char rep[80];
        int digits = sl > 2;
        for (size_t i = 2; i < sl; i++) digits &= seg[i] >= '0' && seg[i] <= '9';
        if (seg[0] == 'b' && seg[1] == 'n' && digits) {
            snprintf(rep, sizeof rep, "conv%s.bn", seg + 2);
        } else if (strcmp(seg, "downsample") == 0 && dot && (dot[1] == '0' || dot[1] == '1') && (dot[2] == '.' || !dot[2])) {
            snprintf(rep, sizeof rep, "downsample%s", dot[1] == '1' ? ".bn" : "");
            dot = dot[2] ? dot + 2 : NULL;
        } else {
            snprintf(rep, sizeof rep, "%s", seg);
        }
        int w = snprintf(out + o, cap - o, "%s%s", o ? "." : "", rep);
        if (w < 0 || (size_t)w >= cap - o) return 0;
        o += (size_t)w;
        if (!dot) break;
        p = dot + 1;
    }
    return 1;
}

static void shape_text(const size_t *shape, size_t rank, char *out, size_t cap) {
    size_t o = 0;
    o += (size_t)snprintf(out, cap, "[");
    for (size_t i = 0; i < rank && o < cap; i++) o += (size_t)snprintf(out + o, cap - o, "%s%zu", i ? ", " : "", shape[i]);
    if (o < cap) snprintf(out + o, cap - o, "]");
}

static size_t last_dense(const at_cnn *net) {
    for (size_t li = net->nn.nl; li-- > 0;)
        if (net->nn.L[li].s.kind == L_DENSE) return li;
    return (size_t)-1;
}

/* The tensors of an astrotrain model or checkpoint, exported to PyTorch layout. */
static at_status astrotrain_tensors(const char *path, at_cnn **src_net, src_tensor **out, size_t *n_out, float **buf,
                                    at_error *err) {
    at_store *st = NULL;
    at_status s = at_store_open(path, &st, err);
    if (s) return s;
    const char *prefix = at_store_has(st, "model/spec") ? "model/" : "net/";
    s = at_cnn_load(st, prefix, src_net, err);
    at_store_close(st);
    if (s) return s;
    size_t n = list_tensors(*src_net, NULL);
    dst_tensor *d = at_calloc(n ? n : 1, sizeof *d, err);
    src_tensor *t = at_calloc(n ? n : 1, sizeof *t, err);
    size_t total = 0;
    if (d) list_tensors(*src_net, d);
    for (size_t i = 0; d && i < n; i++) total += d[i].count;
    float *b = d && t ? at_malloc(total ? total : 1, sizeof *b, err) : NULL;
    if (!b) {
        free(d), free(t);
        return AT_ERR_MEMORY;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        convert(*src_net, &d[i], b + off, 0);
        snprintf(t[i].name, sizeof t[i].name, "%s", d[i].name);
        snprintf(t[i].orig, sizeof t[i].orig, "%s", d[i].name);
        t[i].rank = d[i].rank, t[i].count = d[i].count;
        memcpy(t[i].shape, d[i].shape, sizeof d[i].shape);
        t[i].data = b + off;
        off += d[i].count;
    }
    free(d);
    *out = t, *n_out = n, *buf = b;
    return AT_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

at_status cnn_init_from_file(at_cnn *net, const at_progress *prog, at_error *err) {
    const at_cnn_params *p = &net->spec->p;
    const char *path = cnn_init_path(p);
    if (!path) return AT_OK;
    at_safetensors *sf = NULL;
    at_cnn *src_net = NULL;
    src_tensor *src = NULL;
    dst_tensor *dst = NULL;
    float *src_buf = NULL, *tmp = NULL;
    size_t ns = 0, nd = 0, loaded = 0, skipped = 0, random = 0;
    at_status s = AT_OK;
    if (ends_with(path, ".safetensors")) {
        if ((s = at_safetensors_open(path, &sf, err))) goto done;
        ns = at_safetensors_count(sf);
        if (!(src = at_calloc(ns ? ns : 1, sizeof *src, err))) {
            s = AT_ERR_MEMORY;
            goto done;
        }
        for (size_t i = 0; i < ns; i++) {
            const at_st_tensor *t = at_safetensors_tensor(sf, i);
            snprintf(src[i].orig, sizeof src[i].orig, "%s", t->name);
            src[i].st = t;
            src[i].rank = t->rank, src[i].count = t->count;
            memcpy(src[i].shape, t->shape, sizeof t->shape);
            if (p->init_names == AT_INIT_NAMES_TORCHVISION_RESNET) {
                if (!cnn_map_torchvision_name(t->name, src[i].name, sizeof src[i].name)) src[i].name[0] = '\0';
            } else {
                snprintf(src[i].name, sizeof src[i].name, "%s", t->name);
            }
        }
    } else if ((s = astrotrain_tensors(path, &src_net, &src, &ns, &src_buf, err))) {
        goto done;
    }
    nd = list_tensors(net, NULL);
    if (!(dst = at_calloc(nd ? nd : 1, sizeof *dst, err))) {
        s = AT_ERR_MEMORY;
        goto done;
    }
    list_tensors(net, dst);
    at_progress_log(prog, "init: weights from %s (%zu tensors, names %s)", path, ns,
                    p->init_names == AT_INIT_NAMES_TORCHVISION_RESNET ? "torchvision_resnet" : "as stored");
    size_t head = last_dense(net);
    int rehead = 0;
    /* first pass: does the head's shape differ (re-head)? */
    for (size_t i = 0; i < nd; i++) {
        if (dst[i].li != head) continue;
        for (size_t j = 0; j < ns; j++)
            if (src[j].name[0] && strcmp(src[j].name, dst[i].name) == 0 &&
                (src[j].rank != dst[i].rank || memcmp(src[j].shape, dst[i].shape, dst[i].rank * sizeof(size_t)) != 0))
                rehead = 1;
    }
    for (size_t i = 0; i < nd && !s; i++) {
        dst_tensor *d = &dst[i];
        const nn_layer *l = &net->nn.L[d->li];
        char want[96], have[96];
        shape_text(d->shape, d->rank, want, sizeof want);
        src_tensor *m = NULL;
        for (size_t j = 0; j < ns && !m; j++)
            if (src[j].name[0] && strcmp(src[j].name, d->name) == 0) m = &src[j];
        if (rehead && d->li == head) {
            if (m) m->used = 1;
            at_progress_log(prog, "init:   random  %-36s %s (re-headed: the file's head has another class count)", d->name,
                            want);
            random++;
            continue;
        }
        if (!m) {
            if (p->init_strict) {
                s = at_fail(err, AT_ERR_DATA, "%s: no tensor for %s (layer %zu '%s', line %u; shape %s)%s", path, d->name,
                            d->li, l->s.name[0] ? l->s.name : "unnamed", l->s.line, want,
                            p->init_names == AT_INIT_NAMES_NONE ? "; torchvision files need init_names = torchvision_resnet"
                                                                : "; set init_strict = false to leave it random");
                break;
            }
            at_progress_log(prog, "init:   random  %-36s %s (not in the file)", d->name, want);
            random++;
            continue;
        }
        m->used = 1;
        shape_text(m->shape, m->rank, have, sizeof have);
        if (m->rank != d->rank || memcmp(m->shape, d->shape, d->rank * sizeof(size_t)) != 0) {
            s = at_fail(err, AT_ERR_DATA, "%s: layer %zu '%s' (line %u): tensor %s has shape %s in the file, the network needs %s",
                        path, d->li, l->s.name[0] ? l->s.name : "unnamed", l->s.line, m->orig, have, want);
            break;
        }
        if (!(tmp = at_malloc(d->count ? d->count : 1, sizeof *tmp, err))) {
            s = AT_ERR_MEMORY;
            break;
        }
        if (m->st) s = at_safetensors_read_f32(sf, m->st, tmp, err);
        else memcpy(tmp, m->data, d->count * sizeof *tmp);
        if (!s) {
            if (d->what == T_VAR)
                for (size_t q = 0; q < d->count; q++)
                    if (!(tmp[q] >= 0)) {
                        s = at_fail(err, AT_ERR_DATA, "%s: %s has a negative or NaN running variance", path, m->orig);
                        break;
                    }
        }
        if (!s) convert(net, d, tmp, 1);
        free(tmp);
        tmp = NULL;
        if (!s) {
            at_progress_log(prog, "init:   loaded  %-36s %s <- %s", d->name, want, m->orig);
            loaded++;
        }
    }
    for (size_t j = 0; j < ns && !s; j++)
        if (!src[j].used) {
            at_progress_log(prog, "init:   skipped %-36s (%s)", src[j].orig,
                            src[j].name[0] ? "no layer of that name" : "batch counter, not a weight");
            skipped++;
        }
    if (!s)
        at_progress_log(prog, "init: %zu tensors loaded, %zu skipped, %zu left random", loaded, skipped, random);
done:
    free(tmp);
    free(dst);
    free(src);
    free(src_buf);
    at_cnn_free(src_net);
    at_safetensors_free(sf);
    return s;
}
