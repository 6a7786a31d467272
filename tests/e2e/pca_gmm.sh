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
check "pca metrics: explained variance ratios, no test metrics" python3 - runs/pca/metrics.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
r = m["model_info"]["explained_variance_ratio"]
assert len(r) == 3 and r[0] > r[1] > r[2] > 0 and sum(r) < 1, r
assert m["test"] is None and m["validation"] is None
PY
ok "transform with the saved pca" "$ASTROTRAIN" transform --model runs/pca/model.h5 --input "$SAMPLE" --output coords.csv --quiet
check "transform reproduces transformed.csv" python3 - runs/pca/transformed.csv coords.csv <<'PY'
import csv, sys
a = {r["row"]: r for r in csv.DictReader(open(sys.argv[1]))}
b = {r["row"]: r for r in csv.DictReader(open(sys.argv[2]))}
assert len(a) > 500 and all(b[k] == v for k, v in a.items())
PY
ok "a pca may fit on every row (no test part)" "$ASTROTRAIN" --config "$ROOT/configs/pca.ini" $common --set run.name=pcaall \
    --set split.train=1 --set split.validation=0 --set split.test=0
fails "a classifier needs a test part" 3 "[split] train and test must be > 0" "$ASTROTRAIN" --config "$ROOT/configs/rf.ini" $common \
    --set run.name=notest --set split.train=1 --set split.validation=0 --set split.test=0
fails "predict refuses a pca model" 2 "use \`astrotrain transform\`" "$ASTROTRAIN" predict --model runs/pca/model.h5 --input "$SAMPLE" --output p.csv

ok "gmm run (PCA stage, 3 components)" "$ASTROTRAIN" --config "$ROOT/configs/gmm.ini" $common
check "gmm test accuracy is that of a matched clustering" python3 -c "
import json; m = json.load(open('runs/gmm/metrics.json')); a = m['test']['accuracy']; assert 0.8 < a < 1, a"
check "gmm figures" test -s runs/gmm/plots/clusters.gp -a -s runs/gmm/plots/log_likelihood.gp
ok "predict with the gmm" "$ASTROTRAIN" predict --model runs/gmm/model.h5 --input "$SAMPLE" --output gp.csv --quiet
check "gmm predict reproduces predictions.csv" python3 - runs/gmm/predictions.csv gp.csv <<'PY'
import csv, sys
a = {r["row"]: r for r in csv.DictReader(open(sys.argv[1]))}
b = {r["row"]: r for r in csv.DictReader(open(sys.argv[2]))}
assert len(a) > 500 and all(b[k] == v for k, v in a.items())
PY
ok "gmm BIC selection over 2..4" "$ASTROTRAIN" --config "$ROOT/configs/gmm.ini" $common --set run.name=bic --set model.components=2..4
check "BIC figure written" test -s runs/bic/plots/bic.gp
ok "forest behind a PCA stage" "$ASTROTRAIN" --config "$ROOT/configs/rf.ini" $common --set run.name=rfpca --set pca.components=3 --set model.n_trees=20
check "forest sees PC1..PC3" python3 -c "
import json; m = json.load(open('runs/rfpca/metrics.json')); assert list(m['feature_importances']) == ['PC1','PC2','PC3']; assert m['data']['pca_components'] == 3"
ok "predict through the PCA stage" "$ASTROTRAIN" predict --model runs/rfpca/model.h5 --input "$SAMPLE" --output rp.csv --quiet
check "rf+pca predict reproduces predictions.csv" python3 - runs/rfpca/predictions.csv rp.csv <<'PY'
import csv, sys
a = {r["row"]: r for r in csv.DictReader(open(sys.argv[1]))}
b = {r["row"]: r for r in csv.DictReader(open(sys.argv[2]))}
assert all(b[k] == v for k, v in a.items())
PY
done_tests
