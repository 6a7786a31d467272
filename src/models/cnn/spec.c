/* spec.c - the network description: the key tables of [net] and of every layer section
 * (types, defaults, ranges, docs), parsing the records the configuration collected,
 * shape inference with file:line errors, the canonical text saved in model files, and
 * the markdown reference. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/words.h"
#include "models/cnn/cnn_internal.h"

/* The tables use the generic key type (astrotrain/keys.h) and its one parser. */
#define T_SIZE AT_KEY_SIZE
#define T_INT AT_KEY_INT
#define T_REAL AT_KEY_REAL
#define T_BOOL AT_KEY_BOOL
#define T_CHOICE AT_KEY_CHOICE
typedef at_key net_key;

#define P_(f) AT_KEY_FIELD(at_cnn_params, f)
#define S_(f) AT_KEY_FIELD(cnn_layer_spec, f)
#define ACTS "linear|relu|leaky"
#define NAME_DOC                                                                                         \
    "Optional layer name (letters, digits, '.', '_', '-'; unique): weights from [net] init are matched by it " \
    "(unnamed layers are layerN, N counted from 0), and [net] freeze may name it."

static const net_key keys[] = {
    {"net", "width", T_SIZE, P_(width), "64", 1, 4096, NULL, "Input width in pixels (images are resized to it)."},
    {"net", "height", T_SIZE, P_(height), "64", 1, 4096, NULL, "Input height in pixels."},
    {"net", "channels", T_SIZE, P_(channels), "3", 1, 64, NULL,
     "Input channels: 3 (RGB) or 1 (grey) for PNG/JPEG and Galaxy10; a folder of FITS cutouts sets it to their band "
     "count (1 to 64, e.g. 5 for ugriz), whatever is written here (input_mean/input_std are checked against "
     "the value written: write the band count there when you set them)."},
    {"net", "batch", T_SIZE, P_(batch), "32", 1, 4096, NULL, "Images per training step."},
    {"net", "epochs", T_SIZE, P_(epochs), "15", 1, 100000, NULL, "Passes over the training part."},
    {"net", "optimizer", T_CHOICE, P_(optimizer), "adam", 0, 0, "sgd|adam|adamw",
     "sgd (momentum, nesterov), adam, or adamw (decoupled weight decay)."},
    {"net", "learning_rate", T_REAL, P_(learning_rate), "0.001", 1e-12, 10, NULL, "Base learning rate."},
    {"net", "schedule", T_CHOICE, P_(schedule), "constant", 0, 0, "constant|step|cosine",
     "Learning-rate schedule after warm-up: constant, step (times gamma every step_size epochs), cosine to 0."},
    {"net", "warmup", T_REAL, P_(warmup), "0", 0, 1e4, NULL,
     "Epochs of linear warm-up, ramped at every step: lr * min(1, (step + 1) / (warmup * steps_per_epoch)); "
     "fractions allowed. The schedule runs on fractional epochs (step / steps_per_epoch), as the mlp's."},
    {"net", "step_size", T_SIZE, P_(step_size), "10", 1, 1e6, NULL, "Epochs between learning-rate steps (schedule = step)."},
    {"net", "gamma", T_REAL, P_(gamma), "0.1", 0, 1, NULL, "Factor of each learning-rate step."},
    {"net", "momentum", T_REAL, P_(momentum), "0.9", 0, 0.999999, NULL, "SGD momentum."},
    {"net", "nesterov", T_BOOL, P_(nesterov), "false", 0, 0, NULL, "Nesterov momentum (sgd)."},
    {"net", "weight_decay", T_REAL, P_(weight_decay), "0", 0, 1, NULL,
     "Weight decay of conv and dense weights (L2 for sgd/adam, decoupled for adamw)."},
    {"net", "beta1", T_REAL, P_(beta1), "0.9", 0, 0.999999, NULL, "Adam first-moment decay."},
    {"net", "beta2", T_REAL, P_(beta2), "0.999", 0, 0.999999999, NULL, "Adam second-moment decay."},
    {"net", "eps", T_REAL, P_(eps), "1e-08", 1e-30, 1, NULL, "Adam denominator guard."},
    {"net", "patience", T_SIZE, P_(patience), "0", 0, 1e6, NULL,
     "Stop after this many epochs without a better validation accuracy; 0 = never."},
    {"net", "augment_d4", T_BOOL, P_(augment_d4), "false", 0, 0, NULL,
     "Random flips and quarter turns (the dihedral group D4) of every training image."},
    {"net", "shift", T_SIZE, P_(shift), "0", 0, 64, NULL, "Random shifts of up to this many pixels (edges replicated)."},
    {"net", "brightness", T_REAL, P_(brightness), "0", 0, 0.9, NULL, "Random brightness factor in [1 - b, 1 + b]."},
    {"net", "tta", T_BOOL, P_(tta), "false", 0, 0, NULL,
     "Evaluate (validation, test, predict) on the average of the 8 D4 transforms."},
    {"net", "infer_batch", T_SIZE, P_(infer_batch), "256", 1, 65536, NULL, "Images per inference batch."},
    {"net", "init", AT_KEY_STR, P_(init_spec), "uniform", 0, 0, NULL,
     "Initial weights: uniform (U(+-1/sqrt(fan_in)) for weights and biases, PyTorch's default), he "
     "(normal, sd sqrt(2/fan_in), zero biases), or the path of a weights file to start from: an astrotrain "
     "model or checkpoint (.h5) or PyTorch weights (.safetensors); layers are matched by name (the layer's "
     "`name`, else its position `layerN`), every weight loaded, skipped or left random is listed in log.txt. "
     "In a study (astrotrain experiment), step:NAME is the model.h5 of the earlier step NAME."},
    {"net", "init_names", T_CHOICE, P_(init_names), "none", 0, 0, "none|torchvision_resnet",
     "How the file's tensor names map to layer names: none (astrotrain's: NAME.weight, NAME.bias, "
     "NAME.bn.weight/bias/running_mean/running_var) or torchvision_resnet (conv1, bn1, layerX.Y.convZ/bnZ, "
     "layerX.Y.downsample.0/1, fc: see README)."},
    {"net", "init_strict", T_BOOL, P_(init_strict), "true", 0, 0, NULL,
     "A layer with weights that the file lacks is an error (false: it is left random and listed). The last "
     "[dense] is always re-headed (fresh weights) when its class count differs from the file's."},
    {"net", "freeze", AT_KEY_STR, P_(freeze), "0", 0, 0, NULL,
     "Layers kept fixed while training: a count (the first N layers) or a layer name (every layer up to and "
     "including it). Frozen layers get no update and no backward pass."},
    {"net", "freeze_bn", T_BOOL, P_(freeze_bn), "false", 0, 0, NULL,
     "Frozen layers' batch norms normalise with their running statistics and do not update them."},
    {"net", "lr_decay", T_REAL, P_(lr_decay), "1", 0, 1, NULL,
     "Learning-rate factor per block going down from the head (Zoobot: 0.75): a block ends at each [shortcut] "
     "(without shortcuts, each conv/dense layer is a block); 1 = the same rate everywhere."},
    {"net", "unfreeze_after", T_SIZE, P_(unfreeze_after), "0", 0, 1e6, NULL,
     "Epochs after which the frozen layers train too (0 = never)."},
    {"net", "input_mean", AT_KEY_STR, P_(input_mean), "", 0, 0, NULL,
     "Per-channel input mean on the 0..1 scale, comma-separated (ImageNet: 0.485,0.456,0.406); stored in the "
     "model file, applied by predict and serve. Empty: fitted on the training images."},
    {"net", "input_std", AT_KEY_STR, P_(input_std), "", 0, 0, NULL,
     "Per-channel input standard deviation, comma-separated (ImageNet: 0.229,0.224,0.225); with input_mean."},
    /* issue 17: the GPU's arithmetic */
    {"net", "precision", T_CHOICE, P_(precision), "fp32", 0, 0, "fp32|bf16",
     "Arithmetic on a GPU ([run] device = cuda): fp32, or bf16 (products and convolutions on bf16 tensor cores, "
     "fp32 activations and master weights). The CPU always computes in fp32."},

    {"conv", "filters", T_INT, S_(filters), NULL, 1, 65536, NULL, "Output channels (required)."},
    {"conv", "size", T_INT, S_(size), "3", 1, 31, NULL, "Kernel size (square)."},
    {"conv", "stride", T_INT, S_(stride), "1", 1, 16, NULL, "Stride."},
    {"conv", "pad", T_INT, S_(pad), "-1", -1, 15, NULL, "Zero padding on each side; -1 = size / 2 (same size at stride 1)."},
    {"conv", "activation", T_CHOICE, S_(act), "relu", 0, 0, ACTS, "linear, relu or leaky (slope 0.1)."},
    {"conv", "batch_normalize", T_BOOL, S_(bn), "false", 0, 0, NULL,
     "Batch normalisation before the activation (replaces the bias)."},
    {"conv", "input", T_INT, S_(input), "-1", -1000, -1, NULL,
     "The layer it reads, counted back from this one (-1: the previous layer); a projection shortcut reads the "
     "block's input (e.g. input = -3) and a [shortcut] then adds the block's output to it."},
    {"conv", "name", AT_KEY_STR, S_(name), "", 0, 0, NULL, NAME_DOC},
    {"maxpool", "pad", T_INT, S_(pad), "0", 0, 32, NULL, "Padding on each side (never chosen as the maximum); smaller than size."},
    {"maxpool", "name", AT_KEY_STR, S_(name), "", 0, 0, NULL, NAME_DOC},
    {"avgpool", "name", AT_KEY_STR, S_(name), "", 0, 0, NULL, NAME_DOC},
    {"dense", "name", AT_KEY_STR, S_(name), "", 0, 0, NULL, NAME_DOC},
    {"dropout", "name", AT_KEY_STR, S_(name), "", 0, 0, NULL, NAME_DOC},
    {"shortcut", "name", AT_KEY_STR, S_(name), "", 0, 0, NULL, NAME_DOC},
    {"softmax", "name", AT_KEY_STR, S_(name), "", 0, 0, NULL, NAME_DOC},
    {"maxpool", "size", T_INT, S_(size), "2", 1, 64, NULL, "Window size."},
    {"maxpool", "stride", T_INT, S_(stride), "0", 0, 64, NULL, "Stride; 0 = size."},
    {"dense", "units", T_INT, S_(units), NULL, 1, 1 << 20, NULL,
     "Outputs (required); the last dense layer has one per class."},
    {"dense", "activation", T_CHOICE, S_(act), "linear", 0, 0, ACTS, "linear, relu or leaky."},
    {"dropout", "rate", T_REAL, S_(rate), "0.5", 0, 0.99, NULL, "Fraction of inputs zeroed while training."},
    {"shortcut", "from", T_INT, S_(from), NULL, -1000, -2, NULL,
     "Adds the output of the layer this many back (-3: three layers before this one) to the previous layer's."},
    {"shortcut", "activation", T_CHOICE, S_(act), "linear", 0, 0, ACTS, "Activation after the sum."},
};
#define N_KEYS (sizeof keys / sizeof keys[0])

