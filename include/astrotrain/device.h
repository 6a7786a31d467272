/* device.h - where the networks (CNN) compute (issue 17): "cpu", "cuda" (the first GPU),
 * "cuda:N" or "auto" (the GPU when this astrotrain was built with make CUDA=1 and one is
 * present, else the CPU). Set by [run] device and --device. */
#ifndef ASTROTRAIN_DEVICE_H
#define ASTROTRAIN_DEVICE_H

#include "astrotrain/status.h"

typedef enum at_device_kind { AT_DEVICE_CPU, AT_DEVICE_CUDA, AT_DEVICE_AUTO } at_device_kind;

/* Parses a device name; *index is N of cuda:N (0 for cuda). A bad name is AT_ERR_CONFIG
 * naming what is allowed. Does not look for a GPU. */
at_status at_device_parse(const char *spec, at_device_kind *kind, int *index, at_error *err);

/* 1 when this astrotrain was built with make CUDA=1 (core). */
int at_device_has_cuda(void);

/* The number of usable CUDA GPUs (0 without CUDA, without a driver or without a GPU; models). */
int at_device_cuda_count(void);

#endif
