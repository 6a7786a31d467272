/* device.h - (private) the engine's backend for a device name (device.c). */
#ifndef ASTROTRAIN_MODELS_NN_DEVICE_H
#define ASTROTRAIN_MODELS_NN_DEVICE_H

#include "astrotrain/device.h"
#include "models/nn/backend.h"

/* The backend for spec ("cpu", "cuda", "cuda:N", "auto"; NULL or "" = cpu): the CPU one
 * (a static table) or a new CUDA one (bf16: mixed precision). Close it with
 * nn_device_close (a no-op for the CPU). */
at_status nn_device_open(const char *spec, int bf16, const at_nn_backend **out, at_error *err);
void nn_device_close(const at_nn_backend *be);

#endif
