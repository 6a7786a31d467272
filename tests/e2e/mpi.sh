#!/usr/bin/env bash
# End to end under Open MPI (issue 15), on loopback: the same split and the same boosting model
# and predictions (bit for bit) for 1, 2 and 3 ranks as one process without mpirun; plain CSV
# read in byte ranges and gzip read whole; a rank killed mid-training stops the job with an
# error and no hang; families that do not train across ranks yet say so. Skips when mpirun is
# absent, and under the sanitizers (Open MPI's own allocations trip LeakSanitizer).
source "$(dirname "$0")/lib.sh"
if ! command -v mpirun >/dev/null; then
    skip "mpi" "mpirun not on PATH (Debian: openmpi-bin)"
    done_tests; exit
fi
if [ "${SANITIZE:-0}" = 1 ] || [ "${VALGRIND:-0}" = 1 ]; then
    skip "mpi" "Open MPI's own allocations are reported by the sanitizers/valgrind; run without SANITIZE"
    done_tests; exit
fi
MPIRUN=(timeout 60 mpirun --allow-run-as-root --oversubscribe --bind-to none)
cd "$TMP"
zcat "$SAMPLE" | head -n 4001 > small.csv
cat > g.ini <<INI
[run]
name = g
seed = 7
output_dir = $TMP/runs
[data]
path = $TMP/small.csv
[normalise]
method = standard
[split]
train = 0.7
validation = 0.15
test = 0.15
[model]
type = gradient_boosting
n_rounds = 25
max_depth = 4
early_stopping_rounds = 5
[plots]
enabled = false
INI
ok "boosting, one process without mpirun" "$ASTROTRAIN" --config g.ini --quiet --set run.name=g0
ok "boosting, mpirun -np 1" "${MPIRUN[@]}" -np 1 "$ASTROTRAIN" --config g.ini --quiet --set run.name=g1
for np in 2 3; do
    ok "boosting, mpirun -np $np" "${MPIRUN[@]}" -np $np "$ASTROTRAIN" --config g.ini --quiet --set run.name=g$np
done
for np in 1 2 3; do
    check "split.csv of -np $np is the single process's" cmp runs/g0/split.csv runs/g$np/split.csv
    check "predictions.csv of -np $np is the single process's (bit for bit)" cmp runs/g0/predictions.csv runs/g$np/predictions.csv
    # Every array but the training-loss curve, which is summed across ranks in double.
    for ds in base_score best_round bins/edges bins/n_bins nodes/default_left nodes/feature nodes/gain nodes/left \
              nodes/right nodes/threshold nodes/value rounds_run tree_offsets trees_per_round; do
        h5dump -m %.17g -d /model/$ds runs/g0/model.h5 | tail -n +2 > a.dump
        h5dump -m %.17g -d /model/$ds runs/g$np/model.h5 | tail -n +2 > b.dump
        cmp -s a.dump b.dump || echo "$ds" >> diff$np.txt
    done
    check "model arrays of -np $np are the single process's (trees, bins, base scores)" test ! -s diff$np.txt
    check "history of -np $np: validation columns exact, training loss to 1e-12" python3 - runs/g0/metrics.json runs/g$np/metrics.json <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["history"]; b = json.load(open(sys.argv[2]))["history"]
assert a["valid_logloss"] == b["valid_logloss"] and a["valid_accuracy"] == b["valid_accuracy"]
for x, y in zip(a["train_logloss"] + a["train_accuracy"], b["train_logloss"] + b["train_accuracy"]):
    assert abs(x - y) <= 1e-12, (x, y)
PY
done
check "metrics.json records ranks, rows per rank and communication" python3 - runs/g3/metrics.json runs/g0/metrics.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2]))
d = m["distributed"]
assert d["ranks"] == 3, d
assert len(d["train_rows_per_rank"]) == 3 and sum(d["train_rows_per_rank"]) == m["data"]["train"], d
assert min(d["train_rows_per_rank"]) > 0, d
assert d["bytes_communicated"] > 0 and d["collectives"] > 0 and d["seconds_communicating"] >= 0, d
assert "distributed" not in s
for k in ("rows_read", "rows_after_undersampling", "train", "validation", "test", "class_counts_after"):
    assert m["data"][k] == s["data"][k], (k, m["data"][k], s["data"][k])
