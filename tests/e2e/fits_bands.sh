#!/usr/bin/env bash
# fits_bands.sh - FITS cutouts with any number of bands (issue 14): a 2-class folder of 16x16,
# 5-band (ugriz-like) astropy cutouts trains a tiny CNN with 5 input channels for 2 epochs
# ([net] channels = 3 in the file is overridden); the model file keeps the channel count and
# the scaling; predict on the folder equals, probability for probability, the bundle fed
# through the server's V2 infer with the pixels scaled per band by a Python reimplementation
# (asinh and zscale: so band b is channel b, each band scaled on its own), and the server's
# FITS upload (application/fits, or sniffed by "SIMPLE  ="; gzip'd too) gives predict's answer;
# gzip'd cutouts predict the same. Refusals, one clear line each (4xx JSON from the server): a 3-band
# cutout or a PNG for the 5-band model, a set mixing 5 and 3 bands (naming the file), damaged
# uploads (truncated, wrong BITPIX, not FITS, a cut gzip stream, too large).
source "$(dirname "$0")/lib.sh"
cd "$TMP"
PY=$(astropy_python)
if [ -z "$PY" ]; then skip "FITS cutouts of 5 bands" "no python3 with astropy and numpy"; done_tests; exit $?; fi
cat > bands.py <<'PY'
# the 5-band cutouts, the per-band scaling reimplemented (README "FITS image cutouts")
import math, os, sys
import numpy as np
from astropy.io import fits

sys.path.insert(0, os.environ["AT_E2E_DIR"])
from fits_scale import scale_band

def to_u8(data, how):  # (bands, h, w) -> HWC uint8, band b = channel b
    return np.stack([np.floor(scale_band(b, how) * 255 + 0.5).astype(np.uint8).reshape(b.shape) for b in data], axis=-1)

def cutout(rng, cls, bands):
    yy, xx = np.mgrid[0:16, 0:16] - 7.5
    r = np.hypot(yy, xx)
    prof = np.exp(-r**2 / 8) if cls == 0 else np.exp(-(r - 6)**2 / 2)
    # each band its own level, span and noise (u faint and noisy ... z bright), so a mix-up of
    # bands or a scaling over all bands at once changes the pixels
    d = np.stack([prof * (20 + 60 * b) + rng.normal(0, 2 + b, (16, 16)) + 1000 * b for b in range(bands)])
    d = d.astype(np.float32)
    d[rng.integers(bands), rng.integers(16), rng.integers(16)] = np.nan  # a missing pixel in some band
    return d

what = sys.argv[1]
rng = np.random.default_rng(11)
if what == "make":  # make ROOT BANDS N
    root, bands, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    for cls, name in enumerate(["blob", "ring"]):
        os.makedirs(f"{root}/{name}", exist_ok=True)
        for i in range(n):
            fits.PrimaryHDU(cutout(rng, cls, bands)).writeto(f"{root}/{name}/{i:02d}.fits", overwrite=True)
elif what == "infer":  # infer ROOT SCALING OUT.json: a V2 infer body of the Python-scaled pixels
    import json
    root, how = sys.argv[2], sys.argv[3]
    files = [f"{root}/{c}/{f}" for c in sorted(os.listdir(root)) for f in sorted(os.listdir(f"{root}/{c}"))]
    px = np.stack([to_u8(fits.getdata(f), how) for f in files])
    json.dump({"inputs": [{"name": "image", "shape": list(px.shape), "datatype": "UINT8",
                           "data": px.ravel().tolist()}]}, open(sys.argv[4], "w"))
PY
ok "fixture: 2 x 10 cutouts of 16x16x5 (astropy)" "$PY" bands.py make cut5 5 10
ok "fixture: 3-band cutouts" "$PY" bands.py make cut3 3 2
{ cnn_ini b5 "$TMP/cut5" "scaling = asinh"; cat <<INI
[net]
width = 16
height = 16
channels = 3
batch = 8
epochs = 2
augment_d4 = true
brightness = 0.1
[conv]
filters = 4
[maxpool]
[avgpool]
[dense]
units = 2
[softmax]
INI
} > bands.ini
ok "train a tiny cnn on 5-band cutouts (2 epochs, with augmentation)" "$ASTROTRAIN" --config bands.ini --quiet --threads 2
ok "train with scaling = zscale" "$ASTROTRAIN" --config bands.ini --quiet --threads 2 --set run.name=z5 --set data.scaling=zscale
RUN=$TMP/runs/b5
check "5 bands set 5 input channels" grep -q "network: input 16x16x5" "$RUN/log.txt"
"$ASTROTRAIN" info --model "$RUN/model.h5" > info.txt 2>&1
check "info shows the 5-channel input and the scaling" python3 - info.txt <<'PY'
import re, sys
t = open(sys.argv[1]).read()
assert re.search(r'"input": \[\s*16,\s*16,\s*5\s*\]', t) and "scaling = asinh" in t, t[-800:]
PY
if "$PY" -c 'import h5py' 2>/dev/null; then
    check "the model file's network spec says channels = 5" "$PY" -c "
