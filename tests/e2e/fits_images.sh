#!/usr/bin/env bash
# End to end: FITS image cutouts (issue 14) built with astropy: a 2-class folder of 16x16,
# 3-band float32 cutouts (a central blob vs a ring, with noise and a few NaN pixels) trains a
# tiny CNN whose input channels follow the band count; predict on the FITS folder equals
# predict on PNGs of the same pixels scaled by a Python reimplementation of the scaling
# (asinh, then linear, zscale); a gzip'd copy predicts the same; 1-band cutouts give a
# 1-channel network; damaged files (truncated, 1-D, a table only, 5 bands for a 3-band model,
# 65 bands, mixed band counts, mixed FITS and PNG) each give one clear line.
source "$(dirname "$0")/lib.sh"
cd "$TMP"
PY=$(astropy_python)
if [ -z "$PY" ]; then skip "FITS cutouts" "no python3 with astropy and numpy"; done_tests; exit $?; fi
cat > fitsimg.py <<'PY'
# Shared by the checks: the cutouts, the scaling reimplemented, a plain PNG writer.
import math, os, struct, sys, zlib
import numpy as np
from astropy.io import fits

sys.path.insert(0, os.environ["AT_E2E_DIR"])
from fits_scale import scale_band

def to_u8(data, how):
    # data: (bands, h, w) or (h, w) -> HWC uint8
    d = data if data.ndim == 3 else data[None]
    out = [np.floor(scale_band(b, how) * 255 + 0.5).astype(np.uint8).reshape(b.shape) for b in d]
    return np.stack(out, axis=-1)

def write_png(path, img):
    h, w, c = img.shape
    raw = b"".join(b"\0" + img[y].tobytes() for y in range(h))
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2 if c == 3 else 0, 0, 0, 0)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

def cutout(rng, cls, bands):
    yy, xx = np.mgrid[0:16, 0:16] - 7.5
    r = np.hypot(yy, xx)
    prof = np.exp(-r**2 / 8) if cls == 0 else np.exp(-(r - 6)**2 / 2)
    d = np.stack([prof * (100 + 50 * b) + rng.normal(0, 3, (16, 16)) + 10 * b for b in range(bands)])
    d = d.astype(np.float32)
    d[0, rng.integers(16), rng.integers(16)] = np.nan
    return d if bands > 1 else d[0]

if __name__ == "__main__":
    what = sys.argv[1]
    rng = np.random.default_rng(7)
    if what == "make":
        root, bands, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        for cls, name in enumerate(["blob", "ring"]):
            os.makedirs(f"{root}/{name}", exist_ok=True)
            for i in range(n):
                fits.PrimaryHDU(cutout(rng, cls, bands)).writeto(f"{root}/{name}/{i:02d}.fits", overwrite=True)
    elif what == "png":  # png SRC DST SCALING: the same folder, scaled in Python
        src, dst, how = sys.argv[2:5]
        for name in sorted(os.listdir(src)):
            os.makedirs(f"{dst}/{name}", exist_ok=True)
            for f in sorted(os.listdir(f"{src}/{name}")):
                write_png(f"{dst}/{name}/{f.replace('.fits', '.png')}", to_u8(fits.getdata(f"{src}/{name}/{f}"), how))
    elif what == "same":  # same A.csv B.csv: identical probabilities, row by row
        import csv
        a = list(csv.DictReader(open(sys.argv[2]))); b = list(csv.DictReader(open(sys.argv[3])))
        assert len(a) == len(b) > 0, (len(a), len(b))
        for x, y in zip(a, b):
            for k in x:
                if k.startswith("p_") or k == "predicted": assert x[k] == y[k], (k, x, y)
PY
ok "fixture: 2 x 12 cutouts of 16x16x3 (astropy)" "$PY" fitsimg.py make cut3 3 12
{ cnn_ini fits "$TMP/cut3" "scaling = asinh"; cat <<INI
[net]
width = 16
height = 16
channels = 1
batch = 8
epochs = 3
[conv]
filters = 4
[maxpool]
[avgpool]
[dense]
units = 2
[softmax]
INI
} > fits.ini
ok "train a tiny cnn on FITS cutouts" "$ASTROTRAIN" --config fits.ini --quiet --threads 2
RUN=$TMP/runs/fits
check "3 bands set 3 input channels ([net] channels = 1 overridden)" grep -q "network: input 16x16x3" "$RUN/log.txt"
check "the model file keeps the scaling" bash -c "'$ASTROTRAIN' info --model '$RUN/model.h5' | grep -q 'scaling = asinh'"
check_run "FITS run's metrics agree with predictions.csv" "$RUN"
for how in asinh linear zscale; do
    if [ "$how" != asinh ]; then
        ok "train with scaling = $how" "$ASTROTRAIN" --config fits.ini --quiet --threads 2 --set run.name=$how \
            --set data.scaling=$how
        RUN=$TMP/runs/$how
    fi
    ok "predict the FITS folder ($how)" "$ASTROTRAIN" predict --model "$RUN/model.h5" --input cut3 --output f_$how.csv --quiet
    ok "fixture: PNGs scaled in Python ($how)" "$PY" fitsimg.py png cut3 png_$how $how
    ok "predict the PNG folder ($how)" "$ASTROTRAIN" predict --model "$RUN/model.h5" --input png_$how --output p_$how.csv --quiet
    check "FITS predictions equal predictions on Python-scaled pixels ($how)" "$PY" fitsimg.py same f_$how.csv p_$how.csv