assert m["data"]["rows_read"] == 4000
PY
check "only rank 0 wrote: no stray files, other ranks' log lines carry their rank" bash -c \
    "${MPIRUN[*]} -np 2 '$ASTROTRAIN' --config g.ini --set run.name=g2log --force 2>err.txt >/dev/null && grep -q '^\[rank 1\] loading' err.txt && ! grep -q '^\[rank 0\]' err.txt && test \$(ls runs | wc -l) -eq 5"
# gzip: every rank reads the whole file and keeps its share; same split as one process.
gzip -c small.csv > small.csv.gz
ok "boosting from gzip, -np 2" "${MPIRUN[@]}" -np 2 "$ASTROTRAIN" --config g.ini --quiet --set run.name=gz \
    --set data.path="$TMP/small.csv.gz"
check "gzip input: the same split and predictions" bash -c "cmp runs/g0/split.csv runs/gz/split.csv && cmp runs/g0/predictions.csv runs/gz/predictions.csv"
# Byte ranges with comment lines and CRLF line ends: the same rows as one process.
{ echo "# a comment"; head -n 1 small.csv; tail -n +2 small.csv | awk 'NR % 500 == 0 { print "# note" } { print }'; } \
    | sed 's/$/\r/' > crlf.csv
ok "CRLF with comments, one process" "$ASTROTRAIN" --config g.ini --quiet --set run.name=c0 --set data.path="$TMP/crlf.csv" --set data.comments=true
ok "CRLF with comments, -np 3" "${MPIRUN[@]}" -np 3 "$ASTROTRAIN" --config g.ini --quiet --set run.name=c3 \
    --set data.path="$TMP/crlf.csv" --set data.comments=true
check "CRLF with comments: same split and predictions across 3 ranks" bash -c "cmp runs/c0/split.csv runs/c3/split.csv && cmp runs/c0/predictions.csv runs/c3/predictions.csv"
# The forest by trees: every rank gathers the training part and grows a block of the trees;
# the same forest (out-of-bag accuracy included) as one process.
sed -e 's/gradient_boosting/random_forest/' -e '/^n_rounds/d' -e '/^max_depth/d' -e '/^early/d' -e 's/^name = g/name = rf/' g.ini > rf.ini
sed -i 's/^type = random_forest/&\nn_trees = 24/' rf.ini
ok "forest, one process" "$ASTROTRAIN" --config rf.ini --quiet --set run.name=rf0
for np in 2 3; do
    ok "forest, mpirun -np $np" "${MPIRUN[@]}" -np $np "$ASTROTRAIN" --config rf.ini --quiet --set run.name=rf$np
    check "forest -np $np: predictions and model arrays are the single process's" bash -c \
        "cmp runs/rf0/predictions.csv runs/rf$np/predictions.csv && diff <(h5dump -m %.17g -g /model runs/rf0/model.h5 | tail -n +2) <(h5dump -m %.17g -g /model runs/rf$np/model.h5 | tail -n +2)"
    check "forest -np $np: the same out-of-bag accuracy and importances" python3 -c "
import json; a = json.load(open('runs/rf0/metrics.json')); b = json.load(open('runs/rf$np/metrics.json'))
assert a['model_info']['oob_accuracy'] == b['model_info']['oob_accuracy'], (a['model_info'], b['model_info'])
assert a['feature_importances'] == b['feature_importances'], (a['feature_importances'], b['feature_importances'])"
done
# Distributed predict: each rank streams its share; one file in input order, equal to one
# process's; gzip read by every rank; --output-parts leaves one file per rank.
zcat "$SAMPLE" > big.csv
ok "predict, one process" "$ASTROTRAIN" predict --model runs/g0/model.h5 --input big.csv --output p0.csv --quiet
for np in 2 3; do
    ok "predict, -np $np" "${MPIRUN[@]}" -np $np "$ASTROTRAIN" predict --model runs/g0/model.h5 --input big.csv --output p$np.csv --quiet
    check "predict -np $np: the single process's file" cmp p0.csv p$np.csv
