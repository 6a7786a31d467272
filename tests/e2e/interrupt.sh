#!/usr/bin/env bash
# End to end: SIGINT/SIGTERM stop training and predict at the next safe point with exit
# code 8 and one clear line, leaving no partial file: the run directory holds only the
# complete log.txt (ending with the reason), and predict's output does not exist.
source "$(dirname "$0")/lib.sh"
cd "$TMP"
cat > long.ini <<INI
[run]
output_dir = $TMP/runs
; a fit long enough to interrupt, whatever memory the machine has free now (the memory check
; is bad_inputs.sh's; this run is stopped long before its trees would need it)
memory_limit_mb = 1000000
[data]
path = $SAMPLE
[model]
n_trees = 100000
INI

# start_then NAME SIGNAL LOG CMD... : runs CMD in the background, waits until its stderr
# (LOG) shows the stage named by WAIT, sends SIGNAL, and leaves the exit code in $rc.
WAIT="fitting"
start_then() {
    local sig=$1 log=$2; shift 2
    "$@" 2>"$log" >/dev/null &
    local pid=$! i
    for i in $(seq 1 600); do
        grep -q "$WAIT" "$log" 2>/dev/null && break
        sleep 0.1
    done
    sleep 0.3
    kill "-$sig" "$pid"
    wait "$pid"
    rc=$?
}
no_partial_run() {
    local dir=$1
    [ -s "$dir/log.txt" ] && [ ! -e "$dir/model.h5" ] && [ ! -e "$dir/metrics.json" ] &&
        [ ! -e "$dir/predictions.csv" ] && [ ! -e "$dir/config.ini" ] &&
        [ -z "$(find "$dir" -name '*.tmp.*')" ] && tail -n 1 "$dir/log.txt" | grep -q interrupted
}

start_then INT int.log timeout 120 "$ASTROTRAIN" --config long.ini --set run.name=int
check "SIGINT during fit: exit code 8 (got $rc)" test "$rc" -eq 8
check "SIGINT during fit: one clear line" grep -qE "^astrotrain: random forest: fit interrupted; no results written \(the log is in .*/runs/int/log.txt\)" int.log
check "SIGINT during fit: only a complete log.txt is left" no_partial_run "$TMP/runs/int"

start_then TERM term.log timeout 120 "$ASTROTRAIN" --config long.ini --set run.name=term --threads 1
check "SIGTERM during fit: exit code 8 (got $rc)" test "$rc" -eq 8
check "SIGTERM during fit: message" grep -q "^astrotrain: random forest: fit interrupted" term.log
check "SIGTERM during fit: only a complete log.txt is left" no_partial_run "$TMP/runs/term"

# predict: a model, a catalogue long enough to be caught mid-way, small chunks.
ok "train a small model" "$ASTROTRAIN" --config long.ini --quiet --set run.name=small --set model.n_trees=20 \
    --set plots.enabled=false
# The catalogue comes through a FIFO: 1000 rows, a pause (the signal arrives while predict
# waits in read(), which must resume rather than fail), then the rest. The signal goes only once
# predict has read the first rows (first.done: more than a pipe's buffer has gone through), so a
# slow start (valgrind, a busy machine) cannot make it arrive before predict opens the FIFO, and
# the writer is stopped afterwards, so a reader that never came cannot leave it blocked.
zcat "$SAMPLE" > all.csv
mkfifo in.fifo
{ head -n 1001 all.csv; touch first.done; sleep 2; tail -n +1002 all.csv; } > in.fifo &
writer=$!
"$ASTROTRAIN" predict --model runs/small/model.h5 --input in.fifo --output out.csv --chunk-rows 500 \
    --threads 1 2>pred.log >/dev/null &
pid=$!
for i in $(seq 1 600); do [ -e first.done ] && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
rc=$?
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
check "SIGTERM during predict: exit code 8 (got $rc)" test "$rc" -eq 8
check "SIGTERM during predict: message" grep -q "^astrotrain: interrupted; out.csv not written" pred.log
check "SIGTERM during predict: no output, no temporary file" \
    bash -c "[ ! -e out.csv ] && [ -z \"\$(ls | grep '\.tmp\.')\" ]"
done_tests
