/* rng.c - xoshiro256** (Blackman & Vigna) seeded by splitmix64 of (seed, stream). */
#include "astrotrain/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void at_rng_init(at_rng *r, uint64_t seed, uint64_t stream) {
    /* Mix the stream through its own splitmix round so nearby (seed, stream) pairs
     * start far apart. */
    uint64_t s = stream * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL;
    uint64_t x = seed ^ splitmix64(&s);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t at_rng_u64(at_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double at_rng_uniform(at_rng *r) { return (double)(at_rng_u64(r) >> 11) * 0x1.0p-53; }

uint64_t at_rng_below(at_rng *r, uint64_t n) {
    /* Lemire's multiply-shift with rejection: unbiased. */
    uint64_t x = at_rng_u64(r);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t t = -n % n;
        while (low < t) {
            x = at_rng_u64(r);
            m = (__uint128_t)x * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double at_rng_normal(at_rng *r) {
    double u1 = at_rng_uniform(r), u2 = at_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void at_rng_shuffle(at_rng *r, size_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)at_rng_below(r, i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

void at_rng_simplex(at_rng *r, double *w, size_t k) {
    /* Normalised exponentials are Dirichlet(1, ..., 1): uniform on the simplex. */
    double sum = 0;
    for (size_t i = 0; i < k; i++) {
        double u = at_rng_uniform(r);
        w[i] = -log1p(-u);
        sum += w[i];
    }
    for (size_t i = 0; i < k; i++) w[i] = sum > 0 ? w[i] / sum : 1.0 / (double)k;
}
