/* cnn_internal.h - (private) the CNN family's data shared by the files of src/models/cnn:
 * the parsed description and the network (an engine net, src/models/nn, plus the input
 * standardisation and the training history). */
#ifndef ASTROTRAIN_CNN_INTERNAL_H
#define ASTROTRAIN_CNN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "astrotrain/cnn.h"
#include "astrotrain/images.h"
#include "astrotrain/rng.h"
#include "models/nn/nn.h"

#define CNN_LEAKY_SLOPE 0.1f
#define CNN_MAX_CHANNELS AT_IMG_MAX_BANDS /* FITS cutouts' bands (images.h) */

typedef nn_layer_spec cnn_layer_spec;
typedef nn_layer cnn_layer;
typedef nn_work cnn_work;

struct at_cnn_spec {
    at_cnn_params p;
    cnn_layer_spec *layers;
    size_t n_layers;
    char *text; /* canonical INI text (saved in model files, re-parsed on load) */
    char source[512]; /* the file it came from, for messages */
    /* resolved transfer-learning keys (transfer.c): frozen layer count, fixed input
     * normalisation (has_norm), the weights file of [net] init (NULL: none) */
    size_t freeze_n;
    int has_norm;
    float norm_mean[CNN_MAX_CHANNELS], norm_std[CNN_MAX_CHANNELS];
};

struct at_cnn {
    at_cnn_spec *spec;
    nn_net nn; /* layers, params, grads, stats, backend */
    float mean[CNN_MAX_CHANNELS], stdev[CNN_MAX_CHANNELS];
    /* history: epoch, train_loss, train_accuracy, val_loss, val_accuracy, learning_rate */
    double *hist;
    size_t hist_rows, hist_cap;
    at_history history;
    size_t best_epoch;
    cnn_work *train_work; /* cached workspace for at_cnn_loss_grad */
    float *lr_scale;      /* per layer (transfer.c), or NULL */
    const at_nn_backend *device; /* at_cnn_use_device's backend (device_use.c), closed by at_cnn_free */
};

#define CNN_HIST_COLS 6

/* spec.c */
at_status cnn_spec_copy(const at_cnn_spec *s, at_cnn_spec **out, at_error *err);

/* transfer.c: checks and resolves init, freeze, input_mean/std and layer names after the
 * shapes are known (errors name the source file and line). */
at_status cnn_spec_resolve_transfer(at_cnn_spec *s, at_error *err);
/* The weights file of [net] init, or NULL when init names a scheme (uniform, he). */
const char *cnn_init_path(const at_cnn_params *p);
/* The layer's name: its `name`, else "layerN". */
void cnn_layer_name(const cnn_layer_spec *l, size_t li, char *out, size_t cap);
/* Freezing and per-block learning rates of the net for epoch (0-based): sets nn.frozen,
 * nn.frozen_bn, nn.lr_scale (owned by the net). */
at_status cnn_transfer_apply(at_cnn *net, size_t epoch, at_error *err);
/* init.c: a torchvision ResNet tensor name as the layer name of configs/resnet*.ini
 * (bn1 -> conv1.bn, layer1.0.downsample.1 -> layer1.0.downsample.bn); 0 for tensors without
 * a counterpart (num_batches_tracked) or names too long for out. */
int cnn_map_torchvision_name(const char *in, char *out, size_t cap);
/* Loads [net] init's weights into a fresh net, listing every tensor through the progress log. */
at_status cnn_init_from_file(at_cnn *net, const at_progress *prog, at_error *err);

/* net.c */
/* Loss of the batch (weighted mean cross-entropy) and every gradient into net->nn.grads,
 * after nn_forward in training mode. */
double cnn_backward(at_cnn *net, cnn_work *w, const float *x, const int32_t *y, size_t n, const float *cw);
/* train.c: at_cnn_train on an open backend (at_cnn_train opens the one opt->device names):
 * attaches the net, trains, detaches (tests train on a pretend device through it). */
at_status cnn_train_with(at_cnn *net, const at_nn_backend *be, const at_images *train, const at_images *valid,
                         const at_cnn_train_options *opt, at_error *err);
/* m uint8 images (NHWC) into x, standardised. */
void cnn_standardise(const at_cnn *net, const uint8_t *pix, size_t m, float *x);

/* optim.c: the [net] settings as the engine's optimiser and schedule. */
nn_opt_conf cnn_opt_conf(const at_cnn_params *p);
nn_schedule cnn_schedule(const at_cnn_params *p);
double cnn_learning_rate(const at_cnn_params *p, int64_t step, size_t steps_per_epoch);

/* history */
at_status cnn_history_add(at_cnn *net, const double *row, at_error *err);

#endif
