/* hungarian.h - optimal assignment (Hungarian algorithm, O(n^3)).
 *
 * Used to match GMM clusters to classes, but general: any square score or cost matrix. */
#ifndef ASTROTRAIN_HUNGARIAN_H
#define ASTROTRAIN_HUNGARIAN_H

#include <stddef.h>

#include "status.h"

/* score: n x n, row-major, finite. Fills assign[i] = the column given to row i (a
 * permutation of 0..n-1) maximising sum_i score[i * n + assign[i]]. Ties are broken
 * deterministically. AT_ERR_DATA for a non-finite entry, AT_ERR_MEMORY when out of
 * memory. n == 0 is a no-op. */
at_status at_hungarian_max(const double *score, size_t n, int *assign, at_error *err);

/* The same, minimising the total cost. */
at_status at_hungarian_min(const double *cost, size_t n, int *assign, at_error *err);

#endif
