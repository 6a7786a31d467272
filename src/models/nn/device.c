/* device.c - the opening of the engine's backend for a device name of [run] device /
 * --device (nn_device_open): the CPU one, or with make CUDA=1 the CUDA one
 * (backend_cuda.cu). A binary built without CUDA answers a GPU request with one line saying
 * how to rebuild. The names themselves are parsed in src/core/device_name.c. */

#include "astrotrain/device.h"
#include "models/nn/device.h"
#ifdef AT_CUDA
#include "models/nn/backend_cuda.h"
#endif

int at_device_cuda_count(void) {
#ifdef AT_CUDA
    int n = nn_cuda_device_count(NULL, 0);
    return n > 0 ? n : 0;
#else
    return 0;
#endif
}

at_status nn_device_open(const char *spec, int bf16, const at_nn_backend **out, at_error *err) {
    *out = nn_backend_cpu();
    at_device_kind kind;
    int index;
    at_status s = at_device_parse(spec, &kind, &index, err);
    if (s || kind == AT_DEVICE_CPU) return s;
#ifdef AT_CUDA
    if (kind == AT_DEVICE_AUTO && at_device_cuda_count() == 0) return AT_OK;
    const at_nn_backend *be = NULL;
    if ((s = nn_backend_cuda_new(index, bf16, &be, err))) return s;
    *out = be;
    return AT_OK;
#else
    (void)bf16;
    if (kind == AT_DEVICE_AUTO) return AT_OK;
    return at_fail(err, AT_ERR_CONFIG, "device '%s': this astrotrain was built without CUDA: rebuild with make CUDA=1",
                   spec);
#endif
}

void nn_device_close(const at_nn_backend *be) {
    if (!be || !be->on_device) return;
#ifdef AT_CUDA
    nn_backend_cuda_free(be);
#endif
}
