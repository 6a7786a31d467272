/* fit.h - (private) the CNN's side of the one model interface: fit on an image set from
 * at_fit_input, and predict on images, called by the at_model face in io.c. */
#ifndef ASTROTRAIN_MODELS_CNN_FIT_H
#define ASTROTRAIN_MODELS_CNN_FIT_H

#include "astrotrain/cnn.h"
#include "astrotrain/model.h"

/* Fits the input standardisation on in->train_images, logs the layer table and trains
 * (at_cnn_train) with in's seed, threads, class weights (k), checkpoint and resume flag. */
at_status at_cnn_fit_images(at_cnn *net, size_t k, const at_fit_input *in, at_error *err);
/* Probabilities for images, with the network's own test-time augmentation setting. */
at_status at_cnn_predict_images_op(const at_cnn *net, const at_images *im, double *P, int threads, at_error *err);

#endif
