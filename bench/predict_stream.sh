#!/usr/bin/env bash
# predict_stream.sh - `astrotrain predict` over catalogues of any size: memory must stay flat.
# Makes STREAM_ROWS (default 10,000,000) rows by replicating SDSS17 with jitter
# (bench/gen_catalogue.awk; plain CSV, or gzip with STREAM_GZIP=1, under $STREAM_DIR, default
# /tmp), trains each model family that can predict classes (random forest; gradient boosting
# once registered) on the shipped catalogue, predicts the big file and a 1/10 slice, and
# reports rows per second and peak resident memory (/usr/bin/time -v) for both, so growth with
# input size shows. Exits non-zero when the peak exceeds STREAM_MAX_MB (default 200).
#   bash bench/predict_stream.sh            (or BENCH_STREAM=1 make bench)
set -u
cd "$(dirname "$0")/.."
AT=${ASTROTRAIN:-./build/astrotrain}
ROWS=${STREAM_ROWS:-10000000}
THREADS=${BENCH_THREADS:-2}
MAX_MB=${STREAM_MAX_MB:-200}
DIR=$(mktemp -d "${STREAM_DIR:-/tmp}/astrotrain-stream.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
[ -x /usr/bin/time ] || { echo "predict_stream: /usr/bin/time missing (apt-get install time)"; exit 1; }
SRC=data/sdss17/star_classification.csv.gz

ext=csv
[ "${STREAM_GZIP:-0}" = 1 ] && ext=csv.gz
gen() { # ROWS FILE
    if [ "$ext" = csv.gz ]; then zcat "$SRC" | awk -v rows="$1" -f bench/gen_catalogue.awk | gzip -1 > "$2"
    else zcat "$SRC" | awk -v rows="$1" -f bench/gen_catalogue.awk > "$2"; fi
}
t0=$(date +%s.%N)
gen "$ROWS" "$DIR/big.$ext"
gen $((ROWS / 10)) "$DIR/small.$ext"
echo "predict_stream: $ROWS rows ($(du -h "$DIR/big.$ext" | cut -f1) $ext) generated in" \
     "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s; $THREADS threads, $(nproc) cores"

families="random_forest"
"$AT" config --doc | grep -q gradient_boosting && families="$families gradient_boosting"
status=0
for fam in $families; do
    cfg=configs/rf.ini
    [ "$fam" = gradient_boosting ] && [ -f configs/gbdt.ini ] && cfg=configs/gbdt.ini
    if ! "$AT" --config "$cfg" --quiet --threads "$THREADS" --set run.output_dir="$DIR/runs" --set run.name="$fam" \
        --set model.type="$fam" --set plots.enabled=false >/dev/null 2>"$DIR/train.log"; then
        echo "  $fam: training failed: $(tail -n 1 "$DIR/train.log")"; status=1; continue
    fi
    for part in small big; do
        n=$ROWS; [ $part = small ] && n=$((ROWS / 10))
        /usr/bin/time -v "$AT" predict --model "$DIR/runs/$fam/model.h5" --input "$DIR/$part.$ext" \
            --output "$DIR/pred.csv" --threads "$THREADS" --quiet 2>"$DIR/time.log" >/dev/null
        rc=$?
        secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$DIR/time.log")
        kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$DIR/time.log")
        lines=$(grep -c ",ok$" "$DIR/pred.csv")
        printf '  %-18s %9d rows  %7.1f s  %9.0f rows/s  peak RSS %6.1f MB  (%d predicted, exit %d)\n' \
            "$fam" "$n" "$secs" "$(awk -v n="$n" -v s="$secs" 'BEGIN {print (s > 0 ? n / s : 0)}')" \
            "$(awk -v k="$kb" 'BEGIN {print k / 1024}')" "$lines" "$rc"
        [ "$rc" -eq 0 ] || status=1
        [ "$kb" -le $((MAX_MB * 1024)) ] || { echo "  peak RSS above $MAX_MB MB"; status=1; }
        rm -f "$DIR/pred.csv"
    done
done
exit $status
