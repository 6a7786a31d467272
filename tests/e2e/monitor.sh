#!/usr/bin/env bash
# monitor.sh - `astrotrain monitor` on real shifts cut from the shipped catalogues: a small
# forest trained on the first 20,000 SDSS17 rows, then batches of rows it never saw: a random
# sample (no alert, PSI < 0.1 everywhere), the same rows with r + 0.3 mag (an alert naming r
# and no other feature), stars only (a class-mix alert), labels joined later (accuracy and
# its Wilson interval recomputed here), the DR14 export (accuracy recomputed from its class
# column), KS and chi-square against SciPy, gzip input, an old model file, bad names.
source "$(dirname "$0")/lib.sh"
SDSS17="$ROOT/../shared/data/sdss17/star_classification.csv.gz"
DR14="$ROOT/../shared/data/sdss_dr14/skyserver_dr14.csv.gz"
[ -f "$SDSS17" ] || SDSS17="$ROOT/data/sdss17/star_classification.csv.gz"
if [ ! -f "$SDSS17" ]; then skip "monitor" "no SDSS17 catalogue"; done_tests; exit; fi
PY=
for cand in ${PEER_PYTHON:-python3 /usr/bin/python3}; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import scipy, numpy, h5py' >/dev/null 2>&1; then PY=$cand; break; fi
done
H=$TMP/hist
zcat "$SDSS17" | head -1 > "$TMP/hdr"
zcat "$SDSS17" | sed -n 2,20001p > "$TMP/train_rows"
# A fixed pseudo-random order of the unseen rows (awk's srand(7) is reproducible).
zcat "$SDSS17" | tail -n +20002 | awk 'BEGIN{srand(7)} {print rand() "\t" $0}' | sort -k1,1 | cut -f2- > "$TMP/pool"
cat "$TMP/hdr" "$TMP/train_rows" > "$TMP/train.csv"
(cat "$TMP/hdr"; head -5000 "$TMP/pool") > "$TMP/batch.csv"
awk -F, 'BEGIN{OFS=","} NR==1{print; next} {$5 = sprintf("%.5f", $5 + 0.3); print}' "$TMP/batch.csv" > "$TMP/shifted.csv"
(cat "$TMP/hdr"; sed -n 5001,40000p "$TMP/pool" | grep ',STAR,' | head -2000) > "$TMP/stars.csv"
gzip -c "$TMP/batch.csv" > "$TMP/batch.csv.gz"

ok "train a small forest (reference stored)" "$ASTROTRAIN" --config "$ROOT/configs/rf.ini" --set data.path="$TMP/train.csv" \
    --set model.n_trees=30 --set undersample.strategy=none --set run.output_dir="$TMP/runs" --set plots.enabled=false \
    --threads 2 --quiet
M=$TMP/runs/rf/model.h5
fails "a batch needs a model" 2 "needs --model" "$ASTROTRAIN" monitor --history "$H" --input "$TMP/batch.csv"
fails "a bad batch name" 2 "--batch '../x'" "$ASTROTRAIN" monitor --model "$M" --history "$H" --input "$TMP/batch.csv" --batch ../x
ok "random unseen rows" "$ASTROTRAIN" monitor --model "$M" --history "$H" --input "$TMP/batch.csv" --batch random --labels --quiet --fail-on-alert
fails "a batch name recorded twice" 2 "already recorded" "$ASTROTRAIN" monitor --model "$M" --history "$H" --input "$TMP/batch.csv" --batch random
ok "r + 0.3 mag (exit 0 whatever the alerts)" "$ASTROTRAIN" monitor --model "$M" --history "$H" --input "$TMP/shifted.csv" --batch r_shift --quiet
fails "stars only, --fail-on-alert" 10 "class mix" "$ASTROTRAIN" monitor --model "$M" --history "$H" --input "$TMP/stars.csv" --batch stars --fail-on-alert
ok "no labels now (key row)" "$ASTROTRAIN" monitor --model "$M" --history "$H" --input "$TMP/batch.csv.gz" --batch later --quiet
ok "labels later" "$ASTROTRAIN" monitor --history "$H" --labels-for later "$TMP/batch.csv" --quiet
fails "labels later: an unknown batch" 2 "no batch 'nope'" "$ASTROTRAIN" monitor --history "$H" --labels-for nope "$TMP/batch.csv"
printf 'class,row\nPULSAR,0\n' > "$TMP/bad_labels.csv"
fails "labels later: an unknown class names file:line" 4 "bad_labels.csv:2: label 'PULSAR'" \
    "$ASTROTRAIN" monitor --history "$H" --labels-for later "$TMP/bad_labels.csv"

