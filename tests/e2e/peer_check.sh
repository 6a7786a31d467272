#!/usr/bin/env bash
# End to end, against a peer: small random forest, boosting and MLP runs on the 10k SDSS17
# sample (and the forest behind a PCA stage), each checked with python3 + scikit-learn/numpy/h5py
# from its own outputs and the input file alone:
#   - metrics.json's test figures (accuracy, macro-F1, per-class precision/recall/F1/support,
#     the confusion matrix, log-loss, confident fractions) recomputed from predictions.csv;
#   - predictions.csv: p_<class> columns in metrics.json's sorted class order, rows summing to
#     1, `predicted` = the class of the largest p_ column, `true` = the input file's label of
#     that row, the rows = split.csv's test rows;
#   - split.csv: parts and sizes as in metrics.json; the scaler stored in model.h5 = mean and
#     population standard deviation of the training rows of the input file (and NOT those of
#     all the rows, so the check can tell the two apart);
#   - `astrotrain predict` with the saved model reproducing predictions.csv.
# Without a python3 that has scikit-learn, numpy and h5py every check is skipped with a
# `SKIP` line when lib.sh has `skip`, and fails loudly otherwise. PEER_PYTHON=path chooses the
# interpreter (PEER_PYTHON=/nonexistent shows the skipping).
source "$(dirname "$0")/lib.sh"
cd "$TMP"
common="--quiet --threads 2 --set run.output_dir=$TMP/runs --set data.path=$SAMPLE --set plots.enabled=false"
RUNS="rf gbdt mlp rfpca"
CHECKS="metrics predictions split scaler predict"

# The first python3 that has the peers (a pyenv python3 may shadow Debian's).
PY=
for cand in ${PEER_PYTHON:-python3 /usr/bin/python3}; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sklearn, numpy, h5py' >/dev/null 2>&1; then
        PY=$cand
        break
    fi
done
if [ -z "$PY" ]; then
    why="no python3 with scikit-learn, numpy and h5py (Debian: python3-sklearn python3-h5py)"
    command -v python3 >/dev/null 2>&1 || why="no python3"
    for r in $RUNS; do
        for c in $CHECKS; do
            if declare -F skip >/dev/null; then skip "$r: $c against scikit-learn" "$why"
            else fail "$r: $c against scikit-learn" "$why"; fi
        done
    done
    done_tests
    exit
fi

ok "rf run" "$ASTROTRAIN" --config "$ROOT/configs/rf.ini" $common --set model.n_trees=25
ok "gbdt run" "$ASTROTRAIN" --config "$ROOT/configs/gbdt.ini" $common --set model.n_rounds=30
ok "mlp run" "$ASTROTRAIN" --config "$ROOT/configs/mlp.ini" $common --set model.epochs=15
ok "rf behind a PCA stage run" "$ASTROTRAIN" --config "$ROOT/configs/rf.ini" $common --set model.n_trees=25 \
    --set run.name=rfpca --set pca.components=3
for r in $RUNS; do
    ok "$r predict with the saved model" "$ASTROTRAIN" predict --model "runs/$r/model.h5" --input "$SAMPLE" \
        --output "$r.pred.csv" --quiet
done

cat > peer.py <<'PY'
# argv: input file, then run names (runs/NAME/, NAME.pred.csv). Prints one line per check:
# "PASS<TAB>name" or "FAIL<TAB>name<TAB>why".
import csv, gzip, json, sys, traceback
import numpy as np, h5py
from sklearn import metrics as skm

TOL = 1e-9
src, names = sys.argv[1], sys.argv[2:]
with (gzip.open(src, "rt") if src.endswith(".gz") else open(src)) as f:
    rows = list(csv.reader(f))
header, data = rows[0], rows[1:]   # data[i] is data row i, the index predictions.csv uses

def close(a, b, tol=TOL):
    return abs(float(a) - float(b)) <= tol

