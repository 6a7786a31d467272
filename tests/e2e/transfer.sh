#!/usr/bin/env bash
# End to end, transfer learning through the CLI: a tiny named CNN pretrained on a synthetic
# Galaxy10 file (10 classes), then fine-tuned on 48 real star/galaxy cutouts from its model.h5
# (re-headed to 2 classes, first layer frozen with its batch norm, ImageNet-style fixed input
# normalisation): the log lists every tensor, the frozen layer is byte-identical to the
# pretrained one, predict reproduces predictions.csv (so the stored normalisation is applied),
# the per-class precision/recall/F1 figure agrees with metrics.json; bad init files fail with
# one line.
source "$(dirname "$0")/lib.sh"
cd "$TMP"
cutouts imgs 24
ok "synthetic Galaxy10 file" "$ASTROTRAIN" synth galaxy10 --out g10.h5 --n 60 --size 16
{ cnn_ini pre "$TMP/g10.h5"; cat <<INI
[net]
width = 16
height = 16
batch = 8
epochs = 1
[conv]
name = c1
filters = 8
batch_normalize = true
[maxpool]
[conv]
name = c2
filters = 8
batch_normalize = true
[avgpool]
[dense]
name = fc
units = 10
[softmax]
INI
} > pre.ini
ok "pretrain on synthetic Galaxy10" "$ASTROTRAIN" --config pre.ini --quiet --threads 2
sed -e "s|path = $TMP/g10.h5|path = $TMP/imgs|" -e 's/units = 10/units = 2/' -e 's/name = pre$/name = fine/' \
    -e "s|epochs = 1|epochs = 2\ninit = $TMP/runs/pre/model.h5\nfreeze = c1\nfreeze_bn = true\nlr_decay = 0.75\ninput_mean = 0.485,0.456,0.406\ninput_std = 0.229,0.224,0.225|" \
    pre.ini > fine.ini
ok "fine-tune on the cutouts" "$ASTROTRAIN" --config fine.ini --quiet --threads 2
RUN=$TMP/runs/fine
check "log lists loaded, random and the count" bash -c "grep -q 'init:   loaded  c1.weight' '$RUN/log.txt' && grep -q 'init:   random  fc.weight' '$RUN/log.txt' && grep -q 'init: 10 tensors loaded, 0 skipped, 2 left random' '$RUN/log.txt'"
H5PY=/usr/bin/python3
command -v "$H5PY" >/dev/null || H5PY=python3
if "$H5PY" -c "import h5py" 2>/dev/null; then
    check "frozen c1 (weights, batch norm, statistics) unchanged, c2 trained" "$H5PY" - "$TMP/runs/pre/model.h5" "$RUN/model.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
pa, pb = a["model/params"][()], b["model/params"][()]
n1 = 3 * 3 * 3 * 8 + 8 + 8  # c1: weights, gamma, beta
assert np.array_equal(pa[:n1], pb[:n1])
assert not np.array_equal(pa[n1:n1 + 576], pb[n1:n1 + 576])
assert np.array_equal(a["model/stats"][()][:16], b["model/stats"][()][:16])
assert np.allclose(b["model/mean"][()], [0.485, 0.456, 0.406]) and np.allclose(b["model/std"][()], [0.229, 0.224, 0.225])
PY
else
    skip "frozen layer unchanged in model.h5" "h5py missing (apt-get install python3-h5py)"
fi
ok "predict with the fine-tuned model" "$ASTROTRAIN" predict --model "$RUN/model.h5" --input imgs --output pred.csv --quiet
check "predict reproduces predictions.csv (stored normalisation applied)" python3 - "$RUN/predictions.csv" pred.csv <<'PY'
import csv, sys
run = {r["row"]: r for r in csv.DictReader(open(sys.argv[1]))}
new = {r["row"]: r for r in csv.DictReader(open(sys.argv[2]))}
assert len(run) == 12 and len(new) == 48, (len(run), len(new))
for k, r in run.items(): assert new[k] == r, (k, r, new[k])
PY
check "class_scores figure = metrics.json's per-class precision/recall/F1" python3 - "$RUN/plots/class_scores.dat" "$RUN/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[2]))["test"]
rows = [l.split() for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
vals = [[float(x) for x in r[-3:]] for r in rows]
assert len(vals) == 2, rows
for c, v in zip(m["classes"], vals):
    pc = m["per_class"][c]
    for got, key in zip(v, ["precision", "recall", "f1"]):
        assert abs(got - pc[key]) < 1e-5, (c, key, got, pc[key])
PY
check_run "fine-tuned metrics agree with predictions.csv" "$RUN"

# bad init files: one line each, no run directory left half-written
fails "missing init file" 5 "nope.h5" "$ASTROTRAIN" --config fine.ini --quiet --force --set run.name=bad1 --set "net.init=$TMP/nope.h5"
printf '\xff\xff\xff\xff\xff\xff\xff\x7f{}' > hostile.safetensors
fails "hostile safetensors header" 4 "over the format's limit" "$ASTROTRAIN" --config fine.ini --quiet --force --set run.name=bad2 --set "net.init=$TMP/hostile.safetensors"
printf '\x10\x00\x00\x00\x00\x00\x00\x00{"c1.weight":{}}' > empty.safetensors
fails "safetensors entry without fields" 4 "tensor 'c1.weight': needs dtype" "$ASTROTRAIN" --config fine.ini --quiet --force --set run.name=bad3 --set "net.init=$TMP/empty.safetensors"
fails "freeze names no layer" 3 "freeze = 'c9': no layer has that name" "$ASTROTRAIN" --config fine.ini --quiet --force --set run.name=bad4 --set net.freeze=c9
done_tests
