/* device_name.c - the device names of [run] device and --device (include/astrotrain/device.h;
 * issue 17): parsing, and whether this binary was built with make CUDA=1 (AT_CUDA). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/device.h"

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

