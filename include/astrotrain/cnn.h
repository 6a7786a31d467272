/* cnn.h - convolutional networks for images: a network described in INI sections
 * (Darknet style: [net] then one section per layer) on the network engine shared with
 * the MLP (float32 layers behind a compute seam; the CPU backend runs OpenBLAS sgemm),
 * SGD/Adam/AdamW training with augmentation, checkpoints and resume, and inference.
 *
 * Tensors are NHWC float32 (the layout of at_images), so a convolution is one im2col
 * matrix per group of images times the weight matrix, and bias + activation run over
 * contiguous channel rows. The network owns its input standardisation (per-channel
 * mean and std of the training pixels) so a saved model applies to raw uint8 images. */
#ifndef ASTROTRAIN_CNN_H
#define ASTROTRAIN_CNN_H

#include <stddef.h>
#include <stdint.h>

#include "images.h"
#include "keys.h"
#include "model.h"
#include "model_file.h"
#include "nn.h" /* at_optimizer, at_lr_schedule */
#include "progress.h"
#include "status.h"

/* at_net_record (keys.h): one raw `key = value` of a [net] or layer section, as the
 * configuration collected it. */


/* The [net] section: input shape and training settings. */
typedef struct at_cnn_params {
    size_t width, height, channels;
    size_t batch, epochs;
    int optimizer; /* at_optimizer */
    double learning_rate;
    int schedule;   /* at_lr_schedule */
    double warmup;  /* epochs of linear warm-up from 0 (fractional progress: nn.h) */
    size_t step_size;
    double gamma;   /* step schedule: lr *= gamma every step_size epochs */
    double momentum;
    int nesterov;
    double weight_decay; /* L2 on weights (AdamW: decoupled) */
    double beta1, beta2, eps;
    size_t patience;     /* epochs without validation improvement before stopping; 0 = never */
    int augment_d4;      /* random flips and quarter turns */
    size_t shift;        /* random shift up to this many pixels */
    double brightness;   /* random brightness factor in [1 - b, 1 + b] */
    int tta;             /* evaluate with D4 test-time augmentation */
    size_t infer_batch;
    int init;            /* at_cnn_init (derived from init_spec when it names a scheme) */
    /* transfer learning (README "Transfer learning") */
    char init_spec[64];      /* [net] init: uniform, he, or a weights file (model, checkpoint, .safetensors) */
    int init_names;          /* at_cnn_init_names: how the file's tensor names map to layer names */
    int init_strict;         /* a layer without a tensor in the file is an error (else left random) */
    char freeze[32];         /* "0", a layer count, or a layer name (frozen up to and including it) */
    int freeze_bn;           /* frozen layers' batch norms keep their running statistics */
    double lr_decay;         /* learning-rate factor per block going down (1 = none) */
    size_t unfreeze_after;   /* epochs after which every layer trains (0 = never) */
    char input_mean[64], input_std[64]; /* per-channel normalisation ("" = fitted on the training images) */
    int precision;           /* at_cnn_precision: a GPU's arithmetic (issue 17) */
} at_cnn_params;

typedef enum at_cnn_precision { AT_CNN_FP32 = 0, AT_CNN_BF16 = 1 } at_cnn_precision;

typedef enum at_cnn_init_names { AT_INIT_NAMES_NONE = 0, AT_INIT_NAMES_TORCHVISION_RESNET = 1 } at_cnn_init_names;

typedef enum at_cnn_init { AT_INIT_UNIFORM = 0, AT_INIT_HE = 1 } at_cnn_init;

/* A parsed network description (shapes checked; weights not allocated). */
typedef struct at_cnn_spec at_cnn_spec;

/* Parses the records (unknown keys, bad values and impossible shapes are AT_ERR_CONFIG
 * "source:line: ..."). */
at_status at_cnn_spec_parse(const at_net_record *rec, size_t n, const char *source, at_cnn_spec **out,
                            at_error *err);
/* The same from INI text ("[net]", "key = value", "[conv]", ...; '#' and ';' comments). */
at_status at_cnn_spec_parse_text(const char *text, const char *source, at_cnn_spec **out, at_error *err);
void at_cnn_spec_free(at_cnn_spec *s);
const at_cnn_params *at_cnn_spec_params(const at_cnn_spec *s);
/* 1 for "net" and the layer section names (conv, maxpool, ...). */
int at_cnn_is_net_section(const char *section);
/* Markdown reference of the [net] and layer keys (appended to docs/config.md). Caller frees. */
char *at_cnn_doc(void);

