#!/usr/bin/env bash
# bench/serve.sh - `astrotrain serve` under load beside the reference study's stack (FastAPI +
# uvicorn + a scikit-learn forest, ../shared/benchmarks/serve_fastapi.py, 2 workers) in the
# same run, both loaded by wrk -t2 -c32 -d10s --latency:
#   1. one SDSS17 row per request against the 100-tree forest (req/s, p50/p99), peer beside it;
#   2. 1000-row requests (rows/s), JSON {"rows": [...]} and text/csv bodies, and where a 1000-row
#      request's CPU time goes without HTTP (build/serve_handle_bench: parse + predict + answer
#      beside the model alone, one thread);
#   3. the reference CNN (configs/cnn_stargalaxy.ini's network, 64x64x3) on PNG uploads (images/s);
#   4. memory: resident set at the start and end of a BENCH_SERVE_MEM_SECONDS (default 60) load.
# Models are trained once into build/bench_serve/. Needs wrk; the peer needs python3-fastapi,
# python3-uvicorn (skipped with a line when missing). SERVE_THREADS (default 2) HTTP threads.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=${ASTROTRAIN:-$ROOT/build/astrotrain}
PEERS=$ROOT/../shared/benchmarks
W=$ROOT/build/bench_serve
DUR=${BENCH_SERVE_DURATION:-10s}
MEMSECS=${BENCH_SERVE_MEM_SECONDS:-60}
THREADS=${SERVE_THREADS:-2}
mkdir -p "$W"
# Debian's OpenBLAS 0.3.21 does not recognise this CPU and runs its generic Prescott sgemm (about
# 4x slower, the CNN's whole cost); on an AVX-512 machine use its SkylakeX kernels (README,
# "Performance"). The peer's PyTorch-free stack does not use OpenBLAS for the forest.
if grep -q avx512f /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}; fi
command -v wrk >/dev/null || { echo "serve bench: wrk missing (apt-get install wrk)"; exit 0; }
ROW='{"u":23.87882,"g":22.2753,"r":20.39501,"i":19.16573,"z":18.79371,"redshift":0.6347936}'

if [ ! -s "$W/runs/rf/model.h5" ]; then
    "$BIN" --config configs/rf.ini --set run.output_dir="$W/runs" --set plots.enabled=false --quiet --force >/dev/null || exit 1
fi
if [ ! -s "$W/runs/cnn/model.h5" ]; then
    # the reference network, one epoch on 64 cutouts: throughput does not depend on the weights
    rm -rf "$W/imgs"; mkdir -p "$W/imgs/galaxy" "$W/imgs/star"
    for c in galaxy star; do ls data/star_galaxy_64px/$c | head -n 32 | while read -r f; do cp "data/star_galaxy_64px/$c/$f" "$W/imgs/$c/"; done; done
    "$BIN" --config configs/cnn_stargalaxy.ini --set run.name=cnn --set run.output_dir="$W/runs" --set data.path="$W/imgs" \
        --set net.epochs=1 --set plots.enabled=false --quiet --force >/dev/null || exit 1
fi
python3 - "$W" <<'PY'
import struct, sys, zlib, random
def png(w, h, rows):
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"".join(b"\0" + r for r in rows))) + chunk(b"IEND", b""))
r = random.Random(1)
open(sys.argv[1] + "/img64.png", "wb").write(png(64, 64, [bytes(r.randrange(256) for _ in range(64 * 3)) for _ in range(64)]))
PY
cat > "$W/png.lua" <<LUA
wrk.method = "POST"
wrk.path = "/v1/models/cnn/predict"
wrk.headers["Content-Type"] = "image/png"
local f = io.open("$W/img64.png", "rb"); wrk.body = f:read("*a"); f:close()
LUA
ROWS1000=$(python3 -c "import json; r=json.loads('$ROW'); print(json.dumps({'rows':[r]*1000}))")
python3 -c "import json; r=json.loads('$ROW'); print(','.join(r)); [print(','.join(str(v) for v in r.values())) for _ in range(1000)]" > "$W/rows1000.csv"
cat > "$W/csv.lua" <<LUA
wrk.method = "POST"
wrk.path = "/v1/models/rf/predict"
wrk.headers["Content-Type"] = "text/csv"
local f = io.open("$W/rows1000.csv", "rb"); wrk.body = f:read("*a"); f:close()
LUA
# verdict VALUE TARGET : "met" or "MISSED" (VALUE >= TARGET)
verdict() { python3 -c "print('met' if float('$1') >= float('$2') else 'MISSED')"; }

