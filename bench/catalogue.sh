#!/usr/bin/env bash
# catalogue.sh - catalogue-scale inference (issue 14): `astrotrain predict` over a
# CATALOGUE_ROWS-row SDSS17-like CSV (default 1,000,000; bench/gen_catalogue.awk), CSV out,
# BENCH_THREADS threads (default 2), whole command, for the random forest (configs/rf.ini) and
# boosting (configs/gbdt.ini), beside the pandas + scikit-learn / XGBoost peer
# (../shared/benchmarks/predict_batch_peer.py) run on the same file in the same run. Prints
# seconds, rows/s, peak RSS, the ratio to the peer and the projected time for 10^9 rows.
#   bash bench/catalogue.sh            (or BENCH_CATALOGUE=1 make bench)
set -u
cd "$(dirname "$0")/.."
AT=${ASTROTRAIN:-./build/astrotrain}
ROWS=${CATALOGUE_ROWS:-1000000}
THREADS=${BENCH_THREADS:-2}
PEERS=../shared/benchmarks
PY=/usr/bin/python3
DIR=$(mktemp -d "${CATALOGUE_DIR:-/tmp}/astrotrain-catalogue.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
[ -x /usr/bin/time ] || { echo "catalogue: /usr/bin/time missing (apt-get install time)"; exit 1; }
zcat data/sdss17/star_classification.csv.gz | awk -v rows="$ROWS" -f bench/gen_catalogue.awk > "$DIR/cat.csv"
echo "catalogue predict: $ROWS rows ($(du -h "$DIR/cat.csv" | cut -f1) CSV), $THREADS threads, $(nproc) cores, CSV out, whole command; load average $(cut -d' ' -f1-3 /proc/loadavg)"
# wall seconds, peak MB and CPU seconds (user + system: steadier than wall time on a shared
# machine) of a command, from /usr/bin/time -v
timed() {
    /usr/bin/time -v "$@" >"$DIR/stdout.txt" 2>"$DIR/time.log" || { echo "fail fail fail"; return; }
    awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; w = s}
                /User time \(seconds\)/ {c += $2} /System time \(seconds\)/ {c += $2}
                /Maximum resident set size/ {m = $2 / 1024} END {printf "%s %.1f %.2f\n", w, m, c}' "$DIR/time.log"
}
line() { # LABEL SECONDS MB [PEER_SECONDS [CPU_SECONDS]]
    awk -v l="$1" -v s="$2" -v m="$3" -v p="${4:-}" -v c="${5:-}" -v n="$ROWS" 'BEGIN {
        r = (s > 0 ? n / s : 0)
        printf "  %-34s %7.2f s  %11.0f rows/s  peak %6.1f MB  10^9 rows: %6.2f h", l, s, r, m, (r > 0 ? 1e9 / r / 3600 : 0)
        if (c != "") printf "  cpu %.2f s", c
        if (p != "" && p > 0) printf "  (%.2fx the peer)", s / p
        printf "\n" }'
}
for fam in rf gbdt; do
    "$AT" --config "configs/$fam.ini" --quiet --threads "$THREADS" --set run.output_dir="$DIR/runs" \
        --set run.name="$fam" --set plots.enabled=false >/dev/null 2>&1 || { echo "  $fam: training failed"; continue; }
    peer=rf; [ "$fam" = gbdt ] && peer=xgb
    ps="" pm=""
    if [ -f "$PEERS/predict_batch_peer.py" ] && "$PY" -c 'import pandas, sklearn, xgboost' 2>/dev/null; then
        read -r ps pm _ < <(timed "$PY" "$PEERS/predict_batch_peer.py" "$peer" "$DIR/cat.csv" "$DIR/peer.csv" --threads "$THREADS")
        # the peer trains first: its own read + predict + write seconds are the fair figure
        ps=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["total_seconds"])' "$DIR/stdout.txt" 2>/dev/null)
    fi
    read -r s m c < <(timed "$AT" predict --model "$DIR/runs/$fam/model.h5" --input "$DIR/cat.csv" --output "$DIR/out.csv" \
        --threads "$THREADS" --quiet)
    line "astrotrain predict $fam" "$s" "$m" "$ps" "$c"
    [ -n "$ps" ] && line "peer: pandas + $([ $peer = rf ] && echo scikit-learn RF || echo XGBoost)" "$ps" "$pm"
    rm -f "$DIR/out.csv" "$DIR/peer.csv"
done
