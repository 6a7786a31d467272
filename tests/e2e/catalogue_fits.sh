#!/usr/bin/env bash
# End to end: catalogue prediction (issue 14) on the 10k SDSS17 sample. One output row per
# input row with a status column (missing, not a number, infinite, sentinel), --skip-invalid
# giving the old layout, --keep, output = input refused; FITS binary tables built with astropy
# as input (HDU by name and number, TNULL/NaN, gzip) giving exactly the CSV predictions, FITS
# output read back with astropy, training and transform from FITS equal to CSV, and damaged
# FITS files (truncated, wrong BITPIX, missing or text columns) each a one-line error.
source "$(dirname "$0")/lib.sh"
cd "$TMP"
PY=$(astropy_python)

cat > rf.ini <<INI
[run]
name = rf
output_dir = $TMP/runs
seed = 7
[data]
path = $SAMPLE
[model]
type = random_forest
n_trees = 20
[plots]
enabled = false
INI
ok "train a small forest" "$ASTROTRAIN" --config rf.ini --quiet
M=$TMP/runs/rf/model.h5

# 300 rows of the sample with damaged cells (rows 5, 7, 9, 11, 13, 15, 17; row 17 twice).
zcat "$SAMPLE" | head -n 301 > base.csv
python3 - base.csv <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
h = rows[0]; col = {n: i for i, n in enumerate(h)}
for r, c, v in [(5, "u", ""), (7, "r", "abc"), (9, "z", "inf"), (11, "g", "-9999"), (13, "redshift", "NaN"),
                (15, "u", "-9999"), (17, "u", ""), (17, "r", "xyz")]:
    rows[r + 1][col[c]] = v
csv.writer(open(sys.argv[1], "w", newline=""), lineterminator="\n").writerows(rows)
PY
ok "predict a catalogue with damaged rows" "$ASTROTRAIN" predict --model "$M" --input base.csv --output cat.csv --quiet
check "one row per input row, in order, with the reason" python3 - cat.csv <<'PY'
import csv, sys
rd = csv.DictReader(open(sys.argv[1])); rows = list(rd)
assert rd.fieldnames == ["row", "true", "predicted", "p_GALAXY", "p_QSO", "p_STAR", "status"], rd.fieldnames
assert [int(r["row"]) for r in rows] == list(range(300))
want = {5: "missing u", 7: "not a number r", 9: "infinite z", 11: "sentinel g", 13: "missing redshift",
        15: "sentinel u", 17: "missing u"}
for i, r in enumerate(rows):
    assert r["status"] == want.get(i, "ok"), (i, r)
    if i in want: assert r["predicted"] == r["p_GALAXY"] == r["p_QSO"] == r["p_STAR"] == "" and r["true"], r
    else: assert r["predicted"] and abs(sum(float(r[k]) for k in ("p_GALAXY", "p_QSO", "p_STAR")) - 1) < 1e-6, r
PY
fails "--skip-invalid: text in a number column is an error, as before" 4 "base.csv:9: column 'r': 'abc' is not a number" \
    "$ASTROTRAIN" predict --model "$M" --input base.csv --output skip.csv --quiet --skip-invalid
sed -e 's/,abc,/,,/' -e 's/,xyz,/,,/' base.csv > base2.csv
ok "--skip-invalid" "$ASTROTRAIN" predict --model "$M" --input base2.csv --output skip.csv --quiet --skip-invalid
check "--skip-invalid: the old layout, the ok rows only" python3 - cat.csv skip.csv <<'PY'
import sys
a = [l.rstrip("\n") for l in open(sys.argv[1])]; b = [l.rstrip("\n") for l in open(sys.argv[2])]
assert b[0] == "row,true,predicted,p_GALAXY,p_QSO,p_STAR"
ok = [l[: -len(",ok")] for l in a[1:] if l.endswith(",ok")]
assert b[1:] == ok and len(ok) == 293, (len(ok), len(b))
PY
ok "--keep obj_ID,alpha,delta" "$ASTROTRAIN" predict --model "$M" --input base.csv --output keep.csv --quiet \
    --keep "obj_ID, alpha,delta"
check "--keep copies the columns' text" python3 - base.csv keep.csv <<'PY'
import csv, sys
src = list(csv.DictReader(open(sys.argv[1]))); out = list(csv.DictReader(open(sys.argv[2])))
assert list(out[0].keys())[:4] == ["row", "obj_ID", "alpha", "delta"]
assert all((o["obj_ID"], o["alpha"], o["delta"]) == (s["obj_ID"], s["alpha"], s["delta"]) for s, o in zip(src, out))
PY
fails "--keep of a missing column" 4 "no column 'objid'" "$ASTROTRAIN" predict --model "$M" --input base.csv \
    --output k2.csv --keep objid
fails "output = input refused" 2 "the output is the input file" "$ASTROTRAIN" predict --model "$M" \
    --input base.csv --output ./base.csv
check "the input is untouched" test "$(wc -l < base.csv)" -eq 301

