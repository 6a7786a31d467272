#!/usr/bin/env bash
# End to end: the random forest on the 10k SDSS17 sample through the CLI. Checks the run
# directory, metrics.json keys, accuracy, predict reproducing predictions.csv, thread-count
# independence, config errors, DR14 with a changed column map, and model-file corruption.
source "$(dirname "$0")/lib.sh"
cd "$TMP"
cat > rf.ini <<INI
[run]
name = rf
output_dir = $TMP/runs
[data]
path = $SAMPLE
[model]
type = random_forest
n_trees = 60
[plots]
render = true
INI

ok "train on the 10k sample" "$ASTROTRAIN" --config rf.ini --quiet
RUN=$TMP/runs/rf
for f in config.ini metrics.json model.h5 predictions.csv log.txt plots/confusion.gp plots/confusion.dat \
         plots/class_balance.gp plots/feature_importances.gp plots/winning_probability.gp; do
    check "run directory has $f" test -s "$RUN/$f"
done
check "no temporary files left" bash -c "! ls '$RUN' '$RUN/plots' | grep -q '\.tmp\.'"
if command -v gnuplot >/dev/null; then
    check "PNG rendered" test -s "$RUN/plots/confusion.png"
else
    skip "PNG rendered" "gnuplot not on PATH"
fi
check "metrics.json parses with the documented keys" python3 - "$RUN/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
for k in ["model", "seed", "data", "timing", "validation", "test"]: assert k in m, k
for k in ["rows_read", "rows_dropped", "rows_after_undersampling", "train", "validation", "test"]: assert k in m["data"], k
assert m["data"]["rows_read"] == 10000 and m["data"]["rows_dropped"] == 1
for part in ["validation", "test"]:
    t = m[part]
    for k in ["accuracy", "macro_f1", "log_loss", "classes", "confusion", "per_class"]: assert k in t, (part, k)
    assert t["classes"] == ["GALAXY", "QSO", "STAR"]
    for c in t["classes"]:
        for k in ["precision", "recall", "f1", "support", "confident_fraction"]: assert k in t["per_class"][c], k
assert m["test"]["accuracy"] >= 0.95, m["test"]["accuracy"]
for k in ["fit_seconds", "predict_seconds"]: assert m["timing"][k] >= 0
# minority undersampling: every class cut to the rarest one's count (QSO, 1886); 70/15/15
assert m["data"]["class_counts_before"] == {"GALAXY": 5975, "QSO": 1886, "STAR": 2138}, m["data"]
assert m["data"]["class_counts_after"] == {"GALAXY": 1886, "QSO": 1886, "STAR": 1886}, m["data"]
assert (m["data"]["train"], m["data"]["validation"], m["data"]["test"]) == (3960, 849, 849), m["data"]
assert m["model_info"]["n_trees"] == 60 and 0.95 <= m["model_info"]["oob_accuracy"] < 1, m["model_info"]
assert abs(sum(m["feature_importances"].values()) - 1) < 1e-9
PY
check_run "metrics.json agrees with predictions.csv and confusion.dat" "$RUN"
check "plot data files hold the run's figures" python3 - "$RUN" <<'PY'
import json, sys
d = sys.argv[1]; m = json.load(open(f"{d}/metrics.json"))
def rows(name): return [l.split() for l in open(f"{d}/plots/{name}.dat") if not l.startswith("#") and l.strip()]
cb = {r[0].strip('"'): (int(r[1]), int(r[2])) for r in rows("class_balance")}
assert cb == {c: (m["data"]["class_counts_before"][c], m["data"]["class_counts_after"][c]) for c in cb} and len(cb) == 3, cb
fi = {r[0].strip('"'): float(r[1]) for r in rows("feature_importances")}
assert fi.keys() == m["feature_importances"].keys() and all(abs(fi[k] - v) < 1e-9 for k, v in m["feature_importances"].items()), fi
# winning probability: every test row in one bin, the correct ones as many as the diagonal
wp = rows("winning_probability"); t = m["test"]
assert sum(int(r[2]) + int(r[3]) for r in wp) == t["n"]
assert sum(int(r[2]) for r in wp) == sum(t["confusion"][i][i] for i in range(3))
PY
check "existing run directory is refused without --force" bash -c "! '$ASTROTRAIN' --config rf.ini --quiet"
fails "existing run dir message" 2 "already exists (use --force" "$ASTROTRAIN" --config rf.ini --quiet