def check_metrics(run, m, pred):
    t = m["test"]
    cls = t["classes"]
    yt = [r["true"] for r in pred]
    yp = [r["predicted"] for r in pred]
    assert t["n"] == len(pred), (t["n"], len(pred))
    assert close(t["accuracy"], skm.accuracy_score(yt, yp)), ("accuracy", t["accuracy"], skm.accuracy_score(yt, yp))
    mf1 = skm.f1_score(yt, yp, labels=cls, average="macro", zero_division=0)
    assert close(t["macro_f1"], mf1), ("macro_f1", t["macro_f1"], mf1)
    p, r, f1, sup = skm.precision_recall_fscore_support(yt, yp, labels=cls, zero_division=0)
    for i, c in enumerate(cls):
        pc = t["per_class"][c]
        assert close(pc["precision"], p[i]), (c, "precision", pc["precision"], p[i])
        assert close(pc["recall"], r[i]), (c, "recall", pc["recall"], r[i])
        assert close(pc["f1"], f1[i]), (c, "f1", pc["f1"], f1[i])
        assert pc["support"] == sup[i], (c, "support", pc["support"], sup[i])
    cm = skm.confusion_matrix(yt, yp, labels=cls)   # rows = true, columns = predicted
    assert t["confusion"] == cm.tolist(), ("confusion", t["confusion"], cm.tolist())
    P = np.array([[float(x[f"p_{c}"]) for c in cls] for x in pred])
    ti = np.array([cls.index(c) for c in yt])
    ll = float(np.mean(-np.log(np.clip(P[np.arange(len(ti)), ti], 1e-15, 1.0))))
    # the p_ columns are printed with 9 significant digits
    assert close(t["log_loss"], ll, 1e-7), ("log_loss", t["log_loss"], ll)
    sk_ll = skm.log_loss(yt, np.clip(P, 1e-15, 1.0), labels=cls)
    assert close(t["log_loss"], sk_ll, 1e-6), ("sklearn log_loss", t["log_loss"], sk_ll)
    # confident: correct rows of class c whose p_c > threshold; rows within 1e-8 of the
    # threshold may round either way in the 9-digit text
    thr = t["confident_threshold"]
    for i, c in enumerate(cls):
        ok = np.array([a == c and b == c for a, b in zip(yt, yp)])
        tp = int(ok.sum())
        got = t["per_class"][c]["confident_fraction"]
        if tp == 0:
            assert got is None, (c, got)
            continue
        lo = int((P[ok, i] > thr + 1e-8).sum()) / tp
        hi = int((P[ok, i] > thr - 1e-8).sum()) / tp
        assert lo - 1e-12 <= got <= hi + 1e-12, (c, "confident_fraction", got, lo, hi)

def check_predictions(run, m, pred, fields):
    cls = m["test"]["classes"]
    assert cls == sorted(cls), cls
    assert fields == ["row", "true", "predicted"] + [f"p_{c}" for c in cls], fields
    assert len(pred) > 500, len(pred)
    li = header.index("class")
    for x in pred:
        p = np.array([float(x[f"p_{c}"]) for c in cls])
        assert abs(p.sum() - 1) < 1e-6, (x["row"], p.sum())  # the MLP works in float32
        assert (p >= 0).all(), x
        top = [cls[i] for i in np.flatnonzero(p == p.max())]  # ties in the 9-digit text
        assert x["predicted"] == top[0] or (len(top) > 1 and x["predicted"] in top), (x, top)
        assert data[int(x["row"])][li] == x["true"], (x["row"], data[int(x["row"])][li], x["true"])

def read_split(run):
    parts = {"train": [], "validation": [], "test": []}
    with open(f"runs/{run}/split.csv") as f:
        rd = csv.reader(f)
        assert next(rd) == ["row", "part"]
        for row, part in rd:
            parts[part].append(int(row))
    return parts

def check_split(run, m, pred):
    parts = read_split(run)
    d = m["data"]
    for part in parts:
        assert len(parts[part]) == d[part], (part, len(parts[part]), d[part])
    every = parts["train"] + parts["validation"] + parts["test"]
    assert len(set(every)) == len(every), "a row in two parts"
    assert every and min(every) >= 0 and max(every) < len(data)
    assert set(parts["test"]) == {int(x["row"]) for x in pred}, "test rows differ from predictions.csv"
    assert len(every) == d["rows_after_undersampling"]

