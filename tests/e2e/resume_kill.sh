#!/usr/bin/env bash
# Nothing lost: a CNN run killed with SIGKILL at a random moment after its first
# checkpoint, then resumed with --resume, ends with exactly the model of an uninterrupted
# run (same seed, same threads).
source "$(dirname "$0")/lib.sh"
cd "$TMP"
cutouts imgs 40
cat > cnn.ini <<INI
[run]
output_dir = $TMP/runs
seed = 7
[data]
path = $TMP/imgs
width = 16
height = 16
[undersample]
strategy = none
[model]
type = cnn
[net]
width = 16
height = 16
batch = 8
epochs = 8
augment_d4 = true
[conv]
filters = 8
batch_normalize = true
[maxpool]
[conv]
filters = 16
[avgpool]
[dense]
units = 2
[softmax]
INI
ok "uninterrupted run" "$ASTROTRAIN" --config cnn.ini --quiet --threads 2 --set run.name=whole
"$ASTROTRAIN" --config cnn.ini --quiet --threads 2 --set run.name=killed > killed.out 2>&1 &
PID=$!
at_track_pid "$PID"
for _ in $(seq 300); do [ -s runs/killed/checkpoint.h5 ] && break; sleep 0.05; done
# A random moment after the first checkpoint (or at once if the run is already past it).
sleep "0.$((RANDOM % 10))"
kill -KILL $PID 2>/dev/null
wait $PID 2>/dev/null
check "the killed run left a checkpoint" test -s runs/killed/checkpoint.h5
ok "resume after SIGKILL" "$ASTROTRAIN" --resume runs/killed --quiet --threads 2
check "the resumed run continued from its checkpoint" grep -q "resuming from .*checkpoint.h5 at epoch" runs/killed/log.txt
check "resumed model predicts exactly as the uninterrupted one" cmp runs/whole/predictions.csv runs/killed/predictions.csv
check "same learning history" python3 - runs/whole/metrics.json runs/killed/metrics.json <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["history"]; b = json.load(open(sys.argv[2]))["history"]
for k in a:
    if k != "seconds": assert a[k] == b[k], k
PY
check "no temporary files left after the resumed run" bash -c "! find runs/killed -name '*.tmp.*' | grep -q ."
done_tests