check "history.jsonl: one JSON record per batch, in order" python3 - "$H" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1] + "/history.jsonl")]
assert [r["batch"] for r in recs] == ["random", "r_shift", "stars", "later"], [r["batch"] for r in recs]
for r in recs:
    assert r["rows"]["read"] == r["rows"]["predicted"] + r["rows"]["skipped"]["missing"] + r["rows"]["skipped"]["cleaning"], r["rows"]
    assert r["model"]["hash"].startswith("fnv1a64:") and r["model"]["type"] == "random_forest"
    assert abs(sum(r["predicted_shares"]) - 1) < 1e-9 and sum(r["predicted_counts"]) == r["rows"]["predicted"]
PY
check "random unseen rows: no alert, PSI < 0.1 on every feature, class mix quiet" python3 - "$H" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/history.jsonl")][0]
assert r["status"] == "ok" and r["alerts"] == [], r["alerts"]
psi = {f["name"]: f["psi"] for f in r["features"]}
assert set(psi) == {"u", "g", "r", "i", "z", "redshift"} and max(psi.values()) < 0.1, psi
assert r["class_mix"]["psi"] < 0.1, r["class_mix"]
PY
check "r + 0.3 mag: an alert naming r, and no other feature" python3 - "$H" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/history.jsonl")][1]
feat = [a for a in r["alerts"] if a["kind"] == "feature"]
assert r["status"] == "alert" and [a["name"] for a in feat] == ["r"], r["alerts"]
assert all(a["level"] == "alert" for a in feat) and "feature r" in feat[0]["reason"], feat
f = {f["name"]: f for f in r["features"]}
assert f["r"]["ks_significant"] and f["r"]["ks"] > 0.05 and not f["u"]["ks_significant"], f["r"]
PY
check "stars only: a class-mix alert (star shares near 1)" python3 - "$H" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/history.jsonl")][2]
mix = [a for a in r["alerts"] if a["kind"] == "class_mix"]
assert mix and mix[0]["level"] == "alert" and r["class_mix"]["psi"] > 0.25 and r["class_mix"]["chi2_p"] < 1e-10, r["class_mix"]
assert r["predicted_shares"][r["classes"].index("STAR")] > 0.95, r["predicted_shares"]
print("features that also alert:", [a["name"] for a in r["alerts"] if a["kind"] == "feature"])
PY
check "labels (column and later): accuracy, Wilson 95%, macro-F1 and confusion recomputed" python3 - "$H" "$TMP/batch.csv" <<'PY'
import csv, json, math, sys
recs = [json.loads(l) for l in open(sys.argv[1] + "/history.jsonl")]
truth = [row["class"] for row in csv.DictReader(open(sys.argv[2]))]
for r in (recs[0], recs[3]):
    cls = r["classes"]; k = len(cls)
    pred = list(csv.DictReader(open(sys.argv[1] + "/" + r["predictions"])))
    conf = [[0] * k for _ in cls]
    for p in pred: conf[cls.index(truth[int(p["row"])])][cls.index(p["predicted"])] += 1
    L = r["labels"]; n = len(pred); c = sum(conf[i][i] for i in range(k))
    assert L["confusion"] == conf and L["n"] == n == 5000, (L["confusion"], conf)
    assert abs(L["accuracy"] - c / n) < 1e-12
    z = 1.959963984540054; p = c / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n); half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert abs(L["accuracy_lo"] - (centre - half)) < 1e-12 and abs(L["accuracy_hi"] - (centre + half)) < 1e-12
    f1 = []
    for i in range(k):
        tp = conf[i][i]; row = sum(conf[i]); col = sum(conf[j][i] for j in range(k))
        pr = tp / col if col else 0; rc = tp / row if row else 0
        f1.append(2 * pr * rc / (pr + rc) if pr + rc else 0)
        assert abs(L["recall"][cls[i]] - rc) < 1e-12
    assert abs(L["macro_f1"] - sum(f1) / k) < 1e-12
