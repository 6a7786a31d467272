#!/usr/bin/env bash
# End to end: a tiny CNN through the CLI on a few dozen real star/galaxy cutouts (resized to
# 16x16) and on a synthetic Galaxy10 file: the run directory, metrics.json keys, predict on
# the saved model reproducing predictions.csv (folder, HDF5 and single files), info,
# network INI errors with file:line, and SIGINT -> checkpoint -> --resume.
source "$(dirname "$0")/lib.sh"
cd "$TMP"
cutouts imgs 24
{ cnn_ini cnn "$TMP/imgs"; cat <<INI
[net]
width = 16
height = 16
batch = 8
epochs = 2
augment_d4 = true
[conv]
filters = 8
[maxpool]
[conv]
filters = 8
batch_normalize = true
[avgpool]
[dense]
units = 2
[softmax]
INI
} > cnn.ini

ok "train a tiny cnn on 48 cutouts" "$ASTROTRAIN" --config cnn.ini --quiet --threads 2
RUN=$TMP/runs/cnn
for f in config.ini metrics.json model.h5 predictions.csv log.txt checkpoint.h5 plots/confusion.gp \
         plots/learning_curve.gp plots/samples.png plots/samples.txt plots/misclassified.txt; do
    check "run directory has $f" test -s "$RUN/$f"
done
check "no temporary files left" bash -c "! ls '$RUN' '$RUN/plots' | grep -q '\.tmp\.'"
# Parameters by hand for 16x16x3 input, 3x3 kernels: conv 3*3*3*8 + 8 biases = 224;
# conv with batch norm 3*3*8*8 + 8 biases + 8 scales = 592; dense 8*2 + 2 = 18; total 834.
check "the log has the layer table" grep -q "total: 834 parameters" "$RUN/log.txt"
check "metrics.json has the documented keys" python3 - "$RUN/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
for k in ["model", "seed", "data", "timing", "validation", "test", "history", "model_info"]: assert k in m, k
assert m["model"] == "cnn" and m["data"]["rows_read"] == 48
assert m["data"]["train"] + m["data"]["validation"] + m["data"]["test"] == 48
assert m["test"]["classes"] == ["galaxy", "star"]
for k in ["fit_seconds", "predict_seconds"]: assert m["timing"][k] > 0
assert len(m["history"]["epoch"]) == 2 and len(m["history"]["val_accuracy"]) == 2
i = m["model_info"]
assert i["parameters"] == 224 + 592 + 18 and i["layers"] == 6 and i["input"] == [16, 16, 3], i
assert i["epochs_run"] == 2 and 1 <= i["best_epoch"] <= 2, i
assert (m["data"]["train"], m["data"]["validation"], m["data"]["test"]) == (24, 12, 12), m["data"]
PY
check_run "cnn metrics agree with predictions.csv" "$RUN"
ok "predict on the image folder" "$ASTROTRAIN" predict --model "$RUN/model.h5" --input imgs --output pred.csv --quiet
check "predict reproduces predictions.csv" python3 - "$RUN/predictions.csv" pred.csv <<'PY'
import csv, sys
run = {r["row"]: r for r in csv.DictReader(open(sys.argv[1]))}
new = {r["row"]: r for r in csv.DictReader(open(sys.argv[2]))}
assert len(run) == 12 and len(new) == 48, (len(run), len(new))
for k, r in run.items(): assert new[k] == r, (k, r, new[k])
PY
G=$(ls imgs/galaxy | head -n 1); S=$(ls imgs/star | head -n 1)
ok "predict on single files" "$ASTROTRAIN" predict --model "$RUN/model.h5" --input "imgs/galaxy/$G" --input "imgs/star/$S" --output files.csv --quiet
check "one row per file, no true column" bash -c "[ \$(wc -l < files.csv) -eq 3 ] && head -n 1 files.csv | grep -q '^row,predicted,p_galaxy,p_star$'"
ok "info on the cnn model" bash -c "'$ASTROTRAIN' info --model '$RUN/model.h5' | grep -q 'model type   cnn'"

