#!/usr/bin/env bash
# End to end: gradient boosting, the MLP and the ensemble on the 10k SDSS17 sample:
# histories and learning curves, predict reproducing predictions.csv, thread-count
# independence, early stopping, and an ensemble of section members and of saved files.
source "$(dirname "$0")/lib.sh"
cd "$TMP"
common="--quiet --set run.output_dir=$TMP/runs --set data.path=$SAMPLE --set plots.render=false"
same_predictions() { # run-dir predictions vs a predict output, joined on row
    python3 - "$1" "$2" <<'PY'
import csv, sys
a = {r["row"]: r for r in csv.DictReader(open(sys.argv[1]))}
b = {r["row"]: r for r in csv.DictReader(open(sys.argv[2])) if r.pop("status") == "ok"}
assert len(a) == 849 and len(b) == 9999 and all(b[k] == v for k, v in a.items()), (len(a), len(b))
PY
}

ok "gbdt run" "$ASTROTRAIN" --config "$ROOT/configs/gbdt.ini" $common --set model.n_rounds=60 --threads 2
check "gbdt accuracy, history and figures" python3 - runs/gbdt/metrics.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
assert m["test"]["accuracy"] >= 0.95, m["test"]["accuracy"]
h = m["history"]
assert len(h["round"]) == 60 and len(h["valid_logloss"]) == 60
assert h["train_logloss"][-1] < h["train_logloss"][0]
assert abs(sum(m["feature_importances"].values()) - 1) < 1e-9
i = m["model_info"]  # no early stopping: every round kept, one tree per class and round
assert i["rounds_run"] == 60 and i["n_trees"] == 60 * 3 and i["trees_per_round"] == 3, i
PY
check_run "gbdt metrics agree with predictions.csv" runs/gbdt
check "gbdt learning-curve figure holds the history" python3 - runs/gbdt <<'PY'
import json, sys
d = sys.argv[1]; h = json.load(open(f"{d}/metrics.json"))["history"]
dat = [l.split() for l in open(f"{d}/plots/learning_curve.dat") if not l.startswith("#") and l.strip()]
assert [int(x[0]) for x in dat] == h["round"] == list(range(1, 61)), dat[:3]
assert all(abs(float(x[1]) - a) < 1e-8 and abs(float(x[2]) - b) < 1e-8
           for x, a, b in zip(dat, h["train_logloss"], h["valid_logloss"]))
PY
ok "gbdt predict" "$ASTROTRAIN" predict --model runs/gbdt/model.h5 --input "$SAMPLE" --output g.csv --quiet
check "gbdt predict reproduces predictions.csv" same_predictions runs/gbdt/predictions.csv g.csv
ok "gbdt on 1 thread" "$ASTROTRAIN" --config "$ROOT/configs/gbdt.ini" $common --set model.n_rounds=60 --set run.name=gbdt1 --threads 1
check "gbdt: 1 and 2 threads give the same model" cmp runs/gbdt/predictions.csv runs/gbdt1/predictions.csv
ok "gbdt with early stopping" "$ASTROTRAIN" --config "$ROOT/configs/gbdt.ini" $common --set run.name=es \
    --set model.n_rounds=2000 --set model.learning_rate=0.3 --set model.early_stopping_rounds=5
# best_round is the (1-based) round of the smallest validation loss, the fit ran exactly
# early_stopping_rounds = 5 past it, and the model keeps the best round's 3 trees per round.
check "early stopping stopped early and kept the best round" python3 -c "
import json; m = json.load(open('runs/es/metrics.json')); i = m['model_info']; v = m['history']['valid_logloss']
assert i['rounds_run'] < 2000 and len(v) == i['rounds_run'] == i['best_round'] + 5, i
assert i['best_round'] == 1 + v.index(min(v)) and i['best_valid_logloss'] == min(v), (i, v)
assert i['n_trees'] == 3 * i['best_round'], i"

