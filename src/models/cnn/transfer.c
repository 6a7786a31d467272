/* transfer.c - the fine-tuning settings of [net]: resolving init (scheme or weights file),
 * freeze (a count or a layer name), input_mean/input_std and the layer names once the shapes
 * are known; and, per epoch, the frozen prefix, frozen batch norms and the per-block
 * learning rates (lr_decay) handed to the engine (nn_net.frozen, frozen_bn, lr_scale). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/cnn/cnn_internal.h"

void cnn_layer_name(const cnn_layer_spec *l, size_t li, char *out, size_t cap) {
    if (l->name[0]) snprintf(out, cap, "%s", l->name);
    else snprintf(out, cap, "layer%zu", li);
}

const char *cnn_init_path(const at_cnn_params *p) {
    if (strcmp(p->init_spec, "uniform") == 0 || strcmp(p->init_spec, "he") == 0 || !p->init_spec[0]) return NULL;
    return p->init_spec;
}

/* "a,b,c" into exactly n floats; 0 on a bad list. */
static int parse_list(const char *text, float *out, size_t n) {
    const char *p = text;
    for (size_t i = 0; i < n; i++) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v)) return 0;
        out[i] = (float)v;
        while (isspace((unsigned char)*end)) end++;
        if (i + 1 < n) {
            if (*end != ',') return 0;
            p = end + 1;
        } else if (*end) {
            return 0;
        }
    }
    return 1;
}

at_status cnn_spec_resolve_transfer(at_cnn_spec *s, at_error *err) {
    at_cnn_params *p = &s->p;
    const char *src = s->source;
    if (strcmp(p->init_spec, "he") == 0) p->init = AT_INIT_HE;
    else p->init = AT_INIT_UNIFORM;
    if (!p->init_spec[0]) return at_fail(err, AT_ERR_CONFIG, "%s: [net] init is empty (uniform, he or a weights file)", src);
    /* layer names: a restricted alphabet and unique */
    for (size_t i = 0; i < s->n_layers; i++) {
        const char *nm = s->layers[i].name;
        for (const char *c = nm; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '.' && *c != '_' && *c != '-')
                return at_fail(err, AT_ERR_CONFIG, "%s:%u: name = '%s': use letters, digits, '.', '_' and '-'", src,
                               s->layers[i].line, nm);
        for (size_t j = 0; nm[0] && j < i; j++)
            if (strcmp(s->layers[j].name, nm) == 0)
                return at_fail(err, AT_ERR_CONFIG, "%s:%u: name = '%s' is already the name of the layer at line %u", src,
                               s->layers[i].line, nm, s->layers[j].line);
    }
    /* freeze: a count or a name */
    const char *f = p->freeze;
    int digits = f[0] != '\0';
    for (const char *c = f; *c; c++) digits &= isdigit((unsigned char)*c) != 0;
    if (digits) {
        char *end;
        unsigned long long v = strtoull(f, &end, 10);
        if (v > s->n_layers)
            return at_fail(err, AT_ERR_CONFIG, "%s: [net] freeze = %s but the network has %zu layers", src, f, s->n_layers);
        s->freeze_n = (size_t)v;
    } else {
        size_t found = 0;
        for (size_t i = 0; i < s->n_layers && !found; i++) {
            char nm[40];
            cnn_layer_name(&s->layers[i], i, nm, sizeof nm);
            if (strcmp(nm, f) == 0) found = i + 1;
        }
        if (!found)
            return at_fail(err, AT_ERR_CONFIG, "%s: [net] freeze = '%s': no layer has that name (a count or a layer's name)",
                           src, f);
        s->freeze_n = found;
    }
    if (s->freeze_n >= s->n_layers && s->n_layers)
        return at_fail(err, AT_ERR_CONFIG, "%s: [net] freeze = %s freezes every layer: nothing would train", src, f);
    /* fixed input normalisation */
    if (!p->input_mean[0] != !p->input_std[0])
        return at_fail(err, AT_ERR_CONFIG, "%s: [net] input_mean and input_std go together (set both or neither)", src);
    s->has_norm = p->input_mean[0] != '\0';
    if (s->has_norm) {
        size_t C = p->channels;
        if (!parse_list(p->input_mean, s->norm_mean, C))
            return at_fail(err, AT_ERR_CONFIG,
                           "%s: [net] input_mean = '%s': needs %zu comma-separated numbers (one per channel; for FITS "
                           "cutouts write [net] channels = their band count)",
                           src, p->input_mean, C);
        if (!parse_list(p->input_std, s->norm_std, C))
            return at_fail(err, AT_ERR_CONFIG,
                           "%s: [net] input_std = '%s': needs %zu comma-separated numbers (one per channel; for FITS "
                           "cutouts write [net] channels = their band count)",
                           src, p->input_std, C);
        for (size_t c = 0; c < C; c++)
            if (!(s->norm_std[c] > 0))
                return at_fail(err, AT_ERR_CONFIG, "%s: [net] input_std = '%s': every value must be > 0", src, p->input_std);
    }
    return AT_OK;
}

/* Block depth of every layer counted from the top: the layers after the last [shortcut] are
 * block 0, each [shortcut] going down starts a deeper block; without shortcuts each conv or
 * dense layer going down starts one. */
static void block_depths(const at_cnn *net, size_t *depth) {
    size_t nl = net->nn.nl;
    int any_shortcut = 0;
    for (size_t li = 0; li < nl; li++) any_shortcut |= net->nn.L[li].s.kind == L_SHORTCUT;
    size_t d = 0;
    int seen_weights = 0;
    for (size_t li = nl; li-- > 0;) {
        const nn_layer_spec *s = &net->nn.L[li].s;
        if (any_shortcut) {
            if (s->kind == L_SHORTCUT) d++;
        } else if (s->kind == L_CONV || s->kind == L_DENSE) {
            if (seen_weights) d++;
            seen_weights = 1;
        }
        depth[li] = d;
    }
}

at_status cnn_transfer_apply(at_cnn *net, size_t epoch, at_error *err) {
    const at_cnn_spec *s = net->spec;
    const at_cnn_params *p = &s->p;
    int unfrozen = p->unfreeze_after && epoch >= p->unfreeze_after;
    net->nn.frozen = unfrozen ? 0 : s->freeze_n;
    net->nn.frozen_bn = p->freeze_bn;
    if (p->lr_decay < 1.0 && !net->lr_scale) {
        size_t nl = net->nn.nl;
        size_t *depth = at_malloc(nl, sizeof *depth, err);
        if (!depth) return AT_ERR_MEMORY;
        if (!(net->lr_scale = at_malloc(nl, sizeof *net->lr_scale, err))) {
            free(depth);
            return AT_ERR_MEMORY;
        }
        block_depths(net, depth);
        for (size_t li = 0; li < nl; li++) net->lr_scale[li] = (float)pow(p->lr_decay, (double)depth[li]);
        free(depth);
    }
    net->nn.lr_scale = net->lr_scale;
    return AT_OK;
}
