#!/usr/bin/env bash
# End to end: the reference study (experiments/sdss17) on the 10k sample with small
# settings: every artefact, every metrics.json, the report listing every model, the same
# figures on a second run, and the DR14 variant by changing only the data file.
source "$(dirname "$0")/lib.sh"
mkdir -p "$TMP/exp/sdss17" "$TMP/exp/sdss_dr14"
cp "$ROOT"/experiments/sdss17/*.ini "$TMP/exp/sdss17/"
cp "$ROOT"/experiments/sdss_dr14/*.ini "$TMP/exp/sdss_dr14/"
cd "$TMP/exp/sdss17"
sed -i "s|^path = .*|path = $SAMPLE|" data.ini
sed -i 's/^epochs = .*/epochs = 20/' mlp.ini
sed -i 's/^n_rounds = .*/n_rounds = 50/' gbdt.ini
sed -i 's/^n_trees = .*/n_trees = 30/' rf.ini
sed -i 's/^n_trials = .*/n_trials = 200/' ensemble.ini
sed -i "s|^path = data/|path = $ROOT/data/|" ../sdss_dr14/data.ini
cd "$TMP"
steps="pca gmm gmm_pca mlp gbdt rf ensemble"
ok "study runs" "$ASTROTRAIN" experiment exp/sdss17/study.ini --quiet --set run.threads=2
S=runs/sdss17_study
for f in report.md report.html log.txt plots/comparison.gp plots/class_balance.gp; do check "study has $f" test -s "$S/$f"; done
for s in $steps; do
    check "step $s: run directory" test -s "$S/$s/metrics.json" -a -s "$S/$s/model.h5" -a -s "$S/$s/config.ini"
done
check "every metrics.json parses; one split for all" python3 - $S $steps <<'PY'
import json, sys
d = sys.argv[1]; steps = sys.argv[2:]
ms = {s: json.load(open(f"{d}/{s}/metrics.json")) for s in steps}
assert len({json.dumps(m["data"].get("train")) for m in ms.values()}) == 1
for s in ["mlp", "gbdt", "rf", "ensemble", "gmm", "gmm_pca"]:
    assert ms[s]["test"]["n"] == ms[s]["data"]["test"] == 849, s
# measured on the sample with these small settings: mlp 0.919 (20 epochs), the trees and the
# blend 0.95+
floor = {"mlp": 0.9, "gbdt": 0.95, "rf": 0.95, "ensemble": 0.95}
for s in floor: assert ms[s]["test"]["accuracy"] >= floor[s], (s, ms[s]["test"]["accuracy"])
# matched clusterings: gmm on the 6 scaled features 0.715 (quasars and galaxies overlap),
# gmm on 3 principal components 0.921
assert ms["gmm"]["test"]["accuracy"] >= 0.65 and ms["gmm_pca"]["test"]["accuracy"] >= 0.88, ms["gmm"]["test"]
assert ms["gmm_pca"]["data"]["pca_components"] == 3
assert set(ms["ensemble"]["model_info"]["weights"]) == {"rf", "gbdt", "mlp"}
PY
for s in mlp gbdt rf ensemble gmm gmm_pca; do check_run "step $s: metrics agree with predictions.csv" $S/$s; done
check "report lists every model and the reference figures" python3 - $S $steps <<'PY'
import sys
d = sys.argv[1]; md = open(f"{d}/report.md").read()
table = md.split("## Models", 1)[1]
for s in sys.argv[2:]:
    if s != "pca": assert f"| {s} |" in table, s
assert "reference study" in md and "Ensemble weights" in md and "Reliability" in md
# every figure in the tables is that step's metrics.json value (a wrong number in either fails)
import json
ms = {s: json.load(open(f"{d}/{s}/metrics.json")) for s in sys.argv[2:]}
rows = {}
for line in md.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) > 1: rows.setdefault(cells[0], []).append(cells[1:])
models = [s for s in sys.argv[2:] if s != "pca"]
for s in models:
    t = ms[s]["test"]; r = rows[s][0]
    want = [f"{t['accuracy']:.4f}", f"{t['macro_f1']:.4f}", f"{t['log_loss']:.4f}"] + \
           [f"{t['per_class'][c]['recall']:.4f}" for c in t["classes"]]
    assert r[1:4] + r[5:] == want, (s, r, want)
ref = {"GALAXY": "0.867", "QSO": "0.903", "STAR": "0.996"}  # reference_confident in study.ini
for c in ["GALAXY", "QSO", "STAR"]:
    conf = [r for r in rows[c] if len(r) == len(models) + 1][0]
    want = [f"{ms[s]['test']['per_class'][c]['confident_fraction']:.3f}" for s in models] + [ref[c]]
    assert conf == want, (c, conf, want)
html = open(f"{d}/report.html").read()
assert html.startswith("<!DOCTYPE html>") and "</html>" in html
PY
if command -v gnuplot >/dev/null; then
    check "report.html embeds the figures" bash -c "grep -c 'data:image/png;base64' $S/report.html | awk '\$1 >= 20 {ok=1} END {exit !ok}'"
    check "reliability diagram rendered" test -s "$S/plots/reliability_rf.png"
else
    skip "report.html embeds the figures" "gnuplot not on PATH"
    skip "reliability diagram rendered" "gnuplot not on PATH"
fi
cp $S/rf/predictions.csv first_rf.csv; cp $S/ensemble/predictions.csv first_ens.csv
ok "study runs again" "$ASTROTRAIN" experiment exp/sdss17/study.ini --quiet --force --set run.threads=2
check "same seed, same figures (forest)" cmp first_rf.csv $S/rf/predictions.csv
check "same seed, same figures (ensemble)" cmp first_ens.csv $S/ensemble/predictions.csv
fails "existing study directory needs --force" 2 "already exists" "$ASTROTRAIN" experiment exp/sdss17/study.ini --quiet
printf '[experiment]\ndata = data.ini\nsteps = rf.ini, nope.ini\n' > exp/sdss17/bad.ini
fails "a missing step file is named" 5 "nope.ini" "$ASTROTRAIN" experiment exp/sdss17/bad.ini --quiet
ok "DR14 study (only the data file differs)" "$ASTROTRAIN" experiment exp/sdss_dr14/study.ini --quiet --set run.threads=2
check "DR14 study results" python3 -c "
import json; m = json.load(open('runs/sdss_dr14_study/rf/metrics.json'))
assert m['data']['rows_read'] == 10000 and m['test']['accuracy'] > 0.9 and m['data']['path'].endswith('skyserver_dr14.csv.gz')"
done_tests