ok "mlp run" "$ASTROTRAIN" --config "$ROOT/configs/mlp.ini" $common --threads 2
check "mlp accuracy and history" python3 - runs/mlp/metrics.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
assert m["test"]["accuracy"] >= 0.93, m["test"]["accuracy"]
h = m["history"]
assert len(h["epoch"]) == 50 and h["train_loss"][-1] < h["train_loss"][0]
PY
check_run "mlp metrics agree with predictions.csv" runs/mlp
check "mlp learning-curve figures" test -s runs/mlp/plots/learning_curve.gp -a -s runs/mlp/plots/learning_curve_accuracy.gp
ok "mlp predict" "$ASTROTRAIN" predict --model runs/mlp/model.h5 --input "$SAMPLE" --output m.csv --quiet
check "mlp predict reproduces predictions.csv" same_predictions runs/mlp/predictions.csv m.csv
ok "mlp again, same seed and threads" "$ASTROTRAIN" --config "$ROOT/configs/mlp.ini" $common --set run.name=mlp2 --threads 2
check "mlp: same seed, same weights" cmp runs/mlp/predictions.csv runs/mlp2/predictions.csv

cat > ens.ini <<INI
[model]
type = ensemble
n_trials = 300
[member.rf]
type = random_forest
n_trees = 40
[member.gb]
type = gradient_boosting
n_rounds = 60
[member.nn]
type = mlp
epochs = 15
INI
ok "ensemble of three section members" "$ASTROTRAIN" --config ens.ini $common --set run.name=ens
check "members have their own run directories" test -s runs/ens/members/rf/metrics.json -a -s runs/ens/members/nn/model.h5
check "blend is at least as good as its best member on validation" python3 - runs/ens/metrics.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); i = m["model_info"]
w = list(i["weights"].values())
assert abs(sum(w) - 1) < 1e-9 and min(w) >= 0
assert i["blend_validation_score"] >= max(i["member_validation_score"].values())
assert i["trials"] == 303
assert abs(m["validation"]["accuracy"] - i["blend_validation_score"]) < 1e-12
assert sorted(i["weights"]) == ["gb", "nn", "rf"], i["weights"]
PY
check_run "ensemble metrics agree with predictions.csv" runs/ens
check_run "member rf metrics agree with its predictions.csv" runs/ens/members/rf
# one point per trial for each of the 3 members' weights; the best point is the blend's score
check "ensemble figure holds every trial" python3 - runs/ens <<'PY'
import json, shlex, sys
d = sys.argv[1]; i = json.load(open(f"{d}/metrics.json"))["model_info"]
pts = [shlex.split(l) for l in open(f"{d}/plots/ensemble_trials.dat") if not l.startswith("#") and l.strip()]
for g in range(3): assert sum(1 for p in pts if p[2] == str(g)) == i["trials"] == 303, g
assert abs(max(float(p[1]) for p in pts) - i["blend_validation_score"]) < 1e-9
PY
ok "ensemble predict from its one file" "$ASTROTRAIN" predict --model runs/ens/model.h5 --input "$SAMPLE" --output e.csv --quiet
check "ensemble predict reproduces predictions.csv" same_predictions runs/ens/predictions.csv e.csv
printf '[model]\ntype = ensemble\nmembers = %s, %s\n' "$TMP/runs/gbdt/model.h5" "$TMP/runs/mlp/model.h5" > files.ini
ok "ensemble of saved model files" "$ASTROTRAIN" --config files.ini $common --set run.name=files
check "saved members are named after their runs" python3 -c "
import json; m = json.load(open('runs/files/metrics.json')); assert sorted(m['model_info']['weights']) == ['gbdt', 'mlp']"
printf '[model]\ntype = ensemble\nmembers = nowhere.h5\n' > bad.ini
fails "missing member file" 3 "ensemble member 'nowhere.h5' is neither a model file nor a trained run" "$ASTROTRAIN" --config bad.ini $common --set run.name=bad
fails "ensemble without a validation part" 3 "validation > 0" "$ASTROTRAIN" --config ens.ini $common --set run.name=noval \
    --set split.validation=0 --set split.test=0.3
fails "boosting estimates its memory before fitting" 7 "training gradient_boosting on" "$ASTROTRAIN" --config "$ROOT/configs/gbdt.ini" $common \
    --set run.name=memg --set run.memory_limit_mb=5
fails "the MLP estimates its memory before fitting" 7 "training mlp on" "$ASTROTRAIN" --config "$ROOT/configs/mlp.ini" $common \
    --set run.name=memm --set run.memory_limit_mb=3 --set model.batch_size=65536 --set model.hidden=4096
done_tests
