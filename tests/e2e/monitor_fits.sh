#!/usr/bin/env bash
# monitor_fits.sh - `astrotrain monitor` on a FITS binary-table batch (issue 14): the same 400
# rows of the SDSS17 sample as CSV and as astropy-made FITS (a decoy table first, the batch in
# HDU 2 named BATCH, an int64 obj_ID, damaged cells as NaN/inf/-9999) give the same record and
# the same batch predictions, with --hdu by name and by number, --labels and --key; gzip'd FITS
# too; damaged FITS batches (truncated, wrong BITPIX, a missing column, no such HDU) are one
# clear line each and record nothing.
source "$(dirname "$0")/lib.sh"
cd "$TMP"
PY=$(astropy_python)
if [ -z "$PY" ]; then skip "monitor on FITS" "no python3 with astropy"; done_tests; exit $?; fi

ok "train a small forest" "$ASTROTRAIN" --config "$ROOT/configs/rf.ini" --set data.path="$SAMPLE" --set model.n_trees=15 \
    --set run.output_dir="$TMP/runs" --set plots.enabled=false --set undersample.strategy=none --threads 2 --quiet
M=$TMP/runs/rf/model.h5

# 400 rows with damaged cells (a missing u, an infinite z, a sentinel g, a NaN redshift)
zcat "$SAMPLE" | head -n 401 > batch.csv
"$PY" - batch.csv <<'PY'
import csv, sys, numpy as np
from astropy.io import fits
rows = list(csv.reader(open(sys.argv[1])))
h = rows[0]; col = {n: i for i, n in enumerate(h)}
for r, c, v in [(5, "u", ""), (9, "z", "inf"), (11, "g", "-9999"), (13, "redshift", "NaN")]:
    rows[r + 1][col[c]] = v
csv.writer(open(sys.argv[1], "w", newline=""), lineterminator="\n").writerows(rows)
d = list(csv.DictReader(open(sys.argv[1])))
num = lambda s: np.nan if s.strip() == "" else float(s)
cols = [fits.Column(name=c, format="D", array=np.array([num(r[c]) for r in d]))
        for c in ("alpha", "delta", "u", "g", "r", "i", "z", "redshift")]
cols.append(fits.Column(name="obj_ID", format="K", array=np.array([int(float(r["obj_ID"])) for r in d], np.int64)))
cols.append(fits.Column(name="class", format="8A", array=np.array([r["class"] for r in d])))
decoy = fits.BinTableHDU.from_columns([fits.Column(name="x", format="E", array=np.zeros(3, np.float32))], name="OTHER")
fits.HDUList([fits.PrimaryHDU(), decoy, fits.BinTableHDU.from_columns(cols, name="BATCH")]).writeto("batch.fits")
fits.BinTableHDU.from_columns([c for c in cols if c.name != "redshift"], name="BATCH").writeto("nored.fits")
PY
gzip -k batch.fits
H=$TMP/hist
ok "CSV batch" "$ASTROTRAIN" monitor --model "$M" --history "$H" --input batch.csv --batch csv --labels --quiet
ok "FITS batch, --hdu BATCH" "$ASTROTRAIN" monitor --model "$M" --history "$H" --input batch.fits --hdu BATCH \
    --batch fits --labels --quiet
ok "FITS batch, --hdu 2" "$ASTROTRAIN" monitor --model "$M" --history "$H" --input batch.fits --hdu 2 --batch fits2 --quiet
ok "gzip'd FITS batch" "$ASTROTRAIN" monitor --model "$M" --history "$H" --input batch.fits.gz --hdu BATCH --batch fitsgz \
    --labels --quiet
ok "CSV batch, --key obj_ID" "$ASTROTRAIN" monitor --model "$M" --history "$H" --input batch.csv --batch csvkey --key obj_ID --quiet
ok "FITS batch, --key obj_ID" "$ASTROTRAIN" monitor --model "$M" --history "$H" --input batch.fits --hdu BATCH \
    --batch fitskey --key obj_ID --quiet
check "the FITS records equal the CSV ones (all but batch, time, input, predictions)" python3 - "$H" <<'PY'
import json, sys
recs = {r["batch"]: r for r in (json.loads(l) for l in open(sys.argv[1] + "/history.jsonl"))}
def body(r):
    return {k: v for k, v in r.items() if k not in ("batch", "time", "input", "predictions")}
c = recs["csv"]
assert c["rows"] == {"read": 400, "predicted": 396, "skipped": {"missing": 3, "cleaning": 1}}, c["rows"]
assert c["labels"] and c["labels"]["n"] == 396, c["labels"]
assert body(recs["fits"]) == body(c) and body(recs["fitsgz"]) == body(c)
assert body(recs["csvkey"]) == body(recs["fitskey"])
no_labels = dict(body(c)); assert body(recs["fits2"])["labels"] is None
assert {k: v for k, v in body(recs["fits2"]).items() if k not in ("labels", "alerts", "status")} == \
       {k: v for k, v in no_labels.items() if k not in ("labels", "alerts", "status")}
assert recs["fits"]["input"] == "batch.fits"
PY
check "the batch predictions are byte for byte the CSV's" cmp "$H/batches/csv.csv" "$H/batches/fits.csv"
check "the keyed predictions too (obj_ID exactly)" python3 - "$H" <<'PY'
import sys
a = open(sys.argv[1] + "/batches/csvkey.csv").read(); b = open(sys.argv[1] + "/batches/fitskey.csv").read()
assert a == b and a.splitlines()[0].startswith("row,obj_ID,predicted,"), a[:80]
PY

# damaged FITS batches: one line each, nothing recorded
head -c 8000 batch.fits > trunc.fits
"$PY" -c "
d = bytearray(open('batch.fits', 'rb').read()); i = d.index(b'BITPIX  =')
d[i:i + 30] = b'BITPIX  =                   17'; open('bitpix.fits', 'wb').write(bytes(d))"
fails "truncated FITS batch" 4 "trunc.fits" "$ASTROTRAIN" monitor --model "$M" --history "$H" --input trunc.fits \
    --hdu BATCH --batch t1
fails "wrong BITPIX" 4 "bitpix.fits: cannot open as a FITS file" "$ASTROTRAIN" monitor --model "$M" --history "$H" \
    --input bitpix.fits --batch t2
fails "missing column" 4 "nored.fits: no column 'redshift'" "$ASTROTRAIN" monitor --model "$M" --history "$H" \
    --input nored.fits --batch t3
fails "no such HDU" 4 "no binary table HDU named 'NOPE'" "$ASTROTRAIN" monitor --model "$M" --history "$H" \
    --input batch.fits --hdu NOPE --batch t4
fails "--hdu without --input" 2 "--hdu goes with --input" "$ASTROTRAIN" monitor --history "$H" --report --hdu 1
check "each error is one line" bash -c "'$ASTROTRAIN' monitor --model '$M' --history '$H' --input trunc.fits --hdu BATCH \
    --batch t5 2>&1 | wc -l | grep -qx 1"
check "nothing recorded for the damaged batches" python3 - "$H" <<'PY'
import json, os, sys
names = [json.loads(l)["batch"] for l in open(sys.argv[1] + "/history.jsonl")]
assert names == ["csv", "fits", "fits2", "fitsgz", "csvkey", "fitskey"], names
assert not any(f.startswith("t") for f in os.listdir(sys.argv[1] + "/batches")), os.listdir(sys.argv[1] + "/batches")
PY
done_tests
