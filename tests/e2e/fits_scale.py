# fits_scale.py - the FITS cutout scaling of README "FITS image cutouts" (asinh, linear,
# zscale of one band to 0..1), written again in numpy as the e2e tests' independent reference
# (tests/e2e/fits_images.sh, fits_bands.sh import it).
import math
import numpy as np


def scale_band(x, how):
    x = x.astype(np.float64).ravel().copy()
    fin = x[np.isfinite(x)]
    if fin.size == 0: return np.zeros_like(x)
    s = np.sort(fin); med = float(np.median(s)); lo, hi = s[0], s[-1]
    x[~np.isfinite(x)] = med
    def unit(v, a, b):
        return np.clip((v - a) / (b - a), 0, 1) if b > a else np.zeros_like(v)
    if how == "linear": return unit(x, lo, hi)
    if how == "zscale":
        m = s.size; xc = np.arange(m) - 0.5 * (m - 1); keep = np.ones(m, bool); slope = 0.0; full = False
        for _ in range(5):
            xk, yk = xc[keep], s[keep]; mx, my = xk.mean(), yk.mean()
            sxx = ((xk - mx) ** 2).sum(); slope = ((xk - mx) * (yk - my)).sum() / sxx if sxx > 0 else 0.0
            fit = my + slope * (xc - mx); res = np.abs(s - fit)
            lim = 2.5 * math.sqrt((res[keep] ** 2).mean())
            new = keep & (res <= lim); left = int(new.sum())
            if left == int(keep.sum()): break
            if left < (m + 1) // 2: full = True; break
            keep = new
        slope /= 0.25
        z1 = lo if full else max(lo, med - slope * 0.5 * m); z2 = hi if full else min(hi, med + slope * 0.5 * m)
        return unit(x, z1, z2)
    soft = 1.4826 * float(np.median(np.abs(s - med)))
    if not soft > 0: soft = (hi - lo) / 10
    if not soft > 0: return np.zeros_like(x)
    return unit(np.arcsinh((x - med) / soft), math.asinh((lo - med) / soft), math.asinh((hi - med) / soft))
