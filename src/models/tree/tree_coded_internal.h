/* tree_coded_internal.h - (private to src/models/tree/) the coded forest layout's structure,
 * shared by its builder and scalar walker (tree_coded.c) and its AVX-512 walker
 * (tree_coded_simd.c), and the switch the unit test uses to run each walker. */
#ifndef ASTROTRAIN_MODELS_TREE_TREE_CODED_INTERNAL_H
#define ASTROTRAIN_MODELS_TREE_TREE_CODED_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "models/tree/tree.h"

#define TREE_CODED_CODES 131072 /* a block's codes (512 KiB): 16384 rows up to 8 features, fewer beyond */
#define TREE_CODED_NAN UINT32_MAX
#define TREE_CODED_LEAF 255u

/* meta: bits 0-7 the feature (TREE_CODED_LEAF on a leaf), bit 8 NaN goes left, bits 9-31 the
 * left child (the right one follows it) or, on a leaf, the leaf's index in the tree's values. */
typedef struct cnode {
    uint32_t code, meta;
} cnode;

struct tree_coded {
    size_t d, width, n_trees;
    int has_dl;        /* some split sends NaN left */
    int64_t *cut_off;  /* d + 1 */
    double *cuts;      /* cut_off[d]: feature f's sorted distinct thresholds */
    int64_t *off;      /* n_trees + 1: tree t's nodes */
    int64_t *leaf_off; /* n_trees + 1: tree t's leaf values (times width) */
    cnode *nodes;
    double *value;
};

/* Which walker tree_coded_predict_path runs. AUTO: AVX-512 when the CPU has it. */
typedef enum { TREE_CODED_AUTO = 0, TREE_CODED_SCALAR = 1, TREE_CODED_SIMD = 2 } tree_coded_path;

/* tree_coded_predict_add with the walker chosen (SIMD on a CPU without AVX-512F: scalar). */
at_status tree_coded_predict_path(const tree_coded *c, size_t groups, const double *X, size_t n, double *out,
                                  size_t stride, int threads, tree_coded_path path, at_error *err);

/* tree_coded_simd.c: whether this CPU runs the AVX-512 walker. */
int tree_coded_simd_ok(void);
/* out[i] = the number of the nc sorted cuts below x[i * stride] (TREE_CODED_NAN for NaN),
 * i < m: the scalar lower bound's answer, 8 values at a time (tree_fast.c's row codes too). */
void tree_simd_ranks(const double *cuts, uint32_t nc, const double *x, size_t stride, size_t m, uint32_t *out);
/* Codes of rows [0, m) of X (d columns) into codes (m * d, row-major), 8 rows at a time. */
void tree_coded_simd_codes(const tree_coded *c, const double *X, size_t m, uint32_t *codes);
/* Rows [0, m) of a block (codes: m rows of d) through tree t, 16 walks in one register:
 * out[row * stride + col + j] += leaf value j, j < width, as the scalar walk adds it.
 * leaves: room for m indices (scratch). */
void tree_coded_simd_walk(const tree_coded *c, size_t t, const uint32_t *codes, size_t m, double *out,
                          size_t stride, size_t col, uint32_t *leaves);

#endif