done
RUN=$TMP/runs/fits
mkdir -p gz/blob gz/ring
cp cut3/blob/00.fits gz/blob/a.fits && gzip -c cut3/blob/00.fits > gz/blob/b.fits.gz
cp cut3/ring/00.fits gz/ring/a.fits && gzip -c cut3/ring/00.fits > gz/ring/b.fits.gz
ok "predict gzip'd FITS cutouts" "$ASTROTRAIN" predict --model "$RUN/model.h5" --input gz --output gz.csv --quiet
check "a gzip'd cutout predicts as its plain copy" "$PY" - gz.csv <<'PY'
import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))
assert len(r) == 4
for a, b in ((0, 1), (2, 3)):
    assert [v for k, v in r[a].items() if k.startswith("p_")] == [v for k, v in r[b].items() if k.startswith("p_")], r
PY
ok "fixture: 1-band cutouts" "$PY" fitsimg.py make cut1 1 8
ok "train on 1-band cutouts" "$ASTROTRAIN" --config fits.ini --quiet --threads 2 --set run.name=one \
    --set "data.path=$TMP/cut1" --set net.channels=3
check "1 band sets 1 input channel" grep -q "network: input 16x16x1" "$TMP/runs/one/log.txt"

# damaged files: one clear line each, naming the file
bad() { # bad NAME TEXT: predict on folder bad_NAME fails with TEXT
    local out rc
    out=$("$ASTROTRAIN" predict --model "$RUN/model.h5" --input "bad_$1" --output x.csv --quiet 2>&1); rc=$?
    if [ $rc -ne 0 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && grep -qF -- "$2" <<<"$out"; then pass "$1: one clear line"
    else fail "$1: one clear line" "exit $rc: $out"; fi
}
mk() { mkdir -p "bad_$1/blob" "bad_$1/ring"; cp cut3/blob/00.fits "bad_$1/blob/"; cp cut3/ring/00.fits "bad_$1/ring/"; }
mk truncated; head -c 4000 cut3/ring/01.fits > bad_truncated/ring/01.fits
bad truncated "bad_truncated/ring/01.fits: cannot read the pixels"
mk oned; "$PY" -c "
import numpy as np; from astropy.io import fits
fits.PrimaryHDU(np.arange(16, dtype=np.float32)).writeto('bad_oned/ring/01.fits')"
bad oned "bad_oned/ring/01.fits: HDU 0 is a 1-D image"
mk table; "$PY" -c "
import numpy as np; from astropy.io import fits
fits.BinTableHDU.from_columns([fits.Column(name='x', format='E', array=np.arange(4.0))]).writeto('bad_table/ring/01.fits')"
bad table "bad_table/ring/01.fits: no image HDU with data"
mk bands5; "$PY" -c "
import numpy as np; from astropy.io import fits
fits.PrimaryHDU(np.zeros((5, 16, 16), np.float32)).writeto('bad_bands5/ring/01.fits')"
bad bands5 "bad_bands5/ring/01.fits: FITS cutout has 5 band(s) but the model takes 3"
mk bands65; "$PY" -c "
import numpy as np; from astropy.io import fits
fits.PrimaryHDU(np.zeros((65, 4, 4), np.float32)).writeto('bad_bands65/ring/01.fits')"
bad bands65 "bad_bands65/ring/01.fits: 65 bands (NAXIS3); cutouts have 1 to 64 bands"
mk mixed; cp cut1/ring/00.fits bad_mixed/ring/01.fits
bad mixed "bad_mixed/ring/01.fits: FITS cutout has 1 band(s) but"
mk withpng; cp png_asinh/ring/00.png bad_withpng/ring/01.png
bad withpng "bad_withpng/ring/01.png: a PNG/JPEG image, but"
mk notfits; echo "hello" > bad_notfits/ring/01.fits
bad notfits "bad_notfits/ring/01.fits: named like an image but is neither PNG, JPEG nor FITS"
done_tests
