#!/usr/bin/env bash
# End to end: every tabular family `astrotrain serve` takes, served beside `astrotrain predict`
# on the same rows: gradient boosting, the MLP, an ensemble of a forest, boosting and an MLP,
# and a PCA transform. Each model is asked through a CSV body, a JSON {"rows": [...]} body
# (the fast reader) and the same JSON with extra keys, one nested, per row (the jansson reader), and the
# V2 infer tensor form; every served number, written as predict writes it ("%.9g"), must equal
# predict's (transform's) text, the class its "predicted", and a row predict refuses (the
# -9999 sentinel) is answered with a null class. The server is stopped by its PID (and by the
# EXIT trap through at_track_pid if a check fails first).
source "$(dirname "$0")/lib.sh"
cd "$TMP"
common="--quiet --set run.output_dir=$TMP/runs --set data.path=$SAMPLE --set plots.enabled=false --threads 2"
ok "train a small gbdt" "$ASTROTRAIN" --config "$ROOT/configs/gbdt.ini" $common --set model.n_rounds=15 --set model.max_depth=4
ok "train a small mlp" "$ASTROTRAIN" --config "$ROOT/configs/mlp.ini" $common --set model.hidden=16 --set model.epochs=3
cat > ens.ini <<INI
[run]
name = ens
[data]
features = u, g, r, i, z, redshift
label = class
[normalise]
method = standard
[model]
type = ensemble
n_trials = 30
[member.rf]
type = random_forest
n_trees = 6
[member.gb]
type = gradient_boosting
n_rounds = 8
[member.mlp]
type = mlp
hidden = 8
epochs = 2
INI
ok "train an ensemble (forest + boosting + mlp)" "$ASTROTRAIN" --config ens.ini $common
ok "train a PCA" "$ASTROTRAIN" --config "$ROOT/configs/pca.ini" $common
# 300 rows of the sample and one with the -9999 sentinel (the model's cleaning refuses it)
zcat "$SAMPLE" | head -n 301 > rows.csv
zcat "$SAMPLE" | grep -m 1 -- '-9999' >> rows.csv
for m in gbdt mlp ens; do
    ok "predict the rows with $m" "$ASTROTRAIN" predict --model runs/$m/model.h5 --input rows.csv --output $m.csv --quiet
done
ok "transform the rows with pca" "$ASTROTRAIN" transform --model runs/pca/model.h5 --input rows.csv --output pca.csv --quiet

"$ASTROTRAIN" serve --models-dir runs --port 0 --port-file port.txt --access-log off --threads 2 2> serve.err &
PID=$!
at_track_pid "$PID"
for _ in $(seq 900); do [ -s port.txt ] && break; sleep 0.1; done # up to 90 s: loading under valgrind is slow
check "the server writes its port once ready" test -s port.txt
export PORT=$(cat port.txt 2>/dev/null || echo 0)

# same_as_predict MODEL KIND: KIND class (probabilities) or transform (components)
same_as_predict() {
    python3 - "$1" "$2" <<'PY'
import csv, http.client, json, os, sys
name, kind = sys.argv[1], sys.argv[2]
PORT = int(os.environ["PORT"])
def post(path, body, ctype):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    c.request("POST", path, body=body, headers={"Content-Type": ctype})
    r = c.getresponse(); d = r.read(); c.close()
    assert r.status == 200, (path, r.status, d[:300])
    return json.loads(d)
text = open("rows.csv").read()
rows = list(csv.DictReader(open("rows.csv")))
want = list(csv.DictReader(open(f"{name}.csv")))
assert len(want) == len(rows) == 301, (len(want), len(rows))
feats = ["u", "g", "r", "i", "z", "redshift"]
# JSON numbers from the CSV text: Python's repr is the shortest text of the same double
plain = json.dumps({"rows": [{f: float(r[f]) for f in feats} for r in rows]})
# extra keys, one of them an object: the fast reader declines such rows and jansson reads them
extra = json.dumps({"rows": [dict({f: float(r[f]) for f in feats}, obj_ID=r["obj_ID"], meta={"run": r["run_ID"]})
                             for r in rows]})
infer = json.dumps({"inputs": [{"name": "input", "shape": [len(rows), 6], "datatype": "FP64",
                                "data": [[float(r[f]) for f in feats] for r in rows]}]})
answers = {"csv": post(f"/v1/models/{name}/predict", text, "text/csv")["predictions"],
           "json": post(f"/v1/models/{name}/predict", plain, "application/json")["predictions"],
           "json+extra keys": post(f"/v1/models/{name}/predict", extra, "application/json")["predictions"]}
v2 = post(f"/v2/models/{name}/infer", infer, "application/json")["outputs"]
g9 = lambda x: "%.9g" % x
if kind == "class":
    classes = [c[2:] for c in want[0].keys() if c.startswith("p_")]
    assert v2[0]["shape"] == [len(rows), len(classes)] and v2[1]["data"][:3], v2[0]["shape"]
    for how, got in answers.items():
        assert len(got) == len(rows), (how, len(got))
        for i, (g, w) in enumerate(zip(got, want)):
            if w["status"] != "ok":
                assert g["class"] is None and g["probabilities"] is None, (how, i, g, w)
                assert v2[0]["data"][i * len(classes)] is None and v2[1]["data"][i] is None, (i, v2)
                continue
            assert g["class"] == w["predicted"] == v2[1]["data"][i], (how, i, g, w)
            for j, c in enumerate(classes):
                assert g9(g["probabilities"][c]) == w["p_" + c], (how, i, c, g, w)
                assert g["probabilities"][c] == v2[0]["data"][i * len(classes) + j], (how, i, c)
    print(name, "rows", len(rows), "refused", sum(w["status"] != "ok" for w in want))
else:
    comps = [c for c in want[0].keys() if c.startswith("PC")]
    for how, got in answers.items():
        assert len(got) == len(rows), (how, len(got))
        for i, (g, w) in enumerate(zip(got, want)):
            if w["status"] != "ok":
                assert g["components"] is None, (how, i, g, w)
                continue
            for c in comps: assert g9(g["components"][c]) == w[c], (how, i, c, g, w)
    assert sum(w["status"] != "ok" for w in want) == 1
PY
}
check "gbdt: served probabilities are predict's (CSV, JSON, JSON with extra keys, V2)" same_as_predict gbdt class
check "mlp: served probabilities are predict's (CSV, JSON, JSON with extra keys, V2)" same_as_predict mlp class
check "ensemble: served probabilities are predict's (CSV, JSON, JSON with extra keys, V2)" same_as_predict ens class
check "pca: served coordinates are transform's (CSV, JSON, JSON with extra keys)" same_as_predict pca transform
check "the server is still serving" python3 -c "
import http.client, os; c = http.client.HTTPConnection('127.0.0.1', int(os.environ['PORT'])); c.request('GET', '/v2/health/ready')
assert c.getresponse().status == 200"
kill -TERM "$PID"
wait "$PID"; rc=$?
check "SIGTERM by PID: exits 0" test "$rc" -eq 0
done_tests