# Galaxy10-layout HDF5 (synthetic) with class weights and D4 test-time augmentation
ok "synthetic Galaxy10 file" "$ASTROTRAIN" synth galaxy10 --out g10.h5 --n 60 --size 16
sed -e "s|path = $TMP/imgs|path = $TMP/g10.h5|" -e 's/units = 2/units = 10/' -e 's/type = cnn/type = cnn\nclass_weight = balanced/' \
    -e 's/augment_d4 = true/augment_d4 = true\ntta = true\noptimizer = adamw\nschedule = cosine/' cnn.ini > g10.ini
ok "train on the HDF5 file" "$ASTROTRAIN" --config g10.ini --quiet --set run.name=g10
check "ten Galaxy10 classes" python3 -c "import json; m=json.load(open('$TMP/runs/g10/metrics.json')); assert len(m['test']['classes'])==10 and m['model_info']['tta']=='d4'"
ok "predict on the HDF5 file" "$ASTROTRAIN" predict --model "$TMP/runs/g10/model.h5" --input g10.h5 --output g10.csv --quiet
check "HDF5 predict reproduces predictions.csv" python3 - "$TMP/runs/g10/predictions.csv" g10.csv "$TMP/runs/g10/metrics.json" <<'PY'
import csv, json, sys
run = {r["row"]: r for r in csv.DictReader(open(sys.argv[1]))}
new = {r["row"]: r for r in csv.DictReader(open(sys.argv[2]))}
assert len(run) == json.load(open(sys.argv[3]))["data"]["test"] and len(new) == 60, (len(run), len(new))
for k, r in run.items(): assert new[k] == r, (k, r, new[k])
PY
check_run "Galaxy10 metrics agree with predictions.csv" "$TMP/runs/g10"

# network INI errors name the file and line
sed 's/filters = 8/filtres = 8/' cnn.ini > typo.ini
fails "misspelt layer key" 3 "typo.ini:21: unknown key 'filtres' in [conv] (did you mean 'filters'?)" "$ASTROTRAIN" --config typo.ini
sed 's/^\[maxpool\]$/[maxpool]\nsize = 40/' cnn.ini > shape.ini
fails "impossible shape" 3 "shape.ini:22: [maxpool] impossible shape" "$ASTROTRAIN" --config shape.ini
fails "wrong number of outputs" 3 "cnn.ini:27: the network ends with 2 outputs but the data have 10 classes: set units = 10" "$ASTROTRAIN" --config cnn.ini --force --set model.class_weight=none --set net.epochs=1 --set "data.path=$TMP/g10.h5" --set run.name=bad --quiet

# SIGINT at a batch boundary writes a checkpoint; --resume finishes the run
"$ASTROTRAIN" --config cnn.ini --quiet --set run.name=int --set net.epochs=100000 > int.out 2>&1 &
PID=$!
at_track_pid "$PID"
for _ in $(seq 100); do [ -s "$TMP/runs/int/checkpoint.h5" ] && break; sleep 0.2; done
kill -INT $PID; wait $PID; RC=$?
check "interrupted run exits 8" test "$RC" -eq 8
check "the message names --resume" grep -q "astrotrain --resume $TMP/runs/int" int.out
ok "--resume finishes the run" "$ASTROTRAIN" --resume "$TMP/runs/int" --quiet --set net.epochs=3
check "--resume continued from the checkpoint" grep -q "resuming from .*checkpoint.h5 at epoch" "$TMP/runs/int/log.txt"
# the interrupted run may already be past epoch 3 (its checkpoint epoch depends on timing):
# at least 3 epochs, each once, in order, the history as long as the epochs run
check "resumed run has its results" python3 -c "
import json; m = json.load(open('$TMP/runs/int/metrics.json')); n = m['model_info']['epochs_run']
assert n >= 3 and m['history']['epoch'] == list(range(1, n + 1)), (m['model_info'], m['history']['epoch'])"
check_run "resumed run's metrics agree with predictions.csv" "$TMP/runs/int"
done_tests