static const char *const layer_names[] = {"conv", "maxpool", "avgpool", "dense", "dropout", "shortcut", "softmax"};
#define N_LAYER_NAMES 7
static const char *const layer_docs[] = {
    "Convolution (im2col + sgemm), optional batch normalisation, activation.",
    "Max pooling.",
    "Global average pooling: one value per channel.",
    "Fully connected layer on the flattened input.",
    "Inverted dropout (identity at inference).",
    "Residual sum with an earlier layer's output (same shape).",
    "Softmax with cross-entropy loss; must be the last layer."};


int at_cnn_is_net_section(const char *s) {
    if (strcmp(s, "net") == 0) return 1;
    for (size_t i = 0; i < N_LAYER_NAMES; i++)
        if (strcmp(s, layer_names[i]) == 0) return 1;
    return 0;
}

static const net_key *find_key(const char *section, const char *name) {
    return at_key_find(keys, N_KEYS, section, name);
}

static at_status unknown_key(const char *where, const char *section, const char *key, at_error *err) {
    if (!at_key_find(keys, N_KEYS, section, NULL))
        return at_fail(err, AT_ERR_CONFIG, "%s[%s] takes no keys (got '%s')", where, section, key);
    const char *best = at_keys_nearest(keys, N_KEYS, section, key);
    if (best)
        return at_fail(err, AT_ERR_CONFIG, "%sunknown key '%s' in [%s] (did you mean '%s'?)", where, key, section,
                       best);
    return at_fail(err, AT_ERR_CONFIG, "%sunknown key '%s' in [%s]", where, key, section);
}

