/* device.c - the device names of [run] device / --device (include/astrotrain/device.h) and
 * the opening of the engine's backend for one (nn_device_open): the CPU one, or with
 * make CUDA=1 the CUDA one (backend_cuda.cu). A binary built without CUDA answers a GPU
 * request with one line saying how to rebuild. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/device.h"
#include "models/nn/device.h"
#ifdef AT_CUDA
#include "models/nn/backend_cuda.h"
#endif

at_status at_device_parse(const char *spec, at_device_kind *kind, int *index, at_error *err) {
    *kind = AT_DEVICE_CPU, *index = 0;
    if (!spec || !*spec || strcmp(spec, "cpu") == 0) return AT_OK;
    if (strcmp(spec, "auto") == 0) {
        *kind = AT_DEVICE_AUTO;
        return AT_OK;
    }
    if (strcmp(spec, "cuda") == 0) {
        *kind = AT_DEVICE_CUDA;
        return AT_OK;
    }
    if (strncmp(spec, "cuda:", 5) == 0 && spec[5] >= '0' && spec[5] <= '9') {
        char *end;
        errno = 0;
        long v = strtol(spec + 5, &end, 10);
        if (!*end && !errno && v >= 0 && v < 64) {
            *kind = AT_DEVICE_CUDA, *index = (int)v;
            return AT_OK;
        }
    }
    return at_fail(err, AT_ERR_CONFIG, "device '%s' is not one of cpu, cuda, cuda:N (N from 0 to 63) or auto", spec);
}

int at_device_has_cuda(void) {
#ifdef AT_CUDA
    return 1;
#else
    return 0;
#endif
}

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