done
ok "predict gzip, -np 3" "${MPIRUN[@]}" -np 3 "$ASTROTRAIN" predict --model runs/g0/model.h5 --input "$SAMPLE" --output pgz.csv --quiet
check "predict gzip -np 3: the single process's file" cmp p0.csv pgz.csv
check "predict -np 3: the totals are the whole input's" bash -c \
    "${MPIRUN[*]} -np 3 '$ASTROTRAIN' predict --model runs/g0/model.h5 --input big.csv --output pt.csv 2>&1 | grep -q '^predicted 9999 of 10000 rows (1 skipped'"
ok "predict --output-parts, -np 3" "${MPIRUN[@]}" -np 3 "$ASTROTRAIN" predict --model runs/g0/model.h5 --input big.csv --output parts.csv --output-parts --quiet
check "--output-parts: three parts that join to the single process's file, no joined file" bash -c \
    "test ! -e parts.csv && (cat parts.csv.part0000; tail -n +2 parts.csv.part0001; tail -n +2 parts.csv.part0002) | cmp - p0.csv"
check "no part files left by a joined predict" bash -c "! ls | grep -q 'tmp.part'"
fails "predict -np 2: a missing input is one error" 5 "nothere.csv" \
    "${MPIRUN[@]}" -np 2 "$ASTROTRAIN" predict --model runs/g0/model.h5 --input nothere.csv --output x.csv --quiet
# PCA: the mean and covariance sums summed across ranks; the same components within rounding.
cat > pca.ini <<INI
[run]
name = pca
seed = 7
output_dir = $TMP/runs
[data]
path = $TMP/small.csv
[normalise]
method = standard
[model]
type = pca
n_components = 3
[plots]
enabled = false
INI
ok "pca, one process" "$ASTROTRAIN" --config pca.ini --quiet --set run.name=pca0
ok "pca, -np 3" "${MPIRUN[@]}" -np 3 "$ASTROTRAIN" --config pca.ini --quiet --set run.name=pca3
check "pca -np 3: the same explained variance (1e-12) and coordinates (1e-9) as one process" python3 - <<'PY'
import csv, json
a = json.load(open("runs/pca0/metrics.json"))["model_info"]; b = json.load(open("runs/pca3/metrics.json"))["model_info"]
for x, y in zip(a["explained_variance"], b["explained_variance"]):
    assert abs(x - y) <= 1e-12 * abs(x), (x, y)
A = list(csv.reader(open("runs/pca0/transformed.csv"))); B = list(csv.reader(open("runs/pca3/transformed.csv")))
assert A[0] == B[0] and len(A) == len(B) > 100, (len(A), len(B))
for r, s in zip(A[1:], B[1:]):
    assert r[:2] == s[:2], (r, s)
    for x, y in zip(r[2:], s[2:]):
        assert abs(float(x) - float(y)) <= 1e-9 * max(1.0, abs(float(x))), (r, s)