static at_status set_key(void *base, const net_key *k, const char *v, const char *where, at_error *err) {
    at_status st = at_key_set(k, base, v, err);
    return st ? at_error_prefix(err, "%s", where) : AT_OK;
}

static void format_key(const void *base, const net_key *k, char *out, size_t cap) { at_key_format(k, base, out, cap); }

/* Defaults of one section into base. */
static void section_defaults(const char *section, void *base) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].section, section) == 0 && keys[i].def) {
            at_error e;
            if (set_key(base, &keys[i], keys[i].def, "", &e)) abort(); /* a bad table is a build bug */
        }
}

static void where_of(char *buf, size_t cap, const char *source, uint32_t line) {
    if (line) snprintf(buf, cap, "%s:%u: ", source, line);
    else if (source && source[0]) snprintf(buf, cap, "%s (--set): ", source);
    else snprintf(buf, cap, "--set: ");
}

/* ---- shapes ------------------------------------------------------------------------- */

static at_status infer_shapes(at_cnn_spec *s, const char *source, at_error *err) {
    size_t h = s->p.height, w = s->p.width, c = s->p.channels;
    char where[1200];
    for (size_t i = 0; i < s->n_layers; i++) {
        cnn_layer_spec *l = &s->layers[i];
        where_of(where, sizeof where, source, l->line);
        if (l->kind == L_CONV && l->input < -1) {
            long src = (long)i + l->input;
            if (src < -1)
                return at_fail(err, AT_ERR_CONFIG, "%s[conv] input = %d reaches before the network's input (this is layer %zu)",
                               where, l->input, i);
            if (src >= 0) h = s->layers[src].out_h, w = s->layers[src].out_w, c = s->layers[src].out_c;
            else h = s->p.height, w = s->p.width, c = s->p.channels;
        }
        l->in_h = h, l->in_w = w, l->in_c = c;
        switch (l->kind) {
        case L_CONV: {
            if (l->pad < 0) l->pad = l->size / 2;
            long oh = ((long)h + 2 * l->pad - l->size) / l->stride + 1;
            long ow = ((long)w + 2 * l->pad - l->size) / l->stride + 1;
            if ((long)h + 2 * l->pad < l->size || (long)w + 2 * l->pad < l->size || oh < 1 || ow < 1)
                return at_fail(err, AT_ERR_CONFIG,
                               "%s[conv] impossible shape: a %dx%d kernel does not fit the %zux%zu input with pad %d",
                               where, l->size, l->size, h, w, l->pad);
            if (l->pad >= l->size)
                return at_fail(err, AT_ERR_CONFIG, "%s[conv] pad %d must be smaller than size %d", where, l->pad,
                               l->size);
            h = (size_t)oh, w = (size_t)ow, c = (size_t)l->filters;
            break;
        }
        case L_MAXPOOL: {
            if (l->stride == 0) l->stride = l->size;
            if (l->pad >= l->size)
                return at_fail(err, AT_ERR_CONFIG, "%s[maxpool] pad %d must be smaller than size %d", where, l->pad,
                               l->size);
            if ((size_t)l->size > h + 2 * (size_t)l->pad || (size_t)l->size > w + 2 * (size_t)l->pad)
                return at_fail(err, AT_ERR_CONFIG, "%s[maxpool] impossible shape: window %d is larger than the %zux%zu input",
                               where, l->size, h, w);
            h = (h + 2 * (size_t)l->pad - (size_t)l->size) / (size_t)l->stride + 1;
            w = (w + 2 * (size_t)l->pad - (size_t)l->size) / (size_t)l->stride + 1;
            break;
        }
        case L_AVGPOOL: h = w = 1; break;
        case L_DENSE: c = (size_t)l->units, h = w = 1; break;
        case L_DROPOUT: break;
        case L_SHORTCUT: {
            long src = (long)i + l->from;
            if (src < 0)
                return at_fail(err, AT_ERR_CONFIG, "%s[shortcut] from = %d reaches before the first layer (this is layer %zu)",
                               where, l->from, i);
            const cnn_layer_spec *o = &s->layers[src];
            if (o->out_h != h || o->out_w != w || o->out_c != c)
                return at_fail(err, AT_ERR_CONFIG,
                               "%s[shortcut] impossible shape: layer %ld outputs %zux%zux%zu, the previous layer %zux%zux%zu",
                               where, src, o->out_h, o->out_w, o->out_c, h, w, c);
            break;
        }
        case L_SOFTMAX:
            if (i + 1 != s->n_layers)
                return at_fail(err, AT_ERR_CONFIG, "%s[softmax] must be the last layer", where);
            if (h != 1 || w != 1)
                return at_fail(err, AT_ERR_CONFIG,
                               "%s[softmax] needs one value per class (1x1xK) but gets %zux%zux%zu: add [avgpool] or [dense] before it",
                               where, h, w, c);
            break;
        }
        l->out_h = h, l->out_w = w, l->out_c = c;
    }
    if (s->n_layers == 0 || s->layers[s->n_layers - 1].kind != L_SOFTMAX)
        return at_fail(err, AT_ERR_CONFIG, "%s: the network must end with a [softmax] layer", source && source[0] ? source : "config");
    int trainable = 0;
    for (size_t i = 0; i < s->n_layers; i++) trainable |= s->layers[i].kind == L_CONV || s->layers[i].kind == L_DENSE;
    if (!trainable)
        return at_fail(err, AT_ERR_CONFIG, "%s: the network has no [conv] or [dense] layer", source && source[0] ? source : "config");
    return AT_OK;
}

