/* words.c - edit distance, nearest word and choice lists for the key tables. */
#include "core/words.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

size_t at_edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

const char *at_nearest_word(const char *word, const char *const *cands, size_t n) {
    const char *best = NULL;
    size_t bd = 99, limit = strlen(word) / 3 + 1;
    if (limit < 2) limit = 2;
    for (size_t i = 0; i < n; i++) {
        size_t d = at_edit_distance(word, cands[i]);
        if (d < bd) {
            bd = d;
            best = cands[i];
        }
    }
    return bd <= limit ? best : NULL;
}

int at_choice_index(const char *choices, const char *value) {
    int idx = 0;
    size_t vl = strlen(value);
    for (const char *p = choices; *p; idx++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == vl && strncasecmp(p, value, len) == 0) return idx;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

void at_choice_name(const char *choices, int index, char *out, size_t cap) {
    const char *p = choices;
    for (int i = 0; i < index && p; i++) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p || index < 0) p = "?";
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len >= cap) len = cap - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}
