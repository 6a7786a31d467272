/* cnn_bench.c - training and inference throughput (images/s) of the reference net of
 * ../shared/benchmarks (64x64x3; conv 32, pool, conv 64, pool, conv 128, pool, conv 128,
 * global average pool, dense 10, softmax), SGD momentum 0.9, lr 0.01, batch 32, on
 * random images, the protocol of cnn_torch.py. Prints one line per figure and the
 * medians as JSON. Usage: cnn_bench [--threads 2] [--size 64] [--n 2048] [--epochs 2]
 * [--repeats 3] [--bn] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrotrain/cnn.h"
#include "astrotrain/rng.h"

void openblas_set_num_threads(int);

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int threads = 2, repeats = 3, bn = 0;
    size_t size = 64, n = 2048, epochs = 2, infer_batch = 256;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--n") && i + 1 < argc) n = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bn")) bn = 1;
        else {
            fprintf(stderr, "usage: cnn_bench [--threads N] [--size S] [--n N] [--epochs E] [--repeats R] [--bn]\n");
            return 2;
        }
    }
    if (repeats < 1 || repeats > 50) repeats = 3;
    omp_set_num_threads(threads);
    openblas_set_num_threads(1); /* set once, as the CLI does: the layers parallelise above BLAS */
    char text[2048];
    const char *b = bn ? "batch_normalize=1\n" : "";
    snprintf(text, sizeof text,
             "[net]\nwidth=%zu\nheight=%zu\nchannels=3\nbatch=32\nepochs=%zu\noptimizer=sgd\nlearning_rate=0.01\n"
             "momentum=0.9\ninfer_batch=%zu\n"
             "[conv]\nfilters=32\n%s[maxpool]\n[conv]\nfilters=64\n%s[maxpool]\n[conv]\nfilters=128\n%s[maxpool]\n"
             "[conv]\nfilters=128\n%s[avgpool]\n[dense]\nunits=10\n[softmax]\n",
             size, size, epochs, infer_batch, b, b, b, b);
    at_error err = {0};
    at_cnn_spec *spec = NULL;
    at_images *im = NULL;
    if (at_cnn_spec_parse_text(text, "bench", &spec, &err) || at_images_new(n, size, size, 3, 1, &im, &err)) {
        fprintf(stderr, "cnn_bench: %s\n", err.msg);
        return 1;
    }
    im->n_classes = 10;
    at_rng r;
    at_rng_init(&r, 42, 0);
    for (size_t i = 0; i < n * size * size * 3; i++) im->pixels[i] = (uint8_t)at_rng_below(&r, 256);
    for (size_t i = 0; i < n; i++) im->y[i] = (int32_t)at_rng_below(&r, 10);
    double tr[50], inf[50], flops = 0;
    size_t np = 0;
    for (int rep = 0; rep < repeats; rep++) {
        at_cnn *net = NULL;
        if (at_cnn_new(spec, 10, 42, &net, &err)) {
            fprintf(stderr, "cnn_bench: %s\n", err.msg);
            return 1;
        }
        at_cnn_fit_standardisation(net, im);
        flops = at_cnn_flops(net), np = at_cnn_n_params(net);
        at_cnn_train_options o = {.threads = threads, .seed = 42};
        double t0 = omp_get_wtime();
        if (at_cnn_train(net, im, NULL, &o, &err)) {
            fprintf(stderr, "cnn_bench: %s\n", err.msg);
            return 1;
        }
        double dt = omp_get_wtime() - t0;
        tr[rep] = (double)(n * epochs) / dt;
        size_t isz = size * size * 3;
        float *x = malloc(n * isz * sizeof *x), *P = malloc(n * 10 * sizeof *P);
        for (size_t i = 0; i < n * isz; i++) x[i] = (float)at_rng_normal(&r);
        at_cnn_forward(net, x, infer_batch, P, threads, &err); /* warm-up */
        t0 = omp_get_wtime();
        if (at_cnn_forward(net, x, n, P, threads, &err)) {
            fprintf(stderr, "cnn_bench: %s\n", err.msg);
            return 1;
        }
        double di = omp_get_wtime() - t0;
        inf[rep] = (double)n / di;
        fprintf(stderr, "  repeat %d: train %.1f img/s (%.1f GFLOP/s at 3x forward), infer %.1f img/s (%.1f GFLOP/s)\n",
                rep, tr[rep], tr[rep] * 3 * flops / 1e9, inf[rep], inf[rep] * flops / 1e9);
        free(x), free(P);
        at_cnn_free(net);
    }
    qsort(tr, (size_t)repeats, sizeof tr[0], cmp);
    qsort(inf, (size_t)repeats, sizeof inf[0], cmp);
    double mt = tr[repeats / 2], mi = inf[repeats / 2];
    printf("{\"input\": \"%zux%zux3\", \"batchnorm\": %s, \"threads\": %d, \"params\": %zu, \"fwd_flops_per_image\": %.0f, "
           "\"train_img_per_s_median\": %.1f, \"train_gflops_est_median\": %.1f, \"infer_img_per_s_median\": %.1f, "
           "\"infer_gflops_est_median\": %.1f}\n",
           size, size, bn ? "true" : "false", threads, np, flops, mt, mt * 3 * flops / 1e9, mi, mi * flops / 1e9);
    at_images_free(im);
    at_cnn_spec_free(spec);
    return 0;
}
