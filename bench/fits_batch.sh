#!/usr/bin/env bash
# fits_batch.sh - FITS beside CSV for the same catalogue rows (issue 14): FITS_ROWS (default
# 200,000) rows made from SDSS17 by bench/gen_catalogue.awk, written as CSV and as a FITS binary
# table (astropy), then `astrotrain monitor` and `astrotrain predict` on each (configs/rf.ini's
# forest, 2 threads), FITS_REPEATS times (default 3; median wall and CPU seconds, peak RSS), and
# the Python peer's read step on each format: pandas.read_csv vs astropy Table.read + to_pandas.
# Prints one line per command and the FITS/CSV ratios. Not a pass/fail test.
#   bash bench/fits_batch.sh
set -u
cd "$(dirname "$0")/.."
AT=${ASTROTRAIN:-./build/astrotrain}
ROWS=${FITS_ROWS:-200000}
REPEATS=${FITS_REPEATS:-3}
THREADS=${BENCH_THREADS:-2}
PY=${PEER_PYTHON:-/usr/bin/python3}
DIR=$(mktemp -d "${FITS_DIR:-/tmp}/astrotrain-fits.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
[ -x /usr/bin/time ] || { echo "fits_batch: /usr/bin/time missing (apt-get install time)"; exit 1; }
"$PY" -c 'import astropy, pandas' 2>/dev/null || { echo "fits_batch: $PY lacks astropy or pandas"; exit 1; }
SRC=data/sdss17/star_classification.csv.gz
zcat "$SRC" | awk -v rows="$ROWS" -f bench/gen_catalogue.awk > "$DIR/b.csv"
"$PY" - "$DIR/b.csv" "$DIR/b.fits" <<'PY'
import sys, numpy as np, pandas as pd
from astropy.table import Table
d = pd.read_csv(sys.argv[1])
t = Table.from_pandas(d)
t.write(sys.argv[2], format="fits")
PY
"$AT" --config configs/rf.ini --quiet --threads "$THREADS" --set run.output_dir="$DIR/runs" --set plots.enabled=false \
    >/dev/null 2>"$DIR/train.log" || { echo "fits_batch: training failed: $(tail -n 1 "$DIR/train.log")"; exit 1; }
M=$DIR/runs/rf/model.h5
run() { # prints "wall cpu kB" of one run
    /usr/bin/time -v "$@" >/dev/null 2>"$DIR/time.log" || { echo "failed: $*: $(tail -n 3 "$DIR/time.log")" >&2; echo "nan nan 0"; return; }
    awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]}
                /User time|System time/ {cpu += $2} /Maximum resident set size/ {kb = $2} END {print s, cpu, kb}' "$DIR/time.log"
}
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
declare -A W C K
i=0
for r in $(seq "$REPEATS"); do
    for fmt in csv fits; do
        i=$((i + 1))
        read -r w c k < <(run "$AT" monitor --model "$M" --history "$DIR/h" --input "$DIR/b.$fmt" --batch "b$i" --quiet \
            --no-report --threads "$THREADS")
        W[mon_$fmt]+="$w "; C[mon_$fmt]+="$c "; K[mon_$fmt]=$k
        read -r w c k < <(run "$AT" predict --model "$M" --input "$DIR/b.$fmt" --output "$DIR/o.csv" --quiet --threads "$THREADS")
        W[pred_$fmt]+="$w "; C[pred_$fmt]+="$c "; K[pred_$fmt]=$k
        read -r w c k < <(run "$PY" -c "
import sys, time, pandas as pd
from astropy.table import Table
t0 = time.perf_counter()
d = pd.read_csv(sys.argv[1]) if sys.argv[1].endswith('.csv') else Table.read(sys.argv[1]).to_pandas()
print(len(d))" "$DIR/b.$fmt")
        W[peer_$fmt]+="$w "; C[peer_$fmt]+="$c "; K[peer_$fmt]=$k
    done
done
echo "FITS vs CSV, $ROWS rows, $THREADS threads, median of $REPEATS, load $(cut -d' ' -f1-3 /proc/loadavg)"
for cmd in mon pred peer; do
    for fmt in csv fits; do
        w=$(tr ' ' '\n' <<<"${W[${cmd}_$fmt]}" | grep . | median); c=$(tr ' ' '\n' <<<"${C[${cmd}_$fmt]}" | grep . | median)
        printf '%-5s %-4s wall %7.2f s  cpu %7.2f s  peak %6d MB\n' "$cmd" "$fmt" "$w" "$c" "$((K[${cmd}_$fmt] / 1024))"
        eval "w_${cmd}_$fmt=$w c_${cmd}_$fmt=$c"
    done
    awk -v a="$(eval echo \$w_${cmd}_fits)" -v b="$(eval echo \$w_${cmd}_csv)" -v ca="$(eval echo \$c_${cmd}_fits)" \
        -v cb="$(eval echo \$c_${cmd}_csv)" -v n="$cmd" 'BEGIN {printf "%-5s FITS/CSV: wall %.2fx, cpu %.2fx\n", n, a / b, ca / cb}'
done