assert recs[3]["labels"]["source"].endswith("batch.csv") and recs[0]["labels"]["source"] == "column"
PY
check "gzip batch: the same figures as the plain file" python3 - "$H" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1] + "/history.jsonl")]
for a, b in zip(recs[0]["features"], recs[3]["features"]):
    assert a["bins"] == b["bins"] and a["psi"] == b["psi"] and a["ks"] == b["ks"], (a["name"], a["psi"], b["psi"])
PY
check "report.html: self-contained, every batch and alert" python3 - "$H" <<'PY'
import re, shutil, sys
h = open(sys.argv[1] + "/report.html").read()
for b in ("random", "r_shift", "stars", "later", "feature r: KS D", "class mix: PSI"): assert b in h, b
assert not re.search(r'(src|href)="(http|file|/)', h), "an external reference"
if shutil.which("gnuplot"): assert h.count("data:image/png;base64,") >= 4 + 6, h.count("data:image/png")
PY
ok "--report rewrites the report alone" "$ASTROTRAIN" monitor --history "$H" --report --quiet
# The prediction server serves this report at /monitor and its page links to it.
"$ASTROTRAIN" serve --model "$M" --history "$H" --port 0 --port-file "$TMP/port.txt" --quiet 2> "$TMP/serve.err" &
SPID=$!
at_track_pid "$SPID"
for _ in $(seq 100); do [ -s "$TMP/port.txt" ] && break; sleep 0.1; done
check "serve --history: /monitor is monitor's report, linked from the page" python3 - "$H" "$(cat "$TMP/port.txt" 2>/dev/null)" <<'PY'
import sys, urllib.request
h, port = sys.argv[1], sys.argv[2]
served = urllib.request.urlopen(f"http://127.0.0.1:{port}/monitor", timeout=30).read()
assert served == open(h + "/report.html", "rb").read(), len(served)
page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30).read()
assert b'href="/monitor"' in page
PY
kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null

if [ -n "$PY" ]; then
    check "KS statistic exact and p-value within 0.01 of SciPy's ks_2samp" "$PY" - "$H" "$M" "$TMP/batch.csv" "$TMP/shifted.csv" "$TMP/stars.csv" <<'PY'
import csv, json, sys
import h5py, numpy as np
from scipy.stats import ks_2samp
h, m = sys.argv[1], sys.argv[2]
recs = [json.loads(l) for l in open(h + "/history.jsonl")]
sample = h5py.File(m, "r")["reference/sample"][()]
for r, path in zip(recs[:3], sys.argv[3:6]):
    rows = list(csv.DictReader(open(path)))
    for j, f in enumerate(r["features"]):
        ref = sample[j][np.isfinite(sample[j])]
        x = np.array([float(row[f["name"]]) for row in rows])
        res = ks_2samp(ref, x)  # method 'auto': exact up to 10,000 rows
        assert abs(res.statistic - f["ks"]) < 1e-12, (r["batch"], f["name"], res.statistic, f["ks"])
        assert abs(res.pvalue - f["ks_p"]) < 0.01, (r["batch"], f["name"], res.pvalue, f["ks_p"])
        assert abs(min(1, res.pvalue * 6) - f["ks_p_bonferroni"]) < 0.06
PY
    check "missing and out-of-range shares against the reference's training range" "$PY" - "$H" "$M" "$TMP/shifted.csv" "$TMP/stars.csv" <<'PY'
