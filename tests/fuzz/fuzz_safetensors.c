/* fuzz_safetensors.c - safetensors headers (PyTorch weights for [net] init): parsing arbitrary
 * bytes must return a status with a message and never crash, read outside the buffer or
 * leak; a file that parses must then read every float tensor inside its bounds. */
#include <stdint.h>
#include <stdlib.h>

#include "astrotrain/safetensors.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_error err = {0};
    at_safetensors *st = NULL;
    /* through the file reader (as [net] init reads it); at_safetensors_parse is the same code */
    at_status s = at_safetensors_open(fuzz_write(data, size), &st, &err);
    if (s != AT_OK) {
        if (!err.msg[0] || st) abort();
        return 0;
    }
    for (size_t i = 0; i < at_safetensors_count(st); i++) {
        const at_st_tensor *t = at_safetensors_tensor(st, i);
        if (t->end > size || t->begin > t->end) abort();
        if (t->count > (1u << 20)) continue; /* large but consistent: legal, not read here */
        float *v = malloc((t->count ? t->count : 1) * sizeof *v);
        if (!v) abort();
        if (at_safetensors_read_f32(st, t, v, &err) != AT_OK && !err.msg[0]) abort();
        free(v);
    }
    at_safetensors_free(st);
    return 0;
}