# predict on the saved model reproduces predictions.csv exactly (test rows, joined on row)
ok "predict with the saved model" "$ASTROTRAIN" predict --model "$RUN/model.h5" --input "$SAMPLE" --output pred.csv --quiet
check "predict reproduces predictions.csv" python3 - "$RUN/predictions.csv" pred.csv <<'PY'
import csv, sys
run = {r["row"]: r for r in csv.DictReader(open(sys.argv[1]))}
new = {r["row"]: r for r in csv.DictReader(open(sys.argv[2])) if r.pop("status") == "ok"}
assert len(run) == 849 and len(new) == 9999, (len(run), len(new))
for k, r in run.items():
    assert new[k] == r, (k, r, new[k])
PY
# columns in another order, extra columns dropped, no label: still the same probabilities
python3 - "$SAMPLE" shuffled.csv <<'PY'
import csv, gzip, sys
rows = list(csv.DictReader(gzip.open(sys.argv[1], "rt")))
cols = ["redshift", "z", "plate", "i", "r", "g", "u"]
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f); w.writerow(cols)
    for r in rows: w.writerow([r[c] for c in cols])
PY
ok "predict on reordered columns without label" "$ASTROTRAIN" predict --model "$RUN/model.h5" --input shuffled.csv --output pred2.csv --quiet
check "same probabilities whatever the column order" python3 - pred.csv pred2.csv <<'PY'
import csv, sys
a = list(csv.DictReader(open(sys.argv[1]))); b = list(csv.DictReader(open(sys.argv[2])))
assert len(a) == len(b)
for x, y in zip(a, b):
    del x["true"]
    assert x == y
PY
cut -d, -f1-5 shuffled.csv > missing.csv
fails "missing feature column" 4 "no column 'u'" "$ASTROTRAIN" predict --model "$RUN/model.h5" --input missing.csv --output x.csv
check "no partial output after a failed predict" test ! -e x.csv

# threads: the same model for 1 and 2 threads
ok "train with --threads 1" "$ASTROTRAIN" --config rf.ini --quiet --threads 1 --set run.name=t1
ok "train with --threads 2" "$ASTROTRAIN" --config rf.ini --quiet --threads 2 --set run.name=t2
check "1 and 2 threads give identical predictions" cmp "$TMP/runs/t1/predictions.csv" "$TMP/runs/t2/predictions.csv"

# config errors
sed 's/n_trees = 60/n_tres = 60/' rf.ini > typo.ini
fails "misspelt key names file:line and the fix" 3 "typo.ini:8: unknown key 'n_tres' in [model] (did you mean 'n_trees'?)" "$ASTROTRAIN" --config typo.ini
fails "--set with an unknown key" 3 "did you mean 'n_trees'" "$ASTROTRAIN" --config rf.ini --set model.n_tree=5
fails "missing config file" 5 "nope.ini" "$ASTROTRAIN" --config nope.ini
fails "unknown option" 2 "unknown or incomplete option" "$ASTROTRAIN" --config rf.ini --bogus
ok "config prints the effective configuration" bash -c "'$ASTROTRAIN' config --config rf.ini | grep -q 'min_samples_leaf = 1'"
ok "help" "$ASTROTRAIN" --help
ok "version" "$ASTROTRAIN" --version
ok "info on the model" bash -c "'$ASTROTRAIN' info --model '$RUN/model.h5' | grep -q 'model type   random_forest'"
check "info shows the trained configuration" bash -c "'$ASTROTRAIN' info --model '$RUN/model.h5' | grep -qx 'n_trees = 60'"

# DR14: another release, other column names, CRLF, 1.23E+018 numbers: only [data] changes
DR14="$ROOT/data/sdss_dr14/skyserver_dr14.csv.gz"
if [ -f "$DR14" ]; then
    ok "DR14 loads with a changed column map" "$ASTROTRAIN" --config rf.ini --quiet --set run.name=dr14 \
        --set "data.path=$DR14" --set "data.features=u,g,r,i,z,redshift" --set data.label=class
    check "DR14 accuracy is sensible" python3 -c "import json,sys; m=json.load(open('$TMP/runs/dr14/metrics.json')); assert m['data']['rows_read']==10000 and m['test']['accuracy']>0.9"
    check_run "DR14 metrics agree with predictions.csv" "$TMP/runs/dr14"
else
    skip "DR14 loads with a changed column map" "$DR14 not found"
    skip "DR14 accuracy is sensible" "$DR14 not found"
    skip "DR14 metrics agree with predictions.csv" "$DR14 not found"
fi

# model file damage never crashes
head -c 3000 "$RUN/model.h5" > trunc.h5
fails "truncated model file" 6 "trunc.h5" "$ASTROTRAIN" info --model trunc.h5
echo "not a model" > text.h5
fails "foreign model file" 6 "not an HDF5 file" "$ASTROTRAIN" info --model text.h5
fails "missing model file" 5 "none.h5" "$ASTROTRAIN" info --model none.h5
done_tests
