#!/usr/bin/env bash
# End to end: `astrotrain serve` on a free loopback port with a 10-tree forest and a tiny CNN
# (then a folder of runs adding an ensemble and a PCA).
# Every endpoint; served probabilities equal `predict`'s on the same rows (CSV and JSON) and
# the same image files (PNG and JPEG); every kind of bad request gets its 4xx with a one-line
# JSON error and the server lives on; reload (SIGHUP and the V2 load endpoint) under load with
# zero failed requests; a model file that fails to load keeps the old one serving; the web
# page in headless chromium (playwright-core; SKIP without tests/browser/node_modules);
# SIGTERM by PID drains and exits 0.
source "$(dirname "$0")/lib.sh"
cd "$TMP"
cat > rf.ini <<INI
[run]
output_dir = $TMP/runs
name = rf
[data]
path = $SAMPLE
[model]
n_trees = 10
[plots]
enabled = false
INI
ok "train a 10-tree forest" "$ASTROTRAIN" --config rf.ini --quiet
cutouts imgs 12
cat > cnn.ini <<INI
[run]
name = cnn
output_dir = $TMP/runs
[data]
path = $TMP/imgs
[undersample]
strategy = none
[model]
type = cnn
[net]
width = 16
height = 16
batch = 8
epochs = 1
[conv]
filters = 4
[maxpool]
[dense]
units = 2
[softmax]
[plots]
enabled = false
INI
ok "train a tiny cnn" "$ASTROTRAIN" --config cnn.ini --quiet --threads 2
cp runs/rf/model.h5 served_rf.h5
# a 40x30 RGB PNG written by Python's zlib, and a pixel bomb: a PNG header claiming 100000^2
python3 - <<'PY'
import struct, zlib
def png(w, h, rows):
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    raw = b"".join(b"\0" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
w, h = 40, 30
rows = [bytes(v for x in range(w) for v in ((x * 6) % 256, (y * 8) % 256, ((x + y) * 3) % 256)) for y in range(h)]
open("pattern.png", "wb").write(png(w, h, rows))
bomb = png(1, 1, [b"\0\0\0"])
bomb = bomb[:16] + struct.pack(">II", 100000, 100000) + bomb[24:]
open("bomb.png", "wb").write(bomb)
PY
JPG="imgs/galaxy/$(ls imgs/galaxy | head -n 1)"
mkdir -p hist && echo "<html><body>monitor report</body></html>" > hist/report.html

"$ASTROTRAIN" serve --model rf=served_rf.h5 --model "$TMP/runs/cnn/model.h5" --examples imgs --history hist \
    --port 0 --port-file port.txt --access-log access.log --max-body 2000000 --max-rows 5000 --threads 2 \
    2> serve.err &
PID=$!
at_track_pid "$PID"
for _ in $(seq 100); do [ -s port.txt ] && break; sleep 0.1; done
check "the server writes its port once ready" test -s port.txt
export PORT=$(cat port.txt 2>/dev/null || echo 0)
cat > srv.py <<'PY'
# tiny HTTP helpers for the checks below (stdlib only)
import http.client, json, os
PORT = int(os.environ["PORT"])
def req(method, path, body=None, ctype=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    h = {"Content-Type": ctype} if ctype else {}
    c.request(method, path, body=body, headers=h)
    r = c.getresponse(); data = r.read()
    if not conn: c.close()
    return r.status, r.getheader("Content-Type") or "", data
def js(method, path, body=None, ctype=None):
    s, t, d = req(method, path, body, ctype)
    return s, json.loads(d)
ROW = {"u": 23.87882, "g": 22.2753, "r": 20.39501, "i": 19.16573, "z": 18.79371, "redshift": 0.6347936}
PY
export PYTHONPATH=$TMP

check "health, /v2, model metadata and readiness" python3 - <<'PY'
from srv import *
assert js("GET", "/v2/health/live") == (200, {"live": True})
assert js("GET", "/v2/health/ready") == (200, {"ready": True})
s, j = js("GET", "/v2"); assert s == 200 and j["name"] == "astrotrain" and j["models"] == ["rf", "cnn"], j
s, m = js("GET", "/v2/models/rf")
assert s == 200 and m["family"] == "random_forest" and m["kind"] == "table" and m["format_version"] == 1, m
assert m["features"] == ["u", "g", "r", "i", "z", "redshift"] and m["classes"] == ["GALAXY", "QSO", "STAR"], m
assert m["inputs"][0]["shape"] == [-1, 6] and m["outputs"][0]["shape"] == [-1, 3], m
import json
tm = json.load(open("runs/rf/metrics.json"))["test"]
assert m["metrics"]["accuracy"] == tm["accuracy"] and m["metrics"]["n"] == tm["n"], (m["metrics"], tm["accuracy"])
s, c = js("GET", "/v2/models/cnn")
assert s == 200 and c["kind"] == "image" and c["image"] == {"height": 16, "width": 16, "channels": 3}, c
assert c["classes"] == ["galaxy", "star"] and c["examples"] == 24, c
assert js("GET", "/v2/models/rf/ready") == (200, {"name": "rf", "ready": True})
PY

check "page, openapi, monitor" python3 - <<'PY'
from srv import *
import json
s, t, d = req("GET", "/"); assert s == 200 and t.startswith("text/html") and b"astrotrain serve" in d and b"<script>" in d, (s, t)
s, t, d = req("GET", "/openapi.json"); o = json.loads(d)
assert s == 200 and o["openapi"].startswith("3.") and "/v1/models/{name}/predict" in o["paths"], s
for p in ["/v2/health/live", "/v2/health/ready", "/v2", "/v2/models/{name}", "/v2/models/{name}/ready",
          "/v2/models/{name}/infer", "/v2/repository/models/{name}/load", "/metrics", "/"]:
    assert p in o["paths"], p
s, t, d = req("GET", "/monitor"); assert s == 200 and b"monitor report" in d, (s, d)
PY

# the same rows through predict and through the server (CSV and JSON bodies)
zcat "$SAMPLE" | head -n 301 | grep -v -- -9999 > rows.csv
ok "predict the same rows with astrotrain predict" "$ASTROTRAIN" predict --model runs/rf/model.h5 --input rows.csv --output pred.csv --quiet
check "served probabilities equal predict's (CSV and JSON, by class name)" python3 - <<'PY'
from srv import *
import csv, json
rows = list(csv.DictReader(open("rows.csv")))
pred = list(csv.DictReader(open("pred.csv")))
assert len(rows) == len(pred) > 250, (len(rows), len(pred))
s, t, d = req("POST", "/v1/models/rf/predict", open("rows.csv", "rb").read(), "text/csv")
assert s == 200, d
a = json.loads(d)["predictions"]
body = json.dumps({"rows": [{k: float(r[k]) for k in ["redshift", "z", "i", "r", "g", "u"]} | {"extra": "x"} for r in rows]})
s, b = js("POST", "/v1/models/rf/predict", body, "application/json"); assert s == 200, b
b = b["predictions"]
for i, p in enumerate(pred):
    for served in (a[i], b[i]):
        assert served["class"] == p["predicted"], (i, served, p)
        for c in ["GALAXY", "QSO", "STAR"]:
            assert abs(served["probabilities"][c] - float(p["p_" + c])) <= 1e-8, (i, c, served, p)
# V2 infer on the first rows, features in model order
X = [[float(r[k]) for k in ["u", "g", "r", "i", "z", "redshift"]] for r in rows[:5]]
s, v = js("POST", "/v2/models/rf/infer", json.dumps({"inputs": [{"name": "input", "shape": [5, 6], "datatype": "FP64", "data": X}]}), "application/json")
assert s == 200 and v["outputs"][0]["shape"] == [5, 3], v
assert v["outputs"][1]["data"] == [p["predicted"] for p in pred[:5]], v
for i in range(5):
    for j, c in enumerate(["GALAXY", "QSO", "STAR"]):
        assert abs(v["outputs"][0]["data"][i * 3 + j] - float(pred[i]["p_" + c])) <= 1e-8
# a row with the sentinel fails the model's cleaning: a null class, not an error
s, j = js("POST", "/v1/models/rf/predict", json.dumps({"rows": [ROW, dict(ROW, u=-9999)]}), "application/json")
assert s == 200 and j["predictions"][1]["class"] is None and j["predictions"][0]["class"] is not None, j
PY

# one file per predict call: a batch of one, as the server predicts (float32 sums in the same order)
ok "predict the PNG with astrotrain predict" "$ASTROTRAIN" predict --model runs/cnn/model.h5 --input pattern.png --output imgpred.csv --quiet
ok "predict the JPEG with astrotrain predict" "$ASTROTRAIN" predict --model runs/cnn/model.h5 --input "$JPG" --output imgpred2.csv --quiet
check "served image probabilities equal predict's (PNG, JPEG, multipart)" python3 - "$JPG" <<'PY'
from srv import *
import csv, sys
pred = list(csv.DictReader(open("imgpred.csv"))) + list(csv.DictReader(open("imgpred2.csv")))
png, jpg = open("pattern.png", "rb").read(), open(sys.argv[1], "rb").read()
bnd = "XyZbOuNdArY"
multi = (f"--{bnd}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + png + f"\r\n--{bnd}--\r\n".encode()
for body, ctype, p in [(png, "image/png", pred[0]), (jpg, "image/jpeg", pred[1]), (multi, "multipart/form-data; boundary=" + bnd, pred[0])]:
    s, j = js("POST", "/v1/models/cnn/predict", body, ctype)
    assert s == 200, j
    q = j["predictions"][0]
    assert q["class"] == p["predicted"], (q, p)
    for c in ["galaxy", "star"]: assert abs(q["probabilities"][c] - float(p["p_" + c])) <= 1e-8, (c, q, p)
s, e = js("GET", "/v1/models/cnn/example?index=3")
assert s == 200 and e["index"] == 3 and e["true"] in ("galaxy", "star") and len(e["pixels"]) == 16 * 16 * 3, e
assert abs(sum(e["prediction"]["probabilities"].values()) - 1) < 1e-6, e  # float32 network
s, e = js("GET", "/v1/models/cnn/example"); assert s == 200 and 0 <= e["index"] < 24
PY

check "bad requests: each its 4xx with a one-line JSON error, the server lives on" python3 - <<'PY'
from srv import *
import json
R = json.dumps({"rows": [ROW]})
cases = [
    ("malformed JSON", "POST", "/v1/models/rf/predict", '{"rows": [', "application/json", 400, "malformed JSON"),
    ("no rows array", "POST", "/v1/models/rf/predict", '{"data": 1}', "application/json", 400, "rows"),
    ("missing feature", "POST", "/v1/models/rf/predict", json.dumps({"rows": [{"u": 1}]}), "application/json", 422, "no feature 'g'"),
    ("non-numeric feature", "POST", "/v1/models/rf/predict", json.dumps({"rows": [dict(ROW, z="high")]}), "application/json", 422, "'z' is not a number"),
    ("CSV missing column", "POST", "/v1/models/rf/predict", "u,g\n1,2\n", "text/csv", 422, "no column 'r'"),
    ("CSV ragged line", "POST", "/v1/models/rf/predict", "u,g,r,i,z,redshift\n1,2,3\n", "text/csv", 400, "line 2"),
    ("unknown model", "POST", "/v1/models/nosuch/predict", R, "application/json", 404, "unknown model 'nosuch'"),
    ("unknown endpoint", "GET", "/v3/what", None, None, 404, "no such endpoint"),
    ("wrong method", "GET", "/v1/models/rf/predict", None, None, 405, "use POST"),
    ("wrong content type", "POST", "/v1/models/rf/predict", "u=1", "application/x-www-form-urlencoded", 415, "application/json or text/csv"),
    ("rows to an image model", "POST", "/v1/models/cnn/predict", R, "application/json", 415, "classifies images"),
    ("undecodable image", "POST", "/v1/models/cnn/predict", b"\x89PNG\r\n\x1a\nnot really", "image/png", 400, "upload"),
    ("not an image at all", "POST", "/v1/models/cnn/predict", b"hello", "image/png", 400, "neither a PNG nor a JPEG"),
    ("huge image", "POST", "/v1/models/cnn/predict", open("bomb.png", "rb").read(), "image/png", 413, "100000x100000"),
    ("oversize body", "POST", "/v1/models/rf/predict", "x" * 2500000, "application/json", 413, "over the limit of 2000000 bytes"),
    ("too many rows", "POST", "/v1/models/rf/predict", json.dumps({"rows": [ROW] * 5001}), "application/json", 413, "limit of 5000 rows"),
    ("infer bad shape", "POST", "/v2/models/rf/infer", json.dumps({"inputs": [{"name": "input", "shape": [1, 5], "datatype": "FP64", "data": [1, 2, 3, 4, 5]}]}), "application/json", 422, "shape must be [n, 6]"),
    ("infer short data", "POST", "/v2/models/rf/infer", json.dumps({"inputs": [{"name": "input", "shape": [2, 6], "datatype": "FP64", "data": [1] * 6}]}), "application/json", 422, "fewer"),
    ("example index out of range", "GET", "/v1/models/cnn/example?index=999", None, None, 422, "index"),
    ("no examples for a table model", "GET", "/v1/models/rf/example", None, None, 404, "no examples"),
]
for name, m, path, body, ct, want, text in cases:
    s, t, d = req(m, path, body, ct)
    assert s == want, (name, s, d[:200])
    assert t.startswith("application/json") and d.count(b"\n") <= 1, (name, t, d[:200])
    e = json.loads(d)
    assert text in e["error"], (name, e)
    assert js("GET", "/v2/health/live")[0] == 200, name
PY

check "reload under load (SIGHUP x3, load endpoint x3): zero failed requests" python3 - "$PID" <<'PY'
from srv import *
import http.client, json, os, signal, sys, threading, time
pid = int(sys.argv[1]); body = json.dumps({"rows": [ROW] * 20})
stop = threading.Event(); counts = {"ok": 0, "bad": 0}; lock = threading.Lock()
def worker():
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    while not stop.is_set():
        try:
            s, _, d = req("POST", "/v1/models/rf/predict", body, "application/json", conn=c)
            good = s == 200 and len(json.loads(d)["predictions"]) == 20
        except Exception as e:
            good = False; c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        with lock: counts["ok" if good else "bad"] += 1
ts = [threading.Thread(target=worker) for _ in range(4)]
for t in ts: t.start()
for i in range(3):
    time.sleep(0.3); os.kill(pid, signal.SIGHUP)
    time.sleep(0.3); s, j = js("POST", "/v2/repository/models/rf/load"); assert s == 200 and j["loaded"], j
time.sleep(0.5); stop.set()
for t in ts: t.join()
assert counts["bad"] == 0 and counts["ok"] > 50, counts
PY

cp served_rf.h5 good_rf.h5
echo "not a model" > served_rf.h5
check "a model file that fails to load keeps the old one serving" python3 - <<'PY'
from srv import *
import json
s, e = js("POST", "/v2/repository/models/rf/load")
assert s == 500 and "keeps its previous version" in e["error"] and "served_rf.h5" in e["error"], (s, e)
s, j = js("POST", "/v1/models/rf/predict", json.dumps({"rows": [ROW]}), "application/json")
assert s == 200 and j["predictions"][0]["class"], j
PY
cp good_rf.h5 served_rf.h5

check "metrics: requests by endpoint/model/code, latency, rows, classes, loads" python3 - <<'PY'
from srv import *
s, t, d = req("GET", "/metrics"); m = d.decode()
assert s == 200 and t.startswith("text/plain"), t
import re
def val(pat):
    x = re.search("^" + re.escape(pat) + r" (\S+)$", m, re.M); assert x, pat; return float(x.group(1))
assert val('astrotrain_requests_total{endpoint="predict",model="rf",code="422"}') >= 3
assert val('astrotrain_requests_total{endpoint="predict",model="rf",code="413"}') >= 1
assert val('astrotrain_requests_total{endpoint="predict",model="",code="404"}') == 1
assert val('astrotrain_model_load_failures_total{model="rf"}') == 1
assert val('astrotrain_model_loads_total{model="rf"}') == 7
assert val('astrotrain_rows_predicted_total{model="rf"}') > 1000
n = val('astrotrain_request_duration_seconds_count{endpoint="predict"}')
assert val('astrotrain_request_duration_seconds_bucket{endpoint="predict",le="+Inf"}') == n > 50
assert 'astrotrain_predictions_total{model="cnn",class="galaxy"}' in m
PY
check "access log: one line per request" bash -c "grep -c '\"POST /v1/models/rf/predict\" 200' access.log | awk '{exit !(\$1 > 50)}' && grep -q 'endpoint=predict model=rf rows=' access.log"

# the page in a real browser
if [ -d "$ROOT/tests/browser/node_modules/playwright-core" ] && [ -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    WANT_ROW=$(python3 -c "from srv import *; import json; print(js('POST', '/v1/models/rf/predict', json.dumps({'rows': [ROW]}), 'application/json')[1]['predictions'][0]['class'])")
    WANT_IMG=$(python3 -c "from srv import *; print(js('POST', '/v1/models/cnn/predict', open('pattern.png','rb').read(), 'image/png')[1]['predictions'][0]['class'])")
    ROWJ=$(python3 -c "from srv import *; import json; print(json.dumps(ROW))")
    SHOT=${SERVE_SCREENSHOT:-$TMP/page.png}
    if out=$(cd "$ROOT/tests/browser" && timeout 120 node serve_page.mjs "http://127.0.0.1:$PORT/" "$ROWJ" "$TMP/pattern.png" "$WANT_ROW" "$WANT_IMG" "$SHOT" 2>&1); then
        pass "web page in headless chromium: form, CSV box, upload, random example"
    else
        fail "web page in headless chromium" "$(tail -n 5 <<<"$out" | tr '\n' ' ')"
    fi
    echo "$out" | sed 's/^/    /'
else
    skip "web page in headless chromium" "tests/browser/node_modules missing (cd tests/browser && npm ci) or no /usr/bin/chromium"
fi

check "the server is still serving" python3 -c "from srv import *; assert js('GET', '/v2/health/live')[0] == 200"
kill -TERM "$PID"
wait "$PID"; rc=$?
check "SIGTERM: drains and exits 0" test "$rc" -eq 0
check "the server said it drained" grep -q "draining and stopping" serve.err
# --models-dir with a PCA model (answers coordinates, as `transform` does), and the connection
# limits: a third connection from one address over --max-per-ip 2, an idle one past --timeout 1
ok "train a PCA" "$ASTROTRAIN" --config "$ROOT/configs/pca.ini" --set data.path="$SAMPLE" --set run.output_dir="$TMP/runs" --set plots.enabled=false --quiet
ok "transform the rows with astrotrain transform" "$ASTROTRAIN" transform --model runs/pca/model.h5 --input rows.csv --output pcs.csv --quiet
cat > ens.ini <<INI
[run]
output_dir = $TMP/runs
name = ens
[data]
path = $SAMPLE
[model]
type = ensemble
n_trials = 50
[member.rf]
type = random_forest
n_trees = 8
[member.gb]
type = gradient_boosting
n_rounds = 20
[plots]
enabled = false
INI
ok "train an ensemble (forest + boosting)" "$ASTROTRAIN" --config ens.ini --quiet --threads 2
ok "predict the rows with the ensemble" "$ASTROTRAIN" predict --model runs/ens/model.h5 --input rows.csv --output enspred.csv --quiet
rm -f port.txt
"$ASTROTRAIN" serve --models-dir runs --port 0 --port-file port.txt --access-log off --max-per-ip 2 --timeout 1 2> serve2.err &
PID2=$!
at_track_pid "$PID2"
for _ in $(seq 100); do [ -s port.txt ] && break; sleep 0.1; done
export PORT=$(cat port.txt 2>/dev/null || echo 0)
check "--models-dir serves every run; the ensemble answers predict's probabilities, the PCA transform's coordinates" python3 - <<'PY'
from srv import *
import csv, json
s, j = js("GET", "/v2"); assert s == 200 and j["models"] == ["cnn", "ens", "pca", "rf"], j
s, t, d = req("POST", "/v1/models/ens/predict", open("rows.csv", "rb").read(), "text/csv"); assert s == 200, d
for g, w in zip(json.loads(d)["predictions"], list(csv.DictReader(open("enspred.csv")))):
    assert g["class"] == w["predicted"], (g, w)
    for c in ["GALAXY", "QSO", "STAR"]: assert abs(g["probabilities"][c] - float(w["p_" + c])) <= 1e-8, (g, w)
s, m = js("GET", "/v2/models/pca"); assert m["kind"] == "transform" and m["outputs"][0]["shape"] == [-1, 3], m
s, t, d = req("POST", "/v1/models/pca/predict", open("rows.csv", "rb").read(), "text/csv"); assert s == 200, d
got = json.loads(d)["predictions"]
want = list(csv.DictReader(open("pcs.csv")))
assert len(got) == len(want), (len(got), len(want))
for g, w in zip(got, want):
    for c in ["PC1", "PC2", "PC3"]: assert abs(g["components"][c] - float(w[c])) <= 1e-7 * max(1, abs(float(w[c]))), (g, w)
PY
check "connection limits: per address and idle time" python3 - <<'PY'
from srv import *
import socket, time
def conn():
    c = socket.create_connection(("127.0.0.1", PORT)); c.settimeout(5); return c
ask = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
a, b = conn(), conn()
for c in (a, b):
    c.sendall(ask); assert b"200 OK" in c.recv(4096)
third = conn()
try:
    third.sendall(ask); got = third.recv(4096)
except OSError:
    got = b""
assert got == b"", got            # closed without an answer: over --max-per-ip
a.close(); b.close(); third.close()
time.sleep(0.3)
idle = conn(); time.sleep(2.5)   # past --timeout 1: the server closed it
try:
    idle.sendall(ask); got = idle.recv(4096)
except OSError:
    got = b""
assert got == b"", got
s, j = js("GET", "/v2/health/live"); assert s == 200
PY
kill -INT "$PID2"; wait "$PID2"; rc=$?
check "SIGINT: exits 0" test "$rc" -eq 0
fails "serve without a model is a usage error" 2 "at least one --model" "$ASTROTRAIN" serve --port 0
fails "serve with a missing model file names it" 5 "nothere.h5" "$ASTROTRAIN" serve --model nothere.h5 --port 0
done_tests
