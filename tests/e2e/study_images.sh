#!/usr/bin/env bash
# End to end: an image study through `astrotrain experiment` (the shape of
# experiments/stargalaxy_finetune): a tiny net pretrained on a synthetic Galaxy10 file (a step
# with its own [data]: its own split, reported apart), then from scratch and fine-tuned
# (`init = step:pre`) on 80 real cutouts sharing one split. The report has both arms side by
# side, and every number in its tables and in plots/class_f1 equals that arm's metrics.json.
source "$(dirname "$0")/lib.sh"
cd "$TMP"
mkdir -p st
cutouts imgs 40
ok "synthetic Galaxy10 file" "$ASTROTRAIN" synth galaxy10 --out g10.h5 --n 60 --size 16
cat > st/study.ini <<INI
[experiment]
name = tiny
output_dir = $TMP/runs
data = data.ini
steps = pre.ini, scratch.ini, fine.ini
INI
cat > st/data.ini <<INI
[run]
seed = 5
[data]
path = $TMP/imgs
width = 32
height = 32
[undersample]
strategy = none
[split]
train = 0.5
validation = 0.25
test = 0.25
INI
net() { # net UNITS EPOCHS [extra net lines]
    printf '[model]\ntype = cnn\n[net]\nwidth = 32\nheight = 32\nbatch = 8\nlearning_rate = 0.01\nepochs = %s\n%s\n' "$2" "${3:-}"
    printf '[conv]\nname = c1\nfilters = 8\nbatch_normalize = true\n[maxpool]\n'
    printf '[conv]\nname = c2\nfilters = 8\nbatch_normalize = true\n[avgpool]\n[dense]\nname = fc\nunits = %s\n[softmax]\n' "$1"
}
{ printf '[data]\npath = %s/g10.h5\n[split]\ntrain = 0.6\nvalidation = 0.2\ntest = 0.2\n' "$TMP"; net 10 1; } > st/pre.ini
net 2 5 > st/scratch.ini
net 2 5 "init = step:pre
lr_decay = 0.75" > st/fine.ini

ok "image study runs" "$ASTROTRAIN" experiment st/study.ini --quiet --threads 2
S=$TMP/runs/tiny
for f in report.md report.html plots/class_f1.gp plots/class_f1.dat; do check "study has $f" test -s "$S/$f"; done
for s in pre scratch fine; do check "step $s: run directory" test -s "$S/$s/metrics.json" -a -s "$S/$s/model.h5"; done
check "fine-tuned arm started from the pretrained step's model.h5 (re-headed)" bash -c \
    "grep -q 'init: 10 tensors loaded, 0 skipped, 2 left random' '$S/fine/log.txt' && grep -q 'init = $S/pre/model.h5' '$S/fine/config.ini'"
check "the scratch arm did not" bash -c "! grep -q 'tensors loaded' '$S/scratch/log.txt'"
check "pretraining had its own data and split, the arms share the study's" python3 - "$S" <<'PY'
import json, sys
d = sys.argv[1]
m = {s: json.load(open(f"{d}/{s}/metrics.json")) for s in ("pre", "scratch", "fine")}
assert len(m["pre"]["test"]["classes"]) == 10 and m["pre"]["data"]["test"] == 10, m["pre"]["data"]
for s in ("scratch", "fine"):
    assert m[s]["test"]["classes"] == ["galaxy", "star"] and m[s]["data"]["test"] == 20, m[s]["data"]
assert m["scratch"]["data"] == m["fine"]["data"]
assert open(f"{d}/scratch/split.csv").read() == open(f"{d}/fine/split.csv").read()
PY
check "report: both arms side by side, every figure equal to its metrics.json" python3 - "$S" <<'PY'
import json, sys
d = sys.argv[1]
md = open(f"{d}/report.md").read()
m = {s: json.load(open(f"{d}/{s}/metrics.json")) for s in ("pre", "scratch", "fine")}
rows = {}
for line in md.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if line.startswith("|") and len(cells) > 1: rows.setdefault(cells[0], []).append(cells[1:])
for s in ("scratch", "fine"):
    t = m[s]["test"]
    models, classes = rows[s][0], rows[s][1]
    assert models[1:4] == [f"{t['accuracy']:.4f}", f"{t['macro_f1']:.4f}", f"{t['log_loss']:.4f}"], (s, models)
    assert models[5:] == [f"{t['per_class'][c]['recall']:.4f}" for c in t["classes"]], (s, models)
    want = ["%.4f / %.4f / %.4f" % tuple(t["per_class"][c][k] for k in ("precision", "recall", "f1"))
            for c in t["classes"]]
    assert classes == want, (s, classes, want)
# pretraining: its own line (data, 10 classes, its own split, its test accuracy), in no comparison
pre = rows["pre"]
assert len(pre) == 1 and pre[0][0].endswith("g10.h5") and pre[0][1] == "10", pre
assert pre[0][2] == "40 / 10 / 10" and pre[0][3] == f"{m['pre']['test']['accuracy']:.4f}", pre
assert "reliability_pre" not in md and "reliability_fine" in md and "plots/class_f1.png" in md
PY
check "plots/class_f1: each class's F1 of both arms, equal to metrics.json" python3 - "$S" <<'PY'
import json, sys
d = sys.argv[1]
m = {s: json.load(open(f"{d}/{s}/metrics.json"))["test"] for s in ("scratch", "fine")}
rows = [l.split() for l in open(f"{d}/plots/class_f1.dat") if l.strip() and not l.startswith("#")]
assert len(rows) == 2, rows
for r, c in zip(rows, m["scratch"]["classes"]):
    assert c in r[0], (r, c)
    got = [float(x) for x in r[-2:]]
    for g, s in zip(got, ("scratch", "fine")):
        assert abs(g - m[s]["per_class"][c]["f1"]) < 1e-5, (c, s, g)
PY
for s in scratch fine; do check_run "arm $s: metrics agree with predictions.csv" "$S/$s"; done

# an init naming no earlier step: one line naming the file, the line and the step
sed -i 's/init = step:pre/init = step:later/' st/fine.ini
fails "init from an unknown step" 3 "fine.ini:9: [net] init = step:later: no earlier step is named 'later'" \
    "$ASTROTRAIN" experiment st/study.ini --quiet --threads 2 --force
done_tests