typedef struct at_cnn at_cnn;

/* A network with fresh weights (He initialisation from seed) for n_classes outputs; the
 * last [dense] must have n_classes units. */
at_status at_cnn_new(const at_cnn_spec *spec, size_t n_classes, uint64_t seed, at_cnn **out, at_error *err);
void at_cnn_free(at_cnn *net);
const at_cnn_params *at_cnn_params_of(const at_cnn *net);
size_t at_cnn_n_classes(const at_cnn *net);
size_t at_cnn_n_params(const at_cnn *net);
double at_cnn_flops(const at_cnn *net); /* forward FLOPs per image */
/* One line per layer (type, output shape, parameters, FLOPs) through the progress log. */
void at_cnn_log_layers(const at_cnn *net, const at_progress *p);

/* Input standardisation: x = (pixel / 255 - mean[c]) / std[c]; fitted on training images. */
void at_cnn_fit_standardisation(at_cnn *net, const at_images *im);
void at_cnn_set_standardisation(at_cnn *net, const float *mean, const float *std);

/* Low level: forward pass on n standardised NHWC images, probabilities into P (n x k).
 * Allocates its own workspace (the network is not modified). */
at_status at_cnn_forward(const at_cnn *net, const float *x, size_t n, float *P, int threads, at_error *err);
/* Training-mode pieces for tests: the loss of a batch (class weights may be NULL) and the
 * gradient of every parameter, flat, in the network's parameter order. */
at_status at_cnn_loss_grad(at_cnn *net, const float *x, const int32_t *y, size_t n, const float *class_weight,
                           double *loss, float *grad, int threads, at_error *err);
size_t at_cnn_param_count(const at_cnn *net);
float *at_cnn_param_data(at_cnn *net);
/* Dropout off and batch norm with batch statistics (finite-difference checks need a
 * deterministic, batch-dependent forward). */
void at_cnn_set_grad_check(at_cnn *net, int on);

/* Probabilities (n x k, double) for uint8 images of the network's size, with optional
 * D4 test-time augmentation (average of the 8 transforms). */
at_status at_cnn_predict_images(const at_cnn *net, const at_images *im, int tta, double *P, int threads,
                                at_error *err);

typedef struct at_cnn_train_options {
    int threads;
    uint64_t seed;
    const float *class_weight;   /* k, or NULL */
    const char *checkpoint;      /* path written after every epoch and on interruption; NULL = none */
    int resume;                  /* continue from checkpoint */
    const at_progress *progress; /* may be NULL; its stop flag interrupts at a batch boundary */
    const char *device;          /* "cpu" (or NULL), "cuda", "cuda:N", "auto" (device.h; issue 17) */
} at_cnn_train_options;

/* Trains on train (labels required), validating on valid (may be NULL or empty) after every
 * epoch; keeps the best validation epoch's weights. Interrupted: writes the checkpoint and
 * returns AT_ERR_INTERRUPTED. */
at_status at_cnn_train(at_cnn *net, const at_images *train, const at_images *valid,
                       const at_cnn_train_options *opt, at_error *err);
/* Per-epoch history (epoch, train_loss, train_accuracy, val_loss, val_accuracy, learning_rate). */
const at_history *at_cnn_history(const at_cnn *net);
size_t at_cnn_best_epoch(const at_cnn *net);

/* The network under prefix ("model/"): the description, weights, batch-norm statistics,
 * standardisation and history. */
at_status at_cnn_save(const at_cnn *net, at_store *st, const char *prefix, at_error *err);
at_status at_cnn_load(at_store *st, const char *prefix, at_cnn **out, at_error *err);

/* The at_model face of the network ("cnn"): predict_proba takes rows of h*w*c pixel values
 * (0..255, HWC); fit is done by the image runner. */
extern const at_model_ops at_cnn_ops;
at_status at_cnn_model_wrap(at_cnn *net, at_model **out, at_error *err); /* takes ownership */

/* Prediction on a device (issue 17): "cuda", "cuda:N", "auto" or "cpu"/NULL (back to the CPU).
 * The weights go to the device once; at_cnn_predict_images then runs there (several threads may
 * predict at once: their work is queued in order on the device). */
at_status at_cnn_use_device(at_cnn *net, const char *device, at_error *err);
at_cnn *at_cnn_model_net(const at_model *m);

#endif