/* ---- canonical text ------------------------------------------------------------------- */

static void section_text(at_strbuf *b, const char *section, const void *base) {
    at_strbuf_printf(b, "[%s]\n", section);
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(keys[i].section, section) != 0) continue;
        char v[64];
        format_key(base, &keys[i], v, sizeof v);
        if (keys[i].type == AT_KEY_STR && !v[0] && strcmp(section, "net") != 0) continue; /* no name */
        at_strbuf_printf(b, "%s = %s\n", keys[i].name, v);
    }
}

static char *canonical_text(const at_cnn_spec *s) {
    at_strbuf b = {0};
    section_text(&b, "net", &s->p);
    for (size_t i = 0; i < s->n_layers; i++) {
        at_strbuf_printf(&b, "\n");
        section_text(&b, layer_names[s->layers[i].kind], &s->layers[i]);
    }
    return at_strbuf_take(&b);
}

/* ---- parsing -------------------------------------------------------------------------- */

void at_cnn_spec_free(at_cnn_spec *s) {
    if (!s) return;
    free(s->layers);
    free(s->text);
    free(s);
}

const at_cnn_params *at_cnn_spec_params(const at_cnn_spec *s) { return &s->p; }

at_status at_cnn_spec_parse(const at_net_record *rec, size_t n, const char *source, at_cnn_spec **out,
                            at_error *err) {
    *out = NULL;
    if (!source) source = "";
    at_cnn_spec *s = at_calloc(1, sizeof *s, err);
    if (!s) return AT_ERR_MEMORY;
    size_t n_sections = 0;
    for (size_t i = 0; i < n; i++)
        if (rec[i].index + 1 > n_sections) n_sections = rec[i].index + 1;
    s->layers = at_calloc(n_sections ? n_sections : 1, sizeof *s->layers, err);
    if (!s->layers) {
        free(s);
        return AT_ERR_MEMORY;
    }
    section_defaults("net", &s->p);
    snprintf(s->source, sizeof s->source, "%s", source[0] ? source : "network");
    char where[1200];
    at_status st = AT_OK;
    int have_net = 0;
    /* Sections in order: [net] (once, first), then layers. */
    for (size_t sec = 0; sec < n_sections && !st; sec++) {
        const at_net_record *head = NULL;
        for (size_t i = 0; i < n; i++)
            if (rec[i].index == sec) {
                head = &rec[i];
                break;
            }
        if (!head) continue;
        where_of(where, sizeof where, source, head->line);
        void *base;
        cnn_layer_spec *l = NULL;
        if (strcmp(head->section, "net") == 0) {
            if (have_net) {
                st = at_fail(err, AT_ERR_CONFIG, "%s[net] appears twice", where);
                break;
            }
            if (s->n_layers) {
                st = at_fail(err, AT_ERR_CONFIG, "%s[net] must come before the layer sections", where);
                break;
            }
            have_net = 1;
            base = &s->p;
        } else {
            int kind = -1;
            for (int q = 0; q < N_LAYER_NAMES; q++)
                if (strcmp(head->section, layer_names[q]) == 0) kind = q;
            if (kind < 0) {
                st = at_fail(err, AT_ERR_CONFIG, "%sunknown section [%s]", where, head->section);
                break;
            }
            l = &s->layers[s->n_layers++];
            memset(l, 0, sizeof *l);
            l->kind = kind;
            l->line = head->line;
            l->stride = 1;
            section_defaults(head->section, l);
            base = l;
        }
        for (size_t i = 0; i < n && !st; i++) {
            if (rec[i].index != sec || !rec[i].key[0]) continue;
            where_of(where, sizeof where, source, rec[i].line);
            const net_key *k = find_key(head->section, rec[i].key);
            if (!k) {
                st = unknown_key(where, head->section, rec[i].key, err);
                break;
            }
            for (size_t j = 0; j < i; j++)
                if (rec[j].index == sec && strcmp(rec[j].key, rec[i].key) == 0) {
                    st = at_fail(err, AT_ERR_CONFIG, "%skey '%s' in [%s] is set twice (first at line %u)", where,
                                 rec[i].key, head->section, rec[j].line);
                    break;
                }
            if (!st) st = set_key(base, k, rec[i].value, where, err);
        }
        /* required keys */
        for (size_t q = 0; q < N_KEYS && !st; q++) {
            if (keys[q].def || strcmp(keys[q].section, head->section) != 0) continue;
            int found = 0;
            for (size_t i = 0; i < n; i++)
                if (rec[i].index == sec && strcmp(rec[i].key, keys[q].name) == 0) found = 1;
            if (!found) {
                where_of(where, sizeof where, source, head->line);
                st = at_fail(err, AT_ERR_CONFIG, "%s[%s] needs '%s'", where, head->section, keys[q].name);
            }
        }
    }
    if (!st && !have_net)
        st = at_fail(err, AT_ERR_CONFIG, "%s: an image experiment needs a [net] section", source[0] ? source : "config");
    if (!st) st = infer_shapes(s, source, err);
    if (!st) st = cnn_spec_resolve_transfer(s, err); /* transfer.c */
    if (!st && !(s->text = canonical_text(s))) st = at_fail(err, AT_ERR_MEMORY, "out of memory");
    if (st) {
        at_cnn_spec_free(s);
        return st;
    }
    *out = s;
    return AT_OK;
}

