/* words.h - (private) the small text helpers of every key table (the configuration's and
 * the network parser's): "did you mean", and "a|b|c" choice lists. */
#ifndef ASTROTRAIN_CORE_WORDS_H
#define ASTROTRAIN_CORE_WORDS_H

#include <stddef.h>

/* Case-insensitive Levenshtein distance (99 for words over 64 characters). */
size_t at_edit_distance(const char *a, const char *b);
/* The candidate closest to word, when close enough to be a typo; NULL otherwise. */
const char *at_nearest_word(const char *word, const char *const *cands, size_t n);
/* Index of value in "a|b|c" (case-insensitive), or -1. */
int at_choice_index(const char *choices, const char *value);
/* The index-th name of "a|b|c" into out ("?" when out of range). */
void at_choice_name(const char *choices, int index, char *out, size_t cap);

#endif
