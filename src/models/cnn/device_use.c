/* device_use.c - a loaded CNN predicting on a GPU (issue 17): at_cnn_use_device opens the
 * device's backend and puts the net's weights there (nn_net_attach); every later
 * at_cnn_predict_images of that net runs on it. The prediction server does this for image
 * models started with --device. Training opens its own backend (train.c). */
#include "models/cnn/cnn_internal.h"
#include "models/nn/device.h"

at_status at_cnn_use_device(at_cnn *net, const char *device, at_error *err) {
    if (net->device) { /* leave the current device first */
        nn_net_detach(&net->nn);
        nn_work_free(net->train_work); /* its buffers were the device's */
        net->train_work = NULL;
        nn_device_close(net->device);
        net->device = NULL;
    }
    if (!device) return AT_OK;
    const at_nn_backend *be = NULL;
    at_status s = nn_device_open(device, net->spec->p.precision == AT_CNN_BF16, &be, err);
    if (s || !be->on_device) return s;
    if ((s = nn_net_attach(&net->nn, be, err))) {
        nn_device_close(be);
        return s;
    }
    net->device = be;
    return AT_OK;
}
