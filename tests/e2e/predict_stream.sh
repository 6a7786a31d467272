#!/usr/bin/env bash
# End to end: `predict` streams. A 1-million-row catalogue (the 10k sample replicated with
# jitter by bench/gen_catalogue.awk) is predicted with peak resident memory under 200 MB and
# no more than for a tenth of it (memory flat in the input size); every row gets a prediction.
# Under the sanitizers or valgrind (whose memory is their own) 100k rows, without the bounds.
source "$(dirname "$0")/lib.sh"
cd "$TMP"
UNDER_TOOL=0
if [ "${SANITIZE:-0}" = 1 ] || [ "${VALGRIND:-0}" = 1 ] || ldd "$ASTROTRAIN" 2>/dev/null | grep -q libasan; then
    UNDER_TOOL=1
fi
ROWS=1000000
[ "$UNDER_TOOL" = 1 ] && ROWS=100000
cat > small.ini <<INI
[run]
output_dir = $TMP/runs
name = m
[data]
path = $SAMPLE
[model]
n_trees = 10
[plots]
enabled = false
INI
ok "train a 10-tree forest on the sample" "$ASTROTRAIN" --config small.ini --quiet
zcat "$SAMPLE" | cut -d, -f4-8,14,15 > sample.csv   # u,g,r,i,z,class,redshift
awk -v rows=$((ROWS / 10)) -f "$ROOT/bench/gen_catalogue.awk" sample.csv > tenth.csv
awk -v rows=$ROWS -f "$ROOT/bench/gen_catalogue.awk" sample.csv > big.csv

# peak_kb FILE : predicts FILE into out.csv, prints the peak resident set in kB (0 if unknown)
peak_kb() {
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M' -o time.txt "$ASTROTRAIN" predict --model runs/m/model.h5 --input "$1" \
            --output out.csv --quiet --threads 2 >/dev/null 2>pred.err || { echo fail; return; }
        tail -n 1 time.txt
    else
        "$ASTROTRAIN" predict --model runs/m/model.h5 --input "$1" --output out.csv --quiet --threads 2 \
            >/dev/null 2>pred.err || { echo fail; return; }
        echo 0
    fi
}
small_kb=$(peak_kb tenth.csv)
big_kb=$(peak_kb big.csv)
check "predict $ROWS rows succeeds" test "$big_kb" != fail
# every row but those with the sentinel (-9999), which the model's cleaning skips
check "one output row per input row" test "$(wc -l < out.csv)" -eq $((ROWS + 1))
check "every row predicted" test "$(grep -c ',ok$' out.csv)" -eq $((ROWS - $(grep -c -- -9999 big.csv)))
check "sentinel rows say so" test "$(grep -c ',sentinel [ugriz]$' out.csv)" -eq "$(grep -c -- -9999 big.csv)"
check "no temporary file left" bash -c "! ls | grep -q '\.tmp\.'"
echo "peak RSS: $((small_kb / 1024)) MB for $((ROWS / 10)) rows, $((big_kb / 1024)) MB for $ROWS rows"
if [ "$UNDER_TOOL" = 0 ] && [ -x /usr/bin/time ]; then
    check "peak RSS under 200 MB for $ROWS rows" test "$big_kb" -lt $((200 * 1024))
    check "peak RSS flat: 10x the rows, at most 16 MB more" test $((big_kb - small_kb)) -lt $((16 * 1024))
else
    why="/usr/bin/time missing (apt-get install time)"
    [ "$UNDER_TOOL" = 1 ] && why="under a sanitizer or valgrind, whose memory is their own"
    skip "peak RSS under 200 MB" "$why"
    skip "peak RSS flat in the input size" "$why"
fi
done_tests
