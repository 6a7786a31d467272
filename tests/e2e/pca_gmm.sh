#!/usr/bin/env bash
# End to end: PCA and the Gaussian mixture on the 10k SDSS17 sample: run directories,
# figures, transform reproducing transformed.csv, predict reproducing predictions.csv
# through a PCA stage, BIC model selection, and the PCA stage in front of a forest.
source "$(dirname "$0")/lib.sh"
cd "$TMP"
common="--quiet --set run.output_dir=$TMP/runs --set data.path=$SAMPLE --set plots.render=false"
ok "pca run" "$ASTROTRAIN" --config "$ROOT/configs/pca.ini" $common
for f in model.h5 metrics.json transformed.csv plots/scree.gp plots/pca_scatter.gp; do
    check "pca run has $f" test -s "runs/pca/$f"
done
# 6 standardised features: the total variance of the training part is exactly 6 n/(n-1)
# (population scaling, sample covariance), so variance / ratio must equal it for each
# component; the scree file holds all 6 ratios, the first 3 those of metrics.json.
check "pca metrics: explained variance ratios, no test metrics" python3 - runs/pca/metrics.json runs/pca/plots/scree.dat <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
r = m["model_info"]["explained_variance_ratio"]; v = m["model_info"]["explained_variance"]
assert len(r) == 3 and r[0] > r[1] > r[2] > 0 and sum(r) < 1, r
n = m["data"]["train"]; total = 6 * n / (n - 1)
for a, b in zip(v, r): assert abs(a / b - total) < 1e-9 * total, (a, b, total)
assert m["test"] is None and m["validation"] is None
s = [l.split() for l in open(sys.argv[2]) if not l.startswith("#") and l.strip()]
assert [int(x[0]) for x in s] == [1, 2, 3, 4, 5, 6], s
ratios = [float(x[1]) for x in s]
assert all(abs(a - b) < 1e-9 for a, b in zip(ratios, r)) and abs(sum(ratios) - 1) < 1e-8, ratios
assert abs(float(s[-1][2]) - 1) < 1e-9 and ratios == sorted(ratios, reverse=True)
PY
# transformed.csv holds the test part: row, true, PC1..PC3, each PC centred with the
# variance the training part gave it (a different sample with heavy tails: measured within
# 0.5%, 0.5% and 17%, so 25%) and PC1, PC2 uncorrelated (|r| < 0.1).
check "transformed.csv: the test rows on three principal components" python3 - runs/pca/metrics.json runs/pca/transformed.csv <<'PY'
import csv, json, sys, statistics as st
m = json.load(open(sys.argv[1])); v = m["model_info"]["explained_variance"]
rd = csv.DictReader(open(sys.argv[2])); rows = list(rd)
assert rd.fieldnames == ["row", "true", "PC1", "PC2", "PC3"], rd.fieldnames
assert len(rows) == m["data"]["test"] == 849, len(rows)
pcs = [[float(r[f"PC{j}"]) for r in rows] for j in (1, 2, 3)]
for j in range(3):
    assert abs(st.mean(pcs[j])) < 0.1 and abs(st.variance(pcs[j]) / v[j] - 1) < 0.25, (j, st.mean(pcs[j]), st.variance(pcs[j]), v[j])
a, b = pcs[0], pcs[1]; ma, mb = st.mean(a), st.mean(b)
cov = sum((x - ma) * (y - mb) for x, y in zip(a, b)) / (len(a) - 1)
assert abs(cov / (st.variance(a) * st.variance(b)) ** 0.5) < 0.1
PY
ok "transform with the saved pca" "$ASTROTRAIN" transform --model runs/pca/model.h5 --input "$SAMPLE" --output coords.csv --quiet
check "transform reproduces transformed.csv" python3 - runs/pca/transformed.csv coords.csv <<'PY'
import csv, sys
a = {r["row"]: r for r in csv.DictReader(open(sys.argv[1]))}
b = {r["row"]: r for r in csv.DictReader(open(sys.argv[2])) if r.pop("status") == "ok"}
assert len(a) == 849 and all(b[k] == v for k, v in a.items())
PY
ok "a pca may fit on every row (no test part)" "$ASTROTRAIN" --config "$ROOT/configs/pca.ini" $common --set run.name=pcaall \
    --set split.train=1 --set split.validation=0 --set split.test=0
