#!/usr/bin/python3
"""monitor_peer.py - what `astrotrain monitor` does, as a Python user would write it with pandas,
scikit-learn and SciPy: the random forest of the shipped peer protocol (../shared/benchmarks/
predict_batch_peer.py: undersampled SDSS17, standardised, 100 trees), a reference from its
training rows (decile edges, a 2,000-row sample per feature), then, timed: read the batch,
predict_proba, PSI over the reference bins and ks_2samp per feature, the class-mix chi-square,
write the predictions. Usage: monitor_peer.py INPUT.csv OUTPUT.csv [--threads 2]
Prints JSON {rows, read_seconds, predict_seconds, drift_seconds, write_seconds, total_seconds}."""
import argparse, json, os, time
ap = argparse.ArgumentParser()
ap.add_argument("input"); ap.add_argument("output"); ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "sdss17",
                                              "star_classification.csv.gz"))
a = ap.parse_args()
os.environ["OMP_NUM_THREADS"] = str(a.threads)
import numpy as np, pandas as pd
from scipy.stats import chisquare, ks_2samp
from sklearn.ensemble import RandomForestClassifier
F = ["u", "g", "r", "i", "z", "redshift"]
df = pd.read_csv(a.data)
df = df[(df[F[:5]] != -9999).all(axis=1)]
m = df["class"].value_counts().min()
df = pd.concat([g.sample(m, random_state=42) for _, g in df.groupby("class")])
X = df[F].to_numpy(np.float64); classes = sorted(df["class"].unique())
y = df["class"].map({c: i for i, c in enumerate(classes)}).to_numpy()
mu, sd = X.mean(0), X.std(0)
mdl = RandomForestClassifier(n_estimators=100, n_jobs=a.threads, random_state=42).fit((X - mu) / sd, y)
edges = [np.unique(np.quantile(X[:, j], np.arange(1, 10) / 10, method="lower")) for j in range(len(F))]
ref_counts = [np.bincount(np.searchsorted(e, X[:, j], side="left"), minlength=len(e) + 1) for j, e in enumerate(edges)]
sample = X[np.random.default_rng(42).choice(len(X), 2000, replace=False)]
ref_mix = np.bincount(mdl.predict((X - mu) / sd), minlength=len(classes))
t0 = time.perf_counter()
big = pd.read_csv(a.input); t1 = time.perf_counter()
Xb = big[F].to_numpy(np.float64)
P = mdl.predict_proba((Xb - mu) / sd); t2 = time.perf_counter()
psi, ks = [], []
for j, e in enumerate(edges):
    c = np.bincount(np.searchsorted(e, Xb[:, j], side="left"), minlength=len(e) + 1)
    ea = np.maximum(ref_counts[j] / ref_counts[j].sum(), 1e-4); aa = np.maximum(c / c.sum(), 1e-4)
    psi.append(float(((aa - ea) * np.log(aa / ea)).sum()))
    ks.append(ks_2samp(sample[:, j], Xb[:, j]))
pred = P.argmax(1); obs = np.bincount(pred, minlength=len(classes))
chi = chisquare(obs, ref_mix / ref_mix.sum() * obs.sum()); t3 = time.perf_counter()
out = pd.DataFrame(P, columns=[f"p_{c}" for c in classes]); out.insert(0, "predicted", np.array(classes)[pred])
out.insert(0, "row", np.arange(len(out))); out.to_csv(a.output, index=False); t4 = time.perf_counter()
print(json.dumps({"rows": len(big), "read_seconds": t1 - t0, "predict_seconds": t2 - t1, "drift_seconds": t3 - t2,
                  "write_seconds": t4 - t3, "total_seconds": t4 - t0}))