if [ -z "$PY" ]; then
    for n in "FITS input" "FITS output" "FITS training" "FITS transform" "damaged FITS"; do skip "$n" "no python3 with astropy"; done
    done_tests
    exit $?
fi

# The same 300 rows as FITS: a decoy table first, then CATALOGUE (HDU 2) with doubles,
# an int64 objid with TNULL, the class as text, the damaged cells as NaN/inf/-9999.
"$PY" - base.csv <<'PY'
import csv, sys, numpy as np
from astropy.io import fits
rows = list(csv.DictReader(open(sys.argv[1])))
def num(s):
    s = s.strip().lower()
    return np.nan if s in ("", "nan", "abc", "xyz") else float(s)
cols = [fits.Column(name=c, format="D", array=np.array([num(r[c]) for r in rows]))
        for c in ("alpha", "delta", "u", "g", "r", "i", "z", "redshift")]
objid = np.arange(len(rows), dtype=np.int64) + 1237663204920852000
cols.append(fits.Column(name="objid", format="K", null=-1, array=np.where(np.arange(len(rows)) == 3, -1, objid)))
cols.append(fits.Column(name="class", format="8A", array=np.array([r["class"] for r in rows])))
cols.append(fits.Column(name="u_text", format="10A", array=np.array([r["u"] for r in rows])))
decoy = fits.BinTableHDU.from_columns([fits.Column(name="x", format="E", array=np.zeros(3, np.float32))], name="OTHER")
fits.HDUList([fits.PrimaryHDU(), decoy, fits.BinTableHDU.from_columns(cols, name="CATALOGUE")]).writeto("cat.fits", overwrite=True)
PY
ok "predict FITS (--hdu CATALOGUE)" "$ASTROTRAIN" predict --model "$M" --input cat.fits --hdu CATALOGUE --output fits_pred.csv --quiet
check "FITS predictions are exactly the CSV ones" python3 - cat.csv fits_pred.csv <<'PY'
import sys
a = open(sys.argv[1]).read().splitlines(); b = open(sys.argv[2]).read().splitlines()
assert len(a) == len(b) == 301
for i, (x, y) in enumerate(zip(a, b)):
    # row 7's "abc" is NaN in the FITS table: missing there, not a number in the CSV
    if i == 8: assert x.endswith(",not a number r") and y.endswith(",missing r"), (x, y)
    else: assert x == y, (i, x, y)
PY
ok "predict FITS (--hdu 2, --keep objid)" "$ASTROTRAIN" predict --model "$M" --input cat.fits --hdu 2 --output fits_keep.csv \
    --keep objid --quiet
check "objid kept exactly, TNULL as empty" python3 - fits_keep.csv <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert rows[3]["objid"] == "" and rows[0]["objid"] == "1237663204920852000" and rows[299]["objid"] == "1237663204920852299"
PY
fails "the first table lacks the features" 4 "no column 'u'" "$ASTROTRAIN" predict --model "$M" --input cat.fits --output x.csv
fails "HDU out of range" 4 "no HDU 7 (the file has HDUs 0 to 2)" "$ASTROTRAIN" predict --model "$M" --input cat.fits --hdu 7 --output x.csv
fails "HDU 0 is an image" 4 "HDU 0 is an image, not a binary table" "$ASTROTRAIN" predict --model "$M" --input cat.fits --hdu 0 --output x.csv
fails "no such EXTNAME" 4 "no binary table HDU named 'NOPE'" "$ASTROTRAIN" predict --model "$M" --input cat.fits --hdu NOPE --output x.csv
gzip -k cat.fits
ok "gzip'd FITS" "$ASTROTRAIN" predict --model "$M" --input cat.fits.gz --hdu CATALOGUE --output gz_pred.csv --quiet
check "gzip'd FITS: the same predictions" cmp gz_pred.csv fits_pred.csv

# FITS output: the same columns as the CSV, read back with astropy
ok "predict to FITS" "$ASTROTRAIN" predict --model "$M" --input base.csv --output out.fits --keep obj_ID,delta --quiet
ok "predict to CSV with the same columns" "$ASTROTRAIN" predict --model "$M" --input base.csv --output out.csv --keep obj_ID,delta --quiet
check "FITS output reads in astropy and matches the CSV" "$PY" - out.fits out.csv <<'PY'
import csv, math, sys
from astropy.io import fits
t = fits.open(sys.argv[1])[1]; d = t.data
rows = list(csv.DictReader(open(sys.argv[2])))
assert t.name == "PREDICTIONS" and list(d.columns.names) == list(rows[0].keys()), (d.columns.names, rows[0].keys())
assert len(d) == len(rows) == 300
for i, r in enumerate(rows):
    assert int(d["row"][i]) == int(r["row"]) and d["status"][i] == r["status"] and d["predicted"][i] == r["predicted"]
    assert d["true"][i] == r["true"] and abs(d["delta"][i] - float(r["delta"])) == 0
    for c in ("p_GALAXY", "p_QSO", "p_STAR"):
        if r[c] == "": assert math.isnan(d[c][i])
        else: assert float("%.9g" % d[c][i]) == float(r[c]), (c, d[c][i], r[c])
