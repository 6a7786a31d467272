#!/usr/bin/env bash
# make bench: astrotrain beside the peer libraries on the SDSS17 protocol of
# ../shared/benchmarks (u,g,r,i,z,redshift; drop -9999; undersample to the minority;
# stratified 70/15/15; standardise; 2 threads), in one run so the ratios are fair on a
# shared machine. Peers run only when installed (see ../shared/benchmarks/README.md).
# BENCH_REPEATS=N (default 3): medians of N runs. BENCH_MODELS="rf ..." restricts.
# BENCH_STREAM=1 adds predict over a 10-million-row catalogue (bench/predict_stream.sh).
set -u
cd "$(dirname "$0")/.."
AT=./build/astrotrain
PEERS=../shared/benchmarks
PY=/usr/bin/python3
REPEATS=${BENCH_REPEATS:-3}
THREADS=${BENCH_THREADS:-2}
OUT=$(mktemp -d /tmp/astrotrain-bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
MODELS=${BENCH_MODELS:-$(ls configs/*.ini | xargs -n1 basename | sed 's/\.ini$//' | tr '\n' ' ') cnn}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# astrotrain: fit/predict seconds and test accuracy from metrics.json
at_run() {
    local cfg=$1 i fits=() preds=() acc=""
    shift
    for i in $(seq "$REPEATS"); do
        "$AT" --config "configs/$cfg.ini" --quiet --threads "$THREADS" --set run.output_dir="$OUT" \
              --set run.name="$cfg-$i" --set plots.enabled=false --force "$@" >/dev/null || { echo "  astrotrain $cfg failed"; return; }
        read -r f p a < <($PY -c "import json,sys; m=json.load(open('$OUT/$cfg-$i/metrics.json')); t=m['timing']; print(t['fit_seconds'], t['predict_seconds'], m['test']['accuracy'] if m.get('test') else 'nan')" 2>/dev/null || python3 -c "import json,sys; m=json.load(open('$OUT/$cfg-$i/metrics.json')); t=m['timing']; print(t['fit_seconds'], t['predict_seconds'], m['test']['accuracy'] if m.get('test') else 'nan')")
        fits+=("$f"); preds+=("$p"); acc=$a
    done
    printf '  %-28s fit %8.3f s   predict %8.1f ms   test accuracy %s\n' "astrotrain $cfg" \
        "$(printf '%s\n' "${fits[@]}" | median)" "$(printf '%s\n' "${preds[@]}" | median | awk '{print $1*1000}')" "$acc"
}

peer_run() {
    local model=$1 label=$2 threads=${3:-$THREADS} i fits=() preds=() acc=""
    [ -f "$PEERS/peer_fit.py" ] && [ -x "$PY" ] || { echo "  ($label: ../shared/benchmarks/peer_fit.py or $PY missing)"; return; }
    for i in $(seq "$REPEATS"); do
        local js
        js=$($PY "$PEERS/peer_fit.py" "$model" --threads "$threads" 2>/dev/null) || { echo "  ($label not installed: see ../shared/benchmarks/README.md)"; return; }
        fits+=("$(echo "$js" | $PY -c 'import json,sys; print(json.load(sys.stdin)["fit_seconds"])')")
        preds+=("$(echo "$js" | $PY -c 'import json,sys; print(json.load(sys.stdin).get("predict_seconds", float("nan")))')")
        acc=$(echo "$js" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d.get("accuracy", d.get("explained_variance_ratio")))')
    done
    printf '  %-28s fit %8.3f s   predict %8.1f ms   test accuracy %s\n' "$label" \
        "$(printf '%s\n' "${fits[@]}" | median)" "$(printf '%s\n' "${preds[@]}" | median | awk '{print $1*1000}')" "$acc"
}

ranger_run() {
    command -v Rscript >/dev/null && Rscript -e 'library(ranger)' >/dev/null 2>&1 || { echo "  (ranger not installed)"; return; }
    Rscript "$PEERS/ranger_sdss17.R" "data/sdss17/star_classification.csv.gz" --reps="$REPEATS" --threads="$THREADS" \
        --out="$OUT/ranger.txt" >/dev/null 2>&1 || { echo "  ranger failed"; return; }
    local f p a
    f=$(awk -F' = ' '$1=="fit_seconds_median"{print $2}' "$OUT/ranger.txt")
    p=$(awk -F' = ' '$1=="predict_test_seconds_median"{print $2*1000}' "$OUT/ranger.txt")
    a=$(awk -F' = ' '$1=="test_accuracy_median"{print $2}' "$OUT/ranger.txt")
    printf '  %-28s fit %8.3f s   predict %8.1f ms   test accuracy %s\n' "ranger" "$f" "$p" "$a"
}

# The reference CNN's training and inference throughput (images/s) beside PyTorch's, on
# the protocol of ../shared/benchmarks/cnn_torch.py (64x64x3, batch 32, SGD, random images).
cnn_bench() {
    local bin=build/cnn_bench
    if [ ! -x "$bin" ] || [ "$bin" -ot build/libastrotrain.a ] || [ "$bin" -ot bench/cnn_bench.c ]; then
        ${CC:-gcc} -std=c17 -D_GNU_SOURCE -O3 -march=native -fopenmp -Iinclude -Isrc \
            $(pkg-config --cflags hdf5 openblas) -o "$bin" bench/cnn_bench.c build/libastrotrain.a \
            $(pkg-config --libs hdf5 inih zlib libpng libjpeg openblas lapacke) -lm || { echo "  cnn_bench: build failed"; return; }
    fi
    local js
    js=$("$bin" --threads "$THREADS" --repeats "$REPEATS" 2>/dev/null) || { echo "  cnn_bench failed"; return; }
    printf '  %-28s train %7.1f img/s   infer %7.1f img/s\n' "astrotrain" \
        "$(echo "$js" | $PY -c 'import json,sys; print(json.load(sys.stdin)["train_img_per_s_median"])')" \
        "$(echo "$js" | $PY -c 'import json,sys; print(json.load(sys.stdin)["infer_img_per_s_median"])')"
    $PY -c 'import torch' 2>/dev/null || { echo "  (PyTorch not installed: apt-get install -y python3-torch)"; return; }
    js=$($PY "$PEERS/cnn_torch.py" --sizes 64 --no-bn-variant --repeats "$REPEATS" --threads "$THREADS" 2>/dev/null) ||
        { echo "  PyTorch cnn_torch.py failed"; return; }
    printf '  %-28s train %7.1f img/s   infer %7.1f img/s\n' "PyTorch" \
        "$(echo "$js" | $PY -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["train_img_per_s_median"])')" \
        "$(echo "$js" | $PY -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["infer_img_per_s_median"])')"
}

# PCA on identical rows: the peer protocol's standardised training part, written to CSV,
# fitted by scikit-learn and by astrotrain (whole file as the training part, no rescaling).
pca_same_rows() {
    $PY -c 'import sklearn' 2>/dev/null || return
    $PY - "$OUT/pca_rows.csv" > "$OUT/sk_evr.txt" <<'PY' || return
import sys, numpy as np, pandas as pd
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
F = ["u", "g", "r", "i", "z", "redshift"]
df = pd.read_csv("data/sdss17/star_classification.csv.gz")
df = df[(df[["u", "g", "r", "i", "z"]] != -9999).all(axis=1)]
m = df["class"].value_counts().min()
df = pd.concat([g.sample(m, random_state=42) for _, g in df.groupby("class")])
X = df[F].to_numpy(np.float64); y = df["class"].to_numpy()
Xtr, _, ytr, _ = train_test_split(X, y, train_size=0.70, stratify=y, random_state=42)
Xtr = (Xtr - Xtr.mean(0)) / Xtr.std(0)
pd.DataFrame(np.column_stack([Xtr]), columns=F).assign(**{"class": ytr}).to_csv(sys.argv[1], index=False, float_format="%.17g")
print(" ".join("%.17g" % v for v in PCA(n_components=3).fit(Xtr).explained_variance_ratio_))
PY
    "$AT" --config configs/pca.ini --quiet --force --set run.output_dir="$OUT" --set run.name=pca_same \
        --set data.path="$OUT/pca_rows.csv" --set undersample.strategy=none --set normalise.method=none \
        --set split.train=1 --set split.validation=0 --set split.test=0 --set plots.enabled=false >/dev/null || return
    python3 - "$OUT/pca_same/metrics.json" "$OUT/sk_evr.txt" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["model_info"]["explained_variance_ratio"]
b = [float(v) for v in open(sys.argv[2]).read().split()]
print("  same rows: astrotrain EVR %s, scikit-learn %s, largest difference %.1e" %
      (["%.6f" % v for v in a], ["%.6f" % v for v in b], max(abs(x - y) for x, y in zip(a, b))))
PY
}

echo "astrotrain bench: SDSS17 protocol, $THREADS threads, median of $REPEATS ($(nproc) cores, $(date -u +%F))"
for m in $MODELS; do
    case "$m" in
    rf) echo "random forest (100 trees)"; at_run rf; peer_run rf "scikit-learn RF"; ranger_run ;;
    gbdt) echo "gradient boosting (300 rounds, depth 6, eta 0.1)"; at_run gbdt; peer_run xgb "XGBoost hist" ;;
    mlp) echo "MLP 64-64 (Adam 1e-3, batch 256, 50 epochs)"; at_run mlp; peer_run torch_mlp "PyTorch MLP, 1 thread" 1; peer_run torch_mlp "PyTorch MLP, 2 threads" ;;
    gmm) echo "Gaussian mixture (3 full components, 6 standardised features, best permutation)"
         at_run gmm --set pca.components=0; peer_run gmm "scikit-learn GMM"
         echo "  (configs/gmm.ini as shipped clusters on 3 principal components:)"; at_run gmm ;;
    pca) echo "PCA (3 components; 'accuracy' column: explained variance ratios)"; at_run pca
         python3 -c "import json,sys; print('  astrotrain explained variance ratios', json.load(open('$OUT/pca-1/metrics.json'))['model_info']['explained_variance_ratio'])" 2>/dev/null
         peer_run pca "scikit-learn PCA"
         pca_same_rows ;;
    ensemble) echo "ensemble (forest + MLP members trained in the run, 1000 trials)"; at_run ensemble ;;
    cnn) echo "reference CNN 64x64x3, batch 32, SGD momentum (throughput, cnn_torch.py protocol)"; cnn_bench ;;
    cnn_*) ;; # image experiments take minutes each; the 'cnn' case measures the network
    *) echo "$m"; at_run "$m" ;;
    esac
done

# BENCH_STREAM=1: predict over a 10-million-row catalogue, rows/s and peak memory (slow: minutes).
if [ "${BENCH_STREAM:-0}" = 1 ]; then
    echo "predict streaming (bench/predict_stream.sh)"
    bash bench/predict_stream.sh
fi

# The prediction service under wrk beside the FastAPI peer (bench/serve.sh; about 2 minutes
# with its 60-second memory run). BENCH_SERVE=0 skips it.
if [ "${BENCH_SERVE:-1}" = 1 ]; then
    bash bench/serve.sh
fi
# monitor: a 1,000,000-row batch, `astrotrain monitor` beside `astrotrain predict` (bound 1.2x).
echo "monitor vs predict, 1M-row batch (bench/monitor_batch.sh)"
bash bench/monitor_batch.sh
# BENCH_CATALOGUE=1: catalogue-scale predict (1M rows, CSV in and out) beside the pandas peers.
if [ "${BENCH_CATALOGUE:-0}" = 1 ]; then
    echo "catalogue predict (bench/catalogue.sh)"
    bash bench/catalogue.sh
# BENCH_MPI=1: boosting and the forest on 2 MPI ranks x 1 thread vs 1 process x 2 threads (bench/mpi.sh).
if [ "${BENCH_MPI:-0}" = 1 ]; then
    echo "MPI: 2 ranks x 1 thread vs 1 process x 2 threads (bench/mpi.sh)"
    bash bench/mpi.sh
fi