import h5py; s = h5py.File('$RUN/model.h5')['model/spec'][()]
s = (s[0] if hasattr(s, '__len__') and not isinstance(s, bytes) else s); s = s.decode() if isinstance(s, bytes) else s
assert 'channels = 5' in s, s"
else
    skip "the model file's network spec says channels = 5" "no h5py"
fi
check_run "5-band run's metrics agree with predictions.csv" "$RUN"
check "the sample grid is drawn (bands 1-3 as RGB)" test -s "$RUN/plots/samples.png"
for run in b5 z5; do
    ok "predict the 5-band folder ($run)" "$ASTROTRAIN" predict --model "runs/$run/model.h5" --input cut5 --output $run.csv --quiet
done
mkdir -p gz/blob gz/ring
for c in blob ring; do for f in 00 01; do gzip -c cut5/$c/$f.fits > gz/$c/$f.fits.gz; done; done
ok "predict gzip'd 5-band cutouts" "$ASTROTRAIN" predict --model "$RUN/model.h5" --input gz --output gz.csv --quiet
check "gzip'd cutouts predict as the plain ones" python3 - gz.csv b5.csv <<'PY'
import csv, sys
g = list(csv.DictReader(open(sys.argv[1]))); a = list(csv.DictReader(open(sys.argv[2])))
p = lambda r: [v for k, v in r.items() if k.startswith("p_")]
assert len(g) == 4 and [p(r) for r in g] == [p(a[i]) for i in (0, 1, 10, 11)], (g, a[:2])
PY
fails "a 3-band cutout for the 5-band model" 4 "cut3/blob/00.fits: FITS cutout has 3 band(s) but the model takes 5" \
    "$ASTROTRAIN" predict --model "$RUN/model.h5" --input cut3/blob/00.fits --output x.csv
"$PY" -c "
import struct, zlib
raw = b''.join(b'\0' + bytes(48) for _ in range(16))
ch = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
open('p.png', 'wb').write(b'\x89PNG\r\n\x1a\n' + ch(b'IHDR', struct.pack('>IIBBBBB', 16, 16, 8, 2, 0, 0, 0)) + ch(b'IDAT', zlib.compress(raw)) + ch(b'IEND', b''))"
fails "a PNG for the 5-band model" 4 "p.png: a PNG/JPEG image has 1 or 3 channels, not the 5 asked for" \
    "$ASTROTRAIN" predict --model "$RUN/model.h5" --input p.png --output x.csv
mkdir -p mixed/blob mixed/ring && cp cut5/blob/00.fits mixed/blob/ && cp cut5/ring/00.fits mixed/ring/00.fits \
    && cp cut3/ring/01.fits mixed/ring/01.fits
fails "a set mixing 5 and 3 bands names the file" 4 "mixed/ring/01.fits: FITS cutout has 3 band(s) but" \
    "$ASTROTRAIN" --config bands.ini --quiet --set run.name=mixed --set data.path="$TMP/mixed"
check "no output from the refusals" test ! -e x.csv

# the server: the same bundle, fed Python-scaled pixels (V2 infer) and FITS uploads
for run in b5 z5; do
    how=asinh; [ $run = z5 ] && how=zscale
    ok "fixture: V2 infer body of Python-$how-scaled pixels" "$PY" bands.py infer cut5 $how infer_$run.json
done
head -c 4000 cut5/ring/00.fits > trunc.fits
"$PY" -c "
d = bytearray(open('cut5/blob/00.fits', 'rb').read()); i = d.index(b'BITPIX  =')
d[i:i + 30] = b'BITPIX  =                   17'; open('bitpix.fits', 'wb').write(bytes(d))
import numpy as np; from astropy.io import fits
fits.PrimaryHDU(np.zeros((5, 64, 64), np.float32)).writeto('big.fits')"
"$ASTROTRAIN" serve --model b5="$RUN/model.h5" --model z5=runs/z5/model.h5 --port 0 --port-file port.txt \
    --access-log off --max-image-side 32 --examples cut5 --quiet 2> serve.err &