# wrk_line LABEL ARGS... : req/s, p50, p99 from wrk --latency
wrk_line() {
    local label=$1; shift
    wrk "$@" > "$W/wrk.out" 2>&1
    python3 - "$label" "$W/wrk.out" <<'PY'
import re, sys
t = open(sys.argv[2]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
def lat(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, t, re.M)
    if not m: return float("nan")
    return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
sock = re.search(r"Socket errors: (.*)", t)
print("  %-44s %10.0f req/s   p50 %7.3f ms   p99 %7.3f ms%s%s" % (sys.argv[1], rps, lat(50), lat(99),
      "   NON-2XX %s" % errs.group(1) if errs else "", "   socket errors: " + sock.group(1) if sock else ""))
open(sys.argv[2] + ".rps", "w").write("%f\n" % rps)
PY
}
start_server() {
    rm -f "$W/port"
    "$BIN" serve --model "$W/runs/rf/model.h5" --model "$W/runs/cnn/model.h5" --port 0 --port-file "$W/port" \
        --threads "$THREADS" --access-log off --quiet &
    SPID=$!
    for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.1; done
    PORT=$(cat "$W/port")
}

echo "serve bench: wrk -t2 -c32 -d$DUR --latency, server $THREADS threads, $(nproc) cores, $(date -u +%F), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(auto)}"
echo "  load now: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs on this machine skew the figures)"
start_server
WRK_PATH=/v1/models/rf/predict WRK_BODY="{\"rows\":[$ROW]}" \
    wrk_line "astrotrain serve, rf, 1 row/request" -t2 -c32 -d"$DUR" --latency -s "$PEERS/serve_wrk_post.lua" "http://127.0.0.1:$PORT"
AT_RPS=$(cat "$W/wrk.out.rps")
P99=$(python3 -c "import re; t=open('$W/wrk.out').read(); m=re.search(r'^\s+99%\s+([\d.]+)(us|ms|s)', t, re.M); print(float(m.group(1)) * {'us': 1e-3, 'ms': 1, 's': 1e3}[m.group(2)] if m else 'nan')")
echo "  -> target >= 20,000 req/s: $(verdict "$AT_RPS" 20000); p99 $P99 ms, target <= 5 ms: $(verdict 5 "$P99")"
WRK_PATH=/v1/models/rf/predict WRK_BODY="$ROWS1000" \
    wrk_line "astrotrain serve, rf, 1000 rows/request" -t2 -c8 -d"$DUR" --latency -s "$PEERS/serve_wrk_post.lua" "http://127.0.0.1:$PORT"
R_JSON=$(python3 -c "print('%.0f' % (1000 * float(open('$W/wrk.out.rps').read())))")
echo "  -> $R_JSON rows/s (JSON), target >= 500,000 rows/s: $(verdict "$R_JSON" 500000)"
wrk_line "astrotrain serve, rf, 1000 CSV rows/request" -t2 -c8 -d"$DUR" --latency -s "$W/csv.lua" "http://127.0.0.1:$PORT"
R_CSV=$(python3 -c "print('%.0f' % (1000 * float(open('$W/wrk.out.rps').read())))")
echo "  -> $R_CSV rows/s (CSV), target >= 500,000 rows/s: $(verdict "$R_CSV" 500000)"
wrk_line "astrotrain serve, reference CNN, 64x64 PNG" -t2 -c32 -d"$DUR" --latency -s "$W/png.lua" "http://127.0.0.1:$PORT"
IMG=$(python3 -c "print('%.0f' % float(open('$W/wrk.out.rps').read()))")
echo "  -> $IMG images/s, target >= 500 images/s: $(verdict "$IMG" 500)"
rss() { awk '/VmRSS/ {print $2}' "/proc/$SPID/status"; }
R0=$(rss)
WRK_PATH=/v1/models/rf/predict WRK_BODY="{\"rows\":[$ROW]}" wrk -t2 -c32 -d"${MEMSECS}s" -s "$PEERS/serve_wrk_post.lua" "http://127.0.0.1:$PORT" > "$W/mem.out" 2>&1 &
WPID=$!
sleep 5; R5=$(rss)
wait $WPID
R1=$(rss)
echo "  memory over a ${MEMSECS}-s one-row load: RSS $((R0 / 1024)) MB at start, $((R5 / 1024)) MB after 5 s, $((R1 / 1024)) MB at the end ($(grep -o 'Requests/sec: *[0-9.]*' "$W/mem.out"))"
kill -TERM $SPID; wait $SPID
# the 1000-row request without HTTP, in CPU time (steady on a shared machine)
HB=$ROOT/build/serve_handle_bench
if [ ! -x "$HB" ] || [ "$HB" -ot build/libastrotrain.a ] || [ "$HB" -ot bench/serve_handle_bench.c ]; then
    ${CC:-gcc} -O2 -std=c17 -D_GNU_SOURCE -fopenmp -Iinclude -Isrc $(pkg-config --cflags hdf5 openblas) -o "$HB" \
        bench/serve_handle_bench.c build/libastrotrain.a \
        $(pkg-config --libs hdf5 inih zlib libpng libjpeg openblas lapacke libmicrohttpd jansson cfitsio yajl ompi-c) -lm ||
        echo "  serve_handle_bench: build failed"
fi
[ -x "$HB" ] && "$HB" "$W/runs/rf/model.h5" 1000 2 same && "$HB" "$W/runs/rf/model.h5" 1000 2

PY3=/usr/bin/python3
if $PY3 -c "import fastapi, uvicorn, sklearn" 2>/dev/null; then
    $PY3 "$PEERS/serve_fastapi.py" --port 8900 --workers 2 > "$W/peer.log" 2>&1 &
    PPID_=$!
    for _ in $(seq 600); do curl -s http://127.0.0.1:8900/health >/dev/null 2>&1 && break; sleep 0.2; done
    wrk_line "peer: FastAPI + uvicorn (2 workers), sklearn RF" -t2 -c32 -d"$DUR" --latency -s "$PEERS/serve_wrk_post.lua" http://127.0.0.1:8900
    PEER_RPS=$(cat "$W/wrk.out.rps")
    kill -TERM $PPID_ 2>/dev/null; wait $PPID_ 2>/dev/null
    echo "  ratio astrotrain / peer (1 row/request): $(python3 -c "print('%.1fx' % ($AT_RPS / $PEER_RPS))")"
else
    echo "  peer: FastAPI + uvicorn missing (apt-get install python3-fastapi python3-uvicorn): skipped"
fi
