/* fit.c - the CNN through the one model interface: `fit` takes the image set of an
 * at_fit_input (the pipeline's split, class weights, checkpoint and resume flag) and hands
 * it to the trainer; `predict_images` applies the network with its test-time augmentation. */
#include "models/cnn/fit.h"

#include "models/cnn/cnn_internal.h"

#include <stdlib.h>

at_status at_cnn_fit_images(at_cnn *net, size_t k, const at_fit_input *in, at_error *err) {
    if (!net) return at_fail(err, AT_ERR_INTERNAL, "cnn: fit without a network");
    if (!in->train_images)
        return at_fail(err, AT_ERR_CONFIG, "a cnn trains on images: give [data] path an image folder or HDF5 file");
    float *cw = NULL;
    if (in->class_weight) {
        if (!(cw = at_malloc(k ? k : 1, sizeof *cw, err))) return AT_ERR_MEMORY;
        for (size_t c = 0; c < k; c++) cw[c] = (float)in->class_weight[c];
    }
    /* deterministic: the same after a resume; a fixed input_mean/std (a pretrained
     * network's normalisation) replaces the fitted one */
    if (net->spec->has_norm) at_cnn_set_standardisation(net, net->spec->norm_mean, net->spec->norm_std);
    else at_cnn_fit_standardisation(net, in->train_images);
    at_cnn_log_layers(net, in->progress);
    if (!in->resume) { /* a resumed run takes every weight from its checkpoint */
        at_status si = cnn_init_from_file(net, in->progress, err);
        if (si) {
            free(cw);
            return si;
        }
    }
    const at_images *valid = in->valid_images && in->valid_images->n ? in->valid_images : NULL;
    at_cnn_train_options to = {in->threads, in->seed, cw, in->checkpoint, in->resume, in->progress, in->device};
    at_status s = at_cnn_train(net, in->train_images, valid, &to, err);
    free(cw);
    return s;
}

at_status at_cnn_predict_images_op(const at_cnn *net, const at_images *im, double *P, int threads, at_error *err) {
    return at_cnn_predict_images(net, im, at_cnn_params_of(net)->tta, P, threads, err);
}