PY
check "no temporary files left" bash -c "! ls | grep -q '\.tmp\.'"

# Training and transform from FITS: the whole sample as a FITS table trains the same model
"$PY" - "$SAMPLE" <<'PY'
import csv, gzip, sys, numpy as np
from astropy.io import fits
rows = list(csv.DictReader(gzip.open(sys.argv[1], "rt")))
cols = [fits.Column(name=c, format="D", array=np.array([float(r[c]) for r in rows])) for c in ("u", "g", "r", "i", "z", "redshift")]
cols.append(fits.Column(name="class", format="6A", array=np.array([r["class"] for r in rows])))
fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="SDSS")]).writeto("sample.fits")
PY
ok "train from FITS ([data] path = sample.fits, hdu = SDSS)" "$ASTROTRAIN" --config rf.ini --quiet \
    --set run.name=rf_fits --set data.path="$TMP/sample.fits" --set data.hdu=SDSS
check "the same predictions.csv as from the CSV" cmp runs/rf/predictions.csv runs/rf_fits/predictions.csv
common="--quiet --set run.output_dir=$TMP/runs --set plots.enabled=false"
ok "pca run" "$ASTROTRAIN" --config "$ROOT/configs/pca.ini" $common --set data.path="$SAMPLE"
ok "transform CSV" "$ASTROTRAIN" transform --model runs/pca/model.h5 --input base.csv --output tr.csv --quiet
ok "transform FITS" "$ASTROTRAIN" transform --model runs/pca/model.h5 --input cat.fits --hdu CATALOGUE --output tr_fits.csv --quiet
ok "transform to FITS" "$ASTROTRAIN" transform --model runs/pca/model.h5 --input base.csv --output tr.fits --quiet
check "transform FITS output: whole class names, the CSV's values" "$PY" - tr.fits tr.csv <<'PY'
import csv, math, sys
from astropy.io import fits
d = fits.open(sys.argv[1])[1].data; rows = list(csv.DictReader(open(sys.argv[2])))
assert list(d.columns.names) == ["row", "true", "PC1", "PC2", "PC3", "status"]
for i, r in enumerate(rows):
    assert d["true"][i] == r["true"] and d["status"][i] == r["status"], (d["true"][i], r["true"])
    assert (r["PC1"] == "" and math.isnan(d["PC1"][i])) or float("%.9g" % d["PC1"][i]) == float(r["PC1"])
PY
check "transform: FITS gives the CSV coordinates" python3 - tr.csv tr_fits.csv <<'PY'
import sys
a = open(sys.argv[1]).read().splitlines(); b = open(sys.argv[2]).read().splitlines()
assert a[0] == "row,true,PC1,PC2,PC3,status" and len(a) == len(b) == 301
assert [x for i, x in enumerate(a) if i != 8] == [y for i, y in enumerate(b) if i != 8]
assert a[6].endswith(",,,,missing u")
PY

# Damaged files: one clear line each, no crash
head -c 5000 cat.fits > trunc.fits
fails "truncated FITS" 4 "trunc.fits" "$ASTROTRAIN" predict --model "$M" --input trunc.fits --hdu CATALOGUE --output x.csv
"$PY" -c "
d = bytearray(open('cat.fits', 'rb').read()); i = d.index(b'BITPIX  =')
d[i:i + 30] = b'BITPIX  =                   17'; open('bitpix.fits', 'wb').write(bytes(d))"
fails "wrong BITPIX" 4 "bitpix.fits: cannot open as a FITS file" "$ASTROTRAIN" predict --model "$M" --input bitpix.fits --output x.csv
"$PY" - <<'PY'
import numpy as np
from astropy.io import fits
c = [fits.Column(name=n, format="D", array=np.ones(4)) for n in ("u", "g", "r", "i", "z")]
fits.BinTableHDU.from_columns(c).writeto("nored.fits")
c.append(fits.Column(name="redshift", format="3D", array=np.ones((4, 3))))
fits.BinTableHDU.from_columns(c).writeto("vector.fits")
c[-1] = fits.Column(name="redshift", format="4A", array=np.array(["a", "b", "c", "d"]))
fits.BinTableHDU.from_columns(c).writeto("text.fits")
fits.PrimaryHDU(np.zeros((4, 4))).writeto("image.fits")
PY
fails "missing column" 4 "nored.fits: no column 'redshift' (columns are: u, g, r, i, z)" "$ASTROTRAIN" predict --model "$M" --input nored.fits --output x.csv
fails "vector column" 4 "column 'redshift' is a vector column (3 values per row)" "$ASTROTRAIN" predict --model "$M" --input vector.fits --output x.csv
fails "text feature column" 4 "column 'redshift' is a text column (4A); a feature must be numeric" "$ASTROTRAIN" predict --model "$M" --input text.fits --output x.csv
fails "image only" 4 "image.fits: no binary table (BINTABLE) HDU in the file" "$ASTROTRAIN" predict --model "$M" --input image.fits --output x.csv
check "no output from the failures" test ! -e x.csv
done_tests
