/* safetensors.h - reading PyTorch weights in the safetensors format: an 8-byte little-endian
 * header length N, N bytes of JSON ({"name": {"dtype": "F32", "shape": [..], "data_offsets":
 * [begin, end]}, ..., "__metadata__": {...}}), then the raw little-endian tensors, offsets
 * counted from the end of the header.
 *
 * The header is checked completely before anything is used: its length against the file,
 * every dtype known, shapes that multiply without overflow to exactly end - begin bytes,
 * offsets inside the data, no two tensors overlapping, no duplicate names. Any violation is
 * one AT_ERR_DATA message naming the file and the tensor. */
#ifndef ASTROTRAIN_SAFETENSORS_H
#define ASTROTRAIN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define AT_ST_MAX_RANK 8
#define AT_ST_MAX_HEADER (100u << 20) /* the format's own limit on the header */

typedef enum at_st_dtype {
    AT_ST_F64, AT_ST_F32, AT_ST_F16, AT_ST_BF16, AT_ST_I64, AT_ST_I32, AT_ST_I16, AT_ST_I8, AT_ST_U8, AT_ST_BOOL
} at_st_dtype;

typedef struct at_st_tensor {
    char *name;
    int dtype; /* at_st_dtype */
    size_t rank;
    size_t shape[AT_ST_MAX_RANK];
    size_t count;      /* product of the shape */
    size_t begin, end; /* bytes, relative to the data section */
} at_st_tensor;

typedef struct at_safetensors at_safetensors;

/* Parses len bytes (copied; buf may be freed afterwards); source names it in messages. */
at_status at_safetensors_parse(const uint8_t *buf, size_t len, const char *source, at_safetensors **out,
                               at_error *err);
/* Reads and parses a file. */
at_status at_safetensors_open(const char *path, at_safetensors **out, at_error *err);
void at_safetensors_free(at_safetensors *st);

size_t at_safetensors_count(const at_safetensors *st);
const at_st_tensor *at_safetensors_tensor(const at_safetensors *st, size_t i); /* in file order of offsets */
const at_st_tensor *at_safetensors_find(const at_safetensors *st, const char *name);
const char *at_st_dtype_name(int dtype);
/* The tensor's count values as float (F32 copied; F64, F16 and BF16 converted); other
 * dtypes are an error naming the tensor and its dtype. */
at_status at_safetensors_read_f32(const at_safetensors *st, const at_st_tensor *t, float *out, at_error *err);

#endif