PY
# The MLP: data-parallel SGD, one gradient allreduce per step. The same model for the same
# ranks x threads; within seed noise of one process.
sed -e 's/gradient_boosting/mlp/' -e '/^n_rounds/d' -e '/^max_depth/d' -e '/^early/d' -e 's/^name = g/name = mlp/' g.ini > mlp.ini
sed -i 's/^type = mlp/&\nepochs = 15/' mlp.ini
ok "mlp, one process" "$ASTROTRAIN" --config mlp.ini --quiet --set run.name=mlp0 --threads 1
ok "mlp, -np 2" "${MPIRUN[@]}" -np 2 "$ASTROTRAIN" --config mlp.ini --quiet --set run.name=mlp2 --threads 1
ok "mlp, -np 2 again" "${MPIRUN[@]}" -np 2 "$ASTROTRAIN" --config mlp.ini --quiet --set run.name=mlp2b --threads 1
check "mlp -np 2: the same model for the same ranks x threads" cmp runs/mlp2/predictions.csv runs/mlp2b/predictions.csv
check "mlp -np 2: test accuracy within 0.03 of one process's" python3 -c "
import json; a = json.load(open('runs/mlp0/metrics.json'))['test']['accuracy']; b = json.load(open('runs/mlp2/metrics.json'))['test']['accuracy']
assert abs(a - b) <= 0.03 and b > 0.85, (a, b)"
# The ensemble: members trained across ranks (forest by trees, boosting by rows), the weight
# search on the validation part, which every rank holds whole: the single process's blend.
cat > ens.ini <<INI
[run]
name = ens
seed = 7
output_dir = $TMP/runs
[data]
path = $TMP/small.csv
[normalise]
method = standard
[model]
type = ensemble
n_trials = 200
[member.rf]
type = random_forest
n_trees = 16
[member.gb]
type = gradient_boosting
n_rounds = 10
max_depth = 3
[plots]
enabled = false
INI
ok "ensemble, one process" "$ASTROTRAIN" --config ens.ini --quiet --set run.name=ens0
ok "ensemble, -np 3" "${MPIRUN[@]}" -np 3 "$ASTROTRAIN" --config ens.ini --quiet --set run.name=ens3
check "ensemble -np 3: the same weights, members and predictions as one process" bash -c \
    "cmp runs/ens0/predictions.csv runs/ens3/predictions.csv && cmp runs/ens0/members/rf/predictions.csv runs/ens3/members/rf/predictions.csv && cmp runs/ens0/members/gb/predictions.csv runs/ens3/members/gb/predictions.csv && python3 -c \"import json; a = json.load(open('runs/ens0/metrics.json'))['model_info']; b = json.load(open('runs/ens3/metrics.json'))['model_info']; assert a['weights'] == b['weights'], (a, b)\""
fails "experiment under mpirun -np 2: a missing study file is one clear error" 5 "nothere.ini" \
    "${MPIRUN[@]}" -np 2 "$ASTROTRAIN" experiment nothere.ini
ok "transform, one process" "$ASTROTRAIN" transform --model runs/pca0/model.h5 --input big.csv --output t0.csv
ok "transform, -np 3" "${MPIRUN[@]}" -np 3 "$ASTROTRAIN" transform --model runs/pca0/model.h5 --input big.csv --output t3.csv
check "transform -np 3: the single process's file" cmp t0.csv t3.csv
# The GMM (mpi2): the sufficient statistics of every E- and M-step and of every Lloyd round summed
# across ranks; within rounding of one process (the same seeds: fewer than 65536 training rows).
sed -e 's/gradient_boosting/gmm/' -e '/^n_rounds/d' -e '/^max_depth/d' -e '/^early/d' -e 's/^name = g/name = gmm/' g.ini > gmm.ini
ok "gmm, one process" "$ASTROTRAIN" --config gmm.ini --quiet --set run.name=gmm0 --set model.components=2..4
for np in 2 3; do
    ok "gmm, -np $np" "${MPIRUN[@]}" -np $np "$ASTROTRAIN" --config gmm.ini --quiet --set run.name=gmm$np --set model.components=2..4
    check "gmm -np $np: components chosen, weights, means, likelihood and BIC within 1e-9 of one process's; the same test scores" python3 - gmm$np <<'PY'
import json, sys
a = json.load(open("runs/gmm0/metrics.json")); b = json.load(open("runs/%s/metrics.json" % sys.argv[1]))
ia, ib = a["model_info"], b["model_info"]
def close(x, y, path=""):
    if isinstance(x, dict):
        assert set(x) == set(y), path
        for key in x: close(x[key], y[key], path + "." + key)
    elif isinstance(x, list):
        assert len(x) == len(y), path
        for i, (u, v) in enumerate(zip(x, y)): close(u, v, "%s[%d]" % (path, i))
    elif isinstance(x, float):
        assert abs(x - y) <= 1e-9 * max(1.0, abs(x)), (path, x, y)
    else:
        assert x == y, (path, x, y)