fails "a classifier needs a test part" 3 "[split] train and test must be > 0" "$ASTROTRAIN" --config "$ROOT/configs/rf.ini" $common \
    --set run.name=notest --set split.train=1 --set split.validation=0 --set split.test=0
fails "predict refuses a pca model" 2 "use \`astrotrain transform\`" "$ASTROTRAIN" predict --model runs/pca/model.h5 --input "$SAMPLE" --output p.csv

ok "gmm run (PCA stage, 3 components)" "$ASTROTRAIN" --config "$ROOT/configs/gmm.ini" $common
# Three well-separated classes: the matched clustering scores 0.921 (was only checked to lie
# in 0.8..1). BIC and AIC from the mean log-likelihood and the parameter count of a 3-D
# full-covariance mixture of 3: means 3*3 + covariances 3*6 + weights 2 = 29.
check "gmm test accuracy is that of a matched clustering" python3 -c "
import json, math; m = json.load(open('runs/gmm/metrics.json')); a = m['test']['accuracy']; i = m['model_info']
assert 0.9 <= a < 1, a
assert sorted(i['cluster_class']) == [0, 1, 2] and abs(sum(i['weights']) - 1) < 1e-9, i
n = m['data']['train']; ll = i['mean_log_likelihood'] * n
assert abs(i['bic'] - (-2 * ll + 29 * math.log(n))) < 1e-6 * abs(i['bic']), i
assert abs(i['aic'] - (-2 * ll + 2 * 29)) < 1e-6 * abs(i['aic']), i"
check_run "gmm metrics agree with predictions.csv" runs/gmm
check "gmm figures" test -s runs/gmm/plots/clusters.gp -a -s runs/gmm/plots/log_likelihood.gp
ok "predict with the gmm" "$ASTROTRAIN" predict --model runs/gmm/model.h5 --input "$SAMPLE" --output gp.csv --quiet
check "gmm predict reproduces predictions.csv" python3 - runs/gmm/predictions.csv gp.csv <<'PY'
import csv, sys
a = {r["row"]: r for r in csv.DictReader(open(sys.argv[1]))}
b = {r["row"]: r for r in csv.DictReader(open(sys.argv[2])) if r.pop("status") == "ok"}
assert len(a) == 849 and all(b[k] == v for k, v in a.items())
PY
ok "gmm BIC selection over 2..4" "$ASTROTRAIN" --config "$ROOT/configs/gmm.ini" $common --set run.name=bic --set model.components=2..4
# The chosen size has the smallest BIC of those tried, and the figure's data are those BICs.
check "BIC selection and its figure" python3 - runs/bic/metrics.json runs/bic/plots/bic.dat <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))["model_info"]; s = i["selection"]
assert s["components"] == [2, 3, 4], s
assert i["n_components"] == s["components"][s["bic"].index(min(s["bic"]))] and i["bic"] == min(s["bic"]), i
dat = [l.split() for l in open(sys.argv[2]) if not l.startswith("#") and l.strip()]
assert [int(x[0]) for x in dat] == s["components"], dat
assert all(abs(float(x[1]) - b) < 1e-6 * b and abs(float(x[2]) - a) < 1e-6 * a for x, b, a in zip(dat, s["bic"], s["aic"])), dat
PY
ok "forest behind a PCA stage" "$ASTROTRAIN" --config "$ROOT/configs/rf.ini" $common --set run.name=rfpca --set pca.components=3 --set model.n_trees=20
check "forest sees PC1..PC3" python3 -c "
import json; m = json.load(open('runs/rfpca/metrics.json')); assert list(m['feature_importances']) == ['PC1','PC2','PC3']; assert m['data']['pca_components'] == 3"
ok "predict through the PCA stage" "$ASTROTRAIN" predict --model runs/rfpca/model.h5 --input "$SAMPLE" --output rp.csv --quiet
check "rf+pca predict reproduces predictions.csv" python3 - runs/rfpca/predictions.csv rp.csv <<'PY'
import csv, sys
a = {r["row"]: r for r in csv.DictReader(open(sys.argv[1]))}
b = {r["row"]: r for r in csv.DictReader(open(sys.argv[2])) if r.pop("status") == "ok"}
assert len(a) == 849 and all(b[k] == v for k, v in a.items())
PY
check_run "rf+pca metrics agree with predictions.csv" runs/rfpca
done_tests
