/* forest_bench.c - times the random forest on a train/test pair of plain text tables
 * (not built by make). Each file: a first line "ROWS COLS", then ROWS lines of COLS
 * feature values and the class index, separated by blanks. For the SDSS17 protocol,
 * write them from the arrays of ../shared/benchmarks/peer_fit.py (after standardising)
 * with numpy.savetxt(path, numpy.column_stack([X, y]), fmt="%.17g",
 * header=f"{len(X)} {X.shape[1]}", comments="").
 *
 *   cc -O3 -march=native -fopenmp -Iinclude bench/forest_bench.c build/libastrotrain.a \
 *      $(pkg-config --libs hdf5) -lm -o /tmp/forest_bench
 *   /tmp/forest_bench train.txt test.txt [threads=2] [seed=42] [reps=3] [rf|gbdt]
 * (gbdt: gradient boosting with its defaults instead of the forest; both go through the one
 * tree core, so this times either family's fit and the shared walker's predict.)
 * Prints fit seconds (wall, and CPU over all threads), predict milliseconds and test accuracy per repetition. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "astrotrain/forest.h"
#include "astrotrain/gbdt.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static at_dataset *read_table(const char *path, size_t k) {
    FILE *f = fopen(path, "r");
    size_t n, d;
    if (!f || fscanf(f, "%zu %zu", &n, &d) != 2 || d == 0 || d > 64) {
        fprintf(stderr, "forest_bench: %s: expected a 'ROWS COLS' first line\n", path);
        exit(1);
    }
    static const char *const fn[64] = {"f0"};
    const char *names[64];
    for (size_t j = 0; j < d; j++) names[j] = fn[0];
    static const char *const cn[] = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"};
    at_dataset *ds = NULL;
    at_error e;
    if (at_dataset_new(n, d, 1, names, cn, k, &ds, &e)) {
        fprintf(stderr, "forest_bench: %s\n", e.msg);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        double y;
        for (size_t j = 0; j < d; j++)
            if (fscanf(f, "%lf", &ds->X[i * d + j]) != 1) exit(1);
        if (fscanf(f, "%lf", &y) != 1 || y < 0 || y >= (double)k) {
            fprintf(stderr, "forest_bench: %s: bad row %zu\n", path, i + 1);
            exit(1);
        }
        ds->y[i] = (int32_t)y;
    }
    fclose(f);
    return ds;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: forest_bench TRAIN TEST [threads] [seed] [reps] [rf|gbdt]\n");
        return 2;
    }
    int threads = argc > 3 ? atoi(argv[3]) : 2, reps = argc > 5 ? atoi(argv[5]) : 3;
    uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 42;
    at_dataset *tr = read_table(argv[1], 3), *te = read_table(argv[2], 3);
    int gbdt = argc > 6 && strcmp(argv[6], "gbdt") == 0;
    at_forest_params fp;
    at_forest_params_default(&fp);
    if (getenv("NO_OOB")) fp.oob_score = 0;
    at_gbdt_params gp;
    at_gbdt_params_default(&gp);
    double *P = malloc(te->n * 3 * sizeof *P);
    for (int r = 0; r < reps; r++) {
        at_model *m = NULL;
        at_error e;
        at_fit_input in = {.train = tr, .valid = NULL, .threads = threads, .seed = seed, .progress = NULL};
        if (gbdt ? at_gbdt_new(&gp, tr->d, 3, &m, &e) : at_forest_new(&fp, tr->d, 3, &m, &e))
            return fprintf(stderr, "%s\n", e.msg), 1;
        double t0 = now();
        clock_t c0 = clock(); /* CPU time of all threads: steadier than wall time on a busy machine */
        if (at_model_fit(m, &in, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
        double tf = now() - t0, cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
        t0 = now();
        if (at_model_predict_proba(m, te->X, te->n, P, threads, &e))
            return fprintf(stderr, "%s\n", e.msg), 1;
        double tp = now() - t0;
        size_t ok = 0;
        for (size_t i = 0; i < te->n; i++) {
            int b = 0;
            for (int c = 1; c < 3; c++)
                if (P[i * 3 + c] > P[i * 3 + b]) b = c;
            ok += b == te->y[i];
        }
        printf("fit %.3f s (cpu %.3f s)  predict %.1f ms  test accuracy %.4f  oob %.4f\n", tf, cpu, tp * 1e3,
               (double)ok / (double)te->n, at_forest_oob_accuracy(m));
        at_model_free(m);
    }
    free(P);
    at_dataset_free(tr);
    at_dataset_free(te);
    return 0;
}