PID=$!
at_track_pid "$PID"
for _ in $(seq 100); do [ -s port.txt ] && break; sleep 0.1; done
check "the server starts" test -s port.txt
export PORT=$(cat port.txt 2>/dev/null || echo 0)
check "V2 metadata: 16x16x5" python3 - <<'PY'
import http.client, json, os
c = http.client.HTTPConnection("127.0.0.1", int(os.environ["PORT"]), timeout=30)
c.request("GET", "/v2/models/b5"); m = json.loads(c.getresponse().read())
assert m["image"] == {"height": 16, "width": 16, "channels": 5} and m["examples"] == 20, m
PY
check "an example cutout (FITS --examples) answers as predict on its file" python3 - <<'PY'
import csv, http.client, json, os
c = http.client.HTTPConnection("127.0.0.1", int(os.environ["PORT"]), timeout=30)
c.request("GET", "/v1/models/z5/example?index=11"); j = json.loads(c.getresponse().read())
r = list(csv.DictReader(open("z5.csv")))[11]
assert j["channels"] == 5 and len(j["pixels"]) == 16 * 16 * 5 and j["true"] == "ring", {k: j[k] for k in ("channels", "true")}
assert all(float("%.9g" % j["prediction"]["probabilities"][c]) == float(r["p_" + c]) for c in ("blob", "ring")), (j["prediction"], r)
PY
check "predict equals the bundle on Python-scaled pixels (asinh, zscale) and on FITS uploads" python3 - <<'PY'
import csv, http.client, json, os
def req(method, path, body, ctype):
    c = http.client.HTTPConnection("127.0.0.1", int(os.environ["PORT"]), timeout=30)
    c.request(method, path, body=body, headers={"Content-Type": ctype}); r = c.getresponse()
    return r.status, json.loads(r.read())
for run in ("b5", "z5"):
    rows = list(csv.DictReader(open(f"{run}.csv")))
    cls = [k[2:] for k in rows[0] if k.startswith("p_")]
    s, j = req("POST", f"/v2/models/{run}/infer", open(f"infer_{run}.json", "rb").read(), "application/json")
    assert s == 200, j
    P = j["outputs"][0]["data"]; k = len(cls)
    assert len(P) == len(rows) * k == 40, len(P)
    for i, r in enumerate(rows):
        for c in range(k):
            assert float("%.9g" % P[i * k + c]) == float(r["p_" + cls[c]]), (run, i, P[i * k + c], r)
    files = [f"cut5/{c}/{f}" for c in ("blob", "ring") for f in sorted(os.listdir(f"cut5/{c}"))]
    for i, (f, r) in enumerate(zip(files, rows)):
        ctype = "application/fits" if i % 2 == 0 else "application/octet-stream"  # sniffed by SIMPLE  =
        s, j = req("POST", f"/v1/models/{run}/predict", open(f, "rb").read(), ctype)
        assert s == 200, (f, j)
        p = j["predictions"][0]
        assert p["class"] == r["predicted"] and all(float("%.9g" % p["probabilities"][c]) == float(r["p_" + c]) for c in cls), (f, p, r)
# gzip'd uploads inflate in memory and answer as the plain file
g = list(__import__("csv").DictReader(open("gz.csv")))
for f, r in zip(["gz/blob/00.fits.gz", "gz/blob/01.fits.gz", "gz/ring/00.fits.gz", "gz/ring/01.fits.gz"], g):
    s, j = req("POST", "/v1/models/b5/predict", open(f, "rb").read(), "application/fits")
    assert s == 200 and all(float("%.9g" % j["predictions"][0]["probabilities"][c]) == float(r["p_" + c])
                            for c in ("blob", "ring")), (f, s, j, r)
PY
check "damaged FITS uploads: 4xx JSON naming the problem" python3 - <<'PY'
import http.client, json, os
def req(body, ctype="application/fits"):
    c = http.client.HTTPConnection("127.0.0.1", int(os.environ["PORT"]), timeout=30)
    c.request("POST", "/v1/models/b5/predict", body=body, headers={"Content-Type": ctype}); r = c.getresponse()
    d = r.read(); return r.status, json.loads(d), d
for body, want, text in [(open("trunc.fits", "rb").read(), 400, "upload: cannot read the pixels (truncated file"),
                         (open("bitpix.fits", "rb").read(), 400, "upload: cannot open as a FITS file"),
                         (open("cut3/blob/00.fits", "rb").read(), 400, "upload: FITS cutout has 3 band(s) but the model takes 5"),
                         (b"SIMPLE  = not really", 400, "upload: cannot open as a FITS file"),
                         (b"hello", 400, "neither a PNG nor a JPEG image (nor FITS)"),
                         (open("p.png", "rb").read(), 400, "upload: a PNG/JPEG image has 1 or 3 channels but the model takes 5"),
                         (open("gz/ring/00.fits.gz", "rb").read()[:300], 400, "upload: truncated or corrupt gzip data"),
                         (open("big.fits", "rb").read(), 413, "upload: image of 64x64 pixels (1 to 32 per side)")]:
    s, j, d = req(body)
    assert s == want and text in j["error"] and d.count(b"\n") == 1, (s, j)
s, j, d = req(open("cut5/blob/00.fits", "rb").read(), "text/csv")
assert s == 415 and "application/fits" in j["error"], (s, j)
PY
kill -TERM "$PID"; wait "$PID"
check "the server stopped cleanly" test $? -eq 0
done_tests