/* Records from canonical (or hand-written) text: "[section]" and "key = value" lines. */
at_status at_cnn_spec_parse_text(const char *text, const char *source, at_cnn_spec **out, at_error *err) {
    *out = NULL;
    size_t cap = 16, n = 0;
    at_net_record *rec = at_malloc(cap, sizeof *rec, err);
    if (!rec) return AT_ERR_MEMORY;
    uint32_t line = 0, index = 0;
    int have_section = 0;
    at_status st = AT_OK;
    const char *p = text;
    while (*p && !st) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char buf[256];
        line++;
        if (len >= sizeof buf) {
            st = at_fail(err, AT_ERR_MODEL, "%s: network description line %u too long", source, line);
            break;
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        p += len + (nl ? 1 : 0);
        char *b = buf;
        while (isspace((unsigned char)*b)) b++;
        size_t bl = strlen(b);
        while (bl && isspace((unsigned char)b[bl - 1])) b[--bl] = '\0';
        if (!bl || b[0] == '#' || b[0] == ';') continue;
        if (n + 1 > cap) {
            at_net_record *r2 = realloc(rec, 2 * cap * sizeof *rec);
            if (!r2) {
                st = at_fail(err, AT_ERR_MEMORY, "out of memory");
                break;
            }
            rec = r2, cap *= 2;
        }
        at_net_record *r = &rec[n];
        memset(r, 0, sizeof *r);
        r->line = line;
        if (b[0] == '[') {
            char *e = strchr(b, ']');
            if (!e || (size_t)(e - b - 1) >= sizeof r->section) {
                st = at_fail(err, AT_ERR_MODEL, "%s: bad section header at line %u of the network description", source, line);
                break;
            }
            if (have_section) index++;
            have_section = 1;
            memcpy(r->section, b + 1, (size_t)(e - b - 1));
        } else {
            char *eq = strchr(b, '=');
            if (!eq || !have_section) {
                st = at_fail(err, AT_ERR_MODEL, "%s: bad line %u in the network description", source, line);
                break;
            }
            *eq = '\0';
            char *k = b, *v = eq + 1;
            size_t kl = strlen(k);
            while (kl && isspace((unsigned char)k[kl - 1])) k[--kl] = '\0';
            while (isspace((unsigned char)*v)) v++;
            if (kl >= sizeof r->key || strlen(v) >= sizeof r->value) {
                st = at_fail(err, AT_ERR_MODEL, "%s: bad line %u in the network description", source, line);
                break;
            }
            strcpy(r->key, k);
            strcpy(r->value, v);
            strcpy(r->section, rec[n - 1].section);
        }
        r->index = index;
        n++;
    }
    if (!st) st = at_cnn_spec_parse(rec, n, source, out, err);
    free(rec);
    return st;
}

