/* backend_cuda.h - (private) opening and closing the CUDA backend of the network engine
 * (backend_cuda.cu, built only with make CUDA=1; issue 17). device.c is the one caller. */
#ifndef ASTROTRAIN_MODELS_NN_BACKEND_CUDA_H
#define ASTROTRAIN_MODELS_NN_BACKEND_CUDA_H

#include "astrotrain/status.h"
#include "models/nn/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The number of CUDA GPUs, or -1 when the runtime cannot start (no driver, a driver older
 * than the runtime); why goes into why (may be NULL) as one line. */
int nn_cuda_device_count(char *why, size_t why_len);

/* A backend on GPU `device`: its stream, cuBLAS and cuDNN handles and scratch. bf16: products
 * and convolutions computed in bf16 on tensor cores (fp32 data and master weights). */
at_status nn_backend_cuda_new(int device, int bf16, const at_nn_backend **out, at_error *err);
void nn_backend_cuda_free(const at_nn_backend *be);

#ifdef __cplusplus
}
#endif

#endif
