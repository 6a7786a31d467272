/* rng.h - the one random generator (xoshiro256**, seeded through splitmix64).
 *
 * Every random stream is named by (seed, stream): a tree, an epoch or a split draws its
 * numbers from its own stream, so results never depend on thread scheduling. */
#ifndef ASTROTRAIN_RNG_H
#define ASTROTRAIN_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct at_rng {
    uint64_t s[4];
} at_rng;

/* Independent streams for the same seed: at_rng_init(&r, seed, tree_index). */
void at_rng_init(at_rng *r, uint64_t seed, uint64_t stream);
uint64_t at_rng_u64(at_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double at_rng_uniform(at_rng *r);
/* Uniform integer in [0, n), unbiased; n > 0. */
uint64_t at_rng_below(at_rng *r, uint64_t n);
/* Standard normal (Box-Muller, no cached state so the stream stays a pure function). */
double at_rng_normal(at_rng *r);
/* Fisher-Yates shuffle. */
void at_rng_shuffle(at_rng *r, size_t *a, size_t n);
/* A point drawn uniformly from the probability simplex of dimension k (Dirichlet(1,..,1)). */
void at_rng_simplex(at_rng *r, double *w, size_t k);

#endif
