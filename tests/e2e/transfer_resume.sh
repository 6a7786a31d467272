#!/usr/bin/env bash
# End to end, from the CLI: a fine-tuning run (init from a tiny pretrained model, re-headed,
# first layer frozen with its batch norm, unfrozen after 2 epochs, per-block learning rates)
# stopped with SIGINT after its first epoch's checkpoint, then `--resume`d across the unfreeze,
# ends with exactly the model of an uninterrupted run: the same weight and batch-norm bytes,
# the same predictions.csv, the same learning history.
source "$(dirname "$0")/lib.sh"
cd "$TMP"
cutouts imgs 48
ok "synthetic Galaxy10 file" "$ASTROTRAIN" synth galaxy10 --out g10.h5 --n 100 --size 32
net() { # net DATA UNITS EPOCHS [extra net lines]
    printf '[run]\noutput_dir = %s/runs\nseed = 11\n[data]\npath = %s\n[undersample]\nstrategy = none\n' "$TMP" "$1"
    printf '[model]\ntype = cnn\n[net]\nwidth = 32\nheight = 32\nbatch = 8\nepochs = %s\nlearning_rate = 0.003\n' "$3"
    printf 'augment_d4 = true\n%s\n' "${4:-}"
    printf '[conv]\nname = c1\nfilters = 16\nbatch_normalize = true\n[maxpool]\n'
    printf '[conv]\nname = c2\nfilters = 16\nbatch_normalize = true\n[avgpool]\n[dense]\nname = fc\nunits = %s\n[softmax]\n' "$2"
}
net "$TMP/g10.h5" 10 1 > pre.ini
ok "pretrain a tiny model" "$ASTROTRAIN" --config pre.ini --quiet --threads 2 --set run.name=pre
net "$TMP/imgs" 2 5 "init = $TMP/runs/pre/model.h5
freeze = c1
freeze_bn = true
unfreeze_after = 2
lr_decay = 0.75" > fine.ini
ok "uninterrupted fine-tuning run" "$ASTROTRAIN" --config fine.ini --quiet --threads 2 --set run.name=whole
check "it loaded the pretrained layers and re-headed fc" bash -c \
    "grep -q 'init: 10 tensors loaded, 0 skipped, 2 left random' runs/whole/log.txt"

"$ASTROTRAIN" --config fine.ini --quiet --threads 2 --set run.name=stopped > stopped.out 2>&1 &
PID=$!
at_track_pid "$PID"
# the first checkpoint is written at the end of epoch 1; SIGINT then stops at the next batch
for _ in $(seq 600); do [ -s runs/stopped/checkpoint.h5 ] && break; sleep 0.02; done
kill -INT $PID 2>/dev/null
wait $PID
RC=$?
check "SIGINT stops the fine-tuning run with exit code 8 (got $RC)" test "$RC" -eq 8
check "the message names --resume" grep -q "astrotrain --resume $TMP/runs/stopped" stopped.out
check "no model was written by the stopped run" test ! -e runs/stopped/model.h5
ok "--resume the fine-tuning run" "$ASTROTRAIN" --resume runs/stopped --quiet --threads 2
check "it resumed from its checkpoint before the unfreeze (epoch 3)" python3 - runs/stopped/log.txt <<'PY'
import re, sys
m = re.search(r"resuming from .*checkpoint.h5 at epoch (\d+), batch (\d+)", open(sys.argv[1]).read())
assert m and 2 <= int(m.group(1)) <= 3, m and m.group(0)
PY
check "resumed model predicts exactly as the uninterrupted one" cmp runs/whole/predictions.csv runs/stopped/predictions.csv
H5PY=/usr/bin/python3
command -v "$H5PY" >/dev/null || H5PY=python3
if "$H5PY" -c "import h5py" 2>/dev/null; then
    check "the same weight and batch-norm bytes (c1 trained after the unfreeze)" "$H5PY" - runs/whole/model.h5 \
        runs/stopped/model.h5 runs/pre/model.h5 <<'PY'
import sys, h5py, numpy as np
a, b, pre = (h5py.File(p) for p in sys.argv[1:])
for k in ("params", "stats", "mean", "std"):
    assert a["model/" + k][()].tobytes() == b["model/" + k][()].tobytes(), k
# the last epoch's weights (checkpoints, finished): equal too, and c1 moved after the unfreeze
ca, cb = (h5py.File(p.replace("model.h5", "checkpoint.h5")) for p in sys.argv[1:3])
for k in ("net/params", "net/stats", "train/m", "train/v"):
    assert ca[k][()].tobytes() == cb[k][()].tobytes(), k
n1 = 3 * 3 * 3 * 16
assert not np.array_equal(ca["net/params"][()][:n1], pre["model/params"][()][:n1])
PY
else
    skip "the same weight bytes" "h5py missing (apt-get install python3-h5py)"
fi
check "same learning history" python3 - runs/whole/metrics.json runs/stopped/metrics.json <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["history"]; b = json.load(open(sys.argv[2]))["history"]
assert len(a["epoch"]) == 5
for k in a:
    if k != "seconds": assert a[k] == b[k], k
PY
done_tests
