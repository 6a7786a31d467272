/* gpu_bench.c - training and inference throughput (images/s) of a network on a device
 * (issue 17), the protocol of ../shared/benchmarks/gpu_torch.py: random images, random
 * labels, SGD momentum 0.9, lr 0.01, warm-up steps then timed steps, one JSON line per run.
 * A training step is the engine's whole step (upload of the batch, forward, loss with the
 * probabilities brought back to the host, backward, optimiser update); inference is the
 * forward pass with the probabilities brought back. Built with make CUDA=1
 * (build/cuda/bench/gpu_bench); scripts/device_check.sh and bench/gpu.sh run it.
 *
 * usage: gpu_bench [--net reference|FILE.ini] [--size 64] [--batch 32] [--precision fp32|bf16]
 *                  [--device cuda] [--steps 60] [--warm 15] [--images N (an epoch of N images
 *                  instead of --steps)] [--threads 16] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "astrotrain/cnn.h"
#include "astrotrain/rng.h"
#include "models/cnn/cnn_internal.h"
#include "models/nn/device.h"

static const char *REFERENCE = "[conv]\nfilters = 32\n[maxpool]\n[conv]\nfilters = 64\n[maxpool]\n"
                               "[conv]\nfilters = 128\n[maxpool]\n[conv]\nfilters = 128\n[avgpool]\n"
                               "[dense]\nunits = 10\n[softmax]\n";

void openblas_set_num_threads(int); /* the CPU backend: BLAS single-threaded under the layers' OpenMP */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The layer sections of an experiment INI: everything after its [net] section. */
static char *layers_of(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *t = malloc((size_t)n + 1);
    if (!t || fread(t, 1, (size_t)n, f) != (size_t)n) {
        fclose(f), free(t);
        return NULL;
    }
    fclose(f);
    t[n] = 0;
    char *net = strstr(t, "\n[net]");
    char *rest = net ? strstr(net + 6, "\n[") : NULL;
    char *out = rest ? strdup(rest + 1) : NULL;
    free(t);
    return out;
}

int main(int argc, char **argv) {
    const char *netname = "reference", *precision = "fp32", *device = "cuda";
    size_t size = 64, batch = 32, steps = 60, warm = 15, images = 0;
    int threads = 16;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--net") && i + 1 < argc) netname = argv[++i];
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) precision = argv[++i];
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--warm") && i + 1 < argc) warm = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--images") && i + 1 < argc) images = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "gpu_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (images) steps = (images + batch - 1) / batch;
    openblas_set_num_threads(1);
    char *layers = strcmp(netname, "reference") == 0 ? strdup(REFERENCE) : layers_of(netname);
    if (!layers) {
        fprintf(stderr, "gpu_bench: %s: no layer sections after [net]\n", netname);
        return 2;
    }
    size_t tl = strlen(layers) + 512;
    char *text = malloc(tl);
    snprintf(text, tl,
             "[net]\nwidth = %zu\nheight = %zu\nchannels = 3\nbatch = %zu\noptimizer = sgd\nmomentum = 0.9\n"
             "learning_rate = 0.01\nprecision = %s\n%s",
             size, size, batch, precision, layers);
    free(layers);
    at_error err = {0};
    at_cnn_spec *spec = NULL;
    at_cnn *net = NULL;
    const at_nn_backend *be = NULL;
    nn_work *w = NULL, *wi = NULL;
    nn_optim opt = {0};
    float *x = NULL;
    int32_t *y = NULL;
    int rc = 1;
    if (at_cnn_spec_parse_text(text, netname, &spec, &err)) goto fail;
    size_t k = spec->layers[spec->n_layers - 1].out_c;
    if (at_cnn_new(spec, k, 1, &net, &err)) goto fail;
    if (nn_device_open(device, strcmp(precision, "bf16") == 0, &be, &err)) goto fail;
    if (nn_net_attach(&net->nn, be, &err)) goto fail;
    size_t in = net->nn.L[0].in_size;
    if (!(x = be->host_alloc(be, batch * in * sizeof *x)) || !(y = malloc(batch * sizeof *y))) {
        at_fail(&err, AT_ERR_MEMORY, "out of memory (a batch of %zu images)", batch);
        goto fail;
    }
    at_rng r;
    at_rng_init(&r, 7, 0);
    for (size_t i = 0; i < batch * in; i++) x[i] = (float)at_rng_normal(&r);
    for (size_t i = 0; i < batch; i++) y[i] = (int32_t)at_rng_below(&r, k);
    if (nn_work_new(&net->nn, batch, threads, 1, &w, &err) || nn_optim_init(&net->nn, &opt, &err)) goto fail;
    nn_opt_conf oc = cnn_opt_conf(&net->spec->p);
    double t0 = 0, loss = 0;
    for (size_t s = 0; s < warm + steps; s++) {
        if (s == warm) {
            if (be->status(be, &err)) goto fail;
            t0 = now();
        }
        w->dropout_seed = s;
        nn_forward(&net->nn, w, x, batch);
        loss = nn_xent(&net->nn, w, y, NULL, NULL, batch, (double)batch, NULL) / (double)batch;
        nn_backward(&net->nn, w, x, batch);
        nn_optim_step(&net->nn, &oc, &opt, nn_grads(&net->nn), 0.01);
    }
    if (be->status(be, &err)) goto fail;
    double train_s = now() - t0;
    nn_work_free(w);
    w = NULL;
    /* inference at the same batch */
    if (nn_work_new(&net->nn, batch, threads, 0, &wi, &err)) goto fail;
    for (size_t s = 0; s < warm + steps; s++) {
        if (s == warm) t0 = now();
        nn_forward(&net->nn, wi, x, batch);
        (void)nn_output(&net->nn, wi, batch);
    }
    if (be->status(be, &err)) goto fail;
    double infer_s = now() - t0;
    printf("{\"net\": \"%s\", \"size\": %zu, \"batch\": %zu, \"precision\": \"%s\", \"device\": \"%s\", "
           "\"steps\": %zu, \"train_img_per_s\": %.1f, \"infer_img_per_s\": %.1f, \"train_seconds\": %.3f, "
           "\"last_loss\": %.4f}\n",
           netname, size, batch, precision, be->name, steps, (double)(steps * batch) / train_s,
           (double)(steps * batch) / infer_s, train_s, loss);
    rc = isfinite(loss) ? 0 : 1;
    goto done;
fail:
    fprintf(stderr, "gpu_bench: %s\n", err.msg);
done:
    nn_work_free(w), nn_work_free(wi);
    if (opt.be) nn_optim_free(&opt);
    free(y);
    if (be && x) be->host_free(be, x);
    if (net) nn_net_detach(&net->nn);
    at_cnn_free(net);
    nn_device_close(be);
    at_cnn_spec_free(spec);
    free(text);
    return rc;
}