import csv, json, sys
import h5py
h, m = sys.argv[1], sys.argv[2]
recs = [json.loads(l) for l in open(h + "/history.jsonl")]
f5 = h5py.File(m, "r"); lo = f5["reference/lo"][()]; hi = f5["reference/hi"][()]
for r, path in zip(recs[1:3], sys.argv[3:5]):
    rows = list(csv.DictReader(open(path)))
    for j, f in enumerate(r["features"]):
        x = [float(row[f["name"]]) for row in rows]
        want = sum(v < lo[j] or v > hi[j] for v in x) / len(x)
        assert abs(f["out_of_range_share"] - want) < 1e-12 and f["missing_share"] == 0, (r["batch"], f["name"], f["out_of_range_share"], want)
PY
    # Every 10th row's r far above the training maximum, every 20th row's z far below the minimum.
    (cat "$TMP/hdr"; head -200 "$TMP/pool" | awk -F, 'BEGIN{OFS=","} NR % 10 == 0 {$5 = 99} NR % 20 == 1 {$7 = 1} {print}') > "$TMP/range.csv"
    "$ASTROTRAIN" monitor --model "$M" --history "$TMP/h3" --input "$TMP/range.csv" --batch range --quiet --no-report
    check "out-of-range shares above and below the training range" "$PY" - "$TMP/h3" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1] + "/history.jsonl").readline())
f = {f["name"]: f["out_of_range_share"] for f in r["features"]}
assert f["r"] == 0.1 and 0.05 <= f["z"] <= 0.06, f  # (one natural z of these rows is outside too)
PY
    check "chi-square of the class mix as scipy.stats.chisquare" "$PY" - "$H" <<'PY'
import json, sys
from scipy.stats import chisquare
for r in [json.loads(l) for l in open(sys.argv[1] + "/history.jsonl")]:
    obs = r["predicted_counts"]; n = sum(obs); sh = r["class_mix"]["reference_shares"]
    st, p = chisquare(obs, [s * n for s in sh])
    assert abs(st - r["class_mix"]["chi2"]) < 1e-9 * max(1, st) and abs(p - r["class_mix"]["chi2_p"]) < 1e-12, (st, p, r["class_mix"])
PY
    "$PY" - "$M" "$TMP/old.h5" <<'PY'
import shutil, sys, h5py
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "a") as f: del f["reference"]
PY
    fails "a model file without a reference: re-train it" 6 "re-train it" "$ASTROTRAIN" monitor --model "$TMP/old.h5" --history "$TMP/h2" --input "$TMP/batch.csv"
    check "and predict still reads it" "$ASTROTRAIN" predict --model "$TMP/old.h5" --input "$TMP/batch.csv" --output "$TMP/old.csv" --quiet
else
    for n in "KS against SciPy" "chi-square against SciPy" "a model file without a reference"; do skip "$n" "no python3 with scipy, numpy and h5py"; done
fi

if [ -f "$DR14" ]; then
    ok "DR14 export through the SDSS17 model (labels, key specobjid)" "$ASTROTRAIN" monitor --model "$M" --history "$H" \
        --input "$DR14" --batch dr14 --labels --key specobjid --quiet
    check "DR14: accuracy recomputed from its class column" python3 - "$H" "$DR14" <<'PY'
import csv, gzip, json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/history.jsonl")][-1]
truth = {}
for row in csv.DictReader(gzip.open(sys.argv[2], "rt", newline="")): truth[float(row["specobjid"])] = row["class"]
pred = list(csv.DictReader(open(sys.argv[1] + "/" + r["predictions"])))
assert len(pred) == 10000 == r["labels"]["n"]
c = sum(truth[float(p["specobjid"])] == p["predicted"] for p in pred)
assert abs(r["labels"]["accuracy"] - c / 10000) < 1e-12, (r["labels"]["accuracy"], c)
print("DR14 accuracy %.4f [%.4f, %.4f], status %s, alerts: %s" % (r["labels"]["accuracy"], r["labels"]["accuracy_lo"],
      r["labels"]["accuracy_hi"], r["status"], "; ".join(a["reason"] for a in r["alerts"])))
PY
else
    skip "DR14 export" "no $DR14"
fi
done_tests
