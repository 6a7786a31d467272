#!/usr/bin/env bash
# mpi.sh - boosting and the forest across MPI ranks against one process with the same cores
# (issue 15): `mpirun -np 2` with 1 thread per rank vs one process with 2 threads, on the SDSS17
# catalogue and on a 10x catalogue (gen_catalogue.awk), medians of BENCH_REPEATS runs (default
# 3). Prints fit seconds, the ratio (target <= 1.25), the communication each rank did (from
# metrics.json "distributed": bytes, collectives, seconds) and whether the predictions are the
# single process's bit for bit. BENCH_MPI_ROWS (default 1000000) sets the large catalogue.
set -u
cd "$(dirname "$0")/.."
AT=$PWD/build/astrotrain
REPEATS=${BENCH_REPEATS:-3}
ROWS=${BENCH_MPI_ROWS:-1000000}
OUT=$(mktemp -d /tmp/astrotrain-mpibench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
command -v mpirun >/dev/null || { echo "  (mpirun not installed: Debian openmpi-bin)"; exit 0; }
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2)
zcat data/sdss17/star_classification.csv.gz > "$OUT/sdss17.csv"
zcat data/sdss17/star_classification.csv.gz | awk -v rows="$ROWS" -f bench/gen_catalogue.awk > "$OUT/big.csv"
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
field() { python3 -c "import json,sys; m=json.load(open('$1')); print($2)"; }

# run NAME CONFIG DATA MODE(single|mpi) SETTINGS...: prints the median fit seconds
run() {
    local name=$1 cfg=$2 data=$3 mode=$4 i fits=()
    shift 4
    for i in $(seq "$REPEATS"); do
        local cmd=("$AT" --config "configs/$cfg.ini" --quiet --force --set run.output_dir="$OUT" --set run.name="$name"
                   --set data.path="$data" --set plots.enabled=false "$@")
        if [ "$mode" = mpi ]; then "${MPIRUN[@]}" "${cmd[@]}" --threads 1 >/dev/null 2>&1; else "${cmd[@]}" --threads 2 >/dev/null 2>&1; fi \
            || { echo nan; return; }
        fits+=("$(field "$OUT/$name/metrics.json" "m['timing']['fit_seconds']")")
    done
    printf '%s\n' "${fits[@]}" | median
}

# BENCH_MPI_DATA (default "sdss17 big") and BENCH_MPI_MODELS (default all: gbdt rf rf-rows)
# choose what runs. rf-rows: the forest by rows ([run] distribute = rows), against the same forest
# in one process (bit for bit).
for data in ${BENCH_MPI_DATA:-sdss17 big}; do
    for m in "gbdt:gradient boosting, 100 rounds:--set model.n_rounds=100" "rf:random forest, 100 trees:--set model.n_trees=100" \
             "rf-rows:forest by rows, 100 trees:--set model.n_trees=100 --set run.distribute=rows"; do
        IFS=: read -r cfg label settings <<<"$m"
        case " ${BENCH_MPI_MODELS:-gbdt rf rf-rows} " in *" $cfg "*) ;; *) continue ;; esac
        name=$cfg
        cfg=${cfg%-rows}
        # shellcheck disable=SC2086
        s=$(run "$name-$data-1" "$cfg" "$OUT/$data.csv" single $settings)
        # shellcheck disable=SC2086
        p=$(run "$name-$data-2" "$cfg" "$OUT/$data.csv" mpi $settings)
        dist="$OUT/$name-$data-2/metrics.json"
        same=$(cmp -s "$OUT/$name-$data-1/predictions.csv" "$OUT/$name-$data-2/predictions.csv" && echo identical || echo DIFFERENT)
        rows=$(field "$dist" "m['data']['train']" 2>/dev/null || echo '?')
        printf '  %-34s %-7s train %8s rows: 1 process x 2 threads %7.2f s, 2 ranks x 1 thread %7.2f s, ratio %5.2f; predictions %s\n' \
            "$label" "$data" "$rows" "$s" "$p" "$(awk -v a="$p" -v b="$s" 'BEGIN { print (b > 0 ? a / b : 0) }')" "$same"
        field "$dist" "'    communication (rank 0): %.1f MB in %d collectives, %.2f s of %.2f s fit' % (m['distributed']['bytes_communicated']/1e6, m['distributed']['collectives'], m['distributed']['seconds_communicating'], m['distributed']['fit_seconds'])" 2>/dev/null
    done
done