def check_scaler(run, m):
    parts = read_split(run)
    feats = m["features"]
    fi = [header.index(c) for c in feats]
    X = np.array([[float(r[j]) for j in fi] for r in data])
    with h5py.File(f"runs/{run}/model.h5", "r") as h:
        kind = int(np.array(h["preprocess/scaler_kind"]).reshape(-1)[0])
        shift = np.array(h["preprocess/scaler_shift"], dtype=float).reshape(-1)
        scale = np.array(h["preprocess/scaler_scale"], dtype=float).reshape(-1)
        names = [v.decode() if isinstance(v, bytes) else str(v) for v in np.array(h["meta/feature_names"]).reshape(-1)]
    assert kind == 1, ("scaler_kind is not standard", kind)
    assert names == feats, (names, feats)
    tr = X[parts["train"]]
    mean, sd = tr.mean(axis=0), tr.std(axis=0, ddof=0)   # population std, as the README says
    assert np.allclose(shift, mean, rtol=1e-10, atol=1e-12), ("shift", shift, mean)
    assert np.allclose(scale, sd, rtol=1e-10, atol=1e-12), ("scale", scale, sd)
    # the test can tell the training rows from all rows, and ddof 0 from ddof 1
    al = X[parts["train"] + parts["validation"] + parts["test"]]
    assert np.max(np.abs(shift - al.mean(axis=0)) / np.abs(al.mean(axis=0))) > 1e-6, "shift = all-rows mean"
    assert np.max(np.abs(scale - al.std(axis=0)) / al.std(axis=0)) > 1e-6, "scale = all-rows std"
    assert np.max(np.abs(scale - tr.std(axis=0, ddof=1)) / scale) > 1e-6, "scale = sample std"

def check_predict(run, pred):
    with open(f"{run}.pred.csv") as f:
        new = {r["row"]: r for r in csv.DictReader(f) if r.pop("status") == "ok"}
    assert len(new) == len(data) - 1, len(new)  # every row but the unphysical one
    for x in pred:
        assert new[x["row"]] == x, (x, new[x["row"]])

for run in names:
    try:
        m = json.load(open(f"runs/{run}/metrics.json"))
        with open(f"runs/{run}/predictions.csv") as f:
            rd = csv.DictReader(f)
            pred, fields = list(rd), rd.fieldnames
    except Exception as e:
        for c in ["metrics", "predictions", "split", "scaler", "predict"]:
            print(f"FAIL\t{run}: {c} against scikit-learn\tcannot read the run: {e!r}")
        continue
    for c, fn in [("metrics", lambda: check_metrics(run, m, pred)),
                  ("predictions", lambda: check_predictions(run, m, pred, fields)),
                  ("split", lambda: check_split(run, m, pred)),
                  ("scaler", lambda: check_scaler(run, m)),
                  ("predict", lambda: check_predict(run, pred))]:
        try:
            fn()
            print(f"PASS\t{run}: {c} against scikit-learn")
        except Exception as e:
            why = repr(e)[:400] if isinstance(e, AssertionError) else traceback.format_exc(limit=2).replace("\n", " ")[:400]
            print(f"FAIL\t{run}: {c} against scikit-learn\t{why}")
PY

results=$("$PY" peer.py "$SAMPLE" $RUNS 2>&1)
rc=$?
seen=0
while IFS=$'\t' read -r verdict name why; do
    case "$verdict" in
        PASS) pass "$name"; seen=$((seen + 1)) ;;
        FAIL) fail "$name" "$why"; seen=$((seen + 1)) ;;
    esac
done <<<"$results"
want=$(( $(wc -w <<<"$RUNS") * $(wc -w <<<"$CHECKS") ))
if [ $rc -ne 0 ] || [ $seen -ne $want ]; then
    fail "peer checker ran to the end" "exit $rc, $seen of $want results: $(tail -n 5 <<<"$results")"
fi
done_tests