close(ia, ib)
assert ia["n_components"] >= 2 and ia["n_iter"] >= 2, ia
assert a["test"]["accuracy"] == b["test"]["accuracy"] and a["test"]["confusion"] == b["test"]["confusion"], (a["test"], b["test"])
assert b["distributed"]["ranks"] == int(sys.argv[1][3:])
PY
done
# A bad shard on one rank (a cell that is not a number in the second half): one error, no hang.
awk -F, 'NR == 3500 { $4 = "oops" } { print }' OFS=, small.csv > bad.csv
fails "a bad cell on rank 1 stops all ranks with one error" 4 "rank 1: " \
    timeout 30 mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 "$ASTROTRAIN" --config g.ini --quiet --set run.name=bad --set data.path="$TMP/bad.csv" --set data.missing=error
cat > long.ini <<INI
[run]
name = long
output_dir = $TMP/runs
[data]
path = $TMP/small.csv
[model]
type = gradient_boosting
n_rounds = 100000
max_depth = 3
[plots]
enabled = false
INI
# SIGINT to mpirun: every rank stops at the same round with the one "interrupted" error.
timeout 60 mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 "$ASTROTRAIN" --config long.ini \
    --set run.name=sigint > sigint.out 2>&1 &
MPIPID=$!
at_track_pid "$MPIPID"
for _ in $(seq 1 600); do grep -q "fit gradient_boosting" sigint.out 2>/dev/null && break; sleep 0.1; done
sleep 2   # a fit well under way
kill -INT $MPIPID
wait $MPIPID; rc=$?
check "SIGINT to mpirun: stopped (rc $rc), not by the timeout" test "$rc" -ne 0 -a "$rc" -ne 124
check "SIGINT to mpirun: no model written" test ! -e runs/sigint/model.h5
# Known gap (issue 15, open): mpirun sometimes ends the ranks before rank 0's agreed message and
# log.txt are out; that case is reported as a skip, never as a pass.
if grep -Eq '^astrotrain: rank 0: (gradient boosting interrupted at round|stopped after)' sigint.out; then
    check "SIGINT to mpirun: one agreed 'interrupted' error on rank 0, log.txt kept" bash -c \
        "test \$(grep -c '^astrotrain: ' sigint.out) -eq 1 && test -s runs/sigint/log.txt"
else
    skip "SIGINT to mpirun: the agreed message" "mpirun ended the ranks before rank 0 said it (known gap, issue 15)"
fi
# A rank killed mid-training: mpirun stops the others; no hang (timeout would say 124).
cp long.ini kill.ini   # its own name, so no process of the SIGINT job can be taken for a rank of this one
timeout 60 mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 "$ASTROTRAIN" --config kill.ini --quiet \
    > kill.out 2>&1 &
