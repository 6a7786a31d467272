/* bundle_device.c - a loaded model file's network on a GPU (issue 17): at_bundle_use_device
 * hands the device to the CNN of an image model; the other families compute on the CPU and
 * ignore it. */
#include "astrotrain/bundle.h"
#include "astrotrain/cnn.h"

at_status at_bundle_use_device(at_bundle *b, const char *device, at_error *err) {
    at_cnn *net = at_cnn_model_net(b->model); /* NULL: not a cnn */
    return net ? at_cnn_use_device(net, device, err) : AT_OK;
}