at_status cnn_spec_copy(const at_cnn_spec *s, at_cnn_spec **out, at_error *err) {
    *out = NULL;
    at_cnn_spec *c = at_calloc(1, sizeof *c, err);
    if (!c) return AT_ERR_MEMORY;
    *c = *s;
    c->layers = at_malloc(s->n_layers, sizeof *c->layers, err);
    c->text = at_strdup(s->text, err);
    if (!c->layers || !c->text) {
        free(c->layers), free(c->text), free(c);
        return AT_ERR_MEMORY;
    }
    memcpy(c->layers, s->layers, s->n_layers * sizeof *c->layers);
    *out = c;
    return AT_OK;
}

/* ---- docs ----------------------------------------------------------------------------- */

char *at_cnn_doc(void) {
    at_strbuf b = {0};
    at_strbuf_printf(&b, "\n## The network: [net] and layer sections\n\n"
               "An image experiment (`[model] type = cnn`) describes its network Darknet-style: one `[net]` "
               "section, then one section per layer in order (sections may repeat). Keys without a default are "
               "required. `--set net.KEY=VALUE` overrides a [net] key.\n");
    const char *secs[N_LAYER_NAMES + 1] = {"net"};
    for (size_t i = 0; i < N_LAYER_NAMES; i++) secs[i + 1] = layer_names[i];
    for (size_t s = 0; s <= N_LAYER_NAMES; s++) {
        at_strbuf_printf(&b, "\n### [%s]\n\n", secs[s]);
        if (s) at_strbuf_printf(&b, "%s\n\n", layer_docs[s - 1]);
        char *rows = at_keys_doc_rows(keys, N_KEYS, secs[s], NULL);
        int any = rows && rows[0];
        if (any) at_strbuf_printf(&b, "| key | type | default | allowed | description |\n|---|---|---|---|---|\n%s", rows);
        if (!rows) b.failed = 1;
        free(rows);
        if (!any) at_strbuf_printf(&b, "No keys.\n");
    }
    return at_strbuf_take(&b);
}