MPIPID=$!
at_track_pid "$MPIPID"
victim=""
for _ in $(seq 1 100); do
    for e in /proc/[0-9]*/environ; do   # rank 1 of this job (no pgrep: procps may be absent)
        p=${e#/proc/}; p=${p%/environ}
        { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null | grep -q "config kill.ini" || continue
        if { tr '\0' '\n' < "$e"; } 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then victim=$p; fi
    done
    [ -n "$victim" ] && grep -q "fitting" runs/long/log.txt.tmp.* 2>/dev/null && break
    sleep 0.1
done
sleep 1
check "killed rank: rank 1 found mid-training" test -n "$victim"
[ -n "$victim" ] && kill -9 "$victim"
wait $MPIPID; rc=$?
check "killed rank: the job ends with an error, not a hang (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "killed rank: no model written" test ! -e runs/long/model.h5
# ---- mpi2: the forest by rows ([run] distribute = rows) ----
# Each rank keeps only its share of the training rows; histograms of integer counts summed across
# ranks, small nodes gathered in global order, the bootstrap from the global row index: the same
# model file and predictions for one process (distribute = rows) and 1, 2, 3 ranks, with balanced
# class weights and entropy (non-integer weights) and a node count where both paths run.
sed -e 's/^name = rf/name = rr/' -e 's/^\[run\]/&\ndistribute = rows/' rf.ini > rr.ini
sed -i 's/^n_trees = 24/n_trees = 12\nclass_weight = balanced\ncriterion = entropy/' rr.ini
ok "forest by rows, one process" "$ASTROTRAIN" --config rr.ini --quiet --set run.name=rr0
for np in 1 2 3; do
    ok "forest by rows, mpirun -np $np" "${MPIRUN[@]}" -np $np "$ASTROTRAIN" --config rr.ini --quiet --set run.name=rr$np
    check "forest by rows -np $np: predictions and model arrays are the single process's (bit for bit)" bash -c \
        "cmp runs/rr0/predictions.csv runs/rr$np/predictions.csv && diff <(h5dump -m %.17g -g /model runs/rr0/model.h5 | tail -n +2) <(h5dump -m %.17g -g /model runs/rr$np/model.h5 | tail -n +2)"
    check "forest by rows -np $np: the same out-of-bag accuracy and importances" python3 -c "
import json; a = json.load(open('runs/rr0/metrics.json')); b = json.load(open('runs/rr$np/metrics.json'))
assert a['model_info']['oob_accuracy'] == b['model_info']['oob_accuracy'], (a['model_info'], b['model_info'])
assert a['feature_importances'] == b['feature_importances'], (a['feature_importances'], b['feature_importances'])"
done
check "forest by rows -np 3: no rank held half the training rows; its own forest, as accurate as the plain one" python3 - <<'PY'
import json
m = json.load(open("runs/rr3/metrics.json")); d = m["distributed"]
n = m["data"]["train"]
assert len(d["train_rows_per_rank"]) == 3 and sum(d["train_rows_per_rank"]) == n, d
assert max(d["train_rows_per_rank"]) < n // 2, d
plain = json.load(open("runs/rf0/metrics.json"))
assert m["model_info"]["total_nodes"] != plain["model_info"]["total_nodes"] or m["feature_importances"] != plain["feature_importances"]
assert abs(m["test"]["accuracy"] - plain["test"]["accuracy"]) <= 0.03 and m["test"]["accuracy"] > 0.9, (m["test"]["accuracy"], plain["test"]["accuracy"])
assert 0.85 < m["model_info"]["oob_accuracy"] <= 1, m["model_info"]
PY
ok "forest by rows, -np 2 without bootstrap, depth 6, 2 threads a rank" "${MPIRUN[@]}" -np 2 "$ASTROTRAIN" --config rr.ini --quiet \
    --set run.name=rrb2 --set model.bootstrap=false --set model.max_depth=6 --set model.max_features=all --threads 2
ok "forest by rows, one process, the same" "$ASTROTRAIN" --config rr.ini --quiet --set run.name=rrb0 --set model.bootstrap=false \
    --set model.max_depth=6 --set model.max_features=all --threads 1
check "forest by rows without bootstrap: -np 2 x 2 threads = one process x 1 thread" bash -c \
    "cmp runs/rrb0/predictions.csv runs/rrb2/predictions.csv && diff <(h5dump -m %.17g -g /model runs/rrb0/model.h5 | tail -n +2) <(h5dump -m %.17g -g /model runs/rrb2/model.h5 | tail -n +2)"
fails "distribute = something else is a clear config error" 3 "distribute: 'cols' is not one of trees/rows" "$ASTROTRAIN" --config rr.ini --quiet --set run.distribute=cols
# ---- mpi2: the [pca] preprocessing stage across ranks ----
# The mean and cross-product sums of the training rows summed across ranks: the stage's
# components equal one process's within rounding, and the model trained on them as accurate.
sed -e 's/^name = g/name = ps/' -e 's/^\[model\]/[pca]\ncomponents = 4\n&/' g.ini > ps.ini
ok "[pca] stage + boosting, one process" "$ASTROTRAIN" --config ps.ini --quiet --set run.name=ps0
ok "[pca] stage + boosting, -np 3" "${MPIRUN[@]}" -np 3 "$ASTROTRAIN" --config ps.ini --quiet --set run.name=ps3
check "[pca] stage -np 3: mean, components and explained variance within 1e-9 of one process's; accuracy within 0.01" python3 - <<'PY'
import json, re, subprocess
def arr(run, ds):
    out = subprocess.run(["h5dump", "-m", "%.17g", "-d", "/preprocess/pca/" + ds, "runs/%s/model.h5" % run],
                         capture_output=True, text=True, check=True).stdout
    body = out[out.index("DATA {"):]
    return [float(x) for x in re.findall(r"-?\d+\.?\d*(?:[eE][-+]?\d+)?", re.sub(r"\(\d+(,\d+)*\):", "", body))]
for ds in ("mean", "components", "explained_variance"):
    a, b = arr("ps0", ds), arr("ps3", ds)
    assert len(a) == len(b) > 3, (ds, a, b)
    for x, y in zip(a, b):
        assert abs(x - y) <= 1e-9 * max(1.0, abs(x)), (ds, x, y)
m0 = json.load(open("runs/ps0/metrics.json")); m3 = json.load(open("runs/ps3/metrics.json"))
assert abs(m0["test"]["accuracy"] - m3["test"]["accuracy"]) <= 0.01 and m3["test"]["accuracy"] > 0.85, (m0["test"], m3["test"])
assert m3["distributed"]["ranks"] == 3
PY
# ---- mpi2: `astrotrain experiment` (studies) under mpirun ----
# Every step trains across the ranks (the forest, boosting, then an ensemble of the two found by
# name); rank 0 writes the study directory, the steps' run directories and the report.
mkdir -p study && cat > study/data.ini <<INI
[run]
seed = 7
[data]
path = $TMP/small.csv
[normalise]
method = standard
[plots]
enabled = false
INI
printf '[model]\ntype = random_forest\nn_trees = 12\n' > study/rf.ini
printf '[model]\ntype = gradient_boosting\nn_rounds = 15\nmax_depth = 3\n' > study/gb.ini
printf '[model]\ntype = ensemble\nmembers = rf, gb\nn_trials = 50\n' > study/ens.ini
printf '[model]\ntype = random_forest\nn_trees = 4\n[pca]\ncomponents = 3\n' > study/rfpca.ini
for n in 0 2; do
    printf '[experiment]\nname = st%s\ntitle = tiny\noutput_dir = %s\ndata = data.ini\nsteps = rf.ini, gb.ini, ens.ini\n' $n "$TMP/sruns" > study/s$n.ini
done
ok "study, one process" "$ASTROTRAIN" experiment study/s0.ini --quiet
ok "study, mpirun -np 2" "${MPIRUN[@]}" -np 2 "$ASTROTRAIN" experiment study/s2.ini --quiet
for st in rf gb ens; do
    check "study -np 2: step $st's predictions and split are the single process's" bash -c \
        "cmp sruns/st0/$st/predictions.csv sruns/st2/$st/predictions.csv && cmp sruns/st0/$st/split.csv sruns/st2/$st/split.csv"
done
check "study -np 2: the report (rank 0) names the global split and the same scores" python3 - <<'PY'
import json, re
a = open("sruns/st0/report.md").read(); b = open("sruns/st2/report.md").read()
split = lambda t: re.search(r"stratified split (\d+) train / (\d+) validation / (\d+) test", t).groups()
assert split(a) == split(b), (split(a), split(b))
rows = lambda t: [l.split("|")[1:5] for l in t.splitlines() if re.match(r"\| (rf|gb|ens) \|", l)]
assert rows(a) == rows(b) and len(rows(a)) >= 3, (rows(a), rows(b))
m = json.load(open("sruns/st2/rf/metrics.json"))
assert m["distributed"]["ranks"] == 2 and sum(m["distributed"]["train_rows_per_rank"]) == int(split(b)[0])
PY
check "study -np 2: nothing but the study directory written" bash -c "test \$(ls sruns | wc -l) -eq 2 && test -s sruns/st2/report.html"
printf '[experiment]\nname = stp\ntitle = tiny\noutput_dir = %s\ndata = data.ini\nsteps = rfpca.ini\n' "$TMP/sruns" > study/sp.ini
fails "study -np 2: a step's [pca] stage is refused clearly" 3 "a step's [pca] stage does not run across MPI ranks yet" \
    "${MPIRUN[@]}" -np 2 "$ASTROTRAIN" experiment study/sp.ini --quiet
# ---- mpi2: FITS tables across ranks (row ranges read with CFITSIO) ----
# Rank r reads rows [N r / P, N (r + 1) / P) of the table: the same split, model and predictions
# as one process (and as the same rows in CSV).
FITSPY=$(astropy_python)
if [ -z "$FITSPY" ]; then
    for n in "FITS training across ranks" "FITS predict across ranks"; do skip "$n" "no python3 with astropy"; done
else
    "$FITSPY" -c "
from astropy.table import Table
Table.read('small.csv', format='ascii.csv').write('small.fits', overwrite=True)"
    ok "forest from FITS, one process" "$ASTROTRAIN" --config rf.ini --quiet --set run.name=fits0 --set data.path="$TMP/small.fits"
    for np in 2 3; do
        ok "forest from FITS, -np $np" "${MPIRUN[@]}" -np $np "$ASTROTRAIN" --config rf.ini --quiet --set run.name=fits$np --set data.path="$TMP/small.fits"
        check "FITS -np $np: split, predictions and model are the single process's and the CSV run's" bash -c \
            "cmp runs/fits0/split.csv runs/fits$np/split.csv && cmp runs/fits0/predictions.csv runs/fits$np/predictions.csv && cmp runs/rf0/predictions.csv runs/fits$np/predictions.csv && diff <(h5dump -m %.17g -g /model runs/fits0/model.h5 | tail -n +2) <(h5dump -m %.17g -g /model runs/fits$np/model.h5 | tail -n +2) >/dev/null"
        check "FITS -np $np: each rank read its own rows" python3 -c "
import json; d = json.load(open('runs/fits$np/metrics.json'))['distributed']
assert len(d['train_rows_per_rank']) == $np and max(d['train_rows_per_rank']) < sum(d['train_rows_per_rank']) * 0.6, d"
    done
    ok "predict FITS, one process" "$ASTROTRAIN" predict --model runs/rf0/model.h5 --input small.fits --output pf0.csv --quiet
    ok "predict CSV, one process" "$ASTROTRAIN" predict --model runs/rf0/model.h5 --input small.csv --output pc0.csv --quiet
    check "predict: the FITS table gives the CSV's file" cmp pf0.csv pc0.csv
    for np in 2 3; do
        ok "predict FITS, -np $np" "${MPIRUN[@]}" -np $np "$ASTROTRAIN" predict --model runs/rf0/model.h5 --input small.fits --output pf$np.csv --quiet
        check "predict FITS -np $np: the single process's file" cmp pf0.csv pf$np.csv
    done
    ok "predict FITS --output-parts, -np 3" "${MPIRUN[@]}" -np 3 "$ASTROTRAIN" predict --model runs/rf0/model.h5 --input small.fits --output fparts.csv --output-parts --quiet
    check "predict FITS --output-parts: three parts that join to the single process's file" bash -c \
        "(cat fparts.csv.part0000; tail -n +2 fparts.csv.part0001; tail -n +2 fparts.csv.part0002) | cmp - pf0.csv"
fi
done_tests
